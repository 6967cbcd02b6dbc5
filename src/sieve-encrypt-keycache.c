/* Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
 */

#include "lib.h"
#include "array.h"
#include "buffer.h"

#include "sieve-encrypt-keycache.h"

#include <sys/stat.h>
#include <unistd.h>

/* What identifies the keyring file's content, and whose listing it is */
struct sieve_encrypt_keycache_stamp {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
	uid_t uid;
	gid_t gid;
	/* when this was taken: before the listing */
	time_t taken;
};

struct sieve_encrypt_keycache_entry {
	char *keyring;
	char *gpg_binary;
	/* the patterns, each followed by a NUL */
	char *patterns;
	size_t patterns_size;
	struct sieve_encrypt_keycache_stamp stamp;
	/* not used at or after this time */
	time_t valid_until;
	ARRAY(gpgme_key_t) keys;
};

static ARRAY(struct sieve_encrypt_keycache_entry *) keycache_entries;

static bool
sieve_encrypt_keycache_stamp_get(const char *keyring,
				 struct sieve_encrypt_keycache_stamp *stamp_r)
{
	struct stat st;

	if (stat(keyring, &st) < 0)
		return FALSE;
	i_zero(stamp_r);
	stamp_r->dev = st.st_dev;
	stamp_r->ino = st.st_ino;
	stamp_r->size = st.st_size;
	stamp_r->mtime = st.st_mtim;
	stamp_r->ctime = st.st_ctim;
	stamp_r->uid = geteuid();
	stamp_r->gid = getegid();
	stamp_r->taken = time(NULL);
	return TRUE;
}

static bool
sieve_encrypt_keycache_stamp_equal(const struct sieve_encrypt_keycache_stamp *a,
				   const struct sieve_encrypt_keycache_stamp *b)
{
	return (a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
		a->mtime.tv_sec == b->mtime.tv_sec &&
		a->mtime.tv_nsec == b->mtime.tv_nsec &&
		a->ctime.tv_sec == b->ctime.tv_sec &&
		a->ctime.tv_nsec == b->ctime.tv_nsec &&
		a->uid == b->uid && a->gid == b->gid);
}

/* The patterns as one block: each followed by a NUL */
static const char *
sieve_encrypt_keycache_patterns(const char *const *patterns, size_t *size_r)
{
	buffer_t *buf = t_buffer_create(128);

	for (; *patterns != NULL; patterns++)
		buffer_append(buf, *patterns, strlen(*patterns) + 1);
	*size_r = buf->used;
	return buf->data;
}

static bool
sieve_encrypt_keycache_entry_is(const struct sieve_encrypt_keycache_entry *entry,
				const struct sieve_encrypt_keycache_request *req,
				const char *patterns, size_t patterns_size)
{
	return (entry->patterns_size == patterns_size &&
		memcmp(entry->patterns, patterns, patterns_size) == 0 &&
		strcmp(entry->keyring, req->keyring) == 0 &&
		strcmp(entry->gpg_binary, req->gpg_binary) == 0);
}

static void
sieve_encrypt_keycache_entry_free(struct sieve_encrypt_keycache_entry **_entry)
{
	struct sieve_encrypt_keycache_entry *entry = *_entry;
	gpgme_key_t *key;

	*_entry = NULL;
	array_foreach_modifiable(&entry->keys, key)
		gpgme_key_unref(*key);
	array_free(&entry->keys);
	i_free(entry->keyring);
	i_free(entry->gpg_binary);
	i_free(entry->patterns);
	i_free(entry);
}

static void sieve_encrypt_keycache_delete(unsigned int idx)
{
	struct sieve_encrypt_keycache_entry *entry;

	entry = array_idx_elem(&keycache_entries, idx);
	array_delete(&keycache_entries, idx, 1);
	sieve_encrypt_keycache_entry_free(&entry);
}

/* The entry for req, or UINT_MAX */
static unsigned int
sieve_encrypt_keycache_find(const struct sieve_encrypt_keycache_request *req)
{
	struct sieve_encrypt_keycache_entry *const *entries;
	const char *patterns;
	size_t patterns_size;
	unsigned int i, count;

	if (!array_is_created(&keycache_entries))
		return UINT_MAX;
	patterns = sieve_encrypt_keycache_patterns(req->patterns,
						   &patterns_size);
	entries = array_get(&keycache_entries, &count);
	for (i = 0; i < count; i++) {
		if (sieve_encrypt_keycache_entry_is(entries[i], req, patterns,
						    patterns_size))
			return i;
	}
	return UINT_MAX;
}

bool sieve_encrypt_keycache_lookup(
	const struct sieve_encrypt_keycache_request *req,
	gpgme_key_t const **keys_r, unsigned int *count_r,
	struct sieve_encrypt_keycache_stamp **stamp_r)
{
	struct sieve_encrypt_keycache_stamp stamp;
	struct sieve_encrypt_keycache_entry *entry;
	unsigned int idx;

	*stamp_r = NULL;
	if (!sieve_encrypt_keycache_stamp_get(req->keyring, &stamp))
		return FALSE;
	idx = sieve_encrypt_keycache_find(req);
	if (idx != UINT_MAX) {
		entry = array_idx_elem(&keycache_entries, idx);
		if (sieve_encrypt_keycache_stamp_equal(&entry->stamp, &stamp) &&
		    time(NULL) < entry->valid_until) {
			*keys_r = array_get(&entry->keys, count_r);
			return TRUE;
		}
		sieve_encrypt_keycache_delete(idx);
	}
	*stamp_r = i_new(struct sieve_encrypt_keycache_stamp, 1);
	**stamp_r = stamp;
	return FALSE;
}

/* The earliest time after now (the start of the listing: a key that
   expired during it may be listed as valid) at which a listed key or subkey expires or
   begins to be valid */
static time_t
sieve_encrypt_keycache_valid_until(time_t now, gpgme_key_t const *keys,
				   unsigned int count)
{
	time_t until = now + SIEVE_ENCRYPT_KEYCACHE_MAX_AGE_SECS;
	gpgme_subkey_t subkey;
	unsigned int i;

	for (i = 0; i < count; i++) {
		for (subkey = keys[i]->subkeys; subkey != NULL;
		     subkey = subkey->next) {
			if (subkey->expires > now && subkey->expires < until)
				until = subkey->expires;
			if (subkey->timestamp > now &&
			    subkey->timestamp < until)
				until = subkey->timestamp;
		}
	}
	return until;
}

void sieve_encrypt_keycache_store(
	const struct sieve_encrypt_keycache_request *req,
	struct sieve_encrypt_keycache_stamp **_stamp,
	gpgme_key_t const *keys, unsigned int count)
{
	struct sieve_encrypt_keycache_stamp *stamp = *_stamp, now_stamp;
	struct sieve_encrypt_keycache_entry *entry;
	const char *patterns;
	unsigned int i;

	if (stamp == NULL)
		return;
	*_stamp = NULL;
	/* The file gpg read may have changed during the listing: then it is
	   not known which of the two was listed */
	if (!sieve_encrypt_keycache_stamp_get(req->keyring, &now_stamp) ||
	    !sieve_encrypt_keycache_stamp_equal(stamp, &now_stamp)) {
		i_free(stamp);
		return;
	}
	if (!array_is_created(&keycache_entries))
		i_array_init(&keycache_entries, 16);
	if (array_count(&keycache_entries) >=
	    SIEVE_ENCRYPT_KEYCACHE_MAX_ENTRIES)
		sieve_encrypt_keycache_delete(0);

	entry = i_new(struct sieve_encrypt_keycache_entry, 1);
	entry->keyring = i_strdup(req->keyring);
	entry->gpg_binary = i_strdup(req->gpg_binary);
	patterns = sieve_encrypt_keycache_patterns(req->patterns,
						   &entry->patterns_size);
	entry->patterns = i_malloc(entry->patterns_size);
	memcpy(entry->patterns, patterns, entry->patterns_size);
	entry->stamp = *stamp;
	entry->valid_until = sieve_encrypt_keycache_valid_until(stamp->taken,
								 keys, count);
	i_array_init(&entry->keys, I_MAX(count, 1));
	for (i = 0; i < count; i++) {
		gpgme_key_ref(keys[i]);
		array_push_back(&entry->keys, &keys[i]);
	}
	array_push_back(&keycache_entries, &entry);
	i_free(stamp);
}

void sieve_encrypt_keycache_stamp_free(
	struct sieve_encrypt_keycache_stamp **stamp)
{
	i_free_and_null(*stamp);
}
