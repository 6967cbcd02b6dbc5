# Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
"""A fresh Debian root of the running system's release, for installing
the package as an admin would (tests/integration/test_package.py).

The root is made once per release by `debootstrap --variant=minbase`
from the mirror of /etc/apt/sources.list.d/debian.sources (whose
stanzas it gets as its own apt sources, binaries only), PACKAGES
installed into it by apt (dovecot-core's postinst alone takes minutes on
a loaded machine: ucf for each of its conffiles), and cached as a tar
file, $SIEVE_ENCRYPT_ROOT_CACHE (default
/var/tmp/sieve-encrypt-root-SUITE.tar;
inside the Debian 13 chroot, under the chroot's /var/tmp). A FreshRoot
unpacks it into a directory of its own, with /proc mounted and /dev
bound (debootstrap cannot make device nodes everywhere), no service
starts (policy-rc.d) and the host's resolv.conf and hosts; close()
stops what runs in it, unmounts and removes it. Needs root.
"""

import fcntl
import os
import re
import shutil
import subprocess
import time

# What the cached root has installed, as the admin installs it first
PACKAGES = ["dovecot-core", "dovecot-lmtpd", "dovecot-sieve", "gnupg"]
SOURCES = "/etc/apt/sources.list.d/debian.sources"
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def run(cmd, **kw):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       **kw)
    if r.returncode != 0:
        raise RuntimeError("%s: exit %d\n%s" % (
            " ".join(cmd), r.returncode,
            r.stdout.decode(errors="replace")[-3000:]))
    return r.stdout


def suite():
    with open("/etc/os-release") as f:
        return re.search(r"^VERSION_CODENAME=(\S+)$", f.read(), re.M).group(1)


def mirror():
    with open(SOURCES) as f:
        return re.search(r"^URIs:\s*(\S+)", f.read(), re.M).group(1)


def cache_path():
    return os.environ.get("SIEVE_ENCRYPT_ROOT_CACHE",
                          "/var/tmp/sieve-encrypt-root-%s.tar" % suite())


def chroot_argv(root, argv, user=None):
    env = ["env", "-i", "PATH=" + PATH, "LANG=C.UTF-8",
           "DEBIAN_FRONTEND=noninteractive"]
    if user is None:
        return ["chroot", root] + env + ["HOME=/root"] + argv
    return (["chroot", "--userspec=%s:%s" % (user, user), root] + env +
            ["HOME=/home/" + user, "USER=" + user] + argv)


def make_cache(path):
    """debootstrap, apt sources, no services, PACKAGES installed; into
    the tar file PATH"""
    work = path + ".d"
    shutil.rmtree(work, ignore_errors=True)
    run(["debootstrap", "--variant=minbase", suite(), work, mirror()])
    os.unlink(os.path.join(work, "etc/apt/sources.list"))
    with open(SOURCES) as f:
        sources = re.sub(r"^Types:.*$", "Types: deb", f.read(), flags=re.M)
    with open(os.path.join(work, SOURCES.lstrip("/")), "w") as f:
        f.write(sources)
    with open(os.path.join(work, "etc/apt/apt.conf.d/90norecommends"),
              "w") as f:
        f.write('APT::Install-Recommends "false";\n')
    # a root to throw away: no fsync in dpkg
    with open(os.path.join(work, "etc/dpkg/dpkg.cfg.d/unsafe-io"), "w") as f:
        f.write("force-unsafe-io\n")
    policy = os.path.join(work, "usr/sbin/policy-rc.d")
    with open(policy, "w") as f:
        f.write("#!/bin/sh\nexit 101\n")
    os.chmod(policy, 0o755)
    root = FreshRoot.__new__(FreshRoot)
    root.dir, root.mounted = work, []
    try:
        root.mount()
        root.run(["apt-get", "-q", "update"])
        root.run(["apt-get", "-q", "install", "-y"] + PACKAGES)
        root.run(["apt-get", "clean"])
    finally:
        root.unmount()
    run(["tar", "-C", work, "-cf", path + ".tmp", "."])
    os.rename(path + ".tmp", path)
    shutil.rmtree(work)


def ensure_cache():
    """The cache file, made first if missing (one maker at a time)"""
    path = cache_path()
    with open(path + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not os.path.exists(path):
            make_cache(path)
    return path


class FreshRoot:
    def __init__(self, directory):
        self.dir = directory
        self.mounted = []
        os.makedirs(directory)
        run(["tar", "-C", directory, "-xf", ensure_cache()])
        for f in ("/etc/resolv.conf", "/etc/hosts"):
            if os.path.exists(f):
                dest = os.path.join(directory, f.lstrip("/"))
                if os.path.lexists(dest):
                    os.unlink(dest)
                shutil.copy(f, dest)
        self.mount()

    def path(self, inside):
        return os.path.join(self.dir, inside.lstrip("/"))

    def mount(self):
        run(["mount", "-t", "proc", "proc", self.path("/proc")])
        self.mounted.append(self.path("/proc"))
        if not os.path.exists(self.path("/dev/null")):
            run(["mount", "--bind", "/dev", self.path("/dev")])
            self.mounted.append(self.path("/dev"))

    def unmount(self):
        while self.mounted:
            subprocess.run(["umount", "-l", self.mounted.pop()])

    def run(self, argv, user=None, input=None):
        """ARGV in the root (as root, or as the system user USER); its
        output (stdout and stderr), an error if it fails"""
        return run(chroot_argv(self.dir, argv, user),
                   input=input).decode(errors="replace")

    def popen_argv(self, argv, user=None):
        return chroot_argv(self.dir, argv, user)

    def processes(self):
        """The pids of the processes whose root is in this root"""
        pids = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                if os.readlink("/proc/%s/root" % pid).startswith(self.dir):
                    pids.append(int(pid))
            except OSError:
                pass
        return pids

    def close(self):
        """Kill what still runs in the root, unmount, remove it"""
        for _ in range(50):
            pids = self.processes()
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, 9)
                except ProcessLookupError:
                    pass
            time.sleep(0.1)
        self.unmount()
        subprocess.run(["rm", "-rf", "--one-file-system", self.dir])
