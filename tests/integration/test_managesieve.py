# Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
"""Scripts uploaded over ManageSieve are checked like user scripts at
delivery (was tests/e2e/test-managesieve.sh): a bad script is rejected
with a message naming the line and the problem; a script that files a
copy before encrypting is accepted with a warning; a script without a
key list is rejected unless default keys are configured.

A private Dovecot with the managesieve service on 127.0.0.1 (protocols
"lmtp sieve"); vnd.x.encrypt is a personal extension (sieve_extensions),
not only a global one. The scripts go up with tests/tools/managesieve-put.py
(PUTSCRIPT, one answer line per script: "NAME OK|NO text").
"""

import os
import re
import subprocess
import sys

import pytest

from conftest import TOP

from harness.dovecot import LIBEXEC

PUT = os.path.join(TOP, "tests", "tools", "managesieve-put.py")
PASSWORD = "secret"

SCRIPTS = {
    "bad-key": 'require "vnd.x.encrypt";\n\n# not a key\n'
               'encrypt "Alice Example";\n',
    "bad-type": 'require "vnd.x.encrypt";\nencrypt 42;\n',
    "warn": 'require ["vnd.x.encrypt", "fileinto"];\nfileinto "Copy";\n'
            'encrypt "alice@example.org";\n',
    "no-keys": 'require "vnd.x.encrypt";\nencrypt;\n',
    "good": 'require ["vnd.x.encrypt", "fileinto"];\n'
            'if encrypt "alice@example.org" {\n  fileinto "Secure";\n}\n',
}

ANSWERS = [
    ("bad-key", "rejected-naming-line-and-key",
     r"^bad-key NO .*line 4: .*invalid key .Alice Example."),
    ("bad-type", "rejected-naming-line-and-type",
     r"^bad-type NO .*line 2: .*string list.*number"),
    ("warn", "accepted-with-warning-naming-both-lines",
     r"^warn OK .*line 3: .*after the fileinto command at line 2"),
    ("no-keys", "rejected-without-default-keys",
     r"^no-keys NO .*line 2: .*no key list argument and no default keys"),
    ("good", "accepted", r"^good OK"),
]

pytestmark = pytest.mark.lmtp


def upload(inst, *names):
    """Upload the scripts NAMES as alice; {name: answer line}"""
    specs = []
    for name in names:
        path = os.path.join(inst.dir, "upload", name + ".sieve")
        with open(path, "w") as f:
            f.write(SCRIPTS[name])
        specs.append("%s=%s" % (name, path))
    proc = subprocess.run(
        [sys.executable, PUT, "127.0.0.1", str(inst.managesieve_port),
         inst.users["alice"].address, PASSWORD, *specs],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
    out = proc.stdout.decode(errors="replace")
    assert proc.returncode == 0, "managesieve session: %s" % out
    return {line.split(" ", 1)[0]: line for line in out.splitlines()}


@pytest.fixture(scope="module")
def managesieve(make_module_instance):
    if not os.access(os.path.join(LIBEXEC, "managesieve"), os.X_OK):
        pytest.fail("%s/managesieve missing (dovecot-managesieved)"
                    % LIBEXEC)
    inst = make_module_instance()
    inst.protocols = "lmtp sieve"
    inst.global_extensions = {}
    inst.set(sieve_extensions={"vnd.x.encrypt": True})
    inst.add_user("alice", password=PASSWORD)
    os.mkdir(os.path.join(inst.dir, "upload"))
    inst.lmtp_start()
    return inst


@pytest.fixture(scope="module")
def answers(managesieve):
    return upload(managesieve, *SCRIPTS)


@pytest.mark.parametrize("name,what,pattern", ANSWERS,
                         ids=["%s-%s" % (a[0], a[1]) for a in ANSWERS])
def test_upload(answers, name, what, pattern):
    got = answers.get(name)
    assert got and re.search(pattern, got), "got: %s" % (got or "no answer")


def test_no_keys_accepted_with_default_keys(managesieve, answers):
    """after the other uploads: sieve_encrypt_default_keys = the user"""
    managesieve.lmtp_stop()
    managesieve.set(sieve_encrypt_default_keys="${user}")
    managesieve.lmtp_start()
    got = upload(managesieve, "no-keys").get("no-keys")
    assert got and re.search(r"^no-keys OK", got), \
        "got: %s" % (got or "no answer")
