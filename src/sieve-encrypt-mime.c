/* Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
 */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "randgen.h"
#include "istream.h"
#include "istream-concat.h"
#include "ostream.h"
#include "message-size.h"
#include "message-header-parser.h"

#include "sieve-encrypt-content.h"
#include "sieve-encrypt-check.h"
#include "sieve-encrypt-status.h"
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
};

/* A run of consecutive header fields that all go to the same place */
struct sieve_encrypt_header_run {
	uoff_t offset, size;
	struct sieve_encrypt_field_place place;
};
ARRAY_DEFINE_TYPE(sieve_encrypt_header_run, struct sieve_encrypt_header_run);
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

	struct sieve_encrypt_content content;

	bool has_eoh:1;
	bool crlf:1;
	bool crlf_known:1;
	bool field_pending:1;
	bool leading_space:1;
	bool last_field_no_newline:1;
	bool has_mime_version:1;
	bool encrypted:1;
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
		    run->place.status == place.status)
			return;
	}
	run = array_append_space(&mime->runs);
	run->offset = offset;
	run->place = place;
}

static void sieve_encrypt_mime_end_field(struct sieve_encrypt_mime *mime)
{
	if (!mime->field_pending)
		return;
	sieve_encrypt_mime_add_field(mime, mime->field_offset,
				     mime->field_place);
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

static struct sieve_encrypt_field_place
sieve_encrypt_mime_field_place(const struct sieve_encrypt_mime *mime,
			       const struct message_header_line *hdr)
{
	struct sieve_encrypt_field_place place;

	place.where = sieve_encrypt_field_where(hdr);
	/* a NUL in the name cuts hdr->name short */
	place.status = (mime->status_name != NULL &&
			strlen(hdr->name) == hdr->name_len &&
			strcasecmp(hdr->name, mime->status_name) == 0);
	return place;
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
		sieve_encrypt_mime_end_field(mime);
		if (mime->leading_space && mime->status_offset == 0)
			mime->status_offset = hdr->name_offset;
		mime->has_eoh = TRUE;
		mime->eoh_offset = hdr->name_offset;
		return;
	}
	if (!hdr->continued) {
		sieve_encrypt_mime_end_field(mime);
		if (mime->leading_space && mime->status_offset == 0)
			mime->status_offset = hdr->name_offset;
		mime->field_pending = TRUE;
		mime->field_offset = hdr->name_offset;
		mime->field_place = sieve_encrypt_mime_field_place(mime, hdr);
	}
	if (sieve_encrypt_line_is_malformed(hdr) &&
	    mime->field_place.where != SIEVE_ENCRYPT_FIELD_INNER)
		mime->field_place.where = SIEVE_ENCRYPT_FIELD_BODY;
	mime->last_field_no_newline = hdr->no_newline;
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
	sieve_encrypt_mime_end_field(mime);

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
	if (where == SIEVE_ENCRYPT_FIELD_OUTER)
		return sieve_encrypt_run_is_outer(run);
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

/* Append range streams over the runs of the entity's header (in_body
   FALSE) or of the start of its body (TRUE) */
static void
sieve_encrypt_mime_append_runs(const struct sieve_encrypt_mime *mime,
			       struct istream *input, bool in_body,
			       ARRAY_TYPE(sieve_encrypt_istream) *streams)
{
	const struct sieve_encrypt_header_run *run;
	struct istream **stream;
	bool wanted;

	array_foreach(&mime->runs, run) {
		wanted = (in_body ? sieve_encrypt_mime_run_in_body(mime, run) :
			  run->place.where == SIEVE_ENCRYPT_FIELD_INNER);
		if (!wanted)
			continue;
		stream = array_append_space(streams);
		*stream = i_stream_create_range(input, run->offset, run->size);
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

	t_array_init(&streams, 8);
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

	stream = array_append_space(&streams);
	*stream = i_stream_create_range(input, mime->body_offset, (uoff_t)-1);
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
		if (start < end) {
			sieve_encrypt_mime_copy_range(input, start,
						      end - start, output);
		}
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
