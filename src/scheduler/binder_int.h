#ifndef LLMO_SCHEDULER_BINDER_INT_H
#define LLMO_SCHEDULER_BINDER_INT_H
/*
 * The live scheduler's internals, shared by binder.c (queue, filters,
 * choice, binding, life cycle), binder_gang.c (pod groups) and
 * binder_preempt.c (preemption). Not an interface: see binder.h.
 * Everything runs on the binder's loop thread.
 */
#include "base/common.h"

#include <jansson.h>

#include "base/hmap.h"
#include "base/rng.h"
#include "base/str.h"
#include "kube/client.h"
#include "scheduler/binder.h"
#include "scheduler/cluster.h"
#include "scheduler/podaffinity.h"
#include "scheduler/spread.h"
#include "scheduler/policy.h"
#include "scheduler/pool.h"

struct llmo_event_recorder;
struct llmo_informer;
struct llmo_leader;
struct llmo_workqueue;

/* The component name in log lines. */
#define LLMO__BINDER_LOG "scheduler"
/* Longest URL path built (namespace, name, subresource). */
#define LLMO__BINDER_PATH_MAX 1024

enum { RES_CPU, RES_MEMORY, RES_GPU, RES_N };

/*
 * Failure reasons, in the order the message lists them; the untolerated
 * taints (one reason per distinct taint, struct llmo__binder_whys) come
 * after gpuType.
 */
enum { WHY_CPU, WHY_MEMORY, WHY_GPU, WHY_GPU_TYPE, WHY_GPU_MEMORY, WHY_SELECTOR,
       WHY_POD_AFFINITY, WHY_POD_ANTI_AFFINITY, WHY_EXISTING_ANTI_AFFINITY, WHY_SPREAD_LABEL,
       WHY_SPREAD, WHY_NOT_READY, WHY_UNSCHEDULABLE, WHY_N };

/* Distinct untolerated taints named in one message; further ones are counted together. */
#define LLMO__BINDER_TAINTS_MAX 8
/* Longest "{key: value}" of a taint in a message. */
#define LLMO__BINDER_TAINT_TEXT_MAX 160

/* Why nodes failed: counts per reason, and per untolerated taint. */
struct llmo__binder_whys {
	int n[WHY_N];
	struct {
		char text[LLMO__BINDER_TAINT_TEXT_MAX];
		int n;
	} taints[LLMO__BINDER_TAINTS_MAX];
	size_t ntaints;
	int other_taints; /* nodes with a taint past LLMO__BINDER_TAINTS_MAX distinct ones */
	int64_t gpu_mem;  /* the pod's GPU memory (bytes), named by WHY_GPU_MEMORY */
	/* the pod's malformed affinity term or spread constraint, whole message; "": none */
	char invalid[LLMO_ERRMSG_MAX + 64];
};

/* A list of borrowed objects (nodes of the pass). */
struct llmo__binder_objv {
	LLMO_VEC(json_t *) v;
};


/* A QoS class of the configuration (llmo_binder_add_qos_class). */
struct llmo__binder_qos {
	char *name;
	int32_t priority;
	int preemption; /* enum llmo_preemption */
	int32_t max_latency_ms; /* the class's latency objective; 0: none */
	double guarantee;	/* resourceGuarantee, 0..1: the request share not overcommitted */
};

struct llmo__binder_usage {
	int64_t v[RES_N];
	uint32_t tags[LLMO_SCHED_TAGS]; /* a node's GPU pods by affinity tag (cluster.h) */
	/*
	 * A pod's request only: the GPU memory it needs per GPU, in bytes (its
	 * LLMO_BINDER_GPU_MEMORY_ANNOTATION; 0: none). Never summed: what a pod
	 * holds is v[RES_GPU] converted on its node (llmo__binder_node_request).
	 */
	int64_t gpu_mem;
};

/* A node of the cluster state: its object, allocatable and GPU ids (binder_state.c). */
struct llmo__binder_node {
	json_t *obj;      /* a reference */
	const char *name; /* in obj */
	int64_t alloc[RES_N]; /* llmo__binder_node_alloc */
	struct llmo_strv ids; /* llmo__binder_node_gpu_ids */
	int64_t gpu_mem;      /* llmo__binder_node_gpu_memory */
	bool ready;           /* its Ready condition is True */
};

/*
 * The cluster state kept from the informers' events (binder_state.c): the
 * usage of the pods holding nodes, the pending nominated pods, the nodes.
 */
struct llmo__binder_state {
	struct llmo_hmap used;     /* node name -> struct llmo__binder_usage * (owned) */
	struct llmo_hmap gpu_used; /* "node\x1fGPU id" -> int64_t * milli-GPUs (owned) */
	struct llmo_hmap pods;     /* pod key -> its contribution (owned, binder_state.c) */
	struct llmo_hmap nominees; /* keys of pending pods of ours with a nominated node */
	LLMO_VEC(struct llmo__binder_node) nodes; /* in name order */
	struct llmo_hmap node_index; /* node name -> struct llmo__binder_node * in nodes */
	bool nodes_dirty; /* a node changed since nodes were built */
};

/* GPU pods seen of one (GPUs, share) class, for the target workload. */
struct llmo__binder_gpu_class {
	int num_gpu;
	int gpu_milli;
	uint64_t count;
};

/* Scheduling decision latency buckets (seconds) for /metrics. */
#define LLMO__BINDER_LAT_BUCKETS 12
extern const double llmo__binder_lat_bounds[LLMO__BINDER_LAT_BUCKETS];

/*
 * What the scheduler counts for its /metrics. Written on its loop, read
 * from any thread (llmo server serves them from the controller's): every
 * field is accessed with __atomic builtins.
 */
struct llmo__binder_stats {
	uint64_t scheduled, unschedulable, errors, evicted, pending;
	uint64_t lat_count, lat_sum_ns;
	uint64_t lat[LLMO__BINDER_LAT_BUCKETS + 1]; /* per bucket, +Inf last; not cumulative */
};

struct llmo_binder {
	struct llmo_kube_client *client;
	struct event_base *base;
	char *name;
	struct llmo_informer *pods;
	struct llmo_informer *nodes;
	struct llmo_informer *workloads; /* LLMWorkloads: minReplicas for preemption */
	struct llmo_informer *models;    /* LLMModels: benchmarks for the performance score */
	struct llmo_workqueue *queue;
	struct llmo_event_recorder *rec;
	struct llmo_leader *leader; /* NULL without leader election */
	bool leading;
	/* pod key -> node name (owned) for bindings made, until the informer shows them */
	struct llmo_hmap assumed;
	/* pod key -> the GPU ids assigned (owned), until the informer shows the annotation */
	struct llmo_hmap assumed_gpus;
	/* pod key -> nominated node name (owned), for preemptors until bound or gone */
	struct llmo_hmap nominated;
	/*
	 * Keys of the victims this binder evicted, until the informer shows them
	 * being deleted or gone: a decision right after an eviction (a gang's
	 * other members are queued too) sees them leaving, not as victims again.
	 */
	struct llmo_hmap evicting;
	/* keys of the pods with podAffinity or podAntiAffinity (what may bear on any decision) */
	struct llmo_hmap affinity_pods;
	struct llmo__binder_state state;
	size_t bound;
	size_t evicted; /* victims evicted */
	struct llmo__binder_stats stats; /* for /metrics, read from other threads (atomics) */
	struct llmo__binder_qos qos[LLMO_BINDER_QOS_MAX];
	size_t nqos;
	double affinity_weight; /* model affinity score weight (>= 0) */
	double performance_weight; /* performance score weight (>= 0) */
	double node_affinity_weight; /* preferred node affinity score weight (>= 0) */
	double pod_affinity_weight;  /* inter-pod affinity score weight (>= 0) */
	double spread_weight;	     /* topology spread score weight (>= 0) */
	struct llmo_informer *namespaces; /* their labels, for namespaceSelectors */
	/* threads that filter and score nodes on large clusters; NULL: serial */
	struct llmo_sched_pool *pool;
	double overcommit; /* cpu and memory allocatable multiplier (>= 1) */
	enum llmo_sched_policy_kind policy;
	struct llmo_rng rng; /* the random policy's choices */
	/* the target workload's source: GPU pods seen, by class (binder.h) */
	struct llmo__binder_gpu_class classes[LLMO_BINDER_CLASSES_MAX];
	size_t nclasses;
	uint64_t class_pods;		   /* pods counted in classes */
	double seen_cpu, seen_mem, seen_gpu; /* their requests summed (milli-units) */
	int64_t started_ms; /* monotonic, when started */
	bool started;
};

struct llmo__binder_pass {
	struct llmo_binder *b;
	const char *self;  /* the key of the pod being placed */
	int32_t priority;  /* its priority */
	/* its pod group (namespace and name), whose nominated members keep no room; or NULL */
	const char *group_ns, *group;
	/*
	 * What this decision adds to the state's usage (nominated rooms, gang
	 * reservations): a node's or GPU's entry here, copied from the state's
	 * at its first change, replaces the state's (llmo__binder_used).
	 */
	struct llmo_hmap used;	   /* node name -> struct llmo__binder_usage * (owned) */
	struct llmo_hmap gpu_used; /* "node\x1fGPU id" -> int64_t * milli-GPUs (owned) */
	LLMO_VEC(json_t *) nodes;
	/* the pod being filtered's inter-pod affinity (podaffinity.h); NULL: none yet */
	struct llmo_sched_podaff *podaff;
	/* its topology spread constraints (spread.h); NULL: none */
	struct llmo_sched_spread *spread;
	int rc;
};

void llmo__binder_state_init(struct llmo__binder_state *st);
void llmo__binder_state_release(struct llmo__binder_state *st);
/*
 * Brings the state up to date with pod key (pod: its object now, NULL when
 * gone), after a pod event or a change of what the binder assumed about it.
 * 0 or LLMO_ENOMEM.
 */
int llmo__binder_state_pod(struct llmo_binder *b, const char *key, const json_t *pod);
/* Rebuilds the state's nodes when a node changed since. 0 or an error code. */
int llmo__binder_state_nodes(struct llmo_binder *b);
/*
 * Appends to keys the pods held on node whose GPU share is worked out from
 * the node's GPU memory (a gpuMemory request). 0 or LLMO_ENOMEM.
 */
int llmo__binder_state_gpu_memory_pods(const struct llmo_binder *b, const char *node,
					struct llmo_strv *keys);
/* The state's node called name, or NULL. */
const struct llmo__binder_node *llmo__binder_state_node(const struct llmo_binder *b,
							 const char *name);

/* What pods take on node in pass p (its own entry, else the state's), or NULL. */
const struct llmo__binder_usage *llmo__binder_used(const struct llmo__binder_pass *p,
						   const char *node);
/* Milli-GPUs taken of node's GPU id in pass p. */
int64_t llmo__binder_gpu_used(const struct llmo__binder_pass *p, const char *node, const char *id);

/* Whether pod is ours to place: our schedulerName, no node, not being deleted. */
bool llmo__binder_pod_pending(const struct llmo_binder *b, const json_t *pod);

/* The pod's creationTimestamp ("" when none): RFC 3339 in UTC sorts as text. */
const char *llmo__binder_created(const json_t *pod);

/* The value of the object's label key, or NULL. */
const char *llmo__binder_label(const json_t *obj, const char *key);

/* The node's allocatable resource r (milli-units; cpu and memory times the overcommit). */
int64_t llmo__binder_node_alloc(const struct llmo_binder *b, const json_t *node, int r);

/* The node's GPU ids in index order into ids (binder.h). 0 or LLMO_ENOMEM. */
int llmo__binder_node_gpu_ids(const json_t *node, struct llmo_strv *ids);

/* The node pod is nominated to (this binder's nomination, else its status), or NULL. */
const char *llmo__binder_nominated_node(const struct llmo_binder *b, const json_t *pod,
					const char *key);

/* Whether the pod has a metadata.deletionTimestamp. */
bool llmo__binder_pod_deleting(const json_t *pod);

/* Whether the pod (key) is being deleted, or was evicted by this binder (evicting). */
bool llmo__binder_pod_leaving(const struct llmo_binder *b, const json_t *pod, const char *key);

/* Whether the pod's phase is Succeeded or Failed. */
bool llmo__binder_pod_finished(const json_t *pod);

/* The GPU ids assigned to pod (annotation, or assumed by this binder), or NULL. */
const char *llmo__binder_pod_gpus(const struct llmo_binder *b, const json_t *pod, const char *key);

/* The pod's preemption policy (binder.h), an enum llmo_preemption. */
int llmo__binder_pod_preemption(const struct llmo_binder *b, const json_t *pod);

/* The pod's priority (binder.h). */
int32_t llmo__binder_pod_priority(const struct llmo_binder *b, const json_t *pod);

/* A stand-in involved object for Events about pod (new reference, NULL without memory). */
json_t *llmo__binder_pod_ref(const json_t *pod);

/*
 * The pod's summed container requests, and its GPU memory annotation into
 * u->gpu_mem; unparsable quantities count as 0.
 */
void llmo__binder_pod_request(const json_t *pod, struct llmo__binder_usage *u);
/*
 * What the pod is charged on a node: its request, with cpu and memory
 * times 1 + g * (resourceOvercommitRatio - 1) for a pod of a QoS class with
 * resourceGuarantee g (llmo_binder_set_qos_guarantee), since nodes offer
 * allocatable * ratio and that share of its request must not come from the
 * overcommitted part. Every fit, account and preemption plan uses it.
 */
void llmo__binder_pod_demand(const struct llmo_binder *b, const json_t *pod,
			     struct llmo__binder_usage *u);

/*
 * The memory of each GPU of node in bytes: the smallest memoryTotalBytes of
 * its gpu-devices entries, else its LLMO_BINDER_GPU_MEMORY_LABEL (MiB);
 * 0 when unknown.
 */
int64_t llmo__binder_node_gpu_memory(const json_t *node);

/*
 * The milli-GPUs a pod asking milli (its nvidia.com/gpu) and gpu_mem bytes
 * per GPU takes of GPUs of gpu_total bytes each (binder.h): milli without
 * gpu_mem or for whole GPUs; for a share (or none), the larger of milli and
 * ceil(1000 * gpu_mem / gpu_total). -1 when gpu_total is below gpu_mem
 * (unknown, 0, included).
 */
int64_t llmo__binder_gpu_share(int64_t milli, int64_t gpu_mem, int64_t gpu_total);

/*
 * The pod's request req on node into *out: req with its GPU share converted
 * (llmo__binder_gpu_share with the node's GPU memory, the state's when it
 * has the node). False, *out left as req, when the node's GPUs are too small.
 */
bool llmo__binder_node_request(const struct llmo_binder *b, const json_t *node,
			       const struct llmo__binder_usage *req, struct llmo__binder_usage *out);

/*
 * What pod holds on the node called node into *u: its request, its GPU
 * share that of its LLMO_BINDER_GPU_SHARE_ANNOTATION when it has a GPU
 * memory request and that annotation, else converted on the node (the
 * state's, else the node informer's; unchanged when the node is unknown).
 */
void llmo__binder_pod_held(const struct llmo_binder *b, const json_t *pod, const char *node,
			   struct llmo__binder_usage *u);

/* The pod's shape for the policies; false past LLMO_SCHED_POD_GPUS_MAX GPUs. */
bool llmo__binder_pod_shape(const struct llmo__binder_usage *req, struct llmo_sched_pod *shape);

/*
 * Preempts for pod (binder.h) on one of nodes[0..n) (those that failed on
 * resources alone, in name order): evicts the best set of victims and
 * nominates the node. 0 also when there is nothing to do; an error code
 * when the cache could not be read or memory ran out. binder_preempt.c.
 */
int llmo__binder_preempt(struct llmo__binder_pass *p, const json_t *pod, const char *key,
			 const char *ns, const char *name, json_t **nodes, size_t n,
			 const struct llmo__binder_usage *req);

/* ---- shared by binder.c, binder_gang.c and binder_preempt.c ---- */

/* The queue order (binder.h): higher priority, then older, then key; ctx is the binder. */
bool llmo__binder_pod_before(void *ctx, const char *ka, const char *kb);

/* Adds a to *sum, saturating at INT64_MAX / INT64_MIN. */
void llmo__binder_sat_add(int64_t *sum, int64_t a);

/* The pass's own usage entry of node, copied from the state's at first; NULL without memory. */
struct llmo__binder_usage *llmo__binder_pass_used(struct llmo__binder_pass *p, const char *node);

/* Adds milli (may be negative) spread evenly over the comma-separated GPU ids on node. */
int llmo__binder_pass_add_gpus(struct llmo__binder_pass *p, const char *node, const char *ids,
			       int64_t milli);

/*
 * Counts what a pod (req, of shape tag, on GPU ids gpus) takes on node in
 * the pass, as the state does for a bound pod: sign 1 adds it (a gang
 * member reserved), -1 takes it back (a victim whose eviction is planned).
 */
int llmo__binder_pass_reserve(struct llmo__binder_pass *p, const char *node,
			      const struct llmo__binder_usage *req, const char *gpus, int sign);

/*
 * Picks GPUs of node for milli milli-GPUs in the pass into out
 * (comma-separated ids): first fit for whole GPUs, best fit for a share.
 * False when none fit.
 */
bool llmo__binder_pick_gpus(struct llmo__binder_pass *p, const json_t *node, int64_t milli,
			    struct llmo_buf *out);

/*
 * Fills the pass from the cluster state: the nodes in name order, and the
 * rooms of the nominated pods. 0 or an error code.
 */
int llmo__binder_pass_fill(struct llmo__binder_pass *p);

/*
 * Runs the filters of pod (req: its request) over the pass's nodes: those
 * that pass into cands, those that pass or are short of resources only
 * into shorts (NULL: not kept), why the others failed into w.
 */
int llmo__binder_filter(struct llmo__binder_pass *p, const json_t *pod,
			const struct llmo__binder_usage *req, struct llmo__binder_whys *w,
			struct llmo__binder_objv *cands, struct llmo__binder_objv *shorts);

/*
 * Chooses among cands[0..n) the node for pod with the policy and the score
 * plugins, its GPU ids into gpus: the node, or NULL with *rc 0 when none
 * has GPUs for the pod (or an error code in *rc).
 */
json_t *llmo__binder_choose(struct llmo__binder_pass *p, const json_t *pod, json_t **cands,
			    size_t n, const struct llmo__binder_usage *req, struct llmo_buf *gpus,
			    int *rc);

/* Binds pod to node with GPU ids gpus (annotation, pods/binding, Event). 0 or an error code. */
int llmo__binder_bind(struct llmo_binder *b, const json_t *pod, const char *key, const char *ns,
		      const char *name, const char *node, const char *gpus);

/* Sets PodScheduled=False/Unschedulable with msg unless the pod already says so. */
/* Logs, marks pod Unschedulable with msg and (event) records FailedScheduling (binder.c). */
void llmo__binder_report_unschedulable(struct llmo_binder *b, const json_t *pod, const char *key,
				       const char *ns, const char *name, const char *msg, bool event);
int llmo__binder_mark_unschedulable(struct llmo_binder *b, const json_t *pod, const char *key,
				    const char *ns, const char *name, const char *msg);

/* Appends "0/N nodes are available: ..." for w to msg. */
int llmo__binder_format_reasons(size_t n_nodes, const struct llmo__binder_whys *w,
				struct llmo_buf *msg);

/* The pod's group (its annotation), or NULL when it has none or a bad one (binder_gang.c). */
const char *llmo__binder_pod_group(const json_t *pod);

/*
 * Places pod's whole group in one decision (binder.h), preempting for it
 * when it does not fit (binder_gang.c). 1 to retry with backoff, 0 when
 * done, or an error code.
 */
int llmo__binder_gang_reconcile(struct llmo__binder_pass *p, const json_t *pod, const char *key,
				const char *ns, const char *name);

/* ---- preemption plans (binder_preempt.c) ---- */

/*
 * The evictions planned for one or more preemptors in one decision: each
 * search (llmo__binder_plan_pod) sees those planned before it as done.
 */
struct llmo__binder_plan;

/* A plan over pass p (which it changes: planned victims' usage is taken out). */
int llmo__binder_plan_new(struct llmo__binder_pass *p, struct llmo__binder_plan **out);
void llmo__binder_plan_free(struct llmo__binder_plan *pl);

/* Whether a pod of priority below priority is being deleted on node (room is being made). */
bool llmo__binder_plan_leaving(const struct llmo__binder_plan *pl, const char *node,
			       int32_t priority);

/*
 * Finds for pod (key, req: its request; preemptor number member) the best
 * node of nodes[0..n) and smallest set of victims not planned yet (the
 * rules of binder.h) and plans their eviction: *chosen is the node, or NULL
 * when none works (also when the pod may not preempt, or waits for victims
 * leaving its nominated node). 0 or an error code.
 */
int llmo__binder_plan_pod(struct llmo__binder_plan *pl, const json_t *pod, const char *key,
			  json_t **nodes, size_t n, const struct llmo__binder_usage *req,
			  size_t member, json_t **chosen);

/* The victims planned so far. */
size_t llmo__binder_plan_victims(const struct llmo__binder_plan *pl);

/*
 * Evicts the victims planned for member (pods/eviction, a Preempted Event
 * naming preemptor of priority), their keys appended to names
 * (", "-separated). The number evicted.
 */
int llmo__binder_plan_evict(struct llmo__binder_plan *pl, size_t member, const char *preemptor,
			    int32_t priority, struct llmo_buf *names);

/* Sets the pod's status.nominatedNodeName to node and remembers it. 0 or an error code. */
int llmo__binder_nominate(struct llmo_binder *b, const char *key, const char *ns, const char *name,
			  const char *node);

#endif
