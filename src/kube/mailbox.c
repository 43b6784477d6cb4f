#include "base/common.h"

#include <event2/event.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include "kube/mailbox.h"

/* How often a poster waiting for room re-checks its stop flag. */
#define MAILBOX_WAIT_SLICE_MS 100

static struct llmo__mail *take_all(struct llmo__mailbox *mb)
{
	struct llmo__mail *list;

	pthread_mutex_lock(&mb->lock);
	list = mb->head;
	mb->head = mb->tail = NULL;
	mb->count = 0;
	pthread_cond_broadcast(&mb->space);
	pthread_mutex_unlock(&mb->lock);
	return list;
}

static void drop_list(struct llmo__mailbox *mb, struct llmo__mail *m)
{
	while (m) {
		struct llmo__mail *next = m->next;

		mb->drop(m);
		m = next;
	}
}

static void deliver_list(struct llmo__mailbox *mb, struct llmo__mail *m)
{
	uint64_t epoch = mb->epoch;

	while (m) {
		struct llmo__mail *next = m->next;

		m->next = NULL;
		mb->deliver(mb->ctx, m);
		m = next;
		if (mb->epoch != epoch) {
			/* discarded (the owner stopped) from inside deliver */
			drop_list(mb, m);
			return;
		}
	}
}

static void drain_pipe(struct llmo__mailbox *mb)
{
	char buf[256];

	while (read(mb->fds[0], buf, sizeof(buf)) > 0)
		;
}

static void on_notify(evutil_socket_t fd, short what, void *arg)
{
	struct llmo__mailbox *mb = arg;

	drain_pipe(mb);
	deliver_list(mb, take_all(mb));
}

int llmo__mailbox_init(struct llmo__mailbox *mb, struct event_base *base, size_t max,
		       void (*deliver)(void *ctx, struct llmo__mail *m),
		       void (*drop)(struct llmo__mail *m), void *ctx, struct llmo_error *err)
{
	pthread_condattr_t ca;

	memset(mb, 0, sizeof(*mb));
	mb->fds[0] = mb->fds[1] = -1;
	mb->max = max;
	mb->deliver = deliver;
	mb->drop = drop;
	mb->ctx = ctx;
	if (pipe2(mb->fds, O_NONBLOCK | O_CLOEXEC) < 0)
		return llmo_error_set(err, LLMO_EIO, "pipe: %s", strerror(errno));
	mb->ev = event_new(base, mb->fds[0], EV_READ | EV_PERSIST, on_notify, mb);
	if (!mb->ev || event_add(mb->ev, NULL) < 0) {
		if (mb->ev)
			event_free(mb->ev);
		close(mb->fds[0]);
		close(mb->fds[1]);
		mb->ev = NULL;
		mb->fds[0] = mb->fds[1] = -1;
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	}
	pthread_mutex_init(&mb->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&mb->space, &ca);
	pthread_condattr_destroy(&ca);
	return 0;
}

void llmo__mailbox_release(struct llmo__mailbox *mb)
{
	if (!mb->ev)
		return;
	drop_list(mb, take_all(mb));
	event_free(mb->ev);
	close(mb->fds[0]);
	close(mb->fds[1]);
	pthread_cond_destroy(&mb->space);
	pthread_mutex_destroy(&mb->lock);
	memset(mb, 0, sizeof(*mb));
	mb->fds[0] = mb->fds[1] = -1;
}

int llmo__mailbox_post(struct llmo__mailbox *mb, struct llmo__mail *m, const volatile int *stop)
{
	bool wake;

	m->next = NULL;
	pthread_mutex_lock(&mb->lock);
	while (mb->count >= mb->max) {
		struct timespec ts;

		if (stop && __atomic_load_n(stop, __ATOMIC_ACQUIRE)) {
			pthread_mutex_unlock(&mb->lock);
			mb->drop(m);
			return LLMO_ECLOSED;
		}
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += MAILBOX_WAIT_SLICE_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&mb->space, &mb->lock, &ts);
	}
	wake = mb->head == NULL;
	if (mb->tail)
		mb->tail->next = m;
	else
		mb->head = m;
	mb->tail = m;
	mb->count++;
	pthread_mutex_unlock(&mb->lock);
	if (wake) {
		/* one byte per empty-to-busy transition; a full pipe already wakes the loop */
		char b = 1;
		ssize_t LLMO_UNUSED n = write(mb->fds[1], &b, 1);
	}
	return 0;
}

void llmo__mailbox_wake(struct llmo__mailbox *mb)
{
	pthread_mutex_lock(&mb->lock);
	pthread_cond_broadcast(&mb->space);
	pthread_mutex_unlock(&mb->lock);
}

void llmo__mailbox_discard(struct llmo__mailbox *mb)
{
	mb->epoch++;
	drain_pipe(mb);
	drop_list(mb, take_all(mb));
}

void llmo__mailbox_flush(struct llmo__mailbox *mb)
{
	drain_pipe(mb);
	deliver_list(mb, take_all(mb));
}
