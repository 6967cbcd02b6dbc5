#!/bin/bash
# Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
# install-deps.sh [--with-24]
#
# Installs the Debian packages that building and testing sieve-encrypt need,
# and only those that are missing. --with-24 (the Dovecot 2.4 tests in a
# Debian 13 chroot) adds nothing now: debootstrap, which they need, is in
# the list for test_package.py's fresh Debian 12 root too.
set -eu

pkgs=(build-essential autoconf automake libtool pkg-config
      dovecot-core dovecot-dev dovecot-sieve dovecot-lmtpd dovecot-managesieved
      dovecot-imapd
      libgpgme-dev libgpg-error-dev gnupg gpg-agent gpgsm openssl
      python3 python3-pytest python3-pytest-xdist util-linux valgrind strace
      clang libclang-rt-dev sq rnp notmuch mutt
      debhelper fakeroot lintian man-db debootstrap)

missing=()
for p in "${pkgs[@]}"; do
	st=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
	[ "${st:0:2}" = "ii" ] || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	echo "install-deps: all packages present"
	exit 0
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get -q update
apt-get -q install -y --no-install-recommends "${missing[@]}"
