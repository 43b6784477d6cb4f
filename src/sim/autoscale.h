#ifndef LLMO_SIM_AUTOSCALE_H
#define LLMO_SIM_AUTOSCALE_H
/*
 * `llmo sim autoscale`: replays the arrivals of an Azure LLM inference
 * trace (sim/azure.h) through the autoscaler (autoscale/autoscaler.h, the
 * controller's code) and a replica capacity model, and measures cost
 * (GPU-hours) and service (time to first token against an SLO).
 *
 * Capacity model (docs/autoscaling.md):
 *  - A replica serves at most `slots` requests at once (continuous
 *    batching). A request admitted at t0 gets its first token at
 *    t0 + ttft_base + prefill_per_token * context_tokens and holds its slot
 *    until that plus generated_tokens * itl.
 *  - Requests wait in one FIFO queue (the gateway's); the head goes to the
 *    Ready, not draining replica with the most free slots (lowest number
 *    on ties) whenever one has a free slot.
 *  - TTFT = first token - arrival (queueing + prefill); a request meets the
 *    SLO when TTFT <= slo_ttft.
 *  - A replica created at t is Ready at t + cold_start and costs GPU time
 *    from t. Scale-down removes replicas not yet Ready first (newest
 *    first; their cost ends at once), then Ready ones with the fewest
 *    requests running, which drain: no new request, cost until the last
 *    running one ends.
 *  - Every `sample` the autoscaler observes each target metric (see
 *    metric_value in autoscale.c); every `interval` it decides and the
 *    decision is applied at once. The replay ends when the last request
 *    has finished; replicas alive then are charged until that time.
 *  - With a warm-up W, everything is replayed but the results describe
 *    [W, end]: requests arriving from W, GPU time from W, scale events and
 *    samples from W (the start of a trace finds no replica and no history).
 * Deterministic: no randomness, no clock.
 */
#include "autoscale/autoscaler.h"
#include "base/common.h"
#include "base/error.h"
#include "sim/azure.h"

#define LLMO_SIM_AS_SLOTS_MAX 4096

/*
 * A replica schedule (`llmo sim autoscale --schedule FILE`): the Ready
 * replicas wanted from each step's time on, replayed instead of an
 * autoscaler's decisions. CSV (src/sim/csv.h) with the columns
 *
 *     t_s,replicas
 *
 * t_s whole seconds since the first request, the first step at 0 and each
 * next one later (at most LLMO_SIM_AS_SCHEDULE_T_MAX), replicas 0 to
 * LLMO_AS_REPLICAS_MAX; at most LLMO_SIM_AS_STEPS_MAX steps. Every malformed
 * row is a problem "FILE:LINE: message"; a file with problems yields no step.
 */
#define LLMO_SIM_AS_STEPS_MAX 10000000
#define LLMO_SIM_AS_SCHEDULE_T_MAX (INT64_C(366) * 86400)
#define LLMO_SIM_AS_SCHEDULE_FILE_MAX ((size_t)256 << 20)

struct llmo_sim_as_step {
	int64_t t; /* ns since the first request */
	int32_t replicas;
};

struct llmo_sim_as_schedule {
	LLMO_VEC(struct llmo_sim_as_step) steps; /* by time, the first at 0 */
};

void llmo_sim_as_schedule_init(struct llmo_sim_as_schedule *s);
void llmo_sim_as_schedule_release(struct llmo_sim_as_schedule *s);
/*
 * Parses len bytes (file names the text in messages) into s, which must be
 * empty. 0; LLMO_EPARSE with each problem appended to problems (s left
 * empty); LLMO_ETOOBIG; LLMO_ENOMEM.
 */
int llmo_sim_as_schedule_parse(struct llmo_sim_as_schedule *s, const char *text, size_t len,
			       const char *file, struct llmo_strv *problems);
/* Reads and parses the file at path (see llmo_sim_csv_read for unreadable files). */
int llmo_sim_as_schedule_load(struct llmo_sim_as_schedule *s, const char *path,
			      struct llmo_strv *problems);

struct llmo_sim_as_point {
	int64_t t;          /* ns since the first request */
	int32_t arrivals;   /* in the last sample period */
	int32_t concurrency;/* requests running or waiting */
	int32_t waiting;
	int32_t replicas;   /* created, not being removed */
	int32_t ready;
	int32_t desired;    /* the last decision */
	double forecast;    /* the last decision's forecast, -1 without */
};

struct llmo_sim_as_opts {
	struct llmo_as_config as; /* the autoscaler; its cold_start is also the model's */
	int32_t slots;            /* 8 */
	int64_t ttft_base;        /* 20 ms */
	int64_t prefill_per_token;/* 100 us */
	int64_t itl;              /* 20 ms */
	int64_t slo_ttft;         /* 1 s */
	int64_t interval;         /* between decisions: 15 s REACTIVE, 2 s otherwise */
	int64_t sample;           /* between observations: 1 s */
	int32_t initial_replicas; /* Ready at time 0: 1 */
	int64_t warmup;           /* 0: results count requests arriving and cost from then on */
	/*
	 * PREDICTIVE sizing by queueing: a perfect forecast, the trace's own
	 * arrivals to come (llmo_as_config.oracle), instead of the forecaster.
	 * A bound for what forecasting could give, not a policy.
	 */
	bool oracle;
	/*
	 * Replicas from a schedule instead of the autoscaler (which still
	 * observes, and whose decisions are not used): the first step's
	 * replicas are Ready at time 0 (initial_replicas is not used), and each
	 * decision at t asks for the most replicas any step wants in
	 * [t, t + cold_start + interval), so that the replicas a step wants are
	 * Ready by its time (created by the last decision that can) and leave at
	 * the first decision after it ends; min and max replicas do not apply.
	 * Waiting requests still get one replica (as from zero).
	 */
	const struct llmo_sim_as_schedule *schedule;
	void (*on_sample)(void *arg, const struct llmo_sim_as_point *pt); /* optional */
	void *arg;
};

/* Defaults above, for policy, with target queue_length = 0.7 * slots. */
void llmo_sim_as_opts_init(struct llmo_sim_as_opts *o, int policy);

/* 0, or LLMO_EINVAL with err naming the option out of bounds. */
int llmo_sim_as_opts_check(const struct llmo_sim_as_opts *o, struct llmo_error *err);

struct llmo_sim_as_result {
	size_t requests;
	double duration_s;        /* first arrival to last completion */
	double gpu_hours;
	double slo_attainment_pct;
	double p50_ttft_ms, p95_ttft_ms, p99_ttft_ms, mean_ttft_ms;
	double mean_replicas, mean_ready;
	int32_t max_replicas;
	int64_t scale_events, scale_ups, scale_downs;
	int64_t replicas_created;
	double panic_s;           /* KPA: time in panic mode */
	double forecast_mape_pct; /* PREDICTIVE; -1 otherwise or without a scored bucket */
	int32_t season_buckets;   /* PREDICTIVE: detected season at the end, 0 none */
	int64_t relevels;         /* PREDICTIVE: level shifts found in the arrivals (forecaster re-levelled) */
	double bucket_s;          /* PREDICTIVE: forecaster bucket */
};

/* Runs the replay. 0, or LLMO_EINVAL (bad options, err says which), LLMO_ENOMEM. */
int llmo_sim_as_run(const struct llmo_sim_azure *trace, const struct llmo_sim_as_opts *o,
		    struct llmo_sim_as_result *res, struct llmo_error *err);

#endif
