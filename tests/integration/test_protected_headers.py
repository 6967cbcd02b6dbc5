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
import email.header
import email.parser
import email.policy
import html
import html.parser
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
    # test_legacy_display only, compared with "hide"
    "legacy": (":legacydisplay", {}, "hide-subject"),
}

# Every message with hide (which protects the headers too), the test
# messages also with protect
CASES_BY_MODE = [("hide", label) for label in sorted(MESSAGE_PATHS)] + [
    ("protect", label) for label in sorted(MESSAGE_PATHS)
    if label.startswith("messages/")]
CASES_LEGACY = [("legacy", label) for label in sorted(MESSAGE_PATHS)]

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


# The tests whose items say which messages each mode delivers
LABEL_TESTS = ("test_protected", "test_notmuch", "test_legacy_display")


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
    labels = {mode: selected_labels(request, mode, LABEL_TESTS)
              for mode in MODES}
    # test_legacy_display compares with "hide"
    labels["hide"] = sorted(set(labels["hide"]) | set(labels["legacy"]))
    made = {mode: Run(make_module_instance, mode, labels[mode])
            for mode in MODES}
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
                     "sieve_encrypt_hide_subject": "no",
                     "sieve_encrypt_legacy_display": "no"}, **settings))
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


# ---------------------------------------------------------------------------
# Legacy display elements (RFC 9788 section 4.5.3): :legacydisplay and
# sieve_encrypt_legacy_display

LEGACY_PARAM_RE = re.compile(rb'protected-headers="v1";(\r?\n) '
                             rb'hp-legacy-display="1"')
LEGACY_DIV = b'<div class="header-protection-legacy-display">'
LEGACY_PLAIN_RE = re.compile(rb'(?:Subject: [^\r\n]*(\r?\n))+\1')
LEGACY_HTML_RE = re.compile(re.escape(LEGACY_DIV) + rb'(\r?\n)'
                            rb'(?:<pre>Subject: [^\r\n]*</pre>\1)+</div>\1')
NO_ELEMENT = "encrypt action: no legacy display element: "


def legacy_insertion(hidden, legacy):
    """How the payload LEGACY (:legacydisplay) differs from HIDDEN
    (:hidesubject) of the same message: (kind, element) with kind
    "plain" or "html", or (None, None) when they are the same. Raises
    Mismatch for any other difference: the header must be HIDDEN's with
    ';' newline 'hp-legacy-display="1"' after protected-headers="v1",
    the body HIDDEN's with one element inserted, at its start (text/plain:
    Subject lines and a blank line) or after a <body> tag (text/html:
    the div)"""
    if hidden == legacy:
        return None, None
    h, g = pgpmime.Message(hidden), pgpmime.Message(legacy)
    head_h = b"".join(h.fields)
    head_g = b"".join(g.fields)
    m = LEGACY_PARAM_RE.search(head_g)
    if m is None or LEGACY_PARAM_RE.search(head_g, m.end()) is not None:
        raise pgpmime.Mismatch("not one hp-legacy-display parameter")
    cut = m.start() + len(b'protected-headers="v1"')
    pgpmime.compare("header without hp-legacy-display",
                    head_g[:cut] + head_g[m.end():], head_h)
    if g.separator != h.separator:
        raise pgpmime.Mismatch("separator differs")
    body_h, body_g = h.body, g.body
    at = body_g.find(LEGACY_DIV)
    if at >= 0 and body_g[:at].endswith(b">") and \
            re.search(rb"<body", body_g[:at], re.I):
        kind, m = "html", LEGACY_HTML_RE.match(body_g, at)
    else:
        kind, at, m = "plain", 0, LEGACY_PLAIN_RE.match(body_g)
    if m is None:
        raise pgpmime.Mismatch("no %s element in %r" % (kind,
                                                          body_g[:200]))
    pgpmime.compare("body without the element",
                    body_g[:at] + body_g[m.end():], body_h)
    return kind, m.group(0)


def subject_text(field, utf8):
    """What the element says for a Subject field (vnd.x.encrypt.txt):
    the value unfolded and trimmed, encoded words decoded when that
    gives ASCII (or UTF-8 fits), else as they are"""
    raw = re.sub(rb"\r?\n", b"", field[field.index(b":") + 1:])
    raw = raw.strip(b" \t")
    if raw.isascii():
        decoded = str(email.header.make_header(
            email.header.decode_header(raw.decode("ascii"))))
    else:
        # RFC 6532 UTF-8 (Dovecot's decoder replaces invalid bytes)
        decoded = raw.decode("utf-8", "replace")
    decoded = re.sub(r"[\x00-\x1f\x7f]", " ", decoded)
    if utf8 or decoded.isascii():
        return decoded.encode("utf-8")
    return raw


def hidden_subjects(original):
    orig = pgpmime.Message(original)
    return [f for f in pgpmime.shown_protected(orig)
            if pgpmime.is_subject(f)]


def outer_but_type(stored):
    return b"".join(f for f in pgpmime.Message(stored).fields
                    if hp.name_of(f) != b"content-type")


def decrypted(r, label):
    """(original without a From line, the decrypted payload or None when
    stored unchanged, stored bytes, Delivery)"""
    original, _, stored, d = stored_of(r, label)
    if stored == pgpmime.crlf_to_lf(original):
        return original, None, stored, d
    plain, _ = pgpmime.gpg_decrypt(r.home, armored_part(stored))
    return original, plain, stored, d


@pytest.mark.parametrize("mode,label", CASES_LEGACY)
def test_legacy_display(runs, mode, label):
    """:legacydisplay on LABEL: the payload is the :hidesubject one
    (which test_protected checks byte for byte), with either nothing
    added (and the reason logged) or exactly one element and the
    parameter (see legacy_insertion()), whose lines are the hidden
    Subject fields; the outer header is the :hidesubject one"""
    original, legacy, stored_g, d = decrypted(runs[mode], label)
    _, hidden, stored_h, _ = decrypted(runs["hide"], label)
    if hidden is None:
        assert legacy is None, "encrypted with :legacydisplay only"
        return
    assert legacy is not None, "not encrypted with :legacydisplay"
    pgpmime.compare("outer header (but the boundary)",
                    outer_but_type(stored_g), outer_but_type(stored_h))
    kind, element = legacy_insertion(hidden, legacy)
    if kind is None:
        assert NO_ELEMENT in d.log, "no element, no reason logged"
        return
    assert NO_ELEMENT not in d.log
    lines = re.findall(rb"Subject: ([^\r\n]*?)(?:</pre>)?\r?\n", element)
    subjects = hidden_subjects(original)
    assert len(lines) == len(subjects), (lines, subjects)
    for line, field in zip(lines, subjects):
        if b"=?" not in field and b"\t" not in field and \
                b"&" not in field and b"<" not in field:
            assert line == subject_text(field, True), (line, field)


def test_legacy_display_counts(runs):
    """Prints how many of the messages delivered with :legacydisplay got
    an element and the reasons for none (pytest -rA shows it); with
    messages of both kinds selected, at least one of each"""
    r = runs["legacy"]
    counts = {}
    for label in sorted(r.deliveries.futures):
        message, d = r.deliveries.result(label)
        m = re.search(re.escape(NO_ELEMENT) + r"([^\n]*)", d.log)
        if m is not None:
            key = "none: " + re.sub(r"(charset|is|Encoding) \S+$",
                                    r"\1 ...", m.group(1))
        elif "encrypt action: encrypted" in d.log:
            key = "element"
        else:
            key = "not encrypted"
        counts[key] = counts.get(key, 0) + 1
    for key in sorted(counts):
        print("%5d %s" % (counts[key], key))
    if len(r.deliveries.futures) > 10:
        assert counts.get("element") and len(counts) > 2, counts


# Messages with a known outcome: name -> (message, kind or the reason)
LEGACY_CASES = {
    "plain": (MESSAGE, "plain"),
    "plain-utf8-crlf": (
        b"From: Bob <bob@example.net>\r\n"
        b"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?= zum\r\n Quartal\r\n"
        b"MIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=utf-8; format=flowed\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n"
        b"\r\n"
        b"Hallo \xc3\xa4\r\n", "plain"),
    "plain-encoded-ascii": (
        b"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\n"
        b"Content-Type: text/plain; charset=iso-8859-1\n\nHallo\n",
        "plain"),
    "html": (
        b"From: Bob <bob@example.net>\n"
        b"Subject: =?utf-8?q?Plan_<b>_&_=C3=BC?=\n"
        b"MIME-Version: 1.0\n"
        b"Content-Type: text/html; charset=utf-8\n"
        b"\n"
        b"<!DOCTYPE html>\n<html><head><title>t</title>"
        b"<!-- <body> --></head>\n"
        b"<body style=\"margin:0\"><p>Secret text.</p></body></html>\n",
        "html"),
    "multipart": (b"Subject: s\nMIME-Version: 1.0\n"
                  b"Content-Type: multipart/alternative; boundary=b\n\n"
                  b"--b\nContent-Type: text/plain\n\nx\n"
                  b"--b\nContent-Type: text/html\n\n<p>x</p>\n--b--\n",
                  "the body is multipart/alternative"),
    "quoted-printable": (
        b"Subject: s\nContent-Type: text/plain\n"
        b"Content-Transfer-Encoding: quoted-printable\n\na=3Db\n",
        "Content-Transfer-Encoding quoted-printable"),
    "base64": (
        b"Subject: s\nContent-Type: text/plain\n"
        b"Content-Transfer-Encoding: base64\n\nYWI=\n",
        "Content-Transfer-Encoding base64"),
    "html-no-body": (
        b"Subject: s\nContent-Type: text/html\n\n<p>no body tag</p>\n",
        "text/html without a <body> tag"),
    "no-subject": (
        b"From: f\nContent-Type: text/plain\n\nx\n",
        "the message has no Subject"),
}


def legacy_element_expected(message, kind):
    """The element for MESSAGE of KIND, from its Subject fields"""
    orig = pgpmime.Message(message)
    nl = orig.newline
    ctype = email.parser.BytesParser(policy=email.policy.compat32) \
        .parsebytes(message)
    utf8 = (ctype.get_content_charset() == "utf-8" and
            (ctype.get("Content-Transfer-Encoding") or "7bit").lower()
            in ("8bit", "binary"))
    subjects = hidden_subjects(message)
    if kind == "plain":
        return b"".join(b"Subject: " + subject_text(f, utf8) + nl
                        for f in subjects) + nl
    lines = []
    for f in subjects:
        text = subject_text(f, True).decode("utf-8")
        text = html.escape(text, quote=True).replace("&#x27;", "'")
        text = "".join(c if ord(c) < 0x80 else "&#x%x;" % ord(c)
                       for c in text)
        lines.append(b"<pre>Subject: " + text.encode() + b"</pre>" + nl)
    return LEGACY_DIV + nl + b"".join(lines) + b"</div>" + nl


class BodyStart(html.parser.HTMLParser):
    """The first element inside <body> and its text"""

    def __init__(self):
        super().__init__()
        self.in_body, self.first, self.depth, self.text = False, None, 0, ""

    def handle_starttag(self, tag, attrs):
        if tag == "body":
            self.in_body = True
        elif self.in_body and self.first is None:
            self.first = (tag, dict(attrs))
            self.depth = 1
        elif self.depth:
            self.depth += 1

    def handle_endtag(self, tag):
        if self.depth:
            self.depth -= 1

    def handle_data(self, data):
        if self.depth:
            self.text += data


@pytest.mark.parametrize("case", sorted(LEGACY_CASES))
def test_legacy_display_cases(single, case):
    """:legacydisplay on messages with a known outcome: the exact element
    (from the Subject, see legacy_element_expected()) and the parameter
    as Python's email parser reads it, the body after the element byte
    for byte, a text/html element the first element of <body>; or no
    element, the payload that of :hidesubject, and the reason logged"""
    message, want = LEGACY_CASES[case]
    home = single.users["alice"].secret_home
    stored_h, _ = deliver(single, message, ":hidesubject", {},
                          "legacy-%s-h" % case)
    stored, d = deliver(single, message, ":legacydisplay", {},
                        "legacy-%s" % case)
    assert pgpmime.Message(stored).values("Subject") in ([], [b" [...]"])
    hidden, _ = pgpmime.gpg_decrypt(home, armored_part(stored_h))
    plain, _ = pgpmime.gpg_decrypt(home, armored_part(stored))
    kind, element = legacy_insertion(hidden, plain)
    if want not in ("plain", "html"):
        assert kind is None, "an element for %s" % case
        assert NO_ELEMENT + want in d.log, d.log[-500:]
        return
    assert kind == want, kind
    assert element == legacy_element_expected(message, kind)
    payload = email.parser.BytesParser(policy=email.policy.compat32) \
        .parsebytes(plain)
    assert payload.get_param("hp-legacy-display") == "1"
    assert payload.get_param("hp") == "cipher"
    orig = pgpmime.Message(message)
    body = pgpmime.Message(plain).body
    if kind == "plain":
        assert body == element + orig.body
    else:
        at = body.index(LEGACY_DIV)
        assert body[:at] + body[at + len(element):] == orig.body
        start = BodyStart()
        start.feed(body.decode("utf-8"))
        assert start.first == ("div", {
            "class": "header-protection-legacy-display"}), start.first
        want_text = "".join(
            "Subject: %s\n" % subject_text(f, True).decode()
            for f in hidden_subjects(message))
        assert start.text.replace("\r\n", "\n").strip("\n") == \
            want_text.strip("\n"), start.text


def test_legacy_display_setting(single):
    """sieve_encrypt_legacy_display = yes without tags: the element, the
    Subject hidden; = no with :hidesubject (the default): none, as in
    test_tags_and_settings"""
    home = single.users["alice"].secret_home
    stored, _ = deliver(single, MESSAGE, "",
                        {"sieve_encrypt_legacy_display": "yes"},
                        "legacy-setting")
    assert pgpmime.Message(stored).values("Subject") == [b" [...]"]
    plain, _ = pgpmime.gpg_decrypt(home, armored_part(stored))
    assert b'hp-legacy-display="1"' in plain
    assert pgpmime.Message(plain).body == \
        b"Subject: The secret plan\n\n" + pgpmime.Message(MESSAGE).body
    stored, _ = deliver(single, MESSAGE, ":hidesubject", {},
                        "legacy-default")
    plain, _ = pgpmime.gpg_decrypt(home, armored_part(stored))
    assert b"hp-legacy-display" not in plain
    assert pgpmime.Message(plain).body == pgpmime.Message(MESSAGE).body
