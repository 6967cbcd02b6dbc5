#!/usr/bin/env python3
# Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
"""The cost per delivery of one soak-lmtp.sh run.

Usage: soak-cost.py SUMMARY MESSAGES ACCT MASTER REAPER

SUMMARY is lmtp-load.py's JSON output, ACCT the process accounting file of
the run (proc-account.py), MASTER the Dovecot master's pid, REAPER the
subreaper's. Prints one line: per delivery, the CPU time of the lmtp
processes, of the programs they waited for and of the orphans the reaper
reaped (gpgme's engine with its gpg), and the processes started, for the
whole run and for its second half: the processes started from the first
whole second after half of the messages were done, divided by the
deliveries after that second (the rate of the second half taken as even).
Exits 1 if the accounting could not be read.
"""

import json
import math
import os
import subprocess
import sys


def main():
    summary, total, acct, master, reaper = sys.argv[1:6]
    total = int(total)
    s = json.load(open(summary))
    cpu = s.get("cpu") or {}
    n = max(s.get("ok", 0), 1)

    def ms(k):
        v = cpu.get(k)
        return "?" if v is None else "%.1f" % (1000.0 * v / n)

    end = s["start_epoch"] + s["elapsed"]
    half = s["start_epoch"] + (s.get("half_t") or s["elapsed"])
    since = math.ceil(half)
    later = max(1, round((total / 2) * (end - since) / max(end - half, 0.001)))
    account = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                           "proc-account.py")
    out = subprocess.run(["python3", account, "count", acct,
                          "--master", master, "--reaper", reaper,
                          "--deliveries", str(n), "--since", str(since),
                          "--since-deliveries", str(later)],
                         capture_output=True, text=True)
    try:
        c = json.loads(out.stdout)
    except ValueError:
        print("process accounting failed: %s" % out.stderr.strip()[:200])
        sys.exit(1)

    def names(t):
        return ", ".join("%s %.2f" % (k, v) for k, v in
                         t.get("by_name_per_delivery", {}).items()
                         if v >= 0.005) or "none"
    print("per delivery: CPU lmtp %s ms, programs lmtp waited for %s ms, "
          "engine+gpg (reaped orphans) %s ms; processes started %.2f (%s); "
          "second half %.2f (%s)"
          % (ms("lmtp"), ms("lmtp_children"), ms("orphans"),
             c.get("per_delivery", 0), names(c),
             c["since"].get("per_delivery", 0), names(c["since"])))


if __name__ == "__main__":
    main()
