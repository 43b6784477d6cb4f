#include "base/common.h"

#include <pthread.h>
#include <sys/random.h>
#include <time.h>

#include "base/error.h"
#include "base/hmap.h"

#define HMAP_MIN_CAP 8

/* Process-wide SipHash key, drawn once from the kernel. */
static uint64_t hmap_seed[2];
static pthread_once_t hmap_seed_once = PTHREAD_ONCE_INIT;

static void hmap_seed_init(void)
{
	struct timespec ts;

	if (getrandom(hmap_seed, sizeof(hmap_seed), GRND_NONBLOCK) == (ssize_t)sizeof(hmap_seed))
		return;
	/* No entropy yet (early boot): a weaker key still spreads keys well. */
	clock_gettime(CLOCK_REALTIME, &ts);
	hmap_seed[0] = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ULL ^ (uint64_t)ts.tv_sec;
	hmap_seed[1] = (uint64_t)(uintptr_t)&ts ^ 0xc2b2ae3d27d4eb4fULL;
}

#define ROTL64(x, b) (((x) << (b)) | ((x) >> (64 - (b))))

#define SIPROUND                                                      \
	do {                                                          \
		v0 += v1;                                             \
		v1 = ROTL64(v1, 13);                                  \
		v1 ^= v0;                                             \
		v0 = ROTL64(v0, 32);                                  \
		v2 += v3;                                             \
		v3 = ROTL64(v3, 16);                                  \
		v3 ^= v2;                                             \
		v0 += v3;                                             \
		v3 = ROTL64(v3, 21);                                  \
		v3 ^= v0;                                             \
		v2 += v1;                                             \
		v1 = ROTL64(v1, 17);                                  \
		v1 ^= v2;                                             \
		v2 = ROTL64(v2, 32);                                  \
	} while (0)

static uint64_t load_le64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

/* SipHash-1-3 (one compression round, three finalisation rounds). */
static uint64_t hmap_hash(const char *key, size_t len)
{
	const unsigned char *p = (const unsigned char *)key;
	uint64_t k0, k1, v0, v1, v2, v3, m, b;
	size_t i, tail;

	pthread_once(&hmap_seed_once, hmap_seed_init);
	k0 = hmap_seed[0];
	k1 = hmap_seed[1];
	v0 = 0x736f6d6570736575ULL ^ k0;
	v1 = 0x646f72616e646f6dULL ^ k1;
	v2 = 0x6c7967656e657261ULL ^ k0;
	v3 = 0x7465646279746573ULL ^ k1;
	for (i = 0; i + 8 <= len; i += 8) {
		m = load_le64(p + i);
		v3 ^= m;
		SIPROUND;
		v0 ^= m;
	}
	b = (uint64_t)len << 56;
	tail = len - i;
	for (size_t j = 0; j < tail; j++)
		b |= (uint64_t)p[i + j] << (8 * j);
	v3 ^= b;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

/* Index of key's slot, or SIZE_MAX when absent. */
static size_t hmap_find(const struct llmo_hmap *m, const char *key, size_t keylen, uint64_t hash)
{
	size_t mask, i;

	if (!m->cap)
		return SIZE_MAX;
	mask = m->cap - 1;
	for (i = (size_t)hash & mask;; i = (i + 1) & mask) {
		const struct llmo_hmap_slot *s = &m->slots[i];

		if (!s->key)
			return SIZE_MAX;
		if (s->hash == hash && s->keylen == keylen && memcmp(s->key, key, keylen) == 0)
			return i;
	}
}

/* Places a slot known to be absent into a table with a free slot. */
static void hmap_place(struct llmo_hmap_slot *slots, size_t cap, const struct llmo_hmap_slot *s)
{
	size_t mask = cap - 1;
	size_t i;

	for (i = (size_t)s->hash & mask; slots[i].key; i = (i + 1) & mask)
		;
	slots[i] = *s;
}

static int hmap_resize(struct llmo_hmap *m, size_t cap)
{
	struct llmo_hmap_slot *slots;

	slots = calloc(cap, sizeof(*slots));
	if (!slots)
		return LLMO_ENOMEM;
	for (size_t i = 0; i < m->cap; i++) {
		if (m->slots[i].key)
			hmap_place(slots, cap, &m->slots[i]);
	}
	free(m->slots);
	m->slots = slots;
	m->cap = cap;
	return 0;
}

void llmo_hmap_init(struct llmo_hmap *m)
{
	m->slots = NULL;
	m->cap = 0;
	m->count = 0;
}

void llmo_hmap_release(struct llmo_hmap *m, void (*free_val)(void *val))
{
	for (size_t i = 0; i < m->cap; i++) {
		struct llmo_hmap_slot *s = &m->slots[i];

		if (!s->key)
			continue;
		if (free_val && s->val)
			free_val(s->val);
		free(s->key);
	}
	free(m->slots);
	llmo_hmap_init(m);
}

int llmo_hmap_put(struct llmo_hmap *m, const char *key, void *val, void **old)
{
	struct llmo_hmap_slot s;
	size_t keylen = strlen(key);
	size_t i;
	int rc;

	s.hash = hmap_hash(key, keylen);
	i = hmap_find(m, key, keylen, s.hash);
	if (i != SIZE_MAX) {
		if (old)
			*old = m->slots[i].val;
		m->slots[i].val = val;
		return 0;
	}
	/* Keep count + 1 <= 3/4 of cap. */
	if (m->count + 1 > m->cap / 4 * 3) {
		if (m->cap > SIZE_MAX / 2 / sizeof(struct llmo_hmap_slot))
			return LLMO_ENOMEM;
		rc = hmap_resize(m, m->cap ? m->cap * 2 : HMAP_MIN_CAP);
		if (rc)
			return rc;
	}
	s.key = malloc(keylen + 1);
	if (!s.key)
		return LLMO_ENOMEM;
	memcpy(s.key, key, keylen + 1);
	s.keylen = keylen;
	s.val = val;
	hmap_place(m->slots, m->cap, &s);
	m->count++;
	if (old)
		*old = NULL;
	return 0;
}

void *llmo_hmap_getn(const struct llmo_hmap *m, const char *key, size_t keylen)
{
	size_t i;

	if (!m->count)
		return NULL;
	i = hmap_find(m, key, keylen, hmap_hash(key, keylen));
	return i == SIZE_MAX ? NULL : m->slots[i].val;
}

void *llmo_hmap_get(const struct llmo_hmap *m, const char *key)
{
	return llmo_hmap_getn(m, key, strlen(key));
}

bool llmo_hmap_has(const struct llmo_hmap *m, const char *key)
{
	size_t keylen = strlen(key);

	if (!m->count)
		return false;
	return hmap_find(m, key, keylen, hmap_hash(key, keylen)) != SIZE_MAX;
}

int llmo_hmap_del(struct llmo_hmap *m, const char *key, void **old)
{
	size_t keylen = strlen(key);
	size_t mask, i, j, home;

	i = m->count ? hmap_find(m, key, keylen, hmap_hash(key, keylen)) : SIZE_MAX;
	if (i == SIZE_MAX) {
		if (old)
			*old = NULL;
		return LLMO_ENOTFOUND;
	}
	if (old)
		*old = m->slots[i].val;
	free(m->slots[i].key);
	m->slots[i].key = NULL;
	m->count--;

	/*
	 * Backward shift: walk the run after the hole; an entry whose home slot
	 * is not cyclically within (hole, j] would become unreachable past the
	 * hole, so move it into the hole, which then moves to j.
	 */
	mask = m->cap - 1;
	for (j = (i + 1) & mask; m->slots[j].key; j = (j + 1) & mask) {
		home = (size_t)m->slots[j].hash & mask;
		if (((j - home) & mask) >= ((j - i) & mask)) {
			m->slots[i] = m->slots[j];
			m->slots[j].key = NULL;
			i = j;
		}
	}
	return 0;
}

size_t llmo_hmap_count(const struct llmo_hmap *m)
{
	return m->count;
}

bool llmo_hmap_next(const struct llmo_hmap *m, size_t *iter, const char **key, void **val)
{
	for (size_t i = *iter; i < m->cap; i++) {
		if (!m->slots[i].key)
			continue;
		if (key)
			*key = m->slots[i].key;
		if (val)
			*val = m->slots[i].val;
		*iter = i + 1;
		return true;
	}
	*iter = m->cap;
	return false;
}
