# Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
"""Failure handling through the real dovecot-lda and LMTP (was
tests/e2e/test-policy.sh).

For each way encryption can fail (unknown key, gpg hanging, crashing or
missing), with sieve_encrypt_on_failure = keep and = tempfail: the exit
code of dovecot-lda, what is stored, what is logged, and that no gpg
process is left behind. Also: users who never opted in are not affected
by the policy, but an invalid key in sieve_encrypt_default_keys is an
error; a user script that omits the key list without default keys, and
scripts with errors, are rejected with the line named (sievec and
delivery); invalid settings fail every encrypt temporarily (LDA, and
LMTP where the other recipients are delivered as usual).

Users: alice and carol have their public key in ~/.gnupg, bob has no
keyring. The tests share one instance; each sets the configuration and
the global script it needs."""

import itertools
import os
import re
import shutil
import signal
import subprocess

import pytest

from conftest import TOP

from harness import lmtp as lmtp_mod
from harness import pgpmime
from harness.dovecot import PATH, message_files

FAKES = os.path.join(TOP, "tests", "svtest", "bin")

MESSAGE = b"""From: Bob <bob@example.net>
To: Alice <alice@example.org>
Subject: Policy test
Message-ID: <policy@example.net>
Content-Type: text/plain; charset=us-ascii

Secret text.
"""
SECRET = "Secret text"

# The gpg-hang of this module sleeps with an argument of its own: the
# hanging gpg of this process, told apart from those of other tests
HANG_SLEEP = "sleep 600.%d" % os.getpid()

DEFAULT_EXTENSIONS = {"vnd.x.encrypt": True}

UNKNOWN_KEY = (r"lda\(alice@example.org\).*encrypt action: cannot encrypt "
               r"message to .nobody@example.org.: no public key")
INVALID_DEFAULT_KEY = (
    r"lda\(alice@example.org\).*Error: .*encrypt action: "
    r"sieve_encrypt_default_keys: invalid key "
    r".alice@example.org@example.org.")
ENCRYPTED = "encrypted message to key"
DEFERRED_ERR = (r"Error: .*encrypt action: invalid vnd.x.encrypt settings, "
                r"message deferred \(temporary failure\) until they are "
                r"fixed")

ENCRYPT_TO_ALICE = '''require ["vnd.x.encrypt"];
encrypt "alice@example.org";'''


@pytest.fixture(scope="module")
def inst(make_module_instance):
    inst = make_module_instance()
    inst.add_user("alice", key="valid")
    inst.add_user("bob")
    inst.add_user("carol", key="valid")
    # The fake gpg programs must be reachable by the mail account
    bindir = os.path.join(inst.dir, "bin")
    os.mkdir(bindir)
    shutil.copy(os.path.join(FAKES, "gpg-crash"), bindir)
    with open(os.path.join(FAKES, "gpg-hang")) as f:
        hang = f.read()
    assert re.search(r"(?m)^exec sleep 600$", hang), "gpg-hang changed"
    with open(os.path.join(bindir, "gpg-hang"), "w") as f:
        f.write(re.sub(r"(?m)^exec sleep 600$", "exec " + HANG_SLEEP,
                       hang))
    os.chmod(bindir, 0o755)
    for name in os.listdir(bindir):
        os.chmod(os.path.join(bindir, name), 0o755)
    yield inst
    for pid in hanging_gpgs():
        os.kill(pid, signal.SIGKILL)


def fake(inst, name):
    return os.path.join(inst.dir, "bin", name)


def hanging_gpgs():
    """The pids of the hanging gpgs (gpg-hang's sleep) of this module"""
    out = subprocess.run(["ps", "-eo", "pid=,args="],
                         stdout=subprocess.PIPE).stdout.decode()
    return [int(line.split(None, 1)[0]) for line in out.splitlines()
            if line.split(None, 1)[1:] == [HANG_SLEEP]]


def configure(inst, extensions=None, extra=None, **settings):
    """Exactly SETTINGS (the others at their defaults), the global
    extensions (default: vnd.x.encrypt), EXTRA per version"""
    inst.settings.clear()
    inst.global_extensions = dict(DEFAULT_EXTENSIONS if extensions is None
                                  else extensions)
    inst.extra = dict(extra or {"2.3": "", "2.4": ""})
    inst.set(**settings)


def global_script_binary(inst):
    return os.path.splitext(inst.before_scripts[0])[0] + ".svbin"


def check(inst, d, rc, stored, pattern):
    """What shell test-policy's expect() checked of delivery D: exit code,
    what was stored (plain|encrypted|none), the log (PATTERN, no Panic or
    Fatal, no message content), no process left behind"""
    assert d.rc == rc, "dovecot-lda exit code %d, expected %d: %s %s" % (
        d.rc, rc, d.log[-1500:], d.stderr[-500:])
    if stored == "none":
        assert d.new_files == [], "%d message(s) stored" % len(d.new_files)
    else:
        with open(d.stored, "rb") as f:
            data = f.read()
        alice = inst.users["alice"]
        if stored == "plain":
            pgpmime.verify(MESSAGE, data, None, "plain", set(), False, None)
        else:
            pgpmime.verify(MESSAGE, data, alice.secret_home, "encrypted",
                           set(), False, d.plugin_sizes())
    if pattern:
        assert re.search(pattern, d.log), "log lacks /%s/: %s" % (
            pattern, d.log[-1500:])
    bad = re.search(r".*(Panic|Fatal):.*", d.log)
    assert bad is None, bad.group(0)[:200]
    assert SECRET not in d.log, "message content in the log"
    left = [p for p in inst.leftover_processes() if "-agent" not in p]
    assert left == [], "processes left behind: %s" % left
    assert hanging_gpgs() == [], "a hanging gpg was left running"


# --- unknown key, command form ------------------------------------------

@pytest.mark.parametrize("policy,rc,stored", [
    ("keep", 0, "plain"), ("tempfail", 75, "none")],
    ids=["keep-original-stored-error-logged", "tempfail-exit-75-none-stored"])
def test_unknown_key(inst, policy, rc, stored):
    """keep is the default: the run without the setting checks it"""
    inst.global_script('require ["vnd.x.encrypt"];\n'
                       'encrypt "nobody@example.org";')
    if policy == "keep":
        configure(inst)
    else:
        configure(inst, sieve_encrypt_on_failure=policy)
    check(inst, inst.lda("alice", MESSAGE), rc, stored, UNKNOWN_KEY)


# --- gpg faults ---------------------------------------------------------

HANGS = r"gpg did not finish within 2 seconds \(killed\)"
CRASHES = "gpg ended without completing the encryption"


@pytest.mark.parametrize("gpg,policy,rc,stored,pattern", [
    ("gpg-hang", "keep", 0, "plain", HANGS),
    ("gpg-hang", "tempfail", 75, "none", HANGS),
    ("gpg-crash", "keep", 0, "plain", CRASHES),
    ("gpg-crash", "tempfail", 75, "none", CRASHES),
    ("no-such-gpg", "tempfail", 75, "none", "no-such-gpg: not executable"),
    (None, "tempfail", 0, "encrypted", ENCRYPTED),
], ids=["keep-gpg-hangs-killed-after-timeout-original-stored",
        "tempfail-gpg-hangs-exit-75-none-stored",
        "keep-gpg-crashes-original-stored",
        "tempfail-gpg-crashes-exit-75-none-stored",
        "tempfail-gpg-missing-exit-75-none-stored",
        "tempfail-working-gpg-stored-encrypted"])
def test_gpg_fault(inst, gpg, policy, rc, stored, pattern):
    inst.global_script(ENCRYPT_TO_ALICE)
    settings = {"sieve_encrypt_on_failure": policy}
    if policy == "keep":
        settings = {}   # the default, as in the shell test
    if gpg == "gpg-hang":
        settings["sieve_encrypt_timeout"] = "2s"
    if gpg:
        settings["sieve_encrypt_gpg_binary"] = fake(inst, gpg)
    configure(inst, **settings)
    check(inst, inst.lda("alice", MESSAGE), rc, stored, pattern)


# --- opting in: the test form is not subject to the policy ----------------

TEST_FORM = 'require ["vnd.x.encrypt"];\nif encrypt { }'


def test_test_form_user_without_keyring_plain_no_error(inst):
    """tempfail, test form, bob has no keyring: plaintext, and no error
    logged for a user who never opted in"""
    inst.global_script(TEST_FORM)
    configure(inst, sieve_encrypt_on_failure="tempfail",
              sieve_encrypt_default_keys="${user}")
    d = inst.lda("bob", MESSAGE)
    check(inst, d, 0, "plain",
          "encrypt action: message not encrypted: keyring directory")
    errors = [line for line in d.log.splitlines()
              if "error" in line.lower()]
    assert errors == [], "error logged: %s" % errors[0]


def test_test_form_user_with_keyring_encrypted(inst):
    inst.global_script(TEST_FORM)
    configure(inst, sieve_encrypt_on_failure="tempfail",
              sieve_encrypt_default_keys="${user}")
    check(inst, inst.lda("alice", MESSAGE), 0, "encrypted", ENCRYPTED)


# --- an invalid default key is a configuration error ----------------------

@pytest.mark.parametrize("policy,rc,stored", [
    ("keep", 0, "plain"), ("tempfail", 75, "none")],
    ids=["keep-error-original-stored", "tempfail-exit-75-none-stored"])
def test_test_form_invalid_default_key(inst, policy, rc, stored):
    """${user}@example.org with user names that contain a domain already:
    the test form is not just false (which stored every message in
    plaintext, logged at Info); the Error names the setting and the
    policy applies"""
    inst.global_script(TEST_FORM)
    settings = {"sieve_encrypt_default_keys": "${user}@example.org"}
    if policy != "keep":
        settings["sieve_encrypt_on_failure"] = policy
    configure(inst, **settings)
    check(inst, inst.lda("alice", MESSAGE), rc, stored, INVALID_DEFAULT_KEY)


# --- scripts with errors ----------------------------------------------------

def sievec_file(inst, name, text):
    path = os.path.join(inst.dir, "sieve", name)
    with open(path, "w") as f:
        f.write(text)
    proc = inst.run_sievec(path)
    return proc.returncode, proc.stdout.decode(errors="replace")


def test_sievec_rejects_invalid_key_naming_line(inst):
    configure(inst)
    rc, out = sievec_file(inst, "bad.sieve", 'require "vnd.x.encrypt";\n\n'
                          'encrypt "Alice Example";\n')
    assert rc != 0 and re.search(
        r"bad: line 3: error: the encrypt command: invalid key "
        r".Alice Example.", out), "rc=%d: %s" % (rc, out)


def test_sievec_warns_fileinto_before_encrypt(inst):
    configure(inst)
    rc, out = sievec_file(inst, "warn.sieve",
                          'require ["vnd.x.encrypt", "fileinto"];\n'
                          'fileinto "Copy";\nencrypt "alice@example.org";\n')
    assert rc == 0 and ("warn: line 3: warning: the encrypt command comes "
                        "after the fileinto command at line 2" in out), \
        "rc=%d: %s" % (rc, out)


# --- invalid settings: every encrypt fails temporarily (issue 12, class 8) --
# A mistyped value must neither crash the delivery (a binary precompiled by
# sievec used to make Pigeonhole 0.5 panic, exit 134) nor store plaintext
# (without the binary the script used to fail to compile, and the message
# was kept). sieve_encrypt_on_failure may be the mistyped setting, so it
# cannot decide: every delivery whose script runs encrypt (command or test
# form, with or without a key list) fails temporarily (dovecot-lda exit 75,
# LMTP 4xx for that recipient only) with an Error naming the setting.
# Dovecot 2.3 takes any value in plugin { } (doveconf -n exits 0); Dovecot
# 2.4 checks the plugin's settings itself: doveconf, dovecot and
# dovecot-lda refuse the configuration. What 2.4 cannot check beforehand
# (values in protocol lda { }, values from the userdb) reaches the plugin
# and fails as on 2.3.

# setting, value, the error Dovecot's settings parser gives for it
BAD_SETTINGS = [
    ("sieve_encrypt_on_failure", "tempfial",
     "sieve_encrypt_on_failure: Invalid value: tempfial"),
    ("sieve_encrypt_timeout", "soon",
     "sieve_encrypt_timeout: Invalid time interval: soon"),
    ("sieve_encrypt_timeout", "0",
     "sieve_encrypt_timeout must be larger than 0"),
    ("sieve_encrypt_compress", "perhaps",
     "sieve_encrypt_compress: Invalid boolean value: perhaps"),
]
BAD_SETTING_IDS = ["%s=%s" % (k[len("sieve_encrypt_"):], v)
                   for k, v, _ in BAD_SETTINGS]
# command with keys, command with the default keys, test form
BAD_SCRIPTS = ['encrypt "alice@example.org";', 'encrypt;', 'if encrypt { }']
BAD_SCRIPT_IDS = ["command-with-keys", "command-default-keys", "test-form"]


def doveconf(inst):
    proc = subprocess.run(["doveconf", "-c", inst.conf, "-n"],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          env={"PATH": PATH})
    return proc.returncode, proc.stdout.decode(errors="replace")


def configure_bad(inst, key, value):
    configure(inst, **{key: value, "sieve_encrypt_default_keys": "${user}"})


@pytest.mark.dovecot("2.3")
@pytest.mark.parametrize("key,value,msg", BAD_SETTINGS, ids=BAD_SETTING_IDS)
def test_23_invalid_setting_doveconf_accepts(inst, key, value, msg):
    """2.3: plugin settings are free-form"""
    configure_bad(inst, key, value)
    rc, out = doveconf(inst)
    assert rc == 0, "doveconf failed: %s" % out[-500:]


@pytest.mark.dovecot("2.3")
@pytest.mark.parametrize("key,value,msg", BAD_SETTINGS, ids=BAD_SETTING_IDS)
def test_23_invalid_setting_sievec_compiles_names_setting(inst, key, value,
                                                          msg):
    configure_bad(inst, key, value)
    rc, out = sievec_file(inst, "ok.sieve", 'require "vnd.x.encrypt";\n'
                          'encrypt "alice@example.org";\n')
    assert rc == 0 and msg in out, "rc=%d: %s" % (rc, out)


@pytest.mark.dovecot("2.3")
@pytest.mark.parametrize("binary", ["precompiled", "compiled-at-delivery"])
@pytest.mark.parametrize("script", BAD_SCRIPTS, ids=BAD_SCRIPT_IDS)
@pytest.mark.parametrize("key,value,msg", BAD_SETTINGS, ids=BAD_SETTING_IDS)
def test_23_invalid_setting_defers(inst, key, value, msg, script, binary):
    """2.3: exit 75, nothing stored, the Error names the setting"""
    # the binary comes from the valid configuration, as when the admin
    # ran sievec before the typo
    configure(inst, sieve_encrypt_default_keys="${user}")
    inst.global_script('require ["vnd.x.encrypt"];\n' + script)
    if binary != "precompiled":
        os.unlink(global_script_binary(inst))
    configure_bad(inst, key, value)
    check(inst, inst.lda("alice", MESSAGE), 75, "none",
          DEFERRED_ERR + ": .*" + re.escape(msg))


@pytest.mark.dovecot("2.4")
@pytest.mark.parametrize("key,value,msg", BAD_SETTINGS, ids=BAD_SETTING_IDS)
def test_24_invalid_setting_doveconf_refuses(inst, key, value, msg):
    """2.4: doveconf -n refuses it, naming the setting"""
    configure_bad(inst, key, value)
    rc, out = doveconf(inst)
    assert rc != 0 and msg in out, "rc=%d: %s" % (rc, out[-500:])


@pytest.mark.dovecot("2.4")
@pytest.mark.parametrize("key,value,msg", BAD_SETTINGS, ids=BAD_SETTING_IDS)
def test_24_invalid_setting_lda_stores_nothing(inst, key, value, msg):
    """2.4, dovecot-lda: a value Dovecot's parser rejects stops it before
    anything runs (exit 89, Dovecot's FATAL_DEFAULT, which an MTA takes
    as permanent: Postfix 5.3.0); one that only the plugin's check
    rejects (the config process runs that check for doveconf, not for
    dovecot-lda) reaches the plugin: exit 75, as on 2.3. Either way:
    nothing stored, no crash."""
    configure(inst, sieve_encrypt_default_keys="${user}")
    inst.global_script('require ["vnd.x.encrypt"];\nencrypt;')
    configure_bad(inst, key, value)
    d = inst.lda("alice", MESSAGE)
    assert d.new_files == [] and d.rc in (75, 89), \
        "exit %d, stored: %s" % (d.rc, d.new_files)
    if d.rc == 75:
        assert re.search(DEFERRED_ERR + ": .*" + re.escape(msg), d.log), \
            "exit 75 without the Error naming the setting: %s" % d.log
    else:
        assert msg in d.stderr, \
            "exit 89 without the error naming the setting: %s" % d.stderr
    bad = re.search(r".*Panic:.*", d.log)
    assert bad is None, bad.group(0)


TIMEOUT_0_IN_PROTOCOL_LDA = {
    "2.3": "protocol lda {\n  plugin {\n    sieve_encrypt_timeout = 0\n"
           "  }\n}",
    "2.4": "protocol lda {\n  sieve_encrypt_timeout = 0\n}",
}


@pytest.mark.parametrize("script", BAD_SCRIPTS, ids=BAD_SCRIPT_IDS)
def test_timeout_0_in_protocol_lda_defers(inst, script):
    """The 2.4 config process checks the global values only: one in a
    protocol filter reaches the plugin (exit 75, nothing stored); on 2.3
    as with a global value"""
    configure(inst, sieve_encrypt_default_keys="${user}",
              extra=TIMEOUT_0_IN_PROTOCOL_LDA)
    inst.global_script('require ["vnd.x.encrypt"];\n' + script)
    check(inst, inst.lda("alice", MESSAGE), 75, "none",
          DEFERRED_ERR + ": .*sieve_encrypt_timeout must be larger than 0")


# --- LMTP: the other recipients are delivered as usual ---------------------
# A recipient whose delivery runs encrypt with invalid settings gets 4xx;
# the others in the same transaction are delivered as usual. The global
# script encrypts for alice and carol (default keys: the user name), never
# for bob.

LMTP_SCRIPT = '''require ["vnd.x.encrypt", "envelope"];
if envelope :localpart :is "to" ["alice", "carol"] {
	encrypt;
}'''

lmtp_runs = itertools.count(1)


def skip_under_sanitizers():
    if os.environ.get("SIEVE_ENCRYPT_PRELOAD"):
        # test_sanitizers.py: Dovecot's services do not start with
        # the sanitizer runtime preloaded ("ASan runtime does not come
        # first")
        pytest.skip("invalid settings under LMTP: not with a sanitizer "
                    "build")


def lmtp_invalid_settings(inst, deferred, error, *transactions):
    """Deliver in one LMTP session one transaction per TRANSACTIONS entry
    (a list of recipients), each with a message of its own; the users in
    DEFERRED must get 4xx, nothing stored and an Error matching ERROR; the
    others 250, no deferral, alice's and carol's message stored encrypted
    (it decrypts to what was sent), bob's as sent. Returns the problems
    found (empty: all well)."""
    run = next(lmtp_runs)
    sent = []
    offset = len(inst.log())
    inst.lmtp_start()
    try:
        with inst.lmtp(timeout=120) as client:
            for i, rcpts in enumerate(transactions, 1):
                msg = MESSAGE.replace(
                    b"Message-ID: <policy@example.net>",
                    b"Message-ID: <lmtp-invalid-%d-%d@example.net>"
                    % (run, i))
                sent.append((i, msg, rcpts, client.send(msg, rcpts)))
    finally:
        inst.lmtp_stop()
    log = inst.log()[offset:]
    problems = []
    for i, msg, rcpts, replies in sent:
        if sorted(r.rcpt for r in replies) != sorted(rcpts):
            problems.append("message %d: replies %s for %s" % (
                i, replies, rcpts))
        msgid = re.search(rb"Message-ID: <[^>]*>", msg).group(0)
        for reply in replies:
            problems += lmtp_recipient_problems(inst, log, deferred, error,
                                                i, msg, msgid, reply)
    bad = re.search(r".*(Panic|Fatal):.*", log)
    if bad:
        problems.append("in the log: " + bad.group(0)[:200])
    return problems


def lmtp_recipient_problems(inst, log, deferred, error, i, msg, msgid,
                            reply):
    user = inst.users[reply.rcpt.split("@")[0]]
    what = "message %d to %s" % (i, reply.rcpt)
    files = []
    for path in message_files(user.maildir):
        with open(path, "rb") as f:
            data = f.read()
        if msgid in data:
            files.append((path, data))
    rcpt_log = r"lmtp\(%s\).*" % re.escape(reply.rcpt)
    if user.name in deferred:
        if reply.code // 100 != 4 or files:
            return ["%s: 4xx, nothing stored wanted: reply %s, stored %s"
                    % (what, reply, [p for p, _ in files])]
        if not re.search(rcpt_log + DEFERRED_ERR + ": .*" + error, log):
            return ["%s: no Error naming the setting" % what]
        return []
    mode = "plain" if user.name == "bob" else "encrypted"
    if reply.code != 250 or len(files) != 1:
        return ["%s: 250, stored %s wanted: reply %s, stored %s" % (
            what, mode, reply, [p for p, _ in files])]
    if re.search(rcpt_log + DEFERRED_ERR, log):
        return ["%s: deferred in the log" % what]
    try:
        pgpmime.verify(lmtp_mod.sent_bytes(msg), files[0][1],
                       user.secret_home, mode,
                       set(pgpmime.LMTP_TRACE_FIELDS), True, None)
    except pgpmime.Mismatch as e:
        return ["%s: stored %s: %s" % (what, mode, e)]
    return []


@pytest.mark.dovecot("2.3")
@pytest.mark.lmtp
@pytest.mark.parametrize("binary", ["precompiled", "compiled-at-delivery"])
def test_23_lmtp_on_failure_mistyped_defers_only_encrypting(inst, binary):
    """2.3: alice's and carol's deliveries get 4xx, bob's in the same
    transactions 250"""
    skip_under_sanitizers()
    configure(inst, sieve_encrypt_default_keys="${user}")
    inst.global_script(LMTP_SCRIPT)
    if binary != "precompiled":
        os.unlink(global_script_binary(inst))
    configure(inst, sieve_encrypt_on_failure="tempfial",
              sieve_encrypt_default_keys="${user}")
    problems = lmtp_invalid_settings(
        inst, ("alice", "carol"),
        "sieve_encrypt_on_failure: Invalid value: tempfial",
        ["alice@example.org", "bob@example.org"],
        ["bob@example.org", "carol@example.org"])
    assert problems == []


@pytest.mark.dovecot("2.4")
@pytest.mark.lmtp
def test_24_lmtp_on_failure_mistyped_dovecot_refuses_start(inst):
    skip_under_sanitizers()
    configure(inst, sieve_encrypt_on_failure="tempfial",
              sieve_encrypt_default_keys="${user}")
    try:
        inst.lmtp_start()
    except RuntimeError as e:
        assert "sieve_encrypt_on_failure: Invalid value: tempfial" in str(e)
    else:
        inst.lmtp_stop()
        pytest.fail("dovecot started")


@pytest.mark.lmtp
def test_lmtp_on_failure_mistyped_in_userdb_defers_that_user(inst):
    """The userdb gives carol alone an invalid value (2.3 and 2.4)"""
    skip_under_sanitizers()
    configure(inst, sieve_encrypt_default_keys="${user}")
    inst.global_script(LMTP_SCRIPT)
    inst.set_user("carol", sieve_encrypt_on_failure="tempfial")
    try:
        problems = lmtp_invalid_settings(
            inst, ("carol",),
            "sieve_encrypt_on_failure.*Invalid value: tempfial",
            ["carol@example.org", "alice@example.org", "bob@example.org"],
            ["alice@example.org", "carol@example.org"])
    finally:
        inst.set_user("carol", sieve_encrypt_on_failure=None)
    assert problems == []


# --- a user's own script ----------------------------------------------------
# A user's own script may use the extension when the admin allows it; one
# without a key list needs default keys, else it does not compile.

@pytest.fixture
def alice_script(inst):
    """alice's ~/.dovecot.sieve encrypts without a key list; vnd.x.encrypt
    is allowed in personal scripts, not global only"""
    inst.global_script('require ["vnd.x.encrypt"];')
    inst.user_script("alice", 'require ["vnd.x.encrypt"];\nencrypt;')
    home = inst.users["alice"].home
    yield home
    for name in (".dovecot.sieve", ".dovecot.svbin", ".dovecot.sieve.log"):
        try:
            os.unlink(os.path.join(home, name))
        except FileNotFoundError:
            pass


def test_user_script_without_keys_no_default_keys_not_compiled(
        inst, alice_script):
    """The original is stored; Pigeonhole writes the error, naming the
    line and the cause, into the user's own log"""
    configure(inst, extensions={},
              sieve_extensions={"vnd.x.encrypt": True})
    check(inst, inst.lda("alice", MESSAGE), 0, "plain",
          "Failed to compile script")
    user_log = os.path.join(alice_script, ".dovecot.sieve.log")
    with open(user_log, errors="replace") as f:
        text = f.read()
    assert re.search(r"line 2: error: the encrypt command has no key list "
                     r"argument and no default keys are configured", text), \
        text[:500]


def test_user_script_without_keys_default_keys_encrypted(inst, alice_script):
    configure(inst, extensions={}, sieve_extensions={"vnd.x.encrypt": True},
              sieve_encrypt_default_keys="${user}")
    check(inst, inst.lda("alice", MESSAGE), 0, "encrypted", ENCRYPTED)
