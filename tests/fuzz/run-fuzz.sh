#!/bin/bash
# Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
# run-fuzz.sh [SECONDS] [WORKDIR]
#
# Builds the libFuzzer target tests/fuzz/fuzz-mime.c with clang, AddressSanitizer
# and UndefinedBehaviorSanitizer, seeds it with the messages in tests/messages
# (and ../shared/corpus when present) and runs it for SECONDS (default 60).
# Prints "PASS: fuzz-mime ..." or "FAIL: fuzz-mime ..." (a crash input is
# kept in WORKDIR). WORKDIR (default: a temporary directory) keeps the
# growing corpus between runs.
set -eu

secs=${1:-60}
top=$(cd "$(dirname "$0")/../.." && pwd)
work=${2:-}
[ -n "$work" ] || { work=$(mktemp -d "${TMPDIR:-/tmp}/fuzz-mime.XXXXXX"); trap 'rm -rf "$work"' EXIT; }
mkdir -p "$work/corpus" "$work/seeds"

inc=/usr/include/dovecot
libdir=/usr/lib/dovecot
clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-DHAVE_CONFIG_H -I"$inc" -I"$top/src" \
	"$top/tests/fuzz/fuzz-mime.c" "$top/src/sieve-encrypt-mime.c" \
	"$top/src/sieve-encrypt-armor.c" "$top"/src/sieve-encrypt-check*.c \
	"$top/src/sieve-encrypt-content.c" "$top/src/sieve-encrypt-cte.c" \
	"$top/src/sieve-encrypt-sink.c" "$top/src/sieve-encrypt-pgp-packet.c" \
	"$top/src/sieve-encrypt-status.c" "$top/src/sieve-encrypt-hp.c" \
	"$top/src/sieve-encrypt-legacy.c" \
	-L"$libdir" -Wl,-rpath,"$libdir" -ldovecot -o "$work/fuzz-mime"

cp "$top"/tests/messages/*.eml "$work/seeds/" 2>/dev/null || :
corpus=$top/../shared/corpus
[ -d "$corpus" ] && cp "$corpus"/*.eml "$work/seeds/" 2>/dev/null || :

log=$work/fuzz.log
if (cd "$work" && ./fuzz-mime -max_total_time="$secs" -max_len=65536 \
	-timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
	corpus seeds) >"$log" 2>&1; then
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -n 1)
	echo "PASS: fuzz-mime: $secs s, ${runs:-?} inputs, $cov, no crash"
else
	echo "FAIL: fuzz-mime: crash or sanitizer report (input and log in $work)"
	grep -E 'ERROR|SUMMARY|Panic|assert' "$log" | head -n 5
	trap - EXIT
	exit 1
fi
