# shellcheck shell=bash
# dovecot.sh: private Dovecot 2.3 or 2.4 instances for the end-to-end tests.
#
# Source it from a bash script, after setting DC_TOP to the repository top:
#
#   . tests/lib/dovecot.sh
#   dc_init                      # scratch dir $DC_DIR, config $DC_CONF
#   dc_add_user alice            # alice@example.org, home $DC_DIR/home/alice
#   dc_global_script 'require ["vnd.x.encrypt"]; encrypt "a@example.org";'
#   dc_lda alice msg.eml         # exit code of dovecot-lda -e
#   dc_lmtp_start; dc_lmtp_send spec; dc_lmtp_stop
#   dc_cleanup                   # stops LMTP, removes $DC_DIR
#
# The plugin is loaded from the build tree: $SIEVE_ENCRYPT_BUILD (default
# $DC_TOP)/src/.libs, and gpgme runs the build tree's sieve-encrypt-gpg-exec
# (src/, the setting sieve_encrypt_gpg_exec = $DC_GPG_EXEC). Nothing outside
# the scratch directory is touched: the instance has its own base_dir,
# state_dir, instance_name and log.
#
# Users: by default every test user (alice@example.org, ...) is mapped by
# a passwd-file userdb to ONE unprivileged system account,
# $SIEVE_ENCRYPT_TEST_USER (default: nobody) when run as root; when not run
# as root, everything runs as the calling user (LMTP then cannot run:
# dc_lmtp_start fails). The scratch directory is made under $TMPDIR
# (default /tmp) with mode 0755 so that the mail account can reach it; if
# it cannot (a 0700 directory such as /root), /tmp is used instead. A
# build tree that the mail account cannot read is handled by copying the
# plugin into the scratch directory.
#
# dc_init options (as root only), for the deployments Dovecot ships:
#   --per-user-uids  every user gets a uid and gid of its own (20001,
#                    20002, ... in the order of dc_add_user; no system
#                    account needed): home, Maildir, keyring and script
#                    are owned by it, dc_lda runs dovecot-lda as it
#                    (setpriv --reuid --regid --clear-groups), and the LMTP
#                    service, with no "user =" as Debian ships it, runs as
#                    root and lowers only its effective uid per recipient.
#                    The log, $DC_DIR/logs and $DC_DIR/store are
#                    writable by all of them.
#   --lmtp-user      all users on the mail account (as by default), and
#                    the LMTP service runs as that account:
#                    service lmtp { user = ACCOUNT } (the "vmail" set-up)
# With either option, mail_temp_dir is $DC_DIR/mail-tmp (mode 1777), so
# that a test can see what is left in it.
# Without an option the LMTP service is the shipped one too (root, per
# recipient seteuid), but with every user on the one mail account.
# Per-user settings: dc_add_user NAME KEY=VALUE... puts plugin settings
# into the user's userdb extra fields (LMTP) and gives them to dovecot-lda
# as -o options (dc_lda), on 2.3 and 2.4 alike.
#
# Dovecot version: dc_init asks `dovecot --version` (or, failing that,
# /usr/include/dovecot/config.h) and writes a 2.3 configuration (settings in
# plugin { }) or a 2.4 one (dovecot_config_version, top-level sieve_*
# settings, sieve_script blocks). DC_V24 is "yes" on 2.4 (exported, so that
# functions run by child shells see it). Extra settings that a test writes
# into $DC_DIR/plugin-extra.conf ("key = value" lines) work on both: on 2.3
# they go into plugin { }, on 2.4 dc_translate_24 turns them into top-level
# 2.4 settings (%u -> %{user}, "sieve_extensions = +x" -> a boollist, see
# there). On 2.4, the plugin's settings module must be installed in
# Dovecot's modules/settings directory (make install); the plugin itself is
# still loaded from the build tree.

DC_TOP=${DC_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
DC_BUILD=${SIEVE_ENCRYPT_BUILD:-$DC_TOP}
DC_LIBEXEC=${DOVECOT_LIBEXECDIR:-/usr/lib/dovecot}
DC_LDA=${DOVECOT_LDA:-$DC_LIBEXEC/dovecot-lda}
DC_DOVECOT=${DOVECOT_BIN:-/usr/sbin/dovecot}
DC_SIEVEC=${SIEVEC:-sievec}
DC_DOMAIN=example.org
DC_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# A plugin built with --enable-sanitizers needs the sanitizer runtime
# preloaded into the Dovecot programs, which are not built with it
# (tests/run-sanitizers.sh sets SIEVE_ENCRYPT_PRELOAD); Dovecot passes
# these variables on only when import_environment names them.
DC_IMPORT_ENV=
if [ -n "${SIEVE_ENCRYPT_PRELOAD:-}" ]; then
	DC_IMPORT_ENV="import_environment = TZ CORE_OUTOFMEM CORE_ERROR LD_PRELOAD ASAN_OPTIONS UBSAN_OPTIONS"
fi

DC_V24=${DC_V24:-}
# dc_init options: "yes" with --per-user-uids / --lmtp-user
DC_PER_USER=no
DC_LMTP_AS_ACCOUNT=no
# uid and gid of the first user with --per-user-uids
DC_UID_BASE=20001
DC_DIR=
DC_CONF=
DC_LOG=
DC_LMTP_PORT=
DC_LMTP_PID=

dc_die()
{
	echo "dovecot.sh: $*" >&2
	return 1
}

# dc_plugin_dir: print the absolute directory holding the built plugin
dc_plugin_dir()
{
	local dir
	dir=$(cd "$DC_BUILD" 2>/dev/null && pwd)/src/.libs
	[ -f "$dir/lib90_sieve_encrypt_plugin.so" ] ||
		dc_die "plugin not built: $dir/lib90_sieve_encrypt_plugin.so" \
			"missing (run ./configure && make, or set" \
			"SIEVE_ENCRYPT_BUILD to the build tree)" || return 1
	printf '%s\n' "$dir"
}

# dc_gpg_exec: print the absolute path of the built sieve-encrypt-gpg-exec
dc_gpg_exec()
{
	local f
	f=$(cd "$DC_BUILD" 2>/dev/null && pwd)/src/sieve-encrypt-gpg-exec
	[ -x "$f" ] ||
		dc_die "not built: $f missing (run make, or set" \
			"SIEVE_ENCRYPT_BUILD to the build tree)" || return 1
	printf '%s\n' "$f"
}

# dc_check_tools: fail with a message when a needed program is missing
dc_check_tools()
{
	local t
	for t in "$DC_LDA" "$DC_DOVECOT"; do
		[ -x "$t" ] || dc_die "$t not found (install dovecot-core)" ||
			return 1
	done
	for t in "$DC_SIEVEC" gpg gpgconf python3; do
		command -v "$t" >/dev/null 2>&1 ||
			dc_die "$t not found in PATH" || return 1
	done
}

# dc_dovecot_version: print the Dovecot version ("2.4.1-4", "2.3.19.1")
dc_dovecot_version()
{
	local v
	v=$("$DC_DOVECOT" --version 2>/dev/null | awk 'NR == 1 { print $1 }')
	if [ -z "$v" ] && [ -r /usr/include/dovecot/config.h ]; then
		v=$(sed -n 's/^#define DOVECOT_VERSION "\(.*\)"$/\1/p' \
			/usr/include/dovecot/config.h)
	fi
	[ -n "$v" ] || dc_die "cannot tell the Dovecot version" || return 1
	printf '%s\n' "$v"
}

# dc_detect_version: set and export DC_V24 (yes on Dovecot 2.4 and later)
dc_detect_version()
{
	local v
	v=$(dc_dovecot_version) || return 1
	case $v in
	2.[0-3]|2.[0-3].*) DC_V24=no ;;
	*) DC_V24=yes ;;
	esac
	export DC_V24
}

# dc_mail_account: the system account that runs deliveries
dc_mail_account()
{
	if [ "$(id -u)" -eq 0 ]; then
		printf '%s\n' "${SIEVE_ENCRYPT_TEST_USER:-nobody}"
	else
		id -un
	fi
}

# dc_preload_env: set the array DC_PRELOAD_ENV to the env words that
# preload the sanitizer runtime (none unless SIEVE_ENCRYPT_PRELOAD is set)
dc_preload_env()
{
	DC_PRELOAD_ENV=()
	[ -n "${SIEVE_ENCRYPT_PRELOAD:-}" ] || return 0
	DC_PRELOAD_ENV=(LD_PRELOAD="$SIEVE_ENCRYPT_PRELOAD"
		ASAN_OPTIONS="${ASAN_OPTIONS:-}" UBSAN_OPTIONS="${UBSAN_OPTIONS:-}")
}

# dc_as_mail CMD...: run CMD as the mail account with a clean environment
# (extra VAR=value words may come first, as with env)
dc_as_mail()
{
	dc_preload_env
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u "$DC_ACCOUNT" -- env -i PATH="$DC_PATH" \
			"${DC_PRELOAD_ENV[@]}" "$@"
	else
		env -i PATH="$DC_PATH" "${DC_PRELOAD_ENV[@]}" "$@"
	fi
}

# dc_as_user NAME CMD...: run CMD as test user NAME (with --per-user-uids
# its own uid and gid, no supplementary groups; otherwise as the mail
# account, see dc_as_mail)
dc_as_user()
{
	local name=$1 ids
	shift
	if [ "${DC_PER_USER:-no}" != yes ]; then
		dc_as_mail "$@"
		return
	fi
	ids=$(dc_user_ids "$name")
	dc_preload_env
	setpriv --reuid="${ids%:*}" --regid="${ids#*:}" --clear-groups \
		env -i PATH="$DC_PATH" "${DC_PRELOAD_ENV[@]}" "$@"
}

# dc_user_ids NAME: print "UID:GID" of test user NAME (for chown); the
# userdb file is the record, so that this works in subshells too
dc_user_ids()
{
	local ids
	ids=$(awk -F: -v u="$1@$DC_DOMAIN" '$1 == u { print $3 ":" $4 }' \
		"$DC_DIR/users" 2>/dev/null)
	printf '%s\n' "${ids:-$DC_UID:$DC_GID}"
}

# dc_init [--per-user-uids | --lmtp-user]: create the scratch directory
# and a config for it (see the top of this file for the options). Sets
# DC_DIR, DC_CONF, DC_LOG, DC_ACCOUNT, DC_UID, DC_GID, DC_PLUGIN_DIR,
# DC_GPG_EXEC.
dc_init()
{
	local base=${TMPDIR:-/tmp} opts=("$@")

	DC_PER_USER=no
	DC_LMTP_AS_ACCOUNT=no
	while [ $# -gt 0 ]; do
		case $1 in
		--per-user-uids) DC_PER_USER=yes ;;
		--lmtp-user) DC_LMTP_AS_ACCOUNT=yes ;;
		*) dc_die "dc_init: unknown option $1" || return 1 ;;
		esac
		shift
	done
	if [ "$DC_PER_USER$DC_LMTP_AS_ACCOUNT" != nono ] &&
		[ "$(id -u)" -ne 0 ]; then
		dc_die "dc_init: --per-user-uids and --lmtp-user need root" ||
			return 1
	fi
	dc_check_tools || return 1
	dc_detect_version || return 1
	DC_PLUGIN_DIR=$(dc_plugin_dir) || return 1
	DC_GPG_EXEC=$(dc_gpg_exec) || return 1
	DC_ACCOUNT=$(dc_mail_account)
	DC_UID=$(id -u "$DC_ACCOUNT") && DC_GID=$(id -g "$DC_ACCOUNT") ||
		dc_die "no such user: $DC_ACCOUNT" || return 1

	DC_DIR=$(mktemp -d "$base/sieve-encrypt-e2e.XXXXXX") ||
		dc_die "mktemp -d in $base failed" || return 1
	chmod 755 "$DC_DIR"
	if ! dc_as_mail test -x "$DC_DIR"; then
		rm -rf "$DC_DIR"
		DC_DIR=
		[ "$base" != /tmp ] ||
			dc_die "/tmp is not reachable by user $DC_ACCOUNT" ||
			return 1
		echo "dovecot.sh: $base is not reachable by user" \
			"$DC_ACCOUNT, using /tmp" >&2
		TMPDIR=/tmp dc_init "${opts[@]}"
		return
	fi
	# The mail account loads the plugin: a build tree it cannot read
	# (a clone under /root, mode 0700) is copied into the scratch dir
	if ! dc_as_mail test -r \
		"$DC_PLUGIN_DIR/lib90_sieve_encrypt_plugin.so"; then
		mkdir "$DC_DIR/plugin"
		cp "$DC_PLUGIN_DIR/lib90_sieve_encrypt_plugin.so" \
			"$DC_DIR/plugin/"
		echo "dovecot.sh: $DC_PLUGIN_DIR is not readable by user" \
			"$DC_ACCOUNT, using a copy of the plugin" >&2
		DC_PLUGIN_DIR=$DC_DIR/plugin
	fi
	if ! dc_as_mail test -x "$DC_GPG_EXEC"; then
		mkdir -p "$DC_DIR/plugin"
		cp "$DC_GPG_EXEC" "$DC_DIR/plugin/"
		DC_GPG_EXEC=$DC_DIR/plugin/sieve-encrypt-gpg-exec
	fi

	mkdir -p "$DC_DIR/run" "$DC_DIR/state" "$DC_DIR/home" \
		"$DC_DIR/sieve" "$DC_DIR/store" "$DC_DIR/logs"
	DC_CONF=$DC_DIR/dovecot.conf
	DC_LOG=$DC_DIR/dovecot.log
	: >"$DC_LOG"
	: >"$DC_DIR/users"
	: >"$DC_DIR/lmtp-listener.conf"
	# The mail account writes the log (dovecot-lda logs itself) and
	# deliveries into $DC_DIR/store (see dc_lda_to)
	chown "$DC_UID:$DC_GID" "$DC_LOG" "$DC_DIR/store" "$DC_DIR/logs"
	if [ "$DC_PER_USER$DC_LMTP_AS_ACCOUNT" != nono ]; then
		# a temporary directory of the instance's own, to see what
		# is left in it
		mkdir -m 1777 "$DC_DIR/mail-tmp"
	fi
	if [ "$DC_PER_USER" = yes ]; then
		# every user's dovecot-lda writes these
		chmod 1777 "$DC_DIR/store" "$DC_DIR/logs"
		chmod 666 "$DC_LOG"
	fi
	dc_write_config
}

# dc_config_instance: the settings that make the instance private, the same
# in 2.3 and 2.4 syntax
dc_config_instance()
{
	cat <<EOF
instance_name = sieve-encrypt-e2e-${DC_DIR##*.}
base_dir = $DC_DIR/run
state_dir = $DC_DIR/state
log_path = $DC_LOG
protocols = lmtp
listen = 127.0.0.1
ssl = no
default_internal_user = dovecot
default_login_user = dovenull
first_valid_uid = 1
postmaster_address = postmaster@$DC_DOMAIN
lmtp_save_to_detail_mailbox = no
# no stats process: dovecot-lda (mail account) cannot use a root-owned
# stats-writer socket left by an LMTP run
stats_writer_socket_path =
EOF
	[ "$DC_PER_USER$DC_LMTP_AS_ACCOUNT" = nono ] ||
		echo "mail_temp_dir = $DC_DIR/mail-tmp"
}

# dc_config_lmtp_service: the body of service lmtp { }: the listener, and
# with --lmtp-user the account the service runs as
dc_config_lmtp_service()
{
	echo "  !include_try $DC_DIR/lmtp-listener.conf"
	[ "$DC_LMTP_AS_ACCOUNT" = no ] || echo "  user = $DC_ACCOUNT"
}

# dc_write_config: (re)write $DC_CONF. Extra plugin settings can be put in
# $DC_DIR/plugin-extra.conf (one "key = value" a line, 2.3 syntax; on 2.4
# translated by dc_translate_24), extra top-level settings in
# $DC_DIR/extra.conf (taken as they are: the syntax of the running version).
dc_write_config()
{
	: >>"$DC_DIR/plugin-extra.conf"
	: >>"$DC_DIR/extra.conf"
	if [ "$DC_V24" = yes ]; then
		dc_translate_24 <"$DC_DIR/plugin-extra.conf" \
			>"$DC_DIR/plugin-extra-2.4.conf" || return 1
		dc_write_config_24
		return
	fi
	{
		echo "# Written by tests/lib/dovecot.sh: a private instance," \
			"nothing shared with a system Dovecot."
		dc_config_instance
		cat <<EOF
$DC_IMPORT_ENV
mail_location = maildir:~/Maildir

userdb {
  driver = passwd-file
  args = $DC_DIR/users
}
passdb {
  driver = passwd-file
  args = $DC_DIR/users
}

service lmtp {
$(dc_config_lmtp_service)
}
protocol lda {
  mail_plugins = \$mail_plugins sieve
}
protocol lmtp {
  mail_plugins = \$mail_plugins sieve
}

plugin {
  sieve_plugins = sieve_encrypt
  sieve_plugin_dir = $DC_PLUGIN_DIR
  sieve_global_extensions = +vnd.x.encrypt
  sieve_before = $DC_DIR/sieve/global.sieve
  sieve = file:~/sieve;active=~/.dovecot.sieve
  sieve_encrypt_gnupg_home = ~/.gnupg
  sieve_encrypt_gpg_exec = $DC_GPG_EXEC
  !include_try $DC_DIR/plugin-extra.conf
}
!include_try $DC_DIR/extra.conf
EOF
	} >"$DC_CONF"
}

# dc_write_config_24: $DC_CONF for Dovecot 2.4; same instance as the 2.3
# one. The settings of plugin-extra.conf come last, so they override.
dc_write_config_24()
{
	{
		cat <<EOF
dovecot_config_version = 2.4.0
dovecot_storage_version = 2.4.0
# Written by tests/lib/dovecot.sh (Dovecot 2.4 syntax): a private instance,
# nothing shared with a system Dovecot.
EOF
		dc_config_instance
		cat <<EOF
mail_driver = maildir
mail_path = ~/Maildir

passdb passwd-file {
  driver = passwd-file
  passwd_file_path = $DC_DIR/users
}
userdb passwd-file {
  driver = passwd-file
  passwd_file_path = $DC_DIR/users
}

service lmtp {
$(dc_config_lmtp_service)
}
protocol lda {
  mail_plugins {
    sieve = yes
  }
}
protocol lmtp {
  mail_plugins {
    sieve = yes
  }
}

sieve_plugin_dir = $DC_PLUGIN_DIR
sieve_plugins {
  sieve_encrypt = yes
}
sieve_global_extensions {
  vnd.x.encrypt = yes
}
sieve_script before {
  type = before
  path = $DC_DIR/sieve/global.sieve
}
sieve_script personal {
  driver = file
  path = ~/sieve
  active_path = ~/.dovecot.sieve
}
sieve_encrypt_gnupg_home = ~/.gnupg
sieve_encrypt_gpg_exec = $DC_GPG_EXEC
!include_try $DC_DIR/plugin-extra-2.4.conf
!include_try $DC_DIR/extra.conf
EOF
	} >"$DC_CONF"
}

# dc_translate_24: copy "key = value" lines of a 2.3 plugin { } section
# from stdin to stdout as top-level Dovecot 2.4 settings, so that a test can
# set one value that means the same on both versions:
#   %u %n %d %h (in any value)      -> %{user} %{user | username}
#                                      %{user | domain} %{home} (%% stays)
#   sieve_extensions = +a -b        -> sieve_extensions { a = yes  b = no }
#   sieve_global_extensions = (empty, or items without +/-) -> the list is
#                                      replaced (cleared when empty)
#   sieve_before = PATH             -> sieve_script before_N { type = before
#                                      path = PATH }
# Everything else is copied unchanged.
dc_translate_24()
{
	local line key value item items n=0
	while IFS= read -r line || [ -n "$line" ]; do
		case $line in
		*=*) ;;
		*) printf '%s\n' "$line"; continue ;;
		esac
		key=${line%%=*}
		value=${line#*=}
		key=${key//[[:space:]]/}
		value=${value#"${value%%[![:space:]]*}"}
		value=${value%"${value##*[![:space:]]}"}
		value=${value//%%/$'\001'}
		value=${value//%u/%\{user\}}
		value=${value//%n/%\{user | username\}}
		value=${value//%d/%\{user | domain\}}
		value=${value//%h/%\{home\}}
		value=${value//$'\001'/%%}
		case $key in
		sieve_extensions|sieve_global_extensions|sieve_plugins)
			case " $value" in
			*" +"*|*" -"*)
				items=
				for item in $value; do
					case $item in
					-*) items="$items  ${item#-} = no\n" ;;
					*) items="$items  ${item#+} = yes\n" ;;
					esac
				done
				printf '%s {\n%b}\n' "$key" "$items"
				;;
			*)
				printf '%s = %s\n' "$key" "$value"
				;;
			esac
			;;
		sieve_before)
			n=$((n + 1))
			printf 'sieve_script before_%s {\n  type = before\n' "$n"
			printf '  path = %s\n}\n' "$value"
			;;
		*)
			printf '%s = %s\n' "$key" "$value"
			;;
		esac
	done
}

# dc_configure KEY=VALUE...: replace all extra plugin settings (2.3
# syntax, translated on 2.4) with these, and rewrite the config
dc_configure()
{
	local kv
	: >"$DC_DIR/plugin-extra.conf"
	for kv in "$@"; do
		printf '%s = %s\n' "${kv%%=*}" "${kv#*=}" \
			>>"$DC_DIR/plugin-extra.conf"
	done
	dc_write_config
}

# dc_plugin_setting KEY VALUE: add a plugin setting (2.3: in plugin { },
# 2.4: at top level; give it in 2.3 syntax, see dc_translate_24) and
# rewrite the config (takes effect for later deliveries; restart LMTP
# yourself)
dc_plugin_setting()
{
	printf '%s = %s\n' "$1" "$2" >>"$DC_DIR/plugin-extra.conf"
	dc_write_config
}

# dc_add_user NAME [KEY=VALUE...]: add NAME@example.org with home
# $DC_DIR/home/NAME, owned by the mail account (with --per-user-uids: by
# NAME's own uid). KEY=VALUE are plugin settings for this user only (2.3
# names, the same on 2.4; values without white space): userdb extra
# fields for LMTP, -o options for dc_lda.
dc_add_user()
{
	local name=$1 home=$DC_DIR/home/$1 ids=$DC_UID:$DC_GID id kv fields=
	shift
	if [ "$DC_PER_USER" = yes ]; then
		id=$((DC_UID_BASE + $(grep -c . "$DC_DIR/users")))
		ids=$id:$id
	fi
	for kv in "$@"; do
		# the auth process expands %: %% for a literal one
		fields="$fields userdb_${kv//%/%%}"
	done
	mkdir -p "$home"
	chown "$ids" "$home"
	printf '%s@%s::%s:%s::%s::%s\n' "$name" "$DC_DOMAIN" "${ids%:*}" \
		"${ids#*:}" "$home" "${fields# }" >>"$DC_DIR/users"
}

# dc_user_lda_options NAME: set the array DC_USER_LDA_OPTS to the -o
# options that give dovecot-lda NAME's settings of dc_add_user (read back
# from the userdb file)
dc_user_lda_options()
{
	local kv fields
	DC_USER_LDA_OPTS=()
	fields=$(awk -F: -v u="$1@$DC_DOMAIN" '$1 == u { print $8 }' \
		"$DC_DIR/users" 2>/dev/null)
	for kv in $fields; do
		kv=${kv#userdb_}
		kv=${kv//%%/%}
		if [ "$DC_V24" = yes ]; then
			DC_USER_LDA_OPTS+=(-o "$kv")
		else
			DC_USER_LDA_OPTS+=(-o "plugin/$kv")
		fi
	done
}

# dc_add_user_with_key NAME MAKER [KEY=VALUE...]: add user NAME (with
# these settings, see dc_add_user) whose ~/.gnupg holds only the public
# part of a key made by MAKER (make_key, make_expired_key, ... from
# keys.sh, which must be sourced); the secret key stays in
# $(dc_secret_home NAME), for decrypting. Prints the fingerprint.
dc_add_user_with_key()
{
	local name=$1 maker=$2 fpr home secret
	shift 2
	home=$DC_DIR/home/$name
	secret=$(dc_secret_home "$name")
	dc_add_user "$name" "$@"
	mkdir -p "$DC_DIR/secret"
	fpr=$("$maker" "$secret" "${name^}" "$name@$DC_DOMAIN") &&
		keys_export_public "$secret" "$home/.gnupg" "$fpr" &&
		keys_give "$home/.gnupg" "$(dc_user_ids "$name")" || return 1
	printf '%s\n' "$fpr"
}

# dc_secret_home NAME: the GnuPG home with NAME's secret key
dc_secret_home()
{
	printf '%s\n' "$DC_DIR/secret/$1"
}

# dc_home NAME: print the home directory of test user NAME
dc_home()
{
	printf '%s\n' "$DC_DIR/home/$1"
}

# dc_sievec_run ARGS...: run sievec (with the sanitizer runtime, if set)
dc_sievec_run()
{
	dc_preload_env
	env "${DC_PRELOAD_ENV[@]}" "$DC_SIEVEC" "$@"
}

# dc_sievec FILE: compile a Sieve script with the test config
dc_sievec()
{
	local out
	out=$(dc_sievec_run -c "$DC_CONF" "$1" 2>&1) ||
		dc_die "sievec $1 failed: $out" || return 1
}

# dc_global_script TEXT: install TEXT as the sieve_before script and
# precompile it (the mail account cannot write the .svbin next to it)
dc_global_script()
{
	local f=$DC_DIR/sieve/global.sieve
	printf '%s\n' "$1" >"$f"
	dc_sievec "$f"
}

# dc_user_script NAME TEXT: install TEXT as ~/.dovecot.sieve of NAME
dc_user_script()
{
	local home=$DC_DIR/home/$1
	printf '%s\n' "$2" >"$home/.dovecot.sieve"
	chown "$(dc_user_ids "$1")" "$home/.dovecot.sieve"
}

# dc_lda NAME MSG [LDA ARGS...]: deliver MSG to NAME@example.org with
# dovecot-lda -e, as the mail account (with --per-user-uids: as NAME's own
# uid), with NAME's settings of dc_add_user. Returns dovecot-lda's exit
# code (0 stored, 75 temporary failure, other: permanent failure). To log
# one delivery into a file of its own, add:
# -o log_path=$DC_DIR/logs/NAME.log ($DC_DIR/logs is writable by the
# mail account, and by every user with --per-user-uids).
dc_lda()
{
	local name=$1 msg=$2 home=$DC_DIR/home/$1
	shift 2
	dc_user_lda_options "$name"
	dc_as_user "$name" USER="$name@$DC_DOMAIN" HOME="$home" \
		"$DC_LDA" -c "$DC_CONF" -e -f "sender@example.net" \
		-a "$name@$DC_DOMAIN" "${DC_USER_LDA_OPTS[@]}" "$@" <"$msg"
}

# dc_lda_to NAME MSG STORE [LDA ARGS...]: like dc_lda, but into the Maildir
# $DC_DIR/store/STORE instead of ~/Maildir (one fresh Maildir per message
# makes the stored file easy to find, see dc_stored_files)
dc_lda_to()
{
	local name=$1 msg=$2 store=$3
	shift 3
	if [ "$DC_V24" = yes ]; then
		dc_lda "$name" "$msg" -o "mail_path=$DC_DIR/store/$store" "$@"
	else
		dc_lda "$name" "$msg" \
			-o "mail_location=maildir:$DC_DIR/store/$store" "$@"
	fi
}

# dc_maildir NAME: print the Maildir of NAME
dc_maildir()
{
	printf '%s\n' "$DC_DIR/home/$1/Maildir"
}

# dc_stored_files MAILDIR [FOLDER]: print the message files of FOLDER
# (default INBOX) in MAILDIR, oldest first
dc_stored_files()
{
	local dir=$1 folder=${2:-INBOX}
	[ "$folder" = INBOX ] || dir=$dir/.$folder
	[ -d "$dir" ] || return 0
	# Maildir file names start with the delivery time; ls -tr sorts by
	# mtime with sub-second resolution where the file system has it
	(cd "$dir" && ls -1tr -d new/* cur/* 2>/dev/null) |
		sed "s|^|$dir/|"
}

# dc_all_files MAILDIR: print all message files in all folders, sorted
dc_all_files()
{
	[ -d "$1" ] || return 0
	find "$1" -type f \( -path '*/new/*' -o -path '*/cur/*' \) | sort
}

# dc_new_files BEFORE MAILDIR: print the message files in MAILDIR that are
# not listed in the file BEFORE (made with dc_all_files)
dc_new_files()
{
	dc_all_files "$2" | comm -13 "$1" -
}

# dc_count_files MAILDIR [FOLDER]: number of messages in FOLDER
dc_count_files()
{
	dc_stored_files "$@" | wc -l
}

# dc_log_grep PATTERN: grep the instance log (extended regexp)
dc_log_grep()
{
	grep -E -- "$1" "$DC_LOG"
}

# dc_plugin_sizes LOG [SESSION]: "PLAIN,TOTAL" from the plugin's line
# "encrypted message to key ... (PLAIN -> TOTAL bytes, ...)" in LOG, of the
# given Dovecot session id if any (the id LMTP puts in its reply); nothing
# if there is no such line
dc_plugin_sizes()
{
	local log=$1 session=${2:-}
	if [ -n "$session" ]; then
		grep -F "<$session>: " "$log" || :
	else
		cat "$log"
	fi | sed -n 's/.*encrypt action: encrypted message to key .* '\
'(\([0-9]*\) -> \([0-9]*\) bytes.*/\1,\2/p' | head -n 1
}

# dc_expect_of MSG: the X-E2E-Expect header of a test message (encrypted
# or unchanged), empty if none
dc_expect_of()
{
	sed -n 's/^X-E2E-Expect: *\([a-z]*\).*/\1/p' "$1" | head -n 1
}

# dc_free_port: print a TCP port on 127.0.0.1 that is free right now
dc_free_port()
{
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# dc_lmtp_start: start the private Dovecot master with an LMTP listener on
# 127.0.0.1 and a free port (DC_LMTP_PORT); waits until it accepts
# connections. Only as root.
dc_lmtp_start()
{
	local _ addr=address
	[ "$(id -u)" -eq 0 ] || dc_die "the LMTP service needs root" ||
		return 1
	DC_LMTP_PORT=$(dc_free_port) || return 1
	# 2.4 has no "address": the listener takes the filter's "listen"
	[ "$DC_V24" != yes ] || addr=listen
	cat >"$DC_DIR/lmtp-listener.conf" <<EOF
inet_listener lmtp {
  $addr = 127.0.0.1
  port = $DC_LMTP_PORT
}
EOF
	# Not $(...): the daemon keeps the captured stdout open
	if ! "$DC_DOVECOT" -c "$DC_CONF" >"$DC_DIR/dovecot-start.out" 2>&1
	then
		dc_die "starting dovecot failed:" \
			"$(head -c 2000 "$DC_DIR/dovecot-start.out")"
		tail -n 5 "$DC_LOG" >&2
		return 1
	fi
	for _ in $(seq 1 100); do
		if [ -z "$DC_LMTP_PID" ] && [ -s "$DC_DIR/run/master.pid" ]
		then
			DC_LMTP_PID=$(cat "$DC_DIR/run/master.pid")
		fi
		if (exec 3<>"/dev/tcp/127.0.0.1/$DC_LMTP_PORT") 2>/dev/null
		then
			return 0
		fi
		sleep 0.1
	done
	dc_die "LMTP on 127.0.0.1:$DC_LMTP_PORT did not come up"
	tail -n 5 "$DC_LOG" >&2
	dc_lmtp_stop
	return 1
}

# dc_lmtp_stop: stop the instance started by dc_lmtp_start (if any) and
# wait for its master process to exit; safe to call more than once
dc_lmtp_stop()
{
	local _ pid=$DC_LMTP_PID
	[ -n "$pid" ] || [ ! -s "$DC_DIR/run/master.pid" ] ||
		pid=$(cat "$DC_DIR/run/master.pid")
	[ -n "$pid" ] || return 0
	"$DC_DOVECOT" -c "$DC_CONF" stop >/dev/null 2>&1 ||
		kill -TERM "$pid" 2>/dev/null || :
	for _ in $(seq 1 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "dovecot.sh: master $pid did not stop, killing it" >&2
		kill -KILL "$pid" 2>/dev/null || :
	fi
	DC_LMTP_PID=
}

# dc_lmtp_send SPEC: deliver messages over ONE LMTP connection to the
# running instance. SPEC is a file with one transaction a line:
#   MSGFILE <TAB> SENTCOPY <TAB> RCPT [RCPT...]
# (RCPT are full addresses). SENTCOPY receives the exact bytes the server
# got as message content: LF line ends made CRLF and a final CRLF added, as
# SMTP DATA requires (dot-stuffing is undone by the server). Prints one
# line per recipient: "<code> <rcpt> <MSGFILE> <reply text>"; the reply of
# a delivery is "2.0.0 <rcpt> SESSION-ID Saved", SESSION-ID being the id in
# the log lines of that delivery. Returns 1 if any recipient was not
# accepted with 2xx. With DC_LMTP_TIMEOUT=N in the environment it gives up
# after N seconds without a reply (recipients without a reply get no line,
# as when the server drops the connection).
dc_lmtp_send()
{
	python3 - "$DC_LMTP_PORT" "$1" <<'EOF'
import os
import re
import smtplib
import sys

port, spec = int(sys.argv[1]), sys.argv[2]
failed = False
# DC_LMTP_TIMEOUT: give up on a reply after so many seconds (a hanging
# delivery); default: wait
timeout = float(os.environ.get("DC_LMTP_TIMEOUT") or 0)
lmtp = (smtplib.LMTP("127.0.0.1", port, timeout=timeout) if timeout
        else smtplib.LMTP("127.0.0.1", port))
try:
    code, _ = lmtp.ehlo("e2e.example.net")  # LHLO for LMTP
    if code != 250:
        sys.exit("LHLO failed: %d" % code)
    with open(spec, encoding="utf-8") as f:
        lines = [l.rstrip("\n") for l in f if l.strip()]
    for line in lines:
        msgfile, sentcopy, rcpts = line.split("\t")
        rcpts = rcpts.split()
        with open(msgfile, "rb") as m:
            data = m.read()
        # SMTP wants CRLF lines, as an MTA would send them: bare LF
        # becomes CRLF, and the data ends with CRLF (smtplib adds it
        # otherwise). smtplib only dot-stuffs bytes; the server undoes that.
        sent = re.sub(rb"\r?\n", b"\r\n", data)
        if not sent.endswith(b"\r\n"):
            sent += b"\r\n"
        with open(sentcopy, "wb") as s:
            s.write(sent)
        code, resp = lmtp.mail("sender@example.net")
        if code != 250:
            sys.exit("MAIL FROM failed: %d %r" % (code, resp))
        accepted = []
        for r in rcpts:
            code, resp = lmtp.rcpt(r)
            if code == 250:
                accepted.append(r)
            else:
                failed = True
                print("%d %s %s %s" % (code, r, msgfile,
                                       resp.decode(errors="replace")))
        if not accepted:
            lmtp.rset()
            continue
        # LMTP answers DATA once per accepted recipient (RFC 2033);
        # smtplib reads the first reply, we read the others.
        code, resp = lmtp.data(sent)
        replies = [(code, resp)]
        for _ in accepted[1:]:
            replies.append(lmtp.getreply())
        for r, (code, resp) in zip(accepted, replies):
            if code // 100 != 2:
                failed = True
            print("%d %s %s %s" % (code, r, msgfile,
                                   resp.decode(errors="replace")))
    lmtp.quit()
finally:
    lmtp.close()
sys.exit(1 if failed else 0)
EOF
}

# dc_leftover_processes: print processes (pid and command) that still run
# with this instance's scratch directory on their command line, e.g. a
# gpg-agent of a GnuPG home in it or a dovecot child; empty when clean
dc_leftover_processes()
{
	local list
	[ -n "$DC_DIR" ] || return 0
	# ps first, then filter: awk must not find itself
	list=$(ps -eo pid=,stat=,args=)
	printf '%s\n' "$list" | awk -v d="$DC_DIR" \
		'index($0, d) && $2 !~ /^Z/ { print }'
}

# dc_kill_agents: stop the gpg-agent of every GnuPG home in the scratch
# directory
dc_kill_agents()
{
	local g
	[ -n "$DC_DIR" ] && [ -d "$DC_DIR" ] || return 0
	while IFS= read -r g; do
		gpgconf --homedir "$(dirname "$g")" --kill all \
			>/dev/null 2>&1 || :
	done < <(find "$DC_DIR" -name pubring.kbx 2>/dev/null)
}

# dc_cleanup: stop LMTP, kill the gpg-agents of all GnuPG homes in the
# scratch directory, remove it (unless $SIEVE_ENCRYPT_KEEP is set)
dc_cleanup()
{
	[ -n "$DC_DIR" ] && [ -d "$DC_DIR" ] || return 0
	dc_lmtp_stop
	dc_kill_agents
	if [ -n "${SIEVE_ENCRYPT_KEEP:-}" ]; then
		echo "kept scratch directory $DC_DIR" >&2
	else
		rm -rf "$DC_DIR"
	fi
	DC_DIR=
}

# Test report helpers: one line per check, counters for the summary
DC_PASSED=0
DC_FAILED=0
DC_SKIPPED=0

dc_pass()
{
	echo "PASS: $1"
	DC_PASSED=$((DC_PASSED + 1))
}

dc_fail()
{
	echo "FAIL: $1: $2"
	DC_FAILED=$((DC_FAILED + 1))
}

dc_skip()
{
	echo "SKIP: $1: $2"
	DC_SKIPPED=$((DC_SKIPPED + 1))
}

# dc_summary: print "N passed, N failed[, N skipped]"; returns 1 if any
# check failed
dc_summary()
{
	if [ "$DC_SKIPPED" -gt 0 ]; then
		echo "$DC_PASSED passed, $DC_FAILED failed, $DC_SKIPPED skipped"
	else
		echo "$DC_PASSED passed, $DC_FAILED failed"
	fi
	[ "$DC_FAILED" -eq 0 ]
}
