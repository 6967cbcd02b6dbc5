/* Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
 */

#include "lib.h"
#include "str.h"
#include "istream.h"
#include "rfc822-parser.h"
#include "rfc2231-parser.h"
#include "message-header-parser.h"

#include "sieve-encrypt-content.h"

static void
sieve_encrypt_content_param(pool_t pool, const char **dest,
			    const char *value)
{
	/* the first of duplicate parameters counts */
	if (*dest == NULL)
		*dest = p_strdup(pool, value);
}

static void
sieve_encrypt_content_parse_type(pool_t pool,
				 struct sieve_encrypt_content *content,
				 const unsigned char *value, size_t size)
{
	struct rfc822_parser_context parser;
	const char *const *params;
	string_t *ctype = t_str_new(64);

	rfc822_parser_init(&parser, value, size, NULL);
	rfc822_skip_lwsp(&parser);
	if (rfc822_parse_content_type(&parser, ctype) < 0) {
		rfc822_parser_deinit(&parser);
		return;
	}
	content->type = p_strdup(pool, str_c(ctype));

	(void)rfc2231_parse(&parser, &params);
	for (; *params != NULL; params += 2) {
		if (strcasecmp(params[0], "smime-type") == 0) {
			sieve_encrypt_content_param(pool, &content->smime_type,
						    params[1]);
		} else if (strcasecmp(params[0], "protocol") == 0) {
			sieve_encrypt_content_param(pool, &content->protocol,
						    params[1]);
		} else if (strcasecmp(params[0], "boundary") == 0) {
			sieve_encrypt_content_param(pool, &content->boundary,
						    params[1]);
		} else if (strcasecmp(params[0], "charset") == 0) {
			sieve_encrypt_content_param(pool, &content->charset,
						    params[1]);
		}
	}
	rfc822_parser_deinit(&parser);
}

const char *sieve_encrypt_content_token(const unsigned char *value,
					size_t size)
{
	struct rfc822_parser_context parser;
	string_t *token = t_str_new(32);

	rfc822_parser_init(&parser, value, size, NULL);
	rfc822_skip_lwsp(&parser);
	if (rfc822_parse_mime_token(&parser, token) < 0)
		str_truncate(token, 0);
	rfc822_parser_deinit(&parser);
	return str_c(token);
}

static void
sieve_encrypt_content_parse_encoding(pool_t pool,
				     struct sieve_encrypt_content *content,
				     const unsigned char *value, size_t size)
{
	const char *token = sieve_encrypt_content_token(value, size);

	if (*token != '\0')
		content->transfer_encoding = p_strdup(pool, token);
}

void sieve_encrypt_content_parse_field(pool_t pool,
				       struct sieve_encrypt_content *content,
				       const struct message_header_line *hdr)
{
	if (strcasecmp(hdr->name, "Content-Type") == 0) {
		if (content->type == NULL) {
			sieve_encrypt_content_parse_type(
				pool, content, hdr->full_value,
				hdr->full_value_len);
		}
	} else if (strcasecmp(hdr->name, "Content-Transfer-Encoding") == 0) {
		if (content->transfer_encoding == NULL) {
			sieve_encrypt_content_parse_encoding(
				pool, content, hdr->full_value,
				hdr->full_value_len);
		}
	}
}

void sieve_encrypt_content_parse_header(
	const unsigned char *data, size_t size,
	struct sieve_encrypt_content *content_r)
{
	struct message_header_parser_ctx *parser;
	struct message_header_line *hdr;
	struct istream *input;

	i_zero(content_r);
	input = i_stream_create_from_data(data, size);
	parser = message_parse_header_init(input, NULL, 0);
	while (message_parse_header_next(parser, &hdr) > 0) {
		if (hdr->eoh)
			continue;
		if (hdr->continues) {
			hdr->use_full_value = TRUE;
			continue;
		}
		sieve_encrypt_content_parse_field(pool_datastack_create(),
						  content_r, hdr);
	}
	message_parse_header_deinit(&parser);
	i_stream_unref(&input);
}
