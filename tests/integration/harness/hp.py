# Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
"""Header protection (RFC 9788) of what `encrypt` stored: checks of the
decrypted payload that do not depend on how the plugin builds it.

- strip(): the payload without what header protection added (the fields
  on top of its header: copies, HP-Outer, the Content-Type of an entity
  that had none; the parameters in each Content-Type value, with what
  closes a value without type/subtype); it must be the entity that the
  plugin encrypts without protection.
- check_rules(): RFC 9788's rules, read from the payload as a reader
  reads it: the Content-Type of the Cryptographic Payload says
  hp="cipher" (section 2.1.1) and protected-headers="v1" (the older
  convention, which notmuch, Thunderbird and K-9 read), through Python's
  email parser; the payload's user-facing fields are the original's
  (what its outer header showed, byte for byte); the HP-Outer fields
  (section 2.2) say exactly what the stored outer header shows of them;
  the fields that differ between the two (what a reader would call
  confidential, section 4.3) are the Subject with hide-subject and none
  without; the outer header carries no HP-Outer field and no hp
  parameter.

Raises pgpmime.Mismatch."""

import email.parser
import email.policy
import re

from harness.pgpmime import (Message, Mismatch, PROTECTED_FIELDS,
                             HIDDEN_SUBJECT, obsolete_colon, protected_copy,
                             shown_protected)

# What the plugin inserts into a Content-Type value: after the
# type/subtype ";" and the parameters, folded; or, at the end of a value
# without type/subtype, before them what closes an escape, a quoted
# string and comments left open, and ";" (or a type for an empty value)
INSERT_RE = re.compile(rb'^;(\r?\n) hp="cipher";\1 protected-headers="v1"$')
SUFFIX_RE = re.compile(rb'^ ?"?\)*(?: text/plain; charset=us-ascii;|;)?'
                       rb'(\r?\n) hp="cipher";\1 protected-headers="v1"$')
DEFAULT_CT_RE = re.compile(rb'^Content-Type: text/plain; charset=us-ascii;'
                           rb'(\r?\n) hp="cipher";\1 protected-headers="v1"'
                           rb'\1$')


def name_of(field):
    return Message.field_name(field).lower()


def unfold(value):
    """A field value as readers compare it: unfolded, outer white space
    off"""
    return re.sub(rb"\r?\n(?=[ \t])", b"", value).strip(b" \t\r\n")


def value_end(field):
    return len(field) - (2 if field.endswith(b"\r\n") else
                         1 if field.endswith(b"\n") else 0)


def inserted_once(got, want):
    """True when GOT is WANT with the plugin's insertion: the parameters
    inside the value, or the suffix at its end"""
    extra = len(got) - len(want)
    if extra <= 0:
        return False
    end = value_end(want)
    for at in range(want.find(b":") + 1, end + 1):
        if got[:at] != want[:at] or got[at + extra:] != want[at:]:
            continue
        inserted = got[at:at + extra]
        if INSERT_RE.match(inserted) or \
                (at == end and SUFFIX_RE.match(inserted)):
            return True
    return False


def strip(plain, unprotected):
    """See the module doc: returns PLAIN without the fields on top of its
    header and the insertions at the end of the Content-Type values that
    UNPROTECTED (the entity without protection) has; raises Mismatch when
    PLAIN differs from UNPROTECTED in anything else"""
    msg, ent = Message(plain), Message(unprotected)
    if msg.separator is None:
        raise Mismatch("the payload has no blank line after its header")
    count = len(msg.fields) - len(ent.fields)
    if count < 0:
        raise Mismatch("the payload has fewer fields than the entity")
    top, rest = msg.fields[:count], msg.fields[count:]
    for f in top:
        if name_of(f) not in PROTECTED_FIELDS + (b"hp-outer",) and \
                not DEFAULT_CT_RE.match(f):
            raise Mismatch("added field %r" % f[:60])
    out = []
    for got, want in zip(rest, ent.fields):
        if name_of(want) == b"content-type" and got != want:
            if not inserted_once(got, want):
                raise Mismatch("Content-Type %r is not %r with the "
                               "parameters" % (got[:80], want[:80]))
            got = want
        out.append(got)
    return b"".join(out) + msg.separator + msg.body


def outer_shown(stored):
    """The user-facing fields that the stored outer header shows: fields,
    and lines in obsolete syntax ("Name :")"""
    out = []
    for f in Message(stored).fields:
        if name_of(f) not in PROTECTED_FIELDS:
            continue
        if not Message.is_no_field(f) or obsolete_colon(f) >= 0:
            out.append(f)
    return out


def field_pair(field):
    """(name in lower case, unfolded value) of a field (also one in
    obsolete syntax)"""
    colon = field.find(b":")
    return field[:colon].rstrip(b" \t").lower(), unfold(field[colon + 1:])


def check_rules(plain, stored, original, hide_subject):
    """See the module doc. ORIGINAL: the message as delivered (without a
    leading mbox From line), STORED: the stored file (LF line ends)"""
    payload = Message(plain)
    orig = Message(original)
    # the parameters, as Python's email parser reads them
    parsed = email.parser.BytesParser(policy=email.policy.default) \
        .parsebytes(plain, headersonly=True)
    if parsed.get_param("hp") != "cipher":
        raise Mismatch("payload's Content-Type: hp is %r, not cipher"
                       % (parsed.get_param("hp"),))
    if parsed.get_param("protected-headers") != "v1":
        raise Mismatch("payload's Content-Type: protected-headers is %r"
                       % (parsed.get_param("protected-headers"),))

    inner = [f for f in payload.fields
             if not name_of(f).startswith(b"content-")]
    hp_outer = [f for f in inner if name_of(f) == b"hp-outer"]
    copies = [f for f in inner if name_of(f) != b"hp-outer"]
    other = [f for f in copies if name_of(f) not in PROTECTED_FIELDS]
    if other:
        raise Mismatch("payload has a field that is no protected one: %r"
                       % other[0][:60])
    # the copies: what the original's outer header showed, byte for byte
    expected = [protected_copy(orig, f) for f in shown_protected(orig)]
    if copies != expected:
        raise Mismatch("payload's protected fields %r differ from the "
                       "original's %r" % ([c[:40] for c in copies],
                                          [e[:40] for e in expected]))

    # HP-Outer: "name: value" of each user-facing field of the outer
    said = []
    for f in hp_outer:
        value = f[f.find(b":") + 1:]
        if not re.match(rb"[ \t]*[\x21-\x39\x3b-\x7e]+:", value):
            raise Mismatch("HP-Outer value is no field: %r" % value[:60])
        said.append(field_pair(value.lstrip(b" \t")))
    outer_fields = outer_shown(stored)
    shows = [field_pair(f) for f in outer_fields]
    if sorted(said) != sorted(shows):
        raise Mismatch("HP-Outer says %r, the outer header shows %r"
                       % (sorted(said)[:6], sorted(shows)[:6]))
    if any(name_of(f) == b"hp-outer" for f in Message(stored).fields):
        raise Mismatch("HP-Outer in the outer header")
    outer_ct = [f for f in Message(stored).fields
                if name_of(f) == b"content-type"]
    if any(b"hp=" in f for f in outer_ct):
        raise Mismatch("hp parameter on the outer Content-Type")

    # what differs (RFC 9788 section 4.3: fields without an equal
    # HP-Outer are confidential)
    inner_pairs = [field_pair(f) for f in copies]
    differ = sorted(set(n for n, v in inner_pairs if (n, v) not in said))
    want = [b"subject"] if hide_subject and any(
        n == b"subject" for n, _ in inner_pairs) else []
    if differ != want:
        raise Mismatch("fields that differ inside and outside: %r, "
                       "expected %r" % (differ, want))
    if hide_subject and want and \
            [v for n, v in shows if n == b"subject"] != [HIDDEN_SUBJECT]:
        raise Mismatch("outer Subject is not one %r" % HIDDEN_SUBJECT)
    return len(copies), len(hp_outer)

