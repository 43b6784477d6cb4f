/*
 * Kubernetes quantities: parsing, formatting, JSON input and checked
 * arithmetic, as tables of cases. Expected values are worked out by hand from
 * the suffix definitions (Gi = 2^30 = 1073741824, M = 10^6, milli = 10^-3),
 * written as the products they come from.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/common.h"
#include "base/quantity.h"
#include "test_parse_case.h"

#define KI INT64_C(1024)
#define MI (KI * KI)
#define GI (MI * KI)
#define TI (GI * KI)
#define PI (TI * KI)


/* 64 characters: the longest input accepted. */
#define LEN64 "000000000000000000000000000000000000000000000000000000000000001k"
/* 65 characters: one too many. */
#define LEN65 "0000000000000000000000000000000000000000000000000000000000000001k"

static const struct parse_case parse_cases[] = {
	/* plain numbers: units, so times 1000 */
	{"0", 0, 0, NULL},
	{"2", 0, 2000, NULL},
	{"+3", 0, 3000, NULL},
	{"-0", 0, 0, NULL},
	{"007", 0, 7000, NULL},
	{"1.5", 0, 1500, NULL},
	{".5", 0, 500, NULL},
	{"5.", 0, 5000, NULL},
	{"0.5", 0, 500, NULL},
	{"-1.25", 0, -1250, NULL},
	{"0.001", 0, 1, NULL},
	{"123456", 0, INT64_C(123456000), NULL},
	/* decimal suffixes */
	{"1m", 0, 1, NULL},
	{"2000m", 0, 2000, NULL},
	{"-500m", 0, -500, NULL},
	{"1k", 0, INT64_C(1000) * 1000, NULL},
	{"1.5k", 0, INT64_C(1500) * 1000, NULL},
	{"500M", 0, INT64_C(500000000) * 1000, NULL},
	{"1G", 0, INT64_C(1000000000) * 1000, NULL},
	{"1T", 0, INT64_C(1000000000000) * 1000, NULL},
	{"1P", 0, INT64_C(1000000000000000) * 1000, NULL},
	{"9P", 0, INT64_C(9000000000000000) * 1000, NULL},
	{"1000000n", 0, 1, NULL},
	{"1000u", 0, 1, NULL},
	{"0E", 0, 0, NULL},
	/* binary suffixes */
	{"1Ki", 0, KI * 1000, NULL},
	{"1Mi", 0, MI * 1000, NULL},
	{"8Gi", 0, INT64_C(8589934592) * 1000, NULL},
	{"1Ti", 0, INT64_C(1099511627776) * 1000, NULL},
	{"1Pi", 0, INT64_C(1125899906842624) * 1000, NULL},
	{"8Pi", 0, INT64_C(9007199254740992) * 1000, NULL},
	{"0Ei", 0, 0, NULL},
	{"1.5Gi", 0, INT64_C(1610612736) * 1000, NULL},
	{"0.5Mi", 0, INT64_C(524288) * 1000, NULL},
	{"0.001Ki", 0, 1024, NULL},
	{"-2Ki", 0, -2048000, NULL},
	/* exponents */
	{"1e3", 0, INT64_C(1000) * 1000, NULL},
	{"1E3", 0, INT64_C(1000) * 1000, NULL},
	{"1e+3", 0, INT64_C(1000) * 1000, NULL},
	{"5e0", 0, 5000, NULL},
	{"1e-3", 0, 1, NULL},
	{"2.5e2", 0, 250000, NULL},
	{"1e15", 0, INT64_C(1000000000000000) * 1000, NULL},
	{"0e999999", 0, 0, NULL},
	/* sub-milli precision rounds up, toward +infinity */
	{"100n", 0, 1, NULL},
	{"1000001n", 0, 2, NULL},
	{"-100n", 0, 0, NULL},
	{"-1000001n", 0, -1, NULL},
	{"1u", 0, 1, NULL},
	{"1500u", 0, 2, NULL},
	{"-1500u", 0, -1, NULL},
	{"0.5m", 0, 1, NULL},
	{"-0.5m", 0, 0, NULL},
	{"1.5E-3", 0, 2, NULL},
	{"2e-4", 0, 1, NULL},
	{"-2e-4", 0, 0, NULL},
	{"0.0001Ki", 0, 103, NULL}, /* 102.4m */
	{"0.000000000000000000000000000001", 0, 1, NULL},
	{"1e-99999999", 0, 1, NULL},
	{"-1e-99999999", 0, 0, NULL},
	{LEN64, 0, INT64_C(1000) * 1000, NULL},
	/* int64 edges */
	{"9223372036854775807m", 0, INT64_MAX, NULL},
	{"-9223372036854775808m", 0, INT64_MIN, NULL},
	{"9223372036854775.807", 0, INT64_MAX, NULL},
	{"9.223372036854775807P", 0, INT64_MAX, NULL},
	{"-9223372036854775.8089", 0, INT64_MIN, NULL},
	{"9223372036854775.8069", 0, INT64_MAX, NULL},
	{"9223372036854775808m", LLMO_ERANGE, 0,
	 "\"9223372036854775808m\": value too large (limit is 9223372036854775807m)"},
	{"-9223372036854775809m", LLMO_ERANGE, 0,
	 "\"-9223372036854775809m\": value too small (limit is -9223372036854775808m)"},
	{"9223372036854775.8071", LLMO_ERANGE, 0, "value too large"},
	{"9.223372036854775808P", LLMO_ERANGE, 0, "value too large"},
	{"9Ei", LLMO_ERANGE, 0, "\"9Ei\": value too large (limit is 9223372036854775807m)"},
	{"1Ei", LLMO_ERANGE, 0, "value too large"},
	{"9Pi", LLMO_ERANGE, 0, "value too large"},
	{"-9Pi", LLMO_ERANGE, 0, "value too small"},
	{"10P", LLMO_ERANGE, 0, "value too large"},
	{"1E", LLMO_ERANGE, 0, "value too large"},
	{"1e16", LLMO_ERANGE, 0, "value too large"},
	{"1e99999999", LLMO_ERANGE, 0, "value too large"},
	{"123456789012345678901234567890", LLMO_ERANGE, 0, "value too large"},
	/* malformed */
	{"", LLMO_EPARSE, 0, "\"\": empty quantity"},
	{" 1", LLMO_EPARSE, 0, "\" 1\": whitespace is not allowed"},
	{"1 ", LLMO_EPARSE, 0, "whitespace is not allowed"},
	{"1\tGi", LLMO_EPARSE, 0, "\"1\\x09Gi\": whitespace is not allowed"},
	{"abc", LLMO_EPARSE, 0, "\"abc\": expected a number"},
	{"-", LLMO_EPARSE, 0, "\"-\": expected a number"},
	{"+", LLMO_EPARSE, 0, "expected a number"},
	{".", LLMO_EPARSE, 0, "expected a number"},
	{"-.", LLMO_EPARSE, 0, "expected a number"},
	{"Gi", LLMO_EPARSE, 0, "expected a number"},
	{"--1", LLMO_EPARSE, 0, "expected a number"},
	{"+-1", LLMO_EPARSE, 0, "expected a number"},
	{"inf", LLMO_EPARSE, 0, "expected a number"},
	{"NaN", LLMO_EPARSE, 0, "expected a number"},
	{"8Gb", LLMO_EPARSE, 0, "\"8Gb\": unknown suffix \"Gb\""},
	{"1K", LLMO_EPARSE, 0, "unknown suffix \"K\""},
	{"1ki", LLMO_EPARSE, 0, "unknown suffix \"ki\""},
	{"1mi", LLMO_EPARSE, 0, "unknown suffix \"mi\""},
	{"1e", LLMO_EPARSE, 0, "unknown suffix \"e\""},
	{"1Gi1", LLMO_EPARSE, 0, "unknown suffix \"Gi1\""},
	{"1_000", LLMO_EPARSE, 0, "unknown suffix \"_000\""},
	{"0x10", LLMO_EPARSE, 0, "unknown suffix \"x10\""},
	{"1Eb", LLMO_EPARSE, 0, "unknown suffix \"Eb\""},
	{"1\"x", LLMO_EPARSE, 0, "\"1\\\"x\": unknown suffix \"\\\"x\""},
	{"1\xff", LLMO_EPARSE, 0, "unknown suffix \"\\xff\""},
	{"1.2.3", LLMO_EPARSE, 0, "\"1.2.3\": more than one decimal point"},
	{"1e3.5", LLMO_EPARSE, 0, "\"1e3.5\": malformed exponent \"e3.5\""},
	{"1e+", LLMO_EPARSE, 0, "malformed exponent \"e+\""},
	{"1e3m", LLMO_EPARSE, 0, "malformed exponent \"e3m\""},
	{"1e--3", LLMO_EPARSE, 0, "malformed exponent"},
	{LEN65, LLMO_ETOOBIG, 0, "quantity longer than 64 characters"},
};

static void test_parse_table(void **state)
{
	for (size_t i = 0; i < LLMO_ARRAY_LEN(parse_cases); i++) {
		const struct parse_case *c = &parse_cases[i];

		check_parse_case(llmo_quantity_parse, c);
		assert_true(llmo_quantity_is_valid(c->in) == (c->rc == 0));
	}
}

static void test_parse_long_and_null(void **state)
{
	char big[4096];
	struct llmo_error err = {0};
	int64_t v = 0;

	memset(big, '1', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(llmo_quantity_parse(big, &v, &err), LLMO_ETOOBIG);
	/* The message shows a bounded prefix of the input, then "...". */
	assert_non_null(strstr(err.msg, "...\": quantity longer than 64 characters"));
	assert_true(strlen(err.msg) < 200);

	assert_int_equal(llmo_quantity_parse(NULL, &v, &err), LLMO_EINVAL);
	assert_int_equal(llmo_quantity_parse("1", NULL, &err), LLMO_EINVAL);
	/* A NULL err is allowed. */
	assert_int_equal(llmo_quantity_parse("8Gb", &v, NULL), LLMO_EPARSE);
	assert_false(llmo_quantity_is_valid(NULL));
}

struct format_case {
	int64_t milli;
	enum llmo_qformat fmt;
	const char *out;
};

#define DEC LLMO_QFORMAT_DECIMAL_SI
#define BIN LLMO_QFORMAT_BINARY_SI

static const struct format_case format_cases[] = {
	{0, DEC, "0"},
	{1, DEC, "1m"},
	{10, DEC, "10m"},
	{100, DEC, "100m"},
	{-500, DEC, "-500m"},
	{1500, DEC, "1500m"},
	{2000, DEC, "2"},
	{-2000, DEC, "-2"},
	{1500000, DEC, "1500"},
	{1000000, DEC, "1k"},
	{123000000, DEC, "123k"},
	{1024000, DEC, "1024"},
	{INT64_C(500000000) * 1000, DEC, "500M"},
	{INT64_C(1000000000) * 1000, DEC, "1G"},
	{INT64_C(1000000000000000) * 1000, DEC, "1P"},
	{INT64_C(9000000000000000) * 1000, DEC, "9P"},
	{INT64_C(8589934592) * 1000, DEC, "8589934592"},
	{INT64_MAX, DEC, "9223372036854775807m"},
	{INT64_MIN, DEC, "-9223372036854775808m"},
	{0, BIN, "0"},
	{500, BIN, "500m"},
	{INT64_C(8589934592) * 1000, BIN, "8Gi"},
	{KI * 1000, BIN, "1Ki"},
	{2 * KI * 1000, BIN, "2Ki"},
	{-2 * KI * 1000, BIN, "-2Ki"},
	{MI * 1000, BIN, "1Mi"},
	{1536 * KI * 1000, BIN, "1536Ki"},
	{8 * PI * 1000, BIN, "8Pi"},
	{1536000, BIN, "1536"},
	{5000000, BIN, "5000"},
	/* under 1024 units in magnitude: decimal, as Kubernetes */
	{1000000, BIN, "1k"},
	{-1000000, BIN, "-1k"},
	{1023000, BIN, "1023"},
	/* not whole units: decimal, to keep precision */
	{1024500, BIN, "1024500m"},
	/* 10^15 = 976562500000 * 1024 */
	{INT64_C(1000000000000000) * 1000, BIN, "976562500000Ki"},
	{INT64_MAX, BIN, "9223372036854775807m"},
	{INT64_MIN, BIN, "-9223372036854775808m"},
};

static void test_format_table(void **state)
{
	for (size_t i = 0; i < LLMO_ARRAY_LEN(format_cases); i++) {
		const struct format_case *c = &format_cases[i];
		char out[LLMO_QUANTITY_FMT_MAX];
		int64_t back = 0;

		assert_int_equal(llmo_quantity_format(c->milli, c->fmt, out, sizeof(out)), 0);
		if (strcmp(out, c->out) != 0)
			fail_msg("format(%" PRId64 ", %d) = \"%s\", want \"%s\"", c->milli, c->fmt,
				 out, c->out);
		assert_int_equal(llmo_quantity_parse(out, &back, NULL), 0);
		assert_true(back == c->milli);
	}
}

static void test_format_small_buffer(void **state)
{
	char out[LLMO_QUANTITY_FMT_MAX];

	/* "-9223372036854775808m" is 21 bytes, 22 with the NUL. */
	assert_int_equal(llmo_quantity_format(INT64_MIN, DEC, out, 21), LLMO_ERANGE);
	assert_string_equal(out, "");
	assert_int_equal(llmo_quantity_format(INT64_MIN, DEC, out, 22), 0);
	assert_string_equal(out, "-9223372036854775808m");
	assert_int_equal(llmo_quantity_format(2000, DEC, out, 1), LLMO_ERANGE);
	assert_int_equal(llmo_quantity_format(2000, DEC, out, 2), 0);
	assert_string_equal(out, "2");
	assert_int_equal(llmo_quantity_format(0, DEC, out, 0), LLMO_ERANGE);
	assert_int_equal(llmo_quantity_format(0, (enum llmo_qformat)7, out, sizeof(out)),
			 LLMO_EINVAL);
}

/* Non-canonical inputs and the canonical string each format gives. */
static const struct {
	const char *in;
	const char *dec;
	const char *bin;
} canonical_cases[] = {
	{"2000m", "2", "2"},
	{"1.5", "1500m", "1500m"},
	{"1e3", "1k", "1k"},
	{"100n", "1m", "1m"},
	{"0.5Gi", "536870912", "512Mi"},
	{"1024", "1024", "1Ki"},
	{"1.5Ki", "1536", "1536"},
	{"0.5k", "500", "500"},
	{"-0", "0", "0"},
	{"+8Gi", "8589934592", "8Gi"},
	{"1000k", "1M", "1000000"}, /* 10^6 is not a multiple of 1024 */
	{"2048e0", "2048", "2Ki"},
};

static void test_canonical(void **state)
{
	for (size_t i = 0; i < LLMO_ARRAY_LEN(canonical_cases); i++) {
		char out[LLMO_QUANTITY_FMT_MAX];
		int64_t v;

		assert_int_equal(llmo_quantity_parse(canonical_cases[i].in, &v, NULL), 0);
		assert_int_equal(llmo_quantity_format(v, DEC, out, sizeof(out)), 0);
		assert_string_equal(out, canonical_cases[i].dec);
		assert_int_equal(llmo_quantity_format(v, BIN, out, sizeof(out)), 0);
		assert_string_equal(out, canonical_cases[i].bin);
		/* Canonical strings are fixed points. */
		assert_int_equal(llmo_quantity_parse(canonical_cases[i].dec, &v, NULL), 0);
		assert_int_equal(llmo_quantity_format(v, DEC, out, sizeof(out)), 0);
		assert_string_equal(out, canonical_cases[i].dec);
	}
}

static void check_round_trip(int64_t v)
{
	static const enum llmo_qformat fmts[] = {DEC, BIN};

	for (size_t f = 0; f < LLMO_ARRAY_LEN(fmts); f++) {
		char out[LLMO_QUANTITY_FMT_MAX];
		int64_t back = 0;

		assert_int_equal(llmo_quantity_format(v, fmts[f], out, sizeof(out)), 0);
		if (llmo_quantity_parse(out, &back, NULL) != 0 || back != v)
			fail_msg("round trip of %" PRId64 " via \"%s\" gave %" PRId64, v, out,
				 back);
	}
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
		check_round_trip(p * 7);
	}
	for (int64_t u = 1; u <= 8 * PI; u *= 1024) {
		for (int64_t k = 1; k < 1024 && u * k <= INT64_MAX / 1000; k *= 3) {
			check_round_trip(u * k * 1000);
			check_round_trip(-u * k * 1000);
		}
	}
	for (int i = 0; i < 100000; i++) {
		/* xorshift64: values of every magnitude, both signs */
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		v = (int64_t)(x >> (i % 64));
		check_round_trip((i & 1) && v != INT64_MIN ? -v : v);
	}
}

static void test_value_ceil(void **state)
{
	assert_true(llmo_quantity_value_ceil(0) == 0);
	assert_true(llmo_quantity_value_ceil(1) == 1);
	assert_true(llmo_quantity_value_ceil(1000) == 1);
	assert_true(llmo_quantity_value_ceil(1001) == 2);
	assert_true(llmo_quantity_value_ceil(1500) == 2);
	assert_true(llmo_quantity_value_ceil(-1) == 0);
	assert_true(llmo_quantity_value_ceil(-1500) == -1);
	assert_true(llmo_quantity_value_ceil(-2000) == -2);
	assert_true(llmo_quantity_value_ceil(INT64_MAX) == INT64_C(9223372036854776));
	assert_true(llmo_quantity_value_ceil(INT64_MIN) == INT64_C(-9223372036854775));
}

static void test_arithmetic(void **state)
{
	int64_t r = 42;

	assert_int_equal(llmo_quantity_add(1500, 500, &r), 0);
	assert_true(r == 2000);
	assert_int_equal(llmo_quantity_add(INT64_MAX, -1, &r), 0);
	assert_true(r == INT64_MAX - 1);
	r = 42;
	assert_int_equal(llmo_quantity_add(INT64_MAX, 1, &r), LLMO_ERANGE);
	assert_int_equal(llmo_quantity_add(INT64_MIN, -1, &r), LLMO_ERANGE);
	assert_true(r == 42);

	assert_int_equal(llmo_quantity_mul(INT64_C(8589934592) * 1000, 3, &r), 0);
	assert_true(r == INT64_C(25769803776) * 1000);
	assert_int_equal(llmo_quantity_mul(-500, 4, &r), 0);
	assert_true(r == -2000);
	r = 42;
	assert_int_equal(llmo_quantity_mul(INT64_MAX, 2, &r), LLMO_ERANGE);
	assert_int_equal(llmo_quantity_mul(INT64_MIN, -1, &r), LLMO_ERANGE);
	assert_int_equal(llmo_quantity_mul(8 * PI * 1000, 2, &r), LLMO_ERANGE);
	assert_true(r == 42);
}

struct json_case {
	const char *json; /* JSON text of the value */
	int rc;
	int64_t milli;
	const char *msg;
};

static const struct json_case json_cases[] = {
	{"3", 0, 3000, NULL},
	{"-2", 0, -2000, NULL},
	{"9223372036854775", 0, INT64_C(9223372036854775) * 1000, NULL},
	{"9223372036854776", LLMO_ERANGE, 0, "9223372036854776: value too large"},
	{"-9223372036854776", LLMO_ERANGE, 0, "-9223372036854776: value too small"},
	{"0.1", 0, 100, NULL},
	{"-0.5", 0, -500, NULL},
	{"1.5", 0, 1500, NULL},
	{"1e-7", 0, 1, NULL},
	{"1e20", LLMO_ERANGE, 0, "value too large"},
	/* the double nearest 1/3 is 0.333333333333333314...: 333.33...m, rounded up */
	{"0.3333333333333333", 0, 334, NULL},
	{"\"8Gi\"", 0, INT64_C(8589934592) * 1000, NULL},
	{"\"8Gb\"", LLMO_EPARSE, 0, "\"8Gb\": unknown suffix \"Gb\""},
	{"\"8\\u0000Gi\"", LLMO_EPARSE, 0, "NUL"},
	{"{}", LLMO_EINVAL, 0, "expected a quantity (string or number), got object"},
	{"[1]", LLMO_EINVAL, 0, "got array"},
	{"null", LLMO_EINVAL, 0, "got null"},
	{"true", LLMO_EINVAL, 0, "got boolean"},
};

static void test_from_json(void **state)
{
	struct llmo_error err = {0};
	int64_t v = 0;

	for (size_t i = 0; i < LLMO_ARRAY_LEN(json_cases); i++) {
		const struct json_case *c = &json_cases[i];
		json_t *j = json_loads(c->json, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
		int rc;

		assert_non_null(j);
		v = 0;
		rc = llmo_quantity_from_json(j, &v, &err);
		json_decref(j);
		if (rc != c->rc)
			fail_msg("from_json(%s): rc %s, want %s (%s)", c->json, llmo_errname(rc),
				 llmo_errname(c->rc), err.msg);
		if (rc == 0 && v != c->milli)
			fail_msg("from_json(%s) = %" PRId64 ", want %" PRId64, c->json, v,
				 c->milli);
		if (rc != 0 && !strstr(err.msg, c->msg))
			fail_msg("from_json(%s): message \"%s\" lacks \"%s\"", c->json, err.msg,
				 c->msg);
	}
	assert_int_equal(llmo_quantity_from_json(NULL, &v, &err), LLMO_EINVAL);
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
		cmocka_unit_test(test_value_ceil),
		cmocka_unit_test(test_arithmetic),
		cmocka_unit_test(test_from_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
