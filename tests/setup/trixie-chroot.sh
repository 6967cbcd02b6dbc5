#!/bin/bash
# trixie-chroot.sh - a Debian 13 (trixie) chroot with Dovecot 2.4 and
# Pigeonhole 2.4 for building and testing sieve-encrypt.
#
# Usage:
#   trixie-chroot.sh [setup] [DIR]
#       Create or update the chroot (idempotent; a second run only checks
#       its stamp files). Needs root and the Debian archive.
#   trixie-chroot.sh [-r DIR] sync [--clean] [SRC]
#       Copy the project tree SRC (default: the checkout this script is in;
#       tracked and untracked-but-not-ignored files, so uncommitted edits
#       are included) to /src/sieve-encrypt in the chroot, owned by the test
#       user. --clean removes the old copy (and its build results) first.
#   trixie-chroot.sh [-r DIR] run [--user] [--sync] [--cd DIR] [--] [CMD...]
#       Run CMD (default: an interactive shell) in the chroot, as root or,
#       with --user, as the test user, in a clean environment. The working
#       directory is /src/sieve-encrypt when it exists (else / or the test
#       user's home), or --cd DIR. --sync runs `sync` first. The exit status
#       is CMD's. After a run as root, files root created in
#       /src/sieve-encrypt are given back to the test user.
#   trixie-chroot.sh [-r DIR] verify [--no-check]
#       Copy this checkout in (sync --clean) and check the Dovecot 2.4 build:
#       autoreconf/configure --enable-werror/make as the test user (no
#       compiler warnings), make install as root, doveconf shows
#       sieve_encrypt_gnupg_home and rejects a mistyped key, a settings
#       svtest passes in Pigeonhole's testsuite, dovecot-lda delivers an
#       encrypted message with a 2.4 configuration, and (unless --no-check)
#       `make check` with the chroot's testsuite. Writes
#       /etc/dovecot/conf.d/99-sieve-encrypt.conf in the chroot.
#   trixie-chroot.sh [-r DIR] import SRC DEST
#       Copy the host directory SRC to DEST inside the chroot (an absolute
#       path; replaces what is there), owned by root and read-only for
#       everyone, e.g. the mail corpus for
#       tests/integration/test_roundtrip.py.
#   trixie-chroot.sh [-r DIR] info
#       Print the chroot's path, user and Dovecot/Pigeonhole versions.
#   trixie-chroot.sh [-r DIR] umount
#       Unmount what an interrupted run may have left mounted.
#
# DIR defaults to ${SIEVE_ENCRYPT_CHROOT:-/var/tmp/sieve-encrypt-trixie}.
# Mirrors come from the host's /etc/apt/sources.list.d/debian.sources.
#
# Inside the chroot:
#   - packages: see $CHROOT_PACKAGES below; no service is started
#     (/usr/sbin/policy-rc.d);
#   - /etc/resolv.conf and /etc/hosts from the host (copied on every setup;
#     the host name must resolve without DNS);
#   - the test user "$TEST_USER" (home /home/$TEST_USER);
#   - Pigeonhole's `testsuite` program, built from Debian 13's own dovecot
#     source package by tests/setup/build-testsuite.sh (the builder of the
#     host's too): /usr/local/bin/testsuite (-> /usr/local/lib/
#     pigeonhole-testsuite/testsuite).
#     On Dovecot 2.4 it must run as a non-root user (run --user).
#
# Mounts: /proc (and /dev when the chroot has no device nodes) are mounted
# while the script runs a command in the chroot and unmounted on exit, also
# on errors and signals. Commands on the same chroot are serialized by a
# lock (DIR.lock), but a sequence of them (sync, build, test) is not: give
# parallel users their own chroot with SIEVE_ENCRYPT_CHROOT or -r.
#
# Example:
#   tests/setup/trixie-chroot.sh
#   tests/setup/trixie-chroot.sh run --sync -- sh -c \
#       'autoreconf -fi && ./configure --enable-werror && make && make install'
#   tests/setup/trixie-chroot.sh run --user -- testsuite -P \
#       /src/sieve-encrypt/src/.libs/sieve_encrypt tests/x.svtest
set -eu
set -o pipefail

SUITE=trixie
TEST_USER=setest
CHROOT_PACKAGES="dovecot-core dovecot-dev dovecot-sieve dovecot-lmtpd dovecot-managesieved
	libgpgme-dev gnupg gpg-agent build-essential autoconf automake libtool
	pkg-config python3 python3-pytest python3-pytest-xdist passwd strace sq rnp notmuch"
# Where the project tree is copied to inside the chroot
CHROOT_SRC=/src/sieve-encrypt
# Stamp files live inside the chroot
STAMP_DIR=/var/lib/sieve-encrypt-chroot
TESTSUITE_DIR=/usr/local/lib/pigeonhole-testsuite

prog=${0##*/}
die() { echo "$prog: error: $*" >&2; exit 1; }
log() { echo "$prog: $*" >&2; }

script_dir=$(cd "$(dirname "$0")" && pwd)

#
# Host side
#

[ "$(id -u)" -eq 0 ] || die "must run as root"

root=${SIEVE_ENCRYPT_CHROOT:-/var/tmp/sieve-encrypt-trixie}
if [ "${1:-}" = "-r" ] || [ "${1:-}" = "--root" ]; then
	[ $# -ge 2 ] || die "$1 needs a directory"
	root=$2
	shift 2
fi
cmd=setup
case "${1:-}" in
setup|sync|import|run|verify|info|umount|shell)
	cmd=$1
	shift
	;;
-h|--help)
	sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'
	exit 0
	;;
esac
if [ "$cmd" = setup ] && [ $# -gt 0 ]; then
	root=$1
	shift
fi
[ $# -eq 0 ] || [ "$cmd" != setup ] || die "too many arguments"
case "$root" in
/*) ;;
*) root=$PWD/$root ;;
esac
root=${root%/}
{ [ -n "$root" ] && [ "$root" != / ]; } || die "refusing to use / as the chroot"
C=$root

# Mount bookkeeping: everything mounted here is unmounted by cleanup(),
# which runs on every exit (errors and signals included).
mounted=()
lock_fd=

cleanup()
{
	local i m pids

	for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
		m=${mounted[i]}
		if ! umount "$m" 2>/dev/null; then
			pids=$(chroot_pids)
			log "warning: $m busy (processes in the chroot: ${pids:-none}); lazy unmount"
			umount -l "$m" || log "warning: cannot unmount $m"
		fi
	done
	mounted=()
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# Processes whose root directory is the chroot (for messages only)
chroot_pids()
{
	local p r out=

	for p in /proc/[0-9]*; do
		r=$(readlink "$p/root" 2>/dev/null) || continue
		[ "$r" = "$C" ] && out="$out ${p#/proc/}"
	done
	echo "${out# }"
}

take_lock()
{
	[ -z "$lock_fd" ] || return 0
	mkdir -p "$(dirname "$C")"
	exec {lock_fd}>"$C.lock"
	if ! flock -n "$lock_fd"; then
		log "waiting for another run on $C"
		flock "$lock_fd"
	fi
}

mount_chroot()
{
	if ! mountpoint -q "$C/proc"; then
		mount -t proc proc "$C/proc"
		mounted+=("$C/proc")
	fi
	# debootstrap normally creates the device nodes; bind /dev only
	# when it could not (e.g. inside a container).
	if [ ! -c "$C/dev/null" ] && ! mountpoint -q "$C/dev"; then
		mount --bind /dev "$C/dev"
		mount --make-private "$C/dev"
		mounted+=("$C/dev")
	fi
}

in_chroot()
{
	chroot "$C" /usr/bin/env -i HOME=/root USER=root LOGNAME=root \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"
}

# URIs of the first deb822 stanza of the host's debian.sources whose Suites
# match (security=1) or do not match (security=0) "-security".
host_mirror()
{
	local security=$1 f=/etc/apt/sources.list.d/debian.sources

	[ -r "$f" ] || return 0
	awk -v sec="$security" '
		function flush() {
			if (uris != "" && ((suites ~ /-security/) == sec) && out == "")
				out = uris
			uris = ""; suites = ""
		}
		/^[ \t]*$/ { flush(); next }
		/^URIs:/ { uris = $2 }
		/^Suites:/ { $1 = ""; suites = $0 }
		END { flush(); print out }
	' "$f"
}

stamp_ok()
{
	[ "$(cat "$C$STAMP_DIR/$1" 2>/dev/null)" = "$2" ]
}

stamp_set()
{
	mkdir -p "$C$STAMP_DIR"
	echo "$2" >"$C$STAMP_DIR/$1"
}

setup_debootstrap()
{
	local mirror=$1

	if [ -f "$C$STAMP_DIR/debootstrap" ]; then
		return 0
	fi
	if ! command -v debootstrap >/dev/null; then
		log "installing debootstrap on the host"
		DEBIAN_FRONTEND=noninteractive apt-get -q install -y \
			--no-install-recommends debootstrap >/dev/null ||
		{ apt-get -q update >/dev/null &&
		  DEBIAN_FRONTEND=noninteractive apt-get -q install -y \
			--no-install-recommends debootstrap >/dev/null; } ||
			die "cannot install debootstrap"
	fi
	[ -r "/usr/share/debootstrap/scripts/$SUITE" ] ||
		die "this debootstrap does not know $SUITE"
	if [ -d "$C" ] && [ -n "$(ls -A "$C" 2>/dev/null)" ]; then
		# Only an interrupted debootstrap of ours is removed
		[ -d "$C/debootstrap" ] ||
			die "$C exists, is not empty and was not made by $prog"
		if findmnt -rn -o TARGET | grep -q "^$C/"; then
			die "something is mounted below $C; run: $prog -r $C umount"
		fi
		log "removing the interrupted debootstrap in $C"
		rm -rf --one-file-system "$C"
	fi
	mkdir -p "$C"
	log "debootstrap $SUITE into $C from $mirror (takes a minute)"
	debootstrap --variant=minbase "$SUITE" "$C" "$mirror" \
		>"$C.debootstrap.log" 2>&1 || {
		tail -20 "$C.debootstrap.log" >&2
		die "debootstrap failed, see $C.debootstrap.log"
	}
	rm -f "$C.debootstrap.log"
	stamp_set debootstrap "$SUITE $mirror"
}

# apt sources, apt options from the host, policy-rc.d, resolv.conf.
# Cheap, so redone on every setup; prints a hash of the apt configuration.
setup_config()
{
	local mirror=$1 security=$2 signed='' conf hn

	if [ -r "$C/usr/share/keyrings/debian-archive-keyring.gpg" ]; then
		signed="Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg"
	fi
	rm -f "$C/etc/apt/sources.list"
	{
		printf 'Types: deb deb-src\nURIs: %s\nSuites: %s %s-updates\nComponents: main\n' \
			"$mirror" "$SUITE" "$SUITE"
		[ -z "$signed" ] || echo "$signed"
		if [ -n "$security" ]; then
			printf '\nTypes: deb deb-src\nURIs: %s\nSuites: %s-security\nComponents: main\n' \
				"$security" "$SUITE"
			[ -z "$signed" ] || echo "$signed"
		fi
	} >"$C/etc/apt/sources.list.d/debian.sources"

	# Network-related apt options of the host (proxy, date checks)
	conf=$C/etc/apt/apt.conf.d/90sieve-encrypt-host
	apt-config dump 2>/dev/null |
		grep -E '^Acquire::(http|https|ftp)::Proxy |^Acquire::(Check-Valid-Until|Check-Date|Retries) ' \
		>"$conf" || true
	[ -s "$conf" ] || rm -f "$conf"
	printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' \
		>"$C/etc/apt/apt.conf.d/90sieve-encrypt-norecommends"

	# No service may start inside the chroot
	printf '#!/bin/sh\n# installed by %s: never start services\nexit 101\n' \
		"$prog" >"$C/usr/sbin/policy-rc.d"
	chmod 755 "$C/usr/sbin/policy-rc.d"

	if [ -r /etc/resolv.conf ]; then
		rm -f "$C/etc/resolv.conf"
		cp -L /etc/resolv.conf "$C/etc/resolv.conf"
	fi
	# The host's name must resolve without DNS, as on the host: Dovecot
	# 2.4's config parser looks it up, and tests/integration/test_noleak.py
	# checks that a delivery opens no network connection
	if [ -r /etc/hosts ]; then
		rm -f "$C/etc/hosts"
		cp -L /etc/hosts "$C/etc/hosts"
	fi
	hn=$(hostname 2>/dev/null || :)
	if [ -n "$hn" ] &&
	   ! awk -v h="$hn" '$1 !~ /^#/ { for (i = 2; i <= NF; i++)
		if ($i == h) f = 1 } END { exit !f }' "$C/etc/hosts"; then
		printf '127.0.1.1\t%s\n' "$hn" >>"$C/etc/hosts"
	fi
	cat "$C/etc/apt/sources.list.d/debian.sources" \
	    "$C"/etc/apt/apt.conf.d/90sieve-encrypt-* | md5sum | cut -d' ' -f1
}

setup_packages()
{
	local key=$1

	if stamp_ok packages "$key" && [ -x "$C/usr/lib/dovecot/dovecot-lda" ]; then
		return 0
	fi
	log "apt-get update + install in the chroot"
	in_chroot apt-get -q update >"$C$STAMP_DIR/apt.log" 2>&1 || {
		tail -20 "$C$STAMP_DIR/apt.log" >&2
		die "apt-get update failed in the chroot"
	}
	# shellcheck disable=SC2086
	in_chroot apt-get -q install -y --no-install-recommends $CHROOT_PACKAGES \
		>>"$C$STAMP_DIR/apt.log" 2>&1 || {
		tail -20 "$C$STAMP_DIR/apt.log" >&2
		die "apt-get install failed in the chroot"
	}
	in_chroot apt-get -q clean
	stamp_set packages "$key"
}

setup_user()
{
	if ! in_chroot id -u "$TEST_USER" >/dev/null 2>&1; then
		log "adding the test user $TEST_USER"
		in_chroot useradd --create-home --shell /bin/bash "$TEST_USER"
	fi
}

setup_testsuite()
{
	local ver

	ver=$(in_chroot dpkg-query -W -f='${source:Version}' dovecot-sieve)
	if stamp_ok testsuite "$ver" && [ -x "$C$TESTSUITE_DIR/testsuite" ]; then
		return 0
	fi
	log "building Pigeonhole's testsuite in the chroot"
	# the same builder as on the host, fed to the chroot's bash
	in_chroot /bin/bash -s -- "$TESTSUITE_DIR" "$TEST_USER" \
		<"$script_dir/build-testsuite.sh" >&2
	ln -sfn "$TESTSUITE_DIR/testsuite" "$C/usr/local/bin/testsuite"
	stamp_set testsuite "$ver"
}

do_setup()
{
	local mirror security key start=$SECONDS

	mirror=$(host_mirror 0)
	security=$(host_mirror 1)
	[ -n "$mirror" ] ||
		die "no Debian mirror found in /etc/apt/sources.list.d/debian.sources"
	take_lock
	setup_debootstrap "$mirror"
	key=$(setup_config "$mirror" "$security")
	mount_chroot
	setup_packages "$key $CHROOT_PACKAGES"
	setup_user
	setup_testsuite
	cleanup
	log "ready: $C ($(do_info_line)) in $((SECONDS - start)) s"
}

need_chroot()
{
	[ -f "$C$STAMP_DIR/packages" ] ||
		die "no chroot at $C yet; run: $prog $C"
}

do_info_line()
{
	sed -n 's/^#define DOVECOT_VERSION "\(.*\)"$/Dovecot \1/p' \
		"$C/usr/include/dovecot/config.h" 2>/dev/null | tr '\n' ' '
	sed -n 's/^#define PIGEONHOLE_VERSION "\(.*\)"$/Pigeonhole \1/p' \
		"$C/usr/include/dovecot/sieve/pigeonhole-config.h" 2>/dev/null
}

do_sync()
{
	local clean=0 src uid gid

	while [ $# -gt 0 ]; do
		case "$1" in
		--clean) clean=1; shift ;;
		--) shift; break ;;
		-*) die "sync: unknown option $1" ;;
		*) break ;;
		esac
	done
	src=${1:-$script_dir/../..}
	src=$(cd "$src" && pwd)
	need_chroot
	uid=$(awk -F: -v u="$TEST_USER" '$1 == u { print $3 }' "$C/etc/passwd")
	gid=$(awk -F: -v u="$TEST_USER" '$1 == u { print $4 }' "$C/etc/passwd")
	[ -n "$uid" ] || die "no user $TEST_USER in the chroot"
	if [ $clean -eq 1 ]; then
		rm -rf --one-file-system "$C$CHROOT_SRC"
	fi
	mkdir -p "$C$CHROOT_SRC"
	if git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		# Sources only: tracked and untracked-but-not-ignored files
		(cd "$src" && git ls-files -z --cached --others --exclude-standard |
			while IFS= read -r -d '' f; do
				[ -e "$f" ] && printf '%s\0' "$f"
			done | tar --null -T - -cf -) |
			tar -xf - -C "$C$CHROOT_SRC"
	else
		(cd "$src" && tar --exclude=.git -cf - .) | tar -xf - -C "$C$CHROOT_SRC"
	fi
	chown -R "$uid:$gid" "$C$CHROOT_SRC"
	chmod 755 "$C$CHROOT_SRC"
	log "copied $src to $C$CHROOT_SRC"
}

do_import()
{
	local src=${1:-} dest=${2:-}

	[ $# -eq 2 ] || die "usage: $prog import SRC DEST"
	[ -d "$src" ] || die "import: $src is not a directory"
	case "$dest" in
	/?*) ;;
	*) die "import: DEST must be an absolute path other than /" ;;
	esac
	case "/$dest/" in
	*/../*|*/./*) die "import: DEST must not contain . or .. components" ;;
	esac
	need_chroot
	dest=$C${dest%/}
	rm -rf --one-file-system "$dest"
	mkdir -p "$dest"
	(cd "$src" && tar -cf - .) |
		tar -xf - --no-same-owner --no-same-permissions -C "$dest"
	chown -R 0:0 "$dest"
	chmod -R a+rX,a-w "$dest"
	log "copied $src to $dest (read-only)"
}

do_run()
{
	local as_user=0 sync=0 cwd='' home=/root user=root spec=() uid gid rc

	while [ $# -gt 0 ]; do
		case "$1" in
		--user) as_user=1; shift ;;
		--sync) sync=1; shift ;;
		--cd) [ $# -ge 2 ] || die "--cd needs a directory"
		      cwd=$2; shift 2 ;;
		--) shift; break ;;
		-*) die "run: unknown option $1" ;;
		*) break ;;
		esac
	done
	need_chroot
	take_lock
	[ $sync -eq 0 ] || do_sync
	if [ $as_user -eq 1 ]; then
		user=$TEST_USER
		home=/home/$TEST_USER
		uid=$(awk -F: -v u="$user" '$1 == u { print $3 }' "$C/etc/passwd")
		gid=$(awk -F: -v u="$user" '$1 == u { print $4 }' "$C/etc/passwd")
		[ -n "$uid" ] || die "no user $user in the chroot"
		spec=(--userspec="$uid:$gid" --groups="$gid")
	fi
	if [ -z "$cwd" ]; then
		if [ -d "$C$CHROOT_SRC" ]; then
			cwd=$CHROOT_SRC
		else
			cwd=$home
		fi
	fi
	[ $# -gt 0 ] || set -- /bin/bash -i
	mount_chroot
	rc=0
	chroot "${spec[@]}" "$C" /usr/bin/env -i \
		HOME="$home" USER="$user" LOGNAME="$user" \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		LANG=C.UTF-8 TERM="${TERM:-dumb}" ${CI:+CI="$CI"} \
		${MAKEFLAGS:+MAKEFLAGS="$MAKEFLAGS"} \
		/bin/sh -c 'cd "$1" || exit 1; shift; exec "$@"' sh "$cwd" "$@" ||
		rc=$?
	if [ $as_user -eq 0 ]; then
		chown_src
	fi
	cleanup
	return $rc
}

# Files that root made in the project copy (e.g. `make install` relinking)
# would stop the test user's next build: give them back.
chown_src()
{
	local uid gid

	[ -d "$C$CHROOT_SRC" ] || return 0
	uid=$(awk -F: -v u="$TEST_USER" '$1 == u { print $3 }' "$C/etc/passwd")
	gid=$(awk -F: -v u="$TEST_USER" '$1 == u { print $4 }' "$C/etc/passwd")
	[ -n "$uid" ] || return 0
	find "$C$CHROOT_SRC" -xdev \( ! -uid "$uid" -o ! -gid "$gid" \) \
		-exec chown -h "$uid:$gid" {} + 2>/dev/null || true
}

#
# verify: the Dovecot 2.4 checks, each step in the chroot
#

verify_build='
L=$HOME/verify-logs; rm -rf "$L"; mkdir -p "$L"
autoreconf -fi >"$L/autoreconf.log" 2>&1 || { tail -20 "$L/autoreconf.log"; exit 1; }
./configure --enable-werror >"$L/configure.log" 2>&1 || { tail -20 "$L/configure.log"; exit 1; }
grep -E "^(Dovecot|Pigeonhole|Plugin dir|Settings):" "$L/configure.log"
make -j2 >"$L/make.log" 2>&1 || { tail -30 "$L/make.log"; exit 1; }
if grep -i "warning:" "$L/make.log"; then exit 1; fi
echo "built without warnings"
'

verify_install='
make install >/root/verify-install.log 2>&1 || { tail -20 /root/verify-install.log; exit 1; }
ls -l /usr/lib/dovecot/modules/sieve/lib90_sieve_encrypt_plugin.so \
      /usr/lib/dovecot/modules/settings/libsieve_encrypt_settings.so
'

verify_doveconf='
conf=/etc/dovecot/conf.d/99-sieve-encrypt.conf
mkdir -p /etc/dovecot/sieve
printf "require \"vnd.x.encrypt\";\nencrypt \"alice@example.org\";\n" \
	>/etc/dovecot/sieve/encrypt.sieve
cat >"$conf" <<EOC
# written by trixie-chroot.sh verify (Dovecot 2.4 syntax)
mail_driver = maildir
mail_path = %{home}/Maildir
mail_inbox_path = %{home}/Maildir
protocol lda {
  mail_plugins {
    sieve = yes
  }
}
sieve_plugin_dir = /usr/lib/dovecot/modules/sieve
sieve_plugins {
  sieve_encrypt = yes
}
sieve_global_extensions {
  vnd.x.encrypt = yes
}
sieve_script before {
  type = before
  path = /etc/dovecot/sieve/encrypt.sieve
}
sieve_encrypt_gnupg_home = %{home}/.gnupg
EOC
doveconf -n | grep -x "sieve_encrypt_gnupg_home = %{home}/.gnupg" || exit 1
echo "sieve_encrypt_gnupg_hme = /tmp" >/etc/dovecot/conf.d/99-sieve-encrypt-typo.conf
if doveconf -n >/dev/null 2>/tmp/typo.err; then
	rm -f /etc/dovecot/conf.d/99-sieve-encrypt-typo.conf
	echo "mistyped setting accepted"; exit 1
fi
rm -f /etc/dovecot/conf.d/99-sieve-encrypt-typo.conf
cat /tmp/typo.err
grep -q "sieve_encrypt_gnupg_hme: Unknown setting" /tmp/typo.err || exit 1
# Global scripts are compiled by root: dovecot-lda cannot write the .svbin
sievec /etc/dovecot/sieve/encrypt.sieve
'

# As the test user: a GnuPG home with one key, outside any test (the
# svtest and dovecot-lda only read it).
verify_keys='
make_keys() {
	rm -rf "$1"; mkdir -m 700 "$1"
	GNUPGHOME=$1 gpg --batch -q --passphrase "" \
		--quick-generate-key "Alice <alice@example.org>" ed25519 cert never 2>/dev/null
	fpr=$(GNUPGHOME=$1 gpg --batch --with-colons --list-keys alice@example.org 2>/dev/null |
		awk -F: "/^fpr/ { print \$10; exit }")
	GNUPGHOME=$1 gpg --batch -q --passphrase "" --quick-add-key "$fpr" cv25519 encr never 2>/dev/null
	gpgconf --homedir "$1" --kill all
}
'

verify_svtest="$verify_keys"'
d=$(mktemp -d /tmp/verify-svtest.XXXXXX); chmod 755 "$d"
trap "rm -rf \"\$d\"" EXIT
make_keys "$d/keys"
cat >"$d/settings.svtest" <<"EOS"
require "vnd.dovecot.testsuite";
require "vnd.x.encrypt";
require "variables";

test_set "message" text:
From: Bob <bob@example.org>
To: Alice <alice@example.org>
Subject: Secret

Top secret.
.
;

/* ${tst.path} has no trailing slash on 2.4 (it has one on 2.3) */
test_config_set "sieve_encrypt_gnupg_home" "${tst.path}/keys";
test_config_reload :extension "vnd.x.encrypt";

test "Encrypt with the configured keyring" {
	encrypt "alice@example.org";
	if not header :contains "content-type" "multipart/encrypted" {
		test_fail "message not encrypted";
	}
}
EOS
cd "$d"
testsuite -P '"$CHROOT_SRC"'/src/.libs/sieve_encrypt settings.svtest >out.log 2>&1
rc=$?
cat out.log
[ $rc -eq 0 ] && grep -q "^PASS" out.log
'

verify_lda="$verify_keys"'
cd
make_keys "$HOME/.gnupg"
rm -rf Maildir
printf "From: Bob <bob@example.org>\nTo: Alice <alice@example.org>\nSubject: LDA test\nMessage-ID: <verify@example.org>\n\nThe vault code is 4711.\n" |
	/usr/lib/dovecot/dovecot-lda -o log_path=/dev/stderr || exit 1
f=$(ls Maildir/new/* 2>/dev/null | head -1)
[ -n "$f" ] || { echo "no message delivered to ~/Maildir"; exit 1; }
grep -q "^Content-Type: multipart/encrypted" "$f" || { echo "not encrypted"; exit 1; }
if grep -q 4711 "$f"; then echo "plaintext stored"; exit 1; fi
plain=$(awk "/BEGIN PGP MESSAGE/,/END PGP MESSAGE/" "$f" | gpg --batch -q --decrypt 2>/dev/null)
gpgconf --kill all
echo "$plain" | grep -q "vault code is 4711" || { echo "does not decrypt"; exit 1; }
echo "stored $f: multipart/encrypted, decrypts with the user key"
'

verify_check='
L=$HOME/verify-logs
make check PIGEONHOLE_TESTSUITE_BIN=/usr/local/bin/testsuite >"$L/check.log" 2>&1
rc=$?
grep -E "^(PASS|FAIL|SKIP|ERROR|XPASS):|^# (TOTAL|PASS|FAIL)" "$L/check.log"
exit $rc
'

do_verify()
{
	local check=1 passed=0 failed=0 step rc

	case "${1:-}" in
	--no-check) check=0 ;;
	"") ;;
	*) die "verify: unknown argument $1" ;;
	esac
	need_chroot
	take_lock
	do_sync --clean
	verify_step()
	{
		step=$1
		shift
		echo "=== $step"
		rc=0
		"$@" || rc=$?
		if [ $rc -eq 0 ]; then
			echo "--- ok: $step"
			passed=$((passed + 1))
		else
			echo "--- FAILED: $step (rc $rc)"
			failed=$((failed + 1))
		fi
		return $rc
	}
	verify_step "build (Dovecot 2.4, --enable-werror)" \
		do_run --user -- bash -c "$verify_build" &&
	verify_step "make install" do_run -- bash -c "$verify_install" &&
	verify_step "doveconf" do_run --cd / -- bash -c "$verify_doveconf" &&
	{
		verify_step "testsuite settings.svtest" \
			do_run --user -- bash -c "$verify_svtest"
		verify_step "dovecot-lda delivery" \
			do_run --user -- bash -c "$verify_lda"
		if [ $check -eq 1 ]; then
			verify_step "make check" do_run --user -- bash -c "$verify_check"
		fi
	} || true
	echo "verify: $passed passed, $failed failed"
	[ $failed -eq 0 ]
}

case "$cmd" in
setup)
	do_setup
	;;
sync)
	take_lock
	do_sync "$@"
	;;
import)
	take_lock
	do_import "$@"
	;;
run)
	do_run "$@"
	;;
shell)
	do_run "$@" -- /bin/bash -i
	;;
verify)
	do_verify "$@"
	;;
info)
	need_chroot
	echo "chroot: $C"
	echo "source: $C$CHROOT_SRC"
	echo "user:   $TEST_USER"
	echo "versions: $(do_info_line)"
	echo "testsuite: $(cat "$C$TESTSUITE_DIR/stamp" 2>/dev/null || echo missing)"
	;;
umount)
	take_lock
	for m in "$C/dev" "$C/proc"; do
		if mountpoint -q "$m"; then
			umount "$m" || umount -l "$m"
			log "unmounted $m"
		fi
	done
	;;
esac
