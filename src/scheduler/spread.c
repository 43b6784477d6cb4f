/*
 * Pod topology spread constraints; see spread.h.
 *
 * Each constraint keeps its domains' counts in a map from the label's value
 * to a count stored as intptr_t; every domain of a node that counts is in
 * the map (with 0 pods too), so that the fewest can be 0.
 */
#include "base/common.h"

#include <math.h>

#include "apiserver/selector.h"
#include "base/hmap.h"
#include "base/str.h"
#include "base/vec.h"
#include "scheduler/filter.h"
#include "scheduler/spread.h"

#include "base/banned.h"

struct constraint {
	int64_t max_skew;
	char *key;
	bool hard;			 /* DoNotSchedule */
	int64_t min_domains;		 /* 0: not given */
	bool honor_affinity, honor_taints; /* nodeAffinityPolicy / nodeTaintsPolicy */
	struct llmo_selector *sel;
	bool self;			 /* the pod matches sel */
	struct llmo_hmap counts;	 /* domain value -> placed pods matching */
	int64_t fewest;			 /* after llmo_sched_spread_done */
};

struct llmo_sched_spread {
	char *ns;
	json_t *pod; /* a copy, for its node selection and tolerations */
	LLMO_VEC(struct constraint) c;
};

static const json_t *labels_of(const json_t *obj)
{
	return json_object_get(json_object_get(obj, "metadata"), "labels");
}

static const char *label(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(labels_of(obj), key));
}

static int parse_one(const json_t *j, const json_t *pod, size_t i, struct constraint *c,
		     struct llmo_error *err)
{
	const json_t *ms = json_object_get(j, "maxSkew"), *md = json_object_get(j, "minDomains");
	const char *key = json_string_value(json_object_get(j, "topologyKey"));
	const char *when = json_string_value(json_object_get(j, "whenUnsatisfiable"));
	const char *nap = json_string_value(json_object_get(j, "nodeAffinityPolicy"));
	const char *ntp = json_string_value(json_object_get(j, "nodeTaintsPolicy"));
	json_t *full;
	char where[64];
	int rc;

	llmo_hmap_init(&c->counts);
	snprintf(where, sizeof(where), "spec.topologySpreadConstraints[%zu]", i);
	if (!json_is_object(j))
		return llmo_error_set(err, LLMO_EINVAL, "%s: expected an object", where);
	if (!json_is_integer(ms) || json_integer_value(ms) < 1)
		return llmo_error_set(err, LLMO_EINVAL, "%s.maxSkew: must be greater than zero",
				      where);
	if (!key || !*key || strlen(key) > 317)
		return llmo_error_set(err, LLMO_EINVAL,
				      "%s.topologyKey: Required value: can not be empty", where);
	if (!when || (strcmp(when, "DoNotSchedule") && strcmp(when, "ScheduleAnyway")))
		return llmo_error_set(err, LLMO_EINVAL,
				      "%s.whenUnsatisfiable: Unsupported value: must be "
				      "\"DoNotSchedule\" or \"ScheduleAnyway\"",
				      where);
	if (md && (!json_is_integer(md) || json_integer_value(md) < 1))
		return llmo_error_set(err, LLMO_EINVAL, "%s.minDomains: must be greater than zero",
				      where);
	if (md && strcmp(when, "DoNotSchedule") != 0)
		return llmo_error_set(err, LLMO_EINVAL,
				      "%s.minDomains: can only be used with whenUnsatisfiable "
				      "DoNotSchedule",
				      where);
	if ((nap && strcmp(nap, "Honor") && strcmp(nap, "Ignore")) ||
	    (ntp && strcmp(ntp, "Honor") && strcmp(ntp, "Ignore")))
		return llmo_error_set(err, LLMO_EINVAL,
				      "%s: nodeAffinityPolicy and nodeTaintsPolicy must be \"Honor\" "
				      "or \"Ignore\"",
				      where);
	c->max_skew = json_integer_value(ms);
	c->hard = strcmp(when, "DoNotSchedule") == 0;
	c->min_domains = md ? json_integer_value(md) : 0;
	c->honor_affinity = !nap || strcmp(nap, "Honor") == 0;
	c->honor_taints = ntp && strcmp(ntp, "Honor") == 0;
	c->key = llmo_strdup(key);
	if (!c->key)
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	/* matchLabelKeys: KEY in (the pod's value), for each KEY the pod has */
	full = llmo_sched_term_selector(j, labels_of(pod), false);
	rc = llmo_selector_from_json(full, &c->sel, err);
	json_decref(full);
	if (rc) {
		llmo_error_prefix(err, "%s.labelSelector.", where);
		return rc;
	}
	c->self = llmo_selector_matches(c->sel, labels_of(pod));
	return 0;
}

int llmo_sched_spread_new(const json_t *pod, struct llmo_sched_spread **out,
			  struct llmo_error *err)
{
	struct llmo_sched_spread *sp = calloc(1, sizeof(*sp));
	const json_t *list = json_object_get(json_object_get(pod, "spec"),
					     "topologySpreadConstraints"), *j;
	const char *ns = json_string_value(json_object_get(json_object_get(pod, "metadata"),
							   "namespace"));
	size_t i;
	int rc = 0;

	*out = NULL;
	if (!sp)
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	sp->ns = llmo_strdup(ns ? ns : "default");
	sp->pod = json_deep_copy(pod);
	if (!sp->ns || !sp->pod)
		rc = llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	if (!rc && list && !json_is_null(list) && !json_is_array(list))
		rc = llmo_error_set(err, LLMO_EINVAL,
				    "spec.topologySpreadConstraints: expected an array");
	json_array_foreach(list, i, j) {
		struct constraint *c;

		if (rc)
			break;
		c = llmo_vec_push(&sp->c);
		if (!c) {
			rc = llmo_error_set(err, LLMO_ENOMEM, "out of memory");
			break;
		}
		rc = parse_one(j, pod, i, c, err);
	}
	if (rc) {
		llmo_sched_spread_free(sp);
		return rc;
	}
	*out = sp;
	return 0;
}

bool llmo_sched_spread_any(const struct llmo_sched_spread *sp)
{
	return sp->c.len > 0;
}

bool llmo_sched_spread_scores(const struct llmo_sched_spread *sp)
{
	for (size_t i = 0; i < sp->c.len; i++)
		if (!sp->c.items[i].hard)
			return true;
	return false;
}

/* Whether node has the keys of all the pod's constraints of that kind (hard or soft). */
static bool has_keys(const struct llmo_sched_spread *sp, const json_t *node, bool hard)
{
	for (size_t i = 0; i < sp->c.len; i++)
		if (sp->c.items[i].hard == hard && !label(node, sp->c.items[i].key))
			return false;
	return true;
}

/* Whether node's pods count for c (spread.h: the keys and the two policies). */
static bool node_counts(const struct llmo_sched_spread *sp, const struct constraint *c,
			const json_t *node)
{
	return has_keys(sp, node, c->hard) &&
	       (!c->honor_affinity || llmo_sched_node_selected(sp->pod, node)) &&
	       (!c->honor_taints || !llmo_sched_untolerated_taint(sp->pod, node));
}

static int count_add(struct llmo_hmap *m, const char *value, intptr_t delta)
{
	return llmo_hmap_put(m, value, (void *)((intptr_t)llmo_hmap_get(m, value) + delta), NULL);
}

int llmo_sched_spread_add_node(struct llmo_sched_spread *sp, const json_t *node)
{
	for (size_t i = 0; i < sp->c.len; i++) {
		struct constraint *c = &sp->c.items[i];

		if (node_counts(sp, c, node) && count_add(&c->counts, label(node, c->key), 0))
			return LLMO_ENOMEM;
	}
	return 0;
}

int llmo_sched_spread_add_pod(struct llmo_sched_spread *sp, const json_t *placed,
			      const json_t *node)
{
	const json_t *meta = json_object_get(placed, "metadata");
	const char *ns = json_string_value(json_object_get(meta, "namespace"));

	if (json_object_get(meta, "deletionTimestamp") || strcmp(ns ? ns : "default", sp->ns))
		return 0;
	for (size_t i = 0; i < sp->c.len; i++) {
		struct constraint *c = &sp->c.items[i];

		if (node_counts(sp, c, node) && llmo_selector_matches(c->sel, labels_of(placed)) &&
		    count_add(&c->counts, label(node, c->key), 1))
			return LLMO_ENOMEM;
	}
	return 0;
}

void llmo_sched_spread_done(struct llmo_sched_spread *sp)
{
	for (size_t i = 0; i < sp->c.len; i++) {
		struct constraint *c = &sp->c.items[i];
		size_t it = 0;
		void *v;
		bool first = true;

		c->fewest = 0;
		while (llmo_hmap_next(&c->counts, &it, NULL, &v)) {
			if (first || (intptr_t)v < c->fewest)
				c->fewest = (intptr_t)v;
			first = false;
		}
		if (c->min_domains && (int64_t)llmo_hmap_count(&c->counts) < c->min_domains)
			c->fewest = 0;
	}
}

enum llmo_sched_spread_why llmo_sched_spread_check(const struct llmo_sched_spread *sp,
						   const json_t *node)
{
	for (size_t i = 0; i < sp->c.len; i++) {
		const struct constraint *c = &sp->c.items[i];
		const char *v;

		if (!c->hard)
			continue;
		if (!has_keys(sp, node, true))
			return LLMO_SCHED_SPREAD_MISSING_LABEL;
		v = label(node, c->key);
		if ((intptr_t)llmo_hmap_get(&c->counts, v) + (c->self ? 1 : 0) - c->fewest >
		    c->max_skew)
			return LLMO_SCHED_SPREAD_SKEW;
	}
	return LLMO_SCHED_SPREAD_OK;
}

bool llmo_sched_spread_score(const struct llmo_sched_spread *sp, json_t *const *nodes, size_t n,
			     double *out)
{
	int64_t lo = INT64_MAX, hi = 0, *raw;
	bool differ = false;

	if (!llmo_sched_spread_scores(sp) || !n || !(raw = calloc(n, sizeof(*raw))))
		return false;
	for (size_t i = 0; i < n; i++) {
		double s = 0;

		raw[i] = -1; /* ignored: lacks a key */
		if (!has_keys(sp, nodes[i], false))
			continue;
		for (size_t k = 0; k < sp->c.len; k++) {
			const struct constraint *c = &sp->c.items[k];
			double w = log((double)llmo_hmap_count(&c->counts) + 2);

			if (c->hard)
				continue;
			s += (double)(intptr_t)llmo_hmap_get(&c->counts, label(nodes[i], c->key)) * w +
			     (double)(c->max_skew - 1);
		}
		raw[i] = (int64_t)llround(s);
		lo = LLMO_MIN(lo, raw[i]);
		hi = LLMO_MAX(hi, raw[i]);
	}
	for (size_t i = 0; i < n; i++) {
		if (raw[i] < 0)
			out[i] = 0;
		else if (hi == 0)
			out[i] = LLMO_SCHED_SPREAD_SCORE_MAX;
		else
			out[i] = (double)LLMO_SCHED_SPREAD_SCORE_MAX * (double)(hi + lo - raw[i]) /
				 (double)hi;
		differ = differ || (i && out[i] != out[0]);
	}
	free(raw);
	return differ;
}

void llmo_sched_spread_free(struct llmo_sched_spread *sp)
{
	if (!sp)
		return;
	for (size_t i = 0; i < sp->c.len; i++) {
		free(sp->c.items[i].key);
		llmo_selector_free(sp->c.items[i].sel);
		llmo_hmap_release(&sp->c.items[i].counts, NULL);
	}
	llmo_vec_release(&sp->c);
	json_decref(sp->pod);
	free(sp->ns);
	free(sp);
}
