/* Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
 */

/* sieve-encrypt-gpg-exec: the program that gpgme starts for the plugin in
 * place of gpg (gpgme_set_engine_info()). gpgme forks and execs its engine
 * itself, with no hook between the two, in the delivery process's
 * privileges: under Dovecot's default LMTP service that is real and saved
 * uid 0 with only the effective uid lowered to the mail user's. This
 * program runs where gpg would have run and, before gpg runs:
 *
 *  1. drops to the effective uid and gid for good (real, effective and
 *     saved ids all become the mail user's, which an unprivileged process
 *     may do: setresuid(2)), clears all capabilities and sets
 *     no_new_privs. The supplementary groups become the mail user's own
 *     (SIEVE_ENCRYPT_GPG_USER_GROUPS, which the plugin looks up: the
 *     primary gid and, when a system account has the uid, that account's
 *     groups, what Dovecot's passwd userdb gives through
 *     system_groups_user) when the process can set them (real or saved
 *     uid 0: Dovecot's LMTP run as root); not what only the delivery
 *     process has: the LMTP service's extra_groups (Dovecot's internal
 *     group, for its sockets) and mail_access_groups (for mail storage).
 *     (The list is taken from the plugin, which runs this program: no
 *     caller can set groups it could not set itself, and this program
 *     looks nothing up, so it loads no NSS module per gpg run.) Otherwise
 *     (dovecot-lda run as the user, service lmtp { user = ... }) the
 *     process cannot change them: then each of them must be the user's
 *     own or one the admin allowed (sieve_encrypt_gpg_allowed_groups,
 *     SIEVE_ENCRYPT_GPG_ALLOWED_GROUPS), else it refuses;
 *  2. checks that this holds (getresuid, getresgid, getgroups, capget):
 *     no id and no group 0, no capability left. Otherwise it refuses to
 *     run gpg: it says why on gpg's status channel (a
 *     SIEVE_ENCRYPT_GPG_EXEC_REFUSED line, which the plugin logs) and on
 *     stderr, and exits with SIEVE_ENCRYPT_GPG_EXEC_EXIT_REFUSED;
 *  3. runs the real gpg (SIEVE_ENCRYPT_GPG) with options that make it read
 *     nothing of the user's but the public keyring file
 *     (SIEVE_ENCRYPT_GPG_KEYRING) and start no other program, then gpgme's
 *     own arguments, in a clean environment;
 *  4. owns gpg: gpg runs as this program's child in a process group of its
 *     own, while this program keeps no file descriptor (gpgme sees the end
 *     of the data when gpg ends), waits for it until the deadline
 *     (SIEVE_ENCRYPT_GPG_DEADLINE), then kills the process group and reaps
 *     gpg. The group is killed before gpg is reaped, so its id cannot
 *     have been reused. gpg also dies with this program (PR_SET_PDEATHSIG).
 *
 * With SIEVE_ENCRYPT_GPG_EXEC_CMS=1 (the plugin's S/MIME output, started
 * through gpgme's spawn engine) the program is gpgsm, with options of its
 * own to the same effect (gpgsm_fixed_options), and the status channel
 * stays open until gpgsm has been reaped, to carry its exit code.
 *
 * Linux only (prctl, capget). It links nothing but libc. */

#define _GNU_SOURCE

#include "sieve-encrypt-gpg-exec.h"
#include "sieve-encrypt-groups.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>

#define GPG_EXEC_NAME "sieve-encrypt-gpg-exec"

/* gpg's options in front of gpgme's: no option file (--no-options), no
   home directory at all (/dev/null: no gpg.conf, common.conf, trustdb,
   random seed, agent socket or private key there), the user's public
   keyring as the only key source, no trust database, no agent, dirmngr or
   keyboxd started, no network key lookup, no lock files, no encrypt-to
   keys. The keyring options are added after these. */
static const char *const gpg_fixed_options[] = {
	"--no-options",
	"--homedir", "/dev/null",
	"--no-default-keyring",
	"--trust-model", "always",
	"--no-autostart",
	"--disable-dirmngr",
	"--no-auto-key-retrieve",
	"--no-auto-key-locate",
	"--no-random-seed-file",
	"--lock-never",
	"--no-encrypt-to",
	"--no-permission-warning",
	NULL
};

/* gpgsm's options in front of the plugin's (SIEVE_ENCRYPT_GPG_EXEC_CMS):
   no option file, no home directory (/dev/null: no gpgsm.conf,
   common.conf, trustlist.txt, policies, random seed, agent socket or
   private key), the user's keybox as the only certificate source, no
   dirmngr (so no CRL, OCSP or LDAP look-ups: no network), no agent
   started (encryption needs none), no encrypt-to certificates. The
   chain is not validated: gpgsm 2.2 has no --always-trust, and the
   certificates in the user's keybox are the user's choice, like OpenPGP
   keys in the keyring (--trust-model always above); the plugin refuses
   expired and revoked ones from the listing itself. The keyring option
   is added after these. */
static const char *const gpgsm_fixed_options[] = {
	"--no-options",
	"--homedir", "/dev/null",
	"--no-default-keyring",
	"--disable-dirmngr",
	"--disable-crl-checks",
	"--disable-ocsp",
	"--disable-policy-checks",
	"--no-autostart",
	"--no-random-seed-file",
	"--no-encrypt-to",
	"--no-common-certs-import",
	"--debug-no-chain-validation",
	"--batch",
	NULL
};

/* The environment gpg gets */
static char *const gpg_environment[] = {
	"PATH=/usr/bin:/bin",
	NULL
};

struct gpg_exec {
	const char *gpg;
	const char *keyring;
	struct timespec deadline;
	/* the mail user's own groups, from the plugin */
	gid_t *user_groups;
	int user_groups_count;
	/* the groups the admin allows besides the user's own, where this
	   process cannot drop them */
	gid_t *allowed_groups;
	int allowed_groups_count;
	/* the supplementary groups gpg may have */
	gid_t *groups;
	int groups_count;
	/* gpg's status channel (gpgme's --status-fd), -1 if none */
	int status_fd;
	/* only "--version" (gpgme's engine check) */
	bool version_only;
	/* gpgsm instead of gpg (SIEVE_ENCRYPT_GPG_EXEC_CMS) */
	bool cms;
};

/*
 * Refusing
 */

static void
refuse(const struct gpg_exec *ge, int exit_code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4), noreturn));

static void
refuse(const struct gpg_exec *ge, int exit_code, const char *fmt, ...)
{
	char reason[512], line[600];
	va_list args;
	int len;

	va_start(args, fmt);
	(void)vsnprintf(reason, sizeof(reason), fmt, args);
	va_end(args);

	if (ge->status_fd >= 0) {
		len = snprintf(line, sizeof(line), "[GNUPG:] %s %s\n",
			       SIEVE_ENCRYPT_GPG_EXEC_STATUS_REFUSED, reason);
		if (len > 0 && (size_t)len < sizeof(line) &&
		    write(ge->status_fd, line, len) < 0) {
			/* Nothing to do: the plugin then reports that gpg
			   gave no answer */
		}
	}
	(void)fprintf(stderr, GPG_EXEC_NAME": %s\n", reason);
	_exit(exit_code);
}

/*
 * What the plugin passes
 */

static bool parse_deadline(const char *str, struct timespec *ts_r)
{
	unsigned long long secs, nsecs;
	char *end;

	if (str == NULL || *str < '0' || *str > '9')
		return false;
	errno = 0;
	secs = strtoull(str, &end, 10);
	if (errno != 0 || *end != '.' || end[1] < '0' || end[1] > '9')
		return false;
	nsecs = strtoull(end + 1, &end, 10);
	if (errno != 0 || *end != '\0' || nsecs >= 1000000000ULL ||
	    secs > (unsigned long long)LONG_MAX)
		return false;
	ts_r->tv_sec = (time_t)secs;
	ts_r->tv_nsec = (long)nsecs;
	return true;
}

/* gpgme passes "--status-fd N"; -1 if there is none (or it is not open) */
static int find_status_fd(int argc, char **argv)
{
	char *end;
	long fd;
	int i;

	for (i = 1; i + 1 < argc; i++) {
		if (strcmp(argv[i], "--status-fd") != 0)
			continue;
		errno = 0;
		fd = strtol(argv[i + 1], &end, 10);
		if (errno != 0 || *end != '\0' || fd < 0 || fd > INT_MAX ||
		    fcntl((int)fd, F_GETFD) < 0)
			return -1;
		return (int)fd;
	}
	return -1;
}

/* A list of gids in the environment variable name */
static gid_t *
parse_groups(const struct gpg_exec *ge, const char *name, int *count_r)
{
	gid_t *groups = sieve_encrypt_groups_parse(getenv(name), count_r);

	if (groups == NULL) {
		refuse(ge, SIEVE_ENCRYPT_GPG_EXEC_EXIT_REFUSED,
		       "%s is not a list of gids: %s", name, strerror(errno));
	}
	return groups;
}

static void read_request(struct gpg_exec *ge, int argc, char **argv)
{
	ge->status_fd = find_status_fd(argc, argv);
	ge->version_only = (argc == 2 && strcmp(argv[1], "--version") == 0);
	ge->gpg = getenv(SIEVE_ENCRYPT_GPG_EXEC_ENV_GPG);
	ge->keyring = getenv(SIEVE_ENCRYPT_GPG_EXEC_ENV_KEYRING);
	ge->cms = (getenv(SIEVE_ENCRYPT_GPG_EXEC_ENV_CMS) != NULL &&
		   strcmp(getenv(SIEVE_ENCRYPT_GPG_EXEC_ENV_CMS), "1") == 0);

	if (ge->gpg == NULL || ge->gpg[0] != '/') {
		refuse(ge, SIEVE_ENCRYPT_GPG_EXEC_EXIT_REFUSED,
		       "%s is not set to the absolute path of gpg "
		       "(this program is started by the sieve_encrypt plugin "
		       "only)", SIEVE_ENCRYPT_GPG_EXEC_ENV_GPG);
	}
	if (!ge->version_only &&
	    (ge->keyring == NULL || ge->keyring[0] != '/')) {
		refuse(ge, SIEVE_ENCRYPT_GPG_EXEC_EXIT_REFUSED,
		       "%s is not set to the absolute path of a keyring",
		       SIEVE_ENCRYPT_GPG_EXEC_ENV_KEYRING);
	}
	ge->user_groups = parse_groups(ge,
		SIEVE_ENCRYPT_GPG_EXEC_ENV_USER_GROUPS,
		&ge->user_groups_count);
	if (ge->user_groups_count == 0) {
		refuse(ge, SIEVE_ENCRYPT_GPG_EXEC_EXIT_REFUSED,
		       "%s is not set to the mail user's groups",
		       SIEVE_ENCRYPT_GPG_EXEC_ENV_USER_GROUPS);
	}
	ge->allowed_groups = parse_groups(ge,
		SIEVE_ENCRYPT_GPG_EXEC_ENV_ALLOWED_GROUPS,
		&ge->allowed_groups_count);
	if (!parse_deadline(getenv(SIEVE_ENCRYPT_GPG_EXEC_ENV_DEADLINE),
			    &ge->deadline)) {
		refuse(ge, SIEVE_ENCRYPT_GPG_EXEC_EXIT_REFUSED,
		       "%s is not set to a CLOCK_MONOTONIC time "
		       "(SECONDS.NANOSECONDS)",
		       SIEVE_ENCRYPT_GPG_EXEC_ENV_DEADLINE);
	}
}

/*
 * Privileges
 */

static void
refuse_root_group(const struct gpg_exec *ge, const gid_t *groups, int count)
{
	if (sieve_encrypt_groups_contain(groups, count, 0)) {
		refuse(ge, SIEVE_ENCRYPT_GPG_EXEC_EXIT_REFUSED,
		       "refusing to run gpg: group 0 (root) is among "
		       "the supplementary groups");
	}
}

/* The process's supplementary groups, in a list of their own */
static gid_t *current_groups(const struct gpg_exec *ge, int *count_r)
{
	gid_t *groups = sieve_encrypt_current_groups(count_r);

	if (groups == NULL) {
		refuse(ge, SIEVE_ENCRYPT_GPG_EXEC_EXIT_REFUSED,
		       "refusing to run gpg: getgroups() failed: %s",
		       strerror(errno));
	}
	return groups;
}

/* Where the groups cannot be changed: each must be the user's own or
   allowed by the admin */
static void check_kept_groups(struct gpg_exec *ge, uid_t uid)
{
	gid_t *groups, foreign;
	int count;

	groups = current_groups(ge, &count);
	refuse_root_group(ge, groups, count);
	if (sieve_encrypt_groups_find_foreign(groups, count, ge->user_groups,
					      ge->user_groups_count,
					      ge->allowed_groups,
					      ge->allowed_groups_count,
					      &foreign)) {
		refuse(ge, SIEVE_ENCRYPT_GPG_EXEC_EXIT_REFUSED,
		       "refusing to run gpg: group %ld is not uid %ld's "
		       "own, and this process cannot drop it "
		       "(sieve_encrypt_gpg_allowed_groups)",
		       (long)foreign, (long)uid);
	}
	/* What gpg keeps */
	ge->groups = groups;
	ge->groups_count = count;
}

/* With real or saved uid 0 (Dovecot's root LMTP lowers only the effective
   uid), become root for a moment to set the user's groups; else keep the
   groups if each is the user's own or allowed */
static void set_user_groups(struct gpg_exec *ge, uid_t uid, gid_t gid)
{
	int settable = sieve_encrypt_groups_settable();

	if (settable < 0) {
		refuse(ge, SIEVE_ENCRYPT_GPG_EXEC_EXIT_REFUSED,
		       "refusing to run gpg: getresuid() failed: %s",
		       strerror(errno));
	}
	if (settable == 0) {
		check_kept_groups(ge, uid);
		return;
	}
	if (ge->user_groups[0] != gid) {
		refuse(ge, SIEVE_ENCRYPT_GPG_EXEC_EXIT_REFUSED,
		       "refusing to run gpg: the user's groups (%s) do not "
		       "start with the effective gid %ld",
		       SIEVE_ENCRYPT_GPG_EXEC_ENV_USER_GROUPS, (long)gid);
	}
	ge->groups = ge->user_groups;
	ge->groups_count = ge->user_groups_count;
	refuse_root_group(ge, ge->groups, ge->groups_count);
	if (seteuid(0) < 0 ||
	    setgroups(ge->groups_count, ge->groups) < 0) {
		refuse(ge, SIEVE_ENCRYPT_GPG_EXEC_EXIT_REFUSED,
		       "refusing to run gpg: setting the groups of uid %ld "
		       "failed: %s", (long)uid, strerror(errno));
	}
}

static void clear_capabilities(const struct gpg_exec *ge)
{
	struct __user_cap_header_struct header = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2];

	memset(data, 0, sizeof(data));
	if (syscall(SYS_capset, &header, data) < 0) {
		refuse(ge, SIEVE_ENCRYPT_GPG_EXEC_EXIT_REFUSED,
		       "refusing to run gpg: capset() failed: %s",
		       strerror(errno));
	}
#ifdef PR_CAP_AMBIENT
	/* Empty already (ambient is a subset of permitted); EINVAL on
	   kernels without ambient capabilities */
	(void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
#endif
}

/* Make real, effective and saved uid and gid the effective ones, for
   good, the groups the user's, and give up every capability */
static void drop_privileges(struct gpg_exec *ge)
{
	uid_t uid = geteuid();
	gid_t gid = getegid();

	if (uid == 0) {
		refuse(ge, SIEVE_ENCRYPT_GPG_EXEC_EXIT_REFUSED,
		       "refusing to run gpg as root: the effective uid is 0");
	}
	if (gid == 0) {
		refuse(ge, SIEVE_ENCRYPT_GPG_EXEC_EXIT_REFUSED,
		       "refusing to run gpg with group root: the effective "
		       "gid is 0");
	}
	set_user_groups(ge, uid, gid);
	/* gid first: setresgid() to one of the current gids needs no
	   privilege, nor does setresuid() to one of the current uids */
	if (setresgid(gid, gid, gid) < 0) {
		refuse(ge, SIEVE_ENCRYPT_GPG_EXEC_EXIT_REFUSED,
		       "refusing to run gpg: setresgid(%ld) failed: %s",
		       (long)gid, strerror(errno));
	}
	if (setresuid(uid, uid, uid) < 0) {
		refuse(ge, SIEVE_ENCRYPT_GPG_EXEC_EXIT_REFUSED,
		       "refusing to run gpg: setresuid(%ld) failed: %s",
		       (long)uid, strerror(errno));
	}
	clear_capabilities(ge);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		refuse(ge, SIEVE_ENCRYPT_GPG_EXEC_EXIT_REFUSED,
		       "refusing to run gpg: PR_SET_NO_NEW_PRIVS failed: %s",
		       strerror(errno));
	}
}

/* What the drop left, checked with the kernel's own answers */
static void verify_privileges(const struct gpg_exec *ge)
{
	struct __user_cap_header_struct header = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2];
	uid_t ruid, euid, suid;
	gid_t rgid, egid, sgid, *groups, foreign;
	unsigned int i;
	int count;

	if (getresuid(&ruid, &euid, &suid) < 0 ||
	    getresgid(&rgid, &egid, &sgid) < 0) {
		refuse(ge, SIEVE_ENCRYPT_GPG_EXEC_EXIT_REFUSED,
		       "refusing to run gpg: getresuid/getresgid failed: %s",
		       strerror(errno));
	}
	if (ruid != euid || suid != euid || euid == 0 ||
	    rgid != egid || sgid != egid || egid == 0) {
		refuse(ge, SIEVE_ENCRYPT_GPG_EXEC_EXIT_REFUSED,
		       "refusing to run gpg: after the drop uid is "
		       "%ld/%ld/%ld and gid %ld/%ld/%ld (real/effective/saved)",
		       (long)ruid, (long)euid, (long)suid,
		       (long)rgid, (long)egid, (long)sgid);
	}
	groups = current_groups(ge, &count);
	refuse_root_group(ge, groups, count);
	if (sieve_encrypt_groups_find_foreign(groups, count, ge->groups,
					      ge->groups_count, NULL, 0,
					      &foreign)) {
		refuse(ge, SIEVE_ENCRYPT_GPG_EXEC_EXIT_REFUSED,
		       "refusing to run gpg: group %ld is left after the drop",
		       (long)foreign);
	}
	free(groups);

	memset(data, 0, sizeof(data));
	if (syscall(SYS_capget, &header, data) < 0) {
		refuse(ge, SIEVE_ENCRYPT_GPG_EXEC_EXIT_REFUSED,
		       "refusing to run gpg: capget() failed: %s",
		       strerror(errno));
	}
	for (i = 0; i < 2; i++) {
		if (data[i].permitted != 0 || data[i].effective != 0 ||
		    data[i].inheritable != 0) {
			refuse(ge, SIEVE_ENCRYPT_GPG_EXEC_EXIT_REFUSED,
			       "refusing to run gpg: capabilities left after "
			       "the drop (permitted %08x, effective %08x, "
			       "inheritable %08x in word %u)",
			       data[i].permitted, data[i].effective,
			       data[i].inheritable, i);
		}
	}
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1) {
		refuse(ge, SIEVE_ENCRYPT_GPG_EXEC_EXIT_REFUSED,
		       "refusing to run gpg: no_new_privs is not set");
	}
}

/*
 * Running gpg
 */

static char **build_argv(const struct gpg_exec *ge, int argc, char **argv)
{
	const char *const *options = (ge->cms ? gpgsm_fixed_options :
				      gpg_fixed_options);
	unsigned int fixed = 0;
	char **gpg_argv;
	unsigned int n = 0, i;
	int j;

	while (options[fixed] != NULL)
		fixed++;

	gpg_argv = calloc(fixed + argc + 3, sizeof(*gpg_argv));
	if (gpg_argv == NULL) {
		refuse(ge, SIEVE_ENCRYPT_GPG_EXEC_EXIT_REFUSED,
		       "out of memory");
	}
	gpg_argv[n++] = (char *)ge->gpg;
	for (i = 0; i < fixed; i++)
		gpg_argv[n++] = (char *)options[i];
	if (ge->keyring != NULL) {
		gpg_argv[n++] = "--keyring";
		gpg_argv[n++] = (char *)ge->keyring;
	}
	for (j = 1; j < argc; j++)
		gpg_argv[n++] = argv[j];
	gpg_argv[n] = NULL;
	return gpg_argv;
}

static void __attribute__((noreturn))
run_gpg(const struct gpg_exec *ge, char **gpg_argv, pid_t parent,
	const sigset_t *sigmask)
{
	(void)sigprocmask(SIG_SETMASK, sigmask, NULL);
	if (setpgid(0, 0) < 0 ||
	    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 ||
	    getppid() != parent)
		_exit(SIEVE_ENCRYPT_GPG_EXEC_EXIT_NOEXEC);
	execve(ge->gpg, gpg_argv, gpg_environment);
	refuse(ge, SIEVE_ENCRYPT_GPG_EXEC_EXIT_NOEXEC,
	       "cannot run gpg %s: %s", ge->gpg, strerror(errno));
}

/* All but keep (-1: none) */
static void close_all_fds(int keep)
{
	long max, fd;

#ifdef SYS_close_range
	if (keep < 0 && syscall(SYS_close_range, 0U, ~0U, 0U) == 0)
		return;
	/* (the loop below costs 0.1 s at a limit of a million files) */
	if (keep >= 0 &&
	    (keep == 0 ||
	     syscall(SYS_close_range, 0U, (unsigned int)keep - 1, 0U) == 0) &&
	    syscall(SYS_close_range, (unsigned int)keep + 1, ~0U, 0U) == 0)
		return;
#endif
	max = sysconf(_SC_OPEN_MAX);
	if (max < 0)
		max = 1024;
	for (fd = 0; fd < max; fd++) {
		if (fd != keep)
			(void)close((int)fd);
	}
}

/* Time left until the deadline; FALSE when it has passed */
static bool time_left(const struct timespec *deadline, struct timespec *left_r)
{
	struct timespec now;

	if (clock_gettime(CLOCK_MONOTONIC, &now) < 0)
		return false;
	left_r->tv_sec = deadline->tv_sec - now.tv_sec;
	left_r->tv_nsec = deadline->tv_nsec - now.tv_nsec;
	if (left_r->tv_nsec < 0) {
		left_r->tv_sec--;
		left_r->tv_nsec += 1000000000L;
	}
	return left_r->tv_sec >= 0 &&
		(left_r->tv_sec > 0 || left_r->tv_nsec > 0);
}

/* Wait until gpg ended (left unreaped) or the deadline passed */
static void wait_until_deadline(pid_t pid, const struct timespec *deadline,
				const sigset_t *sigchld)
{
	struct timespec left;
	siginfo_t info;

	for (;;) {
		memset(&info, 0, sizeof(info));
		if (waitid(P_PID, pid, &info,
			   WEXITED | WNOHANG | WNOWAIT) < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		if (info.si_pid == pid || !time_left(deadline, &left))
			return;
		(void)sigtimedwait(sigchld, NULL, &left);
	}
}

/* gpgsm's exit code on the status channel, for the plugin: gpgme's spawn
   engine, which runs this program for gpgsm, sees no exit status */
static void report_exit(int status_fd, int code)
{
	char line[100];
	int len;

	len = snprintf(line, sizeof(line), "[GNUPG:] %s %d\n",
		       SIEVE_ENCRYPT_GPG_EXEC_STATUS_EXIT, code);
	if (len > 0 && (size_t)len < sizeof(line) &&
	    write(status_fd, line, len) < 0) {
		/* Nothing to do: the plugin then reports no exit code */
	}
}

/* Returns what the exit code of gpg's child says */
static int supervise(const struct gpg_exec *ge, pid_t pid,
		     const sigset_t *sigchld)
{
	/* gpgsm: the status channel stays open for its exit code (the
	   plugin sees the end of the data when this program ends) */
	int keep = (ge->cms ? ge->status_fd : -1);
	int status, code;

	/* Also set by the child itself; whichever comes first */
	(void)setpgid(pid, pid);
	close_all_fds(keep);
	wait_until_deadline(pid, &ge->deadline, sigchld);
	/* The whole group: at the deadline all of it, else what gpg may have
	   left. gpg is not reaped yet, so the group id is still its own. */
	(void)kill(-pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return SIEVE_ENCRYPT_GPG_EXEC_EXIT_NOEXEC;
	}
	code = (WIFEXITED(status) ? WEXITSTATUS(status) :
		128 + WTERMSIG(status));
	if (keep >= 0)
		report_exit(keep, code);
	return code;
}

int main(int argc, char **argv)
{
	struct gpg_exec ge;
	sigset_t sigchld, sigmask;
	char **gpg_argv;
	pid_t parent, pid;

	memset(&ge, 0, sizeof(ge));
	read_request(&ge, argc, argv);
	drop_privileges(&ge);
	verify_privileges(&ge);
	gpg_argv = build_argv(&ge, argc, argv);

	/* SIGCHLD blocked, for sigtimedwait(), and not ignored (an ignored
	   SIGCHLD would have the kernel reap gpg) */
	(void)signal(SIGCHLD, SIG_DFL);
	sigemptyset(&sigchld);
	sigaddset(&sigchld, SIGCHLD);
	(void)sigprocmask(SIG_BLOCK, &sigchld, &sigmask);

	parent = getpid();
	pid = fork();
	if (pid < 0) {
		refuse(&ge, SIEVE_ENCRYPT_GPG_EXEC_EXIT_NOEXEC,
		       "fork() failed: %s", strerror(errno));
	}
	if (pid == 0)
		run_gpg(&ge, gpg_argv, parent, &sigmask);
	return supervise(&ge, pid, &sigchld);
}
