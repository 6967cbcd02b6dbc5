/* Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
 */

#ifndef SIEVE_ENCRYPT_CTE_H
#define SIEVE_ENCRYPT_CTE_H

#include "sieve-encrypt-sink.h"

/* Decoding a Content-Transfer-Encoding (RFC 2045, section 6) for the
   checks, so that they see the body's content. Every byte of the encoded
   body either decodes to content or is white space that carries none: a
   check that accepts the decoded content has seen all of the body. */

enum sieve_encrypt_cte {
	/* no encoding: none given, 7bit, 8bit or binary */
	SIEVE_ENCRYPT_CTE_IDENTITY = 0,
	SIEVE_ENCRYPT_CTE_BASE64,
	SIEVE_ENCRYPT_CTE_QUOTED_PRINTABLE,
	/* anything else: its content is unknown */
	SIEVE_ENCRYPT_CTE_UNKNOWN
};

/* The encoding a Content-Transfer-Encoding token names (NULL: none) */
enum sieve_encrypt_cte sieve_encrypt_cte_from_name(const char *name);

/* A sink that decodes cte and writes the result to next; finishing it
   finishes next. For the identity encoding this is next itself. Allocated
   from the data stack.

   base64 is decoded strictly: spaces, tabs, CR and LF are skipped; any
   other character outside the base64 alphabet, padding that does not end
   the last 4-character group, anything but white space after the padding,
   or an incomplete last group makes the sink fail.
   quoted-printable follows RFC 2045, note (1) of section 6.7: "=" and two
   hex digits (either case) is the byte, "=" before up to 76 spaces or tabs
   and the line end is a soft line break (also at the end of the data),
   and any other "=" stands for itself. Trailing white space of lines is
   passed on (the checks accept white space at the ends of lines anyway). */
struct sieve_encrypt_sink *
sieve_encrypt_cte_decoder_create(enum sieve_encrypt_cte cte,
				 struct sieve_encrypt_sink *next);

#endif
