# Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
"""The Debian package dovecot-sieve-encrypt (issue 17), built as an admin
would build it: from make dist's tarball, by dpkg-buildpackage -us -uc -b
in the unpacked tree, then checked with lintian and dpkg-deb; then
installed into a fresh Debian root of the same release (harness/
freshroot.py: Debian 12 on the host, 13 in the chroot) with apt, enabled
as the conf.d snippet's head says, used by the installed dovecot-lda and
LMTP, and purged.

The package is built with DEB_BUILD_OPTIONS=nocheck: make check runs in
its own group. Slow group (marker "package"): the build and the fresh
root take minutes.
"""

import os
import re
import shutil
import subprocess
import tarfile
import time

import pytest

from conftest import MESSAGES, TOP
from harness import freshroot, pgpmime
from harness import lmtp as lmtp_mod

pytestmark = pytest.mark.package

PACKAGE = "dovecot-sieve-encrypt"
SNIPPET = "/etc/dovecot/conf.d/90-sieve-encrypt.conf"
# How the snippet's head says to enable it
ENABLE = r"s/^#\([^#]\)/\1/"
# The system user of the fresh root, and the address of its key
USER = "alice"
ADDRESS = "alice@example.org"
MESSAGE = "04-mixed-attachment.eml"


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True,
                          **kw).stdout


def version():
    with open(os.path.join(TOP, "configure.ac")) as f:
        return re.search(r"AC_INIT\(\[sieve-encrypt\], \[([^]]+)\]",
                         f.read()).group(1)


def dovecot_config(name):
    """A variable of Dovecot's dovecot-config (installed by dovecot-dev)"""
    with open("/usr/lib/dovecot/dovecot-config") as f:
        m = re.search(r"^%s=\"?([^\"\n]*)\"?$" % name, f.read(), re.M)
    return m.group(1)


def series():
    with open("/usr/share/dovecot/dovecot-abi") as f:
        return f.read().strip()[:3]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    work = tmp_path_factory.mktemp("package")
    name = "sieve-encrypt-%s" % version()
    run(["make", "-s", "dist"], cwd=TOP)
    tarball = os.path.join(TOP, name + ".tar.gz")
    with tarfile.open(tarball) as tar:
        tar.extractall(work)
    os.unlink(tarball)
    env = dict(os.environ, DEB_BUILD_OPTIONS="nocheck")
    run(["dpkg-buildpackage", "-us", "-uc", "-b"], cwd=work / name, env=env)
    debs = [p for p in work.iterdir()
            if p.name.startswith(PACKAGE + "_") and p.name.endswith(".deb")]
    assert len(debs) == 1, debs
    changes = [p for p in work.iterdir() if p.name.endswith(".changes")]
    return {"deb": str(debs[0]), "changes": str(changes[0])}


def test_lintian_clean(built):
    r = subprocess.run(["lintian", "--no-cfg", built["changes"]],
                       capture_output=True, text=True)
    tags = [line for line in r.stdout.splitlines()
            if line.startswith(("E:", "W:"))]
    assert tags == [], r.stdout


def test_files_where_make_install_puts_them(built):
    files = set(line.split()[-1].lstrip(".")
                for line in run(["dpkg-deb", "-c", built["deb"]])
                .splitlines())
    moduledir = dovecot_config("dovecot_moduledir")
    libexecdir = dovecot_config("dovecot_pkglibexecdir")
    doc = "/usr/share/doc/%s/" % PACKAGE
    expected = {
        moduledir + "/sieve/lib90_sieve_encrypt_plugin.so",
        libexecdir + "/sieve-encrypt-gpg-exec",
        "/usr/share/man/man7/sieve-encrypt.7.gz",
        "/usr/share/man/man8/sieve-encrypt-gpg-exec.8.gz",
        "/usr/share/man/man8/sieve-encrypt-mailbox.8.gz",
        "/usr/sbin/sieve-encrypt-mailbox",
        "/etc/dovecot/conf.d/90-sieve-encrypt.conf",
        doc + "copyright",
        doc + "vnd.x.encrypt.txt.gz",
        doc + "admin-howto.md.gz",
        doc + "examples/global.sieve",
    }
    if series() == "2.4":
        expected.add(moduledir + "/settings/libsieve_encrypt_settings.so")
    assert expected - files == set()
    assert [f for f in files if f.endswith(".la")] == []


def test_depends_on_the_dovecot_abi(built):
    depends = run(["dpkg-deb", "-f", built["deb"], "Depends"])
    provides = run(["dpkg-query", "-W", "-f", "${Provides}", "dovecot-core"])
    abi = [p.strip() for p in provides.split(",")
           if p.strip().startswith("dovecot-abi-")]
    assert len(abi) == 1, provides
    deps = [d.strip() for d in depends.split(",")]
    assert abi[0] in deps
    for dep in ("dovecot-sieve", "gpg"):
        assert dep in deps


def test_snippet_is_an_inert_conffile(built, tmp_path):
    run(["dpkg-deb", "-e", built["deb"], str(tmp_path / "DEBIAN")])
    conffiles = (tmp_path / "DEBIAN" / "conffiles").read_text().split()
    assert "/etc/dovecot/conf.d/90-sieve-encrypt.conf" in conffiles
    run(["dpkg-deb", "-x", built["deb"], str(tmp_path / "root")])
    snippet = (tmp_path / "root/etc/dovecot/conf.d/90-sieve-encrypt.conf")
    lines = snippet.read_text().splitlines()
    plugins = {"2.3": "sieve_plugins = sieve_encrypt",
               "2.4": "sieve_encrypt = yes"}[series()]
    assert any(plugins in line for line in lines)
    assert [line for line in lines
            if line.strip() and not line.startswith("#")] == []


def test_man_pages_render_without_warnings(built, tmp_path):
    run(["dpkg-deb", "-x", built["deb"], str(tmp_path)])
    for page in ("man7/sieve-encrypt.7.gz", "man8/sieve-encrypt-gpg-exec.8.gz",
                 "man8/sieve-encrypt-mailbox.8.gz"):
        r = subprocess.run(["man", "--warnings", "-l",
                            str(tmp_path / "usr/share/man" / page)],
                           capture_output=True, text=True,
                           env=dict(os.environ, MANWIDTH="80"))
        assert r.returncode == 0 and r.stderr == "", r.stderr
        assert "sieve_encrypt_gnupg_home" in r.stdout or "gpg-exec" in page


def uncommented(text):
    """The lines of a Dovecot configuration that are neither empty nor
    comments"""
    return [line for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def test_snippet_enabled_is_the_example(built, tmp_path):
    """The head's sed command makes the snippet the example configuration"""
    run(["dpkg-deb", "-x", built["deb"], str(tmp_path)])
    snippet = str(tmp_path) + SNIPPET
    with open(snippet) as f:
        assert ENABLE in f.read()
    run(["sed", "-i", ENABLE, snippet])
    with open(snippet) as f:
        enabled = f.read()
    example = os.path.join(TOP, "doc/examples/90-sieve-encrypt-%s.conf"
                           % series())
    with open(example) as f:
        assert uncommented(enabled) == uncommented(f.read())


# The fresh root: Debian's Dovecot and the package, installed by apt


def local_conf():
    """/etc/dovecot/local.conf of the fresh root: a log file (a minimal
    system has no syslog) and Maildirs (Debian's default is mbox)"""
    if series() == "2.4":
        return ("log_path = /var/log/dovecot.log\n"
                "mail_driver = maildir\nmail_path = ~/Maildir\n"
                "mail_inbox_path =\n")
    return ("log_path = /var/log/dovecot.log\n"
            "mail_location = maildir:~/Maildir\n")


def enable(root):
    """As the snippet's head says: uncomment, default keys for system
    users (their name @example.org), the global script compiled"""
    root.run(["sed", "-i", ENABLE, SNIPPET])
    with open(root.path(SNIPPET)) as f:
        text = f.read()
    text = re.sub(r"^(\s*)(sieve_encrypt_default_keys = )", r"\1#\2", text,
                  flags=re.M)
    text = re.sub(r"^(\s*)#+(sieve_encrypt_default_keys = .*@example\.org)$",
                  r"\1\2", text, flags=re.M)
    assert len(re.findall(r"^\s*sieve_encrypt_default_keys", text,
                          re.M)) == 1, text
    with open(root.path(SNIPPET), "w") as f:
        f.write(text)
    with open(root.path("/etc/dovecot/local.conf"), "w") as f:
        f.write(local_conf())
    root.run(["mkdir", "-p", "/etc/dovecot/sieve"])
    root.run(["cp", "/usr/share/doc/%s/examples/global.sieve" % PACKAGE,
              "/etc/dovecot/sieve/global.sieve"])
    root.run(["sievec", "/etc/dovecot/sieve/global.sieve"])


class Installed:
    """The fresh root with the package installed and enabled, the system
    user USER with a keyring holding KEY, Dovecot running"""

    def __init__(self, root, key):
        self.root = root
        self.key = key
        self.maildir = root.path("/home/%s/Maildir" % USER)

    def install_dovecot(self):
        self.root.run(["apt-get", "-q", "update"])
        self.root.run(["apt-get", "-q", "install", "-y"] +
                      freshroot.PACKAGES)

    def install(self, deb):
        inside = "/tmp/" + os.path.basename(deb)
        shutil.copy(deb, self.root.path(inside))
        self.apt_output = self.root.run(["apt-get", "-q", "install", "-y",
                                         inside])

    def add_user(self):
        self.root.run(["useradd", "--create-home", USER])
        public = subprocess.run(
            ["gpg", "--homedir", self.key.public_home, "--armor",
             "--export", self.key.fpr], check=True,
            stdout=subprocess.PIPE).stdout
        self.root.run(["gpg", "--batch", "--import"], user=USER,
                      input=public)

    def start(self):
        subprocess.run(self.root.popen_argv(["dovecot"]), check=True,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        self.lmtp_socket = self.root.path("/run/dovecot/lmtp")
        for _ in range(100):
            if os.path.exists(self.lmtp_socket):
                return
            time.sleep(0.1)
        raise RuntimeError("no LMTP socket; log:\n" + self.log())

    def log(self):
        with open(self.root.path("/var/log/dovecot.log"),
                  errors="replace") as f:
            return f.read()

    def messages(self):
        """The files in the new/ folders of the Maildir (on 2.4 INBOX is
        .INBOX under Debian's namespace settings)"""
        return set(os.path.join(top, name)
                   for top, dirs, files in os.walk(self.maildir)
                   if os.path.basename(top) == "new" for name in files)

    def stored_since(self, before):
        new = self.messages() - before
        assert len(new) == 1, new
        with open(new.pop(), "rb") as f:
            return f.read()

    def encrypted_lines(self, service):
        return [line for line in self.log().splitlines()
                if " %s(%s)<" % (service, USER) in line and
                "encrypted message to key %s " % self.key.keyid in line]


@pytest.fixture(scope="module")
def installed(built, keyfactory, tmp_path_factory):
    """The package installed into a fresh root; prints how long each
    step took"""
    steps = [time.monotonic()]

    def lap(what):
        steps.append(time.monotonic())
        print("fresh root: %s %.1f s" % (what, steps[-1] - steps[-2]))

    root = freshroot.FreshRoot(str(tmp_path_factory.mktemp("fresh") /
                                   "root"))
    inst = Installed(root, keyfactory.get(ADDRESS))
    try:
        lap("unpacked")
        inst.install_dovecot()
        lap("Dovecot installed")
        inst.install(built["deb"])
        lap("the package installed")
        enable(root)
        inst.add_user()
        inst.start()
        lap("enabled, user added, Dovecot started")
        yield inst
    finally:
        root.close()
        lap("tests run, root removed")


def test_apt_installs_the_dependencies(built, installed):
    """apt resolves the package's Depends: the gpgme library (no package
    installed before it needs it) comes with it"""
    depends = run(["dpkg-deb", "-f", built["deb"], "Depends"])
    gpgme = re.search(r"\b(libgpgme[^\s,(]*)", depends).group(1)
    assert re.search(r"^Setting up %s[: ]" % re.escape(gpgme),
                     installed.apt_output, re.M), installed.apt_output
    status = installed.root.run(["dpkg-query", "-W", "-f",
                                 "${db:Status-Abbrev}", PACKAGE])
    assert status.startswith("ii"), status


def test_installed_lda_delivery_decrypts(installed):
    with open(os.path.join(MESSAGES, MESSAGE), "rb") as f:
        original = f.read()
    before = installed.messages()
    installed.root.run(["/usr/lib/dovecot/dovecot-lda", "-d", USER,
                        "-f", "sender@example.net"], input=original)
    stored = installed.stored_since(before)
    pgpmime.verify(original, stored, installed.key.secret_home, "encrypted",
                   set(), False, None)
    assert len(installed.encrypted_lines("lda")) == 1, installed.log()


def test_installed_lmtp_delivery_decrypts(installed):
    with open(os.path.join(MESSAGES, MESSAGE), "rb") as f:
        original = f.read()
    before = installed.messages()
    with lmtp_mod.Client(path=installed.lmtp_socket) as client:
        replies = client.send(original, [USER])
    assert [r.code for r in replies] == [250], replies
    stored = installed.stored_since(before)
    pgpmime.verify(lmtp_mod.sent_bytes(original), stored,
                   installed.key.secret_home, "encrypted",
                   set(pgpmime.LMTP_TRACE_FIELDS), True, None)
    assert len(installed.encrypted_lines("lmtp")) == 1, installed.log()


def owned(root, path):
    """Whether a package in ROOT owns PATH"""
    return subprocess.run(freshroot.chroot_argv(root.dir, [
        "dpkg-query", "-S", path]), stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL).returncode == 0


def test_purge_leaves_nothing(installed):
    """Last: apt-get purge removes every file of the package and its
    conffile (enabled, so changed); the directories left are other
    packages'"""
    root = installed.root
    root.run(["doveadm", "stop"])
    files = [f for f in root.run(["dpkg-query", "-L", PACKAGE]).split()
             if f != "/."]
    conffiles = root.run(["dpkg-query", "-W", "-f", "${Conffiles}",
                          PACKAGE]).split()
    assert SNIPPET in conffiles and SNIPPET in files
    root.run(["apt-get", "-q", "purge", "-y", PACKAGE])
    left = [f for f in files if os.path.lexists(root.path(f))]
    assert [f for f in left if not os.path.isdir(root.path(f))] == []
    assert [f for f in left if not owned(root, f)] == []
    r = subprocess.run(freshroot.chroot_argv(root.dir, [
        "dpkg-query", "-W", "-f", "${db:Status-Abbrev}", PACKAGE]),
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert not r.stdout.startswith(("ii", "rc")), r.stdout
