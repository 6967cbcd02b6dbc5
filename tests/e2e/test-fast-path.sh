#!/bin/bash
# test-fast-path.sh: a large message takes the fast data path past gpgme.
#
# The plugin moves the bulk of the data between the delivery and gpg past
# gpgme's own copying (doc/design.md, "The data past gpgme"), which depends
# on how gpgme calls the data callbacks. If a gpgme version calls them
# differently, every byte goes through gpgme: correct, but slow. The plugin
# counts the bytes of each path and logs them at debug level ("data past
# gpgme: A of B bytes to gpg, C of D bytes from gpg"), and warns once per
# process when most of the data of a direction went through gpgme.
#
# Delivers a 20 MiB message (a base64 attachment of random bytes) through
# dovecot-lda with mail_debug, then checks: it was delivered, encrypted and
# decrypts to the original (pgpmime-verify.py); the debug line is there; at
# least 99% of the bytes to gpg and half of the bytes from gpg went past
# gpgme; no warning about the fast path.
#
# Usage: tests/e2e/test-fast-path.sh (as root, or as any user)
# Environment: SIEVE_ENCRYPT_BUILD, SIEVE_ENCRYPT_KEEP=1, TMPDIR.
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

dc_init
dc_add_user_with_key alice make_key >/dev/null || {
	echo "test-fast-path.sh: setting up keys failed" >&2
	exit 1
}
dc_kill_agents
dc_global_script 'require ["vnd.x.encrypt", "envelope", "variables"];
if envelope :matches "to" "*" {
  encrypt "${1}";
}'

MSG=$DC_DIR/large.eml
python3 - "$MSG" <<'EOF'
import base64, random, sys
rnd = random.Random(20)
att = base64.encodebytes(rnd.randbytes(15 * 1024 * 1024)).decode()
with open(sys.argv[1], "w") as f:
    f.write("From: <sender@example.net>\nTo: <alice@example.org>\n"
            "Subject: large\nMessage-ID: <fast-path@example.net>\n"
            "MIME-Version: 1.0\n"
            "Content-Type: multipart/mixed; boundary=\"b\"\n\n"
            "--b\nContent-Type: text/plain\n\nattached\n"
            "--b\nContent-Type: application/octet-stream\n"
            "Content-Transfer-Encoding: base64\n\n%s--b--\n" % att)
EOF
chmod a+r "$MSG"

if dc_lda alice "$MSG" -o mail_debug=yes; then
	dc_pass "20 MiB message delivered ($(($(stat -c %s "$MSG") / 1048576)) MiB)"
else
	dc_fail "20 MiB message delivered" "dovecot-lda exit $?"
fi

stored=$(dc_stored_files "$(dc_maildir alice)" | tail -n 1)
if [ -n "$stored" ] &&
	out=$(python3 "$VERIFY" --expect encrypted "$MSG" "$stored" \
		"$(dc_secret_home alice)" 2>&1); then
	dc_pass "stored encrypted, decrypts to the original"
else
	dc_fail "stored encrypted, decrypts to the original" \
		"${out:-nothing stored}"
fi

line=$(dc_log_grep 'data past gpgme: ' | tail -n 1 || :)
if [ -z "$line" ]; then
	dc_fail "debug line with the bytes past gpgme" "none in the log"
else
	out=$(printf '%s\n' "$line" | python3 -c '
import re, sys
m = re.search(r"past gpgme: (\d+) of (\d+) bytes to gpg, "
              r"(\d+) of (\d+) bytes from gpg", sys.stdin.read())
if not m:
    print("unreadable line")
    sys.exit(1)
a, b, c, d = (int(x) for x in m.groups())
print("%d of %d bytes to gpg (%.2f%%), %d of %d from gpg (%.2f%%)"
      % (a, b, 100.0 * a / max(b, 1), c, d, 100.0 * c / max(d, 1)))
sys.exit(0 if b > 20 * 10**6 and a >= 0.99 * b and c >= 0.5 * d else 1)
') && rc=0 || rc=$?
	if [ "$rc" -eq 0 ]; then
		dc_pass "the fast path carried the data: $out"
	else
		dc_fail "the fast path carried the data (99% to gpg, half from gpg)" \
			"$out"
	fi
fi

out=$(dc_log_grep 'fast data path|Warning:|Error:' | head -n 2 || :)
if [ -z "$out" ]; then
	dc_pass "no warning about the fast data path, no error"
else
	dc_fail "no warning about the fast data path, no error" "$out"
fi

dc_summary
