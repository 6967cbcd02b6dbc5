/* Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
 */

#ifndef SIEVE_ENCRYPT_KEYRING_H
#define SIEVE_ENCRYPT_KEYRING_H

#include "sieve-encrypt-gpg.h"

/* The public keyring file of a GnuPG home directory, chosen as gpg chooses
   its default keyring: pubring.gpg when it exists, unless pubring.kbx is a
   keybox that gpg 2.1 or later used for OpenPGP keys; else pubring.kbx.
   gpg gets this file alone (sieve-encrypt-gpg-exec.c), so nothing else in
   the directory is read.

   Returns OK with the file in path_r; NO_KEY (error_r set) when the
   directory or a keyring file in it does not exist: the user has no key;
   FAILED (error_r set) for everything else, e.g. a path with "..", a
   directory owned by another user, a directory or keyring writable by
   everyone, a keyring that cannot be read, is not a regular file or does
   not start as a keybox or keyring does. Runs with the delivery's
   effective ids, as gpg will. */
enum sieve_encrypt_gpg_status
sieve_encrypt_keyring_find(const char *home_dir, const char **path_r,
			   const char **error_r);

/* The keybox of a GnuPG home directory that gpgsm reads for X.509
   certificates: pubring.kbx, which gpg 2.1 and later share with gpgsm
   (gpgsm --import puts certificates there). The same checks and results
   as sieve_encrypt_keyring_find(). */
enum sieve_encrypt_gpg_status
sieve_encrypt_keyring_find_keybox(const char *home_dir, const char **path_r,
				  const char **error_r);

#endif
