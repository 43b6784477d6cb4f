#ifndef LLMO_REGISTRY_S3JOBS_H
#define LLMO_REGISTRY_S3JOBS_H
/*
 * struct llmo_reg_s3jobs: the registry's S3 transfers of blobs on worker
 * threads (a pool.h pool), so that the event loop goes on serving other
 * requests while a blob is fetched from S3, stored to it, or asked about.
 *
 * Each worker has its own S3 client (llmo_reg_s3_clone of the store's):
 * a libcurl handle is used by one thread at a time. At most `threads`
 * transfers run at once (modelRegistry.s3.concurrency); more wait in the
 * queue. A job touches only the files of its own blob (s3cache.h: a fetch
 * writes a dot file of its own and renames it into place), never the
 * store's memory: the caller updates the store on the loop when the job
 * reports.
 */
#include "base/common.h"

#include "base/error.h"
#include "registry/digest.h"
#include "registry/s3.h"
#include "registry/store.h"

struct event_base;
struct llmo_reg_pool_job;
struct llmo_reg_s3jobs;
struct llmo_reg_s3_job;

enum llmo_reg_s3_op {
	LLMO_REG_S3_FETCH, /* download blob digest to path (llmo__reg_s3_fetch) */
	LLMO_REG_S3_HEAD,  /* the size of path's object */
	LLMO_REG_S3_PUT,   /* store fd's size bytes as path's object, then link's (empty) */
	LLMO_REG_S3_RECORDS, /* llmo_reg_recs_mirror of recs (size: the steps done) */
};

struct llmo_reg_s3_work {
	enum llmo_reg_s3_op op;
	const char *root; /* the storage directory (copied) */
	const char *path; /* the blob's place in it (copied) */
	struct llmo_digest digest;
	uint64_t max;     /* FETCH: largest blob taken */
	int fd;           /* PUT: the verified bytes (duplicated; the caller keeps its own) */
	uint64_t size;    /* PUT */
	const struct llmo_reg_recs *recs; /* RECORDS (copied) */
};

/*
 * On the loop when a job ends (never after llmo_reg_s3_job_cancel): rc 0
 * with size (HEAD: the object's; FETCH: the bytes fetched; RECORDS: the
 * steps done, also on failure), or the error (err), LLMO_ENOTFOUND for a
 * missing object. The job is freed after.
 */
typedef void (*llmo_reg_s3_done_fn)(void *arg, int rc, uint64_t size,
				    const struct llmo_error *err);

/* Jobs reported on base, run by up to threads workers with clients like s3. */
int llmo_reg_s3jobs_new(struct event_base *base, const struct llmo_reg_s3 *s3, size_t threads,
			struct llmo_reg_s3jobs **out, struct llmo_error *err);
/* Waits for the transfers in progress (their callbacks are not called); NULL is fine. */
void llmo_reg_s3jobs_free(struct llmo_reg_s3jobs *j);

/* Queues w. *job identifies it until fn is called. */
int llmo_reg_s3jobs_submit(struct llmo_reg_s3jobs *j, const struct llmo_reg_s3_work *w,
			   llmo_reg_s3_done_fn fn, void *arg, struct llmo_reg_s3_job **job,
			   struct llmo_error *err);

/*
 * Queues a job of the caller's own (pool.h: its run, done and release set)
 * on the same workers, behind the transfers queued before it; its run gets
 * that worker's S3 client as local (NULL when it could not be made). The
 * registry's restore at start and autoCleanup run so (registry_int.h). On
 * failure job is not taken.
 */
int llmo_reg_s3jobs_run(struct llmo_reg_s3jobs *j, struct llmo_reg_pool_job *job,
			struct llmo_error *err);

/* fn will not be called (the request went away); the transfer runs to its end. */
void llmo_reg_s3_job_cancel(struct llmo_reg_s3_job *job);

/* Transfers queued or running. */
size_t llmo_reg_s3jobs_pending(const struct llmo_reg_s3jobs *j);

#endif
