# Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
"""Every message that `encrypt` stored encrypted, read by the OpenPGP
implementations and mail readers that users have: decrypted with gpg,
Sequoia (`sq`) and RNP (`rnp`), each must give the payload the plugin
encrypted (byte for byte: the original entity, by the verifier's rule in
harness/pgpmime.py); read by notmuch (`notmuch show --decrypt=true
--format=json`, GMime) and by Python's email parser with the strict
policy (email.policy.strict: every defect is an error) on the payload,
each must show the same MIME structure as the same reader shows for the
original (the strict parser: or fail on the same defect, such as a
missing final boundary). The python-strict reader also reads the stored
message with Python's parser, which ends the header at the first line
that is no field, as strict readers do: it must see RFC 3156's
multipart/encrypted there.

"The MIME structure": the tree of MIME entities, each given by its
content type as the reader resolves it (type/subtype in lower case,
defaults included: no or an unparseable Content-Type is text/plain, in a
multipart/digest message/rfc822) and, for a multipart, the list of its
children in order (none for a multipart without a usable boundary);
message/rfc822 parts are not descended into. "The original": its
reference form, the original with a leading mbox "From " line removed
(dovecot-lda takes it as envelope) and its header reduced to the lines
that are RFC 5322 fields (a name of printable US-ASCII, no white space,
directly followed by ':'), as Python's parser tells them; the lines that
are no field are set aside, as the plugin keeps them out of the
entity's header (see doc/extensions/vnd.x.encrypt.txt). notmuch reads
the reference form from a database of its own; a message that it takes
for no mail, or crashes on (GMime bugs that malformed corpus messages
hit), in its reference form is skipped for notmuch.

The messages: tests/messages and the corpus (as in test_roundtrip.py).
Each is delivered once per module through the real dovecot-lda (to
alice, encrypted to her key; from a regular file, where test_roundtrip.py
pipes it), in the background; the gpg reader also runs the whole
verifier (harness/pgpmime.py: outer header, line ends, logged sizes).
test_reader[READER-
LABEL] checks the stored file with one reader, so that the summary counts
each reader's passes. A message stored unchanged (encrypted already) is
skipped: there is nothing of ours to read."""

import email.parser
import email.policy
import json
import os
import re
import shutil
import subprocess
import tempfile

import pytest

from conftest import ENCRYPT_TO_RECIPIENT
from harness import pgpmime
from test_roundtrip import MESSAGE_PATHS, Deliveries

READERS = ("gpg", "sq", "rnp", "notmuch", "python-strict")

# A line that Python's email parser takes for a header field
# (email.feedparser.headerRE, without the continuation and "From ")
FIELD_RE = re.compile(rb"^[\041-\071\073-\176]+:")


def selected_labels(request):
    """The messages of the test_reader items selected in this run"""
    return sorted(set(item.callspec.params["label"]
                      for item in request.session.items
                      if item.module is request.module
                      and item.originalname == "test_reader"))


class FileDeliveries(Deliveries):
    """Deliveries as in test_roundtrip.py, but each message given to
    dovecot-lda as a regular file on its standard input, not a pipe: the
    mail stream is then the file's, with a smaller buffer (a CRLF message
    with a 7 KB first line got LF lines from the plugin this way, and
    not through a pipe)"""

    def _deliver(self, label):
        with open(MESSAGE_PATHS[label], "rb") as f:
            message = f.read()
        store = re.sub(r"[^A-Za-z0-9._-]", "_", label)
        path = self.inst.message_file(message, store)
        return message, self.inst.lda("alice", message, store=store,
                                      log_name=store + ".log",
                                      message_file=path)


class Readers:
    """The secret key of alice as each reader wants it"""

    def __init__(self, inst, directory):
        self.home = inst.users["alice"].secret_home
        self.dir = directory
        self.key_file = os.path.join(directory, "alice.sec.asc")
        secret = subprocess.run(
            ["gpg", "--homedir", self.home, "--batch", "--armor",
             "--pinentry-mode", "loopback", "--passphrase", "",
             "--export-secret-keys"], stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, check=True).stdout
        assert secret, "no secret key exported from %s" % self.home
        with open(self.key_file, "wb") as f:
            f.write(secret)


@pytest.fixture(scope="module")
def readers(request, make_module_instance):
    inst = make_module_instance()
    inst.add_user("alice", key="valid")
    inst.global_script(ENCRYPT_TO_RECIPIENT)
    directory = tempfile.mkdtemp(prefix="readers.", dir=inst.dir)
    deliveries = FileDeliveries(inst, selected_labels(request))
    yield deliveries, Readers(inst, directory)
    deliveries.close()
    inst.kill_agents()


def run(argv, data=None, env=None, timeout=120):
    return subprocess.run(argv, input=data, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, env=env, timeout=timeout)


def armored_part(stored):
    """The ASCII armor of the stored message's second part"""
    m = re.search(rb"-----BEGIN PGP MESSAGE-----.*?"
                  rb"-----END PGP MESSAGE-----\n", stored, re.S)
    assert m, "no ASCII-armored PGP message in the stored file"
    return m.group(0)


def sq_key_option():
    """--recipient-file (sq 1.x, Debian 13), --recipient-key (0.x)"""
    help_text = run(["sq", "decrypt", "--help"]).stdout
    return ("--recipient-file" if b"--recipient-file" in help_text
            else "--recipient-key")


def decrypt(reader, readers, armored):
    if reader == "gpg":
        plain, _ = pgpmime.gpg_decrypt(readers.home, armored)
        return plain
    if reader == "sq":
        argv = ["sq", "decrypt", sq_key_option(), readers.key_file]
    else:
        argv = ["rnp", "--homedir", readers.dir, "--keyfile",
                readers.key_file, "--decrypt", "--output", "-"]
    proc = run(argv, armored)
    assert proc.returncode == 0, "%s failed (exit %d): %s" % (
        reader, proc.returncode, proc.stderr.decode(errors="replace")[-300:])
    return proc.stdout


def structure(msg):
    """The MIME structure of a Python email message (see above)"""
    ctype = msg.get_content_type()
    if msg.get_content_maintype() == "multipart":
        # (no children: a multipart without a usable boundary)
        return (ctype, [structure(part) for part in msg.get_payload()]
                if msg.is_multipart() else [])
    return ctype


def reference(original):
    """The original as the readers should see it: see the module doc"""
    if original.startswith(b"From "):
        nl = original.find(b"\n")
        original = original[nl + 1:] if nl >= 0 else b""
    orig = pgpmime.Message(original)
    fields = [f for f in orig.fields if FIELD_RE.match(f)]
    return b"".join(fields) + (orig.separator or orig.newline) + orig.body


def notmuch_structure(part):
    """The structure of a part of notmuch's JSON output"""
    ctype = part.get("content-type", "").lower()
    if ctype.startswith("multipart/"):
        return (ctype, [notmuch_structure(p)
                        for p in part.get("content", [])])
    return ctype


def notmuch_index(readers, name, data):
    """A notmuch database of its own holding DATA as its one message;
    returns its environment, or None when notmuch takes DATA for no mail
    ("Ignoring non-mail file")"""
    base = os.path.join(readers.dir, re.sub(r"[^A-Za-z0-9._-]", "_", name))
    maildir = os.path.join(base, "mail")
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(maildir, sub), exist_ok=True)
    with open(os.path.join(maildir, "cur", "1:2,"), "wb") as f:
        f.write(data)
    config = os.path.join(base, "notmuch-config")
    with open(config, "w") as f:
        f.write("[database]\npath=%s\n[new]\ntags=\n[user]\n"
                "name=Alice\nprimary_email=alice@example.org\n" % maildir)
    env = dict(os.environ, NOTMUCH_CONFIG=config, GNUPGHOME=readers.home)
    env.pop("NOTMUCH_PROFILE", None)
    proc = run(["notmuch", "new"], env=env)
    assert proc.returncode == 0, "notmuch new (exit %d): %s" % (
        proc.returncode, proc.stderr[-300:])
    if b"Ignoring non-mail file" in proc.stderr:
        return None
    assert b"Added 1 new message" in proc.stdout, proc.stdout[-300:]
    return env


def notmuch_show(env):
    """(exit code, stderr, the one message's body parts)"""
    proc = run(["notmuch", "show", "--format=json", "--decrypt=true",
                "--entire-thread=false", "*"], env=env)
    err = proc.stderr.decode(errors="replace")
    if proc.returncode != 0:
        return proc.returncode, err, None
    # notmuch passes on bytes that are no UTF-8 (8-bit headers)
    shown = json.loads(proc.stdout.decode("utf-8", "replace"))
    # [[ [message, [replies]] ]]: one thread, one message
    return 0, err, shown[0][0][0]["body"]


def read_notmuch(readers, label, stored, original):
    """(notmuch's structure of the decrypted payload, of the original's
    reference form); skips when notmuch cannot read the reference form
    either (takes it for no mail, or crashes on it)"""
    ref = notmuch_index(readers, label + ".ref", reference(original))
    if ref is None:
        pytest.skip("notmuch takes the original for no mail")
    rc, err, body = notmuch_show(ref)
    if rc != 0:
        pytest.skip("notmuch show fails on the original (exit %d)" % rc)
    expected = notmuch_structure(body[0]) if len(body) == 1 else \
        ("body parts", [notmuch_structure(p) for p in body])

    with open(stored, "rb") as f:
        env = notmuch_index(readers, label, f.read())
    assert env is not None, "notmuch takes the stored message for no mail"
    rc, err, body = notmuch_show(env)
    assert rc == 0, "notmuch show (exit %d): %s" % (rc, err[-300:])
    # (GMime's messages about parts inside the payload, a signature it
    # cannot check, say, are no failure of ours)
    assert "failed to parse decrypted content" not in err, \
        "notmuch show: " + err[-300:]
    assert len(body) == 1, "notmuch shows %d body parts" % len(body)
    top = body[0]
    assert top.get("content-type", "").lower() == "multipart/encrypted"
    status = top.get("encstatus") or [{}]
    assert status[0].get("status") == "good", \
        "notmuch could not decrypt: %r" % (top.get("encstatus"),)
    # the version part, then the decrypted payload in place of the
    # ciphertext
    content = top.get("content", [])
    assert len(content) == 2, \
        "notmuch shows %d parts in multipart/encrypted" % len(content)
    return notmuch_structure(content[1]), expected


def strict_read(data):
    """The structure, or the name of the first defect (strict raises
    it)"""
    parser = email.parser.BytesParser(policy=email.policy.strict)
    try:
        return structure(parser.parsebytes(data))
    except Exception as e:
        return "defect: %s" % type(e).__name__


@pytest.mark.parametrize("label", sorted(MESSAGE_PATHS))
@pytest.mark.parametrize("reader", READERS)
def test_reader(readers, reader, label):
    """READER decrypts (gpg, sq, rnp: the exact payload) or reads (notmuch,
    python-strict: the same structure as the original) what was stored
    for LABEL"""
    deliveries, keys = readers
    original, d = deliveries.result(label)
    assert d.rc == 0 and len(d.new_files) == 1, \
        "delivery failed (exit %d, %d files)" % (d.rc, len(d.new_files))
    with open(d.stored, "rb") as f:
        stored = f.read()
    if original.startswith(b"From "):
        nl = original.find(b"\n")
        stripped = original[nl + 1:] if nl >= 0 else b""
    else:
        stripped = original
    if stored == pgpmime.crlf_to_lf(stripped):
        pytest.skip("stored unchanged (encrypted already)")
    if reader == "gpg":
        # the whole verifier: outer header, line ends, logged sizes, and
        # the payload gpg decrypts, byte for byte
        pgpmime.verify(original, stored, keys.home, "encrypted", set(),
                       False, d.plugin_sizes())
        return
    if reader in ("sq", "rnp"):
        plain = decrypt(reader, keys, armored_part(stored))
        pgpmime.compare("%s's payload" % reader, plain,
                        pgpmime.expected_entity(pgpmime.Message(stripped)))
        return
    if reader == "notmuch":
        got, expected = read_notmuch(keys, label, d.stored, original)
    else:
        # The stored message as a parser reads it that ends the header at
        # the first line that is no field (Python's does, with a defect):
        # it must see the multipart/encrypted of RFC 3156
        outer = email.parser.BytesParser(
            policy=email.policy.default).parsebytes(stored)
        assert structure(outer) == (
            "multipart/encrypted",
            ["application/pgp-encrypted", "application/octet-stream"]), \
            "the stored message reads as %r" % (structure(outer),)
        assert outer.get_param("protocol") == "application/pgp-encrypted"
        # a defect of the original's body (a missing final boundary, say)
        # is one of the payload too; but no other
        expected = strict_read(reference(original))
        got = strict_read(decrypt("gpg", keys, armored_part(stored)))
    assert got == expected, "structure %r, expected %r" % (got, expected)
