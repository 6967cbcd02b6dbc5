"""A folder that encrypts (IMAPSieve): a real Dovecot IMAP service with
Pigeonhole's imap_sieve plugin runs a script with `encrypt` for messages
APPENDed, COPYed and MOVEd into "Secure". A real IMAP client (imaplib)
then FETCHes the whole folder, \\Deleted included (UID FETCH 1:*): every
message decrypts back to the bytes that went in, none holds the
plaintext marker, flags, keywords and INTERNALDATE are those the message
had, and the Maildir files of the folder hold no plaintext either. With
and without imapsieve_expunge_discarded (the plugin expunges the
original itself, src/sieve-encrypt-stored.c). A message moved out and
back in stays as it is (encrypted already); a user without a key gets
the failure policy (the message stays in clear: IMAPSieve runs after the
APPEND or COPY is committed, it cannot refuse it)."""

import imaplib
import os
import re
import secrets

import pytest

from harness import imap, pgpmime
from harness.dovecot import message_files

PASSWORD = "secret"
FOLDER = "Secure"
SCRIPT = 'require ["vnd.x.encrypt"];\nencrypt;\n'
DATES = (1400000000, 1500000000, 1600000000, 1650000000, 1700000000)


def make_message(number):
    """A message with a marker of its own in the body, CRLF lines (as
    imaplib sends it)"""
    marker = "PLAINTEXT-MARKER-%s" % secrets.token_hex(8)
    text = ("From: sender@example.net\r\nTo: alice@example.org\r\n"
            "Subject: secure %d\r\nMessage-ID: <is%d.%s@example.net>\r\n"
            "MIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=us-ascii\r\n\r\n"
            "%s\r\nline two of message %d\r\n"
            % (number, number, marker[-16:], marker, number))
    return text.encode(), marker.encode()


@pytest.fixture(scope="module", params=["no", "yes"],
                ids=["expunge_discarded=no", "expunge_discarded=yes"])
def server(request, make_module_instance):
    """alice (keyring), bob and carol (none), an IMAP service, and an IMAPSieve
    rule that runs `encrypt` (default keys: the user) for APPEND and COPY
    into Secure"""
    inst = folder_instance(make_module_instance,
                           imapsieve_expunge_discarded=request.param)
    inst.add_user("alice", key="valid", password=PASSWORD)
    # no keyring, one per failure policy
    inst.add_user("bob", password=PASSWORD, sieve_encrypt_on_failure="keep")
    inst.add_user("carol", password=PASSWORD,
                  sieve_encrypt_on_failure="tempfail")
    inst.lmtp_start()
    return inst


class Client(imap.Client):
    def __init__(self, inst, name):
        super().__init__(inst.imap_port, "%s@example.org" % name, PASSWORD)


def internaldate(date):
    return imaplib.Internaldate2tuple(
        ("* 1 (INTERNALDATE %s)" % imaplib.Time2Internaldate(date))
        .encode())


def check_folder(inst, user, placed):
    """Every message of the folder is the encrypted form of one of PLACED
    ({marker: (message, flags, date)}), with its flags and date, each
    once; nothing in the folder or its files holds a marker"""
    with Client(inst, user.name) as client:
        fetched = client.fetch_all(FOLDER)
    assert len(fetched) == len(placed), (
        "%d messages in %s, %d placed: %s" % (
            len(fetched), FOLDER, len(placed),
            [(uid, flags) for uid, flags, _, _ in fetched]))
    seen = set()
    for uid, flags, date, body in fetched:
        for marker in placed:
            assert marker not in body, "uid %d holds a plaintext marker" % uid
        stored = body.replace(b"\r\n", b"\n")
        match = [m for m, (msg, _, _) in placed.items()
                 if _decrypts_to(msg, stored, user)]
        assert len(match) == 1, "uid %d decrypts to no placed message" % uid
        marker = match[0]
        assert marker not in seen, "uid %d: a second copy" % uid
        seen.add(marker)
        _, want_flags, want_date = placed[marker]
        assert flags == want_flags, (uid, flags, want_flags)
        assert date == internaldate(want_date), (uid, date, want_date)
    folder_files = message_files(user.maildir, FOLDER)
    assert len(folder_files) == len(placed), folder_files
    for path in folder_files:
        with open(path, "rb") as f:
            data = f.read()
        for marker in placed:
            assert marker not in data, path


def _decrypts_to(message, stored, user):
    """Whether STORED is the PGP/MIME form of MESSAGE as the folder held
    it before: an IMAPSieve script reads the stored message, and Maildir
    stores LF line ends (what went in over IMAP had CRLF)"""
    try:
        pgpmime.verify(pgpmime.crlf_to_lf(message), stored, user.secret_home, "encrypted",
                       set(), True, None)
        return True
    except pgpmime.Mismatch:
        return False


def plugin_lines(inst, what):
    return [line for line in inst.log().splitlines() if what in line]


def test_append_copy_move_encrypted(server):
    user = server.users["alice"]
    placed = {}
    with Client(server, "alice") as client:
        client.create(FOLDER, "Other")
        # APPEND into the folder
        msg, marker = make_message(1)
        client.append(FOLDER, r"(\Seen \Flagged $Label1)", DATES[0], msg)
        placed[marker] = (msg, {"\\Seen", "\\Flagged", "$Label1"},
                          DATES[0])
        # COPY of two messages at once, and MOVE, from Other
        for number, flags, fset in (
                (2, r"(\Answered $Label2)", {"\\Answered", "$Label2"}),
                (3, r"()", set()),
                (4, r"(\Draft \Seen)", {"\\Draft", "\\Seen"})):
            msg, marker = make_message(number)
            client.append("Other", flags, DATES[number], msg)
            placed[marker] = (msg, fset, DATES[number])
        client.ok(client.imap.select("Other"))
        data = client.ok(client.imap.copy("1:2", FOLDER))
        assert b"COPYUID" in data[0], data
        client.ok(client.imap._simple_command("MOVE", "3", FOLDER))
        client.imap.close()
    check_folder(server, user, placed)
    # COPY leaves its source as it was: Other keeps messages 2 and 3 in
    # clear, the moved one is gone from there
    with Client(server, "alice") as client:
        other = client.fetch_all("Other")
    assert len(other) == 2
    assert all(b"PLAINTEXT-MARKER-" in body for _, _, _, body in other)
    assert len(plugin_lines(server, "expunged the original")) >= 4


def test_moved_out_and_back_left_alone(server):
    user = server.users["alice"]
    with Client(server, "alice") as client:
        client.create(FOLDER, "Out")
        msg, marker = make_message(5)
        client.append(FOLDER, r"(\Seen $Keep)", DATES[4], msg)
        before = {uid: (flags, date, body) for uid, flags, date, body
                  in client.fetch_all(FOLDER)}
        uid = max(before)
        encrypted_lines = len(plugin_lines(server, "encrypted message to"))
        client.ok(client.imap.select(FOLDER))
        client.ok(client.imap.uid("MOVE", str(uid), "Out"))
        client.ok(client.imap.select("Out"))
        client.ok(client.imap._simple_command("MOVE", "1:*", FOLDER))
        client.imap.close()
        after = client.fetch_all(FOLDER)
    assert len(after) == len(before)
    new_uid, flags, date, body = max(after)
    assert new_uid > uid
    assert (flags, date, body) == before[uid]
    assert flags == {"\\Seen", "$Keep"} and date == internaldate(DATES[4])
    assert marker not in body
    assert _decrypts_to(msg, body.replace(b"\r\n", b"\n"), user)
    assert len(plugin_lines(server, "encrypted message to")) == \
        encrypted_lines
    assert plugin_lines(server, "message is encrypted already")


@pytest.mark.parametrize("name,policy", [("bob", "keep"),
                                         ("carol", "tempfail")])
def test_no_key_stays_in_clear(server, name, policy):
    """No keyring: the APPEND succeeds under either policy (IMAPSieve runs
    after the message is committed and cannot refuse it), the message
    stays as appended, not \\Deleted, and the log says why"""
    msg, marker = make_message(6)
    with Client(server, name) as client:
        client.create(FOLDER)
        before = len(client.fetch_all(FOLDER))
        client.append(FOLDER, r"(\Seen)", DATES[0], msg)
        fetched = client.fetch_all(FOLDER)
    assert len(fetched) == before + 1
    uid, flags, date, body = max(fetched)
    assert flags == {"\\Seen"}
    assert body == msg
    assert marker in body
    errors = [line for line in plugin_lines(server, "imap(%s@" % name)
              if "Error: " in line and "cannot encrypt message" in line]
    assert errors, server.log()[-2000:]
    aborted = [line for line in plugin_lines(server, "imap(%s@" % name)
               if "aborted due to temporary failure" in line]
    assert bool(aborted) == (policy == "tempfail")


def folder_instance(make_instance, text=SCRIPT, **settings):
    """An instance with the IMAPSieve folder (script TEXT), IMAP's group
    allowed, the default keys and SETTINGS. IMAP processes keep Dovecot's
    internal group (service imap's extra_groups), which they cannot drop:
    allowed for IMAP only, as doc/examples/90-sieve-encrypt-*.conf does"""
    inst = make_instance()
    inst.protocols = "lmtp imap"
    script = os.path.join(inst.dir, "sieve", "secure.sieve")
    with open(script, "w") as f:
        f.write(text)
    inst.imapsieve = [(FOLDER, ["APPEND", "COPY"], script)]
    inst.extra = {
        "2.3": "protocol imap {\n  plugin {\n    "
               "sieve_encrypt_gpg_allowed_groups = dovecot\n  }\n}",
        "2.4": "protocol imap {\n  "
               "sieve_encrypt_gpg_allowed_groups = dovecot\n}"}
    inst.set(sieve_encrypt_default_keys="${user}", **settings)
    inst.sievec(script)
    return inst


def test_status_header(make_instance):
    """With sieve_encrypt_status_header and the test form (`if encrypt`):
    the encrypted form carries "encrypted"; bob's message (no key) is
    replaced by itself with "no-key" on top, flags and date kept, the
    original expunged; an encrypted message moved out and back is left as
    it is (no "already-encrypted" copy)"""
    inst = folder_instance(make_instance,
                           'require ["vnd.x.encrypt"];\nif encrypt {\n}\n',
                           sieve_encrypt_status_header="X-Encrypt-Status")
    inst.add_user("alice", key="valid", password=PASSWORD)
    inst.add_user("bob", password=PASSWORD)
    inst.lmtp_start()
    msg, marker = make_message(8)
    with Client(inst, "bob") as client:
        client.create(FOLDER)
        client.append(FOLDER, r"(\Flagged $Mark)", DATES[1], msg)
        fetched = client.fetch_all(FOLDER)
    assert len(fetched) == 1, fetched
    _, flags, date, body = fetched[0]
    assert (flags, date) == ({"\\Flagged", "$Mark"}, internaldate(DATES[1]))
    assert body == b"X-Encrypt-Status: no-key\r\n" + msg
    with Client(inst, "alice") as client:
        client.create(FOLDER, "Out")
        client.append(FOLDER, r"(\Seen)", DATES[2], msg)
        before = client.fetch_all(FOLDER)
        assert len(before) == 1
        assert before[0][3].startswith(b"X-Encrypt-Status: encrypted\r\n")
        assert marker not in before[0][3]
        client.ok(client.imap.select(FOLDER))
        client.ok(client.imap._simple_command("MOVE", "1", "Out"))
        client.ok(client.imap.select("Out"))
        client.ok(client.imap._simple_command("MOVE", "1", FOLDER))
        client.imap.close()
        after = client.fetch_all(FOLDER)
    assert [item[1:] for item in after] == [item[1:] for item in before]
    assert after[0][0] > before[0][0]


def test_internal_group_refused_without_allowing_it(make_instance):
    """Without sieve_encrypt_gpg_allowed_groups for IMAP, gpg would keep
    Dovecot's internal group (service imap's extra_groups): the plugin
    refuses to run it, and the message stays as appended (policy keep)"""
    inst = make_instance()
    inst.protocols = "lmtp imap"
    script = os.path.join(inst.dir, "sieve", "secure.sieve")
    with open(script, "w") as f:
        f.write(SCRIPT)
    inst.imapsieve = [(FOLDER, ["APPEND", "COPY"], script)]
    inst.set(sieve_encrypt_default_keys="${user}")
    inst.sievec(script)
    inst.add_user("alice", key="valid", password=PASSWORD)
    inst.lmtp_start()
    msg, marker = make_message(7)
    with Client(inst, "alice") as client:
        client.create(FOLDER)
        client.append(FOLDER, r"(\Seen)", DATES[0], msg)
        fetched = client.fetch_all(FOLDER)
    assert [(flags, body) for _, flags, _, body in fetched] == [
        ({"\\Seen"}, msg)]
    refused = [line for line in plugin_lines(inst, "imap(alice@")
               if re.search(r"Error: .*refusing to run gpg: the delivery "
                            r"process has group \S+ \(gid \d+\), which is "
                            r"not the mail user's own.*under protocol imap",
                            line)]
    assert refused, inst.log()[-2000:]
