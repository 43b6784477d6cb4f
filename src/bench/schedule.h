#ifndef LLMO_BENCH_SCHEDULE_H
#define LLMO_BENCH_SCHEDULE_H
/*
 * struct llmo_load_schedule: when `llmo bench load` sends each request and
 * what it asks for, one request at a time, so that a run of any length
 * needs no per-request memory beyond the trace itself:
 *
 *   - replay: the arrivals of an Azure LLM inference trace (src/sim/azure.h),
 *     divided by `speedup`; prompt of ContextTokens tokens, max_tokens =
 *     GeneratedTokens;
 *   - Poisson: arrivals at `rate` per second (exponential gaps drawn from a
 *     seeded llmo_rng, so a seed always gives the same schedule), with fixed
 *     prompt and completion lengths.
 *
 * Either ends at `duration` (arrivals at or after it are not sent; 0: the
 * end of the trace) or after `limit` requests (0: no limit). Prompt tokens
 * are clamped to [1, LLMO_LOAD_PROMPT_TOKENS_MAX], max_tokens to
 * [1, max_tokens_cap] (a trace row with 0 generated tokens asks for 1).
 */
#include "base/common.h"

#include "base/rng.h"
#include "sim/azure.h"

#define LLMO_LOAD_PROMPT_TOKENS_MAX 131072
#define LLMO_LOAD_MAX_TOKENS_MAX 1000000
#define LLMO_LOAD_RATE_MAX 1e6		/* requests per second */
#define LLMO_LOAD_SPEEDUP_MAX 1e6

struct llmo_load_item {
	int64_t at; /* ns after the start of the run */
	int32_t prompt_tokens;
	int32_t max_tokens;
};

struct llmo_load_schedule {
	const struct llmo_sim_azure *trace; /* borrowed; NULL: Poisson */
	double speedup;			    /* replay: > 0 */
	double rate;			    /* Poisson: requests per second, > 0 */
	uint64_t seed;
	int64_t duration; /* ns; 0: none (replay only) */
	uint64_t limit;	  /* 0: none */
	int32_t prompt_tokens, max_tokens; /* Poisson: each request's */
	int32_t max_tokens_cap;		   /* 0: none */
	/* state */
	size_t next;	  /* replay: next trace row */
	int64_t t;	  /* Poisson: the last arrival, ns */
	uint64_t emitted; /* items returned so far */
	struct llmo_rng rng;
};

/* Replay of trace (borrowed: it must outlive s). Set duration, limit, cap after. */
void llmo_load_schedule_init_trace(struct llmo_load_schedule *s, const struct llmo_sim_azure *trace,
				   double speedup);
/* Poisson arrivals at rate per second for duration ns. */
void llmo_load_schedule_init_poisson(struct llmo_load_schedule *s, double rate, int64_t duration,
				     uint64_t seed, int32_t prompt_tokens, int32_t max_tokens);
/* The next request into *it; false when the schedule is over. */
bool llmo_load_schedule_next(struct llmo_load_schedule *s, struct llmo_load_item *it);

/* The exponential gap, in ns, that a uniform draw u in [0, 1) gives at rate per second. */
int64_t llmo_load_exp_gap(double u, double rate);

#endif
