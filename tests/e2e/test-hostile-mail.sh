#!/bin/bash
# test-hostile-mail.sh: issue 12, the attacks by mail, scripts and
# settings, tried as a hostile sender, user or a mistaken admin would,
# through real deliveries:
#
#   3  the global script encrypts, then the user's own script fails at run
#      time: fileinto a folder that does not exist; fileinto :create
#      "Lists.${2}" from a sender-chosen List-Id holding ".." or 300
#      characters. With policy keep and tempfail: the original is stored
#      nowhere (the failure keep stores the encrypted message, or the
#      delivery fails temporarily). And the actions that read the message
#      after encrypt (redirect, vnd.dovecot.report, the deprecated notify
#      with $text$) send the encrypted one, or fail.
#   6  sieve_encrypt_default_keys = %u@example.org (the admin how-to's
#      value) with user names that contain the domain: an Error and the
#      policy, not plaintext logged at Info
#   7  messages that look encrypted but are not: a text/plain body with a
#      PGP MESSAGE block followed by plaintext, an opaque
#      application/pkcs7-mime without smime-type holding CMS signed-data,
#      a multipart/encrypted whose second part is plaintext: stored
#      encrypted
#   8  sieve_encrypt_on_failure = tempfial (a typo) with the global script
#      precompiled by sievec and without the precompiled binary: a
#      temporary failure (exit 75 / LMTP 4xx for that recipient only; the
#      other recipient of the same LMTP transaction is delivered), an
#      Error naming the setting, no Panic. The typo is a userdb field of
#      that one user (LMTP) or a -o option (dovecot-lda).
#
# Paths: "lda" (dovecot-lda as the user's own uid) and "lmtp-root" (LMTP as
# Dovecot ships it: root, effective uid lowered per recipient; every user
# has a uid of its own). See tests/lib/hostile.sh for what each
# expectation checks; every case also greps all stored files, Dovecot's
# temporary directories, the logs and what was sent for the message's
# plaintext.
#
# Needs root (uids of its own per user, LMTP); SKIP otherwise. Prints
# PASS:/FAIL: lines and "N passed, N failed"; exits 1 on failure.
# Environment: SIEVE_ENCRYPT_BUILD, SIEVE_ENCRYPT_KEEP, TMPDIR.
set -eu

TOP=$(cd "$(dirname "$0")/../.." && pwd)
DC_TOP=$TOP
. "$TOP/tests/lib/keys.sh"
. "$TOP/tests/lib/dovecot.sh"
. "$TOP/tests/lib/hostile.sh"

if [ "$(id -u)" -ne 0 ]; then
	dc_skip "hostile mail" "needs root (uids of its own per user, LMTP)"
	dc_summary
	exit 0
fi

trap 'dc_cleanup' EXIT
trap 'exit 130' INT TERM

setup_failed()
{
	echo "test-hostile-mail.sh: setting up $1 failed" >&2
	exit 1
}

# The admin how-to's two forms: without a key list (the default keys) for
# the c6-* users, with the envelope recipient for everybody else
GLOBAL_SCRIPT='require ["vnd.x.encrypt", "envelope", "variables"];
if envelope :localpart :matches "to" "c6-*" {
  if encrypt { }
} elsif envelope :matches "to" "*" {
  if encrypt "${1}" { }
}'

# add_user NAME [KEY=VALUE...]: a user with a key (and these settings)
add_user()
{
	local name=$1
	shift
	dc_add_user_with_key "$name" make_key "$@" >/dev/null ||
		setup_failed "$name"
}

# --- class 3 -----------------------------------------------------------

LISTS_SCRIPT='require ["fileinto", "mailbox", "variables"];
if header :matches "List-Id" "*<*>*" {
  fileinto :create "Lists.${2}";
}'
LONG_ID=$(printf 'x%.0s' $(seq 1 300))

# c3_case PATH USER KIND [ARG]: a message of KIND to USER, whose script
# fails after the global script encrypted
c3_case()
{
	local path=$1 user=$2 kind=$3 arg=${4:-} what t policy=keep
	case $user in *-tempfail) policy=tempfail ;; esac
	case $kind:$arg in
	plain:) what="fileinto a missing folder" ;;
	list-id:..) what='fileinto :create "Lists.${2}", List-Id <..>' ;;
	list-id:list.example.net)
		what='control: fileinto :create "Lists.${2}", List-Id <list.example.net>' ;;
	list-id:*) what='fileinto :create "Lists.${2}", List-Id of 300 characters' ;;
	esac
	t="hostile 3 $path: $what after encrypt (policy $policy)"
	hs_message "$kind" ${arg:+"$arg"}
	hs_deliver "$path" "$user" "$HS_MSG"
	hs_expect_encrypted_or_tempfail "$t: stored encrypted, or a temporary failure with an Error" \
		"$user"
	hs_expect_no_plaintext "$t: no plaintext in any stored file"
	hs_note_leftovers
}

# c3_action PATH USER WHAT: a message to USER, whose script does WHAT
# after the global script encrypted
c3_action()
{
	local path=$1 user=$2 what=$3 before t
	t="hostile 3 $path: $what after encrypt"
	before=$(hs_sent_count)
	hs_message plain
	hs_deliver "$path" "$user" "$HS_MSG"
	hs_note_leftovers
	if [ "$(hs_sent_count)" -gt "$before" ]; then
		hs_expect_no_plaintext "$t: what it sends holds no plaintext (sent)"
	elif hs_log_errors | grep -q .; then
		hs_expect_no_plaintext "$t: what it sends holds no plaintext (action failed)"
	else
		dc_fail "$t: what it sends holds no plaintext" \
			"nothing sent and no Error: the action did not run" \
			"($(hs_outcome))"
	fi
}

class3()
{
	local path=$1 policy
	# the script works: the checks pass
	c3_case "$path" c3-lists-keep list-id list.example.net
	for policy in keep tempfail; do
		c3_case "$path" "c3-missing-$policy" plain
		c3_case "$path" "c3-lists-$policy" list-id ..
		c3_case "$path" "c3-lists-$policy" list-id "$LONG_ID"
	done
	c3_action "$path" c3-redirect redirect
	c3_action "$path" c3-report 'vnd.dovecot.report'
	if [ "$DC_V24" = yes ]; then
		dc_skip "hostile 3 $path: notify with \$text\$ after encrypt" \
			"Pigeonhole 2.4 has no deprecated notify extension"
	else
		c3_action "$path" c3-notify 'notify with $text$'
	fi
}

# --- class 6 -----------------------------------------------------------

class6()
{
	local path=$1 policy stored t
	for policy in keep tempfail; do
		t="hostile 6 $path: default keys %u@example.org, user c6-$policy@example.org"
		hs_message plain
		hs_deliver "$path" "c6-$policy" "$HS_MSG"
		hs_expect_policy "$t: Error, then policy $policy" "$policy" \
			'encrypt'
		stored=
		[ "$policy" != keep ] || stored=$HS_NEW
		hs_expect_no_plaintext "$t: no plaintext in any file but the kept original (policy $policy)" \
			"$stored"
		hs_note_leftovers
	done
}

# --- class 7 -----------------------------------------------------------

class7()
{
	local path=$1 kind t
	# a plain message: the checks pass
	hs_message plain
	hs_deliver "$path" c7 "$HS_MSG"
	hs_expect_encrypted "hostile 7 $path: control: plain message stored encrypted" \
		c7 light
	for kind in inline-pgp-then-plain pkcs7-signed encrypted-wrong-shape
	do
		t="hostile 7 $path: $kind"
		if [ "$kind" = inline-pgp-then-plain ]; then
			hs_message "$kind" "$(hs_secret_home c7)" c7@example.org
		else
			hs_message "$kind"
		fi
		hs_deliver "$path" c7 "$HS_MSG"
		hs_expect_encrypted "$t: not taken for encrypted, stored encrypted" \
			c7 light
		hs_expect_no_plaintext "$t: no plaintext in any stored file"
		hs_note_leftovers
	done
}

# --- class 8 -----------------------------------------------------------

# c8_check NAME: the last delivery to c8-typo failed temporarily, with an
# Error naming the setting, no Panic, nothing stored
c8_check()
{
	local name=$1
	if grep -q 'Panic:' "$HS_LOGF"; then
		dc_fail "$name" "Panic: $(hs_outcome)"
	elif [ "$HS_OUT" != tempfail ] ||
		[ "$(hs_count "$HS_NEW")" -ne 0 ]; then
		dc_fail "$name" "expected a temporary failure: $(hs_outcome)"
	elif ! grep -E ': (Error|Fatal): ' "$HS_LOGF" |
		grep -q 'sieve_encrypt_on_failure'; then
		dc_fail "$name" "no Error naming sieve_encrypt_on_failure:" \
			"$(hs_outcome)"
	else
		dc_pass "$name"
	fi
}

class8()
{
	local compiled=$1 path t code
	for path in lda lmtp-root; do
		t="hostile 8 $path: sieve_encrypt_on_failure = tempfial, global script $compiled"
		hs_message plain
		if [ "$path" = lda ]; then
			hs_deliver lda c8-typo "$HS_MSG"
		else
			hs_deliver lmtp-root "c8-typo c8-ok" "$HS_MSG"
		fi
		c8_check "$t: temporary failure, Error naming the setting, no Panic"
		hs_expect_no_plaintext "$t: no plaintext in any stored file"
		hs_note_leftovers
		[ "$path" = lmtp-root ] || continue
		code=${HS_CODES[c8-ok]}
		t="$t: the other recipient of the transaction is delivered"
		if [ "${code:0:1}" = 2 ]; then
			dc_pass "$t"
		else
			dc_fail "$t" "c8-ok got '${code:-no reply}'" \
				"($(tail -n 1 "$DC_DIR/lmtp.err" | cut -c1-120))"
		fi
	done
}

# --- per-user uids: dovecot-lda and Dovecot's default LMTP ----------------

dc_init --per-user-uids
hs_init
dc_plugin_setting sieve_encrypt_default_keys '%u@example.org'
if [ "$DC_V24" = yes ]; then
	dc_plugin_setting sieve_extensions '+vnd.dovecot.report'
else
	dc_plugin_setting sieve_extensions '+vnd.dovecot.report +notify'
fi
dc_global_script "$GLOBAL_SCRIPT"

for policy in keep tempfail; do
	add_user "c3-missing-$policy" "sieve_encrypt_on_failure=$policy"
	dc_user_script "c3-missing-$policy" 'require "fileinto";
fileinto "Missing";'
	add_user "c3-lists-$policy" "sieve_encrypt_on_failure=$policy"
	dc_user_script "c3-lists-$policy" "$LISTS_SCRIPT"
	add_user "c6-$policy" "sieve_encrypt_on_failure=$policy"
done
add_user c3-redirect
dc_user_script c3-redirect 'redirect "elsewhere@example.net";'
add_user c3-report
dc_user_script c3-report 'require "vnd.dovecot.report";
report "abuse" "Reported by the user." "abuse@example.net";'
add_user c3-notify
dc_user_script c3-notify 'require "notify";
notify :method "mailto" :options "elsewhere@example.net" :message "$text$";'
add_user c7
add_user c8-typo sieve_encrypt_on_failure=tempfial
add_user c8-ok
dc_kill_agents

dc_lmtp_start || setup_failed "the LMTP service"
for path in lda lmtp-root; do
	class3 "$path"
	class6 "$path"
	class7 "$path"
done
class8 "precompiled by sievec"
# The same without the binary: compiled at delivery (in memory, as the
# users cannot write next to the global script)
rm -f "$DC_DIR/sieve/global.svbin"
class8 "not precompiled"
hs_expect_no_leftovers "hostile 3, 6, 7, 8 lda+lmtp-root: no gpg or gpg-agent process left"
t="hostile 3, 6, 7 lda+lmtp-root: no Panic or Fatal in the log before class 8"
if grep -v 'c8-' "$DC_LOG" | grep -Eq 'Panic:|Fatal:'; then
	dc_fail "$t" "$(grep -v 'c8-' "$DC_LOG" | grep -Em1 'Panic:|Fatal:' |
		cut -c1-200)"
else
	dc_pass "$t"
fi
dc_cleanup

dc_summary
