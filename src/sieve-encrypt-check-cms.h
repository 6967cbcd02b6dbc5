/* Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
 */

#ifndef SIEVE_ENCRYPT_CHECK_CMS_H
#define SIEVE_ENCRYPT_CHECK_CMS_H

#include "sieve-encrypt-sink.h"

/* A sink that accepts exactly one CMS ContentInfo (RFC 5652, section 3)
   whose contentType is enveloped-data (1.2.840.113549.1.7.3) or
   authEnveloped-data (1.2.840.113549.1.9.16.1.23, RFC 5083), in BER: a
   SEQUENCE of definite or indefinite length that starts with that OBJECT
   IDENTIFIER, and nothing after it. Its other content is not looked at,
   beyond finding where it ends (the end-of-contents octets of
   indefinite-length elements). Signed-data, any other type, and anything
   cut short or unreadable are not encrypted. Allocated from the data
   stack. */
struct sieve_encrypt_sink *sieve_encrypt_cms_check_create(void);

#endif
