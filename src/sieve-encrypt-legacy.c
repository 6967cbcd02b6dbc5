/* Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
 */

#include "lib.h"
#include "str.h"
#include "unichar.h"
#include "message-header-decode.h"

#include "sieve-encrypt-legacy.h"

#include <ctype.h>

/*
 * Charsets
 */

bool sieve_encrypt_legacy_charset_utf8(const char *charset)
{
	return (strcasecmp(charset, "utf-8") == 0 ||
		strcasecmp(charset, "utf8") == 0);
}

bool sieve_encrypt_legacy_charset_ascii(const char *charset)
{
	static const char *const exact[] = {
		"us-ascii", "ascii", "koi8-r", "koi8-u", NULL
	};

	return (sieve_encrypt_legacy_charset_utf8(charset) ||
		str_array_icase_find(exact, charset) ||
		strncasecmp(charset, "iso-8859-", 9) == 0 ||
		strncasecmp(charset, "windows-125", 11) == 0);
}

/*
 * Field values
 */

static bool sieve_encrypt_legacy_is_blank(unsigned char c)
{
	return (c == ' ' || c == '\t' || c == '\r' || c == '\n');
}

/* The value unfolded (line ends removed) and trimmed */
static void
sieve_encrypt_legacy_unfold(string_t *dest, const unsigned char *value,
			    size_t size)
{
	size_t start = 0, end = size, i;

	while (start < end && sieve_encrypt_legacy_is_blank(value[start]))
		start++;
	while (end > start && sieve_encrypt_legacy_is_blank(value[end - 1]))
		end--;
	for (i = start; i < end; i++) {
		if (value[i] != '\r' && value[i] != '\n')
			str_append_c(dest, value[i]);
	}
}

static bool sieve_encrypt_legacy_is_ascii(const string_t *str)
{
	const unsigned char *data = str_data(str);
	size_t i;

	for (i = 0; i < str_len(str); i++) {
		if (data[i] >= 0x80)
			return FALSE;
	}
	return TRUE;
}

/* The unfolded value with its encoded words decoded to UTF-8; controls
   (a line end in an encoded word would start a line of its own in the
   element) become spaces */
static string_t *
sieve_encrypt_legacy_decode(const unsigned char *value, size_t size)
{
	string_t *raw = t_str_new(size + 1), *decoded = t_str_new(size + 32);
	unsigned char *data;
	size_t i;

	sieve_encrypt_legacy_unfold(raw, value, size);
	message_header_decode_utf8(str_data(raw), str_len(raw), decoded,
				   NULL);
	data = buffer_get_modifiable_data(decoded, NULL);
	for (i = 0; i < str_len(decoded); i++) {
		if (data[i] < 0x20 || data[i] == 0x7f)
			data[i] = ' ';
	}
	return decoded;
}

bool sieve_encrypt_legacy_plain_value(string_t *dest,
				      const unsigned char *value, size_t size,
				      bool utf8)
{
	string_t *decoded, *raw;

	decoded = sieve_encrypt_legacy_decode(value, size);
	if (utf8 || sieve_encrypt_legacy_is_ascii(decoded)) {
		str_append_str(dest, decoded);
		return TRUE;
	}
	raw = t_str_new(size + 1);
	sieve_encrypt_legacy_unfold(raw, value, size);
	if (!sieve_encrypt_legacy_is_ascii(raw))
		return FALSE;
	str_append_str(dest, raw);
	return TRUE;
}

void sieve_encrypt_legacy_html_value(string_t *dest,
				     const unsigned char *value, size_t size)
{
	string_t *decoded = sieve_encrypt_legacy_decode(value, size);
	const char *p = str_c(decoded), *end = p + str_len(decoded);
	unichar_t chr;
	int len;

	while (p < end) {
		len = uni_utf8_get_char_n(p, end - p, &chr);
		/* message_header_decode_utf8() gives valid UTF-8 */
		i_assert(len > 0);
		p += len;
		if (chr == '&')
			str_append(dest, "&amp;");
		else if (chr == '<')
			str_append(dest, "&lt;");
		else if (chr == '>')
			str_append(dest, "&gt;");
		else if (chr == '"')
			str_append(dest, "&quot;");
		else if (chr >= 0x80)
			str_printfa(dest, "&#x%x;", (unsigned int)chr);
		else
			str_append_c(dest, (char)chr);
	}
}

/*
 * The end of the <body> tag
 */

enum sieve_encrypt_legacy_html_state {
	HTML_DATA = 0,
	/* after '<' */
	HTML_TAG_OPEN,
	HTML_TAG_NAME,
	/* attributes (or what follows an end tag's name) */
	HTML_ATTRS,
	HTML_ATTR_DQUOTE,
	HTML_ATTR_SQUOTE,
	/* after "<!", and after "<!-" */
	HTML_MARKUP,
	HTML_MARKUP_DASH,
	HTML_COMMENT,
	/* "<?...>", "<!DOCTYPE ...>" and other declarations */
	HTML_BOGUS,
	/* the text of script, style, ... up to its end tag */
	HTML_RAWTEXT,
};

/* Elements whose content is text up to their end tag, where a "<body"
   is no tag (HTML's raw text and escapable raw text elements, and those
   parsed so when scripting is on) */
static const char *const sieve_encrypt_legacy_html_raw[] = {
	"script", "style", "title", "textarea", "xmp", "iframe",
	"noembed", "noframes", "noscript", NULL
};

void sieve_encrypt_legacy_html_init(struct sieve_encrypt_legacy_html_scan *scan)
{
	i_zero(scan);
	scan->state = HTML_DATA;
}

static bool sieve_encrypt_legacy_html_space(unsigned char c)
{
	return (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f');
}

static bool
sieve_encrypt_legacy_html_name_is(
	const struct sieve_encrypt_legacy_html_scan *scan, const char *name)
{
	return (strlen(name) == scan->name_len &&
		memcmp(scan->name, name, scan->name_len) == 0);
}

/* The tag's '>': TRUE for the body start tag; a raw text element's
   start tag switches to its text */
static bool
sieve_encrypt_legacy_html_tag_end(struct sieve_encrypt_legacy_html_scan *scan)
{
	const char *const *raw;

	scan->state = HTML_DATA;
	if (scan->end_tag || scan->name_overflow)
		return FALSE;
	if (sieve_encrypt_legacy_html_name_is(scan, "body"))
		return TRUE;
	for (raw = sieve_encrypt_legacy_html_raw; *raw != NULL; raw++) {
		if (sieve_encrypt_legacy_html_name_is(scan, *raw)) {
			scan->state = HTML_RAWTEXT;
			scan->match = 0;
			break;
		}
	}
	return FALSE;
}

/* One character of raw text: after "</name" and a delimiter, the end
   tag's attributes */
static void
sieve_encrypt_legacy_html_rawtext(struct sieve_encrypt_legacy_html_scan *scan,
				  unsigned char c)
{
	unsigned int m = scan->match;

	if (m == 2 + scan->name_len) {
		if (sieve_encrypt_legacy_html_space(c) || c == '/' ||
		    c == '>') {
			scan->end_tag = TRUE;
			scan->state = (c == '>' ? HTML_DATA : HTML_ATTRS);
			scan->after_eq = FALSE;
			return;
		}
		m = 0;
	} else if ((m == 0 && c == '<') || (m == 1 && c == '/') ||
		   (m >= 2 && i_tolower(c) == scan->name[m - 2])) {
		scan->match = m + 1;
		return;
	} else {
		m = 0;
	}
	scan->match = (c == '<' ? 1 : m);
}

static void
sieve_encrypt_legacy_html_tag_open(struct sieve_encrypt_legacy_html_scan *scan,
				   unsigned char c)
{
	scan->end_tag = FALSE;
	scan->name_overflow = FALSE;
	scan->name_len = 0;
	scan->after_eq = FALSE;
	if (c == '!') {
		scan->state = HTML_MARKUP;
	} else if (c == '?') {
		scan->state = HTML_BOGUS;
	} else if (c == '/') {
		scan->end_tag = TRUE;
		scan->state = HTML_ATTRS;
	} else if (i_isalpha(c)) {
		scan->name[scan->name_len++] = i_tolower(c);
		scan->state = HTML_TAG_NAME;
	} else if (c != '<') {
		scan->state = HTML_DATA;
	}
}

/* One character; TRUE when it ends the body start tag */
static bool
sieve_encrypt_legacy_html_char(struct sieve_encrypt_legacy_html_scan *scan,
			       unsigned char c)
{
	switch (scan->state) {
	case HTML_DATA:
		if (c == '<')
			scan->state = HTML_TAG_OPEN;
		break;
	case HTML_TAG_OPEN:
		sieve_encrypt_legacy_html_tag_open(scan, c);
		break;
	case HTML_TAG_NAME:
		if (c == '>')
			return sieve_encrypt_legacy_html_tag_end(scan);
		if (sieve_encrypt_legacy_html_space(c) || c == '/')
			scan->state = HTML_ATTRS;
		else if (scan->name_len < sizeof(scan->name))
			scan->name[scan->name_len++] = i_tolower(c);
		else
			scan->name_overflow = TRUE;
		break;
	case HTML_ATTRS:
		if (c == '>')
			return sieve_encrypt_legacy_html_tag_end(scan);
		if (scan->after_eq && c == '"')
			scan->state = HTML_ATTR_DQUOTE;
		else if (scan->after_eq && c == '\'')
			scan->state = HTML_ATTR_SQUOTE;
		if (c == '=')
			scan->after_eq = TRUE;
		else if (!sieve_encrypt_legacy_html_space(c))
			scan->after_eq = FALSE;
		break;
	case HTML_ATTR_DQUOTE:
		if (c == '"')
			scan->state = HTML_ATTRS;
		break;
	case HTML_ATTR_SQUOTE:
		if (c == '\'')
			scan->state = HTML_ATTRS;
		break;
	case HTML_MARKUP:
		scan->state = (c == '-' ? HTML_MARKUP_DASH :
			       (c == '>' ? HTML_DATA : HTML_BOGUS));
		break;
	case HTML_MARKUP_DASH:
		/* as if after "--": "<!-->" and "<!--->" end there (HTML's
		   abruptly closed empty comment) */
		scan->match = 2;
		scan->state = (c == '-' ? HTML_COMMENT :
			       (c == '>' ? HTML_DATA : HTML_BOGUS));
		break;
	case HTML_COMMENT:
		if (c == '>' && scan->match >= 2)
			scan->state = HTML_DATA;
		scan->match = (c == '-' ? scan->match + 1 : 0);
		break;
	case HTML_BOGUS:
		if (c == '>')
			scan->state = HTML_DATA;
		break;
	case HTML_RAWTEXT:
		sieve_encrypt_legacy_html_rawtext(scan, c);
		break;
	default:
		i_unreached();
	}
	return FALSE;
}

bool sieve_encrypt_legacy_html_feed(struct sieve_encrypt_legacy_html_scan *scan,
				    const unsigned char *data, size_t size,
				    size_t *end_r)
{
	size_t i;

	for (i = 0; i < size; i++) {
		if (sieve_encrypt_legacy_html_char(scan, data[i])) {
			*end_r = i + 1;
			return TRUE;
		}
	}
	return FALSE;
}
