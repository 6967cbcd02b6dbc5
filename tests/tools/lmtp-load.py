#!/usr/bin/env python3
# Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
"""Concurrent LMTP load for the soak test, with process sampling.

Usage:
  lmtp-load.py --port PORT --spec FILE [--connections N] [--deadline S]
               [--results FILE] [--samples FILE] [--master-pid PID]
               [--interval S]

FILE has one transaction a line: MSGFILE <TAB> RCPT [RCPT...]. Each
message file is sent as it is: it must have CRLF line ends and end in CRLF
(what an MTA sends; the server undoes the dot-stuffing smtplib does).

N connections (threads) take transactions from one shared queue, each in
its own LMTP session (LHLO once, then MAIL/RCPT/DATA per transaction, as an
MTA reusing a connection). A connection that fails (timeout, reset) counts
its transaction as failed and reconnects. At the deadline (seconds from
the start) the workers stop: what was not sent counts as failed, and
nothing waits longer than the deadline plus one socket timeout.

Results (--results): one line per recipient:
  CODE <TAB> RCPT <TAB> MSGFILE <TAB> REPLY
(CODE "ERR" for a connection failure, "NOTSENT" after the deadline).

Sampling (--master-pid): every --interval seconds, the processes below the
Dovecot master PID are read from /proc: for each "lmtp" process its VmRSS,
and every zombie (state Z) below the master (or --zombie-root). --samples gets one line per
lmtp process and sample: "T <TAB> DONE <TAB> PID <TAB> RSS_KB", T seconds
since the start, DONE the transactions finished so far.

Prints one JSON object: transactions, recipients, ok (2xx), failed,
elapsed (first connection to last reply), per_second (ok recipients per
second), rss (per lmtp pid: samples, first and last quarter mean in kB,
quarters by DONE), zombies (pids that stayed zombies for 0.5 s or more, in
consecutive samples, with their names), zombies_seen (how many pids were
ever seen as zombies), zombie_longest_s, max_lmtp (largest number of lmtp
processes seen), start_epoch (wall-clock time of the start), half_t
(seconds from the start until half of the transactions were done),
per_second_second_half (ok recipients per second after that), and,
with --master-pid, cpu: CPU seconds (user + system) at the end of the load,
before the instance stops: lmtp (the lmtp processes' own), lmtp_children
(what they waited for: a vnd.dovecot.filter program and all it ran;
gpgme's short-lived intermediate forks), orphans (with --zombie-root: what
the reaper at that pid reaped during the load, e.g. gpgme's engine
sieve-encrypt-gpg-exec and the gpg it waited for), lmtp_processes. Exit
code 0 if every recipient got 2xx, else 1.
"""

import argparse
import json
import os
import queue
import smtplib
import socket
import sys
import threading
import time

from proctable import proc_table


def descendants(table, root):
    kids = {}
    for pid, (ppid, _, _) in table.items():
        kids.setdefault(ppid, []).append(pid)
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        for c in kids.get(p, []):
            out.append(c)
            todo.append(c)
    return out


def cpu_ticks(pid):
    """(utime + stime, cutime + cstime) of pid in clock ticks, or None."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat[stat.rfind(b")") + 2:].split()
    # fields[0] is field 3 (state): utime is field 14
    utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
    return utime + stime, cutime + cstime


def vmrss_kb(pid):
    try:
        with open("/proc/%d/status" % pid, encoding="ascii",
                  errors="replace") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


class Load:
    def __init__(self, args, transactions):
        self.args = args
        self.queue = queue.Queue()
        for t in transactions:
            self.queue.put(t)
        self.total = len(transactions)
        self.lock = threading.Lock()
        self.results = []
        self.done = 0
        self.start = time.monotonic()
        self.start_epoch = time.time()
        self.half_t = None
        self.cpu = None
        self.deadline = self.start + args.deadline
        self.last_reply = self.start
        self.stop_sampling = threading.Event()
        self.samples = []        # (t, done, pid, rss)
        self.zombie_seen = {}    # pid -> (first_t, last_t, comm)
        self.max_lmtp = 0
        self.zombie_max = 0.0    # longest time a pid stayed a zombie

    def record(self, rows):
        with self.lock:
            self.results.extend(rows)
            self.done += 1
            self.last_reply = time.monotonic()
            if self.half_t is None and self.done * 2 >= self.total:
                self.half_t = self.last_reply - self.start

    def connect(self):
        timeout = max(1.0, min(self.args.socket_timeout,
                               self.deadline - time.monotonic()))
        lmtp = smtplib.LMTP("127.0.0.1", self.args.port, timeout=timeout)
        code, _ = lmtp.ehlo("soak.example.net")
        if code != 250:
            lmtp.close()
            raise smtplib.SMTPException("LHLO answered %d" % code)
        return lmtp

    def one(self, lmtp, msgfile, rcpts):
        with open(msgfile, "rb") as f:
            data = f.read()
        rows = []
        code, resp = lmtp.mail("sender@example.net")
        if code != 250:
            raise smtplib.SMTPException("MAIL FROM answered %d" % code)
        accepted = []
        for r in rcpts:
            code, resp = lmtp.rcpt(r)
            if code == 250:
                accepted.append(r)
            else:
                rows.append((str(code), r, msgfile,
                             resp.decode("utf-8", "replace")))
        if not accepted:
            lmtp.rset()
            return rows
        # One reply per accepted recipient (RFC 2033); smtplib reads the
        # first one
        code, resp = lmtp.data(data)
        replies = [(code, resp)]
        for _ in accepted[1:]:
            replies.append(lmtp.getreply())
        for r, (code, resp) in zip(accepted, replies):
            rows.append((str(code), r, msgfile,
                         resp.decode("utf-8", "replace")))
        return rows

    def worker(self):
        lmtp = None
        while True:
            try:
                msgfile, rcpts = self.queue.get_nowait()
            except queue.Empty:
                break
            if time.monotonic() >= self.deadline:
                self.record([("NOTSENT", r, msgfile, "deadline")
                             for r in rcpts])
                continue
            try:
                if lmtp is None:
                    lmtp = self.connect()
                rows = self.one(lmtp, msgfile, rcpts)
            except (OSError, smtplib.SMTPException) as e:
                rows = [("ERR", r, msgfile, "%s: %s" % (type(e).__name__, e))
                        for r in rcpts]
                try:
                    if lmtp is not None:
                        lmtp.close()
                except OSError:
                    pass
                lmtp = None
            self.record(rows)
        if lmtp is not None:
            try:
                lmtp.quit()
            except (OSError, smtplib.SMTPException):
                lmtp.close()

    def sampler(self):
        master = self.args.master_pid
        prev_zombies = set()
        while not self.stop_sampling.is_set():
            now = time.monotonic() - self.start
            table = proc_table()
            below = descendants(table, master)
            lmtps = [p for p in below if table[p][2] == "lmtp"]
            self.max_lmtp = max(self.max_lmtp, len(lmtps))
            with self.lock:
                done = self.done
            for p in lmtps:
                rss = vmrss_kb(p)
                if rss is not None:
                    self.samples.append((now, done, p, rss))
            ztree = (descendants(table, self.args.zombie_root)
                     if self.args.zombie_root else below)
            zombies = set(p for p in ztree if table[p][1] == "Z")
            for p in zombies:
                # consecutive samples only: a pid may be reused
                first = (self.zombie_seen[p][0] if p in prev_zombies
                         else now)
                self.zombie_seen[p] = (first, now, table[p][2])
                self.zombie_max = max(self.zombie_max, now - first)
            prev_zombies = zombies
            self.stop_sampling.wait(self.args.interval)

    def cpu_snapshot(self):
        """CPU seconds of the lmtp processes, their waited-for children
        and the reaper's reaped orphans (see the usage)."""
        hz = os.sysconf("SC_CLK_TCK")
        table = proc_table()
        lmtps = [p for p in descendants(table, self.args.master_pid)
                 if table[p][2] == "lmtp"]
        own = children = 0
        for p in lmtps:
            ticks = cpu_ticks(p)
            if ticks is not None:
                own += ticks[0]
                children += ticks[1]
        orphans = None
        if self.args.zombie_root:
            reaper = cpu_ticks(self.args.zombie_root)
            if reaper is not None:
                orphans = reaper[1]
        return {"lmtp": own / hz, "lmtp_children": children / hz,
                "orphans": None if orphans is None else orphans / hz,
                "lmtp_processes": len(lmtps)}

    def run(self):
        sampler = None
        cpu_start = None
        if self.args.master_pid:
            cpu_start = self.cpu_snapshot()
        if self.args.master_pid:
            sampler = threading.Thread(target=self.sampler, daemon=True)
            sampler.start()
        workers = [threading.Thread(target=self.worker, daemon=True)
                   for _ in range(self.args.connections)]
        for w in workers:
            w.start()
        for w in workers:
            # never longer than the deadline and one socket timeout
            w.join(max(0.1, self.deadline + self.args.socket_timeout + 5
                       - time.monotonic()))
        hung = sum(1 for w in workers if w.is_alive())
        if cpu_start is not None:
            # the reaper reaps the last engine a moment after the reply
            time.sleep(0.5)
            self.cpu = self.cpu_snapshot()
            for k in ("lmtp", "lmtp_children", "orphans"):
                if self.cpu[k] is not None and cpu_start[k] is not None:
                    self.cpu[k] = round(self.cpu[k] - cpu_start[k], 2)
        self.stop_sampling.set()
        if sampler is not None:
            sampler.join(5)
        return hung

    def rss_summary(self):
        per = {}
        for t, done, pid, rss in self.samples:
            per.setdefault(pid, []).append((done, rss))
        out = {}
        # the second quarter, not the first: that one holds each
        # process's start-up (plugin, gpgme and gpg's libraries loaded)
        q1, q2, q3 = self.total * 0.25, self.total * 0.5, self.total * 0.75
        for pid, rows in sorted(per.items()):
            second = [r for d, r in rows if q1 <= d < q2]
            last = [r for d, r in rows if d >= q3]
            out[str(pid)] = {
                "samples": len(rows),
                "second_quarter_kb": (round(sum(second) / len(second))
                                      if second else None),
                "last_quarter_kb": (round(sum(last) / len(last))
                                    if last else None),
                "max_kb": max(r for _, r in rows),
            }
        return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--spec", required=True)
    ap.add_argument("--connections", type=int, default=4)
    ap.add_argument("--deadline", type=float, default=120.0)
    ap.add_argument("--socket-timeout", type=float, default=60.0)
    ap.add_argument("--results")
    ap.add_argument("--samples")
    ap.add_argument("--master-pid", type=int, default=0)
    ap.add_argument("--interval", type=float, default=0.25)
    ap.add_argument("--zombie-root", type=int, default=0,
                    help="look for zombies below this pid (default: the "
                    "master)")
    args = ap.parse_args()

    transactions = []
    with open(args.spec, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line.strip():
                continue
            msgfile, rcpts = line.split("\t", 1)
            transactions.append((msgfile, rcpts.split()))

    load = Load(args, transactions)
    hung = load.run()
    with load.lock:
        results = list(load.results)
        elapsed = load.last_reply - load.start
    ok = sum(1 for r in results if r[0].startswith("2"))
    nrcpt = sum(len(t[1]) for t in transactions)
    if args.results:
        with open(args.results, "w", encoding="utf-8") as f:
            for row in results:
                f.write("\t".join(x.replace("\t", " ").replace("\n", " ")
                                  for x in row) + "\n")
    if args.samples:
        with open(args.samples, "w", encoding="utf-8") as f:
            for t, done, pid, rss in load.samples:
                f.write("%.2f\t%d\t%d\t%d\n" % (t, done, pid, rss))
    zombies = {str(p): comm for p, (a, b, comm) in load.zombie_seen.items()
               if b - a >= 0.5}
    zombies_seen = len(load.zombie_seen)
    summary = {
        "transactions": len(transactions),
        "recipients": nrcpt,
        "ok": ok,
        "failed": nrcpt - ok,
        "hung_connections": hung,
        "elapsed": round(elapsed, 2),
        "per_second": round(ok / elapsed, 1) if elapsed > 0 else 0.0,
        "rss": load.rss_summary(),
        "zombies": zombies,
        "zombies_seen": zombies_seen,
        "zombie_longest_s": round(load.zombie_max, 2),
        "max_lmtp": load.max_lmtp,
        "start_epoch": round(load.start_epoch, 3),
        "half_t": (round(load.half_t, 2) if load.half_t is not None
                   else None),
        "per_second_second_half": (
            round((ok - ok / 2) / (elapsed - load.half_t), 1)
            if load.half_t is not None and elapsed > load.half_t
            else 0.0),
        "cpu": load.cpu,
    }
    print(json.dumps(summary, sort_keys=True))
    sys.exit(0 if ok == nrcpt and not hung else 1)


if __name__ == "__main__":
    main()
