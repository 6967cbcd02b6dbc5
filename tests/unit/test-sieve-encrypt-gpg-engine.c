/* Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
 */

#include "lib.h"
#include "test-common.h"

#include "sieve-encrypt-gpg-exec.h"
#include "sieve-encrypt-gpg-engine.h"
#include "sieve-encrypt-groups.h"

#include <malloc.h>
#include <stdlib.h>

#define TEST_GPG "/usr/bin/gpg"
#define TEST_ENV_CALLS 5000
/* Heap growth per call that is no leak: valgrind counts some of the
   freed blocks it holds back as in use (about 20 bytes per call here).
   A leak is more: setenv() kept about 200 bytes per call. */
#define TEST_ENV_MAX_GROWTH_PER_CALL 64

/* Bytes of the heap in use. mallinfo(), not mallinfo2(): valgrind (which
   runs the unit tests) answers only mallinfo() for its own heap. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
static size_t test_heap_in_use(void)
{
	return (size_t)(unsigned int)mallinfo().uordblks;
}
#pragma GCC diagnostic pop

static void test_env_push_pop(void)
{
	struct sieve_encrypt_gpg_run run = {
		.gpg = TEST_GPG,
		.keyring = "/home/alice/.gnupg/pubring.kbx",
		.deadline = { .tv_sec = 12, .tv_nsec = 3456 },
	};
	struct sieve_encrypt_gpg_engine_env *env;

	test_begin("gpg engine environment: push and pop");
	test_assert(setenv(SIEVE_ENCRYPT_GPG_EXEC_ENV_GPG, "before", 1) == 0);
	test_assert(unsetenv(SIEVE_ENCRYPT_GPG_EXEC_ENV_KEYRING) == 0);
	test_assert(setenv(SIEVE_ENCRYPT_GPG_EXEC_ENV_ALLOWED_GROUPS, "7",
			   1) == 0);

	env = sieve_encrypt_gpg_engine_env_push(&run);
	test_assert_strcmp(getenv(SIEVE_ENCRYPT_GPG_EXEC_ENV_GPG), TEST_GPG);
	test_assert_strcmp(getenv(SIEVE_ENCRYPT_GPG_EXEC_ENV_KEYRING),
			   run.keyring);
	test_assert_strcmp(getenv(SIEVE_ENCRYPT_GPG_EXEC_ENV_DEADLINE),
			   "12.000003456");
	test_assert(getenv(SIEVE_ENCRYPT_GPG_EXEC_ENV_ALLOWED_GROUPS) == NULL);

	sieve_encrypt_gpg_engine_env_pop(&env);
	test_assert(env == NULL);
	test_assert_strcmp(getenv(SIEVE_ENCRYPT_GPG_EXEC_ENV_GPG), "before");
	test_assert(getenv(SIEVE_ENCRYPT_GPG_EXEC_ENV_KEYRING) == NULL);
	test_assert(getenv(SIEVE_ENCRYPT_GPG_EXEC_ENV_DEADLINE) == NULL);
	test_assert_strcmp(getenv(SIEVE_ENCRYPT_GPG_EXEC_ENV_ALLOWED_GROUPS),
			   "7");

	test_assert(unsetenv(SIEVE_ENCRYPT_GPG_EXEC_ENV_GPG) == 0);
	test_assert(unsetenv(SIEVE_ENCRYPT_GPG_EXEC_ENV_ALLOWED_GROUPS) == 0);
	test_end();
}

/* An LMTP process lives for many deliveries, each with a deadline of its
   own and many with a keyring of their own: the environment must not keep
   anything of them (glibc's setenv() keeps every value it was given) */
static void test_env_no_growth(void)
{
	struct sieve_encrypt_gpg_run run = {
		.gpg = TEST_GPG,
	};
	struct sieve_encrypt_gpg_engine_env *env;
	size_t before, after;
	unsigned int i;

	test_begin("gpg engine environment: nothing kept per call");
	run.keyring = "/home/warm-up/.gnupg/pubring.kbx";
	env = sieve_encrypt_gpg_engine_env_push(&run);
	sieve_encrypt_gpg_engine_env_pop(&env);

	before = test_heap_in_use();
	for (i = 0; i < TEST_ENV_CALLS; i++) T_BEGIN {
		run.keyring = t_strdup_printf(
			"/home/user%u/.gnupg/pubring.kbx", i);
		sieve_encrypt_gpg_deadline_in(60000, &run.deadline);
		run.deadline.tv_nsec = i;
		env = sieve_encrypt_gpg_engine_env_push(&run);
		sieve_encrypt_gpg_engine_env_pop(&env);
	} T_END;
	after = test_heap_in_use();
	test_assert(after < before +
		    TEST_ENV_CALLS * TEST_ENV_MAX_GROWTH_PER_CALL);
	if (after >= before + TEST_ENV_CALLS * TEST_ENV_MAX_GROWTH_PER_CALL) {
		i_error("the heap grew by %zu bytes in %u calls",
			after - before, TEST_ENV_CALLS);
	}
	test_end();
}

/* The gid list the plugin passes to sieve-encrypt-gpg-exec reads back */
static void test_groups_format_parse(void)
{
	static const gid_t groups[] = { 1000, 8, 0, 4294967294U };
	static const char *const bad[] = {
		"x", "1x", "-1", "4294967296", "1,2", NULL
	};
	unsigned int i;
	gid_t *parsed;
	char *str;
	int count;

	test_begin("groups: format and parse");
	str = sieve_encrypt_groups_format(groups, N_ELEMENTS(groups));
	test_assert_strcmp(str, "1000 8 0 4294967294");
	parsed = sieve_encrypt_groups_parse(str, &count);
	test_assert(parsed != NULL && count == (int)N_ELEMENTS(groups) &&
		    memcmp(parsed, groups, sizeof(groups)) == 0);
	free(parsed);
	free(str);

	str = sieve_encrypt_groups_format(groups, 0);
	test_assert_strcmp(str, "");
	parsed = sieve_encrypt_groups_parse(str, &count);
	test_assert(parsed != NULL && count == 0);
	free(parsed);
	free(str);

	for (i = 0; bad[i] != NULL; i++) {
		errno = 0;
		test_assert_idx(sieve_encrypt_groups_parse(bad[i], &count) ==
				NULL && errno == EINVAL, i);
	}
	test_assert(sieve_encrypt_groups_contain(groups, N_ELEMENTS(groups), 0));
	test_assert(!sieve_encrypt_groups_contain(groups, 2, 0));
	test_end();
}

int main(void)
{
	static void (*const test_functions[])(void) = {
		test_env_push_pop,
		test_env_no_growth,
		test_groups_format_parse,
		NULL
	};
	return test_run(test_functions);
}
