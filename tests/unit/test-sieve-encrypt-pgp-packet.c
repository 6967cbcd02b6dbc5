/* Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
 */

#include "lib.h"
#include "str.h"
#include "hex-binary.h"
#include "strnum.h"
#include "test-common.h"

#include "sieve-encrypt-pgp-packet.h"

/* The packet framing parser on its own: each input, in octets written as
   hex, is read in pieces of every size from 1 octet to all of it, and the
   events must be the same each time. They are written as a trace:

   H<tag><n|o>=<length>@<offset>  a header with a definite length, of
                                  the new or old format, at offset
   H<tag><n|o>~<length>@<offset>  a partial body length (first chunk)
   H<tag>o*@<offset>              an indeterminate length
   C=<length>, C~<length>         the length of the next chunk, after a
                                  partial one: definite, or partial
   B<size>[:<hex>]                body octets (up to the next event; the
                                  octets themselves when 16 or fewer)
   E                              the end of the packet
   X@<offset>                     no packet can begin at offset
   eof:between|end|truncated      where the input ended */

/* Octets in hex; spaces are ignored, and "*N" after an octet makes N of
   it in all */
static buffer_t *test_octets(const char *hex)
{
	buffer_t *buf = t_buffer_create(256);
	const char *p = hex, *count_end;
	unsigned int count;

	while (*p != '\0') {
		if (*p == ' ') {
			p++;
		} else if (*p == '*') {
			test_assert(buf->used > 0 &&
				    str_parse_uint(p + 1, &count,
						   &count_end) == 0);
			for (; count > 1; count--)
				buffer_append_buf(buf, buf, buf->used - 1, 1);
			p = count_end;
		} else {
			test_assert(p[1] != '\0' &&
				    hex_to_binary(t_strndup(p, 2), buf) == 0);
			p += 2;
		}
	}
	return buf;
}

static void test_trace_body(string_t *trace, buffer_t *body)
{
	if (body->used == 0)
		return;
	str_printfa(trace, " B%zu", body->used);
	if (body->used <= 16) {
		str_append_c(trace, ':');
		binary_to_hex_append(trace, body->data, body->used);
	}
	buffer_set_used_size(body, 0);
}

static void
test_trace_length(string_t *trace,
		  const struct sieve_encrypt_pgp_packet *packet)
{
	switch (packet->length_type) {
	case SIEVE_ENCRYPT_PGP_LENGTH_DEFINITE:
		str_printfa(trace, "=%"PRIuUOFF_T, packet->length);
		break;
	case SIEVE_ENCRYPT_PGP_LENGTH_PARTIAL:
		str_printfa(trace, "~%"PRIuUOFF_T, packet->length);
		break;
	case SIEVE_ENCRYPT_PGP_LENGTH_INDETERMINATE:
		str_append_c(trace, '*');
		break;
	}
}

static void
test_trace_header(string_t *trace,
		  const struct sieve_encrypt_pgp_packet *packet)
{
	str_printfa(trace, " H%u%c", packet->tag,
		    (packet->new_format ? 'n' : 'o'));
	test_trace_length(trace, packet);
	str_printfa(trace, "@%"PRIuUOFF_T, packet->offset);
}

struct test_reader {
	struct sieve_encrypt_pgp_packet_parser parser;
	const unsigned char *input;
	string_t *trace;
	buffer_t *body;
};

/* Read the piece [*data, end) to its end; FALSE after INVALID */
static bool
test_read_piece(struct test_reader *reader, const unsigned char *data,
		const unsigned char *end)
{
	struct sieve_encrypt_pgp_packet_parser *parser = &reader->parser;
	enum sieve_encrypt_pgp_packet_event event;
	const unsigned char *start;

	for (;;) {
		start = data;
		event = sieve_encrypt_pgp_packet_read(parser, &data, end);
		test_assert(parser->offset ==
			    (uoff_t)(data - reader->input));
		test_assert(event == SIEVE_ENCRYPT_PGP_PACKET_BODY ||
			    data - start <= 6);
		switch (event) {
		case SIEVE_ENCRYPT_PGP_PACKET_MORE:
			test_assert(data == end);
			return TRUE;
		case SIEVE_ENCRYPT_PGP_PACKET_HEADER:
			test_trace_body(reader->trace, reader->body);
			test_trace_header(reader->trace, &parser->packet);
			break;
		case SIEVE_ENCRYPT_PGP_PACKET_BODY:
			test_assert(data > start);
			buffer_append(reader->body, start, data - start);
			break;
		case SIEVE_ENCRYPT_PGP_PACKET_CHUNK:
			test_trace_body(reader->trace, reader->body);
			str_append(reader->trace, " C");
			test_trace_length(reader->trace, &parser->packet);
			break;
		case SIEVE_ENCRYPT_PGP_PACKET_END:
			test_trace_body(reader->trace, reader->body);
			str_append(reader->trace, " E");
			break;
		case SIEVE_ENCRYPT_PGP_PACKET_INVALID:
			test_trace_body(reader->trace, reader->body);
			str_printfa(reader->trace, " X@%"PRIuUOFF_T,
				    parser->offset);
			/* and nothing more is read */
			test_assert(sieve_encrypt_pgp_packet_read(
				parser, &data, end) == event);
			test_assert(data == start);
			return FALSE;
		}
	}
}

static const char *const test_eof_names[] = {
	[SIEVE_ENCRYPT_PGP_PACKET_EOF_BETWEEN] = "between",
	[SIEVE_ENCRYPT_PGP_PACKET_EOF_END] = "end",
	[SIEVE_ENCRYPT_PGP_PACKET_EOF_TRUNCATED] = "truncated",
};

/* The trace of reading the first size octets of input in pieces of
   piece_size octets */
static const char *
test_read(const buffer_t *input, size_t size, size_t piece_size)
{
	struct test_reader reader;
	size_t pos, piece_end;

	i_zero(&reader);
	sieve_encrypt_pgp_packet_parser_init(&reader.parser);
	reader.input = input->data;
	reader.trace = t_str_new(128);
	reader.body = t_buffer_create(128);
	for (pos = 0; pos < size; pos = piece_end) {
		piece_end = I_MIN(pos + piece_size, size);
		if (!test_read_piece(&reader, reader.input + pos,
				     reader.input + piece_end))
			return str_c(reader.trace) + 1;
	}
	test_trace_body(reader.trace, reader.body);
	str_printfa(reader.trace, " eof:%s", test_eof_names[
		sieve_encrypt_pgp_packet_eof(&reader.parser)]);
	return str_c(reader.trace) + 1;
}

static void
test_read_pieces(const char *hex, const char *expected, unsigned int idx)
{
	const buffer_t *input = test_octets(hex);
	size_t piece_size, max = I_MAX(input->used, 1);

	for (piece_size = 1; piece_size <= max; piece_size++) T_BEGIN {
		test_assert_strcmp_idx(test_read(input, input->used,
						 piece_size),
				       expected, idx * 100000 + piece_size);
	} T_END;
}

/*
 * Cases
 */

struct test_case {
	const char *hex;
	const char *trace;
};

static void
test_cases(const char *name, const struct test_case *cases,
	   unsigned int count)
{
	unsigned int i;

	test_begin(name);
	for (i = 0; i < count; i++)
		test_read_pieces(cases[i].hex, cases[i].trace, i);
	test_end();
}

static const struct test_case new_format_cases[] = {
	{ "", "eof:between" },
	/* one-octet lengths */
	{ "c103 010203", "H1n=3@0 B3:010203 E eof:between" },
	{ "c100", "H1n=0@0 E eof:between" },
	{ "d2bf ab*191", "H18n=191@0 B191 E eof:between" },
	/* two-octet lengths: ((1st - 192) << 8) + 2nd + 192 */
	{ "d2c000 ab*192", "H18n=192@0 B192 E eof:between" },
	{ "d2c101 ab*449", "H18n=449@0 B449 E eof:between" },
	{ "d2dfff ab*8383", "H18n=8383@0 B8383 E eof:between" },
	/* five-octet lengths */
	{ "d2ff00000003 010203", "H18n=3@0 B3:010203 E eof:between" },
	{ "d2ff00000000", "H18n=0@0 E eof:between" },
	{ "d2ff01020304 01", "H18n=16909060@0 B1:01 eof:truncated" },
	{ "d2ffffffffff 01",
	  "H18n=4294967295@0 B1:01 eof:truncated" },
	/* every tag */
	{ "c000 ff00 c400", "H0n=0@0 E H63n=0@2 E H4n=0@4 E eof:between" },
	/* a sequence: the offsets are the tag octets' */
	{ "c103 010203 c30104 d201 aa",
	  "H1n=3@0 B3:010203 E H3n=1@5 B1:04 E H18n=1@8 B1:aa E "
	  "eof:between" },
};

static const struct test_case partial_cases[] = {
	/* 2, then 4, then a final 1 */
	{ "d2e1 aabb e2 01020304 01 05",
	  "H18n~2@0 B2:aabb C~4 B4:01020304 C=1 B1:05 E eof:between" },
	/* a final chunk of 0, of two and of five octets */
	{ "d2e0 aa 00", "H18n~1@0 B1:aa C=0 E eof:between" },
	{ "d2e9 ab*512 c000 cd*192",
	  "H18n~512@0 B512 C=192 B192 E eof:between" },
	{ "d2e9 ab*512 ff00000002 cdef",
	  "H18n~512@0 B512 C=2 B2:cdef E eof:between" },
	/* partial after partial, of every size up to 1 KiB */
	{ "d4ea ab*1024 e9 ab*512 e8 ab*256 e7 ab*128 e6 ab*64 e5 ab*32 "
	  "e4 ab*16 e3 ab*8 e2 ab*4 e1 ab*2 e0 ab 00",
	  "H20n~1024@0 B1024 C~512 B512 C~256 B256 C~128 B128 C~64 B64 "
	  "C~32 B32 C~16 B16:abababababababababababababababab C~8 "
	  "B8:abababababababab C~4 B4:abababab C~2 B2:abab C~1 B1:ab C=0 E "
	  "eof:between" },
	/* 2^30 and 2^31 octets: the first octets of them */
	{ "d2fe 0102", "H18n~1073741824@0 B2:0102 eof:truncated" },
	{ "d2ff 80000000 01", "H18n=2147483648@0 B1:01 eof:truncated" },
	{ "cbfe", "H11n~1073741824@0 eof:truncated" },
	/* whatever the tag: what may have a partial length is the caller's
	   to decide */
	{ "c1e0 aa 01 bb c100",
	  "H1n~1@0 B1:aa C=1 B1:bb E H1n=0@5 E eof:between" },
	/* cut after a chunk, and in the next length */
	{ "d2e1 aabb", "H18n~2@0 B2:aabb eof:truncated" },
	{ "d2e1 aabb ff0000", "H18n~2@0 B2:aabb eof:truncated" },
	{ "d2e1 aabb e0", "H18n~2@0 B2:aabb C~1 eof:truncated" },
};

static const struct test_case old_format_cases[] = {
	/* length types 0, 1, 2: one, two and four octets */
	{ "8403 010203", "H1o=3@0 B3:010203 E eof:between" },
	{ "850003 010203", "H1o=3@0 B3:010203 E eof:between" },
	{ "850100 ab*256", "H1o=256@0 B256 E eof:between" },
	{ "8600000003 010203", "H1o=3@0 B3:010203 E eof:between" },
	{ "a600000100 ab*256", "H9o=256@0 B256 E eof:between" },
	{ "a601020304 01", "H9o=16909060@0 B1:01 eof:truncated" },
	{ "a400", "H9o=0@0 E eof:between" },
	{ "bc00 8000", "H15o=0@0 E H0o=0@2 E eof:between" },
	/* length type 3: to the end of the input */
	{ "a7 0102030405", "H9o*@0 B5:0102030405 eof:end" },
	{ "a7", "H9o*@0 eof:end" },
	{ "8403 010203 a3 c100 ff",
	  "H1o=3@0 B3:010203 E H8o*@5 B3:c100ff eof:end" },
	/* mixed with the new format */
	{ "8401 aa c101 bb 8501ff ab*511",
	  "H1o=1@0 B1:aa E H1n=1@3 B1:bb E H1o=511@6 B511 E eof:between" },
};

static const struct test_case invalid_cases[] = {
	/* bit 7 of a tag octet is always set */
	{ "00", "X@0" },
	{ "7f 8400", "X@0" },
	{ "2d2d2d2d2d", "X@0" },
	{ "c100 12", "H1n=0@0 E X@2" },
	{ "c102 aabb 41 c100", "H1n=2@0 B2:aabb E X@4" },
	{ "a402 0102 00", "H9o=2@0 B2:0102 E X@4" },
	/* where a tag octet ought to be, not inside a body */
	{ "c102 0012", "H1n=2@0 B2:0012 E eof:between" },
};

static void test_new_format(void)
{
	test_cases("pgp packet: new format lengths", new_format_cases,
		   N_ELEMENTS(new_format_cases));
}

static void test_partial(void)
{
	test_cases("pgp packet: partial body lengths", partial_cases,
		   N_ELEMENTS(partial_cases));
}

static void test_old_format(void)
{
	test_cases("pgp packet: old format lengths", old_format_cases,
		   N_ELEMENTS(old_format_cases));
}

static void test_invalid(void)
{
	test_cases("pgp packet: invalid tag octets", invalid_cases,
		   N_ELEMENTS(invalid_cases));
}

/*
 * Truncation
 */

/* Complete packets, each with the size of its header (tag octet and
   length octets) */
static const struct {
	const char *hex;
	unsigned int header_size;
} truncation_cases[] = {
	{ "c103 010203", 2 },
	{ "d2c000 ab*192", 3 },
	{ "d2ff00000003 010203", 6 },
	{ "d2e1 aabb ff00000001 cc", 2 },
	{ "d2e1 aabb c000 ab*192", 2 },
	{ "8403 010203", 2 },
	{ "850003 010203", 3 },
	{ "8600000003 010203", 5 },
};

static bool test_ends_with(const char *str, const char *suffix)
{
	size_t size = strlen(str), suffix_size = strlen(suffix);

	return (size >= suffix_size &&
		strcmp(str + size - suffix_size, suffix) == 0);
}

/* The input ended inside a packet: with a header read or not */
static void
test_truncated_trace(const char *trace, bool header, unsigned int idx)
{
	test_assert_idx(test_ends_with(trace, "eof:truncated"), idx);
	test_assert_idx(strstr(trace, " E ") == NULL, idx);
	test_assert_idx((trace[0] == 'H') == header, idx);
}

/* Cut at every octet, read octet by octet and in one piece, the input
   ends: before the first, between packets; inside the header, with no
   event; after it, inside the packet after its header */
static void
test_truncated_packet(const buffer_t *input, unsigned int header_size,
		      unsigned int idx)
{
	size_t size;

	test_assert_idx(test_ends_with(test_read(input, input->used, 1),
				       " E eof:between"), idx);
	test_assert_strcmp_idx(test_read(input, 0, 1), "eof:between", idx);
	for (size = 1; size < input->used; size++) T_BEGIN {
		test_truncated_trace(test_read(input, size, 1),
				     size >= header_size, idx * 1000 + size);
		test_truncated_trace(test_read(input, size, size),
				     size >= header_size, idx * 1000 + size);
	} T_END;
}

static void test_truncated(void)
{
	unsigned int i;

	test_begin("pgp packet: cut at every octet");
	for (i = 0; i < N_ELEMENTS(truncation_cases); i++) T_BEGIN {
		test_truncated_packet(test_octets(truncation_cases[i].hex),
				      truncation_cases[i].header_size, i);
	} T_END;
	test_end();
}

int main(void)
{
	static void (*const test_functions[])(void) = {
		test_new_format,
		test_partial,
		test_old_format,
		test_invalid,
		test_truncated,
		NULL
	};
	return test_run(test_functions);
}
