#!/bin/bash
# measure.sh: one timed run for bench/run.sh, executed as the mail account
# (bench/run.sh calls it through runuser, outside the timed region).
#
# Usage: measure.sh INPUT STORE VSZ_KB -- COMMAND [ARGS...]
#
# Runs COMMAND with stdin from INPUT and stdout to /dev/null under
# /usr/bin/time -f %M, after "ulimit -v VSZ_KB" unless VSZ_KB is 0. The wall
# time is taken with bash's $EPOCHREALTIME right around /usr/bin/time (no
# fork in between). STORE, when not "-", is the Maildir COMMAND delivers
# into: it is emptied before the run, and afterwards the stored message is
# looked at. Prints one line:
#
#   SECONDS MAXRSS_KB EXIT_CODE STORED_BYTES ENCRYPTED
#
# STORED_BYTES is the size of the stored message (0: none or no STORE),
# ENCRYPTED is "enc" when its top-level Content-Type is multipart/encrypted,
# "plain" when it is something else, "-" without a stored message. Errors
# of COMMAND go to STORE/../measure.err (or /dev/null without a STORE).
set -u

input=$1 store=$2 vsz=$3
shift 3
[ "$1" = -- ] && shift

err=/dev/null
if [ "$store" != - ]; then
	mkdir -p "$store"
	rm -rf "$store/new" "$store/cur" "$store/tmp"
	err=$store.err
fi
rssf=$(mktemp "${TMPDIR:-/tmp}/bench-rss.XXXXXX")

# Start every run with no dirty pages left by earlier runs: their
# writeback would otherwise land in this run's fsync (ext4 commits the
# journal for all files), and which run pays for it depends on the order
sync
[ "$vsz" = 0 ] || ulimit -v "$vsz"
t0=$EPOCHREALTIME
/usr/bin/time -f %M -o "$rssf" "$@" <"$input" >/dev/null 2>"$err"
rc=$?
t1=$EPOCHREALTIME

# GNU time notes a failed command on a line of its own before %M
rss=$(tail -n 1 "$rssf")
rm -f "$rssf"
case $rss in
'' | *[!0-9]*) rss=0 ;;
esac

bytes=0 enc=-
if [ "$store" != - ]; then
	f=$(find "$store/new" "$store/cur" -type f 2>/dev/null | head -n 1)
	if [ -n "$f" ]; then
		bytes=$(stat -c %s "$f")
		# top-level Content-Type: the header ends at the first empty line
		if sed -n '/^\r\{0,1\}$/q;p' "$f" | tr -d '\r' |
			awk '{ l = tolower($0) }
			     l ~ /^content-type:/ { ct = 1 }
			     ct && l !~ /^content-type:/ && l !~ /^[ \t]/ { exit }
			     ct && l ~ /multipart\/encrypted/ { found = 1; exit }
			     END { exit !found }' 2>/dev/null
		then
			enc=enc
		else
			enc=plain
		fi
	fi
fi

# EPOCHREALTIME is seconds.microseconds (with the locale's radix
# character; LC_ALL is not set by runuser's env -i, so it is ".")
us0=${t0/[.,]/} us1=${t1/[.,]/}
us=$((10#$us1 - 10#$us0))
printf '%d.%06d %s %s %s %s\n' $((us / 1000000)) $((us % 1000000)) \
	"$rss" "$rc" "$bytes" "$enc"
