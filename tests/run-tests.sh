#!/bin/bash
# Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
# run-tests.sh [--with-24]
#
# Runs the whole test suite against the build in the repository (after
# ./configure && make and tests/setup/build-testsuite.sh _testsuite):
#   check   unit tests and .svtest scripts (make check; valgrind where
#           installed)
#   pytest  the integration tests (tests/integration: dovecot-lda, LMTP,
#           ManageSieve, corpus, hostile users; see doc/testing.md), in
#           parallel
#   slow    one after the other: a bounded libFuzzer run (test_fuzz.py),
#           a sanitizer build with the unit tests, .svtest scripts and
#           deliveries against it (test_sanitizers.py), the LMTP load test
#           (test_soak.py), the Debian package (test_package.py: built,
#           installed into a fresh Debian 12 root, used, purged)
#   --with-24: make check, the integration tests, the load test and the
#              Debian package again, against Dovecot 2.4 in a Debian 13
#              chroot (tests/run-tests-24.sh)
# Every check prints "PASS: name" or "FAIL: name". At the end: one line
# "2.3: N passed, N failed", with --with-24 one line "2.4: N passed,
# N failed", and as the very last line the total "N passed, N failed".
# Exits non-zero when anything failed.
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
logdir=${SIEVE_ENCRYPT_LOGDIR:-$top/tests/logs}
mkdir -p "$logdir"
with_24=no
[ "${1:-}" = "--with-24" ] && with_24=yes

time_24=

GROUP_LOGDIR=$logdir
. "$top/tests/lib/groups.sh"

start=$SECONDS
# the testsuite program named: the .svtest scripts are errors without it,
# not skipped
run_group check make -s check \
	PIGEONHOLE_TESTSUITE_BIN="$top/_testsuite/testsuite"
run_group pytest tests/run-pytest.sh
run_group slow tests/run-pytest.sh --slow
pytest_23="$(pytest_summary "$logdir/pytest.log"); slow: $(pytest_summary "$logdir/slow.log")"
pass_23=$GROUP_PASS
fail_23=$GROUP_FAIL
time_23=$((SECONDS - start))
failed_groups=("${GROUP_FAILED[@]}")

# Dovecot 2.4: tests/run-tests-24.sh prints its groups and check lines
# itself; count its check lines like run_group does
if [ "$with_24" = yes ]; then
	start=$SECONDS
	log24=$logdir/dovecot-2.4.log
	tests/run-tests-24.sh 2>&1 | tee "$log24" |
		grep -E '^(===|---|PASS|FAIL|SKIP|ERROR|XFAIL|XPASS|    )'
	group_count dovecot-2.4 "$log24" "${PIPESTATUS[0]}"
	pytest_24="$(pytest_summary "$logdir/2.4/pytest.log"); soak: $(pytest_summary "$logdir/2.4/soak.log"); package: $(pytest_summary "$logdir/2.4/package.log")"
	pass_24=$GROUP_COUNT_PASS
	fail_24=$GROUP_COUNT_FAIL
	[ "$fail_24" -eq 0 ] || failed_groups+=("dovecot-2.4")
	time_24=$((SECONDS - start))
fi
total_pass=$((pass_23 + ${pass_24:-0}))
total_fail=$((fail_23 + ${fail_24:-0}))

echo
[ ${#failed_groups[@]} -eq 0 ] || echo "failed groups: ${failed_groups[*]} (logs in $logdir)"
echo "time: 2.3 ${time_23} s${time_24:+, 2.4 ${time_24} s}"
echo "2.3 pytest: $pytest_23"
[ "$with_24" = no ] || echo "2.4 pytest: $pytest_24"
echo "2.3: $pass_23 passed, $fail_23 failed"
[ "$with_24" = no ] || echo "2.4: $pass_24 passed, $fail_24 failed"
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
