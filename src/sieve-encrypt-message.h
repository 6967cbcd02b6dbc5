/* Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
 */

#ifndef SIEVE_ENCRYPT_MESSAGE_H
#define SIEVE_ENCRYPT_MESSAGE_H

#include "sieve-encrypt-gpg-io.h"
#include "sieve-encrypt-format.h"

enum sieve_encrypt_outcome {
	/* The Sieve message was replaced by its PGP/MIME form */
	SIEVE_ENCRYPT_DONE,
	/* The message was encrypted as a whole already; left as it is */
	SIEVE_ENCRYPT_ALREADY,
	/* No keyring, or a key spec matched no usable key */
	SIEVE_ENCRYPT_NO_KEY,
	/* gpg, temporary storage or message substitution failed */
	SIEVE_ENCRYPT_FAILED,
	/* The message itself could not be read */
	SIEVE_ENCRYPT_MAIL_ERROR,
};

struct sieve_encrypt_report {
	const char *error;	/* set unless DONE or ALREADY */
	/* set when DONE: the keys' ids, with the subkeys used
	   (sieve_encrypt_gpg_key_ids()) */
	const char *key_ids;
	uoff_t plain_size, encrypted_size;
	unsigned int msecs;
	/* set when DONE: how the data moved past or through gpgme */
	struct sieve_encrypt_gpg_traffic traffic;
};

/* Encrypt the message under evaluation to the given keys, in the keyring
   that the settings name, in the format and with the header protection
   that options say, and substitute the result for it so that later
   actions and the implicit keep store the encrypted message.

   With sieve_encrypt_status_header set, the encrypted message carries the
   field "encrypted"; a message left in clear gets it on top of its header
   (substituted as well) when it is stored: "already-encrypted" (unless
   this delivery encrypted it), "no-key" (for the test form, is_test, or
   with sieve_encrypt_on_failure=keep), "failed" (keep). */
enum sieve_encrypt_outcome
sieve_encrypt_message(const struct sieve_runtime_env *renv,
		      const struct sieve_encrypt_settings *set,
		      const struct sieve_encrypt_options *options,
		      const char *const *keys, bool is_test,
		      struct sieve_encrypt_report *report_r);

#endif
