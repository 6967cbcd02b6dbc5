/* Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
 */

#include "lib.h"
#include "array.h"
#include "module-context.h"
#include "istream.h"
#include "smtp-address.h"
#include "mail-storage-private.h"
#include "mail-storage-hooks.h"
#include "mail-user.h"
#include "raw-storage.h"

#include "sieve-common.h"
#include "sieve-config.h"
#include "sieve-message.h"
#include "sieve-execute.h"
#include "sieve-runtime.h"

#include "sieve-encrypt-guard.h"

/* The delivery guard (see doc/design.md, "After encrypt: no way back to
   the original"). It lives in the recipient's mail user, from the first
   successful encrypt of a delivery until that user is freed, which is
   after the delivery's own fallback saves: Pigeonhole's message context
   is gone by then, so the guard keeps a raw mail of its own. Its code
   must stay loaded that long, longer than Pigeonhole keeps the plugin:
   the plugin is linked with -z nodelete (src/Makefile.am). */

#define SIEVE_ENCRYPT_GUARD_USER_CONTEXT(obj) \
	MODULE_CONTEXT(obj, sieve_encrypt_guard_user_module)
#define SIEVE_ENCRYPT_GUARD_USER_CONTEXT_REQUIRE(obj) \
	MODULE_CONTEXT_REQUIRE(obj, sieve_encrypt_guard_user_module)
#define SIEVE_ENCRYPT_GUARD_BOX_CONTEXT_REQUIRE(obj) \
	MODULE_CONTEXT_REQUIRE(obj, sieve_encrypt_guard_storage_module)

#define SIEVE_ENCRYPT_GUARD_TEMP_ERROR \
	"Temporary failure: not storing the original of an encrypted message"

struct sieve_encrypt_guard {
	union mail_user_module_context module_ctx;

	/* The delivery's message as Dovecot handed it to Sieve (its
	   backend mail, as mailbox_copy() passes it on); only compared */
	struct mail *delivered;
	/* delivered once the message is encrypted (the guard is active),
	   else NULL */
	struct mail *original;

	/* The encrypted message (or the message in clear with the status
	   header field, sieve_encrypt_guard_mark()), on a raw mailbox of its
	   own in the raw mail user that Pigeonhole made for the substitution
	   (referenced) */
	struct mail_user *raw_user;
	struct mailbox *box;
	struct mailbox_transaction_context *trans;
	struct mail *encrypted;
};

struct sieve_encrypt_guard_mailbox {
	union mailbox_module_context module_ctx;
};

static MODULE_CONTEXT_DEFINE_INIT(sieve_encrypt_guard_user_module,
				  &mail_user_module_register);
static MODULE_CONTEXT_DEFINE_INIT(sieve_encrypt_guard_storage_module,
				  &mail_storage_module_register);

/*
 * Saves into the user's mailboxes
 */

/* The copy of the original in a multi-recipient LMTP transaction: LMTP
   keeps the mail this saves as the source of the next recipients'
   deliveries, so it must not become the encrypted one */
static bool
sieve_encrypt_guard_save_is_shared(const struct mail_save_context *ctx)
{
	return ((ctx->transaction->flags &
		 MAILBOX_TRANSACTION_FLAG_ASSIGN_UIDS) != 0);
}

static int
sieve_encrypt_guard_copy(struct mail_save_context *ctx, struct mail *mail)
{
	struct mailbox *box = ctx->transaction->box;
	struct sieve_encrypt_guard_mailbox *gbox =
		SIEVE_ENCRYPT_GUARD_BOX_CONTEXT_REQUIRE(box);
	struct sieve_encrypt_guard *guard =
		SIEVE_ENCRYPT_GUARD_USER_CONTEXT(box->storage->user);

	if (guard == NULL || guard->original == NULL ||
	    mail != guard->original)
		return gbox->module_ctx.super.copy(ctx, mail);

	if (sieve_encrypt_guard_save_is_shared(ctx)) {
		e_info(box->event, "encrypt: not storing the original of the "
		       "encrypted message, delivery deferred (the message "
		       "would be the source of other recipients' deliveries)");
		mail_storage_set_error(box->storage, MAIL_ERROR_TEMP,
				       SIEVE_ENCRYPT_GUARD_TEMP_ERROR);
		mailbox_save_cancel(&ctx);
		return -1;
	}
	e_info(box->event, "encrypt: storing the encrypted message "
	       "instead of the original");
	return gbox->module_ctx.super.copy(ctx, guard->encrypted);
}

static void sieve_encrypt_guard_mailbox_allocated(struct mailbox *box)
{
	struct mailbox_vfuncs *v = box->vlast;
	struct sieve_encrypt_guard_mailbox *gbox;

	gbox = p_new(box->pool, struct sieve_encrypt_guard_mailbox, 1);
	gbox->module_ctx.super = *v;
	box->vlast = &gbox->module_ctx.super;
	v->copy = sieve_encrypt_guard_copy;
	MODULE_CONTEXT_SET(box, sieve_encrypt_guard_storage_module, gbox);
}

static const struct mail_storage_hooks sieve_encrypt_guard_hooks = {
	.mailbox_allocated = sieve_encrypt_guard_mailbox_allocated,
};

/*
 * Guard state in the mail user
 */

static void sieve_encrypt_guard_release(struct sieve_encrypt_guard *guard)
{
	guard->original = NULL;
	if (guard->encrypted == NULL)
		return;
	mail_free(&guard->encrypted);
	mailbox_transaction_rollback(&guard->trans);
	mailbox_free(&guard->box);
	mail_user_unref(&guard->raw_user);
}

static void sieve_encrypt_guard_user_deinit_pre(struct mail_user *user)
{
	struct sieve_encrypt_guard *guard =
		SIEVE_ENCRYPT_GUARD_USER_CONTEXT_REQUIRE(user);

	sieve_encrypt_guard_release(guard);
	guard->module_ctx.super.deinit_pre(user);
}

/* Hooks added to a user after its creation apply to the mailboxes it
   allocates from then on; the saves that matter (actions, keeps and the
   fallback) allocate theirs after the encryption. */
static struct sieve_encrypt_guard *
sieve_encrypt_guard_attach(struct mail_user *user, struct mail *delivered)
{
	const struct mail_storage_hooks *hooks = &sieve_encrypt_guard_hooks;
	struct sieve_encrypt_guard *guard;

	guard = p_new(user->pool, struct sieve_encrypt_guard, 1);
	if (mail_get_backend_mail(delivered, &guard->delivered) < 0)
		guard->delivered = delivered;
	guard->module_ctx.super = user->v;
	user->v.deinit_pre = sieve_encrypt_guard_user_deinit_pre;
	MODULE_CONTEXT_SET(user, sieve_encrypt_guard_user_module, guard);
	array_push_back(&user->hooks, &hooks);
	return guard;
}

static int
sieve_encrypt_guard_open(struct sieve_encrypt_guard *guard,
			 const struct sieve_runtime_env *renv,
			 struct istream *message, const char *what,
			 const char **error_r)
{
	static unsigned int guard_count = 0;
	struct mail *substituted = sieve_message_get_mail(renv->msgctx);
	struct mail_user *raw_user = substituted->box->storage->user;
	const struct smtp_address *sender =
		sieve_message_get_sender(renv->msgctx);
	struct istream *input;
	struct mailbox *box;
	int ret;

	/* A child stream of its own (see sieve_encrypt_job_substitute()),
	   and a name of its own: raw mailboxes of the same name may share
	   their in-memory index */
	input = i_stream_create_limit(message, UOFF_T_MAX);
	i_stream_set_name(input, t_strdup_printf(
		"%s (delivery guard %u)", what, ++guard_count));
	ret = raw_mailbox_alloc_stream(raw_user, input, (time_t)-1,
				       (sender == NULL ?
					DEFAULT_ENVELOPE_SENDER :
					smtp_address_encode(sender)), &box);
	i_stream_unref(&input);
	if (ret < 0) {
		*error_r = t_strdup_printf(
			"cannot open the %s as raw mail: %s", what,
			mailbox_get_last_internal_error(box, NULL));
		mailbox_free(&box);
		return -1;
	}

	mail_user_ref(raw_user);
	guard->raw_user = raw_user;
	guard->box = box;
	guard->trans = mailbox_transaction_begin(box, 0, __func__);
	guard->encrypted = mail_alloc(guard->trans, 0, NULL);
	mail_set_seq(guard->encrypted, 1);
	return 0;
}

/* The guard of this delivery's user, attached on first use; NULL outside
   a delivery */
static struct sieve_encrypt_guard *
sieve_encrypt_guard_get(const struct sieve_runtime_env *renv)
{
	const struct sieve_execute_env *eenv = renv->exec_env;
	struct mail_user *user = eenv->scriptenv->user;
	struct sieve_encrypt_guard *guard;

	if (eenv->svinst->env_location != SIEVE_ENV_LOCATION_MDA)
		return NULL;
	guard = SIEVE_ENCRYPT_GUARD_USER_CONTEXT(user);
	if (guard == NULL)
		guard = sieve_encrypt_guard_attach(user, eenv->msgdata->mail);
	return guard;
}

/* Open message as the delivery's message data (see the header) */
static int
sieve_encrypt_guard_replace(struct sieve_encrypt_guard *guard,
			    const struct sieve_runtime_env *renv,
			    struct istream *message, const char *what,
			    const char **error_r)
{
	/* lda-sieve's message data is a writable object (a local variable of
	   lda_sieve_execute()) that Pigeonhole hands on as const */
	struct sieve_message_data *msgdata =
		(struct sieve_message_data *)renv->exec_env->msgdata;

	sieve_encrypt_guard_release(guard);
	if (sieve_encrypt_guard_open(guard, renv, message, what, error_r) < 0)
		return -1;
	msgdata->mail = guard->encrypted;
	return 0;
}

int sieve_encrypt_guard_activate(const struct sieve_runtime_env *renv,
				 struct istream *encrypted,
				 const char **error_r)
{
	struct sieve_encrypt_guard *guard = sieve_encrypt_guard_get(renv);

	if (guard == NULL)
		return 0;
	if (guard->original != NULL &&
	    guard->encrypted == renv->exec_env->msgdata->mail) {
		/* Encrypted once more in this delivery: the first encrypted
		   form stands for the original */
		return 0;
	}
	if (sieve_encrypt_guard_replace(guard, renv, encrypted,
					"encrypted message", error_r) < 0)
		return -1;
	guard->original = guard->delivered;
	e_debug(renv->event, "encrypt action: the rest of this delivery "
		"uses the encrypted message in place of the original");
	return 0;
}

int sieve_encrypt_guard_mark(const struct sieve_runtime_env *renv,
			     struct istream *marked, const char **error_r)
{
	struct sieve_encrypt_guard *guard = sieve_encrypt_guard_get(renv);

	/* Once encrypted, the delivery never goes back to clear */
	if (guard == NULL || guard->original != NULL)
		return 0;
	if (sieve_encrypt_guard_replace(guard, renv, marked,
					"message with encrypt status",
					error_r) < 0)
		return -1;
	e_debug(renv->event, "encrypt action: the rest of this delivery "
		"uses the message with the status header field");
	return 0;
}
