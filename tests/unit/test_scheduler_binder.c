/*
 * The binder against an in-process `llmo server`: a pod asking a GPU is
 * bound to the one Ready node that has it, a second one is reported
 * Unschedulable (kube-scheduler's message form), a pod for another scheduler
 * is left alone, and deleting the first pod lets the second bind; GPU
 * assignment; the policy's choice where first fit would choose otherwise;
 * the gpuType constraint and its reason in the message; the filters and
 * their message on the parallel path (2,100 nodes); leader election.
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

static json_t *make_node(const char *name)
{
	return json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind", "Node", "metadata",
			 "name", name);
}

static json_t *node_status(bool ready)
{
	return json_pack("{s:{s:{s:s, s:s, s:s}, s:{s:s, s:s, s:s}, s:[{s:s, s:s}]}}", "status",
			 "capacity", "cpu", "4", "memory", "8Gi", "nvidia.com/gpu", "1",
			 "allocatable", "cpu", "4", "memory", "8Gi", "nvidia.com/gpu", "1",
			 "conditions", "type", "Ready", "status", ready ? "True" : "False");
}

static json_t *make_pod(const char *name, const char *sched, const char *gpus)
{
	return json_pack("{s:s, s:s, s:{s:s}, s:{s:s, s:[{s:s, s:s, s:{s:{s:s, s:s, s:s}}}]}}",
			 "apiVersion", "v1", "kind", "Pod", "metadata", "name", name, "spec",
			 "schedulerName", sched, "containers", "name", "main", "image", "vllm",
			 "resources", "requests", "cpu", "500m", "memory", "1Gi",
			 "nvidia.com/gpu", gpus);
}

struct probe {
	struct kube_fixture *f;
	const char *pod;
	const char *want_node; /* bound to this node */
	const char *want_msg;  /* or: PodScheduled False with this in the message */
};

static const char *node_of(json_t *pod)
{
	return json_string_value(json_object_get(json_object_get(pod, "spec"), "nodeName"));
}

static const char *scheduled_msg(json_t *pod)
{
	json_t *conds = json_object_get(json_object_get(pod, "status"), "conditions"), *c;
	size_t i;

	json_array_foreach(conds, i, c) {
		const char *type = json_string_value(json_object_get(c, "type"));
		const char *st = json_string_value(json_object_get(c, "status"));

		if (type && !strcmp(type, "PodScheduled") && st && !strcmp(st, "False"))
			return json_string_value(json_object_get(c, "message"));
	}
	return NULL;
}

static bool probe_pod(void *ctx)
{
	struct probe *p = ctx;
	json_t *pod = NULL;
	bool ok = false;

	if (llmo_kube_get(p->f->client, &llmo_kube_pods, "default", p->pod, &pod, NULL))
		return false;
	if (p->want_node) {
		ok = node_of(pod) && !strcmp(node_of(pod), p->want_node);
	} else {
		const char *m = scheduled_msg(pod);

		ok = m && strstr(m, p->want_msg);
	}
	json_decref(pod);
	return ok;
}

static bool has_failed_event(struct kube_fixture *f, const char *pod)
{
	json_t *list = NULL, *items, *e;
	bool found = false;
	size_t i;

	if (llmo_kube_list(f->client, &llmo_kube_events, "default", NULL, &list, NULL))
		return false;
	items = json_object_get(list, "items");
	json_array_foreach(items, i, e) {
		const char *reason = json_string_value(json_object_get(e, "reason"));
		const char *name = json_string_value(
			json_object_get(json_object_get(e, "involvedObject"), "name"));
		const char *type = json_string_value(json_object_get(e, "type"));
		const char *msg = json_string_value(json_object_get(e, "message"));

		if (reason && !strcmp(reason, "FailedScheduling") && name && !strcmp(name, pod) &&
		    type && !strcmp(type, "Warning") && msg &&
		    strstr(msg, "0/2 nodes are available"))
			found = true;
	}
	json_decref(list);
	return found;
}

static void put(struct kube_fixture *f, const struct llmo_kube_resource *r, json_t *obj)
{
	struct llmo_error err = {0};

	if (llmo_kube_create(f->client, r, r->namespaced ? "default" : NULL, obj, NULL, &err))
		fail_msg("create: %s", err.msg);
	json_decref(obj);
}

static void set_node_status(struct kube_fixture *f, const char *name, bool ready)
{
	struct llmo_error err = {0};
	json_t *patch = node_status(ready);

	if (llmo_kube_patch(f->client, &llmo_kube_nodes, NULL, name, "status",
			    LLMO_KUBE_PATCH_MERGE, patch, NULL, &err))
		fail_msg("node status: %s", err.msg);
	json_decref(patch);
}

static void test_first_fit(void **state)
{
	struct kube_fixture f;
	struct llmo_binder *b = NULL;
	struct llmo_error err = {0};
	struct probe p = {.f = &f};
	json_t *other = NULL;

	(void)state;
	assert_int_equal(fixture_start(&f), 0);
	put(&f, &llmo_kube_nodes, make_node("gpu-a"));
	set_node_status(&f, "gpu-a", true);
	put(&f, &llmo_kube_nodes, make_node("gpu-b"));
	set_node_status(&f, "gpu-b", false);

	assert_int_equal(llmo_binder_new(f.client, f.base, NULL, &b, &err), 0);
	assert_int_equal(llmo_binder_start(b, &err), 0);

	put(&f, &llmo_kube_pods, make_pod("first", "llmo-scheduler", "1"));
	p.pod = "first";
	p.want_node = "gpu-a";
	assert_true(run_until(f.base, probe_pod, &p, WAIT_MS));

	put(&f, &llmo_kube_pods, make_pod("second", "llmo-scheduler", "1"));
	put(&f, &llmo_kube_pods, make_pod("foreign", "default-scheduler", "0"));
	p.pod = "second";
	p.want_node = NULL;
	p.want_msg = "0/2 nodes are available";
	assert_true(run_until(f.base, probe_pod, &p, WAIT_MS));
	p.want_msg = "Insufficient nvidia.com/gpu";
	assert_true(probe_pod(&p));
	p.want_msg = "1 node(s) were not ready";
	assert_true(probe_pod(&p));

	/* the Warning Event is written by the recorder's thread */
	{
		int64_t end = llmo_clock_mono_ms() + WAIT_MS;

		while (!has_failed_event(&f, "second") && llmo_clock_mono_ms() < end)
			run_for(f.base, 50);
		assert_true(has_failed_event(&f, "second"));
	}

	/* a pod for another scheduler stays unbound and untouched */
	assert_int_equal(llmo_kube_get(f.client, &llmo_kube_pods, "default", "foreign", &other,
				       &err),
			 0);
	assert_null(node_of(other));
	assert_null(scheduled_msg(other));
	json_decref(other);

	/*
	 * freeing the GPU lets the second pod bind: a bound pod's delete is
	 * graceful (it stays, holding its GPU, until its node's agent stops it),
	 * so force it as `kubectl delete --grace-period=0 --force` does
	 */
	assert_int_equal(llmo_kube_request(f.client, "DELETE",
					   "/api/v1/namespaces/default/pods/first?gracePeriodSeconds=0",
					   NULL, NULL, NULL, NULL, &err),
			 0);
	p.want_node = "gpu-a";
	assert_true(run_until(f.base, probe_pod, &p, WAIT_MS));
	assert_int_equal(llmo_binder_bound_count(b), 2);

	llmo_binder_free(b);
	fixture_stop(&f);
}

static const char *gpus_of(struct kube_fixture *f, const char *pod)
{
	static char out[128];
	json_t *obj = NULL;
	const char *v;

	out[0] = '\0';
	if (llmo_kube_get(f->client, &llmo_kube_pods, "default", pod, &obj, NULL))
		return out;
	v = json_string_value(json_object_get(json_object_get(json_object_get(obj, "metadata"),
								"annotations"),
					      LLMO_BINDER_GPUS_ANNOTATION));
	if (v && node_of(obj))
		snprintf(out, sizeof(out), "%s", v);
	json_decref(obj);
	return out;
}

struct gpu_probe {
	struct kube_fixture *f;
	const char *pod;
};

static bool pod_has_gpus(void *ctx)
{
	struct gpu_probe *g = ctx;

	return gpus_of(g->f, g->pod)[0] != '\0';
}

/*
 * GPU assignment: whole GPUs go to unused GPUs in index order, a half GPU
 * shares the fullest GPU it fits on, and the ids are the node's GPU uuids.
 */
static void test_gpu_assignment(void **state)
{
	struct kube_fixture f;
	struct llmo_binder *b = NULL;
	struct llmo_error err = {0};
	struct gpu_probe g = {.f = &f};
	struct probe p = {.f = &f};
	json_t *node = json_pack("{s:s, s:s, s:{s:s, s:{s:s}}}", "apiVersion", "v1", "kind",
				 "Node", "metadata", "name", "two-gpus", "annotations",
				 LLMO_BINDER_DEVICES_ANNOTATION,
				 "[{\"index\":0,\"uuid\":\"GPU-aaa\"},{\"index\":1,"
				 "\"uuid\":\"GPU-bbb\"},{\"index\":2,\"uuid\":\"GPU-ccc\"}]");
	json_t *st = json_pack("{s:{s:{s:s, s:s, s:s}, s:[{s:s, s:s}]}}", "status", "allocatable",
			       "cpu", "16", "memory", "64Gi", "nvidia.com/gpu", "3", "conditions",
			       "type", "Ready", "status", "True");

	(void)state;
	assert_int_equal(fixture_start(&f), 0);
	put(&f, &llmo_kube_nodes, node);
	assert_int_equal(llmo_kube_patch(f.client, &llmo_kube_nodes, NULL, "two-gpus", "status",
					 LLMO_KUBE_PATCH_MERGE, st, NULL, &err),
			 0);
	json_decref(st);
	assert_int_equal(llmo_binder_new(f.client, f.base, NULL, &b, &err), 0);
	assert_int_equal(llmo_binder_start(b, &err), 0);

	put(&f, &llmo_kube_pods, make_pod("whole", "llmo-scheduler", "1"));
	g.pod = "whole";
	assert_true(run_until(f.base, pod_has_gpus, &g, WAIT_MS));
	assert_string_equal(gpus_of(&f, "whole"), "GPU-aaa");

	put(&f, &llmo_kube_pods, make_pod("half-1", "llmo-scheduler", "500m"));
	g.pod = "half-1";
	assert_true(run_until(f.base, pod_has_gpus, &g, WAIT_MS));
	assert_string_equal(gpus_of(&f, "half-1"), "GPU-bbb");

	/* best fit: the half-used GPU, not the free one */
	put(&f, &llmo_kube_pods, make_pod("half-2", "llmo-scheduler", "0.5"));
	g.pod = "half-2";
	assert_true(run_until(f.base, pod_has_gpus, &g, WAIT_MS));
	assert_string_equal(gpus_of(&f, "half-2"), "GPU-bbb");

	/* two whole GPUs do not fit: only GPU-ccc is unused */
	put(&f, &llmo_kube_pods, make_pod("two", "llmo-scheduler", "2"));
	p.pod = "two";
	p.want_msg = "Insufficient nvidia.com/gpu";
	assert_true(run_until(f.base, probe_pod, &p, WAIT_MS));
	assert_string_equal(gpus_of(&f, "two"), "");

	llmo_binder_free(b);
	fixture_stop(&f);
}

/*
 * A Ready node with cpu 16, memory 64Gi and ngpus GPUs; devices (the
 * gpu-devices annotation) and product (the GPU feature discovery label)
 * may be NULL.
 */
static void put_gpu_node(struct kube_fixture *f, const char *name, int ngpus, const char *devices,
			 const char *product)
{
	struct llmo_error err = {0};
	json_t *node = make_node(name), *meta = json_object_get(node, "metadata"), *st;
	char n[16];

	if (devices)
		json_object_set_new(meta, "annotations",
				    json_pack("{s:s}", LLMO_BINDER_DEVICES_ANNOTATION, devices));
	if (product)
		json_object_set_new(meta, "labels",
				    json_pack("{s:s}", LLMO_BINDER_GPU_PRODUCT_LABEL, product));
	put(f, &llmo_kube_nodes, node);
	snprintf(n, sizeof(n), "%d", ngpus);
	st = json_pack("{s:{s:{s:s, s:s, s:s}, s:[{s:s, s:s}]}}", "status", "allocatable", "cpu",
		       "16", "memory", "64Gi", "nvidia.com/gpu", n, "conditions", "type", "Ready",
		       "status", "True");
	assert_int_equal(llmo_kube_patch(f->client, &llmo_kube_nodes, NULL, name, "status",
					 LLMO_KUBE_PATCH_MERGE, st, NULL, &err),
			 0);
	json_decref(st);
}

/* make_pod with an annotation (key NULL: none) and, when node is set, already bound there. */
static json_t *make_pod_on(const char *name, const char *sched, const char *gpus,
			   const char *key, const char *value, const char *node)
{
	json_t *pod = make_pod(name, sched, gpus);

	if (key)
		json_object_set_new(json_object_get(pod, "metadata"), "annotations",
				    json_pack("{s:s}", key, value));
	if (node)
		json_object_set_new(json_object_get(pod, "spec"), "nodeName", json_string(node));
	return pod;
}

static void wait_bound(struct kube_fixture *f, const char *pod, const char *node)
{
	struct probe p = {.f = f, .pod = pod, .want_node = node};

	assert_true(run_until(f->base, probe_pod, &p, WAIT_MS));
}

/*
 * The policy, not first fit: node-b's only GPU is half used by a pod bound
 * there, node-a's is free. A half-GPU pod goes to node-b although node-a is
 * first in name order (first fit's choice):
 *   llmo (default), target workload the even mix of 1, 1/2, 2, 4, 8 GPUs:
 *     node-a: fragmentation 0.2 * (0 + 0 + 3 * 1000) = 600 before, 0.2 *
 *     (500 + 0 + 3 * 500) = 400 after: grows by -200;
 *     node-b: 0.2 * (500 + 0 + 3 * 500) = 400 before, 0 after: -400, the
 *     better score;
 *   bestfit (CPU left after it: 15000 on node-b, where "held" asks 500m, 15500
 *     on node-a): 100 * (1 - 15000/128000/2 - 0/8000/2) = 94 on node-b against
 *     100 * (1 - 15500/128000/2 - 500/8000/2) = 90 on node-a.
 * A whole GPU then only fits node-a.
 */
static void test_policy_choice(void **state)
{
	static const enum llmo_sched_policy_kind kinds[] = {LLMO_SCHED_LLMO, LLMO_SCHED_BESTFIT};
	struct kube_fixture f;
	struct llmo_binder *b = NULL;
	struct llmo_error err = {0};
	char name[32];

	(void)state;
	assert_int_equal(fixture_start(&f), 0);
	put_gpu_node(&f, "node-a", 1, NULL, NULL);
	put_gpu_node(&f, "node-b", 1, NULL, NULL);
	assert_int_equal(llmo_binder_new(f.client, f.base, NULL, &b, &err), 0);
	assert_int_equal(llmo_binder_set_policy(b, LLMO_SCHED_POLICY_COUNT), LLMO_EINVAL);
	assert_int_equal(llmo_binder_start(b, &err), 0);
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		assert_int_equal(llmo_binder_set_policy(b, kinds[k]), 0);
		snprintf(name, sizeof(name), "held-%zu", k);
		put(&f, &llmo_kube_pods,
		    make_pod_on(name, "default-scheduler", "500m", LLMO_BINDER_GPUS_ANNOTATION, "0",
				"node-b"));
		snprintf(name, sizeof(name), "half-%zu", k);
		put(&f, &llmo_kube_pods, make_pod(name, "llmo-scheduler", "500m"));
		wait_bound(&f, name, "node-b");
		assert_string_equal(gpus_of(&f, name), "0");
		snprintf(name, sizeof(name), "whole-%zu", k);
		put(&f, &llmo_kube_pods, make_pod(name, "llmo-scheduler", "1"));
		wait_bound(&f, name, "node-a");
		assert_string_equal(gpus_of(&f, name), "0");
		/*
		 * free both nodes for the next policy (forced: a bound pod's
		 * graceful delete waits for its node's agent); the watch shows
		 * the deletes before the next pods
		 */
		for (int i = 0; i < 3; i++) {
			static const char *const pods[] = {"held", "half", "whole"};
			char path[128];

			snprintf(path, sizeof(path),
				 "/api/v1/namespaces/default/pods/%s-%zu?gracePeriodSeconds=0",
				 pods[i], k);
			assert_int_equal(llmo_kube_request(f.client, "DELETE", path, NULL, NULL,
							   NULL, NULL, &err),
					 0);
		}
	}
	llmo_binder_free(b);
	fixture_stop(&f);
}

/*
 * gpuType: matched case-insensitively as a substring of the GPU name, from
 * the gpu-devices annotation or the product label; nodes of other types
 * count under their own reason.
 */
static void test_gpu_type(void **state)
{
	struct kube_fixture f;
	struct llmo_binder *b = NULL;
	struct llmo_error err = {0};
	struct probe p = {.f = &f};

	(void)state;
	assert_int_equal(fixture_start(&f), 0);
	put_gpu_node(&f, "a100-node", 1,
		     "[{\"index\":0,\"uuid\":\"GPU-a1\",\"name\":\"NVIDIA A100-SXM4-80GB\"}]", NULL);
	put_gpu_node(&f, "h100-node", 1, NULL, "NVIDIA-H100-80GB-HBM3");
	put_gpu_node(&f, "t4-node", 1,
		     "[{\"index\":0,\"uuid\":\"GPU-t4\",\"name\":\"Tesla T4\"}]", NULL);
	assert_int_equal(llmo_binder_new(f.client, f.base, NULL, &b, &err), 0);
	assert_int_equal(llmo_binder_start(b, &err), 0);

	/* first fit would take a100-node */
	put(&f, &llmo_kube_pods,
	    make_pod_on("want-h100", "llmo-scheduler", "1", LLMO_BINDER_GPU_TYPE_ANNOTATION, "h100",
			NULL));
	wait_bound(&f, "want-h100", "h100-node");
	put(&f, &llmo_kube_pods,
	    make_pod_on("want-either", "llmo-scheduler", "1", LLMO_BINDER_GPU_TYPE_ANNOTATION,
			"A100 | H100", NULL));
	wait_bound(&f, "want-either", "a100-node");
	assert_string_equal(gpus_of(&f, "want-either"), "GPU-a1");

	/* the two that match are full; the T4 has its GPU but is of another type */
	put(&f, &llmo_kube_pods,
	    make_pod_on("third", "llmo-scheduler", "1", LLMO_BINDER_GPU_TYPE_ANNOTATION,
			"A100|H100", NULL));
	p.pod = "third";
	p.want_msg = "0/3 nodes are available: 2 Insufficient nvidia.com/gpu, 1 node(s) didn't "
		     "match gpuType.";
	assert_true(run_until(f.base, probe_pod, &p, WAIT_MS));

	/* no constraint: the T4 */
	put(&f, &llmo_kube_pods,
	    make_pod_on("any", "llmo-scheduler", "1", LLMO_BINDER_GPU_TYPE_ANNOTATION, " | ", NULL));
	wait_bound(&f, "any", "t4-node");

	llmo_binder_free(b);
	fixture_stop(&f);
}

/* Nodes of test_parallel_filters: past LLMO_SCHED_PARALLEL_MIN_NODES. */
#define PARALLEL_NODES 2100

/*
 * Filters on the parallel path (2 threads, 2,100 nodes of one GPU each):
 * node I is tainted dedicated=llm when I % 3 == 0, in zone z2 when
 * I % 3 == 1, in zone z1 when I % 3 == 2. A pod of zone z1 asking 2 GPUs
 * fits none, and the message counts each node under its first failing
 * filter, 700 each, as the serial loop does; a pod of zone z1 asking 1 GPU
 * goes to n0002, the first z1 node by name (all score alike).
 */
static void test_parallel_filters(void **state)
{
	struct kube_fixture f;
	struct llmo_binder *b = NULL;
	struct llmo_error err = {0};
	struct probe p = {.f = &f};
	json_t *pod;

	(void)state;
	assert_int_equal(fixture_start(&f), 0);
	for (int i = 0; i < PARALLEL_NODES; i++) {
		char name[16];
		json_t *node, *st;

		snprintf(name, sizeof(name), "n%04d", i);
		node = make_node(name);
		if (i % 3 == 0)
			json_object_set_new(node, "spec",
					    json_pack("{s:[{s:s, s:s, s:s}]}", "taints", "key",
						      "dedicated", "value", "llm", "effect",
						      "NoSchedule"));
		else
			json_object_set_new(json_object_get(node, "metadata"), "labels",
					    json_pack("{s:s}", "zone", i % 3 == 1 ? "z2" : "z1"));
		put(&f, &llmo_kube_nodes, node);
		st = node_status(true);
		assert_int_equal(llmo_kube_patch(f.client, &llmo_kube_nodes, NULL, name, "status",
						 LLMO_KUBE_PATCH_MERGE, st, NULL, &err),
				 0);
		json_decref(st);
	}
	assert_int_equal(llmo_binder_new(f.client, f.base, NULL, &b, &err), 0);
	assert_int_equal(llmo_binder_set_parallelism(b, 2), 0);
	assert_int_equal(llmo_binder_set_parallelism(b, 65), LLMO_EINVAL);
	assert_int_equal(llmo_binder_start(b, &err), 0);

	pod = make_pod("two", "llmo-scheduler", "2");
	json_object_set_new(json_object_get(pod, "spec"), "nodeSelector",
			    json_pack("{s:s}", "zone", "z1"));
	put(&f, &llmo_kube_pods, pod);
	p.pod = "two";
	p.want_msg = "0/2100 nodes are available: 700 Insufficient nvidia.com/gpu, 700 node(s) "
		     "had untolerated taint {dedicated: llm}, 700 node(s) didn't match Pod's node "
		     "affinity/selector.";
	assert_true(run_until(f.base, probe_pod, &p, WAIT_MS));

	pod = make_pod("one", "llmo-scheduler", "1");
	json_object_set_new(json_object_get(pod, "spec"), "nodeSelector",
			    json_pack("{s:s}", "zone", "z1"));
	put(&f, &llmo_kube_pods, pod);
	wait_bound(&f, "one", "n0002");

	llmo_binder_free(b);
	fixture_stop(&f);
}

static bool leads(void *ctx)
{
	return llmo_binder_is_leader(ctx);
}

static struct llmo_binder *candidate(struct kube_fixture *f, const char *identity)
{
	struct llmo_binder *b = NULL;
	struct llmo_error err = {0};

	assert_int_equal(llmo_binder_new(f->client, f->base, NULL, &b, &err), 0);
	assert_int_equal(llmo_binder_set_leader_election(b, "llm-orchestrator", identity, 1000,
							 800, 200, &err),
			 0);
	assert_int_equal(llmo_binder_start(b, &err), 0);
	return b;
}

/*
 * Leader election: of two binders on the Lease llmo-scheduler only the
 * leader binds; when it stops (releasing the Lease) the other takes over.
 */
static void test_leader_election(void **state)
{
	struct kube_fixture f;
	struct llmo_binder *one, *two;

	(void)state;
	assert_int_equal(fixture_start(&f), 0);
	put(&f, &llmo_kube_nodes, make_node("gpu-a"));
	set_node_status(&f, "gpu-a", true);
	one = candidate(&f, "one");
	assert_true(run_until(f.base, leads, one, WAIT_MS));
	two = candidate(&f, "two");
	put(&f, &llmo_kube_pods, make_pod("p1", "llmo-scheduler", "0"));
	put(&f, &llmo_kube_pods, make_pod("p2", "llmo-scheduler", "0"));
	put(&f, &llmo_kube_pods, make_pod("p3", "llmo-scheduler", "0"));
	wait_bound(&f, "p1", "gpu-a");
	wait_bound(&f, "p2", "gpu-a");
	wait_bound(&f, "p3", "gpu-a");
	assert_int_equal(llmo_binder_bound_count(one), 3);
	assert_int_equal(llmo_binder_bound_count(two), 0);
	assert_false(llmo_binder_is_leader(two));

	llmo_binder_free(one);
	assert_true(run_until(f.base, leads, two, WAIT_MS));
	put(&f, &llmo_kube_pods, make_pod("p4", "llmo-scheduler", "0"));
	wait_bound(&f, "p4", "gpu-a");
	assert_int_equal(llmo_binder_bound_count(two), 1);

	llmo_binder_free(two);
	fixture_stop(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_fit),
		cmocka_unit_test(test_gpu_assignment),
		cmocka_unit_test(test_policy_choice),
		cmocka_unit_test(test_gpu_type),
		cmocka_unit_test(test_parallel_filters),
		cmocka_unit_test(test_leader_election),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
