/* Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
 */

#include "lib.h"
#include "buffer.h"

#include "sieve-encrypt-sink.h"

void sieve_encrypt_lines_init(struct sieve_encrypt_lines *lines,
			      sieve_encrypt_line_callback_t *callback,
			      void *context)
{
	i_zero(lines);
	lines->callback = callback;
	lines->context = context;
	lines->partial = t_buffer_create(128);
}

/* Append data to the partial line; FALSE when the line gets too long */
static bool
sieve_encrypt_lines_append(struct sieve_encrypt_lines *lines,
			   const unsigned char *data, size_t size)
{
	if (lines->partial->used + size > SIEVE_ENCRYPT_LINE_MAX)
		return FALSE;
	buffer_append(lines->partial, data, size);
	return TRUE;
}

bool sieve_encrypt_lines_write(struct sieve_encrypt_lines *lines,
			       const unsigned char *data, size_t size)
{
	const unsigned char *end = data + size, *lf;
	size_t line_size;

	while (data < end) {
		lf = memchr(data, '\n', end - data);
		if (lf == NULL) {
			return sieve_encrypt_lines_append(lines, data,
							  end - data);
		}
		line_size = lf + 1 - data;
		if (lines->partial->used == 0) {
			/* the whole line is here: no copy */
			if (line_size > SIEVE_ENCRYPT_LINE_MAX ||
			    !lines->callback(lines->context, data, line_size))
				return FALSE;
		} else {
			if (!sieve_encrypt_lines_append(lines, data,
							line_size) ||
			    !lines->callback(lines->context,
					     lines->partial->data,
					     lines->partial->used))
				return FALSE;
			buffer_set_used_size(lines->partial, 0);
		}
		data += line_size;
	}
	return TRUE;
}

bool sieve_encrypt_lines_finish(struct sieve_encrypt_lines *lines)
{
	if (lines->partial->used == 0)
		return TRUE;
	return lines->callback(lines->context, lines->partial->data,
			       lines->partial->used);
}

size_t sieve_encrypt_line_content_size(const unsigned char *line,
				       size_t size)
{
	if (size > 0 && line[size - 1] == '\n') {
		size--;
		if (size > 0 && line[size - 1] == '\r')
			size--;
	}
	return size;
}

size_t sieve_encrypt_line_trimmed_size(const unsigned char *line,
				       size_t size)
{
	size = sieve_encrypt_line_content_size(line, size);
	while (size > 0 && (line[size - 1] == ' ' || line[size - 1] == '\t'))
		size--;
	return size;
}
