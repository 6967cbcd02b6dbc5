/* Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
 */

#include "lib.h"
#include "istream.h"

#include "sieve-encrypt-content.h"
#include "sieve-encrypt-cte.h"
#include "sieve-encrypt-check-cms.h"
#include "sieve-encrypt-check-pgp.h"
#include "sieve-encrypt-check-pgpmime.h"
#include "sieve-encrypt-check.h"

/* RFC 8551, section 3.2.2: the smime-type values of content that is not
   encrypted */
static const char *const smime_types_unencrypted[] = {
	"signed-data", "certs-only", "compressed-data"
};

static bool sieve_encrypt_check_is_smime(const char *type)
{
	return (strcasecmp(type, "application/pkcs7-mime") == 0 ||
		strcasecmp(type, "application/x-pkcs7-mime") == 0);
}

static bool sieve_encrypt_check_smime_type_unencrypted(const char *smime_type)
{
	unsigned int i;

	if (smime_type == NULL)
		return FALSE;
	for (i = 0; i < N_ELEMENTS(smime_types_unencrypted); i++) {
		if (strcasecmp(smime_type, smime_types_unencrypted[i]) == 0)
			return TRUE;
	}
	return FALSE;
}

static bool
sieve_encrypt_check_is_multipart(const struct sieve_encrypt_content *content,
				 enum sieve_encrypt_cte cte)
{
	return (cte == SIEVE_ENCRYPT_CTE_IDENTITY &&
		content->boundary != NULL && *content->boundary != '\0');
}

static bool
sieve_encrypt_check_is_pgpmime(const struct sieve_encrypt_content *content,
			       enum sieve_encrypt_cte cte)
{
	return (sieve_encrypt_check_is_multipart(content, cte) &&
		content->protocol != NULL &&
		strcasecmp(content->protocol,
			   "application/pgp-encrypted") == 0);
}

struct sieve_encrypt_sink *
sieve_encrypt_check_create(const struct sieve_encrypt_content *content)
{
	const char *type = content->type;
	enum sieve_encrypt_cte cte =
		sieve_encrypt_cte_from_name(content->transfer_encoding);

	if (cte == SIEVE_ENCRYPT_CTE_UNKNOWN)
		return NULL;
	if (type == NULL || strcasecmp(type, "text/plain") == 0) {
		return sieve_encrypt_cte_decoder_create(
			cte, sieve_encrypt_inline_pgp_check_create());
	}
	if (strcasecmp(type, "multipart/encrypted") == 0) {
		if (!sieve_encrypt_check_is_pgpmime(content, cte))
			return NULL;
		return sieve_encrypt_pgpmime_check_create(content->boundary);
	}
	if (strcasecmp(type, "multipart/mixed") == 0) {
		/* PGP/MIME that Microsoft Exchange mixed up */
		if (!sieve_encrypt_check_is_multipart(content, cte))
			return NULL;
		return sieve_encrypt_pgpmime_mixed_up_check_create(
			content->boundary);
	}
	if (sieve_encrypt_check_is_smime(type)) {
		if (sieve_encrypt_check_smime_type_unencrypted(
			content->smime_type))
			return NULL;
		return sieve_encrypt_cte_decoder_create(
			cte, sieve_encrypt_cms_check_create());
	}
	return NULL;
}

/* Give the body to check; TRUE when it accepts all of it. Returns -1 on a
   read error. */
static int
sieve_encrypt_check_read(struct sieve_encrypt_sink *check,
			 struct istream *body, uoff_t max_body_size,
			 bool *accepted_r)
{
	const unsigned char *data;
	size_t size;
	uoff_t total = 0;
	int ret;

	*accepted_r = FALSE;
	while ((ret = i_stream_read_more(body, &data, &size)) > 0) {
		total += size;
		if (total > max_body_size ||
		    !sieve_encrypt_sink_write(check, data, size))
			return 0;
		i_stream_skip(body, size);
	}
	if (body->stream_errno != 0)
		return -1;
	/* (a non-blocking stream that has no more data yet: no answer) */
	*accepted_r = (ret == -1 && sieve_encrypt_sink_finish(check));
	return 0;
}

int sieve_encrypt_check_encrypted(const struct sieve_encrypt_content *content,
				  struct istream *input, uoff_t body_offset,
				  uoff_t max_body_size, bool *encrypted_r)
{
	struct sieve_encrypt_sink *check;
	struct istream *body;
	int ret = 0;

	*encrypted_r = FALSE;
	T_BEGIN {
		check = sieve_encrypt_check_create(content);
		if (check != NULL) {
			body = i_stream_create_range(input, body_offset,
						     max_body_size + 1);
			ret = sieve_encrypt_check_read(check, body,
						       max_body_size,
						       encrypted_r);
			i_stream_unref(&body);
		}
	} T_END;
	return ret;
}
