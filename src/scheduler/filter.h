#ifndef LLMO_SCHEDULER_FILTER_H
#define LLMO_SCHEDULER_FILTER_H
/*
 * Filter and score plugins of the live scheduler that read Kubernetes
 * objects (a pod and a node, as JSON): taints and tolerations, nodeSelector
 * and required node affinity, and model affinity (the node's cached
 * models). They keep no state; docs/scheduler.md states each rule.
 *
 * Taints and tolerations follow Kubernetes (k8s.io/api/core/v1
 * ToleratesTaint): a toleration matches a taint when its effect is empty or
 * equal, its key is empty (with operator Exists: every taint) or equal, and
 * with operator Exists any value, with Equal (or none) an equal value.
 * NoSchedule and NoExecute taints filter; PreferNoSchedule taints only lower
 * the node's score.
 *
 * Node selection: every spec.nodeSelector pair must be a label of the node,
 * and when spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuring
 * Execution is there, one of its nodeSelectorTerms must match: all of a
 * term's matchExpressions (In, NotIn, Exists, DoesNotExist, Gt, Lt over the
 * node's labels) and matchFields (metadata.name with In or NotIn). A term
 * with neither matches no node, as in Kubernetes; so does an empty list of
 * terms, an unknown operator, or Gt/Lt without exactly one integer value.
 *
 * Thread-safe (no state); json arguments are borrowed.
 */
#include "base/common.h"

#include <jansson.h>

/*
 * The node annotation with the models in the node's cache (written by llmo's
 * agent): {"pullBytesPerSecond": N, "models": [{"name", "version", "digest",
 * "sizeBytes"}, ...]}.
 */
#define LLMO_SCHED_CACHED_MODELS_ANNOTATION "llm.orchestrator.io/cached-models"
/* Longest cached-models annotation read; a longer one counts as no cache. */
#define LLMO_SCHED_CACHED_MODELS_MAX (256 * 1024)
/* The pull rate assumed when the annotation has none (bytes per second). */
#define LLMO_SCHED_DEFAULT_PULL_BPS 100000000.0
/* Start-up time saved beyond this (seconds) scores no higher. */
#define LLMO_SCHED_AFFINITY_MAX_SECONDS 600.0
/* The pod labels naming its model and version (the controller sets them). */
#define LLMO_SCHED_MODEL_LABEL "llm.orchestrator.io/model"
#define LLMO_SCHED_VERSION_LABEL "llm.orchestrator.io/version"

/*
 * The labelSelector of a pod affinity term or topology spread constraint
 * (term) with its matchLabelKeys folded in as "KEY In (VALUE)", and with
 * mismatch also its mismatchLabelKeys as "KEY NotIn (VALUE)", for each KEY
 * among owner_labels (the pod the term belongs to); keys the owner lacks
 * are left out. A new reference; NULL when the term has no labelSelector
 * (or without memory).
 */
json_t *llmo_sched_term_selector(const json_t *term, const json_t *owner_labels, bool mismatch);

/* Whether toleration (a pod spec.tolerations entry) tolerates taint (a node spec.taints entry). */
bool llmo_sched_toleration_matches(const json_t *toleration, const json_t *taint);

/*
 * The first taint of node's spec.taints with effect NoSchedule or NoExecute
 * that no entry of pod's spec.tolerations tolerates, or NULL when there is
 * none (borrowed from node).
 */
const json_t *llmo_sched_untolerated_taint(const json_t *pod, const json_t *node);

/* How many of node's PreferNoSchedule taints pod does not tolerate. */
int llmo_sched_untolerated_preferred(const json_t *pod, const json_t *node);

/* Whether node satisfies pod's spec.nodeSelector and required node affinity (above). */
bool llmo_sched_node_selected(const json_t *pod, const json_t *node);

/* The weights a preferred node affinity term may have (the API's bounds). */
#define LLMO_SCHED_PREFERRED_WEIGHT_MIN 1
#define LLMO_SCHED_PREFERRED_WEIGHT_MAX 100
/* The node affinity score of the node with the largest sum of weights. */
#define LLMO_SCHED_AFFINITY_SCORE_MAX 100

/*
 * Preferred node affinity, kube-scheduler's NodeAffinity score before
 * normalisation: the sum of the weights of pod's
 * spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution
 * terms whose preference (a node selector term, matched as for required
 * affinity above) matches node. Terms with a weight outside 1..100 or not
 * an integer count for nothing; so does an empty preference. 0 when the
 * pod has no such terms.
 */
int64_t llmo_sched_preferred_affinity(const json_t *pod, const json_t *node);

/*
 * The normalised node affinity score: LLMO_SCHED_AFFINITY_SCORE_MAX * sum /
 * most in integers (kube-scheduler's DefaultNormalizeScore), where most is
 * the largest sum among the nodes scored; 0 when most or sum is not positive.
 */
int64_t llmo_sched_node_affinity_score(int64_t sum, int64_t most);

/*
 * Model affinity: the start-up seconds node saves pod because its cache
 * holds the pod's model (LLMO_SCHED_MODEL_LABEL; with
 * LLMO_SCHED_VERSION_LABEL, that version too): the entry's sizeBytes divided
 * by the annotation's pullBytesPerSecond (LLMO_SCHED_DEFAULT_PULL_BPS when
 * missing or not positive); the largest such entry when several match. 0
 * when the pod names no model, the node has no (readable) annotation, or no
 * entry matches.
 */
double llmo_sched_model_saved_seconds(const json_t *pod, const json_t *node);

/*
 * The model affinity score of saving seconds: 100 * seconds /
 * LLMO_SCHED_AFFINITY_MAX_SECONDS, at most 100 (0 for seconds <= 0).
 */
double llmo_sched_affinity_score(double seconds);

#endif
