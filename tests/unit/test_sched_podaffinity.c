/*
 * Inter-pod affinity and anti-affinity (src/scheduler/podaffinity.h): the
 * filter's three rules, the first pod of a self-affine group, namespaces
 * and namespaceSelectors, matchLabelKeys, the scores before and after
 * normalisation, and malformed terms.
 *
 * Nodes: n1 and n2 in zone a, n3 in zone b, n4 without a zone; each has its
 * kubernetes.io/hostname.
 */
#include "base/common.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <math.h>

#include "scheduler/podaffinity.h"

#define HOST "kubernetes.io/hostname"
#define ZONE "topology.kubernetes.io/zone"

static json_t *nodes[4];

static int setup(void **state)
{
	(void)state;
	nodes[0] = json_pack("{s:{s:s, s:{s:s, s:s}}}", "metadata", "name", "n1", "labels", HOST,
			     "n1", ZONE, "a");
	nodes[1] = json_pack("{s:{s:s, s:{s:s, s:s}}}", "metadata", "name", "n2", "labels", HOST,
			     "n2", ZONE, "a");
	nodes[2] = json_pack("{s:{s:s, s:{s:s, s:s}}}", "metadata", "name", "n3", "labels", HOST,
			     "n3", ZONE, "b");
	nodes[3] = json_pack("{s:{s:s, s:{s:s}}}", "metadata", "name", "n4", "labels", HOST, "n4");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (int i = 0; i < 4; i++)
		json_decref(nodes[i]);
	return 0;
}

/* A pod from JSON text (its spec.affinity, labels and namespace as written). */
static json_t *pod(const char *text)
{
	json_error_t e;
	json_t *p = json_loads(text, 0, &e);

	if (!p)
		fail_msg("bad test JSON: %s: %s", e.text, text);
	return p;
}

/* The state for placing p with the placed pods (NULL-terminated pairs of pod, node index). */
static struct llmo_sched_podaff *prepare(json_t *p, const json_t *const *placed, const int *on)
{
	struct llmo_sched_podaff *pa = NULL;
	struct llmo_error err = {0};

	if (llmo_sched_podaff_new(p, NULL, NULL, &pa, &err))
		fail_msg("podaff_new: %s", err.msg);
	for (size_t i = 0; placed && placed[i]; i++)
		assert_int_equal(llmo_sched_podaff_add(pa, placed[i], nodes[on[i]]), 0);
	json_decref(p);
	return pa;
}

/* The check of each node, as a string of digits (enum llmo_sched_podaff_why). */
static void expect_checks(const struct llmo_sched_podaff *pa, const char *want)
{
	char got[5];

	for (int i = 0; i < 4; i++)
		got[i] = (char)('0' + llmo_sched_podaff_check(pa, nodes[i]));
	got[4] = '\0';
	assert_string_equal(got, want);
}

#define WEB1 "{\"metadata\":{\"name\":\"web-1\",\"namespace\":\"default\",\"labels\":{\"app\":\"web\"}}}"

static void test_required(void **state)
{
	json_t *web1 = pod(WEB1);
	const json_t *placed[] = {web1, NULL};
	const int on[] = {0};
	struct llmo_sched_podaff *pa;

	(void)state;
	/* anti-affinity by host: not n1 (web-1 is there) */
	pa = prepare(pod("{\"metadata\":{\"namespace\":\"default\"},\"spec\":{\"affinity\":{"
			 "\"podAntiAffinity\":{\"requiredDuringSchedulingIgnoredDuringExecution\":"
			 "[{\"labelSelector\":{\"matchLabels\":{\"app\":\"web\"}},"
			 "\"topologyKey\":\"" HOST "\"}]}}}}"),
		     placed, on);
	expect_checks(pa, "2000");
	assert_true(llmo_sched_podaff_active(pa));
	llmo_sched_podaff_free(pa);

	/* anti-affinity by zone: not zone a; n4 has no zone and passes */
	pa = prepare(pod("{\"metadata\":{\"namespace\":\"default\"},\"spec\":{\"affinity\":{"
			 "\"podAntiAffinity\":{\"requiredDuringSchedulingIgnoredDuringExecution\":"
			 "[{\"labelSelector\":{\"matchExpressions\":[{\"key\":\"app\",\"operator\":"
			 "\"In\",\"values\":[\"web\",\"api\"]}]},\"topologyKey\":\"" ZONE "\"}]}}}}"),
		     placed, on);
	expect_checks(pa, "2200");
	llmo_sched_podaff_free(pa);

	/* affinity by zone: zone a only; n4 lacks the key */
	pa = prepare(pod("{\"metadata\":{\"namespace\":\"default\"},\"spec\":{\"affinity\":{"
			 "\"podAffinity\":{\"requiredDuringSchedulingIgnoredDuringExecution\":"
			 "[{\"labelSelector\":{\"matchLabels\":{\"app\":\"web\"}},"
			 "\"topologyKey\":\"" ZONE "\"}]}}}}"),
		     placed, on);
	expect_checks(pa, "0011");
	llmo_sched_podaff_free(pa);

	/* the same in another namespace: web-1 (default) is not one of its pods */
	pa = prepare(pod("{\"metadata\":{\"namespace\":\"prod\"},\"spec\":{\"affinity\":{"
			 "\"podAffinity\":{\"requiredDuringSchedulingIgnoredDuringExecution\":"
			 "[{\"labelSelector\":{\"matchLabels\":{\"app\":\"web\"}},"
			 "\"topologyKey\":\"" ZONE "\"}]}}}}"),
		     placed, on);
	expect_checks(pa, "1111");
	llmo_sched_podaff_free(pa);

	/* ... unless it names default, or selects every namespace ({}) */
	pa = prepare(pod("{\"metadata\":{\"namespace\":\"prod\"},\"spec\":{\"affinity\":{"
			 "\"podAffinity\":{\"requiredDuringSchedulingIgnoredDuringExecution\":"
			 "[{\"labelSelector\":{\"matchLabels\":{\"app\":\"web\"}},\"namespaces\":"
			 "[\"default\"],\"topologyKey\":\"" ZONE "\"}]}}}}"),
		     placed, on);
	expect_checks(pa, "0011");
	llmo_sched_podaff_free(pa);
	pa = prepare(pod("{\"metadata\":{\"namespace\":\"prod\"},\"spec\":{\"affinity\":{"
			 "\"podAffinity\":{\"requiredDuringSchedulingIgnoredDuringExecution\":"
			 "[{\"labelSelector\":{\"matchLabels\":{\"app\":\"web\"}},"
			 "\"namespaceSelector\":{},\"topologyKey\":\"" ZONE "\"}]}}}}"),
		     placed, on);
	expect_checks(pa, "0011");
	llmo_sched_podaff_free(pa);

	/* no labelSelector selects no pod: affinity fails where no self-match saves it */
	pa = prepare(pod("{\"metadata\":{\"namespace\":\"default\"},\"spec\":{\"affinity\":{"
			 "\"podAffinity\":{\"requiredDuringSchedulingIgnoredDuringExecution\":"
			 "[{\"topologyKey\":\"" ZONE "\"}]}}}}"),
		     placed, on);
	expect_checks(pa, "1111");
	llmo_sched_podaff_free(pa);
	json_decref(web1);
}

/* The first pod of a group with affinity to itself may go anywhere with the key. */
static void test_first_of_group(void **state)
{
	static const char db[] =
		"{\"metadata\":{\"namespace\":\"default\",\"labels\":{\"app\":\"db\"}},"
		"\"spec\":{\"affinity\":{\"podAffinity\":{"
		"\"requiredDuringSchedulingIgnoredDuringExecution\":[{\"labelSelector\":"
		"{\"matchLabels\":{\"app\":\"db\"}},\"topologyKey\":\"" ZONE "\"}]}}}}";
	json_t *db1 = pod("{\"metadata\":{\"name\":\"db-1\",\"namespace\":\"default\","
			  "\"labels\":{\"app\":\"db\"}}}");
	const json_t *placed[] = {db1, NULL};
	const int on[] = {2};
	struct llmo_sched_podaff *pa;

	(void)state;
	pa = prepare(pod(db), NULL, NULL);
	expect_checks(pa, "0001");
	llmo_sched_podaff_free(pa);
	/* once one is placed (in zone b), the next must join it */
	pa = prepare(pod(db), placed, on);
	expect_checks(pa, "1101");
	llmo_sched_podaff_free(pa);
	/* a pod that does not match its own term has nobody to follow */
	pa = prepare(pod("{\"metadata\":{\"namespace\":\"default\",\"labels\":{\"app\":\"x\"}},"
			 "\"spec\":{\"affinity\":{\"podAffinity\":{"
			 "\"requiredDuringSchedulingIgnoredDuringExecution\":[{\"labelSelector\":"
			 "{\"matchLabels\":{\"app\":\"db\"}},\"topologyKey\":\"" ZONE "\"}]}}}}"),
		     NULL, NULL);
	expect_checks(pa, "1111");
	llmo_sched_podaff_free(pa);
	json_decref(db1);
}

/* A placed pod's required anti-affinity keeps the pods it names out of its domain. */
static void test_existing_anti(void **state)
{
	json_t *cache = pod("{\"metadata\":{\"name\":\"cache\",\"namespace\":\"default\"},"
			    "\"spec\":{\"affinity\":{\"podAntiAffinity\":{"
			    "\"requiredDuringSchedulingIgnoredDuringExecution\":[{\"labelSelector\":"
			    "{\"matchLabels\":{\"app\":\"web\"}},\"topologyKey\":\"" ZONE "\"}]}}}}");
	const json_t *placed[] = {cache, NULL};
	const int on[] = {2};
	struct llmo_sched_podaff *pa;

	(void)state;
	pa = prepare(pod("{\"metadata\":{\"namespace\":\"default\",\"labels\":{\"app\":\"web\"}}}"),
		     placed, on);
	expect_checks(pa, "0030");
	assert_false(llmo_sched_podaff_own(pa));
	assert_true(llmo_sched_podaff_active(pa));
	llmo_sched_podaff_free(pa);
	/* a pod it does not name (another app, another namespace) is not kept out */
	pa = prepare(pod("{\"metadata\":{\"namespace\":\"default\",\"labels\":{\"app\":\"api\"}}}"),
		     placed, on);
	expect_checks(pa, "0000");
	assert_false(llmo_sched_podaff_active(pa));
	llmo_sched_podaff_free(pa);
	pa = prepare(pod("{\"metadata\":{\"namespace\":\"prod\",\"labels\":{\"app\":\"web\"}}}"),
		     placed, on);
	expect_checks(pa, "0000");
	llmo_sched_podaff_free(pa);
	json_decref(cache);
}

static const json_t *team_a(void *ctx, const char *ns)
{
	return strcmp(ns, "default") == 0 ? ctx : NULL;
}

/* namespaceSelector over the namespaces' labels; matchLabelKeys with the pod's own value. */
static void test_namespace_selector_and_keys(void **state)
{
	json_t *labels = json_pack("{s:s}", "team", "a");
	json_t *v1 = pod("{\"metadata\":{\"name\":\"w1\",\"namespace\":\"default\",\"labels\":"
			 "{\"app\":\"web\",\"version\":\"v1\"}}}");
	json_t *v2 = pod("{\"metadata\":{\"name\":\"w2\",\"namespace\":\"default\",\"labels\":"
			 "{\"app\":\"web\",\"version\":\"v2\"}}}");
	struct llmo_sched_podaff *pa = NULL;
	struct llmo_error err = {0};
	json_t *p;

	(void)state;
	p = pod("{\"metadata\":{\"namespace\":\"prod\"},\"spec\":{\"affinity\":{"
		"\"podAntiAffinity\":{\"requiredDuringSchedulingIgnoredDuringExecution\":"
		"[{\"labelSelector\":{\"matchLabels\":{\"app\":\"web\"}},\"namespaceSelector\":"
		"{\"matchLabels\":{\"team\":\"a\"}},\"topologyKey\":\"" HOST "\"}]}}}}");
	assert_int_equal(llmo_sched_podaff_new(p, team_a, labels, &pa, &err), 0);
	assert_int_equal(llmo_sched_podaff_add(pa, v1, nodes[1]), 0);
	expect_checks(pa, "0200");
	llmo_sched_podaff_free(pa);
	/* without the namespaces' labels the selector matches no namespace */
	assert_int_equal(llmo_sched_podaff_new(p, NULL, NULL, &pa, &err), 0);
	assert_int_equal(llmo_sched_podaff_add(pa, v1, nodes[1]), 0);
	expect_checks(pa, "0000");
	llmo_sched_podaff_free(pa);
	json_decref(p);

	/*
	 * a v2 pod avoiding web pods by host: matchLabelKeys [version] adds
	 * version in (v2), so only w2 (n2) counts; mismatchLabelKeys version
	 * notin (v2), so only w1 (n1)
	 */
	for (int k = 0; k < 2; k++) {
		char text[1024];

		snprintf(text, sizeof(text),
			 "{\"metadata\":{\"namespace\":\"default\",\"labels\":{\"app\":\"web\","
			 "\"version\":\"v2\"}},\"spec\":{\"affinity\":{\"podAntiAffinity\":{"
			 "\"requiredDuringSchedulingIgnoredDuringExecution\":[{\"labelSelector\":"
			 "{\"matchLabels\":{\"app\":\"web\"}},\"%s\":[\"version\"],"
			 "\"topologyKey\":\"" HOST "\"}]}}}}",
			 k ? "mismatchLabelKeys" : "matchLabelKeys");
		p = pod(text);
		assert_int_equal(llmo_sched_podaff_new(p, NULL, NULL, &pa, &err), 0);
		assert_int_equal(llmo_sched_podaff_add(pa, v1, nodes[0]), 0);
		assert_int_equal(llmo_sched_podaff_add(pa, v2, nodes[1]), 0);
		expect_checks(pa, k ? "2000" : "0200");
		llmo_sched_podaff_free(pa);
		json_decref(p);
	}
	json_decref(v1);
	json_decref(v2);
	json_decref(labels);
}

static void test_scores(void **state)
{
	json_t *web1 = pod(WEB1);
	json_t *picky = pod("{\"metadata\":{\"name\":\"picky\",\"namespace\":\"default\"},"
			    "\"spec\":{\"affinity\":{\"podAntiAffinity\":{"
			    "\"preferredDuringSchedulingIgnoredDuringExecution\":[{\"weight\":30,"
			    "\"podAffinityTerm\":{\"labelSelector\":{\"matchLabels\":{\"app\":"
			    "\"api\"}},\"topologyKey\":\"" HOST "\"}}]},\"podAffinity\":{"
			    "\"requiredDuringSchedulingIgnoredDuringExecution\":[{\"labelSelector\":"
			    "{\"matchLabels\":{\"app\":\"api\"}},\"topologyKey\":\"" ZONE "\"}]}}}}");
	const json_t *placed[] = {web1, picky, NULL};
	const int on[] = {0, 2};
	struct llmo_sched_podaff *pa;
	int64_t raw[4];

	(void)state;
	/*
	 * An api pod that prefers (weight 10) to be away from web pods by host and
	 * near them (weight 4) by zone; picky (on n3) avoids api pods by host
	 * (30) and requires them in its zone (+1 each).
	 * n1: -10 + 4 = -6; n2: +4; n3: -30 + 1 = -29; n4: 0.
	 */
	pa = prepare(pod("{\"metadata\":{\"namespace\":\"default\",\"labels\":{\"app\":\"api\"}},"
			 "\"spec\":{\"affinity\":{\"podAntiAffinity\":{"
			 "\"preferredDuringSchedulingIgnoredDuringExecution\":[{\"weight\":10,"
			 "\"podAffinityTerm\":{\"labelSelector\":{\"matchLabels\":{\"app\":\"web\"}},"
			 "\"topologyKey\":\"" HOST "\"}}]},\"podAffinity\":{"
			 "\"preferredDuringSchedulingIgnoredDuringExecution\":[{\"weight\":4,"
			 "\"podAffinityTerm\":{\"labelSelector\":{\"matchLabels\":{\"app\":\"web\"}},"
			 "\"topologyKey\":\"" ZONE "\"}}]}}}}"),
		     placed, on);
	for (int i = 0; i < 4; i++)
		raw[i] = llmo_sched_podaff_score(pa, nodes[i]);
	assert_int_equal(raw[0], -6);
	assert_int_equal(raw[1], 4);
	assert_int_equal(raw[2], -29);
	assert_int_equal(raw[3], 0);
	assert_true(llmo_sched_podaff_scores(pa));
	/* min -29, max 4: 100 * (s + 29) / 33 */
	assert_true(llmo_sched_podaff_normalize(raw[1], -29, 4) == 100.0);
	assert_true(llmo_sched_podaff_normalize(raw[2], -29, 4) == 0.0);
	assert_true(fabs(llmo_sched_podaff_normalize(raw[0], -29, 4) - 100.0 * 23 / 33) < 1e-9);
	/* everything equal: 0; the bounds take in 0 */
	assert_true(llmo_sched_podaff_normalize(5, 5, 5) == 100.0);
	assert_true(llmo_sched_podaff_normalize(0, 0, 0) == 0.0);
	llmo_sched_podaff_free(pa);
	json_decref(web1);
	json_decref(picky);
}

static void expect_invalid(const char *text, const char *want)
{
	struct llmo_sched_podaff *pa = NULL;
	struct llmo_error err = {0};
	json_t *p = pod(text);

	assert_int_equal(llmo_sched_podaff_new(p, NULL, NULL, &pa, &err), LLMO_EINVAL);
	assert_null(pa);
	if (!strstr(err.msg, want))
		fail_msg("message \"%s\" lacks \"%s\"", err.msg, want);
	json_decref(p);
}

static void test_invalid(void **state)
{
	json_t *bad = pod("{\"metadata\":{\"name\":\"bad\",\"namespace\":\"default\"},"
			  "\"spec\":{\"affinity\":{\"podAntiAffinity\":{"
			  "\"requiredDuringSchedulingIgnoredDuringExecution\":[{\"labelSelector\":"
			  "{\"matchLabels\":{\"app\":\"web\"}}}]}}}}");
	const json_t *placed[] = {bad, NULL};
	const int on[] = {0};
	struct llmo_sched_podaff *pa;

	(void)state;
	expect_invalid("{\"spec\":{\"affinity\":{\"podAntiAffinity\":{"
		       "\"requiredDuringSchedulingIgnoredDuringExecution\":[{\"labelSelector\":{}}]}}}}",
		       "spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution"
		       "[0].topologyKey: Required value");
	expect_invalid("{\"spec\":{\"affinity\":{\"podAffinity\":{"
		       "\"preferredDuringSchedulingIgnoredDuringExecution\":[{\"weight\":0,"
		       "\"podAffinityTerm\":{\"topologyKey\":\"x\"}}]}}}}",
		       "preferredDuringSchedulingIgnoredDuringExecution[0].weight: must be an "
		       "integer in the range 1-100");
	expect_invalid("{\"spec\":{\"affinity\":{\"podAffinity\":{"
		       "\"requiredDuringSchedulingIgnoredDuringExecution\":[{\"topologyKey\":\"x\","
		       "\"labelSelector\":{\"matchExpressions\":[{\"key\":\"a\",\"operator\":"
		       "\"Near\"}]}}]}}}}",
		       "[0].labelSelector.matchExpressions[0]");
	expect_invalid("{\"spec\":{\"affinity\":{\"podAffinity\":{"
		       "\"requiredDuringSchedulingIgnoredDuringExecution\":{}}}}}",
		       "requiredDuringSchedulingIgnoredDuringExecution: expected an array");
	/* a placed pod's malformed term counts for nothing */
	pa = prepare(pod("{\"metadata\":{\"namespace\":\"default\",\"labels\":{\"app\":\"web\"}}}"),
		     placed, on);
	expect_checks(pa, "0000");
	llmo_sched_podaff_free(pa);
	json_decref(bad);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_required),
		cmocka_unit_test(test_first_of_group),
		cmocka_unit_test(test_existing_anti),
		cmocka_unit_test(test_namespace_selector_and_keys),
		cmocka_unit_test(test_scores),
		cmocka_unit_test(test_invalid),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
