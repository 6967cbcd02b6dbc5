/* Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
 */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "str-sanitize.h"
#include "base64.h"
#include "istream.h"
#include "ostream.h"

#include "sieve-encrypt-gpg-exec.h"
#include "sieve-encrypt-gpg-engine.h"
#include "sieve-encrypt-gpg-io.h"
#include "sieve-encrypt-keyring.h"
#include "sieve-encrypt-cms-output.h"
#include "sieve-encrypt-cms.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

/* RFC 8551 section 4.2: 76 characters per line at most */
#define SIEVE_ENCRYPT_CMS_BASE64_LINE 76
/* gpgsm's certificate listing for the specs, and a status line, are
   never larger than this */
#define SIEVE_ENCRYPT_CMS_LISTING_MAX (1024 * 1024)
#define SIEVE_ENCRYPT_CMS_STATUS_LINE_MAX 4096
/* gpgsm's --cipher-algo: AES-256-CBC, which every S/MIME reader has */
#define SIEVE_ENCRYPT_CMS_CIPHER "AES256"

#define GNUPG_STATUS_PREFIX "[GNUPG:] "

/* A certificate as gpgsm lists it */
struct sieve_encrypt_cms_cert {
	const char *fpr;
	const char *serial;
	/* gpgsm's validity letters (e expired, r revoked, i invalid, d
	   disabled) and capabilities (e: encryption) */
	const char *validity, *caps;
	ARRAY_TYPE(const_string) emails;
};
ARRAY_DEFINE_TYPE(sieve_encrypt_cms_cert, struct sieve_encrypt_cms_cert *);

struct sieve_encrypt_cms {
	gpgme_ctx_t ctx;
	struct sieve_encrypt_gpg_io *io;
	pool_t pool;
	char *keybox, *gpgsm_binary, *exec_path, *allowed_gids, *user_gids;
	unsigned int timeout_secs;

	/* the current run's status channel: what gpgsm and
	   sieve-encrypt-gpg-exec said */
	string_t *status_line;
	char *exec_refused, *invalid_recipient;
	int exit_code;

	/* the current listing */
	string_t *listing_line;
	size_t listing_size;
	ARRAY_TYPE(sieve_encrypt_cms_cert) listed;
	/* the certificates found (from pool) */
	ARRAY_TYPE(sieve_encrypt_cms_cert) certs;
};

/* The streams behind gpgme's data callbacks during an encryption */
struct sieve_encrypt_cms_stream {
	struct sieve_encrypt_cms *cms;
	struct istream *input;
	struct ostream *output;
	struct base64_encoder b64;
	buffer_t *b64_buf;
	uoff_t ciphertext_size;
	struct sieve_encrypt_cms_output *check;
};

static const char *sieve_encrypt_cms_gpgme_error(gpgme_error_t err)
{
	return t_strdup_printf("%s (%s)", gpgme_strerror(err),
			       gpgme_strsource(err));
}

/* The spawn engine lists no keys */
static void sieve_encrypt_cms_no_key(gpgme_key_t key, void *context ATTR_UNUSED)
{
	gpgme_key_unref(key);
}

enum sieve_encrypt_gpg_status
sieve_encrypt_cms_create(const struct sieve_encrypt_cms_params *params,
			 struct sieve_encrypt_cms **cms_r,
			 const char **error_r)
{
	enum sieve_encrypt_gpg_status status;
	struct sieve_encrypt_cms *cms;
	const char *keybox, *user_gids, *path;
	gpgme_ctx_t ctx = NULL;
	gpgme_error_t err;

	*cms_r = NULL;
	if (sieve_encrypt_gpg_engine_check_ids(params->allowed_gids,
					       &user_gids, error_r) < 0)
		return SIEVE_ENCRYPT_GPG_FAILED;
	status = sieve_encrypt_keyring_find_keybox(params->home_dir, &keybox,
						   error_r);
	if (status != SIEVE_ENCRYPT_GPG_OK)
		return status;
	/* With the effective ids: under LMTP the real uid may be 0 */
	path = params->exec_path;
	if (faccessat(AT_FDCWD, path, X_OK, AT_EACCESS) < 0 ||
	    faccessat(AT_FDCWD, (path = params->gpgsm_binary), X_OK,
		      AT_EACCESS) < 0) {
		*error_r = t_strdup_printf("%s: not executable: %m", path);
		return SIEVE_ENCRYPT_GPG_FAILED;
	}

	err = gpgme_new(&ctx);
	if (err == 0)
		err = gpgme_set_protocol(ctx, GPGME_PROTOCOL_SPAWN);
	if (err != 0) {
		*error_r = t_strdup_printf("gpgme (spawn engine): %s",
					   sieve_encrypt_cms_gpgme_error(err));
		gpgme_release(ctx);
		return SIEVE_ENCRYPT_GPG_FAILED;
	}

	cms = i_new(struct sieve_encrypt_cms, 1);
	cms->ctx = ctx;
	cms->pool = pool_alloconly_create("sieve_encrypt cms", 1024);
	cms->keybox = i_strdup(keybox);
	cms->gpgsm_binary = i_strdup(params->gpgsm_binary);
	cms->exec_path = i_strdup(params->exec_path);
	cms->allowed_gids = i_strdup(params->allowed_gids);
	cms->user_gids = i_strdup(user_gids);
	cms->timeout_secs = params->timeout_secs;
	cms->status_line = str_new(default_pool, 128);
	cms->listing_line = str_new(default_pool, 256);
	p_array_init(&cms->listed, cms->pool, 8);
	p_array_init(&cms->certs, cms->pool, 4);
	cms->io = sieve_encrypt_gpg_io_attach(ctx, params->timeout_secs * 1000,
					      sieve_encrypt_cms_no_key, cms);
	*cms_r = cms;
	return SIEVE_ENCRYPT_GPG_OK;
}

static void sieve_encrypt_cms_reset_status(struct sieve_encrypt_cms *cms)
{
	str_truncate(cms->status_line, 0);
	i_free(cms->exec_refused);
	i_free(cms->invalid_recipient);
	cms->exit_code = -1;
}

void sieve_encrypt_cms_destroy(struct sieve_encrypt_cms **_cms)
{
	struct sieve_encrypt_cms *cms = *_cms;

	if (cms == NULL)
		return;
	*_cms = NULL;

	sieve_encrypt_cms_reset_status(cms);
	str_free(&cms->status_line);
	str_free(&cms->listing_line);
	sieve_encrypt_gpg_io_detach(&cms->io);
	gpgme_release(cms->ctx);
	pool_unref(&cms->pool);
	i_free(cms->keybox);
	i_free(cms->gpgsm_binary);
	i_free(cms->exec_path);
	i_free(cms->allowed_gids);
	i_free(cms->user_gids);
	i_free(cms);
}

/*
 * Running gpgsm
 */

/* (str_begins() changed its signature in Dovecot 2.4) */
static bool sieve_encrypt_cms_prefix(const char *str, const char *prefix)
{
	return strncmp(str, prefix, strlen(prefix)) == 0;
}

/* A line on gpgsm's stderr: status lines begin with "[GNUPG:] " */
static void
sieve_encrypt_cms_status(struct sieve_encrypt_cms *cms, const char *line)
{
	const char *args;

	if (!sieve_encrypt_cms_prefix(line, GNUPG_STATUS_PREFIX))
		return;
	line += strlen(GNUPG_STATUS_PREFIX);
	args = strchr(line, ' ');
	args = (args == NULL ? "" : args + 1);
	if (sieve_encrypt_cms_prefix(line,
			SIEVE_ENCRYPT_GPG_EXEC_STATUS_REFUSED" ")) {
		if (cms->exec_refused == NULL)
			cms->exec_refused = i_strdup(args);
	} else if (sieve_encrypt_cms_prefix(line,
			SIEVE_ENCRYPT_GPG_EXEC_STATUS_EXIT" ")) {
		if (str_to_int(args, &cms->exit_code) < 0)
			cms->exit_code = -1;
	} else if (sieve_encrypt_cms_prefix(line, "INV_RECP ")) {
		if (cms->invalid_recipient == NULL)
			cms->invalid_recipient = i_strdup(args);
	}
}

/* Cut data into lines; each complete one to callback. Returns -1 when a
   line is longer than max. */
static int
sieve_encrypt_cms_lines(string_t *partial, const unsigned char *data,
			size_t size, size_t max,
			void (*callback)(struct sieve_encrypt_cms *cms,
					 const char *line),
			struct sieve_encrypt_cms *cms)
{
	const unsigned char *nl;
	size_t n;

	while (size > 0) {
		nl = memchr(data, '\n', size);
		n = (nl == NULL ? size : (size_t)(nl - data));
		if (str_len(partial) + n > max)
			return -1;
		str_append_data(partial, data, n);
		if (nl == NULL)
			break;
		T_BEGIN {
			callback(cms, t_strcut(str_c(partial), '\r'));
		} T_END;
		str_truncate(partial, 0);
		data += n + 1;
		size -= n + 1;
	}
	return 0;
}

static int sieve_encrypt_cms_status_consume(void *context, const void *data,
					    size_t size)
{
	struct sieve_encrypt_cms *cms = context;

	if (sieve_encrypt_cms_lines(cms->status_line, data, size,
				    SIEVE_ENCRYPT_CMS_STATUS_LINE_MAX,
				    sieve_encrypt_cms_status, cms) < 0) {
		/* a log line that long carries no status: drop it */
		str_truncate(cms->status_line, 0);
	}
	return 0;
}

/* gpgsm's stderr: its log and, with --status-fd 2, its status lines */
static ssize_t
sieve_encrypt_cms_stderr(void *handle, const void *buffer, size_t size)
{
	struct sieve_encrypt_cms *cms = handle;

	return sieve_encrypt_gpg_io_write_output(cms->io, buffer, size,
		sieve_encrypt_cms_status_consume, cms);
}

/* Run sieve-encrypt-gpg-exec with gpgsm's arguments (after gpgsm's fixed
   ones), its stdin from plain (NULL: none), stdout to out */
static gpgme_error_t
sieve_encrypt_cms_run(struct sieve_encrypt_cms *cms,
		      const char *const *args, gpgme_data_t plain,
		      gpgme_data_t out)
{
	struct gpgme_data_cbs err_cbs = {
		.write = sieve_encrypt_cms_stderr,
	};
	struct sieve_encrypt_gpg_run run = {
		.gpg = cms->gpgsm_binary,
		.keyring = cms->keybox,
		.user_gids = cms->user_gids,
		.allowed_gids = cms->allowed_gids,
		.cms = TRUE,
	};
	struct sieve_encrypt_gpg_engine_env *env;
	ARRAY_TYPE(const_string) argv;
	const char *arg;
	gpgme_data_t errdata;
	gpgme_error_t err;

	err = gpgme_data_new_from_cbs(&errdata, &err_cbs, cms);
	if (err != 0)
		return err;
	t_array_init(&argv, 16);
	/* argv[0]: gpgme puts the program's name there */
	arg = "";
	array_push_back(&argv, &arg);
	arg = "--status-fd";
	array_push_back(&argv, &arg);
	arg = "2";
	array_push_back(&argv, &arg);
	for (; *args != NULL; args++)
		array_push_back(&argv, args);
	array_append_zero(&argv);

	sieve_encrypt_cms_reset_status(cms);
	sieve_encrypt_gpg_io_begin(cms->io);
	/* gpgme starts the program within the _start call; the program
	   kills gpgsm at the I/O loop's deadline */
	run.deadline = *sieve_encrypt_gpg_io_deadline(cms->io);
	env = sieve_encrypt_gpg_engine_env_push(&run);
	err = gpgme_op_spawn_start(cms->ctx, cms->exec_path,
				   array_front_modifiable(&argv), plain, out,
				   errdata, 0);
	sieve_encrypt_gpg_engine_env_pop(&env);
	err = sieve_encrypt_gpg_io_end(cms->io, err);
	/* A last status line without its newline */
	if (str_len(cms->status_line) > 0) {
		T_BEGIN {
			sieve_encrypt_cms_status(cms, t_strdup(
				str_c(cms->status_line)));
		} T_END;
	}
	gpgme_data_release(errdata);
	return err;
}

/* Why the run failed, or NULL when it did not: the operation's error,
   sieve-encrypt-gpg-exec's refusal, the deadline, gpgsm's exit code */
static const char *
sieve_encrypt_cms_run_error(struct sieve_encrypt_cms *cms, gpgme_error_t err)
{
	if (cms->exec_refused != NULL) {
		return t_strdup_printf(
			"sieve-encrypt-gpg-exec did not run gpgsm: %s",
			str_sanitize(cms->exec_refused, 256));
	}
	if (gpgme_err_code(err) == GPG_ERR_TIMEOUT) {
		return t_strdup_printf("gpgsm did not finish within %u "
				       "seconds (killed)", cms->timeout_secs);
	}
	if (err != 0)
		return sieve_encrypt_cms_gpgme_error(err);
	if (cms->exit_code < 0) {
		return "gpgsm ended without an exit code from "
			"sieve-encrypt-gpg-exec (did it run?)";
	}
	if (cms->exit_code != 0) {
		return t_strdup_printf("gpgsm exited with code %d%s%s",
				       cms->exit_code,
				       (cms->invalid_recipient == NULL ? "" :
					": invalid recipient "),
				       (cms->invalid_recipient == NULL ? "" :
					str_sanitize(cms->invalid_recipient,
						     128)));
	}
	return NULL;
}

/*
 * Certificate lookup
 */

/* The colon-separated field idx (from 0) of line, or "" */
static const char *
sieve_encrypt_cms_field(const char *const *fields, unsigned int idx)
{
	unsigned int i;

	for (i = 0; i < idx; i++) {
		if (fields[i] == NULL)
			return "";
	}
	return (fields[idx] == NULL ? "" : fields[idx]);
}

/* One line of gpgsm --with-colons --list-keys: crt (or crs) begins a
   certificate, fpr gives its fingerprint, uid lines in the form
   "<address>" its e-mail addresses. Other lines are left alone. */
static void
sieve_encrypt_cms_listing_line(struct sieve_encrypt_cms *cms,
			       const char *line)
{
	const char *const *fields = t_strsplit(line, ":");
	struct sieve_encrypt_cms_cert *cert, *const *last;
	const char *uid, *email;

	if (strcmp(fields[0], "crt") == 0 || strcmp(fields[0], "crs") == 0) {
		cert = p_new(cms->pool, struct sieve_encrypt_cms_cert, 1);
		cert->validity = p_strdup(cms->pool,
					  sieve_encrypt_cms_field(fields, 1));
		cert->serial = p_strdup(cms->pool,
					sieve_encrypt_cms_field(fields, 7));
		cert->caps = p_strdup(cms->pool,
				      sieve_encrypt_cms_field(fields, 11));
		p_array_init(&cert->emails, cms->pool, 2);
		array_push_back(&cms->listed, &cert);
		return;
	}
	if (array_count(&cms->listed) == 0)
		return;
	last = array_back(&cms->listed);
	cert = *last;
	if (strcmp(fields[0], "fpr") == 0 && cert->fpr == NULL) {
		cert->fpr = p_strdup(cms->pool,
				     sieve_encrypt_cms_field(fields, 9));
	} else if (strcmp(fields[0], "uid") == 0) {
		uid = sieve_encrypt_cms_field(fields, 9);
		if (uid[0] == '<' && uid[strlen(uid) - 1] == '>') {
			email = p_strndup(cms->pool, uid + 1,
					  strlen(uid) - 2);
			array_push_back(&cert->emails, &email);
		}
	}
}

static ssize_t
sieve_encrypt_cms_listing_write(void *handle, const void *buffer, size_t size)
{
	struct sieve_encrypt_cms *cms = handle;

	cms->listing_size += size;
	if (cms->listing_size > SIEVE_ENCRYPT_CMS_LISTING_MAX ||
	    sieve_encrypt_cms_lines(cms->listing_line, buffer, size,
				    SIEVE_ENCRYPT_CMS_LISTING_MAX,
				    sieve_encrypt_cms_listing_line,
				    cms) < 0) {
		errno = EFBIG;
		return -1;
	}
	return (ssize_t)size;
}

static int
sieve_encrypt_cms_list(struct sieve_encrypt_cms *cms,
		       const char *const *patterns, const char **error_r)
{
	struct gpgme_data_cbs cbs = {
		.write = sieve_encrypt_cms_listing_write,
	};
	ARRAY_TYPE(const_string) args;
	const char *arg, *error;
	gpgme_data_t out;
	gpgme_error_t err;

	t_array_init(&args, 8);
	arg = "--with-colons";
	array_push_back(&args, &arg);
	arg = "--list-keys";
	array_push_back(&args, &arg);
	arg = "--";
	array_push_back(&args, &arg);
	for (; *patterns != NULL; patterns++)
		array_push_back(&args, patterns);
	array_append_zero(&args);

	array_clear(&cms->listed);
	str_truncate(cms->listing_line, 0);
	cms->listing_size = 0;
	err = gpgme_data_new_from_cbs(&out, &cbs, cms);
	if (err == 0) {
		err = sieve_encrypt_cms_run(cms, array_front(&args), NULL,
					    out);
		gpgme_data_release(out);
	}
	error = sieve_encrypt_cms_run_error(cms, err);
	if (error == NULL && str_len(cms->listing_line) > 0)
		error = "gpgsm's listing ends in the middle of a line";
	if (error != NULL) {
		*error_r = t_strdup_printf("listing certificates in %s "
					   "failed: %s", cms->keybox, error);
		return -1;
	}
	return 0;
}

/* NULL when the certificate can be encrypted to, else why not */
static const char *
sieve_encrypt_cms_cert_unusable(const struct sieve_encrypt_cms_cert *cert)
{
	if (strchr(cert->validity, 'r') != NULL)
		return "revoked";
	if (strchr(cert->validity, 'e') != NULL)
		return "expired";
	if (strchr(cert->validity, 'i') != NULL)
		return "invalid";
	if (strchr(cert->validity, 'd') != NULL)
		return "disabled";
	if (strchr(cert->caps, 'e') == NULL)
		return "not usable for encryption";
	if (cert->fpr == NULL || strlen(cert->fpr) != 40 ||
	    *cert->serial == '\0')
		return "listed without fingerprint or serial number";
	return NULL;
}

static bool
sieve_encrypt_cms_cert_match(const struct sieve_encrypt_cms_cert *cert,
			     enum sieve_encrypt_key_type type,
			     const char *norm)
{
	const char *const *email;
	size_t len;

	if (type == SIEVE_ENCRYPT_KEY_ADDRESS) {
		array_foreach(&cert->emails, email) {
			if (strcasecmp(*email, norm) == 0)
				return TRUE;
		}
		return FALSE;
	}
	if (cert->fpr == NULL)
		return FALSE;
	if (type == SIEVE_ENCRYPT_KEY_FINGERPRINT)
		return strcasecmp(cert->fpr, norm) == 0;
	/* a key id: the last 16 digits, as gpgsm shows it */
	len = strlen(cert->fpr);
	return (len >= 16 && strcasecmp(cert->fpr + len - 16, norm) == 0);
}

static void
sieve_encrypt_cms_add_cert(struct sieve_encrypt_cms *cms,
			   struct sieve_encrypt_cms_cert *cert)
{
	struct sieve_encrypt_cms_cert *const *old;

	array_foreach(&cms->certs, old) {
		if (strcmp((*old)->fpr, cert->fpr) == 0)
			return;
	}
	array_push_back(&cms->certs, &cert);
}

static enum sieve_encrypt_gpg_status
sieve_encrypt_cms_select(struct sieve_encrypt_cms *cms, const char *spec,
			 enum sieve_encrypt_key_type type, const char *norm,
			 const char **error_r)
{
	struct sieve_encrypt_cms_cert *const *cert;
	const char *why, *reason = NULL, *unusable = NULL;
	bool usable = FALSE;

	array_foreach(&cms->listed, cert) {
		if (!sieve_encrypt_cms_cert_match(*cert, type, norm))
			continue;
		why = sieve_encrypt_cms_cert_unusable(*cert);
		if (why == NULL) {
			sieve_encrypt_cms_add_cert(cms, *cert);
			usable = TRUE;
		} else if (reason == NULL) {
			reason = why;
			unusable = ((*cert)->fpr == NULL ? "?" : (*cert)->fpr);
		}
	}
	if (usable)
		return SIEVE_ENCRYPT_GPG_OK;
	if (reason != NULL) {
		*error_r = t_strdup_printf("certificate `%s' (%s) is %s",
					   str_sanitize(spec, 128), unusable,
					   reason);
	} else {
		*error_r = t_strdup_printf("no certificate for `%s' in %s",
					   str_sanitize(spec, 128),
					   cms->keybox);
	}
	return SIEVE_ENCRYPT_GPG_NO_KEY;
}

/* gpgsm's pattern: "<addr>" matches the address exactly; a fingerprint
   is looked up as one; a key id is listed by all certificates whose
   fingerprints end in it */
static const char *
sieve_encrypt_cms_pattern(enum sieve_encrypt_key_type type, const char *norm)
{
	switch (type) {
	case SIEVE_ENCRYPT_KEY_ADDRESS:
		return t_strdup_printf("<%s>", norm);
	case SIEVE_ENCRYPT_KEY_KEYID:
		return t_strconcat("0x", norm, NULL);
	case SIEVE_ENCRYPT_KEY_FINGERPRINT:
	case SIEVE_ENCRYPT_KEY_INVALID:
		break;
	}
	return norm;
}

enum sieve_encrypt_gpg_status
sieve_encrypt_cms_find_certs(struct sieve_encrypt_cms *cms,
			     const char *const *specs, const char **error_r)
{
	unsigned int i, count = str_array_length(specs);
	enum sieve_encrypt_key_type *types;
	const char **norms, **patterns;
	enum sieve_encrypt_gpg_status status = SIEVE_ENCRYPT_GPG_OK;

	if (sieve_encrypt_key_specs_check(specs, error_r) < 0)
		return SIEVE_ENCRYPT_GPG_NO_KEY;

	types = t_new(enum sieve_encrypt_key_type, count);
	norms = t_new(const char *, count);
	patterns = t_new(const char *, count + 1);
	for (i = 0; i < count; i++) {
		types[i] = sieve_encrypt_key_spec_parse(specs[i], &norms[i]);
		/* an SHA-256 fingerprint is OpenPGP's v5 key: no X.509
		   certificate has it */
		if (types[i] == SIEVE_ENCRYPT_KEY_FINGERPRINT &&
		    strlen(norms[i]) != 40) {
			*error_r = t_strdup_printf(
				"no certificate for `%s': X.509 certificates "
				"are found by their SHA-1 fingerprint (40 hex "
				"digits)", str_sanitize(specs[i], 128));
			return SIEVE_ENCRYPT_GPG_NO_KEY;
		}
		patterns[i] = sieve_encrypt_cms_pattern(types[i], norms[i]);
	}

	if (sieve_encrypt_cms_list(cms, patterns, error_r) < 0)
		status = SIEVE_ENCRYPT_GPG_FAILED;
	for (i = 0; i < count && status == SIEVE_ENCRYPT_GPG_OK; i++) {
		status = sieve_encrypt_cms_select(cms, specs[i], types[i],
						  norms[i], error_r);
	}
	array_clear(&cms->listed);
	return status;
}

const char *sieve_encrypt_cms_cert_ids(struct sieve_encrypt_cms *cms)
{
	struct sieve_encrypt_cms_cert *const *cert;
	string_t *str = t_str_new(64);

	array_foreach(&cms->certs, cert) {
		if (str_len(str) > 0)
			str_append(str, ", ");
		str_append(str, (*cert)->fpr);
	}
	return str_c(str);
}

/*
 * Encryption
 */

const struct sieve_encrypt_gpg_traffic *
sieve_encrypt_cms_traffic(const struct sieve_encrypt_cms *cms)
{
	return sieve_encrypt_gpg_io_traffic(cms->io);
}

static ssize_t
sieve_encrypt_cms_read(void *handle, void *buffer, size_t size)
{
	struct sieve_encrypt_cms_stream *io = handle;

	return sieve_encrypt_gpg_io_read_input(io->cms->io, io->input,
					       buffer, size);
}

/* Each piece of gpgsm's output is checked and encoded */
static int sieve_encrypt_cms_output(void *context, const void *data,
				    size_t size)
{
	struct sieve_encrypt_cms_stream *io = context;

	sieve_encrypt_cms_output_feed(io->check, data, size);
	io->ciphertext_size += size;
	buffer_set_used_size(io->b64_buf, 0);
	base64_encode_more(&io->b64, data, size, NULL, io->b64_buf);
	o_stream_nsend(io->output, io->b64_buf->data, io->b64_buf->used);
	if (io->output->stream_errno != 0) {
		errno = io->output->stream_errno;
		return -1;
	}
	return 0;
}

static ssize_t
sieve_encrypt_cms_write(void *handle, const void *buffer, size_t size)
{
	struct sieve_encrypt_cms_stream *io = handle;

	sieve_encrypt_gpg_io_count_through(io->cms->io, FALSE, size);
	return sieve_encrypt_gpg_io_write_output(io->cms->io, buffer, size,
						 sieve_encrypt_cms_output, io);
}

static void
sieve_encrypt_cms_base64_end(struct sieve_encrypt_cms_stream *io, bool crlf)
{
	buffer_set_used_size(io->b64_buf, 0);
	base64_encode_finish(&io->b64, io->b64_buf);
	if (io->ciphertext_size > 0)
		buffer_append(io->b64_buf, crlf ? "\r\n" : "\n", crlf ? 2 : 1);
	o_stream_nsend(io->output, io->b64_buf->data, io->b64_buf->used);
}

/* Whether gpgsm did the encryption that was asked for */
static int
sieve_encrypt_cms_encrypt_result(struct sieve_encrypt_cms_stream *io,
				 gpgme_error_t err, const char **error_r)
{
	struct sieve_encrypt_cms *cms = io->cms;
	const char *error;

	if (io->input->stream_errno != 0) {
		*error_r = t_strdup_printf("reading the message failed: %s",
					   i_stream_get_error(io->input));
		return -1;
	}
	if (io->output->stream_errno != 0) {
		*error_r = t_strdup_printf("writing the ciphertext failed: %s",
					   o_stream_get_error(io->output));
		return -1;
	}
	error = sieve_encrypt_cms_run_error(cms, err);
	if (error != NULL) {
		*error_r = t_strdup_printf("gpgsm failed: %s", error);
		return -1;
	}
	/* gpgsm 2.2 says nothing like gpg's END_ENCRYPTION: its exit code
	   0 (above), all of the entity read and a complete CMS object
	   (below) tell that it finished */
	if (!io->input->eof || i_stream_get_data_size(io->input) != 0) {
		*error_r = "gpgsm ended without completing the encryption";
		return -1;
	}
	if (sieve_encrypt_cms_output_finish(io->check, &error) < 0) {
		*error_r = t_strdup_printf("gpgsm's output is not the "
					   "encryption asked for: %s", error);
		return -1;
	}
	return 0;
}

enum sieve_encrypt_gpg_status
sieve_encrypt_cms_encrypt(struct sieve_encrypt_cms *cms,
			  struct istream *input, struct ostream *output,
			  bool crlf, const char **error_r)
{
	struct gpgme_data_cbs plain_cbs = {
		.read = sieve_encrypt_cms_read,
	};
	struct gpgme_data_cbs cipher_cbs = {
		.write = sieve_encrypt_cms_write,
	};
	struct sieve_encrypt_cms_stream io = {
		.cms = cms,
		.input = input,
		.output = output,
	};
	struct sieve_encrypt_cms_cert *const *cert;
	ARRAY_TYPE(const_string) args;
	enum sieve_encrypt_gpg_status status = SIEVE_ENCRYPT_GPG_FAILED;
	gpgme_data_t plain = NULL, cipher = NULL;
	const char *arg;
	gpgme_error_t err;

	i_assert(array_count(&cms->certs) > 0);
	t_array_init(&args, 16);
	arg = "--cipher-algo";
	array_push_back(&args, &arg);
	arg = SIEVE_ENCRYPT_CMS_CIPHER;
	array_push_back(&args, &arg);
	arg = "--encrypt";
	array_push_back(&args, &arg);
	io.check = sieve_encrypt_cms_output_create();
	array_foreach(&cms->certs, cert) {
		arg = "--recipient";
		array_push_back(&args, &arg);
		array_push_back(&args, &(*cert)->fpr);
		sieve_encrypt_cms_output_expect(io.check, (*cert)->serial);
	}
	array_append_zero(&args);

	base64_encode_init(&io.b64, &base64_scheme,
			   (crlf ? BASE64_ENCODE_FLAG_CRLF : 0),
			   SIEVE_ENCRYPT_CMS_BASE64_LINE);
	io.b64_buf = buffer_create_dynamic(default_pool, 8192);
	err = gpgme_data_new_from_cbs(&plain, &plain_cbs, &io);
	if (err == 0)
		err = gpgme_data_new_from_cbs(&cipher, &cipher_cbs, &io);
	if (err == 0) {
		err = sieve_encrypt_cms_run(cms, array_front(&args), plain,
					    cipher);
		if (sieve_encrypt_cms_encrypt_result(&io, err, error_r) == 0) {
			sieve_encrypt_cms_base64_end(&io, crlf);
			status = SIEVE_ENCRYPT_GPG_OK;
		}
	} else {
		*error_r = t_strdup_printf("gpgme_data_new_from_cbs() failed: %s",
					   sieve_encrypt_cms_gpgme_error(err));
	}
	gpgme_data_release(plain);
	gpgme_data_release(cipher);
	buffer_free(&io.b64_buf);
	sieve_encrypt_cms_output_free(&io.check);
	return status;
}
