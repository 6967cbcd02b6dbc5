#!/bin/bash
# make-keyring.sh DIR
#
# Creates the GnuPG home that the .svtest scripts use as ${tst.path}keys:
# throwaway keys without passphrase, generated at test time.
#   alice@example.org, bob@example.org   usable (ed25519 + cv25519 subkey)
#   carol.smith@example.org              usable (for exact address matching)
#   expired@example.org                  expired in 2020
#   revoked@example.org                  revoked
#   signonly@example.org                 no encryption subkey
# The fingerprints and key ids are written to DIR/ids as shell variables.
set -eu

dir=$1
rm -rf "$dir"
mkdir -m 700 -p "$dir"
export GNUPGHOME=$dir
trap 'gpgconf --homedir "$dir" --kill all >/dev/null 2>&1 || true' EXIT

gpg_q() { gpg --batch --quiet --no-tty --passphrase '' "$@" 2>/dev/null; }
fpr_of() {
	gpg --batch --with-colons --list-keys "<$1>" 2>/dev/null |
		awk -F: '/^fpr/ { print $10; exit }'
}
make_key() { # ADDR [EXPIRE] [gpg options...]
	local addr=$1 expire=${2:-never}
	shift 2 || shift $#
	gpg_q "$@" --quick-generate-key "Test <$addr>" ed25519 cert "$expire"
	gpg_q "$@" --quick-add-key "$(fpr_of "$addr")" cv25519 encr "$expire"
}

make_key alice@example.org
make_key bob@example.org
make_key carol.smith@example.org
make_key expired@example.org 1d --faked-system-time 20200101T000000
make_key revoked@example.org
gpg_q --quick-generate-key "Test <signonly@example.org>" ed25519 sign never

revoked=$(fpr_of revoked@example.org)
sed 's/^:-----/-----/' "$dir/openpgp-revocs.d/$revoked.rev" | gpg_q --import

{
	for who in alice bob carol.smith expired revoked signonly; do
		fpr=$(fpr_of "$who@example.org")
		var=$(echo "$who" | tr -c 'a-z\n' '_')
		echo "${var}_fpr=$fpr"
		echo "${var}_keyid=${fpr:24}"
	done
} >"$dir/ids"
