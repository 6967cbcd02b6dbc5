/* Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
 */

#ifndef SIEVE_ENCRYPT_SETTINGS_H
#define SIEVE_ENCRYPT_SETTINGS_H

#include "sieve-encrypt-format.h"

struct sieve_instance;
struct setting_parser_info;

/* All sieve_encrypt_* settings. The names are the same on Dovecot 2.3
   (inside plugin { }) and 2.4 (top level or inside a filter such as
   protocol lda { }). Adding a setting: a field here, its default and one
   DEF() line in sieve-encrypt-settings.c. */
struct sieve_encrypt_settings {
	pool_t pool;

	/* sieve_encrypt_gnupg_home: the recipient's GnuPG home directory;
	   a leading "~/" is the user's home */
	const char *gnupg_home;
	/* sieve_encrypt_default_keys: the keys (separated by spaces) of an
	   encrypt command without a key list */
	const char *default_keys;
	/* sieve_encrypt_timeout: deadline for each gpg run, in seconds */
	unsigned int timeout;
	/* sieve_encrypt_compress: let gpg compress before encrypting */
	bool compress;
	/* sieve_encrypt_on_failure: keep or tempfail */
	const char *on_failure;
	/* sieve_encrypt_gpg_binary: the gpg program; empty: the one found at
	   build time */
	const char *gpg_binary;
	/* sieve_encrypt_gpgsm_binary: the gpgsm program (S/MIME output);
	   empty: the one found at build time */
	const char *gpgsm_binary;
	/* sieve_encrypt_gpg_exec: sieve-encrypt-gpg-exec, which gpgme runs
	   and which runs gpg as the mail user; empty: the installed one */
	const char *gpg_exec;
	/* sieve_encrypt_gpg_allowed_groups: groups (names or gids,
	   separated by spaces) that gpg may keep besides the mail user's
	   own where the delivery process cannot drop them (service lmtp {
	   user = vmail } keeps the service's extra_groups); empty: none, gpg
	   is not run then */
	const char *gpg_allowed_groups;
	/* sieve_encrypt_status_header: the name of the header field that
	   says what encrypt did with the stored message (encrypted,
	   already-encrypted, no-key, failed); empty: none */
	const char *status_header;
	/* sieve_encrypt_format: pgpmime, smime or inline, for an encrypt
	   without :format */
	const char *format;
	/* sieve_encrypt_protect_headers: RFC 9788 header protection for an
	   encrypt without :protect-headers */
	bool protect_headers;
	/* sieve_encrypt_hide_subject: the outer Subject becomes "[...]"
	   (implies protect_headers), for an encrypt without :hide-subject */
	bool hide_subject;
	/* sieve_encrypt_legacy_display: a legacy display element of the
	   hidden Subject in the body (implies hide_subject), for an encrypt
	   without :legacydisplay */
	bool legacy_display;

	struct {
		/* sieve_encrypt_default_keys split at spaces; NULL if empty */
		const char *const *default_keys;
		/* on_failure = tempfail */
		bool tempfail;
		/* gpg_allowed_groups as gids separated by spaces */
		const char *gpg_allowed_gids;
		/* format as its enum */
		enum sieve_encrypt_format format;
	} parsed;
};

#define SIEVE_ENCRYPT_DEFAULT_GNUPG_HOME "~/.gnupg"
#define SIEVE_ENCRYPT_DEFAULT_TIMEOUT_SECS 60
/* The deadline is kept in milliseconds (unsigned int), which would wrap
   around at 49 days; no gpg run needs more than a day */
#define SIEVE_ENCRYPT_MAX_TIMEOUT_SECS (24 * 60 * 60)
/* Set by configure (src/Makefile.am) */
#define SIEVE_ENCRYPT_DEFAULT_GPG SIEVE_ENCRYPT_GPG_PATH
#define SIEVE_ENCRYPT_DEFAULT_GPGSM SIEVE_ENCRYPT_GPGSM_PATH
#define SIEVE_ENCRYPT_DEFAULT_GPG_EXEC SIEVE_ENCRYPT_GPG_EXEC_PATH

/* The settings' definition; on Dovecot 2.4 also exported by the settings
   module libsieve_encrypt_settings.so. */
extern const struct setting_parser_info sieve_encrypt_setting_parser_info;

/* Read the settings for this Sieve instance. Returns 0 on success, -1 on
   error (error_r set). */
int sieve_encrypt_settings_read(struct sieve_instance *svinst,
				const struct sieve_encrypt_settings **set_r,
				const char **error_r);
void sieve_encrypt_settings_free(const struct sieve_encrypt_settings **set);

#ifdef SIEVE_ENCRYPT_COMPAT_24
/* Read the settings as the mail user sees them: %{user}, %{home} etc.
   expanded with the user's variables. Returns as above. */
int sieve_encrypt_settings_read_user(struct mail_user *user,
				     const struct sieve_encrypt_settings **set_r,
				     const char **error_r);
#endif

#endif
