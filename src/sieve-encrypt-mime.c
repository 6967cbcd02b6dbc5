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

/* Where a header field goes */
struct sieve_encrypt_field_place {
	/* into the encrypted entity; else it stays in the outer header */
	bool inner;
	/* a status header field (from the sender, or from an earlier
	   encrypt): left out of the outer header and of the message with
	   the status (the new status replaces it); a malformed one still
	   goes into the entity like any malformed field */
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
	/* where the status header field goes in the message in clear: the
	   top, or after the first field when the message begins with white
	   space (a line that a reader would take for a continuation of the
	   field put above it) */
	uoff_t status_offset;
	/* the field being parsed */
	uoff_t field_offset;
	struct sieve_encrypt_field_place field_place;

	struct sieve_encrypt_content content;

	bool has_eoh:1;
	bool crlf:1;
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
		if (run->place.inner == place.inner &&
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
	if (strcasecmp(hdr->name, "MIME-Version") == 0)
		mime->has_mime_version = TRUE;
	sieve_encrypt_content_parse_field(mime->pool, &mime->content, hdr);
}

/* The fields that go into the encrypted entity: the Content-* ones, and
   any that is malformed (no colon, an invalid name, a bare CR or a NUL),
   because where such a line ends is a guess: a message with CR-only line
   ends, say, is one long "field" that holds the whole message. */
static bool sieve_encrypt_field_is_inner(const char *name)
{
	return (strncasecmp(name, "Content-", 8) == 0 || *name == '\0' ||
		!message_header_name_is_valid(name));
}

static bool
sieve_encrypt_line_is_malformed(const struct message_header_line *hdr)
{
	return (memchr(hdr->value, '\r', hdr->value_len) != NULL ||
		memchr(hdr->value, '\0', hdr->value_len) != NULL);
}

static struct sieve_encrypt_field_place
sieve_encrypt_mime_field_place(const struct sieve_encrypt_mime *mime,
			       const struct message_header_line *hdr)
{
	struct sieve_encrypt_field_place place;
	/* a NUL in the name cuts hdr->name short */
	bool name_cut = (strlen(hdr->name) != hdr->name_len);

	place.inner = (sieve_encrypt_field_is_inner(hdr->name) || name_cut);
	place.status = (mime->status_name != NULL && !name_cut &&
			strcasecmp(hdr->name, mime->status_name) == 0);
	return place;
}

static void
sieve_encrypt_mime_parse_line(struct sieve_encrypt_mime *mime,
			      struct message_header_line *hdr,
			      bool first_line)
{
	if (first_line)
		mime->crlf = hdr->crlf_newline;
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
	if (sieve_encrypt_line_is_malformed(hdr))
		mime->field_place.inner = TRUE;
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
	bool first_line = TRUE, encrypted;
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
		sieve_encrypt_mime_parse_line(mime, hdr, first_line);
		first_line = FALSE;
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

static bool
sieve_encrypt_run_is_outer(const struct sieve_encrypt_header_run *run)
{
	return (!run->place.inner && !run->place.status);
}

/* TRUE when the header's last field goes into the entity (inner) or the
   outer header (!inner), and lacks its newline (a message that ends
   inside its header) */
static bool
sieve_encrypt_mime_needs_newline(const struct sieve_encrypt_mime *mime,
				 bool inner)
{
	const struct sieve_encrypt_header_run *run;

	if (!mime->last_field_no_newline || array_count(&mime->runs) == 0)
		return FALSE;
	run = array_back(&mime->runs);
	return (inner ? run->place.inner : sieve_encrypt_run_is_outer(run));
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

/*
 * The entity to encrypt
 */

struct istream *
sieve_encrypt_mime_entity(const struct sieve_encrypt_mime *mime,
			  struct istream *input)
{
	const char *nl = sieve_encrypt_mime_newline(mime);
	const struct sieve_encrypt_header_run *run;
	ARRAY(struct istream *) streams;
	struct istream *entity, **stream;

	t_array_init(&streams, 8);
	array_foreach(&mime->runs, run) {
		if (!run->place.inner)
			continue;
		stream = array_append_space(&streams);
		*stream = i_stream_create_range(input, run->offset, run->size);
	}
	if (sieve_encrypt_mime_needs_newline(mime, TRUE)) {
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

void sieve_encrypt_mime_write_head(const struct sieve_encrypt_mime *mime,
				   struct istream *input,
				   struct ostream *output,
				   const char *boundary)
{
	const char *nl = sieve_encrypt_mime_newline(mime);
	const struct sieve_encrypt_header_run *run;
	string_t *str;

	str = t_str_new(512);
	sieve_encrypt_mime_status_field(mime, SIEVE_ENCRYPT_STATUS_ENCRYPTED,
					str);
	o_stream_nsend(output, str_data(str), str_len(str));
	array_foreach(&mime->runs, run) {
		if (sieve_encrypt_run_is_outer(run)) {
			sieve_encrypt_mime_copy_range(input, run->offset,
						      run->size, output);
		}
	}
	if (sieve_encrypt_mime_needs_newline(mime, FALSE))
		o_stream_nsend_str(output, nl);

	str_truncate(str, 0);
	if (!mime->has_mime_version)
		str_printfa(str, "MIME-Version: 1.0%s", nl);
	str_printfa(str,
		"Content-Type: multipart/encrypted;%s"
		" protocol=\"application/pgp-encrypted\";%s"
		" boundary=\"%s\"%s"
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
		nl, nl, boundary, nl, nl, nl, boundary, nl, nl, nl, nl, nl,
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
