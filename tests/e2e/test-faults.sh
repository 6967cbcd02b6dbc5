#!/bin/bash
# test-faults.sh: the fault matrix of issue 6 through the real dovecot-lda,
# for the faults that test-policy.sh does not cover.
#
#   keyring     unreadable (mode 000; owned by root, 0700; pubring.kbx 000),
#               not writable (with and without trustdb.gpg; user- and
#               root-owned), a file instead of a directory; damaged:
#               pubring.kbx and pubring.gpg of random bytes, truncated, a
#               directory, empty or a FIFO (pubring.kbx), mode 000
#               (pubring.gpg), also with the test form (a damaged keyring
#               is a failure, never "no key"); a legacy pubring.gpg alone
#   gpg         hit by a signal from outside half-way through a large
#               message (SIGKILL, SIGTERM, SIGSTOP), then a normal delivery;
#               writing other output than asked for (what encrypt-to,
#               hidden-encrypt-to, group, armor, dry-run make it write)
#   storage     disk full (the Maildir on a 1 MB tmpfs, a 2 MB message),
#               mail_temp_dir full, Dovecot's quota_max_mail_size and storage
#               quota (the "configured limit"; Dovecot 2.3 settings)
#   messages    NUL bytes, a 1 MB header (many fields; one 1 MB line), a
#               missing final MIME boundary, raw 8bit UTF-8 and Latin-1 in
#               header fields, CR-only line ends, an empty body, 8 MB
#               (tests/messages/2*.eml, the large ones made at run time),
#               delivered with encrypt and checked with pgpmime-verify.py
#
# Each fault is delivered with sieve_encrypt_on_failure = keep (the original
# is stored, an error logged) and = tempfail (exit 75, nothing stored), with
# the command form of encrypt. Every case checks: dovecot-lda's exit code,
# what is stored (nothing / the original / the encrypted form, with the
# verifier), what is logged, no message text in the log, nothing left in the
# Maildir's tmp/ or in mail_temp_dir, no new file in the home directory
# outside the Maildir (keyring lock files!; but a gpg killed while it runs
# cannot remove the temporary file of its dotlock, ".#lk0x...": gpg's
# behaviour, counted in a "note:" line), no process left running and no
# zombie (the script runs under tests/tools/subreaper.py, so that every gpg
# that gpgme double-forks is reaped, and counted, here). Under each PASS or
# FAIL line a record line gives: exit code, what was stored, gpg processes
# (and how they ended), the log line.
#
# Known plugin bugs are checked too and reported as "XFAIL:" (they do not
# count as failures; "XPASS:" counts as one, so that the check gets updated
# when the bug is fixed).
#
# Needs root for the tmpfs mounts and root-owned keyrings (SKIP otherwise).
# Prints PASS:/FAIL:/SKIP:/XFAIL: lines and "N passed, N failed"; exits 1
# on failure. Environment: SIEVE_ENCRYPT_BUILD, SIEVE_ENCRYPT_KEEP, TMPDIR.
set -eu

TOP=$(cd "$(dirname "$0")/../.." && pwd)

# Run under a child subreaper (see tests/tools/subreaper.py)
if [ "${SIEVE_ENCRYPT_REAPER:-}" != "$PPID" ]; then
	REAPLOG=$(mktemp "${TMPDIR:-/tmp}/test-faults-reaper.XXXXXX")
	export FAULTS_REAPLOG=$REAPLOG
	exec python3 "$TOP/tests/tools/subreaper.py" "$REAPLOG" -- "$0" "$@"
fi
REAPLOG=$FAULTS_REAPLOG
REAPER=$SIEVE_ENCRYPT_REAPER

DC_TOP=$TOP
. "$TOP/tests/lib/keys.sh"
. "$TOP/tests/lib/dovecot.sh"
VERIFY=$TOP/tests/tools/pgpmime-verify.py
MESSAGES=$TOP/tests/messages

MOUNTS=()
cleanup()
{
	local m
	for m in "${MOUNTS[@]}"; do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || :
	done
	MOUNTS=()
	if [ -n "$DC_DIR" ] && [ -d "$DC_DIR" ]; then
		chmod -R u+rwX "$DC_DIR/home" 2>/dev/null || :
	fi
	dc_cleanup
	rm -f "$REAPLOG"
}
trap 'cleanup' EXIT
trap 'exit 130' INT TERM


IS_ROOT=no
[ "$(id -u)" -ne 0 ] || IS_ROOT=yes

dc_init
dc_add_user_with_key alice make_key >/dev/null ||
	{ echo "test-faults.sh: key set-up failed" >&2; exit 1; }
dc_add_user_with_key carol make_key >/dev/null ||
	{ echo "test-faults.sh: key set-up failed" >&2; exit 1; }
dc_kill_agents

HOME_A=$(dc_home alice)
GNUPG_A=$HOME_A/.gnupg
PRISTINE=$DC_DIR/gnupg-alice.orig
cp -a "$GNUPG_A" "$PRISTINE"

# mail_temp_dir of every delivery: must be empty after each
MAILTMP=$DC_DIR/mail-tmp
mkdir -m 700 "$MAILTMP"
chown "$DC_UID:$DC_GID" "$MAILTMP"

# Fake gpg programs, reachable by the mail account
mkdir -p "$DC_DIR/bin"
cp "$TOP/tests/tools/gpg-midstream-signal" "$DC_DIR/bin/"
chmod 755 "$DC_DIR/bin" "$DC_DIR/bin"/*
SIGGPG=$DC_DIR/bin/gpg-midstream-signal
SIGREPORT=$DC_DIR/logs/gpg-signal.report
: >"$SIGREPORT"
chown "$DC_UID:$DC_GID" "$SIGREPORT"

MARKER="FAULT-BODY-MARKER-$$"
MSG=$DC_DIR/msg.eml
cat >"$MSG" <<MSG
From: Bob <bob@example.net>
To: Alice <alice@example.org>
Subject: fault test
Message-ID: <faults-$$@example.net>
Content-Type: text/plain; charset=us-ascii

Secret text $MARKER.
MSG

# mkbig FILE BYTES: a base64 message of about BYTES bytes with the marker
mkbig()
{
	python3 - "$1" "$2" "$MARKER" <<'EOF'
import base64, os, sys
path, size, marker = sys.argv[1], int(sys.argv[2]), sys.argv[3]
head = ("From: Bob <bob@example.net>\nTo: Alice <alice@example.org>\n"
        "Subject: large fault test\nMessage-ID: <big-%d@example.net>\n"
        "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n"
        "--b\nContent-Type: text/plain\n\n%s\n--b\n"
        "Content-Type: application/octet-stream\n"
        "Content-Transfer-Encoding: base64\n\n" % (size, marker)).encode()
raw = os.urandom(max(0, (size - len(head) - 10) * 3 // 4))
with open(path, "wb") as f:
    f.write(head + base64.encodebytes(raw) + b"--b--\n")
EOF
	chmod 644 "$1"
}
BIG8=$DC_DIR/big-8m.eml
BIG2=$DC_DIR/big-2m.eml
MID=$DC_DIR/mid-900k.eml
mkbig "$BIG8" 8000000
mkbig "$BIG2" 2000000
mkbig "$MID" 900000


# Encrypt to the envelope recipient (alice or carol), the command form and
# the test form
COMMAND_FORM='require ["vnd.x.encrypt", "envelope", "variables"];
if envelope :matches "to" "*" { encrypt "${1}"; }'
TEST_FORM='require ["vnd.x.encrypt", "envelope", "variables"];
if envelope :matches "to" "*" { if encrypt "${1}" { } }'
dc_global_script "$COMMAND_FORM"

# restore_keyring: alice's keyring as it was made
restore_keyring()
{
	chmod -R u+rwX "$GNUPG_A" 2>/dev/null || :
	rm -rf "$GNUPG_A"
	cp -a "$PRISTINE" "$GNUPG_A"
}

# --- processes ---------------------------------------------------------------

# orphans: processes the reaper adopted that still run, except this script
# and the gpg-agents that the verifier's decryptions start for the secret
# keys (the test's own; killed at the end)
orphans()
{
	ps -o pid=,stat=,args= --ppid "$REAPER" 2>/dev/null |
		awk -v me="$$" -v secret="--homedir $DC_DIR/secret/" \
			'$1 != me && !index($0, secret)' || :
}

# zombies: zombie processes below the reaper (pid, name, parent)
zombies()
{
	ps -eo pid=,ppid=,stat=,comm= | awk -v root="$REAPER" '
		{ parent[$1] = $2; st[$1] = $3; name[$1] = $4 }
		END {
			for (p in st) {
				if (st[p] !~ /^Z/) continue
				for (q = parent[p]; q > 1; q = parent[q])
					if (q == root) {
						print p, name[p], "parent", parent[p]
						break
					}
			}
		}'
}

# wait_orphans: wait up to 5 s for adopted processes to end; print those
# still running, then kill them (they are this run's own)
wait_orphans()
{
	local left _ pid
	for _ in $(seq 1 50); do
		left=$(orphans)
		[ -n "$left" ] || return 0
		sleep 0.1
	done
	printf '%s\n' "$left"
	for pid in $(printf '%s\n' "$left" | awk '{ print $1 }'); do
		kill -KILL "$pid" 2>/dev/null || :
	done
}

# persistent_zombies: zombies seen twice, 0.5 s apart
persistent_zombies()
{
	local a b
	a=$(zombies)
	[ -n "$a" ] || return 0
	sleep 0.5
	b=$(zombies)
	[ -n "$b" ] || return 0
	comm -12 <(printf '%s\n' "$a" | sort) <(printf '%s\n' "$b" | sort)
}

# --- one delivery ------------------------------------------------------------

# home_snapshot: every file and directory of alice's and carol's homes
# outside their Maildirs
home_snapshot()
{
	local h
	for h in "$HOME_A" "$(dc_home carol)"; do
		find "$h" -path "$h/Maildir" -prune -o -print 2>/dev/null || :
	done | sort
}

N=0
USER_NAME=alice
# deliver MSGFILE [LDA ARGS...]: deliver to $USER_NAME; sets RC, NEW, LOGF,
# ERRF, STRAY_BEFORE, REAP_MARK
deliver()
{
	local msg=$1 maildir
	shift
	N=$((N + 1))
	DELIVERED=$msg
	LOGF=$DC_DIR/logs/case-$N.log
	ERRF=$DC_DIR/case-$N.stderr
	: >"$LOGF"
	chown "$DC_UID:$DC_GID" "$LOGF"
	maildir=$(dc_maildir "$USER_NAME")
	dc_all_files "$maildir" >"$DC_DIR/before.$N"
	home_snapshot >"$DC_DIR/home-before.$N"
	REAP_MARK=$(wc -l <"$REAPLOG")
	RC=0
	dc_lda "$USER_NAME" "$msg" -o "log_path=$LOGF" \
		-o "mail_temp_dir=$MAILTMP" "$@" 2>"$ERRF" || RC=$?
	NEW=$(dc_new_files "$DC_DIR/before.$N" "$maildir")
	# what the delivery left running, and what it ran (the reaper's log)
	ORPHANS=$(wait_orphans)
	sleep 0.05
	REAP_END=$(wc -l <"$REAPLOG")
}

count() { [ -z "$1" ] && echo 0 || printf '%s\n' "$1" | wc -l; }

# log_line: the line of the delivery log that tells what happened
log_line()
{
	local l
	l=$(grep -E 'Panic:|Fatal:|Error:|rejected' "$LOGF" |
		grep -vE 'Execution of script .* (failed|was aborted)' |
		head -n 1 | sed 's/^[A-Z][a-z]* [ 0-9]* [0-9:]* //')
	[ -n "$l" ] || l=$(grep -E 'encrypt action:' "$LOGF" | head -n 1 |
		sed 's/^[A-Z][a-z]* [ 0-9]* [0-9:]* //')
	[ -n "$l" ] || l=$(tail -n 1 "$LOGF" |
		sed 's/^[A-Z][a-z]* [ 0-9]* [0-9:]* //')
	printf '%s' "${l:0:230}"
}

# gpg_runs: the processes the reaper reaped during the last delivery, e.g.
# "gpg exit=0 x2, gpg signal=9"
gpg_runs()
{
	sed -n "$((REAP_MARK + 1)),${REAP_END}p" "$REAPLOG" | awk '
		$1 == "reaped" { n[$3 " " $4]++ }
		$1 == "killed" { n[$3 " KILLED-AT-EXIT"]++ }
		END {
			s = ""
			for (k in n) s = s (s == "" ? "" : ", ") k \
				(n[k] > 1 ? " x" n[k] : "")
			print (s == "" ? "none" : s)
		}'
}

# verify_big ORIGINAL STORED GNUPGHOME: a lighter check of the encrypted
# form, for the large messages made by mkbig (LF, no folded fields):
# pgpmime-verify.py takes minutes on a body of several MB (it builds the
# parts with bytes += line, which is quadratic). Outer header = the
# original's other fields, then the multipart/encrypted ones; the decrypted
# payload = the original's Content-* fields, the blank line and the body,
# byte for byte.
verify_big()
{
	python3 - "$@" <<'EOF'
import subprocess, sys
orig, stored, home = sys.argv[1:4]
def split(data):
    i = data.find(b"\n\n")
    return (data, b"") if i < 0 else (data[:i + 1], data[i + 2:])
def fields(header):
    out = []
    for line in header.splitlines(keepends=True):
        if line[:1] in (b" ", b"\t") and out:
            out[-1] += line
        else:
            out.append(line)
    return out
def is_content(f):
    return f.split(b":", 1)[0].lower().startswith(b"content-")
with open(orig, "rb") as f:
    oh, ob = split(f.read())
with open(stored, "rb") as f:
    sh, sb = split(f.read())
of, sf = fields(oh), fields(sh)
other = [f for f in of if not is_content(f)]
if sf[:len(other)] != other:
    sys.exit("mismatch: outer header is not the original's other fields")
if not b"".join(sf[len(other):]).startswith(
        b"Content-Type: multipart/encrypted;"):
    sys.exit("mismatch: no multipart/encrypted Content-Type after them")
begin = sb.find(b"-----BEGIN PGP MESSAGE-----")
end = sb.find(b"-----END PGP MESSAGE-----\n")
if begin < 0 or end < begin:
    sys.exit("mismatch: no complete ASCII armor")
proc = subprocess.run(["gpg", "--homedir", home, "--batch", "--no-tty",
                       "--quiet", "--decrypt"], input=sb[begin:end + 26],
                      stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                      timeout=120)
expected = b"".join(f for f in of if is_content(f)) + b"\n" + ob
if proc.returncode != 0 or proc.stdout != expected:
    sys.exit("mismatch: decrypted payload (%d bytes, gpg exit %d) is not "
             "the original entity (%d bytes)"
             % (len(proc.stdout), proc.returncode, len(expected)))
print("ok: encrypted, %d bytes payload (light check)" % len(expected))
EOF
}

STORED_WHAT=
PROBLEM=
BIG=no
# check_stored WANT: none|plain|encrypted; sets STORED_WHAT, and PROBLEM
# on a mismatch
check_stored()
{
	local want=$1 n out
	n=$(count "$NEW")
	STORED_WHAT="$n message(s)"
	case $want in
	none)
		[ "$n" -eq 0 ] || { PROBLEM="$n message(s) stored"; return; }
		STORED_WHAT=nothing
		;;
	plain)
		[ "$n" -eq 1 ] || { PROBLEM="$n message(s) stored"; return; }
		if ! out=$(python3 "$VERIFY" --expect-plain "$DELIVERED" \
			"$NEW" 2>&1); then
			PROBLEM="stored message is not the original: $out"
			return
		fi
		STORED_WHAT="the original ($(wc -c <"$NEW") bytes)"
		;;
	encrypted)
		[ "$n" -eq 1 ] || { PROBLEM="$n message(s) stored"; return; }
		if [ "$BIG" = yes ]; then
			out=$(verify_big "$DELIVERED" "$NEW" \
				"$(dc_secret_home "$USER_NAME")" 2>&1) ||
				{ PROBLEM=$out; return; }
		elif ! out=$(python3 "$VERIFY" "$DELIVERED" "$NEW" \
			"$(dc_secret_home "$USER_NAME")" 2>&1); then
			PROBLEM=$out
			return
		fi
		STORED_WHAT="encrypted ($out)"
		;;
	esac
}

# gpg's own state: random_seed, written whenever gpg used its RNG
GPG_STATE_RE='/\.gnupg/random_seed$'

# check_clean: nothing left behind; prints the problem, returns 1
check_clean()
{
	local maildir z stray
	maildir=$(dc_maildir "$USER_NAME")
	if [ -d "$maildir/tmp" ] && [ -n "$(ls -A "$maildir/tmp")" ]; then
		echo "left in the Maildir's tmp/: $(ls -A "$maildir/tmp" | head -n 3 | tr '\n' ' ')"
		return 1
	fi
	if [ -n "$(ls -A "$MAILTMP")" ]; then
		echo "left in mail_temp_dir: $(ls -A "$MAILTMP" | head -n 3 | tr '\n' ' ')"
		return 1
	fi
	stray=$(home_snapshot | comm -13 "$DC_DIR/home-before.$N" - |
		grep -vE "$GPG_STATE_RE" | grep -vE "${STRAY_OK:-^$}" || :)
	if [ -n "$stray" ]; then
		echo "new file(s) outside the Maildir: $(printf '%s' "$stray" | head -n 3 | tr '\n' ' ')"
		return 1
	fi
	if [ -n "$ORPHANS" ]; then
		echo "processes left running: $(printf '%s' "$ORPHANS" | head -n 3 | tr '\n' ';')"
		return 1
	fi
	z=$(persistent_zombies)
	if [ -n "$z" ]; then
		echo "zombie processes: $(printf '%s' "$z" | head -n 3 | tr '\n' ';')"
		return 1
	fi
}

# expect NAME RC STORED LOG-REGEX: check the last delivery
expect()
{
	local name=$1 rc=$2 stored=$3 pattern=$4 problem=
	PROBLEM=
	if [ "$RC" -ne "$rc" ]; then
		problem="dovecot-lda exit code $RC, expected $rc"
	else
		check_stored "$stored"
		problem=$PROBLEM
	fi
	if [ -z "$problem" ] && [ -n "$pattern" ] &&
		! grep -qE -- "$pattern" "$LOGF"; then
		problem="log lacks /$pattern/"
	fi
	if [ -z "$problem" ] && grep -qF "$MARKER" "$LOGF" "$ERRF"; then
		problem="message content in the log"
	fi
	if [ -z "$problem" ]; then
		problem=$(check_clean) || :
	fi
	if [ -z "$problem" ]; then
		dc_pass "$name"
	else
		dc_fail "$name" "$problem"
	fi
	echo "    exit $RC; stored: ${STORED_WHAT:-?}; processes: $(gpg_runs); log: $(log_line)"
	STORED_WHAT=
}

# policies NAME MSG KEEP-STORED LOG-REGEX [LDA ARGS]: deliver MSG with
# on_failure = keep (expect exit 0, KEEP-STORED) and = tempfail (exit 75,
# nothing stored); the other settings come from $SETTINGS
SETTINGS=()
policies()
{
	local name=$1 msg=$2 keep_stored=$3 pattern=$4
	shift 4
	dc_configure ${SETTINGS[@]+"${SETTINGS[@]}"} sieve_encrypt_on_failure=keep
	deliver "$msg" "$@"
	expect "keep: $name" 0 "$keep_stored" "$pattern"
	dc_configure ${SETTINGS[@]+"${SETTINGS[@]}"} sieve_encrypt_on_failure=tempfail
	deliver "$msg" "$@"
	expect "tempfail: $name" 75 none "$pattern"
	dc_configure
}

# baseline: nothing left over from the set-up (its gpg-agents)
left=$(wait_orphans)
if [ -n "$left" ]; then
	echo "test-faults.sh: set-up left processes: $left" >&2
fi

dc_configure
deliver "$MSG"
expect "baseline: a working keyring -> encrypted, no gpg-agent started" \
	0 encrypted "encrypted message to key"

# --- keyring faults ------------------------------------------------------------

CANNOT="encrypt action: (cannot|failed to) encrypt message to .alice@example.org."

chmod 000 "$GNUPG_A"
policies "keyring directory mode 000" "$MSG" plain "$CANNOT"
restore_keyring

if [ "$IS_ROOT" = yes ]; then
	chown root:root "$GNUPG_A"
	chmod 700 "$GNUPG_A"
	policies "keyring directory owned by root, mode 0700" "$MSG" plain \
		"$CANNOT"
	restore_keyring
else
	dc_skip "keyring directory owned by root" "needs root"
fi

chmod 000 "$GNUPG_A/pubring.kbx"
policies "pubring.kbx mode 000" "$MSG" plain \
	"cannot read keyring .*/pubring.kbx: Permission denied"
restore_keyring

# gpg reads nothing in the keyring directory but the keyring file: no lock
# files, no trustdb.gpg (--lock-never, --trust-model always), no agent
chmod 500 "$GNUPG_A"
policies_ok()
{
	local name=$1
	dc_configure sieve_encrypt_on_failure=keep
	deliver "$MSG"
	expect "keep: $name" 0 encrypted "encrypted message to key"
	dc_configure sieve_encrypt_on_failure=tempfail
	deliver "$MSG"
	expect "tempfail: $name" 0 encrypted "encrypted message to key"
	dc_configure
}
policies_ok "keyring directory not writable (0500) -> encrypted"
restore_keyring

if [ "$IS_ROOT" = yes ]; then
	chown -R root:root "$GNUPG_A"
	chmod 755 "$GNUPG_A"
	find "$GNUPG_A" -type f -exec chmod 644 {} +
	policies_ok "keyring owned by root (0755, files 0644), not writable -> encrypted"
	restore_keyring
else
	dc_skip "keyring owned by root" "needs root"
fi

rm -f "$GNUPG_A/trustdb.gpg"
chmod 500 "$GNUPG_A"
policies_ok "keyring directory not writable, no trustdb.gpg -> encrypted"
restore_keyring

rm -rf "$GNUPG_A"
printf 'not a keyring\n' >"$GNUPG_A"
chown "$DC_UID:$DC_GID" "$GNUPG_A"
policies "GNUPGHOME is a file" "$MSG" plain "keyring .* is not a directory"

# The test form ("if encrypt"): an unreadable keyring is a failure, subject
# to the policy like any other, not "this user has no key" (which is false
# without an error: the way to skip users who did not opt in)
dc_global_script "$TEST_FORM"
dc_configure sieve_encrypt_on_failure=tempfail
deliver "$MSG"
expect "tempfail, test form: GNUPGHOME is a file -> exit 75" 75 none \
	"is not a directory"
restore_keyring

chmod 000 "$GNUPG_A/pubring.kbx"
deliver "$MSG"
expect "tempfail, test form: pubring.kbx mode 000 -> exit 75" 75 none \
	"Error: .*cannot read keyring .*/pubring.kbx: Permission denied"
restore_keyring

# The keyring directory cannot be read: a failure too, not "no key"
chmod 000 "$GNUPG_A"
deliver "$MSG"
expect "tempfail, test form: keyring directory mode 000 -> exit 75" 75 none \
	"Error: .*cannot read keyring directory .*: Permission denied"
restore_keyring
dc_global_script "$COMMAND_FORM"
dc_configure

# --- damaged keyrings ---------------------------------------------------------

# Only gpg's "no key matched" means that the user has no key. A keyring
# that is damaged (garbage, truncated: found by the plugin from its start,
# by gpg's errors, or as an invalid key), empty where gpg never leaves it
# empty (a keybox has a header), or not a file is a failure: with the test
# form and on_failure = tempfail the delivery fails (exit 75) with an Error
# instead of storing the plaintext as for a user without a key; with the
# command form each policy applies. (A keyring cut between packets looks
# like one without the keys, user ids or subkeys after the cut, and gpg
# 2.4 reads a key cut in its user id's self-signature as valid: those look
# like a keyring without the key, or with a key that cannot encrypt.)
LEGACY=$DC_DIR/gnupg-alice-legacy
mkdir -m 700 "$LEGACY"
keys_gpg "$(dc_secret_home alice)" --export alice@example.org |
	keys_gpg "$LEGACY" --no-default-keyring \
		--keyring "gnupg-ring:$LEGACY/pubring.gpg" --import
keys_kill_agents "$LEGACY"
# Where the encryption subkey's binding signature starts, plus 20 bytes:
# a keyring cut there lists the subkey as invalid (gpg 2.2 and 2.4)
LEGACY_CUT=$(gpg --homedir "$LEGACY" --batch --list-packets \
	"$LEGACY/pubring.gpg" 2>/dev/null |
	awk '/^# off=/ { split($2, o, "="); off = o[2]; tag = $4 }
	     tag == "tag=14" { sub14 = 1 }
	     sub14 && tag == "tag=2" { print off + 20; exit }')
[ -n "$LEGACY_CUT" ] || { echo "test-faults.sh: no subkey signature" >&2; exit 1; }

# garbage: 4 KB of random bytes (after a text, so that gpg's lenient
# parser does not read them as packets it skips: then it finds no key)
garbage()
{
	printf 'GARBAGE'
	head -c 4096 /dev/urandom
}

# damage NAME: replace alice's keyring with the damaged one NAME
damage()
{
	rm -rf "$GNUPG_A"
	mkdir -m 700 "$GNUPG_A"
	case $1 in
	kbx-garbage) garbage >"$GNUPG_A/pubring.kbx" ;;
	kbx-truncated)
		head -c 300 "$PRISTINE/pubring.kbx" >"$GNUPG_A/pubring.kbx" ;;
	kbx-empty) : >"$GNUPG_A/pubring.kbx" ;;
	kbx-directory) mkdir "$GNUPG_A/pubring.kbx" ;;
	kbx-fifo) mkfifo "$GNUPG_A/pubring.kbx" ;;
	gpg-legacy) cp "$LEGACY/pubring.gpg" "$GNUPG_A/" ;;
	gpg-twice)
		cat "$LEGACY/pubring.gpg" "$LEGACY/pubring.gpg" \
			>"$GNUPG_A/pubring.gpg" ;;
	gpg-garbage) garbage >"$GNUPG_A/pubring.gpg" ;;
	gpg-truncated)
		head -c "$LEGACY_CUT" "$LEGACY/pubring.gpg" \
			>"$GNUPG_A/pubring.gpg" ;;
	gpg-corrupt)
		{ head -c 200 "$LEGACY/pubring.gpg"; garbage; } \
			>"$GNUPG_A/pubring.gpg" ;;
	gpg-directory) mkdir "$GNUPG_A/pubring.gpg" ;;
	gpg-mode000)
		cp "$LEGACY/pubring.gpg" "$GNUPG_A/"
		chmod 000 "$GNUPG_A/pubring.gpg" ;;
	esac
	chown -R "$DC_UID:$DC_GID" "$GNUPG_A"
}

BROKEN="Error: .*encrypt action: failed to encrypt message to .alice@example.org.: "
damaged_case()
{
	local name=$1 what=$2 pattern=$3
	damage "$name"
	policies "$what" "$MSG" plain "$BROKEN$pattern"
	dc_global_script "$TEST_FORM"
	dc_configure sieve_encrypt_on_failure=tempfail
	damage "$name"
	deliver "$MSG"
	expect "tempfail, test form: $what -> exit 75, not \"no key\"" 75 none \
		"$BROKEN$pattern"
	dc_global_script "$COMMAND_FORM"
	dc_configure
}
damaged_case kbx-garbage "pubring.kbx of random bytes" \
	"keyring .*/pubring.kbx is damaged: it does not start as a keybox"
damaged_case kbx-truncated "pubring.kbx cut after 300 bytes" \
	"gpg cannot use the keyring .*/pubring.kbx: keylist.getkey"
damaged_case kbx-empty "empty pubring.kbx" \
	"keyring .*/pubring.kbx is damaged: it does not start as a keybox"
damaged_case kbx-directory "pubring.kbx is a directory" \
	"keyring .*/pubring.kbx is not a regular file"
damaged_case kbx-fifo "pubring.kbx is a FIFO" \
	"keyring .*/pubring.kbx is not a regular file"
damaged_case gpg-garbage "pubring.gpg (legacy keyring) of random bytes" \
	"keyring .*/pubring.gpg is damaged: it does not start as an OpenPGP keyring"
damaged_case gpg-truncated "pubring.gpg cut in the subkey's binding signature" \
	"key .alice@example.org. \([0-9A-F]{16}\) in .*/pubring.gpg is invalid"
damaged_case gpg-corrupt "pubring.gpg with random bytes after 200 bytes" \
	"gpg cannot use the keyring .*/pubring.gpg: keylist.getkey"
damaged_case gpg-directory "pubring.gpg is a directory" \
	"keyring .*/pubring.gpg is not a regular file"
damaged_case gpg-mode000 "pubring.gpg mode 000" \
	"cannot read keyring .*/pubring.gpg: Permission denied"

# A legacy keyring alone is used, as gpg itself would; next to the
# keybox gpg made, the keybox is
damage gpg-legacy
dc_configure
deliver "$MSG"
expect "legacy pubring.gpg alone -> encrypted" 0 encrypted \
	"encrypted message to key"
# gpg lists a key block that a legacy keyring holds twice twice; it is
# one recipient (gpg writes one session key packet for it)
damage gpg-twice
deliver "$MSG"
expect "legacy pubring.gpg with the key block twice -> encrypted" 0 \
	encrypted "encrypted message to key"
cp -a "$PRISTINE/pubring.kbx" "$GNUPG_A/"
head -c 4096 /dev/urandom >"$GNUPG_A/pubring.gpg"
deliver "$MSG"
expect "pubring.kbx (OpenPGP keybox) beside a damaged pubring.gpg -> the keybox, encrypted" \
	0 encrypted "encrypted message to key"
restore_keyring

# No keyring file at all is "no key", as a missing directory is
rm -f "$GNUPG_A/pubring.kbx"
dc_global_script "$TEST_FORM"
dc_configure sieve_encrypt_on_failure=tempfail
deliver "$MSG"
expect "tempfail, test form: keyring directory without a keyring -> no key, plaintext" \
	0 plain "Info: .*message not encrypted: no public keyring"
restore_keyring
dc_global_script "$COMMAND_FORM"
dc_configure

# --- gpg hit by a signal half-way ---------------------------------------------

dc_configure
deliver "$BIG8"
BIG=yes
expect "8 MB message, working gpg -> encrypted" 0 encrypted \
	"encrypted message to key"
BIG=no

# A killed gpg cannot remove the temporary file of its dotlock
# (".#lk0x<address>.<host>.<pid>", 14 bytes: pid and host name) in the
# keyring: gpg's behaviour, accepted here and said so; any other new file
# is still a stray file
GPG_DOTLOCK_RE='/\.gnupg/\.#lk0x[0-9a-f]+\.'
signal_case()
{
	local sig=$1 what=$2 keep_pattern=$3 dotlocks
	printf 'SIGNAL=%s\nAFTER=2097152\nREPORT=%s\n' "$sig" "$SIGREPORT" \
		>"$SIGGPG.conf"
	: >"$SIGREPORT"
	SETTINGS=(sieve_encrypt_gpg_binary="$SIGGPG" sieve_encrypt_timeout=3s)
	STRAY_OK=$GPG_DOTLOCK_RE
	policies "$what" "$BIG8" plain "$keep_pattern"
	STRAY_OK=
	SETTINGS=()
	if [ "$(grep -c "^signalled SIG$sig after" "$SIGREPORT")" -eq 2 ]; then
		dc_pass "SIG$sig reached gpg half-way, twice: $(head -n 1 "$SIGREPORT")"
	else
		dc_fail "SIG$sig reached gpg half-way, twice" \
			"$(tr '\n' ';' <"$SIGREPORT")"
	fi
	dotlocks=$(find "$GNUPG_A" -maxdepth 1 -name '.#lk0x*' | wc -l)
	echo "    note: $dotlocks dotlock temporary file(s) of the signalled gpg left in the keyring (gpg's behaviour)"
	find "$GNUPG_A" -maxdepth 1 -name '.#lk0x*' -delete
}
signal_case KILL "gpg killed (SIGKILL) after 2 MB of 8 MB" \
	"gpg ended without completing the encryption"
signal_case TERM "gpg terminated (SIGTERM) after 2 MB of 8 MB" \
	"gpg ended without completing the encryption"
signal_case STOP "gpg stopped (SIGSTOP) after 2 MB of 8 MB, 3 s timeout" \
	"gpg did not finish within 3 seconds \(killed\)"

dc_configure
deliver "$MSG"
expect "after the signalled gpgs: the next delivery is encrypted" 0 \
	encrypted "encrypted message to key"

# --- gpg's output is not the encryption asked for -----------------------------

# What a gpg.conf could make gpg do, with gpg itself (tests/svtest/bin: gpg
# with one option more): encrypt to one more key, named or hidden, or to
# another key instead (group), write armor, write nothing (dry-run). The
# plugin checks the packets that gpg wrote, and fails: the policy applies,
# nothing encrypted is stored. bob@example.org's public key is in alice's
# keyring for these cases.
keys_init_home "$DC_DIR/secret/bob"
BOB_FPR=$(make_key "$DC_DIR/secret/bob" Bob bob@example.org)
keys_export_public "$DC_DIR/secret/bob" "$GNUPG_A" "$BOB_FPR"
keys_give "$GNUPG_A" "$DC_UID:$DC_GID"
keys_kill_agents "$DC_DIR/secret/bob" "$GNUPG_A"
output_case()
{
	local wrapper=$1 what=$2 why=$3
	cp "$TOP/tests/svtest/bin/$wrapper" "$DC_DIR/bin/"
	chmod 755 "$DC_DIR/bin/$wrapper"
	SETTINGS=(sieve_encrypt_gpg_binary="$DC_DIR/bin/$wrapper")
	policies "$what" "$MSG" plain \
		"gpg's output is not the encryption asked for: $why"
	SETTINGS=()
}
output_case gpg-encrypt-to "gpg adds a recipient (encrypt-to)" \
	"session key packet for key id [0-9A-F]{16}, which is no encryption subkey"
output_case gpg-hidden-encrypt-to \
	"gpg adds a hidden recipient (hidden-encrypt-to)" \
	"session key packet for an anonymous recipient"
output_case gpg-group "gpg encrypts to another key instead (group)" \
	"session key packet for key id [0-9A-F]{16}, which is no encryption subkey"
output_case gpg-armor "gpg writes ASCII armor (armor)" \
	"the output is ASCII armor"
output_case gpg-dry-run "gpg writes nothing (dry-run)" "gpg wrote nothing"
restore_keyring

# --- storage -------------------------------------------------------------------

# mount_tmpfs DIR SIZE: a tmpfs owned by the mail account
mount_tmpfs()
{
	mkdir -p "$1"
	chown "$DC_UID:$DC_GID" "$1"
	mount -t tmpfs -o "size=$2,mode=0700,uid=$DC_UID,gid=$DC_GID" \
		tmpfs "$1" 2>/dev/null || return 1
	MOUNTS+=("$1")
}
unmount_last()
{
	local m=${MOUNTS[${#MOUNTS[@]}-1]}
	umount "$m"
	unset "MOUNTS[${#MOUNTS[@]}-1]"
}

can_mount=no
if [ "$IS_ROOT" = yes ] && mount_tmpfs "$DC_DIR/mount-probe" 64k; then
	unmount_last
	can_mount=yes
fi

if [ "$can_mount" = yes ]; then
	USER_NAME=carol
	mount_tmpfs "$(dc_maildir carol)" 1m
	SETTINGS=()
	# the store fails after encrypt: exit 75 under both policies
	dc_configure sieve_encrypt_on_failure=keep
	deliver "$BIG2"
	expect "keep: disk full (1 MB tmpfs Maildir, 2 MB message) -> exit 75, nothing stored" \
		75 none "No space left on device"
	dc_configure sieve_encrypt_on_failure=tempfail
	deliver "$BIG2"
	expect "tempfail: disk full (1 MB tmpfs Maildir, 2 MB message) -> exit 75, nothing stored" \
		75 none "No space left on device"
	dc_configure
	deliver "$MSG"
	expect "disk full: a small message still fits -> encrypted" 0 \
		encrypted "encrypted message to key"
	unmount_last
	USER_NAME=alice

	# mail_temp_dir full: Dovecot's temp stream moves the ciphertext to
	# memory; the message is read from a file (seekable), so dovecot-lda
	# itself needs no copy in mail_temp_dir
	tmp_mount=$DC_DIR/small-tmp
	mount_tmpfs "$tmp_mount" 256k
	dc_configure sieve_encrypt_on_failure=tempfail
	MAILTMP_SAVED=$MAILTMP
	MAILTMP=$tmp_mount
	deliver "$BIG2"
	BIG=yes
	expect "mail_temp_dir full (256 KB tmpfs, 2 MB message) -> encrypted in memory" \
		0 encrypted "encrypted message to key"
	BIG=no
	MAILTMP=$MAILTMP_SAVED
	unmount_last
	dc_configure
else
	dc_skip "disk full, mail_temp_dir full" "cannot mount a tmpfs (needs root)"
fi

# The configured limit: Dovecot's quota plugin (2.3 settings)
if [ "${DC_V24:-no}" != yes ]; then
	QUOTA=(-o "mail_plugins=sieve quota" -o "plugin/quota=maildir:User quota")
	dc_configure sieve_encrypt_on_failure=keep
	deliver "$BIG2" "${QUOTA[@]}" -o plugin/quota_max_mail_size=1M
	expect "quota_max_mail_size 1M, 2 MB message -> exit 75, nothing stored" \
		75 none "Mail size is larger than the maximum size"
	# 900 KB fit the limit, the encrypted form (base64 armor) does not
	deliver "$MID" "${QUOTA[@]}" -o plugin/quota_max_mail_size=1M
	expect "quota_max_mail_size 1M, 900 KB message (1.2 MB encrypted) -> exit 75, nothing stored" \
		75 none "Mail size is larger than the maximum size"
	deliver "$MID" "${QUOTA[@]}" -o plugin/quota_max_mail_size=1M \
		-o plugin/sieve_before=
	expect "quota_max_mail_size 1M, the same 900 KB message without encrypt -> stored" \
		0 plain ""
	# storage quota: Dovecot rejects (exit 77: the MTA bounces) unless
	# quota_full_tempfail = yes
	USER_NAME=carol
	deliver "$MID" "${QUOTA[@]}" -o "plugin/quota_rule=*:storage=1M"
	expect "storage quota 1M, 900 KB message (1.2 MB encrypted) -> rejected, exit 77" \
		77 none "rejected: Quota exceeded"
	deliver "$MID" "${QUOTA[@]}" -o "plugin/quota_rule=*:storage=1M" \
		-o quota_full_tempfail=yes
	expect "storage quota 1M, quota_full_tempfail = yes -> exit 75, nothing stored" \
		75 none "Quota exceeded"
	USER_NAME=alice
	dc_configure
else
	dc_skip "quota limits" "written with Dovecot 2.3 quota settings"
fi

# --- unusual messages ----------------------------------------------------------

python3 - "$DC_DIR/header-1m-fields.eml" "$DC_DIR/header-1m-line.eml" <<'EOF'
import sys
many, line = sys.argv[1:3]
head = (b"From: Sender <sender@example.net>\nTo: alice@example.org\n"
        b"Subject: a 1 MB header\nMessage-ID: <header-1m@example.net>\n")
fields, size, n = [], 0, 0
while size < 1024 * 1024:
    if n == 6000:       # a Content-* field deep inside the header
        f = b"Content-Type: text/plain; charset=us-ascii\n"
    else:
        f = b"X-Filler-%05d: %s\n" % (n, b"lorem ipsum dolor sit amet " * 2)
    fields.append(f)
    size += len(f)
    n += 1
folded = b"X-Folded: " + b"\n ".join(b"w%06d" % i for i in range(20000)) + b"\n"
with open(many, "wb") as f:
    f.write(head + b"".join(fields) + folded + b"\nThe body.\n")
with open(line, "wb") as f:
    f.write(head + b"X-Long: " + b"x" * (1024 * 1024) + b"\n"
            + b"Content-Type: text/plain\n\nThe body after a 1 MB line.\n")
EOF
chmod 644 "$DC_DIR"/header-1m-*.eml

dc_configure sieve_encrypt_on_failure=tempfail
for m in "$MESSAGES"/2*.eml "$DC_DIR"/header-1m-*.eml; do
	deliver "$m"
	expect "message $(basename "$m") -> encrypted, decrypts to the original" \
		0 encrypted "encrypted message to key"
	case $m in
	*/24-cr-only.eml)
		# Without LF the whole message is one (malformed) header field
		# for Dovecot: it must go into the encrypted entity, not stay
		# in the clear
		t="CR-only line ends: no text of the message in the clear"
		if [ -z "$NEW" ]; then
			dc_fail "$t" "nothing stored"
		elif grep -qE "Every line of this message|CR-only line ends" "$NEW"
		then
			dc_fail "$t" "the stored file holds the message text"
		else
			dc_pass "$t"
		fi
		;;
	esac
done
dc_configure

dc_summary
