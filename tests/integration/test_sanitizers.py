# Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
"""The plugin and the unit tests built with AddressSanitizer and
UndefinedBehaviorSanitizer (./configure --enable-sanitizers, in a scratch
copy of this tree), then run (was tests/run-sanitizers.sh). Marker:
sanitizers; host only (clang's runtime, Debian 12).

  unit tests     the instrumented programs; LeakSanitizer checks for leaks
  .svtest        Pigeonhole's testsuite program (not instrumented) with
                 the sanitizer runtime preloaded (LD_PRELOAD)
  deliveries     test_lda.py, test_policy.py and test_roundtrip.py against
                 that build: the real dovecot-lda and LMTP, the runtime
                 preloaded the same way (SIEVE_ENCRYPT_PRELOAD)
Any finding aborts the process (ASan halts on the first error, UBSan is
built with -fno-sanitize-recover), which fails the test that ran it; the
reports go to files, and test_no_sanitizer_reports fails on any of them.
Environment: PIGEONHOLE_TESTSUITE_BIN (default _testsuite/testsuite of
this tree), SANITIZER_PYTEST (the delivery test files, default
"test_lda.py test_policy.py test_roundtrip.py"), SIEVE_ENCRYPT_KEEP=1
keeps the scratch directory.
"""

import glob
import os
import re
import shutil
import subprocess
import tempfile

import pytest

from conftest import TOP, scratch_base

pytestmark = pytest.mark.sanitizers

TESTSUITE = os.environ.get("PIGEONHOLE_TESTSUITE_BIN",
                           os.path.join(TOP, "_testsuite", "testsuite"))
DELIVERY_TESTS = os.environ.get(
    "SANITIZER_PYTEST", "test_lda.py test_policy.py test_roundtrip.py").split()


def unit_programs():
    """The unit test programs of tests/Makefile.am"""
    with open(os.path.join(TOP, "tests", "Makefile.am")) as f:
        m = re.search(r"(?m)^test_programs = \\\n((?:\t.*\n)+)", f.read())
    return [line.strip(" \t\\") for line in m.group(1).splitlines()]


SVTESTS = sorted(os.path.basename(p) for p in
                 glob.glob(os.path.join(TOP, "tests", "svtest", "*.svtest")))


class SanitizedBuild:
    def __init__(self, work):
        self.work = work
        self.tree = os.path.join(work, "tree")
        self.reports = os.path.join(work, "reports")
        os.makedirs(self.tree)
        os.makedirs(self.reports)
        os.chmod(self.reports, 0o1777)
        self.common = ("log_path=%s/report:abort_on_error=1:handle_segv=0"
                       % self.reports)
        self.log = os.path.join(work, "build.log")
        self.ok = self._build()
        self.preload = self._runtime() if self.ok else None

    def _build(self):
        # the checkout's files (committed or not), not its build products:
        # the tree is configured in place, which rules out a VPATH build
        files = subprocess.run(
            ["git", "-C", TOP, "ls-files", "-co", "--exclude-standard",
             "-z"], stdout=subprocess.PIPE, check=True).stdout
        for name in files.decode().split("\0"):
            if name and os.path.isfile(os.path.join(TOP, name)):
                dest = os.path.join(self.tree, name)
                os.makedirs(os.path.dirname(dest), exist_ok=True)
                shutil.copy2(os.path.join(TOP, name), dest)
        with open(self.log, "wb") as log:
            return subprocess.run(
                "autoreconf -fi && ./configure --enable-werror "
                "--enable-sanitizers && make && make check TESTS=",
                shell=True, cwd=self.tree, stdout=log,
                stderr=subprocess.STDOUT).returncode == 0

    def _runtime(self):
        """The runtime the plugin needs in programs built without it: the
        compiler's own libasan first, then libubsan"""
        with open(os.path.join(self.tree, "Makefile")) as f:
            m = re.search(r"(?m)^CC = (.*)$", f.read())
        cc = (m.group(1).strip() if m else "") or "cc"
        paths = []
        for lib in ("libasan.so", "libubsan.so"):
            path = subprocess.run([*cc.split(), "-print-file-name=" + lib],
                                  stdout=subprocess.PIPE).stdout.decode()
            paths.append(os.path.realpath(path.strip()))
        return " ".join(paths)

    def env(self, leaks):
        env = dict(os.environ)
        env["UBSAN_OPTIONS"] = self.common + ":print_stacktrace=1"
        env["ASAN_OPTIONS"] = self.common + ":detect_leaks=%d" % leaks
        return env

    def tail(self, path, pattern=None, lines=15):
        with open(path, errors="replace") as f:
            text = f.read().splitlines()
        if pattern:
            text = [line for line in text if re.search(pattern, line)]
        return "\n".join(text[-lines:])


@pytest.fixture(scope="module")
def sanitized():
    work = tempfile.mkdtemp(prefix="sieve-encrypt-sanitizers.",
                            dir=scratch_base())
    os.chmod(work, 0o755)
    yield SanitizedBuild(work)
    if os.environ.get("SIEVE_ENCRYPT_KEEP"):
        print("kept %s" % work)
    else:
        shutil.rmtree(work, ignore_errors=True)


def built(sanitized):
    assert sanitized.ok, "build with --enable-sanitizers failed:\n" + \
        sanitized.tail(sanitized.log)
    assert all(os.path.isfile(p) for p in sanitized.preload.split()), \
        "sanitizer runtime not found: %s" % sanitized.preload


def test_build(sanitized):
    built(sanitized)


@pytest.mark.parametrize("program", unit_programs())
def test_unit(sanitized, program):
    """Instrumented, with LeakSanitizer"""
    built(sanitized)
    proc = subprocess.run(
        [os.path.join(sanitized.tree, "tests", program)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        env=sanitized.env(leaks=1))
    out = proc.stdout.decode(errors="replace")
    assert proc.returncode == 0, "\n".join(
        line for line in out.splitlines()
        if re.search("ERROR|runtime error|FAILED", line))[-2000:]


@pytest.mark.parametrize("svtest", SVTESTS)
def test_svtest(sanitized, svtest):
    """Pigeonhole's testsuite with the runtime preloaded"""
    built(sanitized)
    env = sanitized.env(leaks=0)
    env.update(PIGEONHOLE_TESTSUITE_BIN=TESTSUITE,
               SIEVE_ENCRYPT_PLUGIN_DIR=os.path.join(sanitized.tree,
                                                     "src", ".libs"),
               SIEVE_ENCRYPT_GPG_EXEC=os.path.join(
                   sanitized.tree, "src", "sieve-encrypt-gpg-exec"),
               SIEVE_ENCRYPT_PRELOAD=sanitized.preload)
    tests = os.path.join(sanitized.tree, "tests", "svtest")
    proc = subprocess.run([os.path.join(tests, "run-svtest.sh"),
                           os.path.join(tests, svtest)],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          env=env)
    assert proc.returncode == 0, \
        proc.stdout.decode(errors="replace")[-2000:]


@pytest.mark.parametrize("module", DELIVERY_TESTS)
def test_deliveries(sanitized, module):
    """The module's tests against the sanitizer build (its own pytest run,
    in parallel like the suite's)"""
    built(sanitized)
    env = sanitized.env(leaks=0)
    env.update(SIEVE_ENCRYPT_BUILD=sanitized.tree,
               SIEVE_ENCRYPT_PRELOAD=sanitized.preload,
               SIEVE_ENCRYPT_LOGDIR=sanitized.work)
    proc = subprocess.run([os.path.join(TOP, "tests", "run-pytest.sh"),
                           os.path.join("tests", "integration", module)],
                          cwd=TOP, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, env=env)
    out = proc.stdout.decode(errors="replace").splitlines()
    print(out[-1] if out else "no output")
    assert proc.returncode == 0, "\n".join(
        [line for line in out if line.startswith(("FAIL", "ERROR"))][:10]
        + out[-1:])


def test_no_sanitizer_reports(sanitized):
    """Last: no report file from any process of the tests above"""
    built(sanitized)
    reports = sorted(glob.glob(os.path.join(sanitized.reports, "*")))
    assert not reports, "%d sanitizer report(s): %s" % (
        len(reports), "\n".join(
            sanitized.tail(r, "ERROR|runtime error|SUMMARY", 3)
            for r in reports[:3]))
