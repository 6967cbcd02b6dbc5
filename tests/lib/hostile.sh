# shellcheck shell=bash
# hostile.sh: deliveries made the way a hostile user or sender would make
# them, and the checks of issue 12, for tests/e2e/test-hostile-*.sh.
#
# Source it after keys.sh and dovecot.sh, then, after dc_init:
#
#   hs_init                          # bin/, recording gpg, settings
#   dc_add_user_with_key mallory make_key ...
#   hs_message plain                 # a message with a fresh marker
#   hs_deliver lmtp-root mallory "$HS_MSG"
#   hs_expect_encrypted "hostile 1 lmtp-root: ..." mallory
#   hs_expect_no_plaintext "hostile 1 lmtp-root: ..."
#
# Paths (how a message reaches Dovecot):
#   lda         dovecot-lda as the user's own uid (dc_init --per-user-uids)
#   lmtp-root   LMTP as Dovecot ships it: the service runs as root and
#               lowers its effective uid per recipient
#   lmtp-vmail  LMTP with service lmtp { user = ACCOUNT } (dc_init
#               --lmtp-user): one account for all users
#
# Every gpg the plugin runs is the recording wrapper $DC_DIR/bin/gpg-record
# (sieve_encrypt_gpg_binary): it appends "run PID ARGS" and the Uid, Gid,
# Groups and Cap* lines of its own /proc/PID/status to $HS_RUNS, then execs
# the real gpg (gpg-record-hang and gpg-record-hang-encrypt exec
# tests/svtest/bin/gpg-hang and gpg-hang-encrypt instead). gpgme first runs
# it with --version. The recorder runs where gpg runs: started by
# sieve-encrypt-gpg-exec (sieve_encrypt_gpg_exec, set by dc_init) after it
# dropped to the mail user's ids, so the checks see gpg as the plugin runs
# it.
#
# Each message carries a marker string in its body only (HS_MARKER): the
# plaintext. hs_expect_no_plaintext greps every file under $DC_DIR (homes,
# Maildirs with their tmp/, keyrings, the store, mail_temp_dir, base_dir,
# state, the logs, and outbox/: what Dovecot handed to sendmail_path,
# $DC_DIR/bin/sendmail-record) for it, except the test's own copies
# (msgs/, sent/) and the secret keyrings.

HS_BIN=
HS_OUTBOX=
HS_RUNS=
HS_PROG_RAN=
HS_LISTHOME=
HS_MSGS=
HS_N=0
HS_MSG=
HS_MARKER=
HS_PATH=
HS_USER=
HS_ORIG=
HS_OUT=
HS_CODE=
HS_REPLY=
HS_NEW=
HS_LOGF=
HS_SECS=0
declare -gA HS_CODES=()

# hs_init: the fake and recording gpg programs, the record files, and the
# settings every hostile delivery shares (after dc_init, before users)
hs_init()
{
	local top=$DC_TOP t helper
	HS_BIN=$DC_DIR/bin
	HS_RUNS=$DC_DIR/logs/gpg-runs
	HS_PROG_RAN=$DC_DIR/logs/prog-ran
	HS_LISTHOME=$DC_DIR/list-home
	HS_MSGS=$DC_DIR/msgs
	HS_OUTBOX=$DC_DIR/outbox
	mkdir -p "$HS_BIN" "$HS_MSGS" "$DC_DIR/sent"
	mkdir -m 700 "$HS_LISTHOME"
	mkdir -m 1777 "$HS_OUTBOX"
	: >"$HS_RUNS"
	chmod 666 "$HS_RUNS"
	cp "$top/tests/svtest/bin/gpg-hang" \
		"$top/tests/svtest/bin/gpg-hang-encrypt" "$HS_BIN/"
	hs_write_recorder gpg-record "$(command -v gpg)"
	for t in gpg-hang gpg-hang-encrypt; do
		hs_write_recorder "${t/gpg/gpg-record}" "$HS_BIN/$t"
	done
	cat >"$HS_BIN/sendmail-record" <<EOF
#!/bin/sh
# Keeps what Dovecot sends (redirect, report, notify) in $HS_OUTBOX
echo "\$*" >$HS_OUTBOX/mail.\$\$.args
exec /bin/cat >$HS_OUTBOX/mail.\$\$
EOF
	chmod 755 "$HS_BIN" "$HS_BIN"/* "$HS_MSGS"
	echo "sendmail_path = $HS_BIN/sendmail-record" >>"$DC_DIR/extra.conf"
	dc_plugin_setting sieve_encrypt_gpg_binary "$HS_BIN/gpg-record"
	dc_plugin_setting sieve_encrypt_timeout 20s
}

# hs_write_recorder NAME TARGET: $HS_BIN/NAME records its run (see the top)
# and execs TARGET (a shell script through sh -p). Shell built-ins only: its
# environment may be empty. "sh -p": dash, like bash, otherwise sets the
# effective uid to the real one when they differ (e.g. real 0, effective
# the user's under LMTP), which would change what gpg runs as.
hs_write_recorder()
{
	local run=$2
	case $(head -c 2 "$2") in '#!') run="/bin/sh -p $2" ;; esac
	cat >"$HS_BIN/$1" <<EOF
#!/bin/sh -p
# Records what it runs as, then execs $2 (tests/lib/hostile.sh)
PATH=/usr/bin:/bin
export PATH
{
	echo "run \$\$ \$*"
	while IFS= read -r line; do
		case \$line in
		Uid:*|Gid:*|Groups:*|CapInh:*|CapPrm:*|CapEff:*|CapAmb:*)
			echo "\$line" ;;
		esac
	done </proc/\$\$/status
} >>$HS_RUNS 2>/dev/null
exec $run "\$@"
EOF
}

# hs_message KIND [ARGS]: write a new message into $HS_MSGS; sets HS_MSG
# (its path) and HS_MARKER (a string of its body, found nowhere else).
# KINDs: plain; list-id ID (a List-Id: <ID> field); inline-pgp-then-plain
# HOME KEY (an armored PGP MESSAGE, made with the public KEY in GnuPG home
# HOME, then plaintext); pkcs7-signed (opaque
# application/pkcs7-mime without smime-type holding CMS signed-data);
# encrypted-wrong-shape (multipart/encrypted whose second part is
# plaintext)
hs_message()
{
	local kind=$1 head
	HS_N=$((HS_N + 1))
	HS_MSG=$HS_MSGS/$HS_N-$kind.eml
	HS_MARKER="HOSTILE-PLAINTEXT-$HS_N-$$-$RANDOM$RANDOM"
	head="From: Sender <sender@example.net>
To: <rcpt@example.org>
Subject: hostile test $HS_N ($kind)
Message-ID: <hostile-$HS_N-$$@example.net>
MIME-Version: 1.0"
	case $kind in
	plain)
		printf '%s\nContent-Type: text/plain; charset=us-ascii\n\n%s\n%s\n' \
			"$head" "Secret text $HS_MARKER." "More secret text."
		;;
	list-id)
		printf '%s\nList-Id: Hostile list <%s>\n' "$head" "$2"
		printf 'Content-Type: text/plain; charset=us-ascii\n\n%s\n' \
			"List text $HS_MARKER."
		;;
	inline-pgp-then-plain)
		printf '%s\nContent-Type: text/plain; charset=us-ascii\n\n' \
			"$head"
		printf 'decoy\n' | gpg --homedir "$2" --batch --no-tty \
			--quiet --armor --trust-model always --encrypt -r "$3" \
			2>/dev/null
		printf '\nAnd now in the clear: %s\n' "$HS_MARKER"
		;;
	pkcs7-signed)
		printf '%s\nContent-Type: application/pkcs7-mime; name=smime.p7m\n' \
			"$head"
		printf 'Content-Transfer-Encoding: base64\n\n'
		hs_cms_signed_data "Signed, not encrypted: $HS_MARKER"
		;;
	encrypted-wrong-shape)
		printf '%s\nContent-Type: multipart/encrypted;\n' "$head"
		printf ' protocol="application/pgp-encrypted"; boundary="b"\n\n'
		printf -- '--b\nContent-Type: application/pgp-encrypted\n\n'
		printf 'Version: 1\n\n--b\nContent-Type: text/plain\n\n'
		printf '%s\n--b--\n' "Not encrypted at all: $HS_MARKER"
		;;
	*)
		echo "hostile.sh: unknown message kind $kind" >&2
		return 1
		;;
	esac >"$HS_MSG"
	chmod 644 "$HS_MSG"
	if [ "$kind" = pkcs7-signed ]; then
		# the base64 line that carries the marker is the plaintext
		HS_MARKER=$(sed -n '/^$/,$p' "$HS_MSG" | sed -n 3p)
	fi
}

# hs_cms_signed_data TEXT: base64 (76 a line) of a DER CMS ContentInfo of
# type signed-data (1.2.840.113549.1.7.2) whose encapsulated content is
# TEXT, in the clear, as in every signed-data
hs_cms_signed_data()
{
	python3 - "$1" <<'EOF'
import base64, sys

def tlv(tag, body):
    n = len(body)
    if n < 0x80:
        size = bytes([n])
    else:
        raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
        size = bytes([0x80 | len(raw)]) + raw
    return bytes([tag]) + size + body

def oid(text):
    parts = [int(p) for p in text.split(".")]
    out = bytes([40 * parts[0] + parts[1]])
    for p in parts[2:]:
        chunk = [p & 0x7f]
        p >>= 7
        while p:
            chunk.insert(0, 0x80 | (p & 0x7f))
            p >>= 7
        out += bytes(chunk)
    return tlv(0x06, out)

text = sys.argv[1].encode() * 3
encap = tlv(0x30, oid("1.2.840.113549.1.7.1") +
            tlv(0xa0, tlv(0x04, text)))
signed = tlv(0x30, tlv(0x02, b"\x01") + tlv(0x31, b"") + encap +
             tlv(0x31, b""))
info = tlv(0x30, oid("1.2.840.113549.1.7.2") + tlv(0xa0, signed))
data = base64.b64encode(info).decode()
for i in range(0, len(data), 76):
    print(data[i:i + 76])
EOF
}

# --- delivering ---------------------------------------------------------

# hs_deliver PATH USERS MSG: deliver MSG to the users (names, blank
# separated; one LMTP transaction for all of them, one dovecot-lda run for
# the first with PATH lda). Sets HS_PATH, HS_USER (the first), HS_ORIG
# (the message as Dovecot got it: MSG, or over LMTP with CRLF), HS_OUT
# (stored, tempfail, permfail or "no reply"), HS_CODE (exit code or reply
# code), HS_REPLY, HS_CODES[user] (LMTP), HS_NEW (new message files of
# HS_USER, all folders), HS_LOGF (the log lines of this delivery), HS_SECS
# (how long it took). $HS_RUNS is emptied first.
hs_deliver()
{
	local path=$1 users=$2 msg=$3 u start off spec replies rc
	HS_PATH=$path
	HS_USER=${users%% *}
	HS_ORIG=$msg
	HS_CODES=()
	HS_REPLY=
	HS_LOGF=$DC_DIR/logs/delivery-$HS_N-$path.log
	: >"$HS_RUNS"
	rm -f "$HS_PROG_RAN".*
	dc_all_files "$(dc_maildir "$HS_USER")" >"$DC_DIR/before"
	off=$(wc -l <"$DC_LOG")
	start=$(date +%s%N)
	case $path in
	lda)
		rc=0
		dc_user_lda_options "$HS_USER"
		dc_as_user "$HS_USER" USER="$HS_USER@$DC_DOMAIN" \
			HOME="$(dc_home "$HS_USER")" \
			timeout -s KILL 60 "$DC_LDA" -c "$DC_CONF" -e \
			-f sender@example.net -a "$HS_USER@$DC_DOMAIN" \
			"${DC_USER_LDA_OPTS[@]}" <"$msg" \
			>"$DC_DIR/lda.out" 2>&1 || rc=$?
		HS_CODE=$rc
		HS_REPLY=$(head -c 300 "$DC_DIR/lda.out")
		case $rc in
		0) HS_OUT=stored ;;
		75) HS_OUT=tempfail ;;
		*) HS_OUT=permfail ;;
		esac
		;;
	lmtp-*)
		spec=$DC_DIR/spec
		replies=$DC_DIR/replies
		HS_ORIG=$DC_DIR/sent/$(basename "$msg")
		printf '%s\t%s\t' "$msg" "$HS_ORIG" >"$spec"
		for u in $users; do printf '%s@%s ' "$u" "$DC_DOMAIN"; done \
			>>"$spec"
		echo >>"$spec"
		DC_LMTP_TIMEOUT=60 dc_lmtp_send "$spec" >"$replies" \
			2>"$DC_DIR/lmtp.err" || :
		for u in $users; do
			HS_CODES[$u]=$(awk -v r="$u@$DC_DOMAIN" \
				'$2 == r { print $1 }' "$replies")
		done
		HS_CODE=${HS_CODES[$HS_USER]}
		HS_REPLY=$(awk -v r="$HS_USER@$DC_DOMAIN" \
			'$2 == r { $1 = $2 = $3 = ""; print }' "$replies")
		[ -n "$HS_REPLY" ] || HS_REPLY=$(tail -n 1 "$DC_DIR/lmtp.err")
		case $HS_CODE in
		2??) HS_OUT=stored ;;
		4??) HS_OUT=tempfail ;;
		'') HS_OUT="no reply" ;;
		*) HS_OUT=permfail ;;
		esac
		# the log process writes asynchronously
		sleep 0.3
		;;
	esac
	# shellcheck disable=SC2034 # for the test scripts
	HS_SECS=$((($(date +%s%N) - start) / 1000000000))
	tail -n +"$((off + 1))" "$DC_LOG" >"$HS_LOGF"
	HS_NEW=$(dc_new_files "$DC_DIR/before" "$(dc_maildir "$HS_USER")")
}

# hs_sent_count: the number of messages sendmail got so far
hs_sent_count()
{
	find "$HS_OUTBOX" -type f ! -name '*.args' | wc -l
}

# hs_outcome: one line on the last delivery, for failure messages
hs_outcome()
{
	local line
	line=$(grep -E 'Panic:|Fatal:|Error:' "$HS_LOGF" | head -n 1)
	[ -n "$line" ] || line=$(grep -E 'encrypt action:' "$HS_LOGF" |
		head -n 1)
	line=$(printf '%s' "$line" | sed 's/^[A-Z][a-z]* [ 0-9]* [0-9:]* //')
	printf '%s %s, %s new file(s); log: %s' "$HS_OUT" "$HS_CODE" \
		"$(hs_count "$HS_NEW")" "${line:0:220}"
}

hs_count()
{
	if [ -z "$1" ]; then
		echo 0
	else
		printf '%s\n' "$1" | wc -l
	fi
}

# hs_secret_home USER: the GnuPG home with USER's secret key
hs_secret_home() { dc_secret_home "$1"; }

# --- what was stored -----------------------------------------------------

# hs_armor FILE: print the (first) armored PGP MESSAGE block of FILE
hs_armor()
{
	sed -n '/^-----BEGIN PGP MESSAGE-----\r\{0,1\}$/,/^-----END PGP MESSAGE-----\r\{0,1\}$/p' \
		"$1" | sed '/^-----END PGP MESSAGE-----/q'
}

# hs_recipients FILE: the key ids of the public-key encrypted session key
# packets of the armored message in FILE, sorted, one a line (0000... for
# a hidden recipient)
hs_recipients()
{
	hs_armor "$1" | gpg --homedir "$HS_LISTHOME" --batch --no-tty \
		--list-packets 2>/dev/null |
		sed -n 's/^:pubkey enc packet:.* keyid \([0-9A-Fa-f]*\).*/\1/p' |
		tr 'a-f' 'A-F' | sort -u
}

# hs_verify: pgpmime-verify.py ARGS..., with the option for the last path
# (LMTP prepends trace fields)
hs_verify()
{
	local opts=()
	case $HS_PATH in lmtp-*) opts=(--lmtp) ;; esac
	python3 "$DC_TOP/tests/tools/pgpmime-verify.py" "${opts[@]}" "$@"
}

# hs_check_encrypted_to USER FILE: FILE is the PGP/MIME form of $HS_ORIG,
# decrypts with USER's secret key to it, and is encrypted to USER's
# encryption subkeys and nobody else. Prints the problem; returns 1.
hs_check_encrypted_to()
{
	local user=$1 file=$2 out
	if ! out=$(hs_verify "$HS_ORIG" "$file" "$(hs_secret_home "$user")" \
		2>&1); then
		echo "stored message is not the encrypted original: $out"
		return 1
	fi
	hs_check_recipients "$user" "$file"
}

# hs_check_recipients USER FILE: the session key of FILE is encrypted to
# USER's encryption subkeys and nobody else. Prints the problem; returns 1.
hs_check_recipients()
{
	local user=$1 file=$2 got want fpr
	fpr=$(keys_fingerprint "$(hs_secret_home "$user")" \
		"$user@$DC_DOMAIN") || return 1
	want=$(keys_subkey_ids "$(hs_secret_home "$user")" "$fpr" | sort -u)
	got=$(hs_recipients "$file")
	if [ "$got" != "$want" ]; then
		echo "encrypted to [$(printf '%s' "$got" | tr '\n' ' ')]," \
			"expected exactly [$(printf '%s' "$want" | tr '\n' ' ')]" \
			"(the user's encryption subkey)"
		return 1
	fi
}

# hs_check_decrypts_to_body USER FILE: FILE holds an armored message that
# USER's key decrypts to an entity whose body is the body of $HS_ORIG (line
# ends aside), and is encrypted to USER only. For messages that
# pgpmime-verify.py takes for encrypted already. Prints the problem.
hs_check_decrypts_to_body()
{
	local user=$1 file=$2 out
	if ! grep -qi '^Content-Type: multipart/encrypted' "$file"; then
		echo "stored message is not multipart/encrypted"
		return 1
	fi
	if ! out=$(hs_armor "$file" | gpg --homedir \
		"$(hs_secret_home "$user")" --batch --no-tty --quiet \
		--decrypt 2>/dev/null | python3 -c '
import sys
def body(b):
    b = b.replace(b"\r\n", b"\n")
    i = b.find(b"\n\n")
    return b[i + 2:] if i >= 0 else None
got = body(sys.stdin.buffer.read())
with open(sys.argv[1], "rb") as f:
    want = body(f.read())
if got is None or got != want:
    sys.exit("decrypted entity does not hold the original body")
' "$HS_ORIG" 2>&1); then
		echo "${out:-decryption failed}"
		return 1
	fi
	hs_check_recipients "$user" "$file"
}

# hs_log_errors: the Error lines of the last delivery to HS_USER, and any
# Fatal or Panic line
hs_log_errors()
{
	grep -E ": (Fatal|Panic): |\\($HS_USER@$DC_DOMAIN\\)[^ ]*: Error: " \
		"$HS_LOGF" || :
}

# --- expectations (one PASS/FAIL line each) --------------------------------

# hs_expect_encrypted NAME USER [light]: stored (exit 0 / 2xx), exactly one
# new message, the encrypted original (light: hs_check_decrypts_to_body),
# to USER's key only, logged at Info with no Error, Fatal or Panic
hs_expect_encrypted()
{
	local name=$1 user=$2 light=${3:-} problem
	if [ "$HS_OUT" != stored ]; then
		dc_fail "$name" "not stored: $(hs_outcome)"
	elif [ "$(hs_count "$HS_NEW")" -ne 1 ]; then
		dc_fail "$name" "$(hs_count "$HS_NEW") messages stored"
	elif [ -n "$light" ] &&
		! problem=$(hs_check_decrypts_to_body "$user" "$HS_NEW"); then
		dc_fail "$name" "$problem; $(hs_outcome)"
	elif [ -z "$light" ] &&
		! problem=$(hs_check_encrypted_to "$user" "$HS_NEW"); then
		dc_fail "$name" "$problem; $(hs_outcome)"
	elif [ -n "$(hs_log_errors)" ]; then
		dc_fail "$name" "stored encrypted, but logged: $(hs_outcome)"
	else
		dc_pass "$name"
	fi
}

# hs_policy_problem POLICY ERROR-REGEX: what is wrong with the last
# delivery as a failure under sieve_encrypt_on_failure = POLICY: keep ->
# stored (exit 0 / 2xx), one new message, the original; tempfail -> exit 75
# / 4xx, nothing stored. Either way an Error line matching ERROR-REGEX and
# no Panic. Prints the problem; returns 1.
hs_policy_problem()
{
	local policy=$1 re=$2 out
	if grep -q 'Panic:' "$HS_LOGF"; then
		echo "Panic: $(hs_outcome)"
		return 1
	fi
	case $policy in
	keep)
		if [ "$HS_OUT" != stored ] ||
			[ "$(hs_count "$HS_NEW")" -ne 1 ]; then
			echo "expected the original stored: $(hs_outcome)"
			return 1
		fi
		if ! out=$(hs_verify --expect-plain "$HS_ORIG" "$HS_NEW" 2>&1)
		then
			echo "stored, but not the original: $out"
			return 1
		fi
		;;
	tempfail)
		if [ "$HS_OUT" != tempfail ] ||
			[ "$(hs_count "$HS_NEW")" -ne 0 ]; then
			echo "expected a temporary failure: $(hs_outcome)"
			return 1
		fi
		;;
	esac
	if ! hs_log_errors | grep -Eq -- "$re"; then
		echo "no Error line matching /$re/: $(hs_outcome)"
		return 1
	fi
}

# hs_expect_policy NAME POLICY ERROR-REGEX: the delivery failed as
# sieve_encrypt_on_failure = POLICY says (see hs_policy_problem)
hs_expect_policy()
{
	local problem
	if problem=$(hs_policy_problem "$2" "$3"); then
		dc_pass "$1"
	else
		dc_fail "$1" "$problem"
	fi
}

# hs_expect_encrypted_or_policy NAME USER POLICY ERROR-REGEX: either the
# message was stored encrypted to USER's key only (hs_expect_encrypted) or
# the delivery failed per POLICY; never stored otherwise
hs_expect_encrypted_or_policy()
{
	local name=$1 user=$2 policy=$3 re=$4 problem
	if [ "$HS_OUT" = stored ] && [ "$(hs_count "$HS_NEW")" -eq 1 ] &&
		[ -z "$(hs_log_errors)" ]; then
		if problem=$(hs_check_encrypted_to "$user" "$HS_NEW"); then
			dc_pass "$name (stored encrypted)"
		else
			dc_fail "$name" "stored as a success, but $problem"
		fi
	elif problem=$(hs_policy_problem "$policy" "$re"); then
		dc_pass "$name (failed per policy $policy)"
	else
		dc_fail "$name" "neither encrypted to the user's key nor" \
			"a failure per policy: $problem"
	fi
}

# hs_expect_encrypted_or_tempfail NAME USER: the original is nowhere in
# USER's mailbox: either stored encrypted to USER's key only (exit 0 / 2xx,
# one new message in any folder) or a temporary failure (exit 75 / 4xx,
# nothing stored, an Error logged); no Panic
hs_expect_encrypted_or_tempfail()
{
	local name=$1 user=$2 problem
	case $HS_OUT in
	stored)
		if [ "$(hs_count "$HS_NEW")" -ne 1 ]; then
			dc_fail "$name" "$(hs_count "$HS_NEW") messages stored:" \
				"$(hs_outcome)"
			return
		fi
		if ! problem=$(hs_check_encrypted_to "$user" "$HS_NEW"); then
			dc_fail "$name" "$problem; $(hs_outcome)"
			return
		fi
		;;
	tempfail)
		if [ "$(hs_count "$HS_NEW")" -ne 0 ]; then
			dc_fail "$name" "temporary failure, but stored:" \
				"$(hs_outcome)"
			return
		fi
		;;
	*)
		dc_fail "$name" "neither stored nor a temporary failure:" \
			"$(hs_outcome)"
		return
		;;
	esac
	if grep -q 'Panic:' "$HS_LOGF"; then
		dc_fail "$name" "Panic: $(hs_outcome)"
	elif [ "$HS_OUT" = tempfail ] && [ -z "$(hs_log_errors)" ]; then
		dc_fail "$name" "temporary failure without an Error:" \
			"$(hs_outcome)"
	else
		dc_pass "$name ($HS_OUT)"
	fi
}

# hs_expect_no_plaintext NAME [STORED]: the marker of the last message is
# in no file under $DC_DIR (but the test's own copies), or only in STORED
# (the original kept by policy)
hs_expect_no_plaintext()
{
	local name=$1 allowed=${2:-} found
	found=$(grep -rlF -D skip --exclude-dir=msgs --exclude-dir=sent \
		--exclude-dir=secret -e "$HS_MARKER" "$DC_DIR" 2>/dev/null |
		grep -vxF -e "$DC_DIR/spec" ${allowed:+-e "$allowed"} || :)
	if [ -n "$found" ]; then
		dc_fail "$name" "plaintext in: $(printf '%s' "$found" |
			sed "s|^$DC_DIR/||" | head -n 4 | tr '\n' ' ')($(hs_outcome))"
	else
		dc_pass "$name"
	fi
}

# hs_run_pids: the pids recorded by the gpg wrappers in the last delivery
hs_run_pids() { awk '$1 == "run" { print $2 }' "$HS_RUNS"; }

# hs_alive PID: PID runs (and is not a zombie) as one of ours: a gpg, a
# fake gpg (sh, sleep) or a gpg-agent
hs_alive()
{
	local state
	state=$(awk '/^State:/ { print $2 }' "/proc/$1/status" 2>/dev/null)
	[ -n "$state" ] && [ "$state" != Z ] || return 1
	grep -qaE 'gpg|sleep' "/proc/$1/cmdline" 2>/dev/null
}

# hs_leftovers: gpg processes of the last delivery that still run, and
# any process with a user's home on its command line (a gpg-agent)
hs_leftovers()
{
	local pid list
	for pid in $(hs_run_pids); do
		! hs_alive "$pid" ||
			echo "$pid $(tr '\0' ' ' <"/proc/$pid/cmdline" | cut -c1-80)"
	done
	# ps first, then filter: awk must not find itself
	list=$(ps -eo pid=,stat=,args=)
	printf '%s\n' "$list" | awk -v h="$DC_DIR/home/" \
		'index($0, h) && $2 !~ /^Z/ { print $1, substr($0, index($0, $3), 80) }'
}

# hs_collect_leftovers: print what of the last delivery still runs after
# at most 2 s (a killed gpg may take a moment to go), then kill it: this
# run's own processes must not spoil later checks
hs_collect_leftovers()
{
	local left _
	for _ in $(seq 1 20); do
		left=$(hs_leftovers)
		[ -n "$left" ] || return 0
		sleep 0.1
	done
	printf '%s\n' "$left"
	for _ in $(printf '%s\n' "$left" | awk '{ print $1 }'); do
		kill -KILL "$_" 2>/dev/null || :
	done
}

# hs_expect_no_process NAME: nothing of the last delivery runs any more
hs_expect_no_process()
{
	local left
	left=$(hs_collect_leftovers)
	if [ -z "$left" ]; then
		dc_pass "$1"
	else
		dc_fail "$1" "still running: $(printf '%s' "$left" |
			head -n 3 | tr '\n' ';')"
	fi
}

# hs_note_leftovers: for the cases without a check of their own: note what
# of the last delivery still runs, for hs_expect_no_leftovers
hs_note_leftovers()
{
	local left
	left=$(hs_collect_leftovers)
	[ -z "$left" ] || printf '%s %s: %s\n' "$HS_PATH" "$HS_USER" \
		"$(printf '%s' "$left" | head -n 2 | tr '\n' ';')" \
		>>"$DC_DIR/leftovers"
}

# hs_expect_no_leftovers NAME: hs_note_leftovers found nothing
hs_expect_no_leftovers()
{
	if [ -s "$DC_DIR/leftovers" ]; then
		dc_fail "$1" "$(head -n 3 "$DC_DIR/leftovers" | tr '\n' ' ')"
	else
		dc_pass "$1"
	fi
}

# hs_creds_problem USER: what is wrong with the ids and capabilities of
# the recorded gpg runs: each must have real = effective = saved (= file
# system) uid and gid of USER (per-user uids) or of the mail account
# (otherwise), no supplementary group but USER's gid (and the mail
# account's own groups) and no capability (inheritable, permitted,
# effective, ambient). Prints the problem; returns 1.
hs_creds_problem()
{
	local user=$1 ids groups
	ids=$(dc_user_ids "$user")
	groups="${ids#*:}"
	[ "${DC_PER_USER:-no}" = yes ] ||
		groups="$groups $(id -G "$DC_ACCOUNT")"
	groups="$groups ${HS_SERVICE_GROUPS:-}"
	awk -v uid="${ids%:*}" -v gid="${ids#*:}" -v groups="$groups" '
		function bad(what) {
			if (!seen[run]++)
				print "run " run " (" args "): " what
			n++
		}
		BEGIN { split(groups, g, " "); for (i in g) ok[g[i]] = 1 }
		$1 == "run" {
			run = $2; args = $3 " " $4 " " $5
			if (index($0, "--version")) args = "--version"
			runs++
			next
		}
		$1 == "Uid:" && ($2 != uid || $3 != uid || $4 != uid ||
				 $5 != uid) {
			bad("Uid " $2 "/" $3 "/" $4 "/" $5 " (want " uid ")")
		}
		$1 == "Gid:" && ($2 != gid || $3 != gid || $4 != gid ||
				 $5 != gid) {
			bad("Gid " $2 "/" $3 "/" $4 "/" $5 " (want " gid ")")
		}
		$1 == "Groups:" {
			for (i = 2; i <= NF; i++)
				if (!($i in ok)) {
					$1 = ""
					bad("Groups" $0)
					break
				}
		}
		$1 ~ /^Cap(Inh|Prm|Eff|Amb):$/ && $2 !~ /^0+$/ {
			bad($1 " " $2)
		}
		END {
			if (runs == 0) { print "no gpg run recorded"; exit 1 }
			exit (n > 0)
		}' "$HS_RUNS"
}

# hs_expect_gpg_creds NAME USER [refuse-ok POLICY]: every gpg run of the
# last delivery ran with USER's ids only (hs_creds_problem). With
# refuse-ok: no gpg run at all is right too, when the delivery failed per
# POLICY with an Error (the plugin refused to run gpg with more rights).
hs_expect_gpg_creds()
{
	local name=$1 user=$2 problem
	if problem=$(hs_creds_problem "$user"); then
		dc_pass "$name ($(grep -c '^run ' "$HS_RUNS") runs)"
	elif [ "${3:-}" = refuse-ok ] && ! grep -q '^run ' "$HS_RUNS" &&
		hs_policy_problem "$4" 'encrypt' >/dev/null; then
		dc_pass "$name (gpg refused, failed per policy $4)"
	else
		dc_fail "$name" "$(printf '%s' "$problem" | head -n 3 |
			tr '\n' ';')"
	fi
}
