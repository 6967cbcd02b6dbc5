#!/bin/bash
# test-examples.sh: the configuration and script examples in doc/examples/
# work as documented.
#   - Dovecot accepts doc/examples/90-sieve-encrypt-<version>.conf (doveconf)
#   - doc/examples/global.sieve compiles and, with default keys, stores mail
#     encrypted for a user with a keyring and unchanged, without an error,
#     for a user without one
# Prints PASS:/FAIL: lines and "N passed, N failed"; exits 1 on failure.
set -eu

TOP=$(cd "$(dirname "$0")/../.." && pwd)
DC_TOP=$TOP
. "$TOP/tests/lib/keys.sh"
. "$TOP/tests/lib/dovecot.sh"
VERIFY=$TOP/tests/tools/pgpmime-verify.py

trap 'dc_cleanup' EXIT
trap 'exit 130' INT TERM

dc_init
ver=2.3
[ "$DC_V24" != yes ] || ver=2.4
example=$TOP/doc/examples/90-sieve-encrypt-$ver.conf

# doveconf: the example on top of the test instance's configuration
conf=$DC_DIR/with-example.conf
{ cat "$DC_CONF"; printf '!include %s\n' "$example"; } >"$conf"
if out=$(doveconf -c "$conf" -n 2>&1) &&
	printf '%s\n' "$out" | grep -q "sieve_encrypt_default_keys = "; then
	dc_pass "doveconf accepts $(basename "$example")"
else
	dc_fail "doveconf accepts $(basename "$example")" \
		"$(printf '%s\n' "$out" | grep -iE 'error|fatal' | head -n 2)"
fi

# Dovecot 2.4 knows the plugin's settings (settings module): a mistyped
# one is Dovecot's own error. (2.3 takes any key in plugin { }.)
if [ "$DC_V24" = yes ]; then
	typo=$DC_DIR/typo.conf
	{ cat "$DC_CONF"; echo "sieve_encrypt_gnupg_hme = /x"; } >"$typo"
	if out=$(doveconf -c "$typo" -n 2>&1); then
		dc_fail "doveconf rejects a mistyped sieve_encrypt_ setting" "accepted"
	elif printf '%s\n' "$out" | grep -q "sieve_encrypt_gnupg_hme: Unknown setting"; then
		dc_pass "doveconf rejects a mistyped sieve_encrypt_ setting"
	else
		dc_fail "doveconf rejects a mistyped sieve_encrypt_ setting" "$out"
	fi
fi

# global.sieve with default keys = the user name (an address here)
dc_add_user_with_key alice make_key >/dev/null ||
	{ echo "test-examples.sh: key set-up failed" >&2; exit 1; }
dc_add_user bob
dc_kill_agents
dc_plugin_setting sieve_encrypt_default_keys %u
if dc_global_script "$(cat "$TOP/doc/examples/global.sieve")"; then
	dc_pass "doc/examples/global.sieve compiles"
else
	dc_fail "doc/examples/global.sieve compiles" "sievec failed"
fi

msg=$TOP/tests/messages/04-mixed-attachment.eml
for user in alice bob; do
	rc=0
	dc_lda "$user" "$msg" || rc=$?
	stored=$(dc_stored_files "$(dc_maildir "$user")" | tail -n 1)
	if [ "$user" = alice ]; then
		expect=(python3 "$VERIFY" "$msg" "$stored" "$(dc_secret_home alice)")
	else
		expect=(python3 "$VERIFY" --expect-plain "$msg" "$stored")
	fi
	if [ "$rc" -eq 0 ] && [ -n "$stored" ] && "${expect[@]}" >/dev/null; then
		dc_pass "global.sieve: $user stored as expected"
	else
		dc_fail "global.sieve: $user stored as expected" "exit $rc, ${stored:-nothing stored}"
	fi
done
if grep -E "bob@example.org.*(Error|error)" "$DC_LOG" >/dev/null; then
	dc_fail "global.sieve: no error for a user without keyring" \
		"$(grep -E 'bob@example.org.*(Error|error)' "$DC_LOG" | head -n 1)"
else
	dc_pass "global.sieve: no error for a user without keyring"
fi

dc_summary
