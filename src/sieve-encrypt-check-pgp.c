/* Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
 */

#include "lib.h"
#include "base64.h"

#include "sieve-encrypt-cte.h"
#include "sieve-encrypt-pgp-packet.h"
#include "sieve-encrypt-check-pgp.h"

#define ARMOR_BEGIN "-----BEGIN PGP MESSAGE-----"
#define ARMOR_END "-----END PGP MESSAGE-----"

/* The packet tags of an encrypted message (RFC 4880, section 4.3; RFC
   9580, section 5; tag 20 is the OCB encrypted data of GnuPG 2.3 and
   later, LibrePGP) */
enum pgp_tag {
	PGP_TAG_PKESK = 1,
	PGP_TAG_SKESK = 3,
	PGP_TAG_SED = 9,
	PGP_TAG_MARKER = 10,
	PGP_TAG_SEIPD = 18,
	PGP_TAG_OCB = 20
};

/* The packet sequence of the decoded armor */
struct pgp_packets {
	struct sieve_encrypt_sink sink;
	struct sieve_encrypt_pgp_packet_parser parser;
	/* the encrypted data has ended: nothing may follow */
	bool ended;
};

enum armor_state {
	/* white space before the armor */
	ARMOR_BEFORE = 0,
	/* armor headers up to the empty line */
	ARMOR_HEADERS,
	/* the first base64 line */
	ARMOR_FIRST_DATA,
	/* base64 lines, the checksum or the tail line */
	ARMOR_DATA,
	/* after the checksum: the tail line */
	ARMOR_CHECKSUM,
	/* white space after the armor */
	ARMOR_AFTER
};

struct pgp_check {
	struct sieve_encrypt_sink sink;
	struct sieve_encrypt_lines lines;
	enum armor_state state;
	size_t headers_size;

	/* the base64 lines go to the decoder, and from there to packets */
	struct sieve_encrypt_sink *base64;
	struct pgp_packets packets;
};

static const char *const pgp_armor_keys[] = {
	"Version", "Comment", "MessageID", "Hash", "Charset"
};

/*
 * Packets
 */

static bool pgp_tag_is_encrypted_data(unsigned int tag)
{
	return (tag == PGP_TAG_SED || tag == PGP_TAG_SEIPD ||
		tag == PGP_TAG_OCB);
}

static bool
pgp_packet_header_valid(const struct sieve_encrypt_pgp_packet *packet)
{
	if (pgp_tag_is_encrypted_data(packet->tag))
		return TRUE;
	switch (packet->tag) {
	case PGP_TAG_PKESK:
	case PGP_TAG_SKESK:
	case PGP_TAG_MARKER:
		/* partial and indeterminate lengths are for the encrypted
		   data only */
		return (packet->length_type ==
			SIEVE_ENCRYPT_PGP_LENGTH_DEFINITE);
	}
	return FALSE;
}

static bool
pgp_packets_write(struct sieve_encrypt_sink *sink,
		  const unsigned char *data, size_t size)
{
	struct pgp_packets *pkt = (struct pgp_packets *)sink;
	const unsigned char *end = data + size;

	for (;;) {
		if (pkt->ended && data < end)
			return FALSE;
		switch (sieve_encrypt_pgp_packet_read(&pkt->parser,
						      &data, end)) {
		case SIEVE_ENCRYPT_PGP_PACKET_MORE:
			return TRUE;
		case SIEVE_ENCRYPT_PGP_PACKET_HEADER:
			if (!pgp_packet_header_valid(&pkt->parser.packet))
				return FALSE;
			break;
		case SIEVE_ENCRYPT_PGP_PACKET_BODY:
		case SIEVE_ENCRYPT_PGP_PACKET_CHUNK:
			break;
		case SIEVE_ENCRYPT_PGP_PACKET_END:
			pkt->ended = pgp_tag_is_encrypted_data(
				pkt->parser.packet.tag);
			break;
		case SIEVE_ENCRYPT_PGP_PACKET_INVALID:
			return FALSE;
		}
	}
}

static bool pgp_packets_finish(struct sieve_encrypt_sink *sink)
{
	struct pgp_packets *pkt = (struct pgp_packets *)sink;

	switch (sieve_encrypt_pgp_packet_eof(&pkt->parser)) {
	case SIEVE_ENCRYPT_PGP_PACKET_EOF_BETWEEN:
		return pkt->ended;
	case SIEVE_ENCRYPT_PGP_PACKET_EOF_END:
		/* only the encrypted data may go on to the end */
		return TRUE;
	case SIEVE_ENCRYPT_PGP_PACKET_EOF_TRUNCATED:
		break;
	}
	return FALSE;
}

/*
 * Armor
 */

static bool
pgp_line_is(const unsigned char *line, size_t size, const char *text)
{
	return (size == strlen(text) && memcmp(line, text, size) == 0);
}

static bool pgp_armor_header_valid(const unsigned char *line, size_t size)
{
	const unsigned char *colon = memchr(line, ':', size);
	size_t key_size;
	unsigned int i;

	if (colon == NULL)
		return FALSE;
	/* "Key:" alone, or "Key: value" */
	key_size = colon - line;
	if (key_size + 1 < size && colon[1] != ' ')
		return FALSE;
	for (i = 0; i < N_ELEMENTS(pgp_armor_keys); i++) {
		if (pgp_line_is(line, key_size, pgp_armor_keys[i]))
			return TRUE;
	}
	return FALSE;
}

static bool pgp_is_base64(const unsigned char *data, size_t size)
{
	size_t i;

	for (i = 0; i < size; i++) {
		if (base64_scheme.decmap[data[i]] == 0xff)
			return FALSE;
	}
	return TRUE;
}

static bool
pgp_check_data_line(struct pgp_check *check,
		    const unsigned char *line, size_t size)
{
	size_t chars = size;

	if (size == 0 || size > SIEVE_ENCRYPT_PGP_MAX_DATA_LINE)
		return FALSE;
	/* the decoder sees to the padding */
	while (chars > 0 && line[chars - 1] == '=')
		chars--;
	return (pgp_is_base64(line, chars) &&
		sieve_encrypt_sink_write(check->base64, line, size));
}

static bool pgp_checksum_valid(const unsigned char *line, size_t size)
{
	return (size == 5 && line[0] == '=' && pgp_is_base64(line + 1, 4));
}

static bool pgp_check_tail(struct pgp_check *check)
{
	check->state = ARMOR_AFTER;
	return sieve_encrypt_sink_finish(check->base64);
}

static bool
pgp_check_line(void *context, const unsigned char *line, size_t size)
{
	struct pgp_check *check = context;
	size_t len = sieve_encrypt_line_trimmed_size(line, size);

	switch (check->state) {
	case ARMOR_BEFORE:
		if (len == 0)
			return TRUE;
		check->state = ARMOR_HEADERS;
		return pgp_line_is(line, len, ARMOR_BEGIN);
	case ARMOR_HEADERS:
		if (len == 0) {
			check->state = ARMOR_FIRST_DATA;
			return TRUE;
		}
		check->headers_size += size;
		return (check->headers_size <=
				SIEVE_ENCRYPT_PGP_MAX_ARMOR_HEADERS &&
			pgp_armor_header_valid(line, len));
	case ARMOR_FIRST_DATA:
		check->state = ARMOR_DATA;
		return pgp_check_data_line(check, line, len);
	case ARMOR_DATA:
		if (pgp_line_is(line, len, ARMOR_END))
			return pgp_check_tail(check);
		if (len > 0 && line[0] == '=') {
			check->state = ARMOR_CHECKSUM;
			return pgp_checksum_valid(line, len);
		}
		return pgp_check_data_line(check, line, len);
	case ARMOR_CHECKSUM:
		return (pgp_line_is(line, len, ARMOR_END) &&
			pgp_check_tail(check));
	case ARMOR_AFTER:
		return (len == 0);
	}
	i_unreached();
}

static bool
pgp_check_write(struct sieve_encrypt_sink *sink,
		const unsigned char *data, size_t size)
{
	struct pgp_check *check = (struct pgp_check *)sink;

	return sieve_encrypt_lines_write(&check->lines, data, size);
}

static bool pgp_check_finish(struct sieve_encrypt_sink *sink)
{
	struct pgp_check *check = (struct pgp_check *)sink;

	return (sieve_encrypt_lines_finish(&check->lines) &&
		check->state == ARMOR_AFTER);
}

struct sieve_encrypt_sink *sieve_encrypt_inline_pgp_check_create(void)
{
	struct pgp_check *check = t_new(struct pgp_check, 1);

	check->sink.write = pgp_check_write;
	check->sink.finish = pgp_check_finish;
	sieve_encrypt_lines_init(&check->lines, pgp_check_line, check);
	check->packets.sink.write = pgp_packets_write;
	check->packets.sink.finish = pgp_packets_finish;
	sieve_encrypt_pgp_packet_parser_init(&check->packets.parser);
	check->base64 = sieve_encrypt_cte_decoder_create(
		SIEVE_ENCRYPT_CTE_BASE64, &check->packets.sink);
	return &check->sink;
}
