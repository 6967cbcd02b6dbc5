/* Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
 */

#ifndef SIEVE_ENCRYPT_HP_H
#define SIEVE_ENCRYPT_HP_H

/* Header protection (RFC 9788): the header fields that the encrypted
   entity carries copies of, and the parameters that its Content-Type
   gets. The assembly of the entity is in sieve-encrypt-mime.c. */

/* What the outer Subject says with hide_subject (RFC 9788's "[...]") */
#define SIEVE_ENCRYPT_HP_HIDDEN_SUBJECT "[...]"

/* Deeper nesting of comments than this at the end of a Content-Type
   value is not closed: that field gets no parameters */
#define SIEVE_ENCRYPT_HP_MAX_OPEN_COMMENTS 100

/* TRUE for the user-facing fields that header protection copies into
   the entity: Subject, From, To, Cc, Date, Message-ID, Reply-To,
   References, In-Reply-To, Followup-To (any case) */
bool sieve_encrypt_hp_field_is_protected(const char *name);

/* Where the parameters go in a Content-Type value: right after its
   type/subtype when it begins with one (so that damaged parameters
   after it, which make parsers give up on the rest, cannot hide them);
   else at its end, after what closes what it leaves open */
struct sieve_encrypt_hp_ctype_end {
	/* the offset in the value after the subtype; 0 when the value does
	   not begin with type/subtype (comments and white space allowed
	   around the tokens and the '/') */
	size_t type_end;
	/* comments open at the end */
	unsigned int open_comments;
	/* inside a quoted string at the end (never inside a comment) */
	bool open_quote:1;
	/* a backslash in a quoted string or comment escapes what comes next */
	bool open_escape:1;
	/* the last character outside comments and quoted strings that is
	   no white space is ';' */
	bool ends_with_semicolon:1;
	/* no such character at all: no type (white space, comments) */
	bool empty:1;
};

/* Scan a Content-Type value (raw, folding included) */
void sieve_encrypt_hp_ctype_scan(const unsigned char *value, size_t size,
				 struct sieve_encrypt_hp_ctype_end *end_r);

/* Append to dest what goes into the value: after its type/subtype
   (type_end > 0), ";" and, folded with nl, hp="cipher";
   protected-headers="v1"; else, after the whole value (before its
   newline), what closes the open escape, quoted string and comments,
   ";" unless the value ends with one, " text/plain; charset=us-ascii;"
   for a value without any type, then the same parameters. Returns FALSE
   (nothing appended) when more than SIEVE_ENCRYPT_HP_MAX_OPEN_COMMENTS
   comments are open at the end of a value without type/subtype. With
   legacy_display, the parameters end in ";", nl and
   hp-legacy-display="1" (RFC 9788: the body has a legacy display
   element). */
bool sieve_encrypt_hp_ctype_params(string_t *dest,
				   const struct sieve_encrypt_hp_ctype_end *end,
				   const char *nl, bool legacy_display);

/* Append the Content-Type field of an entity that has none: the default
   (RFC 2045) text/plain; charset=us-ascii, with the parameters above,
   and nl */
void sieve_encrypt_hp_ctype_default(string_t *dest, const char *nl,
				    bool legacy_display);

#endif
