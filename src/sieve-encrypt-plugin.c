/* Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
 */

#include "lib.h"

#include "sieve-common.h"
#include "sieve-extensions.h"

#include "sieve-encrypt-common.h"
#include "sieve-encrypt-gpg.h"
#include "sieve-encrypt-plugin.h"

/*
 * Sieve plugin interface
 */

const char *sieve_encrypt_plugin_version = PIGEONHOLE_ABI_VERSION;

static int
sieve_encrypt_plugin_register(struct sieve_instance *svinst, void **context)
{
	const struct sieve_extension *ext;

	/* Pigeonhole's plugin loader does not call the module's init
	   function, so gpgme is initialized here (it is idempotent). */
	sieve_encrypt_gpg_global_init();

	/* FALSE: enabled only through sieve_extensions or
	   sieve_global_extensions */
	if (sieve_compat_extension_register(svinst, &sieve_ext_vnd_x_encrypt,
					    FALSE, &ext) < 0)
		return -1;

	e_debug(svinst->event, "Sieve encrypt plugin for %s version %s loaded",
		PIGEONHOLE_NAME, PIGEONHOLE_VERSION_FULL);
	*context = (void *)ext;
	return 0;
}

#ifdef SIEVE_ENCRYPT_COMPAT_24
int sieve_encrypt_plugin_load(struct sieve_instance *svinst, void **context)
{
	return sieve_encrypt_plugin_register(svinst, context);
}
#else
void sieve_encrypt_plugin_load(struct sieve_instance *svinst, void **context)
{
	(void)sieve_encrypt_plugin_register(svinst, context);
}
#endif

void sieve_encrypt_plugin_unload(struct sieve_instance *svinst ATTR_UNUSED,
				 void *context)
{
	const struct sieve_extension *ext = context;

	if (ext != NULL)
		sieve_extension_unregister(ext);
}

/*
 * Module interface
 */

void sieve_encrypt_plugin_init(void)
{
	/* Nothing: see sieve_encrypt_plugin_register() */
}

void sieve_encrypt_plugin_deinit(void)
{
	/* Nothing */
}
