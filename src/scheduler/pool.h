#ifndef LLMO_SCHEDULER_POOL_H
#define LLMO_SCHEDULER_POOL_H
/*
 * struct llmo_sched_pool: a small fixed pool of threads that runs one job
 * over a range in parts, for scoring nodes in parallel (policy.h). The
 * parts are fixed slices of the range (what part k covers does not depend
 * on timing, only which thread runs it does); the caller's thread runs
 * parts too, all of them if no helper comes in time, and a job returns
 * only when every part is done.
 *
 * One job at a time: llmo_sched_pool_run is not reentrant and must not be
 * called from two threads at once (each user owns its pool).
 */
#include "base/common.h"

/* Threads a pool has at most (the caller's included). */
#define LLMO_SCHED_POOL_MAX 64
/* Threads by default: the online CPUs, at most this many. */
#define LLMO_SCHED_POOL_DEFAULT_MAX 16
/* Parts a job is cut into per thread: smaller parts balance threads that start late. */
#define LLMO_SCHED_POOL_CHUNKS_PER_THREAD 4
/* Parts of a job, at most. */
#define LLMO_SCHED_POOL_PARTS_MAX (LLMO_SCHED_POOL_MAX * LLMO_SCHED_POOL_CHUNKS_PER_THREAD)

struct llmo_sched_pool;

/*
 * One part of a job: the range [lo, hi) of the job's n, part number part
 * (0 .. llmo_sched_pool_parts - 1). Parts run on any thread, several at
 * once; an empty part is not run.
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
 * Parts a job of the pool is cut into: threads *
 * LLMO_SCHED_POOL_CHUNKS_PER_THREAD (at most LLMO_SCHED_POOL_PARTS_MAX), 1
 * for a pool of one thread.
 */
size_t llmo_sched_pool_parts(const struct llmo_sched_pool *pool);

/*
 * Runs fn over [0, n) in llmo_sched_pool_parts parts P (part k covers
 * [k * n / P, (k + 1) * n / P)), on the caller's thread and the helpers;
 * returns when all are done. fn's writes are visible to the caller
 * afterwards.
 */
void llmo_sched_pool_run(struct llmo_sched_pool *pool, size_t n, llmo_sched_pool_fn fn,
			 void *ctx);

#endif
