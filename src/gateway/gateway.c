/*
 * struct llmo_gateway's life cycle (gateway.h): options, the listening
 * socket, where the routing table comes from (the static file, watched; or
 * informers on LLMWorkloads and pods: built whole at the start, then the
 * models that changed built again after each batch of changes),
 * the metrics, and the answers the gateway makes itself (/healthz,
 * /readyz, /metrics, /v1/models). Connections and proxying are proxy.c's.
 */
#include "base/common.h"

#include <arpa/inet.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <netinet/in.h>
#include <sys/stat.h>

#include <event2/event.h>
#include <event2/listener.h>
#include <jansson.h>
#include <openssl/ssl.h>

#include "base/base64.h"
#include "base/clock.h"
#include "base/duration.h"
#include "base/file.h"
#include "base/json.h"
#include "base/log.h"
#include "base/str.h"
#include "gateway/body.h"
#include "gateway/gateway_int.h"
#include "gateway/oaerror.h"
#include "gateway/source.h"
#include "kube/client.h"
#include "kube/informer.h"
#include "kube/object.h"
#include "metrics/metrics.h"

#include "base/banned.h"

#define LOG "gateway"
/* Listen backlog. */
#define BACKLOG 4096
/* Pause of accepting after an accept error (out of file descriptors). */
#define ACCEPT_RETRY_MS 100
/* Bounds of the options. */
#define TIMEOUT_MAX_MS (INT64_C(24) * 3600 * 1000)
#define BODY_MAX_MAX ((size_t)64 << 20)
#define CONNS_MAX_MAX 1000000
#define BREAKER_FAILURES_MAX 1000
/*
 * A table of this many models or more, freed at a swap, is handed back to
 * the system (malloc_trim): glibc keeps the pages of a freed table that is
 * not at the top of the heap, and a table is built before the old one goes,
 * so the process would keep room for two (about 500 bytes per workload).
 */
#define TRIM_MODELS 1000

static const double duration_buckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
					  0.25,	 0.5,	 1,	2.5,  5,     10,   30,
					  60,	 120,	 300};

void llmo_gateway_opts_init(struct llmo_gateway_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->host = "127.0.0.1";
	o->port = LLMO_GATEWAY_PORT;
	o->connect_timeout_ms = LLMO_GATEWAY_CONNECT_TIMEOUT_MS;
	o->first_byte_timeout_ms = LLMO_GATEWAY_FIRST_BYTE_TIMEOUT_MS;
	o->idle_timeout_ms = LLMO_GATEWAY_IDLE_TIMEOUT_MS;
	o->retries = LLMO_GATEWAY_RETRIES;
	o->body_max = LLMO_GATEWAY_BODY_MAX;
	o->response_max = LLMO_GATEWAY_RESPONSE_MAX;
	o->backend_conns_max = LLMO_GATEWAY_BACKEND_CONNS_MAX;
	o->clients_max = LLMO_GATEWAY_CLIENTS_MAX;
	o->breaker_failures = LLMO_GW_BREAKER_FAILURES;
	o->breaker_cooldown_ms = LLMO_GW_BREAKER_COOLDOWN_MS;
	o->watch_ms = LLMO_GATEWAY_WATCH_MS;
	o->hold_max = LLMO_GATEWAY_HOLD_MAX;
	o->hold_timeout_ms = LLMO_GATEWAY_HOLD_TIMEOUT_MS;
	o->balance = LLMO_GATEWAY_BALANCE_PREFIX;
	o->prefix_block = LLMO_GW_PREFIX_BLOCK_BYTES;
	o->prefix_busy = LLMO_GW_PREFIX_BUSY_DEFAULT;
	o->prefix_entries = LLMO_GW_PREFIX_ENTRIES;
}

static int check_opts(const struct llmo_gateway_opts *o, struct llmo_error *err)
{
	const struct {
		const char *name;
		int64_t v, lo, hi;
	} ranges[] = {
		{"port", o->port, 0, 65535},
		{"connect timeout (ms)", o->connect_timeout_ms, 1, TIMEOUT_MAX_MS},
		{"first-byte timeout (ms)", o->first_byte_timeout_ms, 1, TIMEOUT_MAX_MS},
		{"idle timeout (ms)", o->idle_timeout_ms, 1, TIMEOUT_MAX_MS},
		{"retries", o->retries, 0, LLMO_GATEWAY_RETRIES_MAX},
		{"body limit (bytes)", (int64_t)o->body_max, 1, (int64_t)BODY_MAX_MAX},
		{"response limit (bytes)", (int64_t)LLMO_MIN(o->response_max, (size_t)INT64_MAX), 1,
		 INT64_MAX},
		{"connections per backend", o->backend_conns_max, 1, CONNS_MAX_MAX},
		{"client connections", o->clients_max, 1, CONNS_MAX_MAX},
		{"breaker failures", o->breaker_failures, 0, BREAKER_FAILURES_MAX},
		{"breaker cool-down (ms)", o->breaker_cooldown_ms, 0, TIMEOUT_MAX_MS},
		{"file check period (ms)", o->watch_ms, 0, TIMEOUT_MAX_MS},
		{"held requests per model", o->hold_max, 0, CONNS_MAX_MAX},
		{"hold timeout (ms)", o->hold_timeout_ms, 1, TIMEOUT_MAX_MS},
		{"prefix block (bytes)", (int64_t)LLMO_MIN(o->prefix_block, (size_t)INT64_MAX),
		 LLMO_GW_PREFIX_BLOCK_MIN, LLMO_GW_PREFIX_BLOCK_MAX},
		{"prefix busy threshold", o->prefix_busy, 0, CONNS_MAX_MAX},
		{"prefix entries", (int64_t)LLMO_MIN(o->prefix_entries, (size_t)INT64_MAX), 1,
		 LLMO_GW_LRU_MAX},
		{"scrape interval (ms)", o->scrape_interval_ms, 0, TIMEOUT_MAX_MS},
		{"balance", o->balance, LLMO_GATEWAY_BALANCE_PREFIX, LLMO_GATEWAY_BALANCE_P2C},
	};

	for (size_t i = 0; i < LLMO_ARRAY_LEN(ranges); i++)
		if (ranges[i].v < ranges[i].lo || ranges[i].v > ranges[i].hi)
			return llmo_error_set(err, LLMO_ERANGE,
					      "%s: %" PRId64 " is outside %" PRId64 "..%" PRId64,
					      ranges[i].name, ranges[i].v, ranges[i].lo,
					      ranges[i].hi);
	if (!o->host || !*o->host)
		return llmo_error_set(err, LLMO_EINVAL, "no address to listen on");
	if (o->keys_secret && (!o->client || o->keys_file))
		return llmo_error_set(err, LLMO_EINVAL,
				      "a keys Secret needs API mode and no keys file");
	if (o->keys_secret && (!strchr(o->keys_secret, '/') || o->keys_secret[0] == '/' ||
			       strchr(o->keys_secret, '/')[1] == '\0'))
		return llmo_error_set(err, LLMO_EINVAL,
				      "keys Secret \"%s\": expected NAMESPACE/NAME", o->keys_secret);
	if (!o->tls_cert != !o->tls_key)
		return llmo_error_set(err, LLMO_EINVAL,
				      "a TLS certificate needs its key, and a key its certificate");
	if (!o->backends_file == !o->client)
		return llmo_error_set(err, LLMO_EINVAL,
				      "give either a backends file or an API client, not %s",
				      o->backends_file ? "both" : "neither");
	return 0;
}

/* ---- the routing table ---- */

/*
 * llmo_gateway_endpoints{model, state}, made at each scrape from the table:
 * stored series would cost a few hundred bytes per model (10,000
 * workloads) and would have to be rebuilt at each swap.
 */
static int endpoints_collect(void *ctx, struct llmo_metric_emitter *e)
{
	const struct llmo_gateway *gw = ctx;
	int rc = 0;

	for (size_t i = 0; gw->table && i < gw->table->models.len && !rc; i++) {
		const struct llmo_gw_model *m = gw->table->models.items[i];
		size_t ready = llmo_gw_model_ready(m);

		rc = llmo_metric_emit(e, (const char *[]){m->id, "ready"}, (double)ready);
		if (!rc)
			rc = llmo_metric_emit(e, (const char *[]){m->id, "draining"},
					      (double)(m->eps.len - ready));
	}
	return rc;
}

/*
 * m's pods' in-flight gauges (one series per pod endpoint, draining ones
 * included), and its lingering endpoints noted.
 */
static void model_note(struct llmo_gateway *gw, const struct llmo_gw_model *m)
{
	bool linger = false;

	for (size_t j = 0; j < m->eps.len; j++) {
		const struct llmo_gw_endpoint *e = &m->eps.items[j];

		if (e->linger)
			linger = e->backend->linger = true;
		if (!e->pod)
			continue;
		e->backend->pod_gauge = llmo_metric_series(
			gw->m_pod_inflight, (const char *[]){m->ns, m->workload, e->pod, e->track});
		llmo_series_set(e->backend->pod_gauge, e->backend->inflight);
	}
	/* out of memory: the endpoint leaves at the model's next change instead */
	if (linger && llmo_hmap_put(&gw->lingering, m->id, gw, NULL))
		LLMO_WARN(LOG, "out of memory: a drained pod stays listed", "model=%s", m->id);
}

/* Undoes model_note: m leaves the table. */
static void model_forget(struct llmo_gateway *gw, const struct llmo_gw_model *m)
{
	for (size_t j = 0; j < m->eps.len; j++) {
		const struct llmo_gw_endpoint *e = &m->eps.items[j];

		if (!e->pod)
			continue;
		e->backend->pod_gauge = NULL;
		llmo_metric_remove(gw->m_pod_inflight,
				   (const char *[]){m->ns, m->workload, e->pod, e->track});
	}
	llmo_hmap_del(&gw->lingering, m->id, NULL);
}

/* The pods' gauges and the lingering models, all of them again for a new table t. */
static void pod_gauges(struct llmo_gateway *gw, struct llmo_gw_table *old, struct llmo_gw_table *t)
{
	for (size_t i = 0; old && i < old->models.len; i++)
		for (size_t j = 0; j < old->models.items[i]->eps.len; j++)
			old->models.items[i]->eps.items[j].backend->pod_gauge = NULL;
	llmo_metric_clear(gw->m_pod_inflight);
	llmo_hmap_release(&gw->lingering, NULL);
	for (size_t i = 0; i < t->models.len; i++)
		model_note(gw, t->models.items[i]);
}

/*
 * Logs the table's size: at info when it differs from the last one logged,
 * at debug otherwise (pod status updates that route nothing new would fill
 * the log every few seconds).
 */
static void table_log(struct llmo_gateway *gw, const struct llmo_gw_table *t, size_t changed)
{
	size_t now[3] = {t->models.len, t->neps, llmo_hmap_count(&t->names)};
	enum llmo_log_level lvl = memcmp(now, gw->logged_size, sizeof(now)) ? LLMO_LOG_INFO
									     : LLMO_LOG_DEBUG;

	memcpy(gw->logged_size, now, sizeof(now));
	llmo_log(lvl, LOG, "routing table", "models=%zu endpoints=%zu names=%zu changed=%zu",
		 now[0], now[1], now[2], changed);
}

void llmo__gw_table_swap(struct llmo_gateway *gw, struct llmo_gw_table *t)
{
	struct llmo_gw_table *old = gw->table;
	bool big = old && old->refs == 1 && old->models.len >= TRIM_MODELS;

	pod_gauges(gw, old, t);
	gw->table = t;
	llmo_gw_table_unref(old);
#ifdef __GLIBC__
	if (big)
		malloc_trim(0);
#else
	(void)big;
#endif
	table_log(gw, t, t->models.len);
	llmo__gw_held_retry(gw);
}

static int load_file(struct llmo_gateway *gw, struct llmo_error *err)
{
	struct llmo_gw_table *t;
	struct stat st;
	int rc;

	if (stat(gw->backends_file, &st) == 0)
		gw->file_st = st;
	rc = llmo_gw_table_from_file(gw->backends_file, &gw->backends, &t, err);
	if (rc)
		return rc;
	llmo__gw_table_swap(gw, t);
	gw->ready = true;
	return 0;
}

static int load_keys(struct llmo_gateway *gw, struct llmo_error *err)
{
	struct llmo_gw_keys *k;
	struct stat st;
	int rc;

	/* the identity before the read: a change made during it is seen at the next check */
	if (stat(gw->keys_file, &st) == 0)
		gw->keys_st = st;
	rc = llmo_gw_keys_from_file(gw->keys_file, &k, err);
	if (rc)
		return rc;
	llmo_gw_keys_carry(k, gw->keys);
	llmo_gw_keys_unref(gw->keys);
	gw->keys = k;
	LLMO_INFO(LOG, "keys", "file=%s tenants=%zu keys=%zu", gw->keys_file, k->tenants.len,
		  llmo_hmap_count(&k->by_key));
	return 0;
}

/* load_keys, or a warning and the keys in force. */
static int reload_keys(struct llmo_gateway *gw, struct llmo_error *err)
{
	int rc = load_keys(gw, err);

	if (rc) {
		char q[LLMO_LOG_QUOTE_MAX];

		LLMO_WARN(LOG, "keys file not reloaded, keeping the old keys", "error=%s",
			  llmo_log_quote(q, sizeof(q), err ? err->msg : llmo_strerror(rc)));
	}
	return rc;
}

/* load_file, or a warning and the table in force. */
static int reload_backends(struct llmo_gateway *gw, struct llmo_error *err)
{
	int rc = load_file(gw, err);

	if (rc) {
		char q[LLMO_LOG_QUOTE_MAX];

		LLMO_WARN(LOG, "backends file not reloaded, keeping the old table", "error=%s",
			  llmo_log_quote(q, sizeof(q), err ? err->msg : llmo_strerror(rc)));
	}
	return rc;
}

int llmo_gateway_reload(struct llmo_gateway *gw, struct llmo_error *err)
{
	int rc = 0;

	if (!gw->backends_file && !gw->keys_file)
		return llmo_error_set(err, LLMO_EINVAL,
				      "no backends file (API mode) and no keys file to reload");
	if (gw->keys_file)
		rc = reload_keys(gw, err);
	if (!gw->backends_file)
		return rc;
	return reload_backends(gw, err);
}

/*
 * path's identity, when it differs from *last: then *last takes it, so that a
 * broken file is reported once, not at every check.
 */
static bool file_check(const char *path, struct stat *last)
{
	struct stat st;

	if (!path || stat(path, &st) != 0 || llmo_file_same(&st, last))
		return false;
	*last = st;
	return true;
}

/* Every opts.watch_ms: the keys file and the backends file, each reloaded when it changed. */
static void on_watch(evutil_socket_t fd, short what, void *arg)
{
	struct llmo_gateway *gw = arg;
	struct llmo_error err = {0};

	if (file_check(gw->keys_file, &gw->keys_st)) {
		LLMO_INFO(LOG, "keys file changed, reloading", "file=%s", gw->keys_file);
		reload_keys(gw, &err);
	}
	if (file_check(gw->backends_file, &gw->file_st)) {
		LLMO_INFO(LOG, "backends file changed, reloading", "file=%s", gw->backends_file);
		reload_backends(gw, &err);
	}
}

/* ---- API mode ---- */

static int collect(void *ctx, json_t *obj)
{
	return json_array_append(ctx, obj) ? LLMO_ENOMEM : 0;
}

/* The table whole from the informers' caches (at the start, and after an error). */
static int build_whole(struct llmo_gateway *gw, struct llmo_error *err)
{
	json_t *wls = json_array(), *pods = json_array();
	struct llmo_gw_table *t = NULL;
	int rc = LLMO_ENOMEM;

	if (!wls || !pods || llmo_informer_list(gw->wl_inf, NULL, collect, wls) ||
	    llmo_informer_list(gw->pod_inf, NULL, collect, pods))
		llmo_error_set(err, rc, "out of memory");
	else
		rc = llmo_gw_table_from_kube(wls, pods, &gw->backends, &t, err);
	if (!rc) {
		/* the changes seen so far are in it */
		llmo_hmap_release(&gw->dirty, NULL);
		gw->rebuild_all = false;
		llmo__gw_table_swap(gw, t);
		if (!gw->ready)
			LLMO_INFO(LOG, "ready", "workloads=%zu pods=%zu", json_array_size(wls),
				  json_array_size(pods));
		gw->ready = true;
	}
	json_decref(wls);
	json_decref(pods);
	return rc;
}

struct ns_pods {
	const char *ns;
	json_t *pods;
};

/* Collects the pods of one namespace. */
static int collect_ns(void *ctx, json_t *obj)
{
	struct ns_pods *np = ctx;
	const char *ns = json_string_value(
		json_object_get(json_object_get(obj, "metadata"), "namespace"));

	if (strcmp(ns ? ns : "", np->ns) != 0)
		return 0;
	return json_array_append(np->pods, obj) ? LLMO_ENOMEM : 0;
}

/* Builds the model with id key ("namespace/name") again from the caches. */
static int rebuild_one(struct llmo_gateway *gw, const char *key, struct llmo_error *err)
{
	char ns[LLMO_GW_MODEL_ID_MAX], label[LLMO_GW_MODEL_ID_MAX + sizeof(LLMO_GW_LABEL_WORKLOAD)];
	const char *name;
	struct ns_pods np = {ns, json_array()};
	struct llmo_gw_model *m;
	const json_t *w;
	int rc = LLMO_ENOMEM;

	if (!(name = llmo_kube_key_split(key, ns, sizeof(ns)))) {
		json_decref(np.pods);
		return 0; /* not an id llmo_gw_kube_key makes */
	}
	snprintf(label, sizeof(label), "%s=%s", LLMO_GW_LABEL_WORKLOAD, name);
	w = llmo_informer_get(gw->wl_inf, ns, name);
	if (!np.pods ||
	    (w && llmo_informer_by_index(gw->pod_inf, LLMO_INFORMER_INDEX_LABEL, label, collect_ns,
					 &np))) {
		json_decref(np.pods);
		return llmo_error_set(err, rc, "out of memory");
	}
	if ((m = llmo_gw_table_model(gw->table, key)))
		model_forget(gw, m);
	rc = llmo_gw_table_update_kube(gw->table, &gw->backends, key, w, np.pods, err);
	if ((m = llmo_gw_table_model(gw->table, key)))
		model_note(gw, m);
	json_decref(np.pods);
	return rc;
}

static void on_rebuild(evutil_socket_t fd, short what, void *arg)
{
	struct llmo_gateway *gw = arg;
	struct llmo_error err = {0};
	size_t it = 0, changed = 0;
	const char *key;
	int rc = 0;

	if (!llmo_informer_synced(gw->wl_inf) || !llmo_informer_synced(gw->pod_inf)) {
		struct timeval tv = {0, 100 * 1000};

		event_add(gw->rebuild_ev, &tv);
		return;
	}
	if (!gw->ready || gw->rebuild_all) {
		rc = build_whole(gw, &err);
	} else {
		/* only the models that changed; the table stays the same object */
		while (!rc && llmo_hmap_next(&gw->dirty, &it, &key, NULL)) {
			rc = rebuild_one(gw, key, &err);
			changed++;
		}
		llmo_hmap_release(&gw->dirty, NULL);
		if (rc) {
			gw->rebuild_all = true; /* the changes not applied are in the next whole build */
		} else {
			table_log(gw, gw->table, changed);
			llmo__gw_held_retry(gw);
		}
	}
	if (rc) {
		struct timeval tv = {1, 0};

		LLMO_WARN(LOG, "cannot build the routing table, retrying", "error=\"%s\"", err.msg);
		event_add(gw->rebuild_ev, &tv);
	}
}

static void schedule_rebuild(struct llmo_gateway *gw)
{
	struct timeval now = {0, 0};

	/* one rebuild after the batch of changes the loop is delivering */
	if (!event_pending(gw->rebuild_ev, EV_TIMEOUT, NULL))
		event_add(gw->rebuild_ev, &now);
}

/* obj's model (pod: its workload label's) is to be built again. */
static void mark(struct llmo_gateway *gw, const json_t *obj, bool pod)
{
	char key[LLMO_GW_MODEL_ID_MAX];

	if (!obj || !llmo_gw_kube_key(obj, pod, key, sizeof(key)))
		return;
	if (!gw->rebuild_all && llmo_hmap_put(&gw->dirty, key, gw, NULL))
		gw->rebuild_all = true; /* out of memory: the whole table, later */
	schedule_rebuild(gw);
}

void llmo__gw_linger_done(struct llmo_gateway *gw, struct llmo_gw_backend *b)
{
	size_t it = 0;
	const char *id;

	b->linger = false;
	/* a few models at most: drained pods that still had requests when they left */
	while (llmo_hmap_next(&gw->lingering, &it, &id, NULL))
		if (!gw->rebuild_all && llmo_hmap_put(&gw->dirty, id, gw, NULL))
			gw->rebuild_all = true;
	if (llmo_hmap_count(&gw->lingering))
		schedule_rebuild(gw);
}

static void wl_add(void *ctx, json_t *obj)
{
	mark(ctx, obj, false);
}

static void wl_update(void *ctx, json_t *old_obj, json_t *new_obj)
{
	mark(ctx, new_obj, false);
}

static void pod_add(void *ctx, json_t *obj)
{
	mark(ctx, obj, true);
}

static void pod_update(void *ctx, json_t *old_obj, json_t *new_obj)
{
	/* a relabelled pod leaves one workload's model for another's */
	mark(ctx, old_obj, true);
	mark(ctx, new_obj, true);
}

/* ---- keys from a Secret ---- */

/* The Secret's data key holding the keys file. */
#define SECRET_KEY "keys.yaml"

static int keys_from_secret(struct llmo_gateway *gw, const json_t *secret, struct llmo_gw_keys **out,
			    struct llmo_error *err)
{
	const char *b64 = json_string_value(
		json_object_get(json_object_get(secret, "data"), SECRET_KEY));
	const char *plain = json_string_value(
		json_object_get(json_object_get(secret, "stringData"), SECRET_KEY));
	struct llmo_yaml_stream s = {0};
	char name[600], *text = NULL;
	int rc;

	snprintf(name, sizeof(name), "secret %s/%s %s", gw->secret_ns, gw->secret_name,
		 SECRET_KEY);
	if (!b64 && !plain)
		return llmo_error_set(err, LLMO_EINVAL, "%s: no such data key", name);
	if (b64 && (rc = llmo_base64_decode(b64, &text)))
		return llmo_error_set(err, rc, "%s: not valid base64", name);
	if (strlen(b64 ? text : plain) > LLMO_GW_KEYS_FILE_MAX)
		rc = llmo_error_set(err, LLMO_ETOOBIG, "%s: larger than %zu bytes", name,
				    LLMO_GW_KEYS_FILE_MAX);
	else if (!(rc = llmo_yaml_parse(b64 ? text : plain, strlen(b64 ? text : plain), name, &s,
					err)) &&
		 s.ndocs != 1)
		rc = llmo_error_set(err, LLMO_EINVAL, "%s: expected one document", name);
	if (!rc)
		rc = llmo_gw_keys_from_json(s.docs[0].root, &s.docs[0], name, out, err);
	llmo_yaml_stream_release(&s);
	free(text);
	return rc;
}

static void on_secret(evutil_socket_t fd, short what, void *arg)
{
	struct llmo_gateway *gw = arg;
	const json_t *obj = llmo_informer_get(gw->secret_inf, gw->secret_ns, gw->secret_name);
	struct llmo_error err = {0};
	struct llmo_gw_keys *k;
	char q[LLMO_LOG_QUOTE_MAX];

	if (!obj) {
		LLMO_WARN(LOG, "keys Secret not found, keeping the keys in force", "secret=%s/%s",
			  gw->secret_ns, gw->secret_name);
		return;
	}
	if (keys_from_secret(gw, obj, &k, &err)) {
		LLMO_WARN(LOG, "keys Secret not loaded, keeping the keys in force", "error=%s",
			  llmo_log_quote(q, sizeof(q), err.msg));
		return;
	}
	llmo_gw_keys_carry(k, gw->keys);
	llmo_gw_keys_unref(gw->keys);
	gw->keys = k;
	LLMO_INFO(LOG, "keys", "secret=%s/%s tenants=%zu keys=%zu", gw->secret_ns, gw->secret_name,
		  k->tenants.len, llmo_hmap_count(&k->by_key));
}

static void secret_add(void *ctx, json_t *obj)
{
	struct llmo_gateway *gw = ctx;

	event_active(gw->secret_ev, EV_TIMEOUT, 0);
}

static void secret_update(void *ctx, json_t *old_obj, json_t *new_obj)
{
	secret_add(ctx, new_obj);
}

/* Watches the keys Secret; until it loads no key is valid (every request gets 401). */
static int watch_secret(struct llmo_gateway *gw, struct llmo_error *err)
{
	struct llmo_informer_handlers h = {secret_add, secret_update, secret_add};
	const char *slash = strchr(gw->o.keys_secret, '/');
	json_t *none = json_pack("{s:[]}", "tenants");
	char field[320];
	int rc;

	gw->secret_ns = llmo_strndup(gw->o.keys_secret, (size_t)(slash - gw->o.keys_secret));
	gw->secret_name = llmo_strdup(slash + 1);
	gw->secret_ev = event_new(gw->base, -1, 0, on_secret, gw);
	if (!none || !gw->secret_ns || !gw->secret_name || !gw->secret_ev) {
		json_decref(none);
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	}
	rc = llmo_gw_keys_from_json(none, NULL, NULL, &gw->keys, err);
	json_decref(none);
	snprintf(field, sizeof(field), "metadata.name=%s", gw->secret_name);
	if (rc || (rc = llmo_informer_new(gw->o.client, &llmo_kube_secrets, gw->secret_ns, NULL,
					  gw->base, &h, gw, &gw->secret_inf, err)) ||
	    (rc = llmo_informer_set_field_selector(gw->secret_inf, field, err)))
		return rc;
	return 0;
}

/* ---- admin answers ---- */

static int model_entry(json_t *data, const char *name, const struct llmo_gw_model *m)
{
	json_t *e = json_pack("{s:s, s:s, s:i, s:s, s:s}", "id", name, "object", "model", "created",
			      0, "owned_by", "llmo", "root", m->id);

	return !e || json_array_append_new(data, e) ? LLMO_ENOMEM : 0;
}

/* What /v1/models lists into, for whom. */
struct model_list {
	json_t *data;
	const char *tenant; /* NULL: anonymous */
};

static int list_model(void *ctx, const char *name, const struct llmo_gw_model *m)
{
	struct model_list *l = ctx;

	if (llmo_gw_model_ready(m) == 0 || !llmo_gw_model_allows(m, l->tenant))
		return 0;
	return model_entry(l->data, name, m);
}

/* Percent-decodes s[0, n) into out; LLMO_EPARSE for a bad escape. */
static int unescape(const char *s, size_t n, struct llmo_buf *out)
{
	for (size_t i = 0; i < n; i++) {
		int hi, lo, rc;

		if (s[i] != '%') {
			if ((rc = llmo_buf_putc(out, s[i])))
				return rc;
			continue;
		}
		if (n - i < 3)
			return LLMO_EPARSE;
		hi = s[i + 1] >= '0' && s[i + 1] <= '9'	  ? s[i + 1] - '0'
		     : s[i + 1] >= 'a' && s[i + 1] <= 'f' ? s[i + 1] - 'a' + 10
		     : s[i + 1] >= 'A' && s[i + 1] <= 'F' ? s[i + 1] - 'A' + 10
							  : -1;
		lo = s[i + 2] >= '0' && s[i + 2] <= '9'	  ? s[i + 2] - '0'
		     : s[i + 2] >= 'a' && s[i + 2] <= 'f' ? s[i + 2] - 'a' + 10
		     : s[i + 2] >= 'A' && s[i + 2] <= 'F' ? s[i + 2] - 'A' + 10
							  : -1;
		if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
			return LLMO_EPARSE;
		if ((rc = llmo_buf_putc(out, (char)(hi * 16 + lo))))
			return rc;
		i += 2;
	}
	return 0;
}

static bool path_eq(const char *p, size_t n, const char *want)
{
	return n == strlen(want) && memcmp(p, want, n) == 0;
}

static int models_answer(struct llmo_gateway *gw, const char *id, size_t idlen,
			 const char *tenant, int *status, const char **ctype, struct llmo_buf *body)
{
	json_t *data = json_array(), *doc = NULL;
	struct llmo_buf name;
	char *text = NULL;
	int rc = 0;

	llmo_buf_init(&name, LLMO_GW_MODEL_MAX * 3);
	*ctype = "application/json";
	if (!data) {
		rc = LLMO_ENOMEM;
		goto out;
	}
	if (!id) {
		struct model_list l = {data, tenant};

		rc = llmo_gw_table_each_name(gw->table, list_model, &l);
		if (!rc && !(doc = json_pack("{s:s, s:O}", "object", "list", "data", data)))
			rc = LLMO_ENOMEM;
	} else {
		const struct llmo_gw_model *m = NULL;
		char q[LLMO_GW_QUOTE_MAX + 4], msg[LLMO_GW_QUOTE_MAX + 128];

		if (unescape(id, idlen, &name) == 0)
			m = llmo_gw_table_lookup(gw->table, name.data, name.len);
		/* one the caller may not call is not there for it, as in the list */
		if (!m || !llmo_gw_model_allows(m, tenant)) {
			llmo_gw_quote_input(q, id, idlen);
			snprintf(msg, sizeof(msg), "The model '%s' does not exist", q);
			*status = 404;
			rc = llmo_gw_error_body(body, 404, msg, "model", "model_not_found");
			goto out;
		}
		if (!(rc = model_entry(data, name.data, m)))
			doc = json_incref(json_array_get(data, 0));
	}
	if (!rc && !(text = llmo_json_dump_compact(doc)))
		rc = LLMO_ENOMEM;
	if (!rc)
		rc = llmo_buf_puts(body, text);
	*status = 200;
out:
	free(text);
	json_decref(doc);
	json_decref(data);
	llmo_buf_release(&name);
	return rc;
}

int llmo__gw_admin(struct llmo_gateway *gw, const char *path, size_t len, const char *tenant,
		   int *status, const char **content_type, struct llmo_buf *body)
{
	static const char models[] = "/v1/models";

	*status = 200;
	*content_type = "text/plain; charset=utf-8";
	if (path_eq(path, len, "/healthz"))
		return llmo_buf_puts(body, "ok\n");
	if (path_eq(path, len, "/readyz")) {
		if (gw->ready)
			return llmo_buf_puts(body, "ok\n");
		*status = 503;
		return llmo_buf_puts(body, gw->backends_file
						   ? "not ready: the backends file is not loaded\n"
						   : "not ready: workloads and pods not listed yet\n");
	}
	if (path_eq(path, len, "/metrics")) {
		*content_type = LLMO_METRICS_CONTENT_TYPE;
		return llmo_metrics_write(gw->metrics, body);
	}
	if (path_eq(path, len, models))
		return models_answer(gw, NULL, 0, tenant, status, content_type, body);
	if (len > sizeof(models) && memcmp(path, models, sizeof(models) - 1) == 0 &&
	    path[sizeof(models) - 1] == '/')
		return models_answer(gw, path + sizeof(models), len - sizeof(models), tenant,
				     status, content_type, body);
	return LLMO_ENOTFOUND;
}

/* ---- life cycle ---- */

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
		      int salen, void *arg)
{
	llmo__gw_client_accept(arg, fd, sa, salen);
}

static void on_accept_retry(evutil_socket_t fd, short what, void *arg)
{
	struct llmo_gateway *gw = arg;

	if (!gw->full)
		evconnlistener_enable(gw->listener);
}

static void on_accept_error(struct evconnlistener *l, void *arg)
{
	struct llmo_gateway *gw = arg;
	struct timeval tv = {0, ACCEPT_RETRY_MS * 1000};
	int e = EVUTIL_SOCKET_ERROR();

	LLMO_WARN(LOG, "accept failed, pausing", "error=\"%s\" ms=%d", strerror(e),
		  ACCEPT_RETRY_MS);
	evconnlistener_disable(l);
	event_add(gw->accept_ev, &tv);
}

static int listen_on(struct llmo_gateway *gw, struct llmo_error *err)
{
	struct sockaddr_storage ss = {0};
	struct sockaddr_in *in = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	const char *host = strcmp(gw->host, "localhost") == 0 ? "127.0.0.1" : gw->host;
	socklen_t len;

	if (inet_pton(AF_INET, host, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)gw->o.port);
		len = sizeof(*in);
	} else if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)gw->o.port);
		len = sizeof(*in6);
	} else {
		return llmo_error_set(err, LLMO_EINVAL,
				      "listen address \"%s\" is not an IP address", gw->host);
	}
	gw->listener = evconnlistener_new_bind(gw->base, on_accept, gw,
					       LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC |
						       LEV_OPT_REUSEABLE | LEV_OPT_DISABLED,
					       BACKLOG, (struct sockaddr *)&ss, (int)len);
	if (!gw->listener)
		return llmo_error_set(err, LLMO_EIO, "cannot listen on %s:%d: %s", gw->host,
				      gw->o.port, strerror(errno));
	evconnlistener_set_error_cb(gw->listener, on_accept_error);
	len = sizeof(ss);
	if (getsockname(evconnlistener_get_fd(gw->listener), (struct sockaddr *)&ss, &len) < 0)
		return llmo_error_set(err, LLMO_EIO, "getsockname: %s", strerror(errno));
	gw->port = ntohs(ss.ss_family == AF_INET ? in->sin_port : in6->sin6_port);
	return 0;
}

static int make_metrics(struct llmo_gateway *gw, struct llmo_error *err)
{
	int rc;

	if (llmo_metrics_new(&gw->metrics))
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	if ((rc = llmo_metrics_counter(gw->metrics, "llmo_gateway_requests_total",
				       "Inference requests answered, by model, track and status code.",
				       (const char *[]){"model", "track", "code"}, 3,
				       &gw->m_requests, err)) ||
	    (rc = llmo_metrics_histogram(gw->metrics, "llmo_gateway_request_duration_seconds",
					 "Time from a request's head to the end of its answer.",
					 (const char *[]){"model", "track"}, 2, duration_buckets,
					 LLMO_ARRAY_LEN(duration_buckets), &gw->m_duration, err)) ||
	    (rc = llmo_metrics_histogram(gw->metrics, "llmo_gateway_time_to_first_byte_seconds",
					 "Time from a request's head to the first byte of its answer's "
					 "body (the first event of a stream).",
					 (const char *[]){"model", "track"}, 2, duration_buckets,
					 LLMO_ARRAY_LEN(duration_buckets), &gw->m_ttfb, err)) ||
	    (rc = llmo_metrics_counter(gw->metrics, "llmo_gateway_upstream_errors_total",
				       "Failed attempts on a backend, by kind (connect, "
				       "connect_timeout, reset, timeout, status, protocol).",
				       (const char *[]){"backend", "kind"}, 2,
				       &gw->m_upstream_errors, err)) ||
	    (rc = llmo_metrics_counter(gw->metrics, "llmo_gateway_upstream_attempts_total",
				       "Attempts on replicas by model, track and outcome (ok: an "
				       "answer below 500; failed: a 5xx, a broken connection or a "
				       "timeout, retried elsewhere or not). Rollout analysis reads "
				       "it: a retry hides a failure from the client, not from here.",
				       (const char *[]){"model", "track", "outcome"}, 3,
				       &gw->m_attempts, err)) ||
	    (rc = llmo_metrics_counter(gw->metrics, "llmo_gateway_retries_total",
				       "Requests sent again to another replica after a failure.",
				       (const char *[]){"model"}, 1, &gw->m_retries, err)) ||
	    (rc = llmo_metrics_gauge(gw->metrics, "llmo_gateway_inflight",
				     "Requests in flight to each backend.",
				     (const char *[]){"backend"}, 1, &gw->m_inflight, err)) ||
	    (rc = llmo_metrics_gauge(gw->metrics, "llmo_gateway_endpoints",
				     "Endpoints of each model in the routing table, by state.",
				     (const char *[]){"model", "state"}, 2, &gw->m_endpoints, err)) ||
	    (rc = llmo_metrics_gauge(gw->metrics, "llmo_gateway_client_connections",
				     "Open client connections.", NULL, 0, &gw->m_clients, err)) ||
	    (rc = llmo_metrics_gauge(gw->metrics, "llmo_gateway_pod_inflight",
				     "Requests in flight to each pod of a workload (API mode), "
				     "draining pods included.",
				     (const char *[]){"namespace", "workload", "pod", "track"}, 4,
				     &gw->m_pod_inflight, err)) ||
	    (rc = llmo_metrics_counter(gw->metrics, "llmo_gateway_tokens_total",
				       "Tokens the backends reported in their answers' usage, by "
				       "kind (prompt, completion).",
				       (const char *[]){"model", "track", "kind"}, 3, &gw->m_tokens,
				       err)) ||
	    (rc = llmo_metrics_gauge(gw->metrics, "llmo_gateway_pending_requests",
				     "Requests held for a model without a ready replica.",
				     (const char *[]){"model"}, 1, &gw->m_pending, err)) ||
	    (rc = llmo_metrics_counter(gw->metrics, "llmo_gateway_tenant_requests_total",
				       "Inference requests of each tenant (API key) answered, by "
				       "status code.",
				       (const char *[]){"tenant", "code"}, 2, &gw->m_tenant_requests,
				       err)) ||
	    (rc = llmo_metrics_counter(gw->metrics, "llmo_gateway_tenant_tokens_total",
				       "Tokens of each tenant's answers (their usage), by kind "
				       "(prompt, completion).",
				       (const char *[]){"tenant", "kind"}, 2, &gw->m_tenant_tokens,
				       err)) ||
	    (rc = llmo_metrics_counter(gw->metrics, "llmo_gateway_rate_limited_total",
				       "Requests refused with 429, by tenant and by the limit "
				       "reached (requests, tokens).",
				       (const char *[]){"tenant", "kind"}, 2, &gw->m_rate_limited,
				       err)) ||
	    (rc = llmo_metrics_counter(gw->metrics, "llmo_gateway_forbidden_total",
				       "Requests refused with 403 because the model's access list "
				       "(spec.security.accessControl) does not name the tenant "
				       "(tenant \"\": no keys configured).",
				       (const char *[]){"model", "tenant"}, 2, &gw->m_forbidden,
				       err)) ||
	    (rc = llmo_metrics_counter(gw->metrics, "llmo_gateway_prefix_lookups_total",
				       "Prefix-affinity choices of a replica, by result (hit: the "
				       "replica of the longest known prefix; miss: no replica served "
				       "one; busy: it did but was too loaded).",
				       (const char *[]){"model", "result"}, 2, &gw->m_prefix, err)) ||
	    (rc = llmo_metrics_counter(gw->metrics, "llmo_gateway_backend_scrapes_total",
				       "Reads of the backends' own /metrics, by result (ok, failed).",
				       (const char *[]){"result"}, 1, &gw->m_scrapes, err)) ||
	    (rc = llmo_metrics_gauge(gw->metrics, "llmo_gateway_backend_waiting_requests",
				     "Requests waiting in each backend's queue, as its last scrape "
				     "said (vllm:num_requests_waiting; 0 when it failed).",
				     (const char *[]){"backend"}, 1, &gw->m_backend_waiting, err)) ||
	    (rc = llmo_metrics_gauge(gw->metrics, "llmo_gateway_backend_kv_cache_usage",
				     "Each backend's KV-cache usage (0 to 1), as its last scrape "
				     "said (vllm:gpu_cache_usage_perc; 0 when it failed).",
				     (const char *[]){"backend"}, 1, &gw->m_backend_kv, err)))
		return rc;
	llmo_metric_set(gw->m_clients, NULL, 0);
	/* per model, read off the table at each scrape: no stored series */
	llmo_metric_set_collect(gw->m_endpoints, endpoints_collect, gw);
	llmo_metric_set_collect(gw->m_pending, llmo__gw_pending_collect, gw);
	return 0;
}

int llmo_gateway_new(struct event_base *base, const struct llmo_gateway_opts *opts,
		     struct llmo_gateway **out, struct llmo_error *err)
{
	struct llmo_gateway *gw = NULL;
	int rc;

	*out = NULL;
	if ((rc = check_opts(opts, err)))
		return rc;
	gw = calloc(1, sizeof(*gw));
	if (!gw)
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	gw->base = base;
	gw->io.base = base;
	gw->io.scratch = malloc(LLMO__GW_CONN_READ_MAX);
	gw->o = *opts;
	llmo_gw_backends_init(&gw->backends, llmo__gw_backend_freed, gw);
	llmo_hmap_init(&gw->dirty);
	llmo_hmap_init(&gw->lingering);
	gw->host = llmo_strdup(opts->host);
	gw->backends_file = opts->backends_file ? llmo_strdup(opts->backends_file) : NULL;
	gw->ns = opts->ns && *opts->ns ? llmo_strdup(opts->ns) : NULL;
	gw->keys_file = opts->keys_file ? llmo_strdup(opts->keys_file) : NULL;
	gw->o.keys_file = gw->keys_file;
	gw->keys_secret = opts->keys_secret ? llmo_strdup(opts->keys_secret) : NULL;
	gw->o.keys_secret = gw->keys_secret;
	gw->o.host = gw->host;
	gw->o.backends_file = gw->backends_file;
	gw->o.ns = gw->ns;
	gw->o.tls_cert = gw->o.tls_key = gw->o.upstream_ca = NULL; /* read once, below */
	gw->bal.failures = opts->breaker_failures;
	gw->bal.cooldown_ns = opts->breaker_cooldown_ms * LLMO_NS_PER_MS;
	gw->bal.conns_max = opts->backend_conns_max;
	gw->bal.prefix_busy = opts->prefix_busy;
	llmo_rng_seed(&gw->rng, opts->seed ? opts->seed : (uint64_t)llmo_clock_mono_ns() ^
								 (uint64_t)llmo_clock_wall_ms());
	if (!gw->host || !gw->io.scratch || (opts->backends_file && !gw->backends_file) ||
	    (opts->ns && *opts->ns && !gw->ns) || (opts->keys_file && !gw->keys_file) ||
	    (opts->keys_secret && !gw->keys_secret)) {
		rc = llmo_error_set(err, LLMO_ENOMEM, "out of memory");
		goto fail;
	}
	if ((rc = make_metrics(gw, err)))
		goto fail;
	if (opts->balance == LLMO_GATEWAY_BALANCE_PREFIX &&
	    llmo_gw_lru_init(&gw->prefix, opts->prefix_entries)) {
		rc = llmo_error_set(err, LLMO_ENOMEM, "out of memory");
		goto fail;
	}
	if ((rc = llmo_gw_table_new(&gw->table))) {
		rc = llmo_error_set(err, rc, "out of memory");
		goto fail;
	}
	gw->accept_ev = evtimer_new(base, on_accept_retry, gw);
	gw->rebuild_ev = evtimer_new(base, on_rebuild, gw);
	gw->watch_ev = event_new(base, -1, EV_PERSIST, on_watch, gw);
	gw->kick_ev = event_new(base, -1, 0, llmo__gw_kick, gw);
	gw->scrape_ev = event_new(base, -1, EV_PERSIST, llmo__gw_scrape_tick, gw);
	if (!gw->accept_ev || !gw->rebuild_ev || !gw->watch_ev || !gw->kick_ev || !gw->scrape_ev) {
		rc = llmo_error_set(err, LLMO_ENOMEM, "out of memory");
		goto fail;
	}
	if (opts->tls_cert &&
	    (rc = llmo__gw_tls_ctx_new(opts->tls_cert, opts->tls_key, &gw->ssl_ctx, err)))
		goto fail;
	if (opts->upstream_ca &&
	    (rc = llmo__gw_tls_client_ctx_new(opts->upstream_ca, &gw->upstream_ctx, err)))
		goto fail;
	if (gw->keys_file && (rc = load_keys(gw, err)))
		goto fail;
	if (gw->o.keys_secret && (rc = watch_secret(gw, err)))
		goto fail;
	if (gw->backends_file && (rc = load_file(gw, err)))
		goto fail;
	if (gw->o.client) {
		struct llmo_informer_handlers wh = {wl_add, wl_update, wl_add};
		struct llmo_informer_handlers ph = {pod_add, pod_update, pod_add};

		if ((rc = llmo_informer_new(gw->o.client, &llmo_kube_llmworkloads, gw->ns, NULL, base,
					    &wh, gw, &gw->wl_inf, err)) ||
		    (rc = llmo_informer_new(gw->o.client, &llmo_kube_pods, gw->ns,
					    LLMO_GW_LABEL_WORKLOAD, base, &ph, gw, &gw->pod_inf,
					    err)) ||
		    /* the caches are read-only: keep only what the table is built from */
		    (rc = llmo_informer_set_transform(gw->wl_inf, llmo_gw_workload_transform, NULL,
						      err)) ||
		    (rc = llmo_informer_set_transform(gw->pod_inf, llmo_gw_pod_transform, NULL,
						      err)))
			goto fail;
	}
	if ((rc = listen_on(gw, err)))
		goto fail;
	*out = gw;
	return 0;
fail:
	llmo_gateway_free(gw);
	return rc;
}

int llmo_gateway_start(struct llmo_gateway *gw, struct llmo_error *err)
{
	int rc;

	if (gw->started)
		return llmo_error_set(err, LLMO_EINVAL, "the gateway is already started");
	if (gw->wl_inf && ((rc = llmo_informer_start(gw->wl_inf, err)) ||
			   (rc = llmo_informer_start(gw->pod_inf, err))))
		return rc;
	if (gw->wl_inf) {
		/* the first table, once both have listed, even when they list nothing (no
		 * event would come to build it, and /readyz would stay 503) */
		struct timeval now = {0, 0};

		event_add(gw->rebuild_ev, &now);
	}
	if (gw->secret_inf && (rc = llmo_informer_start(gw->secret_inf, err)))
		return rc;
	if ((gw->backends_file || gw->keys_file) && gw->o.watch_ms > 0) {
		struct timeval tv = {(time_t)(gw->o.watch_ms / 1000),
				     (suseconds_t)(gw->o.watch_ms % 1000) * 1000};

		event_add(gw->watch_ev, &tv);
	}
	if (gw->o.scrape_interval_ms > 0) {
		struct timeval tv = {(time_t)(gw->o.scrape_interval_ms / 1000),
				     (suseconds_t)(gw->o.scrape_interval_ms % 1000) * 1000};

		event_add(gw->scrape_ev, &tv);
	}
	if (evconnlistener_enable(gw->listener) < 0)
		return llmo_error_set(err, LLMO_EIO, "cannot accept connections");
	gw->started = true;
	LLMO_INFO(LOG, "listening", "addr=%s port=%d mode=%s tls=%s", gw->host, gw->port,
		  gw->backends_file ? "file" : "api", gw->ssl_ctx ? "on" : "off");
	return 0;
}

bool llmo_gateway_tls(const struct llmo_gateway *gw)
{
	return gw->ssl_ctx != NULL;
}

int llmo_gateway_port(const struct llmo_gateway *gw)
{
	return gw->port;
}

bool llmo_gateway_ready(const struct llmo_gateway *gw)
{
	return gw->ready;
}

void llmo_gateway_free(struct llmo_gateway *gw)
{
	if (!gw)
		return;
	llmo_informer_free(gw->wl_inf);
	llmo_informer_free(gw->pod_inf);
	llmo_informer_free(gw->secret_inf);
	if (gw->listener)
		evconnlistener_free(gw->listener);
	llmo__gw_clients_close_all(gw);
	llmo__gw_scrapes_stop(gw);
	llmo__gw_kick(-1, 0, gw); /* lets go of the backends it was to serve */
	llmo_gw_table_unref(gw->table);
	gw->table = NULL;
	llmo_gw_backends_release(&gw->backends);
	llmo_hmap_release(&gw->dirty, NULL);
	llmo_hmap_release(&gw->lingering, NULL);
	llmo_gw_lru_release(&gw->prefix);
	if (gw->accept_ev)
		event_free(gw->accept_ev);
	if (gw->rebuild_ev)
		event_free(gw->rebuild_ev);
	if (gw->watch_ev)
		event_free(gw->watch_ev);
	if (gw->kick_ev)
		event_free(gw->kick_ev);
	if (gw->scrape_ev)
		event_free(gw->scrape_ev);
	llmo_metrics_free(gw->metrics);
	if (gw->ssl_ctx)
		SSL_CTX_free(gw->ssl_ctx);
	SSL_CTX_free(gw->upstream_ctx);
	free(gw->io.scratch);
	free(gw->host);
	free(gw->backends_file);
	free(gw->ns);
	free(gw->keys_file);
	free(gw->keys_secret);
	free(gw->secret_ns);
	free(gw->secret_name);
	if (gw->secret_ev)
		event_free(gw->secret_ev);
	llmo_gw_keys_unref(gw->keys);
	free(gw);
}
