#ifndef LLMO_BASE_RNG_H
#define LLMO_BASE_RNG_H
/*
 * struct llmo_rng: a small deterministic pseudo-random generator
 * (xoshiro256**, seeded through splitmix64), so that a scheduling run with a
 * given seed makes the same choices on every machine and compiler.
 *
 * Not for secrets. Not thread-safe: one generator per thread of decisions.
 */
#include "base/common.h"

struct llmo_rng {
	uint64_t s[4];
};

/* Seeds r; every seed, 0 included, gives a valid, distinct stream. */
void llmo_rng_seed(struct llmo_rng *r, uint64_t seed);
/* The next 64 random bits. */
uint64_t llmo_rng_next(struct llmo_rng *r);
/* A uniform integer in [0, n); n must be > 0 (0 is returned for n == 0). Unbiased. */
uint64_t llmo_rng_below(struct llmo_rng *r, uint64_t n);
/* A uniform double in [0, 1), 53 random bits. */
double llmo_rng_unit(struct llmo_rng *r);

#endif
