# Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
"""The Debian package dovecot-sieve-encrypt (issue 17), built as an admin
would build it: from make dist's tarball, by dpkg-buildpackage -us -uc -b
in the unpacked tree, then checked with lintian and dpkg-deb.

Not done here (see doc/testing.md): installing the package and delivering
through the installed dovecot-lda and LMTP, and purging it. The package
is built with DEB_BUILD_OPTIONS=nocheck: make check runs in its own group.
Slow group (marker "package"): the build takes minutes.
"""

import os
import re
import subprocess
import tarfile

import pytest

from conftest import TOP

pytestmark = pytest.mark.package

PACKAGE = "dovecot-sieve-encrypt"


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
    with open("/usr/share/dovecot/dovecot-abi") as f:
        series = f.read().strip()
    if series.startswith("2.4"):
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
    assert any("sieve_plugins = sieve_encrypt" in line for line in lines)
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
