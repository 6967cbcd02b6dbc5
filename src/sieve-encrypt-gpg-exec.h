/* Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
 */

#ifndef SIEVE_ENCRYPT_GPG_EXEC_H
#define SIEVE_ENCRYPT_GPG_EXEC_H

/* What the plugin and sieve-encrypt-gpg-exec, the program that gpgme
   starts in place of gpg (see sieve-encrypt-gpg-exec.c), agree on. The
   plugin puts these variables into its environment around each gpgme call
   that starts the program. */

/* The absolute path of the real gpg */
#define SIEVE_ENCRYPT_GPG_EXEC_ENV_GPG "SIEVE_ENCRYPT_GPG"
/* The absolute path of the public keyring file (pubring.kbx or
   pubring.gpg); needed for everything but "--version" */
#define SIEVE_ENCRYPT_GPG_EXEC_ENV_KEYRING "SIEVE_ENCRYPT_GPG_KEYRING"
/* When gpg is killed: CLOCK_MONOTONIC time as "SECONDS.NANOSECONDS" */
#define SIEVE_ENCRYPT_GPG_EXEC_ENV_DEADLINE "SIEVE_ENCRYPT_GPG_DEADLINE"
/* The mail user's own gids, separated by spaces, the primary one first:
   what gpg gets where the program can set the groups */
#define SIEVE_ENCRYPT_GPG_EXEC_ENV_USER_GROUPS "SIEVE_ENCRYPT_GPG_USER_GROUPS"
/* The gids, separated by spaces, that gpg may keep besides the user's
   own where the program cannot drop them (sieve_encrypt_gpg_allowed_groups);
   unset or empty: none */
#define SIEVE_ENCRYPT_GPG_EXEC_ENV_ALLOWED_GROUPS \
	"SIEVE_ENCRYPT_GPG_ALLOWED_GROUPS"

/* Set to "1": run gpgsm (S/MIME, CMS) instead of gpg, with gpgsm's fixed
   options, and report its exit code (SIEVE_ENCRYPT_GPG_EXEC_STATUS_EXIT)
   on the status channel, which gpgme's spawn engine cannot see */
#define SIEVE_ENCRYPT_GPG_EXEC_ENV_CMS "SIEVE_ENCRYPT_GPG_EXEC_CMS"

/* The status line keyword (on gpg's --status-fd) with which the program
   says why it did not run gpg; the reason follows it */
#define SIEVE_ENCRYPT_GPG_EXEC_STATUS_REFUSED "SIEVE_ENCRYPT_GPG_EXEC_REFUSED"

/* The status line keyword with which the program reports gpgsm's exit
   code, or 128 + the signal that ended it, when it has reaped it */
#define SIEVE_ENCRYPT_GPG_EXEC_STATUS_EXIT "SIEVE_ENCRYPT_GPG_EXEC_EXIT"

/* Exit codes of the program when it did not run gpg */
#define SIEVE_ENCRYPT_GPG_EXEC_EXIT_REFUSED 126
#define SIEVE_ENCRYPT_GPG_EXEC_EXIT_NOEXEC 127

#endif
