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

#include "gateway/table.h"

/* Defaults of the breaker. */
#define LLMO_GW_BREAKER_FAILURES 5
#define LLMO_GW_BREAKER_COOLDOWN_MS 5000

struct llmo_gw_balance_opts {
	int failures;	     /* breaker threshold; 0: never open */
	int64_t cooldown_ns; /* how long an open breaker refuses */
	int conns_max;	     /* connections per backend; 0: no cap */
};


/*
 * The endpoint of m for a new request, as an index into m->eps, or -1 when
 * none is eligible. exclude holds nexclude backends not to pick. now is the
 * monotonic time in ns. Changes nothing: the caller then calls
 * llmo_gw_backend_begin on the chosen backend.
 */
int llmo_gw_pick(const struct llmo_gw_model *m, struct llmo_gw_backend *const *exclude,
		 size_t nexclude, int64_t now, const struct llmo_gw_balance_opts *o,
		 struct llmo_rng *rng);

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
