#!/bin/bash
# test-hostile-gpg.sh: issue 12, the attacks on the gpg the plugin runs,
# tried as a hostile user would, through real deliveries:
#
#   1  privileges: the ids, groups and capabilities of every gpg run; a
#      ~/.gnupg/gpg.conf with "agent-program ~/prog.sh" and "with-secret"
#      (which makes gpg start the agent): prog.sh must never run
#   2  gpg.conf options that change the result: group, encrypt-to,
#      hidden-encrypt-to, dry-run, armor: stored encrypted to exactly the
#      user's key, or a failure per policy (tempfail here), never a
#      success with other content
#   4  a damaged keyring (pubring.kbx garbage, truncated, a directory),
#      with the test form "if encrypt": an Error and the policy (keep and
#      tempfail), not "no key"
#   5  a gpg that hangs (tests/svtest/bin/gpg-hang, gpg-hang-encrypt) with
#      sieve_encrypt_timeout = 3: killed at the deadline, no process
#      left, the policy applies
#
# Paths: "lda" (dovecot-lda as the user's own uid), "lmtp-root" (LMTP as
# Dovecot ships it: root, effective uid lowered per recipient; every user
# has a uid of its own), and for 1 and 5 also "lmtp-vmail" (service lmtp
# { user = ACCOUNT }, all users on that account). See tests/lib/hostile.sh
# for how gpg is observed and what each expectation checks. The global
# script is the admin how-to's: encrypt to the envelope recipient with the
# test form.
#
# Needs root (uids, the LMTP service); SKIP otherwise. Prints PASS:/FAIL:
# lines and "N passed, N failed"; exits 1 on failure. Environment:
# SIEVE_ENCRYPT_BUILD, SIEVE_ENCRYPT_KEEP, TMPDIR.
set -eu

TOP=$(cd "$(dirname "$0")/../.." && pwd)
DC_TOP=$TOP
. "$TOP/tests/lib/keys.sh"
. "$TOP/tests/lib/dovecot.sh"
. "$TOP/tests/lib/hostile.sh"

if [ "$(id -u)" -ne 0 ]; then
	dc_skip "hostile gpg" "needs root (uids of its own per user, LMTP)"
	dc_summary
	exit 0
fi

trap 'dc_cleanup' EXIT
trap 'exit 130' INT TERM

setup_failed()
{
	echo "test-hostile-gpg.sh: setting up $1 failed" >&2
	exit 1
}

GLOBAL_SCRIPT='require ["vnd.x.encrypt", "envelope", "variables"];
if envelope :matches "to" "*" {
  if encrypt "${1}" { }
}'

# user_gnupg NAME: NAME's keyring directory
user_gnupg() { printf '%s/.gnupg\n' "$(dc_home "$1")"; }

# add_mallory [POLICY]: user c1-mallory, whose gpg.conf makes gpg start an
# "agent" of their own, ~/prog.sh, which records that it ran (and as whom)
add_mallory()
{
	local home
	dc_add_user_with_key c1-mallory make_key \
		"sieve_encrypt_on_failure=${1:-keep}" >/dev/null ||
		setup_failed "c1-mallory"
	home=$(dc_home c1-mallory)
	cat >"$home/prog.sh" <<EOF
#!/bin/sh
/usr/bin/id >>$HS_PROG_RAN.\$\$ 2>&1
exit 1
EOF
	chmod 755 "$home/prog.sh"
	printf '%s\n' "agent-program $home/prog.sh" with-secret \
		>>"$home/.gnupg/gpg.conf"
	chown -R "$(dc_user_ids c1-mallory)" "$home"
}

# add_hang_user NAME FAKE [POLICY]: a user whose gpg is FAKE (recorded),
# with a deadline of 3 s
add_hang_user()
{
	dc_add_user_with_key "$1" make_key \
		"sieve_encrypt_gpg_binary=$HS_BIN/$2" \
		sieve_encrypt_timeout=3s \
		"sieve_encrypt_on_failure=${3:-keep}" >/dev/null ||
		setup_failed "$1"
}

# --- a well-behaved delivery: the checks pass ------------------------------

control()
{
	local path=$1 t="hostile 0 $1: control"
	hs_message plain
	hs_deliver "$path" c0-alice "$HS_MSG"
	hs_expect_encrypted "$t: stored encrypted to the user's key only" \
		c0-alice
	hs_expect_no_plaintext "$t: no plaintext in any stored file"
	hs_expect_no_process "$t: no gpg or gpg-agent process left"
}

# --- class 1 -----------------------------------------------------------

class1()
{
	local path=$1 policy=${2:-} t="hostile 1 $1" n
	hs_message plain
	hs_deliver "$path" c1-mallory "$HS_MSG"
	n="$t: gpg runs with the user's uids, gids and groups only, no capabilities"
	if [ "$path" = lmtp-vmail ]; then
		# Dovecot gives the lmtp service its internal group
		# (default_internal_group) besides the account's; a service
		# that runs as the account has no privilege left to drop it,
		# so gpg keeps it there when the admin allows it
		# (sieve_encrypt_gpg_allowed_groups): nothing more
		n="$t: gpg runs with the account's uids and gids, no capabilities, no group beyond the account's and the allowed one (Dovecot's internal group)"
		HS_SERVICE_GROUPS=$(getent group "$(doveconf -c "$DC_CONF" -h \
			default_internal_group)" | cut -d: -f3)
	fi
	if [ -n "$policy" ]; then
		hs_expect_gpg_creds "$n" c1-mallory refuse-ok "$policy"
	else
		hs_expect_gpg_creds "$n" c1-mallory
	fi
	HS_SERVICE_GROUPS=
	n="$t: agent-program from ~/.gnupg/gpg.conf never runs"
	if ls "$HS_PROG_RAN".* >/dev/null 2>&1; then
		dc_fail "$n" "prog.sh ran: $(cat "$HS_PROG_RAN".* |
			head -n 2 | tr '\n' ';')"
	else
		dc_pass "$n"
	fi
	n="$t: gpg.conf ignored, stored encrypted to the user's key only"
	if [ -n "$policy" ] && [ "$HS_OUT" != stored ] &&
		! grep -q '^run ' "$HS_RUNS"; then
		hs_expect_policy "$n (or gpg refused per policy $policy)" \
			"$policy" encrypt
	else
		hs_expect_encrypted "$n" c1-mallory
	fi
	hs_expect_no_plaintext "$t: no plaintext in any stored file"
	hs_expect_no_process "$t: no gpg or gpg-agent process left"
}

# --- class 2 -----------------------------------------------------------

C2_OPTIONS="group encrypt-to hidden-encrypt-to dry-run armor"

# add_c2_user OPTION: user c2-OPTION (policy tempfail) whose gpg.conf has
# OPTION; eve's public key is in the keyring, for the options that name a
# recipient
add_c2_user()
{
	local opt=$1 name=c2-$1 fpr gnupg
	fpr=$(dc_add_user_with_key "$name" make_key \
		sieve_encrypt_on_failure=tempfail) || setup_failed "$name"
	gnupg=$(user_gnupg "$name")
	keys_export_public "$(hs_secret_home eve)" "$gnupg" "$EVE" ||
		setup_failed "$name: eve's key"
	case $opt in
	group)
		# gpgme names the key by fingerprint (-r FPR): a group of
		# that name (and of the address) that means eve
		printf 'group %s = %s\ngroup %s@%s = %s\n' "$fpr" "$EVE" \
			"$name" "$DC_DOMAIN" "$EVE" >>"$gnupg/gpg.conf"
		;;
	encrypt-to|hidden-encrypt-to)
		printf '%s %s\n' "$opt" "$EVE" >>"$gnupg/gpg.conf"
		;;
	*)
		printf '%s\n' "$opt" >>"$gnupg/gpg.conf"
		;;
	esac
	keys_give "$gnupg" "$(dc_user_ids "$name")"
}

class2()
{
	local path=$1 opt t
	for opt in $C2_OPTIONS; do
		t="hostile 2 $path: gpg.conf $opt"
		hs_message plain
		hs_deliver "$path" "c2-$opt" "$HS_MSG"
		hs_expect_encrypted_or_policy "$t: encrypted to the user's key only, or a failure per policy tempfail" \
			"c2-$opt" tempfail encrypt
		hs_expect_no_plaintext "$t: no plaintext in any stored file"
		hs_note_leftovers
	done
}

# --- class 4 -----------------------------------------------------------

C4_DAMAGE="garbage truncated directory"

# add_c4_user DAMAGE POLICY: user c4-DAMAGE-POLICY whose pubring.kbx is
# damaged so
add_c4_user()
{
	local damage=$1 policy=$2 name=c4-$1-$2 kbx size
	dc_add_user_with_key "$name" make_key \
		"sieve_encrypt_on_failure=$policy" >/dev/null ||
		setup_failed "$name"
	kbx=$(user_gnupg "$name")/pubring.kbx
	case $damage in
	garbage)
		head -c 4096 /dev/urandom >"$kbx"
		;;
	truncated)
		size=$(wc -c <"$kbx")
		truncate -s $((size / 2)) "$kbx"
		;;
	directory)
		rm -f "$kbx"
		mkdir "$kbx"
		;;
	esac
	chown -R "$(dc_user_ids "$name")" "$(user_gnupg "$name")"
}

class4()
{
	local path=$1 damage policy t name stored
	for damage in $C4_DAMAGE; do
		for policy in keep tempfail; do
			name=c4-$damage-$policy
			t="hostile 4 $path: pubring.kbx $damage, if encrypt"
			hs_message plain
			hs_deliver "$path" "$name" "$HS_MSG"
			hs_expect_policy "$t: Error, then policy $policy" \
				"$policy" encrypt
			stored=
			[ "$policy" != keep ] || stored=$HS_NEW
			hs_expect_no_plaintext "$t: no plaintext in any file but the kept original (policy $policy)" \
				"$stored"
			hs_note_leftovers
		done
	done
}

# --- class 5 -----------------------------------------------------------

# hang_case PATH USER FAKE POLICY: a delivery to USER, whose gpg is FAKE
hang_case()
{
	local path=$1 user=$2 fake=$3 policy=$4 stored n
	local t="hostile 5 $path: ${fake#gpg-record-} (deadline 3 s)"
	hs_message plain
	hs_deliver "$path" "$user" "$HS_MSG"
	n="$t: delivery ends by the deadline, Error, policy $policy"
	if [ "$HS_SECS" -gt 10 ]; then
		dc_fail "$n" "took $HS_SECS s: $(hs_outcome)"
	else
		hs_expect_policy "$n" "$policy" encrypt
	fi
	hs_expect_no_process "$t: gpg killed, no process left"
	stored=
	[ "$policy" != keep ] || stored=$HS_NEW
	hs_expect_no_plaintext "$t: no plaintext in any file but the kept original (policy $policy)" \
		"$stored"
}

class5()
{
	local path=$1
	hang_case "$path" c5-enc-keep gpg-record-hang-encrypt keep
	hang_case "$path" c5-enc-tempfail gpg-record-hang-encrypt tempfail
	hang_case "$path" c5-list-tempfail gpg-record-hang tempfail
}

# --- per-user uids: dovecot-lda and Dovecot's default LMTP ----------------

dc_init --per-user-uids
hs_init
dc_global_script "$GLOBAL_SCRIPT"

mkdir -p "$DC_DIR/secret"
EVE=$(make_key "$(hs_secret_home eve)" Eve eve@example.net) ||
	setup_failed "eve's key"
dc_add_user_with_key c0-alice make_key >/dev/null || setup_failed c0-alice
add_mallory
for opt in $C2_OPTIONS; do add_c2_user "$opt"; done
for damage in $C4_DAMAGE; do
	add_c4_user "$damage" keep
	add_c4_user "$damage" tempfail
done
add_hang_user c5-enc-keep gpg-record-hang-encrypt keep
add_hang_user c5-enc-tempfail gpg-record-hang-encrypt tempfail
add_hang_user c5-list-tempfail gpg-record-hang tempfail
dc_kill_agents

dc_lmtp_start || setup_failed "the LMTP service"
for path in lda lmtp-root; do
	control "$path"
	class1 "$path"
	class2 "$path"
	class4 "$path"
	class5 "$path"
done
hs_expect_no_leftovers "hostile 2, 4 lda+lmtp-root: no gpg or gpg-agent process left"
t="hostile lda+lmtp-root: no Panic or Fatal in the log"
if grep -Eq 'Panic:|Fatal:' "$DC_LOG"; then
	dc_fail "$t" "$(grep -Em1 'Panic:|Fatal:' "$DC_LOG" | cut -c1-200)"
else
	dc_pass "$t"
fi
dc_cleanup

# --- one account for all users: service lmtp { user = ACCOUNT } ----------

dc_init --lmtp-user
hs_init
dc_global_script "$GLOBAL_SCRIPT"
add_mallory tempfail
add_hang_user c5-enc-tempfail gpg-record-hang-encrypt tempfail
dc_kill_agents
# gpg cannot lose the service's extra groups there (no privilege left to
# do so): the plugin refuses unless the admin allows them (test-gpg-exec.sh
# shows the refusal); allowed here, gpg must have nothing more
dc_plugin_setting sieve_encrypt_gpg_allowed_groups \
	"$(doveconf -c "$DC_CONF" -h default_internal_group)"
dc_lmtp_start || setup_failed "the LMTP service (lmtp-vmail)"
class1 lmtp-vmail
hang_case lmtp-vmail c5-enc-tempfail gpg-record-hang-encrypt tempfail
dc_cleanup

dc_summary
