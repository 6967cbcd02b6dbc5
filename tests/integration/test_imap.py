# Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
"""What a mail client gets over IMAP is what was stored: a real Dovecot
IMAP service (imaplib) serves the PGP/MIME message the plugin stored
through LMTP byte for byte, with the right size and MIME structure, and
it decrypts to what was sent; a user without a keyring gets the message
as it came. The outer Subject stays searchable (doc/threat-model.md: the
outer header is in clear)."""

import imaplib
import re

import pytest

from conftest import ENCRYPT_TO_RECIPIENT, read_message
from harness import pgpmime
from harness.dovecot import message_files
from harness.lmtp import sent_bytes

PASSWORD = "secret"
MESSAGES = ["02-plain-crlf.eml", "03-alternative.eml",
            "04-mixed-attachment.eml", "05-utf8-8bit.eml"]
TRACE = set(pgpmime.LMTP_TRACE_FIELDS)


@pytest.fixture(scope="module")
def mailbox(make_module_instance):
    """alice (keyring) and bob (none), each with MESSAGES delivered over
    LMTP in this order, and an IMAP service"""
    inst = make_module_instance()
    inst.protocols = "lmtp imap"
    for name, key in (("alice", "valid"), ("bob", None)):
        inst.add_user(name, key=key, password=PASSWORD)
    inst.global_script(ENCRYPT_TO_RECIPIENT)
    inst.lmtp_start()
    with inst.lmtp() as client:
        for name in MESSAGES:
            replies = client.send(read_message(name),
                                  ["alice@example.org", "bob@example.org"])
            assert [r.code for r in replies] == [250, 250], replies
    return inst


def fetch(inst, name, number, items):
    """FETCH ITEMS of message NUMBER of NAME's INBOX, as NAME"""
    imap = imaplib.IMAP4("127.0.0.1", inst.imap_port)
    try:
        imap.login("%s@example.org" % name, PASSWORD)
        typ, data = imap.select("INBOX", readonly=True)
        assert typ == "OK" and int(data[0]) == len(MESSAGES), data
        typ, data = imap.fetch(str(number), items)
        assert typ == "OK", data
        return data
    finally:
        imap.logout()


def delivery_time(path):
    """(seconds, microseconds) of a Maildir file name SEC.MUSECP...: the
    microseconds are not zero-padded, so the name alone does not sort"""
    match = re.match(r"(\d+)\.M(\d+)P", path.rsplit("/", 1)[1])
    return int(match.group(1)), int(match.group(2))


def stored(inst, name, number):
    """The Maildir file of message NUMBER (delivery order)"""
    files = sorted(message_files(inst.users[name].maildir),
                   key=delivery_time)
    with open(files[number - 1], "rb") as f:
        return f.read()


@pytest.mark.parametrize("number,message", list(enumerate(MESSAGES, 1)))
@pytest.mark.parametrize("name", ["alice", "bob"])
def test_fetch_is_what_was_stored(mailbox, name, number, message):
    data = fetch(mailbox, name, number, "(RFC822.SIZE BODY.PEEK[])")
    meta, body = data[0]
    size = int(re.search(rb"RFC822\.SIZE (\d+)", meta).group(1))
    assert size == len(body), "RFC822.SIZE %d, %d bytes sent" % (
        size, len(body))
    # IMAP sends CRLF lines; the Maildir holds them as LF
    as_stored = body.replace(b"\r\n", b"\n")
    assert as_stored == stored(mailbox, name, number)
    user = mailbox.users[name]
    pgpmime.verify(sent_bytes(read_message(message)), as_stored,
                   user.secret_home, "encrypted" if user.key else "plain",
                   TRACE, True, None)


@pytest.mark.parametrize("number", range(1, len(MESSAGES) + 1))
def test_bodystructure_is_pgp_mime(mailbox, number):
    meta = fetch(mailbox, "alice", number, "(BODYSTRUCTURE)")[0]
    structure = meta.decode(errors="replace").lower()
    assert re.search(r'\("application" "pgp-encrypted" .*\)\s*\('
                     r'"application" "octet-stream" .*\) "encrypted" \('
                     r'.*"protocol" "application/pgp-encrypted"', structure), \
        structure


def test_outer_subject_searchable(mailbox):
    imap = imaplib.IMAP4("127.0.0.1", mailbox.imap_port)
    try:
        imap.login("alice@example.org", PASSWORD)
        imap.select("INBOX", readonly=True)
        typ, data = imap.search(None, "SUBJECT", '"multipart/alternative"')
        assert typ == "OK" and data[0].split() == [b"2"], data
    finally:
        imap.logout()
