#ifndef LLMO_SCHEDULER_POLICY_H
#define LLMO_SCHEDULER_POLICY_H
/*
 * struct llmo_sched_policy: placement policies selectable by name, the same
 * code for the trace simulator and the live scheduler.
 *
 * A decision (llmo_sched_policy_place) scores every node the pod fits on
 * and takes the highest score, then the policy picks the GPUs on that node.
 * Among nodes with equal best scores the one first in a fixed tie order
 * wins: node order unless llmo_sched_policy_shuffle_ties drew another. (The
 * paper's simulator orders its nodes by names it prefixes with a random
 * permutation per seed; breaking ties in a fixed order packs pods onto the
 * same nodes, and its published results are reproduced only that way:
 * choosing at random among ties at each decision, as stock kube-scheduler
 * does, leaves twice as much GPU unallocated under FGD.) The random policy
 * alone chooses uniformly among all the nodes the pod fits on.
 *
 * Scores are functions of one node's state and the pod only, which lets a
 * policy cache them per node version (see llmo_sched_policy_enable_cache).
 * The baselines follow the public simulator of "Beware of Fragmentation"
 * (hkust-adsl/kubernetes-scheduler-simulator), including their integer
 * scores, so that ties happen where they happen there.
 * docs/scheduler-policies.md gives each formula.
 *
 *   random         any node the pod fits on; a random fitting GPU
 *   bestfit        least CPU and GPU left after placement (weights 1/2, 1/2)
 *   dotprod        smallest dot product of free and requested (CPU, GPU)
 *   gpupacking     shared GPUs first, then used nodes, then empty nodes
 *   gpuclustering  nodes already running pods of the same GPU shape
 *   fgd            fragmentation gradient descent: least growth of the
 *                  node's fragmentation under the target workload
 *   llmo           ours: FGD whose measure also counts the GPU that a node's
 *                  CPU and memory can no longer feed, with a best-fit GPU
 *                  choice within the node (docs/scheduler-policies.md)
 *
 * The non-FGD baselines take, within the chosen node, the fitting GPU with
 * the least share left (random: a random fitting GPU); whole GPUs are the
 * lowest-numbered free ones.
 *
 * Ownership: the policy keeps a pointer to the workload (FGD and llmo need
 * one) that must outlive it; it owns its caches. A policy serves one
 * cluster: its per-node caches are keyed by node index and node version.
 * Not thread-safe: one decision at a time. A decision may itself score
 * nodes on a pool's threads (llmo_sched_policy_set_pool), each thread a
 * fixed slice of the nodes, writing only those nodes' cache entries; the
 * slices' bests are merged by score, then tie order, so the placement is
 * the serial one whatever the threads' timing.
 */
#include "base/common.h"
#include "base/error.h"
#include "scheduler/cluster.h"
#include "scheduler/frag.h"
#include "scheduler/pool.h"
#include "base/rng.h"

/* The configuration's scheduler.policy lists the names in this order (src/api/config.c). */
enum llmo_sched_policy_kind {
	LLMO_SCHED_RANDOM,
	LLMO_SCHED_BESTFIT,
	LLMO_SCHED_DOTPROD,
	LLMO_SCHED_GPUPACKING,
	LLMO_SCHED_GPUCLUSTERING,
	LLMO_SCHED_FGD,
	LLMO_SCHED_LLMO,
	LLMO_SCHED_POLICY_COUNT
};

/*
 * Nodes from which a decision scores nodes in parallel, when the policy has
 * a pool (llmo_sched_policy_set_pool). Below it the threads' hand-off costs
 * more than it saves (bench/scheduler measures both).
 */
#define LLMO_SCHED_PARALLEL_MIN_NODES 2048

/* Bytes of score cache one policy may hold; classes beyond it are scored uncached. */
#define LLMO_SCHED_CACHE_BYTES_MAX (512u * 1024 * 1024)
/* Pod classes a cache is sized for, at most. */
#define LLMO_SCHED_CACHE_CLASSES_MAX 65536

struct llmo_sched_class_cache {
	double *score;     /* per node; -INFINITY: the class does not fit */
	uint64_t *version; /* per node: the node version the score is for; 0: none */
};

struct llmo_sched_policy {
	enum llmo_sched_policy_kind kind;
	const struct llmo_sched_workload *workload; /* not owned */
	/* Per node: its fragmentation under workload, for node version frag_version[i]. */
	double *frag;
	uint64_t *frag_version;
	uint32_t *rank; /* per node: its place in the tie order, lower wins */
	size_t nnodes;  /* length of the per-node arrays */
	struct llmo_sched_class_cache *classes;
	size_t nclasses;
	size_t cache_bytes;
	uint64_t evaluations; /* node scores computed (not taken from the cache) */
	struct llmo_sched_pool *pool; /* not owned; NULL: decisions score serially */
};

/* The kind called name ("fgd"); LLMO_ENOTFOUND with err listing the names. */
int llmo_sched_policy_parse(const char *name, enum llmo_sched_policy_kind *kind,
			    struct llmo_error *err);
/* The kind's name; "?" for a value out of range. */
const char *llmo_sched_policy_name(enum llmo_sched_policy_kind kind);
/* Whether the kind scores with a target workload (fgd, llmo). */
bool llmo_sched_policy_needs_workload(enum llmo_sched_policy_kind kind);

/*
 * Sets p up for kind. workload is required (not NULL, at least one type)
 * when llmo_sched_policy_needs_workload(kind); LLMO_EINVAL otherwise.
 */
int llmo_sched_policy_init(struct llmo_sched_policy *p, enum llmo_sched_policy_kind kind,
			   const struct llmo_sched_workload *workload, struct llmo_error *err);
void llmo_sched_policy_release(struct llmo_sched_policy *p);

/*
 * Caches node scores per pod class: the caller numbers pods with equal
 * requests (CPU, memory, GPUs, share, models) 0..nclasses-1 and passes the
 * number to llmo_sched_policy_place. Scores are kept per node version, so
 * a decision recomputes only nodes changed since the class was last
 * placed. 0, LLMO_EINVAL (nclasses over LLMO_SCHED_CACHE_CLASSES_MAX) or
 * LLMO_ENOMEM.
 */
int llmo_sched_policy_enable_cache(struct llmo_sched_policy *p, size_t nclasses,
				   struct llmo_error *err);

/*
 * Draws a random tie order for nnodes nodes (a permutation from rng) in
 * place of node order; it holds until the number of nodes placed on
 * changes. 0, LLMO_ENOMEM or LLMO_EINVAL (too many nodes).
 */
int llmo_sched_policy_shuffle_ties(struct llmo_sched_policy *p, size_t nnodes, struct llmo_rng *rng);

/*
 * Scores pod on node i of c: false when the pod does not fit there;
 * otherwise true with *score (higher is better) and, when gpus is not
 * NULL, the GPUs the policy would use in gpus[0..num_gpu) (for random, the
 * best-fit ones: llmo_sched_policy_place draws a random fitting GPU).
 */
bool llmo_sched_policy_score(struct llmo_sched_policy *p, const struct llmo_sched_cluster *c,
			     size_t i, const struct llmo_sched_pod *pod, double *score,
			     uint8_t *gpus);

/*
 * Scores nodes on pool's threads (not owned; it must outlive its use here)
 * in decisions over at least LLMO_SCHED_PARALLEL_MIN_NODES nodes; NULL, or
 * a pool of one thread, scores serially. The random policy always scores
 * serially (its ties are drawn in node order). The placements are the same
 * either way.
 */
void llmo_sched_policy_set_pool(struct llmo_sched_policy *p, struct llmo_sched_pool *pool);

/*
 * Chooses where pod goes: fills *out and returns 0, or LLMO_ENOTFOUND when
 * the pod fits no node. cls is the pod's class for the cache, or -1. rng
 * makes the random policy's choices (of node and GPU). The cluster is not
 * changed: apply the placement with llmo_sched_cluster_apply. LLMO_ENOMEM
 * when growing the per-node arrays fails (LLMO_EINVAL past UINT32_MAX
 * nodes).
 */
int llmo_sched_policy_place(struct llmo_sched_policy *p, const struct llmo_sched_cluster *c,
			    const struct llmo_sched_pod *pod, long cls, struct llmo_rng *rng,
			    struct llmo_sched_placement *out);

#endif
