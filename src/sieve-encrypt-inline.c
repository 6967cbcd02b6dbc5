/* Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
 */

#include "lib.h"
#include "array.h"
#include "buffer.h"
#include "str.h"
#include "str-sanitize.h"
#include "istream.h"
#include "istream-crlf.h"
#include "istream-base64.h"
#include "istream-qp.h"
#include "ostream.h"
#include "charset-utf8.h"
#include "message-size.h"
#include "message-header-parser.h"

#include "sieve-encrypt-content.h"
#include "sieve-encrypt-cte.h"
#include "sieve-encrypt-status.h"
#include "sieve-encrypt-inline.h"

#include <ctype.h>

/* The longest charset name taken */
#define SIEVE_ENCRYPT_INLINE_MAX_CHARSET_NAME 60

/* Every character that the armor consists of, with both line ends: a
   charset keeps the armor readable when it reads these bytes as these
   characters */
#define INLINE_ARMOR_CHARS \
	"-----BEGIN PGP MESSAGE-----\r\n\r\n" \
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/\n" \
	"=\r\n-----END PGP MESSAGE-----\n"

/* A header field that the encrypted message does not copy */
enum sieve_encrypt_inline_kind {
	INLINE_FIELD_OTHER = 0,
	/* replaced by "Content-Transfer-Encoding: 7bit" */
	INLINE_FIELD_CTE,
	/* a status header field: left out (the new one goes on top) */
	INLINE_FIELD_STATUS,
};

struct sieve_encrypt_inline_field {
	uoff_t offset, size;
	enum sieve_encrypt_inline_kind kind;
};
ARRAY_DEFINE_TYPE(sieve_encrypt_inline_field,
		  struct sieve_encrypt_inline_field);

struct sieve_encrypt_inline {
	/* sieve_encrypt_status_header, or NULL */
	const char *status_name;
	/* the Content-Transfer-Encoding and status fields, in order */
	ARRAY_TYPE(sieve_encrypt_inline_field) fields;
	/* the blank line that ends the header, and the body after it */
	uoff_t eoh_offset, body_offset;
	enum sieve_encrypt_cte cte;
	/* the charset, for the armor's Charset header; NULL for us-ascii and
	   UTF-8 (what readers take decrypted text for without it) */
	const char *armor_charset;

	bool crlf:1;
	bool has_cte:1;
};

/* The header, as far as parsed */
struct sieve_encrypt_inline_scan {
	struct sieve_encrypt_inline *inl;
	/* why the message cannot be encrypted inline, NULL while it can */
	const char *reason;
	unsigned int ctype_count, cte_count;
	const char *charset, *cte_name;
	bool has_eoh;

	/* the field being parsed */
	struct sieve_encrypt_inline_field field;
	bool field_pending;
};

/*
 * The header
 */

/* TRUE when hdr's first line is an RFC 5322 field: a valid name (no NUL
   in it), directly followed by the colon */
static bool sieve_encrypt_inline_is_field(const struct message_header_line *hdr)
{
	return (hdr->name_len > 0 && strlen(hdr->name) == hdr->name_len &&
		message_header_name_is_valid(hdr->name) &&
		hdr->middle_len > 0 && hdr->middle[0] == ':');
}

static void
sieve_encrypt_inline_end_field(struct sieve_encrypt_inline_scan *scan,
			       uoff_t end_offset)
{
	struct sieve_encrypt_inline_field *field = &scan->field;

	if (!scan->field_pending)
		return;
	scan->field_pending = FALSE;
	if (field->kind == INLINE_FIELD_OTHER)
		return;
	field->size = end_offset - field->offset;
	array_push_back(&scan->inl->fields, field);
}

static void
sieve_encrypt_inline_parse_type(struct sieve_encrypt_inline_scan *scan,
				const struct message_header_line *hdr)
{
	struct sieve_encrypt_content content;

	i_zero(&content);
	sieve_encrypt_content_parse_field(pool_datastack_create(), &content,
					  hdr);
	if (content.type == NULL) {
		scan->reason = "its Content-Type cannot be parsed";
	} else if (strcasecmp(content.type, "text/plain") != 0) {
		scan->reason = t_strdup_printf("it is %s, not text/plain",
					       content.type);
	} else {
		scan->charset = content.charset;
	}
}

/* A complete field (all of its lines in hdr->full_value) */
static void
sieve_encrypt_inline_parse_field(struct sieve_encrypt_inline_scan *scan,
				 const struct message_header_line *hdr)
{
	const char *token;

	if (strcasecmp(hdr->name, "Content-Type") == 0) {
		if (++scan->ctype_count > 1) {
			scan->reason = "it has two Content-Type fields";
			return;
		}
		sieve_encrypt_inline_parse_type(scan, hdr);
	} else if (strcasecmp(hdr->name, "Content-Transfer-Encoding") == 0) {
		if (++scan->cte_count > 1) {
			scan->reason = "it has two Content-Transfer-Encoding "
				"fields";
			return;
		}
		scan->cte_name = sieve_encrypt_content_token(
			hdr->full_value, hdr->full_value_len);
	} else if (strcasecmp(hdr->name, "Content-Disposition") == 0) {
		/* an attachment stays one, as a MIME part of its own */
		token = sieve_encrypt_content_token(hdr->full_value,
							 hdr->full_value_len);
		if (strcasecmp(token, "inline") != 0) {
			scan->reason = t_strdup_printf(
				"its Content-Disposition is %s, not inline",
				token[0] == '\0' ? "invalid" : token);
		}
	}
}

static enum sieve_encrypt_inline_kind
sieve_encrypt_inline_field_kind(const struct sieve_encrypt_inline *inl,
				const struct message_header_line *hdr)
{
	if (strcasecmp(hdr->name, "Content-Transfer-Encoding") == 0)
		return INLINE_FIELD_CTE;
	if (inl->status_name != NULL &&
	    strcasecmp(hdr->name, inl->status_name) == 0)
		return INLINE_FIELD_STATUS;
	return INLINE_FIELD_OTHER;
}

static void
sieve_encrypt_inline_parse_line(struct sieve_encrypt_inline_scan *scan,
				struct message_header_line *hdr)
{
	struct sieve_encrypt_inline *inl = scan->inl;

	if (hdr->eoh) {
		sieve_encrypt_inline_end_field(scan, hdr->name_offset);
		scan->has_eoh = TRUE;
		inl->eoh_offset = hdr->name_offset;
		return;
	}
	if (!hdr->continued) {
		sieve_encrypt_inline_end_field(scan, hdr->name_offset);
		/* the header is kept byte for byte, so it must be one that
		   every reader takes for the same fields */
		if (!sieve_encrypt_inline_is_field(hdr)) {
			scan->reason = "its header has a line that is no field";
			return;
		}
		scan->field_pending = TRUE;
		scan->field.offset = hdr->name_offset;
		scan->field.kind = sieve_encrypt_inline_field_kind(inl, hdr);
	}
	if (memchr(hdr->value, '\r', hdr->value_len) != NULL ||
	    memchr(hdr->value, '\0', hdr->value_len) != NULL) {
		scan->reason = "its header has a field with a CR or a NUL";
		return;
	}
	if (hdr->continues) {
		hdr->use_full_value = TRUE;
		return;
	}
	sieve_encrypt_inline_parse_field(scan, hdr);
}

/* Parse the header; FALSE on a read error */
static bool
sieve_encrypt_inline_parse_header(struct sieve_encrypt_inline_scan *scan,
				  struct istream *input)
{
	struct message_header_parser_ctx *parser;
	struct message_header_line *hdr;
	struct message_size hdr_size;
	int ret = -1;

	i_stream_seek(input, 0);
	i_zero(&hdr_size);
	parser = message_parse_header_init(input, &hdr_size, 0);
	while (scan->reason == NULL &&
	       (ret = message_parse_header_next(parser, &hdr)) > 0)
		sieve_encrypt_inline_parse_line(scan, hdr);
	message_parse_header_deinit(&parser);
	if (input->stream_errno != 0)
		return FALSE;
	if (scan->reason == NULL) {
		i_assert(ret != 0);
		sieve_encrypt_inline_end_field(scan, scan->inl->eoh_offset);
		scan->inl->body_offset = hdr_size.physical_size;
	}
	return TRUE;
}

/* TRUE for a charset name that may go into the armor's Charset header:
   letters, digits and ".:_+-()", as in the IANA names */
static bool sieve_encrypt_inline_charset_name_ok(const char *charset)
{
	const char *p;

	if (charset[0] == '\0' ||
	    strlen(charset) > SIEVE_ENCRYPT_INLINE_MAX_CHARSET_NAME)
		return FALSE;
	for (p = charset; *p != '\0'; p++) {
		if (!i_isalnum(*p) && strchr(".:_+-()", *p) == NULL)
			return FALSE;
	}
	return TRUE;
}

/* TRUE when the charset reads the armor's bytes as the armor's
   characters: not so in UTF-16 and UTF-32 (two or four bytes a
   character), UTF-7 ("+" begins base64) or EBCDIC, nor in a charset that
   iconv does not know */
static bool sieve_encrypt_inline_charset_ok(const char *charset)
{
	static const char armor[] = INLINE_ARMOR_CHARS;
	struct charset_translation *t;
	buffer_t *dest = t_buffer_create(sizeof(armor) * 2);
	size_t size = sizeof(armor) - 1;
	enum charset_result result;

	if (!sieve_encrypt_inline_charset_name_ok(charset))
		return FALSE;
	if (charset_is_utf8(charset))
		return TRUE;
	if (charset_to_utf8_begin(charset, NULL, &t) < 0)
		return FALSE;
	result = charset_to_utf8(t, (const unsigned char *)armor, &size,
				 dest);
	charset_to_utf8_end(&t);
	return (result == CHARSET_RET_OK && size == sizeof(armor) - 1 &&
		dest->used == size && memcmp(dest->data, armor, size) == 0);
}

/* Check what the header says; sets scan->reason when inline cannot be */
static void
sieve_encrypt_inline_check_header(struct sieve_encrypt_inline_scan *scan)
{
	struct sieve_encrypt_inline *inl = scan->inl;
	const char *charset;

	if (scan->reason != NULL)
		return;
	if (!scan->has_eoh) {
		scan->reason = "its header is not followed by a blank line";
		return;
	}
	inl->has_cte = (scan->cte_count > 0);
	inl->cte = sieve_encrypt_cte_from_name(scan->cte_name);
	if (inl->cte == SIEVE_ENCRYPT_CTE_UNKNOWN) {
		scan->reason = t_strdup_printf(
			"its Content-Transfer-Encoding %s is not one of "
			"7bit, 8bit, binary, quoted-printable, base64",
			scan->cte_name[0] == '\0' ? "(invalid)" :
			str_sanitize(scan->cte_name, 40));
		return;
	}
	charset = (scan->charset != NULL ? scan->charset : "us-ascii");
	if (!sieve_encrypt_inline_charset_ok(charset)) {
		scan->reason = t_strdup_printf(
			"its charset %s is unknown or not ASCII-compatible",
			str_sanitize(charset, 40));
	} else if (!charset_is_utf8(charset)) {
		inl->armor_charset = charset;
	}
}

/*
 * The body
 */

struct istream *
sieve_encrypt_inline_plaintext(const struct sieve_encrypt_inline *inl,
			       struct istream *input)
{
	struct istream *body, *decoded, *lf;

	body = i_stream_create_range(input, inl->body_offset, (uoff_t)-1);
	switch (inl->cte) {
	case SIEVE_ENCRYPT_CTE_IDENTITY:
		return body;
	case SIEVE_ENCRYPT_CTE_BASE64:
		decoded = i_stream_create_base64_decoder(body);
		break;
	case SIEVE_ENCRYPT_CTE_QUOTED_PRINTABLE:
		/* Dovecot's decoder ends each hard line break in CRLF */
		decoded = i_stream_create_qp_decoder(body);
		if (!inl->crlf) {
			lf = i_stream_create_lf(decoded);
			i_stream_unref(&decoded);
			decoded = lf;
		}
		break;
	default:
		i_unreached();
	}
	i_stream_unref(&body);
	i_stream_set_name(decoded, "inline plaintext");
	return decoded;
}

/* Decode the whole body once: it must decode without an error and hold
   no NUL (it is text). Returns 1 when it does, 0 when not (reason_r set),
   -1 on a read error of input. */
static int
sieve_encrypt_inline_check_body(const struct sieve_encrypt_inline *inl,
				struct istream *input, const char **reason_r)
{
	struct istream *plain;
	const unsigned char *data;
	size_t size;
	int ret = 1;

	plain = sieve_encrypt_inline_plaintext(inl, input);
	while (i_stream_read_more(plain, &data, &size) > 0) {
		if (memchr(data, '\0', size) != NULL) {
			*reason_r = "its text holds a NUL";
			ret = 0;
			break;
		}
		i_stream_skip(plain, size);
	}
	if (ret > 0 && plain->stream_errno != 0) {
		if (input->stream_errno != 0) {
			ret = -1;
		} else {
			*reason_r = t_strdup_printf(
				"its body cannot be decoded: %s",
				i_stream_get_error(plain));
			ret = 0;
		}
	}
	i_assert(ret <= 0 || plain->eof);
	i_stream_unref(&plain);
	return ret;
}

const char *
sieve_encrypt_inline_armor_charset(const struct sieve_encrypt_inline *inl)
{
	return inl->armor_charset;
}

int sieve_encrypt_inline_prepare(pool_t pool, struct istream *input,
				 const char *status_name, bool crlf,
				 struct sieve_encrypt_inline **inline_r,
				 const char **reason_r)
{
	struct sieve_encrypt_inline_scan scan;
	struct sieve_encrypt_inline *inl;
	int ret;

	inl = p_new(pool, struct sieve_encrypt_inline, 1);
	inl->status_name = p_strdup_empty(pool, status_name);
	inl->crlf = crlf;
	p_array_init(&inl->fields, pool, 4);

	i_zero(&scan);
	scan.inl = inl;
	if (!sieve_encrypt_inline_parse_header(&scan, input))
		return -1;
	sieve_encrypt_inline_check_header(&scan);
	if (scan.reason != NULL) {
		*reason_r = scan.reason;
		return 0;
	}
	inl->armor_charset = p_strdup(pool, inl->armor_charset);
	ret = sieve_encrypt_inline_check_body(inl, input, reason_r);
	if (ret > 0)
		*inline_r = inl;
	return ret;
}

/*
 * The encrypted message's header
 */

static void
sieve_encrypt_inline_copy(struct istream *input, uoff_t offset, uoff_t end,
			  struct ostream *output)
{
	struct istream *range;

	i_assert(end >= offset);
	if (end == offset)
		return;
	range = i_stream_create_range(input, offset, end - offset);
	o_stream_nsend_istream(output, range);
	i_stream_unref(&range);
}

void sieve_encrypt_inline_write_head(const struct sieve_encrypt_inline *inl,
				     struct istream *input,
				     struct ostream *output)
{
	const char *nl = (inl->crlf ? "\r\n" : "\n");
	const char *cte = t_strconcat("Content-Transfer-Encoding: 7bit", nl,
				      NULL);
	const struct sieve_encrypt_inline_field *field;
	uoff_t offset = 0;

	if (inl->status_name != NULL) {
		o_stream_nsend_str(output, t_strdup_printf(
			"%s: %s%s", inl->status_name,
			sieve_encrypt_status_value(
				SIEVE_ENCRYPT_STATUS_ENCRYPTED), nl));
	}
	array_foreach(&inl->fields, field) {
		sieve_encrypt_inline_copy(input, offset, field->offset,
					  output);
		if (field->kind == INLINE_FIELD_CTE)
			o_stream_nsend_str(output, cte);
		offset = field->offset + field->size;
	}
	sieve_encrypt_inline_copy(input, offset, inl->eoh_offset, output);
	if (!inl->has_cte)
		o_stream_nsend_str(output, cte);
	sieve_encrypt_inline_copy(input, inl->eoh_offset, inl->body_offset,
				  output);
}
