# Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
"""An LMTP client for the integration tests (Python's smtplib.LMTP).

Each transaction is sent as an MTA sends it: bare LF line ends become
CRLF and the data ends with CRLF (smtplib dot-stuffs, the server undoes
it), so `sent_bytes()` is what the server got as message content.
"""

import re
import smtplib


def sent_bytes(message):
    """MESSAGE (bytes) as it goes over LMTP"""
    sent = re.sub(rb"\r?\n", b"\r\n", message)
    if not sent.endswith(b"\r\n"):
        sent += b"\r\n"
    return sent


class Reply:
    """The server's answer for one recipient"""

    def __init__(self, rcpt, code, text):
        self.rcpt = rcpt
        self.code = code
        self.text = text

    @property
    def session(self):
        """The session id of a delivery ("2.0.0 <rcpt> ID Saved"): the
        id in the log lines of that delivery"""
        m = re.match(r"2\.0\.0 <[^>]*> (\S+) Saved", self.text)
        return m.group(1) if m else None

    def __repr__(self):
        return "%d %s %s" % (self.code, self.rcpt, self.text)


class Client:
    def __init__(self, port=None, timeout=None, path=None):
        """Connected to PORT on 127.0.0.1, or to the unix socket PATH"""
        args = (path,) if path else ("127.0.0.1", port)
        self.smtp = (smtplib.LMTP(*args, timeout=timeout)
                     if timeout else smtplib.LMTP(*args))
        code, _ = self.smtp.ehlo("it.example.net")  # LHLO for LMTP
        if code != 250:
            raise RuntimeError("LHLO failed: %d" % code)

    def send(self, message, rcpts, sender="sender@example.net"):
        """One transaction; returns a Reply per recipient (refused ones
        with their RCPT reply). Recipients without a reply (the server
        dropped the connection) get none."""
        code, resp = self.smtp.mail(sender)
        if code != 250:
            raise RuntimeError("MAIL FROM failed: %d %r" % (code, resp))
        replies, accepted = [], []
        for r in rcpts:
            code, resp = self.smtp.rcpt(r)
            if code == 250:
                accepted.append(r)
            else:
                replies.append(Reply(r, code, resp.decode(errors="replace")))
        if not accepted:
            self.smtp.rset()
            return replies
        # LMTP answers DATA once per accepted recipient (RFC 2033);
        # smtplib reads the first reply, the others are read here
        answers = [self.smtp.data(sent_bytes(message))]
        try:
            for _ in accepted[1:]:
                answers.append(self.smtp.getreply())
        except smtplib.SMTPServerDisconnected:
            pass
        for r, (code, resp) in zip(accepted, answers):
            replies.append(Reply(r, code, resp.decode(errors="replace")))
        return replies

    def close(self):
        try:
            self.smtp.quit()
        except smtplib.SMTPException:
            pass
        self.smtp.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
