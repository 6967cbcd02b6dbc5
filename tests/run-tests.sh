#!/bin/bash
# run-tests.sh [--with-24]
#
# Runs the whole test suite against the build in the repository (after
# ./configure && make and tests/setup/build-testsuite.sh _testsuite):
#   unit tests and .svtest scripts  (make check; valgrind where installed)
#   a bounded fuzzing run           (tests/fuzz/run-fuzz.sh, ASan + UBSan)
#   end-to-end deliveries           (tests/e2e/*.sh: dovecot-lda, LMTP, corpus)
#   --with-24: all of it again against Dovecot 2.4 in a Debian 13 chroot
# Every check prints "PASS: name" or "FAIL: name"; the last line is
# "N passed, N failed". Exits non-zero when anything failed.
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
logdir=${SIEVE_ENCRYPT_LOGDIR:-$top/tests/logs}
mkdir -p "$logdir"
with_24=no
[ "${1:-}" = "--with-24" ] && with_24=yes

total_pass=0
total_fail=0
failed_groups=()

# run_group NAME COMMAND...: runs a group, shows its check lines, counts them
run_group() {
	local name=$1 log=$logdir/$1.log rc pass fail
	shift
	echo "=== $name"
	"$@" >"$log" 2>&1
	rc=$?
	grep -E '^(PASS|FAIL|SKIP|ERROR|XFAIL|XPASS): ' "$log"
	pass=$(grep -cE '^PASS: ' "$log")
	fail=$(grep -cE '^(FAIL|ERROR|XPASS): ' "$log")
	if [ "$rc" -ne 0 ] && [ "$fail" -eq 0 ]; then
		echo "FAIL: $name: exited with $rc (see $log)"
		tail -n 20 "$log" | sed 's/^/    /'
		fail=1
	fi
	echo "--- $name: $pass passed, $fail failed"
	total_pass=$((total_pass + pass))
	total_fail=$((total_fail + fail))
	[ "$fail" -eq 0 ] || failed_groups+=("$name")
}

run_group check make -s check
run_group fuzz tests/fuzz/run-fuzz.sh "${SIEVE_ENCRYPT_FUZZ_SECONDS:-60}"
for t in tests/e2e/*.sh; do
	run_group "$(basename "$t" .sh)" "$t"
done
if [ "$with_24" = yes ]; then
	run_group dovecot-2.4 tests/run-tests-24.sh
fi

echo
[ ${#failed_groups[@]} -eq 0 ] || echo "failed groups: ${failed_groups[*]} (logs in $logdir)"
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
