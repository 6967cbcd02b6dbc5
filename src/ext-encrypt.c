/* Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
 */

/* Extension vnd.x.encrypt
 * -----------------------
 *
 * Authors: sieve-encrypt authors
 * Specification: vendor-defined; see doc/extensions/vnd.x.encrypt.txt
 * Implementation: full
 * Status: experimental
 *
 */

#include "lib.h"

#include "sieve-common.h"
#include "sieve-extensions.h"
#include "sieve-commands.h"
#include "sieve-validator.h"

#include "sieve-encrypt-common.h"

/*
 * Extension
 */

static SIEVE_COMPAT_LOAD_RET
ext_encrypt_load(const struct sieve_extension *ext, void **context);
static void ext_encrypt_unload(const struct sieve_extension *ext);
static bool
ext_encrypt_validator_load(const struct sieve_extension *ext,
			   struct sieve_validator *valdtr);

const struct sieve_extension_def sieve_ext_vnd_x_encrypt = {
	.name = "vnd.x.encrypt",
	.load = ext_encrypt_load,
	.unload = ext_encrypt_unload,
	.validator_load = ext_encrypt_validator_load,
	SIEVE_EXT_DEFINE_OPERATION(sieve_opr_encrypt),
};

/*
 * Context
 */

static void ext_encrypt_context_free(struct ext_encrypt_context **_extctx)
{
	struct ext_encrypt_context *extctx = *_extctx;

	if (extctx == NULL)
		return;
	*_extctx = NULL;
	if (extctx->set != NULL)
		sieve_encrypt_settings_free(&extctx->set);
	i_free(extctx->settings_error);
	i_free(extctx);
}

/* Invalid settings do not make the extension unavailable: scripts that
   use it would then fail to compile (and the message would be kept in
   plaintext), and a binary compiled before (sievec) would make
   Pigeonhole 0.5 panic. Instead the extension loads, keeps the error,
   and every encrypt fails temporarily (cmd-encrypt.c) until the settings
   are fixed: the MTA keeps the message meanwhile. */
static SIEVE_COMPAT_LOAD_RET
ext_encrypt_load(const struct sieve_extension *ext, void **context)
{
	struct sieve_instance *svinst = ext->svinst;
	struct ext_encrypt_context *extctx = *context;
	const char *error;

	/* Also called by test_config_reload: drop the old settings first */
	ext_encrypt_context_free(&extctx);

	extctx = i_new(struct ext_encrypt_context, 1);
	if (sieve_encrypt_settings_read(svinst, &extctx->set, &error) < 0) {
		extctx->set = NULL;
		extctx->settings_error = i_strdup(error);
		e_error(svinst->event, "%s: %s (every encrypt fails "
			"temporarily until this is fixed)",
			sieve_extension_name(ext), error);
	}
	*context = extctx;
	return SIEVE_COMPAT_LOAD_OK;
}

/* Dovecot 2.4 expands %{user}, %{home} etc. in settings with the event
   they are read with. The instance's event may lack the mail user:
   Pigeonhole 2.4's IMAPSieve derives it from the IMAP client's event, and
   there the variables expand to nothing. So before the first execution
   the settings are read again with the mail user's event; an instance
   serves one user. Dovecot 2.3 expanded the plugin { } values with the
   mail user already. */
void ext_encrypt_read_user_settings(struct ext_encrypt_context *extctx,
				    struct mail_user *user ATTR_UNUSED)
{
#ifdef SIEVE_ENCRYPT_COMPAT_24
	const struct sieve_encrypt_settings *set;
	const char *error;

	if (extctx->user_settings_read)
		return;
	extctx->user_settings_read = TRUE;
	if (extctx->set != NULL)
		sieve_encrypt_settings_free(&extctx->set);
	i_free(extctx->settings_error);
	if (sieve_encrypt_settings_read_user(user, &set, &error) < 0) {
		extctx->set = NULL;
		extctx->settings_error = i_strdup(error);
	} else {
		extctx->set = set;
	}
#else
	(void)extctx;
#endif
}

static void ext_encrypt_unload(const struct sieve_extension *ext)
{
	struct ext_encrypt_context *extctx = ext->context;

	ext_encrypt_context_free(&extctx);
}

/*
 * Validation
 */

static bool
ext_encrypt_validator_load(const struct sieve_extension *ext,
			   struct sieve_validator *valdtr)
{
	sieve_validator_register_command(valdtr, ext, &sieve_cmd_encrypt);
	return TRUE;
}
