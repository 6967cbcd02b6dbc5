# Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
"""The fault matrix of issue 6 through the real dovecot-lda, for the
faults that the policy tests do not cover (was tests/e2e/test-faults.sh).

  keyring     unreadable (mode 000; owned by root, 0700; pubring.kbx 000),
              not writable (with and without trustdb.gpg; user- and
              root-owned), a file instead of a directory; damaged:
              pubring.kbx and pubring.gpg of random bytes, truncated, a
              directory, empty or a FIFO (pubring.kbx), mode 000
              (pubring.gpg), also with the test form (a damaged keyring
              is a failure, never "no key"); a legacy pubring.gpg alone
  gpg         hit by a signal from outside half-way through a large
              message (SIGKILL, SIGTERM, SIGSTOP), then a normal delivery;
              writing other output than asked for (what encrypt-to,
              hidden-encrypt-to, group, armor, dry-run make it write)
  storage     disk full (the Maildir on a 1 MB tmpfs, a 2 MB message),
              mail_temp_dir full, Dovecot's quota_max_mail_size and storage
              quota (the "configured limit"; on 2.3 and, in its own
              settings, on 2.4)
  messages    NUL bytes, a 1 MB header (many fields; one 1 MB line), a
              missing final MIME boundary, raw 8bit UTF-8 and Latin-1 in
              header fields, CR-only line ends, an empty body, 8 MB
              (tests/messages/2*.eml, the large ones made at run time),
              delivered with encrypt and checked with the verifier

Each fault is delivered with sieve_encrypt_on_failure = keep (the original
is stored, an error logged) and = tempfail (exit 75, nothing stored), with
the command form of encrypt. Every delivery is checked (expect()):
dovecot-lda's exit code, what is stored (nothing / the original / the
encrypted form, with the verifier), what is logged, no message text in the
log, nothing left in the Maildir's tmp/ or in mail_temp_dir, no new file
in the home directories outside the Maildirs (keyring lock files!; but a
gpg killed while it runs cannot remove the temporary file of its dotlock,
".#lk0x...": gpg's behaviour, accepted and counted in a "note:" line), no
process left running and no zombie: every delivery runs under
tests/tools/subreaper.py, so that every gpg that gpgme double-forks is
reaped, and counted, by it; what still runs 5 s after dovecot-lda ended
is killed and logged by it ("killed"), which fails the check. A record
line per delivery (printed, and in every failure message) gives: exit
code, what was stored, the processes reaped (and how they ended), the log
line.

Runs as root (the tmpfs mounts, root-owned keyrings)."""

import base64
import contextlib
import os
import re
import shutil
import string
import subprocess
import sys

import pytest

from conftest import TOP

from harness import dovecot, keys, pgpmime

SUBREAPER = os.path.join(TOP, "tests", "tools", "subreaper.py")
MESSAGES = os.path.join(TOP, "tests", "messages")

MARKER = "FAULT-BODY-MARKER-%d" % os.getpid()
MSG = ("From: Bob <bob@example.net>\n"
       "To: Alice <alice@example.org>\n"
       "Subject: fault test\n"
       "Message-ID: <faults-%d@example.net>\n"
       "Content-Type: text/plain; charset=us-ascii\n"
       "\n"
       "Secret text %s.\n" % (os.getpid(), MARKER)).encode()

# Encrypt to the envelope recipient (alice or carol), the command form and
# the test form
COMMAND_FORM = '''require ["vnd.x.encrypt", "envelope", "variables"];
if envelope :matches "to" "*" { encrypt "${1}"; }'''
TEST_FORM = '''require ["vnd.x.encrypt", "envelope", "variables"];
if envelope :matches "to" "*" { if encrypt "${1}" { } }'''

ENCRYPTED = "encrypted message to key"

# gpg's own state: random_seed, written whenever gpg used its RNG
GPG_STATE_RE = re.compile(r"/\.gnupg/random_seed$")


def mkbig(size):
    """A base64 message of about SIZE bytes with the marker"""
    head = ("From: Bob <bob@example.net>\nTo: Alice <alice@example.org>\n"
            "Subject: large fault test\nMessage-ID: <big-%d@example.net>\n"
            "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n"
            "--b\nContent-Type: text/plain\n\n%s\n--b\n"
            "Content-Type: application/octet-stream\n"
            "Content-Transfer-Encoding: base64\n\n" % (size, MARKER)).encode()
    raw = os.urandom(max(0, (size - len(head) - 10) * 3 // 4))
    return head + base64.encodebytes(raw) + b"--b--\n"


# --- the instance ---------------------------------------------------------


class Faults:
    """The module's instance, alice's pristine keyring, mail_temp_dir, and
    the delivery counter"""

    def __init__(self, inst):
        self.inst = inst
        self.alice = inst.users["alice"]
        self.carol = inst.users["carol"]
        self.gnupg_a = self.alice.gnupghome
        self.pristine = os.path.join(inst.dir, "gnupg-alice.orig")
        subprocess.run(["cp", "-a", self.gnupg_a, self.pristine],
                       check=True)
        # mail_temp_dir of every delivery: must be empty after each
        self.mailtmp = os.path.join(inst.dir, "mail-tmp-faults")
        os.mkdir(self.mailtmp, 0o700)
        self.alice.chown(self.mailtmp)
        self.bin = os.path.join(inst.dir, "bin")
        os.mkdir(self.bin, 0o755)
        self.n = 0
        # signal_delivery(): (signal, policy) -> what it found
        self.signalled = {}

    def configure(self, **settings):
        """Replace the plugin settings of the test with SETTINGS"""
        self.inst.settings = dict(settings)
        self.inst.write_config()

    def restore_keyring(self):
        """alice's keyring as it was made"""
        subprocess.run(["chmod", "-R", "u+rwX", self.gnupg_a],
                       stderr=subprocess.DEVNULL)
        if os.path.isdir(self.gnupg_a) and not os.path.islink(self.gnupg_a):
            shutil.rmtree(self.gnupg_a)
        elif os.path.lexists(self.gnupg_a):
            os.unlink(self.gnupg_a)
        subprocess.run(["cp", "-a", self.pristine, self.gnupg_a],
                       check=True)

    @contextlib.contextmanager
    def test_form(self):
        """The global script in the test form ("if encrypt")"""
        self.inst.global_script(TEST_FORM)
        try:
            yield
        finally:
            self.inst.global_script(COMMAND_FORM)

    def home_snapshot(self):
        """Every file and directory of alice's and carol's homes outside
        their Maildirs"""
        found = set()
        for user in (self.alice, self.carol):
            for root, dirs, files in os.walk(user.home):
                if root == user.home and "Maildir" in dirs:
                    dirs.remove("Maildir")
                found.add(root)
                found.update(os.path.join(root, f) for f in files + dirs)
        return found


@pytest.fixture(scope="module")
def faults(make_module_instance):
    inst = make_module_instance()
    inst.add_user("alice", key="valid")
    inst.add_user("carol", key="valid")
    inst.global_script(COMMAND_FORM)
    inst.kill_agents()
    return Faults(inst)


@pytest.fixture
def keyring(faults):
    """alice's keyring is restored after the test"""
    yield faults
    faults.restore_keyring()


# --- one delivery ---------------------------------------------------------


class Result:
    """What one delivery under the subreaper did"""

    def __init__(self, rc, new_files, log, stderr, reaped, home_before,
                 maildir, mailtmp, message, user):
        self.rc = rc
        self.new_files = new_files
        self.log = log
        self.stderr = stderr
        self.reaped = reaped
        self.home_before = home_before
        self.maildir = maildir
        self.mailtmp = mailtmp
        self.message = message
        self.user = user
        self.stored_what = "?"

    def gpg_runs(self):
        """The processes the reaper reaped, e.g. "gpg exit=0 x2" """
        counts = {}
        for line in self.reaped:
            f = line.split()
            if f[0] == "reaped":
                key = "%s %s" % (f[2], f[3])
            elif f[0] == "killed":
                key = "%s KILLED-AT-EXIT" % f[2]
            else:
                continue
            counts[key] = counts.get(key, 0) + 1
        return ", ".join(k + (" x%d" % n if n > 1 else "")
                         for k, n in counts.items()) or "none"

    def log_line(self):
        """The line of the delivery log that tells what happened"""
        def strip(line):
            return re.sub(r"^[A-Z][a-z]* [ 0-9]* [0-9:]* ", "", line)[:230]
        lines = self.log.splitlines()
        for line in lines:
            if (re.search(r"Panic:|Fatal:|Error:|rejected", line) and
                    not re.search(r"Execution of script .* "
                                  r"(failed|was aborted)", line)):
                return strip(line)
        for line in lines:
            if "encrypt action:" in line:
                return strip(line)
        return strip(lines[-1]) if lines else ""

    def record(self):
        return "exit %d; stored: %s; processes: %s; log: %s" % (
            self.rc, self.stored_what, self.gpg_runs(), self.log_line())


@pytest.fixture(scope="module")
def bigs():
    """The large messages, made once"""
    return {"8m": mkbig(8000000), "2m": mkbig(2000000),
            "900k": mkbig(900000)}


def deliver(faults, message, *options, user="alice", mailtmp=None):
    """Deliver MESSAGE (bytes) to USER with dovecot-lda under a subreaper
    (its log: what it reaped, and killed), with a log and mail_temp_dir of
    the delivery's own"""
    inst = faults.inst
    u = inst.users[user]
    faults.n += 1
    log = os.path.join(inst.dir, "logs", "case-%d.log" % faults.n)
    reaplog = os.path.join(inst.dir, "reaper-%d.log" % faults.n)
    open(log, "w").close()
    u.chown(log)
    mailtmp = mailtmp or faults.mailtmp
    before = set(dovecot.message_files(u.maildir))
    home_before = faults.home_snapshot()
    argv = inst.lda_argv(u, "-o", "log_path=%s" % log,
                         "-o", "mail_temp_dir=%s" % mailtmp, *options)
    # from a file, as an MTA may hand it: seekable, so that dovecot-lda
    # needs no copy of its own in mail_temp_dir
    msgfile = os.path.join(inst.dir, "case-%d.eml" % faults.n)
    with open(msgfile, "wb") as f:
        f.write(message)
    with open(msgfile, "rb") as stdin:
        proc = subprocess.run(
            [sys.executable, SUBREAPER, reaplog, "--", *argv], stdin=stdin,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=inst._env(USER=u.address, HOME=u.home), timeout=600)
    os.unlink(msgfile)
    new = [f for f in dovecot.message_files(u.maildir) if f not in before]
    with open(log, errors="replace") as f:
        text = f.read()
    with open(reaplog) as f:
        reaped = f.read().splitlines()
    return Result(proc.returncode, new, text,
                  proc.stderr.decode(errors="replace"), reaped, home_before,
                  u.maildir, mailtmp, message, u)


def split_message(data):
    i = data.find(b"\n\n")
    return (data, b"") if i < 0 else (data[:i + 1], data[i + 2:])


def header_fields(header):
    out = []
    for line in header.splitlines(keepends=True):
        if line[:1] in (b" ", b"\t") and out:
            out[-1] += line
        else:
            out.append(line)
    return out


def is_content(field):
    return field.split(b":", 1)[0].lower().startswith(b"content-")


def verify_big(original, stored, home):
    """A lighter check of the encrypted form, for the large messages made
    by mkbig (LF, no folded fields): the full verifier takes minutes on a
    body of several MB. Outer header = the original's other fields, then
    the multipart/encrypted ones; the decrypted payload = the original's
    Content-* fields, the blank line and the body, byte for byte."""
    oh, ob = split_message(original)
    sh, sb = split_message(stored)
    of, sf = header_fields(oh), header_fields(sh)
    other = [f for f in of if not is_content(f)]
    if sf[:len(other)] != other:
        raise pgpmime.Mismatch("outer header is not the original's other "
                               "fields")
    if not b"".join(sf[len(other):]).startswith(
            b"Content-Type: multipart/encrypted;"):
        raise pgpmime.Mismatch("no multipart/encrypted Content-Type after "
                               "them")
    begin = sb.find(b"-----BEGIN PGP MESSAGE-----")
    end = sb.find(b"-----END PGP MESSAGE-----\n")
    if begin < 0 or end < begin:
        raise pgpmime.Mismatch("no complete ASCII armor")
    proc = subprocess.run(["gpg", "--homedir", home, "--batch", "--no-tty",
                           "--quiet", "--decrypt"], input=sb[begin:end + 26],
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                          timeout=120)
    expected = b"".join(f for f in of if is_content(f)) + b"\n" + ob
    if proc.returncode != 0 or proc.stdout != expected:
        raise pgpmime.Mismatch(
            "decrypted payload (%d bytes, gpg exit %d) is not the original "
            "entity (%d bytes)" % (len(proc.stdout), proc.returncode,
                                   len(expected)))
    return "encrypted, %d bytes payload (light check)" % len(expected)


def check_stored(r, want, big):
    """None, or what is wrong with what R stored; sets r.stored_what"""
    n = len(r.new_files)
    r.stored_what = "%d message(s)" % n
    if want == "none":
        if n != 0:
            return "%d message(s) stored" % n
        r.stored_what = "nothing"
        return None
    if n != 1:
        return "%d message(s) stored" % n
    with open(r.new_files[0], "rb") as f:
        stored = f.read()
    try:
        if want == "plain":
            pgpmime.verify(r.message, stored, None, "plain", set(), False,
                           None)
            r.stored_what = "the original (%d bytes)" % len(stored)
        elif big:
            r.stored_what = "encrypted (%s)" % verify_big(
                r.message, stored, r.user.secret_home)
        else:
            r.stored_what = "encrypted (%s)" % pgpmime.verify(
                r.message, stored, r.user.secret_home, "encrypted", set(),
                False, None)
    except pgpmime.Mismatch as e:
        return ("stored message is not the original: %s" % e
                if want == "plain" else "mismatch: %s" % e)
    return None


def check_clean(faults, r, stray_ok):
    """None, or what the delivery left behind"""
    tmp = os.path.join(r.maildir, "tmp")
    if os.path.isdir(tmp) and os.listdir(tmp):
        return "left in the Maildir's tmp/: %s" % sorted(os.listdir(tmp))[:3]
    if os.listdir(r.mailtmp):
        return "left in mail_temp_dir: %s" % sorted(os.listdir(r.mailtmp))[:3]
    stray = sorted(p for p in faults.home_snapshot() - r.home_before
                   if not GPG_STATE_RE.search(p) and
                   not (stray_ok and re.search(stray_ok, p)))
    if stray:
        return "new file(s) outside the Maildir: %s" % stray[:3]
    # the subreaper killed what still ran 5 s after dovecot-lda ended;
    # it leaves no zombie (it reaps every orphan at once, and a
    # descendant whose parent lives is found with the parent)
    killed = [line for line in r.reaped if line.startswith("killed")]
    if killed:
        return "processes left running: %s" % "; ".join(killed[:3])
    left = faults.inst.leftover_processes()
    if left:
        return "processes left running: %s" % "; ".join(left[:3])
    return None


def problem_of(faults, r, rc, stored, pattern, stray_ok=None, big=False):
    """None, or what is wrong with the delivery R: exit code RC, STORED
    ("none", "plain", "encrypted"), PATTERN (a regular expression,
    searched line by line) in the log, no message text in the log,
    nothing left behind"""
    if r.rc != rc:
        problem = "dovecot-lda exit code %d, expected %d" % (r.rc, rc)
    else:
        problem = check_stored(r, stored, big)
    if problem is None and pattern and not re.search(pattern, r.log, re.M):
        problem = "log lacks /%s/" % pattern
    if problem is None and (MARKER in r.log or MARKER in r.stderr):
        problem = "message content in the log"
    if problem is None:
        problem = check_clean(faults, r, stray_ok)
    return problem


def expect(faults, r, rc, stored, pattern, stray_ok=None, big=False):
    """Assert that problem_of() finds nothing; print the record line"""
    problem = problem_of(faults, r, rc, stored, pattern, stray_ok, big)
    print("    " + r.record())
    assert problem is None, "%s\n    %s" % (problem, r.record())


POLICIES = ["keep", "tempfail"]


def policy_case(faults, policy, message, keep_stored, pattern, *options,
                settings=None, stray_ok=None, big=False):
    """Deliver MESSAGE with on_failure = POLICY: keep -> exit 0,
    KEEP_STORED; tempfail -> exit 75, nothing stored"""
    faults.configure(**dict(settings or {}, sieve_encrypt_on_failure=policy))
    try:
        r = deliver(faults, message, *options)
    finally:
        faults.configure()
    if policy == "keep":
        expect(faults, r, 0, keep_stored, pattern, stray_ok, big)
    else:
        expect(faults, r, 75, "none", pattern, stray_ok, big)
    return r


# --- baseline -------------------------------------------------------------


def test_baseline_encrypted_no_gpg_agent(faults):
    """A working keyring -> encrypted, no gpg-agent started (it would be
    left running)"""
    faults.configure()
    r = deliver(faults, MSG)
    expect(faults, r, 0, "encrypted", ENCRYPTED)


# --- keyring faults -------------------------------------------------------

CANNOT = ("encrypt action: (cannot|failed to) encrypt message to "
          ".alice@example.org.")


def _dir_mode_000(f):
    os.chmod(f.gnupg_a, 0o000)


def _dir_owned_by_root(f):
    os.chown(f.gnupg_a, 0, 0)
    os.chmod(f.gnupg_a, 0o700)


def _kbx_mode_000(f):
    os.chmod(os.path.join(f.gnupg_a, "pubring.kbx"), 0o000)


def _gnupghome_is_a_file(f):
    shutil.rmtree(f.gnupg_a)
    with open(f.gnupg_a, "w") as out:
        out.write("not a keyring\n")
    f.alice.chown(f.gnupg_a)


UNREADABLE = {
    "keyring-directory-mode-000": (_dir_mode_000, CANNOT),
    "keyring-directory-owned-by-root-mode-0700": (_dir_owned_by_root,
                                                  CANNOT),
    "pubring.kbx-mode-000": (
        _kbx_mode_000,
        "cannot read keyring .*/pubring.kbx: Permission denied"),
    "gnupghome-is-a-file": (_gnupghome_is_a_file,
                            "keyring .* is not a directory"),
}


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("fault", list(UNREADABLE))
def test_unreadable_keyring(keyring, fault, policy):
    """keep: the original stored, the error logged; tempfail: exit 75,
    nothing stored"""
    damage, pattern = UNREADABLE[fault]
    damage(keyring)
    policy_case(keyring, policy, MSG, "plain", pattern)


# gpg reads nothing in the keyring directory but the keyring file: no lock
# files, no trustdb.gpg (--lock-never, --trust-model always), no agent

def _dir_0500(f):
    os.chmod(f.gnupg_a, 0o500)


def _owned_by_root_0755(f):
    for root, dirs, files in os.walk(f.gnupg_a):
        os.chown(root, 0, 0)
        for name in files:
            os.chown(os.path.join(root, name), 0, 0)
            os.chmod(os.path.join(root, name), 0o644)
    os.chmod(f.gnupg_a, 0o755)


def _dir_0500_no_trustdb(f):
    os.unlink(os.path.join(f.gnupg_a, "trustdb.gpg"))
    os.chmod(f.gnupg_a, 0o500)


NOT_WRITABLE = {
    "keyring-directory-0500": _dir_0500,
    "keyring-owned-by-root-0755-files-0644": _owned_by_root_0755,
    "keyring-directory-0500-no-trustdb.gpg": _dir_0500_no_trustdb,
}


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("fault", list(NOT_WRITABLE))
def test_not_writable_keyring_encrypted(keyring, fault, policy):
    """A keyring that gpg cannot write to: encrypted under either
    policy"""
    NOT_WRITABLE[fault](keyring)
    keyring.configure(sieve_encrypt_on_failure=policy)
    r = deliver(keyring, MSG)
    keyring.configure()
    expect(keyring, r, 0, "encrypted", ENCRYPTED)


# The test form ("if encrypt"): an unreadable keyring is a failure, subject
# to the policy like any other, not "this user has no key" (which is false
# without an error: the way to skip users who did not opt in)
TEST_FORM_UNREADABLE = {
    "gnupghome-is-a-file": (_gnupghome_is_a_file, "is not a directory"),
    "pubring.kbx-mode-000": (
        _kbx_mode_000,
        "Error: .*cannot read keyring .*/pubring.kbx: Permission denied"),
    "keyring-directory-mode-000": (
        _dir_mode_000,
        "Error: .*cannot read keyring directory .*: Permission denied"),
}


@pytest.mark.parametrize("fault", list(TEST_FORM_UNREADABLE))
def test_unreadable_keyring_test_form_tempfail(keyring, fault):
    """tempfail, test form: exit 75, nothing stored"""
    damage, pattern = TEST_FORM_UNREADABLE[fault]
    damage(keyring)
    with keyring.test_form():
        keyring.configure(sieve_encrypt_on_failure="tempfail")
        r = deliver(keyring, MSG)
        keyring.configure()
    expect(keyring, r, 75, "none", pattern)


# --- damaged keyrings -----------------------------------------------------

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


class Legacy:
    """alice's public key in a legacy keyring (pubring.gpg), and where
    the encryption subkey's binding signature starts, plus 20 bytes: a
    keyring cut there lists the subkey as invalid (gpg 2.2 and 2.4)"""

    def __init__(self, faults):
        home = os.path.join(faults.inst.dir, "gnupg-alice-legacy")
        os.mkdir(home, 0o700)
        exported = keys.gpg(faults.alice.secret_home, "--export",
                            "alice@example.org").stdout
        self.pubring = os.path.join(home, "pubring.gpg")
        keys.gpg(home, "--no-default-keyring", "--keyring",
                 "gnupg-ring:" + self.pubring, "--import", input=exported)
        keys.kill_agent(home)
        packets = subprocess.run(
            ["gpg", "--homedir", home, "--batch", "--list-packets",
             self.pubring], stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL).stdout.decode()
        self.cut = None
        subkey = False
        for line in packets.splitlines():
            m = re.match(r"# off=(\d+) \S+ tag=(\d+)", line)
            if not m:
                continue
            if m.group(2) == "14":
                subkey = True
            elif subkey and m.group(2) == "2":
                self.cut = int(m.group(1)) + 20
                break
        assert self.cut, "no subkey signature in the legacy keyring"
        with open(self.pubring, "rb") as f:
            self.data = f.read()


@pytest.fixture(scope="module")
def legacy(faults):
    return Legacy(faults)


def garbage():
    """4 KB of random bytes (after a text, so that gpg's lenient parser
    does not read them as packets it skips: then it finds no key)"""
    return b"GARBAGE" + os.urandom(4096)


def _write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def _read(path, n=None):
    with open(path, "rb") as f:
        return f.read(n) if n is not None else f.read()


DAMAGES = {
    "kbx-garbage": lambda f, l, g: _write(g + "/pubring.kbx", garbage()),
    "kbx-truncated": lambda f, l, g: _write(
        g + "/pubring.kbx", _read(f.pristine + "/pubring.kbx", 300)),
    "kbx-empty": lambda f, l, g: _write(g + "/pubring.kbx", b""),
    "kbx-directory": lambda f, l, g: os.mkdir(g + "/pubring.kbx"),
    "kbx-fifo": lambda f, l, g: os.mkfifo(g + "/pubring.kbx"),
    "gpg-legacy": lambda f, l, g: _write(g + "/pubring.gpg", l.data),
    "gpg-twice": lambda f, l, g: _write(g + "/pubring.gpg", l.data * 2),
    "gpg-garbage": lambda f, l, g: _write(g + "/pubring.gpg", garbage()),
    "gpg-truncated": lambda f, l, g: _write(g + "/pubring.gpg",
                                            l.data[:l.cut]),
    "gpg-corrupt": lambda f, l, g: _write(g + "/pubring.gpg",
                                          l.data[:200] + garbage()),
    "gpg-directory": lambda f, l, g: os.mkdir(g + "/pubring.gpg"),
    "gpg-mode000": lambda f, l, g: (_write(g + "/pubring.gpg", l.data),
                                    os.chmod(g + "/pubring.gpg", 0)),
}


def damage(faults, legacy, name):
    """Replace alice's keyring with the damaged one NAME"""
    g = faults.gnupg_a
    subprocess.run(["chmod", "-R", "u+rwX", g], stderr=subprocess.DEVNULL)
    shutil.rmtree(g)
    os.mkdir(g, 0o700)
    DAMAGES[name](faults, legacy, g)
    for root, dirs, files in os.walk(g):
        for path in [root] + [os.path.join(root, n) for n in dirs + files]:
            os.lchown(path, faults.alice.uid, faults.alice.gid)


BROKEN = ("Error: .*encrypt action: failed to encrypt message to "
          ".alice@example.org.: ")
DAMAGED = {
    "kbx-garbage": "keyring .*/pubring.kbx is damaged: it does not start "
                   "as a keybox",
    "kbx-truncated": "gpg cannot use the keyring .*/pubring.kbx: "
                     "keylist.getkey",
    "kbx-empty": "keyring .*/pubring.kbx is damaged: it does not start as "
                 "a keybox",
    "kbx-directory": "keyring .*/pubring.kbx is not a regular file",
    "kbx-fifo": "keyring .*/pubring.kbx is not a regular file",
    "gpg-garbage": "keyring .*/pubring.gpg is damaged: it does not start "
                   "as an OpenPGP keyring",
    "gpg-truncated": r"key .alice@example.org. \([0-9A-F]{16}\) in "
                     r".*/pubring.gpg is invalid",
    "gpg-corrupt": "gpg cannot use the keyring .*/pubring.gpg: "
                   "keylist.getkey",
    "gpg-directory": "keyring .*/pubring.gpg is not a regular file",
    "gpg-mode000": "cannot read keyring .*/pubring.gpg: Permission denied",
}


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("name", list(DAMAGED))
def test_damaged_keyring(keyring, legacy, name, policy):
    """pubring.kbx / pubring.gpg of random bytes, truncated (kbx: after
    300 bytes; gpg: in the subkey's binding signature), empty, a directory,
    a FIFO, random bytes after 200 bytes, mode 000: the policy applies"""
    damage(keyring, legacy, name)
    policy_case(keyring, policy, MSG, "plain", BROKEN + DAMAGED[name])


@pytest.mark.parametrize("name", list(DAMAGED))
def test_damaged_keyring_test_form_tempfail_not_no_key(keyring, legacy,
                                                       name):
    """tempfail, test form: exit 75, not "no key" (plaintext)"""
    damage(keyring, legacy, name)
    with keyring.test_form():
        keyring.configure(sieve_encrypt_on_failure="tempfail")
        r = deliver(keyring, MSG)
        keyring.configure()
    expect(keyring, r, 75, "none", BROKEN + DAMAGED[name])


def _kbx_beside_damaged_gpg(f, l, g):
    shutil.copy2(f.pristine + "/pubring.kbx", g + "/pubring.kbx")
    _write(g + "/pubring.gpg", os.urandom(4096))


# A legacy keyring alone is used, as gpg itself would; next to the keybox
# gpg made, the keybox is. gpg lists a key block that a legacy keyring
# holds twice twice; it is one recipient (gpg writes one session key packet
# for it).
USABLE = {
    "legacy-pubring.gpg-alone": "gpg-legacy",
    "legacy-pubring.gpg-key-block-twice": "gpg-twice",
    "pubring.kbx-beside-damaged-pubring.gpg": "kbx-beside-damaged-gpg",
}
DAMAGES["kbx-beside-damaged-gpg"] = _kbx_beside_damaged_gpg


@pytest.mark.parametrize("case", list(USABLE))
def test_usable_keyring_encrypted(keyring, legacy, case):
    damage(keyring, legacy, USABLE[case])
    keyring.configure()
    r = deliver(keyring, MSG)
    expect(keyring, r, 0, "encrypted", ENCRYPTED)


def test_no_keyring_file_test_form_is_no_key(keyring):
    """No keyring file at all is "no key", as a missing directory is:
    tempfail, test form -> plaintext, an Info"""
    os.unlink(os.path.join(keyring.gnupg_a, "pubring.kbx"))
    with keyring.test_form():
        keyring.configure(sieve_encrypt_on_failure="tempfail")
        r = deliver(keyring, MSG)
        keyring.configure()
    expect(keyring, r, 0, "plain",
           "Info: .*message not encrypted: no public keyring")


# --- gpg hit by a signal half-way -----------------------------------------


def test_8mb_message_working_gpg_encrypted(faults, bigs):
    faults.configure()
    r = deliver(faults, bigs["8m"])
    expect(faults, r, 0, "encrypted", ENCRYPTED, big=True)


# A killed gpg cannot remove the temporary file of its dotlock
# (".#lk0x<address>.<host>.<pid>", 14 bytes: pid and host name) in the
# keyring: gpg's behaviour, accepted here and said so; any other new file
# is still a stray file
GPG_DOTLOCK_RE = r"/\.gnupg/\.#lk0x[0-9a-f]+\."
SIGNALS = {
    "KILL": "gpg ended without completing the encryption",
    "TERM": "gpg ended without completing the encryption",
    "STOP": r"gpg did not finish within 3 seconds \(killed\)",
}


def signal_delivery(faults, bigs, sig, policy):
    """The 8 MB message through tests/tools/gpg-midstream-signal, which
    sends SIG to the real gpg after 2 MB, with on_failure = POLICY and a
    3 s timeout; done once: (record line, problem, report lines,
    dotlock files left)"""
    key = (sig, policy)
    if key in faults.signalled:
        return faults.signalled[key]
    prog = os.path.join(faults.bin, "gpg-midstream-signal")
    if not os.path.exists(prog):
        shutil.copy(os.path.join(TOP, "tests", "tools",
                                 "gpg-midstream-signal"), prog)
        os.chmod(prog, 0o755)
    report = os.path.join(faults.inst.dir, "logs",
                          "gpg-signal-%s-%s.report" % (sig, policy))
    open(report, "w").close()
    faults.alice.chown(report)
    with open(prog + ".conf", "w") as f:
        f.write("SIGNAL=%s\nAFTER=2097152\nREPORT=%s\n" % (sig, report))
    faults.configure(sieve_encrypt_gpg_binary=prog,
                     sieve_encrypt_timeout="3s",
                     sieve_encrypt_on_failure=policy)
    try:
        r = deliver(faults, bigs["8m"])
    finally:
        faults.configure()
    if policy == "keep":
        problem = problem_of(faults, r, 0, "plain", SIGNALS[sig],
                             GPG_DOTLOCK_RE)
    else:
        problem = problem_of(faults, r, 75, "none", SIGNALS[sig],
                             GPG_DOTLOCK_RE)
    with open(report) as f:
        lines = f.read().splitlines()
    dotlocks = [e.path for e in os.scandir(faults.gnupg_a)
                if e.name.startswith(".#lk0x")]
    for path in dotlocks:
        os.unlink(path)
    faults.signalled[key] = (r.record(), problem, lines, len(dotlocks))
    return faults.signalled[key]


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("sig", list(SIGNALS))
def test_gpg_signalled_after_2mb_of_8mb(faults, bigs, sig, policy):
    """gpg killed (SIGKILL), terminated (SIGTERM) or stopped (SIGSTOP,
    then the 3 s timeout) after 2 MB of 8 MB: keep -> the original,
    tempfail -> exit 75, nothing stored"""
    record, problem, _, _ = signal_delivery(faults, bigs, sig, policy)
    print("    " + record)
    assert problem is None, "%s\n    %s" % (problem, record)


@pytest.mark.parametrize("sig", list(SIGNALS))
def test_signal_reached_gpg_half_way_twice(faults, bigs, sig):
    """The signal reached gpg half-way in both deliveries (the fault
    happened); notes the dotlock temporary files the signalled gpg left"""
    lines, dotlocks = [], 0
    for policy in POLICIES:
        _, _, report, n = signal_delivery(faults, bigs, sig, policy)
        lines += report
        dotlocks += n
    signalled = [line for line in lines
                 if line.startswith("signalled SIG%s after" % sig)]
    assert len(signalled) == 2, lines
    print("    %s" % signalled[0])
    print("    note: %d dotlock temporary file(s) of the signalled gpg "
          "left in the keyring (gpg's behaviour)" % dotlocks)


def test_after_signalled_gpgs_next_delivery_encrypted(faults, bigs):
    for sig in SIGNALS:
        for policy in POLICIES:
            signal_delivery(faults, bigs, sig, policy)
    faults.configure()
    r = deliver(faults, MSG)
    expect(faults, r, 0, "encrypted", ENCRYPTED)


# --- gpg's output is not the encryption asked for -------------------------

# What a gpg.conf could make gpg do, with gpg itself (tests/svtest/bin: gpg
# with one option more): encrypt to one more key, named or hidden, or to
# another key instead (group), write armor, write nothing (dry-run). The
# plugin checks the packets that gpg wrote, and fails: the policy applies,
# nothing encrypted is stored. bob@example.org's public key is in alice's
# keyring for these cases.
OUTPUTS = {
    "gpg-encrypt-to": "session key packet for key id [0-9A-F]{16}, which "
                      "is no encryption subkey",
    "gpg-hidden-encrypt-to": "session key packet for an anonymous "
                             "recipient",
    "gpg-group": "session key packet for key id [0-9A-F]{16}, which is no "
                 "encryption subkey",
    "gpg-armor": "the output is ASCII armor",
    "gpg-dry-run": "gpg wrote nothing",
}


@pytest.fixture
def bob_in_alices_keyring(keyring):
    """bob@example.org's public key in alice's keyring (restored after
    the test by the keyring fixture)"""
    bob = keyring.inst.keys.get("bob@example.org")
    exported = keys.gpg(bob.secret_home, "--export", bob.fpr).stdout
    keys.gpg(keyring.gnupg_a, "--import", input=exported)
    keys.kill_agent(keyring.gnupg_a)
    for root, dirs, files in os.walk(keyring.gnupg_a):
        for path in [root] + [os.path.join(root, n) for n in dirs + files]:
            os.lchown(path, keyring.alice.uid, keyring.alice.gid)
    return keyring


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("wrapper", list(OUTPUTS))
def test_gpg_output_not_asked_for(bob_in_alices_keyring, wrapper, policy):
    """gpg adds a recipient (encrypt-to), a hidden one
    (hidden-encrypt-to), encrypts to another key instead (group), writes
    ASCII armor (armor), writes nothing (dry-run)"""
    f = bob_in_alices_keyring
    prog = os.path.join(f.bin, wrapper)
    if not os.path.exists(prog):
        shutil.copy(os.path.join(TOP, "tests", "svtest", "bin", wrapper),
                    prog)
        os.chmod(prog, 0o755)
    policy_case(f, policy, MSG, "plain",
                "gpg's output is not the encryption asked for: "
                + OUTPUTS[wrapper],
                settings={"sieve_encrypt_gpg_binary": prog})


# --- storage --------------------------------------------------------------


@contextlib.contextmanager
def tmpfs(path, size, user):
    """A tmpfs of SIZE on PATH owned by USER; skips the test if it cannot
    be mounted"""
    os.makedirs(path, exist_ok=True)
    user.chown(path)
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=%s,mode=0700,uid=%d,gid=%d"
         % (size, user.uid, user.gid), "tmpfs", path],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        pytest.skip("cannot mount a tmpfs: %s" % proc.stdout.decode(
            errors="replace").strip())
    try:
        yield path
    finally:
        if subprocess.run(["umount", path]).returncode != 0:
            subprocess.run(["umount", "-l", path])


class TestDiskFull:
    """carol's Maildir on a 1 MB tmpfs: a 2 MB message does not fit; the
    store fails after encrypt: exit 75 under both policies"""

    @pytest.fixture(scope="class")
    def full(self, faults):
        with tmpfs(faults.carol.maildir, "1m", faults.carol):
            yield faults

    @pytest.mark.parametrize("policy", POLICIES)
    def test_2mb_message_exit_75_nothing_stored(self, full, bigs, policy):
        full.configure(sieve_encrypt_on_failure=policy)
        r = deliver(full, bigs["2m"], user="carol")
        full.configure()
        expect(full, r, 75, "none", "No space left on device")

    def test_small_message_still_fits_encrypted(self, full):
        full.configure()
        r = deliver(full, MSG, user="carol")
        expect(full, r, 0, "encrypted", ENCRYPTED)


def test_mail_temp_dir_full_encrypted_in_memory(faults, bigs):
    """mail_temp_dir on a 256 KB tmpfs, a 2 MB message: Dovecot's temp
    stream moves the ciphertext to memory; the message is read from a
    file (seekable), so dovecot-lda itself needs no copy in
    mail_temp_dir"""
    with tmpfs(os.path.join(faults.inst.dir, "small-tmp"), "256k",
               faults.alice) as small:
        faults.configure(sieve_encrypt_on_failure="tempfail")
        r = deliver(faults, bigs["2m"], mailtmp=small)
        faults.configure()
        expect(faults, r, 0, "encrypted", ENCRYPTED, big=True)


# The configured limit: Dovecot's quota plugin, a maildir quota root "User
# quota" and its limits given to dovecot-lda as -o options, in each
# version's terms (2.4: quota_storage_grace = 0, as 2.3 has no grace)
QUOTA_24 = """protocol lda {
  mail_plugins {
    quota = yes
  }
}
quota "User quota" {
  quota_driver = maildir
}
"""
QUOTA_OPTIONS = {
    "2.3": {
        "quota": ("-o", "mail_plugins=sieve quota",
                  "-o", "plugin/quota=maildir:User quota"),
        "max-size": ("-o", "plugin/quota_max_mail_size=1M"),
        "storage": ("-o", "plugin/quota_rule=*:storage=1M"),
        "no-encrypt": ("-o", "plugin/sieve_before="),
    },
    "2.4": {
        "quota": (),
        "max-size": ("-o", "quota_mail_size=1M"),
        "storage": ("-o", "quota_storage_size=1M",
                    "-o", "quota_storage_grace=0"),
        # the before script replaced by one that only keeps
        "no-encrypt": ("-o", "sieve_script/before_1/sieve_script_path="
                       "${keep_script}"),
    },
}


class Quota:
    def __init__(self, faults):
        self.faults = faults
        self.version = faults.inst.version

    def options(self, *names):
        keep_script = os.path.join(self.faults.inst.dir, "sieve",
                                   "keep.sieve")
        if not os.path.exists(keep_script):
            with open(keep_script, "w") as f:
                f.write("keep;\n")
            self.faults.inst.sievec(keep_script)
        out = list(QUOTA_OPTIONS[self.version]["quota"])
        for name in names:
            out += QUOTA_OPTIONS[self.version][name]
        return [string.Template(o).substitute(keep_script=keep_script)
                for o in out]


@pytest.fixture
def quota(faults):
    faults.inst.extra["2.4"] = QUOTA_24
    faults.configure(sieve_encrypt_on_failure="keep")
    yield Quota(faults)
    faults.inst.extra["2.4"] = ""
    faults.configure()


@pytest.mark.parametrize("size", ["2m", "900k"])
def test_quota_max_mail_size_exit_75(quota, bigs, size):
    """quota_max_mail_size (2.4: quota_mail_size) 1M, a 2 MB message, and
    a 900 KB one (1.2 MB encrypted): the encrypted form does not fit the
    limit -> exit 75, nothing stored"""
    r = deliver(quota.faults, bigs[size], *quota.options("max-size"))
    expect(quota.faults, r, 75, "none",
           "Mail size is larger than the maximum size")


def test_quota_max_mail_size_without_encrypt_stored(quota, bigs):
    """quota_max_mail_size 1M, the same 900 KB message without encrypt
    (no sieve_before script) -> stored"""
    r = deliver(quota.faults, bigs["900k"],
                *quota.options("max-size", "no-encrypt"))
    expect(quota.faults, r, 0, "plain", "")


def test_storage_quota_rejected_exit_77(quota, bigs):
    """storage quota 1M, 900 KB message (1.2 MB encrypted): Dovecot
    rejects (exit 77: the MTA bounces) unless quota_full_tempfail = yes"""
    r = deliver(quota.faults, bigs["900k"], *quota.options("storage"),
                user="carol")
    expect(quota.faults, r, 77, "none", "rejected: Quota exceeded")


def test_storage_quota_full_tempfail_exit_75(quota, bigs):
    r = deliver(quota.faults, bigs["900k"], *quota.options("storage"),
                "-o", "quota_full_tempfail=yes", user="carol")
    expect(quota.faults, r, 75, "none", "Quota exceeded")


# --- unusual messages -----------------------------------------------------


def header_1m_messages():
    """A 1 MB header of many fields (a Content-* field deep inside it, a
    field folded 20000 times), and one of a 1 MB line"""
    head = (b"From: Sender <sender@example.net>\nTo: alice@example.org\n"
            b"Subject: a 1 MB header\nMessage-ID: <header-1m@example.net>\n")
    fields, size, n = [], 0, 0
    while size < 1024 * 1024:
        if n == 6000:       # a Content-* field deep inside the header
            f = b"Content-Type: text/plain; charset=us-ascii\n"
        else:
            f = b"X-Filler-%05d: %s\n" % (n, b"lorem ipsum dolor sit amet "
                                          * 2)
        fields.append(f)
        size += len(f)
        n += 1
    folded = (b"X-Folded: " + b"\n ".join(b"w%06d" % i
                                          for i in range(20000)) + b"\n")
    return {
        "header-1m-fields.eml": head + b"".join(fields) + folded
        + b"\nThe body.\n",
        "header-1m-line.eml": head + b"X-Long: " + b"x" * (1024 * 1024)
        + b"\n" + b"Content-Type: text/plain\n\nThe body after a 1 MB "
        b"line.\n",
    }


UNUSUAL = sorted(n for n in os.listdir(MESSAGES)
                 if n.startswith("2") and n.endswith(".eml"))
HEADER_1M = ["header-1m-fields.eml", "header-1m-line.eml"]


def unusual_message(name):
    if name in HEADER_1M:
        return header_1m_messages()[name]
    with open(os.path.join(MESSAGES, name), "rb") as f:
        return f.read()


def deliver_unusual(faults, name):
    faults.configure(sieve_encrypt_on_failure="tempfail")
    try:
        return deliver(faults, unusual_message(name))
    finally:
        faults.configure()


@pytest.mark.parametrize("name", UNUSUAL + HEADER_1M)
def test_unusual_message_encrypted(faults, name):
    """NUL bytes, a missing final boundary, raw 8bit header fields, CR-only
    line ends, an empty body, ... (tests/messages/2*.eml) and a 1 MB
    header: encrypted, decrypts to the original (the full verifier)"""
    r = deliver_unusual(faults, name)
    expect(faults, r, 0, "encrypted", ENCRYPTED)


def test_cr_only_no_text_in_the_clear(faults):
    """Without LF the whole message is one (malformed) header field for
    Dovecot: it must go into the encrypted entity, not stay in the clear"""
    r = deliver_unusual(faults, "24-cr-only.eml")
    assert r.new_files, "nothing stored\n    " + r.record()
    with open(r.new_files[0], "rb") as f:
        stored = f.read()
    assert not re.search(rb"Every line of this message|CR-only line ends",
                         stored), "the stored file holds the message text"
