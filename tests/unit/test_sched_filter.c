/*
 * The scheduler's object plugins (src/scheduler/filter.h): tolerations
 * against taints, NoSchedule/NoExecute filtering and PreferNoSchedule
 * counting, nodeSelector and required node affinity, and model affinity
 * (seconds saved = sizeBytes / pullBytesPerSecond, and its score).
 */
#include "base/common.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>

#include "scheduler/filter.h"

static json_t *js(const char *text)
{
	json_error_t e;
	json_t *v = json_loads(text, 0, &e);

	if (!v)
		fail_msg("bad JSON in the test: %s: %s", text, e.text);
	return v;
}

struct tol_case {
	const char *toleration;
	const char *taint;
	bool matches;
};

static void test_toleration_matches(void **state)
{
	static const struct tol_case cases[] = {
		{"{\"key\":\"gpu\",\"operator\":\"Equal\",\"value\":\"a100\",\"effect\":\"NoSchedule\"}",
		 "{\"key\":\"gpu\",\"value\":\"a100\",\"effect\":\"NoSchedule\"}", true},
		/* operator defaults to Equal */
		{"{\"key\":\"gpu\",\"value\":\"a100\"}", "{\"key\":\"gpu\",\"value\":\"a100\",\"effect\":\"NoExecute\"}", true},
		{"{\"key\":\"gpu\",\"value\":\"h100\"}", "{\"key\":\"gpu\",\"value\":\"a100\",\"effect\":\"NoSchedule\"}", false},
		/* an effect must be equal when given */
		{"{\"key\":\"gpu\",\"operator\":\"Exists\",\"effect\":\"NoExecute\"}", "{\"key\":\"gpu\",\"value\":\"x\",\"effect\":\"NoSchedule\"}", false},
		{"{\"key\":\"gpu\",\"operator\":\"Exists\"}", "{\"key\":\"gpu\",\"value\":\"x\",\"effect\":\"NoSchedule\"}", true},
		{"{\"key\":\"other\",\"operator\":\"Exists\"}", "{\"key\":\"gpu\",\"effect\":\"NoSchedule\"}", false},
		/* an empty key with Exists tolerates everything; with Equal nothing */
		{"{\"operator\":\"Exists\"}", "{\"key\":\"anything\",\"value\":\"v\",\"effect\":\"NoExecute\"}", true},
		{"{\"value\":\"v\"}", "{\"key\":\"anything\",\"value\":\"v\",\"effect\":\"NoExecute\"}", false},
		/* an empty value equals an absent one */
		{"{\"key\":\"dedicated\",\"operator\":\"Equal\"}", "{\"key\":\"dedicated\",\"effect\":\"NoSchedule\"}", true},
		{"{\"key\":\"gpu\",\"operator\":\"Bogus\",\"value\":\"a\"}", "{\"key\":\"gpu\",\"value\":\"a\",\"effect\":\"NoSchedule\"}", false},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *t = js(cases[i].toleration), *taint = js(cases[i].taint);

		if (llmo_sched_toleration_matches(t, taint) != cases[i].matches)
			fail_msg("case %zu: %s vs %s: want %d", i, cases[i].toleration,
				 cases[i].taint, cases[i].matches);
		json_decref(t);
		json_decref(taint);
	}
}

static void test_taints(void **state)
{
	json_t *node = js("{\"metadata\":{\"name\":\"n\"},\"spec\":{\"taints\":["
			  "{\"key\":\"soft\",\"effect\":\"PreferNoSchedule\"},"
			  "{\"key\":\"soft2\",\"value\":\"x\",\"effect\":\"PreferNoSchedule\"},"
			  "{\"key\":\"gpu\",\"value\":\"a100\",\"effect\":\"NoSchedule\"},"
			  "{\"key\":\"drain\",\"effect\":\"NoExecute\"}]}}");
	json_t *bare = js("{\"spec\":{}}");
	json_t *some = js("{\"spec\":{\"tolerations\":[{\"key\":\"gpu\",\"operator\":\"Exists\"},"
			  "{\"key\":\"soft\",\"operator\":\"Exists\"}]}}");
	json_t *all = js("{\"spec\":{\"tolerations\":[{\"operator\":\"Exists\"}]}}");
	json_t *untainted = js("{\"spec\":{\"taints\":[]}}");
	const json_t *t;

	(void)state;
	t = llmo_sched_untolerated_taint(bare, node);
	assert_non_null(t);
	assert_string_equal(json_string_value(json_object_get(t, "key")), "gpu");
	assert_int_equal(llmo_sched_untolerated_preferred(bare, node), 2);
	/* tolerating gpu leaves the NoExecute taint */
	t = llmo_sched_untolerated_taint(some, node);
	assert_non_null(t);
	assert_string_equal(json_string_value(json_object_get(t, "key")), "drain");
	assert_int_equal(llmo_sched_untolerated_preferred(some, node), 1);
	assert_null(llmo_sched_untolerated_taint(all, node));
	assert_int_equal(llmo_sched_untolerated_preferred(all, node), 0);
	assert_null(llmo_sched_untolerated_taint(bare, untainted));
	assert_int_equal(llmo_sched_untolerated_preferred(bare, untainted), 0);
	json_decref(node);
	json_decref(bare);
	json_decref(some);
	json_decref(all);
	json_decref(untainted);
}

struct sel_case {
	const char *pod;
	bool on_a; /* node "a": labels zone=z1, gpu=a100, gen=3 */
	bool on_b; /* node "b": labels zone=z2 */
};

static void test_node_selected(void **state)
{
#define REQ(terms)                                                                        \
	"{\"spec\":{\"affinity\":{\"nodeAffinity\":{\"requiredDuringSchedulingIgnoredDuring" \
	"Execution\":{\"nodeSelectorTerms\":" terms "}}}}}"
	static const struct sel_case cases[] = {
		{"{\"spec\":{}}", true, true},
		{"{\"spec\":{\"nodeSelector\":{\"zone\":\"z1\"}}}", true, false},
		{"{\"spec\":{\"nodeSelector\":{\"zone\":\"z1\",\"gpu\":\"h100\"}}}", false, false},
		{"{\"spec\":{\"nodeSelector\":{\"missing\":\"x\"}}}", false, false},
		{REQ("[{\"matchExpressions\":[{\"key\":\"zone\",\"operator\":\"In\",\"values\":[\"z2\",\"z3\"]}]}]"), false, true},
		{REQ("[{\"matchExpressions\":[{\"key\":\"zone\",\"operator\":\"NotIn\",\"values\":[\"z2\"]}]}]"), true, false},
		/* NotIn and DoesNotExist hold for a missing label */
		{REQ("[{\"matchExpressions\":[{\"key\":\"gpu\",\"operator\":\"NotIn\",\"values\":[\"a100\"]}]}]"), false, true},
		{REQ("[{\"matchExpressions\":[{\"key\":\"gpu\",\"operator\":\"DoesNotExist\"}]}]"), false, true},
		{REQ("[{\"matchExpressions\":[{\"key\":\"gpu\",\"operator\":\"Exists\"}]}]"), true, false},
		{REQ("[{\"matchExpressions\":[{\"key\":\"gen\",\"operator\":\"Gt\",\"values\":[\"2\"]}]}]"), true, false},
		{REQ("[{\"matchExpressions\":[{\"key\":\"gen\",\"operator\":\"Lt\",\"values\":[\"3\"]}]}]"), false, false},
		{REQ("[{\"matchExpressions\":[{\"key\":\"gen\",\"operator\":\"Gt\",\"values\":[\"1\",\"2\"]}]}]"), false, false},
		/* expressions of a term are ANDed, terms ORed */
		{REQ("[{\"matchExpressions\":[{\"key\":\"zone\",\"operator\":\"In\",\"values\":[\"z1\"]},"
		     "{\"key\":\"gpu\",\"operator\":\"In\",\"values\":[\"h100\"]}]},"
		     "{\"matchFields\":[{\"key\":\"metadata.name\",\"operator\":\"In\",\"values\":[\"b\"]}]}]"),
		 false, true},
		/* an empty term, an empty list and an unknown operator match nothing */
		{REQ("[{}]"), false, false},
		{REQ("[]"), false, false},
		{REQ("[{\"matchExpressions\":[{\"key\":\"zone\",\"operator\":\"Near\",\"values\":[\"z1\"]}]}]"), false, false},
		/* nodeSelector and affinity both apply */
		{"{\"spec\":{\"nodeSelector\":{\"zone\":\"z1\"},\"affinity\":{\"nodeAffinity\":{"
		 "\"requiredDuringSchedulingIgnoredDuringExecution\":{\"nodeSelectorTerms\":[{"
		 "\"matchFields\":[{\"key\":\"metadata.name\",\"operator\":\"NotIn\",\"values\":[\"a\"]}]}]}}}}}",
		 false, false},
	};
#undef REQ
	json_t *a = js("{\"metadata\":{\"name\":\"a\",\"labels\":{\"zone\":\"z1\",\"gpu\":\"a100\",\"gen\":\"3\"}}}");
	json_t *b = js("{\"metadata\":{\"name\":\"b\",\"labels\":{\"zone\":\"z2\"}}}");

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *pod = js(cases[i].pod);

		if (llmo_sched_node_selected(pod, a) != cases[i].on_a ||
		    llmo_sched_node_selected(pod, b) != cases[i].on_b)
			fail_msg("case %zu: %s: want a=%d b=%d", i, cases[i].pod, cases[i].on_a,
				 cases[i].on_b);
		json_decref(pod);
	}
	json_decref(a);
	json_decref(b);
}

static json_t *cached_node(const char *annotation)
{
	json_t *n = js("{\"metadata\":{\"name\":\"n\",\"annotations\":{}}}");

	json_object_set_new(json_object_get(json_object_get(n, "metadata"), "annotations"),
			    LLMO_SCHED_CACHED_MODELS_ANNOTATION, json_string(annotation));
	return n;
}

static void test_model_affinity(void **state)
{
	json_t *pod = js("{\"metadata\":{\"labels\":{\"llm.orchestrator.io/model\":\"llama2\","
			 "\"llm.orchestrator.io/version\":\"7b\"}}}");
	json_t *anyver = js("{\"metadata\":{\"labels\":{\"llm.orchestrator.io/model\":\"llama2\"}}}");
	json_t *nomodel = js("{\"metadata\":{}}");
	/* 13 GB at 130 MB/s: 100 s; the 13b version, 26 GB: 200 s */
	json_t *n1 = cached_node("{\"pullBytesPerSecond\": 130000000, \"models\": ["
				 "{\"name\": \"llama2\", \"version\": \"7b\", \"digest\": \"sha256:aa\","
				 " \"sizeBytes\": 13000000000},"
				 "{\"name\": \"llama2\", \"version\": \"13b\", \"sizeBytes\": 26000000000},"
				 "{\"name\": \"mistral\", \"version\": \"7b\", \"sizeBytes\": 14000000000}]}");
	/* no rate: 100 MB/s is assumed, 13 GB is 130 s */
	json_t *n2 = cached_node("{\"models\": [{\"name\": \"llama2\", \"version\": \"7b\","
				 " \"sizeBytes\": 13000000000}]}");
	json_t *n3 = cached_node("{\"pullBytesPerSecond\": 1, \"models\": [{\"name\": \"mistral\","
				 " \"version\": \"7b\", \"sizeBytes\": 5}]}");
	json_t *bad = cached_node("not json");
	json_t *none = js("{\"metadata\":{\"name\":\"x\"}}");

	(void)state;
	assert_true(fabs(llmo_sched_model_saved_seconds(pod, n1) - 100.0) < 1e-9);
	assert_true(fabs(llmo_sched_model_saved_seconds(anyver, n1) - 200.0) < 1e-9);
	assert_true(fabs(llmo_sched_model_saved_seconds(pod, n2) - 130.0) < 1e-9);
	assert_true(llmo_sched_model_saved_seconds(pod, n3) == 0);
	assert_true(llmo_sched_model_saved_seconds(pod, bad) == 0);
	assert_true(llmo_sched_model_saved_seconds(pod, none) == 0);
	assert_true(llmo_sched_model_saved_seconds(nomodel, n1) == 0);
	/* score: 100 * s / 600, capped at 100 */
	assert_true(fabs(llmo_sched_affinity_score(100) - 100.0 / 6) < 1e-9);
	assert_true(fabs(llmo_sched_affinity_score(300) - 50) < 1e-9);
	assert_true(llmo_sched_affinity_score(6000) == 100);
	assert_true(llmo_sched_affinity_score(0) == 0);
	assert_true(llmo_sched_affinity_score(-5) == 0);
	json_decref(pod);
	json_decref(anyver);
	json_decref(nomodel);
	json_decref(n1);
	json_decref(n2);
	json_decref(n3);
	json_decref(bad);
	json_decref(none);
}

/* A pod whose preferred node affinity is the JSON array terms. */
static json_t *preferring(const char *terms)
{
	json_t *pod = js("{\"spec\":{\"affinity\":{\"nodeAffinity\":{}}}}");

	json_object_set_new(json_object_get(json_object_get(json_object_get(pod, "spec"),
							     "affinity"),
					     "nodeAffinity"),
			    "preferredDuringSchedulingIgnoredDuringExecution", js(terms));
	return pod;
}

/*
 * Preferred node affinity: node n1 (zone z2, disk ssd, gpus 8) matches the
 * terms of weight 20 (zone In z2), 60 (disk In ssd), 5 (gpus Gt 4) and 9
 * (metadata.name In n1): 94; weight 0, weight 101, a string weight and an
 * empty preference count for nothing, nor do terms it fails (weight 40:
 * disk NotIn ssd). Node n2 (no labels) matches only the NotIn term: 40.
 * Normalised against the larger sum: n1 100 * 94 / 94 = 100, n2
 * 100 * 40 / 94 = 42 (integer division).
 */
static void test_preferred_affinity(void **state)
{
	json_t *n1 = js("{\"metadata\":{\"name\":\"n1\",\"labels\":{\"zone\":\"z2\","
			"\"disk\":\"ssd\",\"gpus\":\"8\"}}}");
	json_t *n2 = js("{\"metadata\":{\"name\":\"n2\"}}");
	json_t *pod = preferring(
		"["
		"{\"weight\":20,\"preference\":{\"matchExpressions\":[{\"key\":\"zone\","
		"\"operator\":\"In\",\"values\":[\"z2\"]}]}},"
		"{\"weight\":60,\"preference\":{\"matchExpressions\":[{\"key\":\"disk\","
		"\"operator\":\"In\",\"values\":[\"ssd\"]}]}},"
		"{\"weight\":5,\"preference\":{\"matchExpressions\":[{\"key\":\"gpus\","
		"\"operator\":\"Gt\",\"values\":[\"4\"]}]}},"
		"{\"weight\":9,\"preference\":{\"matchFields\":[{\"key\":\"metadata.name\","
		"\"operator\":\"In\",\"values\":[\"n1\"]}]}},"
		"{\"weight\":40,\"preference\":{\"matchExpressions\":[{\"key\":\"disk\","
		"\"operator\":\"NotIn\",\"values\":[\"ssd\"]}]}},"
		"{\"weight\":0,\"preference\":{\"matchExpressions\":[{\"key\":\"zone\","
		"\"operator\":\"Exists\"}]}},"
		"{\"weight\":101,\"preference\":{\"matchExpressions\":[{\"key\":\"zone\","
		"\"operator\":\"Exists\"}]}},"
		"{\"weight\":\"7\",\"preference\":{\"matchExpressions\":[{\"key\":\"zone\","
		"\"operator\":\"Exists\"}]}},"
		"{\"weight\":3,\"preference\":{}}"
		"]");
	json_t *bare = js("{\"spec\":{}}");

	(void)state;
	assert_int_equal(llmo_sched_preferred_affinity(pod, n1), 94);
	assert_int_equal(llmo_sched_preferred_affinity(pod, n2), 40);
	assert_int_equal(llmo_sched_preferred_affinity(bare, n1), 0);
	assert_int_equal(llmo_sched_node_affinity_score(94, 94), 100);
	assert_int_equal(llmo_sched_node_affinity_score(40, 94), 42);
	assert_int_equal(llmo_sched_node_affinity_score(0, 94), 0);
	assert_int_equal(llmo_sched_node_affinity_score(5, 0), 0);
	json_decref(pod);
	json_decref(bare);
	json_decref(n1);
	json_decref(n2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_toleration_matches),
		cmocka_unit_test(test_taints),
		cmocka_unit_test(test_node_selected),
		cmocka_unit_test(test_model_affinity),
		cmocka_unit_test(test_preferred_affinity),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
