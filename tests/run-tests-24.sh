#!/bin/bash
# run-tests-24.sh: the test suite against Dovecot 2.4 / Pigeonhole 2.4, in a
# Debian 13 chroot (tests/setup/trixie-chroot.sh creates it on first use).
# Builds this checkout there with warnings as errors, installs it, and runs
# `make check` (unit tests and .svtest scripts) as the chroot's test user.
# Prints the check lines of the run ("PASS: ...", "FAIL: ...").
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
chroot_sh=$top/tests/setup/trixie-chroot.sh

"$chroot_sh" setup
"$chroot_sh" sync --clean "$top"
"$chroot_sh" run --user -- sh -c \
	'autoreconf -fi >/dev/null 2>&1 && ./configure -q --enable-werror && make -s'
"$chroot_sh" run -- make -s install >/dev/null
"$chroot_sh" run --user -- \
	make -s check PIGEONHOLE_TESTSUITE_BIN=/usr/local/bin/testsuite
