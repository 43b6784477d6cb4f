#ifndef LLMO_AGENT_SELFPOD_H
#define LLMO_AGENT_SELFPOD_H
/*
 * llmo server's own pod: the process the agent runs in, shown in the API as
 * kubelet shows a static pod (a mirror pod), so that the spec's
 * troubleshooting commands work on one machine:
 *
 *     kubectl get pods -n llm-orchestrator
 *     kubectl logs -n llm-orchestrator deployment/llm-orchestrator
 *
 * The pod, NAME-NODE in namespace NS, is bound to the agent's Node and owned
 * by it; its one container is the server's command line; its status says
 * Running and Ready since the process started, with a restart count that
 * goes up with each start of the server (a containerID of another pid or
 * start time). Its annotation kubernetes.io/config.mirror holds a hash of
 * the spec: a server started with another command line replaces the pod (a
 * pod's spec cannot change). A Deployment (optional) selects it, so that
 * `deployment/NAME` names it; it is written only when absent or written by
 * llmo server before (annotation llm.orchestrator.io/managed-by), never over
 * a user's Deployment of that name. Nothing runs from either object: the
 * agent leaves the pod alone, and llmo server has no Deployment controller.
 * docs/embedded-server.md describes it for users.
 */
#include "base/common.h"

#include <jansson.h>

#include "base/error.h"
#include "kube/client.h"

#define LLMO_SELFPOD_MIRROR_ANNOTATION "kubernetes.io/config.mirror"
#define LLMO_SELFPOD_MANAGED_ANNOTATION "llm.orchestrator.io/managed-by"
#define LLMO_SELFPOD_MANAGER "llmo-server"

struct llmo_selfpod {
	const char *ns;		/* namespace of the pod and the Deployment */
	const char *name;	/* the pod is NAME-NODE, as kubelet names static pods */
	const char *deployment; /* a Deployment that selects the pod; NULL: none */
	const char *component;	/* its app.kubernetes.io/component label */
	const char *container;	/* its one container's name */
	const char *image;	/* its image field (nothing is pulled) */
	const char *const *argv; /* the command line, NULL-terminated */
	int64_t started_ms;	/* when the process started (wall clock) */
	long pid;		/* the process (its containerID is llmo://PID-STARTED_MS) */
	/* its log, CRI format (agent/crilog.h): this start's, the previous start's or NULL */
	const char *log_path, *prev_log_path;
};

/* The pod's name for node (NAME-NODE) into out; LLMO_EINVAL when it does not fit. */
int llmo_selfpod_name(const struct llmo_selfpod *sp, const char *node, char *out, size_t n);

/* The pod as created: metadata (labels, annotations, owner: the Node) and spec. */
json_t *llmo_selfpod_object(const struct llmo_selfpod *sp, const char *node,
			    const char *node_uid);

/*
 * The pod's status: Running and Ready since started_ms on host_ip, with
 * restarts restarts.
 */
json_t *llmo_selfpod_status(const struct llmo_selfpod *sp, const char *host_ip, int64_t restarts);

/*
 * The restart count a new start gives when old is the pod found (NULL: none):
 * its count, one more when its container is another run than sp's.
 */
int64_t llmo_selfpod_restarts(const struct llmo_selfpod *sp, const json_t *old);

/* Whether pod is the pod sp and node make (same spec hash). */
bool llmo_selfpod_current(const struct llmo_selfpod *sp, const json_t *pod, const char *node,
			  const char *node_uid);

/* The Deployment (spec: one replica, the pod's labels) and its status (ready: 1 or 0 of 1). */
json_t *llmo_selfpod_deployment(const struct llmo_selfpod *sp);
json_t *llmo_selfpod_deployment_status(bool ready);

/*
 * Writes the pod (creating it, or replacing one with another spec or being
 * deleted) and its status, then the Deployment when sp has one. What it
 * wrote is logged; errors name the object.
 */
int llmo_selfpod_publish(struct llmo_kube_client *c, const struct llmo_selfpod *sp,
			 const char *node, const char *host_ip, struct llmo_error *err);

#endif
