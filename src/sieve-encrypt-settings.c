/* Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
 */

#include "lib.h"
#include "settings-parser.h"

#include "sieve-encrypt-compat.h"
#include "sieve-encrypt-groups.h"
#include "sieve-encrypt-settings.h"
#include "sieve-encrypt-status.h"

#ifndef SIEVE_ENCRYPT_SETTINGS_MODULE
#  ifdef SIEVE_ENCRYPT_COMPAT_24
#    include "mail-user.h"
#    include "settings.h"
#  endif
#  include "sieve-common.h"
#  include "sieve-settings.h"
#endif

#include <ctype.h>
#include <grp.h>

/* One definition serves both Dovecot versions. On 2.4 Dovecot's settings
   framework parses it (settings_get(); doveconf knows it through the
   settings module). On 2.3 sieve_encrypt_settings_read() below feeds each
   key's plugin { } value, read with sieve_setting_get(), to Dovecot's own
   settings parser. Both therefore accept the same syntax (sizes, times,
   booleans) and reject the same mistakes.

   Adding a setting: a field in struct sieve_encrypt_settings, its default
   in sieve_encrypt_default_settings and one DEF() line here. Types: STR,
   BOOL, UINT, TIME (unsigned int seconds), SIZE (uoff_t), ENUM (the
   default lists the values, "first:second", the first one is the
   default). Types that exist only on 2.4 (e.g. BOOLLIST) need an #ifdef
   SIEVE_ENCRYPT_COMPAT_24 around their line and a 2.3 fallback. */
#undef DEF
#define DEF(type, name) \
	SETTING_DEFINE_STRUCT_##type("sieve_encrypt_"#name, name, \
				     struct sieve_encrypt_settings)

static const struct setting_define sieve_encrypt_setting_defines[] = {
	DEF(STR, gnupg_home),
	DEF(STR, default_keys),
	DEF(TIME, timeout),
	DEF(BOOL, compress),
	DEF(ENUM, on_failure),
	DEF(STR, gpg_binary),
	DEF(STR, gpgsm_binary),
	DEF(STR, gpg_exec),
	DEF(STR, gpg_allowed_groups),
	DEF(STR, status_header),
	DEF(ENUM, format),
	DEF(BOOL, protect_headers),
	DEF(BOOL, hide_subject),
	DEF(BOOL, legacy_display),

	SETTING_DEFINE_LIST_END
};

static const struct sieve_encrypt_settings sieve_encrypt_default_settings = {
	.gnupg_home = SIEVE_ENCRYPT_DEFAULT_GNUPG_HOME,
	.default_keys = "",
	.timeout = SIEVE_ENCRYPT_DEFAULT_TIMEOUT_SECS,
	.compress = FALSE,
	.on_failure = "keep:tempfail",
	.gpg_binary = "",
	.gpgsm_binary = "",
	.gpg_exec = "",
	.gpg_allowed_groups = "",
	.status_header = "",
	.format = "pgpmime:smime:inline",
	.protect_headers = FALSE,
	.hide_subject = FALSE,
	.legacy_display = FALSE,
};

static bool
sieve_encrypt_settings_check(void *_set, pool_t pool, const char **error_r);

const struct setting_parser_info sieve_encrypt_setting_parser_info = {
#ifdef SIEVE_ENCRYPT_COMPAT_24
	.name = "sieve_encrypt",
	.pool_offset1 = 1 + offsetof(struct sieve_encrypt_settings, pool),
#else
	.module_name = "sieve_encrypt",
	.type_offset = SIZE_MAX,
	.parent_offset = SIZE_MAX,
#endif
	.defines = sieve_encrypt_setting_defines,
	.defaults = &sieve_encrypt_default_settings,
	.struct_size = sizeof(struct sieve_encrypt_settings),
	.check_func = sieve_encrypt_settings_check,
};

#ifdef SIEVE_ENCRYPT_COMPAT_24
/* Dovecot 2.4 leaves 2.3's %u, %h, ... unexpanded, so a path copied from
   a 2.3 configuration would silently point nowhere: reject it. */
static bool
sieve_encrypt_settings_check_vars(const char *key, const char *value,
				  const char **error_r)
{
	const char *p;

	for (p = strchr(value, '%'); p != NULL; p = strchr(p + 1, '%')) {
		if (p[1] == '%') {
			p++;
			continue;
		}
		if (i_isalpha(p[1])) {
			*error_r = t_strdup_printf(
				"%s: %%%c is Dovecot 2.3 variable syntax, "
				"use %%{...} (e.g. %%{home}, %%{user})",
				key, p[1]);
			return FALSE;
		}
	}
	return TRUE;
}
#endif

/* One group of sieve_encrypt_gpg_allowed_groups: a name or a gid, not
   root's */
static bool
sieve_encrypt_settings_parse_group(const char *name, gid_t *gid_r,
				   const char **error_r)
{
	const struct group *gr;

	if (str_to_gid(name, gid_r) < 0) {
		errno = 0;
		if ((gr = getgrnam(name)) == NULL) {
			*error_r = t_strdup_printf(
				"sieve_encrypt_gpg_allowed_groups: "
				"no such group: %s%s", name, errno == 0 ? "" :
				t_strdup_printf(" (%m)"));
			return FALSE;
		}
		*gid_r = gr->gr_gid;
	}
	if (*gid_r == 0) {
		*error_r = t_strdup_printf(
			"sieve_encrypt_gpg_allowed_groups: %s is root's group "
			"(gid 0), which gpg never keeps", name);
		return FALSE;
	}
	return TRUE;
}

/* sieve_encrypt_gpg_allowed_groups as gids, for sieve-encrypt-gpg-exec */
static bool
sieve_encrypt_settings_parse_groups(struct sieve_encrypt_settings *set,
				    pool_t pool, const char **error_r)
{
	const char *const *names;
	unsigned int i, count;
	gid_t *gids;
	char *str;

	names = t_strsplit_spaces(set->gpg_allowed_groups, " ,");
	count = str_array_length(names);
	gids = t_new(gid_t, count + 1);
	for (i = 0; i < count; i++) {
		if (!sieve_encrypt_settings_parse_group(names[i], &gids[i],
							error_r))
			return FALSE;
	}
	if ((str = sieve_encrypt_groups_format(gids, count)) == NULL)
		i_fatal_status(FATAL_OUTOFMEM, "malloc() failed: %m");
	set->parsed.gpg_allowed_gids = p_strdup(pool, str);
	free(str);
	return TRUE;
}

/* Called by both versions' parsers (2.4: also by doveconf) */
static bool
sieve_encrypt_settings_check(void *_set, pool_t pool,
			     const char **error_r)
{
	struct sieve_encrypt_settings *set = _set;

#ifdef SIEVE_ENCRYPT_COMPAT_24
	if (!sieve_encrypt_settings_check_vars("sieve_encrypt_gnupg_home",
					       set->gnupg_home, error_r) ||
	    !sieve_encrypt_settings_check_vars("sieve_encrypt_default_keys",
					       set->default_keys, error_r))
		return FALSE;
#endif
	/* Empty means the default, as with Pigeonhole's own settings */
	if (*set->gnupg_home == '\0')
		set->gnupg_home = SIEVE_ENCRYPT_DEFAULT_GNUPG_HOME;
	if (*set->gpg_binary == '\0')
		set->gpg_binary = SIEVE_ENCRYPT_DEFAULT_GPG;
	if (*set->gpgsm_binary == '\0')
		set->gpgsm_binary = SIEVE_ENCRYPT_DEFAULT_GPGSM;
	if (*set->gpg_exec == '\0')
		set->gpg_exec = SIEVE_ENCRYPT_DEFAULT_GPG_EXEC;
	if (set->gpg_binary[0] != '/') {
		*error_r = "sieve_encrypt_gpg_binary must be an absolute path";
		return FALSE;
	}
	if (set->gpgsm_binary[0] != '/') {
		*error_r = "sieve_encrypt_gpgsm_binary must be an absolute path";
		return FALSE;
	}
	/* gpgme first looks for the engine by name in PATH (see
	   sieve-encrypt-gpg-engine.c): its directory must fit in PATH */
	if (set->gpg_exec[0] != '/' || strchr(set->gpg_exec, ':') != NULL) {
		*error_r = "sieve_encrypt_gpg_exec must be an absolute path "
			"without ':'";
		return FALSE;
	}
	if (set->timeout == 0) {
		*error_r = "sieve_encrypt_timeout must be larger than 0";
		return FALSE;
	}
	if (set->timeout > SIEVE_ENCRYPT_MAX_TIMEOUT_SECS) {
		*error_r = "sieve_encrypt_timeout must be at most 1 day";
		return FALSE;
	}
	if (!sieve_encrypt_settings_parse_groups(set, pool, error_r))
		return FALSE;
	if (*set->status_header != '\0' &&
	    !sieve_encrypt_status_header_name_check(set->status_header,
						    error_r))
		return FALSE;
	set->parsed.tempfail = (strcmp(set->on_failure, "tempfail") == 0);
	/* The ENUM type admits only the names listed in the default */
	if (!sieve_encrypt_format_parse(set->format, &set->parsed.format)) {
		*error_r = "sieve_encrypt_format must be pgpmime, smime or "
			"inline";
		return FALSE;
	}
	set->parsed.default_keys = (*set->default_keys == '\0' ? NULL :
		(const char *const *)p_strsplit_spaces(pool, set->default_keys,
						       " "));
	return TRUE;
}

#ifndef SIEVE_ENCRYPT_SETTINGS_MODULE

#ifdef SIEVE_ENCRYPT_COMPAT_24

/* Dovecot 2.4: top-level settings (and filters such as protocol lda { }),
   %{variables} already expanded. Where there is no user (doveconf and the
   config process check the Sieve extensions), %{user} cannot be expanded:
   there the settings are read unexpanded, as Dovecot's own checks do. At
   delivery the user is always known. */

int sieve_encrypt_settings_read(struct sieve_instance *svinst,
				const struct sieve_encrypt_settings **set_r,
				const char **error_r)
{
	const char *error;

	if (settings_get(svinst->event, &sieve_encrypt_setting_parser_info,
			 0, set_r, &error) == 0)
		return 0;
	if (settings_get(svinst->event, &sieve_encrypt_setting_parser_info,
			 SETTINGS_GET_FLAG_FAKE_EXPAND, set_r, error_r) < 0)
		return -1;
	e_debug(svinst->event, "sieve_encrypt settings read unexpanded: %s",
		error);
	return 0;
}

int sieve_encrypt_settings_read_user(struct mail_user *user,
				     const struct sieve_encrypt_settings **set_r,
				     const char **error_r)
{
	return settings_get(user->event, &sieve_encrypt_setting_parser_info,
			    0, set_r, error_r);
}

void sieve_encrypt_settings_free(const struct sieve_encrypt_settings **_set)
{
	settings_free(*_set);
}

#else

/* Dovecot 2.3: the plugin { } section (%variables already expanded by
   the mail user), or the testsuite's test_config_set values. */

int sieve_encrypt_settings_read(struct sieve_instance *svinst,
				const struct sieve_encrypt_settings **set_r,
				const char **error_r)
{
	const struct setting_parser_info *info =
		&sieve_encrypt_setting_parser_info;
	const struct setting_define *def;
	struct setting_parser_context *parser;
	struct sieve_encrypt_settings *set;
	const char *value, *error = NULL;
	pool_t pool;

	pool = pool_alloconly_create("sieve_encrypt settings", 256);
	parser = settings_parser_init(pool, info, 0);
	for (def = info->defines; def->key != NULL && error == NULL; def++) {
		value = sieve_setting_get(svinst, def->key);
		if (value == NULL)
			continue;
		if (settings_parse_keyvalue(parser, def->key, value) <= 0) {
			error = t_strdup_printf("Invalid setting %s: %s",
				def->key, settings_parser_get_error(parser));
		}
	}
	if (error == NULL && !settings_parser_check(parser, pool, &error))
		error = t_strdup(error);
	if (error == NULL) {
		set = settings_parser_get(parser);
		set->pool = pool;
		*set_r = set;
	}
	/* The parser holds its own reference to pool */
	settings_parser_deinit(&parser);
	if (error != NULL) {
		pool_unref(&pool);
		*error_r = error;
		return -1;
	}
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

#endif

#endif
