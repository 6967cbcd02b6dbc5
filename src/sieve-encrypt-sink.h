/* Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
 */

#ifndef SIEVE_ENCRYPT_SINK_H
#define SIEVE_ENCRYPT_SINK_H

/* The checks that decide whether a message is encrypted already read its
   body once, front to back, and keep no more of it than a line: each check
   is a sink that is given the data in pieces of any size, and a decoder is
   a sink that passes what it decodes on to the next one. The answer must
   not depend on how the data is cut into pieces. */
struct sieve_encrypt_sink {
	/* Take size more bytes. FALSE as soon as the data cannot be
	   accepted anymore; nothing more may be written then. */
	bool (*write)(struct sieve_encrypt_sink *sink,
		      const unsigned char *data, size_t size);
	/* The data is complete: TRUE when all of it is accepted. Called at
	   most once, and only when every write returned TRUE. */
	bool (*finish)(struct sieve_encrypt_sink *sink);
};

static inline bool
sieve_encrypt_sink_write(struct sieve_encrypt_sink *sink,
			 const void *data, size_t size)
{
	return sink->write(sink, data, size);
}

static inline bool sieve_encrypt_sink_finish(struct sieve_encrypt_sink *sink)
{
	return sink->finish(sink);
}

/*
 * Lines
 */

/* The longest line the checks accept, its newline included (RFC 5322,
   section 2.1.1: 998 characters and CRLF). A longer line is never part of
   an encrypted message's armor or MIME structure. */
#define SIEVE_ENCRYPT_LINE_MAX 1000

/* Called with each line, its LF (or CRLF) included; the last line of the
   data may have none. Returns FALSE to stop. */
typedef bool
sieve_encrypt_line_callback_t(void *context, const unsigned char *line,
			      size_t size);

/* Cuts data written in pieces into lines. A line ends at LF; a CR is an
   ordinary byte unless it comes right before the LF. */
struct sieve_encrypt_lines {
	sieve_encrypt_line_callback_t *callback;
	void *context;
	/* the start of a line that continues in the next piece */
	buffer_t *partial;
};

/* The buffer comes from the data stack */
void sieve_encrypt_lines_init(struct sieve_encrypt_lines *lines,
			      sieve_encrypt_line_callback_t *callback,
			      void *context);
/* FALSE when the callback returned FALSE or a line is longer than
   SIEVE_ENCRYPT_LINE_MAX */
bool sieve_encrypt_lines_write(struct sieve_encrypt_lines *lines,
			       const unsigned char *data, size_t size);
/* Pass on the last line when it has no newline */
bool sieve_encrypt_lines_finish(struct sieve_encrypt_lines *lines);

/* The size of line without its LF or CRLF */
size_t sieve_encrypt_line_content_size(const unsigned char *line,
				       size_t size);
/* The size of line without its newline and the spaces and tabs before it */
size_t sieve_encrypt_line_trimmed_size(const unsigned char *line,
				       size_t size);

#endif
