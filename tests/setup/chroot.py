#!/usr/bin/python3
# Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
"""chroot.py - create and work in a Debian 13 (trixie) chroot with Dovecot
2.4 and Pigeonhole 2.4, for building and testing sieve-encrypt.

Usage: trixie-chroot.sh [-r DIR] COMMAND [ARGS]  (or tests/setup/chroot.py)
  setup [DIR]
      (also without a command) Create or update the chroot (DIR here or
      -r DIR); idempotent: stamp files inside record each step. Needs the Debian mirrors of the
      host's deb822 sources. Inside: CHROOT_PACKAGES, no service starts
      (policy-rc.d), the host's resolv.conf and hosts (its name must
      resolve without DNS, for Dovecot 2.4's config parser and
      test_noleak.py), the test user, and Pigeonhole's testsuite program
      built from Debian 13's source by build-testsuite.sh as
      /usr/local/bin/testsuite (on 2.4 it must run as a non-root user).
  sync [--clean] [SRC]
      Copy the project tree SRC (default: the checkout this program is in;
      tracked and untracked-but-not-ignored files, so uncommitted edits are
      included) to /src/sieve-encrypt in the chroot, owned by the test
      user. --clean removes the old copy (and its build results) first.
  run [--user] [--sync] [--cd DIR] [--] [CMD...]
      Run CMD (default: an interactive shell) in the chroot, as root or,
      with --user, as the test user, in a clean environment (HOME, USER,
      LOGNAME, PATH, LANG=C.UTF-8, TERM, and CI and MAKEFLAGS when set),
      with this program's stdin, stdout and stderr. The working directory
      is /src/sieve-encrypt when it exists (else the user's home), or
      --cd DIR. --sync runs `sync` first. The exit status is CMD's (128 + N
      when signal N ended it). After a run as root, files root created in
      /src/sieve-encrypt are given back to the test user.
  import SRC DEST
      Copy the host directory SRC to DEST inside the chroot (an absolute
      path; replaces what is there), owned by root and read-only for
      everyone, e.g. the mail corpus for tests/integration/test_roundtrip.py.
  info
      Print the chroot's path, user and Dovecot/Pigeonhole versions.
  umount
      Unmount what an interrupted run may have left mounted.
  verify [--no-check]
      A quick look at this checkout on Dovecot 2.4: sync --clean, build
      with --enable-werror as the test user, make install, the doveconf and
      dovecot-lda tests (tests/integration/test_examples.py, test_lda.py)
      and, unless --no-check, `make check`. tests/run-tests-24.sh runs all.

DIR defaults to $SIEVE_ENCRYPT_CHROOT, else /var/tmp/sieve-encrypt-trixie.

Mounts: /proc, /dev/pts (and /dev when the chroot has no device nodes)
are mounted while a command runs in the chroot and unmounted when it
ends, also on errors and signals (SIGINT, SIGTERM, SIGHUP: the program
ends with 128 + N once the running command has ended; SIGTERM and SIGHUP
are passed on to it). Commands on the same chroot are serialized by a
lock (DIR.lock), but a sequence of them (sync, build, test) is not: give
parallel users their own chroot with SIEVE_ENCRYPT_CHROOT or -r.

Example:
  tests/setup/trixie-chroot.sh run --sync -- sh -c \\
      'autoreconf -fi && ./configure --enable-werror && make && make install'
  tests/setup/trixie-chroot.sh run --user -- testsuite -P \\
      /src/sieve-encrypt/src/.libs/sieve_encrypt tests/x.svtest
"""

import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time

PROG = "trixie-chroot.sh"
DEFAULT_ROOT = "/var/tmp/sieve-encrypt-trixie"
SUITE = "trixie"
CHROOT_PACKAGES = """dovecot-core dovecot-dev dovecot-sieve dovecot-lmtpd
    dovecot-managesieved dovecot-imapd libgpgme-dev gnupg gpg-agent gpgsm
    openssl build-essential autoconf automake libtool pkg-config python3
    python3-pytest python3-pytest-xdist passwd strace sq rnp notmuch mutt
    debhelper fakeroot lintian man-db debootstrap""".split()
HOST_SOURCES = "/etc/apt/sources.list.d/debian.sources"
ARCHIVE_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
# Host apt settings the chroot's apt needs as well (proxies, clocks)
HOST_APT_SETTINGS = re.compile(
    r"^Acquire::((http|https|ftp)::Proxy|Check-Valid-Until|Check-Date"
    r"|Retries) ")
TEST_USER = "setest"
# Where the project tree is copied to inside the chroot
CHROOT_SRC = "/src/sieve-encrypt"
# Written by setup, inside the chroot
STAMP_DIR = "/var/lib/sieve-encrypt-chroot"
TESTSUITE_DIR = "/usr/local/lib/pigeonhole-testsuite"
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SCRIPT_DIR = os.path.dirname(os.path.abspath(__file__))
CHECKOUT = os.path.dirname(os.path.dirname(SCRIPT_DIR))

# verify: (name, run's arguments, whether the later steps need it)
VERIFY_STEPS = [
    ("build (Dovecot 2.4, --enable-werror)",
     ["--user", "--", "sh", "-c", "autoreconf -fi >/dev/null 2>&1 && "
      "./configure -q --enable-werror && make -s"], True),
    ("make install", ["--", "make", "-s", "install"], True),
    ("doveconf and dovecot-lda",
     ["--", "tests/run-pytest.sh", "tests/integration/test_examples.py",
      "tests/integration/test_lda.py"], False),
]
VERIFY_CHECK = ("make check",
                ["--user", "--", "make", "-s", "check",
                 "PIGEONHOLE_TESTSUITE_BIN=/usr/local/bin/testsuite"], False)


def log(text):
    print("%s: %s" % (PROG, text), file=sys.stderr)


def die(text):
    log("error: " + text)
    sys.exit(1)


class Signals:
    """SIGINT, SIGTERM and SIGHUP end the program with 128 + N, by
    SystemExit, so that the `finally` clauses unmount. Inside deferred()
    (while a child runs, while mounting or unmounting) the exit waits
    for the end of the block; SIGTERM and SIGHUP are passed on to the
    running children meanwhile (SIGINT from a terminal reaches them
    anyway)."""

    def __init__(self):
        self.caught = None
        self.depth = 0
        self.children = []
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, self.handle)

    def handle(self, signum, frame):
        if self.depth == 0:
            sys.exit(128 + signum)
        self.caught = signum
        if signum != signal.SIGINT:
            for child in self.children:
                child.send_signal(signum)

    @contextlib.contextmanager
    def deferred(self):
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1
            if self.depth == 0 and self.caught is not None:
                sys.exit(128 + self.caught)


signals = None


def status(returncode):
    """A child's exit status as a shell reports it"""
    return 128 - returncode if returncode < 0 else returncode


def pipeline(*commands, stdin_bytes=None, stdin=None, into=None):
    """Run the COMMANDS ((argv, cwd) pairs) as a shell pipeline, the first
    one reading STDIN_BYTES if given, else the file STDIN, else this
    program's stdin; INTO: where the output and the errors go (a file,
    subprocess.DEVNULL; None: ours). The status of the last one that
    failed (as with `set -o pipefail`)"""
    with signals.deferred():
        procs = []
        if stdin_bytes is not None:
            stdin = subprocess.PIPE
        for argv, cwd in commands:
            last = len(procs) == len(commands) - 1
            try:
                procs.append(subprocess.Popen(
                    argv, cwd=cwd, stdin=stdin, stderr=into,
                    stdout=into if last else subprocess.PIPE))
            except OSError as e:
                die("%s: %s" % (argv[0], e.strerror))
            signals.children.append(procs[-1])
            if len(procs) > 1:
                stdin.close()   # the reading end is the new child's now
            stdin = procs[-1].stdout
        if stdin_bytes is not None:
            procs[0].stdin.write(stdin_bytes)
            procs[0].stdin.close()
        rc = 0
        for proc in procs:
            proc.wait()
            signals.children.remove(proc)
            rc = status(proc.returncode) or rc
    return rc


def output(argv, cwd=None):
    """ARGV's standard output; its failure ends the program (set -e)"""
    with signals.deferred():
        proc = subprocess.run(argv, cwd=cwd, stdout=subprocess.PIPE)
    if proc.returncode != 0:
        sys.exit(status(proc.returncode))
    return proc.stdout


def call(argv, cwd=None, quiet=False, stdin=None, into=None):
    """Run ARGV (see pipeline()); QUIET: no output"""
    return pipeline((argv, cwd), stdin=stdin,
                    into=subprocess.DEVNULL if quiet else into)


def must(argv, cwd=None):
    """Run ARGV; its failure ends the program with its status (set -e)"""
    rc = call(argv, cwd)
    if rc != 0:
        sys.exit(rc)


def git_sources(src):
    """The files of the git work tree SRC that exist, tracked or untracked
    but not ignored (so uncommitted edits are included), for tar -T:
    NUL-terminated"""
    listing = output(["git", "ls-files", "-z", "--cached", "--others",
                      "--exclude-standard"], cwd=src)
    return b"".join(name + b"\0" for name in listing.split(b"\0")
                    if name and os.path.exists(os.path.join(os.fsencode(src), name)))


def mount_points():
    def unescape(path):
        return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), path)
    with open("/proc/self/mountinfo") as f:
        return {unescape(line.split()[4]) for line in f}


def is_mount_point(path):
    return os.path.realpath(path) in mount_points()


def clean_env(user, home):
    """The environment of a command in the chroot (env -i)"""
    return ["HOME=" + home, "USER=" + user, "LOGNAME=" + user,
            "PATH=" + PATH, "LANG=C.UTF-8"]


def host_mirrors():
    """(mirror, security mirror or None): the URIs of the first stanzas of
    the host's deb822 sources whose Suites do not name, and name, a
    -security suite"""
    found = {}
    try:
        with open(HOST_SOURCES) as f:
            stanzas = re.split(r"\n[ \t]*\n", f.read())
    except OSError:
        stanzas = []
    for stanza in stanzas:
        uri = re.search(r"^URIs:[ \t]*(\S+)", stanza, re.M)
        if uri:
            security = re.search(r"^Suites:.*-security", stanza, re.M)
            found.setdefault(security is not None, uri.group(1))
    return found.get(False), found.get(True)


def host_apt_settings():
    """The lines of `apt-config dump` that the chroot's apt needs too"""
    proc = subprocess.run(["apt-config", "dump"], stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL)
    return [line + "\n" for line in proc.stdout.decode().splitlines()
            if HOST_APT_SETTINGS.match(line)]


class Chroot:
    def __init__(self, root):
        self.root = root
        self.lock_fd = None
        self.mounted = []

    def path(self, inside):
        return self.root + inside

    def need(self):
        if not os.path.isfile(self.path(STAMP_DIR + "/packages")):
            die("no chroot at %s yet; run: %s -r %s setup"
                % (self.root, PROG, self.root))

    def take_lock(self):
        if self.lock_fd is not None:
            return
        os.makedirs(os.path.dirname(self.root), exist_ok=True)
        self.lock_fd = os.open(self.root + ".lock",
                               os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        try:
            fcntl.flock(self.lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log("waiting for another run on %s" % self.root)
            fcntl.flock(self.lock_fd, fcntl.LOCK_EX)

    def ids(self, user):
        """USER's "uid", "gid" in the chroot, or None"""
        with open(self.path("/etc/passwd")) as f:
            for line in f:
                fields = line.rstrip("\n").split(":")
                if len(fields) > 3 and fields[0] == user:
                    return fields[2], fields[3]
        return None

    def test_user_ids(self):
        ids = self.ids(TEST_USER)
        if ids is None:
            die("no user %s in the chroot" % TEST_USER)
        return ids

    def mount(self):
        # Recorded before mounting: unmount() skips what is not mounted
        with signals.deferred():
            proc = self.path("/proc")
            if not is_mount_point(proc):
                self.mounted.append(proc)
                must(["mount", "-t", "proc", "proc", proc])
            # debootstrap normally creates the device nodes; bind /dev
            # only when it could not (e.g. inside a container)
            dev = self.path("/dev")
            if not is_char_device(dev + "/null") and not is_mount_point(dev):
                self.mounted.append(dev)
                must(["mount", "--bind", "/dev", dev])
                must(["mount", "--make-private", dev])
            # pseudo-terminals (test_inline runs mutt under script(1)):
            # the host's devpts; the chroot's /dev/ptmx opens the devpts
            # mounted beside it
            pts = self.path("/dev/pts")
            if os.path.isdir(pts) and not is_mount_point(pts):
                self.mounted.append(pts)
                must(["mount", "--bind", "/dev/pts", pts])
                must(["mount", "--make-private", pts])

    def unmount(self):
        with signals.deferred():
            while self.mounted:
                where = self.mounted.pop()
                if not is_mount_point(where):
                    continue
                if call(["umount", where], quiet=True) == 0:
                    continue
                log("warning: %s busy (processes in the chroot: %s); lazy unmount"
                    % (where, " ".join(self.pids()) or "none"))
                if call(["umount", "-l", where]) != 0:
                    log("warning: cannot unmount %s" % where)

    def pids(self):
        """Processes whose root directory is the chroot"""
        found = []
        for entry in os.listdir("/proc"):
            try:
                if entry.isdigit() and \
                   os.readlink("/proc/%s/root" % entry) == self.root:
                    found.append(int(entry))
            except OSError:
                pass
        return [str(pid) for pid in sorted(found)]

    def versions(self):
        found = []
        for name, header in (("Dovecot", "config.h"),
                             ("Pigeonhole", "sieve/pigeonhole-config.h")):
            define = re.compile(r'#define %s_VERSION "(.*)"$' % name.upper())
            try:
                with open(self.path("/usr/include/dovecot/" + header)) as f:
                    for line in f:
                        m = define.match(line.rstrip("\n"))
                        if m:
                            found.append("%s %s" % (name, m.group(1)))
            except OSError:
                pass
        return " ".join(found)

    def sync(self, args):
        clean = False
        while args and args[0].startswith("-"):
            option, args = args[0], args[1:]
            if option == "--":
                break
            if option != "--clean":
                die("sync: unknown option %s" % option)
            clean = True
        src = args[0] if args else CHECKOUT
        if not os.path.isdir(src):
            die("sync: %s is not a directory" % src)
        src = os.path.abspath(src)
        self.need()
        uid, gid = self.test_user_ids()
        dest = self.path(CHROOT_SRC)
        if clean:
            must(["rm", "-rf", "--one-file-system", dest])
        os.makedirs(dest, exist_ok=True)
        unpack = (["tar", "-xf", "-", "-C", dest], None)
        if call(["git", "-C", src, "rev-parse", "--is-inside-work-tree"],
                quiet=True) == 0:
            rc = pipeline((["tar", "--null", "-T", "-", "-cf", "-"], src),
                          unpack, stdin_bytes=git_sources(src))
        else:
            rc = pipeline((["tar", "--exclude=.git", "-cf", "-", "."], src),
                          unpack)
        if rc != 0:
            sys.exit(rc)
        must(["chown", "-R", "%s:%s" % (uid, gid), dest])
        os.chmod(dest, 0o755)
        log("copied %s to %s" % (src, dest))

    def import_dir(self, args):
        if len(args) != 2:
            die("usage: %s import SRC DEST" % PROG)
        src, dest = args
        if not os.path.isdir(src):
            die("import: %s is not a directory" % src)
        parts = [part for part in dest.split("/") if part]
        if not dest.startswith("/") or not parts:
            die("import: DEST must be an absolute path other than /")
        if "." in parts or ".." in parts:
            die("import: DEST must not contain . or .. components")
        self.need()
        dest = self.path("/" + "/".join(parts))
        must(["rm", "-rf", "--one-file-system", dest])
        os.makedirs(dest, exist_ok=True)
        rc = pipeline((["tar", "-cf", "-", "."], src),
                      (["tar", "-xf", "-", "--no-same-owner",
                        "--no-same-permissions", "-C", dest], None))
        if rc != 0:
            sys.exit(rc)
        must(["chown", "-R", "0:0", dest])
        must(["chmod", "-R", "a+rX,a-w", dest])
        log("copied %s to %s (read-only)" % (src, dest))

    def run(self, args):
        as_user = sync = False
        cwd = None
        while args and args[0].startswith("-"):
            option, args = args[0], args[1:]
            if option == "--":
                break
            if option == "--user":
                as_user = True
            elif option == "--sync":
                sync = True
            elif option == "--cd":
                if not args:
                    die("--cd needs a directory")
                cwd, args = args[0], args[1:]
            else:
                die("run: unknown option %s" % option)
        self.need()
        self.take_lock()
        if sync:
            self.sync([])
        user, home, userspec = "root", "/root", []
        if as_user:
            user, home = TEST_USER, "/home/" + TEST_USER
            uid, gid = self.test_user_ids()
            userspec = ["--userspec=%s:%s" % (uid, gid), "--groups=" + gid]
        if cwd is None:
            cwd = CHROOT_SRC if os.path.isdir(self.path(CHROOT_SRC)) else home
        env = clean_env(user, home) + [
            "TERM=" + (os.environ.get("TERM") or "dumb")]
        env += ["%s=%s" % (name, os.environ[name]) for name in ("CI", "MAKEFLAGS")
                if os.environ.get(name)]
        self.mount()
        rc = call(["chroot"] + userspec + [self.root, "/usr/bin/env", "-i"] +
                  env + ["/bin/sh", "-c", 'cd "$1" || exit 1; shift; exec "$@"',
                         "sh", cwd] + (args or ["/bin/bash", "-i"]))
        if not as_user:
            self.give_back_src()
        self.unmount()
        return rc

    def give_back_src(self):
        """Files that root made in the project copy (e.g. `make install`
        relinking) would stop the test user's next build"""
        src = self.path(CHROOT_SRC)
        ids = self.ids(TEST_USER)
        if not os.path.isdir(src) or ids is None:
            return
        uid, gid = ids
        call(["find", src, "-xdev", "(", "!", "-uid", uid, "-o", "!", "-gid",
              gid, ")", "-exec", "chown", "-h", "%s:%s" % ids, "{}", "+"],
             quiet=True)

    def info(self):
        self.need()
        try:
            with open(self.path(TESTSUITE_DIR + "/stamp")) as f:
                testsuite = f.read().rstrip("\n")
        except OSError:
            testsuite = "missing"
        print("chroot: %s" % self.root)
        print("source: %s" % self.path(CHROOT_SRC))
        print("user:   %s" % TEST_USER)
        print("versions: %s" % self.versions())
        print("testsuite: %s" % testsuite)

    def umount(self):
        self.take_lock()
        for where in (self.path("/dev/pts"), self.path("/dev"),
                      self.path("/proc")):
            if is_mount_point(where):
                if call(["umount", where]) != 0:
                    must(["umount", "-l", where])
                log("unmounted %s" % where)

    def verify(self, args):
        if args not in ([], ["--no-check"]):
            die("verify: unknown argument %s" % args[0])
        self.need()
        self.take_lock()
        self.sync(["--clean"])
        steps = VERIFY_STEPS + ([] if args else [VERIFY_CHECK])
        passed = failed = 0
        for name, run_args, needed in steps:
            print("=== " + name)
            rc = self.run(run_args)
            if rc == 0:
                print("--- ok: " + name)
                passed += 1
            else:
                print("--- FAILED: %s (rc %d)" % (name, rc))
                failed += 1
                if needed:
                    break
        print("verify: %d passed, %d failed" % (passed, failed))
        return 0 if failed == 0 else 1


class Setup:
    """Create or update the chroot; a step is skipped when its stamp says
    it was done for the same input"""

    def __init__(self, chroot):
        self.chroot = chroot
        self.root = chroot.root

    def run(self):
        mirror, security = host_mirrors()
        if mirror is None:
            die("no Debian mirror found in " + HOST_SOURCES)
        start = time.monotonic()
        self.chroot.take_lock()
        self.debootstrap(mirror)
        apt_key = self.configure(mirror, security)
        self.chroot.mount()
        self.install_packages(apt_key)
        if self.chroot.ids(TEST_USER) is None:
            log("adding the test user " + TEST_USER)
            must(self.in_chroot(["useradd", "--create-home",
                                 "--shell", "/bin/bash", TEST_USER]))
        self.build_testsuite()
        self.chroot.unmount()
        log("ready: %s (%s) in %d s" % (self.root, self.chroot.versions(),
                                         time.monotonic() - start))

    def stamp_ok(self, name, value):
        try:
            with open(self.chroot.path(STAMP_DIR + "/" + name)) as f:
                return f.read().rstrip("\n") == value
        except OSError:
            return False

    def stamp_set(self, name, value):
        os.makedirs(self.chroot.path(STAMP_DIR), exist_ok=True)
        self.write(STAMP_DIR + "/" + name, value + "\n")

    def write(self, inside, text, mode=0o644):
        with open(self.chroot.path(inside), "w") as f:
            f.write(text)
        os.chmod(self.chroot.path(inside), mode)

    def in_chroot(self, argv):
        return (["chroot", self.root, "/usr/bin/env", "-i"] +
                clean_env("root", "/root") +
                ["DEBIAN_FRONTEND=noninteractive"] + argv)

    def logged(self, commands, path, what):
        """Run COMMANDS one after the other, their output into PATH; a
        failure shows its end and ends the program"""
        with open(path, "wb") as f:
            for argv in commands:
                if call(argv, into=f) != 0:
                    break
            else:
                return
        with open(path, "rb") as f:
            tail = f.read().decode(errors="replace").splitlines()[-20:]
        print("\n".join(tail), file=sys.stderr)
        die("%s failed, see %s" % (what, path))

    def debootstrap(self, mirror):
        """(an interrupted one of ours is started again from scratch)"""
        if os.path.isfile(self.chroot.path(STAMP_DIR + "/debootstrap")):
            return
        if shutil.which("debootstrap") is None and call(
                [os.path.join(SCRIPT_DIR, "install-deps.sh"), "--with-24"],
                into=sys.stderr) != 0:
            die("cannot install debootstrap")
        if not os.path.exists("/usr/share/debootstrap/scripts/" + SUITE):
            die("this debootstrap does not know " + SUITE)
        if os.path.isdir(self.root) and os.listdir(self.root):
            if not os.path.isdir(self.chroot.path("/debootstrap")):
                die("%s exists, is not empty and was not made by %s"
                    % (self.root, PROG))
            if any(m.startswith(self.root + "/") for m in mount_points()):
                die("something is mounted below %s; run: %s -r %s umount"
                    % (self.root, PROG, self.root))
            log("removing the interrupted debootstrap in " + self.root)
            must(["rm", "-rf", "--one-file-system", self.root])
        os.makedirs(self.root, exist_ok=True)
        log("debootstrap %s into %s from %s (takes a minute)"
            % (SUITE, self.root, mirror))
        self.logged([["debootstrap", "--variant=minbase", SUITE, self.root,
                      mirror]], self.root + ".debootstrap.log", "debootstrap")
        os.unlink(self.root + ".debootstrap.log")
        self.stamp_set("debootstrap", "%s %s" % (SUITE, mirror))

    def configure(self, mirror, security):
        """apt sources and options (written every time: their hash, the
        result, is in the packages stamp), no services, the host's name
        service files"""
        signed = ""
        if os.path.exists(self.chroot.path(ARCHIVE_KEYRING)):
            signed = "Signed-By: %s\n" % ARCHIVE_KEYRING
        stanza = "Types: deb deb-src\nURIs: %s\nSuites: %s\nComponents: main\n"
        sources = stanza % (mirror, "%s %s-updates" % (SUITE, SUITE)) + signed
        if security:
            sources += "\n" + stanza % (security, SUITE + "-security") + signed
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.chroot.path("/etc/apt/sources.list"))
        self.write("/etc/apt/sources.list.d/debian.sources", sources)
        apt_conf = {"90sieve-encrypt-host": "".join(host_apt_settings()),
                    "90sieve-encrypt-norecommends":
                    'APT::Install-Recommends "false";\n'
                    'APT::Install-Suggests "false";\n'}
        for name, text in apt_conf.items():
            path = "/etc/apt/apt.conf.d/" + name
            if text:
                self.write(path, text)
            else:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.chroot.path(path))
        self.write("/usr/sbin/policy-rc.d", "#!/bin/sh\n# installed by %s: "
                   "never start services\nexit 101\n" % PROG, 0o755)
        for name in ("/etc/resolv.conf", "/etc/hosts"):
            if os.access(name, os.R_OK):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.chroot.path(name))
                shutil.copyfile(name, self.chroot.path(name))
        self.add_host_name()
        return hashlib.md5((sources + "".join(
            apt_conf[name] for name in sorted(apt_conf))).encode()).hexdigest()

    def add_host_name(self):
        name = socket.gethostname()
        if not name:
            return
        with open(self.chroot.path("/etc/hosts")) as f:
            for line in f:
                fields = line.split()
                if fields and not fields[0].startswith("#") and \
                   name in fields[1:]:
                    return
        with open(self.chroot.path("/etc/hosts"), "a") as f:
            f.write("127.0.1.1\t%s\n" % name)

    def install_packages(self, apt_key):
        key = " ".join([apt_key] + CHROOT_PACKAGES)
        if self.stamp_ok("packages", key) and \
           os.access(self.chroot.path("/usr/lib/dovecot/dovecot-lda"), os.X_OK):
            return
        log("apt-get update + install in the chroot")
        os.makedirs(self.chroot.path(STAMP_DIR), exist_ok=True)
        # (dpkg --configure: finishes an interrupted install)
        self.logged([self.in_chroot(argv) for argv in (
            ["dpkg", "--configure", "-a"], ["apt-get", "-q", "update"],
            ["apt-get", "-q", "install", "-y", "--no-install-recommends"] +
            CHROOT_PACKAGES, ["apt-get", "-q", "clean"])],
            self.chroot.path(STAMP_DIR + "/apt.log"),
            "apt-get update or install in the chroot")
        self.stamp_set("packages", key)

    def build_testsuite(self):
        version = output(self.in_chroot([
            "dpkg-query", "-W", "-f=${source:Version}", "dovecot-sieve"]))
        version = version.decode()
        program = TESTSUITE_DIR + "/testsuite"
        if self.stamp_ok("testsuite", version) and \
           os.access(self.chroot.path(program), os.X_OK):
            return
        log("building Pigeonhole's testsuite in the chroot")
        # the host's builder, fed to the chroot's bash
        with open(os.path.join(SCRIPT_DIR, "build-testsuite.sh"), "rb") as f:
            rc = call(self.in_chroot(["/bin/bash", "-s", "--", TESTSUITE_DIR,
                                      TEST_USER]), stdin=f, into=sys.stderr)
        if rc != 0:
            sys.exit(rc)
        link = self.chroot.path("/usr/local/bin/testsuite")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(link)
        os.symlink(program, link)
        self.stamp_set("testsuite", version)


def is_char_device(path):
    try:
        return stat.S_ISCHR(os.stat(path).st_mode)
    except OSError:
        return False


def main(args):
    global signals
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)   # `... --help | head`
    sys.stdout.reconfigure(line_buffering=True)
    root = os.environ.get("SIEVE_ENCRYPT_CHROOT") or DEFAULT_ROOT
    if args and args[0] in ("-r", "--root"):
        if len(args) < 2:
            die("%s needs a directory" % args[0])
        root, args = args[1], args[2:]
    if args and args[0] in ("-h", "--help"):
        print(__doc__, end="")
        return 0
    if os.getuid() != 0:
        die("must run as root")
    commands = ("setup", "sync", "run", "shell", "import", "info", "umount",
                "verify")
    command, args = (args[0], args[1:]) if args else ("setup", [])
    if command not in commands:
        die("unknown command %s; one of: %s" % (command, ", ".join(commands)))
    if command == "setup" and args:
        if len(args) > 1 or args[0].startswith("-"):
            die("usage: %s [-r DIR] setup [DIR]" % PROG)
        root = args[0]
    if not root.startswith("/"):
        root = os.path.join(os.getcwd(), root)
    if root.endswith("/"):
        root = root[:-1]
    if root in ("", "/"):
        die("refusing to use / as the chroot")

    signals = Signals()
    chroot = Chroot(root)
    try:
        if command == "setup":
            Setup(chroot).run()
        elif command == "sync":
            chroot.take_lock()
            chroot.sync(args)
        elif command == "import":
            chroot.take_lock()
            chroot.import_dir(args)
        elif command == "run":
            return chroot.run(args)
        elif command == "shell":
            return chroot.run(args + ["--", "/bin/bash", "-i"])
        elif command == "info":
            chroot.info()
        elif command == "umount":
            chroot.umount()
        elif command == "verify":
            return chroot.verify(args)
        return 0
    finally:
        chroot.unmount()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
