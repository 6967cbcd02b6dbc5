/* Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
 */

#include "lib.h"
#include "buffer.h"
#include "base64.h"
#include "ostream.h"

#include "sieve-encrypt-armor.h"

#define ARMOR_BEGIN "-----BEGIN PGP MESSAGE-----"
#define ARMOR_END "-----END PGP MESSAGE-----"
/* 48 bytes are the 64 characters per line that gpg writes */
#define ARMOR_LINE_BYTES 48
#define ARMOR_LINE_CHARS 64
/* The encoded lines are passed to the output in pieces of about this size */
#define ARMOR_FLUSH_SIZE (64 * 1024)

/* The CRC-24 is computed as a 32-bit CRC whose low byte stays zero (the
   polynomial shifted left by 8), eight bytes at a time ("slicing-by-8"):
   byte by byte, it cost more than the rest of the armor. */
#define CRC24_POLY32 (0x864cfbU << 8)

struct sieve_encrypt_armor {
	struct ostream *output;
	const char *eol;
	size_t eol_len;

	uint32_t crc;
	/* the bytes of a line that is not complete yet */
	unsigned char line[ARMOR_LINE_BYTES];
	size_t line_len;
	/* encoded lines not yet sent */
	buffer_t *encoded;
};

static uint32_t crc24_tables[8][256];
/* The two base64 characters of each 12-bit value */
static char base64_pairs[4096][2];
static bool armor_tables_initialized = FALSE;

static void crc24_init_tables(void)
{
	unsigned int i, k, bit;
	uint32_t crc;

	for (i = 0; i < 256; i++) {
		crc = i << 24;
		for (bit = 0; bit < 8; bit++) {
			crc = ((crc & 0x80000000U) != 0 ?
			       (crc << 1) ^ CRC24_POLY32 : crc << 1);
		}
		crc24_tables[0][i] = crc;
	}
	for (k = 1; k < N_ELEMENTS(crc24_tables); k++) {
		for (i = 0; i < 256; i++) {
			crc = crc24_tables[k - 1][i];
			crc24_tables[k][i] =
				(crc << 8) ^ crc24_tables[0][crc >> 24];
		}
	}
}

static void base64_init_pairs(void)
{
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	unsigned int i;

	for (i = 0; i < N_ELEMENTS(base64_pairs); i++) {
		base64_pairs[i][0] = b64[i >> 6];
		base64_pairs[i][1] = b64[i & 0x3f];
	}
}

/* Called by the entry points that use the tables, not per line */
static void armor_init_tables(void)
{
	if (armor_tables_initialized)
		return;
	crc24_init_tables();
	base64_init_pairs();
	armor_tables_initialized = TRUE;
}

static inline uint32_t crc24_be32(const unsigned char *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
		((uint32_t)p[2] << 8) | p[3];
}

uint32_t sieve_encrypt_crc24(uint32_t crc24, const void *data, size_t size)
{
	const uint32_t (*t)[256] = crc24_tables;
	const unsigned char *p = data;
	uint32_t crc = crc24 << 8, one, two;

	armor_init_tables();
	for (; size >= 8; p += 8, size -= 8) {
		one = crc ^ crc24_be32(p);
		two = crc24_be32(p + 4);
		crc = t[7][one >> 24] ^ t[6][(one >> 16) & 0xff] ^
			t[5][(one >> 8) & 0xff] ^ t[4][one & 0xff] ^
			t[3][two >> 24] ^ t[2][(two >> 16) & 0xff] ^
			t[1][(two >> 8) & 0xff] ^ t[0][two & 0xff];
	}
	for (; size > 0; p++, size--)
		crc = (crc << 8) ^ t[0][(crc >> 24) ^ *p];
	return crc >> 8;
}

struct sieve_encrypt_armor *
sieve_encrypt_armor_begin(struct ostream *output, bool crlf)
{
	struct sieve_encrypt_armor *armor;

	armor_init_tables();
	armor = i_new(struct sieve_encrypt_armor, 1);
	armor->output = output;
	armor->eol = (crlf ? "\r\n" : "\n");
	armor->eol_len = strlen(armor->eol);
	armor->crc = SIEVE_ENCRYPT_CRC24_INIT;
	armor->encoded = buffer_create_dynamic(default_pool,
					       ARMOR_FLUSH_SIZE + 128);

	o_stream_nsend_str(output, ARMOR_BEGIN);
	o_stream_nsend(output, armor->eol, armor->eol_len);
	o_stream_nsend(output, armor->eol, armor->eol_len);
	return armor;
}

static void sieve_encrypt_armor_flush(struct sieve_encrypt_armor *armor)
{
	o_stream_nsend(armor->output, armor->encoded->data,
		       armor->encoded->used);
	buffer_set_used_size(armor->encoded, 0);
}

/* One full line: 48 bytes into 64 characters, two characters (12 bits) at
   a time from a table. Dovecot's base64_encode() (a general encoder, with
   line length and padding options) cost four times as much per byte, more
   than the rest of the armor together. */
static void
sieve_encrypt_armor_full_line(struct sieve_encrypt_armor *armor,
			      const unsigned char *data)
{
	unsigned char *out;
	uint32_t v;
	unsigned int i;

	out = buffer_append_space_unsafe(armor->encoded,
					 ARMOR_LINE_CHARS + armor->eol_len);
	for (i = 0; i < ARMOR_LINE_BYTES; i += 3, out += 4) {
		v = ((uint32_t)data[i] << 16) | ((uint32_t)data[i + 1] << 8) |
			data[i + 2];
		memcpy(out, base64_pairs[v >> 12], 2);
		memcpy(out + 2, base64_pairs[v & 0xfff], 2);
	}
	memcpy(out, armor->eol, armor->eol_len);
}

static void
sieve_encrypt_armor_line(struct sieve_encrypt_armor *armor,
			 const unsigned char *data, size_t size)
{
	if (size == ARMOR_LINE_BYTES)
		sieve_encrypt_armor_full_line(armor, data);
	else {
		base64_encode(data, size, armor->encoded);
		buffer_append(armor->encoded, armor->eol, armor->eol_len);
	}
	if (armor->encoded->used >= ARMOR_FLUSH_SIZE)
		sieve_encrypt_armor_flush(armor);
}

void sieve_encrypt_armor_write(struct sieve_encrypt_armor *armor,
			       const void *data, size_t size)
{
	const unsigned char *p = data;
	size_t n;

	armor->crc = sieve_encrypt_crc24(armor->crc, data, size);

	if (armor->line_len > 0) {
		n = I_MIN(size, ARMOR_LINE_BYTES - armor->line_len);
		memcpy(armor->line + armor->line_len, p, n);
		armor->line_len += n;
		p += n;
		size -= n;
		if (armor->line_len < ARMOR_LINE_BYTES)
			return;
		sieve_encrypt_armor_line(armor, armor->line, ARMOR_LINE_BYTES);
		armor->line_len = 0;
	}
	for (; size >= ARMOR_LINE_BYTES; p += ARMOR_LINE_BYTES,
					 size -= ARMOR_LINE_BYTES)
		sieve_encrypt_armor_line(armor, p, ARMOR_LINE_BYTES);
	memcpy(armor->line, p, size);
	armor->line_len = size;
	sieve_encrypt_armor_flush(armor);
}

void sieve_encrypt_armor_end(struct sieve_encrypt_armor **_armor)
{
	struct sieve_encrypt_armor *armor = *_armor;
	unsigned char crc[3];

	if (armor->line_len > 0)
		sieve_encrypt_armor_line(armor, armor->line, armor->line_len);
	crc[0] = (armor->crc >> 16) & 0xff;
	crc[1] = (armor->crc >> 8) & 0xff;
	crc[2] = armor->crc & 0xff;
	buffer_append_c(armor->encoded, '=');
	sieve_encrypt_armor_line(armor, crc, sizeof(crc));
	buffer_append(armor->encoded, ARMOR_END, strlen(ARMOR_END));
	buffer_append(armor->encoded, armor->eol, armor->eol_len);
	sieve_encrypt_armor_flush(armor);
	sieve_encrypt_armor_free(_armor);
}

void sieve_encrypt_armor_free(struct sieve_encrypt_armor **_armor)
{
	struct sieve_encrypt_armor *armor = *_armor;

	if (armor == NULL)
		return;
	*_armor = NULL;
	buffer_free(&armor->encoded);
	i_free(armor);
}
