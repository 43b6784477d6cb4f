/*
 * The node agent; see agent.h.
 */
#include "base/common.h"

#include <ctype.h>
#include <event2/event.h>
#include <sys/resource.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/logserver.h"
#include "agent/node.h"
#include "agent/nodeusage.h"
#include "agent/podfetch.h"
#include "agent/prefetch.h"
#include "agent/runtime.h"
#include "agent/selfpod.h"
#include "api/usage.h"
#include "base/base64.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/file.h"
#include "base/hmap.h"
#include "base/json.h"
#include "base/log.h"
#include "base/quantity.h"
#include "base/str.h"
#include "kube/events.h"
#include "kube/informer.h"
#include "kube/leader.h"
#include "kube/object.h"
#include "kube/workqueue.h"
#include "metrics/metrics.h"
#include "registry/fetch.h"

#include "base/banned.h"

#define LOG "agent"
#define KEY_MAX 320
#define HOST_PORTS_ANNOTATION "llm.orchestrator.io/host-ports"
#define DEVICES_ANNOTATION "llm.orchestrator.io/gpu-devices"
/* How often the first sync checks whether the pod list has arrived. */
#define SYNC_POLL_MS 100
/* How often a running model prefetch is checked for its end. */
#define PREFETCH_POLL_MS 500

struct llmo_agent {
	struct llmo_kube_client *client;
	struct event_base *base;
	char *node;
	char *fake_gpus;
	char *host_ip;
	char *log_token;
	long heartbeat_ms;
	bool stop_pods;
	bool run_pods;
	struct llmo_node_info info;
	struct llmo_runtime *rt;
	struct llmo_logserver *logs; /* what the API server's pods/log proxies to */
	struct llmo_informer *pods;
	struct llmo_workqueue *queue;
	struct llmo_hmap uid_key; /* pod uid -> "ns/name" (owned) */
	struct event *heartbeat;
	struct event *sync_poll;
	/* every usage_ms: measure the pods, publish llm.orchestrator.io/usage */
	struct event *usage;
	long usage_ms;
	char *model_cache_dir;
	struct llmo_event_recorder *rec; /* model fetch failures */
	struct llmo_hmap evented;        /* pod uid -> "RESTARTS REASON" already reported */
	struct llmo_prefetcher *pf;      /* models the controller asks for ahead; NULL: no cache */
	struct event *pf_poll;           /* while a prefetch runs */
	/* --runtime none with a cache: replicas' models, fetched for the kubelet (podfetch.h) */
	struct llmo_podfetcher *podf;
	struct event *podf_timer; /* the pod fetcher's next step */
	/* the machine's own usage, published on the Node at heartbeats (nodeusage.h) */
	struct llmo_node_sample node_prev; /* the last sample; at_ms 0: none yet */
	struct llmo_usage node_last;	   /* what the Node's annotation holds */
	bool node_last_ok;
	bool synced_once;
	bool started;
	/* llmo server's own pod (selfpod.h); NULL: none */
	const struct llmo_selfpod *self;
	char self_key[KEY_MAX]; /* "ns/name" */
	const char *self_name;	/* its name, in self_key */
	bool self_published;	/* its last write went through */
	bool self_tried;	/* written at least once */
	uint64_t self_cpu_us;	/* its CPU time at self_ms (monotonic; 0: none yet) */
	int64_t self_ms;
	struct llmo_metrics *metrics;  /* llmo_agent_write_metrics */
	struct llmo_metric *m_fetches; /* model fetches the agent ran, by kind and result */
};

int llmo_agent_write_metrics(void *arg, struct llmo_buf *out, struct llmo_error *err)
{
	struct llmo_agent *a = arg;
	int rc = llmo_metrics_write(a->metrics, out);

	return rc ? llmo_error_set(err, rc, "agent metrics: out of memory") : 0;
}

bool llmo_agent_ready(void *arg)
{
	const struct llmo_agent *a = arg;

	/* the Node is published; with pods to follow, their first list is in */
	return a->started && (!a->pods || a->synced_once);
}

static void now_rfc3339(char *ts, size_t n)
{
	if (llmo_time_format_rfc3339(llmo_clock_wall_ms(), false, ts, n))
		ts[0] = '\0';
}

/* ---- the log endpoint ---- */

static int logs_port(const struct llmo_agent *a)
{
	return a->logs ? llmo_logserver_port(a->logs) : 0;
}

static int logs_start(struct llmo_agent *a, struct llmo_error *err)
{
	struct llmo_logserver_opts o = {.host = a->host_ip, .port = 0, .token = a->log_token};

	return llmo_logserver_new(a->base, a->rt, &o, &a->logs, err);
}

/* ---- the Node ---- */

static const char *kube_arch(const char *uname_m)
{
	if (strcmp(uname_m, "x86_64") == 0)
		return "amd64";
	if (strcmp(uname_m, "aarch64") == 0)
		return "arm64";
	return uname_m;
}

/* GPU feature discovery's product label: the name with spaces as '-'. */
static void product_label(const char *name, char out[64])
{
	size_t n = 0;

	for (; *name && n < 63; name++)
		out[n++] = isalnum((unsigned char)*name) || *name == '.' || *name == '_' ||
					   *name == '-'
				   ? *name
				   : '-';
	while (n && !isalnum((unsigned char)out[n - 1]))
		n--;
	out[n] = '\0';
}

/* The cached-models annotation's value (fetch.h), or NULL. */
static char *cached_models(const struct llmo_agent *a)
{
	struct llmo_error err = {0};
	json_t *j = NULL;
	char *text;

	if (llmo_model_cache_report(a->model_cache_dir, &j, &err)) {
		llmo_log(LLMO_LOG_WARN, LOG, "model cache report failed", "dir=%s error=\"%s\"",
			 a->model_cache_dir, err.msg);
		return NULL;
	}
	/* the scheduler reads it in this key order: pullBytesPerSecond, models */
	text = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	return text;
}

/* Puts the cached-models annotation on the Node when it changed. */
static void publish_cached_models(struct llmo_agent *a, const json_t *node)
{
	struct llmo_error err = {0};
	const char *cur = json_string_value(json_object_get(
		json_object_get(json_object_get(node, "metadata"), "annotations"),
		LLMO_ANNOTATION_CACHED_MODELS));
	char *text = a->model_cache_dir ? cached_models(a) : NULL;
	json_t *patch;

	if (!text || (cur && strcmp(cur, text) == 0)) {
		free(text);
		return;
	}
	patch = json_pack("{s:{s:{s:s}}}", "metadata", "annotations", LLMO_ANNOTATION_CACHED_MODELS,
			  text);
	if (patch && llmo_kube_patch(a->client, &llmo_kube_nodes, NULL, a->node, NULL,
				     LLMO_KUBE_PATCH_MERGE, patch, NULL, &err))
		llmo_log(LLMO_LOG_WARN, LOG, "cached models annotation failed",
			 "node=%s error=\"%s\"", a->node, err.msg);
	json_decref(patch);
	free(text);
}

static json_t *node_metadata(const struct llmo_agent *a)
{
	const struct llmo_gpu_inventory *inv = &a->info.gpus;
	json_t *labels, *ann, *invj;
	char *devtext;
	char buf[64];

	labels = json_pack("{s:s, s:s, s:s, s:s}", "kubernetes.io/hostname", a->node,
			   "kubernetes.io/os", "linux", "kubernetes.io/arch",
			   kube_arch(a->info.arch), "llm.orchestrator.io/agent", "llmo");
	if (!labels)
		return NULL;
	if (inv->gpus.len) {
		product_label(inv->gpus.items[0].name, buf);
		json_object_set_new(labels, "nvidia.com/gpu.present", json_string("true"));
		json_object_set_new(labels, "nvidia.com/gpu.product", json_string(buf));
		snprintf(buf, sizeof(buf), "%zu", inv->gpus.len);
		json_object_set_new(labels, "nvidia.com/gpu.count", json_string(buf));
		snprintf(buf, sizeof(buf), "%" PRIu64, inv->gpus.items[0].memory_total >> 20);
		json_object_set_new(labels, "nvidia.com/gpu.memory", json_string(buf));
	}
	if (inv->source == LLMO_GPU_FAKE)
		json_object_set_new(labels, "llm.orchestrator.io/fake-gpus", json_string("true"));
	invj = llmo_gpu_inventory_json(inv);
	devtext = llmo_json_dump_compact(json_object_get(invj, "gpus"));
	json_decref(invj);
	ann = json_pack("{s:s}", DEVICES_ANNOTATION, devtext ? devtext : "[]");
	free(devtext);
	if (ann && a->model_cache_dir) {
		char *cached = cached_models(a);

		if (cached)
			json_object_set_new(ann, LLMO_ANNOTATION_CACHED_MODELS, json_string(cached));
		free(cached);
	}
	return json_pack("{s:s, s:o, s:o}", "name", a->node, "labels", labels, "annotations", ann);
}

static int quantity_str(int64_t milli, enum llmo_qformat fmt, char *out, size_t n)
{
	return llmo_quantity_format(milli, fmt, out, n);
}

static json_t *node_resources(const struct llmo_agent *a)
{
	char cpu[LLMO_QUANTITY_FMT_MAX], mem[LLMO_QUANTITY_FMT_MAX], gpus[24], pods[24];

	if (quantity_str(a->info.cpu_milli, LLMO_QFORMAT_DECIMAL_SI, cpu, sizeof(cpu)) ||
	    quantity_str(a->info.memory_bytes * 1000, LLMO_QFORMAT_BINARY_SI, mem, sizeof(mem)))
		return NULL;
	snprintf(gpus, sizeof(gpus), "%zu", a->info.gpus.gpus.len);
	snprintf(pods, sizeof(pods), "%d", LLMO_AGENT_MAX_PODS);
	return json_pack("{s:s, s:s, s:s, s:s}", "cpu", cpu, "memory", mem, "pods", pods,
			 "nvidia.com/gpu", gpus);
}

static json_t *node_status(const struct llmo_agent *a, bool ready, const char *reason,
			   const char *message)
{
	json_t *res = node_resources(a), *st;
	char ts[64];

	if (!res)
		return NULL;
	now_rfc3339(ts, sizeof(ts));
	st = json_pack("{s:O, s:O, s:[{s:s, s:s, s:s, s:s, s:s, s:s}, {s:s, s:s, s:s, s:s, s:s, "
		       "s:s}, {s:s, s:s, s:s, s:s, s:s, s:s}, {s:s, s:s, s:s, s:s, s:s, s:s}], "
		       "s:[{s:s, s:s}, {s:s, s:s}], s:{s:{s:i}}, s:{s:s, s:s, s:s, s:s, s:s, s:s}}",
		       "capacity", res, "allocatable", res, "conditions", "type", "Ready",
		       "status", ready ? "True" : "False", "reason", reason, "message", message,
		       "lastHeartbeatTime", ts, "lastTransitionTime", ts, "type", "MemoryPressure",
		       "status", "False", "reason", "AgentHasSufficientMemory", "message",
		       "no memory pressure", "lastHeartbeatTime", ts, "lastTransitionTime", ts,
		       "type", "DiskPressure", "status", "False", "reason", "AgentHasNoDiskPressure",
		       "message", "no disk pressure", "lastHeartbeatTime", ts,
		       "lastTransitionTime", ts, "type", "PIDPressure", "status", "False", "reason",
		       "AgentHasSufficientPID", "message", "no PID pressure", "lastHeartbeatTime",
		       ts, "lastTransitionTime", ts, "addresses", "type", "InternalIP", "address",
		       a->host_ip, "type", "Hostname", "address", a->info.hostname,
		       "daemonEndpoints", "kubeletEndpoint", "Port",
		       logs_port(a), "nodeInfo", "kernelVersion",
		       a->info.kernel, "osImage", "Linux", "operatingSystem", "linux",
		       "architecture", kube_arch(a->info.arch), "kubeletVersion",
		       "v1.30.0-llmo." LLMO_VERSION, "containerRuntimeVersion",
		       "llmo-shim://" LLMO_VERSION);
	json_decref(res);
	return st;
}

/* Keeps lastTransitionTime of conditions whose status did not change. */
static void keep_transitions(json_t *st, const json_t *old_node)
{
	json_t *olds = json_object_get(json_object_get(old_node, "status"), "conditions");
	json_t *c, *o;
	size_t i, j;

	json_array_foreach(json_object_get(st, "conditions"), i, c) {
		json_array_foreach(olds, j, o) {
			if (json_equal(json_object_get(o, "type"), json_object_get(c, "type")) &&
			    json_equal(json_object_get(o, "status"), json_object_get(c, "status")) &&
			    json_object_get(o, "lastTransitionTime"))
				json_object_set(c, "lastTransitionTime",
						json_object_get(o, "lastTransitionTime"));
		}
	}
}

static int write_node_status(struct llmo_agent *a, bool ready, const char *reason,
			     const char *message, const json_t *old_node, struct llmo_error *err)
{
	json_t *st = node_status(a, ready, reason, message), *patch;
	int rc;

	if (!st)
		return llmo_error_set(err, LLMO_ENOMEM, "agent: out of memory");
	keep_transitions(st, old_node);
	patch = json_pack("{s:o}", "status", st);
	if (!patch)
		return llmo_error_set(err, LLMO_ENOMEM, "agent: out of memory");
	rc = llmo_kube_patch(a->client, &llmo_kube_nodes, NULL, a->node, "status",
			     LLMO_KUBE_PATCH_MERGE, patch, NULL, err);
	json_decref(patch);
	return rc;
}

/* Creates the Node, or brings an existing one's labels and annotations up to date. */
static int register_node(struct llmo_agent *a, struct llmo_error *err)
{
	json_t *meta = node_metadata(a), *node = NULL, *cur = NULL, *patch;
	int rc;

	if (!meta)
		return llmo_error_set(err, LLMO_ENOMEM, "agent: out of memory");
	node = json_pack("{s:s, s:s, s:O, s:{}}", "apiVersion", "v1", "kind", "Node", "metadata",
			 meta, "spec");
	if (!node) {
		rc = llmo_error_set(err, LLMO_ENOMEM, "agent: out of memory");
		goto out;
	}
	rc = llmo_kube_create(a->client, &llmo_kube_nodes, NULL, node, &cur, err);
	if (rc == LLMO_EEXIST) {
		json_object_del(meta, "name");
		patch = json_pack("{s:O}", "metadata", meta);
		rc = patch ? llmo_kube_patch(a->client, &llmo_kube_nodes, NULL, a->node, NULL,
					     LLMO_KUBE_PATCH_MERGE, patch, &cur, err)
			   : llmo_error_set(err, LLMO_ENOMEM, "agent: out of memory");
		json_decref(patch);
	}
	if (!rc)
		rc = write_node_status(a, true, "KubeletReady", "llmo agent is posting ready status",
				       cur, err);
out:
	json_decref(cur);
	json_decref(node);
	json_decref(meta);
	return rc;
}

/* --runtime none: the kubelet's Node gets our GPU labels and annotation, nothing else. */
static int publish_node(struct llmo_agent *a, struct llmo_error *err)
{
	json_t *meta = node_metadata(a), *patch;
	int rc;

	if (!meta)
		return llmo_error_set(err, LLMO_ENOMEM, "agent: out of memory");
	json_object_del(meta, "name");
	patch = json_pack("{s:o}", "metadata", meta);
	if (!patch)
		return llmo_error_set(err, LLMO_ENOMEM, "agent: out of memory");
	rc = llmo_kube_patch(a->client, &llmo_kube_nodes, NULL, a->node, NULL,
			     LLMO_KUBE_PATCH_MERGE, patch, NULL, err);
	json_decref(patch);
	if (rc == LLMO_ENOTFOUND)
		rc = llmo_error_set(err, rc,
				    "node %s not found: with --runtime none the agent labels the "
				    "kubelet's Node of that name (set --node-name)",
				    a->node);
	return rc;
}

/* Renews (or creates) kube-node-lease/<node>. */
static int renew_lease(struct llmo_agent *a, struct llmo_error *err)
{
	char now[LLMO_MICROTIME_MAX];
	json_t *lease = NULL, *body;
	int rc;

	llmo_kube_microtime(llmo_clock_wall_ms(), now, sizeof(now));
	rc = llmo_kube_get(a->client, &llmo_kube_leases, LLMO_AGENT_LEASE_NAMESPACE, a->node,
			   &lease, err);
	if (rc == LLMO_ENOTFOUND) {
		body = json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:s, s:i, s:s}}", "apiVersion",
				 "coordination.k8s.io/v1", "kind", "Lease", "metadata", "name",
				 a->node, "namespace", LLMO_AGENT_LEASE_NAMESPACE, "spec",
				 "holderIdentity", a->node, "leaseDurationSeconds",
				 LLMO_AGENT_LEASE_SECONDS, "renewTime", now);
		if (!body)
			return llmo_error_set(err, LLMO_ENOMEM, "agent: out of memory");
		rc = llmo_kube_create(a->client, &llmo_kube_leases, LLMO_AGENT_LEASE_NAMESPACE, body,
				      NULL, err);
		json_decref(body);
		return rc;
	}
	if (rc)
		return rc;
	json_object_set_new(json_object_get(lease, "spec"), "renewTime", json_string(now));
	json_object_set_new(json_object_get(lease, "spec"), "holderIdentity", json_string(a->node));
	rc = llmo_kube_update(a->client, &llmo_kube_leases, LLMO_AGENT_LEASE_NAMESPACE, lease, NULL,
			      err);
	json_decref(lease);
	return rc;
}

static int ensure_namespace(struct llmo_agent *a, const char *name)
{
	struct llmo_error err = {0};
	json_t *ns = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind", "Namespace",
			       "metadata", "name", name);
	int rc = ns ? llmo_kube_create(a->client, &llmo_kube_namespaces, NULL, ns, NULL, &err)
		    : LLMO_ENOMEM;

	json_decref(ns);
	return rc == LLMO_EEXIST || rc == LLMO_EDENIED ? 0 : rc;
}

/* ---- model prefetch (prefetch.h) ---- */

static void podf_step(struct llmo_agent *a);

/* Logs how a prefetch ended, with an Event on the Node. */
static void prefetch_report(struct llmo_agent *a, const struct llmo_prefetch_result *r)
{
	json_t *ref;

	if (!r->ended || r->cancelled)
		return;
	ref = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind", "Node", "metadata",
			"name", a->node);
	llmo_metric_add(a->m_fetches, (const char *[]){"prefetch", r->ok ? "ok" : "error"}, 1);
	if (r->ok) {
		llmo_log(LLMO_LOG_INFO, LOG, "prefetched", "model=%s", r->ref);
		if (ref)
			llmo_kube_event(a->rec, ref, "Normal", "Prefetched",
					"Model %s fetched into the node's cache ahead of a replica",
					r->ref);
	} else {
		llmo_log(LLMO_LOG_WARN, LOG, "prefetch failed", "model=%s reason=%s error=\"%s\"",
			 r->ref, r->reason, r->message);
		if (ref)
			llmo_kube_event(a->rec, ref, "Warning", r->reason,
					"Prefetch of %s failed (tried again in %d s): %s", r->ref,
					LLMO_PREFETCH_RETRY_MS / 1000, r->message);
	}
	json_decref(ref);
}

/* Keeps the poll armed while a prefetch runs. */
static void prefetch_arm(struct llmo_agent *a)
{
	struct timeval tv = {0, PREFETCH_POLL_MS * 1000};

	if (llmo_prefetcher_busy(a->pf) && !evtimer_pending(a->pf_poll, NULL))
		evtimer_add(a->pf_poll, &tv);
}

/* One step with the Node as the API has it: reap, stop or start (prefetch.h). */
static void prefetch_step(struct llmo_agent *a, const json_t *node)
{
	struct llmo_prefetch_result r;

	if (!a->pf)
		return;
	/* one fetch into the cache at a time: a replica's comes first */
	if (a->podf && llmo_podfetcher_busy(a->podf))
		node = NULL;
	llmo_prefetcher_step(a->pf, node, &r);
	prefetch_report(a, &r);
	prefetch_arm(a);
}

/* A prefetch ended: the Node gets its new cache list, and the next model starts. */
static void on_prefetch_poll(evutil_socket_t fd, short what, void *arg)
{
	struct llmo_agent *a = arg;
	struct llmo_prefetch_result r;
	json_t *cur = NULL;

	(void)fd;
	(void)what;
	llmo_prefetcher_step(a->pf, NULL, &r);
	if (!r.ended) {
		prefetch_arm(a);
		return;
	}
	prefetch_report(a, &r);
	if (a->podf)
		podf_step(a); /* a replica's fetch may have waited for this one */
	if (llmo_kube_get(a->client, &llmo_kube_nodes, NULL, a->node, &cur, NULL) == 0) {
		publish_cached_models(a, cur);
		prefetch_step(a, cur);
	}
	json_decref(cur);
}

/*
 * The node's usage since the last heartbeat, written to its
 * llm.orchestrator.io/usage annotation when the rule of api/usage.h says it
 * moved enough. cur is the Node as read this heartbeat (NULL: not read); its
 * annotation is the published value, so a restarted agent carries on from it.
 */
static void publish_node_usage(struct llmo_agent *a, const json_t *cur)
{
	struct llmo_error err = {0};
	struct llmo_node_sample now;
	struct llmo_usage u, last;
	char text[LLMO_USAGE_TEXT_MAX];
	const char *pub = json_string_value(json_object_get(
		json_object_get(json_object_get(cur, "metadata"), "annotations"),
		LLMO_ANNOTATION_USAGE));
	bool have_last = false;
	json_t *patch;
	int rc;

	if (llmo_node_sample_read(&now, &err)) {
		llmo_log(LLMO_LOG_DEBUG, LOG, "node usage unreadable", "error=\"%s\"", err.msg);
		return;
	}
	rc = a->node_prev.at_ms ? llmo_node_usage_between(&a->node_prev, &now, a->info.cpu_milli,
							   &u)
				: LLMO_EINVAL;
	a->node_prev = now;
	if (rc)
		return;
	u.at_ms = llmo_clock_wall_ms();
	if (pub && llmo_usage_parse(pub, &last, NULL) == 0)
		have_last = true;
	else if (!cur && a->node_last_ok)
		last = a->node_last, have_last = true;
	if (!llmo_usage_worth_publishing(have_last ? &last : NULL, &u) ||
	    llmo_usage_format(&u, text, sizeof(text)))
		return;
	patch = json_pack("{s:{s:{s:s}}}", "metadata", "annotations", LLMO_ANNOTATION_USAGE, text);
	rc = patch ? llmo_kube_patch(a->client, &llmo_kube_nodes, NULL, a->node, NULL,
				     LLMO_KUBE_PATCH_MERGE, patch, NULL, &err)
		   : LLMO_ENOMEM;
	json_decref(patch);
	if (rc) {
		llmo_log(LLMO_LOG_WARN, LOG, "node usage write failed", "node=%s error=\"%s\"",
			 a->node, err.msg);
		return;
	}
	a->node_last = u;
	a->node_last_ok = true;
}

/* Writes llmo server's own pod (selfpod.h); a failure is tried again at the next heartbeat. */
static void self_publish(struct llmo_agent *a)
{
	struct llmo_error err = {0};
	bool was = a->self_published || !a->self_tried;

	a->self_tried = true;
	a->self_published = llmo_selfpod_publish(a->client, a->self, a->node, a->host_ip,
						 &err) == 0;
	/* said once, not at every heartbeat while it stays so */
	if (!a->self_published)
		llmo_log(was ? LLMO_LOG_WARN : LLMO_LOG_DEBUG, LOG,
			 "the server's pod could not be written", "error=\"%s\"", err.msg);
}

static void on_heartbeat(evutil_socket_t fd, short what, void *arg)
{
	struct llmo_agent *a = arg;
	struct llmo_error err = {0};
	struct llmo_node_info fresh;
	json_t *cur = NULL;

	/* GPU memory use and utilization change: read them again */
	if (!a->fake_gpus && llmo_node_info_read(&fresh, NULL, &err) == 0) {
		llmo_node_info_release(&a->info);
		a->info = fresh;
	}
	if (!a->run_pods) {
		if (publish_node(a, &err)) {
			llmo_log(LLMO_LOG_WARN, LOG, "node labels failed", "node=%s error=\"%s\"",
				 a->node, err.msg);
			return;
		}
		publish_node_usage(a, NULL);
		if (a->pf && llmo_kube_get(a->client, &llmo_kube_nodes, NULL, a->node, &cur,
					   NULL) == 0)
			prefetch_step(a, cur);
		json_decref(cur);
		return;
	}
	if (renew_lease(a, &err))
		llmo_log(LLMO_LOG_WARN, LOG, "lease renewal failed", "node=%s error=\"%s\"", a->node,
			 err.msg);
	llmo_kube_get(a->client, &llmo_kube_nodes, NULL, a->node, &cur, NULL);
	if (!cur) {
		/* deleted under us (kubectl delete node): register again */
		if (register_node(a, &err))
			llmo_log(LLMO_LOG_WARN, LOG, "node registration failed",
				 "node=%s error=\"%s\"", a->node, err.msg);
	} else if (write_node_status(a, true, "KubeletReady", "llmo agent is posting ready status",
				     cur, &err)) {
		llmo_log(LLMO_LOG_WARN, LOG, "node status failed", "node=%s error=\"%s\"", a->node,
			 err.msg);
	} else {
		publish_cached_models(a, cur);
		prefetch_step(a, cur);
		publish_node_usage(a, cur);
		if (a->self && (!a->self_published ||
				(llmo_informer_synced(a->pods) &&
				 !llmo_informer_get(a->pods, a->self->ns, a->self_name))))
			self_publish(a);
	}
	json_decref(cur);
}

/*
 * The runtime's envFrom source (runtime.h): a Secret's data (base64,
 * decoded here) or a ConfigMap's data, read from the API when a container
 * starts. NULL in *out when it does not exist.
 */
static int env_source(void *ctx, const char *kind, const char *ns, const char *name,
		      json_t **out, struct llmo_error *err)
{
	struct llmo_agent *a = ctx;
	bool secret = strcmp(kind, "secret") == 0;
	json_t *obj = NULL, *data, *v;
	const char *k;
	int rc;

	*out = NULL;
	rc = llmo_kube_get(a->client, secret ? &llmo_kube_secrets : &llmo_kube_configmaps, ns,
			   name, &obj, err);
	if (rc == LLMO_ENOTFOUND)
		return 0;
	if (rc)
		return rc;
	data = json_object();
	json_object_foreach(json_object_get(obj, "data"), k, v) {
		char *plain = NULL;

		if (!json_is_string(v))
			continue;
		if (!secret) {
			json_object_set(data, k, v);
			continue;
		}
		if (llmo_base64_decode(json_string_value(v), &plain) == 0)
			json_object_set_new(data, k, json_string(plain));
		free(plain);
	}
	json_decref(obj);
	if (!data)
		return llmo_error_set(err, LLMO_ENOMEM, "agent: out of memory");
	*out = data;
	return 0;
}

/* ---- pods ---- */

static void remember(struct llmo_agent *a, const char *uid, const char *key)
{
	char *k = llmo_strdup(key);
	void *old = NULL;

	if (!k || llmo_hmap_put(&a->uid_key, uid, k, &old)) {
		free(k);
		return;
	}
	free(old);
}

static void forget(struct llmo_agent *a, const char *uid)
{
	void *old = NULL;

	if (llmo_hmap_del(&a->uid_key, uid, &old) == 0)
		free(old);
	if (llmo_hmap_del(&a->evented, uid, &old) == 0)
		free(old);
}

/* Deletes the pod object for good once its processes are gone (grace 0, this uid only). */
static int finish_delete(struct llmo_agent *a, const char *ns, const char *name, const char *uid)
{
	struct llmo_error err = {0};
	int rc = llmo_kube_delete_now(a->client, &llmo_kube_pods, ns, name, uid, &err);

	if (rc == LLMO_ENOTFOUND || rc == LLMO_ECONFLICT)
		return 0;
	if (rc)
		llmo_log(LLMO_LOG_WARN, LOG, "pod delete failed", "pod=%s/%s error=\"%s\"", ns, name,
			 err.msg);
	return rc;
}

/* True when every key of want has an equal value in have. */
static bool covers(const json_t *have, const json_t *want)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)want, k, v) {
		if (!llmo_json_equal_value(json_object_get(have, k), v))
			return false;
	}
	return true;
}

/*
 * A run of the first container that ended because its model could not be
 * fetched or verified (reasons Model*, written by `llmo fetch`): one
 * Warning Event per run, on the pod. Also refreshes the Node's list of
 * cached models once a fetch has finished.
 */
static void model_event(struct llmo_agent *a, const json_t *pod, const char *uid, const json_t *st)
{
	const json_t *cs = json_array_get(json_object_get(st, "containerStatuses"), 0);
	const json_t *term = json_object_get(json_object_get(cs, "state"), "terminated");
	const char *reason, *seen;
	char key[96];
	json_t *ref;

	if (!term)
		term = json_object_get(json_object_get(cs, "lastState"), "terminated");
	reason = json_string_value(json_object_get(term, "reason"));
	if (!reason || strncmp(reason, "Model", 5) != 0)
		return;
	snprintf(key, sizeof(key), "%" JSON_INTEGER_FORMAT " %.48s",
		 json_integer_value(json_object_get(cs, "restartCount")), reason);
	seen = llmo_hmap_get(&a->evented, uid);
	if (seen && strcmp(seen, key) == 0)
		return;
	{
		char *copy = llmo_strdup(key);
		void *old = NULL;

		if (!copy || llmo_hmap_put(&a->evented, uid, copy, &old)) {
			free(copy);
			return;
		}
		free(old);
	}
	ref = json_pack("{s:s,s:s,s:{s:s?,s:s?,s:s}}", "apiVersion", "v1", "kind", "Pod",
			"metadata", "name", llmo_kube_str(pod, "metadata", "name"), "namespace",
			llmo_kube_str(pod, "metadata", "namespace"), "uid", uid);
	if (ref)
		llmo_kube_event(a->rec, ref, "Warning", reason, "%s",
				json_string_value(json_object_get(term, "message"))
					? json_string_value(json_object_get(term, "message"))
					: "the model could not be fetched");
	json_decref(ref);
}

static int write_pod(struct llmo_agent *a, const json_t *pod, const char *ns, const char *name,
		     const char *uid)
{
	struct llmo_error err = {0};
	json_t *st = llmo_runtime_pod_status(a->rt, uid);
	json_t *ports = llmo_runtime_pod_ports(a->rt, uid), *patch;
	const char *cur_ports = json_string_value(json_object_get(
		json_object_get(json_object_get(pod, "metadata"), "annotations"),
		HOST_PORTS_ANNOTATION));
	char *text = NULL;
	int rc = 0;

	if (ports && json_object_size(ports)) {
		text = llmo_json_dump(ports, false);
		if (text && (!cur_ports || strcmp(cur_ports, text) != 0)) {
			patch = json_pack("{s:{s:{s:s}, s:s}}", "metadata", "annotations",
					  HOST_PORTS_ANNOTATION, text, "uid", uid);
			rc = patch ? llmo_kube_patch(a->client, &llmo_kube_pods, ns, name, NULL,
						     LLMO_KUBE_PATCH_MERGE, patch, NULL, &err)
				   : LLMO_ENOMEM;
			json_decref(patch);
		}
	}
	if (st && a->rec)
		model_event(a, pod, uid, st);
	if (!rc && st && !covers(json_object_get(pod, "status"), st)) {
		patch = json_pack("{s:{s:s}, s:O}", "metadata", "uid", uid, "status", st);
		rc = patch ? llmo_kube_patch(a->client, &llmo_kube_pods, ns, name, "status",
					     LLMO_KUBE_PATCH_MERGE, patch, NULL, &err)
			   : LLMO_ENOMEM;
		json_decref(patch);
	}
	if (rc && rc != LLMO_ENOTFOUND)
		llmo_log(LLMO_LOG_WARN, LOG, "pod status write failed", "pod=%s/%s error=\"%s\"", ns,
			 name, err.msg);
	free(text);
	json_decref(ports);
	json_decref(st);
	return rc == LLMO_ENOTFOUND ? 0 : rc;
}

static int reconcile(void *ctx, const char *key)
{
	struct llmo_agent *a = ctx;
	struct llmo_error err = {0};
	char ns[KEY_MAX];
	const char *name = llmo_kube_key_split(key, ns, sizeof(ns)), *uid;
	json_t *pod;
	int rc;

	if (!name)
		return 0;
	pod = llmo_informer_get(a->pods, ns, name);
	if (a->self && strcmp(key, a->self_key) == 0) {
		/* not run here; deleted, it is made again (as kubelet mirrors a static pod) */
		if (!pod || llmo_kube_str(pod, "metadata", "deletionTimestamp"))
			self_publish(a);
		return 0;
	}
	if (!pod)
		return 0;
	uid = llmo_kube_str(pod, "metadata", "uid");
	if (!uid)
		return 0;
	remember(a, uid, key);
	rc = llmo_runtime_sync_pod(a->rt, pod, &err);
	if (rc && rc != LLMO_EINVAL) {
		llmo_log(LLMO_LOG_WARN, LOG, "pod sync failed", "pod=%s error=\"%s\"", key, err.msg);
		return rc;
	}
	if (rc)
		llmo_log(LLMO_LOG_INFO, LOG, "pod cannot run", "pod=%s why=\"%s\"", key, err.msg);
	if (!llmo_runtime_pod_known(a->rt, uid))
		return 0;
	if (llmo_runtime_pod_terminated(a->rt, uid))
		return finish_delete(a, ns, name, uid);
	return write_pod(a, pod, ns, name, uid);
}

/*
 * One pod's usage (api/usage.h): measured every period, written as the
 * annotation llm.orchestrator.io/usage when the rule says it moved enough.
 * The published value is the one on the informer's copy of the pod, so an
 * agent that restarts carries on from it.
 */
static void publish_usage(struct llmo_agent *a, const char *key, struct llmo_usage *now)
{
	struct llmo_error err = {0};
	struct llmo_usage last;
	char ns[KEY_MAX], text[LLMO_USAGE_TEXT_MAX];
	const char *name = llmo_kube_key_split(key, ns, sizeof(ns)), *cur, *uid;
	json_t *pod, *patch;
	int rc;

	if (!name)
		return;
	now->at_ms = llmo_clock_wall_ms();
	pod = llmo_informer_get(a->pods, ns, name);
	uid = llmo_kube_str(pod, "metadata", "uid");
	if (!pod || !uid || !llmo_kube_condition_true(pod, "Ready"))
		return; /* a replica that serves nothing has no usage worth scaling on */
	{
		/* its GPUs as NVML measured them at the last heartbeat */
		const char *gpus = json_string_value(json_object_get(
			json_object_get(json_object_get(pod, "metadata"), "annotations"),
			LLMO_RUNTIME_ANN_GPUS));
		uint64_t gmem = 0;

		now->has_gpu = gpus && llmo_gpu_pod_usage(&a->info.gpus, gpus, &now->gpu_pct,
							  &gmem) == 0;
		now->gpu_memory = now->has_gpu && gmem <= INT64_MAX ? (int64_t)gmem : 0;
	}
	cur = json_string_value(json_object_get(json_object_get(json_object_get(pod, "metadata"),
								"annotations"),
						LLMO_ANNOTATION_USAGE));
	if (!llmo_usage_worth_publishing(cur && !llmo_usage_parse(cur, &last, NULL) ? &last : NULL,
					 now) ||
	    llmo_usage_format(now, text, sizeof(text)))
		return;
	patch = json_pack("{s:{s:{s:s}, s:s}}", "metadata", "annotations", LLMO_ANNOTATION_USAGE,
			  text, "uid", uid);
	rc = patch ? llmo_kube_patch(a->client, &llmo_kube_pods, ns, name, NULL,
				     LLMO_KUBE_PATCH_MERGE, patch, NULL, &err)
		   : LLMO_ENOMEM;
	json_decref(patch);
	if (rc && rc != LLMO_ENOTFOUND)
		llmo_log(LLMO_LOG_WARN, LOG, "pod usage write failed", "pod=%s error=\"%s\"", key,
			 err.msg);
}

/* The process's own usage since the last call: CPU of every thread, resident memory. */
static int self_usage(struct llmo_agent *a, struct llmo_usage *now)
{
	struct rusage ru;
	int64_t ms = llmo_clock_mono_ms(), dt = ms - a->self_ms;
	uint64_t us, prev = a->self_cpu_us, rss;

	if (getrusage(RUSAGE_SELF, &ru))
		return LLMO_EIO;
	us = (uint64_t)ru.ru_utime.tv_sec * 1000000u + (uint64_t)ru.ru_utime.tv_usec +
	     (uint64_t)ru.ru_stime.tv_sec * 1000000u + (uint64_t)ru.ru_stime.tv_usec;
	a->self_cpu_us = us;
	a->self_ms = ms;
	if (!prev || dt <= 0)
		return LLMO_EAGAIN;
	rss = llmo_runtime_proc_rss((long)getpid());
	if (!rss)
		return LLMO_EIO;
	/* (us - prev) microseconds of CPU over dt milliseconds: (us - prev) / dt millicores */
	now->cpu_milli = (int64_t)((double)(us > prev ? us - prev : 0) / (double)dt + 0.5);
	now->memory = (int64_t)rss;
	return 0;
}

static void on_usage(evutil_socket_t fd, short what, void *arg)
{
	struct llmo_agent *a = arg;
	size_t it = 0;
	const char *uid;
	void *key;

	(void)fd;
	(void)what;
	while (llmo_hmap_next(&a->uid_key, &it, &uid, &key)) {
		struct llmo_usage now = {0};

		if (llmo_runtime_pod_usage(a->rt, uid, &now.cpu_milli, &now.memory) == 0)
			publish_usage(a, key, &now);
	}
	if (a->self) {
		struct llmo_usage now = {0};

		if (self_usage(a, &now) == 0)
			publish_usage(a, a->self_key, &now);
	}
}

static void enqueue(struct llmo_agent *a, const json_t *pod)
{
	char key[KEY_MAX];

	if (llmo_kube_object_key(pod, key, sizeof(key)) == 0)
		llmo_workqueue_add(a->queue, key);
}

/* The pod uid is gone: its processes (local runtime) or its model fetch (podfetch.h). */
static void pod_gone(struct llmo_agent *a, const char *uid)
{
	if (a->rt)
		llmo_runtime_remove_pod(a->rt, uid);
	if (a->podf)
		llmo_podfetcher_forget(a->podf, uid);
	forget(a, uid);
	if (a->podf)
		podf_step(a);
}

static void on_pod_add(void *ctx, json_t *obj)
{
	enqueue(ctx, obj);
}

static void on_pod_update(void *ctx, json_t *old_obj, json_t *new_obj)
{
	struct llmo_agent *a = ctx;
	const char *old_uid = llmo_kube_str(old_obj, "metadata", "uid");
	const char *new_uid = llmo_kube_str(new_obj, "metadata", "uid");

	/* a pod deleted and made again under the same name between two events */
	if (old_uid && new_uid && strcmp(old_uid, new_uid) != 0)
		pod_gone(a, old_uid);
	enqueue(a, new_obj);
}

static void on_pod_delete(void *ctx, json_t *obj)
{
	struct llmo_agent *a = ctx;
	const char *uid = llmo_kube_str(obj, "metadata", "uid");
	char key[KEY_MAX];

	if (a->self && llmo_kube_object_key(obj, key, sizeof(key)) == 0 &&
	    strcmp(key, a->self_key) == 0) {
		llmo_workqueue_add(a->queue, key);
		return;
	}
	if (uid)
		pod_gone(a, uid);
}

static const struct llmo_informer_handlers pod_h = {on_pod_add, on_pod_update, on_pod_delete};

/* The runtime says a pod's status changed. */
static void on_runtime_change(void *ctx, const char *uid)
{
	struct llmo_agent *a = ctx;
	const char *key = llmo_hmap_get(&a->uid_key, uid);

	if (key)
		llmo_workqueue_add(a->queue, key);
}

static int reconcile_fetch(void *ctx, const char *key);

static int sync_one(void *ctx, json_t *pod)
{
	struct llmo_agent *a = ctx;
	char key[KEY_MAX];

	if (llmo_kube_object_key(pod, key, sizeof(key)) == 0)
		(a->podf ? reconcile_fetch : reconcile)(a, key);
	return 0;
}

/*
 * Once the first pod list is in: every pod of this node is synced (so the
 * runtime adopts what a previous agent left running), then what is left on
 * disk for pods the API no longer has is killed.
 */
static void on_sync_poll(evutil_socket_t fd, short what, void *arg)
{
	struct llmo_agent *a = arg;
	struct timeval tv = {0, SYNC_POLL_MS * 1000};
	int n;

	if (!llmo_informer_synced(a->pods)) {
		event_add(a->sync_poll, &tv);
		return;
	}
	llmo_informer_list(a->pods, NULL, sync_one, a);
	/* --runtime none: the directories and pins of pods gone while no agent ran */
	n = a->podf ? llmo_podfetcher_collect(a->podf) : llmo_runtime_collect_orphans(a->rt);
	a->synced_once = true;
	llmo_log(LLMO_LOG_INFO, LOG, "pods synced", "node=%s pods=%zu %s=%d", a->node,
		 llmo_informer_count(a->pods), a->podf ? "stale_removed" : "orphans_stopped", n);
}

/* ---- --runtime none: the fetch step of the kubelet's replicas (podfetch.h) ---- */

static void podf_event(struct llmo_agent *a, const struct llmo_podfetch_result *r)
{
	const char *key = llmo_hmap_get(&a->uid_key, r->uid), *name;
	char ns[KEY_MAX];
	json_t *ref;

	llmo_metric_add(a->m_fetches, (const char *[]){"replica", r->ok ? "ok" : "error"}, 1);
	if (r->ok) {
		llmo_log(LLMO_LOG_INFO, LOG, "pod model ready", "pod=%s model=%s attempt=%d",
			 key ? key : r->uid, r->ref, r->attempt);
		return;
	}
	llmo_log(LLMO_LOG_WARN, LOG, "pod model fetch failed",
		 "pod=%s model=%s attempt=%d reason=%s retry_s=%ld error=\"%s\"",
		 key ? key : r->uid, r->ref, r->attempt, r->reason, r->retry_s, r->message);
	if (!key || !(name = llmo_kube_key_split(key, ns, sizeof(ns))))
		return;
	ref = json_pack("{s:s,s:s,s:{s:s,s:s,s:s}}", "apiVersion", "v1", "kind", "Pod", "metadata",
			"name", name, "namespace", ns, "uid", r->uid);
	if (ref)
		llmo_kube_event(a->rec, ref, "Warning", r->reason, "%s (attempt %d, tried again in %ld s)",
				r->message, r->attempt, r->retry_s);
	json_decref(ref);
}

/* One step of the pod fetcher; the timer is set for the next. */
static void podf_step(struct llmo_agent *a)
{
	struct llmo_podfetch_result r;
	int64_t next = llmo_podfetcher_step(a->podf, !a->pf || !llmo_prefetcher_busy(a->pf), &r);
	json_t *cur = NULL;

	if (r.ended) {
		podf_event(a, &r);
		if (r.ok && llmo_kube_get(a->client, &llmo_kube_nodes, NULL, a->node, &cur, NULL) == 0)
			publish_cached_models(a, cur);
		json_decref(cur);
	}
	evtimer_del(a->podf_timer);
	if (next) {
		int64_t ms = LLMO_MAX(next - llmo_clock_mono_ms(), 0);
		struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

		evtimer_add(a->podf_timer, &tv);
	}
}

static void on_podf_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	podf_step(arg);
}

/* A pod of this node: followed while it has a model to fetch and has not ended. */
static int reconcile_fetch(void *ctx, const char *key)
{
	struct llmo_agent *a = ctx;
	struct llmo_error err = {0};
	char ns[KEY_MAX];
	const char *name = llmo_kube_key_split(key, ns, sizeof(ns)), *uid, *ref, *phase, *sreq;
	const json_t *ann;
	json_t *pod;

	if (!name)
		return 0;
	pod = llmo_informer_get(a->pods, ns, name);
	uid = pod ? llmo_kube_str(pod, "metadata", "uid") : NULL;
	if (!uid)
		return 0;
	ann = llmo_json_get_path(pod, "metadata.annotations");
	ref = json_string_value(json_object_get(ann, LLMO_ANNOTATION_MODEL_ARTIFACT));
	phase = llmo_kube_str(pod, "status", "phase");
	if (!ref || !*ref || (phase && (strcmp(phase, "Succeeded") == 0 ||
					strcmp(phase, "Failed") == 0))) {
		pod_gone(a, uid);
		return 0;
	}
	remember(a, uid, key);
	sreq = json_string_value(json_object_get(ann, LLMO_ANNOTATION_SIGNATURE_REQUIRED));
	if (llmo_podfetcher_want(a->podf, uid, ref, sreq && strcmp(sreq, "true") == 0,
				 json_string_value(json_object_get(ann,
								   LLMO_ANNOTATION_SIGNATURE_KEY)),
				 &err))
		llmo_log(LLMO_LOG_WARN, LOG, "pod model not fetched", "pod=%s error=\"%s\"", key,
			 err.msg);
	podf_step(a);
	return 0;
}

/* ---- life cycle ---- */

/* The node's model cache: its report, the Events of its fetches, the prefetch. */
static int cache_new(struct llmo_agent *a, const struct llmo_agent_opts *opts,
		     struct llmo_error *err)
{
	int rc;

	a->model_cache_dir = llmo_strdup(opts->model_cache_dir);
	rc = a->model_cache_dir
		     ? llmo_event_recorder_new(a->client, "llmo-agent", a->node, &a->rec, err)
		     : llmo_error_set(err, LLMO_ENOMEM, "agent: out of memory");
	/* the prefetch's log and reason files (the local runtime makes it too; --runtime none
	 * has nothing else there) */
	if (!rc && opts->fetch_args && opts->state_dir)
		rc = llmo_mkdir_p(opts->state_dir, 0700, err);
	if (!rc && opts->fetch_args) {
		struct llmo_prefetcher_opts po = {.shim_path = opts->shim_path,
						  .fetch_args = opts->fetch_args,
						  .cache_dir = opts->model_cache_dir,
						  .state_dir = opts->state_dir};

		rc = llmo_prefetcher_new(&po, &a->pf, err);
		if (!rc && !(a->pf_poll = evtimer_new(a->base, on_prefetch_poll, a)))
			rc = llmo_error_set(err, LLMO_ENOMEM, "agent: out of memory");
	}
	return rc;
}

/* The pods bound to this node, each key through fn. */
static int pods_watch_new(struct llmo_agent *a, int (*fn)(void *, const char *),
			  const struct llmo_informer_handlers *h, struct llmo_error *err)
{
	char fs[KEY_MAX + 32];
	int rc = llmo_workqueue_new(a->base, fn, a, &a->queue, err);

	if (!rc)
		rc = llmo_informer_new(a->client, &llmo_kube_pods, NULL, NULL, a->base, h, a,
				       &a->pods, err);
	snprintf(fs, sizeof(fs), "spec.nodeName=%s", a->node);
	if (!rc)
		rc = llmo_informer_set_field_selector(a->pods, fs, err);
	return rc;
}

/* --runtime none --model-cache: the pod fetcher and what feeds it. */
static int fetch_for_kubelet_new(struct llmo_agent *a, const struct llmo_agent_opts *opts,
				 struct llmo_error *err)
{
	struct llmo_podfetcher_opts po = {.shim_path = opts->shim_path,
					  .fetch_args = opts->fetch_args,
					  .cache_dir = opts->model_cache_dir};
	int rc = cache_new(a, opts, err);

	if (!rc)
		rc = llmo_podfetcher_new(&po, &a->podf, err);
	if (!rc)
		rc = pods_watch_new(a, reconcile_fetch, &pod_h, err);
	if (!rc && (!(a->podf_timer = evtimer_new(a->base, on_podf_timer, a)) ||
		    !(a->sync_poll = evtimer_new(a->base, on_sync_poll, a))))
		rc = llmo_error_set(err, LLMO_ENOMEM, "agent: out of memory");
	return rc;
}

int llmo_agent_new(struct llmo_kube_client *client, struct event_base *base,
		   const struct llmo_agent_opts *opts, struct llmo_agent **out,
		   struct llmo_error *err)
{
	struct llmo_runtime_opts ro = {0};
	struct llmo_agent *a;
	int rc;

	*out = NULL;
	a = calloc(1, sizeof(*a));
	if (!a)
		return llmo_error_set(err, LLMO_ENOMEM, "agent: out of memory");
	a->client = client;
	a->base = base;
	a->heartbeat_ms = opts->heartbeat_ms > 0 ? opts->heartbeat_ms : LLMO_AGENT_HEARTBEAT_MS;
	a->stop_pods = opts->stop_pods;
	a->run_pods = opts->run_pods;
	llmo_hmap_init(&a->uid_key);
	llmo_hmap_init(&a->evented);
	if (llmo_metrics_new(&a->metrics)) {
		rc = llmo_error_set(err, LLMO_ENOMEM, "agent: out of memory");
		goto out;
	}
	rc = llmo_metrics_counter(a->metrics, "llmo_agent_model_fetches_total",
				  "Model fetches into the node cache that the agent ran and saw end: "
				  "kind=replica for the pods the kubelet runs (--runtime none), "
				  "kind=prefetch ahead of a scale-up; by result.",
				  (const char *[]){"kind", "result"}, 2, &a->m_fetches, err);
	if (!rc)
		rc = llmo_node_info_read(&a->info, opts->fake_gpus, err);
	if (rc)
		goto out;
	if (opts->node_name) {
		a->node = llmo_strdup(opts->node_name);
	} else {
		a->node = llmo_strdup(a->info.hostname);
		for (char *p = a->node; p && *p; p++)
			*p = (char)tolower((unsigned char)*p);
	}
	a->fake_gpus = opts->fake_gpus ? llmo_strdup(opts->fake_gpus) : NULL;
	a->host_ip = llmo_strdup(opts->host_ip ? opts->host_ip : "127.0.0.1");
	a->log_token = opts->log_token ? llmo_strdup(opts->log_token) : NULL;
	if (!a->node || !a->host_ip || (opts->fake_gpus && !a->fake_gpus) ||
	    (opts->log_token && !a->log_token)) {
		rc = llmo_error_set(err, LLMO_ENOMEM, "agent: out of memory");
		goto out;
	}
	if (!a->run_pods) {
		a->heartbeat = event_new(base, -1, EV_PERSIST, on_heartbeat, a);
		if (!a->heartbeat)
			rc = llmo_error_set(err, LLMO_ENOMEM, "agent: out of memory");
		/* the kubelet runs the replicas; their models are fetched here */
		if (!rc && opts->model_cache_dir && opts->fetch_args)
			rc = fetch_for_kubelet_new(a, opts, err);
		goto out;
	}
	if (opts->self_pod) {
		char pod[256];

		a->self = opts->self_pod;
		if (llmo_selfpod_name(a->self, a->node, pod, sizeof(pod)) ||
		    snprintf(a->self_key, sizeof(a->self_key), "%s/%s", a->self->ns, pod) >=
			    (int)sizeof(a->self_key)) {
			rc = llmo_error_set(err, LLMO_EINVAL, "agent: the server's pod name %s-%s "
							      "is too long",
					    a->self->name, a->node);
			goto out;
		}
		a->self_name = a->self_key + strlen(a->self->ns) + 1;
	}
	ro.state_dir = opts->state_dir;
	ro.shim_path = opts->shim_path;
	ro.node_name = a->node;
	ro.host_ip = a->host_ip;
	ro.backoff_base_ms = opts->backoff_base_ms;
	ro.backoff_max_ms = opts->backoff_max_ms;
	ro.changed = on_runtime_change;
	ro.ctx = a;
	ro.env_source = env_source;
	ro.fetch_args = opts->fetch_args;
	ro.model_cache_dir = opts->model_cache_dir;
	if (opts->model_cache_dir && (rc = cache_new(a, opts, err)))
		goto out;
	rc = llmo_runtime_new(base, &ro, &a->rt, err);
	if (!rc)
		rc = pods_watch_new(a, reconcile, &pod_h, err);
	if (!rc) {
		a->heartbeat = event_new(base, -1, EV_PERSIST, on_heartbeat, a);
		a->sync_poll = evtimer_new(base, on_sync_poll, a);
		a->usage = event_new(base, -1, EV_PERSIST, on_usage, a);
		a->usage_ms = opts->usage_ms > 0 ? opts->usage_ms : LLMO_USAGE_PERIOD_MS;
		if (!a->heartbeat || !a->sync_poll || !a->usage)
			rc = llmo_error_set(err, LLMO_ENOMEM, "agent: out of memory");
	}
out:
	if (rc) {
		llmo_agent_free(a);
		return rc;
	}
	*out = a;
	return 0;
}

int llmo_agent_start(struct llmo_agent *a, struct llmo_error *err)
{
	struct timeval hb = {a->heartbeat_ms / 1000, (a->heartbeat_ms % 1000) * 1000};
	struct timeval now = {0, 0};
	int rc;

	if (a->started)
		return llmo_error_set(err, LLMO_EINVAL, "agent: already started");
	/* the first heartbeat then has an interval to measure over */
	llmo_node_sample_read(&a->node_prev, NULL);
	if (!a->run_pods) {
		rc = publish_node(a, err);
		if (rc)
			return rc;
		if (a->podf) {
			rc = llmo_informer_start(a->pods, err);
			if (rc)
				return rc;
			event_add(a->sync_poll, &now);
		}
		event_add(a->heartbeat, &hb);
		a->started = true;
		llmo_log(LLMO_LOG_INFO, LOG, "publishing GPUs on the node",
			 "node=%s gpus=%zu model_cache=%s", a->node, a->info.gpus.gpus.len,
			 a->model_cache_dir ? a->model_cache_dir : "none");
		return 0;
	}
	if (a->log_token) {
		rc = logs_start(a, err);
		if (rc)
			return rc;
	}
	rc = register_node(a, err);
	if (rc)
		return rc;
	ensure_namespace(a, LLMO_AGENT_LEASE_NAMESPACE);
	if (renew_lease(a, err))
		llmo_log(LLMO_LOG_WARN, LOG, "lease creation failed", "node=%s error=\"%s\"",
			 a->node, err->msg);
	if (a->self) {
		if (a->logs && a->self->log_path &&
		    (rc = llmo_logserver_set_file(a->logs, a->self->ns, a->self_name,
						  a->self->container, a->self->log_path,
						  a->self->prev_log_path, err)))
			return rc;
		ensure_namespace(a, a->self->ns);
		self_publish(a);
	}
	rc = llmo_informer_start(a->pods, err);
	if (rc)
		return rc;
	event_add(a->heartbeat, &hb);
	event_add(a->sync_poll, &now);
	{
		struct timeval us = {a->usage_ms / 1000, (a->usage_ms % 1000) * 1000};

		event_add(a->usage, &us);
	}
	a->started = true;
	llmo_log(LLMO_LOG_INFO, LOG, "node registered",
		 "node=%s cpu_milli=%" PRId64 " memory=%" PRId64 " gpus=%zu source=%s logs_port=%d",
		 a->node, a->info.cpu_milli, a->info.memory_bytes, a->info.gpus.gpus.len,
		 a->info.gpus.source == LLMO_GPU_FAKE	? "fake"
		 : a->info.gpus.source == LLMO_GPU_NVML ? "nvml"
							: "none",
		 logs_port(a));
	return 0;
}

struct stop_wait {
	struct llmo_agent *a;
	int64_t deadline;
	struct event *tick;
};

static int remove_each(void *ctx, json_t *pod)
{
	struct llmo_agent *a = ctx;
	const char *uid = llmo_kube_str(pod, "metadata", "uid");

	if (uid)
		llmo_runtime_remove_pod(a->rt, uid);
	return 0;
}

struct any_known {
	struct llmo_agent *a;
	bool any;
};

static int check_known(void *ctx, json_t *pod)
{
	struct any_known *k = ctx;
	const char *uid = llmo_kube_str(pod, "metadata", "uid");

	if (uid && llmo_runtime_pod_known(k->a->rt, uid))
		k->any = true;
	return 0;
}

static void on_stop_tick(evutil_socket_t fd, short what, void *arg)
{
	struct stop_wait *w = arg;
	struct any_known k = {w->a, false};
	struct timeval tv = {0, 100000};

	llmo_informer_list(w->a->pods, NULL, check_known, &k);
	if (!k.any || llmo_clock_mono_ms() > w->deadline) {
		event_base_loopbreak(w->a->base);
		return;
	}
	event_add(w->tick, &tv);
}

/* Stops every pod the agent runs and waits (running the loop) until they are gone. */
static void stop_all_pods(struct llmo_agent *a)
{
	struct stop_wait w = {a, llmo_clock_mono_ms() + LLMO_AGENT_STOP_WAIT_MS, NULL};
	struct timeval tv = {0, 0};

	llmo_informer_stop(a->pods);
	llmo_informer_list(a->pods, NULL, remove_each, a);
	w.tick = evtimer_new(a->base, on_stop_tick, &w);
	if (!w.tick)
		return;
	event_add(w.tick, &tv);
	event_base_dispatch(a->base);
	event_free(w.tick);
}

void llmo_agent_free(struct llmo_agent *a)
{
	struct llmo_error err = {0};

	if (!a)
		return;
	if (a->heartbeat)
		event_free(a->heartbeat);
	if (a->sync_poll)
		event_free(a->sync_poll);
	if (a->usage)
		event_free(a->usage);
	if (a->pf_poll)
		event_free(a->pf_poll);
	if (a->podf_timer)
		event_free(a->podf_timer);
	llmo_prefetcher_free(a->pf);
	llmo_podfetcher_free(a->podf);
	if (a->started && a->run_pods) {
		if (a->stop_pods)
			stop_all_pods(a);
		if (write_node_status(a, false, "AgentStopped", "llmo agent stopped", NULL, &err))
			llmo_log(LLMO_LOG_WARN, LOG, "node status failed", "node=%s error=\"%s\"",
				 a->node, err.msg);
	}
	llmo_informer_free(a->pods);
	llmo_workqueue_free(a->queue);
	llmo_logserver_free(a->logs);
	llmo_runtime_free(a->rt);
	llmo_hmap_release(&a->uid_key, free);
	llmo_hmap_release(&a->evented, free);
	llmo_event_recorder_free(a->rec);
	free(a->model_cache_dir);
	llmo_node_info_release(&a->info);
	llmo_metrics_free(a->metrics);
	free(a->node);
	free(a->fake_gpus);
	free(a->host_ip);
	free(a->log_token);
	free(a);
}

const char *llmo_agent_node_name(const struct llmo_agent *a)
{
	return a->node;
}
