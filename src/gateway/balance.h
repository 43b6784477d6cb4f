#ifndef LLMO_GATEWAY_BALANCE_H
#define LLMO_GATEWAY_BALANCE_H
/*
 * Load balancing and passive health: which endpoint of a model gets a new
 * request, and when a failing backend is left alone.
 *
 * Pick: power of two random choices on least outstanding requests. Two
 * distinct candidates are drawn at random among the model's eligible
 * endpoints, each with probability proportional to its weight; the one with
 * the lower in-flight / weight wins, the first drawn on a tie. Without load
 * (ties) requests are spread in proportion to the weights; under load the
 * busier replicas are avoided without the herd behaviour of "always the
 * least loaded" (Mitzenmacher, "The Power of Two Choices").
 *
 * Eligible: not draining, not excluded by the caller (replicas this request
 * already tried), under the per-backend connection cap, and allowed by the
 * circuit breaker. The breaker opens when a backend fails `failures` times
 * in a row (connection errors, timeouts, 5xx answers) and then refuses it
 * for `cooldown_ns`; after that one trial request goes through (half-open):
 * its success closes the breaker, its failure opens it again.
 */
#include "base/common.h"
#include "base/rng.h"

#include "gateway/prefix.h"
#include "gateway/table.h"

/* Defaults of the breaker. */
#define LLMO_GW_BREAKER_FAILURES 5
#define LLMO_GW_BREAKER_COOLDOWN_MS 5000

struct llmo_gw_balance_opts {
	int failures;	     /* breaker threshold; 0: never open */
	int64_t cooldown_ns; /* how long an open breaker refuses */
	int conns_max;	     /* connections per backend; 0: no cap */
	int prefix_busy;     /* llmo_gw_pick_prefix: how far above the least loaded is busy */
};

/* Default of prefix_busy. */
#define LLMO_GW_PREFIX_BUSY_DEFAULT 8

/*
 * A replica whose KV cache is at least this full (vllm:gpu_cache_usage_perc,
 * scraped) is avoided by power of two choices while the other choice is not:
 * a new sequence there waits for blocks or preempts a running one.
 */
#define LLMO_GW_KV_FULL 0.9


/*
 * The endpoint of m for a new request, as an index into m->eps, or -1 when
 * none is eligible. exclude holds nexclude backends not to pick. now is the
 * monotonic time in ns. Changes nothing: the caller then calls
 * llmo_gw_backend_begin on the chosen backend.
 */
int llmo_gw_pick(const struct llmo_gw_model *m, struct llmo_gw_backend *const *exclude,
		 size_t nexclude, int64_t now, const struct llmo_gw_balance_opts *o,
		 struct llmo_rng *rng);

/*
 * The same with the model's traffic split (table.h: tracks). When a track
 * has weight > 0, a track is chosen first, then an endpoint of it by power
 * of two choices:
 *
 *   - the candidates are the tracks with weight > 0 that have an eligible
 *     endpoint; their weights are renormalised over them;
 *   - key < 0: a random one, by weight;
 *   - key in [0, 1) (a sticky A/B key, llmo_gw_sticky_point): key is mapped
 *     onto the cumulative weights of all tracks with weight > 0, in the
 *     model's order, so a key stays in its arm however many replicas each
 *     arm has; when that arm has no eligible endpoint, key is mapped onto
 *     the renormalised weights of the candidates instead;
 *   - no candidate (no listed track has an eligible endpoint): the split is
 *     ignored and every eligible endpoint competes, so that mislabelled
 *     pods do not cause an outage.
 *
 * Without a split this is llmo_gw_pick.
 */
int llmo_gw_pick_key(const struct llmo_gw_model *m, double key,
		     struct llmo_gw_backend *const *exclude, size_t nexclude, int64_t now,
		     const struct llmo_gw_balance_opts *o, struct llmo_rng *rng);

/* What llmo_gw_pick_prefix did. */
enum llmo_gw_prefix_result {
	LLMO_GW_PREFIX_NONE, /* no table or no whole block: power of two choices */
	LLMO_GW_PREFIX_HIT,  /* the replica of the longest known prefix */
	LLMO_GW_PREFIX_MISS, /* no candidate served a known prefix: power of two choices */
	LLMO_GW_PREFIX_BUSY, /* it did, but it is busy: power of two choices */
};

/*
 * llmo_gw_pick_key with prefix affinity. The candidates are those of
 * llmo_gw_pick_key (inside the chosen arm when the model splits its
 * traffic). hashes are the request's chained block hashes (prefix.h),
 * table maps such hashes to the id of the backend that last served them.
 * From the longest prefix down, the first hash whose backend is a
 * candidate decides: that endpoint is picked unless it is busy, that is
 * unless its in-flight count exceeds weight * (the least in-flight per
 * weight among the candidates) + o->prefix_busy; a busy one, or no such
 * hash, falls back to power of two choices. *result says which. Changes
 * nothing: the caller records the choice (llmo_gw_lru_put for each hash).
 */
int llmo_gw_pick_prefix(const struct llmo_gw_model *m, double key,
			struct llmo_gw_backend *const *exclude, size_t nexclude, int64_t now,
			const struct llmo_gw_balance_opts *o, struct llmo_rng *rng,
			const struct llmo_gw_lru *table, const uint64_t *hashes, size_t nhashes,
			enum llmo_gw_prefix_result *result);

/*
 * A sticky key's point in [0, 1): a 64-bit FNV-1a hash of the len bytes,
 * mixed (splitmix64 finaliser), top 53 bits. The same bytes give the same
 * point in every process and build.
 */
double llmo_gw_sticky_point(const char *key, size_t len);

/* Whether the breaker lets b take a request now. */
bool llmo_gw_backend_allowed(const struct llmo_gw_backend *b, int64_t now,
			     const struct llmo_gw_balance_opts *o);

/*
 * A request starts on b: counts it in flight and, when the breaker is
 * half-open, takes the trial slot (returns true: this request is the trial).
 */
bool llmo_gw_backend_begin(struct llmo_gw_backend *b, int64_t now,
			   const struct llmo_gw_balance_opts *o);
/*
 * It ended, whatever the outcome: no longer in flight. trial: what begin
 * returned; a trial that ended without an outcome (the client left) frees
 * the slot for another.
 */
void llmo_gw_backend_end(struct llmo_gw_backend *b, bool trial);
/* Its outcome, for the breaker. */
void llmo_gw_backend_success(struct llmo_gw_backend *b);
void llmo_gw_backend_failure(struct llmo_gw_backend *b, int64_t now,
			     const struct llmo_gw_balance_opts *o);

#endif
