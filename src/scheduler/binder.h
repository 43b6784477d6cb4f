#ifndef LLMO_SCHEDULER_BINDER_H
#define LLMO_SCHEDULER_BINDER_H
/*
 * struct llmo_binder: a first-fit pod binder, the placeholder scheduler
 * until the GPU-aware one exists.
 *
 * It watches pods (all namespaces) and nodes with two informers and keeps a
 * work queue of pod keys "ns/name". A pod is a candidate when its
 * spec.schedulerName is the binder's name, spec.nodeName is empty and it has
 * no metadata.deletionTimestamp. A candidate's request is the sum over
 * spec.containers[].resources.requests of cpu, memory and nvidia.com/gpu
 * (milli-units). Nodes are tried in name order; a node fits when its Ready
 * condition is True, spec.unschedulable is not true, and status.allocatable
 * minus the requests of the unfinished pods bound to it covers the request
 * (a missing allocatable entry counts as 0). The first node that fits gets a
 * pods/binding; when none fits the pod gets a PodScheduled=False
 * (Unschedulable) condition and a FailedScheduling Warning Event with a
 * kube-scheduler-style message, and is retried rate-limited. Node changes,
 * and pods that leave a node, requeue every pending candidate.
 *
 * Bindings are remembered in memory as soon as they succeed, so two pods
 * handled before the informer sees the first binding do not both take the
 * last slot.
 *
 * Threads: everything runs on the owner's event loop (the informers' and the
 * event recorder's threads only do HTTP). Not thread-safe.
 */
#include "base/common.h"
#include "base/error.h"
#include "kube/client.h"

struct event_base;
struct llmo_binder;

/* The schedulerName the binder serves by default. */
#define LLMO_BINDER_DEFAULT_NAME "llmo-scheduler"
/* Longest pod key "ns/name" (63 + 1 + 253, NUL, with room to spare). */
#define LLMO_BINDER_KEY_MAX 320
/*
 * GPUs: a pod requesting nvidia.com/gpu is given GPUs of its node before it
 * is bound, written to its annotation LLMO_BINDER_GPUS_ANNOTATION as
 * comma-separated GPU ids (the node agent sets CUDA_VISIBLE_DEVICES to
 * them). The ids are the uuids of the node's LLMO_BINDER_DEVICES_ANNOTATION
 * (a JSON array of {"index", "uuid", ...} the agent writes), else indices
 * "0".."N-1". Whole GPUs (the request rounded up to thousands of milli) go
 * to unused GPUs; a fraction (500m) shares the fullest GPU it still fits on.
 * A GPU's use is the sum over the unfinished pods holding it of their
 * request divided by the number of GPUs each holds.
 */
#define LLMO_BINDER_GPUS_ANNOTATION "llm.orchestrator.io/gpus"
#define LLMO_BINDER_DEVICES_ANNOTATION "llm.orchestrator.io/gpu-devices"
/* GPUs per node considered when a node lists none. */
#define LLMO_BINDER_GPUS_MAX 1024
/* Longest FailedScheduling message built. */
#define LLMO_BINDER_MESSAGE_MAX 1024

/*
 * Creates a stopped binder for pods whose spec.schedulerName is
 * scheduler_name (NULL: LLMO_BINDER_DEFAULT_NAME; copied), running on base.
 * client must outlive the binder. 0, LLMO_ENOMEM, or an informer/workqueue/
 * recorder error.
 */
int llmo_binder_new(struct llmo_kube_client *client, struct event_base *base,
		    const char *scheduler_name, struct llmo_binder **out, struct llmo_error *err);

/* Starts the informers. LLMO_EINVAL when already started; LLMO_EIO. */
int llmo_binder_start(struct llmo_binder *b, struct llmo_error *err);

/* Stops the informers, drops the queue, flushes events, frees. NULL is fine. */
void llmo_binder_free(struct llmo_binder *b);

/*
 * cpu and memory of a node may be promised up to ratio times its allocatable
 * (the configuration's scheduler.resourceOvercommitRatio; never GPUs).
 * Values below 1 count as 1, the default.
 */
void llmo_binder_set_overcommit(struct llmo_binder *b, double ratio);
/* Bindings made by this binder (successful pods/binding POSTs). */
size_t llmo_binder_bound_count(const struct llmo_binder *b);

#endif
