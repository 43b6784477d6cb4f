/*
 * The Prometheus registry (metrics.h). A family keeps its series in a hash
 * map (by the encoded label values) for lookups and in a vector for a
 * stable exposition order. Each series is its own allocation, so pointers
 * to it stay valid while the family grows.
 */
#include "base/common.h"

#include <math.h>

#include "base/hmap.h"
#include "base/log.h"
#include "base/str.h"
#include "base/vec.h"
#include "metrics/metrics.h"

#include "base/banned.h"

struct llmo_metric {
	enum llmo_metric_type type;
	char *name;
	char *help;
	char *labels[LLMO_METRICS_LABELS_MAX];
	size_t nlabels;
	double buckets[LLMO_METRICS_BUCKETS_MAX];
	size_t nbuckets;
	struct llmo_hmap by_key;		 /* encoded values -> struct llmo_series * */
	LLMO_VEC(struct llmo_series *) series; /* creation order */
	bool warned;				 /* the series cap was hit and said so */
	llmo_metric_collect_fn collect;		 /* non-NULL: the samples are made at write */
	void *collect_ctx;
};

/* What llmo_metric_emit writes to. */
struct llmo_metric_emitter {
	const struct llmo_metric *f;
	struct llmo_buf *b;
};

struct llmo_metrics {
	LLMO_VEC(struct llmo_metric *) families;
};

int llmo_metrics_new(struct llmo_metrics **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : LLMO_ENOMEM;
}

static void series_free(struct llmo_series *s, size_t nlabels)
{
	if (!s)
		return;
	if (s->values)
		for (size_t i = 0; i < nlabels; i++)
			free(s->values[i]);
	free(s->values);
	free(s->bucket);
	free(s->key);
	free(s);
}

static void family_free(struct llmo_metric *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->series.len; i++)
		series_free(f->series.items[i], f->nlabels);
	llmo_vec_release(&f->series);
	llmo_hmap_release(&f->by_key, NULL);
	for (size_t i = 0; i < f->nlabels; i++)
		free(f->labels[i]);
	free(f->name);
	free(f->help);
	free(f);
}

void llmo_metrics_free(struct llmo_metrics *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->families.len; i++)
		family_free(m->families.items[i]);
	llmo_vec_release(&m->families);
	free(m);
}

static bool name_ok(const char *s, bool colon)
{
	if (!s || !*s)
		return false;
	for (size_t i = 0; s[i]; i++) {
		char c = s[i];
		bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
			     (colon && c == ':');

		if (!alpha && !(i > 0 && c >= '0' && c <= '9'))
			return false;
	}
	return true;
}

static int family_new(struct llmo_metrics *m, enum llmo_metric_type type, const char *name,
		      const char *help, const char *const *labels, size_t nlabels,
		      const double *buckets, size_t nbuckets, struct llmo_metric **out,
		      struct llmo_error *err)
{
	struct llmo_metric *f = NULL, **slot;
	int rc = 0;

	*out = NULL;
	if (!name_ok(name, true))
		return llmo_error_set(err, LLMO_EINVAL, "metric name \"%s\" is not valid",
				      name ? name : "");
	if (nlabels > LLMO_METRICS_LABELS_MAX)
		return llmo_error_set(err, LLMO_EINVAL, "%s: more than %d labels", name,
				      LLMO_METRICS_LABELS_MAX);
	for (size_t i = 0; i < nlabels; i++) {
		if (!name_ok(labels[i], false) || llmo_str_has_prefix(labels[i], "__") ||
		    (type == LLMO_METRIC_HISTOGRAM && strcmp(labels[i], "le") == 0))
			return llmo_error_set(err, LLMO_EINVAL, "%s: label name \"%s\" is not valid",
					      name, labels[i] ? labels[i] : "");
		for (size_t j = 0; j < i; j++)
			if (strcmp(labels[i], labels[j]) == 0)
				return llmo_error_set(err, LLMO_EINVAL, "%s: label \"%s\" twice",
						      name, labels[i]);
	}
	if (type == LLMO_METRIC_HISTOGRAM) {
		if (nbuckets < 1 || nbuckets > LLMO_METRICS_BUCKETS_MAX)
			return llmo_error_set(err, LLMO_EINVAL, "%s: 1 to %d buckets", name,
					      LLMO_METRICS_BUCKETS_MAX);
		for (size_t i = 0; i < nbuckets; i++)
			if (!isfinite(buckets[i]) || (i > 0 && buckets[i] <= buckets[i - 1]))
				return llmo_error_set(err, LLMO_EINVAL,
						      "%s: bucket bounds must be finite and increasing",
						      name);
	}
	for (size_t i = 0; i < m->families.len; i++)
		if (strcmp(m->families.items[i]->name, name) == 0)
			return llmo_error_set(err, LLMO_EINVAL, "metric %s registered twice", name);
	if (m->families.len >= LLMO_METRICS_FAMILIES_MAX)
		return llmo_error_set(err, LLMO_ERANGE, "more than %d metric families",
				      LLMO_METRICS_FAMILIES_MAX);
	f = calloc(1, sizeof(*f));
	if (!f)
		goto nomem;
	f->type = type;
	llmo_hmap_init(&f->by_key);
	f->name = llmo_strdup(name);
	f->help = llmo_strdup(help ? help : "");
	if (!f->name || !f->help)
		goto nomem;
	for (size_t i = 0; i < nlabels; i++) {
		if (!(f->labels[i] = llmo_strdup(labels[i])))
			goto nomem;
		f->nlabels++;
	}
	if (nbuckets)
		memcpy(f->buckets, buckets, nbuckets * sizeof(*buckets));
	f->nbuckets = type == LLMO_METRIC_HISTOGRAM ? nbuckets : 0;
	slot = llmo_vec_push(&m->families);
	if (!slot)
		goto nomem;
	*slot = f;
	*out = f;
	return 0;
nomem:
	family_free(f);
	rc = llmo_error_set(err, LLMO_ENOMEM, "%s: out of memory", name);
	return rc;
}

int llmo_metrics_counter(struct llmo_metrics *m, const char *name, const char *help,
			 const char *const *labels, size_t nlabels, struct llmo_metric **out,
			 struct llmo_error *err)
{
	return family_new(m, LLMO_METRIC_COUNTER, name, help, labels, nlabels, NULL, 0, out, err);
}

int llmo_metrics_gauge(struct llmo_metrics *m, const char *name, const char *help,
		       const char *const *labels, size_t nlabels, struct llmo_metric **out,
		       struct llmo_error *err)
{
	return family_new(m, LLMO_METRIC_GAUGE, name, help, labels, nlabels, NULL, 0, out, err);
}

int llmo_metrics_histogram(struct llmo_metrics *m, const char *name, const char *help,
			   const char *const *labels, size_t nlabels, const double *buckets,
			   size_t nbuckets, struct llmo_metric **out, struct llmo_error *err)
{
	return family_new(m, LLMO_METRIC_HISTOGRAM, name, help, labels, nlabels, buckets,
			  nbuckets, out, err);
}

/* Room for any encoded key: per label, a length of up to 4 digits, ':' and the value. */
#define KEY_MAX (LLMO_METRICS_LABELS_MAX * (LLMO_METRICS_VALUE_MAX + 5) + 1)

/*
 * The lookup key of a set of values: each value as "LEN:" then its bytes,
 * so that no two different sets encode alike whatever bytes they hold.
 * key has KEY_MAX bytes; returns the length (no allocation, no printf: this
 * runs for every update through label values).
 */
static size_t encode_key(const struct llmo_metric *f, const char *const *values, char *key)
{
	size_t n = 0;

	for (size_t i = 0; i < f->nlabels; i++) {
		const char *v = values && values[i] ? values[i] : "";
		size_t len = strnlen(v, LLMO_METRICS_VALUE_MAX), d = len, digits = 1;

		while (d >= 10) {
			d /= 10;
			digits++;
		}
		for (size_t k = digits, x = len; k > 0; k--, x /= 10)
			key[n + k - 1] = (char)('0' + x % 10);
		n += digits;
		key[n++] = ':';
		memcpy(key + n, v, len);
		n += len;
	}
	key[n] = '\0';
	return n;
}

struct llmo_series *llmo_metric_series(struct llmo_metric *f, const char *const *values)
{
	struct llmo_series *s, **slot;
	char key[KEY_MAX];
	size_t klen;

	if (!f)
		return NULL;
	/* fast path: a family without labels has one series */
	if (f->nlabels == 0 && f->series.len == 1)
		return f->series.items[0];
	klen = encode_key(f, values, key);
	s = llmo_hmap_getn(&f->by_key, key, klen);
	if (s)
		return s;
	if (f->series.len >= LLMO_METRICS_SERIES_MAX) {
		if (!f->warned)
			LLMO_WARN("metrics", "series limit reached, new series dropped",
				  "metric=%s limit=%d", f->name, LLMO_METRICS_SERIES_MAX);
		f->warned = true;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->family = f;
	s->key = llmo_strndup(key, klen);
	s->values = calloc(f->nlabels ? f->nlabels : 1, sizeof(char *));
	if (f->type == LLMO_METRIC_HISTOGRAM)
		s->bucket = calloc(f->nbuckets + 1, sizeof(uint64_t));
	if (!s->key || !s->values || (f->type == LLMO_METRIC_HISTOGRAM && !s->bucket))
		goto fail;
	for (size_t i = 0; i < f->nlabels; i++)
		if (!(s->values[i] = llmo_strndup(values && values[i] ? values[i] : "",
						  LLMO_METRICS_VALUE_MAX)))
			goto fail;
	slot = llmo_vec_push(&f->series);
	if (!slot)
		goto fail;
	if (llmo_hmap_put(&f->by_key, s->key, s, NULL)) {
		f->series.len--;
		goto fail;
	}
	*slot = s;
	return s;
fail:
	series_free(s, f->nlabels);
	return NULL;
}

int llmo_metric_remove(struct llmo_metric *f, const char *const *values)
{
	char key[KEY_MAX];
	size_t klen = encode_key(f, values, key);
	struct llmo_series *s = llmo_hmap_getn(&f->by_key, key, klen);

	if (!s)
		return LLMO_ENOTFOUND;
	llmo_hmap_del(&f->by_key, s->key, NULL);
	for (size_t i = 0; i < f->series.len; i++) {
		if (f->series.items[i] == s) {
			memmove(&f->series.items[i], &f->series.items[i + 1],
				(f->series.len - i - 1) * sizeof(f->series.items[0]));
			f->series.len--;
			break;
		}
	}
	series_free(s, f->nlabels);
	return 0;
}

void llmo_metric_clear(struct llmo_metric *f)
{
	for (size_t i = 0; i < f->series.len; i++)
		series_free(f->series.items[i], f->nlabels);
	f->series.len = 0;
	llmo_hmap_release(&f->by_key, NULL);
}

size_t llmo_metric_count(const struct llmo_metric *f)
{
	return f ? f->series.len : 0;
}

void llmo_series_add(struct llmo_series *s, double v)
{
	if (s)
		s->value += v;
}

void llmo_series_set(struct llmo_series *s, double v)
{
	if (s)
		s->value = v;
}

void llmo_series_observe(struct llmo_series *s, double v)
{
	const struct llmo_metric *f;
	size_t lo = 0, hi;

	if (!s || !s->bucket)
		return;
	f = s->family;
	/* the first bound >= v (bucket le=bound holds v); nbuckets: +Inf */
	hi = f->nbuckets;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (v <= f->buckets[mid])
			hi = mid;
		else
			lo = mid + 1;
	}
	s->bucket[lo]++;
	s->count++;
	s->sum += v;
}

void llmo_metric_add(struct llmo_metric *f, const char *const *values, double v)
{
	llmo_series_add(llmo_metric_series(f, values), v);
}

void llmo_metric_set(struct llmo_metric *f, const char *const *values, double v)
{
	llmo_series_set(llmo_metric_series(f, values), v);
}

void llmo_metric_observe(struct llmo_metric *f, const char *const *values, double v)
{
	llmo_series_observe(llmo_metric_series(f, values), v);
}

/* ---- exposition ---- */

/* A sample value: integers plainly, others in the shortest form that reads back. */
static int put_number(struct llmo_buf *b, double v)
{
	char tmp[64];

	if (isnan(v))
		return llmo_buf_puts(b, "NaN");
	if (isinf(v))
		return llmo_buf_puts(b, v > 0 ? "+Inf" : "-Inf");
	if (v == floor(v) && fabs(v) < 9007199254740992.0)
		return llmo_buf_appendf(b, "%.0f", v);
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
		if (strtod(tmp, NULL) == v)
			break;
	}
	return llmo_buf_puts(b, tmp);
}

/* s escaped, at most max bytes of it. */
static int put_escaped(struct llmo_buf *b, const char *s, size_t max, bool quote_too)
{
	const char *end = s + strnlen(s, max);
	int rc = 0;

	for (; s < end && !rc; s++) {
		if (*s == '\\')
			rc = llmo_buf_puts(b, "\\\\");
		else if (*s == '\n')
			rc = llmo_buf_puts(b, "\\n");
		else if (*s == '"' && quote_too)
			rc = llmo_buf_puts(b, "\\\"");
		else
			rc = llmo_buf_putc(b, *s);
	}
	return rc;
}

/* "{a="x",b="y"" plus the extra label (le) when given, then "}"; nothing when empty. */
static int put_labels(struct llmo_buf *b, const struct llmo_metric *f, const char *const *values,
		      const char *extra_name, const char *extra_value)
{
	int rc = 0;
	bool any = false;

	for (size_t i = 0; i < f->nlabels && !rc; i++) {
		rc = llmo_buf_appendf(b, "%s%s=\"", any ? "," : "{", f->labels[i]);
		if (!rc)
			rc = put_escaped(b, values && values[i] ? values[i] : "",
					 LLMO_METRICS_VALUE_MAX, true);
		if (!rc)
			rc = llmo_buf_putc(b, '"');
		any = true;
	}
	if (!rc && extra_name) {
		rc = llmo_buf_appendf(b, "%s%s=\"%s\"", any ? "," : "{", extra_name, extra_value);
		any = true;
	}
	if (!rc && any)
		rc = llmo_buf_putc(b, '}');
	return rc;
}

/* One counter or gauge sample line. */
static int put_sample(struct llmo_buf *b, const struct llmo_metric *f, const char *const *values,
		      double v)
{
	int rc = llmo_buf_puts(b, f->name);

	if (!rc)
		rc = put_labels(b, f, values, NULL, NULL);
	if (!rc)
		rc = llmo_buf_putc(b, ' ');
	if (!rc)
		rc = put_number(b, v);
	if (!rc)
		rc = llmo_buf_putc(b, '\n');
	return rc;
}

int llmo_metric_set_collect(struct llmo_metric *f, llmo_metric_collect_fn fn, void *ctx)
{
	if (f->type == LLMO_METRIC_HISTOGRAM)
		return LLMO_EINVAL;
	f->collect = fn;
	f->collect_ctx = ctx;
	return 0;
}

int llmo_metric_emit(struct llmo_metric_emitter *e, const char *const *values, double v)
{
	return put_sample(e->b, e->f, values, v);
}

static int write_family(const struct llmo_metric *f, struct llmo_buf *b)
{
	static const char *const types[] = {"counter", "gauge", "histogram"};
	int rc = llmo_buf_appendf(b, "# HELP %s ", f->name);

	if (!rc)
		rc = put_escaped(b, f->help, SIZE_MAX, false);
	if (!rc)
		rc = llmo_buf_appendf(b, "\n# TYPE %s %s\n", f->name, types[f->type]);
	if (!rc && f->collect) {
		struct llmo_metric_emitter e = {f, b};

		return f->collect(f->collect_ctx, &e);
	}
	for (size_t i = 0; i < f->series.len && !rc; i++) {
		const struct llmo_series *s = f->series.items[i];
		uint64_t cum = 0;
		char le[64];

		if (f->type != LLMO_METRIC_HISTOGRAM) {
			rc = put_sample(b, f, (const char *const *)s->values, s->value);
			continue;
		}
		for (size_t k = 0; k <= f->nbuckets && !rc; k++) {
			struct llmo_buf leb;

			cum += s->bucket[k];
			llmo_buf_init(&leb, sizeof(le) - 1);
			if (k == f->nbuckets)
				rc = llmo_buf_puts(&leb, "+Inf");
			else
				rc = put_number(&leb, f->buckets[k]);
			if (!rc) {
				memcpy(le, leb.data, leb.len + 1);
				rc = llmo_buf_appendf(b, "%s_bucket", f->name);
			}
			llmo_buf_release(&leb);
			if (!rc)
				rc = put_labels(b, f, (const char *const *)s->values, "le", le);
			if (!rc)
				rc = llmo_buf_appendf(b, " %" PRIu64 "\n", cum);
		}
		if (!rc)
			rc = llmo_buf_appendf(b, "%s_sum", f->name);
		if (!rc)
			rc = put_labels(b, f, (const char *const *)s->values, NULL, NULL);
		if (!rc)
			rc = llmo_buf_putc(b, ' ');
		if (!rc)
			rc = put_number(b, s->sum);
		if (!rc)
			rc = llmo_buf_appendf(b, "\n%s_count", f->name);
		if (!rc)
			rc = put_labels(b, f, (const char *const *)s->values, NULL, NULL);
		if (!rc)
			rc = llmo_buf_appendf(b, " %" PRIu64 "\n", s->count);
	}
	return rc;
}

int llmo_metrics_write(const struct llmo_metrics *m, struct llmo_buf *out)
{
	int rc = 0;

	for (size_t i = 0; i < m->families.len && !rc; i++)
		rc = write_family(m->families.items[i], out);
	return rc;
}
