/* Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
 */

#ifndef SIEVE_ENCRYPT_CMS_H
#define SIEVE_ENCRYPT_CMS_H

#include "sieve-encrypt-gpg.h"

/* S/MIME (CMS) encryption with gpgsm: the recipients' X.509 certificates
   come from the keybox of the GnuPG home (pubring.kbx, where gpgsm
   --import puts them), and the entity is streamed through gpgsm into
   base64 of the CMS EnvelopedData.

   gpgsm runs through sieve-encrypt-gpg-exec, like gpg (same privilege
   drop, deadline, no option files, no home directory: see
   sieve-encrypt-gpg-exec.c), started by gpgme's spawn engine in the same
   private I/O loop (sieve-encrypt-gpg-io.h). gpgme's own CMS protocol is
   not used: with gpgconf disabled (sieve_encrypt_gpg_global_init(), so
   that nothing runs outside sieve-encrypt-gpg-exec) gpgme knows no gpgsm
   at all and refuses to set a CMS engine, and enabling gpgconf would cost
   every delivery, OpenPGP ones too, extra program runs. Nothing here runs
   unless the S/MIME format is asked for.

   A certificate is found by its SHA-1 fingerprint (40 hex digits, as
   gpgsm shows it), the last 16 of these (gpgsm's key id) or an e-mail
   address in it. It is used when gpgsm lists it as neither expired,
   revoked, invalid nor disabled and usable for encryption; its chain is
   not validated (the user's keybox is the user's choice, as the keyring
   is for OpenPGP). */
struct sieve_encrypt_cms;

struct sieve_encrypt_cms_params {
	/* GnuPG home with the keybox */
	const char *home_dir;
	/* the real gpgsm program (absolute path) */
	const char *gpgsm_binary;
	/* sieve-encrypt-gpg-exec */
	const char *exec_path;
	/* gids that gpgsm may keep besides the user's own */
	const char *allowed_gids;
	/* deadline for each gpgsm run (listing, encryption) */
	unsigned int timeout_secs;
};

/* As sieve_encrypt_gpg_create(), for the keybox (NO_KEY when there is
   none) */
enum sieve_encrypt_gpg_status
sieve_encrypt_cms_create(const struct sieve_encrypt_cms_params *params,
			 struct sieve_encrypt_cms **cms_r,
			 const char **error_r);
void sieve_encrypt_cms_destroy(struct sieve_encrypt_cms **cms);

/* Find the usable certificates for all specs in one gpgsm listing. On
   NO_KEY or FAILED, error_r names the key spec and the cause. */
enum sieve_encrypt_gpg_status
sieve_encrypt_cms_find_certs(struct sieve_encrypt_cms *cms,
			     const char *const *specs, const char **error_r);

/* The fingerprints of the found certificates, separated by ", " */
const char *sieve_encrypt_cms_cert_ids(struct sieve_encrypt_cms *cms);

/* Encrypt all of input to the found certificates, writing the base64 of
   the CMS object to output in lines of 76 characters (ending in CRLF
   when crlf is TRUE). Returns OK or FAILED; FAILED also when gpgsm's
   output is not exactly that (sieve-encrypt-cms-output.h). */
enum sieve_encrypt_gpg_status
sieve_encrypt_cms_encrypt(struct sieve_encrypt_cms *cms,
			  struct istream *input, struct ostream *output,
			  bool crlf, const char **error_r);

/* How the data of the last encryption moved (sieve-encrypt-gpg-io.h) */
const struct sieve_encrypt_gpg_traffic *
sieve_encrypt_cms_traffic(const struct sieve_encrypt_cms *cms);

#endif
