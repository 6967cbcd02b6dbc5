# Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
"""Deliveries made the way a hostile user or sender would make them, and
the checks of issue 12 (doc/threat-model.md), for test_hostile_*.py.

A Hostile wraps an Instance (harness/dovecot.py, mode "per-user" or
"lmtp-user"):

    inst = make_module_instance("per-user")
    h = Hostile(inst)               # bin/, recording gpg, settings
    inst.add_user("mallory", key="valid")
    msg = h.message("plain")        # a message with a fresh marker
    d = h.deliver("lmtp-root", ["mallory"], msg)
    h.encrypted_problem(d, "mallory")    # None, or what is wrong
    h.plaintext_files(d)                 # [] if the marker is nowhere

Paths (how a message reaches Dovecot):
  lda         dovecot-lda as the user's own uid (mode per-user)
  lmtp-root   LMTP as Dovecot ships it: the service runs as root and
              lowers its effective uid per recipient (mode per-user)
  lmtp-vmail  LMTP with service lmtp { user = ACCOUNT } (mode
              lmtp-user): one account for all users

Every gpg the plugin runs is the recording wrapper bin/gpg-record
(sieve_encrypt_gpg_binary): it appends "run PID ARGS" and the Uid, Gid,
Groups and Cap* lines of its own /proc/PID/status to logs/gpg-runs, then
execs the real gpg (gpg-record-hang and gpg-record-hang-encrypt exec
tests/svtest/bin/gpg-hang and gpg-hang-encrypt instead). gpgme first runs
it with --version. The recorder runs where gpg runs: started by
sieve-encrypt-gpg-exec after it dropped to the mail user's ids, so the
checks see gpg as the plugin runs it. What Dovecot hands to sendmail
(redirect, report, notify) is kept in outbox/ by bin/sendmail-record.

Each message carries a marker string in its body only: the plaintext.
plaintext_files() looks for it in every file under the instance
directory (homes, Maildirs with their tmp/, keyrings, the store,
mail_temp_dir, base_dir, state, the logs and outbox/); the messages
themselves are never written there.
"""

import base64
import os
import random
import re
import shutil
import subprocess
import time

from . import dovecot
from . import keys as keys_mod
from . import lmtp as lmtp_mod
from . import pgpmime

SVTEST_BIN = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                          "..", "..", "svtest", "bin")
HANG_FAKES = ("gpg-hang", "gpg-hang-encrypt")
DELIVERY_TIMEOUT = 60
STATUS_FIELDS = ("Uid:", "Gid:", "Groups:", "CapInh:", "CapPrm:", "CapEff:",
                 "CapAmb:")

# The recorder: shell built-ins only (its environment may be empty).
# "sh -p": dash, like bash, otherwise sets the effective uid to the real
# one when they differ (real 0, effective the user's under LMTP), which
# would change what gpg runs as.
RECORDER = """#!/bin/sh -p
# Records what it runs as, then execs %(target)s (harness/hostile.py)
PATH=/usr/bin:/bin
export PATH
{
	echo "run $$ $*"
	while IFS= read -r line; do
		case $line in
		Uid:*|Gid:*|Groups:*|CapInh:*|CapPrm:*|CapEff:*|CapAmb:*)
			echo "$line" ;;
		esac
	done </proc/$$/status
} >>%(runs)s 2>/dev/null
exec %(run)s "$@"
"""

SENDMAIL = """#!/bin/sh
# Keeps what Dovecot sends (redirect, report, notify) in %(outbox)s
echo "$*" >%(outbox)s/mail.$$.args
exec /bin/cat >%(outbox)s/mail.$$
"""


class Message:
    """A message of a KIND: its bytes and its marker (the plaintext)"""

    def __init__(self, kind, data, marker):
        self.kind = kind
        self.data = data
        self.marker = marker


class Delivery:
    """What one delivery did. out: "stored", "tempfail", "permfail" or
    "no reply"; code: exit code (lda) or reply code of the first user;
    codes: reply code per user (LMTP); orig: the message as Dovecot got
    it; new: the new message files of the first user (all folders);
    log: the log lines of this delivery; runs: what the gpg recorders
    wrote; prog_ran: what ~/prog.sh recorded; leftovers: processes of
    this delivery that still ran 2 s after it (killed since)."""

    def __init__(self, path, user, msg):
        self.path = path
        self.user = user
        self.msg = msg
        self.orig = msg.data
        self.out = None
        self.code = None
        self.codes = {}
        self.reply = ""
        self.new = []
        self.log = ""
        self.secs = 0.0
        self.runs = ""
        self.prog_ran = ""
        self.leftovers = []

    @property
    def lmtp(self):
        return self.path.startswith("lmtp-")

    def run_pids(self):
        return [int(line.split()[1]) for line in self.runs.splitlines()
                if line.startswith("run ")]

    def outcome(self):
        """One line on the delivery, for failure messages"""
        line = ""
        for pattern in (r"Panic:|Fatal:|Error:", r"encrypt action:"):
            found = [ln for ln in self.log.splitlines()
                     if re.search(pattern, ln)]
            if found:
                line = found[0]
                break
        return "%s %s, %d new file(s); log: %s" % (
            self.out, self.code, len(self.new), line[:220])


def _status(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("State:"):
                    return line.split()[1]
    except OSError:
        return None
    return None


def _cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


class Hostile:
    def __init__(self, instance):
        self.inst = instance
        d = instance.dir
        self.bin = os.path.join(d, "bin")
        self.outbox = os.path.join(d, "outbox")
        self.runs_path = os.path.join(d, "logs", "gpg-runs")
        self.prog_ran = os.path.join(d, "logs", "prog-ran")
        self.list_home = os.path.join(d, "list-home")
        self.count = 0
        self.deliveries = []
        self.cases = {}
        os.mkdir(self.bin)
        os.mkdir(self.list_home, 0o700)
        os.mkdir(self.outbox)
        os.chmod(self.outbox, 0o1777)
        open(self.runs_path, "w").close()
        os.chmod(self.runs_path, 0o666)
        for fake in HANG_FAKES:
            shutil.copy(os.path.join(SVTEST_BIN, fake), self.bin)
        self._recorder("gpg-record", shutil.which("gpg"))
        for fake in HANG_FAKES:
            self._recorder(fake.replace("gpg", "gpg-record", 1),
                           os.path.join(self.bin, fake))
        with open(os.path.join(self.bin, "sendmail-record"), "w") as f:
            f.write(SENDMAIL % {"outbox": self.outbox})
        os.chmod(self.bin, 0o755)
        for name in os.listdir(self.bin):
            os.chmod(os.path.join(self.bin, name), 0o755)
        line = "sendmail_path = %s/sendmail-record\n" % self.bin
        for version in instance.extra:
            instance.extra[version] += line
        instance.set(sieve_encrypt_gpg_binary=self.binary("gpg-record"),
                     sieve_encrypt_timeout="20s")

    def binary(self, name):
        """The path of bin/NAME (gpg-record, gpg-record-hang, ...)"""
        return os.path.join(self.bin, name)

    def _recorder(self, name, target):
        with open(target, "rb") as f:
            script = f.read(2) == b"#!"
        run = "/bin/sh -p %s" % target if script else target
        with open(os.path.join(self.bin, name), "w") as f:
            f.write(RECORDER % {"target": target, "runs": self.runs_path,
                                "run": run})

    def install_prog(self, name):
        """~/prog.sh of user NAME: records that it ran (and as whom) into
        logs/prog-ran.PID, fails. Returns its path."""
        user = self.inst.users[name]
        path = os.path.join(user.home, "prog.sh")
        with open(path, "w") as f:
            f.write("#!/bin/sh\n/usr/bin/id >>%s.$$ 2>&1\nexit 1\n"
                    % self.prog_ran)
        os.chmod(path, 0o755)
        user.chown(path)
        return path

    # --- messages -------------------------------------------------------

    def message(self, kind, *args):
        """A new message of KIND with a marker found nowhere else. KINDs:
        plain; list-id ID (a List-Id: <ID> field); inline-pgp-then-plain
        HOME ADDRESS (an armored PGP MESSAGE made with the key of ADDRESS
        in GnuPG home HOME, then plaintext); pkcs7-signed (opaque
        application/pkcs7-mime without smime-type holding CMS
        signed-data); encrypted-wrong-shape (multipart/encrypted whose
        second part is plaintext)"""
        self.count += 1
        n = self.count
        marker = "HOSTILE-PLAINTEXT-%d-%d-%d" % (n, os.getpid(),
                                                 random.randrange(10 ** 9))
        head = ("From: Sender <sender@example.net>\n"
                "To: <rcpt@example.org>\n"
                "Subject: hostile test %d (%s)\n"
                "Message-ID: <hostile-%d-%d@example.net>\n"
                "MIME-Version: 1.0\n" % (n, kind, n, os.getpid()))
        if kind == "plain":
            text = (head + "Content-Type: text/plain; charset=us-ascii\n\n"
                    "Secret text %s.\nMore secret text.\n" % marker)
        elif kind == "list-id":
            text = (head + "List-Id: Hostile list <%s>\n" % args[0] +
                    "Content-Type: text/plain; charset=us-ascii\n\n"
                    "List text %s.\n" % marker)
        elif kind == "inline-pgp-then-plain":
            armor = keys_mod.gpg(args[0], "--armor", "--trust-model",
                                 "always", "--encrypt", "-r", args[1],
                                 input=b"decoy\n").stdout.decode()
            text = (head + "Content-Type: text/plain; charset=us-ascii\n\n"
                    + armor + "\nAnd now in the clear: %s\n" % marker)
        elif kind == "pkcs7-signed":
            lines = cms_signed_data("Signed, not encrypted: %s" % marker)
            # the base64 line that carries the marker is the plaintext
            marker = lines[1]
            text = (head + "Content-Type: application/pkcs7-mime; "
                    "name=smime.p7m\nContent-Transfer-Encoding: base64\n\n"
                    + "".join(line + "\n" for line in lines))
        elif kind == "encrypted-wrong-shape":
            text = (head + "Content-Type: multipart/encrypted;\n"
                    ' protocol="application/pgp-encrypted"; boundary="b"\n\n'
                    "--b\nContent-Type: application/pgp-encrypted\n\n"
                    "Version: 1\n\n--b\nContent-Type: text/plain\n\n"
                    "Not encrypted at all: %s\n--b--\n" % marker)
        else:
            raise ValueError("unknown message kind %r" % kind)
        return Message(kind, text.encode(), marker)

    # --- delivering -------------------------------------------------------

    def deliver(self, path, users, msg):
        """Deliver MSG to USERS (names; one LMTP transaction for all of
        them, one dovecot-lda run for the first with PATH lda). Returns a
        Delivery; what of it still runs 2 s later is killed (and kept in
        its leftovers)."""
        d = Delivery(path, users[0], msg)
        with open(self.runs_path, "w"):
            pass
        self._remove_prog_ran()
        start = time.monotonic()
        if path == "lda":
            self._deliver_lda(d)
        else:
            self._deliver_lmtp(d, users)
        d.secs = time.monotonic() - start
        with open(self.runs_path, errors="replace") as f:
            d.runs = f.read()
        d.prog_ran = self._read_prog_ran()
        d.leftovers = self._collect_leftovers(d)
        self.deliveries.append(d)
        return d

    def once(self, key, make):
        """The delivery of case KEY, made by MAKE() the first time: the
        tests that check different things of one delivery share it"""
        if key not in self.cases:
            self.cases[key] = make()
        return self.cases[key]

    def _deliver_lda(self, d):
        user = self.inst.users[d.user]
        before = set(dovecot.message_files(user.maildir))
        try:
            r = self.inst.lda(d.user, d.orig, timeout=DELIVERY_TIMEOUT)
        except subprocess.TimeoutExpired:
            d.out, d.code = "permfail", "killed after %d s" % (
                DELIVERY_TIMEOUT)
            d.new = [f for f in dovecot.message_files(user.maildir)
                     if f not in before]
            return
        d.code = r.rc
        d.reply = r.stderr[:300]
        d.out = {0: "stored", 75: "tempfail"}.get(r.rc, "permfail")
        d.new = r.new_files
        d.log = r.log + r.stderr

    def _deliver_lmtp(self, d, users):
        user = self.inst.users[d.user]
        before = set(dovecot.message_files(user.maildir))
        offset = len(self.inst.log())
        d.orig = lmtp_mod.sent_bytes(d.msg.data)
        rcpts = [self.inst.users[u].address for u in users]
        replies = []
        try:
            with self.inst.lmtp(timeout=DELIVERY_TIMEOUT) as client:
                replies = client.send(d.msg.data, rcpts)
        except Exception as e:  # a dropped connection, a timeout
            d.reply = "%s: %s" % (type(e).__name__, e)
        for r in replies:
            d.codes[r.rcpt.split("@")[0]] = r.code
            if r.rcpt == user.address:
                d.reply = r.text
        d.code = d.codes.get(d.user)
        if d.code is None:
            d.out = "no reply"
        else:
            d.out = {2: "stored", 4: "tempfail"}.get(d.code // 100,
                                                     "permfail")
        # the log process writes asynchronously
        time.sleep(0.3)
        d.log = self.inst.log()[offset:]
        d.new = [f for f in dovecot.message_files(user.maildir)
                 if f not in before]

    def _remove_prog_ran(self):
        logs = os.path.dirname(self.prog_ran)
        for name in os.listdir(logs):
            if name.startswith("prog-ran."):
                os.unlink(os.path.join(logs, name))

    def _read_prog_ran(self):
        logs = os.path.dirname(self.prog_ran)
        text = ""
        for name in sorted(os.listdir(logs)):
            if name.startswith("prog-ran."):
                with open(os.path.join(logs, name), errors="replace") as f:
                    text += "%s: %s" % (name, f.read() or "(empty)\n")
        return text

    def sent_count(self):
        """The number of messages sendmail got so far"""
        return len([n for n in os.listdir(self.outbox)
                    if not n.endswith(".args")])

    # --- processes --------------------------------------------------------

    def _alive(self, pid):
        """PID runs (not a zombie) as one of ours: a gpg, a fake gpg (sh,
        sleep) or a gpg-agent"""
        state = _status(pid)
        if state is None or state == "Z":
            return False
        return re.search("gpg|sleep", _cmdline(pid)) is not None

    def leftovers(self, d):
        """The gpg processes of delivery D that still run, and any
        process with a user's home on its command line (a gpg-agent)"""
        found = ["%d %s" % (pid, _cmdline(pid)[:80])
                 for pid in d.run_pids() if self._alive(pid)]
        homes = os.path.join(self.inst.dir, "home") + "/"
        out = subprocess.run(["ps", "-eo", "pid=,stat=,args="],
                             stdout=subprocess.PIPE).stdout.decode(
                                 errors="replace")
        for line in out.splitlines():
            fields = line.split(None, 2)
            if len(fields) == 3 and homes in line and \
                    not fields[1].startswith("Z"):
                found.append("%s %s" % (fields[0], fields[2][:80]))
        return found

    def _collect_leftovers(self, d):
        """What of D still runs after at most 2 s (a killed gpg may take
        a moment to go); killed then: it must not spoil later checks"""
        for _ in range(20):
            left = self.leftovers(d)
            if not left:
                return []
            time.sleep(0.1)
        for line in left:
            try:
                os.kill(int(line.split()[0]), 9)
            except (ProcessLookupError, ValueError):
                pass
        return left

    # --- what was stored --------------------------------------------------

    def verify(self, d, stored_path, mode, gnupghome=None):
        """pgpmime.verify of D's original against STORED_PATH (LMTP: with
        the trace fields LMTP prepends); raises pgpmime.Mismatch"""
        with open(stored_path, "rb") as f:
            stored = f.read()
        trace = set(pgpmime.LMTP_TRACE_FIELDS) if d.lmtp else set()
        return pgpmime.verify(d.orig, stored, gnupghome, mode, trace,
                              d.lmtp, None)

    def recipients(self, stored_path):
        """The key ids of the public-key encrypted session key packets of
        the (first) armored message in STORED_PATH, sorted (0000... for a
        hidden recipient)"""
        proc = keys_mod.gpg(self.list_home, "--list-packets",
                            input=armor(stored_path), check=False)
        ids = re.findall(r"^:pubkey enc packet:.* keyid ([0-9A-Fa-f]+)",
                         proc.stdout.decode(errors="replace"), re.M)
        return sorted(set(i.upper() for i in ids))

    def recipients_problem(self, name, stored_path):
        """None if the session key of STORED_PATH is encrypted to user
        NAME's encryption subkeys and nobody else, else the problem"""
        want = sorted(set(i.upper()
                          for i in self.inst.users[name].key.subkey_ids()))
        got = self.recipients(stored_path)
        if got != want:
            return ("encrypted to [%s], expected exactly [%s] (the user's "
                    "encryption subkey)" % (" ".join(got), " ".join(want)))
        return None

    def encrypted_to_problem(self, d, name, stored_path):
        """None if STORED_PATH is the PGP/MIME form of D's original,
        decrypts with NAME's secret key to it and is encrypted to NAME's
        encryption subkeys only; else the problem"""
        try:
            self.verify(d, stored_path, "encrypted",
                        self.inst.users[name].secret_home)
        except pgpmime.Mismatch as e:
            return "stored message is not the encrypted original: %s" % e
        return self.recipients_problem(name, stored_path)

    def decrypts_to_body_problem(self, d, name, stored_path):
        """For messages that the verifier takes for encrypted already:
        None if STORED_PATH is multipart/encrypted, holds an armored
        message that NAME's key decrypts to an entity whose body is the
        body of D's original (line ends aside), encrypted to NAME only;
        else the problem"""
        with open(stored_path, "rb") as f:
            stored = f.read()
        if not re.search(rb"(?mi)^Content-Type: multipart/encrypted",
                         stored):
            return "stored message is not multipart/encrypted"
        proc = keys_mod.gpg(self.inst.users[name].secret_home, "--decrypt",
                            input=armor(stored_path), check=False)
        got = _body(proc.stdout)
        if proc.returncode != 0 or got is None:
            return "decryption failed"
        if got != _body(d.orig):
            return "decrypted entity does not hold the original body"
        return self.recipients_problem(name, stored_path)

    def log_errors(self, d):
        """The Error lines of D for its user, and any Fatal or Panic
        line"""
        address = re.escape(self.inst.users[d.user].address)
        pattern = re.compile(r": (Fatal|Panic): |\(%s\)[^ ]*: Error: "
                             % address)
        return [ln for ln in d.log.splitlines() if pattern.search(ln)]

    # --- expectations: None if met, else the problem ----------------------

    def encrypted_problem(self, d, name, light=False):
        """Stored (exit 0 / 2xx), exactly one new message, the encrypted
        original (light: decrypts_to_body_problem) to NAME's key only,
        with no Error, Fatal or Panic logged"""
        if d.out != "stored":
            return "not stored: %s" % d.outcome()
        if len(d.new) != 1:
            return "%d messages stored" % len(d.new)
        check = (self.decrypts_to_body_problem if light
                 else self.encrypted_to_problem)
        problem = check(d, name, d.new[0])
        if problem:
            return "%s; %s" % (problem, d.outcome())
        if self.log_errors(d):
            return "stored encrypted, but logged: %s" % d.outcome()
        return None

    def policy_problem(self, d, policy, error_re):
        """D failed as sieve_encrypt_on_failure = POLICY says: keep ->
        stored (exit 0 / 2xx), one new message, the original; tempfail
        -> exit 75 / 4xx, nothing stored. Either way an Error line
        matching ERROR_RE and no Panic."""
        if "Panic:" in d.log:
            return "Panic: %s" % d.outcome()
        if policy == "keep":
            if d.out != "stored" or len(d.new) != 1:
                return "expected the original stored: %s" % d.outcome()
            try:
                self.verify(d, d.new[0], "plain")
            except pgpmime.Mismatch as e:
                return "stored, but not the original: %s" % e
        elif policy == "tempfail":
            if d.out != "tempfail" or d.new:
                return "expected a temporary failure: %s" % d.outcome()
        else:
            raise ValueError("unknown policy %r" % policy)
        if not any(re.search(error_re, ln) for ln in self.log_errors(d)):
            return "no Error line matching /%s/: %s" % (error_re,
                                                        d.outcome())
        return None

    def encrypted_or_policy_problem(self, d, name, policy, error_re):
        """Either stored encrypted to NAME's key only (as a success: one
        new message, no Error) or a failure per POLICY; never stored
        otherwise"""
        if d.out == "stored" and len(d.new) == 1 and not self.log_errors(d):
            problem = self.encrypted_to_problem(d, name, d.new[0])
            if problem:
                return "stored as a success, but %s" % problem
            return None
        problem = self.policy_problem(d, policy, error_re)
        if problem:
            return ("neither encrypted to the user's key nor a failure "
                    "per policy: %s" % problem)
        return None

    def encrypted_or_tempfail_problem(self, d, name):
        """The original is nowhere in NAME's mailbox: either stored
        encrypted to NAME's key only (one new message in any folder) or
        a temporary failure (nothing stored, an Error logged); no
        Panic"""
        if d.out == "stored":
            if len(d.new) != 1:
                return "%d messages stored: %s" % (len(d.new), d.outcome())
            problem = self.encrypted_to_problem(d, name, d.new[0])
            if problem:
                return "%s; %s" % (problem, d.outcome())
        elif d.out == "tempfail":
            if d.new:
                return "temporary failure, but stored: %s" % d.outcome()
        else:
            return ("neither stored nor a temporary failure: %s"
                    % d.outcome())
        if "Panic:" in d.log:
            return "Panic: %s" % d.outcome()
        if d.out == "tempfail" and not self.log_errors(d):
            return "temporary failure without an Error: %s" % d.outcome()
        return None

    def plaintext_files(self, d, allowed=()):
        """The files under the instance directory that hold D's marker,
        but the ALLOWED ones (the original kept by policy); relative
        paths"""
        marker = d.msg.marker.encode()
        found = []
        for root, dirs, files in os.walk(self.inst.dir):
            for name in files:
                path = os.path.join(root, name)
                if path in allowed or not os.path.isfile(path) or \
                        os.path.islink(path):
                    continue
                try:
                    with open(path, "rb") as f:
                        data = f.read()
                except OSError:
                    continue
                if marker in data:
                    found.append(os.path.relpath(path, self.inst.dir))
        return found

    def creds_problem(self, d, name, extra_groups=()):
        """None if every recorded gpg run of D had real = effective =
        saved (= file system) uid and gid of user NAME, no supplementary
        group but NAME's gid (and, for a shared account, the account's
        own groups, and EXTRA_GROUPS) and no capability (inheritable,
        permitted, effective, ambient); else the problem"""
        user = self.inst.users[name]
        ok = {user.gid, *extra_groups}
        if self.inst.mode != "per-user":
            ok |= set(os.getgrouplist(self.inst.account.pw_name,
                                      self.inst.account.pw_gid))
        problems, runs, run, args, seen = [], 0, None, "", set()

        def bad(what):
            if run not in seen:
                seen.add(run)
                problems.append("run %s (%s): %s" % (run, args, what))
        for line in d.runs.splitlines():
            f = line.split()
            if not f:
                continue
            if f[0] == "run":
                runs += 1
                run = f[1]
                args = "--version" if "--version" in line \
                    else " ".join(f[2:5])
            elif f[0] in ("Uid:", "Gid:"):
                want = user.uid if f[0] == "Uid:" else user.gid
                if any(int(x) != want for x in f[1:5]):
                    bad("%s %s (want %d)" % (f[0][:-1], "/".join(f[1:5]),
                                             want))
            elif f[0] == "Groups:":
                if any(int(g) not in ok for g in f[1:]):
                    bad(line.strip())
            elif f[0] in ("CapInh:", "CapPrm:", "CapEff:", "CapAmb:"):
                if f[1].strip("0"):
                    bad("%s %s" % (f[0][:-1], f[1]))
        if runs == 0:
            return "no gpg run recorded"
        return "; ".join(problems[:3]) or None

    def panics(self, exclude=None):
        """The Panic and Fatal lines of all deliveries so far (and of
        the instance log), but those containing EXCLUDE"""
        text = self.inst.log() + "".join(d.log for d in self.deliveries
                                         if not d.lmtp)
        return [ln for ln in text.splitlines()
                if re.search("Panic:|Fatal:", ln)
                and not (exclude and exclude in ln)]

    def all_leftovers(self):
        """What was left running by any delivery so far"""
        return ["%s %s: %s" % (d.path, d.user, "; ".join(d.leftovers[:2]))
                for d in self.deliveries if d.leftovers]


def armor(path):
    """The first armored PGP MESSAGE block of the file at PATH"""
    with open(path, "rb") as f:
        data = f.read()
    m = re.search(rb"(?ms)^-----BEGIN PGP MESSAGE-----\r?$.*?"
                  rb"^-----END PGP MESSAGE-----\r?$", data)
    return m.group(0) + b"\n" if m else b""


def _body(data):
    data = data.replace(b"\r\n", b"\n")
    i = data.find(b"\n\n")
    return data[i + 2:] if i >= 0 else None


def _tlv(tag, body):
    n = len(body)
    if n < 0x80:
        size = bytes([n])
    else:
        raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
        size = bytes([0x80 | len(raw)]) + raw
    return bytes([tag]) + size + body


def _oid(text):
    parts = [int(p) for p in text.split(".")]
    out = bytes([40 * parts[0] + parts[1]])
    for p in parts[2:]:
        chunk = [p & 0x7f]
        p >>= 7
        while p:
            chunk.insert(0, 0x80 | (p & 0x7f))
            p >>= 7
        out += bytes(chunk)
    return _tlv(0x06, out)


def cms_signed_data(text):
    """Base64 lines (76 a line) of a DER CMS ContentInfo of type
    signed-data (1.2.840.113549.1.7.2) whose encapsulated content is TEXT
    three times, in the clear, as in every signed-data"""
    content = text.encode() * 3
    encap = _tlv(0x30, _oid("1.2.840.113549.1.7.1") +
                 _tlv(0xa0, _tlv(0x04, content)))
    signed = _tlv(0x30, _tlv(0x02, b"\x01") + _tlv(0x31, b"") + encap +
                  _tlv(0x31, b""))
    info = _tlv(0x30, _oid("1.2.840.113549.1.7.2") + _tlv(0xa0, signed))
    data = base64.b64encode(info).decode()
    return [data[i:i + 76] for i in range(0, len(data), 76)]
