/* Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
 */

#ifndef SIEVE_ENCRYPT_INLINE_H
#define SIEVE_ENCRYPT_INLINE_H

/* Inline PGP (:format "inline"): the body of a message that is one
   text/plain part is replaced by its content, decoded from its
   Content-Transfer-Encoding and encrypted into one ASCII-armored PGP
   MESSAGE. The header stays the original one byte for byte, except that
   Content-Transfer-Encoding becomes 7bit (replaced in place, or added at
   the end of the header) and that the status header field, when set, is
   handled as for PGP/MIME. The charset stays: the decrypted text is read
   in it.

   Every other message is encrypted as PGP/MIME instead; the decision is
   made before gpg runs, from the header and one decoding pass over the
   body (see doc/design.md, "Inline PGP"). */

struct sieve_encrypt_inline;

/* Decide whether the message in input (from offset 0) can be encrypted
   inline. Returns 1 when it can (inline_r set), 0 when it cannot
   (reason_r says why, data stack), -1 on a read error of input (see its
   error). status_name is sieve_encrypt_status_header (NULL or "": none);
   crlf says whether the message's lines end in CRLF. */
int sieve_encrypt_inline_prepare(pool_t pool, struct istream *input,
				 const char *status_name, bool crlf,
				 struct sieve_encrypt_inline **inline_r,
				 const char **reason_r);

/* The plaintext to encrypt: the body decoded from its
   Content-Transfer-Encoding; quoted-printable hard line breaks end in the
   message's line ends. The returned stream references input. */
struct istream *
sieve_encrypt_inline_plaintext(const struct sieve_encrypt_inline *inl,
			       struct istream *input);

/* The charset that the armor's Charset header names (RFC 4880, section
   6.2), so that readers take the decrypted text for it: the body's
   charset, NULL for us-ascii and UTF-8 (their default). */
const char *
sieve_encrypt_inline_armor_charset(const struct sieve_encrypt_inline *inl);

/* Write the header of the encrypted message and the blank line after it:
   the status header field "encrypted" on top (when status_name was set),
   the original fields except status fields, with
   "Content-Transfer-Encoding: 7bit". The armor follows directly. Read and
   write errors show up in o_stream_finish(). */
void sieve_encrypt_inline_write_head(const struct sieve_encrypt_inline *inl,
				     struct istream *input,
				     struct ostream *output);

#endif
