#ifndef LLMO_METRICS_PARSE_H
#define LLMO_METRICS_PARSE_H
/*
 * A reader of the Prometheus text exposition format (0.0.4): what the
 * controller scrapes from the gateway's and the replicas' /metrics.
 *
 *     # HELP name text
 *     # TYPE name counter|gauge|histogram|summary|untyped
 *     name{label="value",...} 1.5e3 [timestamp]
 *
 * Each sample goes to a callback with its metric name, labels and value.
 * Label values are unescaped (\\, \", \n). Values may be floats, +Inf, -Inf
 * or NaN; timestamps are read and dropped. Comments and blank lines are
 * skipped; HELP and TYPE lines are not checked further.
 *
 * Bounds (the input is another process's output): a line is at most
 * LLMO_PROM_LINE_MAX bytes, a sample has at most LLMO_PROM_LABELS_MAX labels.
 * A line that breaks the format stops the parse with LLMO_EPARSE and a
 * message naming the line number and what was wrong; samples before it were
 * already delivered.
 */
#include "base/common.h"

#include "base/error.h"

#define LLMO_PROM_LINE_MAX 65536
#define LLMO_PROM_LABELS_MAX 32

struct llmo_prom_label {
	const char *name;
	const char *value;
};

/*
 * Called once per sample. The strings are valid only during the call.
 * A non-zero return stops the parse and is returned by llmo_prom_parse.
 */
typedef int (*llmo_prom_sample_fn)(void *arg, const char *name,
				   const struct llmo_prom_label *labels, size_t nlabels,
				   double value);

/* Parses len bytes of text. 0, the callback's non-zero return, LLMO_EPARSE, LLMO_ENOMEM. */
int llmo_prom_parse(const char *text, size_t len, llmo_prom_sample_fn fn, void *arg,
		    struct llmo_error *err);

/* The value of label name among labels, or NULL. */
const char *llmo_prom_label(const struct llmo_prom_label *labels, size_t nlabels,
			    const char *name);

#endif
