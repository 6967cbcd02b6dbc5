"""Throwaway X.509 certificates made with the real openssl, installed
into a user's keybox with the real gpgsm, and the check of an S/MIME
message stored by `encrypt :format "smime"`.

One CA (RSA 2048) per factory signs the users' certificates (RSA 2048,
keyEncipherment, the address as emailAddress and subjectAltName). Kinds:
  valid      valid for a year from now
  expired    notAfter a day before notBefore (openssl x509 -days -1):
             expired from the start
Each certificate has a secret GnuPG home of its own (the key imported
from PKCS#12 with gpgsm, passphrase PASSPHRASE, for gpgsm --decrypt)
and its key and certificate as PEM files (for openssl cms -decrypt).

check_smime() checks a stored message the way pgpmime.check_encrypted()
checks PGP/MIME: the outer header (the same rules; harness/pgpmime.py
derives it), the S/MIME fields, base64 in lines of at most 76
characters, a CMS enveloped-data object that a second encrypt would
leave alone, and the entity decrypted with gpgsm AND openssl, each byte
for byte the entity that the PGP/MIME path encrypts
(pgpmime.expected_entity())."""

import base64
import calendar
import os
import re
import shutil
import subprocess
import tempfile
import time

from harness import pgpmime
from harness.pgpmime import Mismatch

PASSPHRASE = "smime-test"
KINDS = ("valid", "expired")
P12_ATTEMPTS = 8

SMIME_FIELDS = [
    b'Content-Type: application/pkcs7-mime; smime-type=enveloped-data; '
    b'name="smime.p7m"\n',
    b"Content-Transfer-Encoding: base64\n",
    b'Content-Disposition: attachment; filename="smime.p7m"\n',
]


class CertError(Exception):
    """openssl or gpgsm failed"""


def run(argv, input=None, check=True):
    proc = subprocess.run(argv, input=input, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=120)
    if check and proc.returncode != 0:
        raise CertError("%s failed (exit %d): %s" % (
            " ".join(argv[:3]), proc.returncode,
            proc.stderr.decode(errors="replace")[-800:]))
    return proc


def gpgsm(home, *args, input=None, check=True):
    return run(["gpgsm", "--homedir", home, "--batch", "--disable-dirmngr",
                "--pinentry-mode", "loopback", *args], input=input,
               check=check)


def init_home(home):
    os.makedirs(home, exist_ok=True)
    os.chmod(home, 0o700)
    with open(os.path.join(home, "gpg-agent.conf"), "w") as f:
        f.write("allow-loopback-pinentry\n")


def kill_agent(home):
    subprocess.run(["gpgconf", "--homedir", home, "--kill", "all"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def fingerprint(cert_pem):
    out = run(["openssl", "x509", "-in", cert_pem, "-noout",
               "-fingerprint", "-sha1"]).stdout.decode()
    return out.strip().split("=", 1)[1].replace(":", "").upper()


class Cert:
    """One certificate: PEM files, secret home, fingerprint, address"""

    def __init__(self, directory, address, kind, fpr):
        self.dir = directory
        self.address = address
        self.kind = kind
        self.fpr = fpr
        self.cert_pem = os.path.join(directory, "cert.pem")
        self.key_pem = os.path.join(directory, "key.pem")
        self.secret_home = os.path.join(directory, "secret")
        self.serial = None

    def install(self, gnupghome, uid=None, gid=None, *more):
        """Import this certificate (and those of MORE) with gpgsm into
        the keybox of GNUPGHOME (created, mode 0700), owned by uid:gid"""
        os.makedirs(gnupghome, mode=0o700, exist_ok=True)
        for cert in (self,) + more:
            gpgsm(gnupghome, "--import", cert.cert_pem)
        kill_agent(gnupghome)
        if uid is not None:
            for root, dirs, files in os.walk(gnupghome):
                for name in [root] + [os.path.join(root, f) for f in files]:
                    os.chown(name, uid, gid)


class CertFactory:
    """A CA and certificates under DIRECTORY (short: agent sockets),
    each (address, kind) made once"""

    def __init__(self, directory):
        self.dir = directory
        self.certs = {}
        self.serial = 0x1000
        self.ca_key = os.path.join(directory, "ca.key")
        self.ca_pem = os.path.join(directory, "ca.pem")
        run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
             "-keyout", self.ca_key, "-out", self.ca_pem, "-days", "3650",
             "-subj", "/CN=sieve-encrypt test CA",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign"])

    def _sign(self, csr, pem, ext, kind):
        """Sign CSR into PEM with the CA: valid from yesterday for a year,
        or (kind "expired") for one day in 2020. openssl ca, because
        OpenSSL 3.5 (Debian 13) refuses x509 -days -1 and OpenSSL 3.0
        (Debian 12) has no x509 -not_after"""
        ca_dir = os.path.join(self.dir, "ca")
        if not os.path.isdir(ca_dir):
            os.mkdir(ca_dir)
            open(os.path.join(ca_dir, "index.txt"), "w").close()
            with open(os.path.join(ca_dir, "ca.cnf"), "w") as f:
                f.write("[ca]\ndefault_ca = test_ca\n"
                        "[test_ca]\ndatabase = %s/index.txt\n"
                        "new_certs_dir = %s\nserial = %s/serial\n"
                        "default_md = sha256\npolicy = policy_any\n"
                        "unique_subject = no\n"
                        "[policy_any]\ncommonName = supplied\n"
                        "emailAddress = optional\n"
                        % (ca_dir, ca_dir, ca_dir))
        with open(os.path.join(ca_dir, "serial"), "w") as f:
            f.write("%X\n" % self.serial)
        if kind == "valid":
            start = time.time() - 86400
            end = start + 366 * 86400
        else:
            start = calendar.timegm((2020, 1, 1, 0, 0, 0))
            end = start + 86400
        stamp = "%Y%m%d%H%M%SZ"
        run(["openssl", "ca", "-batch", "-notext", "-preserveDN",
             "-config", os.path.join(ca_dir, "ca.cnf"),
             "-cert", self.ca_pem, "-keyfile", self.ca_key,
             "-startdate", time.strftime(stamp, time.gmtime(start)),
             "-enddate", time.strftime(stamp, time.gmtime(end)),
             "-extfile", ext, "-in", csr, "-out", pem])

    def get(self, address, kind="valid", secret=True):
        """The certificate; SECRET False: without the secret home (no
        gpgsm --decrypt, no agent; the .svtest keyring)"""
        if (address, kind) not in self.certs:
            self.certs[address, kind] = self._make(address, kind, secret)
        return self.certs[address, kind]

    def _make(self, address, kind, secret):
        if kind not in KINDS:
            raise ValueError("unknown certificate kind %r" % kind)
        name = re.sub(r"[^A-Za-z0-9]", "_", "%s-%s" % (address, kind))
        directory = os.path.join(self.dir, name)
        os.mkdir(directory)
        try:
            return self._make_in(directory, name, address, kind, secret)
        except CertError:
            # a later get() makes it anew
            shutil.rmtree(directory, ignore_errors=True)
            raise

    def _make_in(self, directory, name, address, kind, secret):
        key = os.path.join(directory, "key.pem")
        csr = os.path.join(directory, "req.csr")
        pem = os.path.join(directory, "cert.pem")
        ext = os.path.join(directory, "ext.cnf")
        with open(ext, "w") as f:
            f.write("basicConstraints=CA:FALSE\n"
                    "keyUsage=critical,digitalSignature,keyEncipherment\n"
                    "extendedKeyUsage=emailProtection\n"
                    "subjectAltName=email:%s\n" % address)
        run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout",
             key, "-out", csr, "-subj",
             "/CN=%s/emailAddress=%s" % (name, address)])
        self.serial += 1
        self._sign(csr, pem, ext, kind)
        cert = Cert(directory, address, kind, fingerprint(pem))
        cert.serial = self.serial
        if not secret:
            return cert
        self._import_secret(cert)
        return cert

    @staticmethod
    def _import_secret(cert, attempts=P12_ATTEMPTS):
        """The secret key for gpgsm --decrypt, through PKCS#12 (gpgsm 2.2
        reads it with the old 3DES encryption only). gpgsm's PKCS#12
        parser rejects about 1 in 40 files that openssl made, depending
        on the random salt and IV ("error parsing or decrypting the
        PKCS#12 file", the same file always; measured on Debian 12:
        5 of 200): a new export has a new salt and imports"""
        p12 = os.path.join(cert.dir, "key.p12")
        for _ in range(attempts):
            run(["openssl", "pkcs12", "-export", "-inkey", cert.key_pem,
                 "-in", cert.cert_pem, "-out", p12,
                 "-passout", "pass:" + PASSPHRASE,
                 "-keypbe", "PBE-SHA1-3DES", "-certpbe", "PBE-SHA1-3DES",
                 "-macalg", "sha1"])
            init_home(cert.secret_home)
            proc = gpgsm(cert.secret_home, "--passphrase-fd", "0",
                         "--import", p12, check=False,
                         input=(PASSPHRASE + "\n").encode())
            if proc.returncode == 0:
                return
            kill_agent(cert.secret_home)
            shutil.rmtree(cert.secret_home)
        raise CertError("gpgsm --import of %s failed %d times: %s" % (
            p12, attempts, proc.stderr.decode(errors="replace")[-800:]))

    def close(self):
        for cert in self.certs.values():
            kill_agent(cert.secret_home)


# --- decrypting ---------------------------------------------------------

def gpgsm_decrypt(cert, der):
    """gpgsm --decrypt of DER (the passphrase comes on stdin, the data
    from a file)"""
    fd, path = tempfile.mkstemp(dir=cert.dir, suffix=".p7m")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(der)
        proc = gpgsm(cert.secret_home, "--passphrase-fd", "0",
                     "--status-fd", "2", "--decrypt", "--", path,
                     input=(PASSPHRASE + "\n").encode(), check=False)
    finally:
        os.unlink(path)
    # with several recipients gpgsm reports each other one's certificate
    # as not found, and exits with 2 after decrypting
    status = proc.stderr.decode(errors="replace")
    if "[GNUPG:] DECRYPTION_OKAY" not in status:
        raise Mismatch("gpgsm --decrypt failed (exit %d): %s" % (
            proc.returncode, proc.stderr.decode(errors="replace")[-400:]))
    return proc.stdout


def openssl_decrypt(cert, message):
    """openssl cms -decrypt of the whole stored message (S/MIME input
    format: openssl parses its MIME header and base64 itself)"""
    proc = run(["openssl", "cms", "-decrypt", "-binary", "-inkey",
                cert.key_pem, "-recip", cert.cert_pem], input=message,
               check=False)
    if proc.returncode != 0:
        raise Mismatch("openssl cms -decrypt failed (exit %d): %s" % (
            proc.returncode, proc.stderr.decode(errors="replace")[-400:]))
    return proc.stdout


def recipient_serials(der):
    """The serial numbers (ints) of the RecipientInfos, from openssl's
    own parse"""
    proc = run(["openssl", "cms", "-cmsout", "-print", "-inform", "DER"],
               input=der)
    # decimal, or hex with 0x for large numbers
    return [int(m, 0) for m in re.findall(
        r"serialNumber: ((?:0x)?[0-9A-Fa-f]+)", proc.stdout.decode())]


# --- the stored message -------------------------------------------------

def split_base64(body):
    """The DER of a base64 body; lines of at most 76 characters, each
    complete (a multiple of 4) but the last, nothing else"""
    lines = body.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    for i, line in enumerate(lines):
        if len(line) > 76:
            raise Mismatch("base64 line %d has %d characters" % (
                i + 1, len(line)))
        if i + 1 < len(lines) and len(line) != 76:
            raise Mismatch("base64 line %d has %d characters, not 76"
                           % (i + 1, len(line)))
        if not re.fullmatch(rb"[A-Za-z0-9+/]*={0,2}", line):
            raise Mismatch("base64 line %d is not base64" % (i + 1))
    return base64.b64decode(b"".join(lines), validate=True)


def check_smime(original, stored, certs, trace_fields=("return-path",
                                                         "delivered-to",
                                                         "received"),
                openssl=True):
    """Check STORED, what Dovecot stored of ORIGINAL delivered through
    encrypt :format "smime" to CERTS (each decrypts it). Returns the
    decrypted entity; raises Mismatch."""
    if original.startswith(b"From "):
        original = original[original.find(b"\n") + 1:]
    orig = pgpmime.Message(original)
    body_stored, ntrace = pgpmime.strip_trace(stored, set(trace_fields),
                                              original)
    exp_outer = pgpmime.crlf_to_lf(pgpmime.expected_outer(orig))
    pgpmime.compare("outer header (after %d trace fields)" % ntrace,
                    body_stored[:len(exp_outer)], exp_outer)
    st = pgpmime.Message(body_stored[len(exp_outer):])
    if st.separator != b"\n":
        raise Mismatch("no blank line (LF) after the S/MIME header")
    want = list(SMIME_FIELDS)
    if not any(orig.place(f) == "outer" and
               orig.field_name(f).lower() == b"mime-version"
               for f in orig.fields):
        want.insert(0, b"MIME-Version: 1.0\n")
    late = pgpmime.crlf_to_lf(pgpmime.expected_late(orig))
    pgpmime.compare("S/MIME header fields", b"".join(st.fields),
                    b"".join(want) + late)
    der = split_base64(st.body)
    # a second encrypt leaves it alone
    state, reason = pgpmime.encrypted_already(pgpmime.Message(body_stored))
    if not state:
        raise Mismatch("the stored message does not count as encrypted "
                       "already: %s" % reason)
    serials = sorted(recipient_serials(der))
    want_serials = sorted(c.serial for c in certs)
    if serials != want_serials:
        raise Mismatch("RecipientInfos for serials %s, expected %s"
                       % (serials, want_serials))
    entity = pgpmime.expected_entity(orig)
    for cert in certs:
        pgpmime.compare("gpgsm-decrypted entity (%s)" % cert.address,
                        gpgsm_decrypt(cert, der), entity)
        if openssl:
            pgpmime.compare("openssl-decrypted entity (%s)" % cert.address,
                            openssl_decrypt(cert, body_stored), entity)
    return entity
