#!/usr/bin/python3
# Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
"""bench/run.py: the benchmark of issue 5: vnd.x.encrypt (in-process
encryption at delivery) against plain delivery, raw gpg and the
vnd.dovecot.filter + gpg chain it replaces. Not part of the test suite.

Usage (as root, after ./configure && make):

  bench/run.py [--quick] [--profile] [--wait-idle] [--out DIR]

  --quick      one repetition per case, to try the script out (the
               numbers are not fit for publishing)
  --profile    afterwards, profile (b) on the 20 MiB random mail with
               valgrind's callgrind (dovecot-lda only, gpg not traced)
               and with perf (cpu-clock samples of the whole process
               tree, gpg included); prints the top costs (files in the
               scratch directory's profile/, kept with BENCH_KEEP=1)
  --wait-idle  before measuring, wait (up to 20 minutes) until the
               1-minute load average is below 0.5
  --out DIR    where benchmark.md and benchmark.svg go (default: doc/)

Environment: BENCH_KEEP=1 keeps the scratch directory (logs, messages,
raw results in results.tsv); TMPDIR (default /tmp) is where it is made
(/tmp if the mail account cannot reach it, or if it is too long for the
sockets of gpg-agent); SIEVE_ENCRYPT_BUILD is the build tree (default:
this repository); SIEVE_ENCRYPT_TEST_USER is the unprivileged mail
account (default nobody); GPGIT, see (e).

What it does, for an RSA-3072 and a Curve25519 key, on generated mail of
4 KiB (text), 100 KiB, 1, 20 and 45 MiB (multipart/mixed with a base64
attachment of random bytes) and 20 MiB (a quoted-printable CSV
attachment, compressible):
  (a)  dovecot-lda without a Sieve script (the floor)
  (b)  dovecot-lda with a sieve_before script "encrypt;" (this plugin,
       default settings: no compression); on the 20 MiB mails also with
       sieve_encrypt_compress = yes
  (c)  gpg --encrypt --armor of the message file to the same key, output
       to /dev/null, with gpg's default compression and with -z 0
  (d)  dovecot-lda with a sieve_before script running vnd.dovecot.filter
       with bench/pgpmime-filter.sh (gpg with default settings, wrapped
       as PGP/MIME)
  (e)  only with GPGIT=/path/to/gpgit in the environment: the seed's own
       chain, vnd.dovecot.filter running bench/seed-encrypt.sh (its
       encrypt.sh) -> gpgit (github.com/EtiennePerot/gpgit, Perl) -> gpg;
       at most 5 repetitions from 20 MiB on (seconds each)
Each Dovecot case is a private instance of the test harness
(tests/integration/harness) with its own configuration. Runs are
interleaved (every case once, then again), median wall time over
11/11/7/11/11 repetitions (4K/100K/1M/20M/45M), peak RSS with
/usr/bin/time. Then: the 45 MiB mail under "ulimit -v 262144" (Dovecot's
default default_vsz_limit of 256M, which dovecot-lda does not apply
itself), the gpg processes one 4 KiB delivery spawns (strace),
ciphertext sizes. Writes DIR/benchmark.md and DIR/benchmark.svg (through
bench/report.py and gnuplot). Takes about 7-12 minutes on 2 cores; the
machine should be otherwise idle.
"""

import argparse
import os
import pickle
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(TOP, "bench")
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))

from harness import dovecot, keys  # noqa: E402

KEYS = (("rsa", "rsa3072"), ("cv", "valid"))
MSGS = ("text-4k", "rand-100k", "rand-1m", "rand-20m", "text-20m",
        "rand-45m")
REPS = {"text-4k": 11, "rand-100k": 11, "rand-1m": 7, "rand-20m": 11,
        "text-20m": 7, "rand-45m": 11}
VSZ_KB = 262144
# the sieve_before script of each Dovecot case (None: no script)
SCRIPTS = {
    "a": None,
    "b": 'require ["vnd.x.encrypt"];\nencrypt;',
    "bz": 'require ["vnd.x.encrypt"];\nencrypt;',
    "d": 'require ["vnd.dovecot.filter"];\nfilter "pgpmime-filter.sh";',
    "dslurp": 'require ["vnd.dovecot.filter"];\n'
              'filter "pgpmime-filter-slurp.sh";',
    "e": 'require ["vnd.dovecot.filter"];\nfilter "seed-encrypt.sh";',
}
# what a good run stores: an encrypted, a plain or no message
EXPECT = {"a": "plain", "b": "enc", "bz": "enc", "d": "enc",
          "dslurp": "enc", "e": "enc"}
# the scratch directory must be short enough for the sockets of the
# gpg-agents of the key homes in it (as tests/integration/conftest.py)
SCRATCH_BASE_MAX = 56


def say(text):
    sys.stderr.write("[%s] %s\n" % (time.strftime("%H:%M:%S"), text))
    sys.stderr.flush()


def die(text):
    sys.exit("run.py: %s" % text)


def tsv(path, header):
    """An open results file with HEADER (a list of column names)"""
    f = open(path, "w", encoding="utf-8")
    f.write("\t".join(header) + "\n")
    return f


def row(f, *values):
    f.write("\t".join(str(v) for v in values) + "\n")
    f.flush()


def command_output(argv):
    """The stripped standard output of ARGV, "" if it fails"""
    try:
        return subprocess.run(argv, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL).stdout.decode(
                                  errors="replace").strip()
    except OSError:
        return ""


def load_average():
    with open("/proc/loadavg") as f:
        return f.read().split()[0]


class Tools:
    """Installs the Debian packages the benchmark needs when missing"""

    def __init__(self):
        self.updated = False

    def need(self, path, package):
        if os.path.exists(path):
            return
        say("installing %s (for %s)" % (package, path))
        if not self.updated:
            subprocess.run(["apt-get", "update", "-qq"],
                           stdout=subprocess.DEVNULL)
            self.updated = True
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        if subprocess.run(["apt-get", "install", "-y", "-qq",
                           "--no-install-recommends", package],
                          stdout=subprocess.DEVNULL, env=env).returncode:
            die("installing %s failed" % package)


def scratch_base(account):
    """$TMPDIR if the mail account can reach it and it is short enough,
    else /tmp"""
    base = os.path.abspath(os.environ.get("TMPDIR") or "/tmp")
    if len(base) > SCRATCH_BASE_MAX:
        say("%s is too long for the agent sockets, using /tmp" % base)
        return "/tmp"
    probe = subprocess.run(["runuser", "-u", account, "--", "test", "-x",
                            base])
    if probe.returncode != 0:
        say("%s is not reachable by user %s, using /tmp" % (base, account))
        return "/tmp"
    return base


class Run:
    """What one timed run did: seconds, peak RSS (KiB), exit code, size
    of the stored message (0: none), whether it is encrypted ("enc",
    "plain", "-": nothing stored)"""

    def __init__(self, secs, rss, rc, stored, enc):
        self.secs, self.rss, self.rc = secs, rss, rc
        self.stored, self.enc = stored, enc


def stored_message(store, subs=("new", "cur")):
    """The path of the message in the Maildir STORE, or None"""
    for sub in subs:
        try:
            names = sorted(os.listdir(os.path.join(store, sub)))
        except FileNotFoundError:
            continue
        if names:
            return os.path.join(store, sub, names[0])
    return None


def is_encrypted(path):
    """Whether the top-level Content-Type of the message file PATH is
    multipart/encrypted (the header ends at the first empty line)"""
    header = []
    with open(path, "rb") as f:
        for line in f:
            line = line.rstrip(b"\r\n")
            if not line:
                break
            header.append(line.decode("latin-1").lower())
    in_type = False
    for line in header:
        if line.startswith("content-type:"):
            in_type = True
        elif in_type and line[:1] not in (" ", "\t"):
            return False
        if in_type and "multipart/encrypted" in line:
            return True
    return False


def body_after_header(data):
    """DATA without its first lines up to the first empty one (sed
    '1,/^$/d')"""
    start = data.find(b"\n") + 1
    if start == 0:
        return b""
    end = data.find(b"\n\n", start - 1)
    return b"" if end < 0 else data[end + 2:]


class Timer:
    """A process of the mail account that times runs (what measure.sh
    was): the runs are started from a process that already has the
    account's ids, so that no switch of ids (fork instead of vfork in
    Python) or exec of setpriv lands in the timed region"""

    def __init__(self, account, rss_file):
        self.rss_file = rss_file
        requests, self._requests = os.pipe()
        self._replies, replies = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            os.close(self._requests)
            os.close(self._replies)
            try:
                os.setgroups(os.getgrouplist(account.pw_name,
                                             account.pw_gid))
                os.setresgid(account.pw_gid, account.pw_gid,
                             account.pw_gid)
                os.setresuid(account.pw_uid, account.pw_uid,
                             account.pw_uid)
                self._serve(os.fdopen(requests, "rb"),
                            os.fdopen(replies, "wb"))
            finally:
                os._exit(0)
        os.close(requests)
        os.close(replies)
        self._out = os.fdopen(self._requests, "wb")
        self._in = os.fdopen(self._replies, "rb")

    def run(self, argv, input_path, err_path, env, vsz):
        """ARGV with stdin from INPUT_PATH, stdout to /dev/null, stderr
        to ERR_PATH, environment ENV, under /usr/bin/time -f %M, after
        "ulimit -v VSZ" unless VSZ is 0: (SECONDS, MAXRSS_KB, EXIT)"""
        pickle.dump((list(argv), input_path, err_path, env, vsz),
                    self._out)
        self._out.flush()
        reply = pickle.load(self._in)
        if isinstance(reply, Exception):
            raise reply
        return reply

    def _serve(self, requests, replies):
        while True:
            try:
                request = pickle.load(requests)
            except EOFError:
                return
            try:
                reply = self._time(*request)
            except Exception as e:  # raised again in the parent
                reply = e
            pickle.dump(reply, replies)
            replies.flush()

    def _time(self, argv, input_path, err_path, env, vsz):
        def limit():
            resource.setrlimit(resource.RLIMIT_AS,
                               (vsz * 1024, vsz * 1024))

        open(self.rss_file, "w").close()
        # Start every run with no dirty pages left by earlier runs:
        # their writeback would otherwise land in this run's fsync (ext4
        # commits the journal for all files), and which run pays for it
        # depends on the order
        os.sync()
        with open(input_path, "rb") as stdin, \
                open(err_path, "wb") as stderr:
            t0 = time.perf_counter()
            rc = subprocess.Popen(
                ["/usr/bin/time", "-f", "%M", "-o", self.rss_file, *argv],
                stdin=stdin, stdout=subprocess.DEVNULL, stderr=stderr,
                env=env, preexec_fn=limit if vsz else None).wait()
            t1 = time.perf_counter()
        # GNU time notes a failed command on a line of its own before %M
        with open(self.rss_file) as f:
            lines = f.read().splitlines()
        rss = lines[-1] if lines and lines[-1].isdigit() else "0"
        return "%.6f" % (t1 - t0), rss, rc

    def close(self):
        try:
            self._out.close()
        except OSError:
            pass
        os.waitpid(self.pid, 0)
        self._in.close()


class Bench:
    def __init__(self, args):
        self.args = args
        self.gpgit = os.environ.get("GPGIT") or ""
        self.keep = bool(os.environ.get("BENCH_KEEP"))
        account = os.environ.get("SIEVE_ENCRYPT_TEST_USER") or "nobody"
        self.version = dovecot.dovecot_version()
        self.build = dovecot.Build(os.environ.get("SIEVE_ENCRYPT_BUILD")
                                   or TOP)
        self.work = tempfile.mkdtemp(prefix="sieve-encrypt-bench.",
                                     dir=scratch_base(account))
        os.chmod(self.work, 0o755)
        self.account = account
        self.keys = keys.KeyFactory(os.path.join(self.work, "keys"))
        self.instances = {}
        self.rss_file = os.path.join(self.work, "rss")
        self.timer = None
        self.msg_bytes = {}

    # --- set-up ---------------------------------------------------------

    def modes(self):
        return ["a", "b", "bz", "d", "dslurp"] + (["e"] if self.gpgit
                                                   else [])

    def set_up(self):
        w = self.work
        for sub in ("bin", "msg"):
            os.mkdir(os.path.join(w, sub), 0o755)
        extprograms = None
        for root, _, files in os.walk("/usr/lib/dovecot/modules/sieve"):
            if "lib90_sieve_extprograms_plugin.so" in files:
                extprograms = os.path.join(
                    root, "lib90_sieve_extprograms_plugin.so")
                break
        if extprograms is None:
            die("lib90_sieve_extprograms_plugin.so not found (install "
                "dovecot-sieve)")
        programs = ["pgpmime-filter.sh", "pgpmime-filter-slurp.sh"]
        if self.gpgit:
            programs.append("seed-encrypt.sh")
            shutil.copy(self.gpgit, os.path.join(w, "bin", "gpgit"))
        for name in programs:
            shutil.copy(os.path.join(BENCH, name), os.path.join(w, "bin"))
        for name in os.listdir(os.path.join(w, "bin")):
            os.chmod(os.path.join(w, "bin", name), 0o755)
        for mode in self.modes():
            self.instances[mode] = self.make_instance(mode, extprograms)
        if self.gpgit:
            self.trust_keys()
        self.kill_agents()
        acct = self.instances["b"].account
        open(self.rss_file, "w").close()
        os.chown(self.rss_file, acct.pw_uid, acct.pw_gid)
        self.timer = Timer(acct, self.rss_file)

    def make_instance(self, mode, extprograms):
        """A private Dovecot for case MODE: the plugin (a snapshot of
        the build: others may rebuild while this runs) next to
        Pigeonhole's extprograms, users rsa and cv with their keys"""
        directory = os.path.join(self.work, "case-" + mode)
        os.mkdir(directory)
        inst = dovecot.Instance(directory, self.build, self.version,
                                self.keys, account=self.account)
        shutil.copy(extprograms, inst.plugin_dir)
        inst.global_extensions = {"vnd.x.encrypt": True,
                                  "vnd.dovecot.filter": True}
        if SCRIPTS[mode] is None:
            inst.before_scripts = []
        settings = {"sieve_plugins": "sieve_encrypt sieve_extprograms",
                    "sieve_filter_bin_dir": os.path.join(self.work, "bin"),
                    "sieve_filter_exec_timeout": "600s",
                    "sieve_encrypt_default_keys": "${user}"}
        if mode == "bz":
            settings["sieve_encrypt_compress"] = "yes"
        inst.set(**settings)
        for name, kind in KEYS:
            inst.add_user(name, key=kind)
        if SCRIPTS[mode] is not None:
            inst.global_script(SCRIPTS[mode])
        return inst

    def trust_keys(self):
        """gpgit (Mail::GnuPG) encrypts only to valid keys; the seed has
        each user sign their key with a local key, here it gets
        ultimate trust"""
        for inst in self.instances.values():
            for user in inst.users.values():
                keys.gpg(user.gnupghome, "--import-ownertrust",
                         input=("%s:6:\n" % user.key.fpr).encode())
                for root, dirs, files in os.walk(user.gnupghome):
                    for name in [root] + [os.path.join(root, n)
                                          for n in dirs + files]:
                        os.chown(name, user.uid, user.gid)

    def kill_agents(self):
        self.keys.close()
        for inst in self.instances.values():
            inst.kill_agents()

    def generate_messages(self):
        msg = os.path.join(self.work, "msg")
        out = subprocess.run([sys.executable,
                              os.path.join(BENCH, "genmsg.py"), msg],
                             stdout=subprocess.PIPE)
        if out.returncode != 0:
            die("generating messages failed")
        with open(os.path.join(msg, "sizes"), "wb") as f:
            f.write(out.stdout)
        for line in out.stdout.decode().splitlines():
            name, size = line.split()
            self.msg_bytes[name] = int(size)
            os.chmod(os.path.join(msg, name + ".eml"), 0o644)

    def message(self, msg):
        return os.path.join(self.work, "msg", msg + ".eml")

    # --- one run --------------------------------------------------------

    def user(self, key, mode="b"):
        """KEY's user in the instance of case MODE"""
        return self.instances[mode].users[key]

    def log_path(self, key, mode):
        return os.path.join(self.instances[mode].dir, "logs",
                            "%s-%s.log" % (key, mode))

    def store_path(self, key, mode, name=None):
        """The Maildir NAME (default KEY-MODE) in the instance of case
        MODE"""
        return os.path.join(self.instances[mode].dir, "store",
                            name or "%s-%s" % (key, mode))

    def lda_argv(self, key, mode, store, wrap=(), as_user=False):
        """The dovecot-lda command line of case MODE for KEY's user,
        delivering into the Maildir store_path(KEY, MODE, STORE)"""
        return self.instances[mode].lda_argv(
            self.user(key, mode), "-o", "log_path=%s"
            % self.log_path(key, mode), store=store, wrap=wrap,
            as_user=as_user)

    def gpg_argv(self, key, mode):
        """The raw gpg command line of case c or c0"""
        user = self.user(key)
        argv = ["gpg", "--homedir", user.gnupghome, "--batch", "--no-tty",
                "--quiet", "--trust-model", "always", "--encrypt",
                "--armor", "-r", user.address]
        return argv + (["-z", "0"] if mode == "c0" else [])

    def env(self, key=None, mode="b"):
        """The clean environment of a run as the mail account (with
        the USER and HOME of KEY's user in case MODE)"""
        env = {"PATH": dovecot.PATH}
        if key is not None:
            user = self.user(key, mode)
            env.update(USER=user.address, HOME=user.home)
        return env

    def account_ids(self):
        acct = self.instances["b"].account
        return dict(user=acct.pw_uid, group=acct.pw_gid,
                    extra_groups=os.getgrouplist(acct.pw_name,
                                                 acct.pw_gid))

    def measure(self, argv, input_path, store=None, vsz=0, env=None):
        """One timed run of ARGV by the timer (as the mail account):
        stdin from INPUT_PATH, after "ulimit -v VSZ" unless VSZ is 0.
        STORE, when given, is the Maildir ARGV delivers into: it is
        emptied before, and looked at after the run; ARGV's errors go to
        STORE.err"""
        err_path = os.devnull
        if store is not None:
            os.makedirs(store, exist_ok=True)
            acct = self.instances["b"].account
            os.chown(store, acct.pw_uid, acct.pw_gid)
            for sub in ("new", "cur", "tmp"):
                shutil.rmtree(os.path.join(store, sub), ignore_errors=True)
            err_path = store + ".err"
        secs, rss, rc = self.timer.run(argv, input_path, err_path,
                                       env or self.env(), vsz)
        stored, enc = 0, "-"
        if store is not None:
            path = stored_message(store)
            if path is not None:
                stored = os.path.getsize(path)
                enc = "enc" if is_encrypted(path) else "plain"
        return Run(secs, rss, rc, stored, enc)

    def run_one(self, key, msg, mode, vsz=0):
        if mode in ("c", "c0"):
            return self.measure(self.gpg_argv(key, mode),
                                self.message(msg), vsz=vsz,
                                env=self.env(key))
        name = "%s-%s" % (key, mode)
        return self.measure(self.lda_argv(key, mode, name), self.message(
            msg), store=self.store_path(key, mode, name), vsz=vsz,
            env=self.env(key, mode))

    # --- the main matrix ------------------------------------------------

    def modes_of(self, msg):
        modes = ["a", "b", "bz", "c", "c0", "d"] if msg.endswith("-20m") \
            else ["a", "b", "c", "c0", "d"]
        return modes + (["e"] if self.gpgit else [])

    def skip(self, msg, mode, rep):
        """True for the repetitions (e) leaves out"""
        return mode == "e" and rep > 5 and self.msg_bytes[msg] >= 20000000

    def wait_idle(self):
        for i in range(120):
            load = load_average()
            if float(load) < 0.5:
                break
            if i == 0:
                say("waiting for the load average (%s) to drop below 0.5"
                    % load)
            time.sleep(10)

    def matrix(self):
        results = tsv(os.path.join(self.work, "results.tsv"),
                      ["key", "msg", "bytes", "mode", "rep", "secs",
                       "rss_kb", "rc", "stored", "enc", "ok"])
        keys_ = " ".join(k for k, _ in KEYS)
        for msg in MSGS:
            reps = 1 if self.args.quick else REPS[msg]
            say("%s (%d bytes): %d repetitions of %s for %s" % (
                msg, self.msg_bytes[msg], reps,
                " ".join(self.modes_of(msg)), keys_))
            # warm-up (page cache, first Maildir), not recorded
            for key, _ in KEYS:
                for mode in self.modes_of(msg):
                    self.run_one(key, msg, mode)
            for rep in range(1, reps + 1):
                for key, _ in KEYS:
                    for mode in self.modes_of(msg):
                        if self.skip(msg, mode, rep):
                            continue
                        r = self.run_one(key, msg, mode)
                        ok = "ok"
                        if r.rc != 0 or r.enc != EXPECT.get(mode, "-"):
                            ok = "FAIL"
                            say("FAILED: %s %s %s: exit %d, stored: %s"
                                % (key, msg, mode, r.rc, r.enc))
                        row(results, key, msg, self.msg_bytes[msg], mode,
                            rep, r.secs, r.rss, r.rc, r.stored, r.enc, ok)
        results.close()

    # --- ciphertext sizes, the plugin's own time -------------------------

    def gpg_sizes(self):
        with tsv(os.path.join(self.work, "gpg-sizes.tsv"),
                 ["key", "msg", "mode", "bytes"]) as f:
            for key, _ in KEYS:
                for msg in MSGS:
                    for mode in ("c", "c0"):
                        with open(self.message(msg), "rb") as stdin:
                            proc = subprocess.Popen(
                                self.gpg_argv(key, mode), stdin=stdin,
                                stdout=subprocess.PIPE, env=self.env(),
                                **self.account_ids())
                            n = 0
                            for chunk in iter(lambda: proc.stdout.read(
                                    1 << 20), b""):
                                n += len(chunk)
                            proc.wait()
                        row(f, key, msg, mode, n)

    def plugin_ms(self):
        pattern = re.compile(r"encrypt action: encrypted message to key "
                             r".* \((\d*) -> \d* bytes, (\d*) ms\)")
        with tsv(os.path.join(self.work, "plugin-ms.tsv"),
                 ["key", "msg", "ms"]) as f:
            for key, _ in KEYS:
                if not os.path.exists(self.log_path(key, "b")):
                    continue
                with open(self.log_path(key, "b"), errors="replace") as log:
                    for line in log:
                        m = pattern.search(line)
                        if m:
                            row(f, key, m.group(1), m.group(2))

    # --- 45 MiB under default_vsz_limit (256M) ---------------------------

    def vsz(self):
        say("45 MiB under ulimit -v %d" % VSZ_KB)
        modes = ["a", "b", "d", "dslurp"] + (["e"] if self.gpgit else [])
        bad = re.compile(r"error|fatal|panic|out of memory", re.I)
        with tsv(os.path.join(self.work, "vsz.tsv"),
                 ["key", "mode", "rc", "enc", "rss_kb", "secs",
                  "error"]) as f:
            for key, _ in KEYS:
                for mode in modes:
                    log = self.log_path(key, mode)
                    if os.path.exists(log):
                        open(log, "w").close()
                    r = self.run_one(key, "rand-45m", mode, VSZ_KB)
                    errors = []
                    for path in (self.store_path(key, mode) + ".err", log):
                        if os.path.exists(path):
                            with open(path, errors="replace") as e:
                                errors += [l.rstrip("\n") for l in e
                                           if bad.search(l)]
                    err = ""
                    if errors:
                        err = re.sub(r"^.*: (Error|Fatal|Panic): ", "",
                                     errors[-1][:300]).replace("\t", " ")
                    row(f, key, mode, r.rc, r.enc, r.rss, r.secs, err)

    # --- the stored 45 MiB messages of (b) and (d) decrypt to the original

    def decrypt_check(self):
        say("decrypting the stored 45 MiB messages of (b) and (d)")
        with open(self.message("rand-45m"), "rb") as f:
            original = body_after_header(f.read())
        with tsv(os.path.join(self.work, "decrypt-check.tsv"),
                 ["key", "mode", "result"]) as out:
            for key, _ in KEYS:
                for mode in ("b", "d"):
                    path = stored_message(self.store_path(key, mode),
                                          ("new",))
                    result = "missing"
                    if path is not None:
                        result = "DIFFERENT"
                        if self.decrypted_body(key, path) == original:
                            result = "identical"
                    row(out, key, mode, result)
        self.kill_agents()

    def decrypted_body(self, key, path):
        """The body of the entity in the stored message PATH, decrypted
        with KEY's secret key; (d) encrypted it with the CRLF line ends
        Pigeonhole gave the filter"""
        armor, inside = [], False
        with open(path, "rb") as f:
            for line in f:
                if line.startswith(b"-----BEGIN PGP MESSAGE-----"):
                    inside = True
                if inside:
                    armor.append(line.replace(b"\r", b""))
                    if line.startswith(b"-----END PGP MESSAGE-----"):
                        break
        proc = keys.gpg(self.user(key).key.secret_home, "--decrypt",
                        input=b"".join(armor), check=False)
        return body_after_header(proc.stdout.replace(b"\r", b""))

    # --- where the time of a small delivery goes (strace) ---------------

    def strace(self):
        say("tracing the processes of a 4 KiB delivery")
        with tsv(os.path.join(self.work, "strace.tsv"),
                 ["key", "mode", "pid", "start_ms", "end_ms",
                  "program"]) as f:
            for key, _ in KEYS:
                for mode in ("a", "b", "d"):
                    for p in processes(self.trace(key, mode)):
                        row(f, key, mode, *p)

    def trace(self, key, mode):
        """One delivery of the 4 KiB mail under strace; the trace file"""
        trace = os.path.join(self.instances[mode].dir, "logs",
                             "strace-%s-%s.txt" % (key, mode))
        argv = self.lda_argv(key, mode, "strace", as_user=True, wrap=[
            "strace", "-f", "-ttt", "-qq", "-s", "256", "-e",
            "trace=execve,exit_group", "-o", trace])
        with open(self.message("text-4k"), "rb") as stdin:
            if subprocess.run(argv, stdin=stdin, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL,
                              env=self.env(key, mode)).returncode:
                say("strace run %s %s failed" % (key, mode))
        shutil.rmtree(self.store_path(key, mode, "strace"),
                      ignore_errors=True)
        return trace

    def helpers(self):
        """The helper programs gpgme ran besides the two real gpg
        operations (found by the trace), and gpg's key listing, each
        timed alone"""
        say("timing gpgme's helper programs and a key listing")
        programs = set()
        with open(os.path.join(self.work, "strace.tsv")) as f:
            for line in f.read().splitlines()[1:]:
                fields = line.split("\t")
                if fields[1] == "b" and re.search(
                        r" --(version|list-dirs|list-components)$",
                        fields[5]):
                    programs.add(fields[5])
        cv = self.user("cv")
        timed = [(p, p.split()) for p in sorted(programs)]
        timed.append(("gpg --list-keys (key lookup)",
                      ["gpg", "--homedir", cv.gnupghome, "--batch",
                       "--no-tty", "--with-colons", "--list-keys",
                       "<%s>" % cv.address]))
        with tsv(os.path.join(self.work, "helpers.tsv"),
                 ["program", "rep", "secs"]) as f:
            for label, argv in timed:
                for rep in range(1, 12):
                    row(f, label, rep, self.measure(argv, os.devnull).secs)

    # --- profile --------------------------------------------------------

    def profile(self):
        say("profiling (b) on rand-20m with callgrind (dovecot-lda only)")
        p = os.path.join(self.work, "profile")
        os.mkdir(p)
        acct = self.instances["b"].account
        os.chown(p, acct.pw_uid, acct.pw_gid)
        store = self.store_path("cv", "b", "profile")
        message = self.message("rand-20m")
        # dovecot-lda re-executes itself through doveconf, which hands it
        # the configuration in environment variables named like
        # "PLUGIN/SIEVE_..." that valgrind does not pass on: so follow
        # the exec chain, but not into gpg and its helpers (one output
        # file per process; the forks gpgme makes before exec'ing gpg
        # leave small files too)
        argv = self.lda_argv("cv", "b", "profile", as_user=True, wrap=[
            "valgrind", "-q", "--tool=callgrind", "--trace-children=yes",
            "--trace-children-skip=*/gpg,*/gpgconf,*/gpgsm",
            "--callgrind-out-file=%s/callgrind.out.%%p" % p])
        with open(message, "rb") as stdin, \
                open(os.path.join(p, "valgrind.err"), "wb") as err:
            if subprocess.run(argv, stdin=stdin, stdout=subprocess.DEVNULL,
                              stderr=err, env=self.env("cv")).returncode:
                say("callgrind run failed")
        main = None
        for name in os.listdir(p):
            if not name.startswith("callgrind.out."):
                continue
            with open(os.path.join(p, name), errors="replace") as f:
                for line in f:
                    if line.startswith("summary:"):
                        total = int(line.split()[1])
                        if main is None or total > main[0]:
                            main = (total, os.path.join(p, name))
                        break
        if main is not None:
            for options, name, lines in (
                    ([], "callgrind-self.txt", 16),
                    (["--inclusive=yes"], "callgrind-inclusive.txt", 40)):
                out = command_output(["callgrind_annotate", *options,
                                      "--threshold=99", main[1]])
                text = out.splitlines()
                for i, line in enumerate(text):
                    if "PROGRAM TOTALS" in line:
                        text = text[i:i + lines]
                        break
                else:
                    text = []
                with open(os.path.join(p, name), "w") as f:
                    f.write("".join(l + "\n" for l in text))
            print("callgrind, dovecot-lda, self cost (instructions):")
            with open(os.path.join(p, "callgrind-self.txt")) as f:
                for line in f:
                    print(line.rstrip("\n")[:150])
        shutil.rmtree(store, ignore_errors=True)

        say("profiling (b) on rand-20m with perf (cpu-clock, gpg included)")
        # perf as root (perf_event_paranoid), the delivery as the mail
        # account
        data = os.path.join(p, "perf.data")
        argv = ["perf", "record", "-q", "-e", "cpu-clock", "-F", "2000",
                "-o", data, "--"] + self.lda_argv("cv", "b", "profile",
                                                  as_user=True)
        with open(message, "rb") as stdin, \
                open(os.path.join(p, "perf.err"), "wb") as err:
            if subprocess.run(argv, stdin=stdin, stdout=subprocess.DEVNULL,
                              stderr=err, env=self.env("cv")).returncode:
                say("perf run failed")
        for options, name, lines, title in (
                (["--sort", "comm,dso"], "perf-dso.txt", 12,
                 "perf, samples at 2 kHz (0.5 ms each) by process and "
                 "object:"),
                (["--comm", "dovecot-lda", "--sort", "dso,sym"],
                 "perf-lda.txt", 15, "perf, dovecot-lda by symbol:")):
            out = command_output(["perf", "report", "-i", data, "--stdio",
                                  "-n", *options])
            text = [l for l in out.splitlines() if "%" in l][:lines]
            with open(os.path.join(p, name), "w") as f:
                f.write("".join(l + "\n" for l in text))
            print(title)
            print("\n".join(text))
        shutil.rmtree(store, ignore_errors=True)

    # --- report ---------------------------------------------------------

    def meta(self, times):
        plugin = os.path.join(self.build.plugin_dir,
                              "lib90_sieve_encrypt_plugin.so")
        commit = command_output(["git", "-C", TOP, "rev-parse", "--short",
                                 "HEAD"])
        if command_output(["git", "-C", TOP, "status", "--porcelain",
                           "--", "src"]):
            commit += " (src/ with uncommitted changes)"
        cpu = ram = ""
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    ram = "%.1f GiB" % (int(line.split()[1]) / 1048576)
        with open("/etc/debian_version") as f:
            debian = f.read().strip()
        gpg = command_output(["gpg", "--version"]).splitlines()
        dpkg = ["dpkg-query", "-W", "-f", "${Version}\n"]
        meta = [
            ("date", time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())),
            ("nproc", len(os.sched_getaffinity(0))),
            ("cpu", cpu), ("ram", ram),
            ("kernel", os.uname().release), ("debian", debian),
            ("dovecot", command_output([dovecot.DOVECOT, "--version"])),
            ("pigeonhole", command_output(dpkg + ["dovecot-sieve"])),
            ("gpg", gpg[0].replace("gpg (GnuPG) ", "") if gpg else ""),
            ("libgcrypt", next((l[len("libgcrypt "):] for l in gpg
                                if l.startswith("libgcrypt ")), "")),
            ("gpgme", (command_output(dpkg + ["libgpgme11*"]).splitlines()
                       or [""])[0]),
            ("commit", commit),
            ("plugin_built", time.strftime(
                "%Y-%m-%d %H:%M UTC", time.gmtime(os.path.getmtime(plugin)))),
            ("load_start", times["load_start"]),
            ("load_end", times["load_end"]),
            ("duration", int(times["end"] - times["start"])),
            ("quick", "true" if self.args.quick else "false"),
            ("account", self.account),
            ("scratch", self.work),
            ("gpgit_sha256", command_output(["sha256sum", self.gpgit])
             .split(" ")[0] if self.gpgit else ""),
            ("mail_gnupg", command_output(dpkg + ["libmail-gnupg-perl"])),
        ]
        with open(os.path.join(self.work, "meta.txt"), "w") as f:
            f.write("".join("%s=%s\n" % kv for kv in meta))

    def report(self, out):
        say("writing %s/benchmark.md and %s/benchmark.svg" % (out, out))
        if subprocess.run([sys.executable, os.path.join(BENCH, "report.py"),
                           self.work, out]).returncode:
            die("writing the report failed")
        svg = subprocess.run(["gnuplot", os.path.join(self.work,
                                                      "plot.gp")],
                             stdout=subprocess.PIPE)
        if svg.returncode:
            die("gnuplot failed")
        # gnuplot embeds no date, but keep the file stable: no trailing
        # blanks
        with open(os.path.join(out, "benchmark.svg"), "w") as f:
            f.write("".join(l.rstrip() + "\n" for l in
                            svg.stdout.decode().splitlines()))

    # --- the end --------------------------------------------------------

    def close(self):
        if self.timer is not None:
            self.timer.close()
        self.kill_agents()
        left = leftover_processes(self.work)
        if left:
            sys.stderr.write("run.py: processes left over: %s\n"
                             % "\n".join(left))
        for inst in self.instances.values():
            inst.close(keep=True)
        if self.keep:
            sys.stderr.write("kept scratch directory %s\n" % self.work)
        else:
            shutil.rmtree(self.work, ignore_errors=True)


def processes(trace):
    """Per process of an strace -f -ttt output: pid, start (first
    execve), end (exit_group), both in ms from the first line, and the
    program (the last execve that did not fail: dovecot-lda re-executes
    itself through doveconf), its first 120 characters"""
    start, stop, name, order, t0 = {}, {}, {}, [], None
    with open(trace, errors="replace") as f:
        for line in f:
            fields = line.split()
            if len(fields) < 2:
                continue
            if t0 is None:
                t0 = float(fields[1])
            pid = fields[0]
            if "execve(" in line:
                if pid not in start:
                    start[pid] = float(fields[1])
                    order.append(pid)
                if re.search(r"= -1 ", line):
                    continue
                args = re.sub(r"^[^[]*\[", "", line.rstrip("\n"), count=1)
                args = re.sub(r"\].*", "", args, count=1)
                name[pid] = args.replace('"', "").replace(", ", " ")
            if "exit_group(" in line:
                stop[pid] = float(fields[1])
    return [(pid, "%.1f" % ((start[pid] - t0) * 1000),
             "%.1f" % ((stop.get(pid, 0) - t0) * 1000),
             name.get(pid, "")[:120]) for pid in order]


def leftover_processes(directory):
    """Processes (not zombies) with DIRECTORY on their command line"""
    out = subprocess.run(["ps", "-eo", "pid=,stat=,args="],
                         stdout=subprocess.PIPE).stdout.decode(
                             errors="replace")
    return [line.strip() for line in out.splitlines()
            if directory in line and not line.split()[1].startswith("Z")]


def parse_args():
    parser = argparse.ArgumentParser(
        prog="run.py", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        usage="bench/run.py [--quick] [--profile] [--wait-idle] "
              "[--out DIR]")
    parser.add_argument("--quick", action="store_true",
                        help=argparse.SUPPRESS)
    parser.add_argument("--profile", action="store_true",
                        help=argparse.SUPPRESS)
    parser.add_argument("--wait-idle", action="store_true",
                        help=argparse.SUPPRESS)
    parser.add_argument("--out", default=os.path.join(TOP, "doc"),
                        help=argparse.SUPPRESS)
    return parser.parse_args()


def exit_on_signal(signum, frame):
    sys.exit(130)


def main():
    args = parse_args()
    if os.geteuid() != 0:
        die("run as root (deliveries run as an unprivileged account)")
    os.makedirs(args.out, exist_ok=True)
    out = os.path.abspath(args.out)

    tools = Tools()
    tools.need("/usr/bin/time", "time")
    tools.need("/usr/bin/gnuplot", "gnuplot-nox")
    tools.need("/usr/bin/strace", "strace")
    if args.profile:
        tools.need("/usr/bin/valgrind", "valgrind")
        tools.need("/usr/bin/perf", "linux-perf")
    gpgit = os.environ.get("GPGIT")
    if gpgit:
        if not os.path.isfile(gpgit):
            die("GPGIT=%s: no such file" % gpgit)
        os.environ["GPGIT"] = os.path.abspath(gpgit)
        tools.need("/usr/share/perl5/Mail/GnuPG.pm", "libmail-gnupg-perl")

    signal.signal(signal.SIGTERM, exit_on_signal)
    signal.signal(signal.SIGINT, exit_on_signal)
    say("setting up private Dovecot instances and keys")
    bench = Bench(args)
    try:
        bench.set_up()
        say("generating messages")
        bench.generate_messages()
        if args.wait_idle:
            bench.wait_idle()
        times = {"load_start": load_average(), "start": time.time()}
        if float(times["load_start"]) > 0.5:
            say("warning: load average is %s: other work disturbs the "
                "timings" % times["load_start"])
        bench.matrix()
        bench.gpg_sizes()
        bench.plugin_ms()
        bench.vsz()
        bench.decrypt_check()
        bench.strace()
        bench.helpers()
        times["end"], times["load_end"] = time.time(), load_average()
        if args.profile:
            bench.profile()
        bench.meta(times)
        bench.report(out)
        say("done in %d s; results in %s/benchmark.md"
            % (time.time() - times["start"], out))
        with open(os.path.join(bench.work, "results.tsv")) as f:
            if "FAIL" in f.read():
                say("some runs failed: see the table")
    finally:
        bench.close()


if __name__ == "__main__":
    main()
