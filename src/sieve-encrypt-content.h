/* Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
 */

#ifndef SIEVE_ENCRYPT_CONTENT_H
#define SIEVE_ENCRYPT_CONTENT_H

struct message_header_line;

/* What the Content-Type and Content-Transfer-Encoding fields of a header
   (the message's or a body part's) say about its content. The first
   parseable field of each kind counts, as in Dovecot's message parser; a
   Content-Type that cannot be parsed leaves type NULL (RFC 2045: the
   default, text/plain). */
struct sieve_encrypt_content {
	/* "type/subtype" as given, or NULL */
	const char *type;
	/* parameters of that Content-Type, or NULL */
	const char *smime_type, *protocol, *boundary, *charset;
	/* the Content-Transfer-Encoding token, or NULL */
	const char *transfer_encoding;
};

/* Take hdr into content when it is one of those fields; strings come from
   pool, scratch space from the data stack. hdr must be complete (not
   continued: see use_full_value). */
void sieve_encrypt_content_parse_field(pool_t pool,
				       struct sieve_encrypt_content *content,
				       const struct message_header_line *hdr);

/* The MIME token at the start of a field value (a Content-Transfer-Encoding
   or a Content-Disposition), "" when there is none; from the data stack */
const char *sieve_encrypt_content_token(const unsigned char *value,
					size_t size);

/* Parse a whole header (up to and with its empty line) in data; strings
   come from the data stack */
void sieve_encrypt_content_parse_header(
	const unsigned char *data, size_t size,
	struct sieve_encrypt_content *content_r);

#endif
