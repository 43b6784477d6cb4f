#include "base/common.h"

#include <math.h>

#include "autoscale/autoscaler.h"

#define SEC INT64_C(1000000000)

/* Knative's rate limits of one decision: up to 1000x, down to 1/2 of the ready replicas. */
#define KPA_MAX_SCALE_UP_RATE 1000.0
#define KPA_MAX_SCALE_DOWN_RATE 2.0

/* Queueing sizing: offered load (busy slots) up to which Erlang's recursion runs. */
#define ERLANG_SLOTS_MAX 65536.0

/*
 * Level-shift test (shift_test): the log-likelihood ratio at which the
 * arrivals since a change point are taken to come at a new rate. e^10:
 * the new rate explains them 22,000 times better than the forecast. On
 * Poisson arrivals at the forecast rate (0.5 to 40/s), counted each
 * second and tested every 2 s over windows of 6 to 15 s, that is at most
 * 0.1 false alarms an hour (20 simulated hours per rate).
 */
#define SHIFT_LLR 10.0

/* Forecaster buckets: a quarter of the cold start, within these bounds. */
#define BUCKET_MIN (5 * SEC)
#define BUCKET_MAX (60 * SEC)

struct sample {
	int64_t t;
	double v;
};

struct sample_ring {
	struct sample s[LLMO_AS_SAMPLES_MAX];
	size_t head, len; /* oldest at head */
};

struct rec {
	int64_t t;
	int32_t n;
};

struct event {
	int64_t t;
	int32_t delta;
};

struct llmo_autoscaler {
	struct llmo_as_config cfg;
	struct sample_ring obs[LLMO_AS_TARGETS_MAX];
	struct rec recs[LLMO_AS_RECS_MAX];
	size_t rec_head, rec_len;
	struct event events[LLMO_AS_EVENTS_MAX];
	size_t ev_head, ev_len;
	int64_t last_up, last_down; /* INT64_MIN: never */
	/* KPA */
	int64_t panic_since; /* INT64_MIN: not panicking; else the last time over the threshold */
	int32_t max_panic;
	/* PREDICTIVE */
	struct llmo_forecast *fc;
	int64_t ratio_index;       /* bucket being summed, -1 before any */
	double sum_target, sum_fc; /* this bucket's samples of target 0 and of the forecast metric */
	int64_t n_target, n_fc;
	double ratios[LLMO_AS_RATIO_BUCKETS];
	size_t nratios;            /* ratios[nratios % MAX] is the next slot */
	struct sample_ring fc_obs; /* the forecast metric's samples (shift_test reads them) */
	int64_t shift_since;       /* start of the level found by the last shift; INT64_MIN: none */
};

static const char *const policy_names[] = {"reactive", "kpa", "predictive"};

const char *llmo_as_policy_name(int policy)
{
	return policy >= 1 && policy <= 3 ? policy_names[policy - 1] : "?";
}

int llmo_as_policy_parse(const char *s, int *out, struct llmo_error *err)
{
	for (int i = 0; i < 3; i++) {
		if (strcmp(s, policy_names[i]) == 0) {
			*out = i + 1;
			return 0;
		}
	}
	return llmo_error_set(err, LLMO_EINVAL, "\"%.64s\": want reactive, kpa or predictive", s);
}

const char *llmo_as_metric_name(int metric)
{
	return metric >= LLMO_METRIC_CPU && metric <= LLMO_METRIC_KV_CACHE_USAGE
		       ? llmo_metric_type_names[metric - 1]
		       : "?";
}

bool llmo_as_metric_is_total(int metric)
{
	return metric == LLMO_METRIC_REQUESTS_PER_SECOND || metric == LLMO_METRIC_QUEUE_LENGTH ||
	       metric == LLMO_METRIC_TOKENS_PER_SECOND;
}

void llmo_as_config_init(struct llmo_as_config *c, int policy)
{
	memset(c, 0, sizeof(*c));
	c->policy = policy;
	c->min_replicas = 1;
	c->max_replicas = 10;
	c->tolerance = 0.1;
	c->scale_up_threshold = 0.8;
	c->scale_down_threshold = 0.3;
	c->up_cooldown = 180 * SEC;
	c->down_cooldown = 600 * SEC;
	c->stable_window = 60 * SEC;
	c->panic_window = 6 * SEC;
	c->panic_threshold = 2.0;
	c->cold_start = 60 * SEC;
	c->metric_window = 30 * SEC;
	c->forecast_z = 1;
	c->slo_miss = 0.01;
	/* A forecaster looks a cold start ahead: that replaces cooldowns. */
	if (policy == LLMO_AS_PREDICTIVE)
		c->up_cooldown = c->down_cooldown = 0;
}

static int check_policy(const struct llmo_scaling_policy *p, const char *dir,
			struct llmo_error *err)
{
	if (p->stabilization_window_seconds < 0 || p->stabilization_window_seconds > 3600)
		return llmo_error_set(err, LLMO_EINVAL,
				      "behavior.%s.stabilizationWindowSeconds: want 0 to 3600", dir);
	if (p->max_change_percent < 0 || p->max_change_pods < 0)
		return llmo_error_set(err, LLMO_EINVAL, "behavior.%s: change limits must be >= 0",
				      dir);
	if ((p->max_change_percent || p->max_change_pods) &&
	    (p->period_seconds < 1 || p->period_seconds > 1800))
		return llmo_error_set(err, LLMO_EINVAL,
				      "behavior.%s.periodSeconds: want 1 to 1800 with a change limit",
				      dir);
	return 0;
}

static int forecast_metric(const struct llmo_as_config *c)
{
	return c->forecast_metric ? c->forecast_metric : c->targets[0].metric;
}

/* Queueing sizing applies: slots and wait set, arrivals forecast, concurrency the first target. */
static bool queue_sizing(const struct llmo_as_config *c)
{
	return c->replica_slots > 0 && c->slo_wait > 0 &&
	       forecast_metric(c) == LLMO_METRIC_REQUESTS_PER_SECOND &&
	       c->targets[0].metric == LLMO_METRIC_QUEUE_LENGTH;
}

int llmo_as_config_check(const struct llmo_as_config *c, struct llmo_error *err)
{
	if (c->policy < LLMO_AS_REACTIVE || c->policy > LLMO_AS_PREDICTIVE)
		return llmo_error_set(err, LLMO_EINVAL, "policy: want reactive, kpa or predictive");
	if (c->min_replicas < 0 || c->max_replicas < c->min_replicas ||
	    c->max_replicas > LLMO_AS_REPLICAS_MAX || c->max_replicas < 1)
		return llmo_error_set(err, LLMO_EINVAL,
				      "replicas: want 0 <= min <= max, 1 <= max <= %d (min %" PRId32
				      ", max %" PRId32 ")",
				      LLMO_AS_REPLICAS_MAX, c->min_replicas, c->max_replicas);
	if (c->ntargets < 1 || c->ntargets > LLMO_AS_TARGETS_MAX)
		return llmo_error_set(err, LLMO_EINVAL, "targets: want 1 to %d",
				      LLMO_AS_TARGETS_MAX);
	for (size_t i = 0; i < c->ntargets; i++) {
		if (!strcmp(llmo_as_metric_name(c->targets[i].metric), "?"))
			return llmo_error_set(err, LLMO_EINVAL, "targets[%zu]: unknown metric %d", i,
					      c->targets[i].metric);
		if (!(c->targets[i].target > 0) || !isfinite(c->targets[i].target))
			return llmo_error_set(err, LLMO_EINVAL,
					      "targets[%zu].target: want a number above 0", i);
	}
	if (!(c->tolerance >= 0 && c->tolerance < 1))
		return llmo_error_set(err, LLMO_EINVAL, "tolerance: want 0 <= x < 1");
	if (!(c->scale_up_threshold >= 0 && c->scale_up_threshold <= 1 &&
	      c->scale_down_threshold >= 0 &&
	      (c->scale_up_threshold == 0 ? c->scale_down_threshold == 0
					  : c->scale_down_threshold < c->scale_up_threshold)))
		return llmo_error_set(err, LLMO_EINVAL,
				      "thresholds: want 0 <= scaleDownThreshold < scaleUpThreshold <= 1 (or both 0)");
	if (c->up_cooldown < 0 || c->down_cooldown < 0 || c->cold_start < 0 ||
	    c->metric_window < 0)
		return llmo_error_set(err, LLMO_EINVAL,
				      "cooldowns, cold start and metric window: want >= 0");
	if (c->stable_window <= 0 || c->panic_window <= 0 || c->panic_window > c->stable_window)
		return llmo_error_set(err, LLMO_EINVAL,
				      "windows: want 0 < panic window <= stable window");
	if (!(c->panic_threshold >= 1) || !isfinite(c->panic_threshold))
		return llmo_error_set(err, LLMO_EINVAL, "panic threshold: want >= 1 (100%%)");
	if (!(c->forecast_z >= 0 && c->forecast_z <= 10))
		return llmo_error_set(err, LLMO_EINVAL, "forecast z: want 0 to 10");
	if (c->replica_slots < 0 || c->replica_slots > LLMO_AS_SLOTS_MAX || c->slo_wait < 0 ||
	    !(c->slo_miss > 0 && c->slo_miss < 1))
		return llmo_error_set(err, LLMO_EINVAL,
				      "queueing sizing: want 0 <= replica slots <= %d, SLO wait >= 0, 0 < SLO miss < 1",
				      LLMO_AS_SLOTS_MAX);
	if (c->oracle && !(c->policy == LLMO_AS_PREDICTIVE && queue_sizing(c)))
		return llmo_error_set(err, LLMO_EINVAL,
				      "oracle forecast: only for the predictive policy sizing by queueing (replica slots and an SLO wait set, requests_per_second forecast, queue_length the first target)");
	if (c->forecast_metric && !strcmp(llmo_as_metric_name(c->forecast_metric), "?"))
		return llmo_error_set(err, LLMO_EINVAL, "forecast metric: unknown metric %d",
				      c->forecast_metric);
	if (check_policy(&c->behavior.scale_up, "scaleUp", err) ||
	    check_policy(&c->behavior.scale_down, "scaleDown", err))
		return err->code;
	return 0;
}

static int64_t bucket_for(const struct llmo_as_config *c)
{
	return LLMO_MAX(BUCKET_MIN, LLMO_MIN(BUCKET_MAX, c->cold_start / 4));
}

int llmo_as_new(const struct llmo_as_config *cfg, struct llmo_autoscaler **out,
		struct llmo_error *err)
{
	struct llmo_autoscaler *as;
	int rc;

	*out = NULL;
	rc = llmo_as_config_check(cfg, err);
	if (rc)
		return rc;
	as = calloc(1, sizeof(*as));
	if (!as)
		return llmo_error_set(err, LLMO_ENOMEM, "autoscaler: out of memory");
	as->last_up = as->last_down = INT64_MIN;
	as->panic_since = INT64_MIN;
	as->shift_since = INT64_MIN;
	rc = llmo_as_configure(as, cfg, err);
	if (rc) {
		llmo_as_free(as);
		return rc;
	}
	*out = as;
	return 0;
}

int llmo_as_configure(struct llmo_autoscaler *as, const struct llmo_as_config *cfg,
		      struct llmo_error *err)
{
	int rc = llmo_as_config_check(cfg, err);
	bool refit;

	if (rc)
		return rc;
	/*
	 * A new first metric starts the forecast afresh, and so does a horizon
	 * whose bucket would be twice or half the one in use. A smaller change
	 * (the controller's measured cold start moving with each replica that
	 * becomes Ready) keeps the buckets and their history: decisions look
	 * cold_start ahead in the buckets there are.
	 */
	refit = !as->fc || cfg->targets[0].metric != as->cfg.targets[0].metric ||
		cfg->forecast_metric != as->cfg.forecast_metric ||
		bucket_for(cfg) >= 2 * as->fc->bucket_ns || 2 * bucket_for(cfg) <= as->fc->bucket_ns;
	if (cfg->policy == LLMO_AS_PREDICTIVE && refit) {
		if (!as->fc)
			as->fc = malloc(sizeof(*as->fc));
		if (!as->fc)
			return llmo_error_set(err, LLMO_ENOMEM, "autoscaler: out of memory");
		llmo_forecast_init(as->fc, bucket_for(cfg),
				   (int32_t)((cfg->cold_start + bucket_for(cfg) - 1) / bucket_for(cfg)));
		as->ratio_index = -1;
		as->nratios = 0;
		as->fc_obs.len = 0;
		as->shift_since = INT64_MIN;
	}
	/* Samples of a metric that moved to another slot are dropped with the slot. */
	for (size_t i = 0; i < LLMO_AS_TARGETS_MAX; i++) {
		if (i >= cfg->ntargets || i >= as->cfg.ntargets ||
		    cfg->targets[i].metric != as->cfg.targets[i].metric)
			as->obs[i].len = 0;
	}
	as->cfg = *cfg;
	return 0;
}

void llmo_as_free(struct llmo_autoscaler *as)
{
	if (!as)
		return;
	free(as->fc);
	free(as);
}

const struct llmo_forecast *llmo_as_forecaster(const struct llmo_autoscaler *as)
{
	return as->cfg.policy == LLMO_AS_PREDICTIVE ? as->fc : NULL;
}

/* Closes the ratio bucket when `now` is past it: one more target/forecast-metric ratio. */
static void ratio_advance(struct llmo_autoscaler *as, int64_t now)
{
	int64_t idx = now / as->fc->bucket_ns;

	if (idx == as->ratio_index)
		return;
	if (as->ratio_index >= 0 && as->n_target && as->n_fc && as->sum_fc > 0) {
		as->ratios[as->nratios % LLMO_AS_RATIO_BUCKETS] =
			(as->sum_target / (double)as->n_target) / (as->sum_fc / (double)as->n_fc);
		as->nratios++;
	}
	as->ratio_index = idx;
	as->sum_target = as->sum_fc = 0;
	as->n_target = as->n_fc = 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Median ratio of the first target's metric to the forecast metric; -1 before any. */
static double ratio_median(const struct llmo_autoscaler *as)
{
	double v[LLMO_AS_RATIO_BUCKETS];
	size_t n = LLMO_MIN(as->nratios, (size_t)LLMO_AS_RATIO_BUCKETS);

	if (!n)
		return -1;
	memcpy(v, as->ratios, n * sizeof(v[0]));
	qsort(v, n, sizeof(v[0]), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void ring_push(struct sample_ring *r, int64_t now, double value)
{
	if (r->len == LLMO_AS_SAMPLES_MAX) {
		r->head = (r->head + 1) % LLMO_AS_SAMPLES_MAX;
		r->len--;
	}
	r->s[(r->head + r->len++) % LLMO_AS_SAMPLES_MAX] = (struct sample){now, value};
}

void llmo_as_observe(struct llmo_autoscaler *as, int64_t now, int metric, double value)
{
	if (!isfinite(value) || value < 0)
		return;
	if (as->cfg.policy == LLMO_AS_PREDICTIVE && as->fc) {
		bool is_fc = metric == forecast_metric(&as->cfg);

		if (is_fc) {
			llmo_forecast_observe(as->fc, now, value);
			ring_push(&as->fc_obs, now, value);
		}
		if (forecast_metric(&as->cfg) != as->cfg.targets[0].metric) {
			ratio_advance(as, now);
			if (is_fc) {
				as->sum_fc += value;
				as->n_fc++;
			} else if (metric == as->cfg.targets[0].metric) {
				as->sum_target += value;
				as->n_target++;
			}
		}
	}
	for (size_t i = 0; i < as->cfg.ntargets; i++) {
		if (as->cfg.targets[i].metric == metric)
			ring_push(&as->obs[i], now, value);
	}
}

/* Mean of the samples in (now - window, now]; the newest sample if none; false without samples. */
static bool window_mean(const struct sample_ring *r, int64_t now, int64_t window, double *out)
{
	double sum = 0;
	size_t n = 0;

	if (!r->len)
		return false;
	for (size_t k = r->len; k-- > 0;) {
		const struct sample *s = &r->s[(r->head + k) % LLMO_AS_SAMPLES_MAX];

		if (s->t <= now - window)
			break;
		if (s->t > now)
			continue;
		sum += s->v;
		n++;
	}
	*out = n ? sum / (double)n : r->s[(r->head + r->len - 1) % LLMO_AS_SAMPLES_MAX].v;
	return true;
}

/* ceil(x), forgiving the rounding error of x computed as a ratio. */
static int32_t ceil_replicas(double x)
{
	double c = ceil(x - 1e-9);

	if (!(c > 0))
		return 0;
	return c > LLMO_AS_REPLICAS_MAX ? LLMO_AS_REPLICAS_MAX : (int32_t)c;
}

/* Replicas that carry `value` of target t at its target: totals divide, means scale `ready`. */
static int32_t replicas_for(const struct llmo_as_target *t, double value, int32_t ready)
{
	if (llmo_as_metric_is_total(t->metric))
		return ceil_replicas(value / t->target);
	return ceil_replicas((double)ready * value / t->target);
}

/* The HPA recommendation of one target, or -1 without data. Writes its reason. */
static int32_t hpa_target(const struct llmo_autoscaler *as, size_t i, int64_t now,
			  int32_t current, int32_t ready, char *why, size_t whylen)
{
	const struct llmo_as_config *c = &as->cfg;
	const struct llmo_as_target *t = &c->targets[i];
	double v, per, ratio;
	int32_t want;

	if (!window_mean(&as->obs[i], now, c->metric_window, &v))
		return -1;
	if (llmo_as_metric_is_total(t->metric)) {
		if (ready == 0) {
			/* Nothing Ready: the total alone says how many are needed. */
			want = v > 0 ? LLMO_MAX(1, ceil_replicas(v / t->target)) : current;
			snprintf(why, whylen, "%s %.1f with no ready replica -> %" PRId32,
				 llmo_as_metric_name(t->metric), v, want);
			return want;
		}
		per = v / ready;
	} else {
		if (ready == 0)
			return -1;
		per = v;
	}
	ratio = per / t->target;
	want = current;
	if (fabs(ratio - 1) > c->tolerance) {
		want = replicas_for(t, v, ready);
		/* The thresholds' band: no scale-down until well below the target. */
		if (want < current && c->scale_up_threshold > 0 &&
		    ratio >= c->scale_down_threshold / c->scale_up_threshold)
			want = current;
	}
	snprintf(why, whylen, "%s %.1f/%.1f per replica -> %" PRId32,
		 llmo_as_metric_name(t->metric), per, t->target, want);
	return want;
}

static int32_t hpa_recommend(const struct llmo_autoscaler *as, int64_t now, int32_t current,
			     int32_t ready, char *reason, size_t len)
{
	int32_t best = -1;

	snprintf(reason, len, "no metrics yet, keeping %" PRId32, current);
	for (size_t i = 0; i < as->cfg.ntargets; i++) {
		char why[160];
		int32_t n = hpa_target(as, i, now, current, ready, why, sizeof(why));

		if (n > best) {
			best = n;
			snprintf(reason, len, "%s", why);
		}
	}
	return best < 0 ? current : best;
}

static void recs_push(struct llmo_autoscaler *as, int64_t now, int32_t n)
{
	if (as->rec_len == LLMO_AS_RECS_MAX) {
		as->rec_head = (as->rec_head + 1) % LLMO_AS_RECS_MAX;
		as->rec_len--;
	}
	as->recs[(as->rec_head + as->rec_len++) % LLMO_AS_RECS_MAX] = (struct rec){now, n};
}

/*
 * HPA stabilization: a scale-up goes to the lowest recommendation of the up
 * window, a scale-down to the highest of the down window (the current one
 * included). Records rec.
 */
static int32_t stabilize(struct llmo_autoscaler *as, int64_t now, int32_t current, int32_t rec,
			 int64_t up_window, int64_t down_window)
{
	int32_t up = rec, down = rec, out = current;

	for (size_t k = 0; k < as->rec_len; k++) {
		const struct rec *r = &as->recs[(as->rec_head + k) % LLMO_AS_RECS_MAX];

		if (r->t > now - up_window)
			up = LLMO_MIN(up, r->n);
		if (r->t > now - down_window)
			down = LLMO_MAX(down, r->n);
	}
	recs_push(as, now, rec);
	if (out < up)
		out = up;
	if (out > down)
		out = down;
	return out;
}

/* Replicas added (dir > 0) or removed (dir < 0) in (now - period, now]. */
static int32_t changed_in(const struct llmo_autoscaler *as, int64_t now, int64_t period, int dir)
{
	int32_t sum = 0;

	for (size_t k = 0; k < as->ev_len; k++) {
		const struct event *e = &as->events[(as->ev_head + k) % LLMO_AS_EVENTS_MAX];

		if (e->t > now - period && (dir > 0 ? e->delta > 0 : e->delta < 0))
			sum += dir > 0 ? e->delta : -e->delta;
	}
	return sum;
}

/*
 * The behavior rate limits, as HPA's with selectPolicy Max: per period, a
 * scale-up may reach the larger of start + maxChangePods and
 * ceil(start * (1 + maxChangePercent/100)), a scale-down the smaller of
 * start - maxChangePods and ceil(start * (1 - maxChangePercent/100)), where
 * start is the replica count at the beginning of the period. From zero, one
 * replica is always allowed.
 */
static int32_t rate_limit(const struct llmo_autoscaler *as, int64_t now, int32_t current,
			  int32_t want)
{
	const struct llmo_scaling_policy *p;
	int32_t start, lim = -1;

	if (want > current) {
		p = &as->cfg.behavior.scale_up;
		if (!p->max_change_pods && !p->max_change_percent)
			return want;
		start = current - changed_in(as, now, p->period_seconds * SEC, 1);
		if (start < 0)
			start = 0;
		if (p->max_change_pods)
			lim = start + p->max_change_pods;
		if (p->max_change_percent)
			lim = LLMO_MAX(lim, ceil_replicas(start * (1 + p->max_change_percent / 100.0)));
		lim = LLMO_MAX(lim, 1);
		return LLMO_MIN(want, LLMO_MAX(lim, current));
	}
	if (want < current) {
		p = &as->cfg.behavior.scale_down;
		if (!p->max_change_pods && !p->max_change_percent)
			return want;
		start = current + changed_in(as, now, p->period_seconds * SEC, -1);
		lim = INT32_MAX;
		if (p->max_change_pods)
			lim = start - p->max_change_pods;
		if (p->max_change_percent)
			lim = LLMO_MIN(lim, ceil_replicas(start * (1 - p->max_change_percent / 100.0)));
		return LLMO_MAX(want, LLMO_MIN(lim, current));
	}
	return want;
}

static void record_event(struct llmo_autoscaler *as, int64_t now, int32_t delta)
{
	if (as->ev_len == LLMO_AS_EVENTS_MAX) {
		as->ev_head = (as->ev_head + 1) % LLMO_AS_EVENTS_MAX;
		as->ev_len--;
	}
	as->events[(as->ev_head + as->ev_len++) % LLMO_AS_EVENTS_MAX] = (struct event){now, delta};
	if (delta > 0)
		as->last_up = now;
	else
		as->last_down = now;
}

/* Knative's KPA decision (see the header). */
static int32_t kpa_decide(struct llmo_autoscaler *as, int64_t now, int32_t current, int32_t ready,
			  struct llmo_as_decision *out)
{
	const struct llmo_as_config *c = &as->cfg;
	const struct llmo_as_target *t = &c->targets[0];
	double stable, panic, pods = LLMO_MAX(1, ready);
	int32_t dspc, dppc, up_cap, down_cap, want;
	bool over;

	if (!window_mean(&as->obs[0], now, c->stable_window, &stable) ||
	    !window_mean(&as->obs[0], now, c->panic_window, &panic)) {
		snprintf(out->reason, sizeof(out->reason), "no metrics yet, keeping %" PRId32,
			 current);
		return current;
	}
	dspc = replicas_for(t, stable, ready);
	dppc = replicas_for(t, panic, ready);
	up_cap = ceil_replicas(KPA_MAX_SCALE_UP_RATE * pods);
	down_cap = (int32_t)floor(ready / KPA_MAX_SCALE_DOWN_RATE);
	over = dppc / pods >= c->panic_threshold;
	dspc = LLMO_MIN(LLMO_MAX(dspc, down_cap), up_cap);
	dppc = LLMO_MIN(LLMO_MAX(dppc, down_cap), up_cap);
	if (over)
		as->panic_since = now;
	else if (as->panic_since != INT64_MIN && as->panic_since + c->stable_window < now) {
		as->panic_since = INT64_MIN;
		as->max_panic = 0;
	}
	want = dspc;
	out->recommended = dspc;
	if (as->panic_since != INT64_MIN) {
		out->panic = true;
		want = LLMO_MAX(want, dppc);
		if (want > as->max_panic)
			as->max_panic = want;
		else
			want = as->max_panic;
		out->recommended = LLMO_MAX(dspc, dppc);
		snprintf(out->reason, sizeof(out->reason),
			 "panic: %s %.1f over %.0fs is %" PRId32 " replicas' worth, >= %.0f%% of %.0f ready -> %" PRId32,
			 llmo_as_metric_name(t->metric), panic, c->panic_window / 1e9, dppc,
			 c->panic_threshold * 100, pods, want);
	} else {
		snprintf(out->reason, sizeof(out->reason),
			 "%s %.1f over %.0fs at %.1f per replica -> %" PRId32,
			 llmo_as_metric_name(t->metric), stable, c->stable_window / 1e9, t->target,
			 want);
	}
	return want;
}

/*
 * The replicas that keep P(wait > slo_wait) <= slo_miss for Poisson
 * arrivals at rate lambda whose requests hold a slot for `hold` seconds
 * on average: M/M/c with c = replicas x replica_slots, where
 * P(wait > b) = C(c, A) exp(-(c - A) b / hold), A = lambda x hold and
 * C is Erlang's C formula (from Erlang B by its recursion, one step a
 * slot). Capped at max_replicas. Beyond ERLANG_SLOTS_MAX offered slots the
 * recursion would cost too much a decision; there, slots for A + 3 sqrt(A)
 * (the requests in flight, Poisson with mean A, exceed that 0.13% of the
 * time).
 */
static int32_t queue_replicas(const struct llmo_as_config *c, double lambda, double hold)
{
	double a = lambda * hold, b = 1, wait = (double)c->slo_wait / SEC;
	int64_t slots = c->replica_slots, k = 0;

	if (!(a > 0) || !(hold > 0))
		return 0;
	if (a > ERLANG_SLOTS_MAX) {
		double n = ceil((a + 3 * sqrt(a)) / (double)slots);

		return n < c->max_replicas ? (int32_t)n : c->max_replicas;
	}
	for (int32_t n = 1; n <= c->max_replicas; n++) {
		while (k < n * slots) {
			k++;
			b = a * b / ((double)k + a * b);
		}
		if ((double)k > a) {
			double erlang_c = (double)k * b / ((double)k - a * (1 - b));

			if (erlang_c * exp(-((double)k - a) * wait / hold) <= c->slo_miss)
				return n;
		}
	}
	return c->max_replicas;
}

/* Poisson log-likelihood ratio of n events where m were expected, rate n/T against m/T. */
static double poisson_llr(double n, double m)
{
	if (!(m > 0))
		return n > 0 ? INFINITY : 0;
	return (n > 0 ? n * log(n / m) : 0) - (n - m);
}

/*
 * Level-shift test on the arrivals (requests_per_second samples: each
 * sample times the time since the one before is a count). For every window
 * ending now, from the panic window (the shortest the autoscaler acts on:
 * shorter ones make a cluster of a few requests read as a level) up to one
 * forecaster bucket (a slower change is the smoothing's to follow), and not
 * reaching before the start of the level found by the last shift, the
 * arrivals n in the window are compared with those the forecast of the
 * bucket being filled expects, m: the generalized likelihood ratio of
 * Poisson arrivals at rate n / T against m / T. When the largest one, with
 * n above m, passes SHIFT_LLR, the demand has moved up to another level:
 * the forecaster is re-levelled at once to the rate of that window
 * (llmo_forecast_relevel) instead of catching up one smoothing step a
 * bucket, and later tests start at that window. Only upward: a shift down
 * costs replicas kept a little longer while the smoothing follows, a shift
 * up missed requests a cold start long (and bursts that end read as shifts
 * down: dropping replicas at once left too few for the next one).
 */
static void shift_test(struct llmo_autoscaler *as, int64_t now)
{
	const struct sample_ring *r = &as->fc_obs;
	double lambda0 = llmo_forecast_at(as->fc, 1), n = 0, secs = 0, best = 0, rate = 0;
	int64_t from = now - LLMO_MAX(as->fc->bucket_ns, as->cfg.panic_window), start = INT64_MIN;

	if (as->shift_since != INT64_MIN && as->shift_since > from)
		from = as->shift_since;
	for (size_t k = r->len; k-- > 1;) {
		const struct sample *cur = &r->s[(r->head + k) % LLMO_AS_SAMPLES_MAX];
		const struct sample *prev = &r->s[(r->head + k - 1) % LLMO_AS_SAMPLES_MAX];
		double llr;

		if (cur->t > now)
			continue;
		if (prev->t < from)
			break;
		n += cur->v * (double)(cur->t - prev->t) / SEC;
		secs += (double)(cur->t - prev->t) / SEC;
		llr = poisson_llr(n, lambda0 * secs);
		if (n > lambda0 * secs && secs * SEC >= as->cfg.panic_window && llr > best) {
			best = llr;
			rate = n / secs;
			start = prev->t;
		}
	}
	if (!(best > SHIFT_LLR))
		return;
	llmo_forecast_relevel(as->fc, rate);
	as->shift_since = start;
}

/*
 * The fluid model of the requests in the system: s in service (one slot
 * each), q waiting (FIFO). Arrivals come at lambda, each holds its slot
 * `hold` seconds, and a free slot takes the head of the queue at once.
 */
struct fluid {
	double s, q;
};

/* Runs f for d seconds on `cap` slots. */
static void fluid_run(struct fluid *f, double cap, double lambda, double hold, double d)
{
	double a = lambda * hold; /* busy slots it tends to without a queue */

	while (d > 0) {
		if (f->q > 0) {
			/* All slots busy: the queue grows or drains at lambda - cap / hold. */
			double net = lambda - cap / hold, empty;

			if (net >= 0 || (empty = f->q / -net) >= d) {
				f->q = LLMO_MAX(0, f->q + net * d);
				return;
			}
			f->q = 0;
			d -= empty;
		} else if (a <= cap || f->s >= cap) {
			/* No queue: s relaxes toward a (a queue only if s is at cap and a above it). */
			if (f->s >= cap && a > cap) {
				f->q = (lambda - cap / hold) * d;
				return;
			}
			f->s = a + (f->s - a) * exp(-d / hold);
			return;
		} else {
			/* s rises toward a > cap: it reaches cap after `full`, then a queue grows. */
			double full = hold * log((a - f->s) / (a - cap));

			if (full >= d) {
				f->s = a + (f->s - a) * exp(-d / hold);
				return;
			}
			f->s = cap;
			d -= full;
			f->q = (lambda - cap / hold) * d;
			return;
		}
	}
}

/*
 * The replicas whose slots take `in_system` requests within the wait
 * budget w: with C slots, in_system - C wait and C / hold are served a
 * second, so the newest waits (in_system - C) hold / C <= w when
 * C >= in_system / (1 + w / hold).
 */
static int32_t drain_replicas(const struct llmo_as_config *c, double in_system, double hold)
{
	double w = (double)c->slo_wait / SEC;

	return LLMO_MIN(ceil_replicas(in_system / ((double)c->replica_slots * (1 + w / hold))),
			c->max_replicas);
}

/*
 * The replicas still starting at now by the autoscaler's own scale events,
 * as groups {time ordered, count}, oldest first; returns how many groups.
 * The events are replayed in order: a scale-up adds a group, a scale-down
 * removes the newest replicas not yet Ready at its time (as the simulator
 * and the controller remove them: not Ready first, newest first) and only
 * then Ready ones, which are not in the groups. A scale-up cancelled so
 * does not count as a replica coming (counted, two 4 -> 5 -> 4 flaps before
 * a step made the backlog look drained a minute early and the order for it
 * was cut by half). Groups ordered a cold start ago or more are Ready.
 */
static size_t starting_replicas(const struct llmo_autoscaler *as, int64_t now,
				struct event out[LLMO_AS_EVENTS_MAX])
{
	int64_t cs = as->cfg.cold_start;
	size_t n = 0, first = 0;

	for (size_t k = 0; k < as->ev_len; k++) {
		const struct event *e = &as->events[(as->ev_head + k) % LLMO_AS_EVENTS_MAX];
		int32_t cut = -e->delta;

		if (e->delta > 0) {
			out[n++] = *e;
			continue;
		}
		while (cut > 0 && n > 0 && out[n - 1].t > e->t - cs) {
			int32_t m = LLMO_MIN(cut, out[n - 1].delta);

			out[n - 1].delta -= m;
			cut -= m;
			n -= out[n - 1].delta == 0;
		}
	}
	while (first < n && out[first].t <= now - cs)
		first++;
	memmove(out, out + first, (n - first) * sizeof(*out));
	return n - first;
}

/*
 * The requests in the system (in service plus waiting) at now + cold_start,
 * when the replicas ordered now come Ready, by the fluid model: `in_system`
 * requests now, of which up to ready x replica_slots in service, arrivals at
 * lambda, and the replicas still starting (current - ready) Ready on the
 * autoscaler's own schedule (starting_replicas), oldest first, each a cold
 * start after it was ordered; any more than those, only at the end.
 *
 * Writes in *keep how many of the current replicas the backlog needs until
 * then: at now and at each time starting replicas come Ready, the replicas
 * Ready by then, up to drain_replicas of the requests in the system then.
 * A replica removed now is not back before now + cold_start.
 */
static double fluid_project(const struct llmo_autoscaler *as, int64_t now, int32_t current,
			    int32_t ready, double in_system, double lambda, double hold,
			    int32_t *keep)
{
	const struct llmo_as_config *c = &as->cfg;
	double slots = c->replica_slots, cap = (double)ready * slots;
	struct fluid f = {LLMO_MIN(in_system, cap), LLMO_MAX(0, in_system - cap)};
	int32_t left = current - ready, fleet = ready;
	int64_t t = now, end = now + c->cold_start;
	struct event start[LLMO_AS_EVENTS_MAX];
	size_t nstart = starting_replicas(as, now, start);

	*keep = LLMO_MIN(drain_replicas(c, in_system, hold), fleet);
	for (size_t k = 0; k < nstart && left > 0; k++) {
		const struct event *e = &start[k];
		int32_t n;
		double admit;

		n = LLMO_MIN(e->delta, left);
		left -= n;
		fluid_run(&f, cap, lambda, hold, (double)(e->t + c->cold_start - t) / SEC);
		t = e->t + c->cold_start;
		fleet += n;
		*keep = LLMO_MAX(*keep, LLMO_MIN(drain_replicas(c, f.s + f.q, hold), fleet));
		cap += n * slots;
		admit = LLMO_MIN(f.q, cap - f.s);
		f.s += admit;
		f.q -= admit;
	}
	fluid_run(&f, cap, lambda, hold, (double)(end - t) / SEC);
	return f.s + f.q;
}

/*
 * The oracle's rates (llmo_as_config.oracle) in the forecaster's terms: the
 * mean of the bucket holding now + cold_start, and the largest bucket mean
 * from the bucket being filled up to that one.
 */
static void oracle_rates(const struct llmo_as_config *c, int64_t bucket, int64_t now,
			 double *at, double *max)
{
	int64_t first = now / bucket, last = (now + c->cold_start) / bucket;

	*at = *max = 0;
	for (int64_t b = first; b <= last; b++) {
		*at = c->oracle(c->oracle_arg, b * bucket, (b + 1) * bucket);
		*max = LLMO_MAX(*max, *at);
	}
}

/*
 * The predictive recommendation by queueing (see the header), h buckets
 * ahead; -1 before the first hold time is known (the caller falls back to
 * the target). Replicas ordered now are Ready at now + cold_start, replicas
 * removed now are gone at once, hence:
 *   up   = replicas for the arrivals forecast at now + cold_start, plus
 *          headroom; and at least the replicas whose slots take the
 *          backlog they will find when Ready, L requests in the system
 *          (fluid_project), at once and within the wait budget w: with
 *          N x slots = C slots, L - C wait and C / hold are served a
 *          second, so the newest waits (L - C) hold / C <= w when
 *          C >= L / (1 + w / hold);
 *   keep = replicas for the largest arrivals forecast up to then, plus
 *          headroom, and for the arrivals just measured; and the replicas
 *          starting that will come Ready to a queue;
 *   want = max(up, min(current, keep)).
 * Headroom is the Phi(forecast_z) quantile of the forecast's own recent
 * errors at the horizon (0.84 for z = 1; the z-sigma point of normal
 * errors, without assuming they are normal), less the Poisson noise of a
 * bucket's mean that M/M/c already counts (as variances: head =
 * z sqrt((q / z)^2 - rate / bucket)). The measured rate bounds both from
 * below: a forecast that lags a step does not hold replicas back.
 */
static int32_t queue_recommend(struct llmo_autoscaler *as, int64_t now, int32_t current,
			       int32_t ready, int32_t h, struct llmo_as_decision *out)
{
	const struct llmo_as_config *c = &as->cfg;
	const struct llmo_forecast *fc = as->fc;
	double hold, head = 0, last = 0, q = 0, at, peak, in_sys, f_at, f_max;
	int32_t up, keep, want, drain, held;

	ratio_advance(as, now);
	hold = ratio_median(as);
	if (!(hold > 0))
		return -1;
	if (c->oracle) {
		oracle_rates(c, fc->bucket_ns, now, &f_at, &f_max);
		goto size;
	}
	f_at = llmo_forecast_at(fc, h);
	f_max = llmo_forecast_max(fc, h);
	head = LLMO_MAX(0, llmo_forecast_err_quantile(fc, 0.5 * erfc(-c->forecast_z / sqrt(2))));
	if (c->forecast_z > 0) {
		/*
		 * Less what the queueing model covers already: a bucket's mean
		 * of Poisson arrivals at rate r varies by r / bucket (variance)
		 * around r. What is left is the error of the rate itself.
		 */
		double noise = f_at / ((double)fc->bucket_ns / SEC);
		double rate_var = head * head / (c->forecast_z * c->forecast_z) - noise;

		head = rate_var > 0 ? c->forecast_z * sqrt(rate_var) : 0;
	}
	last = fc->nhist ? fc->hist[(fc->nhist - 1) % LLMO_FORECAST_BUCKETS_MAX] : 0;
size:
	/* The requests in the system now, over the panic window; until then at the expected peak. */
	window_mean(&as->obs[0], now, c->panic_window, &q);
	in_sys = fluid_project(as, now, current, ready, q, LLMO_MAX(f_max, last), hold, &held);
	drain = drain_replicas(c, in_sys, hold);
	at = LLMO_MAX(f_at + head, last);
	peak = LLMO_MAX(f_max + head, last);
	up = LLMO_MAX(queue_replicas(c, at, hold), drain);
	keep = LLMO_MAX(queue_replicas(c, peak, hold), held);
	want = LLMO_MAX(up, LLMO_MIN(current, keep));
	out->forecast = f_at * hold; /* in the first target's units */
	snprintf(out->reason, sizeof(out->reason),
		 "arrivals %s %.2f/s (+%.2f headroom, up to %.2f/s within %.0fs), %.2fs a request, %" PRId32
		 " slots a replica -> %" PRId32,
		 c->oracle ? "to come" : "forecast", f_at, head, peak, c->cold_start / 1e9, hold,
		 c->replica_slots, want);
	return want;
}

/* The predictive recommendation (see the header). */
static int32_t predictive_recommend(struct llmo_autoscaler *as, int64_t now, int32_t current,
				    int32_t ready, struct llmo_as_decision *out)
{
	const struct llmo_as_config *c = &as->cfg;
	const struct llmo_as_target *t = &c->targets[0];
	struct llmo_forecast *fc = as->fc;
	double stable, f;
	int32_t h, by_load, by_forecast, want;

	if (!window_mean(&as->obs[0], now, c->stable_window, &stable)) {
		snprintf(out->reason, sizeof(out->reason), "no metrics yet, keeping %" PRId32,
			 current);
		return current;
	}
	by_load = replicas_for(t, stable, ready);
	/* The other targets count with their stable-window means (feedback: queues, latency). */
	for (size_t i = 1; i < c->ntargets; i++) {
		double v;

		if (window_mean(&as->obs[i], now, c->stable_window, &v))
			by_load = LLMO_MAX(by_load, replicas_for(&c->targets[i], v, ready));
	}
	llmo_forecast_advance(fc, now);
	/* Counts of arrivals can be tested for a shift; other metrics are not Poisson. */
	if (forecast_metric(c) == LLMO_METRIC_REQUESTS_PER_SECOND)
		shift_test(as, now);
	/* Buckets from the newest closed one to the one holding now + cold_start. */
	h = (int32_t)LLMO_MIN((now + c->cold_start) / fc->bucket_ns - fc->cur_index + 1,
			      (int64_t)LLMO_FORECAST_BUCKETS_MAX);
	f = llmo_forecast_max(fc, h) + c->forecast_z * llmo_forecast_stddev(fc);
	out->forecast = llmo_forecast_at(fc, h);
	if (queue_sizing(c)) {
		int32_t n = queue_recommend(as, now, current, ready, h, out);

		if (n >= 0)
			return n;
	}
	if (forecast_metric(c) != t->metric) {
		/* Into the first target's units (see forecast_metric in the header). */
		double k;

		ratio_advance(as, now);
		k = ratio_median(as);
		f = k < 0 ? 0 : f * k;
		out->forecast = k < 0 ? 0 : out->forecast * k;
	}
	by_forecast = replicas_for(t, f, ready);
	/*
	 * While replicas are starting, the load's feedback adds none: those
	 * replicas will be Ready before any ordered now, and a queue that grows
	 * meanwhile is drained by them (piling on is how KPA overshoots). Only
	 * the forecast may add more then.
	 */
	if (ready < current && by_load > current)
		by_load = current;
	want = LLMO_MAX(by_load, by_forecast);
	if (by_forecast > by_load)
		snprintf(out->reason, sizeof(out->reason),
			 "forecast: %s up to %.1f within %.0fs at %.1f per replica -> %" PRId32,
			 llmo_as_metric_name(t->metric), f, c->cold_start / 1e9, t->target, want);
	else
		snprintf(out->reason, sizeof(out->reason),
			 "%s %.1f over %.0fs at %.1f per replica (forecast %.1f) -> %" PRId32,
			 llmo_as_metric_name(t->metric), stable, c->stable_window / 1e9, t->target,
			 f, want);
	return want;
}

static void limit_reason(struct llmo_as_decision *out, const char *fmt, ...) LLMO_PRINTF(2, 3);

/* Appends "; <what limited it>" to the reason. */
static void limit_reason(struct llmo_as_decision *out, const char *fmt, ...)
{
	size_t n = strlen(out->reason);
	va_list ap;

	out->limited = true;
	if (n + 3 >= sizeof(out->reason))
		return;
	memcpy(out->reason + n, "; ", 3);
	va_start(ap, fmt);
	vsnprintf(out->reason + n + 2, sizeof(out->reason) - n - 2, fmt, ap);
	va_end(ap);
}

void llmo_as_decide(struct llmo_autoscaler *as, int64_t now, int32_t current, int32_t ready,
		    struct llmo_as_decision *out)
{
	const struct llmo_as_config *c = &as->cfg;
	int32_t want, n;

	memset(out, 0, sizeof(*out));
	out->forecast = -1;
	if (current < 0)
		current = 0;
	ready = LLMO_MAX(0, LLMO_MIN(ready, current));
	if (c->policy == LLMO_AS_KPA) {
		want = kpa_decide(as, now, current, ready, out);
	} else {
		int64_t up_w = c->behavior.scale_up.stabilization_window_seconds * SEC;
		int64_t down_w = c->behavior.scale_down.stabilization_window_seconds * SEC;

		if (c->policy == LLMO_AS_PREDICTIVE)
			out->recommended = predictive_recommend(as, now, current, ready, out);
		else
			out->recommended = hpa_recommend(as, now, current, ready, out->reason,
							 sizeof(out->reason));
		want = stabilize(as, now, current, out->recommended, up_w, down_w);
		if (want != out->recommended)
			limit_reason(out, "stabilized at %" PRId32, want);
		n = rate_limit(as, now, current, want);
		if (n != want)
			limit_reason(out, "rate-limited to %" PRId32 " by behavior", n);
		want = n;
		if (want > current && as->last_up != INT64_MIN && now - as->last_up < c->up_cooldown) {
			limit_reason(out, "scale-up cooldown, %.0fs left",
				     (c->up_cooldown - (now - as->last_up)) / 1e9);
			want = current;
		}
		if (want < current && as->last_down != INT64_MIN &&
		    now - as->last_down < c->down_cooldown) {
			limit_reason(out, "scale-down cooldown, %.0fs left",
				     (c->down_cooldown - (now - as->last_down)) / 1e9);
			want = current;
		}
	}
	if (want > c->max_replicas) {
		want = c->max_replicas;
		limit_reason(out, "limited by maxReplicas %" PRId32, c->max_replicas);
	}
	if (want < c->min_replicas) {
		want = c->min_replicas;
		limit_reason(out, "limited by minReplicas %" PRId32, c->min_replicas);
	}
	if (c->policy == LLMO_AS_KPA)
		out->limited = out->limited || want != out->recommended;
	out->desired = want;
	if (want != current)
		record_event(as, now, want - current);
}
