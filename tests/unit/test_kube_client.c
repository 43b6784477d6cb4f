#include "base/common.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/buf.h"
#include "base/error.h"
#include "kube/client.h"
#include "kube/watch.h"

#include "kube_fixture.h"

static struct kube_fixture fx;

static int setup(void **state)
{
	return fixture_start(&fx);
}

static int setup_tls(void **state)
{
	return fixture_start_with(&fx, false);
}

static int teardown(void **state)
{
	fixture_stop(&fx);
	return 0;
}

/* ---- URLs (no server needed) ---- */

static void path_is(const struct llmo_kube_resource *r, const char *ns, const char *name,
		    const char *sub, const char *want)
{
	struct llmo_buf b;

	llmo_buf_init(&b, 4096);
	assert_int_equal(llmo_kube_path(r, ns, name, sub, &b), 0);
	assert_string_equal(b.data, want);
	llmo_buf_release(&b);
}

static void test_paths(void **state)
{
	static const struct llmo_kube_resource deploy = {"apps", "v1", "deployments", true};

	path_is(&llmo_kube_pods, "default", "web-0", "status",
		"/api/v1/namespaces/default/pods/web-0/status");
	path_is(&llmo_kube_pods, NULL, NULL, NULL, "/api/v1/pods");
	path_is(&llmo_kube_pods, "", NULL, NULL, "/api/v1/pods");
	path_is(&llmo_kube_pods, "kube-system", NULL, NULL, "/api/v1/namespaces/kube-system/pods");
	/* cluster-scoped: the namespace is not part of the URL */
	path_is(&llmo_kube_nodes, "default", "gpu-1", NULL, "/api/v1/nodes/gpu-1");
	path_is(&llmo_kube_leases, "kube-system", "llmo", NULL,
		"/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/llmo");
	path_is(&deploy, "a", "b", "scale", "/apis/apps/v1/namespaces/a/deployments/b/scale");
	path_is(&llmo_kube_llmworkloads, "llm-workloads", "llama2", NULL,
		"/apis/llm.orchestrator.io/v1/namespaces/llm-workloads/llmworkloads/llama2");
	/* names are percent-encoded (RFC 3986 unreserved characters stay) */
	path_is(&llmo_kube_configmaps, "d", "a b/c~d", NULL,
		"/api/v1/namespaces/d/configmaps/a%20b%2Fc~d");
}

static void test_query(void **state)
{
	struct llmo_buf b;

	llmo_buf_init(&b, 4096);
	llmo_buf_puts(&b, "/api/v1/pods");
	assert_int_equal(llmo_kube_query_add(&b, "labelSelector", "app=web,tier in (a,b)"), 0);
	assert_int_equal(llmo_kube_query_add(&b, "limit", "5"), 0);
	assert_int_equal(llmo_kube_query_add(&b, "continue", "eyJ+/=="), 0);
	assert_string_equal(b.data, "/api/v1/pods?labelSelector=app%3Dweb%2Ctier%20in%20%28a%2Cb%29"
				    "&limit=5&continue=eyJ%2B%2F%3D%3D");
	llmo_buf_release(&b);
}

/* ---- CRUD ---- */

static void test_crud(void **state)
{
	struct llmo_error err = {0};
	json_t *cm = configmap("crud", "web", "1"), *got = NULL, *stale, *patch;
	char rv1[32];
	int status = 0;

	assert_int_equal(
		llmo_kube_create(fx.client, &llmo_kube_configmaps, "default", cm, &got, &err), 0);
	assert_string_equal(meta_str(got, "name"), "crud");
	assert_non_null(meta_str(got, "uid"));
	snprintf(rv1, sizeof(rv1), "%s", meta_str(got, "resourceVersion"));
	json_decref(got);

	/* AlreadyExists is 409 too, but its own code */
	assert_int_equal(
		llmo_kube_create(fx.client, &llmo_kube_configmaps, "default", cm, NULL, &err),
		LLMO_EEXIST);
	assert_int_equal(err.code, LLMO_EEXIST);

	assert_int_equal(
		llmo_kube_get(fx.client, &llmo_kube_configmaps, "default", "crud", &got, &err), 0);
	assert_string_equal(json_string_value(json_object_get(json_object_get(got, "data"), "k")),
			    "1");
	stale = json_deep_copy(got);

	/* update with the current resourceVersion */
	json_object_set_new(json_object_get(got, "data"), "k", json_string("2"));
	json_decref(cm);
	cm = NULL;
	assert_int_equal(
		llmo_kube_update(fx.client, &llmo_kube_configmaps, "default", got, &cm, &err), 0);
	assert_string_not_equal(meta_str(cm, "resourceVersion"), rv1);
	json_decref(cm);
	json_decref(got);

	/* the old resourceVersion is a conflict */
	assert_int_equal(
		llmo_kube_update(fx.client, &llmo_kube_configmaps, "default", stale, NULL, &err),
		LLMO_ECONFLICT);
	json_decref(stale);

	/* merge patch */
	patch = json_pack("{s:{s:s}}", "data", "k", "3");
	assert_int_equal(llmo_kube_patch(fx.client, &llmo_kube_configmaps, "default", "crud", NULL,
					 LLMO_KUBE_PATCH_MERGE, patch, &got, &err),
			 0);
	assert_string_equal(json_string_value(json_object_get(json_object_get(got, "data"), "k")),
			    "3");
	json_decref(got);
	json_decref(patch);

	/* JSON patch */
	patch = json_pack("[{s:s, s:s, s:s}]", "op", "replace", "path", "/data/k", "value", "4");
	assert_int_equal(llmo_kube_patch(fx.client, &llmo_kube_configmaps, "default", "crud", NULL,
					 LLMO_KUBE_PATCH_JSON, patch, &got, &err),
			 0);
	assert_string_equal(json_string_value(json_object_get(json_object_get(got, "data"), "k")),
			    "4");
	json_decref(got);
	json_decref(patch);

	assert_int_equal(llmo_kube_delete(fx.client, &llmo_kube_configmaps, "default", "crud",
					  LLMO_KUBE_PROPAGATE_BACKGROUND, NULL, &err),
			 0);
	assert_int_equal(
		llmo_kube_get(fx.client, &llmo_kube_configmaps, "default", "crud", &got, &err),
		LLMO_ENOTFOUND);
	assert_null(got);
	/* the message is the Status message */
	assert_string_equal(err.msg, "configmaps \"crud\" not found");
	assert_int_equal(llmo_kube_delete(fx.client, &llmo_kube_configmaps, "default", "crud",
					  LLMO_KUBE_PROPAGATE_DEFAULT, NULL, &err),
			 LLMO_ENOTFOUND);

	/* the raw request reports the status */
	assert_int_equal(llmo_kube_request(fx.client, "GET", "/api/v1/namespaces/default", NULL,
					   NULL, &got, &status, &err),
			 0);
	assert_int_equal(status, 200);
	assert_string_equal(meta_str(got, "name"), "default");
	json_decref(got);
	assert_int_equal(llmo_kube_request(fx.client, "GET", "/api/v1/namespaces/nope", NULL, NULL,
					   NULL, &status, &err),
			 LLMO_ENOTFOUND);
	assert_int_equal(status, 404);
}

static void test_error_codes(void **state)
{
	struct llmo_kube_list_opts bad = {.label_selector = "app in (("};
	struct llmo_kube_config cfg = {0};
	struct llmo_kube_client *c = NULL;
	struct llmo_error err = {0};
	json_t *cm, *out = NULL;
	int status = 0;

	/* 422: an invalid object name */
	cm = configmap("Not_A_Valid_Name", NULL, "x");
	assert_int_equal(
		llmo_kube_create(fx.client, &llmo_kube_configmaps, "default", cm, NULL, &err),
		LLMO_EINVALID_OBJECT);
	json_decref(cm);

	/* 400: a malformed selector */
	assert_int_equal(
		llmo_kube_list(fx.client, &llmo_kube_configmaps, "default", &bad, &out, &err),
		LLMO_EINVAL);
	assert_null(out);

	/* 401: a wrong token */
	cfg.server = fx.url;
	cfg.token = "wrong";
	assert_int_equal(llmo_kube_client_new(&cfg, &c, &err), 0);
	assert_int_equal(
		llmo_kube_request(c, "GET", "/api/v1/namespaces", NULL, NULL, NULL, &status, &err),
		LLMO_EDENIED);
	assert_int_equal(status, 401);
	llmo_kube_client_free(c);
}

static void test_connection_refused(void **state)
{
	struct llmo_kube_config cfg = {.server = "http://127.0.0.1:1", .token = "t"};
	struct llmo_kube_client *c = NULL;
	struct llmo_error err = {0};
	int64_t t0;

	assert_int_equal(llmo_kube_client_new(&cfg, &c, &err), 0);
	llmo_kube_client_set_retries(c, 3, 20, 40);
	t0 = llmo_clock_mono_ms();
	assert_int_equal(llmo_kube_request(c, "GET", "/api/v1/pods", NULL, NULL, NULL, NULL, &err),
			 LLMO_EIO);
	/* two waits between three attempts: at least 10 + 20 ms (each at least half its step) */
	assert_true(llmo_clock_mono_ms() - t0 >= 30);
	assert_non_null(strstr(err.msg, "GET /api/v1/pods"));
	llmo_kube_client_free(c);
}

/* ---- lists ---- */

static void test_list_paging(void **state)
{
	struct llmo_kube_list_opts opts = {.label_selector = "app=paged", .limit = 3};
	struct llmo_error err = {0};
	char name[32], *cont = NULL;
	int pages = 0, total = 0, seen[7] = {0};
	json_t *list = NULL, *item;
	size_t i;

	for (int n = 0; n < 7; n++) {
		json_t *cm;

		snprintf(name, sizeof(name), "page-%d", n);
		cm = configmap(name, "paged", "v");
		assert_int_equal(llmo_kube_create(fx.client, &llmo_kube_configmaps, "default", cm,
						  NULL, &err),
				 0);
		json_decref(cm);
	}
	/* one more without the label: the selector leaves it out */
	item = configmap("page-other", "other", "v");
	assert_int_equal(
		llmo_kube_create(fx.client, &llmo_kube_configmaps, "default", item, NULL, &err), 0);
	json_decref(item);

	do {
		const char *next;

		opts.continue_token = cont;
		assert_int_equal(llmo_kube_list(fx.client, &llmo_kube_configmaps, "default", &opts,
						&list, &err),
				 0);
		pages++;
		assert_true(json_array_size(json_object_get(list, "items")) <= 3);
		assert_non_null(meta_str(list, "resourceVersion"));
		json_array_foreach (json_object_get(list, "items"), i, item) {
			int n = -1;

			assert_int_equal(sscanf(meta_str(item, "name"), "page-%d", &n), 1);
			assert_true(n >= 0 && n < 7);
			seen[n]++;
			total++;
		}
		free(cont);
		next = meta_str(list, "continue");
		cont = next && *next ? strdup(next) : NULL;
		json_decref(list);
	} while (cont);
	assert_int_equal(pages, 3);
	assert_int_equal(total, 7);
	for (int n = 0; n < 7; n++)
		assert_int_equal(seen[n], 1);
}

/* ---- watch ---- */

struct events {
	char types[16][16];
	char names[16][64];
	int n;
	int fail_at; /* return LLMO_EINTERNAL at this event (0: never) */
};

static int record(void *ctx, const char *type, json_t *obj)
{
	struct events *e = ctx;

	if (strcmp(type, "BOOKMARK") == 0)
		return 0;
	if (e->n < 16) {
		snprintf(e->types[e->n], sizeof(e->types[0]), "%s", type);
		snprintf(e->names[e->n], sizeof(e->names[0]), "%s", meta_str(obj, "name"));
	}
	e->n++;
	if (e->fail_at && e->n == e->fail_at)
		return LLMO_EINTERNAL;
	return 0;
}

static void test_watch_replay(void **state)
{
	struct llmo_error err = {0};
	struct events ev = {0};
	json_t *cm = configmap("w1", "watched", "1"), *got = NULL, *patch;
	char rv[32];
	int64_t t0;

	assert_int_equal(
		llmo_kube_create(fx.client, &llmo_kube_configmaps, "default", cm, &got, &err), 0);
	snprintf(rv, sizeof(rv), "%s", meta_str(got, "resourceVersion"));
	json_decref(got);
	json_decref(cm);
	patch = json_pack("{s:{s:s}}", "data", "k", "2");
	assert_int_equal(llmo_kube_patch(fx.client, &llmo_kube_configmaps, "default", "w1", NULL,
					 LLMO_KUBE_PATCH_MERGE, patch, NULL, &err),
			 0);
	json_decref(patch);
	cm = configmap("w2", "watched", "1");
	assert_int_equal(
		llmo_kube_create(fx.client, &llmo_kube_configmaps, "default", cm, NULL, &err), 0);
	json_decref(cm);
	assert_int_equal(llmo_kube_delete(fx.client, &llmo_kube_configmaps, "default", "w1",
					  LLMO_KUBE_PROPAGATE_DEFAULT, NULL, &err),
			 0);

	/* from the create's resourceVersion: what happened after it, in order, then the timeout */
	t0 = llmo_clock_mono_ms();
	assert_int_equal(llmo_kube_watch(fx.client, &llmo_kube_configmaps, "default", "app=watched",
					 NULL, rv, 1, record, &ev, NULL, &err),
			 0);
	assert_true(llmo_clock_mono_ms() - t0 >= 900);
	assert_int_equal(ev.n, 3);
	assert_string_equal(ev.types[0], "MODIFIED");
	assert_string_equal(ev.names[0], "w1");
	assert_string_equal(ev.types[1], "ADDED");
	assert_string_equal(ev.names[1], "w2");
	assert_string_equal(ev.types[2], "DELETED");
	assert_string_equal(ev.names[2], "w1");

	/* without a resourceVersion: the current objects as ADDED */
	memset(&ev, 0, sizeof(ev));
	assert_int_equal(llmo_kube_watch(fx.client, &llmo_kube_configmaps, "default", "app=watched",
					 NULL, NULL, 1, record, &ev, NULL, &err),
			 0);
	assert_int_equal(ev.n, 1);
	assert_string_equal(ev.types[0], "ADDED");
	assert_string_equal(ev.names[0], "w2");

	/* the callback's error ends the watch and comes back */
	memset(&ev, 0, sizeof(ev));
	ev.fail_at = 1;
	assert_int_equal(llmo_kube_watch(fx.client, &llmo_kube_configmaps, "default", "app=watched",
					 NULL, rv, 30, record, &ev, NULL, &err),
			 LLMO_EINTERNAL);
	assert_int_equal(ev.n, 1);
}

struct live {
	struct kube_fixture *f;
	volatile int stop;
	struct events ev;
};

static void *writer(void *arg)
{
	struct live *l = arg;
	struct llmo_error err = {0};
	struct timespec ts = {0, 300 * 1000000L};
	json_t *cm = configmap("live", "live", "1");

	nanosleep(&ts, NULL);
	llmo_kube_create(l->f->client, &llmo_kube_configmaps, "default", cm, NULL, &err);
	json_decref(cm);
	nanosleep(&ts, NULL);
	__atomic_store_n(&l->stop, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void test_watch_live_and_stop(void **state)
{
	struct llmo_error err = {0};
	struct live l = {.f = &fx};
	pthread_t th;
	int64_t t0;

	/* a long timeoutSeconds: only the stop flag ends this watch */
	assert_int_equal(pthread_create(&th, NULL, writer, &l), 0);
	t0 = llmo_clock_mono_ms();
	assert_int_equal(llmo_kube_watch(fx.client, &llmo_kube_configmaps, "default", "app=live",
					 NULL, NULL, 300, record, &l.ev, &l.stop, &err),
			 0);
	pthread_join(th, NULL);
	assert_int_equal(l.ev.n, 1);
	assert_string_equal(l.ev.types[0], "ADDED");
	assert_string_equal(l.ev.names[0], "live");
	/* the stop is noticed within about a second of being set (600 ms in) */
	assert_true(llmo_clock_mono_ms() - t0 < 600 + 2500);
}

static void test_watch_http_error(void **state)
{
	static const struct llmo_kube_resource nope = {"", "v1", "nothings", true};
	struct llmo_error err = {0};
	struct events ev = {0};

	assert_int_equal(llmo_kube_watch(fx.client, &nope, "default", NULL, NULL, NULL, 1, record,
					 &ev, NULL, &err),
			 LLMO_ENOTFOUND);
	assert_int_equal(llmo_kube_watch(fx.client, &llmo_kube_configmaps, "default", "a in ((",
					 NULL, NULL, 1, record, &ev, NULL, &err),
			 LLMO_EINVAL);
	assert_int_equal(ev.n, 0);
}

/* HTTPS: the CA from the kubeconfig (certificate-authority-data) verifies the server. */
static void test_tls(void **state)
{
	struct llmo_kube_config cfg = {.server = fx.url, .token = "t"};
	struct llmo_kube_client *c = NULL;
	struct llmo_error err = {0};
	json_t *ns = NULL;

	assert_true(strncmp(fx.url, "https://", 8) == 0);
	assert_int_equal(
		llmo_kube_get(fx.client, &llmo_kube_namespaces, NULL, "default", &ns, &err), 0);
	assert_string_equal(meta_str(ns, "name"), "default");
	json_decref(ns);

	/* without the CA the server's certificate is not trusted */
	assert_int_equal(llmo_kube_client_new(&cfg, &c, &err), 0);
	llmo_kube_client_set_retries(c, 1, 0, 0);
	assert_int_equal(llmo_kube_get(c, &llmo_kube_namespaces, NULL, "default", &ns, &err),
			 LLMO_EIO);
	llmo_kube_client_free(c);

	/* insecure-skip-tls-verify: connects, and the wrong token is refused by the server */
	cfg.insecure_skip_verify = true;
	assert_int_equal(llmo_kube_client_new(&cfg, &c, &err), 0);
	assert_int_equal(llmo_kube_get(c, &llmo_kube_namespaces, NULL, "default", &ns, &err),
			 LLMO_EDENIED);
	llmo_kube_client_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_query),
		cmocka_unit_test(test_connection_refused),
		cmocka_unit_test_setup_teardown(test_crud, setup, teardown),
		cmocka_unit_test_setup_teardown(test_error_codes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_paging, setup, teardown),
		cmocka_unit_test_setup_teardown(test_watch_replay, setup, teardown),
		cmocka_unit_test_setup_teardown(test_watch_live_and_stop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_watch_http_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tls, setup_tls, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
