/*
 * The Prometheus registry the gateway exposes (metrics/metrics.h): the
 * exact text exposition of counters, gauges and histograms, label value
 * escaping, removal, the series cap, and names refused.
 */
#include "base/common.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/buf.h"
#include "base/log.h"
#include "metrics/metrics.h"

static char *expose(const struct llmo_metrics *m)
{
	struct llmo_buf b;

	llmo_buf_init(&b, LLMO_BUF_UNLIMITED);
	assert_int_equal(llmo_metrics_write(m, &b), 0);
	return llmo_buf_detach(&b, NULL);
}

static void test_exposition(void **state)
{
	static const double buckets[] = {0.1, 1};
	struct llmo_metrics *m;
	struct llmo_metric *c, *g, *h, *plain;
	struct llmo_series *s;
	char *text;

	assert_int_equal(llmo_metrics_new(&m), 0);
	assert_int_equal(llmo_metrics_counter(m, "x_requests_total", "Requests.",
					      (const char *[]){"model", "code"}, 2, &c, NULL),
			 0);
	assert_int_equal(llmo_metrics_gauge(m, "x_inflight", "In flight\nnow.",
					    (const char *[]){"backend"}, 1, &g, NULL),
			 0);
	assert_int_equal(llmo_metrics_histogram(m, "x_seconds", "Latency.",
						(const char *[]){"model"}, 1, buckets, 2, &h, NULL),
			 0);
	assert_int_equal(llmo_metrics_gauge(m, "x_up", "Up.", NULL, 0, &plain, NULL), 0);
	llmo_metric_add(c, (const char *[]){"a", "200"}, 1);
	llmo_metric_add(c, (const char *[]){"a", "200"}, 2);
	llmo_metric_add(c, (const char *[]){"q\"u\\o\nte", "404"}, 1);
	s = llmo_metric_series(g, (const char *[]){"10.0.0.1:80"});
	llmo_series_set(s, 3);
	llmo_series_add(s, -1);
	assert_ptr_equal(s, llmo_metric_series(g, (const char *[]){"10.0.0.1:80"}));
	llmo_metric_observe(h, (const char *[]){"a"}, 0.05);
	llmo_metric_observe(h, (const char *[]){"a"}, 0.1); /* le is inclusive */
	llmo_metric_observe(h, (const char *[]){"a"}, 0.5);
	llmo_metric_observe(h, (const char *[]){"a"}, 7);
	llmo_metric_set(plain, NULL, 1);
	text = expose(m);
	assert_string_equal(text,
		"# HELP x_requests_total Requests.\n"
		"# TYPE x_requests_total counter\n"
		"x_requests_total{model=\"a\",code=\"200\"} 3\n"
		"x_requests_total{model=\"q\\\"u\\\\o\\nte\",code=\"404\"} 1\n"
		"# HELP x_inflight In flight\\nnow.\n"
		"# TYPE x_inflight gauge\n"
		"x_inflight{backend=\"10.0.0.1:80\"} 2\n"
		"# HELP x_seconds Latency.\n"
		"# TYPE x_seconds histogram\n"
		"x_seconds_bucket{model=\"a\",le=\"0.1\"} 2\n"
		"x_seconds_bucket{model=\"a\",le=\"1\"} 3\n"
		"x_seconds_bucket{model=\"a\",le=\"+Inf\"} 4\n"
		"x_seconds_sum{model=\"a\"} 7.65\n"
		"x_seconds_count{model=\"a\"} 4\n"
		"# HELP x_up Up.\n"
		"# TYPE x_up gauge\n"
		"x_up 1\n");
	free(text);
	/* removal and clearing */
	assert_int_equal(llmo_metric_remove(g, (const char *[]){"10.0.0.1:80"}), 0);
	assert_int_equal(llmo_metric_remove(g, (const char *[]){"10.0.0.1:80"}), LLMO_ENOTFOUND);
	llmo_metric_clear(c);
	assert_int_equal(llmo_metric_count(c), 0);
	llmo_metric_add(c, (const char *[]){"b", "500"}, 1);
	text = expose(m);
	assert_non_null(strstr(text, "x_requests_total{model=\"b\",code=\"500\"} 1\n"));
	assert_null(strstr(text, "x_inflight{"));
	free(text);
	llmo_metrics_free(m);
}

static void test_series_cap(void **state)
{
	struct llmo_metrics *m;
	struct llmo_metric *c;
	char v[32];

	llmo_log_set_level(LLMO_LOG_ERROR);
	assert_int_equal(llmo_metrics_new(&m), 0);
	assert_int_equal(llmo_metrics_counter(m, "c_total", "C.", (const char *[]){"k"}, 1, &c, NULL), 0);
	for (int i = 0; i < LLMO_METRICS_SERIES_MAX + 10; i++) {
		snprintf(v, sizeof(v), "v%d", i);
		llmo_metric_add(c, (const char *[]){v}, 1);
	}
	assert_int_equal(llmo_metric_count(c), LLMO_METRICS_SERIES_MAX);
	assert_null(llmo_metric_series(c, (const char *[]){"another"}));
	/* existing series still count */
	assert_non_null(llmo_metric_series(c, (const char *[]){"v0"}));
	llmo_metrics_free(m);
}

/* A collected family: its samples come from the callback at each write, none stored. */
struct rows {
	int n;		/* samples to emit */
	double base;	/* the first one's value */
};

static int emit_rows(void *ctx, struct llmo_metric_emitter *e)
{
	const struct rows *r = ctx;
	int rc = 0;

	for (int i = 0; i < r->n && !rc; i++) {
		char model[16];

		snprintf(model, sizeof(model), "m%d", i);
		rc = llmo_metric_emit(e, (const char *[]){model, i ? "draining" : "re\"ady"},
				      r->base + i);
	}
	return rc;
}

static void test_collected_family(void **state)
{
	static const double buckets[] = {1};
	struct llmo_metrics *m;
	struct llmo_metric *g, *h;
	struct rows rows = {.n = 0, .base = 0};
	struct llmo_buf small;
	char *text;

	assert_int_equal(llmo_metrics_new(&m), 0);
	assert_int_equal(llmo_metrics_gauge(m, "x_endpoints", "Endpoints.",
					    (const char *[]){"model", "state"}, 2, &g, NULL),
			 0);
	assert_int_equal(llmo_metrics_histogram(m, "x_seconds", "S.", NULL, 0, buckets, 1, &h,
						NULL),
			 0);
	assert_int_equal(llmo_metric_set_collect(h, emit_rows, &rows), LLMO_EINVAL);
	assert_int_equal(llmo_metric_set_collect(g, emit_rows, &rows), 0);
	/* a stored series of a collected family is not written */
	llmo_metric_set(g, (const char *[]){"stored", "ready"}, 7);
	text = expose(m);
	assert_string_equal(text, "# HELP x_endpoints Endpoints.\n"
				  "# TYPE x_endpoints gauge\n"
				  "# HELP x_seconds S.\n"
				  "# TYPE x_seconds histogram\n");
	free(text);
	/* read at each write: what the callback's source says now, escaped like stored ones */
	rows = (struct rows){.n = 2, .base = 3};
	text = expose(m);
	assert_string_equal(text, "# HELP x_endpoints Endpoints.\n"
				  "# TYPE x_endpoints gauge\n"
				  "x_endpoints{model=\"m0\",state=\"re\\\"ady\"} 3\n"
				  "x_endpoints{model=\"m1\",state=\"draining\"} 4\n"
				  "# HELP x_seconds S.\n"
				  "# TYPE x_seconds histogram\n");
	free(text);
	/* the output's error comes back through the callback */
	llmo_buf_init(&small, 64);
	assert_int_equal(llmo_metrics_write(m, &small), LLMO_ETOOBIG);
	llmo_buf_release(&small);
	llmo_metrics_free(m);
}

static void test_bad_names(void **state)
{
	static const double one[] = {1}, down[] = {2, 1};
	struct llmo_metrics *m;
	struct llmo_metric *f;
	struct llmo_error err = {0};

	assert_int_equal(llmo_metrics_new(&m), 0);
	assert_int_equal(llmo_metrics_counter(m, "9lives", "", NULL, 0, &f, &err), LLMO_EINVAL);
	assert_int_equal(llmo_metrics_counter(m, "a-b", "", NULL, 0, &f, &err), LLMO_EINVAL);
	assert_int_equal(llmo_metrics_counter(m, "ok_total", "", (const char *[]){"__x"}, 1, &f, &err),
			 LLMO_EINVAL);
	assert_int_equal(llmo_metrics_counter(m, "ok_total", "", (const char *[]){"a:b"}, 1, &f, &err),
			 LLMO_EINVAL);
	assert_int_equal(llmo_metrics_counter(m, "ok_total", "", (const char *[]){"a", "a"}, 2, &f, &err),
			 LLMO_EINVAL);
	assert_int_equal(llmo_metrics_histogram(m, "h", "", (const char *[]){"le"}, 1, one, 1, &f, &err),
			 LLMO_EINVAL);
	assert_int_equal(llmo_metrics_histogram(m, "h", "", NULL, 0, down, 2, &f, &err), LLMO_EINVAL);
	assert_int_equal(llmo_metrics_counter(m, "ns:ok_total", "", NULL, 0, &f, &err), 0);
	assert_int_equal(llmo_metrics_gauge(m, "ns:ok_total", "", NULL, 0, &f, &err), LLMO_EINVAL);
	assert_non_null(strstr(err.msg, "twice"));
	llmo_metrics_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exposition),
		cmocka_unit_test(test_series_cap),
		cmocka_unit_test(test_collected_family),
		cmocka_unit_test(test_bad_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
