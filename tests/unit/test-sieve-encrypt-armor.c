/* Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
 */

#include "lib.h"
#include "buffer.h"
#include "str.h"
#include "base64.h"
#include "ostream.h"
#include "randgen.h"
#include "test-common.h"

#include "sieve-encrypt-armor.h"

/* The bitwise CRC-24 of RFC 4880 section 6.1, as printed there */
static uint32_t crc24_reference(const unsigned char *octets, size_t len)
{
	uint32_t crc = 0xb704ceU;
	int i;

	while (len-- > 0) {
		crc ^= (*octets++) << 16;
		for (i = 0; i < 8; i++) {
			crc <<= 1;
			if ((crc & 0x1000000U) != 0)
				crc ^= 0x1864cfbU;
		}
	}
	return crc & 0xffffffU;
}

static void test_crc24(void)
{
	unsigned char data[4099];
	const unsigned char *p;
	size_t len, split, offset;
	uint32_t crc;

	test_begin("crc24");
	/* the check value of CRC-24/OPENPGP in the CRC catalogue */
	test_assert(sieve_encrypt_crc24(SIEVE_ENCRYPT_CRC24_INIT,
					"123456789", 9) == 0x21cf02);
	test_assert(sieve_encrypt_crc24(SIEVE_ENCRYPT_CRC24_INIT, "", 0) ==
		    SIEVE_ENCRYPT_CRC24_INIT);
	random_fill(data, sizeof(data));
	for (len = 0; len + 3 <= sizeof(data);
	     len += (len < 300 ? 1 : 1 + len / 7)) {
		/* any start address and any split into two calls give the
		   same result */
		for (offset = 0; offset < 3; offset++) {
			p = data + offset;
			split = len * (offset + 1) / 4;
			crc = sieve_encrypt_crc24(SIEVE_ENCRYPT_CRC24_INIT,
						  p, split);
			crc = sieve_encrypt_crc24(crc, p + split, len - split);
			test_assert_idx(crc == crc24_reference(p, len), len);
		}
	}
	test_end();
}

/* base64_decode() has other arguments in Dovecot 2.4 */
static int armor_decode(const char *line, size_t len, buffer_t *dest)
{
	return base64_scheme_decode(&base64_scheme, 0, line, len, dest);
}

/* Armor data (written in pieces of piece_size bytes) into a string */
static string_t *
armor_string(const unsigned char *data, size_t size, size_t piece_size,
	     bool crlf)
{
	string_t *str = t_str_new(size * 2 + 128);
	struct ostream *output = o_stream_create_buffer(str);
	struct sieve_encrypt_armor *armor;
	size_t pos, n;

	armor = sieve_encrypt_armor_begin(output, crlf);
	for (pos = 0; pos < size; pos += n) {
		n = I_MIN(piece_size, size - pos);
		sieve_encrypt_armor_write(armor, data + pos, n);
	}
	sieve_encrypt_armor_end(&armor);
	test_assert(armor == NULL);
	test_assert(o_stream_finish(output) > 0);
	o_stream_destroy(&output);
	return str;
}

/* Check the armor's structure and decode it: the lines between the empty
   line and the checksum must give back data, and the checksum its CRC-24 */
static void
check_armor(string_t *armored, const unsigned char *data, size_t size,
	    bool crlf, unsigned int idx)
{
	const char **lines, *line;
	buffer_t *decoded = t_buffer_create(size + 3);
	buffer_t *checksum = t_buffer_create(3);
	unsigned int i, count;
	uint32_t crc;

	lines = (const char **)t_strsplit(str_c(armored), "\n");
	count = str_array_length(lines);
	/* with crlf, every line ends in CR LF, without, no CR anywhere */
	for (i = 0; i + 1 < count; i++) {
		size_t len = strlen(lines[i]);

		if (!crlf) {
			test_assert_idx(strchr(lines[i], '\r') == NULL, idx);
			continue;
		}
		test_assert_idx(len > 0 && lines[i][len - 1] == '\r', idx);
		if (len > 0)
			lines[i] = t_strndup(lines[i], len - 1);
	}
	/* header, empty line, data lines, checksum, tail, "" after the last
	   line end */
	test_assert_idx(count >= 5, idx);
	if (count < 5)
		return;
	test_assert_idx(strcmp(lines[0], "-----BEGIN PGP MESSAGE-----") == 0,
			idx);
	test_assert_idx(lines[1][0] == '\0', idx);
	for (i = 2; i < count - 3; i++) {
		line = lines[i];
		test_assert_idx(strlen(line) > 0 && strlen(line) <= 64, idx);
		/* every line but the last is full */
		test_assert_idx(i == count - 4 || strlen(line) == 64, idx);
		test_assert_idx(armor_decode(line, strlen(line),
					     decoded) == 0, idx);
	}
	test_assert_idx(decoded->used == size &&
			memcmp(decoded->data, data, size) == 0, idx);
	line = lines[count - 3];
	test_assert_idx(line[0] == '=' && strlen(line) == 5, idx);
	test_assert_idx(armor_decode(line + 1, 4, checksum) == 0 &&
			checksum->used == 3, idx);
	if (checksum->used == 3) {
		const unsigned char *c = checksum->data;

		crc = ((uint32_t)c[0] << 16) | ((uint32_t)c[1] << 8) | c[2];
		test_assert_idx(crc == crc24_reference(data, size), idx);
	}
	test_assert_idx(strcmp(lines[count - 2],
			       "-----END PGP MESSAGE-----") == 0, idx);
	test_assert_idx(lines[count - 1][0] == '\0', idx);
}

static void test_armor(void)
{
	static const size_t sizes[] = { 1, 2, 3, 47, 48, 49, 95, 96, 97,
					1000, 100000 };
	static const size_t pieces[] = { 1, 5, 48, 4096, 1024 * 1024 };
	unsigned char *data = i_malloc(100000);
	unsigned int i, j, idx = 0;

	test_begin("armor");
	random_fill(data, 100000);
	for (i = 0; i < N_ELEMENTS(sizes); i++) {
		for (j = 0; j < N_ELEMENTS(pieces); j++, idx++) {
			if (pieces[j] > sizes[i] * 2 && j > 0)
				continue;
			T_BEGIN {
				check_armor(armor_string(data, sizes[i],
							 pieces[j], FALSE),
					    data, sizes[i], FALSE, idx);
				check_armor(armor_string(data, sizes[i],
							 pieces[j], TRUE),
					    data, sizes[i], TRUE, idx);
			} T_END;
		}
	}
	i_free(data);
	test_end();
}

/* The Charset header: the line after the first, then the empty line */
static void test_armor_charset(void)
{
	static const unsigned char data[] = "text";
	string_t *str = t_str_new(256);
	struct ostream *output = o_stream_create_buffer(str);
	struct sieve_encrypt_armor *armor;

	test_begin("armor charset header");
	armor = sieve_encrypt_armor_begin_charset(output, TRUE, "ISO-8859-1");
	sieve_encrypt_armor_write(armor, data, sizeof(data) - 1);
	sieve_encrypt_armor_end(&armor);
	test_assert(o_stream_finish(output) > 0);
	o_stream_destroy(&output);
	/* str_begins() has other arguments in Dovecot 2.4 */
	test_assert(strncmp(str_c(str), "-----BEGIN PGP MESSAGE-----\r\n"
			    "Charset: ISO-8859-1\r\n\r\n", 52) == 0);
	test_assert(strstr(str_c(str), "\r\n\r\n") == str_c(str) + 48);
	test_end();
}

int main(void)
{
	static void (*const test_functions[])(void) = {
		test_crc24,
		test_armor,
		test_armor_charset,
		NULL
	};

	return test_run(test_functions);
}
