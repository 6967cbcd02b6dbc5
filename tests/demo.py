#!/usr/bin/env python3
# Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
"""demo.py: the main job, end to end, with real parts only.

A private Dovecot (own config, Maildirs in a scratch directory) delivers a
message through dovecot-lda to two users, with the administrator's global
script doc/examples/global.sieve run before their own scripts:
  alice has a keyring with her public key  -> stored encrypted
  bob has no keyring                       -> stored as it came
Then alice's copy is decrypted with her private key (which the server
never had) and compared byte for byte with the original. Run as root,
after ./configure && make (./setup.sh demo does all of it).
"""

import email
import os
import shutil
import sys
import tempfile

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))

from harness import dovecot, keys, pgpmime  # noqa: E402

GLOBAL_SIEVE = os.path.join(TOP, "doc", "examples", "global.sieve")
MESSAGE = b'''From: Bob <bob@example.net>
To: Alice <alice@example.org>
Subject: Quarterly numbers
Date: Thu, 26 Nov 2026 10:00:00 +0000
Message-ID: <demo-1@example.net>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="part"

--part
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

Hi Alice, the numbers are in the attachment. Keep them safe.
--part
Content-Type: text/csv; name="q3.csv"
Content-Disposition: attachment; filename="q3.csv"
Content-Transfer-Encoding: base64

cXVhcnRlcixyZXZlbnVlCjMsNDIwMDAwCg==
--part--
'''


def say(text):
    print("\n\033[1m== %s\033[0m" % text, flush=True)


def indented(text):
    print("".join("  %s\n" % line for line in text.splitlines()), end="")


def give_public_key(laptop, fpr, user):
    """The public part of FPR, from the laptop into the user's keyring on
    the server, owned by the mail account"""
    public = keys.gpg(laptop, "--armor", "--export", "--", fpr).stdout
    keys.init_home(user.gnupghome)
    keys.gpg(user.gnupghome, "--import", input=public)
    keys.kill_agent(user.gnupghome)
    for root, dirs, files in os.walk(user.gnupghome):
        for name in [root] + [os.path.join(root, f) for f in files]:
            os.chown(name, user.uid, user.gid)


def decrypt(laptop, stored):
    part = email.message_from_bytes(stored).get_payload()[1].get_payload()
    return keys.gpg(laptop, "--decrypt", input=part.encode()).stdout


def demo(inst, laptop):
    alice = inst.add_user("alice")
    bob = inst.add_user("bob")

    say("alice makes a key pair on her laptop and gives the server only "
        "the public key")
    keys.init_home(laptop)
    fpr = keys.generate(laptop, "alice@example.org", name="Alice")
    give_public_key(laptop, fpr, alice)
    print("fingerprint %s; server keyring %s (public key only)"
          % (fpr, alice.gnupghome))

    say("the administrator's global script (doc/examples/global.sieve)")
    # as in doc/examples/90-sieve-encrypt-2.3.conf (user names are
    # addresses)
    inst.set(sieve_encrypt_default_keys="${user}")
    with open(GLOBAL_SIEVE) as f:
        script = f.read()
    inst.global_script(script)
    print(script, end="")

    say("delivering with dovecot-lda")
    stored = {}
    logs = []
    for user in (alice, bob):
        d = inst.lda(user.name, MESSAGE)
        print("%s: dovecot-lda exit code %d" % (user.address, d.rc))
        if d.rc != 0 or len(d.new_files) != 1:
            print(d.log + d.stderr)
            return 1
        stored[user.name] = d.stored
        logs.append(d.log)

    say("the log")
    indented("".join(line + "\n" for log in logs
                     for line in log.splitlines()
                     if "sieve" in line or "encrypt" in line))

    for name, what in (("alice", ""),
                       ("bob", " (no keyring: plaintext, as before)")):
        say("what the server stored for %s%s (%s)" % (name, what,
                                                      stored[name]))
        with open(stored[name], errors="replace") as f:
            indented(f.read())

    with open(stored["alice"], "rb") as f:
        alice_stored = f.read()
    with open(stored["bob"], "rb") as f:
        bob_stored = f.read()
    say("alice decrypts her copy on her laptop")
    indented(decrypt(laptop, alice_stored).decode())

    say("byte-for-byte check against the original "
        "(tests/integration/harness/pgpmime.py)")
    try:
        print("alice: ok: " + pgpmime.verify(MESSAGE, alice_stored, laptop,
                                             "encrypted", set(), False,
                                             None))
        print("bob: ok: " + pgpmime.verify(MESSAGE, bob_stored, None,
                                           "plain", set(), False, None))
    except pgpmime.Mismatch as e:
        print("mismatch: %s" % e)
        return 1

    say("demo done: alice's mail is encrypted at rest, bob's is unchanged")
    return 0


def main():
    if os.geteuid() != 0:
        sys.exit("demo.py: run as root (sudo ./setup.sh demo)")
    scratch = tempfile.mkdtemp(prefix="sieve-encrypt-demo.", dir="/tmp")
    os.chmod(scratch, 0o755)
    laptop = os.path.join(scratch, "alice-laptop")
    server = os.path.join(scratch, "dovecot")
    os.mkdir(server)
    inst = dovecot.Instance(
        server, dovecot.Build(os.environ.get("SIEVE_ENCRYPT_BUILD", TOP)),
        dovecot.dovecot_version(), keys.KeyFactory(scratch))
    try:
        return demo(inst, laptop)
    finally:
        inst.close()
        keys.kill_agent(laptop)
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
