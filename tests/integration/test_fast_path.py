# Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
"""A large message takes the fast data path past gpgme (was
tests/e2e/test-fast-path.sh).

The plugin moves the bulk of the data between the delivery and gpg past
gpgme's own copying (doc/design.md, "The data past gpgme"), which depends
on how gpgme calls the data callbacks. If a gpgme version calls them
differently, every byte goes through gpgme: correct, but slow. The plugin
counts the bytes of each path and logs them at debug level ("data past
gpgme: A of B bytes to gpg, C of D bytes from gpg"), and warns once per
process when most of the data of a direction went through gpgme.

One 20 MiB message (a base64 attachment of random bytes), read by
dovecot-lda from a file, with mail_debug: delivered, encrypted and
decrypting to the original; the debug line is there; at least 99% of the
bytes to gpg and half of the bytes from gpg went past gpgme; no warning
about the fast path, no error.
"""

import base64
import random
import re

import pytest

from conftest import ENCRYPT_TO_RECIPIENT

from harness import pgpmime


PAST_GPGME = re.compile(r"data past gpgme: (\d+) of (\d+) bytes to gpg, "
                        r"(\d+) of (\d+) bytes from gpg")


def large_message():
    rnd = random.Random(20)
    att = base64.encodebytes(rnd.randbytes(15 * 1024 * 1024)).decode()
    return ("From: <sender@example.net>\nTo: <alice@example.org>\n"
            "Subject: large\nMessage-ID: <fast-path@example.net>\n"
            "MIME-Version: 1.0\n"
            "Content-Type: multipart/mixed; boundary=\"b\"\n\n"
            "--b\nContent-Type: text/plain\n\nattached\n"
            "--b\nContent-Type: application/octet-stream\n"
            "Content-Transfer-Encoding: base64\n\n%s--b--\n"
            % att).encode()


@pytest.fixture(scope="module")
def delivery(make_module_instance):
    inst = make_module_instance()
    inst.add_user("alice", key="valid")
    inst.global_script(ENCRYPT_TO_RECIPIENT)
    message = large_message()
    d = inst.lda("alice", message, "-o", "mail_debug=yes",
                 message_file=inst.message_file(message, "large.eml"))
    d.message = message
    d.user = inst.users["alice"]
    return d


def test_large_message_delivered(delivery):
    size = len(delivery.message)
    assert size >= 20 * 1024 * 1024, "the message has %d bytes" % size
    assert delivery.rc == 0, "dovecot-lda exit %d: %s" % (
        delivery.rc, delivery.log[-1000:])


def test_stored_encrypted_decrypts_to_original(delivery):
    with open(delivery.stored, "rb") as f:
        stored = f.read()
    pgpmime.verify(delivery.message, stored, delivery.user.secret_home,
                   "encrypted", set(), False, delivery.plugin_sizes())


def test_fast_path_carried_the_data(delivery):
    """at least 99% of the bytes to gpg and half of the bytes from gpg
    went past gpgme (the last debug line)"""
    lines = [line for line in delivery.log.splitlines()
             if "data past gpgme: " in line]
    assert lines, "no debug line with the bytes past gpgme in the log"
    m = PAST_GPGME.search(lines[-1])
    assert m, "unreadable line: %s" % lines[-1]
    a, b, c, d = (int(x) for x in m.groups())
    got = "%d of %d bytes to gpg (%.2f%%), %d of %d from gpg (%.2f%%)" % (
        a, b, 100.0 * a / max(b, 1), c, d, 100.0 * c / max(d, 1))
    assert b > 20 * 10**6 and a >= 0.99 * b and c >= 0.5 * d, got


def test_no_fast_path_warning_no_error(delivery):
    bad = re.findall(r".*(?:fast data path|Warning:|Error:).*", delivery.log)
    assert not bad, bad[:2]
