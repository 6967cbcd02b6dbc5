#!/usr/bin/env python3
# Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
"""make-keyring.py DIR

Creates the GnuPG home that the .svtest scripts use as ${tst.path}/keys:
throwaway keys without passphrase, generated at test time (with
tests/integration/harness/keys.py).
  alice@example.org, bob@example.org   usable (ed25519 + cv25519 subkey)
  carol.smith@example.org              usable (for exact address matching)
  expired@example.org                  expired in 2020
  revoked@example.org                  revoked
  signonly@example.org                 no encryption subkey
and X.509 certificates (tests/integration/harness/smime.py, openssl,
imported with gpgsm into the same keybox, no private keys):
  smime@example.org                    valid
  smime-expired@example.org            expired
The fingerprints and key ids are written to DIR/ids as shell variables
(NAME_fpr, NAME_keyid), for run-svtest.sh's placeholders.
"""

import os
import re
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "integration"))

from harness import keys, smime  # noqa: E402

KEYS = (("alice", "valid"), ("bob", "valid"), ("carol.smith", "valid"),
        ("expired", "expired"), ("revoked", "revoked"),
        ("signonly", "signonly"))
CERTS = (("smime", "valid"), ("smime-expired", "expired"))


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make-keyring.py DIR")
    home = sys.argv[1]
    shutil.rmtree(home, ignore_errors=True)
    keys.init_home(home)
    try:
        lines = []
        for who, kind in KEYS:
            fpr = keys.generate(home, "%s@example.org" % who, kind,
                                name="Test")
            var = re.sub(r"[^a-z]", "_", who)
            lines += ["%s_fpr=%s" % (var, fpr), "%s_keyid=%s" % (var, fpr[24:])]
        ca = tempfile.mkdtemp(prefix="svtest-ca.")
        try:
            factory = smime.CertFactory(ca)
            for who, kind in CERTS:
                cert = factory.get("%s@example.org" % who, kind,
                                   secret=False)
                smime.gpgsm(home, "--import", cert.cert_pem)
                var = re.sub(r"[^a-z]", "_", who)
                lines += ["%s_fpr=%s" % (var, cert.fpr),
                          "%s_keyid=%s" % (var, cert.fpr[24:])]
        finally:
            shutil.rmtree(ca, ignore_errors=True)
    finally:
        keys.kill_agent(home)
    with open(os.path.join(home, "ids.tmp"), "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(os.path.join(home, "ids.tmp"), os.path.join(home, "ids"))


if __name__ == "__main__":
    main()
