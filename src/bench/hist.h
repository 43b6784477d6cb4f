#ifndef LLMO_BENCH_HIST_H
#define LLMO_BENCH_HIST_H
/*
 * struct llmo_hist: a fixed-size log-linear histogram of durations in
 * microseconds, for percentiles over any number of samples in constant
 * memory (as HdrHistogram does, at 6 bits of precision).
 *
 * Values below 128 us have a bucket each (exact). Above, each power of two
 * [2^k, 2^(k+1)) is split into 64 buckets of width 2^(k-6): a bucket is at
 * most 1/64 (1.6%) of its values wide. Values above LLMO_HIST_MAX_US (about
 * 19 hours) count in the last bucket. Quantiles are reported as the largest
 * value of their bucket, clamped to the exact minimum and maximum seen, so a
 * reported quantile is never below the true one and at most 1.6% above it.
 */
#include "base/common.h"

#define LLMO_HIST_SUB_BITS 6
#define LLMO_HIST_SUB (1 << LLMO_HIST_SUB_BITS)			  /* buckets per power of two */
#define LLMO_HIST_MAX_US ((UINT64_C(1) << 36) - 1)		  /* 19.1 hours */
#define LLMO_HIST_BUCKETS (2 * LLMO_HIST_SUB + (36 - LLMO_HIST_SUB_BITS - 1) * LLMO_HIST_SUB)

struct llmo_hist {
	uint64_t counts[LLMO_HIST_BUCKETS];
	uint64_t n;
	uint64_t min, max; /* exact, in us; min is UINT64_MAX while empty */
	double sum;	   /* for the mean */
};

void llmo_hist_init(struct llmo_hist *h);
void llmo_hist_add(struct llmo_hist *h, uint64_t us);
/* The bucket a value falls in, and the largest value of a bucket (both exposed for tests). */
size_t llmo_hist_bucket(uint64_t us);
uint64_t llmo_hist_bucket_top(size_t bucket);
/*
 * The q-quantile (0 < q <= 1) by nearest rank: the value of rank ceil(q * n)
 * in sorted order, as described above. 0 when empty.
 */
uint64_t llmo_hist_quantile(const struct llmo_hist *h, double q);
/* The mean in us; 0 when empty. */
double llmo_hist_mean(const struct llmo_hist *h);

#endif
