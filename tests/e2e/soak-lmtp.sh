#!/bin/bash
# soak-lmtp.sh: load test of vnd.x.encrypt through a real Dovecot LMTP
# service, bounded in time for CI.
#
# 50 users, each with a key of their own in ~/.gnupg; 2,000 generated
# messages (text, multipart/alternative, attachments up to 100 KB; CRLF;
# a fixed random seed), 40 per user, sent over 4 concurrent LMTP
# connections (tests/tools/lmtp-load.py: each connection one long LMTP
# session, as an MTA reusing connections) to a private instance on
# 127.0.0.1. The same load runs three times, each time with a fresh
# instance:
#   encrypt   sieve_before encrypts to the envelope recipient
#   plain     the same script without encrypt (keep), for comparison
#   filter    the set-up that encrypt replaces: vnd.dovecot.filter running
#             bench/pgpmime-filter.sh (a shell script piping the message
#             through gpg), for comparison; its messages are checked to be
#             multipart/encrypted, not decrypted
# Checks, for each run: every recipient answered 250; every message stored
# exactly once, in its recipient's INBOX (a count of every Maildir, and
# every Message-ID once); every encrypted message decrypts to its original
# (pgpmime-verify.py over all of them, or a random sample of
# $SOAK_VERIFY_SAMPLE); every plain one equals its original; one
# "encrypted message" log line per message and no error, fatal or panic;
# no zombie below the instance while it runs and no process left after it
# (the script runs under tests/tools/subreaper.py, which reaps and counts
# every gpg); the memory of the LMTP processes flat: VmRSS sampled every
# 0.1 s, mean of the last quarter of the run (by messages done) at most 5%
# above the mean of the second quarter (the first holds the start-up),
# per process. (It grew with encryption until the plugin was linked with
# -z nodelete: Pigeonhole unloaded it, and libgpgme with it, after every
# delivery, leaking gpgme's global state each time.)
# Reports messages/s of each run and the ratios, RSS first/last, and per
# delivery: the CPU time of the lmtp processes, of what they waited for
# (the filter program and its gpg) and of gpgme's engine with its gpg
# (sieve-encrypt-gpg-exec, reaped by the reaper), and the processes
# started, counted from the kernel's process accounting of the run
# (tests/tools/proc-account.py, tests/tools/soak-cost.py), for the whole
# run and for its second half (the steady state: each lmtp process has
# seen most users).
#
# Time: each run is cut off after $SOAK_DEADLINE seconds (default 150),
# verification after $SOAK_VERIFY_TIMEOUT (default 120): a run that is cut
# off fails, it does not hang. Needs root (SKIP otherwise).
# Environment: SOAK_USERS (50), SOAK_MESSAGES (2000), SOAK_CONNECTIONS (4),
# SOAK_SEED (6), SOAK_VERIFY_SAMPLE (0 = all), SOAK_DEADLINE,
# SOAK_MODES ("encrypt plain filter": the runs to do),
# SOAK_VERIFY_TIMEOUT, SIEVE_ENCRYPT_BUILD, SIEVE_ENCRYPT_KEEP, TMPDIR.
#
# Prints PASS:/FAIL:/SKIP: lines and "N passed, N failed"; exits 1 on
# failure.
set -eu

TOP=$(cd "$(dirname "$0")/../.." && pwd)

if [ "$(id -u)" -eq 0 ] && [ "${SIEVE_ENCRYPT_REAPER:-}" != "$PPID" ]; then
	REAPLOG=$(mktemp "${TMPDIR:-/tmp}/soak-lmtp-reaper.XXXXXX")
	export SOAK_REAPLOG=$REAPLOG
	exec python3 "$TOP/tests/tools/subreaper.py" "$REAPLOG" -- "$0" "$@"
fi

DC_TOP=$TOP
. "$TOP/tests/lib/keys.sh"
. "$TOP/tests/lib/dovecot.sh"
VERIFY=$TOP/tests/tools/pgpmime-verify.py
LOAD=$TOP/tests/tools/lmtp-load.py
ACCOUNT=$TOP/tests/tools/proc-account.py

if [ "$(id -u)" -ne 0 ]; then
	dc_skip "soak-lmtp" "needs root to run a Dovecot service"
	dc_summary
	exit 0
fi
REAPLOG=$SOAK_REAPLOG
REAPER=$SIEVE_ENCRYPT_REAPER

USERS=${SOAK_USERS:-50}
MESSAGES=${SOAK_MESSAGES:-2000}
CONNECTIONS=${SOAK_CONNECTIONS:-4}
SEED=${SOAK_SEED:-6}
SAMPLE=${SOAK_VERIFY_SAMPLE:-0}
DEADLINE=${SOAK_DEADLINE:-150}
VERIFY_TIMEOUT=${SOAK_VERIFY_TIMEOUT:-120}
MODES=${SOAK_MODES:-encrypt plain filter}

trap 'python3 "$ACCOUNT" off 2>/dev/null; dc_cleanup; rm -f "$REAPLOG"' EXIT
trap 'exit 130' INT TERM

T0=$SECONDS
dc_init

# --- users and keys: one secret home with every key, for decrypting -------

SECRET=$DC_DIR/secret/all
mkdir -p "$DC_DIR/secret"
keys_init_home "$SECRET"
user_name() { printf 'user%02d' "$1"; }
for i in $(seq 1 "$USERS"); do
	u=$(user_name "$i")
	dc_add_user "$u"
	fpr=$(make_key "$SECRET" "User $i" "$u@$DC_DOMAIN") &&
		keys_export_public "$SECRET" "$(dc_home "$u")/.gnupg" "$fpr" &&
		keys_give "$(dc_home "$u")/.gnupg" "$DC_UID:$DC_GID" || {
		echo "soak-lmtp.sh: key set-up for $u failed" >&2
		exit 1
	}
done
dc_kill_agents

# --- messages ----------------------------------------------------------------

MSGDIR=$DC_DIR/msgs
mkdir -p "$MSGDIR"
SPEC=$DC_DIR/load.spec
python3 - "$MSGDIR" "$SPEC" "$MESSAGES" "$USERS" "$SEED" "$DC_DOMAIN" <<'EOF'
import base64, random, sys
msgdir, spec, count, users, seed, domain = sys.argv[1:7]
count, users = int(count), int(users)
rnd = random.Random(int(seed))
words = ("lorem ipsum dolor sit amet consectetur adipiscing elit sed do "
         "eiusmod tempor incididunt ut labore et dolore magna aliqua "
         "Gr\u00fc\u00dfe caf\u00e9").split()

def text(n):
    out, line = [], []
    size = 0
    while size < n:
        w = rnd.choice(words)
        line.append(w)
        size += len(w) + 1
        if len(line) >= 12:
            out.append(" ".join(line))
            line = []
    out.append(" ".join(line))
    return "\n".join(out) + "\n"

with open(spec, "w", encoding="utf-8") as sp:
    for i in range(count):
        user = "user%02d@%s" % (i % users + 1, domain)
        kind = rnd.random()
        head = ("From: Sender %d <sender%d@example.net>\n"
                "To: <%s>\nSubject: soak message %d\n"
                "Date: Mon, 04 Mar 2024 12:00:00 +0100\n"
                "Message-ID: <soak-%05d@soak.example.net>\n"
                "MIME-Version: 1.0\n" % (i % 7, i % 7, user, i, i))
        if kind < 0.7:
            body = ("Content-Type: text/plain; charset=utf-8\n"
                    "Content-Transfer-Encoding: 8bit\n\n"
                    + text(rnd.randint(300, 8000)))
        elif kind < 0.9:
            t = text(rnd.randint(2000, 10000))
            body = ("Content-Type: multipart/alternative; boundary=\"a%d\"\n\n"
                    "--a%d\nContent-Type: text/plain; charset=utf-8\n\n%s"
                    "--a%d\nContent-Type: text/html; charset=utf-8\n\n"
                    "<html><body><p>%s</p></body></html>\n--a%d--\n"
                    % (i, i, t, i, t.replace("\n", "<br>\n"), i))
        else:
            att = base64.encodebytes(rnd.randbytes(rnd.randint(20000, 75000)))
            body = ("Content-Type: multipart/mixed; boundary=\"m%d\"\n\n"
                    "--m%d\nContent-Type: text/plain; charset=utf-8\n\n%s"
                    "--m%d\nContent-Type: application/octet-stream; "
                    "name=\"data%d.bin\"\n"
                    "Content-Transfer-Encoding: base64\n"
                    "Content-Disposition: attachment; filename=\"data%d.bin\""
                    "\n\n%s--m%d--\n"
                    % (i, i, text(500), i, i, i, att.decode(), i))
        data = (head + body).encode("utf-8").replace(b"\n", b"\r\n")
        path = "%s/%05d.eml" % (msgdir, i)
        with open(path, "wb") as f:
            f.write(data)
        sp.write("%s\t%s\n" % (path, user))
EOF
chmod -R a+rX "$MSGDIR"
echo "set-up: $USERS users with keys, $MESSAGES messages" \
	"($(du -sk "$MSGDIR" | cut -f1) KB) in $((SECONDS - T0)) s"

# --- one run -------------------------------------------------------------------

# orphans: processes the reaper adopted that still run, except this script
# and the gpg-agent of the secret keys (the verifier's)
orphans()
{
	ps -o pid=,stat=,args= --ppid "$REAPER" 2>/dev/null |
		awk -v me="$$" -v secret="--homedir $SECRET" \
			'$1 != me && !index($0, secret)' || :
}

declare -A RATE RATE2 RSS_FIRST RSS_LAST RSS_GROWTH COST
# run NAME: start an instance, send the load, stop it; checks the replies,
# zombies, memory and what is left running. Leaves the results in
# $DC_DIR/NAME.* and the Maildirs in place.
run()
{
	local name=$1 rc=0 summary out left _ reap_mark
	local log_mark master
	log_mark=$(wc -l <"$DC_LOG")
	reap_mark=$(wc -l <"$REAPLOG")
	if ! dc_lmtp_start; then
		dc_fail "$name: start the LMTP service" "see messages above"
		return 1
	fi
	# dc_lmtp_start may see the port open before master.pid is written
	for _ in $(seq 1 50); do
		[ -z "$DC_LMTP_PID" ] || break
		[ ! -s "$DC_DIR/run/master.pid" ] ||
			DC_LMTP_PID=$(cat "$DC_DIR/run/master.pid")
		sleep 0.1
	done
	summary=$DC_DIR/$name.summary
	master=$DC_LMTP_PID
	: >"$DC_DIR/$name.acct"
	python3 "$ACCOUNT" on "$DC_DIR/$name.acct"
	timeout -k 5 "$((DEADLINE + 30))" python3 "$LOAD" \
		--port "$DC_LMTP_PORT" --spec "$SPEC" \
		--connections "$CONNECTIONS" --deadline "$DEADLINE" \
		--socket-timeout 30 \
		--results "$DC_DIR/$name.results" \
		--samples "$DC_DIR/$name.samples" \
		--master-pid "$DC_LMTP_PID" --zombie-root "$REAPER" --interval 0.1 \
		>"$summary" 2>"$DC_DIR/$name.load-err" || rc=$?
	dc_lmtp_stop
	python3 "$ACCOUNT" off
	tail -n +"$((log_mark + 1))" "$DC_LOG" >"$DC_DIR/$name.log"
	COST[$name]=$(python3 "$TOP/tests/tools/soak-cost.py" "$summary" \
		"$MESSAGES" "$DC_DIR/$name.acct" "$master" "$REAPER" 2>&1) ||
		COST[$name]="not measured: ${COST[$name]}"
	echo "$name: ${COST[$name]}"
	sed -n "$((reap_mark + 1)),\$p" "$REAPLOG" >"$DC_DIR/$name.reaped"

	# every recipient 250, within the deadline
	out=$(python3 - "$summary" "$MESSAGES" <<'EOF'
import json, sys
try:
    s = json.load(open(sys.argv[1]))
except (OSError, ValueError) as e:
    print("no summary from the load client (%s)" % e)
    sys.exit(1)
want = int(sys.argv[2])
if s["ok"] != want or s["hung_connections"]:
    print("%d of %d recipients accepted, %d failed, %d connections hung"
          % (s["ok"], want, s["failed"], s["hung_connections"]))
    sys.exit(1)
print("%d messages in %.1f s: %.1f messages/s, %d lmtp processes"
      % (s["ok"], s["elapsed"], s["per_second"], s["max_lmtp"]))
EOF
	) || rc=1
	if [ "$rc" -eq 0 ]; then
		dc_pass "$name: $out"
	else
		dc_fail "$name: all $MESSAGES messages accepted (250) in time" \
			"$out; client exit $rc: $(head -c 300 "$DC_DIR/$name.load-err") $(grep -v '^25' "$DC_DIR/$name.results" 2>/dev/null |
				head -n 3 | tr '\n' ';')"
	fi
	RATE[$name]=$(python3 -c 'import json,sys
print(json.load(open(sys.argv[1])).get("per_second", 0))' "$summary" \
		2>/dev/null || echo 0)
	RATE2[$name]=$(python3 -c 'import json,sys
print(json.load(open(sys.argv[1])).get("per_second_second_half", 0))' \
		"$summary" 2>/dev/null || echo 0)

	# zombies while it ran
	out=$(python3 -c 'import json,sys
s = json.load(open(sys.argv[1]))
print(json.dumps(s.get("zombies")), s.get("zombies_seen"),
      s.get("zombie_longest_s"))' "$summary" 2>/dev/null ||
		echo "(no summary from the load client)")
	if [ "${out%% *}" = "{}" ]; then
		dc_pass "$name: no zombie processes (seen in passing: $(echo "$out" |
			cut -d' ' -f2), for at most $(echo "$out" | cut -d' ' -f3) s)"
	else
		dc_fail "$name: no zombie processes" "$out"
	fi

	# memory of the lmtp processes: flat = the mean VmRSS of the last
	# quarter of the run at most 5% above the mean of the second quarter
	# (the first holds each process's start-up), for every process that
	# served connections all through
	out=$(python3 - "$summary" "$MESSAGES" <<'EOF'
import json, sys
try:
    s = json.load(open(sys.argv[1]))
except (OSError, ValueError):
    print("no summary from the load client")
    sys.exit(2)
total = int(sys.argv[2])
if s["ok"] != total:
    print("not measured: the run did not complete")
    sys.exit(2)
bad, lines, firsts, lasts = [], [], [], []
for pid, r in sorted(s["rss"].items()):
    a, b = r["second_quarter_kb"], r["last_quarter_kb"]
    if a is None or b is None:
        continue
    firsts.append(a)
    lasts.append(b)
    lines.append("%s:%d->%d" % (pid, a, b))
    if b > a * 1.05:
        bad.append(pid)
if not firsts:
    print("no RSS samples of lmtp processes in both quarters")
    sys.exit(2)
first, last = sum(firsts) / len(firsts), sum(lasts) / len(lasts)
# deliveries per process between the middles of the two quarters
per_delivery = (last - first) * 1024 / (0.5 * total / len(firsts))
print("VmRSS second -> last quarter (kB) %s; mean %d -> %d kB (%+.1f%%, "
      "%+d bytes per delivery)"
      % (" ".join(lines), first, last, 100 * (last - first) / first,
         per_delivery))
sys.exit(1 if bad else 0)
EOF
	) && rc=0 || rc=$?
	t="$name: LMTP memory flat (last quarter <= second quarter + 5%)"
	if [ "$rc" -eq 2 ]; then
		dc_fail "$t" "$out"
	elif [ "$rc" -eq 0 ]; then
		dc_pass "$t: $out"
	else
		dc_fail "$t" "$out"
	fi
	RSS_FIRST[$name]=$(printf '%s' "$out" | sed -n 's/.*; mean \([0-9]*\) -> .*/\1/p')
	RSS_LAST[$name]=$(printf '%s' "$out" | sed -n 's/.*; mean [0-9]* -> \([0-9]*\) kB.*/\1/p')
	RSS_GROWTH[$name]=$(printf '%s' "$out" | sed -n 's/.* kB (\(.*\))$/\1/p')

	# nothing left running (gpg, dovecot)
	for _ in $(seq 1 50); do
		left=$(orphans)
		[ -n "$left" ] || break
		sleep 0.1
	done
	if [ -z "$left" ]; then
		dc_pass "$name: no process left after the run ($(awk '
			$1 == "reaped" && $3 == "gpg" { g++ }
			$1 == "reaped" && $3 == "gpg" && $4 != "exit=0" { bad++ }
			END { printf "%d gpg processes reaped, %d of them failed", g, bad }' \
			"$DC_DIR/$name.reaped"))"
	else
		dc_fail "$name: no process left after the run" \
			"$(printf '%s' "$left" | head -n 3 | tr '\n' ';')"
	fi

	# the log
	# (but the master's own "Killed with signal 15" from dc_lmtp_stop)
	out=$(grep -aE 'Error:|Fatal:|Panic:|Warning:' "$DC_DIR/$name.log" |
		grep -vE 'master: Warning: Killed with signal 15 ' |
		head -n 2 | cut -c1-200 || :)
	if [ -z "$out" ]; then
		dc_pass "$name: no error, warning, fatal or panic in the log"
	else
		dc_fail "$name: no error, warning, fatal or panic in the log" "$out"
	fi
}

# check_store NAME MODE: every message once in its user's INBOX; MODE
# encrypted or plain: verify all (or a sample) with pgpmime-verify.py
check_store()
{
	local name=$1 mode=$2 out batch rc=0 n
	batch=$DC_DIR/$name.batch
	out=$(python3 - "$DC_DIR/home" "$SPEC" "$batch" "$mode" "$SAMPLE" \
		"$SEED" <<'EOF'
import os, random, re, sys
home, spec, batch, mode, sample, seed = sys.argv[1:7]
want = {}         # message-id -> (msgfile, user)
per_user = {}
with open(spec, encoding="utf-8") as f:
    for line in f:
        msgfile, rcpt = line.rstrip("\n").split("\t")
        user = rcpt.split("@")[0]
        mid = "soak-%s@soak.example.net" % os.path.basename(msgfile)[:-4]
        want[mid] = (msgfile, user)
        per_user[user] = per_user.get(user, 0) + 1
mid_re = re.compile(rb"^Message-ID: <([^>]*)>", re.M | re.I)
found = {}
problems = []
for user in sorted(per_user):
    maildir = os.path.join(home, user, "Maildir")
    files = []
    for sub in ("new", "cur"):
        d = os.path.join(maildir, sub)
        if os.path.isdir(d):
            files += [os.path.join(d, x) for x in os.listdir(d)]
    for folder in os.listdir(maildir) if os.path.isdir(maildir) else []:
        if folder.startswith(".") and os.path.isdir(os.path.join(maildir, folder, "new")):
            problems.append("%s has a folder %s" % (user, folder))
    tmp = os.path.join(maildir, "tmp")
    if os.path.isdir(tmp) and os.listdir(tmp):
        problems.append("%s: %d file(s) left in tmp/" % (user, len(os.listdir(tmp))))
    if len(files) != per_user[user]:
        problems.append("%s: %d messages stored, %d sent"
                        % (user, len(files), per_user[user]))
    for path in files:
        with open(path, "rb") as f:
            head = f.read(4096)
        m = mid_re.search(head)
        mid = m.group(1).decode() if m else "?"
        if mid not in want:
            problems.append("%s: unknown message %s" % (user, mid))
        elif want[mid][1] != user:
            problems.append("%s: got %s, sent to %s" % (user, mid, want[mid][1]))
        elif mid in found:
            problems.append("%s stored twice" % mid)
        found[mid] = path
missing = [m for m in want if m not in found]
if missing:
    problems.append("%d message(s) not stored, e.g. %s" % (len(missing), missing[0]))
entries = sorted(found)
n = int(sample)
if 0 < n < len(entries):
    entries = sorted(random.Random(int(seed)).sample(entries, n))
with open(batch, "w", encoding="utf-8") as f:
    for mid in entries:
        f.write("%s\t%s\t%s\n" % (want[mid][0], found[mid], mode))
print("%d messages in %d Maildirs, each once in its user's INBOX; %s"
      % (len(found), len(per_user), "; ".join(problems[:3]) or "ok"))
sys.exit(1 if problems else 0)
EOF
	) || rc=$?
	if [ "$rc" -eq 0 ]; then
		dc_pass "$name: $out"
	else
		dc_fail "$name: every message stored exactly once" "$out"
	fi

	if [ "$mode" = filtered ]; then
		check_filtered "$name" "$batch"
		return
	fi
	# verify, in two halves at once (2 cores)
	n=$(grep -c . "$batch" || :)
	split -n l/2 -d "$batch" "$batch."
	rc=0
	local pids=() pid
	for part in "$batch".0?; do
		timeout -k 5 "$VERIFY_TIMEOUT" python3 "$VERIFY" --lmtp \
			--homedir "$SECRET" --batch "$part" \
			>"$part.out" 2>&1 &
		pids+=("$!")
	done
	for pid in "${pids[@]}"; do
		wait "$pid" || rc=1
	done
	out=$(cat "$batch".0*.out | grep -v ': ok: ' | head -n 3 | cut -c1-300 || :)
	local okn
	okn=$(cat "$batch".0*.out | grep -c ': ok: ' || :)
	if [ "$rc" -eq 0 ] && [ "$okn" -eq "$n" ] && [ -z "$out" ]; then
		if [ "$SAMPLE" -gt 0 ]; then
			out="$mode, a random sample"
		else
			out="$mode, all"
		fi
		dc_pass "$name: $okn of $n stored messages check out with pgpmime-verify.py ($out)"
	else
		dc_fail "$name: stored messages check out with pgpmime-verify.py" \
			"$okn of $n ok (exit $rc, timeout $VERIFY_TIMEOUT s): $out"
	fi
}

# check_filtered NAME BATCH: the stored messages of the filter run are
# multipart/encrypted (the filter's output is not the plugin's form, which
# pgpmime-verify.py checks)
check_filtered()
{
	local name=$1 batch=$2 n bad
	n=$(grep -c . "$batch" || :)
	bad=$(cut -f2 "$batch" | while IFS= read -r f; do
		grep -qi '^Content-Type: multipart/encrypted' "$f" || echo "$f"
	done | head -n 3)
	if [ -z "$bad" ] && [ "$n" -eq "$MESSAGES" ]; then
		dc_pass "$name: all $n stored messages are multipart/encrypted"
	else
		dc_fail "$name: stored messages are multipart/encrypted" \
			"$n stored; not encrypted: $bad"
	fi
}

# put_maildirs NAME: move the Maildirs aside, for the next run
put_maildirs()
{
	local i h
	for i in $(seq 1 "$USERS"); do
		h=$(dc_home "$(user_name "$i")")
		[ ! -d "$h/Maildir" ] || mv "$h/Maildir" "$h/Maildir.$1"
	done
}

wants() { case " $MODES " in *" $1 "*) return 0 ;; esac; return 1; }

# --- encrypting run ------------------------------------------------------------

if wants encrypt; then
dc_global_script 'require ["vnd.x.encrypt", "envelope", "variables"];
if envelope :matches "to" "*" {
  encrypt "${1}";
}'
T1=$SECONDS
run encrypt
n=$(grep -c 'encrypt action: encrypted message to key' "$DC_DIR/encrypt.log" || :)
if [ "$n" -eq "$MESSAGES" ]; then
	dc_pass "encrypt: one 'encrypted message' log line per message ($n)"
else
	dc_fail "encrypt: one 'encrypted message' log line per message" \
		"$n lines for $MESSAGES messages"
fi
T2=$SECONDS
check_store encrypt encrypted
echo "encrypt: load $((T2 - T1)) s, checks $((SECONDS - T2)) s"
put_maildirs encrypt
fi

# --- the same load without encryption ------------------------------------------

if wants plain; then
dc_global_script 'require ["envelope", "variables"];
if envelope :matches "to" "*" {
  keep;
}'
T1=$SECONDS
run plain
n=$(grep -c 'encrypt action:' "$DC_DIR/plain.log" || :)
if [ "$n" -eq 0 ]; then
	dc_pass "plain: the plugin did nothing"
else
	dc_fail "plain: the plugin did nothing" "$n encrypt action lines"
fi
T2=$SECONDS
check_store plain plain
echo "plain: load $((T2 - T1)) s, checks $((SECONDS - T2)) s"
put_maildirs plain
fi

# --- the same load through a filter script and gpg -----------------------------

if wants filter; then
EXTPROGRAMS=$(find /usr/lib/dovecot -name 'lib90_sieve_extprograms_plugin.so' |
	head -n 1)
if [ -z "$EXTPROGRAMS" ]; then
	dc_skip "filter" "lib90_sieve_extprograms_plugin.so not found"
else
	mkdir -p "$DC_DIR/filter-bin"
	cp "$TOP/bench/pgpmime-filter.sh" "$DC_DIR/filter-bin/"
	chmod -R a+rX "$DC_DIR/filter-bin"
	# extprograms next to the plugin, in one sieve_plugin_dir
	[ "$DC_PLUGIN_DIR" = "$DC_DIR/plugin" ] || {
		mkdir -p "$DC_DIR/plugin"
		cp "$DC_PLUGIN_DIR/lib90_sieve_encrypt_plugin.so" "$DC_DIR/plugin/"
		DC_PLUGIN_DIR=$DC_DIR/plugin
	}
	cp "$EXTPROGRAMS" "$DC_DIR/plugin/"
	dc_plugin_setting sieve_plugins "sieve_encrypt sieve_extprograms"
	dc_plugin_setting sieve_global_extensions \
		"+vnd.x.encrypt +vnd.dovecot.filter"
	dc_plugin_setting sieve_filter_bin_dir "$DC_DIR/filter-bin"
	dc_global_script 'require ["vnd.dovecot.filter"];
filter "pgpmime-filter.sh";'
	T1=$SECONDS
	run filter
	T2=$SECONDS
	check_store filter filtered
	echo "filter: load $((T2 - T1)) s, checks $((SECONDS - T2)) s"
	put_maildirs filter
fi
fi

ratio() { python3 -c 'import sys
a, b = (float(x or 0) for x in sys.argv[1:3])
print("%.2f" % (a / b) if b > 0 else "?")' "$1" "$2"; }
echo "messages/s: ${RATE[encrypt]:-?} with encryption, ${RATE[plain]:-?}" \
	"without, ${RATE[filter]:-?} through the filter script" \
	"($CONNECTIONS connections, $(nproc 2>/dev/null || echo '?') CPUs)"
echo "ratios: encrypt/plain $(ratio "${RATE[encrypt]:-}" "${RATE[plain]:-}")," \
	"encrypt/filter $(ratio "${RATE[encrypt]:-}" "${RATE[filter]:-}")"
echo "second half of each run (the steady state): messages/s" \
	"${RATE2[encrypt]:-?} with encryption, ${RATE2[plain]:-?} without," \
	"${RATE2[filter]:-?} through the filter script; ratios: encrypt/plain" \
	"$(ratio "${RATE2[encrypt]:-}" "${RATE2[plain]:-}"), encrypt/filter" \
	"$(ratio "${RATE2[encrypt]:-}" "${RATE2[filter]:-}")"
for m in $MODES; do
	echo "$m: ${COST[$m]:-not run}"
done
echo "lmtp VmRSS (mean per process, second -> last quarter): encrypt" \
	"${RSS_FIRST[encrypt]:-?} -> ${RSS_LAST[encrypt]:-?} kB" \
	"(${RSS_GROWTH[encrypt]:-?}), plain" \
	"${RSS_FIRST[plain]:-?} -> ${RSS_LAST[plain]:-?} kB" \
	"(${RSS_GROWTH[plain]:-?})"
echo "total time: $((SECONDS - T0)) s"

dc_summary
