#ifndef LLMO_SCHEDULER_SPREAD_H
#define LLMO_SCHEDULER_SPREAD_H
/*
 * Pod topology spread constraints (spec.topologySpreadConstraints), as
 * kube-scheduler's PodTopologySpread plugin: how evenly the pods a
 * constraint selects are spread over the values of its topologyKey label
 * (the domains). docs/scheduler.md states the rules for users.
 *
 * A constraint {maxSkew, topologyKey, whenUnsatisfiable, labelSelector,
 * minDomains, matchLabelKeys, nodeAffinityPolicy, nodeTaintsPolicy} counts,
 * per domain, the placed pods of the pod's namespace that its labelSelector
 * (with matchLabelKeys folded in as In of the pod's values) matches, on the
 * nodes that count: those that have the topology keys of all the pod's
 * constraints of that kind, match the pod's nodeSelector and required node
 * affinity (nodeAffinityPolicy Honor, the default; Ignore: every node) and,
 * with nodeTaintsPolicy Honor (default Ignore), tolerate its NoSchedule and
 * NoExecute taints. Pods being deleted do not count.
 *
 * whenUnsatisfiable DoNotSchedule filters: a node without the key fails; else
 * count(its domain) + (1 if the pod matches the selector) - the fewest in a
 * domain (0 when there are fewer domains than minDomains) must not pass
 * maxSkew. ScheduleAnyway scores: per node, the sum over those constraints
 * of count(its domain) * log(domains + 2) + maxSkew - 1, normalised so that
 * the lowest sum scores LLMO_SCHED_SPREAD_SCORE_MAX (nodes without a key 0).
 *
 * Build: llmo_sched_spread_new, every node (llmo_sched_spread_add_node), then
 * every placed pod (llmo_sched_spread_add_pod), then llmo_sched_spread_done;
 * the finished state may be read from several threads at once.
 */
#include "base/common.h"

#include <jansson.h>

#include "base/error.h"

#define LLMO_SCHED_SPREAD_SCORE_MAX 100

enum llmo_sched_spread_why {
	LLMO_SCHED_SPREAD_OK,
	LLMO_SCHED_SPREAD_MISSING_LABEL, /* "(missing required label)" */
	LLMO_SCHED_SPREAD_SKEW,
};

struct llmo_sched_spread;

/*
 * The state for placing pod. LLMO_EINVAL with a message naming the field
 * (spec.topologySpreadConstraints[0].maxSkew: ...) for a malformed
 * constraint; LLMO_ENOMEM.
 */
int llmo_sched_spread_new(const json_t *pod, struct llmo_sched_spread **out,
			  struct llmo_error *err);
/* Whether the pod has constraints (DoNotSchedule or ScheduleAnyway). */
bool llmo_sched_spread_any(const struct llmo_sched_spread *sp);
/* A node of the cluster (its domains, if it counts). 0 or LLMO_ENOMEM. */
int llmo_sched_spread_add_node(struct llmo_sched_spread *sp, const json_t *node);
/* A pod placed on node. 0 or LLMO_ENOMEM. */
int llmo_sched_spread_add_pod(struct llmo_sched_spread *sp, const json_t *placed,
			      const json_t *node);
/* After the nodes and pods: the fewest pods of each constraint's domains. */
void llmo_sched_spread_done(struct llmo_sched_spread *sp);

/* The filter (DoNotSchedule constraints) for node. */
enum llmo_sched_spread_why llmo_sched_spread_check(const struct llmo_sched_spread *sp,
						   const json_t *node);

/* Whether the pod has ScheduleAnyway constraints. */
bool llmo_sched_spread_scores(const struct llmo_sched_spread *sp);
/*
 * The normalised scores of nodes[0..n) into out (above); false when they are
 * all equal.
 */
bool llmo_sched_spread_score(const struct llmo_sched_spread *sp, json_t *const *nodes, size_t n,
			     double *out);

void llmo_sched_spread_free(struct llmo_sched_spread *sp);

#endif
