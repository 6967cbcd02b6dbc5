/* Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
 */

#include "lib.h"
#include "str.h"
#include "str-sanitize.h"

#include "sieve-common.h"
#include "sieve-stringlist.h"
#include "sieve-binary.h"
#include "sieve-code.h"
#include "sieve-message.h"
#include "sieve-extensions.h"
#include "sieve-commands.h"
#include "sieve-validator.h"
#include "sieve-generator.h"
#include "sieve-interpreter.h"
#include "sieve-dump.h"

#include "sieve-encrypt-common.h"
#include "sieve-encrypt-format.h"
#include "sieve-encrypt-gpg.h"
#include "sieve-encrypt-message.h"

/* Encrypt command
 *
 * Syntax:
 *   "encrypt" [":format" <format: string>] [":protectheaders"]
 *             [":hidesubject"] [":legacydisplay"] [<keys: string-list>]
 *
 * Without keys, the keys come from sieve_encrypt_default_keys; without
 * tags, the format and the header protection from the settings
 * (sieve-encrypt-format.h). The tags are one word: Sieve identifiers
 * (RFC 5228, section 8.1) have no "-". :legacydisplay implies
 * :hidesubject, which implies :protectheaders.
 * Also usable as a test: true when the message is encrypted afterwards
 * (also when it was already), false when no usable key was found.
 */

static bool
cmd_encrypt_registered(struct sieve_validator *valdtr,
		       const struct sieve_extension *ext,
		       struct sieve_command_registration *cmd_reg);
static bool
cmd_encrypt_validate(struct sieve_validator *valdtr,
		     struct sieve_command *cmd);
static bool
cmd_encrypt_generate(const struct sieve_codegen_env *cgenv,
		     struct sieve_command *cmd);

const struct sieve_command_def sieve_cmd_encrypt = {
	.identifier = "encrypt",
	.type = SCT_HYBRID,
	.positional_args = -1, /* checked by cmd_encrypt_validate() */
	.subtests = 0,
	.block_allowed = FALSE,
	.block_required = FALSE,
	.registered = cmd_encrypt_registered,
	.validate = cmd_encrypt_validate,
	.generate = cmd_encrypt_generate,
};

/*
 * Encrypt command tags
 */

static bool
cmd_encrypt_validate_format_tag(struct sieve_validator *valdtr,
				struct sieve_ast_argument **arg,
				struct sieve_command *cmd);
static bool
cmd_encrypt_validate_flag_tag(struct sieve_validator *valdtr,
			      struct sieve_ast_argument **arg,
			      struct sieve_command *cmd);

static const struct sieve_argument_def encrypt_format_tag = {
	.identifier = "format",
	.validate = cmd_encrypt_validate_format_tag,
};

static const struct sieve_argument_def encrypt_protect_headers_tag = {
	.identifier = "protectheaders",
	.validate = cmd_encrypt_validate_flag_tag,
};

static const struct sieve_argument_def encrypt_hide_subject_tag = {
	.identifier = "hidesubject",
	.validate = cmd_encrypt_validate_flag_tag,
};

static const struct sieve_argument_def encrypt_legacy_display_tag = {
	.identifier = "legacydisplay",
	.validate = cmd_encrypt_validate_flag_tag,
};

enum cmd_encrypt_optional {
	OPT_END,
	OPT_FORMAT,
	OPT_PROTECT_HEADERS,
	OPT_HIDE_SUBJECT,
	OPT_LEGACY_DISPLAY,
};

/*
 * Encrypt operation
 */

/* The operation's first byte */
enum cmd_encrypt_flags {
	/* used as a test */
	CMD_ENCRYPT_FLAG_TEST = 0x01,
	/* has a key list operand */
	CMD_ENCRYPT_FLAG_KEYS = 0x02,
};

static bool
cmd_encrypt_operation_dump(const struct sieve_dumptime_env *denv,
			   sieve_size_t *address);
static int
cmd_encrypt_operation_execute(const struct sieve_runtime_env *renv,
			      sieve_size_t *address);

const struct sieve_operation_def sieve_opr_encrypt = {
	.mnemonic = "ENCRYPT",
	.ext_def = &sieve_ext_vnd_x_encrypt,
	.code = 0,
	.dump = cmd_encrypt_operation_dump,
	.execute = cmd_encrypt_operation_execute,
};

/*
 * Validation
 */

struct cmd_encrypt_key_context {
	struct sieve_validator *valdtr;
	struct sieve_command *cmd;
};

/* Key strings without variables are checked at compile time already */
static int
cmd_encrypt_validate_key(void *context, struct sieve_ast_argument *item)
{
	struct cmd_encrypt_key_context *kctx = context;
	const char *key, *normalized;

	if (!sieve_argument_is_string_literal(item))
		return 1;

	key = sieve_ast_argument_strc(item);
	if (*key == '\0') {
		sieve_argument_validate_error(kctx->valdtr, item,
			"the %s %s: empty key string",
			sieve_command_identifier(kctx->cmd),
			sieve_command_type_name(kctx->cmd));
		return -1;
	}
	if (sieve_encrypt_key_spec_parse(key, &normalized) ==
	    SIEVE_ENCRYPT_KEY_INVALID) {
		sieve_argument_validate_error(kctx->valdtr, item,
			"the %s %s: invalid key `%s': not a fingerprint "
			"(40 or 64 hex digits), a long key id (16 hex digits) "
			"or an e-mail address",
			sieve_command_identifier(kctx->cmd),
			sieve_command_type_name(kctx->cmd),
			str_sanitize(key, 128));
		return -1;
	}
	return 1;
}

static bool
cmd_encrypt_validate_format_tag(struct sieve_validator *valdtr,
				struct sieve_ast_argument **arg,
				struct sieve_command *cmd)
{
	struct sieve_ast_argument *tag = *arg;
	enum sieve_encrypt_format format;
	const char *name;

	/* Detach the tag itself */
	*arg = sieve_ast_arguments_detach(*arg, 1);

	/* Check syntax:
	 *   :format string
	 */
	if (!sieve_validate_tag_parameter(valdtr, cmd, tag, *arg, NULL, 0,
					  SAAT_STRING, FALSE))
		return FALSE;

	/* A format from a variable is checked at run time */
	if (sieve_argument_is_string_literal(*arg)) {
		name = sieve_ast_argument_strc(*arg);
		if (!sieve_encrypt_format_parse(name, &format)) {
			sieve_argument_validate_error(valdtr, *arg,
				"the %s %s: unknown :format `%s' (expected "
				"\"pgpmime\", \"smime\" or \"inline\")",
				sieve_command_identifier(cmd),
				sieve_command_type_name(cmd),
				str_sanitize(name, 64));
			return FALSE;
		}
	}

	/* Skip parameter */
	*arg = sieve_ast_argument_next(*arg);
	return TRUE;
}

static bool
cmd_encrypt_validate_flag_tag(struct sieve_validator *valdtr ATTR_UNUSED,
			      struct sieve_ast_argument **arg,
			      struct sieve_command *cmd ATTR_UNUSED)
{
	/* Skip tag: it is an optional operand without a value */
	*arg = sieve_ast_argument_next(*arg);
	return TRUE;
}

static bool
cmd_encrypt_registered(struct sieve_validator *valdtr,
		       const struct sieve_extension *ext,
		       struct sieve_command_registration *cmd_reg)
{
	sieve_validator_register_tag(valdtr, cmd_reg, ext,
				     &encrypt_format_tag, OPT_FORMAT);
	sieve_validator_register_tag(valdtr, cmd_reg, ext,
				     &encrypt_protect_headers_tag,
				     OPT_PROTECT_HEADERS);
	sieve_validator_register_tag(valdtr, cmd_reg, ext,
				     &encrypt_hide_subject_tag,
				     OPT_HIDE_SUBJECT);
	sieve_validator_register_tag(valdtr, cmd_reg, ext,
				     &encrypt_legacy_display_tag,
				     OPT_LEGACY_DISPLAY);
	return TRUE;
}

/* Commands that store or send the message as it is at that moment */
static bool cmd_encrypt_is_copying_command(const struct sieve_ast_node *node)
{
	static const char *const copying[] = {
		"fileinto", "keep", "redirect", NULL
	};

	return (node->type == SAT_COMMAND &&
		str_array_icase_find(copying, node->identifier));
}

static const struct sieve_ast_node *
cmd_encrypt_find_copying(const struct sieve_ast_node *node)
{
	const struct sieve_ast_node *found = NULL, *child;

	if (cmd_encrypt_is_copying_command(node))
		return node;
	if (node->commands == NULL)
		return NULL;
	for (child = sieve_ast_command_first(node);
	     child != NULL && found == NULL;
	     child = sieve_ast_command_next(child))
		found = cmd_encrypt_find_copying(child);
	return found;
}

/* Warn when the script visibly files or sends the message before it is
   encrypted: that copy is made from the message as it was. A redirect
   sends it in plaintext; a fileinto or keep stores it in plaintext
   outside a delivery (IMAPSieve), while in a delivery the guard stores
   the encrypted message instead (sieve-encrypt-guard.c). */
static void
cmd_encrypt_warn_copy_before(struct sieve_validator *valdtr,
			     struct sieve_command *cmd)
{
	const struct sieve_ast_node *node, *prev, *found = NULL;

	for (node = cmd->ast_node; node != NULL && found == NULL;
	     node = node->parent) {
		for (prev = node->prev; prev != NULL && found == NULL;
		     prev = prev->prev)
			found = cmd_encrypt_find_copying(prev);
	}
	if (found == NULL)
		return;
	sieve_command_validate_warning(valdtr, cmd,
		"the %s %s comes after the %s command at line %u: that copy "
		"is made before the encryption (put %s first)",
		sieve_command_identifier(cmd), sieve_command_type_name(cmd),
		found->identifier, found->source_line,
		sieve_command_identifier(cmd));
}

/* Without a key list the keys come from the settings. A user's script
   (compiled without access to global extensions) can only rely on them
   when they are set; an administrator's script may be compiled elsewhere
   (sievec) and is checked at run time. */
static bool
cmd_encrypt_validate_default_keys(struct sieve_validator *valdtr,
				  struct sieve_command *cmd)
{
	const struct ext_encrypt_context *extctx = cmd->ext->context;
	enum sieve_compile_flags flags = sieve_validator_compile_flags(valdtr);

	/* With invalid settings, whether default keys are set is unknown:
	   the script compiles, and fails at run time until they are fixed */
	if ((flags & SIEVE_COMPILE_FLAG_NOGLOBAL) == 0 ||
	    extctx->set == NULL ||
	    extctx->set->parsed.default_keys != NULL) {
		cmd_encrypt_warn_copy_before(valdtr, cmd);
		return TRUE;
	}
	sieve_command_validate_error(valdtr, cmd,
		"the %s %s has no key list argument and no default keys "
		"are configured (sieve_encrypt_default_keys)",
		sieve_command_identifier(cmd), sieve_command_type_name(cmd));
	return FALSE;
}

static bool
cmd_encrypt_validate(struct sieve_validator *valdtr,
		     struct sieve_command *cmd)
{
	struct sieve_ast_argument *arg = cmd->first_positional, *item;
	struct cmd_encrypt_key_context kctx;

	if (arg == NULL)
		return cmd_encrypt_validate_default_keys(valdtr, cmd);
	if (!sieve_validate_positional_argument(valdtr, cmd, arg, "keys", 1,
						SAAT_STRING_LIST))
		return FALSE;
	if (!sieve_validator_argument_activate(valdtr, cmd, arg, FALSE))
		return FALSE;

	kctx.valdtr = valdtr;
	kctx.cmd = cmd;
	item = arg;
	if (sieve_ast_stringlist_map(&item, &kctx,
				     cmd_encrypt_validate_key) <= 0)
		return FALSE;

	if (sieve_ast_argument_next(arg) != NULL) {
		sieve_command_validate_error(valdtr, cmd,
			"the %s %s expects a single key list argument, "
			"but more were found",
			sieve_command_identifier(cmd),
			sieve_command_type_name(cmd));
		return FALSE;
	}
	cmd_encrypt_warn_copy_before(valdtr, cmd);
	return TRUE;
}

/*
 * Code generation
 */

static bool
cmd_encrypt_generate(const struct sieve_codegen_env *cgenv,
		     struct sieve_command *cmd)
{
	uint8_t flags = 0;

	sieve_operation_emit(cgenv->sblock, cmd->ext, &sieve_opr_encrypt);

	if (cmd->ast_node->type == SAT_TEST)
		flags |= CMD_ENCRYPT_FLAG_TEST;
	if (cmd->first_positional != NULL)
		flags |= CMD_ENCRYPT_FLAG_KEYS;
	sieve_binary_emit_byte(cgenv->sblock, flags);

	return sieve_generate_arguments(cgenv, cmd, NULL);
}

/*
 * Code dump
 */

static bool
cmd_encrypt_operation_dump(const struct sieve_dumptime_env *denv,
			   sieve_size_t *address)
{
	unsigned int flags = 0;
	int opt_code = 0;

	if (!sieve_binary_read_byte(denv->sblock, address, &flags))
		return FALSE;

	sieve_code_dumpf(denv, "ENCRYPT (%s)",
			 ((flags & CMD_ENCRYPT_FLAG_TEST) != 0 ?
			  "test" : "command"));
	sieve_code_descend(denv);

	for (;;) {
		bool opok = TRUE;
		int opt;

		opt = sieve_opr_optional_dump(denv, address, &opt_code);
		if (opt < 0)
			return FALSE;
		if (opt == 0)
			break;

		switch (opt_code) {
		case OPT_FORMAT:
			opok = sieve_opr_string_dump(denv, address, "format");
			break;
		case OPT_PROTECT_HEADERS:
			sieve_code_dumpf(denv, "protectheaders");
			break;
		case OPT_HIDE_SUBJECT:
			sieve_code_dumpf(denv, "hidesubject");
			break;
		case OPT_LEGACY_DISPLAY:
			sieve_code_dumpf(denv, "legacydisplay");
			break;
		default:
			return FALSE;
		}
		if (!opok)
			return FALSE;
	}

	if ((flags & CMD_ENCRYPT_FLAG_KEYS) == 0) {
		sieve_code_dumpf(denv, "keys: (default keys)");
		return TRUE;
	}
	return sieve_opr_stringlist_dump(denv, address, "keys");
}

/*
 * Code execution
 */

static const char *cmd_encrypt_keys_str(const char *const *keys)
{
	string_t *str = t_str_new(128);

	for (; *keys != NULL; keys++) {
		if (str_len(str) > 0)
			str_append(str, ", ");
		str_printfa(str, "`%s'", str_sanitize(*keys, 128));
	}
	return str_c(str);
}

/* The operands as the binary holds them */
struct cmd_encrypt_operands {
	bool is_test;
	/* NULL: sieve_encrypt_default_keys */
	const char *const *keys;
	/* NULL: sieve_encrypt_format */
	string_t *format;
	bool protect_headers, hide_subject, legacy_display;
};

static int
cmd_encrypt_read_optional(const struct sieve_runtime_env *renv,
			  sieve_size_t *address,
			  struct cmd_encrypt_operands *ops)
{
	int opt_code = 0, opt, ret;

	for (;;) {
		opt = sieve_opr_optional_read(renv, address, &opt_code);
		if (opt < 0)
			return SIEVE_EXEC_BIN_CORRUPT;
		if (opt == 0)
			return SIEVE_EXEC_OK;

		switch (opt_code) {
		case OPT_FORMAT:
			ret = sieve_opr_string_read(renv, address, "format",
						    &ops->format);
			if (ret <= 0)
				return ret;
			break;
		case OPT_PROTECT_HEADERS:
			ops->protect_headers = TRUE;
			break;
		case OPT_HIDE_SUBJECT:
			ops->hide_subject = TRUE;
			break;
		case OPT_LEGACY_DISPLAY:
			ops->legacy_display = TRUE;
			break;
		default:
			sieve_runtime_trace_error(
				renv, "unknown optional operand");
			return SIEVE_EXEC_BIN_CORRUPT;
		}
	}
}

static int
cmd_encrypt_read_operands(const struct sieve_runtime_env *renv,
			  sieve_size_t *address,
			  struct cmd_encrypt_operands *ops_r)
{
	struct sieve_stringlist *keys_list;
	unsigned int flags = 0;
	int ret;

	i_zero(ops_r);
	if (!sieve_binary_read_byte(renv->sblock, address, &flags)) {
		sieve_runtime_trace_error(renv, "invalid flags");
		return SIEVE_EXEC_BIN_CORRUPT;
	}
	ops_r->is_test = ((flags & CMD_ENCRYPT_FLAG_TEST) != 0);

	ret = cmd_encrypt_read_optional(renv, address, ops_r);
	if (ret <= 0)
		return ret;

	if ((flags & CMD_ENCRYPT_FLAG_KEYS) == 0)
		return SIEVE_EXEC_OK;
	ret = sieve_opr_stringlist_read(renv, address, "keys", &keys_list);
	if (ret <= 0)
		return ret;
	if (sieve_stringlist_read_all(keys_list, pool_datastack_create(),
				      &ops_r->keys) < 0) {
		sieve_runtime_trace_error(renv, "failed to read keys operand");
		return keys_list->exec_status;
	}
	return SIEVE_EXEC_OK;
}

/* What a failure to encrypt does: sieve_encrypt_on_failure */
static int cmd_encrypt_failure_status(const struct ext_encrypt_context *extctx)
{
	return (extctx->set->parsed.tempfail ?
		SIEVE_EXEC_TEMP_FAILURE : SIEVE_EXEC_FAILURE);
}

/* How the data moved (debug); a warning, once per process, when the fast
   path past gpgme was not taken (sieve-encrypt-gpg-io.h) */
static void
cmd_encrypt_report_traffic(const struct sieve_runtime_env *renv,
			   const struct sieve_encrypt_gpg_traffic *t)
{
	static bool warned = FALSE;

	e_debug(renv->event, "encrypt action: data past gpgme: "
		"%"PRIuUOFF_T" of %"PRIuUOFF_T" bytes to gpg, "
		"%"PRIuUOFF_T" of %"PRIuUOFF_T" bytes from gpg",
		t->to_gpg_past, t->to_gpg_past + t->to_gpg_through,
		t->from_gpg_past, t->from_gpg_past + t->from_gpg_through);
	if (warned || !sieve_encrypt_gpg_traffic_slow(t))
		return;
	warned = TRUE;
	e_warning(renv->event, "encrypt action: the fast data path past "
		  "gpgme was not taken (past gpgme: %"PRIuUOFF_T" of "
		  "%"PRIuUOFF_T" bytes to gpg, %"PRIuUOFF_T" of "
		  "%"PRIuUOFF_T" bytes from gpg): encryption works, but "
		  "slowly; does this gpgme version (%s) call data callbacks "
		  "outside its I/O callbacks? (logged once per process)",
		  t->to_gpg_past, t->to_gpg_past + t->to_gpg_through,
		  t->from_gpg_past, t->from_gpg_past + t->from_gpg_through,
		  gpgme_check_version(NULL));
}

static int
cmd_encrypt_report(const struct sieve_runtime_env *renv,
		   const struct ext_encrypt_context *extctx,
		   const char *const *keys, bool is_test,
		   enum sieve_encrypt_outcome outcome,
		   const struct sieve_encrypt_report *report)
{
	struct mail *mail = sieve_message_get_mail(renv->msgctx);

	switch (outcome) {
	case SIEVE_ENCRYPT_DONE:
		e_info(renv->event, "encrypt action: "
		       "encrypted message to key %s "
		       "(%"PRIuUOFF_T" -> %"PRIuUOFF_T" bytes, %u ms)",
		       report->key_ids, report->plain_size,
		       report->encrypted_size, report->msecs);
		cmd_encrypt_report_traffic(renv, &report->traffic);
		sieve_runtime_trace(renv, SIEVE_TRLVL_ACTIONS,
				    "encrypted message");
		return SIEVE_EXEC_OK;
	case SIEVE_ENCRYPT_ALREADY:
		e_info(renv->event, "encrypt action: "
		       "message is encrypted already, left unchanged");
		sieve_runtime_trace(renv, SIEVE_TRLVL_ACTIONS,
				    "message is encrypted already");
		return SIEVE_EXEC_OK;
	case SIEVE_ENCRYPT_NO_KEY:
		if (is_test) {
			/* The test form asks whether the message can be
			   encrypted: no key is an answer, not an error */
			e_info(renv->event, "encrypt action: "
			       "message not encrypted: %s", report->error);
			sieve_runtime_trace(renv, SIEVE_TRLVL_ACTIONS,
					    "no usable key");
			return SIEVE_EXEC_OK;
		}
		sieve_runtime_error(renv, NULL,
			"encrypt action: cannot encrypt message to %s: %s",
			cmd_encrypt_keys_str(keys), report->error);
		return cmd_encrypt_failure_status(extctx);
	case SIEVE_ENCRYPT_FAILED:
		sieve_runtime_critical(renv, NULL, "encrypt action",
			"encrypt action: failed to encrypt message to %s: %s",
			cmd_encrypt_keys_str(keys), report->error);
		return cmd_encrypt_failure_status(extctx);
	case SIEVE_ENCRYPT_MAIL_ERROR:
		break;
	}
	return sieve_runtime_mail_error(renv, mail,
		"encrypt action: failed to read message%s%s",
		(report->error == NULL ? "" : ": "),
		(report->error == NULL ? "" : report->error));
}

/* Invalid settings (ext-encrypt.c): sieve_encrypt_on_failure may be the
   invalid one, so it cannot decide. Fail temporarily: the MTA keeps the
   message until the administrator has fixed the settings. */
static int
cmd_encrypt_settings_failure(const struct sieve_runtime_env *renv,
			     const struct ext_encrypt_context *extctx)
{
	sieve_runtime_critical(renv, NULL, "encrypt action",
		"encrypt action: invalid %s settings, message deferred "
		"(temporary failure) until they are fixed: %s",
		sieve_extension_name(renv->oprtn->ext),
		extctx->settings_error);
	return SIEVE_EXEC_TEMP_FAILURE;
}

/* The keys of sieve_encrypt_default_keys. Unlike keys from a script
   variable (which a sender may control), an invalid one is a configuration
   error, also for the test form: failure policy applies. */
static int
cmd_encrypt_default_keys(const struct sieve_runtime_env *renv,
			 const struct ext_encrypt_context *extctx,
			 const char *const **keys_r)
{
	const char *error;

	*keys_r = extctx->set->parsed.default_keys;
	if (*keys_r == NULL) {
		sieve_runtime_error(renv, NULL, "encrypt action: "
			"no key list given and sieve_encrypt_default_keys "
			"is not set");
		return cmd_encrypt_failure_status(extctx);
	}
	if (sieve_encrypt_key_specs_check(*keys_r, &error) < 0) {
		sieve_runtime_critical(renv, NULL, "encrypt action",
			"encrypt action: sieve_encrypt_default_keys: %s",
			error);
		return cmd_encrypt_failure_status(extctx);
	}
	return SIEVE_EXEC_OK;
}

/* The settings' options with the tags' applied. A :format from a
   variable that names no format is an error in the script: failure
   policy applies. */
static int
cmd_encrypt_options(const struct sieve_runtime_env *renv,
		    const struct ext_encrypt_context *extctx,
		    const struct cmd_encrypt_operands *ops,
		    struct sieve_encrypt_options *options_r)
{
	sieve_encrypt_options_init(options_r, extctx->set);
	if (ops->format != NULL &&
	    !sieve_encrypt_format_parse(str_c(ops->format),
					&options_r->format)) {
		sieve_runtime_error(renv, NULL, "encrypt action: "
			"unknown :format `%s' (expected \"pgpmime\", "
			"\"smime\" or \"inline\")",
			str_sanitize(str_c(ops->format), 64));
		return cmd_encrypt_failure_status(extctx);
	}
	if (ops->protect_headers)
		options_r->protect_headers = TRUE;
	if (ops->hide_subject)
		options_r->hide_subject = TRUE;
	if (ops->legacy_display)
		options_r->legacy_display = TRUE;
	sieve_encrypt_options_imply(options_r);
	return SIEVE_EXEC_OK;
}

static int
cmd_encrypt_operation_execute(const struct sieve_runtime_env *renv,
			      sieve_size_t *address)
{
	const struct sieve_extension *this_ext = renv->oprtn->ext;
	struct ext_encrypt_context *extctx = this_ext->context;
	struct cmd_encrypt_operands ops;
	struct sieve_encrypt_options options;
	struct sieve_encrypt_report report;
	enum sieve_encrypt_outcome outcome;
	const char *const *keys;
	int ret;

	ret = cmd_encrypt_read_operands(renv, address, &ops);
	if (ret <= 0)
		return ret;
	ext_encrypt_read_user_settings(extctx,
				       renv->exec_env->scriptenv->user);
	if (extctx->set == NULL)
		return cmd_encrypt_settings_failure(renv, extctx);
	ret = cmd_encrypt_options(renv, extctx, &ops, &options);
	if (ret != SIEVE_EXEC_OK)
		return ret;
	keys = ops.keys;
	if (keys == NULL) {
		ret = cmd_encrypt_default_keys(renv, extctx, &keys);
		if (ret != SIEVE_EXEC_OK)
			return ret;
	}

	sieve_runtime_trace(renv, SIEVE_TRLVL_ACTIONS, "encrypt action");
	sieve_runtime_trace_descend(renv);
	sieve_runtime_trace(renv, SIEVE_TRLVL_ACTIONS,
			    "encrypt message to %s as %s",
			    cmd_encrypt_keys_str(keys),
			    sieve_encrypt_format_name(options.format));

	outcome = sieve_encrypt_message(renv, extctx->set, &options, keys,
					ops.is_test, &report);
	ret = cmd_encrypt_report(renv, extctx, keys, ops.is_test, outcome,
				 &report);
	if (ops.is_test && ret == SIEVE_EXEC_OK) {
		sieve_interpreter_set_test_result(
			renv->interp, outcome != SIEVE_ENCRYPT_NO_KEY);
	}
	return ret;
}
