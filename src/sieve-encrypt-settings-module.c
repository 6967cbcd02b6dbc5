/* Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
 */

/* Dovecot 2.4 settings module libsieve_encrypt_settings.so, installed into
   $(dovecot_moduledir)/settings. The config process (and doveconf) loads
   every module there and adds its <name>_set_infos to the settings it
   knows; without this module Dovecot rejects the sieve_encrypt_* settings
   ("Unknown setting") and settings_get() fails in the plugin. Built only
   on Dovecot 2.4: on 2.3 the settings live in plugin { }. */

#include "lib.h"
#include "settings-parser.h"

#include "sieve-encrypt-settings.h"

extern const char *sieve_encrypt_settings_version;
extern const struct setting_parser_info *sieve_encrypt_settings_set_infos[];

const char *sieve_encrypt_settings_version = DOVECOT_ABI_VERSION;

const struct setting_parser_info *sieve_encrypt_settings_set_infos[] = {
	&sieve_encrypt_setting_parser_info,
	NULL
};
