#!/bin/bash
# test-noleak.sh: no plaintext on disk, no network, nothing left behind.
#
# A delivery through dovecot-lda is traced with strace (following gpg too).
# The message body carries a marker string that must only ever travel
# through pipes to gpg: no write to a file (Maildir, temporary file, log) or
# socket may contain it. The message is larger than what the plugin keeps in
# memory, so its temporary file is exercised. The message comes from a
# regular file, so that dovecot-lda itself needs no spool copy of it (it
# writes non-seekable input to mail_temp_dir, which is Dovecot's business,
# see doc/threat-model.md).
# A keyring whose gpg.conf asks for keyservers and WKD must not make gpg
# connect anywhere.
#
# Prints PASS:/FAIL: lines and "N passed, N failed"; exits 1 on failure.
set -eu

TOP=$(cd "$(dirname "$0")/../.." && pwd)
DC_TOP=$TOP
. "$TOP/tests/lib/keys.sh"
. "$TOP/tests/lib/dovecot.sh"
VERIFY=$TOP/tests/tools/pgpmime-verify.py

trap 'dc_cleanup' EXIT
trap 'exit 130' INT TERM

command -v strace >/dev/null || { echo "strace not installed" >&2; exit 1; }

dc_init
dc_add_user_with_key alice make_key >/dev/null ||
	{ echo "test-noleak.sh: key set-up failed" >&2; exit 1; }
dc_kill_agents
# gpg options that would reach out to the network if they were honoured
printf '%s\n' 'auto-key-locate wkd,keyserver,local' \
	'keyserver hkp://127.0.0.1:1' 'auto-key-retrieve' \
	>>"$(dc_home alice)/.gnupg/gpg.conf"

dc_global_script 'require ["vnd.x.encrypt"];
if encrypt "nobody-here@example.net" { keep; }
encrypt "alice@example.org";'

marker="PLAINTEXT-MARKER-$$-$RANDOM"
msg=$DC_DIR/msg.eml
{
	printf 'From: Bob <bob@example.net>\nTo: alice@example.org\n'
	printf 'Subject: leak test\nContent-Type: text/plain\n\n'
	for i in $(seq 1 6000); do
		printf 'line %05d %s lorem ipsum dolor sit amet\n' "$i" "$marker"
	done
} >"$msg"
chmod 644 "$msg"

trace=$DC_DIR/strace.out
# A temporary directory of its own, to see what is left in it
tmpdir=$DC_DIR/mail-tmp
mkdir -m 700 "$tmpdir"
chown "$DC_UID:$DC_GID" "$tmpdir"
rc=0
strace -f -qq -y -s 100000 -o "$trace" \
	-e trace=write,writev,pwrite64,pwritev,sendto,sendmsg,connect \
	runuser -u "$DC_ACCOUNT" -- env -i PATH="$DC_PATH" \
	HOME="$(dc_home alice)" USER=alice@example.org \
	"$DC_LDA" -c "$DC_CONF" -o "mail_temp_dir=$tmpdir" \
	-e -f bob@example.net -a alice@example.org \
	<"$msg" >/dev/null 2>&1 || rc=$?

# The run itself: the script first asks for a key that is nowhere (no
# network lookup may find it), then encrypts to alice.
if [ "$rc" -eq 0 ]; then
	dc_pass "delivery under strace succeeded"
else
	dc_fail "delivery under strace succeeded" "dovecot-lda exit code $rc"
fi
stored=$(dc_stored_files "$(dc_maildir alice)" | tail -n 1)
if [ -n "$stored" ] && python3 "$VERIFY" "$msg" "$stored" \
	"$(dc_secret_home alice)" >/dev/null; then
	dc_pass "stored message is encrypted and decrypts to the original"
else
	dc_fail "stored message is encrypted and decrypts to the original" \
		"${stored:-nothing stored}"
fi

# Writes that carry the marker: only into pipes
leaks=$(grep -F "$marker" "$trace" |
	grep -E '(write|writev|pwrite64|pwritev|sendto|sendmsg)\(' |
	grep -vE '\(([0-9]+)<pipe:\[[0-9]+\]>' || :)
if [ -z "$leaks" ]; then
	dc_pass "plaintext only ever written into pipes to gpg"
else
	dc_fail "plaintext only ever written into pipes to gpg" \
		"$(printf '%s\n' "$leaks" | head -n 1 | cut -c1-160)"
fi
if grep -F "$marker" "$trace" | grep -q '<pipe:'; then
	dc_pass "the trace saw the plaintext go to gpg (the check is live)"
else
	dc_fail "the trace saw the plaintext go to gpg (the check is live)" \
		"marker not found in any pipe write"
fi
if grep -qF "$marker" "$stored" "$DC_LOG" 2>/dev/null; then
	dc_fail "no plaintext in the Maildir or the log" "marker found"
else
	dc_pass "no plaintext in the Maildir or the log"
fi

# Network: no connect() to an inet socket by anyone in the delivery
inet=$(grep -E 'connect\(.*(AF_INET|AF_INET6)' "$trace" || :)
if [ -z "$inet" ]; then
	dc_pass "no network connection attempted (keyserver/WKD configured)"
else
	dc_fail "no network connection attempted (keyserver/WKD configured)" \
		"$(printf '%s\n' "$inet" | head -n 1 | cut -c1-160)"
fi
if grep -q "message not encrypted: no public key for .nobody-here@example.net." "$DC_LOG"; then
	dc_pass "a key that is not in the keyring is not looked up elsewhere"
else
	dc_fail "a key that is not in the keyring is not looked up elsewhere" \
		"$(grep -i encrypt "$DC_LOG" | tail -n 1)"
fi

# The ciphertext went through a temporary file, and nothing is left of it
if grep -qE "write\([0-9]+<$tmpdir/dovecot\." "$trace"; then
	dc_pass "the result went through a temporary file (the check is live)"
else
	dc_fail "the result went through a temporary file (the check is live)" \
		"no write into $tmpdir seen"
fi
left_tmp=$(ls -A "$tmpdir")
if [ -z "$left_tmp" ]; then
	dc_pass "no temporary file left behind"
else
	dc_fail "no temporary file left behind" "$left_tmp"
fi
left=$(dc_leftover_processes | grep -v -- '-agent' || :)
if [ -z "$left" ]; then
	dc_pass "no process left behind"
else
	dc_fail "no process left behind" "$left"
fi

dc_summary
