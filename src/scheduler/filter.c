/*
 * Taints and tolerations, node selection and model affinity; see filter.h.
 */
#include "base/common.h"

#include "base/str.h"
#include "kube/object.h"
#include "scheduler/filter.h"

#include "base/banned.h"

static const char *str_or_empty(const json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));

	return s ? s : "";
}

static json_t *labels_of(const json_t *obj)
{
	return json_object_get(json_object_get(obj, "metadata"), "labels");
}

json_t *llmo_sched_term_selector(const json_t *term, const json_t *owner_labels, bool mismatch)
{
	static const char *const keys[2] = {"matchLabelKeys", "mismatchLabelKeys"};
	const json_t *sel = json_object_get(term, "labelSelector");
	json_t *out, *exprs;

	if (!json_is_object(sel))
		return NULL;
	out = json_deep_copy(sel);
	exprs = json_object_get(out, "matchExpressions");
	if (!exprs && out) {
		exprs = json_array();
		json_object_set_new(out, "matchExpressions", exprs);
	}
	for (int k = 0; k < (mismatch ? 2 : 1) && json_is_array(exprs); k++) {
		const json_t *list = json_object_get(term, keys[k]), *v;
		size_t i;

		json_array_foreach(list, i, v) {
			const char *val = json_string_value(
				json_object_get(owner_labels, json_string_value(v)));

			if (val)
				json_array_append_new(exprs,
						      json_pack("{s:s, s:s, s:[s]}", "key",
								json_string_value(v), "operator",
								k ? "NotIn" : "In", "values", val));
		}
	}
	return out;
}

bool llmo_sched_toleration_matches(const json_t *toleration, const json_t *taint)
{
	const char *t_effect = str_or_empty(toleration, "effect");
	const char *t_key = str_or_empty(toleration, "key");
	const char *op = str_or_empty(toleration, "operator");

	if (*t_effect && strcmp(t_effect, str_or_empty(taint, "effect")) != 0)
		return false;
	if (!*t_key)
		return strcmp(op, "Exists") == 0;
	if (strcmp(t_key, str_or_empty(taint, "key")) != 0)
		return false;
	if (strcmp(op, "Exists") == 0)
		return true;
	if (*op && strcmp(op, "Equal") != 0)
		return false;
	return strcmp(str_or_empty(toleration, "value"), str_or_empty(taint, "value")) == 0;
}

static bool tolerated(const json_t *pod, const json_t *taint)
{
	json_t *tols = json_object_get(json_object_get(pod, "spec"), "tolerations"), *t;
	size_t i;

	json_array_foreach(tols, i, t) {
		if (llmo_sched_toleration_matches(t, taint))
			return true;
	}
	return false;
}

const json_t *llmo_sched_untolerated_taint(const json_t *pod, const json_t *node)
{
	json_t *taints = json_object_get(json_object_get(node, "spec"), "taints"), *t;
	size_t i;

	json_array_foreach(taints, i, t) {
		const char *effect = str_or_empty(t, "effect");

		if ((strcmp(effect, "NoSchedule") == 0 || strcmp(effect, "NoExecute") == 0) &&
		    !tolerated(pod, t))
			return t;
	}
	return NULL;
}

int llmo_sched_untolerated_preferred(const json_t *pod, const json_t *node)
{
	json_t *taints = json_object_get(json_object_get(node, "spec"), "taints"), *t;
	size_t i;
	int n = 0;

	json_array_foreach(taints, i, t) {
		if (strcmp(str_or_empty(t, "effect"), "PreferNoSchedule") == 0 && !tolerated(pod, t))
			n++;
	}
	return n;
}

static bool value_in(const char *v, const json_t *values)
{
	json_t *x;
	size_t i;

	json_array_foreach(values, i, x) {
		const char *s = json_string_value(x);

		if (s && strcmp(s, v) == 0)
			return true;
	}
	return false;
}

/* Gt / Lt: the label value and the one value, both integers. */
static bool compare_int(const char *have, const json_t *values, bool greater)
{
	const char *want = json_string_value(json_array_get(values, 0));
	int64_t h, w;

	if (json_array_size(values) != 1 || !want || !have)
		return false;
	if (llmo_parse_int64(have, &h, NULL) || llmo_parse_int64(want, &w, NULL))
		return false;
	return greater ? h > w : h < w;
}

/* One requirement {key, operator, values} against value (NULL: the key is absent). */
static bool requirement_matches(const json_t *req, const char *value)
{
	const char *op = str_or_empty(req, "operator");
	json_t *values = json_object_get(req, "values");

	if (strcmp(op, "In") == 0)
		return value && value_in(value, values);
	if (strcmp(op, "NotIn") == 0)
		return !value || !value_in(value, values);
	if (strcmp(op, "Exists") == 0)
		return value != NULL;
	if (strcmp(op, "DoesNotExist") == 0)
		return value == NULL;
	if (strcmp(op, "Gt") == 0)
		return compare_int(value, values, true);
	if (strcmp(op, "Lt") == 0)
		return compare_int(value, values, false);
	return false;
}

static bool term_matches(const json_t *term, const json_t *node)
{
	json_t *exprs = json_object_get(term, "matchExpressions");
	json_t *fields = json_object_get(term, "matchFields"), *r;
	json_t *labels = labels_of(node);
	size_t i;

	if (!json_array_size(exprs) && !json_array_size(fields))
		return false;
	json_array_foreach(exprs, i, r) {
		const char *key = json_string_value(json_object_get(r, "key"));

		if (!key || !requirement_matches(r, json_string_value(json_object_get(labels, key))))
			return false;
	}
	json_array_foreach(fields, i, r) {
		const char *key = json_string_value(json_object_get(r, "key"));
		const char *op = str_or_empty(r, "operator");

		if (!key || strcmp(key, "metadata.name") != 0 ||
		    (strcmp(op, "In") != 0 && strcmp(op, "NotIn") != 0) ||
		    !requirement_matches(r, llmo_kube_str(node, "metadata", "name")))
			return false;
	}
	return true;
}

bool llmo_sched_node_selected(const json_t *pod, const json_t *node)
{
	json_t *spec = json_object_get(pod, "spec");
	json_t *sel = json_object_get(spec, "nodeSelector"), *v, *req, *terms, *t;
	json_t *labels = labels_of(node);
	const char *k;
	size_t i;

	json_object_foreach(sel, k, v) {
		const char *have = json_string_value(json_object_get(labels, k));
		const char *want = json_string_value(v);

		if (!have || !want || strcmp(have, want) != 0)
			return false;
	}
	req = json_object_get(json_object_get(json_object_get(spec, "affinity"), "nodeAffinity"),
			      "requiredDuringSchedulingIgnoredDuringExecution");
	if (!req)
		return true;
	terms = json_object_get(req, "nodeSelectorTerms");
	json_array_foreach(terms, i, t) {
		if (term_matches(t, node))
			return true;
	}
	return false;
}

int64_t llmo_sched_preferred_affinity(const json_t *pod, const json_t *node)
{
	json_t *affinity = json_object_get(json_object_get(pod, "spec"), "affinity");
	json_t *terms = json_object_get(json_object_get(affinity, "nodeAffinity"),
					"preferredDuringSchedulingIgnoredDuringExecution");
	json_t *t;
	int64_t sum = 0;
	size_t i;

	json_array_foreach(terms, i, t) {
		json_t *w = json_object_get(t, "weight");
		json_int_t weight = json_is_integer(w) ? json_integer_value(w) : 0;

		/* the API admits 1..100 only; kube-scheduler skips weight 0 (and an empty term) */
		if (weight < LLMO_SCHED_PREFERRED_WEIGHT_MIN || weight > LLMO_SCHED_PREFERRED_WEIGHT_MAX)
			continue;
		if (term_matches(json_object_get(t, "preference"), node))
			sum += weight;
	}
	return sum;
}

int64_t llmo_sched_node_affinity_score(int64_t sum, int64_t most)
{
	if (most <= 0 || sum <= 0)
		return 0;
	return LLMO_SCHED_AFFINITY_SCORE_MAX * sum / most;
}

/* A JSON number (integer or real) as a double; def when absent or not a number. */
static double number_or(const json_t *v, double def)
{
	return json_is_number(v) ? json_number_value(v) : def;
}

double llmo_sched_model_saved_seconds(const json_t *pod, const json_t *node)
{
	const char *model = json_string_value(json_object_get(labels_of(pod), LLMO_SCHED_MODEL_LABEL));
	const char *version =
		json_string_value(json_object_get(labels_of(pod), LLMO_SCHED_VERSION_LABEL));
	const char *text = json_string_value(json_object_get(
		json_object_get(json_object_get(node, "metadata"), "annotations"),
		LLMO_SCHED_CACHED_MODELS_ANNOTATION));
	json_t *doc, *m;
	double rate, best = 0;
	size_t i;

	if (!model || !*model || !text || strlen(text) > LLMO_SCHED_CACHED_MODELS_MAX)
		return 0;
	doc = json_loads(text, 0, NULL);
	if (!json_is_object(doc)) {
		json_decref(doc);
		return 0;
	}
	rate = number_or(json_object_get(doc, "pullBytesPerSecond"), 0);
	if (!(rate > 0))
		rate = LLMO_SCHED_DEFAULT_PULL_BPS;
	json_array_foreach(json_object_get(doc, "models"), i, m) {
		const char *name = json_string_value(json_object_get(m, "name"));
		const char *ver = json_string_value(json_object_get(m, "version"));
		double size = number_or(json_object_get(m, "sizeBytes"), 0);

		if (!name || strcmp(name, model) != 0)
			continue;
		if (version && *version && (!ver || strcmp(ver, version) != 0))
			continue;
		if (size > 0 && size / rate > best)
			best = size / rate;
	}
	json_decref(doc);
	return best;
}

double llmo_sched_affinity_score(double seconds)
{
	if (!(seconds > 0))
		return 0;
	if (seconds >= LLMO_SCHED_AFFINITY_MAX_SECONDS)
		return 100;
	return 100 * seconds / LLMO_SCHED_AFFINITY_MAX_SECONDS;
}
