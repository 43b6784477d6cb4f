#ifndef LLMO_CONTROLLER_INT_H
#define LLMO_CONTROLLER_INT_H
/*
 * What controller.c, workload.c and model.c share. Not for other subsystems.
 */
#include "base/common.h"
#include <event2/util.h>
#include <jansson.h>

#include "base/hmap.h"
#include "controller/controller.h"
#include "controller/signals.h"
#include "metrics/http.h"
#include "kube/events.h"
#include "kube/informer.h"
#include "kube/leader.h"
#include "kube/object.h"
#include "kube/workqueue.h"

#define LLMO__CTRL_LOG "controller"
/* Longest object key "ns/name". */
#define LLMO__CTRL_KEY_MAX 320
/* Retry delay while the informers have not listed yet. */
#define LLMO__CTRL_UNSYNCED_MS 100

/* Per-workload memory of replica failures (the replacement backoff). */
struct llmo__heal {
	int failures;
	int64_t last_failure_ms; /* monotonic */
	int64_t next_create_ms;	 /* monotonic; no replacement before */
};

/*
 * A rollout in progress: for a canary analysis, the canary track's counters
 * when it began (base_ms: then); after a blue-green switch, the version kept
 * without traffic (previous) until base_ms.
 */
struct llmo__rollout_mem {
	char version[130];
	char previous[130];
	int64_t base_ms; /* monotonic */
	struct llmo__track_sample base;
};

/* What the controller counts for its /metrics (exporter.c). */
struct llmo__counters {
	uint64_t wl_ok, wl_err, model_ok, model_err;
	uint64_t promoted, rolled_back, scaled_up, scaled_down;
	uint64_t prefetches, prefetched; /* nodes asked to prefetch; requests done (prefetch.c) */
	uint64_t migrated, migrate_failed; /* migrations done, abandoned (workload.c) */
};

struct llmo_controller {
	struct llmo_kube_client *client;
	struct event_base *base;
	struct llmo_config own_config; /* the defaults when opts.config is NULL */
	const struct llmo_config *config;
	char *identity;
	char *lease_ns;
	char *scheduler_name;
	char *trusted_keys; /* opts.trusted_keys, or NULL */
	bool leader_election;
	long backoff_base_ms, backoff_max_ms;
	struct llmo_informer *workloads, *models, *pods, *services;
	struct llmo_informer *netpols; /* NetworkPolicies, trimmed (llmo__netpol_transform) */
	/*
	 * Every Node and every Pod (not only the workloads'), trimmed to what
	 * the node families of /metrics read (node_metrics.c), so that a scrape
	 * reads caches instead of listing through the API. NULL when /metrics is
	 * not served (opts.metrics_host).
	 */
	struct llmo_informer *metric_nodes, *metric_pods;
	struct llmo_informer *gw_pods; /* opts.gateway_pods: the gateways read (NULL: not) */
	struct llmo_workqueue *wq; /* workload keys */
	struct llmo_workqueue *mq; /* model keys */
	struct llmo_event_recorder *rec;
	struct llmo_leader *leader;
	struct llmo_hmap heal; /* workload key -> struct llmo__heal * (owned) */
	/* workload key -> its pod writes the pod informer has not shown yet (workload.c, malloc'd) */
	struct llmo_hmap expect;
	struct llmo_hmap rollouts; /* workload key -> struct llmo__rollout_mem * (owned) */
	struct llmo_hmap scalers;  /* workload key -> autoscaler state (scale.c, owned) */
	struct llmo_hmap verticals; /* workload key -> usage history (vertical.c, owned) */
	struct llmo_hmap prefetches; /* workload key -> nodes asked to prefetch (prefetch.c, owned) */
	struct llmo_hmap rebalanced; /* workload key -> int64_t mono ms of its last rebalance (owned) */
	struct event *rebalance_timer; /* every optimizationInterval; NULL when 0 (rebalance.c) */
	struct llmo__fed *fed; /* cross-cluster scheduling; NULL without federation.clusters */
	char *replica_ca_cert, *replica_ca_key; /* opts; NULL: none */
	char *fetch_image;	/* opts.fetch_image; NULL: no model fetch init container */
	char *node_cache_path;	/* opts.node_cache_path, or the default */
	struct llmo_hmap tls_checked; /* workload key -> int64_t * mono ms of its next Secret check */
	long vertical_sample_ms;
	struct llmo_hmap benches;  /* model key -> benchmark run (bench.c, owned) */
	struct llmo_controller_bench_opts bench;
	struct llmo__signals signals; /* url NULL: no gateway metrics */
	struct event *scrape_timer;
	struct llmo__counters counters;
	int replica_reads; /* this tick's */
	struct llmo_metrics_http *http; /* /metrics; NULL: not served */
	llmo_metrics_write_fn extra_metrics; /* appended to /metrics (opts) */
	void *extra_metrics_arg;
	int metrics_port;
	struct event *node_timer;
	long node_grace_ms, node_check_ms;
	bool node_lifecycle; /* run llmo__nodes_check (llmo_controller_opts) */
	long migrate_timeout_ms, migrate_unschedulable_ms;
	bool leading;
	bool started;
	uint64_t rng;
	size_t created, deleted;
};

int llmo__workload_reconcile(void *ctx, const char *key);

/*
 * Expectations (workload.c): a write by the controller at now (ms,
 * monotonic) to pod name of workload key, remembered until the pod informer
 * shows it or LLMO__EXPECT_TIMEOUT_MS have passed: CREATE (the pod is
 * there), DELETE (absent, or with a deletionTimestamp), ANNOTATIONS (ann, a
 * merge patch of annotations, key -> string or null: the pod has them, or is
 * gone; ann is referenced, not taken). llmo__expect_pending: whether one is
 * still missing from pods (the workload's pods as the cache has them); those
 * shown or expired are forgotten. The map's values go with llmo__expect_free.
 */
#define LLMO__EXPECT_TIMEOUT_MS 30000
enum { LLMO__EXPECT_CREATE, LLMO__EXPECT_DELETE, LLMO__EXPECT_ANNOTATIONS };
void llmo__expect_add(struct llmo_controller *c, const char *key, const char *name, int kind,
		      json_t *ann, int64_t now);
bool llmo__expect_pending(struct llmo_controller *c, const char *key, json_t *const *pods,
			  size_t npods, int64_t now);
void llmo__expect_free(void *x);
/* The controller's /metrics (exporter.c). */
struct llmo_buf;
int llmo__exporter_start(struct llmo_controller *c, const char *host, int port,
			 struct llmo_error *err);
int llmo__exporter_write(struct llmo_controller *c, struct llmo_buf *out, struct llmo_error *err);
/*
 * Declares the node resource families (llmo_node_*, docs/monitoring.md) in
 * m and sets their series from nodes and pods (JSON arrays of Node and Pod
 * objects, borrowed; either may be NULL: the families are then declared
 * with fewer or no samples). node_metrics.c.
 */
struct llmo_metrics;
int llmo__node_metrics_put(struct llmo_metrics *m, const json_t *nodes, const json_t *pods,
			   struct llmo_error *err);
/* A quantity field of obj in milli-units; 0 when absent or malformed (node_metrics.c). */
int64_t llmo__quantity_of(const json_t *obj, const char *key);
/*
 * The container requests of pod, milli-units: [0] cpu, [1] memory, [2]
 * nvidia.com/gpu (the GPU share the scheduler gave it stands for the GPU
 * request; a missing request is its limit). node_metrics.c.
 */
void llmo__pod_requests(const json_t *pod, int64_t out[3]);
/*
 * Informer transforms (kube/informer.h) for the caches the node families
 * are read from: a new object with only what llmo__node_metrics_put reads
 * (Node: allocatable, the gpu-devices and usage annotations; Pod: nodeName, phase,
 * the containers' resources, the usage and GPU-share annotations) and the
 * metadata the cache is keyed by. Exporting from the trimmed objects gives
 * the same series as from the originals. NULL when out of memory; any thread.
 */
json_t *llmo__node_metrics_node_transform(void *ctx, const json_t *node);
json_t *llmo__node_metrics_pod_transform(void *ctx, const json_t *pod);
int llmo__model_reconcile(void *ctx, const char *key);
/*
 * The LLMModel spec mspec's signature requirement as the annotations of
 * its replicas' pods (registry/fetch.h: LLMO_ANNOTATION_SIGNATURE_*), set
 * on annotations; the agent's fetch step enforces them.
 */
int llmo__model_signature_annotations(const json_t *mspec, json_t *annotations);
/*
 * The model fetch init container (fetch_init.c), for a replica pod whose
 * llm.orchestrator.io/model-artifact annotation is model_ref: adds to
 * podspec the hostPath volume of cache (the node agents' model cache) and
 * the init container running image (`llmo fetch --await`), and to container
 * (the model server's) a read-only mount of cache and LLMO_MODEL_PATH =
 * cache/models/HEX. Nothing at all when image is NULL or "" or model_ref is
 * NULL: such templates keep their hash. LLMO_EINVAL when model_ref has no
 * sha256 digest or cache is not absolute or too long; LLMO_ENOMEM.
 */
int llmo__fetch_init_add(json_t *podspec, json_t *container, const char *model_ref,
			 const char *image, const char *cache);
/* Appends v (a new reference, taken even on failure) to the array obj.key, made if absent. */
int llmo__append_to(json_t *obj, const char *key, json_t *v);
/*
 * Benchmark on register (bench.c). llmo__bench_model is called by the model
 * reconciler with the model (informer's, borrowed) once its status is
 * written: it starts a run for a new subject (artifact digest, else uid)
 * when modelRegistry.benchmarkOnRegister is on and ok, and cancels a run
 * whose model is invalid. llmo__bench_forget cancels the run of a model
 * that is gone. llmo__bench_release_all frees every run (controller free).
 */
void llmo__bench_model(struct llmo_controller *c, const char *key, const json_t *model, bool ok);
void llmo__bench_forget(struct llmo_controller *c, const char *key);
void llmo__bench_release_all(struct llmo_controller *c);
/*
 * spec.security (security.c). llmo__node_affinity_require adds req (a
 * NodeSelectorRequirement, stolen) to member ("matchExpressions" or
 * "matchFields") of every required nodeSelectorTerm of podspec, making the
 * first term when there is none, so that it holds with whatever was
 * required before. llmo__security_node_affinity adds the node labels
 * complianceLevel and dataClassification require (controller.h);
 * llmo__security_pod_labels the policy.llm.orchestrator.io/NAME labels of
 * networkPolicies. llmo__security_netpol_condition appends
 * NetworkPoliciesApplied to conds for a workload that names NetworkPolicies
 * (nothing otherwise): True when each one exists in netpols' cache (NULL:
 * none exist) and its podSelector selects each of labels[0..n) (the
 * replicas' template labels). llmo__netpol_transform trims a cached
 * NetworkPolicy to what that reads.
 */
int llmo__node_affinity_require(json_t *podspec, const char *member, json_t *req);
int llmo__security_node_affinity(const json_t *wspec, json_t *podspec);
/* What llmo__security_node_affinity requires, as text for a message ("" for nothing). */
void llmo__security_node_needs(const json_t *wspec, char *out, size_t n);
int llmo__security_pod_labels(const json_t *wspec, json_t *labels);
int llmo__security_netpol_condition(const struct llmo_informer *netpols, const json_t *w,
				    const json_t *const *labels, size_t nlabels, json_t *conds,
				    json_int_t generation);
json_t *llmo__netpol_transform(void *ctx, const json_t *np);
/* The node lifecycle check (nodes.c), a libevent timer callback; arg is the controller. */
void llmo__nodes_check(evutil_socket_t fd, short what, void *arg);

/* ---- helpers (controller.c) ---- */

/* True when every informer has listed once. */
bool llmo__ctrl_synced(const struct llmo_controller *c);
/* A stand-in with apiVersion, kind and metadata for the event recorder (new reference). */
json_t *llmo__obj_ref(const json_t *obj, const char *api_version, const char *kind);
/*
 * Appends {type, status, reason, message, observedGeneration,
 * lastTransitionTime} to conds; the time is kept from old (the previous
 * conditions) when status did not change.
 */
int llmo__condition_set(json_t *conds, const json_t *old_obj, const char *type, bool status,
			const char *reason, const char *message, json_int_t generation);
/*
 * "ip:port" (or "[ip6]:port") where the pod's container port answers: the
 * pod IP and, on one machine, the host port the agent mapped it to
 * (annotation llm.orchestrator.io/host-ports). port 0: the pod's first
 * container port. -1 when the pod has no IP or no port.
 */
int llmo__pod_endpoint(const json_t *pod, int port, char *out, size_t n);
/* Whether pod has ended (phase Succeeded or Failed). */
bool llmo__pod_finished(const json_t *pod);
/* Lowercase letters and digits for generated names. */
void llmo__random_suffix(struct llmo_controller *c, char *out, size_t len);

#endif
