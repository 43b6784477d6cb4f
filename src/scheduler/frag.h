#ifndef LLMO_SCHEDULER_FRAG_H
#define LLMO_SCHEDULER_FRAG_H
/*
 * GPU fragmentation as defined by "Beware of Fragmentation" (Weng et al.,
 * USENIX ATC'23), measured against a target workload.
 *
 * struct llmo_sched_workload is the target workload's distribution of task
 * types: each type is a request shape (CPU, GPUs, share per GPU, allowed
 * models and, optionally, memory) with its popularity, the share of the
 * workload's tasks that have that shape. The popularities sum to 1.
 *
 * For a node n and a task type m, F_n(m) is the unallocated GPU capacity of
 * n (milli-GPU) that a task of type m cannot use:
 *   - all of n's unallocated GPU when m cannot run on n at all: m does not
 *     fit the node's free CPU (or memory, for types that carry memory), or
 *     its model constraint excludes the node, or not enough GPUs have m's
 *     share left; and also when m needs no GPU (a CPU task uses no GPU);
 *   - otherwise the GPUs whose remaining share is below m's share (for a
 *     whole-GPU type: every partially used GPU).
 * The node's fragmentation is F_n = sum over m of popularity(m) * F_n(m),
 * and the cluster's is the sum over its nodes.
 */
#include "base/common.h"
#include "base/error.h"
#include "base/vec.h"
#include "scheduler/cluster.h"

struct llmo_sched_task_type {
	struct llmo_sched_pod shape; /* mem is 0 unless the workload was built with memory */
	double popularity;           /* share of the workload's tasks, 0..1 */
	uint64_t count;              /* tasks of this shape in the source pods */
};

/* Task types in one workload, at most (more distinct shapes than this are cut, least popular first). */
#define LLMO_SCHED_TYPES_MAX 4096

struct llmo_sched_workload_opts {
	/*
	 * Keep the most popular types until they cover this share of the tasks
	 * (0 < coverage <= 1), then renormalise; ties at equal counts are kept
	 * in a fixed order (more CPU, then larger share, more GPUs, more models
	 * first). The paper's simulator uses 0.95.
	 */
	double coverage;
	bool with_cpu_tasks; /* count tasks without GPUs as types (the paper's simulator does) */
	bool with_memory;    /* make memory part of the shape (the paper's simulator does not) */
};

/* The settings of the paper's simulator: coverage 0.95, CPU tasks included, no memory. */
void llmo_sched_workload_opts_paper(struct llmo_sched_workload_opts *o);

struct llmo_sched_workload {
	LLMO_VEC(struct llmo_sched_task_type) types; /* most popular first */
	/*
	 * What the GPU tasks ask for besides GPUs, per milli-GPU, over all the
	 * source pods with GPUs (0 when there are none): milli-CPU and MiB of
	 * memory per milli-GPU.
	 */
	double cpu_per_gpu;
	double mem_per_gpu;
};

void llmo_sched_workload_init(struct llmo_sched_workload *w);
void llmo_sched_workload_release(struct llmo_sched_workload *w);

/*
 * Builds w (initialised, empty) from npods pods. LLMO_EINVAL when there is
 * no pod to count (no pods, or only CPU pods without with_cpu_tasks) or the
 * options are out of range; LLMO_ENOMEM.
 */
int llmo_sched_workload_build(struct llmo_sched_workload *w, const struct llmo_sched_pod *pods,
			      size_t npods, const struct llmo_sched_workload_opts *o,
			      struct llmo_error *err);

/* F_n(m): the milli-GPU of node that a task of type m cannot use. */
int llmo_sched_frag_task(const struct llmo_sched_node *node, const struct llmo_sched_pod *m);

/* F_n: the node's expected fragmentation under w, in milli-GPU. */
double llmo_sched_frag_node(const struct llmo_sched_node *node, const struct llmo_sched_workload *w);

/* The sum of llmo_sched_frag_node over the cluster's nodes. */
double llmo_sched_frag_cluster(const struct llmo_sched_cluster *c, const struct llmo_sched_workload *w);

#endif
