# Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
"""Every example in doc/ works as shipped (was tests/e2e/test-examples.sh).

The examples are read from the documents themselves
(tests/tools/doc-examples.py): doc/examples/*.conf and *.sieve, the
```sieve blocks and the configuration blocks of doc/*.md, the Sieve
scripts of doc/extensions/*.txt.
  - doveconf accepts every configuration for the running Dovecot version
    (on top of the private instance; on 2.4 a mistyped sieve_encrypt_
    setting is Dovecot's own error)
  - sievec compiles every Sieve script
  - with the main configuration (doc/examples/90-sieve-encrypt-VERSION
    .conf), every script, installed as the global script, stores alice's
    message encrypted, so that it decrypts to the original, through
    dovecot-lda and through LMTP, for the envelope recipients
    alice@example.org, alice+tag@example.org (recipient_delimiter = +)
    and a bare "alice": for virtual users (user name alice@example.org)
    with the configuration as shipped, and for system users (user name
    alice) with the sieve_encrypt_default_keys line it gives in a comment
  - every other configuration, with doc/examples/global.sieve (which the
    documents pair it with), the same for virtual users
  - doc/examples/global.sieve: bob, who has no keyring, gets the message
    unchanged and no error is logged for him
The configuration is the private instance (harness template
instance-VERSION.conf), then the example as it is, then the paths of the
instance: the plugin's own settings are the example's alone. The message
comes From: an address @bank.example and has no List-Id, so that every
example script encrypts it.
"""

import atexit
import os
import re
import shutil
import string
import subprocess
import sys
import tempfile

import pytest

from conftest import TOP, read_message
from harness import pgpmime
from harness.dovecot import LDA, dovecot_version, message_files
from harness.lmtp import sent_bytes

EXTRACTOR = os.path.join(TOP, "tests", "tools", "doc-examples.py")
ADDRESS_FORMS = ("{name}@example.org", "{name}+tag@example.org", "{name}")

# What follows the instance part: user names, the example, our paths
TAIL = {
    "2.3": string.Template('''recipient_delimiter = +
$username_setting
!include $conf
plugin {
  sieve_plugin_dir = $plugin_dir
  sieve_encrypt_gpg_exec = $gpg_exec
  sieve_before = $script
$default_keys
}
'''),
    "2.4": string.Template('''recipient_delimiter = +
$username_setting
!include $conf
sieve_plugin_dir = $plugin_dir
sieve_encrypt_gpg_exec = $gpg_exec
sieve_script $script_block {
  path = $script
}
$default_keys
'''),
}
USERNAME_SETTING = {
    ("2.3", "virtual"): "auth_default_realm = example.org",
    ("2.3", "system"): "auth_username_format = %Ln",
    ("2.4", "virtual"): "auth_default_domain = example.org",
    ("2.4", "system"): "auth_username_format = %{user | username | lower}",
}


def extract(outdir):
    """{origin: (kind, path)} of every example in doc/"""
    doc = os.path.join(TOP, "doc")
    files = sorted(
        [os.path.join(doc, "examples", f)
         for f in os.listdir(os.path.join(doc, "examples"))] +
        [os.path.join(doc, f) for f in os.listdir(doc) if f.endswith(".md")]
        + [os.path.join(doc, "extensions", f)
           for f in os.listdir(os.path.join(doc, "extensions"))
           if f.endswith(".txt")])
    out = subprocess.run([sys.executable, EXTRACTOR, outdir, *files],
                         stdout=subprocess.PIPE, check=True).stdout.decode()
    found = {}
    for line in out.splitlines():
        kind, path, origin = line.split("\t")
        origin = os.path.relpath(origin, TOP)
        # a whole file is named by its name alone
        origin = re.sub(r"\.(conf|sieve):1$", r".\1", origin)
        found[origin] = (kind, path)
    return found


def _collected():
    scratch = tempfile.mkdtemp(prefix="sieve-encrypt-examples.")
    atexit.register(shutil.rmtree, scratch, True)
    return extract(scratch)


COLLECTED = _collected()
VERSION = dovecot_version()
SCRIPTS = sorted(o for o, (k, _) in COLLECTED.items() if k == "sieve")
CONFS = sorted(o for o, (k, _) in COLLECTED.items()
               if k == "conf-" + VERSION)
MAIN_CONF = "doc/examples/90-sieve-encrypt-%s.conf" % VERSION
GLOBAL_SIEVE = "doc/examples/global.sieve"


def deliveries():
    """(configuration, user names, script) of each delivery test, in an
    order that restarts LMTP least"""
    return ([(MAIN_CONF, "virtual", script) for script in SCRIPTS] +
            [(MAIN_CONF, "system", script) for script in SCRIPTS] +
            [(conf, "virtual", GLOBAL_SIEVE)
             for conf in CONFS if conf != MAIN_CONF])


class Examples:
    """The instance with the examples extracted into it"""

    def __init__(self, inst):
        self.inst = inst
        outdir = os.path.join(inst.dir, "examples")
        os.mkdir(outdir)
        self.found = extract(outdir)
        self.current = None
        self.messages = 0
        base = read_message("04-mixed-attachment.eml")
        self.message_base = re.sub(rb"(?m)^From: .*$",
                                   b"From: Statements <statements@bank."
                                   b"example>", base, count=1)
        # the same homes under both kinds of user names
        with open(os.path.join(inst.dir, "users-system"), "w") as f:
            for user in inst.users.values():
                f.write("%s::%d:%d::%s\n" % (user.name, user.uid, user.gid,
                                             user.home))

    def path(self, origin):
        return self.found[origin][1]

    def config(self, conf, kind, default_keys=None):
        """The instance, CONF as it is, then the instance's paths"""
        inst = self.inst
        userdb = (None if kind == "virtual"
                  else os.path.join(inst.dir, "users-system"))
        with open(self.path(conf)) as f:
            block = re.search(r"(?m)^sieve_script\s+([^\s{]+)\s*\{",
                              f.read())
        keys = ""
        if default_keys:
            keys = ("  " if inst.version == "2.3" else "") + \
                "sieve_encrypt_default_keys = %s" % default_keys
        return inst.instance_config(userdb) + TAIL[inst.version].substitute(
            username_setting=USERNAME_SETTING[inst.version, kind],
            conf=self.path(conf), plugin_dir=inst.plugin_dir,
            gpg_exec=inst.gpg_exec, script=inst.before_scripts[0],
            script_block=block.group(1) if block else "none",
            default_keys=keys)

    def use(self, conf, kind, default_keys=None):
        """Configure and (re)start LMTP, unless that is what runs"""
        if self.current == (conf, kind, default_keys):
            return
        self.inst.lmtp_stop()
        self.inst.lmtp_start(lambda: self.config(conf, kind, default_keys))
        self.current = (conf, kind, default_keys)

    def message(self):
        """A copy of the test message with a Message-ID of its own"""
        self.messages += 1
        msgid = "example-%d@sieve-encrypt.test" % self.messages
        return msgid, re.sub(rb"(?m)^Message-ID: .*$",
                             ("Message-ID: <%s>" % msgid).encode(),
                             self.message_base, count=1)


def default_keys_for_system(path):
    """The sieve_encrypt_default_keys value that a configuration gives,
    in a comment, for system users"""
    with open(path) as f:
        m = re.search(r"(?m)^\s*#\s*sieve_encrypt_default_keys\s*=\s*(.*)$",
                      f.read())
    return m.group(1).strip() if m else None


@pytest.fixture(scope="module")
def examples(make_module_instance):
    inst = make_module_instance()
    # the main example loads sieve_imapsieve too ("Encrypt one folder")
    inst.add_imapsieve_plugin()
    inst.add_user("alice", key="valid")
    inst.add_user("bob")
    return Examples(inst)


def test_examples_found(examples):
    assert SCRIPTS and CONFS
    assert MAIN_CONF in examples.found
    assert GLOBAL_SIEVE in examples.found


@pytest.mark.parametrize("conf", CONFS)
def test_doveconf_accepts(examples, conf):
    path = os.path.join(examples.inst.dir, "doveconf-check.conf")
    with open(path, "w") as f:
        f.write(examples.config(conf, "virtual"))
    proc = subprocess.run(["doveconf", "-c", path, "-n"],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.returncode == 0, proc.stdout.decode(errors="replace")


@pytest.mark.dovecot("2.4")
def test_doveconf_rejects_mistyped_setting(examples):
    """2.4 knows the plugin's settings (settings module): a mistyped one
    is Dovecot's own error (2.3 takes any key in plugin { })"""
    path = os.path.join(examples.inst.dir, "typo.conf")
    with open(path, "w") as f:
        f.write(examples.config(MAIN_CONF, "virtual") +
                "sieve_encrypt_gnupg_hme = /x\n")
    proc = subprocess.run(["doveconf", "-c", path, "-n"],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = proc.stdout.decode(errors="replace")
    assert proc.returncode != 0, "accepted"
    assert "sieve_encrypt_gnupg_hme: Unknown setting" in out, out


@pytest.mark.parametrize("script", SCRIPTS)
def test_sievec_compiles(examples, script):
    inst = examples.inst
    inst.write_config(examples.config(MAIN_CONF, "virtual"))
    inst.sievec(examples.path(script))


def install_script(examples, script):
    """SCRIPT as the global script, precompiled (as the how-to says)"""
    inst = examples.inst
    shutil.copy(examples.path(script), inst.before_scripts[0])
    inst.sievec(inst.before_scripts[0])


def stored_with(user, msgid):
    found = []
    for path in message_files(user.maildir):
        with open(path, "rb") as f:
            if b"Message-ID: <%s>" % msgid.encode() in f.read():
                found.append(path)
    return found


def check_stored(user, msgid, original, mode, lmtp):
    stored = stored_with(user, msgid)
    assert len(stored) == 1, "%d messages stored" % len(stored)
    with open(stored[0], "rb") as f:
        data = f.read()
    trace = set(pgpmime.LMTP_TRACE_FIELDS) if lmtp else set()
    pgpmime.verify(original, data, user.secret_home, mode, trace, lmtp,
                   None)


def deliver_all_forms(examples, kind, name, mode):
    """Deliver to NAME (user name of KIND) with each address form,
    through dovecot-lda and LMTP; each is stored as MODE says"""
    inst = examples.inst
    user = inst.users[name]
    username = user.name if kind == "system" else user.address
    problems = []
    for form in ADDRESS_FORMS:
        address = form.format(name=name)
        msgid, message = examples.message()
        proc = subprocess.run(
            inst.as_user_argv(user, [
                LDA, "-c", inst.conf, "-e", "-f", "sender@example.net",
                "-a", address]),
            input=message, env=inst._env(USER=username, HOME=user.home),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            assert proc.returncode == 0, \
                "exit code %d" % proc.returncode
            check_stored(user, msgid, message, mode, lmtp=False)
        except (AssertionError, pgpmime.Mismatch) as e:
            problems.append("LDA to <%s>: %s" % (address, e))
    sent = []
    with inst.lmtp() as client:
        for form in ADDRESS_FORMS:
            address = form.format(name=name)
            msgid, message = examples.message()
            replies = client.send(message, [address])
            sent.append((address, msgid, message, replies))
    for address, msgid, message, replies in sent:
        try:
            assert [r.code for r in replies] == [250], replies
            check_stored(user, msgid, sent_bytes(message), mode, lmtp=True)
        except (AssertionError, pgpmime.Mismatch) as e:
            problems.append("LMTP to <%s>: %s" % (address, e))
    assert not problems, "; ".join(problems)


@pytest.mark.parametrize("conf,kind,script", deliveries(),
                         ids=["%s with %s, %s users" % (s, c, k)
                              for c, k, s in deliveries()])
def test_delivery(examples, conf, kind, script):
    keys = None
    if kind == "system":
        keys = default_keys_for_system(examples.path(conf))
        assert keys, "%s gives no commented sieve_encrypt_default_keys " \
            "line for system users" % conf
    examples.use(conf, kind, keys)
    install_script(examples, script)
    deliver_all_forms(examples, kind, "alice", "encrypted")


def test_global_sieve_leaves_user_without_keyring_alone(examples):
    """bob has no keyring: global.sieve stores his message unchanged and
    says so at Info level only"""
    inst = examples.inst
    examples.use(MAIN_CONF, "virtual")
    install_script(examples, GLOBAL_SIEVE)
    before = len(inst.log())
    deliver_all_forms(examples, "virtual", "bob", "plain")
    errors = [line for line in inst.log()[before:].splitlines()
              if re.search(r"bob(@example\.org)?\).*(Error|error)", line)]
    assert not errors, errors[0]


def test_no_panic_or_fatal(examples):
    bad = re.search(r".*(Panic|Fatal):.*", examples.inst.log())
    assert bad is None, bad.group(0)
