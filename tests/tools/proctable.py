# Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
"""proctable.py: the process table from /proc, for the test tools
(lmtp-load.py, subreaper.py)."""

import os


def proc_table():
    """{pid: (ppid, state, comm)} of every process in /proc/PID/stat."""
    table = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name, "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # comm may hold spaces and parentheses: it ends at the last ')'
        lpar, rpar = stat.find(b"("), stat.rfind(b")")
        comm = stat[lpar + 1:rpar].decode("utf-8", "replace")
        fields = stat[rpar + 2:].split()
        if len(fields) > 1:
            table[int(name)] = (int(fields[1]), fields[0].decode(), comm)
    return table
