#ifndef LLMO_API_WORKLOAD_H
#define LLMO_API_WORKLOAD_H
/*
 * LLMWorkload (llm.orchestrator.io/v1): one served model, its resources,
 * scaling, performance targets, rollout strategy and placement. The schema
 * lives in k8s/llm-orchestrator/crd.yaml; llmo_workload_fields describes the
 * same shape for C, and a test keeps the two in agreement.
 *
 * Units in the structs: quantities in milli-units (cpu 2000 = 2 cores,
 * memory 8Gi = 8589934592000), durations in nanoseconds, times in Unix ms.
 * Enumerations are ints: 0 means unset, otherwise the LLMO_* values below.
 */
#include "api/errlist.h"
#include "api/field.h"
#include "api/meta.h"

enum llmo_model_type {
	LLMO_MODEL_TEXT_GENERATION = 1,
	LLMO_MODEL_CHAT,
	LLMO_MODEL_EMBEDDING,
	LLMO_MODEL_CODE_GENERATION,
	LLMO_MODEL_CLASSIFICATION,
};
enum llmo_qos { LLMO_QOS_PREMIUM = 1, LLMO_QOS_STANDARD, LLMO_QOS_BASIC };
enum llmo_scaling_strategy { LLMO_SCALE_HORIZONTAL = 1, LLMO_SCALE_VERTICAL, LLMO_SCALE_HYBRID };
enum llmo_metric_type {
	LLMO_METRIC_CPU = 1,
	LLMO_METRIC_MEMORY,
	LLMO_METRIC_REQUESTS_PER_SECOND,
	LLMO_METRIC_QUEUE_LENGTH,
	LLMO_METRIC_LATENCY,
	LLMO_METRIC_TOKENS_PER_SECOND,
	LLMO_METRIC_GPU_UTILIZATION,
	LLMO_METRIC_KV_CACHE_USAGE,
};
enum llmo_deploy_type { LLMO_DEPLOY_ROLLING = 1, LLMO_DEPLOY_CANARY, LLMO_DEPLOY_BLUE_GREEN,
			LLMO_DEPLOY_AB_TEST };
enum llmo_placement_strategy { LLMO_PLACE_COST = 1, LLMO_PLACE_LATENCY, LLMO_PLACE_BALANCED };
enum llmo_workload_phase {
	LLMO_WPHASE_PENDING = 1,
	LLMO_WPHASE_DEPLOYING,
	LLMO_WPHASE_RUNNING,
	LLMO_WPHASE_SCALING,
	LLMO_WPHASE_UPDATING,
	LLMO_WPHASE_DEGRADED,
	LLMO_WPHASE_FAILED,
	LLMO_WPHASE_TERMINATING,
};

extern const char *const llmo_model_type_names[];
extern const char *const llmo_qos_names[];
/* Names of enum llmo_metric_type, indexed by value - 1, NULL-terminated. */
extern const char *const llmo_metric_type_names[];
extern const char *const llmo_deploy_type_names[];

struct llmo_resources {
	int64_t cpu;        /* milli-cores */
	int64_t memory;     /* milli-bytes */
	int64_t gpu;        /* milli-GPUs: 1000 = one whole GPU, 500 = half of one */
	int64_t gpu_memory; /* milli-bytes of GPU memory */
	char *gpu_type;     /* "A100|H100": any of */
	int64_t storage;    /* milli-bytes */
};

struct llmo_target_metric {
	int type; /* enum llmo_metric_type */
	double target;
};

struct llmo_scaling_policy {
	int32_t stabilization_window_seconds;
	int32_t max_change_percent;
	int32_t max_change_pods;
	int32_t period_seconds;
};

struct llmo_scaling_behavior {
	struct llmo_scaling_policy scale_up;
	struct llmo_scaling_policy scale_down;
};

struct llmo_scaling {
	int32_t replicas;
	bool has_replicas;
	int32_t min_replicas;
	int32_t max_replicas;
	bool has_max_replicas;
	int strategy; /* enum llmo_scaling_strategy */
	LLMO_LIST(struct llmo_target_metric) target_metrics;
	struct llmo_scaling_behavior behavior;
};

struct llmo_sla {
	double availability;       /* percent, 99.9 */
	int32_t response_time_p95; /* ms */
	int32_t response_time_p99; /* ms */
	double error_rate;         /* fraction, 0.01 */
};

struct llmo_performance {
	int64_t max_latency; /* ns */
	double min_throughput;
	struct llmo_sla sla;
};

struct llmo_canary {
	int32_t traffic_split; /* percent to the new version */
	int64_t duration;      /* ns */
	double success_threshold;
};

struct llmo_blue_green {
	bool auto_promote;
	int64_t scale_down_delay; /* ns */
};

struct llmo_rolling {
	struct llmo_intorstr max_surge;
	struct llmo_intorstr max_unavailable;
};

struct llmo_ab_variant {
	char *model_version;
	int32_t weight;
};

struct llmo_ab_test {
	LLMO_LIST(struct llmo_ab_variant) variants;
	int sticky_by; /* 1 tenant, 2 header */
	char *header;
};

struct llmo_deployment_strategy {
	int type; /* enum llmo_deploy_type */
	struct llmo_canary canary;
	struct llmo_blue_green blue_green;
	struct llmo_rolling rolling;
	struct llmo_ab_test ab_test;
};

struct llmo_toleration {
	char *key;
	int operator_; /* 1 Exists, 2 Equal */
	char *value;
	int effect; /* 1 NoSchedule, 2 PreferNoSchedule, 3 NoExecute */
};

/* spec.placement.spread: absent when topology_key is NULL (the API server defaults it). */
struct llmo_spread {
	char *topology_key;
	int mode; /* 1 required, 2 preferred */
};

struct llmo_placement {
	struct llmo_strlist clusters;
	int strategy; /* enum llmo_placement_strategy */
	struct llmo_strmap node_selector;
	LLMO_LIST(struct llmo_toleration) tolerations;
	struct llmo_spread spread;
};

struct llmo_security {
	bool encryption;
	struct llmo_strlist access_control;
	struct llmo_strlist network_policies;
	struct llmo_strlist secret_refs;
	int compliance_level;    /* 1 basic, 2 strict, 3 enterprise */
	int data_classification; /* 1 public, 2 internal, 3 confidential */
};

struct llmo_workload_spec {
	char *model_name;
	char *model_version;
	int model_type; /* enum llmo_model_type */
	int model_size; /* 1 small .. 4 xlarge */
	struct llmo_strmap parameters;
	struct llmo_strlist aliases;
	char *resource_profile;
	int qos_class; /* enum llmo_qos */
	struct llmo_resources resources;
	struct llmo_scaling scaling;
	struct llmo_performance performance;
	struct llmo_deployment_strategy deployment_strategy;
	struct llmo_placement placement;
	struct llmo_security security;
};

struct llmo_track {
	char *name;
	char *model_version;
	int32_t replicas;
	int32_t ready_replicas;
	int32_t weight;
};

/* status.placement[]: one cluster's share (cross-cluster scheduling). */
struct llmo_cluster_placement {
	char *cluster;
	char *region;
	int32_t replicas;
	int32_t ready_replicas;
	bool reachable;
	double cost_per_gpu_hour;
	double latency_ms;
	struct llmo_strlist endpoints;
};

struct llmo_performance_metrics {
	double requests_per_second;
	double tokens_per_second;
	double p50_latency_ms;
	double p95_latency_ms;
	double p99_latency_ms;
	double error_rate;
	int32_t queue_length;
	int64_t last_updated;
};

struct llmo_rollout_analysis {
	double success_rate;
	double p95_latency_ms;
	double p99_latency_ms;
	double error_rate;
	int64_t checked_at;
};

struct llmo_rollout_status {
	int phase;
	char *stable_version;
	char *canary_version;
	int32_t canary_weight;
	int64_t start_time;
	char *message;
	struct llmo_rollout_analysis analysis;
};

/* status.recommendation: vertical scaling's requests per replica (strategy vertical | hybrid). */
struct llmo_recommendation_status {
	int64_t cpu;    /* milli-cores */
	int64_t memory; /* milli-bytes */
	int64_t updated_at;
	char *reason;
};

struct llmo_workload_status {
	int phase; /* enum llmo_workload_phase */
	int64_t observed_generation;
	LLMO_LIST(struct llmo_condition) conditions;
	int32_t replicas;
	int32_t desired_replicas;
	int32_t current_replicas;
	int32_t ready_replicas;
	int32_t updated_replicas;
	char *selector;
	LLMO_LIST(struct llmo_track) tracks;
	struct llmo_strlist endpoints;
	LLMO_LIST(struct llmo_cluster_placement) placement;
	int64_t last_scale_time;
	char *last_scale_reason;
	struct llmo_nummap current_metrics;
	struct llmo_performance_metrics performance_metrics;
	struct llmo_rollout_status rollout;
	struct llmo_recommendation_status recommendation;
};

struct llmo_workload {
	struct llmo_object_meta meta;
	struct llmo_workload_spec spec;
	struct llmo_workload_status status;
};

/* Field tables of the spec and status (the CRD's shapes) and of the whole object. */
extern const struct llmo_field llmo_workload_spec_fields[];
extern const struct llmo_field llmo_workload_status_fields[];
extern const struct llmo_field llmo_workload_fields[];

struct llmo_config;

/*
 * Decodes an LLMWorkload (already checked against the CRD schema and
 * defaulted) into w, zeroed by the caller. Type problems go to errs.
 * Free w with llmo_workload_free whatever the result.
 */
int llmo_workload_decode(const json_t *obj, struct llmo_workload *w, struct llmo_errlist *errs);
void llmo_workload_free(struct llmo_workload *w);

/*
 * The rules a schema cannot say: replicas within bounds, quantities
 * positive and consistent, fractional GPUs below one, rollout parameters
 * for the chosen type, weights adding up, durations positive; with cfg (may
 * be NULL) also that resourceProfile names a profile of the configuration
 * and that limits of the resource manager hold.
 */
int llmo_workload_validate(const struct llmo_workload *w, const struct llmo_config *cfg,
			   struct llmo_errlist *errs);

#endif
