/* Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
 */

#include "lib.h"
#include "array.h"
#include "buffer.h"
#include "str.h"
#include "strnum.h"
#include "unlink-directory.h"
#include "test-common.h"

#include "sieve-encrypt-pgp-check.h"

#include <stdio.h>
#include <stdlib.h>

/* Real gpg output, from keys made at test time in a throwaway GnuPG home,
   and packets built by hand for what gpg does not write. Every output is
   fed to the check in pieces of every size from 1 octet to 2 KiB, then
   larger ones up to all of it.

   gpg is run as a command here, not through gpgme: gpgme forks a process
   that exits without exec, and under valgrind (make check) that process
   runs the leak check on a copy of the test in the middle of its work and
   exits with valgrind's error status, which gpgme takes for a failed
   start of gpg. */

/* More than gpg's 8 KiB blocks: the data packet has partial body lengths */
#define TEST_LARGE_SIZE 40000
#define TEST_SMALL_SIZE 100
#define TEST_EVERY_PIECE_SIZE 2048

struct test_key {
	const char *fpr;
	/* the primary key id, and the encryption subkeys' ids */
	const char *primary;
	ARRAY_TYPE(const_string) subkeys;
};

static pool_t test_pool;
static const char *test_home;
/* alice, bob: one encryption subkey each; carol: two */
static struct test_key alice, bob, carol;

/*
 * Keys and real gpg output
 */

static void test_read_stream(FILE *f, buffer_t *dest)
{
	unsigned char buf[4096];
	size_t size;

	while ((size = fread(buf, 1, sizeof(buf), f)) > 0)
		buffer_append(dest, buf, size);
}

/* Run gpg on the test home with args (shell words) and with input_path as
   its standard input (if not NULL); returns what it wrote to its standard
   output. What it says on stderr is shown if it fails. */
static buffer_t *test_gpg(const char *args, const char *input_path)
{
	const char *error_path = t_strconcat(test_home, "/gpg.err", NULL);
	const char *command;
	buffer_t *output = t_buffer_create(4096);
	FILE *f;

	command = t_strdup_printf("gpg --homedir '%s' --batch --no-tty "
				  "--quiet %s <'%s' 2>'%s'", test_home, args,
				  (input_path == NULL ? "/dev/null" :
				   input_path), error_path);
	f = popen(command, "r");
	if (f == NULL)
		i_fatal("popen(%s) failed: %m", command);
	test_read_stream(f, output);
	if (pclose(f) != 0) {
		f = fopen(error_path, "r");
		if (f != NULL) {
			buffer_set_used_size(output, 0);
			test_read_stream(f, output);
			fclose(f);
		}
		i_fatal("%s failed: %s", command,
			t_strndup(output->data, output->used));
	}
	return output;
}

static const char *test_gpg_text(const char *args, const char *input_path)
{
	const buffer_t *output = test_gpg(args, input_path);

	return t_strndup(output->data, output->used);
}

static void test_write_file(const char *path, const void *data, size_t size)
{
	FILE *f = fopen(path, "w");

	if (f == NULL || fwrite(data, 1, size, f) != size || fclose(f) != 0)
		i_fatal("writing %s failed: %m", path);
}

/* The fingerprint, primary key id and encryption subkey ids of the key
   with the user id uid, from gpg's key listing */
static void test_list_key(struct test_key *key, const char *uid)
{
	const char *listing, *const *lines, *const *fields;

	listing = test_gpg_text(t_strdup_printf(
		"--with-colons --list-keys '=%s'", uid), NULL);
	i_zero(key);
	p_array_init(&key->subkeys, test_pool, 4);
	for (lines = t_strsplit(listing, "\n"); *lines != NULL; lines++) {
		fields = t_strsplit(*lines, ":");
		/* fpr lines have 10 fields, pub and sub lines 12 and more */
		if (str_array_length(fields) < 10)
			continue;
		if (strcmp(fields[0], "pub") == 0)
			key->primary = p_strdup(test_pool, fields[4]);
		else if (strcmp(fields[0], "fpr") == 0 && key->fpr == NULL)
			key->fpr = p_strdup(test_pool, fields[9]);
		else if (strcmp(fields[0], "sub") == 0 &&
			 str_array_length(fields) >= 12 &&
			 strchr(fields[11], 'e') != NULL) {
			const char *id = p_strdup(test_pool, fields[4]);

			array_push_back(&key->subkeys, &id);
		}
	}
	if (key->fpr == NULL || key->primary == NULL)
		i_fatal("no key %s in the key listing", uid);
}

/* A key as make_key (tests/lib/keys.sh) makes it: ed25519 for signing,
   cv25519 for encryption, with extra_subkeys more encryption subkeys */
static void
test_make_key(struct test_key *key, const char *uid,
	      unsigned int extra_subkeys)
{
	test_gpg(t_strdup_printf("--passphrase '' --quick-generate-key '%s' "
				 "future-default default never", uid), NULL);
	test_list_key(key, uid);
	if (extra_subkeys == 0)
		return;
	for (; extra_subkeys > 0; extra_subkeys--) {
		test_gpg(t_strdup_printf("--passphrase '' --quick-add-key %s "
					 "cv25519 encr never", key->fpr),
			 NULL);
	}
	test_list_key(key, uid);
}

static void test_keys_init(void)
{
	const char *tmpdir = getenv("TMPDIR");
	char *home;

	test_pool = pool_alloconly_create("test keys", 1024);
	home = p_strconcat(test_pool, (tmpdir != NULL ? tmpdir : "/tmp"),
			   "/test-pgp-check.XXXXXX", NULL);
	if (mkdtemp(home) == NULL)
		i_fatal("mkdtemp(%s) failed: %m", home);
	test_home = home;
	test_make_key(&alice, "Alice <alice@example.org>", 0);
	test_make_key(&bob, "Bob <bob@example.org>", 0);
	test_make_key(&carol, "Carol <carol@example.org>", 1);
}

static void test_keys_deinit(void)
{
	const char *error;

	/* the agent that made the keys */
	if (system(t_strdup_printf("gpgconf --homedir '%s' --kill all",
				   test_home)) != 0)
		i_error("gpgconf --kill all failed");
	if (unlink_directory(test_home, UNLINK_DIRECTORY_FLAG_RMDIR,
			     &error) < 0)
		i_error("%s", error);
	pool_unref(&test_pool);
}

/* gpg's output for a message of plain_size octets encrypted to the keys,
   with more gpg options if any */
static buffer_t *
test_gpg_encrypt(const struct test_key *const *keys, size_t plain_size,
		 const char *options)
{
	const char *plain_path = t_strconcat(test_home, "/plain", NULL);
	unsigned char *plain_text = t_malloc_no0(plain_size);
	string_t *args = t_str_new(256);
	size_t i;

	for (i = 0; i < plain_size; i++)
		plain_text[i] = 'a' + i % 26;
	test_write_file(plain_path, plain_text, plain_size);
	str_printfa(args, "--always-trust --compress-algo none %s", options);
	for (; *keys != NULL; keys++)
		str_printfa(args, " -r %s", (*keys)->fpr);
	str_append(args, " --encrypt");
	return test_gpg(str_c(args), plain_path);
}

/* The key id of key's idx-th encryption subkey */
static const char *test_subkey(const struct test_key *key, unsigned int idx)
{
	return *array_idx(&key->subkeys, idx);
}

/* The key ids of the session key packets as gpg itself reads them when
   decrypting, comma-separated */
static const char *test_gpg_recipients(const buffer_t *cipher)
{
	const char *cipher_path = t_strconcat(test_home, "/cipher", NULL);
	const char *status, *const *lines;
	string_t *ids = t_str_new(64);

	test_write_file(cipher_path, cipher->data, cipher->used);
	status = test_gpg_text("--status-fd 1 --output /dev/null --decrypt",
			       cipher_path);
	for (lines = t_strsplit(status, "\n"); *lines != NULL; lines++) {
		const char *const *words = t_strsplit(*lines, " ");

		if (str_array_length(words) < 3 ||
		    strcmp(words[1], "ENC_TO") != 0)
			continue;
		if (str_len(ids) > 0)
			str_append_c(ids, ',');
		str_append(ids, words[2]);
	}
	return str_c(ids);
}

/*
 * Feeding the check
 */

/* A check that expects a session key for each of the keys, as
   sieve-encrypt-gpg.c sets it up */
static struct sieve_encrypt_pgp_check *
test_check_create(const struct test_key *const *keys)
{
	struct sieve_encrypt_pgp_check *check;
	ARRAY_TYPE(const_string) ids;

	check = sieve_encrypt_pgp_check_create();
	for (; *keys != NULL; keys++) {
		t_array_init(&ids, 4);
		array_append_array(&ids, &(*keys)->subkeys);
		array_append_zero(&ids);
		sieve_encrypt_pgp_check_expect(check, (*keys)->primary,
					       array_front(&ids));
	}
	return check;
}

/* Feed output in pieces of piece_size octets (the last one shorter).
   Returns "OK: " and the used key ids (comma-separated), or the error. */
static const char *
test_check_pieces(const struct test_key *const *keys, const buffer_t *output,
		  size_t piece_size)
{
	struct sieve_encrypt_pgp_check *check = test_check_create(keys);
	const unsigned char *data = output->data;
	string_t *result = t_str_new(128);
	const char *error;
	unsigned int i;
	size_t pos;

	for (pos = 0; pos < output->used; pos += piece_size) {
		sieve_encrypt_pgp_check_feed(check, data + pos,
			I_MIN(piece_size, output->used - pos));
	}
	if (sieve_encrypt_pgp_check_finish(check, &error) < 0)
		str_append(result, error);
	else {
		str_append(result, "OK: ");
		for (i = 0; keys[i] != NULL; i++) {
			if (i > 0)
				str_append_c(result, ',');
			str_append(result,
				   sieve_encrypt_pgp_check_used_key_id(check, i));
		}
	}
	sieve_encrypt_pgp_check_free(&check);
	return str_c(result);
}

static bool test_result_ok(const char *result)
{
	return strncmp(result, "OK: ", 4) == 0;
}

/* The piece size after piece_size for output of size octets: every size
   up to TEST_EVERY_PIECE_SIZE (more than the partial body lengths built
   by hand), then steps of a prime number of octets, then all of it */
static size_t test_next_piece_size(size_t piece_size, size_t size)
{
	if (piece_size < TEST_EVERY_PIECE_SIZE || piece_size >= size)
		return piece_size + 1;
	return I_MIN(piece_size + 61, size);
}

/* The check of output, fed in pieces of every size from 1 to all of it
   (test_next_piece_size()), must say expected: "OK: " and the used key
   ids, or an error that contains the string expected. */
static void
test_check_output(const char *name, const struct test_key *const *keys,
		  const buffer_t *output, const char *expected)
{
	size_t piece_size, max = I_MAX(output->used, 1);
	bool ok = TRUE;

	test_begin(name);
	for (piece_size = 1; ok && piece_size <= max;
	     piece_size = test_next_piece_size(piece_size, max)) T_BEGIN {
		const char *result = test_check_pieces(keys, output,
						       piece_size);

		if (!test_result_ok(expected) &&
		    strstr(result, expected) != NULL)
			result = expected;
		test_assert_strcmp_idx(result, expected, piece_size);
		ok = strcmp(result, expected) == 0;
	} T_END;
	test_end();
}

/*
 * Real gpg output
 */

static void test_gpg_good(void)
{
	const struct test_key *one[] = { &alice, NULL };
	const struct test_key *two[] = { &alice, &bob, NULL };
	const struct test_key *two_subkeys[] = { &carol, NULL };
	const buffer_t *output;
	const char *used;

	output = test_gpg_encrypt(one, TEST_SMALL_SIZE, "");
	test_check_output("pgp check: gpg, 1 recipient, small", one, output,
		t_strconcat("OK: ", test_subkey(&alice, 0), NULL));
	output = test_gpg_encrypt(one, TEST_LARGE_SIZE, "");
	test_check_output("pgp check: gpg, 1 recipient, partial lengths",
		one, output,
		t_strconcat("OK: ", test_subkey(&alice, 0), NULL));

	output = test_gpg_encrypt(two, TEST_LARGE_SIZE, "");
	test_check_output("pgp check: gpg, 2 recipients", two, output,
		t_strconcat("OK: ", test_subkey(&alice, 0), ",",
			    test_subkey(&bob, 0), NULL));

	/* gpg picks one of carol's two encryption subkeys: the check names
	   the one that gpg itself finds when decrypting */
	output = test_gpg_encrypt(two_subkeys, TEST_LARGE_SIZE, "");
	used = test_gpg_recipients(output);
	test_begin("pgp check: gpg used one of carol's two subkeys");
	test_assert(strcmp(used, test_subkey(&carol, 0)) == 0 ||
		    strcmp(used, test_subkey(&carol, 1)) == 0);
	test_end();
	test_check_output("pgp check: gpg, a key with 2 encryption subkeys",
		two_subkeys, output, t_strconcat("OK: ", used, NULL));
}

static void test_gpg_wrong_recipients(void)
{
	const struct test_key *one[] = { &alice, NULL };
	const struct test_key *two[] = { &alice, &bob, NULL };
	const struct test_key *other[] = { &bob, NULL };
	const char *not_requested = t_strdup_printf(
		"session key packet for key id %s, which is no encryption "
		"subkey of the requested keys", test_subkey(&bob, 0));
	const buffer_t *output;

	/* as encrypt-to or hidden-encrypt-to in a gpg.conf would add */
	output = test_gpg_encrypt(two, TEST_LARGE_SIZE, "");
	test_check_output("pgp check: gpg, an extra session key", one, output,
			  not_requested);

	output = test_gpg_encrypt(one, TEST_LARGE_SIZE, "");
	test_check_output("pgp check: gpg, a session key missing", two, output,
		t_strdup_printf("no session key packet for key %s",
				bob.primary));

	/* as a group in a gpg.conf would make it */
	output = test_gpg_encrypt(other, TEST_LARGE_SIZE, "");
	test_check_output("pgp check: gpg, a wrong key id", one, output,
			  not_requested);

	/* as throw-keyids or hidden-encrypt-to would make it */
	output = test_gpg_encrypt(one, TEST_LARGE_SIZE, "--throw-keyids");
	test_check_output("pgp check: gpg, an anonymous recipient", one,
		output, "session key packet for an anonymous recipient "
		"(key id 0)");
}

static void test_gpg_wrong_format(void)
{
	const struct test_key *one[] = { &alice, NULL };
	const buffer_t *output, *small;
	buffer_t *cut, *longer;
	size_t size;
	bool ok = TRUE;

	/* as armor in a gpg.conf would make it */
	output = test_gpg_encrypt(one, TEST_SMALL_SIZE, "--armor");
	test_check_output("pgp check: gpg, ASCII armor", one, output,
		"the output is ASCII armor, not binary OpenPGP");

	/* as dry-run would make it */
	test_check_output("pgp check: no output", one,
			  t_buffer_create(1), "gpg wrote nothing");

	output = test_gpg_encrypt(one, TEST_LARGE_SIZE, "");
	cut = t_buffer_create(output->used);
	buffer_append(cut, output->data, output->used - 1);
	test_check_output("pgp check: gpg, the last octet missing", one, cut,
		"the output is truncated: it ends inside the packet (tag 18)");
	buffer_set_used_size(cut, output->used / 2);
	test_check_output("pgp check: gpg, half of it", one, cut,
		"the output is truncated: it ends inside the packet (tag 18)");

	/* every shorter output, down to nothing, is refused */
	small = test_gpg_encrypt(one, TEST_SMALL_SIZE, "");
	test_begin("pgp check: gpg, every truncation");
	for (size = 0; ok && size < small->used; size++) T_BEGIN {
		buffer_t *part = t_buffer_create(size + 1);

		buffer_append(part, small->data, size);
		ok = !test_result_ok(test_check_pieces(one, part,
						       small->used));
		test_assert_idx(ok, size);
	} T_END;
	test_end();

	longer = t_buffer_create(output->used + 1);
	buffer_append_buf(longer, output, 0, SIZE_MAX);
	buffer_append_c(longer, 0);
	test_check_output("pgp check: gpg, an octet of trailing garbage", one,
		longer, "data follows the encrypted data packet");
	buffer_set_used_size(longer, output->used);
	buffer_append_buf(longer, small, 0, SIZE_MAX);
	test_check_output("pgp check: gpg, a second message after it", one,
		longer, "data follows the encrypted data packet");
}

/*
 * Packets built by hand
 */

/* A new-format length: one, two or five octets */
static void test_length(buffer_t *buf, size_t size)
{
	if (size < 192)
		buffer_append_c(buf, size);
	else if (size < 8384) {
		buffer_append_c(buf, 192 + ((size - 192) >> 8));
		buffer_append_c(buf, (size - 192) & 0xff);
	} else {
		buffer_append_c(buf, 255);
		buffer_append_c(buf, (size >> 24) & 0xff);
		buffer_append_c(buf, (size >> 16) & 0xff);
		buffer_append_c(buf, (size >> 8) & 0xff);
		buffer_append_c(buf, size & 0xff);
	}
}

/* Partial body lengths of 512, 1, 2 and 1024 octets */
static const unsigned int test_partial[] = { 9, 0, 1, 10 };
#define TEST_PARTIAL_SIZE (512 + 1 + 2 + 1024)

/* A new-format packet whose body (the version octet, then size - 1 octets
   of filler) comes in partial chunks of 2^exponents[i] octets, then the
   rest with a regular length */
static void
test_packet_partial(buffer_t *buf, unsigned int tag, unsigned int version,
		    size_t size, const unsigned int *exponents,
		    unsigned int count)
{
	unsigned char *body = t_malloc0(I_MAX(size, 1));
	size_t pos = 0;
	unsigned int i;

	body[0] = version;
	buffer_append_c(buf, 0xc0 | tag);
	for (i = 0; i < count; i++) {
		buffer_append_c(buf, 224 + exponents[i]);
		buffer_append(buf, body + pos, (size_t)1 << exponents[i]);
		pos += (size_t)1 << exponents[i];
	}
	i_assert(pos <= size);
	test_length(buf, size - pos);
	buffer_append(buf, body + pos, size - pos);
}

static void
test_packet(buffer_t *buf, unsigned int tag, unsigned int version,
	    size_t size)
{
	test_packet_partial(buf, tag, version, size, NULL, 0);
}

/* A version 3 session key packet for key_id (hex) of 40 octets, its
   length in length_octets (1, 2 or 4) of an old-format header, or none
   (0: an indeterminate length) */
static void
test_pkesk(buffer_t *buf, const char *key_id, unsigned int length_octets)
{
	/* the length type is the lowest two bits of the tag octet */
	static const unsigned char old_length_type[] = { 3, 0, 1, 0, 2 };
	uint64_t id;
	unsigned int i;

	if (str_to_uint64_hex(key_id, &id) < 0)
		i_unreached();
	buffer_append_c(buf, 0x80 | (1 << 2) |
			old_length_type[length_octets]);
	for (i = length_octets; i > 1; i--)
		buffer_append_c(buf, 0);
	if (length_octets > 0)
		buffer_append_c(buf, 40);
	buffer_append_c(buf, 3);
	for (i = 8; i > 0; i--)
		buffer_append_c(buf, (id >> ((i - 1) * 8)) & 0xff);
	buffer_append_c(buf, 18);
	/* the encrypted session key: not looked at */
	buffer_append_zero(buf, 40 - 10);
}

/* A packet whose body (the version octet, then filler) comes with a
   regular length, or in partial chunks (test_partial) and then the rest:
   after a session key packet for alice, or before an encrypted data
   packet */
struct test_packet_case {
	const char *name;
	unsigned int tag, version;
	size_t size;
	bool partial;
	/* NULL: the check accepts it */
	const char *error;
};

static const struct test_packet_case test_after_pkesk_good[] = {
	/* partial body lengths, then a two- or five-octet length, or an
	   empty last chunk */
	{ "pgp check: partial lengths, then 2 octets",
	  18, 1, TEST_PARTIAL_SIZE + 300, TRUE, NULL },
	{ "pgp check: partial lengths, then 5 octets",
	  18, 1, TEST_PARTIAL_SIZE + 9000, TRUE, NULL },
	{ "pgp check: partial lengths, then 0",
	  18, 1, TEST_PARTIAL_SIZE, TRUE, NULL },
	/* gpg 2.3+ for keys that ask for AEAD */
	{ "pgp check: OCB encrypted data (tag 20)",
	  20, 1, TEST_PARTIAL_SIZE + 10, TRUE, NULL },
};

static const struct test_packet_case test_after_pkesk_bad[] = {
	{ "pgp check: literal data instead of encrypted", 11, 'b', 100, FALSE,
	  "literal (unencrypted) data packet (tag 11)" },
	{ "pgp check: compressed data instead of encrypted",
	  8, 0, TEST_PARTIAL_SIZE + 10, TRUE,
	  "compressed data packet (tag 8)" },
	{ "pgp check: encrypted data without integrity protection",
	  9, 0, 100, FALSE, "integrity protection packet (tag 9)" },
	{ "pgp check: encrypted data of version 2", 18, 2, 100, FALSE,
	  "encrypted data packet (tag 18) has version 2" },
	{ "pgp check: empty encrypted data packet", 18, 1, 0, FALSE,
	  "encrypted data packet (tag 18) has version 0" },
};

static const struct test_packet_case test_before_data_bad[] = {
	{ "pgp check: session key of version 6", 1, 6, 40, FALSE,
	  "has version 6 (only 3 is accepted)" },
	{ "pgp check: session key packet too short", 1, 3, 9, FALSE,
	  "is too short (9 octets)" },
	{ "pgp check: session key with a partial length",
	  1, 3, TEST_PARTIAL_SIZE + 10, TRUE, "has a partial body length" },
};

static void
test_packet_cases(const struct test_packet_case *cases, unsigned int count,
		  bool before_data)
{
	const struct test_key *one[] = { &alice, NULL };
	const char *ok = t_strconcat("OK: ", test_subkey(&alice, 0), NULL);
	unsigned int i;

	for (i = 0; i < count; i++) T_BEGIN {
		const struct test_packet_case *c = &cases[i];
		buffer_t *buf = t_buffer_create(2048);

		if (!before_data)
			test_pkesk(buf, test_subkey(&alice, 0), 1);
		test_packet_partial(buf, c->tag, c->version, c->size,
				    (c->partial ? test_partial : NULL),
				    (c->partial ?
				     N_ELEMENTS(test_partial) : 0));
		if (before_data)
			test_packet(buf, 18, 1, 100);
		test_check_output(c->name, one, buf,
				  (c->error == NULL ? ok : c->error));
	} T_END;
}

static void test_handmade_good(void)
{
	const struct test_key *one[] = { &alice, NULL };
	const char *ok = t_strconcat("OK: ", test_subkey(&alice, 0), NULL);
	unsigned int octets;
	buffer_t *buf;

	for (octets = 1; octets <= 4; octets *= 2) {
		buf = t_buffer_create(2048);
		test_pkesk(buf, test_subkey(&alice, 0), octets);
		test_packet(buf, 18, 1, 100);
		test_check_output(t_strdup_printf(
			"pgp check: session key with a %u-octet length",
			octets), one, buf, ok);
	}

	test_packet_cases(test_after_pkesk_good,
			  N_ELEMENTS(test_after_pkesk_good), FALSE);
}

static void test_handmade_bad(void)
{
	const struct test_key *one[] = { &alice, NULL };
	const struct test_key *two_subkeys[] = { &carol, NULL };
	const char *alice_sub = test_subkey(&alice, 0);
	buffer_t *buf;

	test_packet_cases(test_after_pkesk_bad,
			  N_ELEMENTS(test_after_pkesk_bad), FALSE);
	test_packet_cases(test_before_data_bad,
			  N_ELEMENTS(test_before_data_bad), TRUE);

	buf = t_buffer_create(2048);
	test_packet(buf, 3, 4, 30);
	test_pkesk(buf, alice_sub, 1);
	test_packet(buf, 18, 1, 100);
	test_check_output("pgp check: a passphrase session key", one, buf,
		"passphrase) encrypted session key packet (tag 3)");

	buf = t_buffer_create(2048);
	test_packet(buf, 18, 1, 100);
	test_check_output("pgp check: encrypted data without session key",
		one, buf, "follows no session key packet");

	/* an old-format indeterminate length runs to the end */
	buf = t_buffer_create(2048);
	test_pkesk(buf, alice_sub, 0);
	test_packet(buf, 18, 1, 100);
	test_check_output("pgp check: session key of indeterminate length",
		one, buf, "the output ends without an encrypted data packet");

	buf = t_buffer_create(2048);
	test_pkesk(buf, alice_sub, 1);
	buffer_append_c(buf, 0x12);
	test_check_output("pgp check: no packet after the session key", one,
		buf, "no OpenPGP packet at offset 42 (octet 0x12)");

	buf = t_buffer_create(2048);
	test_pkesk(buf, alice_sub, 1);
	test_packet(buf, 18, 1, 100);
	test_packet(buf, 18, 1, 100);
	test_check_output("pgp check: two encrypted data packets", one, buf,
		"data follows the encrypted data packet (at offset 144)");

	/* one session key per key, even when it has two subkeys */
	buf = t_buffer_create(2048);
	test_pkesk(buf, test_subkey(&carol, 0), 1);
	test_pkesk(buf, test_subkey(&carol, 1), 1);
	test_packet(buf, 18, 1, 100);
	test_check_output("pgp check: two session keys for one key",
		two_subkeys, buf, t_strdup_printf(
			"a second session key packet for key %s (subkey %s)",
			carol.primary, test_subkey(&carol, 1)));

	buf = t_buffer_create(2048);
	test_pkesk(buf, alice_sub, 1);
	buffer_append(buf, "\xd2\xff\xff\xff\xff\xff\x01", 7);
	test_check_output("pgp check: a 4 GiB data packet cut short", one,
		buf, "the output is truncated");
}

int main(void)
{
	static void (*const test_functions[])(void) = {
		test_keys_init,
		test_gpg_good,
		test_gpg_wrong_recipients,
		test_gpg_wrong_format,
		test_handmade_good,
		test_handmade_bad,
		test_keys_deinit,
		NULL
	};
	return test_run(test_functions);
}
