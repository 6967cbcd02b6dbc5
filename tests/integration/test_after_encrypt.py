# Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
"""Once encrypt succeeded in a delivery, nothing stores or sends the
original (issue 12, class 3; was tests/e2e/test-after-encrypt.sh).

The sieve_before script encrypts every message (default keys ${user});
then the user's own script fails at run time or runs an action that
reads the message: fileinto into a folder that does not exist, fileinto
:create of a List-Id-derived name holding ".." or 300 characters,
redirect, vnd.dovecot.report, notify (2.3 only) and enotify with the
message text, vacation, vnd.dovecot.pipe, reject. Also: the delivery's
own fallback save after a failed implicit keep (dovecot-lda -m Missing,
LMTP to u-fallback+Missing), a fileinto :copy placed before encrypt, the
test form, a message that is encrypted already, a 400 KB message, and
LMTP transactions with two recipients. Everything through dovecot-lda
and through LMTP (as root), with sieve_encrypt_on_failure = keep and =
tempfail (one instance each).

Checks per delivery: the LDA exit code or LMTP reply; that what was
stored decrypts to the original (or, for the message encrypted already,
is the original); what was sent (a sendmail_path that records every
message, and the vnd.dovecot.pipe program likewise) holds no plaintext
and, where it carries the message, decrypts to it; the log lines that
tell what happened; no Panic or Fatal; and that no file of the instance
(Maildirs, mail_temp_dir, logs, sent mail) holds the plaintext marker
of the original body (each test's message has a marker of its own). Two
dovecot-lda deliveries (failure keep of a 400 KB message, fallback to
INBOX) also run under strace, which must see the marker written into
pipes only (to gpg, to sendmail): no file, not even an unlinked
temporary one, held it."""

import collections
import os
import re
import stat
import time
import uuid

import pytest

from conftest import read_message
from harness import dovecot, lmtp as lmtp_mod, pgpmime

MODULEDIR = os.environ.get("DOVECOT_MODULEDIR", "/usr/lib/dovecot/modules")
EXTPROGRAMS = "lib90_sieve_extprograms_plugin.so"

# Short names: a key's GnuPG home is named after the address, and
# gpg-agent's socket path in it must stay under 108 bytes
KEYED = ("u-missing u-dotdot u-long u-redir u-redir-f u-report "
         "u-report-f u-notify u-notify-f u-enotify u-enotify-f "
         "u-vacat u-vacat-f u-pipe u-pipe-f u-reject u-archive "
         "u-testform u-already u-large u-fallback u-bob u-bob2").split()

FAIL = 'fileinto "Missing";'
LISTS = '''if header :matches "List-Id" "*<*>*" {
  fileinto :create "Lists.${2}";
}'''
REPORT = 'report "abuse" "Reported by the user" "abuse@example.net";'
NOTIFY = '''notify :method "mailto" :options "notify@example.net"
  :message "$from$: $subject$: $text$";'''
ENOTIFY = '''foreverypart { extracttext :first 400 "text"; }
notify :message "${text}" "mailto:notify@example.net";'''
VACATION = 'vacation :days 1 :addresses ["team@example.org"] "Away.";'
PIPE = 'pipe "record";'

USER_SCRIPTS = {
    "u-missing": 'require "fileinto"; ' + FAIL,
    "u-dotdot": 'require ["fileinto", "mailbox", "variables"];\n' + LISTS,
    "u-long": 'require ["fileinto", "mailbox", "variables"];\n' + LISTS,
    "u-redir": 'redirect "forward@example.net";',
    "u-redir-f": 'require "fileinto";\nredirect '
                       '"forward@example.net"; ' + FAIL,
    "u-report": 'require "vnd.dovecot.report"; ' + REPORT,
    "u-report-f": 'require ["vnd.dovecot.report", "fileinto"];\n'
                     + REPORT + " " + FAIL,
    "u-notify": 'require "notify"; ' + NOTIFY,
    "u-notify-f": 'require ["notify", "fileinto"];\n' + NOTIFY + " "
                     + FAIL,
    "u-enotify": 'require ["enotify", "variables",\n  "foreverypart", '
                 '"extracttext"];\n' + ENOTIFY,
    "u-enotify-f": 'require ["enotify", "variables",\n  "foreverypart", '
                      '"extracttext", "fileinto"];\n' + ENOTIFY + " " + FAIL,
    "u-vacat": 'require "vacation"; ' + VACATION,
    "u-vacat-f": 'require ["vacation", "fileinto"];\n' + VACATION
                       + " " + FAIL,
    "u-pipe": 'require "vnd.dovecot.pipe"; ' + PIPE,
    "u-pipe-f": 'require ["vnd.dovecot.pipe", "fileinto"];\n' + PIPE
                   + " " + FAIL,
    "u-reject": 'require "reject"; reject "Not wanted.";',
    "u-testform": 'require "fileinto"; ' + FAIL,
    "u-already": 'require "fileinto"; ' + FAIL,
    "u-large": 'require ["vacation", "fileinto"];\n' + VACATION + " " + FAIL,
    "u-bob2": 'require "fileinto"; ' + FAIL,
}

# u-archive files a copy before encrypt; u-testform and u-nokey use the
# test form (u-nokey has no keyring: not encrypted, plaintext is right)
GLOBAL_SCRIPT = '''require ["vnd.x.encrypt", "envelope", "subaddress",
  "fileinto", "mailbox", "copy"];
if envelope :user "to" "u-archive" {
  fileinto :create :copy "Archive";
}
if envelope :user "to" ["u-testform", "u-nokey"] {
  if encrypt { }
} else {
  encrypt;
}'''

# Every message sent (redirect, report, notify, vacation, reject) or piped
# (vnd.dovecot.pipe) is recorded into a file of its own in SENT_DIR
RECORDER = '''#!/bin/sh
f=$(mktemp "%s/mail.XXXXXX") || exit 75
cat >"$f"
'''

KEPT = (r"Info: sieve: Execution of script .* failed, but implicit keep "
        r"was successful")
INSTEAD = (r"Info: .*Mailbox INBOX: encrypt: storing the encrypted message "
           r"instead of the original")
COPY_INSTEAD = (r"Info: .*Mailbox Archive: encrypt: storing the encrypted "
                r"message instead of the original")
DEFERRED = (r"Info: .*Mailbox INBOX: encrypt: not storing the original of "
            r"the encrypted message, delivery deferred")
DEFERRED_REPLY = "not storing the original of an encrypted message"

WRITE_SYSCALLS = "write,writev,pwrite64,pwritev,sendto,sendmsg"
WRITE_CALL = re.compile(r"(write|writev|pwrite64|pwritev|sendto|sendmsg)\(")
PIPE_WRITE = re.compile(r"\(([0-9]+)<pipe:\[[0-9]+\]>")


# --- the instances ---

class Env:
    """One instance (one policy) and its recording directories"""

    def __init__(self, inst, policy):
        self.inst = inst
        self.policy = policy
        self.input = os.path.join(inst.dir, "input")
        self.sent = os.path.join(inst.dir, "sent")
        self.traces = os.path.join(self.input, "trace")

    @property
    def v24(self):
        return self.inst.version == "2.4"


def install_recorders(inst, sent):
    """bin/sendmail and pipe-bin/record: record what they get into SENT"""
    for sub, name in (("bin", "sendmail"), ("pipe-bin", "record")):
        directory = os.path.join(inst.dir, sub)
        os.makedirs(directory, exist_ok=True)
        os.chmod(directory, 0o755)
        path = os.path.join(directory, name)
        with open(path, "w") as f:
            f.write(RECORDER % sent)
        os.chmod(path, 0o755)


@pytest.fixture(scope="module", params=["keep", "tempfail"])
def env(request, make_module_instance):
    inst = make_module_instance()
    e = Env(inst, request.param)
    # written by every user's deliveries (recorded mail, strace output)
    for d in (e.input, e.traces, e.sent):
        os.makedirs(d)
        os.chmod(d, 0o1777)
    install_recorders(inst, e.sent)
    # vnd.dovecot.pipe comes with Pigeonhole's sieve_extprograms plugin,
    # from Dovecot's module directory; the plugins load from one directory
    os.symlink(os.path.join(MODULEDIR, "sieve", EXTPROGRAMS),
               os.path.join(inst.plugin_dir, EXTPROGRAMS))
    extensions = {"vnd.dovecot.report": True, "vnd.dovecot.pipe": True}
    if not e.v24:
        extensions["notify"] = True
    common = ("sendmail_path = %s/bin/sendmail\n"
              "lmtp_save_to_detail_mailbox = yes\n"
              "recipient_delimiter = +\n" % inst.dir)
    inst.extra = {"2.3": common, "2.4": common}
    inst.set(sieve_encrypt_default_keys="${user}",
             sieve_encrypt_on_failure=request.param,
             sieve_extensions=extensions,
             sieve_plugins="sieve_encrypt sieve_extprograms",
             sieve_pipe_bin_dir=os.path.join(inst.dir, "pipe-bin"))
    for name in KEYED:
        inst.add_user(name, key="valid")
    inst.add_user("u-nokey")
    inst.kill_agents()
    for name, text in USER_SCRIPTS.items():
        inst.user_script(name, text)
    inst.global_script(GLOBAL_SCRIPT)
    yield e
    inst.lmtp_stop()


@pytest.fixture(scope="module")
def lmtp(env):
    """The env with its LMTP service running"""
    env.inst.lmtp_start()
    yield env
    env.inst.lmtp_stop()


# --- messages ---

def new_marker():
    return "plaintext-marker-%d-%s" % (os.getpid(), uuid.uuid4().hex)


def write_msg(marker, header=None, body_lines=()):
    """A message whose body holds MARKER"""
    lines = ["From: Sender <sender@example.net>",
             "To: Team <team@example.org>",
             "Subject: After encrypt",
             "Message-ID: <after-encrypt-%s@example.net>"
             % uuid.uuid4().hex[:8]]
    if header:
        lines.append(header)
    lines += ["Content-Type: text/plain; charset=us-ascii", "",
              "Secret text: %s" % marker]
    lines += list(body_lines)
    return ("\n".join(lines) + "\n").encode()


def large_msg(marker):
    body = ["Line of a large message, to be stored encrypted. %s"
            % uuid.uuid4().hex[:15] for _ in range(6000)]
    body.append("The end: %s" % marker)
    return write_msg(marker, body_lines=body)


MESSAGES = {
    "plain": lambda m: write_msg(m),
    "dotdot": lambda m: write_msg(m, "List-Id: Evil list "
                                     "<a..b.example.net>"),
    "long": lambda m: write_msg(m, "List-Id: Long list <%s.example.net>"
                                   % ("l" * 300)),
    "large": large_msg,
    "already": lambda m: read_message("09-pgp-mime-encrypted.eml"),
}


# --- delivering and checking ---

Outcome = collections.namedtuple(
    "Outcome", "lmtp original result reply stored sent log")


def sent_files(env):
    return set(os.path.join(env.sent, f) for f in os.listdir(env.sent))


def lmtp_session_log(inst, offset, timeout=30):
    """The instance log from OFFSET on, once the LMTP process logged the
    end of the connection after QUIT (the log process writes lines after
    the replies went out; lmtp_start's probes log a disconnect too)"""
    deadline = time.monotonic() + timeout
    while True:
        log = inst.log()[offset:]
        if re.search(r"Info: Disconnect from .*: Logged out", log) or \
                time.monotonic() > deadline:
            return log
        time.sleep(0.05)


def deliver(env, transport, rcpts, message, *lda_options, wrap=(),
            message_file=None):
    """Deliver MESSAGE to RCPTS (local parts, with +detail if wanted):
    through dovecot-lda (one recipient) or in one LMTP transaction.
    Returns an Outcome; result, reply and stored are dicts by user."""
    inst = env.inst
    users = [r.split("+")[0] for r in rcpts]
    before = {}
    for u in users:
        before[u] = set(dovecot.message_files(inst.users[u].maildir))
        # vacation answers a sender once a day: forget earlier answers
        dupes = os.path.join(inst.users[u].home, ".dovecot.lda-dupes")
        if os.path.exists(dupes):
            os.unlink(dupes)
    sent_before = sent_files(env)
    result, reply = {}, {}
    if transport == "lmtp":
        log_offset = len(inst.log())
        with inst.lmtp() as client:
            replies = client.send(message, ["%s@example.org" % r
                                            for r in rcpts])
        for r in replies:
            u = r.rcpt.split("@")[0].split("+")[0]
            result[u], reply[u] = r.code, r.text
        log = lmtp_session_log(inst, log_offset)
        original = lmtp_mod.sent_bytes(message)
    else:
        assert len(users) == 1
        d = inst.lda(users[0], message, *lda_options, wrap=wrap,
                     message_file=message_file)
        result[users[0]], reply[users[0]] = d.rc, d.stderr
        log = d.log
        original = message
    stored = {u: sorted(set(dovecot.message_files(inst.users[u].maildir))
                        - before[u]) for u in users}
    sent = sorted(sent_files(env) - sent_before)
    return Outcome(transport == "lmtp", original, result, reply, stored,
                   sent, log)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def files_holding(directory, marker, skip=()):
    """The regular files under DIRECTORY (not under SKIP) that hold
    MARKER"""
    found = []
    needle = marker.encode()
    for root, dirs, files in os.walk(directory):
        if any(root == s or root.startswith(s + os.sep) for s in skip):
            continue
        for name in files:
            path = os.path.join(root, name)
            try:
                if not stat.S_ISREG(os.lstat(path).st_mode):
                    continue
                if needle in read(path):
                    found.append(path)
            except FileNotFoundError:
                pass
    return found


def decrypts_to_marker(sent_message, user, marker):
    """The first PGP message in SENT_MESSAGE decrypts (with USER's
    secret key) to text holding MARKER"""
    start = sent_message.find(pgpmime.PGP_BEGIN)
    end = sent_message.find(pgpmime.PGP_END, start)
    armored = sent_message[start:end + len(pgpmime.PGP_END)]
    plain, _ = pgpmime.gpg_decrypt(user.secret_home,
                                   armored.replace(b"\r", b""))
    return marker.encode() in plain


def expect(env, out, user_name, result, stored, sent, sent_pgp, marker,
           logs=(), original=None, leak_skip=()):
    """The checks of one recipient of the delivery OUT:
      RESULT: LDA exit code, or the LMTP reply code
      STORED: number of messages stored, each decrypting to the
              original; "unchanged" (one message, the original as it
              came, encrypted already) or "plain" (one message, the
              original not encrypted)
      SENT, SENT_PGP: number of messages sent, and of them those that
              must carry the encrypted message (decrypting to the
              original text)
      LOGS: regular expressions, each must match a line of the log
    ORIGINAL: what the recipient's delivery got, if not what was sent"""
    user = env.inst.users[user_name]
    original = out.original if original is None else original
    trace = set(pgpmime.LMTP_TRACE_FIELDS) if out.lmtp else set()
    got = out.result.get(user_name)
    assert got == result, "result %s, expected %s (%s)" % (
        got, result, out.reply.get(user_name))
    files = out.stored[user_name]
    if stored in ("unchanged", "plain"):
        assert len(files) == 1, "%d stored, not the original (%s)" % (
            len(files), stored)
        pgpmime.verify(original, read(files[0]), user.secret_home, stored,
                       trace, out.lmtp, None)
    else:
        assert len(files) == stored, \
            "%d message(s) stored, expected %d" % (len(files), stored)
        for f in files:
            pgpmime.verify(original, read(f), user.secret_home,
                           "encrypted", trace, out.lmtp, None)
    assert len(out.sent) == sent, "%d message(s) sent, expected %d" % (
        len(out.sent), sent)
    with_pgp = 0
    for f in out.sent:
        data = read(f)
        if pgpmime.PGP_BEGIN in data:
            assert decrypts_to_marker(data, user, marker), \
                "sent %s does not decrypt to the original" % f
            with_pgp += 1
    assert with_pgp == sent_pgp, \
        "%d sent message(s) carry the encrypted message, expected %d" % (
            with_pgp, sent_pgp)
    for pattern in logs:
        assert re.search(pattern, out.log), "log lacks /%s/:\n%s" % (
            pattern, out.log)
    bad = re.search(r".*: (Panic|Fatal): .*", out.log)
    assert bad is None, bad.group(0)
    leaks = files_holding(env.inst.dir, marker, (env.input,) + leak_skip)
    assert leaks == [], "plaintext in %s" % " ".join(leaks[:3])


# --- every scenario, through dovecot-lda and LMTP ---

Scenario = collections.namedtuple(
    "Scenario", "id user message stored sent sent_pgp logs lda_options "
                "detail only23")


def scenario(id, user, stored, sent, sent_pgp, logs=(), message="plain",
             lda_options=(), detail=None, only23=False):
    return Scenario(id, user, message, stored, sent, sent_pgp, logs,
                    lda_options, detail, only23)


SCENARIOS = [
    scenario("fileinto-missing-folder-failure-keep-encrypted",
             "u-missing", 1, 0, 0, [KEPT]),
    scenario("fileinto-create-listid-dotdot-encrypted-kept",
             "u-dotdot", 1, 0, 0, [KEPT], message="dotdot"),
    scenario("fileinto-create-listid-300-chars-encrypted-kept",
             "u-long", 1, 0, 0, [KEPT], message="long"),
    scenario("redirect-sends-encrypted", "u-redir", 0, 1, 1),
    scenario("redirect-then-failure-encrypted-kept-nothing-plain-sent",
             "u-redir-f", 1, 0, 0, [KEPT]),
    scenario("report-sends-encrypted", "u-report", 1, 1, 1),
    scenario("report-then-failure-encrypted-kept-nothing-plain-sent",
             "u-report-f", 1, 0, 0, [KEPT]),
    scenario("notify-text-sends-no-plaintext", "u-notify", 1, 1, 0,
             only23=True),
    scenario("notify-text-then-failure-encrypted-kept-nothing-plain-sent",
             "u-notify-f", 1, 0, 0, [KEPT], only23=True),
    scenario("enotify-extracted-text-sends-no-plaintext",
             "u-enotify", 1, 1, 0),
    scenario("enotify-text-then-failure-encrypted-kept",
             "u-enotify-f", 1, 0, 0, [KEPT]),
    scenario("vacation-replies-implicit-keep-encrypted",
             "u-vacat", 1, 1, 0),
    scenario("vacation-then-failure-encrypted-kept",
             "u-vacat-f", 1, 0, 0, [KEPT]),
    scenario("pipe-gets-encrypted", "u-pipe", 0, 1, 1),
    scenario("pipe-then-failure-encrypted-kept-nothing-plain-piped",
             "u-pipe-f", 1, 0, 0, [KEPT]),
    scenario("reject-returns-header-no-plaintext-body",
             "u-reject", 0, 1, 0),
    scenario("fileinto-copy-before-encrypt-both-copies-encrypted",
             "u-archive", 2, 0, 0, [COPY_INSTEAD]),
    scenario("test-form-then-failure-encrypted-kept",
             "u-testform", 1, 0, 0, [KEPT]),
    scenario("encrypted-already-then-failure-kept-unchanged",
             "u-already", "unchanged", 0, 0, [KEPT], message="already"),
    scenario("400k-message-vacation-then-failure-encrypted-kept",
             "u-large", 1, 0, 0, [KEPT], message="large"),
    scenario("implicit-keep-missing-folder-fallback-inbox-encrypted",
             "u-fallback", 1, 0, 0, [INSTEAD], lda_options=("-m", "Missing"),
             detail="Missing"),
]
# notify (deprecated) is not in Pigeonhole 2.4
SCENARIO_PARAMS = [
    pytest.param(sc, id=sc.id,
                 marks=[pytest.mark.dovecot("2.3")] if sc.only23 else [])
    for sc in SCENARIOS]

TRANSPORTS = ["lda", pytest.param("lmtp", marks=pytest.mark.lmtp)]


def run_scenario(request, env, transport, sc, wrap=(), from_file=False):
    """Deliver the scenario's message (FROM_FILE: dovecot-lda reads it
    from a regular file under env.input); returns (Outcome, marker)"""
    if transport == "lmtp":
        request.getfixturevalue("lmtp")
    marker = new_marker()
    message = MESSAGES[sc.message](marker)
    rcpt = sc.user + ("+" + sc.detail if sc.detail else "")
    if transport == "lmtp":
        out = deliver(env, "lmtp", [rcpt], message)
    else:
        message_file = None
        if from_file:
            message_file = os.path.join(env.input, "%s.eml" % marker)
            with open(message_file, "wb") as f:
                f.write(message)
        out = deliver(env, "lda", [sc.user], message, *sc.lda_options,
                      wrap=wrap, message_file=message_file)
    return out, marker


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("sc", SCENARIO_PARAMS)
def test_only_encrypted_stored_or_sent(request, env, transport, sc):
    out, marker = run_scenario(request, env, transport, sc)
    expect(env, out, sc.user, 0 if transport == "lda" else 250, sc.stored,
           sc.sent, sc.sent_pgp, marker, sc.logs)


# --- under strace: no plaintext written but into pipes ---

TRACED = [s for s in SCENARIOS if s.user in ("u-large", "u-fallback")]


def strace_wrap(trace):
    return ["strace", "-f", "-qq", "-y", "-s", "1000000", "-o", trace,
            "-e", "trace=" + WRITE_SYSCALLS]


@pytest.mark.parametrize("sc", TRACED, ids=[s.id for s in TRACED])
def test_strace_lda_plaintext_only_into_pipes(request, env, sc):
    """dovecot-lda under strace, following every process (gpg,
    sendmail): the plaintext marker was only ever written into pipes (to
    gpg, or to the recording sendmail, whose files expect checks): no
    file, temporary or not, ever held it. The message comes from a
    regular file, so dovecot-lda needs no spool copy of it."""
    trace = os.path.join(env.traces, "strace.%s" % uuid.uuid4().hex[:8])
    out, marker = run_scenario(request, env, "lda", sc,
                               wrap=strace_wrap(trace), from_file=True)
    expect(env, out, sc.user, 0, sc.stored, sc.sent, sc.sent_pgp, marker,
           sc.logs)
    with open(trace, errors="replace") as f:
        writes = [line for line in f
                  if marker in line and WRITE_CALL.search(line)]
    os.unlink(trace)
    assert any("<pipe:" in line for line in writes), \
        "the trace saw no plaintext go into a pipe (the check is not live)"
    not_pipes = [line for line in writes if not PIPE_WRITE.search(line)]
    assert not_pipes == [], not_pipes[0][:160]


# --- LMTP transactions with two recipients ---

@pytest.mark.lmtp
def test_lmtp_two_recipients_fallback_source_deferred(lmtp):
    """LMTP keeps the first recipient's stored mail as the source of the
    next recipients' deliveries when Sieve did not store it: the first
    one's fallback save would become the next one's source, so it is
    deferred (451, the reply says why); the second one gets the message
    encrypted to its own key; the deferred one, retried alone, is stored
    encrypted"""
    marker = new_marker()
    message = write_msg(marker)
    out = deliver(lmtp, "lmtp", ["u-fallback+Missing", "u-bob"], message)
    expect(lmtp, out, "u-fallback", 451, 0, 0, 0, marker, [DEFERRED])
    assert DEFERRED_REPLY in out.reply["u-fallback"], out.reply
    expect(lmtp, out, "u-bob", 250, 1, 0, 0, marker)
    out = deliver(lmtp, "lmtp", ["u-fallback+Missing"], message)
    expect(lmtp, out, "u-fallback", 250, 1, 0, 0, marker, [INSTEAD])


@pytest.mark.lmtp
def test_lmtp_two_recipients_first_without_key_second_falls_back(lmtp):
    """The first recipient has no key: stored as it came; the second
    fails and falls back to the first one's stored mail: encrypted"""
    marker = new_marker()
    message = write_msg(marker)
    nokey = lmtp.inst.users["u-nokey"].home
    out = deliver(lmtp, "lmtp", ["u-nokey+Missing", "u-bob2+Missing"],
                  message)
    expect(lmtp, out, "u-nokey", 250, "plain", 0, 0, marker,
           leak_skip=(nokey,))
    # the second recipient's message is the first one's stored file (LF)
    expect(lmtp, out, "u-bob2", 250, 1, 0, 0, marker, [INSTEAD],
           original=message, leak_skip=(nokey,))


# --- last: the whole log ---

def test_whole_log_no_panic_fatal_leak(env):
    """The guard's state is freed with the mail user, after the delivery:
    no crash and nothing Dovecot reports as leaked then either (LMTP
    stopped first; every dovecot-lda log too)"""
    env.inst.lmtp_stop()
    texts = [env.inst.log()]
    logs = os.path.join(env.inst.dir, "logs")
    for name in sorted(os.listdir(logs)):
        with open(os.path.join(logs, name), errors="replace") as f:
            texts.append(f.read())
    bad = [line for text in texts for line in text.splitlines()
           if re.search(r": (Panic|Fatal): |leak", line)]
    assert bad == [], bad[0]
