#!/usr/bin/env python3
# Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
"""Command line of the PGP/MIME verifier, for the shell tests and bench/:
the checks live in tests/integration/harness/pgpmime.py (see there)."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "integration"))

from harness.pgpmime import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
