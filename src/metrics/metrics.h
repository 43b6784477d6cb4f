#ifndef LLMO_METRICS_H
#define LLMO_METRICS_H
/*
 * struct llmo_metrics: a Prometheus registry (counters, gauges and
 * histograms, each a family of series told apart by label values) and its
 * text exposition (format 0.0.4, what GET /metrics serves).
 *
 *     struct llmo_metrics *m;
 *     struct llmo_metric *req;
 *     llmo_metrics_new(&m);
 *     llmo_metrics_counter(m, "llmo_gateway_requests_total", "Requests answered.",
 *                          (const char *[]){"model", "code"}, 2, &req, err);
 *     llmo_metric_add(req, (const char *[]){"llama2:7b", "200"}, 1);
 *     llmo_metrics_write(m, &buf);
 *
 * A series is made on first use and lives until llmo_metric_remove or the
 * registry's end, at a fixed address: hot paths may keep the struct
 * llmo_series pointer from llmo_metric_series and update it directly.
 *
 * Bounds: label values come from outside input in many places (model names,
 * backends), so a family holds at most LLMO_METRICS_SERIES_MAX series; an
 * update that would make one more is dropped (a warning is logged once per
 * family) rather than growing without end. Label values are at most LLMO_METRICS_VALUE_MAX
 * bytes (longer ones are cut).
 *
 * Threads: none. A registry and its series are used from one thread (the
 * component's loop); each component keeps its own registry.
 */
#include "base/common.h"

#include "base/buf.h"
#include "base/error.h"

/* Families in one registry, series in one family, labels of one family. */
#define LLMO_METRICS_FAMILIES_MAX 256
#define LLMO_METRICS_SERIES_MAX 10000
#define LLMO_METRICS_LABELS_MAX 8
/* Bucket bounds of one histogram (+Inf comes on top). */
#define LLMO_METRICS_BUCKETS_MAX 32
/* Longest label value kept; longer values are cut to this many bytes. */
#define LLMO_METRICS_VALUE_MAX 256

enum llmo_metric_type {
	LLMO_METRIC_COUNTER,
	LLMO_METRIC_GAUGE,
	LLMO_METRIC_HISTOGRAM,
};

struct llmo_metrics;
struct llmo_metric;

/* One labelled series. value is a counter's or gauge's value; the rest is a histogram's. */
struct llmo_series {
	double value;
	double sum;	  /* histogram: sum of the observations */
	uint64_t count;	  /* histogram: number of observations */
	uint64_t *bucket; /* histogram: per bucket (not cumulative), nbuckets + 1 (+Inf) */
	const struct llmo_metric *family;
	char *key; /* owned: the values, encoded; private */
	char **values; /* owned: the label values, one per label name */
};

/* 0 or LLMO_ENOMEM. */
int llmo_metrics_new(struct llmo_metrics **out);
/* Frees the registry, its families and series. NULL is fine. */
void llmo_metrics_free(struct llmo_metrics *m);

/*
 * Registers a family. name and label names must be valid Prometheus names
 * ([a-zA-Z_:][a-zA-Z0-9_:]* and [a-zA-Z_][a-zA-Z0-9_]*, no "__" prefix, no
 * "le" on a histogram); a counter's name should end in _total. help is one
 * line. The strings are copied. *out belongs to the registry.
 * LLMO_EINVAL (bad name, too many labels, a name already registered),
 * LLMO_ERANGE (too many families), LLMO_ENOMEM.
 */
int llmo_metrics_counter(struct llmo_metrics *m, const char *name, const char *help,
			 const char *const *labels, size_t nlabels, struct llmo_metric **out,
			 struct llmo_error *err);
int llmo_metrics_gauge(struct llmo_metrics *m, const char *name, const char *help,
		       const char *const *labels, size_t nlabels, struct llmo_metric **out,
		       struct llmo_error *err);
/* buckets: nbuckets strictly increasing finite upper bounds (1 .. LLMO_METRICS_BUCKETS_MAX). */
int llmo_metrics_histogram(struct llmo_metrics *m, const char *name, const char *help,
			   const char *const *labels, size_t nlabels, const double *buckets,
			   size_t nbuckets, struct llmo_metric **out, struct llmo_error *err);

/*
 * The series of f with these label values (one per label name; NULL reads
 * as ""), made on first use. NULL when out of memory or when f already holds
 * LLMO_METRICS_SERIES_MAX series (said once in a warning).
 */
struct llmo_series *llmo_metric_series(struct llmo_metric *f, const char *const *values);

/* Removes the series with these values (gauges of things that went away). 0 or LLMO_ENOTFOUND. */
int llmo_metric_remove(struct llmo_metric *f, const char *const *values);
/* Removes every series of f (series pointers kept by callers become invalid). */
void llmo_metric_clear(struct llmo_metric *f);

/* Series updates: counters add (v >= 0), gauges add or set, histograms observe. */
void llmo_series_add(struct llmo_series *s, double v);
void llmo_series_set(struct llmo_series *s, double v);
void llmo_series_observe(struct llmo_series *s, double v);

/* The same through the label values (a lookup each time). A NULL series is skipped. */
void llmo_metric_add(struct llmo_metric *f, const char *const *values, double v);
void llmo_metric_set(struct llmo_metric *f, const char *const *values, double v);
void llmo_metric_observe(struct llmo_metric *f, const char *const *values, double v);

/* Series in f now. */
size_t llmo_metric_count(const struct llmo_metric *f);

/*
 * Collected families: f's samples are not stored but made each time the
 * registry is written, by fn calling llmo_metric_emit once per sample in the
 * order they are to appear (values as for llmo_metric_series). For values
 * a component can read off a structure it keeps anyway (the gateway's
 * routing table): they cost no memory per series and are never stale. No
 * series cap applies, fn bounds them; stored series of f are not written.
 * fn returns 0 or the first non-zero llmo_metric_emit returned (out's
 * error). Counters and gauges only: LLMO_EINVAL for a histogram.
 */
struct llmo_metric_emitter;
typedef int (*llmo_metric_collect_fn)(void *ctx, struct llmo_metric_emitter *e);
int llmo_metric_set_collect(struct llmo_metric *f, llmo_metric_collect_fn fn, void *ctx);
int llmo_metric_emit(struct llmo_metric_emitter *e, const char *const *values, double v);

/*
 * Appends the text exposition of every family to out (in registration
 * order, series in creation order): # HELP, # TYPE, then the samples, label
 * values escaped (\\, \", \n). Families without series print only their
 * HELP and TYPE lines. 0 or out's error (LLMO_ENOMEM, LLMO_ETOOBIG).
 */
int llmo_metrics_write(const struct llmo_metrics *m, struct llmo_buf *out);

/* The content type of the exposition. */
#define LLMO_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

#endif
