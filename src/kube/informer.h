#ifndef LLMO_KUBE_INFORMER_H
#define LLMO_KUBE_INFORMER_H
/*
 * struct llmo_informer: a local cache of one resource kept in step with the
 * API by list + watch, with change handlers, after client-go's
 * SharedIndexInformer.
 *
 * Threads: a background thread does the HTTP (a paged list, limit 500, then
 * a watch from the list's resourceVersion, resumed from the last seen
 * resourceVersion after a disconnect, a new list after 410 Gone, capped
 * exponential backoff on errors) and only posts what it fetched to the
 * owner's event_base through a pipe. Everything else (the cache, the
 * indexes, the handlers) lives on the loop thread: the handlers run there,
 * and the getters below may be called from there only. No locking in
 * user code.
 *
 * After a relist the handlers see the differences from the cache (adds,
 * updates of objects whose resourceVersion changed, deletes of objects
 * gone), so the cache converges on the server's state.
 *
 * Objects handed to handlers and callbacks, and returned by the getters, are
 * borrowed: valid until control returns to the event loop (json_incref to
 * keep one longer), and never to be modified.
 */
#include "base/common.h"

#include <jansson.h>

#include "base/error.h"
#include "kube/client.h"

struct event_base;
struct llmo_informer;

/* Objects the cache may hold; a list that returns more fails. */
#define LLMO_INFORMER_OBJECTS_MAX 1000000
/* Page size of the list. */
#define LLMO_INFORMER_PAGE_LIMIT 500
/* Messages waiting for the loop; the background thread waits when full. */
#define LLMO_INFORMER_QUEUE_MAX 10000
/* Backoff between failed attempts: first, then doubling up to max. */
#define LLMO_INFORMER_BACKOFF_MS 500
#define LLMO_INFORMER_BACKOFF_MAX_MS 30000
/* Each watch asks the server to end it after a random time in this range. */
#define LLMO_INFORMER_WATCH_MIN_S 300
#define LLMO_INFORMER_WATCH_MAX_S 600

/* Index names for llmo_informer_by_index. */
#define LLMO_INFORMER_INDEX_NAMESPACE "namespace" /* value: the namespace */
#define LLMO_INFORMER_INDEX_LABEL "label"	  /* value: "key=value" */
#define LLMO_INFORMER_INDEX_OWNER "owner"	  /* value: an ownerReferences uid */

/* Each may be NULL. They run on the loop thread, after the cache changed. */
struct llmo_informer_handlers {
	void (*add)(void *ctx, json_t *obj);
	void (*update)(void *ctx, json_t *old_obj, json_t *new_obj);
	/* obj is the last state seen: the DELETED event's, or the cached one after a relist */
	void (*delete)(void *ctx, json_t *obj);
};

/* For iteration: a non-zero return stops it and is returned. */
typedef int (*llmo_informer_each_fn)(void *ctx, json_t *obj);

/*
 * Creates a stopped informer for r (copied) in ns (NULL or "": all
 * namespaces) with an optional label selector, posting to base. handlers is
 * copied. client must outlive the informer. Call on the loop thread.
 */
int llmo_informer_new(struct llmo_kube_client *client, const struct llmo_kube_resource *r,
		      const char *ns, const char *label_selector, struct event_base *base,
		      const struct llmo_informer_handlers *handlers, void *ctx,
		      struct llmo_informer **out, struct llmo_error *err);

/*
 * Restricts the list and watch with a field selector ("spec.nodeName=n1";
 * NULL or "": none). Before llmo_informer_start only: LLMO_EINVAL after.
 */
int llmo_informer_set_field_selector(struct llmo_informer *inf, const char *field_selector,
				     struct llmo_error *err);

/*
 * A transform, after client-go's SetTransform: applied on the background
 * thread to each listed or watched object (deleted ones included) before it
 * is posted to the loop, so that the cache, the handlers and the getters
 * only ever see what it returns. It returns a new object (a new reference
 * that shares no value with obj: obj is freed on the background thread) or
 * NULL when out of memory (the list or the watch then fails and is retried
 * after a backoff, as on any other error).
 *
 * The result must keep metadata.name, metadata.namespace and
 * metadata.resourceVersion (the cache's key; a relist compares
 * resourceVersions), and metadata.labels and metadata.ownerReferences where
 * llmo_informer_by_index is used with those indexes. It runs concurrently
 * with the loop: fn may not touch loop-thread state through ctx.
 *
 * For read-only caches: never for an informer whose objects are written
 * back to the API (an update built from a trimmed object would drop fields).
 */
typedef json_t *(*llmo_informer_transform_fn)(void *ctx, const json_t *obj);

/* Sets the transform (NULL: none). Before llmo_informer_start only: LLMO_EINVAL after. */
int llmo_informer_set_transform(struct llmo_informer *inf, llmo_informer_transform_fn fn,
				void *ctx, struct llmo_error *err);

/*
 * Starts the background thread. After a stop, a new start resumes the watch
 * from the last resourceVersion the loop applied (or lists again when none).
 * LLMO_EINVAL when already running; LLMO_EIO when the thread cannot start.
 */
int llmo_informer_start(struct llmo_informer *inf, struct llmo_error *err);

/*
 * Stops and joins the thread (within about a second: every blocking step
 * watches the stop flag) and drops what it fetched but the loop has not
 * applied yet. The cache stays as it is. May be called from a handler.
 */
void llmo_informer_stop(struct llmo_informer *inf);

/* Stops, then frees everything. Not from inside a handler. NULL is fine. */
void llmo_informer_free(struct llmo_informer *inf);

/* True once the first list has been applied to the cache. */
bool llmo_informer_synced(const struct llmo_informer *inf);

/* Objects in the cache. */
size_t llmo_informer_count(const struct llmo_informer *inf);

/* The resourceVersion the cache reflects; NULL before the first list. */
const char *llmo_informer_resource_version(const struct llmo_informer *inf);

/* The cached object ns/name (ns NULL or "" for cluster-scoped), or NULL. */
json_t *llmo_informer_get(const struct llmo_informer *inf, const char *ns, const char *name);

/* Calls fn for each cached object in ns (NULL: all), in no particular order. */
int llmo_informer_list(const struct llmo_informer *inf, const char *ns, llmo_informer_each_fn fn,
		       void *ctx);

/*
 * Calls fn for each cached object whose index `index` (LLMO_INFORMER_INDEX_*)
 * holds value. LLMO_EINVAL for an unknown index name.
 */
int llmo_informer_by_index(const struct llmo_informer *inf, const char *index, const char *value,
			   llmo_informer_each_fn fn, void *ctx);

#endif
