/*
 * The live scheduler's plugins against an in-process `llmo server`
 * (src/scheduler/binder.h): QoS priority and preemption, taints and node
 * selection with their failure message, and the score plugins (model
 * affinity, PreferNoSchedule).
 *
 * Preemption and priority:
 *
 *   - a premium pod that fits nowhere evicts the smallest set of basic pods
 *     on one node (one 2-GPU pod rather than two 1-GPU pods), gracefully
 *     through pods/eviction (the victim stays, being deleted, until its
 *     node's agent stops it), with a Preempted Event naming the preemptor;
 *     it gets status.nominatedNodeName and is bound once the victim has
 *     gone, and a pending basic pod does not take the freed GPUs meanwhile;
 *   - pods of an LLMWorkload at its minReplicas are not taken;
 *   - a class with preemptionPolicy never does not preempt;
 *   - always also evicts a younger pod of equal priority, lower-priority
 *     does not;
 *   - the queue hands out the higher priority first; spec.priority counts
 *     with a priorityClassName, else the QoS class does.
 *
 * Filters: a tainted node and two nodes of another zone give
 * "0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: llm},
 * 2 node(s) didn't match Pod's node affinity/selector."; a pod that
 * tolerates the taint and selects the zone is bound there.
 *
 * Scores: of three empty one-GPU nodes, gpu-a has a PreferNoSchedule taint
 * (-100) and gpu-c caches llama2 7b (13 GB at 130 MB/s: 100 s saved, +100 *
 * 100 / 600 = +16.7): a pod without a model goes to gpu-b (0, ahead of
 * gpu-c's 0 by name), then a llama2 7b pod that tolerates the taint to
 * gpu-c (+16.7 against gpu-a's 0, which name order would have chosen).
 *
 * Performance: the LLMModel llama2 7b measured 1000 tokens/s on A100 and
 * 2500 (and 1800 at another concurrency) on H100: of an A100 node and an
 * H100 node, both empty, the A100 node scores 100 * 1000 / 2500 = 40 and
 * the H100 node 100, so a llama2 7b pod goes to the H100 node although the
 * A100 node is first by name.
 *
 * Gang: a pod group of four one-GPU pods waits for its fourth member,
 * binds none on 3 free GPUs (saying 3 of 4 fit) and all on 4; two groups
 * created interleaved on 4 GPUs do not deadlock (test_gang,
 * test_gang_compete). A premium group evicts the basic pods that make room
 * for all its members, never a pod of higher priority, nominates each
 * member and is bound once they are gone (test_gang_preempt); a group that
 * could only partly fit evicts nothing (test_gang_preempt_partial); its
 * members' evictions together keep a workload at its minReplicas
 * (test_gang_preempt_min_replicas).
 *
 * Preferred node affinity: terms' weights summed per node and normalised to
 * 0..100 steer a pod to the node it prefers most (test_preferred_affinity).
 *
 * Inter-pod affinity: required anti-affinity spreads pods over hosts and
 * says so when no node is left, required affinity follows a pod's zone, a
 * placed pod's anti-affinity keeps others out of its zone, a malformed term
 * is named (test_pod_affinity); preferred anti-affinity steers GPU and CPU
 * pods away from a pod (test_pod_affinity_preferred). Topology spread keeps
 * zones within maxSkew and says so (test_topology_spread).
 *
 * Topology: a 2-GPU pod avoids a node whose free GPUs span two NVLink
 * domains and takes two GPUs of one domain where the lowest-numbered would
 * span two (test_topology).
 *
 * GPU memory: 20Gi shares of an 80Gi GPU pack four to a GPU (250m each), a
 * share with more memory than its fraction takes the larger (500m and 60Gi:
 * 750m), and a 48Gi request skips 40Gi GPUs with its own reason
 * (test_gpu_memory_share, test_gpu_memory_filter); running pods hold their
 * shares (annotated, or worked out on their node) when a pod preempts
 * (test_gpu_memory_preempt).
 *
 * Pods already running are created bound (spec.nodeName and the GPU
 * annotation set), so where they are is given, not chosen.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/common.h"

#include "kube_fixture.h"
#include "scheduler/binder.h"

#define WAIT_MS 15000

static void put(struct kube_fixture *f, const struct llmo_kube_resource *r, json_t *obj)
{
	struct llmo_error err = {0};

	if (llmo_kube_create(f->client, r, r->namespaced ? "default" : NULL, obj, NULL, &err))
		fail_msg("create: %s", err.msg);
	json_decref(obj);
}

/* A Ready node with gpus GPUs, 16 CPUs and 64Gi. */
static void add_node(struct kube_fixture *f, const char *name, const char *gpus)
{
	struct llmo_error err = {0};
	json_t *st = json_pack("{s:{s:{s:s, s:s, s:s}, s:[{s:s, s:s}]}}", "status", "allocatable",
			       "cpu", "16", "memory", "64Gi", "nvidia.com/gpu", gpus, "conditions",
			       "type", "Ready", "status", "True");

	put(f, &llmo_kube_nodes,
	    json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind", "Node", "metadata", "name",
		      name));
	if (llmo_kube_patch(f->client, &llmo_kube_nodes, NULL, name, "status",
			    LLMO_KUBE_PATCH_MERGE, st, NULL, &err))
		fail_msg("node status: %s", err.msg);
	json_decref(st);
}

/*
 * A pod asking gpus GPUs of class qos (NULL: none), of workload wl (NULL:
 * none); with node, already bound there holding GPU ids gpu_ids.
 */
static json_t *pod(const char *name, const char *gpus, const char *qos, const char *wl,
		   const char *node, const char *gpu_ids)
{
	json_t *p = json_pack("{s:s, s:s, s:{s:s, s:{}, s:{}}, s:{s:s, s:[{s:s, s:s, "
			      "s:{s:{s:s, s:s, s:s}}}]}}",
			      "apiVersion", "v1", "kind", "Pod", "metadata", "name", name, "labels",
			      "annotations", "spec", "schedulerName", "llmo-scheduler", "containers",
			      "name", "main", "image", "vllm", "resources", "requests", "cpu", "1",
			      "memory", "1Gi", "nvidia.com/gpu", gpus);
	json_t *meta = json_object_get(p, "metadata");

	if (qos)
		json_object_set_new(json_object_get(meta, "labels"), LLMO_BINDER_QOS_LABEL,
				    json_string(qos));
	if (wl)
		json_object_set_new(json_object_get(meta, "labels"), LLMO_BINDER_WORKLOAD_LABEL,
				    json_string(wl));
	if (node) {
		json_object_set_new(json_object_get(p, "spec"), "nodeName", json_string(node));
		json_object_set_new(json_object_get(meta, "annotations"),
				    LLMO_BINDER_GPUS_ANNOTATION, json_string(gpu_ids));
	}
	return p;
}

static json_t *get_pod(struct kube_fixture *f, const char *name)
{
	json_t *obj = NULL;

	if (llmo_kube_get(f->client, &llmo_kube_pods, "default", name, &obj, NULL))
		return NULL;
	return obj;
}

static bool deleting(struct kube_fixture *f, const char *name)
{
	json_t *p = get_pod(f, name);
	bool d = p && json_object_get(json_object_get(p, "metadata"), "deletionTimestamp");

	json_decref(p);
	return d;
}

/* The pod's spec.nodeName, or status.nominatedNodeName with nominated, into out ("" if none). */
static const char *node_field(struct kube_fixture *f, const char *name, bool nominated)
{
	static char out[128];
	json_t *p = get_pod(f, name);
	const char *v = json_string_value(json_object_get(
		json_object_get(p, nominated ? "status" : "spec"),
		nominated ? "nominatedNodeName" : "nodeName"));

	snprintf(out, sizeof(out), "%s", v ? v : "");
	json_decref(p);
	return out;
}

static void force_delete(struct kube_fixture *f, const char *name)
{
	struct llmo_error err = {0};
	char path[256];

	snprintf(path, sizeof(path), "/api/v1/namespaces/default/pods/%s?gracePeriodSeconds=0",
		 name);
	if (llmo_kube_request(f->client, "DELETE", path, NULL, NULL, NULL, NULL, &err))
		fail_msg("delete %s: %s", name, err.msg);
}

struct wait {
	struct kube_fixture *f;
	const char *pod;
	const char *node; /* bound there; or */
	const char *nominated; /* nominated there; or */
	bool unschedulable; /* PodScheduled False */
	const char *event_reason; /* an Event of this reason about pod, with event_text */
	const char *event_text;
};

static bool has_event(struct kube_fixture *f, const char *pod, const char *reason,
		      const char *text)
{
	json_t *list = NULL, *e;
	bool found = false;
	size_t i;

	if (llmo_kube_list(f->client, &llmo_kube_events, "default", NULL, &list, NULL))
		return false;
	json_array_foreach(json_object_get(list, "items"), i, e) {
		const char *r = json_string_value(json_object_get(e, "reason"));
		const char *n = json_string_value(
			json_object_get(json_object_get(e, "involvedObject"), "name"));
		const char *m = json_string_value(json_object_get(e, "message"));

		if (r && !strcmp(r, reason) && n && !strcmp(n, pod) && m && strstr(m, text))
			found = true;
	}
	json_decref(list);
	return found;
}

static bool unschedulable(struct kube_fixture *f, const char *name)
{
	json_t *p = get_pod(f, name), *c;
	bool ok = false;
	size_t i;

	json_array_foreach(json_object_get(json_object_get(p, "status"), "conditions"), i, c) {
		const char *t = json_string_value(json_object_get(c, "type"));
		const char *s = json_string_value(json_object_get(c, "status"));

		ok = ok || (t && !strcmp(t, "PodScheduled") && s && !strcmp(s, "False"));
	}
	json_decref(p);
	return ok;
}

static bool waited(void *ctx)
{
	struct wait *w = ctx;

	if (w->node)
		return !strcmp(node_field(w->f, w->pod, false), w->node);
	if (w->nominated)
		return !strcmp(node_field(w->f, w->pod, true), w->nominated);
	if (w->event_reason)
		return has_event(w->f, w->pod, w->event_reason, w->event_text);
	return unschedulable(w->f, w->pod);
}

static struct llmo_binder *start_binder(struct kube_fixture *f)
{
	struct llmo_binder *b = NULL;
	struct llmo_error err = {0};

	assert_int_equal(llmo_binder_new(f->client, f->base, NULL, &b, &err), 0);
	assert_int_equal(llmo_binder_add_qos_class(b, "premium", 100, LLMO_PREEMPT_LOWER), 0);
	assert_int_equal(llmo_binder_add_qos_class(b, "basic", 10, LLMO_PREEMPT_NEVER), 0);
	assert_int_equal(llmo_binder_add_qos_class(b, "gold", 100, LLMO_PREEMPT_NEVER), 0);
	assert_int_equal(llmo_binder_add_qos_class(b, "plat", 100, LLMO_PREEMPT_ALWAYS), 0);
	assert_int_equal(llmo_binder_start(b, &err), 0);
	return b;
}

/*
 * gpu-a (4 GPUs): b1 (GPU 0), b2 (GPU 1), b3 (GPUs 2, 3); gpu-b (2 GPUs):
 * b4, b5 (one each); all basic. A premium pod asking 2 GPUs: b3 alone is
 * the smallest set (b1+b2 or b4+b5 are two victims).
 */
static void test_smallest_set(void **state)
{
	struct kube_fixture f;
	struct llmo_binder *b;
	struct wait w = {.f = &f};

	(void)state;
	assert_int_equal(fixture_start(&f), 0);
	add_node(&f, "gpu-a", "4");
	add_node(&f, "gpu-b", "2");
	put(&f, &llmo_kube_pods, pod("b1", "1", "basic", NULL, "gpu-a", "0"));
	put(&f, &llmo_kube_pods, pod("b2", "1", "basic", NULL, "gpu-a", "1"));
	put(&f, &llmo_kube_pods, pod("b3", "2", "basic", NULL, "gpu-a", "2,3"));
	put(&f, &llmo_kube_pods, pod("b4", "1", "basic", NULL, "gpu-b", "0"));
	put(&f, &llmo_kube_pods, pod("b5", "1", "basic", NULL, "gpu-b", "1"));
	b = start_binder(&f);

	put(&f, &llmo_kube_pods, pod("p", "2", "premium", NULL, NULL, NULL));
	w.pod = "p";
	w.nominated = "gpu-a";
	assert_true(run_until(f.base, waited, &w, WAIT_MS));
	assert_true(deleting(&f, "b3"));
	assert_false(deleting(&f, "b1"));
	assert_false(deleting(&f, "b2"));
	assert_false(deleting(&f, "b4"));
	assert_false(deleting(&f, "b5"));
	assert_int_equal(llmo_binder_evicted_count(b), 1);
	assert_true(unschedulable(&f, "p"));
	/* still waiting for b3 to go: not bound, nothing more evicted */
	assert_string_equal(node_field(&f, "p", false), "");

	/* the events are written by the recorder's thread */
	w.nominated = NULL;
	w.pod = "b3";
	w.event_reason = "Preempted";
	w.event_text = "Preempted by default/p (priority 100) on node gpu-a";
	assert_true(run_until(f.base, waited, &w, WAIT_MS));
	w.pod = "p";
	w.event_reason = "Preempting";
	w.event_text = "Preempting 1 pod(s) of lower priority on node gpu-a: default/b3";
	assert_true(run_until(f.base, waited, &w, WAIT_MS));
	w.event_reason = NULL;

	/* a basic pod arriving now does not get the GPUs p is waiting for */
	put(&f, &llmo_kube_pods, pod("late", "2", "basic", NULL, NULL, NULL));
	w.pod = "late";
	assert_true(run_until(f.base, waited, &w, WAIT_MS));

	/* the agent stops b3: p is bound where it was nominated, late stays pending */
	force_delete(&f, "b3");
	w.pod = "p";
	w.node = "gpu-a";
	assert_true(run_until(f.base, waited, &w, WAIT_MS));
	assert_string_equal(node_field(&f, "late", false), "");
	assert_int_equal(llmo_binder_evicted_count(b), 1);

	llmo_binder_free(b);
	fixture_stop(&f);
}

/* The LLMWorkload wl (llama2 7b) with minReplicas 2. */
static void put_workload_wl(struct kube_fixture *f)
{
	put(f, &llmo_kube_llmworkloads,
	    json_pack("{s:s, s:s, s:{s:s}, s:{s:s, s:s, s:s, s:{s:s}, s:{s:i, s:i}}}",
		      "apiVersion", "llm.orchestrator.io/v1", "kind", "LLMWorkload", "metadata",
		      "name", "wl", "spec", "modelName", "llama2", "modelVersion", "7b",
		      "modelType", "text-generation", "resources", "cpu", "1", "scaling",
		      "minReplicas", 2, "maxReplicas", 5));
}

/*
 * gpu-a (4 GPUs): w1, w2 of workload wl (minReplicas 2, both running) and
 * x1, x2 of no workload, one GPU each, all basic. A premium pod asking 2
 * GPUs takes x1 and x2: wl may lose none.
 */
static void test_min_replicas(void **state)
{
	struct kube_fixture f;
	struct llmo_binder *b;
	struct wait w = {.f = &f};

	(void)state;
	assert_int_equal(fixture_start(&f), 0);
	add_node(&f, "gpu-a", "4");
	put_workload_wl(&f);
	put(&f, &llmo_kube_pods, pod("x1", "1", "basic", NULL, "gpu-a", "0"));
	put(&f, &llmo_kube_pods, pod("x2", "1", "basic", NULL, "gpu-a", "1"));
	put(&f, &llmo_kube_pods, pod("w1", "1", "basic", "wl", "gpu-a", "2"));
	put(&f, &llmo_kube_pods, pod("w2", "1", "basic", "wl", "gpu-a", "3"));
	b = start_binder(&f);

	put(&f, &llmo_kube_pods, pod("p", "2", "premium", NULL, NULL, NULL));
	w.pod = "p";
	w.nominated = "gpu-a";
	assert_true(run_until(f.base, waited, &w, WAIT_MS));
	assert_true(deleting(&f, "x1"));
	assert_true(deleting(&f, "x2"));
	assert_false(deleting(&f, "w1"));
	assert_false(deleting(&f, "w2"));
	assert_int_equal(llmo_binder_evicted_count(b), 2);

	/* a third GPU asked for: only wl's pods are left, and wl may lose none */
	put(&f, &llmo_kube_pods, pod("q", "3", "premium", NULL, NULL, NULL));
	w.pod = "q";
	w.nominated = NULL;
	assert_true(run_until(f.base, waited, &w, WAIT_MS));
	assert_int_equal(llmo_binder_evicted_count(b), 2);
	assert_false(deleting(&f, "w1"));
	assert_false(deleting(&f, "w2"));
	assert_string_equal(node_field(&f, "q", true), "");

	llmo_binder_free(b);
	fixture_stop(&f);
}

/* gold has priority 100 but preemptionPolicy never: it waits, nobody is evicted. */
static void test_policy_never(void **state)
{
	struct kube_fixture f;
	struct llmo_binder *b;
	struct wait w = {.f = &f};

	(void)state;
	assert_int_equal(fixture_start(&f), 0);
	add_node(&f, "gpu-a", "1");
	put(&f, &llmo_kube_pods, pod("b1", "1", "basic", NULL, "gpu-a", "0"));
	b = start_binder(&f);

	put(&f, &llmo_kube_pods, pod("g", "1", "gold", NULL, NULL, NULL));
	w.pod = "g";
	assert_true(run_until(f.base, waited, &w, WAIT_MS));
	/* the decision not to preempt was taken in the same pass that wrote the condition */
	assert_int_equal(llmo_binder_evicted_count(b), 0);
	assert_false(deleting(&f, "b1"));
	assert_string_equal(node_field(&f, "g", true), "");

	llmo_binder_free(b);
	fixture_stop(&f);
}

/* A pending pod asking one GPU, of class qos, with spec.priority and (non-NULL) priorityClassName. */
static json_t *prio_pod(const char *name, const char *qos, int priority, const char *pcn)
{
	json_t *p = pod(name, "1", qos, NULL, NULL, NULL);

	json_object_set_new(json_object_get(p, "spec"), "priority", json_integer(priority));
	if (pcn)
		json_object_set_new(json_object_get(p, "spec"), "priorityClassName",
				    json_string(pcn));
	return p;
}

struct bound_wait {
	struct llmo_binder *b;
	size_t n;
};

static bool bound_n(void *ctx)
{
	struct bound_wait *w = ctx;

	return llmo_binder_bound_count(w->b) >= w->n;
}

/*
 * Queue order and priorities. Four pods wait for nodes:
 *   a-basic     class basic                                     priority 10
 *   m-urgent    class basic, priorityClassName, spec.priority 1000   1000
 *   n-admitted  class premium, spec.priority 0 (as admission writes)  100
 *   z-premium   class premium                                        100
 * Nodes of one GPU come one at a time: m-urgent is placed first, then the
 * two premium pods; a-basic is left (it cannot preempt, and nobody evicts).
 */
static void test_queue_order(void **state)
{
	struct kube_fixture f;
	struct llmo_binder *b;
	struct wait w = {.f = &f};
	struct bound_wait bw;

	(void)state;
	assert_int_equal(fixture_start(&f), 0);
	b = start_binder(&f);
	bw.b = b;
	put(&f, &llmo_kube_pods, pod("a-basic", "1", "basic", NULL, NULL, NULL));
	put(&f, &llmo_kube_pods, prio_pod("m-urgent", "basic", 1000, "urgent"));
	put(&f, &llmo_kube_pods, prio_pod("n-admitted", "premium", 0, NULL));
	put(&f, &llmo_kube_pods, pod("z-premium", "1", "premium", NULL, NULL, NULL));
	w.pod = "a-basic";
	assert_true(run_until(f.base, waited, &w, WAIT_MS));
	w.pod = "z-premium";
	assert_true(run_until(f.base, waited, &w, WAIT_MS));
	w.pod = "n-admitted";
	assert_true(run_until(f.base, waited, &w, WAIT_MS));
	w.pod = "m-urgent";
	assert_true(run_until(f.base, waited, &w, WAIT_MS));

	add_node(&f, "gpu-a", "1");
	w.node = "gpu-a";
	assert_true(run_until(f.base, waited, &w, WAIT_MS));
	add_node(&f, "gpu-b", "1");
	bw.n = 2;
	assert_true(run_until(f.base, bound_n, &bw, WAIT_MS));
	add_node(&f, "gpu-c", "1");
	bw.n = 3;
	assert_true(run_until(f.base, bound_n, &bw, WAIT_MS));
	assert_string_not_equal(node_field(&f, "n-admitted", false), "");
	assert_string_not_equal(node_field(&f, "z-premium", false), "");
	assert_string_equal(node_field(&f, "a-basic", false), "");
	assert_int_equal(llmo_binder_evicted_count(b), 0);

	llmo_binder_free(b);
	fixture_stop(&f);
}

/* Merges patch (a JSON text) into node name. */
static void patch_node(struct kube_fixture *f, const char *name, const char *patch)
{
	struct llmo_error err = {0};
	json_t *p = json_loads(patch, 0, NULL);

	assert_non_null(p);
	if (llmo_kube_patch(f->client, &llmo_kube_nodes, NULL, name, NULL, LLMO_KUBE_PATCH_MERGE,
			    p, NULL, &err))
		fail_msg("node patch: %s", err.msg);
	json_decref(p);
}

static bool message_is(void *ctx)
{
	struct wait *w = ctx;
	json_t *p = get_pod(w->f, w->pod), *c;
	bool ok = false;
	size_t i;

	json_array_foreach(json_object_get(json_object_get(p, "status"), "conditions"), i, c) {
		const char *m = json_string_value(json_object_get(c, "message"));
		const char *r = json_string_value(json_object_get(c, "reason"));

		ok = ok || (m && !strcmp(m, w->event_text) && r && !strcmp(r, "Unschedulable"));
	}
	json_decref(p);
	return ok;
}

/*
 * always: a-plat (plat, 100, always) and b-prem (premium, 100,
 * lower-priority) wait; then z-young (premium, 100) is created bound to
 * gpu-a, the only GPU, younger than both (same second or later, and a later
 * name); then gpu-a appears. a-plat goes first (older or, within the
 * second, first by name) and evicts z-young; b-prem may not evict a pod of
 * its own priority.
 */
static void test_policy_always(void **state)
{
	struct kube_fixture f;
	struct llmo_binder *b;
	struct wait w = {.f = &f};

	(void)state;
	assert_int_equal(fixture_start(&f), 0);
	b = start_binder(&f);
	put(&f, &llmo_kube_pods, pod("a-plat", "1", "plat", NULL, NULL, NULL));
	put(&f, &llmo_kube_pods, pod("b-prem", "1", "premium", NULL, NULL, NULL));
	w.pod = "a-plat";
	assert_true(run_until(f.base, waited, &w, WAIT_MS));
	w.pod = "b-prem";
	assert_true(run_until(f.base, waited, &w, WAIT_MS));
	put(&f, &llmo_kube_pods, pod("z-young", "1", "premium", NULL, "gpu-a", "0"));
	add_node(&f, "gpu-a", "1");
	w.pod = "a-plat";
	w.nominated = "gpu-a";
	assert_true(run_until(f.base, waited, &w, WAIT_MS));
	assert_true(deleting(&f, "z-young"));
	assert_int_equal(llmo_binder_evicted_count(b), 1);
	/* b-prem was tried on gpu-a too (its message names the node): it evicted nothing */
	w.pod = "b-prem";
	w.event_text = "0/1 nodes are available: 1 Insufficient nvidia.com/gpu.";
	assert_true(run_until(f.base, message_is, &w, WAIT_MS));
	assert_int_equal(llmo_binder_evicted_count(b), 1);
	assert_string_equal(node_field(&f, "b-prem", true), "");

	llmo_binder_free(b);
	fixture_stop(&f);
}

/* A pending pod "llama" asking one GPU, of model llama2 version 7b (its labels). */
static json_t *llama_pod(void)
{
	json_t *p = pod("llama", "1", NULL, NULL, NULL, NULL);
	json_t *labels = json_object_get(json_object_get(p, "metadata"), "labels");

	json_object_set_new(labels, "llm.orchestrator.io/model", json_string("llama2"));
	json_object_set_new(labels, "llm.orchestrator.io/version", json_string("7b"));
	return p;
}

static void test_filters(void **state)
{
	static const char msg[] = "0/3 nodes are available: 1 node(s) had untolerated taint "
				  "{dedicated: llm}, 2 node(s) didn't match Pod's node "
				  "affinity/selector.";
	struct kube_fixture f;
	struct llmo_binder *b;
	struct wait w = {.f = &f};
	json_t *p;

	(void)state;
	assert_int_equal(fixture_start(&f), 0);
	add_node(&f, "n1", "1");
	add_node(&f, "n2", "1");
	add_node(&f, "n3", "1");
	patch_node(&f, "n1", "{\"metadata\":{\"labels\":{\"zone\":\"z1\"}},\"spec\":{\"taints\":"
			     "[{\"key\":\"dedicated\",\"value\":\"llm\",\"effect\":\"NoSchedule\"}]}}");
	patch_node(&f, "n2", "{\"metadata\":{\"labels\":{\"zone\":\"z2\"}}}");
	patch_node(&f, "n3", "{\"metadata\":{\"labels\":{\"zone\":\"z2\"}}}");
	b = start_binder(&f);

	p = pod("sel", "1", NULL, NULL, NULL, NULL);
	json_object_set_new(json_object_get(p, "spec"), "nodeSelector",
			    json_pack("{s:s}", "zone", "z1"));
	put(&f, &llmo_kube_pods, p);
	w.pod = "sel";
	w.event_text = msg;
	assert_true(run_until(f.base, message_is, &w, WAIT_MS));
	w.event_reason = "FailedScheduling";
	assert_true(run_until(f.base, waited, &w, WAIT_MS));
	w.event_reason = NULL;

	p = pod("tol", "1", NULL, NULL, NULL, NULL);
	json_object_set_new(json_object_get(p, "spec"), "nodeSelector",
			    json_pack("{s:s}", "zone", "z1"));
	json_object_set_new(json_object_get(p, "spec"), "tolerations",
			    json_pack("[{s:s, s:s}]", "key", "dedicated", "operator", "Exists"));
	put(&f, &llmo_kube_pods, p);
	w.pod = "tol";
	w.node = "n1";
	assert_true(run_until(f.base, waited, &w, WAIT_MS));

	llmo_binder_free(b);
	fixture_stop(&f);
}

static void test_scores(void **state)
{
	struct kube_fixture f;
	struct llmo_binder *b;
	struct wait w = {.f = &f};
	json_t *p;

	(void)state;
	assert_int_equal(fixture_start(&f), 0);
	add_node(&f, "gpu-a", "1");
	add_node(&f, "gpu-b", "1");
	add_node(&f, "gpu-c", "1");
	patch_node(&f, "gpu-a", "{\"spec\":{\"taints\":[{\"key\":\"spot\",\"effect\":"
				"\"PreferNoSchedule\"}]}}");
	patch_node(&f, "gpu-c",
		   "{\"metadata\":{\"annotations\":{\"llm.orchestrator.io/cached-models\":"
		   "\"{\\\"pullBytesPerSecond\\\": 130000000, \\\"models\\\": [{\\\"name\\\": "
		   "\\\"llama2\\\", \\\"version\\\": \\\"7b\\\", \\\"sizeBytes\\\": "
		   "13000000000}]}\"}}}");
	b = start_binder(&f);

	put(&f, &llmo_kube_pods, pod("plain", "1", NULL, NULL, NULL, NULL));
	w.pod = "plain";
	w.node = "gpu-b";
	assert_true(run_until(f.base, waited, &w, WAIT_MS));

	p = llama_pod();
	json_object_set_new(json_object_get(p, "spec"), "tolerations",
			    json_pack("[{s:s, s:s}]", "key", "spot", "operator", "Exists"));
	put(&f, &llmo_kube_pods, p);
	w.pod = "llama";
	w.node = "gpu-c";
	assert_true(run_until(f.base, waited, &w, WAIT_MS));

	llmo_binder_free(b);
	fixture_stop(&f);
}

static void test_performance(void **state)
{
	struct kube_fixture f;
	struct llmo_binder *b;
	struct llmo_error err = {0};
	struct wait w = {.f = &f};
	json_t *p, *st;

	(void)state;
	assert_int_equal(fixture_start(&f), 0);
	add_node(&f, "a-a100", "1");
	add_node(&f, "b-h100", "1");
	patch_node(&f, "a-a100",
		   "{\"metadata\":{\"labels\":{\"nvidia.com/gpu.product\":\"NVIDIA-A100-SXM4-80GB\"}}}");
	patch_node(&f, "b-h100",
		   "{\"metadata\":{\"labels\":{\"nvidia.com/gpu.product\":\"NVIDIA-H100-80GB-HBM3\"}}}");
	put(&f, &llmo_kube_llmmodels,
	    json_pack("{s:s, s:s, s:{s:s}, s:{s:s, s:s, s:s, s:s, s:{s:s}, s:{s:s}}}", "apiVersion",
		      "llm.orchestrator.io/v1", "kind", "LLMModel", "metadata", "name",
		      "llama2-7b", "spec", "name", "llama2", "version", "7b", "type",
		      "text-generation", "framework", "vllm", "artifact", "reference",
		      "registry.local/llama2:7b", "runtime", "image", "vllm/vllm-openai:v0.6.3"));
	st = json_pack("{s:{s:[{s:s, s:f}, {s:s, s:f, s:i}, {s:s, s:f}]}}", "status", "benchmarks",
		       "gpuType", "A100", "tokensPerSecond", 1000.0, "gpuType", "H100",
		       "tokensPerSecond", 1800.0, "concurrency", 64, "gpuType", "H100",
		       "tokensPerSecond", 2500.0);
	if (llmo_kube_patch(f.client, &llmo_kube_llmmodels, "default", "llama2-7b", "status",
			    LLMO_KUBE_PATCH_MERGE, st, NULL, &err))
		fail_msg("model status: %s", err.msg);
	json_decref(st);
	b = start_binder(&f);

	p = llama_pod();
	put(&f, &llmo_kube_pods, p);
	w.pod = "llama";
	w.node = "b-h100";
	assert_true(run_until(f.base, waited, &w, WAIT_MS));

	llmo_binder_free(b);
	fixture_stop(&f);
}

/*
 * The QoS class's latency objective: benchmarks give A100 1000 tokens/s with
 * a time to first token p95 of 40 ms (and 70 ms at concurrency 64: the
 * lowest counts), L40S 1800 tokens/s at 90 ms. The performance score alone
 * puts a pod on the L40S node (100 against 56); a premium pod whose class
 * objective is 50 ms goes to the A100 node (its L40S score drops by 200);
 * with an objective of 30 ms that no node meets, throughput decides again.
 */
static void test_latency_objective(void **state)
{
	static const struct {
		const char *pod, *qos, *node;
		int32_t objective;
	} cases[] = {
		{"any", NULL, "b-l40s", 50},
		{"fast", "premium", "a-a100", 50},
		{"unmet", "premium", "b-l40s", 30},
	};
	struct llmo_error err = {0};
	json_t *st;

	(void)state;
	for (size_t c = 0; c < LLMO_ARRAY_LEN(cases); c++) {
		struct kube_fixture f;
		struct llmo_binder *b;
		struct wait w = {.f = &f};
		json_t *p;

		assert_int_equal(fixture_start(&f), 0);
		add_node(&f, "a-a100", "1");
		add_node(&f, "b-l40s", "1");
		patch_node(&f, "a-a100", "{\"metadata\":{\"labels\":{\"nvidia.com/gpu.product\":"
					 "\"NVIDIA-A100-SXM4-80GB\"}}}");
		patch_node(&f, "b-l40s",
			   "{\"metadata\":{\"labels\":{\"nvidia.com/gpu.product\":\"NVIDIA-L40S\"}}}");
		put(&f, &llmo_kube_llmmodels,
		    json_pack("{s:s, s:s, s:{s:s}, s:{s:s, s:s, s:s, s:s, s:{s:s}, s:{s:s}}}",
			      "apiVersion", "llm.orchestrator.io/v1", "kind", "LLMModel", "metadata",
			      "name", "llama2-7b", "spec", "name", "llama2", "version", "7b", "type",
			      "text-generation", "framework", "vllm", "artifact", "reference",
			      "registry.local/llama2:7b", "runtime", "image", "vllm/vllm-openai:v0.6.3"));
		st = json_pack("{s:{s:[{s:s, s:f, s:f}, {s:s, s:f, s:f, s:i}, {s:s, s:f, s:f}]}}",
			       "status", "benchmarks", "gpuType", "A100", "tokensPerSecond", 1000.0,
			       "ttftP95Ms", 40.0, "gpuType", "A100", "tokensPerSecond", 900.0,
			       "ttftP95Ms", 70.0, "concurrency", 64, "gpuType", "L40S",
			       "tokensPerSecond", 1800.0, "ttftP95Ms", 90.0);
		if (llmo_kube_patch(f.client, &llmo_kube_llmmodels, "default", "llama2-7b", "status",
				    LLMO_KUBE_PATCH_MERGE, st, NULL, &err))
			fail_msg("model status: %s", err.msg);
		json_decref(st);
		b = start_binder(&f);
		assert_int_equal(llmo_binder_set_qos_latency(b, "premium", cases[c].objective), 0);
		assert_int_equal(llmo_binder_set_qos_latency(b, "nosuch", 10), LLMO_ENOTFOUND);
		p = llama_pod();
		json_object_set_new(json_object_get(p, "metadata"), "name", json_string(cases[c].pod));
		if (cases[c].qos)
			json_object_set_new(json_object_get(json_object_get(p, "metadata"), "labels"),
					    "llm.orchestrator.io/qos", json_string(cases[c].qos));
		put(&f, &llmo_kube_pods, p);
		w.pod = cases[c].pod;
		w.node = cases[c].node;
		if (!run_until(f.base, waited, &w, WAIT_MS))
			fail_msg("case %s: not bound to %s", cases[c].pod, cases[c].node);
		llmo_binder_free(b);
		fixture_stop(&f);
	}
}

/* A premium pod asking cpu cores and no GPU. */
static json_t *cpu_pod(const char *name, const char *cpu)
{
	json_t *p = pod(name, "0", "premium", NULL, NULL, NULL);
	json_t *c = json_array_get(json_object_get(json_object_get(p, "spec"), "containers"), 0);

	json_object_set_new(json_object_get(json_object_get(c, "resources"), "requests"), "cpu",
			    json_string(cpu));
	return p;
}

/*
 * resourceGuarantee: node n has 16 cpu, offered as 24 with the overcommit
 * ratio 1.5; two premium pods of 10 cpu each. A pod is charged
 * 10 * (1 + g * 0.5): g 0 -> 10 (20 <= 24: both fit), 0.3 -> 11.5 (23: both
 * fit), 0.5 -> 12.5 (25: the second does not), 1 -> 15 (30: nor here).
 */
static void test_resource_guarantee(void **state)
{
	static const struct {
		double g;
		bool both;
	} cases[] = {{0, true}, {0.3, true}, {0.5, false}, {1, false}};

	(void)state;
	for (size_t c = 0; c < LLMO_ARRAY_LEN(cases); c++) {
		struct kube_fixture f;
		struct llmo_binder *b;
		struct wait w = {.f = &f};

		assert_int_equal(fixture_start(&f), 0);
		add_node(&f, "n", "0");
		b = start_binder(&f);
		llmo_binder_set_overcommit(b, 1.5);
		assert_int_equal(llmo_binder_set_qos_guarantee(b, "premium", cases[c].g), 0);
		assert_int_equal(llmo_binder_set_qos_guarantee(b, "premium", 1.5), LLMO_EINVAL);
		assert_int_equal(llmo_binder_set_qos_guarantee(b, "nosuch", 0.5), LLMO_ENOTFOUND);
		put(&f, &llmo_kube_pods, cpu_pod("c1", "10"));
		w.pod = "c1";
		w.node = "n";
		assert_true(run_until(f.base, waited, &w, WAIT_MS));
		put(&f, &llmo_kube_pods, cpu_pod("c2", "10"));
		w.pod = "c2";
		if (cases[c].both) {
			if (!run_until(f.base, waited, &w, WAIT_MS))
				fail_msg("g %.1f: the second pod was not bound", cases[c].g);
		} else {
			w.node = NULL;
			w.event_text = "0/1 nodes are available: 1 Insufficient cpu.";
			if (!run_until(f.base, message_is, &w, WAIT_MS))
				fail_msg("g %.1f: the second pod was not refused for cpu", cases[c].g);
		}
		llmo_binder_free(b);
		fixture_stop(&f);
	}
}

/* Adds a preferred node affinity term of weight w: label key In [value]. */
static void prefer(json_t *p, int w, const char *key, const char *value)
{
	json_t *spec = json_object_get(p, "spec");
	json_t *terms;

	if (!json_object_get(spec, "affinity"))
		json_object_set_new(spec, "affinity",
				    json_pack("{s:{s:[]}}", "nodeAffinity",
					      "preferredDuringSchedulingIgnoredDuringExecution"));
	terms = json_object_get(json_object_get(json_object_get(spec, "affinity"), "nodeAffinity"),
				"preferredDuringSchedulingIgnoredDuringExecution");
	json_array_append_new(terms, json_pack("{s:i, s:{s:[{s:s, s:s, s:[s]}]}}", "weight", w,
					       "preference", "matchExpressions", "key", key,
					       "operator", "In", "values", value));
}

/*
 * Preferred node affinity: three empty one-GPU nodes, n-a without labels,
 * n-b in zone z2, n-c with disk ssd; pods prefer zone z2 (weight 20) and
 * disk ssd (weight 60). n-a scores 0, n-b 100 * 20 / 60 = 33, n-c 100: the
 * first pod goes to n-c; the second (n-c full) to n-b over n-a, which name
 * order (the policy's tie) would have chosen. With the weight 0 a third pod
 * on fresh nodes goes by name order.
 */
static void test_preferred_affinity(void **state)
{
	struct kube_fixture f;
	struct llmo_binder *b;
	struct wait w = {.f = &f};
	const char *names[] = {"p1", "p2"};

	(void)state;
	assert_int_equal(fixture_start(&f), 0);
	add_node(&f, "n-a", "1");
	add_node(&f, "n-b", "1");
	add_node(&f, "n-c", "1");
	patch_node(&f, "n-b", "{\"metadata\":{\"labels\":{\"zone\":\"z2\"}}}");
	patch_node(&f, "n-c", "{\"metadata\":{\"labels\":{\"disk\":\"ssd\"}}}");
	b = start_binder(&f);

	for (size_t i = 0; i < 2; i++) {
		json_t *p = pod(names[i], "1", NULL, NULL, NULL, NULL);

		prefer(p, 20, "zone", "z2");
		prefer(p, 60, "disk", "ssd");
		put(&f, &llmo_kube_pods, p);
		w.pod = names[i];
		w.node = i == 0 ? "n-c" : "n-b";
		assert_true(run_until(f.base, waited, &w, WAIT_MS));
	}
	llmo_binder_free(b);
	fixture_stop(&f);

	/* weight 0: the preference is ignored, name order decides */
	assert_int_equal(fixture_start(&f), 0);
	add_node(&f, "n-a", "1");
	add_node(&f, "n-c", "1");
	patch_node(&f, "n-c", "{\"metadata\":{\"labels\":{\"disk\":\"ssd\"}}}");
	b = start_binder(&f);
	llmo_binder_set_node_affinity_weight(b, 0);
	{
		json_t *p = pod("p3", "1", NULL, NULL, NULL, NULL);

		prefer(p, 60, "disk", "ssd");
		put(&f, &llmo_kube_pods, p);
	}
	w.pod = "p3";
	w.node = "n-a";
	assert_true(run_until(f.base, waited, &w, WAIT_MS));
	llmo_binder_free(b);
	fixture_stop(&f);
}

/* A one-GPU pod of pod group grp with minMember min. */
static json_t *gang_pod(const char *name, const char *grp, const char *min)
{
	json_t *p = pod(name, "1", NULL, NULL, NULL, NULL);
	json_t *ann = json_object_get(json_object_get(p, "metadata"), "annotations");

	json_object_set_new(ann, LLMO_BINDER_POD_GROUP_ANNOTATION, json_string(grp));
	json_object_set_new(ann, LLMO_BINDER_POD_GROUP_MIN_ANNOTATION, json_string(min));
	return p;
}

/* Starts the server with nodes gpu-a and gpu-b of 2 GPUs each, and a binder. */
static struct llmo_binder *gang_start(struct kube_fixture *f)
{
	assert_int_equal(fixture_start(f), 0);
	add_node(f, "gpu-a", "2");
	add_node(f, "gpu-b", "2");
	return start_binder(f);
}

/* The pod's annotation key ("" if none; a static buffer). */
static const char *annotation_of(struct kube_fixture *f, const char *name, const char *key)
{
	static char out[128];
	json_t *p = get_pod(f, name);
	const char *v = json_string_value(json_object_get(
		json_object_get(json_object_get(p, "metadata"), "annotations"), key));

	snprintf(out, sizeof(out), "%s", v ? v : "");
	json_decref(p);
	return out;
}

/* The pod's GPU annotation ("" if none; a static buffer). */
static const char *gpus_of(struct kube_fixture *f, const char *name)
{
	return annotation_of(f, name, LLMO_BINDER_GPUS_ANNOTATION);
}

/* The number of pods of names[0..n) with a spec.nodeName. */
static size_t bound_of(struct kube_fixture *f, const char *const *names, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		k += node_field(f, names[i], false)[0] != '\0';
	return k;
}

/*
 * Gang, all or nothing: group g (minMember 4) of four one-GPU pods.
 *   - g1..g3 exist, on 4 free GPUs (gpu-a 2, gpu-b 2): they wait for the
 *     fourth ("waiting for 1 more pod(s)"), nothing bound;
 *   - the same group on 3 free GPUs (gpu-b holds x on one GPU): g4 comes,
 *     3 of 4 fit, none is bound: "pod group default/g: 3 of 4 pod(s) fit,
 *     minMember 4; 0/2 nodes are available: 2 Insufficient nvidia.com/gpu."
 *     (the fourth member finds both nodes full of the three reserved);
 *   - x leaves: 4 free GPUs, all four are bound, two per node, on distinct GPUs.
 */
static void test_gang(void **state)
{
	static const char *const names[] = {"g1", "g2", "g3", "g4"};
	struct kube_fixture f;
	struct llmo_binder *b;
	struct wait w = {.f = &f};
	struct bound_wait bw;

	(void)state;
	b = gang_start(&f);
	bw.b = b;
	put(&f, &llmo_kube_pods, gang_pod("g1", "g", "4"));
	put(&f, &llmo_kube_pods, gang_pod("g2", "g", "4"));
	put(&f, &llmo_kube_pods, gang_pod("g3", "g", "4"));
	w.pod = "g3";
	w.event_text = "pod group default/g: waiting for 1 more pod(s) (3 pending, 0 bound, "
		       "minMember 4)";
	assert_true(run_until(f.base, message_is, &w, WAIT_MS));
	assert_int_equal(bound_of(&f, names, 3), 0);

	put(&f, &llmo_kube_pods, pod("x", "1", NULL, NULL, "gpu-b", "1"));
	put(&f, &llmo_kube_pods, gang_pod("g4", "g", "4"));
	w.pod = "g4";
	w.event_text = "pod group default/g: 3 of 4 pod(s) fit, minMember 4; 0/2 nodes are "
		       "available: 2 Insufficient nvidia.com/gpu.";
	assert_true(run_until(f.base, message_is, &w, WAIT_MS));
	w.pod = "g1";
	assert_true(run_until(f.base, message_is, &w, WAIT_MS));
	w.event_reason = "FailedScheduling";
	assert_true(run_until(f.base, waited, &w, WAIT_MS));
	assert_int_equal(bound_of(&f, names, 4), 0);
	assert_int_equal(llmo_binder_bound_count(b), 0);

	force_delete(&f, "x");
	bw.n = 4;
	assert_true(run_until(f.base, bound_n, &bw, WAIT_MS));
	assert_string_equal(node_field(&f, "g1", false), "gpu-a");
	assert_string_equal(node_field(&f, "g2", false), "gpu-a");
	assert_string_equal(node_field(&f, "g3", false), "gpu-b");
	assert_string_equal(node_field(&f, "g4", false), "gpu-b");
	assert_string_equal(gpus_of(&f, "g1"), "0");
	assert_string_equal(gpus_of(&f, "g2"), "1");

	llmo_binder_free(b);
	fixture_stop(&f);
}

/* A premium one-GPU member of pod group grp with minMember min. */
static json_t *premium_gang_pod(const char *name, const char *grp, const char *min)
{
	json_t *p = gang_pod(name, grp, min);

	json_object_set_new(json_object_get(json_object_get(p, "metadata"), "labels"),
			    LLMO_BINDER_QOS_LABEL, json_string("premium"));
	return p;
}

/* A one-GPU pod of priority 1000 (priorityClassName urgent) bound to node on GPU gpu. */
static json_t *urgent_bound(const char *name, const char *node, const char *gpu)
{
	json_t *p = pod(name, "1", "basic", NULL, node, gpu);

	json_object_set_new(json_object_get(p, "spec"), "priority", json_integer(1000));
	json_object_set_new(json_object_get(p, "spec"), "priorityClassName", json_string("urgent"));
	return p;
}

/* The number of pods of names[0..n) bound to node. */
static size_t bound_on(struct kube_fixture *f, const char *const *names, size_t n,
		       const char *node)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		k += strcmp(node_field(f, names[i], false), node) == 0;
	return k;
}

/*
 * A gang preempts for all its members together: gpu-a (2 GPUs) runs b1
 * (basic, GPU 0) and hi (priority 1000, GPU 1), gpu-b runs b2 and b3
 * (basic); every GPU is taken. Group g of three premium one-GPU members
 * (minMember 3) fits only if b1, b2 and b3 all go: one member per victim,
 * planned in queue order (m1 evicts b1 on gpu-a, the first node of the
 * equal one-victim choices; m2 and m3 one basic pod each on gpu-b). All
 * three are evicted, hi (higher priority) is not; each member is
 * nominated (one to gpu-a, two to gpu-b) and gets a Preempting Event; once
 * the victims are gone the three are bound, one on gpu-a and two on
 * gpu-b, and nothing more is evicted.
 */
static void test_gang_preempt(void **state)
{
	static const char *const ms[] = {"m1", "m2", "m3"};
	struct kube_fixture f;
	struct llmo_binder *b;
	struct wait w = {.f = &f};
	struct bound_wait bw;
	size_t on_a = 0, on_b = 0;

	(void)state;
	b = gang_start(&f);
	bw.b = b;
	put(&f, &llmo_kube_pods, pod("b1", "1", "basic", NULL, "gpu-a", "0"));
	put(&f, &llmo_kube_pods, urgent_bound("hi", "gpu-a", "1"));
	put(&f, &llmo_kube_pods, pod("b2", "1", "basic", NULL, "gpu-b", "0"));
	put(&f, &llmo_kube_pods, pod("b3", "1", "basic", NULL, "gpu-b", "1"));
	for (size_t i = 0; i < 3; i++)
		put(&f, &llmo_kube_pods, premium_gang_pod(ms[i], "g", "3"));

	w.pod = "m1";
	w.nominated = "gpu-a";
	assert_true(run_until(f.base, waited, &w, WAIT_MS));
	w.pod = "m2";
	w.nominated = "gpu-b";
	assert_true(run_until(f.base, waited, &w, WAIT_MS));
	w.pod = "m3";
	assert_true(run_until(f.base, waited, &w, WAIT_MS));
	assert_true(deleting(&f, "b1"));
	assert_true(deleting(&f, "b2"));
	assert_true(deleting(&f, "b3"));
	assert_false(deleting(&f, "hi"));
	assert_int_equal(llmo_binder_evicted_count(b), 3);
	assert_int_equal(bound_of(&f, ms, 3), 0);
	w.nominated = NULL;
	w.pod = "m1";
	w.event_reason = "Preempting";
	w.event_text = "Preempting 1 pod(s) of lower priority on node gpu-a for pod group "
		       "default/g: default/b1";
	assert_true(run_until(f.base, waited, &w, WAIT_MS));
	w.pod = "b1";
	w.event_reason = "Preempted";
	w.event_text = "Preempted by default/m1 (priority 100) on node gpu-a";
	assert_true(run_until(f.base, waited, &w, WAIT_MS));
	w.event_reason = NULL;

	force_delete(&f, "b1");
	force_delete(&f, "b2");
	force_delete(&f, "b3");
	bw.n = 3;
	assert_true(run_until(f.base, bound_n, &bw, WAIT_MS));
	on_a = bound_on(&f, ms, 3, "gpu-a");
	on_b = bound_on(&f, ms, 3, "gpu-b");
	assert_int_equal(on_a, 1);
	assert_int_equal(on_b, 2);
	assert_int_equal(llmo_binder_evicted_count(b), 3);
	assert_false(deleting(&f, "hi"));

	llmo_binder_free(b);
	fixture_stop(&f);
}

/*
 * A gang that could only partly fit evicts nothing: gpu-a runs b1 (basic)
 * and hi1, gpu-b hi2 and hi3 (priority 1000). Group g of three premium
 * members (minMember 3) could take b1's GPU only: 1 of 3 would fit, so
 * nobody is evicted or nominated, and the group says 0 of 3 fit.
 */
static void test_gang_preempt_partial(void **state)
{
	static const char *const ms[] = {"m1", "m2", "m3"};
	struct kube_fixture f;
	struct llmo_binder *b;
	struct wait w = {.f = &f};

	(void)state;
	b = gang_start(&f);
	put(&f, &llmo_kube_pods, pod("b1", "1", "basic", NULL, "gpu-a", "0"));
	put(&f, &llmo_kube_pods, urgent_bound("hi1", "gpu-a", "1"));
	put(&f, &llmo_kube_pods, urgent_bound("hi2", "gpu-b", "0"));
	put(&f, &llmo_kube_pods, urgent_bound("hi3", "gpu-b", "1"));
	for (size_t i = 0; i < 3; i++)
		put(&f, &llmo_kube_pods, premium_gang_pod(ms[i], "g", "3"));

	w.pod = "m3";
	w.event_text = "pod group default/g: 0 of 3 pod(s) fit, minMember 3; 0/2 nodes are "
		       "available: 2 Insufficient nvidia.com/gpu.";
	assert_true(run_until(f.base, message_is, &w, WAIT_MS));
	w.event_reason = "FailedScheduling";
	assert_true(run_until(f.base, waited, &w, WAIT_MS));
	/* the decision that wrote the message has run its preemption too */
	assert_int_equal(llmo_binder_evicted_count(b), 0);
	assert_false(deleting(&f, "b1"));
	assert_false(deleting(&f, "hi1"));
	assert_false(deleting(&f, "hi2"));
	assert_false(deleting(&f, "hi3"));
	for (size_t i = 0; i < 3; i++)
		assert_string_equal(node_field(&f, ms[i], true), "");
	assert_int_equal(bound_of(&f, ms, 3), 0);

	llmo_binder_free(b);
	fixture_stop(&f);
}

/*
 * A gang's evictions together keep a workload at its minReplicas: wl
 * (minReplicas 2) runs w1 on gpu-a, w2 on gpu-b and w3 on gpu-c (one GPU
 * each, basic), x1 (basic, no workload) runs on gpu-d. Each member alone
 * could take one of wl's pods (3 live, 2 kept); m1 takes w1 (gpu-a, first
 * of the equal choices), and m2 then sees wl at 2 and takes x1 instead.
 * w2 and w3 stay.
 */
static void test_gang_preempt_min_replicas(void **state)
{
	static const char *const nodes[] = {"gpu-a", "gpu-b", "gpu-c", "gpu-d"};
	struct kube_fixture f;
	struct llmo_binder *b;
	struct wait w = {.f = &f};

	(void)state;
	assert_int_equal(fixture_start(&f), 0);
	for (size_t i = 0; i < 4; i++)
		add_node(&f, nodes[i], "1");
	put_workload_wl(&f);
	put(&f, &llmo_kube_pods, pod("w1", "1", "basic", "wl", "gpu-a", "0"));
	put(&f, &llmo_kube_pods, pod("w2", "1", "basic", "wl", "gpu-b", "0"));
	put(&f, &llmo_kube_pods, pod("w3", "1", "basic", "wl", "gpu-c", "0"));
	put(&f, &llmo_kube_pods, pod("x1", "1", "basic", NULL, "gpu-d", "0"));
	b = start_binder(&f);
	put(&f, &llmo_kube_pods, premium_gang_pod("m1", "g", "2"));
	put(&f, &llmo_kube_pods, premium_gang_pod("m2", "g", "2"));

	w.pod = "m1";
	w.nominated = "gpu-a";
	assert_true(run_until(f.base, waited, &w, WAIT_MS));
	w.pod = "m2";
	w.nominated = "gpu-d";
	assert_true(run_until(f.base, waited, &w, WAIT_MS));
	assert_true(deleting(&f, "w1"));
	assert_true(deleting(&f, "x1"));
	assert_false(deleting(&f, "w2"));
	assert_false(deleting(&f, "w3"));
	assert_int_equal(llmo_binder_evicted_count(b), 2);

	llmo_binder_free(b);
	fixture_stop(&f);
}

/*
 * Two groups compete without deadlock: a and b (minMember 3, one GPU each)
 * are created interleaved (a1 b1 a2 b2 a3 b3) on 4 GPUs, where a scheduler
 * holding the members that fit one by one would give each group two GPUs
 * and bind neither. Here a, first in queue order, is placed whole; b fits 1
 * of 3 and waits, holding nothing; when a's pods leave, b is placed whole.
 */
static void test_gang_compete(void **state)
{
	static const char *const as[] = {"a1", "a2", "a3"}, *const bs[] = {"b1", "b2", "b3"};
	struct kube_fixture f;
	struct llmo_binder *b;
	struct wait w = {.f = &f};
	struct bound_wait bw;

	(void)state;
	b = gang_start(&f);
	bw.b = b;
	for (size_t i = 0; i < 3; i++) {
		put(&f, &llmo_kube_pods, gang_pod(as[i], "a", "3"));
		put(&f, &llmo_kube_pods, gang_pod(bs[i], "b", "3"));
	}
	bw.n = 3;
	assert_true(run_until(f.base, bound_n, &bw, WAIT_MS));
	w.pod = "b3";
	w.event_text = "pod group default/b: 1 of 3 pod(s) fit, minMember 3; 0/2 nodes are "
		       "available: 2 Insufficient nvidia.com/gpu.";
	assert_true(run_until(f.base, message_is, &w, WAIT_MS));
	assert_int_equal(bound_of(&f, as, 3), 3);
	assert_int_equal(bound_of(&f, bs, 3), 0);

	for (size_t i = 0; i < 3; i++)
		force_delete(&f, as[i]);
	bw.n = 6;
	assert_true(run_until(f.base, bound_n, &bw, WAIT_MS));
	assert_int_equal(bound_of(&f, bs, 3), 3);

	llmo_binder_free(b);
	fixture_stop(&f);
}

/* Sets node name's gpu-devices to 4 GPUs PREFIX0..3 in NVLink domains {0, 1} and {2, 3}. */
static void four_gpu_topology(struct kube_fixture *f, const char *name, const char *prefix)
{
	char patch[1024];

	snprintf(patch, sizeof(patch),
		 "{\"metadata\":{\"annotations\":{\"%s\":\"["
		 "{\\\"uuid\\\":\\\"%s0\\\",\\\"nvlinkDomain\\\":0},"
		 "{\\\"uuid\\\":\\\"%s1\\\",\\\"nvlinkDomain\\\":0},"
		 "{\\\"uuid\\\":\\\"%s2\\\",\\\"nvlinkDomain\\\":1},"
		 "{\\\"uuid\\\":\\\"%s3\\\",\\\"nvlinkDomain\\\":1}]\"}}}",
		 LLMO_BINDER_DEVICES_ANNOTATION, prefix, prefix, prefix, prefix);
	patch_node(f, name, patch);
}

/*
 * Topology: two 4-GPU nodes in NVLink domains {0, 1} and {2, 3}.
 *   a-split holds pods on a1 and a3: its free a0, a2 span 2 domains, so a
 *     2-GPU pod there scores -100 * (2 - 1) / (2 - 1) = -100;
 *   b-pick holds a pod on b0: b1, b2, b3 are free, and b2, b3 are one domain
 *     (score 0), where the lowest-numbered b1, b2 would span two.
 * A 2-GPU pod goes to b-pick (a-split, first by name and fuller, loses by
 * its -100) on b2,b3. Then a second one has only a-split left: a0,a2.
 */
static void test_topology(void **state)
{
	struct kube_fixture f;
	struct llmo_binder *b;
	struct wait w = {.f = &f};

	(void)state;
	assert_int_equal(fixture_start(&f), 0);
	add_node(&f, "a-split", "4");
	add_node(&f, "b-pick", "4");
	four_gpu_topology(&f, "a-split", "a");
	four_gpu_topology(&f, "b-pick", "b");
	put(&f, &llmo_kube_pods, pod("x1", "1", NULL, NULL, "a-split", "a1"));
	put(&f, &llmo_kube_pods, pod("x3", "1", NULL, NULL, "a-split", "a3"));
	put(&f, &llmo_kube_pods, pod("y0", "1", NULL, NULL, "b-pick", "b0"));
	b = start_binder(&f);

	put(&f, &llmo_kube_pods, pod("tp", "2", NULL, NULL, NULL, NULL));
	w.pod = "tp";
	w.node = "b-pick";
	assert_true(run_until(f.base, waited, &w, WAIT_MS));
	assert_string_equal(gpus_of(&f, "tp"), "b2,b3");

	put(&f, &llmo_kube_pods, pod("tp2", "2", NULL, NULL, NULL, NULL));
	w.pod = "tp2";
	w.node = "a-split";
	assert_true(run_until(f.base, waited, &w, WAIT_MS));
	assert_string_equal(gpus_of(&f, "tp2"), "a0,a2");

	llmo_binder_free(b);
	fixture_stop(&f);
}

/*
 * Gives node name n GPUs "PREFIX0".."PREFIXn-1" of bytes each in its
 * gpu-devices annotation (as llmo's agent reports them).
 */
static void gpu_memory_node(struct kube_fixture *f, const char *name, const char *prefix, int n,
			    json_int_t bytes)
{
	json_t *devs = json_array(), *patch;
	struct llmo_error err = {0};
	char *text, uuid[32];

	for (int g = 0; g < n; g++) {
		snprintf(uuid, sizeof(uuid), "%s%d", prefix, g);
		json_array_append_new(devs, json_pack("{s:i, s:s, s:I}", "index", g, "uuid", uuid,
						      "memoryTotalBytes", bytes));
	}
	text = json_dumps(devs, JSON_COMPACT);
	assert_non_null(text);
	patch = json_pack("{s:{s:{s:s}}}", "metadata", "annotations",
			  LLMO_BINDER_DEVICES_ANNOTATION, text);
	if (llmo_kube_patch(f->client, &llmo_kube_nodes, NULL, name, NULL, LLMO_KUBE_PATCH_MERGE,
			    patch, NULL, &err))
		fail_msg("node patch: %s", err.msg);
	json_decref(patch);
	json_decref(devs);
	free(text);
}

/* A pod asking gpus of nvidia.com/gpu and mem of GPU memory per GPU. */
static json_t *gpu_memory_pod(const char *name, const char *gpus, const char *mem)
{
	json_t *p = pod(name, gpus, NULL, NULL, NULL, NULL);

	json_object_set_new(json_object_get(json_object_get(p, "metadata"), "annotations"),
			    LLMO_BINDER_GPU_MEMORY_ANNOTATION, json_string(mem));
	return p;
}

/* A basic pod asking 100m of a GPU and 40Gi of its memory, bound to node's GPU gpu. */
static json_t *held_gpu_memory_pod(const char *name, const char *node, const char *gpu)
{
	json_t *p = pod(name, "100m", "basic", NULL, node, gpu);

	json_object_set_new(json_object_get(json_object_get(p, "metadata"), "annotations"),
			    LLMO_BINDER_GPU_MEMORY_ANNOTATION, json_string("40Gi"));
	return p;
}

/* The premium pod "pm" asking 100m of a GPU and 48Gi of its memory. */
static json_t *premium_gpu_memory_pod(void)
{
	json_t *p = gpu_memory_pod("pm", "100m", "48Gi");

	json_object_set_new(json_object_get(json_object_get(p, "metadata"), "labels"),
			    LLMO_BINDER_QOS_LABEL, json_string("premium"));
	return p;
}

/* Creates pod p and waits until it is bound to node. */
static void put_bound(struct kube_fixture *f, json_t *p, const char *name, const char *node)
{
	struct wait w = {.f = f, .pod = name, .node = node};

	put(f, &llmo_kube_pods, p);
	assert_true(run_until(f->base, waited, &w, WAIT_MS));
}

/*
 * GPU memory shares on h80, two GPUs of 80Gi (h0, h1):
 *   m1..m4 ask 100m and 20Gi: 1000 * 20 / 80 = 250m each (more than 100m),
 *     so the four fill h0 (the fullest GPU that fits: best fit), each
 *     annotated with the share 250m; m5 no longer fits h0 (1250m) and takes h1;
 *   on h1 (250m used) s1 asks 500m and 60Gi: 750m, the larger, fits (1000m)
 *     there; then s2, a plain 300m, fits neither GPU and waits.
 */
static void test_gpu_memory_share(void **state)
{
	static const char *const names[] = {"m1", "m2", "m3", "m4"};
	struct kube_fixture f;
	struct llmo_binder *b;
	struct wait w = {.f = &f};

	(void)state;
	assert_int_equal(fixture_start(&f), 0);
	add_node(&f, "h80", "2");
	gpu_memory_node(&f, "h80", "h", 2, (json_int_t)80 << 30);
	b = start_binder(&f);

	for (size_t i = 0; i < 4; i++) {
		put_bound(&f, gpu_memory_pod(names[i], "100m", "20Gi"), names[i], "h80");
		assert_string_equal(gpus_of(&f, names[i]), "h0");
		assert_string_equal(annotation_of(&f, names[i], LLMO_BINDER_GPU_SHARE_ANNOTATION),
				    "250m");
	}
	put_bound(&f, gpu_memory_pod("m5", "100m", "20Gi"), "m5", "h80");
	assert_string_equal(gpus_of(&f, "m5"), "h1");

	put_bound(&f, gpu_memory_pod("s1", "500m", "60Gi"), "s1", "h80");
	assert_string_equal(gpus_of(&f, "s1"), "h1");
	assert_string_equal(annotation_of(&f, "s1", LLMO_BINDER_GPU_SHARE_ANNOTATION), "750m");

	put(&f, &llmo_kube_pods, pod("s2", "300m", NULL, NULL, NULL, NULL));
	w.pod = "s2";
	w.event_text = "0/1 nodes are available: 1 Insufficient nvidia.com/gpu.";
	assert_true(run_until(f.base, message_is, &w, WAIT_MS));

	llmo_binder_free(b);
	fixture_stop(&f);
}

/*
 * GPU memory as a filter: a40 has one 40Gi GPU, h80 (created later) one of 80Gi.
 *   big asks 100m and 48Gi: with a40 alone "0/1 nodes are available: 1
 *     node(s) had no GPU with 48Gi of memory."; once h80 is there it is
 *     bound to h80 with 1000 * 48 / 80 = 600m;
 *   whole asks one whole GPU and 48Gi: a40's GPU is too small and h80's is
 *     in use: "0/2 nodes are available: 1 Insufficient nvidia.com/gpu, 1
 *     node(s) had no GPU with 48Gi of memory.";
 *   small asks 100m and 40Gi: 500m of h80 (600m used) does not fit, all of
 *     a40's one GPU (1000m, share "1") does: it is bound to a40.
 */
static void test_gpu_memory_filter(void **state)
{
	struct kube_fixture f;
	struct llmo_binder *b;
	struct wait w = {.f = &f};

	(void)state;
	assert_int_equal(fixture_start(&f), 0);
	add_node(&f, "a40", "1");
	gpu_memory_node(&f, "a40", "a", 1, (json_int_t)40 << 30);
	b = start_binder(&f);

	put(&f, &llmo_kube_pods, gpu_memory_pod("big", "100m", "48Gi"));
	w.pod = "big";
	w.event_text = "0/1 nodes are available: 1 node(s) had no GPU with 48Gi of memory.";
	assert_true(run_until(f.base, message_is, &w, WAIT_MS));

	add_node(&f, "h80", "1");
	gpu_memory_node(&f, "h80", "h", 1, (json_int_t)80 << 30);
	w.node = "h80";
	assert_true(run_until(f.base, waited, &w, WAIT_MS));
	assert_string_equal(annotation_of(&f, "big", LLMO_BINDER_GPU_SHARE_ANNOTATION), "600m");

	put(&f, &llmo_kube_pods, gpu_memory_pod("whole", "1", "48Gi"));
	w.pod = "whole";
	w.node = NULL;
	w.event_text = "0/2 nodes are available: 1 Insufficient nvidia.com/gpu, 1 node(s) had "
		       "no GPU with 48Gi of memory.";
	assert_true(run_until(f.base, message_is, &w, WAIT_MS));

	put_bound(&f, gpu_memory_pod("small", "100m", "40Gi"), "small", "a40");
	assert_string_equal(annotation_of(&f, "small", LLMO_BINDER_GPU_SHARE_ANNOTATION), "1");

	llmo_binder_free(b);
	fixture_stop(&f);
}

/*
 * GPU memory shares held by running pods, with preemption: ha and hb have
 * one 80Gi GPU each (a0, b0), each held by a basic pod asking 100m and
 * 40Gi: ha's with its gpu-share annotation 500m (bound by llmo), hb's
 * without (its share is worked out on hb: 1000 * 40 / 80 = 500m). A premium
 * pod asking 100m and 48Gi (600m) fits neither (500m + 600m), so it evicts
 * one of them and is nominated; counted at their 100m requests, both would
 * have had room (700m). Once the victim is gone it is bound there, with
 * the share 600m.
 */
static void test_gpu_memory_preempt(void **state)
{
	struct kube_fixture f;
	struct llmo_binder *b;
	struct wait w = {.f = &f};
	json_t *p;
	char node[128];

	(void)state;
	assert_int_equal(fixture_start(&f), 0);
	add_node(&f, "ha", "1");
	add_node(&f, "hb", "1");
	gpu_memory_node(&f, "ha", "a", 1, (json_int_t)80 << 30);
	gpu_memory_node(&f, "hb", "b", 1, (json_int_t)80 << 30);
	p = held_gpu_memory_pod("held-a", "ha", "a0");
	json_object_set_new(json_object_get(json_object_get(p, "metadata"), "annotations"),
			    LLMO_BINDER_GPU_SHARE_ANNOTATION, json_string("500m"));
	put(&f, &llmo_kube_pods, p);
	put(&f, &llmo_kube_pods, held_gpu_memory_pod("held-b", "hb", "b0"));
	b = start_binder(&f);

	put(&f, &llmo_kube_pods, premium_gpu_memory_pod());
	w.pod = "pm";
	w.event_reason = "Preempting";
	w.event_text = "Preempting 1 pod(s) of lower priority on node h";
	assert_true(run_until(f.base, waited, &w, WAIT_MS));
	assert_int_equal(llmo_binder_evicted_count(b), 1);
	assert_string_equal(node_field(&f, "pm", false), "");
	snprintf(node, sizeof(node), "%s", node_field(&f, "pm", true));
	assert_true(!strcmp(node, "ha") || !strcmp(node, "hb"));
	assert_true(deleting(&f, !strcmp(node, "ha") ? "held-a" : "held-b"));

	force_delete(&f, !strcmp(node, "ha") ? "held-a" : "held-b");
	w.event_reason = NULL;
	w.node = node;
	assert_true(run_until(f.base, waited, &w, WAIT_MS));
	assert_string_equal(annotation_of(&f, "pm", LLMO_BINDER_GPU_SHARE_ANNOTATION), "600m");

	llmo_binder_free(b);
	fixture_stop(&f);
}

/*
 * A pod held on a node that reports its GPU memory only later: hl has one
 * GPU and no gpu-devices annotation when the binder starts, so the basic
 * pod held there (100m, 40Gi) counts at its bare 100m, and a premium pod
 * asking 48Gi cannot be placed (no GPU known to have 48Gi). Then hl reports
 * one 80Gi GPU: the held pod now counts as 500m (1000 * 40 / 80), so the
 * premium pod's 600m does not fit beside it and it preempts; had the held
 * pod kept its 100m, the premium pod would have been bound at once.
 */
static void test_gpu_memory_late_node(void **state)
{
	struct kube_fixture f;
	struct llmo_binder *b;
	struct wait w = {.f = &f};

	(void)state;
	assert_int_equal(fixture_start(&f), 0);
	add_node(&f, "hl", "1");
	put(&f, &llmo_kube_pods, held_gpu_memory_pod("held", "hl", "l0"));
	b = start_binder(&f);

	put(&f, &llmo_kube_pods, premium_gpu_memory_pod());
	w.pod = "pm";
	w.event_text = "0/1 nodes are available: 1 node(s) had no GPU with 48Gi of memory.";
	assert_true(run_until(f.base, message_is, &w, WAIT_MS));

	gpu_memory_node(&f, "hl", "l", 1, (json_int_t)80 << 30);
	w.event_reason = "Preempting";
	w.event_text = "Preempting 1 pod(s) of lower priority on node hl";
	assert_true(run_until(f.base, waited, &w, WAIT_MS));
	assert_string_equal(node_field(&f, "pm", false), "");
	assert_true(deleting(&f, "held"));

	llmo_binder_free(b);
	fixture_stop(&f);
}

/* The pod w->pod is bound to some node. */
static bool bound(void *ctx)
{
	struct wait *w = ctx;

	return node_field(w->f, w->pod, false)[0] != '\0';
}

/* A pod term: {labelSelector: {matchLabels: {app: APP}}, topologyKey: KEY}. */
static json_t *aff_term(const char *app, const char *key)
{
	return json_pack("{s:{s:{s:s}}, s:s}", "labelSelector", "matchLabels", "app", app,
			 "topologyKey", key);
}

/* Sets spec.affinity.KIND.FIELD of p to the one term t (weighted when weight > 0). */
static void set_affinity(json_t *p, const char *kind, int weight, json_t *t)
{
	json_t *spec = json_object_get(p, "spec"), *aff = json_object_get(spec, "affinity");
	json_t *item = weight > 0 ? json_pack("{s:i, s:o}", "weight", weight, "podAffinityTerm", t)
				  : t;

	if (!aff) {
		aff = json_object();
		json_object_set_new(spec, "affinity", aff);
	}
	json_object_set_new(aff, kind,
			    json_pack("{s:[o]}",
				      weight > 0 ? "preferredDuringSchedulingIgnoredDuringExecution"
						 : "requiredDuringSchedulingIgnoredDuringExecution",
				      item));
}

static void set_label(json_t *p, const char *key, const char *value)
{
	json_object_set_new(json_object_get(json_object_get(p, "metadata"), "labels"), key,
			    json_string(value));
}

/*
 * Required inter-pod (anti-)affinity through the API. Nodes of 4 GPUs: gpu-a
 * and gpu-b in zone z1, gpu-c in z2, each with its hostname label. cache
 * (app=cache) runs on gpu-c and keeps app=batch pods out of its zone.
 *   - web-1..3 (app=web, anti-affinity to app=web by host) land on three
 *     different nodes (the policy alone packs them onto one); web-4 finds
 *     none: "0/3 nodes are available: 3 node(s) didn't match pod
 *     anti-affinity rules.";
 *   - api (affinity to app=cache by zone) goes to gpu-c, the only node of
 *     cache's zone;
 *   - batch (app=batch) prefers zone z2 (node affinity, weight 100) but
 *     cache's anti-affinity keeps it in z1;
 *   - a pod with a term without topologyKey is tried nowhere, and says why.
 */
static void test_pod_affinity(void **state)
{
	static const char *const nodes[] = {"gpu-a", "gpu-b", "gpu-c"};
	static const char *const zones[] = {"z1", "z1", "z2"};
	struct kube_fixture f;
	struct llmo_binder *b;
	struct wait w = {.f = &f};
	char seen[3][64], patch[256];
	json_t *p;

	(void)state;
	assert_int_equal(fixture_start(&f), 0);
	for (int i = 0; i < 3; i++) {
		add_node(&f, nodes[i], "4");
		snprintf(patch, sizeof(patch),
			 "{\"metadata\":{\"labels\":{\"kubernetes.io/hostname\":\"%s\","
			 "\"topology.kubernetes.io/zone\":\"%s\"}}}",
			 nodes[i], zones[i]);
		patch_node(&f, nodes[i], patch);
	}
	p = pod("cache", "1", NULL, NULL, "gpu-c", "gpu-c-0");
	set_label(p, "app", "cache");
	set_affinity(p, "podAntiAffinity", 0, aff_term("batch", "topology.kubernetes.io/zone"));
	put(&f, &llmo_kube_pods, p);
	b = start_binder(&f);

	for (int i = 0; i < 3; i++) {
		char name[16];

		snprintf(name, sizeof(name), "web-%d", i + 1);
		p = pod(name, "1", NULL, NULL, NULL, NULL);
		set_label(p, "app", "web");
		set_affinity(p, "podAntiAffinity", 0, aff_term("web", "kubernetes.io/hostname"));
		put(&f, &llmo_kube_pods, p);
		w.pod = name;
		w.node = NULL;
		assert_true(run_until(f.base, bound, &w, WAIT_MS));
		snprintf(seen[i], sizeof(seen[i]), "%s", node_field(&f, name, false));
	}
	assert_string_not_equal(seen[0], seen[1]);
	assert_string_not_equal(seen[0], seen[2]);
	assert_string_not_equal(seen[1], seen[2]);
	p = pod("web-4", "1", NULL, NULL, NULL, NULL);
	set_label(p, "app", "web");
	set_affinity(p, "podAntiAffinity", 0, aff_term("web", "kubernetes.io/hostname"));
	put(&f, &llmo_kube_pods, p);
	w.pod = "web-4";
	w.event_text = "0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules.";
	assert_true(run_until(f.base, message_is, &w, WAIT_MS));

	p = pod("api", "1", NULL, NULL, NULL, NULL);
	set_affinity(p, "podAffinity", 0, aff_term("cache", "topology.kubernetes.io/zone"));
	put(&f, &llmo_kube_pods, p);
	w.pod = "api";
	w.node = "gpu-c";
	assert_true(run_until(f.base, waited, &w, WAIT_MS));

	p = pod("batch", "1", NULL, NULL, NULL, NULL);
	set_label(p, "app", "batch");
	json_object_set_new(json_object_get(p, "spec"), "affinity",
			    json_pack("{s:{s:[{s:i, s:{s:[{s:s, s:s, s:[s]}]}}]}}", "nodeAffinity",
				      "preferredDuringSchedulingIgnoredDuringExecution", "weight",
				      100, "preference", "matchExpressions", "key",
				      "topology.kubernetes.io/zone", "operator", "In", "values",
				      "z2"));
	put(&f, &llmo_kube_pods, p);
	w.pod = "batch";
	w.node = NULL;
	assert_true(run_until(f.base, bound, &w, WAIT_MS));
	assert_string_not_equal(node_field(&f, "batch", false), "gpu-c");

	p = pod("bad", "1", NULL, NULL, NULL, NULL);
	set_affinity(p, "podAntiAffinity", 0,
		     json_pack("{s:{s:{s:s}}}", "labelSelector", "matchLabels", "app", "web"));
	put(&f, &llmo_kube_pods, p);
	w.pod = "bad";
	w.event_text = "0/3 nodes are available: the pod's affinity is not valid: "
		       "spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuring"
		       "Execution[0].topologyKey: Required value: can not be empty.";
	assert_true(run_until(f.base, message_is, &w, WAIT_MS));

	llmo_binder_free(b);
	fixture_stop(&f);
}

/*
 * Preferred anti-affinity: noisy (app=noisy) holds one of n-a's two GPUs.
 * quiet (1 GPU) and cpu-quiet (no GPU) prefer (weight 50) to be away from
 * it by host: both go to n-b, where the policy's packing (quiet) and first
 * fit in name order (cpu-quiet) would take n-a.
 */
static void test_pod_affinity_preferred(void **state)
{
	struct kube_fixture f;
	struct llmo_binder *b;
	struct wait w = {.f = &f};
	json_t *p;

	(void)state;
	assert_int_equal(fixture_start(&f), 0);
	add_node(&f, "n-a", "2");
	add_node(&f, "n-b", "2");
	patch_node(&f, "n-a", "{\"metadata\":{\"labels\":{\"kubernetes.io/hostname\":\"n-a\"}}}");
	patch_node(&f, "n-b", "{\"metadata\":{\"labels\":{\"kubernetes.io/hostname\":\"n-b\"}}}");
	p = pod("noisy", "1", NULL, NULL, "n-a", "n-a-0");
	set_label(p, "app", "noisy");
	put(&f, &llmo_kube_pods, p);
	b = start_binder(&f);

	p = pod("quiet", "1", NULL, NULL, NULL, NULL);
	set_affinity(p, "podAntiAffinity", 50, aff_term("noisy", "kubernetes.io/hostname"));
	put(&f, &llmo_kube_pods, p);
	w.pod = "quiet";
	w.node = "n-b";
	assert_true(run_until(f.base, waited, &w, WAIT_MS));

	p = pod("cpu-quiet", "0", NULL, NULL, NULL, NULL);
	set_affinity(p, "podAntiAffinity", 50, aff_term("noisy", "kubernetes.io/hostname"));
	put(&f, &llmo_kube_pods, p);
	w.pod = "cpu-quiet";
	w.node = "n-b";
	assert_true(run_until(f.base, waited, &w, WAIT_MS));

	llmo_binder_free(b);
	fixture_stop(&f);
}

/*
 * Topology spread: gpu-a and gpu-b in zone z1, gpu-c in z2 (4 GPUs each);
 * web pods with maxSkew 1 by zone (DoNotSchedule, nodeAffinityPolicy
 * Ignore): the zones never drift more than one apart (after four, two in
 * each). The fifth goes to some zone Z (3 against 2); a sixth that may only
 * use Z (nodeSelector) would make it 4 against 2, so Z's nodes refuse it
 * for the constraint and the others for the selector.
 */
static void test_topology_spread(void **state)
{
	static const char *const nodes[] = {"gpu-a", "gpu-b", "gpu-c"};
	static const char *const zones[] = {"z1", "z1", "z2"};
	struct kube_fixture f;
	struct llmo_binder *b;
	struct wait w = {.f = &f};
	char patch[256], msg[256], name[16];
	int z1 = 0, z2 = 0;
	bool fifth_z1 = false;
	json_t *p;

	(void)state;
	assert_int_equal(fixture_start(&f), 0);
	for (int i = 0; i < 3; i++) {
		add_node(&f, nodes[i], "4");
		snprintf(patch, sizeof(patch),
			 "{\"metadata\":{\"labels\":{\"topology.kubernetes.io/zone\":\"%s\"}}}",
			 zones[i]);
		patch_node(&f, nodes[i], patch);
	}
	b = start_binder(&f);
	for (int i = 0; i < 6; i++) {
		const char *node;

		snprintf(name, sizeof(name), "web-%d", i + 1);
		p = pod(name, "1", NULL, NULL, NULL, NULL);
		set_label(p, "app", "web");
		json_object_set_new(json_object_get(p, "spec"), "topologySpreadConstraints",
				    json_pack("[{s:i, s:s, s:s, s:{s:{s:s}}, s:s}]", "maxSkew", 1,
					      "topologyKey", "topology.kubernetes.io/zone",
					      "whenUnsatisfiable", "DoNotSchedule", "labelSelector",
					      "matchLabels", "app", "web", "nodeAffinityPolicy",
					      "Ignore"));
		if (i == 5)
			json_object_set_new(json_object_get(p, "spec"), "nodeSelector",
					    json_pack("{s:s}", "topology.kubernetes.io/zone",
						      fifth_z1 ? "z1" : "z2"));
		put(&f, &llmo_kube_pods, p);
		w.pod = name;
		if (i == 5)
			break;
		w.node = NULL;
		assert_true(run_until(f.base, bound, &w, WAIT_MS));
		node = node_field(&f, name, false);
		fifth_z1 = strcmp(node, "gpu-c") != 0;
		z1 += fifth_z1;
		z2 += !fifth_z1;
		assert_true(z1 - z2 <= 1 && z2 - z1 <= 1);
		if (i == 3)
			assert_true(z1 == 2 && z2 == 2);
	}
	snprintf(msg, sizeof(msg),
		 "0/3 nodes are available: %d node(s) didn't match Pod's node affinity/selector, "
		 "%d node(s) didn't match pod topology spread constraints.",
		 fifth_z1 ? 1 : 2, fifth_z1 ? 2 : 1);
	w.event_text = msg;
	assert_true(run_until(f.base, message_is, &w, WAIT_MS));

	llmo_binder_free(b);
	fixture_stop(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_smallest_set),
		cmocka_unit_test(test_min_replicas),
		cmocka_unit_test(test_policy_never),
		cmocka_unit_test(test_policy_always),
		cmocka_unit_test(test_queue_order),
		cmocka_unit_test(test_filters),
		cmocka_unit_test(test_scores),
		cmocka_unit_test(test_performance),
		cmocka_unit_test(test_latency_objective),
		cmocka_unit_test(test_resource_guarantee),
		cmocka_unit_test(test_preferred_affinity),
		cmocka_unit_test(test_gang),
		cmocka_unit_test(test_gang_compete),
		cmocka_unit_test(test_gang_preempt),
		cmocka_unit_test(test_gang_preempt_partial),
		cmocka_unit_test(test_gang_preempt_min_replicas),
		cmocka_unit_test(test_topology),
		cmocka_unit_test(test_gpu_memory_share),
		cmocka_unit_test(test_gpu_memory_filter),
		cmocka_unit_test(test_gpu_memory_preempt),
		cmocka_unit_test(test_gpu_memory_late_node),
		cmocka_unit_test(test_pod_affinity),
		cmocka_unit_test(test_pod_affinity_preferred),
		cmocka_unit_test(test_topology_spread),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
