/*
 * Inter-pod affinity and anti-affinity; see podaffinity.h.
 *
 * A decision counts the placed pods once (llmo_sched_podaff_add) into maps
 * keyed by topology pair, "KEY\x1fVALUE" (label keys and values cannot hold
 * \x1f), whose values are counts or scores stored as intptr_t; a node is
 * then checked and scored by its labels against those maps alone.
 */
#include "base/common.h"

#include "apiserver/selector.h"
#include "base/hmap.h"
#include "base/str.h"
#include "base/vec.h"
#include "scheduler/filter.h"
#include "scheduler/podaffinity.h"

#include "base/banned.h"

/* Longest topology pair key built. */
#define PAIR_MAX 1024

struct term {
	struct llmo_selector *sel;   /* the pods it selects (never NULL once parsed) */
	char *key;		     /* topologyKey */
	struct llmo_strv ns;	     /* namespaces it names (the owner's when no selector) */
	struct llmo_selector *nssel; /* namespaceSelector; NULL: none */
	int64_t weight;		     /* preferred terms: 1..100; required: 0 */
};

struct terms {
	LLMO_VEC(struct term) v;
};

/* A pod's four kinds of terms. */
enum { REQ_AFF, REQ_ANTI, PREF_AFF, PREF_ANTI, KINDS };

static const char *const kind_field[KINDS][2] = {
	{"podAffinity", "requiredDuringSchedulingIgnoredDuringExecution"},
	{"podAntiAffinity", "requiredDuringSchedulingIgnoredDuringExecution"},
	{"podAffinity", "preferredDuringSchedulingIgnoredDuringExecution"},
	{"podAntiAffinity", "preferredDuringSchedulingIgnoredDuringExecution"},
};

struct llmo_sched_podaff {
	char *ns;	/* the pod's namespace */
	json_t *labels; /* the pod's labels (a copy) */
	struct terms t[KINDS];
	bool self_match; /* the pod matches all its required affinity terms */
	llmo_sched_ns_labels_fn ns_labels;
	void *ctx;
	struct llmo_hmap aff;	       /* pair -> placed pods matching all REQ_AFF terms */
	struct llmo_hmap anti;	       /* pair -> placed pods matching a REQ_ANTI term */
	struct llmo_hmap existing_anti; /* pair -> placed pods whose REQ_ANTI term matches the pod */
	struct llmo_hmap score;	       /* pair -> score */
};

/* ---- terms ---- */

static void term_release(struct term *t)
{
	llmo_selector_free(t->sel);
	llmo_selector_free(t->nssel);
	llmo_strv_release(&t->ns);
	free(t->key);
	memset(t, 0, sizeof(*t));
}

static void terms_release(struct terms *ts)
{
	for (size_t i = 0; i < ts->v.len; i++)
		term_release(&ts->v.items[i]);
	llmo_vec_release(&ts->v);
}

static const json_t *labels_of(const json_t *obj)
{
	return json_object_get(json_object_get(obj, "metadata"), "labels");
}

static const char *label(const json_t *labels, const char *key)
{
	return json_string_value(json_object_get(labels, key));
}

static int term_parse(const json_t *j, const char *owner_ns, const json_t *owner_labels,
		      int64_t weight, const char *where, struct term *t, struct llmo_error *err)
{
	const json_t *nss = json_object_get(j, "namespaces"), *nssel, *v;
	const char *key = json_string_value(json_object_get(j, "topologyKey"));
	json_t *sel;
	size_t i;
	int rc;

	memset(t, 0, sizeof(*t));
	t->weight = weight;
	if (!json_is_object(j))
		return llmo_error_set(err, LLMO_EINVAL, "%s: expected an object", where);
	if (!key || !*key || strlen(key) > 317)
		return llmo_error_set(err, LLMO_EINVAL,
				      "%s.topologyKey: Required value: can not be empty", where);
	t->key = llmo_strdup(key);
	if (!t->key)
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	sel = llmo_sched_term_selector(j, owner_labels, true);
	rc = llmo_selector_from_json(sel, &t->sel, err);
	json_decref(sel);
	if (rc) {
		llmo_error_prefix(err, "%s.labelSelector.", where);
		return rc;
	}
	if (nss && !json_is_array(nss))
		return llmo_error_set(err, LLMO_EINVAL, "%s.namespaces: expected an array", where);
	json_array_foreach(nss, i, v) {
		if (!json_is_string(v))
			return llmo_error_set(err, LLMO_EINVAL,
					      "%s.namespaces[%zu]: expected a string", where, i);
		if (llmo_strv_push(&t->ns, json_string_value(v)))
			return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	}
	nssel = json_object_get(j, "namespaceSelector");
	if (json_is_object(nssel)) {
		rc = llmo_selector_from_json(nssel, &t->nssel, err);
		if (rc) {
			llmo_error_prefix(err, "%s.namespaceSelector.", where);
			return rc;
		}
	} else if (nssel && !json_is_null(nssel)) {
		return llmo_error_set(err, LLMO_EINVAL, "%s.namespaceSelector: expected an object",
				      where);
	}
	/* neither: the owner's namespace */
	if (!t->ns.len && !t->nssel && llmo_strv_push(&t->ns, owner_ns))
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	return 0;
}

/* The terms of one kind of pod into ts; a message naming the field on a malformed one. */
static int terms_parse(const json_t *pod, int kind, struct terms *ts, struct llmo_error *err)
{
	const json_t *meta = json_object_get(pod, "metadata");
	const char *ns = json_string_value(json_object_get(meta, "namespace"));
	const json_t *list = json_object_get(
		json_object_get(json_object_get(json_object_get(pod, "spec"), "affinity"),
				kind_field[kind][0]),
		kind_field[kind][1]);
	const json_t *item;
	char where[256];
	size_t i;

	if (!list || json_is_null(list))
		return 0;
	snprintf(where, sizeof(where), "spec.affinity.%s.%s", kind_field[kind][0],
		 kind_field[kind][1]);
	if (!json_is_array(list))
		return llmo_error_set(err, LLMO_EINVAL, "%s: expected an array", where);
	json_array_foreach(list, i, item) {
		struct term *t = llmo_vec_push(&ts->v);
		const json_t *term = item;
		int64_t weight = 0;
		int rc;

		if (!t)
			return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
		memset(t, 0, sizeof(*t));
		snprintf(where, sizeof(where), "spec.affinity.%s.%s[%zu]", kind_field[kind][0],
			 kind_field[kind][1], i);
		if (kind == PREF_AFF || kind == PREF_ANTI) {
			const json_t *w = json_object_get(item, "weight");

			if (!json_is_integer(w) || json_integer_value(w) < 1 ||
			    json_integer_value(w) > 100)
				return llmo_error_set(err, LLMO_EINVAL,
						      "%s.weight: must be an integer in the range "
						      "1-100",
						      where);
			weight = json_integer_value(w);
			term = json_object_get(item, "podAffinityTerm");
			snprintf(where, sizeof(where), "spec.affinity.%s.%s[%zu].podAffinityTerm",
				 kind_field[kind][0], kind_field[kind][1], i);
		}
		rc = term_parse(term, ns ? ns : "default", labels_of(pod), weight, where, t, err);
		if (rc)
			return rc;
	}
	return 0;
}

/* Whether namespace ns is one of t's. */
static bool ns_in(const struct llmo_sched_podaff *pa, const struct term *t, const char *ns)
{
	const json_t *labels;

	for (size_t i = 0; i < t->ns.len; i++)
		if (strcmp(t->ns.items[i], ns) == 0)
			return true;
	if (!t->nssel)
		return false;
	if (llmo_selector_empty(t->nssel))
		return true;
	labels = pa->ns_labels ? pa->ns_labels(pa->ctx, ns) : NULL;
	return labels && llmo_selector_matches(t->nssel, labels);
}

/* Whether the pod in namespace ns with labels matches t. */
static bool term_matches(const struct llmo_sched_podaff *pa, const struct term *t, const char *ns,
			 const json_t *labels)
{
	return ns_in(pa, t, ns) && llmo_selector_matches(t->sel, labels);
}

/* ---- topology pairs ---- */

static bool pair_key(const char *key, const char *value, char out[PAIR_MAX])
{
	int n = snprintf(out, PAIR_MAX, "%s\x1f%s", key, value);

	return n > 0 && n < PAIR_MAX;
}

/* Adds delta to the pair (key, node's value of key); nothing when the node lacks the key. */
static int pair_add(struct llmo_hmap *m, const char *key, const json_t *node_labels,
		    int64_t delta)
{
	const char *value = label(node_labels, key);
	char k[PAIR_MAX];

	if (!value || !pair_key(key, value, k))
		return 0;
	return llmo_hmap_put(m, k, (void *)(intptr_t)((intptr_t)llmo_hmap_get(m, k) + delta),
			     NULL);
}

static int64_t pair_get(const struct llmo_hmap *m, const char *key, const char *value)
{
	char k[PAIR_MAX];

	return pair_key(key, value, k) ? (int64_t)(intptr_t)llmo_hmap_get(m, k) : 0;
}

/* Whether the node's labels hold the pair k ("KEY\x1fVALUE"). */
static bool node_in_pair(const json_t *node_labels, const char *k)
{
	const char *sep = strchr(k, '\x1f'), *v;

	if (!sep)
		return false;
	v = json_string_value(json_object_getn(node_labels, k, (size_t)(sep - k)));
	return v && strcmp(v, sep + 1) == 0;
}

/* ---- the state ---- */

int llmo_sched_podaff_new(const json_t *pod, llmo_sched_ns_labels_fn ns_labels, void *ctx,
			  struct llmo_sched_podaff **out, struct llmo_error *err)
{
	struct llmo_sched_podaff *pa = calloc(1, sizeof(*pa));
	const char *ns = json_string_value(json_object_get(json_object_get(pod, "metadata"),
							   "namespace"));
	const json_t *labels = labels_of(pod);
	int rc = 0;

	*out = NULL;
	if (!pa)
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	llmo_hmap_init(&pa->aff);
	llmo_hmap_init(&pa->anti);
	llmo_hmap_init(&pa->existing_anti);
	llmo_hmap_init(&pa->score);
	pa->ns_labels = ns_labels;
	pa->ctx = ctx;
	pa->ns = llmo_strdup(ns ? ns : "default");
	pa->labels = json_is_object(labels) ? json_deep_copy(labels) : json_object();
	if (!pa->ns || !pa->labels)
		rc = llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	for (int k = 0; k < KINDS && !rc; k++)
		rc = terms_parse(pod, k, &pa->t[k], err);
	if (rc) {
		llmo_sched_podaff_free(pa);
		return rc;
	}
	pa->self_match = true;
	for (size_t i = 0; i < pa->t[REQ_AFF].v.len; i++)
		pa->self_match = pa->self_match &&
				 term_matches(pa, &pa->t[REQ_AFF].v.items[i], pa->ns, pa->labels);
	*out = pa;
	return 0;
}

/* The placed pod's own terms against the pod being placed. */
static int add_theirs(struct llmo_sched_podaff *pa, const json_t *placed, const json_t *nl)
{
	struct llmo_error err = {0};
	int rc = 0;

	for (int k = 0; k < KINDS && !rc; k++) {
		struct terms ts = {LLMO_VEC_INIT};

		/* a malformed term of a placed pod counts for nothing: the rest still do */
		if (terms_parse(placed, k, &ts, &err) == LLMO_ENOMEM)
			rc = LLMO_ENOMEM;
		for (size_t i = 0; i < ts.v.len && !rc; i++) {
			const struct term *t = &ts.v.items[i];

			if (!t->sel || !term_matches(pa, t, pa->ns, pa->labels))
				continue;
			if (k == REQ_ANTI)
				rc = pair_add(&pa->existing_anti, t->key, nl, 1);
			else if (k == REQ_AFF)
				rc = pair_add(&pa->score, t->key, nl, LLMO_SCHED_PODAFF_HARD_WEIGHT);
			else
				rc = pair_add(&pa->score, t->key, nl,
					      k == PREF_AFF ? t->weight : -t->weight);
		}
		terms_release(&ts);
	}
	return rc;
}

int llmo_sched_podaff_add(struct llmo_sched_podaff *pa, const json_t *placed, const json_t *node)
{
	const json_t *nl = labels_of(node), *pl = labels_of(placed);
	const char *ns = json_string_value(json_object_get(json_object_get(placed, "metadata"),
							   "namespace"));
	const struct terms *req = &pa->t[REQ_AFF];
	bool all = req->v.len > 0;
	int rc = 0;

	if (!ns)
		ns = "default";
	for (size_t i = 0; i < req->v.len && all; i++)
		all = term_matches(pa, &req->v.items[i], ns, pl);
	for (size_t i = 0; all && i < req->v.len && !rc; i++)
		rc = pair_add(&pa->aff, req->v.items[i].key, nl, 1);
	for (int k = REQ_ANTI; k < KINDS && !rc; k++) {
		for (size_t i = 0; i < pa->t[k].v.len && !rc; i++) {
			const struct term *t = &pa->t[k].v.items[i];

			if (!term_matches(pa, t, ns, pl))
				continue;
			if (k == REQ_ANTI)
				rc = pair_add(&pa->anti, t->key, nl, 1);
			else
				rc = pair_add(&pa->score, t->key, nl,
					      k == PREF_AFF ? t->weight : -t->weight);
		}
	}
	if (!rc && llmo_sched_podaff_has_terms(placed))
		rc = add_theirs(pa, placed, nl);
	return rc;
}

bool llmo_sched_podaff_own(const struct llmo_sched_podaff *pa)
{
	for (int k = 0; k < KINDS; k++)
		if (pa->t[k].v.len)
			return true;
	return false;
}

bool llmo_sched_podaff_has_terms(const json_t *obj)
{
	const json_t *aff = json_object_get(json_object_get(obj, "spec"), "affinity");

	return json_object_get(aff, "podAffinity") || json_object_get(aff, "podAntiAffinity");
}

bool llmo_sched_podaff_active(const struct llmo_sched_podaff *pa)
{
	return pa->t[REQ_AFF].v.len || pa->t[REQ_ANTI].v.len ||
	       llmo_hmap_count(&pa->existing_anti) || llmo_sched_podaff_scores(pa);
}

bool llmo_sched_podaff_scores(const struct llmo_sched_podaff *pa)
{
	const char *k;
	void *v;
	size_t it = 0;

	while (llmo_hmap_next(&pa->score, &it, &k, &v))
		if ((intptr_t)v != 0)
			return true;
	return false;
}

enum llmo_sched_podaff_why llmo_sched_podaff_check(const struct llmo_sched_podaff *pa,
						   const json_t *node)
{
	const json_t *nl = labels_of(node);
	const struct terms *req = &pa->t[REQ_AFF], *anti = &pa->t[REQ_ANTI];
	bool exist = true;
	const char *k;
	void *v;
	size_t it = 0;

	for (size_t i = 0; i < req->v.len; i++) {
		const char *value = label(nl, req->v.items[i].key);

		if (!value)
			return LLMO_SCHED_PODAFF_AFFINITY; /* every topology key must be there */
		if (pair_get(&pa->aff, req->v.items[i].key, value) <= 0)
			exist = false;
	}
	/* the first pod of a group with affinity to itself: nothing to be near yet */
	if (!exist && !(llmo_hmap_count(&pa->aff) == 0 && pa->self_match))
		return LLMO_SCHED_PODAFF_AFFINITY;
	for (size_t i = 0; i < anti->v.len; i++) {
		const char *value = label(nl, anti->v.items[i].key);

		if (value && pair_get(&pa->anti, anti->v.items[i].key, value) > 0)
			return LLMO_SCHED_PODAFF_ANTI;
	}
	while (llmo_hmap_next(&pa->existing_anti, &it, &k, &v))
		if ((intptr_t)v > 0 && node_in_pair(nl, k))
			return LLMO_SCHED_PODAFF_EXISTING_ANTI;
	return LLMO_SCHED_PODAFF_OK;
}

int64_t llmo_sched_podaff_score(const struct llmo_sched_podaff *pa, const json_t *node)
{
	const json_t *nl = labels_of(node);
	int64_t sum = 0;
	const char *k;
	void *v;
	size_t it = 0;

	while (llmo_hmap_next(&pa->score, &it, &k, &v))
		if (node_in_pair(nl, k))
			sum += (int64_t)(intptr_t)v;
	return sum;
}

double llmo_sched_podaff_normalize(int64_t raw, int64_t min, int64_t max)
{
	if (min > 0)
		min = 0;
	if (max < 0)
		max = 0;
	if (max <= min)
		return 0;
	return (double)LLMO_SCHED_PODAFF_SCORE_MAX * (double)(raw - min) / (double)(max - min);
}

void llmo_sched_podaff_free(struct llmo_sched_podaff *pa)
{
	if (!pa)
		return;
	for (int k = 0; k < KINDS; k++)
		terms_release(&pa->t[k]);
	llmo_hmap_release(&pa->aff, NULL);
	llmo_hmap_release(&pa->anti, NULL);
	llmo_hmap_release(&pa->existing_anti, NULL);
	llmo_hmap_release(&pa->score, NULL);
	json_decref(pa->labels);
	free(pa->ns);
	free(pa);
}
