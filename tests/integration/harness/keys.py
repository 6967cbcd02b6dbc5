# Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
"""Throwaway OpenPGP keys made with the real gpg.

Every key is made once per test session (make_key() and friends are
cached by kind and address) in a GnuPG home of its own that holds the
secret key, for decrypting what a test stored. A user's keyring is a copy
of a home that holds only the public part (public_home()), so that
handing a key to a user costs a directory copy, not a gpg run.

Keys are made without a passphrase: ed25519 for certification and
signing, cv25519 for encryption, as `gpg --quick-generate-key
future-default` makes them. Kinds:
  valid      no expiry
  expired    made on 2020-01-01, valid for one day (key and subkey)
  revoked    a valid key, then revoked with the certificate gpg made
  signonly   ed25519 only, no encryption (sub)key at all
  rsa3072    an RSA-3072 primary key (sign, certify) with an RSA-3072
             encryption subkey, no expiry (for the benchmark)
"""

import os
import re
import shutil
import subprocess

KINDS = ("valid", "expired", "revoked", "signonly", "rsa3072")


class KeyError_(Exception):
    """gpg failed to make or export a key"""


def gpg(home, *args, input=None, check=True):
    """Run gpg on HOME in batch mode; returns the CompletedProcess."""
    proc = subprocess.run(
        ["gpg", "--homedir", home, "--batch", "--no-tty", "--quiet",
         "--no-auto-check-trustdb", *args],
        input=input, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if check and proc.returncode != 0:
        raise KeyError_("gpg %s in %s failed: %s" % (
            " ".join(args), home, proc.stderr.decode(errors="replace")))
    return proc


def init_home(home):
    """An empty GnuPG home (mode 0700) that never reaches out for keys"""
    os.makedirs(home, exist_ok=True)
    os.chmod(home, 0o700)
    with open(os.path.join(home, "gpg.conf"), "w") as f:
        f.write("no-auto-key-locate\nno-auto-key-retrieve\n")
    with open(os.path.join(home, "gpg-agent.conf"), "w") as f:
        f.write("default-cache-ttl 600\nmax-cache-ttl 600\n")


def kill_agent(home):
    """Stop the gpg-agent of HOME, if one runs"""
    subprocess.run(["gpgconf", "--homedir", home, "--kill", "all"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _colons(home, *args):
    return gpg(home, "--with-colons", *args).stdout.decode().splitlines()


def primary_fingerprint(home, spec, secret=False):
    """The fingerprint of the first key matching SPEC in HOME"""
    want = False
    for line in _colons(home, "--list-secret-keys" if secret
                        else "--list-keys", "--", spec):
        f = line.split(":")
        if f[0] in ("pub", "sec"):
            want = True
        elif f[0] == "fpr" and want:
            return f[9]
    raise KeyError_("no key for %r in %s" % (spec, home))


def subkey_ids(home, fpr):
    """The 16-hex key ids of FPR's subkeys"""
    return [line.split(":")[4] for line in _colons(home, "--list-keys",
                                                   "--", fpr)
            if line.startswith("sub:")]


def generate(home, address, kind="valid", name=None):
    """Make a key of KIND for ADDRESS in the GnuPG home HOME (see
    init_home()); the user id is "NAME <ADDRESS>", NAME by default the
    capitalized local part. Returns the primary key's fingerprint."""
    if kind not in KINDS:
        raise ValueError("unknown key kind %r" % kind)
    uid = "%s <%s>" % (name or address.split("@")[0].capitalize(), address)
    algo, usage, expire, extra = "future-default", "default", "never", []
    if kind == "expired":
        expire = "1d"
        extra = ["--faked-system-time", "20200101T000000"]
    elif kind == "signonly":
        algo, usage = "ed25519", "sign,cert"
    elif kind == "rsa3072":
        algo, usage = "rsa3072", "sign,cert"
    gpg(home, "--passphrase", "", *extra, "--quick-generate-key", uid,
        algo, usage, expire)
    fpr = primary_fingerprint(home, "=" + uid, secret=True)
    if kind == "rsa3072":
        gpg(home, "--passphrase", "", "--quick-add-key", fpr, "rsa3072",
            "encr", "never")
    if kind == "revoked":
        rev = os.path.join(home, "openpgp-revocs.d", fpr + ".rev")
        with open(rev, "rb") as f:
            # gpg prefixes the armor line against accidental import
            cert = f.read().replace(b":-----BEGIN", b"-----BEGIN")
        gpg(home, "--import", input=cert)
    return fpr


class Key:
    """One key: its secret home, its public home, fingerprint, address"""

    def __init__(self, secret_home, public_home, fpr, address, kind):
        self.secret_home = secret_home
        self.public_home = public_home
        self.fpr = fpr
        self.address = address
        self.kind = kind

    @property
    def keyid(self):
        return self.fpr[-16:]

    def subkey_ids(self):
        return subkey_ids(self.secret_home, self.fpr)

    def install(self, gnupghome, uid=None, gid=None):
        """Copy the public keyring (the regular files of the public home:
        pubring.kbx, trustdb.gpg) into GNUPGHOME (created, mode 0700),
        owned by uid:gid when given"""
        os.makedirs(gnupghome, mode=0o700, exist_ok=True)
        paths = [gnupghome]
        for entry in os.scandir(self.public_home):
            if entry.is_file(follow_symlinks=False):
                dest = os.path.join(gnupghome, entry.name)
                shutil.copyfile(entry.path, dest)
                paths.append(dest)
        if uid is not None:
            for path in paths:
                os.chown(path, uid, gid)


class KeyFactory:
    """Makes keys under DIRECTORY, each (kind, address) once"""

    def __init__(self, directory):
        self.directory = directory
        self.keys = {}

    def get(self, address, kind="valid"):
        if (address, kind) not in self.keys:
            self.keys[address, kind] = self._make(address, kind)
        return self.keys[address, kind]

    def _make(self, address, kind):
        name = re.sub(r"[^A-Za-z0-9]", "_", "%s-%s" % (address, kind))
        secret = os.path.join(self.directory, name, "secret")
        public = os.path.join(self.directory, name, "public")
        init_home(secret)
        fpr = generate(secret, address, kind)
        init_home(public)
        exported = gpg(secret, "--armor", "--export", "--", fpr).stdout
        if not exported:
            raise KeyError_("no public key %s in %s" % (fpr, secret))
        gpg(public, "--import", input=exported)
        # the keyring alone, as a user keeps it: no agent socket, no
        # option file of the test's
        for leftover in ("gpg.conf", "gpg-agent.conf"):
            os.unlink(os.path.join(public, leftover))
        kill_agent(public)
        return Key(secret, public, fpr, address, kind)

    def close(self):
        """Stop the agents of all secret homes"""
        for key in self.keys.values():
            kill_agent(key.secret_home)
