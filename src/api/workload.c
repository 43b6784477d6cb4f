#include "api/workload.h"
#include "api/config.h"
#include "base/duration.h"
#include "base/error.h"
#include "base/json.h"
#include "base/quantity.h"

const char *const llmo_model_type_names[] = {"text-generation", "chat", "embedding",
					     "code-generation", "classification", NULL};
static const char *const model_sizes[] = {"small", "medium", "large", "xlarge", NULL};
const char *const llmo_qos_names[] = {"premium", "standard", "basic", NULL};
static const char *const scaling_strategies[] = {"horizontal", "vertical", "hybrid", NULL};
const char *const llmo_metric_type_names[] = {"cpu", "memory", "requests_per_second",
					   "queue_length", "latency", "tokens_per_second",
					   "gpu_utilization", "kv_cache_usage", NULL};
const char *const llmo_deploy_type_names[] = {"rolling", "canary", "blueGreen", "abTest", NULL};
static const char *const sticky_by[] = {"tenant", "header", NULL};
static const char *const placement_strategies[] = {"cost-optimized", "latency-optimized",
						   "balanced", NULL};
static const char *const toleration_ops[] = {"Exists", "Equal", NULL};
static const char *const taint_effects[] = {"NoSchedule", "PreferNoSchedule", "NoExecute", NULL};
static const char *const compliance_levels[] = {"basic", "strict", "enterprise", NULL};
static const char *const data_classes[] = {"public", "internal", "confidential", NULL};
static const char *const spread_modes[] = {"required", "preferred", NULL};
static const char *const workload_phases[] = {"Pending", "Deploying", "Running", "Scaling",
					      "Updating", "Degraded", "Failed", "Terminating",
					      NULL};
static const char *const rollout_phases[] = {"Idle", "Progressing", "Analyzing", "Promoting",
					     "Succeeded", "RollingBack", "RolledBack", "Paused",
					     NULL};

#define F LLMO_FIELD
#define END LLMO_FIELD_END

static const struct llmo_field resources_fields[] = {
	F(struct llmo_resources, cpu, "cpu", LLMO_FT_QUANTITY),
	F(struct llmo_resources, memory, "memory", LLMO_FT_QUANTITY, .flags = LLMO_FF_BINARY),
	F(struct llmo_resources, gpu, "gpu", LLMO_FT_QUANTITY),
	F(struct llmo_resources, gpu_memory, "gpuMemory", LLMO_FT_QUANTITY, .flags = LLMO_FF_BINARY),
	F(struct llmo_resources, gpu_type, "gpuType", LLMO_FT_STRING),
	F(struct llmo_resources, storage, "storage", LLMO_FT_QUANTITY, .flags = LLMO_FF_BINARY),
	END,
};

static const struct llmo_field target_metric_fields[] = {
	F(struct llmo_target_metric, type, "type", LLMO_FT_ENUM, .enums = llmo_metric_type_names, .flags = LLMO_FF_REQUIRED),
	F(struct llmo_target_metric, target, "target", LLMO_FT_NUMBER, .flags = LLMO_FF_REQUIRED),
	END,
};

static const struct llmo_field policy_fields[] = {
	F(struct llmo_scaling_policy, stabilization_window_seconds, "stabilizationWindowSeconds",
	  LLMO_FT_INT32),
	F(struct llmo_scaling_policy, max_change_percent, "maxChangePercent", LLMO_FT_INT32),
	F(struct llmo_scaling_policy, max_change_pods, "maxChangePods", LLMO_FT_INT32),
	F(struct llmo_scaling_policy, period_seconds, "periodSeconds", LLMO_FT_INT32),
	END,
};

#define SB struct llmo_scaling
static const struct llmo_field behavior_fields[] = {
	F(struct llmo_scaling_behavior, scale_up, "scaleUp", LLMO_FT_OBJECT, .sub = policy_fields),
	F(struct llmo_scaling_behavior, scale_down, "scaleDown", LLMO_FT_OBJECT,
	  .sub = policy_fields),
	END,
};

static const struct llmo_field scaling_fields[] = {
	F(SB, replicas, "replicas", LLMO_FT_INT32, .set_off = offsetof(SB, has_replicas)),
	F(SB, min_replicas, "minReplicas", LLMO_FT_INT32),
	F(SB, max_replicas, "maxReplicas", LLMO_FT_INT32, .set_off = offsetof(SB, has_max_replicas)),
	F(SB, strategy, "strategy", LLMO_FT_ENUM, .enums = scaling_strategies),
	F(SB, target_metrics, "targetMetrics", LLMO_FT_LIST, .sub = target_metric_fields,
	  .elem_size = sizeof(struct llmo_target_metric)),
	F(SB, behavior, "behavior", LLMO_FT_OBJECT, .sub = behavior_fields),
	END,
};

static const struct llmo_field sla_fields[] = {
	F(struct llmo_sla, availability, "availability", LLMO_FT_NUMBER),
	F(struct llmo_sla, response_time_p95, "responseTimeP95", LLMO_FT_INT32),
	F(struct llmo_sla, response_time_p99, "responseTimeP99", LLMO_FT_INT32),
	F(struct llmo_sla, error_rate, "errorRate", LLMO_FT_NUMBER),
	END,
};

static const struct llmo_field performance_fields[] = {
	F(struct llmo_performance, max_latency, "maxLatency", LLMO_FT_DURATION),
	F(struct llmo_performance, min_throughput, "minThroughput", LLMO_FT_NUMBER),
	F(struct llmo_performance, sla, "slaRequirements", LLMO_FT_OBJECT, .sub = sla_fields),
	END,
};

static const struct llmo_field canary_fields[] = {
	F(struct llmo_canary, traffic_split, "trafficSplit", LLMO_FT_INT32),
	F(struct llmo_canary, duration, "duration", LLMO_FT_DURATION),
	F(struct llmo_canary, success_threshold, "successThreshold", LLMO_FT_NUMBER),
	END,
};

static const struct llmo_field blue_green_fields[] = {
	F(struct llmo_blue_green, auto_promote, "autoPromote", LLMO_FT_BOOL),
	F(struct llmo_blue_green, scale_down_delay, "scaleDownDelay", LLMO_FT_DURATION),
	END,
};

static const struct llmo_field rolling_fields[] = {
	F(struct llmo_rolling, max_surge, "maxSurge", LLMO_FT_INTORSTR),
	F(struct llmo_rolling, max_unavailable, "maxUnavailable", LLMO_FT_INTORSTR),
	END,
};

static const struct llmo_field ab_variant_fields[] = {
	F(struct llmo_ab_variant, model_version, "modelVersion", LLMO_FT_STRING, .flags = LLMO_FF_REQUIRED),
	F(struct llmo_ab_variant, weight, "weight", LLMO_FT_INT32, .flags = LLMO_FF_REQUIRED),
	END,
};

static const struct llmo_field ab_test_fields[] = {
	F(struct llmo_ab_test, variants, "variants", LLMO_FT_LIST, .sub = ab_variant_fields,
	  .elem_size = sizeof(struct llmo_ab_variant)),
	F(struct llmo_ab_test, sticky_by, "stickyBy", LLMO_FT_ENUM, .enums = sticky_by),
	F(struct llmo_ab_test, header, "header", LLMO_FT_STRING),
	END,
};

#define DS struct llmo_deployment_strategy
static const struct llmo_field deployment_fields[] = {
	F(DS, type, "type", LLMO_FT_ENUM, .enums = llmo_deploy_type_names),
	F(DS, canary, "canary", LLMO_FT_OBJECT, .sub = canary_fields),
	F(DS, blue_green, "blueGreen", LLMO_FT_OBJECT, .sub = blue_green_fields),
	F(DS, rolling, "rolling", LLMO_FT_OBJECT, .sub = rolling_fields),
	F(DS, ab_test, "abTest", LLMO_FT_OBJECT, .sub = ab_test_fields),
	END,
};

static const struct llmo_field toleration_fields[] = {
	F(struct llmo_toleration, key, "key", LLMO_FT_STRING),
	F(struct llmo_toleration, operator_, "operator", LLMO_FT_ENUM, .enums = toleration_ops),
	F(struct llmo_toleration, value, "value", LLMO_FT_STRING),
	F(struct llmo_toleration, effect, "effect", LLMO_FT_ENUM, .enums = taint_effects),
	END,
};

static const struct llmo_field spread_fields[] = {
	F(struct llmo_spread, topology_key, "topologyKey", LLMO_FT_STRING),
	F(struct llmo_spread, mode, "mode", LLMO_FT_ENUM, .enums = spread_modes),
	END,
};

static const struct llmo_field placement_fields[] = {
	F(struct llmo_placement, clusters, "clusters", LLMO_FT_STRLIST),
	F(struct llmo_placement, strategy, "strategy", LLMO_FT_ENUM, .enums = placement_strategies),
	F(struct llmo_placement, node_selector, "nodeSelector", LLMO_FT_STRMAP),
	F(struct llmo_placement, tolerations, "tolerations", LLMO_FT_LIST, .sub = toleration_fields,
	  .elem_size = sizeof(struct llmo_toleration)),
	F(struct llmo_placement, spread, "spread", LLMO_FT_OBJECT, .sub = spread_fields),
	END,
};

static const struct llmo_field security_fields[] = {
	F(struct llmo_security, encryption, "encryption", LLMO_FT_BOOL),
	F(struct llmo_security, access_control, "accessControl", LLMO_FT_STRLIST),
	F(struct llmo_security, network_policies, "networkPolicies", LLMO_FT_STRLIST),
	F(struct llmo_security, secret_refs, "secretRefs", LLMO_FT_STRLIST),
	F(struct llmo_security, compliance_level, "complianceLevel", LLMO_FT_ENUM,
	  .enums = compliance_levels),
	F(struct llmo_security, data_classification, "dataClassification", LLMO_FT_ENUM,
	  .enums = data_classes),
	END,
};

#define WS struct llmo_workload_spec
const struct llmo_field llmo_workload_spec_fields[] = {
	F(WS, model_name, "modelName", LLMO_FT_STRING, .flags = LLMO_FF_REQUIRED),
	F(WS, model_version, "modelVersion", LLMO_FT_STRING),
	F(WS, model_type, "modelType", LLMO_FT_ENUM, .enums = llmo_model_type_names),
	F(WS, model_size, "modelSize", LLMO_FT_ENUM, .enums = model_sizes),
	F(WS, parameters, "parameters", LLMO_FT_STRMAP),
	F(WS, aliases, "aliases", LLMO_FT_STRLIST),
	F(WS, resource_profile, "resourceProfile", LLMO_FT_STRING),
	F(WS, qos_class, "qosClass", LLMO_FT_ENUM, .enums = llmo_qos_names),
	F(WS, resources, "resources", LLMO_FT_OBJECT, .sub = resources_fields),
	F(WS, scaling, "scaling", LLMO_FT_OBJECT, .sub = scaling_fields),
	F(WS, performance, "performance", LLMO_FT_OBJECT, .sub = performance_fields),
	F(WS, deployment_strategy, "deploymentStrategy", LLMO_FT_OBJECT, .sub = deployment_fields),
	F(WS, placement, "placement", LLMO_FT_OBJECT, .sub = placement_fields),
	F(WS, security, "security", LLMO_FT_OBJECT, .sub = security_fields),
	END,
};

/* ---- status ---- */

#define CO struct llmo_condition

static const struct llmo_field track_fields[] = {
	F(struct llmo_track, name, "name", LLMO_FT_STRING),
	F(struct llmo_track, model_version, "modelVersion", LLMO_FT_STRING),
	F(struct llmo_track, replicas, "replicas", LLMO_FT_INT32),
	F(struct llmo_track, ready_replicas, "readyReplicas", LLMO_FT_INT32),
	F(struct llmo_track, weight, "weight", LLMO_FT_INT32),
	END,
};

#define CP struct llmo_cluster_placement
static const struct llmo_field placement_status_fields[] = {
	F(CP, cluster, "cluster", LLMO_FT_STRING),
	F(CP, region, "region", LLMO_FT_STRING),
	F(CP, replicas, "replicas", LLMO_FT_INT32),
	F(CP, ready_replicas, "readyReplicas", LLMO_FT_INT32),
	F(CP, reachable, "reachable", LLMO_FT_BOOL),
	F(CP, cost_per_gpu_hour, "costPerGPUHour", LLMO_FT_NUMBER),
	F(CP, latency_ms, "latencyMs", LLMO_FT_NUMBER),
	F(CP, endpoints, "endpoints", LLMO_FT_STRLIST),
	END,
};

#define PM struct llmo_performance_metrics
static const struct llmo_field perf_metrics_fields[] = {
	F(PM, requests_per_second, "requestsPerSecond", LLMO_FT_NUMBER),
	F(PM, tokens_per_second, "tokensPerSecond", LLMO_FT_NUMBER),
	F(PM, p50_latency_ms, "p50LatencyMs", LLMO_FT_NUMBER),
	F(PM, p95_latency_ms, "p95LatencyMs", LLMO_FT_NUMBER),
	F(PM, p99_latency_ms, "p99LatencyMs", LLMO_FT_NUMBER),
	F(PM, error_rate, "errorRate", LLMO_FT_NUMBER),
	F(PM, queue_length, "queueLength", LLMO_FT_INT32),
	F(PM, last_updated, "lastUpdated", LLMO_FT_TIME),
	END,
};

static const struct llmo_field analysis_fields[] = {
	F(struct llmo_rollout_analysis, success_rate, "successRate", LLMO_FT_NUMBER),
	F(struct llmo_rollout_analysis, p95_latency_ms, "p95LatencyMs", LLMO_FT_NUMBER),
	F(struct llmo_rollout_analysis, p99_latency_ms, "p99LatencyMs", LLMO_FT_NUMBER),
	F(struct llmo_rollout_analysis, error_rate, "errorRate", LLMO_FT_NUMBER),
	F(struct llmo_rollout_analysis, checked_at, "checkedAt", LLMO_FT_TIME),
	END,
};

#define RS struct llmo_rollout_status
static const struct llmo_field rollout_fields[] = {
	F(RS, phase, "phase", LLMO_FT_ENUM, .enums = rollout_phases),
	F(RS, stable_version, "stableVersion", LLMO_FT_STRING),
	F(RS, canary_version, "canaryVersion", LLMO_FT_STRING),
	F(RS, canary_weight, "canaryWeight", LLMO_FT_INT32),
	F(RS, start_time, "startTime", LLMO_FT_TIME),
	F(RS, message, "message", LLMO_FT_STRING),
	F(RS, analysis, "analysis", LLMO_FT_OBJECT, .sub = analysis_fields),
	END,
};

#define RC struct llmo_recommendation_status
static const struct llmo_field recommendation_fields[] = {
	F(RC, cpu, "cpu", LLMO_FT_QUANTITY),
	F(RC, memory, "memory", LLMO_FT_QUANTITY, .flags = LLMO_FF_BINARY),
	F(RC, updated_at, "updatedAt", LLMO_FT_TIME),
	F(RC, reason, "reason", LLMO_FT_STRING),
	END,
};

#define WT struct llmo_workload_status
const struct llmo_field llmo_workload_status_fields[] = {
	F(WT, phase, "phase", LLMO_FT_ENUM, .enums = workload_phases),
	F(WT, observed_generation, "observedGeneration", LLMO_FT_INT64),
	F(WT, conditions, "conditions", LLMO_FT_LIST, .sub = llmo_condition_fields,
	  .elem_size = sizeof(CO)),
	F(WT, replicas, "replicas", LLMO_FT_INT32),
	F(WT, desired_replicas, "desiredReplicas", LLMO_FT_INT32),
	F(WT, current_replicas, "currentReplicas", LLMO_FT_INT32),
	F(WT, ready_replicas, "readyReplicas", LLMO_FT_INT32),
	F(WT, updated_replicas, "updatedReplicas", LLMO_FT_INT32),
	F(WT, selector, "selector", LLMO_FT_STRING),
	F(WT, tracks, "tracks", LLMO_FT_LIST, .sub = track_fields,
	  .elem_size = sizeof(struct llmo_track)),
	F(WT, endpoints, "endpoints", LLMO_FT_STRLIST),
	F(WT, placement, "placement", LLMO_FT_LIST, .sub = placement_status_fields,
	  .elem_size = sizeof(CP)),
	F(WT, last_scale_time, "lastScaleTime", LLMO_FT_TIME),
	F(WT, last_scale_reason, "lastScaleReason", LLMO_FT_STRING),
	F(WT, current_metrics, "currentMetrics", LLMO_FT_NUMMAP),
	F(WT, performance_metrics, "performanceMetrics", LLMO_FT_OBJECT, .sub = perf_metrics_fields),
	F(WT, rollout, "rollout", LLMO_FT_OBJECT, .sub = rollout_fields),
	F(WT, recommendation, "recommendation", LLMO_FT_OBJECT, .sub = recommendation_fields),
	END,
};

const struct llmo_field llmo_workload_fields[] = {
	F(struct llmo_workload, meta, "metadata", LLMO_FT_OBJECT, .sub = llmo_object_meta_fields),
	F(struct llmo_workload, spec, "spec", LLMO_FT_OBJECT, .sub = llmo_workload_spec_fields),
	F(struct llmo_workload, status, "status", LLMO_FT_OBJECT, .sub = llmo_workload_status_fields),
	END,
};

int llmo_workload_decode(const json_t *obj, struct llmo_workload *w, struct llmo_errlist *errs)
{
	return llmo_fields_decode_doc(llmo_workload_fields, obj, w, errs, 0);
}

void llmo_workload_free(struct llmo_workload *w)
{
	llmo_fields_free(llmo_workload_fields, w);
}

/* ---- semantic validation ---- */

struct vpath {
	struct llmo_errlist *errs;
	int rc;
};

static void add(struct vpath *v, const char *path, const char *fmt, ...) LLMO_PRINTF(3, 4);
static void add(struct vpath *v, const char *path, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (llmo_errlist_add(v->errs, path, "%s", msg) && !v->rc)
		v->rc = LLMO_ENOMEM;
}

static void qfmt(int64_t milli, bool binary, char *out, size_t n)
{
	if (llmo_quantity_format(milli, binary ? LLMO_QFORMAT_BINARY_SI : LLMO_QFORMAT_DECIMAL_SI,
				 out, n))
		snprintf(out, n, "%" PRId64 "m", milli);
}

static void validate_resources(struct vpath *v, const struct llmo_resources *r)
{
	char a[64], b[64];

	if (r->cpu < 0)
		add(v, "spec.resources.cpu", "must not be negative");
	if (r->memory < 0)
		add(v, "spec.resources.memory", "must not be negative");
	if (r->storage < 0)
		add(v, "spec.resources.storage", "must not be negative");
	if (r->gpu_memory < 0)
		add(v, "spec.resources.gpuMemory", "must not be negative");
	if (r->memory > 0 && r->memory % 1000 != 0) {
		qfmt(r->memory, true, a, sizeof(a));
		add(v, "spec.resources.memory", "%s is a fraction of a byte", a);
	}
	if (r->gpu < 0) {
		add(v, "spec.resources.gpu", "must not be negative");
	} else if (r->gpu > 1000 && r->gpu % 1000 != 0) {
		qfmt(r->gpu, false, a, sizeof(a));
		add(v, "spec.resources.gpu",
		    "%s: more than one GPU must be a whole number (a share is only possible "
		    "below one GPU)", a);
	} else if (r->gpu > 0 && r->gpu < 1000 && r->gpu % 10 != 0) {
		qfmt(r->gpu, false, a, sizeof(a));
		add(v, "spec.resources.gpu", "%s: a GPU share must be a multiple of 10m (1%%)", a);
	}
	if (r->gpu_memory > 0 && r->gpu == 0)
		add(v, "spec.resources.gpuMemory", "needs spec.resources.gpu (a whole GPU or a share)");
	if (r->gpu_memory > 0 && r->gpu >= 1000 && r->gpu % 1000 == 0 && r->gpu > 1000) {
		qfmt(r->gpu_memory, true, a, sizeof(a));
		qfmt(r->gpu, false, b, sizeof(b));
		add(v, "spec.resources.gpuMemory",
		    "%s is per GPU; with %s GPUs set it only for a share of one GPU", a, b);
	}
}

static void validate_policy(struct vpath *v, const struct llmo_scaling_policy *p, const char *path)
{
	char sub[128];

	if (p->max_change_pods > 0 && p->max_change_percent > 0 && p->period_seconds == 0) {
		snprintf(sub, sizeof(sub), "%s.periodSeconds", path);
		add(v, sub, "required when maxChangePods or maxChangePercent is set");
	}
}

static void validate_scaling(struct vpath *v, const struct llmo_scaling *s)
{
	if (s->has_max_replicas && s->max_replicas < s->min_replicas)
		add(v, "spec.scaling.maxReplicas", "must be >= minReplicas (%" PRId32 ")",
		    s->min_replicas);
	if (s->has_replicas && s->replicas < s->min_replicas)
		add(v, "spec.scaling.replicas", "must be >= minReplicas (%" PRId32 ")",
		    s->min_replicas);
	if (s->has_replicas && s->has_max_replicas && s->replicas > s->max_replicas)
		add(v, "spec.scaling.replicas", "must be <= maxReplicas (%" PRId32 ")",
		    s->max_replicas);
	for (size_t i = 0; i < s->target_metrics.len; i++) {
		const struct llmo_target_metric *m = &s->target_metrics.items[i];
		char p[96];

		snprintf(p, sizeof(p), "spec.scaling.targetMetrics[%zu].target", i);
		if ((m->type == LLMO_METRIC_CPU || m->type == LLMO_METRIC_MEMORY ||
		     m->type == LLMO_METRIC_GPU_UTILIZATION || m->type == LLMO_METRIC_KV_CACHE_USAGE) &&
		    (m->target <= 0 || m->target > 100))
			add(v, p, "a utilisation target is a percentage in (0, 100], got %g", m->target);
		else if (m->target <= 0)
			add(v, p, "must be > 0");
		for (size_t j = 0; j < i; j++) {
			if (s->target_metrics.items[j].type == m->type) {
				snprintf(p, sizeof(p), "spec.scaling.targetMetrics[%zu].type", i);
				add(v, p, "duplicate metric (also at targetMetrics[%zu])", j);
			}
		}
	}
	validate_policy(v, &s->behavior.scale_up, "spec.scaling.behavior.scaleUp");
	validate_policy(v, &s->behavior.scale_down, "spec.scaling.behavior.scaleDown");
}

static void validate_performance(struct vpath *v, const struct llmo_performance *p)
{
	if (p->max_latency < 0)
		add(v, "spec.performance.maxLatency", "must be positive");
	if (p->sla.response_time_p99 > 0 && p->sla.response_time_p95 > p->sla.response_time_p99)
		add(v, "spec.performance.slaRequirements.responseTimeP99",
		    "must be >= responseTimeP95 (%" PRId32 ")", p->sla.response_time_p95);
	if (p->max_latency > 0 && p->sla.response_time_p95 > 0 &&
	    (int64_t)p->sla.response_time_p95 * LLMO_NS_PER_MS > p->max_latency) {
		char d[64];

		llmo_duration_format(p->max_latency, d, sizeof(d));
		add(v, "spec.performance.slaRequirements.responseTimeP95",
		    "%" PRId32 "ms exceeds performance.maxLatency (%s)", p->sla.response_time_p95, d);
	}
}

static void validate_deployment(struct vpath *v, const struct llmo_workload_spec *spec)
{
	const struct llmo_deployment_strategy *d = &spec->deployment_strategy;
	int total = 0;

	if (d->canary.duration < 0)
		add(v, "spec.deploymentStrategy.canary.duration", "must be positive");
	if (d->blue_green.scale_down_delay < 0)
		add(v, "spec.deploymentStrategy.blueGreen.scaleDownDelay", "must not be negative");
	if (d->type == LLMO_DEPLOY_CANARY && d->canary.traffic_split == 100)
		add(v, "spec.deploymentStrategy.canary.trafficSplit",
		    "100%% sends everything to the canary: use a rolling update instead");
	if (d->type == LLMO_DEPLOY_ROLLING) {
		int64_t surge = 0, unavail = 0;

		if (llmo_intorstr_scaled(&d->rolling.max_surge, 100, true, &surge) || surge < 0)
			add(v, "spec.deploymentStrategy.rolling.maxSurge",
			    "must be a non-negative count or a percentage such as \"25%%\"");
		if (llmo_intorstr_scaled(&d->rolling.max_unavailable, 100, false, &unavail) ||
		    unavail < 0)
			add(v, "spec.deploymentStrategy.rolling.maxUnavailable",
			    "must be a non-negative count or a percentage such as \"25%%\"");
		if (d->rolling.max_surge.set && d->rolling.max_unavailable.set && surge == 0 &&
		    unavail == 0)
			add(v, "spec.deploymentStrategy.rolling.maxUnavailable",
			    "may not be 0 when maxSurge is 0");
	}
	if (d->type != LLMO_DEPLOY_AB_TEST)
		return;
	if (d->ab_test.variants.len < 2)
		add(v, "spec.deploymentStrategy.abTest.variants",
		    "an A/B test needs at least two variants");
	for (size_t i = 0; i < d->ab_test.variants.len; i++) {
		const struct llmo_ab_variant *a = &d->ab_test.variants.items[i];

		total += a->weight;
		for (size_t j = 0; j < i; j++) {
			if (a->model_version && d->ab_test.variants.items[j].model_version &&
			    strcmp(a->model_version, d->ab_test.variants.items[j].model_version) == 0) {
				char p[96];

				snprintf(p, sizeof(p),
					 "spec.deploymentStrategy.abTest.variants[%zu].modelVersion", i);
				add(v, p, "duplicate version \"%s\"", a->model_version);
			}
		}
	}
	if (d->ab_test.variants.len >= 2 && total != 100)
		add(v, "spec.deploymentStrategy.abTest.variants", "weights add up to %d, not 100",
		    total);
	if (d->ab_test.sticky_by == 2 && (!d->ab_test.header || !*d->ab_test.header))
		add(v, "spec.deploymentStrategy.abTest.header", "required when stickyBy is \"header\"");
}

static void validate_placement(struct vpath *v, const struct llmo_placement *p)
{
	for (size_t i = 0; i < p->tolerations.len; i++) {
		const struct llmo_toleration *t = &p->tolerations.items[i];
		char path[96];

		snprintf(path, sizeof(path), "spec.placement.tolerations[%zu]", i);
		if (t->operator_ == 1 && t->value && *t->value)
			add(v, path, "value must be empty when operator is \"Exists\"");
		if (t->operator_ != 1 && (!t->key || !*t->key))
			add(v, path, "key is required unless operator is \"Exists\"");
	}
	for (size_t i = 0; i < p->clusters.len; i++) {
		char path[96];

		snprintf(path, sizeof(path), "spec.placement.clusters[%zu]", i);
		if (llmo_validate_dns1123_subdomain(p->clusters.items[i], path, v->errs))
			v->rc = LLMO_ENOMEM;
		for (size_t j = 0; j < i; j++)
			if (strcmp(p->clusters.items[i], p->clusters.items[j]) == 0)
				add(v, path, "duplicate cluster \"%s\"", p->clusters.items[i]);
	}
}

static void validate_against_config(struct vpath *v, const struct llmo_workload_spec *spec,
				    const struct llmo_config *cfg)
{
	const struct llmo_resource_profile *prof = NULL;
	int64_t cpu = spec->resources.cpu, mem = spec->resources.memory;
	char a[64], b[64];

	if (spec->resource_profile) {
		prof = llmo_config_profile(cfg, spec->resource_profile);
		if (!prof) {
			add(v, "spec.resourceProfile",
			    "\"%s\" is not a profile of the configuration's resourceProfiles",
			    spec->resource_profile);
		} else {
			if (!cpu)
				cpu = prof->cpu;
			if (!mem)
				mem = prof->memory;
			if (prof->max_replicas > 0 && spec->scaling.has_max_replicas &&
			    spec->scaling.max_replicas > prof->max_replicas)
				add(v, "spec.scaling.maxReplicas",
				    "must be <= %" PRId32 " (maxReplicas of profile \"%s\")",
				    prof->max_replicas, spec->resource_profile);
		}
	}
	if (cfg->resource_manager.max_cpu_per_workload > 0 &&
	    cpu > cfg->resource_manager.max_cpu_per_workload) {
		qfmt(cpu, false, a, sizeof(a));
		qfmt(cfg->resource_manager.max_cpu_per_workload, false, b, sizeof(b));
		add(v, "spec.resources.cpu", "%s exceeds resourceManager.maxCPUPerWorkload (%s)", a, b);
	}
	if (cfg->resource_manager.max_memory_per_workload > 0 &&
	    mem > cfg->resource_manager.max_memory_per_workload) {
		qfmt(mem, true, a, sizeof(a));
		qfmt(cfg->resource_manager.max_memory_per_workload, true, b, sizeof(b));
		add(v, "spec.resources.memory",
		    "%s exceeds resourceManager.maxMemoryPerWorkload (%s)", a, b);
	}
}

int llmo_workload_validate(const struct llmo_workload *w, const struct llmo_config *cfg,
			   struct llmo_errlist *errs)
{
	struct vpath v = {.errs = errs, .rc = 0};
	const struct llmo_workload_spec *spec = &w->spec;

	validate_resources(&v, &spec->resources);
	validate_scaling(&v, &spec->scaling);
	validate_performance(&v, &spec->performance);
	validate_deployment(&v, spec);
	validate_placement(&v, &spec->placement);
	for (size_t i = 0; i < spec->aliases.len; i++) {
		for (size_t j = 0; j < i; j++) {
			if (strcmp(spec->aliases.items[i], spec->aliases.items[j]) == 0) {
				char p[64];

				snprintf(p, sizeof(p), "spec.aliases[%zu]", i);
				add(&v, p, "duplicate alias \"%s\"", spec->aliases.items[i]);
			}
		}
	}
	if (cfg)
		validate_against_config(&v, spec, cfg);
	return v.rc;
}
