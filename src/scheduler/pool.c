/*
 * A fixed pool of threads for parallel node scoring; see pool.h.
 *
 * A job is cut into fixed chunks that any thread claims, one at a time,
 * from a shared counter; the caller claims too. On a machine whose CPUs
 * are busy with other work a helper may wake late or not at all: the
 * caller then does the chunks itself, and waits only for chunks a helper
 * has claimed and not finished. So a job costs about what the serial loop
 * does when no help comes, and less when it does.
 *
 * The counter holds the job's generation in its high 32 bits and the next
 * chunk in its low 32, claimed by compare-and-swap: a helper that wakes
 * after its job has ended (and the next has begun) finds another
 * generation and claims nothing, so it never runs a chunk with the wrong
 * job's function. Helpers sleep on a condition variable between jobs.
 */
#include "base/common.h"

#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include "base/error.h"
#include "scheduler/pool.h"

#include "base/banned.h"

struct llmo_sched_pool {
	pthread_mutex_t mu;
	pthread_cond_t go; /* a new job (gen changed) or stop */
	pthread_t *helpers;
	int nhelpers;  /* threads started (threads - 1) */
	uint32_t gen;  /* the job now announced (under mu) */
	bool stop;     /* under mu */
	/* the job, written by the caller before it is announced */
	llmo_sched_pool_fn fn;
	void *ctx;
	size_t n;
	size_t nchunks;
	uint64_t claim;	 /* atomic: gen << 32 | next chunk */
	size_t done;	 /* atomic: chunks finished */
};

/* The slice of [0, n) of chunk k of nchunks. */
static void chunk_range(size_t n, size_t k, size_t nchunks, size_t *lo, size_t *hi)
{
	*lo = (size_t)((unsigned __int128)n * k / nchunks);
	*hi = (size_t)((unsigned __int128)n * (k + 1) / nchunks);
}

/* Claims and runs chunks of job gen until none is left (or another job began). */
static void run_chunks(struct llmo_sched_pool *pool, uint32_t gen, llmo_sched_pool_fn fn,
		       void *ctx, size_t n, size_t nchunks)
{
	for (;;) {
		uint64_t v = __atomic_load_n(&pool->claim, __ATOMIC_ACQUIRE);
		size_t k = (size_t)(v & UINT32_MAX), lo, hi;

		if ((uint32_t)(v >> 32) != gen || k >= nchunks)
			return;
		if (!__atomic_compare_exchange_n(&pool->claim, &v, v + 1, false, __ATOMIC_ACQ_REL,
						 __ATOMIC_ACQUIRE))
			continue;
		chunk_range(n, k, nchunks, &lo, &hi);
		if (lo < hi)
			fn(ctx, k, lo, hi);
		__atomic_add_fetch(&pool->done, 1, __ATOMIC_RELEASE);
	}
}

static void *helper_main(void *arg)
{
	struct llmo_sched_pool *pool = arg;
	uint32_t seen = 0;

	pthread_mutex_lock(&pool->mu);
	for (;;) {
		llmo_sched_pool_fn fn;
		void *ctx;
		size_t n, nchunks;

		while (!pool->stop && pool->gen == seen)
			pthread_cond_wait(&pool->go, &pool->mu);
		if (pool->stop)
			break;
		seen = pool->gen;
		fn = pool->fn;
		ctx = pool->ctx;
		n = pool->n;
		nchunks = pool->nchunks;
		pthread_mutex_unlock(&pool->mu);
		run_chunks(pool, seen, fn, ctx, n, nchunks);
		pthread_mutex_lock(&pool->mu);
	}
	pthread_mutex_unlock(&pool->mu);
	return NULL;
}

int llmo_sched_pool_default_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		return 1;
	return (int)LLMO_MIN(n, (long)LLMO_SCHED_POOL_DEFAULT_MAX);
}

int llmo_sched_pool_new(int threads, struct llmo_sched_pool **out)
{
	struct llmo_sched_pool *pool;

	*out = NULL;
	if (threads < 1 || threads > LLMO_SCHED_POOL_MAX)
		return LLMO_EINVAL;
	pool = calloc(1, sizeof(*pool));
	if (!pool)
		return LLMO_ENOMEM;
	pthread_mutex_init(&pool->mu, NULL);
	pthread_cond_init(&pool->go, NULL);
	if (threads > 1) {
		pool->helpers = calloc((size_t)threads - 1, sizeof(*pool->helpers));
		if (!pool->helpers) {
			llmo_sched_pool_free(pool);
			return LLMO_ENOMEM;
		}
	}
	for (int i = 0; i + 1 < threads; i++) {
		if (pthread_create(&pool->helpers[i], NULL, helper_main, pool) != 0) {
			llmo_sched_pool_free(pool);
			return LLMO_EIO;
		}
		pool->nhelpers++;
	}
	*out = pool;
	return 0;
}

void llmo_sched_pool_free(struct llmo_sched_pool *pool)
{
	if (!pool)
		return;
	pthread_mutex_lock(&pool->mu);
	pool->stop = true;
	pthread_cond_broadcast(&pool->go);
	pthread_mutex_unlock(&pool->mu);
	for (int i = 0; i < pool->nhelpers; i++)
		pthread_join(pool->helpers[i], NULL);
	free(pool->helpers);
	pthread_cond_destroy(&pool->go);
	pthread_mutex_destroy(&pool->mu);
	free(pool);
}

int llmo_sched_pool_threads(const struct llmo_sched_pool *pool)
{
	return pool->nhelpers + 1;
}

size_t llmo_sched_pool_parts(const struct llmo_sched_pool *pool)
{
	return pool->nhelpers ? (size_t)(pool->nhelpers + 1) * LLMO_SCHED_POOL_CHUNKS_PER_THREAD
			      : 1;
}

void llmo_sched_pool_run(struct llmo_sched_pool *pool, size_t n, llmo_sched_pool_fn fn,
			 void *ctx)
{
	size_t nchunks = llmo_sched_pool_parts(pool);
	uint32_t gen;

	if (pool->nhelpers == 0) {
		if (n)
			fn(ctx, 0, 0, n);
		return;
	}
	pthread_mutex_lock(&pool->mu);
	gen = ++pool->gen;
	pool->fn = fn;
	pool->ctx = ctx;
	pool->n = n;
	pool->nchunks = nchunks;
	__atomic_store_n(&pool->done, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&pool->claim, (uint64_t)gen << 32, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&pool->go);
	pthread_mutex_unlock(&pool->mu);
	run_chunks(pool, gen, fn, ctx, n, nchunks);
	/* every chunk is claimed: wait for those a helper is still on */
	while (__atomic_load_n(&pool->done, __ATOMIC_ACQUIRE) < nchunks)
		sched_yield();
}
