#ifndef LLMO_REGISTRY_POOL_H
#define LLMO_REGISTRY_POOL_H
/*
 * struct llmo_reg_pool: worker threads that run jobs off the registry's
 * event loop and report back on the loop's thread. hasher.h hashes blobs
 * with one; with storageType s3 the S3 transfers run on another
 * (s3jobs.h), so that a slow store never stalls the other requests.
 *
 * A job is a struct that starts with struct llmo_reg_pool_job. It is owned
 * by the queue, then by one worker (run), then by the pipe back to the
 * loop, then by the loop (done, release): only its `cancelled` flag is
 * shared, and it is atomic. Workers touch nothing but their job, their own
 * state (local_new) and the queue.
 *
 * Threads: everything here is for the loop's thread only, but run and
 * local_new/local_free, which run on a worker. Workers (opts.threads, at
 * most LLMO_REG_POOL_THREADS_MAX) start on the first submission; jobs
 * beyond them wait in the queue.
 */
#include "base/common.h"

#include <stdatomic.h>

#include "base/error.h"

struct event_base;
struct llmo_reg_pool;

/* Worker threads of one pool at most. */
#define LLMO_REG_POOL_THREADS_MAX 64

struct llmo_reg_pool_job {
	struct llmo_reg_pool_job *next; /* the pool's */
	atomic_bool cancelled;          /* the pool's (llmo_reg_pool_cancel) */
	/* On a worker; local is that worker's state (NULL when local_new gave none). */
	void (*run)(struct llmo_reg_pool_job *j, void *local);
	/* On the loop once run has returned, unless the job was cancelled. */
	void (*done)(struct llmo_reg_pool_job *j);
	/* On the loop, last (after done, or instead of it): frees the job. */
	void (*release)(struct llmo_reg_pool_job *j);
};

struct llmo_reg_pool_opts {
	const char *what; /* names the pool in errors ("hashing", "S3") */
	size_t threads;   /* 1 to LLMO_REG_POOL_THREADS_MAX */
	/* Each worker's own state, made and freed on that worker (may be NULL). */
	void *(*local_new)(void *arg);
	void (*local_free)(void *local);
	void *arg;
};

/* A pool that reports on base. *out owned by the caller (llmo_reg_pool_free). */
int llmo_reg_pool_new(struct event_base *base, const struct llmo_reg_pool_opts *o,
		      struct llmo_reg_pool **out, struct llmo_error *err);

/*
 * Stops the workers once they finish their jobs (queued ones are cancelled:
 * their done is never called, their release is) and frees the pool. NULL
 * is fine.
 */
void llmo_reg_pool_free(struct llmo_reg_pool *p);

/*
 * Queues j (its run, done and release set; the rest zeroed). On failure
 * (LLMO_EAGAIN: no worker thread could start) j is not taken.
 */
int llmo_reg_pool_submit(struct llmo_reg_pool *p, struct llmo_reg_pool_job *j,
			 struct llmo_error *err);

/* The caller no longer wants j's result: done is not called. run may poll it. */
void llmo_reg_pool_cancel(struct llmo_reg_pool_job *j);
bool llmo_reg_pool_cancelled(struct llmo_reg_pool_job *j);

/* Jobs queued or running (submitted and not yet reported). */
size_t llmo_reg_pool_pending(const struct llmo_reg_pool *p);

#endif
