/* Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
 */

#include "lib.h"
#include "str.h"
#include "base64.h"
#include "byteorder.h"
#include "ostream.h"

#include "sieve-encrypt-armor.h"

/* Where the compiler can target PCLMULQDQ, the CRC is folded with
   carry-less multiplications on CPUs that have them (decided at run time).
   SIEVE_ENCRYPT_CRC24_TABLE_ONLY builds the table code alone (a unit test
   checks both). */
#if defined(__x86_64__) && defined(__GNUC__) && \
	!defined(SIEVE_ENCRYPT_CRC24_TABLE_ONLY)
#  define CRC24_CLMUL
#  include <immintrin.h>
#endif

#define ARMOR_BEGIN "-----BEGIN PGP MESSAGE-----"
#define ARMOR_END "-----END PGP MESSAGE-----"
/* 48 bytes are the 64 characters per line that gpg writes */
#define ARMOR_LINE_BYTES 48
#define ARMOR_LINE_CHARS 64
/* The encoded lines are passed to the output in pieces of this many lines
   (about 64 KiB) */
#define ARMOR_FLUSH_LINES 1000

/* The CRC-24 is computed as a 32-bit CRC whose low byte stays zero (the
   polynomial shifted left by 8), eight bytes at a time ("slicing-by-8";
   byte by byte, it cost more than the rest of the armor) or folded with
   carry-less multiplications (below). */
#define CRC24_POLY32 (0x864cfbU << 8)

struct sieve_encrypt_armor {
	struct ostream *output;
	const char *eol;
	size_t eol_len;

	uint32_t crc;
	/* the bytes of a line that is not complete yet */
	unsigned char line[ARMOR_LINE_BYTES];
	size_t line_len;
	/* full lines are encoded here and sent from here */
	unsigned char *batch;
};

static uint32_t crc24_tables[8][256];
/* The two base64 characters of each 12-bit value */
static char base64_pairs[4096][2];
static bool armor_tables_initialized = FALSE;

#ifdef CRC24_CLMUL
/* Folding 16 bytes costs two multiplications: worth it from this size on */
#  define CRC24_CLMUL_MIN_SIZE 64
static bool crc24_clmul_supported;
/* x^192 and x^128 modulo the polynomial */
static uint64_t crc24_fold_192, crc24_fold_128;
#endif

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

#ifdef CRC24_CLMUL
static uint64_t crc24_xpow_mod(unsigned int n)
{
	uint64_t v = 1;

	for (; n > 0; n--) {
		v <<= 1;
		if ((v & (1ULL << 32)) != 0)
			v ^= (1ULL << 32) | CRC24_POLY32;
	}
	return v;
}

static void crc24_clmul_init(void)
{
	__builtin_cpu_init();
	crc24_clmul_supported = (__builtin_cpu_supports("pclmul") &&
				 __builtin_cpu_supports("ssse3"));
	crc24_fold_192 = crc24_xpow_mod(192);
	crc24_fold_128 = crc24_xpow_mod(128);
}
#endif

/* Called by the entry points that use the tables, not per line */
static void armor_init_tables(void)
{
	if (armor_tables_initialized)
		return;
	crc24_init_tables();
#ifdef CRC24_CLMUL
	crc24_clmul_init();
#endif
	base64_init_pairs();
	armor_tables_initialized = TRUE;
}

/* crc is the 32-bit register: the CRC-24 shifted left by 8 */
static uint32_t crc24_table(uint32_t crc, const unsigned char *p, size_t size)
{
	const uint32_t (*t)[256] = crc24_tables;
	uint32_t one, two;

	for (; size >= 8; p += 8, size -= 8) {
		one = crc ^ be32_to_cpu_unaligned(p);
		two = be32_to_cpu_unaligned(p + 4);
		crc = t[7][one >> 24] ^ t[6][(one >> 16) & 0xff] ^
			t[5][(one >> 8) & 0xff] ^ t[4][one & 0xff] ^
			t[3][two >> 24] ^ t[2][(two >> 16) & 0xff] ^
			t[1][(two >> 8) & 0xff] ^ t[0][two & 0xff];
	}
	for (; size > 0; p++, size--)
		crc = (crc << 8) ^ t[0][(crc >> 24) ^ *p];
	return crc;
}

#ifdef CRC24_CLMUL
/* size: a multiple of 16, at least 32. The data, with the register added
   to its first four bytes, is folded into 128 bits R that are congruent to
   it modulo the polynomial: with the next 16 bytes B, R = R_hi * x^192 +
   R_lo * x^128 + B (the 64-bit halves times 32-bit constants, each
   product less than 96 bits long). The CRC of R is the CRC of the data.
   Four times as fast as slicing-by-8. */
static uint32_t __attribute__((target("pclmul,ssse3")))
crc24_clmul(uint32_t crc, const unsigned char *p, size_t size)
{
	/* bytes in reverse: the first byte of the data is the highest */
	const __m128i reverse = _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7,
					     8, 9, 10, 11, 12, 13, 14, 15);
	const __m128i fold = _mm_set_epi64x(crc24_fold_192, crc24_fold_128);
	unsigned char folded[16];
	__m128i r, b;

	i_assert(size >= 32 && size % 16 == 0);
	r = _mm_shuffle_epi8(_mm_loadu_si128((const void *)p), reverse);
	r = _mm_xor_si128(r, _mm_set_epi32(crc, 0, 0, 0));
	for (p += 16, size -= 16; size > 0; p += 16, size -= 16) {
		b = _mm_shuffle_epi8(_mm_loadu_si128((const void *)p), reverse);
		r = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(r, fold, 0x11),
						_mm_clmulepi64_si128(r, fold, 0x00)),
				  b);
	}
	_mm_storeu_si128((void *)folded, _mm_shuffle_epi8(r, reverse));
	return crc24_table(0, folded, sizeof(folded));
}
#endif

uint32_t sieve_encrypt_crc24(uint32_t crc24, const void *data, size_t size)
{
	const unsigned char *p = data;
	uint32_t crc = crc24 << 8;
#ifdef CRC24_CLMUL
	size_t folded;
#endif

	armor_init_tables();
#ifdef CRC24_CLMUL
	if (crc24_clmul_supported && size >= CRC24_CLMUL_MIN_SIZE) {
		folded = size & ~(size_t)15;
		crc = crc24_clmul(crc, p, folded);
		p += folded;
		size -= folded;
	}
#endif
	return crc24_table(crc, p, size) >> 8;
}

struct sieve_encrypt_armor *
sieve_encrypt_armor_begin(struct ostream *output, bool crlf)
{
	return sieve_encrypt_armor_begin_charset(output, crlf, NULL);
}

struct sieve_encrypt_armor *
sieve_encrypt_armor_begin_charset(struct ostream *output, bool crlf,
				  const char *charset)
{
	struct sieve_encrypt_armor *armor;

	armor_init_tables();
	armor = i_new(struct sieve_encrypt_armor, 1);
	armor->output = output;
	armor->eol = (crlf ? "\r\n" : "\n");
	armor->eol_len = strlen(armor->eol);
	armor->crc = SIEVE_ENCRYPT_CRC24_INIT;
	armor->batch = i_malloc(ARMOR_FLUSH_LINES *
				(ARMOR_LINE_CHARS + armor->eol_len));

	o_stream_nsend_str(output, ARMOR_BEGIN);
	o_stream_nsend(output, armor->eol, armor->eol_len);
	if (charset != NULL) {
		o_stream_nsend_str(output, "Charset: ");
		o_stream_nsend_str(output, charset);
		o_stream_nsend(output, armor->eol, armor->eol_len);
	}
	o_stream_nsend(output, armor->eol, armor->eol_len);
	return armor;
}

/* Six bytes into eight characters, two characters (12 bits) at a time
   from a table. Dovecot's base64_encode() (a general encoder, with line
   length and padding options) cost four times as much per byte, more than
   the rest of the armor together. */
static inline void armor_encode_6(unsigned char *out, uint64_t v)
{
	memcpy(out, base64_pairs[(v >> 36) & 0xfff], 2);
	memcpy(out + 2, base64_pairs[(v >> 24) & 0xfff], 2);
	memcpy(out + 4, base64_pairs[(v >> 12) & 0xfff], 2);
	memcpy(out + 6, base64_pairs[v & 0xfff], 2);
}

/* Full lines, at most ARMOR_FLUSH_LINES: 48 bytes into 64 characters each,
   the line end after each */
static void
sieve_encrypt_armor_full_lines(struct sieve_encrypt_armor *armor,
			       const unsigned char *data, size_t lines)
{
	unsigned char *out = armor->batch;
	unsigned int i;

	i_assert(lines <= ARMOR_FLUSH_LINES);
	for (; lines > 0; lines--, data += ARMOR_LINE_BYTES) {
		/* eight bytes loaded, the first six used; the last six
		   are the end of the last eight (no read past the line) */
		for (i = 0; i < ARMOR_LINE_BYTES - 6; i += 6, out += 8)
			armor_encode_6(out, be64_to_cpu_unaligned(data + i) >> 16);
		armor_encode_6(out, be64_to_cpu_unaligned(data + i - 2));
		out += 8;
		memcpy(out, armor->eol, armor->eol_len);
		out += armor->eol_len;
	}
	o_stream_nsend(armor->output, armor->batch, out - armor->batch);
}

/* The last line, shorter than 48 bytes, or the CRC */
static void
sieve_encrypt_armor_short_line(struct sieve_encrypt_armor *armor,
			       const unsigned char *data, size_t size,
			       string_t *dest)
{
	base64_encode(data, size, dest);
	str_append_data(dest, armor->eol, armor->eol_len);
}

void sieve_encrypt_armor_write(struct sieve_encrypt_armor *armor,
			       const void *data, size_t size)
{
	const unsigned char *p = data;
	size_t n, lines;

	armor->crc = sieve_encrypt_crc24(armor->crc, data, size);

	if (armor->line_len > 0) {
		n = I_MIN(size, ARMOR_LINE_BYTES - armor->line_len);
		memcpy(armor->line + armor->line_len, p, n);
		armor->line_len += n;
		p += n;
		size -= n;
		if (armor->line_len < ARMOR_LINE_BYTES)
			return;
		sieve_encrypt_armor_full_lines(armor, armor->line, 1);
		armor->line_len = 0;
	}
	while (size >= ARMOR_LINE_BYTES) {
		lines = I_MIN(size / ARMOR_LINE_BYTES, ARMOR_FLUSH_LINES);
		sieve_encrypt_armor_full_lines(armor, p, lines);
		p += lines * ARMOR_LINE_BYTES;
		size -= lines * ARMOR_LINE_BYTES;
	}
	memcpy(armor->line, p, size);
	armor->line_len = size;
}

void sieve_encrypt_armor_end(struct sieve_encrypt_armor **_armor)
{
	struct sieve_encrypt_armor *armor = *_armor;
	string_t *tail = t_str_new(256);
	unsigned char crc[3];

	if (armor->line_len > 0) {
		sieve_encrypt_armor_short_line(armor, armor->line,
					       armor->line_len, tail);
	}
	crc[0] = (armor->crc >> 16) & 0xff;
	crc[1] = (armor->crc >> 8) & 0xff;
	crc[2] = armor->crc & 0xff;
	str_append_c(tail, '=');
	sieve_encrypt_armor_short_line(armor, crc, sizeof(crc), tail);
	str_append(tail, ARMOR_END);
	str_append_data(tail, armor->eol, armor->eol_len);
	o_stream_nsend(armor->output, str_data(tail), str_len(tail));
	sieve_encrypt_armor_free(_armor);
}

void sieve_encrypt_armor_free(struct sieve_encrypt_armor **_armor)
{
	struct sieve_encrypt_armor *armor = *_armor;

	if (armor == NULL)
		return;
	*_armor = NULL;
	i_free(armor->batch);
	i_free(armor);
}
