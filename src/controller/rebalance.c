/*
 * The rebalancer: rebalance.h says what it decides, docs/controller.md
 * ("Rebalancing") says the same for users.
 */
#include "base/common.h"

#include <event2/event.h>

#include "api/usage.h"
#include "base/clock.h"
#include "base/hmap.h"
#include "base/log.h"
#include "controller/controller_int.h"
#include "controller/rebalance.h"
#include "controller/vertical.h"

#include "base/banned.h"

/*
 * Nodes and pods one tick reads; past these the rest are left out (logged):
 * a list that large is a cluster where one move in an interval does not
 * matter, and the arrays stay bounded.
 */
#define REBALANCE_NODES_MAX 5000
#define REBALANCE_PODS_MAX 150000
/* Longest reason put in the migrate annotation. */
#define REBALANCE_REASON_MAX 256

/* used / alloc, or -1 when the resource has no allocatable. */
static double frac(int64_t used, int64_t alloc)
{
	return alloc > 0 ? (double)used / (double)alloc : -1;
}

/* A node's use: the larger fraction of cpu and memory (0 when neither counts). */
static double use_of(const struct llmo__rb_node *n, int64_t cpu, int64_t mem)
{
	double c = frac(cpu, n->alloc[LLMO__RB_CPU]), m = frac(mem, n->alloc[LLMO__RB_MEMORY]);
	double u = c > m ? c : m;

	return u > 0 ? u : 0;
}

/* Whether the pod may go to node t (index ti) from its node, and t's use after. */
static bool target_ok(const struct llmo__rb_node *nodes, size_t ti, const struct llmo__rb_pod *pod,
		      const struct llmo__rb_params *p, double from_after, double *to_after)
{
	const struct llmo__rb_node *t = &nodes[ti];
	int64_t cpu = t->used_cpu + pod->used_cpu, mem = t->used_memory + pod->used_memory;

	if (ti == pod->node || !t->ready || !t->has_usage)
		return false;
	for (int r = 0; r < LLMO__RB_N; r++)
		if (pod->req[r] > 0 && t->alloc[r] - t->requested[r] < pod->req[r])
			return false;
	if (frac(cpu, t->alloc[LLMO__RB_CPU]) >= p->target ||
	    frac(mem, t->alloc[LLMO__RB_MEMORY]) >= p->target)
		return false;
	*to_after = use_of(t, cpu, mem);
	return *to_after < from_after;
}

/* Whether candidate (pod a to node ta) is a better move than the best so far. */
static bool better(const struct llmo__rb_pod *pods, const struct llmo__rb_node *nodes,
		   const struct llmo__rb_pick *a, const struct llmo__rb_pick *best)
{
	int c;

	if (a->from_after != best->from_after)
		return a->from_after < best->from_after;
	if (a->to_after != best->to_after)
		return a->to_after < best->to_after;
	c = strcmp(pods[a->pod].name, pods[best->pod].name);
	if (c)
		return c < 0;
	return strcmp(nodes[a->to].name, nodes[best->to].name) < 0;
}

/* The best move off hot node h, if any. */
static bool pick_on(const struct llmo__rb_node *nodes, size_t nnodes, size_t h,
		    const struct llmo__rb_pod *pods, size_t npods, const struct llmo__rb_params *p,
		    struct llmo__rb_pick *out)
{
	const struct llmo__rb_node *hot = &nodes[h];
	double before = use_of(hot, hot->used_cpu, hot->used_memory);
	bool found = false;

	for (size_t i = 0; i < npods; i++) {
		const struct llmo__rb_pod *pod = &pods[i];
		struct llmo__rb_pick cand = {.pod = i, .from_before = before};

		if (pod->node != h || !pod->movable || pod->recent || !pod->has_usage)
			continue;
		cand.from_after = use_of(hot, hot->used_cpu - pod->used_cpu,
					 hot->used_memory - pod->used_memory);
		for (size_t t = 0; t < nnodes; t++) {
			cand.to = t;
			if (!target_ok(nodes, t, pod, p, cand.from_after, &cand.to_after))
				continue;
			if (!found || better(pods, nodes, &cand, out)) {
				*out = cand;
				found = true;
			}
		}
	}
	return found;
}

bool llmo__rebalance_pick(const struct llmo__rb_node *nodes, size_t nnodes,
			  const struct llmo__rb_pod *pods, size_t npods,
			  const struct llmo__rb_params *p, struct llmo__rb_pick *out)
{
	bool *tried = calloc(nnodes ? nnodes : 1, sizeof(*tried));
	bool found = false;

	if (!tried)
		return false;
	/* hot nodes, the most used first: the first with a move gives it */
	while (!found) {
		size_t h = nnodes;
		double hu = 0;

		for (size_t i = 0; i < nnodes; i++) {
			const struct llmo__rb_node *n = &nodes[i];
			double u = use_of(n, n->used_cpu, n->used_memory);

			if (tried[i] || !n->ready || !n->has_usage || u <= p->hot)
				continue;
			if (h == nnodes || u > hu || (u == hu && strcmp(n->name, nodes[h].name) < 0)) {
				h = i;
				hu = u;
			}
		}
		if (h == nnodes)
			break;
		tried[h] = true;
		found = pick_on(nodes, nnodes, h, pods, npods, p, out);
	}
	free(tried);
	return found;
}

/* ---- the tick: input from the API, the request as an annotation ---- */

/* The usage annotation of obj when fresh (not older than LLMO__USAGE_STALE_MS). */
static bool fresh_usage(const json_t *obj, int64_t now, struct llmo_usage *u)
{
	const char *text = json_string_value(json_object_get(
		json_object_get(json_object_get(obj, "metadata"), "annotations"), LLMO_ANNOTATION_USAGE));

	return text && strlen(text) <= LLMO_USAGE_TEXT_MAX && llmo_usage_parse(text, u, NULL) == 0 &&
	       now - u->at_ms <= LLMO__USAGE_STALE_MS;
}

static bool has_annotation(const json_t *pod, const char *key)
{
	return json_object_get(json_object_get(json_object_get(pod, "metadata"), "annotations"),
			       key) != NULL;
}

/* The LLMWorkload that controls pod, as "ns/name" into out; false for other pods. */
static bool workload_of(const json_t *pod, char *out, size_t n)
{
	const json_t *owners = json_object_get(json_object_get(pod, "metadata"), "ownerReferences");
	const json_t *o;
	size_t i;

	json_array_foreach(owners, i, o) {
		const char *kind = json_string_value(json_object_get(o, "kind"));
		const char *name = json_string_value(json_object_get(o, "name"));

		if (kind && name && strcmp(kind, "LLMWorkload") == 0 &&
		    json_is_true(json_object_get(o, "controller"))) {
			snprintf(out, n, "%s/%s", llmo_kube_str(pod, "metadata", "namespace"), name);
			return true;
		}
	}
	return false;
}

struct rb_input {
	struct llmo__rb_node *nodes;
	struct llmo__rb_pod *pods;
	char (*keys)[LLMO__CTRL_KEY_MAX];
	const json_t **pod_objs;
	size_t nnodes, npods;
	struct llmo_hmap by_name; /* node name -> index + 1 */
};

static void input_release(struct rb_input *in)
{
	free(in->nodes);
	free(in->pods);
	free(in->keys);
	free(in->pod_objs);
	llmo_hmap_release(&in->by_name, NULL);
}

static int read_nodes(struct rb_input *in, const json_t *items, int64_t now)
{
	size_t n = json_array_size(items);

	if (n > REBALANCE_NODES_MAX) {
		llmo_log(LLMO_LOG_WARN, LLMO__CTRL_LOG, "rebalance: nodes cut", "nodes=%zu read=%d",
			 n, REBALANCE_NODES_MAX);
		n = REBALANCE_NODES_MAX;
	}
	in->nodes = calloc(n ? n : 1, sizeof(*in->nodes));
	if (!in->nodes)
		return LLMO_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const json_t *node = json_array_get(items, i);
		const json_t *alloc = json_object_get(json_object_get(node, "status"), "allocatable");
		struct llmo__rb_node *rn = &in->nodes[in->nnodes];
		struct llmo_usage u;

		rn->name = llmo_kube_str(node, "metadata", "name");
		if (!rn->name)
			continue;
		rn->ready = llmo_kube_condition_true(node, "Ready");
		rn->alloc[LLMO__RB_CPU] = llmo__quantity_of(alloc, "cpu");
		rn->alloc[LLMO__RB_MEMORY] = llmo__quantity_of(alloc, "memory") / 1000;
		rn->alloc[LLMO__RB_GPU] = llmo__quantity_of(alloc, "nvidia.com/gpu");
		if ((rn->has_usage = fresh_usage(node, now, &u))) {
			rn->used_cpu = u.cpu_milli;
			rn->used_memory = u.memory;
		}
		if (llmo_hmap_put(&in->by_name, rn->name, (void *)(uintptr_t)(in->nnodes + 1), NULL))
			return LLMO_ENOMEM;
		in->nnodes++;
	}
	return 0;
}

static int read_pods(struct llmo_controller *c, struct rb_input *in, const json_t *items,
		     int64_t now)
{
	size_t n = json_array_size(items), i;
	int64_t mono = llmo_clock_mono_ms();
	int64_t interval = c->config->resource_manager.optimization_interval / 1000000; /* ms */
	const json_t *pod;

	if (n > REBALANCE_PODS_MAX) {
		llmo_log(LLMO_LOG_WARN, LLMO__CTRL_LOG, "rebalance: pods cut", "pods=%zu read=%d", n,
			 REBALANCE_PODS_MAX);
		n = REBALANCE_PODS_MAX;
	}
	in->pods = calloc(n ? n : 1, sizeof(*in->pods));
	in->keys = calloc(n ? n : 1, sizeof(*in->keys));
	in->pod_objs = calloc(n ? n : 1, sizeof(*in->pod_objs));
	if (!in->pods || !in->keys || !in->pod_objs)
		return LLMO_ENOMEM;
	json_array_foreach(items, i, pod) {
		const char *node = llmo_kube_str(pod, "spec", "nodeName");
		const char *phase = llmo_kube_str(pod, "status", "phase");
		uintptr_t ni = node ? (uintptr_t)llmo_hmap_get(&in->by_name, node) : 0;
		struct llmo__rb_pod *rp = &in->pods[in->npods];
		const int64_t *last;
		struct llmo_usage u;

		if (i >= n)
			break;
		if (!ni || (phase && (strcmp(phase, "Succeeded") == 0 || strcmp(phase, "Failed") == 0)))
			continue;
		llmo__pod_requests(pod, rp->req);
		rp->req[LLMO__RB_MEMORY] /= 1000; /* milli-bytes */
		for (int r = 0; r < LLMO__RB_N; r++)
			in->nodes[ni - 1].requested[r] += rp->req[r];
		if (!workload_of(pod, in->keys[in->npods], sizeof(in->keys[0])))
			continue;
		rp->name = llmo_kube_str(pod, "metadata", "name");
		rp->workload = in->keys[in->npods];
		rp->node = ni - 1;
		rp->movable = rp->name && llmo_kube_condition_true(pod, "Ready") &&
			      !json_object_get(json_object_get(pod, "metadata"), "deletionTimestamp") &&
			      !has_annotation(pod, LLMO_ANNOTATION_DRAINING) &&
			      !has_annotation(pod, LLMO_ANNOTATION_MIGRATE) &&
			      !has_annotation(pod, LLMO_ANNOTATION_MIGRATION_OF);
		last = llmo_hmap_get(&c->rebalanced, rp->workload);
		rp->recent = last && mono - *last < interval;
		if ((rp->has_usage = fresh_usage(pod, now, &u))) {
			rp->used_cpu = u.cpu_milli;
			rp->used_memory = u.memory;
		}
		in->pod_objs[in->npods++] = pod;
	}
	return 0;
}

/* Asks for the move: the migrate annotation with the reason; remembers the workload. */
static void request_move(struct llmo_controller *c, const struct rb_input *in,
			 const struct llmo__rb_pick *pk)
{
	const struct llmo__rb_pod *pod = &in->pods[pk->pod];
	const json_t *obj = in->pod_objs[pk->pod];
	const struct llmo_resource_manager_config *rm = &c->config->resource_manager;
	struct llmo_error err = {0};
	char reason[REBALANCE_REASON_MAX];
	int64_t *when = NULL;
	json_t *patch;
	int rc;

	snprintf(reason, sizeof(reason),
		 "rebalance: node %s at %.0f%% (above %.0f%%), %.0f%% without it; %s would be at "
		 "%.0f%%",
		 in->nodes[pod->node].name, pk->from_before * 100, rm->scale_up_threshold * 100,
		 pk->from_after * 100, in->nodes[pk->to].name, pk->to_after * 100);
	patch = json_pack("{s:{s:{s:s, s:s}}}", "metadata", "annotations", LLMO_ANNOTATION_MIGRATE,
			  reason, LLMO_ANNOTATION_MIGRATE_TO, in->nodes[pk->to].name);
	rc = patch ? llmo_kube_patch(c->client, &llmo_kube_pods,
				     llmo_kube_str(obj, "metadata", "namespace"), pod->name, NULL,
				     LLMO_KUBE_PATCH_MERGE, patch, NULL, &err)
		   : LLMO_ENOMEM;
	json_decref(patch);
	if (rc) {
		llmo_log(LLMO_LOG_WARN, LLMO__CTRL_LOG, "rebalance: annotate failed",
			 "pod=%s error=\"%s\"", pod->name, err.msg);
		return;
	}
	llmo_log(LLMO_LOG_INFO, LLMO__CTRL_LOG, "rebalance: migration asked",
		 "workload=%s pod=%s reason=\"%s\"", pod->workload, pod->name, reason);
	when = llmo_hmap_get(&c->rebalanced, pod->workload);
	if (!when) {
		when = malloc(sizeof(*when));
		if (!when || llmo_hmap_put(&c->rebalanced, pod->workload, when, NULL)) {
			free(when);
			return;
		}
	}
	*when = llmo_clock_mono_ms();
}

void llmo__rebalance_tick(evutil_socket_t fd, short what, void *arg)
{
	struct llmo_controller *c = arg;
	const struct llmo_resource_manager_config *rm = &c->config->resource_manager;
	struct llmo__rb_params p = {.hot = rm->scale_up_threshold,
				    .target = rm->resource_utilization_target};
	struct rb_input in = {.by_name = LLMO_HMAP_INIT};
	struct llmo__rb_pick pk;
	json_t *nodes = NULL, *pods = NULL;
	struct llmo_error err = {0};
	int64_t now = llmo_clock_wall_ms();

	(void)fd;
	(void)what;
	if (!c->leading)
		return;
	if (llmo_kube_list(c->client, &llmo_kube_nodes, NULL, NULL, &nodes, &err) ||
	    llmo_kube_list(c->client, &llmo_kube_pods, NULL, NULL, &pods, &err)) {
		llmo_log(LLMO_LOG_WARN, LLMO__CTRL_LOG, "rebalance: list failed", "error=\"%s\"",
			 err.msg);
		goto out;
	}
	if (read_nodes(&in, json_object_get(nodes, "items"), now) ||
	    read_pods(c, &in, json_object_get(pods, "items"), now))
		goto out;
	if (llmo__rebalance_pick(in.nodes, in.nnodes, in.pods, in.npods, &p, &pk))
		request_move(c, &in, &pk);
out:
	input_release(&in);
	json_decref(nodes);
	json_decref(pods);
}

void llmo__rebalance_release(struct llmo_controller *c)
{
	llmo_hmap_release(&c->rebalanced, free);
}
