# Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
"""No plaintext on disk, no network, nothing left behind (was
tests/e2e/test-noleak.sh).

One delivery through dovecot-lda is traced with strace (following gpg
too). The message body carries a marker string that must only ever
travel through pipes to gpg: no write to a file (Maildir, temporary file,
log) or socket may contain it. The message is larger than what the plugin
keeps in memory, so its temporary file is exercised. The message comes
from a regular file, so that dovecot-lda itself needs no spool copy of it
(it writes non-seekable input to mail_temp_dir, which is Dovecot's
business, see doc/threat-model.md). A keyring whose gpg.conf asks for
keyservers and WKD must not make gpg connect anywhere: the script first
asks for a key that is nowhere, then encrypts to alice.
"""

import os
import re
import shutil
import time
import uuid

import pytest

from harness import pgpmime

GLOBAL_SCRIPT = '''require ["vnd.x.encrypt"];
if encrypt "nobody-here@example.net" { keep; }
encrypt "alice@example.org";'''

# gpg options that would reach out to the network if they were honoured
NETWORK_OPTIONS = ("auto-key-locate wkd,keyserver,local\n"
                   "keyserver hkp://127.0.0.1:1\nauto-key-retrieve\n")

TRACED = "write,writev,pwrite64,pwritev,sendto,sendmsg,connect"
WRITE = re.compile(r"(write|writev|pwrite64|pwritev|sendto|sendmsg)\(")
INTO_PIPE = re.compile(r"\(([0-9]+)<pipe:\[[0-9]+\]>")

pytestmark = pytest.mark.skipif(shutil.which("strace") is None,
                                reason="strace not installed")


def message(marker):
    lines = ["From: Bob <bob@example.net>", "To: alice@example.org",
             "Subject: leak test", "Content-Type: text/plain", ""]
    lines += ["line %05d %s lorem ipsum dolor sit amet" % (i, marker)
              for i in range(1, 6001)]
    return ("\n".join(lines) + "\n").encode()


class Run:
    pass


@pytest.fixture(scope="module")
def run(make_module_instance):
    inst = make_module_instance()
    alice = inst.add_user("alice", key="valid")
    conf = os.path.join(alice.gnupghome, "gpg.conf")
    with open(conf, "a") as f:
        f.write(NETWORK_OPTIONS)
    alice.chown(conf)
    inst.global_script(GLOBAL_SCRIPT)

    r = Run()
    r.inst, r.user = inst, alice
    r.marker = "PLAINTEXT-MARKER-%s" % uuid.uuid4().hex
    r.message = message(r.marker)
    # a temporary directory of its own, to see what is left in it
    r.tmpdir = os.path.realpath(os.path.join(inst.dir, "noleak-tmp"))
    os.mkdir(r.tmpdir, 0o700)
    alice.chown(r.tmpdir)
    trace = os.path.join(inst.dir, "strace.out")
    r.delivery = inst.lda(
        "alice", r.message, "-o", "mail_temp_dir=%s" % r.tmpdir,
        prefix=["strace", "-f", "-qq", "-y", "-s", "100000", "-o", trace,
                "-e", "trace=" + TRACED],
        message_file=inst.message_file(r.message, "noleak.eml"))
    with open(trace, errors="replace") as f:
        r.trace = f.read().splitlines()
    r.with_marker = [line for line in r.trace if r.marker in line]
    inst.kill_agents()
    time.sleep(0.2)
    r.leftovers = [line for line in inst.leftover_processes()
                   if "-agent" not in line]
    return r


def test_delivery_under_strace_succeeded(run):
    assert run.delivery.rc == 0, "dovecot-lda exit code %d: %s" % (
        run.delivery.rc, run.delivery.log[-1000:])


def test_stored_encrypted_decrypts_to_original(run):
    with open(run.delivery.stored, "rb") as f:
        stored = f.read()
    pgpmime.verify(run.message, stored, run.user.secret_home, "encrypted",
                   set(), False, run.delivery.plugin_sizes())


def test_plaintext_only_written_into_pipes(run):
    leaks = [line for line in run.with_marker
             if WRITE.search(line) and not INTO_PIPE.search(line)]
    assert not leaks, leaks[0][:160]


def test_trace_saw_plaintext_go_to_gpg(run):
    """the check above is live: the marker is in pipe writes"""
    assert any("<pipe:" in line for line in run.with_marker), \
        "marker not found in any pipe write"


def test_no_plaintext_in_maildir_or_log(run):
    marker = run.marker.encode()
    for path in (run.delivery.stored, run.inst.log_path):
        with open(path, "rb") as f:
            assert marker not in f.read(), "marker found in %s" % path
    assert run.marker not in run.delivery.log, "marker found in the log"


def test_no_network_connection_attempted(run):
    """no connect() to an inet socket by anyone in the delivery, with
    keyserver and WKD in the keyring's gpg.conf"""
    inet = [line for line in run.trace
            if re.search(r"connect\(.*(AF_INET|AF_INET6)", line)]
    assert not inet, inet[0][:160]


def test_missing_key_not_looked_up_elsewhere(run):
    assert re.search(r"message not encrypted: no public key for "
                     r".nobody-here@example\.net.", run.delivery.log), [
        line for line in run.delivery.log.splitlines()
        if "encrypt" in line.lower()][-1:]


def test_result_went_through_temporary_file(run):
    """the check below is live: the ciphertext was written into a
    temporary file in mail_temp_dir"""
    pattern = re.compile(r"write\([0-9]+<%s/dovecot\." % re.escape(run.tmpdir))
    assert any(pattern.search(line) for line in run.trace), \
        "no write into %s seen" % run.tmpdir


def test_no_temporary_file_left(run):
    assert os.listdir(run.tmpdir) == []


def test_no_process_left(run):
    assert run.leftovers == []
