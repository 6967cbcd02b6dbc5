#!/usr/bin/env python3
# Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
"""Run a command as a child subreaper, to see every process it leaves behind.

Usage: subreaper.py LOG -- COMMAND [ARGS...]

Makes this process a "child subreaper" (prctl PR_SET_CHILD_SUBREAPER), so
that every orphan of COMMAND's process tree (gpgme double-forks gpg, so each
gpg is one; a daemonized dovecot master; a gpg-agent) becomes a child of
this process instead of init. COMMAND runs with SIEVE_ENCRYPT_REAPER set to
this process's pid, so that it can tell that it runs under a reaper and list
the orphans that are still alive (`ps --ppid $SIEVE_ENCRYPT_REAPER`).

Every orphan that ends is reaped at once (it is never left a zombie) and
logged to LOG, one line each:
  reaped PID COMM exit=N       or       reaped PID COMM signal=N
When COMMAND ends, orphans still running are given 5 seconds, then killed
(SIGKILL) and logged as "killed PID COMM"; they are this run's own
processes. Exits with COMMAND's exit code (128+N if a signal ended it).
SIGINT, SIGTERM and SIGHUP are passed on to COMMAND.
"""

import ctypes
import os
import signal
import sys
import time

from proctable import proc_table

PR_SET_CHILD_SUBREAPER = 36
GRACE_SECONDS = 5.0


def comm_of(pid):
    try:
        with open("/proc/%d/comm" % pid, encoding="utf-8",
                  errors="replace") as f:
            return f.read().strip() or "?"
    except OSError:
        return "?"


def children_of(ppid):
    """Pids whose parent is ppid."""
    return [pid for pid, (parent, _, _) in proc_table().items()
            if parent == ppid]


def main():
    argv = sys.argv[1:]
    if len(argv) < 3 or argv[1] != "--":
        sys.exit("usage: subreaper.py LOG -- COMMAND [ARGS...]")
    logpath, cmd = argv[0], argv[2:]

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        sys.exit("subreaper.py: prctl(PR_SET_CHILD_SUBREAPER): %s"
                 % os.strerror(ctypes.get_errno()))
    log = open(logpath, "a", buffering=1, encoding="utf-8")
    env = dict(os.environ, SIEVE_ENCRYPT_REAPER=str(os.getpid()))

    child = os.fork()
    if child == 0:
        try:
            os.execvpe(cmd[0], cmd, env)
        except OSError as e:
            sys.stderr.write("subreaper.py: %s: %s\n" % (cmd[0], e))
        os._exit(127)

    def forward(signum, _frame):
        try:
            os.kill(child, signum)
        except ProcessLookupError:
            pass

    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, forward)

    def reap_one(block):
        """Reap one child; returns (pid, status) or None."""
        flags = os.WEXITED | os.WNOWAIT | (0 if block else os.WNOHANG)
        try:
            info = os.waitid(os.P_ALL, 0, flags)
        except ChildProcessError:
            return None
        if info is None:
            return None
        pid = info.si_pid
        comm = comm_of(pid)      # still readable: not reaped yet
        _, status = os.waitpid(pid, 0)
        if pid != child:
            if os.WIFSIGNALED(status):
                how = "signal=%d" % os.WTERMSIG(status)
            else:
                how = "exit=%d" % os.WEXITSTATUS(status)
            log.write("reaped %d %s %s\n" % (pid, comm, how))
        return pid, status

    rc = None
    while rc is None:
        got = reap_one(True)
        if got is None:
            break
        pid, status = got
        if pid == child:
            rc = (128 + os.WTERMSIG(status) if os.WIFSIGNALED(status)
                  else os.WEXITSTATUS(status))
    if rc is None:
        rc = 1

    deadline = time.monotonic() + GRACE_SECONDS
    while children_of(os.getpid()) and time.monotonic() < deadline:
        while reap_one(False):
            pass
        time.sleep(0.1)
    for pid in children_of(os.getpid()):
        log.write("killed %d %s\n" % (pid, comm_of(pid)))
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + GRACE_SECONDS
    while ((reap_one(False) or children_of(os.getpid()))
           and time.monotonic() < deadline):
        time.sleep(0.05)
    log.close()
    sys.exit(rc)


if __name__ == "__main__":
    main()
