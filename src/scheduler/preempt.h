#ifndef LLMO_SCHEDULER_PREEMPT_H
#define LLMO_SCHEDULER_PREEMPT_H
/*
 * Preemption on one node: which of the pods running there (the candidate
 * victims, already restricted by the caller to those the preemptor may
 * evict) to remove so that a pod fits, on the policies' resource model
 * (cluster.h).
 *
 * The answer is a smallest set whose removal makes the pod fit the node,
 * keeping every group (a workload) within its budget (the victims it may
 * lose without going below its minReplicas). Among the sets of that size
 * the best is the one whose highest victim priority is lowest, then whose
 * priorities sum lowest, then that frees the least GPU (milli-GPU beyond
 * need), then the first in enumeration order (the sets of one size as
 * bitmasks over the victims' indices, in increasing value).
 *
 * Sizes are tried from 1 up, all subsets of a size, until a size has a
 * set that works; past LLMO_SCHED_PREEMPT_EVALS_MAX subsets in all it falls
 * back to Kubernetes' greedy way: take every victim, then give back
 * ("reprieve") victims from the highest priority down (later ones first
 * among equals; victims of groups over budget first) while the pod still
 * fits; the set left must keep the budgets. That set is minimal (no victim
 * can be spared) but may not be smallest.
 *
 * Pure computation over plain values; thread-safe.
 */
#include "base/common.h"
#include "scheduler/cluster.h"

/* Candidate victims considered on one node, at most (bits of a uint64_t). */
#define LLMO_SCHED_PREEMPT_VICTIMS_MAX 64
/* Subsets evaluated on one node before the greedy fallback. */
#define LLMO_SCHED_PREEMPT_EVALS_MAX 20000

struct llmo_sched_victim {
	int64_t cpu;                           /* milli-CPU it holds */
	int64_t mem;                           /* memory it holds (the node's unit) */
	int gpu[LLMO_SCHED_NODE_GPUS_MAX];     /* milli-GPU it holds, per GPU index of the node */
	int32_t priority;
	int group; /* its workload: an index into the budgets, or -1 for none */
};

struct llmo_sched_preemption {
	uint64_t set;         /* bit i: victim i is evicted */
	int count;            /* victims in set */
	int32_t max_priority; /* highest priority among them */
	int64_t priority_sum;
	int64_t gpu_freed;    /* milli-GPU the set frees */
	bool greedy;          /* found by the fallback */
};

/*
 * Whether preemption a is better than b by the order above (count, highest
 * priority, priority sum, GPU freed); false for equals.
 */
bool llmo_sched_preemption_better(const struct llmo_sched_preemption *a,
				  const struct llmo_sched_preemption *b);

/*
 * Finds the victims on node (its state with every victim's resources
 * taken; free amounts may be negative where the node was promised more than
 * it has) for pod among v[0..nv) (nv <= LLMO_SCHED_PREEMPT_VICTIMS_MAX);
 * budget[g] is how many victims of group g may go (budget may be NULL when
 * no victim has a group; ngroups is its length). True with *out set when a
 * set works, false when none does (also when nv is over the limit or the
 * pod fits without preemption: then there is nothing to do).
 */
bool llmo_sched_preempt_pick(const struct llmo_sched_node *node, const struct llmo_sched_pod *pod,
			     const struct llmo_sched_victim *v, size_t nv, const int *budget,
			     size_t ngroups, struct llmo_sched_preemption *out);

#endif
