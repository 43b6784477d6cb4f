/*
 * The arithmetic of `llmo bench load` (src/bench): the fixed-bucket latency
 * histogram and its percentiles, the Poisson and trace-replay schedules, the
 * late-start rule and the --target URL, each on values worked out by hand.
 */
#include "base/common.h"

#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "bench/hist.h"
#include "bench/load.h"
#include "bench/schedule.h"
#include "sim/azure.h"

#define MS INT64_C(1000000)
#define SEC INT64_C(1000000000)

static void test_hist_buckets(void **state)
{
	(void)state;
	/* Below 128 us: one bucket per microsecond. */
	assert_int_equal(llmo_hist_bucket(0), 0);
	assert_int_equal(llmo_hist_bucket(127), 127);
	assert_int_equal(llmo_hist_bucket_top(127), 127);
	/* 128..255: 64 buckets 2 us wide; 128 and 129 share the first. */
	assert_int_equal(llmo_hist_bucket(128), 128);
	assert_int_equal(llmo_hist_bucket(129), 128);
	assert_int_equal(llmo_hist_bucket(130), 129);
	assert_int_equal(llmo_hist_bucket_top(128), 129);
	/* 1000 = 125 << 3: the group of shift 3 starts at 128 + 2 * 64; 1000..1007. */
	assert_int_equal(llmo_hist_bucket(1000), 128 + 2 * 64 + (125 - 64));
	assert_int_equal(llmo_hist_bucket(1007), llmo_hist_bucket(1000));
	assert_int_equal(llmo_hist_bucket(1008), llmo_hist_bucket(1000) + 1);
	assert_int_equal(llmo_hist_bucket_top(llmo_hist_bucket(1000)), 1007);
	/* The last bucket holds the maximum and everything above it. */
	assert_int_equal(llmo_hist_bucket(LLMO_HIST_MAX_US), LLMO_HIST_BUCKETS - 1);
	assert_int_equal(llmo_hist_bucket(UINT64_MAX), LLMO_HIST_BUCKETS - 1);
	assert_int_equal(llmo_hist_bucket_top(LLMO_HIST_BUCKETS - 1), LLMO_HIST_MAX_US);
	/* Every bucket's top is in that bucket and the next value in the next one. */
	for (size_t b = 0; b + 1 < LLMO_HIST_BUCKETS; b++) {
		assert_int_equal(llmo_hist_bucket(llmo_hist_bucket_top(b)), b);
		assert_int_equal(llmo_hist_bucket(llmo_hist_bucket_top(b) + 1), b + 1);
	}
}

static void test_hist_quantiles(void **state)
{
	struct llmo_hist *h = malloc(sizeof(*h));

	(void)state;
	assert_non_null(h);
	llmo_hist_init(h);
	assert_int_equal(llmo_hist_quantile(h, 0.5), 0);
	/* 1..100 us are exact: nearest rank ceil(q * 100). */
	for (uint64_t v = 100; v >= 1; v--)
		llmo_hist_add(h, v);
	assert_int_equal(llmo_hist_quantile(h, 0.5), 50);
	assert_int_equal(llmo_hist_quantile(h, 0.9), 90);
	assert_int_equal(llmo_hist_quantile(h, 0.95), 95);
	assert_int_equal(llmo_hist_quantile(h, 0.99), 99);
	assert_int_equal(llmo_hist_quantile(h, 1), 100);
	assert_int_equal(llmo_hist_quantile(h, 0.001), 1);
	assert_true(fabs(llmo_hist_mean(h) - 50.5) < 1e-9);

	/* 1, 2, 3, 4 ms: ranks 1..4; a bucket reports its top, clamped to min and max. */
	llmo_hist_init(h);
	llmo_hist_add(h, 4000);
	llmo_hist_add(h, 1000);
	llmo_hist_add(h, 3000);
	llmo_hist_add(h, 2000);
	assert_int_equal(llmo_hist_quantile(h, 0.25), 1007); /* 1000..1007 */
	assert_int_equal(llmo_hist_quantile(h, 0.5), 2015);  /* 2000 = 125 << 4: 2000..2015 */
	assert_int_equal(llmo_hist_quantile(h, 0.75), 3007); /* 3000 = 93 << 5: 2976..3007 */
	assert_int_equal(llmo_hist_quantile(h, 0.99), 4000); /* rank 4 = n: the exact max */
	assert_int_equal(h->min, 1000);
	assert_int_equal(h->max, 4000);
	assert_true(fabs(llmo_hist_mean(h) - 2500) < 1e-9);

	/* One sample: every quantile is it, not its bucket's top. */
	llmo_hist_init(h);
	llmo_hist_add(h, 20480);
	assert_int_equal(llmo_hist_quantile(h, 0.5), 20480);
	/* A sample near the bottom of a bucket with the max lower than its top: clamped. */
	llmo_hist_add(h, 1000);
	llmo_hist_add(h, 1001);
	assert_int_equal(llmo_hist_quantile(h, 0.5), 1007);
	free(h);
}

static void test_exp_gap(void **state)
{
	(void)state;
	assert_int_equal(llmo_load_exp_gap(0, 10), 0);
	/* The median gap at 2/s is ln 2 / 2 s = 346573590.3 ns. */
	assert_int_equal(llmo_load_exp_gap(0.5, 2), 346573590);
	/* u = 1 - 1/e: exactly one mean gap, 1/4 s at 4/s. */
	assert_int_equal(llmo_load_exp_gap(1 - exp(-1), 4), 250000000);
}

static void test_poisson(void **state)
{
	struct llmo_load_schedule a, b;
	struct llmo_load_item x, y;
	uint64_t n = 0;
	int64_t last = 0;

	(void)state;
	/*
	 * 10/s for 1000 s: the count is Poisson with mean 10000 and standard
	 * deviation 100; the seed fixes it, and any seed lands within 4.5
	 * deviations but for a chance of 7e-6.
	 */
	llmo_load_schedule_init_poisson(&a, 10, 1000 * SEC, 7, 128, 16);
	llmo_load_schedule_init_poisson(&b, 10, 1000 * SEC, 7, 128, 16);
	while (llmo_load_schedule_next(&a, &x)) {
		assert_true(llmo_load_schedule_next(&b, &y)); /* the same seed, the same times */
		assert_int_equal(x.at, y.at);
		assert_true(x.at >= last && x.at < 1000 * SEC);
		assert_int_equal(x.prompt_tokens, 128);
		assert_int_equal(x.max_tokens, 16);
		last = x.at;
		n++;
	}
	assert_false(llmo_load_schedule_next(&b, &y));
	assert_true(n >= 10000 - 450 && n <= 10000 + 450);

	/* --limit and --max-tokens-cap. */
	llmo_load_schedule_init_poisson(&a, 10, 1000 * SEC, 7, 128, 16);
	a.limit = 3;
	a.max_tokens_cap = 5;
	for (int i = 0; i < 3; i++) {
		assert_true(llmo_load_schedule_next(&a, &x));
		assert_int_equal(x.max_tokens, 5);
	}
	assert_false(llmo_load_schedule_next(&a, &x));
}

static void test_trace_replay(void **state)
{
	static const char csv[] = "TIMESTAMP,ContextTokens,GeneratedTokens\n"
				  "2023-11-16 18:15:46.0,10,5\n"
				  "2023-11-16 18:15:49.0,200000,7\n" /* out of order */
				  "2023-11-16 18:15:47.0,0,0\n";
	struct llmo_strv problems = LLMO_STRV_INIT;
	struct llmo_sim_azure t;
	struct llmo_load_schedule s;
	struct llmo_load_item it;

	(void)state;
	llmo_sim_azure_init(&t);
	assert_int_equal(llmo_sim_azure_parse(&t, csv, strlen(csv), "t.csv", &problems), 0);

	/* Arrivals 0, 1, 3 s at speedup 2: 0, 0.5, 1.5 s; prompts clamped to [1, 131072]. */
	llmo_load_schedule_init_trace(&s, &t, 2);
	assert_true(llmo_load_schedule_next(&s, &it));
	assert_int_equal(it.at, 0);
	assert_int_equal(it.prompt_tokens, 10);
	assert_int_equal(it.max_tokens, 5);
	assert_true(llmo_load_schedule_next(&s, &it));
	assert_int_equal(it.at, 500 * MS);
	assert_int_equal(it.prompt_tokens, 1);
	assert_int_equal(it.max_tokens, 1);
	assert_true(llmo_load_schedule_next(&s, &it));
	assert_int_equal(it.at, 1500 * MS);
	assert_int_equal(it.prompt_tokens, LLMO_LOAD_PROMPT_TOKENS_MAX);
	assert_int_equal(it.max_tokens, 7);
	assert_false(llmo_load_schedule_next(&s, &it));

	/* --duration 1s at speedup 1: of the arrivals at 0, 1 and 3 s only 0 is before 1 s. */
	llmo_load_schedule_init_trace(&s, &t, 1);
	s.duration = 1 * SEC;
	assert_true(llmo_load_schedule_next(&s, &it));
	assert_false(llmo_load_schedule_next(&s, &it));

	/* --limit 2, --max-tokens-cap 6. */
	llmo_load_schedule_init_trace(&s, &t, 0.5);
	s.limit = 2;
	s.max_tokens_cap = 6;
	assert_true(llmo_load_schedule_next(&s, &it));
	assert_int_equal(it.max_tokens, 5);
	assert_true(llmo_load_schedule_next(&s, &it));
	assert_int_equal(it.at, 2 * SEC);
	assert_false(llmo_load_schedule_next(&s, &it));
	llmo_sim_azure_release(&t);
	llmo_strv_release(&problems);
}

static void test_late(void **state)
{
	(void)state;
	assert_false(llmo_load_is_late(5 * SEC, 5 * SEC));
	assert_false(llmo_load_is_late(5 * SEC, 5 * SEC + LLMO_LOAD_LATE_NS));
	assert_true(llmo_load_is_late(5 * SEC, 5 * SEC + LLMO_LOAD_LATE_NS + 1));
	assert_false(llmo_load_is_late(5 * SEC, 4 * SEC)); /* early is not late */
}

static void test_target(void **state)
{
	struct llmo_load_opts o;
	struct llmo_error err = {0};

	(void)state;
	memset(&o, 0, sizeof(o));
	assert_int_equal(llmo_load_target(&o, "http://127.0.0.1:8080", &err), 0);
	assert_string_equal(o.host, "127.0.0.1");
	assert_int_equal(o.port, 8080);
	assert_string_equal(o.path, "/v1/completions");
	assert_string_equal(o.url, "http://127.0.0.1:8080/v1/completions");
	assert_int_equal(llmo_load_target(&o, "http://gw/", &err), 0);
	assert_int_equal(o.port, 80);
	assert_string_equal(o.path, "/v1/completions");
	assert_int_equal(llmo_load_target(&o, "http://gw:1/tenant/a/", &err), 0);
	assert_string_equal(o.path, "/tenant/a/v1/completions");
	assert_int_equal(llmo_load_target(&o, "http://gw:1/openai/completions", &err), 0);
	assert_string_equal(o.path, "/openai/completions");
	assert_int_equal(llmo_load_target(&o, "https://gw:1", &err), LLMO_EINVAL);
	assert_non_null(strstr(err.msg, "http://"));
	assert_int_equal(llmo_load_target(&o, "gw:1", &err), LLMO_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hist_buckets),  cmocka_unit_test(test_hist_quantiles),
		cmocka_unit_test(test_exp_gap),	      cmocka_unit_test(test_poisson),
		cmocka_unit_test(test_trace_replay),  cmocka_unit_test(test_late),
		cmocka_unit_test(test_target),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
