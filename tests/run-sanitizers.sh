#!/bin/bash
# run-sanitizers.sh: the plugin and the unit tests built with
# AddressSanitizer and UndefinedBehaviorSanitizer (./configure
# --enable-sanitizers, in a scratch copy of this tree), then run:
#   unit tests     instrumented programs; LeakSanitizer checks for leaks
#   .svtest        Pigeonhole's testsuite program (not instrumented) with
#                  the sanitizer runtime preloaded (LD_PRELOAD)
#   end-to-end     tests/integration/test_lda.py, test_policy.py and
#                  test_roundtrip.py: the real dovecot-lda, runtime
#                  preloaded the same way
# Any finding aborts the process (ASan halts on the first error, UBSan is
# built with -fno-sanitize-recover), which fails the check that ran it;
# the reports go to files, and any report file is one more failure.
#
# Usage: tests/run-sanitizers.sh  (as root, like the suite; needs git)
# Environment: PIGEONHOLE_TESTSUITE_BIN (default: _testsuite/testsuite of
# this tree), SANITIZER_PYTEST (the pytest files to run, default
# "test_lda.py test_policy.py test_roundtrip.py"), SIEVE_ENCRYPT_KEEP=1
# keeps the scratch directory, TMPDIR.
# Prints PASS:/FAIL: lines and "N passed, N failed"; exits 1 on failure.
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/sieve-encrypt-sanitizers.XXXXXX") || exit 1
chmod 755 "$work"
[ "${SIEVE_ENCRYPT_KEEP:-}" = 1 ] || trap 'rm -rf "$work"' EXIT
build=$work/tree
reports=$work/reports
pass=0
fail=0

ok() { echo "PASS: sanitizers: $*"; pass=$((pass + 1)); }
not_ok() { echo "FAIL: sanitizers: $*"; fail=$((fail + 1)); }
finish()
{
	echo "$pass passed, $fail failed"
	[ "$fail" -eq 0 ]
	exit
}

# --- build -------------------------------------------------------------------

# The checkout's files (committed or not), not its build products: the
# tree is configured in place, which rules out a VPATH build of it.
mkdir -p "$build" "$reports"
chmod 1777 "$reports"
(cd "$top" && git ls-files -co --exclude-standard -z |
	tar --null -T - -cf -) | tar -xf - -C "$build" || {
	not_ok "copying the tree"; finish; }
if (cd "$build" && autoreconf -fi && ./configure --enable-werror \
	--enable-sanitizers && make && make check TESTS=) \
	>"$work/build.log" 2>&1; then
	ok "build with --enable-sanitizers"
else
	not_ok "build with --enable-sanitizers (log: $work/build.log)"
	tail -n 15 "$work/build.log" | sed 's/^/    /'
	finish
fi

# The runtime the plugin needs in programs built without it: the
# compiler's own libasan first, then libubsan
cc=$(sed -n 's/^CC = //p' "$build/Makefile")
preload=
for lib in libasan.so libubsan.so; do
	path=$(${cc:-cc} -print-file-name="$lib")
	[ -f "$path" ] || { not_ok "runtime $lib not found"; finish; }
	preload="$preload${preload:+ }$(readlink -f "$path")"
done

# Findings go to files in $reports (one per process); leaks only in the
# instrumented unit tests: the Dovecot programs and gpg are not built for
# LeakSanitizer, and the soak test watches the LMTP processes' memory.
# (handle_segv=0: the fake gpgs of the fault tests crash on purpose; a
# crash of a Dovecot program fails its check all the same)
common="log_path=$reports/report:abort_on_error=1:handle_segv=0"
export UBSAN_OPTIONS="$common:print_stacktrace=1"

# --- unit tests --------------------------------------------------------------

for t in "$build"/tests/test-sieve-encrypt-*; do
	[ -x "$t" ] && [ "${t%.o}" = "$t" ] || continue
	name=$(basename "$t")
	if ASAN_OPTIONS="$common:detect_leaks=1" "$t" >"$work/$name.log" 2>&1
	then
		ok "$name"
	else
		not_ok "$name (log: $work/$name.log)"
		grep -E 'ERROR|runtime error|FAILED' "$work/$name.log" |
			head -n 5 | sed 's/^/    /'
	fi
done

# --- .svtest scripts ---------------------------------------------------------

export ASAN_OPTIONS="$common:detect_leaks=0"
testsuite=${PIGEONHOLE_TESTSUITE_BIN:-$top/_testsuite/testsuite}
for svtest in "$build"/tests/svtest/*.svtest; do
	name=svtest/$(basename "$svtest")
	if PIGEONHOLE_TESTSUITE_BIN="$testsuite" \
		SIEVE_ENCRYPT_PLUGIN_DIR="$build/src/.libs" \
		SIEVE_ENCRYPT_GPG_EXEC="$build/src/sieve-encrypt-gpg-exec" \
		SIEVE_ENCRYPT_PRELOAD="$preload" \
		"$build/tests/svtest/run-svtest.sh" "$svtest" \
		>"$work/svtest.log" 2>&1; then
		ok "$name"
	else
		not_ok "$name"
		tail -n 10 "$work/svtest.log" | sed 's/^/    /'
	fi
done

# --- end-to-end ----------------------------------------------------------------

for t in ${SANITIZER_PYTEST:-test_lda.py test_policy.py test_roundtrip.py}; do
	if SIEVE_ENCRYPT_BUILD="$build" SIEVE_ENCRYPT_PRELOAD="$preload" \
		SIEVE_ENCRYPT_LOGDIR="$work" \
		"$top/tests/run-pytest.sh" "tests/integration/$t" \
		>"$work/$t.log" 2>&1; then
		ok "$t ($(tail -n 1 "$work/$t.log" | tr -d '='))"
	else
		not_ok "$t: $(tail -n 1 "$work/$t.log" | tr -d '=') (log: $work/$t.log)"
		grep '^FAIL' "$work/$t.log" | head -n 5 | sed 's/^/    /'
	fi
done

# --- reports -----------------------------------------------------------------

found=$(find "$reports" -type f | wc -l)
if [ "$found" -eq 0 ]; then
	ok "no sanitizer reports"
else
	not_ok "$found sanitizer report(s):"
	find "$reports" -type f | head -n 3 | while read -r f; do
		grep -E 'ERROR|runtime error|SUMMARY' "$f" | head -n 3 |
			sed 's/^/    /'
	done
fi
finish
