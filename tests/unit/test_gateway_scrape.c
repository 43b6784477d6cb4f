/*
 * Backend metrics (gateway/scrape.h): what is read from a replica's
 * /metrics answer, in each framing, and what is refused; and that the
 * waiting requests it reports count into the load the balancer compares.
 */
#include "base/common.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "gateway/balance.h"
#include "gateway/scrape.h"
#include "gateway/table.h"

#define TEXT                                                                                    \
	"# HELP vllm:num_requests_waiting Number of requests waiting to be processed.\n"       \
	"# TYPE vllm:num_requests_waiting gauge\n"                                             \
	"vllm:num_requests_waiting{model_name=\"a\"} 3\n"                                      \
	"vllm:num_requests_waiting{model_name=\"b\"} 2.0\n"                                    \
	"vllm:num_requests_running{model_name=\"a\"} 7\n"                                      \
	"vllm:gpu_cache_usage_perc{model_name=\"a\"} 0.25\n"                                   \
	"vllm:gpu_cache_usage_perc{model_name=\"b\"} 0.5\n"                                    \
	"vllm:prompt_tokens_total{model_name=\"a\"} 1e6\n"

static int parse(const char *resp, struct llmo_gw_scraped *out)
{
	return llmo_gw_scrape_parse(resp, strlen(resp), out, NULL);
}

static void test_framings(void **state)
{
	char resp[1024];
	struct llmo_gw_scraped v;

	/* Content-Length (what vLLM and inference-sim send) */
	snprintf(resp, sizeof(resp), "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n%s",
		 strlen(TEXT), TEXT);
	assert_int_equal(parse(resp, &v), 0);
	assert_int_equal(v.waiting, 5); /* summed over the model names */
	assert_int_equal(v.running, 7);
	assert_true(v.kv_usage == 0.5); /* the largest */
	/* chunked */
	snprintf(resp, sizeof(resp),
		 "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n%zx\r\n%s\r\n0\r\n\r\n",
		 strlen(TEXT), TEXT);
	assert_int_equal(parse(resp, &v), 0);
	assert_int_equal(v.waiting, 5);
	/* up to the close */
	snprintf(resp, sizeof(resp), "HTTP/1.0 200 OK\r\n\r\n%s", TEXT);
	assert_int_equal(parse(resp, &v), 0);
	assert_int_equal(v.running, 7);
	/* none of the series: -1 each */
	assert_int_equal(parse("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nup 1\n\n", &v), 0);
	assert_true(v.waiting == -1 && v.running == -1 && v.kv_usage == -1);
}

static void test_values_bounded(void **state)
{
	struct llmo_gw_scraped v;

	assert_int_equal(parse("HTTP/1.0 200 OK\r\n\r\n"
			       "vllm:num_requests_waiting{model_name=\"a\"} -4\n"
			       "vllm:num_requests_running NaN\n"
			       "vllm:kv_cache_usage_perc 7\n",
			       &v),
			 0);
	assert_int_equal(v.waiting, 0);
	assert_int_equal(v.running, 0);
	assert_true(v.kv_usage == 1);
	assert_int_equal(parse("HTTP/1.0 200 OK\r\n\r\n"
			       "vllm:num_requests_waiting 1e300\n"
			       "vllm:num_requests_waiting +Inf\n",
			       &v),
			 0);
	assert_int_equal(v.waiting, LLMO_GW_SCRAPE_COUNT_MAX);
}

static void test_refused(void **state)
{
	struct llmo_gw_scraped v;

	assert_int_equal(parse("HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n", &v), LLMO_ERANGE);
	assert_int_equal(parse("HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nshort", &v),
			 LLMO_EPARSE);
	assert_int_equal(parse("HTTP/1.1 200 OK\r\nContent-Le", &v), LLMO_EPARSE);
	assert_int_equal(parse("garbage\r\n\r\n", &v), LLMO_EPARSE);
	assert_int_equal(parse("HTTP/1.0 200 OK\r\n\r\nvllm:num_requests_waiting{x=} 1\n", &v),
			 LLMO_EPARSE);
	assert_int_equal(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", &v),
			 LLMO_EPARSE);
	assert_int_equal(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", &v),
			 LLMO_EPARSE);
}

static void test_waiting_counts_as_load(void **state)
{
	static const struct llmo_gw_balance_opts o = {.failures = 3};
	struct llmo_gw_backends r;
	struct llmo_gw_table *t;
	struct llmo_gw_model *m;
	struct llmo_rng rng;

	llmo_gw_backends_init(&r, NULL, NULL);
	assert_int_equal(llmo_gw_table_new(&t), 0);
	assert_int_equal(llmo_gw_table_add_model(t, "m", &m, NULL), 0);
	assert_int_equal(llmo_gw_table_add_endpoint(t, &r, m, "127.0.0.1:1", "m", NULL, 1, false,
						    NULL), 0);
	assert_int_equal(llmo_gw_table_add_endpoint(t, &r, m, "127.0.0.1:2", "m", NULL, 1, false,
						    NULL), 0);
	llmo_rng_seed(&rng, 3);
	/* 2 in flight here, against 0 in flight but 3 waiting in its own queue */
	m->eps.items[0].backend->inflight = 2;
	m->eps.items[1].backend->waiting = 3;
	for (int k = 0; k < 100; k++)
		assert_int_equal(llmo_gw_pick(m, NULL, 0, 0, &o, &rng), 0);
	m->eps.items[1].backend->waiting = 1;
	for (int k = 0; k < 100; k++)
		assert_int_equal(llmo_gw_pick(m, NULL, 0, 0, &o, &rng), 1);
	llmo_gw_table_unref(t);
	llmo_gw_backends_release(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_framings),
		cmocka_unit_test(test_values_bounded),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_waiting_counts_as_load),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
