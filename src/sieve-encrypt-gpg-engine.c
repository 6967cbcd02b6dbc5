/* Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
 */

#include "lib.h"
#include "str.h"

#include "sieve-encrypt-gpg-exec.h"
#include "sieve-encrypt-groups.h"
#include "sieve-encrypt-gpg-engine.h"

#include <gpgme.h>
#include <fcntl.h>
#include <grp.h>
#include <stdlib.h>
#include <unistd.h>

/* gpgme's placeholder version of an engine that did not answer
   --version */
#define SIEVE_ENCRYPT_GPGME_NO_VERSION "1.0.0"

/* The environment variables set for one gpgme call */
#define SIEVE_ENCRYPT_ENGINE_ENV_MAX 7

struct sieve_encrypt_env_var {
	const char *name;
	char *old_value;
	/* "name=value", in the environment until the pop */
	char *entry;
};

struct sieve_encrypt_gpg_engine_env {
	struct sieve_encrypt_env_var vars[SIEVE_ENCRYPT_ENGINE_ENV_MAX];
	unsigned int count;
};

/* gpgme has looked for its default engine in this process */
static bool sieve_encrypt_engine_discovered = FALSE;

void sieve_encrypt_gpg_deadline_in(unsigned int msecs,
				   struct timespec *deadline_r)
{
	if (clock_gettime(CLOCK_MONOTONIC, deadline_r) < 0)
		i_fatal("clock_gettime(CLOCK_MONOTONIC) failed: %m");
	deadline_r->tv_sec += msecs / 1000;
	deadline_r->tv_nsec += (long)(msecs % 1000) * 1000000L;
	if (deadline_r->tv_nsec >= 1000000000L) {
		deadline_r->tv_sec++;
		deadline_r->tv_nsec -= 1000000000L;
	}
}

static const char *sieve_encrypt_group_name(gid_t gid)
{
	const struct group *gr = getgrgid(gid);

	if (gr == NULL)
		return t_strdup_printf("gid %lu", (unsigned long)gid);
	return t_strdup_printf("%s (gid %lu)", gr->gr_name,
			       (unsigned long)gid);
}

/* Where the delivery process cannot change its groups (neither real nor
   saved uid is 0), gpg keeps them: each must be the mail user's own or
   allowed by the admin. (Else the engine sets the user's own.) */
static int
sieve_encrypt_gpg_engine_check_kept_groups(const gid_t *groups, int count,
					   const gid_t *own, int own_count,
					   const char *allowed_gids,
					   const char **error_r)
{
	gid_t *allowed, foreign;
	int settable, allowed_count;
	bool found;

	if ((settable = sieve_encrypt_groups_settable()) != 0) {
		if (settable < 0)
			*error_r = t_strdup_printf("getresuid() failed: %m");
		return settable;
	}
	allowed = sieve_encrypt_groups_parse(allowed_gids, &allowed_count);
	if (allowed == NULL) {
		*error_r = t_strdup_printf(
			"sieve_encrypt_gpg_allowed_groups: not a list of gids: "
			"%s", allowed_gids);
		return -1;
	}
	found = sieve_encrypt_groups_find_foreign(groups, count,
						  own, own_count,
						  allowed, allowed_count,
						  &foreign);
	free(allowed);
	if (found) {
		*error_r = t_strdup_printf(
			"refusing to run gpg: the delivery process has group "
			"%s, which is not the mail user's own and which it "
			"cannot drop without root privileges (the service's "
			"extra_groups: IMAP's by default, LMTP's under "
			"service lmtp { user = ... }; mail_access_groups): "
			"run the LMTP service as root (Dovecot's default) or "
			"list the group in sieve_encrypt_gpg_allowed_groups "
			"(for IMAPSieve: under protocol imap)",
			sieve_encrypt_group_name(foreign));
		return -1;
	}
	return 0;
}

/* The mail user's own groups (sieve-encrypt-groups.h), as the list of
   gids that the engine gets */
static int
sieve_encrypt_gpg_engine_user_groups(const char **gids_r,
				     gid_t **own_r, int *own_count_r,
				     const char **error_r)
{
	uid_t euid = geteuid();
	gid_t *own;
	char *gids;

	own = sieve_encrypt_user_groups(euid, getegid(), own_count_r);
	if (own == NULL) {
		*error_r = t_strdup_printf("the groups of uid %lu: %m",
					   (unsigned long)euid);
		return -1;
	}
	if ((gids = sieve_encrypt_groups_format(own, *own_count_r)) == NULL)
		i_fatal_status(FATAL_OUTOFMEM, "malloc() failed: %m");
	*gids_r = t_strdup(gids);
	free(gids);
	*own_r = own;
	return 0;
}

int sieve_encrypt_gpg_engine_check_ids(const char *allowed_gids,
				       const char **user_gids_r,
				       const char **error_r)
{
	gid_t *groups, *own;
	int count, own_count, ret;

	if (geteuid() == 0) {
		*error_r = "refusing to run gpg as root: the delivery runs "
			"with effective uid 0 (give the mail user a uid of "
			"its own: userdb, mail_uid)";
		return -1;
	}
	if (getegid() == 0) {
		*error_r = "refusing to run gpg with group root: the delivery "
			"runs with effective gid 0 (userdb, mail_gid)";
		return -1;
	}
	if ((groups = sieve_encrypt_current_groups(&count)) == NULL) {
		*error_r = t_strdup_printf("getgroups() failed: %m");
		return -1;
	}
	if (sieve_encrypt_groups_contain(groups, count, 0)) {
		free(groups);
		*error_r = "refusing to run gpg with group root: gid 0 "
			"is among the delivery's supplementary groups "
			"(mail_access_groups, system groups)";
		return -1;
	}
	if (sieve_encrypt_gpg_engine_user_groups(user_gids_r, &own, &own_count,
						 error_r) < 0) {
		free(groups);
		return -1;
	}
	ret = sieve_encrypt_gpg_engine_check_kept_groups(groups, count,
							 own, own_count,
							 allowed_gids,
							 error_r);
	free(groups);
	free(own);
	return ret;
}

/*
 * The environment
 */

static void
sieve_encrypt_env_set(struct sieve_encrypt_gpg_engine_env *env,
		      const char *name, const char *value)
{
	struct sieve_encrypt_env_var *var;

	i_assert(env->count < N_ELEMENTS(env->vars));
	var = &env->vars[env->count++];
	var->name = name;
	var->old_value = i_strdup(getenv(name));
	if (value == NULL) {
		(void)unsetenv(name);
		return;
	}
	/* putenv() with a string of our own, freed at the pop: glibc's
	   setenv() keeps every value it was given for the life of the
	   process, and each run has a deadline of its own */
	var->entry = i_strdup_printf("%s=%s", name, value);
	if (putenv(var->entry) < 0)
		i_fatal("putenv(%s) failed: %m", name);
}

struct sieve_encrypt_gpg_engine_env *
sieve_encrypt_gpg_engine_env_push(const struct sieve_encrypt_gpg_run *run)
{
	struct sieve_encrypt_gpg_engine_env *env;

	env = i_new(struct sieve_encrypt_gpg_engine_env, 1);
	sieve_encrypt_env_set(env, SIEVE_ENCRYPT_GPG_EXEC_ENV_GPG, run->gpg);
	sieve_encrypt_env_set(env, SIEVE_ENCRYPT_GPG_EXEC_ENV_KEYRING,
			      run->keyring);
	sieve_encrypt_env_set(env, SIEVE_ENCRYPT_GPG_EXEC_ENV_DEADLINE,
		t_strdup_printf("%lld.%09ld", (long long)run->deadline.tv_sec,
				run->deadline.tv_nsec));
	sieve_encrypt_env_set(env, SIEVE_ENCRYPT_GPG_EXEC_ENV_USER_GROUPS,
			      run->user_gids);
	sieve_encrypt_env_set(env, SIEVE_ENCRYPT_GPG_EXEC_ENV_ALLOWED_GROUPS,
			      run->allowed_gids);
	sieve_encrypt_env_set(env, SIEVE_ENCRYPT_GPG_EXEC_ENV_CMS,
			      (run->cms ? "1" : NULL));
	return env;
}

void sieve_encrypt_gpg_engine_env_pop(struct sieve_encrypt_gpg_engine_env **_env)
{
	struct sieve_encrypt_gpg_engine_env *env = *_env;
	struct sieve_encrypt_env_var *var;

	*_env = NULL;
	while (env->count > 0) {
		var = &env->vars[--env->count];
		if (var->old_value == NULL)
			(void)unsetenv(var->name);
		else if (setenv(var->name, var->old_value, 1) < 0)
			i_fatal("setenv(%s) failed: %m", var->name);
		/* no longer in the environment */
		i_free(var->entry);
		i_free(var->old_value);
	}
	i_free(env);
}

/*
 * The engine
 */

static gpgme_engine_info_t sieve_encrypt_gpg_engine_openpgp(void)
{
	gpgme_engine_info_t info;

	if (gpgme_get_engine_info(&info) != 0)
		return NULL;
	for (; info != NULL; info = info->next) {
		if (info->protocol == GPGME_PROTOCOL_OpenPGP)
			return info;
	}
	return NULL;
}

/* exec_path is the engine, and it answered --version */
static bool sieve_encrypt_gpg_engine_is(const char *exec_path)
{
	gpgme_engine_info_t info = sieve_encrypt_gpg_engine_openpgp();

	return (info != NULL && info->file_name != NULL &&
		strcmp(info->file_name, exec_path) == 0 &&
		info->version != NULL &&
		strcmp(info->version, SIEVE_ENCRYPT_GPGME_NO_VERSION) != 0);
}

/* gpgme looks for its default engine once per process, by name ("gpg") in
   PATH, and runs what it finds with --version. So that this first run
   goes through the engine as well, the name is the engine's and PATH is
   the engine's directory during that search. (Searched before, the name
   stays "gpg": then the engine is set below, after a gpg --version that
   the plugin did not start.) */
static void
sieve_encrypt_gpg_engine_discover(const char *exec_path,
				  const struct sieve_encrypt_gpg_run *run)
{
	const char *slash = strrchr(exec_path, '/');
	struct sieve_encrypt_gpg_engine_env *env;

	i_assert(slash != NULL);
	(void)gpgme_set_global_flag("gpg-name", slash + 1);
	env = sieve_encrypt_gpg_engine_env_push(run);
	sieve_encrypt_env_set(env, "PATH", (slash == exec_path ? "/" :
				t_strdup_until(exec_path, slash)));
	(void)sieve_encrypt_gpg_engine_openpgp();
	sieve_encrypt_gpg_engine_env_pop(&env);
	sieve_encrypt_engine_discovered = TRUE;
}

static int
sieve_encrypt_gpg_check_executable(const char *what, const char *path,
				   const char **error_r)
{
	/* With the effective ids: under LMTP the real uid may be 0 */
	if (faccessat(AT_FDCWD, path, X_OK, AT_EACCESS) < 0) {
		*error_r = t_strdup_printf("%s %s: not executable: %m",
					   what, path);
		return -1;
	}
	return 0;
}

int sieve_encrypt_gpg_engine_use(const char *exec_path, const char *gpg,
				 const char *user_gids,
				 const char *allowed_gids,
				 unsigned int timeout_msecs,
				 const char **error_r)
{
	struct sieve_encrypt_gpg_run run = {
		.gpg = gpg,
		.user_gids = user_gids,
		.allowed_gids = allowed_gids,
	};
	struct sieve_encrypt_gpg_engine_env *env;
	gpgme_error_t err;

	if (sieve_encrypt_gpg_check_executable("sieve_encrypt_gpg_exec",
					       exec_path, error_r) < 0 ||
	    sieve_encrypt_gpg_check_executable("gpg", gpg, error_r) < 0)
		return -1;
	sieve_encrypt_gpg_deadline_in(timeout_msecs, &run.deadline);
	if (!sieve_encrypt_engine_discovered)
		sieve_encrypt_gpg_engine_discover(exec_path, &run);
	if (sieve_encrypt_gpg_engine_is(exec_path))
		return 0;

	env = sieve_encrypt_gpg_engine_env_push(&run);
	err = gpgme_set_engine_info(GPGME_PROTOCOL_OpenPGP, exec_path, NULL);
	sieve_encrypt_gpg_engine_env_pop(&env);
	if (err != 0) {
		*error_r = t_strdup_printf(
			"gpgme_set_engine_info(%s) failed: %s (%s)", exec_path,
			gpgme_strerror(err), gpgme_strsource(err));
		return -1;
	}
	if (!sieve_encrypt_gpg_engine_is(exec_path)) {
		*error_r = t_strdup_printf(
			"%s --version did not report the version of gpg %s "
			"(it refuses to run gpg for root ids or groups, "
			"see sieve-encrypt-gpg-exec.c)", exec_path, gpg);
		return -1;
	}
	return 0;
}
