# groups.sh: run the test suite's groups and count their checks, for
# tests/run-tests.sh (Dovecot 2.3, host) and tests/run-tests-24.sh (2.4).
#
# Set before use: GROUP_LOGDIR (each group's output goes to NAME.log there)
# and GROUP_PREFIX (prefix of the group names in the output, e.g. "2.4 ").
# Totals: GROUP_PASS and GROUP_FAIL; names of failed groups: GROUP_FAILED.

GROUP_LOGDIR=${GROUP_LOGDIR:-.}
GROUP_PREFIX=${GROUP_PREFIX:-}
GROUP_PASS=0
GROUP_FAIL=0
GROUP_FAILED=()

# run_group NAME COMMAND...: run COMMAND, show its check lines ("PASS: ...",
# "FAIL: ..."), count them. A command that exits non-zero without a FAIL
# line counts as one failure, shown with the end of its output.
run_group()
{
	local name=$1 log=$GROUP_LOGDIR/$1.log rc pass fail start=$SECONDS
	shift
	echo "=== $GROUP_PREFIX$name"
	"$@" >"$log" 2>&1
	rc=$?
	grep -E '^(PASS|FAIL|SKIP|ERROR|XFAIL|XPASS): ' "$log"
	pass=$(grep -cE '^PASS: ' "$log")
	fail=$(grep -cE '^(FAIL|ERROR|XPASS): ' "$log")
	if [ "$rc" -ne 0 ] && [ "$fail" -eq 0 ]; then
		echo "FAIL: $GROUP_PREFIX$name: exited with $rc (see $log)"
		tail -n 20 "$log" | sed 's/^/    /'
		fail=1
	fi
	echo "--- $GROUP_PREFIX$name: $pass passed, $fail failed" \
		"($((SECONDS - start)) s)"
	GROUP_PASS=$((GROUP_PASS + pass))
	GROUP_FAIL=$((GROUP_FAIL + fail))
	[ "$fail" -eq 0 ] || GROUP_FAILED+=("$name")
}
