/* Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
 */

#ifndef SIEVE_ENCRYPT_GPG_ENGINE_H
#define SIEVE_ENCRYPT_GPG_ENGINE_H

#include <time.h>

/* gpgme's OpenPGP engine is sieve-encrypt-gpg-exec (the setting
   sieve_encrypt_gpg_exec), never gpg itself: it drops to the mail user's
   ids, runs gpg on the user's keyring file only and kills gpg at the
   deadline (see sieve-encrypt-gpg-exec.c). What it runs is passed in the
   environment around each gpgme call that starts it. */

/* One start of the engine */
struct sieve_encrypt_gpg_run {
	/* the real gpg (absolute path) */
	const char *gpg;
	/* the public keyring file; NULL only for gpgme's version check */
	const char *keyring;
	/* when gpg is killed (CLOCK_MONOTONIC) */
	struct timespec deadline;
	/* the mail user's own gids, separated by spaces, the primary one
	   first (sieve_encrypt_gpg_engine_check_ids()) */
	const char *user_gids;
	/* gids (separated by spaces) that gpg may keep besides the user's
	   own where they cannot be dropped; NULL or "": none */
	const char *allowed_gids;
	/* gpg is gpgsm (SIEVE_ENCRYPT_GPG_EXEC_CMS) */
	bool cms;
};

struct sieve_encrypt_gpg_engine_env;

/* Refuse to run gpg for root: effective uid or gid 0, or group 0 among
   the supplementary groups; and where the groups cannot be dropped, for
   a group that is neither the user's own nor among allowed_gids (gids
   separated by spaces). The engine would refuse too, less clearly.
   Returns 0 with the mail user's own gids in user_gids_r (for the
   engine), or -1 with error_r naming the cause. */
int sieve_encrypt_gpg_engine_check_ids(const char *allowed_gids,
				       const char **user_gids_r,
				       const char **error_r);

/* Make exec_path gpgme's OpenPGP engine for every context of this
   process. gpgme runs an engine once with --version when it becomes the
   engine (once per process, and again when the setting changes); that run
   gets gpg, user_gids, allowed_gids and a deadline timeout_msecs from
   now. Returns 0, or -1 with error_r set. */
int sieve_encrypt_gpg_engine_use(const char *exec_path, const char *gpg,
				 const char *user_gids,
				 const char *allowed_gids,
				 unsigned int timeout_msecs,
				 const char **error_r);

/* Put run into the environment for the gpgme call that starts the engine
   (the delivery process is single-threaded); _pop() restores what was
   there before. */
struct sieve_encrypt_gpg_engine_env *
sieve_encrypt_gpg_engine_env_push(const struct sieve_encrypt_gpg_run *run);
void sieve_encrypt_gpg_engine_env_pop(struct sieve_encrypt_gpg_engine_env **env);

/* now + msecs on CLOCK_MONOTONIC */
void sieve_encrypt_gpg_deadline_in(unsigned int msecs,
				   struct timespec *deadline_r);

#endif
