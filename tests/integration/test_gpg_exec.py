# Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
"""What gpg runs as, what it reads, and that it ends at the deadline,
under dovecot-lda and under LMTP (issue 12, classes 1, 2, 5; was
tests/e2e/test-gpg-exec.sh).

gpg is started through sieve-encrypt-gpg-exec (the build tree's). A
recording gpg, set as sieve_encrypt_gpg_binary, appends its
/proc/self/status (Uid, Gid, Groups, Cap*, NoNewPrivs) and arguments to a
file, then runs gpg. Deliveries, each in an instance of its own:
  lda          dovecot-lda as the unprivileged mail account (nobody;
               mode "shared"), user alice
  lmtp-root    Dovecot's default LMTP service (root; per-recipient
               seteuid), a passwd-file user with a uid of its own (mode
               "per-user"), user dora, mail_privileged_group = mail (a
               saved gid) and mail_access_groups = users (a
               supplementary group)
  lmtp-user    service lmtp { user = nobody } (mode "lmtp-user"), user
               alice: refused (the service keeps Dovecot's internal
               group), then run with sieve_encrypt_gpg_allowed_groups =
               that group
Each checks: every gpg run had real = effective = saved = filesystem uid
and gid of the user, no capability (CapInh, CapPrm, CapEff, CapAmb all
0), no_new_privs, --no-options and --homedir /dev/null and the user's
keyring file; the message was stored encrypted. Groups: under the root
LMTP the user's own only (its gid: no system account; not Dovecot's
internal group that the lmtp process has, nor mail_access_groups), else
the delivery process's (which cannot change them), refused if one of
them is neither the user's nor allowed.
A hostile keyring directory (gpg.conf with armor, dry-run, encrypt-to,
hidden-encrypt-to, group, with-secret + agent-program; common.conf with
use-keyboxd + keyboxd-program; a second public key) changes nothing: the
message decrypts with the user's key, its public-key packets are for the
user's encryption subkey only, the programs named there never ran.
A hanging gpg (sieve_encrypt_timeout = 2s) is killed at the deadline and
leaves no process, under LMTP as root with a distinct uid and under LDA.
A delivery with group 0 among its groups (LMTP, mail_access_groups =
root) is refused by the plugin, naming the cause; the helper itself
refuses root ids and groups, a group it cannot drop that is not the
user's, a missing or wrong list of the user's groups, and a missing
deadline, with a status line and exit code 126.
The keyring fault wording is the same under LDA and LMTP. No delivery
logs the message text."""

import contextlib
import grp
import os
import random
import re
import subprocess
import tempfile
import time

import pytest

from conftest import TOP
from harness import keys, lmtp, pgpmime
from harness.dovecot import message_files

GLOBAL_SCRIPT = '''require ["vnd.x.encrypt", "envelope", "variables"];
if envelope :localpart :matches "to" "*" {
  encrypt "${1}@example.org";
}'''

MARKER = "GPG-EXEC-BODY-%d" % os.getpid()
MESSAGE = ("""From: Sender <sender@example.net>
To: Recipient <rcpt@example.org>
Subject: gpg-exec test
Message-ID: <gpg-exec-%d@example.net>
Content-Type: text/plain; charset=us-ascii

Secret text %s.
""" % (os.getpid(), MARKER)).encode()

MALLORY = "mallory@example.net"
KILLED = r"gpg did not finish within 2 seconds \(killed\)"
TAKES_AT_MOST = 8  # seconds, for a 2 s deadline

# A gpg that records what it runs as (RECORD) before it runs gpg
GPG_RECORD = """#!/bin/sh
{
	grep -E '^(Uid|Gid|Groups|CapInh|CapPrm|CapEff|CapAmb|NoNewPrivs):' \\
		/proc/self/status
	echo "Args: $*"
	echo "--"
} >>%s
exec gpg "$@"
"""

# A program that records that it ran (PWNED)
MARKER_PROGRAM = """#!/bin/sh
echo "$(id) $0 $*" >>%s
exit 1
"""


class Tools:
    """The recording gpg, the marker program and a hanging gpg of an
    instance, in its bin/, with their records in rec/ (writable by every
    uid)"""

    def __init__(self, inst):
        self.bin = os.path.join(inst.dir, "bin")
        rec = os.path.join(inst.dir, "rec")
        os.mkdir(self.bin, 0o755)
        os.mkdir(rec)
        os.chmod(rec, 0o1777)
        self.record = os.path.join(rec, "gpg-runs")
        self.pwned = os.path.join(rec, "pwned")
        for path in (self.record, self.pwned):
            open(path, "w").close()
            os.chmod(path, 0o666)
        self.gpg_record = self._script("gpg-record",
                                       GPG_RECORD % self.record)
        self.marker = self._script("marker", MARKER_PROGRAM % self.pwned)
        # gpg-hang (tests/svtest/bin) with a sleep of its own, to be told
        # apart from any other on the machine, whatever uid it runs as
        self.hang_arg = "600.%d%06d" % (os.getpid(),
                                        random.randrange(10 ** 6))
        with open(os.path.join(TOP, "tests", "svtest", "bin",
                               "gpg-hang")) as f:
            hang = f.read()
        own = re.sub(r"(?m)^exec sleep 600$", "exec sleep " + self.hang_arg,
                     hang)
        assert own != hang, "gpg-hang has no 'exec sleep 600' line"
        self.gpg_hang = self._script("gpg-hang", own)

    def _script(self, name, text):
        path = os.path.join(self.bin, name)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, 0o755)
        return path

    def clear_record(self):
        with open(self.record, "w"):
            pass

    def records(self):
        with open(self.record) as f:
            return f.read()

    def pwned_text(self):
        with open(self.pwned, errors="replace") as f:
            return f.read()

    def leftovers(self):
        """This instance's hanging gpg if it still runs (not a zombie),
        after waiting up to a second for it to end: "pid ruid euid"
        lines"""
        for _ in range(10):
            out = subprocess.run(["ps", "-eo", "pid=,ruid=,euid=,stat=,args="],
                                 stdout=subprocess.PIPE).stdout.decode(
                                     errors="replace")
            left = [" ".join(f[:3]) for f in (line.split()
                                              for line in out.splitlines())
                    if len(f) >= 6 and not f[3].startswith("Z")
                    and f[4] == "sleep" and f[5] == self.hang_arg]
            if not left:
                return []
            time.sleep(0.1)
        return left


# --- instances ----------------------------------------------------------

def lda_instance(make_instance, **settings):
    """alice on the mail account (nobody), for dovecot-lda"""
    inst = make_instance("shared")
    inst.add_user("alice", key="valid")
    return _prepared(inst, settings)


def lmtp_root_instance(make_instance, extra=None, **settings):
    """dora with a uid of her own, for the LMTP service as shipped"""
    inst = make_instance("per-user")
    inst.add_user("dora", key="valid")
    if extra:
        inst.extra = {"2.3": extra, "2.4": extra}
    return _prepared(inst, settings)


def lmtp_user_instance(make_instance, **settings):
    """alice on the mail account, LMTP running as that account"""
    inst = make_instance("lmtp-user")
    inst.add_user("alice", key="valid")
    return _prepared(inst, settings)


def _prepared(inst, settings):
    inst.tools = Tools(inst)
    for name, value in settings.items():
        if value in ("record", "hang"):
            settings[name] = (inst.tools.gpg_record if value == "record"
                              else inst.tools.gpg_hang)
    inst.set(**settings)
    inst.global_script(GLOBAL_SCRIPT)
    return inst


@contextlib.contextmanager
def lmtp_running(inst):
    """The LMTP service of INST for the block; when it has stopped (and
    its log process has written everything), no log holds the message
    text"""
    inst.lmtp_start()
    try:
        yield inst
    finally:
        inst.lmtp_stop()
    assert_no_body_in_logs(inst)


# --- deliveries ----------------------------------------------------------

class Delivered:
    """One delivery: rc (LDA) or reply (LMTP), the new files, the log of
    that delivery, what was sent"""

    def __init__(self, user, new, log, sent, lmtp_mode, rc=None,
                 reply=None):
        self.user = user
        self.new = new
        self.log = log
        self.sent = sent
        self.lmtp = lmtp_mode
        self.rc = rc
        self.reply = reply

    def describe(self):
        return "rc %s, reply %r, new %s, log: %s" % (
            self.rc, self.reply, self.new, self.log[-600:])


def assert_no_body_in_logs(inst):
    """No log of INST holds the message text"""
    logs = [inst.log_path] + [os.path.join(inst.dir, "logs", n)
                              for n in os.listdir(os.path.join(inst.dir,
                                                               "logs"))]
    for path in logs:
        with open(path, errors="replace") as f:
            assert MARKER not in f.read(), \
                "the message text is in the log %s" % path


def lda_deliver(inst, name):
    inst.tools.clear_record()
    d = inst.lda(name, MESSAGE)
    assert_no_body_in_logs(inst)
    return Delivered(inst.users[name], d.new_files, d.log, MESSAGE, False,
                     rc=d.rc)


def lmtp_deliver(inst, name, wait_for=None):
    """Deliver over LMTP (the service must run); the log is the lines of
    the instance log that name the user. The lmtp process logs through
    Dovecot's log process, which may write them after LMTP replied:
    with WAIT_FOR (a regular expression), wait up to 10 s for a line
    that matches it."""
    user = inst.users[name]
    inst.tools.clear_record()
    before = set(message_files(user.maildir))
    offset = os.path.getsize(inst.log_path)
    start = time.monotonic()
    with inst.lmtp(timeout=120) as client:
        replies = client.send(MESSAGE, [user.address])
    took = time.monotonic() - start
    new = [f for f in message_files(user.maildir) if f not in before]
    for _ in range(100):
        with open(inst.log_path, "rb") as f:
            f.seek(offset)
            lines = f.read().decode(errors="replace").splitlines()
        log = "".join(line + "\n" for line in lines
                      if user.address in line)
        if wait_for is None or re.search(wait_for, log):
            break
        time.sleep(0.1)
    assert_no_body_in_logs(inst)
    assert len(replies) == 1, replies
    d = Delivered(user, new, log, lmtp.sent_bytes(MESSAGE), True,
                  reply=replies[0])
    d.took = took
    return d


def lmtp_process(inst):
    """The pid of the running instance's (first) lmtp process"""
    out = subprocess.run(["pgrep", "-P", str(inst.master_pid), "-x",
                          "lmtp"], stdout=subprocess.PIPE).stdout.split()
    assert out, "no lmtp process under master %s" % inst.master_pid
    return int(out[0])


def proc_status(pid, field):
    """The values of FIELD in /proc/PID/status"""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, value = line.partition(":")
            if key == field:
                return value.split()
    return []


# --- checks ------------------------------------------------------------------

def assert_stored_encrypted(d):
    """The one new file is the encrypted form of what was sent and
    decrypts to it with the user's key"""
    assert len(d.new) == 1, "expected one stored message: " + d.describe()
    with open(d.new[0], "rb") as f:
        stored = f.read()
    if d.lmtp:
        pgpmime.verify(d.sent, stored, d.user.secret_home, "encrypted",
                       set(pgpmime.LMTP_TRACE_FIELDS), True, None)
    else:
        pgpmime.verify(d.sent, stored, d.user.secret_home, "encrypted",
                       set(), False, None)
    return stored


def assert_records(text, uid, gid, groups, home):
    """Every recorded gpg run had the ids, groups, no capability and
    no_new_privs; the runs other than gpgme's version check read
    HOME/.gnupg/pubring.kbx only; at least two runs"""
    runs = [r for r in text.split("--\n") if r.strip()]
    assert len(runs) >= 2, \
        "%d gpg run(s) recorded, expected at least 2" % len(runs)
    want_groups = sorted(str(g) for g in groups)
    for n, run in enumerate(runs, 1):
        f = dict.fromkeys(("Uid", "Gid", "Groups", "CapInh", "CapPrm",
                           "CapEff", "CapAmb", "NoNewPrivs", "Args"), "?")
        for line in run.splitlines():
            key, _, value = line.partition(":")
            f[key] = value.strip()
        what = "gpg run %d (%s)" % (n, f["Args"][-60:])
        assert f["Uid"].split() == [str(uid)] * 4, \
            "%s: Uid %s, expected %s for all four" % (what, f["Uid"], uid)
        assert f["Gid"].split() == [str(gid)] * 4, \
            "%s: Gid %s, expected %s for all four" % (what, f["Gid"], gid)
        assert sorted(f["Groups"].split()) == want_groups, \
            "%s: Groups %s, expected %s" % (what, f["Groups"], want_groups)
        for cap in ("CapInh", "CapPrm", "CapEff", "CapAmb"):
            assert f[cap] == "0" * 16, "%s: %s %s" % (what, cap, f[cap])
        assert f["NoNewPrivs"] == "1", \
            "%s: NoNewPrivs %s" % (what, f["NoNewPrivs"])
        args = f["Args"].split()
        assert args[:3] == ["--no-options", "--homedir", "/dev/null"], \
            "%s: does not start with --no-options --homedir /dev/null" % what
        if args[-1] == "--version":
            continue
        keyring = os.path.join(home, ".gnupg", "pubring.kbx")
        assert "--no-default-keyring" in args and "--keyring" in args and \
            args[args.index("--keyring") + 1] == keyring, \
            "%s: keyring is not %s alone" % (what, keyring)


def assert_encrypted_to_subkey_only(inst, stored, user):
    """The public-key encrypted session key packets of STORED are for
    USER's encryption subkey only"""
    want = sorted(user.key.subkey_ids())
    armor = re.search(rb"(?s)^-----BEGIN PGP MESSAGE.*?"
                      rb"^-----END PGP MESSAGE[^\n]*", stored, re.M)
    assert armor, "no armored PGP message in what was stored"
    empty = tempfile.mkdtemp(prefix="empty-gnupg.", dir=inst.dir)
    out = subprocess.run(
        ["gpg", "--homedir", empty, "--batch", "--no-autostart",
         "--list-packets"], input=armor.group(0).replace(b"\r", b""),
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout.decode()
    got = sorted(re.findall(r"(?m)^:pubkey enc packet:.* keyid ([0-9A-F]+)",
                            out))
    assert want and got == want, \
        "session keys for %s, expected %s" % (got, want)


# --- 1. what gpg runs as ----------------------------------------------------

def test_lda_gpg_runs_as_the_mail_account(make_instance):
    """dovecot-lda as nobody: gpg as nobody's ids and groups, no
    capabilities, no option files, the user's keyring"""
    inst = lda_instance(make_instance, sieve_encrypt_gpg_binary="record")
    d = lda_deliver(inst, "alice")
    assert d.rc == 0, d.describe()
    assert_stored_encrypted(d)
    account = inst.account
    groups = os.getgrouplist(account.pw_name, account.pw_gid)
    assert_records(inst.tools.records(), account.pw_uid, account.pw_gid,
                   sorted(set(groups)), d.user.home)


@pytest.mark.lmtp
def test_lmtp_root_gpg_runs_as_the_users_uid(make_instance):
    """The LMTP service as root (real uid 0, mail_access_groups among its
    groups), dora with uid and gid of her own, a saved gid
    (mail_privileged_group): gpg as dora's ids and her gid alone"""
    inst = lmtp_root_instance(
        make_instance, extra="mail_privileged_group = mail\n"
        "mail_access_groups = users\n", sieve_encrypt_gpg_binary="record")
    dora = inst.users["dora"]
    with lmtp_running(inst):
        d = lmtp_deliver(inst, "dora")
        pid = lmtp_process(inst)
        assert proc_status(pid, "Uid")[:1] == ["0"], \
            "the lmtp process %d does not run with real uid 0" % pid
        lmtp_groups = proc_status(pid, "Groups")
    assert d.reply.code == 250, d.describe()
    assert_stored_encrypted(d)
    users_gid = str(grp.getgrnam("users").gr_gid)
    assert users_gid in lmtp_groups, \
        "the lmtp process lacks mail_access_groups: groups %s" % lmtp_groups
    assert_records(inst.tools.records(), dora.uid, dora.gid, [dora.gid],
                   dora.home)


def internal_group(inst):
    """Dovecot's internal group of INST: (name, gid)"""
    name = subprocess.run(["doveconf", "-c", inst.conf, "-h",
                           "default_internal_group"], stdout=subprocess.PIPE,
                          check=True).stdout.decode().strip()
    return name, grp.getgrnam(name).gr_gid


@pytest.mark.lmtp
def test_lmtp_user_internal_group_refused(make_instance):
    """LMTP as the mail account: Dovecot gives the service its internal
    group, which a process without privilege cannot drop; gpg would keep
    it, so it is not run: 4xx, the error names the group and the
    setting"""
    inst = lmtp_user_instance(make_instance,
                              sieve_encrypt_gpg_binary="record",
                              sieve_encrypt_on_failure="tempfail")
    name, gid = internal_group(inst)
    refused = (r"Error: .*refusing to run gpg: the delivery process has "
               r"group %s \(gid %d\), which is not the mail user's own.*"
               r"sieve_encrypt_gpg_allowed_groups" % (re.escape(name), gid))
    with lmtp_running(inst):
        d = lmtp_deliver(inst, "alice", wait_for=refused)
    assert 400 <= d.reply.code < 500, d.describe()
    assert d.new == [], d.describe()
    assert inst.tools.records() == "", "gpg ran: " + inst.tools.records()
    assert re.search(refused, d.log), d.describe()


@pytest.mark.lmtp
def test_lmtp_user_internal_group_allowed(make_instance):
    """The same with sieve_encrypt_gpg_allowed_groups = the internal
    group: stored encrypted, gpg with the lmtp process's groups"""
    inst = lmtp_user_instance(make_instance,
                              sieve_encrypt_gpg_binary="record")
    name, gid = internal_group(inst)
    inst.set(sieve_encrypt_gpg_allowed_groups=name)
    with lmtp_running(inst):
        d = lmtp_deliver(inst, "alice")
        lmtp_groups = proc_status(lmtp_process(inst), "Groups")
    assert d.reply.code == 250, d.describe()
    assert_stored_encrypted(d)
    assert str(gid) in lmtp_groups, \
        "the lmtp process lacks group %s: groups %s" % (name, lmtp_groups)
    account = inst.account
    assert_records(inst.tools.records(), account.pw_uid, account.pw_gid,
                   lmtp_groups, d.user.home)


# --- 2. nothing in the keyring directory but the keys counts ----------------

@contextlib.contextmanager
def hostile_keyring(inst, user, keyfactory):
    """USER's keyring also holds mallory's public key, a gpg.conf that
    adds recipients, changes the output and starts a program, and a
    common.conf (gpg 2.4) that would start another; removed again on
    exit (before the instance's own gpgconf --kill reads them)"""
    mallory = keyfactory.get(MALLORY)
    gnupg = user.gnupghome
    exported = keys.gpg(mallory.public_home, "--export", "--",
                        mallory.fpr).stdout
    keys.gpg(gnupg, "--import", input=exported)
    keys.kill_agent(gnupg)
    marker = inst.tools.marker
    confs = {
        "gpg.conf": "armor\ndry-run\nencrypt-to %s\nhidden-encrypt-to %s\n"
        "group %s = %s\nwith-secret\nagent-program %s\n"
        "dirmngr-program %s\nauto-key-locate wkd\n"
        "keyserver hkp://127.0.0.1:9\n" % (
            MALLORY, mallory.fpr, user.address, mallory.fpr, marker,
            marker),
        "common.conf": "use-keyboxd\nkeyboxd-program %s\n" % marker,
    }
    for name, text in confs.items():
        with open(os.path.join(gnupg, name), "w") as f:
            f.write(text)
    for root, dirs, files in os.walk(gnupg):
        for entry in [root] + [os.path.join(root, n) for n in dirs + files]:
            os.lchown(entry, user.uid, user.gid)
    try:
        yield
    finally:
        for name in confs:
            os.unlink(os.path.join(gnupg, name))


def check_hostile(inst, d):
    stored = assert_stored_encrypted(d)
    assert_encrypted_to_subkey_only(inst, stored, d.user)
    assert inst.tools.pwned_text() == "", \
        "a program named in gpg.conf or common.conf ran: " + \
        inst.tools.pwned_text()[:300]


def test_hostile_keyring_dir_lda(make_instance, keyfactory):
    """dovecot-lda: gpg.conf, common.conf and a second key change
    nothing: decrypts, encrypted to alice's subkey only, no program
    named there ran"""
    inst = lda_instance(make_instance, sieve_encrypt_gpg_binary="record")
    with hostile_keyring(inst, inst.users["alice"], keyfactory):
        d = lda_deliver(inst, "alice")
    assert d.rc == 0, d.describe()
    check_hostile(inst, d)


@pytest.mark.lmtp
def test_hostile_keyring_dir_lmtp_root(make_instance, keyfactory):
    """The same under the LMTP service as root, dora with a uid of her
    own"""
    inst = lmtp_root_instance(make_instance,
                              sieve_encrypt_gpg_binary="record")
    with hostile_keyring(inst, inst.users["dora"], keyfactory):
        with lmtp_running(inst):
            d = lmtp_deliver(inst, "dora")
    assert d.reply.code == 250, d.describe()
    check_hostile(inst, d)


# --- 5. the deadline ---------------------------------------------------------

HANG = dict(sieve_encrypt_gpg_binary="hang", sieve_encrypt_timeout="2s",
            sieve_encrypt_on_failure="tempfail")


@pytest.mark.lmtp
def test_deadline_lmtp_root_kills_hanging_gpg(make_instance):
    """LMTP as root, dora with a uid of her own: a hanging gpg is killed
    at the 2 s deadline: 4xx within 8 s, the error logged, nothing
    stored, nothing left running"""
    inst = lmtp_root_instance(make_instance, **HANG)
    with lmtp_running(inst):
        d = lmtp_deliver(inst, "dora", wait_for="Error: .*" + KILLED)
        assert 400 <= d.reply.code < 500, d.describe()
        assert d.took < TAKES_AT_MOST + 1, "the reply took %.1f s" % d.took
        assert re.search("Error: .*" + KILLED, d.log), d.describe()
        assert d.new == [], "a message was stored"
        left = inst.tools.leftovers()
        assert not left, "left running (pid ruid euid): %s" % left


def test_deadline_lda_kills_hanging_gpg(make_instance):
    """dovecot-lda: the same, exit code 75"""
    inst = lda_instance(make_instance, **HANG)
    start = time.monotonic()
    d = lda_deliver(inst, "alice")
    took = time.monotonic() - start
    assert d.rc == 75, d.describe()
    assert took < TAKES_AT_MOST + 1, "dovecot-lda took %.1f s" % took
    assert d.new == [], "a message was stored"
    assert re.search(KILLED, d.log), d.describe()
    left = inst.tools.leftovers()
    assert not left, "left running (pid ruid euid): %s" % left


# --- refusals ----------------------------------------------------------------

@pytest.mark.lmtp
def test_lmtp_root_group_root_refused(make_instance):
    """mail_access_groups = root: gid 0 among the delivery's groups,
    gpg is not run: 4xx, the error names the group"""
    inst = lmtp_root_instance(make_instance,
                              extra="mail_access_groups = root\n",
                              sieve_encrypt_on_failure="tempfail")
    refused = r"Error: .*refusing to run gpg with group root: gid 0 is among"
    with lmtp_running(inst):
        d = lmtp_deliver(inst, "dora", wait_for=refused)
    assert 400 <= d.reply.code < 500, d.describe()
    assert d.new == [], d.describe()
    assert re.search(refused, d.log), d.describe()


@pytest.fixture(scope="module")
def helper(make_module_instance):
    """A per-user instance for its copy of the helper and dora's uid"""
    inst = make_module_instance("per-user")
    inst.add_user("dora", key="valid")
    return inst


def run_helper(inst, prefix, env, *args):
    """The helper (after PREFIX, e.g. setpriv) with only ENV"""
    argv = list(prefix) + ["env", "-i"] + \
        ["%s=%s" % kv for kv in env.items()] + [inst.gpg_exec, *args]
    return subprocess.run(argv, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE)


# name -> (the refusal's words, setpriv options or None, user groups or
# None for the user's gid); "{duid}", "{internal}" are filled in
REFUSALS = {
    "effective-uid-0": ("the effective uid is 0", None, None),
    "group-0": ("group 0 (root) is among",
                ["--reuid={duid}", "--regid={duid}", "--groups=0"], None),
    "effective-gid-0": ("the effective gid is 0",
                        ["--euid={duid}", "--egid=0", "--clear-groups"],
                        None),
    "group-not-droppable-not-users-not-allowed": (
        "group {internal} is not uid {duid}'s own",
        ["--reuid={duid}", "--regid={duid}", "--groups={internal}"], None),
    "without-user-groups": (
        "SIEVE_ENCRYPT_GPG_USER_GROUPS is not set to the mail user's groups",
        ["--euid={duid}", "--egid={duid}", "--clear-groups"], ""),
    "user-groups-not-starting-with-egid": (
        "do not start with the effective gid {duid}",
        ["--euid={duid}", "--egid={duid}", "--clear-groups"],
        "{internal} {duid}"),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_helper_refuses(helper, case):
    """The helper on its own refuses root ids or groups, a group it
    cannot drop that is neither the user's nor allowed, a missing or
    wrong list of the user's groups: a status line on the status fd
    naming why, exit code 126"""
    duid = helper.users["dora"].uid
    internal = internal_group(helper)[1]
    want, setpriv, user_groups = REFUSALS[case]

    def fill(text):
        return text.format(duid=duid, internal=internal)
    prefix = ["setpriv"] + [fill(o) for o in setpriv] if setpriv else []
    env = {"SIEVE_ENCRYPT_GPG": "/usr/bin/gpg",
           "SIEVE_ENCRYPT_GPG_KEYRING": os.path.join(
               helper.users["dora"].gnupghome, "pubring.kbx"),
           "SIEVE_ENCRYPT_GPG_DEADLINE": "999999999.0",
           "SIEVE_ENCRYPT_GPG_USER_GROUPS": fill(
               "{duid}" if user_groups is None else user_groups)}
    proc = run_helper(helper, prefix, env, "--status-fd", "1",
                      "--list-keys")
    out = proc.stdout.decode(errors="replace")
    assert proc.returncode == 126, "exit %d: %s" % (proc.returncode, out)
    assert re.search(r"(?m)^\[GNUPG:\] SIEVE_ENCRYPT_GPG_EXEC_REFUSED .*"
                     + re.escape(fill(want)), out), out


def test_helper_refuses_without_deadline(helper):
    """No SIEVE_ENCRYPT_GPG_DEADLINE: exit code 126, naming it"""
    duid = helper.users["dora"].uid
    proc = run_helper(
        helper, ["setpriv", "--reuid=%d" % duid, "--regid=%d" % duid,
                 "--clear-groups"],
        {"SIEVE_ENCRYPT_GPG": "/usr/bin/gpg",
         "SIEVE_ENCRYPT_GPG_USER_GROUPS": str(duid)}, "--version")
    out = (proc.stdout + proc.stderr).decode(errors="replace")
    assert proc.returncode == 126, "exit %d: %s" % (proc.returncode, out)
    assert "SIEVE_ENCRYPT_GPG_DEADLINE" in out, out


# --- 4. the same keyring fault, the same words under LDA and LMTP ------------

def encrypt_error(log, home, address):
    """The first "encrypt action: ..." text of LOG, with HOME and the
    user's local part made neutral"""
    m = re.search(r"encrypt action: (.*)", log)
    if not m:
        return None
    return m.group(1).replace(home, "HOME").replace(
        address.split("@")[0] + "@", "USER@")


@pytest.mark.lmtp
def test_unreadable_keyring_same_error_lda_lmtp(make_instance):
    """An unreadable pubring.kbx: the error under dovecot-lda (alice,
    nobody) and LMTP (dora, own uid) reads the same, Permission denied"""
    lda_inst = lda_instance(make_instance,
                            sieve_encrypt_on_failure="tempfail")
    lmtp_inst = lmtp_root_instance(make_instance,
                                   sieve_encrypt_on_failure="tempfail")
    for user in (lda_inst.users["alice"], lmtp_inst.users["dora"]):
        os.chmod(os.path.join(user.gnupghome, "pubring.kbx"), 0)
    d = lda_deliver(lda_inst, "alice")
    lda_error = encrypt_error(d.log, d.user.home, d.user.address)
    with lmtp_running(lmtp_inst):
        d = lmtp_deliver(lmtp_inst, "dora", wait_for="encrypt action: ")
    lmtp_error = encrypt_error(d.log, d.user.home, d.user.address)
    assert lda_error and lda_error == lmtp_error, \
        "LDA %r, LMTP %r" % (lda_error, lmtp_error)
    assert "Permission denied" in lda_error, lda_error
