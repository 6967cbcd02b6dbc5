#!/usr/bin/env python3
# Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
"""Count the processes a test run starts, with the kernel's process
accounting (acct(2), BSD accounting version 3 records).

Usage:
  proc-account.py on FILE      start writing a record for every process
                               that ends, system-wide, to FILE (root only)
  proc-account.py off          stop it
  proc-account.py count FILE --master PID [--reaper PID] [--since EPOCH]
                               [--deliveries N] [--since-deliveries N]

The kernel writes one record when a process ends: its pid, parent pid
(the parent at that time: an orphan's is its reaper), command name
(15 characters), start time (seconds) and whether it forked without
exec'ing. "count" keeps the records of the run: the processes below the
Dovecot master PID, and the orphans the reaper PID adopted that are
sieve-encrypt-gpg-exec (gpgme double-forks its engine) with what they
started; records of other processes on the machine (accounting is
system-wide) are left out. It prints one JSON object: "total" (processes),
"by_name" ({name: count}; a process that forked without exec'ing is
"NAME (fork)", e.g. gpgme's intermediate child of lmtp), and, with
--deliveries, "per_delivery" (the same divided by N). With --since, also
"since": the same for the processes started at or after EPOCH (whole
seconds), divided by --since-deliveries.

CPU times are not taken from the records: they are in 10 ms units per
process, too coarse for a gpg run (see lmtp-load.py's cpu instead).
"""

import argparse
import ctypes
import json
import struct
import sys

RECORD_SIZE = 64
AFORK = 0x01
AHZ = 100.0                   # the unit of ac_etime
ENGINE = "sieve-encrypt-g"    # sieve-encrypt-gpg-exec, cut to 15


def acct(path):
    libc = ctypes.CDLL(None, use_errno=True)
    arg = None if path is None else path.encode()
    if libc.acct(arg) != 0:
        err = ctypes.get_errno()
        sys.exit("proc-account.py: acct(%s): %s"
                 % (path, __import__("os").strerror(err)))


def records(path):
    with open(path, "rb") as f:
        data = f.read()
    out = []
    for i in range(0, len(data) - RECORD_SIZE + 1, RECORD_SIZE):
        rec = data[i:i + RECORD_SIZE]
        flag, version = rec[0], rec[1]
        if version != 3:
            continue
        pid, ppid, btime, etime = struct.unpack("<IIIf", rec[16:32])
        comm = rec[48:64].split(b"\0")[0].decode("utf-8", "replace")
        out.append({"pid": pid, "ppid": ppid, "btime": btime,
                    "end": btime + etime / AHZ,
                    "name": comm + (" (fork)" if flag & AFORK else "")})
    return out


def of_run(recs, master, reaper):
    by_pid = {}
    for r in recs:
        by_pid.setdefault(r["pid"], []).append(r)

    def parent(r):
        # a pid may have been used again during the run: the parent is
        # the process of that pid that ran when r started (the kernel
        # computes the start time at exit, in whole seconds: 1 s slack)
        for p in by_pid.get(r["ppid"], []):
            if p["btime"] - 1 <= r["btime"] <= p["end"] + 1:
                return p
        return None

    def belongs(r):
        seen = 0
        while r is not None and seen < 64:
            if r["pid"] == master or r["ppid"] == master:
                return True
            if (reaper and r["ppid"] == reaper and
                    r["name"].startswith(ENGINE)):
                return True
            r = parent(r)
            seen += 1
        return False
    return [r for r in recs if belongs(r)]


def tally(recs, deliveries):
    by_name = {}
    for r in recs:
        by_name[r["name"]] = by_name.get(r["name"], 0) + 1
    out = {"total": len(recs), "by_name": dict(sorted(by_name.items()))}
    if deliveries:
        out["per_delivery"] = round(len(recs) / deliveries, 3)
        out["by_name_per_delivery"] = {
            k: round(v / deliveries, 3) for k, v in sorted(by_name.items())}
    return out


def main():
    if len(sys.argv) >= 2 and sys.argv[1] in ("on", "off"):
        acct(sys.argv[2] if sys.argv[1] == "on" else None)
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("command", choices=["count"])
    ap.add_argument("file")
    ap.add_argument("--master", type=int, required=True)
    ap.add_argument("--reaper", type=int, default=0)
    ap.add_argument("--deliveries", type=int, default=0)
    ap.add_argument("--since", type=float)
    ap.add_argument("--since-deliveries", type=int, default=0)
    args = ap.parse_args()
    recs = of_run(records(args.file), args.master, args.reaper)
    out = tally(recs, args.deliveries)
    if args.since is not None:
        out["since"] = tally([r for r in recs if r["btime"] >= args.since],
                             args.since_deliveries)
    print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    main()
