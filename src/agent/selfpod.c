/*
 * llmo server's own pod and Deployment; see selfpod.h.
 */
#include "base/common.h"

#include "agent/selfpod.h"
#include "base/clock.h"
#include "base/json.h"
#include "base/log.h"
#include "base/str.h"
#include "kube/object.h"

#include "base/banned.h"

#define LOG "agent"

static const struct llmo_kube_resource deployments = {"apps", "v1", "deployments", true};

int llmo_selfpod_name(const struct llmo_selfpod *sp, const char *node, char *out, size_t n)
{
	int k = snprintf(out, n, "%s-%s", sp->name, node);

	return k < 0 || (size_t)k >= n || k > 253 ? LLMO_EINVAL : 0;
}

static json_t *labels(const struct llmo_selfpod *sp, bool selector)
{
	json_t *l = json_pack("{s:s, s:s}", "app.kubernetes.io/name", "llmo",
			      "app.kubernetes.io/component", sp->component);

	if (l && !selector)
		json_object_set_new(l, "app.kubernetes.io/part-of", json_string("llmo"));
	return l;
}

static json_t *container(const struct llmo_selfpod *sp)
{
	json_t *cmd = json_array();

	for (size_t i = 0; cmd && sp->argv && sp->argv[i]; i++)
		json_array_append_new(cmd, json_string(sp->argv[i]));
	return json_pack("{s:s, s:s, s:o?}", "name", sp->container, "image", sp->image, "command",
			 cmd);
}

/* The hash of what makes the pod: its spec and its owner (the Node's uid). */
static void spec_hash(const json_t *spec, const char *node_uid, char out[17])
{
	char *text = json_dumps(spec, JSON_COMPACT | JSON_SORT_KEYS);
	struct llmo_buf b;

	llmo_buf_init(&b, 1024);
	llmo_buf_appendf(&b, "%s/%s", text ? text : "", node_uid ? node_uid : "");
	snprintf(out, 17, "%016" PRIx64, llmo_fnv1a(b.data ? b.data : ""));
	llmo_buf_release(&b);
	free(text);
}

static json_t *pod_spec(const struct llmo_selfpod *sp, const char *node)
{
	return json_pack("{s:s, s:[o], s:s, s:b}", "nodeName", node, "containers", container(sp),
			 "restartPolicy", "Always", "hostNetwork", true);
}

json_t *llmo_selfpod_object(const struct llmo_selfpod *sp, const char *node,
			    const char *node_uid)
{
	char name[256], hash[17];
	json_t *spec = pod_spec(sp, node), *pod, *owner;

	if (!spec || llmo_selfpod_name(sp, node, name, sizeof(name))) {
		json_decref(spec);
		return NULL;
	}
	spec_hash(spec, node_uid, hash);
	owner = node_uid ? json_pack("[{s:s, s:s, s:s, s:s, s:b}]", "apiVersion", "v1", "kind",
				     "Node", "name", node, "uid", node_uid, "controller", true)
			 : json_array();
	pod = json_pack("{s:s, s:s, s:{s:s, s:s, s:o, s:{s:s, s:s, s:s, s:s}, s:o}, s:o}",
			"apiVersion", "v1", "kind", "Pod", "metadata", "name", name, "namespace",
			sp->ns, "labels", labels(sp, false), "annotations",
			LLMO_SELFPOD_MIRROR_ANNOTATION, hash, "kubernetes.io/config.source",
			LLMO_SELFPOD_MANAGER, LLMO_SELFPOD_MANAGED_ANNOTATION, LLMO_SELFPOD_MANAGER,
			"kubectl.kubernetes.io/default-container", sp->container, "ownerReferences",
			owner, "spec", spec);
	return pod;
}

static const json_t *mirror_hash(const json_t *pod)
{
	return json_object_get(json_object_get(json_object_get(pod, "metadata"), "annotations"),
			       LLMO_SELFPOD_MIRROR_ANNOTATION);
}

bool llmo_selfpod_current(const struct llmo_selfpod *sp, const json_t *pod, const char *node,
			  const char *node_uid)
{
	json_t *want = llmo_selfpod_object(sp, node, node_uid);
	bool same = want && llmo_json_equal_value(mirror_hash(pod), mirror_hash(want));

	json_decref(want);
	return same;
}

static void container_id(const struct llmo_selfpod *sp, char *out, size_t n)
{
	snprintf(out, n, "llmo://%ld-%" PRId64, sp->pid, sp->started_ms);
}

int64_t llmo_selfpod_restarts(const struct llmo_selfpod *sp, const json_t *old)
{
	const json_t *cs = json_array_get(json_object_get(json_object_get(old, "status"),
							  "containerStatuses"),
					  0);
	const char *id = json_string_value(json_object_get(cs, "containerID"));
	json_int_t n = json_integer_value(json_object_get(cs, "restartCount"));
	char mine[96];

	if (!cs)
		return 0;
	container_id(sp, mine, sizeof(mine));
	if (n < 0)
		n = 0;
	return id && strcmp(id, mine) == 0 ? n : n + 1;
}

json_t *llmo_selfpod_status(const struct llmo_selfpod *sp, const char *host_ip, int64_t restarts)
{
	char started[LLMO_RFC3339_MAX], id[96];
	static const char *const types[] = {"PodReadyToStartContainers", "Initialized", "Ready",
					    "ContainersReady", "PodScheduled"};
	json_t *conds = json_array(), *st;

	if (llmo_time_format_rfc3339(sp->started_ms, false, started, sizeof(started)))
		started[0] = '\0';
	container_id(sp, id, sizeof(id));
	for (size_t i = 0; conds && i < LLMO_ARRAY_LEN(types); i++)
		json_array_append_new(conds, json_pack("{s:s, s:s, s:s}", "type", types[i],
						       "status", "True", "lastTransitionTime",
						       started));
	st = json_pack("{s:s, s:s, s:s, s:[{s:s}], s:s, s:s, s:o, s:[{s:s, s:s, s:s, s:s, s:b, "
		       "s:b, s:I, s:{s:{s:s}}}]}",
		       "phase", "Running", "hostIP", host_ip, "podIP", host_ip, "podIPs", "ip",
		       host_ip, "startTime", started, "qosClass", "BestEffort", "conditions", conds,
		       "containerStatuses", "name", sp->container, "image", sp->image, "imageID", "",
		       "containerID", id, "ready", true, "started", true, "restartCount",
		       (json_int_t)restarts, "state", "running", "startedAt", started);
	return st;
}

json_t *llmo_selfpod_deployment(const struct llmo_selfpod *sp)
{
	return json_pack("{s:s, s:s, s:{s:s, s:s, s:o, s:{s:s}}, s:{s:i, s:{s:o}, s:{s:{s:o}, "
			 "s:{s:[o]}}}}",
			 "apiVersion", "apps/v1", "kind", "Deployment", "metadata", "name",
			 sp->deployment, "namespace", sp->ns, "labels", labels(sp, false),
			 "annotations", LLMO_SELFPOD_MANAGED_ANNOTATION, LLMO_SELFPOD_MANAGER,
			 "spec", "replicas", 1, "selector", "matchLabels", labels(sp, true),
			 "template", "metadata", "labels", labels(sp, false), "spec", "containers",
			 container(sp));
}

json_t *llmo_selfpod_deployment_status(bool ready)
{
	char now[LLMO_RFC3339_MAX];

	if (llmo_time_format_rfc3339(llmo_clock_wall_ms(), false, now, sizeof(now)))
		now[0] = '\0';
	return json_pack("{s:i, s:i, s:i, s:i, s:i, s:[{s:s, s:s, s:s, s:s, s:s, s:s}]}",
			 "observedGeneration", 1, "replicas", 1, "updatedReplicas", 1,
			 "readyReplicas", ready ? 1 : 0, "availableReplicas", ready ? 1 : 0,
			 "conditions", "type", "Available", "status", ready ? "True" : "False",
			 "reason", ready ? "MinimumReplicasAvailable" : "MinimumReplicasUnavailable",
			 "message",
			 ready ? "llmo server runs these components itself"
			       : "llmo server's pod is not there",
			 "lastUpdateTime", now, "lastTransitionTime", now);
}

static int publish_pod(struct llmo_kube_client *c, const struct llmo_selfpod *sp,
		       const char *node, const char *host_ip, struct llmo_error *err)
{
	json_t *nodeobj = NULL, *old = NULL, *want = NULL, *st = NULL, *patch = NULL;
	const char *node_uid, *uid;
	int64_t restarts;
	char name[256];
	int rc;

	if (llmo_selfpod_name(sp, node, name, sizeof(name)))
		return llmo_error_set(err, LLMO_EINVAL, "pod name %s-%s is too long", sp->name, node);
	rc = llmo_kube_get(c, &llmo_kube_nodes, NULL, node, &nodeobj, err);
	if (rc) {
		llmo_error_prefix(err, "reading node %s: ", node);
		return rc;
	}
	node_uid = llmo_kube_str(nodeobj, "metadata", "uid");
	rc = llmo_kube_get(c, &llmo_kube_pods, sp->ns, name, &old, err);
	if (rc && rc != LLMO_ENOTFOUND) {
		llmo_error_prefix(err, "reading pod %s/%s: ", sp->ns, name);
		goto out;
	}
	rc = 0;
	uid = llmo_kube_str(old, "metadata", "uid");
	if (old && (llmo_kube_str(old, "metadata", "deletionTimestamp") ||
		    !llmo_selfpod_current(sp, old, node, node_uid))) {
		/* being deleted, or made by another command line: made again */
		rc = llmo_kube_delete_now(c, &llmo_kube_pods, sp->ns, name, uid, err);
		if (rc && rc != LLMO_ENOTFOUND && rc != LLMO_ECONFLICT) {
			llmo_error_prefix(err, "replacing pod %s/%s: ", sp->ns, name);
			goto out;
		}
		rc = 0;
		LLMO_INFO(LOG, "replaced the server's pod", "pod=%s/%s", sp->ns, name);
		json_decref(old);
		old = NULL;
	}
	restarts = llmo_selfpod_restarts(sp, old);
	if (!old) {
		want = llmo_selfpod_object(sp, node, node_uid);
		rc = want ? llmo_kube_create(c, &llmo_kube_pods, sp->ns, want, &old, err)
			  : llmo_error_set(err, LLMO_ENOMEM, "out of memory");
		if (rc) {
			llmo_error_prefix(err, "creating pod %s/%s: ", sp->ns, name);
			goto out;
		}
	}
	st = llmo_selfpod_status(sp, host_ip, restarts);
	uid = llmo_kube_str(old, "metadata", "uid");
	patch = st && uid ? json_pack("{s:{s:s}, s:O}", "metadata", "uid", uid, "status", st)
			  : NULL;
	rc = patch ? llmo_kube_patch(c, &llmo_kube_pods, sp->ns, name, "status",
				     LLMO_KUBE_PATCH_MERGE, patch, NULL, err)
		   : llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	if (rc)
		llmo_error_prefix(err, "writing the status of pod %s/%s: ", sp->ns, name);
	else
		LLMO_INFO(LOG, "published the server's pod", "pod=%s/%s restarts=%" PRId64, sp->ns,
			  name, restarts);
out:
	json_decref(patch);
	json_decref(st);
	json_decref(want);
	json_decref(old);
	json_decref(nodeobj);
	return rc;
}

static int publish_deployment(struct llmo_kube_client *c, const struct llmo_selfpod *sp,
			      struct llmo_error *err)
{
	json_t *old = NULL, *want = NULL, *st = NULL, *patch = NULL;
	const char *by;
	int rc = llmo_kube_get(c, &deployments, sp->ns, sp->deployment, &old, err);

	if (rc && rc != LLMO_ENOTFOUND) {
		llmo_error_prefix(err, "reading deployment %s/%s: ", sp->ns, sp->deployment);
		return rc;
	}
	rc = 0;
	by = json_string_value(json_object_get(
		json_object_get(json_object_get(old, "metadata"), "annotations"),
		LLMO_SELFPOD_MANAGED_ANNOTATION));
	if (old && (!by || strcmp(by, LLMO_SELFPOD_MANAGER) != 0)) {
		LLMO_INFO(LOG, "a deployment of that name is not llmo server's: left as it is",
			  "deployment=%s/%s", sp->ns, sp->deployment);
		goto out;
	}
	want = llmo_selfpod_deployment(sp);
	if (!want) {
		rc = llmo_error_set(err, LLMO_ENOMEM, "out of memory");
		goto out;
	}
	if (!old) {
		rc = llmo_kube_create(c, &deployments, sp->ns, want, NULL, err);
	} else if (!llmo_json_equal_value(json_object_get(old, "spec"),
					  json_object_get(want, "spec"))) {
		patch = json_pack("{s:O}", "spec", json_object_get(want, "spec"));
		rc = patch ? llmo_kube_patch(c, &deployments, sp->ns, sp->deployment, NULL,
					     LLMO_KUBE_PATCH_MERGE, patch, NULL, err)
			   : llmo_error_set(err, LLMO_ENOMEM, "out of memory");
		json_decref(patch);
		patch = NULL;
	}
	if (rc) {
		llmo_error_prefix(err, "writing deployment %s/%s: ", sp->ns, sp->deployment);
		goto out;
	}
	st = llmo_selfpod_deployment_status(true);
	patch = st ? json_pack("{s:O}", "status", st) : NULL;
	rc = patch ? llmo_kube_patch(c, &deployments, sp->ns, sp->deployment, "status",
				     LLMO_KUBE_PATCH_MERGE, patch, NULL, err)
		   : llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	if (rc)
		llmo_error_prefix(err, "writing the status of deployment %s/%s: ", sp->ns,
				  sp->deployment);
out:
	json_decref(patch);
	json_decref(st);
	json_decref(want);
	json_decref(old);
	return rc;
}

int llmo_selfpod_publish(struct llmo_kube_client *c, const struct llmo_selfpod *sp,
			 const char *node, const char *host_ip, struct llmo_error *err)
{
	int rc = publish_pod(c, sp, node, host_ip, err);

	if (!rc && sp->deployment)
		rc = publish_deployment(c, sp, err);
	return rc;
}
