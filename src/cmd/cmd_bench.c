/*
 * llmo bench load --target URL (--trace FILE | --rate R --duration D) ...
 *
 * The open-loop load generator (src/bench/load.h): replays an Azure LLM
 * trace or Poisson arrivals against an OpenAI-compatible endpoint and
 * reports throughput, TTFT and latency percentiles. docs/bench-load.md.
 */
#include "base/common.h"

#include <event2/event.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include "base/duration.h"
#include "base/str.h"
#include "bench/load.h"
#include "cmd/cmd.h"
#include "sim/azure.h"

#define SUB "bench load"
#define FDS_SPARE 32 /* descriptors besides the connections */
#define MODEL_NAME_MAX 256
#define TIMEOUT_S_MAX (7 * 86400) /* --timeout beyond a week is a week */

static const char bench_usage[] =
	"usage: llmo bench load --target URL (--trace FILE | --rate R --duration D)\n"
	"                       [--model NAME] [--speedup X] [--limit N]\n"
	"                       [--concurrency-max N] [--stream] [--max-tokens-cap N]\n"
	"                       [--json] [more below]\n"
	"\n"
	"Open-loop load generator: sends POST /v1/completions at scheduled times,\n"
	"whether or not earlier requests have finished, and reports what was sent,\n"
	"completed and failed, throughput, and TTFT and latency percentiles. A\n"
	"progress line goes to standard error while it runs.\n"
	"\n"
	"  --target URL           http://HOST:PORT[/PATH]: requests go to PATH if it\n"
	"                         ends with /completions, else PATH/v1/completions\n"
	"  --trace FILE           replay an Azure LLM inference trace (CSV:\n"
	"                         TIMESTAMP,ContextTokens,GeneratedTokens), a BurstGPT\n"
	"                         trace (CSV: Timestamp in s, Request tokens, Response\n"
	"                         tokens) or a Mooncake trace (JSON Lines: timestamp in\n"
	"                         ms, input_length, output_length): its arrival times,\n"
	"                         prompts of that many tokens, max_tokens = the\n"
	"                         generated tokens\n"
	"  --rate R               Poisson arrivals, R requests per second\n"
	"  --duration D           how long to send (\"30s\", \"2m\"); required with --rate,\n"
	"                         a cut-off with --trace\n"
	"  --model NAME           the model asked for (default: the first of GET\n"
	"                         /v1/models)\n"
	"  --speedup X            replay X times faster (1)\n"
	"  --limit N              send at most N requests\n"
	"  --concurrency-max N    requests in flight at most, one connection each (1000);\n"
	"                         a request due while all are busy is sent late\n"
	"  --stream               streamed answers (TTFT = first SSE data event;\n"
	"                         otherwise the first body byte)\n"
	"  --max-tokens-cap N     cap on max_tokens\n"
	"  --prompt-tokens N      with --rate: prompt length in tokens (128)\n"
	"  --max-tokens N         with --rate: max_tokens (16)\n"
	"  --seed N               with --rate: seed of the arrival times (1)\n"
	"  --timeout D            longest silence of the target on a request (5m)\n"
	"  --api-key KEY          sent as Authorization: Bearer KEY\n"
	"  --slo-ttft D           also report the share of the requests sent that\n"
	"                         completed with a TTFT of at most D (\"200ms\")\n"
	"  --json                 print the report as one JSON object\n"
	"\n"
	"Exit status: 0 done; 1 the target could not be reached, the trace is\n"
	"invalid (FILE:LINE: message), no request completed, or interrupted;\n"
	"2 usage error.\n";

struct bench_args {
	const char *target, *trace, *model, *api_key;
	const char *rate, *duration, *speedup, *limit, *concurrency, *cap;
	const char *prompt_tokens, *max_tokens, *seed, *timeout, *slo_ttft;
	bool stream, json;
};

static const struct cmd_str_flag str_flags[] = {
	{"--target", offsetof(struct bench_args, target)},
	{"--trace", offsetof(struct bench_args, trace)},
	{"--model", offsetof(struct bench_args, model)},
	{"--api-key", offsetof(struct bench_args, api_key)},
	{"--rate", offsetof(struct bench_args, rate)},
	{"--duration", offsetof(struct bench_args, duration)},
	{"--speedup", offsetof(struct bench_args, speedup)},
	{"--limit", offsetof(struct bench_args, limit)},
	{"--concurrency-max", offsetof(struct bench_args, concurrency)},
	{"--max-tokens-cap", offsetof(struct bench_args, cap)},
	{"--prompt-tokens", offsetof(struct bench_args, prompt_tokens)},
	{"--max-tokens", offsetof(struct bench_args, max_tokens)},
	{"--seed", offsetof(struct bench_args, seed)},
	{"--timeout", offsetof(struct bench_args, timeout)},
	{"--slo-ttft", offsetof(struct bench_args, slo_ttft)},
};

/* Progress on stderr: rewritten in place on a terminal, else one line each time. */
struct progress {
	bool tty;
	bool drawn;
};

static void progress_line(const struct llmo_load_stats *st, void *arg)
{
	struct progress *p = arg;

	fprintf(stderr,
		"%sbench load: %.0fs sent %" PRIu64 " completed %" PRIu64 " failed %" PRIu64
		" in flight %" PRIu64 " late %" PRIu64 " p50 ttft %.1fms latency %.1fms%s",
		p->tty ? "\r\033[K" : "", (double)st->elapsed / 1e9, st->sent, st->completed,
		st->failed, st->in_flight, st->late,
		(double)llmo_hist_quantile(&st->ttft, 0.5) / 1e3,
		(double)llmo_hist_quantile(&st->latency, 0.5) / 1e3, p->tty ? "" : "\n");
	p->drawn = true;
}

static const double quantiles[] = {0.5, 0.9, 0.95, 0.99};
static const char *const qnames[] = {"p50", "p90", "p95", "p99"};

static json_t *hist_json(const struct llmo_hist *h)
{
	json_t *o = json_object();

	for (size_t i = 0; i < LLMO_ARRAY_LEN(quantiles); i++)
		json_object_set_new(o, qnames[i],
				    json_real((double)llmo_hist_quantile(h, quantiles[i]) / 1e3));
	json_object_set_new(o, "min", json_real((double)(h->n ? h->min : 0) / 1e3));
	json_object_set_new(o, "max", json_real((double)(h->n ? h->max : 0) / 1e3));
	json_object_set_new(o, "mean", json_real(llmo_hist_mean(h) / 1e3));
	return o;
}

static double per_second(uint64_t n, int64_t elapsed)
{
	return elapsed > 0 ? (double)n / ((double)elapsed / 1e9) : 0;
}

/* The share of the requests sent (failed and dropped ones miss) within the TTFT objective. */
static double slo_pct(const struct llmo_load_stats *st)
{
	return st->sent ? 100.0 * (double)st->within_slo / (double)st->sent : 0;
}

static int print_json(const struct llmo_load_opts *o, const struct llmo_load_stats *st,
		      bool interrupted)
{
	json_t *r = json_object(), *f = json_object(), *status = json_object(),
	       *kind = json_object();
	int rc;

	json_object_set_new(r, "target", json_string(o->url));
	json_object_set_new(r, "model", json_string(o->model));
	json_object_set_new(r, "stream", json_boolean(o->stream));
	json_object_set_new(r, "duration_s", json_real((double)st->elapsed / 1e9));
	json_object_set_new(r, "sent", json_integer((json_int_t)st->sent));
	json_object_set_new(r, "completed", json_integer((json_int_t)st->completed));
	json_object_set_new(r, "failed", json_integer((json_int_t)st->failed));
	json_object_set_new(r, "in_flight", json_integer((json_int_t)st->in_flight));
	for (int c = 100; c < 600; c++) {
		char key[8];

		if (!st->status[c])
			continue;
		snprintf(key, sizeof(key), "%d", c);
		json_object_set_new(status, key, json_integer((json_int_t)st->status[c]));
	}
	for (int k = 0; k < LLMO_LOAD_FAIL_KINDS; k++)
		json_object_set_new(kind, llmo_load_fail_name(k), json_integer((json_int_t)st->kind[k]));
	json_object_set_new(f, "status", status);
	json_object_set_new(f, "kind", kind);
	json_object_set_new(r, "failures", f);
	json_object_set_new(r, "late", json_integer((json_int_t)st->late));
	json_object_set_new(r, "late_max_ms", json_real((double)st->late_max / 1e6));
	json_object_set_new(r, "requests_per_second", json_real(per_second(st->completed, st->elapsed)));
	json_object_set_new(r, "tokens_per_second",
			    json_real(per_second(st->completion_tokens, st->elapsed)));
	json_object_set_new(r, "prompt_tokens", json_integer((json_int_t)st->prompt_tokens));
	json_object_set_new(r, "completion_tokens", json_integer((json_int_t)st->completion_tokens));
	json_object_set_new(r, "ttft_ms", hist_json(&st->ttft));
	json_object_set_new(r, "latency_ms", hist_json(&st->latency));
	if (o->slo_ttft_ns > 0) {
		json_object_set_new(r, "slo_ttft_ms", json_real((double)o->slo_ttft_ns / 1e6));
		json_object_set_new(r, "within_slo", json_integer((json_int_t)st->within_slo));
		json_object_set_new(r, "within_slo_pct", json_real(slo_pct(st)));
	}
	json_object_set_new(r, "interrupted", json_boolean(interrupted));
	rc = json_dumpf(r, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(6));
	json_decref(r);
	putchar('\n');
	return rc;
}

static void print_row(const char *name, const struct llmo_hist *h)
{
	printf("%-12s", name);
	for (size_t i = 0; i < LLMO_ARRAY_LEN(quantiles); i++)
		printf(" %9.1f", (double)llmo_hist_quantile(h, quantiles[i]) / 1e3);
	printf(" %9.1f %9.1f %9.1f\n", (double)(h->n ? h->min : 0) / 1e3,
	       (double)(h->n ? h->max : 0) / 1e3, llmo_hist_mean(h) / 1e3);
}

static void print_text(const struct llmo_load_opts *o, const struct llmo_load_stats *st,
		       bool interrupted)
{
	bool any = false;

	printf("target      %s (model %s%s)\n", o->url, o->model, o->stream ? ", streamed" : "");
	printf("duration    %.2f s%s\n", (double)st->elapsed / 1e9,
	       interrupted ? " (interrupted)" : "");
	printf("requests    sent %" PRIu64 ", completed %" PRIu64 ", failed %" PRIu64, st->sent,
	       st->completed, st->failed);
	if (st->in_flight)
		printf(", dropped in flight %" PRIu64, st->in_flight);
	printf("\nlate starts %" PRIu64 " (sent over %d ms after their time; worst %.1f ms)\n",
	       st->late, (int)(LLMO_LOAD_LATE_NS / 1000000), (double)st->late_max / 1e6);
	printf("failures   ");
	for (int c = 100; c < 600; c++) {
		if (st->status[c]) {
			printf(" status %d: %" PRIu64 ";", c, st->status[c]);
			any = true;
		}
	}
	for (int k = 0; k < LLMO_LOAD_FAIL_KINDS; k++) {
		if (st->kind[k]) {
			printf(" %s: %" PRIu64 ";", llmo_load_fail_name(k), st->kind[k]);
			any = true;
		}
	}
	printf("%s\n", any ? "" : " none");
	printf("throughput  %.2f requests/s, %.1f completion tokens/s (%" PRIu64 " tokens)\n",
	       per_second(st->completed, st->elapsed), per_second(st->completion_tokens, st->elapsed),
	       st->completion_tokens);
	printf("%-12s %9s %9s %9s %9s %9s %9s %9s\n", "ms", "p50", "p90", "p95", "p99", "min", "max",
	       "mean");
	print_row("ttft", &st->ttft);
	print_row("latency", &st->latency);
	if (o->slo_ttft_ns > 0)
		printf("slo         ttft <= %.1f ms: %" PRIu64 " of %" PRIu64 " sent (%.2f%%)\n",
		       (double)o->slo_ttft_ns / 1e6, st->within_slo, st->sent, slo_pct(st));
}

static struct event_base *signal_base;
static bool interrupted;

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	interrupted = true;
	event_base_loopbreak(signal_base);
}

/* Raises the soft descriptor limit for n connections; false after saying why. */
static bool fds_for(int n)
{
	struct rlimit rl;
	rlim_t need = (rlim_t)n + FDS_SPARE;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= need)
		return true;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need) {
		cmd_usage_error(SUB, "--concurrency-max %d needs %d file descriptors; the limit is %ld",
				n, (int)need, (long)rl.rlim_max);
		return false;
	}
	rl.rlim_cur = need;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
		cmd_usage_error(SUB, "--concurrency-max %d: cannot raise the file descriptor limit: %s",
				n, strerror(errno));
		return false;
	}
	return true;
}

/* "--name value" as an integer in [min, max]; 0, or 2 after a usage error. */
static int int_flag(const char *name, const char *v, int64_t min, int64_t max, int64_t *out)
{
	struct llmo_error err = {0};

	if (!v)
		return 0;
	if (llmo_parse_int_range(v, min, max, out, &err))
		return cmd_usage_error(SUB, "%s: %s", name, err.msg);
	return 0;
}

static int double_flag(const char *name, const char *v, double max, double *out)
{
	struct llmo_error err = {0};

	if (!v)
		return 0;
	if (llmo_parse_double(v, out, &err) || !(*out > 0) || *out > max)
		return cmd_usage_error(SUB, "%s: \"%.64s\": want a number above 0, at most %g", name,
				       v, max);
	return 0;
}

static int duration_flag(const char *name, const char *v, int64_t *out)
{
	struct llmo_error err = {0};

	if (!v)
		return 0;
	if (llmo_duration_parse(v, out, &err) || *out <= 0)
		return cmd_usage_error(SUB, "%s: \"%.64s\": want a duration above 0 (\"30s\", \"2m\")",
				       name, v);
	return 0;
}

static bool model_ok(const char *m)
{
	if (!*m || strlen(m) >= MODEL_NAME_MAX)
		return false;
	for (const unsigned char *p = (const unsigned char *)m; *p; p++)
		if (*p < 0x20 || *p >= 0x7f || *p == '"' || *p == '\\')
			return false;
	return true;
}

static int bench_load(int argc, char **argv)
{
	struct bench_args a = {0};
	struct llmo_load_opts o = {0};
	struct llmo_load_schedule s;
	struct llmo_load_stats *st = NULL;
	struct llmo_strv problems = LLMO_STRV_INIT;
	struct llmo_sim_azure trace;
	struct llmo_error err = {0};
	struct progress prog = {0};
	struct event_base *base = NULL;
	struct event *sigint = NULL, *sigterm = NULL;
	char model[MODEL_NAME_MAX];
	int64_t limit = 0, conc = 1000, cap = 0, ptok = 128, mtok = 16, seed = 1;
	int64_t duration = 0, timeout = INT64_C(300) * 1000000000;
	double rate = 0, speedup = 1;
	int status = 1;

	llmo_sim_azure_init(&trace);
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
			fputs(bench_usage, stdout);
			status = 0;
			goto out;
		}
		if (strcmp(arg, "--stream") == 0) {
			a.stream = true;
			continue;
		}
		if (strcmp(arg, "--json") == 0) {
			a.json = true;
			continue;
		}
		if (!v || !cmd_str_flag_set(str_flags, LLMO_ARRAY_LEN(str_flags), &a, arg,
					    strlen(arg), v)) {
			status = cmd_usage_error(SUB, "unknown or incomplete option %s (see --help)", arg);
			goto out;
		}
		i++;
	}
	if ((status = int_flag("--limit", a.limit, 1, INT64_MAX, &limit)) ||
	    (status = int_flag("--concurrency-max", a.concurrency, 1, LLMO_LOAD_CONCURRENCY_MAX, &conc)) ||
	    (status = int_flag("--max-tokens-cap", a.cap, 1, LLMO_LOAD_MAX_TOKENS_MAX, &cap)) ||
	    (status = int_flag("--prompt-tokens", a.prompt_tokens, 1, LLMO_LOAD_PROMPT_TOKENS_MAX, &ptok)) ||
	    (status = int_flag("--max-tokens", a.max_tokens, 1, LLMO_LOAD_MAX_TOKENS_MAX, &mtok)) ||
	    (status = int_flag("--seed", a.seed, 0, INT64_MAX, &seed)) ||
	    (status = double_flag("--rate", a.rate, LLMO_LOAD_RATE_MAX, &rate)) ||
	    (status = double_flag("--speedup", a.speedup, LLMO_LOAD_SPEEDUP_MAX, &speedup)) ||
	    (status = duration_flag("--duration", a.duration, &duration)) ||
	    (status = duration_flag("--timeout", a.timeout, &timeout)) ||
	    (status = duration_flag("--slo-ttft", a.slo_ttft, &o.slo_ttft_ns)))
		goto out;
	status = 2;
	if (!a.target) {
		cmd_usage_error(SUB, "--target is required (see --help)");
		goto out;
	}
	if (!a.trace == !a.rate) {
		cmd_usage_error(SUB, "give either --trace FILE or --rate R (see --help)");
		goto out;
	}
	if (a.rate && !a.duration) {
		cmd_usage_error(SUB, "--rate needs --duration");
		goto out;
	}
	if (a.trace && (a.prompt_tokens || a.max_tokens || a.seed)) {
		cmd_usage_error(SUB, "--prompt-tokens, --max-tokens and --seed go with --rate; a trace gives its own");
		goto out;
	}
	if (a.rate && a.speedup) {
		cmd_usage_error(SUB, "--speedup goes with --trace");
		goto out;
	}
	if (a.model && !model_ok(a.model)) {
		cmd_usage_error(SUB, "--model: \"%.64s\": want printable ASCII without quotes or backslashes, under %d bytes",
				a.model, MODEL_NAME_MAX);
		goto out;
	}
	if (llmo_load_target(&o, a.target, &err)) {
		cmd_usage_error(SUB, "%s", err.msg);
		goto out;
	}
	if (!fds_for((int)conc))
		goto out;
	status = 1;
	o.stream = a.stream;
	o.api_key = a.api_key;
	o.concurrency_max = (int)conc;
	o.timeout_s = (int)LLMO_MIN(TIMEOUT_S_MAX, LLMO_MAX(1, (timeout + 999999999) / 1000000000));
	if (a.trace) {
		if (llmo_sim_azure_load(&trace, a.trace, &problems)) {
			for (size_t i = 0; i < problems.len; i++)
				fprintf(stderr, "%s\n", problems.items[i]);
			goto out;
		}
		llmo_load_schedule_init_trace(&s, &trace, speedup);
		s.duration = duration;
	} else {
		llmo_load_schedule_init_poisson(&s, rate, duration, (uint64_t)seed, (int32_t)ptok,
						(int32_t)mtok);
	}
	s.limit = (uint64_t)limit;
	s.max_tokens_cap = (int32_t)cap;
	if (llmo_load_probe(o.host, o.port, (int)LLMO_MIN(o.timeout_s, 10) * 1000, &err)) {
		fprintf(stderr, "llmo %s: %s (the target %s is not reachable)\n", SUB, err.msg, o.url);
		goto out;
	}
	if (a.model) {
		o.model = a.model;
	} else {
		if (llmo_load_first_model(&o, model, sizeof(model), &err)) {
			fprintf(stderr, "llmo %s: %s\n", SUB, err.msg);
			goto out;
		}
		if (!model_ok(model)) {
			fprintf(stderr, "llmo %s: the target's first model \"%.64s\" cannot be used; give --model\n",
				SUB, model);
			goto out;
		}
		o.model = model;
	}
	signal(SIGPIPE, SIG_IGN);
	base = event_base_new();
	st = malloc(sizeof(*st));
	if (!base || !st) {
		fprintf(stderr, "llmo %s: out of memory\n", SUB);
		goto out;
	}
	signal_base = base;
	sigint = evsignal_new(base, SIGINT, on_signal, NULL);
	sigterm = evsignal_new(base, SIGTERM, on_signal, NULL);
	if (!sigint || !sigterm || event_add(sigint, NULL) < 0 || event_add(sigterm, NULL) < 0) {
		fprintf(stderr, "llmo %s: cannot watch signals\n", SUB);
		goto out;
	}
	prog.tty = isatty(STDERR_FILENO) == 1;
	o.progress = progress_line;
	o.progress_ns = prog.tty ? INT64_C(1000000000) : INT64_C(5000000000);
	o.arg = &prog;
	if (llmo_load_run(base, &s, &o, st, &err)) {
		fprintf(stderr, "llmo %s: %s\n", SUB, err.msg);
		goto out;
	}
	if (prog.drawn && prog.tty)
		fputc('\n', stderr);
	if (a.json)
		print_json(&o, st, interrupted);
	else
		print_text(&o, st, interrupted);
	if (fflush(stdout) != 0)
		goto out;
	if (st->sent && !st->completed)
		fprintf(stderr, "llmo %s: no request completed (%" PRIu64 " failed)\n", SUB, st->failed);
	status = interrupted || (st->sent && !st->completed) ? 1 : 0;
out:
	if (sigint)
		event_free(sigint);
	if (sigterm)
		event_free(sigterm);
	if (base)
		event_base_free(base);
	free(st);
	llmo_sim_azure_release(&trace);
	llmo_strv_release(&problems);
	return status;
}

int cmd_bench(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		fputs(bench_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "load") == 0)
		return bench_load(argc - 1, argv + 1);
	return cmd_usage_error("bench", "unknown benchmark \"%s\" (want load; see --help)", argv[1]);
}
