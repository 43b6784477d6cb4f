#ifndef LLMO_SCHEDULER_TOPOLOGY_H
#define LLMO_SCHEDULER_TOPOLOGY_H
/*
 * struct llmo_sched_topology: which GPUs of one node are close to each
 * other, from the entries of the node's llm.orchestrator.io/gpu-devices
 * annotation (src/agent/gpu.h writes it): "nvlinkDomain" (GPUs joined by
 * NVLink, directly or through others, share one) and "numaNode" (the NUMA
 * node of the GPU's PCI device). A GPU's *domain* is its nvlinkDomain when
 * some GPU of the node reports one, else its numaNode when some GPU reports
 * one; a GPU that lacks the field in use is a domain of its own. A node
 * where no GPU reports either has no topology.
 *
 * A multi-GPU pod prefers GPUs of one domain: llmo_sched_topology_pick
 * chooses whole free GPUs spanning the fewest domains, and the live
 * scheduler's score takes 100 * (spanned - 1) / (GPUs - 1) from a node
 * (see docs/scheduler.md).
 *
 * Ownership: plain values. Not thread-safe (none is needed).
 */
#include "base/common.h"

#include <jansson.h>

#include "scheduler/cluster.h"

/* The gpu-devices entry fields read. */
#define LLMO_SCHED_TOPO_NVLINK_FIELD "nvlinkDomain"
#define LLMO_SCHED_TOPO_NUMA_FIELD "numaNode"

struct llmo_sched_topology {
	int ngpus;                             /* entries read, at most LLMO_SCHED_NODE_GPUS_MAX */
	int64_t domain[LLMO_SCHED_NODE_GPUS_MAX]; /* per GPU in id order; distinct for "alone" */
	bool known;                            /* some GPU reported a domain */
};

/*
 * Reads the topology from the gpu-devices annotation's array (devices: a
 * JSON array, or NULL), taking the entries that have a "uuid" in order, as
 * the GPU ids are taken. Fields that are not integers from 0 to INT32_MAX
 * count as absent. Never fails: without topology, t->known is false.
 */
void llmo_sched_topology_read(const json_t *devices, struct llmo_sched_topology *t);

/*
 * Picks k (1..LLMO_SCHED_POD_GPUS_MAX) of the GPUs g < t->ngpus with
 * is_free[g] into out[0..k), ascending, spanning the fewest domains: while
 * no domain left has the GPUs still needed, the domain with the most free
 * GPUs (ties: the one with the lowest GPU) is taken whole; then the
 * smallest domain that holds what is still needed (best fit, keeping larger
 * domains whole; ties: lowest GPU), its lowest GPUs. Returns the number of
 * domains spanned, or 0 when fewer than k GPUs are free.
 */
int llmo_sched_topology_pick(const struct llmo_sched_topology *t, const bool *is_free, int k,
			     uint8_t *out);

#endif
