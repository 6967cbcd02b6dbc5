/* Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
 */

#include "lib.h"
#include "test-common.h"

#include "sieve-encrypt-gpg.h"

static void test_key_spec_parse(void)
{
	static const struct {
		const char *spec;
		enum sieve_encrypt_key_type type;
		const char *normalized;
	} tests[] = {
		{ "65DD9A083FDAA70CD2AF0A7F5E5BE640379ACA86",
		  SIEVE_ENCRYPT_KEY_FINGERPRINT,
		  "65DD9A083FDAA70CD2AF0A7F5E5BE640379ACA86" },
		{ "0x65dd9a083fdaa70cd2af0a7f5e5be640379aca86",
		  SIEVE_ENCRYPT_KEY_FINGERPRINT,
		  "65DD9A083FDAA70CD2AF0A7F5E5BE640379ACA86" },
		{ "65DD 9A08 3FDA A70C D2AF  0A7F 5E5B E640 379A CA86",
		  SIEVE_ENCRYPT_KEY_FINGERPRINT,
		  "65DD9A083FDAA70CD2AF0A7F5E5BE640379ACA86" },
		{ "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		  SIEVE_ENCRYPT_KEY_FINGERPRINT,
		  "0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF" },
		{ "5E5BE640379ACA86", SIEVE_ENCRYPT_KEY_KEYID,
		  "5E5BE640379ACA86" },
		{ "0x5e5be640379aca86", SIEVE_ENCRYPT_KEY_KEYID,
		  "5E5BE640379ACA86" },
		{ "alice@example.org", SIEVE_ENCRYPT_KEY_ADDRESS,
		  "alice@example.org" },
		{ "Alice.Smith+tag@Example.ORG", SIEVE_ENCRYPT_KEY_ADDRESS,
		  "Alice.Smith+tag@Example.ORG" },
		{ "5E5B E640 379A CA86", SIEVE_ENCRYPT_KEY_INVALID, NULL },
		{ "0x0123456789ABCDEF0", SIEVE_ENCRYPT_KEY_INVALID, NULL },
		{ "ABCDEF", SIEVE_ENCRYPT_KEY_INVALID, NULL },
		{ "", SIEVE_ENCRYPT_KEY_INVALID, NULL },
		{ "alice", SIEVE_ENCRYPT_KEY_INVALID, NULL },
		{ "Alice Example", SIEVE_ENCRYPT_KEY_INVALID, NULL },
		{ "Alice <alice@example.org>", SIEVE_ENCRYPT_KEY_INVALID, NULL },
		{ "<alice@example.org>", SIEVE_ENCRYPT_KEY_INVALID, NULL },
		{ "alice@example.org\n--hidden", SIEVE_ENCRYPT_KEY_INVALID, NULL },
		{ "@example.org", SIEVE_ENCRYPT_KEY_INVALID, NULL },
		{ "alice@", SIEVE_ENCRYPT_KEY_INVALID, NULL },
		{ "-r alice@example.org", SIEVE_ENCRYPT_KEY_INVALID, NULL },
	};
	unsigned int i;

	test_begin("key spec parse");
	for (i = 0; i < N_ELEMENTS(tests); i++) T_BEGIN {
		const char *normalized;
		enum sieve_encrypt_key_type type =
			sieve_encrypt_key_spec_parse(tests[i].spec,
						     &normalized);

		test_assert_idx(type == tests[i].type, i);
		test_assert_strcmp_idx(normalized, tests[i].normalized, i);
	} T_END;
	test_end();
}

int main(void)
{
	static void (*const test_functions[])(void) = {
		test_key_spec_parse,
		NULL
	};
	return test_run(test_functions);
}
