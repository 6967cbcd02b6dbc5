/* Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
 */

#ifndef SIEVE_ENCRYPT_GPG_H
#define SIEVE_ENCRYPT_GPG_H

/* OpenPGP through gpgme: resolve key specifications against one keyring and
   stream a MIME entity through gpg into ASCII-armored ciphertext. */

enum sieve_encrypt_key_type {
	SIEVE_ENCRYPT_KEY_INVALID = 0,
	SIEVE_ENCRYPT_KEY_FINGERPRINT,
	SIEVE_ENCRYPT_KEY_KEYID,
	SIEVE_ENCRYPT_KEY_ADDRESS,
};

enum sieve_encrypt_gpg_status {
	/* Keys found and usable, or encryption done */
	SIEVE_ENCRYPT_GPG_OK = 1,
	/* A key spec matched no usable key (none, expired, revoked, ...) */
	SIEVE_ENCRYPT_GPG_NO_KEY = 0,
	/* Everything else: gpg/gpgme, keyring or stream failure */
	SIEVE_ENCRYPT_GPG_FAILED = -1,
};

struct sieve_encrypt_gpg;

struct sieve_encrypt_gpg_params {
	/* GnuPG home with the recipients' public keys */
	const char *home_dir;
	/* the real gpg program (absolute path) */
	const char *gpg_binary;
	/* sieve-encrypt-gpg-exec, which gpgme starts to run gpg */
	const char *exec_path;
	/* gids (separated by spaces) that gpg may keep besides the user's
	   own where they cannot be dropped */
	const char *allowed_gids;
	/* deadline for each gpg run (key listing, encryption) */
	unsigned int timeout_secs;
	/* let gpg compress before encrypting */
	bool compress;
};

/* Once per process, before anything else. */
void sieve_encrypt_gpg_global_init(void);

/* Classify a key specification: a fingerprint (40 or 64 hex digits,
   optionally with "0x" and spaces between groups), a long key id (16 hex
   digits, optionally with "0x") or an e-mail address. The normalized form
   (upper-case hex, or the address) is returned in normalized_r. */
enum sieve_encrypt_key_type
sieve_encrypt_key_spec_parse(const char *spec, const char **normalized_r);

/* Check that every spec is a valid key specification and that there is
   at least one. Returns 0, or -1 with error_r naming the bad spec. */
int sieve_encrypt_key_specs_check(const char *const *specs,
				  const char **error_r);

/* Bind to the keyring in params->home_dir (see sieve_encrypt_keyring_find()).
   Returns NO_KEY when there is none, FAILED on other errors and when the
   delivery runs with root ids (error_r set). */
enum sieve_encrypt_gpg_status
sieve_encrypt_gpg_create(const struct sieve_encrypt_gpg_params *params,
			     struct sieve_encrypt_gpg **gpg_r,
			     const char **error_r);
void sieve_encrypt_gpg_destroy(struct sieve_encrypt_gpg **gpg);

/* Find the usable keys for all specs in one keyring scan. On NO_KEY or
   FAILED, error_r names the key spec and the cause. */
enum sieve_encrypt_gpg_status
sieve_encrypt_gpg_find_keys(struct sieve_encrypt_gpg *gpg,
			    const char *const *specs, const char **error_r);

/* The 16-digit key ids of the found keys, separated by ", " (for logging).
   After a successful encryption each is followed by " (subkey ID)" with
   the subkey that the message was encrypted to, unless that is the
   primary key itself. */
const char *sieve_encrypt_gpg_key_ids(struct sieve_encrypt_gpg *gpg);

/* Encrypt all of input to the found keys, writing ASCII armor to output
   (with CRLF line ends when crlf is TRUE). Returns OK or FAILED; FAILED
   also when gpg's output is not a message encrypted to exactly these
   keys (sieve-encrypt-pgp-check.h). */
enum sieve_encrypt_gpg_status
sieve_encrypt_gpg_encrypt(struct sieve_encrypt_gpg *gpg,
			  struct istream *input, struct ostream *output,
			  bool crlf, const char **error_r);

/* Let the armor of the encryptions that follow say that the plaintext is
   in charset (an armor header "Charset: <charset>", see
   sieve_encrypt_armor_begin_charset()); NULL: no such header, the
   default. */
void sieve_encrypt_gpg_set_armor_charset(struct sieve_encrypt_gpg *gpg,
					 const char *charset);

/* How the data of the last encryption moved: past gpgme (the fast path)
   or through it (see sieve-encrypt-gpg-io.h) */
struct sieve_encrypt_gpg_traffic;
const struct sieve_encrypt_gpg_traffic *
sieve_encrypt_gpg_traffic(const struct sieve_encrypt_gpg *gpg);

#endif
