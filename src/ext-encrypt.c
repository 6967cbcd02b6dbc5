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
#include "sieve-interpreter.h"

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
static bool
ext_encrypt_interpreter_load(const struct sieve_extension *ext,
			     const struct sieve_runtime_env *renv,
			     sieve_size_t *address);

const struct sieve_extension_def sieve_ext_vnd_x_encrypt = {
	.name = "vnd.x.encrypt",
	.load = ext_encrypt_load,
	.unload = ext_encrypt_unload,
	.validator_load = ext_encrypt_validator_load,
	.interpreter_load = ext_encrypt_interpreter_load,
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
	sieve_encrypt_settings_free(&extctx->set);
	i_free(extctx);
}

static SIEVE_COMPAT_LOAD_RET
ext_encrypt_load(const struct sieve_extension *ext, void **context)
{
	struct sieve_instance *svinst = ext->svinst;
	struct ext_encrypt_context *extctx = *context;
	const char *error;

	/* Also called by test_config_reload: drop the old settings first */
	ext_encrypt_context_free(&extctx);
	*context = NULL;

	extctx = i_new(struct ext_encrypt_context, 1);
	if (sieve_encrypt_settings_read(svinst, &extctx->set, &error) < 0) {
		e_error(svinst->event, "%s: %s", sieve_extension_name(ext),
			error);
		i_free(extctx);
		return SIEVE_COMPAT_LOAD_FAIL;
	}
	*context = extctx;
	return SIEVE_COMPAT_LOAD_OK;
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
	/* When .load failed (invalid settings), Pigeonhole 0.5 (Dovecot
	   2.3) still offers the extension, without a context; refusing it
	   here makes `require "vnd.x.encrypt"' fail to compile. (Pigeonhole
	   2.4 fails the whole Sieve instance instead.) */
	if (ext->context == NULL)
		return FALSE;
	sieve_validator_register_command(valdtr, ext, &sieve_cmd_encrypt);
	return TRUE;
}

/*
 * Interpretation
 */

static bool
ext_encrypt_interpreter_load(const struct sieve_extension *ext,
			     const struct sieve_runtime_env *renv,
			     sieve_size_t *address ATTR_UNUSED)
{
	/* The same for precompiled binaries */
	if (ext->context == NULL) {
		sieve_runtime_error(renv, NULL,
			"the %s extension is not available: "
			"its settings failed to load (see the server log)",
			sieve_extension_name(ext));
		return FALSE;
	}
	return TRUE;
}
