# Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
"""sieve_encrypt_status_header through the real dovecot-lda and LMTP.

The status field says what encrypt did with the stored message:
"encrypted", "already-encrypted", "no-key" or "failed"
(doc/extensions/vnd.x.encrypt.txt, "Status header field"). For each:
what is stored, checked by the verifier (harness/pgpmime.py, verify()
with status=): the field at the top of the header, exactly once, the
sender's fields of that name gone, the rest of the message as without
the setting; encrypted messages decrypted. Also several encrypt
commands, the test form, tempfail, and invalid names (2.3: every
encrypt deferred, the error names the setting; 2.4: doveconf refuses).

Users: alice has her public key in ~/.gnupg, bob has no keyring."""

import os
import re
import shutil
import subprocess

import pytest

from conftest import TOP, read_message
from harness import lmtp as lmtp_mod
from harness import pgpmime
from harness.dovecot import PATH, message_files

FAKES = os.path.join(TOP, "tests", "svtest", "bin")

NAME = "X-Encrypt-Status"

MESSAGE = b"""From: Bob <bob@example.net>
To: Alice <alice@example.org>
Subject: Status test
Message-ID: <status@example.net>
Content-Type: text/plain; charset=us-ascii

Secret text.
"""

# What a sender may put in to pass a plaintext message off as encrypted:
# the name in other cases, folded, with white space before the colon
FORGED = b"""X-Encrypt-Status: encrypted
From: Bob <bob@example.net>
x-encrypt-status:
 encrypted
To: Alice <alice@example.org>
X-ENCRYPT-STATUS : encrypted
Subject: Status test, forged
Message-ID: <status-forged@example.net>
X-Encrypt-Status-Other: kept
Content-Type: text/plain; charset=us-ascii

Secret text.
"""

# A first line that begins with white space would continue a field put
# above it: "X-Encrypt-Status: no-key encrypted"
LEADING_SPACE = b" X-Encrypt-Status: encrypted\n" + MESSAGE.replace(
    b"<status@", b"<status-space@")

ENCRYPT_TO_RECIPIENT = '''require ["vnd.x.encrypt", "envelope", "variables"];
if envelope :matches "to" "*" {
  encrypt "${1}";
}'''
TEST_FORM = '''require ["vnd.x.encrypt", "envelope", "variables"];
if envelope :matches "to" "*" {
  if encrypt "${1}" { }
}'''
TWICE = '''require ["vnd.x.encrypt", "envelope", "variables"];
if envelope :matches "to" "*" {
  encrypt "${1}";
  encrypt "${1}";
}'''
NO_KEY_THEN_KEY = '''require ["vnd.x.encrypt", "envelope", "variables"];
if envelope :matches "to" "*" {
  if not encrypt "nobody@example.org" {
    encrypt "${1}";
  }
}'''


@pytest.fixture(scope="module")
def inst(make_module_instance):
    inst = make_module_instance()
    inst.add_user("alice", key="valid")
    inst.add_user("bob")
    bindir = os.path.join(inst.dir, "bin")
    os.mkdir(bindir)
    shutil.copy(os.path.join(FAKES, "gpg-crash"), bindir)
    os.chmod(bindir, 0o755)
    os.chmod(os.path.join(bindir, "gpg-crash"), 0o755)
    return inst


def configure(inst, script, **settings):
    inst.settings.clear()
    inst.set(sieve_encrypt_status_header=NAME, **settings)
    inst.global_script(script)


def stored_bytes(d):
    assert len(d.new_files) == 1, "stored: %s (%s)" % (d.new_files,
                                                      d.log[-1500:])
    with open(d.stored, "rb") as f:
        return f.read()


def status_values(data):
    """The values of the fields named NAME in the header of data"""
    return [v.strip() for v in
            pgpmime.Message(data).values(NAME)]


def deliver(inst, user, message, rc=0):
    d = inst.lda(user, message)
    assert d.rc == rc, "dovecot-lda exit code %d: %s %s" % (
        d.rc, d.log[-1500:], d.stderr[-500:])
    bad = re.search(r".*(Panic|Fatal):.*", d.log)
    assert bad is None, bad.group(0)[:200]
    return d


def check(inst, d, user, message, mode, value):
    """The verifier with the status field; exactly one field of NAME"""
    data = stored_bytes(d)
    assert status_values(data) == [value.encode()], status_values(data)
    pgpmime.verify(message, data, inst.users[user].secret_home, mode,
                   set(), False, d.plugin_sizes() if mode == "encrypted"
                   else None, status=(NAME, value))


# --- dovecot-lda: every status ------------------------------------------

@pytest.mark.parametrize("message", [MESSAGE, FORGED],
                         ids=["plain", "forged"])
def test_lda_encrypted(inst, message):
    configure(inst, ENCRYPT_TO_RECIPIENT)
    d = deliver(inst, "alice", message)
    check(inst, d, "alice", message, "encrypted", "encrypted")
    assert b"X-Encrypt-Status-Other: kept" in stored_bytes(d) or \
        message is MESSAGE


@pytest.mark.parametrize("name", ["09-pgp-mime-encrypted.eml",
                                  "11-smime-enveloped.eml",
                                  "39-pgp-mime-exchange-mixed-up.eml"])
def test_lda_already_encrypted(inst, name):
    configure(inst, ENCRYPT_TO_RECIPIENT)
    message = read_message(name)
    d = deliver(inst, "alice", message)
    assert "message is encrypted already" in d.log
    check(inst, d, "alice", message, "unchanged", "already-encrypted")


def test_lda_already_encrypted_forged(inst):
    """a sender's field on an encrypted message is replaced too"""
    configure(inst, ENCRYPT_TO_RECIPIENT)
    message = read_message("09-pgp-mime-encrypted.eml").replace(
        b"X-E2E-Expect:", b"X-Encrypt-Status: encrypted\nX-E2E-Expect:", 1)
    d = deliver(inst, "alice", message)
    check(inst, d, "alice", message, "unchanged", "already-encrypted")


@pytest.mark.parametrize("script", [ENCRYPT_TO_RECIPIENT, TEST_FORM],
                         ids=["command", "test-form"])
@pytest.mark.parametrize("message", [MESSAGE, FORGED],
                         ids=["plain", "forged"])
def test_lda_no_key(inst, script, message):
    """bob has no keyring: stored in clear with no-key (the command form
    through the failure keep, the test form through the implicit keep)"""
    configure(inst, script)
    d = deliver(inst, "bob", message)
    check(inst, d, "bob", message, "plain", "no-key")


@pytest.mark.parametrize("user,mode,value", [
    ("bob", "plain", "no-key"), ("alice", "encrypted", "encrypted")])
def test_lda_leading_space(inst, user, mode, value):
    """the field goes below the first line, in clear and in the outer
    header, where that line (no field) stays first"""
    configure(inst, ENCRYPT_TO_RECIPIENT)
    d = deliver(inst, user, LEADING_SPACE)
    data = stored_bytes(d)
    assert re.search(rb"(?m)^X-Encrypt-Status: %s\n[^ \t]"
                     % value.encode(), data)
    pgpmime.verify(LEADING_SPACE, data, inst.users[user].secret_home,
                   mode, set(), False, None, status=(NAME, value))


# Lines that are no field (message 42), one of them named like the field
# (white space before the colon): left out, not written after the
# plugin's Content-Type with the others
NO_FIELD_LINES = read_message("42-no-field-lines.eml").replace(
    b"Subject :", b"X-Encrypt-Status : encrypted\nSubject :", 1)


@pytest.mark.parametrize("user,mode,value", [
    ("bob", "plain", "no-key"), ("alice", "encrypted", "encrypted")])
def test_lda_no_field_lines(inst, user, mode, value):
    """the status field on top, the lines that are no field after the
    plugin's Content-Type (or in place, in clear), the forged one gone"""
    configure(inst, ENCRYPT_TO_RECIPIENT)
    d = deliver(inst, user, NO_FIELD_LINES)
    check(inst, d, user, NO_FIELD_LINES, mode, value)
    assert b"X-Encrypt-Status : " not in stored_bytes(d)


def test_lda_failed_keep(inst):
    configure(inst, ENCRYPT_TO_RECIPIENT,
              sieve_encrypt_gpg_binary=os.path.join(inst.dir, "bin",
                                                    "gpg-crash"))
    d = deliver(inst, "alice", FORGED)
    assert "gpg ended without completing the encryption" in d.log
    check(inst, d, "alice", FORGED, "plain", "failed")


@pytest.mark.parametrize("user,fault", [("bob", None),
                                        ("alice", "gpg-crash")],
                         ids=["no-key", "failed"])
def test_lda_tempfail_nothing_stored(inst, user, fault):
    settings = {"sieve_encrypt_on_failure": "tempfail"}
    if fault:
        settings["sieve_encrypt_gpg_binary"] = os.path.join(
            inst.dir, "bin", fault)
    configure(inst, ENCRYPT_TO_RECIPIENT, **settings)
    d = deliver(inst, user, MESSAGE, rc=75)
    assert d.new_files == []


def test_lda_test_form_no_key_tempfail_stored(inst):
    """the test form is not subject to the policy: no-key, in clear"""
    configure(inst, TEST_FORM, sieve_encrypt_on_failure="tempfail")
    d = deliver(inst, "bob", FORGED)
    check(inst, d, "bob", FORGED, "plain", "no-key")


def test_lda_twice_stays_encrypted(inst):
    """the second encrypt finds the message encrypted by this delivery:
    the field stays "encrypted", once"""
    configure(inst, TWICE)
    d = deliver(inst, "alice", FORGED)
    check(inst, d, "alice", FORGED, "encrypted", "encrypted")


def test_lda_no_key_then_key(inst):
    """the test form's no-key is replaced by the later encryption"""
    configure(inst, NO_KEY_THEN_KEY)
    d = deliver(inst, "alice", MESSAGE)
    check(inst, d, "alice", MESSAGE, "encrypted", "encrypted")


def test_lda_off_by_default(inst):
    inst.settings.clear()
    inst.set()
    inst.global_script(ENCRYPT_TO_RECIPIENT)
    d = deliver(inst, "bob", FORGED)
    pgpmime.verify(FORGED, stored_bytes(d), None, "plain", set(), False,
                   None)


# --- the verifier: the field only where the plugin puts it ---------------

def test_verifier_rejects_misplaced_field(inst):
    configure(inst, ENCRYPT_TO_RECIPIENT)
    d = deliver(inst, "bob", MESSAGE)
    good = stored_bytes(d)
    pgpmime.verify(MESSAGE, good, None, "plain", set(), False, None,
                   status=(NAME, "no-key"))
    line = b"X-Encrypt-Status: no-key\n"
    moved = good.replace(line, b"", 1).replace(
        b"Subject:", line + b"Subject:", 1)
    doubled = line + good
    wrong = good.replace(line, b"X-Encrypt-Status: encrypted\n", 1)
    for bad in (moved, doubled, wrong, good.replace(line, b"", 1)):
        with pytest.raises(pgpmime.Mismatch):
            pgpmime.verify(MESSAGE, bad, None, "plain", set(), False, None,
                           status=(NAME, "no-key"))
    with pytest.raises(pgpmime.Mismatch):
        pgpmime.verify(MESSAGE, good, None, "plain", set(), False, None)


# --- LMTP ---------------------------------------------------------------

@pytest.mark.lmtp
def test_lmtp_every_status(inst):
    """one LMTP session: alice encrypted, bob no-key, alice an encrypted
    message already-encrypted, alice with gpg crashing failed (a second
    session); each verified with LMTP's trace fields"""
    configure(inst, ENCRYPT_TO_RECIPIENT)
    already = read_message("39-pgp-mime-exchange-mixed-up.eml")
    results = lmtp_send(inst, [(FORGED, ["alice@example.org",
                                         "bob@example.org"]),
                               (already, ["alice@example.org"])])
    configure(inst, ENCRYPT_TO_RECIPIENT,
              sieve_encrypt_gpg_binary=os.path.join(inst.dir, "bin",
                                                    "gpg-crash"))
    failed = MESSAGE.replace(b"<status@", b"<status-failed@")
    results += lmtp_send(inst, [(failed, ["alice@example.org"])])
    expected = [("alice", FORGED, "encrypted", "encrypted"),
                ("bob", FORGED, "plain", "no-key"),
                ("alice", already, "unchanged", "already-encrypted"),
                ("alice", failed, "plain", "failed")]
    assert len(results) == len(expected)
    for (user, message, mode, value), (reply, data) in zip(expected,
                                                             results):
        assert reply.code == 250, reply
        assert status_values(data) == [value.encode()], (user, value)
        pgpmime.verify(lmtp_mod.sent_bytes(message), data,
                       inst.users[user].secret_home, mode,
                       set(pgpmime.LMTP_TRACE_FIELDS), True, None,
                       status=(NAME, value))


def lmtp_send(inst, transactions):
    """Send each (message, recipients) in one session; returns (reply,
    stored bytes) per recipient, in order"""
    before = {u: set(message_files(inst.users[u].maildir))
              for u in inst.users}
    inst.lmtp_start()
    try:
        with inst.lmtp(timeout=120) as client:
            replies = [(msg, client.send(msg, rcpts))
                       for msg, rcpts in transactions]
    finally:
        inst.lmtp_stop()
    log = inst.log()
    bad = re.search(r".*(Panic|Fatal):.*", log)
    assert bad is None, bad.group(0)[:200]
    results = []
    for msg, rs in replies:
        msgid = re.search(rb"Message-ID: <[^>]*>", msg).group(0)
        for reply in rs:
            user = reply.rcpt.split("@")[0]
            files = [f for f in message_files(inst.users[user].maildir)
                     if f not in before[user]]
            found = []
            for path in files:
                with open(path, "rb") as f:
                    data = f.read()
                if msgid in data or b"<status" not in msgid and \
                        b"e2e-39" in data:
                    found.append(data)
            assert len(found) == 1, (reply, files)
            results.append((reply, found[0]))
    return results


# --- invalid names ----------------------------------------------------------

BAD_NAMES = [
    ("Content-Type", "a field of the message's own structure"),
    ("content-x-status", "a field of the message's own structure"),
    ("MIME-Version", "a field of the message's own structure"),
    ("Subject", "a field of the message's own structure"),
    ("Received", "a field of the message's own structure"),
    ("Resent-From", "a field of the message's own structure"),
    ("X-Bad:Name", "not a valid header field name"),
    ("X\xe4Status", "not a valid header field name"),
    ("X-" + "S" * 57, "longer than 58 characters"),
]
BAD_IDS = ["content-type", "content-prefix", "mime-version", "subject",
           "received", "resent", "colon", "8bit", "too-long"]
DEFERRED_ERR = (r"Error: .*encrypt action: invalid vnd.x.encrypt settings, "
                r"message deferred \(temporary failure\) until they are "
                r"fixed")


def doveconf(inst):
    proc = subprocess.run(["doveconf", "-c", inst.conf, "-n"],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          env={"PATH": PATH})
    return proc.returncode, proc.stdout.decode(errors="replace")


@pytest.mark.dovecot("2.3")
@pytest.mark.parametrize("name,msg", BAD_NAMES, ids=BAD_IDS)
def test_23_invalid_name_defers(inst, name, msg):
    """2.3: exit 75, nothing stored, the Error names the setting"""
    inst.settings.clear()
    inst.set()
    inst.global_script(ENCRYPT_TO_RECIPIENT)
    inst.set(sieve_encrypt_status_header=name)
    d = inst.lda("alice", MESSAGE)
    assert d.rc == 75 and d.new_files == [], (d.rc, d.log[-1000:])
    assert re.search(DEFERRED_ERR + ": .*sieve_encrypt_status_header=.*"
                     + re.escape(msg), d.log), d.log[-1000:]


@pytest.mark.dovecot("2.4")
@pytest.mark.parametrize("name,msg", BAD_NAMES, ids=BAD_IDS)
def test_24_invalid_name_doveconf_refuses(inst, name, msg):
    inst.settings.clear()
    inst.set(sieve_encrypt_status_header=name)
    rc, out = doveconf(inst)
    assert rc != 0 and msg in out, "rc=%d: %s" % (rc, out[-500:])


def test_valid_name_case_kept(inst):
    """the name as configured, with its case"""
    inst.settings.clear()
    inst.set(sieve_encrypt_status_header="x-mail-crypt")
    inst.global_script(ENCRYPT_TO_RECIPIENT)
    d = deliver(inst, "bob", MESSAGE)
    data = stored_bytes(d)
    assert data.startswith(b"x-mail-crypt: no-key\n") or \
        b"\nx-mail-crypt: no-key\n" in data.split(b"\n\n")[0]
    pgpmime.verify(MESSAGE, data, None, "plain", set(), False, None,
                   status=("x-mail-crypt", "no-key"))
