/* Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
 */

#include "lib.h"

#include "sieve-encrypt-keyring.h"

#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>

/* A keybox file starts with its header blob: a 4-byte length, type 1, a
   version byte, 2 bytes of flags (0x02 in the second: OpenPGP keys), then
   "KBXf" (gnupg's kbx/keybox-blob.c, g10/keydb.c rt_from_file()) */
#define SIEVE_ENCRYPT_KEYBOX_HEADER_SIZE 12

static bool
sieve_encrypt_keybox_header(const unsigned char *header, ssize_t size)
{
	return (size >= SIEVE_ENCRYPT_KEYBOX_HEADER_SIZE && header[4] == 1 &&
		memcmp(header + 8, "KBXf", 4) == 0);
}

/* A legacy keyring (pubring.gpg) is a series of keys, each starting with
   a public key packet (tag 6): old format 0x98-0x9b, new format 0xc6 */
static bool sieve_encrypt_keyring_start(const unsigned char *header)
{
	return ((header[0] & 0xfc) == 0x98 || header[0] == 0xc6);
}

static bool sieve_encrypt_path_has_dotdot(const char *path)
{
	const char *p = path, *end;

	for (;;) {
		end = strchr(p, '/');
		if ((end == NULL ? strcmp(p, "..") == 0 :
		     (end - p == 2 && p[0] == '.' && p[1] == '.')))
			return TRUE;
		if (end == NULL)
			return FALSE;
		p = end + 1;
	}
}

static enum sieve_encrypt_gpg_status
sieve_encrypt_keyring_check_dir(const char *home_dir, const char **error_r)
{
	struct stat st;

	/* A user name or variable expanding to ".." must not lead into
	   another user's directory */
	if (sieve_encrypt_path_has_dotdot(home_dir)) {
		*error_r = t_strdup_printf(
			"keyring path %s contains a '..' component", home_dir);
		return SIEVE_ENCRYPT_GPG_FAILED;
	}
	if (stat(home_dir, &st) < 0) {
		if (errno == ENOENT) {
			*error_r = t_strdup_printf(
				"keyring directory %s does not exist",
				home_dir);
			return SIEVE_ENCRYPT_GPG_NO_KEY;
		}
		*error_r = t_strdup_printf("stat(%s) failed: %m", home_dir);
		return SIEVE_ENCRYPT_GPG_FAILED;
	}
	if (!S_ISDIR(st.st_mode)) {
		*error_r = t_strdup_printf("keyring %s is not a directory",
					   home_dir);
		return SIEVE_ENCRYPT_GPG_FAILED;
	}
	/* Only the user's own (or an administrator's) keyring decides where
	   the user's mail is encrypted to */
	if (st.st_uid != geteuid() && st.st_uid != 0) {
		*error_r = t_strdup_printf(
			"keyring %s is owned by uid %ld, not by the user "
			"(uid %ld) or root", home_dir, (long)st.st_uid,
			(long)geteuid());
		return SIEVE_ENCRYPT_GPG_FAILED;
	}
	/* Anyone could add a keyring there (gpg's own permission check,
	   which would warn, is off) */
	if ((st.st_mode & S_IWOTH) != 0) {
		*error_r = t_strdup_printf(
			"keyring directory %s is writable by everyone",
			home_dir);
		return SIEVE_ENCRYPT_GPG_FAILED;
	}
	/* With the effective ids (gpg's), not the real ones (LMTP: root) */
	if (faccessat(AT_FDCWD, home_dir, X_OK, AT_EACCESS) < 0) {
		*error_r = t_strdup_printf(
			"cannot read keyring directory %s: %m", home_dir);
		return SIEVE_ENCRYPT_GPG_FAILED;
	}
	return SIEVE_ENCRYPT_GPG_OK;
}

/* -1 on an error other than "does not exist" */
static int
sieve_encrypt_keyring_exists(const char *path, bool *exists_r,
			     const char **error_r)
{
	struct stat st;

	*exists_r = (stat(path, &st) == 0);
	if (*exists_r || errno == ENOENT)
		return 0;
	*error_r = t_strdup_printf("cannot read keyring %s: %m", path);
	return -1;
}

static bool sieve_encrypt_keyring_is_openpgp_keybox(const char *path)
{
	unsigned char header[SIEVE_ENCRYPT_KEYBOX_HEADER_SIZE];
	ssize_t ret;
	int fd;

	/* O_NONBLOCK: a FIFO must not block the delivery */
	fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return FALSE;
	ret = read(fd, header, sizeof(header));
	i_close_fd(&fd);
	return (sieve_encrypt_keybox_header(header, ret) &&
		(header[7] & 0x02) != 0);
}

/* gpg reports a keyring that is no keyring (a directory, an empty keybox,
   most garbage) as one without the key, and one that it cannot read
   differently by version: tell these apart first */
static enum sieve_encrypt_gpg_status
sieve_encrypt_keyring_check_file(const char *path, bool keybox,
				 const char **error_r)
{
	unsigned char header[SIEVE_ENCRYPT_KEYBOX_HEADER_SIZE];
	struct stat st;
	ssize_t size;
	int fd;

	fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		*error_r = t_strdup_printf("cannot read keyring %s: %m", path);
		return SIEVE_ENCRYPT_GPG_FAILED;
	}
	if (fstat(fd, &st) < 0) {
		*error_r = t_strdup_printf("fstat(%s) failed: %m", path);
		i_close_fd(&fd);
		return SIEVE_ENCRYPT_GPG_FAILED;
	}
	if (!S_ISREG(st.st_mode)) {
		*error_r = t_strdup_printf("keyring %s is not a regular file",
					   path);
		i_close_fd(&fd);
		return SIEVE_ENCRYPT_GPG_FAILED;
	}
	if ((st.st_mode & S_IWOTH) != 0) {
		*error_r = t_strdup_printf("keyring %s is writable by everyone",
					   path);
		i_close_fd(&fd);
		return SIEVE_ENCRYPT_GPG_FAILED;
	}
	size = read(fd, header, sizeof(header));
	i_close_fd(&fd);
	if (size < 0) {
		*error_r = t_strdup_printf("cannot read keyring %s: %m", path);
		return SIEVE_ENCRYPT_GPG_FAILED;
	}
	/* An empty pubring.gpg is an empty keyring (gpg 1 made them); gpg
	   never leaves a keybox without its header */
	if (keybox ? !sieve_encrypt_keybox_header(header, size) :
	    (size > 0 && !sieve_encrypt_keyring_start(header))) {
		*error_r = t_strdup_printf(
			"keyring %s is damaged: it does not start as %s does",
			path, (keybox ? "a keybox" : "an OpenPGP keyring"));
		return SIEVE_ENCRYPT_GPG_FAILED;
	}
	return SIEVE_ENCRYPT_GPG_OK;
}

enum sieve_encrypt_gpg_status
sieve_encrypt_keyring_find(const char *home_dir, const char **path_r,
			   const char **error_r)
{
	enum sieve_encrypt_gpg_status status;
	const char *kbx, *ring;
	bool kbx_exists, ring_exists;

	status = sieve_encrypt_keyring_check_dir(home_dir, error_r);
	if (status != SIEVE_ENCRYPT_GPG_OK)
		return status;

	kbx = t_strconcat(home_dir, "/pubring.kbx", NULL);
	ring = t_strconcat(home_dir, "/pubring.gpg", NULL);
	if (sieve_encrypt_keyring_exists(ring, &ring_exists, error_r) < 0 ||
	    sieve_encrypt_keyring_exists(kbx, &kbx_exists, error_r) < 0)
		return SIEVE_ENCRYPT_GPG_FAILED;
	if (!ring_exists && !kbx_exists) {
		*error_r = t_strdup_printf(
			"no public keyring (pubring.kbx or pubring.gpg) in %s",
			home_dir);
		return SIEVE_ENCRYPT_GPG_NO_KEY;
	}
	/* gpg 2.1+ keeps using pubring.gpg beside a keybox of its own only
	   when that keybox holds no OpenPGP keys */
	if (ring_exists &&
	    !(kbx_exists && sieve_encrypt_keyring_is_openpgp_keybox(kbx))) {
		*path_r = ring;
		return sieve_encrypt_keyring_check_file(ring, FALSE, error_r);
	}
	*path_r = kbx;
	return sieve_encrypt_keyring_check_file(kbx, TRUE, error_r);
}

enum sieve_encrypt_gpg_status
sieve_encrypt_keyring_find_keybox(const char *home_dir, const char **path_r,
				  const char **error_r)
{
	enum sieve_encrypt_gpg_status status;
	const char *kbx;
	bool exists;

	status = sieve_encrypt_keyring_check_dir(home_dir, error_r);
	if (status != SIEVE_ENCRYPT_GPG_OK)
		return status;
	kbx = t_strconcat(home_dir, "/pubring.kbx", NULL);
	if (sieve_encrypt_keyring_exists(kbx, &exists, error_r) < 0)
		return SIEVE_ENCRYPT_GPG_FAILED;
	if (!exists) {
		*error_r = t_strdup_printf("no keybox (pubring.kbx) with "
					   "certificates in %s", home_dir);
		return SIEVE_ENCRYPT_GPG_NO_KEY;
	}
	*path_r = kbx;
	return sieve_encrypt_keyring_check_file(kbx, TRUE, error_r);
}
