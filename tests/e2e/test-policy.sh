#!/bin/bash
# test-policy.sh: failure handling through the real dovecot-lda.
#
# For each way encryption can fail (unknown key, gpg hanging, crashing or
# missing), with sieve_encrypt_on_failure = keep and = tempfail: the exit
# code of dovecot-lda, what is stored, what is logged, and that no gpg
# process is left behind. Also: users who never opted in are not affected
# by the policy, but an invalid key in sieve_encrypt_default_keys is an
# error; a user script that omits the key list without default keys, and
# scripts with errors, are rejected with the line named (sievec and
# delivery); invalid settings fail every encrypt temporarily (LDA, and
# LMTP where the other recipients are delivered as usual).
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
cp "$FAKES"/gpg-crash "$DC_DIR/bin/"
# gpg-hang with a sleep of its own, to be told apart from those of other
# runs on the machine
HANG_SLEEP="sleep 600.$$"
sed "s/exec sleep 600\$/exec $HANG_SLEEP/" "$FAKES/gpg-hang" \
	>"$DC_DIR/bin/gpg-hang"
grep -q "$HANG_SLEEP" "$DC_DIR/bin/gpg-hang" ||
	{ echo "test-policy.sh: making gpg-hang failed" >&2; exit 1; }
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
	if grep -qE "Panic:|Fatal:" "$LOGF"; then
		dc_fail "$name" "$(grep -Em1 'Panic:|Fatal:' "$LOGF" | cut -c1-200)"
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
	if pgrep -f "^$HANG_SLEEP\$" >/dev/null; then
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

# --- an invalid default key is a configuration error ---------------------------
# %u@example.org with user names that contain a domain already: the test
# form is not just false (which stored every message in plaintext, logged
# at Info); the Error names the setting and the policy applies.
dc_configure sieve_encrypt_default_keys=%u@example.org
deliver alice
expect "keep, test form, default keys %u@example.org for alice@example.org -> Error, original stored" \
	0 plain "lda\(alice@example.org\).*Error: .*encrypt action: sieve_encrypt_default_keys: invalid key .alice@example.org@example.org."
dc_configure sieve_encrypt_default_keys=%u@example.org sieve_encrypt_on_failure=tempfail
deliver alice
expect "tempfail, test form, default keys %u@example.org for alice@example.org -> exit 75, nothing stored" \
	75 none "lda\(alice@example.org\).*Error: .*encrypt action: sieve_encrypt_default_keys: invalid key .alice@example.org@example.org."

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

# --- invalid settings: every encrypt fails temporarily (issue 12, class 8) --
# A mistyped value must neither crash the delivery (a binary precompiled by
# sievec used to make Pigeonhole 0.5 panic, exit 134) nor store plaintext
# (without the binary the script used to fail to compile, and the message
# was kept). sieve_encrypt_on_failure may be the mistyped setting, so it
# cannot decide: every delivery whose script runs encrypt (command or test
# form, with or without a key list) fails temporarily (dovecot-lda exit 75,
# LMTP 4xx for that recipient only) with an Error naming the setting.
# Dovecot 2.3 takes any value in plugin { } (doveconf -n exits 0); Dovecot
# 2.4 checks the plugin's settings itself: doveconf, dovecot and
# dovecot-lda refuse the configuration. What 2.4 cannot check beforehand
# (values in protocol lda { }, values from the userdb) reaches the plugin
# and fails as on 2.3.

# KEY=VALUE|the error Dovecot's settings parser gives for it
BAD_SETTINGS=(
	"sieve_encrypt_on_failure=tempfial|sieve_encrypt_on_failure: Invalid value: tempfial"
	"sieve_encrypt_timeout=soon|sieve_encrypt_timeout: Invalid time interval: soon"
	"sieve_encrypt_timeout=0|sieve_encrypt_timeout must be larger than 0"
	"sieve_encrypt_compress=perhaps|sieve_encrypt_compress: Invalid boolean value: perhaps"
)
# The scripts: command with keys, command with the default keys, test form
BAD_SCRIPTS=(
	'encrypt "alice@example.org";'
	'encrypt;'
	'if encrypt { }'
)
deferred_err='Error: .*encrypt action: invalid vnd.x.encrypt settings, message deferred \(temporary failure\) until they are fixed'

ok_script=$DC_DIR/sieve/ok.sieve
printf 'require "vnd.x.encrypt";\nencrypt "alice@example.org";\n' >"$ok_script"
if [ "$DC_V24" != yes ]; then
	for setting in "${BAD_SETTINGS[@]}"; do
		kv=${setting%%|*}
		msg=${setting#*|}
		dc_configure "$kv" sieve_encrypt_default_keys=%u
		t="2.3: $kv: doveconf -n accepts it (plugin settings are free-form)"
		if doveconf -c "$DC_CONF" -n >/dev/null 2>&1; then
			dc_pass "$t"
		else
			dc_fail "$t" "doveconf failed"
		fi
		t="2.3: $kv: sievec compiles, the error names the setting"
		out=$(dc_sievec_run -c "$DC_CONF" "$ok_script" 2>&1) && rc=0 || rc=$?
		if [ "$rc" -eq 0 ] && printf '%s' "$out" | grep -qF "$msg"; then
			dc_pass "$t"
		else
			dc_fail "$t" "rc=$rc: $out"
		fi
		for script in "${BAD_SCRIPTS[@]}"; do
			for binary in precompiled compiled-at-delivery; do
				# the binary comes from the valid configuration,
				# as when the admin ran sievec before the typo
				dc_configure sieve_encrypt_default_keys=%u
				dc_global_script "require [\"vnd.x.encrypt\"];
$script"
				[ "$binary" = precompiled ] ||
					rm -f "$DC_DIR/sieve/global.svbin"
				dc_configure "$kv" sieve_encrypt_default_keys=%u
				deliver alice
				expect "2.3: $kv, $binary '$script' -> exit 75, nothing stored" \
					75 none "$deferred_err: .*$msg"
			done
		done
	done
else
	for setting in "${BAD_SETTINGS[@]}"; do
		kv=${setting%%|*}
		msg=${setting#*|}
		dc_configure sieve_encrypt_default_keys=%u
		dc_global_script 'require ["vnd.x.encrypt"];
encrypt;'
		dc_configure "$kv" sieve_encrypt_default_keys=%u
		t="2.4: $kv: doveconf -n refuses it, naming the setting"
		out=$(doveconf -c "$DC_CONF" -n 2>&1) && rc=0 || rc=$?
		if [ "$rc" -ne 0 ] && printf '%s' "$out" | grep -qF "$msg"; then
			dc_pass "$t"
		else
			dc_fail "$t" "rc=$rc: $(printf '%s' "$out" | tail -n 1)"
		fi
		# dovecot-lda: a value Dovecot's parser rejects stops it
		# before anything runs (exit 89, Dovecot's FATAL_DEFAULT,
		# which an MTA takes as permanent: Postfix 5.3.0); one that
		# only the plugin's check rejects (the config process runs
		# that check for doveconf, not for dovecot-lda) reaches the
		# plugin: exit 75, as on 2.3
		t="2.4: $kv: dovecot-lda stores nothing, no crash"
		deliver alice
		if [ -n "$NEW" ] || [ "$RC" -eq 0 ] || [ "$RC" -eq 134 ]; then
			dc_fail "$t" "exit $RC, stored: ${NEW:-nothing}"
		elif [ "$RC" -eq 75 ] && ! grep -qE "$deferred_err: .*$msg" "$LOGF"; then
			dc_fail "$t" "exit 75 without the Error naming the setting"
		elif grep -q "Panic:" "$LOGF"; then
			dc_fail "$t" "$(grep -m1 'Panic:' "$LOGF")"
		else
			dc_pass "$t (exit $RC)"
		fi
	done
	# The config process checks the global values only: one in a
	# protocol filter reaches the plugin
	dc_configure sieve_encrypt_default_keys=%u
	printf 'protocol lda {\n  sieve_encrypt_timeout = 0\n}\n' >"$DC_DIR/extra.conf"
	dc_write_config
	for script in "${BAD_SCRIPTS[@]}"; do
		dc_global_script "require [\"vnd.x.encrypt\"];
$script"
		deliver alice
		expect "2.4: timeout = 0 in protocol lda { }, '$script' -> exit 75, nothing stored" \
			75 none "$deferred_err: .*sieve_encrypt_timeout must be larger than 0"
	done
	: >"$DC_DIR/extra.conf"
	dc_configure
fi

# LMTP: a recipient whose delivery runs encrypt with invalid settings gets
# 4xx; the others in the same transaction are delivered as usual. The
# global script encrypts for alice and carol (default keys: the user name),
# never for bob.
#
# lmtp_invalid_settings NAME DEFERRED ERROR RCPTS...: deliver in one LMTP
# session one transaction per RCPTS argument ("a@x b@x"), each with a
# message of its own; the users whose name matches the regexp DEFERRED must
# get 4xx, nothing stored and an Error matching ERROR; the others 250, no
# encrypt error (with invalid global settings, every user's log has the
# error about the settings themselves), alice's message stored encrypted
# (it decrypts to what was sent), bob's as sent.
LMTP_RUN=0
lmtp_invalid_settings()
{
	local name=$1 deferred=$2 error=$3 spec=$DC_DIR/lmtp-invalid.spec
	local replies=$DC_DIR/lmtp-invalid.replies code rcpt msg user t n i=0
	local file want mode out
	shift 3
	LMTP_RUN=$((LMTP_RUN + 1))
	: >"$spec"
	for rcpts in "$@"; do
		i=$((i + 1))
		msg=$DC_DIR/lmtp-invalid-$LMTP_RUN-$i.eml
		sed "s/^Message-ID: .*/Message-ID: <${msg##*/}>/" \
			"$MSG" >"$msg"
		printf '%s\t%s\t%s\n' "$msg" "$msg.sent" "$rcpts" >>"$spec"
	done
	: >"$DC_LOG"
	if ! dc_lmtp_start; then
		dc_fail "$name: LMTP starts" "see above"
		return
	fi
	dc_lmtp_send "$spec" >"$replies" 2>"$DC_DIR/lmtp.err" || :
	dc_lmtp_stop

	t="$name: one reply per recipient"
	n=$(grep -c . "$replies" || :)
	if [ "$n" -eq "$(echo "$@" | wc -w)" ]; then
		dc_pass "$t"
	else
		dc_fail "$t" "$n replies: $(head -c 300 "$DC_DIR/lmtp.err")"
	fi
	while read -r code rcpt msg _; do
		user=${rcpt%@*}
		n=${msg##*-}
		t="$name: message ${n%.eml} to $rcpt"
		file=$(dc_all_files "$(dc_maildir "$user")" |
			xargs -r grep -lF "Message-ID: <${msg##*/}>" || :)
		if [[ $user =~ ^($deferred)$ ]]; then
			want="4xx, nothing stored"
			if [ "${code:0:1}" != 4 ] || [ -n "$file" ]; then
				dc_fail "$t: $want" "reply $code, stored: ${file:-nothing}"
			elif ! grep -E "lmtp\($rcpt\).*$deferred_err: .*$error" "$DC_LOG" >/dev/null; then
				dc_fail "$t: $want" "no Error naming the setting"
			else
				dc_pass "$t: $want (reply $code)"
			fi
			continue
		fi
		mode=plain
		[ "$user" = bob ] || mode=encrypted
		want="250, stored $mode"
		if [ "$code" != 250 ] || [ "$(printf '%s' "$file" | grep -c .)" -ne 1 ]; then
			dc_fail "$t: $want" "reply $code, stored: ${file:-nothing}"
		elif grep -E "lmtp\($rcpt\).*$deferred_err" "$DC_LOG" >/dev/null; then
			dc_fail "$t: $want" "deferred for $rcpt in the log"
		elif ! out=$(python3 "$VERIFY" --lmtp --expect "$mode" \
			"$msg.sent" "$file" "$(dc_secret_home "$user")" 2>&1); then
			dc_fail "$t: $want" "$out"
		else
			dc_pass "$t: $want"
		fi
	done <"$replies"
	t="$name: no Panic or Fatal in the log"
	if grep -qE 'Panic:|Fatal:' "$DC_LOG"; then
		dc_fail "$t" "$(grep -Em1 'Panic:|Fatal:' "$DC_LOG" | cut -c1-200)"
	else
		dc_pass "$t"
	fi
}

if [ "$(id -u)" -ne 0 ]; then
	dc_skip "invalid settings under LMTP" "needs root to run a Dovecot service"
elif [ -n "${SIEVE_ENCRYPT_PRELOAD:-}" ]; then
	# tests/run-sanitizers.sh: Dovecot's services do not start with the
	# sanitizer runtime preloaded ("ASan runtime does not come first")
	dc_skip "invalid settings under LMTP" "not with a sanitizer build"
else
	dc_add_user_with_key carol make_key >/dev/null ||
		{ echo "test-policy.sh: key set-up failed" >&2; exit 1; }
	dc_kill_agents
	dc_configure sieve_encrypt_default_keys=%u
	dc_global_script 'require ["vnd.x.encrypt", "envelope"];
if envelope :localpart :is "to" ["alice", "carol"] {
	encrypt;
}'
	if [ "$DC_V24" != yes ]; then
		dc_configure sieve_encrypt_on_failure=tempfial \
			sieve_encrypt_default_keys=%u
		for binary in precompiled compiled-at-delivery; do
			[ "$binary" = precompiled ] ||
				rm -f "$DC_DIR/sieve/global.svbin"
			lmtp_invalid_settings \
				"2.3 LMTP, on_failure mistyped, $binary" \
				"alice|carol" "sieve_encrypt_on_failure: Invalid value: tempfial" \
				"alice@example.org bob@example.org" \
				"bob@example.org carol@example.org"
		done
		dc_configure sieve_encrypt_default_keys=%u
		dc_global_script "$(cat "$DC_DIR/sieve/global.sieve")"
	else
		dc_configure sieve_encrypt_on_failure=tempfial \
			sieve_encrypt_default_keys=%u
		t="2.4: on_failure mistyped: dovecot does not start, naming the setting"
		if dc_lmtp_start 2>"$DC_DIR/start.err"; then
			dc_lmtp_stop
			dc_fail "$t" "it started"
		elif grep -q "sieve_encrypt_on_failure: Invalid value: tempfial" \
			"$DC_DIR/dovecot-start.out"; then
			dc_pass "$t"
		else
			dc_fail "$t" "$(head -c 300 "$DC_DIR/dovecot-start.out")"
		fi
		dc_configure sieve_encrypt_default_keys=%u
	fi
	# The userdb gives carol alone an invalid value (2.3 and 2.4)
	cp "$DC_DIR/users" "$DC_DIR/users.valid"
	# (the extra fields are the 8th field: dc_add_user writes all 8)
	awk -F: -v OFS=: '$1 == "carol@example.org" {
		$8 = ($8 == "" ? "" : $8 " ") "userdb_sieve_encrypt_on_failure=tempfial"
	} { print }' "$DC_DIR/users.valid" >"$DC_DIR/users"
	lmtp_invalid_settings "LMTP, on_failure mistyped in carol's userdb entry" \
		"carol" "sieve_encrypt_on_failure.*Invalid value: tempfial" \
		"carol@example.org alice@example.org bob@example.org" \
		"alice@example.org carol@example.org"
	cp "$DC_DIR/users.valid" "$DC_DIR/users"
fi

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
