# Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
"""Issue 12, the attacks on the gpg the plugin runs (doc/threat-model.md),
tried as a hostile user would, through real deliveries (was
tests/e2e/test-hostile-gpg.sh):

  0  a well-behaved delivery: the checks pass
  1  privileges: the ids, groups and capabilities of every gpg run; a
     ~/.gnupg/gpg.conf with "agent-program ~/prog.sh" and "with-secret"
     (which makes gpg start the agent): prog.sh must never run
  2  gpg.conf options that change the result: group, encrypt-to,
     hidden-encrypt-to, dry-run, armor: stored encrypted to exactly the
     user's key, or a failure per policy (tempfail here), never a success
     with other content
  4  a damaged keyring (pubring.kbx garbage, truncated, a directory),
     with the test form "if encrypt": an Error and the policy (keep and
     tempfail), not "no key"
  5  a gpg that hangs (tests/svtest/bin/gpg-hang, gpg-hang-encrypt) with
     sieve_encrypt_timeout = 3s: killed at the deadline, no process left,
     the policy applies

Paths (the first part of each test id): "lda" (dovecot-lda as the user's
own uid), "lmtp-root" (LMTP as Dovecot ships it: root, effective uid
lowered per recipient; every user has a uid of its own), and for 1 and 5
also "lmtp-vmail" (service lmtp { user = ACCOUNT }, all users on that
account; an instance of its own). Each case is delivered once (by the
first test that needs it); its tests check what that delivery did. See
harness/hostile.py for how gpg is observed and what each expectation
checks. The global script is the admin how-to's: encrypt to the envelope
recipient with the test form.

User names stay short: the keys' GnuPG homes (named after them) hold
gpg-agent's sockets, whose paths have a limit."""

import grp
import os
import subprocess

import pytest

from harness import keys as keys_mod
from harness.hostile import Hostile

PATHS = ("lda", "lmtp-root")
POLICIES = ("keep", "tempfail")

GLOBAL_SCRIPT = '''require ["vnd.x.encrypt", "envelope", "variables"];
if envelope :matches "to" "*" {
  if encrypt "${1}" { }
}'''

EVE = "eve@example.net"
# gpg.conf option -> user
C2_USERS = {"group": "c2-group", "encrypt-to": "c2-encto",
            "hidden-encrypt-to": "c2-hidden", "dry-run": "c2-dryrun",
            "armor": "c2-armor"}
# damage of pubring.kbx -> user name prefix
C4_USERS = {"garbage": "c4g-", "truncated": "c4t-", "directory": "c4d-"}
# (fake gpg, policy) -> user
C5_USERS = {("hang-encrypt", "keep"): "c5e-keep",
            ("hang-encrypt", "tempfail"): "c5e-tempfail",
            ("hang", "tempfail"): "c5l-tempfail"}


def chown_tree(user, top):
    for root, dirs, files in os.walk(top):
        for name in [root] + [os.path.join(root, n) for n in dirs + files]:
            os.lchown(name, user.uid, user.gid)


def append(path, text):
    with open(path, "a") as f:
        f.write(text)


def add_mallory(h, policy):
    """User c1-mallory, whose gpg.conf makes gpg start an "agent" of
    their own, ~/prog.sh, which records that it ran (and as whom)"""
    user = h.inst.add_user("c1-mallory", key="valid",
                           sieve_encrypt_on_failure=policy)
    prog = h.install_prog("c1-mallory")
    append(os.path.join(user.gnupghome, "gpg.conf"),
           "agent-program %s\nwith-secret\n" % prog)
    chown_tree(user, user.home)


def add_c2_user(h, option, eve):
    """A user (policy tempfail) whose gpg.conf has OPTION; eve's public
    key is in the keyring, for the options that name a recipient"""
    name = C2_USERS[option]
    user = h.inst.add_user(name, key="valid",
                           sieve_encrypt_on_failure="tempfail")
    exported = keys_mod.gpg(eve.public_home, "--armor", "--export", "--",
                            eve.fpr).stdout
    keys_mod.gpg(user.gnupghome, "--import", input=exported)
    if option == "group":
        # gpgme names the key by fingerprint (-r FPR): a group of that
        # name (and of the address) that means eve
        line = "group %s = %s\ngroup %s = %s\n" % (
            user.key.fpr, eve.fpr, user.address, eve.fpr)
    elif option in ("encrypt-to", "hidden-encrypt-to"):
        line = "%s %s\n" % (option, eve.fpr)
    else:
        line = option + "\n"
    append(os.path.join(user.gnupghome, "gpg.conf"), line)
    chown_tree(user, user.gnupghome)


def add_c4_user(h, damage, policy):
    """A user whose pubring.kbx is damaged so"""
    user = h.inst.add_user(C4_USERS[damage] + policy, key="valid",
                           sieve_encrypt_on_failure=policy)
    kbx = os.path.join(user.gnupghome, "pubring.kbx")
    if damage == "garbage":
        with open(kbx, "wb") as f:
            f.write(os.urandom(4096))
    elif damage == "truncated":
        os.truncate(kbx, os.path.getsize(kbx) // 2)
    else:
        os.unlink(kbx)
        os.mkdir(kbx)
    chown_tree(user, user.gnupghome)


def add_hang_user(h, fake, policy):
    """A user whose gpg is the (recorded) FAKE, with a deadline of 3 s"""
    h.inst.add_user(C5_USERS[fake, policy], key="valid",
                    sieve_encrypt_gpg_binary=h.binary("gpg-record-" + fake),
                    sieve_encrypt_timeout="3s",
                    sieve_encrypt_on_failure=policy)


@pytest.fixture(scope="module")
def per_user(make_module_instance, keyfactory):
    """Every user a uid of its own: dovecot-lda and Dovecot's default
    LMTP service"""
    inst = make_module_instance("per-user")
    h = Hostile(inst)
    inst.global_script(GLOBAL_SCRIPT)
    eve = keyfactory.get(EVE)
    inst.add_user("c0-alice", key="valid")
    add_mallory(h, "keep")
    for option in C2_USERS:
        add_c2_user(h, option, eve)
    for damage in C4_USERS:
        for policy in POLICIES:
            add_c4_user(h, damage, policy)
    for fake, policy in C5_USERS:
        add_hang_user(h, fake, policy)
    inst.kill_agents()
    inst.lmtp_start()
    return h


def internal_group(inst):
    """The name of Dovecot's default_internal_group in INST's config"""
    return subprocess.run(
        ["doveconf", "-c", inst.conf, "-h", "default_internal_group"],
        stdout=subprocess.PIPE, check=True).stdout.decode().strip()


@pytest.fixture(scope="module")
def vmail(make_module_instance):
    """One account for all users: service lmtp { user = ACCOUNT }. gpg
    cannot lose the service's extra groups there (no privilege left to do
    so): the plugin refuses unless the admin allows them
    (test-gpg-exec.sh shows the refusal); allowed here, gpg must have
    nothing more"""
    inst = make_module_instance("lmtp-user")
    h = Hostile(inst)
    inst.global_script(GLOBAL_SCRIPT)
    add_mallory(h, "tempfail")
    add_hang_user(h, "hang-encrypt", "tempfail")
    inst.kill_agents()
    h.internal_group = internal_group(inst)
    inst.set(sieve_encrypt_gpg_allowed_groups=h.internal_group)
    inst.lmtp_start()
    return h


def hostile_for(request, path):
    return request.getfixturevalue("vmail" if path == "lmtp-vmail"
                                   else "per_user")


def no_plaintext(h, d, allowed=()):
    found = h.plaintext_files(d, allowed)
    assert not found, "plaintext in: %s (%s)" % (" ".join(found[:4]),
                                                  d.outcome())


def no_process_left(d):
    assert d.leftovers == [], "still running: %s" % "; ".join(
        d.leftovers[:3])


def kept(d, policy):
    """The file that may hold the plaintext: the original kept by policy
    keep"""
    return d.new if policy == "keep" else ()


# --- class 0: a well-behaved delivery ------------------------------------

def c0_delivery(h, path):
    return h.once(("c0", path), lambda: h.deliver(
        path, ["c0-alice"], h.message("plain")))


@pytest.mark.parametrize("path", PATHS)
def test_c0_control_stored_encrypted_to_user_only(per_user, path):
    problem = per_user.encrypted_problem(c0_delivery(per_user, path),
                                         "c0-alice")
    assert problem is None, problem


@pytest.mark.parametrize("path", PATHS)
def test_c0_control_no_plaintext(per_user, path):
    no_plaintext(per_user, c0_delivery(per_user, path))


@pytest.mark.parametrize("path", PATHS)
def test_c0_control_no_process_left(per_user, path):
    no_process_left(c0_delivery(per_user, path))


# --- class 1: privileges, agent-program ------------------------------------

C1_PATHS = PATHS + ("lmtp-vmail",)


def c1_delivery(h, path):
    return h.once(("c1", path), lambda: h.deliver(
        path, ["c1-mallory"], h.message("plain")))


@pytest.mark.parametrize("path", C1_PATHS)
def test_c1_gpg_runs_with_user_ids_only_no_capabilities(request, path):
    """Every gpg run: real = effective = saved uid and gid of the user,
    no other group, no capability. lmtp-vmail: the account's ids, and
    besides the account's groups only the allowed one (Dovecot's internal
    group, which a service running as the account cannot drop); or no
    gpg run at all and a failure per policy (the plugin refused)"""
    h = hostile_for(request, path)
    d = c1_delivery(h, path)
    extra = ()
    if path == "lmtp-vmail":
        extra = (grp.getgrnam(h.internal_group).gr_gid,)
    problem = h.creds_problem(d, "c1-mallory", extra)
    if problem and path == "lmtp-vmail" and not d.run_pids() and \
            h.policy_problem(d, "tempfail", "encrypt") is None:
        problem = None  # gpg refused, failed per policy
    assert problem is None, problem


@pytest.mark.parametrize("path", C1_PATHS)
def test_c1_agent_program_never_runs(request, path):
    """agent-program from ~/.gnupg/gpg.conf never runs"""
    d = c1_delivery(hostile_for(request, path), path)
    assert d.prog_ran == "", "prog.sh ran: %s" % d.prog_ran[:200]


@pytest.mark.parametrize("path", C1_PATHS)
def test_c1_gpg_conf_ignored_stored_encrypted(request, path):
    """gpg.conf ignored, stored encrypted to the user's key only
    (lmtp-vmail: or gpg refused, failed per policy tempfail)"""
    h = hostile_for(request, path)
    d = c1_delivery(h, path)
    if path == "lmtp-vmail" and d.out != "stored" and not d.run_pids():
        problem = h.policy_problem(d, "tempfail", "encrypt")
    else:
        problem = h.encrypted_problem(d, "c1-mallory")
    assert problem is None, problem


@pytest.mark.parametrize("path", C1_PATHS)
def test_c1_no_plaintext(request, path):
    h = hostile_for(request, path)
    no_plaintext(h, c1_delivery(h, path))


@pytest.mark.parametrize("path", C1_PATHS)
def test_c1_no_process_left(request, path):
    """No gpg or gpg-agent process left"""
    no_process_left(c1_delivery(hostile_for(request, path), path))


# --- class 2: gpg.conf options that change the result ------------------------

def c2_delivery(h, path, option):
    return h.once(("c2", path, option), lambda: h.deliver(
        path, [C2_USERS[option]], h.message("plain")))


@pytest.mark.parametrize("option", sorted(C2_USERS))
@pytest.mark.parametrize("path", PATHS)
def test_c2_gpg_conf_option_encrypted_to_user_only_or_tempfail(
        per_user, path, option):
    """Encrypted to the user's key only, or a failure per policy
    tempfail"""
    d = c2_delivery(per_user, path, option)
    problem = per_user.encrypted_or_policy_problem(d, C2_USERS[option],
                                                   "tempfail", "encrypt")
    assert problem is None, problem


@pytest.mark.parametrize("option", sorted(C2_USERS))
@pytest.mark.parametrize("path", PATHS)
def test_c2_gpg_conf_option_no_plaintext(per_user, path, option):
    no_plaintext(per_user, c2_delivery(per_user, path, option))


# --- class 4: a damaged keyring -------------------------------------------

def c4_delivery(h, path, damage, policy):
    return h.once(("c4", path, damage, policy), lambda: h.deliver(
        path, [C4_USERS[damage] + policy], h.message("plain")))


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("damage", sorted(C4_USERS))
@pytest.mark.parametrize("path", PATHS)
def test_c4_damaged_keyring_if_encrypt_error_then_policy(per_user, path,
                                                         damage, policy):
    """pubring.kbx damaged, the test form "if encrypt": an Error, then
    the policy (not "no key")"""
    d = c4_delivery(per_user, path, damage, policy)
    problem = per_user.policy_problem(d, policy, "encrypt")
    assert problem is None, problem


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("damage", sorted(C4_USERS))
@pytest.mark.parametrize("path", PATHS)
def test_c4_damaged_keyring_no_plaintext(per_user, path, damage, policy):
    """No plaintext in any file but the original kept by policy keep"""
    d = c4_delivery(per_user, path, damage, policy)
    no_plaintext(per_user, d, kept(d, policy))


# --- class 5: a hanging gpg ------------------------------------------------

C5_PARAMS = [(path, fake, policy) for path in PATHS
             for fake, policy in C5_USERS] + [
                 ("lmtp-vmail", "hang-encrypt", "tempfail")]


def c5_delivery(h, path, fake, policy):
    return h.once(("c5", path, fake, policy), lambda: h.deliver(
        path, [C5_USERS[fake, policy]], h.message("plain")))


@pytest.mark.parametrize("path,fake,policy", C5_PARAMS)
def test_c5_hanging_gpg_deadline_error_then_policy(request, path, fake,
                                                   policy):
    """gpg-FAKE with a deadline of 3 s: the delivery ends by the
    deadline (10 s at most), an Error, then the policy"""
    h = hostile_for(request, path)
    d = c5_delivery(h, path, fake, policy)
    assert int(d.secs) <= 10, "took %.1f s: %s" % (d.secs, d.outcome())
    problem = h.policy_problem(d, policy, "encrypt")
    assert problem is None, problem


@pytest.mark.parametrize("path,fake,policy", C5_PARAMS)
def test_c5_hanging_gpg_killed_no_process_left(request, path, fake, policy):
    no_process_left(c5_delivery(hostile_for(request, path), path, fake,
                                policy))


@pytest.mark.parametrize("path,fake,policy", C5_PARAMS)
def test_c5_hanging_gpg_no_plaintext(request, path, fake, policy):
    """No plaintext in any file but the original kept by policy keep"""
    h = hostile_for(request, path)
    d = c5_delivery(h, path, fake, policy)
    no_plaintext(h, d, kept(d, policy))


# --- the per-user instance as a whole ----------------------------------------

def test_no_gpg_process_left(per_user):
    """lda + lmtp-root: no gpg or gpg-agent process of any delivery left
    (2 s after it)"""
    assert per_user.all_leftovers() == []


def test_no_panic_or_fatal(per_user):
    """lda + lmtp-root: no Panic or Fatal in the logs"""
    assert per_user.panics() == []
