#!/bin/bash
# test-lmtp.sh: end-to-end test of vnd.x.encrypt through a real Dovecot LMTP
# service: start a private instance on 127.0.0.1, deliver several messages
# to several users in ONE LMTP session (transactions with multiple RCPT
# TO), stop it, then check and decrypt what was stored.
#
# Usage: tests/e2e/test-lmtp.sh    (as root: the service runs as Dovecot's
# system users; SKIP when not root)
# Environment: SIEVE_ENCRYPT_BUILD (build tree, default: repository top),
# SIEVE_ENCRYPT_KEEP=1 keeps the scratch directory, TMPDIR.
#
# Same sieve_before script as test-lda.sh (encrypt to the envelope
# recipient). alice and dave have keys, bob has none, carol has a key and a
# ~/.dovecot.sieve filing encrypted messages into "Encrypted". LMTP
# prepends Return-Path: and Received: (Delivered-To: if configured); the
# verifier skips them. The instance is stopped on every exit (trap).
#
# Prints PASS:/FAIL:/SKIP: lines and "N passed, N failed"; exits 1 if any
# check failed.
set -eu

TOP=$(cd "$(dirname "$0")/../.." && pwd)
DC_TOP=$TOP
. "$TOP/tests/lib/keys.sh"
. "$TOP/tests/lib/dovecot.sh"
VERIFY=$TOP/tests/tools/pgpmime-verify.py
MESSAGES=$TOP/tests/messages

if [ "$(id -u)" -ne 0 ]; then
	dc_skip "lmtp" "needs root to run a Dovecot service"
	dc_summary
	exit 0
fi

trap 'dc_cleanup' EXIT
trap 'exit 130' INT TERM

dc_init

setup_failed()
{
	echo "test-lmtp.sh: setting up $1 failed" >&2
	exit 1
}

declare -A FPR
for u in alice carol dave; do
	FPR[$u]=$(dc_add_user_with_key "$u" make_key) || setup_failed "keys"
done
dc_add_user bob
dc_kill_agents

dc_global_script 'require ["vnd.x.encrypt", "envelope", "variables"];
if envelope :matches "to" "*" {
  encrypt "${1}";
}'
dc_user_script carol 'require ["fileinto", "mailbox"];
if header :contains "Content-Type" "multipart/encrypted" {
  fileinto :create "Encrypted";
  stop;
}'

# One transaction per line: message, then its recipients (nobody@ does not
# exist: its RCPT must be refused without harming the others)
TRANSACTIONS="
01-plain-lf.eml alice bob carol
02-plain-crlf.eml bob alice
03-alternative.eml carol dave bob alice
04-mixed-attachment.eml alice nobody dave
05-utf8-8bit.eml dave
06-folded-content-type.eml alice carol
07-no-content-headers.eml bob alice
09-pgp-mime-encrypted.eml alice bob carol
10-inline-pgp.eml alice
11-smime-enveloped.eml dave alice
12-smime-signed.eml alice carol
13-inline-pgp-base64.eml dave
14-pgp-clearsigned.eml alice
18-header-only-no-newline.eml bob alice dave
19-qp-short-body.eml alice bob
"

SPEC=$DC_DIR/lmtp.spec
SENT=$DC_DIR/sent
mkdir -p "$SENT"
: >"$SPEC"
while read -r msg rcpts; do
	[ -n "$msg" ] || continue
	addrs=
	for r in $rcpts; do addrs="$addrs $r@example.org"; done
	printf '%s\t%s\t%s\n' "$MESSAGES/$msg" "$SENT/$msg" "${addrs# }" \
		>>"$SPEC"
done <<<"$TRANSACTIONS"

# --- deliver in one LMTP session -----------------------------------------

t="lmtp: start a private instance on 127.0.0.1"
if dc_lmtp_start; then
	dc_pass "$t (port $DC_LMTP_PORT)"
else
	dc_fail "$t" "see messages above"
	dc_summary
	exit 1
fi

REPLIES=$DC_DIR/lmtp.replies
rc=0
dc_lmtp_send "$SPEC" >"$REPLIES" 2>"$DC_DIR/lmtp.err" || rc=$?

t="lmtp: stop the instance"
dc_lmtp_stop
if [ -s "$DC_DIR/run/master.pid" ] &&
	kill -0 "$(cat "$DC_DIR/run/master.pid")" 2>/dev/null; then
	dc_fail "$t" "master still running"
else
	dc_pass "$t"
fi

# every recipient but nobody@ accepted, nobody@ refused with 550
t="lmtp: one session, $(grep -c . "$SPEC") transactions, per-recipient replies"
expected=0
while read -r msg rcpts; do
	[ -n "$msg" ] || continue
	for r in $rcpts; do expected=$((expected + 1)); done
done <<<"$TRANSACTIONS"
got=$(grep -c . "$REPLIES" || :)
bad=$(awk '$1 != 250 && $2 != "nobody@example.org"' "$REPLIES")
nobody=$(awk '$2 == "nobody@example.org" { print $1 }' "$REPLIES")
if [ "$got" -ne "$expected" ]; then
	dc_fail "$t" "$got replies for $expected recipients (client:" \
		"$(head -c 300 "$DC_DIR/lmtp.err"))"
elif [ -n "$bad" ]; then
	dc_fail "$t" "refused: $(printf '%s' "$bad" | head -n 2 | tr '\n' ';')"
elif [ "$nobody" != 550 ]; then
	dc_fail "$t" "unknown recipient got '$nobody', expected 550"
elif [ "$rc" -ne 1 ]; then
	dc_fail "$t" "client exit code $rc, expected 1 (one refused RCPT)"
else
	dc_pass "$t"
fi

# --- check each delivery ---------------------------------------------------

# stored_for NAME MSGID: the stored file of NAME holding Message-ID MSGID
stored_for()
{
	local f
	dc_all_files "$(dc_maildir "$1")" | while IFS= read -r f; do
		if grep -qF "Message-ID: <$2>" "$f"; then
			printf '%s\n' "$f"
		fi
	done
}

while read -r code rcpt msgfile reply; do
	[ "$code" = 250 ] || continue
	name=${rcpt%@*}
	base=$(basename "$msgfile")
	sid=$(printf '%s\n' "$reply" | awk '{ print $3 }')
	msgid=$(sed -n 's/^Message-ID: <\(.*\)>.*/\1/p' "$msgfile" |
		head -n 1)
	case $name in
	bob) mode=plain ;;
	*) mode=$(dc_expect_of "$msgfile") ;;
	esac
	t="lmtp $name $base ($mode)"
	files=$(stored_for "$name" "$msgid")
	n=$(printf '%s' "$files" | grep -c . || :)
	if [ "$n" -ne 1 ]; then
		dc_fail "$t" "$n stored messages with Message-ID <$msgid>"
		continue
	fi
	folder=INBOX
	case $files in */Maildir/.Encrypted/*) folder=Encrypted ;; esac
	want=INBOX
	[ "$name" != carol ] || [ "$mode" = plain ] || want=Encrypted
	if [ "$folder" != "$want" ]; then
		dc_fail "$t" "stored in $folder, expected $want"
		continue
	fi
	sizes=$(dc_plugin_sizes "$DC_LOG" "$sid")
	extra=()
	case $mode in
	encrypted)
		if [ -z "$sizes" ]; then
			dc_fail "$t" "no 'encrypted message' log line for" \
				"session $sid"
			continue
		fi
		extra=(--plugin-sizes "$sizes")
		keyid=${FPR[$name]: -16}
		if ! grep -F "<$sid>: " "$DC_LOG" |
			grep -q "encrypted message to key $keyid "; then
			dc_fail "$t" "log does not name key $keyid"
			continue
		fi
		;;
	*)
		if [ -n "$sizes" ]; then
			dc_fail "$t" "plugin encrypted it (log: $sizes)"
			continue
		fi
		;;
	esac
	if out=$(python3 "$VERIFY" --lmtp --expect "$mode" "${extra[@]}" \
		"$SENT/$base" "$files" "$(dc_secret_home "$name")" 2>&1); then
		dc_pass "$t: $out"
	else
		dc_fail "$t" "$out"
	fi
done <"$REPLIES"

t="lmtp: bob (no keyring): error logged, implicit keep"
n=$(grep "lmtp(bob@example.org).*encrypt action: cannot encrypt" "$DC_LOG" |
	grep -c "keyring directory .* does not exist" || :)
want=0
while read -r code rcpt msgfile reply; do
	# encrypted messages are left alone before the keyring is looked at
	if [ "$code" = 250 ] && [ "$rcpt" = bob@example.org ] &&
		[ "$(dc_expect_of "$msgfile")" != unchanged ]; then
		want=$((want + 1))
	fi
done <"$REPLIES"
if [ "$n" -eq "$want" ] && [ "$n" -gt 0 ]; then
	dc_pass "$t ($n messages)"
else
	dc_fail "$t" "$n errors logged for $want deliveries"
fi

t="lmtp: no Fatal/Panic in the log"
if grep -Eq 'Fatal:|Panic:' "$DC_LOG"; then
	dc_fail "$t" "$(grep -Em1 'Fatal:|Panic:' "$DC_LOG" | cut -c1-200)"
else
	dc_pass "$t"
fi

# --- no stray processes ----------------------------------------------------

dc_kill_agents
t="lmtp: no leftover processes (dovecot, gpg-agent)"
sleep 0.2
left=$(dc_leftover_processes)
if [ -z "$left" ]; then
	dc_pass "$t"
else
	dc_fail "$t" "$(printf '%s' "$left" | head -n 3 | tr '\n' ';')"
fi

dc_cleanup
dc_summary
