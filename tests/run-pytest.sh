#!/bin/bash
# Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
# run-pytest.sh [--slow | --soak | --package] [PYTEST ARGS...]: the
# integration tests (tests/integration, pytest; or the test files named)
# against the Dovecot of this machine.
#
# Without an option: every test but the slow groups, in parallel
# (pytest-xdist, one worker per CPU; the tests of a file stay on one
# worker). --slow: the slow groups one after the other, in one process:
# the libFuzzer run (marker fuzz), the sanitizer build (sanitizers) and
# the LMTP load test (soak), which measures the machine, and the Debian
# package (package, test_package.py: built, installed into a fresh root,
# used and purged). --soak: the load test alone, --package: the package
# tests alone (both for the Debian 13 chroot, which has no clang).
#
# Output: pytest's own, then its per-test summary as check lines in the
# suite's convention ("PASS: id", "FAIL: id", "SKIP: id", "ERROR: id", for
# tests/run-tests.sh to count), then pytest's closing summary line. A JUnit
# XML report goes to $SIEVE_ENCRYPT_LOGDIR (default tests/logs)/pytest.xml
# (slow.xml, soak.xml, package.xml). Exits with pytest's exit code.
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
logdir=${SIEVE_ENCRYPT_LOGDIR:-$top/tests/logs}
mkdir -p "$logdir"
report=pytest
slow="soak or fuzz or sanitizers or package"
selection=(-m "not ($slow)" -n "${SIEVE_ENCRYPT_PYTEST_WORKERS:-auto}"
	--dist loadfile)
case ${1:-} in
--slow) report=slow; selection=(-m "$slow" -p no:xdist); shift ;;
--soak) report=soak; selection=(-m soak -p no:xdist); shift ;;
--package) report=package; selection=(-m package -p no:xdist); shift ;;
esac
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
