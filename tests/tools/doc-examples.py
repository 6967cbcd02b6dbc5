#!/usr/bin/env python3
# Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
"""Extract the Sieve scripts and Dovecot configurations shipped in doc/.

Usage: doc-examples.py OUTDIR FILE...

Writes every example found in the FILEs into OUTDIR, unchanged, one file
each, and prints one line per example:

    KIND <TAB> PATH <TAB> ORIGIN

KIND is "sieve", "conf-2.3" or "conf-2.4", PATH the extracted file, ORIGIN
"FILE:LINE" where the example starts. What counts as an example:

  *.sieve   the whole file (a Sieve script)
  *.conf    the whole file (a Dovecot configuration)
  *.md      fenced blocks marked ```sieve; unmarked fenced blocks that set
            sieve_plugins (configurations; other unmarked blocks are
            program output)
  *.txt     a Sieve script: from a line starting (after indentation) with
            `require [` or `require "` to the first blank line that follows
            a complete statement, or to a line indented less than the
            require line

A configuration with a "plugin {" section is Dovecot 2.3 syntax, else 2.4.
Files without examples are skipped.
"""

import os
import re
import sys

REQUIRE = re.compile(r'^(\s*)require\s*[\["]')
FENCE = re.compile(r'^```(\S*)\s*$')


def conf_kind(text):
    return "conf-2.3" if re.search(r'^\s*plugin\s*\{', text, re.M) \
        else "conf-2.4"


def from_markdown(lines):
    """(kind, first line number, text) of each example in a .md file"""
    block, lang, start = None, None, 0
    for n, line in enumerate(lines, 1):
        m = FENCE.match(line.rstrip("\n"))
        if block is None:
            if m:
                block, lang, start = [], m.group(1), n + 1
            continue
        if not m or m.group(1):
            block.append(line)
            continue
        text = "".join(block)
        if lang == "sieve":
            yield "sieve", start, text
        elif lang == "" and re.search(r'^\s*sieve_plugins\b', text, re.M):
            yield conf_kind(text), start, text
        block = None


def brace_depth(line):
    # Braces inside quoted strings do not count
    line = re.sub(r'"(\\.|[^"\\])*"', '""', line)
    return line.count("{") - line.count("}")


def from_text(lines):
    """(kind, first line number, text) of each Sieve script in a .txt file"""
    n = 0
    while n < len(lines):
        m = REQUIRE.match(lines[n])
        if not m:
            n += 1
            continue
        indent, start = len(m.group(1)), n + 1
        script, depth, statements = [], 0, False
        while n < len(lines):
            line = lines[n]
            blank = line.strip() == ""
            if not blank and len(line) - len(line.lstrip()) < indent:
                break
            if blank and depth == 0 and statements:
                break
            stripped = line.strip()
            if not blank and not stripped.startswith("#") and \
                    not REQUIRE.match(line):
                statements = True
            depth += brace_depth(line)
            script.append(line[indent:] if not blank else "\n")
            n += 1
        yield "sieve", start, "".join(script).rstrip("\n") + "\n"


def examples(path):
    with open(path, encoding="utf-8") as f:
        lines = f.readlines()
    if path.endswith(".sieve"):
        yield "sieve", 1, "".join(lines)
    elif path.endswith(".conf"):
        yield conf_kind("".join(lines)), 1, "".join(lines)
    elif path.endswith(".md"):
        yield from from_markdown(lines)
    elif path.endswith(".txt"):
        yield from from_text(lines)


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__.strip().splitlines()[2])
    outdir = sys.argv[1]
    for path in sys.argv[2:]:
        base = os.path.basename(path)
        found = 0
        for kind, line, text in examples(path):
            found += 1
            ext = "sieve" if kind == "sieve" else "conf"
            out = os.path.join(outdir, "%s-%d.%s" % (base, found, ext))
            with open(out, "w", encoding="utf-8") as f:
                f.write(text)
            print("%s\t%s\t%s:%d" % (kind, out, path, line))


if __name__ == "__main__":
    main()
