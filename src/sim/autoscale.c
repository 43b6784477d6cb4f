#include "base/common.h"

#include <math.h>

#include "base/vec.h"
#include "sim/autoscale.h"
#include "sim/csv.h"

#define SEC INT64_C(1000000000)
#define MS INT64_C(1000000)
#define US INT64_C(1000)

/* A replay that has not finished this long after the last arrival is abandoned. */
#define DRAIN_LIMIT (30 * 86400 * SEC)

/* ---- replica schedules ------------------------------------------------------------ */

void llmo_sim_as_schedule_init(struct llmo_sim_as_schedule *s)
{
	memset(s, 0, sizeof(*s));
}

void llmo_sim_as_schedule_release(struct llmo_sim_as_schedule *s)
{
	llmo_vec_release(&s->steps);
}

static const char *const schedule_columns[] = {"t_s", "replicas"};

struct schedule_rows {
	struct llmo_sim_as_schedule *s;
	int64_t last;  /* t_s of the row before, -1 before the first */
	int rc;        /* LLMO_ENOMEM */
};

static void schedule_row(void *arg, char **f, size_t line, struct llmo_sim_problems *pb)
{
	struct schedule_rows *r = arg;
	struct llmo_sim_as_step *st;
	int64_t t, n, last = r->last;
	bool ok = llmo_sim_int_field(pb, line, "t_s", f[0], 0, LLMO_SIM_AS_SCHEDULE_T_MAX, &t);

	ok = llmo_sim_int_field(pb, line, "replicas", f[1], 0, LLMO_AS_REPLICAS_MAX, &n) && ok;
	r->last = INT64_MAX; /* a bad row: the next one's time is not compared */
	if (!ok)
		return;
	r->last = t;
	if (last < 0 && t != 0) {
		llmo_sim_problem(pb, line, "t_s: the first step is at %" PRId64 ", want 0", t);
		return;
	}
	if (last >= 0 && last != INT64_MAX && t <= last) {
		llmo_sim_problem(pb, line, "t_s: %" PRId64 " is not after the step before (%" PRId64 ")",
				 t, last);
		return;
	}
	if (pb->count) /* after a problem, rows are only checked */
		return;
	t *= SEC;
	if (!(st = llmo_vec_push(&r->s->steps))) {
		r->rc = LLMO_ENOMEM;
		return;
	}
	st->t = t;
	st->replicas = (int32_t)n;
}

int llmo_sim_as_schedule_parse(struct llmo_sim_as_schedule *s, const char *text, size_t len,
			       const char *file, struct llmo_strv *problems)
{
	struct llmo_sim_problems pb = {problems, file, 0, 0};
	struct schedule_rows r = {s, -1, 0};
	int rc = llmo_sim_csv_parse(text, len, schedule_columns, LLMO_ARRAY_LEN(schedule_columns),
				    LLMO_SIM_AS_STEPS_MAX, schedule_row, &r, &pb);

	rc = llmo_sim_problems_close(&pb, rc, r.rc);
	if (!rc && s->steps.len == 0) {
		llmo_sim_problem(&pb, 0, "no step rows");
		rc = pb.rc ? pb.rc : LLMO_EPARSE;
	}
	if (rc)
		llmo_sim_as_schedule_release(s);
	return rc;
}

int llmo_sim_as_schedule_load(struct llmo_sim_as_schedule *s, const char *path,
			      struct llmo_strv *problems)
{
	struct llmo_buf buf;
	int rc = llmo_sim_csv_read(path, LLMO_SIM_AS_SCHEDULE_FILE_MAX, &buf, problems);

	if (!rc)
		rc = llmo_sim_as_schedule_parse(s, buf.data, buf.len, path, problems);
	llmo_buf_release(&buf);
	return rc;
}

/*
 * The replicas a schedule wants created at a decision at t: the most any step
 * wants in [t, t + ahead). *cursor is the step in force at the previous
 * decision (decisions come in time order).
 */
static int32_t schedule_want(const struct llmo_sim_as_schedule *s, int64_t t, int64_t ahead,
			     size_t *cursor)
{
	size_t i = *cursor;
	int32_t want;

	while (i + 1 < s->steps.len && s->steps.items[i + 1].t <= t)
		i++;
	*cursor = i;
	want = s->steps.items[i].replicas;
	for (i++; i < s->steps.len && s->steps.items[i].t < t + ahead; i++)
		want = LLMO_MAX(want, s->steps.items[i].replicas);
	return want;
}

void llmo_sim_as_opts_init(struct llmo_sim_as_opts *o, int policy)
{
	memset(o, 0, sizeof(*o));
	llmo_as_config_init(&o->as, policy);
	o->slots = 8;
	o->ttft_base = 20 * MS;
	o->prefill_per_token = 100 * US;
	o->itl = 20 * MS;
	o->slo_ttft = 1 * SEC;
	o->interval = policy == LLMO_AS_REACTIVE ? 15 * SEC : 2 * SEC;
	o->sample = 1 * SEC;
	o->initial_replicas = 1;
	o->as.ntargets = 1;
	o->as.targets[0].metric = LLMO_METRIC_QUEUE_LENGTH;
	o->as.targets[0].target = 0.7 * o->slots;
}

struct replica {
	int64_t created, ready_at, gone_at; /* gone_at: INT64_MAX while alive */
	int32_t running;
	bool ready, draining;
};

struct completion {
	int64_t t;
	uint32_t replica;
};

struct state {
	const struct llmo_sim_as_opts *o;
	const struct llmo_sim_azure *trace;
	LLMO_VEC(struct replica) reps;
	LLMO_VEC(uint32_t) active; /* replicas not gone */
	struct completion *heap;
	size_t nheap;
	int64_t *ttft; /* per request, by dispatch order (= arrival order) */
	size_t arrived, qhead, done;
	int32_t arrivals_in_sample;
	int64_t now;
};

/* ---- completion heap (min by time, then replica) ---------------------------------- */

static bool before(const struct completion *a, const struct completion *b)
{
	return a->t < b->t || (a->t == b->t && a->replica < b->replica);
}

static void heap_push(struct state *s, struct completion c)
{
	size_t i = s->nheap++;

	while (i > 0 && before(&c, &s->heap[(i - 1) / 2])) {
		s->heap[i] = s->heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	s->heap[i] = c;
}

static struct completion heap_pop(struct state *s)
{
	struct completion top = s->heap[0], last = s->heap[--s->nheap];
	size_t i = 0;

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= s->nheap)
			break;
		if (c + 1 < s->nheap && before(&s->heap[c + 1], &s->heap[c]))
			c++;
		if (!before(&s->heap[c], &last))
			break;
		s->heap[i] = s->heap[c];
		i = c;
	}
	if (s->nheap)
		s->heap[i] = last;
	return top;
}

/* ---- replicas ---------------------------------------------------------------------- */

static void counts(const struct state *s, int32_t *current, int32_t *ready, int32_t *busy)
{
	*current = *ready = *busy = 0;
	for (size_t k = 0; k < s->active.len; k++) {
		const struct replica *r = &s->reps.items[s->active.items[k]];

		*busy += r->running;
		if (r->draining)
			continue;
		(*current)++;
		*ready += r->ready;
	}
}

static void retire(struct state *s, size_t k, int64_t t)
{
	s->reps.items[s->active.items[k]].gone_at = t;
	s->active.items[k] = s->active.items[--s->active.len];
}

static int add_replicas(struct state *s, int32_t n)
{
	for (int32_t i = 0; i < n; i++) {
		struct replica *r = llmo_vec_push(&s->reps);
		uint32_t *a;

		if (!r)
			return LLMO_ENOMEM;
		r->created = s->now;
		r->ready_at = s->now + s->o->as.cold_start;
		r->gone_at = INT64_MAX;
		r->ready = s->o->as.cold_start == 0;
		a = llmo_vec_push(&s->active);
		if (!a)
			return LLMO_ENOMEM;
		*a = (uint32_t)(s->reps.len - 1);
	}
	return 0;
}

/* Removes n replicas: not-Ready ones newest first, then the least busy Ready ones drain. */
static void remove_replicas(struct state *s, int32_t n)
{
	while (n > 0) {
		size_t pick = SIZE_MAX;

		for (size_t k = 0; k < s->active.len; k++) {
			const struct replica *r = &s->reps.items[s->active.items[k]];

			if (r->draining || r->ready)
				continue;
			if (pick == SIZE_MAX || s->active.items[k] > s->active.items[pick])
				pick = k;
		}
		if (pick != SIZE_MAX) {
			retire(s, pick, s->now);
			n--;
			continue;
		}
		for (size_t k = 0; k < s->active.len; k++) {
			const struct replica *r = &s->reps.items[s->active.items[k]], *p;

			if (r->draining)
				continue;
			p = pick == SIZE_MAX ? NULL : &s->reps.items[s->active.items[pick]];
			if (!p || r->running < p->running ||
			    (r->running == p->running && s->active.items[k] > s->active.items[pick]))
				pick = k;
		}
		if (pick == SIZE_MAX)
			return;
		s->reps.items[s->active.items[pick]].draining = true;
		if (s->reps.items[s->active.items[pick]].running == 0)
			retire(s, pick, s->now);
		n--;
	}
}

/* Starts waiting requests while some Ready replica has a free slot. */
static void dispatch(struct state *s)
{
	const struct llmo_sim_as_opts *o = s->o;

	while (s->qhead < s->arrived) {
		const struct llmo_sim_request *q = &s->trace->requests.items[s->qhead];
		uint32_t best = UINT32_MAX;
		int32_t best_free = 0;
		int64_t first;

		for (size_t k = 0; k < s->active.len; k++) {
			uint32_t id = s->active.items[k];
			const struct replica *r = &s->reps.items[id];
			int32_t free_slots = o->slots - r->running;

			if (!r->ready || r->draining || free_slots <= 0)
				continue;
			if (free_slots > best_free || (free_slots == best_free && id < best)) {
				best = id;
				best_free = free_slots;
			}
		}
		if (best == UINT32_MAX)
			return;
		first = s->now + o->ttft_base + o->prefill_per_token * q->context_tokens;
		s->ttft[s->qhead++] = first - q->arrival;
		s->reps.items[best].running++;
		heap_push(s, (struct completion){first + o->itl * q->generated_tokens, best});
	}
}

/* The value of a target metric now (see the header for which are totals). */
static double metric_value(const struct state *s, int metric)
{
	int32_t current, ready, busy;
	double waiting = (double)(s->arrived - s->qhead);

	counts(s, &current, &ready, &busy);
	switch (metric) {
	case LLMO_METRIC_QUEUE_LENGTH:
		return busy + waiting;
	case LLMO_METRIC_REQUESTS_PER_SECOND:
		return s->arrivals_in_sample / ((double)s->o->sample / SEC);
	case LLMO_METRIC_TOKENS_PER_SECOND:
		return busy * ((double)SEC / (double)s->o->itl);
	default: /* gpu_utilization, kv_cache_usage: busy share of the Ready replicas' slots */
		return ready ? (double)busy / ((double)ready * s->o->slots) : 0;
	}
}

int llmo_sim_as_opts_check(const struct llmo_sim_as_opts *o, struct llmo_error *err)
{
	int rc = llmo_as_config_check(&o->as, err);

	if (rc)
		return rc;
	for (size_t i = 0; i < o->as.ntargets; i++) {
		int m = o->as.targets[i].metric;

		if (m == LLMO_METRIC_CPU || m == LLMO_METRIC_MEMORY || m == LLMO_METRIC_LATENCY)
			return llmo_error_set(err, LLMO_EINVAL,
					      "target %s: not modelled by the simulator (want queue_length, requests_per_second, tokens_per_second, gpu_utilization or kv_cache_usage)",
					      llmo_as_metric_name(m));
	}
	if (o->slots < 1 || o->slots > LLMO_SIM_AS_SLOTS_MAX)
		return llmo_error_set(err, LLMO_EINVAL, "slots: want 1 to %d", LLMO_SIM_AS_SLOTS_MAX);
	if (o->ttft_base < 0 || o->prefill_per_token < 0 || o->itl <= 0 || o->slo_ttft <= 0 ||
	    o->ttft_base > 3600 * SEC || o->prefill_per_token > SEC || o->itl > SEC)
		return llmo_error_set(err, LLMO_EINVAL,
				      "latency model: want 0 <= ttft base <= 1h, 0 <= prefill per token <= 1s, 0 < itl <= 1s, slo > 0");
	if (o->sample < MS || o->interval < o->sample || o->interval > 3600 * SEC)
		return llmo_error_set(err, LLMO_EINVAL,
				      "timing: want 1ms <= sample <= interval <= 1h");
	if (o->warmup < 0 || o->warmup > 30 * 86400 * SEC)
		return llmo_error_set(err, LLMO_EINVAL, "warm-up: want 0 to 30 days");
	if (o->initial_replicas < 0 || o->initial_replicas > o->as.max_replicas)
		return llmo_error_set(err, LLMO_EINVAL,
				      "initial replicas: want 0 to maxReplicas (%" PRId32 ")",
				      o->as.max_replicas);
	if (o->schedule) {
		const struct llmo_sim_as_schedule *sc = o->schedule;

		if (!sc->steps.len || sc->steps.items[0].t != 0)
			return llmo_error_set(err, LLMO_EINVAL, "schedule: want a first step at 0");
		for (size_t i = 0; i < sc->steps.len; i++)
			if ((i && sc->steps.items[i].t <= sc->steps.items[i - 1].t) ||
			    sc->steps.items[i].replicas < 0 ||
			    sc->steps.items[i].replicas > LLMO_AS_REPLICAS_MAX)
				return llmo_error_set(err, LLMO_EINVAL,
						      "schedule: step %zu out of order or out of 0..%d replicas",
						      i + 1, LLMO_AS_REPLICAS_MAX);
		if (o->oracle)
			return llmo_error_set(err, LLMO_EINVAL, "schedule: no forecast is used, no oracle");
	}
	return 0;
}

static bool is_target(const struct llmo_as_config *c, int metric)
{
	for (size_t i = 0; i < c->ntargets; i++) {
		if (c->targets[i].metric == metric)
			return true;
	}
	return false;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Nearest-rank percentile of n sorted values, in ms. */
static double pct_ms(const int64_t *v, size_t n, double p)
{
	size_t rank = (size_t)ceil(p / 100.0 * (double)n);

	return (double)v[LLMO_MAX(rank, (size_t)1) - 1] / MS;
}

static void summarize(struct state *s, int64_t end, struct llmo_sim_as_result *res)
{
	size_t all = s->trace->requests.len, first = 0, n, ok = 0;
	int64_t w = s->o->warmup;
	double gpu_s = 0, sum = 0;
	int64_t *ttft;

	for (size_t i = 0; i < s->reps.len; i++) {
		const struct replica *r = &s->reps.items[i];
		int64_t from = LLMO_MAX(r->created, w), to = LLMO_MIN(r->gone_at, end);

		if (to > from)
			gpu_s += (double)(to - from) / SEC;
	}
	while (first < all && s->trace->requests.items[first].arrival < w)
		first++;
	n = all - first;
	ttft = s->ttft + first;
	for (size_t i = 0; i < n; i++) {
		ok += ttft[i] <= s->o->slo_ttft;
		sum += (double)ttft[i];
	}
	qsort(ttft, n, sizeof(ttft[0]), cmp_i64);
	res->requests = n;
	res->duration_s = (double)(end - w) / SEC;
	res->gpu_hours = gpu_s / 3600;
	res->slo_attainment_pct = 100.0 * (double)ok / (double)n;
	res->p50_ttft_ms = pct_ms(ttft, n, 50);
	res->p95_ttft_ms = pct_ms(ttft, n, 95);
	res->p99_ttft_ms = pct_ms(ttft, n, 99);
	res->mean_ttft_ms = sum / (double)n / MS;
	res->mean_replicas = end > w ? gpu_s / ((double)(end - w) / SEC) : 0;
	res->replicas_created = 0;
	for (size_t i = 0; i < s->reps.len; i++)
		res->replicas_created += s->reps.items[i].created >= w;
}

/* The first request arriving at t or later (the requests are sorted by arrival). */
static size_t first_at(const struct llmo_sim_azure *trace, int64_t t)
{
	size_t lo = 0, hi = trace->requests.len;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (trace->requests.items[mid].arrival < t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* llmo_as_config.oracle: the trace's mean arrival rate over [from, to). */
static double trace_rate(void *arg, int64_t from, int64_t to)
{
	const struct llmo_sim_azure *trace = arg;

	if (to <= from)
		return 0;
	return (double)(first_at(trace, to) - first_at(trace, from)) / ((double)(to - from) / SEC);
}

int llmo_sim_as_run(const struct llmo_sim_azure *trace, const struct llmo_sim_as_opts *o,
		    struct llmo_sim_as_result *res, struct llmo_error *err)
{
	struct llmo_as_config cfg = o->as;
	struct state s = {0};
	struct llmo_autoscaler *as = NULL;
	struct llmo_as_decision d = {0};
	size_t n = trace->requests.len;
	int64_t next_sample = 0, next_decide = 0, end = 0, last_arrival;
	int32_t initial;
	size_t cursor = 0; /* schedule_want's */
	double ready_sum = 0;
	int64_t samples = 0;
	int rc;

	memset(res, 0, sizeof(*res));
	res->forecast_mape_pct = -1;
	d.forecast = -1;
	rc = llmo_sim_as_opts_check(o, err);
	if (rc)
		return rc;
	initial = o->schedule ? o->schedule->steps.items[0].replicas : o->initial_replicas;
	if (n == 0)
		return llmo_error_set(err, LLMO_EINVAL, "the trace has no request");
	if (trace->requests.items[n - 1].arrival < o->warmup)
		return llmo_error_set(err, LLMO_EINVAL,
				      "no request arrives after the warm-up (%.0f s; the trace spans %.0f s)",
				      (double)o->warmup / SEC,
				      (double)trace->requests.items[n - 1].arrival / SEC);
	if (o->oracle) {
		cfg.oracle = trace_rate;
		cfg.oracle_arg = (void *)trace;
	}
	rc = llmo_as_new(&cfg, &as, err);
	if (rc)
		return rc;
	s.o = o;
	s.trace = trace;
	s.heap = malloc(n * sizeof(*s.heap));
	s.ttft = malloc(n * sizeof(*s.ttft));
	if (!s.heap || !s.ttft) {
		rc = llmo_error_set(err, LLMO_ENOMEM, "out of memory for %zu requests", n);
		goto out;
	}
	rc = add_replicas(&s, initial);
	for (size_t i = 0; !rc && i < s.reps.len; i++) {
		s.reps.items[i].ready = true;
		s.reps.items[i].ready_at = 0;
	}
	d.desired = initial;
	last_arrival = trace->requests.items[n - 1].arrival;
	while (!rc && s.done < n) {
		int64_t tn = next_sample;

		if (s.arrived < n)
			tn = LLMO_MIN(tn, trace->requests.items[s.arrived].arrival);
		if (s.nheap)
			tn = LLMO_MIN(tn, s.heap[0].t);
		for (size_t k = 0; k < s.active.len; k++) {
			const struct replica *r = &s.reps.items[s.active.items[k]];

			if (!r->ready)
				tn = LLMO_MIN(tn, r->ready_at);
		}
		if (tn > last_arrival + DRAIN_LIMIT) {
			rc = llmo_error_set(err, LLMO_EINVAL,
					    "requests still waiting 30 days after the last arrival");
			break;
		}
		s.now = tn;
		while (s.nheap && s.heap[0].t <= tn) {
			struct completion c = heap_pop(&s);
			struct replica *r = &s.reps.items[c.replica];

			r->running--;
			s.done++;
			end = c.t;
			if (r->draining && r->running == 0) {
				for (size_t k = 0; k < s.active.len; k++) {
					if (s.active.items[k] == c.replica) {
						retire(&s, k, c.t);
						break;
					}
				}
			}
		}
		for (size_t k = 0; k < s.active.len; k++) {
			struct replica *r = &s.reps.items[s.active.items[k]];

			if (!r->ready && r->ready_at <= tn)
				r->ready = true;
		}
		while (s.arrived < n && trace->requests.items[s.arrived].arrival <= tn) {
			s.arrived++;
			s.arrivals_in_sample++;
		}
		dispatch(&s);
		if (tn < next_sample || s.done == n)
			continue;
		/* A sample: observe, maybe decide. */
		for (size_t i = 0; i < o->as.ntargets; i++)
			llmo_as_observe(as, tn, o->as.targets[i].metric,
					metric_value(&s, o->as.targets[i].metric));
		if (o->as.forecast_metric && !is_target(&o->as, o->as.forecast_metric))
			llmo_as_observe(as, tn, o->as.forecast_metric,
					metric_value(&s, o->as.forecast_metric));
		if (tn >= next_decide) {
			int32_t current, ready, busy, want;

			counts(&s, &current, &ready, &busy);
			if (o->schedule)
				d.desired = schedule_want(o->schedule, tn,
							  o->as.cold_start + o->interval, &cursor);
			else
				llmo_as_decide(as, tn, current, ready, &d);
			want = d.desired;
			/* The activator: waiting requests always get one replica. */
			if (want == 0 && s.qhead < s.arrived)
				want = 1;
			bool counted = tn >= o->warmup;

			if (d.panic && counted)
				res->panic_s += (double)o->interval / SEC;
			if (want != current) {
				res->scale_events += counted;
				if (want > current) {
					res->scale_ups += counted;
					rc = add_replicas(&s, want - current);
				} else {
					res->scale_downs += counted;
					remove_replicas(&s, current - want);
				}
				dispatch(&s);
			}
			next_decide += o->interval;
		}
		{
			int32_t current, ready, busy;
			struct llmo_sim_as_point pt;

			counts(&s, &current, &ready, &busy);
			if (tn >= o->warmup) {
				ready_sum += ready;
				samples++;
				res->max_replicas = LLMO_MAX(res->max_replicas, current);
			}
			if (o->on_sample) {
				pt = (struct llmo_sim_as_point){
					.t = tn,
					.arrivals = s.arrivals_in_sample,
					.concurrency = busy + (int32_t)(s.arrived - s.qhead),
					.waiting = (int32_t)(s.arrived - s.qhead),
					.replicas = current,
					.ready = ready,
					.desired = d.desired,
					.forecast = d.forecast,
				};
				o->on_sample(o->arg, &pt);
			}
		}
		s.arrivals_in_sample = 0;
		next_sample += o->sample;
	}
	if (rc)
		goto out;
	summarize(&s, end, res);
	res->mean_ready = samples ? ready_sum / (double)samples : 0;
	if (llmo_as_forecaster(as)) {
		const struct llmo_forecast *fc = llmo_as_forecaster(as);

		/* The oracle's buckets are the forecaster's, whose forecasts it replaced. */
		res->bucket_s = (double)fc->bucket_ns / SEC;
		if (!o->oracle) {
			res->forecast_mape_pct = llmo_forecast_mape(fc);
			res->season_buckets = llmo_forecast_season(fc);
			res->relevels = fc->relevels;
		}
	}
out:
	llmo_as_free(as);
	llmo_vec_release(&s.reps);
	llmo_vec_release(&s.active);
	free(s.heap);
	free(s.ttft);
	return rc;
}
