#!/usr/bin/env python3
# Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
"""engine-exec.py: CPU cost of one start of sieve-encrypt-gpg-exec.

Starts the engine N times as Dovecot's root LMTP would (real uid 0,
effective uid UID: fork, setresuid(0, UID, 0), exec) with gpg = /bin/true
and "--version", and prints the children's CPU time and the wall time
per start. The driver's own fork and /bin/true are included: run it with
ENGINE=/bin/true for that baseline.

Usage (as root): bench/engine-exec.py ENGINE UID [N]
"""
import os
import resource
import sys
import time


def main():
    if len(sys.argv) < 3 or os.geteuid() != 0:
        sys.exit(__doc__)
    engine, uid = sys.argv[1], int(sys.argv[2])
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 300
    env = {"SIEVE_ENCRYPT_GPG": "/bin/true",
           "SIEVE_ENCRYPT_GPG_DEADLINE": "999999999.0",
           "SIEVE_ENCRYPT_GPG_USER_GROUPS": str(uid)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    for _ in range(n):
        pid = os.fork()
        if pid == 0:
            os.setgroups([uid])
            os.setresgid(uid, uid, 0)
            os.setresuid(0, uid, 0)
            null = os.open("/dev/null", os.O_WRONLY)
            os.dup2(null, 1)
            os.dup2(null, 2)
            os.execve(engine, [engine, "--version"], env)
        _, status = os.waitpid(pid, 0)
        if status != 0:
            sys.exit("%s exited with status %d" % (engine, status))
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime
           - before.ru_utime - before.ru_stime)
    print("%s, uid %d: %.3f ms CPU, %.3f ms wall per start (%d starts)"
          % (engine, uid, cpu / n * 1000,
             (time.monotonic() - start) / n * 1000, n))


if __name__ == "__main__":
    main()
