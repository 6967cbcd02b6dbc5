#!/usr/bin/env python3
# Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
"""genmsg.py: the test messages of bench/run.py.

Usage: genmsg.py OUTDIR

Writes, with a fixed random seed (the same bytes on every run), LF line
ends as an MTA hands them to dovecot-lda:

  text-4k.eml    4 KiB text/plain mail
  rand-100k.eml  multipart/mixed, a short text part and a base64
  rand-1m.eml    application/octet-stream attachment of random bytes,
  rand-20m.eml   so that the whole message is 100 KiB, 1, 20 and 45 MiB
  rand-45m.eml
  text-20m.eml   20 MiB multipart/mixed with a text/csv attachment
                 (quoted-printable, UTF-8): compressible text

and prints one line per message: NAME BYTES.
"""

import base64
import binascii
import os
import random
import sys

KIB = 1024
MIB = 1024 * 1024

WORDS = """the of and to in is that for it as was with be by on not he this are
or his from at which but have an they you were her she there one all we their
has been would more when if will out so up said what its about into than them
can only other new some could time these two may then do first any my now such
like our over man me even most made after also did many before must through
back years where much your way well down should because each just those people
how too little state good very make world still own see men work long get here
between both life being under never day same another know while last might us
great old year off come since against go came right used take three invoice
meeting delivery quarter budget report schedule contract server backup""".split()

NAMES = ["Müller GmbH", "Dupont SA", "Smith & Sons Ltd", "Nakamura KK",
	 "Rossi S.p.A.", "García y Hijos", "Novák s.r.o.", "Andersen A/S",
	 "Kowalski Sp. z o.o.", "O'Brien Partners", "Łukasz Nowak",
	 "São Paulo Trading"]
CITIES = ["Berlin", "Paris", "London", "Tokyo", "Milano", "Sevilla", "Brno",
	  "København", "Kraków", "Dublin", "Zürich", "São Paulo"]
ITEMS = ["Widget X-200 blue", "Cable CAT6 5m", "Server rack 42U",
	 "License renewal (1 year)", "Consulting, hours", "SSD 2TB NVMe",
	 "Monitor 27\" IPS", "Keyboard DE layout", "Support contract gold",
	 "Shipping and handling"]


def header(rng, n, subject, ctype):
	"""A realistic header block (no blank line)."""
	day = 1 + n % 28
	return (
		"Received: from mx.example.net (mx.example.net [192.0.2.25])\n"
		"\tby mail.example.org (Postfix) with ESMTPS id 4Xy%05dZ\n"
		"\tfor <user@example.org>; Tue, %02d Oct 2024 10:%02d:00 +0200\n"
		"Received: from [198.51.100.7] (client.example.net [198.51.100.7])\n"
		"\tby mx.example.net (Postfix) with ESMTPSA id 8Ab%05d\n"
		"\tfor <user@example.org>; Tue, %02d Oct 2024 10:%02d:00 +0200\n"
		"From: Sender Example <sender@example.net>\n"
		"To: User Example <user@example.org>\n"
		"Subject: %s\n"
		"Date: Tue, %02d Oct 2024 10:%02d:00 +0200\n"
		"Message-ID: <bench-%d-%08x@example.net>\n"
		"User-Agent: Mozilla Thunderbird\n"
		"MIME-Version: 1.0\n"
		"Content-Language: en-US\n"
		"%s\n"
		% (n, day, n % 60, n, day, n % 60, subject, day, n % 60, n,
		   rng.getrandbits(32), ctype))


def prose(rng, size):
	"""Text of about size bytes, lines of at most 72 characters."""
	out, line, total = [], [], 0
	while total < size:
		w = rng.choice(WORDS)
		if sum(len(x) + 1 for x in line) + len(w) > 72:
			s = " ".join(line) + "\n"
			out.append(s)
			total += len(s)
			line = []
			if rng.random() < 0.15:
				out.append("\n")
				total += 1
		line.append(w)
	return "".join(out)


def qp_encode(text):
	"""Quoted-printable (RFC 2045) of UTF-8 text, lines of at most 76."""
	return binascii.b2a_qp(text.encode("utf-8"), istext=True).decode("ascii")


def csv_text(rng, size):
	"""Invoice-like CSV of about size bytes (before encoding)."""
	rows = ["date,invoice,customer,city,item,quantity,unit_price,"
		"currency,status\n"]
	total = len(rows[0])
	n = 0
	while total < size:
		n += 1
		row = "2024-%02d-%02d,INV-%07d,\"%s\",%s,\"%s\",%d,%.2f,EUR,%s\n" % (
			rng.randint(1, 12), rng.randint(1, 28), 1000000 + n,
			rng.choice(NAMES), rng.choice(CITIES), rng.choice(ITEMS),
			rng.randint(1, 50), rng.uniform(1, 5000),
			rng.choice(["paid", "open", "overdue", "credited"]))
		rows.append(row)
		total += len(row.encode("utf-8"))
	return "".join(rows)


def multipart(rng, n, subject, target, attachment_part):
	"""A multipart/mixed message of about target bytes; attachment_part
	gets the number of bytes left for the attachment part."""
	boundary = "------------bench%08x" % rng.getrandbits(32)
	head = header(rng, n, subject,
		      'Content-Type: multipart/mixed; boundary="%s"' % boundary)
	text = ("This is a multi-part message in MIME format.\n"
		"--%s\n"
		"Content-Type: text/plain; charset=UTF-8; format=flowed\n"
		"Content-Transfer-Encoding: 7bit\n\n%s\n"
		"--%s\n" % (boundary, prose(rng, 600), boundary))
	tail = "\n--%s--\n" % boundary
	left = target - len(head.encode()) - 1 - len(text.encode()) - \
		len(tail.encode())
	return head + "\n" + text + attachment_part(left) + tail


def random_attachment(rng, left):
	hdr = ("Content-Type: application/octet-stream; name=\"data.bin\"\n"
	       "Content-Disposition: attachment; filename=\"data.bin\"\n"
	       "Content-Transfer-Encoding: base64\n\n")
	room = left - len(hdr)
	# 57 raw bytes make one line of 76 base64 characters plus LF
	raw = (room // 77) * 57
	body = base64.encodebytes(rng.randbytes(raw)).decode("ascii")
	return hdr + body.rstrip("\n")


def csv_attachment(rng, left):
	hdr = ("Content-Type: text/csv; charset=UTF-8; name=\"invoices.csv\"\n"
	       "Content-Disposition: attachment; filename=\"invoices.csv\"\n"
	       "Content-Transfer-Encoding: quoted-printable\n\n")
	room = left - len(hdr)
	enc = qp_encode(csv_text(rng, room)).encode("ascii")
	# QP makes it longer: cut to size at the end of an encoded line
	# (not after a soft line break)
	cut = len(enc)
	while cut > room or enc[cut - 1:cut] == b"=":
		cut = enc.rfind(b"\n", 0, min(cut, room) + 1)
		if enc[cut - 1:cut] == b"=":
			cut -= 1
	return hdr + enc[:cut].decode("ascii")


def main():
	if len(sys.argv) != 2:
		sys.exit(__doc__)
	outdir = sys.argv[1]
	rng = random.Random(20241001)
	msgs = []

	body = prose(rng, 4 * KIB)
	head = header(rng, 1, "Meeting notes",
		      "Content-Type: text/plain; charset=UTF-8; format=flowed\n"
		      "Content-Transfer-Encoding: 7bit")
	msg = head + "\n" + body
	msg = msg.encode()[:4 * KIB - 1].decode("ascii", "ignore")
	msg = msg[:msg.rfind("\n") + 1]
	msgs.append(("text-4k", msg))

	for n, (name, size) in enumerate([("rand-100k", 100 * KIB),
					   ("rand-1m", MIB),
					   ("rand-20m", 20 * MIB),
					   ("rand-45m", 45 * MIB)], 2):
		msgs.append((name, multipart(
			rng, n, "Data export (%s)" % name, size,
			lambda left: random_attachment(rng, left))))
	msgs.append(("text-20m", multipart(
		rng, 9, "Invoices 2024", 20 * MIB,
		lambda left: csv_attachment(rng, left))))

	for name, text in msgs:
		path = os.path.join(outdir, name + ".eml")
		data = text.encode("utf-8")
		with open(path, "wb") as f:
			f.write(data)
		print(name, len(data))


if __name__ == "__main__":
	main()
