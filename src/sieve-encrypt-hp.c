/* Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
 */

#include "lib.h"
#include "str.h"

#include "sieve-encrypt-hp.h"

/* RFC 9788 section 1.1.1 (user-facing header fields), and Followup-To */
static const char *const sieve_encrypt_hp_protected_fields[] = {
	"Subject", "From", "To", "Cc", "Date", "Message-ID", "Reply-To",
	"References", "In-Reply-To", "Followup-To", NULL
};

bool sieve_encrypt_hp_field_is_protected(const char *name)
{
	return str_array_icase_find(sieve_encrypt_hp_protected_fields, name);
}

/* RFC 2045 token characters */
static bool sieve_encrypt_hp_is_token(unsigned char c)
{
	return (c > ' ' && c < 0x7f && strchr("()<>@,;:\\\"/[]?=", c) == NULL);
}

/* Skip white space, line ends and (nested) comments from *pos; FALSE
   when a comment is left open */
static bool
sieve_encrypt_hp_skip_cfws(const unsigned char *value, size_t size,
			   size_t *pos)
{
	unsigned int comments = 0;
	size_t i;

	for (i = *pos; i < size; i++) {
		unsigned char c = value[i];

		if (comments > 0 && c == '\\')
			i++;
		else if (c == '(')
			comments++;
		else if (comments > 0 && c == ')')
			comments--;
		else if (comments == 0 && c != ' ' && c != '\t' &&
			 c != '\r' && c != '\n')
			break;
	}
	*pos = I_MIN(i, size);
	return comments == 0;
}

static bool
sieve_encrypt_hp_skip_token(const unsigned char *value, size_t size,
			    size_t *pos)
{
	size_t start = *pos;

	while (*pos < size && sieve_encrypt_hp_is_token(value[*pos]))
		(*pos)++;
	return *pos > start;
}

/* The offset after the subtype of a value that begins with
   type "/" subtype, else 0 */
static size_t
sieve_encrypt_hp_type_end(const unsigned char *value, size_t size)
{
	size_t pos = 0, end;

	if (!sieve_encrypt_hp_skip_cfws(value, size, &pos) ||
	    !sieve_encrypt_hp_skip_token(value, size, &pos) ||
	    !sieve_encrypt_hp_skip_cfws(value, size, &pos) ||
	    pos >= size || value[pos] != '/')
		return 0;
	pos++;
	if (!sieve_encrypt_hp_skip_cfws(value, size, &pos))
		return 0;
	if (!sieve_encrypt_hp_skip_token(value, size, &pos))
		return 0;
	end = pos;
	return end;
}

void sieve_encrypt_hp_ctype_scan(const unsigned char *value, size_t size,
				 struct sieve_encrypt_hp_ctype_end *end_r)
{
	unsigned int comments = 0;
	bool quote = FALSE, escape = FALSE;
	unsigned char last = '\0';
	size_t i;

	for (i = 0; i < size; i++) {
		unsigned char c = value[i];

		if (escape) {
			escape = FALSE;
		} else if ((quote || comments > 0) && c == '\\') {
			escape = TRUE;
		} else if (quote) {
			if (c == '"')
				quote = FALSE;
		} else if (c == '(') {
			comments++;
		} else if (comments > 0) {
			if (c == ')')
				comments--;
		} else if (c == '"') {
			quote = TRUE;
			last = c;
		} else if (c != ' ' && c != '\t' && c != '\r' && c != '\n') {
			last = c;
		}
	}
	i_zero(end_r);
	end_r->open_comments = comments;
	end_r->open_quote = quote;
	end_r->open_escape = escape;
	end_r->ends_with_semicolon = (last == ';');
	end_r->empty = (last == '\0');
	end_r->type_end = sieve_encrypt_hp_type_end(value, size);
}

static void
sieve_encrypt_hp_params(string_t *dest, const char *nl, bool legacy_display)
{
	str_printfa(dest, "%s hp=\"cipher\";%s protected-headers=\"v1\"",
		    nl, nl);
	if (legacy_display)
		str_printfa(dest, ";%s hp-legacy-display=\"1\"", nl);
}

bool sieve_encrypt_hp_ctype_params(string_t *dest,
				   const struct sieve_encrypt_hp_ctype_end *end,
				   const char *nl, bool legacy_display)
{
	unsigned int i;

	if (end->type_end > 0) {
		str_append_c(dest, ';');
		sieve_encrypt_hp_params(dest, nl, legacy_display);
		return TRUE;
	}
	if (end->open_comments > SIEVE_ENCRYPT_HP_MAX_OPEN_COMMENTS)
		return FALSE;
	/* the escape takes a space, harmless in a quoted string or comment */
	if (end->open_escape)
		str_append_c(dest, ' ');
	if (end->open_quote)
		str_append_c(dest, '"');
	for (i = 0; i < end->open_comments; i++)
		str_append_c(dest, ')');
	if (end->empty)
		str_append(dest, " text/plain; charset=us-ascii;");
	else if (!end->ends_with_semicolon)
		str_append_c(dest, ';');
	sieve_encrypt_hp_params(dest, nl, legacy_display);
	return TRUE;
}

void sieve_encrypt_hp_ctype_default(string_t *dest, const char *nl,
				    bool legacy_display)
{
	str_append(dest, "Content-Type: text/plain; charset=us-ascii;");
	sieve_encrypt_hp_params(dest, nl, legacy_display);
	str_append(dest, nl);
}
