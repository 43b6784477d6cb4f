#include "base/common.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>

#include "base/str.h"

static void test_strdup(void **state)
{
	char *p;

	p = llmo_strdup("model");
	assert_non_null(p);
	assert_string_equal(p, "model");
	free(p);
	p = llmo_strdup("");
	assert_string_equal(p, "");
	free(p);
	assert_null(llmo_strdup(NULL));

	p = llmo_strndup("llama2-7b", 6);
	assert_string_equal(p, "llama2");
	free(p);
	/* Stops at the NUL before n. */
	p = llmo_strndup("ab", 10);
	assert_string_equal(p, "ab");
	free(p);
	p = llmo_strndup("abc", 0);
	assert_string_equal(p, "");
	free(p);
	assert_null(llmo_strndup(NULL, 3));
}

static const struct {
	const char *in;
	int64_t want;
} int_ok[] = {
	{"0", 0},
	{"-0", 0},
	{"+0", 0},
	{"42", 42},
	{"+42", 42},
	{"-42", -42},
	{"007", 7},
	{"9223372036854775807", INT64_MAX},
	{"-9223372036854775808", INT64_MIN},
	{"-9223372036854775807", -INT64_MAX},
};

static const struct {
	const char *in;
	int code;
	const char *msg;
} int_bad[] = {
	{"", LLMO_EPARSE, "\"\": not an integer"},
	{"+", LLMO_EPARSE, "\"+\": not an integer"},
	{"-", LLMO_EPARSE, "\"-\": not an integer"},
	{" 1", LLMO_EPARSE, "\" 1\": not an integer"},
	{"1 ", LLMO_EPARSE, "\"1 \": not an integer"},
	{"12abc", LLMO_EPARSE, "\"12abc\": not an integer"},
	{"0x10", LLMO_EPARSE, "\"0x10\": not an integer"},
	{"1.5", LLMO_EPARSE, "\"1.5\": not an integer"},
	{"1e3", LLMO_EPARSE, "\"1e3\": not an integer"},
	{"--1", LLMO_EPARSE, "\"--1\": not an integer"},
	{"1_000", LLMO_EPARSE, "\"1_000\": not an integer"},
	{"9223372036854775808", LLMO_ERANGE,
	 "\"9223372036854775808\": integer out of range for 64 bits"},
	{"-9223372036854775809", LLMO_ERANGE,
	 "\"-9223372036854775809\": integer out of range for 64 bits"},
	{"99999999999999999999999", LLMO_ERANGE,
	 "\"99999999999999999999999\": integer out of range for 64 bits"},
	/* Garbage after an overflowing prefix is still garbage. */
	{"99999999999999999999999x", LLMO_EPARSE, "\"99999999999999999999999x\": not an integer"},
};

static void test_parse_int64(void **state)
{
	struct llmo_error err;
	int64_t v;

	for (size_t i = 0; i < LLMO_ARRAY_LEN(int_ok); i++) {
		v = 1;
		assert_int_equal(llmo_parse_int64(int_ok[i].in, &v, &err), 0);
		assert_true(v == int_ok[i].want);
	}
	for (size_t i = 0; i < LLMO_ARRAY_LEN(int_bad); i++) {
		llmo_error_clear(&err);
		v = 1;
		assert_int_equal(llmo_parse_int64(int_bad[i].in, &v, &err), int_bad[i].code);
		assert_int_equal(err.code, int_bad[i].code);
		assert_string_equal(err.msg, int_bad[i].msg);
		assert_int_equal(v, 1);
	}
	assert_int_equal(llmo_parse_int64("x", &v, NULL), LLMO_EPARSE);
	assert_int_equal(llmo_parse_int64(NULL, &v, &err), LLMO_EINVAL);
}

static void test_parse_int64_long_input_is_excerpted(void **state)
{
	char in[100], want[LLMO_ERRMSG_MAX];
	struct llmo_error err;
	int64_t v;

	memset(in, '7', sizeof(in) - 1);
	in[sizeof(in) - 1] = '\0';
	in[80] = 'z';
	snprintf(want, sizeof(want), "\"%.64s...\": not an integer", in);
	assert_int_equal(llmo_parse_int64(in, &v, &err), LLMO_EPARSE);
	assert_string_equal(err.msg, want);
}

static void test_parse_int_range(void **state)
{
	struct llmo_error err;
	int64_t v = 0;

	assert_int_equal(llmo_parse_int_range("8080", 1, 65535, &v, &err), 0);
	assert_int_equal(v, 8080);
	assert_int_equal(llmo_parse_int_range("1", 1, 65535, &v, &err), 0);
	assert_int_equal(v, 1);
	assert_int_equal(llmo_parse_int_range("65535", 1, 65535, &v, &err), 0);
	assert_int_equal(v, 65535);

	v = 5;
	assert_int_equal(llmo_parse_int_range("65536", 1, 65535, &v, &err), LLMO_ERANGE);
	assert_string_equal(err.msg, "\"65536\": must be between 1 and 65535");
	assert_int_equal(v, 5);
	assert_int_equal(llmo_parse_int_range("0", 1, 65535, &v, &err), LLMO_ERANGE);
	assert_string_equal(err.msg, "\"0\": must be between 1 and 65535");
	assert_int_equal(llmo_parse_int_range("-3", -2, 2, &v, &err), LLMO_ERANGE);
	assert_string_equal(err.msg, "\"-3\": must be between -2 and 2");
	assert_int_equal(llmo_parse_int_range("http", 1, 65535, &v, &err), LLMO_EPARSE);
	assert_string_equal(err.msg, "\"http\": not an integer");
	assert_int_equal(v, 5);
}

static const struct {
	const char *in;
	double want;
} dbl_ok[] = {
	{"0", 0.0},     {"-0", -0.0},       {"1.5", 1.5},     {"+1.5", 1.5},
	{"-2.25", -2.25}, {"1.", 1.0},      {".5", 0.5},      {"2e3", 2000.0},
	{"2E-3", 0.002}, {"1.5e+2", 150.0}, {"0.1", 0.1},     {"007.5", 7.5},
	{"1e-400", 0.0}, /* underflow rounds to zero */
	{"1.7976931348623157e308", 1.7976931348623157e308},
};

static const struct {
	const char *in;
	int code;
} dbl_bad[] = {
	{"", LLMO_EPARSE},       {".", LLMO_EPARSE},       {"-", LLMO_EPARSE},
	{"e5", LLMO_EPARSE},     {"1e", LLMO_EPARSE},      {"1e+", LLMO_EPARSE},
	{" 1", LLMO_EPARSE},     {"1 ", LLMO_EPARSE},      {"1,5", LLMO_EPARSE},
	{"0x1p3", LLMO_EPARSE},  {"inf", LLMO_EPARSE},     {"-infinity", LLMO_EPARSE},
	{"nan", LLMO_EPARSE},    {"1.2.3", LLMO_EPARSE},   {"1e5x", LLMO_EPARSE},
	{"1e400", LLMO_ERANGE},  {"-1e400", LLMO_ERANGE},  {"1.8e308", LLMO_ERANGE},
};

static void test_parse_double(void **state)
{
	struct llmo_error err;
	char want[LLMO_ERRMSG_MAX];
	double v;

	for (size_t i = 0; i < LLMO_ARRAY_LEN(dbl_ok); i++) {
		v = 99.0;
		assert_int_equal(llmo_parse_double(dbl_ok[i].in, &v, &err), 0);
		assert_true(v == dbl_ok[i].want);
	}
	v = 1.0;
	assert_int_equal(llmo_parse_double("-0", &v, NULL), 0);
	assert_true(signbit(v));
	for (size_t i = 0; i < LLMO_ARRAY_LEN(dbl_bad); i++) {
		v = 99.0;
		assert_int_equal(llmo_parse_double(dbl_bad[i].in, &v, &err), dbl_bad[i].code);
		snprintf(want, sizeof(want), "\"%s\": %s", dbl_bad[i].in,
			 dbl_bad[i].code == LLMO_ERANGE ? "number out of range" : "not a number");
		assert_string_equal(err.msg, want);
		assert_true(v == 99.0);
	}
}

static void test_parse_bool(void **state)
{
	static const char *const yes[] = {"true", "TRUE", "True", "yes", "Yes", "on", "ON", "1"};
	static const char *const no[] = {"false", "FALSE", "no", "No", "off", "Off", "0"};
	static const char *const bad[] = {"", "y", "n", "2", "truee", " true", "enabled", "-1"};
	struct llmo_error err;
	char want[LLMO_ERRMSG_MAX];
	bool v;

	for (size_t i = 0; i < LLMO_ARRAY_LEN(yes); i++) {
		v = false;
		assert_int_equal(llmo_parse_bool(yes[i], &v, &err), 0);
		assert_true(v);
	}
	for (size_t i = 0; i < LLMO_ARRAY_LEN(no); i++) {
		v = true;
		assert_int_equal(llmo_parse_bool(no[i], &v, &err), 0);
		assert_false(v);
	}
	for (size_t i = 0; i < LLMO_ARRAY_LEN(bad); i++) {
		v = true;
		assert_int_equal(llmo_parse_bool(bad[i], &v, &err), LLMO_EPARSE);
		snprintf(want, sizeof(want),
			 "\"%s\": not a boolean (expected true/false, yes/no, on/off or 1/0)", bad[i]);
		assert_string_equal(err.msg, want);
		assert_true(v);
	}
}

static void test_prefix_suffix(void **state)
{
	assert_true(llmo_str_has_prefix("llm.orchestrator.io/v1", "llm.orchestrator.io/"));
	assert_true(llmo_str_has_prefix("abc", ""));
	assert_true(llmo_str_has_prefix("abc", "abc"));
	assert_false(llmo_str_has_prefix("abc", "abcd"));
	assert_false(llmo_str_has_prefix("abc", "b"));
	assert_false(llmo_str_has_prefix("", "a"));
	assert_true(llmo_str_has_prefix("", ""));

	assert_true(llmo_str_has_suffix("crd.yaml", ".yaml"));
	assert_true(llmo_str_has_suffix("abc", ""));
	assert_true(llmo_str_has_suffix("abc", "abc"));
	assert_false(llmo_str_has_suffix("abc", "xabc"));
	assert_false(llmo_str_has_suffix("crd.yml", ".yaml"));
	assert_false(llmo_str_has_suffix("", "a"));
	assert_true(llmo_str_has_suffix("", ""));
}

static void assert_strv(const struct llmo_strv *v, const char *const *want, size_t n)
{
	assert_int_equal(v->len, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(v->items[i], want[i]);
	assert_null(v->items[n]);
}

static void test_host_loopback(void **state)
{
	(void)state;
	assert_true(llmo_host_loopback("127.0.0.1"));
	assert_true(llmo_host_loopback("127.255.0.9"));
	assert_true(llmo_host_loopback("::1"));
	assert_true(llmo_host_loopback("::ffff:127.0.0.1"));
	assert_true(llmo_host_loopback("localhost"));
	assert_false(llmo_host_loopback("128.0.0.1"));
	assert_false(llmo_host_loopback("10.0.0.1"));
	assert_false(llmo_host_loopback("0.0.0.0"));
	assert_false(llmo_host_loopback("::"));
	assert_false(llmo_host_loopback("::ffff:10.0.0.1"));
	assert_false(llmo_host_loopback("fe80::1"));
	assert_false(llmo_host_loopback("example.com"));
	assert_false(llmo_host_loopback(""));
}

static void test_split(void **state)
{
	struct llmo_strv v = LLMO_STRV_INIT;

	assert_int_equal(llmo_str_split("a,b,c", ',', &v), 0);
	assert_strv(&v, (const char *const[]){"a", "b", "c"}, 3);
	llmo_strv_release(&v);
	assert_null(v.items);
	assert_int_equal(v.len, 0);

	assert_int_equal(llmo_str_split("a,,b,", ',', &v), 0);
	assert_strv(&v, (const char *const[]){"a", "", "b", ""}, 4);
	llmo_strv_release(&v);

	assert_int_equal(llmo_str_split("", ',', &v), 0);
	assert_strv(&v, (const char *const[]){""}, 1);
	llmo_strv_release(&v);

	assert_int_equal(llmo_str_split(",", ',', &v), 0);
	assert_strv(&v, (const char *const[]){"", ""}, 2);
	llmo_strv_release(&v);

	assert_int_equal(llmo_str_split("no-separator", ',', &v), 0);
	assert_strv(&v, (const char *const[]){"no-separator"}, 1);
	llmo_strv_release(&v);

	/* NUL as the separator: the whole string is one piece. */
	assert_int_equal(llmo_str_split("a,b", '\0', &v), 0);
	assert_strv(&v, (const char *const[]){"a,b"}, 1);
	llmo_strv_release(&v);
}

static void test_split_appends_and_grows(void **state)
{
	struct llmo_strv v = LLMO_STRV_INIT;
	char big[400];
	char want[8];

	assert_int_equal(llmo_strv_push(&v, "first"), 0);
	assert_int_equal(llmo_str_split("x:y", ':', &v), 0);
	assert_strv(&v, (const char *const[]){"first", "x", "y"}, 3);
	llmo_strv_release(&v);

	/* 100 pieces forces several reallocations; the terminator follows. */
	big[0] = '\0';
	for (int i = 0; i < 100; i++) {
		size_t len = strlen(big);

		snprintf(big + len, sizeof(big) - len, i ? ",%d" : "%d", i);
	}
	assert_int_equal(llmo_str_split(big, ',', &v), 0);
	assert_int_equal(v.len, 100);
	for (int i = 0; i < 100; i++) {
		snprintf(want, sizeof(want), "%d", i);
		assert_string_equal(v.items[i], want);
	}
	assert_null(v.items[100]);
	llmo_strv_release(&v);
	/* Releasing an empty list is fine. */
	llmo_strv_release(&v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strdup),
		cmocka_unit_test(test_parse_int64),
		cmocka_unit_test(test_parse_int64_long_input_is_excerpted),
		cmocka_unit_test(test_parse_int_range),
		cmocka_unit_test(test_parse_double),
		cmocka_unit_test(test_parse_bool),
		cmocka_unit_test(test_prefix_suffix),
		cmocka_unit_test(test_host_loopback),
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_split_appends_and_grows),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
