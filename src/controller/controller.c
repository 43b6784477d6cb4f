/*
 * The controller's wiring: informers, queues, leader election; see controller.h.
 */
#include "base/common.h"

#include <event2/event.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/json.h"
#include "base/log.h"
#include "base/str.h"
#include "controller/controller_int.h"
#include "controller/federation.h"
#include "controller/prefetch.h"
#include "controller/rebalance.h"
#include "controller/scale.h"
#include "controller/vertical.h"

#include "base/banned.h"

/* ---- helpers shared with workload.c and model.c ---- */

bool llmo__ctrl_synced(const struct llmo_controller *c)
{
	return llmo_informer_synced(c->workloads) && llmo_informer_synced(c->models) &&
	       llmo_informer_synced(c->pods) && llmo_informer_synced(c->services) &&
	       llmo_informer_synced(c->netpols);
}

json_t *llmo__obj_ref(const json_t *obj, const char *api_version, const char *kind)
{
	json_t *meta = json_object_get(obj, "metadata");

	return json_pack("{s:s, s:s, s:{s:O?, s:O?, s:O?, s:O?}}", "apiVersion", api_version,
			 "kind", kind, "metadata", "name", json_object_get(meta, "name"),
			 "namespace", json_object_get(meta, "namespace"), "uid",
			 json_object_get(meta, "uid"), "resourceVersion",
			 json_object_get(meta, "resourceVersion"));
}

int llmo__condition_set(json_t *conds, const json_t *old_obj, const char *type, bool status,
			const char *reason, const char *message, json_int_t generation)
{
	const char *st = status ? "True" : "False";
	json_t *old = llmo_kube_condition(old_obj, type);
	const char *old_st = json_string_value(json_object_get(old, "status"));
	const char *old_time = json_string_value(json_object_get(old, "lastTransitionTime"));
	char ts[64];

	if (old_st && old_time && strcmp(old_st, st) == 0) {
		snprintf(ts, sizeof(ts), "%s", old_time);
	} else if (llmo_time_format_rfc3339(llmo_clock_wall_ms(), false, ts, sizeof(ts))) {
		ts[0] = '\0';
	}
	return json_array_append_new(conds,
				     json_pack("{s:s, s:s, s:s, s:s, s:I, s:s}", "type", type,
					       "status", st, "reason", reason, "message", message,
					       "observedGeneration", generation,
					       "lastTransitionTime", ts))
		       ? LLMO_ENOMEM
		       : 0;
}

bool llmo__pod_finished(const json_t *pod)
{
	const char *phase = llmo_kube_str(pod, "status", "phase");

	return phase && (strcmp(phase, "Succeeded") == 0 || strcmp(phase, "Failed") == 0);
}

int llmo__pod_endpoint(const json_t *pod, int port, char *out, size_t n)
{
	const char *ip = llmo_kube_str(pod, "status", "podIP");
	const char *hp = llmo_kube_annotation(pod, LLMO_ANNOTATION_HOST_PORTS);
	char key[16];
	json_t *map;
	json_int_t p = port;

	if (!p)
		p = json_integer_value(json_object_get(
			json_array_get(json_object_get(json_array_get(json_object_get(
							       json_object_get(pod, "spec"),
							       "containers"),
						       0),
						"ports"),
				       0),
			"containerPort"));
	if (!ip || !*ip || p <= 0)
		return -1;
	if (hp && (map = json_loads(hp, 0, NULL)) != NULL) {
		snprintf(key, sizeof(key), "%" JSON_INTEGER_FORMAT, p);
		if (json_is_integer(json_object_get(map, key)))
			p = json_integer_value(json_object_get(map, key));
		json_decref(map);
	}
	snprintf(out, n, strchr(ip, ':') ? "[%s]:%" JSON_INTEGER_FORMAT : "%s:%" JSON_INTEGER_FORMAT,
		 ip, p);
	return 0;
}

void llmo__random_suffix(struct llmo_controller *c, char *out, size_t len)
{
	/* kube's generateName alphabet: no vowels, no look-alikes */
	static const char alphabet[] = "bcdfghjklmnpqrstvwxz2456789";

	for (size_t i = 0; i < len; i++) {
		/* xorshift64*: names need to differ, not to be secret */
		c->rng ^= c->rng >> 12;
		c->rng ^= c->rng << 25;
		c->rng ^= c->rng >> 27;
		out[i] = alphabet[((c->rng * 2685821657736338717ULL) >> 33) %
				  (sizeof(alphabet) - 1)];
	}
	out[len] = '\0';
}

/* ---- watched namespaces ---- */

static bool watched(const struct llmo_controller *c, const json_t *obj)
{
	const struct llmo_strlist *ns = &c->config->operator_.watch_namespaces;
	const char *n = llmo_kube_str(obj, "metadata", "namespace");

	return ns->len == 0 || (n && llmo_strlist_has(ns, n));
}

static void enqueue(struct llmo_workqueue *q, const struct llmo_controller *c, const json_t *obj)
{
	char key[LLMO__CTRL_KEY_MAX];

	if (watched(c, obj) && llmo_kube_object_key(obj, key, sizeof(key)) == 0)
		llmo_workqueue_add(q, key);
}

struct enq {
	struct llmo_controller *c;
	struct llmo_workqueue *q;
};

static int enqueue_each(void *ctx, json_t *obj)
{
	struct enq *e = ctx;

	enqueue(e->q, e->c, obj);
	return 0;
}

/* Every workload (or model) of ns into its queue. */
static void enqueue_ns(struct llmo_controller *c, struct llmo_informer *inf,
		       struct llmo_workqueue *q, const char *ns)
{
	struct enq e = {c, q};

	if (ns)
		llmo_informer_list(inf, ns, enqueue_each, &e);
}

/* ---- informer handlers ---- */

static void on_workload(struct llmo_controller *c, const json_t *obj)
{
	enqueue(c->wq, c, obj);
	/* the models' usedBy lists */
	enqueue_ns(c, c->models, c->mq, llmo_kube_str(obj, "metadata", "namespace"));
}

static void wl_add(void *ctx, json_t *obj)
{
	on_workload(ctx, obj);
}

static void wl_update(void *ctx, json_t *old_obj, json_t *new_obj)
{
	on_workload(ctx, new_obj);
}

static void wl_delete(void *ctx, json_t *obj)
{
	on_workload(ctx, obj);
}

static void on_model(struct llmo_controller *c, const json_t *obj)
{
	enqueue(c->mq, c, obj);
	enqueue_ns(c, c->workloads, c->wq, llmo_kube_str(obj, "metadata", "namespace"));
}

static void model_add(void *ctx, json_t *obj)
{
	on_model(ctx, obj);
}

static void model_update(void *ctx, json_t *old_obj, json_t *new_obj)
{
	on_model(ctx, new_obj);
}

static void model_delete(void *ctx, json_t *obj)
{
	on_model(ctx, obj);
}

/* A pod or Service labelled with its workload: requeue that workload. */
static void on_owned(struct llmo_controller *c, const json_t *obj)
{
	const char *ns = llmo_kube_str(obj, "metadata", "namespace");
	const char *w = json_string_value(json_object_get(
		json_object_get(json_object_get(obj, "metadata"), "labels"), LLMO_LABEL_WORKLOAD));
	char key[LLMO__CTRL_KEY_MAX];
	int n;

	if (!ns || !w || !watched(c, obj))
		return;
	n = snprintf(key, sizeof(key), "%s/%s", ns, w);
	if (n > 0 && (size_t)n < sizeof(key))
		llmo_workqueue_add(c->wq, key);
}

static void owned_add(void *ctx, json_t *obj)
{
	on_owned(ctx, obj);
}

static void owned_update(void *ctx, json_t *old_obj, json_t *new_obj)
{
	on_owned(ctx, new_obj);
}

static void owned_delete(void *ctx, json_t *obj)
{
	on_owned(ctx, obj);
}

/* A NetworkPolicy changed: the workloads of its namespace may name it (NetworkPoliciesApplied). */
static void on_netpol(struct llmo_controller *c, const json_t *obj)
{
	enqueue_ns(c, c->workloads, c->wq, llmo_kube_str(obj, "metadata", "namespace"));
}

static void netpol_add(void *ctx, json_t *obj)
{
	on_netpol(ctx, obj);
}

static void netpol_update(void *ctx, json_t *old_obj, json_t *new_obj)
{
	on_netpol(ctx, new_obj);
}

static void netpol_delete(void *ctx, json_t *obj)
{
	on_netpol(ctx, obj);
}

/* ---- leader election ---- */

static void requeue_everything(struct llmo_controller *c)
{
	struct enq w = {c, c->wq}, m = {c, c->mq};

	llmo_informer_list(c->workloads, NULL, enqueue_each, &w);
	llmo_informer_list(c->models, NULL, enqueue_each, &m);
}

/* One Ready replica's vLLM metrics (KV cache usage, waiting and running requests). */
static int read_replica(void *ctx, json_t *pod)
{
	struct llmo_controller *c = ctx;
	const char *ns = llmo_kube_str(pod, "metadata", "namespace");
	const char *wl = json_string_value(json_object_get(
		json_object_get(json_object_get(pod, "metadata"), "labels"), LLMO_LABEL_WORKLOAD));
	char ep[128], key[LLMO__CTRL_KEY_MAX];

	if (!ns || !wl || c->replica_reads >= LLMO__SIG_REPLICAS_MAX ||
	    json_object_get(json_object_get(pod, "metadata"), "deletionTimestamp") ||
	    !llmo_kube_condition_true(pod, "Ready") || llmo__pod_endpoint(pod, 0, ep, sizeof(ep)))
		return 0;
	c->replica_reads++;
	snprintf(key, sizeof(key), "%s/%s", ns, wl);
	llmo__signals_scrape_replica(
		&c->signals, key, ep,
		llmo_kube_annotation(pod, LLMO_ANNOTATION_TLS_SERVER_NAME),
		c->replica_ca_cert);
	return 0;
}

struct gw_list {
	struct llmo_strv *ids, *urls;
	int rc;
};

/* A Ready gateway pod: its uid and http://IP:PORT/metrics (prometheus.io/port, or port "http"). */
static int add_gateway_pod(void *ctx, json_t *pod)
{
	struct gw_list *l = ctx;
	const char *uid = llmo_kube_str(pod, "metadata", "uid");
	const char *ip = llmo_kube_str(pod, "status", "podIP");
	const char *ann = llmo_kube_annotation(pod, "prometheus.io/port");
	long port = ann ? strtol(ann, NULL, 10) : 0;
	char url[160];
	const json_t *c, *p;
	size_t i, j;

	if (!uid || !ip || !llmo_kube_condition_true(pod, "Ready"))
		return 0;
	json_array_foreach(llmo_json_get_path(pod, "spec.containers"), i, c) {
		json_array_foreach(json_object_get(c, "ports"), j, p) {
			const char *name = json_string_value(json_object_get(p, "name"));

			if (!port && name && strcmp(name, "http") == 0)
				port = (long)json_integer_value(json_object_get(p, "containerPort"));
		}
	}
	if (port <= 0 || port > 65535)
		return 0;
	snprintf(url, sizeof(url), strchr(ip, ':') ? "http://[%s]:%ld/metrics"
						   : "http://%s:%ld/metrics",
		 ip, port);
	if (llmo_strv_push(l->ids, uid) || llmo_strv_push(l->urls, url))
		return l->rc = LLMO_ENOMEM;
	return 0;
}

/* signals.h: the gateways to read this tick (opts.gateway_pods). */
static int list_gateways(void *ctx, struct llmo_strv *ids, struct llmo_strv *urls)
{
	struct llmo_controller *c = ctx;
	struct gw_list l = {ids, urls, 0};

	llmo_informer_list(c->gw_pods, NULL, add_gateway_pod, &l);
	return l.rc;
}

/*
 * Reads the gateway's metrics, then looks at every workload again: the
 * autoscaler, canary analyses and drains act on fresh numbers.
 */
static void scrape_tick(evutil_socket_t fd, short what, void *arg)
{
	struct llmo_controller *c = arg;
	struct enq w = {c, c->wq};
	bool failing = c->signals.error[0] != '\0';

	(void)fd;
	(void)what;
	if (!c->leading)
		return;
	if (llmo__signals_scrape(&c->signals)) {
		if (!failing)
			llmo_log(LLMO_LOG_WARN, LLMO__CTRL_LOG, "gateway metrics unavailable",
				 "error=\"%s\"", c->signals.error);
		return;
	}
	if (failing)
		llmo_log(LLMO_LOG_INFO, LLMO__CTRL_LOG, "gateway metrics available again",
			 "url=%s", c->signals.url);
	llmo__signals_replicas_begin(&c->signals);
	c->replica_reads = 0;
	llmo_informer_list(c->pods, NULL, read_replica, c);
	llmo__signals_replicas_end(&c->signals);
	llmo_informer_list(c->workloads, NULL, enqueue_each, &w);
}

/* The reconcilers, counted for /metrics. */
static int counted_workload(void *ctx, const char *key)
{
	struct llmo_controller *c = ctx;
	int rc = llmo__workload_reconcile(ctx, key);

	if (rc)
		c->counters.wl_err++;
	else
		c->counters.wl_ok++;
	return rc;
}

static int counted_model(void *ctx, const char *key)
{
	struct llmo_controller *c = ctx;
	int rc = llmo__model_reconcile(ctx, key);

	if (rc)
		c->counters.model_err++;
	else
		c->counters.model_ok++;
	return rc;
}

int llmo_controller_metrics_port(const struct llmo_controller *c)
{
	return c->http ? c->metrics_port : 0;
}

static void started_leading(void *ctx)
{
	struct llmo_controller *c = ctx;

	llmo_log(LLMO_LOG_INFO, LLMO__CTRL_LOG, "leading", "identity=%s", c->identity);
	c->leading = true;
	requeue_everything(c);
}

static void stopped_leading(void *ctx)
{
	struct llmo_controller *c = ctx;

	llmo_log(LLMO_LOG_INFO, LLMO__CTRL_LOG, "stopped leading", "identity=%s", c->identity);
	c->leading = false;
}

static void new_leader(void *ctx, const char *identity)
{
	llmo_log(LLMO_LOG_INFO, LLMO__CTRL_LOG, "leader", "identity=%s", identity);
}

/* ---- life cycle ---- */

static int ensure_namespace(struct llmo_controller *c, struct llmo_error *err)
{
	json_t *ns = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind", "Namespace",
			       "metadata", "name", c->lease_ns);
	int rc;

	if (!ns)
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	rc = llmo_kube_create(c->client, &llmo_kube_namespaces, NULL, ns, NULL, err);
	json_decref(ns);
	if (rc == LLMO_EEXIST || rc == LLMO_EDENIED)
		rc = 0; /* there, or not ours to make: the Lease write will tell */
	return rc;
}

int llmo_controller_new(struct llmo_kube_client *client, struct event_base *base,
			const struct llmo_controller_opts *opts, struct llmo_controller **out,
			struct llmo_error *err)
{
	static const struct llmo_informer_handlers wl_h = {wl_add, wl_update, wl_delete};
	static const struct llmo_informer_handlers model_h = {model_add, model_update,
							      model_delete};
	static const struct llmo_informer_handlers owned_h = {owned_add, owned_update,
							      owned_delete};
	static const struct llmo_informer_handlers netpol_h = {netpol_add, netpol_update,
							       netpol_delete};
	struct llmo_controller *c;
	char host[256], id[320], gw_desc[600], gw_ns[254] = "";
	const char *gw_sel = NULL;
	int rc = 0;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return llmo_error_set(err, LLMO_ENOMEM, "controller: out of memory");
	c->client = client;
	c->base = base;
	llmo_hmap_init(&c->heal);
	llmo_hmap_init(&c->expect);
	llmo_hmap_init(&c->rollouts);
	llmo_hmap_init(&c->scalers);
	llmo_hmap_init(&c->verticals);
	llmo_hmap_init(&c->prefetches);
	llmo_hmap_init(&c->rebalanced);
	llmo_hmap_init(&c->tls_checked);
	c->vertical_sample_ms =
		opts->vertical_sample_ms > 0 ? opts->vertical_sample_ms : LLMO__VERT_SAMPLE_MS;
	llmo_hmap_init(&c->benches);
	c->bench = opts->bench;
	if (opts->gateway_pods && (opts->prometheus_url || opts->gateway_metrics_url)) {
		free(c);
		return llmo_error_set(err, LLMO_EINVAL,
				      "controller: the gateway pods, the gateway's URL and Prometheus "
				      "are three sources of the same metrics: give one");
	}
	if (opts->gateway_pods) {
		snprintf(gw_desc, sizeof(gw_desc), "the gateway pods %s", opts->gateway_pods);
		gw_sel = llmo_kube_key_split(opts->gateway_pods, gw_ns, sizeof(gw_ns));
		if (!gw_sel || !gw_ns[0] || !gw_sel[0]) {
			free(c);
			return llmo_error_set(err, LLMO_EINVAL,
					      "controller: gateway pods \"%s\": want "
					      "NAMESPACE/LABEL_SELECTOR",
					      opts->gateway_pods);
		}
	}
	rc = llmo__signals_init(&c->signals,
				opts->gateway_pods     ? gw_desc
				: opts->prometheus_url ? opts->prometheus_url
						       : opts->gateway_metrics_url,
				opts->scrape_interval_ms > 0 ? opts->scrape_interval_ms
							     : LLMO_CONTROLLER_SCRAPE_MS,
				err);
	if (!rc && opts->gateway_pods) {
		c->signals.gateways_fn = list_gateways;
		c->signals.gateways_ctx = c;
	} else if (!rc && opts->prometheus_url) {
		c->signals.prometheus = true;
		c->signals.lag_ms = LLMO_CONTROLLER_PROMETHEUS_LAG_MS;
	} else if (!rc && opts->gateway_metrics_url && opts->gateway_metrics_ca &&
		   !(c->signals.ca = llmo_strdup(opts->gateway_metrics_ca))) {
		llmo__signals_release(&c->signals);
		rc = llmo_error_set(err, LLMO_ENOMEM, "controller: out of memory");
	}
	if (rc) {
		free(c);
		return rc;
	}
	c->rng = (uint64_t)llmo_clock_mono_ns() ^ ((uint64_t)getpid() << 32) ^ (uintptr_t)c;
	if (!c->rng)
		c->rng = 88172645463325252ULL;
	if (opts->config) {
		c->config = opts->config;
	} else {
		struct llmo_errlist errs;

		llmo_errlist_init(&errs);
		rc = llmo_config_from_json(NULL, &c->own_config, &errs);
		llmo_errlist_release(&errs);
		if (rc) {
			rc = llmo_error_set(err, rc, "controller: default configuration: %s",
					    llmo_strerror(rc));
			goto out;
		}
		c->config = &c->own_config;
	}
	c->leader_election = opts->leader_election;
	c->backoff_base_ms = opts->backoff_base_ms > 0 ? opts->backoff_base_ms
						       : LLMO_CONTROLLER_BACKOFF_MS;
	c->backoff_max_ms = opts->backoff_max_ms > 0 ? opts->backoff_max_ms
						     : LLMO_CONTROLLER_BACKOFF_MAX_MS;
	c->node_grace_ms = opts->node_grace_ms > 0 ? opts->node_grace_ms
						   : LLMO_CONTROLLER_NODE_GRACE_MS;
	c->node_check_ms = opts->node_check_ms > 0 ? opts->node_check_ms
						   : LLMO_CONTROLLER_NODE_CHECK_MS;
	c->node_lifecycle = opts->node_lifecycle;
	c->migrate_timeout_ms = opts->migrate_timeout_ms > 0 ? opts->migrate_timeout_ms
							     : LLMO_CONTROLLER_MIGRATE_TIMEOUT_MS;
	c->migrate_unschedulable_ms = opts->migrate_unschedulable_ms > 0
					      ? opts->migrate_unschedulable_ms
					      : LLMO_CONTROLLER_MIGRATE_UNSCHEDULABLE_MS;
	c->node_timer = event_new(base, -1, EV_PERSIST, llmo__nodes_check, c);
	if (c->node_timer && c->signals.url)
		c->scrape_timer = event_new(base, -1, EV_PERSIST, scrape_tick, c);
	if (c->config->resource_manager.optimization_interval > 0)
		c->rebalance_timer = event_new(base, -1, EV_PERSIST, llmo__rebalance_tick, c);
	if (!c->node_timer || (c->signals.url && !c->scrape_timer) ||
	    (c->config->resource_manager.optimization_interval > 0 && !c->rebalance_timer)) {
		rc = llmo_error_set(err, LLMO_ENOMEM, "controller: out of memory");
		goto out;
	}
	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "llmo");
	host[sizeof(host) - 1] = '\0';
	snprintf(id, sizeof(id), "%s_%ld", host, (long)getpid());
	c->identity = llmo_strdup(opts->identity ? opts->identity : id);
	c->lease_ns = llmo_strdup(opts->lease_namespace	       ? opts->lease_namespace
				  : c->config->operator_.namespace_ ? c->config->operator_.namespace_
								    : "llm-orchestrator");
	if (opts->replica_ca_cert && opts->replica_ca_key) {
		c->replica_ca_cert = llmo_strdup(opts->replica_ca_cert);
		c->replica_ca_key = llmo_strdup(opts->replica_ca_key);
	}
	c->scheduler_name = llmo_strdup(opts->scheduler_name ? opts->scheduler_name
							     : "llmo-scheduler");
	if (opts->trusted_keys && !(c->trusted_keys = llmo_strdup(opts->trusted_keys))) {
		rc = llmo_error_set(err, LLMO_ENOMEM, "controller: out of memory");
		goto out;
	}
	if (opts->fetch_image && *opts->fetch_image &&
	    (!(c->fetch_image = llmo_strdup(opts->fetch_image)) ||
	     !(c->node_cache_path = llmo_strdup(opts->node_cache_path
							? opts->node_cache_path
							: LLMO_NODE_CACHE_PATH_DEFAULT)))) {
		rc = llmo_error_set(err, LLMO_ENOMEM, "controller: out of memory");
		goto out;
	}
	if (!c->identity || !c->lease_ns || !c->scheduler_name) {
		rc = llmo_error_set(err, LLMO_ENOMEM, "controller: out of memory");
		goto out;
	}
	rc = llmo_workqueue_new(base, counted_workload, c, &c->wq, err);
	if (!rc)
		rc = llmo_workqueue_new(base, counted_model, c, &c->mq, err);
	c->extra_metrics = opts->extra_metrics;
	c->extra_metrics_arg = opts->extra_metrics_arg;
	if (!rc && opts->metrics_host)
		rc = llmo__exporter_start(c, opts->metrics_host, opts->metrics_port, err);
	if (!rc) {
		llmo_workqueue_set_backoff(c->wq, 50, 30000);
		llmo_workqueue_set_backoff(c->mq, 50, 30000);
		rc = llmo_event_recorder_new(client, "llmo-controller", NULL, &c->rec, err);
	}
	if (!rc)
		rc = llmo_informer_new(client, &llmo_kube_llmworkloads, NULL, NULL, base, &wl_h, c,
				       &c->workloads, err);
	if (!rc)
		rc = llmo_informer_new(client, &llmo_kube_llmmodels, NULL, NULL, base, &model_h, c,
				       &c->models, err);
	if (!rc)
		rc = llmo_informer_new(client, &llmo_kube_pods, NULL, LLMO_LABEL_WORKLOAD, base,
				       &owned_h, c, &c->pods, err);
	if (!rc)
		rc = llmo_informer_new(client, &llmo_kube_services, NULL, LLMO_LABEL_WORKLOAD, base,
				       &owned_h, c, &c->services, err);
	if (!rc && opts->gateway_pods)
		rc = llmo_informer_new(client, &llmo_kube_pods, gw_ns, gw_sel, base, NULL, NULL,
				       &c->gw_pods, err);
	if (!rc)
		rc = llmo_informer_new(client, &llmo_kube_networkpolicies, NULL, NULL, base,
				       &netpol_h, c, &c->netpols, err);
	if (!rc)
		rc = llmo_informer_set_transform(c->netpols, llmo__netpol_transform, NULL, err);
	/* the node families of /metrics: no handlers, read at a scrape; none when not served */
	if (!rc && opts->metrics_host)
		rc = llmo_informer_new(client, &llmo_kube_nodes, NULL, NULL, base, NULL, NULL,
				       &c->metric_nodes, err);
	if (!rc && c->metric_nodes)
		rc = llmo_informer_set_transform(c->metric_nodes, llmo__node_metrics_node_transform,
						 NULL, err);
	if (!rc && c->metric_nodes)
		rc = llmo_informer_new(client, &llmo_kube_pods, NULL, NULL, base, NULL, NULL,
				       &c->metric_pods, err);
	if (!rc && c->metric_pods)
		rc = llmo_informer_set_transform(c->metric_pods, llmo__node_metrics_pod_transform,
						 NULL, err);
	if (!rc && c->leader_election) {
		const struct llmo_operator_config *op = &c->config->operator_;
		struct llmo_leader_config lc = {
			.ns = c->lease_ns,
			.name = "llmo-controller",
			.identity = c->identity,
			.lease_duration_ms = (long)(op->lease_duration / 1000000),
			.renew_deadline_ms = (long)(op->renew_deadline / 1000000),
			.retry_period_ms = (long)(op->retry_period / 1000000),
			.started_leading = started_leading,
			.stopped_leading = stopped_leading,
			.new_leader = new_leader,
			.ctx = c,
		};

		rc = llmo_leader_new(client, base, &lc, &c->leader, err);
	}
	if (!rc)
		rc = llmo__fed_new(c, err);
out:
	if (rc) {
		llmo_controller_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

int llmo_controller_start(struct llmo_controller *c, struct llmo_error *err)
{
	/* the metric caches are NULL when /metrics is not served */
	struct llmo_informer *infs[] = {c->models,	 c->workloads,	 c->pods,
					c->services,	 c->netpols,	 c->metric_nodes,
					c->metric_pods, c->gw_pods};
	int rc = 0;

	if (c->started)
		return llmo_error_set(err, LLMO_EINVAL, "controller: already started");
	for (size_t i = 0; i < sizeof(infs) / sizeof(infs[0]) && !rc; i++)
		rc = infs[i] ? llmo_informer_start(infs[i], err) : 0;
	if (!rc && c->leader) {
		rc = ensure_namespace(c, err);
		if (!rc)
			rc = llmo_leader_start(c->leader, err);
	} else if (!rc) {
		c->leading = true;
	}
	if (rc) {
		for (size_t i = 0; i < sizeof(infs) / sizeof(infs[0]); i++)
			if (infs[i])
				llmo_informer_stop(infs[i]);
		return rc;
	}
	if (c->node_lifecycle) {
		struct timeval tv = {c->node_check_ms / 1000, (c->node_check_ms % 1000) * 1000};

		event_add(c->node_timer, &tv);
	}
	if (c->scrape_timer) {
		long ms = c->signals.interval_ms;
		struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

		event_add(c->scrape_timer, &tv);
	}
	if (c->rebalance_timer) {
		int64_t ms = c->config->resource_manager.optimization_interval / 1000000;
		struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};

		event_add(c->rebalance_timer, &tv);
	}
	llmo__fed_run(c);
	c->started = true;
	llmo_log(LLMO_LOG_INFO, LLMO__CTRL_LOG, "started", "identity=%s leader_election=%s",
		 c->identity, c->leader ? "true" : "false");
	return 0;
}

static void free_rollout(void *v)
{
	free(v);
}

static void free_heal(void *v)
{
	free(v);
}

void llmo_controller_free(struct llmo_controller *c)
{
	if (!c)
		return;
	if (c->node_timer)
		event_free(c->node_timer);
	if (c->scrape_timer)
		event_free(c->scrape_timer);
	if (c->rebalance_timer)
		event_free(c->rebalance_timer);
	llmo__fed_release(c);
	llmo_metrics_http_free(c->http);
	llmo__bench_release_all(c);
	llmo_leader_free(c->leader);
	c->leading = false;
	llmo_informer_free(c->workloads);
	llmo_informer_free(c->models);
	llmo_informer_free(c->pods);
	llmo_informer_free(c->services);
	llmo_informer_free(c->netpols);
	llmo_informer_free(c->metric_nodes);
	llmo_informer_free(c->metric_pods);
	llmo_informer_free(c->gw_pods);
	llmo_workqueue_free(c->wq);
	llmo_workqueue_free(c->mq);
	llmo_event_recorder_free(c->rec);
	llmo_hmap_release(&c->heal, free_heal);
	llmo_hmap_release(&c->expect, llmo__expect_free);
	llmo_hmap_release(&c->rollouts, free_rollout);
	llmo__scale_release_all(c);
	llmo__vertical_release_all(c);
	llmo__prefetch_release_all(c);
	llmo__rebalance_release(c);
	llmo__signals_release(&c->signals);
	llmo_config_free(&c->own_config);
	free(c->identity);
	free(c->lease_ns);
	free(c->scheduler_name);
	free(c->replica_ca_cert);
	free(c->replica_ca_key);
	llmo_hmap_release(&c->tls_checked, free_heal);
	free(c->trusted_keys);
	free(c->fetch_image);
	free(c->node_cache_path);
	free(c);
}

bool llmo_controller_is_leader(const struct llmo_controller *c)
{
	return c->leading;
}

size_t llmo_controller_pods_created(const struct llmo_controller *c)
{
	return c->created;
}

size_t llmo_controller_pods_deleted(const struct llmo_controller *c)
{
	return c->deleted;
}
