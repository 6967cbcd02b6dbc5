/* Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
 */

#include "lib.h"

#include "sieve-encrypt-pgp-packet.h"

void sieve_encrypt_pgp_packet_parser_init(
	struct sieve_encrypt_pgp_packet_parser *parser)
{
	i_zero(parser);
}

static enum sieve_encrypt_pgp_packet_event
pgp_packet_tag(struct sieve_encrypt_pgp_packet_parser *parser,
	       unsigned char octet)
{
	struct sieve_encrypt_pgp_packet *packet = &parser->packet;

	if ((octet & 0x80) == 0) {
		parser->state = SIEVE_ENCRYPT_PGP_PACKET_STATE_INVALID;
		return SIEVE_ENCRYPT_PGP_PACKET_INVALID;
	}
	i_zero(packet);
	packet->offset = parser->offset;
	/* bit 6 tells the format */
	packet->new_format = (octet & 0x40) != 0;
	parser->length_have = 0;
	parser->state = SIEVE_ENCRYPT_PGP_PACKET_STATE_LENGTH;
	if (packet->new_format) {
		packet->tag = octet & 0x3f;
		/* known after the first length octet */
		parser->length_need = 1;
		return SIEVE_ENCRYPT_PGP_PACKET_MORE;
	}
	packet->tag = (octet >> 2) & 0x0f;
	if ((octet & 0x03) == 3) {
		packet->length_type = SIEVE_ENCRYPT_PGP_LENGTH_INDETERMINATE;
		parser->state = SIEVE_ENCRYPT_PGP_PACKET_STATE_BODY;
		return SIEVE_ENCRYPT_PGP_PACKET_HEADER;
	}
	/* 1, 2 or 4 length octets */
	parser->length_need = 1U << (octet & 0x03);
	return SIEVE_ENCRYPT_PGP_PACKET_MORE;
}

/* The number of length octets of a new-format length that begins with
   octet (RFC 9580, section 4.2.1) */
static unsigned int pgp_new_length_size(unsigned char octet)
{
	if (octet < 192 || (octet >= 224 && octet < 255))
		return 1;
	return (octet < 224 ? 2 : 5);
}

static uoff_t pgp_be_value(const unsigned char *data, unsigned int size)
{
	uoff_t value = 0;
	unsigned int i;

	for (i = 0; i < size; i++)
		value = (value << 8) | data[i];
	return value;
}

static void
pgp_packet_length_parse(struct sieve_encrypt_pgp_packet_parser *parser)
{
	struct sieve_encrypt_pgp_packet *packet = &parser->packet;
	const unsigned char *len = parser->length;

	packet->length_type = SIEVE_ENCRYPT_PGP_LENGTH_DEFINITE;
	if (!packet->new_format) {
		packet->length = pgp_be_value(len, parser->length_need);
	} else if (len[0] < 192) {
		packet->length = len[0];
	} else if (len[0] < 224) {
		packet->length = ((len[0] - 192) << 8) + len[1] + 192;
	} else if (len[0] < 255) {
		packet->length = (uoff_t)1 << (len[0] & 0x1f);
		packet->length_type = SIEVE_ENCRYPT_PGP_LENGTH_PARTIAL;
	} else {
		packet->length = pgp_be_value(len + 1, 4);
	}
	parser->chunk_left = packet->length;
}

static enum sieve_encrypt_pgp_packet_event
pgp_packet_length(struct sieve_encrypt_pgp_packet_parser *parser,
		  unsigned char octet)
{
	bool first = (parser->state == SIEVE_ENCRYPT_PGP_PACKET_STATE_LENGTH);

	parser->length[parser->length_have++] = octet;
	if (parser->packet.new_format && parser->length_have == 1)
		parser->length_need = pgp_new_length_size(octet);
	if (parser->length_have < parser->length_need)
		return SIEVE_ENCRYPT_PGP_PACKET_MORE;

	pgp_packet_length_parse(parser);
	parser->state = SIEVE_ENCRYPT_PGP_PACKET_STATE_BODY;
	return (first ? SIEVE_ENCRYPT_PGP_PACKET_HEADER :
		SIEVE_ENCRYPT_PGP_PACKET_CHUNK);
}

/* The current chunk of the body is read */
static enum sieve_encrypt_pgp_packet_event
pgp_packet_chunk_end(struct sieve_encrypt_pgp_packet_parser *parser)
{
	enum sieve_encrypt_pgp_length_type type = parser->packet.length_type;

	if (type != SIEVE_ENCRYPT_PGP_LENGTH_PARTIAL) {
		parser->state = SIEVE_ENCRYPT_PGP_PACKET_STATE_TAG;
		return SIEVE_ENCRYPT_PGP_PACKET_END;
	}
	parser->state = SIEVE_ENCRYPT_PGP_PACKET_STATE_CHUNK_LENGTH;
	parser->length_have = 0;
	parser->length_need = 1;
	return SIEVE_ENCRYPT_PGP_PACKET_MORE;
}

static bool
pgp_packet_chunk_read(const struct sieve_encrypt_pgp_packet_parser *parser)
{
	return (parser->chunk_left == 0 &&
		parser->packet.length_type !=
		SIEVE_ENCRYPT_PGP_LENGTH_INDETERMINATE);
}

static enum sieve_encrypt_pgp_packet_event
pgp_packet_body(struct sieve_encrypt_pgp_packet_parser *parser,
		const unsigned char **data, const unsigned char *end)
{
	size_t size = end - *data;

	if (parser->packet.length_type !=
	    SIEVE_ENCRYPT_PGP_LENGTH_INDETERMINATE) {
		size = I_MIN(size, parser->chunk_left);
		parser->chunk_left -= size;
	}
	if (size == 0)
		return SIEVE_ENCRYPT_PGP_PACKET_MORE;
	*data += size;
	parser->offset += size;
	return SIEVE_ENCRYPT_PGP_PACKET_BODY;
}

/* The next event from a tag or length octet */
static enum sieve_encrypt_pgp_packet_event
pgp_packet_header_octet(struct sieve_encrypt_pgp_packet_parser *parser,
			const unsigned char **data)
{
	enum sieve_encrypt_pgp_packet_event event;

	if (parser->state == SIEVE_ENCRYPT_PGP_PACKET_STATE_TAG)
		event = pgp_packet_tag(parser, **data);
	else
		event = pgp_packet_length(parser, **data);
	if (event != SIEVE_ENCRYPT_PGP_PACKET_INVALID) {
		(*data)++;
		parser->offset++;
	}
	return event;
}

enum sieve_encrypt_pgp_packet_event
sieve_encrypt_pgp_packet_read(struct sieve_encrypt_pgp_packet_parser *parser,
			      const unsigned char **data,
			      const unsigned char *end)
{
	enum sieve_encrypt_pgp_packet_event event;

	for (;;) {
		switch (parser->state) {
		case SIEVE_ENCRYPT_PGP_PACKET_STATE_TAG:
		case SIEVE_ENCRYPT_PGP_PACKET_STATE_LENGTH:
		case SIEVE_ENCRYPT_PGP_PACKET_STATE_CHUNK_LENGTH:
			if (*data == end)
				return SIEVE_ENCRYPT_PGP_PACKET_MORE;
			event = pgp_packet_header_octet(parser, data);
			break;
		case SIEVE_ENCRYPT_PGP_PACKET_STATE_BODY:
			if (!pgp_packet_chunk_read(parser))
				return pgp_packet_body(parser, data, end);
			event = pgp_packet_chunk_end(parser);
			break;
		case SIEVE_ENCRYPT_PGP_PACKET_STATE_INVALID:
			return SIEVE_ENCRYPT_PGP_PACKET_INVALID;
		}
		if (event != SIEVE_ENCRYPT_PGP_PACKET_MORE)
			return event;
	}
}

enum sieve_encrypt_pgp_packet_eof
sieve_encrypt_pgp_packet_eof(
	const struct sieve_encrypt_pgp_packet_parser *parser)
{
	switch (parser->state) {
	case SIEVE_ENCRYPT_PGP_PACKET_STATE_TAG:
		return SIEVE_ENCRYPT_PGP_PACKET_EOF_BETWEEN;
	case SIEVE_ENCRYPT_PGP_PACKET_STATE_BODY:
		if (parser->packet.length_type ==
		    SIEVE_ENCRYPT_PGP_LENGTH_INDETERMINATE)
			return SIEVE_ENCRYPT_PGP_PACKET_EOF_END;
		/* fall through */
	case SIEVE_ENCRYPT_PGP_PACKET_STATE_LENGTH:
	case SIEVE_ENCRYPT_PGP_PACKET_STATE_CHUNK_LENGTH:
		return SIEVE_ENCRYPT_PGP_PACKET_EOF_TRUNCATED;
	case SIEVE_ENCRYPT_PGP_PACKET_STATE_INVALID:
		break;
	}
	i_unreached();
}
