/* Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
 */

#include "lib.h"
#include "str.h"
#include "time-util.h"
#include "home-expand.h"
#include "istream.h"
#include "ostream.h"
#include "iostream-temp.h"
#include "mail-storage.h"
#include "mail-user.h"

#include "sieve-common.h"
#include "sieve-settings.h"
#include "sieve-message.h"
#include "sieve-execute.h"
#include "sieve-runtime.h"
#include "sieve-code.h"

#include "sieve-encrypt-settings.h"
#include "sieve-encrypt-mime.h"
#include "sieve-encrypt-inline.h"
#include "sieve-encrypt-gpg.h"
#include "sieve-encrypt-cms.h"
#include "sieve-encrypt-guard.h"
#include "sieve-encrypt-stored.h"
#include "sieve-encrypt-message.h"

/* Ciphertext up to this size stays in memory, larger goes to an unlinked
   temporary file (which holds nothing but the encrypted message). */
#define SIEVE_ENCRYPT_MAX_MEM_SIZE (256 * 1024)

struct sieve_encrypt_job {
	const struct sieve_runtime_env *renv;
	const struct sieve_encrypt_options *options;
	/* sieve_encrypt_status_header */
	const char *status_header;
	struct istream *input;
	struct sieve_encrypt_mime *mime;
	struct sieve_encrypt_gpg *gpg;
	/* instead of gpg for the S/MIME format */
	struct sieve_encrypt_cms *cms;
	struct sieve_encrypt_report *report;
};

static enum sieve_encrypt_outcome
sieve_encrypt_outcome_from_gpg(enum sieve_encrypt_gpg_status status)
{
	switch (status) {
	case SIEVE_ENCRYPT_GPG_OK:
		return SIEVE_ENCRYPT_DONE;
	case SIEVE_ENCRYPT_GPG_NO_KEY:
		return SIEVE_ENCRYPT_NO_KEY;
	case SIEVE_ENCRYPT_GPG_FAILED:
		break;
	}
	return SIEVE_ENCRYPT_FAILED;
}

static const char *
sieve_encrypt_gnupg_home(struct sieve_instance *svinst,
			 const struct sieve_encrypt_settings *set,
			 const char **error_r)
{
	const char *path = set->gnupg_home, *home;

	if (path[0] == '~') {
		home = sieve_environment_get_homedir(svinst);
		if (home == NULL) {
			*error_r = t_strdup_printf(
				"sieve_encrypt_gnupg_home=%s needs the user's "
				"home directory, which is unknown", path);
			return NULL;
		}
		path = home_expand_tilde(path, home);
	}
	/* A relative path would depend on the delivery's working directory,
	   where it would mostly not exist: "no keyring" for everyone */
	if (path[0] != '/') {
		*error_r = t_strdup_printf(
			"sieve_encrypt_gnupg_home=%s is not an absolute path "
			"(it must begin with / or ~/)", set->gnupg_home);
		return NULL;
	}
	return path;
}

static struct ostream *
sieve_encrypt_temp_create(const struct sieve_runtime_env *renv)
{
	const struct sieve_script_env *senv = renv->exec_env->scriptenv;
	string_t *prefix = t_str_new(128);

	mail_user_set_get_temp_prefix(prefix, senv->user->set);
	return iostream_temp_create_sized(str_c(prefix), 0, "encrypt",
					  SIEVE_ENCRYPT_MAX_MEM_SIZE);
}

/* The outcome of gpg's encryption of plaintext (read up to its end or
   to an error) into the message being written */
static enum sieve_encrypt_outcome
sieve_encrypt_job_encrypted(struct sieve_encrypt_job *job,
			    struct istream *plaintext,
			    enum sieve_encrypt_gpg_status status,
			    const char *error)
{
	job->report->plain_size = plaintext->v_offset;
	if (job->input->stream_errno != 0) {
		job->report->error = i_stream_get_error(job->input);
		return SIEVE_ENCRYPT_MAIL_ERROR;
	}
	if (status != SIEVE_ENCRYPT_GPG_OK) {
		job->report->error = error;
		return SIEVE_ENCRYPT_FAILED;
	}
	job->report->key_ids = sieve_encrypt_gpg_key_ids(job->gpg);
	job->report->traffic = *sieve_encrypt_gpg_traffic(job->gpg);
	return SIEVE_ENCRYPT_DONE;
}

/* Write the PGP/MIME message into output; returns the outcome */
static enum sieve_encrypt_outcome
sieve_encrypt_job_write_pgpmime(struct sieve_encrypt_job *job,
				struct ostream *output)
{
	const char *boundary = sieve_encrypt_mime_boundary();
	struct istream *entity;
	enum sieve_encrypt_gpg_status status;
	enum sieve_encrypt_outcome outcome;
	const char *error = NULL;

	sieve_encrypt_mime_write_head(job->mime, job->input, output,
				      boundary);
	entity = sieve_encrypt_mime_entity(job->mime, job->input);
	status = sieve_encrypt_gpg_encrypt(
		job->gpg, entity, output,
		sieve_encrypt_mime_uses_crlf(job->mime), &error);
	outcome = sieve_encrypt_job_encrypted(job, entity, status, error);
	i_stream_unref(&entity);
	if (outcome == SIEVE_ENCRYPT_DONE)
		sieve_encrypt_mime_write_tail(job->mime, output, boundary);
	return outcome;
}

/* Write the inline PGP message into output */
static enum sieve_encrypt_outcome
sieve_encrypt_job_write_inline(struct sieve_encrypt_job *job,
			       const struct sieve_encrypt_inline *inl,
			       struct ostream *output)
{
	struct istream *plaintext;
	enum sieve_encrypt_gpg_status status;
	enum sieve_encrypt_outcome outcome;
	const char *error = NULL;

	sieve_encrypt_inline_write_head(inl, job->input, output);
	plaintext = sieve_encrypt_inline_plaintext(inl, job->input);
	sieve_encrypt_gpg_set_armor_charset(
		job->gpg, sieve_encrypt_inline_armor_charset(inl));
	status = sieve_encrypt_gpg_encrypt(
		job->gpg, plaintext, output,
		sieve_encrypt_mime_uses_crlf(job->mime), &error);
	outcome = sieve_encrypt_job_encrypted(job, plaintext, status, error);
	i_stream_unref(&plaintext);
	return outcome;
}

/* Inline PGP when the message allows it, else PGP/MIME (the reason
   logged) */
static enum sieve_encrypt_outcome
sieve_encrypt_job_try_inline(struct sieve_encrypt_job *job,
			     struct ostream *output)
{
	const struct sieve_encrypt_options *options = job->options;
	struct sieve_encrypt_inline *inl;
	const char *reason;
	int ret;

	if (options->protect_headers || options->hide_subject) {
		reason = "inline PGP cannot protect header fields";
		ret = 0;
	} else {
		ret = sieve_encrypt_inline_prepare(
			pool_datastack_create(), job->input,
			job->status_header,
			sieve_encrypt_mime_uses_crlf(job->mime), &inl,
			&reason);
	}
	if (ret < 0) {
		job->report->error = i_stream_get_error(job->input);
		return SIEVE_ENCRYPT_MAIL_ERROR;
	}
	if (ret > 0)
		return sieve_encrypt_job_write_inline(job, inl, output);
	e_info(job->renv->event,
	       "encrypt action: PGP/MIME instead of inline: %s", reason);
	return sieve_encrypt_job_write_pgpmime(job, output);
}

/* Write the S/MIME message into output; returns the outcome */
static enum sieve_encrypt_outcome
sieve_encrypt_job_write_smime(struct sieve_encrypt_job *job,
			      struct ostream *output)
{
	struct istream *entity;
	enum sieve_encrypt_gpg_status status;
	const char *error;

	sieve_encrypt_mime_write_smime_head(job->mime, job->input, output);
	/* the entity that PGP/MIME encrypts, byte for byte */
	entity = sieve_encrypt_mime_entity(job->mime, job->input);
	status = sieve_encrypt_cms_encrypt(
		job->cms, entity, output,
		sieve_encrypt_mime_uses_crlf(job->mime), &error);
	job->report->plain_size = entity->v_offset;
	i_stream_unref(&entity);
	if (job->input->stream_errno != 0) {
		job->report->error = i_stream_get_error(job->input);
		return SIEVE_ENCRYPT_MAIL_ERROR;
	}
	if (status != SIEVE_ENCRYPT_GPG_OK) {
		job->report->error = error;
		return SIEVE_ENCRYPT_FAILED;
	}
	job->report->key_ids = sieve_encrypt_cms_cert_ids(job->cms);
	job->report->traffic = *sieve_encrypt_cms_traffic(job->cms);
	return SIEVE_ENCRYPT_DONE;
}

/* Write the encrypted message in the options' format into output */
static enum sieve_encrypt_outcome
sieve_encrypt_job_write(struct sieve_encrypt_job *job, struct ostream *output)
{
	switch (job->options->format) {
	case SIEVE_ENCRYPT_FORMAT_PGPMIME:
		return sieve_encrypt_job_write_pgpmime(job, output);
	case SIEVE_ENCRYPT_FORMAT_SMIME:
		return sieve_encrypt_job_write_smime(job, output);
	case SIEVE_ENCRYPT_FORMAT_INLINE:
		return sieve_encrypt_job_try_inline(job, output);
	}
	i_unreached();
}

static enum sieve_encrypt_outcome
sieve_encrypt_job_substitute(struct sieve_encrypt_job *job)
{
	const struct sieve_runtime_env *renv = job->renv;
	enum sieve_encrypt_outcome outcome;
	struct ostream *output;
	struct istream *ciphertext, *newmsg;

	output = sieve_encrypt_temp_create(renv);
	outcome = sieve_encrypt_job_write(job, output);
	if (outcome != SIEVE_ENCRYPT_DONE) {
		o_stream_abort(output);
		o_stream_destroy(&output);
		return outcome;
	}
	if (o_stream_finish(output) < 0) {
		if (job->input->stream_errno != 0) {
			job->report->error = i_stream_get_error(job->input);
			outcome = SIEVE_ENCRYPT_MAIL_ERROR;
		} else {
			job->report->error = t_strdup_printf(
				"writing the encrypted message failed: %s",
				o_stream_get_error(output));
			outcome = SIEVE_ENCRYPT_FAILED;
		}
		o_stream_destroy(&output);
		return outcome;
	}
	job->report->encrypted_size = output->offset;

	ciphertext = iostream_temp_finish(&output, IO_BLOCK_SIZE);
	ciphertext->blocking = TRUE;
	/* Pigeonhole's raw mail of the new message and the delivery guard's
	   each read a child stream of their own: a raw mail reads its
	   mailbox's stream through children that start at that stream's
	   offset of the moment, so one must not move the other's. */
	newmsg = i_stream_create_limit(ciphertext, UOFF_T_MAX);
	i_stream_set_name(newmsg, "encrypted message");
	if (sieve_message_substitute(renv->msgctx, newmsg) < 0) {
		job->report->error = "failed to substitute the message";
		outcome = SIEVE_ENCRYPT_FAILED;
	} else if (sieve_encrypt_guard_activate(renv, ciphertext,
						&job->report->error) < 0) {
		outcome = SIEVE_ENCRYPT_FAILED;
	} else {
		sieve_encrypt_stored_replace(renv);
	}
	i_stream_unref(&newmsg);
	i_stream_unref(&ciphertext);
	return outcome;
}

/* OpenPGP: the keys in the keyring */
static enum sieve_encrypt_gpg_status
sieve_encrypt_job_find_keys(struct sieve_encrypt_job *job,
			    const struct sieve_encrypt_settings *set,
			    const char *home, const char *const *keys)
{
	struct sieve_encrypt_report *report = job->report;
	struct sieve_encrypt_gpg_params params;
	enum sieve_encrypt_gpg_status status;

	i_zero(&params);
	params.home_dir = home;
	params.gpg_binary = set->gpg_binary;
	params.exec_path = set->gpg_exec;
	params.allowed_gids = set->parsed.gpg_allowed_gids;
	params.timeout_secs = set->timeout;
	params.compress = set->compress;
	status = sieve_encrypt_gpg_create(&params, &job->gpg, &report->error);
	if (status == SIEVE_ENCRYPT_GPG_OK) {
		status = sieve_encrypt_gpg_find_keys(job->gpg, keys,
						     &report->error);
	}
	return status;
}

/* S/MIME: the certificates in the keybox (nothing of gpg or gpgme's
   OpenPGP engine is set up) */
static enum sieve_encrypt_gpg_status
sieve_encrypt_job_find_certs(struct sieve_encrypt_job *job,
			     const struct sieve_encrypt_settings *set,
			     const char *home, const char *const *keys)
{
	struct sieve_encrypt_report *report = job->report;
	struct sieve_encrypt_cms_params params;
	enum sieve_encrypt_gpg_status status;

	i_zero(&params);
	params.home_dir = home;
	params.gpgsm_binary = set->gpgsm_binary;
	params.exec_path = set->gpg_exec;
	params.allowed_gids = set->parsed.gpg_allowed_gids;
	params.timeout_secs = set->timeout;
	status = sieve_encrypt_cms_create(&params, &job->cms, &report->error);
	if (status == SIEVE_ENCRYPT_GPG_OK) {
		status = sieve_encrypt_cms_find_certs(job->cms, keys,
						      &report->error);
	}
	return status;
}

static enum sieve_encrypt_outcome
sieve_encrypt_job_run(struct sieve_encrypt_job *job,
		      const struct sieve_encrypt_settings *set,
		      const char *const *keys)
{
	struct sieve_instance *svinst = job->renv->exec_env->svinst;
	struct sieve_encrypt_report *report = job->report;
	enum sieve_encrypt_gpg_status status;
	const char *home;

	if (sieve_encrypt_key_specs_check(keys, &report->error) < 0)
		return SIEVE_ENCRYPT_NO_KEY;
	home = sieve_encrypt_gnupg_home(svinst, set, &report->error);
	if (home == NULL)
		return SIEVE_ENCRYPT_FAILED;
	if (job->options->format == SIEVE_ENCRYPT_FORMAT_SMIME)
		status = sieve_encrypt_job_find_certs(job, set, home, keys);
	else
		status = sieve_encrypt_job_find_keys(job, set, home, keys);
	if (status != SIEVE_ENCRYPT_GPG_OK)
		return sieve_encrypt_outcome_from_gpg(status);
	return sieve_encrypt_job_substitute(job);
}

/*
 * The status header field
 */

/* Whether this delivery (this Sieve message context) encrypted the
   message: a later encrypt then finds it encrypted, and the field stays
   "encrypted" */
static bool
sieve_encrypt_message_is_ours(const struct sieve_runtime_env *renv)
{
	return (sieve_message_context_extension_get(
		renv->msgctx, renv->oprtn->ext) != NULL);
}

static void sieve_encrypt_message_set_ours(const struct sieve_runtime_env *renv)
{
	pool_t pool = sieve_message_context_pool(renv->msgctx);

	sieve_message_context_extension_set(renv->msgctx, renv->oprtn->ext,
					    p_new(pool, bool, 1));
}

/* The status the message in clear gets, FALSE when it gets none: no
   field, or nothing is stored (tempfail) or left to mark */
static bool
sieve_encrypt_message_clear_status(const struct sieve_runtime_env *renv,
				   const struct sieve_encrypt_settings *set,
				   enum sieve_encrypt_outcome outcome,
				   bool is_test,
				   enum sieve_encrypt_status *status_r)
{
	if (*set->status_header == '\0')
		return FALSE;
	switch (outcome) {
	case SIEVE_ENCRYPT_ALREADY:
		/* A stored message encrypted already stays as it is: marking
		   it would replace it by a copy (IMAPSieve), each time it is
		   moved back into the folder */
		*status_r = SIEVE_ENCRYPT_STATUS_ALREADY_ENCRYPTED;
		return (!sieve_encrypt_message_is_ours(renv) &&
			!sieve_encrypt_stored_is_stored(renv));
	case SIEVE_ENCRYPT_NO_KEY:
		/* the test form goes on with the message in clear */
		*status_r = SIEVE_ENCRYPT_STATUS_NO_KEY;
		return (is_test || !set->parsed.tempfail);
	case SIEVE_ENCRYPT_FAILED:
		*status_r = SIEVE_ENCRYPT_STATUS_FAILED;
		return !set->parsed.tempfail;
	case SIEVE_ENCRYPT_DONE:
	case SIEVE_ENCRYPT_MAIL_ERROR:
		break;
	}
	return FALSE;
}

/* The message in clear with the status header field, as a stream of its
   own: the delivery guard's raw mail of it outlives the delivery's mail
   (dovecot-lda frees that first, and panics if a stream of the mail is
   still referenced), so it must not read the mail's stream. */
static struct istream *
sieve_encrypt_message_copy_marked(struct sieve_encrypt_job *job,
				  enum sieve_encrypt_status status,
				  const char **error_r)
{
	struct istream *input, *marked;
	struct ostream *output;

	input = sieve_encrypt_mime_with_status(job->mime, job->input, status);
	output = sieve_encrypt_temp_create(job->renv);
	o_stream_nsend_istream(output, input);
	i_stream_unref(&input);
	if (o_stream_finish(output) < 0) {
		*error_r = (job->input->stream_errno != 0 ?
			    i_stream_get_error(job->input) :
			    o_stream_get_error(output));
		*error_r = t_strdup(*error_r);
		o_stream_destroy(&output);
		return NULL;
	}
	marked = iostream_temp_finish(&output, IO_BLOCK_SIZE);
	marked->blocking = TRUE;
	return marked;
}

/* Substitute the message in clear with the status header field for the
   Sieve message, and for the delivery's message data */
static int
sieve_encrypt_message_mark(struct sieve_encrypt_job *job,
			   enum sieve_encrypt_status status,
			   const char **error_r)
{
	const struct sieve_runtime_env *renv = job->renv;
	struct istream *marked, *newmsg;
	int ret = 0;

	marked = sieve_encrypt_message_copy_marked(job, status, error_r);
	if (marked == NULL)
		return -1;
	/* a child stream each, see sieve_encrypt_job_substitute() */
	newmsg = i_stream_create_limit(marked, UOFF_T_MAX);
	i_stream_set_name(newmsg, "message with encrypt status");
	if (sieve_message_substitute(renv->msgctx, newmsg) < 0) {
		*error_r = "failed to substitute the message";
		ret = -1;
	} else if (sieve_encrypt_guard_mark(renv, marked, error_r) < 0) {
		ret = -1;
	} else {
		sieve_encrypt_stored_replace(renv);
	}
	i_stream_unref(&newmsg);
	i_stream_unref(&marked);
	return ret;
}

/* Add the status header field, or note that the message is encrypted */
static void
sieve_encrypt_message_status(struct sieve_encrypt_job *job,
			     const struct sieve_encrypt_settings *set,
			     enum sieve_encrypt_outcome outcome, bool is_test)
{
	const struct sieve_runtime_env *renv = job->renv;
	enum sieve_encrypt_status status;
	const char *error;

	if (outcome == SIEVE_ENCRYPT_DONE) {
		sieve_encrypt_message_set_ours(renv);
		return;
	}
	if (!sieve_encrypt_message_clear_status(renv, set, outcome, is_test,
						&status))
		return;
	if (sieve_encrypt_message_mark(job, status, &error) < 0) {
		e_error(renv->event, "encrypt action: "
			"cannot add the status header field %s: %s",
			set->status_header, error);
	}
}

/*
 * Encryption
 */

/* The legacy display element, or the reason for none logged (the message
   is encrypted all the same). Returns -1 on a read error. */
static int sieve_encrypt_job_legacy_display(struct sieve_encrypt_job *job)
{
	const char *reason;
	int ret;

	ret = sieve_encrypt_mime_legacy_display(job->mime, job->input,
						&reason);
	if (ret < 0) {
		job->report->error = i_stream_get_error(job->input);
		return -1;
	}
	if (ret == 0) {
		e_info(job->renv->event,
		       "encrypt action: no legacy display element: %s",
		       reason);
	}
	return 0;
}

enum sieve_encrypt_outcome
sieve_encrypt_message(const struct sieve_runtime_env *renv,
		      const struct sieve_encrypt_settings *set,
		      const struct sieve_encrypt_options *options,
		      const char *const *keys, bool is_test,
		      struct sieve_encrypt_report *report_r)
{
	struct mail *mail = sieve_message_get_mail(renv->msgctx);
	struct sieve_encrypt_job job;
	enum sieve_encrypt_outcome outcome;
	struct timeval start, end;
	pool_t pool;

	i_zero(report_r);
	i_zero(&job);
	job.renv = renv;
	job.options = options;
	job.status_header = set->status_header;
	job.report = report_r;

	i_gettimeofday(&start);
	if (mail_get_stream(mail, NULL, NULL, &job.input) < 0)
		return SIEVE_ENCRYPT_MAIL_ERROR;

	pool = pool_alloconly_create("sieve_encrypt mime", 1024);
	if (sieve_encrypt_mime_parse(pool, job.input, set->status_header,
				     &job.mime) < 0) {
		report_r->error = i_stream_get_error(job.input);
		outcome = SIEVE_ENCRYPT_MAIL_ERROR;
	} else {
		/* for every format: the entity and the outer header */
		if (options->protect_headers || options->hide_subject) {
			sieve_encrypt_mime_protect_headers(
				job.mime, options->hide_subject);
		}
		if (sieve_encrypt_mime_is_encrypted(job.mime))
			outcome = SIEVE_ENCRYPT_ALREADY;
		else if (options->legacy_display &&
			 sieve_encrypt_job_legacy_display(&job) < 0)
			outcome = SIEVE_ENCRYPT_MAIL_ERROR;
		else
			outcome = sieve_encrypt_job_run(&job, set, keys);
		sieve_encrypt_message_status(&job, set, outcome, is_test);
	}
	sieve_encrypt_gpg_destroy(&job.gpg);
	sieve_encrypt_cms_destroy(&job.cms);
	pool_unref(&pool);

	i_gettimeofday(&end);
	report_r->msecs = (unsigned int)timeval_diff_msecs(&end, &start);
	return outcome;
}
