#!/bin/sh
# Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
# seed-encrypt.sh: case (e) of bench/run.py, the chain the vnd.x.encrypt
# plugin replaces as the seed blog post sets it up: the vnd.dovecot.filter
# program encrypt.sh, which holds the mail in a shell variable and pipes it
# through gpgit (a Perl script: Mail::GnuPG and MIME::Parser), which runs
# gpg. Run only when the benchmark is given gpgit (GPGIT=/path/to/gpgit,
# copied next to this script); gpgit is not part of this project.
#
# The seed's encrypt.sh, with three changes for the benchmark's set-up:
# - the key is "$USER": Dovecot's user names here are mail addresses (the
#   seed appends @DOMAIN to a system account name);
# - GNUPGHOME is set: gpgit sets HOME from the passwd entry of the account
#   it runs as, and the benchmark's mail account (nobody) is shared by all
#   test users, whose keyrings are in their own $HOME;
# - gpgit is found next to this script, not in /usr/local/bin.
# logger's complaints (no syslog daemon on a test machine) are dropped.
NOW=$(date +%s)
DATA="$(cat)"
if test -d ~/.gnupg
then
    export GNUPGHOME="$HOME/.gnupg"
    echo "$DATA" | "$(dirname "$0")/gpgit" "${USER}"
    NOW2=$(date +%s)
    echo "Email encryption for user ${USER}: $(( NOW2 - NOW )) seconds" | logger -p mail.info 2>/dev/null
else
    echo "$DATA"
    echo "Email encryption for user for ${USER} none" | logger -p mail.info 2>/dev/null
fi
