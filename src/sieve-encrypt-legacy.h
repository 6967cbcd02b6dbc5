/* Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
 */

#ifndef SIEVE_ENCRYPT_LEGACY_H
#define SIEVE_ENCRYPT_LEGACY_H

/* Legacy display elements (RFC 9788 section 4.5.3): the header fields
   that header protection hid, as text at the start of the body, for
   readers that do not know header protection. The pieces that do not
   depend on the message's structure: the charsets, the text of a field
   value, and where a text/html body's <body> tag ends. Assembly in
   sieve-encrypt-mime.c. */

/* The HTML element's class (RFC 9788) */
#define SIEVE_ENCRYPT_LEGACY_HTML_CLASS "header-protection-legacy-display"
/* At most this much of a text/html body is read for its <body> tag */
#define SIEVE_ENCRYPT_LEGACY_HTML_MAX_SCAN (1024 * 1024)
/* A line of the element is at most this long (RFC 5322's 998 bytes
   without the newline) */
#define SIEVE_ENCRYPT_LEGACY_MAX_LINE 998

/* TRUE for a charset (the part's charset parameter, any case) that
   reads ASCII as ASCII, so that the element's ASCII text reads right:
   us-ascii, utf-8, iso-8859-*, windows-125*, koi8-r, koi8-u. Others
   (utf-16, utf-7, EBCDIC, ...) get no element. */
bool sieve_encrypt_legacy_charset_ascii(const char *charset);
/* TRUE for utf-8 (any case, also "utf8") */
bool sieve_encrypt_legacy_charset_utf8(const char *charset);

/* Append the text of a header field value (raw: after the colon,
   folding and newline included) for a text/plain element: unfolded,
   white space trimmed at both ends, RFC 2047 encoded words decoded
   (controls in what they decode to become spaces) when the result is
   ASCII or utf8 is TRUE; else the unfolded raw value (encoded words as
   they are). Returns FALSE (dest unchanged) when the text has 8-bit
   bytes and utf8 is FALSE. */
bool sieve_encrypt_legacy_plain_value(string_t *dest,
				      const unsigned char *value, size_t size,
				      bool utf8);
/* The same for a text/html element: decoded to UTF-8, then &, <, >, "
   and every non-ASCII character as character references: ASCII only,
   whatever the part's charset */
void sieve_encrypt_legacy_html_value(string_t *dest,
				     const unsigned char *value, size_t size);

/* Finds where the start tag <body ...> of a text/html body ends, fed in
   pieces of any size: outside comments, declarations and the raw text
   of script, style, title, textarea and similar elements, with quoted
   attribute values */
struct sieve_encrypt_legacy_html_scan {
	unsigned int state;
	/* the tag name so far (lowercase), or the raw text element's */
	char name[16];
	unsigned int name_len;
	/* how much of "</name" raw text has matched; dashes in a comment */
	unsigned int match;
	bool end_tag:1;
	bool name_overflow:1;
	bool after_eq:1;
};

void sieve_encrypt_legacy_html_init(struct sieve_encrypt_legacy_html_scan *scan);
/* Feed the next piece; TRUE when the <body> tag ends in it, with
   *end_r the offset in data after its '>' */
bool sieve_encrypt_legacy_html_feed(struct sieve_encrypt_legacy_html_scan *scan,
				    const unsigned char *data, size_t size,
				    size_t *end_r);

#endif
