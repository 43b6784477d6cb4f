/*
 * The forecaster (src/autoscale/forecast.h) on synthetic series whose
 * answer is known: a constant, a step, a sine (its season must be found
 * and forecast), a ramp and noise (no season), gaps and short histories.
 */
#include "base/common.h"

#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "autoscale/forecast.h"
#include "base/rng.h"

#define B INT64_C(10000000000) /* buckets of 10 s */

static struct llmo_forecast fc; /* large: static, not on the stack */

/* One sample in the middle of bucket k. */
static void put(int64_t k, double v)
{
	llmo_forecast_observe(&fc, k * B + B / 2, v);
}

static void test_short_history(void **state)
{
	(void)state;
	llmo_forecast_init(&fc, B, 1);
	assert_true(llmo_forecast_at(&fc, 1) == 0);
	put(0, 7);
	/* Nothing closed yet: the current bucket's mean. */
	assert_true(llmo_forecast_at(&fc, 3) == 7);
	put(1, 9); /* closes bucket 0 (7) */
	assert_true(llmo_forecast_at(&fc, 3) == 7);
	assert_true(llmo_forecast_mape(&fc) < 0); /* nothing scored yet */
}

/*
 * A level shift: after a constant 5, llmo_forecast_relevel(12) makes the
 * forecast 12 at every horizon (trend 0), and the samples of 5 already in
 * the bucket being filled count as 12: closing it with a sample of 12
 * more keeps the level at 0.5 x 12 + 0.5 x 12 = 12. The history is kept.
 */
static void test_relevel(void **state)
{
	(void)state;
	llmo_forecast_init(&fc, B, 1);
	for (int64_t k = 0; k < 20; k++)
		put(k, 5);
	put(20, 5); /* in the bucket being filled */
	llmo_forecast_relevel(&fc, 12);
	assert_int_equal(fc.relevels, 1);
	assert_true(fabs(llmo_forecast_at(&fc, 1) - 12) < 1e-9);
	assert_true(fabs(llmo_forecast_at(&fc, 9) - 12) < 1e-9);
	put(20, 12);
	llmo_forecast_advance(&fc, 21 * B);
	assert_true(fabs(llmo_forecast_at(&fc, 1) - 12) < 1e-9);
	assert_true(fc.hist[19] == 5 && fc.hist[20] == 12);
	/* Not a rate: ignored. */
	llmo_forecast_relevel(&fc, -1);
	assert_int_equal(fc.relevels, 1);
	/* With one closed bucket the forecast is that bucket: it is set too. */
	llmo_forecast_init(&fc, B, 1);
	put(0, 3);
	put(1, 3);
	llmo_forecast_relevel(&fc, 6);
	assert_true(llmo_forecast_at(&fc, 1) == 6);
}

static void test_constant_and_step(void **state)
{
	(void)state;
	llmo_forecast_init(&fc, B, 2);
	for (int64_t k = 0; k < 50; k++)
		put(k, 5);
	llmo_forecast_advance(&fc, 50 * B);
	/* A constant: level 5, trend 0, at every horizon, and no error. */
	assert_true(fabs(llmo_forecast_at(&fc, 1) - 5) < 1e-9);
	assert_true(fabs(llmo_forecast_at(&fc, 30) - 5) < 1e-9);
	assert_true(fabs(llmo_forecast_mape(&fc)) < 1e-9);
	assert_true(llmo_forecast_stddev(&fc) == 0); /* never wrong */
	assert_int_equal(llmo_forecast_season(&fc), 0);
	/* A step to 10: the forecast follows it (alpha 0.5: within 1% in 20 buckets). */
	for (int64_t k = 50; k < 100; k++)
		put(k, 10);
	llmo_forecast_advance(&fc, 100 * B);
	assert_true(fabs(llmo_forecast_at(&fc, 1) - 10) < 0.1);
	/*
	 * The step's first error is 5 (forecast 5, value 10): its share of the
	 * variance, 0.1 * 25, decays by 0.9 a bucket, to 0.1 * 25 * 0.9^49 =
	 * 0.014 (a deviation of 0.12) after 50 buckets; the smaller errors
	 * while the trend settles add a little. Not 0, below 0.2.
	 */
	assert_true(llmo_forecast_stddev(&fc) > 0 && llmo_forecast_stddev(&fc) < 0.2);
	/* The largest of the forecasts ahead is never below the forecast one ahead. */
	assert_true(llmo_forecast_max(&fc, 5) >= llmo_forecast_at(&fc, 1));
}

static void test_sine_season(void **state)
{
	const double two_pi = 6.283185307179586;
	double err = 0;

	(void)state;
	/* 10 + 5 sin(2 pi k / 24): a season of 24 buckets, 12 of them (288 buckets). */
	llmo_forecast_init(&fc, B, 6);
	for (int64_t k = 0; k < 288; k++)
		put(k, 10 + 5 * sin(two_pi * (double)k / 24));
	llmo_forecast_advance(&fc, 288 * B);
	assert_int_equal(llmo_forecast_season(&fc), 24);
	/* Forecasts of the next half season are within 0.5 of the truth. */
	for (int32_t h = 1; h <= 12; h++) {
		double truth = 10 + 5 * sin(two_pi * (double)(287 + h) / 24);

		err = fmax(err, fabs(llmo_forecast_at(&fc, h) - truth));
	}
	assert_true(err < 0.5);
	/* Its own scoring (6 buckets ahead) has been running: a percentage. */
	assert_true(llmo_forecast_mape(&fc) >= 0);
}

static void test_no_season(void **state)
{
	struct llmo_rng rng;

	(void)state;
	/* A ramp: high autocorrelation everywhere, but no trough at half a lag. */
	llmo_forecast_init(&fc, B, 1);
	for (int64_t k = 0; k < 300; k++)
		put(k, (double)k);
	llmo_forecast_advance(&fc, 300 * B);
	assert_int_equal(llmo_forecast_season(&fc), 0);
	/*
	 * The trend is forecast, damped (phi 0.9): within one step of the
	 * newest bucket (299), and rising with the horizon.
	 */
	assert_true(llmo_forecast_at(&fc, 1) > 298);
	assert_true(llmo_forecast_at(&fc, 5) > llmo_forecast_at(&fc, 1));
	/* Noise: no season either. */
	llmo_rng_seed(&rng, 7);
	llmo_forecast_init(&fc, B, 1);
	for (int64_t k = 0; k < 300; k++)
		put(k, 10 + (double)(llmo_rng_next(&rng) % 1000) / 100);
	llmo_forecast_advance(&fc, 300 * B);
	assert_int_equal(llmo_forecast_season(&fc), 0);
}

static void test_gap_repeats_last(void **state)
{
	(void)state;
	llmo_forecast_init(&fc, B, 1);
	put(0, 4);
	put(0, 6); /* bucket 0: mean 5 */
	/* Nothing for buckets 1..9: they repeat 5, so the forecast stays 5. */
	llmo_forecast_advance(&fc, 10 * B);
	assert_int_equal(fc.nhist, 10);
	assert_true(fabs(llmo_forecast_at(&fc, 1) - 5) < 1e-9);
	/* Never negative: a fall to 0 with a falling trend forecasts 0, not below. */
	for (int64_t k = 10; k < 14; k++)
		put(k, 0);
	llmo_forecast_advance(&fc, 14 * B);
	assert_true(llmo_forecast_at(&fc, 5) >= 0);
}

static void test_error_quantile(void **state)
{
	(void)state;
	llmo_forecast_init(&fc, B, 1);
	assert_true(llmo_forecast_err_quantile(&fc, 0.5) == 0); /* none yet */
	/*
	 * Flat 3: the forecast made one bucket ahead is 3 every time, so every
	 * horizon error is 0. Then bucket 20 comes at 5: an error of +2.
	 */
	for (int64_t k = 0; k < 20; k++)
		put(k, 3);
	put(20, 5);
	llmo_forecast_advance(&fc, 21 * B);
	assert_true(fc.nerrs > 0);
	assert_true(llmo_forecast_err_quantile(&fc, 0.5) == 0);
	assert_true(fabs(llmo_forecast_err_quantile(&fc, 0.9999) - 2) < 1e-9);
	/* Nearest rank over the last LLMO_FORECAST_ERRS_MAX: of errors 1..10, 0.84 is the 9th. */
	fc.nerrs = 10;
	for (int i = 0; i < 10; i++)
		fc.errs[i] = 10 - i;
	assert_true(llmo_forecast_err_quantile(&fc, 0.84) == 9);
	assert_true(llmo_forecast_err_quantile(&fc, 0.05) == 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_short_history),
		cmocka_unit_test(test_relevel),
		cmocka_unit_test(test_constant_and_step),
		cmocka_unit_test(test_sine_season),
		cmocka_unit_test(test_no_season),
		cmocka_unit_test(test_gap_repeats_last),
		cmocka_unit_test(test_error_quantile),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
