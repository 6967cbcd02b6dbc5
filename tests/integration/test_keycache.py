# Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
"""The key listings that an LMTP process reuses
(src/sieve-encrypt-keycache.c) never answer for another keyring, a
changed keyring or a key that expired since (was
tests/e2e/test-keycache.sh).

One LMTP instance with process_limit = 1; every step is one LMTP
connection, served by the same lmtp process (checked: the pid in the log
lines). The global script encrypts to the address in the X-Key header
field if there is one, else to the envelope recipient. The master runs
under a child subreaper, which reaps every sieve-encrypt-gpg-exec (gpgme
double-forks it) and so counts the gpg runs of each step.
  bob-first         the process's first delivery (gpgme's engine
                    discovery): encrypted
  alice-first/-second  both encrypted; the second runs gpg once (the
                    encryption: the listing came from the cache), the
                    first twice
  bob-xkey-alice    bob's keyring has no key for alice's address: not
                    encrypted ("no public key") although the same pattern
                    was listed for alice's keyring
  alice-revoked     alice's keyring gets her key's revocation (gpg
                    --import writes a new file): "is revoked", stored
                    plain
  carol-*           carol's key expires 25 s after it was made: delivered
                    before, encrypted; after the expiry, in the same
                    process, "is expired"
  dave-*            dave's keyring is rewritten in place with other
                    content of the same size and the old modification
                    time: listed again (status change time), encrypted to
                    the new key, not the old one

All steps run once, in order, in the module's `steps` fixture (the cache
of one process is what is tested); the tests check what each step did.
"""

import os
import re
import time

import pytest

from harness import keys
from harness.dovecot import DOMAIN, message_files

GLOBAL_SCRIPT = '''require ["vnd.x.encrypt", "envelope", "variables"];
if header :matches "X-Key" "*" {
  encrypt "${1}";
} elsif envelope :matches "to" "*" {
  encrypt "${1}";
}'''

# One lmtp process serves every delivery: its cache is what is tested
# (with more, the master may hand a connection to a second process while
# the first is still finishing the previous one)
ONE_PROCESS = "service lmtp {\n  process_limit = 1\n}\n"

CAROL_LIFETIME = 25
DAVE2_TRIES = 12


class Step:
    """What one delivery did: the stored file (None if nothing new), the
    log lines of the step, the gpg runs the reaper saw"""

    def __init__(self, stored=None, log="", runs=0, error=None):
        self.stored = stored
        self.log = log
        self.runs = runs
        self.error = error

    def encrypted(self):
        if not self.stored:
            return False
        with open(self.stored, "rb") as f:
            return re.search(rb"(?mi)^Content-Type: multipart/encrypted",
                             f.read()) is not None

    def describe(self):
        lines = [line for line in self.log.splitlines() if "encrypt" in line]
        return "stored: %s%s; %s" % (
            self.stored or "nothing",
            " (encrypted)" if self.encrypted() else "",
            " | ".join(lines[:2]) or self.error or "no log line")


def new_public_home(path, secret, fpr):
    """A keyring at PATH with the public part of FPR from SECRET, made
    as harness.keys makes a user's keyring"""
    keys.init_home(path)
    keys.gpg(path, "--import",
             input=keys.gpg(secret, "--armor", "--export", "--", fpr).stdout)
    for leftover in ("gpg.conf", "gpg-agent.conf"):
        os.unlink(os.path.join(path, leftover))
    keys.kill_agent(path)


def make_key(secret, uid, expire="never"):
    keys.init_home(secret)
    keys.gpg(secret, "--passphrase", "", "--quick-generate-key", uid,
             "future-default", "default", expire)
    fpr = keys.primary_fingerprint(secret, "=" + uid, secret=True)
    keys.kill_agent(secret)
    return fpr


def give(home, user):
    """HOME and everything in it to USER (after gpg ran as root on it)"""
    for root, dirs, files in os.walk(home):
        for name in [root] + [os.path.join(root, n) for n in dirs + files]:
            os.chown(name, user.uid, user.gid)


def same_size_keyring(work, ring):
    """(fingerprint, pubring.kbx) of a new key for dave whose public
    keyring has the size of RING (signatures vary by a few bytes: try a
    few keys), or (None, None)"""
    size = os.stat(ring).st_size
    for i in range(1, DAVE2_TRIES + 1):
        secret = os.path.join(work, "dave2-%d" % i)
        fpr = make_key(secret, "Dave <dave@%s>" % DOMAIN)
        public = os.path.join(work, "dave2-pub-%d" % i)
        new_public_home(public, secret, fpr)
        candidate = os.path.join(public, "pubring.kbx")
        if os.stat(candidate).st_size == size:
            return fpr, candidate
    return None, None


class Scenario:
    def __init__(self, inst, reaplog):
        self.inst = inst
        self.reaplog = reaplog
        self.n = 0
        self.steps = {}
        self.pids = set()

    def message(self, name, xkey=None):
        self.n += 1
        text = ("From: <sender@example.net>\nTo: <%s@%s>\n"
                "Subject: step %d\nMessage-ID: <kc-%d@example.net>\n"
                % (name, DOMAIN, self.n, self.n))
        if xkey:
            text += "X-Key: %s\n" % xkey
        return (text + "\nhello %s\n" % name).encode()

    def _reaped(self):
        with open(self.reaplog) as f:
            return f.read().splitlines()

    def deliver(self, step, name, xkey=None):
        """One message over one LMTP connection, recorded as STEP"""
        user = self.inst.users[name]
        log_mark = len(self.inst.log())
        reap_mark = len(self._reaped())
        before = set(message_files(user.maildir))
        error = None
        try:
            with self.inst.lmtp(timeout=120) as client:
                client.send(self.message(name, xkey), [user.address])
        except Exception as e:  # noqa: B902 (recorded, checked by tests)
            error = "LMTP: %r" % e
        # the reaper logs a gpg run when it ends, after the reply
        time.sleep(0.3)
        log = self.inst.log()[log_mark:]
        runs = sum(1 for line in self._reaped()[reap_mark:]
                   if " sieve-encrypt-g" in line)
        new = [f for f in message_files(user.maildir) if f not in before]
        self.pids.update(re.findall(r" lmtp\([^)]*\)<(\d+)>", log))
        self.steps[step] = Step(new[-1] if new else None, log, runs, error)
        return self.steps[step]


@pytest.fixture(scope="module")
def scenario(make_module_instance):
    inst = make_module_instance()
    inst.extra = {"2.3": ONE_PROCESS, "2.4": ONE_PROCESS}
    inst.add_user("alice", key="valid")
    inst.add_user("bob", key="valid")
    dave = inst.add_user("dave", key="valid")
    work = os.path.join(inst.dir, "keycache")
    os.mkdir(work)
    ring = os.path.join(dave.gnupghome, "pubring.kbx")
    dave2_fpr, dave2_ring = same_size_keyring(work, ring)
    inst.global_script(GLOBAL_SCRIPT)
    # carol last: her key expires CAROL_LIFETIME s from now
    carol = inst.add_user("carol")
    carol_secret = os.path.join(work, "carol")
    # the key's creation time lies between these two: deliver before the
    # earlier expiry, after the later one
    made = time.monotonic()
    carol_fpr = make_key(carol_secret, "Carol <carol@%s>" % DOMAIN,
                         "seconds=%d" % CAROL_LIFETIME)
    carol_valid_until = made + CAROL_LIFETIME
    carol_expires = time.monotonic() + CAROL_LIFETIME
    new_public_home(carol.gnupghome, carol_secret, carol_fpr)
    give(carol.gnupghome, carol)

    reaplog = os.path.join(inst.dir, "reaped.log")
    open(reaplog, "w").close()
    inst.lmtp_start(reaper_log=reaplog)
    s = Scenario(inst, reaplog)
    s.dave2_fpr = dave2_fpr

    # 0. gpgme's engine discovery (gpg --version), once per process
    s.deliver("bob-first", "bob")
    # 1. the same keyring twice
    s.deliver("alice-first", "alice")
    s.deliver("alice-second", "alice")
    # 2. another user's keyring, the same pattern
    s.deliver("bob-xkey-alice", "bob", "alice@" + DOMAIN)
    # 3. the keyring changes
    alice = inst.users["alice"]
    rev = os.path.join(alice.secret_home, "openpgp-revocs.d",
                       alice.key.fpr + ".rev")
    with open(rev, "rb") as f:
        # gpg prefixes the armor line against accidental import
        cert = f.read().replace(b":-----BEGIN", b"-----BEGIN")
    keys.gpg(alice.gnupghome, "--import", input=cert)
    keys.kill_agent(alice.gnupghome)
    give(alice.gnupghome, alice)
    s.deliver("alice-revoked", "alice")
    # 4. time alone
    if time.monotonic() < carol_valid_until:
        s.deliver("carol-before-expiry", "carol")
        time.sleep(max(0, carol_expires - time.monotonic()) + 2)
        s.deliver("carol-after-expiry", "carol")
    else:
        late = Step(error="set-up took too long: carol's key expired "
                    "before her first delivery")
        s.steps["carol-before-expiry"] = s.steps["carol-after-expiry"] = late
    # 5. same size, same mtime, other content
    s.deliver("dave-first", "dave")
    if dave2_fpr:
        old = os.stat(ring)
        with open(dave2_ring, "rb") as f:
            content = f.read()
        with open(ring, "r+b") as f:     # in place: the same inode
            f.write(content)
            f.truncate()
        os.utime(ring, ns=(old.st_atime_ns, old.st_mtime_ns))
        s.deliver("dave-rewritten", "dave")
    inst.lmtp_stop()
    return s


STEPS = [
    ("bob-first", None, "encrypted (and gpgme's engine discovery)"),
    ("alice-first", None, "encrypted"),
    ("alice-second", None, "encrypted"),
    ("bob-xkey-alice", "no public key for .alice@",
     "alice's listing does not answer for bob's keyring"),
    ("alice-revoked", "is revoked", "a changed keyring is listed again"),
    ("carol-before-expiry", None, "encrypted"),
    ("carol-after-expiry", "is expired",
     "a key that expired since the listing is not used"),
    ("dave-first", None, "encrypted"),
]


@pytest.mark.lmtp
@pytest.mark.parametrize("step,reason,what", STEPS,
                         ids=[s[0] for s in STEPS])
def test_step(scenario, step, reason, what):
    """REASON None: stored encrypted, the plugin's info line logged;
    else stored plain with REASON in the log"""
    got = scenario.steps[step]
    assert got.error is None, got.error
    if reason is None:
        assert got.encrypted() and "encrypted message to key" in got.log, \
            "%s: %s" % (what, got.describe())
    else:
        assert got.stored and not got.encrypted() and \
            re.search(reason, got.log), "%s: %s" % (what, got.describe())


@pytest.mark.lmtp
def test_cached_listing_spares_a_gpg_run(scenario):
    """alice: gpg ran twice (listing, encryption), then once"""
    first = scenario.steps["alice-first"].runs
    second = scenario.steps["alice-second"].runs
    assert (first, second) == (2, 1), \
        "%d, then %d runs of sieve-encrypt-gpg-exec" % (first, second)


@pytest.mark.lmtp
def test_keyring_rewritten_in_place_is_listed_again(scenario):
    """dave's keyring rewritten in place (same size and mtime): encrypted
    to the new key"""
    if not scenario.dave2_fpr:
        pytest.skip("no second keyring of the same size in %d tries"
                    % DAVE2_TRIES)
    got = scenario.steps["dave-rewritten"]
    assert got.encrypted() and ("encrypted message to key %s"
                                % scenario.dave2_fpr[-16:]) in got.log, \
        got.describe()


@pytest.mark.lmtp
def test_all_steps_in_one_lmtp_process(scenario):
    assert len(scenario.pids) == 1, "pids: %s" % sorted(scenario.pids)


@pytest.mark.lmtp
def test_no_panic_or_fatal(scenario):
    bad = re.findall(r".*(?:Panic|Fatal):.*", scenario.inst.log())
    assert not bad, bad[:2]
