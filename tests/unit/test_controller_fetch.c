/*
 * The model fetch init container (docs/controller.md, "The model fetch init
 * container"): with modelRegistry.fetchImage set, `llmo controller` gives a
 * replica of a model pinned by digest an init container that waits for the
 * node agent's verified fetch, the node cache as a read-only hostPath and
 * LLMO_MODEL_PATH; without it, or for a model without a digest, the
 * template is what it was, down to its hash.
 *
 * The expected objects below are written by hand from that page, not
 * copied from what the code produces.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/common.h"

#include "api/config.h"
#include "base/json.h"
#include "controller/controller.h"
#include "controller/controller_int.h"
#include "kube_fixture.h"
#include "registry/fetch.h"

#define WAIT_MS 20000
#define IMAGE "ghcr.io/llmo/llmo:test"
#define CACHE "/srv/llmo/cache"
#define HEX "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define REF "localhost:5000/models/llama2:7b"

/* The init container of the documentation, for image and cache. */
static json_t *want_init(const char *image, const char *cache)
{
	json_t *c = json_object(), *sc = json_object();

	json_object_set_new(c, "name", json_string("llmo-model-fetch"));
	json_object_set_new(c, "image", json_string(image));
	json_object_set_new(c, "imagePullPolicy", json_string("IfNotPresent"));
	json_object_set_new(c, "command", json_pack("[s, s, s, s, s, s]", "llmo", "fetch",
						   "--await", "$(LLMO_POD_UID)", "--cache-dir",
						   cache));
	json_object_set_new(c, "env", json_pack("[{s:s, s:{s:{s:s}}}]", "name", "LLMO_POD_UID",
					       "valueFrom", "fieldRef", "fieldPath",
					       "metadata.uid"));
	json_object_set_new(c, "volumeMounts",
			    json_pack("[{s:s, s:s, s:b}]", "name", "llmo-model-cache", "mountPath",
				      cache, "readOnly", 1));
	json_object_set_new(c, "terminationMessagePolicy", json_string("FallbackToLogsOnError"));
	json_object_set_new(c, "resources",
			    json_pack("{s:{s:s, s:s}, s:{s:s}}", "requests", "cpu", "10m", "memory",
				      "16Mi", "limits", "memory", "64Mi"));
	json_object_set_new(sc, "allowPrivilegeEscalation", json_false());
	json_object_set_new(sc, "readOnlyRootFilesystem", json_true());
	json_object_set_new(sc, "runAsNonRoot", json_true());
	json_object_set_new(sc, "runAsUser", json_integer(65532));
	json_object_set_new(sc, "runAsGroup", json_integer(65532));
	json_object_set_new(sc, "capabilities", json_pack("{s:[s]}", "drop", "ALL"));
	json_object_set_new(c, "securityContext", sc);
	return c;
}

static void assert_json_equal(const json_t *got, json_t *want)
{
	if (!json_equal(got, want)) {
		char *g = llmo_json_dump_compact(got), *w = llmo_json_dump_compact(want);

		fail_msg("got  %s\nwant %s", g ? g : "(null)", w ? w : "(null)");
	}
	json_decref(want);
}

/* A pod spec as the controller builds it, before the init container. */
static json_t *bare_spec(bool with_env)
{
	json_t *spec = json_pack("{s:s, s:[{s:s, s:s}], s:[{s:s, s:{s:s}}]}", "schedulerName",
				 "llmo-scheduler", "containers", "name", LLMO_CONTAINER_NAME, "image",
				 "vllm/vllm-openai:v0.6.3", "volumes", "name", "llmo-tls", "secret",
				 "secretName", "chat-tls");

	if (with_env)
		json_object_set_new(json_array_get(json_object_get(spec, "containers"), 0), "env",
				    json_pack("[{s:s, s:s}]", "name", "PORT", "value", "8000"));
	return spec;
}

static json_t *model_server(json_t *spec)
{
	return json_array_get(json_object_get(spec, "containers"), 0);
}

/* The exact fields, added after what the template had (the TLS volume, PORT). */
static void test_fields(void **state)
{
	json_t *spec = bare_spec(true);

	(void)state;
	assert_int_equal(llmo__fetch_init_add(spec, model_server(spec), REF "@sha256:" HEX, IMAGE,
					      CACHE),
			 0);
	assert_json_equal(json_object_get(spec, "initContainers"),
			  json_pack("[o]", want_init(IMAGE, CACHE)));
	assert_json_equal(json_object_get(spec, "volumes"),
			  json_pack("[{s:s, s:{s:s}}, {s:s, s:{s:s, s:s}}]", "name", "llmo-tls",
				    "secret", "secretName", "chat-tls", "name", "llmo-model-cache",
				    "hostPath", "path", CACHE, "type", "Directory"));
	assert_json_equal(json_object_get(model_server(spec), "volumeMounts"),
			  json_pack("[{s:s, s:s, s:b}]", "name", "llmo-model-cache", "mountPath",
				    CACHE, "readOnly", 1));
	assert_json_equal(json_object_get(model_server(spec), "env"),
			  json_pack("[{s:s, s:s}, {s:s, s:s}]", "name", "PORT", "value", "8000",
				    "name", "LLMO_MODEL_PATH", "value",
				    CACHE "/models/" HEX));
	json_decref(spec);

	/* a container without env (the benchmark replica of a model without runtime.env) */
	spec = bare_spec(false);
	assert_int_equal(llmo__fetch_init_add(spec, model_server(spec), REF "@sha256:" HEX, IMAGE,
					      "/var/lib/llm-models/cache"),
			 0);
	assert_json_equal(json_object_get(model_server(spec), "env"),
			  json_pack("[{s:s, s:s}]", "name", "LLMO_MODEL_PATH", "value",
				    "/var/lib/llm-models/cache/models/" HEX));
	json_decref(spec);
}

/* Not configured, no annotation, or a reference it cannot use: the spec is untouched. */
static void test_untouched(void **state)
{
	static const struct {
		const char *ref, *image, *cache;
		int rc;
	} cases[] = {
		{REF "@sha256:" HEX, NULL, CACHE, 0},
		{REF "@sha256:" HEX, "", CACHE, 0},
		{NULL, IMAGE, CACHE, 0},
		{REF, IMAGE, CACHE, LLMO_EINVAL},
		{REF "@sha256:0123", IMAGE, CACHE, LLMO_EINVAL},
		{REF "@sha512:" HEX HEX, IMAGE, CACHE, LLMO_EINVAL},
		{REF "@sha256:" HEX, IMAGE, "srv/cache", LLMO_EINVAL},
		{REF "@sha256:" HEX, IMAGE, NULL, LLMO_EINVAL},
	};

	(void)state;
	for (size_t i = 0; i < LLMO_ARRAY_LEN(cases); i++) {
		json_t *spec = bare_spec(true);
		char *before = llmo_json_dump_compact(spec), *after;

		assert_int_equal(llmo__fetch_init_add(spec, model_server(spec), cases[i].ref,
						      cases[i].image, cases[i].cache),
				 cases[i].rc);
		after = llmo_json_dump_compact(spec);
		if (strcmp(before, after) != 0)
			fail_msg("case %zu changed the spec: %s", i, after);
		free(before);
		free(after);
		json_decref(spec);
	}
}

/* ---- the controller ---- */

static void put(struct kube_fixture *f, const struct llmo_kube_resource *r, const char *ns,
		json_t *obj)
{
	struct llmo_error err = {0};

	if (llmo_kube_create(f->client, r, ns, obj, NULL, &err))
		fail_msg("create: %s", err.msg);
	json_decref(obj);
}

/* LLMModel obj of model name:version at ref, pinned by digest when digest is not NULL. */
static json_t *model(const char *obj, const char *name, const char *version, const char *ref,
		     const char *digest)
{
	json_t *m = json_pack("{s:s, s:s, s:{s:s}, s:{s:s, s:s, s:s, s:s, s:{s:s}, "
			      "s:{s:s, s:i, s:s}, s:{s:{s:s, s:s, s:s}}}}",
			      "apiVersion", "llm.orchestrator.io/v1", "kind", "LLMModel", "metadata",
			      "name", obj, "spec", "name", name, "version", version, "type",
			      "text-generation", "framework", "vllm", "artifact", "reference", ref,
			      "runtime", "image", "vllm/vllm-openai:v0.6.3", "port", 8000,
			      "healthPath", "/health", "resources", "recommended", "cpu", "4",
			      "memory", "16Gi", "gpu", "1");

	if (digest)
		json_object_set_new(json_object_get(json_object_get(m, "spec"), "artifact"),
				    "digest", json_string(digest));
	return m;
}

static json_t *workload(const char *name, const char *model_name, const char *version)
{
	return json_pack("{s:s, s:s, s:{s:s}, s:{s:s, s:s, s:s, s:{s:s}, s:{s:i, s:i}}}",
			 "apiVersion", "llm.orchestrator.io/v1", "kind", "LLMWorkload", "metadata",
			 "name", name, "spec", "modelName", model_name, "modelVersion", version,
			 "modelType", "text-generation", "resources", "cpu", "2", "scaling",
			 "minReplicas", 1, "maxReplicas", 1);
}

/* The namespace ns with a pinned model (llama2 7b) and a plain one (mistral 1), a workload each. */
static void objects(struct kube_fixture *f, const char *ns)
{
	put(f, &llmo_kube_namespaces, NULL,
	    json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind", "Namespace", "metadata",
		      "name", ns));
	put(f, &llmo_kube_llmmodels, ns, model("llama2-7b", "llama2", "7b", REF, "sha256:" HEX));
	put(f, &llmo_kube_llmmodels, ns,
	    model("mistral-1", "mistral", "1", "localhost:5000/models/mistral:1", NULL));
	put(f, &llmo_kube_llmworkloads, ns, workload("pinned", "llama2", "7b"));
	put(f, &llmo_kube_llmworkloads, ns, workload("plain", "mistral", "1"));
}

struct pod_wait {
	struct kube_fixture *f;
	const char *ns, *selector;
	json_t *pod; /* out: the first pod, a new reference */
};

/* A pod matching the label selector, not being deleted, is in ns. */
static bool pod_found(void *ctx)
{
	struct pod_wait *pw = ctx;
	struct llmo_kube_list_opts o = {.label_selector = pw->selector};
	json_t *list = NULL, *it;
	size_t i;

	if (llmo_kube_list(pw->f->client, &llmo_kube_pods, pw->ns, &o, &list, NULL))
		return false;
	json_array_foreach(json_object_get(list, "items"), i, it) {
		if (!json_object_get(json_object_get(it, "metadata"), "deletionTimestamp")) {
			pw->pod = json_incref(it);
			break;
		}
	}
	json_decref(list);
	return pw->pod != NULL;
}

/* The replica of workload w in ns (a new reference), waited for. */
static json_t *replica(struct kube_fixture *f, const char *ns, const char *w)
{
	char sel[128];
	struct pod_wait pw = {.f = f, .ns = ns, .selector = sel};

	snprintf(sel, sizeof(sel), "%s=%s", LLMO_LABEL_WORKLOAD, w);
	if (!run_until(f->base, pod_found, &pw, WAIT_MS))
		fail_msg("no replica of %s/%s", ns, w);
	return pw.pod;
}

static const char *hash_of(const json_t *pod)
{
	return json_string_value(json_object_get(
		json_object_get(json_object_get(pod, "metadata"), "labels"), LLMO_LABEL_TEMPLATE_HASH));
}

/* The element of array named name, or NULL. */
static const json_t *named(const json_t *array, const char *name)
{
	const json_t *it;
	size_t i;

	json_array_foreach(array, i, it) {
		const char *n = json_string_value(json_object_get(it, "name"));

		if (n && strcmp(n, name) == 0)
			return it;
	}
	return NULL;
}

/* Nothing of the init container's in pod. */
static void assert_no_fetch(const json_t *pod)
{
	const json_t *spec = json_object_get(pod, "spec");
	const json_t *ctr = named(json_object_get(spec, "containers"), LLMO_CONTAINER_NAME);

	assert_non_null(ctr);
	assert_null(json_object_get(spec, "initContainers"));
	assert_null(named(json_object_get(spec, "volumes"), "llmo-model-cache"));
	assert_null(named(json_object_get(ctr, "volumeMounts"), "llmo-model-cache"));
	assert_null(named(json_object_get(ctr, "env"), "LLMO_MODEL_PATH"));
}

static struct llmo_controller *start(struct kube_fixture *f, const struct llmo_config *cfg,
				     const char *image, const char *cache)
{
	struct llmo_controller_opts o = {.config = cfg, .backoff_base_ms = 200,
					 .backoff_max_ms = 1000, .fetch_image = image,
					 .node_cache_path = cache};
	struct llmo_controller *c = NULL;
	struct llmo_error err = {0};

	if (llmo_controller_new(f->client, f->base, &o, &c, &err) ||
	    llmo_controller_start(c, &err))
		fail_msg("controller: %s", err.msg);
	return c;
}

/*
 * The same objects in three namespaces (the namespace is not part of the
 * template, so their templates and hashes compare), each under its own
 * controller: without an image (as llmo server runs it, and as before this
 * feature), with one, and with the configuration's "" default.
 */
static void test_controller(void **state)
{
	struct kube_fixture f;
	struct llmo_controller *c;
	struct llmo_config cfg = {0};
	struct llmo_errlist errs;
	json_t *doc = json_pack("{s:{s:b}}", "modelRegistry", "benchmarkOnRegister", 1);
	json_t *pinned_off, *plain_off, *pinned, *plain;
	const json_t *spec, *ctr;
	char sel[128];
	struct pod_wait bench = {.f = &f, .ns = "on", .selector = sel};

	(void)state;
	llmo_errlist_init(&errs);
	assert_int_equal(llmo_config_from_json(doc, &cfg, &errs), 0);
	assert_int_equal(llmo_errlist_count(&errs), 0);
	llmo_errlist_release(&errs);
	json_decref(doc);
	assert_int_equal(fixture_start(&f), 0);

	/* no image: as before, though the pinned replica carries the model-artifact annotation */
	c = start(&f, NULL, NULL, NULL);
	objects(&f, "off");
	pinned_off = replica(&f, "off", "pinned");
	plain_off = replica(&f, "off", "plain");
	assert_non_null(json_object_get(json_object_get(json_object_get(pinned_off, "metadata"),
							"annotations"),
					LLMO_ANNOTATION_MODEL_ARTIFACT));
	assert_no_fetch(pinned_off);
	assert_no_fetch(plain_off);
	llmo_controller_free(c);

	/* an image: the pinned replica waits for the fetch; the plain one is as it was */
	c = start(&f, &cfg, IMAGE, CACHE);
	objects(&f, "on");
	pinned = replica(&f, "on", "pinned");
	plain = replica(&f, "on", "plain");
	spec = json_object_get(pinned, "spec");
	ctr = named(json_object_get(spec, "containers"), LLMO_CONTAINER_NAME);
	assert_json_equal(json_object_get(spec, "initContainers"),
			  json_pack("[o]", want_init(IMAGE, CACHE)));
	assert_json_equal(named(json_object_get(spec, "volumes"), "llmo-model-cache"),
			  json_pack("{s:s, s:{s:s, s:s}}", "name", "llmo-model-cache", "hostPath",
				    "path", CACHE, "type", "Directory"));
	assert_json_equal(named(json_object_get(ctr, "volumeMounts"), "llmo-model-cache"),
			  json_pack("{s:s, s:s, s:b}", "name", "llmo-model-cache", "mountPath",
				    CACHE, "readOnly", 1));
	assert_json_equal(named(json_object_get(ctr, "env"), "LLMO_MODEL_PATH"),
			  json_pack("{s:s, s:s}", "name", "LLMO_MODEL_PATH", "value",
				    CACHE "/models/" HEX));
	/* a new template: turning the image on replaces the pinned replicas */
	assert_string_not_equal(hash_of(pinned), hash_of(pinned_off));
	assert_no_fetch(plain);
	assert_string_equal(hash_of(plain), hash_of(plain_off));
	/* the benchmark-on-register replica of the pinned model waits for the fetch too */
	snprintf(sel, sizeof(sel), "%s=llama2-7b", LLMO_LABEL_BENCHMARK);
	assert_true(run_until(f.base, pod_found, &bench, WAIT_MS));
	assert_json_equal(json_object_get(json_object_get(bench.pod, "spec"), "initContainers"),
			  json_pack("[o]", want_init(IMAGE, CACHE)));
	json_decref(bench.pod);
	json_decref(pinned);
	json_decref(plain);
	llmo_controller_free(c);

	/* the configuration's default "": the same template, hash and all, as without an image */
	c = start(&f, NULL, cfg.model_registry.fetch_image, CACHE);
	assert_string_equal(cfg.model_registry.fetch_image, "");
	objects(&f, "empty");
	pinned = replica(&f, "empty", "pinned");
	assert_no_fetch(pinned);
	assert_string_equal(hash_of(pinned), hash_of(pinned_off));
	json_decref(pinned);
	llmo_controller_free(c);

	json_decref(pinned_off);
	json_decref(plain_off);
	llmo_config_free(&cfg);
	fixture_stop(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_untouched),
		cmocka_unit_test(test_controller),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
