/* Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
 */

#ifndef SIEVE_ENCRYPT_STATUS_H
#define SIEVE_ENCRYPT_STATUS_H

/* The status header field (sieve_encrypt_status_header): one field of
   the stored message that says what encrypt did with it. Its value is one
   of the words below, nothing else: no key, no address, no error text. */
enum sieve_encrypt_status {
	/* encrypt stored the message encrypted */
	SIEVE_ENCRYPT_STATUS_ENCRYPTED,
	/* the message was encrypted as a whole already (by the sender) */
	SIEVE_ENCRYPT_STATUS_ALREADY_ENCRYPTED,
	/* no usable key: the message is in clear */
	SIEVE_ENCRYPT_STATUS_NO_KEY,
	/* the encryption failed: the message is in clear */
	SIEVE_ENCRYPT_STATUS_FAILED,
};

/* The longest name accepted: the field with its longest value stays
   within the 78 characters of a line that RFC 5322 recommends */
#define SIEVE_ENCRYPT_STATUS_HEADER_MAX_NAME 58

/* The field's value for the status */
const char *sieve_encrypt_status_value(enum sieve_encrypt_status status);

/* TRUE when name may be the status header field's name: a valid field
   name of at most SIEVE_ENCRYPT_STATUS_HEADER_MAX_NAME characters that
   is none of the MIME structure's (Content-*, MIME-Version) or RFC 5322's
   own fields (From, Subject, Received, Resent-*, ...). Otherwise FALSE
   with error_r set (data stack). */
bool sieve_encrypt_status_header_name_check(const char *name,
					    const char **error_r);

#endif
