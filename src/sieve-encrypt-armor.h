/* Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
 */

#ifndef SIEVE_ENCRYPT_ARMOR_H
#define SIEVE_ENCRYPT_ARMOR_H

/* OpenPGP ASCII armor (RFC 4880, section 6.2), written in the delivery
   process. gpg's own armor costs it several times the encryption itself
   (radix-64 and CRC-24 byte by byte), so gpg writes binary packets and
   they are armored here while gpg goes on encrypting. The result is the
   armor gpg writes: 64 characters per line, the CRC-24 checksum line, no
   armor headers. */

struct ostream;
struct sieve_encrypt_armor;

/* Begin an armored PGP MESSAGE on output: the header line and the empty
   line. Lines end in CRLF when crlf is TRUE, in LF otherwise. */
struct sieve_encrypt_armor *
sieve_encrypt_armor_begin(struct ostream *output, bool crlf);
/* The same with the armor header "Charset: <charset>" (RFC 4880, section
   6.2: the character set of the plaintext) when charset is not NULL; it
   must be a name without white space or control characters */
struct sieve_encrypt_armor *
sieve_encrypt_armor_begin_charset(struct ostream *output, bool crlf,
				  const char *charset);
/* Armor size more bytes of the binary message */
void sieve_encrypt_armor_write(struct sieve_encrypt_armor *armor,
			       const void *data, size_t size);
/* Write the last line, the checksum and the tail line, and free armor */
void sieve_encrypt_armor_end(struct sieve_encrypt_armor **armor);
/* Free armor without completing it (the output is being abandoned) */
void sieve_encrypt_armor_free(struct sieve_encrypt_armor **armor);

/* The CRC-24 of RFC 4880 section 6.1, continued from crc (start with
   SIEVE_ENCRYPT_CRC24_INIT) */
#define SIEVE_ENCRYPT_CRC24_INIT 0xb704ceU
uint32_t sieve_encrypt_crc24(uint32_t crc, const void *data, size_t size);

#endif
