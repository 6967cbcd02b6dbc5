#!/bin/bash
# demo.sh: the main job, end to end, with real parts only.
#
# A private Dovecot (own config, Maildirs in a scratch directory) delivers a
# message through dovecot-lda to two users, with the administrator's global
# script doc/examples/global.sieve run before their own scripts:
#   alice has a keyring with her public key  -> stored encrypted
#   bob has no keyring                       -> stored as it came
# Then alice's copy is decrypted with her private key (which the server
# never had) and compared byte for byte with the original.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
DC_TOP=$top
. "$top/tests/lib/dovecot.sh"
. "$top/tests/lib/keys.sh"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
trap dc_cleanup EXIT

dc_init
dc_add_user alice
dc_add_user bob

say "alice makes a key pair on her laptop and gives the server only the public key"
laptop=$DC_DIR/alice-laptop
keys_init_home "$laptop"
fpr=$(make_key "$laptop" "Alice" alice@example.org)
server_keyring=$(dc_home alice)/.gnupg
keys_export_public "$laptop" "$server_keyring" "$fpr"
keys_give "$server_keyring" "$DC_UID:$DC_GID"
echo "fingerprint $fpr; server keyring $server_keyring (public key only)"

say "the administrator's global script (doc/examples/global.sieve)"
# as in doc/examples/90-sieve-encrypt-2.3.conf (user names are addresses)
dc_plugin_setting sieve_encrypt_default_keys %u
dc_global_script "$(cat "$top/doc/examples/global.sieve")"
cat "$top/doc/examples/global.sieve"

msg=$DC_DIR/sample.eml
cat >"$msg" <<'MSG'
From: Bob <bob@example.net>
To: Alice <alice@example.org>
Subject: Quarterly numbers
Date: Thu, 26 Nov 2026 10:00:00 +0000
Message-ID: <demo-1@example.net>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="part"

--part
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

Hi Alice, the numbers are in the attachment. Keep them safe.
--part
Content-Type: text/csv; name="q3.csv"
Content-Disposition: attachment; filename="q3.csv"
Content-Transfer-Encoding: base64

cXVhcnRlcixyZXZlbnVlCjMsNDIwMDAwCg==
--part--
MSG

say "delivering with dovecot-lda"
for user in alice bob; do
	rc=0
	dc_lda "$user" "$msg" || rc=$?
	echo "$user@example.org: dovecot-lda exit code $rc"
	[ "$rc" -eq 0 ] || { cat "$DC_LOG"; exit 1; }
done

say "the log"
grep -E 'sieve|encrypt' "$DC_LOG" | sed 's/^/  /'

alice_file=$(dc_stored_files "$(dc_maildir alice)" | tail -n 1)
bob_file=$(dc_stored_files "$(dc_maildir bob)" | tail -n 1)

say "what the server stored for alice ($alice_file)"
sed 's/^/  /' "$alice_file"

say "what the server stored for bob (no keyring: plaintext, as before)"
sed 's/^/  /' "$bob_file"

say "alice decrypts her copy on her laptop"
python3 - "$alice_file" "$laptop" <<'PY'
import email, subprocess, sys
stored = open(sys.argv[1], "rb").read()
part = email.message_from_bytes(stored).get_payload()[1].get_payload()
plain = subprocess.run(["gpg", "--homedir", sys.argv[2], "--batch", "--quiet",
                        "--decrypt"], input=part.encode(), check=True,
                       capture_output=True).stdout
sys.stdout.write("".join("  " + l + "\n" for l in plain.decode().splitlines()))
PY

say "byte-for-byte check against the original (tests/tools/pgpmime-verify.py)"
python3 "$top/tests/tools/pgpmime-verify.py" "$msg" "$alice_file" "$laptop"
python3 "$top/tests/tools/pgpmime-verify.py" --expect-plain "$msg" "$bob_file"
keys_kill_agents "$laptop"

say "demo done: alice's mail is encrypted at rest, bob's is unchanged"
