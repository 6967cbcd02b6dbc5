# Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
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

# group_count NAME LOG RC: count the check lines in LOG, the output of a
# command that exited with RC, into GROUP_COUNT_PASS and GROUP_COUNT_FAIL.
# A command that exits non-zero without a FAIL line counts as one failure,
# shown with the end of its output.
group_count()
{
	local name=$1 log=$2 rc=$3

	GROUP_COUNT_PASS=$(grep -cE '^PASS: ' "$log")
	GROUP_COUNT_FAIL=$(grep -cE '^(FAIL|ERROR|XPASS): ' "$log")
	if [ "$rc" -ne 0 ] && [ "$GROUP_COUNT_FAIL" -eq 0 ]; then
		echo "FAIL: $name: exited with $rc (see $log)"
		tail -n 20 "$log" | sed 's/^/    /'
		GROUP_COUNT_FAIL=1
	fi
}

# run_group NAME COMMAND...: run COMMAND, show its check lines ("PASS: ...",
# "FAIL: ..."), count them (group_count).
run_group()
{
	local name=$1 log=$GROUP_LOGDIR/$1.log rc start=$SECONDS
	shift
	echo "=== $GROUP_PREFIX$name"
	"$@" >"$log" 2>&1
	rc=$?
	grep -E '^(PASS|FAIL|SKIP|ERROR|XFAIL|XPASS): ' "$log"
	group_count "$GROUP_PREFIX$name" "$log" "$rc"
	echo "--- $GROUP_PREFIX$name: $GROUP_COUNT_PASS passed," \
		"$GROUP_COUNT_FAIL failed ($((SECONDS - start)) s)"
	GROUP_PASS=$((GROUP_PASS + GROUP_COUNT_PASS))
	GROUP_FAIL=$((GROUP_FAIL + GROUP_COUNT_FAIL))
	[ "$GROUP_COUNT_FAIL" -eq 0 ] || GROUP_FAILED+=("$name")
}

# pytest_summary LOG: pytest's closing summary in LOG ("64 passed in
# 2.31s"), or "no summary" when pytest did not get that far
pytest_summary()
{
	local line
	line=$(grep -E '^=+ .* in [0-9.]+s' "$1" 2>/dev/null | tail -n 1 |
		sed -E 's/^=+ //; s/ =+$//')
	printf '%s\n' "${line:-no summary}"
}
