/*
 * Blob hashing on worker threads (hasher.h).
 *
 * Hand-offs: the loop puts a job on the queue (mutex and condition
 * variable); a worker takes it, hashes, and writes the job's pointer to a
 * pipe, which the loop reads (an event on the pipe) to call the job's
 * callback and free it. A job is thus owned by the queue, then by one
 * worker, then by the pipe, then by the loop: only its `cancelled` flag is
 * shared, and it is atomic. Pointers are written in one write() of
 * sizeof(void *) bytes, below PIPE_BUF, so they arrive whole.
 */
#include "base/common.h"

#include <event2/event.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "base/log.h"
#include "registry/hasher.h"

#include "base/banned.h"

#define LOG "registry"

struct llmo_reg_hash_job {
	struct llmo_reg_hash_job *next;
	int fd; /* the job's own duplicate */
	uint64_t len;
	llmo_reg_hash_done_fn fn;
	void *arg;
	atomic_bool cancelled;
	/* the result, written by the worker before the job goes into the pipe */
	int rc;
	struct llmo_digest got;
	char msg[128];
};

struct llmo_reg_hasher {
	struct event_base *base;
	int pipe_rd, pipe_wr;
	struct event *done_ev;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct llmo_reg_hash_job *head, *tail; /* queued, under mu */
	bool stop;                             /* under mu */
	size_t nthreads;
	pthread_t threads[LLMO_REG_HASHER_THREADS_MAX];
};

static void job_free(struct llmo_reg_hash_job *j)
{
	if (j->fd >= 0)
		close(j->fd);
	free(j);
}

/* Hashes j's file into j->got; sets j->rc and j->msg. buf: LLMO_DIGEST_READ_CHUNK bytes. */
static void job_run(struct llmo_reg_hash_job *j, char *buf)
{
	struct llmo_sha256 sh = {0};
	uint64_t off = 0;

	if ((j->rc = llmo_sha256_init(&sh))) {
		snprintf(j->msg, sizeof(j->msg), "out of memory");
		return;
	}
	while (off < j->len) {
		size_t want = j->len - off < LLMO_DIGEST_READ_CHUNK ? (size_t)(j->len - off)
								     : LLMO_DIGEST_READ_CHUNK;
		ssize_t n;

		/* a connection gone: stop reading for nobody */
		if (atomic_load_explicit(&j->cancelled, memory_order_relaxed))
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

static void *worker_main(void *arg)
{
	struct llmo_reg_hasher *h = arg;
	char *buf = malloc(LLMO_DIGEST_READ_CHUNK);

	for (;;) {
		struct llmo_reg_hash_job *j;
		ssize_t n;

		pthread_mutex_lock(&h->mu);
		while (!h->stop && !h->head)
			pthread_cond_wait(&h->cv, &h->mu);
		j = h->head;
		if (j) {
			h->head = j->next;
			if (!h->head)
				h->tail = NULL;
		}
		pthread_mutex_unlock(&h->mu);
		if (!j)
			break; /* stopping, and the queue is empty */
		if (!buf) {
			j->rc = LLMO_ENOMEM;
			snprintf(j->msg, sizeof(j->msg), "out of memory");
		} else {
			job_run(j, buf);
		}
		do
			n = write(h->pipe_wr, &j, sizeof(j));
		while (n < 0 && errno == EINTR);
		/* a pipe that cannot take 8 bytes is broken beyond repair: the
		 * job is lost rather than freed under the loop's feet */
		if (n != (ssize_t)sizeof(j))
			LLMO_ERROR(LOG, "hasher pipe write failed", "error=\"%s\"",
				   n < 0 ? strerror(errno) : "short write");
	}
	free(buf);
	return NULL;
}

/* Reads finished jobs off the pipe: their callbacks run here, on the loop. */
static void drain_done(struct llmo_reg_hasher *h, bool call)
{
	struct llmo_reg_hash_job *jobs[64];
	ssize_t n;

	while ((n = read(h->pipe_rd, jobs, sizeof(jobs))) > 0) {
		for (size_t i = 0; i < (size_t)n / sizeof(jobs[0]); i++) {
			struct llmo_reg_hash_job *j = jobs[i];

			if (call && !atomic_load(&j->cancelled))
				j->fn(j->arg, j->rc, &j->got, j->msg);
			job_free(j);
		}
	}
}

static void on_done(evutil_socket_t fd, short what, void *arg)
{
	drain_done(arg, true);
}

int llmo_reg_hasher_new(struct event_base *base, struct llmo_reg_hasher **out,
			struct llmo_error *err)
{
	struct llmo_reg_hasher *h = calloc(1, sizeof(*h));
	int p[2];

	*out = NULL;
	if (!h)
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	h->base = base;
	h->pipe_rd = h->pipe_wr = -1;
	pthread_mutex_init(&h->mu, NULL);
	pthread_cond_init(&h->cv, NULL);
	if (pipe2(p, O_CLOEXEC) < 0) {
		int rc = llmo_error_set(err, LLMO_EIO, "hasher pipe: %s", strerror(errno));

		llmo_reg_hasher_free(h);
		return rc;
	}
	h->pipe_rd = p[0];
	h->pipe_wr = p[1];
	/* the loop reads until the pipe is empty; workers may block on a full one */
	if (fcntl(h->pipe_rd, F_SETFL, O_NONBLOCK) < 0 ||
	    !(h->done_ev = event_new(base, h->pipe_rd, EV_READ | EV_PERSIST, on_done, h)) ||
	    event_add(h->done_ev, NULL) < 0) {
		llmo_reg_hasher_free(h);
		return llmo_error_set(err, LLMO_EIO, "cannot watch the hasher pipe");
	}
	*out = h;
	return 0;
}

void llmo_reg_hasher_free(struct llmo_reg_hasher *h)
{
	if (!h)
		return;
	pthread_mutex_lock(&h->mu);
	h->stop = true;
	for (struct llmo_reg_hash_job *j = h->head; j; j = j->next)
		atomic_store(&j->cancelled, true);
	pthread_cond_broadcast(&h->cv);
	pthread_mutex_unlock(&h->mu);
	/* jobs in progress were cancelled by their connections, closed before
	 * this. Joining before reading the pipe cannot deadlock: a worker
	 * blocks on the pipe only with 8192 finished jobs unread (64 KiB of
	 * pointers), and there is at most one job per connection
	 * (LLMO_REGISTRY_CONNS_MAX) */
	for (size_t i = 0; i < h->nthreads; i++)
		pthread_join(h->threads[i], NULL);
	if (h->pipe_rd >= 0)
		drain_done(h, false);
	if (h->done_ev)
		event_free(h->done_ev);
	if (h->pipe_rd >= 0)
		close(h->pipe_rd);
	if (h->pipe_wr >= 0)
		close(h->pipe_wr);
	pthread_cond_destroy(&h->cv);
	pthread_mutex_destroy(&h->mu);
	free(h);
}

/* Starts the workers on first use: a registry that never serves a large blob has none. */
static int start_workers(struct llmo_reg_hasher *h, struct llmo_error *err)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	size_t want = cpus < 1 ? 1 : (size_t)cpus;

	if (want > LLMO_REG_HASHER_THREADS_MAX)
		want = LLMO_REG_HASHER_THREADS_MAX;
	while (h->nthreads < want) {
		int rc = pthread_create(&h->threads[h->nthreads], NULL, worker_main, h);

		if (rc) {
			if (h->nthreads > 0)
				break; /* fewer workers still work */
			return llmo_error_set(err, LLMO_EAGAIN, "cannot start a hashing thread: %s",
					      strerror(rc));
		}
		h->nthreads++;
	}
	return 0;
}

int llmo_reg_hasher_submit(struct llmo_reg_hasher *h, int fd, uint64_t len,
			   llmo_reg_hash_done_fn fn, void *arg, struct llmo_reg_hash_job **job,
			   struct llmo_error *err)
{
	struct llmo_reg_hash_job *j;
	int rc;

	*job = NULL;
	if (h->nthreads == 0 && (rc = start_workers(h, err)))
		return rc;
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
	atomic_init(&j->cancelled, false);
	pthread_mutex_lock(&h->mu);
	if (h->tail)
		h->tail->next = j;
	else
		h->head = j;
	h->tail = j;
	pthread_cond_signal(&h->cv);
	pthread_mutex_unlock(&h->mu);
	*job = j;
	return 0;
}

void llmo_reg_hash_job_cancel(struct llmo_reg_hash_job *job)
{
	if (job)
		atomic_store(&job->cancelled, true);
}
