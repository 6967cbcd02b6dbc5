#!/usr/bin/env python3
# Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
"""report.py: turn the raw results of bench/run.py into doc/benchmark.md
and a gnuplot script for doc/benchmark.svg.

Usage: report.py WORKDIR OUTDIR

Reads WORKDIR/{results,gpg-sizes,plugin-ms,vsz,strace}.tsv and meta.txt
(written by run.py); writes OUTDIR/benchmark.md, WORKDIR/plot.gp and the
data files it plots.
"""

import csv
import os
import statistics
import sys

KEYS = [("rsa", "RSA-3072"), ("cv", "Curve25519")]
MSGS = [("text-4k", "4 KiB text"), ("rand-100k", "100 KiB random"),
	("rand-1m", "1 MiB random"), ("rand-20m", "20 MiB random"),
	("rand-45m", "45 MiB random"), ("text-20m", "20 MiB text (CSV)")]
MIB = 1024 * 1024


def read_tsv(path):
	if not os.path.exists(path):
		return []
	with open(path, encoding="utf-8") as f:
		return list(csv.DictReader(f, delimiter="\t"))


def fmt_ms(secs):
	if secs is None:
		return "–"
	ms = secs * 1000
	if ms < 100:
		return "%.1f ms" % ms
	return "{:,} ms".format(round(ms))


def fmt_mib(kb):
	return "–" if kb is None else "%.1f MiB" % (kb / 1024)


def fmt_ratio(x):
	return "–" if x is None else "%.2f" % x


def yes_no(ok):
	return "**met**" if ok else "**not met**"


class Results:
	def __init__(self, work):
		self.rows = read_tsv(os.path.join(work, "results.tsv"))
		self.bytes = {r["msg"]: int(r["bytes"]) for r in self.rows}

	def runs(self, key, msg, mode):
		return [r for r in self.rows if r["key"] == key and
			r["msg"] == msg and r["mode"] == mode]

	def failed(self, key, msg, mode):
		return sum(1 for r in self.runs(key, msg, mode) if r["ok"] != "ok")

	def _median(self, key, msg, mode, field, conv):
		runs = self.runs(key, msg, mode)
		if not runs or any(r["ok"] != "ok" for r in runs):
			return None
		return statistics.median(conv(r[field]) for r in runs)

	def secs(self, key, msg, mode):
		return self._median(key, msg, mode, "secs", float)

	def rss(self, key, msg, mode):
		return self._median(key, msg, mode, "rss_kb", int)

	def stored(self, key, msg, mode):
		return self._median(key, msg, mode, "stored", int)

	def spread_note(self):
		"""the widest max/min ratio over the repetitions of a case"""
		worst = None
		for key, _ in KEYS:
			for msg, _ in MSGS:
				for mode in ("a", "b", "bz", "c", "c0", "d", "e"):
					t = [float(r["secs"]) for r in
					     self.runs(key, msg, mode)]
					if len(t) < 2 or min(t) <= 0:
						continue
					q = max(t) / min(t)
					if worst is None or q > worst[0]:
						worst = (q, key, msg, mode)
		if worst is None:
			return ""
		return ("The widest spread among the repetitions of one case: "
			"slowest/fastest = %.1f (%s, %s, %s); medians are "
			"reported." % (worst[0], dict(KEYS)[worst[1]],
				       worst[2], worst[3]))

	def reps(self, msg):
		return len(self.runs(KEYS[0][0], msg, "a"))

	def cell(self, key, msg, mode):
		"""median time and throughput"""
		s = self.secs(key, msg, mode)
		if s is None:
			n = self.failed(key, msg, mode)
			return "FAILED (%d)" % n if n else "–"
		return "%s (%.1f MiB/s)" % (fmt_ms(s), self.bytes[msg] / MIB / s)


def ratio_b_floor(res, key, msg):
	a, b, c0 = (res.secs(key, msg, m) for m in ("a", "b", "c0"))
	if None in (a, b, c0):
		return None
	return b / (a + c0)


def ratio_to_b(res, key, msg, mode="d"):
	b, d = res.secs(key, msg, "b"), res.secs(key, msg, mode)
	if None in (b, d):
		return None
	return d / b


def rss_diff_mib(res, key, msg):
	a, b = res.rss(key, msg, "a"), res.rss(key, msg, "b")
	if None in (a, b):
		return None
	return (b - a) / 1024


def write_md(work, out, res, meta):
	sizes = {(r["key"], r["msg"], r["mode"]): int(r["bytes"])
		 for r in read_tsv(os.path.join(work, "gpg-sizes.tsv"))}
	plugin_ms = read_tsv(os.path.join(work, "plugin-ms.tsv"))
	vsz = read_tsv(os.path.join(work, "vsz.tsv"))
	strace = read_tsv(os.path.join(work, "strace.tsv"))
	L = []
	w = L.append
	has_e = res.runs(KEYS[0][0], "text-4k", "e") != []
	tmodes = ("a", "b", "c", "c0", "d") + (("e",) if has_e else ())

	w("# Benchmark: encryption at delivery")
	w("")
	w("Written by `bench/run.py` (issue 5) on %s; rerun with "
	  "`sudo bench/run.py` after building (see `bench/README.md`)."
	  % meta["date"])
	if meta.get("quick") == "true":
		w("")
		w("**Quick run (`--quick`, one repetition per case): not for "
		  "publishing.**")
	w("")
	w("| machine | |")
	w("|---|---|")
	w("| CPU | %s, %s cores (`nproc`) |" % (meta["cpu"], meta["nproc"]))
	w("| RAM | %s |" % meta["ram"])
	w("| OS | Debian %s, kernel %s |" % (meta["debian"], meta["kernel"]))
	w("| Dovecot | %s, Pigeonhole %s |" % (meta["dovecot"],
					       meta["pigeonhole"]))
	w("| GnuPG | gpg %s, libgcrypt %s, gpgme %s |" % (
		meta["gpg"], meta["libgcrypt"], meta["gpgme"]))
	w("| plugin | built %s; HEAD %s when the run started |" % (
		meta.get("plugin_built", "?"), meta["commit"]))
	w("| run | %s s, load average %s at the start, %s at the end (the "
	  "benchmark's own load) |" % (
		meta["duration"], meta["load_start"], meta["load_end"]))
	w("")
	if float(meta["load_start"]) > 0.5:
		w("**The machine was not idle** (load average above): other "
		  "processes competed for the %s cores, which inflates and "
		  "scatters the wall times, most for the cases that need two "
		  "processes at once ((b), (d)). %s" % (meta["nproc"],
						       res.spread_note()))
		w("")
	w("Cases, for each message and key, interleaved in one run:")
	w("")
	w("- **(a)** `dovecot-lda` without a Sieve script: the floor.")
	w("- **(b)** `dovecot-lda` with a `sieve_before` script `encrypt;` "
	  "(this plugin, default settings: no compression).")
	w("- **(c)** `gpg --encrypt --armor` of the message file to the same "
	  "key, output to /dev/null, with gpg's default compression and with "
	  "`-z 0`.")
	w("- **(d)** `dovecot-lda` with a `sieve_before` script running "
	  "`vnd.dovecot.filter` with `bench/pgpmime-filter.sh`: the mail piped "
	  "through `gpg` with default settings, wrapped as PGP/MIME (a lean "
	  "stand-in for the encrypt.sh + gpgit chain).")
	if has_e:
		w("- **(e)** the seed's own chain: `dovecot-lda` with a "
		  "`sieve_before` script running `vnd.dovecot.filter` with "
		  "`bench/seed-encrypt.sh` (the seed's encrypt.sh: "
		  "`DATA=\"$(cat)\"`, then gpgit) → gpgit (Perl, Mail::GnuPG "
		  "%s; the gpgit script with SHA-256 `%s`) → gpg (default "
		  "compression, armor). At most 5 repetitions from 20 MiB on."
		  % (meta.get("mail_gnupg", "?"),
		     meta.get("gpgit_sha256", "?")[:16] + "…"))
	w("")
	w("Messages: 4 KiB text/plain; multipart/mixed with a base64 "
	  "attachment of random bytes at 100 KiB, 1, 20 and 45 MiB (whole "
	  "message); 20 MiB multipart/mixed with a quoted-printable CSV "
	  "attachment (compressible). Median wall time of %s repetitions "
	  "(4 KiB, 100 KiB, 1 MiB, 20 MiB, 45 MiB), throughput in MiB of "
	  "message per second; peak RSS with `/usr/bin/time -f %%M`, median. "
	  "Deliveries run as the unprivileged account `%s`, into a Maildir, "
	  "with Dovecot's default `mail_fsync`." % (
		  "/".join(str(res.reps(m)) for m in
			   ("text-4k", "rand-100k", "rand-1m", "rand-20m",
			    "rand-45m")),
		  meta["account"]))
	w("")

	for key, label in KEYS:
		w("## %s key: time" % label)
		w("")
		w("| message | (a) plain delivery | (b) encrypt | "
		  "(c) gpg default | (c) gpg -z 0 | (d) filter + gpg |%s"
		  % (" (e) encrypt.sh + gpgit |" if has_e else ""))
		w("|---|%s" % ("--:|" * (len(tmodes))))
		for msg, mlabel in MSGS:
			w("| %s | %s |" % (mlabel, " | ".join(
				res.cell(key, msg, m) for m in tmodes)))
		w("")
		w("## %s key: memory and ratios" % label)
		w("")
		w("| message | RSS (a) | RSS (b) | RSS(b) − RSS(a) | "
		  "RSS (d) | RSS gpg alone (c -z 0) | (b) / ((a) + (c -z 0)) "
		  "| (d) / (b) |%s" % (" RSS (e) | (e) / (b) |" if has_e
					else ""))
		w("|---|%s" % ("--:|" * (9 if has_e else 7)))
		for msg, mlabel in MSGS:
			d = rss_diff_mib(res, key, msg)
			cells = [mlabel, fmt_mib(res.rss(key, msg, "a")),
				 fmt_mib(res.rss(key, msg, "b")),
				 "–" if d is None else "%+.1f MiB" % d,
				 fmt_mib(res.rss(key, msg, "d")),
				 fmt_mib(res.rss(key, msg, "c0")),
				 fmt_ratio(ratio_b_floor(res, key, msg)),
				 fmt_ratio(ratio_to_b(res, key, msg))]
			if has_e:
				cells += [fmt_mib(res.rss(key, msg, "e")),
					  fmt_ratio(ratio_to_b(res, key, msg,
							       "e"))]
			w("| %s |" % " | ".join(cells))
		w("")
	w("RSS is that of the process `/usr/bin/time` waits for, "
	  "dovecot-lda, which includes the largest of its waited-for "
	  "descendants: in (d) the filter script and its gpg%s; in (b) not "
	  "gpg, " % ("; in (e) gpgit's Perl" if has_e else "") +
	  "which gpgme starts through a double fork (its size is about that "
	  "of gpg alone, last but two columns).")
	w("")

	# targets
	w("## Targets of issue 5")
	w("")
	w("| target | %s |" % " | ".join(l for _, l in KEYS))
	w("|---|%s|" % "|".join("---" for _ in KEYS))

	def target_row(text, values):
		w("| %s | %s |" % (text, " | ".join(values)))

	for msg in ("rand-20m", "rand-45m"):
		vals = []
		for key, _ in KEYS:
			r = ratio_b_floor(res, key, msg)
			vals.append("–" if r is None else "%.2f: %s" % (
				r, yes_no(r <= 1.15)))
		target_row("%s random: (b) ≤ 1.15 × ((a) + (c -z 0))"
			   % msg.split("-")[1].upper().replace("M", " MiB"),
			   vals)
	for msg, limit, text in (("rand-20m", 5, "20 MiB"),
				 ("text-4k", 3, "4 KiB")):
		vals = []
		for key, _ in KEYS:
			r = ratio_to_b(res, key, msg)
			vals.append("–" if r is None else "%.2f: %s" % (
				r, yes_no(r >= limit)))
		target_row("(d) / (b) ≥ %d at %s" % (limit, text), vals)
	for msg, limit, text in ((("rand-20m", 5, "20 MiB"),
				  ("text-4k", 3, "4 KiB")) if has_e else ()):
		vals = []
		for key, _ in KEYS:
			r = ratio_to_b(res, key, msg, "e")
			vals.append("–" if r is None else "%.1f (≥ %d: %s)" % (
				r, limit, "yes" if r >= limit else "no"))
		target_row("for comparison, not a target: (e) / (b) at %s, "
			   "the seed's own chain" % text, vals)
	vals = []
	for key, _ in KEYS:
		d = rss_diff_mib(res, key, "rand-45m")
		vals.append("–" if d is None else "%+.1f MiB: %s" % (
			d, yes_no(d <= 32)))
	target_row("45 MiB: RSS(b) − RSS(a) ≤ 32 MiB", vals)
	vals = []
	for key, _ in KEYS:
		row = [v for v in vsz if v["key"] == key and v["mode"] == "b"]
		ok = bool(row) and row[0]["rc"] == "0" and row[0]["enc"] == "enc"
		vals.append(yes_no(ok))
	target_row("45 MiB (b) delivered encrypted under `ulimit -v 262144`",
		   vals)
	w("")

	# small mail
	w("## Small mail: where the time goes (4 KiB)")
	w("")
	w("| | %s |" % " | ".join(l for _, l in KEYS))
	w("|---|%s|" % "|".join("--:" for _ in KEYS))
	vals_a, vals_b, vals_d, vals_ob, vals_od, vals_p = [], [], [], [], [], []
	for key, _ in KEYS:
		a, b, d = (res.secs(key, "text-4k", m) for m in "abd")
		vals_a.append(fmt_ms(a))
		vals_b.append(fmt_ms(b))
		vals_d.append(fmt_ms(d))
		vals_ob.append("–" if None in (a, b) else
			       "%.1f ms" % ((b - a) * 1000))
		vals_od.append("–" if None in (a, d) else
			       "%.1f ms" % ((d - a) * 1000))
		ms = [int(r["ms"]) for r in plugin_ms if r["key"] == key and
		      int(r["msg"]) < 8192]
		vals_p.append("%d ms" % statistics.median(ms) if ms else "–")
	target_row("(a) plain delivery", vals_a)
	target_row("(b) encrypt", vals_b)
	target_row("(d) filter + gpg", vals_d)
	target_row("**overhead (b) − (a)**", vals_ob)
	target_row("overhead (d) − (a)", vals_od)
	target_row("encrypt action as the plugin logs it", vals_p)
	w("")
	helpers = {}
	for r in read_tsv(os.path.join(work, "helpers.tsv")):
		helpers.setdefault(r["program"], []).append(float(r["secs"]))
	helpers = {k: statistics.median(v) for k, v in helpers.items()}
	scratch = meta.get("scratch", "")

	def short(prog):
		if scratch:
			prog = prog.replace(scratch + "/", "")
		if "dovecot-lda" in prog.split(" ")[0]:
			return "dovecot-lda (runs doveconf, then itself again)"
		if len(prog) > 70:
			prog = prog[:67] + "..."
		return prog

	key, label = KEYS[1]
	for mode, title in (("b", "(b) encrypt"), ("d", "(d) filter + gpg")):
		procs = [r for r in strace if r["key"] == key and
			 r["mode"] == mode]
		if not procs:
			continue
		w("Processes of one %s delivery of the 4 KiB mail (%s key, "
		  "`strace -f -e trace=execve,exit_group`, which slows "
		  "process start-up: the times are inflated; programs without "
		  "an exec of their own, such as the subshells of the filter "
		  "script, are not listed):" % (title, label))
		w("")
		w("| started at | ran for | program | alone (median of 11) |")
		w("|--:|--:|---|--:|")
		for r in procs:
			start, end = float(r["start_ms"]), float(r["end_ms"])
			alone = helpers.get(r["program"])
			w("| %.1f ms | %.1f ms | `%s` | %s |" % (
				start, max(0.0, end - start),
				short(r["program"]),
				"" if alone is None else fmt_ms(alone)))
		w("")
	for key, label in KEYS:
		procs = [r for r in strace if r["key"] == key and
			 r["mode"] == "b"][1:]
		if not procs:
			continue
		aux = [r for r in procs if r["program"] in helpers]
		cost = sum(helpers[r["program"]] for r in aux)
		a, b = (res.secs(key, "text-4k", m) for m in "ab")
		share = ""
		if None not in (a, b) and b > a:
			share = ", %.0f %% of the overhead (b) − (a)" % (
				100 * cost / (b - a))
		w("- %s: one (b) delivery ran %d programs: %d helper runs of "
		  "gpgme (engine and version discovery) costing %s when timed "
		  "alone%s, then gpg twice (key listing, encryption)."
		  % (label, len(procs), len(aux), fmt_ms(cost), share))
	kl = helpers.get("gpg --list-keys (key lookup)")
	if kl is not None:
		w("- A key listing `gpg --with-colons --list-keys "
		  "'<address>'` alone: %s." % fmt_ms(kl))
	w("")

	# compression
	w("## Compression: ciphertext size and time (20 MiB)")
	w("")
	w("| key | message | case | time | output size | of the input |")
	w("|---|---|---|--:|--:|--:|")
	for key, label in KEYS:
		for msg in ("rand-20m", "text-20m"):
			inb = res.bytes.get(msg)
			for mode, case in (("b", "(b) compress = no (default)"),
					   ("bz", "(b) compress = yes"),
					   ("c", "(c) gpg default"),
					   ("c0", "(c) gpg -z 0"),
					   ("d", "(d) filter + gpg")):
				if mode.startswith("c"):
					size = sizes.get((key, msg, mode))
				else:
					size = res.stored(key, msg, mode)
				w("| %s | %s | %s | %s | %s | %s |" % (
					label, msg, case,
					fmt_ms(res.secs(key, msg, mode)),
					"–" if size is None else
					"{:,}".format(int(size)),
					"–" if size is None or not inb else
					"%.0f %%" % (100.0 * size / inb)))
	w("")
	w("Sizes of (b) and (d) are of the stored message (PGP/MIME with "
	  "the outer header), of (c) of the ASCII-armored ciphertext. "
	  "The \"random\" attachment is base64 text (6 bits of entropy per "
	  "byte), so compression shrinks it by about a quarter; the CSV "
	  "text shrinks much more.")
	w("")
	for key, label in KEYS:
		for msg in ("rand-20m", "text-20m"):
			t0, t1 = res.secs(key, msg, "b"), res.secs(key, msg, "bz")
			s0, s1 = res.stored(key, msg, "b"), res.stored(key, msg, "bz")
			if None in (t0, t1, s0, s1):
				continue
			w("- %s, %s: `sieve_encrypt_compress = yes` takes %.2f × "
			  "the time of `no` (%+.0f ms) for a %.0f %% smaller "
			  "stored message." % (label, msg, t1 / t0,
					       (t1 - t0) * 1000,
					       100 * (1 - s1 / s0)))
	w("")

	# vsz
	w("## 45 MiB under Dovecot's default `default_vsz_limit` (256M)")
	w("")
	w("`ulimit -v 262144` around dovecot-lda (the limit the master "
	  "would set for the service; gpg inherits it).")
	w("")
	w("| key | case | result | exit | peak RSS | error |")
	w("|---|---|---|--:|--:|---|")
	names = {"a": "(a) plain delivery", "b": "(b) encrypt",
		 "d": "(d) filter + gpg",
		 "dslurp": "(d) with the seed's `DATA=\"$(cat)\"`",
		 "e": "(e) encrypt.sh + gpgit"}
	for key, label in KEYS:
		for r in [v for v in vsz if v["key"] == key]:
			want = "plain" if r["mode"] == "a" else "enc"
			if r["rc"] == "0" and r["enc"] == want:
				result = "works"
			elif r["rc"] == "0":
				result = "FAILS: stored %s" % (
					"unencrypted" if r["enc"] == "plain"
					else "nothing")
			else:
				result = "FAILS"
			err = r.get("error") or ""
			err = err.replace("|", "\\|")
			w("| %s | %s | %s | %s | %s | %s |" % (
				label, names.get(r["mode"], r["mode"]), result,
				r["rc"], fmt_mib(int(r["rss_kb"] or 0)), err))
	w("")
	check = read_tsv(os.path.join(work, "decrypt-check.tsv"))
	if check:
		w("The stored 45 MiB messages of (b) and (d) (last run), "
		  "decrypted with the secret keys: %s." % ", ".join(
			  "%s (%s) %s" % (dict(KEYS)[r["key"]], r["mode"],
					  "body identical to the original"
					  if r["result"] == "identical" else
					  "**%s**" % r["result"])
			  for r in check))
		w("")
	w("![time vs size](benchmark.svg)")
	w("")

	with open(os.path.join(out, "benchmark.md"), "w",
		  encoding="utf-8") as f:
		f.write("\n".join(L))


def write_plot(work, out, res):
	series = [("a", "(a) plain delivery"), ("b", "(b) encrypt"),
		  ("c", "(c) gpg default"), ("c0", "(c) gpg -z 0"),
		  ("d", "(d) filter + gpg")]
	if res.runs(KEYS[0][0], "text-4k", "e"):
		series.append(("e", "(e) encrypt.sh + gpgit"))
	msgs = ["text-4k", "rand-100k", "rand-1m", "rand-20m", "rand-45m"]
	for key, _ in KEYS:
		with open(os.path.join(work, "plot-%s.dat" % key), "w") as f:
			f.write("# MiB %s\n" % " ".join(m for m, _ in series))
			for msg in msgs:
				vals = [res.secs(key, msg, m) for m, _ in series]
				f.write("%g %s\n" % (res.bytes[msg] / MIB, " ".join(
					"NaN" if v is None else "%g" % v
					for v in vals)))
	gp = [
		'set terminal svg size 1000,460 dynamic font "sans,11"',
		'set multiplot layout 1,2 title "Delivery time vs message size '
		'(median; 4 KiB text, then random attachments)"',
		"set logscale xy",
		'set xlabel "message size (MiB)"',
		'set ylabel "wall time (s)"',
		"set grid",
		"set key top left",
		"set format x '%g'",
		"set format y '%g'",
	]
	styles = ["lw 2 pt 7", "lw 3 pt 5", "lw 1.5 dt 2 pt 9",
		  "lw 1.5 dt 3 pt 11", "lw 2 pt 13", "lw 2 dt 4 pt 15"]
	for key, label in KEYS:
		gp.append('set title "%s key"' % label)
		plots = []
		for i, (mode, title) in enumerate(series):
			plots.append('"%s" using 1:%d with linespoints %s '
				     'title "%s"' % (
					     os.path.join(work, "plot-%s.dat" % key),
					     i + 2, styles[i], title))
		gp.append("plot " + ", \\\n     ".join(plots))
	gp.append("unset multiplot")
	with open(os.path.join(work, "plot.gp"), "w") as f:
		f.write("\n".join(gp) + "\n")


def main():
	if len(sys.argv) != 3:
		sys.exit(__doc__)
	work, out = sys.argv[1], sys.argv[2]
	meta = {}
	with open(os.path.join(work, "meta.txt"), encoding="utf-8") as f:
		for line in f:
			k, _, v = line.rstrip("\n").partition("=")
			meta[k] = v
	res = Results(work)
	write_md(work, out, res, meta)
	write_plot(work, out, res)


if __name__ == "__main__":
	main()
