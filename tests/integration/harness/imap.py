# Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
"""An IMAP client for the integration tests (Python's imaplib) against an
instance's IMAP service: APPEND with flags and INTERNALDATE, and a FETCH
of a whole folder, \\Deleted included."""

import imaplib
import re


class Client:
    def __init__(self, port, login, password):
        self.imap = imaplib.IMAP4("127.0.0.1", port)
        self.imap.login(login, password)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.imap.logout()

    def ok(self, typ_data):
        typ, data = typ_data
        assert typ == "OK", data
        return data

    def create(self, *folders):
        for folder in folders:
            typ, data = self.imap.create('"%s"' % folder)
            assert typ == "OK" or b"ALREADYEXISTS" in data[0], data

    def append(self, folder, flags, date, message):
        return self.ok(self.imap.append(
            '"%s"' % folder, flags, imaplib.Time2Internaldate(date),
            message))

    def fetch_all(self, folder):
        """UID FETCH 1:* of FOLDER, \\Deleted included: a list of
        (uid, flags without \\Recent, internaldate, body)"""
        self.ok(self.imap.select('"%s"' % folder))
        data = self.ok(self.imap.uid(
            "FETCH", "1:*", "(FLAGS INTERNALDATE BODY.PEEK[])"))
        found = []
        for item in data:
            if not isinstance(item, tuple):
                continue
            meta = item[0].decode()
            uid = int(re.search(r"UID (\d+)", meta).group(1))
            flags = set(re.search(r"FLAGS \(([^)]*)\)", meta).group(1)
                        .split())
            flags.discard("\\Recent")
            date = imaplib.Internaldate2tuple(item[0])
            found.append((uid, flags, date, item[1]))
        self.imap.close()
        return found
