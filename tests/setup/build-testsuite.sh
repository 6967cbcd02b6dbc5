#!/bin/bash
# build-testsuite.sh OUTDIR
#
# Builds Pigeonhole's `testsuite` program, which Debian's dovecot-sieve does
# not ship, against the installed dovecot-dev / dovecot-sieve packages (Debian
# 12: Pigeonhole 0.5, Debian 13: Pigeonhole 2.4). The source is the Pigeonhole
# tarball of Debian's own `dovecot` source package, fetched with apt-get into
# OUTDIR (the system's apt configuration is not touched).
#
#   OUTDIR/testsuite   the program
#   OUTDIR/stamp       installed package version it was built for
#
# Running it as root on Dovecot 2.3 needs `-o mail_uid=nobody -o mail_gid=nogroup`;
# on 2.4 run it as an unprivileged user.
set -eu

die() { echo "build-testsuite: error: $*" >&2; exit 1; }
log() { echo "build-testsuite: $*"; }

[ $# -eq 1 ] && [ -n "$1" ] || die "usage: $0 OUTDIR"
inc=/usr/include/dovecot
[ -r "$inc/sieve/pigeonhole-config.h" ] ||
	die "Pigeonhole headers missing (apt-get install dovecot-dev dovecot-sieve)"
libdir=/usr/lib/dovecot
[ -r "$libdir/libdovecot-sieve.so" ] || die "$libdir/libdovecot-sieve.so missing"

srcver=$(dpkg-query -W -f='${source:Version}' dovecot-sieve)
upver=${srcver#*:}; upver=${upver%-*}

mkdir -p "$1"
out=$(cd "$1" && pwd)
if [ -x "$out/testsuite" ] && [ "$(cat "$out/stamp" 2>/dev/null)" = "$srcver" ]; then
	log "up to date: $out/testsuite ($srcver)"
	exit 0
fi
rm -f "$out/stamp"

# A private deb-src index, with the system's own mirrors.
apt_dir=$out/apt
mkdir -p "$apt_dir/lists/partial" "$apt_dir/dl"
if [ -r /etc/apt/sources.list.d/debian.sources ]; then
	src_list=$apt_dir/deb-src.sources
	sed -E 's/^Types:.*/Types: deb-src/' /etc/apt/sources.list.d/debian.sources >"$src_list"
elif [ -r /etc/apt/sources.list ]; then
	src_list=$apt_dir/deb-src.list
	sed -nE 's/^deb[[:space:]]/deb-src /p' /etc/apt/sources.list >"$src_list"
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
		(cd "$apt_dir/dl" && apt-get -q "${apt_opts[@]}" source --download-only \
			--tar-only dovecot) >>"$apt_dir/source.log" 2>&1 ||
			die "apt-get source failed, see $apt_dir/source.log"
	fi
	[ -s "$tarball" ] || die "$tarball not downloaded, see $apt_dir/source.log"
fi

src=$out/pigeonhole
rm -rf "$src"
mkdir -p "$src"
tar -xzf "$tarball" -C "$src" --strip-components=1 src/testsuite src/lib-sieve-tool 2>/dev/null ||
	tar -xzf "$tarball" -C "$src" --strip-components=1 --wildcards \
		'*/src/testsuite/*' '*/src/lib-sieve-tool/*'

log "compiling $out/testsuite"
gcc -std=gnu11 -O2 -g -Wall -DHAVE_CONFIG_H \
	-I"$src/src/testsuite" -I"$src/src/lib-sieve-tool" -I"$inc" -I"$inc/sieve" \
	"$src"/src/testsuite/*.c "$src/src/lib-sieve-tool/sieve-tool.c" \
	-o "$out/testsuite.tmp" -rdynamic -L"$libdir" -Wl,-rpath,"$libdir" \
	-ldovecot-sieve -ldovecot-lda -ldovecot-storage -ldovecot ||
	die "compilation failed"
mv -f "$out/testsuite.tmp" "$out/testsuite"
chmod 755 "$out" "$out/testsuite"
echo "$srcver" >"$out/stamp"
log "built $out/testsuite (dovecot $srcver)"
