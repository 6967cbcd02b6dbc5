/* Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
 */

#include "lib.h"
#include "unlink-directory.h"
#include "test-common.h"

#include "sieve-encrypt-keyring.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/stat.h>

/* The header blob of a keybox that holds OpenPGP keys */
static const unsigned char test_keybox_header[] = {
	0x00, 0x00, 0x00, 0x20, 0x01, 0x01, 0x00, 0x02, 'K', 'B', 'X', 'f'
};

static const char *test_dir;

static void test_write_file(const char *path, const void *data, size_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0)
		i_fatal("open(%s) failed: %m", path);
	if (write(fd, data, size) != (ssize_t)size)
		i_fatal("write(%s) failed: %m", path);
	i_close_fd(&fd);
}

/* A fresh GnuPG home (mode 0700) in the test directory */
static const char *test_home(const char *name)
{
	const char *home = t_strdup_printf("%s/%s", test_dir, name);

	if (mkdir(home, 0700) < 0)
		i_fatal("mkdir(%s) failed: %m", home);
	return home;
}

static enum sieve_encrypt_gpg_status
test_find(const char *home, const char **path_r, const char **error_r)
{
	*path_r = NULL;
	*error_r = NULL;
	return sieve_encrypt_keyring_find(home, path_r, error_r);
}

static void test_keyring_find(void)
{
	const char *home, *path, *error;

	test_begin("keyring: a keybox is found, its absence is no key");
	home = test_home("good");
	test_assert(test_find(home, &path, &error) == SIEVE_ENCRYPT_GPG_NO_KEY);
	test_write_file(t_strconcat(home, "/pubring.kbx", NULL),
			test_keybox_header, sizeof(test_keybox_header));
	test_assert(test_find(home, &path, &error) == SIEVE_ENCRYPT_GPG_OK);
	test_assert_strcmp(path, t_strconcat(home, "/pubring.kbx", NULL));
	test_assert(test_find(t_strconcat(test_dir, "/missing", NULL),
			      &path, &error) == SIEVE_ENCRYPT_GPG_NO_KEY);
	test_end();

	test_begin("keyring: garbage is a failure");
	home = test_home("garbage");
	test_write_file(t_strconcat(home, "/pubring.kbx", NULL),
			"garbage, not a keybox", 21);
	test_assert(test_find(home, &path, &error) ==
		    SIEVE_ENCRYPT_GPG_FAILED);
	test_assert(error != NULL && strstr(error, "damaged") != NULL);
	test_end();
}

/* Anyone could put a key there, and the user's mail would be encrypted
   to it */
static void test_keyring_writable_by_everyone(void)
{
	const char *home, *path, *error;

	test_begin("keyring: a directory writable by everyone is refused");
	home = test_home("open-dir");
	test_write_file(t_strconcat(home, "/pubring.kbx", NULL),
			test_keybox_header, sizeof(test_keybox_header));
	if (chmod(home, 01777) < 0)
		i_fatal("chmod(%s) failed: %m", home);
	test_assert(test_find(home, &path, &error) ==
		    SIEVE_ENCRYPT_GPG_FAILED);
	test_assert(error != NULL &&
		    strstr(error, "writable by everyone") != NULL);
	test_end();

	test_begin("keyring: a keyring writable by everyone is refused");
	home = test_home("open-file");
	path = t_strconcat(home, "/pubring.kbx", NULL);
	test_write_file(path, test_keybox_header, sizeof(test_keybox_header));
	if (chmod(path, 0666) < 0)
		i_fatal("chmod(%s) failed: %m", path);
	test_assert(test_find(home, &path, &error) ==
		    SIEVE_ENCRYPT_GPG_FAILED);
	test_assert(error != NULL &&
		    strstr(error, "writable by everyone") != NULL);
	test_end();
}

int main(void)
{
	static void (*const test_functions[])(void) = {
		test_keyring_find,
		test_keyring_writable_by_everyone,
		NULL
	};
	const char *tmpdir = getenv("TMPDIR"), *error;
	char *dir;
	int ret;

	lib_init();
	dir = i_strdup_printf("%s/test-sieve-encrypt-keyring.XXXXXX",
			      (tmpdir == NULL ? "/tmp" : tmpdir));
	if (mkdtemp(dir) == NULL)
		i_fatal("mkdtemp(%s) failed: %m", dir);
	test_dir = dir;
	ret = test_run(test_functions);
	if (unlink_directory(dir, UNLINK_DIRECTORY_FLAG_RMDIR, &error) < 0)
		i_error("%s", error);
	i_free(dir);
	lib_deinit();
	return ret;
}
