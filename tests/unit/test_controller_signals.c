/*
 * What the controller reads from the gateway's /metrics (controller/signals.h):
 * per-workload, per-track counters and histograms, in-flight per pod,
 * differences between scrapes with counter resets, and quantiles, all
 * against numbers worked out by hand.
 */
#include "base/common.h"

#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "controller/signals.h"

static const char scrape1[] =
	"# TYPE llmo_gateway_requests_total counter\n"
	"llmo_gateway_requests_total{model=\"ns/w\",track=\"stable\",code=\"200\"} 3\n"
	"llmo_gateway_requests_total{model=\"ns/w\",track=\"canary\",code=\"200\"} 3\n"
	"llmo_gateway_requests_total{model=\"ns/w\",track=\"canary\",code=\"503\"} 1\n"
	"llmo_gateway_requests_total{model=\"\",track=\"\",code=\"404\"} 7\n"
	"llmo_gateway_requests_total{model=\"static-model\",track=\"stable\",code=\"200\"} 5\n"
	"llmo_gateway_request_duration_seconds_bucket{model=\"ns/w\",track=\"canary\",le=\"0.1\"} 1\n"
	"llmo_gateway_request_duration_seconds_bucket{model=\"ns/w\",track=\"canary\",le=\"+Inf\"} 4\n"
	"llmo_gateway_pod_inflight{namespace=\"ns\",workload=\"w\",pod=\"w-a\",track=\"stable\"} 0\n"
	"llmo_gateway_pod_inflight{namespace=\"ns\",workload=\"w\",pod=\"w-b\",track=\"canary\"} 2\n"
	"llmo_gateway_pending_requests{model=\"ns/w\"} 1\n";

static const char scrape2[] =
	"llmo_gateway_requests_total{model=\"ns/w\",track=\"stable\",code=\"200\"} 9\n"
	"llmo_gateway_requests_total{model=\"ns/w\",track=\"canary\",code=\"200\"} 8\n"
	"llmo_gateway_requests_total{model=\"ns/w\",track=\"canary\",code=\"503\"} 1\n"
	"llmo_gateway_requests_total{model=\"ns/w\",track=\"canary\",code=\"502\"} 1\n"
	"llmo_gateway_requests_total{model=\"ns/w\",track=\"canary\",code=\"429\"} 5\n"
	"llmo_gateway_tokens_total{model=\"ns/w\",track=\"canary\",kind=\"completion\"} 120\n"
	"llmo_gateway_tokens_total{model=\"ns/w\",track=\"canary\",kind=\"prompt\"} 999\n"
	"llmo_gateway_request_duration_seconds_bucket{model=\"ns/w\",track=\"canary\",le=\"0.1\"} 3\n"
	"llmo_gateway_request_duration_seconds_bucket{model=\"ns/w\",track=\"canary\",le=\"0.5\"} 9\n"
	"llmo_gateway_request_duration_seconds_bucket{model=\"ns/w\",track=\"canary\",le=\"1\"} 11\n"
	"llmo_gateway_request_duration_seconds_bucket{model=\"ns/w\",track=\"canary\",le=\"+Inf\"} 14\n"
	"llmo_gateway_pod_inflight{namespace=\"ns\",workload=\"w\",pod=\"w-b\",track=\"canary\"} 0\n"
	"llmo_gateway_upstream_attempts_total{model=\"ns/w\",track=\"canary\",outcome=\"ok\"} 13\n"
	"llmo_gateway_upstream_attempts_total{model=\"ns/w\",track=\"canary\",outcome=\"failed\"} 4\n";

static void test_ingest_and_deltas(void **state)
{
	struct llmo__signals s;
	struct llmo_error err = {0};
	const struct llmo__wl_sample *now, *then;
	const struct llmo__track_sample *c;
	struct llmo__track_sample d, total;

	(void)state;
	assert_int_equal(llmo__signals_init(&s, NULL, 1000, &err), 0);
	assert_int_equal(llmo__signals_ingest(&s, scrape1, strlen(scrape1), 1000, &err), 0);
	now = llmo__signals_get(&s, "ns/w", false);
	assert_non_null(now);
	/* models without a namespace (static files, unrouted) are not workloads */
	assert_null(llmo__signals_get(&s, "static-model", false));
	assert_null(llmo__signals_get(&s, "", false));
	c = llmo__sample_track(now, "canary");
	assert_non_null(c);
	assert_true(c->requests == 4 && c->errors == 1);
	assert_true(now->inflight == 2 && now->pending == 1);
	assert_int_equal(llmo__signals_pod_inflight(&s, "ns", "w-a"), 0);
	assert_int_equal(llmo__signals_pod_inflight(&s, "ns", "w-b"), 2);
	assert_int_equal(llmo__signals_pod_inflight(&s, "ns", "w-c"), -1);

	assert_int_equal(llmo__signals_ingest(&s, scrape2, strlen(scrape2), 3000, &err), 0);
	assert_true(s.prev_ms == 1000 && s.cur_ms == 3000);
	now = llmo__signals_get(&s, "ns/w", false);
	then = llmo__signals_get(&s, "ns/w", true);
	/* canary: 8+1+1+5 = 15 requests, 503 and 502 failed (429 is not the canary's fault) */
	llmo__track_delta(llmo__sample_track(now, "canary"), llmo__sample_track(then, "canary"), &d);
	assert_true(d.requests == 11 && d.errors == 1 && d.tokens == 120);
	/* attempts appear in the second scrape only: all of them are new */
	assert_true(d.attempts_ok == 13 && d.attempts_failed == 4);
	/* buckets: 0.1 3-1, 0.5 9-0, 1 11-0, +Inf 14-4 */
	assert_int_equal(d.nb, 4);
	assert_true(d.cum[0] == 2 && d.cum[1] == 9 && d.cum[2] == 11 && d.cum[3] == 10);
	assert_int_equal(llmo__signals_pod_inflight(&s, "ns", "w-a"), -1);
	llmo__sample_total(now, &total);
	assert_true(total.requests == 24 && total.errors == 2);
	llmo__signals_release(&s);
}

static void test_counter_reset(void **state)
{
	struct llmo__track_sample then = {.requests = 100, .errors = 10, .nb = 1,
					  .le = {INFINITY}, .cum = {100}};
	struct llmo__track_sample now = {.requests = 5, .errors = 1, .nb = 1, .le = {INFINITY},
					 .cum = {5}};
	struct llmo__track_sample d;

	(void)state;
	/* the gateway restarted: everything counts from zero */
	llmo__track_delta(&now, &then, &d);
	assert_true(d.requests == 5 && d.errors == 1 && d.cum[0] == 5);
	llmo__track_delta(&now, NULL, &d);
	assert_true(d.requests == 5);
}

static void test_quantile(void **state)
{
	struct llmo__track_sample h = {.nb = 4, .le = {0.1, 0.5, 1, INFINITY}, .cum = {2, 6, 8, 10}};
	struct llmo__track_sample empty = {.nb = 2, .le = {0.1, INFINITY}, .cum = {0, 0}};
	struct llmo__track_sample no_inf = {.nb = 1, .le = {0.1}, .cum = {3}};

	(void)state;
	/* rank 5 of 10 falls in (0.1, 0.5] holding ranks 3..6: 0.1 + 0.4 * 3/4 */
	assert_float_equal(llmo__track_quantile(&h, 0.5), 0.4, 1e-9);
	/* rank 1 in the first bucket: 0 + 0.1 * 1/2 */
	assert_float_equal(llmo__track_quantile(&h, 0.1), 0.05, 1e-9);
	/* rank 9.5 is in +Inf: the largest finite bound */
	assert_float_equal(llmo__track_quantile(&h, 0.95), 1, 1e-9);
	assert_true(isnan(llmo__track_quantile(&empty, 0.5)));
	assert_true(isnan(llmo__track_quantile(&no_inf, 0.5)));
}

static void test_bad_text_keeps_samples(void **state)
{
	struct llmo__signals s;
	struct llmo_error err = {0};

	(void)state;
	assert_int_equal(llmo__signals_init(&s, NULL, 1000, &err), 0);
	assert_int_equal(llmo__signals_ingest(&s, scrape1, strlen(scrape1), 1000, &err), 0);
	assert_int_equal(llmo__signals_ingest(&s, "x{", 2, 2000, &err), LLMO_EPARSE);
	assert_string_equal(err.msg, "metrics line 1: expected a label name");
	assert_int_equal(s.cur_ms, 1000);
	assert_non_null(llmo__signals_get(&s, "ns/w", false));
	llmo__signals_release(&s);
}

static void test_scrape_dead_gateway(void **state)
{
	struct llmo__signals s;
	struct llmo_error err = {0};

	(void)state;
	/* port 1 on loopback: nothing listens; the failure names the URL */
	assert_int_equal(llmo__signals_init(&s, "http://127.0.0.1:1/metrics", 1000, &err), 0);
	assert_int_equal(llmo__signals_scrape(&s), LLMO_EIO);
	assert_non_null(strstr(s.error, "scraping http://127.0.0.1:1/metrics: "));
	assert_int_equal(s.failures, 1);
	llmo__signals_release(&s);
}

/* Two replicas' vLLM metrics: KV usage 0.5 and 0.9 (mean 0.7), 3 + 1 waiting; one without. */
static void test_replicas(void **state)
{
	static const char r1[] = "vllm:gpu_cache_usage_perc{model_name=\"m\"} 0.5\n"
				 "vllm:num_requests_waiting{model_name=\"m\"} 3\n"
				 "vllm:num_requests_running{model_name=\"m\"} 8\n";
	static const char r2[] = "vllm:gpu_cache_usage_perc{model_name=\"m\"} 0.9\n"
				 "vllm:num_requests_waiting{model_name=\"m\"} 1\n";
	static const char other[] = "process_cpu_seconds_total 12\n";
	struct llmo__signals s;
	struct llmo_error err = {0};
	const struct llmo__replica_stats *st;

	(void)state;
	assert_int_equal(llmo__signals_init(&s, NULL, 1000, &err), 0);
	llmo__signals_replicas_begin(&s);
	assert_int_equal(llmo__signals_replica_ingest(&s, "ns/w", r1, strlen(r1)), 0);
	assert_int_equal(llmo__signals_replica_ingest(&s, "ns/w", r2, strlen(r2)), 0);
	assert_int_equal(llmo__signals_replica_ingest(&s, "ns/w", other, strlen(other)), 0);
	assert_int_equal(llmo__signals_replica_ingest(&s, "ns/w", "x{", 2), LLMO_EPARSE);
	/* nothing is current until the tick ends */
	assert_null(llmo__signals_replicas(&s, "ns/w"));
	llmo__signals_replicas_end(&s);
	st = llmo__signals_replicas(&s, "ns/w");
	assert_non_null(st);
	assert_int_equal(st->replicas, 2);
	assert_float_equal(st->kv_sum / st->replicas, 0.7, 1e-9);
	assert_true(st->waiting == 4 && st->running == 8);
	/* a tick with no answer forgets the last */
	llmo__signals_replicas_begin(&s);
	llmo__signals_replicas_end(&s);
	assert_null(llmo__signals_replicas(&s, "ns/w"));
	llmo__signals_release(&s);
}

/* A Prometheus query answer (instant vector) reads as the same samples; job/instance dropped. */
static void test_prometheus_answer(void **state)
{
	static const char answer[] =
		"{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":["
		"{\"metric\":{\"__name__\":\"llmo_gateway_requests_total\",\"code\":\"200\","
		"\"instance\":\"gw-1:8080\",\"job\":\"llmo-gateway\",\"model\":\"ns/w\","
		"\"track\":\"canary\"},\"value\":[1764190000.5,\"30\"]},"
		"{\"metric\":{\"__name__\":\"llmo_gateway_requests_total\",\"code\":\"200\","
		"\"instance\":\"gw-2:8080\",\"job\":\"llmo-gateway\",\"model\":\"ns/w\","
		"\"track\":\"canary\"},\"value\":[1764190000.5,\"12\"]},"
		"{\"metric\":{\"__name__\":\"llmo_gateway_requests_total\",\"code\":\"502\","
		"\"model\":\"ns/w\",\"track\":\"canary\"},\"value\":[1764190000.5,\"2\"]},"
		"{\"metric\":{\"__name__\":\"llmo_gateway_pod_inflight\",\"namespace\":\"ns\","
		"\"workload\":\"w\",\"pod\":\"w-a\"},\"value\":[1764190000.5,\"3\"]},"
		"{\"metric\":{\"__name__\":\"llmo_gateway_pending_requests\",\"model\":\"ns/w\"},"
		"\"value\":[1764190000.5,\"NaN\"]}]}}";
	static const char failed[] = "{\"status\":\"error\",\"error\":\"bad query\"}";
	struct llmo__signals s;
	struct llmo_error err = {0};
	const struct llmo__track_sample *c;

	(void)state;
	assert_int_equal(llmo__signals_init(&s, NULL, 1000, &err), 0);
	assert_int_equal(llmo__signals_ingest_query(&s, answer, strlen(answer), 1000, &err), 0);
	/* two gateways' counters add up: 30 + 12 + 2, of which 2 failed */
	c = llmo__sample_track(llmo__signals_get(&s, "ns/w", false), "canary");
	assert_non_null(c);
	assert_true(c->requests == 44 && c->errors == 2);
	assert_int_equal(llmo__signals_pod_inflight(&s, "ns", "w-a"), 3);
	assert_true(llmo__signals_get(&s, "ns/w", false)->pending == 0); /* NaN skipped */
	assert_int_equal(llmo__signals_ingest_query(&s, failed, strlen(failed), 2000, &err),
			 LLMO_EIO);
	assert_string_equal(err.msg, "Prometheus answered an error: bad query");
	assert_int_equal(llmo__signals_ingest_query(&s, "{", 1, 2000, &err), LLMO_EPARSE);
	assert_int_equal(s.cur_ms, 1000); /* the last good numbers stay */
	llmo__signals_release(&s);
}

/* gateway text with n requests (200) of ns/w's stable track and pod w-a holding f in flight */
static char *gw_text(char *buf, size_t size, int n, int inflight, int pending)
{
	snprintf(buf, size,
		 "llmo_gateway_requests_total{model=\"ns/w\",track=\"stable\",code=\"200\"} %d\n"
		 "llmo_gateway_request_duration_seconds_bucket{model=\"ns/w\",track=\"stable\","
		 "le=\"+Inf\"} %d\n"
		 "llmo_gateway_pod_inflight{namespace=\"ns\",workload=\"w\",pod=\"w-a\"} %d\n"
		 "llmo_gateway_pending_requests{model=\"ns/w\"} %d\n",
		 n, n, inflight, pending);
	return buf;
}

static double stable_requests(const struct llmo__signals *s, bool prev)
{
	const struct llmo__wl_sample *w = llmo__signals_get(s, "ns/w", prev);
	const struct llmo__track_sample *t = w ? llmo__sample_track(w, "stable") : NULL;

	return t ? t->requests : -1;
}

/*
 * Two gateways (A and B), then A restarts and B goes away: the sum of the
 * counters only grows by what each gateway counted since its last scrape;
 * in-flight and pending are the tick's sums; a gateway that does not answer
 * keeps its last in-flight counts.
 */
static void test_several_gateways(void **state)
{
	struct llmo__signals s;
	struct llmo_error err = {0};
	char a[512], b[512];
	const char *ids[] = {"A", "B"};
	const char *texts[2];
	size_t lens[2];
	bool ok[2] = {true, true};
	struct llmo__track_sample d;
	const struct llmo__wl_sample *w;

	(void)state;
	assert_int_equal(llmo__signals_init(&s, NULL, 1000, &err), 0);
	/* tick 1: A counted 10, B 5 (all of it: the first scrape of each) */
	texts[0] = gw_text(a, sizeof(a), 10, 1, 1), lens[0] = strlen(a);
	texts[1] = gw_text(b, sizeof(b), 5, 2, 0), lens[1] = strlen(b);
	assert_int_equal(llmo__signals_ingest_many(&s, 2, ids, texts, lens, ok, 1000, &err), 0);
	assert_true(stable_requests(&s, false) == 15);
	w = llmo__signals_get(&s, "ns/w", false);
	assert_true(w->pending == 1 && w->inflight == 3);
	assert_int_equal(llmo__signals_pod_inflight(&s, "ns", "w-a"), 3);
	/* tick 2: A 14 (+4), B 9 (+4): 23 */
	texts[0] = gw_text(a, sizeof(a), 14, 0, 0), lens[0] = strlen(a);
	texts[1] = gw_text(b, sizeof(b), 9, 1, 2), lens[1] = strlen(b);
	assert_int_equal(llmo__signals_ingest_many(&s, 2, ids, texts, lens, ok, 3000, &err), 0);
	assert_true(stable_requests(&s, false) == 23);
	assert_true(stable_requests(&s, true) == 15);
	llmo__track_delta(llmo__sample_track(llmo__signals_get(&s, "ns/w", false), "stable"),
			  llmo__sample_track(llmo__signals_get(&s, "ns/w", true), "stable"), &d);
	assert_true(d.requests == 8 && d.nb == 1 && d.cum[0] == 8);
	assert_int_equal(llmo__signals_pod_inflight(&s, "ns", "w-a"), 1);
	/* tick 3: B does not answer (its last in flight, 1, stands), A restarted: 3 (all new) */
	ok[1] = false;
	texts[0] = gw_text(a, sizeof(a), 3, 2, 0), lens[0] = strlen(a);
	assert_int_equal(llmo__signals_ingest_many(&s, 2, ids, texts, lens, ok, 5000, &err), 0);
	assert_true(stable_requests(&s, false) == 26);
	assert_int_equal(llmo__signals_pod_inflight(&s, "ns", "w-a"), 3);
	/* tick 4: B is gone for good (not listed) and takes nothing back; A +2 */
	ok[1] = true;
	texts[0] = gw_text(a, sizeof(a), 5, 0, 0), lens[0] = strlen(a);
	assert_int_equal(llmo__signals_ingest_many(&s, 1, ids, texts, lens, ok, 7000, &err), 0);
	assert_true(stable_requests(&s, false) == 28);
	assert_int_equal(llmo__signals_pod_inflight(&s, "ns", "w-a"), 0);
	/* tick 5: B comes back as a new gateway: all of its 4 count */
	texts[1] = gw_text(b, sizeof(b), 4, 0, 0), lens[1] = strlen(b);
	assert_int_equal(llmo__signals_ingest_many(&s, 2, ids, texts, lens, ok, 9000, &err), 0);
	assert_true(stable_requests(&s, false) == 32);
	/* a gateway whose text does not parse is taken as not read; the message says which */
	texts[1] = "llmo_gateway_requests_total{model=\"ns/w\" 1\n", lens[1] = strlen(texts[1]);
	texts[0] = gw_text(a, sizeof(a), 6, 0, 0), lens[0] = strlen(a);
	assert_int_equal(llmo__signals_ingest_many(&s, 2, ids, texts, lens, ok, 11000, &err), 0);
	assert_true(stable_requests(&s, false) == 33);
	assert_non_null(strstr(err.msg, "gateway B"));
	llmo__signals_release(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ingest_and_deltas),
		cmocka_unit_test(test_counter_reset),
		cmocka_unit_test(test_quantile),
		cmocka_unit_test(test_bad_text_keeps_samples),
		cmocka_unit_test(test_scrape_dead_gateway),
		cmocka_unit_test(test_replicas),
		cmocka_unit_test(test_prometheus_answer),
		cmocka_unit_test(test_several_gateways),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
