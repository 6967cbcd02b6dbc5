#!/bin/bash
# test-managesieve.sh: scripts uploaded over ManageSieve are checked like
# user scripts at delivery: a bad script is rejected with a message naming
# the line and the problem; a script that files a copy before encrypting is
# accepted with a warning; a script without a key list is rejected unless
# default keys are configured.
#
# Runs a private Dovecot with the managesieve service on 127.0.0.1 (needs
# root and dovecot-managesieved). Prints PASS:/FAIL: lines and
# "N passed, N failed"; exits 1 on failure.
set -eu

TOP=$(cd "$(dirname "$0")/../.." && pwd)
DC_TOP=$TOP
. "$TOP/tests/lib/keys.sh"
. "$TOP/tests/lib/dovecot.sh"
PUT=$TOP/tests/tools/managesieve-put.py

trap 'dc_cleanup' EXIT
trap 'exit 130' INT TERM

[ -x "$DC_LIBEXEC/managesieve" ] || {
	echo "FAIL: managesieve: $DC_LIBEXEC/managesieve missing (dovecot-managesieved)"
	exit 1
}

dc_init
dc_add_user alice
printf 'ms@%s:{PLAIN}secret:%s:%s::%s\n' "$DC_DOMAIN" "$DC_UID" "$DC_GID" \
	"$(dc_home alice)" >>"$DC_DIR/users"
dc_plugin_setting sieve_global_extensions ""
dc_plugin_setting sieve_extensions +vnd.x.encrypt

port=$(dc_free_port)
addr=address
[ "$DC_V24" != yes ] || addr=listen
cat >"$DC_DIR/extra.conf" <<EOF
protocols = lmtp sieve
service managesieve-login {
  inet_listener sieve {
    $addr = 127.0.0.1
    port = $port
  }
}
EOF
dc_write_config
dc_lmtp_start

scripts=$DC_DIR/upload
mkdir -p "$scripts"
printf 'require "vnd.x.encrypt";\n\n# not a key\nencrypt "Alice Example";\n' \
	>"$scripts/bad-key.sieve"
printf 'require "vnd.x.encrypt";\nencrypt 42;\n' >"$scripts/bad-type.sieve"
printf 'require ["vnd.x.encrypt", "fileinto"];\nfileinto "Copy";\nencrypt "alice@example.org";\n' \
	>"$scripts/warn.sieve"
printf 'require "vnd.x.encrypt";\nencrypt;\n' >"$scripts/no-keys.sieve"
printf 'require ["vnd.x.encrypt", "fileinto"];\nif encrypt "alice@example.org" {\n  fileinto "Secure";\n}\n' \
	>"$scripts/good.sieve"

upload()
{
	python3 "$PUT" 127.0.0.1 "$port" "ms@$DC_DOMAIN" secret "$@"
}

# check WHAT ANSWERS PATTERN: the answer for the script named by WHAT's
# first word matches PATTERN
check()
{
	local what=$1 answers=$2 pattern=$3 got
	got=$(printf '%s\n' "$answers" | grep -E "^${what%% *} " || :)
	if printf '%s\n' "$got" | grep -qE -- "$pattern"; then
		dc_pass "managesieve: $what"
	else
		dc_fail "managesieve: $what" "got: ${got:-no answer}"
	fi
}

if ! answers=$(upload bad-key="$scripts/bad-key.sieve" \
	bad-type="$scripts/bad-type.sieve" warn="$scripts/warn.sieve" \
	no-keys="$scripts/no-keys.sieve" good="$scripts/good.sieve" 2>&1); then
	dc_fail "managesieve session" "$answers"
	dc_summary
	exit 1
fi

check "bad-key rejected, naming line and key" "$answers" \
	"^bad-key NO .*line 4: .*invalid key .Alice Example."
check "bad-type rejected, naming line and type" "$answers" \
	"^bad-type NO .*line 2: .*string list.*number"
check "warn accepted with a warning naming both lines" "$answers" \
	"^warn OK .*line 3: .*after the fileinto command at line 2"
check "no-keys rejected without default keys" "$answers" \
	"^no-keys NO .*line 2: .*no key list argument and no default keys"
check "good accepted" "$answers" "^good OK"

dc_lmtp_stop
dc_plugin_setting sieve_encrypt_default_keys %u
dc_lmtp_start
answers=$(upload no-keys="$scripts/no-keys.sieve" 2>&1) || :
check "no-keys accepted when default keys are configured" "$answers" \
	"^no-keys OK"

dc_summary
