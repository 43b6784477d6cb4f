#include "base/common.h"

#include <math.h>

#include "autoscale/forecast.h"

#define PRED_RING 64

void llmo_forecast_init(struct llmo_forecast *f, int64_t bucket_ns, int32_t score_ahead)
{
	memset(f, 0, sizeof(*f));
	f->bucket_ns = bucket_ns > 0 ? bucket_ns : 1;
	f->cur_index = -1;
	f->score_ahead = LLMO_MAX(1, LLMO_MIN(score_ahead, PRED_RING - 1));
	for (size_t i = 0; i < PRED_RING; i++)
		f->pred_for[i] = -1;
}

static size_t kept(const struct llmo_forecast *f)
{
	return (size_t)LLMO_MIN(f->nhist, (int64_t)LLMO_FORECAST_BUCKETS_MAX);
}

/* The i-th kept bucket, oldest first. */
static double hist_at(const struct llmo_forecast *f, size_t i)
{
	int64_t abs = f->nhist - (int64_t)kept(f) + (int64_t)i;

	return f->hist[abs % LLMO_FORECAST_BUCKETS_MAX];
}

static double damped_sum(int32_t h)
{
	double s = 0, p = 1;

	for (int32_t k = 1; k <= h; k++) {
		p *= LLMO_FORECAST_PHI;
		s += p;
	}
	return s;
}

/* Seasonal slot of absolute closed-bucket number k. */
static double season_of(const struct llmo_forecast *f, int64_t k)
{
	return f->season ? f->seasonal[k % f->season] : 0;
}

/* One smoothing step with the value x of closed bucket number k. */
static void update(struct llmo_forecast *f, int64_t k, double x)
{
	double prev = f->level, s = season_of(f, k);

	f->level = LLMO_FORECAST_ALPHA * (x - s) +
		   (1 - LLMO_FORECAST_ALPHA) * (prev + LLMO_FORECAST_PHI * f->trend);
	f->trend = LLMO_FORECAST_BETA * (f->level - prev) +
		   (1 - LLMO_FORECAST_BETA) * LLMO_FORECAST_PHI * f->trend;
	if (f->season)
		f->seasonal[k % f->season] = LLMO_FORECAST_GAMMA * (x - f->level) +
					     (1 - LLMO_FORECAST_GAMMA) * s;
}

/* Fits the model again over the kept history, with season L (0: none). */
static void refit(struct llmo_forecast *f, int32_t L)
{
	size_t n = kept(f), start = 0;
	int64_t first = f->nhist - (int64_t)n;

	f->season = L;
	f->trend = 0;
	if (L) {
		double m1 = 0, m2 = 0;

		for (int32_t i = 0; i < L; i++) {
			m1 += hist_at(f, (size_t)i);
			m2 += hist_at(f, (size_t)(i + L));
		}
		m1 /= L;
		m2 /= L;
		f->level = m1;
		f->trend = (m2 - m1) / L;
		for (int32_t i = 0; i < L; i++)
			f->seasonal[(first + i) % L] = hist_at(f, (size_t)i) - m1;
		start = (size_t)L;
	} else {
		f->level = hist_at(f, 0);
		start = 1;
	}
	for (size_t i = start; i < n; i++)
		update(f, first + (int64_t)i, hist_at(f, i));
}

/* Autocorrelation of the kept history at lag L (mean removed). */
static double acf(const struct llmo_forecast *f, size_t n, double mean, double var, size_t L)
{
	double s = 0;

	for (size_t i = 0; i + L < n; i++)
		s += (hist_at(f, i) - mean) * (hist_at(f, i + L) - mean);
	return s / (double)(n - L) / var;
}

static double season_score(const struct llmo_forecast *f, size_t n, double mean, double var,
			   size_t L)
{
	double a = acf(f, n, mean, var, L), half = acf(f, n, mean, var, L / 2);

	if (a < 0.5 || a - half < 0.5)
		return -1;
	return a - half;
}

/*
 * Season detection (see the header). Candidate lags grow by 2% (at least 1)
 * to keep the cost near-linear in the history; the best one is refined over
 * its neighbours.
 */
static int32_t detect_season(const struct llmo_forecast *f)
{
	size_t n = kept(f), best = 0, lo, hi;
	double mean = 0, var = 0, best_score = -1;

	if (n < 3 * LLMO_FORECAST_SEASON_MIN)
		return 0;
	for (size_t i = 0; i < n; i++)
		mean += hist_at(f, i);
	mean /= (double)n;
	for (size_t i = 0; i < n; i++)
		var += (hist_at(f, i) - mean) * (hist_at(f, i) - mean);
	var /= (double)n;
	if (!(var > 1e-12))
		return 0;
	for (size_t L = LLMO_FORECAST_SEASON_MIN; L <= n / 3; L += LLMO_MAX((size_t)1, L / 50)) {
		double s = season_score(f, n, mean, var, L);

		if (s > best_score) {
			best_score = s;
			best = L;
		}
	}
	if (!best)
		return 0;
	lo = LLMO_MAX((size_t)LLMO_FORECAST_SEASON_MIN, best - best / 50);
	hi = LLMO_MIN(n / 3, best + best / 50);
	for (size_t L = lo; L <= hi; L++) {
		double s = season_score(f, n, mean, var, L);

		if (s > best_score) {
			best_score = s;
			best = L;
		}
	}
	return (int32_t)best;
}

static void close_bucket(struct llmo_forecast *f, double x)
{
	int64_t k = f->nhist;
	size_t slot = (size_t)(k % PRED_RING);

	if (f->pred_for[slot] == k) {
		f->errs[f->nerrs++ % LLMO_FORECAST_ERRS_MAX] = x - f->pred[slot];
		if (x > 0) {
			f->ape_sum += fabs(f->pred[slot] - x) / x;
			f->ape_n++;
		}
	}
	if (k >= 2) {
		double e = x - llmo_forecast_at(f, 1);

		f->err_var = (1 - LLMO_FORECAST_ERR_WEIGHT) * f->err_var +
			     LLMO_FORECAST_ERR_WEIGHT * e * e;
	}
	f->hist[k % LLMO_FORECAST_BUCKETS_MAX] = x;
	f->nhist++;
	if (k == 0)
		f->level = x;
	else
		update(f, k, x);
	if (f->nhist % LLMO_FORECAST_DETECT_EVERY == 0) {
		int32_t L = detect_season(f);

		if (L != f->season)
			refit(f, L);
	}
	slot = (size_t)((k + f->score_ahead) % PRED_RING);
	f->pred[slot] = llmo_forecast_at(f, f->score_ahead);
	f->pred_for[slot] = k + f->score_ahead;
}

void llmo_forecast_advance(struct llmo_forecast *f, int64_t now)
{
	int64_t idx = now / f->bucket_ns;

	if (f->cur_index < 0 || idx <= f->cur_index)
		return;
	/* Close the bucket being filled, then any silent ones after it. */
	{
		double last = f->cur_n ? f->cur_sum / (double)f->cur_n
			      : f->nhist ? f->hist[(f->nhist - 1) % LLMO_FORECAST_BUCKETS_MAX] : 0;
		int64_t gap = idx - f->cur_index;

		/* A gap longer than the whole history only refills the history. */
		if (gap > LLMO_FORECAST_BUCKETS_MAX)
			gap = LLMO_FORECAST_BUCKETS_MAX;
		for (int64_t i = 0; i < gap; i++)
			close_bucket(f, last);
	}
	f->cur_index = idx;
	f->cur_sum = 0;
	f->cur_n = 0;
}

void llmo_forecast_observe(struct llmo_forecast *f, int64_t now, double value)
{
	if (!isfinite(value))
		return;
	if (f->cur_index < 0)
		f->cur_index = now / f->bucket_ns;
	llmo_forecast_advance(f, now);
	f->cur_sum += value;
	f->cur_n++;
}

void llmo_forecast_relevel(struct llmo_forecast *f, double value)
{
	if (!isfinite(value) || value < 0)
		return;
	f->relevels++;
	if (f->nhist < 2) {
		/* Before two closed buckets the forecast is the newest value itself. */
		for (int64_t k = 0; k < f->nhist; k++)
			f->hist[k] = value;
	}
	f->level = value - season_of(f, f->nhist);
	f->trend = 0;
	f->cur_sum = value * (double)f->cur_n;
}

double llmo_forecast_at(const struct llmo_forecast *f, int32_t h)
{
	double v;

	if (f->nhist == 0)
		return f->cur_n ? f->cur_sum / (double)f->cur_n : 0;
	if (f->nhist < 2)
		return f->hist[0];
	if (h < 1)
		h = 1;
	v = f->level + damped_sum(h) * f->trend + season_of(f, f->nhist - 1 + h);
	return v > 0 ? v : 0;
}

double llmo_forecast_max(const struct llmo_forecast *f, int32_t h)
{
	double m = 0;

	for (int32_t k = 1; k <= LLMO_MAX(h, 1); k++)
		m = LLMO_MAX(m, llmo_forecast_at(f, k));
	return m;
}

double llmo_forecast_stddev(const struct llmo_forecast *f)
{
	return sqrt(f->err_var);
}

double llmo_forecast_mape(const struct llmo_forecast *f)
{
	return f->ape_n ? 100.0 * f->ape_sum / (double)f->ape_n : -1;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double llmo_forecast_err_quantile(const struct llmo_forecast *f, double q)
{
	double v[LLMO_FORECAST_ERRS_MAX];
	size_t n = (size_t)LLMO_MIN(f->nerrs, (int64_t)LLMO_FORECAST_ERRS_MAX), i;

	if (!n)
		return 0;
	memcpy(v, f->errs, n * sizeof(v[0]));
	qsort(v, n, sizeof(v[0]), cmp_double);
	/* Nearest rank. */
	i = (size_t)ceil(q * (double)n);
	return v[LLMO_MAX(i, (size_t)1) - 1];
}
