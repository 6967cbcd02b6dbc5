#!/bin/bash
# Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
# run-tests-24.sh: the test suite against Dovecot 2.4 / Pigeonhole 2.4, in a
# Debian 13 chroot (tests/setup/trixie-chroot.sh creates it on first use).
#
# Builds this checkout there with warnings as errors and installs it (the
# plugin and, on 2.4, its settings module), then runs, inside the chroot:
#   check         `make check` (unit tests and .svtest scripts), as the
#                 chroot's test user (Pigeonhole 2.4's testsuite cannot drop
#                 privileges as root)
#   pytest        tests/integration, as root, exactly as on 2.3 (the
#                 harness renders its 2.4 configuration templates there)
#   soak          the LMTP load test, alone
#   package       tests/integration/test_package.py: the Debian package
#                 built against Dovecot 2.4, lintian, installed into a
#                 fresh Debian 13 root (debootstrap, cached in the chroot's
#                 /var/tmp), deliveries through its dovecot-lda and LMTP,
#                 purged
# The corpus for test_roundtrip.py ($SIEVE_ENCRYPT_CORPUS, default
# <git top>/../shared/corpus) is copied into the chroot read-only when it
# exists.
#
# Output: per group "=== 2.4 NAME", its check lines ("PASS: ...",
# "FAIL: ...", as on 2.3) and "--- 2.4 NAME: N passed, N failed"; then
# "2.4 total: N passed, N failed". Full logs in $SIEVE_ENCRYPT_LOGDIR/2.4
# (default tests/logs/2.4). Exits non-zero when anything failed.
# Environment: SIEVE_ENCRYPT_CHROOT (chroot directory, see trixie-chroot.sh).
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
chroot_sh=$top/tests/setup/trixie-chroot.sh
logdir=${SIEVE_ENCRYPT_LOGDIR:-$top/tests/logs}/2.4
mkdir -p "$logdir"
chroot_corpus=/srv/sieve-encrypt-corpus

GROUP_LOGDIR=$logdir
GROUP_PREFIX="2.4 "
. "$top/tests/lib/groups.sh"

# The corpus test_roundtrip.py would use on the host
corpus=${SIEVE_ENCRYPT_CORPUS:-}
if [ -z "$corpus" ]; then
	gtop=$(git -C "$top" rev-parse --show-toplevel 2>/dev/null) || gtop=$top
	corpus=$gtop/../shared/corpus
fi

# prepare: chroot (created or updated), fresh copy of this checkout, build
# with --enable-werror as the test user, make install as root, corpus
prepare()
{
	"$chroot_sh" setup &&
	"$chroot_sh" sync --clean "$top" &&
	"$chroot_sh" run --user -- sh -c \
		'autoreconf -fi >/dev/null 2>&1 && ./configure -q --enable-werror && make -s' &&
	"$chroot_sh" run -- make -s install &&
	if [ -d "$corpus" ]; then
		"$chroot_sh" import "$corpus" "$chroot_corpus"
	else
		echo "no corpus at $corpus"
	fi
}

start=$SECONDS
echo "=== 2.4 build"
if ! prepare >"$logdir/build.log" 2>&1; then
	echo "FAIL: 2.4 build: set-up, build or install in the chroot failed (see $logdir/build.log)"
	tail -n 30 "$logdir/build.log" | sed 's/^/    /'
	echo "2.4 total: 0 passed, 1 failed"
	exit 1
fi
"$chroot_sh" info | sed -n 's/^versions: /--- 2.4 build: /p'

run_group check "$chroot_sh" run --user -- \
	make -s check PIGEONHOLE_TESTSUITE_BIN=/usr/local/bin/testsuite

corpus_env=()
[ ! -d "$corpus" ] || corpus_env=(SIEVE_ENCRYPT_CORPUS="$chroot_corpus")
run_group pytest "$chroot_sh" run -- \
	env "${corpus_env[@]}" tests/run-pytest.sh
run_group soak "$chroot_sh" run -- tests/run-pytest.sh --soak
run_group package "$chroot_sh" run -- tests/run-pytest.sh --package
# the JUnit reports, out of the chroot's copy of the tree
for report in pytest soak package; do
	"$chroot_sh" run -- cat "tests/logs/$report.xml" \
		>"$logdir/$report.xml" 2>/dev/null || rm -f "$logdir/$report.xml"
done

echo "2.4 total: $GROUP_PASS passed, $GROUP_FAIL failed ($((SECONDS - start)) s)"
[ "$GROUP_FAIL" -eq 0 ]
