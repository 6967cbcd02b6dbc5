# Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
"""Mail already stored (issue 16): sieve-encrypt-mailbox, run as root as
an administrator runs it, encrypts the mailboxes of users with uids of
their own in place through Pigeonhole's sieve-filter, on Maildir and on
mdbox. A real IMAP client puts the messages in (APPEND with flags,
keywords and INTERNALDATE) and reads them back (UID FETCH 1:*, \\Deleted
included): every message is there once, each plaintext one decrypts to
the bytes it had before (harness/pgpmime.py) with its flags, keywords
and date, each encrypted one (PGP/MIME, inline PGP, S/MIME) is left as it
was under the same UID, and no file of the user's mail directory (mdbox:
after the command's purge) holds a plaintext marker. The dry run changes
nothing and counts; SIGKILL of sieve-filter, SIGTERM of the command (as
Ctrl-C) and SIGKILL of both, mid-run, then a new run: nothing lost,
nothing doubled. The copy Dovecot keeps of an mdbox file it repairs
(m.N.broken, the originals in plaintext) is named, and removed with -B.
A user without a keyring: errors, nothing changed. On a terminal, the
progress line."""

import os
import re
import secrets
import shlex
import signal
import subprocess
import time

import pytest

from conftest import TOP, read_message
from harness import imap, pgpmime

COMMAND = os.path.join(TOP, "src", "sieve-encrypt-mailbox")
PASSWORD = "secret"
FORMATS = {
    "maildir": {"2.3": "", "2.4": ""},
    "mdbox": {"2.3": "mail_location = mdbox:~/mdbox\n",
              "2.4": "mail_driver = mdbox\nmail_path = ~/mdbox\n"},
}
# already encrypted: left as they are
ENCRYPTED = ("09-pgp-mime-encrypted.eml", "10-inline-pgp.eml",
             "11-smime-enveloped.eml")
PLAIN = ("01-plain-lf.eml", "03-alternative.eml",
         "04-mixed-attachment.eml", "05-utf8-8bit.eml")
FLAGS = (r"(\Seen $Label1)", r"(\Answered \Flagged)", r"()",
         r"(\Draft $Work)")


def marked(number, fold=""):
    """A plaintext message with a marker of its own in the body; FOLD:
    what comes between "Message-ID:" and its value"""
    marker = "PLAINTEXT-MARKER-%s" % secrets.token_hex(8)
    return ("From: sender@example.net\r\nTo: user@example.org\r\n"
            "Subject: stored %d\r\nMessage-ID:%s <st%d.%s@example.net>\r\n"
            "MIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=us-ascii\r\n\r\n"
            "%s\r\nline two of message %d\r\n"
            % (number, fold, number, marker[-16:], marker, number)).encode()


def make(make_instance, fmt):
    inst = make_instance(mode="per-user")
    inst.protocols = "lmtp imap"
    inst.extra = FORMATS[fmt]
    inst.set(sieve_encrypt_default_keys="${user}")
    return inst


class Client(imap.Client):
    def __init__(self, inst, user):
        super().__init__(inst.imap_port, user.address, PASSWORD)

    def fetch_all(self, folder):
        """{uid: (flags, internaldate, body with LF line ends)}"""
        return {uid: (flags, date, pgpmime.crlf_to_lf(body))
                for uid, flags, date, body in super().fetch_all(folder)}


def fill(inst, user, folder, messages):
    """APPEND MESSAGES into FOLDER, each with flags and a date of its own"""
    with Client(inst, user) as client:
        if folder != "INBOX":
            client.create(folder)
        for i, message in enumerate(messages):
            client.append(folder, FLAGS[i % len(FLAGS)],
                          1400000000 + 86400 * i, message)


def snapshot(inst, folders):
    """{(user, folder): fetch_all()} of FOLDERS {user: [folder, ...]}"""
    found = {}
    for user, names in folders.items():
        with Client(inst, user) as client:
            for folder in names:
                found[user.name, folder] = client.fetch_all(folder)
    return found


def command_env(inst):
    """The command's environment: its script directory (mktemp) in the
    instance, which a SIGKILLed command leaves behind"""
    return inst._env(TMPDIR=inst.dir)


def run(inst, *args, **kw):
    return subprocess.run(
        [COMMAND, "-c", inst.conf, "-S", os.path.join(inst.dir, "encstate"),
         *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=command_env(inst), timeout=600, **kw)


def check_replaced(before, after, user):
    """AFTER holds each message of BEFORE once: the plaintext ones
    encrypted, with their flags and date, the encrypted ones as they were
    under the same uid"""
    assert len(after) == len(before), (len(after), len(before))
    left = dict(before)
    for uid, (flags, date, body) in sorted(after.items()):
        if uid in left:
            assert (flags, date, body) == left.pop(uid)
            assert pgpmime.encrypted_already(pgpmime.Message(body))[0]
            continue
        match = []
        for old_uid, (old_flags, old_date, old_body) in left.items():
            try:
                pgpmime.verify(old_body, body, user.secret_home,
                               "encrypted", set(), True, None)
            except pgpmime.Mismatch:
                continue
            match.append(old_uid)
        assert len(match) == 1, "uid %d decrypts to %d originals" % (
            uid, len(match))
        old_flags, old_date, _ = left.pop(match[0])
        assert (flags, date) == (old_flags, old_date), uid
    assert left == {}


def check_no_plaintext(user, markers):
    """No file of USER's mail directories (the alternate storage "alt"
    included) holds a marker, and each is the user's (sieve-filter ran
    as the user, not as root)"""
    for mail in ("Maildir", "mdbox", "alt"):
        for root, _, files in os.walk(os.path.join(user.home, mail)):
            for name in files:
                path = os.path.join(root, name)
                assert os.stat(path).st_uid == user.uid, path
                with open(path, "rb") as f:
                    data = f.read()
                for marker in markers:
                    assert marker not in data, path


def markers_of(messages):
    return [m for msg in messages
            for m in re.findall(rb"PLAINTEXT-MARKER-[0-9a-f]+", msg)]


@pytest.mark.parametrize("fmt", FORMATS)
def test_all_users_dry_run_then_encrypted(make_instance, fmt):
    inst = make(make_instance, fmt)
    alice = inst.add_user("alice", key="valid", password=PASSWORD)
    bob = inst.add_user("bob", key="valid", password=PASSWORD)
    inst.lmtp_start()
    assert alice.uid != bob.uid
    inbox = ([read_message(n) for n in PLAIN + ENCRYPTED]
             + [marked(i) for i in range(4)])
    old = [marked(i) for i in range(4, 7)] + [read_message(ENCRYPTED[0])]
    fill(inst, alice, "INBOX", inbox)
    fill(inst, alice, "Old Mail", old)
    bobs = [marked(i) for i in range(7, 10)]
    fill(inst, bob, "INBOX", bobs)
    folders = {alice: ["INBOX", "Old Mail"], bob: ["INBOX"]}
    before = snapshot(inst, folders)

    dry = run(inst, "-n", "-A")
    assert dry.returncode == 0, dry.stderr
    out = dry.stdout.decode()
    assert ("alice@example.org: INBOX: 11 of 11 messages: 8 would be "
            "encrypted, 3 encrypted already, 0 failed") in out, out
    assert ("alice@example.org: Old Mail: 4 of 4 messages: 3 would be "
            "encrypted, 1 encrypted already, 0 failed") in out, out
    assert "bob@example.org: INBOX: 3 of 3 messages: 3 would be" in out
    assert snapshot(inst, folders) == before

    done = run(inst, "-A")
    assert done.returncode == 0, done.stderr
    out = done.stdout.decode()
    assert ("alice@example.org: INBOX: 11 of 11 messages: 8 encrypted, "
            "3 encrypted already, 0 failed") in out, out
    after = snapshot(inst, folders)
    for user, names in folders.items():
        for folder in names:
            check_replaced(before[user.name, folder],
                           after[user.name, folder], user)
    check_no_plaintext(alice, markers_of(inbox + old))
    check_no_plaintext(bob, markers_of(bobs))
    assert os.listdir(os.path.join(inst.dir, "encstate")) == ["lock"]

    # again: nothing left to do, nothing rewritten
    again = run(inst, "-u", alice.address, "-m", "INBOX")
    assert again.returncode == 0, again.stderr
    assert b"11 of 11 messages: 0 encrypted, 11 encrypted already" in \
        again.stdout
    assert snapshot(inst, {alice: ["INBOX"]})["alice", "INBOX"] == \
        after["alice", "INBOX"]


def journal_lines(inst):
    """Originals whose new form is stored, per the journals"""
    state = os.path.join(inst.dir, "encstate")
    count = 0
    for name in os.listdir(state) if os.path.isdir(state) else ():
        try:
            with open(os.path.join(state, name), errors="replace") as f:
                count += f.read().count("stored the new form")
        except FileNotFoundError:
            pass
    return count


def children(pid):
    with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
        return [int(p) for p in f.read().split()]


def start_and_kill(inst, user, at, how):
    """Run the command for USER and, once AT originals are replaced,
    SIGKILL its sieve-filter (HOW "filter"), SIGTERM the command ("term",
    as Ctrl-C does), or SIGKILL both ("group")"""
    proc = subprocess.Popen(
        [COMMAND, "-c", inst.conf, "-S", os.path.join(inst.dir, "encstate"),
         "-u", user.address], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, env=command_env(inst), start_new_session=True)
    deadline = time.time() + 300
    while journal_lines(inst) < at:
        assert proc.poll() is None and time.time() < deadline
        time.sleep(0.05)
    if how == "group":
        os.killpg(proc.pid, signal.SIGKILL)
    elif how == "term":
        os.kill(proc.pid, signal.SIGTERM)
    else:
        filters = [p for p in children(proc.pid)
                   if open("/proc/%d/comm" % p).read().strip()
                   == "sieve-filter"]
        assert len(filters) == 1
        os.kill(filters[0], signal.SIGKILL)
    out, err = proc.communicate(timeout=300)
    return proc.returncode, out.decode(), err.decode()


def bob_with_marked(make_instance, fmt, count, fold=""):
    """An instance whose bob has COUNT marked messages in INBOX (FOLD: see
    marked()): the instance, bob, the messages and INBOX as read back"""
    inst = make(make_instance, fmt)
    bob = inst.add_user("bob", key="valid", password=PASSWORD)
    inst.lmtp_start()
    messages = [marked(i, fold) for i in range(count)]
    fill(inst, bob, "INBOX", messages)
    return inst, bob, messages, snapshot(inst, {bob: ["INBOX"]})["bob",
                                                                "INBOX"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_interrupted_then_finished(make_instance, fmt):
    inst, bob, messages, before = bob_with_marked(make_instance, fmt, 40)

    # sieve-filter killed: the command expunges what it replaced
    rc, out, err = start_and_kill(inst, bob, 5, "filter")
    assert rc == 1, (out, err)
    mid = snapshot(inst, {bob: ["INBOX"]})["bob", "INBOX"]
    assert len(mid) == 40
    replaced = set(before) - set(mid)
    assert len(replaced) >= 5, (out, err)

    # the command stopped: it kills sieve-filter and does the same
    rc, out, err = start_and_kill(inst, bob, 5, "term")
    assert rc == 130, (out, err)
    mid = snapshot(inst, {bob: ["INBOX"]})["bob", "INBOX"]
    assert len(mid) == 40
    assert len(set(before) - set(mid)) >= len(replaced) + 5
    assert os.listdir(os.path.join(inst.dir, "encstate")) == ["lock"]

    # the whole command killed: the originals of what it replaced stay
    # until the next run expunges them
    rc, out, err = start_and_kill(inst, bob, 5, "group")
    assert rc == -signal.SIGKILL
    assert len(snapshot(inst, {bob: ["INBOX"]})["bob", "INBOX"]) >= 45
    done = run(inst, "-B", "-u", bob.address)
    assert done.returncode == 0, done.stderr
    assert b"40 of 40 messages" in done.stdout
    check_replaced(before, snapshot(inst, {bob: ["INBOX"]})["bob", "INBOX"],
                   bob)
    check_no_plaintext(bob, markers_of(messages))


def doveadm(inst, user, command, *args):
    """The words doveadm COMMAND for USER prints"""
    return subprocess.run(
        ["doveadm", "-c", inst.conf, *command.split(), "-u", user.address,
         *args], stdout=subprocess.PIPE, env=command_env(inst),
        check=True).stdout.decode().split()


def drop_last_stored_line(inst):
    """Drop the last "stored the new form of ... (uid N)" line of the one
    journal; N and the GUID its "storing the new form (guid G)" line
    names"""
    state = os.path.join(inst.dir, "encstate")
    [journal] = [os.path.join(state, n) for n in os.listdir(state)
                 if n != "lock"]
    with open(journal) as f:
        lines = f.readlines()
    last = max(i for i, line in enumerate(lines)
               if "stored the new form" in line)
    uid = re.search(r"\(uid (\d+)\)", lines.pop(last)).group(1)
    [guid] = [m.group(1) for m in (
        re.search(r"storing the new form \(guid ([0-9a-f]+)\) of the "
                  r"replaced message \(uid %s\)" % uid, line)
        for line in lines) if m]
    with open(journal, "w") as f:
        f.writelines(lines)
    return int(uid), guid


def expunge_new_form(inst, user, guid):
    doveadm(inst, user, "expunge", "mailbox", "INBOX", "guid", guid)


def bring_back_new_form(inst, user, guid):
    """As an mdbox storage rebuild does: under a new uid, no flags"""
    new_form = ("mailbox", "INBOX", "guid", guid)
    _, first = doveadm(inst, user, "search", *new_form)
    doveadm(inst, user, "copy", "INBOX", *new_form)
    doveadm(inst, user, "expunge", *new_form, "uid", first)
    doveadm(inst, user, "flags remove",
            " ".join(re.findall(r"[^ ()]+", " ".join(FLAGS))), *new_form)


def lose_guid_of_new_form(inst, user, guid):
    """Drop the new form's line from dovecot-uidlist"""
    with open(os.path.join(user.home, "Maildir", "dovecot-uidlist"),
              "r+") as f:
        lines = f.readlines()
        kept = [line for line in lines if " G%s " % guid not in line]
        assert len(kept) == len(lines) - 1
        f.seek(0)
        f.truncate()
        f.writelines(kept)


# What a SIGKILL between the plugin's two lines about one new form
# ("storing the new form (guid G) of ... (uid N)", "stored the new form
# of ... (uid N)") leaves, besides the journal without the second line:
# the kill came after the commit ("committed"); before it ("lost");
# mdbox brought a new form written but not committed back at a storage
# rebuild ("brought_back"); or, on Maildir, the kill came after the new
# form's move into cur/ and before dovecot-uidlist was written
# ("guid_lost": the next sync adds the file under a new uid and a GUID of
# Dovecot's; "guid_lost_folded": so, with each Message-ID folded)
KILLED_INSIDE = {
    "committed": lambda inst, user, guid: None,
    "lost": expunge_new_form,
    "brought_back": bring_back_new_form,
    "guid_lost": lose_guid_of_new_form,
    "guid_lost_folded": lose_guid_of_new_form,
}


@pytest.mark.parametrize("fmt, state", [
    (fmt, state) for fmt in FORMATS for state in KILLED_INSIDE
    if not state.startswith("guid_lost") or fmt == "maildir"])
def test_killed_inside_a_replacement(make_instance, fmt, state):
    """The next run learns from the new form's GUID whether it was stored:
    the original is expunged, or encrypted now; each message once"""
    fold = "\r\n\t" if state.endswith("_folded") else ""
    inst, bob, messages, before = bob_with_marked(make_instance, fmt, 12,
                                                  fold)
    rc, _, _ = start_and_kill(inst, bob, 5, "group")
    assert rc == -signal.SIGKILL
    uid, guid = drop_last_stored_line(inst)
    KILLED_INSIDE[state](inst, bob, guid)
    mid = snapshot(inst, {bob: ["INBOX"]})["bob", "INBOX"]
    assert uid in mid
    done = run(inst, "-B", "-u", bob.address)
    assert done.returncode == 0, done.stderr
    assert b"12 of 12 messages" in done.stdout, done.stdout
    after = snapshot(inst, {bob: ["INBOX"]})["bob", "INBOX"]
    assert uid not in after
    check_replaced(before, after, bob)
    check_no_plaintext(bob, markers_of(messages))


def break_storage_file(user, root="mdbox"):
    """Half a message header at the end of USER's last mdbox storage file
    (under ROOT in the home), as a save killed half-way leaves it: the
    path of the copy Dovecot keeps when it repairs the file"""
    storage = os.path.join(user.home, root, "storage")
    last = max((n for n in os.listdir(storage) if re.fullmatch(r"m\.\d+", n)),
               key=lambda n: int(n[2:]))
    with open(os.path.join(storage, last), "ab") as f:
        f.write(b"\x01\x02N 00000000000002b1\n\x01\x02")
    return os.path.join(storage, last + ".broken")


def test_broken_dbox_copy_shown_then_removed(make_instance):
    """Dovecot repairs a storage file with half a message at its end and
    keeps the file as it was, the originals in plaintext, as m.N.broken:
    the command names it and exits with 1; with -B it removes it"""
    inst, bob, messages, before = bob_with_marked(make_instance, "mdbox", 4)
    copy = break_storage_file(bob)
    # started where bob may not go, as in root's home
    private = os.path.join(inst.dir, "private")
    os.mkdir(private, 0o700)
    done = run(inst, "-u", bob.address, cwd=private)
    assert done.returncode == 1
    assert b"4 of 4 messages: 4 encrypted, 0 encrypted already, 0 failed" \
        in done.stdout, done.stdout
    assert ("%s: %s: Dovecot's copy of a broken dbox file, plaintext may "
            "remain in it (-B removes it)\n" % (bob.address, copy)).encode() \
        in done.stderr, done.stderr
    with open(copy, "rb") as f:
        data = f.read()
    assert all(m in data for m in markers_of(messages))

    done = run(inst, "-B", "-u", bob.address, cwd=private)
    assert done.returncode == 0, done.stderr
    assert ("%s: removed %s, Dovecot's copy of a broken dbox file\n"
            % (bob.address, copy)).encode() in done.stdout, done.stdout
    assert b"4 of 4 messages: 0 encrypted, 4 encrypted already" \
        in done.stdout, done.stdout
    check_replaced(before, snapshot(inst, {bob: ["INBOX"]})["bob", "INBOX"],
                   bob)
    check_no_plaintext(bob, markers_of(messages))


def test_broken_copy_in_alternate_storage(make_instance):
    """A copy Dovecot kept in the mdbox alternate storage is found there:
    messages moved there (doveadm altmove), the file broken, repaired by a
    resync (as any later access does); -B removes the copy"""
    inst = make(make_instance, "mdbox")
    inst.extra = {
        "2.3": "mail_location = mdbox:~/mdbox:ALT=~/alt\n",
        "2.4": "mail_driver = mdbox\nmail_path = ~/mdbox\n"
               "mail_alt_path = ~/alt\n"}
    bob = inst.add_user("bob", key="valid", password=PASSWORD)
    inst.lmtp_start()
    messages = [marked(i) for i in range(3)]
    fill(inst, bob, "INBOX", messages)
    before = snapshot(inst, {bob: ["INBOX"]})["bob", "INBOX"]
    doveadm(inst, bob, "altmove", "mailbox", "INBOX", "all")
    copy = break_storage_file(bob, "alt")
    doveadm(inst, bob, "force-resync", "INBOX")
    assert os.path.isfile(copy)
    done = run(inst, "-B", "-u", bob.address)
    assert done.returncode == 0, done.stderr
    assert ("%s: removed %s, Dovecot's copy of a broken dbox file\n"
            % (bob.address, copy)).encode() in done.stdout, done.stdout
    check_replaced(before, snapshot(inst, {bob: ["INBOX"]})["bob", "INBOX"],
                   bob)
    check_no_plaintext(bob, markers_of(messages))


def test_no_key_left_in_clear(make_instance):
    """A user without a keyring: each message is an error, stays as it
    was, and the command exits with 1"""
    inst = make(make_instance, "maildir")
    carol = inst.add_user("carol", password=PASSWORD)
    inst.lmtp_start()
    fill(inst, carol, "INBOX", [marked(i) for i in range(3)])
    before = snapshot(inst, {carol: ["INBOX"]})
    done = run(inst, "-u", carol.address)
    assert done.returncode == 1
    assert (b"3 of 3 messages: 0 encrypted, 0 encrypted already, "
            b"3 failed") in done.stdout, done.stdout
    assert len(re.findall(rb"carol@example.org: INBOX: error: .*cannot "
                          rb"encrypt message", done.stderr)) == 3, \
        done.stderr
    assert snapshot(inst, {carol: ["INBOX"]}) == before


def test_progress_line_on_a_terminal(make_instance):
    """On a terminal (script(1) gives the command one) the command shows
    how far it is, "N of M messages", rewritten in place"""
    inst = make(make_instance, "maildir")
    dave = inst.add_user("dave", key="valid", password=PASSWORD)
    inst.lmtp_start()
    fill(inst, dave, "INBOX", [marked(i) for i in range(20)])
    command = shlex.join([
        COMMAND, "-c", inst.conf, "-S", os.path.join(inst.dir, "encstate"),
        "-u", dave.address])
    out = subprocess.run(["script", "-qec", command, "/dev/null"],
                         stdout=subprocess.PIPE, env=command_env(inst),
                         timeout=600).stdout.decode()
    shown = [int(n) for n in re.findall(
        r"\rdave@example.org: INBOX: (\d+) of 20 messages(?=\r)", out)]
    assert shown and shown == sorted(shown), out
    assert "INBOX: 20 of 20 messages: 20 encrypted" in out, out


def test_keys_given(make_instance):
    """-k: the keys given, not sieve_encrypt_default_keys (erin's names an
    address her keyring has no key for); a key that is not one word of
    the key characters is refused before anything runs"""
    inst = make(make_instance, "maildir")
    erin = inst.add_user("erin", key="valid", password=PASSWORD,
                         sieve_encrypt_default_keys="nobody@example.org")
    inst.lmtp_start()
    fill(inst, erin, "INBOX", [marked(i) for i in range(2)])
    before = snapshot(inst, {erin: ["INBOX"]})
    bad = run(inst, "-u", erin.address, "-k", 'x"; discard; "')
    assert bad.returncode == 1 and b"-k:" in bad.stderr, bad.stderr
    dry = run(inst, "-n", "-u", erin.address)
    assert dry.returncode == 1 and b"2 failed" in dry.stdout, dry.stdout
    assert snapshot(inst, {erin: ["INBOX"]}) == before
    done = run(inst, "-u", erin.address, "-k", erin.key.fpr)
    assert done.returncode == 0, done.stderr
    assert b"2 of 2 messages: 2 encrypted" in done.stdout
    check_replaced(before["erin", "INBOX"],
                   snapshot(inst, {erin: ["INBOX"]})["erin", "INBOX"], erin)


def test_orphaned_sieve_filter_keeps_others_out(make_instance):
    """The command alone SIGKILLed: its sieve-filter goes on and holds the
    lock, so a new run refuses to start (it would encrypt the same
    originals again); once sieve-filter is done, a run finishes the job"""
    inst, bob, _, before = bob_with_marked(make_instance, "maildir", 20)
    proc = subprocess.Popen(
        [COMMAND, "-c", inst.conf, "-S", os.path.join(inst.dir, "encstate"),
         "-u", bob.address], stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, env=command_env(inst), start_new_session=True)
    deadline = time.time() + 300
    while journal_lines(inst) < 3:
        assert proc.poll() is None and time.time() < deadline
        time.sleep(0.05)
    orphan = children(proc.pid)
    proc.kill()
    proc.wait()
    refused = run(inst, "-u", bob.address)
    assert refused.returncode == 1
    assert b"another run holds" in refused.stderr, refused.stderr
    for pid in orphan:
        while os.path.exists("/proc/%d" % pid):
            assert time.time() < deadline
            time.sleep(0.1)
    done = run(inst, "-u", bob.address)
    assert done.returncode == 0, done.stderr
    check_replaced(before, snapshot(inst, {bob: ["INBOX"]})["bob", "INBOX"],
                   bob)
