#ifndef LLMO_SCHEDULER_PODAFFINITY_H
#define LLMO_SCHEDULER_PODAFFINITY_H
/*
 * Inter-pod affinity and anti-affinity, as kube-scheduler's InterPodAffinity
 * plugin (k8s.io/api/core/v1 PodAffinity, PodAntiAffinity): where a pod may
 * go and which nodes it prefers, by the pods already placed in each
 * topology domain (the nodes that share a value of the term's topologyKey
 * label). docs/scheduler.md states the rules for users.
 *
 * A term (PodAffinityTerm) selects the pods matching its labelSelector (a
 * missing one selects none; {} every pod) in its namespaces: those listed,
 * plus those whose labels its namespaceSelector matches ({}: every
 * namespace); with neither, the namespace of the pod the term belongs to.
 * matchLabelKeys (mismatchLabelKeys) add "KEY in (VALUE)" ("KEY notin
 * (VALUE)") with the owner pod's value of each KEY it has.
 *
 * Filter (required terms, spec.affinity.*.requiredDuringSchedulingIgnored
 * DuringExecution):
 *   - affinity: the node has every term's topologyKey, and its domain of
 *     each holds a placed pod that matches all the terms; unless no placed
 *     pod matches them anywhere and the pod matches all its own terms (the
 *     first of a group with affinity to itself);
 *   - anti-affinity: no placed pod matching a term in the node's domain of
 *     that term's key (a node without the key passes);
 *   - symmetry: no placed pod whose own required anti-affinity term matches
 *     the pod is in the node's domain of that term's key.
 * Score (raw, to normalise over the nodes as LLMO_SCHED_PODAFF_SCORE_MAX *
 * (s - min) / (max - min) with min <= 0 <= max): for each placed pod E in
 * the node's domain of a term's key, + the weight of each of the pod's
 * preferred affinity terms E matches, - of each preferred anti-affinity
 * term; + the weight of each of E's preferred affinity terms the pod
 * matches (+ LLMO_SCHED_PODAFF_HARD_WEIGHT for each of E's required ones),
 * - of each of E's preferred anti-affinity terms.
 *
 * Placed pods: bound to a node (given to llmo_sched_podaff_add), not the pod
 * itself. Not thread-safe to build; the finished state may be read from
 * several threads at once. json arguments are borrowed for the call only.
 */
#include "base/common.h"

#include <jansson.h>

#include "base/error.h"

/* The weight a placed pod's required affinity term gives a pod it matches (kube's default). */
#define LLMO_SCHED_PODAFF_HARD_WEIGHT 1
/* The normalised score of the best node. */
#define LLMO_SCHED_PODAFF_SCORE_MAX 100

/* Why llmo_sched_podaff_check refuses a node. */
enum llmo_sched_podaff_why {
	LLMO_SCHED_PODAFF_OK,
	LLMO_SCHED_PODAFF_AFFINITY,	 /* "didn't match pod affinity rules" */
	LLMO_SCHED_PODAFF_ANTI,		 /* "didn't match pod anti-affinity rules" */
	LLMO_SCHED_PODAFF_EXISTING_ANTI, /* "didn't satisfy existing pods anti-affinity rules" */
};

/* The labels of namespace ns (a JSON object), or NULL when unknown. */
typedef const json_t *(*llmo_sched_ns_labels_fn)(void *ctx, const char *ns);

struct llmo_sched_podaff;

/*
 * Starts the state for placing pod. LLMO_EINVAL with a message naming the
 * field (spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuring
 * Execution[0].topologyKey: ...) when one of its terms is malformed;
 * LLMO_ENOMEM. ns_labels (may be NULL: namespaceSelectors then match no
 * namespace) must work until llmo_sched_podaff_free.
 */
int llmo_sched_podaff_new(const json_t *pod, llmo_sched_ns_labels_fn ns_labels, void *ctx,
			  struct llmo_sched_podaff **out, struct llmo_error *err);

/*
 * Counts a placed pod on node (its object, for its labels). Malformed terms
 * of a placed pod count for nothing. 0 or LLMO_ENOMEM.
 */
int llmo_sched_podaff_add(struct llmo_sched_podaff *pa, const json_t *placed, const json_t *node);

/* Whether the pod has terms of its own (else only placed pods with terms bear on it). */
bool llmo_sched_podaff_own(const struct llmo_sched_podaff *pa);
/* Whether obj (a pod) has podAffinity or podAntiAffinity in its spec.affinity. */
bool llmo_sched_podaff_has_terms(const json_t *obj);

/* Whether the pod's placement depends on pod affinity at all (terms, or placed pods' terms). */
bool llmo_sched_podaff_active(const struct llmo_sched_podaff *pa);
/* Whether anything scores (preferred terms met somewhere). */
bool llmo_sched_podaff_scores(const struct llmo_sched_podaff *pa);

/* The filter's answer for node. */
enum llmo_sched_podaff_why llmo_sched_podaff_check(const struct llmo_sched_podaff *pa,
						   const json_t *node);

/* The raw score of node (above). */
int64_t llmo_sched_podaff_score(const struct llmo_sched_podaff *pa, const json_t *node);

/* The normalised score of raw among nodes scoring between min and max (above). */
double llmo_sched_podaff_normalize(int64_t raw, int64_t min, int64_t max);

void llmo_sched_podaff_free(struct llmo_sched_podaff *pa);

#endif
