/*
 * The horizontal autoscaler in the controller (scale.h): one struct
 * llmo_autoscaler per workload with spec.scaling.targetMetrics, fed from the
 * gateway's metrics at each scrape, and the workload's measured figures for
 * its status.
 */
#include "base/common.h"

#include <math.h>

#include "api/config.h"
#include "api/workload.h"
#include "autoscale/autoscaler.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/str.h"
#include "kube/object.h"
#include "controller/controller_int.h"
#include "controller/scale.h"
#include "controller/vertical.h"

#include "base/banned.h"

#define SEC INT64_C(1000000000)
/* Cold start assumed until a replica of the workload was seen going Ready. */
#define COLD_START_DEFAULT_MS 60000
/* Longest cold start believed (a pod that waited for a node is not a cold start). */
#define COLD_START_MAX_MS 1800000

struct scaler {
	struct llmo_autoscaler *as;
	json_int_t generation; /* of the spec the configuration came from */
	int policy;
	/* the queueing inputs it was built with: annotation and model change no generation */
	int32_t slots;
	int64_t slo_wait;
	int64_t cold_start_ms; /* the measured cold start it was built with (the horizon) */
	int64_t observed_ms;   /* the scrape last observed (signals cur_ms) */
	int32_t desired;
	int32_t announced; /* the count last reported as a scale (Event, lastScaleTime) */
	struct llmo_as_decision last;
	bool decided;
};

static void scaler_free(void *v)
{
	struct scaler *sc = v;

	if (sc)
		llmo_as_free(sc->as);
	free(sc);
}

void llmo__scale_forget(struct llmo_controller *c, const char *key)
{
	void *old = NULL;

	if (llmo_hmap_del(&c->scalers, key, &old) == 0)
		scaler_free(old);
}

void llmo__scale_release_all(struct llmo_controller *c)
{
	llmo_hmap_release(&c->scalers, scaler_free);
}

static int policy_of(const struct llmo_controller *c, const json_t *w)
{
	const char *a = json_string_value(json_object_get(
		json_object_get(json_object_get(w, "metadata"), "annotations"),
		LLMO_ANNOTATION_AUTOSCALER));
	int p;

	if (a && llmo_as_policy_parse(a, &p, NULL) == 0)
		return p;
	return c->config->scheduler.predictive_scaling ? LLMO_AS_PREDICTIVE : LLMO_AS_REACTIVE;
}

/* Whether a container of the pod has restarted (status.containerStatuses[].restartCount). */
static bool restarted(const json_t *pod)
{
	const json_t *cs, *st = json_object_get(json_object_get(pod, "status"), "containerStatuses");
	size_t i;

	json_array_foreach(st, i, cs) {
		if (json_integer_value(json_object_get(cs, "restartCount")) > 0)
			return true;
	}
	return false;
}

/*
 * Median of pod created -> Ready over the Ready replicas that never
 * restarted, ms; 0 when there is none (the caller keeps its last one).
 */
static int64_t cold_start_ms(const json_t *const *pods, size_t n)
{
	int64_t v[64];
	size_t k = 0;

	for (size_t i = 0; i < n && k < 64; i++) {
		const json_t *conds = json_object_get(json_object_get(pods[i], "status"),
						      "conditions"), *cd;
		const char *created = json_string_value(json_object_get(
			json_object_get(pods[i], "metadata"), "creationTimestamp"));
		size_t j;

		/*
		 * A container that restarted made the pod Ready again at its restart:
		 * creation -> that Ready is the pod's age, not a cold start (4 s
		 * became 226 s in bench/autoscale/e2e_fluid.sh), and the predictive
		 * horizon would jump with it.
		 */
		if (restarted(pods[i]))
			continue;
		json_array_foreach(conds, j, cd) {
			const char *t = json_string_value(json_object_get(cd, "type"));
			const char *st = json_string_value(json_object_get(cd, "status"));
			const char *at = json_string_value(json_object_get(cd, "lastTransitionTime"));
			int64_t a, b;

			if (!t || strcmp(t, "Ready") || !st || strcmp(st, "True") || !at || !created ||
			    llmo_time_parse_rfc3339(created, &a, NULL) ||
			    llmo_time_parse_rfc3339(at, &b, NULL) || b < a ||
			    b - a > COLD_START_MAX_MS)
				continue;
			v[k++] = b - a;
		}
	}
	if (!k)
		return 0;
	for (size_t i = 1; i < k; i++) /* insertion sort: k is small */
		for (size_t j = i; j > 0 && v[j - 1] > v[j]; j--) {
			int64_t t = v[j];

			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	return v[k / 2] < 1000 ? 1000 : v[k / 2];
}

/*
 * The model's unloaded time to first token, ms: the lowest ttftP50Ms of its
 * status.benchmarks (the least loaded run, as the scheduler takes it; the
 * median, as the simulator subtracts the TTFT of the median prompt). 0 when
 * it has none.
 */
static double unloaded_ttft_ms(const json_t *model)
{
	const json_t *b;
	double best = 0;
	size_t i;

	json_array_foreach(json_object_get(json_object_get(model, "status"), "benchmarks"), i, b) {
		const json_t *v = json_object_get(b, "ttftP50Ms");
		double t = json_number_value(v);

		if (json_is_number(v) && t > 0 && isfinite(t) && (best == 0 || t < best))
			best = t;
	}
	return best;
}

/*
 * The predictive policy's queueing inputs (docs/autoscaling.md, "In the
 * controller"): *slots from the annotation LLMO_ANNOTATION_REPLICA_SLOTS (0
 * without it), *wait (ns) = the QoS class's maxLatency less the model's
 * unloaded TTFT (0 without a class, an objective, or when the TTFT takes it
 * all). Both set turn the queueing sizing on; when either is 0 both are.
 * LLMO_EINVAL when the annotation is not an integer in 1..LLMO_AS_SLOTS_MAX.
 */
static int queue_inputs(const struct llmo_config *conf, const struct llmo__scale_in *in,
			int32_t *slots, int64_t *wait, struct llmo_error *err)
{
	const char *a = json_string_value(json_object_get(
		json_object_get(json_object_get(in->w, "metadata"), "annotations"),
		LLMO_ANNOTATION_REPLICA_SLOTS));
	const char *qos = llmo_kube_str(in->w, "spec", "qosClass");
	const struct llmo_qos_class *q = qos ? llmo_config_qos(conf, qos) : NULL;
	int64_t v;

	*slots = 0;
	*wait = 0;
	if (a) {
		if (llmo_parse_int_range(a, 1, LLMO_AS_SLOTS_MAX, &v, NULL))
			return llmo_error_set(err, LLMO_EINVAL,
					      "annotation " LLMO_ANNOTATION_REPLICA_SLOTS
					      ": \"%.32s\" is not an integer from 1 to %d",
					      a, LLMO_AS_SLOTS_MAX);
		*slots = (int32_t)v;
	}
	if (q && q->max_latency_ms > 0) {
		double w = q->max_latency_ms - unloaded_ttft_ms(in->model);

		*wait = w > 0 ? (int64_t)llround(w * 1e6) : 0;
	}
	if (!*slots || !*wait) { /* one alone sizes nothing: the configuration stays as without */
		*slots = 0;
		*wait = 0;
	}
	return 0;
}

int llmo__scale_config(const struct llmo_config *conf, const struct llmo__scale_in *in, int policy,
		       struct llmo_as_config *cfg, struct llmo_error *err)
{
	struct llmo_workload w = {0};
	struct llmo_errlist errs;
	const struct llmo_resource_manager_config *rm = &conf->resource_manager;
	int rc;

	llmo_errlist_init(&errs);
	rc = llmo_workload_decode(in->w, &w, &errs);
	if (rc || errs.v.len) {
		rc = llmo_error_set(err, LLMO_EINVAL, "spec.scaling cannot be read");
		goto out;
	}
	llmo_as_config_init(cfg, policy);
	cfg->min_replicas = in->min;
	cfg->max_replicas = in->max;
	for (size_t i = 0; i < w.spec.scaling.target_metrics.len && cfg->ntargets < LLMO_AS_TARGETS_MAX;
	     i++) {
		const struct llmo_target_metric *t = &w.spec.scaling.target_metrics.items[i];

		if (t->target <= 0)
			continue;
		cfg->targets[cfg->ntargets].metric = t->type;
		cfg->targets[cfg->ntargets].target = t->target;
		cfg->ntargets++;
	}
	cfg->behavior = w.spec.scaling.behavior;
	cfg->scale_up_threshold = rm->scale_up_threshold;
	cfg->scale_down_threshold = rm->scale_down_threshold;
	if (policy == LLMO_AS_REACTIVE) {
		/* the predictive policy looks a cold start ahead instead; KPA has its windows */
		cfg->up_cooldown = rm->scale_up_cooldown;
		cfg->down_cooldown = rm->scale_down_cooldown;
	}
	cfg->cold_start = (in->cold_start_ms > 0 ? in->cold_start_ms : COLD_START_DEFAULT_MS) * 1000000;
	if (policy == LLMO_AS_PREDICTIVE) {
		cfg->forecast_metric = LLMO_METRIC_REQUESTS_PER_SECOND;
		if ((rc = queue_inputs(conf, in, &cfg->replica_slots, &cfg->slo_wait, err)))
			goto out;
	}
	if (!cfg->ntargets)
		rc = llmo_error_set(err, LLMO_EINVAL, "no targetMetrics with a target above 0");
	else
		rc = llmo_as_config_check(cfg, err);
out:
	llmo_workload_free(&w);
	llmo_errlist_release(&errs);
	return rc;
}

double llmo__scale_target_of(const json_t *w, const char *type)
{
	const json_t *tm = json_object_get(
		json_object_get(json_object_get(w, "spec"), "scaling"), "targetMetrics"), *t;
	size_t i;

	json_array_foreach(tm, i, t) {
		const char *ty = json_string_value(json_object_get(t, "type"));

		if (ty && strcmp(ty, type) == 0 && json_is_number(json_object_get(t, "target")))
			return json_number_value(json_object_get(t, "target"));
	}
	return 0;
}

/*
 * The workload's figures over the last scrape interval: requests and tokens
 * per second, latency percentiles, error rate, in flight + held.
 */
static bool measure(const struct llmo_controller *c, const struct llmo__scale_in *in,
		    struct llmo__measure *m)
{
	const char *key = in->key;
	const struct llmo__signals *sig = &c->signals;
	const struct llmo__wl_sample *now = llmo__signals_get(sig, key, false);
	const struct llmo__wl_sample *then = llmo__signals_get(sig, key, true);
	struct llmo__track_sample a, b, d;
	double dt;

	memset(m, 0, sizeof(*m));
	m->p50_ms = m->p95_ms = m->p99_ms = m->kv_pct = NAN;
	m->gpu_pct = llmo__gpu_percent(in->ready_pods, in->nready_pods, llmo_clock_wall_ms(),
				       llmo__scale_target_of(in->w, "gpu_utilization"));
	{
		const struct llmo__replica_stats *r = llmo__signals_replicas(sig, key);

		if (r && r->replicas > 0)
			m->kv_pct = 100 * r->kv_sum / r->replicas;
	}
	llmo__usage_percent(in->ready_pods, in->nready_pods, llmo_clock_wall_ms(),
			    llmo__scale_target_of(in->w, "cpu"), llmo__scale_target_of(in->w, "memory"), &m->cpu_pct,
			    &m->mem_pct);
	if (!sig->url || !sig->prev_ms || sig->cur_ms <= sig->prev_ms || sig->error[0])
		return false;
	if (!now)
		return true; /* the gateway has seen no request for it: all zero */
	dt = (double)(sig->cur_ms - sig->prev_ms) / 1000.0;
	llmo__sample_total(now, &a);
	llmo__sample_total(then, &b);
	llmo__track_delta(&a, then ? &b : NULL, &d);
	m->rps = d.requests / dt;
	m->tps = d.tokens / dt;
	m->error_rate = d.requests > 0 ? d.errors / d.requests : 0;
	m->p50_ms = llmo__track_quantile(&d, 0.5) * 1000;
	m->p95_ms = llmo__track_quantile(&d, 0.95) * 1000;
	m->p99_ms = llmo__track_quantile(&d, 0.99) * 1000;
	m->queue = now->inflight + now->pending;
	m->pending = now->pending;
	return true;
}

/* The value of one target metric from m, or NAN when the gateway cannot tell it. */
static double metric_value(int metric, const struct llmo__measure *m, int32_t ready)
{
	switch (metric) {
	case LLMO_METRIC_KV_CACHE_USAGE:
		return m->kv_pct;
	case LLMO_METRIC_CPU:
		return m->cpu_pct;
	case LLMO_METRIC_MEMORY:
		return m->mem_pct;
	case LLMO_METRIC_GPU_UTILIZATION:
		return m->gpu_pct;
	case LLMO_METRIC_REQUESTS_PER_SECOND:
		return m->rps;
	case LLMO_METRIC_TOKENS_PER_SECOND:
		return m->tps;
	case LLMO_METRIC_QUEUE_LENGTH:
		return m->queue;
	case LLMO_METRIC_LATENCY:
		/* with no request in the interval there is no latency to hold against anyone */
		return isnan(m->p95_ms) ? (ready > 0 ? 0 : NAN) : m->p95_ms;
	default:
		return NAN;
	}
}

int llmo__scale_decide(struct llmo_controller *c, const struct llmo__scale_in *in,
		       struct llmo__scale_out *out)
{
	struct scaler *sc = llmo_hmap_get(&c->scalers, in->key);
	struct llmo_error err = {0};
	struct llmo_as_config cfg;
	int policy = policy_of(c, in->w);
	int64_t now = llmo_clock_mono_ns();
	int64_t slo_wait = 0;
	int32_t slots = 0;
	struct llmo__scale_in known = *in;
	bool fresh;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	out->measured = measure(c, in, &out->m);
	if (!in->has_targets) {
		llmo__scale_forget(c, in->key);
		return 0;
	}
	out->active = true;
	if (policy == LLMO_AS_PREDICTIVE)
		rc = queue_inputs(c->config, in, &slots, &slo_wait, &err);
	/* no Ready replica tells a cold start now (none, or all restarted): keep the last one */
	if (known.cold_start_ms <= 0)
		known.cold_start_ms = sc && sc->cold_start_ms > 0 ? sc->cold_start_ms : COLD_START_DEFAULT_MS;
	if (rc || !sc || sc->generation != in->generation || sc->policy != policy ||
	    sc->slots != slots || sc->slo_wait != slo_wait ||
	    sc->cold_start_ms != known.cold_start_ms) {
		if (!rc)
			rc = llmo__scale_config(c->config, &known, policy, &cfg, &err);
		if (rc) {
			snprintf(out->reason, sizeof(out->reason), "autoscaling off: %s", err.msg);
			out->active = false;
			llmo__scale_forget(c, in->key);
			return 0;
		}
		if (!sc) {
			if (!(sc = calloc(1, sizeof(*sc))))
				return LLMO_ENOMEM;
			if (llmo_as_new(&cfg, &sc->as, &err) ||
			    llmo_hmap_put(&c->scalers, in->key, sc, NULL)) {
				scaler_free(sc);
				return LLMO_ENOMEM;
			}
			/* a new controller carries on from the replicas that exist */
			sc->desired = in->current < in->min ? in->min
				      : in->current > in->max ? in->max
							      : in->current;
			sc->announced = sc->desired;
		} else if (llmo_as_configure(sc->as, &cfg, &err)) {
			return LLMO_EINVAL;
		}
		sc->generation = in->generation;
		sc->policy = policy;
		sc->slots = slots;
		sc->slo_wait = slo_wait;
		sc->cold_start_ms = known.cold_start_ms;
	}
	fresh = out->measured && c->signals.cur_ms != sc->observed_ms;
	if (fresh) {
		int64_t t = c->signals.cur_ms * 1000000;

		sc->observed_ms = c->signals.cur_ms;
		for (int metric = LLMO_METRIC_CPU; metric <= LLMO_METRIC_KV_CACHE_USAGE; metric++) {
			double v = metric_value(metric, &out->m, in->ready);

			if (!isnan(v))
				llmo_as_observe(sc->as, t, metric, v);
		}
		llmo_as_decide(sc->as, now, in->current, in->ready, &sc->last);
		sc->decided = true;
		/* scale from zero: a request is waiting and there is no replica */
		if (sc->last.desired == 0 && out->m.pending > 0 && in->max > 0) {
			sc->last.desired = 1;
			snprintf(sc->last.reason, sizeof(sc->last.reason),
				 "%.0f requests held by the gateway with no replica", out->m.pending);
		}
		sc->desired = sc->last.desired;
	}
	if (sc->desired < in->min)
		sc->desired = in->min;
	if (sc->desired > in->max)
		sc->desired = in->max;
	out->desired = out->want = sc->desired;
	if (sc->decided && policy == LLMO_AS_PREDICTIVE && sc->last.recommended > sc->desired)
		out->want = sc->last.recommended > in->max ? in->max : sc->last.recommended;
	if (sc->announced != sc->desired) {
		out->changed = true;
		out->from = sc->announced;
		sc->announced = sc->desired;
	}
	out->limited = sc->decided && sc->last.limited;
	out->forecast = sc->decided ? sc->last.forecast : -1;
	out->policy = llmo_as_policy_name(policy);
	snprintf(out->reason, sizeof(out->reason), "%s",
		 sc->decided ? sc->last.reason : "waiting for the gateway's metrics");
	return 0;
}

int64_t llmo__scale_cold_start_ms(const json_t *const *pods, size_t n)
{
	return cold_start_ms(pods, n);
}
