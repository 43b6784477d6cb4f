/*
 * S3 transfers on worker threads (s3jobs.h).
 */
#include "base/common.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/str.h"
#include "registry/pool.h"
#include "registry/s3cache.h"
#include "registry/s3jobs.h"

#include "base/banned.h"

struct llmo_reg_s3_job {
	struct llmo_reg_pool_job base; /* first: the pool's view of it */
	struct llmo_reg_s3_work w;     /* strings point into the job's own copies */
	char *root, *path;
	struct llmo_reg_recs recs; /* RECORDS: the job's own copy */
	llmo_reg_s3_done_fn fn;
	void *arg;
	/* the result, written by the worker */
	int rc;
	uint64_t size;
	struct llmo_error err;
};

struct llmo_reg_s3jobs {
	struct llmo_reg_pool *pool;
	const struct llmo_reg_s3 *s3; /* the store's: cloned by each worker */
};

static void *client_new(void *arg)
{
	struct llmo_reg_s3 *c = NULL;
	struct llmo_error err = {0};

	llmo_reg_s3_clone(arg, &c, &err);
	return c;
}

static void client_free(void *c)
{
	llmo_reg_s3_free(c);
}

static void job_run(struct llmo_reg_pool_job *pj, void *local)
{
	struct llmo_reg_s3_job *j = (struct llmo_reg_s3_job *)pj;
	struct llmo_reg_s3 *s3 = local;
	const struct llmo_reg_s3_work *w = &j->w;
	struct stat st;

	if (!s3) {
		j->rc = llmo_error_set(&j->err, LLMO_ENOMEM, "no S3 client for this worker");
		return;
	}
	switch (w->op) {
	case LLMO_REG_S3_FETCH:
		/* queued behind another fetch of the same blob, which has stored it */
		if (stat(w->path, &st) == 0 && S_ISREG(st.st_mode)) {
			j->size = (uint64_t)st.st_size;
			break;
		}
		j->rc = llmo__reg_s3_fetch(s3, w->root, w->path, &w->digest, w->max, &j->size,
					   &j->err);
		break;
	case LLMO_REG_S3_HEAD:
		j->rc = llmo__reg_s3_mirror_size(s3, w->root, w->path, &j->size, &j->err);
		break;
	case LLMO_REG_S3_PUT:
		j->rc = llmo__reg_s3_mirror_put_fd(s3, w->root, w->path, w->fd, w->size,
						   &w->digest, &j->err);
		j->size = w->size;
		break;
	case LLMO_REG_S3_RECORDS: {
		size_t done = 0;

		j->rc = llmo_reg_recs_mirror(s3, w->root, &j->recs, &done, &j->err);
		j->size = done;
		break;
	}
	}
}

static void job_done(struct llmo_reg_pool_job *pj)
{
	struct llmo_reg_s3_job *j = (struct llmo_reg_s3_job *)pj;

	j->fn(j->arg, j->rc, j->size, &j->err);
}

static void job_release(struct llmo_reg_pool_job *pj)
{
	struct llmo_reg_s3_job *j = (struct llmo_reg_s3_job *)pj;

	if (j->w.fd >= 0)
		close(j->w.fd);
	free(j->root);
	free(j->path);
	llmo_reg_recs_release(&j->recs);
	free(j);
}

int llmo_reg_s3jobs_new(struct event_base *base, const struct llmo_reg_s3 *s3, size_t threads,
			struct llmo_reg_s3jobs **out, struct llmo_error *err)
{
	struct llmo_reg_s3jobs *j = calloc(1, sizeof(*j));
	struct llmo_reg_pool_opts o = {.what = "S3",
				       .threads = threads ? threads
							  : LLMO_REG_S3_CONCURRENCY_DEFAULT,
				       .local_new = client_new,
				       .local_free = client_free,
				       .arg = (void *)s3};
	int rc;

	*out = NULL;
	if (!j)
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	j->s3 = s3;
	if ((rc = llmo_reg_pool_new(base, &o, &j->pool, err))) {
		free(j);
		return rc;
	}
	*out = j;
	return 0;
}

void llmo_reg_s3jobs_free(struct llmo_reg_s3jobs *j)
{
	if (!j)
		return;
	llmo_reg_pool_free(j->pool);
	free(j);
}

int llmo_reg_s3jobs_submit(struct llmo_reg_s3jobs *js, const struct llmo_reg_s3_work *w,
			   llmo_reg_s3_done_fn fn, void *arg, struct llmo_reg_s3_job **job,
			   struct llmo_error *err)
{
	struct llmo_reg_s3_job *j = calloc(1, sizeof(*j));
	int rc;

	*job = NULL;
	if (!j)
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	j->w = *w;
	j->w.fd = -1;
	j->base.run = job_run;
	j->base.done = job_done;
	j->base.release = job_release;
	j->fn = fn;
	j->arg = arg;
	if (!(j->root = llmo_strdup(w->root)) || !(j->path = llmo_strdup(w->path))) {
		job_release(&j->base);
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	}
	j->w.root = j->root;
	j->w.path = j->path;
	j->w.recs = NULL;
	if (w->op == LLMO_REG_S3_RECORDS && (rc = llmo_reg_recs_copy(&j->recs, w->recs, err))) {
		job_release(&j->base);
		return rc;
	}
	if (w->op == LLMO_REG_S3_PUT && (j->w.fd = fcntl(w->fd, F_DUPFD_CLOEXEC, 0)) < 0) {
		rc = llmo_error_set(err, LLMO_EIO, "dup: %s", strerror(errno));
		job_release(&j->base);
		return rc;
	}
	if ((rc = llmo_reg_pool_submit(js->pool, &j->base, err))) {
		job_release(&j->base);
		return rc;
	}
	*job = j;
	return 0;
}

int llmo_reg_s3jobs_run(struct llmo_reg_s3jobs *j, struct llmo_reg_pool_job *job,
			struct llmo_error *err)
{
	return llmo_reg_pool_submit(j->pool, job, err);
}

void llmo_reg_s3_job_cancel(struct llmo_reg_s3_job *job)
{
	if (job)
		llmo_reg_pool_cancel(&job->base);
}

size_t llmo_reg_s3jobs_pending(const struct llmo_reg_s3jobs *j)
{
	return llmo_reg_pool_pending(j->pool);
}
