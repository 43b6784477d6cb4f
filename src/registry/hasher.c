/*
 * Blob hashing on worker threads (hasher.h), a pool.h pool whose workers
 * each own a LLMO_DIGEST_READ_CHUNK buffer.
 *
 * A worker hashes a blob from a memory map of it (llmo_sha256_mapped in
 * digest.h: the SHA-256 reads the page cache itself, without the copy a
 * read() makes, a fifth of a hashing pull's CPU on the hashing thread,
 * which is the pull's critical path); a file that shrank under the map is
 * reported as shorter than announced, as a short read would be. Where it
 * cannot map, the worker reads the file with pread.
 */
#include "base/common.h"

#include <fcntl.h>
#include <unistd.h>

#include "registry/hasher.h"
#include "registry/pool.h"

#include "base/banned.h"

struct llmo_reg_hash_job {
	struct llmo_reg_pool_job base; /* first: the pool's view of it */
	int fd; /* the job's own duplicate */
	uint64_t len;
	llmo_reg_hash_done_fn fn;
	void *arg;
	/* the result, written by the worker before the job goes back to the loop */
	int rc;
	struct llmo_digest got;
	char msg[128];
};

struct llmo_reg_hasher {
	struct llmo_reg_pool *pool;
};

/* llmo_sha256_mapped's stop: the job's connection went away. */
static bool job_cancelled(void *pj)
{
	return llmo_reg_pool_cancelled(pj);
}

/* Hashes j's file into j->got; sets j->rc and j->msg. buf: LLMO_DIGEST_READ_CHUNK bytes. */
static void job_run(struct llmo_reg_pool_job *pj, void *buf)
{
	struct llmo_reg_hash_job *j = (struct llmo_reg_hash_job *)pj;
	struct llmo_sha256 sh = {0};
	uint64_t off = 0;
	int rc;

	if (!buf || (j->rc = llmo_sha256_init(&sh))) {
		j->rc = LLMO_ENOMEM;
		snprintf(j->msg, sizeof(j->msg), "out of memory");
		return;
	}
	/* from a memory map as far as it goes (a shrunk file is an error there), then reading */
	rc = llmo_sha256_mapped(&sh, j->fd, &off, j->len, job_cancelled, pj);
	if (rc == LLMO_EIO) {
		j->rc = LLMO_EIO;
		snprintf(j->msg, sizeof(j->msg), "file shorter than announced");
		goto out;
	}
	while (off < j->len) {
		size_t want = j->len - off < LLMO_DIGEST_READ_CHUNK ? (size_t)(j->len - off)
								     : LLMO_DIGEST_READ_CHUNK;
		ssize_t n;

		/* a connection gone: stop reading for nobody */
		if (llmo_reg_pool_cancelled(pj))
			break;
		do
			n = pread(j->fd, buf, want, (off_t)off);
		while (n < 0 && errno == EINTR);
		if (n <= 0) {
			j->rc = LLMO_EIO;
			snprintf(j->msg, sizeof(j->msg), "%s",
				 n < 0 ? strerror(errno) : "file shorter than announced");
			goto out;
		}
		llmo_sha256_update(&sh, buf, (size_t)n);
		off += (uint64_t)n;
	}
	if (llmo_sha256_peek(&sh, &j->got)) {
		j->rc = LLMO_ENOMEM;
		snprintf(j->msg, sizeof(j->msg), "out of memory");
	}
out:
	llmo_sha256_release(&sh);
}

static void job_done(struct llmo_reg_pool_job *pj)
{
	struct llmo_reg_hash_job *j = (struct llmo_reg_hash_job *)pj;

	j->fn(j->arg, j->rc, &j->got, j->msg);
}

static void job_release(struct llmo_reg_pool_job *pj)
{
	struct llmo_reg_hash_job *j = (struct llmo_reg_hash_job *)pj;

	if (j->fd >= 0)
		close(j->fd);
	free(j);
}

static void *buf_new(void *arg)
{
	return malloc(LLMO_DIGEST_READ_CHUNK);
}

int llmo_reg_hasher_new(struct event_base *base, struct llmo_reg_hasher **out,
			struct llmo_error *err)
{
	struct llmo_reg_hasher *h = calloc(1, sizeof(*h));
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	struct llmo_reg_pool_opts o = {
		.what = "hashing",
		/* one per online CPU: more would only take turns */
		.threads = cpus < 1 ? 1
			   : (size_t)cpus > LLMO_REG_HASHER_THREADS_MAX ? LLMO_REG_HASHER_THREADS_MAX
									 : (size_t)cpus,
		.local_new = buf_new,
		.local_free = free,
	};
	int rc;

	*out = NULL;
	if (!h)
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	if ((rc = llmo_reg_pool_new(base, &o, &h->pool, err))) {
		free(h);
		return rc;
	}
	*out = h;
	return 0;
}

void llmo_reg_hasher_free(struct llmo_reg_hasher *h)
{
	if (!h)
		return;
	llmo_reg_pool_free(h->pool);
	free(h);
}

int llmo_reg_hasher_submit(struct llmo_reg_hasher *h, int fd, uint64_t len,
			   llmo_reg_hash_done_fn fn, void *arg, struct llmo_reg_hash_job **job,
			   struct llmo_error *err)
{
	struct llmo_reg_hash_job *j;
	int rc;

	*job = NULL;
	j = calloc(1, sizeof(*j));
	if (!j)
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	j->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (j->fd < 0) {
		rc = llmo_error_set(err, LLMO_EIO, "dup: %s", strerror(errno));
		free(j);
		return rc;
	}
	j->len = len;
	j->fn = fn;
	j->arg = arg;
	j->base.run = job_run;
	j->base.done = job_done;
	j->base.release = job_release;
	if ((rc = llmo_reg_pool_submit(h->pool, &j->base, err))) {
		job_release(&j->base);
		return rc;
	}
	*job = j;
	return 0;
}

void llmo_reg_hash_job_cancel(struct llmo_reg_hash_job *job)
{
	if (job)
		llmo_reg_pool_cancel(&job->base);
}
