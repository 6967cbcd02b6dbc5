"""Private Dovecot 2.3 and 2.4 instances for the integration tests.

An Instance lives in a directory of its own (base_dir, state_dir, log,
users, homes, Maildirs) and loads the plugin and sieve-encrypt-gpg-exec
of the build tree (copies in plugin/, which every mail user can read);
nothing outside the directory is touched. On 2.4 the plugin's settings
module must be installed (make install). Its
configuration is rendered from one template per Dovecot version
(templates/dovecot-2.3.conf, -2.4.conf): a test says what it wants in
version-neutral terms and each template spells it:
  settings        plugin settings: {"sieve_encrypt_policy": "tempfail"};
                  in a value ${user}, ${home}, ${username}, ${domain}
                  become %u, %h, %n, %d (2.3) or %{user}, %{home},
                  %{user | username}, %{user | domain} (2.4); a dict
                  value is a boolean list ({"vnd.x.encrypt": True}:
                  "+vnd.x.encrypt" on 2.3, a block on 2.4)
  before_scripts  the sieve_before scripts, in order
  extra           raw text per version {"2.3": ..., "2.4": ...}, for what
                  has no common form
Users (add_user) are @example.org, with a home under the instance; by
kind of deployment (the `mode`):
  shared      every user on one unprivileged account (nobody); the LMTP
              service as Debian ships it (root, effective uid per user)
  per-user    every user a uid and gid of its own (20001, ...; no system
              account), the LMTP service as shipped
  lmtp-user   every user on the account, and service lmtp { user = it }
              (the "vmail" set-up)
Everything runs as root (the LMTP service needs it; dovecot-lda is run
as the user's ids).
"""

import os
import pwd
import re
import shutil
import socket
import string
import subprocess
import time

from . import keys as keys_mod
from . import lmtp as lmtp_mod

LIBEXEC = os.environ.get("DOVECOT_LIBEXECDIR", "/usr/lib/dovecot")
LDA = os.environ.get("DOVECOT_LDA", os.path.join(LIBEXEC, "dovecot-lda"))
DOVECOT = os.environ.get("DOVECOT_BIN", "/usr/sbin/dovecot")
SIEVEC = os.environ.get("SIEVEC", "sievec")
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DOMAIN = "example.org"
UID_BASE = 20001
MODES = ("shared", "per-user", "lmtp-user")
TEMPLATES = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                         "templates")

VARIABLES = {
    "2.3": {"user": "%u", "home": "%h", "username": "%n", "domain": "%d"},
    "2.4": {"user": "%{user}", "home": "%{home}",
            "username": "%{user | username}",
            "domain": "%{user | domain}"},
}

_SETTING_NAME = re.compile(r"^[a-z0-9_]+$")


def dovecot_version():
    """"2.3" or "2.4", from `dovecot --version`"""
    out = subprocess.run([DOVECOT, "--version"], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, check=True).stdout
    major, minor = out.decode().split(".")[:2]
    return "2.4" if (int(major), int(minor)) >= (2, 4) else "2.3"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Build:
    """The plugin and sieve-encrypt-gpg-exec of a build tree"""

    def __init__(self, top):
        self.top = os.path.abspath(top)
        self.plugin_dir = os.path.join(self.top, "src", ".libs")
        self.gpg_exec = os.path.join(self.top, "src",
                                     "sieve-encrypt-gpg-exec")
        for path in (os.path.join(self.plugin_dir,
                                  "lib90_sieve_encrypt_plugin.so"),
                     self.gpg_exec):
            if not os.path.exists(path):
                raise RuntimeError("not built: %s (run ./configure && "
                                   "make, or set SIEVE_ENCRYPT_BUILD)"
                                   % path)


class User:
    def __init__(self, instance, name, uid, gid, settings):
        self.instance = instance
        self.name = name
        self.address = "%s@%s" % (name, DOMAIN)
        self.home = os.path.join(instance.dir, "home", name)
        self.uid = uid
        self.gid = gid
        self.settings = dict(settings)
        self.key = None

    @property
    def maildir(self):
        return os.path.join(self.home, "Maildir")

    @property
    def gnupghome(self):
        return os.path.join(self.home, ".gnupg")

    @property
    def secret_home(self):
        """The GnuPG home with the secret key, for decrypting"""
        return self.key.secret_home if self.key else None

    def chown(self, path):
        os.chown(path, self.uid, self.gid)


class Delivery:
    """What one dovecot-lda run did"""

    def __init__(self, rc, new_files, log, stderr):
        self.rc = rc
        self.new_files = new_files
        self.log = log
        self.stderr = stderr

    @property
    def stored(self):
        """The one new message file; AssertionError if not exactly one"""
        assert len(self.new_files) == 1, \
            "expected 1 new message file, found %d (rc %d, log: %s)" % (
                len(self.new_files), self.rc, self.log[-500:])
        return self.new_files[0]

    def plugin_sizes(self):
        return plugin_sizes(self.log)


def plugin_sizes(log, session=None):
    """(PLAIN, TOTAL) from the plugin's "encrypted message to key ...
    (PLAIN -> TOTAL bytes" line in LOG (of SESSION, if given), or None"""
    for line in log.splitlines():
        if session and ("<%s>: " % session) not in line:
            continue
        m = re.search(r"encrypt action: encrypted message to key .* "
                      r"\((\d+) -> (\d+) bytes", line)
        if m:
            return int(m.group(1)), int(m.group(2))
    return None


def message_files(maildir, folder=None):
    """The message files of FOLDER (None: all folders) in MAILDIR,
    sorted"""
    found = []
    if not os.path.isdir(maildir):
        return found
    for root, dirs, files in os.walk(maildir):
        base = os.path.basename(root)
        if base not in ("new", "cur"):
            continue
        rel = os.path.relpath(os.path.dirname(root), maildir)
        name = "INBOX" if rel == "." else rel.lstrip(".")
        if folder is None or folder == name:
            found.extend(os.path.join(root, f) for f in files)
    return sorted(found)


class Instance:
    def __init__(self, directory, build, version, keys, mode="shared",
                 account="nobody"):
        if mode not in MODES:
            raise ValueError("unknown mode %r" % mode)
        if os.geteuid() != 0:
            raise RuntimeError("the integration tests run as root")
        self.dir = directory
        self.build = build
        self.version = version
        self.keys = keys
        self.mode = mode
        self.account = pwd.getpwnam(account)
        self.users = {}
        self.settings = {}
        self.global_extensions = {"vnd.x.encrypt": True}
        self.before_scripts = [os.path.join(self.dir, "sieve",
                                            "global.sieve")]
        self.extra = {"2.3": "", "2.4": ""}
        self.protocols = "lmtp"
        self.lmtp_port = None
        self.master_pid = None
        self.conf = os.path.join(self.dir, "dovecot.conf")
        self.log_path = os.path.join(self.dir, "dovecot.log")
        self.deliveries = 0
        os.chmod(self.dir, 0o755)
        for sub in ("run", "state", "home", "sieve", "store", "logs",
                    "plugin"):
            os.mkdir(os.path.join(self.dir, sub))
        # A copy of the build, which every user's dovecot-lda and gpgme
        # must be able to read (a clone under a 0700 /root is not)
        self.plugin_dir = os.path.join(self.dir, "plugin")
        self.gpg_exec = os.path.join(self.plugin_dir,
                                     os.path.basename(build.gpg_exec))
        shutil.copy(os.path.join(build.plugin_dir,
                                 "lib90_sieve_encrypt_plugin.so"),
                    self.plugin_dir)
        shutil.copy(build.gpg_exec, self.gpg_exec)
        os.mkdir(os.path.join(self.dir, "mail-tmp"), 0o1777)
        os.chmod(os.path.join(self.dir, "mail-tmp"), 0o1777)
        open(self.log_path, "w").close()
        open(os.path.join(self.dir, "users"), "w").close()
        # every user's dovecot-lda writes the log and its own logs
        os.chmod(self.log_path, 0o666)
        for sub in ("logs", "store"):
            os.chmod(os.path.join(self.dir, sub), 0o1777)
        self.write_config()

    # --- configuration ------------------------------------------------

    def _value(self, value):
        if isinstance(value, dict):
            if self.version == "2.3":
                return " ".join(("+" if on else "-") + name
                                for name, on in value.items())
            return value
        return string.Template(str(value)).safe_substitute(
            VARIABLES[self.version])

    def _setting_lines(self, settings, indent):
        lines = []
        for name, value in settings.items():
            if not _SETTING_NAME.match(name):
                raise ValueError("bad setting name %r" % name)
            value = self._value(value)
            if isinstance(value, dict):
                lines.append("%s%s {" % (indent, name))
                lines.extend("%s  %s = %s" % (indent, n,
                                              "yes" if on else "no")
                             for n, on in value.items())
                lines.append("%s}" % indent)
            else:
                lines.append("%s%s = %s" % (indent, name, value))
        return "\n".join(lines)

    def _lmtp_service(self):
        lines = []
        if self.lmtp_port:
            addr = "address" if self.version == "2.3" else "listen"
            lines += ["  inet_listener lmtp {",
                      "    %s = 127.0.0.1" % addr,
                      "    port = %d" % self.lmtp_port, "  }"]
        if self.mode == "lmtp-user":
            lines.append("  user = %s" % self.account.pw_name)
        return "\n".join(lines)

    def _before_scripts(self):
        if self.version == "2.3":
            return "\n".join(
                "  sieve_before%s = %s" % ("" if i == 0 else i + 1, path)
                for i, path in enumerate(self.before_scripts))
        return "\n".join(
            "sieve_script before_%d {\n  type = before\n  path = %s\n}"
            % (i + 1, path) for i, path in enumerate(self.before_scripts))

    def write_config(self):
        """(Re)write the configuration; takes effect for the next
        dovecot-lda run, and for LMTP at its next start"""
        preload = os.environ.get("SIEVE_ENCRYPT_PRELOAD")
        indent = "  " if self.version == "2.3" else ""
        with open(os.path.join(TEMPLATES, "dovecot-%s.conf"
                               % self.version)) as f:
            template = string.Template(f.read())
        text = template.substitute(
            instance_name="sieve-encrypt-it-%s"
            % os.path.basename(self.dir),
            dir=self.dir, log=self.log_path, protocols=self.protocols,
            import_environment=(
                "import_environment = TZ CORE_OUTOFMEM CORE_ERROR "
                "LD_PRELOAD ASAN_OPTIONS UBSAN_OPTIONS" if preload else ""),
            lmtp_service=self._lmtp_service(),
            plugin_dir=self.plugin_dir,
            gpg_exec=self.gpg_exec,
            global_extensions=self._value(self.global_extensions)
            if self.version == "2.3" else "\n".join(
                "  %s = %s" % (n, "yes" if on else "no")
                for n, on in self.global_extensions.items()),
            before_scripts=self._before_scripts(),
            settings=self._setting_lines(self.settings, indent),
            extra=self.extra[self.version])
        with open(self.conf, "w") as f:
            f.write(text)

    def set(self, **settings):
        """Add plugin settings and rewrite the configuration"""
        self.settings.update(settings)
        self.write_config()

    # --- users and scripts ----------------------------------------------

    def add_user(self, name, key=None, **settings):
        """Add NAME@example.org; KEY: None (no keyring) or a key kind of
        harness.keys (the user's ~/.gnupg gets its public part); SETTINGS:
        plugin settings for this user only (userdb extra fields for LMTP,
        -o options for dovecot-lda)"""
        if self.mode == "per-user":
            uid = gid = UID_BASE + len(self.users)
        else:
            uid, gid = self.account.pw_uid, self.account.pw_gid
        user = User(self, name, uid, gid, settings)
        os.mkdir(user.home)
        user.chown(user.home)
        if key is not None:
            user.key = self.keys.get(user.address, key)
            user.key.install(user.gnupghome, uid, gid)
        self.users[name] = user
        self._write_userdb()
        return user

    def _write_userdb(self):
        with open(os.path.join(self.dir, "users"), "w") as f:
            for u in self.users.values():
                fields = " ".join(
                    "userdb_%s=%s" % (k, self._value(v).replace("%", "%%"))
                    for k, v in u.settings.items())
                f.write("%s::%d:%d::%s::%s\n" % (u.address, u.uid, u.gid,
                                                 u.home, fields))

    def sievec(self, path):
        proc = subprocess.run([SIEVEC, "-c", self.conf, path],
                              stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, env=self._env())
        if proc.returncode != 0:
            raise RuntimeError("sievec %s failed: %s" % (
                path, proc.stdout.decode(errors="replace")))

    def global_script(self, text, index=0):
        """Install TEXT as sieve_before script INDEX, precompiled (the
        mail account cannot write the binary next to it)"""
        path = self.before_scripts[index]
        with open(path, "w") as f:
            f.write(text.rstrip("\n") + "\n")
        self.sievec(path)

    def user_script(self, name, text):
        """Install TEXT as ~/.dovecot.sieve of user NAME"""
        user = self.users[name]
        path = os.path.join(user.home, ".dovecot.sieve")
        with open(path, "w") as f:
            f.write(text.rstrip("\n") + "\n")
        user.chown(path)

    # --- running things ---------------------------------------------------

    def _env(self, **extra):
        env = {"PATH": PATH}
        preload = os.environ.get("SIEVE_ENCRYPT_PRELOAD")
        if preload:
            env["LD_PRELOAD"] = preload
            for name in ("ASAN_OPTIONS", "UBSAN_OPTIONS"):
                if name in os.environ:
                    env[name] = os.environ[name]
        env.update(extra)
        return env

    def as_user_argv(self, user, argv):
        """ARGV run with USER's ids: its own uid and no supplementary
        groups (per-user), or the mail account with its groups"""
        groups = ("--clear-groups" if self.mode == "per-user"
                  else "--init-groups")
        return ["setpriv", "--reuid=%d" % user.uid, "--regid=%d" % user.gid,
                groups, *argv]

    def lda_argv(self, user, *options, store=None):
        argv = [LDA, "-c", self.conf, "-e", "-f", "sender@example.net",
                "-a", user.address]
        for name, value in user.settings.items():
            value = self._value(value)
            argv += ["-o", ("plugin/%s=%s" if self.version == "2.3"
                            else "%s=%s") % (name, value)]
        if store is not None:
            path = os.path.join(self.dir, "store", store)
            argv += ["-o", ("mail_location=maildir:%s" % path
                            if self.version == "2.3"
                            else "mail_path=%s" % path)]
        return self.as_user_argv(user, argv + list(options))

    def lda(self, name, message, *options, store=None, timeout=300,
            log_name=None):
        """Deliver MESSAGE (bytes) to NAME with dovecot-lda -e as the
        user, logging into a file of this delivery's own. Returns a
        Delivery: exit code (0 stored, 75 temporary failure), the new
        message files, the log. LOG_NAME: the log file's name in logs/
        (default: a running number and the user's name); deliveries
        run from several threads at once must each give their own."""
        user = self.users[name]
        self.deliveries += 1
        log = os.path.join(self.dir, "logs", log_name or "%d-%s.log"
                           % (self.deliveries, name))
        maildir = (os.path.join(self.dir, "store", store) if store
                   else user.maildir)
        before = set(message_files(maildir))
        proc = subprocess.run(
            self.lda_argv(user, "-o", "log_path=%s" % log, *options,
                          store=store),
            input=message, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=self._env(USER=user.address, HOME=user.home),
            timeout=timeout)
        new = [f for f in message_files(maildir) if f not in before]
        text = ""
        if os.path.exists(log):
            with open(log, errors="replace") as f:
                text = f.read()
        return Delivery(proc.returncode, new, text,
                        proc.stderr.decode(errors="replace"))

    def log(self):
        """The instance log (LMTP and what did not log elsewhere)"""
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def lmtp_start(self):
        """Start the master with an LMTP listener on a free port of
        127.0.0.1; returns when it accepts connections"""
        self.lmtp_port = free_port()
        self.write_config()
        # into a file, not a pipe: the daemon keeps its stdout open
        out_path = os.path.join(self.dir, "dovecot-start.out")
        with open(out_path, "wb") as out:
            proc = subprocess.run([DOVECOT, "-c", self.conf], stdout=out,
                                  stderr=subprocess.STDOUT, env=self._env())
        if proc.returncode != 0:
            with open(out_path, errors="replace") as f:
                raise RuntimeError("starting dovecot failed: %s\n%s" % (
                    f.read(2000), self.log()[-1000:]))
        for _ in range(200):
            if self.master_pid is None:
                self.master_pid = self._read_master_pid()
            try:
                socket.create_connection(("127.0.0.1", self.lmtp_port),
                                         timeout=1).close()
                if self.master_pid is not None:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        self.lmtp_stop()
        raise RuntimeError("LMTP on port %d did not come up: %s" % (
            self.lmtp_port, self.log()[-1000:]))

    def _read_master_pid(self):
        try:
            with open(os.path.join(self.dir, "run", "master.pid")) as f:
                return int(f.read().strip() or 0) or None
        except (OSError, ValueError):
            return None

    def lmtp_stop(self):
        """Stop the master started by lmtp_start and wait for it"""
        pid = self.master_pid or self._read_master_pid()
        if pid is None:
            return
        subprocess.run([DOVECOT, "-c", self.conf, "stop"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        else:
            os.kill(pid, 9)
        self.master_pid = None

    def lmtp(self, timeout=None):
        """An LMTP client connected to the running instance"""
        return lmtp_mod.Client(self.lmtp_port, timeout=timeout)

    def leftover_processes(self):
        """Processes (not zombies) with this instance's directory on
        their command line: a gpg-agent, a dovecot child"""
        out = subprocess.run(["ps", "-eo", "pid=,stat=,args="],
                             stdout=subprocess.PIPE).stdout.decode(
                                 errors="replace")
        return [line.strip() for line in out.splitlines()
                if self.dir in line and not line.split()[1].startswith("Z")]

    def kill_agents(self):
        for root, dirs, files in os.walk(self.dir):
            if "pubring.kbx" in files:
                keys_mod.kill_agent(root)

    def close(self, keep=False):
        """Stop LMTP and the agents; kill what still runs of the
        instance (a test that checks for leftovers does so before);
        remove the directory unless KEEP"""
        self.lmtp_stop()
        self.kill_agents()
        for line in self.leftover_processes():
            try:
                os.kill(int(line.split()[0]), 9)
            except ProcessLookupError:
                pass
        if not keep:
            shutil.rmtree(self.dir, ignore_errors=True)
