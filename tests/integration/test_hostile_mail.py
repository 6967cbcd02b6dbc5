# Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
"""Issue 12, the attacks by mail, scripts and settings of
doc/threat-model.md, tried as a hostile sender, user or a mistaken admin
would, through real deliveries (was tests/e2e/test-hostile-mail.sh):

  3  the global script encrypts, then the user's own script fails at run
     time: fileinto a folder that does not exist; fileinto :create
     "Lists.${2}" from a sender-chosen List-Id holding ".." or 300
     characters. With policy keep and tempfail: the original is stored
     nowhere (the failure keep stores the encrypted message, or the
     delivery fails temporarily). And the actions that read the message
     after encrypt (redirect, vnd.dovecot.report, the deprecated notify
     with $text$) send the encrypted one, or fail.
  6  sieve_encrypt_default_keys = %u@example.org (the admin how-to's
     value) with user names that contain the domain: an Error and the
     policy, not plaintext logged at Info
  7  messages that look encrypted but are not: a text/plain body with a
     PGP MESSAGE block followed by plaintext, an opaque
     application/pkcs7-mime without smime-type holding CMS signed-data, a
     multipart/encrypted whose second part is plaintext: stored encrypted
  8  sieve_encrypt_on_failure = tempfial (a typo) with the global script
     precompiled by sievec and without the precompiled binary: a
     temporary failure (exit 75 / LMTP 4xx for that recipient only; the
     other recipient of the same LMTP transaction is delivered), an Error
     naming the setting, no Panic. The typo is a userdb field of that one
     user (LMTP) or a -o option (dovecot-lda).

Paths (the first part of each test id): "lda" (dovecot-lda as the user's
own uid) and "lmtp-root" (LMTP as Dovecot ships it: root, effective uid
lowered per recipient; every user has a uid of its own). Each case is
delivered once (by the first test that needs it); its tests check what
that delivery did. See harness/hostile.py for what each expectation
checks; every case also looks for the message's plaintext in all files
of the instance (stores, Dovecot's temporary directories, the logs, what
was sent)."""

import os
import re

import pytest

from harness.hostile import Hostile

PATHS = ("lda", "lmtp-root")
POLICIES = ("keep", "tempfail")

# The admin how-to's two forms: without a key list (the default keys) for
# the c6-* users, with the envelope recipient for everybody else
GLOBAL_SCRIPT = '''require ["vnd.x.encrypt", "envelope", "variables"];
if envelope :localpart :matches "to" "c6-*" {
  if encrypt { }
} elsif envelope :matches "to" "*" {
  if encrypt "${1}" { }
}'''

LISTS_SCRIPT = '''require ["fileinto", "mailbox", "variables"];
if header :matches "List-Id" "*<*>*" {
  fileinto :create "Lists.${2}";
}'''

# action -> (user, script). User names stay short: the keys' GnuPG homes
# (named after them) hold gpg-agent's sockets, whose paths have a limit.
ACTION_SCRIPTS = {
    "redirect": ("c3-redirect", 'redirect "elsewhere@example.net";'),
    "vnd.dovecot.report": ("c3-report", '''require "vnd.dovecot.report";
report "abuse" "Reported by the user." "abuse@example.net";'''),
    "notify-text": ("c3-notify", '''require "notify";
notify :method "mailto" :options "elsewhere@example.net" :message "$text$";'''),
}


@pytest.fixture(scope="module")
def hostile(make_module_instance, dovecot_version):
    inst = make_module_instance("per-user")
    h = Hostile(inst)
    extensions = {"vnd.dovecot.report": True}
    if dovecot_version == "2.3":
        extensions["notify"] = True
    inst.set(sieve_encrypt_default_keys="${user}@example.org",
             sieve_extensions=extensions)
    inst.global_script(GLOBAL_SCRIPT)
    for policy in POLICIES:
        inst.add_user("c3m-" + policy, key="valid",
                      sieve_encrypt_on_failure=policy)
        inst.user_script("c3m-" + policy, 'require "fileinto";\n'
                         'fileinto "Missing";')
        inst.add_user("c3l-" + policy, key="valid",
                      sieve_encrypt_on_failure=policy)
        inst.user_script("c3l-" + policy, LISTS_SCRIPT)
        inst.add_user("c6-" + policy, key="valid",
                      sieve_encrypt_on_failure=policy)
    for user, script in ACTION_SCRIPTS.values():
        inst.add_user(user, key="valid")
        inst.user_script(user, script)
    inst.add_user("c7", key="valid")
    inst.add_user("c8-typo", key="valid",
                  sieve_encrypt_on_failure="tempfial")
    inst.add_user("c8-ok", key="valid")
    inst.kill_agents()
    inst.lmtp_start()
    return h


def no_plaintext(h, d, allowed=()):
    found = h.plaintext_files(d, allowed)
    assert not found, "plaintext in: %s (%s)" % (" ".join(found[:4]),
                                                  d.outcome())


# --- class 3 -------------------------------------------------------------

# case id -> (user without the policy, message kind, List-Id)
C3_CASES = {
    "missing-folder": ("c3m-", "plain", None),
    "lists-dotdot": ("c3l-", "list-id", ".."),
    "lists-300-chars": ("c3l-", "list-id", "x" * 300),
}
C3_PARAMS = [(path, "lists-control", "keep") for path in PATHS] + [
    (path, case, policy) for path in PATHS for policy in POLICIES
    for case in C3_CASES]


def c3_delivery(h, path, case, policy):
    def make():
        if case == "lists-control":
            # the script works: the checks pass
            user, msg = "c3l-keep", h.message("list-id",
                                                   "list.example.net")
        else:
            prefix, kind, list_id = C3_CASES[case]
            user = prefix + policy
            msg = h.message(kind, *([list_id] if list_id else []))
        return h.deliver(path, [user], msg)
    return h.once(("c3", path, case, policy), make)


@pytest.mark.parametrize("path,case,policy", C3_PARAMS)
def test_c3_script_fails_after_encrypt_stored_encrypted_or_tempfail(
        hostile, path, case, policy):
    """The user's script fails after encrypt: stored encrypted to the
    user's key only, or a temporary failure with an Error"""
    d = c3_delivery(hostile, path, case, policy)
    problem = hostile.encrypted_or_tempfail_problem(d, d.user)
    assert problem is None, problem


@pytest.mark.parametrize("path,case,policy", C3_PARAMS)
def test_c3_script_fails_after_encrypt_no_plaintext(hostile, path, case,
                                                    policy):
    no_plaintext(hostile, c3_delivery(hostile, path, case, policy))


@pytest.mark.parametrize("action", [
    # Pigeonhole 2.4 has no deprecated notify extension
    pytest.param(a, marks=pytest.mark.dovecot("2.3")) if a == "notify-text"
    else a for a in sorted(ACTION_SCRIPTS)])
@pytest.mark.parametrize("path", PATHS)
def test_c3_action_after_encrypt_sends_no_plaintext(hostile, path, action):
    """redirect, report, notify with $text$ after encrypt: what they send
    holds no plaintext; they sent something or failed with an Error"""
    before = hostile.sent_count()
    d = hostile.deliver(path, [ACTION_SCRIPTS[action][0]],
                        hostile.message("plain"))
    assert hostile.sent_count() > before or hostile.log_errors(d), \
        "nothing sent and no Error: the action did not run (%s)" % (
            d.outcome())
    no_plaintext(hostile, d)


# --- class 6 -------------------------------------------------------------

def c6_delivery(h, path, policy):
    return h.once(("c6", path, policy), lambda: h.deliver(
        path, ["c6-" + policy], h.message("plain")))


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("path", PATHS)
def test_c6_default_keys_user_with_domain_error_then_policy(hostile, path,
                                                            policy):
    """sieve_encrypt_default_keys = %u@example.org, user
    c6-POLICY@example.org: an Error, then the policy"""
    d = c6_delivery(hostile, path, policy)
    problem = hostile.policy_problem(d, policy, "encrypt")
    assert problem is None, problem


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("path", PATHS)
def test_c6_default_keys_user_with_domain_no_plaintext(hostile, path,
                                                       policy):
    """No plaintext in any file but the original kept by policy keep"""
    d = c6_delivery(hostile, path, policy)
    no_plaintext(hostile, d, d.new if policy == "keep" else ())


# --- class 7 -------------------------------------------------------------

C7_KINDS = ("inline-pgp-then-plain", "pkcs7-signed", "encrypted-wrong-shape")


def c7_delivery(h, path, kind):
    def make():
        args = ()
        if kind == "inline-pgp-then-plain":
            c7 = h.inst.users["c7"]
            args = (c7.secret_home, c7.address)
        return h.deliver(path, ["c7"], h.message(kind, *args))
    return h.once(("c7", path, kind), make)


@pytest.mark.parametrize("kind", ("plain-control",) + C7_KINDS)
@pytest.mark.parametrize("path", PATHS)
def test_c7_looks_encrypted_stored_encrypted(hostile, path, kind):
    """A message that looks encrypted but is not: not taken for
    encrypted, stored encrypted (plain-control: a plain message)"""
    d = c7_delivery(hostile, path, "plain" if kind == "plain-control"
                    else kind)
    problem = hostile.encrypted_problem(d, "c7", light=True)
    assert problem is None, problem


@pytest.mark.parametrize("kind", C7_KINDS)
@pytest.mark.parametrize("path", PATHS)
def test_c7_looks_encrypted_no_plaintext(hostile, path, kind):
    no_plaintext(hostile, c7_delivery(hostile, path, kind))


# --- class 8 -------------------------------------------------------------

COMPILED = ("precompiled", "not-precompiled")


def c8_delivery(h, compiled, path):
    """With the global script precompiled by sievec, or without the
    binary: compiled at delivery (in memory, as the users cannot write
    next to the global script; restored after)"""
    def make():
        script = h.inst.before_scripts[0]
        binary = os.path.splitext(script)[0] + ".svbin"
        if compiled == "precompiled":
            if not os.path.exists(binary):
                h.inst.sievec(script)
        else:
            os.unlink(binary)
        try:
            users = ["c8-typo"] if path == "lda" else ["c8-typo", "c8-ok"]
            return h.deliver(path, users, h.message("plain"))
        finally:
            if not os.path.exists(binary):
                h.inst.sievec(script)
    return h.once(("c8", compiled, path), make)


@pytest.mark.parametrize("compiled", COMPILED)
@pytest.mark.parametrize("path", PATHS)
def test_c8_on_failure_typo_tempfail_error_no_panic(hostile, compiled,
                                                    path):
    """sieve_encrypt_on_failure = tempfial: a temporary failure, an
    Error naming the setting, no Panic, nothing stored"""
    d = c8_delivery(hostile, compiled, path)
    assert "Panic:" not in d.log, "Panic: %s" % d.outcome()
    assert d.out == "tempfail" and not d.new, \
        "expected a temporary failure: %s" % d.outcome()
    assert any(re.search(r": (Error|Fatal): ", ln)
               and "sieve_encrypt_on_failure" in ln
               for ln in d.log.splitlines()), \
        "no Error naming sieve_encrypt_on_failure: %s" % d.outcome()


@pytest.mark.parametrize("compiled", COMPILED)
@pytest.mark.parametrize("path", PATHS)
def test_c8_on_failure_typo_no_plaintext(hostile, compiled, path):
    no_plaintext(hostile, c8_delivery(hostile, compiled, path))


@pytest.mark.parametrize("compiled", COMPILED)
def test_c8_on_failure_typo_other_recipient_delivered(hostile, compiled):
    """lmtp-root: the other recipient of the transaction is delivered"""
    d = c8_delivery(hostile, compiled, "lmtp-root")
    code = d.codes.get("c8-ok")
    assert code is not None and code // 100 == 2, \
        "c8-ok got %s (%s)" % (code or "no reply", d.reply[:120])


# --- the whole run -------------------------------------------------------

def test_no_gpg_process_left(hostile):
    """No gpg or gpg-agent process of any delivery left (2 s after it)"""
    assert hostile.all_leftovers() == []


def test_no_panic_or_fatal_but_c8(hostile):
    """No Panic or Fatal in the logs but of the class 8 users"""
    assert hostile.panics(exclude="c8-") == []
