#ifndef LLMO_AUTOSCALE_FORECAST_H
#define LLMO_AUTOSCALE_FORECAST_H
/*
 * struct llmo_forecast: a demand forecaster for predictive scaling. Pure
 * computation: no I/O, no clock (times are passed in, in ns).
 *
 * Samples are averaged into buckets of a fixed length; the bucket series is
 * kept in a ring of LLMO_FORECAST_BUCKETS_MAX buckets (bounded memory). Each
 * closed bucket updates one of two models:
 *
 *  - Holt-Winters (additive season, damped additive trend) once a season has
 *    been detected: every LLMO_FORECAST_DETECT_EVERY buckets, the
 *    autocorrelation of the kept history is computed at candidate lags L
 *    from LLMO_FORECAST_SEASON_MIN buckets to a third of the history; the
 *    season is the lag with the highest acf(L) - acf(L/2) among those with
 *    acf(L) >= 0.5 and acf(L) - acf(L/2) >= 0.5 (a season has a peak at L and
 *    a trough at L/2; a trend or noise does not). When the season is found or
 *    changes, the model is refitted over the history.
 *  - Holt's damped linear trend otherwise (and while history is shorter
 *    than three seasons of the shortest candidate).
 *
 * With fewer than two closed buckets the forecast is the last value seen.
 * Forecasts are never negative.
 *
 * The forecaster also scores itself: the forecast of each bucket made
 * `score_ahead` buckets before it is compared with the bucket's value, and
 * the mean absolute percentage error over buckets with a value above zero
 * is kept (llmo_forecast_mape).
 */
#include "base/common.h"

#define LLMO_FORECAST_BUCKETS_MAX 8192 /* kept history, in buckets */
#define LLMO_FORECAST_SEASON_MIN 8     /* shortest season tried, in buckets */
#define LLMO_FORECAST_DETECT_EVERY 32  /* buckets between two season detections */

/* Smoothing factors. */
#define LLMO_FORECAST_ALPHA 0.5 /* level */
#define LLMO_FORECAST_BETA 0.1  /* trend */
#define LLMO_FORECAST_GAMMA 0.3 /* season */
#define LLMO_FORECAST_PHI 0.9   /* trend damping per bucket */
#define LLMO_FORECAST_ERR_WEIGHT 0.1 /* weight of the newest error in its running variance */
#define LLMO_FORECAST_ERRS_MAX 64  /* horizon errors kept for their quantiles */

struct llmo_forecast {
	int64_t bucket_ns;   /* bucket length */
	int64_t cur_index;   /* bucket number (time / bucket_ns) being filled; -1 before any */
	double cur_sum;
	int64_t cur_n;
	double hist[LLMO_FORECAST_BUCKETS_MAX]; /* closed buckets; index % MAX */
	int64_t nhist;       /* closed buckets ever (the newest is nhist - 1) */
	/* model */
	double level, trend;
	int32_t season;      /* 0: none detected */
	double seasonal[LLMO_FORECAST_BUCKETS_MAX / 3 + 1];
	/* self-scoring */
	int32_t score_ahead;
	double pred[64];     /* forecast of bucket k, made score_ahead before; k % 64 */
	int64_t pred_for[64];
	double ape_sum;
	int64_t ape_n;
	double err_var; /* EWMA of the squared one-bucket-ahead error */
	double errs[LLMO_FORECAST_ERRS_MAX]; /* value - forecast made score_ahead before; k % MAX */
	int64_t nerrs;
	int64_t relevels; /* llmo_forecast_relevel calls */
};

/* Sets f up for buckets of bucket_ns (> 0), scoring forecasts made `score_ahead` buckets ahead (>= 1). */
void llmo_forecast_init(struct llmo_forecast *f, int64_t bucket_ns, int32_t score_ahead);

/* Adds one sample taken at `now` (ns, not decreasing; an earlier time counts in the current bucket). */
void llmo_forecast_observe(struct llmo_forecast *f, int64_t now, double value);

/*
 * Closes the buckets that ended by `now`. A bucket with no sample repeats
 * the value of the one before it: a silent gap (a missed scrape) does not
 * read as zero demand. Zero demand is observed as 0.
 */
void llmo_forecast_advance(struct llmo_forecast *f, int64_t now);

/*
 * A level shift: from now on the series is at `value` (>= 0) in the bucket
 * being filled. The level is set so that llmo_forecast_at(f, 1) is
 * `value` (the season, if any, kept), the trend to 0 (a step is not a
 * trend), and the samples already in the bucket being filled count as
 * `value`: they belong to the old regime, and closing the bucket with
 * their mean would pull the new level halfway back. The history of closed
 * buckets and the error scores are kept as they were; with only one closed
 * bucket (whose value is then the forecast) that bucket is set to `value`.
 */
void llmo_forecast_relevel(struct llmo_forecast *f, double value);

/* Forecast of the mean value in the bucket h buckets after the newest closed one (h >= 1). */
double llmo_forecast_at(const struct llmo_forecast *f, int32_t h);

/* The largest forecast over buckets 1..h ahead (h >= 1). */
double llmo_forecast_max(const struct llmo_forecast *f, int32_t h);

/*
 * Standard deviation of the one-bucket-ahead forecast error: the square
 * root of an exponentially weighted mean of the squared errors (weight
 * LLMO_FORECAST_ERR_WEIGHT for the newest). 0 before the third bucket.
 */
double llmo_forecast_stddev(const struct llmo_forecast *f);

/*
 * The q-quantile (0 < q < 1) of the last LLMO_FORECAST_ERRS_MAX horizon
 * errors (a bucket's value less its forecast made score_ahead buckets
 * before: positive when demand came above the forecast); 0 before any.
 */
double llmo_forecast_err_quantile(const struct llmo_forecast *f, double q);

/* Detected season in buckets, 0 without one. */
static inline int32_t llmo_forecast_season(const struct llmo_forecast *f)
{
	return f->season;
}

/* Mean absolute percentage error so far (percent), or -1 before any scored bucket. */
double llmo_forecast_mape(const struct llmo_forecast *f);

#endif
