#!/bin/bash
# Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
# setup.sh demo|test [--no-24]
#
# On a fresh Debian 12 machine: install the missing Debian packages, build
# the plugin, build Pigeonhole's testsuite program, then either
#   demo  deliver sample mail through a private Dovecot, show the stored
#         ciphertext and decrypt it back, or
#   test  run the whole test suite (ends with "N passed, N failed").
# Needs root; re-runs itself with sudo otherwise.
set -eu

usage() { echo "usage: $0 demo|test [--no-24]" >&2; exit 64; }
[ $# -ge 1 ] || usage
mode=$1; shift
case "$mode" in demo|test) ;; *) usage ;; esac

top=$(cd "$(dirname "$0")" && pwd)
if [ "$(id -u)" -ne 0 ]; then
	exec sudo -E "$top/setup.sh" "$mode" "$@"
fi
cd "$top"

with_24=yes
for arg in "$@"; do
	case "$arg" in
	--no-24) with_24=no ;;
	*) usage ;;
	esac
done

if [ "$mode" = test ] && [ "$with_24" = yes ]; then
	tests/setup/install-deps.sh --with-24
else
	tests/setup/install-deps.sh
fi

if [ ! -x configure ] || [ configure.ac -nt configure ]; then
	autoreconf -fi
fi
if [ ! -f Makefile ]; then
	./configure --enable-werror
fi
make -s
tests/setup/build-testsuite.sh "$top/_testsuite"

case "$mode" in
demo)
	exec tests/demo.py
	;;
test)
	if [ "$with_24" = yes ]; then
		exec tests/run-tests.sh --with-24
	fi
	exec tests/run-tests.sh
	;;
esac
