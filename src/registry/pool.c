/*
 * Worker threads for the registry (pool.h).
 *
 * Hand-offs: the loop puts a job on the queue (mutex and condition
 * variable); a worker takes it, runs it, and writes the job's pointer to a
 * pipe, which the loop reads (an event on the pipe) to call the job's done
 * and release. Pointers are written in one write() of sizeof(void *)
 * bytes, below PIPE_BUF, so they arrive whole.
 */
#include "base/common.h"

#include <event2/event.h>
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include "base/log.h"
#include "registry/pool.h"

#include "base/banned.h"

#define LOG "registry"

struct llmo_reg_pool {
	struct llmo_reg_pool_opts o;
	char what[32];
	int pipe_rd, pipe_wr;
	struct event *done_ev;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct llmo_reg_pool_job *head, *tail; /* queued, under mu */
	bool stop;                             /* under mu */
	size_t pending;                        /* the loop's: submitted, not yet reported */
	size_t nthreads;
	pthread_t threads[LLMO_REG_POOL_THREADS_MAX];
};

static void *worker_main(void *arg)
{
	struct llmo_reg_pool *p = arg;
	void *local = p->o.local_new ? p->o.local_new(p->o.arg) : NULL;

	for (;;) {
		struct llmo_reg_pool_job *j;
		ssize_t n;

		pthread_mutex_lock(&p->mu);
		while (!p->stop && !p->head)
			pthread_cond_wait(&p->cv, &p->mu);
		j = p->head;
		if (j) {
			p->head = j->next;
			if (!p->head)
				p->tail = NULL;
		}
		pthread_mutex_unlock(&p->mu);
		if (!j)
			break; /* stopping, and the queue is empty */
		if (!atomic_load(&j->cancelled))
			j->run(j, local);
		do
			n = write(p->pipe_wr, &j, sizeof(j));
		while (n < 0 && errno == EINTR);
		/* a pipe that cannot take 8 bytes is broken beyond repair: the
		 * job is lost rather than freed under the loop's feet */
		if (n != (ssize_t)sizeof(j))
			LLMO_ERROR(LOG, "worker pipe write failed", "pool=%s error=\"%s\"", p->what,
				   n < 0 ? strerror(errno) : "short write");
	}
	if (p->o.local_free && local)
		p->o.local_free(local);
	return NULL;
}

/* Reads finished jobs off the pipe: their callbacks run here, on the loop. */
static void drain_done(struct llmo_reg_pool *p, bool call)
{
	struct llmo_reg_pool_job *jobs[64];
	ssize_t n;

	while ((n = read(p->pipe_rd, jobs, sizeof(jobs))) > 0) {
		for (size_t i = 0; i < (size_t)n / sizeof(jobs[0]); i++) {
			struct llmo_reg_pool_job *j = jobs[i];

			p->pending--;
			if (call && !atomic_load(&j->cancelled))
				j->done(j);
			j->release(j);
		}
	}
}

static void on_done(evutil_socket_t fd, short what, void *arg)
{
	drain_done(arg, true);
}

int llmo_reg_pool_new(struct event_base *base, const struct llmo_reg_pool_opts *o,
		      struct llmo_reg_pool **out, struct llmo_error *err)
{
	struct llmo_reg_pool *p = calloc(1, sizeof(*p));
	int fds[2];

	*out = NULL;
	if (!p)
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	p->o = *o;
	snprintf(p->what, sizeof(p->what), "%s", o->what ? o->what : "worker");
	p->o.what = p->what;
	if (p->o.threads < 1)
		p->o.threads = 1;
	if (p->o.threads > LLMO_REG_POOL_THREADS_MAX)
		p->o.threads = LLMO_REG_POOL_THREADS_MAX;
	p->pipe_rd = p->pipe_wr = -1;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	if (pipe2(fds, O_CLOEXEC) < 0) {
		int rc = llmo_error_set(err, LLMO_EIO, "%s pool pipe: %s", p->what, strerror(errno));

		llmo_reg_pool_free(p);
		return rc;
	}
	p->pipe_rd = fds[0];
	p->pipe_wr = fds[1];
	/* the loop reads until the pipe is empty; workers may block on a full one */
	if (fcntl(p->pipe_rd, F_SETFL, O_NONBLOCK) < 0 ||
	    !(p->done_ev = event_new(base, p->pipe_rd, EV_READ | EV_PERSIST, on_done, p)) ||
	    event_add(p->done_ev, NULL) < 0) {
		int rc = llmo_error_set(err, LLMO_EIO, "cannot watch the %s pool pipe", p->what);

		llmo_reg_pool_free(p);
		return rc;
	}
	*out = p;
	return 0;
}

void llmo_reg_pool_free(struct llmo_reg_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = true;
	for (struct llmo_reg_pool_job *j = p->head; j; j = j->next)
		atomic_store(&j->cancelled, true);
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	/* jobs in progress run to their end (their owners cancelled them).
	 * Joining before reading the pipe cannot deadlock: a worker blocks on
	 * the pipe only with 8192 finished jobs unread (64 KiB of pointers),
	 * and there is at most one job per connection (LLMO_REGISTRY_CONNS_MAX) */
	for (size_t i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	if (p->pipe_rd >= 0)
		drain_done(p, false);
	if (p->done_ev)
		event_free(p->done_ev);
	if (p->pipe_rd >= 0)
		close(p->pipe_rd);
	if (p->pipe_wr >= 0)
		close(p->pipe_wr);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

/* Starts the workers on first use: a registry that never needs them has none. */
static int start_workers(struct llmo_reg_pool *p, struct llmo_error *err)
{
	while (p->nthreads < p->o.threads) {
		int rc = pthread_create(&p->threads[p->nthreads], NULL, worker_main, p);

		if (rc) {
			if (p->nthreads > 0)
				break; /* fewer workers still work */
			return llmo_error_set(err, LLMO_EAGAIN, "cannot start a %s thread: %s",
					      p->what, strerror(rc));
		}
		p->nthreads++;
	}
	return 0;
}

int llmo_reg_pool_submit(struct llmo_reg_pool *p, struct llmo_reg_pool_job *j,
			 struct llmo_error *err)
{
	int rc;

	if (p->nthreads == 0 && (rc = start_workers(p, err)))
		return rc;
	j->next = NULL;
	atomic_init(&j->cancelled, false);
	p->pending++;
	pthread_mutex_lock(&p->mu);
	if (p->tail)
		p->tail->next = j;
	else
		p->head = j;
	p->tail = j;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	return 0;
}

void llmo_reg_pool_cancel(struct llmo_reg_pool_job *j)
{
	if (j)
		atomic_store(&j->cancelled, true);
}

bool llmo_reg_pool_cancelled(struct llmo_reg_pool_job *j)
{
	return atomic_load_explicit(&j->cancelled, memory_order_relaxed);
}

size_t llmo_reg_pool_pending(const struct llmo_reg_pool *p)
{
	return p->pending;
}
