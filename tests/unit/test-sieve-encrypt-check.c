/* Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
 */

#include "lib.h"
#include "str.h"
#include "base64.h"
#include "hex-binary.h"
#include "istream.h"
#include "test-common.h"

#include "sieve-encrypt-content.h"
#include "sieve-encrypt-sink.h"
#include "sieve-encrypt-check-pgp.h"
#include "sieve-encrypt-check-pgpmime.h"
#include "sieve-encrypt-check.h"

/* The rules that decide whether a message is encrypted already, each with
   its near misses. Every case is checked three ways that must agree: read
   from a stream as the plugin does, and written to the check in one piece
   and byte by byte. */

#define BEGIN "-----BEGIN PGP MESSAGE-----\n"
#define END "-----END PGP MESSAGE-----\n"
/* A public-key encrypted session key packet and encrypted data packet */
#define DATA1 "wQwBAgMEBQYHCAkKCwzSMEBBQkNERUZHSElKS0xNTk9QUVJTVFVWV1hZWltcXV5f\n"
#define DATA2 "YGFiY2RlZmdoaWprbG1ubw==\n"
#define DATA DATA1 DATA2
#define ARMOR BEGIN "\n" DATA "=AAAA\n" END

#define TEXT_PLAIN "Content-Type: text/plain; charset=us-ascii\n"
#define BASE64 "Content-Transfer-Encoding: base64\n"
#define QP "Content-Transfer-Encoding: quoted-printable\n"

#define PGPMIME "Content-Type: multipart/encrypted; boundary=\"b\";\n" \
		" protocol=\"application/pgp-encrypted\"\n"
#define PART1 "--b\nContent-Type: application/pgp-encrypted\n\nVersion: 1\n\n"
#define PART2 "--b\nContent-Type: application/octet-stream\n\n"
#define CLOSE "\n--b--\n"

#define SMIME "Content-Type: application/pkcs7-mime; name=smime.p7m\n" \
	      BASE64

struct check_case {
	/* the header, without its empty line */
	const char *header;
	const char *body;
	bool encrypted;
};

static void
test_check_body(const char *header, const void *body, size_t body_size,
		bool expected, unsigned int idx)
{
	const char *hdr = t_strconcat(header, "\n", NULL);
	struct sieve_encrypt_content content;
	struct sieve_encrypt_sink *check;
	struct istream *input;
	string_t *msg = t_str_new(256);
	bool encrypted;
	size_t i;

	sieve_encrypt_content_parse_header((const unsigned char *)hdr,
					   strlen(hdr), &content);

	/* as the plugin reads it */
	str_append(msg, hdr);
	str_append_data(msg, body, body_size);
	input = i_stream_create_from_data(str_data(msg), str_len(msg));
	test_assert_idx(sieve_encrypt_check_encrypted(
		&content, input, strlen(hdr),
		SIEVE_ENCRYPT_CHECK_MAX_BODY_SIZE, &encrypted) == 0, idx);
	test_assert_idx(encrypted == expected, idx);
	i_stream_unref(&input);

	/* in one piece */
	check = sieve_encrypt_check_create(&content);
	encrypted = (check != NULL &&
		     sieve_encrypt_sink_write(check, body, body_size) &&
		     sieve_encrypt_sink_finish(check));
	test_assert_idx(encrypted == expected, idx);

	/* byte by byte */
	check = sieve_encrypt_check_create(&content);
	encrypted = (check != NULL);
	for (i = 0; encrypted && i < body_size; i++) {
		encrypted = sieve_encrypt_sink_write(
			check, CONST_PTR_OFFSET(body, i), 1);
	}
	encrypted = encrypted && sieve_encrypt_sink_finish(check);
	test_assert_idx(encrypted == expected, idx);
}

static void
test_check_cases(const char *name, const struct check_case *cases,
		 unsigned int count)
{
	unsigned int i;

	test_begin(name);
	for (i = 0; i < count; i++) T_BEGIN {
		test_check_body(cases[i].header, cases[i].body,
				strlen(cases[i].body), cases[i].encrypted, i);
	} T_END;
	test_end();
}

/* Hex digits, with "xx*N" for N bytes xx; spaces are ignored */
static buffer_t *test_hex(const char *hex)
{
	buffer_t *buf = t_buffer_create(256);
	const char *const *tokens = t_strsplit_spaces(hex, " ");
	const char *star;
	unsigned int count;

	for (; *tokens != NULL; tokens++) {
		star = strchr(*tokens, '*');
		if (star == NULL) {
			test_assert(hex_to_binary(*tokens, buf) == 0);
			continue;
		}
		test_assert(star - *tokens == 2 &&
			    str_to_uint(star + 1, &count) == 0);
		T_BEGIN {
			buffer_t *byte = t_buffer_create(1);

			test_assert(hex_to_binary(
				t_strndup(*tokens, 2), byte) == 0);
			while (count-- > 0)
				buffer_append_buf(buf, byte, 0, 1);
		} T_END;
	}
	return buf;
}

/* data in base64, in lines of line_len characters */
static string_t *test_base64_lines(const buffer_t *data, size_t line_len)
{
	string_t *b64 = t_str_new(data->used * 2);
	string_t *out = t_str_new(data->used * 2);
	size_t pos;

	base64_encode(data->data, data->used, b64);
	for (pos = 0; pos < str_len(b64); pos += line_len) {
		str_append_data(out, str_data(b64) + pos,
				I_MIN(line_len, str_len(b64) - pos));
		str_append_c(out, '\n');
	}
	return out;
}

/*
 * OpenPGP packets inside the armor
 */

static const struct {
	const char *hex;
	bool encrypted;
} packet_cases[] = {
	/* public-key encrypted session key (tag 1), encrypted and
	   integrity protected data (tag 18): new format, 1-octet lengths */
	{ "c103 010203 d204 01020304", TRUE },
	/* old format session keys, 1-, 2- and 4-octet lengths */
	{ "8403 010203 850003 010203 d204 01020304", TRUE },
	{ "8600000003 010203 d204 01020304", TRUE },
	{ "8403 010203 8502 010203 d204 01020304", FALSE },
	/* symmetric-key encrypted session key (tag 3), marker (tag 10) */
	{ "c303 040703 d201 01", TRUE },
	{ "ca03 504750 c103 010203 c303 040703 d201 01", TRUE },
	{ "a803 504750 d201 01", TRUE },
	/* encrypted data alone: tag 9 (old and new format), 18, 20 */
	{ "c902 aabb", TRUE },
	{ "a402 aabb", TRUE },
	{ "d201 01", TRUE },
	{ "d403 010203", TRUE },
	/* 2- and 5-octet lengths */
	{ "c103 010203 d2c008 ab*200", TRUE },
	{ "c103 010203 d2c008 ab*199", FALSE },
	{ "c103 010203 d2ff00000004 01020304", TRUE },
	/* partial body lengths (2 bytes, then 4, then 1 final) */
	{ "c103 010203 d2e1 aabb e2 01020304 01 05", TRUE },
	/* ... are for data packets only, and must end with a final one */
	{ "c1e1 0102 01 03 d201 01", FALSE },
	{ "c103 010203 d2e1 aabb e2 01020304", FALSE },
	/* an old format packet of indeterminate length goes to the end */
	{ "c103 010203 a7 0102030405", TRUE },
	{ "a7", TRUE },
	{ "87 010203 d201 01", FALSE },
	/* not encrypted: literal data (11), compressed data (8), a signed
	   message (one-pass signature 4, literal, signature 2), a public
	   key (6), a session key alone */
	{ "cb06 62000000000078", FALSE },
	{ "c803 01abcd", FALSE },
	{ "a3 01abcdef", FALSE },
	{ "c40d 03000a01aabbccddeeff001101 cb03 620000 c203 040000", FALSE },
	{ "c603 040000", FALSE },
	{ "c103 010203", FALSE },
	{ "c103 010203 c303 040703", FALSE },
	/* anything after the encrypted data */
	{ "c103 010203 d201 01 cb03 620000", FALSE },
	{ "c103 010203 d201 01 c103 010203", FALSE },
	{ "d201 01 00", FALSE },
	{ "d201 01 d201 01", FALSE },
	/* cut short, and bit 7 clear */
	{ "c103 010203 d204 010203", FALSE },
	{ "c103 010203 d2", FALSE },
	{ "c103 010203 d2ff000000", FALSE },
	{ "4103 010203 d201 01", FALSE },
	/* nothing at all */
	{ "", FALSE },
};

static void test_check_packets(void)
{
	unsigned int i;

	test_begin("check: OpenPGP packets");
	for (i = 0; i < N_ELEMENTS(packet_cases); i++) T_BEGIN {
		string_t *armor = t_str_new(512);

		str_append(armor, BEGIN "\n");
		str_append_str(armor, test_base64_lines(
			test_hex(packet_cases[i].hex), 64));
		str_append(armor, END);
		test_check_body(TEXT_PLAIN, str_data(armor), str_len(armor),
				packet_cases[i].encrypted, i);
	} T_END;
	test_end();
}

/*
 * The armor
 */

static const struct check_case armor_cases[] = {
	{ TEXT_PLAIN, ARMOR, TRUE },
	/* white space around it, CRLF, spaces and tabs at line ends */
	{ TEXT_PLAIN, "\n \n\t\n" ARMOR "\n  \n", TRUE },
	{ TEXT_PLAIN, "\r\n" BEGIN "\r\n" DATA1 DATA2 END "\r\n", TRUE },
	{ TEXT_PLAIN, "-----BEGIN PGP MESSAGE----- \t\n \n" DATA1 DATA2
		      "=AAAA \n" END, TRUE },
	/* no checksum, no final newline */
	{ TEXT_PLAIN, BEGIN "\n" DATA "-----END PGP MESSAGE-----", TRUE },
	/* armor headers */
	{ TEXT_PLAIN, BEGIN "Version: GnuPG v2\nComment: https://x\n"
		      "Charset: UTF-8\nHash: SHA256\nMessageID: x\n"
		      "Comment:\n\n" DATA END, TRUE },
	/* 76 characters per line */
	{ TEXT_PLAIN, BEGIN "\n"
		      "wQwBAgMEBQYHCAkKCwzSMEBBQkNERUZHSElKS0xNTk9QUVJTVFVW"
		      "V1hZWltcXV5fYGFiY2RlZmdo\naWprbG1ubw==\n" END, TRUE },

	/* text before or after, two blocks */
	{ TEXT_PLAIN, "Hi\n" ARMOR, FALSE },
	{ TEXT_PLAIN, ARMOR "secret\n", FALSE },
	{ TEXT_PLAIN, ARMOR "\n> quoted plaintext\n", FALSE },
	{ TEXT_PLAIN, ARMOR ARMOR, FALSE },
	{ TEXT_PLAIN, ARMOR "\r", FALSE },
	/* other blocks */
	{ TEXT_PLAIN, "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n"
		      "plaintext\n-----BEGIN PGP SIGNATURE-----\n\n" DATA
		      "-----END PGP SIGNATURE-----\n", FALSE },
	{ TEXT_PLAIN, "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n" DATA
		      "-----END PGP PUBLIC KEY BLOCK-----\n", FALSE },
	{ TEXT_PLAIN, "-----BEGIN PGP MESSAGE, PART 1/2-----\n\n" DATA
		      "-----END PGP MESSAGE, PART 1/2-----\n", FALSE },
	{ TEXT_PLAIN, "-----BEGIN PGP MESSAGE-----\n\n" DATA
		      "-----END PGP SIGNATURE-----\n", FALSE },
	/* the header and tail lines exactly */
	{ TEXT_PLAIN, " " ARMOR, FALSE },
	{ TEXT_PLAIN, "-----begin pgp message-----\n\n" DATA END, FALSE },
	{ TEXT_PLAIN, "-----BEGIN PGP MESSAGE-----x\n\n" DATA END, FALSE },
	{ TEXT_PLAIN, BEGIN "\n" DATA " " END, FALSE },
	/* armor headers: known keys, "Key: value" (and their size, see
	   test_check_limits()) */
	{ TEXT_PLAIN, BEGIN DATA END, FALSE },
	{ TEXT_PLAIN, BEGIN "Secret: plaintext\n\n" DATA END, FALSE },
	{ TEXT_PLAIN, BEGIN "Version:x\n\n" DATA END, FALSE },
	{ TEXT_PLAIN, BEGIN "version: 1\n\n" DATA END, FALSE },
	{ TEXT_PLAIN, BEGIN "plaintext\n\n" DATA END, FALSE },
	/* base64 lines: the alphabet only, at most 76 characters, padding
	   only at the end, no empty lines */
	{ TEXT_PLAIN, BEGIN "\n"
		      "wQwBAgMEBQYHCAkKCwzSMEBBQkNERUZHSElKS0xNTk9QUVJTVFVW"
		      "V1hZWltcXV5fYGFiY2RlZmdoa\nWprbG1ubw==\n" END, FALSE },
	{ TEXT_PLAIN, BEGIN "\n"
		      "wQwBAgMEBQYHCAkKCwzSMEBBQkNERUZHSElKS0xNTk9QUVJT VFVW\n"
		      "V1hZWltcXV5fYGFiY2RlZmdoaWprbG1ubw==\n" END, FALSE },
	{ TEXT_PLAIN, BEGIN "\n" DATA1 "\n" DATA2 END, FALSE },
	{ TEXT_PLAIN, BEGIN "\n" DATA1 "YGFiY2RlZmdoaWprbG1ubw=\n" END, FALSE },
	{ TEXT_PLAIN, BEGIN "\n" DATA1 "YGFiY2RlZmdoaWprbG1ubw\n" END, FALSE },
	{ TEXT_PLAIN, BEGIN "\n" DATA2 DATA1 END, FALSE },
	{ TEXT_PLAIN, BEGIN "\n" DATA1 "YGFiY2RlZmdoaWprbG1ubw==x\n" END,
	  FALSE },
	{ TEXT_PLAIN, BEGIN "\n" DATA1 "YGFiY2RlZmdoaWprbG1ub!==\n" END,
	  FALSE },
	/* the checksum: "=" and four base64 characters, then the tail */
	{ TEXT_PLAIN, BEGIN "\n" DATA "=AAA\n" END, FALSE },
	{ TEXT_PLAIN, BEGIN "\n" DATA "=AAAAA\n" END, FALSE },
	{ TEXT_PLAIN, BEGIN "\n" DATA "=AA-A\n" END, FALSE },
	{ TEXT_PLAIN, BEGIN "\n" DATA "=AAAA\nAAAA\n" END, FALSE },
	{ TEXT_PLAIN, BEGIN "\n" DATA "=AAAA\n=AAAA\n" END, FALSE },
	/* incomplete */
	{ TEXT_PLAIN, BEGIN "\n" DATA, FALSE },
	{ TEXT_PLAIN, BEGIN "\n" END, FALSE },
	{ TEXT_PLAIN, BEGIN "\n=AAAA\n" END, FALSE },
	{ TEXT_PLAIN, BEGIN, FALSE },
	{ TEXT_PLAIN, "\n \n", FALSE },
	{ TEXT_PLAIN, "", FALSE },
	/* CR-only line ends, and a lone CR */
	{ TEXT_PLAIN, "-----BEGIN PGP MESSAGE-----\r\r" DATA END, FALSE },
	{ TEXT_PLAIN, BEGIN "\r\r\n" DATA END, FALSE },
};

/*
 * Content types and transfer encodings of inline PGP
 */

static const struct check_case inline_cases[] = {
	/* no Content-Type, or one that cannot be parsed: text/plain */
	{ "", ARMOR, TRUE },
	{ "Content-Type: /\n", ARMOR, TRUE },
	{ "Content-Type: Text/Plain\n", ARMOR, TRUE },
	{ "Content-Type: text/html\n", ARMOR, FALSE },
	{ "Content-Type: application/octet-stream\n", ARMOR, FALSE },
	{ "Content-Type: multipart/mixed; boundary=b\n",
	  "--b\n\n" ARMOR "--b--\n", FALSE },
	/* identity encodings */
	{ TEXT_PLAIN "Content-Transfer-Encoding: 7bit\n", ARMOR, TRUE },
	{ TEXT_PLAIN "Content-Transfer-Encoding: 8BIT\n", ARMOR, TRUE },
	{ TEXT_PLAIN "Content-Transfer-Encoding: binary\n", ARMOR, TRUE },
	{ TEXT_PLAIN "Content-Transfer-Encoding: x-uuencode\n", ARMOR, FALSE },
	/* base64 of ARMOR, with LF and with CRLF */
	{ TEXT_PLAIN BASE64,
	  "LS0tLS1CRUdJTiBQR1AgTUVTU0FHRS0tLS0tCgp3UXdCQWdNRUJRWUhDQWtLQ3d6U01FQkJRa05F\n"
	  "UlVaSFNFbEtTMHhOVGs5UVVWSlRWRlZXVjFoWldsdGNYVjVmCllHRmlZMlJsWm1kb2FXcHJiRzF1\n"
	  "Ync9PQo9QUFBQQotLS0tLUVORCBQR1AgTUVTU0FHRS0tLS0tCg==\n", TRUE },
	{ TEXT_PLAIN BASE64,
	  "LS0tLS1CRUdJTiBQR1AgTUVTU0FHRS0tLS0tDQoNCndRd0JBZ01FQlFZSENBa0tDd3pTTUVCQlFr\r\n"
	  "TkVSVVpIU0VsS1MweE5UazlRVVZKVFZGVldWMWhaV2x0Y1hWNWYNCllHRmlZMlJsWm1kb2FXcHJi\r\n"
	  "RzF1Ync9PQ0KPUFBQUENCi0tLS0tRU5EIFBHUCBNRVNTQUdFLS0tLS0NCg==\r\n\r\n", TRUE },
	/* ... followed by anything, or broken */
	{ TEXT_PLAIN BASE64,
	  "LS0tLS1CRUdJTiBQR1AgTUVTU0FHRS0tLS0tCgp3UXdCQWdNRUJRWUhDQWtLQ3d6U01FQkJRa05F\n"
	  "UlVaSFNFbEtTMHhOVGs5UVVWSlRWRlZXVjFoWldsdGNYVjVmCllHRmlZMlJsWm1kb2FXcHJiRzF1\n"
	  "Ync9PQo9QUFBQQotLS0tLUVORCBQR1AgTUVTU0FHRS0tLS0tCg==\n\n"
	  "Hi Bob, the password is hunter2\n", FALSE },
	{ TEXT_PLAIN BASE64,
	  "LS0tLS1CRUdJTiBQR1AgTUVTU0FHRS0tLS0tCgp3UXdCQWdNRUJRWUhDQWtLQ3d6U01FQkJRa05F\n"
	  "UlVaSFNFbEtTMHhOVGs5UVVWSlRWRlZXVjFoWldsdGNYVjVmCllHRmlZMlJsWm1kb2FXcHJiRzF1\n"
	  "Ync9PQo9QUFBQQotLS0tLUVORCBQR1AgTUVTU0FHRS0tLS0tCg==\n"
	  "SGkgQm9i\n", FALSE },
	{ TEXT_PLAIN BASE64,
	  "LS0tLS1CRUdJTiBQR1AgTUVTU0FHRS0tLS0tCgp3UXdCQWdNRUJRWUhDQWtLQ3d6U01FQkJRa05F\n"
	  "UlVaSFNFbEtTMHhOVGs5UVVWSlRWRlZXVjFoWldsdGNYVjVmCllHRmlZMlJsWm1kb2FXcHJiRzF1\n"
	  "Ync9PQo9QUFBQQotLS0tLUVORCBQR1AgTUVTU0FHRS0tLS0tCg=\n", FALSE },
	{ TEXT_PLAIN BASE64,
	  "LS0tLS1CRUdJTiBQR1AgTUVTU0FHRS0tLS0tCgp3UXdCQWdNRUJRWUhDQWtLQ3d6U01FQkJRa05F\n"
	  "UlVaSFNFbEtTMHhOVGs5UVVWSlRWRlZXVjFoWldsdGNYVjVmCllHRmlZMlJsWm1kb2FXcHJiRzF1\n"
	  "Ync9PQo9QUFBQQotLS0tLUVORCBQR1AgTUVTU0FHRS0tLS0tCg===\n", FALSE },
	{ TEXT_PLAIN BASE64,
	  "LS0tLS1CRUdJTiBQR1AgTUVTU0FHRS0tLS0tCgp3UXdCQWdNRUJRWUhDQWtLQ3d6U01FQkJRa05F\n"
	  "UlVaSFNFbEtTMHhOVGs5UVVWSlRWRlZXVjFoWldsdGNYVjVmCllHRmlZMlJsWm1kb2FXcHJiRzF1\n"
	  "Ync9PQo9QUFBQQotLS0tLUVORCBQR1AgTUVTU0FHRS0t-LS0tCg==\n", FALSE },
	{ TEXT_PLAIN BASE64, "LS0tLS1CRUdJTiBQR1AgTUVTU0FHRS0tLS0tCgp3\n",
	  FALSE },
	/* quoted-printable: escapes, soft line breaks, and "=" that is no
	   escape (the checksum line as some clients send it) */
	{ TEXT_PLAIN QP, "=2D----BEGIN PGP MESSAGE-----\n\n"
			 "wQwBAgMEBQYHCAkKCwzSMEBBQkNERUZHSElKS0xNTk9QUVJT=\n"
			 "VFVWV1hZWltcXV5f\n"
			 "YGFiY2RlZmdoaWprbG1ubw=3D=3D\n=3DAAAA\n" END, TRUE },
	{ TEXT_PLAIN QP, BEGIN "\n" DATA1 "YGFiY2RlZmdoaWprbG1ubw=3D=3D\n"
			 "=Fijx\n" END, TRUE },
	{ TEXT_PLAIN QP, BEGIN "\n" DATA1 "YGFiY2RlZmdoaWprbG1ubw=3D=3D\n"
			 "=Fijx\n" END "= \t\n", TRUE },
	{ TEXT_PLAIN QP, BEGIN "\n" DATA1 "YGFiY2RlZmdoaWprbG1ubw=3D=3D\n"
			 "=Fijx\n" END "=", TRUE },
	{ TEXT_PLAIN QP, BEGIN "\n" DATA1 "YGFiY2RlZmdoaWprbG1ubw=3D=3D\n"
			 END "=0D=0A\n", TRUE },
	/* "=AA" is an escape: the checksum line becomes "\xaaAA" */
	{ TEXT_PLAIN QP, BEGIN "\n" DATA1 "YGFiY2RlZmdoaWprbG1ubw=3D=3D\n"
			 "=AAAA\n" END, FALSE },
	/* the padding "=" at a line end is a soft line break */
	{ TEXT_PLAIN QP, ARMOR, FALSE },
	{ TEXT_PLAIN QP, ARMOR "=\nsecret\n", FALSE },
	{ TEXT_PLAIN QP, ARMOR "=73ecret\n", FALSE },
	{ TEXT_PLAIN QP, BEGIN "\n" DATA1 "YGFiY2RlZmdoaWprbG1ubw=3D=3D\n"
			 END "=7", FALSE },
	{ TEXT_PLAIN QP, BEGIN "\n" DATA1 "YGFiY2RlZmdoaWprbG1ubw=3D=3D\n"
			 END "=\r", FALSE },
};

/*
 * PGP/MIME
 */

static const struct check_case pgpmime_cases[] = {
	{ PGPMIME, PART1 PART2 ARMOR CLOSE, TRUE },
	{ PGPMIME, "This is an OpenPGP/MIME encrypted message\n"
		   PART1 PART2 ARMOR CLOSE "\n \n", TRUE },
	/* CRLF, parameters and case, transport padding */
	{ "Content-Type: Multipart/Encrypted; boundary=b;\n"
	  " protocol=\"Application/PGP-Encrypted\"\n",
	  "--b \t\r\n"
	  "Content-Type: Application/PGP-Encrypted\r\n"
	  "Content-Description: PGP/MIME version identification\r\n\r\n"
	  "Version: 1\r\n\r\n"
	  "--b\r\n"
	  "Content-Type: application/octet-stream; name=\"encrypted.asc\"\r\n"
	  "Content-Disposition: inline;\r\n filename=\"encrypted.asc\"\r\n"
	  "\r\n" BEGIN "\r\n" DATA END "\r\n--b-- \r\n", TRUE },
	{ PGPMIME "Content-Transfer-Encoding: 7bit\n",
	  PART1 PART2 ARMOR CLOSE, TRUE },
	/* parts in base64 and quoted-printable */
	{ PGPMIME, "--b\nContent-Type: application/pgp-encrypted\n"
		   BASE64 "\nVmVyc2lvbjogMQ0KDQo=\n\n"
		   "--b\nContent-Type: application/octet-stream\n" QP "\n"
		   BEGIN "\n" DATA1 "YGFiY2RlZmdoaWprbG1ubw=3D=3D\n"
		   END CLOSE, TRUE },
	{ PGPMIME, PART1 "--b\nContent-Type: application/octet-stream\n"
		   "Content-Transfer-Encoding: x-gzip\n\n" ARMOR CLOSE,
	  FALSE },

	/* the header: protocol, boundary, no transfer encoding */
	{ "Content-Type: multipart/encrypted; boundary=\"b\"\n",
	  PART1 PART2 ARMOR CLOSE, FALSE },
	{ "Content-Type: multipart/encrypted; boundary=\"b\";\n"
	  " protocol=\"application/pkcs7-mime\"\n",
	  PART1 PART2 ARMOR CLOSE, FALSE },
	{ "Content-Type: multipart/encrypted;\n"
	  " protocol=\"application/pgp-encrypted\"\n",
	  PART1 PART2 ARMOR CLOSE, FALSE },
	{ "Content-Type: multipart/encrypted; boundary=\"\";\n"
	  " protocol=\"application/pgp-encrypted\"\n",
	  "--\nContent-Type: application/pgp-encrypted\n\nVersion: 1\n\n"
	  "--\nContent-Type: application/octet-stream\n\n" ARMOR "--\n",
	  FALSE },
	{ PGPMIME BASE64, PART1 PART2 ARMOR CLOSE, FALSE },
	/* exactly two parts, and the close delimiter */
	{ PGPMIME, PART1 CLOSE, FALSE },
	{ PGPMIME, PART2 ARMOR CLOSE, FALSE },
	{ PGPMIME, PART1 PART2 ARMOR "\n" PART2 ARMOR CLOSE, FALSE },
	{ PGPMIME, PART1 PART2 ARMOR, FALSE },
	{ PGPMIME, PART1 PART2 ARMOR "\n--b\n", FALSE },
	{ PGPMIME, PART1 PART2 ARMOR "\n--b-\n", FALSE },
	{ PGPMIME, "--b--\n" PART1 PART2 ARMOR CLOSE, FALSE },
	{ PGPMIME, PART2 ARMOR "\n" PART1 "--b--\n", FALSE },
	/* the first part: application/pgp-encrypted, "Version: 1" */
	{ PGPMIME, "--b\nContent-Type: text/plain\n\nVersion: 1\n\n"
		   PART2 ARMOR CLOSE, FALSE },
	{ PGPMIME, "--b\n\nVersion: 1\n\n" PART2 ARMOR CLOSE, FALSE },
	{ PGPMIME, "--b\nContent-Type: application/pgp-encrypted\n\n"
		   "Version: 2\n\n" PART2 ARMOR CLOSE, FALSE },
	{ PGPMIME, "--b\nContent-Type: application/pgp-encrypted\n\n"
		   "\n\n" PART2 ARMOR CLOSE, FALSE },
	{ PGPMIME, "--b\nContent-Type: application/pgp-encrypted\n\n"
		   "Version: 1\nsecret\n" PART2 ARMOR CLOSE, FALSE },
	{ PGPMIME, "--b\nContent-Type: application/pgp-encrypted\n\n"
		   "Version: 1\nVersion: 1\n" PART2 ARMOR CLOSE, FALSE },
	/* the second part: application/octet-stream holding the armor */
	{ PGPMIME, PART1 "--b\nContent-Type: text/plain\n\n" ARMOR CLOSE,
	  FALSE },
	{ PGPMIME, PART1 "--b\n\n" ARMOR CLOSE, FALSE },
	{ PGPMIME, PART1 PART2 "Dear Bob, the plan is ...\n" CLOSE, FALSE },
	{ PGPMIME, PART1 PART2 ARMOR "\nsecret\n" CLOSE, FALSE },
	{ PGPMIME, PART1 PART2 "secret\n" ARMOR CLOSE, FALSE },
	{ PGPMIME, PART1 PART2 CLOSE, FALSE },
	{ PGPMIME, PART1 PART2 "-----BEGIN PGP SIGNED MESSAGE-----\n"
		   "Hash: SHA256\n\nsecret\n-----BEGIN PGP SIGNATURE-----\n\n"
		   DATA "-----END PGP SIGNATURE-----\n" CLOSE, FALSE },
	/* a delimiter is "--b" exactly (and white space) */
	{ PGPMIME, "--b x\nContent-Type: application/pgp-encrypted\n\n"
		   "Version: 1\n\n" PART2 ARMOR CLOSE, FALSE },
	{ PGPMIME, PART1 PART2 ARMOR "--bx\n" CLOSE, FALSE },
	{ PGPMIME, PART1 PART2 ARMOR "\n --b--\n", FALSE },
	{ PGPMIME, PART1 "--b\n--b\n" PART2 ARMOR CLOSE, FALSE },
	{ PGPMIME, PART1 "--b\nContent-Type: application/octet-stream\n"
		   "--b\n\n" ARMOR CLOSE, FALSE },
	/* epilogue */
	{ PGPMIME, PART1 PART2 ARMOR CLOSE "secret\n", FALSE },
	{ PGPMIME, PART1 PART2 ARMOR CLOSE "\r", FALSE },
	/* line ends: CR only */
	{ PGPMIME, "--b\rContent-Type: application/pgp-encrypted\r\r"
		   "Version: 1\r\r--b\rContent-Type: application/octet-stream"
		   "\r\r-----BEGIN PGP MESSAGE-----\r\r" "YGFiY2Rl\r"
		   "-----END PGP MESSAGE-----\r--b--\r", FALSE },
};

/*
 * PGP/MIME that Microsoft Exchange mixed up into multipart/mixed
 */

#define MIXED "Content-Type: multipart/mixed; boundary=\"b\"\n"
#define EMPTY "--b\nContent-Type: text/plain; charset=\"us-ascii\"\n" \
	      QP "\n"
#define XPART1 "--b\nContent-Type: application/pgp-encrypted; " \
	       "name=\"ATT00001\"\n" \
	       "Content-Description: PGP/MIME version identification\n" \
	       BASE64 "\nVmVyc2lvbjogMQ0K\n\n"
#define XPART2 "--b\nContent-Type: application/octet-stream; " \
	       "name=\"encrypted.asc\"\n" \
	       "Content-Description: OpenPGP encrypted message\n" \
	       BASE64 "\n"
/* ARMOR with CRLF line ends, in base64 */
#define XARMOR \
	"LS0tLS1CRUdJTiBQR1AgTUVTU0FHRS0tLS0tDQoNCndRd0JBZ01FQlFZSENBa0tDd3pTTUVCQlFr\n" \
	"TkVSVVpIU0VsS1MweE5UazlRVVZKVFZGVldWMWhaV2x0Y1hWNWYNCllHRmlZMlJsWm1kb2FXcHJi\n" \
	"RzF1Ync9PQ0KPUFBQUENCi0tLS0tRU5EIFBHUCBNRVNTQUdFLS0tLS0NCg==\n"

static const struct check_case mixed_up_cases[] = {
	/* as Exchange sends it */
	{ MIXED, EMPTY XPART1 XPART2 XARMOR CLOSE, TRUE },
	/* an empty part with white space; the parts not encoded */
	{ MIXED, "--b\nContent-Type: text/plain\n\n \n\n"
		 PART1 PART2 ARMOR CLOSE, TRUE },
	{ "Content-Type: Multipart/Mixed; boundary=b\n"
	  "Content-Transfer-Encoding: 7bit\n",
	  EMPTY XPART1 XPART2 XARMOR CLOSE, TRUE },

	/* the outer header: a boundary, no transfer encoding */
	{ "Content-Type: multipart/mixed\n", EMPTY XPART1 XPART2 XARMOR CLOSE,
	  FALSE },
	{ MIXED BASE64, EMPTY XPART1 XPART2 XARMOR CLOSE, FALSE },
	{ "Content-Type: multipart/alternative; boundary=\"b\"\n",
	  EMPTY XPART1 XPART2 XARMOR CLOSE, FALSE },
	/* the PGP/MIME shape itself is no mixed-up one, and the reverse */
	{ MIXED, PART1 PART2 ARMOR CLOSE, FALSE },
	{ PGPMIME, EMPTY XPART1 XPART2 XARMOR CLOSE, FALSE },
	/* the empty part: text/plain, without content */
	{ MIXED, EMPTY "secret\n" XPART1 XPART2 XARMOR CLOSE, FALSE },
	{ MIXED, "--b\nContent-Type: text/plain\n" BASE64 "\nc2VjcmV0\n"
		 XPART1 XPART2 XARMOR CLOSE, FALSE },
	{ MIXED, "--b\nContent-Type: text/html\n\n\n"
		 XPART1 XPART2 XARMOR CLOSE, FALSE },
	{ MIXED, XPART1 XPART2 XARMOR CLOSE, FALSE },
	/* the version part */
	{ MIXED, EMPTY "--b\nContent-Type: application/pgp-encrypted\n"
		 BASE64 "\nVmVyc2lvbjogMg0K\n\n" XPART2 XARMOR CLOSE, FALSE },
	{ MIXED, EMPTY "--b\nContent-Type: application/octet-stream\n"
		 BASE64 "\nVmVyc2lvbjogMQ0K\n\n" XPART2 XARMOR CLOSE, FALSE },
	/* the encrypted part: one OpenPGP encrypted message */
	{ MIXED, EMPTY XPART1 XPART2
		 "RGVhciBCb2IsIHRoZSBwbGFuIGlzIC4uLg0K\n" CLOSE, FALSE },
	{ MIXED, EMPTY XPART1 "--b\nContent-Type: text/plain\n" BASE64
		 "\n" XARMOR CLOSE, FALSE },
	{ MIXED, EMPTY XPART1 XPART2 XARMOR CLOSE "secret\n", FALSE },
	/* exactly three parts */
	{ MIXED, EMPTY XPART1 XPART2 XARMOR "\n"
		 "--b\nContent-Type: text/plain\n\nsecret\n" CLOSE, FALSE },
	{ MIXED, EMPTY EMPTY XPART1 XPART2 XARMOR CLOSE, FALSE },
	{ MIXED, EMPTY XPART1 CLOSE, FALSE },
};

/*
 * S/MIME
 */

static const struct {
	const char *header;
	const char *hex;
	bool encrypted;
} cms_cases[] = {
	/* enveloped-data and authEnveloped-data, definite lengths */
	{ SMIME, "300f 0609 2a864886f70d010703 a002 0400", TRUE },
	{ SMIME, "3011 060b 2a864886f70d0109100117 a002 0400", TRUE },
	{ SMIME, "30810f 0609 2a864886f70d010703 a002 0400", TRUE },
	{ SMIME, "30840000000f 0609 2a864886f70d010703 a002 0400", TRUE },
	{ SMIME, "300b 0609 2a864886f70d010703", TRUE },
	/* indefinite lengths, with elements of definite length and a high
	   tag number inside */
	{ SMIME, "3080 0609 2a864886f70d010703 a080 3080 020100 0402 0102"
		 " bf8100 02 aabb 0000 0000 0000", TRUE },
	{ SMIME, "3080 0609 2a864886f70d010703 0000", TRUE },
	/* the smime-type parameter and the content must both agree */
	{ "Content-Type: application/pkcs7-mime; smime-type=enveloped-data\n"
	  BASE64, "300f 0609 2a864886f70d010703 a002 0400", TRUE },
	{ "Content-Type: application/pkcs7-mime;"
	  " smime-type=\"authEnveloped-data\"\n"
	  BASE64, "3011 060b 2a864886f70d0109100117 a002 0400", TRUE },
	{ "Content-Type: application/x-pkcs7-mime; smime-type=x-unknown\n"
	  BASE64, "300f 0609 2a864886f70d010703 a002 0400", TRUE },
	{ "Content-Type: application/pkcs7-mime; smime-type=enveloped-data\n"
	  BASE64, "300f 0609 2a864886f70d010702 a002 0400", FALSE },
	{ "Content-Type: application/pkcs7-mime; smime-type=signed-data\n"
	  BASE64, "300f 0609 2a864886f70d010703 a002 0400", FALSE },
	{ "Content-Type: application/pkcs7-mime; smime-type=certs-only\n"
	  BASE64, "300f 0609 2a864886f70d010703 a002 0400", FALSE },
	{ "Content-Type: application/pkcs7-mime;"
	  " smime-type=compressed-data\n"
	  BASE64, "300f 0609 2a864886f70d010703 a002 0400", FALSE },
	{ "Content-Type: application/pkcs7-signature\n" BASE64,
	  "300f 0609 2a864886f70d010703 a002 0400", FALSE },
	/* other content types: signed-data, data, authenticated-data,
	   compressed-data */
	{ SMIME, "300f 0609 2a864886f70d010702 a002 0400", FALSE },
	{ SMIME, "3080 0609 2a864886f70d010702 a080 3080 020101 0000 0000"
		 " 0000", FALSE },
	{ SMIME, "300f 0609 2a864886f70d010701 a002 0400", FALSE },
	{ SMIME, "3011 060b 2a864886f70d0109100102 a002 0400", FALSE },
	{ SMIME, "3011 060b 2a864886f70d0109100109 a002 0400", FALSE },
	/* the OID: nearly, longer, shorter */
	{ SMIME, "300f 0609 2a864886f70d010704 a002 0400", FALSE },
	{ SMIME, "3010 060a 2a864886f70d01070300 a002 0400", FALSE },
	{ SMIME, "300e 0608 2a864886f70d0107 a002 0400", FALSE },
	{ SMIME, "308110 068109 2a864886f70d010703 a002 0400", TRUE },
	{ SMIME, "30810f 068109 2a864886f70d010703 a002 0400", FALSE },
	/* cut short, too long, something after it */
	{ SMIME, "300f 0609 2a864886f70d010703 a002 04", FALSE },
	{ SMIME, "3010 0609 2a864886f70d010703 a002 0400", FALSE },
	{ SMIME, "300a 0609 2a864886f70d010703", FALSE },
	{ SMIME, "300f 0609 2a864886f70d010703 a002 0400 00", FALSE },
	{ SMIME, "3080 0609 2a864886f70d010703 a080 3080 020100 0000 0000",
	  FALSE },
	{ SMIME, "3080 0609 2a864886f70d010703 a080 0000 0000 00", FALSE },
	{ SMIME, "3080 0609 2a864886f70d010703 0000 300b", FALSE },
	{ SMIME, "3080 0609 2a864886f70d010703 a0", FALSE },
	{ SMIME, "3080 0609 2a864886f70d01", FALSE },
	{ SMIME, "30", FALSE },
	{ SMIME, "", FALSE },
	/* not BER as CMS has it */
	{ SMIME, "310f 0609 2a864886f70d010703 a002 0400", FALSE },
	{ SMIME, "300f 0409 2a864886f70d010703 a002 0400", FALSE },
	{ SMIME, "3085000000000f 0609 2a864886f70d010703 a002 0400", FALSE },
	{ SMIME, "30ff 0609 2a864886f70d010703 a002 0400", FALSE },
	{ SMIME, "3080 0609 2a864886f70d010703 0480 0000 0000", FALSE },
	{ SMIME, "3080 0609 2a864886f70d010703 a080 0001 00 0000", FALSE },
	{ SMIME, "3080 0609 2a864886f70d010703 bf8181818100 00 0000", FALSE },
	{ SMIME, "3080 0609 2a864886f70d010703 a08500000000010000", FALSE },
	{ SMIME, "0000", FALSE },
};

static void test_check_cms(void)
{
	unsigned int i;

	test_begin("check: S/MIME");
	for (i = 0; i < N_ELEMENTS(cms_cases); i++) T_BEGIN {
		string_t *body = test_base64_lines(test_hex(cms_cases[i].hex),
						   76);

		test_check_body(cms_cases[i].header, str_data(body),
				str_len(body), cms_cases[i].encrypted, i);
	} T_END;
	test_end();
}

static const struct check_case cms_text_cases[] = {
	/* binary, and base64 with white space */
	{ "Content-Type: application/pkcs7-mime\n"
	  "Content-Transfer-Encoding: binary\n",
	  "\x30\x0b\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x03", TRUE },
	{ SMIME, " MA8GCSqGSIb3D QEHA6ACBAA=\r\n\r\n\t\n", TRUE },
	{ SMIME, "MA8GCSqGSIb3DQEHA6ACBAA=\n\nThe password is hunter2\n",
	  FALSE },
	{ SMIME, "MA8GCSqGSIb3DQEHA6ACBAA=\nAAAA\n", FALSE },
	{ SMIME, "MA8GCSqGSIb3DQEHA6ACBAA\n", FALSE },
	{ SMIME, "MA8GCSqGSIb3DQEHA6AC\nBAAA\n", FALSE },
	{ SMIME, "DUMMY\n", FALSE },
	{ "Content-Type: application/pkcs7-mime\n"
	  "Content-Transfer-Encoding: x-unknown\n",
	  "\x30\x0b\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x03", FALSE },
};

/*
 * The limit on the body size
 */

static void test_check_max_body_size(void)
{
	const char *hdr = TEXT_PLAIN "\n";
	struct sieve_encrypt_content content;
	string_t *msg = t_str_new(1024 * 1024 + 1024);
	buffer_t *packets;
	struct istream *input;
	size_t body_size;
	bool encrypted;

	test_begin("check: body size limit");
	sieve_encrypt_content_parse_header((const unsigned char *)hdr,
					   strlen(hdr), &content);
	/* a clean armor of 750 KiB encrypted data (1 MiB of armor) */
	packets = test_hex("c103 010203 d2ff000bb800");
	buffer_append_zero(packets, 750 * 1024);
	str_append(msg, hdr);
	str_append(msg, BEGIN "\n");
	str_append_str(msg, test_base64_lines(packets, 64));
	str_append(msg, END);
	body_size = str_len(msg) - strlen(hdr);

	input = i_stream_create_from_data(str_data(msg), str_len(msg));
	test_assert(sieve_encrypt_check_encrypted(&content, input, strlen(hdr),
						  body_size,
						  &encrypted) == 0);
	test_assert(encrypted);
	/* one byte more than the limit: not encrypted, though it is
	   (encrypting it again is safe; trusting what was not read is not) */
	test_assert(sieve_encrypt_check_encrypted(&content, input, strlen(hdr),
						  body_size - 1,
						  &encrypted) == 0);
	test_assert(!encrypted);
	test_assert(sieve_encrypt_check_encrypted(&content, input, strlen(hdr),
						  SIEVE_ENCRYPT_CHECK_MAX_BODY_SIZE,
						  &encrypted) == 0);
	test_assert(encrypted);
	i_stream_unref(&input);

	/* plaintext after what the limit lets be read */
	str_append(msg, "plaintext\n");
	input = i_stream_create_from_data(str_data(msg), str_len(msg));
	test_assert(sieve_encrypt_check_encrypted(&content, input, strlen(hdr),
						  body_size,
						  &encrypted) == 0);
	test_assert(!encrypted);
	i_stream_unref(&input);
	test_end();
}

static const char *test_fill(size_t count, char c)
{
	char *str = t_malloc_no0(count + 1);

	memset(str, c, count);
	str[count] = '\0';
	return str;
}

/* Lines that begin with prefix, size bytes in all */
static const char *test_lines(const char *prefix, size_t size)
{
	string_t *str = t_str_new(size);
	size_t line;

	while (str_len(str) < size) {
		line = size - str_len(str);
		if (line > 200)
			line = 100;
		i_assert(line > strlen(prefix));
		str_append(str, prefix);
		str_append(str, test_fill(line - strlen(prefix) - 1, 'x'));
		str_append_c(str, '\n');
	}
	i_assert(str_len(str) == size);
	return str_c(str);
}

/* The limits on what surrounds the ciphertext, and one byte beyond */
static void test_check_limits(void)
{
	const char *part_type = "Content-Type: application/octet-stream\n";
	unsigned int over;

	test_begin("check: limits");
	for (over = 0; over <= 1; over++) T_BEGIN {
		bool ok = (over == 0);
		const char *body;

		body = t_strconcat(BEGIN, test_lines("Comment: ",
			SIEVE_ENCRYPT_PGP_MAX_ARMOR_HEADERS + over),
			"\n", DATA, END, NULL);
		test_check_body(TEXT_PLAIN, body, strlen(body), ok, over);

		body = t_strconcat(test_lines("",
			SIEVE_ENCRYPT_PGPMIME_MAX_PREAMBLE + over),
			PART1, PART2, ARMOR, CLOSE, NULL);
		test_check_body(PGPMIME, body, strlen(body), ok, over);

		/* the part header with its empty line */
		body = t_strconcat(PART1, "--b\n", part_type,
			test_lines("X-Filler: ",
				   SIEVE_ENCRYPT_PGPMIME_MAX_PART_HEADER +
				   over - strlen(part_type) - 1),
			"\n", ARMOR, CLOSE, NULL);
		test_check_body(PGPMIME, body, strlen(body), ok, over);

		/* the longest line, with its newline */
		body = t_strconcat(ARMOR, test_fill(
			SIEVE_ENCRYPT_LINE_MAX - 1 + over, ' '), "\n", NULL);
		test_check_body(TEXT_PLAIN, body, strlen(body), ok, over);
	} T_END;
	test_end();
}

static void test_check_armor(void)
{
	static const char nul_after[] = ARMOR "\0\n";
	static const char nul_before[] = "\0\n" ARMOR;

	test_check_cases("check: armor", armor_cases,
			 N_ELEMENTS(armor_cases));
	test_begin("check: armor with NUL");
	test_check_body(TEXT_PLAIN, nul_after, sizeof(nul_after) - 1,
			FALSE, 0);
	test_check_body(TEXT_PLAIN, nul_before, sizeof(nul_before) - 1,
			FALSE, 1);
	test_end();
}

static void test_check_inline(void)
{
	test_check_cases("check: inline PGP types and encodings",
			 inline_cases, N_ELEMENTS(inline_cases));
}

static void test_check_pgpmime(void)
{
	test_check_cases("check: PGP/MIME", pgpmime_cases,
			 N_ELEMENTS(pgpmime_cases));
}

static void test_check_mixed_up(void)
{
	test_check_cases("check: PGP/MIME mixed up by Exchange",
			 mixed_up_cases, N_ELEMENTS(mixed_up_cases));
}

static void test_check_cms_text(void)
{
	test_check_cases("check: S/MIME encodings", cms_text_cases,
			 N_ELEMENTS(cms_text_cases));
}

int main(void)
{
	static void (*const test_functions[])(void) = {
		test_check_packets,
		test_check_armor,
		test_check_inline,
		test_check_pgpmime,
		test_check_mixed_up,
		test_check_cms,
		test_check_cms_text,
		test_check_limits,
		test_check_max_body_size,
		NULL
	};
	return test_run(test_functions);
}
