#!/bin/bash
# run-pytest.sh [PYTEST ARGS...]: the integration tests (tests/integration,
# pytest; or the test files named) against the Dovecot of this machine, in parallel (pytest-xdist,
# one worker per CPU; the tests of a file stay on one worker).
#
# Output: pytest's own, then its per-test summary as check lines in the
# suite's convention ("PASS: id", "FAIL: id", "SKIP: id", "ERROR: id", for
# tests/run-tests.sh to count), then pytest's closing summary line. A JUnit
# XML report goes to $SIEVE_ENCRYPT_LOGDIR (default tests/logs)/pytest.xml.
# Exits with pytest's exit code.
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
logdir=${SIEVE_ENCRYPT_LOGDIR:-$top/tests/logs}
mkdir -p "$logdir"
# the whole directory unless a test file or directory is named
case " $* " in
*" tests/"*) ;;
*) set -- tests/integration "$@" ;;
esac
# Debian's pytest is installed for Debian's python3
python=${SIEVE_ENCRYPT_PYTHON:-/usr/bin/python3}
workers=${SIEVE_ENCRYPT_PYTEST_WORKERS:-auto}

PYTHONDONTWRITEBYTECODE=1 "$python" -m pytest -rA \
	-n "$workers" --dist loadfile --junitxml="$logdir/pytest.xml" "$@" |
	sed -E -e 's/^PASSED /PASS: /' -e 's/^FAILED /FAIL: /' \
		-e 's/^ERROR /ERROR: /' -e 's/^SKIPPED /SKIP: /' \
		-e 's/^XFAIL /XFAIL: /' -e 's/^XPASS /XPASS: /'
exit "${PIPESTATUS[0]}"
