/* Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
 */

#include "lib.h"

#include "sieve-common.h"
#include "sieve-settings.h"

#include "sieve-encrypt-compat.h"
#include "sieve-encrypt-settings.h"

/* Dovecot 2.3: the settings come from the plugin { } section through
   Pigeonhole's sieve_setting_get(). */

static const char *
sieve_encrypt_setting_str(struct sieve_instance *svinst, const char *name,
			  const char *default_value)
{
	const char *value = sieve_setting_get(svinst, name);

	return (value == NULL || *value == '\0' ? default_value : value);
}

int sieve_encrypt_settings_read(struct sieve_instance *svinst,
				const struct sieve_encrypt_settings **set_r,
				const char **error_r ATTR_UNUSED)
{
	struct sieve_encrypt_settings *set;
	pool_t pool;

	pool = pool_alloconly_create("sieve_encrypt settings", 256);
	set = p_new(pool, struct sieve_encrypt_settings, 1);
	set->pool = pool;
	set->gnupg_home = p_strdup(pool, sieve_encrypt_setting_str(
		svinst, "sieve_encrypt_gnupg_home",
		SIEVE_ENCRYPT_DEFAULT_GNUPG_HOME));
	*set_r = set;
	return 0;
}

void sieve_encrypt_settings_free(const struct sieve_encrypt_settings **_set)
{
	const struct sieve_encrypt_settings *set = *_set;
	pool_t pool;

	if (set == NULL)
		return;
	*_set = NULL;
	pool = set->pool;
	pool_unref(&pool);
}
