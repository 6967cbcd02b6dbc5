/* Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
 */

#define _GNU_SOURCE

#include "sieve-encrypt-groups.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static gid_t *groups_alloc(int count)
{
	return calloc(count > 0 ? (size_t)count : 1, sizeof(gid_t));
}

int sieve_encrypt_groups_settable(void)
{
	uid_t ruid, euid, suid;

	if (getresuid(&ruid, &euid, &suid) < 0)
		return -1;
	return (ruid == 0 || suid == 0 ? 1 : 0);
}

gid_t *sieve_encrypt_user_groups(uid_t uid, gid_t gid, int *count_r)
{
	struct passwd *pw;
	gid_t *groups;
	int count = 1;

	errno = 0;
	pw = getpwuid(uid);
	if (pw == NULL && errno != 0 && errno != ENOENT && errno != ESRCH)
		return NULL;
	if ((groups = groups_alloc(count)) == NULL)
		return NULL;
	groups[0] = gid;
	if (pw != NULL && getgrouplist(pw->pw_name, gid, groups, &count) < 0) {
		/* The first call only said how many there are */
		free(groups);
		if ((groups = groups_alloc(count)) == NULL)
			return NULL;
		if (getgrouplist(pw->pw_name, gid, groups, &count) < 0) {
			free(groups);
			errno = EAGAIN;
			return NULL;
		}
	}
	*count_r = count;
	return groups;
}

gid_t *sieve_encrypt_current_groups(int *count_r)
{
	gid_t *groups;
	int count;

	if ((count = getgroups(0, NULL)) < 0 ||
	    (groups = groups_alloc(count)) == NULL)
		return NULL;
	if ((count = getgroups(count, groups)) < 0) {
		free(groups);
		return NULL;
	}
	*count_r = count;
	return groups;
}

gid_t *sieve_encrypt_groups_parse(const char *str, int *count_r)
{
	const char *p;
	gid_t *groups;
	unsigned long value;
	char *end;
	int count = 0;

	for (p = (str == NULL ? "" : str); *p != '\0'; p++) {
		if (*p != ' ' && (p[1] == ' ' || p[1] == '\0'))
			count++;
	}
	if ((groups = groups_alloc(count)) == NULL)
		return NULL;
	count = 0;
	for (p = (str == NULL ? "" : str); *p != '\0'; p = end) {
		if (*p == ' ') {
			end = (char *)p + 1;
			continue;
		}
		errno = 0;
		value = strtoul(p, &end, 10);
		if (*p < '0' || *p > '9' || errno != 0 ||
		    (*end != ' ' && *end != '\0') ||
		    value != (unsigned long)(gid_t)value) {
			free(groups);
			errno = EINVAL;
			return NULL;
		}
		groups[count++] = (gid_t)value;
	}
	*count_r = count;
	return groups;
}

char *sieve_encrypt_groups_format(const gid_t *groups, int count)
{
	/* A gid_t has at most 10 digits, each followed by a space or the
	   terminating NUL */
	size_t size = (count > 0 ? (size_t)count : 0) * 11 + 1, len = 0;
	char *str;
	int i;

	if ((str = malloc(size)) == NULL)
		return NULL;
	str[0] = '\0';
	for (i = 0; i < count; i++) {
		len += snprintf(str + len, size - len, "%s%lu",
				i > 0 ? " " : "", (unsigned long)groups[i]);
	}
	return str;
}

bool sieve_encrypt_groups_contain(const gid_t *groups, int count, gid_t gid)
{
	int i;

	for (i = 0; i < count; i++) {
		if (groups[i] == gid)
			return true;
	}
	return false;
}

bool sieve_encrypt_groups_find_foreign(const gid_t *groups, int count,
				       const gid_t *own, int own_count,
				       const gid_t *allowed, int allowed_count,
				       gid_t *foreign_r)
{
	int i;

	for (i = 0; i < count; i++) {
		if (!sieve_encrypt_groups_contain(own, own_count,
						  groups[i]) &&
		    !sieve_encrypt_groups_contain(allowed, allowed_count,
						  groups[i])) {
			*foreign_r = groups[i];
			return true;
		}
	}
	return false;
}
