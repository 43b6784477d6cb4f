/*
 * The controller against an in-process `llmo server` with no scheduler or
 * agent: the test plays the node by writing pod status itself. It checks the
 * pod template (labels, owner, scheduler, resources, local command, probes),
 * the Service, the status conditions, the replacement of a failed replica
 * with a Warning Event, scale-out and scale-in, a rolling replacement after
 * a model change, the finalizer, the LLMModel phase and usedBy, and that of
 * two controllers with leader election only one acts.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/common.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <pthread.h>
#include <signal.h>

#include "api/config.h"
#include "api/usage.h"
#include "base/clock.h"
#include "base/file.h"
#include "base/json.h"
#include "base/buf.h"
#include "controller/controller.h"
#include "controller/controller_int.h"
#include "kube/leader.h"
#include "scheduler/filter.h"
#include "kube_fixture.h"
#include "registry/fetch.h"
#include "test_fs.h"

#define WAIT_MS 20000
#define NS "llm"

static void put(struct kube_fixture *f, const struct llmo_kube_resource *r, json_t *obj)
{
	struct llmo_error err = {0};

	if (llmo_kube_create(f->client, r, r->namespaced ? NS : NULL, obj, NULL, &err))
		fail_msg("create: %s", err.msg);
	json_decref(obj);
}

static json_t *model(const char *name, const char *version, const char *ref)
{
	return json_pack("{s:s, s:s, s:{s:s}, s:{s:s, s:s, s:s, s:s, s:{s:s}, s:{s:s, s:i, s:s, "
			 "s:[s, s, s, s]}, s:{s:{s:s, s:s, s:s}}}}",
			 "apiVersion", "llm.orchestrator.io/v1", "kind", "LLMModel", "metadata",
			 "name", name, "spec", "name", "llama2", "version", version, "type",
			 "text-generation", "framework", "vllm", "artifact", "reference", ref,
			 "runtime", "image", "vllm/vllm-openai:v0.6.3", "port", 8000, "healthPath",
			 "/health", "localCommand", "llmo", "inference-sim", "--port", "$(PORT)",
			 "resources", "recommended", "cpu", "4", "memory", "16Gi", "gpu", "1");
}

static json_t *workload(const char *name, int min)
{
	return json_pack("{s:s, s:s, s:{s:s}, s:{s:s, s:s, s:s, s:{s:s}, s:{s:i, s:i}}}",
			 "apiVersion", "llm.orchestrator.io/v1", "kind", "LLMWorkload", "metadata",
			 "name", name, "spec", "modelName", "llama2", "modelVersion", "7b",
			 "modelType", "text-generation", "resources", "cpu", "2", "scaling",
			 "minReplicas", min, "maxReplicas", 5);
}

struct pods {
	json_t *items[16];
	size_t n;
	json_t *list;
};

/* The workload's pods that are not being deleted. */
static void list_pods(struct kube_fixture *f, const char *w, struct pods *p)
{
	struct llmo_kube_list_opts o = {0};
	char sel[128];
	json_t *it;
	size_t i;

	snprintf(sel, sizeof(sel), "llm.orchestrator.io/workload=%s", w);
	o.label_selector = sel;
	p->n = 0;
	p->list = NULL;
	if (llmo_kube_list(f->client, &llmo_kube_pods, NS, &o, &p->list, NULL))
		return;
	json_array_foreach(json_object_get(p->list, "items"), i, it) {
		if (!json_object_get(json_object_get(it, "metadata"), "deletionTimestamp") &&
		    p->n < 16)
			p->items[p->n++] = it;
	}
}

struct want {
	struct kube_fixture *f;
	const char *workload;
	size_t pods;
};

static bool has_pods(void *ctx)
{
	struct want *w = ctx;
	struct pods p;
	bool ok;

	list_pods(w->f, w->workload, &p);
	ok = p.n == w->pods;
	json_decref(p.list);
	return ok;
}

/*
 * At least w->pods pods: an autoscaler's count from a measured rate may come
 * out one higher when the test's clock and the scrapes drift apart under load.
 */
static bool has_min_pods(void *ctx)
{
	struct want *w = ctx;
	struct pods p;
	bool ok;

	list_pods(w->f, w->workload, &p);
	ok = p.n >= w->pods;
	json_decref(p.list);
	return ok;
}

/* w->pods pods, none of them Failed. */
static bool has_fresh_pods(void *ctx)
{
	struct want *w = ctx;
	struct pods p;
	bool ok;

	list_pods(w->f, w->workload, &p);
	ok = p.n == w->pods;
	for (size_t i = 0; i < p.n; i++) {
		const char *ph = json_string_value(
			json_object_get(json_object_get(p.items[i], "status"), "phase"));

		if (ph && strcmp(ph, "Failed") == 0)
			ok = false;
	}
	json_decref(p.list);
	return ok;
}

/* Plays the agent: marks every pod of the workload Running and Ready (or Failed). */
static void set_pods(struct kube_fixture *f, const char *w, const char *phase, bool ready)
{
	struct pods p;

	list_pods(f, w, &p);
	for (size_t i = 0; i < p.n; i++) {
		const char *name = meta_str(p.items[i], "name");
		json_t *patch = json_pack("{s:{s:s, s:s, s:[{s:s, s:s}]}}", "status", "phase", phase,
					  "podIP", "127.0.0.1", "conditions", "type", "Ready",
					  "status", ready ? "True" : "False");
		struct llmo_error err = {0};

		if (llmo_kube_patch(f->client, &llmo_kube_pods, NS, name, "status",
				    LLMO_KUBE_PATCH_MERGE, patch, NULL, &err))
			fail_msg("pod status: %s", err.msg);
		json_decref(patch);
	}
	json_decref(p.list);
}

struct cond {
	struct kube_fixture *f;
	const struct llmo_kube_resource *r;
	const char *name;
	const char *path; /* "status.phase" or a condition type */
	const char *want;
};

static bool has_cond(void *ctx)
{
	struct cond *c = ctx;
	json_t *obj = NULL, *conds, *it;
	bool ok = false;
	size_t i;

	if (llmo_kube_get(c->f->client, c->r, NS, c->name, &obj, NULL))
		return false;
	if (strcmp(c->path, "phase") == 0) {
		const char *ph = json_string_value(
			json_object_get(json_object_get(obj, "status"), "phase"));

		ok = ph && strcmp(ph, c->want) == 0;
	} else {
		conds = json_object_get(json_object_get(obj, "status"), "conditions");
		json_array_foreach(conds, i, it) {
			const char *t = json_string_value(json_object_get(it, "type"));
			const char *st = json_string_value(json_object_get(it, "status"));

			if (t && strcmp(t, c->path) == 0 && st && strcmp(st, c->want) == 0)
				ok = true;
		}
	}
	json_decref(obj);
	return ok;
}

static bool has_event(struct kube_fixture *f, const char *reason)
{
	json_t *list = NULL, *e;
	bool found = false;
	size_t i;

	if (llmo_kube_list(f->client, &llmo_kube_events, NS, NULL, &list, NULL))
		return false;
	json_array_foreach(json_object_get(list, "items"), i, e) {
		const char *r = json_string_value(json_object_get(e, "reason"));

		if (r && strcmp(r, reason) == 0)
			found = true;
	}
	json_decref(list);
	return found;
}

static bool event_seen(void *ctx)
{
	struct cond *c = ctx;

	return has_event(c->f, c->want);
}

/* Waits (bounded) for an Event with this reason. */
static void wait_event(struct kube_fixture *f, const char *reason)
{
	struct cond ev = {.f = f, .want = reason};

	assert_true(run_until(f->base, event_seen, &ev, WAIT_MS));
}

static bool gone(void *ctx)
{
	struct cond *c = ctx;
	json_t *obj = NULL;
	int rc = llmo_kube_get(c->f->client, c->r, NS, c->name, &obj, NULL);

	json_decref(obj);
	return rc == LLMO_ENOTFOUND;
}

static void make_ns(struct kube_fixture *f)
{
	put(f, &llmo_kube_namespaces,
	    json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind", "Namespace", "metadata",
		      "name", NS));
}

static struct llmo_controller *start_controller(struct kube_fixture *f, bool elect,
						const char *id)
{
	struct llmo_controller_opts o = {.leader_election = elect, .identity = id,
					 .backoff_base_ms = 200, .backoff_max_ms = 1000};
	struct llmo_controller *c = NULL;
	struct llmo_error err = {0};

	if (llmo_controller_new(f->client, f->base, &o, &c, &err) ||
	    llmo_controller_start(c, &err))
		fail_msg("controller: %s", err.msg);
	return c;
}

static void test_workload_lifecycle(void **state)
{
	struct kube_fixture f;
	struct llmo_controller *c;
	struct want w = {.f = &f, .workload = "chat", .pods = 2};
	struct cond cd = {.f = &f, .r = &llmo_kube_llmworkloads, .name = "chat"};
	struct llmo_error err = {0};
	struct pods p;
	json_t *svc = NULL, *obj = NULL, *ctr, *patch;

	(void)state;
	assert_int_equal(fixture_start(&f), 0);
	make_ns(&f);
	c = start_controller(&f, false, NULL);

	/* no model yet: Pending, ModelResolved False, no pods */
	put(&f, &llmo_kube_llmworkloads, workload("chat", 2));
	cd.path = "ModelResolved";
	cd.want = "False";
	assert_true(run_until(f.base, has_cond, &cd, WAIT_MS));
	cd.path = "phase";
	cd.want = "Pending";
	assert_true(has_cond(&cd));
	w.pods = 0;
	assert_true(has_pods(&w));

	/* the model arrives: two replicas from the template */
	put(&f, &llmo_kube_llmmodels, model("llama2-7b", "7b", "registry.local/models/llama2:7b"));
	w.pods = 2;
	assert_true(run_until(f.base, has_pods, &w, WAIT_MS));
	/*
	 * spec.placement.clusters (cross-cluster scheduling, not implemented) is
	 * reported, not ignored: PlacementSatisfied False; a workload without it
	 * has no such condition
	 */
	{
		json_t *far = workload("far", 1);
		struct cond fc = {.f = &f, .r = &llmo_kube_llmworkloads, .name = "far",
				  .path = "PlacementSatisfied", .want = "False"};

		json_object_set_new(json_object_get(far, "spec"), "placement",
				    json_pack("{s:[s, s]}", "clusters", "cluster-1", "cluster-2"));
		put(&f, &llmo_kube_llmworkloads, far);
		assert_true(run_until(f.base, has_cond, &fc, WAIT_MS));
		fc.name = "chat";
		assert_false(has_cond(&fc));
		fc.want = "True";
		assert_false(has_cond(&fc));
	}
	/*
	 * spec.modelSize fills what neither the workload nor the model gives:
	 * here only the GPU memory (the model recommends cpu, memory and a
	 * GPU), 80Gi for large
	 */
	{
		json_t *sized = workload("sized", 1);
		struct pods sp;

		json_object_set_new(json_object_get(sized, "spec"), "modelSize",
				    json_string("large"));
		put(&f, &llmo_kube_llmworkloads, sized);
		w.workload = "sized";
		w.pods = 1;
		assert_true(run_until(f.base, has_pods, &w, WAIT_MS));
		list_pods(&f, "sized", &sp);
		assert_string_equal(json_string_value(json_object_get(
					    json_object_get(json_object_get(sp.items[0], "metadata"),
							    "annotations"),
					    "llm.orchestrator.io/gpu-memory")),
				    "80Gi");
		json_decref(sp.list);
		w.workload = "chat";
		w.pods = 2;
	}
	list_pods(&f, "chat", &p);
	ctr = json_array_get(json_object_get(json_object_get(p.items[0], "spec"), "containers"), 0);
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(p.items[0], "spec"), "schedulerName")),
			    "llmo-scheduler");
	assert_string_equal(json_string_value(json_object_get(ctr, "image")),
			    "vllm/vllm-openai:v0.6.3");
	/* spec.resources.cpu wins; memory and gpu come from the model's recommendation */
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(json_object_get(ctr, "resources"), "requests"),
				    "cpu")),
			    "2");
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(json_object_get(ctr, "resources"), "requests"),
				    "memory")),
			    "16Gi");
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(json_object_get(ctr, "resources"), "limits"),
				    "nvidia.com/gpu")),
			    "1");
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(json_object_get(ctr, "readinessProbe"),
						    "httpGet"),
				    "path")),
			    "/health");
	{
		json_t *md = json_object_get(p.items[0], "metadata");
		json_t *labels = json_object_get(md, "labels");
		json_t *own = json_array_get(json_object_get(md, "ownerReferences"), 0);

		assert_string_equal(json_string_value(json_object_get(labels,
								      LLMO_LABEL_WORKLOAD)),
				    "chat");
		assert_string_equal(json_string_value(json_object_get(labels, LLMO_LABEL_MODEL)),
				    "llama2");
		assert_string_equal(json_string_value(json_object_get(labels,
								      LLMO_LABEL_VERSION)),
				    "7b");
		assert_string_equal(json_string_value(json_object_get(labels, LLMO_LABEL_TRACK)),
				    "stable");
		assert_string_equal(json_string_value(json_object_get(own, "kind")),
				    "LLMWorkload");
		assert_true(json_is_true(json_object_get(own, "controller")));
		assert_non_null(strstr(json_string_value(json_object_get(
					       json_object_get(md, "annotations"),
					       LLMO_ANNOTATION_LOCAL_COMMAND)),
				       "inference-sim"));
	}
	json_decref(p.list);
	assert_int_equal(llmo_kube_get(f.client, &llmo_kube_services, NS, "chat", &svc, &err), 0);
	assert_int_equal(json_integer_value(json_object_get(
				 json_array_get(json_object_get(json_object_get(svc, "spec"), "ports"),
						0),
				 "port")),
			 8000);
	json_decref(svc);
	cd.path = "Ready";
	cd.want = "False";
	assert_true(run_until(f.base, has_cond, &cd, WAIT_MS));

	/* the replicas become ready: Ready True, Running, endpoints */
	set_pods(&f, "chat", "Running", true);
	cd.path = "Ready";
	cd.want = "True";
	assert_true(run_until(f.base, has_cond, &cd, WAIT_MS));
	cd.path = "phase";
	cd.want = "Running";
	assert_true(run_until(f.base, has_cond, &cd, WAIT_MS));
	assert_int_equal(llmo_kube_get(f.client, &llmo_kube_llmworkloads, NS, "chat", &obj, &err),
			 0);
	assert_int_equal(json_array_size(json_object_get(json_object_get(obj, "status"),
							 "endpoints")),
			 2);
	assert_string_equal(json_string_value(json_array_get(
				    json_object_get(json_object_get(obj, "status"), "endpoints"), 0)),
			    "127.0.0.1:8000");
	json_decref(obj);

	/* the model lists its user */
	{
		json_t *m = NULL;
		struct cond mc = {.f = &f, .r = &llmo_kube_llmmodels, .name = "llama2-7b",
				  .path = "phase", .want = "Available"};

		assert_true(run_until(f.base, has_cond, &mc, WAIT_MS));
		assert_int_equal(llmo_kube_get(f.client, &llmo_kube_llmmodels, NS, "llama2-7b", &m,
					       &err),
				 0);
		assert_string_equal(json_string_value(json_array_get(
					    json_object_get(json_object_get(m, "status"), "usedBy"),
					    0)),
				    "chat");
		json_decref(m);
	}

	/* a failed replica is replaced, with a Warning Event */
	set_pods(&f, "chat", "Failed", false);
	cd.path = "ReplicaFailed";
	cd.want = "ReplicaFailed";
	assert_true(run_until(f.base, event_seen, &cd, WAIT_MS));
	/* the replacements are new pods, not Failed ones (the Event may come before the delete) */
	assert_true(run_until(f.base, has_fresh_pods, &w, WAIT_MS));

	/* scale out through minReplicas, then in */
	patch = json_pack("{s:{s:{s:i}}}", "spec", "scaling", "minReplicas", 3);
	assert_int_equal(llmo_kube_patch(f.client, &llmo_kube_llmworkloads, NS, "chat", NULL,
					 LLMO_KUBE_PATCH_MERGE, patch, NULL, &err),
			 0);
	json_decref(patch);
	w.pods = 3;
	assert_true(run_until(f.base, has_pods, &w, WAIT_MS));
	patch = json_pack("{s:{s:{s:i}}}", "spec", "scaling", "minReplicas", 1);
	assert_int_equal(llmo_kube_patch(f.client, &llmo_kube_llmworkloads, NS, "chat", NULL,
					 LLMO_KUBE_PATCH_MERGE, patch, NULL, &err),
			 0);
	json_decref(patch);
	w.pods = 1;
	assert_true(run_until(f.base, has_pods, &w, WAIT_MS));
	set_pods(&f, "chat", "Running", true);
	cd.path = "Ready";
	cd.want = "True";
	assert_true(run_until(f.base, has_cond, &cd, WAIT_MS));

	/* a new model version: the replica is replaced by one of the new template */
	put(&f, &llmo_kube_llmmodels, model("llama2-7b-v2", "7b-v2", "registry.local/models/llama2:7b-v2"));
	patch = json_pack("{s:{s:s}}", "spec", "modelVersion", "7b-v2");
	assert_int_equal(llmo_kube_patch(f.client, &llmo_kube_llmworkloads, NS, "chat", NULL,
					 LLMO_KUBE_PATCH_MERGE, patch, NULL, &err),
			 0);
	json_decref(patch);
	cd.path = "phase";
	cd.want = "Updating";
	assert_true(run_until(f.base, has_cond, &cd, WAIT_MS));
	w.pods = 2; /* one surge replica beside the old one */
	assert_true(run_until(f.base, has_pods, &w, WAIT_MS));
	set_pods(&f, "chat", "Running", true);
	w.pods = 1;
	assert_true(run_until(f.base, has_pods, &w, WAIT_MS));
	list_pods(&f, "chat", &p);
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(json_object_get(p.items[0], "metadata"), "labels"),
				    LLMO_LABEL_VERSION)),
			    "7b-v2");
	json_decref(p.list);

	/* delete: the finalizer removes the pods and the Service, then the workload goes */
	assert_int_equal(llmo_kube_delete(f.client, &llmo_kube_llmworkloads, NS, "chat",
					  LLMO_KUBE_PROPAGATE_DEFAULT, NULL, &err),
			 0);
	assert_true(run_until(f.base, gone, &cd, WAIT_MS));
	w.pods = 0;
	assert_true(has_pods(&w));
	cd.r = &llmo_kube_services;
	assert_true(run_until(f.base, gone, &cd, WAIT_MS));

	llmo_controller_free(c);
	fixture_stop(&f);
}

static void test_model_reference(void **state)
{
	struct kube_fixture f;
	struct llmo_controller *c;
	struct cond mc = {.f = &f, .r = &llmo_kube_llmmodels, .path = "phase"};

	(void)state;
	assert_int_equal(fixture_start(&f), 0);
	make_ns(&f);
	c = start_controller(&f, false, NULL);
	put(&f, &llmo_kube_llmmodels, model("good", "1", "localhost:5000/models/llama2@sha256:"
					    "0123456789abcdef0123456789abcdef0123456789abcdef"
					    "0123456789abcdef"));
	put(&f, &llmo_kube_llmmodels, model("upper", "2", "registry.local/Models/llama2:7b"));
	put(&f, &llmo_kube_llmmodels, model("relative", "3", "file://models/llama2"));
	put(&f, &llmo_kube_llmmodels, model("local", "4", "file:///var/lib/models/llama2"));
	mc.name = "good";
	mc.want = "Available";
	assert_true(run_until(f.base, has_cond, &mc, WAIT_MS));
	mc.name = "local";
	assert_true(run_until(f.base, has_cond, &mc, WAIT_MS));
	mc.name = "upper";
	mc.want = "Failed";
	assert_true(run_until(f.base, has_cond, &mc, WAIT_MS));
	mc.name = "relative";
	assert_true(run_until(f.base, has_cond, &mc, WAIT_MS));
	mc.want = "InvalidArtifact";
	assert_true(run_until(f.base, event_seen, &mc, WAIT_MS));
	llmo_controller_free(c);
	fixture_stop(&f);
}

struct pod_ann {
	struct kube_fixture *f;
	const char *workload, *key, *want; /* want NULL: the annotation is absent */
};

/* The workload has a pod, and its annotation key is want. */
static bool pod_annotated(void *ctx)
{
	struct pod_ann *a = ctx;
	struct pods p;
	bool ok;

	list_pods(a->f, a->workload, &p);
	ok = p.n > 0;
	for (size_t i = 0; i < p.n && ok; i++) {
		const char *v = json_string_value(json_object_get(
			json_object_get(json_object_get(p.items[i], "metadata"), "annotations"),
			a->key));

		ok = a->want ? v && strcmp(v, a->want) == 0 : v == NULL;
	}
	json_decref(p.list);
	return ok;
}

/*
 * The condition type of object name of r (an LLMWorkload when r is NULL):
 * whether it is there, and its status, reason and message (n bytes each).
 */
static bool cond_of(struct kube_fixture *f, const struct llmo_kube_resource *r, const char *name,
		    const char *type, char *status, char *reason, char *msg, size_t n)
{
	json_t *obj = NULL, *it;
	bool found = false;
	size_t i;

	if (llmo_kube_get(f->client, r ? r : &llmo_kube_llmworkloads, NS, name, &obj, NULL))
		return false;
	json_array_foreach(json_object_get(json_object_get(obj, "status"), "conditions"), i, it) {
		const char *t = json_string_value(json_object_get(it, "type"));
		const char *st = json_string_value(json_object_get(it, "status"));
		const char *rs = json_string_value(json_object_get(it, "reason"));
		const char *m = json_string_value(json_object_get(it, "message"));

		if (t && strcmp(t, type) == 0) {
			snprintf(status, n, "%s", st ? st : "");
			snprintf(reason, n, "%s", rs ? rs : "");
			snprintf(msg, n, "%s", m ? m : "");
			found = true;
		}
	}
	json_decref(obj);
	return found;
}

/*
 * The condition type of object name of r (NULL, NULL: the LLMWorkload
 * chat) has reason want (other: any reason but want), status status (NULL:
 * any) and a message containing text (NULL: any).
 */
struct cond_reason {
	struct kube_fixture *f;
	const struct llmo_kube_resource *r;
	const char *name, *type, *want, *text, *status;
	bool other;
};

static bool cond_reason_is(void *ctx)
{
	struct cond_reason *cr = ctx;
	char status[1024], reason[1024], msg[1024];

	return cond_of(cr->f, cr->r, cr->name ? cr->name : "chat", cr->type, status, reason, msg,
		       sizeof(msg)) &&
	       (strcmp(reason, cr->want) == 0) != cr->other &&
	       (!cr->status || strcmp(status, cr->status) == 0) &&
	       (!cr->text || strstr(msg, cr->text));
}

/*
 * spec.signature: a keyRef naming no trusted key fails the model (Ready
 * False, UnknownSignatureKey, an Event) until the key appears; one naming
 * a trusted key is Available; replicas of a model pinned by digest carry
 * the requirement to the agent's fetch step as annotations.
 */
static void test_model_signature(void **state)
{
	struct kube_fixture f;
	struct llmo_controller *c = NULL;
	struct llmo_controller_opts o = {.backoff_base_ms = 200, .backoff_max_ms = 1000};
	struct cond mc = {.f = &f, .r = &llmo_kube_llmmodels, .path = "phase"};
	struct cond_reason rr = {.f = &f, .r = &llmo_kube_llmmodels, .name = "unknown",
				 .type = "Ready", .status = "False", .want = "UnknownSignatureKey",
				 .text = "spec.signature.keyRef: no public key called missing"};
	struct pod_ann pa = {.f = &f, .workload = "signed"};
	struct llmo_error err = {0};
	char keys[64], p[PATH_MAX];
	json_t *m;

	(void)state;
	snprintf(keys, sizeof(keys), "/tmp/llmo-test-ctrl-keys-XXXXXX");
	assert_non_null(mkdtemp(keys));
	snprintf(p, sizeof(p), "%s/release.pub", keys);
	assert_int_equal(llmo_file_write_atomic(p, "x", 1, 0644, NULL), 0);
	o.trusted_keys = keys;
	assert_int_equal(fixture_start(&f), 0);
	make_ns(&f);
	if (llmo_controller_new(f.client, f.base, &o, &c, &err) || llmo_controller_start(c, &err))
		fail_msg("controller: %s", err.msg);
	m = model("unknown", "1", "localhost:5000/models/llama2:1");
	json_object_set_new(json_object_get(m, "spec"), "signature",
			    json_pack("{s:b, s:s}", "required", 1, "keyRef", "missing"));
	put(&f, &llmo_kube_llmmodels, m);
	m = model("llama2-7b", "7b", "localhost:5000/models/llama2:7b");
	json_object_set_new(json_object_get(m, "spec"), "artifact",
			    json_pack("{s:s, s:s}", "reference", "localhost:5000/models/llama2:7b",
				      "digest",
				      "sha256:0123456789abcdef0123456789abcdef0123456789abcdef"
				      "0123456789abcdef"));
	json_object_set_new(json_object_get(m, "spec"), "signature",
			    json_pack("{s:b, s:s}", "required", 1, "keyRef", "release"));
	put(&f, &llmo_kube_llmmodels, m);
	mc.name = "unknown";
	mc.want = "Failed";
	assert_true(run_until(f.base, has_cond, &mc, WAIT_MS));
	assert_true(run_until(f.base, cond_reason_is, &rr, WAIT_MS));
	wait_event(&f, "UnknownSignatureKey");
	mc.name = "llama2-7b";
	mc.want = "Available";
	assert_true(run_until(f.base, has_cond, &mc, WAIT_MS));
	/* the replicas of the signed model say what their fetch must check */
	put(&f, &llmo_kube_llmworkloads, workload("signed", 1));
	pa.key = LLMO_ANNOTATION_SIGNATURE_REQUIRED;
	pa.want = "true";
	assert_true(run_until(f.base, pod_annotated, &pa, WAIT_MS));
	pa.key = LLMO_ANNOTATION_SIGNATURE_KEY;
	pa.want = "release";
	assert_true(run_until(f.base, pod_annotated, &pa, WAIT_MS));
	/* the missing key appears: the model is checked again and becomes Available */
	snprintf(p, sizeof(p), "%s/missing.pub", keys);
	assert_int_equal(llmo_file_write_atomic(p, "x", 1, 0644, NULL), 0);
	mc.name = "unknown";
	mc.want = "Available";
	assert_true(run_until(f.base, has_cond, &mc, WAIT_MS));
	llmo_controller_free(c);
	fixture_stop(&f);
	test_rm_rf(keys);
}

static bool leads(void *ctx)
{
	return llmo_controller_is_leader(ctx);
}

/* Two controllers with leader election: one acts, so replicas are not doubled. */
static void test_leader_election(void **state)
{
	struct kube_fixture f;
	struct llmo_controller *a, *b;
	struct want w = {.f = &f, .workload = "solo", .pods = 2};

	(void)state;
	assert_int_equal(fixture_start(&f), 0);
	make_ns(&f);
	a = start_controller(&f, true, "one");
	b = start_controller(&f, true, "two");
	put(&f, &llmo_kube_llmmodels, model("llama2-7b", "7b", "registry.local/models/llama2:7b"));
	put(&f, &llmo_kube_llmworkloads, workload("solo", 2));
	assert_true(run_until(f.base, has_pods, &w, WAIT_MS));
	/* a while longer: still two, and exactly one leads */
	run_for(f.base, 1500);
	assert_true(has_pods(&w));
	assert_true(llmo_controller_is_leader(a) != llmo_controller_is_leader(b));
	assert_int_equal(llmo_controller_pods_created(a) + llmo_controller_pods_created(b), 2);

	/* the leader stops (releasing the Lease): the other takes over and adds nothing twice */
	if (llmo_controller_is_leader(b)) {
		struct llmo_controller *t = a;

		a = b;
		b = t;
	}
	llmo_controller_free(a);
	assert_true(run_until(f.base, leads, b, WAIT_MS));
	{
		struct llmo_error err = {0};
		json_t *patch = json_pack("{s:{s:{s:i}}}", "spec", "scaling", "minReplicas", 3);

		assert_int_equal(llmo_kube_patch(f.client, &llmo_kube_llmworkloads, NS, "solo", NULL,
						 LLMO_KUBE_PATCH_MERGE, patch, NULL, &err),
				 0);
		json_decref(patch);
	}
	w.pods = 3;
	assert_true(run_until(f.base, has_pods, &w, WAIT_MS));
	run_for(f.base, 1000);
	assert_true(has_pods(&w));
	assert_int_equal(llmo_controller_pods_created(b), 1);
	llmo_controller_free(b);
	fixture_stop(&f);
}

static bool node_ready_is(struct kube_fixture *f, const char *name, const char *want)
{
	json_t *node = NULL, *c;
	bool ok = false;
	size_t i;

	if (llmo_kube_get(f->client, &llmo_kube_nodes, NULL, name, &node, NULL))
		return false;
	json_array_foreach(json_object_get(json_object_get(node, "status"), "conditions"), i, c) {
		if (strcmp(json_string_value(json_object_get(c, "type")), "Ready") == 0)
			ok = strcmp(json_string_value(json_object_get(c, "status")), want) == 0;
	}
	json_decref(node);
	return ok;
}

static bool silent_unknown(void *ctx)
{
	return node_ready_is(ctx, "silent", "Unknown");
}

static void node_with_lease(struct kube_fixture *f, const char *name, int64_t renew_ms)
{
	struct llmo_error err = {0};
	char renew[LLMO_MICROTIME_MAX], now[64];
	json_t *st;

	llmo_kube_microtime(renew_ms, renew, sizeof(renew));
	llmo_time_format_rfc3339(renew_ms, false, now, sizeof(now));
	put(f, &llmo_kube_nodes,
	    json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind", "Node", "metadata",
		      "name", name));
	st = json_pack("{s:{s:[{s:s, s:s, s:s, s:s}]}}", "status", "conditions", "type", "Ready",
		       "status", "True", "reason", "KubeletReady", "lastHeartbeatTime", now);
	if (llmo_kube_patch(f->client, &llmo_kube_nodes, NULL, name, "status",
			    LLMO_KUBE_PATCH_MERGE, st, NULL, &err))
		fail_msg("node status: %s", err.msg);
	json_decref(st);
	st = json_pack("{s:s, s:s, s:{s:s}, s:{s:s, s:i, s:s}}", "apiVersion",
		       "coordination.k8s.io/v1", "kind", "Lease", "metadata", "name", name, "spec",
		       "holderIdentity", name, "leaseDurationSeconds", 40, "renewTime", renew);
	if (llmo_kube_create(f->client, &llmo_kube_leases, "kube-node-lease", st, NULL, &err))
		fail_msg("lease: %s", err.msg);
	json_decref(st);
}

/*
 * With the node lifecycle check on, a node whose agent stopped renewing its
 * Lease becomes Ready=Unknown and a live one stays; with it off, nothing moves.
 */
static void test_node_lifecycle(void **state)
{
	struct kube_fixture f;
	struct llmo_controller_opts o = {.node_check_ms = 100,
					 .node_grace_ms = 40000,
					 .node_lifecycle = true};
	struct llmo_controller *c = NULL;
	struct llmo_error err = {0};

	(void)state;
	assert_int_equal(fixture_start(&f), 0);
	/* the server has kube-node-lease, as kube-apiserver does */
	node_with_lease(&f, "silent", llmo_clock_wall_ms() - 120000);
	node_with_lease(&f, "alive", llmo_clock_wall_ms());
	/* off (llmo controller's default on a cluster): ten check periods change nothing */
	o.node_lifecycle = false;
	assert_int_equal(llmo_controller_new(f.client, f.base, &o, &c, &err), 0);
	assert_int_equal(llmo_controller_start(c, &err), 0);
	assert_false(run_until(f.base, silent_unknown, &f, 10 * o.node_check_ms));
	assert_true(node_ready_is(&f, "silent", "True"));
	llmo_controller_free(c);
	o.node_lifecycle = true;
	assert_int_equal(llmo_controller_new(f.client, f.base, &o, &c, &err), 0);
	assert_int_equal(llmo_controller_start(c, &err), 0);
	assert_true(run_until(f.base, silent_unknown, &f, WAIT_MS));
	assert_true(node_ready_is(&f, "alive", "True"));
	llmo_controller_free(c);
	fixture_stop(&f);
}

/*
 * ---- rollouts: a stand-in gateway /metrics on its own thread ----
 *
 * Tests keep their struct fake_gw in static storage: a failed assertion
 * longjmps out of the test without stopping the thread, which must not be
 * left serving from a dead stack frame (ASan then blamed a later test).
 */

struct fake_gw {
	struct event_base *base;
	struct evhttp *http;
	pthread_t thread;
	pthread_mutex_t lock;
	char text[4096];
	int port;
	double rate;	    /* > 0: requests_total grows at this many per second */
	int64_t rate_since; /* monotonic ms */
	struct event *tick;
	volatile sig_atomic_t stop;
};

static void fake_gw_serve(struct evhttp_request *req, void *arg)
{
	struct fake_gw *g = arg;
	struct evbuffer *b = evbuffer_new();

	pthread_mutex_lock(&g->lock);
	evbuffer_add(b, g->text, strlen(g->text));
	if (g->rate > 0)
		evbuffer_add_printf(b,
				    "llmo_gateway_requests_total{model=\"" NS "/chat\",track=\"stable\","
				    "code=\"200\"} %.3f\n",
				    g->rate * (double)(llmo_clock_mono_ms() - g->rate_since) / 1000);
	pthread_mutex_unlock(&g->lock);
	evhttp_send_reply(req, 200, "OK", b);
	evbuffer_free(b);
}

/* The loop ends itself when asked (a loopbreak from another thread would need libevent's locks). */
static void fake_gw_tick(evutil_socket_t fd, short what, void *arg)
{
	struct fake_gw *g = arg;

	(void)fd;
	(void)what;
	if (g->stop)
		event_base_loopbreak(g->base);
}

static void *fake_gw_main(void *arg)
{
	struct fake_gw *g = arg;

	event_base_loop(g->base, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

static void fake_gw_start(struct fake_gw *g)
{
	struct evhttp_bound_socket *sock;
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	memset(g, 0, sizeof(*g));
	pthread_mutex_init(&g->lock, NULL);
	g->base = event_base_new();
	g->http = evhttp_new(g->base);
	evhttp_set_gencb(g->http, fake_gw_serve, g);
	sock = evhttp_bind_socket_with_handle(g->http, "127.0.0.1", 0);
	assert_non_null(sock);
	getsockname(evhttp_bound_socket_get_fd(sock), (struct sockaddr *)&sin, &len);
	g->port = ntohs(sin.sin_port);
	g->tick = event_new(g->base, -1, EV_PERSIST, fake_gw_tick, g);
	event_add(g->tick, &(struct timeval){0, 20000});
	assert_int_equal(pthread_create(&g->thread, NULL, fake_gw_main, g), 0);
}

/* The canary track's counters as the gateway would show them. */
static void fake_gw_canary(struct fake_gw *g, int ok, int failed)
{
	pthread_mutex_lock(&g->lock);
	snprintf(g->text, sizeof(g->text),
		 "llmo_gateway_requests_total{model=\"" NS "/chat\",track=\"canary\",code=\"200\"} %d\n"
		 "llmo_gateway_requests_total{model=\"" NS "/chat\",track=\"canary\",code=\"500\"} %d\n",
		 ok, failed);
	pthread_mutex_unlock(&g->lock);
}

static void fake_gw_stop(struct fake_gw *g)
{
	g->stop = 1;
	pthread_join(g->thread, NULL);
	event_free(g->tick);
	evhttp_free(g->http);
	event_base_free(g->base);
	pthread_mutex_destroy(&g->lock);
}

/*
 * The canary answering ok and failed requests, fast of them within 0.1 s
 * and the rest of the answered ones between 2.5 and 5 s (latency buckets).
 */
static void fake_gw_canary_latency(struct fake_gw *g, int ok, int failed, int fast)
{
	pthread_mutex_lock(&g->lock);
	snprintf(g->text, sizeof(g->text),
		 "llmo_gateway_requests_total{model=\"" NS "/chat\",track=\"canary\",code=\"200\"} %d\n"
		 "llmo_gateway_requests_total{model=\"" NS "/chat\",track=\"canary\",code=\"500\"} %d\n"
		 "llmo_gateway_request_duration_seconds_bucket{model=\"" NS "/chat\",track=\"canary\","
		 "le=\"0.1\"} %d\n"
		 "llmo_gateway_request_duration_seconds_bucket{model=\"" NS "/chat\",track=\"canary\","
		 "le=\"2.5\"} %d\n"
		 "llmo_gateway_request_duration_seconds_bucket{model=\"" NS "/chat\",track=\"canary\","
		 "le=\"5\"} %d\n"
		 "llmo_gateway_request_duration_seconds_bucket{model=\"" NS "/chat\",track=\"canary\","
		 "le=\"+Inf\"} %d\n",
		 ok, failed, fast, fast, ok + failed, ok + failed);
	pthread_mutex_unlock(&g->lock);
}

/* Pods of the workload per version label, and how many carry the canary track. */
struct versions {
	struct kube_fixture *f;
	const char *v1, *v2;
	size_t n1, n2, canary;
};

static bool has_versions(void *ctx)
{
	struct versions *v = ctx;
	struct pods p;
	size_t n1 = 0, n2 = 0, canary = 0;

	list_pods(v->f, "chat", &p);
	for (size_t i = 0; i < p.n; i++) {
		json_t *labels = json_object_get(json_object_get(p.items[i], "metadata"), "labels");
		const char *ver = json_string_value(json_object_get(labels, LLMO_LABEL_VERSION));
		const char *tr = json_string_value(json_object_get(labels, LLMO_LABEL_TRACK));
		const char *dr = json_string_value(json_object_get(
			json_object_get(json_object_get(p.items[i], "metadata"), "annotations"),
			LLMO_ANNOTATION_DRAINING));

		if (dr)
			continue; /* on its way out */
		n1 += ver && strcmp(ver, v->v1) == 0;
		n2 += ver && v->v2 && strcmp(ver, v->v2) == 0;
		canary += tr && strcmp(tr, "canary") == 0;
	}
	json_decref(p.list);
	return n1 == v->n1 && n2 == v->n2 && canary == v->canary && p.n == v->n1 + v->n2;
}

static const char *rollout_str(struct kube_fixture *f, const char *key, json_t **hold)
{
	json_t *obj = NULL;

	*hold = NULL;
	if (llmo_kube_get(f->client, &llmo_kube_llmworkloads, NS, "chat", &obj, NULL))
		return NULL;
	*hold = obj;
	return json_string_value(
		json_object_get(json_object_get(json_object_get(obj, "status"), "rollout"), key));
}

struct ro_want {
	struct kube_fixture *f;
	const char *phase;
};

static bool rollout_phase(void *ctx)
{
	struct ro_want *w = ctx;
	json_t *hold;
	const char *ph = rollout_str(w->f, "phase", &hold);
	bool ok = ph && strcmp(ph, w->phase) == 0;

	json_decref(hold);
	return ok;
}

/* A merge patch of the workload "chat" (patch is consumed). */
static void patch_chat(struct kube_fixture *f, json_t *patch)
{
	struct llmo_error err = {0};

	if (llmo_kube_patch(f->client, &llmo_kube_llmworkloads, NS, "chat", NULL,
			    LLMO_KUBE_PATCH_MERGE, patch, NULL, &err))
		fail_msg("patch: %s", err.msg);
	json_decref(patch);
}

static void set_version(struct kube_fixture *f, const char *version)
{
	patch_chat(f, json_pack("{s:{s:s}}", "spec", "modelVersion", version));
}

/* The fixture, the stand-in gateway and a controller reading it every 100 ms. */
static struct llmo_controller *start_with_gw(struct kube_fixture *f, struct fake_gw *g,
					     struct llmo_controller_opts *o, char *url, size_t n)
{
	struct llmo_controller *c = NULL;
	struct llmo_error err = {0};

	fake_gw_start(g);
	snprintf(url, n, "http://127.0.0.1:%d/metrics", g->port);
	o->gateway_metrics_url = url;
	o->scrape_interval_ms = 100;
	assert_int_equal(fixture_start(f), 0);
	make_ns(f);
	if (llmo_controller_new(f->client, f->base, o, &c, &err) || llmo_controller_start(c, &err))
		fail_msg("controller: %s", err.msg);
	return c;
}

/* Sets the version: one canary replica comes next to the stable ones; made Ready, analysed. */
static void start_canary(struct kube_fixture *f, struct versions *v, struct ro_want *rw,
			 const char *version)
{
	set_version(f, version);
	v->v2 = version;
	v->n2 = 1;
	v->canary = 1;
	assert_true(run_until(f->base, has_versions, v, WAIT_MS));
	set_pods(f, "chat", "Running", true);
	rw->phase = "Analyzing";
	assert_true(run_until(f->base, rollout_phase, rw, WAIT_MS));
}

/*
 * The models 7b, v2 and v3, and the workload chat (two replicas of 7b, canary
 * strategy: 25%, 1 s, success threshold 0.9) with performance (taken; NULL: none)
 * as its spec.performance; waits until its replicas run and the rollout is Idle.
 */
static void canary_setup(struct kube_fixture *f, struct versions *v, struct ro_want *rw,
			 json_t *performance)
{
	json_t *wl;

	put(f, &llmo_kube_llmmodels, model("llama2-7b", "7b", "registry.local/models/llama2:7b"));
	put(f, &llmo_kube_llmmodels, model("llama2-v2", "v2", "registry.local/models/llama2:v2"));
	put(f, &llmo_kube_llmmodels, model("llama2-v3", "v3", "registry.local/models/llama2:v3"));
	wl = workload("chat", 2);
	json_object_set_new(json_object_get(wl, "spec"), "deploymentStrategy",
			    json_pack("{s:s, s:{s:i, s:s, s:f}}", "type", "canary", "canary",
				      "trafficSplit", 25, "duration", "1s", "successThreshold",
				      0.9));
	if (performance)
		json_object_set_new(json_object_get(wl, "spec"), "performance", performance);
	put(f, &llmo_kube_llmworkloads, wl);
	assert_true(run_until(f->base, has_versions, v, WAIT_MS));
	set_pods(f, "chat", "Running", true);
	rw->phase = "Idle";
	assert_true(run_until(f->base, rollout_phase, rw, WAIT_MS));
}

/*
 * A canary of a version failing 30% of its requests is rolled back (the
 * message names the check); a canary that fails none is promoted and the
 * old version's replicas drain away.
 */
static void test_canary_rollout(void **state)
{
	struct kube_fixture f;
	static struct fake_gw g;
	struct llmo_controller *c = NULL;
	struct versions v = {.f = &f, .v1 = "7b", .n1 = 2};
	struct ro_want rw = {.f = &f};
	struct llmo_controller_opts o = {.backoff_base_ms = 200, .backoff_max_ms = 1000,
					 .scrape_interval_ms = 100};
	char url[64];
	json_t *hold, *tracks;
	const char *msg;

	(void)state;
	c = start_with_gw(&f, &g, &o, url, sizeof(url));
	fake_gw_canary(&g, 0, 0);
	canary_setup(&f, &v, &rw, NULL);

	/* v2: one canary replica (25% of 2, rounded up) next to the two stable ones */
	start_canary(&f, &v, &rw, "v2");
	msg = rollout_str(&f, "stableVersion", &hold);
	assert_string_equal(msg, "7b");
	tracks = json_object_get(json_object_get(hold, "status"), "tracks");
	assert_int_equal(json_array_size(tracks), 2);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(tracks, 0), "weight")), 75);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(tracks, 1), "weight")), 25);
	json_decref(hold);
	/* the canary answers 70 of 100: below the 0.9 threshold */
	fake_gw_canary(&g, 70, 30);
	rw.phase = "RolledBack";
	assert_true(run_until(f.base, rollout_phase, &rw, WAIT_MS));
	msg = rollout_str(&f, "message", &hold);
	assert_non_null(strstr(msg, "success rate 0.700 < 0.900"));
	json_decref(hold);
	wait_event(&f, "RolledBack");
	v.n2 = 0;
	v.canary = 0;
	assert_true(run_until(f.base, has_versions, &v, WAIT_MS));

	/* v3 fails nothing over 100 requests (counters continue from 100): promoted */
	start_canary(&f, &v, &rw, "v3");
	fake_gw_canary(&g, 170, 30);
	rw.phase = "Succeeded";
	assert_true(run_until(f.base, rollout_phase, &rw, WAIT_MS));
	wait_event(&f, "Promoted");
	msg = rollout_str(&f, "stableVersion", &hold);
	assert_string_equal(msg, "v3");
	json_decref(hold);
	/*
	 * The canary replica stays and is relabelled stable; one more of v3
	 * comes, then the 7b ones drain and go as the v3 ones become ready.
	 */
	v.n1 = 0;
	v.n2 = 2;
	v.canary = 0;
	for (int i = 0; i < 100 && !has_versions(&v); i++) {
		set_pods(&f, "chat", "Running", true);
		run_until(f.base, has_versions, &v, 200);
	}
	assert_true(has_versions(&v));

	llmo_controller_free(c);
	fixture_stop(&f);
	fake_gw_stop(&g);
}

/*
 * The SLA's availability and p99 are analysis checks too. v2 answers 97 of
 * 100: above the 0.9 success threshold, below the 99.5% availability:
 * rolled back, naming it. v3 answers all 100 (counters from 100 to 200), 96
 * within 0.1 s and 4 between 2.5 and 5 s: the 99th request falls in that
 * bucket, so p99 is over 2.5 s > 1000 ms: rolled back, naming
 * responseTimeP99 (p95 is within 0.1 s and not checked). Then with only
 * performance.maxLatency 1s, v2 again with the same tail (200 to 300, 96
 * fast): rolled back, naming maxLatency.
 */
static void test_canary_sla(void **state)
{
	struct kube_fixture f;
	static struct fake_gw g;
	struct llmo_controller *c = NULL;
	struct versions v = {.f = &f, .v1 = "7b", .n1 = 2};
	struct ro_want rw = {.f = &f};
	struct llmo_controller_opts o = {.backoff_base_ms = 200, .backoff_max_ms = 1000,
					 .scrape_interval_ms = 100};
	char url[64];
	json_t *hold;
	const char *msg;

	(void)state;
	c = start_with_gw(&f, &g, &o, url, sizeof(url));
	fake_gw_canary_latency(&g, 0, 0, 0);
	canary_setup(&f, &v, &rw,
		     json_pack("{s:{s:f, s:i}}", "slaRequirements", "availability", 99.5,
			       "responseTimeP99", 1000));

	start_canary(&f, &v, &rw, "v2");
	fake_gw_canary_latency(&g, 97, 3, 97);
	rw.phase = "RolledBack";
	assert_true(run_until(f.base, rollout_phase, &rw, WAIT_MS));
	msg = rollout_str(&f, "message", &hold);
	assert_non_null(strstr(msg, "availability 97.00% < 99.50% (slaRequirements.availability)"));
	json_decref(hold);
	v.n2 = 0;
	v.canary = 0;
	assert_true(run_until(f.base, has_versions, &v, WAIT_MS));

	start_canary(&f, &v, &rw, "v3");
	fake_gw_canary_latency(&g, 197, 3, 193);
	rw.phase = "RolledBack";
	assert_true(run_until(f.base, rollout_phase, &rw, WAIT_MS));
	msg = rollout_str(&f, "message", &hold);
	if (!strstr(msg, "(slaRequirements.responseTimeP99)"))
		fail_msg("want a p99 rollback, got: %s", msg);
	json_decref(hold);
	v.n2 = 0;
	v.canary = 0;
	assert_true(run_until(f.base, has_versions, &v, WAIT_MS));

	/* without responseTimeP99, performance.maxLatency (1s) bounds the p99: v2 again, same tail */
	{
		struct llmo_error err = {0};
		json_t *patch = json_pack("{s:{s:{s:n, s:s}}}", "spec", "performance",
					  "slaRequirements", "maxLatency", "1s");

		if (llmo_kube_patch(f.client, &llmo_kube_llmworkloads, NS, "chat", NULL,
				    LLMO_KUBE_PATCH_MERGE, patch, NULL, &err))
			fail_msg("patch: %s", err.msg);
		json_decref(patch);
	}
	start_canary(&f, &v, &rw, "v2");
	fake_gw_canary_latency(&g, 297, 3, 289);
	rw.phase = "RolledBack";
	assert_true(run_until(f.base, rollout_phase, &rw, WAIT_MS));
	msg = rollout_str(&f, "message", &hold);
	if (!strstr(msg, "(performance.maxLatency)"))
		fail_msg("want a maxLatency rollback, got: %s", msg);
	json_decref(hold);

	llmo_controller_free(c);
	fixture_stop(&f);
	fake_gw_stop(&g);
}


static void model_benchmarks(struct kube_fixture *f, const char *name, json_t *benchmarks)
{
	struct llmo_error err = {0};
	json_t *patch = json_pack("{s:{s:o}}", "status", "benchmarks", benchmarks);

	if (llmo_kube_patch(f->client, &llmo_kube_llmmodels, NS, name, "status",
			    LLMO_KUBE_PATCH_MERGE, patch, NULL, &err))
		fail_msg("model status: %s", err.msg);
	json_decref(patch);
}

/*
 * spec.performance.minThroughput: 10 requests/s at the benchmark's rate of
 * the slowest GPU type at the highest concurrency (T4, 4/s) needs 3
 * replicas though minReplicas is 1; MinThroughput is True once they are
 * ready (3 x 4 >= 10). maxReplicas 2 holds it at 2 (LimitedByMaxReplicas);
 * without a benchmark nothing is known (RateUnknown) and minReplicas rules.
 */
static void test_min_throughput(void **state)
{
	struct kube_fixture f;
	struct llmo_controller *c;
	struct want w = {.f = &f, .workload = "chat", .pods = 3};
	struct cond_reason cr = {.f = &f, .type = "MinThroughput"};
	json_t *wl;

	(void)state;
	assert_int_equal(fixture_start(&f), 0);
	make_ns(&f);
	c = start_controller(&f, false, NULL);
	put(&f, &llmo_kube_llmmodels, model("m", "7b", "registry.local/models/llama2:7b"));
	model_benchmarks(&f, "m",
			 json_pack("[{s:s, s:i, s:f}, {s:s, s:i, s:f}, {s:s, s:i, s:f}, {s:s, s:i}]",
				   "gpuType", "A100", "concurrency", 1, "requestsPerSecond", 2.0,
				   "gpuType", "A100", "concurrency", 16, "requestsPerSecond", 10.0,
				   "gpuType", "T4", "concurrency", 16, "requestsPerSecond", 4.0,
				   "gpuType", "H100", "concurrency", 64));
	wl = workload("chat", 1);
	json_object_set_new(json_object_get(wl, "spec"), "performance",
			    json_pack("{s:f}", "minThroughput", 10.0));
	put(&f, &llmo_kube_llmworkloads, wl);
	assert_true(run_until(f.base, has_pods, &w, WAIT_MS));
	cr.want = "BelowMinThroughput";
	cr.text = "0 ready replicas x 4 requests/s (the model's benchmark)";
	assert_true(run_until(f.base, cond_reason_is, &cr, WAIT_MS));
	set_pods(&f, "chat", "Running", true);
	cr.want = "CapacityMet";
	cr.text = "3 ready replicas x 4 requests/s (the model's benchmark) = 12 requests/s";
	assert_true(run_until(f.base, cond_reason_is, &cr, WAIT_MS));

	patch_chat(&f, json_pack("{s:{s:{s:i}}}", "spec", "scaling", "maxReplicas", 2));
	w.pods = 2;
	assert_true(run_until(f.base, has_pods, &w, WAIT_MS));
	cr.want = "LimitedByMaxReplicas";
	cr.text = "maxReplicas holds the count";
	assert_true(run_until(f.base, cond_reason_is, &cr, WAIT_MS));

	model_benchmarks(&f, "m", json_null());
	patch_chat(&f, json_pack("{s:{s:{s:i}}}", "spec", "scaling", "maxReplicas", 5));
	w.pods = 1;
	assert_true(run_until(f.base, has_pods, &w, WAIT_MS));
	cr.want = "RateUnknown";
	cr.text = "no replica rate known";
	assert_true(run_until(f.base, cond_reason_is, &cr, WAIT_MS));
	llmo_controller_free(c);
	fixture_stop(&f);
}

/* The first pod of workload chat's (a new reference), or NULL. */
static json_t *first_pod(struct kube_fixture *f)
{
	struct pods p;
	json_t *pod;

	list_pods(f, "chat", &p);
	pod = p.n ? json_incref(p.items[0]) : NULL;
	json_decref(p.list);
	return pod;
}

static const char *pod_name(const json_t *pod)
{
	return json_string_value(json_object_get(json_object_get(pod, "metadata"), "name"));
}

/* The vLLM container's arguments: the runtime's, then --ssl-certfile and --ssl-keyfile once. */
static void assert_args(const json_t *ctr)
{
	const json_t *args = json_object_get(ctr, "args");

	assert_int_equal(json_array_size(args), 4);
	assert_string_equal(json_string_value(json_array_get(args, 0)), "--served-model-name");
	assert_string_equal(json_string_value(json_array_get(args, 1)), "llama2");
	assert_string_equal(json_string_value(json_array_get(args, 2)),
			    "--ssl-certfile=" LLMO_REPLICA_TLS_DIR "/tls.crt");
	assert_string_equal(json_string_value(json_array_get(args, 3)),
			    "--ssl-keyfile=" LLMO_REPLICA_TLS_DIR "/tls.key");
}

static struct kube_fixture *chat_fixture;
static void set_annotation(struct kube_fixture *f, const char *key, const char *value);

/* run_until: chat's replica is no longer the pod named arg (or there is none). */
static bool chat_pod_replaced(void *arg)
{
	json_t *pod = first_pod(chat_fixture);
	bool replaced = !pod || strcmp(pod_name(pod), arg) != 0;

	json_decref(pod);
	return replaced;
}

/*
 * spec.security.encryption: a controller without a replica CA runs no
 * replica (Encrypted=False, NoCertificateAuthority); with the API server's
 * own CA it issues the Secret chat-tls and the replica's template serves
 * HTTPS with it (envFrom, the mounted files, HTTPS probes, the name for the
 * gateway). The end-to-end path with real TLS: integration.test_encryption.
 */
static void test_encryption(void **state)
{
	struct kube_fixture f;
	struct llmo_controller *c = NULL;
	struct llmo_controller_opts o = {.backoff_base_ms = 200, .backoff_max_ms = 1000};
	struct llmo_error err = {0};
	struct want w = {.f = &f, .workload = "chat", .pods = 1};
	struct cond_reason cr = {.f = &f, .type = "Encrypted"};
	char ca[128], key[128];
	json_t *wl, *pod, *secret = NULL, *ctr, *mdl;
	char first[256];
	struct pods p;

	(void)state;
	assert_int_equal(fixture_start(&f), 0);
	make_ns(&f);
	chat_fixture = &f;
	mdl = model("m", "7b", "registry.local/models/llama2:7b");
	/* the runtime's own arguments: the TLS ones go after them, once */
	json_object_set_new(json_object_get(json_object_get(mdl, "spec"), "runtime"), "args",
			    json_pack("[s, s]", "--served-model-name", "llama2"));
	put(&f, &llmo_kube_llmmodels, mdl);
	wl = workload("chat", 1);
	json_object_set_new(json_object_get(wl, "spec"), "security",
			    json_pack("{s:b}", "encryption", 1));
	put(&f, &llmo_kube_llmworkloads, wl);
	c = start_controller(&f, false, NULL);
	cr.want = "NoCertificateAuthority";
	cr.text = "no replica runs without it";
	assert_true(run_until(f.base, cond_reason_is, &cr, WAIT_MS));
	/* not Ready (nothing runs), and not for want of replicas */
	{
		struct cond_reason rd = {.f = &f, .type = "Ready", .want = "EncryptionNotReady",
					 .text = "no replica runs without it"};
		struct cond nr = {.f = &f, .r = &llmo_kube_llmworkloads, .name = "chat",
				  .path = "Ready", .want = "False"};

		assert_true(run_until(f.base, cond_reason_is, &rd, WAIT_MS));
		assert_true(has_cond(&nr));
	}
	list_pods(&f, "chat", &p);
	assert_int_equal(p.n, 0);
	json_decref(p.list);
	llmo_controller_free(c);

	snprintf(ca, sizeof(ca), "%s/pki/ca.crt", f.dir);
	snprintf(key, sizeof(key), "%s/pki/ca.key", f.dir);
	o.replica_ca_cert = ca;
	o.replica_ca_key = key;
	if (llmo_controller_new(f.client, f.base, &o, &c, &err) || llmo_controller_start(c, &err))
		fail_msg("controller: %s", err.msg);
	assert_true(run_until(f.base, has_pods, &w, WAIT_MS));
	cr.want = "CertificateIssued";
	cr.text = "replicas serve HTTPS as chat." NS ".svc (Secret chat-tls)";
	assert_true(run_until(f.base, cond_reason_is, &cr, WAIT_MS));
	if (llmo_kube_get(f.client, &llmo_kube_secrets, NS, "chat-tls", &secret, &err))
		fail_msg("secret: %s", err.msg);
	assert_string_equal(json_string_value(json_object_get(secret, "type")), "kubernetes.io/tls");
	assert_non_null(json_object_get(json_object_get(secret, "data"), "LLMO_TLS_CERT_PEM"));
	assert_non_null(json_object_get(json_object_get(secret, "data"), "tls.key"));
	json_decref(secret);
	pod = first_pod(&f);
	assert_non_null(pod);
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(json_object_get(pod, "metadata"), "annotations"),
				    LLMO_ANNOTATION_TLS_SERVER_NAME)),
			    "chat." NS ".svc");
	ctr = json_array_get(json_object_get(json_object_get(pod, "spec"), "containers"), 0);
	assert_string_equal(json_string_value(llmo_json_get_path(ctr, "readinessProbe.httpGet.scheme")),
			    "HTTPS");
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(json_array_get(json_object_get(ctr, "envFrom"), 0),
						    "secretRef"),
				    "name")),
			    "chat-tls");
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(json_object_get(ctr, "volumeMounts"), 0), "mountPath")),
			    LLMO_REPLICA_TLS_DIR);
	assert_args(ctr);
	/*
	 * Reconciles change nothing: the runtime's arguments were once shared
	 * with the template, which grew by two --ssl-* arguments at every pass
	 * (a new template hash, the replica replaced every time).
	 */
	snprintf(first, sizeof(first), "%s", pod_name(pod));
	json_decref(pod);
	for (int i = 0; i < 4; i++) {
		char v[16];

		snprintf(v, sizeof(v), "%d", i);
		set_annotation(&f, "test.llmo/poke", v);
		assert_false(run_until(f.base, chat_pod_replaced, first, 1000));
	}
	pod = first_pod(&f);
	assert_non_null(pod);
	assert_string_equal(pod_name(pod), first);
	assert_args(json_array_get(json_object_get(json_object_get(pod, "spec"), "containers"), 0));
	json_decref(pod);
	llmo_controller_free(c);
	fixture_stop(&f);
}

static void set_annotation(struct kube_fixture *f, const char *key, const char *value)
{
	patch_chat(f, json_pack("{s:{s:{s:s}}}", "metadata", "annotations", key, value));
}

/*
 * A/B: one track per variant with replicas by weight (3 x 70/30 -> 2 and 1)
 * and the weights as percentages for the gateway. Blue-green: the new
 * version comes up in full with no traffic, waits for the promote
 * annotation, switches, keeps the old version for scaleDownDelay, then
 * removes it.
 */
static void test_ab_and_blue_green(void **state)
{
	struct kube_fixture f;
	static struct fake_gw g;
	struct llmo_controller *c = NULL;
	struct versions v = {.f = &f, .v1 = "7b", .v2 = "v2"};
	struct ro_want rw = {.f = &f};
	struct llmo_controller_opts o = {.scrape_interval_ms = 100};
	char url[64];
	json_t *wl, *hold, *tracks;

	(void)state;
	c = start_with_gw(&f, &g, &o, url, sizeof(url));
	put(&f, &llmo_kube_llmmodels, model("llama2-7b", "7b", "registry.local/models/llama2:7b"));
	put(&f, &llmo_kube_llmmodels, model("llama2-v2", "v2", "registry.local/models/llama2:v2"));
	wl = workload("chat", 3);
	json_object_set_new(json_object_get(wl, "spec"), "deploymentStrategy",
			    json_pack("{s:s, s:{s:[{s:s, s:i}, {s:s, s:i}], s:s}}", "type", "abTest",
				      "abTest", "variants", "modelVersion", "7b", "weight", 70,
				      "modelVersion", "v2", "weight", 30, "stickyBy", "tenant"));
	put(&f, &llmo_kube_llmworkloads, wl);
	v.n1 = 2;
	v.n2 = 1;
	assert_true(run_until(f.base, has_versions, &v, WAIT_MS));
	set_pods(&f, "chat", "Running", true);
	rw.phase = "Succeeded";
	assert_true(run_until(f.base, rollout_phase, &rw, WAIT_MS));
	rollout_str(&f, "phase", &hold);
	tracks = json_object_get(json_object_get(hold, "status"), "tracks");
	assert_int_equal(json_array_size(tracks), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(tracks, 0), "name")), "a");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(tracks, 0), "weight")), 70);
	assert_string_equal(json_string_value(json_object_get(json_array_get(tracks, 1),
							      "modelVersion")),
			    "v2");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(tracks, 1), "weight")), 30);
	json_decref(hold);

	/* the test ends on 7b (the v2 replica goes), then blue-green to v2 */
	patch_chat(&f, json_pack("{s:{s:s, s:{s:s, s:{s:b, s:s}}}}", "spec", "modelVersion", "7b",
				 "deploymentStrategy", "type", "blueGreen", "blueGreen",
				 "autoPromote", 0, "scaleDownDelay", "1s"));
	v.n1 = 3;
	v.n2 = 0;
	for (int i = 0; i < 100 && !has_versions(&v); i++) {
		set_pods(&f, "chat", "Running", true);
		run_until(f.base, has_versions, &v, 200);
	}
	assert_true(has_versions(&v));
	set_version(&f, "v2");
	v.n2 = 3;
	assert_true(run_until(f.base, has_versions, &v, WAIT_MS));
	set_pods(&f, "chat", "Running", true);
	rw.phase = "Paused";
	assert_true(run_until(f.base, rollout_phase, &rw, WAIT_MS));
	set_annotation(&f, LLMO_ANNOTATION_PROMOTE, "v2");
	rw.phase = "Promoting";
	assert_true(run_until(f.base, rollout_phase, &rw, WAIT_MS));
	/* switched: stable is v2 and takes all the traffic; 7b stays for the delay */
	rollout_str(&f, "phase", &hold);
	tracks = json_object_get(json_object_get(hold, "status"), "tracks");
	assert_string_equal(json_string_value(json_object_get(json_array_get(tracks, 0),
							      "modelVersion")),
			    "v2");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(tracks, 0), "weight")), 100);
	assert_string_equal(json_string_value(json_object_get(json_array_get(tracks, 1), "name")),
			    "previous");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(tracks, 1), "weight")), 0);
	json_decref(hold);
	assert_true(has_versions(&v));
	rw.phase = "Succeeded";
	assert_true(run_until(f.base, rollout_phase, &rw, WAIT_MS));
	v.n1 = 0;
	assert_true(run_until(f.base, has_versions, &v, WAIT_MS));

	llmo_controller_free(c);
	fixture_stop(&f);
	fake_gw_stop(&g);
}

static bool never_true(void *ctx)
{
	(void)ctx;
	return false;
}

static json_t *perf_p95(struct kube_fixture *f, json_t **hold)
{
	*hold = NULL;
	if (llmo_kube_get(f->client, &llmo_kube_llmworkloads, NS, "chat", hold, NULL))
		return NULL;
	return json_object_get(
		json_object_get(json_object_get(*hold, "status"), "performanceMetrics"),
		"p95LatencyMs");
}

static bool has_p95(void *ctx)
{
	json_t *hold;
	bool ok = perf_p95(ctx, &hold) != NULL;

	json_decref(hold);
	return ok;
}

static bool no_p95(void *ctx)
{
	json_t *hold;
	bool ok = perf_p95(ctx, &hold) == NULL && hold;

	json_decref(hold);
	return ok;
}

static bool status_has(void *ctx)
{
	struct cond *c = ctx;
	json_t *obj = NULL;
	bool ok;

	if (llmo_kube_get(c->f->client, &llmo_kube_llmworkloads, NS, "chat", &obj, NULL))
		return false;
	ok = json_object_get(json_object_get(obj, "status"), c->path) != NULL;
	json_decref(obj);
	return ok;
}

/* start_with_gw with a configuration without cooldowns, and the model llama2-7b. */
static struct llmo_controller *start_autoscaling(struct kube_fixture *f, struct fake_gw *g,
						 struct llmo_config *cfg,
						 struct llmo_controller_opts *o, char *url, size_t n)
{
	struct llmo_errlist errs;
	struct llmo_controller *c;
	json_t *user = json_pack("{s:{s:s, s:s}}", "resourceManager", "scaleUpCooldown", "0s",
				 "scaleDownCooldown", "0s");

	llmo_errlist_init(&errs);
	assert_int_equal(llmo_config_from_json(user, cfg, &errs), 0);
	llmo_errlist_release(&errs);
	json_decref(user);
	o->config = cfg;
	c = start_with_gw(f, g, o, url, n);
	put(f, &llmo_kube_llmmodels, model("llama2-7b", "7b", "registry.local/models/llama2:7b"));
	return c;
}

static void stop_autoscaling(struct llmo_controller *c, struct kube_fixture *f,
			     struct fake_gw *g, struct llmo_config *cfg)
{
	llmo_controller_free(c);
	fixture_stop(f);
	fake_gw_stop(g);
	llmo_config_free(cfg);
}

/*
 * The autoscaler in the controller: no replica and min 0 (scaled to zero);
 * a request held by the gateway brings one; 40 requests/s against a target
 * of 10 per replica bring 4 (ceil(40 / 10)), within maxReplicas 5, with a
 * ScaledUp Event, lastScaleTime and currentMetrics.
 */
static void test_autoscale(void **state)
{
	struct kube_fixture f;
	static struct fake_gw g;
	struct llmo_controller *c = NULL;
	struct llmo_error err = {0};
	struct llmo_config cfg = {0};
	struct want w = {.f = &f, .workload = "chat", .pods = 0};
	struct cond cd = {.f = &f, .r = &llmo_kube_llmworkloads, .name = "chat"};
	struct llmo_controller_opts o = {.scrape_interval_ms = 100};
	char url[64];
	json_t *wl, *hold = NULL;

	(void)state;
	c = start_autoscaling(&f, &g, &cfg, &o, url, sizeof(url));
	wl = workload("chat", 0);
	json_object_set_new(json_object_get(json_object_get(wl, "spec"), "scaling"),
			    "targetMetrics",
			    json_pack("[{s:s, s:f}]", "type", "requests_per_second", "target", 10.0));
	put(&f, &llmo_kube_llmworkloads, wl);
	cd.path = "performanceMetrics";
	assert_true(run_until(f.base, status_has, &cd, WAIT_MS));
	assert_true(has_pods(&w));

	/* a request waits at the gateway: one replica */
	pthread_mutex_lock(&g.lock);
	snprintf(g.text, sizeof(g.text), "llmo_gateway_pending_requests{model=\"" NS "/chat\"} 1\n");
	pthread_mutex_unlock(&g.lock);
	w.pods = 1;
	assert_true(run_until(f.base, has_pods, &w, WAIT_MS));
	set_pods(&f, "chat", "Running", true);

	/* 40 requests/s over 10 per replica: 4 */
	pthread_mutex_lock(&g.lock);
	g.text[0] = '\0';
	g.rate = 40;
	g.rate_since = llmo_clock_mono_ms();
	pthread_mutex_unlock(&g.lock);
	w.pods = 4;
	for (int i = 0; i < 100 && !has_pods(&w); i++) {
		set_pods(&f, "chat", "Running", true);
		run_until(f.base, has_pods, &w, 200);
	}
	assert_true(has_pods(&w));
	wait_event(&f, "ScaledUp");
	assert_int_equal(llmo_kube_get(f.client, &llmo_kube_llmworkloads, NS, "chat", &hold, &err), 0);
	assert_non_null(json_object_get(json_object_get(hold, "status"), "lastScaleTime"));
	assert_non_null(strstr(json_string_value(json_object_get(json_object_get(hold, "status"),
								  "lastScaleReason")),
			       "requests_per_second"));
	assert_true(json_is_number(json_object_get(
		json_object_get(json_object_get(hold, "status"), "currentMetrics"),
		"requests_per_second")));
	json_decref(hold);
	/* and it stays there (no flapping above 4 at a steady 40/s) */
	run_until(f.base, never_true, NULL, 1000);
	assert_true(has_pods(&w));

	/*
	 * Latency seen, then none: the status drops p95LatencyMs (a merge patch
	 * has to name it as null) and, idle, is not rewritten at every scrape
	 * (the reactive policy here: a predictive forecast that decays is a change).
	 */
	patch_chat(&f, json_pack("{s:{s:{s:s}}}", "metadata", "annotations",
				 "llm.orchestrator.io/autoscaler", "reactive"));
	pthread_mutex_lock(&g.lock);
	g.rate = 0;
	snprintf(g.text, sizeof(g.text),
		 "llmo_gateway_request_duration_seconds_bucket{model=\"" NS "/chat\",le=\"0.5\"} 1\n"
		 "llmo_gateway_request_duration_seconds_bucket{model=\"" NS "/chat\",le=\"+Inf\"} 1\n");
	pthread_mutex_unlock(&g.lock);
	assert_true(run_until(f.base, has_p95, &f, WAIT_MS));
	pthread_mutex_lock(&g.lock);
	g.text[0] = '\0';
	pthread_mutex_unlock(&g.lock);
	assert_true(run_until(f.base, no_p95, &f, WAIT_MS));
	{
		json_t *a = NULL, *b = NULL;

		run_until(f.base, never_true, NULL, 500);
		assert_int_equal(llmo_kube_get(f.client, &llmo_kube_llmworkloads, NS, "chat", &a, &err), 0);
		run_until(f.base, never_true, NULL, 1500); /* 15 scrapes */
		assert_int_equal(llmo_kube_get(f.client, &llmo_kube_llmworkloads, NS, "chat", &b, &err), 0);
		assert_string_equal(meta_str(a, "resourceVersion"), meta_str(b, "resourceVersion"));
		json_decref(a);
		json_decref(b);
	}
	stop_autoscaling(c, &f, &g, &cfg);
}

/* ---- cpu and memory from the agent's usage annotation; vertical recommendations ---- */

/*
 * Plays the agent: pod i of the workload (in list order) gets the usage
 * annotation (with a GPU utilization when gpu_pct >= 0).
 */
static void set_usage_gpu(struct kube_fixture *f, const char *w, size_t i, int64_t cpu_milli,
			  int64_t memory, double gpu_pct)
{
	struct llmo_usage u = {.cpu_milli = cpu_milli, .memory = memory,
			       .at_ms = llmo_clock_wall_ms(), .has_gpu = gpu_pct >= 0,
			       .gpu_pct = gpu_pct, .gpu_memory = gpu_pct >= 0 ? (int64_t)1 << 30 : 0};
	struct llmo_error err = {0};
	char text[LLMO_USAGE_TEXT_MAX];
	struct pods p;
	json_t *patch;

	assert_int_equal(llmo_usage_format(&u, text, sizeof(text)), 0);
	list_pods(f, w, &p);
	assert_true(i < p.n);
	patch = json_pack("{s:{s:{s:s}}}", "metadata", "annotations", LLMO_ANNOTATION_USAGE, text);
	if (llmo_kube_patch(f->client, &llmo_kube_pods, NS, meta_str(p.items[i], "name"), NULL,
			    LLMO_KUBE_PATCH_MERGE, patch, NULL, &err))
		fail_msg("pod annotation: %s", err.msg);
	json_decref(patch);
	json_decref(p.list);
}

static void set_usage(struct kube_fixture *f, const char *w, size_t i, int64_t cpu_milli,
		      int64_t memory)
{
	set_usage_gpu(f, w, i, cpu_milli, memory, -1);
}

/* status.PATH of the workload chat as a string, copied into out ("" when absent). */
static const char *chat_status_str(struct kube_fixture *f, const char *path, char *out, size_t n)
{
	json_t *obj = NULL;
	const char *v;

	out[0] = '\0';
	if (llmo_kube_get(f->client, &llmo_kube_llmworkloads, NS, "chat", &obj, NULL))
		return out;
	v = json_string_value(llmo_json_get_path(json_object_get(obj, "status"), path));
	snprintf(out, n, "%s", v ? v : "");
	json_decref(obj);
	return out;
}

struct str_want {
	struct kube_fixture *f;
	const char *path, *want;
};

static bool status_str_is(void *ctx)
{
	struct str_want *sw = ctx;
	char v[256];

	return strcmp(chat_status_str(sw->f, sw->path, v, sizeof(v)), sw->want) == 0;
}

/*
 * The workload chat's ScalingLimited condition has reason `want` (and a
 * message with `text`); with `other`, a reason other than `want`.
 */
/*
 * The annotation llm.orchestrator.io/replica-slots on a predictive workload
 * with a QoS class: a value that is not an integer from 1 to 4096 turns
 * autoscaling off with a condition naming it (the annotation changes no
 * generation, so this is seen without a spec change); a good one turns it
 * back on. (The configuration it builds: test_controller_scale.)
 */
static void test_autoscale_slots(void **state)
{
	struct kube_fixture f;
	static struct fake_gw g;
	struct llmo_controller *c = NULL;
	struct llmo_config cfg = {0};
	struct llmo_controller_opts o = {.scrape_interval_ms = 100};
	struct cond_reason off = {.f = &f, .type = "ScalingLimited", .want = "AutoscalingOff",
				   .text = "annotation llm.orchestrator.io/replica-slots: \"many\""};
	struct cond_reason on = {.f = &f, .type = "ScalingLimited", .want = "AutoscalingOff",
				 .other = true};
	char url[64];
	json_t *wl;

	(void)state;
	c = start_autoscaling(&f, &g, &cfg, &o, url, sizeof(url));
	wl = workload("chat", 1);
	json_object_set_new(json_object_get(wl, "metadata"), "annotations",
			    json_pack("{s:s, s:s}", "llm.orchestrator.io/autoscaler", "predictive",
				      "llm.orchestrator.io/replica-slots", "many"));
	json_object_set_new(json_object_get(wl, "spec"), "qosClass", json_string("standard"));
	json_object_set_new(json_object_get(json_object_get(wl, "spec"), "scaling"),
			    "targetMetrics",
			    json_pack("[{s:s, s:f}, {s:s, s:f}]", "type", "queue_length", "target",
				      8.0, "type", "requests_per_second", "target", 10.0));
	put(&f, &llmo_kube_llmworkloads, wl);
	assert_true(run_until(f.base, cond_reason_is, &off, WAIT_MS));

	patch_chat(&f, json_pack("{s:{s:{s:s}}}", "metadata", "annotations",
				 "llm.orchestrator.io/replica-slots", "32"));
	assert_true(run_until(f.base, cond_reason_is, &on, WAIT_MS));
	stop_autoscaling(c, &f, &g, &cfg);
}

/* Two Ready replicas with set usage, scaled on one usage metric to 4 replicas. */
struct usage_case {
	const char *metric; /* the target's type, and its key in status.currentMetrics */
	double target, expect;
	int64_t cpu[2];
	double gpu[2]; /* < 0: no GPU figure */
};

static void scale_on_usage(const struct usage_case *uc)
{
	struct kube_fixture f;
	static struct fake_gw g;
	struct llmo_controller *c = NULL;
	struct llmo_config cfg = {0};
	struct want w = {.f = &f, .workload = "chat", .pods = 2};
	struct llmo_controller_opts o = {.scrape_interval_ms = 100};
	char url[64], path[64];
	json_t *wl, *hold = NULL;

	c = start_autoscaling(&f, &g, &cfg, &o, url, sizeof(url));
	wl = workload("chat", 2);
	json_object_set_new(json_object_get(json_object_get(wl, "spec"), "scaling"),
			    "targetMetrics",
			    json_pack("[{s:s, s:f}]", "type", uc->metric, "target", uc->target));
	put(&f, &llmo_kube_llmworkloads, wl);
	assert_true(run_until(f.base, has_pods, &w, WAIT_MS));
	/* the usage first, then Ready: the mean never sees one replica alone */
	for (size_t i = 0; i < 2; i++)
		set_usage_gpu(&f, "chat", i, uc->cpu[i], (int64_t)1 << 30, uc->gpu[i]);
	set_pods(&f, "chat", "Running", true);
	w.pods = 4;
	assert_true(run_until(f.base, has_pods, &w, WAIT_MS));
	assert_true(has_event(&f, "ScaledUp"));
	assert_int_equal(llmo_kube_get(f.client, &llmo_kube_llmworkloads, NS, "chat", &hold, NULL), 0);
	snprintf(path, sizeof(path), "status.currentMetrics.%s", uc->metric);
	assert_float_equal(json_number_value(llmo_json_get_path(hold, path)), uc->expect, 1e-9);
	assert_non_null(strstr(json_string_value(llmo_json_get_path(hold, "status.lastScaleReason")),
			       uc->metric));
	json_decref(hold);
	/* and it stays at 4 */
	run_until(f.base, never_true, NULL, 1000);
	assert_true(has_pods(&w));
	stop_autoscaling(c, &f, &g, &cfg);
}

/*
 * cpu as a target: two Ready replicas requesting 2 cpus (spec.resources)
 * use 3000m and 1800m: 150% and 90% of their request, 120% on average.
 * Against a target of 60%: ceil(2 x 120 / 60) = 4 replicas. The two new
 * ones are never Ready here, so the mean stays over the first two.
 */
static void test_autoscale_cpu(void **state)
{
	const struct usage_case uc = {"cpu", 60, 120, {3000, 1800}, {-1, -1}};

	(void)state;
	scale_on_usage(&uc);
}

/*
 * gpu_utilization (the agent's NVML figure in the usage annotation): two
 * GPU replicas (the model asks 1 GPU each) at 60% and 100% against a target
 * of 40 per replica: mean 80, ceil(2 x 80 / 40) = 4.
 */
static void test_autoscale_gpu(void **state)
{
	const struct usage_case uc = {"gpu_utilization", 40, 80, {100, 100}, {60, 100}};

	(void)state;
	scale_on_usage(&uc);
}

/* The requests of the first container of pod i of the workload ("" when absent). */
static void pod_request(struct kube_fixture *f, const char *name, const char *res, char *out,
			size_t n)
{
	json_t *pod = NULL;
	const char *v;
	char path[96];

	out[0] = '\0';
	if (llmo_kube_get(f->client, &llmo_kube_pods, NS, name, &pod, NULL))
		return;
	snprintf(path, sizeof(path), "spec.containers[0].resources.requests.%s", res);
	v = json_string_value(llmo_json_get_path(pod, path));
	snprintf(out, n, "%s", v ? v : "");
	json_decref(pod);
}

/*
 * strategy hybrid, no spec.resources: the model's recommended 4 cpus and
 * 16Gi until there is a recommendation. Two Ready replicas use 300m / 1Gi
 * and 500m / 3Gi; sampled every 100 ms, the history holds as many of each.
 * p90 of the cpu samples is 500m (its rank, ceil(0.9 n), lies in the upper
 * half), p95 of memory 3Gi; +15%: 575m and 3532.8Mi, rounded up to 3533Mi.
 * The two replicas are not replaced for it; a third one (minReplicas 3)
 * starts with the recommendation.
 */
static void test_vertical(void **state)
{
	struct kube_fixture f;
	static struct fake_gw g;
	struct llmo_controller *c = NULL;
	struct want w = {.f = &f, .workload = "chat", .pods = 2};
	struct str_want cpu = {.f = &f, .path = "recommendation.cpu", .want = "575m"};
	struct llmo_controller_opts o = {.scrape_interval_ms = 100, .vertical_sample_ms = 100};
	char url[64], first[2][64], v[256];
	json_t *wl;
	struct pods p;
	bool found_new = false;

	(void)state;
	c = start_with_gw(&f, &g, &o, url, sizeof(url));
	put(&f, &llmo_kube_llmmodels, model("llama2-7b", "7b", "registry.local/models/llama2:7b"));
	wl = workload("chat", 2);
	json_object_del(json_object_get(wl, "spec"), "resources");
	json_object_set_new(json_object_get(json_object_get(wl, "spec"), "scaling"), "strategy",
			    json_string("hybrid"));
	put(&f, &llmo_kube_llmworkloads, wl);
	assert_true(run_until(f.base, has_pods, &w, WAIT_MS));
	list_pods(&f, "chat", &p);
	for (size_t i = 0; i < 2; i++) {
		snprintf(first[i], sizeof(first[i]), "%s", meta_str(p.items[i], "name"));
		pod_request(&f, first[i], "cpu", v, sizeof(v));
		assert_string_equal(v, "4");
	}
	json_decref(p.list);
	set_pods(&f, "chat", "Running", true);
	set_usage(&f, "chat", 0, 300, (int64_t)1 << 30);
	set_usage(&f, "chat", 1, 500, (int64_t)3 << 30);
	assert_true(run_until(f.base, status_str_is, &cpu, WAIT_MS));
	assert_string_equal(chat_status_str(&f, "recommendation.memory", v, sizeof(v)), "3533Mi");
	assert_non_null(strstr(chat_status_str(&f, "recommendation.reason", v, sizeof(v)),
			       "p90 cpu 500m"));
	assert_true(chat_status_str(&f, "recommendation.updatedAt", v, sizeof(v))[0] != '\0');
	/* the two replicas stay as they were */
	run_until(f.base, never_true, NULL, 500);
	assert_true(has_pods(&w));
	list_pods(&f, "chat", &p);
	for (size_t i = 0; i < p.n; i++)
		assert_true(strcmp(meta_str(p.items[i], "name"), first[0]) == 0 ||
			    strcmp(meta_str(p.items[i], "name"), first[1]) == 0);
	json_decref(p.list);
	/* a new one gets the recommendation */
	patch_chat(&f, json_pack("{s:{s:{s:i}}}", "spec", "scaling", "minReplicas", 3));
	w.pods = 3;
	assert_true(run_until(f.base, has_pods, &w, WAIT_MS));
	list_pods(&f, "chat", &p);
	for (size_t i = 0; i < p.n; i++) {
		const char *name = meta_str(p.items[i], "name");

		if (strcmp(name, first[0]) == 0 || strcmp(name, first[1]) == 0)
			continue;
		found_new = true;
		pod_request(&f, name, "cpu", v, sizeof(v));
		assert_string_equal(v, "575m");
		pod_request(&f, name, "memory", v, sizeof(v));
		assert_string_equal(v, "3533Mi");
	}
	json_decref(p.list);
	assert_true(found_new);


	llmo_controller_free(c);
	fixture_stop(&f);
	fake_gw_stop(&g);
}

/*
 * maxSurge 2 of 4 replicas: a new version starts two at once and no more
 * until they are ready (maxUnavailable 0 keeps the four old ones). Scale-in
 * takes the least loaded replicas: of three ready ones, the one with 5
 * requests in flight stays.
 */
/*
 * The models llama2 7b and v2, and the workload chat of n replicas of 7b
 * rolled with maxSurge surge and maxUnavailable 0; returns once v says so.
 */
static void rolling_chat(struct kube_fixture *f, struct versions *v, int n, int surge)
{
	json_t *wl = workload("chat", n);

	put(f, &llmo_kube_llmmodels, model("llama2-7b", "7b", "registry.local/models/llama2:7b"));
	put(f, &llmo_kube_llmmodels, model("llama2-v2", "v2", "registry.local/models/llama2:v2"));
	json_object_set_new(json_object_get(wl, "spec"), "deploymentStrategy",
			    json_pack("{s:s, s:{s:i, s:i}}", "type", "rolling", "rolling",
				      "maxSurge", surge, "maxUnavailable", 0));
	put(f, &llmo_kube_llmworkloads, wl);
	assert_true(run_until(f->base, has_versions, v, WAIT_MS));
}

static void test_rolling_and_least_loaded(void **state)
{
	struct kube_fixture f;
	static struct fake_gw g;
	struct llmo_controller *c = NULL;
	struct llmo_controller_opts o = {0};
	struct versions v = {.f = &f, .v1 = "7b", .v2 = "v2", .n1 = 4};
	struct want w = {.f = &f, .workload = "chat", .pods = 3};
	struct pods p;
	char url[64];

	(void)state;
	c = start_with_gw(&f, &g, &o, url, sizeof(url));
	rolling_chat(&f, &v, 4, 2);
	set_pods(&f, "chat", "Running", true);
	run_until(f.base, never_true, NULL, 300);
	set_version(&f, "v2");
	v.n2 = 2;
	assert_true(run_until(f.base, has_versions, &v, WAIT_MS));
	/* the two new ones are not ready: nothing more starts, nothing old goes */
	run_until(f.base, never_true, NULL, 1000);
	assert_true(has_versions(&v));
	/* all ready: the rest rolls through to four of v2 */
	v.n1 = 0;
	v.n2 = 4;
	for (int i = 0; i < 100 && !has_versions(&v); i++) {
		set_pods(&f, "chat", "Running", true);
		run_until(f.base, has_versions, &v, 200);
	}
	assert_true(has_versions(&v));

	/* three ready replicas; the gateway reports 5, 0 and 1 in flight */
	patch_chat(&f, json_pack("{s:{s:{s:i}}}", "spec", "scaling", "minReplicas", 3));
	for (int i = 0; i < 100 && !has_pods(&w); i++) {
		set_pods(&f, "chat", "Running", true);
		run_until(f.base, has_pods, &w, 200);
	}
	assert_true(has_pods(&w));
	set_pods(&f, "chat", "Running", true);
	list_pods(&f, "chat", &p);
	assert_int_equal(p.n, 3);
	pthread_mutex_lock(&g.lock);
	snprintf(g.text, sizeof(g.text),
		 "llmo_gateway_pod_inflight{namespace=\"" NS "\",workload=\"chat\",pod=\"%s\"} 5\n"
		 "llmo_gateway_pod_inflight{namespace=\"" NS "\",workload=\"chat\",pod=\"%s\"} 0\n"
		 "llmo_gateway_pod_inflight{namespace=\"" NS "\",workload=\"chat\",pod=\"%s\"} 1\n",
		 meta_str(p.items[0], "name"), meta_str(p.items[1], "name"),
		 meta_str(p.items[2], "name"));
	pthread_mutex_unlock(&g.lock);
	{
		char busy[128];

		snprintf(busy, sizeof(busy), "%s", meta_str(p.items[0], "name"));
		json_decref(p.list);
		run_until(f.base, never_true, NULL, 500); /* a scrape sees the counts */
		patch_chat(&f, json_pack("{s:{s:{s:i}}}", "spec", "scaling", "minReplicas", 1));
		/*
		 * The two least loaded drain: the idle one goes at the next scrape, the
		 * one with a request in flight stays until the gateway reports none.
		 */
		w.pods = 2;
		assert_true(run_until(f.base, has_pods, &w, WAIT_MS));
		run_until(f.base, never_true, NULL, 1000);
		assert_true(has_pods(&w));
		pthread_mutex_lock(&g.lock);
		g.text[0] = '\0';
		pthread_mutex_unlock(&g.lock);
		w.pods = 1;
		assert_true(run_until(f.base, has_pods, &w, WAIT_MS));
		list_pods(&f, "chat", &p);
		assert_string_equal(meta_str(p.items[0], "name"), busy);
		assert_null(json_object_get(json_object_get(json_object_get(p.items[0], "metadata"),
							    "annotations"),
					    LLMO_ANNOTATION_DRAINING));
		json_decref(p.list);
	}
	llmo_controller_free(c);
	fixture_stop(&f);
	fake_gw_stop(&g);
}

/* ---- model prefetch ahead of a scale-up ---- */

#define PF_DIGEST "sha256:1111111111111111111111111111111111111111111111111111111111111111"

/* A Ready node with allocatable GPUs and, when digest, that model in its cache annotation. */
static void pf_node(struct kube_fixture *f, const char *name, const char *gpus, const char *digest)
{
	struct llmo_error err = {0};
	char cached[256];
	json_t *node = json_pack("{s:s, s:s, s:{s:s, s:{}}}", "apiVersion", "v1", "kind", "Node",
				 "metadata", "name", name, "annotations");
	json_t *st;

	if (digest) {
		snprintf(cached, sizeof(cached),
			 "{\"pullBytesPerSecond\":1000000,\"models\":[{\"name\":\"llama2\","
			 "\"version\":\"7b\",\"digest\":\"%s\",\"sizeBytes\":1000}]}",
			 digest);
		json_object_set_new(json_object_get(json_object_get(node, "metadata"), "annotations"),
				    "llm.orchestrator.io/cached-models", json_string(cached));
	}
	put(f, &llmo_kube_nodes, node);
	st = json_pack("{s:{s:[{s:s, s:s}], s:{s:s, s:s, s:s}}}", "status", "conditions", "type",
		       "Ready", "status", "True", "allocatable", "cpu", "16", "memory", "64Gi",
		       "nvidia.com/gpu", gpus);
	if (llmo_kube_patch(f->client, &llmo_kube_nodes, NULL, name, "status",
			    LLMO_KUBE_PATCH_MERGE, st, NULL, &err))
		fail_msg("node status: %s", err.msg);
	json_decref(st);
}

/* The node's prefetch annotation (NULL when none); *hold keeps the node. */
static const char *pf_request(struct kube_fixture *f, const char *name, json_t **hold)
{
	*hold = NULL;
	if (llmo_kube_get(f->client, &llmo_kube_nodes, NULL, name, hold, NULL))
		return NULL;
	return json_string_value(json_object_get(
		json_object_get(json_object_get(*hold, "metadata"), "annotations"),
		"llm.orchestrator.io/prefetch"));
}

struct pf_want {
	struct kube_fixture *f;
	const char *node;
	bool asked;
};

/* The node's annotation asks (or, asked false, no longer asks) for the workload's model. */
static bool pf_is(void *ctx)
{
	struct pf_want *w = ctx;
	json_t *hold, *req;
	const char *text = pf_request(w->f, w->node, &hold);
	const char *ref;
	bool ok;

	if (!hold)
		return false;
	req = text ? json_loads(text, 0, NULL) : NULL;
	ref = json_string_value(json_object_get(req, NS "/chat"));
	ok = w->asked ? ref && strstr(ref, "registry.local/models/llama2:7b@" PF_DIGEST) == ref
		      : !ref;
	json_decref(req);
	json_decref(hold);
	return ok;
}

/*
 * The model pinned by digest (as `llmo model push` leaves it); the nodes cold
 * (2 GPUs, without the model), warm (2 GPUs, with it) and nogpu; the workload
 * chat with the predictive autoscaler at 40 requests/s against a target of 10.
 */
static void pf_setup(struct kube_fixture *f, struct fake_gw *g)
{
	struct llmo_error err = {0};
	json_t *patch = json_pack("{s:{s:{s:s}}}", "spec", "artifact", "digest", PF_DIGEST);
	json_t *wl;

	if (llmo_kube_patch(f->client, &llmo_kube_llmmodels, NS, "llama2-7b", NULL,
			    LLMO_KUBE_PATCH_MERGE, patch, NULL, &err))
		fail_msg("model: %s", err.msg);
	json_decref(patch);
	pf_node(f, "cold", "2", NULL);
	pf_node(f, "warm", "2", PF_DIGEST);
	pf_node(f, "nogpu", "0", NULL);
	wl = workload("chat", 1);
	json_object_set_new(json_object_get(wl, "metadata"), "annotations",
			    json_pack("{s:s}", "llm.orchestrator.io/autoscaler", "predictive"));
	json_object_set_new(json_object_get(json_object_get(wl, "spec"), "scaling"),
			    "targetMetrics",
			    json_pack("[{s:s, s:f}]", "type", "requests_per_second", "target", 10.0));
	put(f, &llmo_kube_llmworkloads, wl);
	pthread_mutex_lock(&g->lock);
	g->rate = 40;
	g->rate_since = llmo_clock_mono_ms();
	pthread_mutex_unlock(&g->lock);
}

/*
 * The predictive autoscaler wants more replicas than have a node (none is
 * bound here): the node that could host one and lacks the model is asked to
 * fetch it; the one that holds it, and the one without GPUs, are not. Once
 * the asked node lists the model in its cache, the request goes. A node
 * added later is asked too, and deleting the workload withdraws that.
 */
static void test_prefetch(void **state)
{
	struct kube_fixture f;
	static struct fake_gw g;
	struct llmo_controller *c = NULL;
	struct llmo_config cfg = {0};
	struct llmo_controller_opts o = {.scrape_interval_ms = 100};
	struct pf_want cold = {.f = &f, .node = "cold", .asked = true};
	struct llmo_error err = {0};
	char url[64];
	json_t *hold;

	(void)state;
	c = start_autoscaling(&f, &g, &cfg, &o, url, sizeof(url));
	pf_setup(&f, &g);
	assert_true(run_until(f.base, pf_is, &cold, WAIT_MS));
	wait_event(&f, "Prefetching");
	assert_null(pf_request(&f, "warm", &hold));
	json_decref(hold);
	assert_null(pf_request(&f, "nogpu", &hold));
	json_decref(hold);

	/* the agent fetched it: the request is withdrawn */
	{
		json_t *patch = json_pack(
			"{s:{s:{s:s}}}", "metadata", "annotations", "llm.orchestrator.io/cached-models",
			"{\"pullBytesPerSecond\":1,\"models\":[{\"name\":\"llama2\",\"version\":\"7b\","
			"\"digest\":\"" PF_DIGEST "\",\"sizeBytes\":1000}]}");

		if (llmo_kube_patch(f.client, &llmo_kube_nodes, NULL, "cold", NULL,
				    LLMO_KUBE_PATCH_MERGE, patch, NULL, &err))
			fail_msg("node: %s", err.msg);
		json_decref(patch);
	}
	cold.asked = false;
	assert_true(run_until(f.base, pf_is, &cold, WAIT_MS));
	wait_event(&f, "Prefetched");

	/* a new node is asked while the demand lasts; deleting the workload withdraws it */
	{
		struct pf_want late = {.f = &f, .node = "late", .asked = true};
		struct cond del = {.f = &f, .r = &llmo_kube_llmworkloads, .name = "chat"};

		pf_node(&f, "late", "1", NULL);
		assert_true(run_until(f.base, pf_is, &late, WAIT_MS));
		assert_int_equal(llmo_kube_delete(f.client, &llmo_kube_llmworkloads, NS, "chat",
						  LLMO_KUBE_PROPAGATE_BACKGROUND, NULL, &err), 0);
		late.asked = false;
		assert_true(run_until(f.base, pf_is, &late, WAIT_MS));
		assert_true(run_until(f.base, gone, &del, WAIT_MS));
	}
	stop_autoscaling(c, &f, &g, &cfg);
}

/* ---- migration (make-before-break) ---- */

/* Plays the scheduler: binds the pod to node. */
static void bind_pod(struct kube_fixture *f, const char *pod, const char *node)
{
	struct llmo_error err = {0};
	json_t *body = json_pack("{s:s, s:s, s:{s:s}, s:{s:s, s:s, s:s}}", "apiVersion", "v1",
				 "kind", "Binding", "metadata", "name", pod, "target", "apiVersion",
				 "v1", "kind", "Node", "name", node);
	char path[256];

	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s/binding", NS, pod);
	if (llmo_kube_request(f->client, "POST", path, NULL, body, NULL, NULL, &err))
		fail_msg("binding: %s", err.msg);
	json_decref(body);
}

/* Plays the agent (or the scheduler) on one pod: its phase and Ready, or PodScheduled. */
static void pod_status(struct kube_fixture *f, const char *pod, const char *phase,
		       const char *cond, const char *cstatus, const char *reason)
{
	struct llmo_error err = {0};
	json_t *patch = json_pack("{s:{s:s, s:s, s:[{s:s, s:s, s:s, s:s}]}}", "status", "phase",
				  phase, "podIP", "127.0.0.1", "conditions", "type", cond, "status",
				  cstatus, "reason", reason, "message", "0/2 nodes are available");

	if (llmo_kube_patch(f->client, &llmo_kube_pods, NS, pod, "status", LLMO_KUBE_PATCH_MERGE,
			    patch, NULL, &err))
		fail_msg("pod status: %s", err.msg);
	json_decref(patch);
}

static void annotate(struct kube_fixture *f, const char *pod, const char *key, const char *v)
{
	struct llmo_error err = {0};
	json_t *patch = json_pack("{s:{s:{s:s}}}", "metadata", "annotations", key, v);

	if (llmo_kube_patch(f->client, &llmo_kube_pods, NS, pod, NULL, LLMO_KUBE_PATCH_MERGE,
			    patch, NULL, &err))
		fail_msg("annotate: %s", err.msg);
	json_decref(patch);
}

static const char *annotation_of(const json_t *pod, const char *key)
{
	return json_string_value(
		json_object_get(json_object_get(json_object_get(pod, "metadata"), "annotations"),
				key));
}

static void assert_no_annotation(struct kube_fixture *f, const char *name, const char *key)
{
	json_t *pod = NULL;

	assert_int_equal(llmo_kube_get(f->client, &llmo_kube_pods, NS, name, &pod, NULL), 0);
	assert_null(annotation_of(pod, key));
	json_decref(pod);
}

/* The workload's only pod not being deleted is named name. */
struct only {
	struct kube_fixture *f;
	const char *name;
};

static bool only_pod(void *ctx)
{
	struct only *o = ctx;
	struct pods p;
	bool ok;

	list_pods(o->f, "mig", &p);
	ok = p.n == 1 && strcmp(meta_str(p.items[0], "name"), o->name) == 0;
	json_decref(p.list);
	return ok;
}

static void wait_only(struct kube_fixture *f, const char *name)
{
	struct only only = {.f = f, .name = name};

	assert_true(run_until(f->base, only_pod, &only, WAIT_MS));
}

/* The pod other than not (of two), into out. */
static void other_pod(struct kube_fixture *f, const char *not, char *out, size_t n)
{
	struct pods p;

	list_pods(f, "mig", &p);
	assert_int_equal(p.n, 2);
	snprintf(out, n, "%s",
		 meta_str(p.items[strcmp(meta_str(p.items[0], "name"), not) == 0 ? 1 : 0], "name"));
	json_decref(p.list);
}

static json_int_t status_int(struct kube_fixture *f, const char *field)
{
	json_t *w = NULL;
	json_int_t v;

	if (llmo_kube_get(f->client, &llmo_kube_llmworkloads, NS, "mig", &w, NULL))
		return -1;
	v = json_integer_value(json_object_get(json_object_get(w, "status"), field));
	json_decref(w);
	return v;
}

/*
 * Starts a controller with o (the fixture running, its namespace made), the
 * model and the one-replica workload "mig"; its replica, named into name,
 * bound to node and Ready.
 */
static struct llmo_controller *start_mig(struct kube_fixture *f,
					 const struct llmo_controller_opts *o, const char *node,
					 char *name, size_t n)
{
	struct llmo_controller *c = NULL;
	struct want w = {.f = f, .workload = "mig", .pods = 1};
	struct llmo_error err = {0};
	struct pods p;

	if (llmo_controller_new(f->client, f->base, o, &c, &err) || llmo_controller_start(c, &err))
		fail_msg("controller: %s", err.msg);
	put(f, &llmo_kube_llmmodels, model("llama2-7b", "7b", "registry.local/models/llama2:7b"));
	put(f, &llmo_kube_llmworkloads, workload("mig", 1));
	assert_true(run_until(f->base, has_pods, &w, WAIT_MS));
	list_pods(f, "mig", &p);
	snprintf(name, n, "%s", meta_str(p.items[0], "name"));
	json_decref(p.list);
	bind_pod(f, name, node);
	pod_status(f, name, "Running", "Ready", "True", "Ready");
	return c;
}

/*
 * A replica annotated llm.orchestrator.io/migrate gets a replacement kept
 * off its node (required node affinity NotIn), counted in no replica count
 * and never scaled in; only when the replacement is Ready does the replica
 * go (deleted at once here: no gateway to drain through). A replacement the
 * scheduler cannot place is removed after the bound and the request is
 * cleared, with a MigrationFailed Event.
 */
static void test_migration(void **state)
{
	struct kube_fixture f;
	struct llmo_controller *c = NULL;
	struct llmo_controller_opts o = {.migrate_unschedulable_ms = 500};
	struct want w = {.f = &f, .workload = "mig", .pods = 1};
	char first[128], repl[128];
	json_t *terms, *expr, *pod = NULL;

	(void)state;
	assert_int_equal(fixture_start(&f), 0);
	make_ns(&f);
	c = start_mig(&f, &o, "node-a", first, sizeof(first));

	/* asked to move: a replacement that may not go to node-a; the replica stays */
	annotate(&f, first, "llm.orchestrator.io/migrate", "true");
	w.pods = 2;
	assert_true(run_until(f.base, has_pods, &w, WAIT_MS));
	wait_event(&f, "Migrating");
	other_pod(&f, first, repl, sizeof(repl));
	assert_int_equal(llmo_kube_get(f.client, &llmo_kube_pods, NS, repl, &pod, NULL), 0);
	assert_string_equal(annotation_of(pod, "llm.orchestrator.io/migration-of"), first);
	terms = json_object_get(
		json_object_get(json_object_get(json_object_get(json_object_get(pod, "spec"),
								"affinity"),
						"nodeAffinity"),
				"requiredDuringSchedulingIgnoredDuringExecution"),
		"nodeSelectorTerms");
	expr = json_array_get(json_object_get(json_array_get(terms, 0), "matchFields"), 0);
	assert_string_equal(json_string_value(json_object_get(expr, "key")), "metadata.name");
	assert_string_equal(json_string_value(json_object_get(expr, "operator")), "NotIn");
	assert_string_equal(json_string_value(json_array_get(json_object_get(expr, "values"), 0)),
			    "node-a");
	json_decref(pod);
	pod = NULL;

	/* placed and running but not Ready: both stay, and the count is still one */
	bind_pod(&f, repl, "node-b");
	pod_status(&f, repl, "Running", "Ready", "False", "ContainersNotReady");
	run_for(f.base, 500); /* what must not happen would have: reconciles take milliseconds */
	assert_true(has_pods(&w));
	assert_int_equal(status_int(&f, "replicas"), 1);
	assert_int_equal(status_int(&f, "desiredReplicas"), 1);

	/* Ready: the replica goes, the replacement is an ordinary replica */
	pod_status(&f, repl, "Running", "Ready", "True", "Ready");
	wait_only(&f, repl);
	wait_event(&f, "Migrated");
	assert_no_annotation(&f, repl, "llm.orchestrator.io/migration-of");

	/*
	 * The next one names a node (as the rebalancer does): the replacement
	 * prefers it. No node can take it: abandoned, both annotations cleared.
	 */
	snprintf(first, sizeof(first), "%s", repl);
	annotate(&f, first, "llm.orchestrator.io/migrate-to", "node-c");
	annotate(&f, first, "llm.orchestrator.io/migrate", "make room");
	assert_true(run_until(f.base, has_pods, &w, WAIT_MS));
	other_pod(&f, first, repl, sizeof(repl));
	assert_int_equal(llmo_kube_get(f.client, &llmo_kube_pods, NS, repl, &pod, NULL), 0);
	terms = json_object_get(
		json_object_get(json_object_get(json_object_get(pod, "spec"), "affinity"),
				"nodeAffinity"),
		"preferredDuringSchedulingIgnoredDuringExecution");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(terms, 0), "weight")),
			 100);
	expr = json_array_get(json_object_get(json_object_get(json_array_get(terms, 0),
							      "preference"),
					      "matchFields"),
			      0);
	assert_string_equal(json_string_value(json_object_get(expr, "operator")), "In");
	assert_string_equal(json_string_value(json_array_get(json_object_get(expr, "values"), 0)),
			    "node-c");
	json_decref(pod);
	pod = NULL;
	pod_status(&f, repl, "Pending", "PodScheduled", "False", "Unschedulable");
	wait_only(&f, first);
	wait_event(&f, "MigrationFailed");
	assert_no_annotation(&f, first, "llm.orchestrator.io/migrate");
	assert_no_annotation(&f, first, "llm.orchestrator.io/migrate-to");

	llmo_controller_free(c);
	fixture_stop(&f);
}

/*
 * No migration starts while a rollout replaces replicas: during a rolling
 * update to v2, the new replica (placed, not Ready yet, the old one still
 * serving) asks to move; nothing is made for it (no third pod, no Migrating
 * Event). Once it is Ready the rollout retires the old replica, and then the
 * migration starts.
 */
static void test_migration_waits_for_rollout(void **state)
{
	struct kube_fixture f;
	struct llmo_controller *c;
	struct llmo_controller_opts o = {0};
	struct want w = {.f = &f, .workload = "mig", .pods = 2};
	struct llmo_error err = {0};
	char old[128], fresh[128];
	json_t *patch;

	(void)state;
	assert_int_equal(fixture_start(&f), 0);
	make_ns(&f);
	c = start_mig(&f, &o, "node-a", old, sizeof(old));
	put(&f, &llmo_kube_llmmodels, model("llama2-v2", "v2", "registry.local/models/llama2:v2"));
	patch = json_pack("{s:{s:s}}", "spec", "modelVersion", "v2");
	if (llmo_kube_patch(f.client, &llmo_kube_llmworkloads, NS, "mig", NULL,
			    LLMO_KUBE_PATCH_MERGE, patch, NULL, &err))
		fail_msg("patch: %s", err.msg);
	json_decref(patch);
	assert_true(run_until(f.base, has_pods, &w, WAIT_MS));
	other_pod(&f, old, fresh, sizeof(fresh));
	bind_pod(&f, fresh, "node-b");
	pod_status(&f, fresh, "Running", "Ready", "False", "ContainersNotReady");

	annotate(&f, fresh, "llm.orchestrator.io/migrate", "true");
	run_for(f.base, 500); /* what must not happen would have: reconciles take milliseconds */
	assert_true(has_pods(&w));
	assert_false(has_event(&f, "Migrating"));

	/* the rollout retires the old replica; once it is gone (the node's part, played
	 * here) the rollout is over and the request is taken up */
	pod_status(&f, fresh, "Running", "Ready", "True", "Ready");
	wait_only(&f, fresh);
	{
		char path[256];

		snprintf(path, sizeof(path),
			 "/api/v1/namespaces/%s/pods/%s?gracePeriodSeconds=0", NS, old);
		if (llmo_kube_request(f.client, "DELETE", path, NULL, NULL, NULL, NULL, &err))
			fail_msg("delete: %s", err.msg);
	}
	wait_event(&f, "Migrating");
	assert_true(run_until(f.base, has_pods, &w, WAIT_MS));

	llmo_controller_free(c);
	fixture_stop(&f);
}

/* The Node's own usage annotation (what its agent would publish), now. */
static void node_usage(struct kube_fixture *f, const char *name, int64_t cpu_milli,
		       int64_t memory)
{
	struct llmo_usage u = {.cpu_milli = cpu_milli, .memory = memory,
			       .at_ms = llmo_clock_wall_ms()};
	struct llmo_error err = {0};
	char text[LLMO_USAGE_TEXT_MAX];
	json_t *patch;

	assert_int_equal(llmo_usage_format(&u, text, sizeof(text)), 0);
	patch = json_pack("{s:{s:{s:s}}}", "metadata", "annotations", LLMO_ANNOTATION_USAGE, text);
	if (llmo_kube_patch(f->client, &llmo_kube_nodes, NULL, name, NULL, LLMO_KUBE_PATCH_MERGE,
			    patch, NULL, &err))
		fail_msg("node annotation: %s", err.msg);
	json_decref(patch);
}

/* The pod's migrate annotation begins with want->want. */
static bool migrate_asked(void *ctx)
{
	struct cond *c = ctx;
	json_t *pod = NULL;
	const char *v;
	bool ok;

	if (llmo_kube_get(c->f->client, &llmo_kube_pods, NS, c->name, &pod, NULL))
		return false;
	v = annotation_of(pod, "llm.orchestrator.io/migrate");
	ok = v && strncmp(v, c->want, strlen(c->want)) == 0;
	json_decref(pod);
	return ok;
}

/*
 * The rebalancer, every optimizationInterval (200ms here): node "hot" (16
 * cpus, 64Gi, one GPU) uses 15000m = 0.94 > scaleUpThreshold 0.8; its
 * replica (2 cpus, 16Gi, 1 GPU requested; 4000m used) fits on "cool" (its
 * GPU free; 1000m used), which would be at 5000/16000 = 0.31, below the
 * target 0.8 and below hot's 11000/16000 = 0.69 after. The replica is
 * asked to move, and the migration starts.
 */
static void test_rebalance_trigger(void **state)
{
	struct kube_fixture f;
	struct llmo_controller *c = NULL;
	struct llmo_controller_opts o = {0};
	struct llmo_config cfg = {0};
	struct llmo_errlist errs;
	struct want w = {.f = &f, .workload = "mig", .pods = 1};
	struct cond asked = {.f = &f, .want = "rebalance: node hot at 94%"};
	json_t *user = json_pack("{s:{s:s}}", "resourceManager", "optimizationInterval", "200ms");
	char name[128];

	(void)state;
	llmo_errlist_init(&errs);
	assert_int_equal(llmo_config_from_json(user, &cfg, &errs), 0);
	llmo_errlist_release(&errs);
	json_decref(user);
	o.config = &cfg;
	assert_int_equal(fixture_start(&f), 0);
	make_ns(&f);
	pf_node(&f, "hot", "1", NULL);
	pf_node(&f, "cool", "1", NULL);
	node_usage(&f, "hot", 15000, (int64_t)8 << 30);
	node_usage(&f, "cool", 1000, (int64_t)8 << 30);
	c = start_mig(&f, &o, "hot", name, sizeof(name));
	set_usage(&f, "mig", 0, 4000, (int64_t)1 << 30);

	asked.name = name;
	assert_true(run_until(f.base, migrate_asked, &asked, WAIT_MS));
	/* the node it chose, for the replacement to prefer */
	{
		json_t *pod = NULL;

		assert_int_equal(llmo_kube_get(f.client, &llmo_kube_pods, NS, name, &pod, NULL), 0);
		assert_string_equal(annotation_of(pod, "llm.orchestrator.io/migrate-to"), "cool");
		json_decref(pod);
	}
	wait_event(&f, "Migrating");
	w.pods = 2;
	assert_true(run_until(f.base, has_pods, &w, WAIT_MS));

	llmo_controller_free(c);
	fixture_stop(&f);
	llmo_config_free(&cfg);
}

/*
 * resourceManager.modelPrefetch false: the same scale-up (four replicas
 * wanted, none placed) asks no node, and a request an earlier configuration
 * left on a node is withdrawn.
 */
static void test_prefetch_off(void **state)
{
	struct kube_fixture f;
	static struct fake_gw g;
	struct llmo_controller *c = NULL;
	struct llmo_config cfg = {0};
	struct llmo_controller_opts o = {.scrape_interval_ms = 100};
	struct pf_want left = {.f = &f, .node = "old", .asked = false};
	struct pf_want cold = {.f = &f, .node = "cold", .asked = false};
	struct want four = {.f = &f, .workload = "chat", .pods = 4};
	struct llmo_error err = {0};
	json_t *patch;
	char url[64];

	(void)state;
	c = start_autoscaling(&f, &g, &cfg, &o, url, sizeof(url));
	cfg.resource_manager.model_prefetch = false;
	pf_node(&f, "old", "2", NULL);
	patch = json_pack("{s:{s:{s:s}}}", "metadata", "annotations",
			  "llm.orchestrator.io/prefetch",
			  "{\"" NS "/chat\":\"registry.local/models/llama2:7b@" PF_DIGEST "\"}");
	if (llmo_kube_patch(f.client, &llmo_kube_nodes, NULL, "old", NULL, LLMO_KUBE_PATCH_MERGE,
			    patch, NULL, &err))
		fail_msg("node: %s", err.msg);
	json_decref(patch);
	pf_setup(&f, &g);
	wait_event(&f, "ScaledUp");
	assert_true(run_until(f.base, has_min_pods, &four, WAIT_MS));
	assert_true(run_until(f.base, pf_is, &left, WAIT_MS));
	/* reconciles after the scale-up do not ask either */
	run_until(f.base, never_true, NULL, 500);
	assert_true(pf_is(&cold));
	assert_true(pf_is(&left));
	stop_autoscaling(c, &f, &g, &cfg);
}

/* ---- the node families of /metrics ---- */

/* A pod of no workload on node, requesting cpu. */
static json_t *plain_pod(const char *name, const char *node, const char *cpu)
{
	return json_pack("{s:s, s:s, s:{s:s}, s:{s:s, s:[{s:s, s:s, s:{s:{s:s}}}]}}",
			 "apiVersion", "v1", "kind", "Pod", "metadata", "name", name, "spec",
			 "nodeName", node, "containers", "name", "main", "image", "busybox",
			 "resources", "requests", "cpu", cpu);
}

struct scrape_want {
	struct llmo_controller *c;
	const char *line; /* a whole line of the exposition */
};

/* The controller's /metrics has w->line. */
static bool scrape_has(void *ctx)
{
	struct scrape_want *w = ctx;
	struct llmo_error err = {0};
	struct llmo_buf out;
	const char *p;
	size_t n = strlen(w->line);
	bool ok = false;

	llmo_buf_init(&out, 1 << 20);
	if (llmo__exporter_write(w->c, &out, &err))
		fail_msg("metrics: %s", err.msg);
	for (p = out.data; p && !ok && (p = strstr(p, w->line)); p++)
		ok = (p == out.data || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0');
	llmo_buf_release(&out);
	return ok;
}

/*
 * The node families come from the controller's caches of every Node and
 * Pod: a node and pods that belong to no workload show up, and so do
 * changes made after the caches synced (their watches run). Then ten
 * scrapes make no request to the API: the server counts none.
 */
static void test_node_metrics_from_caches(void **state)
{
	struct kube_fixture f;
	/* served (the caches exist only then); no node check while counting (it lists Nodes) */
	struct llmo_controller_opts o = {.metrics_host = "127.0.0.1", .node_check_ms = 3600 * 1000};
	struct llmo_controller *c = NULL;
	struct llmo_error err = {0};
	struct scrape_want w;
	json_t *patch;
	uint64_t before;

	(void)state;
	assert_int_equal(fixture_start(&f), 0);
	make_ns(&f);
	if (llmo_controller_new(f.client, f.base, &o, &c, &err) || llmo_controller_start(c, &err))
		fail_msg("controller: %s", err.msg);
	w.c = c;
	pf_node(&f, "n1", "2", NULL);
	put(&f, &llmo_kube_pods, plain_pod("a", "n1", "500m"));
	w.line = "llmo_node_allocatable{node=\"n1\",resource=\"gpu\"} 2";
	assert_true(run_until(f.base, scrape_has, &w, WAIT_MS));
	w.line = "llmo_node_requested{node=\"n1\",resource=\"cpu\"} 0.5";
	assert_true(run_until(f.base, scrape_has, &w, WAIT_MS));
	/* after the sync: through the watches */
	patch = json_pack("{s:{s:{s:s}}}", "status", "allocatable", "nvidia.com/gpu", "3");
	if (llmo_kube_patch(f.client, &llmo_kube_nodes, NULL, "n1", "status",
			    LLMO_KUBE_PATCH_MERGE, patch, NULL, &err))
		fail_msg("node status: %s", err.msg);
	json_decref(patch);
	put(&f, &llmo_kube_pods, plain_pod("b", "n1", "1"));
	w.line = "llmo_node_allocatable{node=\"n1\",resource=\"gpu\"} 3";
	assert_true(run_until(f.base, scrape_has, &w, WAIT_MS));
	w.line = "llmo_node_requested{node=\"n1\",resource=\"cpu\"} 1.5";
	assert_true(run_until(f.base, scrape_has, &w, WAIT_MS));

	before = llmo_apiserver_requests(f.srv);
	for (int i = 0; i < 10; i++)
		assert_true(scrape_has(&w));
	assert_int_equal(llmo_apiserver_requests(f.srv), before);
	llmo_controller_free(c);
	fixture_stop(&f);
}

/* ---- spec.security ---- */

/* The required nodeSelectorTerms of a pod (or its spec), or NULL. */
static json_t *required_terms(const json_t *podspec)
{
	return json_object_get(
		json_object_get(json_object_get(json_object_get(podspec, "affinity"),
						"nodeAffinity"),
				"requiredDuringSchedulingIgnoredDuringExecution"),
		"nodeSelectorTerms");
}

static json_t *node_labelled(const char *compliance, const char *data_class)
{
	json_t *labels = json_object();

	if (compliance)
		json_object_set_new(labels, LLMO_NODE_LABEL_COMPLIANCE, json_string(compliance));
	if (data_class)
		json_object_set_new(labels, LLMO_NODE_LABEL_DATA_CLASS, json_string(data_class));
	return json_pack("{s:{s:s, s:o}}", "metadata", "name", "n", "labels", labels);
}

/* Whether the scheduler's filter lets a replica of wspec's template on that node. */
static bool fits(const json_t *wspec, const char *compliance, const char *data_class)
{
	json_t *pod = json_pack("{s:{}}", "spec"), *node = node_labelled(compliance, data_class);
	bool ok;

	assert_int_equal(llmo__security_node_affinity(wspec, json_object_get(pod, "spec")), 0);
	ok = llmo_sched_node_selected(pod, node);
	json_decref(pod);
	json_decref(node);
	return ok;
}

/*
 * complianceLevel and dataClassification as the scheduler sees them: each
 * level runs on nodes labelled with it or a stricter one; basic and public
 * (and nothing) constrain nothing; both together must both hold.
 */
static void test_security_levels_schedule(void **state)
{
	json_t *w;

	(void)state;
	w = json_pack("{s:{s:s}}", "security", "complianceLevel", "strict");
	assert_false(fits(w, NULL, NULL));
	assert_false(fits(w, "basic", NULL));
	assert_true(fits(w, "strict", NULL));
	assert_true(fits(w, "enterprise", NULL));
	json_decref(w);
	w = json_pack("{s:{s:s}}", "security", "complianceLevel", "enterprise");
	assert_false(fits(w, "strict", NULL));
	assert_true(fits(w, "enterprise", NULL));
	json_decref(w);
	w = json_pack("{s:{s:s, s:s}}", "security", "complianceLevel", "basic",
		      "dataClassification", "public");
	assert_true(fits(w, NULL, NULL));
	json_decref(w);
	w = json_pack("{s:{s:s}}", "security", "dataClassification", "internal");
	assert_false(fits(w, NULL, "public"));
	assert_true(fits(w, NULL, "internal"));
	assert_true(fits(w, NULL, "confidential"));
	json_decref(w);
	w = json_pack("{s:{s:s, s:s}}", "security", "complianceLevel", "strict",
		      "dataClassification", "confidential");
	assert_false(fits(w, "strict", "internal"));
	assert_false(fits(w, NULL, "confidential"));
	assert_true(fits(w, "enterprise", "confidential"));
	json_decref(w);
}

/*
 * A new requirement goes into every required term (terms are ORed, a
 * term's requirements ANDed), so that what was required still is; with no
 * term, one is made.
 */
static void test_node_affinity_require(void **state)
{
	json_t *spec = json_pack(
		"{s:{s:{s:{s:[{s:[{s:s, s:s, s:[s]}]}, {s:[{s:s, s:s}]}]}}}}", "affinity",
		"nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution",
		"nodeSelectorTerms", "matchExpressions", "key", "zone", "operator", "In", "values",
		"a", "matchExpressions", "key", "gpu", "operator", "Exists");
	json_t *empty = json_object(), *terms, *t;
	size_t i;

	(void)state;
	assert_int_equal(llmo__node_affinity_require(
				 spec, "matchFields",
				 json_pack("{s:s, s:s, s:[s]}", "key", "metadata.name", "operator",
					   "NotIn", "values", "node-a")),
			 0);
	terms = required_terms(spec);
	assert_int_equal(json_array_size(terms), 2);
	json_array_foreach(terms, i, t) {
		assert_int_equal(json_array_size(json_object_get(t, "matchExpressions")), 1);
		assert_int_equal(json_array_size(json_object_get(t, "matchFields")), 1);
		assert_string_equal(
			json_string_value(json_array_get(
				json_object_get(json_array_get(json_object_get(t, "matchFields"), 0),
						"values"),
				0)),
			"node-a");
	}
	assert_int_equal(llmo__node_affinity_require(
				 empty, "matchExpressions",
				 json_pack("{s:s, s:s}", "key", "k", "operator", "Exists")),
			 0);
	assert_int_equal(json_array_size(required_terms(empty)), 1);
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(json_object_get(json_array_get(required_terms(empty),
										  0),
								   "matchExpressions"),
						   0),
				    "key")),
			    "k");
	json_decref(spec);
	json_decref(empty);
}

/* The workload's condition of type: reason and message into n-byte buffers; false if none. */

static json_t *netpol(const char *name, json_t *pod_selector)
{
	return json_pack("{s:s, s:s, s:{s:s}, s:{s:o, s:[s]}}", "apiVersion", "networking.k8s.io/v1",
			 "kind", "NetworkPolicy", "metadata", "name", name, "spec", "podSelector",
			 pod_selector, "policyTypes", "Egress");
}

/*
 * spec.security in the replicas and the status: a required node affinity
 * term for complianceLevel strict and dataClassification confidential, a
 * policy.llm.orchestrator.io/NAME label per NetworkPolicy named, and
 * NetworkPoliciesApplied: NetworkPolicyNotFound while one is missing,
 * NetworkPolicyDoesNotSelect while one's podSelector misses the replicas,
 * True once both select them (NetworkPolicy changes reach the workload by
 * themselves). An unschedulable replica shows in Ready with the
 * scheduler's message and the node labels needed. A workload without
 * spec.security gets none of it.
 */
static void test_security(void **state)
{
	struct kube_fixture f;
	struct llmo_controller *c;
	struct want w = {.f = &f, .workload = "sec", .pods = 1};
	struct cond_reason rw = {.f = &f, .name = "sec", .type = "NetworkPoliciesApplied",
				 .want = "NetworkPolicyNotFound"};
	struct llmo_error err = {0};
	char status[1024], reason[1024], msg[1024];
	json_t *sec = workload("sec", 1), *labels, *terms, *exprs, *patch;
	struct pods p;

	(void)state;
	assert_int_equal(fixture_start(&f), 0);
	make_ns(&f);
	c = start_controller(&f, false, NULL);
	put(&f, &llmo_kube_llmmodels, model("llama2-7b", "7b", "registry.local/models/llama2:7b"));
	json_object_set_new(json_object_get(sec, "spec"), "security",
			    json_pack("{s:s, s:s, s:[s, s]}", "complianceLevel", "strict",
				      "dataClassification", "confidential", "networkPolicies",
				      "deny-egress", "audit"));
	put(&f, &llmo_kube_llmworkloads, sec);
	put(&f, &llmo_kube_llmworkloads, workload("plain", 1));
	assert_true(run_until(f.base, has_pods, &w, WAIT_MS));

	list_pods(&f, "sec", &p);
	labels = json_object_get(json_object_get(p.items[0], "metadata"), "labels");
	assert_string_equal(json_string_value(json_object_get(
				    labels, "policy.llm.orchestrator.io/deny-egress")),
			    "true");
	assert_string_equal(
		json_string_value(json_object_get(labels, "policy.llm.orchestrator.io/audit")),
		"true");
	terms = required_terms(json_object_get(p.items[0], "spec"));
	assert_int_equal(json_array_size(terms), 1);
	exprs = json_object_get(json_array_get(terms, 0), "matchExpressions");
	assert_int_equal(json_array_size(exprs), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(exprs, 0), "key")),
			    LLMO_NODE_LABEL_COMPLIANCE);
	assert_string_equal(
		json_string_value(json_object_get(json_array_get(exprs, 0), "operator")), "In");
	assert_int_equal(json_array_size(json_object_get(json_array_get(exprs, 0), "values")), 2);
	assert_string_equal(json_string_value(json_array_get(
				    json_object_get(json_array_get(exprs, 0), "values"), 0)),
			    "strict");
	assert_string_equal(json_string_value(json_array_get(
				    json_object_get(json_array_get(exprs, 0), "values"), 1)),
			    "enterprise");
	assert_string_equal(json_string_value(json_object_get(json_array_get(exprs, 1), "key")),
			    LLMO_NODE_LABEL_DATA_CLASS);
	assert_int_equal(json_array_size(json_object_get(json_array_get(exprs, 1), "values")), 1);
	assert_string_equal(json_string_value(json_array_get(
				    json_object_get(json_array_get(exprs, 1), "values"), 0)),
			    "confidential");

	/* the scheduler finds no node: Ready says so, with what a node needs */
	pod_status(&f, meta_str(p.items[0], "name"), "Pending", "PodScheduled", "False",
		   "Unschedulable");
	json_decref(p.list);
	rw.type = "Ready";
	rw.want = "ReplicasUnschedulable";
	assert_true(run_until(f.base, cond_reason_is, &rw, WAIT_MS));
	assert_true(cond_of(&f, NULL, "sec", "Ready", status, reason, msg, sizeof(reason)));
	assert_non_null(strstr(msg, "1 unschedulable: 0/2 nodes are available"));
	assert_non_null(strstr(msg, LLMO_NODE_LABEL_COMPLIANCE " in (strict, enterprise), "
				    LLMO_NODE_LABEL_DATA_CLASS " in (confidential)"));

	/* neither policy exists */
	rw.type = "NetworkPoliciesApplied";
	rw.want = "NetworkPolicyNotFound";
	assert_true(run_until(f.base, cond_reason_is, &rw, WAIT_MS));
	assert_true(cond_of(&f, NULL, "sec", rw.type, status, reason, msg, sizeof(reason)));
	assert_non_null(strstr(msg, "deny-egress, audit"));
	/* one selects the replicas' label, the other something else */
	put(&f, &llmo_kube_networkpolicies,
	    netpol("deny-egress", json_pack("{s:{s:s}}", "matchLabels",
					    "policy.llm.orchestrator.io/deny-egress", "true")));
	put(&f, &llmo_kube_networkpolicies,
	    netpol("audit", json_pack("{s:{s:s}}", "matchLabels", "app", "other")));
	rw.want = "NetworkPolicyDoesNotSelect";
	assert_true(run_until(f.base, cond_reason_is, &rw, WAIT_MS));
	assert_true(cond_of(&f, NULL, "sec", rw.type, status, reason, msg, sizeof(reason)));
	assert_non_null(strstr(msg, ": audit"));
	assert_null(strstr(msg, "deny-egress"));
	/* fixed with a matchExpression on its label: True */
	patch = json_pack("{s:{s:{s:n, s:[{s:s, s:s}]}}}", "spec", "podSelector", "matchLabels",
			  "matchExpressions", "key", "policy.llm.orchestrator.io/audit", "operator",
			  "Exists");
	if (llmo_kube_patch(f.client, &llmo_kube_networkpolicies, NS, "audit", NULL,
			    LLMO_KUBE_PATCH_MERGE, patch, NULL, &err))
		fail_msg("patch: %s", err.msg);
	json_decref(patch);
	rw.want = "NetworkPoliciesSelectReplicas";
	assert_true(run_until(f.base, cond_reason_is, &rw, WAIT_MS));
	{
		struct cond cd = {.f = &f, .r = &llmo_kube_llmworkloads, .name = "sec",
				  .path = "NetworkPoliciesApplied", .want = "True"};

		assert_true(has_cond(&cd));
	}

	/* no spec.security: no affinity, no policy label, no condition */
	w.workload = "plain";
	assert_true(run_until(f.base, has_pods, &w, WAIT_MS));
	list_pods(&f, "plain", &p);
	assert_null(json_object_get(json_object_get(p.items[0], "spec"), "affinity"));
	json_decref(p.list);
	assert_false(cond_of(&f, NULL, "plain", "NetworkPoliciesApplied", status, reason, msg, sizeof(reason)));
	llmo_controller_free(c);
	fixture_stop(&f);
}

/*
 * spec.placement.spread: each replica gets an anti-affinity term against the
 * workload's replicas of its template (matchLabelKeys: the template hash). "wide" (spread {}: the API server's
 * defaults, hostname and preferred) gets a preferred term of weight 100;
 * "zonal" (required, by zone) a required one, beside the node affinity of
 * its complianceLevel; "plain" none.
 */
static void test_spread(void **state)
{
	struct kube_fixture f;
	struct llmo_controller *c;
	struct want w = {.f = &f, .workload = "wide", .pods = 1};
	json_t *wide = workload("wide", 1), *zonal = workload("zonal", 1), *aff, *term;
	struct pods p;

	(void)state;
	assert_int_equal(fixture_start(&f), 0);
	make_ns(&f);
	c = start_controller(&f, false, NULL);
	put(&f, &llmo_kube_llmmodels, model("llama2-7b", "7b", "registry.local/models/llama2:7b"));
	json_object_set_new(json_object_get(wide, "spec"), "placement",
			    json_pack("{s:{}}", "spread"));
	json_object_set_new(json_object_get(zonal, "spec"), "placement",
			    json_pack("{s:{s:s, s:s}}", "spread", "mode", "required", "topologyKey",
				      "topology.kubernetes.io/zone"));
	json_object_set_new(json_object_get(zonal, "spec"), "security",
			    json_pack("{s:s}", "complianceLevel", "strict"));
	put(&f, &llmo_kube_llmworkloads, wide);
	put(&f, &llmo_kube_llmworkloads, zonal);
	put(&f, &llmo_kube_llmworkloads, workload("plain", 1));
	assert_true(run_until(f.base, has_pods, &w, WAIT_MS));
	w.workload = "zonal";
	assert_true(run_until(f.base, has_pods, &w, WAIT_MS));
	w.workload = "plain";
	assert_true(run_until(f.base, has_pods, &w, WAIT_MS));

	list_pods(&f, "wide", &p);
	aff = json_object_get(json_object_get(p.items[0], "spec"), "affinity");
	term = json_array_get(json_object_get(json_object_get(aff, "podAntiAffinity"),
					      "preferredDuringSchedulingIgnoredDuringExecution"),
			      0);
	assert_int_equal(json_integer_value(json_object_get(term, "weight")), 100);
	term = json_object_get(term, "podAffinityTerm");
	assert_string_equal(json_string_value(json_object_get(term, "topologyKey")),
			    "kubernetes.io/hostname");
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(json_object_get(term, "labelSelector"),
						    "matchLabels"),
				    "llm.orchestrator.io/workload")),
			    "wide");
	assert_int_equal(json_object_size(json_object_get(json_object_get(term, "labelSelector"),
							   "matchLabels")),
			 1);
	assert_string_equal(json_string_value(json_array_get(json_object_get(term,
									      "matchLabelKeys"),
							     0)),
			    "llm.orchestrator.io/template-hash");
	json_decref(p.list);

	list_pods(&f, "zonal", &p);
	aff = json_object_get(json_object_get(p.items[0], "spec"), "affinity");
	term = json_array_get(json_object_get(json_object_get(aff, "podAntiAffinity"),
					      "requiredDuringSchedulingIgnoredDuringExecution"),
			      0);
	assert_string_equal(json_string_value(json_object_get(term, "topologyKey")),
			    "topology.kubernetes.io/zone");
	assert_null(json_object_get(json_object_get(aff, "podAntiAffinity"),
				    "preferredDuringSchedulingIgnoredDuringExecution"));
	assert_int_equal(json_array_size(required_terms(json_object_get(p.items[0], "spec"))), 1);
	json_decref(p.list);

	list_pods(&f, "plain", &p);
	assert_null(json_object_get(json_object_get(p.items[0], "spec"), "affinity"));
	json_decref(p.list);

	llmo_controller_free(c);
	fixture_stop(&f);
}

/* Whether pod is gone, being deleted or draining. */
static bool pod_leaving(struct kube_fixture *f, const char *pod)
{
	json_t *obj = NULL;
	bool gone;

	if (llmo_kube_get(f->client, &llmo_kube_pods, NS, pod, &obj, NULL))
		return true;
	gone = json_object_get(json_object_get(obj, "metadata"), "deletionTimestamp") ||
	       annotation_of(obj, LLMO_ANNOTATION_DRAINING);
	json_decref(obj);
	return gone;
}

struct leaving {
	struct kube_fixture *f;
	const char *pod;
};

static bool leaving(void *ctx)
{
	struct leaving *l = ctx;

	return pod_leaving(l->f, l->pod);
}

/*
 * A rolling update at its surge bound with an old replica that is not ready
 * (Pending): as a Deployment cleans up unhealthy old replicas, the Pending
 * one goes once the new replica is ready (before, the rollout waited for it
 * for good), the two ready old ones stay (maxUnavailable 0).
 */
static void test_rolling_unready_old(void **state)
{
	struct kube_fixture f;
	static struct fake_gw g;
	struct llmo_controller *c;
	struct llmo_controller_opts o = {0};
	struct versions v = {.f = &f, .v1 = "7b", .v2 = "v2", .n1 = 3};
	struct leaving l = {.f = &f};
	char pending[128], fresh[128];
	struct pods p;
	char url[64];

	(void)state;
	c = start_with_gw(&f, &g, &o, url, sizeof(url));
	rolling_chat(&f, &v, 3, 1);
	set_pods(&f, "chat", "Running", true);
	list_pods(&f, "chat", &p);
	snprintf(pending, sizeof(pending), "%s", meta_str(p.items[0], "name"));
	json_decref(p.list);
	pod_status(&f, pending, "Pending", "PodScheduled", "False", "Unschedulable");
	run_until(f.base, never_true, NULL, 300);

	set_version(&f, "v2");
	v.n2 = 1;
	assert_true(run_until(f.base, has_versions, &v, WAIT_MS));
	list_pods(&f, "chat", &p);
	fresh[0] = '\0';
	for (size_t i = 0; i < p.n; i++)
		if (strcmp(json_string_value(json_object_get(
				   json_object_get(json_object_get(p.items[i], "metadata"), "labels"),
				   LLMO_LABEL_VERSION)),
			   "v2") == 0)
			snprintf(fresh, sizeof(fresh), "%s", meta_str(p.items[i], "name"));
	json_decref(p.list);
	assert_true(fresh[0]);
	/* not ready yet: the Pending old one stays (total 4 - minimum 3 - 1 new not ready) */
	run_until(f.base, never_true, NULL, 500);
	assert_false(pod_leaving(&f, pending));
	pod_status(&f, fresh, "Running", "Ready", "True", "Ready");
	l.pod = pending;
	assert_true(run_until(f.base, leaving, &l, WAIT_MS));
	/* the ready old replicas stay until more new ones are ready */
	v.n1 = 2;
	v.n2 = 2;
	assert_true(run_until(f.base, has_versions, &v, WAIT_MS));
	llmo_controller_free(c);
	fixture_stop(&f);
	fake_gw_stop(&g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_workload_lifecycle),
		cmocka_unit_test(test_model_reference),
		cmocka_unit_test(test_model_signature),
		cmocka_unit_test(test_leader_election),
		cmocka_unit_test(test_node_lifecycle),
		cmocka_unit_test(test_canary_rollout),
		cmocka_unit_test(test_canary_sla),
		cmocka_unit_test(test_min_throughput),
		cmocka_unit_test(test_encryption),
		cmocka_unit_test(test_ab_and_blue_green),
		cmocka_unit_test(test_autoscale),
		cmocka_unit_test(test_autoscale_slots),
		cmocka_unit_test(test_autoscale_cpu),
		cmocka_unit_test(test_autoscale_gpu),
		cmocka_unit_test(test_vertical),
		cmocka_unit_test(test_rolling_and_least_loaded),
		cmocka_unit_test(test_prefetch),
		cmocka_unit_test(test_migration),
		cmocka_unit_test(test_migration_waits_for_rollout),
		cmocka_unit_test(test_rebalance_trigger),
		cmocka_unit_test(test_prefetch_off),
		cmocka_unit_test(test_node_metrics_from_caches),
		cmocka_unit_test(test_security_levels_schedule),
		cmocka_unit_test(test_node_affinity_require),
		cmocka_unit_test(test_security),
		cmocka_unit_test(test_spread),
		cmocka_unit_test(test_rolling_unready_old),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
