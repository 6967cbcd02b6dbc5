#!/usr/bin/env python3
"""Check what Dovecot stored for a message delivered through `encrypt`.

Usage:
  pgpmime-verify.py [options] ORIGINAL STORED [GNUPGHOME]
  pgpmime-verify.py [options] --batch FILE

ORIGINAL is the message as handed to the delivery agent, STORED the file
Dovecot wrote into the Maildir, GNUPGHOME a GnuPG home holding the
recipient's secret key (needed to check an encrypted message).

Modes (--expect):
  encrypted  (default) STORED must be the PGP/MIME (RFC 3156) form of
             ORIGINAL made by vnd.x.encrypt, see below.
  unchanged  STORED must equal ORIGINAL (--expect-unchanged), and ORIGINAL
             must be a message the plugin leaves alone because it is
             encrypted already.
  plain      STORED must equal ORIGINAL (--expect-plain): a user without
             a keyring, or a failed encryption.
  auto       decide from STORED: if it equals ORIGINAL, ORIGINAL must be
             encrypted already; otherwise it must be the encrypted form
             (and ORIGINAL must not be encrypted already).

What "the encrypted form" is, computed here independently of the plugin:
 - The original is split by raw lines: a field starts at a line that does
   not start with SP/HT, the header ends at the first empty line (LF or
   CRLF); without one the whole message is header. A leading mbox
   "From " line is dropped first (dovecot-lda takes it as envelope), unless
   --keep-from-line. A field goes into the encrypted entity ("inner")
   when its name (the text before ':', without trailing LWSP) starts with
   "Content-", in any case, or when it is malformed: no ':', a name that
   is empty, longer than 1000 bytes or has a byte outside 33..126, or a
   bare CR (not before LF) or a NUL anywhere in the field. Where such a
   field ends is a guess (a message with CR-only line ends is one long
   field), so it must not stay in clear.
 - Outer header: the original's fields that are not inner, in order
   (a last field without a newline gets one), then "MIME-Version: 1.0" if
   the original had no MIME-Version field, then
     Content-Type: multipart/encrypted;
      protocol="application/pgp-encrypted";
      boundary="..."
 - Body: RFC 3156 multipart/encrypted with exactly two parts, the first
   application/pgp-encrypted containing "Version: 1", the second
   application/octet-stream holding an ASCII-armored OpenPGP message.
 - The decrypted payload is byte for byte: the original's inner fields
   (raw, folded, in original order) + the header/body separator line as it
   was (a newline if there was none) + the original body.

Encrypted already (stored unchanged), by the first parseable
Content-Type (and Content-Transfer-Encoding) field of the top level, as
the plugin sees them: multipart/encrypted; application/(x-)pkcs7-mime with
smime-type enveloped-data or authEnveloped-data or none; a text/plain (or
untyped) body that, decoded from base64/quoted-printable, starts with
"-----BEGIN PGP MESSAGE-----" after white space. Where the plugin's answer
depends on its stream buffering (marker after 4 KB of white space, invalid
encoded data after the marker), either outcome is accepted and said so.

Line ends in the Maildir: Dovecot (mail_save_crlf = no, the default)
stores every CRLF of the delivered message as LF; a lone CR stays as it is,
and CR CR LF becomes CR LF (the CRLF is replaced, the first CR stays).
Other bytes are stored as given. So STORED is compared with the expected
bytes after replacing every CRLF by LF (crlf_to_lf() below); the decrypted
payload was encrypted before Dovecot saved anything and is compared exactly.

--trace-fields NAMES (comma-separated, --lmtp adds Return-Path,
Delivered-To and Received): header fields of these names that the delivery
prepends (LMTP does) are skipped at the top of STORED.

--plugin-sizes PLAIN,TOTAL: the two sizes from the plugin's log line
"encrypted message to key ... (PLAIN -> TOTAL bytes, ...)". PLAIN must be
the payload size; TOTAL the size of the message the plugin produced, with
the line ends it should have written (CRLF when the original's first line
ends in CRLF, else LF). Trace fields count too (LMTP adds them before Sieve
runs), assumed to have the original's line ends (LMTP: CRLF).

Output: one line. "ok: encrypted ..." / "ok: unchanged ..." / "ok: plain"
and exit 0, or "mismatch: <reason>" and exit 1 (2 for usage or system
errors). Message contents are never printed beyond a short hex snippet at
the first differing offset. With --batch FILE, each line of FILE is
"ORIGINAL<TAB>STORED[<TAB>MODE[<TAB>PLAIN,TOTAL]]" (MODE defaults to
--expect, the sizes to --plugin-sizes); one result line "<ORIGINAL>:
<result>" is printed per entry; exit 1 if any failed.
"""

import argparse
import base64
import binascii
import re
import subprocess
import sys

PGP_BEGIN = b"-----BEGIN PGP MESSAGE-----"
PGP_END = b"-----END PGP MESSAGE-----"
LMTP_TRACE_FIELDS = ("return-path", "delivered-to", "received")

# Skip limit for white space before an inline PGP marker, as in the plugin
# (SIEVE_ENCRYPT_MIME_MAX_LEADING_SPACE). The plugin checks the limit per
# chunk it reads, so past this offset the outcome depends on buffer sizes:
# a marker found at or after it is "ambiguous" (either outcome accepted).
MAX_LEADING_SPACE = 4096
AMBIGUOUS_SPACE_END = MAX_LEADING_SPACE + 65536


class Mismatch(Exception):
    pass


# ---------------------------------------------------------------------------
# Small helpers

def crlf_to_lf(data):
    """What Dovecot's Maildir save does to line ends (see module doc)."""
    return data.replace(b"\r\n", b"\n")


def snippet(data, offset, before=4, after=12):
    start = max(0, offset - before)
    return data[start:offset + after].hex()


def first_diff(a, b):
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n if len(a) != len(b) else -1


def compare(what, got, expected):
    """Raise Mismatch describing the first difference of got/expected."""
    if got == expected:
        return
    off = first_diff(got, expected)
    raise Mismatch("%s differs at offset %d (got %d bytes, expected %d; "
                   "got hex %s, expected hex %s)"
                   % (what, off, len(got), len(expected),
                      snippet(got, off), snippet(expected, off)))


def split_lines(data):
    """Raw lines, each with its LF; the last one may lack it."""
    lines = data.split(b"\n")
    out = [l + b"\n" for l in lines[:-1]]
    if lines[-1]:
        out.append(lines[-1])
    return out


def line_content(line):
    """A line without its newline (LF or CRLF)."""
    if line.endswith(b"\r\n"):
        return line[:-2]
    if line.endswith(b"\n"):
        return line[:-1]
    return line


class Message:
    """A message split into raw header fields, separator and body."""

    def __init__(self, data):
        self.data = data
        self.fields = []        # raw bytes of each field, folding included
        self.separator = None   # the empty line ending the header, or None
        self.body = b""
        pos = 0
        for line in split_lines(data):
            if line.endswith(b"\n") and line_content(line) == b"":
                self.separator = line
                pos += len(line)
                break
            if line[:1] in (b" ", b"\t") and self.fields:
                self.fields[-1] += line
            else:
                self.fields.append(line)
            pos += len(line)
        self.body = data[pos:]
        # Like Dovecot: CRLF mode when the first line ends in CRLF
        first = split_lines(data)[:1]
        self.crlf = bool(first) and first[0].endswith(b"\r\n")
        self.newline = b"\r\n" if self.crlf else b"\n"

    @staticmethod
    def field_name(field):
        """The name: up to ':' without trailing LWSP; empty for a line
        without ':' (not a header field: it goes into the entity)."""
        first = line_content(split_lines(field)[0])
        colon = first.find(b":")
        if colon < 0:
            return b""
        return first[:colon].rstrip(b" \t")

    @staticmethod
    def field_value(field):
        colon = field.find(b":")
        if colon < 0:
            return b""
        return line_content(field[colon + 1:]) if field.endswith(b"\n") \
            else field[colon + 1:]

    @staticmethod
    def is_malformed(field, name):
        if not name or len(name) > 1000 or \
                any(c < 33 or c > 126 for c in name):
            return True
        if b"\0" in field:
            return True
        # a CR that does not end a line
        return re.search(rb"\r(?!\n)", field) is not None

    @classmethod
    def is_content(cls, field):
        """True for a field that goes into the encrypted entity."""
        name = cls.field_name(field)
        return name[:8].lower() == b"content-" or \
            cls.is_malformed(field, name)

    def content_fields(self):
        return [f for f in self.fields if self.is_content(f)]

    def other_fields(self):
        return [f for f in self.fields if not self.is_content(f)]

    def has_field(self, name):
        name = name.lower().encode()
        return any(self.field_name(f).lower() == name for f in self.fields)

    def values(self, name):
        name = name.lower().encode()
        return [self.field_value(f) for f in self.fields
                if self.field_name(f).lower() == name]


# ---------------------------------------------------------------------------
# MIME value parsing, following Dovecot's rfc822-parser rules closely enough
# to tell the same content type, smime-type and transfer encoding.

def _atext_class(c):
    if c >= 128:
        return 2
    ch = chr(c)
    if ch.isalnum():
        return 2
    if ch in "!#$%&'*+-^_`{|}~":
        return 1
    if ch in "/=?":
        return 4
    return 0


ATEXT = [_atext_class(c) for c in range(256)]


class Rfc822Parser:
    def __init__(self, data):
        self.data = data
        self.pos = 0

    def at_end(self):
        return self.pos >= len(self.data)

    def cur(self):
        return self.data[self.pos]

    def skip_comment(self):
        level = 1
        self.pos += 1
        while self.pos < len(self.data):
            c = self.data[self.pos]
            if c == 0x28:
                level += 1
            elif c == 0x29:
                level -= 1
                if level == 0:
                    self.pos += 1
                    return 0 if self.at_end() else 1
            elif c == 0x5c:
                self.pos += 1
                if self.at_end():
                    return -1
            self.pos += 1
        return -1

    def skip_lwsp(self):
        while not self.at_end():
            c = self.cur()
            if c in (0x20, 0x09, 0x0d, 0x0a):
                self.pos += 1
                continue
            if c != 0x28:
                break
            if self.skip_comment() < 0:
                return -1
        return 0 if self.at_end() else 1

    def mime_token(self):
        start = self.pos
        while not self.at_end():
            c = self.cur()
            if (ATEXT[c] & 3) or c == 0x2e:
                self.pos += 1
                continue
            tok = self.data[start:self.pos]
            return tok, self.skip_lwsp()
        return self.data[start:self.pos], 0

    def quoted_string(self):
        self.pos += 1
        out = b""
        start = self.pos
        while not self.at_end():
            c = self.cur()
            if c == 0x22:
                out += self.data[start:self.pos]
                self.pos += 1
                return out, self.skip_lwsp()
            if c == 0x0a:
                seg = self.data[start:self.pos]
                if seg.endswith(b"\r"):
                    seg = seg[:-1]
                out += seg
                start = self.pos + 1
            elif c == 0x5c:
                self.pos += 1
                if self.at_end():
                    return out, -1
                out += self.data[start:self.pos - 1]
                start = self.pos
            self.pos += 1
        return out, -1

    def content_type(self):
        if self.skip_lwsp() <= 0:
            return None
        main, ret = self.mime_token()
        if ret <= 0 or self.cur() != 0x2f:
            return None
        self.pos += 1
        if self.skip_lwsp() <= 0:
            return None
        sub, ret = self.mime_token()
        if ret < 0:
            return None
        return (main + b"/" + sub).decode("latin-1")

    def param(self):
        """(ret, key, value) as rfc822_parse_content_param()"""
        if self.at_end():
            return 0, None, None
        if self.cur() != 0x3b:
            return -1, None, None
        self.pos += 1
        if self.skip_lwsp() <= 0:
            return -1, None, None
        key, ret = self.mime_token()
        if ret <= 0 or not key or self.cur() != 0x3d:
            return -1, None, None
        self.pos += 1
        ret = self.skip_lwsp()
        value = b""
        if ret <= 0:
            pass
        elif self.cur() == 0x22:
            value, ret = self.quoted_string()
        elif self.cur() == 0x3d:
            start = self.pos
            while not self.at_end() and self.cur() not in b"; \t\r\n":
                self.pos += 1
            value = self.data[start:self.pos]
        else:
            value, ret = self.mime_token()
        return (-1 if ret < 0 else 1), key, value

    def params(self):
        """All parameters, continuing after broken ones (rfc2231_parse)."""
        out = []
        while True:
            ret, key, value = self.param()
            if ret == 0:
                break
            if ret < 0:
                if self.at_end():
                    break
                self.pos += 1
                continue
            out.append((key.decode("latin-1").lower(), value))
        return out


def mime_info(msg):
    """(content_type, smime_type, transfer_encoding) of the top level, the
    first parseable field of each kind counting (as in the plugin)."""
    ctype = smime = cte = None
    for value in msg.values("Content-Type"):
        p = Rfc822Parser(value)
        ctype = p.content_type()
        if ctype is None:
            continue
        for key, val in p.params():
            if key == "smime-type":
                smime = val.decode("latin-1")
                break
        break
    for value in msg.values("Content-Transfer-Encoding"):
        p = Rfc822Parser(value)
        if p.skip_lwsp() < 0:
            continue
        tok, ret = p.mime_token()
        if ret >= 0 and tok:
            cte = tok.decode("latin-1")
            break
    return ctype, smime, cte


B64_CHARS = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                b"0123456789+/=")


def decode_base64_prefix(body):
    """(decoded bytes up to the first invalid character, whether there was
    one)"""
    clean = bytearray()
    invalid = False
    for c in body:
        if c in (0x20, 0x09, 0x0d, 0x0a):
            continue
        if c not in B64_CHARS:
            invalid = True
            break
        clean.append(c)
        if c == 0x3d and len(clean) % 4 == 0:
            break
    clean = bytes(clean)
    eq = clean.find(b"=")
    usable = len(clean) if eq >= 0 else len(clean) - len(clean) % 4
    try:
        return base64.b64decode(clean[:usable]), invalid
    except (binascii.Error, ValueError):
        return (base64.b64decode(clean[:eq - eq % 4]) if eq > 0 else b"",
                True)


def decode_qp(body):
    """(quoted-printable decoded up to the first invalid '=' sequence,
    whether there was one)"""
    out = bytearray()
    for line in split_lines(body):
        content = line_content(line)
        has_nl = line.endswith(b"\n")
        stripped = content.rstrip(b" \t")
        soft = stripped.endswith(b"=")
        if soft:
            stripped = stripped[:-1]
        i = 0
        while i < len(stripped):
            c = stripped[i]
            if c == 0x3d:
                hx = stripped[i + 1:i + 3]
                if len(hx) == 2 and all(ch in b"0123456789abcdefABCDEF"
                                        for ch in hx):
                    out.append(int(hx, 16))
                    i += 3
                    continue
                return bytes(out), True
            out.append(c)
            i += 1
        if has_nl and not soft:
            out += b"\n"
    return bytes(out), False


def inline_pgp_state(msg, ctype, cte):
    """True/False: does the (decoded) text body start with an armored PGP
    message after white space; None when ambiguous (see above)."""
    if ctype is not None and ctype.lower() != "text/plain":
        return False
    if msg.separator is None:
        return False
    body = msg.body
    invalid = False
    if cte is not None and cte.lower() == "base64":
        body, invalid = decode_base64_prefix(body)
    elif cte is not None and cte.lower() == "quoted-printable":
        body, invalid = decode_qp(body)
    m = re.match(rb"[ \t\r\n]*", body)
    pos = m.end()
    if pos >= len(body):
        return False
    found = body[pos:pos + len(PGP_BEGIN)] == PGP_BEGIN
    if pos >= AMBIGUOUS_SPACE_END:
        return False
    if pos >= MAX_LEADING_SPACE:
        return None if found else False
    # Invalid encoded data anywhere in the chunk the plugin's decoder reads
    # first makes its stream fail before the marker is seen, so its result
    # depends on where the bad data is: accept either outcome.
    if found and invalid:
        return None
    return found


def printable(text):
    """A header token fit for a one-line diagnostic: short, printable."""
    if text is None:
        return None
    return re.sub(r"[^\x21-\x7e]", "?", text)[:60]


def encrypted_already(msg):
    """(state, reason): state True/False/None (ambiguous)."""
    ctype, smime, cte = (printable(v) for v in mime_info(msg))
    if ctype is not None:
        lc = ctype.lower()
        if lc == "multipart/encrypted":
            return True, "multipart/encrypted"
        if lc in ("application/pkcs7-mime", "application/x-pkcs7-mime"):
            if smime is None or smime.lower() in ("enveloped-data",
                                                  "authenveloped-data"):
                return True, "%s smime-type=%s" % (lc, smime)
    state = inline_pgp_state(msg, ctype, cte)
    if state is None:
        return None, "inline PGP, but after long white space or with " \
            "invalid %s data" % cte
    if state:
        return True, "inline PGP in %s" % (ctype or "untyped body")
    return False, "not encrypted (%s)" % (ctype or "no Content-Type")


# ---------------------------------------------------------------------------
# Expected results

def last_field_unterminated(orig, content):
    """True when the header's last field is of the given kind (Content-*
    or not) and lacks its newline: the plugin adds one there."""
    return bool(orig.fields) and \
        orig.is_content(orig.fields[-1]) == content and \
        not orig.fields[-1].endswith(b"\n")


def expected_entity(orig):
    """The payload the plugin must encrypt."""
    out = b"".join(orig.content_fields())
    if last_field_unterminated(orig, True):
        out += orig.newline
    out += orig.separator if orig.separator is not None else orig.newline
    out += orig.body
    return out


def expected_outer(orig):
    """The original's non-Content-* fields as the plugin writes them."""
    out = b"".join(orig.other_fields())
    if last_field_unterminated(orig, False):
        out += orig.newline
    return out


def leading_trace(data, trace_fields):
    """Sizes of the fields at the top of data whose names are in
    trace_fields."""
    sizes = []
    lines = split_lines(data)
    i = 0
    while i < len(lines) and lines[i][:1] not in (b" ", b"\t"):
        name = Message.field_name(lines[i]).lower().decode("latin-1")
        if name not in trace_fields:
            break
        size = len(lines[i])
        i += 1
        while i < len(lines) and lines[i][:1] in (b" ", b"\t"):
            size += len(lines[i])
            i += 1
        sizes.append(size)
    return sizes


def strip_trace(stored, trace_fields, original):
    """Remove the trace fields the delivery prepended: as many of the
    leading trace-named fields of stored as the original did not have
    (an original may start with a Return-Path of its own). Returns
    (rest, count)."""
    if not trace_fields:
        return stored, 0
    have = leading_trace(stored, trace_fields)
    count = len(have) - len(leading_trace(original, trace_fields))
    if count < 0:
        raise Mismatch("stored message lacks the original's leading "
                       "%s fields" % "/".join(sorted(trace_fields)))
    return stored[sum(have[:count]):], count


CT_RE = re.compile(
    rb'Content-Type: multipart/encrypted;\n'
    rb' protocol="application/pgp-encrypted";\n'
    rb' boundary="([^"\n]{1,70})"\n$')


def parse_parts(body, boundary):
    """Split a multipart body (LF line ends); returns (preamble, parts,
    epilogue) with raw part bytes (without the delimiter lines' LF)."""
    delim = b"--" + boundary
    lines = split_lines(body)
    parts = []
    current = None          # lines of the current part (joined at the end)
    preamble = []
    closed = False
    epilogue = []
    for line in lines:
        content = line_content(line)
        if closed:
            epilogue.append(line)
            continue
        stripped = content.rstrip(b" \t")
        if stripped == delim + b"--":
            if current is None:
                raise Mismatch("closing delimiter before any part")
            parts.append(b"".join(current))
            closed = True
            continue
        if stripped == delim:
            if current is not None:
                parts.append(b"".join(current))
            current = []
            continue
        if current is None:
            preamble.append(line)
        else:
            current.append(line)
    preamble, epilogue = b"".join(preamble), b"".join(epilogue)
    if not closed:
        raise Mismatch("multipart body has no closing delimiter")
    # The line end before a delimiter belongs to the delimiter
    parts = [p[:-1] if p.endswith(b"\n") else p for p in parts]
    return preamble, parts, epilogue


def part_type(part):
    msg = Message(part)
    ctype, _, _ = mime_info(msg)
    return msg, (ctype or "").lower()


def gpg_decrypt(gnupghome, armored):
    if gnupghome is None:
        raise Mismatch("no GnuPG home given to decrypt with")
    cmd = ["gpg", "--homedir", gnupghome, "--batch", "--no-tty", "--quiet",
           "--status-fd", "2", "--no-auto-key-retrieve", "--decrypt"]
    try:
        proc = subprocess.run(cmd, input=armored, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise SystemError("running gpg failed: %s" % e)
    status = proc.stderr.decode("utf-8", "replace")
    if proc.returncode != 0 or "[GNUPG:] DECRYPTION_OKAY" not in status:
        reason = [l for l in status.splitlines()
                  if l.startswith("[GNUPG:] ") and
                  ("FAIL" in l or "NO_SECKEY" in l or "ERROR" in l)]
        raise Mismatch("gpg --decrypt failed (exit %d%s)"
                       % (proc.returncode,
                          ": " + "; ".join(r[9:] for r in reason[:3])
                          if reason else ""))
    keys = re.findall(r"^\[GNUPG:\] ENC_TO ([0-9A-F]+)", status, re.M)
    return proc.stdout, keys


def check_encrypted(orig, stored, gnupghome, trace_fields, sizes):
    body_stored, ntrace = strip_trace(stored, trace_fields, orig.data)

    # (a) outer header: the original's other fields, then ours
    raw_outer = expected_outer(orig)
    exp_outer = crlf_to_lf(raw_outer)
    compare("outer header (after %d trace fields)" % ntrace,
            body_stored[:len(exp_outer)], exp_outer)
    st = Message(body_stored[len(exp_outer):])
    if st.separator is None:
        raise Mismatch("stored message has no header/body separator")
    got = st.fields
    extra = 1 if orig.has_field("MIME-Version") else 2
    if len(got) != extra:
        raise Mismatch("stored header has %d fields after the original "
                       "ones, expected %d" % (len(got), extra))
    if extra == 2:
        compare("added MIME-Version field", got[0], b"MIME-Version: 1.0\n")
    m = CT_RE.match(got[-1])
    if not m:
        raise Mismatch("outer Content-Type is not the 3-line "
                       "multipart/encrypted form (hex %s)"
                       % got[-1][:48].hex())
    boundary = m.group(1)
    if st.separator != b"\n":
        raise Mismatch("outer header separator is not a bare LF")

    # (b) RFC 3156 structure
    generated = st.data
    if b"\r" in generated:
        off = generated.find(b"\r")
        raise Mismatch("CR in the generated MIME structure at offset %d "
                       "(hex %s)" % (off, snippet(generated, off)))
    preamble, parts, epilogue = parse_parts(st.body, boundary)
    if len(parts) != 2:
        raise Mismatch("multipart/encrypted has %d parts, expected 2"
                       % len(parts))
    if epilogue.strip(b" \t\n"):
        raise Mismatch("data after the closing delimiter")
    p1, t1 = part_type(parts[0])
    if t1 != "application/pgp-encrypted":
        raise Mismatch("part 1 is %r, expected application/pgp-encrypted"
                       % t1)
    if p1.body.strip(b" \t\r\n") != b"Version: 1":
        raise Mismatch("part 1 body is not 'Version: 1'")
    p2, t2 = part_type(parts[1])
    if t2 != "application/octet-stream":
        raise Mismatch("part 2 is %r, expected application/octet-stream"
                       % t2)
    armored = p2.body.strip(b" \t\r\n")
    if not armored.startswith(PGP_BEGIN) or not armored.endswith(PGP_END):
        raise Mismatch("part 2 is not an ASCII-armored PGP message")

    # (c) decrypt and compare with the expected entity
    entity = expected_entity(orig)
    plain, keys = gpg_decrypt(gnupghome, armored + b"\n")
    compare("decrypted payload", plain, entity)

    if sizes is not None:
        plain_size, total_size = sizes
        if plain_size != len(entity):
            raise Mismatch("plugin logged %d plaintext bytes, expected %d"
                           % (plain_size, len(entity)))
        # Trace fields were part of what the plugin read (LMTP adds them
        # before Sieve runs), with the message's line ends
        trace = stored[:len(stored) - len(body_stored)]
        gen_size = len(trace) + len(generated)
        if orig.crlf:
            gen_size += trace.count(b"\n") + generated.count(b"\n")
        if total_size != len(raw_outer) + gen_size:
            raise Mismatch("plugin logged %d bytes of output, expected "
                           "%d (%s line ends)"
                           % (total_size, len(raw_outer) + gen_size,
                              "CRLF" if orig.crlf else "LF"))
    return "encrypted to %s, %d bytes payload" % (",".join(keys) or "?",
                                                  len(plain))


def check_same(orig, stored, trace_fields):
    rest, _ = strip_trace(stored, trace_fields, orig.data)
    compare("stored message", rest, crlf_to_lf(orig.data))


def verify(original, stored, gnupghome, mode, trace_fields, keep_from,
           sizes):
    """Returns the "ok: ..." text or raises Mismatch."""
    if not keep_from and original.startswith(b"From "):
        nl = original.find(b"\n")
        original = original[nl + 1:] if nl >= 0 else b""
    orig = Message(original)

    if mode == "plain":
        check_same(orig, stored, trace_fields)
        return "plain"

    state, reason = encrypted_already(orig)
    if mode == "auto":
        rest, _ = strip_trace(stored, trace_fields, orig.data)
        mode = "unchanged" if rest == crlf_to_lf(orig.data) else "encrypted"
        if state is None:
            pass
        elif state and mode == "encrypted":
            raise Mismatch("input is encrypted already (%s), but the "
                           "stored message differs from it" % reason)
    if mode == "unchanged":
        if state is False:
            raise Mismatch("stored unchanged, but the input is not an "
                           "encrypted message: %s" % reason)
        check_same(orig, stored, trace_fields)
        return "unchanged (%s)" % reason
    if state is True:
        raise Mismatch("input is encrypted already (%s): it should have "
                       "been stored unchanged" % reason)
    result = check_encrypted(orig, stored, gnupghome, trace_fields, sizes)
    if state is None:
        result += " (either outcome accepted: %s)" % reason
    return result


def read(path):
    with open(path, "rb") as f:
        return f.read()


def run_one(args, original, stored, mode, sizes):
    try:
        return True, "ok: " + verify(read(original), read(stored),
                                     args.gnupghome, mode, args.trace,
                                     args.keep_from_line, sizes)
    except Mismatch as e:
        return False, "mismatch: %s" % e


MODES = ("encrypted", "unchanged", "plain", "auto")


def parse_sizes(text):
    """"PLAIN,TOTAL" -> (PLAIN, TOTAL), or False if malformed"""
    try:
        a, b = text.split(",")
        return int(a), int(b)
    except ValueError:
        return False


def main():
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("original", nargs="?")
    ap.add_argument("stored", nargs="?")
    ap.add_argument("gnupghome", nargs="?")
    ap.add_argument("--expect", default="encrypted", choices=MODES)
    ap.add_argument("--expect-unchanged", dest="expect",
                    action="store_const", const="unchanged")
    ap.add_argument("--expect-plain", dest="expect",
                    action="store_const", const="plain")
    ap.add_argument("--homedir", dest="homedir",
                    help="GnuPG home (instead of the third argument)")
    ap.add_argument("--trace-fields", default="",
                    help="comma-separated names of prepended fields")
    ap.add_argument("--lmtp", action="store_true",
                    help="delivered by LMTP: trace fields Return-Path, "
                    "Delivered-To, Received; no mbox From line handling")
    ap.add_argument("--keep-from-line", action="store_true",
                    help="do not drop a leading mbox 'From ' line")
    ap.add_argument("--plugin-sizes", metavar="PLAIN,TOTAL",
                    help="sizes from the plugin's log line")
    ap.add_argument("--batch", metavar="FILE")
    args = ap.parse_args()

    args.gnupghome = args.homedir or args.gnupghome
    args.trace = set(n.strip().lower() for n in args.trace_fields.split(",")
                     if n.strip())
    if args.lmtp:
        args.trace |= set(LMTP_TRACE_FIELDS)
        args.keep_from_line = True
    args.sizes = None
    if args.plugin_sizes:
        args.sizes = parse_sizes(args.plugin_sizes)
        if args.sizes is False:
            ap.error("--plugin-sizes wants PLAIN,TOTAL")

    try:
        if args.batch:
            if args.original:
                # GnuPG home may be given as the only positional argument
                args.gnupghome = args.gnupghome or args.original
            failed = 0
            with open(args.batch, encoding="utf-8") as f:
                for line in f:
                    line = line.rstrip("\n")
                    if not line:
                        continue
                    cols = line.split("\t")
                    mode = cols[2] if len(cols) > 2 and cols[2] \
                        else args.expect
                    sizes = parse_sizes(cols[3]) if len(cols) > 3 and \
                        cols[3] else args.sizes
                    if mode not in MODES or sizes is False:
                        print("%s: error: bad batch line" % cols[0])
                        failed += 1
                        continue
                    ok, text = run_one(args, cols[0], cols[1], mode, sizes)
                    failed += not ok
                    print("%s: %s" % (cols[0], text), flush=True)
            return 1 if failed else 0
        if not args.original or not args.stored:
            ap.error("ORIGINAL and STORED are required")
        ok, text = run_one(args, args.original, args.stored, args.expect,
                           args.sizes)
        print(text)
        return 0 if ok else 1
    except (OSError, SystemError) as e:
        print("error: %s" % e)
        return 2


if __name__ == "__main__":
    sys.exit(main())
