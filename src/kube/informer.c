/*
 * Informers: list + watch in a background thread, cache and indexes on the
 * owner's loop thread. See informer.h for the contract.
 */
#include "base/common.h"

#include <pthread.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/hmap.h"
#include "base/log.h"
#include "base/str.h"
#include "kube/client_int.h"
#include "kube/informer_int.h"
#include "kube/mailbox.h"
#include "kube/watch.h"

#define LOG "informer"
/* Longest list URL. */
#define INFORMER_URL_MAX 8192
/* Relists of a paged list whose continue token expired, before giving up for a backoff. */
#define INFORMER_LIST_RESTARTS 3
/* A watch that ends sooner than this with no event counts as a failure (backoff). */
#define INFORMER_WATCH_MIN_MS 1000

enum msg_kind { MSG_REPLACE, MSG_ADDED, MSG_MODIFIED, MSG_DELETED, MSG_BOOKMARK };

struct msg {
	struct llmo__mail link; /* first */
	enum msg_kind kind;
	json_t *obj; /* the object, or for MSG_REPLACE the items array; owned */
	char *rv;    /* resourceVersion this message brings the cache to; owned, may be NULL */
};

/* One index: value -> set of cache keys (an hmap with NULL values). */
struct index {
	struct llmo_hmap by_value;
};

enum { IDX_NAMESPACE, IDX_LABEL, IDX_OWNER, IDX_COUNT };

static const char *const index_names[IDX_COUNT] = {
	[IDX_NAMESPACE] = LLMO_INFORMER_INDEX_NAMESPACE,
	[IDX_LABEL] = LLMO_INFORMER_INDEX_LABEL,
	[IDX_OWNER] = LLMO_INFORMER_INDEX_OWNER,
};

struct llmo_informer {
	struct llmo_kube_client *client;
	struct llmo_kube_resource res; /* strings below */
	char *group, *version, *plural;
	char *ns;	      /* NULL: all */
	char *label_selector; /* NULL: none */
	char *field_selector; /* NULL: none */
	int page_limit;
	llmo_informer_transform_fn transform; /* NULL: objects are cached whole */
	void *transform_ctx;
	struct llmo_informer_handlers h;
	void *ctx;
	struct llmo__mailbox mb;

	/* loop thread only */
	struct llmo_hmap cache; /* key -> json_t * (a reference) */
	struct index idx[IDX_COUNT];
	bool synced;
	char *applied_rv;

	/* thread control (loop thread) */
	pthread_t thread;
	bool running;
	volatile int stop;
	char *thread_rv; /* handed to the thread at start; the thread owns it while running */
};

/* ---- messages ---- */

static void msg_free(struct llmo__mail *m)
{
	struct msg *x = (struct msg *)m;

	json_decref(x->obj);
	free(x->rv);
	free(x);
}

static const char *obj_rv(const json_t *obj)
{
	return json_string_value(
		json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
}

/* The cache key of obj: "ns/name", or "name" without a namespace. false when nameless. */
static bool obj_key(const json_t *obj, struct llmo_buf *key)
{
	const json_t *meta = json_object_get(obj, "metadata");
	const char *ns = json_string_value(json_object_get(meta, "namespace"));
	const char *name = json_string_value(json_object_get(meta, "name"));

	llmo_buf_reset(key);
	if (!name)
		return false;
	if (ns && *ns)
		return llmo_buf_appendf(key, "%s/%s", ns, name) == 0;
	return llmo_buf_puts(key, name) == 0;
}

/* ---- indexes ---- */

typedef void (*index_visit)(struct index *ix, const char *value, const char *key);

static void index_add_one(struct index *ix, const char *value, const char *key)
{
	struct llmo_hmap *set = llmo_hmap_get(&ix->by_value, value);

	if (!set) {
		set = calloc(1, sizeof(*set));
		if (!set)
			goto oom;
		llmo_hmap_init(set);
		if (llmo_hmap_put(&ix->by_value, value, set, NULL)) {
			free(set);
			goto oom;
		}
	}
	if (llmo_hmap_put(set, key, NULL, NULL) == 0)
		return;
oom:
	LLMO_ERROR(LOG, "out of memory updating an index; lookups may miss objects", NULL);
}

static void index_del_one(struct index *ix, const char *value, const char *key)
{
	struct llmo_hmap *set = llmo_hmap_get(&ix->by_value, value);

	if (!set)
		return;
	llmo_hmap_del(set, key, NULL);
	if (llmo_hmap_count(set) == 0) {
		llmo_hmap_del(&ix->by_value, value, NULL);
		llmo_hmap_release(set, NULL);
		free(set);
	}
}

/* Calls visit for every (index, value) of obj. */
static void index_each(struct llmo_informer *inf, const json_t *obj, const char *key,
		       index_visit visit)
{
	const json_t *meta = json_object_get(obj, "metadata"), *v, *ref;
	const char *ns = json_string_value(json_object_get(meta, "namespace")), *k;
	struct llmo_buf lv;
	size_t i;

	visit(&inf->idx[IDX_NAMESPACE], ns ? ns : "", key);
	llmo_buf_init(&lv, LLMO_BUF_UNLIMITED);
	json_object_foreach ((json_t *)json_object_get(meta, "labels"), k, v) {
		if (!json_is_string(v))
			continue;
		llmo_buf_reset(&lv);
		if (llmo_buf_appendf(&lv, "%s=%s", k, json_string_value(v)) == 0)
			visit(&inf->idx[IDX_LABEL], lv.data, key);
	}
	llmo_buf_release(&lv);
	json_array_foreach (json_object_get(meta, "ownerReferences"), i, ref) {
		const char *uid = json_string_value(json_object_get(ref, "uid"));

		if (uid)
			visit(&inf->idx[IDX_OWNER], uid, key);
	}
}

static void decref_val(void *v)
{
	json_decref(v);
}

static void free_set(void *v)
{
	llmo_hmap_release(v, NULL);
	free(v);
}

/* ---- cache (loop thread) ---- */

/* Puts obj (taking a reference) under key and returns the previous object (caller's ref). */
static json_t *cache_put(struct llmo_informer *inf, const char *key, json_t *obj)
{
	void *old = NULL;

	if (llmo_hmap_put(&inf->cache, key, json_incref(obj), &old)) {
		json_decref(obj);
		LLMO_ERROR(LOG, "out of memory caching an object", "key=%s", key);
		return NULL;
	}
	if (old)
		index_each(inf, old, key, index_del_one);
	index_each(inf, obj, key, index_add_one);
	return old;
}

/* Removes key; returns the cached object (caller's ref) or NULL. */
static json_t *cache_del(struct llmo_informer *inf, const char *key)
{
	void *old = NULL;

	if (llmo_hmap_del(&inf->cache, key, &old))
		return NULL;
	index_each(inf, old, key, index_del_one);
	return old;
}

static void apply_upsert(struct llmo_informer *inf, const char *key, json_t *obj)
{
	json_t *old = cache_put(inf, key, obj);

	if (old) {
		if (inf->h.update)
			inf->h.update(inf->ctx, old, obj);
	} else if (inf->h.add) {
		inf->h.add(inf->ctx, obj);
	}
	json_decref(old);
}

static void apply_delete(struct llmo_informer *inf, const char *key, json_t *final)
{
	json_t *old = cache_del(inf, key);

	if (old && inf->h.delete)
		inf->h.delete(inf->ctx, final ? final : old);
	json_decref(old);
}

/* Brings the cache to items (a full list), delivering the differences. */
static void apply_replace(struct llmo_informer *inf, json_t *items)
{
	struct llmo_hmap fresh = LLMO_HMAP_INIT;
	struct llmo_strv gone = LLMO_STRV_INIT;
	struct llmo_buf key;
	const char *k;
	json_t *obj;
	size_t i, it = 0;

	llmo_buf_init(&key, LLMO_BUF_UNLIMITED);
	json_array_foreach (items, i, obj) {
		json_t *old;

		if (!obj_key(obj, &key))
			continue;
		if (llmo_hmap_put(&fresh, key.data, NULL, NULL))
			goto oom;
		old = llmo_hmap_get(&inf->cache, key.data);
		if (!old) {
			apply_upsert(inf, key.data, obj);
		} else {
			const char *a = obj_rv(old), *b = obj_rv(obj);

			if (!a || !b || strcmp(a, b) != 0)
				apply_upsert(inf, key.data, obj);
		}
	}
	while (llmo_hmap_next(&inf->cache, &it, &k, NULL)) {
		if (llmo_hmap_has(&fresh, k))
			continue;
		if (llmo_strv_push(&gone, k))
			goto oom;
	}
	for (i = 0; i < gone.len; i++)
		apply_delete(inf, gone.items[i], NULL);
	goto out;
oom:
	LLMO_ERROR(LOG, "out of memory applying a list; the cache may be stale", NULL);
out:
	llmo_strv_release(&gone);
	llmo_hmap_release(&fresh, NULL);
	llmo_buf_release(&key);
}

static void set_applied_rv(struct llmo_informer *inf, const char *rv)
{
	char *copy;

	if (!rv || !*rv)
		return;
	copy = llmo_strdup(rv);
	if (!copy)
		return;
	free(inf->applied_rv);
	inf->applied_rv = copy;
}

static void deliver(void *ctx, struct llmo__mail *m)
{
	struct llmo_informer *inf = ctx;
	struct msg *x = (struct msg *)m;
	struct llmo_buf key;

	llmo_buf_init(&key, LLMO_BUF_UNLIMITED);
	switch (x->kind) {
	case MSG_REPLACE:
		apply_replace(inf, x->obj);
		inf->synced = true;
		break;
	case MSG_ADDED:
	case MSG_MODIFIED:
		if (obj_key(x->obj, &key))
			apply_upsert(inf, key.data, x->obj);
		break;
	case MSG_DELETED:
		if (obj_key(x->obj, &key))
			apply_delete(inf, key.data, x->obj);
		break;
	case MSG_BOOKMARK:
		break;
	}
	set_applied_rv(inf, x->rv);
	llmo_buf_release(&key);
	msg_free(m);
}

/* ---- background thread ---- */

static int post(struct llmo_informer *inf, enum msg_kind kind, json_t *obj, const char *rv)
{
	struct msg *x = calloc(1, sizeof(*x));

	if (!x) {
		json_decref(obj);
		return LLMO_ENOMEM;
	}
	x->kind = kind;
	x->obj = obj;
	if (rv && !(x->rv = llmo_strdup(rv))) {
		msg_free(&x->link);
		return LLMO_ENOMEM;
	}
	return llmo__mailbox_post(&inf->mb, &x->link, &inf->stop);
}

/*
 * The loop's own copy of obj (background thread): the transform's result,
 * or a deep copy. NULL when out of memory.
 */
static json_t *own_copy(struct llmo_informer *inf, const json_t *obj)
{
	if (inf->transform)
		return inf->transform(inf->transform_ctx, obj);
	return json_deep_copy(obj);
}

/* Appends the page's items to items: transformed, or the items themselves. */
static int append_page(struct llmo_informer *inf, json_t *items, json_t *page_items)
{
	json_t *obj;
	size_t i;

	if (!inf->transform)
		return json_array_extend(items, page_items) ? LLMO_ENOMEM : 0;
	json_array_foreach (page_items, i, obj)
		if (json_array_append_new(items, own_copy(inf, obj)))
			return LLMO_ENOMEM;
	return 0;
}

/*
 * A full paged list: *items (new array) and the list's resourceVersion.
 * A paged answer without a usable resourceVersion ("0" is never one: it
 * means "any version" to a watch) is listed again in one piece; llmo server
 * answered paged lists so at one time.
 */
static int list_all(struct llmo_informer *inf, const volatile int *stop, json_t **items, char **rv,
		    struct llmo_error *err)
{
	struct llmo__kube_req_opts opts = {.stop = stop};
	char *cont = NULL;
	struct llmo_buf url;
	int restarts = 0, rc = 0;
	bool paged = true;
	char limit[16];

	*items = json_array();
	*rv = NULL;
	llmo_buf_init(&url, INFORMER_URL_MAX);
	snprintf(limit, sizeof(limit), "%d", inf->page_limit);
	if (!*items) {
		rc = llmo_error_set(err, LLMO_ENOMEM, "out of memory");
		goto out;
	}
	for (;;) {
		json_t *page = NULL, *meta;
		const char *next, *page_rv;

		llmo_buf_reset(&url);
		rc = llmo_kube_path(&inf->res, inf->ns, NULL, NULL, &url);
		if (!rc && inf->label_selector)
			rc = llmo_kube_query_add(&url, "labelSelector", inf->label_selector);
		if (!rc && inf->field_selector)
			rc = llmo_kube_query_add(&url, "fieldSelector", inf->field_selector);
		if (!rc && paged)
			rc = llmo_kube_query_add(&url, "limit", limit);
		if (!rc && cont)
			rc = llmo_kube_query_add(&url, "continue", cont);
		if (rc) {
			rc = llmo_error_set(err, rc, "list: %s building the URL",
					    llmo_strerror(rc));
			goto out;
		}
		rc = llmo__kube_request(inf->client, "GET", url.data, NULL, NULL, &page, NULL,
					&opts, err);
		if (rc == LLMO_EGONE && cont && ++restarts <= INFORMER_LIST_RESTARTS) {
			/* the continue token expired: start over */
			free(cont);
			free(*rv);
			cont = NULL;
			*rv = NULL;
			json_array_clear(*items);
			continue;
		}
		if (rc)
			goto out;
		meta = json_object_get(page, "metadata");
		page_rv = json_string_value(json_object_get(meta, "resourceVersion"));
		next = json_string_value(json_object_get(meta, "continue"));
		if (paged && !*rv && (!page_rv || !*page_rv || strcmp(page_rv, "0") == 0)) {
			bool more = next && *next;

			json_decref(page);
			if (!more) {
				rc = llmo_error_set(err, LLMO_EPARSE,
						    "list %s: the answer has no resourceVersion",
						    inf->res.plural);
				goto out;
			}
			LLMO_DEBUG(LOG,
				   "paged list without a resourceVersion; listing in one piece",
				   "resource=%s", inf->res.plural);
			paged = false;
			continue;
		}
		/* every page of a paged list is of the first page's snapshot */
		if (!*rv && page_rv && !(*rv = llmo_strdup(page_rv)))
			rc = llmo_error_set(err, LLMO_ENOMEM, "out of memory");
		if (!rc &&
		    json_array_size(*items) + json_array_size(json_object_get(page, "items")) >
			    LLMO_INFORMER_OBJECTS_MAX)
			rc = llmo_error_set(err, LLMO_ETOOBIG, "list %s: more than %d objects",
					    inf->res.plural, LLMO_INFORMER_OBJECTS_MAX);
		if (!rc && append_page(inf, *items, json_object_get(page, "items")))
			rc = llmo_error_set(err, LLMO_ENOMEM, "out of memory");
		free(cont);
		cont = NULL;
		if (!rc && paged && next && *next && !(cont = llmo_strdup(next)))
			rc = llmo_error_set(err, LLMO_ENOMEM, "out of memory");
		json_decref(page);
		if (rc || !cont)
			break;
	}
	if (!rc && !*rv)
		rc = llmo_error_set(err, LLMO_EPARSE, "list %s: the answer has no resourceVersion",
				    inf->res.plural);
out:
	free(cont);
	llmo_buf_release(&url);
	if (rc) {
		json_decref(*items);
		*items = NULL;
		free(*rv);
		*rv = NULL;
	}
	return rc;
}

struct watch_ctx {
	struct llmo_informer *inf;
	char **rv;
	int events;
};

static int on_watch_event(void *arg, const char *type, json_t *obj)
{
	struct watch_ctx *w = arg;
	const char *rv = obj_rv(obj);
	json_t *mine = NULL;
	enum msg_kind kind;
	int rc;

	if (strcmp(type, "ADDED") == 0)
		kind = MSG_ADDED;
	else if (strcmp(type, "MODIFIED") == 0)
		kind = MSG_MODIFIED;
	else if (strcmp(type, "DELETED") == 0)
		kind = MSG_DELETED;
	else if (strcmp(type, "BOOKMARK") == 0)
		kind = MSG_BOOKMARK;
	else
		return 0; /* unknown types are skipped, as client-go does */
	if (rv && *rv) {
		char *copy = llmo_strdup(rv);

		if (!copy)
			return LLMO_ENOMEM;
		free(*w->rv);
		*w->rv = copy;
	}
	w->events++;
	/*
	 * The loop gets its own copy: sharing obj would leave its last
	 * json_decref to whichever thread came second, and jansson's
	 * decrement does not order the other thread's reads before the free.
	 */
	if (kind != MSG_BOOKMARK && !(mine = own_copy(w->inf, obj)))
		return LLMO_ENOMEM;
	rc = post(w->inf, kind, mine, rv);
	return rc == LLMO_ECLOSED ? 0 : rc;
}

static void *run(void *arg)
{
	struct llmo_informer *inf = arg;
	char *rv = inf->thread_rv;
	long backoff = LLMO_INFORMER_BACKOFF_MS;

	inf->thread_rv = NULL;
	while (!llmo__kube_stopped(&inf->stop)) {
		struct llmo_error err = {0};
		struct watch_ctx w = {.inf = inf, .rv = &rv};
		char q[LLMO_LOG_QUOTE_MAX];
		int64_t started;
		int rc;

		if (!rv) {
			json_t *items = NULL;

			rc = list_all(inf, &inf->stop, &items, &rv, &err);
			if (llmo__kube_stopped(&inf->stop))
				break;
			if (rc) {
				LLMO_WARN(LOG, "list failed", "resource=%s error=%s",
					  inf->res.plural, llmo_log_quote(q, sizeof(q), err.msg));
				goto backoff;
			}
			LLMO_DEBUG(LOG, "listed", "resource=%s count=%zu rv=%s", inf->res.plural,
				   json_array_size(items), rv);
			if (post(inf, MSG_REPLACE, items, rv))
				break;
		}
		started = llmo_clock_mono_ms();
		rc = llmo_kube_watch(inf->client, &inf->res, inf->ns, inf->label_selector,
				     inf->field_selector, rv,
				     (int)llmo__kube_rand_range(LLMO_INFORMER_WATCH_MIN_S,
								LLMO_INFORMER_WATCH_MAX_S),
				     on_watch_event, &w, &inf->stop, &err);
		if (llmo__kube_stopped(&inf->stop))
			break;
		if (rc == LLMO_EGONE) {
			LLMO_INFO(LOG, "watch expired; listing again", "resource=%s rv=%s",
				  inf->res.plural, rv);
			free(rv);
			rv = NULL;
			continue;
		}
		if (!rc && (w.events || llmo_clock_mono_ms() - started >= INFORMER_WATCH_MIN_MS)) {
			/* a normal end (timeoutSeconds): resume at once */
			backoff = LLMO_INFORMER_BACKOFF_MS;
			continue;
		}
		if (rc)
			LLMO_WARN(LOG, "watch failed", "resource=%s error=%s", inf->res.plural,
				  llmo_log_quote(q, sizeof(q), err.msg));
		if (w.events)
			backoff = LLMO_INFORMER_BACKOFF_MS;
	backoff:
		if (llmo__kube_sleep(llmo__kube_rand_range(backoff / 2, backoff), &inf->stop))
			break;
		backoff = LLMO_MIN(backoff * 2, (long)LLMO_INFORMER_BACKOFF_MAX_MS);
	}
	free(rv);
	return NULL;
}

/* ---- life cycle ---- */

int llmo_informer_new(struct llmo_kube_client *client, const struct llmo_kube_resource *r,
		      const char *ns, const char *label_selector, struct event_base *base,
		      const struct llmo_informer_handlers *handlers, void *ctx,
		      struct llmo_informer **out, struct llmo_error *err)
{
	struct llmo_informer *inf = calloc(1, sizeof(*inf));
	int rc;

	*out = NULL;
	if (!inf)
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	inf->client = client;
	inf->page_limit = LLMO_INFORMER_PAGE_LIMIT;
	inf->group = llmo_strdup(r->group ? r->group : "");
	inf->version = llmo_strdup(r->version);
	inf->plural = llmo_strdup(r->plural);
	if (ns && *ns && r->namespaced)
		inf->ns = llmo_strdup(ns);
	if (label_selector && *label_selector)
		inf->label_selector = llmo_strdup(label_selector);
	if (!inf->group || !inf->version || !inf->plural ||
	    (ns && *ns && r->namespaced && !inf->ns) ||
	    (label_selector && *label_selector && !inf->label_selector)) {
		rc = llmo_error_set(err, LLMO_ENOMEM, "out of memory");
		goto fail;
	}
	inf->res =
		(struct llmo_kube_resource){inf->group, inf->version, inf->plural, r->namespaced};
	if (handlers)
		inf->h = *handlers;
	inf->ctx = ctx;
	llmo_hmap_init(&inf->cache);
	for (int i = 0; i < IDX_COUNT; i++)
		llmo_hmap_init(&inf->idx[i].by_value);
	rc = llmo__mailbox_init(&inf->mb, base, LLMO_INFORMER_QUEUE_MAX, deliver, msg_free, inf,
				err);
	if (rc)
		goto fail;
	*out = inf;
	return 0;
fail:
	free(inf->group);
	free(inf->version);
	free(inf->plural);
	free(inf->ns);
	free(inf->label_selector);
	free(inf);
	return rc;
}

int llmo_informer_set_field_selector(struct llmo_informer *inf, const char *field_selector,
				     struct llmo_error *err)
{
	char *fs = NULL;

	if (inf->running)
		return llmo_error_set(err, LLMO_EINVAL, "informer: set the field selector before start");
	if (field_selector && *field_selector) {
		fs = llmo_strdup(field_selector);
		if (!fs)
			return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	}
	free(inf->field_selector);
	inf->field_selector = fs;
	return 0;
}

int llmo_informer_set_transform(struct llmo_informer *inf, llmo_informer_transform_fn fn,
				void *ctx, struct llmo_error *err)
{
	if (inf->running)
		return llmo_error_set(err, LLMO_EINVAL, "informer: set the transform before start");
	inf->transform = fn;
	inf->transform_ctx = ctx;
	return 0;
}

int llmo_informer_start(struct llmo_informer *inf, struct llmo_error *err)
{
	int e;

	if (inf->running)
		return llmo_error_set(err, LLMO_EINVAL, "informer %s: already running",
				      inf->res.plural);
	llmo__kube_set_stop(&inf->stop, 0);
	free(inf->thread_rv);
	inf->thread_rv = NULL;
	if (inf->applied_rv && !(inf->thread_rv = llmo_strdup(inf->applied_rv)))
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	e = pthread_create(&inf->thread, NULL, run, inf);
	if (e) {
		free(inf->thread_rv);
		inf->thread_rv = NULL;
		return llmo_error_set(err, LLMO_EIO, "informer %s: cannot start a thread: %s",
				      inf->res.plural, strerror(e));
	}
	inf->running = true;
	return 0;
}

void llmo_informer_stop(struct llmo_informer *inf)
{
	if (!inf->running)
		return;
	llmo__kube_set_stop(&inf->stop, 1);
	llmo__mailbox_wake(&inf->mb);
	pthread_join(inf->thread, NULL);
	inf->running = false;
	/* the next start resumes from what the cache reflects, not from what was fetched */
	llmo__mailbox_discard(&inf->mb);
}

void llmo_informer_free(struct llmo_informer *inf)
{
	if (!inf)
		return;
	llmo_informer_stop(inf);
	llmo__mailbox_release(&inf->mb);
	llmo_hmap_release(&inf->cache, decref_val);
	for (int i = 0; i < IDX_COUNT; i++)
		llmo_hmap_release(&inf->idx[i].by_value, free_set);
	free(inf->applied_rv);
	free(inf->thread_rv);
	free(inf->group);
	free(inf->version);
	free(inf->plural);
	free(inf->ns);
	free(inf->label_selector);
	free(inf->field_selector);
	free(inf);
}

int llmo__informer_relist(struct llmo_informer *inf, struct llmo_error *err)
{
	json_t *items = NULL;
	char *rv = NULL;
	int rc;

	if (inf->running)
		return llmo_error_set(err, LLMO_EINVAL, "informer %s: relist while running",
				      inf->res.plural);
	rc = list_all(inf, NULL, &items, &rv, err);
	if (rc)
		return rc;
	apply_replace(inf, items);
	inf->synced = true;
	set_applied_rv(inf, rv);
	json_decref(items);
	free(rv);
	return 0;
}

void llmo__informer_set_page_limit(struct llmo_informer *inf, int limit)
{
	if (limit > 0)
		inf->page_limit = limit;
}

/* ---- reads (loop thread) ---- */

bool llmo_informer_synced(const struct llmo_informer *inf)
{
	return inf->synced;
}

size_t llmo_informer_count(const struct llmo_informer *inf)
{
	return llmo_hmap_count(&inf->cache);
}

const char *llmo_informer_resource_version(const struct llmo_informer *inf)
{
	return inf->applied_rv;
}

json_t *llmo_informer_get(const struct llmo_informer *inf, const char *ns, const char *name)
{
	struct llmo_buf key;
	json_t *obj;

	llmo_buf_init(&key, LLMO_BUF_UNLIMITED);
	if (ns && *ns ? llmo_buf_appendf(&key, "%s/%s", ns, name) : llmo_buf_puts(&key, name))
		obj = NULL;
	else
		obj = llmo_hmap_get(&inf->cache, key.data);
	llmo_buf_release(&key);
	return obj;
}

static int each_in_set(const struct llmo_informer *inf, const struct llmo_hmap *set,
		       llmo_informer_each_fn fn, void *ctx)
{
	size_t it = 0;
	const char *k;
	int rc;

	while (set && llmo_hmap_next(set, &it, &k, NULL)) {
		json_t *obj = llmo_hmap_get(&inf->cache, k);

		if (obj && (rc = fn(ctx, obj)))
			return rc;
	}
	return 0;
}

int llmo_informer_list(const struct llmo_informer *inf, const char *ns, llmo_informer_each_fn fn,
		       void *ctx)
{
	size_t it = 0;
	void *v;
	int rc;

	if (ns && *ns)
		return llmo_informer_by_index(inf, LLMO_INFORMER_INDEX_NAMESPACE, ns, fn, ctx);
	while (llmo_hmap_next(&inf->cache, &it, NULL, &v))
		if ((rc = fn(ctx, v)))
			return rc;
	return 0;
}

int llmo_informer_by_index(const struct llmo_informer *inf, const char *index, const char *value,
			   llmo_informer_each_fn fn, void *ctx)
{
	for (int i = 0; i < IDX_COUNT; i++)
		if (strcmp(index, index_names[i]) == 0)
			return each_in_set(inf, llmo_hmap_get(&inf->idx[i].by_value, value), fn,
					   ctx);
	return LLMO_EINVAL;
}
