/*
 * Least-recently-used bookkeeping of an S3 store's cached blobs (lru.h):
 * a hash map for lookups and a doubly linked list for the order.
 */
#include "base/common.h"

#include "base/error.h"
#include "registry/lru.h"

#include "base/banned.h"

struct llmo_reg_lru_ent {
	struct llmo_reg_lru_ent *prev, *next; /* towards head (newer), towards tail */
	uint64_t size;
	unsigned readers;
	char hex[72];
};

void llmo_reg_lru_init(struct llmo_reg_lru *l, uint64_t max)
{
	memset(l, 0, sizeof(*l));
	llmo_hmap_init(&l->map);
	l->max = max;
}

void llmo_reg_lru_release(struct llmo_reg_lru *l)
{
	llmo_hmap_release(&l->map, free);
	l->head = l->tail = NULL;
	l->bytes = 0;
}

static void unlink_ent(struct llmo_reg_lru *l, struct llmo_reg_lru_ent *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		l->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		l->tail = e->prev;
	e->prev = e->next = NULL;
}

static void push_head(struct llmo_reg_lru *l, struct llmo_reg_lru_ent *e)
{
	e->next = l->head;
	e->prev = NULL;
	if (l->head)
		l->head->prev = e;
	l->head = e;
	if (!l->tail)
		l->tail = e;
}

int llmo_reg_lru_use(struct llmo_reg_lru *l, const char *hex, uint64_t size)
{
	struct llmo_reg_lru_ent *e = llmo_hmap_get(&l->map, hex);

	if (e) {
		unlink_ent(l, e);
		l->bytes -= e->size;
	} else {
		if (strlen(hex) >= sizeof(e->hex) || !(e = calloc(1, sizeof(*e))))
			return LLMO_ENOMEM;
		snprintf(e->hex, sizeof(e->hex), "%s", hex);
		if (llmo_hmap_put(&l->map, e->hex, e, NULL)) {
			free(e);
			return LLMO_ENOMEM;
		}
	}
	e->size = size;
	l->bytes += size;
	push_head(l, e);
	return 0;
}

void llmo_reg_lru_drop(struct llmo_reg_lru *l, const char *hex)
{
	void *v = NULL;

	if (llmo_hmap_del(&l->map, hex, &v) == 0 && v) {
		struct llmo_reg_lru_ent *e = v;

		unlink_ent(l, e);
		l->bytes -= e->size;
		free(e);
	}
}

void llmo_reg_lru_pin(struct llmo_reg_lru *l, const char *hex)
{
	struct llmo_reg_lru_ent *e = llmo_hmap_get(&l->map, hex);

	if (e)
		e->readers++;
}

void llmo_reg_lru_unpin(struct llmo_reg_lru *l, const char *hex)
{
	struct llmo_reg_lru_ent *e = llmo_hmap_get(&l->map, hex);

	if (e && e->readers)
		e->readers--;
}

const char *llmo_reg_lru_victim(const struct llmo_reg_lru *l)
{
	if (!l->max || l->bytes <= l->max)
		return NULL;
	for (const struct llmo_reg_lru_ent *e = l->tail; e && e != l->head; e = e->prev)
		if (!e->readers)
			return e->hex;
	return NULL;
}
