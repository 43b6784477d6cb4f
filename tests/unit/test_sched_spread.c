/*
 * Pod topology spread constraints (src/scheduler/spread.h): the skew rule,
 * the missing label, minDomains, a pod that does not match its own
 * selector, nodeAffinityPolicy, namespaces and pods being deleted, the
 * ScheduleAnyway score, malformed constraints.
 *
 * Nodes: n1 and n2 in zone a, n3 in zone b, n4 without a zone; each has its
 * kubernetes.io/hostname. Web pods: w1 on n1, w2 on n2 (zone a 2, zone b 0).
 */
#include "base/common.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <math.h>

#include "scheduler/spread.h"

static json_t *nodes[4], *web[3];

static json_t *load(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);

	if (!j)
		fail_msg("bad test JSON: %s: %s", e.text, text);
	return j;
}

static int setup(void **state)
{
	static const char *const zone[] = {"a", "a", "b", NULL};
	char text[256];

	(void)state;
	for (int i = 0; i < 4; i++) {
		if (zone[i])
			snprintf(text, sizeof(text),
				 "{\"metadata\":{\"name\":\"n%d\",\"labels\":{\"kubernetes.io/"
				 "hostname\":\"n%d\",\"zone\":\"%s\"}}}",
				 i + 1, i + 1, zone[i]);
		else
			snprintf(text, sizeof(text),
				 "{\"metadata\":{\"name\":\"n%d\",\"labels\":{\"kubernetes.io/"
				 "hostname\":\"n%d\"}}}",
				 i + 1, i + 1);
		nodes[i] = load(text);
	}
	for (int i = 0; i < 3; i++) {
		snprintf(text, sizeof(text),
			 "{\"metadata\":{\"name\":\"w%d\",\"namespace\":\"default\",\"labels\":"
			 "{\"app\":\"web\"}}}",
			 i + 1);
		web[i] = load(text);
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (int i = 0; i < 4; i++)
		json_decref(nodes[i]);
	for (int i = 0; i < 3; i++)
		json_decref(web[i]);
	return 0;
}

/*
 * A pod (labels app=APP, nodeSelector SEL or none) with one constraint
 * (its JSON members), and the placed web pods on the given nodes (-1 ends).
 */
static struct llmo_sched_spread *prepare(const char *app, const char *sel, const char *constraint,
					 const int *on)
{
	struct llmo_sched_spread *sp = NULL;
	struct llmo_error err = {0};
	char text[1024];
	json_t *pod;

	snprintf(text, sizeof(text),
		 "{\"metadata\":{\"namespace\":\"default\",\"labels\":{\"app\":\"%s\"}},"
		 "\"spec\":{%s%s%s\"topologySpreadConstraints\":[{%s}]}}",
		 app, sel ? "\"nodeSelector\":" : "", sel ? sel : "", sel ? "," : "", constraint);
	pod = load(text);
	if (llmo_sched_spread_new(pod, &sp, &err))
		fail_msg("spread_new: %s", err.msg);
	json_decref(pod);
	for (int i = 0; i < 4; i++)
		assert_int_equal(llmo_sched_spread_add_node(sp, nodes[i]), 0);
	for (int i = 0; on[i] >= 0; i++)
		assert_int_equal(llmo_sched_spread_add_pod(sp, web[i], nodes[on[i]]), 0);
	llmo_sched_spread_done(sp);
	return sp;
}

/* Each node's check as digits (enum llmo_sched_spread_why). */
static void expect(struct llmo_sched_spread *sp, const char *want)
{
	char got[5];

	for (int i = 0; i < 4; i++)
		got[i] = (char)('0' + llmo_sched_spread_check(sp, nodes[i]));
	got[4] = '\0';
	llmo_sched_spread_free(sp);
	assert_string_equal(got, want);
}

#define WEB "\"labelSelector\":{\"matchLabels\":{\"app\":\"web\"}}"
#define HARD "\"whenUnsatisfiable\":\"DoNotSchedule\""

static void test_skew(void **state)
{
	const int two[] = {0, 1, -1}, three[] = {0, 1, 2, -1};

	(void)state;
	/* zone: a 2, b 0; a web pod adds itself: a 3 - 0 > 1, b 1 - 0; n4 has no zone */
	expect(prepare("web", NULL, "\"maxSkew\":1,\"topologyKey\":\"zone\"," HARD "," WEB, two),
	       "2201");
	expect(prepare("web", NULL, "\"maxSkew\":3,\"topologyKey\":\"zone\"," HARD "," WEB, two),
	       "0001");
	/* by host: n1 1, n2 1, n3 0, n4 0 */
	expect(prepare("web", NULL,
		       "\"maxSkew\":1,\"topologyKey\":\"kubernetes.io/hostname\"," HARD "," WEB,
		       two),
	       "2200");
	/* a pod its selector does not match does not count itself: a 2 - 0 > 1 still */
	expect(prepare("api", NULL, "\"maxSkew\":1,\"topologyKey\":\"zone\"," HARD "," WEB, two),
	       "2201");
	expect(prepare("api", NULL, "\"maxSkew\":2,\"topologyKey\":\"zone\"," HARD "," WEB, two),
	       "0001");
	/* w3 on n3: a 2, b 1, fewest 1: b 1 + 1 - 1 fits, a 2 + 1 - 1 does not */
	expect(prepare("web", NULL, "\"maxSkew\":1,\"topologyKey\":\"zone\"," HARD "," WEB, three),
	       "2201");
	/* minDomains 3 with 2 zones: the fewest counts as 0, so b 1 + 1 - 0 > 1 */
	expect(prepare("web", NULL,
		       "\"maxSkew\":1,\"minDomains\":3,\"topologyKey\":\"zone\"," HARD "," WEB,
		       three),
	       "2221");
	/* ScheduleAnyway does not filter */
	expect(prepare("web", NULL,
		       "\"maxSkew\":1,\"topologyKey\":\"zone\",\"whenUnsatisfiable\":"
		       "\"ScheduleAnyway\"," WEB,
		       two),
	       "0000");
}

/* nodeAffinityPolicy: with Honor (the default) only zone a's nodes count for a pod selecting it. */
static void test_policies(void **state)
{
	const int two[] = {0, 1, -1};

	(void)state;
	/* Honor: one domain, a 2: 2 + 1 - 2 fits */
	expect(prepare("web", "{\"zone\":\"a\"}",
		       "\"maxSkew\":1,\"topologyKey\":\"zone\"," HARD "," WEB, two),
	       "0001");
	expect(prepare("web", "{\"zone\":\"a\"}",
		       "\"maxSkew\":1,\"topologyKey\":\"zone\",\"nodeAffinityPolicy\":\"Ignore\","
		       HARD "," WEB,
		       two),
	       "2201");
}

/* Pods of another namespace, and pods being deleted, do not count. */
static void test_which_pods(void **state)
{
	struct llmo_sched_spread *sp = NULL;
	struct llmo_error err = {0};
	json_t *pod = load("{\"metadata\":{\"namespace\":\"default\",\"labels\":{\"app\":\"web\"}},"
			   "\"spec\":{\"topologySpreadConstraints\":[{\"maxSkew\":1,"
			   "\"topologyKey\":\"zone\"," HARD "," WEB "}]}}");
	json_t *other = load("{\"metadata\":{\"name\":\"o\",\"namespace\":\"prod\",\"labels\":"
			     "{\"app\":\"web\"}}}");
	json_t *going = load("{\"metadata\":{\"name\":\"g\",\"namespace\":\"default\","
			     "\"deletionTimestamp\":\"2026-01-01T00:00:00Z\",\"labels\":{\"app\":"
			     "\"web\"}}}");

	(void)state;
	assert_int_equal(llmo_sched_spread_new(pod, &sp, &err), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(llmo_sched_spread_add_node(sp, nodes[i]), 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(llmo_sched_spread_add_pod(sp, other, nodes[0]), 0);
		assert_int_equal(llmo_sched_spread_add_pod(sp, going, nodes[0]), 0);
	}
	llmo_sched_spread_done(sp);
	expect(sp, "0001");
	json_decref(pod);
	json_decref(other);
	json_decref(going);
}

/*
 * ScheduleAnyway by zone, a 2, b 0: raw a 2 * log(4) = 2.77 -> 3, b 0; n4
 * (no zone) is ignored. Normalised 100 * (3 + 0 - raw) / 3: a 0, b 100, n4 0.
 */
static void test_score(void **state)
{
	const int two[] = {0, 1, -1};
	struct llmo_sched_spread *sp;
	double out[4];

	(void)state;
	sp = prepare("web", NULL,
		     "\"maxSkew\":1,\"topologyKey\":\"zone\",\"whenUnsatisfiable\":"
		     "\"ScheduleAnyway\"," WEB,
		     two);
	assert_true(llmo_sched_spread_scores(sp));
	assert_true(llmo_sched_spread_score(sp, nodes, 4, out));
	assert_true(out[0] == 0 && out[1] == 0 && out[2] == 100 && out[3] == 0);
	llmo_sched_spread_free(sp);
	/* DoNotSchedule alone does not score */
	sp = prepare("web", NULL, "\"maxSkew\":1,\"topologyKey\":\"zone\"," HARD "," WEB, two);
	assert_false(llmo_sched_spread_scores(sp));
	assert_false(llmo_sched_spread_score(sp, nodes, 4, out));
	llmo_sched_spread_free(sp);
}

static void expect_invalid(const char *constraint, const char *want)
{
	struct llmo_sched_spread *sp = NULL;
	struct llmo_error err = {0};
	char text[512];
	json_t *pod;

	snprintf(text, sizeof(text), "{\"spec\":{\"topologySpreadConstraints\":[%s]}}",
		 constraint);
	pod = load(text);
	assert_int_equal(llmo_sched_spread_new(pod, &sp, &err), LLMO_EINVAL);
	assert_null(sp);
	if (!strstr(err.msg, want))
		fail_msg("message \"%s\" lacks \"%s\"", err.msg, want);
	json_decref(pod);
}

static void test_invalid(void **state)
{
	(void)state;
	expect_invalid("{\"maxSkew\":0,\"topologyKey\":\"zone\"," HARD "}",
		       "spec.topologySpreadConstraints[0].maxSkew: must be greater than zero");
	expect_invalid("{\"maxSkew\":1," HARD "}",
		       "[0].topologyKey: Required value");
	expect_invalid("{\"maxSkew\":1,\"topologyKey\":\"zone\",\"whenUnsatisfiable\":\"Maybe\"}",
		       "[0].whenUnsatisfiable: Unsupported value");
	expect_invalid("{\"maxSkew\":1,\"minDomains\":2,\"topologyKey\":\"zone\","
		       "\"whenUnsatisfiable\":\"ScheduleAnyway\"}",
		       "[0].minDomains: can only be used with whenUnsatisfiable DoNotSchedule");
	expect_invalid("{\"maxSkew\":1,\"topologyKey\":\"zone\"," HARD ",\"labelSelector\":"
		       "{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"Near\"}]}}",
		       "[0].labelSelector.matchExpressions[0]");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_skew),
		cmocka_unit_test(test_policies),
		cmocka_unit_test(test_which_pods),
		cmocka_unit_test(test_score),
		cmocka_unit_test(test_invalid),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
