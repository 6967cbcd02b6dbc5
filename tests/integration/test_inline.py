# Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
"""Inline PGP, `encrypt :format "inline"`, through the real dovecot-lda.

Every message of tests/messages and of the corpus (as in
test_roundtrip.py) is delivered with `encrypt :format "inline"`. What
the plugin must do with it is decided here, independently of the C code,
by the rules of doc/design.md ("Inline PGP"):

- a message that is one text/plain part (no Content-Type: text/plain;
  us-ascii) in a charset that reads the armor's bytes as the armor's
  characters (asked of glibc's iconv, as Dovecot does), with a header of
  RFC 5322 fields ended by a blank line, at most one Content-Type and one
  Content-Transfer-Encoding field, no Content-Disposition other than
  inline, a body that decodes (7bit/8bit/binary as is, base64 strictly,
  quoted-printable by the rules of Dovecot's decoder, re-implemented
  below) to text without a NUL: stored inline. The stored header is the
  original one (with Maildir's LF line ends) except that
  Content-Transfer-Encoding is "7bit" (in place, or added after the last
  field), the body is exactly one armored PGP MESSAGE that `gpg --decrypt`
  turns into exactly the decoded body (quoted-printable hard line breaks
  in the message's line ends), and Python's email parser with the strict
  policy reads it as text/plain in the original's charset (or fails on
  the same defect as on the original);
- any other message: stored as PGP/MIME that harness/pgpmime.py accepts
  (or unchanged when encrypted already), and the log says why not inline.

The test messages named *-inline-* carry "X-Inline-Expect: inline" or
"pgpmime": the decision above must agree with it (so each really tests
what its name says). Further tests: the setting sieve_encrypt_format =
inline, the status header field, :protect-headers and :hide-subject
falling back to PGP/MIME."""

import email.parser
import email.policy
import functools
import os
import re
import shlex
import shutil
import subprocess

import pytest

from harness import pgpmime
from test_roundtrip import MESSAGE_PATHS, Deliveries

INLINE_SCRIPT = '''require ["vnd.x.encrypt", "envelope", "variables"];
if envelope :matches "to" "*" {
  encrypt :format "inline" "${1}";
}'''

PLAIN_SCRIPT = '''require ["vnd.x.encrypt"];
encrypt "alice@example.org";'''

# Every character of the armor, with both line ends (as the plugin asks
# its charset question)
ARMOR_CHARS = (b"-----BEGIN PGP MESSAGE-----\r\n\r\n"
               b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
               b"0123456789+/\n=\r\n-----END PGP MESSAGE-----\n")

ARMOR_RE = re.compile(rb"\A-----BEGIN PGP MESSAGE-----\n"
                      rb"(?:Charset: ([^\n]+)\n)?\n"
                      rb"(?:[A-Za-z0-9+/]{1,76}=*\n)+"
                      rb"=[A-Za-z0-9+/]{4}\n"
                      rb"-----END PGP MESSAGE-----\n\Z")

FALLBACK_RE = r"encrypt action: PGP/MIME instead of inline: (.*)"

HEX = b"0123456789abcdefABCDEF"


class NotInline(Exception):
    pass


@functools.lru_cache(maxsize=None)
def charset_keeps_armor(charset):
    """glibc's iconv (Dovecot's charset conversion) reads ARMOR_CHARS in
    CHARSET as the same characters"""
    if charset.lower() in ("us-ascii", "ascii", "utf-8", "utf8"):
        return True
    if not re.fullmatch(r"[A-Za-z0-9._:+()-]{1,60}", charset):
        return False
    proc = subprocess.run(["iconv", "-f", charset, "-t", "UTF-8"],
                          input=ARMOR_CHARS, stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL)
    return proc.returncode == 0 and proc.stdout == ARMOR_CHARS


def qp_decode_line(content, has_newline):
    """One line without its line end and trailing white space: "=XX"
    (either case) is the byte, a last "=" a soft line break (an error
    on a last line without line end), any other "=" an error, as are a
    CR and a run of 77 or more spaces and tabs before more text. Returns
    (bytes, soft break?)"""
    if b"\r" in content:
        raise NotInline("quoted-printable: a CR that ends no line")
    if re.search(rb"[ \t]{77,}[^ \t]", content):
        raise NotInline("quoted-printable: too much white space")
    out = bytearray()
    i = 0
    while i < len(content):
        c = content[i]
        if c != 0x3d:
            out.append(c)
            i += 1
        elif i == len(content) - 1 and has_newline:
            return bytes(out), True
        elif content[i + 1:i + 2] and content[i + 1] in HEX and \
                content[i + 2:i + 3] and content[i + 2] in HEX:
            out.append(int(content[i + 1:i + 3], 16))
            i += 3
        else:
            raise NotInline("quoted-printable: '=' without two hex digits")
    return bytes(out), False


def qp_decode(body, newline):
    """Dovecot's quoted-printable decoder (lib-mail/qp-decoder.c) as
    documented there, each hard line break then in NEWLINE: spaces and
    tabs at the end of a line are dropped, "=" before optional white space
    and the line end is a soft line break"""
    out = bytearray()
    lines = body.split(b"\n")
    for n, line in enumerate(lines):
        has_newline = n < len(lines) - 1
        if has_newline and line.endswith(b"\r"):
            line = line[:-1]
        text, soft = qp_decode_line(line.rstrip(b" \t"), has_newline)
        out += text
        if has_newline and not soft:
            out += newline
    return bytes(out)


def content_token(value):
    p = pgpmime.Rfc822Parser(value)
    if p.skip_lwsp() < 0:
        return None
    tok, ret = p.mime_token()
    return tok.decode("latin-1") if ret >= 0 and tok else None


def reference(original):
    """What the plugin encrypts inline: the plaintext, or NotInline"""
    msg = pgpmime.Message(original)
    if msg.separator is None:
        raise NotInline("no blank line after the header")
    for field in msg.fields:
        if msg.is_no_field(field) or msg.is_malformed(field):
            raise NotInline("a header line that is no field")
    ctypes = msg.values("Content-Type")
    ctes = msg.values("Content-Transfer-Encoding")
    if len(ctypes) > 1 or len(ctes) > 1:
        raise NotInline("two Content-Type or -Transfer-Encoding fields")
    ctype, params, cte = pgpmime.mime_info(msg)
    if ctypes and ctype is None:
        raise NotInline("Content-Type cannot be parsed")
    if (ctype or "text/plain").lower() != "text/plain":
        raise NotInline("not text/plain")
    for value in msg.values("Content-Disposition"):
        if (content_token(value) or "").lower() != "inline":
            raise NotInline("Content-Disposition not inline")
    charset = params.get("charset", b"us-ascii").decode("latin-1")
    if not charset_keeps_armor(charset):
        raise NotInline("charset %s" % charset)
    if ctes and cte is None:
        raise NotInline("invalid Content-Transfer-Encoding")
    name = (cte or "7bit").lower()
    if name in ("7bit", "8bit", "binary"):
        text = msg.body
    elif name == "base64":
        try:
            text = pgpmime.decode_base64_strict(msg.body)
        except pgpmime.NotEncrypted as e:
            raise NotInline(str(e))
    elif name == "quoted-printable":
        text = qp_decode(msg.body, msg.newline)
    else:
        raise NotInline("Content-Transfer-Encoding %s" % name)
    if b"\0" in text:
        raise NotInline("a NUL")
    return text


def expected_header(original):
    """The original header with Content-Transfer-Encoding: 7bit, as
    stored (LF)"""
    msg = pgpmime.Message(original)
    cte = b"Content-Transfer-Encoding: 7bit" + msg.newline
    fields = [cte if msg.field_name(f).lower() ==
              b"content-transfer-encoding" else f for f in msg.fields]
    if cte not in fields:
        fields.append(cte)
    return pgpmime.crlf_to_lf(b"".join(fields) + msg.separator)


def strict_parse(data):
    """(content type, charset) by Python's strict parser, or the defect"""
    parser = email.parser.BytesParser(policy=email.policy.strict)
    try:
        m = parser.parsebytes(data)
        return m.get_content_type(), m.get_param("charset")
    except Exception as e:
        return "defect: %s" % type(e).__name__, None


def check_inline(original, stored, plaintext, secret_home):
    head = expected_header(original)
    pgpmime.compare("stored header", stored[:len(head)], head)
    body = stored[len(head):]
    armor = ARMOR_RE.match(body)
    assert armor, "the body is not one armored PGP MESSAGE: %r" % body[:200]
    _, params, _ = pgpmime.mime_info(pgpmime.Message(original))
    charset = params.get("charset", b"us-ascii")
    want = None if charset.lower() in (b"us-ascii", b"ascii", b"utf-8",
                                       b"utf8") else charset
    assert armor.group(1) == want, \
        "armor header Charset: %r, expected %r" % (armor.group(1), want)
    got, keys = pgpmime.gpg_decrypt(secret_home, body)
    pgpmime.compare("decrypted text", got, plaintext)
    assert len(keys) == 1, keys
    assert strict_parse(stored)[0] == strict_parse(original)[0] and \
        strict_parse(stored)[1] == strict_parse(original)[1], \
        (strict_parse(stored), strict_parse(original))


def without_from_line(message):
    """What the plugin sees: dovecot-lda takes a leading "From " line for
    the envelope"""
    if message.startswith(b"From "):
        nl = message.find(b"\n")
        return message[nl + 1:] if nl >= 0 else b""
    return message


@pytest.fixture(scope="module")
def inline(request, make_module_instance):
    inst = make_module_instance()
    inst.add_user("alice", key="valid")
    inst.global_script(INLINE_SCRIPT)
    labels = [item.callspec.params["label"] for item in request.session.items
              if item.module is request.module
              and item.originalname == "test_inline"]
    deliveries = Deliveries(inst, labels)
    yield deliveries
    deliveries.close()


@pytest.mark.parametrize("label", sorted(MESSAGE_PATHS))
def test_inline(inline, label):
    """Stored inline exactly when the rules allow it, else as PGP/MIME
    (or unchanged when encrypted already) with the reason logged"""
    message, d = inline.result(label)
    assert d.rc == 0 and len(d.new_files) == 1, \
        "delivery failed (exit %d, %d files): %s" % (
            d.rc, len(d.new_files), d.log[-300:])
    with open(d.stored, "rb") as f:
        stored = f.read()
    original = without_from_line(message)
    secret_home = inline.inst.users["alice"].secret_home
    pinned = re.search(rb"^X-Inline-Expect: *([a-z]+)", original, re.M)
    already, _ = pgpmime.encrypted_already(pgpmime.Message(original))
    plaintext, why = None, "encrypted already"
    try:
        plaintext = None if already else reference(original)
    except NotInline as e:
        why = str(e)
    inline.outcomes[label] = "FAIL"
    if plaintext is not None:
        assert not pinned or pinned.group(1) == b"inline", \
            "the reference encrypts inline, the message says otherwise"
        assert not re.search(FALLBACK_RE, d.log), \
            "fell back: " + re.search(FALLBACK_RE, d.log).group(1)
        check_inline(original, stored, plaintext, secret_home)
        inline.outcomes[label] = "inline"
        return
    assert not pinned or pinned.group(1) == b"pgpmime", \
        "the reference falls back (%s), the message says inline" % why
    pgpmime.verify(message, stored, secret_home, "auto", set(), False,
                   d.plugin_sizes())
    if not already:
        assert re.search(FALLBACK_RE, d.log), \
            "no fallback reason logged (reference: %s)" % why
    inline.outcomes[label] = "unchanged" if already else "pgpmime"


def test_inline_counts(inline):
    """Prints how many messages were stored inline, as PGP/MIME or
    unchanged (pytest -rA shows it); at least one of each kind"""
    inline.wait()
    counts = {}
    for outcome in inline.outcomes.values():
        counts[outcome] = counts.get(outcome, 0) + 1
    print("inline: %(inline)d, PGP/MIME: %(pgpmime)d, unchanged: "
          "%(unchanged)d, failed: %(FAIL)d" %
          dict(dict.fromkeys(("inline", "pgpmime", "unchanged", "FAIL"), 0),
               **counts))
    if inline.outcomes:
        assert counts.get("inline") and counts.get("pgpmime")


def plain_message(*extra):
    return (b"From: Sender <sender@example.net>\n"
            b"To: Alice <alice@example.org>\n"
            b"Subject: inline\n" + b"".join(extra) +
            b"MIME-Version: 1.0\n"
            b"Content-Type: text/plain; charset=utf-8\n"
            b"Content-Transfer-Encoding: 8bit\n"
            b"\n"
            b"Gr\xc3\xbc\xc3\x9fe, PLAINTEXT-MARKER.\n")


def deliver_one(make_instance, script, message, **settings):
    inst = make_instance()
    inst.add_user("alice", key="valid")
    inst.set(**settings)
    inst.global_script(script)
    d = inst.lda("alice", message)
    assert d.rc == 0, d.log[-500:]
    with open(d.stored, "rb") as f:
        return inst, d, f.read()


def test_inline_setting(make_instance):
    """sieve_encrypt_format = inline: a plain `encrypt` stores inline"""
    message = plain_message()
    inst, d, stored = deliver_one(make_instance, PLAIN_SCRIPT, message,
                                  sieve_encrypt_format="inline")
    check_inline(message, stored, reference(message),
                 inst.users["alice"].secret_home)


def test_inline_status_header(make_instance):
    """The status field "encrypted" on top, the sender's own one gone,
    the rest of the header as it was"""
    message = plain_message(b"X-Encrypt-Status: encrypted\n")
    inst, d, stored = deliver_one(make_instance, INLINE_SCRIPT, message,
                                  sieve_encrypt_status_header=
                                  "X-Encrypt-Status")
    assert stored.startswith(b"X-Encrypt-Status: encrypted\n"), stored[:80]
    stored = stored[len(b"X-Encrypt-Status: encrypted\n"):]
    assert b"X-Encrypt-Status" not in stored
    original = message.replace(b"X-Encrypt-Status: encrypted\n", b"")
    check_inline(original, stored, reference(original),
                 inst.users["alice"].secret_home)


@pytest.mark.parametrize("tag", [":protectheaders", ":hidesubject"])
def test_inline_header_protection_falls_back(make_instance, tag):
    """Inline cannot protect header fields: PGP/MIME, reason logged"""
    script = INLINE_SCRIPT.replace(':format "inline"',
                                   ':format "inline" ' + tag)
    message = plain_message()
    inst, d, stored = deliver_one(make_instance, script, message)
    m = re.search(FALLBACK_RE, d.log)
    assert m and "header" in m.group(1), d.log[-500:]
    assert b"Content-Type: multipart/encrypted" in stored


MUTTRC = """set mbox_type=Maildir
set folder={dir}
set spoolfile={dir}/md
set record=""
set postponed={dir}/md
set move=no
set crypt_use_gpgme=yes
set pgp_auto_decode=yes
set pipe_decode=yes
set wait_key=no
set charset=utf-8
"""


def mutt_read(stored, secret_home, directory):
    """The text that mutt shows of STORED, in UTF-8: in its index
    check-traditional-pgp (what finds inline PGP), then the message piped
    decoded (pipe_decode: decrypted, converted to mutt's charset) into a
    file; mutt runs in a pseudo-terminal (script)"""
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(directory, "md", sub))
    with open(os.path.join(directory, "md", "cur", "1.inline:2,S"),
              "wb") as f:
        f.write(stored)
    muttrc = os.path.join(directory, "muttrc")
    with open(muttrc, "w") as f:
        f.write(MUTTRC.format(dir=directory))
    out = os.path.join(directory, "out.txt")
    keys = ('folder-hook . "push \\"<check-traditional-pgp><pipe-message>'
            'cat > %s<enter><quit>\\""' % out)
    # a pseudo-terminal without a controlling one has the size 0x0, with
    # which Debian 13's ncurses does not start ("Error opening terminal")
    cmd = "stty rows 24 cols 80; mutt -n -F %s -f %s -e %s" % (
        shlex.quote(muttrc), shlex.quote(os.path.join(directory, "md")),
        shlex.quote(keys))
    subprocess.run(["script", "-qec", cmd, "/dev/null"],
                   env=dict(os.environ, TERM="vt100", GNUPGHOME=secret_home),
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=120)
    assert os.path.exists(out), "mutt piped nothing"
    with open(out, "rb") as f:
        shown = f.read()
    return shown.split(b"\n\n", 1)[1] if b"\n\n" in shown else b""


@pytest.mark.skipif(shutil.which("mutt") is None or
                    shutil.which("script") is None,
                    reason="mutt (tests/setup/install-deps.sh) not installed")
@pytest.mark.parametrize("name", [
    "05-utf8-8bit.eml", "70-inline-qp-soft-breaks.eml",
    "71-inline-base64.eml", "72-inline-latin1-8bit.eml",
    "73-inline-qp-latin1-crlf.eml"])
def test_inline_mutt_reads(inline, tmp_path, name):
    """mutt decrypts the stored inline message and shows the original
    text (compared in UTF-8, line ends as LF), also in Latin-1 and
    ISO-8859-15: the armor's Charset header tells it the charset"""
    label = "messages/" + name
    if label not in inline.futures:
        inline.submit(label)
    message, d = inline.result(label)
    with open(d.stored, "rb") as f:
        stored = f.read()
    assert b"-----BEGIN PGP MESSAGE-----" in stored, "not stored inline"
    _, params, _ = pgpmime.mime_info(pgpmime.Message(message))
    charset = params.get("charset", b"us-ascii").decode()
    expected = reference(message).decode(charset).encode("utf-8")
    shown = mutt_read(stored, inline.inst.users["alice"].secret_home,
                      str(tmp_path))
    pgpmime.compare("text mutt shows", shown.replace(b"\r\n", b"\n"),
                    expected.replace(b"\r\n", b"\n"))
