/* Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
 */

#ifndef SIEVE_ENCRYPT_COMPAT_H
#define SIEVE_ENCRYPT_COMPAT_H

#include "sieve-extensions.h"

/* The few Pigeonhole API differences between 0.5 (Dovecot 2.3) and
   2.4 that the plugin touches. Everything else is version independent.
   SIEVE_ENCRYPT_COMPAT_24 is tested in three places only: here, in
   sieve-encrypt-settings.c (settings_get() vs. sieve_setting_get()) and
   in sieve-encrypt-plugin.[ch] (*_plugin_load returns int on 2.4).
   Commands, operations and streams carry no version checks. */

#if DOVECOT_PREREQ(2, 4, 0)
#  define SIEVE_ENCRYPT_COMPAT_24 1
#  define SIEVE_COMPAT_LOAD_RET int
#  define SIEVE_COMPAT_LOAD_OK 0
#  define SIEVE_COMPAT_LOAD_FAIL (-1)
#else
#  define SIEVE_COMPAT_LOAD_RET bool
#  define SIEVE_COMPAT_LOAD_OK TRUE
#  define SIEVE_COMPAT_LOAD_FAIL FALSE
#endif

static inline int
sieve_compat_extension_register(struct sieve_instance *svinst,
				const struct sieve_extension_def *def,
				bool load,
				const struct sieve_extension **ext_r)
{
#ifdef SIEVE_ENCRYPT_COMPAT_24
	return sieve_extension_register(svinst, def, load, ext_r);
#else
	*ext_r = sieve_extension_register(svinst, def, load);
	return (*ext_r == NULL ? -1 : 0);
#endif
}

#endif
