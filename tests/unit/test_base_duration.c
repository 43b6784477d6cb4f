/*
 * Go-syntax durations: parsing, Duration.String() formatting and JSON input,
 * as tables of cases. Expected values are worked out by hand in nanoseconds
 * (1h = 3600 * 10^9), written as the sums they come from; the int64 limit
 * 9223372036854775807ns is 2562047h47m16.854775807s (2562047 * 3600 + 47 * 60
 * + 16 = 9223372036 whole seconds).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/common.h"
#include "base/duration.h"
#include "test_parse_case.h"

#define US INT64_C(1000)
#define MS INT64_C(1000000)
#define SEC INT64_C(1000000000)
#define MIN (60 * SEC)
#define HOUR (3600 * SEC)


/* 64 characters: the longest input accepted. */
#define LEN64 "000000000000000000000000000000000000000000000000000000000000001s"
/* 65 characters: one too many. */
#define LEN65 "0000000000000000000000000000000000000000000000000000000000000001s"

static const struct parse_case parse_cases[] = {
	{"0", 0, 0, NULL},
	{"-0", 0, 0, NULL},
	{"+0", 0, 0, NULL},
	{"0s", 0, 0, NULL},
	{"1ns", 0, 1, NULL},
	{"300us", 0, 300 * US, NULL},
	{"300\xc2\xb5s", 0, 300 * US, NULL}, /* U+00B5 micro sign */
	{"300\xce\xbcs", 0, 300 * US, NULL}, /* U+03BC Greek mu */
	{"500ms", 0, 500 * MS, NULL},
	{"1s", 0, SEC, NULL},
	{"10m", 0, 10 * MIN, NULL},
	{"24h", 0, 24 * HOUR, NULL},
	{"1h30m", 0, HOUR + 30 * MIN, NULL},
	{"1.5h", 0, HOUR + 30 * MIN, NULL},
	{"-1.5h", 0, -(HOUR + 30 * MIN), NULL},
	{"+5s", 0, 5 * SEC, NULL},
	{"2h45m30.5s", 0, 2 * HOUR + 45 * MIN + 30 * SEC + 500 * MS, NULL},
	{"1.5m", 0, 90 * SEC, NULL},
	{".5s", 0, 500 * MS, NULL},
	{"5.s", 0, 5 * SEC, NULL},
	{"1h1h", 0, 2 * HOUR, NULL},
	{"1h.5m", 0, HOUR + 30 * SEC, NULL},
	{"1m1s1ms1us1ns", 0, MIN + SEC + MS + US + 1, NULL},
	{"007s", 0, 7 * SEC, NULL},
	{LEN64, 0, SEC, NULL},
	/* fractions are truncated to whole nanoseconds, exactly */
	{"1.9ns", 0, 1, NULL},
	{"-1.9ns", 0, -1, NULL},
	{"0.5ns", 0, 0, NULL},
	{"1.000000001s", 0, SEC + 1, NULL},
	{"1.0000000019s", 0, SEC + 1, NULL},
	{"1.5us", 0, 1500, NULL},
	/* 0.333333333333 * 3600e9 = 1199999999998.8 */
	{"0.333333333333h", 0, INT64_C(1199999999998), NULL},
	{"0.99999999999999999999999999h", 0, HOUR - 1, NULL},
	/* int64 edges */
	{"2562047h47m16.854775807s", 0, INT64_MAX, NULL},
	{"-2562047h47m16.854775808s", 0, INT64_MIN, NULL},
	{"9223372036854775807ns", 0, INT64_MAX, NULL},
	{"-9223372036854775808ns", 0, INT64_MIN, NULL},
	{"2562047h47m16.854775808s", LLMO_ERANGE, 0,
	 "\"2562047h47m16.854775808s\": value too large (limit is 2562047h47m16.854775807s)"},
	{"-2562047h47m16.854775809s", LLMO_ERANGE, 0,
	 "value too small (limit is -2562047h47m16.854775808s)"},
	{"9223372036854775808ns", LLMO_ERANGE, 0, "value too large"},
	{"2562048h", LLMO_ERANGE, 0, "value too large"},
	{"2562047.9h", LLMO_ERANGE, 0, "value too large"},
	{"99999999999999999999h", LLMO_ERANGE, 0, "value too large"},
	{"99999999999999999999ns", LLMO_ERANGE, 0, "value too large"},
	{"2562047h2562047h", LLMO_ERANGE, 0, "value too large"},
	/* malformed */
	{"", LLMO_EPARSE, 0, "\"\": empty duration"},
	{" 1s", LLMO_EPARSE, 0, "\" 1s\": whitespace is not allowed"},
	{"1 s", LLMO_EPARSE, 0, "whitespace is not allowed"},
	{"1s\n", LLMO_EPARSE, 0, "\"1s\\x0a\": whitespace is not allowed"},
	{"abc", LLMO_EPARSE, 0, "\"abc\": expected a number"},
	{"-", LLMO_EPARSE, 0, "\"-\": expected a number"},
	{"-s", LLMO_EPARSE, 0, "expected a number"},
	{"--1s", LLMO_EPARSE, 0, "expected a number"},
	/* as in Go, a unit runs to the next digit or '.' */
	{"1h-1m", LLMO_EPARSE, 0, "\"1h-1m\": unknown unit \"h-\""},
	{".s", LLMO_EPARSE, 0, "\".s\": expected digits before or after \".\""},
	{"1d", LLMO_EPARSE, 0, "\"1d\": unknown unit \"d\""},
	{"1S", LLMO_EPARSE, 0, "unknown unit \"S\""},
	{"1sec", LLMO_EPARSE, 0, "unknown unit \"sec\""},
	{"1e3s", LLMO_EPARSE, 0, "unknown unit \"e\""},
	{"1\xc2\xb5", LLMO_EPARSE, 0, "unknown unit \"\\xc2\\xb5\""},
	{"10", LLMO_EPARSE, 0, "\"10\": missing unit (ns, us, ms, s, m, h)"},
	{"00", LLMO_EPARSE, 0, "missing unit"},
	{"1h30", LLMO_EPARSE, 0, "\"1h30\": missing unit"},
	{"1.2.3s", LLMO_EPARSE, 0, "missing unit"},
	{LEN65, LLMO_ETOOBIG, 0, "duration longer than 64 characters"},
};

static void test_parse_table(void **state)
{
	for (size_t i = 0; i < LLMO_ARRAY_LEN(parse_cases); i++)
		check_parse_case(llmo_duration_parse, &parse_cases[i]);
}

static void test_parse_long_and_null(void **state)
{
	char big[4096];
	struct llmo_error err = {0};
	int64_t v = 0;

	memset(big, '1', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(llmo_duration_parse(big, &v, &err), LLMO_ETOOBIG);
	assert_non_null(strstr(err.msg, "...\": duration longer than 64 characters"));
	assert_true(strlen(err.msg) < 200);

	assert_int_equal(llmo_duration_parse(NULL, &v, &err), LLMO_EINVAL);
	assert_int_equal(llmo_duration_parse("1s", NULL, &err), LLMO_EINVAL);
	assert_int_equal(llmo_duration_parse("1d", &v, NULL), LLMO_EPARSE);
}

static const struct {
	int64_t ns;
	const char *out;
} format_cases[] = {
	{0, "0s"},
	{1, "1ns"},
	{-1, "-1ns"},
	{999, "999ns"},
	{US, "1\xc2\xb5s"},
	{1500, "1.5\xc2\xb5s"},
	{300 * US, "300\xc2\xb5s"},
	{MS - 1, "999.999\xc2\xb5s"},
	{MS, "1ms"},
	{1500 * US, "1.5ms"},
	{500 * MS, "500ms"},
	{SEC - 1, "999.999999ms"},
	{SEC, "1s"},
	{SEC + 1, "1.000000001s"},
	{1500 * MS, "1.5s"},
	{MIN, "1m0s"},
	{-2 * MIN, "-2m0s"},
	{MIN + SEC + 1, "1m1.000000001s"},
	{HOUR + 30 * MIN, "1h30m0s"},
	{24 * HOUR, "24h0m0s"},
	{2 * HOUR + 45 * MIN + 30 * SEC + 500 * MS, "2h45m30.5s"},
	{INT64_MAX, "2562047h47m16.854775807s"},
	{INT64_MIN, "-2562047h47m16.854775808s"},
};

static void test_format_table(void **state)
{
	for (size_t i = 0; i < LLMO_ARRAY_LEN(format_cases); i++) {
		char out[LLMO_DURATION_FMT_MAX];
		int64_t back = 0;

		assert_int_equal(llmo_duration_format(format_cases[i].ns, out, sizeof(out)), 0);
		if (strcmp(out, format_cases[i].out) != 0)
			fail_msg("format(%" PRId64 ") = \"%s\", want \"%s\"", format_cases[i].ns,
				 out, format_cases[i].out);
		assert_int_equal(llmo_duration_parse(out, &back, NULL), 0);
		assert_true(back == format_cases[i].ns);
	}
}

static void test_format_small_buffer(void **state)
{
	char out[LLMO_DURATION_FMT_MAX];

	/* "-2562047h47m16.854775808s" is 25 bytes, 26 with the NUL. */
	assert_int_equal(llmo_duration_format(INT64_MIN, out, 25), LLMO_ERANGE);
	assert_string_equal(out, "");
	assert_int_equal(llmo_duration_format(INT64_MIN, out, 26), 0);
	assert_string_equal(out, "-2562047h47m16.854775808s");
	assert_int_equal(llmo_duration_format(0, out, 2), LLMO_ERANGE);
	assert_int_equal(llmo_duration_format(0, out, 3), 0);
	assert_string_equal(out, "0s");
	assert_int_equal(llmo_duration_format(0, out, 0), LLMO_ERANGE);
}

/* Non-canonical inputs and their Duration.String() form. */
static const struct {
	const char *in;
	const char *out;
} canonical_cases[] = {
	{"0", "0s"},
	{"90m", "1h30m0s"},
	{"1.5h", "1h30m0s"},
	{"3600s", "1h0m0s"},
	{"1000ms", "1s"},
	{"1000000ns", "1ms"},
	{"300us", "300\xc2\xb5s"},
	{"-0.5s", "-500ms"},
	{"61s", "1m1s"},
};

static void test_canonical(void **state)
{
	for (size_t i = 0; i < LLMO_ARRAY_LEN(canonical_cases); i++) {
		char out[LLMO_DURATION_FMT_MAX];
		int64_t v;

		assert_int_equal(llmo_duration_parse(canonical_cases[i].in, &v, NULL), 0);
		assert_int_equal(llmo_duration_format(v, out, sizeof(out)), 0);
		assert_string_equal(out, canonical_cases[i].out);
	}
}

static void check_round_trip(int64_t v)
{
	char out[LLMO_DURATION_FMT_MAX];
	int64_t back = 0;

	assert_int_equal(llmo_duration_format(v, out, sizeof(out)), 0);
	if (llmo_duration_parse(out, &back, NULL) != 0 || back != v)
		fail_msg("round trip of %" PRId64 " via \"%s\" gave %" PRId64, v, out, back);
}

static void test_round_trip_sweep(void **state)
{
	uint64_t x = UINT64_C(0x9e3779b97f4a7c15);
	int64_t p, v;

	check_round_trip(INT64_MAX);
	check_round_trip(INT64_MIN);
	check_round_trip(INT64_MIN + 1);
	for (int e = 0; e < 63; e++) {
		p = INT64_C(1) << e;
		check_round_trip(p);
		check_round_trip(-p);
		check_round_trip(p - 1);
		check_round_trip(p + 1);
	}
	for (p = 1; p <= INT64_MAX / 10; p *= 10) {
		check_round_trip(p);
		check_round_trip(-p);
		check_round_trip(p * 7 + 3);
	}
	for (int i = 0; i < 100000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		v = (int64_t)(x >> (i % 64));
		check_round_trip((i & 1) && v != INT64_MIN ? -v : v);
	}
}

static void test_to_ms(void **state)
{
	assert_true(llmo_duration_to_ms(0) == 0);
	assert_true(llmo_duration_to_ms(999999) == 0);
	assert_true(llmo_duration_to_ms(1999999) == 1);
	assert_true(llmo_duration_to_ms(-1999999) == -1);
	assert_true(llmo_duration_to_ms(INT64_MAX) == INT64_C(9223372036854));
	assert_true(llmo_duration_to_ms(INT64_MIN) == INT64_C(-9223372036854));
	assert_true(LLMO_NS_PER_HOUR == INT64_C(3600000000000));
	assert_true(LLMO_NS_PER_MIN == INT64_C(60000000000));
	assert_true(LLMO_NS_PER_SEC == INT64_C(1000000000));
	assert_true(LLMO_NS_PER_MS == INT64_C(1000000));
	assert_true(LLMO_NS_PER_US == INT64_C(1000));
}

static const struct {
	const char *json; /* JSON text of the value */
	int rc;
	int64_t ns;
	const char *msg;
} json_cases[] = {
	{"\"500ms\"", 0, 500 * MS, NULL},
	{"\"1h30m\"", 0, HOUR + 30 * MIN, NULL},
	{"\"1d\"", LLMO_EPARSE, 0, "\"1d\": unknown unit \"d\""},
	{"\"1s\\u0000\"", LLMO_EPARSE, 0, "NUL"},
	{"500", LLMO_EINVAL, 0, "expected a duration string such as \"500ms\", got integer"},
	{"1.5", LLMO_EINVAL, 0, "got number"},
	{"null", LLMO_EINVAL, 0, "got null"},
	{"{}", LLMO_EINVAL, 0, "got object"},
	{"[]", LLMO_EINVAL, 0, "got array"},
	{"false", LLMO_EINVAL, 0, "got boolean"},
};

static void test_from_json(void **state)
{
	struct llmo_error err = {0};
	int64_t v = 0;

	for (size_t i = 0; i < LLMO_ARRAY_LEN(json_cases); i++) {
		json_t *j = json_loads(json_cases[i].json, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
		int rc;

		assert_non_null(j);
		v = 0;
		rc = llmo_duration_from_json(j, &v, &err);
		json_decref(j);
		if (rc != json_cases[i].rc)
			fail_msg("from_json(%s): rc %s, want %s (%s)", json_cases[i].json,
				 llmo_errname(rc), llmo_errname(json_cases[i].rc), err.msg);
		if (rc == 0 && v != json_cases[i].ns)
			fail_msg("from_json(%s) = %" PRId64, json_cases[i].json, v);
		if (rc != 0 && !strstr(err.msg, json_cases[i].msg))
			fail_msg("from_json(%s): message \"%s\" lacks \"%s\"", json_cases[i].json,
				 err.msg, json_cases[i].msg);
	}
	assert_int_equal(llmo_duration_from_json(NULL, &v, &err), LLMO_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_table),
		cmocka_unit_test(test_parse_long_and_null),
		cmocka_unit_test(test_format_table),
		cmocka_unit_test(test_format_small_buffer),
		cmocka_unit_test(test_canonical),
		cmocka_unit_test(test_round_trip_sweep),
		cmocka_unit_test(test_to_ms),
		cmocka_unit_test(test_from_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
