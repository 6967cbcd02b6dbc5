#!/bin/bash
# Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
# pgpmime-filter.sh: the baseline (d) of bench/run.py, i.e. the set-up that
# the vnd.x.encrypt plugin replaces: a vnd.dovecot.filter program that reads
# the mail on stdin, pipes it through gpg with gpg's default settings and
# writes it back as PGP/MIME (RFC 3156), roughly as gpgit does: the header
# fields stay outside in clear, the Content-* fields and the body are
# encrypted. Not part of the plugin; used only by the benchmark.
#
# Run by Pigeonhole (sieve_filter_bin_dir) with USER and HOME of the
# recipient in the environment; encrypts to the key(s) of "$USER" in
# ~/.gnupg. Like the seed's encrypt.sh, a user without ~/.gnupg gets the
# mail unchanged.
#
# It is a lean version of the seed chain (encrypt.sh -> gpgit -> gpg): it
# streams instead of holding the mail in a shell variable, and runs no Perl
# MIME parser and no logger. Its cost is therefore a lower bound of the
# real chain's. Only the header is read line by line by the shell; the
# body goes straight from stdin into gpg.
#
# Pigeonhole hands the mail to filter programs with CRLF line ends: the
# encrypted entity keeps them (the blank line after its header follows the
# header's line end); the generated MIME lines end in LF, as gpgit's do.
set -eu -o pipefail

if [ ! -d "$HOME/.gnupg" ]; then
	exec cat
fi

outside=
entity=
in_entity=false
have_mime_version=false
nl=$'\n'
blank=

# The header: Content-* fields (with their continuation lines) go into the
# encrypted entity, all others stay outside, both in their order
while IFS= read -r line; do
	case $line in
	'' | $'\r')
		blank=$line
		break ;;
	[[:space:]]*)
		;;
	[Cc][Oo][Nn][Tt][Ee][Nn][Tt]-*)
		in_entity=true ;;
	[Mm][Ii][Mm][Ee]-[Vv][Ee][Rr][Ss][Ii][Oo][Nn]:*)
		have_mime_version=true
		in_entity=false ;;
	*)
		in_entity=false ;;
	esac
	if $in_entity; then
		entity+=$line$nl
	else
		outside+=$line$nl
	fi
done

boundary=------------$(head -c 18 /dev/urandom | base64 | tr '+/' 'xy')

printf '%s' "$outside"
$have_mime_version || printf 'MIME-Version: 1.0\n'
cat <<EOF
Content-Type: multipart/encrypted;
 protocol="application/pgp-encrypted";
 boundary="$boundary"

This is an OpenPGP/MIME encrypted message (RFC 4880 and 3156)
--$boundary
Content-Type: application/pgp-encrypted
Content-Description: PGP/MIME version identification

Version: 1

--$boundary
Content-Type: application/octet-stream; name="encrypted.asc"
Content-Description: OpenPGP encrypted message
Content-Disposition: inline; filename="encrypted.asc"

EOF
# gpg with its default settings (compression included); trust-model always
# as gpgit's always_trust: the keyring is the statement of trust. No
# warning about the home's ownership: run by a root LMTP (the LMTP load
# test) gpg may not run as the home's owner, and Pigeonhole 2.4 logs the
# program's stderr as errors
{ printf '%s%s\n' "$entity" "$blank"; cat; } |
	gpg --batch --no-tty --quiet --no-permission-warning \
		--trust-model always --encrypt --armor -r "$USER"
printf '\n--%s--\n' "$boundary"
