# Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
"""vnd.x.encrypt through the real dovecot-lda into real Maildirs, and
what was stored decrypted back (was tests/e2e/test-lda.sh).

The sieve_before script encrypts every message to its envelope
recipient. Users: alice has her public key in ~/.gnupg; bob has no
keyring; carol has a key and a ~/.dovecot.sieve that files encrypted
messages into "Encrypted"; erin, frank and grace have only an expired, a
revoked and a sign-only key. The verifier itself is checked against
tampered copies of a stored message."""

import re
import time

import pytest

from conftest import (ENCRYPT_TO_RECIPIENT, FILE_ENCRYPTED, message_names,
                      read_message)
from harness import pgpmime
from harness.dovecot import message_files


@pytest.fixture(scope="module")
def lda(make_module_instance):
    inst = make_module_instance()
    inst.add_user("alice", key="valid")
    inst.add_user("carol", key="valid")
    inst.add_user("erin", key="expired")
    inst.add_user("frank", key="revoked")
    inst.add_user("grace", key="signonly")
    inst.add_user("bob")
    inst.global_script(ENCRYPT_TO_RECIPIENT)
    inst.user_script("carol", FILE_ENCRYPTED)
    return inst


def expect_of(message):
    """The X-E2E-Expect header of a test message, "auto" if none"""
    m = re.search(rb"^X-E2E-Expect: *([a-z]*)", message, re.M)
    return m.group(1).decode() if m else "auto"


def verify(user, original, stored_path, mode, sizes=None):
    """The verifier's "ok" text; pgpmime.Mismatch if it disagrees"""
    with open(stored_path, "rb") as f:
        stored = f.read()
    return pgpmime.verify(original, stored, user.secret_home, mode,
                          set(), False, sizes)


def delivered(inst, name, message):
    """Deliver MESSAGE to NAME; the checks every delivery must pass"""
    d = inst.lda(name, message)
    assert d.rc == 0, "dovecot-lda exited with %d: %s" % (d.rc, d.log)
    assert len(d.new_files) == 1, d.new_files
    bad = re.search(r".*(Fatal|Panic):.*", d.log)
    assert bad is None, bad.group(0)
    return d


@pytest.mark.parametrize("name", message_names())
def test_alice(lda, name):
    """Every test message: encrypted to alice's key (the log names key
    and subkey) or, if encrypted already, stored unchanged"""
    message = read_message(name)
    mode = expect_of(message)
    d = delivered(lda, "alice", message)
    assert "/Maildir/new/" in d.stored or "/Maildir/cur/" in d.stored
    sizes = d.plugin_sizes()
    alice = lda.users["alice"]
    if mode == "encrypted" or (mode == "auto" and sizes):
        assert sizes, "no 'encrypted message' info line in the log"
        subkeys = alice.key.subkey_ids()
        assert ("encrypted message to key %s (subkey %s) "
                % (alice.key.keyid, subkeys[0])) in d.log
    else:
        assert sizes is None and "Error:" not in d.log, d.log
    verify(alice, message, d.stored, mode, sizes)


@pytest.mark.parametrize("name", ["01-plain-lf.eml", "04-mixed-attachment.eml",
                                  "02-plain-crlf.eml"])
def test_no_keyring_stored_plain(lda, name):
    """bob has no keyring: plaintext, exit code 0, the error logged"""
    message = read_message(name)
    d = delivered(lda, "bob", message)
    assert "encrypt action: cannot encrypt message to" in d.log
    assert re.search("keyring directory .* does not exist", d.log)
    verify(lda.users["bob"], message, d.stored, "plain")


@pytest.mark.parametrize("name,reason", [
    ("erin", "is expired"), ("frank", "is revoked"),
    ("grace", "is not usable for encryption")])
def test_unusable_key_stored_plain(lda, name, reason):
    message = read_message("03-alternative.eml")
    d = delivered(lda, name, message)
    assert re.search("encrypt action: cannot encrypt message to .*" + reason,
                     d.log), d.log
    verify(lda.users[name], message, d.stored, "plain")


@pytest.mark.parametrize("name", ["03-alternative.eml",
                                  "04-mixed-attachment.eml",
                                  "08-header-only.eml"])
def test_user_script_files_encrypted(lda, name):
    """carol's ~/.dovecot.sieve runs after the global script and files
    the encrypted message; nothing stays in INBOX"""
    message = read_message(name)
    carol = lda.users["carol"]
    d = delivered(lda, "carol", message)
    assert "/Maildir/.Encrypted/" in d.stored, d.stored
    assert "encrypted message to key %s " % carol.key.keyid in d.log
    assert "stored mail into mailbox 'Encrypted'" in d.log
    verify(carol, message, d.stored, "encrypted", d.plugin_sizes())
    assert message_files(carol.maildir, "INBOX") == [], \
        "messages left in INBOX"


# --- the verifier itself: tampered copies must be rejected ------------

TAMPERED_ORIGINAL = "06-folded-content-type.eml"


@pytest.fixture(scope="module")
def good_stored(lda):
    d = delivered(lda, "alice", read_message(TAMPERED_ORIGINAL))
    with open(d.stored, "rb") as f:
        return f.read()


def _flip_ciphertext(d):
    start = d.find(b"BEGIN PGP")
    armor = re.search(rb"\n\n([A-Za-z0-9+/]{20})", d[start:])
    i = start + armor.start(1) + 10
    return d[:i] + (b"A" if d[i:i + 1] != b"A" else b"B") + d[i + 1:]


TAMPERINGS = {
    "subject-changed": lambda d: d.replace(b"Subject: folded",
                                           b"Subject: Folded", 1),
    "field-dropped": lambda d: re.sub(rb"(?m)^Date: .*\n", b"", d, count=1),
    "fields-swapped": lambda d: d.replace(
        b"From: Sender <sender@example.net>\nTo: "
        b"Recipient <recipient@example.org>\n",
        b"To: Recipient <recipient@example.org>\n"
        b"From: Sender <sender@example.net>\n", 1),
    "content-field-left-outside": lambda d: d.replace(
        b"Content-Type: multipart/encrypted",
        b"Content-Language: de\nContent-Type: multipart/encrypted", 1),
    "mime-version-doubled": lambda d: d.replace(
        b"Content-Type: multipart/encrypted",
        b"MIME-Version: 1.0\nContent-Type: multipart/encrypted", 1),
    "protocol-wrong": lambda d: d.replace(
        b'protocol="application/pgp-encrypted"',
        b'protocol="application/pgp-signature"', 1),
    "version-wrong": lambda d: d.replace(b"\nVersion: 1\n",
                                         b"\nVersion: 2\n", 1),
    "part-missing": lambda d: re.sub(
        rb"(?s)\n--(-*\w+)\nContent-Type: application/"
        rb"pgp-encrypted.*?\n\n", b"\n", d, count=1),
    "no-close-delimiter": lambda d: re.sub(rb"--\n*$", b"\n", d),
    "ciphertext-flipped": _flip_ciphertext,
    "crlf-in-mime-lines": lambda d: d.replace(b"\nVersion: 1\n",
                                              b"\nVersion: 1\r\n", 1),
}


def verify_bytes(user, original, stored, mode="encrypted"):
    return pgpmime.verify(original, stored, user.secret_home, mode, set(),
                          False, None)


def test_verifier_accepts_the_good_copy(lda, good_stored):
    verify_bytes(lda.users["alice"], read_message(TAMPERED_ORIGINAL),
                 good_stored)


@pytest.mark.parametrize("tampering", sorted(TAMPERINGS))
def test_verifier_rejects_tampered(lda, good_stored, tampering):
    bad = TAMPERINGS[tampering](good_stored)
    assert bad != good_stored, "the tampering changed nothing"
    with pytest.raises(pgpmime.Mismatch):
        verify_bytes(lda.users["alice"], read_message(TAMPERED_ORIGINAL),
                     bad)


def test_verifier_rejects_other_payload(lda, good_stored):
    other = read_message(TAMPERED_ORIGINAL).replace(b"lang ist.",
                                                    b"lang ist!")
    assert other != read_message(TAMPERED_ORIGINAL)
    with pytest.raises(pgpmime.Mismatch, match="decrypted payload differs"):
        verify_bytes(lda.users["alice"], other, good_stored)


def test_verifier_rejects_wrong_secret_key(lda, good_stored):
    with pytest.raises(pgpmime.Mismatch):
        verify_bytes(lda.users["carol"], read_message(TAMPERED_ORIGINAL),
                     good_stored)


@pytest.mark.parametrize("mode", ["encrypted", "auto"])
def test_verifier_rejects_plaintext(lda, mode):
    plain = read_message("01-plain-lf.eml")
    with pytest.raises(pgpmime.Mismatch):
        verify_bytes(lda.users["alice"], plain, plain, mode)


def test_no_leftover_processes(lda):
    """After the module's deliveries: no gpg-agent, no dovecot process
    of the instance"""
    lda.kill_agents()
    time.sleep(0.2)
    assert lda.leftover_processes() == []
