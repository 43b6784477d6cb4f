#ifndef LLMO_GATEWAY_PREFIX_H
#define LLMO_GATEWAY_PREFIX_H
/*
 * Prefix affinity: which replica recently served a prompt that starts like
 * this one, so that its prefix (KV) cache can be reused.
 *
 * A prompt's leading bytes are cut into blocks of a fixed number of bytes
 * and hashed as a chain: hash i covers blocks 0..i, so two prompts share
 * hash i exactly when they share their first i + 1 blocks (up to hash
 * collisions, 2^-64 each). Only whole blocks count (as a prefix cache only
 * reuses whole blocks), and at most LLMO_GW_PREFIX_BLOCKS_MAX of them.
 *
 * struct llmo_gw_lru maps such 64-bit hashes to a 64-bit value (the
 * gateway: a backend's id; the inference simulator: nothing, it is its
 * prefix cache) in a table of fixed capacity that forgets the least
 * recently used entry when full. Memory is allocated once, at init:
 * 32 bytes per entry plus 8 per bucket.
 *
 * Threads: none; the owner serialises calls.
 */
#include "base/common.h"

#include "base/error.h"

/* Default and bounds of the block size in bytes (the gateway's --prefix-block). */
#define LLMO_GW_PREFIX_BLOCK_BYTES 256
#define LLMO_GW_PREFIX_BLOCK_MIN 16
#define LLMO_GW_PREFIX_BLOCK_MAX 65536
/* Leading blocks hashed per prompt. */
#define LLMO_GW_PREFIX_BLOCKS_MAX 256
/* Default and largest number of entries of the gateway's table (--prefix-entries). */
#define LLMO_GW_PREFIX_ENTRIES 65536
#define LLMO_GW_LRU_MAX (1u << 24)

/*
 * The chained block hashes of s[0, len): one per whole block of `block`
 * bytes, at most max of them, into out. Returns how many were written.
 * seed makes chains of different owners differ (0 is fine).
 */
size_t llmo_gw_prefix_hashes(const char *s, size_t len, size_t block, uint64_t seed,
			     uint64_t *out, size_t max);

/*
 * A chain of hashes made one piece at a time (the simulator hashes tokens
 * as it counts them): llmo_gw_chain_init, then llmo_gw_chain_add for the
 * bytes of each piece, llmo_gw_chain_cut to end a block and get its hash.
 * llmo_gw_prefix_hashes is this over fixed-size byte blocks.
 */
struct llmo_gw_chain {
	uint64_t h;
};
void llmo_gw_chain_init(struct llmo_gw_chain *c, uint64_t seed);
void llmo_gw_chain_add(struct llmo_gw_chain *c, const void *p, size_t len);
uint64_t llmo_gw_chain_cut(struct llmo_gw_chain *c);

struct llmo_gw_lru_entry {
	uint64_t key, value;
	uint32_t chain;	       /* next entry in its bucket */
	uint32_t newer, older; /* the recency list */
};

struct llmo_gw_lru {
	struct llmo_gw_lru_entry *e; /* cap entries, len used */
	uint32_t *buckets;	     /* nbuckets (a power of two) chain heads */
	uint32_t cap, len, mask;
	uint32_t newest, oldest;
	uint64_t evictions;
};

/* An empty table of cap entries (1 .. LLMO_GW_LRU_MAX). LLMO_EINVAL, LLMO_ENOMEM. */
int llmo_gw_lru_init(struct llmo_gw_lru *l, size_t cap);
void llmo_gw_lru_release(struct llmo_gw_lru *l);

/* Whether key is in l, with its value in *value (may be NULL); use does not count. */
bool llmo_gw_lru_get(const struct llmo_gw_lru *l, uint64_t key, uint64_t *value);
/*
 * Sets key to value and makes it the most recently used entry; when l is
 * full, the least recently used entry goes first. Returns whether key was
 * there already.
 */
bool llmo_gw_lru_put(struct llmo_gw_lru *l, uint64_t key, uint64_t value);

#endif
