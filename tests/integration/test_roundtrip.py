# Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
"""Every test message and every corpus message through the real
dovecot-lda with `encrypt`, and what was stored checked (was
tests/e2e/roundtrip.sh): it must be stored (never dropped, also when
malformed), and either decrypt to exactly the original MIME entity or,
for a message that is encrypted already, be stored unchanged.

One test per message: test_roundtrip[messages/NAME] for tests/messages,
test_roundtrip[corpus/NAME] for the corpus in $SIEVE_ENCRYPT_CORPUS,
default <git top>/../shared/corpus (every *.eml; its MANIFEST.tsv gives
sizes, checksums and tags). Without a corpus only tests/messages run.

The module shares one instance (alice, with a key; the sieve_before
script encrypts to the envelope recipient). Deliveries run in the
background as soon as the module starts, SIEVE_ENCRYPT_JOBS at a time
(default: the number of CPUs, at most 4), each into a Maildir and a log
of its own; each test waits for its message's delivery and checks it
while the later ones are delivered. Test messages with an
"X-E2E-Expect:" header are checked in that mode, all others in mode
auto (the verifier decides from what was stored, and checks that the
input is encrypted already, by the plugin's rules, exactly when it was
stored unchanged). A message stored encrypted must not show a
PLAINTEXT-MARKER of the original."""

import concurrent.futures
import csv
import hashlib
import os
import re
import subprocess
import time

import pytest

from conftest import ENCRYPT_TO_RECIPIENT, MESSAGES, TOP, message_names
from harness import pgpmime


PLAINTEXT_MARKER = b"PLAINTEXT-MARKER"


def jobs():
    n = int(os.environ.get("SIEVE_ENCRYPT_JOBS") or os.cpu_count() or 2)
    return max(1, min(n, 4))


def corpus_dir():
    """$SIEVE_ENCRYPT_CORPUS, or the shared corpus beside the clone"""
    if os.environ.get("SIEVE_ENCRYPT_CORPUS"):
        return os.path.abspath(os.environ["SIEVE_ENCRYPT_CORPUS"])
    try:
        top = subprocess.run(["git", "-C", TOP, "rev-parse",
                              "--show-toplevel"], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, check=True,
                             ).stdout.decode().strip()
    except (OSError, subprocess.CalledProcessError):
        top = TOP
    return os.path.abspath(os.path.join(top or TOP, "..", "shared",
                                        "corpus"))


CORPUS = corpus_dir()


def corpus_names():
    if not os.path.isdir(CORPUS):
        return []
    return sorted(n for n in os.listdir(CORPUS) if n.endswith(".eml")
                  and os.path.isfile(os.path.join(CORPUS, n)))


def all_messages():
    """label -> path of every message to round-trip"""
    found = {"messages/" + n: os.path.join(MESSAGES, n)
             for n in message_names()}
    found.update(("corpus/" + n, os.path.join(CORPUS, n))
                 for n in corpus_names())
    return found


MESSAGE_PATHS = all_messages()


def expect_of(message):
    """The X-E2E-Expect header of a test message, "auto" if none"""
    m = re.search(rb"^X-E2E-Expect: *([a-z]*)", message, re.M)
    return m.group(1).decode() if m else "auto"


class Deliveries:
    """Deliveries to alice in the background, one dovecot-lda run per
    message into a Maildir and log of its own; `result(label)` waits for
    one. `outcomes`: label -> encrypted / unchanged / FAIL, for the
    per-tag counts."""

    def __init__(self, inst, labels):
        self.inst = inst
        self.jobs = jobs()
        self.pool = concurrent.futures.ThreadPoolExecutor(self.jobs)
        self.futures = {}
        self.outcomes = {}
        self.started = time.monotonic()
        for label in labels:
            self.submit(label)

    def submit(self, label):
        if label not in self.futures:
            self.futures[label] = self.pool.submit(self._deliver, label)
        return self.futures[label]

    def _deliver(self, label):
        with open(MESSAGE_PATHS[label], "rb") as f:
            message = f.read()
        store = re.sub(r"[^A-Za-z0-9._-]", "_", label)
        return message, self.inst.lda("alice", message, store=store,
                                      log_name=store + ".log")

    def result(self, label):
        """(message bytes, Delivery) of LABEL"""
        return self.submit(label).result()

    def wait(self):
        self.pool.shutdown(wait=True)

    def close(self):
        self.pool.shutdown(wait=True, cancel_futures=True)


def selected_labels(request):
    """The messages of the test_roundtrip items selected in this run"""
    return [item.callspec.params["label"] for item in request.session.items
            if item.module is request.module
            and item.originalname == "test_roundtrip"]


@pytest.fixture(scope="module")
def roundtrip(request, make_module_instance):
    inst = make_module_instance()
    inst.add_user("alice", key="valid")
    inst.global_script(ENCRYPT_TO_RECIPIENT)
    deliveries = Deliveries(inst, selected_labels(request))
    yield deliveries
    deliveries.close()


def first_line(log, pattern):
    m = re.search(r".*(%s).*" % pattern, log)
    return m.group(0)[:160] if m else ""


@pytest.mark.parametrize("label", sorted(MESSAGE_PATHS))
def test_roundtrip(roundtrip, label):
    """Stored exactly once, with exit code 0 and no Fatal/Panic in its
    log; encrypted to alice (decrypts to the original entity, the
    logged sizes match) or, when encrypted already, stored unchanged"""
    roundtrip.outcomes[label] = "FAIL"
    message, d = roundtrip.result(label)
    assert d.rc == 0, "dovecot-lda exited with %d, nothing stored: %s %s" % (
        d.rc, first_line(d.log, "Error|Fatal|Panic"), d.stderr[-300:])
    assert len(d.new_files) == 1, \
        "expected 1 stored message, found %d" % len(d.new_files)
    bad = first_line(d.log, "Fatal:|Panic:")
    assert not bad, "log: " + bad
    mode = expect_of(message) if label.startswith("messages/") else "auto"
    with open(d.stored, "rb") as f:
        stored = f.read()
    result = pgpmime.verify(message, stored,
                            roundtrip.inst.users["alice"].secret_home, mode,
                            set(), False, d.plugin_sizes())
    if result.startswith("encrypted"):
        assert not (PLAINTEXT_MARKER in message
                    and PLAINTEXT_MARKER in stored), \
            "stored encrypted, but PLAINTEXT-MARKER is readable"
    roundtrip.outcomes[label] = ("unchanged" if result.startswith("unchanged")
                                 else "encrypted")


def read_manifest():
    with open(os.path.join(CORPUS, "MANIFEST.tsv"), newline="") as f:
        return list(csv.DictReader(f, delimiter="\t",
                                   quoting=csv.QUOTE_NONE))


def per_tag_table(manifest, outcomes):
    counts = {}
    for row in manifest:
        outcome = outcomes.get("corpus/" + row["file"], "missing")
        for tag in filter(None, row["tags"].split(",")):
            c = counts.setdefault(tag, {"encrypted": 0, "unchanged": 0,
                                        "FAIL": 0, "missing": 0})
            c[outcome] += 1
    lines = ["per tag (messages: encrypted / unchanged / failed):"]
    for tag in sorted(counts):
        c = counts[tag]
        lines.append("  %-20s %4d: %4d / %4d / %4d%s" % (
            tag, sum(c.values()), c["encrypted"], c["unchanged"], c["FAIL"],
            "  (%d not delivered)" % c["missing"] if c["missing"] else ""))
    return "\n".join(lines)


def test_corpus_manifest(roundtrip):
    """The corpus is what MANIFEST.tsv lists (every file there, with its
    size and SHA-256); prints the round trip's outcomes per tag and the
    time taken (pytest -rA shows it)"""
    if not corpus_names():
        pytest.skip("no corpus at %s (set SIEVE_ENCRYPT_CORPUS)" % CORPUS)
    if not os.path.exists(os.path.join(CORPUS, "MANIFEST.tsv")):
        pytest.skip("no MANIFEST.tsv in %s" % CORPUS)
    manifest = read_manifest()
    bad = []
    for row in manifest:
        try:
            with open(os.path.join(CORPUS, row["file"]), "rb") as f:
                data = f.read()
        except OSError as e:
            bad.append("%s: %s" % (row["file"], e.strerror))
            continue
        if (len(data) != int(row["bytes"])
                or hashlib.sha256(data).hexdigest() != row["sha256"]):
            bad.append("%s: size or checksum differs" % row["file"])
    unlisted = set(corpus_names()) - set(r["file"] for r in manifest)
    print(per_tag_table(manifest, roundtrip.outcomes))
    print("timing: %d messages checked, %.0f s since the module started "
          "(%d jobs)" % (len(roundtrip.outcomes), time.monotonic()
                         - roundtrip.started, roundtrip.jobs))
    assert bad == [] and not unlisted, (bad[:5], sorted(unlisted)[:5])


def test_no_leftover_processes(roundtrip):
    """After all deliveries: no gpg-agent, no dovecot process of the
    instance"""
    roundtrip.wait()
    roundtrip.inst.kill_agents()
    time.sleep(0.2)
    assert roundtrip.inst.leftover_processes() == []
