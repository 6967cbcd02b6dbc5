/* Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
 */

#ifndef SIEVE_ENCRYPT_MIME_H
#define SIEVE_ENCRYPT_MIME_H

#include "sieve-encrypt-status.h"

/* The top-level structure of a message, as far as PGP/MIME encryption
   (RFC 3156) needs it: which header fields stay outside (all but the
   Content-* ones), which go into the encrypted entity, where the body
   starts, and whether the message is encrypted as a whole already.

   Nothing is copied: the parse keeps offsets into the (seekable) input,
   so any message size is handled in constant memory. */
struct sieve_encrypt_mime;

/* Parse the header of the message in input (from offset 0) with Dovecot's
   header parser (fields named status_name, sieve_encrypt_status_header,
   are left out of the outer header and of the message with the status;
   NULL or "": none), and decide whether the message is encrypted already
   (which reads the body, see sieve-encrypt-check.h). Returns 0 on success, -1 on
   a read error (see the stream's error). */
int sieve_encrypt_mime_parse(pool_t pool, struct istream *input,
			     const char *status_name,
			     struct sieve_encrypt_mime **mime_r);

/* TRUE when the message is already encrypted as a whole, judged from what
   its content is: a PGP/MIME message of the RFC 3156 shape, S/MIME
   enveloped data, or a text/plain body that is one armored OpenPGP
   encrypted message and white space (sieve_encrypt_check_encrypted()). */
bool sieve_encrypt_mime_is_encrypted(const struct sieve_encrypt_mime *mime);

/* Header protection (RFC 9788) for what sieve_encrypt_mime_entity() and
   sieve_encrypt_mime_write_head() (or any other format's head writer
   through the same outer header copy) produce from now on. The entity's
   header then begins with copies of the message's user-facing fields
   (Subject, From, To, Cc, Date, Message-ID, Reply-To, References,
   In-Reply-To, Followup-To: every one that the outer header shows,
   byte for byte and in order; "Name:" for one in obsolete syntax
   "Name :"), then an HP-Outer field for each, saying what the outer
   header shows ("HP-Outer: " and the same bytes), then, when the
   message has no Content-Type field, "Content-Type: text/plain;
   charset=us-ascii"; each Content-Type field gets hp="cipher" and
   protected-headers="v1" in its value (see sieve-encrypt-hp.h).
   With hide_subject, the outer header shows "Subject: [...]" once, in
   place of the first Subject field (and HP-Outer says so), and no other
   Subject field; a message without one gets none. */
void sieve_encrypt_mime_protect_headers(struct sieve_encrypt_mime *mime,
					bool hide_subject);

/* A legacy display element (RFC 9788 section 4.5.3) in the entity that
   sieve_encrypt_mime_entity() produces from now on, after
   sieve_encrypt_mime_protect_headers() with hide_subject: the hidden
   Subject fields, each as "Subject: " and its text, at the start of the
   body, and hp-legacy-display="1" on the Content-Type. For a text/plain
   body those lines and a blank line before the first byte of the body;
   for text/html, right after the '>' of its <body> tag,
     <div class="header-protection-legacy-display">
     <pre>Subject: ...</pre>
     </div>
   each line ending in the message's newline. The text is the field's
   value unfolded and trimmed, RFC 2047 encoded words decoded when the
   result is ASCII or the part is utf-8 in an 8-bit encoding, else as they
   are (text/plain); HTML-escaped, with non-ASCII characters as character
   references (text/html).
   Only for a message whose body is text/plain (also without a
   Content-Type) or text/html, with at most one Content-Type and one
   Content-Transfer-Encoding line, both fields of the entity (not in
   obsolete syntax), encoding 7bit, 8bit or binary (or
   none), a charset that reads ASCII as ASCII, a text/html <body> tag in
   the first SIEVE_ENCRYPT_LEGACY_HTML_MAX_SCAN bytes, a Subject that
   the outer header hides (none without hide_subject) and that fits
   (lines up to 998 bytes). Returns
   1 when added, 0 and why not when not (the entity is then as without
   it), -1 on a read error (see the stream's error). */
int sieve_encrypt_mime_legacy_display(struct sieve_encrypt_mime *mime,
				      struct istream *input,
				      const char **reason_r);

/* The MIME entity to encrypt: the Content-* header fields and the body of
   the message, byte for byte (with the fields that hold a bare CR or a
   NUL, and in a message without a blank line the lines that are no
   field, at the start of the body), with what header protection adds if
   it is on. The returned stream references input. */
struct istream *
sieve_encrypt_mime_entity(const struct sieve_encrypt_mime *mime,
			  struct istream *input);

/* The message as it is, but with the status header field on top (below
   the first field when the message begins with white space),
   "<status_name>: <value>" and the message's newline, and without the
   fields of that name that it had (only when status_name is set). The
   returned stream references input. */
struct istream *
sieve_encrypt_mime_with_status(const struct sieve_encrypt_mime *mime,
			       struct istream *input,
			       enum sieve_encrypt_status status);

/* A fresh random multipart boundary (data stack). */
const char *sieve_encrypt_mime_boundary(void);

/* Write the encrypted message up to where the ASCII-armored ciphertext
   starts: the original header without its Content-* fields, lines that
   are no field and status fields, with the status header field
   "encrypted" on top when status_name is set (below the first field when
   the message begins with white space), the multipart/encrypted header,
   the lines that are no field and the first two PGP/MIME parts' headers.
   Read and write errors show up in o_stream_finish(). */
void sieve_encrypt_mime_write_head(const struct sieve_encrypt_mime *mime,
				   struct istream *input,
				   struct ostream *output,
				   const char *boundary);
/* Write what follows the ciphertext: the closing boundary. */
void sieve_encrypt_mime_write_tail(const struct sieve_encrypt_mime *mime,
				   struct ostream *output,
				   const char *boundary);

/* Write the S/MIME (RFC 8551) enveloped-data message up to where the
   base64 of the CMS object starts: the same outer header as
   sieve_encrypt_mime_write_head() with the application/pkcs7-mime
   fields, Content-Transfer-Encoding: base64 and the attachment
   disposition of smime.p7m instead of the multipart/encrypted
   Content-Type, then the blank line. Nothing follows the base64. */
void sieve_encrypt_mime_write_smime_head(const struct sieve_encrypt_mime *mime,
					 struct istream *input,
					 struct ostream *output);

/* TRUE when the message's lines end in CRLF (judged by its first header
   line); the generated parts then use CRLF too. */
bool sieve_encrypt_mime_uses_crlf(const struct sieve_encrypt_mime *mime);

#endif
