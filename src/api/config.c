#include "api/config.h"
#include "base/duration.h"
#include "base/error.h"
#include "base/quantity.h"
#include "base/str.h"

#define F LLMO_FIELD
#define END LLMO_FIELD_END
#define SEC ((double)LLMO_NS_PER_SEC)
#define MIB (1024.0 * 1024.0 * 1000.0) /* in milli-bytes */

const char *const llmo_config_sections[] = {"scheduler", "resourceManager", "modelRegistry",
					    "operator", "resourceProfiles",
					    "deploymentStrategies", "federation", NULL};

static const char *const sched_strategies[] = {"performance-aware", "bin-packing", "spread", NULL};
/* The placement policies of src/scheduler/policy.h, in its enum's order. */
static const char *const sched_policies[] = {"random", "bestfit", "dotprod", "gpupacking",
					     "gpuclustering", "fgd", "llmo", NULL};
static const char *const preemption_policies[] = {"never", "lower-priority", "always", NULL};
static const char *const storage_types[] = {"local", "s3", "gcs", "azure", NULL};
static const char *const log_levels[] = {"debug", "info", "warn", "error", NULL};
static const char *const log_formats[] = {"text", "json", NULL};

#define QC struct llmo_qos_class
static const struct llmo_field qos_fields[] = {
	F(QC, priority, "priority", LLMO_FT_INT32, .flags = LLMO_FF_MIN | LLMO_FF_MAX, .min = 0,
	  .max = 1000000000, .def = "0",
	  .doc = "scheduling priority; higher is placed first and may preempt lower"),
	F(QC, resource_guarantee, "resourceGuarantee", LLMO_FT_NUMBER,
	  .flags = LLMO_FF_MIN | LLMO_FF_MAX, .min = 0, .max = 1, .def = "0.5",
	  .doc = "share of its pods' cpu and memory requests that resourceOvercommitRatio may "
		 "not stretch, 0..1"),
	F(QC, max_latency_ms, "maxLatency", LLMO_FT_INT32, .flags = LLMO_FF_MIN, .min = 0,
	  .def = "1000",
	  .doc = "latency objective of the class in milliseconds (time to first token; the "
		 "scheduler avoids GPU types benchmarked slower)"),
	F(QC, preemption_policy, "preemptionPolicy", LLMO_FT_ENUM, .enums = preemption_policies,
	  .def = "never", .doc = "never | lower-priority | always: whom this class may evict"),
	END,
};

#define SC struct llmo_scheduler_config
static const struct llmo_field scheduler_fields[] = {
	F(SC, strategy, "strategy", LLMO_FT_ENUM, .enums = sched_strategies,
	  .def = "performance-aware", .doc = "placement strategy: performance-aware | bin-packing | spread"),
	F(SC, policy, "policy", LLMO_FT_ENUM, .enums = sched_policies, .def = "llmo",
	  .doc = "node and GPU choice of `llmo scheduler`: random | bestfit | dotprod | "
		 "gpupacking | gpuclustering | fgd | llmo"),
	F(SC, resource_overcommit_ratio, "resourceOvercommitRatio", LLMO_FT_NUMBER,
	  .flags = LLMO_FF_MIN | LLMO_FF_MAX, .min = 1, .max = 10, .def = "1.2",
	  .doc = "cpu and memory may be promised up to this multiple of allocatable (never GPUs)"),
	F(SC, locality_preference, "localityPreference", LLMO_FT_BOOL, .def = "true",
	  .doc = "prefer nodes that already cache the model"),
	F(SC, model_affinity_weight, "modelAffinityWeight", LLMO_FT_NUMBER,
	  .flags = LLMO_FF_MIN | LLMO_FF_MAX, .min = 0, .max = 100, .def = "1",
	  .doc = "weight of the model affinity score (0..100, by start-up time saved) against "
		 "the policy's score (0..100); used when localityPreference is true"),
	F(SC, performance_weight, "performanceWeight", LLMO_FT_NUMBER,
	  .flags = LLMO_FF_MIN | LLMO_FF_MAX, .min = 0, .max = 100, .def = "1",
	  .doc = "weight of the performance score (0..100, the node's GPU type's benchmarked "
		 "tokens/s for the model against the best); used when strategy is "
		 "performance-aware"),
	F(SC, node_affinity_weight, "nodeAffinityWeight", LLMO_FT_NUMBER,
	  .flags = LLMO_FF_MIN | LLMO_FF_MAX, .min = 0, .max = 100, .def = "1",
	  .doc = "weight of the preferred node affinity score (0..100: the sum of the weights "
		 "of the pod's preferred terms a node matches, against the largest sum)"),
	F(SC, pod_affinity_weight, "podAffinityWeight", LLMO_FT_NUMBER,
	  .flags = LLMO_FF_MIN | LLMO_FF_MAX, .min = 0, .max = 100, .def = "1",
	  .doc = "weight of the inter-pod affinity score (0..100: the weights of the preferred "
		 "pod (anti-)affinity terms met by the pods already in a node's topology domain)"),
	F(SC, topology_spread_weight, "topologySpreadWeight", LLMO_FT_NUMBER,
	  .flags = LLMO_FF_MIN | LLMO_FF_MAX, .min = 0, .max = 100, .def = "2",
	  .doc = "weight of the topology spread score (0..100: nodes whose domains hold the "
		 "fewest matching pods score most) of ScheduleAnyway constraints"),
	F(SC, parallelism, "parallelism", LLMO_FT_INT32, .flags = LLMO_FF_MIN | LLMO_FF_MAX,
	  .min = 0, .max = 64, .def = "0",
	  .doc = "threads that filter and score nodes on clusters of 2048 nodes or more: "
		 "1 serial, 0 the online CPUs up to 16"),
	F(SC, predictive_scaling, "predictiveScaling", LLMO_FT_BOOL, .def = "true",
	  .doc = "forecast demand and add replicas before it arrives"),
	F(SC, qos_classes, "qosClasses", LLMO_FT_OBJMAP, .sub = qos_fields, .elem_size = sizeof(QC),
	  .def = "{premium: {priority: 100, resourceGuarantee: 0.9, maxLatency: 50, "
		 "preemptionPolicy: lower-priority}, "
		 "standard: {priority: 50, resourceGuarantee: 0.7, maxLatency: 200, "
		 "preemptionPolicy: lower-priority}, "
		 "basic: {priority: 10, resourceGuarantee: 0.5, maxLatency: 1000, "
		 "preemptionPolicy: never}}",
	  .doc = "QoS classes by name (LLMWorkload spec.qosClass)"),
	END,
};

#define RM struct llmo_resource_manager_config
static const struct llmo_field resource_manager_fields[] = {
	F(RM, optimization_interval, "optimizationInterval", LLMO_FT_DURATION,
	  .flags = LLMO_FF_MIN, .min = 0, .def = "5m",
	  .doc = "how often the controller moves at most one replica off a node above scaleUpThreshold "
		 "of its cpu or memory (docs/controller.md, Rebalancing); 0: never"),
	F(RM, resource_utilization_target, "resourceUtilizationTarget", LLMO_FT_NUMBER,
	  .flags = LLMO_FF_MIN | LLMO_FF_MAX, .min = 0.01, .max = 1, .def = "0.8",
	  .doc = "utilisation the autoscaler aims for, 0..1"),
	F(RM, scale_up_threshold, "scaleUpThreshold", LLMO_FT_NUMBER,
	  .flags = LLMO_FF_MIN | LLMO_FF_MAX, .min = 0.01, .max = 1, .def = "0.8",
	  .doc = "utilisation above which replicas are added, 0..1"),
	F(RM, scale_down_threshold, "scaleDownThreshold", LLMO_FT_NUMBER,
	  .flags = LLMO_FF_MIN | LLMO_FF_MAX, .min = 0, .max = 1, .def = "0.3",
	  .doc = "utilisation below which replicas are removed, 0..1 (below scaleUpThreshold)"),
	F(RM, scale_up_cooldown, "scaleUpCooldown", LLMO_FT_DURATION, .flags = LLMO_FF_MIN,
	  .min = 0, .def = "3m", .doc = "least time between two scale-ups of a workload"),
	F(RM, scale_down_cooldown, "scaleDownCooldown", LLMO_FT_DURATION, .flags = LLMO_FF_MIN,
	  .min = 0, .def = "10m", .doc = "least time between two scale-downs of a workload"),
	F(RM, model_prefetch, "modelPrefetch", LLMO_FT_BOOL, .def = "true",
	  .doc = "ask nodes that lack a workload's model to fetch it ahead of the replicas the "
		 "autoscaler wants (docs/autoscaling.md)"),
	F(RM, max_cpu_per_workload, "maxCPUPerWorkload", LLMO_FT_QUANTITY,
	  .flags = LLMO_FF_MIN, .min = 1, .def = "8000m",
	  .doc = "largest cpu request of one replica (also caps vertical scaling)"),
	F(RM, max_memory_per_workload, "maxMemoryPerWorkload", LLMO_FT_QUANTITY,
	  .flags = LLMO_FF_MIN | LLMO_FF_BINARY, .min = MIB, .def = "32Gi",
	  .doc = "largest memory request of one replica (also caps vertical scaling)"),
	END,
};

#define S3 struct llmo_s3_config
static const struct llmo_field s3_fields[] = {
	F(S3, endpoint, "endpoint", LLMO_FT_STRING, .def = "\"\"",
	  .doc = "S3-compatible endpoint, http(s)://HOST[:PORT] (requests are path-style: "
		 "ENDPOINT/BUCKET/KEY); required with storageType s3"),
	F(S3, bucket, "bucket", LLMO_FT_STRING, .def = "\"\"",
	  .doc = "bucket holding the registry (it must exist); required with storageType s3"),
	F(S3, region, "region", LLMO_FT_STRING, .flags = LLMO_FF_NONEMPTY, .def = "us-east-1",
	  .doc = "region the requests are signed for (AWS Signature Version 4)"),
	F(S3, prefix, "prefix", LLMO_FT_STRING, .def = "\"\"",
	  .doc = "key prefix: the registry's objects are PREFIX/blobs/... and "
		 "PREFIX/repositories/..."),
	F(S3, credentials_file, "credentialsFile", LLMO_FT_STRING, .def = "\"\"",
	  .doc = "AWS shared credentials file ([default] aws_access_key_id, "
		 "aws_secret_access_key); empty: the environment's AWS_ACCESS_KEY_ID and "
		 "AWS_SECRET_ACCESS_KEY"),
	F(S3, ca_file, "caFile", LLMO_FT_STRING, .def = "\"\"",
	  .doc = "PEM CA certificates that verify an https endpoint; empty: the system's"),
	F(S3, multipart_threshold, "multipartThreshold", LLMO_FT_QUANTITY,
	  .flags = LLMO_FF_MIN | LLMO_FF_MAX | LLMO_FF_BINARY, .min = 5 * MIB, .max = 5 * 1024 * MIB,
	  .def = "5Gi", .doc = "blobs larger than this are stored with a multipart upload (at most 5Gi)"),
	F(S3, part_size, "partSize", LLMO_FT_QUANTITY,
	  .flags = LLMO_FF_MIN | LLMO_FF_MAX | LLMO_FF_BINARY, .min = 5 * MIB,
	  .max = 5 * 1024 * MIB, .def = "512Mi",
	  .doc = "part size of a multipart upload, 5Mi to 5Gi (10000 parts at most: the largest "
		 "blob is 10000 times this)"),
	F(S3, concurrency, "concurrency", LLMO_FT_INT32, .flags = LLMO_FF_MIN | LLMO_FF_MAX,
	  .min = 1, .max = 64, .def = "4",
	  .doc = "blob transfers with S3 run at once, each on a worker thread of its own (more "
		 "wait their turn); the event loop serves other requests meanwhile"),
	F(S3, cache_size, "cacheSize", LLMO_FT_QUANTITY, .flags = LLMO_FF_MIN | LLMO_FF_BINARY,
	  .min = 0, .def = "100Gi",
	  .doc = "bytes of blobs the storage directory keeps cached; past it the least recently "
		 "used blobs not being read are removed from the directory (not from S3) and "
		 "fetched again when read; 0: no bound"),
	END,
};

#define MR struct llmo_model_registry_config
static const struct llmo_field model_registry_fields[] = {
	F(MR, storage_type, "storageType", LLMO_FT_ENUM, .enums = storage_types, .def = "local",
	  .doc = "where model blobs live: local | s3 (gcs and azure are not supported yet)"),
	F(MR, storage_path, "storagePath", LLMO_FT_STRING, .flags = LLMO_FF_NONEMPTY,
	  .def = "/var/lib/llm-models",
	  .doc = "directory of the local store (with s3: the registry's verified cache of the "
		 "bucket) and node cache"),
	F(MR, s3, "s3", LLMO_FT_OBJECT, .sub = s3_fields,
	  .doc = "the bucket of storageType s3 (docs/registry.md, Storage on S3)"),
	F(MR, cache_size, "cacheSize", LLMO_FT_QUANTITY, .flags = LLMO_FF_MIN | LLMO_FF_BINARY,
	  .min = 0, .def = "107374182400", .doc = "bytes of models a node keeps cached (LRU)"),
	F(MR, benchmark_on_register, "benchmarkOnRegister", LLMO_FT_BOOL, .def = "false",
	  .doc = "load-test each new model version on a temporary replica and record tokens/s "
		 "and time to first token per GPU type (off by default: it runs a replica)"),
	F(MR, checksum_validation, "checksumValidation", LLMO_FT_BOOL, .def = "true",
	  .doc = "verify every file's digest when it is read"),
	F(MR, reverify_interval, "reverifyInterval", LLMO_FT_DURATION, .flags = LLMO_FF_MIN,
	  .min = 0, .def = "1h",
	  .doc = "with checksumValidation, a blob the registry verified whole at most this long "
		 "ago, its file unchanged since, is served without hashing it again (0 for "
		 "hashing every read)"),
	F(MR, signature_validation, "signatureValidation", LLMO_FT_BOOL, .def = "false",
	  .doc = "refuse models without a valid Ed25519 signature"),
	F(MR, max_versions, "maxVersions", LLMO_FT_INT32, .flags = LLMO_FF_MIN | LLMO_FF_MAX,
	  .min = 1, .max = 10000, .def = "10", .doc = "versions kept per model"),
	F(MR, auto_cleanup, "autoCleanup", LLMO_FT_BOOL, .def = "true",
	  .doc = "delete versions past maxVersions, and blobs no manifest uses (after a push or "
		 "a DELETE)"),
	F(MR, gc_interval, "gcInterval", LLMO_FT_DURATION, .flags = LLMO_FF_MIN, .min = 0,
	  .def = "1h",
	  .doc = "with autoCleanup, a running registry also collects the garbage this often "
		 "(what a blob DELETE or the links' grace left; 0 for never)"),
	F(MR, performance_threshold, "performanceThreshold", LLMO_FT_NUMBER, .flags = LLMO_FF_MIN,
	  .min = 0, .def = "0",
	  .doc = "a benchmarked version becomes `stable` when its tokens/s at the highest "
		 "concurrency is at least this times the stable version's on the same GPU type "
		 "(0: always)"),
	F(MR, fetch_image, "fetchImage", LLMO_FT_STRING, .def = "\"\"",
	  .doc = "image of the init container `llmo controller` gives replicas of a model pinned "
		 "by digest: it waits until the node's agent has fetched and verified the model "
		 "(`llmo fetch --await`); \"\": none (llmo server never adds it)"),
	F(MR, node_cache_path, "nodeCachePath", LLMO_FT_STRING, .flags = LLMO_FF_NONEMPTY,
	  .def = LLMO_NODE_CACHE_PATH_DEFAULT,
	  .doc = "the node agents' model cache on each node (their --model-cache), mounted "
		 "read-only into those replicas when fetchImage is set; an absolute path"),
	END,
};

#define OC struct llmo_operator_config
static const struct llmo_field operator_fields[] = {
	F(OC, namespace_, "namespace", LLMO_FT_STRING, .flags = LLMO_FF_NONEMPTY,
	  .def = "llm-orchestrator", .doc = "namespace of llmo's own objects (leases, secrets)"),
	F(OC, watch_namespaces, "watchNamespaces", LLMO_FT_STRLIST, .def = "[]",
	  .doc = "namespaces whose workloads are managed; empty for all"),
	F(OC, leader_election, "leaderElection", LLMO_FT_BOOL, .def = "true",
	  .doc = "run one active controller among replicas"),
	F(OC, lease_duration, "leaseDuration", LLMO_FT_DURATION, .flags = LLMO_FF_MIN, .min = SEC,
	  .def = "15s", .doc = "leader lease duration"),
	F(OC, renew_deadline, "renewDeadline", LLMO_FT_DURATION, .flags = LLMO_FF_MIN, .min = SEC,
	  .def = "10s", .doc = "leader gives up if it cannot renew within this"),
	F(OC, retry_period, "retryPeriod", LLMO_FT_DURATION, .flags = LLMO_FF_MIN,
	  .min = 100 * (double)LLMO_NS_PER_MS, .def = "2s", .doc = "interval between lease attempts"),
	F(OC, metrics_addr, "metricsAddr", LLMO_FT_STRING, .flags = LLMO_FF_NONEMPTY,
	  .def = "\":9090\"", .doc = "address of /metrics, /healthz and /readyz"),
	F(OC, log_level, "logLevel", LLMO_FT_ENUM, .enums = log_levels, .def = "info",
	  .doc = "debug | info | warn | error (a --log-level flag wins)"),
	F(OC, log_format, "logFormat", LLMO_FT_ENUM, .enums = log_formats, .def = "text",
	  .doc = "text (ts level component msg key=value) or json lines (--log-json wins)"),
	END,
};

#define RP struct llmo_resource_profile
static const struct llmo_field profile_fields[] = {
	F(RP, cpu, "cpu", LLMO_FT_QUANTITY, .flags = LLMO_FF_MIN, .min = 0, .doc = "cpu request"),
	F(RP, memory, "memory", LLMO_FT_QUANTITY, .flags = LLMO_FF_MIN | LLMO_FF_BINARY, .min = 0,
	  .doc = "memory request"),
	F(RP, gpu, "gpu", LLMO_FT_QUANTITY, .flags = LLMO_FF_MIN, .min = 0,
	  .doc = "GPUs, whole or a share of one"),
	F(RP, gpu_memory, "gpuMemory", LLMO_FT_QUANTITY, .flags = LLMO_FF_MIN | LLMO_FF_BINARY,
	  .min = 0, .doc = "GPU memory per replica"),
	F(RP, gpu_type, "gpuType", LLMO_FT_STRING, .doc = "GPU models allowed, \"A100|H100\""),
	F(RP, max_replicas, "maxReplicas", LLMO_FT_INT32, .flags = LLMO_FF_MIN, .min = 1,
	  .doc = "upper bound on a workload's maxReplicas"),
	END,
};

static const struct llmo_field canary_defaults_fields[] = {
	F(struct llmo_canary_defaults, traffic_split, "trafficSplit", LLMO_FT_INT32,
	  .flags = LLMO_FF_MIN | LLMO_FF_MAX, .min = 1, .max = 99, .def = "10",
	  .doc = "percent of requests sent to the canary"),
	F(struct llmo_canary_defaults, duration, "duration", LLMO_FT_DURATION, .flags = LLMO_FF_MIN,
	  .min = SEC, .def = "10m", .doc = "analysis time before promotion"),
	F(struct llmo_canary_defaults, success_threshold, "successThreshold", LLMO_FT_NUMBER,
	  .flags = LLMO_FF_MIN | LLMO_FF_MAX, .min = 0, .max = 1, .def = "0.99",
	  .doc = "success rate the canary must keep"),
	END,
};

static const struct llmo_field rolling_defaults_fields[] = {
	F(struct llmo_rolling_defaults, max_surge, "maxSurge", LLMO_FT_INTORSTR, .def = "\"25%\"",
	  .doc = "extra replicas allowed during a rollout (count or percent)"),
	F(struct llmo_rolling_defaults, max_unavailable, "maxUnavailable", LLMO_FT_INTORSTR,
	  .def = "0", .doc = "replicas that may be missing during a rollout (count or percent)"),
	END,
};

static const struct llmo_field blue_green_defaults_fields[] = {
	F(struct llmo_blue_green_defaults, auto_promote, "autoPromote", LLMO_FT_BOOL, .def = "true",
	  .doc = "switch traffic when the new set is Ready"),
	F(struct llmo_blue_green_defaults, scale_down_delay, "scaleDownDelay", LLMO_FT_DURATION,
	  .flags = LLMO_FF_MIN, .min = 0, .def = "30s",
	  .doc = "how long the old set stays after the switch"),
	END,
};

#define SD struct llmo_strategy_defaults
static const struct llmo_field strategy_defaults_fields[] = {
	F(SD, canary, "canary", LLMO_FT_OBJECT, .sub = canary_defaults_fields,
	  .doc = "defaults of deploymentStrategy.canary"),
	F(SD, rolling, "rolling", LLMO_FT_OBJECT, .sub = rolling_defaults_fields,
	  .doc = "defaults of deploymentStrategy.rolling"),
	F(SD, blue_green, "blueGreen", LLMO_FT_OBJECT, .sub = blue_green_defaults_fields,
	  .doc = "defaults of deploymentStrategy.blueGreen"),
	END,
};

#define MC struct llmo_member_cluster
static const struct llmo_field member_cluster_fields[] = {
	F(MC, kubeconfig, "kubeconfig", LLMO_FT_STRING,
	  .doc = "path of the kubeconfig of the cluster's API (required except for localCluster)"),
	F(MC, context, "context", LLMO_FT_STRING,
	  .doc = "context of that kubeconfig (default: its current-context)"),
	F(MC, cost_per_gpu_hour, "costPerGPUHour", LLMO_FT_NUMBER, .flags = LLMO_FF_MIN, .min = 0,
	  .def = "1", .doc = "price of one GPU for an hour there (cost-optimized placement)"),
	F(MC, region, "region", LLMO_FT_STRING, .doc = "where it is; shown in status.placement"),
	END,
};

#define FC struct llmo_federation_config
static const struct llmo_field federation_fields[] = {
	F(FC, local_cluster, "localCluster", LLMO_FT_STRING,
	  .doc = "this cluster's name in spec.placement.clusters (\"\": it runs no federated "
		 "replica)"),
	F(FC, sync_interval, "syncInterval", LLMO_FT_DURATION, .flags = LLMO_FF_MIN, .min = SEC,
	  .def = "10s", .doc = "how often member clusters' capacity and replicas are read"),
	F(FC, failover_after, "failoverAfter", LLMO_FT_DURATION, .flags = LLMO_FF_MIN, .min = 0,
	  .def = "30s",
	  .doc = "a member unreachable this long loses its replicas to the other clusters"),
	F(FC, clusters, "clusters", LLMO_FT_OBJMAP, .sub = member_cluster_fields,
	  .elem_size = sizeof(MC), .def = "{}",
	  .doc = "member clusters by name, e.g. eu: {kubeconfig: /etc/llmo/eu.kubeconfig, "
		 "costPerGPUHour: 2.1}"),
	END,
};

#define CF struct llmo_config
const struct llmo_field llmo_config_fields[] = {
	F(CF, scheduler, "scheduler", LLMO_FT_OBJECT, .sub = scheduler_fields,
	  .doc = "Scheduler: placement policy, overcommit, QoS classes"),
	F(CF, resource_manager, "resourceManager", LLMO_FT_OBJECT, .sub = resource_manager_fields,
	  .doc = "Resource manager: autoscaling thresholds and per-workload limits"),
	F(CF, model_registry, "modelRegistry", LLMO_FT_OBJECT, .sub = model_registry_fields,
	  .doc = "Model registry: storage, node cache, integrity"),
	F(CF, operator_, "operator", LLMO_FT_OBJECT, .sub = operator_fields,
	  .doc = "Operator: namespaces, leader election, logging"),
	F(CF, resource_profiles, "resourceProfiles", LLMO_FT_OBJMAP, .sub = profile_fields,
	  .elem_size = sizeof(RP), .def = "{}",
	  .doc = "Reusable resource profiles by name (LLMWorkload spec.resourceProfile), e.g. "
		 "large-gpu: {cpu: \"4000m\", memory: \"16Gi\", gpu: 2, maxReplicas: 10}"),
	F(CF, deployment_strategies, "deploymentStrategies", LLMO_FT_OBJECT,
	  .sub = strategy_defaults_fields,
	  .doc = "Defaults for LLMWorkload deploymentStrategy parameters a workload leaves out"),
	F(CF, federation, "federation", LLMO_FT_OBJECT, .sub = federation_fields,
	  .doc = "Cross-cluster scheduling: member clusters for spec.placement.clusters"),
	END,
};

/*
 * modelRegistry.nodeCachePath becomes a hostPath volume and a mountPath of
 * replicas: an absolute path that cannot climb out of where it says (no ".."
 * component), in one spelling (no trailing '/', so not "/" itself: the host's
 * root is never a model cache), short enough for P/models/HEX to fit a path.
 */
static void check_node_cache_path(const char *p, struct llmo_errlist *errs)
{
	const char *key = "modelRegistry.nodeCachePath";
	size_t len = p ? strlen(p) : 0;

	if (!p || !*p)
		return; /* LLMO_FF_NONEMPTY said so */
	if (len > LLMO_NODE_CACHE_PATH_MAX) {
		llmo_errlist_add(errs, key, "longer than %d bytes", LLMO_NODE_CACHE_PATH_MAX);
		return;
	}
	if (p[0] != '/') {
		llmo_errlist_add(errs, key, "\"%s\" must be an absolute path", p);
		return;
	}
	if (p[len - 1] == '/') {
		llmo_errlist_add(errs, key, "\"%s\" must not end with '/'", p);
		return;
	}
	for (const char *c = p; c; c = strchr(c + 1, '/')) {
		if (strncmp(c, "/..", 3) == 0 && (c[3] == '/' || c[3] == '\0')) {
			llmo_errlist_add(errs, key, "\"%s\" must not have a \"..\" component", p);
			return;
		}
	}
}

static void check_consistency(const struct llmo_config *cfg, struct llmo_errlist *errs)
{
	const struct llmo_resource_manager_config *rm = &cfg->resource_manager;
	const struct llmo_operator_config *op = &cfg->operator_;

	if (rm->scale_down_threshold >= rm->scale_up_threshold)
		llmo_errlist_add(errs, "resourceManager.scaleDownThreshold",
				 "must be below scaleUpThreshold (%g)", rm->scale_up_threshold);
	if (op->renew_deadline >= op->lease_duration)
		llmo_errlist_add(errs, "operator.renewDeadline", "must be shorter than leaseDuration");
	if (op->retry_period >= op->renew_deadline)
		llmo_errlist_add(errs, "operator.retryPeriod", "must be shorter than renewDeadline");
	if (cfg->model_registry.storage_type == LLMO_STORAGE_GCS ||
	    cfg->model_registry.storage_type == LLMO_STORAGE_AZURE)
		llmo_errlist_add(errs, "modelRegistry.storageType",
				 "\"%s\" is not supported yet (supported: local, s3)",
				 cfg->model_registry.storage_type == LLMO_STORAGE_GCS ? "gcs"
										       : "azure");
	if (cfg->model_registry.storage_type == LLMO_STORAGE_S3) {
		const struct llmo_s3_config *s3 = &cfg->model_registry.s3;

		if (!s3->endpoint || !*s3->endpoint)
			llmo_errlist_add(errs, "modelRegistry.s3.endpoint",
					 "required when storageType is s3");
		else if (!llmo_str_has_prefix(s3->endpoint, "http://") &&
			 !llmo_str_has_prefix(s3->endpoint, "https://"))
			llmo_errlist_add(errs, "modelRegistry.s3.endpoint",
					 "must start with http:// or https://");
		if (!s3->bucket || !*s3->bucket)
			llmo_errlist_add(errs, "modelRegistry.s3.bucket",
					 "required when storageType is s3");
	}
	check_node_cache_path(cfg->model_registry.node_cache_path, errs);
	for (size_t i = 0; i < cfg->federation.clusters.len; i++) {
		const struct llmo_member_cluster *m = &cfg->federation.clusters.items[i];
		bool local = cfg->federation.local_cluster &&
			     strcmp(cfg->federation.local_cluster, m->key) == 0;
		char path[160];

		snprintf(path, sizeof(path), "federation.clusters.%s.kubeconfig", m->key);
		if (!local && (!m->kubeconfig || !*m->kubeconfig))
			llmo_errlist_add(errs, path, "required (the cluster is not localCluster)");
		else if (local && m->kubeconfig && *m->kubeconfig)
			llmo_errlist_add(errs, path,
					 "must be empty: this is localCluster, reached through "
					 "the controller's own API");
	}
	for (size_t i = 0; i < cfg->resource_profiles.len; i++) {
		const struct llmo_resource_profile *p = &cfg->resource_profiles.items[i];
		char path[128];

		snprintf(path, sizeof(path), "resourceProfiles.%s.gpu", p->key);
		if (p->gpu > 1000 && p->gpu % 1000)
			llmo_errlist_add(errs, path, "more than one GPU must be a whole number");
	}
}

int llmo_config_from_json(const json_t *user, struct llmo_config *cfg, struct llmo_errlist *errs)
{
	struct llmo_error err = {0};
	struct llmo_errlist scratch;
	json_t *doc;
	int rc;

	doc = llmo_fields_defaults(llmo_config_fields, &err);
	if (!doc)
		return err.code ? err.code : LLMO_ENOMEM;
	llmo_errlist_init(&scratch);
	if (user) {
		/* Check the user's document alone first, so that its errors name its own
		 * keys; the defaults are correct by construction. */
		struct llmo_config probe = {0};

		rc = llmo_fields_decode_doc(llmo_config_fields, user, &probe, errs,
					    LLMO_DECODE_STRICT | LLMO_DECODE_CHECK);
		llmo_fields_free(llmo_config_fields, &probe);
		if (rc)
			goto out;
		/* a default map (qosClasses) keeps its entries; user entries override */
		rc = llmo_json_merge(doc, user);
		if (!rc)
			rc = llmo_fields_apply_defaults(llmo_config_fields, doc, &err);
		if (rc)
			goto out;
	}
	rc = llmo_fields_decode_doc(llmo_config_fields, doc, cfg, &scratch, 0);
	if (rc)
		goto out;
	if (llmo_errlist_count(errs) == 0)
		check_consistency(cfg, errs);
out:
	json_decref(doc);
	llmo_errlist_release(&scratch);
	return rc;
}

void llmo_config_free(struct llmo_config *cfg)
{
	llmo_fields_free(llmo_config_fields, cfg);
}

int llmo_config_write_defaults(struct llmo_buf *out)
{
	struct llmo_error err = {0};
	json_t *doc = llmo_fields_defaults(llmo_config_fields, &err);
	int rc;

	if (!doc)
		return err.code ? err.code : LLMO_ENOMEM;
	rc = llmo_buf_puts(out, "# llmo orchestrator configuration: every key with its default.\n"
				"# Check a file with `llmo config validate FILE`.\n");
	if (!rc)
		rc = llmo_fields_write_yaml(llmo_config_fields, doc, 0, out);
	json_decref(doc);
	return rc;
}

const struct llmo_resource_profile *llmo_config_profile(const struct llmo_config *cfg,
							 const char *name)
{
	for (size_t i = 0; i < cfg->resource_profiles.len; i++)
		if (strcmp(cfg->resource_profiles.items[i].key, name) == 0)
			return &cfg->resource_profiles.items[i];
	return NULL;
}

const struct llmo_member_cluster *llmo_config_cluster(const struct llmo_config *cfg,
						     const char *name)
{
	for (size_t i = 0; i < cfg->federation.clusters.len; i++)
		if (strcmp(cfg->federation.clusters.items[i].key, name) == 0)
			return &cfg->federation.clusters.items[i];
	return NULL;
}

const struct llmo_qos_class *llmo_config_qos(const struct llmo_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->scheduler.qos_classes.len; i++)
		if (strcmp(cfg->scheduler.qos_classes.items[i].key, name) == 0)
			return &cfg->scheduler.qos_classes.items[i];
	return NULL;
}
