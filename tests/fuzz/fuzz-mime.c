/* Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
 */

/* libFuzzer target for the part of the plugin that reads untrusted input:
   the top-level header split, the "encrypted already?" decision and the
   PGP/MIME wrapper (sieve-encrypt-mime.c, sieve-encrypt-check*.c,
   sieve-encrypt-cte.c), and the ASCII armor of the ciphertext
   (sieve-encrypt-armor.c). Besides crashes and sanitizer reports it checks
   that no byte of the message is lost or duplicated: the kept header, the
   entity and the generated lines add up to the input plus at most the
   newlines the plugin adds; that each "encrypted already?" check, given
   the input as a body, answers the same whether it gets the data in one
   piece or in pieces; that the input with the status header field added
   (sieve_encrypt_mime_with_status()), marked once more, stays the same;
   that header protection only adds to the entity's header, and a legacy
   display element only to the entity; and the
   input, taken as ciphertext, comes back from its armor with a matching
   checksum. */

#include "lib.h"
#include "str.h"
#include "buffer.h"
#include "base64.h"
#include "istream.h"
#include "ostream.h"
#include "message-size.h"
#include "message-header-parser.h"

#include "sieve-encrypt-armor.h"
#include "sieve-encrypt-content.h"
#include "sieve-encrypt-sink.h"
#include "sieve-encrypt-check.h"
#include "sieve-encrypt-mime.h"

#include <stdint.h>

#define FUZZ_BOUNDARY "fuzz-boundary-6b1f0e"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc ATTR_UNUSED, char ***argv ATTR_UNUSED)
{
	lib_init();
	return 0;
}

static size_t read_size(struct istream *input)
{
	const unsigned char *data;
	size_t size, total = 0;

	while (i_stream_read_more(input, &data, &size) > 0) {
		total += size;
		i_stream_skip(input, size);
	}
	i_assert(input->stream_errno == 0);
	return total;
}

static size_t head_size(const struct sieve_encrypt_mime *mime,
			struct istream *input, size_t *generated_r)
{
	buffer_t *buf = t_buffer_create(1024);
	struct ostream *output = o_stream_create_buffer(buf);
	const unsigned char *p, *start = buf->data;
	const char *nl = sieve_encrypt_mime_uses_crlf(mime) ? "\r\n" : "\n";
	const char *ct = t_strdup_printf(
		"Content-Type: multipart/encrypted;%s"
		" protocol=\"application/pgp-encrypted\";%s"
		" boundary=\"%s\"%s", nl, nl, FUZZ_BOUNDARY, nl);
	const char *preamble = t_strdup_printf(
		"%sThis is an OpenPGP/MIME encrypted message "
		"(RFC 4880 and 3156)%s--%s%s", nl, nl, FUZZ_BOUNDARY, nl);
	size_t ct_len = strlen(ct), preamble_len = strlen(preamble);
	size_t pos = 0, preamble_pos = 0;

	sieve_encrypt_mime_write_head(mime, input, output, FUZZ_BOUNDARY);
	i_assert(o_stream_finish(output) > 0);
	o_stream_destroy(&output);

	/* The generated parts: the last Content-Type we wrote, and the
	   preamble from the last of its kind on; the original's lines that
	   are no field come between them */
	start = buf->data;
	for (p = start; p + ct_len <= start + buf->used; p++) {
		if (memcmp(p, ct, ct_len) == 0)
			pos = p - start;
	}
	i_assert(pos > 0 || memcmp(start, ct, ct_len) == 0);
	for (p = start + pos + ct_len;
	     p + preamble_len <= start + buf->used; p++) {
		if (memcmp(p, preamble, preamble_len) == 0)
			preamble_pos = p - start;
	}
	i_assert(preamble_pos >= pos + ct_len);
	*generated_r = ct_len + (buf->used - preamble_pos);
	return pos + (preamble_pos - (pos + ct_len));
}

/* Armor data in pieces whose size the first byte decides, then decode the
   armor line by line */
static void fuzz_armor(const uint8_t *data, size_t size)
{
	buffer_t *armored = t_buffer_create(size * 2 + 128);
	buffer_t *decoded = t_buffer_create(size + 3);
	struct ostream *output = o_stream_create_buffer(armored);
	struct sieve_encrypt_armor *armor;
	size_t piece = (size > 0 ? data[0] + 1 : 1), pos, n, len;
	bool crlf = (size > 0 && (data[0] & 1) != 0);
	const char *const *lines;
	unsigned int i, count;
	uint32_t crc;

	armor = sieve_encrypt_armor_begin(output, crlf);
	for (pos = 0; pos < size; pos += n) {
		n = I_MIN(piece, size - pos);
		sieve_encrypt_armor_write(armor, data + pos, n);
	}
	sieve_encrypt_armor_end(&armor);
	i_assert(o_stream_finish(output) > 0);
	o_stream_destroy(&output);

	lines = t_strsplit(t_strndup(armored->data, armored->used), "\r\n");
	count = str_array_length(lines);
	/* (t_strsplit makes an empty string of each CR LF's gap) */
	for (i = 0; i < count; i++) {
		len = strlen(lines[i]);
		if (len == 0 || lines[i][0] == '-')
			continue;
		if (lines[i][0] == '=') {
			i_assert(len == 5);
			i_assert(decoded->used == size &&
				 memcmp(decoded->data, data, size) == 0);
			buffer_set_used_size(decoded, 0);
			i_assert(base64_scheme_decode(&base64_scheme, 0,
						      lines[i] + 1, 4,
						      decoded) == 0);
			break;
		}
		i_assert(len <= 64);
		i_assert(base64_scheme_decode(&base64_scheme, 0, lines[i], len,
					      decoded) == 0);
	}
	i_assert(i < count && decoded->used == 3);
	crc = ((uint32_t)((const unsigned char *)decoded->data)[0] << 16) |
		((uint32_t)((const unsigned char *)decoded->data)[1] << 8) |
		((const unsigned char *)decoded->data)[2];
	i_assert(crc == sieve_encrypt_crc24(SIEVE_ENCRYPT_CRC24_INIT,
					    data, size));
}

/* The headers of the bodies each check is given */
static const struct sieve_encrypt_content fuzz_contents[] = {
	{ .type = "text/plain" },
	{ .type = "text/plain", .transfer_encoding = "base64" },
	{ .type = "text/plain", .transfer_encoding = "quoted-printable" },
	{ .type = "multipart/encrypted", .boundary = "b",
	  .protocol = "application/pgp-encrypted" },
	{ .type = "multipart/mixed", .boundary = "b" },
	{ .type = "application/pkcs7-mime" },
	{ .type = "application/pkcs7-mime", .transfer_encoding = "base64" },
};

static bool
fuzz_check_run(const struct sieve_encrypt_content *content,
	       const uint8_t *data, size_t size, size_t piece)
{
	struct sieve_encrypt_sink *check = sieve_encrypt_check_create(content);
	size_t pos, n;

	i_assert(check != NULL);
	for (pos = 0; pos < size; pos += n) {
		n = I_MIN(piece, size - pos);
		if (!sieve_encrypt_sink_write(check, data + pos, n))
			return FALSE;
	}
	return sieve_encrypt_sink_finish(check);
}

/* Each check answers the same for data in one piece and in pieces of a
   size the first byte decides (1 to 8) */
static void fuzz_checks(const uint8_t *data, size_t size)
{
	size_t piece = (size > 0 ? (data[0] & 7) + 1 : 1);
	unsigned int i;

	for (i = 0; i < N_ELEMENTS(fuzz_contents); i++) {
		i_assert(fuzz_check_run(&fuzz_contents[i], data, size,
					size + 1) ==
			 fuzz_check_run(&fuzz_contents[i], data, size, piece));
	}
}

static void fuzz_one(const uint8_t *data, size_t size)
{
	pool_t pool = pool_alloconly_create("fuzz mime", 1024);
	struct sieve_encrypt_mime *mime;
	struct istream *input, *entity;
	size_t entity_size, kept, generated;

	input = i_stream_create_from_data(data, size);
	i_assert(sieve_encrypt_mime_parse(pool, input, NULL, &mime) == 0);
	if (!sieve_encrypt_mime_is_encrypted(mime)) {
		entity = sieve_encrypt_mime_entity(mime, input);
		entity_size = read_size(entity);
		i_stream_unref(&entity);

		kept = head_size(mime, input, &generated);
		/* "MIME-Version: 1.0" may come before the generated
		   Content-Type; up to two newlines are added to complete a
		   header that ends without one */
		i_assert(kept + entity_size >= size);
		i_assert(kept + entity_size <=
			 size + strlen("MIME-Version: 1.0\r\n") + 2 * 2);
		i_assert(generated > 0);
	}
	i_stream_unref(&input);
	pool_unref(&pool);
}

static string_t *read_all(struct istream *input)
{
	const unsigned char *data;
	size_t size;
	string_t *str = t_str_new(256);

	while (i_stream_read_more(input, &data, &size) > 0) {
		str_append_data(str, data, size);
		i_stream_skip(input, size);
	}
	i_assert(input->stream_errno == 0);
	return str;
}

/* A legacy display element only adds: the entity with it is longer than
   without, and without it the same bytes */
static void
fuzz_legacy_display(struct sieve_encrypt_mime *mime, struct istream *input,
		    const string_t *protected)
{
	struct istream *entity;
	const char *reason;
	string_t *legacy;
	int ret;

	ret = sieve_encrypt_mime_legacy_display(mime, input, &reason);
	i_assert(ret >= 0);
	entity = sieve_encrypt_mime_entity(mime, input);
	legacy = read_all(entity);
	i_stream_unref(&entity);
	if (ret == 0)
		i_assert(str_equals(legacy, protected));
	else
		i_assert(str_len(legacy) > str_len(protected));
}

/* With header protection, the entity is the one without plus additions
   in its header: from its blank line on, the two are the same bytes */
static void fuzz_protect(const uint8_t *data, size_t size)
{
	pool_t pool = pool_alloconly_create("fuzz protect", 1024);
	struct sieve_encrypt_mime *mime;
	struct istream *input, *entity, *plain_input;
	struct message_header_parser_ctx *parser;
	struct message_header_line *hdr;
	struct message_size hdr_size;
	string_t *plain, *protected;
	size_t tail, generated;

	input = i_stream_create_from_data(data, size);
	i_assert(sieve_encrypt_mime_parse(pool, input, NULL, &mime) == 0);
	if (sieve_encrypt_mime_is_encrypted(mime)) {
		i_stream_unref(&input);
		pool_unref(&pool);
		return;
	}
	entity = sieve_encrypt_mime_entity(mime, input);
	plain = read_all(entity);
	i_stream_unref(&entity);
	sieve_encrypt_mime_protect_headers(mime, size > 0 && (data[0] & 1));
	entity = sieve_encrypt_mime_entity(mime, input);
	protected = read_all(entity);
	i_stream_unref(&entity);
	(void)head_size(mime, input, &generated);

	/* the unprotected entity's header, as a reader parses it */
	plain_input = i_stream_create_from_data(str_data(plain),
						str_len(plain));
	i_zero(&hdr_size);
	parser = message_parse_header_init(plain_input, &hdr_size, 0);
	while (message_parse_header_next(parser, &hdr) > 0) ;
	message_parse_header_deinit(&parser);
	i_stream_unref(&plain_input);

	i_assert(str_len(protected) > str_len(plain) ||
		 hdr_size.physical_size > 0);
	tail = str_len(plain) - hdr_size.physical_size;
	i_assert(str_len(protected) >= tail);
	i_assert(memcmp(str_data(plain) + hdr_size.physical_size,
			str_data(protected) + str_len(protected) - tail,
			tail) == 0);
	if (size > 0 && (data[0] & 3) == 3)
		fuzz_legacy_display(mime, input, protected);
	i_stream_unref(&input);
	pool_unref(&pool);
}

/* The message with the status header field, parsed and marked again, is
   the same: exactly one field of that name, where it goes */
static string_t *fuzz_with_status(const void *data, size_t size)
{
	pool_t pool = pool_alloconly_create("fuzz status", 1024);
	struct sieve_encrypt_mime *mime;
	struct istream *input, *marked;
	string_t *str;

	input = i_stream_create_from_data(data, size);
	i_assert(sieve_encrypt_mime_parse(pool, input, "X-Status",
					  &mime) == 0);
	marked = sieve_encrypt_mime_with_status(mime, input,
						SIEVE_ENCRYPT_STATUS_NO_KEY);
	str = read_all(marked);
	i_stream_unref(&marked);
	i_stream_unref(&input);
	pool_unref(&pool);
	return str;
}

/* (Without any LF the plugin's line ends are LF; a newline it adds after
   a final CR makes a CRLF, and the second run writes CRLF lines: the
   only input for which the two differ) */
static void fuzz_status(const uint8_t *data, size_t size)
{
	string_t *once, *twice;

	if (memchr(data, '\n', size) == NULL)
		return;
	once = fuzz_with_status(data, size);
	twice = fuzz_with_status(str_data(once), str_len(once));
	i_assert(str_equals(once, twice));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	T_BEGIN {
		fuzz_one(data, size);
	} T_END;
	T_BEGIN {
		fuzz_checks(data, size);
	} T_END;
	T_BEGIN {
		fuzz_armor(data, size);
	} T_END;
	T_BEGIN {
		fuzz_status(data, size);
	} T_END;
	T_BEGIN {
		fuzz_protect(data, size);
	} T_END;
	return 0;
}
