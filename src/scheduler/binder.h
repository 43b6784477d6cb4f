#ifndef LLMO_SCHEDULER_BINDER_H
#define LLMO_SCHEDULER_BINDER_H
/*
 * struct llmo_binder: the live scheduler. It places pods with a placement
 * policy of src/scheduler/policy.h (the same code as `llmo sim schedule`).
 *
 * It watches pods (all namespaces) and nodes with two informers and keeps a
 * work queue of pod keys "ns/name". A pod is a candidate when its
 * spec.schedulerName is the binder's name, spec.nodeName is empty and it has
 * no metadata.deletionTimestamp. A candidate's request is the sum over
 * spec.containers[].resources.requests of cpu, memory and nvidia.com/gpu
 * (milli-units).
 *
 * Queue: pending pods are handled highest priority first, then oldest
 * (metadata.creationTimestamp), then by key. A pod's priority is its
 * spec.priority when it has a spec.priorityClassName, else the priority of
 * the QoS class its LLMO_BINDER_QOS_LABEL names (llmo_binder_add_qos_class),
 * else its spec.priority, else 0.
 *
 * Filters, per node in name order, each failing node counted under its
 * first failing filter (resources: under every short resource): Ready
 * condition True; spec.unschedulable not true; every NoSchedule and
 * NoExecute taint tolerated (scheduler/filter.h); spec.nodeSelector and
 * required node affinity; for a GPU pod with the
 * LLMO_BINDER_GPU_TYPE_ANNOTATION, the node's GPU name matches it; then
 * status.allocatable (cpu and memory times the overcommit ratio; a missing
 * entry counts as 0) minus the requests of the unfinished pods bound to it,
 * and of the pending pods nominated to it (status.nominatedNodeName) whose
 * priority is at least this pod's, covers the request.
 *
 * Choice: the nodes that pass become a struct llmo_sched_cluster (see
 * binder.c for the translation), built per decision from the cluster
 * state the binder keeps from the watch (binder_int.h), and the policy
 * (llmo_binder_set_policy) picks the node and its GPUs, ties going to the
 * node first in name order. When a node holds the pod's model in its cache
 * (filter.h), the pod's LLMModel has benchmarks for a node's GPU type, a
 * node matches a preferred node affinity term of the pod, or a node has
 * PreferNoSchedule taints the pod does not tolerate, each node's policy
 * score (0..100) gets the model affinity score (0..100) times the affinity
 * weight, the performance score times the performance weight and the
 * preferred node affinity score (filter.h: 100 * the weights of the terms
 * it matches / the largest such sum) times its weight added, and 100 * its
 * untolerated PreferNoSchedule taints / the most any
 * node has taken away; the highest total wins (ties to name order) with the
 * GPUs the policy picks there. The performance score of a node is 100 *
 * the highest tokensPerSecond among the status.benchmarks of the pod's
 * LLMModel (in its namespace, spec.name and spec.version equal to the pod's
 * model and version labels) whose gpuType matches the node's GPU name (as
 * the gpuType constraint matches), over the highest such value of any
 * node that passed; 0 for a node with no matching benchmark.
 *
 * Preemption: when no node passes, the pod's preemption policy allows it
 * (its class's preemptionPolicy; spec.preemptionPolicy "Never" forbids it,
 * and a pod of no class preempts only with spec.preemptionPolicy
 * "PreemptLowerPriority") and it is not already waiting for victims to
 * leave its nominated node, every node that failed on resources alone is
 * tried with scheduler/preempt.h: the victims are the unfinished pods on it
 * not being deleted whose priority is lower (lower-priority), or lower or
 * equal and created after the preemptor (always); a pod with the
 * LLMO_BINDER_WORKLOAD_LABEL of an LLMWorkload in its namespace may only go
 * while that workload keeps spec.scaling.minReplicas (default 1) bound pods
 * that are not being deleted. The best set over all nodes (preempt.h's
 * order, then name order) is evicted through pods/eviction, each victim gets
 * a Preempted Event, the preemptor gets status.nominatedNodeName and a
 * Preempting Event, and it is bound when the victims have left. The
 * chosen node gets a pods/binding; when no
 * node passes, or the policy finds no node with GPUs to spare in the right
 * shares, the pod gets a PodScheduled=False (Unschedulable) condition and a
 * FailedScheduling Warning Event with a kube-scheduler-style message, and is
 * retried rate-limited. Node changes, and pods that leave a node, requeue
 * every pending candidate.
 *
 * Bindings are remembered in memory as soon as they succeed, so two pods
 * handled before the informer sees the first binding do not both take the
 * last slot.
 *
 * Leader election (llmo_binder_set_leader_election): the binder campaigns
 * for the Lease LLMO_BINDER_LEASE_NAME (src/kube/leader.h) and places pods
 * only while it leads, so that of several copies only one binds; when it
 * starts leading it takes up every pending pod.
 *
 * Threads: everything runs on the owner's event loop (the informers' and the
 * event recorder's threads only do HTTP). Not thread-safe.
 */
#include "base/common.h"
#include "api/config.h"
#include "base/error.h"
#include "kube/client.h"
#include "scheduler/policy.h"

struct event_base;
struct llmo_binder;

/* The schedulerName the binder serves by default. */
#define LLMO_BINDER_DEFAULT_NAME "llmo-scheduler"
/* Longest pod key "ns/name" (63 + 1 + 253, NUL, with room to spare). */
#define LLMO_BINDER_KEY_MAX 320
/*
 * GPUs: a pod requesting nvidia.com/gpu is given GPUs of its node before it
 * is bound, written to its annotation LLMO_BINDER_GPUS_ANNOTATION as
 * comma-separated GPU ids (the node agent sets CUDA_VISIBLE_DEVICES to
 * them). The ids are the uuids of the node's LLMO_BINDER_DEVICES_ANNOTATION
 * (a JSON array of {"index", "uuid", "name", ...} the agent writes), else
 * indices "0".."N-1". A request of 1000m or more asks for that many whole
 * GPUs (rounded up), unused ones; a fraction below 1000m a share of one GPU.
 * The policy picks which (all of them: the lowest-numbered free GPUs for
 * whole GPUs; bestfit, dotprod, gpupacking, gpuclustering and llmo: the
 * fullest GPU a share fits on; fgd: the best-scoring one; random: any).
 * A GPU's use is the sum over the unfinished pods holding it of their
 * request divided by the number of GPUs each holds.
 *
 * Pods asking more than LLMO_SCHED_POD_GPUS_MAX GPUs, and nodes with more
 * than LLMO_SCHED_NODE_GPUS_MAX GPUs, are outside the policies' model: they
 * are placed first fit, as before the policies (nodes in name order; whole
 * GPUs in index order, a share on the fullest GPU it fits), the big nodes
 * only when the policy found no other node.
 */
#define LLMO_BINDER_GPUS_ANNOTATION "llm.orchestrator.io/gpus"
#define LLMO_BINDER_DEVICES_ANNOTATION "llm.orchestrator.io/gpu-devices"
/*
 * GPU memory: a pod whose LLMO_BINDER_GPU_MEMORY_ANNOTATION asks M bytes
 * (a quantity, "20Gi"; the controller copies spec.resources.gpuMemory) needs
 * a GPU of at least M bytes: nodes whose GPUs have less (or do not say) fail
 * with "node(s) had no GPU with M of memory". A node's GPU memory is the
 * smallest memoryTotalBytes of its LLMO_BINDER_DEVICES_ANNOTATION entries,
 * else its LLMO_BINDER_GPU_MEMORY_LABEL (MiB, GPU feature discovery's). A
 * pod of whole GPUs (nvidia.com/gpu >= 1) takes whole GPUs as before; a pod
 * of a share (or of no nvidia.com/gpu) takes on a node with G bytes per GPU
 * the share max(request, ceil(1000 * M / G)) milli-GPU of one GPU, so that
 * 20Gi is 250m of an 80Gi GPU and 500m of a 40Gi one. That share is what
 * the filters, the policy and the cluster state count, and it is written
 * with the GPU ids to the pod's LLMO_BINDER_GPU_SHARE_ANNOTATION (milli-GPU,
 * "250m"), which then stands for the pod's share on its node.
 */
#define LLMO_BINDER_GPU_MEMORY_ANNOTATION "llm.orchestrator.io/gpu-memory"
#define LLMO_BINDER_GPU_SHARE_ANNOTATION "llm.orchestrator.io/gpu-share"
#define LLMO_BINDER_GPU_MEMORY_LABEL "nvidia.com/gpu.memory"
/*
 * GPU model constraint: "A100|H100" accepts a node when one of the names
 * between '|' (spaces around them ignored) is a case-insensitive substring
 * of the node's GPU name: the "name" of an entry of its
 * LLMO_BINDER_DEVICES_ANNOTATION, else its LLMO_BINDER_GPU_PRODUCT_LABEL
 * (NVIDIA GPU feature discovery's). A node with no GPU name matches no
 * constraint. An empty value (or only separators) constrains nothing; a
 * value longer than LLMO_BINDER_GPU_TYPE_MAX matches no node. Nodes that
 * fail count under "node(s) didn't match gpuType". Only pods that request
 * GPUs are constrained.
 */
#define LLMO_BINDER_GPU_TYPE_ANNOTATION "llm.orchestrator.io/gpu-type"
#define LLMO_BINDER_GPU_PRODUCT_LABEL "nvidia.com/gpu.product"
#define LLMO_BINDER_GPU_TYPE_MAX 256
/*
 * Whether node passes pod's gpuType constraint (above): true when the pod
 * names no GPU type. The caller applies it to pods that request GPUs (the
 * controller's model prefetch asks which nodes a replica could land on).
 */
bool llmo_binder_gpu_type_accepts(const json_t *pod, const json_t *node);
/* The pod label naming its QoS class (the controller sets it from spec.qosClass). */
#define LLMO_BINDER_QOS_LABEL "llm.orchestrator.io/qos"
/* The pod label naming its LLMWorkload (in the pod's namespace). */
#define LLMO_BINDER_WORKLOAD_LABEL "llm.orchestrator.io/workload"
/* QoS classes a binder knows, at most. */
#define LLMO_BINDER_QOS_MAX 32
/*
 * The target workload of the fgd and llmo policies: the (GPUs, share)
 * classes of the GPU pods with the binder's schedulerName it has seen added
 * (up to LLMO_BINDER_CLASSES_MAX distinct classes; pods of further classes
 * are not counted), weighted by their counts, once at least
 * LLMO_BINDER_WORKLOAD_MIN_PODS were counted; before that, an even mix of
 * 1 whole GPU, half a GPU, 2, 4 and 8 GPUs.
 */
#define LLMO_BINDER_CLASSES_MAX 64
#define LLMO_BINDER_WORKLOAD_MIN_PODS 20
/* GPUs per node considered when a node lists none. */
#define LLMO_BINDER_GPUS_MAX 1024
/*
 * Pods wait for the LLMWorkload and LLMModel caches (minReplicas,
 * benchmarks) to be listed, for at most this long after the start (a
 * cluster without llmo's CRDs then schedules without them).
 */
#define LLMO_BINDER_CRD_SYNC_WAIT_MS 10000
/*
 * Gang placement: pods whose annotation LLMO_BINDER_POD_GROUP_ANNOTATION
 * names a pod group (of their namespace; at most LLMO_BINDER_POD_GROUP_MAX
 * bytes) are placed all or nothing. The group needs minMember pods
 * (LLMO_BINDER_POD_GROUP_MIN_ANNOTATION of the pod being placed: a decimal
 * integer from 1 to LLMO_BINDER_GANG_MAX; 1 when absent): members bound
 * already count, the rest are placed together in one decision, each
 * reserving its node's room and GPUs for the next, and bound only when
 * enough of them fit; else none is bound and the pod reads
 * "pod group NS/G: K of N pod(s) fit, minMember M; 0/X nodes are ...".
 * Then, when the pod may preempt, evictions are planned member after
 * member (each as a lone pod's preemption, seeing those planned before it
 * as done) and made only if every member then has a node: the victims are
 * evicted and each member is nominated to its node (binder_gang.c).
 * Past LLMO_BINDER_GANG_MAX pending members, the rest wait.
 */
#define LLMO_BINDER_POD_GROUP_ANNOTATION "llm.orchestrator.io/pod-group"
#define LLMO_BINDER_POD_GROUP_MIN_ANNOTATION "llm.orchestrator.io/pod-group-min-member"
#define LLMO_BINDER_POD_GROUP_MAX 253
#define LLMO_BINDER_GANG_MAX 1000
/* Longest FailedScheduling message built. */
#define LLMO_BINDER_MESSAGE_MAX 1024

/*
 * Creates a stopped binder for pods whose spec.schedulerName is
 * scheduler_name (NULL: LLMO_BINDER_DEFAULT_NAME; copied), running on base.
 * client must outlive the binder. 0, LLMO_ENOMEM, or an informer/workqueue/
 * recorder error.
 */
int llmo_binder_new(struct llmo_kube_client *client, struct event_base *base,
		    const char *scheduler_name, struct llmo_binder **out, struct llmo_error *err);

/* Starts the informers. LLMO_EINVAL when already started; LLMO_EIO. */
int llmo_binder_start(struct llmo_binder *b, struct llmo_error *err);

/* Stops the informers, drops the queue, flushes events, frees. NULL is fine. */
void llmo_binder_free(struct llmo_binder *b);

/*
 * cpu and memory of a node may be promised up to ratio times its allocatable
 * (the configuration's scheduler.resourceOvercommitRatio; never GPUs).
 * Values below 1 count as 1, the default.
 */
void llmo_binder_set_overcommit(struct llmo_binder *b, double ratio);
/*
 * The placement policy (default LLMO_SCHED_LLMO). LLMO_EINVAL for a kind out
 * of range (the policy is unchanged).
 */
int llmo_binder_set_policy(struct llmo_binder *b, enum llmo_sched_policy_kind kind);
/*
 * Adds (or replaces) QoS class name (copied) with its priority and
 * preemption policy (enum llmo_preemption of api/config.h). LLMO_EINVAL for
 * an empty name or a policy out of range, LLMO_ETOOBIG past
 * LLMO_BINDER_QOS_MAX classes, LLMO_ENOMEM.
 */
int llmo_binder_add_qos_class(struct llmo_binder *b, const char *name, int32_t priority,
			      int preemption_policy);
/*
 * The latency objective (maxLatency, ms; 0: none) of QoS class name, added
 * before. With the performance score on, a node whose GPU type's benchmarked
 * time to first token (the lowest ttftP95Ms of the pod's LLMModel there)
 * misses it scores 200 times the performance weight less while some other
 * node that passed meets it (docs/scheduler.md). LLMO_ENOTFOUND for an
 * unknown class.
 */
int llmo_binder_set_qos_latency(struct llmo_binder *b, const char *name, int32_t max_latency_ms);
/*
 * The resourceGuarantee g (0..1) of QoS class name, added before: the share
 * of its pods' cpu and memory requests that the overcommit ratio may not
 * stretch. With ratio R a node offers allocatable * R, and a pod of the
 * class is charged its request * (1 + g * (R - 1)), so pods of g = 1 fit
 * the node's real allocatable and pods of g = 0 (or no class) use all of
 * allocatable * R (docs/scheduler.md). LLMO_EINVAL outside 0..1,
 * LLMO_ENOTFOUND for an unknown class.
 */
int llmo_binder_set_qos_guarantee(struct llmo_binder *b, const char *name, double guarantee);
/* The model affinity weight (default 1; 0 turns model affinity off; negative counts as 0). */
void llmo_binder_set_affinity_weight(struct llmo_binder *b, double weight);
/* The performance score's weight (default 1; 0 turns it off; negative counts as 0). */
void llmo_binder_set_performance_weight(struct llmo_binder *b, double weight);
/* The preferred node affinity score's weight (default 1; 0 turns it off; negative counts as 0). */
void llmo_binder_set_node_affinity_weight(struct llmo_binder *b, double weight);
/*
 * The weight of the inter-pod affinity score (podaffinity.h: 0..100 from the
 * preferred terms of the pod and of the pods placed) against the policy's
 * score; 0 turns it off (the required terms still filter). Default 1.
 */
void llmo_binder_set_pod_affinity_weight(struct llmo_binder *b, double weight);
/*
 * The weight of the topology spread score (spread.h: 0..100, the fewest
 * matching pods in the node's domains scoring most) of pods with
 * ScheduleAnyway constraints; 0 turns it off (DoNotSchedule still filters).
 * Default 2, as kube-scheduler weighs PodTopologySpread.
 */
void llmo_binder_set_spread_weight(struct llmo_binder *b, double weight);
/*
 * Threads that filter and score nodes in decisions over at least
 * LLMO_SCHED_PARALLEL_MIN_NODES nodes (policy.h): 1 serial (the default
 * before this is called), 0 the online CPUs up to 16, at most
 * LLMO_SCHED_POOL_MAX. The choices and messages are the same as serial.
 * Before llmo_binder_start. LLMO_EINVAL out of range, or as
 * llmo_sched_pool_new (the binder is unchanged).
 */
int llmo_binder_set_parallelism(struct llmo_binder *b, int threads);
/*
 * Applies the configuration's scheduler section: resourceOvercommitRatio,
 * every qosClasses entry, modelAffinityWeight (0 when localityPreference
 * is false), performanceWeight (0 unless strategy is performance-aware),
 * nodeAffinityWeight and parallelism;
 * not the policy (a flag may override it).
 * Errors as llmo_binder_add_qos_class, with err naming the class.
 */
int llmo_binder_configure(struct llmo_binder *b, const struct llmo_scheduler_config *sc,
			  struct llmo_error *err);
/* The Lease the binder campaigns for with leader election. */
#define LLMO_BINDER_LEASE_NAME "llmo-scheduler"
/*
 * Turns leader election on (before llmo_binder_start): the Lease
 * LLMO_BINDER_LEASE_NAME in namespace ns, this candidate called identity
 * (NULL: "HOSTNAME_PID"), durations as struct llmo_leader_config (0: its
 * defaults). LLMO_EINVAL when started or already on, or as llmo_leader_new.
 */
int llmo_binder_set_leader_election(struct llmo_binder *b, const char *ns, const char *identity,
				    long lease_duration_ms, long renew_deadline_ms,
				    long retry_period_ms, struct llmo_error *err);
/* Whether the binder places pods now: it leads, or runs without leader election. */
bool llmo_binder_is_leader(const struct llmo_binder *b);
/* Victims this binder evicted (successful pods/eviction POSTs). */
size_t llmo_binder_evicted_count(const struct llmo_binder *b);
/* Bindings made by this binder (successful pods/binding POSTs). */
size_t llmo_binder_bound_count(const struct llmo_binder *b);

/*
 * Appends the scheduler's metrics (Prometheus text: attempts by result,
 * pending pods, preemption victims, decision latency) to out. Safe from any
 * thread while the binder lives (the counters are atomics); arg is the
 * struct llmo_binder *. docs/monitoring.md lists them.
 */
struct llmo_buf;
int llmo_binder_write_metrics(void *arg, struct llmo_buf *out, struct llmo_error *err);

#endif
