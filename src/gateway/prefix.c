/*
 * Prefix block hashes and the bounded LRU table (prefix.h).
 */
#include "base/common.h"

#include "gateway/prefix.h"

#include "base/banned.h"

#define NIL UINT32_MAX
#define K1 UINT64_C(0x9e3779b97f4a7c15)
#define K2 UINT64_C(0xbf58476d1ce4e5b9)
#define K3 UINT64_C(0x94d049bb133111eb)

/* The splitmix64 finaliser: every output bit depends on every input bit. */
static uint64_t mix(uint64_t h)
{
	h ^= h >> 30;
	h *= K2;
	h ^= h >> 27;
	h *= K3;
	h ^= h >> 31;
	return h;
}

void llmo_gw_chain_init(struct llmo_gw_chain *c, uint64_t seed)
{
	c->h = mix(seed + K1);
}

/*
 * Eight bytes a step (a prompt's bytes are hashed on every request). The
 * length goes in first, so that pieces "ab" and "a", "b" differ.
 */
void llmo_gw_chain_add(struct llmo_gw_chain *c, const void *p, size_t len)
{
	const unsigned char *s = p;
	uint64_t h = c->h ^ ((uint64_t)len * K1), w;

	for (; len >= 8; s += 8, len -= 8) {
		memcpy(&w, s, 8);
		h = (h ^ w) * K2;
		h ^= h >> 29;
	}
	if (len) {
		w = 0;
		memcpy(&w, s, len);
		h = (h ^ w) * K3;
		h ^= h >> 29;
	}
	c->h = h;
}

uint64_t llmo_gw_chain_cut(struct llmo_gw_chain *c)
{
	c->h = mix(c->h + K1);
	return c->h;
}

size_t llmo_gw_prefix_hashes(const char *s, size_t len, size_t block, uint64_t seed,
			     uint64_t *out, size_t max)
{
	struct llmo_gw_chain c;
	size_t n = 0;

	if (block == 0)
		return 0;
	llmo_gw_chain_init(&c, seed);
	for (size_t off = 0; n < max && len - off >= block; off += block) {
		llmo_gw_chain_add(&c, s + off, block);
		out[n++] = llmo_gw_chain_cut(&c);
	}
	return n;
}

/* ---- the LRU table ---- */

int llmo_gw_lru_init(struct llmo_gw_lru *l, size_t cap)
{
	uint32_t nb = 1;

	memset(l, 0, sizeof(*l));
	l->newest = l->oldest = NIL;
	if (cap == 0 || cap > LLMO_GW_LRU_MAX)
		return LLMO_EINVAL;
	while (nb < cap)
		nb <<= 1;
	l->e = malloc(cap * sizeof(*l->e));
	l->buckets = malloc((size_t)nb * sizeof(*l->buckets));
	if (!l->e || !l->buckets) {
		llmo_gw_lru_release(l);
		return LLMO_ENOMEM;
	}
	memset(l->buckets, 0xff, (size_t)nb * sizeof(*l->buckets)); /* NIL */
	l->cap = (uint32_t)cap;
	l->mask = nb - 1;
	return 0;
}

void llmo_gw_lru_release(struct llmo_gw_lru *l)
{
	free(l->e);
	free(l->buckets);
	memset(l, 0, sizeof(*l));
	l->newest = l->oldest = NIL;
}

static uint32_t find(const struct llmo_gw_lru *l, uint64_t key)
{
	if (!l->e)
		return NIL;
	for (uint32_t i = l->buckets[mix(key) & l->mask]; i != NIL; i = l->e[i].chain)
		if (l->e[i].key == key)
			return i;
	return NIL;
}

bool llmo_gw_lru_get(const struct llmo_gw_lru *l, uint64_t key, uint64_t *value)
{
	uint32_t i = find(l, key);

	if (i == NIL)
		return false;
	if (value)
		*value = l->e[i].value;
	return true;
}

static void unlink_recency(struct llmo_gw_lru *l, uint32_t i)
{
	struct llmo_gw_lru_entry *e = &l->e[i];

	if (e->newer != NIL)
		l->e[e->newer].older = e->older;
	else
		l->newest = e->older;
	if (e->older != NIL)
		l->e[e->older].newer = e->newer;
	else
		l->oldest = e->newer;
}

static void push_newest(struct llmo_gw_lru *l, uint32_t i)
{
	struct llmo_gw_lru_entry *e = &l->e[i];

	e->newer = NIL;
	e->older = l->newest;
	if (l->newest != NIL)
		l->e[l->newest].newer = i;
	l->newest = i;
	if (l->oldest == NIL)
		l->oldest = i;
}

static void unlink_bucket(struct llmo_gw_lru *l, uint32_t i)
{
	uint32_t *pp = &l->buckets[mix(l->e[i].key) & l->mask];

	while (*pp != i)
		pp = &l->e[*pp].chain;
	*pp = l->e[i].chain;
}

bool llmo_gw_lru_put(struct llmo_gw_lru *l, uint64_t key, uint64_t value)
{
	uint32_t i = find(l, key), *head;

	if (!l->e)
		return false;
	if (i != NIL) {
		l->e[i].value = value;
		unlink_recency(l, i);
		push_newest(l, i);
		return true;
	}
	if (l->len < l->cap) {
		i = l->len++;
	} else {
		/* full: the least recently used slot is reused */
		i = l->oldest;
		unlink_recency(l, i);
		unlink_bucket(l, i);
		l->evictions++;
	}
	head = &l->buckets[mix(key) & l->mask];
	l->e[i].key = key;
	l->e[i].value = value;
	l->e[i].chain = *head;
	*head = i;
	push_newest(l, i);
	return false;
}
