/* Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
 */

#ifndef SIEVE_ENCRYPT_CHECK_PGP_H
#define SIEVE_ENCRYPT_CHECK_PGP_H

#include "sieve-encrypt-sink.h"

/* The most armor header lines ("Version: ...", "Comment: ...") an
   encrypted message may have, in bytes all together */
#define SIEVE_ENCRYPT_PGP_MAX_ARMOR_HEADERS 1024
/* The longest base64 line of the armor (RFC 4880, section 6.3) */
#define SIEVE_ENCRYPT_PGP_MAX_DATA_LINE 76

/* A sink that accepts exactly one ASCII-armored OpenPGP encrypted message
   (RFC 4880, section 6.2) with nothing but white space before and after
   it. Line by line (LF or CRLF; spaces and tabs at the end of any line
   are ignored):

   - lines that are empty or hold only spaces and tabs;
   - "-----BEGIN PGP MESSAGE-----";
   - armor headers "Key: value" with the keys of RFC 4880 (Version,
     Comment, MessageID, Hash, Charset), at most
     SIEVE_ENCRYPT_PGP_MAX_ARMOR_HEADERS bytes;
   - an empty line;
   - one or more lines of base64 characters, each at most
     SIEVE_ENCRYPT_PGP_MAX_DATA_LINE long, "=" padding only where the
     data ends;
   - optionally the checksum line: "=" and four base64 characters (its
     value is not checked: RFC 9580, section 6.1, says a receiver must not
     reject a message for it, and it proves nothing about the content);
   - "-----END PGP MESSAGE-----";
   - empty lines or lines of spaces and tabs.

   The decoded data must be one OpenPGP encrypted message (RFC 4880,
   section 11.3): marker packets, public-key or symmetric-key encrypted
   session key packets, then one symmetrically encrypted data packet
   (tag 9, 18 or 20) that ends exactly where the data ends. A signed-only,
   compressed or literal "PGP MESSAGE", a message with packets after the
   encrypted data, or one that is cut short, is not encrypted. Allocated
   from the data stack. */
struct sieve_encrypt_sink *sieve_encrypt_inline_pgp_check_create(void);

#endif
