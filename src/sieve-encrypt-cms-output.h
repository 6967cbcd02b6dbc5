/* Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
 */

#ifndef SIEVE_ENCRYPT_CMS_OUTPUT_H
#define SIEVE_ENCRYPT_CMS_OUTPUT_H

/* The check of gpgsm's output before it is used: one CMS ContentInfo
   (RFC 5652) of type enveloped-data, complete and with nothing after it
   (sieve-encrypt-check-cms.h), whose RecipientInfos are exactly one
   KeyTransRecipientInfo (version 0, issuerAndSerialNumber) for each
   certificate asked for, matched by serial number. The ciphertext itself
   is only walked through, never kept: the head of the output (up to
   SIEVE_ENCRYPT_CMS_OUTPUT_HEAD_MAX bytes), where the RecipientInfos are,
   is all that is buffered. */
struct sieve_encrypt_cms_output;

#define SIEVE_ENCRYPT_CMS_OUTPUT_HEAD_MAX (64 * 1024)

/* Allocates the structure walker from the data stack: free it in the
   same frame */
struct sieve_encrypt_cms_output *sieve_encrypt_cms_output_create(void);
void sieve_encrypt_cms_output_free(struct sieve_encrypt_cms_output **check);

/* A certificate that the output must be encrypted to: its serial number
   in hex, as gpgsm lists it */
void sieve_encrypt_cms_output_expect(struct sieve_encrypt_cms_output *check,
				    const char *serial_hex);
/* The next piece of gpgsm's output */
void sieve_encrypt_cms_output_feed(struct sieve_encrypt_cms_output *check,
				  const void *data, size_t size);
/* All output was fed: 0 when it is what was asked for, else -1 with
   error_r saying why not */
int sieve_encrypt_cms_output_finish(struct sieve_encrypt_cms_output *check,
				   const char **error_r);

#endif
