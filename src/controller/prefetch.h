#ifndef LLMO_CONTROLLER_PREFETCH_H
#define LLMO_CONTROLLER_PREFETCH_H
/*
 * Model prefetch ahead of a scale-up (docs/autoscaling.md, "Pre-pulling
 * models"): when a workload's autoscaler wants more replicas than have a
 * node (the predictive policy's recommendation within its horizon, or a
 * scale-up just decided), the controller asks the agents of nodes that could
 * host a replica but do not hold its model in their cache to fetch it now,
 * so the replicas that land there start without the download.
 *
 * The request is the Node annotation LLMO_ANNOTATION_PREFETCH (registry/
 * fetch.h; one longer than LLMO_PREFETCH_ANNOTATION_MAX is replaced), a JSON
 * object {"NAMESPACE/WORKLOAD": "HOST/REPO:TAG@sha256:HEX", ...}: one entry
 * per workload, which only that workload's reconcile writes. The agent
 * (agent/prefetch.h) fetches the listed models into its cache one at a time
 * and lists them in llm.orchestrator.io/cached-models; the controller then
 * removes the entry (done), as it does when the demand falls or the model
 * changes.
 */
#include "base/common.h"

#include <jansson.h>

struct llmo_controller;

/* Entries (workloads) one node's annotation holds at most. */
#define LLMO_PREFETCH_ENTRIES_MAX 64
/* Nodes one workload asks at once at most, whatever the forecast says. */
#define LLMO_PREFETCH_NODES_MAX 16

struct llmo__prefetch_in {
	const char *key;      /* "ns/name" of the workload */
	const json_t *w;      /* the workload (Events) */
	const json_t *tmpl;   /* a replica's pod template; NULL: nothing to fetch */
	int32_t want;	      /* replicas the autoscaler wants within its horizon */
	const json_t *const *pods; /* the workload's replicas (their spec.nodeName) */
	size_t npods;
};

/*
 * Brings the workload's entries on the Nodes in line with in: asks up to
 * want - (replicas with a node) - (idle nodes that hold the model) nodes
 * that could host a replica and do not hold the model, keeps asking the
 * ones asked before first, removes the entry from every other node. Lists
 * the Nodes only when it has something to ask or to remove (and once per
 * workload after a start, for entries a previous controller left).
 * 0, or the client's error.
 */
int llmo__prefetch_sync(struct llmo_controller *c, const struct llmo__prefetch_in *in);
/* Removes every entry of the workload (it is being deleted; the Nodes are listed once). */
int llmo__prefetch_clear(struct llmo_controller *c, const char *key);
/* Forgets the workload (gone: its entries were removed when it was finalized). */
void llmo__prefetch_forget(struct llmo_controller *c, const char *key);
void llmo__prefetch_release_all(struct llmo_controller *c);

#endif
