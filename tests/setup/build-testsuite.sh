#!/bin/bash
# Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
# build-testsuite.sh OUTDIR [RUN_AS_USER]
#
# Builds Pigeonhole's `testsuite` program, which Debian's dovecot-sieve does
# not ship, against the installed dovecot-dev / dovecot-sieve packages (Debian
# 12: Pigeonhole 0.5, Debian 13: Pigeonhole 2.4; tests/setup/trixie-chroot.sh
# runs this script inside its chroot). The source is the Pigeonhole tarball
# of Debian's own `dovecot` source package, fetched with apt-get through a
# private deb-src index made from the system's apt sources (the system's apt
# configuration is not touched).
#
#   OUTDIR/testsuite   the program
#   OUTDIR/stamp       the dovecot-sieve source version it was built for
#
# Then a smoke test: upstream's tests/testsuite.svtest, run as RUN_AS_USER
# (default nobody) when called as root (Pigeonhole 2.4's testsuite cannot
# drop privileges as root; on 2.3 as root it needs -o mail_uid=... -o
# mail_gid=...).
set -eu

die() { echo "build-testsuite: error: $*" >&2; exit 1; }
log() { echo "build-testsuite: $*"; }

[ $# -ge 1 ] && [ -n "$1" ] || die "usage: $0 OUTDIR [RUN_AS_USER]"
run_user=${2:-nobody}
inc=/usr/include/dovecot
libdir=/usr/lib/dovecot
[ -r "$inc/sieve/pigeonhole-config.h" ] ||
	die "Pigeonhole headers missing (apt-get install dovecot-dev dovecot-sieve)"
[ -r "$libdir/libdovecot-sieve.so" ] || die "$libdir/libdovecot-sieve.so missing"

srcver=$(dpkg-query -W -f='${source:Version}' dovecot-sieve)
upver=${srcver#*:}; upver=${upver%-*}
phver=$(sed -n 's/^#define PIGEONHOLE_VERSION "\(.*\)"$/\1/p' \
	"$inc/sieve/pigeonhole-config.h")

mkdir -p "$1"
out=$(cd "$1" && pwd)
if [ -x "$out/testsuite" ] && [ "$(cat "$out/stamp" 2>/dev/null)" = "$srcver" ]; then
	log "up to date: $out/testsuite ($srcver)"
	exit 0
fi
rm -f "$out/stamp"

# A private deb-src index, with the system's own mirrors
apt_dir=$out/apt
mkdir -p "$apt_dir/lists/partial" "$apt_dir/dl"
if [ -r /etc/apt/sources.list.d/debian.sources ]; then
	src_list=$apt_dir/deb-src.sources
	sed -E 's/^Types:.*/Types: deb-src/' /etc/apt/sources.list.d/debian.sources >"$src_list"
elif [ -r /etc/apt/sources.list ]; then
	src_list=$apt_dir/deb-src.list
	sed -nE 's/^deb(-src)?[[:space:]]/deb-src /p' /etc/apt/sources.list | sort -u >"$src_list"
else
	die "no apt sources found"
fi
apt_opts=(-o "Dir::Etc::sourcelist=$src_list" -o Dir::Etc::sourceparts=/dev/null
	  -o "Dir::State::Lists=$apt_dir/lists" -o Dir::Cache::pkgcache=
	  -o Dir::Cache::srcpkgcache= -o APT::Sandbox::User=root)
tarball=$apt_dir/dl/dovecot_${upver}.orig-pigeonhole.tar.gz
if [ ! -s "$tarball" ]; then
	log "fetching the Pigeonhole source of dovecot $srcver"
	apt-get -q "${apt_opts[@]}" update >"$apt_dir/update.log" 2>&1 ||
		die "apt-get update failed, see $apt_dir/update.log"
	# --tar-only: Debian's patches touch nothing the testsuite is built from
	if ! (cd "$apt_dir/dl" && apt-get -q "${apt_opts[@]}" source --download-only \
		--tar-only "dovecot=$srcver") >"$apt_dir/source.log" 2>&1; then
		log "dovecot=$srcver not available, trying the newest dovecot source"
		(cd "$apt_dir/dl" && apt-get -q "${apt_opts[@]}" source --download-only \
			--tar-only dovecot) >>"$apt_dir/source.log" 2>&1 ||
			die "apt-get source failed, see $apt_dir/source.log"
	fi
	[ -s "$tarball" ] || die "$tarball not downloaded, see $apt_dir/source.log"
fi

# The tarball's top directory is dovecot-pigeonhole-<version> (2.4) or
# dovecot-2.3-pigeonhole-<version> (0.5): the version of the headers
top=$(tar -tzf "$tarball" | sed -n '1s,/.*,,p')
case "$top" in
*pigeonhole-"$phver") ;;
*) die "$tarball has $top, not Pigeonhole $phver" ;;
esac
src=$out/pigeonhole
rm -rf "$src"
mkdir -p "$src"
tar -xzf "$tarball" -C "$src" --strip-components=1 \
	"$top/src/testsuite" "$top/src/lib-sieve-tool" "$top/tests/testsuite.svtest"

# The C standard Dovecot itself was built with (gnu99 on 2.3, gnu11 on 2.4)
std=$(sed -n 's/.*\(-std=[a-z0-9]*\).*/\1/p' "$libdir/dovecot-config" | head -n 1)
log "compiling $out/testsuite (Pigeonhole $phver, ${std:-default std})"
gcc ${std:+"$std"} -O2 -g -Wall -DHAVE_CONFIG_H \
	-I"$src/src/testsuite" -I"$src/src/lib-sieve-tool" -I"$inc" -I"$inc/sieve" \
	"$src"/src/testsuite/*.c "$src/src/lib-sieve-tool/sieve-tool.c" \
	-o "$out/testsuite.tmp" -rdynamic -L"$libdir" -Wl,-rpath,"$libdir" \
	-ldovecot-sieve -ldovecot-lda -ldovecot-storage -ldovecot ||
	die "compilation failed"
mv -f "$out/testsuite.tmp" "$out/testsuite"
chmod -R a+rX "$out"

# Smoke test, from a directory the unprivileged user can read
smoke=$(mktemp -d /tmp/testsuite-smoke.XXXXXX)
chmod 755 "$smoke"
cp "$src/tests/testsuite.svtest" "$smoke/"
rc=0
if [ "$(id -u)" -eq 0 ]; then
	(cd "$smoke" && setpriv --reuid="$run_user" --regid="$(id -g "$run_user")" \
		--clear-groups env HOME="$smoke" USER="$run_user" \
		"$out/testsuite" testsuite.svtest) >"$out/smoke.log" 2>&1 || rc=$?
else
	(cd "$smoke" && "$out/testsuite" testsuite.svtest) >"$out/smoke.log" 2>&1 || rc=$?
fi
rm -rf "$smoke"
if [ $rc -ne 0 ] || ! grep -q '^PASS' "$out/smoke.log"; then
	cat "$out/smoke.log" >&2
	die "smoke test failed (rc $rc)"
fi
echo "$srcver" >"$out/stamp"
log "built $out/testsuite (dovecot $srcver); smoke test: $(grep '^PASS' "$out/smoke.log")"
