#!/bin/bash
# Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
# pgpmime-filter-slurp.sh: pgpmime-filter.sh behind the seed's way of
# reading the mail (encrypt.sh: DATA="$(cat)"; echo "$DATA" | gpgit ...):
# the whole message is first held in a shell variable. Used by bench/run.py
# only in the default_vsz_limit test, to show what that pattern costs.
set -eu -o pipefail
DATA="$(cat)"
echo "$DATA" | "$(dirname "$0")/pgpmime-filter.sh"
