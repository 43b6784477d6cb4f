/*
 * Replica usage for the autoscaler and the vertical recommender (vertical.h).
 */
#include "base/common.h"

#include <math.h>

#include "api/usage.h"
#include "base/clock.h"
#include "base/hmap.h"
#include "base/quantity.h"
#include "controller/controller_int.h"
#include "controller/vertical.h"

#include "base/banned.h"

#define MIB ((int64_t)1 << 20)

void llmo__vhist_add(struct llmo__vhist *h, double v)
{
	h->v[h->next] = v;
	h->next = (h->next + 1) % LLMO__VERT_SAMPLES;
	if (h->n < LLMO__VERT_SAMPLES)
		h->n++;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

double llmo__vhist_percentile(const struct llmo__vhist *h, double p)
{
	double s[LLMO__VERT_SAMPLES];
	size_t rank;

	if (!h->n || !(p > 0) || p > 100)
		return NAN;
	memcpy(s, h->v, h->n * sizeof(s[0]));
	qsort(s, h->n, sizeof(s[0]), cmp_double);
	rank = (size_t)ceil(p / 100 * (double)h->n);
	return s[(rank ? rank : 1) - 1];
}

void llmo__vertical_compute(const struct llmo__vhist *cpu, const struct llmo__vhist *mem,
			    int64_t max_cpu_milli, int64_t max_memory,
			    struct llmo__recommendation *out)
{
	double c, m;
	int64_t x;
	const char *capped = "";

	memset(out, 0, sizeof(*out));
	out->samples = cpu->n < mem->n ? cpu->n : mem->n;
	if (out->samples < LLMO__VERT_MIN_SAMPLES) {
		snprintf(out->reason, sizeof(out->reason), "%zu usage samples of the %d needed",
			 out->samples, LLMO__VERT_MIN_SAMPLES);
		return;
	}
	c = llmo__vhist_percentile(cpu, LLMO__VERT_CPU_PERCENTILE);
	m = llmo__vhist_percentile(mem, LLMO__VERT_MEMORY_PERCENTILE);
	/* in integers (the samples are whole millicores and bytes), rounding up */
	out->cpu_milli = ((int64_t)c * (100 + LLMO__VERT_MARGIN_PCT) + 99) / 100;
	x = ((int64_t)m * (100 + LLMO__VERT_MARGIN_PCT) + 99) / 100;
	out->memory = (x + MIB - 1) / MIB * MIB;
	if (out->cpu_milli < LLMO__VERT_CPU_FLOOR_MILLI)
		out->cpu_milli = LLMO__VERT_CPU_FLOOR_MILLI;
	if (out->memory < LLMO__VERT_MEMORY_FLOOR)
		out->memory = LLMO__VERT_MEMORY_FLOOR;
	if (max_cpu_milli > 0 && out->cpu_milli > max_cpu_milli) {
		out->cpu_milli = max_cpu_milli;
		capped = "; cpu capped by maxCPUPerWorkload";
	}
	if (max_memory > 0 && out->memory > max_memory) {
		out->memory = max_memory;
		capped = *capped ? "; cpu and memory capped by maxCPUPerWorkload and "
				   "maxMemoryPerWorkload"
				 : "; memory capped by maxMemoryPerWorkload";
	}
	out->valid = true;
	snprintf(out->reason, sizeof(out->reason),
		 "p%d cpu %.0fm, p%d memory %.0fMi, +%d%%%s", LLMO__VERT_CPU_PERCENTILE, c,
		 LLMO__VERT_MEMORY_PERCENTILE, m / (double)MIB, LLMO__VERT_MARGIN_PCT, capped);
}

/* Sum of the pod's containers' requests of one resource (milli units); 0 when none. */
static int64_t pod_request(const json_t *pod, const char *res)
{
	const json_t *ctrs = json_object_get(json_object_get(pod, "spec"), "containers"), *ct;
	int64_t sum = 0;
	size_t i;

	json_array_foreach(ctrs, i, ct) {
		int64_t v = 0;
		const json_t *q = json_object_get(
			json_object_get(json_object_get(ct, "resources"), "requests"), res);

		if (q && llmo_quantity_from_json(q, &v, NULL) == 0 && v > 0 &&
		    llmo_quantity_add(sum, v, &sum))
			return 0;
	}
	return sum;
}

/* The pod's usage annotation when it is there, well-formed and fresh at now_wall_ms. */
static bool pod_usage(const json_t *pod, int64_t now_wall_ms, struct llmo_usage *u)
{
	const char *text = json_string_value(
		json_object_get(json_object_get(json_object_get(pod, "metadata"), "annotations"),
				LLMO_ANNOTATION_USAGE));

	return text && llmo_usage_parse(text, u, NULL) == 0 &&
	       now_wall_ms - u->at_ms <= LLMO__USAGE_STALE_MS;
}

/* The mean of sum over n known, with missing more replicas counted as HPA does (see .h). */
static double with_missing(double sum, size_t n, size_t missing, double target)
{
	double known, all;

	if (!n)
		return NAN;
	known = sum / (double)n;
	if (!missing || !(target > 0) || known == target)
		return known;
	all = (sum + (known > target ? 0 : 100.0 * (double)missing)) / (double)(n + missing);
	return (known > target) == (all > target) ? all : target;
}

void llmo__usage_percent(const json_t *const *pods, size_t n, int64_t now_wall_ms,
			 double cpu_target, double mem_target, double *cpu_pct, double *mem_pct)
{
	double cs = 0, ms = 0;
	size_t cn = 0, mn = 0, cmiss = 0, mmiss = 0;

	for (size_t i = 0; i < n; i++) {
		struct llmo_usage u;
		int64_t rc = pod_request(pods[i], "cpu"), rm = pod_request(pods[i], "memory");

		if (!pod_usage(pods[i], now_wall_ms, &u)) {
			cmiss += rc > 0;
			mmiss += rm > 0;
			continue;
		}
		if (rc > 0) {
			cs += 100.0 * (double)u.cpu_milli / (double)rc;
			cn++;
		}
		if (rm > 0) {
			/* the request is in milli-bytes */
			ms += 100.0 * (double)u.memory * 1000.0 / (double)rm;
			mn++;
		}
	}
	*cpu_pct = with_missing(cs, cn, cmiss, cpu_target);
	*mem_pct = with_missing(ms, mn, mmiss, mem_target);
}

double llmo__gpu_percent(const json_t *const *pods, size_t n, int64_t now_wall_ms,
			 double target)
{
	double sum = 0;
	size_t known = 0, missing = 0;

	for (size_t i = 0; i < n; i++) {
		struct llmo_usage u;

		if (pod_request(pods[i], "nvidia.com/gpu") <= 0)
			continue;
		if (!pod_usage(pods[i], now_wall_ms, &u) || !u.has_gpu) {
			missing++;
			continue;
		}
		sum += u.gpu_pct;
		known++;
	}
	return with_missing(sum, known, missing, target);
}

struct vertical {
	struct llmo__vhist cpu, mem;
	int64_t sampled_ms; /* monotonic, the last sampling; 0: never */
};

int llmo__vertical_update(struct llmo_controller *c, const char *key, const json_t *const *pods,
			  size_t n, int64_t now_wall_ms, int64_t now_mono_ms,
			  struct llmo__recommendation *out)
{
	struct vertical *v = llmo_hmap_get(&c->verticals, key);
	const struct llmo_resource_manager_config *rm = &c->config->resource_manager;

	if (!v) {
		if (!(v = calloc(1, sizeof(*v))))
			return LLMO_ENOMEM;
		if (llmo_hmap_put(&c->verticals, key, v, NULL)) {
			free(v);
			return LLMO_ENOMEM;
		}
	}
	if (!v->sampled_ms || now_mono_ms - v->sampled_ms >= c->vertical_sample_ms) {
		v->sampled_ms = now_mono_ms;
		for (size_t i = 0; i < n; i++) {
			struct llmo_usage u;

			if (!pod_usage(pods[i], now_wall_ms, &u))
				continue;
			llmo__vhist_add(&v->cpu, (double)u.cpu_milli);
			llmo__vhist_add(&v->mem, (double)u.memory);
		}
	}
	/* the configuration's quantities are milli units: maxMemoryPerWorkload in milli-bytes */
	llmo__vertical_compute(&v->cpu, &v->mem, rm->max_cpu_per_workload,
			       rm->max_memory_per_workload / 1000, out);
	return 0;
}

void llmo__vertical_forget(struct llmo_controller *c, const char *key)
{
	void *old = NULL;

	if (llmo_hmap_del(&c->verticals, key, &old) == 0)
		free(old);
}

void llmo__vertical_release_all(struct llmo_controller *c)
{
	llmo_hmap_release(&c->verticals, free);
}

static const char *strategy_of(const json_t *w)
{
	const char *st = json_string_value(json_object_get(
		json_object_get(json_object_get(w, "spec"), "scaling"), "strategy"));

	return st ? st : "horizontal";
}

bool llmo__vertical_on(const json_t *w)
{
	return strcmp(strategy_of(w), "vertical") == 0 || strcmp(strategy_of(w), "hybrid") == 0;
}

bool llmo__vertical_only(const json_t *w)
{
	return strcmp(strategy_of(w), "vertical") == 0;
}

static int put_q(json_t *obj, const char *key, int64_t milli, enum llmo_qformat fmt)
{
	char q[LLMO_QUANTITY_FMT_MAX];

	if (llmo_quantity_format(milli, fmt, q, sizeof(q)))
		return LLMO_EINVAL;
	return json_object_set_new(obj, key, json_string(q)) ? LLMO_ENOMEM : 0;
}

json_t *llmo__vertical_status(const json_t *old, const struct llmo__recommendation *rec,
			      int64_t now_wall_ms)
{
	json_t *o = json_object();
	char at[LLMO_RFC3339_MAX];
	int rc = 0;

	if (!o)
		return NULL;
	if (rec->valid) {
		json_t *cpu, *mem;
		int64_t oc = 0, om = 0;

		rc = put_q(o, "cpu", rec->cpu_milli, LLMO_QFORMAT_DECIMAL_SI);
		if (!rc)
			rc = put_q(o, "memory", rec->memory * 1000, LLMO_QFORMAT_BINARY_SI);
		cpu = json_object_get(old, "cpu");
		mem = json_object_get(old, "memory");
		if (!rc && cpu && mem && json_object_get(old, "updatedAt") &&
		    !llmo_quantity_from_json(cpu, &oc, NULL) &&
		    !llmo_quantity_from_json(mem, &om, NULL) && oc == rec->cpu_milli &&
		    om == rec->memory * 1000)
			rc = json_object_set(o, "updatedAt", json_object_get(old, "updatedAt"));
		else if (!rc && !llmo_time_format_rfc3339(now_wall_ms, false, at, sizeof(at)))
			rc = json_object_set_new(o, "updatedAt", json_string(at));
	} else if (old) {
		const char *keep[] = {"cpu", "memory", "updatedAt"};

		for (size_t i = 0; i < LLMO_ARRAY_LEN(keep) && !rc; i++)
			if (json_object_get(old, keep[i]))
				rc = json_object_set(o, keep[i], json_object_get(old, keep[i]));
	}
	if (!rc)
		rc = json_object_set_new(o, "reason", json_string(rec->reason));
	if (rc) {
		json_decref(o);
		return NULL;
	}
	return o;
}

void llmo__vertical_requests(const json_t *w, int64_t *cpu_milli, int64_t *memory_milli)
{
	const json_t *rec = json_object_get(json_object_get(w, "status"), "recommendation");
	const json_t *pinned = json_object_get(json_object_get(w, "spec"), "resources");
	const json_t *v;

	*cpu_milli = *memory_milli = 0;
	if (!llmo__vertical_on(w))
		return;
	if (!json_object_get(pinned, "cpu") && (v = json_object_get(rec, "cpu")) &&
	    llmo_quantity_from_json(v, cpu_milli, NULL))
		*cpu_milli = 0;
	if (!json_object_get(pinned, "memory") && (v = json_object_get(rec, "memory")) &&
	    llmo_quantity_from_json(v, memory_milli, NULL))
		*memory_milli = 0;
}
