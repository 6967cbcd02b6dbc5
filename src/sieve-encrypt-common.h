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
};

/*
 * Commands
 */

extern const struct sieve_command_def sieve_cmd_encrypt;

/*
 * Operations
 */

extern const struct sieve_operation_def sieve_opr_encrypt;

#endif
