#!/bin/bash
# run-pytest.sh [--soak] [PYTEST ARGS...]: the integration tests
# (tests/integration, pytest; or the test files named) against the Dovecot
# of this machine.
#
# Without --soak: every test but the LMTP load test (marker "soak"), in
# parallel (pytest-xdist, one worker per CPU; the tests of a file stay on
# one worker). With --soak: the load test alone, in one process (it
# measures the machine).
#
# Output: pytest's own, then its per-test summary as check lines in the
# suite's convention ("PASS: id", "FAIL: id", "SKIP: id", "ERROR: id", for
# tests/run-tests.sh to count), then pytest's closing summary line. A JUnit
# XML report goes to $SIEVE_ENCRYPT_LOGDIR (default tests/logs)/pytest.xml
# (soak.xml with --soak). Exits with pytest's exit code.
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
logdir=${SIEVE_ENCRYPT_LOGDIR:-$top/tests/logs}
mkdir -p "$logdir"
report=pytest
selection=(-m "not soak" -n "${SIEVE_ENCRYPT_PYTEST_WORKERS:-auto}" --dist loadfile)
if [ "${1:-}" = --soak ]; then
	shift
	report=soak
	selection=(-m soak -p no:xdist)
fi
# the whole directory unless a test file or directory is named
case " $* " in
*" tests/"*) ;;
*) set -- tests/integration "$@" ;;
esac
# Debian's pytest is installed for Debian's python3
python=${SIEVE_ENCRYPT_PYTHON:-/usr/bin/python3}

PYTHONDONTWRITEBYTECODE=1 "$python" -m pytest -rA "${selection[@]}" \
	--junitxml="$logdir/$report.xml" "$@" |
	sed -E -e 's/^PASSED /PASS: /' -e 's/^FAILED /FAIL: /' \
		-e 's/^ERROR /ERROR: /' -e 's/^SKIPPED /SKIP: /' \
		-e 's/^XFAIL /XFAIL: /' -e 's/^XPASS /XPASS: /'
exit "${PIPESTATUS[0]}"
