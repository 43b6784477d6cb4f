/*
 * A fixed pool of threads for parallel node scoring; see pool.h. Threads
 * sleep on a condition variable between jobs; a job is announced by a new
 * generation number, and the caller waits until every helper has finished
 * its part of that generation.
 */
#include "base/common.h"

#include <pthread.h>
#include <unistd.h>

#include "base/error.h"
#include "scheduler/pool.h"

#include "base/banned.h"

struct llmo_sched_pool {
	pthread_mutex_t mu;
	pthread_cond_t go;   /* a new job (gen changed) or stop */
	pthread_cond_t done; /* running dropped to 0 */
	pthread_t *helpers;
	int nhelpers; /* threads started (threads - 1) */
	uint64_t gen; /* the job now announced */
	int running;  /* helpers still on job gen */
	bool stop;
	/* the job */
	llmo_sched_pool_fn fn;
	void *ctx;
	size_t n;
};

/* The slice of [0, n) of part k of parts. */
static void part_range(size_t n, size_t k, size_t parts, size_t *lo, size_t *hi)
{
	*lo = (size_t)((unsigned __int128)n * k / parts);
	*hi = (size_t)((unsigned __int128)n * (k + 1) / parts);
}

struct helper_arg {
	struct llmo_sched_pool *pool;
	size_t part;
};

static void *helper_main(void *arg)
{
	struct helper_arg *a = arg;
	struct llmo_sched_pool *pool = a->pool;
	size_t part = a->part;
	uint64_t seen = 0;

	free(a);
	pthread_mutex_lock(&pool->mu);
	for (;;) {
		size_t lo, hi;

		while (!pool->stop && pool->gen == seen)
			pthread_cond_wait(&pool->go, &pool->mu);
		if (pool->stop)
			break;
		seen = pool->gen;
		part_range(pool->n, part, (size_t)pool->nhelpers + 1, &lo, &hi);
		pthread_mutex_unlock(&pool->mu);
		if (lo < hi)
			pool->fn(pool->ctx, part, lo, hi);
		pthread_mutex_lock(&pool->mu);
		if (--pool->running == 0)
			pthread_cond_signal(&pool->done);
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
	pthread_cond_init(&pool->done, NULL);
	if (threads > 1) {
		pool->helpers = calloc((size_t)threads - 1, sizeof(*pool->helpers));
		if (!pool->helpers) {
			llmo_sched_pool_free(pool);
			return LLMO_ENOMEM;
		}
	}
	for (int i = 0; i + 1 < threads; i++) {
		struct helper_arg *a = malloc(sizeof(*a));

		if (!a) {
			llmo_sched_pool_free(pool);
			return LLMO_ENOMEM;
		}
		a->pool = pool;
		a->part = (size_t)i + 1;
		if (pthread_create(&pool->helpers[i], NULL, helper_main, a) != 0) {
			free(a);
			llmo_sched_pool_free(pool);
			return LLMO_EIO;
		}
		pool->nhelpers++;
	}
	/*
	 * Parts are fixed by the thread count: a pool whose last thread did not
	 * start is freed above, so nhelpers + 1 == threads from here on.
	 */
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
	pthread_cond_destroy(&pool->done);
	pthread_cond_destroy(&pool->go);
	pthread_mutex_destroy(&pool->mu);
	free(pool);
}

int llmo_sched_pool_threads(const struct llmo_sched_pool *pool)
{
	return pool->nhelpers + 1;
}

void llmo_sched_pool_run(struct llmo_sched_pool *pool, size_t n, llmo_sched_pool_fn fn,
			 void *ctx)
{
	size_t lo, hi, parts = (size_t)pool->nhelpers + 1;

	if (pool->nhelpers == 0) {
		if (n)
			fn(ctx, 0, 0, n);
		return;
	}
	pthread_mutex_lock(&pool->mu);
	pool->fn = fn;
	pool->ctx = ctx;
	pool->n = n;
	pool->running = pool->nhelpers;
	pool->gen++;
	pthread_cond_broadcast(&pool->go);
	pthread_mutex_unlock(&pool->mu);
	part_range(n, 0, parts, &lo, &hi);
	if (lo < hi)
		fn(ctx, 0, lo, hi);
	pthread_mutex_lock(&pool->mu);
	while (pool->running > 0)
		pthread_cond_wait(&pool->done, &pool->mu);
	pthread_mutex_unlock(&pool->mu);
}
