# Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
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
   not start with SP/HT (except the first line), the header ends at the
   first empty line (LF or CRLF); without one the whole message is
   header. A leading mbox "From " line is dropped first (dovecot-lda takes
   it as envelope), unless --keep-from-line. Each field goes to one place:
   - inner (the encrypted entity's header), in order: an RFC 5322 field
     whose name starts with "Content-", in any case;
   - body (the start of the entity's body): any other field with a bare
     CR (not before LF) or a NUL anywhere (where it ends is a guess: a
     message with CR-only line ends is one long field);
   - none: a field whose first line is no RFC 5322 field (no ':', a
     name that is empty, longer than 1000 bytes or has a byte outside
     33..126, or white space before the ':'), unless that line starts
     with SP/HT (only the first line can: it stays outer, in place);
   - outer: all others.
 - Outer header: the outer fields, in order (a last field without a
   newline gets one), then "MIME-Version: 1.0" if no outer field is a
   MIME-Version field, then
     Content-Type: multipart/encrypted;
      protocol="application/pgp-encrypted";
      boundary="..."
   then, when the original has a blank line ending its header, the no
   field lines, verbatim and in order (else they go into the entity's
   body, as the body fields do).
 - Body: RFC 3156 multipart/encrypted with exactly two parts, the first
   application/pgp-encrypted containing "Version: 1", the second
   application/octet-stream holding an ASCII-armored OpenPGP message.
 - The decrypted payload is byte for byte: the original's inner fields
   (raw, folded, in original order) + the header/body separator line as it
   was (a newline if there was none) + the body fields (and, without a
   separator, the no-field lines), in original order + the original body.
 - With the status header field (verify(status=(NAME, VALUE))): the
   sender's fields named NAME (outer, in place or none) are left out, and
   "NAME: VALUE" is the first field of the outer header (under the trace
   fields the delivery prepends), or, when the original begins with
   SP/HT and that first field stays outer, in place, the second; the same
   in a message kept in clear. No line after it continues it.

Encrypted already (stored unchanged): decided from the content, with the
plugin's rules (doc/extensions/vnd.x.encrypt.txt), implemented here again:
a text/plain (or untyped) body that, decoded from its transfer encoding, is
one armored PGP MESSAGE of encrypted session key packets and one encrypted
data packet, and white space; application/(x-)pkcs7-mime whose decoded body
is one CMS enveloped-data or authEnveloped-data object (smime-type not
signed-data, certs-only or compressed-data); multipart/encrypted with
protocol application/pgp-encrypted in the exact RFC 3156 shape (a short
preamble, "Version: 1", the armor as above, an empty epilogue), or
multipart/mixed in the same shape with an empty text/plain part first
(PGP/MIME mixed up by Microsoft Exchange, its parts in any encoding). An
encrypted message the plugin made must count as encrypted already too
(unless its body is larger than the 64 MiB the plugin's check reads).

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
import re
import subprocess
import sys

PGP_BEGIN = b"-----BEGIN PGP MESSAGE-----"
PGP_END = b"-----END PGP MESSAGE-----"
LMTP_TRACE_FIELDS = ("return-path", "delivered-to", "received")

# The limits of the plugin's "encrypted already?" check
# (src/sieve-encrypt-check*.h, sieve-encrypt-sink.h, sieve-encrypt-cte.c)
CHECK_MAX_BODY_SIZE = 64 * 1024 * 1024
LINE_MAX = 1000
MAX_ARMOR_HEADERS = 1024
MAX_DATA_LINE = 76
MAX_PREAMBLE = 1024
MAX_PART_HEADER = 4096
QP_MAX_PADDING = 76


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
    def is_malformed(field):
        """A NUL or a CR that does not end a line"""
        return b"\0" in field or re.search(rb"\r(?!\n)", field) is not None

    @staticmethod
    def is_no_field(field):
        """The first line is no RFC 5322 field"""
        first = line_content(split_lines(field)[0])
        colon = first.find(b":")
        if colon < 0:
            return True
        name = first[:colon]
        return not name or len(name) > 1000 or \
            any(c < 33 or c > 126 for c in name)

    @classmethod
    def place(cls, field):
        """"inner", "body", "none" or "outer": see the module doc"""
        if not cls.is_no_field(field) and \
                cls.field_name(field)[:8].lower() == b"content-":
            return "inner"
        if cls.is_malformed(field):
            return "body"
        if cls.is_no_field(field):
            return "outer" if field[:1] in (b" ", b"\t") else "none"
        return "outer"

    @classmethod
    def is_content(cls, field):
        """True for a field that goes into the encrypted entity's header."""
        return cls.place(field) == "inner"

    def content_fields(self):
        return [f for f in self.fields if self.place(f) == "inner"]

    def other_fields(self):
        return [f for f in self.fields if self.place(f) == "outer"]

    def no_fields(self):
        return [f for f in self.fields if self.place(f) == "none"]

    def body_fields(self):
        """The fields at the start of the entity's body, in order"""
        places = ("body",) if self.separator is not None else \
            ("body", "none")
        return [f for f in self.fields if self.place(f) in places]

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
        if ret <= 0 or not main or self.cur() != 0x2f:
            return None
        self.pos += 1
        if self.skip_lwsp() <= 0:
            return None
        sub, ret = self.mime_token()
        # (Dovecot wants ";" or the end after the subtype)
        if ret < 0 or not sub or (not self.at_end() and self.cur() != 0x3b):
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
    """(content_type, params, transfer_encoding) of a header: the first
    parseable field of each kind counts (as in the plugin); params holds
    the first value of each parameter of that Content-Type (bytes)."""
    ctype = cte = None
    params = {}
    for value in msg.values("Content-Type"):
        p = Rfc822Parser(value)
        ctype = p.content_type()
        if ctype is None:
            continue
        for key, val in p.params():
            params.setdefault(key, val)
        break
    for value in msg.values("Content-Transfer-Encoding"):
        p = Rfc822Parser(value)
        if p.skip_lwsp() < 0:
            continue
        tok, ret = p.mime_token()
        if ret >= 0 and tok:
            cte = tok.decode("latin-1")
            break
    return ctype, params, cte


# ---------------------------------------------------------------------------
# "Encrypted already?", decided from the content as the plugin does, written
# independently of it: the stored message must be unchanged exactly when
# this says so.

class NotEncrypted(Exception):
    pass


B64_ALPHABET = (b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                b"0123456789+/")
HEX_DIGITS = b"0123456789abcdefABCDEF"


def limited_lines(data):
    """Lines with their LF; none may be longer than LINE_MAX."""
    lines = split_lines(data)
    for line in lines:
        if len(line) > LINE_MAX:
            raise NotEncrypted("a line of %d bytes" % len(line))
    return lines


def trimmed(line):
    """A line without its LF (or CRLF) and the spaces and tabs before."""
    return line_content(line).rstrip(b" \t")


def decode_base64_strict(body):
    """White space (SP, HT, CR, LF) is skipped; anything else outside the
    alphabet, misplaced padding or an incomplete group is an error."""
    text = body.translate(None, b" \t\r\n")
    m = re.fullmatch(rb"([A-Za-z0-9+/]*)(=*)", text)
    if m is None:
        raise NotEncrypted("invalid base64")
    pad = len(m.group(2))
    if pad > 2 or len(text) % 4 != 0:
        raise NotEncrypted("incomplete base64 or misplaced padding")
    return base64.b64decode(text)


def decode_qp(body):
    """RFC 2045: "=XX" is a byte, "=" before up to QP_MAX_PADDING spaces or
    tabs and the line end (or the end of the data) a soft line break; any
    other "=" stands for itself. Other white space stays."""
    out = bytearray()
    i, n = 0, len(body)
    while i < n:
        if body[i] != 0x3d:
            eq = body.find(b"=", i)
            eq = n if eq < 0 else eq
            out += body[i:eq]
            i = eq
            continue
        j = i + 1
        if j < n and body[j] in HEX_DIGITS:
            if j + 1 < n and body[j + 1] in HEX_DIGITS:
                out.append(int(body[j:j + 2], 16))
                i = j + 2
            else:
                out += body[i:j + 1]
                i = j + 1
            continue
        k = j
        while k < n and body[k] in b" \t" and k - j < QP_MAX_PADDING:
            k += 1
        if k == n:
            break
        if body[k] == 0x0a:
            i = k + 1
        elif body[k] == 0x0d and k + 1 < n and body[k + 1] == 0x0a:
            i = k + 2
        elif body[k] == 0x0d:
            out += body[i:k + 1]
            i = k + 1
        else:
            out += body[i:k]
            i = k
    return bytes(out)


def decode_transfer_encoding(body, cte):
    name = (cte or "7bit").lower()
    if name in ("7bit", "8bit", "binary"):
        return body
    if name == "base64":
        return decode_base64_strict(body)
    if name == "quoted-printable":
        return decode_qp(body)
    raise NotEncrypted("Content-Transfer-Encoding %s" % printable(cte))


def check_packets(data):
    """Marker and encrypted session key packets, then one encrypted data
    packet (tags 9, 18, 20) that ends where data ends."""
    pos = 0

    def take(count):
        nonlocal pos
        if pos + count > len(data):
            raise NotEncrypted("OpenPGP data cut short")
        pos += count
        return data[pos - count:pos]

    while True:
        if pos == len(data):
            raise NotEncrypted("no encrypted data packet")
        octet = take(1)[0]
        if not octet & 0x80:
            raise NotEncrypted("not an OpenPGP packet")
        new = bool(octet & 0x40)
        tag = octet & 0x3f if new else (octet >> 2) & 0x0f
        if tag not in (1, 3, 10, 9, 18, 20):
            raise NotEncrypted("OpenPGP packet with tag %d" % tag)
        is_data = tag in (9, 18, 20)
        if not new and octet & 3 == 3:
            if not is_data:
                raise NotEncrypted("session key of indeterminate length")
            return
        while True:
            partial = False
            if not new:
                length = int.from_bytes(take(1 << (octet & 3)), "big")
            else:
                first = take(1)[0]
                if first < 192:
                    length = first
                elif first < 224:
                    length = ((first - 192) << 8) + take(1)[0] + 192
                elif first == 255:
                    length = int.from_bytes(take(4), "big")
                elif is_data:
                    length, partial = 1 << (first & 0x1f), True
                else:
                    raise NotEncrypted("partial length of a session key")
            take(length)
            if not partial:
                break
        if is_data:
            if pos != len(data):
                raise NotEncrypted("data after the encrypted data packet")
            return


def check_armor(data):
    """One armored PGP MESSAGE and white space."""
    state = "before"
    headers = 0
    chars = bytearray()
    for line in limited_lines(data):
        text = trimmed(line)
        if state == "before":
            if text:
                if text != PGP_BEGIN:
                    raise NotEncrypted("text before the armor")
                state = "headers"
        elif state == "headers":
            if not text:
                state = "first"
                continue
            headers += len(line)
            if headers > MAX_ARMOR_HEADERS or not re.fullmatch(
                    rb"(Version|Comment|MessageID|Hash|Charset):( .*)?",
                    text, re.S):
                raise NotEncrypted("armor header")
        elif state in ("data", "checksum") and text == PGP_END:
            check_packets(decode_base64_strict(bytes(chars)))
            state = "after"
        elif state == "data" and text.startswith(b"="):
            if not re.fullmatch(rb"=[A-Za-z0-9+/]{4}", text):
                raise NotEncrypted("armor checksum line")
            state = "checksum"
        elif state in ("first", "data"):
            if not 0 < len(text) <= MAX_DATA_LINE or \
                    not re.fullmatch(rb"[A-Za-z0-9+/]*=*", text):
                raise NotEncrypted("armor data line")
            chars += text
            state = "data"
        elif state == "checksum":
            raise NotEncrypted("no tail line after the checksum")
        elif text:
            raise NotEncrypted("text after the armor")
    if state != "after":
        raise NotEncrypted("incomplete armor")


def check_cms(data):
    """One BER ContentInfo of enveloped-data or authEnveloped-data."""
    pos = 0

    def take(count):
        nonlocal pos
        if pos + count > len(data):
            raise NotEncrypted("CMS data cut short")
        pos += count
        return data[pos - count:pos]

    def element():
        """(first identifier octet, length or None if indefinite)"""
        octet = take(1)[0]
        if octet & 0x1f == 0x1f:
            for _ in range(3):
                if not take(1)[0] & 0x80:
                    break
            else:
                raise NotEncrypted("BER tag too long")
        first = take(1)[0]
        if first == 0x80:
            if octet == 0 or not octet & 0x20:
                raise NotEncrypted("indefinite length of a primitive")
            return octet, None
        if first < 0x80:
            return octet, first
        if first - 0x80 > 4:
            raise NotEncrypted("BER length too long")
        return octet, int.from_bytes(take(first - 0x80), "big")

    tag, length = element()
    if tag != 0x30:
        raise NotEncrypted("not a CMS ContentInfo")
    start = pos
    tag, oid_length = element()
    if tag != 0x06 or oid_length is None:
        raise NotEncrypted("no contentType")
    oid = take(oid_length)
    if oid not in (bytes.fromhex("2a864886f70d010703"),
                   bytes.fromhex("2a864886f70d0109100117")):
        raise NotEncrypted("CMS content type %s" % oid.hex())
    if length is not None:
        if pos - start > length or start + length != len(data):
            raise NotEncrypted("CMS length %d for %d bytes"
                               % (length, len(data) - start))
        return
    depth = 1
    while depth > 0:
        tag, length = element()
        if length is None:
            depth += 1
        elif tag == 0:
            if length != 0:
                raise NotEncrypted("end-of-contents with a length")
            depth -= 1
        else:
            take(length)
    if pos != len(data):
        raise NotEncrypted("data after the CMS ContentInfo")


def check_version_part(data):
    lines = [trimmed(l) for l in limited_lines(data)]
    if sorted(l for l in lines if l) != [b"Version: 1"]:
        raise NotEncrypted("the first part is not \"Version: 1\"")


def check_empty_part(data):
    if any(trimmed(l) for l in limited_lines(data)):
        raise NotEncrypted("the first part is not empty")


# The body parts of PGP/MIME (RFC 3156), and of the multipart/mixed form
# that Microsoft Exchange makes of it (an empty text/plain part first):
# content type, and the check of the decoded content
PGPMIME_PARTS = (("application/pgp-encrypted", check_version_part),
                 ("application/octet-stream", check_armor))
MIXED_UP_PARTS = (("text/plain", check_empty_part),) + PGPMIME_PARTS


def check_pgpmime_part(want, number, header, content):
    ctype, _, cte = mime_info(Message(header))
    if (ctype or "").lower() != want[number - 1][0]:
        raise NotEncrypted("part %d is %s" % (number, printable(ctype)))
    want[number - 1][1](decode_transfer_encoding(content, cte))


def check_pgpmime(body, boundary, want=PGPMIME_PARTS):
    """The RFC 3156 shape (or the parts in want) with exact delimiter
    lines."""
    state, number, preamble = "preamble", 0, 0
    header, content = b"", []
    for line in limited_lines(body):
        text = trimmed(line)
        delimiter = text == b"--" + boundary
        close = text == b"--" + boundary + b"--"
        if state == "preamble":
            if close:
                raise NotEncrypted("close delimiter first")
            if not delimiter:
                preamble += len(line)
                if preamble > MAX_PREAMBLE:
                    raise NotEncrypted("preamble of %d bytes" % preamble)
                continue
        elif state == "header":
            if delimiter or close:
                raise NotEncrypted("delimiter in a part header")
            header += line
            if len(header) > MAX_PART_HEADER:
                raise NotEncrypted("part header of %d bytes" % len(header))
            if line_content(line) == b"":
                state = "content"
            continue
        elif state == "content":
            if not delimiter and not close:
                content.append(line)
                continue
            check_pgpmime_part(want, number, header, b"".join(content))
            if (number, close) == (len(want), True):
                state = "epilogue"
                continue
            if number >= len(want) or not delimiter:
                raise NotEncrypted("not exactly %d parts" % len(want))
        else:
            if text:
                raise NotEncrypted("text after the close delimiter")
            continue
        number += 1
        state, header, content = "header", b"", []
    if state != "epilogue":
        raise NotEncrypted("no close delimiter")


def printable(text):
    """A header token fit for a one-line diagnostic: short, printable."""
    if text is None:
        return None
    if isinstance(text, bytes):
        text = text.decode("latin-1")
    return re.sub(r"[^\x21-\x7e]", "?", text)[:60]


def encrypted_already(msg):
    """(True/False, reason)"""
    ctype, params, cte = mime_info(msg)
    lc = (ctype or "text/plain").lower()
    smime = params.get("smime-type", b"").decode("latin-1").lower()
    try:
        if len(msg.body) > CHECK_MAX_BODY_SIZE:
            raise NotEncrypted("body larger than the check reads")
        if lc == "multipart/encrypted":
            if (cte or "7bit").lower() not in ("7bit", "8bit", "binary"):
                raise NotEncrypted("multipart with %s" % printable(cte))
            if params.get("protocol", b"").lower() != \
                    b"application/pgp-encrypted":
                raise NotEncrypted("protocol %s"
                                   % printable(params.get("protocol")))
            if not params.get("boundary"):
                raise NotEncrypted("no boundary")
            check_pgpmime(msg.body, params["boundary"])
        elif lc == "multipart/mixed":
            # PGP/MIME that Microsoft Exchange mixed up
            if (cte or "7bit").lower() not in ("7bit", "8bit", "binary"):
                raise NotEncrypted("multipart with %s" % printable(cte))
            if not params.get("boundary"):
                raise NotEncrypted("no boundary")
            check_pgpmime(msg.body, params["boundary"], MIXED_UP_PARTS)
        elif lc in ("application/pkcs7-mime", "application/x-pkcs7-mime"):
            if smime in ("signed-data", "certs-only", "compressed-data"):
                raise NotEncrypted("smime-type %s" % smime)
            check_cms(decode_transfer_encoding(msg.body, cte))
        elif lc == "text/plain":
            check_armor(decode_transfer_encoding(msg.body, cte))
        else:
            raise NotEncrypted("not a type that can be encrypted")
    except NotEncrypted as e:
        return False, "not encrypted (%s: %s)" % (printable(lc), e)
    return True, "%s, encrypted" % printable(lc)


# ---------------------------------------------------------------------------
# Expected results

def last_field_unterminated(orig, place):
    """True when the header's last field goes to PLACE and lacks its
    newline: the plugin adds one there."""
    return bool(orig.fields) and \
        orig.place(orig.fields[-1]) == place and \
        not orig.fields[-1].endswith(b"\n")


def expected_entity(orig):
    """The payload the plugin must encrypt."""
    out = b"".join(orig.content_fields())
    if last_field_unterminated(orig, "inner"):
        out += orig.newline
    out += orig.separator if orig.separator is not None else orig.newline
    out += b"".join(orig.body_fields())
    out += orig.body
    return out


def expected_outer(orig):
    """The original's outer fields as the plugin writes them."""
    out = b"".join(orig.other_fields())
    if last_field_unterminated(orig, "outer"):
        out += orig.newline
    return out


def expected_late(orig):
    """What the plugin writes after its Content-Type: the no-field lines
    when the header ends with a blank line"""
    if orig.separator is None:
        return b""
    return b"".join(orig.no_fields())


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
    late = expected_late(orig)
    nlate = len(orig.no_fields()) if late else 0
    got = st.fields
    extra = 1 if any(orig.place(f) == "outer" and
                     orig.field_name(f).lower() == b"mime-version"
                     for f in orig.fields) else 2
    if len(got) != extra + nlate:
        raise Mismatch("stored header has %d fields after the original "
                       "ones, expected %d" % (len(got), extra + nlate))
    compare("no-field lines after the Content-Type",
            b"".join(got[extra:]), crlf_to_lf(late))
    got = got[:extra]
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

    # (c) a second encrypt would leave it alone (unless it is larger than
    # the plugin's check reads)
    again = Message(body_stored)
    state, reason = encrypted_already(again)
    if not state and len(again.body) <= CHECK_MAX_BODY_SIZE:
        raise Mismatch("the stored message does not count as encrypted "
                       "already: %s" % reason)

    # (d) decrypt and compare with the expected entity
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
        ours = generated.replace(crlf_to_lf(late), b"", 1)
        gen_size = len(trace) + len(ours) + len(late)
        if orig.crlf:
            gen_size += trace.count(b"\n") + ours.count(b"\n")
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


def without_fields(data, name):
    """data without its header fields of the given name (any case, white
    space before the colon or not), as the plugin parses them: left out of
    the outer header (in place or after the Content-Type) and of a message
    kept in clear; not one that goes into the encrypted entity (see
    status_goes_inside())"""
    msg = Message(data)
    name = name.lower().encode()
    kept = [f for f in msg.fields if Message.field_name(f).lower() != name]
    return b"".join(kept) + (msg.separator or b"") + msg.body


def status_goes_inside(data, name):
    """True when data has a field of that name that goes into the
    encrypted entity like any other of its place: a malformed one (place
    "body"), or one that is no field in a message without a blank line"""
    name = name.lower().encode()
    msg = Message(data)
    inside = ("body",) if msg.separator is not None else ("body", "none")
    return any(Message.field_name(f).lower() == name and
               Message.place(f) in inside for f in msg.fields)


def split_status(original, stored, trace_fields, status):
    """The status field the plugin adds (doc/extensions/vnd.x.encrypt.txt,
    "Status header field"): "<name>: <value>" as the first field of the
    message that the plugin saw, so at the very top of STORED, or below
    the trace fields that the delivery prepends when it stores (what
    dovecot-lda adds); below the original's first field when the original
    begins with white space (in clear, and when encrypted if that field
    stays in the outer header, in place: see Message.place()); never
    followed by a line that continues it.
    Returns (original, stored) without the field and
    without the sender's fields of that name, for the comparisons of
    verify(); raises Mismatch if the field is not there."""
    name, value = status
    line = ("%s: %s\n" % (name, value)).encode()
    original = without_fields(original, name)
    places = [0]
    if not stored.startswith(line):
        rest, _ = strip_trace(stored, trace_fields, original)
        places.append(len(stored) - len(rest))
        if original[:1] in (b" ", b"\t"):
            # a message that begins with white space: below its first
            # field
            first = Message(original).fields[0]
            places.append(places[-1] + len(crlf_to_lf(first)))
    for at in places:
        if stored[at:at + len(line)] == line:
            after = stored[at + len(line):at + len(line) + 1]
            if after in (b" ", b"\t"):
                raise Mismatch("the line after the %s field continues it"
                               % name)
            return original, stored[:at] + stored[at + len(line):]
    raise Mismatch("no %r field at the top of the stored header"
                   % line.decode())


def verify(original, stored, gnupghome, mode, trace_fields, keep_from,
           sizes, status=None):
    """Returns the "ok: ..." text or raises Mismatch. status: None, or
    (name, value) of the status header field the plugin must have added
    (sieve_encrypt_status_header)."""
    if not keep_from and original.startswith(b"From "):
        nl = original.find(b"\n")
        original = original[nl + 1:] if nl >= 0 else b""
    if status is not None:
        if mode != "plain" and status_goes_inside(original, status[0]):
            raise SystemError("a field named %s that goes into the "
                              "entity: not covered" % status[0])
        original, stored = split_status(original, stored, trace_fields,
                                        status)
        # the plugin's size line counts the field
        if sizes is not None:
            sizes = (sizes[0], sizes[1] - len(
                ("%s: %s\n" % status).encode()) - (1 if Message(
                    original).crlf else 0))
    orig = Message(original)

    if mode == "plain":
        check_same(orig, stored, trace_fields)
        return "plain"

    state, reason = encrypted_already(orig)
    if mode == "auto":
        rest, _ = strip_trace(stored, trace_fields, orig.data)
        mode = "unchanged" if rest == crlf_to_lf(orig.data) else "encrypted"
        if state and mode == "encrypted":
            raise Mismatch("input is encrypted already (%s), but the "
                           "stored message differs from it" % reason)
    if mode == "unchanged":
        if not state:
            raise Mismatch("stored unchanged, but the input is not an "
                           "encrypted message: %s" % reason)
        check_same(orig, stored, trace_fields)
        return "unchanged (%s)" % reason
    if state:
        raise Mismatch("input is encrypted already (%s): it should have "
                       "been stored unchanged" % reason)
    return "%s; input %s" % (
        check_encrypted(orig, stored, gnupghome, trace_fields, sizes),
        reason)


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
