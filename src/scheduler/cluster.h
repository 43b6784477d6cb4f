#ifndef LLMO_SCHEDULER_CLUSTER_H
#define LLMO_SCHEDULER_CLUSTER_H
/*
 * struct llmo_sched_cluster: the resource model the scheduling policies work
 * on, shared by the trace simulator (src/sim/schedule.c) and the live
 * scheduler. It knows nodes (CPU, memory, GPUs with their remaining share
 * and model) and pods (what they request), checks whether a pod fits a node,
 * and applies or undoes a placement. It knows nothing about Kubernetes
 * objects: callers translate.
 *
 * Units: CPU in milli-CPU, memory in MiB, GPU in milli-GPU, where
 * LLMO_SCHED_MILLI (1000) is one whole GPU. (The policies only compare
 * memory with memory, so a caller may use another unit throughout: the live
 * scheduler uses the API's milli-bytes.) Every GPU of a node is of the
 * node's one model.
 *
 * A pod asks for num_gpu GPUs of gpu_milli each:
 *   num_gpu == 0                  no GPU (gpu_milli is 0);
 *   num_gpu == 1, gpu_milli < 1000  a share of one GPU ("sharing pod");
 *   num_gpu >= 1, gpu_milli == 1000 that many whole GPUs.
 * A sharing pod fits on a GPU whose remaining share is at least gpu_milli;
 * whole GPUs must be entirely free. A GPU pod may also restrict the models
 * it runs on (models, a bitmask over the cluster's model table).
 *
 * Ownership: the cluster owns its nodes and their names and the model
 * names. Pods and placements are plain values owned by the caller.
 * Not thread-safe.
 */
#include "base/common.h"
#include "base/error.h"
#include "base/vec.h"

#define LLMO_SCHED_MILLI 1000
/* GPUs on one node, at most. */
#define LLMO_SCHED_NODE_GPUS_MAX 16
/* GPUs one pod may request, at most (the openb traces go to 8). */
#define LLMO_SCHED_POD_GPUS_MAX 8
/* Distinct GPU models in one cluster (they are bits of a uint64_t). */
#define LLMO_SCHED_MODELS_MAX 64
/* Longest GPU model name, in bytes. */
#define LLMO_SCHED_MODEL_NAME_MAX 64
/* Models named in one pod constraint ("A|B|C"), at most. */
#define LLMO_SCHED_SPEC_MODELS_MAX 16
/* A pod's models when it accepts any GPU model. */
#define LLMO_SCHED_MODELS_ANY UINT64_MAX
/*
 * Affinity tags counted per node (for GPU clustering): tag 0 is "sharing
 * pod", tag k (1..LLMO_SCHED_POD_GPUS_MAX) is "k whole GPUs".
 */
#define LLMO_SCHED_TAGS (LLMO_SCHED_POD_GPUS_MAX + 1)

struct llmo_sched_node {
	char *name;        /* owned */
	int64_t cpu_cap;   /* milli-CPU */
	int64_t cpu_left;
	int64_t mem_cap;   /* MiB */
	int64_t mem_left;
	int ngpus;         /* 0 .. LLMO_SCHED_NODE_GPUS_MAX */
	int model;         /* index in the cluster's model table; -1 without GPUs */
	int gpu_left[LLMO_SCHED_NODE_GPUS_MAX]; /* milli-GPU remaining, per GPU index */
	int gpu_left_total;                     /* sum of gpu_left */
	int gpu_free;                           /* GPUs with gpu_left == LLMO_SCHED_MILLI */
	uint32_t tags[LLMO_SCHED_TAGS];         /* placed GPU pods by affinity tag */
	/*
	 * Changes whenever the node's free resources change (apply, undo), to a
	 * value no node of this cluster had before: a cache of anything computed
	 * from the node's state is valid while version is unchanged.
	 */
	uint64_t version;
};

struct llmo_sched_pod {
	int64_t cpu;      /* milli-CPU, >= 0 */
	int64_t mem;      /* MiB, >= 0 */
	int num_gpu;      /* 0 .. LLMO_SCHED_POD_GPUS_MAX */
	int gpu_milli;    /* per GPU: 0 without GPUs, 1..1000 with num_gpu == 1, else 1000 */
	uint64_t models;  /* allowed models (bits of model indices) or LLMO_SCHED_MODELS_ANY */
};

/* Where a pod goes: a node index and, for a GPU pod, which GPUs (num_gpu of them). */
struct llmo_sched_placement {
	size_t node;
	int ngpus;
	uint8_t gpus[LLMO_SCHED_POD_GPUS_MAX];
};

struct llmo_sched_cluster {
	LLMO_VEC(struct llmo_sched_node) nodes;
	char *models[LLMO_SCHED_MODELS_MAX]; /* owned names */
	size_t nmodels;
	int64_t gpu_cap_total;  /* milli-GPU of all nodes */
	int64_t gpu_left_total; /* milli-GPU not allocated */
	uint64_t clock;         /* last version handed to a node */
};

void llmo_sched_cluster_init(struct llmo_sched_cluster *c);
/* Frees the nodes, names and models; c is left initialised and empty. */
void llmo_sched_cluster_release(struct llmo_sched_cluster *c);

/*
 * The index of the GPU model called name (1..LLMO_SCHED_MODEL_NAME_MAX bytes)
 * in *idx; with add, a name not seen yet is added. LLMO_ENOTFOUND (without
 * add), LLMO_EINVAL (bad name), LLMO_ETOOBIG (more than
 * LLMO_SCHED_MODELS_MAX models), LLMO_ENOMEM.
 */
int llmo_sched_cluster_model(struct llmo_sched_cluster *c, const char *name, bool add,
			     int *idx, struct llmo_error *err);

/*
 * Adds a node (name copied; model NULL or "" when ngpus is 0) with all of
 * its resources free. cpu and mem must be >= 0, ngpus within
 * 0..LLMO_SCHED_NODE_GPUS_MAX. Returns 0 or an LLMO_E* code with err set
 * (LLMO_EINVAL for a bad value, model errors as llmo_sched_cluster_model).
 */
int llmo_sched_cluster_add_node(struct llmo_sched_cluster *c, const char *name, int64_t cpu,
				int64_t mem, int ngpus, const char *model,
				struct llmo_error *err);

/*
 * Marks resources of node i as held by pods that run there already (the live
 * scheduler's view of its cluster; the simulator places every pod with
 * llmo_sched_cluster_apply instead): cpu and mem are taken from what the node
 * has left, gpu_used[g] milli-GPU from GPU g for g < ngpus (gpu_used may be
 * NULL when ngpus is 0), and tags[t] pods are added to the node's affinity
 * counts (tags NULL: none). Use beyond what is left (a node promised more
 * than it has) leaves 0, never less. The node's version changes.
 * LLMO_EINVAL with err set (and nothing changed) for a node index out of
 * range, a negative amount, or ngpus other than the node's.
 */
int llmo_sched_cluster_take_used(struct llmo_sched_cluster *c, size_t i, int64_t cpu,
				 int64_t mem, const int64_t *gpu_used, int ngpus,
				 const uint32_t *tags, struct llmo_error *err);

/*
 * Parses a model constraint: "" (any model) or names separated by '|'
 * ("V100M16|V100M32"), into a bitmask over this cluster's models. A name
 * that no node has is allowed and matches nothing, so a pod that names only
 * such models fits nowhere (*models is then 0). LLMO_EINVAL for an empty
 * name between separators, a name too long, or more than
 * LLMO_SCHED_SPEC_MODELS_MAX names.
 */
int llmo_sched_cluster_parse_models(const struct llmo_sched_cluster *c, const char *spec,
				    uint64_t *models, struct llmo_error *err);

/* Checks that pod is well formed (the rules in the comment at the top). 0 or LLMO_EINVAL. */
int llmo_sched_pod_check(const struct llmo_sched_pod *pod, struct llmo_error *err);

/* Whether pod is a sharing pod (one GPU, a share below a whole one). */
bool llmo_sched_pod_is_sharing(const struct llmo_sched_pod *pod);
/* The pod's GPU request in milli-GPU (num_gpu * gpu_milli). */
int64_t llmo_sched_pod_gpu_total(const struct llmo_sched_pod *pod);
/* The pod's affinity tag (see LLMO_SCHED_TAGS), or -1 for a pod without GPUs. */
int llmo_sched_pod_tag(const struct llmo_sched_pod *pod);

/* Whether node's GPU model is one the pod accepts (always true for a pod without GPUs). */
bool llmo_sched_node_accepts(const struct llmo_sched_node *node, const struct llmo_sched_pod *pod);
/* GPUs of node with at least milli remaining. */
int llmo_sched_node_gpus_with(const struct llmo_sched_node *node, int milli);
/*
 * Whether pod fits on node now: CPU, memory, model, and GPUs (num_gpu free
 * GPUs for whole GPUs; one GPU with gpu_milli remaining for a share).
 */
bool llmo_sched_node_fits(const struct llmo_sched_node *node, const struct llmo_sched_pod *pod);

/*
 * Whether placement is a valid place for pod in the cluster's current
 * state: the node exists, pod fits it, ngpus == num_gpu, the GPU indices are
 * distinct, exist on the node and each has the pod's gpu_milli remaining.
 */
bool llmo_sched_placement_valid(const struct llmo_sched_cluster *c, const struct llmo_sched_pod *pod,
				const struct llmo_sched_placement *p);

/*
 * Takes pod's resources from the placement's node and GPUs. LLMO_EINVAL with
 * err set (and nothing changed) when the placement is not valid.
 */
int llmo_sched_cluster_apply(struct llmo_sched_cluster *c, const struct llmo_sched_pod *pod,
			     const struct llmo_sched_placement *p, struct llmo_error *err);
/*
 * Gives back what llmo_sched_cluster_apply took for the same pod and
 * placement (a pod leaving, or a tentative placement undone). LLMO_EINVAL
 * with err set (and nothing changed) when that would exceed a capacity.
 */
int llmo_sched_cluster_undo(struct llmo_sched_cluster *c, const struct llmo_sched_pod *pod,
			    const struct llmo_sched_placement *p, struct llmo_error *err);

/*
 * The same changes applied to a node value only (a copy a policy evaluates
 * "what if" on); the caller has checked that the placement is valid. The
 * version is left alone.
 */
void llmo_sched_node_take(struct llmo_sched_node *node, const struct llmo_sched_pod *pod,
			  const uint8_t *gpus, int ngpus);

#endif
