/* Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
 */

#ifndef SIEVE_ENCRYPT_GROUPS_H
#define SIEVE_ENCRYPT_GROUPS_H

#include <stdbool.h>
#include <sys/types.h>

/* The supplementary groups gpg may keep. Only libc: both the plugin and
   sieve-encrypt-gpg-exec use this. Lists are malloc()ed; free() them. */

/* The process may set its supplementary groups for gpg: its real or
   saved uid is 0 (Dovecot's LMTP run as root lowers only the effective
   uid). Returns 1 if so, 0 if not, -1 with errno set on failure. */
int sieve_encrypt_groups_settable(void);

/* The mail user's own groups: gid and, when a system account has uid,
   that account's groups (getgrouplist(), what Dovecot's passwd userdb
   gives through system_groups_user). Returns the list (count_r set), or
   NULL with errno set. */
gid_t *sieve_encrypt_user_groups(uid_t uid, gid_t gid, int *count_r);

/* The process's supplementary groups. Returns the list (count_r set), or
   NULL with errno set. */
gid_t *sieve_encrypt_current_groups(int *count_r);

/* Parse a list of gids separated by spaces (as the plugin passes
   sieve_encrypt_gpg_allowed_groups to sieve-encrypt-gpg-exec); NULL or ""
   is the empty list. Returns the list (count_r set), or NULL with errno
   set (EINVAL: not such a list). */
gid_t *sieve_encrypt_groups_parse(const char *str, int *count_r);

/* The list as the plugin passes it to sieve-encrypt-gpg-exec: gids
   separated by spaces, what sieve_encrypt_groups_parse() reads. Returns
   the string, or NULL with errno set. */
char *sieve_encrypt_groups_format(const gid_t *groups, int count);

/* gid is one of groups[] */
bool sieve_encrypt_groups_contain(const gid_t *groups, int count, gid_t gid);

/* Find a group of groups[] that is neither in own[] nor in allowed[].
   Returns true and sets foreign_r if there is one. */
bool sieve_encrypt_groups_find_foreign(const gid_t *groups, int count,
				       const gid_t *own, int own_count,
				       const gid_t *allowed, int allowed_count,
				       gid_t *foreign_r);

#endif
