/* Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
 */

#include "lib.h"
#include "array.h"
#include "byteorder.h"
#include "strnum.h"

#include "sieve-encrypt-pgp-packet.h"
#include "sieve-encrypt-pgp-check.h"

/* Packet tags (RFC 4880 section 4.3; 20 is LibrePGP's OCB encrypted data,
   which gpg 2.3+ writes for keys that ask for AEAD) */
#define PGP_TAG_PKESK 1
#define PGP_TAG_SKESK 3
#define PGP_TAG_COMPRESSED 8
#define PGP_TAG_SED 9
#define PGP_TAG_LITERAL 11
#define PGP_TAG_SEIPD 18
#define PGP_TAG_AEAD 20

/* The packet versions that gpg 2.2 and 2.4 write, the only ones accepted:
   version 6 session keys and version 2 encrypted data (RFC 9580) are not
   written by them. */
#define PGP_PKESK_VERSION 3
#define PGP_SEIPD_VERSION 1
#define PGP_AEAD_VERSION 1

/* A version 3 session key packet starts with its version, the 8-octet key
   id of the (sub)key it is for (0: not said, an anonymous recipient) and
   the public-key algorithm */
#define PGP_PKESK_HEAD_SIZE 10

enum pgp_check_state {
	/* reading the session key packets and the encrypted data packet */
	PGP_CHECK_PACKETS = 0,
	/* the encrypted data packet ended: nothing may follow */
	PGP_CHECK_DONE,
	/* something was wrong; the rest is ignored */
	PGP_CHECK_FAILED,
};

struct pgp_check_recipient {
	const char *name;
	ARRAY(uint64_t) key_ids;
	/* the key id of the session key packet found for it */
	uint64_t used_key_id;
	bool used;
};

struct sieve_encrypt_pgp_check {
	pool_t pool;
	ARRAY(struct pgp_check_recipient) recipients;
	enum pgp_check_state state;
	const char *error;
	struct sieve_encrypt_pgp_packet_parser parser;
	unsigned int pkesk_count;

	/* the current packet's first body octets, and its size so far */
	unsigned char head[PGP_PKESK_HEAD_SIZE];
	uoff_t body_size;
};

struct sieve_encrypt_pgp_check *sieve_encrypt_pgp_check_create(void)
{
	struct sieve_encrypt_pgp_check *check;
	pool_t pool;

	pool = pool_alloconly_create("sieve_encrypt pgp check", 1024);
	check = p_new(pool, struct sieve_encrypt_pgp_check, 1);
	check->pool = pool;
	p_array_init(&check->recipients, pool, 4);
	sieve_encrypt_pgp_packet_parser_init(&check->parser);
	return check;
}

void sieve_encrypt_pgp_check_free(struct sieve_encrypt_pgp_check **_check)
{
	struct sieve_encrypt_pgp_check *check = *_check;

	if (check == NULL)
		return;
	*_check = NULL;
	pool_unref(&check->pool);
}

void sieve_encrypt_pgp_check_expect(struct sieve_encrypt_pgp_check *check,
				    const char *name,
				    const char *const *key_ids)
{
	struct pgp_check_recipient *recipient;
	uint64_t key_id;

	i_assert(check->parser.offset == 0);

	recipient = array_append_space(&check->recipients);
	recipient->name = p_strdup(check->pool, name);
	p_array_init(&recipient->key_ids, check->pool, 4);
	for (; *key_ids != NULL; key_ids++) {
		/* An id that is not one (never from gpgme) matches nothing */
		if (strlen(*key_ids) == 16 &&
		    str_to_uint64_hex(*key_ids, &key_id) == 0)
			array_push_back(&recipient->key_ids, &key_id);
	}
}

static void ATTR_FORMAT(2, 3)
pgp_check_fail(struct sieve_encrypt_pgp_check *check, const char *fmt, ...)
{
	va_list args;

	if (check->state == PGP_CHECK_FAILED)
		return;
	va_start(args, fmt);
	check->error = p_strdup_vprintf(check->pool, fmt, args);
	va_end(args);
	check->state = PGP_CHECK_FAILED;
}

static const char *pgp_key_id_str(uint64_t key_id)
{
	return t_strdup_printf("%016llX", (unsigned long long)key_id);
}

static const char *pgp_tag_name(unsigned int tag)
{
	switch (tag) {
	case PGP_TAG_SKESK:
		return "symmetric-key (passphrase) encrypted session key";
	case PGP_TAG_COMPRESSED:
		return "compressed data";
	case PGP_TAG_SED:
		return "encrypted data without integrity protection";
	case PGP_TAG_LITERAL:
		return "literal (unencrypted) data";
	}
	return "unexpected";
}

/*
 * Session keys
 */

static struct pgp_check_recipient *
pgp_check_find_recipient(struct sieve_encrypt_pgp_check *check,
			 uint64_t key_id, bool used)
{
	struct pgp_check_recipient *recipient;
	const uint64_t *id;

	array_foreach_modifiable(&check->recipients, recipient) {
		if (recipient->used != used)
			continue;
		array_foreach(&recipient->key_ids, id) {
			if (*id == key_id)
				return recipient;
		}
	}
	return NULL;
}

static void pgp_check_pkesk(struct sieve_encrypt_pgp_check *check)
{
	uoff_t offset = check->parser.packet.offset;
	struct pgp_check_recipient *recipient;
	uint64_t key_id;

	if (check->body_size < PGP_PKESK_HEAD_SIZE) {
		pgp_check_fail(check, "session key packet at offset %"PRIuUOFF_T
			       " is too short (%"PRIuUOFF_T" octets)",
			       offset, check->body_size);
		return;
	}
	if (check->head[0] != PGP_PKESK_VERSION) {
		pgp_check_fail(check, "session key packet at offset %"PRIuUOFF_T
			       " has version %u (only %u is accepted)",
			       offset, check->head[0],
			       PGP_PKESK_VERSION);
		return;
	}
	key_id = be64_to_cpu_unaligned(check->head + 1);
	if (key_id == 0) {
		pgp_check_fail(check, "session key packet for an anonymous "
			       "recipient (key id 0): whom it is for cannot "
			       "be checked");
		return;
	}
	recipient = pgp_check_find_recipient(check, key_id, FALSE);
	if (recipient != NULL) {
		recipient->used = TRUE;
		recipient->used_key_id = key_id;
		check->pkesk_count++;
		return;
	}
	recipient = pgp_check_find_recipient(check, key_id, TRUE);
	if (recipient != NULL) {
		pgp_check_fail(check, "a second session key packet for "
			       "key %s (subkey %s)", recipient->name,
			       pgp_key_id_str(key_id));
	} else {
		pgp_check_fail(check, "session key packet for key id %s, "
			       "which is no encryption subkey of the "
			       "requested keys", pgp_key_id_str(key_id));
	}
}

/*
 * Packets
 */

/* The packet's header is read */
static void pgp_check_packet_begin(struct sieve_encrypt_pgp_check *check)
{
	const struct sieve_encrypt_pgp_packet *packet = &check->parser.packet;

	check->body_size = 0;
	switch (packet->tag) {
	case PGP_TAG_PKESK:
		/* Partial body lengths are for data packets only */
		if (packet->length_type == SIEVE_ENCRYPT_PGP_LENGTH_PARTIAL) {
			pgp_check_fail(check, "session key packet at offset "
				       "%"PRIuUOFF_T" has a partial body "
				       "length", packet->offset);
		}
		return;
	case PGP_TAG_SEIPD:
	case PGP_TAG_AEAD:
		if (check->pkesk_count == 0) {
			pgp_check_fail(check, "encrypted data at offset "
				       "%"PRIuUOFF_T" follows no session key "
				       "packet", packet->offset);
		}
		return;
	}
	pgp_check_fail(check, "%s packet (tag %u) at offset %"PRIuUOFF_T
		       " where a session key or encrypted data packet "
		       "belongs", pgp_tag_name(packet->tag), packet->tag,
		       packet->offset);
}

static void
pgp_check_body(struct sieve_encrypt_pgp_check *check,
	       const unsigned char *data, size_t size)
{
	size_t head_left;

	if (check->body_size < sizeof(check->head)) {
		head_left = sizeof(check->head) - check->body_size;
		memcpy(check->head + check->body_size, data,
		       I_MIN(size, head_left));
	}
	check->body_size += size;
}

static void
pgp_check_data_version(struct sieve_encrypt_pgp_check *check,
		       unsigned int version)
{
	if (check->body_size == 0 || check->head[0] != version) {
		pgp_check_fail(check, "encrypted data packet (tag %u) has "
			       "version %u (only %u is accepted)",
			       check->parser.packet.tag,
			       (check->body_size == 0 ? 0 : check->head[0]),
			       version);
	}
}

/* The packet's last body octet is read */
static void pgp_check_packet_end(struct sieve_encrypt_pgp_check *check)
{
	switch (check->parser.packet.tag) {
	case PGP_TAG_PKESK:
		pgp_check_pkesk(check);
		break;
	case PGP_TAG_SEIPD:
		check->state = PGP_CHECK_DONE;
		pgp_check_data_version(check, PGP_SEIPD_VERSION);
		break;
	case PGP_TAG_AEAD:
		check->state = PGP_CHECK_DONE;
		pgp_check_data_version(check, PGP_AEAD_VERSION);
		break;
	default:
		i_unreached();
	}
}

static void
pgp_check_invalid(struct sieve_encrypt_pgp_check *check, unsigned char octet)
{
	uoff_t offset = check->parser.offset;

	if (offset == 0 && octet == '-') {
		pgp_check_fail(check, "the output is ASCII armor, "
			       "not binary OpenPGP");
	} else {
		pgp_check_fail(check, "no OpenPGP packet at offset "
			       "%"PRIuUOFF_T" (octet 0x%02x)", offset, octet);
	}
}

/* Read up to the parser's next event; FALSE when all of data is read */
static bool
pgp_check_packets(struct sieve_encrypt_pgp_check *check,
		  const unsigned char **data, const unsigned char *end)
{
	const unsigned char *start = *data;

	switch (sieve_encrypt_pgp_packet_read(&check->parser, data, end)) {
	case SIEVE_ENCRYPT_PGP_PACKET_MORE:
		return FALSE;
	case SIEVE_ENCRYPT_PGP_PACKET_HEADER:
		pgp_check_packet_begin(check);
		break;
	case SIEVE_ENCRYPT_PGP_PACKET_BODY:
		pgp_check_body(check, start, *data - start);
		break;
	case SIEVE_ENCRYPT_PGP_PACKET_CHUNK:
		break;
	case SIEVE_ENCRYPT_PGP_PACKET_END:
		pgp_check_packet_end(check);
		break;
	case SIEVE_ENCRYPT_PGP_PACKET_INVALID:
		pgp_check_invalid(check, **data);
		break;
	}
	return TRUE;
}

void sieve_encrypt_pgp_check_feed(struct sieve_encrypt_pgp_check *check,
				  const void *data, size_t size)
{
	const unsigned char *p = data, *end = p + size;

	while (check->state == PGP_CHECK_PACKETS) {
		if (!pgp_check_packets(check, &p, end))
			return;
	}
	if (check->state == PGP_CHECK_DONE && p < end) {
		pgp_check_fail(check, "data follows the encrypted data packet "
			       "(at offset %"PRIuUOFF_T")",
			       check->parser.offset);
	}
}

/* The output ended while reading packets */
static void pgp_check_packets_end(struct sieve_encrypt_pgp_check *check)
{
	const struct sieve_encrypt_pgp_packet *packet = &check->parser.packet;

	switch (sieve_encrypt_pgp_packet_eof(&check->parser)) {
	case SIEVE_ENCRYPT_PGP_PACKET_EOF_BETWEEN:
		break;
	case SIEVE_ENCRYPT_PGP_PACKET_EOF_END:
		pgp_check_packet_end(check);
		break;
	case SIEVE_ENCRYPT_PGP_PACKET_EOF_TRUNCATED:
		pgp_check_fail(check, "the output is truncated: it ends "
			       "inside the packet (tag %u) at offset "
			       "%"PRIuUOFF_T, packet->tag, packet->offset);
		return;
	}
	if (check->state != PGP_CHECK_PACKETS)
		return;
	if (check->parser.offset == 0)
		pgp_check_fail(check, "gpg wrote nothing");
	else {
		pgp_check_fail(check, "the output ends without an "
			       "encrypted data packet");
	}
}

static void pgp_check_end_of_output(struct sieve_encrypt_pgp_check *check)
{
	const struct pgp_check_recipient *recipient;

	if (check->state == PGP_CHECK_PACKETS)
		pgp_check_packets_end(check);
	if (check->state != PGP_CHECK_DONE)
		return;
	array_foreach(&check->recipients, recipient) {
		if (!recipient->used) {
			pgp_check_fail(check, "no session key packet for "
				       "key %s", recipient->name);
			return;
		}
	}
}

int sieve_encrypt_pgp_check_finish(struct sieve_encrypt_pgp_check *check,
				   const char **error_r)
{
	pgp_check_end_of_output(check);
	if (check->state == PGP_CHECK_FAILED) {
		*error_r = check->error;
		return -1;
	}
	return 0;
}

const char *
sieve_encrypt_pgp_check_used_key_id(const struct sieve_encrypt_pgp_check *check,
				    unsigned int idx)
{
	const struct pgp_check_recipient *recipient;

	i_assert(check->state == PGP_CHECK_DONE);
	recipient = array_idx(&check->recipients, idx);
	i_assert(recipient->used);
	return pgp_key_id_str(recipient->used_key_id);
}
