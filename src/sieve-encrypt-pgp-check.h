/* Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
 */

#ifndef SIEVE_ENCRYPT_PGP_CHECK_H
#define SIEVE_ENCRYPT_PGP_CHECK_H

/* Checks that what gpg wrote is the encryption that was asked for before it
   is used: a binary OpenPGP message (RFC 4880 packets) made of one
   public-key encrypted session key packet (version 3) per requested key,
   each for one of that key's encryption subkeys and none for anything
   else, followed by exactly one integrity-protected encrypted data packet
   (tag 18 version 1, or tag 20 version 1 as gpg 2.3+ writes for keys that
   ask for AEAD) that ends where the output ends. The output is fed in
   pieces as it arrives and is never buffered. */

struct sieve_encrypt_pgp_check;

struct sieve_encrypt_pgp_check *sieve_encrypt_pgp_check_create(void);
void sieve_encrypt_pgp_check_free(struct sieve_encrypt_pgp_check **check);

/* Expect one session key packet for the key called name (its primary key
   id, for errors and the log) for any one of the (sub)keys whose 16-digit
   hex key ids are in the NULL-terminated key_ids: gpg picks one encryption
   subkey per key. Call for every key before feeding any output. */
void sieve_encrypt_pgp_check_expect(struct sieve_encrypt_pgp_check *check,
				    const char *name,
				    const char *const *key_ids);

/* The next piece of gpg's output */
void sieve_encrypt_pgp_check_feed(struct sieve_encrypt_pgp_check *check,
				  const void *data, size_t size);

/* After all of the output: returns 0 when it was the encryption asked for,
   else -1 with error_r saying what was wrong. */
int sieve_encrypt_pgp_check_finish(struct sieve_encrypt_pgp_check *check,
				   const char **error_r);

/* After a successful finish: the 16-digit hex key id of the (sub)key that
   the session key packet for the idx-th expected key was for */
const char *
sieve_encrypt_pgp_check_used_key_id(const struct sieve_encrypt_pgp_check *check,
				    unsigned int idx);

#endif
