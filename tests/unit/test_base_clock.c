#include "base/common.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <time.h>

#include "base/clock.h"

/* Expected strings computed with `date -u -d @SECONDS +%Y-%m-%dT%H:%M:%SZ`. */
static const struct {
	int64_t ms;
	const char *plain;
	const char *with_ms;
} format_cases[] = {
	{0, "1970-01-01T00:00:00Z", "1970-01-01T00:00:00.000Z"},
	{1795711955123LL, "2026-11-26T16:52:35Z", "2026-11-26T16:52:35.123Z"},
	{1764175955007LL, "2025-11-26T16:52:35Z", "2025-11-26T16:52:35.007Z"},
	{951782400000LL, "2000-02-29T00:00:00Z", "2000-02-29T00:00:00.000Z"},
	{1234567890999LL, "2009-02-13T23:31:30Z", "2009-02-13T23:31:30.999Z"},
	{4102444800000LL, "2100-01-01T00:00:00Z", "2100-01-01T00:00:00.000Z"},
	/* Before the epoch the millisecond part still counts forward. */
	{-1, "1969-12-31T23:59:59Z", "1969-12-31T23:59:59.999Z"},
	{-14182940000LL, "1969-07-20T20:17:40Z", "1969-07-20T20:17:40.000Z"},
	{253402300799999LL, "9999-12-31T23:59:59Z", "9999-12-31T23:59:59.999Z"},
	{-62167219200000LL, "0000-01-01T00:00:00Z", "0000-01-01T00:00:00.000Z"},
};

static void test_format_known_times(void **state)
{
	char out[LLMO_RFC3339_MAX];

	for (size_t i = 0; i < LLMO_ARRAY_LEN(format_cases); i++) {
		assert_int_equal(llmo_time_format_rfc3339(format_cases[i].ms, false, out, sizeof(out)), 0);
		assert_string_equal(out, format_cases[i].plain);
		assert_int_equal(llmo_time_format_rfc3339(format_cases[i].ms, true, out, sizeof(out)), 0);
		assert_string_equal(out, format_cases[i].with_ms);
	}
}

static void test_format_limits(void **state)
{
	char out[LLMO_RFC3339_MAX];
	char small[24];

	/* Exactly big enough: 20 characters + NUL, 24 + NUL. */
	assert_int_equal(llmo_time_format_rfc3339(0, false, out, 21), 0);
	assert_string_equal(out, "1970-01-01T00:00:00Z");
	assert_int_equal(llmo_time_format_rfc3339(0, true, out, 25), 0);
	assert_string_equal(out, "1970-01-01T00:00:00.000Z");
	/* One byte short. */
	assert_int_equal(llmo_time_format_rfc3339(0, false, out, 20), LLMO_EINVAL);
	assert_string_equal(out, "");
	assert_int_equal(llmo_time_format_rfc3339(0, true, small, sizeof(small)), LLMO_EINVAL);
	assert_string_equal(small, "");
	/* Years past 9999 or before 0000 have no RFC 3339 form. */
	assert_int_equal(llmo_time_format_rfc3339(253402300800000LL, false, out, sizeof(out)),
			 LLMO_ERANGE);
	assert_int_equal(llmo_time_format_rfc3339(-62167219200001LL, false, out, sizeof(out)),
			 LLMO_ERANGE);
	assert_int_equal(llmo_time_format_rfc3339(INT64_MAX, true, out, sizeof(out)), LLMO_ERANGE);
	assert_int_equal(llmo_time_format_rfc3339(INT64_MIN, true, out, sizeof(out)), LLMO_ERANGE);
}

static const struct {
	const char *in;
	int64_t ms;
} parse_ok[] = {
	{"1970-01-01T00:00:00Z", 0},
	{"2026-11-26T16:52:35Z", 1795711955000LL},
	{"2026-11-26T16:52:35.123Z", 1795711955123LL},
	{"2026-11-26t16:52:35.123z", 1795711955123LL},
	/* Fractions: fewer digits scale up, more are truncated. */
	{"2026-11-26T16:52:35.1Z", 1795711955100LL},
	{"2026-11-26T16:52:35.12Z", 1795711955120LL},
	{"2026-11-26T16:52:35.123999999Z", 1795711955123LL},
	/* Offsets: `date -u -d '2024-02-29T23:59:59+05:30' +%s` = 1709231399. */
	{"2024-02-29T23:59:59+05:30", 1709231399000LL},
	{"2024-02-29T18:29:59+00:00", 1709231399000LL},
	{"2024-02-29T18:29:59-00:00", 1709231399000LL},
	{"2024-02-29T08:29:59-10:00", 1709231399000LL},
	{"1969-12-31T23:59:59.999Z", -1},
	{"1969-07-20T20:17:40Z", -14182940000LL},
	{"2000-02-29T00:00:00Z", 951782400000LL},
	{"9999-12-31T23:59:59.999Z", 253402300799999LL},
	{"0000-01-01T00:00:00Z", -62167219200000LL},
};

static void test_parse_valid(void **state)
{
	struct llmo_error err = {0};
	int64_t ms;

	for (size_t i = 0; i < LLMO_ARRAY_LEN(parse_ok); i++) {
		ms = 42;
		assert_int_equal(llmo_time_parse_rfc3339(parse_ok[i].in, &ms, &err), 0);
		assert_int_equal(ms, parse_ok[i].ms);
	}
}

static void test_parse_roundtrip(void **state)
{
	char out[LLMO_RFC3339_MAX];
	int64_t ms;

	for (size_t i = 0; i < LLMO_ARRAY_LEN(format_cases); i++) {
		assert_int_equal(llmo_time_format_rfc3339(format_cases[i].ms, true, out, sizeof(out)), 0);
		assert_int_equal(llmo_time_parse_rfc3339(out, &ms, NULL), 0);
		assert_int_equal(ms, format_cases[i].ms);
	}
}

static const struct {
	const char *in;
	const char *msg;
} parse_bad[] = {
	{"", "\"\": not an RFC 3339 time: expected YYYY-MM-DDThh:mm:ss[.frac] followed by Z or +hh:mm"},
	{"yesterday", "\"yesterday\": not an RFC 3339 time: expected YYYY-MM-DDThh:mm:ss[.frac] followed by Z or +hh:mm"},
	{"2026-11-26", "\"2026-11-26\": not an RFC 3339 time: expected YYYY-MM-DDThh:mm:ss[.frac] followed by Z or +hh:mm"},
	{"2026-11-26 16:52:35Z", "\"2026-11-26 16:52:35Z\": not an RFC 3339 time: expected YYYY-MM-DDThh:mm:ss[.frac] followed by Z or +hh:mm"},
	{"2026-11-26T16:52Z", "\"2026-11-26T16:52Z\": not an RFC 3339 time: expected YYYY-MM-DDThh:mm:ss[.frac] followed by Z or +hh:mm"},
	{"26-11-26T16:52:35Z", "\"26-11-26T16:52:35Z\": not an RFC 3339 time: expected YYYY-MM-DDThh:mm:ss[.frac] followed by Z or +hh:mm"},
	{"2026-11-26T16:52:35", "\"2026-11-26T16:52:35\": not an RFC 3339 time: missing zone (Z or +hh:mm)"},
	{"2026-11-26T16:52:35.Z", "\"2026-11-26T16:52:35.Z\": not an RFC 3339 time: no digits after the decimal point"},
	{"2026-11-26T16:52:35+0530", "\"2026-11-26T16:52:35+0530\": not an RFC 3339 time: malformed zone offset, expected +hh:mm or -hh:mm"},
	{"2026-11-26T16:52:35+5:30", "\"2026-11-26T16:52:35+5:30\": not an RFC 3339 time: malformed zone offset, expected +hh:mm or -hh:mm"},
	{"2026-11-26T16:52:35ZZ", "\"2026-11-26T16:52:35ZZ\": not an RFC 3339 time: trailing characters after the zone"},
	{"2026-11-26T16:52:35Z ", "\"2026-11-26T16:52:35Z \": not an RFC 3339 time: trailing characters after the zone"},
	{"2026-13-26T16:52:35Z", "\"2026-13-26T16:52:35Z\": not an RFC 3339 time: month out of range"},
	{"2026-00-26T16:52:35Z", "\"2026-00-26T16:52:35Z\": not an RFC 3339 time: month out of range"},
	{"2026-02-29T00:00:00Z", "\"2026-02-29T00:00:00Z\": not an RFC 3339 time: day out of range for the month"},
	{"1900-02-29T00:00:00Z", "\"1900-02-29T00:00:00Z\": not an RFC 3339 time: day out of range for the month"},
	{"2026-04-31T00:00:00Z", "\"2026-04-31T00:00:00Z\": not an RFC 3339 time: day out of range for the month"},
	{"2026-04-00T00:00:00Z", "\"2026-04-00T00:00:00Z\": not an RFC 3339 time: day out of range for the month"},
	{"2026-11-26T24:00:00Z", "\"2026-11-26T24:00:00Z\": not an RFC 3339 time: hour out of range"},
	{"2026-11-26T23:60:00Z", "\"2026-11-26T23:60:00Z\": not an RFC 3339 time: minute out of range"},
	{"2016-12-31T23:59:60Z", "\"2016-12-31T23:59:60Z\": not an RFC 3339 time: second out of range"},
	{"2026-11-26T16:52:35+24:00", "\"2026-11-26T16:52:35+24:00\": not an RFC 3339 time: zone offset out of range"},
	{"2026-11-26T16:52:35+01:60", "\"2026-11-26T16:52:35+01:60\": not an RFC 3339 time: zone offset out of range"},
	{"+2026-11-26T16:52:35Z", "\"+2026-11-26T16:52:35Z\": not an RFC 3339 time: expected YYYY-MM-DDThh:mm:ss[.frac] followed by Z or +hh:mm"},
};

static void test_parse_rejects(void **state)
{
	struct llmo_error err;
	int64_t ms;

	for (size_t i = 0; i < LLMO_ARRAY_LEN(parse_bad); i++) {
		llmo_error_clear(&err);
		ms = 42;
		assert_int_equal(llmo_time_parse_rfc3339(parse_bad[i].in, &ms, &err), LLMO_EPARSE);
		assert_int_equal(err.code, LLMO_EPARSE);
		assert_string_equal(err.msg, parse_bad[i].msg);
		assert_int_equal(ms, 42);
	}
	/* err may be NULL. */
	assert_int_equal(llmo_time_parse_rfc3339("garbage", &ms, NULL), LLMO_EPARSE);
}

static void test_parse_long_input_is_excerpted(void **state)
{
	char in[200];
	char want[LLMO_ERRMSG_MAX];
	struct llmo_error err;

	memset(in, 'x', sizeof(in) - 1);
	in[sizeof(in) - 1] = '\0';
	snprintf(want, sizeof(want), "\"%.64s...\": not an RFC 3339 time: expected "
		 "YYYY-MM-DDThh:mm:ss[.frac] followed by Z or +hh:mm", in);
	assert_int_equal(llmo_time_parse_rfc3339(in, &(int64_t){0}, &err), LLMO_EPARSE);
	assert_string_equal(err.msg, want);
}

static void test_clocks(void **state)
{
	struct timespec ts;
	int64_t a, b, wall, sys;

	a = llmo_clock_mono_ns();
	b = llmo_clock_mono_ns();
	assert_true(a > 0);
	assert_true(b >= a);
	a = llmo_clock_mono_ms();
	assert_true(a >= 0);
	assert_true(llmo_clock_mono_ms() >= a);
	/* Monotonic ms and ns agree. */
	assert_true(llmo_clock_mono_ns() / 1000000 >= a);

	clock_gettime(CLOCK_REALTIME, &ts);
	sys = (int64_t)ts.tv_sec * 1000;
	wall = llmo_clock_wall_ms();
	assert_true(wall >= sys);
	assert_true(wall - sys < 5000);
	/* Sanity: after 2025-01-01 (1735689600 s). */
	assert_true(wall > 1735689600000LL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_known_times),
		cmocka_unit_test(test_format_limits),
		cmocka_unit_test(test_parse_valid),
		cmocka_unit_test(test_parse_roundtrip),
		cmocka_unit_test(test_parse_rejects),
		cmocka_unit_test(test_parse_long_input_is_excerpted),
		cmocka_unit_test(test_clocks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
