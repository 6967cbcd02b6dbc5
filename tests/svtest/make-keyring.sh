#!/bin/bash
# make-keyring.sh DIR
#
# Creates the GnuPG home that the .svtest scripts use as ${tst.path}/keys:
# throwaway keys without passphrase, generated at test time (with the
# functions of tests/lib/keys.sh).
#   alice@example.org, bob@example.org   usable (ed25519 + cv25519 subkey)
#   carol.smith@example.org              usable (for exact address matching)
#   expired@example.org                  expired in 2020
#   revoked@example.org                  revoked
#   signonly@example.org                 no encryption subkey
# The fingerprints and key ids are written to DIR/ids as shell variables
# (NAME_fpr, NAME_keyid), for run-svtest.sh's placeholders.
set -eu

dir=$1
keys_lib=$(cd "$(dirname "$0")/../lib" && pwd)/keys.sh
. "$keys_lib"

rm -rf "$dir"
keys_init_home "$dir"
trap 'keys_kill_agents "$dir"' EXIT

{
	for who in alice bob carol.smith expired revoked signonly; do
		case "$who" in
		expired) maker=make_expired_key ;;
		revoked) maker=make_revoked_key ;;
		signonly) maker=make_signonly_key ;;
		*) maker=make_key ;;
		esac
		fpr=$("$maker" "$dir" Test "$who@example.org")
		var=$(echo "$who" | tr -c 'a-z\n' '_')
		echo "${var}_fpr=$fpr"
		echo "${var}_keyid=${fpr:24}"
	done
} >"$dir/ids.tmp"
mv "$dir/ids.tmp" "$dir/ids"
