/*
 * The Prometheus text reader (metrics/parse.h): samples, labels with
 * escapes, special values, timestamps, what our own registry writes read
 * back, and each malformed line refused with its number.
 */
#include "base/common.h"

#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/buf.h"
#include "metrics/metrics.h"
#include "metrics/parse.h"

/* Each sample as one line "name{a=v,b=w} value" for comparison. */
static int collect(void *arg, const char *name, const struct llmo_prom_label *labels,
		   size_t nlabels, double value)
{
	struct llmo_buf *b = arg;

	assert_int_equal(llmo_buf_puts(b, name), 0);
	assert_int_equal(llmo_buf_puts(b, "{"), 0);
	for (size_t i = 0; i < nlabels; i++)
		assert_int_equal(llmo_buf_appendf(b, "%s%s=%s", i ? "," : "", labels[i].name,
						  labels[i].value),
				 0);
	assert_int_equal(llmo_buf_appendf(b, "} %g\n", value), 0);
	return 0;
}

static char *parse_ok(const char *text)
{
	struct llmo_buf b;
	struct llmo_error err = {0};

	llmo_buf_init(&b, LLMO_BUF_UNLIMITED);
	assert_int_equal(llmo_prom_parse(text, strlen(text), collect, &b, &err), 0);
	return llmo_buf_detach(&b, NULL);
}

static void test_samples(void **state)
{
	char *out = parse_ok("# HELP r_total Requests.\n"
			     "# TYPE r_total counter\n"
			     "r_total{model=\"ns/w\",track=\"canary\",code=\"500\"} 3\n"
			     "\n"
			     "  g 2.5e1 1700000000000\r\n"
			     "x{a=\"q\\\"u\\\\o\\nte\", b = \"\",} -7\n"
			     "h_bucket{le=\"+Inf\"} +Inf\n"
			     "lat:rate5m -Inf");

	(void)state;
	assert_string_equal(out, "r_total{model=ns/w,track=canary,code=500} 3\n"
				 "g{} 25\n"
				 "x{a=q\"u\\o\nte,b=} -7\n"
				 "h_bucket{le=+Inf} inf\n"
				 "lat:rate5m{} -inf\n");
	free(out);
}

static int nan_seen(void *arg, const char *name, const struct llmo_prom_label *labels,
		    size_t nlabels, double value)
{
	(void)name;
	(void)labels;
	(void)nlabels;
	*(bool *)arg = isnan(value);
	return 0;
}

static void test_nan_and_label_lookup(void **state)
{
	struct llmo_prom_label l[] = {{"a", "1"}, {"b", "2"}};
	struct llmo_error err = {0};
	bool nan = false;

	(void)state;
	assert_int_equal(llmo_prom_parse("v NaN\n", 6, nan_seen, &nan, &err), 0);
	assert_true(nan);
	assert_string_equal(llmo_prom_label(l, 2, "b"), "2");
	assert_null(llmo_prom_label(l, 2, "c"));
}

/* What src/metrics writes, read back: the reader and the writer agree. */
static void test_reads_own_registry(void **state)
{
	static const double buckets[] = {0.5};
	struct llmo_metrics *m;
	struct llmo_metric *c, *h;
	struct llmo_buf text;
	char *out;

	(void)state;
	assert_int_equal(llmo_metrics_new(&m), 0);
	assert_int_equal(llmo_metrics_counter(m, "c_total", "C.", (const char *[]){"who"}, 1, &c,
					      NULL),
			 0);
	assert_int_equal(llmo_metrics_histogram(m, "h_seconds", "H.", NULL, 0, buckets, 1, &h,
						NULL),
			 0);
	llmo_metric_add(c, (const char *[]){"a \"b\"\\\n"}, 4);
	llmo_metric_observe(h, NULL, 0.25);
	llmo_metric_observe(h, NULL, 2);
	llmo_buf_init(&text, LLMO_BUF_UNLIMITED);
	assert_int_equal(llmo_metrics_write(m, &text), 0);
	out = parse_ok(text.data);
	assert_string_equal(out, "c_total{who=a \"b\"\\\n} 4\n"
				 "h_seconds_bucket{le=0.5} 1\n"
				 "h_seconds_bucket{le=+Inf} 2\n"
				 "h_seconds_sum{} 2.25\n"
				 "h_seconds_count{} 2\n");
	free(out);
	llmo_buf_release(&text);
	llmo_metrics_free(m);
}

static void expect_error(const char *text, const char *msg)
{
	struct llmo_buf b;
	struct llmo_error err = {0};

	llmo_buf_init(&b, LLMO_BUF_UNLIMITED);
	assert_int_equal(llmo_prom_parse(text, strlen(text), collect, &b, &err), LLMO_EPARSE);
	assert_string_equal(err.msg, msg);
	llmo_buf_release(&b);
}

static void test_errors(void **state)
{
	(void)state;
	expect_error("ok 1\n9bad 1\n", "metrics line 2: expected a metric name");
	expect_error("x{a=b} 1", "metrics line 1: a label value must be in double quotes");
	expect_error("x{a=\"b} 1", "metrics line 1: unterminated label value");
	expect_error("x{a=\"\\t\"} 1", "metrics line 1: unknown escape in a label value "
				       "(only \\\\, \\\" and \\n)");
	expect_error("x{a} 1", "metrics line 1: expected '=' after a label name");
	expect_error("x{a=\"1\" b=\"2\"} 1", "metrics line 1: expected ',' or '}' after a label");
	expect_error("x", "metrics line 1: expected a space after the metric name");
	expect_error("x{} ", "metrics line 1: missing sample value");
	expect_error("\n\nx one", "metrics line 3: the sample value is not a number");
	expect_error("x 1 2 3", "metrics line 1: trailing text after the timestamp");
	expect_error("x 1 t", "metrics line 1: trailing text after the sample value");
}

static int stop_at_second(void *arg, const char *name, const struct llmo_prom_label *labels,
			  size_t nlabels, double value)
{
	int *n = arg;

	(void)name;
	(void)labels;
	(void)nlabels;
	(void)value;
	return ++*n == 2 ? LLMO_EAGAIN : 0;
}

static void test_bounds_and_stop(void **state)
{
	struct llmo_buf big;
	struct llmo_error err = {0};
	int n = 0;

	(void)state;
	assert_int_equal(llmo_prom_parse("a 1\nb 2\nc 3\n", 12, stop_at_second, &n, &err),
			 LLMO_EAGAIN);
	assert_int_equal(n, 2);
	llmo_buf_init(&big, LLMO_BUF_UNLIMITED);
	assert_int_equal(llmo_buf_puts(&big, "x{"), 0);
	for (int i = 0; i <= LLMO_PROM_LABELS_MAX; i++)
		assert_int_equal(llmo_buf_appendf(&big, "l%d=\"v\",", i), 0);
	assert_int_equal(llmo_buf_puts(&big, "} 1"), 0);
	assert_int_equal(llmo_prom_parse(big.data, big.len, collect, NULL, &err), LLMO_EPARSE);
	assert_string_equal(err.msg, "metrics line 1: too many labels");
	big.len = 0;
	for (int i = 0; i < LLMO_PROM_LINE_MAX; i++)
		assert_int_equal(llmo_buf_puts(&big, "y"), 0);
	assert_int_equal(llmo_buf_puts(&big, " 1"), 0);
	assert_int_equal(llmo_prom_parse(big.data, big.len, collect, NULL, &err), LLMO_EPARSE);
	assert_string_equal(err.msg, "metrics line 1: line too long");
	assert_int_equal(llmo_prom_parse("a 1\0b", 5, collect, NULL, &err), LLMO_EPARSE);
	llmo_buf_release(&big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_samples),
		cmocka_unit_test(test_nan_and_label_lookup),
		cmocka_unit_test(test_reads_own_registry),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_bounds_and_stop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
