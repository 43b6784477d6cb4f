#ifndef LLMO_KUBE_WATCH_H
#define LLMO_KUBE_WATCH_H
/*
 * One watch stream: GET ...?watch=true, read line by line, one callback per
 * event. Blocking; informers run it in their own thread.
 */
#include "kube/client.h"

/* Longest event line accepted (one object, as JSON). */
#define LLMO_KUBE_WATCH_LINE_MAX ((size_t)16 << 20)
/* Largest error body read when the server refuses the watch. */
#define LLMO_KUBE_WATCH_ERROR_MAX ((size_t)64 << 10)

/*
 * Called for each event: type is "ADDED", "MODIFIED", "DELETED" or
 * "BOOKMARK"; object is borrowed (json_incref it to keep it). A non-zero
 * return ends the watch and is returned by llmo_kube_watch.
 */
typedef int (*llmo_kube_watch_fn)(void *ctx, const char *type, json_t *object);

/*
 * Watches resource r in ns (NULL or "": all namespaces; ignored for
 * cluster-scoped resources) with optional label and field selectors
 * (NULL: none), from resource_version (NULL or "": the current state first,
 * as ADDED events) and with allowWatchBookmarks=true. timeout_seconds > 0
 * asks the server to end the stream after that long.
 *
 * Returns 0 when the stream ends normally or *stop (may be NULL) becomes
 * non-zero (noticed within about a second, even on an idle stream);
 * LLMO_EGONE when the server answers 410 or sends an ERROR event with code
 * 410 (the caller must list again); the mapped code of any other ERROR
 * event or HTTP error (see client.h); LLMO_EIO / LLMO_ETIMEOUT when the
 * connection fails; LLMO_EPARSE for a line that is not a JSON event;
 * LLMO_ETOOBIG for a line over LLMO_KUBE_WATCH_LINE_MAX; or fn's non-zero
 * return. No retries: reconnecting is the caller's business.
 *
 * Another thread sets *stop; it is read with __atomic_load_n, so set it
 * with __atomic_store_n(stop, 1, __ATOMIC_RELEASE) to keep the program
 * free of data races.
 */
int llmo_kube_watch(struct llmo_kube_client *c, const struct llmo_kube_resource *r, const char *ns,
		    const char *label_selector, const char *field_selector,
		    const char *resource_version, int timeout_seconds, llmo_kube_watch_fn fn,
		    void *ctx, const volatile int *stop, struct llmo_error *err);

#endif
