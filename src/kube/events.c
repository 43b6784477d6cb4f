/*
 * The event recorder: callers queue, one thread per recorder writes Events
 * and aggregates repeats. See events.h.
 */
#include "base/common.h"

#include <pthread.h>
#include <time.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/hmap.h"
#include "base/log.h"
#include "base/str.h"
#include "kube/client_int.h"
#include "kube/events.h"

#define LOG "events"
/* The hex suffix of an Event's name: ".%016x". */
#define EVENT_SUFFIX_LEN 17
#define EVENT_NAME_MAX 253

struct item {
	struct item *next;
	json_t *ref; /* the involvedObject */
	char *type, *reason, *message;
	int64_t wall_ms;
};

/* The Event last written for one (object, type, reason, message). */
struct agg {
	char *name;
	char *ns;
	json_int_t count;
	int64_t last_ms; /* monotonic */
};

struct llmo_event_recorder {
	struct llmo_kube_client *client;
	char *component, *host;
	pthread_mutex_t lock;
	pthread_cond_t work; /* items queued, or stop */
	pthread_cond_t done; /* an item was written */
	struct item *head, *tail;
	size_t count;
	uint64_t queued, written; /* items ever queued / finished */
	volatile int stop;
	bool started;
	pthread_t thread;
	struct llmo_hmap cache; /* thread only: key -> struct agg */
};

static void item_free(struct item *it)
{
	json_decref(it->ref);
	free(it->type);
	free(it->reason);
	free(it->message);
	free(it);
}

static void agg_free(void *v)
{
	struct agg *a = v;

	free(a->name);
	free(a->ns);
	free(a);
}

/* Cuts s (cut short at n bytes) back to the end of its last whole UTF-8 character. */
static void utf8_trim(char *s)
{
	size_t n = strlen(s), i = n, need;
	unsigned char lead;

	while (i > 0 && ((unsigned char)s[i - 1] & 0xC0) == 0x80)
		i--;
	if (i == 0)
		return;
	lead = (unsigned char)s[i - 1];
	need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
	if (n - (i - 1) < need)
		s[i - 1] = '\0';
}

/* ---- writing (the thread) ---- */

static int request(struct llmo_event_recorder *rec, const char *method, const char *path,
		   const char *ctype, const json_t *body, struct llmo_error *err)
{
	struct llmo__kube_req_opts opts = {
		.stop = &rec->stop, .timeout_ms = LLMO_EVENTS_REQUEST_TIMEOUT_MS, .attempts = 2};

	return llmo__kube_request(rec->client, method, path, ctype, body, NULL, NULL, &opts, err);
}

static void cache_trim(struct llmo_event_recorder *rec)
{
	struct llmo_strv old = LLMO_STRV_INIT;
	int64_t now = llmo_clock_mono_ms();
	size_t it = 0;
	const char *k;
	void *v;

	if (llmo_hmap_count(&rec->cache) < LLMO_EVENTS_CACHE_MAX)
		return;
	while (llmo_hmap_next(&rec->cache, &it, &k, &v))
		if (now - ((struct agg *)v)->last_ms > LLMO_EVENTS_AGGREGATE_MS &&
		    llmo_strv_push(&old, k))
			break;
	for (size_t i = 0; i < old.len; i++) {
		llmo_hmap_del(&rec->cache, old.items[i], &v);
		agg_free(v);
	}
	llmo_strv_release(&old);
	/* still full of recent events: forget them all (a repeat then makes a new Event) */
	if (llmo_hmap_count(&rec->cache) >= LLMO_EVENTS_CACHE_MAX)
		llmo_hmap_release(&rec->cache, agg_free);
}

static int create_event(struct llmo_event_recorder *rec, struct item *it, const char *key,
			struct llmo_error *err)
{
	const char *ns = json_string_value(json_object_get(it->ref, "namespace"));
	const char *obj_name = json_string_value(json_object_get(it->ref, "name"));
	char ts[LLMO_RFC3339_MAX], name[EVENT_NAME_MAX + 1];
	struct llmo_buf path;
	struct agg *a = NULL;
	json_t *ev = NULL;
	void *old;
	int rc;

	llmo_buf_init(&path, 4096);
	if (!ns || !*ns)
		ns = "default";
	/* client-go names Events "<object>.<unix nanoseconds in hex>" */
	snprintf(name, sizeof(name), "%.*s.%016" PRIx64, EVENT_NAME_MAX - EVENT_SUFFIX_LEN,
		 obj_name,
		 (uint64_t)llmo_clock_wall_ms() * 1000000 +
			 (uint64_t)(llmo_clock_mono_ns() % 1000000));
	llmo_time_format_rfc3339(it->wall_ms, false, ts, sizeof(ts));
	ev = json_pack("{s:s, s:s, s:{s:s, s:s}, s:O, s:s, s:s, s:s, s:{s:s}, s:s, s:s, s:i, "
		       "s:s}",
		       "apiVersion", "v1", "kind", "Event", "metadata", "name", name, "namespace",
		       ns, "involvedObject", it->ref, "reason", it->reason, "message", it->message,
		       "type", it->type, "source", "component", rec->component, "firstTimestamp",
		       ts, "lastTimestamp", ts, "count", 1, "reportingComponent", rec->component);
	if (!ev) {
		rc = llmo_error_set(err, LLMO_ENOMEM, "out of memory");
		goto out;
	}
	if (rec->host) {
		json_object_set_new(json_object_get(ev, "source"), "host", json_string(rec->host));
		json_object_set_new(ev, "reportingInstance", json_string(rec->host));
	}
	if ((rc = llmo_kube_path(&llmo_kube_events, ns, NULL, NULL, &path))) {
		rc = llmo_error_set(err, rc, "event path: %s", llmo_strerror(rc));
		goto out;
	}
	if ((rc = request(rec, "POST", path.data, NULL, ev, err)))
		goto out;
	cache_trim(rec);
	a = calloc(1, sizeof(*a));
	if (!a || !(a->name = llmo_strdup(name)) || !(a->ns = llmo_strdup(ns)))
		goto out; /* written; only aggregation is lost */
	a->count = 1;
	a->last_ms = llmo_clock_mono_ms();
	if (llmo_hmap_put(&rec->cache, key, a, &old) == 0) {
		if (old)
			agg_free(old);
		a = NULL;
	}
out:
	if (a)
		agg_free(a);
	json_decref(ev);
	llmo_buf_release(&path);
	return rc;
}

static const char *ref_str(const json_t *ref, const char *key)
{
	const char *s = json_string_value(json_object_get(ref, key));

	return s ? s : "";
}

static void write_item(struct llmo_event_recorder *rec, struct item *it)
{
	struct llmo_error err = {0};
	char q[LLMO_LOG_QUOTE_MAX], q2[LLMO_LOG_QUOTE_MAX];
	struct llmo_buf key;
	struct agg *a;
	int rc;

	llmo_buf_init(&key, LLMO_BUF_UNLIMITED);
	if (llmo_buf_appendf(&key, "%s\x1f%s\x1f%s\x1f%s\x1f%s\x1f%s\x1f%s",
			     ref_str(it->ref, "kind"), ref_str(it->ref, "namespace"),
			     ref_str(it->ref, "name"), ref_str(it->ref, "uid"), it->type,
			     it->reason, it->message))
		goto out;
	a = llmo_hmap_get(&rec->cache, key.data);
	if (a && llmo_clock_mono_ms() - a->last_ms <= LLMO_EVENTS_AGGREGATE_MS) {
		char ts[LLMO_RFC3339_MAX];
		struct llmo_buf path;
		json_t *patch;

		llmo_time_format_rfc3339(it->wall_ms, false, ts, sizeof(ts));
		patch = json_pack("{s:I, s:s}", "count", (json_int_t)(a->count + 1),
				  "lastTimestamp", ts);
		llmo_buf_init(&path, 4096);
		rc = patch ? llmo_kube_path(&llmo_kube_events, a->ns, a->name, NULL, &path)
			   : LLMO_ENOMEM;
		if (!rc)
			rc = request(rec, "PATCH", path.data, "application/merge-patch+json", patch,
				     &err);
		llmo_buf_release(&path);
		json_decref(patch);
		if (rc == 0) {
			a->count++;
			a->last_ms = llmo_clock_mono_ms();
			goto out;
		}
		if (rc != LLMO_ENOTFOUND)
			goto fail;
		/* the Event went away (TTL): start a new one */
	}
	rc = create_event(rec, it, key.data, &err);
	if (!rc)
		goto out;
fail:
	if (rc != LLMO_ECLOSED)
		LLMO_WARN(LOG, "could not write an event", "reason=%s error=%s",
			  llmo_log_quote(q, sizeof(q), it->reason),
			  llmo_log_quote(q2, sizeof(q2), err.msg));
out:
	llmo_buf_release(&key);
}

static void *run(void *arg)
{
	struct llmo_event_recorder *rec = arg;

	pthread_mutex_lock(&rec->lock);
	for (;;) {
		struct item *it;

		while (!rec->head && !rec->stop)
			pthread_cond_wait(&rec->work, &rec->lock);
		if (rec->stop)
			break;
		it = rec->head;
		rec->head = it->next;
		if (!rec->head)
			rec->tail = NULL;
		rec->count--;
		pthread_mutex_unlock(&rec->lock);
		write_item(rec, it);
		item_free(it);
		pthread_mutex_lock(&rec->lock);
		rec->written++;
		pthread_cond_broadcast(&rec->done);
	}
	pthread_mutex_unlock(&rec->lock);
	return NULL;
}

/* ---- the caller's side ---- */

int llmo_event_recorder_new(struct llmo_kube_client *client, const char *component,
			    const char *host, struct llmo_event_recorder **out,
			    struct llmo_error *err)
{
	struct llmo_event_recorder *rec = calloc(1, sizeof(*rec));
	pthread_condattr_t ca;
	int e;

	*out = NULL;
	if (!rec)
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	rec->client = client;
	rec->component = llmo_strdup(component && *component ? component : "llmo");
	rec->host = host && *host ? llmo_strdup(host) : NULL;
	if (!rec->component || (host && *host && !rec->host)) {
		free(rec->component);
		free(rec->host);
		free(rec);
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	}
	llmo_hmap_init(&rec->cache);
	pthread_mutex_init(&rec->lock, NULL);
	pthread_cond_init(&rec->work, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&rec->done, &ca);
	pthread_condattr_destroy(&ca);
	e = pthread_create(&rec->thread, NULL, run, rec);
	if (e) {
		llmo_event_recorder_free(rec);
		return llmo_error_set(err, LLMO_EIO, "event recorder: cannot start a thread: %s",
				      strerror(e));
	}
	rec->started = true;
	*out = rec;
	return 0;
}

int llmo_event_recorder_flush(struct llmo_event_recorder *rec, long timeout_ms)
{
	struct timespec ts;
	uint64_t target;
	int rc = 0;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&rec->lock);
	target = rec->queued;
	while (rec->written < target && rec->started) {
		if (pthread_cond_timedwait(&rec->done, &rec->lock, &ts) == ETIMEDOUT) {
			rc = rec->written < target ? LLMO_ETIMEOUT : 0;
			break;
		}
	}
	pthread_mutex_unlock(&rec->lock);
	return rc;
}

void llmo_event_recorder_free(struct llmo_event_recorder *rec)
{
	if (!rec)
		return;
	if (rec->started) {
		llmo_event_recorder_flush(rec, LLMO_EVENTS_FLUSH_ON_FREE_MS);
		pthread_mutex_lock(&rec->lock);
		llmo__kube_set_stop(&rec->stop, 1);
		pthread_cond_broadcast(&rec->work);
		pthread_mutex_unlock(&rec->lock);
		pthread_join(rec->thread, NULL);
	}
	while (rec->head) {
		struct item *next = rec->head->next;

		item_free(rec->head);
		rec->head = next;
	}
	llmo_hmap_release(&rec->cache, agg_free);
	pthread_cond_destroy(&rec->work);
	pthread_cond_destroy(&rec->done);
	pthread_mutex_destroy(&rec->lock);
	free(rec->component);
	free(rec->host);
	free(rec);
}

/* The involvedObject reference of obj, or NULL when it has no kind or name. */
static json_t *object_ref(const json_t *obj)
{
	static const char *const meta_keys[] = {"namespace", "name", "uid", "resourceVersion"};
	const json_t *meta = json_object_get(obj, "metadata");
	const char *kind = json_string_value(json_object_get(obj, "kind"));
	const char *api = json_string_value(json_object_get(obj, "apiVersion"));
	json_t *ref;

	if (!kind || !*kind || !json_string_value(json_object_get(meta, "name")))
		return NULL;
	ref = json_pack("{s:s}", "kind", kind);
	if (!ref)
		return NULL;
	if (api)
		json_object_set_new(ref, "apiVersion", json_string(api));
	for (size_t i = 0; i < LLMO_ARRAY_LEN(meta_keys); i++) {
		const char *v = json_string_value(json_object_get(meta, meta_keys[i]));

		if (v && *v)
			json_object_set_new(ref, meta_keys[i], json_string(v));
	}
	return ref;
}

int llmo_kube_eventv(struct llmo_event_recorder *rec, const json_t *involved_object,
		     const char *type, const char *reason, const char *fmt, va_list ap)
{
	char msg[LLMO_EVENTS_MESSAGE_MAX + 1];
	struct item *it;
	json_t *check;
	int rc = 0;

	if (!type || (strcmp(type, "Normal") != 0 && strcmp(type, "Warning") != 0) || !reason ||
	    !*reason)
		return LLMO_EINVAL;
	if (vsnprintf(msg, sizeof(msg), fmt, ap) >= (int)sizeof(msg))
		utf8_trim(msg);
	/* the API takes UTF-8 only */
	check = json_string(msg);
	if (!check)
		return LLMO_EINVAL;
	json_decref(check);
	it = calloc(1, sizeof(*it));
	if (!it)
		return LLMO_ENOMEM;
	it->wall_ms = llmo_clock_wall_ms();
	it->ref = object_ref(involved_object);
	if (!it->ref) {
		item_free(it);
		return json_string_value(json_object_get(involved_object, "kind")) ? LLMO_ENOMEM
										   : LLMO_EINVAL;
	}
	it->type = llmo_strdup(type);
	it->reason = llmo_strdup(reason);
	it->message = llmo_strdup(msg);
	if (!it->type || !it->reason || !it->message) {
		item_free(it);
		return LLMO_ENOMEM;
	}
	pthread_mutex_lock(&rec->lock);
	if (rec->count >= LLMO_EVENTS_QUEUE_MAX) {
		rc = LLMO_EAGAIN;
	} else {
		if (rec->tail)
			rec->tail->next = it;
		else
			rec->head = it;
		rec->tail = it;
		rec->count++;
		rec->queued++;
		pthread_cond_signal(&rec->work);
		it = NULL;
	}
	pthread_mutex_unlock(&rec->lock);
	if (it) {
		LLMO_DEBUG(LOG, "queue full; event dropped", "reason=%s", reason);
		item_free(it);
	}
	return rc;
}

int llmo_kube_event(struct llmo_event_recorder *rec, const json_t *involved_object,
		    const char *type, const char *reason, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = llmo_kube_eventv(rec, involved_object, type, reason, fmt, ap);
	va_end(ap);
	return rc;
}
