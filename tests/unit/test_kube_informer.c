#include "base/common.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/error.h"
#include "kube/client.h"
#include "kube/informer.h"
#include "kube/informer_int.h"

#include "kube_fixture.h"

#define NS "default"
/* Waits for the informer to see a change: generous, the loop normally needs milliseconds. */
#define WAIT_MS 10000

static struct kube_fixture fx;

/* What the handlers saw. */
struct seen {
	struct llmo_informer *inf;
	int adds, updates, deletes;
	char last[64];	  /* "add NAME", "update NAME", "delete NAME" */
	bool old_differs; /* every update had old rv != new rv */
	bool cache_ahead; /* every handler ran after the cache changed */
};

static void on_add(void *ctx, json_t *obj)
{
	struct seen *s = ctx;

	s->adds++;
	snprintf(s->last, sizeof(s->last), "add %s", meta_str(obj, "name"));
	if (llmo_informer_get(s->inf, meta_str(obj, "namespace"), meta_str(obj, "name")) != obj)
		s->cache_ahead = false;
}

static void on_update(void *ctx, json_t *old_obj, json_t *new_obj)
{
	struct seen *s = ctx;

	s->updates++;
	snprintf(s->last, sizeof(s->last), "update %s", meta_str(new_obj, "name"));
	if (strcmp(meta_str(old_obj, "resourceVersion"), meta_str(new_obj, "resourceVersion")) == 0)
		s->old_differs = false;
	if (llmo_informer_get(s->inf, meta_str(new_obj, "namespace"), meta_str(new_obj, "name")) !=
	    new_obj)
		s->cache_ahead = false;
}

static void on_delete(void *ctx, json_t *obj)
{
	struct seen *s = ctx;

	s->deletes++;
	snprintf(s->last, sizeof(s->last), "delete %s", meta_str(obj, "name"));
	if (llmo_informer_get(s->inf, meta_str(obj, "namespace"), meta_str(obj, "name")))
		s->cache_ahead = false;
}

static const struct llmo_informer_handlers handlers = {on_add, on_update, on_delete};

static int setup(void **state)
{
	return fixture_start(&fx);
}

static int teardown(void **state)
{
	fixture_stop(&fx);
	return 0;
}

static void create_cm(const char *name, const char *app, const char *v)
{
	struct llmo_error err = {0};
	json_t *cm = configmap(name, app, v);

	if (llmo_kube_create(fx.client, &llmo_kube_configmaps, NS, cm, NULL, &err))
		fail_msg("create %s: %s", name, err.msg);
	json_decref(cm);
}

static void patch_cm(const char *name, const char *v)
{
	struct llmo_error err = {0};
	json_t *p = json_pack("{s:{s:s}}", "data", "k", v);

	if (llmo_kube_patch(fx.client, &llmo_kube_configmaps, NS, name, NULL, LLMO_KUBE_PATCH_MERGE,
			    p, NULL, &err))
		fail_msg("patch %s: %s", name, err.msg);
	json_decref(p);
}

static void delete_cm(const char *name)
{
	struct llmo_error err = {0};

	if (llmo_kube_delete(fx.client, &llmo_kube_configmaps, NS, name,
			     LLMO_KUBE_PROPAGATE_DEFAULT, NULL, &err))
		fail_msg("delete %s: %s", name, err.msg);
}

/* The cache holds exactly the server's objects, at the server's resourceVersions. */
static bool converged(void *ctx)
{
	struct llmo_informer *inf = ctx;
	struct llmo_error err = {0};
	json_t *list = NULL, *item;
	bool ok;
	size_t i;

	if (!llmo_informer_synced(inf) ||
	    llmo_kube_list(fx.client, &llmo_kube_configmaps, NS, NULL, &list, &err))
		return false;
	ok = json_array_size(json_object_get(list, "items")) == llmo_informer_count(inf);
	json_array_foreach (json_object_get(list, "items"), i, item) {
		json_t *c = llmo_informer_get(inf, NS, meta_str(item, "name"));

		if (!c || strcmp(meta_str(c, "resourceVersion"), meta_str(item, "resourceVersion")))
			ok = false;
	}
	json_decref(list);
	return ok;
}

static bool synced(void *ctx)
{
	return llmo_informer_synced(ctx);
}

struct counter {
	struct seen *s;
	int want_adds, want_updates, want_deletes;
};

static bool counts_reached(void *ctx)
{
	struct counter *c = ctx;

	return c->s->adds >= c->want_adds && c->s->updates >= c->want_updates &&
	       c->s->deletes >= c->want_deletes;
}

static int count_one(void *ctx, json_t *obj)
{
	(*(int *)ctx)++;
	return 0;
}

static int by_index_count(struct llmo_informer *inf, const char *index, const char *value)
{
	int n = 0;

	assert_int_equal(llmo_informer_by_index(inf, index, value, count_one, &n), 0);
	return n;
}

static void test_list_then_watch(void **state)
{
	struct seen s = {.old_differs = true, .cache_ahead = true};
	struct llmo_error err = {0};
	struct counter want = {.s = &s};
	struct llmo_informer *inf = NULL;
	json_t *owned;
	int n = 0;

	for (int i = 0; i < 3; i++) {
		char name[32];

		snprintf(name, sizeof(name), "pre-%d", i);
		create_cm(name, i == 0 ? "web" : "db", "1");
	}
	assert_int_equal(llmo_informer_new(fx.client, &llmo_kube_configmaps, NS, NULL, fx.base,
					   &handlers, &s, &inf, &err),
			 0);
	s.inf = inf;
	/* two pages of the informer's list */
	llmo__informer_set_page_limit(inf, 2);
	assert_false(llmo_informer_synced(inf));
	assert_int_equal(llmo_informer_start(inf, &err), 0);
	assert_int_equal(llmo_informer_start(inf, &err), LLMO_EINVAL);
	assert_true(run_until(fx.base, synced, inf, WAIT_MS));
	assert_int_equal(s.adds, 3);
	assert_int_equal(llmo_informer_count(inf), 3);
	assert_non_null(llmo_informer_resource_version(inf));
	assert_true(converged(inf));

	/* watch: add, update, delete each reach the handlers in order */
	create_cm("live", "web", "1");
	want.want_adds = 4;
	assert_true(run_until(fx.base, counts_reached, &want, WAIT_MS));
	assert_string_equal(s.last, "add live");
	patch_cm("live", "2");
	want.want_updates = 1;
	assert_true(run_until(fx.base, counts_reached, &want, WAIT_MS));
	assert_string_equal(s.last, "update live");
	assert_string_equal(
		json_string_value(json_object_get(
			json_object_get(llmo_informer_get(inf, NS, "live"), "data"), "k")),
		"2");
	delete_cm("pre-2");
	want.want_deletes = 1;
	assert_true(run_until(fx.base, counts_reached, &want, WAIT_MS));
	assert_string_equal(s.last, "delete pre-2");
	assert_null(llmo_informer_get(inf, NS, "pre-2"));
	assert_true(converged(inf));
	assert_true(s.old_differs);
	assert_true(s.cache_ahead);

	/* indexes: labels, namespace, owner */
	assert_int_equal(by_index_count(inf, LLMO_INFORMER_INDEX_LABEL, "app=web"), 2);
	assert_int_equal(by_index_count(inf, LLMO_INFORMER_INDEX_LABEL, "app=db"), 1);
	assert_int_equal(by_index_count(inf, LLMO_INFORMER_INDEX_LABEL, "app=none"), 0);
	assert_int_equal(by_index_count(inf, LLMO_INFORMER_INDEX_NAMESPACE, NS), 3);
	assert_int_equal(llmo_informer_by_index(inf, "nope", "x", count_one, &n), LLMO_EINVAL);
	assert_int_equal(llmo_informer_list(inf, NULL, count_one, &n), 0);
	assert_int_equal(n, 3);
	n = 0;
	assert_int_equal(llmo_informer_list(inf, "kube-system", count_one, &n), 0);
	assert_int_equal(n, 0);

	owned = configmap("child", "web", "1");
	json_object_set_new(json_object_get(owned, "metadata"), "ownerReferences",
			    json_pack("[{s:s, s:s, s:s, s:s}]", "apiVersion", "v1", "kind",
				      "ConfigMap", "name", "live", "uid", "owner-uid-1"));
	assert_int_equal(llmo_kube_create(fx.client, &llmo_kube_configmaps, NS, owned, NULL, &err),
			 0);
	json_decref(owned);
	want.want_adds = 5;
	assert_true(run_until(fx.base, counts_reached, &want, WAIT_MS));
	assert_int_equal(by_index_count(inf, LLMO_INFORMER_INDEX_OWNER, "owner-uid-1"), 1);
	assert_int_equal(by_index_count(inf, LLMO_INFORMER_INDEX_LABEL, "app=web"), 3);
	/* an update that changes labels moves the object between index values */
	{
		json_t *p = json_pack("{s:{s:{s:s}}}", "metadata", "labels", "app", "db");

		assert_int_equal(llmo_kube_patch(fx.client, &llmo_kube_configmaps, NS, "child",
						 NULL, LLMO_KUBE_PATCH_MERGE, p, NULL, &err),
				 0);
		json_decref(p);
	}
	want.want_updates = 2;
	assert_true(run_until(fx.base, counts_reached, &want, WAIT_MS));
	assert_int_equal(by_index_count(inf, LLMO_INFORMER_INDEX_LABEL, "app=web"), 2);
	assert_int_equal(by_index_count(inf, LLMO_INFORMER_INDEX_LABEL, "app=db"), 2);

	llmo_informer_stop(inf);
	llmo_informer_free(inf);
}

/* A 410 makes the informer list again: the differences must reach the handlers. */
static void test_relist_delivers_differences(void **state)
{
	struct seen s = {.old_differs = true, .cache_ahead = true};
	struct llmo_error err = {0};
	struct counter want = {.s = &s};
	struct llmo_informer *inf = NULL;

	create_cm("keep", NULL, "1");
	create_cm("change", NULL, "1");
	create_cm("remove", NULL, "1");
	assert_int_equal(llmo_informer_new(fx.client, &llmo_kube_configmaps, NS, NULL, fx.base,
					   &handlers, &s, &inf, &err),
			 0);
	s.inf = inf;
	assert_int_equal(llmo_informer_start(inf, &err), 0);
	assert_true(run_until(fx.base, synced, inf, WAIT_MS));
	assert_int_equal(s.adds, 3);

	/* while it is not watching, the server moves on */
	llmo_informer_stop(inf);
	create_cm("new", NULL, "1");
	patch_cm("change", "2");
	delete_cm("remove");
	run_for(fx.base, 50);
	assert_int_equal(s.adds, 3);
	assert_int_equal(s.updates, 0);
	assert_int_equal(s.deletes, 0);
	assert_false(converged(inf));

	/* what the thread does on GONE */
	assert_int_equal(llmo__informer_relist(inf, &err), 0);
	assert_int_equal(s.adds, 4);
	assert_int_equal(s.updates, 1); /* "change" only: "keep" has the same resourceVersion */
	assert_int_equal(s.deletes, 1);
	assert_null(llmo_informer_get(inf, NS, "remove"));
	assert_non_null(llmo_informer_get(inf, NS, "new"));
	assert_true(converged(inf));
	assert_true(s.cache_ahead);

	/* started again it resumes from the relist's resourceVersion: no duplicates */
	assert_int_equal(llmo_informer_start(inf, &err), 0);
	assert_int_equal(llmo__informer_relist(inf, &err), LLMO_EINVAL);
	create_cm("after", NULL, "1");
	want.want_adds = 5;
	assert_true(run_until(fx.base, counts_reached, &want, WAIT_MS));
	run_for(fx.base, 100);
	assert_int_equal(s.adds, 5);
	assert_int_equal(s.updates, 1);
	assert_int_equal(s.deletes, 1);
	assert_true(converged(inf));
	llmo_informer_free(inf);
}

/* Stopped, the informer resumes its watch from the last resourceVersion it applied. */
static void test_resume_after_stop(void **state)
{
	struct seen s = {.old_differs = true, .cache_ahead = true};
	struct llmo_error err = {0};
	struct counter want = {.s = &s};
	struct llmo_informer *inf = NULL;

	create_cm("a", NULL, "1");
	create_cm("b", NULL, "1");
	assert_int_equal(llmo_informer_new(fx.client, &llmo_kube_configmaps, NS, NULL, fx.base,
					   &handlers, &s, &inf, &err),
			 0);
	s.inf = inf;
	assert_int_equal(llmo_informer_start(inf, &err), 0);
	assert_true(run_until(fx.base, synced, inf, WAIT_MS));
	llmo_informer_stop(inf);

	create_cm("c", NULL, "1");
	patch_cm("a", "2");
	delete_cm("b");
	assert_int_equal(llmo_informer_start(inf, &err), 0);
	want.want_adds = 3;
	want.want_updates = 1;
	want.want_deletes = 1;
	/* replayed from the watch history, in order */
	assert_true(run_until(fx.base, counts_reached, &want, WAIT_MS));
	assert_string_equal(s.last, "delete b");
	assert_true(converged(inf));
	llmo_informer_free(inf);
}

/* A label selector restricts the cache; stop joins quickly even mid-watch. */
static void test_selector_and_stop(void **state)
{
	struct seen s = {.old_differs = true, .cache_ahead = true};
	struct llmo_error err = {0};
	struct llmo_informer *inf = NULL;
	int64_t t0;

	create_cm("w1", "web", "1");
	create_cm("d1", "db", "1");
	assert_int_equal(llmo_informer_new(fx.client, &llmo_kube_configmaps, NULL, "app=web",
					   fx.base, &handlers, &s, &inf, &err),
			 0);
	s.inf = inf;
	assert_int_equal(llmo_informer_start(inf, &err), 0);
	assert_true(run_until(fx.base, synced, inf, WAIT_MS));
	assert_int_equal(llmo_informer_count(inf), 1);
	assert_non_null(llmo_informer_get(inf, NS, "w1"));
	assert_null(llmo_informer_get(inf, NS, "d1"));
	t0 = llmo_clock_mono_ms();
	llmo_informer_stop(inf);
	/* the watch notices the stop flag within about a second */
	assert_true(llmo_clock_mono_ms() - t0 < 3000);
	llmo_informer_free(inf);
}

/* ---- the transform ---- */

/* Keeps the identity and data, drops the rest (labels), and marks the result. */
static json_t *slim(void *ctx, const json_t *obj)
{
	const json_t *m = json_object_get(obj, "metadata");

	return json_pack("{s:{s:o, s:o, s:o}, s:o, s:b}", "metadata", "name",
			 json_deep_copy(json_object_get(m, "name")), "namespace",
			 json_deep_copy(json_object_get(m, "namespace")), "resourceVersion",
			 json_deep_copy(json_object_get(m, "resourceVersion")), "data",
			 json_deep_copy(json_object_get(obj, "data")), "transformed", 1);
}

/* What the handlers saw of a transformed cache: every object must be slim. */
struct slim_seen {
	int adds, updates, deletes;
	bool all_slim;
};

static void check_slim(struct slim_seen *s, const json_t *obj)
{
	if (!json_is_true(json_object_get(obj, "transformed")) ||
	    json_object_get(json_object_get(obj, "metadata"), "labels"))
		s->all_slim = false;
}

static void slim_add(void *ctx, json_t *obj)
{
	((struct slim_seen *)ctx)->adds++;
	check_slim(ctx, obj);
}

static void slim_update(void *ctx, json_t *old_obj, json_t *new_obj)
{
	((struct slim_seen *)ctx)->updates++;
	check_slim(ctx, old_obj);
	check_slim(ctx, new_obj);
}

static void slim_delete(void *ctx, json_t *obj)
{
	((struct slim_seen *)ctx)->deletes++;
	check_slim(ctx, obj);
}

static bool slim_counts(void *ctx)
{
	const struct slim_seen *s = ctx;

	return s->adds >= 4 && s->updates >= 1 && s->deletes >= 1;
}

/* Listed (two pages) and watched objects alike are cached and handed over transformed. */
static void test_transform(void **state)
{
	static const struct llmo_informer_handlers h = {slim_add, slim_update, slim_delete};
	struct slim_seen s = {.all_slim = true};
	struct llmo_error err = {0};
	struct llmo_informer *inf = NULL;
	json_t *live;

	for (int i = 0; i < 3; i++) {
		char name[32];

		snprintf(name, sizeof(name), "pre-%d", i);
		create_cm(name, "web", "1");
	}
	assert_int_equal(llmo_informer_new(fx.client, &llmo_kube_configmaps, NS, NULL, fx.base, &h,
					   &s, &inf, &err),
			 0);
	llmo__informer_set_page_limit(inf, 2);
	assert_int_equal(llmo_informer_set_transform(inf, slim, NULL, &err), 0);
	assert_int_equal(llmo_informer_start(inf, &err), 0);
	assert_int_equal(llmo_informer_set_transform(inf, NULL, NULL, &err), LLMO_EINVAL);
	assert_true(run_until(fx.base, synced, inf, WAIT_MS));
	assert_int_equal(s.adds, 3);
	assert_true(converged(inf)); /* keyed and versioned as the server's objects */
	/* the cache holds the slim form: no labels, so the label index is empty */
	assert_int_equal(by_index_count(inf, LLMO_INFORMER_INDEX_LABEL, "app=web"), 0);

	create_cm("live", "web", "1");
	patch_cm("live", "2");
	delete_cm("pre-0");
	assert_true(run_until(fx.base, slim_counts, &s, WAIT_MS));
	assert_true(converged(inf));
	live = llmo_informer_get(inf, NS, "live");
	assert_non_null(live);
	assert_true(json_is_true(json_object_get(live, "transformed")));
	assert_string_equal(json_string_value(json_object_get(json_object_get(live, "data"), "k")),
			    "2");
	assert_true(s.all_slim);
	llmo_informer_free(inf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_list_then_watch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_relist_delivers_differences, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resume_after_stop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_selector_and_stop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transform, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
