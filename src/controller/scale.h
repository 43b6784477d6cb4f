#ifndef LLMO_CONTROLLER_SCALE_H
#define LLMO_CONTROLLER_SCALE_H
/*
 * The controller's horizontal autoscaler (docs/autoscaling.md, "In the
 * controller"): per workload with spec.scaling.targetMetrics, an autoscaler
 * of src/autoscale fed at each gateway scrape with requests_per_second,
 * tokens_per_second, queue_length (in flight + held) and latency (p95, ms)
 * of the last interval, and kv_cache_usage (percent, the mean of the Ready
 * replicas' vllm:gpu_cache_usage_perc), cpu and memory (percent of the
 * request, the mean of the Ready replicas' usage annotations: vertical.h).
 * The policy is predictive with the configuration's
 * scheduler.predictiveScaling, reactive (Kubernetes HPA) otherwise, or what
 * the workload's annotation llm.orchestrator.io/autoscaler names (reactive,
 * kpa, predictive). Its horizon is the workload's measured cold start (the
 * median, over its Ready replicas, of pod created -> Ready). The predictive
 * policy sizes by queueing (autoscale/autoscaler.h) when the workload says
 * how many requests a replica serves at once (the annotation
 * llm.orchestrator.io/replica-slots) and its QoS class has a time to first
 * token objective (scheduler.qosClasses.NAME.maxLatency): the wait budget is
 * that objective less the model's benchmarked unloaded time to first token.
 */
#include "base/common.h"

#include <jansson.h>

struct llmo_as_config;
struct llmo_config;
struct llmo_controller;
struct llmo_error;

struct llmo__scale_in {
	const char *key;     /* "ns/name" */
	const json_t *w;     /* the workload */
	json_int_t generation;
	bool has_targets;    /* spec.scaling.targetMetrics non-empty */
	int32_t min, max;    /* bounds already resolved (profile maxReplicas included) */
	int32_t current, ready;
	int64_t cold_start_ms;
	const json_t *const *ready_pods; /* the Ready replicas (cpu and memory metrics) */
	size_t nready_pods;
	/* the workload's LLMModel (status.benchmarks: the unloaded TTFT); NULL: none known */
	const json_t *model;
};

/* The workload's figures over the last scrape interval (NAN latency: no request). */
struct llmo__measure {
	double rps, tps, error_rate, p50_ms, p95_ms, p99_ms, queue, pending;
	double kv_pct; /* mean KV cache usage of the replicas, percent; NAN: unknown */
	/* mean usage / request of the Ready replicas, percent (vertical.h); NAN: unknown */
	double cpu_pct, mem_pct;
	/* mean GPU utilization of the Ready replicas with GPUs, percent (vertical.h); NAN: unknown */
	double gpu_pct;
};

struct llmo__scale_out {
	bool measured;      /* m holds the last interval's figures */
	struct llmo__measure m;
	bool active;	    /* the autoscaler sets the replica count */
	int32_t desired;
	/*
	 * Replicas wanted within the horizon, for the model prefetch
	 * (prefetch.h): the predictive policy's recommendation before
	 * stabilization, rate limits and cooldowns when above desired (the
	 * forecast asks for them ahead of time), desired otherwise; within max.
	 */
	int32_t want;
	bool changed;	    /* desired differs from the count last reported; from: that count */
	int32_t from;
	bool limited;	    /* by min/max, a rate limit, a window or a cooldown */
	double forecast;    /* predictive: requests/s expected one cold start ahead; else -1 */
	const char *policy; /* "reactive", "kpa", "predictive" */
	char reason[200];
};

/*
 * The autoscaler configuration of in->w under policy with the orchestrator
 * configuration conf: targets, bounds, thresholds, behavior, cooldowns
 * (reactive), the horizon and, predictive, replica_slots and slo_wait
 * (docs/autoscaling.md, "In the controller"). 0, or LLMO_EINVAL with err
 * saying which field or annotation cannot be used.
 */
int llmo__scale_config(const struct llmo_config *conf, const struct llmo__scale_in *in, int policy,
		       struct llmo_as_config *cfg, struct llmo_error *err);

/* 0 or LLMO_ENOMEM. Without targets it only measures (out->active false). */
int llmo__scale_decide(struct llmo_controller *c, const struct llmo__scale_in *in,
		       struct llmo__scale_out *out);
void llmo__scale_forget(struct llmo_controller *c, const char *key);
void llmo__scale_release_all(struct llmo_controller *c);
/*
 * Median pod created -> Ready over the Ready pods whose containers never
 * restarted, ms; 0 when none tells it (the scaler then keeps the cold start it
 * has, or assumes 60 s).
 */
int64_t llmo__scale_cold_start_ms(const json_t *const *pods, size_t n);

/* The target of one metric type in w's spec.scaling.targetMetrics; 0 when none. */
double llmo__scale_target_of(const json_t *w, const char *type);

#endif
