#!/bin/bash
# test-lda.sh: end-to-end test of vnd.x.encrypt through the real
# dovecot-lda, storing into real Maildirs, then decrypting what was stored.
#
# Usage: tests/e2e/test-lda.sh    (as root, or as any user for LDA only)
# Environment: SIEVE_ENCRYPT_BUILD (build tree, default: repository top),
# SIEVE_ENCRYPT_KEEP=1 keeps the scratch directory, TMPDIR.
#
# Set-up: a private Dovecot config whose sieve_before script encrypts every
# message to its envelope recipient:
#   require ["vnd.x.encrypt", "envelope", "variables"];
#   if envelope :matches "to" "*" { encrypt "${1}"; }
# Users (all @example.org): alice has her public key in ~/.gnupg; bob has no
# keyring; carol has a key and a ~/.dovecot.sieve that files encrypted
# messages into "Encrypted"; erin, frank and grace have only an expired, a
# revoked and a sign-only key.
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

trap 'dc_cleanup' EXIT
trap 'exit 130' INT TERM

dc_init

# --- keys and users --------------------------------------------------------

setup_failed()
{
	echo "test-lda.sh: setting up keys failed" >&2
	exit 1
}

ALICE_FPR=$(dc_add_user_with_key alice make_key) || setup_failed
CAROL_FPR=$(dc_add_user_with_key carol make_key) || setup_failed
dc_add_user_with_key erin make_expired_key >/dev/null || setup_failed
dc_add_user_with_key frank make_revoked_key >/dev/null || setup_failed
dc_add_user_with_key grace make_signonly_key >/dev/null || setup_failed
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

# --- helpers ---------------------------------------------------------------

N=0
# deliver NAME MSG: deliver with dovecot-lda into NAME's Maildir; sets RC
# (exit code), NEW (new message files, one a line) and LOGF (this
# delivery's log)
deliver()
{
	local name=$1 msg=$2 before
	N=$((N + 1))
	LOGF=$DC_DIR/logs/$N-$name.log
	before=$DC_DIR/before.$N
	dc_all_files "$(dc_maildir "$name")" >"$before"
	RC=0
	dc_lda "$name" "$msg" -o "log_path=$LOGF" || RC=$?
	NEW=$(dc_new_files "$before" "$(dc_maildir "$name")")
}

# count_lines TEXT: number of non-empty lines
count_lines()
{
	[ -n "$1" ] || { echo 0; return; }
	printf '%s\n' "$1" | wc -l
}

# verify NAME ORIGINAL STORED MODE [ARGS...]: run the verifier; sets VOUT
verify()
{
	local name=$1 orig=$2 stored=$3 mode=$4
	shift 4
	VOUT=$(python3 "$VERIFY" --expect "$mode" "$@" "$orig" "$stored" \
		"$(dc_secret_home "$name")" 2>&1)
}

# check_delivery NAME: common checks after deliver(); sets WHY on failure
check_delivery()
{
	WHY=
	if [ "$RC" -ne 0 ]; then
		WHY="dovecot-lda exited with $RC"
	elif [ "$(count_lines "$NEW")" -ne 1 ]; then
		WHY="expected 1 new message file, found $(count_lines "$NEW")"
	elif grep -Eq 'Fatal:|Panic:' "$LOGF"; then
		WHY="log: $(grep -Em1 'Fatal:|Panic:' "$LOGF" | cut -c1-200)"
	fi
	[ -z "$WHY" ]
}

# --- alice: every test message ---------------------------------------------

ALICE_KEYID=${ALICE_FPR: -16}
# the log names the subkey too, as gpg does when decrypting
ALICE_SUBKEY=$(keys_subkey_ids "$(dc_secret_home alice)" "$ALICE_FPR")
for msg in "$MESSAGES"/*.eml; do
	base=$(basename "$msg")
	mode=$(dc_expect_of "$msg")
	[ -n "$mode" ] || mode=auto
	t="lda alice $base ($mode)"
	deliver alice "$msg"
	if ! check_delivery; then
		dc_fail "$t" "$WHY"
		continue
	fi
	case $NEW in
	*/Maildir/new/*|*/Maildir/cur/*) ;;
	*) dc_fail "$t" "not stored in INBOX: ${NEW#"$DC_DIR"/}"; continue ;;
	esac
	sizes=$(dc_plugin_sizes "$LOGF")
	# auto: whatever the plugin did is checked by the verifier
	if [ "$mode" = encrypted ] || { [ "$mode" = auto ] && [ -n "$sizes" ]; }
	then
		if [ -z "$sizes" ]; then
			dc_fail "$t" "no 'encrypted message' info line in the log"
			continue
		fi
		if ! grep -q "encrypted message to key $ALICE_KEYID (subkey $ALICE_SUBKEY) " "$LOGF"
		then
			dc_fail "$t" "log does not name key $ALICE_KEYID" \
				"(subkey $ALICE_SUBKEY)"
			continue
		fi
		extra=(--plugin-sizes "$sizes")
	else
		if [ -n "$sizes" ] || grep -q 'Error:' "$LOGF"; then
			dc_fail "$t" "plugin logged: $(grep -Em1 \
				'Error:|encrypted message' "$LOGF" | cut -c1-200)"
			continue
		fi
		extra=()
	fi
	if verify alice "$msg" "$NEW" "$mode" "${extra[@]}"; then
		dc_pass "$t: $VOUT"
	else
		dc_fail "$t" "$VOUT"
	fi
done

# --- bob: no keyring: plaintext, exit code 0, error logged -----------------

for base in 01-plain-lf.eml 04-mixed-attachment.eml 02-plain-crlf.eml; do
	t="lda bob (no keyring) $base stored in plaintext"
	deliver bob "$MESSAGES/$base"
	if ! check_delivery; then
		dc_fail "$t" "$WHY"
	elif ! grep -q "encrypt action: cannot encrypt message to" \
		"$LOGF" || ! grep -q "keyring directory .* does not exist" \
		"$LOGF"; then
		dc_fail "$t" "no 'keyring directory does not exist' error logged"
	elif verify bob "$MESSAGES/$base" "$NEW" plain; then
		dc_pass "$t"
	else
		dc_fail "$t" "$VOUT"
	fi
done

# --- erin, frank, grace: unusable keys: plaintext, exit code 0 -------------

for spec in "erin:is expired" "frank:is revoked" \
	    "grace:is not usable for encryption"; do
	name=${spec%%:*}
	reason=${spec#*:}
	t="lda $name (key that $reason) stored in plaintext"
	deliver "$name" "$MESSAGES/03-alternative.eml"
	if ! check_delivery; then
		dc_fail "$t" "$WHY"
	elif ! grep -q "encrypt action: cannot encrypt message to .*$reason" \
		"$LOGF"; then
		dc_fail "$t" "no '$reason' error logged: $(grep -m1 \
			'encrypt action' "$LOGF" | cut -c1-200)"
	elif verify "$name" "$MESSAGES/03-alternative.eml" "$NEW" plain
	then
		dc_pass "$t"
	else
		dc_fail "$t" "$VOUT"
	fi
done

# --- carol: the user script runs after the global one ----------------------

CAROL_KEYID=${CAROL_FPR: -16}
for base in 03-alternative.eml 04-mixed-attachment.eml \
	    08-header-only.eml; do
	t="lda carol $base: ~/.dovecot.sieve files the encrypted message"
	deliver carol "$MESSAGES/$base"
	if ! check_delivery; then
		dc_fail "$t" "$WHY"
		continue
	fi
	case $NEW in
	*/Maildir/.Encrypted/new/*|*/Maildir/.Encrypted/cur/*) ;;
	*) dc_fail "$t" "not filed into Encrypted: ${NEW#"$DC_DIR"/}"
	   continue ;;
	esac
	if ! grep -q "encrypted message to key $CAROL_KEYID " "$LOGF"; then
		dc_fail "$t" "log does not name key $CAROL_KEYID"
	elif ! grep -q "stored mail into mailbox 'Encrypted'" "$LOGF"; then
		dc_fail "$t" "log does not show the fileinto"
	elif verify carol "$MESSAGES/$base" "$NEW" encrypted \
		--plugin-sizes "$(dc_plugin_sizes "$LOGF")"; then
		dc_pass "$t"
	else
		dc_fail "$t" "$VOUT"
	fi
done
t="lda carol: nothing left in INBOX"
n=$(dc_count_files "$(dc_maildir carol)")
if [ "$n" -eq 0 ]; then dc_pass "$t"; else dc_fail "$t" "$n messages"; fi

# --- the verifier itself: tampered copies must be rejected -----------------

# One stored, encrypted message and variants of it, each with one defect
deliver alice "$MESSAGES/06-folded-content-type.eml"
GOOD=$NEW
TAMPER=$DC_DIR/tamper
mkdir -p "$TAMPER"
python3 - "$GOOD" "$TAMPER" <<'EOF'
import re, sys
good, out = sys.argv[1], sys.argv[2]
d = open(good, "rb").read()
def w(name, data):
    assert data != d, name
    open("%s/%s" % (out, name), "wb").write(data)
w("subject-changed", d.replace(b"Subject: folded", b"Subject: Folded", 1))
w("field-dropped", re.sub(rb"(?m)^Date: .*\n", b"", d, count=1))
w("fields-swapped", d.replace(b"From: Sender <sender@example.net>\nTo: "
                              b"Recipient <recipient@example.org>\n",
                              b"To: Recipient <recipient@example.org>\n"
                              b"From: Sender <sender@example.net>\n", 1))
w("content-field-left-outside", d.replace(
    b"Content-Type: multipart/encrypted",
    b"Content-Language: de\nContent-Type: multipart/encrypted", 1))
w("mime-version-doubled", d.replace(b"Content-Type: multipart/encrypted",
    b"MIME-Version: 1.0\nContent-Type: multipart/encrypted", 1))
w("protocol-wrong", d.replace(b'protocol="application/pgp-encrypted"',
                              b'protocol="application/pgp-signature"', 1))
w("version-wrong", d.replace(b"\nVersion: 1\n", b"\nVersion: 2\n", 1))
w("part-missing", re.sub(rb"(?s)\n--(-*\w+)\nContent-Type: application/"
                         rb"pgp-encrypted.*?\n\n", b"\n", d, count=1))
w("no-close-delimiter", re.sub(rb"--\n*$", b"\n", d))
armor = re.search(rb"\n\n([A-Za-z0-9+/]{20})", d[d.find(b"BEGIN PGP"):])
i = d.find(b"BEGIN PGP") + armor.start(1) + 10
w("ciphertext-flipped", d[:i] + (b"A" if d[i:i + 1] != b"A" else b"B") +
  d[i + 1:])
w("crlf-in-mime-lines", d.replace(b"\nVersion: 1\n", b"\nVersion: 1\r\n", 1))
EOF
for f in "$TAMPER"/*; do
	t="verifier rejects a stored message with $(basename "$f")"
	if verify alice "$MESSAGES/06-folded-content-type.eml" "$f" encrypted
	then
		dc_fail "$t" "accepted: $VOUT"
	else
		dc_pass "$t: $VOUT"
	fi
done
t="verifier rejects a message whose payload differs from the original"
sed 's/lang ist\./lang ist!/' "$MESSAGES/06-folded-content-type.eml" \
	>"$TAMPER/other-original"
if verify alice "$TAMPER/other-original" "$GOOD" encrypted; then
	dc_fail "$t" "accepted: $VOUT"
elif [[ $VOUT != *"decrypted payload differs"* ]]; then
	dc_fail "$t" "rejected for another reason: $VOUT"
else
	dc_pass "$t: $VOUT"
fi
t="verifier rejects a message it cannot decrypt (wrong secret key)"
if verify carol "$MESSAGES/06-folded-content-type.eml" "$GOOD" encrypted
then
	dc_fail "$t" "accepted: $VOUT"
else
	dc_pass "$t: $VOUT"
fi
t="verifier rejects a plaintext message in mode encrypted and auto"
if verify alice "$MESSAGES/01-plain-lf.eml" "$MESSAGES/01-plain-lf.eml" \
	encrypted || verify alice "$MESSAGES/01-plain-lf.eml" \
	"$MESSAGES/01-plain-lf.eml" auto; then
	dc_fail "$t" "accepted: $VOUT"
else
	dc_pass "$t: $VOUT"
fi

# --- no stray processes ----------------------------------------------------

dc_kill_agents
t="lda: no leftover processes (gpg-agent, dovecot)"
sleep 0.2
left=$(dc_leftover_processes)
if [ -z "$left" ]; then
	dc_pass "$t"
else
	dc_fail "$t" "$(printf '%s' "$left" | head -n 3 | tr '\n' ';')"
fi

dc_cleanup
dc_summary
