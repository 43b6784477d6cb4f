/*
 * xoshiro256** 1.0 (Blackman and Vigna, public-domain algorithm), seeded by
 * splitmix64 so that nearby seeds give unrelated streams.
 */
#include "base/common.h"

#include "base/rng.h"

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += UINT64_C(0x9E3779B97F4A7C15));

	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

void llmo_rng_seed(struct llmo_rng *r, uint64_t seed)
{
	uint64_t x = seed;

	for (size_t i = 0; i < LLMO_ARRAY_LEN(r->s); i++)
		r->s[i] = splitmix64(&x);
}

uint64_t llmo_rng_next(struct llmo_rng *r)
{
	uint64_t *s = r->s;
	uint64_t out = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return out;
}

uint64_t llmo_rng_below(struct llmo_rng *r, uint64_t n)
{
	uint64_t x, limit;

	if (n == 0)
		return 0;
	/* Reject the top partial block of 2^64 so that every residue is equally likely. */
	limit = UINT64_MAX - UINT64_MAX % n;
	do {
		x = llmo_rng_next(r);
	} while (x >= limit);
	return x % n;
}

double llmo_rng_unit(struct llmo_rng *r)
{
	return (double)(llmo_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}
