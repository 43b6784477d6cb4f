#ifndef LLMO_SIM_SCHEDULE_H
#define LLMO_SIM_SCHEDULE_H
/*
 * The scheduling simulator behind `llmo sim schedule` (docs/sim.md): replays
 * an openb trace (src/sim/trace.h) through one placement policy
 * (src/scheduler/policy.h), with the method of "Beware of Fragmentation"
 * (Weng et al., ATC'23):
 *
 *   1. the trace's pods are shuffled (Fisher-Yates, by the seed);
 *   2. clones drawn with replacement from the trace's pods are appended
 *      until the next one would take the cumulative GPU request above
 *      inflate x the cluster's GPU capacity;
 *   3. each pod is tried once, in that order: placed by the policy, or
 *      failed when it fits no node; no retries, no departures.
 *
 * Steps 1 and 2 use their own random stream, so every policy sees the same
 * pods in the same order for a seed; the policy's ties and random choices
 * use a second stream from the same seed.
 *
 * After each pod, three numbers describe the cluster, in percent of its GPU
 * capacity: arrived (GPU requested so far, failed pods included),
 * allocated, and fragmentation (src/scheduler/frag.h, against the workload
 * of the trace's pods as the paper's simulator builds it, whatever the
 * policy). A checkpoint X% is the state after the first pod at which
 * arrived reaches X%; a trace that ends less than one percentage point
 * short of X (as one inflated to exactly X does: its next clone would pass
 * X) counts its last pod.
 */
#include "base/common.h"
#include "base/error.h"
#include "scheduler/policy.h"
#include "sim/trace.h"

/* Pods one run may replay (the trace's and the clones), at most. */
#define LLMO_SIM_SCHEDULE_PODS_MAX 20000000
/* Bounds of inflate and of synthetic node counts. */
#define LLMO_SIM_SCHEDULE_INFLATE_MAX 100.0
#define LLMO_SIM_SCHEDULE_NODES_MAX 1000000

/* The cluster after one pod. */
struct llmo_sim_point {
	size_t index;         /* 0-based position in the replay */
	bool scheduled;       /* false: the pod fit nowhere */
	double arrived_pct;   /* GPU requested so far / capacity * 100 */
	double allocated_pct; /* GPU allocated / capacity * 100 */
	double frag_pct;      /* fragmentation / capacity * 100 */
};

struct llmo_sim_schedule_opts {
	enum llmo_sched_policy_kind policy;
	uint64_t seed;
	double inflate;          /* 0 < inflate <= LLMO_SIM_SCHEDULE_INFLATE_MAX */
	/*
	 * 0: the trace's nodes. N: N nodes named "synthetic-I", node I shaped
	 * like the trace's node I modulo their number (a larger cluster of the
	 * same mix, for throughput measurements).
	 */
	size_t synthetic_nodes;
	/*
	 * Threads that score nodes (policy.h: from LLMO_SCHED_PARALLEL_MIN_NODES
	 * nodes): 1 serial, 0 the default (llmo_sched_pool_default_threads), at
	 * most LLMO_SCHED_POOL_MAX. The results do not depend on it.
	 */
	int parallelism;
	/* Called after each pod (may be NULL); its time is not counted as decision time. */
	void (*on_pod)(void *arg, const struct llmo_sim_point *pt);
	void *arg;
};

/* Sets the defaults: policy llmo, seed 42, inflate 1.3, the trace's nodes, no callback. */
void llmo_sim_schedule_opts_init(struct llmo_sim_schedule_opts *o);

struct llmo_sim_checkpoint {
	bool reached;
	double arrived_pct;     /* where it was taken */
	double unallocated_pct; /* 100 - allocated */
	double frag_pct;
};

struct llmo_sim_schedule_result {
	size_t nodes;
	int64_t gpu_capacity_milli;
	size_t trace_pods;   /* pods in the trace */
	size_t pods;         /* pods replayed: the trace's and the clones */
	size_t scheduled;
	size_t failed;
	double arrived_pct;   /* at the end */
	double allocated_pct; /* at the end */
	struct llmo_sim_checkpoint at90, at100, at130;
	double decision_seconds;     /* time spent choosing and applying placements */
	double decisions_per_second; /* pods / decision_seconds */
	uint64_t evaluations;        /* node scores computed (not from the cache) */
	int parallelism;             /* threads that scored nodes (1: serial) */
};

/*
 * Runs the replay. Returns 0 with *res filled; LLMO_EINVAL (with err) for
 * options out of range, a trace without nodes or pods, or a cluster without
 * GPUs; LLMO_ETOOBIG over LLMO_SIM_SCHEDULE_PODS_MAX pods; LLMO_ENOMEM.
 */
int llmo_sim_schedule_run(const struct llmo_sim_trace *t, const struct llmo_sim_schedule_opts *o,
			  struct llmo_sim_schedule_result *res, struct llmo_error *err);

#endif
