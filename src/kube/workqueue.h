#ifndef LLMO_KUBE_WORKQUEUE_H
#define LLMO_KUBE_WORKQUEUE_H
/*
 * struct llmo_workqueue: client-go's rate-limiting work queue on an event
 * loop. Controllers put object keys ("ns/name") in it from informer
 * handlers; the handler reconciles one key at a time on the loop.
 *
 * Semantics (client-go's):
 *   - a key added while it waits is not added twice (the dirty set);
 *   - a key being handled is never handed out again until its handler
 *     returns; if it was added meanwhile, it runs once more afterwards;
 *   - keys run in the order they became ready, or, with an order set
 *     (llmo_workqueue_set_order), the ready key that sorts first runs
 *     next (a linear scan of the ready keys per key handed out);
 *   - add_after makes a key ready later (the earliest of several requests
 *     wins); add_rate_limited waits base * 2^n for the n-th requeue of the
 *     key since its last forget (5 ms doubling up to 1000 s by default, like
 *     ItemExponentialFailureRateLimiter);
 *   - when the handler returns non-zero the key is re-added rate-limited,
 *     when it returns 0 the key is forgotten (its backoff reset).
 *
 * Everything here runs on the loop thread, including every call below; no
 * locking. The handler runs from a libevent callback, in batches of at most
 * LLMO_WORKQUEUE_BATCH keys per loop iteration so that I/O is not starved.
 */
#include "base/common.h"
#include "base/error.h"

struct event_base;
struct llmo_workqueue;

/* Keys handled per loop iteration before yielding to other events. */
#define LLMO_WORKQUEUE_BATCH 32
/* Default per-item backoff. */
#define LLMO_WORKQUEUE_BACKOFF_BASE_MS 5L
#define LLMO_WORKQUEUE_BACKOFF_MAX_MS 1000000L

/* Handles key (borrowed for the call). Non-zero: retry later, rate-limited. */
typedef int (*llmo_workqueue_fn)(void *ctx, const char *key);

int llmo_workqueue_new(struct event_base *base, llmo_workqueue_fn handler, void *ctx,
		       struct llmo_workqueue **out, struct llmo_error *err);
/* Frees the queue and every key in it; not from inside the handler. NULL is fine. */
void llmo_workqueue_free(struct llmo_workqueue *q);

/* Whether key a should run before key b (both borrowed for the call). */
typedef bool (*llmo_workqueue_less_fn)(void *ctx, const char *a, const char *b);

/*
 * Hands out ready keys by less (NULL: first in, first out), ties to the
 * one ready first. less must be a strict weak order and must not touch q.
 */
void llmo_workqueue_set_order(struct llmo_workqueue *q, llmo_workqueue_less_fn less, void *ctx);

/* The per-item backoff (values <= 0 keep the current one). */
void llmo_workqueue_set_backoff(struct llmo_workqueue *q, long base_ms, long max_ms);

/* Makes key ready (copied). 0, LLMO_ENOMEM, or LLMO_ECLOSED after shutdown. */
int llmo_workqueue_add(struct llmo_workqueue *q, const char *key);
/* Makes key ready in ms milliseconds (now when ms <= 0). Errors as add. */
int llmo_workqueue_add_after(struct llmo_workqueue *q, const char *key, long ms);
/* add_after with the key's next backoff, counting a requeue. Errors as add. */
int llmo_workqueue_add_rate_limited(struct llmo_workqueue *q, const char *key);
/* Resets key's backoff and requeue count (a pending delayed add stays). */
void llmo_workqueue_forget(struct llmo_workqueue *q, const char *key);
/* Rate-limited adds of key since it was last forgotten. */
int llmo_workqueue_num_requeues(const struct llmo_workqueue *q, const char *key);

/* Keys ready and waiting for the handler. */
size_t llmo_workqueue_len(const struct llmo_workqueue *q);
/* Keys waiting for an add_after / add_rate_limited delay. */
size_t llmo_workqueue_delayed(const struct llmo_workqueue *q);

/*
 * Shuts down and drains: delayed keys are dropped, new adds refused
 * (LLMO_ECLOSED), and every key already ready is handled now, before this
 * returns (a failing key is not retried). Not from inside the handler.
 */
void llmo_workqueue_shutdown(struct llmo_workqueue *q);
bool llmo_workqueue_shutting_down(const struct llmo_workqueue *q);

#endif
