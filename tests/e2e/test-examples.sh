#!/bin/bash
# test-examples.sh: every example in doc/ works as shipped.
#
# The examples are read from the documents themselves
# (tests/tools/doc-examples.py): doc/examples/*.conf and *.sieve, the
# ```sieve blocks and the configuration blocks (unmarked blocks that set
# sieve_plugins) of doc/*.md, the Sieve scripts of doc/extensions/*.txt.
#
#   - doveconf accepts every configuration for the running Dovecot version
#     (on top of the test instance's own settings)
#   - sievec compiles every Sieve script
#   - with the main configuration (doc/examples/90-sieve-encrypt-<version>
#     .conf), every script, installed as the global script, stores alice's
#     message encrypted, so that it decrypts to the original, through
#     dovecot-lda and through LMTP, for the envelope recipients
#     alice@example.org, alice+tag@example.org (recipient_delimiter = +)
#     and a bare "alice":
#       virtual users (user name alice@example.org; LMTP finds the user of
#       a bare local part through auth_default_realm/domain): the
#       configuration as shipped;
#       system users (user name alice; LMTP: auth_username_format keeps
#       the user part): the configuration with the sieve_encrypt_default_
#       keys line that it gives in a comment for them
#   - every other configuration, with doc/examples/global.sieve (which the
#     documents pair them with), the same for virtual users
#   - doc/examples/global.sieve: bob, who has no keyring, gets the message
#     unchanged and no error is logged for him
#
# The instance differs from an installed system only in its paths: the
# plugin and sieve-encrypt-gpg-exec are taken from the build tree, and the
# global script is in the scratch directory (the example's sieve_before / sieve_script path is set
# again after it). The message comes From: an address @bank.example and
# has no List-Id, so that every example script encrypts it.
#
# LMTP needs root (skipped otherwise). Prints PASS:/FAIL:/SKIP: lines and
# "N passed, N failed"; exits 1 on failure.
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
ADDRESSES="alice@$DC_DOMAIN alice+tag@$DC_DOMAIN alice"
LMTP=yes
[ "$(id -u)" -eq 0 ] || LMTP=no

# --- the examples -------------------------------------------------------------

EXDIR=$DC_DIR/examples
mkdir "$EXDIR"
python3 "$TOP/tests/tools/doc-examples.py" "$EXDIR" \
	"$TOP"/doc/examples/* "$TOP"/doc/*.md "$TOP"/doc/extensions/*.txt \
	>"$EXDIR/list"
# origin FILE: where the extracted FILE comes from (doc/x.md:LINE, or the
# file's name for a whole file)
origin()
{
	awk -F'\t' -v f="$1" '$2 == f { print $3 }' "$EXDIR/list" |
		sed -e "s|^$TOP/||" -e 's/\.\(conf\|sieve\):1$/.\1/'
}
# extracted FILE: the extracted copy of the whole file FILE
extracted() { awk -F'\t' -v o="$TOP/$1:1" '$3 == o { print $2 }' "$EXDIR/list"; }
MAIN_CONF=$(extracted "doc/examples/90-sieve-encrypt-$ver.conf")
GLOBAL_SIEVE=$(extracted doc/examples/global.sieve)
SCRIPTS=$(awk -F'\t' '$1 == "sieve" { print $2 }' "$EXDIR/list")
CONFS=$(awk -F'\t' -v k="conf-$ver" '$1 == k { print $2 }' "$EXDIR/list")
t="examples found in doc/"
if [ -n "$SCRIPTS" ] && [ -n "$CONFS" ] && [ -n "$MAIN_CONF" ] &&
	[ -n "$GLOBAL_SIEVE" ]; then
	dc_pass "$t: $(printf '%s\n' "$SCRIPTS" | wc -l) Sieve scripts, $(printf '%s\n' "$CONFS" | wc -l) Dovecot $ver configurations"
else
	dc_fail "$t" "scripts: ${SCRIPTS:-none}; configurations: ${CONFS:-none}"
fi

# --- users ------------------------------------------------------------------

dc_add_user_with_key alice make_key >/dev/null ||
	{ echo "test-examples.sh: key set-up failed" >&2; exit 1; }
dc_add_user bob
dc_kill_agents
# The same homes under both kinds of user names
for u in alice bob; do
	printf '%s@%s::%s:%s::%s\n' "$u" "$DC_DOMAIN" "$DC_UID" "$DC_GID" \
		"$(dc_home "$u")" >>"$DC_DIR/users-virtual"
	printf '%s::%s:%s::%s\n' "$u" "$DC_UID" "$DC_GID" \
		"$(dc_home "$u")" >>"$DC_DIR/users-system"
done

# --- configurations ---------------------------------------------------------

# ex_default_keys_for_system CONF: the sieve_encrypt_default_keys value that
# CONF gives, in a comment, for system users
ex_default_keys_for_system()
{
	sed -n 's/^[[:space:]]*#[[:space:]]*sieve_encrypt_default_keys[[:space:]]*=[[:space:]]*//p' "$1" |
		head -n 1
}

# ex_write_config CONF KIND [DEFAULT_KEYS]: $DC_CONF = the instance with
# user names of KIND (virtual or system), then CONF as it is, then the
# paths of this instance (and DEFAULT_KEYS, if given)
ex_write_config()
{
	local conf=$1 kind=$2 keys=${3:-} block
	if [ "$DC_V24" = yes ]; then
		block=$(sed -n 's/^sieve_script[[:space:]]\{1,\}\([^[:space:]{]*\)[[:space:]]*{.*/\1/p' \
			"$conf" | head -n 1)
		{
			echo "dovecot_config_version = 2.4.0"
			echo "dovecot_storage_version = 2.4.0"
			dc_config_instance
			echo "$DC_IMPORT_ENV"
			echo "mail_driver = maildir"
			echo "mail_path = ~/Maildir"
			echo "recipient_delimiter = +"
			if [ "$kind" = virtual ]; then
				echo "auth_default_domain = $DC_DOMAIN"
			else
				echo "auth_username_format = %{user | username | lower}"
			fi
			cat <<EOF
passdb passwd-file {
  driver = passwd-file
  passwd_file_path = $DC_DIR/users-$kind
}
userdb passwd-file {
  driver = passwd-file
  passwd_file_path = $DC_DIR/users-$kind
}
service lmtp {
  !include_try $DC_DIR/lmtp-listener.conf
}
!include $conf
sieve_plugin_dir = $DC_PLUGIN_DIR
sieve_encrypt_gpg_exec = $DC_GPG_EXEC
sieve_script ${block:-none} {
  path = $DC_DIR/sieve/global.sieve
}
EOF
			[ -z "$keys" ] || echo "sieve_encrypt_default_keys = $keys"
		} >"$DC_CONF"
		return
	fi
	{
		dc_config_instance
		echo "$DC_IMPORT_ENV"
		echo "mail_location = maildir:~/Maildir"
		echo "recipient_delimiter = +"
		if [ "$kind" = virtual ]; then
			echo "auth_default_realm = $DC_DOMAIN"
		else
			echo "auth_username_format = %Ln"
		fi
		cat <<EOF
userdb {
  driver = passwd-file
  args = $DC_DIR/users-$kind
}
passdb {
  driver = passwd-file
  args = $DC_DIR/users-$kind
}
service lmtp {
  !include_try $DC_DIR/lmtp-listener.conf
}
!include $conf
plugin {
  sieve_plugin_dir = $DC_PLUGIN_DIR
  sieve_encrypt_gpg_exec = $DC_GPG_EXEC
  sieve_before = $DC_DIR/sieve/global.sieve
EOF
		[ -z "$keys" ] || echo "  sieve_encrypt_default_keys = $keys"
		echo "}"
	} >"$DC_CONF"
}

for conf in $CONFS; do
	t="doveconf accepts $(origin "$conf")"
	ex_write_config "$conf" virtual
	if out=$(doveconf -c "$DC_CONF" -n 2>&1); then
		dc_pass "$t"
	else
		dc_fail "$t" "$(printf '%s\n' "$out" | grep -iE 'error|fatal' | head -n 2)"
	fi
done

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

ex_write_config "$MAIN_CONF" virtual
for script in $SCRIPTS; do
	t="sievec compiles $(origin "$script")"
	if out=$(dc_sievec_run -c "$DC_CONF" "$script" 2>&1); then
		dc_pass "$t"
	else
		dc_fail "$t" "$out"
	fi
done

# --- deliveries -------------------------------------------------------------

MSG_BASE=$DC_DIR/bank.eml
sed 's/^From: .*/From: Statements <statements@bank.example>/' \
	"$TOP/tests/messages/04-mixed-attachment.eml" >"$MSG_BASE"
N=0
# ex_message: a copy of the test message with a Message-ID of its own;
# sets MSG and MSGID
ex_message()
{
	N=$((N + 1))
	MSGID=example-$N@sieve-encrypt.test
	MSG=$DC_DIR/msg-$N.eml
	sed "s/^Message-ID: .*/Message-ID: <$MSGID>/" "$MSG_BASE" >"$MSG"
}

# ex_stored NAME MSGID: the message files of NAME with Message-ID MSGID
ex_stored()
{
	dc_all_files "$(dc_maildir "$1")" | while IFS= read -r f; do
		if grep -qF "Message-ID: <$2>" "$f"; then
			printf '%s\n' "$f"
		fi
	done
}

# ex_check NAME TEST SENT MSGID MODE [VERIFY OPTIONS]: one message with
# MSGID is stored for NAME, and it is encrypted (MODE encrypted) or
# unchanged (plain)
ex_check()
{
	local name=$1 t=$2 sent=$3 msgid=$4 mode=$5 files n out
	shift 5
	files=$(ex_stored "$name" "$msgid")
	n=$(printf '%s' "$files" | grep -c . || :)
	if [ "$n" -ne 1 ]; then
		dc_fail "$t" "$n messages stored"
	elif out=$(python3 "$VERIFY" "$@" --expect "$mode" "$sent" "$files" \
		"$(dc_secret_home "$name")" 2>&1); then
		dc_pass "$t: $out"
	else
		dc_fail "$t" "$out"
	fi
}

# ex_lda NAME USER ADDRESS: deliver a new message to user name USER (home
# of NAME) for the envelope recipient ADDRESS with dovecot-lda; sets RC
ex_lda()
{
	ex_message
	RC=0
	dc_as_mail USER="$2" HOME="$(dc_home "$1")" \
		"$DC_LDA" -c "$DC_CONF" -e -f "sender@example.net" -a "$3" \
		<"$MSG" || RC=$?
}

# ex_deliver LABEL KIND NAME MODE: deliver to NAME (user name of KIND) with
# each address form, through dovecot-lda and LMTP (if running), and check
# that the message is stored as MODE says
ex_deliver()
{
	local label=$1 kind=$2 name=$3 mode=$4 user=$3 addr spec replies
	local code rcpt msg
	[ "$kind" = system ] || user=$name@$DC_DOMAIN
	for addr in $ADDRESSES; do
		addr=${addr/alice/$name}
		ex_lda "$name" "$user" "$addr"
		t="$label, $kind users, LDA to <$addr>: $mode"
		if [ "$RC" -ne 0 ]; then
			dc_fail "$t" "dovecot-lda exit code $RC"
		else
			ex_check "$name" "$t" "$MSG" "$MSGID" "$mode"
		fi
	done
	[ "$LMTP" = yes ] || return 0
	spec=$DC_DIR/lmtp.spec
	replies=$DC_DIR/lmtp.replies
	: >"$spec"
	for addr in $ADDRESSES; do
		ex_message
		printf '%s\t%s\t%s\n' "$MSG" "$MSG.sent" "${addr/alice/$name}" \
			>>"$spec"
	done
	dc_lmtp_send "$spec" >"$replies" 2>"$DC_DIR/lmtp.err" || :
	if [ "$(grep -c . "$replies" || :)" -ne "$(echo "$ADDRESSES" | wc -w)" ]; then
		dc_fail "$label, $kind users, LMTP" \
			"replies: $(cat "$replies") $(head -c 300 "$DC_DIR/lmtp.err")"
		return
	fi
	while read -r code rcpt msg _; do
		t="$label, $kind users, LMTP to <$rcpt>: $mode"
		if [ "$code" != 250 ]; then
			dc_fail "$t" "reply $code"
			continue
		fi
		ex_check "$name" "$t" "$msg.sent" \
			"$(sed -n 's/^Message-ID: <\(.*\)>$/\1/p' "$msg")" \
			"$mode" --lmtp
	done <"$replies"
}

# ex_install_script FILE: install FILE as the global script (precompiled,
# as the admin how-to says)
ex_install_script()
{
	cp "$1" "$DC_DIR/sieve/global.sieve"
	dc_sievec "$DC_DIR/sieve/global.sieve"
}

# ex_run CONF KIND DEFAULT_KEYS -- SCRIPT...: with CONF for user names of
# KIND (and DEFAULT_KEYS, unless empty), deliver to alice with each SCRIPT
# as the global script
ex_run()
{
	local conf=$1 kind=$2 keys=$3 script
	shift 4
	ex_write_config "$conf" "$kind" "$keys"
	if [ "$LMTP" = yes ] && ! dc_lmtp_start; then
		dc_fail "$(origin "$conf"), $kind users: LMTP starts" "see above"
		return
	fi
	for script in "$@"; do
		ex_install_script "$script"
		ex_deliver "$(origin "$script") with $(origin "$conf")" \
			"$kind" alice encrypted
	done
	dc_lmtp_stop
}

# shellcheck disable=SC2086
ex_run "$MAIN_CONF" virtual "" -- $SCRIPTS
system_keys=$(ex_default_keys_for_system "$MAIN_CONF")
t="$(origin "$MAIN_CONF") gives default keys for system users"
if [ -n "$system_keys" ]; then
	dc_pass "$t: $system_keys"
	# shellcheck disable=SC2086
	ex_run "$MAIN_CONF" system "$system_keys" -- $SCRIPTS
else
	dc_fail "$t" "no commented sieve_encrypt_default_keys line"
fi
for conf in $CONFS; do
	[ "$conf" = "$MAIN_CONF" ] ||
		ex_run "$conf" virtual "" -- "$GLOBAL_SIEVE"
done

# A user without a keyring: global.sieve leaves the message alone, and
# says so at Info level only
ex_write_config "$MAIN_CONF" virtual
ex_install_script "$GLOBAL_SIEVE"
log_lines=$(wc -l <"$DC_LOG")
LMTP_SAVED=$LMTP
[ "$LMTP" = no ] || dc_lmtp_start || LMTP=no
ex_deliver "$(origin "$GLOBAL_SIEVE") with $(origin "$MAIN_CONF")" \
	virtual bob plain
dc_lmtp_stop
LMTP=$LMTP_SAVED
t="$(origin "$GLOBAL_SIEVE"): no error for a user without keyring"
errors=$(tail -n +"$((log_lines + 1))" "$DC_LOG" |
	grep -E "bob(@example.org)?\).*(Error|error)" || :)
if [ -n "$errors" ]; then
	dc_fail "$t" "$(printf '%s\n' "$errors" | head -n 1)"
else
	dc_pass "$t"
fi

t="no Panic or Fatal in the log"
if grep -qE 'Panic:|Fatal:' "$DC_LOG"; then
	dc_fail "$t" "$(grep -Em1 'Panic:|Fatal:' "$DC_LOG" | cut -c1-200)"
else
	dc_pass "$t"
fi

dc_summary
