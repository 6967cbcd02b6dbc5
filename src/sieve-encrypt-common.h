/* Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
 */

#ifndef SIEVE_ENCRYPT_COMMON_H
#define SIEVE_ENCRYPT_COMMON_H

#include "sieve-encrypt-compat.h"
#include "sieve-encrypt-settings.h"

/*
 * Extension
 */

extern const struct sieve_extension_def sieve_ext_vnd_x_encrypt;

struct ext_encrypt_context {
	/* NULL when the settings are invalid */
	const struct sieve_encrypt_settings *set;
	/* why they are invalid (names the setting); NULL when valid */
	char *settings_error;
	/* Dovecot 2.4: set (and settings_error) were read again with the
	   mail user's event (ext_encrypt_read_user_settings()) */
	bool user_settings_read:1;
};

void ext_encrypt_read_user_settings(struct ext_encrypt_context *extctx,
				    struct mail_user *user);

/*
 * Commands
 */

extern const struct sieve_command_def sieve_cmd_encrypt;

/*
 * Operations
 */

extern const struct sieve_operation_def sieve_opr_encrypt;

#endif
