/* Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
 */

#ifndef SIEVE_ENCRYPT_KEYCACHE_H
#define SIEVE_ENCRYPT_KEYCACHE_H

#include <gpgme.h>

/* The key listings of this process (an LMTP process delivers many
   messages), so that a delivery to a user seen before runs gpg once, for
   the encryption, not for the key listing as well.

   A listing is reused only for the same request: the same keyring path,
   gpg program and key patterns, the same effective uid and gid, and the
   keyring file unchanged: its device, inode, size, modification and
   status change times (nanoseconds) as at the listing. Any change to the
   file (gpg writes keyrings through a new file and a rename) lists again.
   What changes with time alone ends a listing's use: it is not reused at
   or after the earliest future expiry or creation time of a listed key or
   subkey, nor SIEVE_ENCRYPT_KEYCACHE_MAX_AGE_SECS after it was made (for
   what no listed field shows, e.g. an expiring user id signature, or
   /etc/gnupg/gpg.conf). Only listings that succeeded are kept; they stay
   until the process ends (the plugin is never unloaded, see
   src/Makefile.am). */

#define SIEVE_ENCRYPT_KEYCACHE_MAX_AGE_SECS 600
/* The listings kept; the oldest goes first */
#define SIEVE_ENCRYPT_KEYCACHE_MAX_ENTRIES 256

/* What a listing is for (the keyring is stat()ed here) */
struct sieve_encrypt_keycache_request {
	const char *keyring;
	const char *gpg_binary;
	/* the patterns given to gpg, NULL-terminated */
	const char *const *patterns;
};

struct sieve_encrypt_keycache_stamp;

/* The keys listed for req before, if they may be used now: TRUE with the
   keys in keys_r/count_r (the cache's references, valid until the next
   call of this API: take a reference to keep one). FALSE when the request
   must be listed by gpg: then stamp_r is what the keyring file was before
   the listing, for sieve_encrypt_keycache_store() (NULL if the file
   cannot be stat()ed: then nothing is stored). */
bool sieve_encrypt_keycache_lookup(
	const struct sieve_encrypt_keycache_request *req,
	gpgme_key_t const **keys_r, unsigned int *count_r,
	struct sieve_encrypt_keycache_stamp **stamp_r);

/* Keep the keys of a successful listing of req (taking references), when
   the keyring file is still what stamp says; frees the stamp. */
void sieve_encrypt_keycache_store(
	const struct sieve_encrypt_keycache_request *req,
	struct sieve_encrypt_keycache_stamp **stamp,
	gpgme_key_t const *keys, unsigned int count);
void sieve_encrypt_keycache_stamp_free(
	struct sieve_encrypt_keycache_stamp **stamp);

#endif
