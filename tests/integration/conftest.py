# Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
"""Fixtures of the integration tests: the build, the Dovecot version,
keys, private Dovecot instances. See harness/ for the parts, and
doc/testing.md for how to run and extend the tests."""

import os
import shutil
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import dovecot, keys  # noqa: E402

# The sieve_before script of most tests: encrypt to the envelope recipient
ENCRYPT_TO_RECIPIENT = '''require ["vnd.x.encrypt", "envelope", "variables"];
if envelope :matches "to" "*" {
  encrypt "${1}";
}'''

# A user script that files what arrives encrypted into "Encrypted"
FILE_ENCRYPTED = '''require ["fileinto", "mailbox"];
if header :contains "Content-Type" "multipart/encrypted" {
  fileinto :create "Encrypted";
  stop;
}'''

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MESSAGES = os.path.join(TOP, "tests", "messages")


def pytest_configure(config):
    config.addinivalue_line("markers", "dovecot(version): only for this "
                            "Dovecot version (\"2.3\" or \"2.4\"); "
                            "deselected on the other")
    config.addinivalue_line("markers", "lmtp: runs a Dovecot LMTP service")
    config.addinivalue_line("markers", "soak: the LMTP load test (minutes, "
                            "the whole machine; run it alone)")
    config.addinivalue_line("markers", "fuzz: a bounded libFuzzer run "
                            "(host only)")
    config.addinivalue_line("markers", "sanitizers: an ASan + UBSan build "
                            "and tests against it (host only)")
    config.addinivalue_line("markers", "package: builds the Debian package "
                            "from make dist's tarball (minutes)")


@pytest.fixture(scope="session")
def build():
    return dovecot.Build(os.environ.get("SIEVE_ENCRYPT_BUILD", TOP))


@pytest.fixture(scope="session")
def dovecot_version():
    return dovecot.dovecot_version()


@pytest.fixture(scope="session")
def keyfactory():
    """Keys, made once per session (per xdist worker). In a short
    directory of /tmp: the agent socket of a secret home must fit the
    107 bytes of a socket path, which pytest's own temporary directories
    exceed under xdist"""
    directory = tempfile.mkdtemp(prefix="sek.", dir="/tmp")
    factory = keys.KeyFactory(directory)
    yield factory
    factory.close()
    shutil.rmtree(directory, ignore_errors=True)


# The longest socket of an instance is 50 bytes below its base, and a
# socket path has 107
SCRATCH_BASE_MAX = 56


def pytest_collection_modifyitems(config, items):
    """Deselect the tests marked for the other Dovecot version"""
    version = dovecot.dovecot_version()
    keep, other = [], []
    for item in items:
        marker = item.get_closest_marker("dovecot")
        (other if marker and version not in marker.args else keep).append(
            item)
    if other:
        config.hook.pytest_deselected(items=other)
        items[:] = keep


def scratch_base():
    """Where instances live: $TMPDIR if every account can reach it (the
    mail users must) and it is short enough for Dovecot's sockets, else
    /tmp"""
    base = os.path.abspath(os.environ.get("TMPDIR") or "/tmp")
    if len(base) > SCRATCH_BASE_MAX:
        return "/tmp"
    path = base
    while path not in ("/", ""):
        if os.stat(path).st_mode & 0o001 == 0:
            return "/tmp"
        path = os.path.dirname(path)
    return base


def _instances(build, dovecot_version, keyfactory):
    """A maker of instances, and the list of what it made"""
    made = []

    def make(mode="shared"):
        directory = tempfile.mkdtemp(prefix="sieve-encrypt-it.",
                                     dir=scratch_base())
        instance = dovecot.Instance(directory, build, dovecot_version,
                                    keyfactory, mode=mode)
        made.append(instance)
        return instance
    return make, made


def _close(made):
    for instance in made:
        instance.close(keep=bool(os.environ.get("SIEVE_ENCRYPT_KEEP")))


@pytest.fixture
def make_instance(build, dovecot_version, keyfactory):
    """make_instance(mode="shared") -> a new private Dovecot instance,
    closed (LMTP stopped, agents killed, directory removed unless
    SIEVE_ENCRYPT_KEEP is set) after the test"""
    make, made = _instances(build, dovecot_version, keyfactory)
    yield make
    _close(made)


@pytest.fixture(scope="module")
def make_module_instance(build, dovecot_version, keyfactory):
    """make_instance for an instance that a module's tests share"""
    make, made = _instances(build, dovecot_version, keyfactory)
    yield make
    _close(made)


def read_message(name):
    with open(os.path.join(MESSAGES, name), "rb") as f:
        return f.read()


def message_names():
    return sorted(n for n in os.listdir(MESSAGES) if n.endswith(".eml"))
