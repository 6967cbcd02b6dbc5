/* Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
 */

#ifndef SIEVE_ENCRYPT_GUARD_H
#define SIEVE_ENCRYPT_GUARD_H

struct istream;
struct sieve_runtime_env;

/* Called once encrypt substituted the encrypted message (the stream) for
   the message of a delivery (dovecot-lda, LMTP). From then until the
   recipient's mail user is freed, nothing in the delivery process stores
   or reads the original: Pigeonhole's own message data (what the failure
   keep, vnd.dovecot.report, notify and vacation read) points to the
   encrypted message, and a save of the original into any of the user's
   mailboxes (the delivery's fallback after a failed Sieve run) stores the
   encrypted message instead, or fails temporarily where it must not.
   Outside a delivery (IMAPSieve, the Sieve tools) this does nothing.
   The guard reads the encrypted message through a child stream of its
   own; nothing must read the given stream directly. Returns 0, or -1 with
   error_r set when the guard could not be set up. */
int sieve_encrypt_guard_activate(const struct sieve_runtime_env *renv,
				 struct istream *encrypted,
				 const char **error_r);

/* Called when the message stays in clear but carries the status header
   field (sieve_encrypt_status_header; the stream is that form): in a
   delivery, Pigeonhole's message data (what the failure keep stores)
   points to it from now on. Saves of the original are not changed (the
   delivery's own fallback after a failed Sieve run stores the original,
   without the field). Nothing is done outside a delivery, or once the
   message was encrypted in this delivery. Returns 0, or -1 with error_r
   set. */
int sieve_encrypt_guard_mark(const struct sieve_runtime_env *renv,
			     struct istream *marked, const char **error_r);

#endif
