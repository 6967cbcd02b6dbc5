#!/bin/sh
# Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
# trixie-chroot.sh - a Debian 13 (trixie) chroot with Dovecot 2.4 and
# Pigeonhole 2.4 for building and testing sieve-encrypt: created on first
# use (`trixie-chroot.sh setup`), then synced to, built and tested in.
# tests/setup/chroot.py does the work; usage: trixie-chroot.sh --help.
exec /usr/bin/python3 "$(dirname "$0")/chroot.py" "$@"
