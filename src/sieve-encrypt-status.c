/* Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
 */

#include "lib.h"
#include "message-header-parser.h"

#include "sieve-encrypt-status.h"

/* RFC 5322 section 3.6 (and the trace fields): fields that readers,
   threading and replies depend on; a status must never replace one */
static const char *const status_header_reserved[] = {
	"MIME-Version", "Date", "From", "Sender", "Reply-To", "To", "Cc",
	"Bcc", "Message-ID", "In-Reply-To", "References", "Subject",
	"Comments", "Keywords", "Return-Path", "Received", NULL
};

const char *sieve_encrypt_status_value(enum sieve_encrypt_status status)
{
	switch (status) {
	case SIEVE_ENCRYPT_STATUS_ENCRYPTED:
		return "encrypted";
	case SIEVE_ENCRYPT_STATUS_ALREADY_ENCRYPTED:
		return "already-encrypted";
	case SIEVE_ENCRYPT_STATUS_NO_KEY:
		return "no-key";
	case SIEVE_ENCRYPT_STATUS_FAILED:
		return "failed";
	}
	i_unreached();
}

bool sieve_encrypt_status_header_name_check(const char *name,
					    const char **error_r)
{
	const char *reason = NULL;

	if (*name == '\0' || !message_header_name_is_valid(name))
		reason = "not a valid header field name";
	else if (strlen(name) > SIEVE_ENCRYPT_STATUS_HEADER_MAX_NAME)
		reason = "longer than 58 characters";
	else if (strncasecmp(name, "Content-", 8) == 0 ||
		 strncasecmp(name, "Resent-", 7) == 0 ||
		 str_array_icase_find(status_header_reserved, name))
		reason = "a field of the message's own structure";
	if (reason == NULL)
		return TRUE;
	*error_r = t_strdup_printf("sieve_encrypt_status_header=%s: %s",
				   name, reason);
	return FALSE;
}
