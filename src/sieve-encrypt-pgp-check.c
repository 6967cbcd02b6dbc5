/* Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
 */

#include "lib.h"
#include "array.h"
#include "byteorder.h"
#include "strnum.h"

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
	/* expecting a packet's first octet (its tag) */
	PGP_CHECK_TAG,
	/* reading a body length: the packet's, or its next chunk's */
	PGP_CHECK_LENGTH,
	/* inside a chunk of a packet body */
	PGP_CHECK_BODY,
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
	/* of the octet being read, and of the current packet's tag */
	uoff_t offset, packet_offset;
	unsigned int tag, pkesk_count;
	bool new_format;

	/* the length octets read so far, and how many there are */
	unsigned char length[5];
	unsigned int length_have, length_need;

	/* octets left in the current body chunk; a partial body length
	   (another chunk follows); an old-format indeterminate length (the
	   body runs to the end of the output) */
	uoff_t chunk_left;
	bool partial, indeterminate;
	/* the packet's length octets are read: its body has begun */
	bool body_begun;
	/* the body's first octets, and its size so far */
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

	i_assert(check->offset == 0);

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
	struct pgp_check_recipient *recipient;
	uint64_t key_id;

	if (check->body_size < PGP_PKESK_HEAD_SIZE) {
		pgp_check_fail(check, "session key packet at offset %"PRIuUOFF_T
			       " is too short (%"PRIuUOFF_T" octets)",
			       check->packet_offset, check->body_size);
		return;
	}
	if (check->head[0] != PGP_PKESK_VERSION) {
		pgp_check_fail(check, "session key packet at offset %"PRIuUOFF_T
			       " has version %u (only %u is accepted)",
			       check->packet_offset, check->head[0],
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

/* The packet's length octets are read */
static void pgp_check_packet_begin(struct sieve_encrypt_pgp_check *check)
{
	check->body_begun = TRUE;
	check->body_size = 0;
	switch (check->tag) {
	case PGP_TAG_PKESK:
		/* Partial body lengths are for data packets only */
		if (check->partial) {
			pgp_check_fail(check, "session key packet at offset "
				       "%"PRIuUOFF_T" has a partial body "
				       "length", check->packet_offset);
		}
		return;
	case PGP_TAG_SEIPD:
	case PGP_TAG_AEAD:
		if (check->pkesk_count == 0) {
			pgp_check_fail(check, "encrypted data at offset "
				       "%"PRIuUOFF_T" follows no session key "
				       "packet", check->packet_offset);
		}
		return;
	}
	pgp_check_fail(check, "%s packet (tag %u) at offset %"PRIuUOFF_T
		       " where a session key or encrypted data packet "
		       "belongs", pgp_tag_name(check->tag), check->tag,
		       check->packet_offset);
}

static void
pgp_check_data_version(struct sieve_encrypt_pgp_check *check,
		       unsigned int version)
{
	if (check->body_size == 0 || check->head[0] != version) {
		pgp_check_fail(check, "encrypted data packet (tag %u) has "
			       "version %u (only %u is accepted)", check->tag,
			       (check->body_size == 0 ? 0 : check->head[0]),
			       version);
	}
}

/* The packet's last body octet is read */
static void pgp_check_packet_end(struct sieve_encrypt_pgp_check *check)
{
	check->body_begun = FALSE;
	switch (check->tag) {
	case PGP_TAG_PKESK:
		check->state = PGP_CHECK_TAG;
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

static void pgp_check_chunk_end(struct sieve_encrypt_pgp_check *check)
{
	if (check->partial) {
		check->state = PGP_CHECK_LENGTH;
		check->length_have = 0;
		check->length_need = 1;
	} else {
		pgp_check_packet_end(check);
	}
}

/* The length octets of a new-format header that begins with octet */
static unsigned int pgp_new_length_size(unsigned char octet)
{
	if (octet < 192 || (octet >= 224 && octet < 255))
		return 1;
	return (octet < 224 ? 2 : 5);
}

static void pgp_check_length_parse(struct sieve_encrypt_pgp_check *check)
{
	const unsigned char *l = check->length;

	check->partial = FALSE;
	if (!check->new_format) {
		check->chunk_left = (check->length_need == 1 ? l[0] :
				     check->length_need == 2 ?
				     be16_to_cpu_unaligned(l) :
				     be32_to_cpu_unaligned(l));
	} else if (l[0] < 192) {
		check->chunk_left = l[0];
	} else if (l[0] < 224) {
		check->chunk_left = ((l[0] - 192) << 8) + l[1] + 192;
	} else if (l[0] < 255) {
		check->chunk_left = (uoff_t)1 << (l[0] & 0x1f);
		check->partial = TRUE;
	} else {
		check->chunk_left = be32_to_cpu_unaligned(l + 1);
	}
}

static void
pgp_check_length_octet(struct sieve_encrypt_pgp_check *check,
		       unsigned char octet)
{
	check->length[check->length_have++] = octet;
	if (check->new_format && check->length_have == 1)
		check->length_need = pgp_new_length_size(octet);
	if (check->length_have < check->length_need)
		return;

	pgp_check_length_parse(check);
	check->state = PGP_CHECK_BODY;
	if (!check->body_begun)
		pgp_check_packet_begin(check);
	if (check->state == PGP_CHECK_BODY && check->chunk_left == 0)
		pgp_check_chunk_end(check);
}

static void
pgp_check_tag_octet(struct sieve_encrypt_pgp_check *check, unsigned char octet)
{
	check->packet_offset = check->offset;
	if ((octet & 0x80) == 0) {
		if (check->offset == 0 && octet == '-') {
			pgp_check_fail(check, "the output is ASCII armor, "
				       "not binary OpenPGP");
		} else {
			pgp_check_fail(check, "no OpenPGP packet at offset "
				       "%"PRIuUOFF_T" (octet 0x%02x)",
				       check->offset, octet);
		}
		return;
	}
	check->new_format = (octet & 0x40) != 0;
	check->indeterminate = FALSE;
	check->length_have = 0;
	check->state = PGP_CHECK_LENGTH;
	if (check->new_format) {
		check->tag = octet & 0x3f;
		/* known after the first length octet */
		check->length_need = 1;
		return;
	}
	check->tag = (octet >> 2) & 0x0f;
	switch (octet & 0x03) {
	case 0:
		check->length_need = 1;
		break;
	case 1:
		check->length_need = 2;
		break;
	case 2:
		check->length_need = 4;
		break;
	default:
		check->indeterminate = TRUE;
		check->partial = FALSE;
		check->state = PGP_CHECK_BODY;
		pgp_check_packet_begin(check);
		break;
	}
}

/* Returns how much of data belongs to the current body chunk */
static size_t
pgp_check_body(struct sieve_encrypt_pgp_check *check,
	       const unsigned char *data, size_t size)
{
	size_t head_left;

	if (!check->indeterminate && size > check->chunk_left)
		size = check->chunk_left;
	if (check->body_size < sizeof(check->head)) {
		head_left = sizeof(check->head) - check->body_size;
		memcpy(check->head + check->body_size, data,
		       I_MIN(size, head_left));
	}
	check->body_size += size;
	if (!check->indeterminate) {
		check->chunk_left -= size;
		if (check->chunk_left == 0)
			pgp_check_chunk_end(check);
	}
	return size;
}

void sieve_encrypt_pgp_check_feed(struct sieve_encrypt_pgp_check *check,
				  const void *data, size_t size)
{
	const unsigned char *p = data, *end = p + size;
	size_t n;

	while (p < end) {
		switch (check->state) {
		case PGP_CHECK_BODY:
			n = pgp_check_body(check, p, end - p);
			p += n;
			check->offset += n;
			continue;
		case PGP_CHECK_TAG:
			pgp_check_tag_octet(check, *p);
			break;
		case PGP_CHECK_LENGTH:
			pgp_check_length_octet(check, *p);
			break;
		case PGP_CHECK_DONE:
			pgp_check_fail(check, "data follows the encrypted "
				       "data packet (at offset %"PRIuUOFF_T")",
				       check->offset);
			return;
		case PGP_CHECK_FAILED:
			return;
		}
		p++;
		check->offset++;
	}
}

static void pgp_check_end_of_output(struct sieve_encrypt_pgp_check *check)
{
	const struct pgp_check_recipient *recipient;

	if (check->state == PGP_CHECK_BODY && check->indeterminate)
		pgp_check_packet_end(check);

	switch (check->state) {
	case PGP_CHECK_TAG:
		if (check->offset == 0)
			pgp_check_fail(check, "gpg wrote nothing");
		else {
			pgp_check_fail(check, "the output ends without an "
				       "encrypted data packet");
		}
		return;
	case PGP_CHECK_LENGTH:
	case PGP_CHECK_BODY:
		pgp_check_fail(check, "the output is truncated: it ends "
			       "inside the packet (tag %u) at offset "
			       "%"PRIuUOFF_T, check->tag,
			       check->packet_offset);
		return;
	case PGP_CHECK_DONE:
		break;
	case PGP_CHECK_FAILED:
		return;
	}
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
