#ifndef LLMO_AUTOSCALE_AUTOSCALER_H
#define LLMO_AUTOSCALE_AUTOSCALER_H
/*
 * struct llmo_autoscaler: the horizontal autoscaler of one workload, used by
 * the controller and by `llmo sim autoscale` alike. Pure computation: no
 * I/O, no event loop, no clock (every time is passed in, in ns, and must
 * not decrease). Memory is bounded: fixed rings of samples, recommendations
 * and scale events.
 *
 * Three policies (docs/autoscaling.md describes them with every knob):
 *
 *  - LLMO_AS_REACTIVE: the Kubernetes HPA algorithm. Per target metric the
 *    ratio of the observed value (the mean of the samples of the last
 *    metric_window) per ready replica to the target; within
 *    `tolerance` of 1 nothing changes, else ceil(ready * ratio). The largest
 *    over the metrics, then the resourceManager thresholds (a scale-down
 *    only below scale_down_threshold / scale_up_threshold of the target),
 *    the stabilization windows, the behavior rate limits, the cooldowns and
 *    min/max.
 *  - LLMO_AS_KPA: Knative's KPA. The first target's metric averaged over
 *    the stable window and over the panic window; desired =
 *    ceil(average / target) for each; panic starts when the panic-window
 *    desired is >= panic_threshold x ready, lasts while it stays so and
 *    ends a stable window after it last was; while panicking the larger
 *    of the two is taken and replicas never go down.
 *  - LLMO_AS_PREDICTIVE: forecast_metric (the first target's by default;
 *    arrivals are better) is forecast (autoscale/forecast.h) over the next
 *    cold_start. Two ways to size replicas for it:
 *    - queueing (replica_slots and slo_wait set, requests_per_second
 *      forecast, queue_length the first target): the fewest replicas that
 *      keep P(wait > slo_wait) <= slo_miss for the forecast arrivals
 *      (M/M/c, c = replicas x replica_slots, the hold time from Little's
 *      law). Scale up to what the forecast at now + cold_start, plus
 *      headroom (the Phi(forecast_z) quantile of the forecast's recent
 *      errors), needs, and to the slots that take, within slo_wait, the
 *      backlog the new replicas will find (a fluid model); scale down
 *      only to what the largest forecast until then, and the backlog
 *      until then, need. The measured arrivals are a floor for both; an
 *      upward level shift in them (a Poisson likelihood-ratio test)
 *      re-levels the forecaster at once. The target value itself is not
 *      used.
 *    - by the target otherwise: the forecast plus forecast_z standard
 *      deviations of its own error, converted into the first target's
 *      units; desired = max(replicas for that, replicas for the
 *      stable-window mean of each target). While replicas are starting
 *      the load adds none (only the forecast may): they will drain the
 *      queue that grows meanwhile.
 *    Stabilization, behavior, cooldowns and bounds apply as for REACTIVE
 *    (give the forecaster none: its horizon replaces them).
 *
 * Observations (llmo_as_observe): for requests_per_second, queue_length
 * (requests waiting or running) and tokens_per_second the value is the
 * TOTAL over the ready replicas; for cpu, memory, gpu_utilization,
 * kv_cache_usage and latency it is the MEAN per ready replica. Targets are
 * always per replica.
 */
#include "api/workload.h"
#include "autoscale/forecast.h"
#include "base/common.h"
#include "base/error.h"

enum llmo_as_policy { LLMO_AS_REACTIVE = 1, LLMO_AS_KPA, LLMO_AS_PREDICTIVE };

#define LLMO_AS_TARGETS_MAX 8
#define LLMO_AS_SAMPLES_MAX 1024 /* samples kept per metric (the windows read them) */
#define LLMO_AS_RECS_MAX 1024    /* recommendations kept for stabilization */
#define LLMO_AS_EVENTS_MAX 256   /* scale events kept for the rate limits */
#define LLMO_AS_REPLICAS_MAX 100000
#define LLMO_AS_SLOTS_MAX 4096 /* replica_slots */
#define LLMO_AS_RATIO_BUCKETS 16

struct llmo_as_target {
	int metric;    /* enum llmo_metric_type */
	double target; /* per replica, > 0 */
};

struct llmo_as_config {
	int policy; /* enum llmo_as_policy */
	int32_t min_replicas, max_replicas; /* 0 <= min <= max; min 0: scale to zero */
	struct llmo_as_target targets[LLMO_AS_TARGETS_MAX];
	size_t ntargets; /* 1 .. LLMO_AS_TARGETS_MAX */
	double tolerance; /* 0.1 */
	/*
	 * resourceManager.scaleUpThreshold / scaleDownThreshold (0.8 / 0.3):
	 * the utilisation of a replica at its target is scale_up_threshold;
	 * REACTIVE and PREDICTIVE scale down only when the load is below
	 * scale_down_threshold / scale_up_threshold of the target. 0 and 0:
	 * no band (plain HPA).
	 */
	double scale_up_threshold, scale_down_threshold;
	int64_t up_cooldown, down_cooldown; /* ns between two scale-ups / downs; 3m / 10m (PREDICTIVE: 0 / 0) */
	struct llmo_scaling_behavior behavior; /* windows and rate limits; zeros: none */
	int64_t stable_window, panic_window; /* KPA: 60 s, 6 s */
	double panic_threshold;               /* KPA: 2.0 (200%) */
	int64_t cold_start; /* ns, pod created to Ready: the predictive horizon */
	int64_t metric_window; /* REACTIVE: the observed value is the mean over this; 30 s */
	/*
	 * PREDICTIVE: the metric forecast; 0 (default) for the first target's.
	 * Another one (typically requests_per_second with queue_length as the
	 * first target: arrivals do not include the queue a late scale-up
	 * builds) is converted into the first target's units by the median,
	 * over the last LLMO_AS_RATIO_BUCKETS forecaster buckets, of the ratio
	 * of the two metrics' bucket means (Little's law: concurrency / rate =
	 * time in system).
	 */
	int forecast_metric;
	/*
	 * PREDICTIVE: headroom for the forecast's own error, in standard
	 * deviations; 1. Sizing by the target adds forecast_z x
	 * llmo_forecast_stddev; queueing sizing adds the Phi(forecast_z)
	 * quantile (0.84 for 1) of the recent errors at the horizon
	 * (llmo_forecast_err_quantile): the same point for normal errors,
	 * without assuming they are; less the Poisson noise of the
	 * arrivals, which the queueing model counts already.
	 */
	double forecast_z;
	/*
	 * PREDICTIVE, queueing sizing (both set; else the target sizes it):
	 * replica_slots is the most requests one replica runs at once
	 * (containerConcurrency, the runtime's batch); slo_wait the queueing
	 * delay a request may take (its TTFT objective less the unloaded
	 * TTFT); slo_miss the share of requests allowed to wait longer (0.01).
	 */
	int32_t replica_slots;
	int64_t slo_wait;
	double slo_miss;
	/*
	 * PREDICTIVE with queueing sizing, for the simulator only (never set
	 * from a workload's spec): a perfect forecast. oracle(oracle_arg,
	 * from, to) is the true mean arrival rate (requests/s) over
	 * [from, to); when set it replaces the forecaster's forecast, its
	 * headroom and the measured floor, and nothing else changes (the
	 * queueing model, the backlog, the keep rule). It bounds what any
	 * forecaster could give this sizing (`llmo sim autoscale --forecast
	 * oracle`). NULL: the forecaster.
	 */
	double (*oracle)(void *oracle_arg, int64_t from, int64_t to);
	void *oracle_arg;
};

/* Fills c with the defaults above for policy (1 target left to the caller: ntargets 0). */
void llmo_as_config_init(struct llmo_as_config *c, int policy);

/* 0, or LLMO_EINVAL with err naming the field and what is allowed. */
int llmo_as_config_check(const struct llmo_as_config *c, struct llmo_error *err);

struct llmo_autoscaler;

int llmo_as_new(const struct llmo_as_config *cfg, struct llmo_autoscaler **out,
		struct llmo_error *err);
/* Replaces the configuration; observations, recommendations and cooldowns are kept. */
int llmo_as_configure(struct llmo_autoscaler *as, const struct llmo_as_config *cfg,
		      struct llmo_error *err);
void llmo_as_free(struct llmo_autoscaler *as);

/* One observation of a metric at `now` (see the header comment for totals and means). */
void llmo_as_observe(struct llmo_autoscaler *as, int64_t now, int metric, double value);

struct llmo_as_decision {
	int32_t desired;     /* what to scale to now */
	int32_t recommended; /* before stabilization, rate limits, cooldowns and bounds */
	bool limited;        /* desired differs from recommended because of a bound or limit */
	bool panic;          /* KPA panic mode */
	double forecast;     /* PREDICTIVE: forecast metric value at now + cold_start; else -1 */
	char reason[160];    /* one sentence for status and Events */
};

/*
 * Decides the replica count at `now` for `current` replicas (created) of
 * which `ready` are Ready. A decision with desired != current is recorded
 * as a scale event (cooldowns and rate limits count from it): call it once
 * per evaluation and act on it.
 */
void llmo_as_decide(struct llmo_autoscaler *as, int64_t now, int32_t current, int32_t ready,
		    struct llmo_as_decision *out);

/* The forecaster of a PREDICTIVE autoscaler (NULL for the other policies). */
const struct llmo_forecast *llmo_as_forecaster(const struct llmo_autoscaler *as);

const char *llmo_as_policy_name(int policy);
/* "reactive", "kpa", "predictive" -> 0 and *out, else LLMO_EINVAL. */
int llmo_as_policy_parse(const char *s, int *out, struct llmo_error *err);
/* The metric's name as in targetMetrics ("requests_per_second"), "?" if unknown. */
const char *llmo_as_metric_name(int metric);
/* True for metrics observed as totals over the ready replicas. */
bool llmo_as_metric_is_total(int metric);

#endif
