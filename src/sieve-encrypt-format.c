/* Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
 */

#include "lib.h"

#include "sieve-encrypt-settings.h"
#include "sieve-encrypt-format.h"

static const char *const sieve_encrypt_format_names[] = {
	[SIEVE_ENCRYPT_FORMAT_PGPMIME] = "pgpmime",
	[SIEVE_ENCRYPT_FORMAT_SMIME] = "smime",
	[SIEVE_ENCRYPT_FORMAT_INLINE] = "inline",
};

bool sieve_encrypt_format_parse(const char *name,
				enum sieve_encrypt_format *format_r)
{
	unsigned int i;

	for (i = 0; i < N_ELEMENTS(sieve_encrypt_format_names); i++) {
		if (strcasecmp(name, sieve_encrypt_format_names[i]) == 0) {
			*format_r = i;
			return TRUE;
		}
	}
	return FALSE;
}

const char *sieve_encrypt_format_name(enum sieve_encrypt_format format)
{
	i_assert(format < N_ELEMENTS(sieve_encrypt_format_names));
	return sieve_encrypt_format_names[format];
}

void sieve_encrypt_options_init(struct sieve_encrypt_options *options_r,
				const struct sieve_encrypt_settings *set)
{
	i_zero(options_r);
	options_r->format = set->parsed.format;
	options_r->legacy_display = set->legacy_display;
	options_r->hide_subject = set->hide_subject;
	options_r->protect_headers = set->protect_headers;
	sieve_encrypt_options_imply(options_r);
}

void sieve_encrypt_options_imply(struct sieve_encrypt_options *options)
{
	if (options->legacy_display)
		options->hide_subject = TRUE;
	if (options->hide_subject)
		options->protect_headers = TRUE;
}
