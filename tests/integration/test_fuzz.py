# Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
"""A bounded libFuzzer run (ASan + UBSan) over the MIME code and the armor:
tests/fuzz/run-fuzz.sh, the tool for long runs too (doc/fuzzing.md).
Marker: fuzz; host only (clang). Environment: SIEVE_ENCRYPT_FUZZ_SECONDS
(default 60)."""

import os
import re
import subprocess

import pytest

from conftest import TOP

pytestmark = pytest.mark.fuzz

SECONDS = int(os.environ.get("SIEVE_ENCRYPT_FUZZ_SECONDS", 60))


def test_fuzz_mime_no_crash():
    proc = subprocess.run([os.path.join(TOP, "tests", "fuzz", "run-fuzz.sh"),
                           str(SECONDS)], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT,
                          timeout=SECONDS + 600)
    out = proc.stdout.decode(errors="replace")
    # (without run-fuzz.sh's "PASS: ", which the driver would count)
    last = out.strip().splitlines()[-1] if out.strip() else "no output"
    print(re.sub(r"^(PASS|FAIL): ", "", last))
    assert proc.returncode == 0 and "PASS: fuzz-mime" in out, out[-3000:]
