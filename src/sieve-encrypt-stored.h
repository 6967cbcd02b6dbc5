/* Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
 */

#ifndef SIEVE_ENCRYPT_STORED_H
#define SIEVE_ENCRYPT_STORED_H

struct sieve_runtime_env;

/* Whether the message under evaluation is stored in one of the script
   user's mailboxes already (IMAPSieve, sieve-filter); a delivery's
   message is a raw mail of Pigeonhole's raw user */
bool sieve_encrypt_stored_is_stored(const struct sieve_runtime_env *renv);

/* Called once encrypt substituted a new form (the encrypted message, or
   the message in clear with the status header field) for a message that
   is stored in one of the script user's mailboxes already: the message
   that IMAPSieve runs its scripts for after an APPEND, COPY or MOVE (or
   that sieve-filter filters). Nothing happens for a message being
   delivered.

   From then on, until the next such call, a save of the new form into
   any of the user's mailboxes (the implicit keep, keep, fileinto) gets
   the stored message's flags, keywords and received date (INTERNALDATE)
   unless the save sets its own (imap4flags), and once such a save is
   committed, the stored message is expunged: no copy in clear stays
   behind, whether or not imapsieve_expunge_discarded is set, and never
   before the new form is stored. The commit of the new form is logged
   at once, with the stored message's uid ("stored the new form of the
   replaced message (uid N)"), for sieve-encrypt-mailbox's journal. */
void sieve_encrypt_stored_replace(const struct sieve_runtime_env *renv);

#endif
