# Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
"""Load test of vnd.x.encrypt through a real Dovecot LMTP service, bounded
in time for CI (was tests/e2e/soak-lmtp.sh). Marker: soak.

50 users, each with a key of their own; 2,000 generated messages (text,
multipart/alternative, attachments up to 100 KB; CRLF; a fixed random
seed), 40 per user, sent over 4 concurrent LMTP connections
(tests/tools/lmtp-load.py: each connection one long LMTP session, as an
MTA reusing connections). The same load runs three times, each time with
a fresh instance:
  encrypt   sieve_before encrypts to the envelope recipient
  plain     the same script without encrypt (keep), for comparison
  filter    the set-up that encrypt replaces: vnd.dovecot.filter running
            bench/pgpmime-filter.sh (a shell script piping the message
            through gpg); its messages are checked to be
            multipart/encrypted, not decrypted
Checks, for each run: every recipient answered 250; every message stored
exactly once, in its recipient's INBOX; every encrypted message decrypts
to its original (all, or a random sample of $SOAK_VERIFY_SAMPLE); every
plain one equals its original; one "encrypted message" log line per
message and no error, warning, fatal or panic; no zombie below the
instance while it runs and no process left after it (the master runs
under tests/tools/subreaper.py, which reaps and logs every orphan, each
gpg among them); the memory of the LMTP processes flat: VmRSS sampled
every 0.1 s, mean of the last quarter of the run (by messages done) at
most 5% above the mean of the second quarter (the first holds the
start-up), per process.
test_report prints messages/s of each run and the ratios, RSS, and per
delivery the CPU time of the lmtp processes, of what they waited for and
of gpgme's engine with its gpg, and the processes started (from the
kernel's process accounting: tests/tools/proc-account.py, soak-cost.py),
for the whole run and its second half (the steady state).

Time: each run is cut off after $SOAK_DEADLINE seconds (default 150; the
filter run, some 2.5 times slower, after $SOAK_FILTER_DEADLINE, default
450): a run that is cut off fails, it does not hang. Environment:
SOAK_USERS (50), SOAK_MESSAGES (2000), SOAK_CONNECTIONS (4), SOAK_SEED
(6), SOAK_VERIFY_SAMPLE (0 = all), SOAK_DEADLINE, SOAK_FILTER_DEADLINE,
SOAK_MODES ("encrypt plain filter": the runs to do).
"""

import base64
import glob
import json
import os
import random
import re
import shutil
import subprocess
import sys

import pytest

from conftest import ENCRYPT_TO_RECIPIENT, TOP
from harness import pgpmime
from harness.dovecot import message_files

pytestmark = pytest.mark.soak

TOOLS = os.path.join(TOP, "tests", "tools")
USERS = int(os.environ.get("SOAK_USERS", 50))
MESSAGES = int(os.environ.get("SOAK_MESSAGES", 2000))
CONNECTIONS = int(os.environ.get("SOAK_CONNECTIONS", 4))
SEED = int(os.environ.get("SOAK_SEED", 6))
SAMPLE = int(os.environ.get("SOAK_VERIFY_SAMPLE", 0))
DEADLINE = int(os.environ.get("SOAK_DEADLINE", 150))
DEADLINES = {"encrypt": DEADLINE, "plain": DEADLINE,
             "filter": int(os.environ.get("SOAK_FILTER_DEADLINE", 450))}
MODES = os.environ.get("SOAK_MODES", "encrypt plain filter").split()
ALL_MODES = ("encrypt", "plain", "filter")

SCRIPTS = {
    "encrypt": ENCRYPT_TO_RECIPIENT,
    "plain": '''require ["envelope", "variables"];
if envelope :matches "to" "*" {
  keep;
}''',
    "filter": '''require ["vnd.dovecot.filter"];
filter "pgpmime-filter.sh";''',
}

WORDS = ("lorem ipsum dolor sit amet consectetur adipiscing elit sed do "
         "eiusmod tempor incididunt ut labore et dolore magna aliqua "
         "Gr\u00fc\u00dfe caf\u00e9").split()


def user_name(i):
    return "user%02d" % i


def generate(msgdir, spec):
    """The messages (CRLF, fixed seed) and lmtp-load.py's spec; returns
    {message-id: (path, user name)}"""
    rnd = random.Random(SEED)

    def text(n):
        out, line, size = [], [], 0
        while size < n:
            w = rnd.choice(WORDS)
            line.append(w)
            size += len(w) + 1
            if len(line) >= 12:
                out.append(" ".join(line))
                line = []
        out.append(" ".join(line))
        return "\n".join(out) + "\n"

    sent = {}
    with open(spec, "w", encoding="utf-8") as sp:
        for i in range(MESSAGES):
            user = user_name(i % USERS + 1)
            kind = rnd.random()
            head = ("From: Sender %d <sender%d@example.net>\n"
                    "To: <%s@example.org>\nSubject: soak message %d\n"
                    "Date: Mon, 04 Mar 2024 12:00:00 +0100\n"
                    "Message-ID: <soak-%05d@soak.example.net>\n"
                    "MIME-Version: 1.0\n" % (i % 7, i % 7, user, i, i))
            if kind < 0.7:
                body = ("Content-Type: text/plain; charset=utf-8\n"
                        "Content-Transfer-Encoding: 8bit\n\n"
                        + text(rnd.randint(300, 8000)))
            elif kind < 0.9:
                t = text(rnd.randint(2000, 10000))
                body = ("Content-Type: multipart/alternative; "
                        "boundary=\"a%d\"\n\n"
                        "--a%d\nContent-Type: text/plain; charset=utf-8\n\n%s"
                        "--a%d\nContent-Type: text/html; charset=utf-8\n\n"
                        "<html><body><p>%s</p></body></html>\n--a%d--\n"
                        % (i, i, t, i, t.replace("\n", "<br>\n"), i))
            else:
                att = base64.encodebytes(
                    rnd.randbytes(rnd.randint(20000, 75000)))
                body = ("Content-Type: multipart/mixed; boundary=\"m%d\"\n\n"
                        "--m%d\nContent-Type: text/plain; charset=utf-8\n\n%s"
                        "--m%d\nContent-Type: application/octet-stream; "
                        "name=\"data%d.bin\"\n"
                        "Content-Transfer-Encoding: base64\n"
                        "Content-Disposition: attachment; "
                        "filename=\"data%d.bin\"\n\n%s--m%d--\n"
                        % (i, i, text(500), i, i, i, att.decode(), i))
            data = (head + body).encode("utf-8").replace(b"\n", b"\r\n")
            path = os.path.join(msgdir, "%05d.eml" % i)
            with open(path, "wb") as f:
                f.write(data)
            sp.write("%s\t%s@example.org\n" % (path, user))
            sent["soak-%05d@soak.example.net" % i] = (path, user)
    return sent


class Run:
    """One load run and what it left"""

    def __init__(self, mode, inst, summary, log, reaped, cost):
        self.mode = mode
        self.inst = inst
        self.summary = summary
        self.log = log
        self.reaped = reaped
        self.cost = cost


class Soak:
    def __init__(self, make_instance, scratch):
        self.make_instance = make_instance
        self.scratch = scratch
        self.msgdir = os.path.join(scratch, "msgs")
        os.mkdir(self.msgdir)
        self.spec = os.path.join(scratch, "load.spec")
        self.sent = generate(self.msgdir, self.spec)
        for root, dirs, files in os.walk(scratch):
            for name in dirs + files:
                os.chmod(os.path.join(root, name), 0o755 if name in dirs
                         else 0o644)
        self.runs = {}

    def run(self, mode):
        if mode not in MODES:
            pytest.skip("not in SOAK_MODES")
        if mode not in self.runs:
            self.runs[mode] = self._run(mode)
        return self.runs[mode]

    def _instance(self, mode):
        inst = self.make_instance()
        for i in range(1, USERS + 1):
            inst.add_user(user_name(i), key="valid")
        if mode == "filter":
            extprograms = glob.glob("/usr/lib/dovecot/**/lib90_sieve_"
                                    "extprograms_plugin.so", recursive=True)
            if not extprograms:
                pytest.skip("lib90_sieve_extprograms_plugin.so not found")
            shutil.copy(extprograms[0], inst.plugin_dir)
            bindir = os.path.join(inst.dir, "filter-bin")
            os.mkdir(bindir)
            shutil.copy(os.path.join(TOP, "bench", "pgpmime-filter.sh"),
                        bindir)
            os.chmod(bindir, 0o755)
            os.chmod(os.path.join(bindir, "pgpmime-filter.sh"), 0o755)
            inst.global_extensions["vnd.dovecot.filter"] = True
            inst.set(sieve_plugins="sieve_encrypt sieve_extprograms",
                     sieve_filter_bin_dir=bindir)
        inst.global_script(SCRIPTS[mode])
        return inst

    def _run(self, mode):
        inst = self._instance(mode)
        base = os.path.join(inst.dir, mode)
        reaplog = base + ".reaped"
        acct = base + ".acct"
        open(acct, "w").close()
        inst.lmtp_start(reaper_log=reaplog)
        master, reaper = inst.master_pid, inst.reaper_pid
        subprocess.run([sys.executable, os.path.join(TOOLS,
                                                     "proc-account.py"),
                        "on", acct], check=True)
        try:
            load = subprocess.run(
                [sys.executable, os.path.join(TOOLS, "lmtp-load.py"),
                 "--port", str(inst.lmtp_port), "--spec", self.spec,
                 "--connections", str(CONNECTIONS),
                 "--deadline", str(DEADLINES[mode]),
                 "--socket-timeout", "30",
                 "--results", base + ".results",
                 "--samples", base + ".samples",
                 "--master-pid", str(master), "--zombie-root", str(reaper),
                 "--interval", "0.1"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                timeout=DEADLINES[mode] + 60)
        finally:
            inst.lmtp_stop()
            subprocess.run([sys.executable,
                            os.path.join(TOOLS, "proc-account.py"), "off"])
        try:
            summary = json.loads(load.stdout)
        except ValueError:
            summary = {"error": load.stderr.decode(errors="replace")[:300]}
        summary_path = base + ".summary"
        with open(summary_path, "w") as f:
            json.dump(summary, f)
        cost = subprocess.run(
            [sys.executable, os.path.join(TOOLS, "soak-cost.py"),
             summary_path, str(MESSAGES), acct, str(master), str(reaper)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        with open(reaplog) as f:
            reaped = f.read()
        return Run(mode, inst, summary, inst.log(), reaped,
                   cost.stdout.decode(errors="replace").strip())


@pytest.fixture(scope="module")
def soak(make_module_instance, tmp_path_factory):
    scratch = str(tmp_path_factory.mktemp("soak"))
    os.chmod(scratch, 0o755)
    path = scratch
    while path != "/":
        path = os.path.dirname(path)
        os.chmod(path, os.stat(path).st_mode | 0o005)
    return Soak(make_module_instance, scratch)


@pytest.mark.parametrize("mode", ALL_MODES)
def test_all_accepted_in_time(soak, mode):
    s = soak.run(mode).summary
    assert "error" not in s, s["error"]
    assert s["ok"] == MESSAGES and not s["hung_connections"], \
        "%d of %d recipients accepted, %d failed, %d connections hung" % (
            s["ok"], MESSAGES, s["failed"], s["hung_connections"])


@pytest.mark.parametrize("mode", ALL_MODES)
def test_no_zombies(soak, mode):
    s = soak.run(mode).summary
    assert s.get("zombies") == {}, s.get("zombies")


@pytest.mark.parametrize("mode", ALL_MODES)
def test_lmtp_memory_flat(soak, mode):
    """Mean VmRSS of the last quarter <= second quarter + 5%, for every
    lmtp process that served all through"""
    s = soak.run(mode).summary
    assert s.get("ok") == MESSAGES, "not measured: the run did not complete"
    measured = {pid: (r["second_quarter_kb"], r["last_quarter_kb"])
                for pid, r in s["rss"].items()
                if r["second_quarter_kb"] is not None and
                r["last_quarter_kb"] is not None}
    assert measured, "no RSS samples of lmtp processes in both quarters"
    grown = {pid: ab for pid, ab in measured.items() if ab[1] > ab[0] * 1.05}
    assert not grown, "VmRSS grew (kB, second -> last quarter): %s" % grown


@pytest.mark.parametrize("mode", ALL_MODES)
def test_no_process_left(soak, mode):
    """The reaper killed nothing: every orphan (gpg among them) had ended
    when the master stopped"""
    run = soak.run(mode)
    killed = [line for line in run.reaped.splitlines()
              if line.startswith("killed ")]
    assert not killed, killed[:3]


@pytest.mark.parametrize("mode", ALL_MODES)
def test_log_clean(soak, mode):
    """No error, warning, fatal or panic in the log (but the master's own
    "Killed with signal 15" at the stop)"""
    bad = [line for line in soak.run(mode).log.splitlines()
           if re.search(r"Error:|Fatal:|Panic:|Warning:", line) and
           "master: Warning: Killed with signal 15 " not in line]
    assert not bad, bad[:2]


def test_encrypt_logs_each_message(soak):
    n = soak.run("encrypt").log.count(
        "encrypt action: encrypted message to key")
    assert n == MESSAGES


def test_plain_plugin_idle(soak):
    assert "encrypt action:" not in soak.run("plain").log


def stored(soak, run):
    """{message-id: path} of every stored message; the problems found"""
    mid_re = re.compile(rb"^Message-ID: <([^>]*)>", re.M | re.I)
    per_user = {}
    for path, user in soak.sent.values():
        per_user[user] = per_user.get(user, 0) + 1
    found, problems = {}, []
    for name, count in sorted(per_user.items()):
        user = run.inst.users[name]
        files = message_files(user.maildir)
        inbox = message_files(user.maildir, "INBOX")
        if files != inbox:
            problems.append("%s: messages outside INBOX" % name)
        tmp = os.path.join(user.maildir, "tmp")
        if os.path.isdir(tmp) and os.listdir(tmp):
            problems.append("%s: files left in tmp/" % name)
        if len(files) != count:
            problems.append("%s: %d messages stored, %d sent"
                            % (name, len(files), count))
        for path in files:
            with open(path, "rb") as f:
                m = mid_re.search(f.read(4096))
            mid = m.group(1).decode() if m else "?"
            if mid not in soak.sent:
                problems.append("%s: unknown message %s" % (name, mid))
            elif soak.sent[mid][1] != name:
                problems.append("%s: got %s" % (name, mid))
            elif mid in found:
                problems.append("%s stored twice" % mid)
            found[mid] = path
    missing = [m for m in soak.sent if m not in found]
    if missing:
        problems.append("%d message(s) not stored, e.g. %s"
                        % (len(missing), missing[0]))
    return found, problems


@pytest.mark.parametrize("mode", ALL_MODES)
def test_stored_once_in_inbox(soak, mode):
    found, problems = stored(soak, soak.run(mode))
    assert not problems, problems[:3]


@pytest.mark.parametrize("mode", ("encrypt", "plain"))
def test_stored_messages_verify(soak, mode):
    """Every (or a sample of) encrypted message decrypts to what was
    sent; every plain one is what was sent"""
    run = soak.run(mode)
    found, _ = stored(soak, run)
    mids = sorted(found)
    if 0 < SAMPLE < len(mids):
        mids = sorted(random.Random(SEED).sample(mids, SAMPLE))
    trace = set(pgpmime.LMTP_TRACE_FIELDS)
    bad = []
    for mid in mids:
        path, name = soak.sent[mid]
        with open(path, "rb") as f:
            original = f.read()
        with open(found[mid], "rb") as f:
            data = f.read()
        try:
            pgpmime.verify(original, data,
                           run.inst.users[name].secret_home,
                           "encrypted" if mode == "encrypt" else "plain",
                           trace, True, None)
        except pgpmime.Mismatch as e:
            bad.append("%s: %s" % (mid, e))
    assert not bad, "%d of %d: %s" % (len(bad), len(mids), bad[:3])


def test_filter_stored_multipart_encrypted(soak):
    found, _ = stored(soak, soak.run("filter"))
    bad = []
    for path in found.values():
        with open(path, "rb") as f:
            if not re.search(rb"(?mi)^Content-Type: multipart/encrypted",
                             f.read()):
                bad.append(path)
    assert len(found) == MESSAGES and not bad, bad[:3]


def test_report(soak):
    """Messages/s, ratios, CPU and processes per delivery; the figures of
    every run must be there"""
    def ratio(a, b):
        return "%.2f" % (a / b) if a and b else "?"

    rate = {m: soak.run(m).summary.get("per_second") for m in MODES}
    rate2 = {m: soak.run(m).summary.get("per_second_second_half")
             for m in MODES}
    lines = ["messages/s: %s (%d connections, %d CPUs)" % (
        ", ".join("%s %s" % (m, rate[m]) for m in MODES), CONNECTIONS,
        os.cpu_count())]
    if "encrypt" in MODES:
        for m in ("plain", "filter"):
            if m in MODES:
                lines.append("encrypt/%s %s, second half %s" % (
                    m, ratio(rate["encrypt"], rate[m]),
                    ratio(rate2["encrypt"], rate2[m])))
    for m in MODES:
        lines.append("%s: %s" % (m, soak.run(m).cost))
    print("\n".join(lines))
    assert all(rate[m] for m in MODES), rate
    assert all("per delivery" in soak.run(m).cost for m in MODES), \
        [soak.run(m).cost for m in MODES]
