/*
 * llmo sim schedule --nodes NODES.csv --pods PODS.csv [--policy NAME] [--seed N]
 *                   [--inflate X] [--series FILE] [--synthetic-nodes N]
 *
 * Replays an openb trace through one scheduling policy (src/sim/schedule.h)
 * and prints one JSON object of results. docs/sim.md describes it.
 */
#include "base/common.h"

#include <math.h>

#include "base/str.h"
#include "cmd/cmd.h"
#include "scheduler/policy.h"
#include "sim/autoscale.h"
#include "sim/azure.h"
#include "sim/schedule.h"
#include "sim/trace.h"

static const char sim_usage[] =
	"usage: llmo sim schedule ...   (GPU placement; llmo sim schedule --help)\n"
	"       llmo sim autoscale ...  (autoscaling; llmo sim autoscale --help)\n"
	"\n"
	"llmo sim schedule --nodes NODES.csv --pods PODS.csv [--policy NAME]\n"
	"                         [--seed N] [--inflate X] [--series FILE]\n"
	"                         [--synthetic-nodes N] [--parallelism N]\n"
	"\n"
	"Replays an Alibaba openb GPU trace (node list and pod list, CSV) through one\n"
	"placement policy, as \"Beware of Fragmentation\" (ATC'23) does: the pods are\n"
	"shuffled by the seed, random clones of them are appended until the GPU they\n"
	"request would exceed X times the cluster's GPUs, and each pod is tried once,\n"
	"in order. Prints one JSON object of results on standard output.\n"
	"\n"
	"  --nodes FILE          node list: sn,cpu_milli,memory_mib,gpu,model\n"
	"  --pods FILE           pod list: name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec\n"
	"  --policy NAME         random, bestfit, dotprod, gpupacking, gpuclustering,\n"
	"                        fgd or llmo (default llmo)\n"
	"  --seed N              seed of the shuffle, the clones and the policy's ties\n"
	"                        (default 42)\n"
	"  --inflate X           clones until X times the GPU capacity is requested\n"
	"                        (default 1.3)\n"
	"  --series FILE         write arrived_pct,allocated_pct,frag_pct after each pod\n"
	"  --synthetic-nodes N   replace the cluster by N nodes shaped like the node\n"
	"                        list's, in turn (throughput measurements)\n"
	"  --parallelism N       threads that score nodes on clusters of 2048 nodes or\n"
	"                        more: 1 serial, 0 (default) the online CPUs up to 16,\n"
	"                        at most 64; the results are the same for every N\n"
	"\n"
	"Exit status: 0 done, 1 invalid input (each problem on standard error as\n"
	"FILE:LINE: message), 2 usage error.\n";

/* --series output: one line per pod, flushed as the replay goes. */
struct series {
	FILE *f;
	bool failed;
};

/* Opens path for a --series and writes its header; false after saying why on stderr. */
static bool series_open(struct series *s, const char *sub, const char *path, const char *header)
{
	s->f = fopen(path, "w");
	if (!s->f) {
		fprintf(stderr, "llmo sim %s: %s: %s\n", sub, path, strerror(errno));
		return false;
	}
	fputs(header, s->f);
	return true;
}

/* Closes a --series (if open); false after saying on stderr that a write failed. */
static bool series_close(struct series *s, const char *sub, const char *path)
{
	int bad;

	if (!s->f)
		return true;
	bad = s->failed || fclose(s->f) != 0;
	s->f = NULL;
	if (bad)
		fprintf(stderr, "llmo sim %s: %s: write failed\n", sub, path);
	return !bad;
}

static void series_point(void *arg, const struct llmo_sim_point *pt)
{
	struct series *s = arg;

	if (!s->failed && fprintf(s->f, "%.4f,%.4f,%.4f\n", pt->arrived_pct, pt->allocated_pct,
				  pt->frag_pct) < 0)
		s->failed = true;
}

/* s as a JSON string (file names: escape what JSON requires). */
static void print_json_string(const char *s)
{
	putchar('"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p < 0x20)
			printf("\\u%04x", *p);
		else
			putchar(*p);
	}
	putchar('"');
}

static void print_checkpoint(const char *key, const struct llmo_sim_checkpoint *cp, bool frag)
{
	if (!cp->reached)
		printf(",\n  \"%s\": null", key);
	else
		printf(",\n  \"%s\": %.4f", key, frag ? cp->frag_pct : cp->unallocated_pct);
}

static void print_result(const struct llmo_sim_schedule_opts *o, const char *nodes,
			 const char *pods, const struct llmo_sim_schedule_result *r)
{
	const char *files[2] = {nodes, pods};
	const char *keys[2] = {"nodes_file", "pods_file"};

	printf("{\n  \"policy\": \"%s\",\n  \"seed\": %" PRIu64 ",\n  \"inflate\": %g",
	       llmo_sched_policy_name(o->policy), o->seed, o->inflate);
	for (int k = 0; k < 2; k++) {
		printf(",\n  \"%s\": ", keys[k]);
		print_json_string(files[k]);
	}
	printf(",\n  \"nodes\": %zu,\n  \"gpus\": %.3f", r->nodes,
	       (double)r->gpu_capacity_milli / 1000);
	printf(",\n  \"trace_pods\": %zu,\n  \"pods\": %zu,\n  \"scheduled\": %zu,\n  \"failed\": %zu",
	       r->trace_pods, r->pods, r->scheduled, r->failed);
	print_checkpoint("unallocated_gpu_pct_at_arrived_100", &r->at100, false);
	print_checkpoint("unallocated_gpu_pct_at_arrived_130", &r->at130, false);
	print_checkpoint("frag_gpu_pct_at_arrived_90", &r->at90, true);
	print_checkpoint("frag_gpu_pct_at_arrived_100", &r->at100, true);
	printf(",\n  \"arrived_gpu_pct_final\": %.4f,\n  \"allocated_gpu_pct_final\": %.4f",
	       r->arrived_pct, r->allocated_pct);
	printf(",\n  \"decision_seconds\": %.6f,\n  \"decisions_per_second\": %.1f",
	       r->decision_seconds, r->decisions_per_second);
	printf(",\n  \"node_evaluations\": %" PRIu64, r->evaluations);
	printf(",\n  \"parallelism\": %d\n}\n", r->parallelism);
}

static void print_problems(const struct llmo_strv *problems)
{
	for (size_t i = 0; i < problems->len; i++)
		fprintf(stderr, "%s\n", problems->items[i]);
}

static int sim_schedule(int argc, char **argv)
{
	const char *nodes = NULL, *pods = NULL, *series_path = NULL;
	struct llmo_strv problems = LLMO_STRV_INIT;
	struct llmo_sim_schedule_result res;
	struct llmo_sim_schedule_opts o;
	struct llmo_error err = {0};
	struct series series = {NULL, false};
	struct llmo_sim_trace trace;
	int status = 1, rc;

	llmo_sim_schedule_opts_init(&o);
	llmo_sim_trace_init(&trace);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		int64_t n;
		double x;

		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			fputs(sim_usage, stdout);
			status = 0;
			goto out;
		}
		if (!v) {
			status = cmd_usage_error("sim schedule", "unknown or incomplete option %s (see --help)", a);
			goto out;
		}
		i++;
		if (strcmp(a, "--nodes") == 0) {
			nodes = v;
		} else if (strcmp(a, "--pods") == 0) {
			pods = v;
		} else if (strcmp(a, "--series") == 0) {
			series_path = v;
		} else if (strcmp(a, "--policy") == 0) {
			if (llmo_sched_policy_parse(v, &o.policy, &err)) {
				status = cmd_usage_error("sim schedule", "--policy: %s", err.msg);
				goto out;
			}
		} else if (strcmp(a, "--seed") == 0) {
			if (llmo_parse_int_range(v, 0, INT64_MAX, &n, &err)) {
				status = cmd_usage_error("sim schedule", "--seed: %s", err.msg);
				goto out;
			}
			o.seed = (uint64_t)n;
		} else if (strcmp(a, "--inflate") == 0) {
			if (llmo_parse_double(v, &x, &err) || !(x > 0) ||
			    x > LLMO_SIM_SCHEDULE_INFLATE_MAX) {
				status = cmd_usage_error("sim schedule",
							 "--inflate: \"%.64s\": want a number above 0, at most %g",
							 v, LLMO_SIM_SCHEDULE_INFLATE_MAX);
				goto out;
			}
			o.inflate = x;
		} else if (strcmp(a, "--synthetic-nodes") == 0) {
			if (llmo_parse_int_range(v, 1, LLMO_SIM_SCHEDULE_NODES_MAX, &n, &err)) {
				status = cmd_usage_error("sim schedule", "--synthetic-nodes: %s", err.msg);
				goto out;
			}
			o.synthetic_nodes = (size_t)n;
		} else if (strcmp(a, "--parallelism") == 0) {
			if (llmo_parse_int_range(v, 0, LLMO_SCHED_POOL_MAX, &n, &err)) {
				status = cmd_usage_error("sim schedule", "--parallelism: %s", err.msg);
				goto out;
			}
			o.parallelism = (int)n;
		} else {
			status = cmd_usage_error("sim schedule", "unknown option %s (see --help)", a);
			goto out;
		}
	}
	if (!nodes || !pods) {
		status = cmd_usage_error("sim schedule", "--nodes and --pods are required (see --help)");
		goto out;
	}
	rc = llmo_sim_trace_load_nodes(&trace, nodes, &problems);
	/* Both files are checked, so that one run reports the problems of both. */
	if (llmo_sim_trace_load_pods(&trace, pods, &problems) || rc) {
		print_problems(&problems);
		goto out;
	}
	if (series_path) {
		if (!series_open(&series, "schedule", series_path,
				 "arrived_pct,allocated_pct,frag_pct\n"))
			goto out;
		o.on_pod = series_point;
		o.arg = &series;
	}
	if (llmo_sim_schedule_run(&trace, &o, &res, &err)) {
		fprintf(stderr, "llmo sim schedule: %s\n", err.msg);
		goto out;
	}
	if (!series_close(&series, "schedule", series_path))
		goto out;
	print_result(&o, nodes, pods, &res);
	status = fflush(stdout) == 0 ? 0 : 1;
out:
	if (series.f)
		fclose(series.f);
	llmo_sim_trace_release(&trace);
	llmo_strv_release(&problems);
	return status;
}

/* ---- llmo sim autoscale --------------------------------------------------------------- */

static const char autoscale_usage[] =
	"usage: llmo sim autoscale --trace FILE [--policy predictive|reactive|kpa]\n"
	"                          [--slo-ttft-ms N] [--cold-start-s N] [--replica-capacity N]\n"
	"                          [--target METRIC=VALUE]... [--min N] [--max N]\n"
	"                          [--series FILE] [more knobs below]\n"
	"       llmo sim autoscale --trace FILE --schedule FILE [...]\n"
	"\n"
	"Replays the arrivals of an Azure LLM inference trace (CSV:\n"
	"TIMESTAMP,ContextTokens,GeneratedTokens), a BurstGPT trace (CSV: Timestamp in\n"
	"s, Request tokens, Response tokens) or a Mooncake trace (JSON Lines: timestamp\n"
	"in ms, input_length, output_length) through llmo's autoscaler and a\n"
	"replica capacity model; prints one JSON object of results (GPU-hours, TTFT\n"
	"SLO attainment, percentiles, scale events, forecast error).\n"
	"\n"
	"  --trace FILE               the trace (required)\n"
	"  --policy NAME              predictive (default), reactive (HPA) or kpa (Knative)\n"
	"  --slo-ttft-ms N            TTFT objective per request (1000)\n"
	"  --cold-start-s X           replica created to Ready; the predictive horizon (60)\n"
	"  --replica-capacity N       requests one replica runs at once (8)\n"
	"  --target METRIC=VALUE      per-replica target, repeatable (queue_length=0.7*capacity);\n"
	"                             queue_length, requests_per_second, tokens_per_second,\n"
	"                             gpu_utilization, kv_cache_usage\n"
	"  --min N, --max N           replica bounds (1, 100); --min 0 scales to zero\n"
	"  --initial-replicas N       Ready replicas at the start (1)\n"
	"  --warmup-s X               replay but do not count the first X seconds (0)\n"
	"  --forecast-metric METRIC   predictive: the metric forecast (requests_per_second)\n"
	"  --forecast model|oracle    predictive: the forecaster (model), or the trace's own\n"
	"                             arrivals to come (oracle: a perfect forecast, to\n"
	"                             bound what forecasting could give; not a policy)\n"
	"  --forecast-z X             predictive: headroom for the forecast's error, in\n"
	"                             standard deviations (1; the 0.84 quantile of the\n"
	"                             recent errors with queueing sizing)\n"
	"  --slo-wait-ms X            predictive: the queueing delay a request may take\n"
	"                             (the SLO less the TTFT of the trace's median prompt);\n"
	"                             0 sizes by the target instead of by queueing\n"
	"  --slo-miss X               predictive: share of requests allowed to wait\n"
	"                             longer (0.01)\n"
	"  --schedule FILE            replicas from a file instead of a policy (CSV\n"
	"                             t_s,replicas: Ready replicas wanted from second t_s\n"
	"                             on, the first at 0; each created a cold start\n"
	"                             ahead); not with --policy or --forecast\n"
	"  --series FILE              write one CSV line per sample (second)\n"
	"  --ttft-base-ms X           fixed part of the prefill (20)\n"
	"  --prefill-us-per-token X   prefill per prompt token (100)\n"
	"  --itl-ms X                 time per generated token (20)\n"
	"  --interval-s X             between decisions (15 reactive, 2 otherwise)\n"
	"  --tolerance X              HPA tolerance (0.1)\n"
	"  --scale-up-threshold X     resourceManager.scaleUpThreshold (reactive 0.8, else 0)\n"
	"  --scale-down-threshold X   resourceManager.scaleDownThreshold (reactive 0.3, else 0)\n"
	"  --up-cooldown-s X          least time between scale-ups (reactive 180, else 0)\n"
	"  --down-cooldown-s X        least time between scale-downs (reactive 600, else 0)\n"
	"  --up-window-s N            behavior.scaleUp.stabilizationWindowSeconds (0)\n"
	"  --down-window-s N          behavior.scaleDown.stabilizationWindowSeconds\n"
	"                             (reactive 300, else 0)\n"
	"  --stable-window-s X        KPA stable window, predictive load window (60)\n"
	"  --panic-window-s X         KPA panic window (6)\n"
	"  --panic-threshold X        KPA panic threshold, 2 = 200% (2)\n"
	"\n"
	"Exit status: 0 done, 1 invalid input (each problem on standard error as\n"
	"FILE:LINE: message), 2 usage error.\n";

/* Numeric flags: table-driven, each with its bounds and the unit it is given in. */
enum knob_kind { K_INT32, K_DOUBLE, K_NS };

struct knob {
	const char *flag;
	int kind;
	size_t off;   /* in struct llmo_sim_as_opts */
	double scale; /* K_NS: ns per unit of the flag */
	double min, max;
};

#define OPT(f) offsetof(struct llmo_sim_as_opts, f)
#define SECS 1e9
static const struct knob knobs[] = {
	{"--slo-ttft-ms", K_NS, OPT(slo_ttft), 1e6, 1, 3.6e6},
	{"--cold-start-s", K_NS, OPT(as.cold_start), SECS, 0, 3600},
	{"--replica-capacity", K_INT32, OPT(slots), 0, 1, LLMO_SIM_AS_SLOTS_MAX},
	{"--min", K_INT32, OPT(as.min_replicas), 0, 0, LLMO_AS_REPLICAS_MAX},
	{"--max", K_INT32, OPT(as.max_replicas), 0, 1, LLMO_AS_REPLICAS_MAX},
	{"--initial-replicas", K_INT32, OPT(initial_replicas), 0, 0, LLMO_AS_REPLICAS_MAX},
	{"--warmup-s", K_NS, OPT(warmup), SECS, 0, 86400},
	{"--ttft-base-ms", K_NS, OPT(ttft_base), 1e6, 0, 3.6e6},
	{"--prefill-us-per-token", K_NS, OPT(prefill_per_token), 1e3, 0, 1e6},
	{"--itl-ms", K_NS, OPT(itl), 1e6, 0.001, 1000},
	{"--interval-s", K_NS, OPT(interval), SECS, 1, 3600},
	{"--tolerance", K_DOUBLE, OPT(as.tolerance), 0, 0, 0.99},
	{"--scale-up-threshold", K_DOUBLE, OPT(as.scale_up_threshold), 0, 0, 1},
	{"--scale-down-threshold", K_DOUBLE, OPT(as.scale_down_threshold), 0, 0, 1},
	{"--up-cooldown-s", K_NS, OPT(as.up_cooldown), SECS, 0, 86400},
	{"--down-cooldown-s", K_NS, OPT(as.down_cooldown), SECS, 0, 86400},
	{"--up-window-s", K_INT32, OPT(as.behavior.scale_up.stabilization_window_seconds), 0, 0, 3600},
	{"--down-window-s", K_INT32, OPT(as.behavior.scale_down.stabilization_window_seconds), 0, 0, 3600},
	{"--stable-window-s", K_NS, OPT(as.stable_window), SECS, 1, 3600},
	{"--panic-window-s", K_NS, OPT(as.panic_window), SECS, 1, 3600},
	{"--panic-threshold", K_DOUBLE, OPT(as.panic_threshold), 0, 1, 100},
	{"--forecast-z", K_DOUBLE, OPT(as.forecast_z), 0, 0, 10},
	{"--slo-wait-ms", K_NS, OPT(as.slo_wait), 1e6, 0, 3.6e6},
	{"--slo-miss", K_DOUBLE, OPT(as.slo_miss), 0, 1e-6, 0.5},
};

static size_t knob_index(const char *flag)
{
	size_t k = 0;

	while (k < LLMO_ARRAY_LEN(knobs) && strcmp(flag, knobs[k].flag))
		k++;
	return k;
}

/* Sets a knob from its flag's value; 0, or 2 after a usage error. */
static int knob_set(const struct knob *k, const char *v, struct llmo_sim_as_opts *o)
{
	struct llmo_error err = {0};
	char *base = (char *)o + k->off;
	double x;

	if (llmo_parse_double(v, &x, &err) || !(x >= k->min && x <= k->max) ||
	    (k->kind == K_INT32 && x != floor(x)))
		return cmd_usage_error("sim autoscale", "%s: \"%.64s\": want %s from %g to %g",
				       k->flag, v, k->kind == K_INT32 ? "an integer" : "a number",
				       k->min, k->max);
	if (k->kind == K_INT32)
		*(int32_t *)(void *)base = (int32_t)x;
	else if (k->kind == K_DOUBLE)
		*(double *)(void *)base = x;
	else
		*(int64_t *)(void *)base = (int64_t)llround(x * k->scale);
	return 0;
}

/* "METRIC=VALUE" -> a target; 0, or 2 after a usage error. */
static int target_parse(const char *v, struct llmo_as_target *t)
{
	struct llmo_error err = {0};
	const char *eq = strchr(v, '=');

	if (eq) {
		for (int m = LLMO_METRIC_CPU; m <= LLMO_METRIC_KV_CACHE_USAGE; m++) {
			const char *name = llmo_as_metric_name(m);

			if (strlen(name) != (size_t)(eq - v) || strncmp(v, name, (size_t)(eq - v)))
				continue;
			t->metric = m;
			if (llmo_parse_double(eq + 1, &t->target, &err) || !(t->target > 0))
				break;
			return 0;
		}
	}
	return cmd_usage_error("sim autoscale",
			       "--target: \"%.64s\": want METRIC=VALUE, VALUE above 0, METRIC one of cpu, memory, requests_per_second, queue_length, latency, tokens_per_second, gpu_utilization, kv_cache_usage",
			       v);
}

/* Per-policy defaults of the knobs the three policies do not share (docs/autoscaling.md). */
static void autoscale_defaults(struct llmo_sim_as_opts *o, int policy)
{
	llmo_sim_as_opts_init(o, policy);
	o->as.min_replicas = 1;
	o->as.max_replicas = 100;
	if (policy == LLMO_AS_REACTIVE) {
		/* llmo's resourceManager defaults and HPA's default behavior. */
		o->as.behavior.scale_up.max_change_pods = 4;
		o->as.behavior.scale_up.max_change_percent = 100;
		o->as.behavior.scale_up.period_seconds = 15;
		o->as.behavior.scale_down.stabilization_window_seconds = 300;
		o->as.behavior.scale_down.max_change_percent = 100;
		o->as.behavior.scale_down.period_seconds = 15;
	} else {
		o->as.scale_up_threshold = o->as.scale_down_threshold = 0;
		o->as.up_cooldown = o->as.down_cooldown = 0;
	}
	/* Arrivals, not the queue a late scale-up builds, are what to forecast. */
	if (policy == LLMO_AS_PREDICTIVE)
		o->as.forecast_metric = LLMO_METRIC_REQUESTS_PER_SECOND;
}

static int cmp_int64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* The median prompt (context tokens) of the trace's requests; 0 for none or out of memory. */
static int64_t median_context(const struct llmo_sim_azure *t)
{
	size_t n = t->requests.len;
	int64_t *v, m;

	if (!n)
		return 0;
	v = malloc(n * sizeof(*v));
	if (!v)
		return 0;
	for (size_t i = 0; i < n; i++)
		v[i] = t->requests.items[i].context_tokens;
	qsort(v, n, sizeof(*v), cmp_int64);
	m = v[n / 2];
	free(v);
	return m;
}

static void as_series_point(void *arg, const struct llmo_sim_as_point *pt)
{
	struct series *s = arg;

	if (!s->failed &&
	    fprintf(s->f, "%.3f,%" PRId32 ",%" PRId32 ",%" PRId32 ",%" PRId32 ",%" PRId32 ",%" PRId32 ",%.3f\n",
		    (double)pt->t / 1e9, pt->arrivals, pt->concurrency, pt->waiting, pt->replicas,
		    pt->ready, pt->desired, pt->forecast) < 0)
		s->failed = true;
}

static void print_num_or_null(const char *key, double v)
{
	if (v < 0)
		printf(",\n  \"%s\": null", key);
	else
		printf(",\n  \"%s\": %.3f", key, v);
}

static void print_autoscale(const struct llmo_sim_as_opts *o, const char *trace,
			    const char *schedule, const struct llmo_sim_as_result *r)
{
	printf("{\n  \"policy\": \"%s\",", o->schedule ? "schedule" : llmo_as_policy_name(o->as.policy));
	if (o->oracle)
		printf("\n  \"forecast\": \"oracle\",");
	if (schedule) {
		printf("\n  \"schedule\": ");
		print_json_string(schedule);
		printf(",");
	}
	printf("\n  \"trace\": ");
	print_json_string(trace);
	printf(",\n  \"warmup_s\": %.1f,\n  \"requests\": %zu,\n  \"duration_s\": %.3f",
	       (double)o->warmup / 1e9, r->requests, r->duration_s);
	printf(",\n  \"gpu_hours\": %.4f,\n  \"slo_ttft_ms\": %.1f,\n  \"slo_attainment_pct\": %.3f",
	       r->gpu_hours, (double)o->slo_ttft / 1e6, r->slo_attainment_pct);
	printf(",\n  \"p50_ttft_ms\": %.1f,\n  \"p95_ttft_ms\": %.1f,\n  \"p99_ttft_ms\": %.1f,\n  \"mean_ttft_ms\": %.1f",
	       r->p50_ttft_ms, r->p95_ttft_ms, r->p99_ttft_ms, r->mean_ttft_ms);
	printf(",\n  \"scale_events\": %" PRId64 ",\n  \"scale_ups\": %" PRId64 ",\n  \"scale_downs\": %" PRId64,
	       r->scale_events, r->scale_ups, r->scale_downs);
	printf(",\n  \"replicas_created\": %" PRId64 ",\n  \"mean_replicas\": %.3f,\n  \"mean_ready_replicas\": %.3f,\n  \"max_replicas\": %" PRId32,
	       r->replicas_created, r->mean_replicas, r->mean_ready, r->max_replicas);
	printf(",\n  \"panic_s\": %.1f", r->panic_s);
	print_num_or_null("forecast_mape_pct", r->forecast_mape_pct);
	printf(",\n  \"forecast_bucket_s\": %.1f,\n  \"forecast_season_buckets\": %" PRId32
	       ",\n  \"forecast_relevels\": %" PRId64,
	       r->bucket_s, r->season_buckets, r->relevels);
	printf(",\n  \"cold_start_s\": %.1f,\n  \"replica_capacity\": %" PRId32,
	       (double)o->as.cold_start / 1e9, o->slots);
	printf(",\n  \"targets\": {");
	for (size_t i = 0; i < o->as.ntargets; i++)
		printf("%s\"%s\": %g", i ? ", " : "", llmo_as_metric_name(o->as.targets[i].metric),
		       o->as.targets[i].target);
	printf("},\n  \"min_replicas\": %" PRId32 ",\n  \"max_replicas_bound\": %" PRId32 "\n}\n",
	       o->as.min_replicas, o->as.max_replicas);
}

static int sim_autoscale(int argc, char **argv)
{
	const char *trace_path = NULL, *series_path = NULL, *schedule_path = NULL;
	struct llmo_sim_as_schedule schedule;
	struct llmo_strv problems = LLMO_STRV_INIT;
	struct llmo_as_target targets[LLMO_AS_TARGETS_MAX];
	struct llmo_sim_as_result res;
	struct llmo_sim_as_opts o;
	struct llmo_error err = {0};
	struct series series = {NULL, false};
	struct llmo_sim_azure trace;
	size_t ntargets = 0;
	int status = 1, policy = LLMO_AS_PREDICTIVE, forecast_metric = -1;
	bool oracle = false, policy_set = false, forecast_set = false;
	bool set[LLMO_ARRAY_LEN(knobs)] = {false};
	const char *vals[LLMO_ARRAY_LEN(knobs)] = {NULL};

	llmo_sim_azure_init(&trace);
	llmo_sim_as_schedule_init(&schedule);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		size_t k = knob_index(a);

		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			fputs(autoscale_usage, stdout);
			status = 0;
			goto out;
		}
		if (!v) {
			status = cmd_usage_error("sim autoscale", "unknown or incomplete option %s (see --help)", a);
			goto out;
		}
		i++;
		if (k < LLMO_ARRAY_LEN(knobs)) {
			set[k] = true;
			vals[k] = v;
		} else if (strcmp(a, "--trace") == 0) {
			trace_path = v;
		} else if (strcmp(a, "--series") == 0) {
			series_path = v;
		} else if (strcmp(a, "--schedule") == 0) {
			schedule_path = v;
		} else if (strcmp(a, "--policy") == 0) {
			policy_set = true;
			if (llmo_as_policy_parse(v, &policy, &err)) {
				status = cmd_usage_error("sim autoscale", "--policy: %s", err.msg);
				goto out;
			}
		} else if (strcmp(a, "--forecast") == 0) {
			if (strcmp(v, "model") != 0 && strcmp(v, "oracle") != 0) {
				status = cmd_usage_error("sim autoscale",
							 "--forecast: \"%.64s\": want model or oracle", v);
				goto out;
			}
			oracle = strcmp(v, "oracle") == 0;
			forecast_set = true;
		} else if (strcmp(a, "--forecast-metric") == 0) {
			struct llmo_as_target ft;
			char buf[96];

			snprintf(buf, sizeof(buf), "%.64s=1", v);
			if ((status = target_parse(buf, &ft)) != 0)
				goto out;
			status = 1;
			forecast_metric = ft.metric;
		} else if (strcmp(a, "--target") == 0) {
			if (ntargets == LLMO_AS_TARGETS_MAX) {
				status = cmd_usage_error("sim autoscale", "--target: at most %d",
							 LLMO_AS_TARGETS_MAX);
				goto out;
			}
			if ((status = target_parse(v, &targets[ntargets++])) != 0)
				goto out;
			status = 1;
		} else {
			status = cmd_usage_error("sim autoscale", "unknown option %s (see --help)", a);
			goto out;
		}
	}
	if (!trace_path) {
		status = cmd_usage_error("sim autoscale", "--trace is required (see --help)");
		goto out;
	}
	if (schedule_path && (policy_set || forecast_set)) {
		status = cmd_usage_error("sim autoscale", "--schedule replaces the policy: no %s with it",
					 policy_set ? "--policy" : "--forecast");
		goto out;
	}
	if (schedule_path) /* the autoscaler only observes: KPA's is the cheapest to run */
		policy = LLMO_AS_KPA;
	/* Defaults depend on the policy, and the default target on the capacity: flags go last. */
	autoscale_defaults(&o, policy);
	for (size_t k = 0; k < LLMO_ARRAY_LEN(knobs); k++) {
		if (set[k] && (status = knob_set(&knobs[k], vals[k], &o)) != 0)
			goto out;
	}
	status = 1;
	if (ntargets) {
		memcpy(o.as.targets, targets, sizeof(targets));
		o.as.ntargets = ntargets;
	} else {
		o.as.targets[0].target = 0.7 * o.slots;
	}
	if (forecast_metric >= 0)
		o.as.forecast_metric = forecast_metric;
	if (oracle && policy != LLMO_AS_PREDICTIVE) {
		status = cmd_usage_error("sim autoscale", "--forecast oracle: only with --policy predictive");
		goto out;
	}
	o.oracle = oracle;
	if (!set[knob_index("--initial-replicas")])
		o.initial_replicas = LLMO_MAX(o.as.min_replicas, 1);
	if (llmo_sim_as_opts_check(&o, &err)) {
		status = cmd_usage_error("sim autoscale", "%s", err.msg);
		goto out;
	}
	if (llmo_sim_azure_load(&trace, trace_path, &problems) ||
	    (schedule_path && llmo_sim_as_schedule_load(&schedule, schedule_path, &problems))) {
		print_problems(&problems);
		goto out;
	}
	if (schedule_path)
		o.schedule = &schedule;
	if (policy == LLMO_AS_PREDICTIVE) {
		/* Queueing sizing: the replica's slots, and the wait the SLO leaves a typical prompt. */
		o.as.replica_slots = o.slots;
		if (!set[knob_index("--slo-wait-ms")])
			o.as.slo_wait = LLMO_MAX(0, o.slo_ttft - o.ttft_base -
							o.prefill_per_token * median_context(&trace));
	}
	if (series_path) {
		if (!series_open(&series, "autoscale", series_path,
				 "t_s,arrivals,concurrency,waiting,replicas,ready,desired,forecast\n"))
			goto out;
		o.on_sample = as_series_point;
		o.arg = &series;
	}
	if (llmo_sim_as_run(&trace, &o, &res, &err)) {
		fprintf(stderr, "llmo sim autoscale: %s\n", err.msg);
		goto out;
	}
	if (!series_close(&series, "autoscale", series_path))
		goto out;
	print_autoscale(&o, trace_path, schedule_path, &res);
	status = fflush(stdout) == 0 ? 0 : 1;
out:
	if (series.f)
		fclose(series.f);
	llmo_sim_azure_release(&trace);
	llmo_sim_as_schedule_release(&schedule);
	llmo_strv_release(&problems);
	return status;
}

int cmd_sim(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		fputs(sim_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "schedule") == 0)
		return sim_schedule(argc - 1, argv + 1);
	if (strcmp(argv[1], "autoscale") == 0)
		return sim_autoscale(argc - 1, argv + 1);
	return cmd_usage_error("sim", "unknown simulator \"%s\" (want schedule or autoscale; see --help)",
			       argv[1]);
}
