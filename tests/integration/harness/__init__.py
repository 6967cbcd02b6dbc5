# Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
"""The real parts the integration tests run: private Dovecot instances
(dovecot.py), throwaway OpenPGP keys (keys.py), an LMTP client (lmtp.py)
and the checker of stored PGP/MIME messages (pgpmime.py)."""
