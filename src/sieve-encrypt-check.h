/* Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
 */

#ifndef SIEVE_ENCRYPT_CHECK_H
#define SIEVE_ENCRYPT_CHECK_H

struct istream;
struct sieve_encrypt_sink;
struct sieve_encrypt_content;

/* The most bytes of a body read to decide whether the message is
   encrypted: a larger body is taken as not encrypted (and is encrypted,
   again if it was already). The check reads the body once, front to back,
   in constant memory, at a fraction of what encrypting it costs, so the
   limit only needs to lie above any message a mail system takes. */
#define SIEVE_ENCRYPT_CHECK_MAX_BODY_SIZE (64 * 1024 * 1024)

/* The check of a body whose header has the given Content-* fields (see
   sieve_encrypt_check_encrypted()), or NULL when the header says already
   that the message is not encrypted. Allocated from the data stack. */
struct sieve_encrypt_sink *
sieve_encrypt_check_create(const struct sieve_encrypt_content *content);

/* Decide from its content whether a message is encrypted as a whole
   already: the message's Content-* fields are in content, its body starts
   at body_offset in input. Encrypted are (see the check-*.h files for the
   details):

   - text/plain (or no or an unparseable Content-Type): the body, decoded
     from its Content-Transfer-Encoding, is one armored OpenPGP encrypted
     message and white space (sieve-encrypt-check-pgp.h);
   - multipart/encrypted with protocol="application/pgp-encrypted", a
     boundary, no Content-Transfer-Encoding but 7bit, 8bit or binary, and
     the shape of RFC 3156 (sieve-encrypt-check-pgpmime.h);
   - multipart/mixed with a boundary and such a Content-Transfer-Encoding,
     in the shape that Microsoft Exchange makes of PGP/MIME: an empty
     text/plain part, then the two parts of RFC 3156
     (sieve-encrypt-check-pgpmime.h);
   - application/pkcs7-mime or application/x-pkcs7-mime whose smime-type
     is not one that RFC 8551 defines for unencrypted content (signed-data,
     certs-only, compressed-data), and whose decoded body is one CMS
     enveloped-data or authEnveloped-data object (the parameter alone is
     never trusted; sieve-encrypt-check-cms.h).

   Anything else, an unknown Content-Transfer-Encoding, and a body larger
   than max_body_size are not encrypted. At most max_body_size + 1 bytes
   of the body are read, and reading stops as soon as the answer is no.
   Returns 0 with *encrypted_r set, or -1 on a read error (see input). */
int sieve_encrypt_check_encrypted(const struct sieve_encrypt_content *content,
				  struct istream *input, uoff_t body_offset,
				  uoff_t max_body_size, bool *encrypted_r);

#endif
