#!/bin/bash
# bench/run.sh: the benchmark of issue 5: vnd.x.encrypt (in-process
# encryption at delivery) against plain delivery, raw gpg and the
# vnd.dovecot.filter + gpg chain it replaces. Not part of the test suite.
#
# Usage (as root, after ./configure && make):
#
#   bench/run.sh [--quick] [--profile] [--wait-idle] [--out DIR]
#
#   --quick    one repetition per case, to try the script out (the numbers
#              are not fit for publishing)
#   --profile  afterwards, profile (b) on the 20 MiB random mail with
#              valgrind's callgrind (dovecot-lda only, gpg not traced) and
#              with perf (cpu-clock samples of the whole process tree,
#              gpg included); prints the top costs (files in the scratch
#              directory's profile/, kept with BENCH_KEEP=1)
#   --wait-idle  before measuring, wait (up to 20 minutes) until the
#              1-minute load average is below 0.5
#   --out DIR  where benchmark.md and benchmark.svg go (default: doc/)
#
# Environment: BENCH_KEEP=1 keeps the scratch directory (logs, messages,
# raw results in results.tsv); TMPDIR (default /tmp) is where it is made;
# SIEVE_ENCRYPT_BUILD is the build tree (default: this repository);
# SIEVE_ENCRYPT_TEST_USER is the unprivileged mail account (default nobody).
#
# What it does, for an RSA-3072 and a Curve25519 key, on generated mail of
# 4 KiB (text), 100 KiB, 1, 20 and 45 MiB (multipart/mixed with a base64
# attachment of random bytes) and 20 MiB (a quoted-printable CSV
# attachment, compressible):
#   (a)  dovecot-lda without a Sieve script (the floor)
#   (b)  dovecot-lda with a sieve_before script "encrypt;" (this plugin,
#        default settings: no compression); on the 20 MiB mails also with
#        sieve_encrypt_compress = yes
#   (c)  gpg --encrypt --armor of the message file to the same key, output
#        to /dev/null, with gpg's default compression and with -z 0
#   (d)  dovecot-lda with a sieve_before script running vnd.dovecot.filter
#        with bench/pgpmime-filter.sh (gpg with default settings, wrapped
#        as PGP/MIME)
#   (e)  only with GPGIT=/path/to/gpgit in the environment: the seed's own
#        chain, vnd.dovecot.filter running bench/seed-encrypt.sh (its
#        encrypt.sh) -> gpgit (github.com/EtiennePerot/gpgit, Perl) -> gpg;
#        at most 5 repetitions from 20 MiB on (seconds each)
# Runs are interleaved (every case once, then again), median wall time over
# 11/11/7/11/11 repetitions (4K/100K/1M/20M/45M), peak RSS with /usr/bin/time.
# Then: the 45 MiB mail under "ulimit -v 262144" (Dovecot's default
# default_vsz_limit of 256M, which dovecot-lda does not apply itself), the
# gpg processes one 4 KiB delivery spawns (strace), ciphertext sizes.
# Writes DIR/benchmark.md and DIR/benchmark.svg. Takes about 7-12 minutes
# on 2 cores; the machine should be otherwise idle.
set -eu -o pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
BENCH=$TOP/bench
OUT=$TOP/doc
QUICK=false
PROFILE=false
WAIT_IDLE=false

usage()
{
	sed -n '2,/^set -eu/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
	exit "${1:-0}"
}

while [ $# -gt 0 ]; do
	case $1 in
	--quick) QUICK=true ;;
	--profile) PROFILE=true ;;
	--wait-idle) WAIT_IDLE=true ;;
	--out) OUT=$2; shift ;;
	-h | --help) usage 0 ;;
	*) echo "run.sh: unknown argument $1" >&2; usage 2 >&2 ;;
	esac
	shift
done

die()
{
	echo "run.sh: $*" >&2
	exit 1
}

say()
{
	printf '[%s] %s\n' "$(date +%T)" "$*" >&2
}

[ "$(id -u)" -eq 0 ] || die "run as root (deliveries run as an unprivileged account)"
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

# --- tools -------------------------------------------------------------------

APT_UPDATED=false
# need_pkg PATH PACKAGE: install the Debian package when PATH is missing
need_pkg()
{
	[ -e "$1" ] && return 0
	say "installing $2 (for $1)"
	if ! $APT_UPDATED; then
		apt-get update -qq >/dev/null || :
		APT_UPDATED=true
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		--no-install-recommends "$2" >/dev/null ||
		die "installing $2 failed"
}

need_pkg /usr/bin/time time
need_pkg /usr/bin/gnuplot gnuplot-nox
need_pkg /usr/bin/strace strace
if $PROFILE; then
	need_pkg /usr/bin/valgrind valgrind
	need_pkg /usr/bin/perf linux-perf
fi
GPGIT=${GPGIT:-}
if [ -n "$GPGIT" ]; then
	[ -f "$GPGIT" ] || die "GPGIT=$GPGIT: no such file"
	GPGIT=$(cd "$(dirname "$GPGIT")" && pwd)/$(basename "$GPGIT")
	need_pkg /usr/share/perl5/Mail/GnuPG.pm libmail-gnupg-perl
fi

DC_TOP=$TOP
. "$TOP/tests/lib/keys.sh"
. "$TOP/tests/lib/dovecot.sh"

cleanup()
{
	local left
	[ -n "${DC_DIR:-}" ] || return 0
	if [ -n "${BENCH_KEEP:-}" ]; then
		SIEVE_ENCRYPT_KEEP=1
	fi
	dc_kill_agents
	left=$(dc_leftover_processes)
	[ -z "$left" ] || echo "run.sh: processes left over: $left" >&2
	dc_cleanup
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- set-up ------------------------------------------------------------------

say "setting up a private Dovecot instance and keys"
dc_init
W=$DC_DIR
mkdir -p "$W/bin" "$W/msg" "$W/plugins"
chmod 755 "$W/bin" "$W/msg" "$W/plugins"

# A snapshot of the build (others may rebuild while this runs) next to
# Pigeonhole's extprograms plugin, in one sieve_plugin_dir
cp "$DC_PLUGIN_DIR/lib90_sieve_encrypt_plugin.so" "$W/plugins/"
PLUGIN_BUILT=$(date -u -r "$DC_PLUGIN_DIR/lib90_sieve_encrypt_plugin.so" \
	'+%Y-%m-%d %H:%M UTC')
PLUGIN_COMMIT=$(git -C "$TOP" rev-parse --short HEAD 2>/dev/null)$(
	[ -z "$(git -C "$TOP" status --porcelain -- src 2>/dev/null)" ] ||
	echo ' (src/ with uncommitted changes)')
EXTPROGRAMS=$(find /usr/lib/dovecot/modules/sieve \
	-name 'lib90_sieve_extprograms_plugin.so' | head -n 1)
[ -n "$EXTPROGRAMS" ] ||
	die "lib90_sieve_extprograms_plugin.so not found (install dovecot-sieve)"
cp "$EXTPROGRAMS" "$W/plugins/"
cp "$BENCH/measure.sh" "$BENCH/pgpmime-filter.sh" \
	"$BENCH/pgpmime-filter-slurp.sh" "$W/bin/"
if [ -n "$GPGIT" ]; then
	cp "$BENCH/seed-encrypt.sh" "$W/bin/"
	cp "$GPGIT" "$W/bin/gpgit"
	GPGIT_SHA256=$(sha256sum "$GPGIT" | cut -d' ' -f1)
fi
chmod 755 "$W/bin"/*

# make_rsa_key HOME NAME ADDR: RSA-3072 primary (sign, certify) with an
# RSA-3072 encryption subkey; prints the fingerprint
make_rsa_key()
{
	local home=$1 name=$2 addr=$3 fpr
	fpr=$(keys_generate "$home" "$name <$addr>" rsa3072 sign,cert never) &&
		keys_gpg "$home" --passphrase '' --quick-add-key "$fpr" \
			rsa3072 encr never 2>/dev/null &&
		printf '%s\n' "$fpr"
}

KEYS="rsa cv"
dc_add_user_with_key rsa make_rsa_key >/dev/null ||
	die "making the RSA-3072 key failed"
dc_add_user_with_key cv make_key >/dev/null ||
	die "making the Curve25519 key failed"
# gpgit (Mail::GnuPG) encrypts only to valid keys; the seed has each user
# sign their key with a local key, here it gets ultimate trust
if [ -n "$GPGIT" ]; then
	for key in $KEYS; do
		home=$(dc_home "$key")/.gnupg
		fpr=$(keys_gpg "$home" --with-colons --list-keys |
			awk -F: '$1 == "fpr" { print $10; exit }')
		printf '%s:6:\n' "$fpr" |
			keys_gpg "$home" --import-ownertrust 2>/dev/null ||
			die "setting the ownertrust of the $key key failed"
		chown -R "$DC_ACCOUNT" "$home"
	done
fi
dc_kill_agents

dc_plugin_setting sieve_plugin_dir "$W/plugins"
dc_plugin_setting sieve_plugins "sieve_encrypt sieve_extprograms"
dc_plugin_setting sieve_global_extensions "+vnd.x.encrypt +vnd.dovecot.filter"
dc_plugin_setting sieve_filter_bin_dir "$W/bin"
dc_plugin_setting sieve_filter_exec_timeout 600s
dc_plugin_setting sieve_encrypt_default_keys '%u'

printf '%s\n' 'require ["vnd.x.encrypt"];' 'encrypt;' >"$W/sieve/encrypt.sieve"
printf '%s\n' 'require ["vnd.dovecot.filter"];' \
	'filter "pgpmime-filter.sh";' >"$W/sieve/filter.sieve"
printf '%s\n' 'require ["vnd.dovecot.filter"];' \
	'filter "pgpmime-filter-slurp.sh";' >"$W/sieve/filter-slurp.sieve"
printf '%s\n' 'require ["vnd.dovecot.filter"];' \
	'filter "seed-encrypt.sh";' >"$W/sieve/seed.sieve"
for s in encrypt filter filter-slurp seed; do
	dc_sievec "$W/sieve/$s.sieve" || die "compiling $s.sieve failed"
done

say "generating messages"
python3 "$BENCH/genmsg.py" "$W/msg" >"$W/msg/sizes" ||
	die "generating messages failed"
chmod 644 "$W/msg"/*
declare -A MSG_BYTES
while read -r name bytes; do
	MSG_BYTES[$name]=$bytes
done <"$W/msg/sizes"

# --- one run -----------------------------------------------------------------

# lda_args KEY MODE STORE: the dovecot-lda command line of a mode, one
# word a line
lda_args()
{
	local key=$1 mode=$2 store=$3 before
	case $mode in
	a) before= ;;
	b | bz) before=$W/sieve/encrypt.sieve ;;
	d) before=$W/sieve/filter.sieve ;;
	dslurp) before=$W/sieve/filter-slurp.sieve ;;
	e) before=$W/sieve/seed.sieve ;;
	esac
	printf '%s\n' "$DC_LDA" -c "$DC_CONF" -e -f sender@example.net \
		-a "$key@$DC_DOMAIN" -o "mail_location=maildir:$store" \
		-o "log_path=$W/logs/$key-$mode.log" \
		-o "plugin/sieve_before=$before"
	[ "$mode" != bz ] || printf '%s\n' -o plugin/sieve_encrypt_compress=yes
}

# gpg_args KEY MODE: the raw gpg command line of mode c or c0
gpg_args()
{
	local key=$1 mode=$2
	printf '%s\n' gpg --homedir "$(dc_home "$key")/.gnupg" --batch \
		--no-tty --quiet --trust-model always --encrypt --armor \
		-r "$key@$DC_DOMAIN"
	[ "$mode" != c0 ] || printf '%s\n' -z 0
}

# run_one KEY MSG MODE [VSZ_KB]: one timed run as the mail account; prints
# measure.sh's line
run_one()
{
	local key=$1 msg=$2 mode=$3 vsz=${4:-0} store=- cmd
	case $mode in
	c | c0)
		mapfile -t cmd < <(gpg_args "$key" "$mode") ;;
	*)
		store=$W/store/$key-$mode
		mapfile -t cmd < <(lda_args "$key" "$mode" "$store") ;;
	esac
	dc_as_mail USER="$key@$DC_DOMAIN" HOME="$(dc_home "$key")" \
		bash "$W/bin/measure.sh" "$W/msg/$msg.eml" "$store" "$vsz" \
		-- "${cmd[@]}"
}

# expect MODE: what a good run stores: enc, plain or - (nothing)
expect()
{
	case $1 in
	a) echo plain ;;
	b | bz | d | dslurp | e) echo enc ;;
	*) echo - ;;
	esac
}

RESULTS=$W/results.tsv
printf 'key\tmsg\tbytes\tmode\trep\tsecs\trss_kb\trc\tstored\tenc\tok\n' \
	>"$RESULTS"

# measure KEY MSG MODE REP: one run, recorded in results.tsv
measure()
{
	local key=$1 msg=$2 mode=$3 rep=$4 line secs rss rc stored enc ok=ok
	line=$(run_one "$key" "$msg" "$mode")
	read -r secs rss rc stored enc <<<"$line"
	if [ "$rc" != 0 ] || [ "$enc" != "$(expect "$mode")" ]; then
		ok=FAIL
		say "FAILED: $key $msg $mode: exit $rc, stored: $enc"
	fi
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$key" "$msg" \
		"${MSG_BYTES[$msg]}" "$mode" "$rep" "$secs" "$rss" "$rc" \
		"$stored" "$enc" "$ok" >>"$RESULTS"
}

# --- the main matrix ---------------------------------------------------------

MSGS="text-4k rand-100k rand-1m rand-20m text-20m rand-45m"
declare -A REPS=([text-4k]=11 [rand-100k]=11 [rand-1m]=7 [rand-20m]=11
	[text-20m]=7 [rand-45m]=11)
modes_of()
{
	local e=
	[ -z "$GPGIT" ] || e=e
	case $1 in
	*-20m) echo a b bz c c0 d $e ;;
	*) echo a b c c0 d $e ;;
	esac
}
# skip MSG MODE REP: TRUE for the repetitions (e) leaves out
skip()
{
	[ "$2" = e ] && [ "$3" -gt 5 ] && [ "${MSG_BYTES[$1]}" -ge 20000000 ]
}

if $WAIT_IDLE; then
	for i in $(seq 1 120); do
		read -r LOAD_START _ </proc/loadavg
		awk -v l="$LOAD_START" 'BEGIN { exit !(l < 0.5) }' && break
		[ "$i" -gt 1 ] || say "waiting for the load average ($LOAD_START) to drop below 0.5"
		sleep 10
	done
fi
read -r LOAD_START _ </proc/loadavg
awk -v l="$LOAD_START" 'BEGIN { exit !(l > 0.5) }' &&
	say "warning: load average is $LOAD_START: other work disturbs the timings"
T_START=$(date +%s)

for msg in $MSGS; do
	reps=${REPS[$msg]}
	! $QUICK || reps=1
	say "$msg (${MSG_BYTES[$msg]} bytes): $reps repetitions of $(modes_of "$msg") for $KEYS"
	# warm-up (page cache, first Maildir), not recorded
	for key in $KEYS; do
		for mode in $(modes_of "$msg"); do
			run_one "$key" "$msg" "$mode" >/dev/null
		done
	done
	for rep in $(seq 1 "$reps"); do
		for key in $KEYS; do
			for mode in $(modes_of "$msg"); do
				skip "$msg" "$mode" "$rep" ||
					measure "$key" "$msg" "$mode" "$rep"
			done
		done
	done
done

# --- ciphertext sizes of raw gpg ---------------------------------------------

SIZES=$W/gpg-sizes.tsv
printf 'key\tmsg\tmode\tbytes\n' >"$SIZES"
for key in $KEYS; do
	for msg in $MSGS; do
		for mode in c c0; do
			mapfile -t cmd < <(gpg_args "$key" "$mode")
			n=$(dc_as_mail "${cmd[@]}" <"$W/msg/$msg.eml" | wc -c)
			printf '%s\t%s\t%s\t%s\n' "$key" "$msg" "$mode" "$n" \
				>>"$SIZES"
		done
	done
done

# --- the plugin's own time (its log line) ------------------------------------

PLUGIN_MS=$W/plugin-ms.tsv
printf 'key\tmsg\tms\n' >"$PLUGIN_MS"
for key in $KEYS; do
	sed -n 's/.*encrypt action: encrypted message to key .* (\([0-9]*\) -> [0-9]* bytes, \([0-9]*\) ms).*/\1 \2/p' \
		"$W/logs/$key-b.log" | while read -r plain ms; do
		printf '%s\t%s\t%s\n' "$key" "$plain" "$ms"
	done >>"$PLUGIN_MS"
done

# --- 45 MiB under default_vsz_limit (256M) -----------------------------------

say "45 MiB under ulimit -v 262144"
VSZ=$W/vsz.tsv
printf 'key\tmode\trc\tenc\trss_kb\tsecs\terror\n' >"$VSZ"
VSZ_MODES="a b d dslurp"
[ -z "$GPGIT" ] || VSZ_MODES="$VSZ_MODES e"
for key in $KEYS; do
	for mode in $VSZ_MODES; do
		f=$W/logs/$key-$mode.log
		[ ! -e "$f" ] || : >"$f"
		read -r secs rss rc stored enc \
			<<<"$(run_one "$key" rand-45m "$mode" 262144)"
		err=$( (grep -hiE 'error|fatal|panic|out of memory' \
			"$W/store/$key-$mode.err" "$f" 2>/dev/null || :) |
			tail -n 1 | cut -c1-300 |
			sed 's/^.*: \(Error\|Fatal\|Panic\): //' | tr '\t' ' ')
		printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$key" "$mode" "$rc" \
			"$enc" "$rss" "$secs" "$err" >>"$VSZ"
	done
done

# --- the stored 45 MiB messages of (b) and (d) decrypt to the original -------

say "decrypting the stored 45 MiB messages of (b) and (d)"
CHECK=$W/decrypt-check.tsv
printf 'key\tmode\tresult\n' >"$CHECK"
sed '1,/^$/d' "$W/msg/rand-45m.eml" >"$W/body.orig"
for key in $KEYS; do
	for mode in b d; do
		f=$(find "$W/store/$key-$mode/new" -type f | head -n 1)
		result=missing
		if [ -n "$f" ]; then
			# the entity: Content-* header, blank line, body; (d)
			# encrypted it with the CRLF line ends Pigeonhole gave
			# the filter
			sed -n '/^-----BEGIN PGP MESSAGE-----/,/^-----END PGP MESSAGE-----/p' \
				"$f" | tr -d '\r' |
				keys_gpg "$(dc_secret_home "$key")" --decrypt \
				2>/dev/null | tr -d '\r' | sed '1,/^$/d' \
				>"$W/body.dec" || :
			if cmp -s "$W/body.orig" "$W/body.dec"; then
				result=identical
			else
				result=DIFFERENT
			fi
		fi
		printf '%s\t%s\t%s\n' "$key" "$mode" "$result" >>"$CHECK"
	done
done
rm -f "$W/body.orig" "$W/body.dec"
dc_kill_agents

# --- where the time of a small delivery goes (strace) ------------------------

say "tracing the processes of a 4 KiB delivery"
STRACE=$W/strace.tsv
printf 'key\tmode\tpid\tstart_ms\tend_ms\tprogram\n' >"$STRACE"
for key in $KEYS; do
	for mode in a b d; do
		tr=$W/logs/strace-$key-$mode.txt
		mapfile -t cmd < <(lda_args "$key" "$mode" "$W/store/strace")
		dc_as_mail USER="$key@$DC_DOMAIN" HOME="$(dc_home "$key")" \
			strace -f -ttt -qq -s 256 -e trace=execve,exit_group \
			-o "$tr" "${cmd[@]}" <"$W/msg/text-4k.eml" \
			>/dev/null 2>&1 || say "strace run $key $mode failed"
		# per process: start (first execve), program (the last execve
		# that did not fail: dovecot-lda re-executes itself through
		# doveconf), exit; times in ms from the first line
		awk -v key="$key" -v mode="$mode" '
			NR == 1 { t0 = $2 }
			/execve\(/ {
				pid = $1
				if (!(pid in start)) {
					start[pid] = $2
					order[++n] = pid
				}
				if ($0 ~ /= -1 /)
					next
				args = $0
				sub(/^[^[]*\[/, "", args)
				sub(/\].*/, "", args)
				gsub(/"/, "", args)
				gsub(/, /, " ", args)
				name[pid] = args
			}
			/exit_group\(/ { stop[$1] = $2 }
			END {
				for (i = 1; i <= n; i++) {
					p = order[i]
					printf "%s\t%s\t%s\t%.1f\t%.1f\t%s\n",
						key, mode, p,
						(start[p] - t0) * 1000,
						(stop[p] - t0) * 1000,
						substr(name[p], 1, 120)
				}
			}' "$tr" >>"$STRACE"
		rm -rf "$W/store/strace"
	done
done

# The helper programs gpgme ran besides the two real gpg operations (found
# by the trace above), and gpg's key listing, each timed alone
say "timing gpgme's helper programs and a key listing"
HELPERS=$W/helpers.tsv
printf 'program\trep\tsecs\n' >"$HELPERS"
time_alone()
{
	local label=$1 rep line
	shift
	for rep in $(seq 1 11); do
		line=$(dc_as_mail bash "$W/bin/measure.sh" /dev/null - 0 -- "$@")
		printf '%s\t%s\t%s\n' "$label" "$rep" "${line%% *}" \
			>>"$HELPERS"
	done
}
awk -F '\t' '$2 == "b" && $6 ~ / --(version|list-dirs|list-components)$/ {
	print $6 }' "$STRACE" | sort -u | while read -r prog; do
	read -r -a argv <<<"$prog"
	time_alone "$prog" "${argv[@]}"
done
time_alone "gpg --list-keys (key lookup)" gpg --homedir "$(dc_home cv)/.gnupg" \
	--batch --no-tty --with-colons --list-keys "<cv@$DC_DOMAIN>"

T_END=$(date +%s)
read -r LOAD_END _ </proc/loadavg

# --- profile -----------------------------------------------------------------

if $PROFILE; then
	say "profiling (b) on rand-20m with callgrind (dovecot-lda only)"
	P=$W/profile
	mkdir -p "$P"
	chown "$DC_UID:$DC_GID" "$P"
	mapfile -t cmd < <(lda_args cv b "$W/store/profile")
	# dovecot-lda re-executes itself through doveconf, which hands it the
	# configuration in environment variables named like "PLUGIN/SIEVE_..."
	# that valgrind does not pass on: so follow the exec chain, but not
	# into gpg and its helpers (one output file per process; the forks
	# gpgme makes before exec'ing gpg leave small files too)
	dc_as_mail USER="cv@$DC_DOMAIN" HOME="$(dc_home cv)" \
		valgrind -q --tool=callgrind --trace-children=yes \
		--trace-children-skip='*/gpg,*/gpgconf,*/gpgsm' \
		--callgrind-out-file="$P/callgrind.out.%p" \
		"${cmd[@]}" <"$W/msg/rand-20m.eml" >/dev/null \
		2>"$P/valgrind.err" || say "callgrind run failed"
	# the delivery process: the file with the largest total
	main=$(grep -H -m 1 '^summary:' "$P"/callgrind.out.* 2>/dev/null |
		sort -t ' ' -k 2 -n | tail -n 1 | cut -d: -f1)
	if [ -n "$main" ]; then
		callgrind_annotate --threshold=99 "$main" 2>/dev/null |
			sed -n '/PROGRAM TOTALS/,$p' | head -n 16 \
			>"$P/callgrind-self.txt" || :
		callgrind_annotate --inclusive=yes --threshold=99 "$main" \
			2>/dev/null | sed -n '/PROGRAM TOTALS/,$p' |
			head -n 40 >"$P/callgrind-inclusive.txt" || :
		echo "callgrind, dovecot-lda, self cost (instructions):"
		cut -c1-150 "$P/callgrind-self.txt"
	fi
	rm -rf "$W/store/profile"

	say "profiling (b) on rand-20m with perf (cpu-clock, gpg included)"
	# perf as root (perf_event_paranoid), the delivery as the mail account
	perf record -q -e cpu-clock -F 2000 -o "$P/perf.data" -- \
		runuser -u "$DC_ACCOUNT" -- env -i PATH="$DC_PATH" \
		USER="cv@$DC_DOMAIN" HOME="$(dc_home cv)" \
		"${cmd[@]}" <"$W/msg/rand-20m.eml" >/dev/null \
		2>"$P/perf.err" || say "perf run failed"
	perf report -i "$P/perf.data" --stdio -n --sort comm,dso 2>/dev/null |
		grep '%' | head -n 12 >"$P/perf-dso.txt" || :
	perf report -i "$P/perf.data" --stdio -n --comm dovecot-lda \
		--sort dso,sym 2>/dev/null | grep '%' | head -n 15 \
		>"$P/perf-lda.txt" || :
	echo "perf, samples at 2 kHz (0.5 ms each) by process and object:"
	cat "$P/perf-dso.txt"
	echo "perf, dovecot-lda by symbol:"
	cat "$P/perf-lda.txt"
	rm -rf "$W/store/profile"
fi

# --- report --------------------------------------------------------------------

say "writing $OUT/benchmark.md and $OUT/benchmark.svg"
META=$W/meta.txt
{
	echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "nproc=$(nproc)"
	echo "cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
	echo "ram=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
	echo "kernel=$(uname -r)"
	echo "debian=$(cat /etc/debian_version)"
	echo "dovecot=$(dovecot --version)"
	echo "pigeonhole=$(dpkg-query -W -f '${Version}' dovecot-sieve 2>/dev/null)"
	echo "gpg=$(gpg --version | head -n 1 | sed 's/^gpg (GnuPG) //')"
	echo "libgcrypt=$(gpg --version | sed -n 's/^libgcrypt //p')"
	echo "gpgme=$(dpkg-query -W -f '${Version}' 'libgpgme11*' 2>/dev/null | head -n 1)"
	echo "commit=$PLUGIN_COMMIT"
	echo "plugin_built=$PLUGIN_BUILT"
	echo "load_start=$LOAD_START"
	echo "load_end=$LOAD_END"
	echo "duration=$((T_END - T_START))"
	echo "quick=$QUICK"
	echo "account=$DC_ACCOUNT"
	echo "scratch=$W"
	echo "gpgit_sha256=${GPGIT_SHA256:-}"
	echo "mail_gnupg=$(dpkg-query -W -f '${Version}' libmail-gnupg-perl 2>/dev/null)"
} >"$META"

python3 "$BENCH/report.py" "$W" "$OUT" || die "writing the report failed"
gnuplot "$W/plot.gp" >"$OUT/benchmark.svg" || die "gnuplot failed"
# gnuplot embeds no date, but keep the file stable: no trailing blanks
sed -i 's/[[:space:]]*$//' "$OUT/benchmark.svg"

say "done in $(($(date +%s) - T_START)) s; results in $OUT/benchmark.md"
if grep -q 'FAIL' "$RESULTS"; then
	say "some runs failed: see the table"
fi
