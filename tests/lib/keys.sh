# shellcheck shell=bash
# keys.sh: throwaway GnuPG homes and keys for the end-to-end tests.
#
# Source it from a bash script (set -eu is fine):
#
#   . tests/lib/keys.sh
#   keys_init_home "$dir/alice-secret"
#   fpr=$(make_key "$dir/alice-secret" Alice alice@example.org)
#   keys_export_public "$dir/alice-secret" "$dir/home/alice/.gnupg" "$fpr"
#   ...
#   keys_kill_agents "$dir/alice-secret" "$dir/home/alice/.gnupg"
#
# All keys are made without a passphrase (%no-protection), ed25519 for
# certification/signing and cv25519 for encryption, which takes a few
# milliseconds. Every function that needs the secret key starts a gpg-agent
# for that home: call keys_kill_agents on each home before removing it.
#
# Functions print nothing on success except where documented (fingerprints)
# and return non-zero with a message on stderr on failure.

# gpg binary; override with $GPG
KEYS_GPG=${GPG:-gpg}

keys_die()
{
	echo "keys.sh: $*" >&2
	return 1
}

# keys_gpg HOME ARGS...: run gpg on HOME in batch mode, quietly
keys_gpg()
{
	local home=$1
	shift
	"$KEYS_GPG" --homedir "$home" --batch --no-tty --quiet \
		--no-auto-check-trustdb "$@"
}

# keys_init_home DIR: create an empty GnuPG home (mode 0700)
keys_init_home()
{
	local home=$1
	mkdir -p "$home" || keys_die "cannot create $home" || return 1
	chmod 700 "$home"
	# Never reach out for keys; keep the agent from lingering forever
	# should keys_kill_agents not be called.
	if [ ! -e "$home/gpg.conf" ]; then
		printf '%s\n' 'no-auto-key-locate' 'no-auto-key-retrieve' \
			>"$home/gpg.conf"
	fi
	if [ ! -e "$home/gpg-agent.conf" ]; then
		printf '%s\n' 'default-cache-ttl 600' 'max-cache-ttl 600' \
			>"$home/gpg-agent.conf"
	fi
}

# keys_fingerprint HOME SPEC: print the primary fingerprint of the (only)
# key matching SPEC (address, key id or fingerprint) in HOME
keys_fingerprint()
{
	local home=$1 spec=$2 fpr
	fpr=$(keys_gpg "$home" --with-colons --list-keys -- "$spec" \
		2>/dev/null | awk -F: '
			$1 == "pub" { want = 1; next }
			$1 == "fpr" && want { print $10; want = 0 }' |
		head -n 1)
	[ -n "$fpr" ] || keys_die "no key for '$spec' in $home" || return 1
	printf '%s\n' "$fpr"
}

# keys_subkey_ids HOME FPR: print the 16-hex key ids of all subkeys of FPR
# (not the primary key), one per line
keys_subkey_ids()
{
	local home=$1 fpr=$2
	keys_gpg "$home" --with-colons --list-keys -- "$fpr" 2>/dev/null |
		awk -F: '$1 == "sub" { print $5 }'
}

# keys_generate HOME UID ALGO USAGE EXPIRE [GPG OPTIONS...]: low-level
# wrapper around --quick-generate-key; prints the fingerprint
keys_generate()
{
	local home=$1 uid=$2 algo=$3 usage=$4 expire=$5 out
	shift 5
	[ -d "$home" ] || keys_init_home "$home" || return 1
	if ! out=$(keys_gpg "$home" --passphrase '' "$@" \
			--quick-generate-key "$uid" "$algo" "$usage" \
			"$expire" 2>&1); then
		keys_die "generating key '$uid' in $home failed: $out"
		return 1
	fi
	# uid is unique in a test home; the newest key wins otherwise
	keys_gpg "$home" --with-colons --list-secret-keys -- "=$uid" \
		2>/dev/null | awk -F: '
			$1 == "sec" { want = 1; next }
			$1 == "fpr" && want { fpr = $10; want = 0 }
			END { if (fpr == "") exit 1; print fpr }' ||
		keys_die "key '$uid' not found in $home after generation"
}

# make_key HOME NAME ADDR: a valid key (ed25519 primary for signing and
# certification, cv25519 encryption subkey), no expiry, no passphrase.
# Prints the primary key's fingerprint.
make_key()
{
	local home=$1 name=$2 addr=$3
	keys_generate "$home" "$name <$addr>" future-default default never
}

# make_expired_key HOME NAME ADDR: like make_key, but created on
# 2020-01-01 with a validity of one day (primary and subkey), so it has
# long expired. Prints the fingerprint.
make_expired_key()
{
	local home=$1 name=$2 addr=$3
	keys_generate "$home" "$name <$addr>" future-default default 1d \
		--faked-system-time 20200101T000000 2>/dev/null
}

# make_revoked_key HOME NAME ADDR: like make_key, then revoked with the
# revocation certificate gpg made at generation time. Prints the
# fingerprint.
make_revoked_key()
{
	local home=$1 name=$2 addr=$3 fpr rev
	fpr=$(make_key "$home" "$name" "$addr") || return 1
	rev="$home/openpgp-revocs.d/$fpr.rev"
	[ -f "$rev" ] || keys_die "no revocation certificate $rev" || return 1
	# gpg prefixes the armor line with ':' against accidental import
	sed 's/^:-----BEGIN/-----BEGIN/' "$rev" |
		keys_gpg "$home" --import 2>/dev/null ||
		keys_die "importing revocation of $fpr failed" || return 1
	printf '%s\n' "$fpr"
}

# make_signonly_key HOME NAME ADDR: an ed25519 key with no encryption
# (sub)key at all. Prints the fingerprint.
make_signonly_key()
{
	local home=$1 name=$2 addr=$3
	keys_generate "$home" "$name <$addr>" ed25519 sign,cert never
}

# keys_export_public SRC DEST [SPEC...]: copy the public part of the keys
# SPEC (all keys when none given) from SRC into DEST (created if needed).
# DEST holds no secret key material.
keys_export_public()
{
	local src=$1 dest=$2 pub
	shift 2
	[ -d "$dest" ] || keys_init_home "$dest" || return 1
	pub=$(keys_gpg "$src" --armor --export -- "$@" 2>/dev/null) ||
		keys_die "exporting keys from $src failed" || return 1
	[ -n "$pub" ] || keys_die "no public keys to export from $src" ||
		return 1
	printf '%s\n' "$pub" | keys_gpg "$dest" --import 2>/dev/null ||
		keys_die "importing public keys into $dest failed"
}

# keys_give HOME USER[:GROUP]: hand a GnuPG home to the (unprivileged)
# user that reads it at delivery time
keys_give()
{
	local home=$1 owner=$2
	chown -R "$owner" "$home" ||
		keys_die "chown $owner $home failed"
}

# keys_kill_agents HOME...: stop gpg-agent (and any other gpg daemon) of
# each existing home; errors are ignored
keys_kill_agents()
{
	local home
	for home in "$@"; do
		[ -d "$home" ] || continue
		gpgconf --homedir "$home" --kill all >/dev/null 2>&1 || :
	done
}
