/* Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
 */

#ifndef SIEVE_ENCRYPT_FORMAT_H
#define SIEVE_ENCRYPT_FORMAT_H

struct sieve_encrypt_settings;

/* What the encrypted message looks like */
enum sieve_encrypt_format {
	/* PGP/MIME, RFC 3156: multipart/encrypted */
	SIEVE_ENCRYPT_FORMAT_PGPMIME,
	/* S/MIME, RFC 8551: application/pkcs7-mime enveloped-data */
	SIEVE_ENCRYPT_FORMAT_SMIME,
	/* inline PGP: the armored ciphertext replaces a single text/plain
	   body; any other message is encrypted as PGP/MIME */
	SIEVE_ENCRYPT_FORMAT_INLINE,
};

/* How one encrypt encrypts: the settings' defaults
   (sieve_encrypt_format, sieve_encrypt_protect_headers,
   sieve_encrypt_hide_subject, sieve_encrypt_legacy_display), overridden
   by the command's tags */
struct sieve_encrypt_options {
	enum sieve_encrypt_format format;
	/* RFC 9788 header protection: the user-facing header fields are
	   copied into the encrypted entity */
	bool protect_headers;
	/* the outer Subject becomes "[...]" (implies protect_headers) */
	bool hide_subject;
	/* RFC 9788 legacy display element: the hidden Subject at the start
	   of a text/plain or text/html body (implies hide_subject) */
	bool legacy_display;
};

/* The format of a name ("pgpmime", "smime", "inline"; case does not
   matter). Returns FALSE for an unknown name. */
bool sieve_encrypt_format_parse(const char *name,
				enum sieve_encrypt_format *format_r);
/* The format's name, as sieve_encrypt_format_parse() accepts it */
const char *sieve_encrypt_format_name(enum sieve_encrypt_format format);

/* The options that the settings give an encrypt without tags */
void sieve_encrypt_options_init(struct sieve_encrypt_options *options_r,
				const struct sieve_encrypt_settings *set);
/* Set what the options imply: legacy_display implies hide_subject,
   hide_subject implies protect_headers */
void sieve_encrypt_options_imply(struct sieve_encrypt_options *options);

#endif
