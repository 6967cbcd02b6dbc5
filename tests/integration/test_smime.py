"""S/MIME output, `encrypt :format "smime"` (issue 15): real
dovecot-lda and LMTP deliveries into Maildirs, users with uids of their
own (mode "per-user"), certificates made with openssl (a CA and RSA
user certificates, harness/smime.py) and imported into the user's
keybox with gpgsm; what was stored is decrypted with gpgsm --decrypt AND
openssl cms -decrypt, each byte for byte the entity that the PGP/MIME
path encrypts (harness/pgpmime.py derives it).

  test_roundtrip[...]    every tests/messages/*.eml and corpus message
                         (../shared/corpus or $SIEVE_ENCRYPT_CORPUS)
                         through dovecot-lda (in the background, several
                         at a time, as test_roundtrip.py does): encrypted
                         and decrypting to the entity, or, when encrypted
                         already, stored unchanged
  test_signed_*          S/MIME signed input (messages 12, 16, 27 and the
                         corpus messages tagged smime-signed): after
                         decryption openssl cms -verify -noverify still
                         verifies the signature wherever it verifies on
                         the original
  test_lmtp_*            one LMTP session (Dovecot's root LMTP service,
                         per-recipient uids): several messages, a
                         transaction for two users, each encrypted to
                         its own certificate
  test_two_certificates  one encrypt to two certificates: one
                         RecipientInfo each, both decrypt
  test_format_setting    sieve_encrypt_format = smime without the tag
  test_keyid, ...        key specs: fingerprint, key id, address
  test_hostile_gpgsm_conf  gpgsm.conf / common.conf in the keybox's
                         directory (encrypt-to, agent and dirmngr
                         programs) change nothing
  test_run_counts        an OpenPGP delivery runs gpg as often as before
                         S/MIME (3: gpgme's --version, the key listing,
                         the encryption) and gpgsm never; an S/MIME
                         delivery runs gpgsm twice and gpg never
  test_failure_*         no certificate, expired certificate, gpgsm
                         missing, gpgsm hanging (killed at the deadline):
                         sieve_encrypt_on_failure keep stores the
                         original and logs why, tempfail stores nothing
                         (exit 75), never plaintext when tempfail, no
                         crash"""

import os
import re
import shutil
import subprocess
import tempfile
import time

import pytest

import test_roundtrip as rt
from conftest import MESSAGES, TOP, read_message
from harness import lmtp, pgpmime, smime
from harness.dovecot import message_files

SCRIPT = '''require ["vnd.x.encrypt", "envelope", "variables"];
if envelope :matches "to" "*" {
  encrypt :format "smime" "${1}";
}'''

# Test messages that are S/MIME signed
SIGNED = ["12-smime-signed.eml", "16-smime-opaque-signed.eml",
          "27-smime-opaque-signed-no-smime-type.eml"]

# A gpg or gpgsm that records that it ran, then runs the real program
RECORDER = """#!/bin/sh
echo "$0 $*" >>%s
exec %s "$@"
"""


@pytest.fixture(scope="module")
def certs():
    directory = tempfile.mkdtemp(prefix="sms.", dir="/tmp")
    factory = smime.CertFactory(directory)
    yield factory
    factory.close()
    shutil.rmtree(directory, ignore_errors=True)


def add_user(inst, certs, name, *kinds, **settings):
    """NAME with a keybox holding its certificate of each kind"""
    user = inst.add_user(name, **settings)
    if kinds:
        made = [certs.get(user.address, kind) for kind in kinds]
        made[0].install(user.gnupghome, user.uid, user.gid, *made[1:])
    return user


def check_stored(message, stored, cert_list, trace_fields=()):
    """Encrypted to cert_list, or stored unchanged when encrypted
    already; returns "encrypted" or "unchanged" """
    original = message
    if original.startswith(b"From "):
        original = original[original.find(b"\n") + 1:]
    orig = pgpmime.Message(original)
    already, reason = pgpmime.encrypted_already(orig)
    if already:
        pgpmime.check_same(orig, stored, set(trace_fields))
        return "unchanged"
    smime.check_smime(message, stored, cert_list, trace_fields=trace_fields)
    return "encrypted"


# --- every message through dovecot-lda ------------------------------------

class Deliveries(rt.Deliveries):
    """rt.Deliveries (background dovecot-lda runs to alice), each checked
    in the background too (gpgsm and openssl per message): result(label)
    is (message, Delivery, stored bytes or None, outcome or the
    exception the check raised)"""

    def __init__(self, inst, labels, cert):
        self.cert = cert
        super().__init__(inst, labels)

    def _deliver(self, label):
        message, d = super()._deliver(label)
        if d.rc != 0 or len(d.new_files) != 1:
            return message, d, None, None
        with open(d.stored, "rb") as f:
            stored = f.read()
        try:
            outcome = check_stored(message, stored, [self.cert])
        except (pgpmime.Mismatch, smime.CertError) as e:
            outcome = e
        return message, d, stored, outcome


def selected_labels(request):
    return [item.callspec.params["label"] for item in request.session.items
            if item.module is request.module
            and item.originalname == "test_roundtrip"]


@pytest.fixture(scope="module")
def roundtrip(request, make_module_instance, certs):
    inst = make_module_instance(mode="per-user")
    alice = add_user(inst, certs, "alice", "valid")
    inst.global_script(SCRIPT)
    deliveries = Deliveries(inst, selected_labels(request) +
                            signed_labels(),
                            certs.get(alice.address, "valid"))
    yield deliveries
    deliveries.close()


@pytest.mark.parametrize("label", sorted(rt.MESSAGE_PATHS))
def test_roundtrip(roundtrip, certs, label):
    """Stored once, exit code 0, no Fatal/Panic; S/MIME that gpgsm and
    openssl decrypt to the entity, or unchanged when encrypted already"""
    message, d, stored, outcome = roundtrip.result(label)
    assert d.rc == 0, "dovecot-lda exited with %d: %s %s" % (
        d.rc, rt.first_line(d.log, "Error|Fatal|Panic"), d.stderr[-300:])
    assert len(d.new_files) == 1, \
        "expected 1 stored message, found %d" % len(d.new_files)
    bad = rt.first_line(d.log, "Fatal:|Panic:")
    assert not bad, "log: " + bad
    if isinstance(outcome, Exception):
        raise outcome
    if outcome == "encrypted":
        assert "encrypted message to key %s" % roundtrip.cert.fpr in d.log
        assert not (rt.PLAINTEXT_MARKER in message
                    and rt.PLAINTEXT_MARKER in stored)
    roundtrip.outcomes[label] = outcome


# --- S/MIME signed input --------------------------------------------------

def signed_labels():
    labels = ["messages/" + n for n in SIGNED]
    if os.path.exists(os.path.join(rt.CORPUS, "MANIFEST.tsv")):
        labels += ["corpus/" + row["file"] for row in rt.read_manifest()
                   if "smime-signed" in row["tags"].split(",")]
    return labels


def cms_verify(data):
    """openssl cms -verify -noverify of a MIME entity (multipart/signed
    or application/pkcs7-mime signed-data): (ok, output)"""
    proc = subprocess.run(["openssl", "cms", "-verify", "-noverify",
                           "-binary", "-out", "/dev/null"], input=data,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          timeout=60)
    return proc.returncode == 0, proc.stdout.decode(errors="replace")


@pytest.mark.parametrize("label", signed_labels())
def test_signed_still_verifies(roundtrip, label):
    """openssl cms -verify -noverify gives the decrypted entity the same
    answer as the original's entity (the entity is the original's, byte
    for byte); test message 27 verifies (12 lacks its signer's
    certificate, 16 is not real CMS: they do not, before or after)"""
    message, d, stored, outcome = roundtrip.result(label)
    assert d.rc == 0 and len(d.new_files) == 1
    if isinstance(outcome, Exception):
        raise outcome
    original = message
    if original.startswith(b"From "):
        original = original[original.find(b"\n") + 1:]
    entity = pgpmime.expected_entity(pgpmime.Message(original))
    before, why = cms_verify(entity)
    if outcome == "unchanged":
        pytest.skip("encrypted already, stored unchanged")
    decrypted = smime.gpgsm_decrypt(roundtrip.cert, smime.split_base64(
        pgpmime.Message(stored).body))
    after, why_after = cms_verify(decrypted)
    assert after == before, (why, why_after)
    if label == "messages/27-smime-opaque-signed-no-smime-type.eml":
        assert after, why_after


def signed_message(certs, opaque, crlf):
    """A message signed here with openssl cms -sign by a certificate of
    the test CA: multipart/signed (detached) or opaque signed-data"""
    signer = certs.get("signer@example.net")
    body = (b"Content-Type: text/plain; charset=us-ascii\n\n"
            b"Signed and sealed.\nA line with trailing space \n.\n")
    argv = ["openssl", "cms", "-sign", "-signer", signer.cert_pem,
            "-inkey", signer.key_pem, "-from", "signer@example.net",
            "-to", "alice@example.org", "-subject", "Signed",
            "-md", "sha256"]
    if opaque:
        argv.append("-nodetach")
    proc = subprocess.run(argv, input=body, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, check=True)
    data = proc.stdout.replace(b"\r\n", b"\n")
    return data.replace(b"\n", b"\r\n") if crlf else data


def ca_verify(certs, data):
    proc = subprocess.run(["openssl", "cms", "-verify", "-CAfile",
                           certs.ca_pem, "-purpose", "any", "-out",
                           "/dev/null"], input=data,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return proc.returncode == 0, proc.stdout.decode(errors="replace")


@pytest.mark.parametrize("crlf", [False, True], ids=["lf", "crlf"])
@pytest.mark.parametrize("opaque", [False, True],
                         ids=["multipart-signed", "signed-data"])
def test_signed_here_verifies(lda_inst, certs, opaque, crlf):
    """A message signed with a certificate of the test CA, delivered
    through encrypt :format "smime", decrypts to an entity whose
    signature verifies against the CA (openssl cms -verify -CAfile); the
    same entity with one byte changed does not"""
    message = signed_message(certs, opaque, crlf)
    ok, why = ca_verify(certs, message)
    assert ok, "the signed message itself does not verify: " + why
    d = deliver(lda_inst, "alice", encrypt_script("alice@example.org"),
                message)
    decrypted = smime.check_smime(message, stored_data(d),
                                  [certs.get("alice@example.org")],
                                  trace_fields=())
    ok, why = ca_verify(certs, decrypted)
    assert ok, why
    if opaque:
        # a byte in the middle of the base64 of the signed-data
        start = re.search(rb"\r?\n\r?\n", decrypted).end()
        at = (start + len(decrypted)) // 2
    else:
        at = decrypted.index(b"Signed and sealed") + 3
    tampered = decrypted[:at] + bytes([decrypted[at] ^ 1]) + \
        decrypted[at + 1:]
    assert not ca_verify(certs, tampered)[0]


def test_corpus_per_tag(roundtrip):
    """Prints the outcomes per corpus tag (pytest -rA shows it)"""
    if not os.path.exists(os.path.join(rt.CORPUS, "MANIFEST.tsv")):
        pytest.skip("no corpus")
    roundtrip.wait()
    print(rt.per_tag_table(rt.read_manifest(), roundtrip.outcomes))
    print("timing: %d messages, %.0f s since the module started (%d jobs)"
          % (len(roundtrip.outcomes), time.monotonic() - roundtrip.started,
             roundtrip.jobs))


# --- LMTP -----------------------------------------------------------------

LMTP_TRANSACTIONS = [
    ("01-plain-lf.eml", ["alice", "bob"]),
    ("02-plain-crlf.eml", ["bob"]),
    ("04-mixed-attachment.eml", ["alice", "bob"]),
    ("11-smime-enveloped.eml", ["alice"]),
    ("12-smime-signed.eml", ["bob"]),
]


@pytest.fixture(scope="module")
def lmtp_session(make_module_instance, certs):
    inst = make_module_instance(mode="per-user")
    for name in ("alice", "bob"):
        add_user(inst, certs, name, "valid")
    inst.global_script(SCRIPT)
    replies = {}
    inst.lmtp_start()
    try:
        with inst.lmtp() as client:
            for name, rcpts in LMTP_TRANSACTIONS:
                got = client.send(read_message(name),
                                  ["%s@example.org" % r for r in rcpts])
                for reply in got:
                    replies[name, reply.rcpt.split("@")[0]] = reply
    finally:
        inst.lmtp_stop()
    return inst, replies


def stored_for(user, message):
    msgid = re.search(rb"^Message-ID: <(.*)>", message, re.M).group(1)
    found = []
    for path in message_files(user.maildir):
        with open(path, "rb") as f:
            data = f.read()
        if b"Message-ID: <" + msgid + b">" in data:
            found.append(data)
    return found


LMTP_DELIVERIES = [(m, r) for m, rcpts in LMTP_TRANSACTIONS for r in rcpts]


@pytest.mark.lmtp
@pytest.mark.parametrize("name,rcpt", LMTP_DELIVERIES,
                         ids=["%s-%s" % d for d in LMTP_DELIVERIES])
def test_lmtp_delivery(lmtp_session, certs, name, rcpt):
    """Accepted, stored once, encrypted to the recipient's own
    certificate (the other user's does not decrypt it) or unchanged"""
    inst, replies = lmtp_session
    user = inst.users[rcpt]
    reply = replies.get((name, rcpt))
    assert reply is not None and reply.code == 250, reply
    message = read_message(name)
    found = stored_for(user, message)
    assert len(found) == 1
    sent = lmtp.sent_bytes(message)
    outcome = check_stored(sent, found[0], [certs.get(user.address)],
                           pgpmime.LMTP_TRACE_FIELDS)
    if outcome == "encrypted":
        other = "bob" if rcpt == "alice" else "alice"
        with pytest.raises(pgpmime.Mismatch):
            smime.check_smime(sent, found[0],
                              [certs.get("%s@example.org" % other)],
                              trace_fields=pgpmime.LMTP_TRACE_FIELDS)


@pytest.mark.lmtp
def test_lmtp_no_fatal(lmtp_session):
    inst, _ = lmtp_session
    bad = re.search(r".*(Fatal|Panic):.*", inst.log())
    assert bad is None, bad.group(0)


# --- keys and settings ----------------------------------------------------

@pytest.fixture(scope="module")
def lda_inst(make_module_instance, certs):
    inst = make_module_instance(mode="per-user")
    add_user(inst, certs, "alice", "valid")
    add_user(inst, certs, "bob", "valid")
    add_user(inst, certs, "carol", "expired")
    add_user(inst, certs, "dave")
    # erin's keybox holds alice's and bob's certificates, not her own
    erin = inst.add_user("erin")
    certs.get("alice@example.org").install(
        erin.gnupghome, erin.uid, erin.gid, certs.get("bob@example.org"))
    return inst


def deliver(inst, name, script, message=None, **settings):
    """dovecot-lda to NAME with SCRIPT as the sieve_before script and
    SETTINGS (-o) for this delivery"""
    inst.global_script(script)
    options = []
    for key, value in settings.items():
        options += ["-o", ("plugin/%s=%s" if inst.version == "2.3"
                           else "%s=%s") % (key, value)]
    return inst.lda(name, message or read_message("01-plain-lf.eml"),
                    *options)


def stored_data(d):
    assert d.rc == 0, (d.rc, d.log[-500:])
    with open(d.stored, "rb") as f:
        return f.read()


def encrypt_script(*specs, tags=':format "smime"'):
    return ('require ["vnd.x.encrypt"];\nencrypt %s [%s];'
            % (tags, ", ".join('"%s"' % s for s in specs)))


def test_two_certificates(lda_inst, certs):
    """Both certificates in one encrypt: one RecipientInfo each (by
    serial number) and both decrypt"""
    alice, bob = (certs.get("%s@example.org" % n) for n in ("alice", "bob"))
    d = deliver(lda_inst, "erin",
                encrypt_script("alice@example.org", "bob@example.org"))
    smime.check_smime(read_message("01-plain-lf.eml"), stored_data(d),
                      [alice, bob], trace_fields=())


@pytest.mark.parametrize("spec", ["fingerprint", "keyid", "address",
                                  "fingerprint-spaced"])
def test_key_specs(lda_inst, certs, spec):
    cert = certs.get("alice@example.org")
    value = {"fingerprint": cert.fpr, "keyid": cert.fpr[-16:],
             "address": "ALICE@example.org",
             "fingerprint-spaced": " ".join(
                 cert.fpr[i:i + 4] for i in range(0, 40, 4))}[spec]
    d = deliver(lda_inst, "alice", encrypt_script(value))
    smime.check_smime(read_message("01-plain-lf.eml"), stored_data(d),
                      [cert], trace_fields=())


def test_format_setting(lda_inst, certs):
    """sieve_encrypt_format = smime: S/MIME without the tag; the tag
    :format "pgpmime" still wins over it"""
    d = deliver(lda_inst, "alice", encrypt_script("alice@example.org",
                                                  tags=""),
                sieve_encrypt_format="smime")
    smime.check_smime(read_message("01-plain-lf.eml"), stored_data(d),
                      [certs.get("alice@example.org")], trace_fields=())
    d = deliver(lda_inst, "alice", encrypt_script("alice@example.org",
                                                  tags=':format "pgpmime"'),
                sieve_encrypt_format="smime")
    # alice has no OpenPGP key: the PGP/MIME encrypt finds none
    assert d.rc == 0
    assert b"application/pkcs7-mime" not in stored_data(d)
    assert "no public key" in d.log or "cannot encrypt" in d.log, d.log


def test_hostile_gpgsm_conf(make_instance, certs):
    """gpgsm.conf and common.conf in the user's GnuPG home (encrypt-to
    mallory, agent/dirmngr programs that would record that they ran)
    change nothing: one RecipientInfo, alice's; the programs never ran"""
    inst = make_instance(mode="per-user")
    alice = add_user(inst, certs, "alice", "valid")
    mallory = certs.get("mallory@example.net")
    mallory.install(alice.gnupghome, alice.uid, alice.gid)
    marker = os.path.join(inst.dir, "pwned")
    program = os.path.join(inst.dir, "marker")
    with open(program, "w") as f:
        f.write("#!/bin/sh\necho \"$0 $*\" >>%s\nexit 1\n" % marker)
    os.chmod(program, 0o755)
    for name, text in (
            ("gpgsm.conf", "encrypt-to %s\nagent-program %s\n"
             "dirmngr-program %s\ncipher-algo DES\nlog-file %s\n" % (
                 mallory.fpr, program, program, marker)),
            ("common.conf", "use-keyboxd\nkeyboxd-program %s\n" % program)):
        path = os.path.join(alice.gnupghome, name)
        with open(path, "w") as f:
            f.write(text)
        alice.chown(path)
    d = deliver(inst, "alice", encrypt_script("alice@example.org"))
    smime.check_smime(read_message("01-plain-lf.eml"), stored_data(d),
                      [certs.get(alice.address)], trace_fields=())
    assert not os.path.exists(marker)


# --- gpg and gpgsm runs -----------------------------------------------------

def recorder(inst, name, program):
    record = os.path.join(inst.dir, name + ".runs")
    open(record, "w").close()
    os.chmod(record, 0o666)
    path = os.path.join(inst.dir, name)
    with open(path, "w") as f:
        f.write(RECORDER % (record, program))
    os.chmod(path, 0o755)
    return path, record


def runs(record):
    with open(record) as f:
        return f.read().splitlines()


def test_run_counts(make_instance, certs):
    """OpenPGP delivery: 3 gpg runs (gpgme's --version check of the
    engine, the key listing, the encryption; as before S/MIME existed)
    and no gpgsm run. S/MIME delivery: 2 gpgsm runs (listing,
    encryption) and no gpg run"""
    inst = make_instance(mode="per-user")
    add_user(inst, certs, "alice", "valid")
    inst.add_user("bob", key="valid")
    gpg, gpg_runs = recorder(inst, "gpg-rec", "/usr/bin/gpg")
    gpgsm, gpgsm_runs = recorder(inst, "gpgsm-rec", "/usr/bin/gpgsm")
    inst.set(sieve_encrypt_gpg_binary=gpg, sieve_encrypt_gpgsm_binary=gpgsm)
    d = deliver(inst, "bob", encrypt_script("bob@example.org", tags=""))
    assert d.rc == 0 and "encrypted message to key" in d.log, d.log
    assert len(runs(gpg_runs)) == 3, runs(gpg_runs)
    assert runs(gpgsm_runs) == []
    open(gpg_runs, "w").close()
    d = deliver(inst, "alice", encrypt_script("alice@example.org"))
    smime.check_smime(read_message("01-plain-lf.eml"), stored_data(d),
                      [certs.get("alice@example.org")], trace_fields=())
    assert runs(gpg_runs) == []
    got = runs(gpgsm_runs)
    assert len(got) == 2, got
    assert "--list-keys" in got[0] and "--encrypt" in got[1], got
    keybox = os.path.join(inst.users["alice"].gnupghome, "pubring.kbx")
    for run in got:
        assert (" --no-options --homedir /dev/null --no-default-keyring "
                in run and " --keyring %s " % keybox in run and
                " --disable-dirmngr " in run and " --no-autostart " in run), \
            run


# --- failures ---------------------------------------------------------------

def hang_program(inst):
    """A gpgsm that hangs, with a sleep of its own to be told apart"""
    arg = "600.%d%06d" % (os.getpid(), int(time.monotonic() * 1e6) % 10**6)
    path = os.path.join(inst.dir, "gpgsm-hang")
    with open(path, "w") as f:
        f.write("#!/bin/sh\nexec sleep %s\n" % arg)
    os.chmod(path, 0o755)
    return path, arg


def failure_case(inst, certs, case):
    """(user name, settings, expected log pattern, sleep argument of a
    hanging gpgsm) of a failure case"""
    if case == "no-certificate":
        return "erin", {}, r"no certificate for `erin@example\.org'", None
    if case == "no-keybox":
        return "dave", {}, r"keyring directory .* does not exist", None
    if case == "expired":
        return "carol", {}, r"certificate `carol@example\.org' \(.*\) " \
            r"is expired", None
    if case == "gpgsm-missing":
        return "alice", {"sieve_encrypt_gpgsm_binary":
                         "/nonexistent/gpgsm"}, r"/nonexistent/gpgsm: not " \
            r"executable", None
    if case == "gpgsm-hangs":
        path, arg = hang_program(inst)
        return "alice", {"sieve_encrypt_gpgsm_binary": path,
                         "sieve_encrypt_timeout": "2s"}, \
            r"gpgsm did not finish within 2 seconds \(killed\)", arg
    raise ValueError(case)


CASES = ["no-certificate", "no-keybox", "expired", "gpgsm-missing",
         "gpgsm-hangs"]


@pytest.mark.parametrize("policy", ["keep", "tempfail"])
@pytest.mark.parametrize("case", CASES)
def test_failure(lda_inst, certs, case, policy):
    """keep: the original stored as it came and the cause logged;
    tempfail: exit 75, nothing stored (never plaintext); no crash, no
    process left behind"""
    name, settings, pattern, hang = failure_case(lda_inst, certs, case)
    message = read_message("01-plain-lf.eml")
    started = time.monotonic()
    d = deliver(lda_inst, name, encrypt_script("%s@example.org" % name),
                message, sieve_encrypt_on_failure=policy, **settings)
    assert time.monotonic() - started < 20
    assert re.search(pattern, d.log), d.log[-800:]
    assert not re.search(r"Fatal|Panic", d.log), d.log[-800:]
    if policy == "keep":
        assert d.rc == 0, d.log[-500:]
        with open(d.stored, "rb") as f:
            pgpmime.compare("kept message", f.read(),
                            pgpmime.crlf_to_lf(message))
    else:
        assert d.rc == 75, (d.rc, d.log[-500:])
        assert d.new_files == []
    if hang is not None:
        time.sleep(0.5)
        left = subprocess.run(["pgrep", "-f", "sleep " + hang],
                              stdout=subprocess.PIPE).stdout.split()
        assert left == [], "hanging gpgsm left running: %s" % left


# --- gpgsm's output is checked ----------------------------------------------

# gpgsm in front of the real one: listings pass, the encryption is changed
BAD_GPGSM = """#!/bin/sh
case "$*" in
*--list-keys*) exec /usr/bin/gpgsm "$@" ;;
esac
%s
"""

BAD_OUTPUTS = {
    # one more RecipientInfo, for mallory (whose certificate is in the
    # keybox too)
    "extra-recipient": 'exec /usr/bin/gpgsm "$@" --recipient %(mallory)s',
    # the CMS object cut short
    "truncated": '/usr/bin/gpgsm "$@" | head -c 400',
    # nothing at all, exit code 0
    "empty": "cat >/dev/null; exit 0",
    # the entity itself
    "plaintext": "exec cat",
    # a complete object, and more after it
    "trailing": '/usr/bin/gpgsm "$@"; echo trailing',
}


@pytest.mark.parametrize("case", sorted(BAD_OUTPUTS))
def test_gpgsm_output_checked(make_instance, certs, case):
    """A gpgsm whose output is not exactly the encryption asked for
    (another recipient, cut short, empty, the plaintext, data after the
    object): the encryption fails (keep: the original is stored, the log
    says why), nothing of that output is stored"""
    inst = make_instance(mode="per-user")
    alice = add_user(inst, certs, "alice", "valid")
    mallory = certs.get("mallory@example.net")
    mallory.install(alice.gnupghome, alice.uid, alice.gid)
    program = os.path.join(inst.dir, "gpgsm-bad")
    with open(program, "w") as f:
        f.write(BAD_GPGSM % (BAD_OUTPUTS[case] % {"mallory": mallory.fpr}))
    os.chmod(program, 0o755)
    message = read_message("01-plain-lf.eml")
    d = deliver(inst, "alice", encrypt_script("alice@example.org"), message,
                sieve_encrypt_gpgsm_binary=program,
                sieve_encrypt_on_failure="keep")
    assert re.search(r"gpgsm's output is not the encryption asked for",
                     d.log), d.log[-800:]
    pgpmime.compare("kept message", stored_data(d),
                    pgpmime.crlf_to_lf(message))
