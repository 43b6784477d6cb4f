/*
 * The first-fit binder against an in-process `llmo server`: a pod asking a
 * GPU is bound to the one Ready node that has it, a second one is reported
 * Unschedulable (kube-scheduler's message form), a pod for another scheduler
 * is left alone, and deleting the first pod lets the second bind.
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

	/* freeing the GPU lets the second pod bind */
	assert_int_equal(llmo_kube_delete(f.client, &llmo_kube_pods, "default", "first",
					  LLMO_KUBE_PROPAGATE_DEFAULT, NULL, &err),
			 0);
	p.want_node = "gpu-a";
	assert_true(run_until(f.base, probe_pod, &p, WAIT_MS));
	assert_int_equal(llmo_binder_bound_count(b), 2);

	llmo_binder_free(b);
	fixture_stop(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_fit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
