/* Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
 */

#ifndef SIEVE_ENCRYPT_PLUGIN_H
#define SIEVE_ENCRYPT_PLUGIN_H

#include "sieve-encrypt-compat.h"

/*
 * Plugin interface
 */

#ifdef SIEVE_ENCRYPT_COMPAT_24
int sieve_encrypt_plugin_load(struct sieve_instance *svinst, void **context);
#else
void sieve_encrypt_plugin_load(struct sieve_instance *svinst, void **context);
#endif
void sieve_encrypt_plugin_unload(struct sieve_instance *svinst,
				 void *context);

/*
 * Module interface
 */

void sieve_encrypt_plugin_init(void);
void sieve_encrypt_plugin_deinit(void);

#endif
