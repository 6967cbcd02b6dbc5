#!/bin/bash
# Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
# run-svtest.sh FILE.svtest
#
# Runs one .svtest script with Pigeonhole's testsuite program and the plugin
# from the build tree (automake test driver; exit 77 = skipped, 99 = error).
#   PIGEONHOLE_TESTSUITE_BIN  the testsuite program (tests/setup/build-testsuite.sh)
#   SIEVE_ENCRYPT_TESTSUITE_REQUIRED=yes
#                             the program was named (make check
#                             PIGEONHOLE_TESTSUITE_BIN=...): missing, it is
#                             an error, not a skip
#   SIEVE_ENCRYPT_PLUGIN_DIR  directory holding lib90_sieve_encrypt_plugin.so
#   SIEVE_ENCRYPT_GPG_EXEC    the build tree's sieve-encrypt-gpg-exec (the
#                             scripts set sieve_encrypt_gpg_exec to a copy,
#                             ${tst.path}/plugin/sieve-encrypt-gpg-exec)
#   VALGRIND=yes              run the testsuite under valgrind
#   SIEVE_ENCRYPT_PRELOAD     LD_PRELOAD for the testsuite (the sanitizer
#                             runtime for a plugin built with
#                             --enable-sanitizers, tests/integration/test_sanitizers.py)
#
# The script and its fixtures are copied into a scratch directory that the
# unprivileged test user can read; keys are generated there at test time and
# the @NAME_FPR@ / @NAME_KEYID@ / @NAME_FPR_SPACED@ placeholders in the
# scripts are replaced by the generated keys' ids.
set -eu

svtest=$1
here=$(cd "$(dirname "$0")" && pwd)
testsuite=${PIGEONHOLE_TESTSUITE_BIN:-}
plugin_dir=${SIEVE_ENCRYPT_PLUGIN_DIR:?SIEVE_ENCRYPT_PLUGIN_DIR not set}
gpg_exec=${SIEVE_ENCRYPT_GPG_EXEC:?SIEVE_ENCRYPT_GPG_EXEC not set}

if [ -z "$testsuite" ] || [ ! -x "$testsuite" ]; then
	echo "testsuite program not found (PIGEONHOLE_TESTSUITE_BIN='$testsuite');" \
		"build it with tests/setup/build-testsuite.sh" >&2
	[ "${SIEVE_ENCRYPT_TESTSUITE_REQUIRED:-}" != yes ] || exit 99
	exit 77
fi

scratch=$(mktemp -d "${TMPDIR:-/tmp}/svtest.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
chmod 755 "$scratch"
cp -R "$here"/. "$scratch/"
mkdir "$scratch/plugin"
cp "$plugin_dir/lib90_sieve_encrypt_plugin.so" "$gpg_exec" "$scratch/plugin/"

"$here/make-keyring.py" "$scratch/keys"
subst=()
while IFS='=' read -r name value; do
	name=$(echo "$name" | tr a-z A-Z)
	subst+=(-e "s/@$name@/$value/g")
	if [ "${name%_FPR}" != "$name" ]; then
		spaced=$(echo "$value" | sed -E 's/(.{4})/\1 /g; s/ $//')
		subst+=(-e "s/@${name}_SPACED@/$spaced/g")
	fi
done <"$scratch/keys/ids"
find "$scratch" -name '*.svtest' -o -name '*.sieve' | while read -r f; do
	sed -i "${subst[@]}" "$f"
done

run=()
if [ "$(id -u)" -eq 0 ]; then
	chown -R nobody:nogroup "$scratch"
	run=(setpriv --reuid=nobody --regid=nogroup --clear-groups env HOME="$scratch")
fi
if [ -n "${SIEVE_ENCRYPT_PRELOAD:-}" ]; then
	[ ${#run[@]} -gt 0 ] || run=(env)
	run+=(LD_PRELOAD="$SIEVE_ENCRYPT_PRELOAD")
fi
if [ "${VALGRIND:-}" = yes ]; then
	run+=(valgrind -q --error-exitcode=213 --leak-check=full --trace-children=no)
fi
rel=${svtest#"$here"/}
[ "$rel" != "$svtest" ] || rel=$(basename "$svtest")
cd "$scratch"
"${run[@]}" "$testsuite" -E -P sieve_extprograms \
	-P "$scratch/plugin/sieve_encrypt" "$scratch/$rel"
