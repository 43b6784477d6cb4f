/*
 * Node lifecycle, the part of kube-controller-manager's node controller
 * that one-machine mode needs: a Node whose agent stopped renewing its
 * Lease (kube-node-lease/NODE) for LLMO_CONTROLLER_NODE_GRACE_MS gets its
 * Ready condition set to Unknown (reason NodeStatusUnknown), so the
 * scheduler stops placing pods on it. A Node without a Lease is judged by
 * its Ready condition's lastHeartbeatTime. The agent sets Ready=True again
 * at its next heartbeat.
 */
#include "base/common.h"

#include <event2/event.h>

#include "base/clock.h"
#include "base/log.h"
#include "controller/controller_int.h"

#include "base/banned.h"

static int64_t parse_time(const char *s)
{
	int64_t ms = 0;

	if (!s || llmo_time_parse_rfc3339(s, &ms, NULL))
		return 0;
	return ms;
}

/* When the node's agent was last heard of (Unix ms), 0 when never. */
static int64_t last_heard(struct llmo_controller *c, const json_t *node, const json_t *ready)
{
	const char *name = llmo_kube_str(node, "metadata", "name");
	json_t *lease = NULL;
	int64_t t = parse_time(json_string_value(json_object_get(ready, "lastHeartbeatTime")));

	if (llmo_kube_get(c->client, &llmo_kube_leases, "kube-node-lease", name, &lease, NULL) == 0) {
		int64_t r = parse_time(llmo_kube_str(lease, "spec", "renewTime"));

		if (r > t)
			t = r;
	}
	json_decref(lease);
	return t;
}

static void mark_unknown(struct llmo_controller *c, const json_t *node, int64_t silent_ms)
{
	const char *name = llmo_kube_str(node, "metadata", "name");
	json_t *conds = json_object_get(json_object_get(node, "status"), "conditions");
	json_t *fresh = json_array(), *cond, *patch;
	struct llmo_error err = {0};
	char ts[64];
	size_t i;

	if (!fresh || llmo_time_format_rfc3339(llmo_clock_wall_ms(), false, ts, sizeof(ts))) {
		json_decref(fresh);
		return;
	}
	json_array_foreach(conds, i, cond) {
		const char *type = json_string_value(json_object_get(cond, "type"));
		json_t *copy = json_deep_copy(cond);

		if (!copy)
			continue;
		if (type && strcmp(type, "Ready") == 0) {
			json_object_set_new(copy, "status", json_string("Unknown"));
			json_object_set_new(copy, "reason", json_string("NodeStatusUnknown"));
			json_object_set_new(copy, "message",
					    json_string("Kubelet stopped posting node status."));
			json_object_set_new(copy, "lastTransitionTime", json_string(ts));
		}
		json_array_append_new(fresh, copy);
	}
	patch = json_pack("{s:{s:o}}", "status", "conditions", fresh);
	if (patch && llmo_kube_patch(c->client, &llmo_kube_nodes, NULL, name, "status",
				     LLMO_KUBE_PATCH_MERGE, patch, NULL, &err) == 0) {
		json_t *ref = llmo__obj_ref(node, "v1", "Node");

		llmo_log(LLMO_LOG_WARN, LLMO__CTRL_LOG, "node not responding", "node=%s silent_ms=%" PRId64,
			 name, silent_ms);
		if (ref)
			llmo_kube_event(c->rec, ref, "Normal", "NodeNotReady",
					"Node %s status is now: NodeNotReady (no heartbeat for %" PRId64 " s)",
					name, silent_ms / 1000);
		json_decref(ref);
	} else if (patch) {
		llmo_log(LLMO_LOG_WARN, LLMO__CTRL_LOG, "node status write failed",
			 "node=%s error=\"%s\"", name, err.msg);
	}
	json_decref(patch);
}

void llmo__nodes_check(evutil_socket_t fd, short what, void *arg)
{
	struct llmo_controller *c = arg;
	json_t *list = NULL, *node;
	int64_t now = llmo_clock_wall_ms();
	size_t i;

	if (!c->leading)
		return;
	if (llmo_kube_list(c->client, &llmo_kube_nodes, NULL, NULL, &list, NULL))
		return;
	json_array_foreach(json_object_get(list, "items"), i, node) {
		json_t *ready = llmo_kube_condition(node, "Ready");
		int64_t heard;

		if (!llmo_kube_condition_true(node, "Ready"))
			continue;
		heard = last_heard(c, node, ready);
		if (heard > 0 && now - heard > c->node_grace_ms)
			mark_unknown(c, node, now - heard);
	}
	json_decref(list);
}
