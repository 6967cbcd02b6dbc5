#!/bin/bash
# roundtrip.sh: deliver every test message and every corpus message through
# dovecot-lda with `encrypt`, then check each stored message with
# tests/tools/pgpmime-verify.py: it must be stored (never dropped, also when
# malformed), and either decrypt to exactly the original MIME entity or, for
# a message that is encrypted already, be stored unchanged.
#
# Usage: tests/e2e/roundtrip.sh [-j JOBS]
# Messages: tests/messages/*.eml, and the corpus in $SIEVE_ENCRYPT_CORPUS,
# default <repository top>/../shared/corpus (every *.eml; MANIFEST.tsv
# gives the tags for the per-tag counts). No corpus: own messages only.
# Environment: SIEVE_ENCRYPT_BUILD (build tree, default: repository top),
# SIEVE_ENCRYPT_JOBS (parallel deliveries, default: number of CPUs, at most
# 4), SIEVE_ENCRYPT_KEEP=1 keeps the scratch directory, TMPDIR.
#
# Each message goes into a Maildir of its own, with a log of its own (one
# dovecot-lda run each). Test messages with an "X-E2E-Expect:" header are
# checked in that mode; all others in mode auto (the verifier decides from
# what was stored, and checks that the input is encrypted already, by the
# plugin's rules, exactly when it was stored unchanged). A message stored
# encrypted must not show a PLAINTEXT-MARKER of the original. Prints a
# PASS:/FAIL: line per message, per-tag counts, and finally "N passed, N
# failed"; exits 1 if any failed.
set -eu

TOP=$(cd "$(dirname "$0")/../.." && pwd)
DC_TOP=$TOP
. "$TOP/tests/lib/keys.sh"
. "$TOP/tests/lib/dovecot.sh"
VERIFY=$TOP/tests/tools/pgpmime-verify.py
MESSAGES=$TOP/tests/messages
PLAINTEXT_MARKER=PLAINTEXT-MARKER

JOBS=${SIEVE_ENCRYPT_JOBS:-$(nproc 2>/dev/null || echo 2)}
[ "$JOBS" -le 4 ] || JOBS=4
while getopts j: opt; do
	case $opt in
	j) JOBS=$OPTARG ;;
	*) echo "usage: $0 [-j JOBS]" >&2; exit 2 ;;
	esac
done

if [ -n "${SIEVE_ENCRYPT_CORPUS:-}" ]; then
	CORPUS=$SIEVE_ENCRYPT_CORPUS
else
	gtop=$(git -C "$TOP" rev-parse --show-toplevel 2>/dev/null) ||
		gtop=$TOP
	CORPUS=$gtop/../shared/corpus
fi

trap 'dc_cleanup' EXIT
trap 'exit 130' INT TERM

start=$(date +%s)
dc_init
dc_add_user_with_key alice make_key >/dev/null || {
	echo "roundtrip.sh: setting up keys failed" >&2
	exit 1
}
dc_kill_agents
dc_global_script 'require ["vnd.x.encrypt", "envelope", "variables"];
if envelope :matches "to" "*" {
  encrypt "${1}";
}'

# --- the messages ----------------------------------------------------------

LIST=$DC_DIR/list		# ID <TAB> path <TAB> mode
: >"$LIST"
n=0
for msg in "$MESSAGES"/*.eml; do
	n=$((n + 1))
	mode=$(dc_expect_of "$msg")
	printf 'own%03d\t%s\t%s\n' "$n" "$msg" "${mode:-auto}" >>"$LIST"
done
if [ -d "$CORPUS" ]; then
	CORPUS=$(cd "$CORPUS" && pwd)
	n=0
	for msg in "$CORPUS"/*.eml; do
		[ -f "$msg" ] || continue
		n=$((n + 1))
		printf 'cor%04d\t%s\tauto\n' "$n" "$msg" >>"$LIST"
	done
	echo "corpus: $n messages in $CORPUS"
else
	dc_skip "roundtrip corpus" \
		"no corpus at $CORPUS (set SIEVE_ENCRYPT_CORPUS)"
fi
total=$(grep -c . "$LIST")

# --- deliver, JOBS at a time -----------------------------------------------

# rt_deliver ID PATH: one dovecot-lda run into $DC_DIR/store/ID; writes
# "RC <TAB> stored file" to $DC_DIR/results/ID
rt_deliver()
{
	local id=$1 msg=$2 rc=0 stored
	# in a subshell: its stderr (and a crash notice like "Aborted") go
	# to the .err file
	(dc_lda_to alice "$msg" "$id" -o "log_path=$DC_DIR/logs/$id.log") \
		</dev/null 2>"$DC_DIR/logs/$id.err" || rc=$?
	stored=$(find "$DC_DIR/store/$id/new" "$DC_DIR/store/$id/cur" \
		-type f 2>/dev/null | head -n 2 | tr '\n' '\t')
	printf '%s\t%s\n' "$rc" "$stored" >"$DC_DIR/results/$id"
}
export -f rt_deliver dc_lda dc_lda_to dc_as_mail dc_as_user dc_user_ids \
	dc_user_lda_options dc_preload_env
export DC_DIR DC_CONF DC_LDA DC_DOMAIN DC_PATH DC_ACCOUNT

mkdir -p "$DC_DIR/results"
cut -f1,2 "$LIST" | tr '\t' '\n' |
	xargs -d '\n' -n 2 -P "$JOBS" bash -c 'rt_deliver "$1" "$2"' rt
delivered=$(date +%s)

# --- verify, JOBS at a time ------------------------------------------------

BATCH=$DC_DIR/batch
: >"$BATCH"
declare -A WHY
while IFS=$'\t' read -r id msg mode; do
	res=$DC_DIR/results/$id
	if [ ! -f "$res" ]; then
		WHY[$id]="no delivery result"
		continue
	fi
	IFS=$'\t' read -r rc stored extra <"$res" || :
	if [ "$rc" != 0 ]; then
		WHY[$id]="dovecot-lda exited with $rc, nothing stored: $(
			grep -Em1 'Error|Fatal|Panic' "$DC_DIR/logs/$id.log" \
			2>/dev/null | cut -c1-160)"
		continue
	fi
	if [ -z "$stored" ] || [ -n "${extra:-}" ]; then
		WHY[$id]="expected 1 stored message, found ${stored:+more}${stored:-none}"
		continue
	fi
	if grep -Eq 'Fatal:|Panic:' "$DC_DIR/logs/$id.log"; then
		WHY[$id]="log: $(grep -Em1 'Fatal:|Panic:' "$DC_DIR/logs/$id.log" |
			cut -c1-160)"
		continue
	fi
	sizes=$(dc_plugin_sizes "$DC_DIR/logs/$id.log")
	printf '%s\t%s\t%s\t%s\t%s\n' "$msg" "$stored" "$mode" "$id" \
		"$sizes" >>"$BATCH"
done <"$LIST"

# The verifier's batch mode takes ORIGINAL, STORED, MODE: split by sizes
# (--plugin-sizes is per message, so group lines with and without sizes)
python3 - "$BATCH" "$JOBS" "$VERIFY" "$(dc_secret_home alice)" \
	"$DC_DIR/verified" <<'EOF'
import subprocess, sys
batch, jobs, verify, home, out = sys.argv[1:6]
jobs = int(jobs)
lines = [l.rstrip("\n").split("\t") for l in open(batch) if l.strip()]
chunks = [lines[i::jobs] for i in range(jobs)]
procs = []
for i, chunk in enumerate(chunks):
    spec = "%s.%d" % (batch, i)
    with open(spec, "w") as f:
        for msg, stored, mode, mid, sizes in chunk:
            f.write("%s\t%s\t%s\t%s\n" % (msg, stored, mode, sizes))
    procs.append(subprocess.Popen(
        [sys.executable, verify, "--homedir", home, "--batch", spec],
        stdout=open("%s.%d" % (out, i), "w")))
rc = max(p.wait() for p in procs) if procs else 0
sys.exit(0 if rc in (0, 1) else rc)
EOF
verified=$(date +%s)

# --- report ----------------------------------------------------------------

declare -A RESULT
for f in "$DC_DIR"/verified.*; do
	[ -f "$f" ] || continue
	while IFS= read -r line; do
		RESULT[${line%%: *}]=${line#*: }
	done <"$f"
done

declare -A OUTCOME	# file name -> encrypted/unchanged/FAIL
passed=0
failed=0
while IFS=$'\t' read -r id msg mode; do
	name=$(basename "$msg")
	label=corpus/$name
	[ "${id:0:3}" != own ] || label=messages/$name
	if [ -n "${WHY[$id]:-}" ]; then
		echo "FAIL: roundtrip $label: ${WHY[$id]}"
		failed=$((failed + 1))
		OUTCOME[$name]=FAIL
		continue
	fi
	r=${RESULT[$msg]:-no verifier result}
	# a message that carries a plaintext marker (the attack messages:
	# looking encrypted, but not) must not show it where it is stored
	IFS=$'\t' read -r _ stored _ <"$DC_DIR/results/$id" || :
	case $r in
	ok:\ encrypted*)
		if grep -q "$PLAINTEXT_MARKER" "$msg" &&
			grep -q "$PLAINTEXT_MARKER" "$stored"; then
			r="stored encrypted, but $PLAINTEXT_MARKER is readable"
		fi ;;
	esac
	case $r in
	ok:*)
		echo "PASS: roundtrip $label: ${r#ok: }"
		passed=$((passed + 1))
		case $r in
		"ok: unchanged"*) OUTCOME[$name]=unchanged ;;
		*) OUTCOME[$name]=encrypted ;;
		esac
		;;
	*)
		echo "FAIL: roundtrip $label: $r"
		failed=$((failed + 1))
		OUTCOME[$name]=FAIL
		;;
	esac
done <"$LIST"

# Per-tag counts from MANIFEST.tsv (messages of ours count as "own")
if [ -f "$CORPUS/MANIFEST.tsv" ]; then
	echo "per tag (messages: encrypted / unchanged / failed):"
	{
		awk -F'\t' 'NR > 1 { print $1 "\t" $7 }' "$CORPUS/MANIFEST.tsv"
	} | while IFS=$'\t' read -r name tags; do
		o=${OUTCOME[$name]:-missing}
		for tag in ${tags//,/ }; do
			printf '%s\t%s\n' "$tag" "$o"
		done
	done | awk -F'\t' '
		{ n[$1]++; c[$1 "\t" $2]++ }
		END {
			for (t in n)
				printf "  %-20s %4d: %4d / %4d / %4d%s\n", t, n[t],
					c[t "\tencrypted"], c[t "\tunchanged"],
					c[t "\tFAIL"],
					c[t "\tmissing"] ? "  (" c[t "\tmissing"] " not delivered)" : ""
		}' | sort
fi
end=$(date +%s)
echo "timing: $total messages, delivery $((delivered - start)) s," \
	"verification $((verified - delivered)) s, total $((end - start)) s" \
	"($JOBS jobs)"

dc_kill_agents
sleep 0.2
left=$(dc_leftover_processes)
if [ -n "$left" ]; then
	echo "FAIL: roundtrip: leftover processes:" \
		"$(printf '%s' "$left" | head -n 3 | tr '\n' ';')"
	failed=$((failed + 1))
fi
dc_cleanup
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
