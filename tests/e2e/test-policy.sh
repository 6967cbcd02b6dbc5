#!/bin/bash
# test-policy.sh: failure handling through the real dovecot-lda.
#
# For each way encryption can fail (unknown key, gpg hanging, crashing or
# missing), with sieve_encrypt_on_failure = keep and = tempfail: the exit
# code of dovecot-lda, what is stored, what is logged, and that no gpg
# process is left behind. Also: users who never opted in are not affected
# by the policy; a user script that omits the key list without default keys,
# and scripts with errors, are rejected with the line named (sievec and
# delivery).
#
# Prints PASS:/FAIL: lines and "N passed, N failed"; exits 1 on failure.
set -eu

TOP=$(cd "$(dirname "$0")/../.." && pwd)
DC_TOP=$TOP
. "$TOP/tests/lib/keys.sh"
. "$TOP/tests/lib/dovecot.sh"
VERIFY=$TOP/tests/tools/pgpmime-verify.py
FAKES=$TOP/tests/svtest/bin

trap 'dc_cleanup' EXIT
trap 'exit 130' INT TERM

dc_init
dc_add_user_with_key alice make_key >/dev/null ||
	{ echo "test-policy.sh: key set-up failed" >&2; exit 1; }
dc_add_user bob
dc_kill_agents

# The fake gpg programs must be reachable by the mail account
mkdir -p "$DC_DIR/bin"
cp "$FAKES"/gpg-hang "$FAKES"/gpg-crash "$DC_DIR/bin/"
chmod 755 "$DC_DIR/bin" "$DC_DIR/bin"/*

MSG=$DC_DIR/msg.eml
cat >"$MSG" <<'MSG'
From: Bob <bob@example.net>
To: Alice <alice@example.org>
Subject: Policy test
Message-ID: <policy@example.net>
Content-Type: text/plain; charset=us-ascii

Secret text.
MSG


N=0
# deliver NAME: deliver $MSG to NAME; sets RC, NEW (new files), LOGF
deliver()
{
	local name=$1 before
	N=$((N + 1))
	LOGF=$DC_DIR/deliver-$N.log
	: >"$LOGF"
	chown "$DC_UID:$DC_GID" "$LOGF"
	before=$DC_DIR/before.$N
	dc_all_files "$(dc_maildir "$name")" >"$before"
	RC=0
	dc_lda "$name" "$MSG" -o "log_path=$LOGF" || RC=$?
	NEW=$(dc_new_files "$before" "$(dc_maildir "$name")")
}

count() { [ -z "$1" ] && echo 0 || printf '%s\n' "$1" | wc -l; }

# expect NAME RC STORED(plain|encrypted|none) LOG-REGEX
expect()
{
	local name=$1 rc=$2 stored=$3 pattern=$4 n
	n=$(count "$NEW")
	if [ "$RC" -ne "$rc" ]; then
		dc_fail "$name" "dovecot-lda exit code $RC, expected $rc"
		return
	fi
	case "$stored" in
	none)
		[ "$n" -eq 0 ] || { dc_fail "$name" "$n message(s) stored"; return; } ;;
	plain)
		[ "$n" -eq 1 ] || { dc_fail "$name" "$n message(s) stored"; return; }
		python3 "$VERIFY" --expect-plain "$MSG" "$NEW" >/dev/null ||
			{ dc_fail "$name" "stored message is not the original"; return; } ;;
	encrypted)
		[ "$n" -eq 1 ] || { dc_fail "$name" "$n message(s) stored"; return; }
		python3 "$VERIFY" "$MSG" "$NEW" "$(dc_secret_home alice)" >/dev/null ||
			{ dc_fail "$name" "stored message is not encrypted right"; return; } ;;
	esac
	if [ -n "$pattern" ] && ! grep -qE -- "$pattern" "$LOGF"; then
		dc_fail "$name" "log lacks /$pattern/"
		return
	fi
	if grep -q "Secret text" "$LOGF"; then
		dc_fail "$name" "message content in the log"
		return
	fi
	if [ -n "$(dc_leftover_processes | grep -v -- '-agent' || :)" ]; then
		dc_fail "$name" "processes left behind: $(dc_leftover_processes)"
		return
	fi
	# this session only (-s 0): other runs on the machine have their own
	if pgrep -s 0 -f "sleep 600" >/dev/null; then
		dc_fail "$name" "a hanging gpg was left running"
		return
	fi
	dc_pass "$name"
}

err_line='lda\((alice|bob)@example.org\).*(Error|error).*encrypt action: .*(alice@example.org|nobody@example.org)'

# --- unknown key, command form ----------------------------------------------
dc_global_script 'require ["vnd.x.encrypt"];
encrypt "nobody@example.org";'

dc_configure
deliver alice
expect "keep (default): unknown key -> original stored, error logged" \
	0 plain "lda\(alice@example.org\).*encrypt action: cannot encrypt message to .nobody@example.org.: no public key"

dc_configure sieve_encrypt_on_failure=tempfail
deliver alice
expect "tempfail: unknown key -> exit 75, nothing stored" \
	75 none "lda\(alice@example.org\).*encrypt action: cannot encrypt message to .nobody@example.org.: no public key"

# --- gpg faults -----------------------------------------------------------------
dc_global_script 'require ["vnd.x.encrypt"];
encrypt "alice@example.org";'

dc_configure sieve_encrypt_gpg_binary="$DC_DIR/bin/gpg-hang" sieve_encrypt_timeout=2s
deliver alice
expect "keep: gpg hangs -> killed after the timeout, original stored" \
	0 plain "gpg did not finish within 2 seconds \(killed\)"

dc_configure sieve_encrypt_gpg_binary="$DC_DIR/bin/gpg-hang" sieve_encrypt_timeout=2s \
	sieve_encrypt_on_failure=tempfail
deliver alice
expect "tempfail: gpg hangs -> exit 75, nothing stored" \
	75 none "gpg did not finish within 2 seconds \(killed\)"

dc_configure sieve_encrypt_gpg_binary="$DC_DIR/bin/gpg-crash"
deliver alice
expect "keep: gpg crashes while encrypting -> original stored" \
	0 plain "gpg ended without completing the encryption"

dc_configure sieve_encrypt_gpg_binary="$DC_DIR/bin/gpg-crash" sieve_encrypt_on_failure=tempfail
deliver alice
expect "tempfail: gpg crashes while encrypting -> exit 75, nothing stored" \
	75 none "gpg ended without completing the encryption"

dc_configure sieve_encrypt_gpg_binary="$DC_DIR/bin/no-such-gpg" sieve_encrypt_on_failure=tempfail
deliver alice
expect "tempfail: gpg missing -> exit 75, nothing stored" \
	75 none "no-such-gpg: not executable"

dc_configure sieve_encrypt_on_failure=tempfail
deliver alice
expect "tempfail policy, working gpg -> stored encrypted" \
	0 encrypted "encrypted message to key"

# --- opting in: the test form is not subject to the policy ------------------
dc_global_script 'require ["vnd.x.encrypt"];
if encrypt { }'
dc_configure sieve_encrypt_on_failure=tempfail sieve_encrypt_default_keys=%u
deliver bob
expect "tempfail, test form, user without keyring -> plaintext, no error" \
	0 plain "encrypt action: message not encrypted: keyring directory"
if grep -qiE "error" "$LOGF"; then
	dc_fail "no error logged for a user who never opted in" "$(grep -i error "$LOGF" | head -n 1)"
else
	dc_pass "no error logged for a user who never opted in"
fi
deliver alice
expect "tempfail, test form, user with keyring -> encrypted" \
	0 encrypted "encrypted message to key"

# --- scripts with errors ------------------------------------------------------
bad=$DC_DIR/sieve/bad.sieve
printf 'require "vnd.x.encrypt";\n\nencrypt "Alice Example";\n' >"$bad"
out=$(dc_sievec_run -c "$DC_CONF" "$bad" 2>&1) && rc=0 || rc=$?
if [ "$rc" -ne 0 ] && printf '%s' "$out" | grep -q "bad: line 3: error: the encrypt command: invalid key .Alice Example."; then
	dc_pass "sievec rejects an invalid key, naming the line"
else
	dc_fail "sievec rejects an invalid key, naming the line" "rc=$rc: $out"
fi

warn=$DC_DIR/sieve/warn.sieve
printf 'require ["vnd.x.encrypt", "fileinto"];\nfileinto "Copy";\nencrypt "alice@example.org";\n' >"$warn"
out=$(dc_sievec_run -c "$DC_CONF" "$warn" 2>&1) && rc=0 || rc=$?
if [ "$rc" -eq 0 ] && printf '%s' "$out" | grep -q "warn: line 3: warning: the encrypt command comes after the fileinto command at line 2"; then
	dc_pass "sievec warns about a fileinto before encrypt"
else
	dc_fail "sievec warns about a fileinto before encrypt" "rc=$rc: $out"
fi

# Invalid settings make the extension unavailable (2.3) or the
# configuration invalid (2.4), with Dovecot's parser's message: 2.3
# "Invalid setting KEY: ERROR", 2.4 "... line N: KEY: ERROR"
ok_script=$DC_DIR/sieve/ok.sieve
printf 'require "vnd.x.encrypt";\nencrypt "alice@example.org";\n' >"$ok_script"
for setting in "sieve_encrypt_timeout=0|must be larger than 0" \
	"sieve_encrypt_on_failure=sometimes|sieve_encrypt_on_failure: Invalid value: sometimes" \
	"sieve_encrypt_compress=perhaps|sieve_encrypt_compress: Invalid boolean value: perhaps"; do
	dc_configure "${setting%%|*}"
	out=$(dc_sievec_run -c "$DC_CONF" "$ok_script" 2>&1) && rc=0 || rc=$?
	if [ "$rc" -ne 0 ] && printf '%s' "$out" | grep -qF "${setting#*|}"; then
		dc_pass "invalid ${setting%%|*} is rejected"
	else
		dc_fail "invalid ${setting%%|*} is rejected" "rc=$rc: $out"
	fi
done
dc_configure

# A user's own script may use the extension when the admin allows it; one
# without a key list needs default keys, else it does not compile.
dc_global_script 'require ["vnd.x.encrypt"];'
dc_configure sieve_global_extensions= sieve_extensions=+vnd.x.encrypt
dc_user_script alice 'require ["vnd.x.encrypt"];
encrypt;'
deliver alice
expect "user script without keys and no default keys: not compiled, original stored" \
	0 plain "Failed to compile script"
# Pigeonhole writes the details into the user's own log
user_log=$(dc_home alice)/.dovecot.sieve.log
if grep -qE "line 2: error: the encrypt command has no key list argument and no default keys are configured" "$user_log" 2>/dev/null; then
	dc_pass "the compile error names the line and the cause"
else
	dc_fail "the compile error names the line and the cause" \
		"$(cat "$user_log" 2>/dev/null | head -n 3)"
fi

dc_configure sieve_global_extensions= sieve_extensions=+vnd.x.encrypt \
	sieve_encrypt_default_keys=%u
rm -f "$(dc_home alice)"/.dovecot.svbin
deliver alice
expect "user script without keys, default keys set -> encrypted" \
	0 encrypted "encrypted message to key"

dc_summary
