#!/usr/bin/env python3
# Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
"""Upload Sieve scripts over ManageSieve (RFC 5804) and print the answers.

Usage: managesieve-put.py HOST PORT USER PASSWORD NAME=FILE...

For each NAME=FILE it sends PUTSCRIPT and prints one line:
  NAME OK [text]       accepted (text: warnings, if any)
  NAME NO text         rejected, with the server's reason
Exits 0 when the session worked (whatever the answers), 1 otherwise.
"""
import base64
import re
import socket
import sys


class Conn:
    def __init__(self, host, port):
        self.sock = socket.create_connection((host, int(port)), timeout=20)
        self.buf = b""

    def line(self):
        while b"\r\n" not in self.buf:
            data = self.sock.recv(4096)
            if not data:
                raise EOFError("connection closed")
            self.buf += data
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("utf-8", "replace")

    def response(self):
        """Read lines up to OK/NO/BYE; return (status, text)."""
        while True:
            line = self.line()
            m = re.match(r'^(OK|NO|BYE)\b\s*(.*)$', line)
            if not m:
                continue
            status, rest = m.group(1), m.group(2)
            lit = re.search(r'\{(\d+)\}$', rest)
            if lit:
                size = int(lit.group(1))
                while len(self.buf) < size + 2:
                    self.buf += self.sock.recv(4096)
                text = self.buf[:size].decode("utf-8", "replace")
                self.buf = self.buf[size + 2:]
                rest = rest[:lit.start()] + text
            return status, rest

    def send(self, data):
        self.sock.sendall(data)


def main():
    if len(sys.argv) < 6:
        print(__doc__, file=sys.stderr)
        return 1
    host, port, user, password = sys.argv[1:5]
    conn = Conn(host, port)
    status, text = conn.response()
    if status != "OK":
        print("greeting: %s %s" % (status, text), file=sys.stderr)
        return 1
    auth = base64.b64encode(b"\0" + user.encode() + b"\0" +
                            password.encode()).decode()
    conn.send(('AUTHENTICATE "PLAIN" "%s"\r\n' % auth).encode())
    status, text = conn.response()
    if status != "OK":
        print("authenticate: %s %s" % (status, text), file=sys.stderr)
        return 1
    for spec in sys.argv[5:]:
        name, path = spec.split("=", 1)
        script = open(path, "rb").read()
        conn.send(('PUTSCRIPT "%s" {%d+}\r\n' % (name, len(script))).encode()
                  + script + b"\r\n")
        status, text = conn.response()
        print("%s %s %s" % (name, status, " ".join(text.split())))
    conn.send(b"LOGOUT\r\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
