#!/bin/bash
# test-gpg-exec.sh: what gpg runs as, what it reads, and that it ends at the
# deadline, under dovecot-lda and under LMTP (issue 12, classes 1, 2, 5).
#
# gpg is started through sieve-encrypt-gpg-exec (the build tree's). A
# recording gpg, set as sieve_encrypt_gpg_binary, appends its
# /proc/self/status (Uid, Gid, Groups, Cap*, NoNewPrivs) and arguments to a
# file, then runs gpg. Deliveries:
#   lda          dovecot-lda as the unprivileged mail account (nobody)
#   lmtp-root    Dovecot's default LMTP service (root; per-recipient
#                seteuid), a passwd-file user with a uid of its own (20101),
#                mail_privileged_group = mail (a saved gid) and
#                mail_access_groups = users (a supplementary group)
#   lmtp-user    service lmtp { user = nobody }, users mapped to nobody:
#                refused (the service keeps Dovecot's internal group),
#                then run with sieve_encrypt_gpg_allowed_groups = dovecot
# Each checks: every gpg run had real = effective = saved = filesystem uid
# and gid of the user, no capability (CapInh, CapPrm, CapEff, CapAmb all
# 0), no_new_privs, --no-options and --homedir /dev/null and the user's
# keyring file; the message was stored encrypted. Groups: under the root
# LMTP the user's own only (its gid: no system account; not Dovecot's
# internal group that the lmtp process has, nor mail_access_groups), else
# the delivery process's (which cannot change them), refused if one of
# them is neither the user's nor allowed.
# A hostile keyring directory (gpg.conf with armor, dry-run, encrypt-to,
# hidden-encrypt-to, group, with-secret + agent-program; common.conf with
# use-keyboxd + keyboxd-program; a second public key) changes nothing:
# the message decrypts with the user's key, its public-key packets are for
# the user's encryption subkey only, the programs named there never ran.
# A hanging gpg (sieve_encrypt_timeout = 2s) is killed at the deadline and
# leaves no process, under LMTP as root with a distinct uid and under LDA.
# A delivery with group 0 among its groups (LMTP, mail_access_groups =
# root) is refused by the plugin, naming the cause; the helper itself
# refuses root ids and groups, a group it cannot drop that is not the
# user's, a missing or wrong list of the user's groups, and a missing
# deadline, with a status line and exit code 126.
# The keyring fault wording is the same under LDA and LMTP.
#
# Needs root (LMTP, uids); SKIP otherwise. Prints PASS:/FAIL:/SKIP: lines
# and "N passed, N failed"; exits 1 on failure. Environment:
# SIEVE_ENCRYPT_BUILD, SIEVE_ENCRYPT_KEEP, TMPDIR.
set -eu

TOP=$(cd "$(dirname "$0")/../.." && pwd)
DC_TOP=$TOP
. "$TOP/tests/lib/keys.sh"
. "$TOP/tests/lib/dovecot.sh"
VERIFY=$TOP/tests/tools/pgpmime-verify.py
FAKES=$TOP/tests/svtest/bin

if [ "$(id -u)" -ne 0 ]; then
	dc_skip "gpg-exec" "needs root (LMTP service, distinct uids)"
	dc_summary
	exit 0
fi

trap 'dc_cleanup' EXIT
trap 'exit 130' INT TERM

dc_init

# The distinct uid of the LMTP user, and the groups the test gives it
DUID=20101
USERSGID=$(getent group users | cut -d: -f3)

setup_failed()
{
	echo "test-gpg-exec.sh: setting up $1 failed" >&2
	exit 1
}

# add_uid_user NAME UID: NAME@example.org with a uid (and gid) of its own,
# a key like dc_add_user_with_key's; prints the fingerprint
add_uid_user()
{
	local name=$1 uid=$2 home fpr
	home=$(dc_home "$name")
	mkdir -p "$home" "$DC_DIR/secret"
	fpr=$(make_key "$(dc_secret_home "$name")" "${name^}" \
		"$name@$DC_DOMAIN") &&
		keys_export_public "$(dc_secret_home "$name")" "$home/.gnupg" \
			"$fpr" || return 1
	chown -R "$uid:$uid" "$home"
	printf '%s@%s::%s:%s::%s\n' "$name" "$DC_DOMAIN" "$uid" "$uid" \
		"$home" >>"$DC_DIR/users"
	printf '%s\n' "$fpr"
}

declare -A FPR
FPR[alice]=$(dc_add_user_with_key alice make_key) || setup_failed "alice"
FPR[dora]=$(add_uid_user dora "$DUID") || setup_failed "dora"
MALLORY=$DC_DIR/secret/mallory
FPR[mallory]=$(make_key "$MALLORY" Mallory mallory@example.net) ||
	setup_failed "mallory"
dc_kill_agents

dc_global_script 'require ["vnd.x.encrypt", "envelope", "variables"];
if envelope :localpart :matches "to" "*" {
  encrypt "${1}@example.org";
}'

MARKER="GPG-EXEC-BODY-$$"
MSG=$DC_DIR/msg.eml
cat >"$MSG" <<EOF
From: Sender <sender@example.net>
To: Recipient <rcpt@example.org>
Subject: gpg-exec test
Message-ID: <gpg-exec-$$@example.net>
Content-Type: text/plain; charset=us-ascii

Secret text $MARKER.
EOF
chmod 644 "$MSG"

# The recording gpg and the marker program, for every uid
mkdir -m 755 "$DC_DIR/bin"
mkdir -m 1777 "$DC_DIR/rec"
RECORD=$DC_DIR/rec/gpg-runs
PWNED=$DC_DIR/rec/pwned
cat >"$DC_DIR/bin/gpg-record" <<EOF
#!/bin/sh
{
	grep -E '^(Uid|Gid|Groups|CapInh|CapPrm|CapEff|CapAmb|NoNewPrivs):' \\
		/proc/self/status
	echo "Args: \$*"
	echo "--"
} >>$RECORD
exec gpg "\$@"
EOF
cat >"$DC_DIR/bin/marker" <<EOF
#!/bin/sh
echo "\$(id) \$0 \$*" >>$PWNED
exit 1
EOF
# gpg-hang (tests/svtest/bin) with a sleep of its own, to be told apart
# from any other on the machine, whatever uid it runs as
HANG_SLEEP="sleep 600.$$"
sed "s/exec sleep 600\$/exec $HANG_SLEEP/" "$FAKES/gpg-hang" \
	>"$DC_DIR/bin/gpg-hang"
grep -q "$HANG_SLEEP" "$DC_DIR/bin/gpg-hang" || setup_failed "gpg-hang"
chmod 755 "$DC_DIR/bin"/*

# --- checks -------------------------------------------------------------------

# records_check NAME UID GID GROUPS HOME: every recorded gpg run had the
# ids, groups, no capability and no_new_privs; the runs other than gpgme's
# version check read HOME/.gnupg/pubring.kbx only; at least two runs
records_check()
{
	local name=$1 out
	if out=$(python3 - "$RECORD" "$2" "$3" "$4" "$5" 2>&1 <<'EOF'
import sys
path, uid, gid, groups, home = sys.argv[1:6]
runs = [r for r in open(path).read().split("--\n") if r.strip()]
if len(runs) < 2:
    sys.exit("%d gpg run(s) recorded, expected at least 2" % len(runs))
want_groups = sorted(groups.split())
for n, run in enumerate(runs, 1):
    f = dict.fromkeys(("Uid", "Gid", "Groups", "CapInh", "CapPrm", "CapEff",
                       "CapAmb", "NoNewPrivs", "Args"), "?")
    for line in run.splitlines():
        key, _, value = line.partition(":")
        f[key] = value.strip()
    what = "gpg run %d (%s)" % (n, f["Args"][-60:])
    if f["Uid"].split() != [uid] * 4:
        sys.exit("%s: Uid %s, expected %s for all four" % (what, f["Uid"], uid))
    if f["Gid"].split() != [gid] * 4:
        sys.exit("%s: Gid %s, expected %s for all four" % (what, f["Gid"], gid))
    if sorted(f["Groups"].split()) != want_groups:
        sys.exit("%s: Groups %s, expected %s" % (what, f["Groups"], groups))
    for cap in ("CapInh", "CapPrm", "CapEff", "CapAmb"):
        if f[cap] != "0" * 16:
            sys.exit("%s: %s %s" % (what, cap, f[cap]))
    if f["NoNewPrivs"] != "1":
        sys.exit("%s: NoNewPrivs %s" % (what, f["NoNewPrivs"]))
    args = f["Args"].split()
    if args[:3] != ["--no-options", "--homedir", "/dev/null"]:
        sys.exit("%s: does not start with --no-options --homedir /dev/null"
                 % what)
    if args[-1] == "--version":
        continue
    keyring = home + "/.gnupg/pubring.kbx"
    if "--no-default-keyring" not in args or \
            args[args.index("--keyring") + 1] != keyring:
        sys.exit("%s: keyring is not %s alone" % (what, keyring))
print("%d gpg runs as uid %s, gid %s, groups %s, no capabilities"
      % (len(runs), uid, gid, groups))
EOF
	); then
		dc_pass "$name: $out"
	else
		dc_fail "$name" "$out"
	fi
}

# pkesk_check NAME STORED USER: the stored message's public-key encrypted
# session key packets are for USER's encryption subkey only
pkesk_check()
{
	local name=$1 stored=$2 user=$3 want got empty
	want=$(keys_subkey_ids "$(dc_secret_home "$user")" "${FPR[$user]}" |
		sort | tr '\n' ' ')
	empty=$DC_DIR/empty-gnupg
	mkdir -p -m 700 "$empty"
	got=$(sed -n '/^-----BEGIN PGP MESSAGE/,/^-----END PGP MESSAGE/p' \
		"$stored" | tr -d '\r' |
		gpg --homedir "$empty" --batch --no-autostart \
			--list-packets 2>/dev/null |
		sed -n 's/^:pubkey enc packet:.* keyid \([0-9A-F]*\).*/\1/p' |
		sort | tr '\n' ' ')
	if [ -n "$want" ] && [ "$got" = "$want" ]; then
		dc_pass "$name: encrypted to $user's subkey only ($got)"
	else
		dc_fail "$name" "session keys for '$got', expected '$want'"
	fi
}

# stored_check NAME STORED USER [--lmtp]: STORED is the encrypted form
stored_check()
{
	local name=$1 stored=$2 user=$3 out
	shift 3
	if [ -z "$stored" ]; then
		dc_fail "$name" "nothing stored"
	elif out=$(python3 "$VERIFY" "$@" "$SENT" "$stored" \
		"$(dc_secret_home "$user")" 2>&1); then
		dc_pass "$name: stored encrypted, decrypts to the original"
	else
		dc_fail "$name" "$out"
	fi
}

# leftovers: this test's hanging gpg if it still runs (not a zombie),
# after waiting up to a second for it to end; with its uids
leftovers()
{
	local _ left
	for _ in $(seq 1 10); do
		left=$(ps -eo pid=,ruid=,euid=,stat=,args= |
			awk -v s="${HANG_SLEEP#sleep }" \
				'$4 !~ /^Z/ && $5 == "sleep" && $6 == s' || :)
		[ -n "$left" ] || return 0
		sleep 0.1
	done
	printf '%s\n' "$left"
}

# lmtp_process: the pid of the running instance's (first) lmtp process
lmtp_process()
{
	pgrep -P "$(cat "$DC_DIR/run/master.pid")" -x lmtp | head -n 1
}

# --- deliveries ----------------------------------------------------------------

N=0
# lda_deliver USER: deliver $MSG to USER with dovecot-lda; sets RC, NEW,
# LOGF, SENT
lda_deliver()
{
	local user=$1 before
	N=$((N + 1))
	LOGF=$DC_DIR/logs/deliver-$N.log
	: >"$LOGF"
	chown "$DC_UID:$DC_GID" "$LOGF"
	before=$DC_DIR/before.$N
	dc_all_files "$(dc_maildir "$user")" >"$before"
	: >"$RECORD"
	chmod 666 "$RECORD"
	RC=0
	dc_lda "$user" "$MSG" -o "log_path=$LOGF" || RC=$?
	NEW=$(dc_new_files "$before" "$(dc_maildir "$user")")
	SENT=$MSG
}

# lmtp_deliver USER: deliver $MSG to USER over LMTP (the service must run);
# sets REPLY, NEW, SENT, SESSION, LOGF (the lines of that session)
lmtp_deliver()
{
	local user=$1 before lines
	N=$((N + 1))
	before=$DC_DIR/before.$N
	dc_all_files "$(dc_maildir "$user")" >"$before"
	: >"$RECORD"
	chmod 666 "$RECORD"
	lines=$(wc -l <"$DC_LOG")
	SENT=$DC_DIR/sent-$N.eml
	printf '%s\t%s\t%s\n' "$MSG" "$SENT" "$user@$DC_DOMAIN" \
		>"$DC_DIR/spec-$N"
	REPLY=$(dc_lmtp_send "$DC_DIR/spec-$N" 2>&1) || :
	NEW=$(dc_new_files "$before" "$(dc_maildir "$user")")
	SESSION=$(printf '%s\n' "$REPLY" | awk '{ print $(NF - 1) }')
	LOGF=$DC_DIR/logs/lmtp-$N.log
	# the delivery's lines are logged by the time LMTP replies
	tail -n +"$((lines + 1))" "$DC_LOG" | grep -F "$user@$DC_DOMAIN" \
		>"$LOGF" || :
}

# --- 1. what gpg runs as --------------------------------------------------------

RUNAS=(sieve_encrypt_gpg_binary="$DC_DIR/bin/gpg-record")

dc_configure "${RUNAS[@]}"
lda_deliver alice
stored_check "lda as $DC_ACCOUNT" "$NEW" alice
records_check "lda as $DC_ACCOUNT" "$DC_UID" "$DC_GID" \
	"$(id -G "$DC_ACCOUNT")" "$(dc_home alice)"

# Default LMTP service (root) with a saved gid and an extra group
cat >"$DC_DIR/extra.conf" <<EOF
mail_privileged_group = mail
mail_access_groups = users
EOF
dc_configure "${RUNAS[@]}"
dc_lmtp_start || setup_failed "LMTP"
lmtp_deliver dora
lmtp_pid=$(lmtp_process)
if [ -n "$lmtp_pid" ] &&
	[ "$(ps -o ruid= -p "$lmtp_pid" | tr -d ' ')" = 0 ]; then
	dc_pass "lmtp-root: the lmtp process runs with real uid 0"
else
	dc_fail "lmtp-root: the lmtp process runs with real uid 0" \
		"pid '$lmtp_pid'"
fi
stored_check "lmtp-root, uid $DUID" "$NEW" dora --lmtp
lmtp_groups=$(sed -n 's/^Groups:\t*//p' "/proc/$lmtp_pid/status" 2>/dev/null)
case " $lmtp_groups " in
*" $USERSGID "*) ;;
*) dc_fail "lmtp-root: the lmtp process has mail_access_groups" \
	"groups '$lmtp_groups'" ;;
esac
records_check "lmtp-root, uid $DUID, mail_privileged_group = mail" \
	"$DUID" "$DUID" "$DUID" "$(dc_home dora)"
dc_lmtp_stop

# LMTP running as the mail account: Dovecot gives the service its internal
# group (extra_groups), which a process without privilege cannot drop. gpg
# would keep it, so it is refused unless the admin allows that group.
INTERNAL=$(doveconf -c "$DC_CONF" -h default_internal_group)
INTERNAL_GID=$(getent group "$INTERNAL" | cut -d: -f3)
cat >"$DC_DIR/extra.conf" <<EOF
service lmtp {
  user = $DC_ACCOUNT
}
EOF
dc_configure "${RUNAS[@]}" sieve_encrypt_on_failure=tempfail
dc_lmtp_start || setup_failed "LMTP (user = $DC_ACCOUNT)"
lmtp_deliver alice
name="lmtp-user ($DC_ACCOUNT), group $INTERNAL kept by the service: gpg is not run"
if printf '%s\n' "$REPLY" | grep -q '^4' && [ -z "$NEW" ] &&
	[ ! -s "$RECORD" ] &&
	grep -q "Error: .*refusing to run gpg: the delivery process has group $INTERNAL (gid $INTERNAL_GID), which is not the mail user's own.*sieve_encrypt_gpg_allowed_groups" \
		"$LOGF"; then
	dc_pass "$name (4xx, the error names the group and the setting)"
else
	dc_fail "$name" "reply '$REPLY', $(grep -c . "$RECORD") record lines: $(grep -E 'encrypt' "$LOGF" | tail -n 1)"
fi
dc_lmtp_stop
dc_configure "${RUNAS[@]}" sieve_encrypt_gpg_allowed_groups="$INTERNAL"
dc_lmtp_start || setup_failed "LMTP (user = $DC_ACCOUNT)"
lmtp_deliver alice
lmtp_groups=$(sed -n 's/^Groups:\t*//p' "/proc/$(lmtp_process)/status" \
	2>/dev/null)
stored_check "lmtp-user ($DC_ACCOUNT), $INTERNAL allowed" "$NEW" alice --lmtp
case " $lmtp_groups " in
*" $INTERNAL_GID "*)
	records_check "lmtp-user ($DC_ACCOUNT), $INTERNAL allowed: the lmtp process's groups" \
		"$DC_UID" "$DC_GID" "$lmtp_groups" "$(dc_home alice)" ;;
*)
	dc_fail "lmtp-user ($DC_ACCOUNT): the lmtp process has group $INTERNAL" \
		"groups '$lmtp_groups'" ;;
esac
dc_lmtp_stop
: >"$DC_DIR/extra.conf"

# --- 2. nothing in the keyring directory but the keys counts ------------------

# hostile_keyring USER: USER's keyring also holds mallory's public key, a
# gpg.conf that adds recipients, changes the output and starts a program,
# and a common.conf (gpg 2.4) that would start another
hostile_keyring()
{
	local user=$1 gnupg uid
	gnupg=$(dc_home "$user")/.gnupg
	uid=$(stat -c %u "$gnupg")
	keys_export_public "$MALLORY" "$gnupg" "${FPR[mallory]}"
	keys_kill_agents "$MALLORY" "$gnupg"
	cat >"$gnupg/gpg.conf" <<EOF
armor
dry-run
encrypt-to mallory@example.net
hidden-encrypt-to ${FPR[mallory]}
group $user@$DC_DOMAIN = ${FPR[mallory]}
with-secret
agent-program $DC_DIR/bin/marker
dirmngr-program $DC_DIR/bin/marker
auto-key-locate wkd
keyserver hkp://127.0.0.1:9
EOF
	cat >"$gnupg/common.conf" <<EOF
use-keyboxd
keyboxd-program $DC_DIR/bin/marker
EOF
	chown -R "$uid:$uid" "$gnupg"
}
hostile_keyring alice
hostile_keyring dora
: >"$PWNED"
chmod 666 "$PWNED"

dc_configure "${RUNAS[@]}"
lda_deliver alice
stored_check "hostile gpg.conf, lda" "$NEW" alice
[ -z "$NEW" ] || pkesk_check "hostile gpg.conf, lda" "$NEW" alice

dc_lmtp_start || setup_failed "LMTP"
lmtp_deliver dora
stored_check "hostile gpg.conf, lmtp-root" "$NEW" dora --lmtp
[ -z "$NEW" ] || pkesk_check "hostile gpg.conf, lmtp-root" "$NEW" dora
dc_lmtp_stop
# (the test's own gpgconf --kill at the end must not read them either)
rm -f "$(dc_home alice)/.gnupg/"*.conf "$(dc_home dora)/.gnupg/"*.conf
if [ -s "$PWNED" ]; then
	dc_fail "no program named in gpg.conf or common.conf ran" \
		"$(head -n 3 "$PWNED")"
else
	dc_pass "no program named in gpg.conf or common.conf ran"
fi

# --- 5. the deadline ---------------------------------------------------------------

HANG=(sieve_encrypt_gpg_binary="$DC_DIR/bin/gpg-hang" sieve_encrypt_timeout=2s
	sieve_encrypt_on_failure=tempfail)
KILLED="gpg did not finish within 2 seconds \(killed\)"

dc_configure "${HANG[@]}"
dc_lmtp_start || setup_failed "LMTP"
start=$SECONDS
lmtp_deliver dora
took=$((SECONDS - start))
name="lmtp-root, uid $DUID: a hanging gpg is killed at the deadline"
if ! printf '%s\n' "$REPLY" | grep -q '^4'; then
	dc_fail "$name" "reply: $REPLY"
elif [ "$took" -gt 8 ]; then
	dc_fail "$name" "the reply took $took s"
elif ! grep -qE "Error: .*$KILLED" "$LOGF"; then
	dc_fail "$name" "log lacks /$KILLED/: $(tail -n 2 "$LOGF")"
elif [ -n "$NEW" ]; then
	dc_fail "$name" "a message was stored"
else
	left=$(leftovers)
	if [ -n "$left" ]; then
		dc_fail "$name" "left running (pid ruid euid): $left"
	else
		dc_pass "$name (4xx after $took s, nothing left)"
	fi
fi
dc_lmtp_stop

dc_configure "${HANG[@]}"
start=$SECONDS
lda_deliver alice
took=$((SECONDS - start))
name="lda: a hanging gpg is killed at the deadline"
if [ "$RC" -ne 75 ] || [ "$took" -gt 8 ] || [ -n "$NEW" ] ||
	! grep -qE "$KILLED" "$LOGF"; then
	dc_fail "$name" "exit $RC after $took s, stored '$NEW'"
elif [ -n "$(leftovers)" ]; then
	dc_fail "$name" "left running (pid ruid euid): $(leftovers)"
else
	dc_pass "$name (exit 75 after $took s, nothing left)"
fi
dc_configure

# --- refusals -----------------------------------------------------------------------

# Group root among the delivery's groups: refused up front
echo "mail_access_groups = root" >"$DC_DIR/extra.conf"
dc_configure sieve_encrypt_on_failure=tempfail
dc_lmtp_start || setup_failed "LMTP"
lmtp_deliver dora
name="lmtp-root, mail_access_groups = root: gpg is not run"
if printf '%s\n' "$REPLY" | grep -q '^4' && [ -z "$NEW" ] &&
	grep -q "Error: .*refusing to run gpg with group root: gid 0 is among" \
		"$LOGF"; then
	dc_pass "$name (4xx, the error names the group)"
else
	dc_fail "$name" "reply '$REPLY': $(grep -E 'encrypt' "$LOGF" | tail -n 1)"
fi
dc_lmtp_stop
: >"$DC_DIR/extra.conf"
dc_configure

# The helper on its own: root ids or groups are refused, saying why on
# the status fd and stderr, with exit code 126
helper_refuses()
{
	local name=$1 want=$2 out rc
	shift 2
	rc=0
	out=$("$@" env -i SIEVE_ENCRYPT_GPG=/usr/bin/gpg \
		SIEVE_ENCRYPT_GPG_KEYRING="$(dc_home alice)/.gnupg/pubring.kbx" \
		SIEVE_ENCRYPT_GPG_DEADLINE=999999999.0 \
		SIEVE_ENCRYPT_GPG_USER_GROUPS="${USER_GROUPS-$DUID}" \
		"$DC_GPG_EXEC" --status-fd 1 --list-keys 2>/dev/null) || rc=$?
	if [ "$rc" -eq 126 ] && printf '%s\n' "$out" |
		grep -q "^\[GNUPG:\] SIEVE_ENCRYPT_GPG_EXEC_REFUSED .*$want"; then
		dc_pass "helper refuses $name"
	else
		dc_fail "helper refuses $name" "exit $rc: $out"
	fi
}
helper_refuses "effective uid 0" "the effective uid is 0"
helper_refuses "group 0" "group 0 (root) is among" \
	setpriv --reuid="$DUID" --regid="$DUID" --groups=0
helper_refuses "effective gid 0" "the effective gid is 0" \
	setpriv --euid="$DUID" --egid=0 --clear-groups
helper_refuses "a group it cannot drop, neither the user's nor allowed" \
	"group $INTERNAL_GID is not uid $DUID's own" \
	setpriv --reuid="$DUID" --regid="$DUID" --groups="$INTERNAL_GID"
USER_GROUPS="" helper_refuses "to run without the user's groups" \
	"SIEVE_ENCRYPT_GPG_USER_GROUPS is not set to the mail user's groups" \
	setpriv --euid="$DUID" --egid="$DUID" --clear-groups
USER_GROUPS="$INTERNAL_GID $DUID" helper_refuses \
	"user's groups that do not start with the effective gid" \
	"do not start with the effective gid $DUID" \
	setpriv --euid="$DUID" --egid="$DUID" --clear-groups
out=$(setpriv --reuid="$DUID" --regid="$DUID" --clear-groups env -i \
	SIEVE_ENCRYPT_GPG=/usr/bin/gpg SIEVE_ENCRYPT_GPG_USER_GROUPS="$DUID" \
	"$DC_GPG_EXEC" --version 2>&1) && rc=0 ||
	rc=$?
if [ "$rc" -eq 126 ] && printf '%s' "$out" | grep -q "SIEVE_ENCRYPT_GPG_DEADLINE"
then
	dc_pass "helper refuses to run without a deadline"
else
	dc_fail "helper refuses to run without a deadline" "exit $rc: $out"
fi

# --- 4. the same keyring fault, the same words under LDA and LMTP -------------

chmod 000 "$(dc_home alice)/.gnupg/pubring.kbx" \
	"$(dc_home dora)/.gnupg/pubring.kbx"
dc_configure sieve_encrypt_on_failure=tempfail
lda_deliver alice
lda_error=$(sed -n 's/.*encrypt action: \(.*\)/\1/p' "$LOGF" | head -n 1 |
	sed "s|$(dc_home alice)|HOME|")
dc_lmtp_start || setup_failed "LMTP"
lmtp_deliver dora
lmtp_error=$(sed -n 's/.*encrypt action: \(.*\)/\1/p' "$LOGF" | head -n 1 |
	sed "s|$(dc_home dora)|HOME|; s|dora@|alice@|")
dc_lmtp_stop
if [ -n "$lda_error" ] && [ "$lda_error" = "$lmtp_error" ] &&
	printf '%s' "$lda_error" | grep -q "Permission denied"; then
	dc_pass "unreadable keyring: the same error under LDA and LMTP ($lda_error)"
else
	dc_fail "unreadable keyring: the same error under LDA and LMTP" \
		"LDA '$lda_error', LMTP '$lmtp_error'"
fi

if grep -rqF "$MARKER" "$DC_DIR/logs" "$DC_LOG"; then
	dc_fail "no message text in the logs" "marker found"
else
	dc_pass "no message text in the logs"
fi

dc_summary
