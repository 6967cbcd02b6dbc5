/* Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
 */

#include "lib.h"
#include "base64.h"

#include "sieve-encrypt-cte.h"
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

enum packet_state {
	/* the first octet of a packet */
	PACKET_HEADER = 0,
	/* its length octets */
	PACKET_LENGTH,
	/* its content */
	PACKET_BODY,
	/* after the encrypted data: nothing may follow */
	PACKET_END
};

/* The packet sequence of the decoded armor */
struct pgp_packets {
	struct sieve_encrypt_sink sink;
	enum packet_state state;

	/* the current packet */
	bool new_format:1;
	bool encrypted_data:1;
	/* old format length type 3: the packet goes on to the end */
	bool indeterminate:1;
	/* a partial body length: another length follows this chunk */
	bool partial:1;
	unsigned char length[5];
	unsigned int length_have, length_need;
	uoff_t remaining;
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

/* The packet has been read to its end */
static void pgp_packet_body_done(struct pgp_packets *pkt)
{
	if (pkt->partial) {
		pkt->length_have = pkt->length_need = 0;
		pkt->state = PACKET_LENGTH;
	} else if (pkt->encrypted_data) {
		pkt->state = PACKET_END;
	} else {
		pkt->state = PACKET_HEADER;
	}
}

static bool pgp_packet_header(struct pgp_packets *pkt, unsigned char c)
{
	unsigned int tag;

	/* bit 7 is always set; bit 6 tells the format */
	if ((c & 0x80) == 0)
		return FALSE;
	pkt->new_format = (c & 0x40) != 0;
	tag = (pkt->new_format ? c & 0x3f : (c >> 2) & 0x0f);
	switch (tag) {
	case PGP_TAG_PKESK:
	case PGP_TAG_SKESK:
	case PGP_TAG_MARKER:
		pkt->encrypted_data = FALSE;
		break;
	case PGP_TAG_SED:
	case PGP_TAG_SEIPD:
	case PGP_TAG_OCB:
		pkt->encrypted_data = TRUE;
		break;
	default:
		return FALSE;
	}

	pkt->length_have = pkt->length_need = 0;
	pkt->state = PACKET_LENGTH;
	if (pkt->new_format)
		return TRUE;
	if ((c & 0x03) == 3) {
		/* only the encrypted data may go on to the end */
		pkt->indeterminate = TRUE;
		pkt->state = PACKET_BODY;
		return pkt->encrypted_data;
	}
	/* old format: 1, 2 or 4 length octets */
	pkt->length_need = 1U << (c & 0x03);
	return TRUE;
}

static uoff_t pgp_be_value(const unsigned char *data, unsigned int size)
{
	uoff_t value = 0;
	unsigned int i;

	for (i = 0; i < size; i++)
		value = (value << 8) | data[i];
	return value;
}

static bool pgp_packet_length_done(struct pgp_packets *pkt)
{
	const unsigned char *len = pkt->length;

	pkt->partial = FALSE;
	if (!pkt->new_format) {
		pkt->remaining = pgp_be_value(len, pkt->length_have);
	} else if (len[0] < 192) {
		pkt->remaining = len[0];
	} else if (len[0] < 224) {
		pkt->remaining = ((len[0] - 192) << 8) + len[1] + 192;
	} else if (len[0] == 255) {
		pkt->remaining = pgp_be_value(len + 1, 4);
	} else {
		/* partial body lengths are for data packets only */
		if (!pkt->encrypted_data)
			return FALSE;
		pkt->partial = TRUE;
		pkt->remaining = (uoff_t)1 << (len[0] & 0x1f);
	}
	pkt->state = PACKET_BODY;
	if (pkt->remaining == 0)
		pgp_packet_body_done(pkt);
	return TRUE;
}

static bool pgp_packet_length(struct pgp_packets *pkt, unsigned char c)
{
	if (pkt->length_have == 0 && pkt->new_format) {
		/* RFC 4880, section 4.2.2 */
		if (c < 192 || (c >= 224 && c < 255))
			pkt->length_need = 1;
		else if (c < 224)
			pkt->length_need = 2;
		else
			pkt->length_need = 5;
	}
	pkt->length[pkt->length_have++] = c;
	if (pkt->length_have < pkt->length_need)
		return TRUE;
	return pgp_packet_length_done(pkt);
}

static bool
pgp_packets_write(struct sieve_encrypt_sink *sink,
		  const unsigned char *data, size_t size)
{
	struct pgp_packets *pkt = (struct pgp_packets *)sink;
	size_t n;

	while (size > 0) {
		switch (pkt->state) {
		case PACKET_HEADER:
			if (!pgp_packet_header(pkt, *data))
				return FALSE;
			n = 1;
			break;
		case PACKET_LENGTH:
			if (!pgp_packet_length(pkt, *data))
				return FALSE;
			n = 1;
			break;
		case PACKET_BODY:
			if (pkt->indeterminate)
				return TRUE;
			n = I_MIN(pkt->remaining, size);
			pkt->remaining -= n;
			if (pkt->remaining == 0)
				pgp_packet_body_done(pkt);
			break;
		case PACKET_END:
			return FALSE;
		default:
			i_unreached();
		}
		data += n;
		size -= n;
	}
	return TRUE;
}

static bool pgp_packets_finish(struct sieve_encrypt_sink *sink)
{
	struct pgp_packets *pkt = (struct pgp_packets *)sink;

	return (pkt->state == PACKET_END ||
		(pkt->state == PACKET_BODY && pkt->indeterminate));
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
	check->base64 = sieve_encrypt_cte_decoder_create(
		SIEVE_ENCRYPT_CTE_BASE64, &check->packets.sink);
	return &check->sink;
}
