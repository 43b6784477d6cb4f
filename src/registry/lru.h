#ifndef LLMO_REGISTRY_LRU_H
#define LLMO_REGISTRY_LRU_H
/*
 * struct llmo_reg_lru: the bookkeeping of the blobs an S3 store keeps
 * cached in its directory (modelRegistry.s3.cacheSize): their sizes in
 * order of last use, and which are being read now (pinned). It decides
 * what goes; the store (store.c) removes the files.
 *
 * A blob may go when the cache holds more than its bound, it is not
 * pinned, and it is not the most recently used one (that one is being
 * opened or was just stored: a blob larger than the whole bound stays
 * until another comes). Entries are keyed by the digest's hex.
 */
#include "base/common.h"

#include "base/hmap.h"

struct llmo_reg_lru_ent;

struct llmo_reg_lru {
	struct llmo_hmap map; /* hex -> struct llmo_reg_lru_ent * */
	struct llmo_reg_lru_ent *head, *tail; /* most recently used first */
	uint64_t bytes; /* sum of the entries' sizes */
	uint64_t max;   /* 0: no bound */
};

void llmo_reg_lru_init(struct llmo_reg_lru *l, uint64_t max);
void llmo_reg_lru_release(struct llmo_reg_lru *l);

/* hex was read or stored (size bytes): it becomes the most recent. LLMO_ENOMEM. */
int llmo_reg_lru_use(struct llmo_reg_lru *l, const char *hex, uint64_t size);
/* hex's file is gone. */
void llmo_reg_lru_drop(struct llmo_reg_lru *l, const char *hex);
/* A reader starts and ends (an unknown hex is ignored). */
void llmo_reg_lru_pin(struct llmo_reg_lru *l, const char *hex);
void llmo_reg_lru_unpin(struct llmo_reg_lru *l, const char *hex);
/*
 * The least recently used blob that should go now (over the bound, not
 * pinned, not the most recent), or NULL. The string lives until the entry
 * is dropped: the caller removes the file, then llmo_reg_lru_drop.
 */
const char *llmo_reg_lru_victim(const struct llmo_reg_lru *l);

#endif
