# Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
"""vnd.x.encrypt through a real Dovecot LMTP service (was
tests/e2e/test-lmtp.sh): a private instance on 127.0.0.1 gets several
messages for several users in ONE LMTP session (transactions with
several RCPT TO), is stopped, then what was stored is checked and
decrypted.

The sieve_before script encrypts every message to its envelope
recipient (as in test_lda.py). alice and dave have keys, bob has none,
carol has a key and a ~/.dovecot.sieve that files encrypted messages
into "Encrypted"; nobody@ does not exist, its RCPT must be refused
without harming the others. LMTP prepends Return-Path: and Received:;
the verifier skips them."""

import os
import re
import time

import pytest

from conftest import ENCRYPT_TO_RECIPIENT, FILE_ENCRYPTED, read_message
from harness import lmtp, pgpmime
from harness.dovecot import message_files, plugin_sizes

pytestmark = pytest.mark.lmtp


# One transaction each: the message, then its recipients
TRANSACTIONS = [
    ("01-plain-lf.eml", ["alice", "bob", "carol"]),
    ("02-plain-crlf.eml", ["bob", "alice"]),
    ("03-alternative.eml", ["carol", "dave", "bob", "alice"]),
    ("04-mixed-attachment.eml", ["alice", "nobody", "dave"]),
    ("05-utf8-8bit.eml", ["dave"]),
    ("06-folded-content-type.eml", ["alice", "carol"]),
    ("07-no-content-headers.eml", ["bob", "alice"]),
    ("09-pgp-mime-encrypted.eml", ["alice", "bob", "carol"]),
    ("10-inline-pgp.eml", ["alice"]),
    ("11-smime-enveloped.eml", ["dave", "alice"]),
    ("12-smime-signed.eml", ["alice", "carol"]),
    ("13-inline-pgp-base64.eml", ["dave"]),
    ("14-pgp-clearsigned.eml", ["alice"]),
    ("18-header-only-no-newline.eml", ["bob", "alice", "dave"]),
    ("19-qp-short-body.eml", ["alice", "bob"]),
]

UNKNOWN = "nobody"
DELIVERIES = [(m, r) for m, rcpts in TRANSACTIONS for r in rcpts
              if r != UNKNOWN]

# The master gets `dovecot stop`; after this many seconds the harness
# kills it
STOP_GRACE = 10


def expect_of(message):
    """The X-E2E-Expect header of a test message, "auto" if none"""
    m = re.search(rb"^X-E2E-Expect: *([a-z]*)", message, re.M)
    return m.group(1).decode() if m else "auto"


def address(name):
    return "%s@example.org" % name


class Session:
    """What the one LMTP session did: the replies per (message,
    recipient name), the instance, the master's pid and stop time"""

    def __init__(self, inst):
        self.inst = inst
        self.replies = {}
        self.all_replies = []
        inst.lmtp_start()
        self.master_pid = inst.master_pid
        try:
            with inst.lmtp() as client:
                for name, rcpts in TRANSACTIONS:
                    got = client.send(read_message(name),
                                      [address(r) for r in rcpts])
                    self.all_replies.extend(got)
                    for reply in got:
                        self.replies[name, reply.rcpt.split("@")[0]] = reply
        finally:
            started = time.monotonic()
            inst.lmtp_stop()
            self.stop_seconds = time.monotonic() - started
        self.log = inst.log()


@pytest.fixture(scope="module")
def session(make_module_instance):
    inst = make_module_instance()
    for name in ("alice", "carol", "dave"):
        inst.add_user(name, key="valid")
    inst.add_user("bob")
    inst.global_script(ENCRYPT_TO_RECIPIENT)
    inst.user_script("carol", FILE_ENCRYPTED)
    return Session(inst)


def test_instance_stopped(session):
    """`dovecot stop` ends the master (before the harness would kill
    it)"""
    assert session.master_pid
    with pytest.raises(ProcessLookupError):
        os.kill(session.master_pid, 0)
    assert session.stop_seconds < STOP_GRACE, "master had to be killed"


def test_one_reply_per_recipient(session):
    """One session, all transactions: a reply for every recipient"""
    expected = sorted((m, r) for m, rcpts in TRANSACTIONS for r in rcpts)
    assert sorted(session.replies) == expected, session.all_replies
    assert len(session.all_replies) == len(expected)


def test_known_recipients_accepted(session):
    refused = [r for (m, name), r in session.replies.items()
               if name != UNKNOWN and r.code != 250]
    assert refused == []


def test_unknown_recipient_refused(session):
    """nobody@ does not exist: 550 at RCPT, the transaction goes on"""
    reply = session.replies.get(("04-mixed-attachment.eml", UNKNOWN))
    assert reply is not None and reply.code == 550, reply


def stored_for(user, message):
    """The stored files of USER holding MESSAGE's Message-ID"""
    msgid = re.search(rb"^Message-ID: <(.*)>", message, re.M).group(1)
    field = b"Message-ID: <" + msgid + b">"
    found = []
    for path in message_files(user.maildir):
        with open(path, "rb") as f:
            if field in f.read():
                found.append(path)
    return found


@pytest.mark.parametrize("name,rcpt", DELIVERIES,
                         ids=["%s-%s" % d for d in DELIVERIES])
def test_delivery(session, name, rcpt):
    """Stored once, in the right folder; encrypted to the recipient's
    key (the log of its session names the key and the sizes) or stored
    as it came (bob: no keyring; encrypted already: unchanged); what
    was stored decrypts to what was sent"""
    inst = session.inst
    user = inst.users[rcpt]
    message = read_message(name)
    reply = session.replies.get((name, rcpt))
    assert reply is not None and reply.code == 250, reply
    mode = "plain" if rcpt == "bob" else expect_of(message)

    files = stored_for(user, message)
    assert len(files) == 1, "%d stored messages" % len(files)
    folder = ("Encrypted" if "/Maildir/.Encrypted/" in files[0]
              else "INBOX")
    want = "Encrypted" if rcpt == "carol" and mode != "plain" else "INBOX"
    assert folder == want

    sid = reply.session
    assert sid, reply
    sizes = plugin_sizes(session.log, sid)
    if mode == "encrypted":
        assert sizes, "no 'encrypted message' log line for session " + sid
        assert any("encrypted message to key %s " % user.key.keyid in line
                   for line in session_lines(session.log, sid)), \
            "log does not name key " + user.key.keyid
    else:
        assert sizes is None, "plugin encrypted it: %s" % (sizes,)
    with open(files[0], "rb") as f:
        stored = f.read()
    pgpmime.verify(lmtp.sent_bytes(message), stored, user.secret_home, mode,
                   set(pgpmime.LMTP_TRACE_FIELDS), True, sizes)


def session_lines(log, sid):
    return [line for line in log.splitlines() if ("<%s>: " % sid) in line]


def test_no_keyring_error_logged(session):
    """bob has no keyring: every delivery to him that is not encrypted
    already logs the error (and is kept, see test_delivery)"""
    errors = [line for line in session.log.splitlines()
              if re.search(r"lmtp\(bob@example\.org\).*encrypt action: "
                           r"cannot encrypt", line)
              and re.search(r"keyring directory .* does not exist", line)]
    want = [m for m, r in DELIVERIES if r == "bob"
            and expect_of(read_message(m)) != "unchanged"]
    assert want and len(errors) == len(want), errors


def test_no_fatal_or_panic(session):
    bad = re.search(r".*(Fatal|Panic):.*", session.log)
    assert bad is None, bad.group(0)


def test_no_leftover_processes(session):
    """After the session: no gpg-agent, no dovecot process of the
    instance"""
    session.inst.kill_agents()
    time.sleep(0.2)
    assert session.inst.leftover_processes() == []
