/* Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
 */

#ifndef SIEVE_ENCRYPT_PGP_PACKET_H
#define SIEVE_ENCRYPT_PGP_PACKET_H

/* Reads the framing of a sequence of OpenPGP packets (RFC 9580, section
   4.2: old- and new-format headers, one-, two- and five-octet lengths,
   partial body lengths, the old format's indeterminate length) from input
   that comes in pieces of any size, one event at a time, in constant
   memory. Which packets may come, and what their bodies must hold, is for
   the caller to decide. */

enum sieve_encrypt_pgp_packet_event {
	/* all of the input is read: give more */
	SIEVE_ENCRYPT_PGP_PACKET_MORE = 0,
	/* a packet's tag octet and its (first) length are read: see
	   parser->packet */
	SIEVE_ENCRYPT_PGP_PACKET_HEADER,
	/* the octets read in this step, and only they, are of the packet's
	   body */
	SIEVE_ENCRYPT_PGP_PACKET_BODY,
	/* after a chunk with a partial length: the next chunk's length is
	   read (parser->packet has it) */
	SIEVE_ENCRYPT_PGP_PACKET_CHUNK,
	/* the packet's body has ended (it has a definite length) */
	SIEVE_ENCRYPT_PGP_PACKET_END,
	/* the next octet (not read) can begin no packet: bit 7 of a tag
	   octet is always set. Nothing more is read. */
	SIEVE_ENCRYPT_PGP_PACKET_INVALID,
};

enum sieve_encrypt_pgp_length_type {
	/* length is the body's (after partial lengths, its last chunk's) */
	SIEVE_ENCRYPT_PGP_LENGTH_DEFINITE = 0,
	/* new format: length is that of a chunk of the body, and another
	   length follows it; the last chunk's length is a definite one */
	SIEVE_ENCRYPT_PGP_LENGTH_PARTIAL,
	/* old format length type 3: the body runs to the end of the input */
	SIEVE_ENCRYPT_PGP_LENGTH_INDETERMINATE,
};

/* Where the input ended */
enum sieve_encrypt_pgp_packet_eof {
	/* before a packet's tag octet (or before anything) */
	SIEVE_ENCRYPT_PGP_PACKET_EOF_BETWEEN = 0,
	/* in the body of a packet of indeterminate length: it ends here */
	SIEVE_ENCRYPT_PGP_PACKET_EOF_END,
	/* inside a packet's header or body */
	SIEVE_ENCRYPT_PGP_PACKET_EOF_TRUNCATED,
};

struct sieve_encrypt_pgp_packet {
	/* the offset of its tag octet in the input */
	uoff_t offset;
	unsigned int tag;
	bool new_format;
	/* the body's length, from the HEADER event on; with partial
	   lengths, the current chunk's */
	enum sieve_encrypt_pgp_length_type length_type;
	uoff_t length;
};

enum sieve_encrypt_pgp_packet_state {
	SIEVE_ENCRYPT_PGP_PACKET_STATE_TAG = 0,
	SIEVE_ENCRYPT_PGP_PACKET_STATE_LENGTH,
	/* the length of a chunk after a partial one */
	SIEVE_ENCRYPT_PGP_PACKET_STATE_CHUNK_LENGTH,
	SIEVE_ENCRYPT_PGP_PACKET_STATE_BODY,
	SIEVE_ENCRYPT_PGP_PACKET_STATE_INVALID,
};

struct sieve_encrypt_pgp_packet_parser {
	/* the current packet, from its tag octet on */
	struct sieve_encrypt_pgp_packet packet;
	/* the offset of the next octet in the input */
	uoff_t offset;

	/* the rest is the parser's own */
	enum sieve_encrypt_pgp_packet_state state;
	unsigned char length[5];
	unsigned int length_have, length_need;
	/* octets left in the body, or in its current chunk */
	uoff_t chunk_left;
};

void sieve_encrypt_pgp_packet_parser_init(
	struct sieve_encrypt_pgp_packet_parser *parser);

/* Read the input from *data up to end until the next event, and move
   *data past what was read. Call again, with the rest of the input or the
   next piece of it, until it returns MORE. With BODY, the body octets are
   the ones between *data before the call and *data after it; the other
   events come after reading header octets, or none. */
enum sieve_encrypt_pgp_packet_event
sieve_encrypt_pgp_packet_read(struct sieve_encrypt_pgp_packet_parser *parser,
			      const unsigned char **data,
			      const unsigned char *end);

/* After all of the input (and not after INVALID) */
enum sieve_encrypt_pgp_packet_eof
sieve_encrypt_pgp_packet_eof(
	const struct sieve_encrypt_pgp_packet_parser *parser);

#endif
