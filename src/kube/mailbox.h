#ifndef LLMO_KUBE_MAILBOX_H
#define LLMO_KUBE_MAILBOX_H
/*
 * Internal to src/kube: how a background thread hands work to the owner's
 * event loop. The thread posts messages (in order, bounded: a poster waits
 * while the box is full); a pipe wakes the loop, which delivers them, in
 * order, on its own thread.
 *
 * Messages are intrusive: the poster's struct starts with (or holds) a
 * struct llmo__mail, and the box owns a posted message until it hands it to
 * deliver (which then owns it) or to drop.
 */
#include "base/common.h"
#include "base/error.h"

#include <pthread.h>

struct event;
struct event_base;

struct llmo__mail {
	struct llmo__mail *next;
};

struct llmo__mailbox {
	pthread_mutex_t lock;
	pthread_cond_t space; /* signalled when messages are taken or on wake */
	struct llmo__mail *head, *tail;
	size_t count;
	size_t max;
	uint64_t epoch; /* bumped by discard: a delivery run in progress stops */
	int fds[2];	/* pipe: [0] read by the loop, [1] written by posters */
	struct event *ev;
	void (*deliver)(void *ctx, struct llmo__mail *m);
	void (*drop)(struct llmo__mail *m);
	void *ctx;
};

/*
 * Sets up mb on base (call on the loop thread). deliver runs on the loop for
 * each message; drop frees a message never delivered. 0, LLMO_ENOMEM or
 * LLMO_EIO (no pipe).
 */
int llmo__mailbox_init(struct llmo__mailbox *mb, struct event_base *base, size_t max,
		       void (*deliver)(void *ctx, struct llmo__mail *m),
		       void (*drop)(struct llmo__mail *m), void *ctx, struct llmo_error *err);
/* Drops every queued message and frees the rest. */
void llmo__mailbox_release(struct llmo__mailbox *mb);

/*
 * Queues m (any thread), waiting while the box holds max messages. When
 * *stop (may be NULL) becomes non-zero while waiting, m is dropped and
 * LLMO_ECLOSED returned.
 */
int llmo__mailbox_post(struct llmo__mailbox *mb, struct llmo__mail *m, const volatile int *stop);

/* Wakes posters waiting for room, so that they see their stop flag. */
void llmo__mailbox_wake(struct llmo__mailbox *mb);

/* Drops every queued message, also those of a delivery run in progress (loop thread). */
void llmo__mailbox_discard(struct llmo__mailbox *mb);

/* Delivers every queued message now, on the calling (loop) thread. */
void llmo__mailbox_flush(struct llmo__mailbox *mb);

#endif
