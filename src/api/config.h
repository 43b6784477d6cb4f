#ifndef LLMO_API_CONFIG_H
#define LLMO_API_CONFIG_H
/*
 * The orchestrator configuration file (the spec's "Orchestrator
 * Configuration"): sections scheduler, resourceManager, modelRegistry,
 * operator, resourceProfiles and deploymentStrategies. Every key is one entry
 * of the tables in config.c with its type, default, bounds and doc line;
 * `llmo config defaults` prints them, `llmo config validate` checks a file.
 */
#include "api/errlist.h"
#include "api/field.h"

enum llmo_preemption { LLMO_PREEMPT_NEVER = 1, LLMO_PREEMPT_LOWER, LLMO_PREEMPT_ALWAYS };
enum llmo_storage_type { LLMO_STORAGE_LOCAL = 1, LLMO_STORAGE_S3, LLMO_STORAGE_GCS,
			 LLMO_STORAGE_AZURE };

struct llmo_qos_class {
	char *key; /* premium, standard, basic, or a class of the user's */
	int32_t priority;
	double resource_guarantee;
	int32_t max_latency_ms;
	int preemption_policy; /* enum llmo_preemption */
};

struct llmo_resource_profile {
	char *key;
	int64_t cpu;        /* milli */
	int64_t memory;     /* milli-bytes */
	int64_t gpu;        /* milli-GPUs */
	int64_t gpu_memory; /* milli-bytes */
	char *gpu_type;
	int32_t max_replicas;
};

struct llmo_scheduler_config {
	int strategy; /* 1 performance-aware, 2 bin-packing, 3 spread */
	int policy;   /* 1 + enum llmo_sched_policy_kind (1 random .. 7 llmo) */
	double resource_overcommit_ratio;
	bool locality_preference;
	double model_affinity_weight;
	double performance_weight;
	double node_affinity_weight;
	double pod_affinity_weight;
	double topology_spread_weight;
	int32_t parallelism;
	bool predictive_scaling;
	LLMO_LIST(struct llmo_qos_class) qos_classes;
};

struct llmo_resource_manager_config {
	int64_t optimization_interval; /* ns */
	double resource_utilization_target;
	double scale_up_threshold;
	double scale_down_threshold;
	int64_t scale_up_cooldown;   /* ns */
	int64_t scale_down_cooldown; /* ns */
	bool model_prefetch;
	int64_t max_cpu_per_workload;    /* milli */
	int64_t max_memory_per_workload; /* milli-bytes */
};

/* modelRegistry.s3: the bucket of storageType s3 (src/registry/s3.h). */
struct llmo_s3_config {
	char *endpoint;
	char *bucket;
	char *region;
	char *prefix;
	char *credentials_file;
	char *ca_file;
	int64_t multipart_threshold; /* milli-bytes */
	int64_t part_size;           /* milli-bytes */
	int32_t concurrency;         /* blob transfers at once */
	int64_t cache_size;          /* milli-bytes; 0: no bound */
};

/*
 * Longest modelRegistry.nodeCachePath: it is a hostPath and a mountPath of
 * replicas, and P/models/HEX their LLMO_MODEL_PATH.
 */
#define LLMO_NODE_CACHE_PATH_MAX 1024
/* Its default: where the agent DaemonSet of k8s/llm-orchestrator keeps its cache. */
#define LLMO_NODE_CACHE_PATH_DEFAULT "/var/lib/llm-models/cache"

struct llmo_model_registry_config {
	int storage_type; /* enum llmo_storage_type */
	char *storage_path;
	struct llmo_s3_config s3;
	int64_t cache_size; /* milli-bytes */
	bool benchmark_on_register;
	bool checksum_validation;
	int64_t reverify_interval; /* ns; 0: every whole read of a blob is hashed */
	bool signature_validation;
	int32_t max_versions;
	bool auto_cleanup;
	int64_t gc_interval; /* ns; 0: no periodic collection */
	double performance_threshold;
	char *fetch_image;     /* "": no init container (llmo controller only) */
	char *node_cache_path; /* absolute, no "..", at most LLMO_NODE_CACHE_PATH_MAX */
};

struct llmo_operator_config {
	char *namespace_;
	struct llmo_strlist watch_namespaces;
	bool leader_election;
	int64_t lease_duration; /* ns */
	int64_t renew_deadline; /* ns */
	int64_t retry_period;   /* ns */
	char *metrics_addr;
	int log_level;  /* 1 debug, 2 info, 3 warn, 4 error */
	int log_format; /* 1 text, 2 json */
};

struct llmo_canary_defaults {
	int32_t traffic_split;
	int64_t duration;
	double success_threshold;
};

struct llmo_rolling_defaults {
	struct llmo_intorstr max_surge;
	struct llmo_intorstr max_unavailable;
};

struct llmo_blue_green_defaults {
	bool auto_promote;
	int64_t scale_down_delay;
};

struct llmo_strategy_defaults {
	struct llmo_canary_defaults canary;
	struct llmo_rolling_defaults rolling;
	struct llmo_blue_green_defaults blue_green;
};

/* A member cluster of cross-cluster scheduling (federation.clusters.NAME). */
struct llmo_member_cluster {
	char *key;	  /* the name spec.placement.clusters uses */
	char *kubeconfig; /* its API; NULL for federation.localCluster */
	char *context;	  /* kubeconfig context; NULL: the current one */
	double cost_per_gpu_hour;
	char *region;
};

struct llmo_federation_config {
	char *local_cluster;	/* this cluster's name in spec.placement.clusters; NULL: none */
	int64_t sync_interval;	/* ns */
	int64_t failover_after; /* ns */
	LLMO_LIST(struct llmo_member_cluster) clusters;
};

struct llmo_config {
	struct llmo_scheduler_config scheduler;
	struct llmo_resource_manager_config resource_manager;
	struct llmo_model_registry_config model_registry;
	struct llmo_operator_config operator_;
	LLMO_LIST(struct llmo_resource_profile) resource_profiles;
	struct llmo_strategy_defaults deployment_strategies;
	struct llmo_federation_config federation;
};

extern const struct llmo_field llmo_config_fields[];

/* The configuration's top-level section names, NULL-terminated. */
extern const char *const llmo_config_sections[];

/*
 * Builds cfg (zeroed by the caller) from the defaults overlaid with user (a
 * parsed configuration document; NULL for the defaults alone). Unknown keys,
 * wrong types, values out of bounds and inconsistent values go to errs under
 * their paths. Returns 0 or LLMO_ENOMEM; free cfg with llmo_config_free.
 */
int llmo_config_from_json(const json_t *user, struct llmo_config *cfg, struct llmo_errlist *errs);
void llmo_config_free(struct llmo_config *cfg);

/* The whole default file, commented, as YAML. */
int llmo_config_write_defaults(struct llmo_buf *out);

/* Lookups (NULL when absent). */
const struct llmo_resource_profile *llmo_config_profile(const struct llmo_config *cfg,
							 const char *name);
/* The member cluster called name, or NULL. */
const struct llmo_member_cluster *llmo_config_cluster(const struct llmo_config *cfg,
						     const char *name);
const struct llmo_qos_class *llmo_config_qos(const struct llmo_config *cfg, const char *name);

#endif
