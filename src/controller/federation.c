/*
 * Cross-cluster scheduling; federation.h says what and docs/federation.md how
 * a user sees it.
 */
#include "base/common.h"
#include "controller/federation.h"

#include <event2/event.h>
#include <math.h>

#include "api/config.h"
#include "base/clock.h"
#include "base/json.h"
#include "base/log.h"
#include "base/str.h"
#include "base/vec.h"
#include "controller/controller_int.h"
#include "kube/client.h"
#include "kube/kubeconfig.h"
#include "kube/object.h"
#include "metrics/metrics.h"

#include "base/banned.h"

#define LOG "federation"
/* Member API calls: a dead member must not hold the controller's loop for long. */
#define FED_CONNECT_MS 1000
#define FED_TIMEOUT_MS 4000
/* Replicas a node fits when the workload asks for none of its resources. */
#define FED_FIT_UNBOUNDED 1000000

enum { RES_CPU, RES_MEM, RES_GPU };

struct fed_node {
	char *name;
	int64_t alloc[3], used[3];
	bool usable; /* Ready and schedulable */
};

struct fed_pod {
	char *key; /* "namespace/workload" of its llm.orchestrator.io/workload label */
	int64_t req[3];
	size_t node; /* index in nodes; SIZE_MAX: not bound or not a known node */
	bool ready;
	char endpoint[80]; /* "" when none */
};

struct fed_cluster {
	const struct llmo_member_cluster *cfg;
	struct llmo_kube_client *client; /* owned, except the local cluster's */
	bool local;
	bool synced;  /* a snapshot was read once */
	bool healthy; /* the last sync worked */
	int64_t last_ok_ms;
	double rtt_ms; /* moving average of the /version round trip */
	char error[256];
	LLMO_VEC(struct fed_node) nodes;
	LLMO_VEC(struct fed_pod) pods;
	json_t *copies;	    /* "ns/name" -> {hash, owner, replicas, ready} (remote clusters) */
	json_t *models;	    /* "ns/name" -> hash of model copies known there since the last sync */
	json_t *namespaces; /* namespaces known there since the last sync */
};

struct llmo__fed {
	struct fed_cluster *cl;
	size_t n;
	struct event *timer;
	const char *home; /* the federated-from label value */
	char selector[128];
};

/* ---- the assignment ---- */

enum llmo__fed_strategy llmo__fed_strategy_parse(const char *s)
{
	if (s && strcmp(s, "cost-optimized") == 0)
		return LLMO__FED_COST;
	if (s && strcmp(s, "latency-optimized") == 0)
		return LLMO__FED_LATENCY;
	return LLMO__FED_BALANCED;
}

/* Round trips this close are noise. */
static int rtt_cmp(double a, double b)
{
	double lo = a < b ? a : b, tol = 0.25 * lo;

	if (tol < 2.0)
		tol = 2.0;
	if (fabs(a - b) <= tol)
		return 0;
	return a < b ? -1 : 1;
}

static int num_cmp(double a, double b)
{
	return a < b ? -1 : a > b ? 1 : 0;
}

/* <0 when site a is to be filled before b. */
static int site_order(enum llmo__fed_strategy st, const struct llmo__fed_site *a,
		      const struct llmo__fed_site *b)
{
	int r = 0;

	if (st == LLMO__FED_COST) {
		if (!(r = num_cmp(a->cost, b->cost)))
			r = rtt_cmp(a->rtt_ms, b->rtt_ms);
	} else {
		if (!(r = rtt_cmp(a->rtt_ms, b->rtt_ms)))
			r = num_cmp(a->cost, b->cost);
	}
	if (!r) /* keep what runs */
		r = num_cmp((double)b->previous, (double)a->previous);
	if (!r)
		r = strcmp(a->name, b->name);
	return r;
}

int64_t llmo__fed_assign(enum llmo__fed_strategy strategy, const struct llmo__fed_site *sites,
			 size_t n, int64_t total, int64_t *out)
{
	int64_t left = total > 0 ? total : 0;
	size_t order[64];
	size_t m = 0;

	for (size_t i = 0; i < n; i++) {
		out[i] = 0;
		if (sites[i].hold) {
			out[i] = sites[i].previous < left ? sites[i].previous : left;
			if (out[i] < 0)
				out[i] = 0;
			left -= out[i];
		} else if (sites[i].usable && sites[i].capacity > 0 && m < LLMO_ARRAY_LEN(order)) {
			order[m++] = i;
		}
	}
	if (strategy == LLMO__FED_BALANCED) {
		/* one at a time to the usable site with the fewest; ties by cost, latency, previous */
		while (left > 0) {
			size_t best = SIZE_MAX;

			for (size_t k = 0; k < m; k++) {
				size_t i = order[k];

				if (out[i] >= sites[i].capacity)
					continue;
				if (best == SIZE_MAX || out[i] < out[best] ||
				    (out[i] == out[best] &&
				     site_order(LLMO__FED_COST, &sites[i], &sites[best]) < 0))
					best = i;
			}
			if (best == SIZE_MAX)
				break;
			out[best]++;
			left--;
		}
		return left;
	}
	/* insertion sort: a handful of clusters */
	for (size_t k = 1; k < m; k++)
		for (size_t j = k; j > 0 && site_order(strategy, &sites[order[j]],
						       &sites[order[j - 1]]) < 0; j--) {
			size_t t = order[j];

			order[j] = order[j - 1];
			order[j - 1] = t;
		}
	for (size_t k = 0; k < m && left > 0; k++) {
		size_t i = order[k];
		int64_t take = sites[i].capacity < left ? sites[i].capacity : left;

		out[i] = take;
		left -= take;
	}
	return left;
}

/* ---- snapshots ---- */

static void cluster_clear(struct fed_cluster *k)
{
	for (size_t i = 0; i < k->nodes.len; i++)
		free(k->nodes.items[i].name);
	for (size_t i = 0; i < k->pods.len; i++)
		free(k->pods.items[i].key);
	k->nodes.len = 0;
	k->pods.len = 0;
}

static bool node_usable(const json_t *node)
{
	return llmo_kube_condition_true(node, "Ready") &&
	       !json_is_true(json_object_get(json_object_get(node, "spec"), "unschedulable"));
}

static int read_nodes(struct fed_cluster *k, const json_t *list)
{
	const json_t *n;
	size_t i;

	json_array_foreach(json_object_get(list, "items"), i, n) {
		const json_t *alloc = json_object_get(json_object_get(n, "status"), "allocatable");
		const char *name = llmo_kube_str(n, "metadata", "name");
		struct fed_node *fn;

		if (!name)
			continue;
		if (!(fn = llmo_vec_push(&k->nodes)) || !(fn->name = llmo_strdup(name)))
			return LLMO_ENOMEM;
		fn->alloc[RES_CPU] = llmo__quantity_of(alloc, "cpu");
		fn->alloc[RES_MEM] = llmo__quantity_of(alloc, "memory");
		fn->alloc[RES_GPU] = llmo__quantity_of(alloc, "nvidia.com/gpu");
		fn->usable = node_usable(n);
	}
	return 0;
}

static size_t node_index(const struct fed_cluster *k, const char *name)
{
	for (size_t i = 0; name && i < k->nodes.len; i++)
		if (strcmp(k->nodes.items[i].name, name) == 0)
			return i;
	return SIZE_MAX;
}

static int read_pods(struct fed_cluster *k, const json_t *list)
{
	const json_t *p;
	size_t i;

	json_array_foreach(json_object_get(list, "items"), i, p) {
		const char *wl = json_string_value(json_object_get(
			json_object_get(json_object_get(p, "metadata"), "labels"), LLMO_LABEL_WORKLOAD));
		const char *ns = llmo_kube_str(p, "metadata", "namespace");
		size_t node = node_index(k, llmo_kube_str(p, "spec", "nodeName"));
		int64_t req[3];

		if (llmo__pod_finished(p))
			continue;
		llmo__pod_requests(p, req);
		if (node != SIZE_MAX)
			for (int r = 0; r < 3; r++)
				k->nodes.items[node].used[r] += req[r];
		if (wl && ns) {
			struct fed_pod *fp = llmo_vec_push(&k->pods);
			char key[LLMO__CTRL_KEY_MAX];

			snprintf(key, sizeof(key), "%s/%s", ns, wl);
			if (!fp || !(fp->key = llmo_strdup(key)))
				return LLMO_ENOMEM;
			memcpy(fp->req, req, sizeof(req));
			fp->node = node;
			fp->ready = !json_object_get(json_object_get(p, "metadata"),
						     "deletionTimestamp") &&
				    llmo_kube_condition_true(p, "Ready");
			if (!fp->ready || llmo__pod_endpoint(p, 0, fp->endpoint,
							      sizeof(fp->endpoint)) < 0)
				fp->endpoint[0] = '\0';
		}
	}
	return 0;
}

static int read_copies(struct fed_cluster *k, const json_t *list)
{
	const json_t *w;
	size_t i;

	json_object_clear(k->copies);
	json_array_foreach(json_object_get(list, "items"), i, w) {
		const json_t *ann = json_object_get(json_object_get(w, "metadata"), "annotations");
		const json_t *st = json_object_get(w, "status");
		const char *ns = llmo_kube_str(w, "metadata", "namespace");
		const char *name = llmo_kube_str(w, "metadata", "name");
		const char *hash = json_string_value(
			json_object_get(ann, LLMO_ANNOTATION_FEDERATION_HASH));
		const char *owner = json_string_value(
			json_object_get(ann, LLMO_ANNOTATION_FEDERATION_OWNER));
		char key[LLMO__CTRL_KEY_MAX];

		if (!ns || !name)
			continue;
		snprintf(key, sizeof(key), "%s/%s", ns, name);
		if (json_object_set_new(
			    k->copies, key,
			    json_pack("{s:s, s:s, s:I, s:I, s:b}", "hash", hash ? hash : "", "owner",
				      owner ? owner : "",
				      "replicas",
				      (json_int_t)json_integer_value(json_object_get(st, "replicas")),
				      "ready",
				      (json_int_t)json_integer_value(
					      json_object_get(st, "readyReplicas")),
				      "deleting",
				      json_object_get(json_object_get(w, "metadata"),
						      "deletionTimestamp") != NULL)))
			return LLMO_ENOMEM;
	}
	return 0;
}

/* Reads one cluster's nodes, pods and (remote) copies. */
static void sync_cluster(struct llmo__fed *f, struct fed_cluster *k)
{
	struct llmo_error err = {0};
	struct llmo_kube_list_opts copies = {.label_selector = f->selector};
	json_t *nodes = NULL, *pods = NULL, *wls = NULL, *ver = NULL;
	int64_t t0 = llmo_clock_mono_ns();
	int rc;

	rc = llmo_kube_request(k->client, "GET", "/version", NULL, NULL, &ver, NULL, &err);
	if (!rc) {
		double rtt = (double)(llmo_clock_mono_ns() - t0) / 1e6;

		k->rtt_ms = k->synced && k->healthy ? 0.7 * k->rtt_ms + 0.3 * rtt : rtt;
		rc = llmo_kube_list(k->client, &llmo_kube_nodes, NULL, NULL, &nodes, &err);
	}
	if (!rc)
		rc = llmo_kube_list(k->client, &llmo_kube_pods, NULL, NULL, &pods, &err);
	if (!rc && !k->local)
		rc = llmo_kube_list(k->client, &llmo_kube_llmworkloads, NULL, &copies, &wls, &err);
	if (!rc) {
		cluster_clear(k);
		rc = read_nodes(k, nodes);
		if (!rc)
			rc = read_pods(k, pods);
		if (!rc && wls)
			rc = read_copies(k, wls);
		if (rc)
			snprintf(err.msg, sizeof(err.msg), "out of memory");
	}
	json_decref(ver);
	json_decref(nodes);
	json_decref(pods);
	json_decref(wls);
	if (rc) {
		if (k->healthy || !k->synced)
			llmo_log(LLMO_LOG_WARN, LOG, "member cluster unreachable",
				 "cluster=%s error=\"%s\"", k->cfg->key, err.msg);
		k->healthy = false;
		snprintf(k->error, sizeof(k->error), "%s", err.msg);
		return;
	}
	if (!k->healthy && k->synced)
		llmo_log(LLMO_LOG_INFO, LOG, "member cluster reachable again", "cluster=%s",
			 k->cfg->key);
	k->healthy = true;
	k->synced = true;
	k->last_ok_ms = llmo_clock_mono_ms();
	k->error[0] = '\0';
	/* look again at the models and namespaces a copy needs */
	json_object_clear(k->models);
	json_object_clear(k->namespaces);
}

static bool placed(const json_t *w)
{
	return json_array_size(json_object_get(
		       json_object_get(json_object_get(w, "spec"), "placement"), "clusters")) > 0;
}

static int enqueue_placed(void *ctx, json_t *w)
{
	struct llmo_controller *c = ctx;
	char key[LLMO__CTRL_KEY_MAX];

	if (placed(w)) {
		snprintf(key, sizeof(key), "%s/%s", llmo_kube_str(w, "metadata", "namespace"),
			 llmo_kube_str(w, "metadata", "name"));
		llmo_workqueue_add(c->wq, key);
	}
	return 0;
}

/*
 * Copies whose home workload is gone (deleted while this controller was
 * away) or no longer asks for that cluster are deleted by the reconcile of
 * their workload; those whose workload is gone entirely, here.
 */
static void delete_orphans(struct llmo_controller *c, struct fed_cluster *k)
{
	const char *key;
	json_t *v;
	void *tmp;

	json_object_foreach_safe(k->copies, tmp, key, v) {
		char ns[LLMO__CTRL_KEY_MAX];
		const char *name = llmo_kube_key_split(key, ns, sizeof(ns));
		struct llmo_error err = {0};

		if (!name || llmo_informer_get(c->workloads, ns, name) ||
		    json_is_true(json_object_get(v, "deleting")))
			continue;
		if (llmo_kube_delete(k->client, &llmo_kube_llmworkloads, ns, name,
				     LLMO_KUBE_PROPAGATE_DEFAULT, NULL, &err) &&
		    err.code != LLMO_ENOTFOUND)
			continue;
		llmo_log(LLMO_LOG_INFO, LOG, "deleted an orphaned copy", "cluster=%s workload=%s",
			 k->cfg->key, key);
		json_object_del(k->copies, key);
	}
}

static void sync_tick(evutil_socket_t fd, short what, void *arg)
{
	struct llmo_controller *c = arg;
	struct llmo__fed *f = c->fed;

	int64_t ms = c->config->federation.sync_interval / 1000000;
	struct timeval tv;

	(void)fd;
	(void)what;
	if (!c->leading || !llmo__ctrl_synced(c)) {
		ms = LLMO__CTRL_UNSYNCED_MS; /* not yet: soon */
	} else {
		for (size_t i = 0; i < f->n; i++) {
			sync_cluster(f, &f->cl[i]);
			if (f->cl[i].healthy && !f->cl[i].local)
				delete_orphans(c, &f->cl[i]);
		}
		llmo_informer_list(c->workloads, NULL, enqueue_placed, c);
	}
	tv = llmo_clock_timeval(ms);
	event_add(f->timer, &tv);
}

int llmo__fed_new(struct llmo_controller *c, struct llmo_error *err)
{
	const struct llmo_federation_config *fc = &c->config->federation;
	struct llmo__fed *f;
	int rc = 0;

	if (!fc->clusters.len)
		return 0;
	if (!(f = calloc(1, sizeof(*f))) || !(f->cl = calloc(fc->clusters.len, sizeof(*f->cl)))) {
		free(f);
		return llmo_error_set(err, LLMO_ENOMEM, "federation: out of memory");
	}
	c->fed = f;
	f->n = fc->clusters.len;
	f->home = fc->local_cluster && *fc->local_cluster ? fc->local_cluster : "home";
	snprintf(f->selector, sizeof(f->selector), "%s=%s", LLMO_LABEL_FEDERATED_FROM, f->home);
	for (size_t i = 0; i < f->n && !rc; i++) {
		struct fed_cluster *k = &f->cl[i];
		struct llmo_kube_config kc = {0};

		k->cfg = &fc->clusters.items[i];
		k->local = fc->local_cluster && strcmp(fc->local_cluster, k->cfg->key) == 0;
		k->copies = json_object();
		k->models = json_object();
		k->namespaces = json_object();
		if (!k->copies || !k->models || !k->namespaces) {
			rc = llmo_error_set(err, LLMO_ENOMEM, "federation: out of memory");
			break;
		}
		if (k->local) {
			k->client = c->client;
			continue;
		}
		rc = llmo_kube_config_load(k->cfg->kubeconfig, k->cfg->context, &kc, err);
		if (!rc)
			rc = llmo_kube_client_new(&kc, &k->client, err);
		llmo_kube_config_release(&kc);
		if (rc) {
			llmo_error_prefix(err, "federation.clusters.%s", k->cfg->key);
			break;
		}
		llmo_kube_client_set_timeouts(k->client, FED_CONNECT_MS, FED_TIMEOUT_MS);
		llmo_kube_client_set_retries(k->client, 1, 100, 100);
	}
	if (!rc && !(f->timer = event_new(c->base, -1, 0, sync_tick, c)))
		rc = llmo_error_set(err, LLMO_ENOMEM, "federation: out of memory");
	return rc;
}

void llmo__fed_run(struct llmo_controller *c)
{
	if (c->fed)
		event_active(c->fed->timer, EV_TIMEOUT, 0); /* a first snapshot now */
}

int llmo__fed_metrics_put(struct llmo_controller *c, struct llmo_metrics *m,
			  struct llmo_error *err)
{
	static const char *const labels[] = {"cluster"};
	struct llmo__fed *f = c->fed;
	struct llmo_metric *up, *lat;
	int rc;

	/* declared without federation too (no samples), as every family of /metrics is */
	if ((rc = llmo_metrics_gauge(m, "llmo_controller_cluster_up",
				     "1 when the last read of the cluster's API (federation.clusters) "
				     "worked; 0 when it failed or none was made yet.",
				     labels, 1, &up, err)) ||
	    (rc = llmo_metrics_gauge(m, "llmo_controller_cluster_api_latency_seconds",
				     "Round trip of GET /version to the cluster's API, smoothed over "
				     "syncs (what latency-optimized placement orders by); only for "
				     "clusters read at least once.",
				     labels, 1, &lat, err)))
		return rc;
	for (size_t i = 0; f && i < f->n; i++) {
		const struct fed_cluster *k = &f->cl[i];
		const char *v[] = {k->cfg->key};

		llmo_metric_set(up, v, k->synced && k->healthy);
		if (k->synced)
			llmo_metric_set(lat, v, k->rtt_ms / 1000.0);
	}
	return 0;
}

void llmo__fed_release(struct llmo_controller *c)
{
	struct llmo__fed *f = c->fed;

	if (!f)
		return;
	if (f->timer)
		event_free(f->timer);
	for (size_t i = 0; i < f->n; i++) {
		struct fed_cluster *k = &f->cl[i];

		cluster_clear(k);
		llmo_vec_release(&k->nodes);
		llmo_vec_release(&k->pods);
		if (!k->local)
			llmo_kube_client_free(k->client);
		json_decref(k->copies);
		json_decref(k->models);
		json_decref(k->namespaces);
	}
	free(f->cl);
	free(f);
	c->fed = NULL;
}

/* ---- one workload ---- */

static struct fed_cluster *cluster_named(struct llmo__fed *f, const char *name)
{
	for (size_t i = 0; name && i < f->n; i++)
		if (strcmp(f->cl[i].cfg->key, name) == 0)
			return &f->cl[i];
	return NULL;
}

/* Replicas of a workload needing demand that k can hold, its own replicas' room included. */
static int64_t capacity(const struct llmo_controller *c, const struct fed_cluster *k,
			const char *key, const int64_t demand[3])
{
	double ratio = c->config->scheduler.resource_overcommit_ratio;
	int64_t total = 0, (*own)[3];

	/* what the workload's own bound replicas take on each node: one pass over the pods */
	if (!k->nodes.len || !(own = calloc(k->nodes.len, sizeof(*own))))
		return 0;
	for (size_t p = 0; p < k->pods.len; p++) {
		const struct fed_pod *fp = &k->pods.items[p];

		if (fp->node < k->nodes.len && strcmp(fp->key, key) == 0)
			for (int r = 0; r < 3; r++)
				own[fp->node][r] += fp->req[r];
	}
	for (size_t i = 0; i < k->nodes.len; i++) {
		const struct fed_node *n = &k->nodes.items[i];
		int64_t fit = FED_FIT_UNBOUNDED;

		if (!n->usable)
			continue;
		for (int r = 0; r < 3; r++) {
			int64_t free_r = r == RES_GPU ? n->alloc[r]
						      : (int64_t)((double)n->alloc[r] * ratio);

			free_r += own[i][r] - n->used[r];
			if (demand[r] > 0) {
				int64_t f_r = free_r > 0 ? free_r / demand[r] : 0;

				if (f_r < fit)
					fit = f_r;
			}
		}
		total += fit;
		if (total >= FED_FIT_UNBOUNDED) {
			total = FED_FIT_UNBOUNDED;
			break;
		}
	}
	free(own);
	return total;
}

static int64_t previous_of(const json_t *w, const char *cluster)
{
	const json_t *p, *e;
	size_t i;

	p = json_object_get(json_object_get(w, "status"), "placement");
	json_array_foreach(p, i, e) {
		const char *n = json_string_value(json_object_get(e, "cluster"));

		if (n && strcmp(n, cluster) == 0)
			return json_integer_value(json_object_get(e, "replicas"));
	}
	return 0;
}

/* The hash annotation of obj's spec (and labels): what decides a rewrite. */
static int spec_hash(const json_t *obj, char out[17])
{
	json_t *pair = json_pack("{s:O, s:O*}", "spec", json_object_get(obj, "spec"), "labels",
				 json_object_get(json_object_get(obj, "metadata"), "labels"));
	char *text = pair ? llmo_json_dump(pair, false) : NULL;

	json_decref(pair);
	if (!text)
		return LLMO_ENOMEM;
	snprintf(out, 17, "%016" PRIx64, llmo_fnv1a(text));
	free(text);
	return 0;
}

/* The member's copy of in->w with n replicas. */
static json_t *copy_of(const struct llmo__fed *f, const struct llmo__fed_in *in, int64_t n,
		       char hash[17])
{
	json_t *spec = json_deep_copy(json_object_get(in->w, "spec"));
	json_t *labels = json_deep_copy(
		json_object_get(json_object_get(in->w, "metadata"), "labels"));
	json_t *obj = NULL, *pl;
	char owner[LLMO__CTRL_KEY_MAX + 64];

	if (!labels)
		labels = json_object();
	if (!spec || !labels)
		goto out;
	if ((pl = json_object_get(spec, "placement"))) {
		json_object_del(pl, "clusters");
		json_object_del(pl, "strategy");
	}
	/* the home decides how many: the member runs exactly n and scales nothing itself */
	if (json_object_set_new(spec, "scaling",
				json_pack("{s:I, s:I}", "minReplicas", (json_int_t)n, "maxReplicas",
					  (json_int_t)n)) ||
	    json_object_set_new(labels, LLMO_LABEL_FEDERATED_FROM, json_string(f->home)))
		goto out;
	snprintf(owner, sizeof(owner), "%s %s", in->key, in->uid);
	obj = json_pack("{s:s, s:s, s:{s:s, s:s, s:O, s:{s:s}}, s:O}", "apiVersion",
			"llm.orchestrator.io/v1", "kind", "LLMWorkload", "metadata", "name",
			in->name, "namespace", in->ns, "labels", labels, "annotations",
			LLMO_ANNOTATION_FEDERATION_OWNER, owner, "spec", spec);
	if (obj && spec_hash(obj, hash)) {
		json_decref(obj);
		obj = NULL;
	}
	if (obj && json_object_set_new(json_object_get(json_object_get(obj, "metadata"),
						       "annotations"),
				       LLMO_ANNOTATION_FEDERATION_HASH, json_string(hash))) {
		json_decref(obj);
		obj = NULL;
	}
out:
	json_decref(spec);
	json_decref(labels);
	return obj;
}

static int ensure_namespace(struct fed_cluster *k, const char *ns, struct llmo_error *err)
{
	json_t *obj;
	int rc;

	if (json_object_get(k->namespaces, ns))
		return 0;
	obj = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind", "Namespace",
			"metadata", "name", ns);
	if (!obj)
		return LLMO_ENOMEM;
	rc = llmo_kube_create(k->client, &llmo_kube_namespaces, NULL, obj, NULL, err);
	json_decref(obj);
	if (rc == LLMO_EEXIST)
		rc = 0;
	if (!rc)
		json_object_set_new(k->namespaces, ns, json_true());
	return rc;
}

/* Creates or replaces obj (r) in k unless its hash says it is there already. */
static int put_object(struct fed_cluster *k, const struct llmo_kube_resource *r, json_t *obj,
		      struct llmo_error *err)
{
	const char *ns = llmo_kube_str(obj, "metadata", "namespace");
	const char *name = llmo_kube_str(obj, "metadata", "name");
	json_t *cur = NULL;
	int rc = ensure_namespace(k, ns, err);

	if (rc)
		return rc;
	rc = llmo_kube_create(k->client, r, ns, obj, NULL, err);
	if (rc != LLMO_EEXIST)
		return rc;
	memset(err, 0, sizeof(*err));
	if ((rc = llmo_kube_get(k->client, r, ns, name, &cur, err)))
		return rc;
	json_object_set(json_object_get(obj, "metadata"), "resourceVersion",
			json_object_get(json_object_get(cur, "metadata"), "resourceVersion"));
	/* the member's controller owns the finalizers (its cleanup of the replicas) */
	if (json_object_get(json_object_get(cur, "metadata"), "finalizers"))
		json_object_set(json_object_get(obj, "metadata"), "finalizers",
				json_object_get(json_object_get(cur, "metadata"), "finalizers"));
	rc = llmo_kube_update(k->client, r, ns, obj, NULL, err);
	json_decref(cur);
	return rc;
}

/* The model copy the member needs (same name, namespace and spec). */
static int put_model(const struct llmo__fed *f, struct fed_cluster *k, const json_t *model,
		     struct llmo_error *err)
{
	const char *ns = llmo_kube_str(model, "metadata", "namespace");
	const char *name = llmo_kube_str(model, "metadata", "name");
	char key[LLMO__CTRL_KEY_MAX], hash[17];
	const char *have;
	json_t *obj;
	int rc;

	if (!ns || !name)
		return 0;
	obj = json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:O}", "apiVersion",
			"llm.orchestrator.io/v1", "kind", "LLMModel", "metadata", "name", name,
			"namespace", ns, "labels", LLMO_LABEL_FEDERATED_FROM, f->home, "spec",
			json_object_get(model, "spec"));
	if (!obj || spec_hash(obj, hash)) {
		json_decref(obj);
		return LLMO_ENOMEM;
	}
	snprintf(key, sizeof(key), "%s/%s", ns, name);
	have = json_string_value(json_object_get(k->models, key));
	rc = have && strcmp(have, hash) == 0 ? 0 : put_object(k, &llmo_kube_llmmodels, obj, err);
	if (!rc)
		json_object_set_new(k->models, key, json_string(hash));
	json_decref(obj);
	return rc;
}

/* Makes k's copy of the workload have n replicas (n 0: none). */
static int sync_copy(const struct llmo__fed *f, struct fed_cluster *k,
		     const struct llmo__fed_in *in, int64_t n, struct llmo_error *err)
{
	json_t *have = json_object_get(k->copies, in->key), *obj;
	char hash[17];
	int rc;

	if (n <= 0) {
		if (!have)
			return 0;
		rc = llmo_kube_delete(k->client, &llmo_kube_llmworkloads, in->ns, in->name,
				      LLMO_KUBE_PROPAGATE_DEFAULT, NULL, err);
		if (rc == LLMO_ENOTFOUND)
			rc = 0;
		if (!rc)
			json_object_del(k->copies, in->key);
		return rc;
	}
	if (in->model && (rc = put_model(f, k, in->model, err)))
		return rc;
	if (!(obj = copy_of(f, in, n, hash)))
		return LLMO_ENOMEM;
	if (have && strcmp(json_string_value(json_object_get(have, "hash")), hash) == 0) {
		json_decref(obj);
		return 0;
	}
	rc = put_object(k, &llmo_kube_llmworkloads, obj, err);
	json_decref(obj);
	if (!rc) {
		json_t *e = json_pack("{s:s, s:s, s:I, s:I, s:b}", "hash", hash, "owner", "",
				      "replicas",
				      have ? json_integer_value(json_object_get(have, "replicas")) : 0,
				      "ready",
				      have ? json_integer_value(json_object_get(have, "ready")) : 0,
				      "deleting", false);

		if (!e || json_object_set_new(k->copies, in->key, e))
			return LLMO_ENOMEM;
	}
	return rc;
}

static void add_endpoints(const struct fed_cluster *k, const char *key, json_t *eps,
			  int64_t *ready)
{
	for (size_t i = 0; i < k->pods.len; i++) {
		const struct fed_pod *p = &k->pods.items[i];

		if (!p->ready || strcmp(p->key, key) != 0)
			continue;
		(*ready)++;
		if (p->endpoint[0])
			json_array_append_new(eps, json_string(p->endpoint));
	}
}

static void say(struct llmo__fed_out *out, const char *reason, const char *fmt, ...)
	LLMO_PRINTF(3, 4);

static void say(struct llmo__fed_out *out, const char *reason, const char *fmt, ...)
{
	size_t n = strlen(out->message);
	va_list ap;

	if (out->satisfied || !out->reason[0])
		snprintf(out->reason, sizeof(out->reason), "%s", reason);
	out->satisfied = false;
	if (n && n + 2 < sizeof(out->message)) {
		memcpy(out->message + n, "; ", 3);
		n += 2;
	}
	va_start(ap, fmt);
	if (n < sizeof(out->message))
		vsnprintf(out->message + n, sizeof(out->message) - n, fmt, ap);
	va_end(ap);
}

int llmo__fed_reconcile(struct llmo_controller *c, const struct llmo__fed_in *in,
			struct llmo__fed_out *out)
{
	struct llmo__fed *f = c->fed;
	const json_t *spec = json_object_get(in->w, "spec");
	const json_t *pl = json_object_get(spec, "placement");
	const json_t *names = json_object_get(pl, "clusters"), *v;
	enum llmo__fed_strategy st =
		llmo__fed_strategy_parse(json_string_value(json_object_get(pl, "strategy")));
	bool encrypted = json_is_true(
		json_object_get(json_object_get(spec, "security"), "encryption"));
	struct llmo__fed_site sites[32];
	struct fed_cluster *ks[32];
	int64_t n[32], now = llmo_clock_mono_ms();
	int64_t grace = c->config->federation.failover_after / 1000000;
	size_t m = 0, i;

	memset(out, 0, sizeof(*out));
	if (!json_array_size(names) && !in->deleting)
		return 0;
	out->federated = true;
	out->satisfied = true;
	snprintf(out->reason, sizeof(out->reason), "Placed");
	out->placement = json_array();
	out->endpoints = json_array();
	if (!out->placement || !out->endpoints)
		return LLMO_ENOMEM;
	if (!f) {
		say(out, "FederationNotConfigured",
		    "spec.placement.clusters names clusters but the configuration has no "
		    "federation.clusters; every replica runs in this cluster");
		out->local = in->total;
		return 0;
	}
	json_array_foreach(names, i, v) {
		const char *name = json_string_value(v);
		struct fed_cluster *k = cluster_named(f, name);
		bool dup = false;

		for (size_t j = 0; j < m; j++)
			dup = dup || (k && ks[j] == k);
		if (dup || m >= LLMO_ARRAY_LEN(sites))
			continue;
		if (!k) {
			say(out, "UnknownCluster", "cluster %s is not in federation.clusters",
			    name ? name : "");
			continue;
		}
		ks[m] = k;
		sites[m] = (struct llmo__fed_site){
			.name = k->cfg->key,
			.cost = k->cfg->cost_per_gpu_hour,
			.rtt_ms = k->rtt_ms,
			.previous = previous_of(in->w, k->cfg->key),
		};
		if (k->synced && k->healthy) {
			sites[m].usable = true;
			sites[m].capacity = capacity(c, k, in->key, in->demand);
		} else if (k->synced && now - k->last_ok_ms < grace) {
			sites[m].hold = true;
		}
		m++;
	}
	if (in->deleting) {
		for (i = 0; i < f->n; i++) {
			struct fed_cluster *k = &f->cl[i];
			struct llmo_error err = {0};

			if (k->local || !json_object_get(k->copies, in->key))
				continue;
			if (sync_copy(f, k, in, 0, &err) && k->synced &&
			    now - k->last_ok_ms < grace) {
				out->copies_left = true;
				say(out, "CopyNotDeleted", "%s: %s", k->cfg->key, err.msg);
			}
		}
		return 0;
	}
	out->unplaced = llmo__fed_assign(st, sites, m, in->total, n);
	if (out->unplaced > 0) {
		say(out, "InsufficientCapacity",
		    "%" PRId64 " of %" PRId64 " replicas fit in no cluster of [%s%s]", out->unplaced,
		    in->total, m ? ks[0]->cfg->key : "", m > 1 ? ", ..." : "");
		out->requeue_ms = c->config->federation.sync_interval / 1000000;
	}
	/* clusters no longer named (or given nothing) lose their copies */
	for (i = 0; i < f->n; i++) {
		struct fed_cluster *k = &f->cl[i];
		struct llmo_error err = {0};
		bool named = false;

		for (size_t j = 0; j < m; j++)
			named = named || (ks[j] == k && n[j] > 0);
		if (named || k->local || !k->healthy || !json_object_get(k->copies, in->key))
			continue;
		if (sync_copy(f, k, in, 0, &err))
			say(out, "CopyNotDeleted", "%s: %s", k->cfg->key, err.msg);
	}
	for (size_t j = 0; j < m; j++) {
		struct fed_cluster *k = ks[j];
		struct llmo_error err = {0};
		int64_t ready = 0;
		json_t *eps = json_array(), *e;

		if (!eps)
			return LLMO_ENOMEM;
		if (k->local) {
			out->local = n[j];
		} else {
			out->remote_wanted += n[j];
			if (k->healthy && sync_copy(f, k, in, n[j], &err))
				say(out, "CopyNotWritten", "%s: %s", k->cfg->key, err.msg);
			if (k->healthy && n[j] > 0)
				add_endpoints(k, in->key, eps, &ready);
			/* replicas on their way out (a scale-in) do not count */
			if (ready > n[j])
				ready = n[j];
			out->remote_ready += ready;
			for (size_t x = 0; !encrypted && x < json_array_size(eps); x++)
				json_array_append(out->endpoints, json_array_get(eps, x));
		}
		if (!k->synced)
			say(out, "ClusterUnknown", "%s: not read yet", k->cfg->key);
		else if (!k->healthy)
			say(out, "ClusterUnreachable", "%s: %s%s", k->cfg->key, k->error,
			    sites[j].hold ? " (its replicas move after federation.failoverAfter)"
					  : "");
		e = json_pack("{s:s, s:I, s:b}", "cluster", k->cfg->key, "replicas", (json_int_t)n[j],
			      "reachable", k->healthy);
		if (!e) {
			json_decref(eps);
			return LLMO_ENOMEM;
		}
		if (!k->local) {
			json_object_set_new(e, "readyReplicas", json_integer(ready));
			/*
			 * An encrypted workload's member replicas serve HTTPS with the
			 * member's own CA, which this cluster's gateway does not trust:
			 * they are not offered to it (the member's gateway serves them).
			 */
			if (json_array_size(eps) && !encrypted)
				json_object_set(e, "endpoints", eps);
		}
		if (k->cfg->region && *k->cfg->region)
			json_object_set_new(e, "region", json_string(k->cfg->region));
		json_object_set_new(e, "costPerGPUHour", json_real(k->cfg->cost_per_gpu_hour));
		if (k->healthy && !k->local)
			json_object_set_new(e, "latencyMs", json_real(round(k->rtt_ms * 100) / 100));
		json_array_append_new(out->placement, e);
		json_decref(eps);
	}
	if (out->satisfied)
		snprintf(out->message, sizeof(out->message), "%" PRId64 " replicas over %zu clusters",
			 in->total, m);
	if (!out->requeue_ms && out->remote_ready < out->remote_wanted)
		out->requeue_ms = c->config->federation.sync_interval / 1000000;
	return 0;
}

void llmo__fed_out_release(struct llmo__fed_out *out)
{
	json_decref(out->placement);
	json_decref(out->endpoints);
	out->placement = out->endpoints = NULL;
}
