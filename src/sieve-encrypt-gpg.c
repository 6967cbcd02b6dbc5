/* Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
 */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "str-sanitize.h"
#include "istream.h"
#include "ostream.h"
#include "smtp-address.h"

#include "sieve-encrypt-armor.h"
#include "sieve-encrypt-gpg-exec.h"
#include "sieve-encrypt-gpg-engine.h"
#include "sieve-encrypt-gpg-io.h"
#include "sieve-encrypt-keycache.h"
#include "sieve-encrypt-keyring.h"
#include "sieve-encrypt-gpg.h"
#include "sieve-encrypt-pgp-check.h"

#include <ctype.h>
#include <stdlib.h>

ARRAY_DEFINE_TYPE(gpgme_key, gpgme_key_t);

struct sieve_encrypt_gpg {
	gpgme_ctx_t ctx;
	struct sieve_encrypt_gpg_io *io;
	/* the keyring file that gpg reads (in the GnuPG home) */
	char *keyring;
	/* the real gpg, run by sieve-encrypt-gpg-exec */
	char *gpg_binary;
	/* gids gpg may keep besides the user's own (see
	   sieve_encrypt_gpg_engine_check_ids()) */
	char *allowed_gids;
	/* the mail user's own gids, for the engine */
	char *user_gids;
	unsigned int timeout_secs;
	bool compress;
	/* the armor's Charset header, or NULL */
	char *armor_charset;

	/* why sieve-encrypt-gpg-exec did not run gpg, if it said so */
	char *exec_refused;
	/* what the current key listing found */
	ARRAY_TYPE(gpgme_key) listed;
	/* gpg's ERROR status lines during the listing: not found (no key
	   matched), or the first other error (e.g. a damaged keyring) */
	bool listing, listing_not_found;
	char *listing_error;
	/* gpg said END_ENCRYPTION: it wrote all of the ciphertext */
	bool encryption_ended;
	/* the usable keys found by sieve_encrypt_gpg_find_keys() */
	ARRAY_TYPE(gpgme_key) keys;
	/* the check of a successful encryption's output: which subkeys the
	   message was encrypted to */
	struct sieve_encrypt_pgp_check *check;
};

/* The streams behind gpgme's data callbacks */
struct sieve_encrypt_gpg_stream {
	struct sieve_encrypt_gpg_io *pipes;
	struct istream *input;
	struct ostream *output;
	struct sieve_encrypt_armor *armor;
	struct sieve_encrypt_pgp_check *check;
};

void sieve_encrypt_gpg_global_init(void)
{
	/* gpgme must not ask gpgconf where gpg is: the engine is set by the
	   plugin (sieve-encrypt-gpg-engine.c), and gpgconf would run with
	   the delivery's privileges, not through sieve-encrypt-gpg-exec */
	(void)gpgme_set_global_flag("disable-gpgconf", "1");
	/* Initializes gpgme's internals; required once before use */
	(void)gpgme_check_version(NULL);
}

/*
 * Key specifications
 */

static bool
sieve_encrypt_key_spec_hex(const char *spec, string_t *hex, bool *spaced_r)
{
	const char *p = spec;

	*spaced_r = FALSE;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
		p += 2;
	for (; *p != '\0'; p++) {
		if (i_isxdigit(*p))
			str_append_c(hex, i_toupper(*p));
		else if (*p == ' ' && str_len(hex) > 0)
			*spaced_r = TRUE;
		else
			return FALSE;
	}
	return TRUE;
}

enum sieve_encrypt_key_type
sieve_encrypt_key_spec_parse(const char *spec, const char **normalized_r)
{
	string_t *hex = t_str_new(80);
	struct smtp_address *address;
	const char *error;
	bool spaced;

	*normalized_r = NULL;
	if (sieve_encrypt_key_spec_hex(spec, hex, &spaced)) {
		if (str_len(hex) == 40 || str_len(hex) == 64) {
			*normalized_r = str_c(hex);
			return SIEVE_ENCRYPT_KEY_FINGERPRINT;
		}
		if (str_len(hex) == 16 && !spaced) {
			*normalized_r = str_c(hex);
			return SIEVE_ENCRYPT_KEY_KEYID;
		}
	}
	if (smtp_address_parse_mailbox(pool_datastack_create(), spec, 0,
				       &address, &error) == 0 &&
	    address->domain != NULL && *address->domain != '\0') {
		*normalized_r = smtp_address_encode(address);
		return SIEVE_ENCRYPT_KEY_ADDRESS;
	}
	return SIEVE_ENCRYPT_KEY_INVALID;
}

int sieve_encrypt_key_specs_check(const char *const *specs,
				  const char **error_r)
{
	const char *normalized;

	if (*specs == NULL) {
		*error_r = "no keys given";
		return -1;
	}
	for (; *specs != NULL; specs++) {
		if (sieve_encrypt_key_spec_parse(*specs, &normalized) ==
		    SIEVE_ENCRYPT_KEY_INVALID) {
			*error_r = t_strdup_printf(
				"invalid key `%s': not a fingerprint, "
				"key id or e-mail address",
				str_sanitize(*specs, 128));
			return -1;
		}
	}
	return 0;
}

/*
 * Context
 */

static const char *sieve_encrypt_gpgme_error(gpgme_error_t err)
{
	return t_strdup_printf("%s (%s)", gpgme_strerror(err),
			       gpgme_strsource(err));
}

static int
sieve_encrypt_gpg_setup_ctx(gpgme_ctx_t ctx, const char **error_r)
{
	gpgme_error_t err;

	/* The engine (sieve-encrypt-gpg-exec) is the process's default,
	   set by sieve_encrypt_gpg_engine_use(): a context's own engine
	   would cost another --version run per delivery */
	err = gpgme_set_protocol(ctx, GPGME_PROTOCOL_OpenPGP);
	if (err == 0)
		err = gpgme_set_keylist_mode(ctx, GPGME_KEYLIST_MODE_LOCAL);
	if (err != 0) {
		*error_r = t_strdup_printf("gpgme: %s",
					   sieve_encrypt_gpgme_error(err));
		return -1;
	}
	/* gpg writes binary packets, armored by sieve-encrypt-armor.c */
	gpgme_set_armor(ctx, 0);
	/* No keyserver, WKD or dirmngr: keys come from the keyring only */
	gpgme_set_offline(ctx, 1);
	return 0;
}

/* "ERROR <location> <code>" during a key listing. Only gpg's answer that
   no key matched means that the user has no key; any other error, also
   next to that answer, is a failure. */
static void
sieve_encrypt_gpg_listing_error(struct sieve_encrypt_gpg *gpg,
				const char *args)
{
	static const char not_found_location[] = "keylist.getkey ";
	const char *code = strchr(args, ' ');
	gpgme_err_code_t err;

	err = (code == NULL ? GPG_ERR_NO_ERROR :
	       gpgme_err_code((gpgme_error_t)strtoul(code + 1, NULL, 10)));
	if (strncmp(args, not_found_location,
		    sizeof(not_found_location) - 1) == 0 &&
	    (err == GPG_ERR_NO_PUBKEY || err == GPG_ERR_NOT_FOUND))
		gpg->listing_not_found = TRUE;
	else if (gpg->listing_error == NULL)
		gpg->listing_error = i_strdup(args);
}

/* With full-status, gpgme passes every status line of gpg here, also
   those it does not know, as sieve-encrypt-gpg-exec's */
static gpgme_error_t
sieve_encrypt_gpg_status(void *context, const char *keyword, const char *args)
{
	struct sieve_encrypt_gpg *gpg = context;

	if (strcmp(keyword, "END_ENCRYPTION") == 0)
		gpg->encryption_ended = TRUE;
	else if (strcmp(keyword, SIEVE_ENCRYPT_GPG_EXEC_STATUS_REFUSED) == 0) {
		if (gpg->exec_refused == NULL)
			gpg->exec_refused = i_strdup(args);
	} else if (gpg->listing && strcmp(keyword, "ERROR") == 0)
		sieve_encrypt_gpg_listing_error(gpg, args);
	return 0;
}

/* gpgme starts the engine within an operation's _start call: what it is
   to run goes into the environment for just that call, with the deadline
   that the I/O loop set for the operation (the engine kills gpg then). */
static struct sieve_encrypt_gpg_engine_env *
sieve_encrypt_gpg_env_push(const struct sieve_encrypt_gpg *gpg)
{
	struct sieve_encrypt_gpg_run run = {
		.gpg = gpg->gpg_binary,
		.keyring = gpg->keyring,
		.deadline = *sieve_encrypt_gpg_io_deadline(gpg->io),
		.user_gids = gpg->user_gids,
		.allowed_gids = gpg->allowed_gids,
	};

	return sieve_encrypt_gpg_engine_env_push(&run);
}

static void sieve_encrypt_gpg_listed_key(gpgme_key_t key, void *context)
{
	struct sieve_encrypt_gpg *gpg = context;

	array_push_back(&gpg->listed, &key);
}

enum sieve_encrypt_gpg_status
sieve_encrypt_gpg_create(const struct sieve_encrypt_gpg_params *params,
			 struct sieve_encrypt_gpg **gpg_r,
			 const char **error_r)
{
	enum sieve_encrypt_gpg_status status;
	struct sieve_encrypt_gpg *gpg;
	const char *keyring, *user_gids;
	gpgme_ctx_t ctx;
	gpgme_error_t err;

	*gpg_r = NULL;
	if (sieve_encrypt_gpg_engine_check_ids(params->allowed_gids,
					       &user_gids, error_r) < 0)
		return SIEVE_ENCRYPT_GPG_FAILED;
	status = sieve_encrypt_keyring_find(params->home_dir, &keyring,
					    error_r);
	if (status != SIEVE_ENCRYPT_GPG_OK)
		return status;
	if (sieve_encrypt_gpg_engine_use(params->exec_path, params->gpg_binary,
					 user_gids, params->allowed_gids,
					 params->timeout_secs * 1000,
					 error_r) < 0)
		return SIEVE_ENCRYPT_GPG_FAILED;

	err = gpgme_new(&ctx);
	if (err != 0) {
		*error_r = t_strdup_printf("gpgme_new() failed: %s",
					   sieve_encrypt_gpgme_error(err));
		return SIEVE_ENCRYPT_GPG_FAILED;
	}
	if (sieve_encrypt_gpg_setup_ctx(ctx, error_r) < 0) {
		gpgme_release(ctx);
		return SIEVE_ENCRYPT_GPG_FAILED;
	}

	gpg = i_new(struct sieve_encrypt_gpg, 1);
	gpg->ctx = ctx;
	gpg->keyring = i_strdup(keyring);
	gpg->gpg_binary = i_strdup(params->gpg_binary);
	gpg->allowed_gids = i_strdup(params->allowed_gids);
	gpg->user_gids = i_strdup(user_gids);
	gpg->timeout_secs = params->timeout_secs;
	gpg->compress = params->compress;
	i_array_init(&gpg->listed, 8);
	i_array_init(&gpg->keys, 4);
	gpg->io = sieve_encrypt_gpg_io_attach(ctx, params->timeout_secs * 1000,
					      sieve_encrypt_gpg_listed_key,
					      gpg);
	(void)gpgme_set_ctx_flag(ctx, "full-status", "1");
	gpgme_set_status_cb(ctx, sieve_encrypt_gpg_status, gpg);
	*gpg_r = gpg;
	return SIEVE_ENCRYPT_GPG_OK;
}

void sieve_encrypt_gpg_destroy(struct sieve_encrypt_gpg **_gpg)
{
	struct sieve_encrypt_gpg *gpg = *_gpg;
	gpgme_key_t *key;

	if (gpg == NULL)
		return;
	*_gpg = NULL;

	array_foreach_modifiable(&gpg->keys, key)
		gpgme_key_unref(*key);
	array_free(&gpg->keys);
	array_free(&gpg->listed);
	i_free(gpg->listing_error);
	sieve_encrypt_pgp_check_free(&gpg->check);
	i_free(gpg->exec_refused);
	sieve_encrypt_gpg_io_detach(&gpg->io);
	gpgme_release(gpg->ctx);
	i_free(gpg->keyring);
	i_free(gpg->gpg_binary);
	i_free(gpg->allowed_gids);
	i_free(gpg->user_gids);
	i_free(gpg->armor_charset);
	i_free(gpg);
}

/*
 * Key lookup
 */

static gpgme_user_id_t
sieve_encrypt_key_find_address(gpgme_key_t key, const char *address)
{
	gpgme_user_id_t uid;

	for (uid = key->uids; uid != NULL; uid = uid->next) {
		if (uid->email != NULL && strcasecmp(uid->email, address) == 0)
			return uid;
	}
	return NULL;
}

static bool
sieve_encrypt_key_has_id(gpgme_key_t key, enum sieve_encrypt_key_type type,
			 const char *spec)
{
	gpgme_subkey_t subkey;

	for (subkey = key->subkeys; subkey != NULL; subkey = subkey->next) {
		const char *id = (type == SIEVE_ENCRYPT_KEY_FINGERPRINT ?
				  subkey->fpr : subkey->keyid);

		if (id != NULL && strcasecmp(id, spec) == 0)
			return TRUE;
	}
	return FALSE;
}

/* NULL when the key can be encrypted to, else why not */
static const char *sieve_encrypt_key_unusable_reason(gpgme_key_t key)
{
	if (key->revoked)
		return "revoked";
	if (key->expired)
		return "expired";
	if (key->disabled)
		return "disabled";
	if (key->invalid)
		return "invalid";
	if (!key->can_encrypt)
		return "not usable for encryption (no valid encryption subkey)";
	return NULL;
}

/* Returns FALSE when the key does not match the spec; otherwise
   reason_r is NULL for a usable key, or says why it is unusable. */
static bool
sieve_encrypt_key_match(gpgme_key_t key, enum sieve_encrypt_key_type type,
			const char *spec, const char **reason_r)
{
	gpgme_user_id_t uid;

	if (type != SIEVE_ENCRYPT_KEY_ADDRESS) {
		if (!sieve_encrypt_key_has_id(key, type, spec))
			return FALSE;
		*reason_r = sieve_encrypt_key_unusable_reason(key);
		return TRUE;
	}

	uid = sieve_encrypt_key_find_address(key, spec);
	if (uid == NULL)
		return FALSE;
	*reason_r = sieve_encrypt_key_unusable_reason(key);
	if (*reason_r == NULL && (uid->revoked || uid->invalid)) {
		*reason_r = t_strdup_printf("usable, but its user id <%s> is %s",
					    uid->email,
					    (uid->revoked ? "revoked" :
					     "invalid"));
	}
	return TRUE;
}

/* gpg imports no key or subkey without a valid self-signature: an invalid
   one is damaged (e.g. a keyring cut in a signature), not in a state such
   as expiry */
static bool sieve_encrypt_key_damaged(gpgme_key_t key)
{
	gpgme_subkey_t subkey;

	if (key->invalid)
		return TRUE;
	for (subkey = key->subkeys; subkey != NULL; subkey = subkey->next) {
		if (subkey->invalid)
			return TRUE;
	}
	return FALSE;
}

static const char *sieve_encrypt_key_id(gpgme_key_t key)
{
	return (key->subkeys != NULL && key->subkeys->keyid != NULL ?
		key->subkeys->keyid : "?");
}

static bool sieve_encrypt_key_equals(gpgme_key_t a, gpgme_key_t b)
{
	return (a == b ||
		(a->subkeys != NULL && b->subkeys != NULL &&
		 a->subkeys->fpr != NULL && b->subkeys->fpr != NULL &&
		 strcmp(a->subkeys->fpr, b->subkeys->fpr) == 0));
}

/* Each key once, also when several specs (or a keyring holding a key block
   twice) name it: gpg writes one session key packet per key */
static void
sieve_encrypt_gpg_add_key(struct sieve_encrypt_gpg *gpg, gpgme_key_t key)
{
	gpgme_key_t const *old;

	array_foreach(&gpg->keys, old) {
		if (sieve_encrypt_key_equals(*old, key))
			return;
	}
	gpgme_key_ref(key);
	array_push_back(&gpg->keys, &key);
}

/* Why sieve-encrypt-gpg-exec did not run gpg, if it did not */
static const char *
sieve_encrypt_gpg_refused_error(const struct sieve_encrypt_gpg *gpg)
{
	if (gpg->exec_refused == NULL)
		return NULL;
	return t_strdup_printf("sieve-encrypt-gpg-exec did not run gpg: %s",
			       str_sanitize(gpg->exec_refused, 256));
}

/* The error of a finished operation, with the deadline in mind */
static const char *
sieve_encrypt_gpg_op_error(struct sieve_encrypt_gpg *gpg, gpgme_error_t err)
{
	if (gpg->exec_refused != NULL)
		return sieve_encrypt_gpg_refused_error(gpg);
	if (gpgme_err_code(err) == GPG_ERR_TIMEOUT) {
		return t_strdup_printf("gpg did not finish within %u seconds "
				       "(killed)", gpg->timeout_secs);
	}
	return sieve_encrypt_gpgme_error(err);
}

/* gpg answers a key listing it could not do (a damaged keyring) with no
   keys, like one that found nothing: tell them apart by its status lines.
   A listing that found nothing says so ("ERROR keylist.getkey" with "No
   public key"), and nothing else. */
static int
sieve_encrypt_gpg_check_listing(struct sieve_encrypt_gpg *gpg,
				const char **error_r)
{
	const char *code;

	if (gpg->exec_refused != NULL) {
		*error_r = sieve_encrypt_gpg_refused_error(gpg);
		return -1;
	}
	if (gpg->listing_error != NULL) {
		code = strchr(gpg->listing_error, ' ');
		*error_r = t_strdup_printf(
			"gpg cannot use the keyring %s: %s%s%s",
			gpg->keyring, str_sanitize(gpg->listing_error, 64),
			(code == NULL ? "" : ": "),
			(code == NULL ? "" :
			 gpgme_strerror((gpgme_error_t)strtoul(code + 1,
							       NULL, 10))));
		return -1;
	}
	if (array_count(&gpg->listed) == 0 && !gpg->listing_not_found) {
		*error_r = t_strdup_printf(
			"gpg listed no keys and reported no result for %s "
			"(gpg did not run, or ended early)", gpg->keyring);
		return -1;
	}
	return 0;
}

static int
sieve_encrypt_gpg_run_listing(struct sieve_encrypt_gpg *gpg,
			      const char *const *patterns, const char **error_r)
{
	struct sieve_encrypt_gpg_engine_env *env;
	gpgme_error_t err;
	gpgme_key_t key;

	gpg->listing = TRUE;
	sieve_encrypt_gpg_io_begin(gpg->io);
	env = sieve_encrypt_gpg_env_push(gpg);
	err = gpgme_op_keylist_ext_start(gpg->ctx, (const char **)patterns,
					 0, 0);
	sieve_encrypt_gpg_engine_env_pop(&env);
	err = sieve_encrypt_gpg_io_end(gpg->io, err);
	gpg->listing = FALSE;
	if (err == 0) {
		/* The keys came as events; what is left to fetch is the
		   keyring error gpg reported, if any (e.g. unreadable) */
		err = gpgme_op_keylist_next(gpg->ctx, &key);
		if (err == 0) {
			/* Not how this gpgme version was known to behave:
			   fail rather than miss a key */
			gpgme_key_unref(key);
			*error_r = "gpgme returned a key outside the listing's "
				"events";
			return -1;
		}
	}
	if (err != 0 && gpgme_err_code(err) != GPG_ERR_EOF) {
		*error_r = t_strdup_printf("listing keys in %s failed: %s",
					   gpg->keyring,
					   sieve_encrypt_gpg_op_error(gpg, err));
		return -1;
	}
	return sieve_encrypt_gpg_check_listing(gpg, error_r);
}

/* The keys that match the patterns into gpg->listed: listed by gpg, or as
   gpg listed them before for the same keyring file in this process (see
   sieve-encrypt-keycache.h) */
static int
sieve_encrypt_gpg_list_keys(struct sieve_encrypt_gpg *gpg,
			    const char *const *patterns, const char **error_r)
{
	const struct sieve_encrypt_keycache_request req = {
		.keyring = gpg->keyring,
		.gpg_binary = gpg->gpg_binary,
		.patterns = patterns,
	};
	struct sieve_encrypt_keycache_stamp *stamp;
	gpgme_key_t const *keys;
	unsigned int i, count;

	if (sieve_encrypt_keycache_lookup(&req, &keys, &count, &stamp)) {
		for (i = 0; i < count; i++) {
			gpgme_key_ref(keys[i]);
			array_push_back(&gpg->listed, &keys[i]);
		}
		return 0;
	}
	if (sieve_encrypt_gpg_run_listing(gpg, patterns, error_r) < 0) {
		sieve_encrypt_keycache_stamp_free(&stamp);
		return -1;
	}
	keys = array_get(&gpg->listed, &count);
	sieve_encrypt_keycache_store(&req, &stamp, keys, count);
	return 0;
}

static enum sieve_encrypt_gpg_status
sieve_encrypt_gpg_select(struct sieve_encrypt_gpg *gpg,
			 const char *spec,
			 enum sieve_encrypt_key_type type, const char *norm,
			 const char **error_r)
{
	gpgme_key_t const *key;
	const char *reason = NULL, *unusable_id = NULL, *damaged_id = NULL;
	bool usable = FALSE;

	array_foreach(&gpg->listed, key) {
		const char *why;

		if (!sieve_encrypt_key_match(*key, type, norm, &why))
			continue;
		if (why == NULL) {
			sieve_encrypt_gpg_add_key(gpg, *key);
			usable = TRUE;
		} else if (reason == NULL) {
			reason = why;
			unusable_id = sieve_encrypt_key_id(*key);
		}
		if (damaged_id == NULL && sieve_encrypt_key_damaged(*key))
			damaged_id = sieve_encrypt_key_id(*key);
	}
	if (usable)
		return SIEVE_ENCRYPT_GPG_OK;
	if (damaged_id != NULL) {
		*error_r = t_strdup_printf(
			"key `%s' (%s) in %s is invalid (a key or subkey "
			"without a valid self-signature): the keyring is "
			"damaged", str_sanitize(spec, 128), damaged_id,
			gpg->keyring);
		return SIEVE_ENCRYPT_GPG_FAILED;
	}
	if (reason != NULL) {
		*error_r = t_strdup_printf("key `%s' (%s) is %s",
					   str_sanitize(spec, 128),
					   unusable_id, reason);
	} else {
		*error_r = t_strdup_printf("no public key for `%s' in %s",
					   str_sanitize(spec, 128),
					   gpg->keyring);
	}
	return SIEVE_ENCRYPT_GPG_NO_KEY;
}

static const char *
sieve_encrypt_key_pattern(enum sieve_encrypt_key_type type, const char *norm)
{
	/* "<addr>" makes gpg match the address exactly, not as substring */
	if (type == SIEVE_ENCRYPT_KEY_ADDRESS)
		return t_strdup_printf("<%s>", norm);
	return norm;
}

enum sieve_encrypt_gpg_status
sieve_encrypt_gpg_find_keys(struct sieve_encrypt_gpg *gpg,
			    const char *const *specs, const char **error_r)
{
	unsigned int i, count = str_array_length(specs);
	enum sieve_encrypt_key_type *types;
	const char **norms, **patterns;
	gpgme_key_t *key;
	enum sieve_encrypt_gpg_status status = SIEVE_ENCRYPT_GPG_OK;

	if (sieve_encrypt_key_specs_check(specs, error_r) < 0)
		return SIEVE_ENCRYPT_GPG_NO_KEY;

	types = t_new(enum sieve_encrypt_key_type, count);
	norms = t_new(const char *, count);
	patterns = t_new(const char *, count + 1);
	for (i = 0; i < count; i++) {
		types[i] = sieve_encrypt_key_spec_parse(specs[i], &norms[i]);
		patterns[i] = sieve_encrypt_key_pattern(types[i], norms[i]);
	}

	if (sieve_encrypt_gpg_list_keys(gpg, patterns, error_r) < 0)
		status = SIEVE_ENCRYPT_GPG_FAILED;
	for (i = 0; i < count && status == SIEVE_ENCRYPT_GPG_OK; i++) {
		status = sieve_encrypt_gpg_select(gpg, specs[i], types[i],
						  norms[i], error_r);
	}
	array_foreach_modifiable(&gpg->listed, key)
		gpgme_key_unref(*key);
	array_clear(&gpg->listed);
	return status;
}

const char *sieve_encrypt_gpg_key_ids(struct sieve_encrypt_gpg *gpg)
{
	gpgme_key_t const *key;
	string_t *str = t_str_new(64);
	const char *primary, *used;
	unsigned int idx;

	array_foreach(&gpg->keys, key) {
		idx = array_foreach_idx(&gpg->keys, key);
		primary = sieve_encrypt_key_id(*key);
		if (str_len(str) > 0)
			str_append(str, ", ");
		str_append(str, primary);
		if (gpg->check == NULL)
			continue;
		/* gpg on the user's side names the subkey */
		used = sieve_encrypt_pgp_check_used_key_id(gpg->check, idx);
		if (strcmp(used, primary) != 0)
			str_printfa(str, " (subkey %s)", used);
	}
	return str_c(str);
}

/*
 * Encryption
 */

const struct sieve_encrypt_gpg_traffic *
sieve_encrypt_gpg_traffic(const struct sieve_encrypt_gpg *gpg)
{
	return sieve_encrypt_gpg_io_traffic(gpg->io);
}

static ssize_t
sieve_encrypt_gpg_read(void *handle, void *buffer, size_t size)
{
	struct sieve_encrypt_gpg_stream *io = handle;

	return sieve_encrypt_gpg_io_read_input(io->pipes, io->input,
					       buffer, size);
}

/* gpgme reports success when gpg dies without a word (it cannot see the
   exit status), so the result is checked: all of the message was read and
   gpg said that it ended the encryption (after writing its last bytes).
   What it wrote is checked by sieve_encrypt_gpg_encrypt_result(). */
static bool
sieve_encrypt_gpg_stream_complete(const struct sieve_encrypt_gpg *gpg,
				  const struct sieve_encrypt_gpg_stream *io)
{
	return (io->input->eof && i_stream_get_data_size(io->input) == 0 &&
		gpg->encryption_ended);
}

/* Each piece of gpg's output is checked and armored */
static int
sieve_encrypt_gpg_output(void *context, const void *data, size_t size)
{
	struct sieve_encrypt_gpg_stream *io = context;

	sieve_encrypt_pgp_check_feed(io->check, data, size);
	sieve_encrypt_armor_write(io->armor, data, size);
	if (io->output->stream_errno != 0) {
		errno = io->output->stream_errno;
		return -1;
	}
	return 0;
}

static ssize_t
sieve_encrypt_gpg_write(void *handle, const void *buffer, size_t size)
{
	struct sieve_encrypt_gpg_stream *io = handle;

	sieve_encrypt_gpg_io_count_through(io->pipes, FALSE, size);
	return sieve_encrypt_gpg_io_write_output(io->pipes, buffer, size,
						 sieve_encrypt_gpg_output, io);
}

static const char *
sieve_encrypt_gpg_invalid_recipients(gpgme_ctx_t ctx)
{
	gpgme_encrypt_result_t result = gpgme_op_encrypt_result(ctx);
	gpgme_invalid_key_t inv;
	string_t *str;

	if (result == NULL || result->invalid_recipients == NULL)
		return NULL;
	str = t_str_new(128);
	for (inv = result->invalid_recipients; inv != NULL; inv = inv->next) {
		if (str_len(str) > 0)
			str_append(str, ", ");
		str_printfa(str, "key %s rejected: %s",
			    (inv->fpr != NULL ? inv->fpr : "?"),
			    gpgme_strerror(inv->reason));
	}
	return str_c(str);
}

static const char *
sieve_encrypt_gpg_encrypt_error(struct sieve_encrypt_gpg *gpg,
				const struct sieve_encrypt_gpg_stream *io,
				gpgme_error_t err)
{
	const char *invalid;

	if (io->input->stream_errno != 0) {
		return t_strdup_printf("reading the message failed: %s",
				       i_stream_get_error(io->input));
	}
	if (io->output->stream_errno != 0) {
		return t_strdup_printf("writing the ciphertext failed: %s",
				       o_stream_get_error(io->output));
	}
	invalid = sieve_encrypt_gpg_invalid_recipients(gpg->ctx);
	if (invalid != NULL)
		return t_strdup_printf("gpg failed: %s", invalid);
	return t_strdup_printf("gpg failed: %s",
			       sieve_encrypt_gpg_op_error(gpg, err));
}

/* gpg encrypts to one encryption subkey of each key, any usable one */
static bool sieve_encrypt_subkey_can_encrypt(gpgme_subkey_t subkey)
{
	return (subkey->can_encrypt && !subkey->revoked && !subkey->expired &&
		!subkey->disabled && !subkey->invalid && subkey->keyid != NULL);
}

/* What gpg's output must be: for each key, a session key for one of its
   encryption subkeys, and nothing else (see sieve-encrypt-pgp-check.h) */
static struct sieve_encrypt_pgp_check *
sieve_encrypt_gpg_check_create(const struct sieve_encrypt_gpg *gpg)
{
	struct sieve_encrypt_pgp_check *check;
	ARRAY_TYPE(const_string) ids;
	gpgme_key_t const *key;
	gpgme_subkey_t subkey;
	const char *id;

	check = sieve_encrypt_pgp_check_create();
	t_array_init(&ids, 4);
	array_foreach(&gpg->keys, key) {
		array_clear(&ids);
		for (subkey = (*key)->subkeys; subkey != NULL;
		     subkey = subkey->next) {
			if (!sieve_encrypt_subkey_can_encrypt(subkey))
				continue;
			id = subkey->keyid;
			array_push_back(&ids, &id);
		}
		array_append_zero(&ids);
		sieve_encrypt_pgp_check_expect(check, sieve_encrypt_key_id(*key),
					       array_front(&ids));
	}
	return check;
}

/* Whether gpg did the encryption that was asked for; error_r says why
   not. gpg's output is accepted only when its packets are right. */
static int
sieve_encrypt_gpg_encrypt_result(struct sieve_encrypt_gpg *gpg,
				 const struct sieve_encrypt_gpg_stream *io,
				 gpgme_error_t err, const char **error_r)
{
	const char *error;

	if (err != 0) {
		*error_r = sieve_encrypt_gpg_encrypt_error(gpg, io, err);
		return -1;
	}
	if (gpg->exec_refused != NULL) {
		*error_r = sieve_encrypt_gpg_refused_error(gpg);
		return -1;
	}
	if (!sieve_encrypt_gpg_stream_complete(gpg, io)) {
		*error_r = "gpg ended without completing the "
			"encryption (crashed or killed?)";
		return -1;
	}
	if (sieve_encrypt_pgp_check_finish(io->check, &error) < 0) {
		*error_r = t_strdup_printf("gpg's output is not the "
					   "encryption asked for: %s", error);
		return -1;
	}
	return 0;
}

void sieve_encrypt_gpg_set_armor_charset(struct sieve_encrypt_gpg *gpg,
					 const char *charset)
{
	i_free(gpg->armor_charset);
	gpg->armor_charset = i_strdup(charset);
}

enum sieve_encrypt_gpg_status
sieve_encrypt_gpg_encrypt(struct sieve_encrypt_gpg *gpg,
			  struct istream *input, struct ostream *output,
			  bool crlf, const char **error_r)
{
	struct gpgme_data_cbs plain_cbs = {
		.read = sieve_encrypt_gpg_read,
	};
	struct gpgme_data_cbs cipher_cbs = {
		.write = sieve_encrypt_gpg_write,
	};
	struct sieve_encrypt_gpg_stream io = {
		.pipes = gpg->io,
		.input = input,
		.output = output,
	};
	enum sieve_encrypt_gpg_status status = SIEVE_ENCRYPT_GPG_FAILED;
	gpgme_encrypt_flags_t flags = GPGME_ENCRYPT_ALWAYS_TRUST;
	gpgme_data_t plain = NULL, cipher = NULL;
	struct sieve_encrypt_gpg_engine_env *env;
	gpgme_key_t *recipients;
	gpgme_error_t err;

	i_assert(array_count(&gpg->keys) > 0);
	recipients = t_new(gpgme_key_t, array_count(&gpg->keys) + 1);
	memcpy(recipients, array_front(&gpg->keys),
	       sizeof(*recipients) * array_count(&gpg->keys));

	err = gpgme_data_new_from_cbs(&plain, &plain_cbs, &io);
	if (err == 0)
		err = gpgme_data_new_from_cbs(&cipher, &cipher_cbs, &io);
	if (!gpg->compress)
		flags |= GPGME_ENCRYPT_NO_COMPRESS;
	if (err == 0) {
		io.armor = sieve_encrypt_armor_begin_charset(
			output, crlf, gpg->armor_charset);
		io.check = sieve_encrypt_gpg_check_create(gpg);
		gpg->encryption_ended = FALSE;
		sieve_encrypt_gpg_io_begin(gpg->io);
		env = sieve_encrypt_gpg_env_push(gpg);
		err = gpgme_op_encrypt_start(gpg->ctx, recipients, flags,
					     plain, cipher);
		sieve_encrypt_gpg_engine_env_pop(&env);
		err = sieve_encrypt_gpg_io_end(gpg->io, err);
		if (sieve_encrypt_gpg_encrypt_result(gpg, &io, err,
						     error_r) == 0) {
			sieve_encrypt_armor_end(&io.armor);
			sieve_encrypt_pgp_check_free(&gpg->check);
			gpg->check = io.check;
			io.check = NULL;
			status = SIEVE_ENCRYPT_GPG_OK;
		}
	} else {
		*error_r = t_strdup_printf("gpgme_data_new_from_cbs() failed: %s",
					   sieve_encrypt_gpgme_error(err));
	}
	sieve_encrypt_armor_free(&io.armor);
	sieve_encrypt_pgp_check_free(&io.check);
	gpgme_data_release(plain);
	gpgme_data_release(cipher);
	return status;
}
