#ifndef LLMO_HMAP_H
#define LLMO_HMAP_H
/*
 * struct llmo_hmap: a hash map from C-string keys to `void *` values.
 *
 *     struct llmo_hmap m;
 *     llmo_hmap_init(&m);
 *     llmo_hmap_put(&m, "llama2", model, NULL);
 *     struct model *mm = llmo_hmap_get(&m, "llama2");
 *     llmo_hmap_release(&m, free_model);
 *
 * Ownership: the map copies each key on insert and frees its copies; it
 * never owns values (llmo_hmap_release can hand each one to a callback).
 * Values may be NULL; llmo_hmap_has tells an absent key from a NULL value.
 *
 * Implementation: open addressing with linear probing, deletion by backward
 * shift (no tombstones), capacity a power of two, grown by doubling before
 * the load factor would pass 3/4. Keys are hashed with SipHash-1-3 under a
 * per-process random key, so that keys chosen by outside input (headers,
 * labels, tenant names) cannot be crafted to collide.
 *
 * Not thread-safe: concurrent readers are fine, any writer needs exclusion.
 */
#include "base/common.h"

/* One slot; private to hmap.c. A slot is empty when key is NULL. */
struct llmo_hmap_slot {
	char *key;
	size_t keylen;
	uint64_t hash;
	void *val;
};

struct llmo_hmap {
	struct llmo_hmap_slot *slots; /* NULL until the first put */
	size_t cap;                   /* number of slots: 0 or a power of two */
	size_t count;                 /* occupied slots */
};

#define LLMO_HMAP_INIT {NULL, 0, 0}

void llmo_hmap_init(struct llmo_hmap *m);

/*
 * Frees the keys and the table, calling free_val (when not NULL) on every
 * non-NULL value first. The map is left initialised and empty.
 */
void llmo_hmap_release(struct llmo_hmap *m, void (*free_val)(void *val));

/*
 * Maps key to val, copying key. When key was present its value is replaced
 * and *old receives the previous value; otherwise *old is set to NULL
 * (old may be NULL when the caller does not need it). Returns 0 or
 * LLMO_ENOMEM (the map is then unchanged and *old untouched).
 */
int llmo_hmap_put(struct llmo_hmap *m, const char *key, void *val, void **old);

/* The value for key, or NULL when absent (or when the value is NULL). */
void *llmo_hmap_get(const struct llmo_hmap *m, const char *key);

/* As llmo_hmap_get for the keylen bytes at key, which need no NUL terminator. */
void *llmo_hmap_getn(const struct llmo_hmap *m, const char *key, size_t keylen);

bool llmo_hmap_has(const struct llmo_hmap *m, const char *key);

/*
 * Removes key, handing its value to *old (when old is not NULL). Returns 0,
 * or LLMO_ENOTFOUND when key is absent (*old is then set to NULL).
 */
int llmo_hmap_del(struct llmo_hmap *m, const char *key, void **old);

size_t llmo_hmap_count(const struct llmo_hmap *m);

/*
 * Iteration, in no particular order:
 *
 *     size_t it = 0; const char *k; void *v;
 *     while (llmo_hmap_next(&m, &it, &k, &v))
 *             use(k, v);
 *
 * Returns false when there are no more entries. key and val may be NULL.
 * The key pointer stays valid until the entry is deleted or the map released.
 * Any put of a new key or any delete during an iteration invalidates it
 * (entries may then be skipped or seen twice); replacing the value of an
 * existing key with llmo_hmap_put is allowed. To delete while iterating,
 * collect the keys first.
 */
bool llmo_hmap_next(const struct llmo_hmap *m, size_t *iter, const char **key, void **val);

#endif
