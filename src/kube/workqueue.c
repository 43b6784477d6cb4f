#include "base/common.h"

#include <event2/event.h>

#include "base/clock.h"
#include "base/hmap.h"
#include "base/log.h"
#include "base/str.h"
#include "kube/workqueue.h"

#define LOG "workqueue"

/* A key waiting for its delay; owns its event. */
struct delayed {
	struct llmo_workqueue *q;
	struct event *ev;
	int64_t ready_ms; /* monotonic */
	char *key;
};

struct llmo_workqueue {
	struct event_base *base;
	llmo_workqueue_fn handler;
	void *ctx;
	long base_ms, max_ms;
	/* the ready keys, in order: items[head .. len) are owned strings */
	char **items;
	size_t head, len, cap;
	struct llmo_hmap dirty;	     /* keys to handle (ready, or re-added while processing) */
	struct llmo_hmap processing; /* keys in the handler now */
	struct llmo_hmap waiting;    /* key -> struct delayed */
	struct llmo_hmap failures;   /* key -> (uintptr_t) requeues, absent for 0 */
	struct event *dispatch;
	llmo_workqueue_less_fn less; /* NULL: first in, first out */
	void *less_ctx;
	bool shutting_down;
};

static void schedule(struct llmo_workqueue *q)
{
	if (q->len > q->head && !q->shutting_down && !event_pending(q->dispatch, EV_TIMEOUT, NULL))
		event_active(q->dispatch, EV_TIMEOUT, 0);
}

static int push(struct llmo_workqueue *q, const char *key)
{
	char *copy = llmo_strdup(key);

	if (!copy)
		return LLMO_ENOMEM;
	if (q->head && q->head == q->len) {
		q->head = q->len = 0;
	} else if (q->len == q->cap && q->head > q->cap / 2) {
		/* reclaim the consumed front instead of growing */
		memmove(q->items, q->items + q->head, (q->len - q->head) * sizeof(*q->items));
		q->len -= q->head;
		q->head = 0;
	}
	if (q->len == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 16;
		char **n = realloc(q->items, cap * sizeof(*n));

		if (!n) {
			free(copy);
			return LLMO_ENOMEM;
		}
		q->items = n;
		q->cap = cap;
	}
	q->items[q->len++] = copy;
	return 0;
}

/*
 * Takes the next ready key (the caller frees it), or NULL: the first in
 * line, or with an order the first that sorts before every other (ties go
 * to the earlier one), the rest keeping their order.
 */
static char *pop(struct llmo_workqueue *q)
{
	size_t best = q->head;
	char *key;

	if (q->head == q->len)
		return NULL;
	if (q->less) {
		for (size_t i = q->head + 1; i < q->len; i++)
			if (q->less(q->less_ctx, q->items[i], q->items[best]))
				best = i;
		key = q->items[best];
		memmove(q->items + q->head + 1, q->items + q->head,
			(best - q->head) * sizeof(*q->items));
		q->items[q->head] = key;
	}
	return q->items[q->head++];
}

int llmo_workqueue_add(struct llmo_workqueue *q, const char *key)
{
	int rc;

	if (q->shutting_down)
		return LLMO_ECLOSED;
	if (llmo_hmap_has(&q->dirty, key))
		return 0;
	if ((rc = llmo_hmap_put(&q->dirty, key, NULL, NULL)))
		return rc;
	/* a key in the handler goes back in line when the handler returns */
	if (llmo_hmap_has(&q->processing, key))
		return 0;
	if ((rc = push(q, key))) {
		llmo_hmap_del(&q->dirty, key, NULL);
		return rc;
	}
	schedule(q);
	return 0;
}

static void delayed_free(struct delayed *d)
{
	event_free(d->ev);
	free(d->key);
	free(d);
}

static void arm(struct delayed *d, long ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	event_add(d->ev, &tv);
}

static void on_delay(evutil_socket_t fd, short what, void *arg)
{
	struct delayed *d = arg;
	struct llmo_workqueue *q = d->q;
	int64_t early = d->ready_ms - llmo_clock_mono_ms();
	int rc;

	/* libevent's timers run on a coarse clock and may fire a little early */
	if (early > 0) {
		arm(d, (long)early);
		return;
	}
	llmo_hmap_del(&q->waiting, d->key, NULL);
	rc = llmo_workqueue_add(q, d->key);
	if (rc && rc != LLMO_ECLOSED)
		LLMO_ERROR(LOG, "dropping a key: out of memory", "key=%s", d->key);
	delayed_free(d);
}

int llmo_workqueue_add_after(struct llmo_workqueue *q, const char *key, long ms)
{
	struct delayed *d;
	int64_t ready;

	if (q->shutting_down)
		return LLMO_ECLOSED;
	if (ms <= 0)
		return llmo_workqueue_add(q, key);
	ready = llmo_clock_mono_ms() + ms;
	d = llmo_hmap_get(&q->waiting, key);
	if (d) {
		/* the earliest request wins */
		if (ready < d->ready_ms) {
			d->ready_ms = ready;
			arm(d, ms);
		}
		return 0;
	}
	d = calloc(1, sizeof(*d));
	if (!d)
		return LLMO_ENOMEM;
	d->q = q;
	d->ready_ms = ready;
	d->key = llmo_strdup(key);
	d->ev = evtimer_new(q->base, on_delay, d);
	if (!d->key || !d->ev || llmo_hmap_put(&q->waiting, key, d, NULL)) {
		if (d->ev)
			event_free(d->ev);
		free(d->key);
		free(d);
		return LLMO_ENOMEM;
	}
	arm(d, ms);
	return 0;
}

static long backoff_ms(const struct llmo_workqueue *q, uintptr_t n)
{
	long d = q->base_ms;

	for (uintptr_t i = 0; i < n && d < q->max_ms; i++)
		d = d > q->max_ms / 2 ? q->max_ms : d * 2;
	return LLMO_MIN(d, q->max_ms);
}

int llmo_workqueue_add_rate_limited(struct llmo_workqueue *q, const char *key)
{
	uintptr_t n = (uintptr_t)llmo_hmap_get(&q->failures, key);
	int rc;

	if (q->shutting_down)
		return LLMO_ECLOSED;
	if ((rc = llmo_hmap_put(&q->failures, key, (void *)(n + 1), NULL)))
		return rc;
	return llmo_workqueue_add_after(q, key, backoff_ms(q, n));
}

void llmo_workqueue_forget(struct llmo_workqueue *q, const char *key)
{
	llmo_hmap_del(&q->failures, key, NULL);
}

int llmo_workqueue_num_requeues(const struct llmo_workqueue *q, const char *key)
{
	uintptr_t n = (uintptr_t)llmo_hmap_get(&q->failures, key);

	return n > INT_MAX ? INT_MAX : (int)n;
}

size_t llmo_workqueue_len(const struct llmo_workqueue *q)
{
	return q->len - q->head;
}

size_t llmo_workqueue_delayed(const struct llmo_workqueue *q)
{
	return llmo_hmap_count(&q->waiting);
}

/* Hands one ready key to the handler; false when there was none. */
static bool process_one(struct llmo_workqueue *q)
{
	char *key = pop(q);
	int rc;

	if (!key)
		return false;
	llmo_hmap_del(&q->dirty, key, NULL);
	if (llmo_hmap_put(&q->processing, key, NULL, NULL)) {
		/* cannot track it: put it back for a later try */
		LLMO_ERROR(LOG, "out of memory; retrying a key later", "key=%s", key);
		llmo_workqueue_add_after(q, key, q->base_ms);
		free(key);
		return true;
	}
	rc = q->handler(q->ctx, key);
	if (rc)
		llmo_workqueue_add_rate_limited(q, key);
	else
		llmo_workqueue_forget(q, key);
	llmo_hmap_del(&q->processing, key, NULL);
	/* re-added while in the handler: back in line now */
	if (llmo_hmap_has(&q->dirty, key) && push(q, key))
		llmo_hmap_del(&q->dirty, key, NULL);
	free(key);
	return true;
}

static void on_dispatch(evutil_socket_t fd, short what, void *arg)
{
	struct llmo_workqueue *q = arg;

	for (int i = 0; i < LLMO_WORKQUEUE_BATCH; i++)
		if (q->shutting_down || !process_one(q))
			break;
	schedule(q);
}

int llmo_workqueue_new(struct event_base *base, llmo_workqueue_fn handler, void *ctx,
		       struct llmo_workqueue **out, struct llmo_error *err)
{
	struct llmo_workqueue *q = calloc(1, sizeof(*q));

	*out = NULL;
	if (!q)
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	q->base = base;
	q->handler = handler;
	q->ctx = ctx;
	q->base_ms = LLMO_WORKQUEUE_BACKOFF_BASE_MS;
	q->max_ms = LLMO_WORKQUEUE_BACKOFF_MAX_MS;
	llmo_hmap_init(&q->dirty);
	llmo_hmap_init(&q->processing);
	llmo_hmap_init(&q->waiting);
	llmo_hmap_init(&q->failures);
	q->dispatch = event_new(base, -1, 0, on_dispatch, q);
	if (!q->dispatch) {
		free(q);
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	}
	*out = q;
	return 0;
}

void llmo_workqueue_set_order(struct llmo_workqueue *q, llmo_workqueue_less_fn less, void *ctx)
{
	q->less = less;
	q->less_ctx = ctx;
}

void llmo_workqueue_set_backoff(struct llmo_workqueue *q, long base_ms, long max_ms)
{
	if (base_ms > 0)
		q->base_ms = base_ms;
	if (max_ms > 0)
		q->max_ms = max_ms;
}

static void drop_delayed(struct llmo_workqueue *q)
{
	size_t it = 0;
	void *v;

	while (llmo_hmap_next(&q->waiting, &it, NULL, &v))
		delayed_free(v);
	llmo_hmap_release(&q->waiting, NULL);
}

void llmo_workqueue_shutdown(struct llmo_workqueue *q)
{
	if (q->shutting_down)
		return;
	q->shutting_down = true;
	drop_delayed(q);
	event_del(q->dispatch);
	while (process_one(q))
		;
}

bool llmo_workqueue_shutting_down(const struct llmo_workqueue *q)
{
	return q->shutting_down;
}

void llmo_workqueue_free(struct llmo_workqueue *q)
{
	if (!q)
		return;
	drop_delayed(q);
	event_free(q->dispatch);
	for (size_t i = q->head; i < q->len; i++)
		free(q->items[i]);
	free(q->items);
	llmo_hmap_release(&q->dirty, NULL);
	llmo_hmap_release(&q->processing, NULL);
	llmo_hmap_release(&q->failures, NULL);
	free(q);
}
