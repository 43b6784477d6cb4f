#include "base/common.h"

#include <math.h>

#include "bench/hist.h"

void llmo_hist_init(struct llmo_hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

size_t llmo_hist_bucket(uint64_t us)
{
	int msb, shift;

	if (us > LLMO_HIST_MAX_US)
		us = LLMO_HIST_MAX_US;
	if (us < 2 * LLMO_HIST_SUB)
		return (size_t)us;
	msb = 63 - __builtin_clzll(us);
	shift = msb - LLMO_HIST_SUB_BITS; /* us >> shift is in [SUB, 2 * SUB) */
	return (size_t)(2 * LLMO_HIST_SUB + (shift - 1) * LLMO_HIST_SUB +
			(int)((us >> shift) - LLMO_HIST_SUB));
}

uint64_t llmo_hist_bucket_top(size_t bucket)
{
	size_t k;
	int shift;
	uint64_t mant;

	if (bucket < 2 * LLMO_HIST_SUB)
		return bucket;
	k = bucket - 2 * LLMO_HIST_SUB;
	shift = (int)(k / LLMO_HIST_SUB) + 1;
	mant = k % LLMO_HIST_SUB + LLMO_HIST_SUB;
	return (mant << shift) + (UINT64_C(1) << shift) - 1;
}

void llmo_hist_add(struct llmo_hist *h, uint64_t us)
{
	h->counts[llmo_hist_bucket(us)]++;
	h->n++;
	h->sum += (double)us;
	if (us < h->min)
		h->min = us;
	if (us > h->max)
		h->max = us;
}

uint64_t llmo_hist_quantile(const struct llmo_hist *h, double q)
{
	uint64_t rank, seen = 0;

	if (!h->n)
		return 0;
	rank = (uint64_t)ceil(q * (double)h->n);
	if (rank < 1)
		rank = 1;
	if (rank >= h->n)
		return h->max;
	for (size_t b = 0; b < LLMO_HIST_BUCKETS; b++) {
		seen += h->counts[b];
		if (seen >= rank)
			return LLMO_MAX(h->min, LLMO_MIN(llmo_hist_bucket_top(b), h->max));
	}
	return h->max;
}

double llmo_hist_mean(const struct llmo_hist *h)
{
	return h->n ? h->sum / (double)h->n : 0;
}
