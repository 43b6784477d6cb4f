#ifndef LLMO_AGENT_AGENT_H
#define LLMO_AGENT_AGENT_H
/*
 * struct llmo_agent: the node agent of single-machine mode (the kubelet's
 * part). It registers a Node for this machine (capacity and allocatable
 * cpu, memory, pods, nvidia.com/gpu; per-GPU detail in the annotation
 * llm.orchestrator.io/gpu-devices; GPU labels as NVIDIA's GPU feature
 * discovery writes them), keeps it alive (a coordination.k8s.io Lease in
 * kube-node-lease renewed every heartbeat, and the Ready condition), runs
 * the pods bound to it as processes through src/agent/runtime.h and writes
 * their status back, and serves their logs to the API server's pods/log
 * proxy. docs/agent.md describes it for users.
 *
 * Threads: everything runs on the owner's event loop and makes blocking API
 * calls from it, so that loop must not be the API server's own.
 */
#include "base/common.h"
#include "base/buf.h"
#include "base/error.h"
#include "kube/client.h"

struct event_base;
struct llmo_agent;
struct llmo_selfpod;

#define LLMO_AGENT_HEARTBEAT_MS 10000L
#define LLMO_AGENT_LEASE_SECONDS 40
#define LLMO_AGENT_LEASE_NAMESPACE "kube-node-lease"
/* Pods a node admits (the kubelet's default), reported as capacity. */
#define LLMO_AGENT_MAX_PODS 110
/* How long a graceful stop waits for the pods to stop (stop_pods). */
#define LLMO_AGENT_STOP_WAIT_MS 35000L

struct llmo_agent_opts {
	const char *node_name;	/* NULL: the host name, lowercased */
	const char *fake_gpus;	/* --fake-gpus value, or NULL for NVML */
	const char *state_dir;	/* the runtime's state (pods' records and logs) */
	const char *shim_path;	/* the llmo binary (runs `llmo shim`) */
	const char *host_ip;	/* NULL: "127.0.0.1" */
	const char *log_token;	/* bearer token the log endpoint requires; NULL: no log endpoint */
	long heartbeat_ms;	/* 0: LLMO_AGENT_HEARTBEAT_MS */
	long usage_ms;		/* pod usage measured this often (0: LLMO_USAGE_PERIOD_MS) */
	long backoff_base_ms;	/* CrashLoopBackOff (0: the runtime's default) */
	long backoff_max_ms;
	bool stop_pods;		/* on free: stop every pod (SIGTERM, SIGKILL 2 s later) instead of leaving them */
	/*
	 * false (--runtime none, on a cluster where the kubelet owns the Node and
	 * runs the pods): the agent only publishes the GPU labels and the
	 * gpu-devices annotation on the existing Node, every heartbeat.
	 */
	bool run_pods;
	/*
	 * The model fetch step (runtime.h: llmo_runtime_opts.fetch_args) and the
	 * node's model cache: its models are reported on the Node in the
	 * annotation llm.orchestrator.io/cached-models (registry/fetch.h), and a
	 * replica whose model fails to fetch or verify gets a Warning Event with
	 * the reason. NULL: no fetch step, no report.
	 */
	const char *const *fetch_args;
	const char *model_cache_dir;
	/*
	 * The process the agent runs in, shown as a static pod (agent/selfpod.h):
	 * llmo server's own, published at start, made again when deleted, its
	 * usage measured and its log served like a container's. Borrowed: it
	 * must outlive the agent. NULL: none. Only with run_pods.
	 */
	const struct llmo_selfpod *self_pod;
};

int llmo_agent_new(struct llmo_kube_client *client, struct event_base *base,
		   const struct llmo_agent_opts *opts, struct llmo_agent **out,
		   struct llmo_error *err);
/* Registers the Node, starts the heartbeat, the pod watch and the log endpoint. */
int llmo_agent_start(struct llmo_agent *a, struct llmo_error *err);
/*
 * Marks the Node not ready, stops the pods when opts.stop_pods (running the
 * loop until they are gone or LLMO_AGENT_STOP_WAIT_MS passed), frees. NULL is
 * fine.
 */
void llmo_agent_free(struct llmo_agent *a);
/* The Node's name. */
const char *llmo_agent_node_name(const struct llmo_agent *a);
/*
 * For llmo_metrics_http (arg: the agent): its metrics
 * (llmo_agent_model_fetches_total{kind,result}), and whether it is ready
 * (started; with pods to follow, their first list is in).
 */
int llmo_agent_write_metrics(void *arg, struct llmo_buf *out, struct llmo_error *err);
bool llmo_agent_ready(void *arg);

#endif
