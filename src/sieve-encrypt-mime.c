/* Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
 */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "str-sanitize.h"
#include "randgen.h"
#include "istream.h"
#include "istream-concat.h"
#include "ostream.h"
#include "message-size.h"
#include "message-header-parser.h"

#include "sieve-encrypt-content.h"
#include "sieve-encrypt-check.h"
#include "sieve-encrypt-status.h"
#include "sieve-encrypt-hp.h"
#include "sieve-encrypt-legacy.h"
#include "sieve-encrypt-mime.h"

/* Where a header field of the original goes, when the message is
   encrypted */
enum sieve_encrypt_field_where {
	/* the outer header, where it was */
	SIEVE_ENCRYPT_FIELD_OUTER = 0,
	/* the header of the encrypted entity */
	SIEVE_ENCRYPT_FIELD_INNER,
	/* a line that is no field: the outer header after the plugin's
	   Content-Type, or, in a message without a blank line after its
	   header, the start of the encrypted entity's body */
	SIEVE_ENCRYPT_FIELD_NONE,
	/* a field with a bare CR or a NUL, other than a Content-* field: the
	   start of the encrypted entity's body */
	SIEVE_ENCRYPT_FIELD_BODY,
};

/* Where a header field goes */
struct sieve_encrypt_field_place {
	enum sieve_encrypt_field_where where;
	/* a status header field (from the sender, or from an earlier
	   encrypt): left out of the outer header and of the message with
	   the status (the new status replaces it); one that goes into the
	   entity (a malformed one, or a line that is no field in a message
	   without a blank line) still goes there like any other */
	bool status;
	/* a Subject field (also one in obsolete syntax, white space before
	   the colon): replaced in the outer header with hide_subject */
	bool subject;
};

/* A run of consecutive header fields that all go to the same place */
struct sieve_encrypt_header_run {
	uoff_t offset, size;
	struct sieve_encrypt_field_place place;
};
ARRAY_DEFINE_TYPE(sieve_encrypt_header_run, struct sieve_encrypt_header_run);

/* A field that header protection copies into the entity: one of the
   user-facing fields (sieve_encrypt_hp_field_is_protected()) that the
   outer header shows */
struct sieve_encrypt_hp_field {
	uoff_t offset, size;
	/* obsolete syntax (RFC 5322 section 4.5, "Subject :"): the name ends
	   at name_end and the colon is at colon_offset; the copies leave out
	   what is between (a line that is no field would end the entity's
	   header for strict readers) */
	uoff_t name_end, colon_offset;
	bool obsolete:1;
	bool subject:1;
	/* the message ends in it, without a newline */
	bool no_newline:1;
};
ARRAY_DEFINE_TYPE(sieve_encrypt_hp_field, struct sieve_encrypt_hp_field);

/* A Content-Type field of the entity's header: where its value starts
   and ends (before the field's newline), for the parameters of header
   protection */
struct sieve_encrypt_hp_ctype {
	uoff_t value_offset, value_end;
	struct sieve_encrypt_hp_ctype_end end;
};
ARRAY_DEFINE_TYPE(sieve_encrypt_hp_ctype, struct sieve_encrypt_hp_ctype);
ARRAY_DEFINE_TYPE(sieve_encrypt_istream, struct istream *);

struct sieve_encrypt_mime {
	pool_t pool;
	/* sieve_encrypt_status_header, or NULL */
	const char *status_name;
	ARRAY_TYPE(sieve_encrypt_header_run) runs;

	/* the blank line that ends the header, and the body after it */
	uoff_t eoh_offset, body_offset;
	/* where the status header field goes, in clear and in the outer
	   header: the top, or after the first field when the message begins
	   with white space (a line that a reader would take for a
	   continuation of the field put above it) */
	uoff_t status_offset;
	/* the field being parsed */
	uoff_t field_offset;
	struct sieve_encrypt_field_place field_place;
	/* the length of the newline of its last line so far (0: none) */
	unsigned int field_nl_len;

	/* header protection: the fields to copy, the Content-Type fields to
	   add the parameters to, the field being parsed if it is one, and
	   the run that gets the outer "Subject: [...]" (hide_subject) */
	ARRAY_TYPE(sieve_encrypt_hp_field) hp_fields;
	ARRAY_TYPE(sieve_encrypt_hp_ctype) hp_ctypes;
	struct sieve_encrypt_hp_field hp_field;
	struct sieve_encrypt_hp_ctype hp_ctype;
	unsigned int hidden_subject_run;

	/* legacy display: the text inserted into the body at legacy_offset
	   (legacy_display set) */
	const char *legacy_element;
	uoff_t legacy_offset;

	struct sieve_encrypt_content content;
	/* header lines named Content-Type and Content-Transfer-Encoding (also
	   lines in obsolete syntax, which the content parser reads too), and
	   Content-Transfer-Encoding fields of the entity */
	unsigned int ctype_lines, cte_lines, cte_fields;

	bool has_eoh:1;
	bool crlf:1;
	bool crlf_known:1;
	bool field_pending:1;
	bool leading_space:1;
	bool last_field_no_newline:1;
	bool has_mime_version:1;
	bool encrypted:1;
	bool hp_field_pending:1;
	bool hp_ctype_pending:1;
	bool protect_headers:1;
	bool hide_subject:1;
	bool has_hidden_subject:1;
	bool legacy_display:1;
};

/*
 * Header parsing
 */

static void
sieve_encrypt_mime_add_field(struct sieve_encrypt_mime *mime, uoff_t offset,
			     struct sieve_encrypt_field_place place)
{
	struct sieve_encrypt_header_run *run;

	if (array_count(&mime->runs) > 0) {
		run = array_back_modifiable(&mime->runs);
		if (run->place.where == place.where &&
		    run->place.status == place.status &&
		    run->place.subject == place.subject)
			return;
	}
	run = array_append_space(&mime->runs);
	run->offset = offset;
	run->place = place;
}

/* The field that ended at end_offset, if one to copy (one that the outer
   header shows: not a status field, not one with a bare CR or a NUL) */
static void
sieve_encrypt_mime_end_hp_field(struct sieve_encrypt_mime *mime,
				uoff_t end_offset)
{
	struct sieve_encrypt_hp_field *field = &mime->hp_field;
	enum sieve_encrypt_field_where where = mime->field_place.where;

	if (!mime->hp_field_pending)
		return;
	mime->hp_field_pending = FALSE;
	if (mime->field_place.status ||
	    (where != SIEVE_ENCRYPT_FIELD_OUTER &&
	     where != SIEVE_ENCRYPT_FIELD_NONE))
		return;
	field->size = end_offset - field->offset;
	field->no_newline = (mime->field_nl_len == 0);
	array_push_back(&mime->hp_fields, field);
}

static void
sieve_encrypt_mime_end_hp_ctype(struct sieve_encrypt_mime *mime,
				uoff_t end_offset)
{
	if (!mime->hp_ctype_pending)
		return;
	mime->hp_ctype_pending = FALSE;
	mime->hp_ctype.value_end = end_offset - mime->field_nl_len;
	array_push_back(&mime->hp_ctypes, &mime->hp_ctype);
}

/* The field being parsed ends at end_offset: where the next one starts,
   or the header */
static void
sieve_encrypt_mime_end_field(struct sieve_encrypt_mime *mime,
			     uoff_t end_offset)
{
	if (!mime->field_pending)
		return;
	sieve_encrypt_mime_add_field(mime, mime->field_offset,
				     mime->field_place);
	sieve_encrypt_mime_end_hp_field(mime, end_offset);
	sieve_encrypt_mime_end_hp_ctype(mime, end_offset);
	mime->field_pending = FALSE;
}

static void
sieve_encrypt_mime_close_runs(struct sieve_encrypt_mime *mime,
			      uoff_t end_offset)
{
	struct sieve_encrypt_header_run *runs;
	unsigned int i, count;

	runs = array_get_modifiable(&mime->runs, &count);
	for (i = 0; i < count; i++) {
		uoff_t end = (i + 1 < count ? runs[i + 1].offset : end_offset);

		i_assert(end >= runs[i].offset);
		runs[i].size = end - runs[i].offset;
	}
}

static void
sieve_encrypt_mime_parse_field(struct sieve_encrypt_mime *mime,
			       struct message_header_line *hdr)
{
	if (strcasecmp(hdr->name, "MIME-Version") == 0 &&
	    mime->field_place.where == SIEVE_ENCRYPT_FIELD_OUTER)
		mime->has_mime_version = TRUE;
	if (mime->hp_ctype_pending) {
		sieve_encrypt_hp_ctype_scan(hdr->full_value,
					    hdr->full_value_len,
					    &mime->hp_ctype.end);
	}
	if (strcasecmp(hdr->name, "Content-Type") == 0)
		mime->ctype_lines++;
	if (strcasecmp(hdr->name, "Content-Transfer-Encoding") == 0) {
		mime->cte_lines++;
		if (mime->field_place.where == SIEVE_ENCRYPT_FIELD_INNER)
			mime->cte_fields++;
	}
	sieve_encrypt_content_parse_field(mime->pool, &mime->content, hdr);
}

/* TRUE for the first line of a header field that is an RFC 5322 field: a
   valid name (no NUL in it), directly followed by the colon */
static bool
sieve_encrypt_line_is_field(const struct message_header_line *hdr)
{
	return (hdr->name_len > 0 && strlen(hdr->name) == hdr->name_len &&
		message_header_name_is_valid(hdr->name) &&
		hdr->middle_len > 0 && hdr->middle[0] == ':');
}

/* TRUE when the line starts with white space: possible only for the
   first line of the header, which must then stay first, or it would
   continue the field before it */
static bool
sieve_encrypt_line_starts_folded(const struct message_header_line *hdr)
{
	unsigned char first = (hdr->name_len > 0 ? hdr->name[0] :
			       (hdr->value_len > 0 ? hdr->value[0] : '\0'));

	return (first == ' ' || first == '\t');
}

/* Where a field goes, decided by its first line: Content-* fields into
   the entity, lines that are no field after the plugin's Content-Type
   (or into the entity's body, see sieve_encrypt_mime_entity()), all
   others stay in place. */
static enum sieve_encrypt_field_where
sieve_encrypt_field_where(const struct message_header_line *hdr)
{
	if (!sieve_encrypt_line_is_field(hdr)) {
		return (sieve_encrypt_line_starts_folded(hdr) ?
			SIEVE_ENCRYPT_FIELD_OUTER : SIEVE_ENCRYPT_FIELD_NONE);
	}
	if (strncasecmp(hdr->name, "Content-", 8) == 0)
		return SIEVE_ENCRYPT_FIELD_INNER;
	return SIEVE_ENCRYPT_FIELD_OUTER;
}

/* A field with a bare CR or a NUL goes into the entity, because where
   it ends is a guess: a message with CR-only line ends, say, is one long
   "field" that holds the whole message. A Content-* field stays in the
   entity's header; any other goes into its body, so that the entity's
   header holds fields only. */
static bool
sieve_encrypt_line_is_malformed(const struct message_header_line *hdr)
{
	return (memchr(hdr->value, '\r', hdr->value_len) != NULL ||
		memchr(hdr->value, '\0', hdr->value_len) != NULL ||
		(hdr->name_len > 0 && strlen(hdr->name) != hdr->name_len));
}

/* TRUE for a line in obsolete syntax, "Name :" (RFC 5322 section 4.5:
   white space between a valid name and the colon), with the colon's
   offset in hdr->middle; readers that accept it take it for the field
   of that name */
static bool
sieve_encrypt_line_is_obsolete(const struct message_header_line *hdr,
			       size_t *colon_r)
{
	const unsigned char *colon;
	size_t i;

	if (sieve_encrypt_line_is_field(hdr) || hdr->name_len == 0 ||
	    strlen(hdr->name) != hdr->name_len ||
	    !message_header_name_is_valid(hdr->name))
		return FALSE;
	colon = memchr(hdr->middle, ':', hdr->middle_len);
	if (colon == NULL)
		return FALSE;
	for (i = 0; hdr->middle + i < colon; i++) {
		if (!IS_LWSP(hdr->middle[i]))
			return FALSE;
	}
	*colon_r = i;
	return TRUE;
}

static struct sieve_encrypt_field_place
sieve_encrypt_mime_field_place(const struct sieve_encrypt_mime *mime,
			       const struct message_header_line *hdr)
{
	struct sieve_encrypt_field_place place;
	size_t colon;

	place.where = sieve_encrypt_field_where(hdr);
	/* a NUL in the name cuts hdr->name short */
	place.status = (mime->status_name != NULL &&
			strlen(hdr->name) == hdr->name_len &&
			strcasecmp(hdr->name, mime->status_name) == 0);
	place.subject = ((sieve_encrypt_line_is_field(hdr) ||
			  sieve_encrypt_line_is_obsolete(hdr, &colon)) &&
			 strcasecmp(hdr->name, "Subject") == 0);
	return place;
}

/* Note a field that header protection copies or changes: a user-facing
   field that is a field (or one in obsolete syntax), or a Content-Type
   field of the entity */
static void
sieve_encrypt_mime_start_hp(struct sieve_encrypt_mime *mime,
			    const struct message_header_line *hdr)
{
	struct sieve_encrypt_hp_field *field = &mime->hp_field;
	size_t colon;

	if (mime->field_place.where == SIEVE_ENCRYPT_FIELD_INNER) {
		mime->hp_ctype_pending =
			(strcasecmp(hdr->name, "Content-Type") == 0);
		mime->hp_ctype.value_offset = hdr->full_value_offset;
		return;
	}
	i_zero(field);
	field->offset = hdr->name_offset;
	if (sieve_encrypt_line_is_obsolete(hdr, &colon)) {
		field->obsolete = TRUE;
		field->name_end = hdr->name_offset + hdr->name_len;
		field->colon_offset = field->name_end + colon;
	} else if (!sieve_encrypt_line_is_field(hdr)) {
		return;
	}
	if (!sieve_encrypt_hp_field_is_protected(hdr->name))
		return;
	field->subject = mime->field_place.subject;
	mime->hp_field_pending = TRUE;
}

static void
sieve_encrypt_mime_parse_line(struct sieve_encrypt_mime *mime,
			      struct message_header_line *hdr)
{
	/* The line ends of the message: those of its first line, which may
	   come in several parts when it is longer than the parser's buffer */
	if (!mime->crlf_known && (!hdr->no_newline || hdr->eoh)) {
		mime->crlf = hdr->crlf_newline;
		mime->crlf_known = TRUE;
	}
	if (hdr->eoh) {
		sieve_encrypt_mime_end_field(mime, hdr->name_offset);
		if (mime->leading_space && mime->status_offset == 0)
			mime->status_offset = hdr->name_offset;
		mime->has_eoh = TRUE;
		mime->eoh_offset = hdr->name_offset;
		return;
	}
	if (!hdr->continued) {
		sieve_encrypt_mime_end_field(mime, hdr->name_offset);
		if (mime->leading_space && mime->status_offset == 0)
			mime->status_offset = hdr->name_offset;
		mime->field_pending = TRUE;
		mime->field_offset = hdr->name_offset;
		mime->field_place = sieve_encrypt_mime_field_place(mime, hdr);
		sieve_encrypt_mime_start_hp(mime, hdr);
	}
	if (sieve_encrypt_line_is_malformed(hdr) &&
	    mime->field_place.where != SIEVE_ENCRYPT_FIELD_INNER)
		mime->field_place.where = SIEVE_ENCRYPT_FIELD_BODY;
	mime->last_field_no_newline = hdr->no_newline;
	mime->field_nl_len = (hdr->no_newline ? 0 :
			      (hdr->crlf_newline ? 2 : 1));
	if (hdr->continues) {
		hdr->use_full_value = TRUE;
		return;
	}
	T_BEGIN {
		sieve_encrypt_mime_parse_field(mime, hdr);
	} T_END;
}

int sieve_encrypt_mime_parse(pool_t pool, struct istream *input,
			     const char *status_name,
			     struct sieve_encrypt_mime **mime_r)
{
	struct sieve_encrypt_mime *mime;
	struct message_header_parser_ctx *parser;
	struct message_header_line *hdr;
	struct message_size hdr_size;
	const unsigned char *data;
	size_t size;
	bool encrypted;
	int ret;

	mime = p_new(pool, struct sieve_encrypt_mime, 1);
	mime->pool = pool;
	mime->status_name = p_strdup_empty(pool, status_name);
	p_array_init(&mime->runs, pool, 4);
	p_array_init(&mime->hp_fields, pool, 8);
	p_array_init(&mime->hp_ctypes, pool, 1);

	i_stream_seek(input, 0);
	if (i_stream_read_more(input, &data, &size) > 0)
		mime->leading_space = (data[0] == ' ' || data[0] == '\t');
	i_zero(&hdr_size);
	parser = message_parse_header_init(input, &hdr_size, 0);
	while ((ret = message_parse_header_next(parser, &hdr)) > 0) {
		sieve_encrypt_mime_parse_line(mime, hdr);
	}
	i_assert(ret != 0);
	message_parse_header_deinit(&parser);
	if (input->stream_errno != 0)
		return -1;
	sieve_encrypt_mime_end_field(mime, hdr_size.physical_size);

	mime->body_offset = hdr_size.physical_size;
	if (!mime->has_eoh)
		mime->eoh_offset = mime->body_offset;
	if (mime->leading_space && mime->status_offset == 0)
		mime->status_offset = mime->eoh_offset;
	sieve_encrypt_mime_close_runs(mime, mime->eoh_offset);

	if (sieve_encrypt_check_encrypted(&mime->content, input,
					  mime->body_offset,
					  SIEVE_ENCRYPT_CHECK_MAX_BODY_SIZE,
					  &encrypted) < 0)
		return -1;
	mime->encrypted = encrypted;
	*mime_r = mime;
	return 0;
}

bool sieve_encrypt_mime_is_encrypted(const struct sieve_encrypt_mime *mime)
{
	return mime->encrypted;
}

/* TRUE for a run of lines that are no field that the outer header shows
   after the plugin's Content-Type (in a message with a blank line after
   its header; without, they go into the entity's body) */
static bool
sieve_encrypt_mime_run_is_late(const struct sieve_encrypt_mime *mime,
			       const struct sieve_encrypt_header_run *run)
{
	return (run->place.where == SIEVE_ENCRYPT_FIELD_NONE &&
		!run->place.status && mime->has_eoh);
}

/* The run that the outer "Subject: [...]" replaces: the first of Subject
   fields in place, else the first of Subject lines in obsolete syntax
   after the Content-Type; FALSE when the outer header shows none */
static bool
sieve_encrypt_mime_find_subject_run(const struct sieve_encrypt_mime *mime,
				    unsigned int *idx_r)
{
	const struct sieve_encrypt_header_run *runs;
	unsigned int i, count;

	runs = array_get(&mime->runs, &count);
	for (i = 0; i < count; i++) {
		if (runs[i].place.subject &&
		    runs[i].place.where == SIEVE_ENCRYPT_FIELD_OUTER &&
		    !runs[i].place.status) {
			*idx_r = i;
			return TRUE;
		}
	}
	for (i = 0; i < count; i++) {
		if (runs[i].place.subject &&
		    sieve_encrypt_mime_run_is_late(mime, &runs[i])) {
			*idx_r = i;
			return TRUE;
		}
	}
	return FALSE;
}

void sieve_encrypt_mime_protect_headers(struct sieve_encrypt_mime *mime,
					bool hide_subject)
{
	mime->protect_headers = TRUE;
	mime->hide_subject = hide_subject;
	mime->has_hidden_subject = (hide_subject &&
		sieve_encrypt_mime_find_subject_run(
			mime, &mime->hidden_subject_run));
}

bool sieve_encrypt_mime_uses_crlf(const struct sieve_encrypt_mime *mime)
{
	return mime->crlf;
}

static const char *
sieve_encrypt_mime_newline(const struct sieve_encrypt_mime *mime)
{
	return (mime->crlf ? "\r\n" : "\n");
}

/* TRUE for a run that the outer header keeps in place */
static bool
sieve_encrypt_run_is_outer(const struct sieve_encrypt_header_run *run)
{
	return (run->place.where == SIEVE_ENCRYPT_FIELD_OUTER &&
		!run->place.status);
}

/* TRUE when the header's last field goes into the entity's header
   (SIEVE_ENCRYPT_FIELD_INNER) or stays in the outer header in place
   (SIEVE_ENCRYPT_FIELD_OUTER), and lacks its newline (a message that ends
   inside its header) */
static bool
sieve_encrypt_mime_needs_newline(const struct sieve_encrypt_mime *mime,
				 enum sieve_encrypt_field_where where)
{
	const struct sieve_encrypt_header_run *run;

	if (!mime->last_field_no_newline || array_count(&mime->runs) == 0)
		return FALSE;
	run = array_back(&mime->runs);
	if (where == SIEVE_ENCRYPT_FIELD_OUTER) {
		/* (a hidden Subject's replacement has its newline) */
		return (sieve_encrypt_run_is_outer(run) &&
			!(mime->hide_subject && run->place.subject));
	}
	return (run->place.where == where);
}

/*
 * The status header field
 */

static void
sieve_encrypt_mime_status_field(const struct sieve_encrypt_mime *mime,
				enum sieve_encrypt_status status,
				string_t *str)
{
	if (mime->status_name == NULL)
		return;
	str_printfa(str, "%s: %s%s", mime->status_name,
		    sieve_encrypt_status_value(status),
		    sieve_encrypt_mime_newline(mime));
}

/* TRUE when the header's last field is kept in clear and lacks its
   newline */
static bool
sieve_encrypt_mime_last_kept_unterminated(
	const struct sieve_encrypt_mime *mime)
{
	const struct sieve_encrypt_header_run *run;

	if (!mime->last_field_no_newline || array_count(&mime->runs) == 0)
		return FALSE;
	run = array_back(&mime->runs);
	return !run->place.status;
}

/* The parts of the runs that are not status fields between the offsets
   from and to, as range streams of input */
static void
sieve_encrypt_mime_append_kept(const struct sieve_encrypt_mime *mime,
			       struct istream *input, uoff_t from, uoff_t to,
			       ARRAY_TYPE(sieve_encrypt_istream) *streams)
{
	const struct sieve_encrypt_header_run *run;
	struct istream **stream;
	uoff_t start, end;

	array_foreach(&mime->runs, run) {
		if (run->place.status)
			continue;
		start = I_MAX(run->offset, from);
		end = I_MIN(run->offset + run->size, to);
		if (start < end) {
			stream = array_append_space(streams);
			*stream = i_stream_create_range(input, start,
							end - start);
		}
	}
}

struct istream *
sieve_encrypt_mime_with_status(const struct sieve_encrypt_mime *mime,
			       struct istream *input,
			       enum sieve_encrypt_status status)
{
	ARRAY_TYPE(sieve_encrypt_istream) streams;
	struct istream *output, **stream;
	string_t *field = t_str_new(128);

	i_assert(mime->status_name != NULL);
	/* below a last field without its newline */
	if (mime->status_offset == mime->eoh_offset &&
	    sieve_encrypt_mime_last_kept_unterminated(mime))
		str_append(field, sieve_encrypt_mime_newline(mime));
	sieve_encrypt_mime_status_field(mime, status, field);

	/* The new field at status_offset, which is the start of a field or
	   the end of the header */
	t_array_init(&streams, 8);
	sieve_encrypt_mime_append_kept(mime, input, 0, mime->status_offset,
				       &streams);
	stream = array_append_space(&streams);
	*stream = i_stream_create_copy_from_data(str_data(field),
						 str_len(field));
	sieve_encrypt_mime_append_kept(mime, input, mime->status_offset,
				       mime->eoh_offset, &streams);
	stream = array_append_space(&streams);
	*stream = i_stream_create_range(input, mime->eoh_offset, (uoff_t)-1);
	array_append_zero(&streams);

	output = i_stream_create_concat(array_front_modifiable(&streams));
	array_foreach_modifiable(&streams, stream) {
		if (*stream != NULL)
			i_stream_unref(stream);
	}
	i_stream_set_name(output, "message with encrypt status");
	return output;
}

/* TRUE for a run that goes to the start of the entity's body: fields with
   a bare CR or a NUL, and, in a message without a blank line after its
   header, lines that are no field (most likely the body itself); status
   fields among them too, like any other */
static bool
sieve_encrypt_mime_run_in_body(const struct sieve_encrypt_mime *mime,
			       const struct sieve_encrypt_header_run *run)
{
	return (run->place.where == SIEVE_ENCRYPT_FIELD_BODY ||
		(run->place.where == SIEVE_ENCRYPT_FIELD_NONE &&
		 !mime->has_eoh));
}

static void
sieve_encrypt_mime_append_range(ARRAY_TYPE(sieve_encrypt_istream) *streams,
				struct istream *input, uoff_t offset,
				uoff_t size)
{
	struct istream **stream;

	if (size == 0)
		return;
	stream = array_append_space(streams);
	*stream = i_stream_create_range(input, offset, size);
}

static void
sieve_encrypt_mime_append_str(ARRAY_TYPE(sieve_encrypt_istream) *streams,
			      const char *str)
{
	struct istream **stream;

	stream = array_append_space(streams);
	*stream = i_stream_create_copy_from_data(str, strlen(str));
}

/* Where the parameters go into a Content-Type field */
static uoff_t
sieve_encrypt_mime_ctype_offset(const struct sieve_encrypt_hp_ctype *ctype)
{
	return (ctype->end.type_end > 0 ?
		ctype->value_offset + ctype->end.type_end : ctype->value_end);
}

/* A run of the entity's header with header protection: the parameters
   go into each Content-Type value in it */
static void
sieve_encrypt_mime_append_inner_run(const struct sieve_encrypt_mime *mime,
				    struct istream *input,
				    const struct sieve_encrypt_header_run *run,
				    ARRAY_TYPE(sieve_encrypt_istream) *streams)
{
	const char *nl = sieve_encrypt_mime_newline(mime);
	const struct sieve_encrypt_hp_ctype *ctype;
	uoff_t offset = run->offset, end = run->offset + run->size, at;
	string_t *params;

	array_foreach(&mime->hp_ctypes, ctype) {
		at = sieve_encrypt_mime_ctype_offset(ctype);
		if (at <= offset || at > end)
			continue;
		params = t_str_new(128);
		if (!sieve_encrypt_hp_ctype_params(params, &ctype->end, nl,
						   mime->legacy_display))
			continue;
		sieve_encrypt_mime_append_range(streams, input, offset,
						at - offset);
		sieve_encrypt_mime_append_str(streams, str_c(params));
		offset = at;
	}
	sieve_encrypt_mime_append_range(streams, input, offset,
					end - offset);
}

/* Append range streams over the runs of the entity's header (in_body
   FALSE) or of the start of its body (TRUE) */
static void
sieve_encrypt_mime_append_runs(const struct sieve_encrypt_mime *mime,
			       struct istream *input, bool in_body,
			       ARRAY_TYPE(sieve_encrypt_istream) *streams)
{
	const struct sieve_encrypt_header_run *run;

	array_foreach(&mime->runs, run) {
		if (in_body) {
			if (!sieve_encrypt_mime_run_in_body(mime, run))
				continue;
		} else if (run->place.where != SIEVE_ENCRYPT_FIELD_INNER) {
			continue;
		} else if (mime->protect_headers) {
			sieve_encrypt_mime_append_inner_run(mime, input, run,
							    streams);
			continue;
		}
		sieve_encrypt_mime_append_range(streams, input, run->offset,
						run->size);
	}
}

/* TRUE for a field to copy that the outer header shows: one in obsolete
   syntax only after the Content-Type, in a message with a blank line */
static bool
sieve_encrypt_mime_hp_field_shown(const struct sieve_encrypt_mime *mime,
				  const struct sieve_encrypt_hp_field *field)
{
	return (!field->obsolete || mime->has_eoh);
}

/* A copy of a field: its bytes, but "Name:" for "Name :" (obsolete
   syntax), and a newline for a message that ends in it */
static void
sieve_encrypt_mime_append_hp_field(const struct sieve_encrypt_mime *mime,
				   struct istream *input,
				   const struct sieve_encrypt_hp_field *field,
				   ARRAY_TYPE(sieve_encrypt_istream) *streams)
{
	uoff_t end = field->offset + field->size;

	if (!field->obsolete) {
		sieve_encrypt_mime_append_range(streams, input, field->offset,
						field->size);
	} else {
		sieve_encrypt_mime_append_range(
			streams, input, field->offset,
			field->name_end - field->offset);
		sieve_encrypt_mime_append_str(streams, ":");
		sieve_encrypt_mime_append_range(
			streams, input, field->colon_offset + 1,
			end - field->colon_offset - 1);
	}
	if (field->no_newline) {
		sieve_encrypt_mime_append_str(
			streams, sieve_encrypt_mime_newline(mime));
	}
}

/* The header fields that header protection adds on top of the entity's
   header (RFC 9788): copies of the user-facing fields, in order, then
   what the outer header shows of them as HP-Outer fields (section 2.2),
   then, for an entity without one, the Content-Type field */
static void
sieve_encrypt_mime_append_protection(const struct sieve_encrypt_mime *mime,
				     struct istream *input,
				     ARRAY_TYPE(sieve_encrypt_istream) *streams)
{
	const char *nl = sieve_encrypt_mime_newline(mime);
	const struct sieve_encrypt_hp_field *field;
	bool subject_done = FALSE;
	string_t *str;

	array_foreach(&mime->hp_fields, field) {
		if (sieve_encrypt_mime_hp_field_shown(mime, field)) {
			sieve_encrypt_mime_append_hp_field(mime, input, field,
							   streams);
		}
	}
	array_foreach(&mime->hp_fields, field) {
		if (!sieve_encrypt_mime_hp_field_shown(mime, field))
			continue;
		if (mime->hide_subject && field->subject) {
			if (!subject_done) {
				sieve_encrypt_mime_append_str(
					streams, t_strconcat(
						"HP-Outer: Subject: ",
						SIEVE_ENCRYPT_HP_HIDDEN_SUBJECT,
						nl, NULL));
			}
			subject_done = TRUE;
			continue;
		}
		sieve_encrypt_mime_append_str(streams, "HP-Outer: ");
		sieve_encrypt_mime_append_hp_field(mime, input, field,
						   streams);
	}
	if (array_count(&mime->hp_ctypes) == 0) {
		str = t_str_new(128);
		sieve_encrypt_hp_ctype_default(str, nl, mime->legacy_display);
		sieve_encrypt_mime_append_str(streams, str_c(str));
	}
}

/*
 * The entity to encrypt
 */

struct istream *
sieve_encrypt_mime_entity(const struct sieve_encrypt_mime *mime,
			  struct istream *input)
{
	const char *nl = sieve_encrypt_mime_newline(mime);
	ARRAY_TYPE(sieve_encrypt_istream) streams;
	struct istream *entity, **stream;
	uoff_t body_offset;

	t_array_init(&streams, 8);
	if (mime->protect_headers)
		sieve_encrypt_mime_append_protection(mime, input, &streams);
	sieve_encrypt_mime_append_runs(mime, input, FALSE, &streams);
	if (sieve_encrypt_mime_needs_newline(mime,
					     SIEVE_ENCRYPT_FIELD_INNER)) {
		stream = array_append_space(&streams);
		*stream = i_stream_create_from_data(nl, strlen(nl));
	}

	/* The blank line that separates header and body; a message that
	   has none gets one, or its body would be taken for header. */
	stream = array_append_space(&streams);
	if (mime->has_eoh) {
		*stream = i_stream_create_range(
			input, mime->eoh_offset,
			mime->body_offset - mime->eoh_offset);
	} else {
		*stream = i_stream_create_from_data(nl, strlen(nl));
	}
	sieve_encrypt_mime_append_runs(mime, input, TRUE, &streams);

	body_offset = mime->body_offset;
	if (mime->legacy_display) {
		sieve_encrypt_mime_append_range(
			&streams, input, body_offset,
			mime->legacy_offset - body_offset);
		sieve_encrypt_mime_append_str(&streams, mime->legacy_element);
		body_offset = mime->legacy_offset;
	}
	stream = array_append_space(&streams);
	*stream = i_stream_create_range(input, body_offset, (uoff_t)-1);
	array_append_zero(&streams);

	entity = i_stream_create_concat(array_front_modifiable(&streams));
	array_foreach_modifiable(&streams, stream) {
		if (*stream != NULL)
			i_stream_unref(stream);
	}
	i_stream_set_name(entity, "encrypt entity");
	return entity;
}

/*
 * Legacy display (RFC 9788 section 4.5.3)
 */

/* A Subject field longer than this gets no legacy display element */
#define SIEVE_ENCRYPT_MIME_LEGACY_MAX_FIELD 4096

static bool sieve_encrypt_mime_cte_is_identity(const char *cte)
{
	return (cte == NULL || strcasecmp(cte, "7bit") == 0 ||
		strcasecmp(cte, "8bit") == 0 ||
		strcasecmp(cte, "binary") == 0);
}

/* NULL when the entity's body can take a legacy display element, with
   *html_r for text/html and *utf8_r when UTF-8 text fits into it (an
   8-bit encoding and the charset utf-8); else why not */
static const char *
sieve_encrypt_mime_legacy_body(const struct sieve_encrypt_mime *mime,
			       bool *html_r, bool *utf8_r)
{
	const struct sieve_encrypt_header_run *run;
	const char *type, *cte = mime->content.transfer_encoding;
	const char *charset = mime->content.charset;

	if (!mime->hide_subject)
		return "the Subject is not hidden";
	if (!mime->has_hidden_subject)
		return "the message has no Subject";
	if (!mime->has_eoh)
		return "the message has no body";
	array_foreach(&mime->runs, run) {
		if (sieve_encrypt_mime_run_in_body(mime, run))
			return "the body starts with malformed header lines";
	}
	if (mime->ctype_lines > 1 || mime->cte_lines > 1) {
		return "more than one Content-Type or "
			"Content-Transfer-Encoding field";
	}
	/* what the content parser read is what readers of the entity see */
	if (mime->ctype_lines != array_count(&mime->hp_ctypes) ||
	    mime->cte_lines != mime->cte_fields)
		return "a Content-* line that is no field";
	if (array_count(&mime->hp_ctypes) == 1 && mime->content.type == NULL)
		return "the Content-Type cannot be parsed";
	type = (mime->content.type != NULL ?
		mime->content.type : "text/plain");
	if (strcasecmp(type, "text/html") == 0) {
		*html_r = TRUE;
	} else if (strcasecmp(type, "text/plain") == 0) {
		*html_r = FALSE;
	} else {
		return t_strdup_printf("the body is %s",
				       str_sanitize(type, 64));
	}
	if (!sieve_encrypt_mime_cte_is_identity(cte)) {
		return t_strdup_printf("Content-Transfer-Encoding %s",
				       str_sanitize(cte, 64));
	}
	if (charset != NULL && !sieve_encrypt_legacy_charset_ascii(charset))
		return t_strdup_printf("charset %s", str_sanitize(charset, 64));
	*utf8_r = (charset != NULL &&
		   sieve_encrypt_legacy_charset_utf8(charset) &&
		   cte != NULL && strcasecmp(cte, "7bit") != 0);
	return NULL;
}

/* Append the raw value of a Subject field (after its colon, with its
   newline) */
static int
sieve_encrypt_mime_read_value(struct istream *input,
			      const struct sieve_encrypt_hp_field *field,
			      string_t *dest)
{
	uoff_t start = (field->obsolete ? field->colon_offset + 1 :
			field->offset + strlen("Subject:"));
	uoff_t end = field->offset + field->size;
	struct istream *range;
	const unsigned char *data;
	size_t size;
	int ret;

	range = i_stream_create_range(input, start, end - start);
	while ((ret = i_stream_read_more(range, &data, &size)) > 0) {
		str_append_data(dest, data, size);
		i_stream_skip(range, size);
	}
	i_assert(ret == -1);
	ret = (range->stream_errno != 0 ? -1 : 0);
	i_stream_unref(&range);
	return ret;
}

/* One line of the element for the Subject field: "Subject: " and its
   text, in <pre> for text/html. Returns 0 and a reason when it does not
   fit, -1 on a read error. */
static int
sieve_encrypt_mime_legacy_line(const struct sieve_encrypt_mime *mime,
			       struct istream *input,
			       const struct sieve_encrypt_hp_field *field,
			       bool html, bool utf8, string_t *dest,
			       const char **reason_r)
{
	string_t *value = t_str_new(128);
	size_t start = str_len(dest);

	if (field->size > SIEVE_ENCRYPT_MIME_LEGACY_MAX_FIELD) {
		*reason_r = "the Subject is too long";
		return 0;
	}
	if (sieve_encrypt_mime_read_value(input, field, value) < 0)
		return -1;
	str_append(dest, html ? "<pre>Subject: " : "Subject: ");
	if (html) {
		sieve_encrypt_legacy_html_value(dest, str_data(value),
						str_len(value));
		str_append(dest, "</pre>");
	} else if (!sieve_encrypt_legacy_plain_value(dest, str_data(value),
						     str_len(value), utf8)) {
		*reason_r = "the Subject has 8-bit text that the part's "
			"charset or encoding cannot hold";
		return 0;
	}
	if (str_len(dest) - start > SIEVE_ENCRYPT_LEGACY_MAX_LINE) {
		*reason_r = "the Subject is too long";
		return 0;
	}
	str_append(dest, sieve_encrypt_mime_newline(mime));
	return 1;
}

/* The element: the hidden Subject fields, one line each, then a blank
   line (text/plain) or all in the div (text/html) */
static int
sieve_encrypt_mime_legacy_element(const struct sieve_encrypt_mime *mime,
				  struct istream *input, bool html, bool utf8,
				  string_t *dest, const char **reason_r)
{
	const char *nl = sieve_encrypt_mime_newline(mime);
	const struct sieve_encrypt_hp_field *field;
	int ret;

	if (html) {
		str_printfa(dest, "<div class=\"%s\">%s",
			    SIEVE_ENCRYPT_LEGACY_HTML_CLASS, nl);
	}
	array_foreach(&mime->hp_fields, field) {
		if (!field->subject ||
		    !sieve_encrypt_mime_hp_field_shown(mime, field))
			continue;
		ret = sieve_encrypt_mime_legacy_line(mime, input, field, html,
						     utf8, dest, reason_r);
		if (ret <= 0)
			return ret;
	}
	str_append(dest, html ? t_strconcat("</div>", nl, NULL) : nl);
	return 1;
}

/* Where the body start tag of a text/html body ends */
static int
sieve_encrypt_mime_legacy_html_offset(const struct sieve_encrypt_mime *mime,
				      struct istream *input,
				      uoff_t *offset_r)
{
	struct sieve_encrypt_legacy_html_scan scan;
	struct istream *body;
	const unsigned char *data;
	size_t size, end;
	uoff_t pos = mime->body_offset;
	int ret;

	sieve_encrypt_legacy_html_init(&scan);
	body = i_stream_create_range(input, mime->body_offset,
				     SIEVE_ENCRYPT_LEGACY_HTML_MAX_SCAN);
	while ((ret = i_stream_read_more(body, &data, &size)) > 0) {
		if (sieve_encrypt_legacy_html_feed(&scan, data, size, &end)) {
			*offset_r = pos + end;
			break;
		}
		pos += size;
		i_stream_skip(body, size);
	}
	if (ret < 0)
		ret = (body->stream_errno != 0 ? -1 : 0);
	i_stream_unref(&body);
	return ret;
}

int sieve_encrypt_mime_legacy_display(struct sieve_encrypt_mime *mime,
				      struct istream *input,
				      const char **reason_r)
{
	string_t *element = t_str_new(256);
	bool html = FALSE, utf8 = FALSE;
	uoff_t offset = mime->body_offset;
	int ret;

	*reason_r = sieve_encrypt_mime_legacy_body(mime, &html, &utf8);
	if (*reason_r != NULL)
		return 0;
	ret = sieve_encrypt_mime_legacy_element(mime, input, html, utf8,
						element, reason_r);
	if (ret <= 0)
		return ret;
	if (html) {
		ret = sieve_encrypt_mime_legacy_html_offset(mime, input,
							    &offset);
		if (ret == 0) {
			*reason_r = t_strdup_printf(
				"text/html without a <body> tag in its "
				"first %u bytes",
				SIEVE_ENCRYPT_LEGACY_HTML_MAX_SCAN);
		}
		if (ret <= 0)
			return ret;
	}
	mime->legacy_element = p_strdup(mime->pool, str_c(element));
	mime->legacy_offset = offset;
	mime->legacy_display = TRUE;
	return 1;
}

/*
 * PGP/MIME output
 */

const char *sieve_encrypt_mime_boundary(void)
{
	static const char chars[] =
		"0123456789abcdefghijklmnopqrstuvwxyz"
		"ABCDEFGHIJKLMNOPQRSTUVWXYZ";
	unsigned char rnd[24];
	string_t *str = t_str_new(40);
	unsigned int i;

	random_fill(rnd, sizeof(rnd));
	str_append(str, "------------");
	for (i = 0; i < sizeof(rnd); i++)
		str_append_c(str, chars[rnd[i] % (sizeof(chars) - 1)]);
	return str_c(str);
}

static void
sieve_encrypt_mime_copy_range(struct istream *input, uoff_t offset,
			      uoff_t size, struct ostream *output)
{
	struct istream *range;

	range = i_stream_create_range(input, offset, size);
	o_stream_nsend_istream(output, range);
	i_stream_unref(&range);
}

/* Copy the parts between the offsets from and to of the runs that go to
   the outer header at the given place (SIEVE_ENCRYPT_FIELD_OUTER: where
   they were, SIEVE_ENCRYPT_FIELD_NONE: after the plugin's Content-Type),
   leaving out status fields */
static void
sieve_encrypt_mime_copy_runs(const struct sieve_encrypt_mime *mime,
			     struct istream *input,
			     enum sieve_encrypt_field_where where,
			     uoff_t from, uoff_t to, struct ostream *output)
{
	const struct sieve_encrypt_header_run *run;
	uoff_t start, end;

	array_foreach(&mime->runs, run) {
		if (run->place.where != where || run->place.status)
			continue;
		start = I_MAX(run->offset, from);
		end = I_MIN(run->offset + run->size, to);
		if (start >= end)
			continue;
		if (mime->hide_subject && run->place.subject) {
			/* once, where the run starts */
			if (mime->has_hidden_subject && start == run->offset &&
			    array_foreach_idx(&mime->runs, run) ==
			    mime->hidden_subject_run) {
				o_stream_nsend_str(output, t_strconcat(
					"Subject: ",
					SIEVE_ENCRYPT_HP_HIDDEN_SUBJECT,
					sieve_encrypt_mime_newline(mime),
					NULL));
			}
			continue;
		}
		sieve_encrypt_mime_copy_range(input, start, end - start,
					      output);
	}
}

/* The outer header up to the end of the lines that are no field: the
   original header without its Content-* fields, lines that are no field
   and status fields, the status field "encrypted" when status_name is
   set, MIME-Version unless the message has one, the given Content-*
   fields (each ending in the message's newline), then the lines that are
   no field. The blank line that ends the header is the caller's. */
static void
sieve_encrypt_mime_write_outer(const struct sieve_encrypt_mime *mime,
			       struct istream *input, struct ostream *output,
			       const char *content_fields)
{
	const char *nl = sieve_encrypt_mime_newline(mime);
	bool newline_sent = FALSE;
	string_t *str;

	/* The status field "encrypted" at status_offset, as in clear: on
	   top, or below a first field that begins with white space */
	sieve_encrypt_mime_copy_runs(mime, input, SIEVE_ENCRYPT_FIELD_OUTER,
				     0, mime->status_offset, output);
	if (mime->status_offset == mime->eoh_offset &&
	    sieve_encrypt_mime_needs_newline(mime, SIEVE_ENCRYPT_FIELD_OUTER)) {
		o_stream_nsend_str(output, nl);
		newline_sent = TRUE;
	}
	str = t_str_new(512);
	sieve_encrypt_mime_status_field(mime, SIEVE_ENCRYPT_STATUS_ENCRYPTED,
					str);
	o_stream_nsend(output, str_data(str), str_len(str));
	sieve_encrypt_mime_copy_runs(mime, input, SIEVE_ENCRYPT_FIELD_OUTER,
				     mime->status_offset, mime->eoh_offset,
				     output);
	if (!newline_sent &&
	    sieve_encrypt_mime_needs_newline(mime, SIEVE_ENCRYPT_FIELD_OUTER))
		o_stream_nsend_str(output, nl);

	str_truncate(str, 0);
	if (!mime->has_mime_version)
		str_printfa(str, "MIME-Version: 1.0%s", nl);
	str_append(str, content_fields);
	o_stream_nsend(output, str_data(str), str_len(str));

	/* Lines that are no field come after the Content-Type: a reader that
	   stops at them has seen it, and takes them for the preamble */
	if (mime->has_eoh) {
		sieve_encrypt_mime_copy_runs(mime, input,
					     SIEVE_ENCRYPT_FIELD_NONE,
					     0, mime->eoh_offset, output);
	}
}

void sieve_encrypt_mime_write_head(const struct sieve_encrypt_mime *mime,
				   struct istream *input,
				   struct ostream *output,
				   const char *boundary)
{
	const char *nl = sieve_encrypt_mime_newline(mime);
	string_t *str = t_str_new(512);

	sieve_encrypt_mime_write_outer(mime, input, output, t_strdup_printf(
		"Content-Type: multipart/encrypted;%s"
		" protocol=\"application/pgp-encrypted\";%s"
		" boundary=\"%s\"%s", nl, nl, boundary, nl));

	str_printfa(str,
		"%s"
		"This is an OpenPGP/MIME encrypted message "
		"(RFC 4880 and 3156)%s"
		"--%s%s"
		"Content-Type: application/pgp-encrypted%s"
		"Content-Description: PGP/MIME version identification%s"
		"%s"
		"Version: 1%s"
		"%s"
		"--%s%s"
		"Content-Type: application/octet-stream; "
		"name=\"encrypted.asc\"%s"
		"Content-Description: OpenPGP encrypted message%s"
		"Content-Disposition: inline; filename=\"encrypted.asc\"%s"
		"%s",
		nl, nl, boundary, nl, nl, nl, nl, nl,
		nl, boundary, nl, nl, nl, nl, nl);
	o_stream_nsend(output, str_data(str), str_len(str));
}

void sieve_encrypt_mime_write_tail(const struct sieve_encrypt_mime *mime,
				   struct ostream *output,
				   const char *boundary)
{
	const char *nl = sieve_encrypt_mime_newline(mime);

	o_stream_nsend_str(output, t_strdup_printf("%s--%s--%s",
						   nl, boundary, nl));
}

/*
 * S/MIME output
 */

void sieve_encrypt_mime_write_smime_head(const struct sieve_encrypt_mime *mime,
					 struct istream *input,
					 struct ostream *output)
{
	const char *nl = sieve_encrypt_mime_newline(mime);

	sieve_encrypt_mime_write_outer(mime, input, output, t_strdup_printf(
		"Content-Type: application/pkcs7-mime; "
		"smime-type=enveloped-data; name=\"smime.p7m\"%s"
		"Content-Transfer-Encoding: base64%s"
		"Content-Disposition: attachment; filename=\"smime.p7m\"%s",
		nl, nl, nl));
	o_stream_nsend_str(output, nl);
}
