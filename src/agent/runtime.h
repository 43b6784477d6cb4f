#ifndef LLMO_AGENT_RUNTIME_H
#define LLMO_AGENT_RUNTIME_H
/*
 * struct llmo_runtime: the local pod runtime of `llmo agent` in single-machine
 * mode. Pods bound to this node run as plain processes (no containers, no
 * images): each container run is `llmo shim ... -- CMD ARGS` (src/cmd/cmd_shim.c),
 * which logs in the CRI format and records the exit status, and which keeps
 * running when the agent dies so that the next agent adopts it.
 * docs/agent-runtime.md describes the behaviour users see.
 *
 * Everything runs on the caller's event_base (one thread: call every function
 * from the loop's thread). The runtime knows nothing about the API server: the
 * caller feeds it pods (llmo_runtime_sync_pod / _remove_pod) and writes back
 * what llmo_runtime_pod_status says when opts.changed fires.
 *
 * The runtime catches SIGCHLD on base (evsignal) and reaps only the pids it
 * started, one waitpid(pid) each: other children of the process are left alone.
 * libevent delivers signals to one event_base only, so a process that watches
 * other signals (SIGINT, SIGTERM) should do it on this same base; should
 * SIGCHLD go elsewhere, exits are still noticed by a once-a-second poll.
 *
 * State on disk, under opts.state_dir:
 *
 *     pods/<uid>/record.json                 what a later agent needs to adopt
 *     pods/<uid>/<container>/<run>.log       CRI log of run <run> (0, 1, ...)
 *     pods/<uid>/<container>/<run>.exit      the shim's exit status of that run
 *
 * the last LLMO_RUNTIME_KEEP_RUNS runs of each container are kept.
 */
#include "base/common.h"

#include <jansson.h>

#include "base/error.h"

/* A log line longer than this is written as pieces tagged P (CRI partial). */
#define LLMO_RUNTIME_LOG_PARTIAL_MAX 16384
/* Runs of a container whose log and exit files are kept (the current and previous). */
#define LLMO_RUNTIME_KEEP_RUNS 2

/* The pod annotation holding a JSON array of strings that replaces the first
 * container's command and args. */
#define LLMO_RUNTIME_ANN_COMMAND "llm.orchestrator.io/local-command"
/* The pod annotation naming its GPUs (indices or UUIDs, comma-separated). */
#define LLMO_RUNTIME_ANN_GPUS "llm.orchestrator.io/gpus"
/* The pod annotation naming the model its first container needs (registry/fetch.h). */
#define LLMO_RUNTIME_ANN_MODEL "llm.orchestrator.io/model-artifact"

struct event_base;
struct llmo_runtime;

struct llmo_runtime_opts {
	const char *state_dir;  /* DIR: DIR/pods/<uid>/ holds each pod's record, logs, exit files; created if missing */
	const char *shim_path;  /* the llmo binary, re-executed as `llmo shim ...` (see below) */
	const char *node_name;
	const char *host_ip;    /* reported as status.hostIP and status.podIP ("127.0.0.1") */
	long backoff_base_ms;   /* CrashLoopBackOff: first delay (0: 10000), doubling */
	long backoff_max_ms;    /* (0: 300000); reset after a container ran 10 minutes */
	void (*changed)(void *ctx, const char *uid); /* a pod's status or host ports changed; on the loop */
	void *ctx;
	/*
	 * The model fetch step. With fetch_args (a NULL-terminated list of
	 * `llmo fetch` options: "--cache-dir", DIR, "--registry", URL, ...), the
	 * first container of a pod that carries the annotation
	 * llm.orchestrator.io/model-artifact (fetch.h) runs as
	 *     llmo fetch REF OPTIONS --pin UID --progress plain
	 *          --reason-file RUN.reason --exec -- COMMAND ARGS
	 * so the model is in the node's cache, verified, before the command
	 * starts (with LLMO_MODEL_PATH set); a fetch that fails ends the run with
	 * the reason it wrote (ModelVerificationFailed, ModelSignatureInvalid,
	 * ModelFetchFailed) and the container restarts with back-off. NULL: the
	 * annotation is ignored.
	 */
	const char *const *fetch_args;
	const char *model_cache_dir; /* pins of removed pods are dropped there */
	/*
	 * A container's envFrom: reads the Secret (kind "secret", values
	 * decoded) or ConfigMap (kind "configmap") name in namespace ns into
	 * *out, an object of key -> string (the caller's to free), or NULL when
	 * it does not exist; an error when it cannot be read. Called on the
	 * loop when a container starts. NULL: envFrom is refused (a config
	 * error on the pod).
	 */
	int (*env_source)(void *ctx, const char *kind, const char *ns, const char *name,
			  json_t **out, struct llmo_error *err);
};

/*
 * Creates the runtime; the strings in opts are copied. opts.changed is always
 * called from a callback of its own on base (never from inside a runtime
 * function), once per batch of changes; it may call any function here except
 * llmo_runtime_free. Errors: LLMO_EINVAL (missing state_dir, shim_path,
 * node_name or host_ip), the llmo_mkdir_p errors for the state directory,
 * LLMO_ENOMEM.
 */
int llmo_runtime_new(struct event_base *base, const struct llmo_runtime_opts *opts, struct llmo_runtime **out, struct llmo_error *err);
/* Terminates nothing: processes keep running (like kubelet); frees memory. */
void llmo_runtime_free(struct llmo_runtime *rt);
/* Desired state of one pod (borrowed JSON, a v1 Pod as the API returns it). Starts it the first time (or adopts the processes a previous agent left for this uid), applies nothing else from later spec changes (pods are immutable) except: metadata.deletionTimestamp set => graceful termination with metadata.deletionGracePeriodSeconds (default spec.terminationGracePeriodSeconds, default 30). */
int llmo_runtime_sync_pod(struct llmo_runtime *rt, const json_t *pod, struct llmo_error *err);
/* The pod is gone from the API: kill its processes now (SIGKILL to the process group after a 2 s SIGTERM grace) and remove its state dir once they are gone. */
void llmo_runtime_remove_pod(struct llmo_runtime *rt, const char *uid);
/* After the caller synced every pod the API has for this node: every record on disk of a uid never synced (left by a previous agent) is killed and removed. Returns how many. */
int llmo_runtime_collect_orphans(struct llmo_runtime *rt);
/* The pod's current status as a v1 PodStatus JSON object (new reference), NULL when unknown uid. */
json_t *llmo_runtime_pod_status(struct llmo_runtime *rt, const char *uid);
/* {"8000": 41234, ...}: each declared containerPort -> the host port given to it (new reference), NULL when unknown. */
json_t *llmo_runtime_pod_ports(struct llmo_runtime *rt, const char *uid);
/* True when the pod was terminating and every process of it is gone (the caller then deletes the pod object with grace 0). */
bool llmo_runtime_pod_terminated(struct llmo_runtime *rt, const char *uid);
/* The log file path of a container's current (previous=false) or previous run, for the log server. */
int llmo_runtime_log_path(struct llmo_runtime *rt, const char *ns, const char *pod, const char *container, bool previous, char *out, size_t n, bool *running, struct llmo_error *err);

/*
 * More on the functions above:
 *
 * llmo_runtime_sync_pod: errors are LLMO_EINVAL for a pod without
 * metadata.uid / name / namespace or spec.containers, or with names unfit for
 * paths (nothing is kept then), and LLMO_EINVAL for a pod that is kept but one
 * of whose containers cannot run (no local command, valueFrom, ...): that
 * container waits with reason CreateContainerConfigError and err says why.
 * A uid being removed is ignored (0).
 *
 * llmo_runtime_remove_pod and _collect_orphans work asynchronously: the
 * processes get SIGTERM at once and SIGKILL 2 s later; the state directory
 * goes once they are all gone (llmo_runtime_pod_known turns false then).
 *
 * llmo_runtime_log_path: *running (may be NULL) is true when the run asked
 * for is the current one and its process is running (a follower keeps
 * reading). When several pods share ns/name (a deleted one still stopping and
 * its successor) the one not being removed wins. Errors: LLMO_ENOTFOUND for an
 * unknown pod or container or when there is no previous run, LLMO_EAGAIN when
 * the container has not started yet (err has kubelet's "is waiting to start"
 * message), LLMO_EINVAL when out is too small.
 */

/*
 * What a running pod's processes use (every running container's session):
 * *cpu_milli the mean CPU since the previous call for this pod, millicores
 * (utime + stime from /proc/PID/stat), *memory the resident set now, bytes
 * (/proc/PID/statm). The first call only takes the reference reading and
 * returns LLMO_EAGAIN; LLMO_ENOTFOUND for an unknown, terminating or
 * removed pod. The agent calls it every LLMO_USAGE_PERIOD_MS (api/usage.h).
 */
int llmo_runtime_pod_usage(struct llmo_runtime *rt, const char *uid, int64_t *cpu_milli,
			   int64_t *memory);

/* The resident set of process pid, bytes (/proc/PID/statm); 0 when it cannot be read. */
uint64_t llmo_runtime_proc_rss(long pid);

/* Whether the runtime still tracks uid (synced, or being removed). */
bool llmo_runtime_pod_known(struct llmo_runtime *rt, const char *uid);

#endif
