#ifndef LLMO_CONTROLLER_REBALANCE_H
#define LLMO_CONTROLLER_REBALANCE_H
/*
 * The rebalancer (docs/controller.md, "Rebalancing"): every
 * resourceManager.optimizationInterval it picks at most one replica,
 * cluster-wide, to migrate off a node whose measured cpu or memory use is
 * above scaleUpThreshold of its allocatable, and asks for the move with
 * the pod annotation llm.orchestrator.io/migrate; the workload reconciler
 * moves it make-before-break (workload.c, "migration").
 *
 * llmo__rebalance_pick is the decision, pure (tested on hand-built nodes
 * and pods); llmo__rebalance_tick gathers its input from the API and acts.
 */
#include "base/common.h"

#include <event2/util.h>

enum { LLMO__RB_CPU, LLMO__RB_MEMORY, LLMO__RB_GPU, LLMO__RB_N };

struct llmo__rb_node {
	const char *name;
	bool ready;	/* Ready=True: a node may only receive when ready */
	bool has_usage; /* the Node's usage annotation was read (a fresh one) */
	int64_t alloc[LLMO__RB_N];     /* status.allocatable: millicores, bytes, milli-GPUs */
	int64_t requested[LLMO__RB_N]; /* the requests of its unfinished pods, same units */
	int64_t used_cpu, used_memory; /* the Node's usage: millicores, bytes */
};

struct llmo__rb_pod {
	const char *name;
	const char *workload; /* the workload key "ns/name" */
	size_t node;	      /* index of its node in the nodes array */
	bool movable;	      /* Ready replica, not draining or deleted, not already moving */
	bool recent;	      /* its workload was rebalanced within the interval */
	bool has_usage;	      /* its usage annotation was read (a fresh one) */
	int64_t req[LLMO__RB_N];       /* its requests: millicores, bytes, milli-GPUs */
	int64_t used_cpu, used_memory; /* its usage: millicores, bytes */
};

struct llmo__rb_params {
	double hot;    /* resourceManager.scaleUpThreshold: a node above it is hot */
	double target; /* resourceManager.resourceUtilizationTarget: a target stays below it */
};

struct llmo__rb_pick {
	size_t pod, to;		/* indices into the pods and nodes arrays */
	double from_before;	/* the hot node's use (the larger of cpu and memory), 0..1+ */
	double from_after;	/* the same without the pod's usage */
	double to_after;	/* the target's use with the pod's usage */
};

/*
 * The move, if any: true and *out set, or false. Use of a node is the larger
 * of used_cpu / alloc cpu and used_memory / alloc memory (a resource with
 * no allocatable does not count). The rule:
 *  - a hot node is Ready, has usage and its use is above p->hot;
 *  - a candidate is a movable, not recent pod with usage on it;
 *  - a target is another Ready node with usage where the pod's requests fit
 *    what its allocatable leaves after its pods' requests (each of cpu,
 *    memory, GPUs that the pod requests), where cpu and memory use plus
 *    the pod's usage each stay below p->target, and whose use after the
 *    move stays below the hot node's use after it (no ping-pong);
 *  - of the hot nodes, the most used one (then by name) that has a
 *    candidate with a target; on it, the candidate whose removal leaves it
 *    least used (the largest move that fits), then to the target least used
 *    after, then by pod name and node name.
 */
bool llmo__rebalance_pick(const struct llmo__rb_node *nodes, size_t nnodes,
			  const struct llmo__rb_pod *pods, size_t npods,
			  const struct llmo__rb_params *p, struct llmo__rb_pick *out);

/* The rebalancer's libevent timer callback; arg is the controller. */
void llmo__rebalance_tick(evutil_socket_t fd, short what, void *arg);
/* Forgets every workload's last rebalance (controller free). */
struct llmo_controller;
void llmo__rebalance_release(struct llmo_controller *c);

#endif
