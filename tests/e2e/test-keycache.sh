#!/bin/bash
# test-keycache.sh: the key listings that an LMTP process reuses
# (src/sieve-encrypt-keycache.c) never answer for another keyring, a
# changed keyring or a key that expired since.
#
# One LMTP instance; every step is one LMTP connection, served by the same
# lmtp process (checked: the pid in the log lines). The global script
# encrypts to the address in the X-Key header field if there is one, else
# to the envelope recipient. Under a child subreaper, which reaps every
# sieve-encrypt-gpg-exec (gpgme double-forks it) and so counts the gpg
# runs of each step.
#   0. bob: the process's first delivery (gpgme's engine discovery).
#   1. alice, twice: both encrypted; the second runs gpg once (the
#      encryption: the listing came from the cache), the first twice.
#   2. bob, X-Key alice's address: bob's keyring has no key for it, so
#      the message is not encrypted ("no public key") although the same
#      pattern was listed for alice's keyring.
#   3. alice's keyring gets her key's revocation (gpg --import writes a new
#      file): the next delivery fails with "is revoked", stored plain.
#   4. carol's key expires 25 s after it was made: delivered before, it is
#      encrypted; after the expiry, in the same process, "is expired".
#   5. dave's keyring is rewritten in place with other content of the same
#      size and the old modification time (touch -r): listed again
#      (status change time), not encrypted to the old key.
#
# Needs root (SKIP otherwise). Prints PASS:/FAIL:/SKIP: lines and
# "N passed, N failed"; exits 1 on failure. Environment:
# SIEVE_ENCRYPT_BUILD, SIEVE_ENCRYPT_KEEP, TMPDIR.
set -eu

TOP=$(cd "$(dirname "$0")/../.." && pwd)

if [ "$(id -u)" -eq 0 ] && [ "${SIEVE_ENCRYPT_REAPER:-}" != "$PPID" ]; then
	REAPLOG=$(mktemp "${TMPDIR:-/tmp}/test-keycache-reaper.XXXXXX")
	export KEYCACHE_REAPLOG=$REAPLOG
	exec python3 "$TOP/tests/tools/subreaper.py" "$REAPLOG" -- "$0" "$@"
fi

DC_TOP=$TOP
. "$TOP/tests/lib/keys.sh"
. "$TOP/tests/lib/dovecot.sh"

if [ "$(id -u)" -ne 0 ]; then
	dc_skip "keycache" "needs root to run a Dovecot LMTP service"
	dc_summary
	exit 0
fi
REAPLOG=$KEYCACHE_REAPLOG

trap 'dc_cleanup; rm -f "$REAPLOG"' EXIT
trap 'exit 130' INT TERM

dc_init

setup_failed()
{
	echo "test-keycache.sh: setting up keys failed: $*" >&2
	exit 1
}

dc_add_user_with_key alice make_key >/dev/null || setup_failed alice
dc_add_user_with_key bob make_key >/dev/null || setup_failed bob
dc_add_user_with_key dave make_key >/dev/null || setup_failed dave
# a second key for dave's address whose keyring has the same size, for
# step 5 (the sizes of signatures vary by a few bytes: try a few keys)
dave2_fpr=
for i in 1 2 3 4 5 6 7 8 9 10 11 12; do
	fpr=$(make_key "$DC_DIR/secret/dave2-$i" "Dave" "dave@$DC_DOMAIN") &&
		keys_export_public "$DC_DIR/secret/dave2-$i" \
			"$DC_DIR/dave2-pub-$i" "$fpr" || setup_failed dave2
	keys_kill_agents "$DC_DIR/secret/dave2-$i" 2>/dev/null || :
	if [ "$(stat -c %s "$DC_DIR/dave2-pub-$i/pubring.kbx")" = \
		"$(stat -c %s "$(dc_home dave)/.gnupg/pubring.kbx")" ]; then
		dave2_fpr=$fpr
		DAVE2_RING=$DC_DIR/dave2-pub-$i/pubring.kbx
		break
	fi
done
# carol last: her key expires 25 s from now
dc_add_user carol
CAROL_SECRET=$(dc_secret_home carol)
carol_fpr=$(keys_generate "$CAROL_SECRET" "Carol <carol@$DC_DOMAIN>" \
	future-default default seconds=25) || setup_failed carol
CAROL_EXPIRES=$((SECONDS + 25))
keys_export_public "$CAROL_SECRET" "$(dc_home carol)/.gnupg" "$carol_fpr" &&
	keys_give "$(dc_home carol)/.gnupg" "$(dc_user_ids carol)" ||
	setup_failed carol
dc_kill_agents

dc_global_script 'require ["vnd.x.encrypt", "envelope", "variables"];
if header :matches "X-Key" "*" {
  encrypt "${1}";
} elsif envelope :matches "to" "*" {
  encrypt "${1}";
}'

n=0
# message NAME [X-KEY]: a small message file; prints its path
message()
{
	local f
	n=$((n + 1))
	f=$DC_DIR/msg.$n
	{
		printf 'From: <sender@example.net>\nTo: <%s@%s>\n' "$1" "$DC_DOMAIN"
		printf 'Subject: step %d\nMessage-ID: <kc-%d@example.net>\n' "$n" "$n"
		[ -z "${2:-}" ] || printf 'X-Key: %s\n' "$2"
		printf '\nhello %s\n' "$1"
	} >"$f"
	printf '%s\n' "$f"
}

LMTP_PIDS=
# deliver NAME [X-KEY]: one message over one LMTP connection; sets STORED
# (the stored file), LOG (the log lines of the step), RUNS (how many
# sieve-encrypt-gpg-exec the reaper reaped)
deliver()
{
	local name=$1 msg spec log_mark reap_mark before
	msg=$(message "$@")
	spec=$DC_DIR/spec.$n
	printf '%s\t%s\t%s\n' "$msg" "$msg.sent" "$name@$DC_DOMAIN" >"$spec"
	log_mark=$(wc -l <"$DC_LOG")
	reap_mark=$(wc -l <"$REAPLOG")
	before=$(dc_count_files "$(dc_maildir "$name")")
	dc_lmtp_send "$spec" >/dev/null || :
	sleep 0.3
	LOG=$(tail -n +"$((log_mark + 1))" "$DC_LOG")
	RUNS=$(tail -n +"$((reap_mark + 1))" "$REAPLOG" |
		grep -c ' sieve-encrypt-g' || :)
	STORED=
	[ "$(dc_count_files "$(dc_maildir "$name")")" -le "$before" ] ||
		STORED=$(dc_stored_files "$(dc_maildir "$name")" | tail -n 1)
	LMTP_PIDS="$LMTP_PIDS $(printf '%s\n' "$LOG" |
		sed -n 's/.* lmtp(\([^)]*\))<\([0-9]*\)>.*/\2/p' | sort -u)"
}

encrypted()
{
	[ -n "$STORED" ] && grep -qi '^Content-Type: multipart/encrypted' "$STORED"
}

# check NAME WANT TEXT: WANT "encrypted" or a log text (stored plain)
check()
{
	local name=$1 want=$2 what=$3
	if [ "$want" = encrypted ]; then
		if encrypted && printf '%s\n' "$LOG" | grep -q 'encrypted message to key'
		then
			dc_pass "$name: $what"
		else
			dc_fail "$name: $what" "stored: ${STORED:-nothing}; $(printf '%s\n' "$LOG" | grep encrypt | head -n 2)"
		fi
	elif [ -n "$STORED" ] && ! encrypted &&
		printf '%s\n' "$LOG" | grep -q -- "$want"; then
		dc_pass "$name: $what"
	else
		dc_fail "$name: $what" "stored: ${STORED:-nothing} $(encrypted && echo '(encrypted)'); $(printf '%s\n' "$LOG" | grep encrypt | head -n 2)"
	fi
}

# One lmtp process serves every delivery: its cache is what is tested
# (with more, the master may hand a connection to a second process while
# the first is still finishing the previous one)
cat >"$DC_DIR/extra.conf" <<EOF
service lmtp {
  process_limit = 1
}
EOF
dc_write_config
dc_lmtp_start || { dc_fail "start LMTP" "see above"; dc_summary; exit 1; }

# 0. gpgme's engine discovery (gpg --version), once per process
deliver bob
check "bob, first" encrypted "encrypted (and gpgme's engine discovery)"

# 1. the same keyring twice
deliver alice
check "alice, first" encrypted "encrypted"
first_runs=$RUNS
deliver alice
check "alice, second" encrypted "encrypted"
if [ "$first_runs" -eq 2 ] && [ "$RUNS" -eq 1 ]; then
	dc_pass "alice: gpg ran twice (listing, encryption), then once"
else
	dc_fail "alice: gpg ran twice, then once" \
		"$first_runs, then $RUNS runs of sieve-encrypt-gpg-exec"
fi

# 2. another user's keyring, the same pattern
deliver bob "alice@$DC_DOMAIN"
check "bob, X-Key alice" "no public key for .alice@" \
	"alice's listing does not answer for bob's keyring"

# 3. the keyring changes
sed 's/^:-----BEGIN/-----BEGIN/' \
	"$(dc_secret_home alice)/openpgp-revocs.d/"*.rev |
	keys_gpg "$(dc_home alice)/.gnupg" --import 2>/dev/null ||
	setup_failed "revoking alice's key"
keys_give "$(dc_home alice)/.gnupg" "$(dc_user_ids alice)"
deliver alice
check "alice, revoked" "is revoked" "a changed keyring is listed again"

# 4. time alone
deliver carol
if [ "$SECONDS" -lt "$CAROL_EXPIRES" ]; then
	check "carol, before expiry" encrypted "encrypted"
	sleep "$((CAROL_EXPIRES - SECONDS + 2))"
	deliver carol
	check "carol, after expiry" "is expired" \
		"a key that expired since the listing is not used"
else
	dc_fail "carol: delivered before her key expired" \
		"set-up took too long ($SECONDS s)"
fi

# 5. same size, same mtime, other content
deliver dave
check "dave, first" encrypted "encrypted"
ring=$(dc_home dave)/.gnupg/pubring.kbx
if [ -n "$dave2_fpr" ]; then
	cp -p "$ring" "$DC_DIR/dave-ring.old"
	cat "$DAVE2_RING" >"$ring"
	touch -r "$DC_DIR/dave-ring.old" "$ring"
	deliver dave
	if encrypted && printf '%s\n' "$LOG" |
		grep -q "encrypted message to key ${dave2_fpr: -16}"; then
		dc_pass "dave: keyring rewritten in place (same size and mtime): encrypted to the new key"
	else
		dc_fail "dave: keyring rewritten in place: the new key" \
			"$(printf '%s\n' "$LOG" | grep encrypt | head -n 2)"
	fi
else
	dc_skip "dave: keyring rewritten in place" \
		"no second keyring of the same size in 12 tries"
fi

dc_lmtp_stop

pids=$(printf '%s\n' $LMTP_PIDS | sort -u | grep -c . || :)
if [ "$pids" -eq 1 ]; then
	dc_pass "all steps in one lmtp process"
else
	dc_fail "all steps in one lmtp process" "pids:$LMTP_PIDS"
fi
out=$(dc_log_grep 'Panic:|Fatal:' | head -n 2 || :)
if [ -z "$out" ]; then
	dc_pass "no panic or fatal error in the log"
else
	dc_fail "no panic or fatal error in the log" "$out"
fi

dc_summary
