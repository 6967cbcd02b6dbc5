# Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
"""Private Dovecot 2.3 and 2.4 instances for the integration tests.

An Instance lives in a directory of its own (base_dir, state_dir, log,
users, homes, Maildirs) and loads the plugin and sieve-encrypt-gpg-exec
of the build tree (copies in plugin/, which every mail user can read);
nothing outside the directory is touched. On 2.4 the plugin's settings
module must be installed (make install). Its
configuration is rendered from templates per Dovecot version
(templates/instance-2.3.conf and sieve-2.3.conf, the same for 2.4: the
private instance, and the plugin's part): a test says what it wants in
version-neutral terms and each template spells it:
  settings        plugin settings: {"sieve_encrypt_policy": "tempfail"};
                  in a value ${user}, ${home}, ${username}, ${domain}
                  become %u, %h, %n, %d (2.3) or %{user}, %{home},
                  %{user | username}, %{user | domain} (2.4); a dict
                  value is a boolean list ({"vnd.x.encrypt": True}:
                  "+vnd.x.encrypt" on 2.3, a block on 2.4)
  before_scripts  the sieve_before scripts, in order
  protocols       what the master serves ("lmtp"); with "sieve" or
                  "imap" in it, lmtp_start() adds a ManageSieve or IMAP
                  listener on a free port (managesieve_port, imap_port;
                  users log in with add_user's password)
  imapsieve       IMAPSieve rules, (mailbox, causes, script path) each:
                  the imap_sieve mail plugin and the sieve_imapsieve Sieve
                  plugin are loaded (Pigeonhole's copy of the plugin goes
                  next to ours) and each rule runs its script as the
                  mailbox's "before" script for those causes
                  (imapsieve_mailboxN_* on 2.3, mailbox { sieve_script }
                  on 2.4)
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
import sys
import time

from . import keys as keys_mod
from . import lmtp as lmtp_mod

LIBEXEC = os.environ.get("DOVECOT_LIBEXECDIR", "/usr/lib/dovecot")
LDA = os.environ.get("DOVECOT_LDA", os.path.join(LIBEXEC, "dovecot-lda"))
DOVECOT = os.environ.get("DOVECOT_BIN", "/usr/sbin/dovecot")
SIEVE_MODULEDIR = os.environ.get("DOVECOT_SIEVE_MODULEDIR",
                                 "/usr/lib/dovecot/modules/sieve")
IMAPSIEVE_PLUGIN = "lib90_sieve_imapsieve_plugin.so"
SIEVEC = os.environ.get("SIEVEC", "sievec")
SUBREAPER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                         "..", "tools", "subreaper.py")
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
        self.password = None

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
        self.imapsieve = []
        self.protocols = "lmtp"
        self.lmtp_port = None
        self.managesieve_port = None
        self.imap_port = None
        self.master_pid = None
        self._reaper = None
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

    def _login_services(self):
        """The listeners of the login services the protocols ask for
        (ManageSieve, IMAP), on 127.0.0.1"""
        addr = "address" if self.version == "2.3" else "listen"
        lines = []
        for service, listener, port in (
                ("managesieve-login", "sieve", self.managesieve_port),
                ("imap-login", "imap", self.imap_port)):
            if port:
                lines += ["service %s {" % service,
                          "  inet_listener %s {" % listener,
                          "    %s = 127.0.0.1" % addr,
                          "    port = %d" % port, "  }", "}"]
        return "\n".join(lines)

    def _before_scripts(self):
        if self.version == "2.3":
            return "\n".join(
                "  sieve_before%s = %s" % ("" if i == 0 else i + 1, path)
                for i, path in enumerate(self.before_scripts))
        return "\n".join(
            "sieve_script before_%d {\n  type = before\n  path = %s\n}"
            % (i + 1, path) for i, path in enumerate(self.before_scripts))

    def _sieve_plugins(self):
        plugins = ["sieve_encrypt"]
        if self.imapsieve:
            plugins.append("sieve_imapsieve")
            self.add_imapsieve_plugin()
        if self.version == "2.3":
            return " ".join(plugins)
        return "\n".join("  %s = yes" % p for p in plugins)

    def add_imapsieve_plugin(self):
        """Put Pigeonhole's sieve_imapsieve plugin next to ours
        (sieve_plugin_dir is the instance's plugin directory)"""
        target = os.path.join(self.plugin_dir, IMAPSIEVE_PLUGIN)
        if not os.path.exists(target):
            shutil.copy(os.path.join(SIEVE_MODULEDIR, IMAPSIEVE_PLUGIN),
                        target)

    def _imapsieve(self):
        """The IMAPSieve part: the mail plugin and the rules"""
        if not self.imapsieve:
            return ""
        if self.version == "2.3":
            lines = ["protocol imap {",
                     "  mail_plugins = $mail_plugins imap_sieve", "}",
                     "plugin {"]
            for i, (mailbox, causes, path) in enumerate(self.imapsieve, 1):
                lines += ["  imapsieve_mailbox%d_name = %s" % (i, mailbox),
                          "  imapsieve_mailbox%d_causes = %s"
                          % (i, " ".join(causes)),
                          "  imapsieve_mailbox%d_before = file:%s"
                          % (i, path)]
            return "\n".join(lines + ["}"])
        lines = ["protocol imap {", "  mail_plugins {",
                 "    imap_sieve = yes", "  }", "}"]
        for i, (mailbox, causes, path) in enumerate(self.imapsieve, 1):
            lines += ["mailbox %s {" % mailbox,
                      "  sieve_script imapsieve_%d {" % i,
                      "    type = before",
                      "    cause = %s" % " ".join(causes),
                      "    path = %s" % path, "  }", "}"]
        return "\n".join(lines)

    def _template(self, part):
        with open(os.path.join(TEMPLATES, "%s-%s.conf"
                               % (part, self.version))) as f:
            return string.Template(f.read())

    def instance_config(self, userdb=None):
        """The instance part of the configuration (templates/instance-
        VERSION.conf: paths, log, passwd-file users from USERDB (default
        the instance's), the LMTP service), for a test that brings the
        plugin's configuration itself"""
        preload = os.environ.get("SIEVE_ENCRYPT_PRELOAD")
        return self._template("instance").substitute(
            instance_name="sieve-encrypt-it-%s"
            % os.path.basename(self.dir),
            dir=self.dir, log=self.log_path, protocols=self.protocols,
            userdb=userdb or os.path.join(self.dir, "users"),
            import_environment=(
                "import_environment = TZ CORE_OUTOFMEM CORE_ERROR "
                "LD_PRELOAD ASAN_OPTIONS UBSAN_OPTIONS" if preload else ""),
            lmtp_service=self._lmtp_service(),
            login_services=self._login_services())

    def sieve_config(self):
        """The plugin part (templates/sieve-VERSION.conf), from the
        instance's settings, scripts and extra text"""
        indent = "  " if self.version == "2.3" else ""
        return self._template("sieve").substitute(
            plugin_dir=self.plugin_dir,
            gpg_exec=self.gpg_exec,
            global_extensions=self._value(self.global_extensions)
            if self.version == "2.3" else "\n".join(
                "  %s = %s" % (n, "yes" if on else "no")
                for n, on in self.global_extensions.items()),
            before_scripts=self._before_scripts(),
            settings=self._setting_lines(self.settings, indent),
            sieve_plugins=self._sieve_plugins(),
            imapsieve=self._imapsieve(),
            extra=self.extra[self.version])

    def write_config(self, text=None):
        """(Re)write the configuration: TEXT, or the instance and the
        plugin parts. Takes effect for the next dovecot-lda run, and for
        LMTP at its next start."""
        if text is None:
            text = self.instance_config() + "\n" + self.sieve_config()
        with open(self.conf, "w") as f:
            f.write(text)

    def set(self, **settings):
        """Add plugin settings and rewrite the configuration"""
        self.settings.update(settings)
        self.write_config()

    # --- users and scripts ----------------------------------------------

    def add_user(self, name, key=None, password=None, **settings):
        """Add NAME@example.org; KEY: None (no keyring) or a key kind of
        harness.keys (the user's ~/.gnupg gets its public part); PASSWORD:
        None (no login) or a plain-text password for the passdb (IMAP,
        ManageSieve); SETTINGS: plugin settings for this user only (userdb
        extra fields for LMTP, -o options for dovecot-lda)"""
        if self.mode == "per-user":
            uid = gid = UID_BASE + len(self.users)
        else:
            uid, gid = self.account.pw_uid, self.account.pw_gid
        user = User(self, name, uid, gid, settings)
        user.password = password
        os.mkdir(user.home)
        user.chown(user.home)
        if key is not None:
            user.key = self.keys.get(user.address, key)
            user.key.install(user.gnupghome, uid, gid)
        self.users[name] = user
        self._write_userdb()
        return user

    def set_user(self, name, **settings):
        """Change the per-user settings of user NAME (a value None removes
        the setting) and rewrite the userdb; takes effect for the next
        delivery (LMTP reads the userdb per recipient)"""
        user = self.users[name]
        for key, value in settings.items():
            if value is None:
                user.settings.pop(key, None)
            else:
                user.settings[key] = value
        self._write_userdb()

    def _write_userdb(self):
        with open(os.path.join(self.dir, "users"), "w") as f:
            for u in self.users.values():
                fields = " ".join(
                    "userdb_%s=%s" % (k, self._value(v).replace("%", "%%"))
                    for k, v in u.settings.items())
                password = ("{PLAIN}%s" % u.password if u.password
                            else "")
                f.write("%s:%s:%d:%d::%s::%s\n" % (u.address, password,
                                                   u.uid, u.gid, u.home,
                                                   fields))

    def sievec(self, path):
        proc = subprocess.run([SIEVEC, "-c", self.conf, path],
                              stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, env=self._env())
        if proc.returncode != 0:
            raise RuntimeError("sievec %s failed: %s" % (
                path, proc.stdout.decode(errors="replace")))

    def run_sievec(self, path):
        """Run sievec on PATH with this configuration, as sievec() does,
        but without raising: the CompletedProcess, its stdout holding
        sievec's output and errors (to check the messages it gives)"""
        return subprocess.run([SIEVEC, "-c", self.conf, path],
                              stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, env=self._env())

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

    def lda_argv(self, user, *options, store=None, wrap=(), as_user=True):
        """The command line of dovecot-lda for USER; WRAP: a command
        (argv prefix, e.g. strace with its options) that runs
        dovecot-lda, as the user. AS_USER False: without the setpriv in
        front, for a caller that starts it with USER's ids itself (the
        benchmark, which times the run and wants no extra exec in it)"""
        argv = [*wrap, LDA, "-c", self.conf, "-e", "-f",
                "sender@example.net", "-a", user.address]
        for name, value in user.settings.items():
            value = self._value(value)
            argv += ["-o", ("plugin/%s=%s" if self.version == "2.3"
                            else "%s=%s") % (name, value)]
        if store is not None:
            path = os.path.join(self.dir, "store", store)
            argv += ["-o", ("mail_location=maildir:%s" % path
                            if self.version == "2.3"
                            else "mail_path=%s" % path)]
        argv += list(options)
        return self.as_user_argv(user, argv) if as_user else argv

    def message_file(self, message, name):
        """MESSAGE (bytes) in the file NAME of the instance's input/
        directory, readable by every user; returns its path (for lda's
        message_file)"""
        directory = os.path.join(self.dir, "input")
        os.makedirs(directory, mode=0o755, exist_ok=True)
        path = os.path.join(directory, name)
        with open(path, "wb") as f:
            f.write(message)
        os.chmod(path, 0o644)
        return path

    def lda(self, name, message, *options, store=None, timeout=300,
            prefix=(), wrap=(), message_file=None, log_name=None):
        """Deliver MESSAGE (bytes) to NAME with dovecot-lda -e as the
        user, logging into a file of this delivery's own. Returns a
        Delivery: exit code (0 stored, 75 temporary failure), the new
        message files, the log. PREFIX: argv run in front of the whole
        delivery, as root (e.g. strace -f); WRAP: see lda_argv (as the
        user). MESSAGE_FILE: a regular file holding MESSAGE (see
        message_file()), given as standard input instead of a pipe
        (seekable: dovecot-lda makes no temporary copy of it). LOG_NAME:
        the log file's name in logs/ (default: a running number and the
        user's name); deliveries run from several threads at once must
        each give their own."""
        user = self.users[name]
        self.deliveries += 1
        log = os.path.join(self.dir, "logs", log_name or "%d-%s.log"
                           % (self.deliveries, name))
        maildir = (os.path.join(self.dir, "store", store) if store
                   else user.maildir)
        before = set(message_files(maildir))
        argv = list(prefix) + self.lda_argv(
            user, "-o", "log_path=%s" % log, *options, store=store,
            wrap=wrap)
        env = self._env(USER=user.address, HOME=user.home)
        if message_file is None:
            proc = subprocess.run(argv, input=message,
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, env=env,
                                  timeout=timeout)
        else:
            with open(message_file, "rb") as stdin:
                proc = subprocess.run(argv, stdin=stdin,
                                      stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, env=env,
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

    def lmtp_start(self, config=None, reaper_log=None):
        """Start the master with an LMTP listener on a free port of
        127.0.0.1 (and a ManageSieve one if "sieve" is in protocols);
        returns when it accepts connections. CONFIG: a function that
        returns the configuration's text (called once the ports are
        chosen; default: the instance's own). REAPER_LOG: a file; the
        master then runs in the foreground under tests/tools/subreaper.py,
        which reaps every orphan of the instance's processes (each gpg
        run: gpgme double-forks it) and logs it there, one line each
        ("reaped PID COMM exit=N")"""
        self.lmtp_port = free_port()
        if "sieve" in self.protocols.split():
            self.managesieve_port = free_port()
        if "imap" in self.protocols.split():
            self.imap_port = free_port()
        self.write_config(config() if config else None)
        # into a file, not a pipe: the daemon keeps its stdout open
        out_path = os.path.join(self.dir, "dovecot-start.out")
        with open(out_path, "wb") as out:
            if reaper_log:
                self._reaper = subprocess.Popen(
                    [sys.executable, SUBREAPER, reaper_log, "--", DOVECOT,
                     "-F", "-c", self.conf], stdout=out,
                    stderr=subprocess.STDOUT, env=self._env())
                returncode = 0
            else:
                returncode = subprocess.run(
                    [DOVECOT, "-c", self.conf], stdout=out,
                    stderr=subprocess.STDOUT, env=self._env()).returncode
        if returncode != 0:
            with open(out_path, errors="replace") as f:
                raise RuntimeError("starting dovecot failed: %s\n%s" % (
                    f.read(2000), self.log()[-1000:]))
        ports = [p for p in (self.lmtp_port, self.managesieve_port,
                             self.imap_port) if p]
        for _ in range(200):
            if self.master_pid is None:
                self.master_pid = self._read_master_pid()
            try:
                for port in ports:
                    socket.create_connection(("127.0.0.1", port),
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
        if self._reaper is not None:
            # it gives the orphans still running 5 s, then kills them
            self._reaper.wait(timeout=30)
            self._reaper = None

    @property
    def reaper_pid(self):
        """The pid of the subreaper the master runs under (lmtp_start
        with a reaper_log), else None"""
        return self._reaper.pid if self._reaper is not None else None

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
