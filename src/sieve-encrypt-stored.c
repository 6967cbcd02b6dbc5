/* Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
 */

#include "lib.h"
#include "array.h"
#include "guid.h"
#include "module-context.h"
#include "mail-storage-private.h"
#include "mail-storage-hooks.h"
#include "mail-user.h"

#include "sieve-common.h"
#include "sieve-message.h"
#include "sieve-execute.h"
#include "sieve-runtime.h"
#include "sieve-actions.h"
#include "sieve-result.h"
#include "sieve-code.h"

#include "sieve-encrypt-stored.h"

/* A message that is stored already (IMAPSieve, see doc/design.md,
   "IMAPSieve: a folder that encrypts") is replaced the way Pigeonhole
   replaces a message that editheader changed: the script's keep saves
   the new form as a new message, and IMAPSieve then flags the original
   \Deleted, or expunges it with imapsieve_expunge_discarded = yes.
   Pigeonhole saves the new form with no flags and the time of the save as
   its received date. This file gives that save the original's flags,
   keywords and date, and expunges the original itself once the script's
   actions are committed (an action of its own, whose finish runs after
   the implicit keep): the original's plaintext must not stay behind
   because a setting of another plugin is missing.

   The state lives in the mail user (an IMAP session's user lives as long
   as the session) and is armed from the replacement until the end of
   that Sieve run (the action's finish). */

#define SIEVE_ENCRYPT_STORED_USER_CONTEXT(obj) \
	MODULE_CONTEXT(obj, sieve_encrypt_stored_user_module)
#define SIEVE_ENCRYPT_STORED_BOX_CONTEXT_REQUIRE(obj) \
	MODULE_CONTEXT_REQUIRE(obj, sieve_encrypt_stored_storage_module)

struct sieve_encrypt_stored_user {
	union mail_user_module_context module_ctx;

	/* The Sieve run the state is armed for, NULL when not armed */
	struct sieve_message_context *msgctx;
	/* The stored message (IMAPSieve's mail) and its uid */
	struct mail *original;
	uint32_t original_uid;
	/* The raw mailbox of the new form */
	struct mailbox *replacement_box;
	/* The transaction that saves the new form, until its commit */
	struct mailbox_transaction_context *save_trans;
	/* A save of the new form succeeded in this run */
	bool saved;
};

struct sieve_encrypt_stored_mailbox {
	union mailbox_module_context module_ctx;
};

static MODULE_CONTEXT_DEFINE_INIT(sieve_encrypt_stored_user_module,
				  &mail_user_module_register);
static MODULE_CONTEXT_DEFINE_INIT(sieve_encrypt_stored_storage_module,
				  &mail_storage_module_register);

/*
 * Saves of the new form
 */

static bool
sieve_encrypt_stored_is_replacement(
	const struct sieve_encrypt_stored_user *suser, const struct mail *mail)
{
	return (suser != NULL && suser->msgctx != NULL &&
		mail->box == suser->replacement_box &&
		suser->original->uid == suser->original_uid);
}

/* The original's flags and keywords, unless the script's actions set
   flags of their own (imap4flags: those start from the original's), and
   its received date */
static int
sieve_encrypt_stored_copy_metadata(struct mail_save_context *ctx,
				   struct mail *original)
{
	struct mailbox *box = ctx->transaction->box;
	struct mail_keywords *keywords = NULL;
	const char *const *names;
	time_t date;

	/* the keep copies the new form's flags: \Recent only (a raw
	   mail's), and no keywords */
	if ((ctx->data.flags & ENUM_NEGATE(MAIL_RECENT)) == 0 &&
	    (ctx->data.keywords == NULL || ctx->data.keywords->count == 0)) {
		names = mail_get_keywords(original);
		if (names[0] != NULL)
			keywords = mailbox_keywords_create_valid(box, names);
		mailbox_save_set_flags(ctx, mail_get_flags(original) &
				       ENUM_NEGATE(MAIL_RECENT), keywords);
		if (keywords != NULL)
			mailbox_keywords_unref(&keywords);
	}
	if (mail_get_received_date(original, &date) < 0) {
		mail_storage_set_error(box->storage, MAIL_ERROR_TEMP,
			"Temporary failure: cannot read the received date of "
			"the message that encrypt replaces");
		return -1;
	}
	mailbox_save_set_received_date(ctx, date, 0);
	return 0;
}

/* Gives the new form a GUID of its own and logs it before anything is
   written: when the program is killed before the commit is logged (see
   below), its next run looks for this GUID to learn whether the new form
   was stored (mdbox even brings back, at its next storage rebuild, a new
   form written but not committed) */
static void
sieve_encrypt_stored_announce(struct mail_save_context *ctx,
			      uint32_t original_uid)
{
	guid_128_t guid;
	const char *guid_str;

	guid_128_generate(guid);
	guid_str = guid_128_to_string(guid);
	mailbox_save_set_guid(ctx, guid_str);
	e_info(ctx->transaction->box->event, "storing the new form "
	       "(guid %s) of the replaced message (uid %u)",
	       guid_str, original_uid);
}

static int
sieve_encrypt_stored_copy(struct mail_save_context *ctx, struct mail *mail)
{
	struct mailbox *box = ctx->transaction->box;
	struct sieve_encrypt_stored_mailbox *sbox =
		SIEVE_ENCRYPT_STORED_BOX_CONTEXT_REQUIRE(box);
	struct sieve_encrypt_stored_user *suser =
		SIEVE_ENCRYPT_STORED_USER_CONTEXT(box->storage->user);

	if (!sieve_encrypt_stored_is_replacement(suser, mail))
		return sbox->module_ctx.super.copy(ctx, mail);

	if (sieve_encrypt_stored_copy_metadata(ctx, suser->original) < 0) {
		mailbox_save_cancel(&ctx);
		return -1;
	}
	sieve_encrypt_stored_announce(ctx, suser->original_uid);
	if (sbox->module_ctx.super.copy(ctx, mail) < 0)
		return -1;
	suser->saved = TRUE;
	suser->save_trans = ctx->transaction;
	return 0;
}

/* Logs the commit of the new form at once: a program that replaces
   stored messages and may be killed before the Sieve run ends
   (sieve-encrypt-mailbox around sieve-filter) learns from this line
   which originals have their new form stored */
static int
sieve_encrypt_stored_transaction_commit(
	struct mailbox_transaction_context *t,
	struct mail_transaction_commit_changes *changes_r)
{
	struct mailbox *box = t->box;
	struct sieve_encrypt_stored_mailbox *sbox =
		SIEVE_ENCRYPT_STORED_BOX_CONTEXT_REQUIRE(box);
	struct sieve_encrypt_stored_user *suser =
		SIEVE_ENCRYPT_STORED_USER_CONTEXT(box->storage->user);
	bool replacement = (suser != NULL && suser->save_trans == t);

	if (replacement)
		suser->save_trans = NULL;
	if (sbox->module_ctx.super.transaction_commit(t, changes_r) < 0)
		return -1;
	if (replacement && suser->msgctx != NULL) {
		e_info(box->event, "stored the new form of the replaced "
		       "message (uid %u)", suser->original_uid);
	}
	return 0;
}

static void
sieve_encrypt_stored_transaction_rollback(struct mailbox_transaction_context *t)
{
	struct mailbox *box = t->box;
	struct sieve_encrypt_stored_mailbox *sbox =
		SIEVE_ENCRYPT_STORED_BOX_CONTEXT_REQUIRE(box);
	struct sieve_encrypt_stored_user *suser =
		SIEVE_ENCRYPT_STORED_USER_CONTEXT(box->storage->user);

	if (suser != NULL && suser->save_trans == t)
		suser->save_trans = NULL;
	sbox->module_ctx.super.transaction_rollback(t);
}

static void sieve_encrypt_stored_mailbox_allocated(struct mailbox *box)
{
	struct mailbox_vfuncs *v = box->vlast;
	struct sieve_encrypt_stored_mailbox *sbox;

	sbox = p_new(box->pool, struct sieve_encrypt_stored_mailbox, 1);
	sbox->module_ctx.super = *v;
	box->vlast = &sbox->module_ctx.super;
	v->copy = sieve_encrypt_stored_copy;
	v->transaction_commit = sieve_encrypt_stored_transaction_commit;
	v->transaction_rollback = sieve_encrypt_stored_transaction_rollback;
	MODULE_CONTEXT_SET(box, sieve_encrypt_stored_storage_module, sbox);
}

static const struct mail_storage_hooks sieve_encrypt_stored_hooks = {
	.mailbox_allocated = sieve_encrypt_stored_mailbox_allocated,
};

/*
 * The action that ends the replacement
 */

static void
sieve_encrypt_stored_action_print(const struct sieve_action *action ATTR_UNUSED,
				  const struct sieve_result_print_env *penv,
				  bool *keep ATTR_UNUSED)
{
	sieve_result_action_printf(penv, "replace the stored message by its "
				   "new form (encrypt)");
}

/* After the implicit keep: expunge the original once its new form is
   stored and everything was committed; else leave it, which is what
   IMAPSieve does on failure too */
static void
sieve_encrypt_stored_action_finish(const struct sieve_action_exec_env *aenv,
				   void *tr_context ATTR_UNUSED, int status)
{
	struct mail_user *user = aenv->exec_env->scriptenv->user;
	struct sieve_encrypt_stored_user *suser =
		SIEVE_ENCRYPT_STORED_USER_CONTEXT(user);

	if (suser == NULL || suser->msgctx == NULL)
		return;
	if (status == SIEVE_EXEC_OK && suser->saved &&
	    suser->original->uid == suser->original_uid &&
	    !suser->original->expunged) {
		mail_expunge(suser->original);
		e_info(aenv->event, "expunged the original of the "
		       "replaced message (uid %u) from mailbox %s",
		       suser->original_uid,
		       mailbox_get_vname(suser->original->box));
	}
	suser->msgctx = NULL;
	suser->original = NULL;
	suser->replacement_box = NULL;
	suser->save_trans = NULL;
	suser->saved = FALSE;
}

static const struct sieve_action_def sieve_encrypt_stored_action = {
	.name = "encrypt (replace stored message)",
	.print = sieve_encrypt_stored_action_print,
	.finish = sieve_encrypt_stored_action_finish,
};

/*
 * Arming
 */

bool sieve_encrypt_stored_is_stored(const struct sieve_runtime_env *renv)
{
	const struct sieve_execute_env *eenv = renv->exec_env;
	struct mail *mail = eenv->msgdata->mail;

	return (eenv->scriptenv->user != NULL &&
		mail->box->storage->user == eenv->scriptenv->user);
}

static struct sieve_encrypt_stored_user *
sieve_encrypt_stored_user_get(struct mail_user *user)
{
	const struct mail_storage_hooks *hooks = &sieve_encrypt_stored_hooks;
	struct sieve_encrypt_stored_user *suser;

	suser = SIEVE_ENCRYPT_STORED_USER_CONTEXT(user);
	if (suser != NULL)
		return suser;
	/* Hooks added to a user apply to the mailboxes it allocates from
	   then on; the actions allocate theirs after the script ran */
	suser = p_new(user->pool, struct sieve_encrypt_stored_user, 1);
	MODULE_CONTEXT_SET(user, sieve_encrypt_stored_user_module, suser);
	array_push_back(&user->hooks, &hooks);
	return suser;
}

void sieve_encrypt_stored_replace(const struct sieve_runtime_env *renv)
{
	const struct sieve_execute_env *eenv = renv->exec_env;
	struct sieve_encrypt_stored_user *suser;

	if (!sieve_encrypt_stored_is_stored(renv))
		return;
	suser = sieve_encrypt_stored_user_get(eenv->scriptenv->user);
	if (suser->msgctx != renv->msgctx) {
		/* First replacement of this run: the action that ends it */
		if (sieve_result_add_action(renv, renv->oprtn->ext,
					    "encrypt",
					    &sieve_encrypt_stored_action,
					    NULL, NULL, 0, FALSE) < 0)
			return;
		suser->msgctx = renv->msgctx;
		suser->original = eenv->msgdata->mail;
		suser->original_uid = eenv->msgdata->mail->uid;
		suser->save_trans = NULL;
		suser->saved = FALSE;
	}
	suser->replacement_box = sieve_message_get_mail(renv->msgctx)->box;
}
