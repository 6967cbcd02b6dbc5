/* Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
 */

#include "lib.h"
#include "buffer.h"

#include "sieve-encrypt-content.h"
#include "sieve-encrypt-cte.h"
#include "sieve-encrypt-check-pgp.h"
#include "sieve-encrypt-check-pgpmime.h"

#define PGPMIME_VERSION_LINE "Version: 1"

enum pgpmime_state {
	PGPMIME_PREAMBLE = 0,
	PGPMIME_PART_HEADER,
	PGPMIME_PART_BODY,
	PGPMIME_EPILOGUE
};

enum pgpmime_delimiter {
	PGPMIME_DELIMITER_NONE = 0,
	PGPMIME_DELIMITER_PART,
	PGPMIME_DELIMITER_CLOSE
};

/* A body part that the shape expects: its Content-Type and the check of
   its decoded content */
struct pgpmime_part_def {
	const char *type;
	struct sieve_encrypt_sink *(*content_check_create)(void);
};

struct pgpmime_check {
	struct sieve_encrypt_sink sink;
	struct sieve_encrypt_lines lines;
	const char *boundary;
	size_t boundary_len;
	const struct pgpmime_part_def *parts;
	unsigned int part_count;

	enum pgpmime_state state;
	/* the body part: 1 .. part_count */
	unsigned int part;
	size_t preamble_size;
	buffer_t *part_header;
	/* the check of the current part's content */
	struct sieve_encrypt_sink *part_body;
};

/* The first part's content: "Version: 1" */
struct pgpmime_version {
	struct sieve_encrypt_sink sink;
	struct sieve_encrypt_lines lines;
	unsigned int count;
};

/*
 * The version part
 */

static bool
pgpmime_version_line(void *context, const unsigned char *line, size_t size)
{
	struct pgpmime_version *version = context;
	size_t len = sieve_encrypt_line_trimmed_size(line, size);

	if (len == 0)
		return TRUE;
	if (len != strlen(PGPMIME_VERSION_LINE) ||
	    memcmp(line, PGPMIME_VERSION_LINE, len) != 0)
		return FALSE;
	return (++version->count == 1);
}

static bool
pgpmime_version_write(struct sieve_encrypt_sink *sink,
		      const unsigned char *data, size_t size)
{
	struct pgpmime_version *version = (struct pgpmime_version *)sink;

	return sieve_encrypt_lines_write(&version->lines, data, size);
}

static bool pgpmime_version_finish(struct sieve_encrypt_sink *sink)
{
	struct pgpmime_version *version = (struct pgpmime_version *)sink;

	return (sieve_encrypt_lines_finish(&version->lines) &&
		version->count == 1);
}

static struct sieve_encrypt_sink *pgpmime_version_create(void)
{
	struct pgpmime_version *version = t_new(struct pgpmime_version, 1);

	version->sink.write = pgpmime_version_write;
	version->sink.finish = pgpmime_version_finish;
	sieve_encrypt_lines_init(&version->lines, pgpmime_version_line,
				 version);
	return &version->sink;
}

/*
 * The empty text/plain part of the mixed-up shape: white space only
 */

struct pgpmime_empty {
	struct sieve_encrypt_sink sink;
	struct sieve_encrypt_lines lines;
};

static bool
pgpmime_empty_line(void *context ATTR_UNUSED, const unsigned char *line,
		   size_t size)
{
	return (sieve_encrypt_line_trimmed_size(line, size) == 0);
}

static bool
pgpmime_empty_write(struct sieve_encrypt_sink *sink,
		    const unsigned char *data, size_t size)
{
	struct pgpmime_empty *empty = (struct pgpmime_empty *)sink;

	return sieve_encrypt_lines_write(&empty->lines, data, size);
}

static bool pgpmime_empty_finish(struct sieve_encrypt_sink *sink)
{
	struct pgpmime_empty *empty = (struct pgpmime_empty *)sink;

	return sieve_encrypt_lines_finish(&empty->lines);
}

static struct sieve_encrypt_sink *pgpmime_empty_create(void)
{
	struct pgpmime_empty *empty = t_new(struct pgpmime_empty, 1);

	empty->sink.write = pgpmime_empty_write;
	empty->sink.finish = pgpmime_empty_finish;
	sieve_encrypt_lines_init(&empty->lines, pgpmime_empty_line, empty);
	return &empty->sink;
}

/*
 * The shapes
 */

static const struct pgpmime_part_def pgpmime_parts[] = {
	{ "application/pgp-encrypted", pgpmime_version_create },
	{ "application/octet-stream", sieve_encrypt_inline_pgp_check_create },
};

static const struct pgpmime_part_def pgpmime_mixed_up_parts[] = {
	{ "text/plain", pgpmime_empty_create },
	{ "application/pgp-encrypted", pgpmime_version_create },
	{ "application/octet-stream", sieve_encrypt_inline_pgp_check_create },
};

/*
 * The multipart structure
 */

static enum pgpmime_delimiter
pgpmime_delimiter(const struct pgpmime_check *check,
		  const unsigned char *line, size_t size)
{
	size_t len = sieve_encrypt_line_trimmed_size(line, size);
	size_t blen = check->boundary_len;

	if (len < 2 + blen || line[0] != '-' || line[1] != '-' ||
	    memcmp(line + 2, check->boundary, blen) != 0)
		return PGPMIME_DELIMITER_NONE;
	if (len == 2 + blen)
		return PGPMIME_DELIMITER_PART;
	if (len == 4 + blen && line[2 + blen] == '-' && line[3 + blen] == '-')
		return PGPMIME_DELIMITER_CLOSE;
	return PGPMIME_DELIMITER_NONE;
}

static bool pgpmime_next_part(struct pgpmime_check *check)
{
	check->part++;
	buffer_set_used_size(check->part_header, 0);
	check->state = PGPMIME_PART_HEADER;
	return TRUE;
}

/* The part's header is complete: set up the check of its content */
static bool pgpmime_part_begin(struct pgpmime_check *check)
{
	const struct pgpmime_part_def *def = &check->parts[check->part - 1];
	struct sieve_encrypt_content content;
	enum sieve_encrypt_cte cte;
	struct sieve_encrypt_sink *content_check;

	sieve_encrypt_content_parse_header(check->part_header->data,
					   check->part_header->used,
					   &content);
	cte = sieve_encrypt_cte_from_name(content.transfer_encoding);
	if (content.type == NULL || cte == SIEVE_ENCRYPT_CTE_UNKNOWN ||
	    strcasecmp(content.type, def->type) != 0)
		return FALSE;

	content_check = def->content_check_create();
	check->part_body = sieve_encrypt_cte_decoder_create(cte,
							    content_check);
	check->state = PGPMIME_PART_BODY;
	return TRUE;
}

static bool
pgpmime_part_header_line(struct pgpmime_check *check,
			 const unsigned char *line, size_t size)
{
	if (check->part_header->used + size >
	    SIEVE_ENCRYPT_PGPMIME_MAX_PART_HEADER)
		return FALSE;
	buffer_append(check->part_header, line, size);
	if (sieve_encrypt_line_content_size(line, size) > 0)
		return TRUE;
	return pgpmime_part_begin(check);
}

static bool
pgpmime_part_end(struct pgpmime_check *check,
		 enum pgpmime_delimiter delimiter)
{
	if (!sieve_encrypt_sink_finish(check->part_body))
		return FALSE;
	if (check->part < check->part_count &&
	    delimiter == PGPMIME_DELIMITER_PART)
		return pgpmime_next_part(check);
	if (check->part == check->part_count &&
	    delimiter == PGPMIME_DELIMITER_CLOSE) {
		check->state = PGPMIME_EPILOGUE;
		return TRUE;
	}
	return FALSE;
}

static bool
pgpmime_check_line(void *context, const unsigned char *line, size_t size)
{
	struct pgpmime_check *check = context;
	enum pgpmime_delimiter delimiter =
		pgpmime_delimiter(check, line, size);

	switch (check->state) {
	case PGPMIME_PREAMBLE:
		if (delimiter == PGPMIME_DELIMITER_PART)
			return pgpmime_next_part(check);
		check->preamble_size += size;
		return (delimiter == PGPMIME_DELIMITER_NONE &&
			check->preamble_size <=
				SIEVE_ENCRYPT_PGPMIME_MAX_PREAMBLE);
	case PGPMIME_PART_HEADER:
		return (delimiter == PGPMIME_DELIMITER_NONE &&
			pgpmime_part_header_line(check, line, size));
	case PGPMIME_PART_BODY:
		if (delimiter != PGPMIME_DELIMITER_NONE)
			return pgpmime_part_end(check, delimiter);
		return sieve_encrypt_sink_write(check->part_body, line, size);
	case PGPMIME_EPILOGUE:
		return (sieve_encrypt_line_trimmed_size(line, size) == 0);
	}
	i_unreached();
}

static bool
pgpmime_check_write(struct sieve_encrypt_sink *sink,
		    const unsigned char *data, size_t size)
{
	struct pgpmime_check *check = (struct pgpmime_check *)sink;

	return sieve_encrypt_lines_write(&check->lines, data, size);
}

static bool pgpmime_check_finish(struct sieve_encrypt_sink *sink)
{
	struct pgpmime_check *check = (struct pgpmime_check *)sink;

	return (sieve_encrypt_lines_finish(&check->lines) &&
		check->state == PGPMIME_EPILOGUE);
}

static struct sieve_encrypt_sink *
pgpmime_check_create(const char *boundary,
		     const struct pgpmime_part_def *parts,
		     unsigned int part_count)
{
	struct pgpmime_check *check = t_new(struct pgpmime_check, 1);

	check->parts = parts;
	check->part_count = part_count;
	check->sink.write = pgpmime_check_write;
	check->sink.finish = pgpmime_check_finish;
	sieve_encrypt_lines_init(&check->lines, pgpmime_check_line, check);
	check->boundary = t_strdup(boundary);
	check->boundary_len = strlen(boundary);
	check->part_header = t_buffer_create(256);
	return &check->sink;
}

struct sieve_encrypt_sink *
sieve_encrypt_pgpmime_check_create(const char *boundary)
{
	return pgpmime_check_create(boundary, pgpmime_parts,
				    N_ELEMENTS(pgpmime_parts));
}

struct sieve_encrypt_sink *
sieve_encrypt_pgpmime_mixed_up_check_create(const char *boundary)
{
	return pgpmime_check_create(boundary, pgpmime_mixed_up_parts,
				    N_ELEMENTS(pgpmime_mixed_up_parts));
}
