#!/bin/bash
# Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
# trixie-chroot.sh - a Debian 13 (trixie) chroot with Dovecot 2.4 and
# Pigeonhole 2.4 for building and testing sieve-encrypt.
#
#   trixie-chroot.sh [-r DIR] [setup] [DIR]
#       Create or update the chroot DIR (default: $SIEVE_ENCRYPT_CHROOT, else
#       /var/tmp/sieve-encrypt-trixie); idempotent: stamp files record each
#       step. Needs root and the Debian mirrors of the host's deb822 sources.
#       Inside: $CHROOT_PACKAGES (below), no service starts (policy-rc.d),
#       the host's resolv.conf and hosts (its name must resolve without DNS,
#       for Dovecot 2.4's config parser and test_noleak.py), the test user
#       $TEST_USER, and Pigeonhole's testsuite program built from Debian 13's
#       source by build-testsuite.sh as /usr/local/bin/testsuite (on 2.4 it
#       must run as a non-root user). /proc (and /dev when there are no
#       device nodes) is mounted meanwhile, and unmounted on any exit.
#   trixie-chroot.sh [-r DIR] sync|run|import|info|umount|verify ...
#       Work in the chroot (tests/setup/chroot.py; usage: --help).
# Runs on the same chroot are serialized by a lock (DIR.lock).
set -eu -o pipefail

SUITE=trixie
TEST_USER=setest
CHROOT_PACKAGES="dovecot-core dovecot-dev dovecot-sieve dovecot-lmtpd dovecot-managesieved dovecot-imapd
	libgpgme-dev gnupg gpg-agent gpgsm openssl build-essential autoconf automake libtool
	pkg-config python3 python3-pytest python3-pytest-xdist passwd strace sq rnp notmuch mutt
	debhelper fakeroot lintian man-db debootstrap"
# Stamp files live inside the chroot
STAMP_DIR=/var/lib/sieve-encrypt-chroot
TESTSUITE_DIR=/usr/local/lib/pigeonhole-testsuite

prog=${0##*/}
script_dir=$(cd "$(dirname "$0")" && pwd)
die() { echo "$prog: error: $*" >&2; exit 1; }
log() { echo "$prog: $*" >&2; }

case "${1:-}" in -r|--root) cmd=${3:-} ;; *) cmd=${1:-} ;; esac
case "$cmd" in
sync|run|import|info|umount|verify|shell)
	exec /usr/bin/python3 "$script_dir/chroot.py" "$@" ;;
-h|--help)
	sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'
	exec /usr/bin/python3 "$script_dir/chroot.py" --help ;;
esac

[ "$(id -u)" -eq 0 ] || die "must run as root"
C=${SIEVE_ENCRYPT_CHROOT:-/var/tmp/sieve-encrypt-trixie}
if [ "${1:-}" = -r ] || [ "${1:-}" = --root ]; then
	[ $# -ge 2 ] || die "$1 needs a directory"
	C=$2
	shift 2
fi
[ "${1:-}" != setup ] || shift
[ $# -eq 0 ] || { C=$1; shift; }
[ $# -eq 0 ] || die "too many arguments"
case "$C" in /*) ;; *) C=$PWD/$C ;; esac
C=${C%/}
{ [ -n "$C" ] && [ "$C" != / ]; } || die "refusing to use / as the chroot"

in_chroot() {
	chroot "$C" /usr/bin/env -i HOME=/root USER=root LOGNAME=root \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"
}
stamp_ok() { [ "$(cat "$C$STAMP_DIR/$1" 2>/dev/null)" = "$2" ]; }
stamp_set() { mkdir -p "$C$STAMP_DIR" && echo "$2" >"$C$STAMP_DIR/$1"; }
# The URI of the first stanza of the host's deb822 sources whose Suites
# name (security=1) or do not name (security=0) a -security suite
host_mirror() {
	awk -v RS= -v security="$1" 'match($0, /(^|\n)URIs:[ \t]*[^ \t\n]+/) {
		uri = substr($0, RSTART, RLENGTH); sub(/.*URIs:[ \t]*/, "", uri)
		if ((match($0, /(^|\n)Suites:[^\n]*-security/) > 0) == security) { print uri; exit }
	}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || :
}
# What this script mounts is unmounted on every exit, errors and signals included
mounted=()
unmount_all() {
	local m
	for m in "${mounted[@]}"; do
		umount "$m" 2>/dev/null || umount -l "$m" || log "warning: cannot unmount $m"
	done
	mounted=()
}
trap unmount_all EXIT
trap 'exit 130' INT; trap 'exit 143' TERM; trap 'exit 129' HUP

mirror=$(host_mirror 0)
security=$(host_mirror 1)
[ -n "$mirror" ] || die "no Debian mirror found in /etc/apt/sources.list.d/debian.sources"
start=$SECONDS
mkdir -p "$(dirname "$C")"
exec 9>"$C.lock"
flock -n 9 || { log "waiting for another run on $C"; flock 9; }

# debootstrap (an interrupted one of ours is started again from scratch)
if [ ! -f "$C$STAMP_DIR/debootstrap" ]; then
	command -v debootstrap >/dev/null || "$script_dir/install-deps.sh" --with-24 >&2 ||
		die "cannot install debootstrap"
	[ -r "/usr/share/debootstrap/scripts/$SUITE" ] || die "this debootstrap does not know $SUITE"
	if [ -n "$(ls -A "$C" 2>/dev/null)" ]; then
		[ -d "$C/debootstrap" ] || die "$C exists, is not empty and was not made by $prog"
		! findmnt -rn -o TARGET | grep -q "^$C/" ||
			die "something is mounted below $C; run: $prog -r $C umount"
		log "removing the interrupted debootstrap in $C"
		rm -rf --one-file-system "$C"
	fi
	mkdir -p "$C"
	log "debootstrap $SUITE into $C from $mirror (takes a minute)"
	debootstrap --variant=minbase "$SUITE" "$C" "$mirror" >"$C.debootstrap.log" 2>&1 || {
		tail -20 "$C.debootstrap.log" >&2
		die "debootstrap failed, see $C.debootstrap.log"
	}
	rm -f "$C.debootstrap.log"
	stamp_set debootstrap "$SUITE $mirror"
fi

# apt sources and options (redone every time: their hash is in the
# packages stamp), no services, the host's name service files
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
signed=$([ ! -r "$C$keyring" ] || echo "Signed-By: $keyring")
stanza() {
	printf 'Types: deb deb-src\nURIs: %s\nSuites: %s\nComponents: main\n' "$1" "$2"
	[ -z "$signed" ] || echo "$signed"
}
rm -f "$C/etc/apt/sources.list"
{
	stanza "$mirror" "$SUITE $SUITE-updates"
	[ -z "$security" ] || { echo; stanza "$security" "$SUITE-security"; }
} >"$C/etc/apt/sources.list.d/debian.sources"
apt_conf=$C/etc/apt/apt.conf.d/90sieve-encrypt
apt-config dump 2>/dev/null | grep -E \
	'^Acquire::(http|https|ftp)::Proxy |^Acquire::(Check-Valid-Until|Check-Date|Retries) ' \
	>"$apt_conf-host" || rm -f "$apt_conf-host"
printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' \
	>"$apt_conf-norecommends"
printf '#!/bin/sh\n# installed by %s: never start services\nexit 101\n' "$prog" \
	>"$C/usr/sbin/policy-rc.d"
chmod 755 "$C/usr/sbin/policy-rc.d"
for f in /etc/resolv.conf /etc/hosts; do
	[ ! -r "$f" ] || { rm -f "$C$f"; cp -L "$f" "$C$f"; }
done
hn=$(hostname 2>/dev/null || :)
[ -z "$hn" ] || awk -v h="$hn" '$1 !~ /^#/ { for (i = 2; i <= NF; i++) if ($i == h) f = 1 }
	END { exit !f }' "$C/etc/hosts" || printf '127.0.1.1\t%s\n' "$hn" >>"$C/etc/hosts"
apt_key=$(cat "$C/etc/apt/sources.list.d/debian.sources" "$apt_conf"-* | md5sum | cut -d' ' -f1)

# debootstrap normally creates the device nodes; /dev is bound only when it
# could not (e.g. inside a container)
if ! mountpoint -q "$C/proc"; then
	mount -t proc proc "$C/proc"
	mounted+=("$C/proc")
fi
if [ ! -c "$C/dev/null" ] && ! mountpoint -q "$C/dev"; then
	mount --bind /dev "$C/dev"
	mounted+=("$C/dev")
	mount --make-private "$C/dev"
fi

packages_key="$apt_key $CHROOT_PACKAGES"
if ! stamp_ok packages "$packages_key" || [ ! -x "$C/usr/lib/dovecot/dovecot-lda" ]; then
	log "apt-get update + install in the chroot"
	# (dpkg --configure: finishes an interrupted install)
	# shellcheck disable=SC2086
	{ in_chroot dpkg --configure -a && in_chroot apt-get -q update &&
	  in_chroot apt-get -q install -y --no-install-recommends $CHROOT_PACKAGES; } \
		>"$C$STAMP_DIR/apt.log" 2>&1 || {
		tail -20 "$C$STAMP_DIR/apt.log" >&2
		die "apt-get update or install failed in the chroot (see $C$STAMP_DIR/apt.log)"
	}
	in_chroot apt-get -q clean
	stamp_set packages "$packages_key"
fi

if ! in_chroot id -u "$TEST_USER" >/dev/null 2>&1; then
	log "adding the test user $TEST_USER"
	in_chroot useradd --create-home --shell /bin/bash "$TEST_USER"
fi

ver=$(in_chroot dpkg-query -W -f='${source:Version}' dovecot-sieve)
if ! stamp_ok testsuite "$ver" || [ ! -x "$C$TESTSUITE_DIR/testsuite" ]; then
	log "building Pigeonhole's testsuite in the chroot"
	# the host's builder, fed to the chroot's bash
	in_chroot /bin/bash -s -- "$TESTSUITE_DIR" "$TEST_USER" \
		<"$script_dir/build-testsuite.sh" >&2
	ln -sfn "$TESTSUITE_DIR/testsuite" "$C/usr/local/bin/testsuite"
	stamp_set testsuite "$ver"
fi

unmount_all
version() { sed -n "s/^#define $2_VERSION \"\(.*\)\"$/$1 \1/p" "$C/usr/include/dovecot/$3"; }
log "ready: $C ($(version Dovecot DOVECOT config.h) $(version Pigeonhole PIGEONHOLE \
	sieve/pigeonhole-config.h)) in $((SECONDS - start)) s"
