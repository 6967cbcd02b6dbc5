# Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
"""Header protection (RFC 9788): `encrypt :protectheaders`,
`:hidesubject` and the settings sieve_encrypt_protect_headers and
sieve_encrypt_hide_subject, through the real dovecot-lda.

Every message of tests/messages and of the corpus (as in
test_roundtrip.py) is delivered in mode "hide" (no tag,
sieve_encrypt_hide_subject = yes), those of tests/messages also in mode
"protect" (the tag :protectheaders in the script), to a Dovecot instance
of its own per mode. ("protect" differs from "hide" only in the Subject;
both for the corpus would double the module's time.) For each stored
message (test_protected[MODE-LABEL]):

- the verifier (harness/pgpmime.py, verify() with protect=): the outer
  header is the original's but, with hide, one "Subject: [...]" for its
  Subject fields; the decrypted payload is byte for byte the entity with
  the protection that the verifier computes on its own (copies of the
  user-facing fields, HP-Outer, the parameters on each Content-Type);
  the logged sizes; a message encrypted already is stored unchanged;
- (a) harness/hp.py strip(): the payload without the added fields and
  parameters is exactly the entity that the plugin encrypts without
  protection;
- (b) harness/hp.py check_rules(): RFC 9788's rules on the payload
  (hp="cipher", protected-headers="v1" as Python's parser reads them, the
  copies equal the original's fields, HP-Outer equals the stored outer
  header, what differs is the Subject with hide and nothing without).

test_notmuch[MODE-LABEL]: notmuch (`notmuch show --decrypt=true
--format=json`, a database of its own over the stored message, alice's
secret key in GNUPGHOME) shows as Subject what it shows for the
original (its reference form, see reference() below); with hide, it says
that the Subject outside, which it replaced, was "[...]" (its
"header-mask"). Messages whose entity is a cryptographic layer
itself (multipart/signed, multipart/encrypted, S/MIME, PGP/MIME mixed up
by Exchange, which notmuch repairs) are skipped there: notmuch takes the
part inside for the payload, which carries no protected headers (see
doc/design.md, "Signed entities").

The other tests: the tags and settings one by one (and no protection
without them), a message encrypted already stays as it is, the status
header field stays in the outer header only."""

import concurrent.futures
import email.parser
import email.policy
import json
import re
import tempfile
import threading

import pytest

from conftest import read_message
from harness import hp, pgpmime
from test_readers import FIELD_RE, armored_part, notmuch_index, run
from test_roundtrip import MESSAGE_PATHS, Deliveries

ENCRYPT_TAGS = '''require ["vnd.x.encrypt", "envelope", "variables"];
if envelope :matches "to" "*" {
  encrypt %s "${1}";
}'''

# mode -> (tags of the script, plugin settings, verifier's protect)
MODES = {
    "protect": (":protectheaders", {}, "headers"),
    "hide": ("", {"sieve_encrypt_hide_subject": "yes"}, "hide-subject"),
}

# Every message with hide (which protects the headers too), the test
# messages also with protect
CASES_BY_MODE = [("hide", label) for label in sorted(MESSAGE_PATHS)] + [
    ("protect", label) for label in sorted(MESSAGE_PATHS)
    if label.startswith("messages/")]

MESSAGE = b"""From: Bob <bob@example.net>
To: Alice <alice@example.org>
Subject: The secret plan
Date: Mon, 04 Mar 2024 10:00:00 +0100
Message-ID: <hp-1@example.net>
MIME-Version: 1.0
Content-Type: text/plain; charset=us-ascii

Secret text.
"""


def without_from_line(data):
    if data.startswith(b"From "):
        nl = data.find(b"\n")
        return data[nl + 1:] if nl >= 0 else b""
    return data


def selected_labels(request, mode, tests=("test_protected",
                                         "test_notmuch")):
    return sorted(set(
        item.callspec.params["label"] for item in request.session.items
        if item.module is request.module
        and item.originalname in tests
        and item.callspec.params["mode"] == mode))


class Run:
    """One mode: its instance and its deliveries"""

    def __init__(self, make, mode, labels):
        tags, settings, self.protect = MODES[mode]
        self.inst = make()
        self.inst.add_user("alice", key="valid")
        if settings:
            self.inst.set(**settings)
        self.inst.global_script(ENCRYPT_TAGS % tags)
        self.deliveries = Deliveries(self.inst, labels)
        self.home = self.inst.users["alice"].secret_home
        self.dir = tempfile.mkdtemp(prefix="notmuch.", dir=self.inst.dir)


@pytest.fixture(scope="module")
def runs(request, make_module_instance):
    made = {mode: Run(make_module_instance, mode,
                      selected_labels(request, mode)) for mode in MODES}
    # notmuch's readings in the background, after the deliveries
    made["notmuch"] = NotmuchReads(made)
    for mode in MODES:
        for label in selected_labels(request, mode, ("test_notmuch",)):
            made["notmuch"].submit(mode, label)
    yield made
    made.pop("notmuch").close()
    for r in made.values():
        r.deliveries.close()
        r.inst.kill_agents()


def stored_of(r, label):
    """(original without a From line, stored bytes, Delivery)"""
    message, d = r.deliveries.result(label)
    assert d.rc == 0 and len(d.new_files) == 1, \
        "delivery failed (exit %d, %d files): %s" % (
            d.rc, len(d.new_files), d.stderr[-300:])
    with open(d.stored, "rb") as f:
        stored = f.read()
    return without_from_line(message), message, stored, d


def check_payload(original, stored, home, protect):
    """(a) and (b) of the module doc on a stored encrypted message;
    returns the payload"""
    orig = pgpmime.Message(original)
    plain, _ = pgpmime.gpg_decrypt(home, armored_part(stored))
    unprotected = pgpmime.expected_entity(orig)
    pgpmime.compare("payload without the protection",
                    hp.strip(plain, unprotected), unprotected)
    hp.check_rules(plain, stored, original, protect == "hide-subject")
    return plain


@pytest.mark.parametrize("mode,label", CASES_BY_MODE)
def test_protected(runs, mode, label):
    """What was stored for LABEL in MODE: see the module doc"""
    r = runs[mode]
    original, message, stored, d = stored_of(r, label)
    result = pgpmime.verify(message, stored, r.home, "auto", set(), False,
                            d.plugin_sizes(), protect=r.protect)
    if result.startswith("unchanged"):
        return
    check_payload(original, stored, r.home, r.protect)


def reference(original):
    """The original as notmuch should show it: its header reduced to the
    lines that are RFC 5322 fields (as in test_readers.py), but a field of
    a protected name in obsolete syntax ("Subject :") as the plugin
    copies it ("Subject:")"""
    orig = pgpmime.Message(original)
    shown = pgpmime.shown_protected(orig)
    fields = [pgpmime.protected_copy(orig, f) if f in shown else f
              for f in orig.fields]
    fields = [f for f in fields if FIELD_RE.match(f)]
    return b"".join(fields) + (orig.separator or orig.newline) + orig.body


def notmuch_message(env, decrypt):
    """The one message of a notmuch database, as notmuch show's JSON"""
    proc = run(["notmuch", "show", "--format=json",
                "--decrypt=%s" % ("true" if decrypt else "false"),
                "--entire-thread=false", "*"], env=env)
    assert proc.returncode == 0, "notmuch show (exit %d): %s" % (
        proc.returncode, proc.stderr[-300:])
    shown = json.loads(proc.stdout.decode("utf-8", "replace"))
    return shown[0][0][0]


# Entities that are a cryptographic layer themselves: notmuch (as RFC
# 9788) takes the part inside them for the payload, which has no
# protected fields
CRYPTO_LAYERS = ("multipart/signed", "multipart/encrypted",
                 "application/pkcs7-mime", "application/x-pkcs7-mime",
                 "mixed-up PGP/MIME")


# PGP/MIME that Microsoft Exchange mixed up: notmuch repairs it into
# multipart/encrypted (util/repair.c), a layer as above
MIXED_UP = ["text/plain", "application/pgp-encrypted",
            "application/octet-stream"]


def entity_type(original):
    """The entity's type, "mixed-up PGP/MIME" for the form above"""
    ctype, _, _ = pgpmime.mime_info(pgpmime.Message(original))
    ctype = (ctype or "text/plain").lower()
    if ctype == "multipart/mixed":
        msg = email.parser.BytesParser(policy=email.policy.compat32) \
            .parsebytes(original)
        if msg.is_multipart() and [p.get_content_type() for p in
                                   msg.get_payload()] == MIXED_UP:
            return "mixed-up PGP/MIME"
    return ctype


class NotmuchReads:
    """notmuch's readings, in the background (a database per message and
    mode: corpus messages share Message-IDs, which notmuch merges): the
    original's reference form once per message, the stored message per
    mode; each job waits for its delivery"""

    def __init__(self, runs):
        self.runs = runs
        self.pool = concurrent.futures.ThreadPoolExecutor(4)
        self.refs, self.reads = {}, {}
        self.lock = threading.Lock()

    def submit(self, mode, label):
        """(future of the reference's Subject, of the stored message's
        readings)"""
        with open(MESSAGE_PATHS[label], "rb") as f:
            if entity_type(without_from_line(f.read())) in CRYPTO_LAYERS:
                return None, None
        with self.lock:
            if label not in self.refs:
                self.refs[label] = self.pool.submit(self._ref, mode, label)
            if (mode, label) not in self.reads:
                self.reads[(mode, label)] = self.pool.submit(
                    self._read, mode, label)
            return self.refs[label], self.reads[(mode, label)]

    def _ref(self, mode, label):
        """The Subject that notmuch shows for the reference form, or
        ("skip", why)"""
        r = self.runs[mode]
        with open(MESSAGE_PATHS[label], "rb") as f:
            original = without_from_line(f.read())
        store = re.sub(r"[^A-Za-z0-9._-]", "_", label) + ".ref"
        env = notmuch_index(r, store, reference(original))
        if env is None:
            return ("skip", "notmuch takes the original for no mail")
        try:
            return notmuch_message(env, False)["headers"].get("Subject")
        except AssertionError:
            return ("skip", "notmuch show fails on the original")

    def _read(self, mode, label):
        """notmuch's reading of the stored message, decrypted"""
        r = self.runs[mode]
        _, _, stored, _ = stored_of(r, label)
        store = re.sub(r"[^A-Za-z0-9._-]", "_", label)
        env = notmuch_index(r, store, stored)
        assert env is not None, "notmuch takes the stored message for " \
            "no mail"
        return notmuch_message(env, True)

    def close(self):
        self.pool.shutdown(wait=True, cancel_futures=True)


@pytest.mark.parametrize("mode,label", CASES_BY_MODE)
def test_notmuch(runs, mode, label):
    """notmuch shows the protected Subject of LABEL in MODE (see the
    module doc)"""
    r = runs[mode]
    original, _, stored, d = stored_of(r, label)
    if stored == pgpmime.crlf_to_lf(original):
        pytest.skip("stored unchanged (encrypted already)")
    if entity_type(original) in CRYPTO_LAYERS:
        pytest.skip("%s entity: notmuch's payload is inside it"
                    % entity_type(original))
    ref, read = runs["notmuch"].submit(mode, label)
    expected = ref.result()
    if isinstance(expected, tuple):
        pytest.skip(expected[1])
    shown = read.result()
    decrypted = (shown.get("crypto") or {}).get("decrypted") or {}
    assert decrypted.get("status") == "full", \
        "notmuch did not decrypt: %r" % (shown.get("crypto"),)
    assert shown["headers"].get("Subject") == expected, \
        "notmuch shows Subject %r, expected %r" % (
            shown["headers"].get("Subject"), expected)
    if r.protect == "hide-subject" and pgpmime.outer_subject_in_place(
            pgpmime.Message(original)):
        # what notmuch read outside, in place of the protected Subject
        assert decrypted.get("header-mask", {}).get("Subject") == "[...]", \
            "header-mask %r" % (decrypted.get("header-mask"),)


# ---------------------------------------------------------------------------
# Tags and settings one by one

CASES = {
    # name: (tags, settings, protect)
    "tag-hidesubject": (":hidesubject", {}, "hide-subject"),
    "tag-both": (":protectheaders :hidesubject", {}, "hide-subject"),
    "setting-protect": ("", {"sieve_encrypt_protect_headers": "yes"},
                        "headers"),
    "setting-protect-tag-hide": (
        ":hidesubject", {"sieve_encrypt_protect_headers": "yes"},
        "hide-subject"),
    "none": ("", {}, None),
}


@pytest.fixture(scope="module")
def single(make_module_instance):
    inst = make_module_instance()
    inst.add_user("alice", key="valid")
    yield inst
    inst.kill_agents()


def deliver(inst, message, tags, settings, store):
    inst.settings = {}
    inst.set(**dict({"sieve_encrypt_protect_headers": "no",
                     "sieve_encrypt_hide_subject": "no"}, **settings))
    inst.global_script(ENCRYPT_TAGS % tags)
    d = inst.lda("alice", message, store=store)
    assert d.rc == 0 and len(d.new_files) == 1, d.stderr[-300:]
    with open(d.stored, "rb") as f:
        return f.read(), d


@pytest.mark.parametrize("case", sorted(CASES))
def test_tags_and_settings(single, case):
    """Each way to turn protection on gives what the verifier expects;
    without any, the payload is the unprotected entity and the Subject
    stays"""
    tags, settings, protect = CASES[case]
    stored, d = deliver(single, MESSAGE, tags, settings, case)
    result = pgpmime.verify(MESSAGE, stored, single.users["alice"].secret_home,
                            "encrypted", set(), False, d.plugin_sizes(),
                            protect=protect)
    assert result.startswith("encrypted"), result
    outer = pgpmime.Message(stored)
    subjects = outer.values("Subject")
    if protect == "hide-subject":
        assert subjects == [b" [...]"], subjects
        assert b"The secret plan" not in stored
    else:
        assert subjects == [b" The secret plan"], subjects
    plain, _ = pgpmime.gpg_decrypt(single.users["alice"].secret_home,
                                   armored_part(stored))
    if protect is None:
        assert b"HP-Outer" not in plain and b"hp=" not in plain
    else:
        check_payload(MESSAGE, stored, single.users["alice"].secret_home,
                      protect)


def test_already_encrypted(single):
    """A message encrypted already stays as it is, Subject included"""
    message = read_message("09-pgp-mime-encrypted.eml")
    stored, d = deliver(single, message, ":hidesubject", {}, "already")
    assert stored == pgpmime.crlf_to_lf(message)


def test_status_header_outer_only(single):
    """The status header field is in the outer header, not in the
    payload"""
    name = "X-Encrypt-Status"
    stored, d = deliver(single, MESSAGE, ":hidesubject",
                        {"sieve_encrypt_status_header": name}, "status")
    home = single.users["alice"].secret_home
    result = pgpmime.verify(MESSAGE, stored, home, "encrypted", set(),
                            False, d.plugin_sizes(),
                            status=(name, "encrypted"),
                            protect="hide-subject")
    assert result.startswith("encrypted"), result
    plain, _ = pgpmime.gpg_decrypt(home, armored_part(stored))
    assert name.encode() not in plain
    assert b"HP-Outer: Subject: [...]" in plain
