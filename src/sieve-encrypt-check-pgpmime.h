/* Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
 */

#ifndef SIEVE_ENCRYPT_CHECK_PGPMIME_H
#define SIEVE_ENCRYPT_CHECK_PGPMIME_H

#include "sieve-encrypt-sink.h"

/* The most bytes an encrypted message may have before its first boundary
   (the preamble: one informational line in practice) and in each body
   part's header */
#define SIEVE_ENCRYPT_PGPMIME_MAX_PREAMBLE 1024
#define SIEVE_ENCRYPT_PGPMIME_MAX_PART_HEADER 4096

/* A sink that accepts the body of a multipart/encrypted message in the
   shape of RFC 3156, section 4, with the given boundary:

   - a preamble of at most SIEVE_ENCRYPT_PGPMIME_MAX_PREAMBLE bytes;
   - exactly two body parts, each with a header of at most
     SIEVE_ENCRYPT_PGPMIME_MAX_PART_HEADER bytes and a
     Content-Transfer-Encoding that is none, 7bit, 8bit, binary, base64 or
     quoted-printable;
   - the first application/pgp-encrypted, whose content is the line
     "Version: 1" and otherwise only white space;
   - the second application/octet-stream, whose content is one armored
     OpenPGP encrypted message (sieve-encrypt-check-pgp.h);
   - the close delimiter, and after it only white space.

   A delimiter line is "--" and the boundary (and "--" for the close
   delimiter), then only spaces and tabs; any other line is content.
   Allocated from the data stack. */
struct sieve_encrypt_sink *
sieve_encrypt_pgpmime_check_create(const char *boundary);

/* The same for the body of a multipart/mixed message that Microsoft
   Exchange made of a PGP/MIME one ("mixed-up encryption",
   draft-dkg-openpgp-pgpmime-message-mangling, section 4.1.1; what mutt's
   mutt_is_malformed_multipart_pgp_encrypted() and notmuch repair):
   exactly three body parts, the first text/plain with no content but
   white space, then the two parts of RFC 3156 above with the same checks
   of their decoded content (Exchange encodes them in base64). Their
   Content-Description and file name ("PGP/MIME version identification",
   "encrypted.asc") are not required: readers repair the message without
   them, and a sender chooses them freely. */
struct sieve_encrypt_sink *
sieve_encrypt_pgpmime_mixed_up_check_create(const char *boundary);

#endif
