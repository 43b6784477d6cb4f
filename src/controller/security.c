/*
 * spec.security of an LLMWorkload made effective: complianceLevel and
 * dataClassification as required node affinity of the replicas,
 * networkPolicies as pod labels and the NetworkPoliciesApplied condition.
 * docs/controller.md ("Security") says the same in prose.
 */
#include "base/common.h"

#include <ctype.h>

#include "apiserver/selector.h"
#include "base/json.h"
#include "controller/controller_int.h"
#include "kube/informer.h"
#include "kube/object.h"

#include "base/banned.h"

/* The longest label name part (the NAME in policy.llm.orchestrator.io/NAME). */
#define LABEL_NAME_MAX 63
/* How many policies of one kind a condition message names before "and N more". */
#define NETPOL_NAMED_MAX 8
/* Longest NetworkPoliciesApplied message. */
#define NETPOL_MSG_MAX 1024

/*
 * The ladder of a level: into *out the node label values that satisfy it
 * (a new array), or NULL for no constraint (the lowest level, an unknown
 * value or none). LLMO_ENOMEM rather than a weaker constraint.
 */
static int ladder(const char *have, const char *const *levels, json_t **out)
{
	size_t i = 0;

	*out = NULL;
	while (levels[i] && (!have || strcmp(levels[i], have) != 0))
		i++;
	if (!levels[i] || i == 0)
		return 0;
	if (!(*out = json_array()))
		return LLMO_ENOMEM;
	for (; levels[i]; i++)
		if (json_array_append_new(*out, json_string(levels[i]))) {
			json_decref(*out);
			*out = NULL;
			return LLMO_ENOMEM;
		}
	return 0;
}

int llmo__node_affinity_require(json_t *podspec, const char *member, json_t *req)
{
	json_t *aff, *na, *rq, *terms, *t, *list;
	size_t i;
	int rc = LLMO_ENOMEM;

	if (!req)
		return LLMO_ENOMEM;
	aff = json_object_get(podspec, "affinity");
	if (!json_is_object(aff) && json_object_set_new(podspec, "affinity", aff = json_object()))
		goto out;
	na = json_object_get(aff, "nodeAffinity");
	if (!json_is_object(na) && json_object_set_new(aff, "nodeAffinity", na = json_object()))
		goto out;
	rq = json_object_get(na, "requiredDuringSchedulingIgnoredDuringExecution");
	if (!json_is_object(rq) &&
	    json_object_set_new(na, "requiredDuringSchedulingIgnoredDuringExecution",
				rq = json_object()))
		goto out;
	terms = json_object_get(rq, "nodeSelectorTerms");
	if (!json_is_array(terms) &&
	    json_object_set_new(rq, "nodeSelectorTerms", terms = json_array()))
		goto out;
	/* terms are ORed and a term's requirements ANDed: a new one goes in every term */
	if (!json_array_size(terms) && json_array_append_new(terms, json_object()))
		goto out;
	json_array_foreach(terms, i, t) {
		list = json_object_get(t, member);
		if (!json_is_array(list) && json_object_set_new(t, member, list = json_array()))
			goto out;
		if (json_array_append_new(list, json_deep_copy(req)))
			goto out;
	}
	rc = 0;
out:
	json_decref(req);
	return rc;
}

/* The spec.security fields that require node labels, each a ladder of levels, lowest first. */
static const char *const compliance_levels[] = {"basic", "strict", "enterprise", NULL};
static const char *const data_classes[] = {"public", "internal", "confidential", NULL};
static const struct {
	const char *field, *label;
	const char *const *levels;
} rules[] = {
	{"complianceLevel", LLMO_NODE_LABEL_COMPLIANCE, compliance_levels},
	{"dataClassification", LLMO_NODE_LABEL_DATA_CLASS, data_classes},
};

void llmo__security_node_needs(const json_t *wspec, char *out, size_t n)
{
	const json_t *sec = json_object_get(wspec, "security");

	out[0] = '\0';
	for (size_t i = 0; i < LLMO_ARRAY_LEN(rules); i++) {
		json_t *vals;
		const json_t *v;
		size_t j;

		/* out of memory: the message says less, nothing else depends on it */
		if (ladder(json_string_value(json_object_get(sec, rules[i].field)), rules[i].levels,
			   &vals) ||
		    !vals)
			continue;
		/* strlen(out) < n always: each append is bounded by what is left */
		snprintf(out + strlen(out), n - strlen(out), "%s%s in (", out[0] ? ", " : "",
			 rules[i].label);
		json_array_foreach(vals, j, v)
			snprintf(out + strlen(out), n - strlen(out), "%s%s", j ? ", " : "",
				 json_string_value(v));
		snprintf(out + strlen(out), n - strlen(out), ")");
		json_decref(vals);
	}
}

int llmo__security_node_affinity(const json_t *wspec, json_t *podspec)
{
	const json_t *sec = json_object_get(wspec, "security");

	for (size_t i = 0; i < LLMO_ARRAY_LEN(rules); i++) {
		json_t *vals;
		int rc = ladder(json_string_value(json_object_get(sec, rules[i].field)),
				rules[i].levels, &vals);

		if (rc)
			return rc;
		if (!vals)
			continue;
		rc = llmo__node_affinity_require(podspec, "matchExpressions",
						 json_pack("{s:s, s:s, s:o}", "key", rules[i].label,
							   "operator", "In", "values", vals));
		if (rc)
			return rc;
	}
	return 0;
}

/* Whether name can be a label name part (the CRD's pattern admits a subset of these). */
static bool label_name_ok(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (n == 0 || n > LABEL_NAME_MAX || !isalnum((unsigned char)name[0]) ||
	    !isalnum((unsigned char)name[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)name[i]) && !strchr("-_.", name[i]))
			return false;
	return true;
}

int llmo__security_pod_labels(const json_t *wspec, json_t *labels)
{
	const json_t *names = json_object_get(json_object_get(wspec, "security"), "networkPolicies");
	const json_t *v;
	size_t i;

	json_array_foreach(names, i, v) {
		char key[sizeof(LLMO_LABEL_POLICY_PREFIX) + LABEL_NAME_MAX];

		/* the API's schema admits only label names; anything else is skipped */
		if (!label_name_ok(json_string_value(v)))
			continue;
		snprintf(key, sizeof(key), "%s%s", LLMO_LABEL_POLICY_PREFIX, json_string_value(v));
		if (json_object_set_new(labels, key, json_string("true")))
			return LLMO_ENOMEM;
	}
	return 0;
}

json_t *llmo__netpol_transform(void *ctx, const json_t *np)
{
	json_t *out = json_object(), *meta = json_object(), *spec = json_object();
	bool ok = out && meta && spec &&
		  llmo_kube_keep_identity(meta, json_object_get(np, "metadata")) &&
		  llmo_kube_keep(spec, json_object_get(np, "spec"), "podSelector");

	(void)ctx;
	ok = llmo_kube_attach(out, "metadata", meta) && ok;
	ok = llmo_kube_attach(out, "spec", spec) && ok;
	return llmo_kube_trimmed(out, ok);
}

/* Whether np's spec.podSelector selects every one of labels[0..n). */
static bool netpol_selects(const json_t *np, const json_t *const *labels, size_t n)
{
	const json_t *sel = json_object_get(json_object_get(np, "spec"), "podSelector");
	struct llmo_selector *s = NULL;
	struct llmo_error err = {0};
	json_t *empty = NULL;
	bool ok = true;

	/* podSelector is a struct in the API: absent is the empty selector (every pod) */
	if (!json_is_object(sel))
		sel = empty = json_object();
	if (llmo_selector_from_json(sel, &s, &err))
		ok = false;
	for (size_t i = 0; ok && i < n; i++)
		ok = llmo_selector_matches(s, labels[i]);
	llmo_selector_free(s);
	json_decref(empty);
	return ok;
}

/* Names of policies in one state, for a condition message: the first NETPOL_NAMED_MAX. */
struct named {
	char text[NETPOL_MSG_MAX / 2];
	int count;
};

static void name_one(struct named *l, const char *name)
{
	size_t len = strlen(l->text);

	if (l->count++ < NETPOL_NAMED_MAX)
		snprintf(l->text + len, sizeof(l->text) - len, "%s%s", len ? ", " : "", name);
}

/* l's names, with "and N more" past NETPOL_NAMED_MAX, into out. */
static void name_list(const struct named *l, char *out, size_t n)
{
	if (l->count > NETPOL_NAMED_MAX)
		snprintf(out, n, "%s and %d more", l->text, l->count - NETPOL_NAMED_MAX);
	else
		snprintf(out, n, "%s", l->text);
}

int llmo__security_netpol_condition(const struct llmo_informer *netpols, const json_t *w,
				    const json_t *const *labels, size_t nlabels, json_t *conds,
				    json_int_t generation)
{
	const char *ns = llmo_kube_str(w, "metadata", "namespace");
	const json_t *names = json_object_get(
		json_object_get(json_object_get(w, "spec"), "security"), "networkPolicies");
	struct named missing = {0}, unselected = {0}, good = {0};
	char msg[NETPOL_MSG_MAX], a[NETPOL_MSG_MAX / 2], b[NETPOL_MSG_MAX / 2];
	const json_t *v;
	size_t i;

	if (!json_array_size(names) || !ns)
		return 0;
	json_array_foreach(names, i, v) {
		const char *name = json_string_value(v);
		const json_t *np = name && netpols ? llmo_informer_get(netpols, ns, name) : NULL;

		if (!name)
			continue;
		if (!np)
			name_one(&missing, name);
		else if (!netpol_selects(np, labels, nlabels))
			name_one(&unselected, name);
		else
			name_one(&good, name);
	}
	if (missing.count && unselected.count) {
		name_list(&missing, a, sizeof(a));
		name_list(&unselected, b, sizeof(b));
		snprintf(msg, sizeof(msg),
			 "NetworkPolicy not found in namespace %s: %s; NetworkPolicy podSelector "
			 "does not select the replicas (label %sNAME=true): %s",
			 ns, a, LLMO_LABEL_POLICY_PREFIX, b);
	} else if (missing.count) {
		name_list(&missing, a, sizeof(a));
		snprintf(msg, sizeof(msg), "NetworkPolicy not found in namespace %s: %s", ns, a);
	} else if (unselected.count) {
		name_list(&unselected, b, sizeof(b));
		snprintf(msg, sizeof(msg),
			 "NetworkPolicy podSelector does not select the replicas "
			 "(label %sNAME=true): %s",
			 LLMO_LABEL_POLICY_PREFIX, b);
	} else {
		name_list(&good, a, sizeof(a));
		snprintf(msg, sizeof(msg), "NetworkPolicies select the replicas: %s", a);
	}
	return llmo__condition_set(conds, w, "NetworkPoliciesApplied",
				   !missing.count && !unselected.count,
				   missing.count      ? "NetworkPolicyNotFound"
				   : unselected.count ? "NetworkPolicyDoesNotSelect"
						      : "NetworkPoliciesSelectReplicas",
				   msg, generation);
}
