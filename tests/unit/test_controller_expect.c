/*
 * The controller's expectations (src/controller/workload.c): a pod it
 * created, deleted or annotated holds the workload's reconciles back until
 * the pod informer's cache shows that write, at most LLMO__EXPECT_TIMEOUT_MS. Without
 * them a reconcile between the API's answer and the watch event acted on a
 * cache without the write: a migration got two replacements, and was
 * abandoned when the second stayed unschedulable.
 */
#include "base/common.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "controller/controller_int.h"

static json_t *pod(const char *name, bool deleting)
{
	json_t *p = json_pack("{s:{s:s}}", "metadata", "name", name);

	if (deleting)
		json_object_set_new(json_object_get(p, "metadata"), "deletionTimestamp",
				    json_string("2026-11-28T03:00:00Z"));
	return p;
}

static void test_expectations(void **state)
{
	struct llmo_controller c;
	json_t *pods[3];

	(void)state;
	memset(&c, 0, sizeof(c));
	llmo_hmap_init(&c.expect);
	pods[0] = pod("w-old", false);
	pods[1] = pod("w-new", false);
	pods[2] = pod("w-going", true);

	/* nothing remembered: nothing pending, for any workload */
	assert_false(llmo__expect_pending(&c, "ns/w", pods, 1, 0));

	/* a create: pending until the cache has the pod; then forgotten */
	llmo__expect_add(&c, "ns/w", "w-new", LLMO__EXPECT_CREATE, NULL, 1000);
	assert_true(llmo__expect_pending(&c, "ns/w", pods, 1, 1001));
	assert_false(llmo__expect_pending(&c, "ns/other", pods, 1, 1001));
	assert_false(llmo__expect_pending(&c, "ns/w", pods, 2, 1002));
	assert_int_equal(llmo_hmap_count(&c.expect), 0);
	assert_false(llmo__expect_pending(&c, "ns/w", pods, 1, 1003)); /* forgotten: not again */

	/* a delete: pending while the cache still has the pod as it was */
	llmo__expect_add(&c, "ns/w", "w-old", LLMO__EXPECT_DELETE, NULL, 2000);
	assert_true(llmo__expect_pending(&c, "ns/w", pods, 2, 2001));
	assert_false(llmo__expect_pending(&c, "ns/w", pods + 1, 1, 2002)); /* gone from the cache */
	llmo__expect_add(&c, "ns/w", "w-going", LLMO__EXPECT_DELETE, NULL, 3000);
	assert_false(llmo__expect_pending(&c, "ns/w", pods, 3, 3001)); /* shown deleting */

	/* two writes: pending until both are shown */
	llmo__expect_add(&c, "ns/w", "w-new", LLMO__EXPECT_CREATE, NULL, 4000);
	llmo__expect_add(&c, "ns/w", "w-old", LLMO__EXPECT_DELETE, NULL, 4000);
	assert_true(llmo__expect_pending(&c, "ns/w", pods, 2, 4001)); /* the create shown, not the delete */
	assert_false(llmo__expect_pending(&c, "ns/w", pods + 1, 1, 4002));

	/* a write never shown is given up after the timeout */
	llmo__expect_add(&c, "ns/w", "w-lost", LLMO__EXPECT_CREATE, NULL, 5000);
	assert_true(llmo__expect_pending(&c, "ns/w", pods, 2, 5000 + LLMO__EXPECT_TIMEOUT_MS - 1));
	assert_false(llmo__expect_pending(&c, "ns/w", pods, 2, 5000 + LLMO__EXPECT_TIMEOUT_MS));
	assert_int_equal(llmo_hmap_count(&c.expect), 0);

	/*
	 * An annotation patch (a drain's mark, a removed annotation): pending until
	 * the cache's pod has every key as patched; a pod gone shows it too.
	 */
	{
		json_t *ann = json_pack("{s:s,s:n}", "llm.orchestrator.io/draining", "true",
					"llm.orchestrator.io/migrate");

		json_object_set_new(json_object_get(pods[0], "metadata"), "annotations",
				    json_pack("{s:s}", "llm.orchestrator.io/migrate", "true"));
		llmo__expect_add(&c, "ns/w", "w-old", LLMO__EXPECT_ANNOTATIONS, ann, 6000);
		json_decref(ann); /* referenced, not taken */
		assert_true(llmo__expect_pending(&c, "ns/w", pods, 2, 6001));
		json_object_set_new(json_object_get(pods[0], "metadata"), "annotations",
				    json_pack("{s:s,s:s}", "llm.orchestrator.io/migrate", "true",
					      "llm.orchestrator.io/draining", "true"));
		assert_true(llmo__expect_pending(&c, "ns/w", pods, 2, 6002)); /* migrate still there */
		json_object_set_new(json_object_get(pods[0], "metadata"), "annotations",
				    json_pack("{s:s,s:s}", "llm.orchestrator.io/draining", "true",
					      "other", "x"));
		assert_false(llmo__expect_pending(&c, "ns/w", pods, 2, 6003));
		ann = json_pack("{s:s}", "k", "v");
		llmo__expect_add(&c, "ns/w", "w-old", LLMO__EXPECT_ANNOTATIONS, ann, 7000);
		json_decref(ann);
		assert_false(llmo__expect_pending(&c, "ns/w", pods + 1, 1, 7001)); /* w-old gone */
	}

	/* freed with what it still holds (ASan: nothing leaks) */
	{
		json_t *ann = json_pack("{s:s}", "k", "v");

		llmo__expect_add(&c, "ns/w", "w-new", LLMO__EXPECT_ANNOTATIONS, ann, 8000);
		json_decref(ann);
	}
	for (size_t i = 0; i < 3; i++)
		json_decref(pods[i]);
	llmo_hmap_release(&c.expect, llmo__expect_free);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_expectations),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
