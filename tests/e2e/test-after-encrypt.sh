#!/bin/bash
# test-after-encrypt.sh: once encrypt succeeded in a delivery, nothing stores
# or sends the original (issue 12, class 3).
#
# The sieve_before script encrypts every message (default keys %u); then
# the user's own script fails at run time or runs an action that reads the
# message: fileinto into a folder that does not exist, fileinto :create of
# a List-Id-derived name holding ".." or 300 characters, redirect,
# vnd.dovecot.report, notify (2.3 only) and enotify with the message text,
# vacation, vnd.dovecot.pipe, reject. Also: the delivery's own fallback save after a failed implicit
# keep (dovecot-lda -m Missing, LMTP to alice+Missing), a fileinto :copy
# placed before encrypt, the test form, a message that is encrypted
# already, a 400 KB message, and LMTP transactions with two recipients.
# Everything through dovecot-lda and through LMTP (as root), with
# sieve_encrypt_on_failure = keep and = tempfail.
#
# Checks per delivery: the LDA exit code or LMTP reply; that what was stored
# decrypts to the original (or, for the message encrypted already, is the
# original); what was sent (a sendmail_path that records every message)
# holds no plaintext and, where it carries the message, decrypts to it; the
# log level of the lines that tell what happened; and that no file in the
# instance (Maildirs, mail_temp_dir, logs, sent mail) holds the plaintext
# marker of the original body. Two dovecot-lda deliveries (failure keep
# of a 400 KB message, fallback to INBOX) also run under strace, which
# must see the marker written into pipes only (to gpg, to sendmail): no
# file, not even an unlinked temporary one, held it.
#
# Usage: tests/e2e/test-after-encrypt.sh (LMTP part as root, SKIP otherwise)
# Environment: SIEVE_ENCRYPT_BUILD, SIEVE_ENCRYPT_KEEP=1, TMPDIR,
# DOVECOT_MODULEDIR (default /usr/lib/dovecot/modules: the
# sieve_extprograms plugin is taken from there).
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

setup_failed()
{
	echo "test-after-encrypt.sh: setting up $1 failed" >&2
	exit 1
}

MARKER="plaintext-marker-$$-$RANDOM$RANDOM"
INPUT=$DC_DIR/input
SENT=$DC_DIR/sent
mkdir -p "$INPUT/trace" "$SENT" "$DC_DIR/tmp" "$DC_DIR/bin"
# written by every user's deliveries (mail_temp_dir, recorded mail, the
# strace output of traced deliveries)
chmod 1777 "$SENT" "$DC_DIR/tmp" "$INPUT/trace"

# --- users and scripts -------------------------------------------------------

KEYED="u-missing u-dotdot u-long u-redirect u-redirect-fail u-report
u-report-fail u-notify u-notify-fail u-enotify u-enotify-fail u-vacation
u-vacation-fail u-pipe u-pipe-fail u-reject u-archive u-testform u-already
u-large u-fallback u-bob u-bob2"
for u in $KEYED; do
	dc_add_user_with_key "$u" make_key >/dev/null || setup_failed "keys"
done
dc_add_user u-nokey
dc_kill_agents

FAIL='fileinto "Missing";'
LISTS='if header :matches "List-Id" "*<*>*" {
  fileinto :create "Lists.${2}";
}'
dc_user_script u-missing "require \"fileinto\"; $FAIL"
dc_user_script u-dotdot "require [\"fileinto\", \"mailbox\", \"variables\"];
$LISTS"
dc_user_script u-long "require [\"fileinto\", \"mailbox\", \"variables\"];
$LISTS"
dc_user_script u-redirect 'redirect "forward@example.net";'
dc_user_script u-redirect-fail "require \"fileinto\";
redirect \"forward@example.net\"; $FAIL"
REPORT='report "abuse" "Reported by the user" "abuse@example.net";'
dc_user_script u-report "require \"vnd.dovecot.report\"; $REPORT"
dc_user_script u-report-fail "require [\"vnd.dovecot.report\", \"fileinto\"];
$REPORT $FAIL"
NOTIFY='notify :method "mailto" :options "notify@example.net"
  :message "$from$: $subject$: $text$";'
dc_user_script u-notify "require \"notify\"; $NOTIFY"
dc_user_script u-notify-fail "require [\"notify\", \"fileinto\"];
$NOTIFY $FAIL"
ENOTIFY='foreverypart { extracttext :first 400 "text"; }
notify :message "${text}" "mailto:notify@example.net";'
dc_user_script u-enotify "require [\"enotify\", \"variables\",
  \"foreverypart\", \"extracttext\"];
$ENOTIFY"
dc_user_script u-enotify-fail "require [\"enotify\", \"variables\",
  \"foreverypart\", \"extracttext\", \"fileinto\"];
$ENOTIFY $FAIL"
VACATION='vacation :days 1 :addresses ["team@example.org"] "Away.";'
dc_user_script u-vacation "require \"vacation\"; $VACATION"
dc_user_script u-vacation-fail "require [\"vacation\", \"fileinto\"];
$VACATION $FAIL"
PIPE='pipe "record";'
dc_user_script u-pipe "require \"vnd.dovecot.pipe\"; $PIPE"
dc_user_script u-pipe-fail "require [\"vnd.dovecot.pipe\", \"fileinto\"];
$PIPE $FAIL"
dc_user_script u-reject 'require "reject"; reject "Not wanted.";'
dc_user_script u-testform "require \"fileinto\"; $FAIL"
dc_user_script u-already "require \"fileinto\"; $FAIL"
dc_user_script u-large "require [\"vacation\", \"fileinto\"];
$VACATION $FAIL"
dc_user_script u-bob2 "require \"fileinto\"; $FAIL"

# u-archive files a copy before encrypt; u-testform and u-nokey use the
# test form (u-nokey has no keyring: not encrypted, plaintext is right)
dc_global_script 'require ["vnd.x.encrypt", "envelope", "subaddress",
  "fileinto", "mailbox", "copy"];
if envelope :user "to" "u-archive" {
  fileinto :create :copy "Archive";
}
if envelope :user "to" ["u-testform", "u-nokey"] {
  if encrypt { }
} else {
  encrypt;
}'

# Every message sent (redirect, report, notify, vacation, reject) or piped
# (vnd.dovecot.pipe) is recorded
cat >"$DC_DIR/bin/sendmail" <<EOF
#!/bin/sh
f=\$(mktemp "$SENT/mail.XXXXXX") || exit 75
cat >"\$f"
EOF
mkdir "$DC_DIR/pipe-bin"
cp "$DC_DIR/bin/sendmail" "$DC_DIR/pipe-bin/record"
chmod 755 "$DC_DIR/bin" "$DC_DIR/bin/sendmail" "$DC_DIR/pipe-bin" \
	"$DC_DIR/pipe-bin/record"

# vnd.dovecot.pipe comes with Pigeonhole's sieve_extprograms plugin, from
# Dovecot's module directory; the plugins load from one directory
MODULEDIR=${DOVECOT_MODULEDIR:-/usr/lib/dovecot/modules}
mkdir "$DC_DIR/sieve-plugins"
ln -s "$DC_PLUGIN_DIR/lib90_sieve_encrypt_plugin.so" \
	"$MODULEDIR/sieve/lib90_sieve_extprograms_plugin.so" \
	"$DC_DIR/sieve-plugins/"

EXTENSIONS="+vnd.dovecot.report +vnd.dovecot.pipe"
[ "$DC_V24" = yes ] || EXTENSIONS="$EXTENSIONS +notify"
cat >"$DC_DIR/extra.conf" <<EOF
sendmail_path = $DC_DIR/bin/sendmail
mail_temp_dir = $DC_DIR/tmp
lmtp_save_to_detail_mailbox = yes
recipient_delimiter = +
EOF

# --- messages ------------------------------------------------------------------

# write_msg FILE [EXTRA HEADER]: a message whose body holds the marker
write_msg()
{
	{
		printf 'From: Sender <sender@example.net>\n'
		printf 'To: Team <team@example.org>\n'
		printf 'Subject: After encrypt\n'
		printf 'Message-ID: <after-encrypt-%s@example.net>\n' "$RANDOM"
		[ -z "${2:-}" ] || printf '%s\n' "$2"
		printf 'Content-Type: text/plain; charset=us-ascii\n\n'
		printf 'Secret text: %s\n' "$MARKER"
	} >"$1"
}

MSG=$INPUT/plain.eml
write_msg "$MSG"
MSG_DOTDOT=$INPUT/dotdot.eml
write_msg "$MSG_DOTDOT" 'List-Id: Evil list <a..b.example.net>'
MSG_LONG=$INPUT/long.eml
write_msg "$MSG_LONG" "List-Id: Long list <$(printf 'l%.0s' $(seq 1 300)).example.net>"
MSG_LARGE=$INPUT/large.eml
write_msg "$MSG_LARGE"
for _ in $(seq 1 6000); do
	printf 'Line of a large message, to be stored encrypted. %s\n' \
		"$RANDOM$RANDOM$RANDOM"
done >>"$MSG_LARGE"
printf 'The end: %s\n' "$MARKER" >>"$MSG_LARGE"
MSG_ALREADY=$INPUT/already.eml
cp "$MESSAGES/09-pgp-mime-encrypted.eml" "$MSG_ALREADY"

# --- checks --------------------------------------------------------------------

LMTP=no
N=0
# deliver RCPTS MSG [LDA ARGS...]: deliver MSG to the recipients (local
# parts, with +detail if wanted) through dovecot-lda (one recipient) or in
# one LMTP transaction. Sets, per user: RESULT_OF (LDA exit code or LMTP
# reply code), REPLY_OF (LMTP reply line), STORED_OF (new message files);
# and ORIG (the message as the server got it: LMTP makes lines end in
# CRLF), SENT_NOW (new sent mails), NEWLOG (log lines of this delivery)
declare -A RESULT_OF REPLY_OF STORED_OF
deliver()
{
	local rcpts=$1 msg=$2 r user lines rc addrs='' replies
	shift 2
	N=$((N + 1))
	for r in $rcpts; do
		user=${r%%+*}
		find "$(dc_maildir "$user")" -type f 2>/dev/null | sort \
			>"$DC_DIR/before.$N.$user"
		# vacation answers a sender once a day: forget earlier answers
		rm -f "$(dc_home "$user")/.dovecot.lda-dupes"
		addrs="$addrs $r@example.org"
	done
	find "$SENT" -type f | sort >"$DC_DIR/before.$N.sent"
	lines=$(wc -l <"$DC_LOG")
	if [ "$LMTP" = yes ]; then
		printf '%s\t%s\t%s\n' "$msg" "$INPUT/sent.$N" "${addrs# }" \
			>"$INPUT/spec.$N"
		replies=$(dc_lmtp_send "$INPUT/spec.$N" 2>&1) || :
		ORIG=$INPUT/sent.$N
		for r in $rcpts; do
			REPLY_OF[${r%%+*}]=$(printf '%s\n' "$replies" |
				awk -v a="$r@example.org" '$2 == a')
			RESULT_OF[${r%%+*}]=${REPLY_OF[${r%%+*}]%% *}
		done
	else
		rc=0
		user=$rcpts
		dc_lda "$user" "$msg" "$@" || rc=$?
		ORIG=$msg
		RESULT_OF[$user]=$rc
		REPLY_OF[$user]=
	fi
	for r in $rcpts; do
		user=${r%%+*}
		STORED_OF[$user]=$(find "$(dc_maildir "$user")" -type f \
			2>/dev/null | sort | comm -13 "$DC_DIR/before.$N.$user" - |
			grep -E '/(new|cur)/' || :)
	done
	SENT_NOW=$(find "$SENT" -type f | sort |
		comm -13 "$DC_DIR/before.$N.sent" -)
	NEWLOG=$(tail -n "+$((lines + 1))" "$DC_LOG")
}

count() { [ -z "$1" ] && echo 0 || printf '%s\n' "$1" | wc -l; }

# traced NAME USER MSG [LDA ARGS...]: deliver (dovecot-lda, through a
# wrapper that runs it under strace, following every process: gpg,
# sendmail) and check that the plaintext marker was only ever written into
# pipes (to gpg, or to the recording sendmail, whose files expect checks):
# no file, temporary or not, ever held it. The message comes from a
# regular file, so dovecot-lda needs no spool copy of it.
traced()
{
	local name="$1 [$POLICY]" trace=$INPUT/trace/strace.$((N + 1)) writes
	local lda=$DC_LDA
	shift
	cat >"$DC_DIR/bin/lda-traced" <<EOF
#!/bin/sh
exec strace -f -qq -y -s 1000000 -o "$trace" \\
	-e trace=write,writev,pwrite64,pwritev,sendto,sendmsg "$lda" "\$@"
EOF
	chmod 755 "$DC_DIR/bin/lda-traced"
	DC_LDA=$DC_DIR/bin/lda-traced
	deliver "$@"
	DC_LDA=$lda
	writes=$(grep -F -- "$MARKER" "$trace" | grep -E \
		'(write|writev|pwrite64|pwritev|sendto|sendmsg)\(' || :)
	if ! printf '%s\n' "$writes" | grep -q '<pipe:'; then
		dc_fail "$name" "the trace saw no plaintext go into a pipe" \
			"(the check is not live)"
	elif printf '%s\n' "$writes" |
		grep -qvE '\(([0-9]+)<pipe:\[[0-9]+\]>'; then
		dc_fail "$name" "$(printf '%s\n' "$writes" |
			grep -vE '\(([0-9]+)<pipe:\[[0-9]+\]>' | head -n 1 |
			cut -c1-160)"
	else
		dc_pass "$name"
	fi
	rm -f "$trace"
}

# decrypts_to_marker FILE USER: the first PGP message in FILE decrypts (with
# USER's secret key) to text holding the marker
decrypts_to_marker()
{
	sed -n '/-----BEGIN PGP MESSAGE-----/,/-----END PGP MESSAGE-----/p' \
		"$1" | tr -d '\r' |
		gpg --homedir "$(dc_secret_home "$2")" --batch --quiet \
			--decrypt 2>/dev/null | grep -qF "$MARKER"
}

# new_leaks: files of the instance that hold the marker (not the input
# messages, and not the mail of u-nokey, who has no key) and were not
# reported before
LEAKS_SEEN=$DC_DIR/leaks-seen
: >"$LEAKS_SEEN"
new_leaks()
{
	grep -rlF -- "$MARKER" "$DC_DIR" 2>/dev/null |
		grep -vE "^($INPUT|$DC_DIR/home/u-nokey)/" |
		grep -vxF -f "$LEAKS_SEEN" | tee -a "$LEAKS_SEEN" || :
}

# expect NAME USER RESULT STORED SENT SENT_PGP [LOG-REGEX...]: about the
# last delivery (of $ORIG)
#   RESULT: LDA exit code, or the LMTP reply code
#   STORED: number of messages stored, each decrypting to the original;
#           "unchanged" (one message, the original as it came, encrypted
#           already) or "plain" (one message, the original not encrypted)
#   SENT: number of messages sent; SENT_PGP of them must carry the
#         encrypted message (and decrypt to the original text)
#   LOG-REGEX: each must match a line of this delivery's log
expect()
{
	local name=$1 user=$2 result=$3 stored=$4 sent=$5 pgp=$6
	local n f got stored_files lmtp_opt=() with_pgp=0
	shift 6
	[ "$LMTP" = no ] || { name="lmtp: $name"; lmtp_opt=(--lmtp); }
	name="$name [$POLICY]"
	got=${RESULT_OF[$user]}
	stored_files=${STORED_OF[$user]}
	if [ "$got" != "$result" ]; then
		dc_fail "$name" "result $got, expected $result" \
			"(${REPLY_OF[$user]})"
		return
	fi
	n=$(count "$stored_files")
	if [ "$stored" = unchanged ] || [ "$stored" = plain ]; then
		if [ "$n" -ne 1 ] || ! python3 "$VERIFY" "${lmtp_opt[@]}" \
			--expect "$stored" "$ORIG" "$stored_files" \
			>/dev/null 2>&1; then
			dc_fail "$name" "$n stored, not the original ($stored)"
			return
		fi
	else
		if [ "$n" -ne "$stored" ]; then
			dc_fail "$name" "$n message(s) stored, expected $stored"
			return
		fi
		for f in $stored_files; do
			python3 "$VERIFY" "${lmtp_opt[@]}" "$ORIG" "$f" \
				"$(dc_secret_home "$user")" >/dev/null 2>&1 ||
				{ dc_fail "$name" "stored $f is not the" \
					"original encrypted"; return; }
		done
	fi
	n=$(count "$SENT_NOW")
	if [ "$n" -ne "$sent" ]; then
		dc_fail "$name" "$n message(s) sent, expected $sent"
		return
	fi
	for f in $SENT_NOW; do
		if grep -q -- '-----BEGIN PGP MESSAGE-----' "$f"; then
			decrypts_to_marker "$f" "$user" ||
				{ dc_fail "$name" "sent $f does not decrypt" \
					"to the original"; return; }
			with_pgp=$((with_pgp + 1))
		fi
	done
	if [ "$with_pgp" -ne "$pgp" ]; then
		dc_fail "$name" "$with_pgp sent message(s) carry the encrypted" \
			"message, expected $pgp"
		return
	fi
	for f in "$@"; do
		printf '%s\n' "$NEWLOG" | grep -qE -- "$f" ||
			{ dc_fail "$name" "log lacks /$f/"; return; }
	done
	if printf '%s\n' "$NEWLOG" | grep -qE ': (Panic|Fatal): '; then
		dc_fail "$name" "$(printf '%s\n' "$NEWLOG" |
			grep -E ': (Panic|Fatal): ' | head -n 1)"
		return
	fi
	f=$(new_leaks)
	if [ -n "$f" ]; then
		dc_fail "$name" "plaintext in $(printf '%s' "$f" | head -n 3 |
			tr '\n' ' ')"
		return
	fi
	dc_pass "$name"
}

KEPT='Info: sieve: Execution of script .* failed, but implicit keep was successful'
INSTEAD='Info: .*Mailbox INBOX: encrypt: storing the encrypted message instead of the original'

# run_scenarios: every scenario once, through LDA or LMTP ($LMTP)
run_scenarios()
{
	local ok=0
	[ "$LMTP" = no ] || ok=250

	deliver u-missing "$MSG"
	expect "fileinto a missing folder: failure keep stores the encrypted message" \
		u-missing "$ok" 1 0 0 "$KEPT"
	deliver u-dotdot "$MSG_DOTDOT"
	expect "fileinto :create from a List-Id with '..': encrypted kept" \
		u-dotdot "$ok" 1 0 0 "$KEPT"
	deliver u-long "$MSG_LONG"
	expect "fileinto :create from a 300-character List-Id: encrypted kept" \
		u-long "$ok" 1 0 0 "$KEPT"

	deliver u-redirect "$MSG"
	expect "redirect sends the encrypted message" \
		u-redirect "$ok" 0 1 1
	deliver u-redirect-fail "$MSG"
	expect "redirect, then a failure: encrypted kept, nothing plain sent" \
		u-redirect-fail "$ok" 1 0 0 "$KEPT"

	deliver u-report "$MSG"
	expect "vnd.dovecot.report sends the encrypted message" \
		u-report "$ok" 1 1 1
	deliver u-report-fail "$MSG"
	expect "vnd.dovecot.report, then a failure: encrypted kept, nothing plain sent" \
		u-report-fail "$ok" 1 0 0 "$KEPT"

	if [ "$DC_V24" = yes ]; then
		dc_skip "notify (deprecated) with \$text\$" "not in Pigeonhole 2.4"
	else
		deliver u-notify "$MSG"
		expect "notify :message \$text\$ sends no plaintext" \
			u-notify "$ok" 1 1 0
		deliver u-notify-fail "$MSG"
		expect "notify \$text\$, then a failure: encrypted kept, nothing plain sent" \
			u-notify-fail "$ok" 1 0 0 "$KEPT"
	fi

	deliver u-enotify "$MSG"
	expect "enotify with the extracted text sends no plaintext" \
		u-enotify "$ok" 1 1 0
	deliver u-enotify-fail "$MSG"
	expect "enotify with the text, then a failure: encrypted kept" \
		u-enotify-fail "$ok" 1 0 0 "$KEPT"

	deliver u-vacation "$MSG"
	expect "vacation replies, the implicit keep stores the encrypted message" \
		u-vacation "$ok" 1 1 0
	deliver u-vacation-fail "$MSG"
	expect "vacation, then a failure: encrypted kept" \
		u-vacation-fail "$ok" 1 0 0 "$KEPT"

	deliver u-pipe "$MSG"
	expect "vnd.dovecot.pipe gets the encrypted message" \
		u-pipe "$ok" 0 1 1
	deliver u-pipe-fail "$MSG"
	expect "vnd.dovecot.pipe, then a failure: encrypted kept, nothing plain piped" \
		u-pipe-fail "$ok" 1 0 0 "$KEPT"
	deliver u-reject "$MSG"
	expect "reject returns the header, no plaintext body" \
		u-reject "$ok" 0 1 0

	deliver u-archive "$MSG"
	expect "fileinto :copy before encrypt: both copies encrypted" \
		u-archive "$ok" 2 0 0 \
		'Info: .*Mailbox Archive: encrypt: storing the encrypted message instead of the original'
	deliver u-testform "$MSG"
	expect "test form, then a failure: encrypted kept" \
		u-testform "$ok" 1 0 0 "$KEPT"
	deliver u-already "$MSG_ALREADY"
	expect "message encrypted already, then a failure: kept unchanged" \
		u-already "$ok" unchanged 0 0 "$KEPT"
	if [ "$LMTP" = no ] && [ "$POLICY" = keep ] &&
		command -v strace >/dev/null; then
		traced "strace: 400 KB message, vacation, a failure: no plaintext written but into pipes" \
			u-large "$MSG_LARGE"
	else
		deliver u-large "$MSG_LARGE"
	fi
	expect "400 KB message, vacation, then a failure: encrypted kept" \
		u-large "$ok" 1 0 0 "$KEPT"

	if [ "$LMTP" = yes ]; then
		deliver u-fallback+Missing "$MSG"
	elif [ "$POLICY" = keep ] && command -v strace >/dev/null; then
		traced "strace: fallback to INBOX: no plaintext written but into pipes" \
			u-fallback "$MSG" -m Missing
	else
		deliver u-fallback "$MSG" -m Missing
	fi
	expect "implicit keep into a missing folder, fallback to INBOX: encrypted" \
		u-fallback "$ok" 1 0 0 "$INSTEAD"
}

# lmtp_two_recipients: LMTP keeps the first recipient's stored mail as the
# source of the next recipients' deliveries when Sieve did not store it
lmtp_two_recipients()
{
	local t

	deliver "u-fallback+Missing u-bob" "$MSG"
	expect "two recipients, the first one's fallback save would become the next one's source: deferred" \
		u-fallback 451 0 0 0 \
		'Info: .*Mailbox INBOX: encrypt: not storing the original of the encrypted message, delivery deferred'
	t="lmtp: the deferred recipient's reply says why [$POLICY]"
	case ${REPLY_OF[u-fallback]} in
	*"not storing the original of an encrypted message"*) dc_pass "$t" ;;
	*) dc_fail "$t" "${REPLY_OF[u-fallback]}" ;;
	esac
	expect "two recipients, the second one gets the message encrypted to its own key" \
		u-bob 250 1 0 0
	deliver u-fallback+Missing "$MSG"
	expect "the deferred recipient, retried alone: stored encrypted" \
		u-fallback 250 1 0 0 "$INSTEAD"

	deliver "u-nokey+Missing u-bob2+Missing" "$MSG"
	expect "two recipients, the first without a key: stored as it came" \
		u-nokey 250 plain 0 0
	# the second recipient's message is the first one's stored file (LF)
	ORIG=$MSG
	expect "two recipients, the second fails and falls back to the first one's stored mail: encrypted" \
		u-bob2 250 1 0 0 "$INSTEAD"
}

# configure_policy: the settings of this test, sieve_encrypt_on_failure =
# $POLICY
configure_policy()
{
	dc_configure sieve_encrypt_default_keys=%u \
		sieve_encrypt_on_failure="$POLICY" \
		sieve_extensions="$EXTENSIONS" \
		sieve_plugin_dir="$DC_DIR/sieve-plugins" \
		sieve_plugins="sieve_encrypt sieve_extprograms" \
		sieve_pipe_bin_dir="$DC_DIR/pipe-bin"
}

# --- dovecot-lda ---------------------------------------------------------------

for POLICY in keep tempfail; do
	configure_policy
	LMTP=no
	run_scenarios
done

# --- LMTP ----------------------------------------------------------------------

if [ "$(id -u)" -ne 0 ]; then
	dc_skip "lmtp" "needs root to run a Dovecot service"
	dc_summary
	exit
fi

for POLICY in keep tempfail; do
	configure_policy
	dc_lmtp_start || { dc_fail "lmtp: start [$POLICY]" "see above"; break; }
	LMTP=yes
	run_scenarios
	lmtp_two_recipients
	dc_lmtp_stop
done

# The guard's state is freed with the mail user, after the delivery: no
# crash and nothing Dovecot reports as leaked then either
t="the whole log: no panic, no fatal error, nothing leaked"
bad=$(grep -E ': (Panic|Fatal): |leak' "$DC_LOG" || :)
if [ -z "$bad" ]; then
	dc_pass "$t"
else
	dc_fail "$t" "$(printf '%s\n' "$bad" | head -n 1)"
fi

dc_summary
