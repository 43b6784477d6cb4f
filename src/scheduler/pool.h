#ifndef LLMO_SCHEDULER_POOL_H
#define LLMO_SCHEDULER_POOL_H
/*
 * struct llmo_sched_pool: a small fixed pool of threads that runs one job
 * over a range in parts, for scoring nodes in parallel (policy.h). The
 * caller's thread does part 0 itself and waits for the others, so a job
 * returns only when every part is done; parts are fixed slices of the
 * range, so what a part covers does not depend on timing.
 *
 * One job at a time: llmo_sched_pool_run is not reentrant and must not be
 * called from two threads at once (each user owns its pool).
 */
#include "base/common.h"

/* Threads a pool has at most (the caller's included). */
#define LLMO_SCHED_POOL_MAX 64
/* Threads by default: the online CPUs, at most this many. */
#define LLMO_SCHED_POOL_DEFAULT_MAX 16

struct llmo_sched_pool;

/*
 * One part of a job: the range [lo, hi) of the job's n, part number part
 * (0 .. llmo_sched_pool_threads - 1).
 */
typedef void (*llmo_sched_pool_fn)(void *ctx, size_t part, size_t lo, size_t hi);

/* The default number of threads: the online CPUs, 1 to LLMO_SCHED_POOL_DEFAULT_MAX. */
int llmo_sched_pool_default_threads(void);

/*
 * A pool of threads threads in all (1 .. LLMO_SCHED_POOL_MAX; 1 starts
 * none: jobs run on the caller's thread). LLMO_EINVAL out of range,
 * LLMO_ENOMEM, or LLMO_EIO when a thread cannot be started.
 */
int llmo_sched_pool_new(int threads, struct llmo_sched_pool **out);
/* Stops and joins the threads. NULL is ignored. */
void llmo_sched_pool_free(struct llmo_sched_pool *pool);

/* Threads of the pool, the caller's included. */
int llmo_sched_pool_threads(const struct llmo_sched_pool *pool);

/*
 * Runs fn over [0, n) in llmo_sched_pool_threads parts (part k covers
 * [k * n / T, (k + 1) * n / T)), part 0 on the caller's thread; returns when
 * all are done. fn's writes are visible to the caller afterwards.
 */
void llmo_sched_pool_run(struct llmo_sched_pool *pool, size_t n, llmo_sched_pool_fn fn,
			 void *ctx);

#endif
