/*
 * The rebalancer's decision (controller/rebalance.h) on hand-built nodes
 * and pods, each expectation computed by hand in the comments: thresholds
 * scaleUpThreshold 0.8 (hot above it) and resourceUtilizationTarget 0.8.
 * Nodes are 4000m / 1000 bytes unless said; a node's use is the larger of
 * its cpu and memory fractions.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/common.h"

#include "controller/rebalance.h"

static const struct llmo__rb_params P = {.hot = 0.8, .target = 0.8};

static struct llmo__rb_node node(const char *name, int64_t cpu, int64_t mem)
{
	return (struct llmo__rb_node){.name = name, .ready = true, .has_usage = true,
				      .alloc = {4000, 1000, 0}, .used_cpu = cpu,
				      .used_memory = mem};
}

static struct llmo__rb_pod pod(const char *name, size_t on, int64_t req_cpu, int64_t cpu,
			       int64_t mem)
{
	return (struct llmo__rb_pod){.name = name, .workload = "ns/w", .node = on,
				     .movable = true, .has_usage = true,
				     .req = {req_cpu, 100, 0}, .used_cpu = cpu,
				     .used_memory = mem};
}

#define PICK(nodes, pods, out) \
	llmo__rebalance_pick(nodes, LLMO_ARRAY_LEN(nodes), pods, LLMO_ARRAY_LEN(pods), &P, out)

/*
 * A at 3800m (0.95) is hot; B at 1000m (0.25). Moving p1 (400m) leaves A at
 * 3400/4000 = 0.85, B at 1400/4000 = 0.35; p2 (1200m): A 2600 -> 0.65, B
 * 2200 -> 0.55; p3 (2000m): A 1800 -> 0.45 but B 3000 -> 0.75, which is not
 * below A's 0.45 (ping-pong), so p3 may not go though it would bring A
 * lowest. p2 it is.
 */
static void test_largest_move_that_fits_without_ping_pong(void **state)
{
	struct llmo__rb_node nodes[] = {node("a", 3800, 500), node("b", 1000, 200)};
	struct llmo__rb_pod pods[] = {pod("p1", 0, 500, 400, 50), pod("p2", 0, 1000, 1200, 50),
				      pod("p3", 0, 1000, 2000, 50)};
	struct llmo__rb_pick pk;

	(void)state;
	assert_true(PICK(nodes, pods, &pk));
	assert_int_equal(pk.pod, 1);
	assert_int_equal(pk.to, 1);
	assert_true(pk.from_before > 0.9499 && pk.from_before < 0.9501);
	assert_true(pk.from_after > 0.6499 && pk.from_after < 0.6501);
	assert_true(pk.to_after > 0.5499 && pk.to_after < 0.5501);
}

/*
 * The target's projected use must stay below the utilisation target: B at
 * 2000m; p2 (1200m) would take it to 3200/4000 = 0.8, not below 0.8; p1
 * (400m) to 2400 -> 0.6, below A's 3400 -> 0.85. p1 goes.
 */
static void test_target_stays_under_utilization_target(void **state)
{
	struct llmo__rb_node nodes[] = {node("a", 3800, 500), node("b", 2000, 200)};
	struct llmo__rb_pod pods[] = {pod("p1", 0, 500, 400, 50), pod("p2", 0, 1000, 1200, 50)};
	struct llmo__rb_pick pk;

	(void)state;
	assert_true(PICK(nodes, pods, &pk));
	assert_int_equal(pk.pod, 0);
	/* memory counts too: B's memory at 760 + p1's 50 = 0.81 */
	nodes[1].used_memory = 760;
	assert_false(PICK(nodes, pods, &pk));
}

/*
 * Requests must fit what the target's allocatable leaves: B has 3600m of
 * 4000m requested, so neither p1 (500m) nor p2 (1000m) fits there; C (8000m,
 * nothing requested, idle) takes p2: A -> 0.65, C 1200/8000 = 0.15. GPUs
 * too: with p2 asking a GPU, C needs one free.
 */
static void test_requests_must_fit(void **state)
{
	struct llmo__rb_node nodes[] = {node("a", 3800, 500), node("b", 1000, 200),
					node("c", 0, 0)};
	struct llmo__rb_pod pods[] = {pod("p1", 0, 500, 400, 50), pod("p2", 0, 1000, 1200, 50)};
	struct llmo__rb_pick pk;

	(void)state;
	nodes[1].requested[LLMO__RB_CPU] = 3600;
	nodes[2].alloc[LLMO__RB_CPU] = 8000;
	assert_true(PICK(nodes, pods, &pk));
	assert_int_equal(pk.pod, 1);
	assert_int_equal(pk.to, 2);
	assert_true(pk.to_after > 0.1499 && pk.to_after < 0.1501);

	pods[1].req[LLMO__RB_GPU] = 1000;
	nodes[2].alloc[LLMO__RB_GPU] = 1000;
	nodes[2].requested[LLMO__RB_GPU] = 1000;
	assert_true(PICK(nodes, pods, &pk));
	assert_int_equal(pk.pod, 0); /* p1 to C: A 3400 -> 0.85, C 400/8000 */
	assert_int_equal(pk.to, 2);
	nodes[2].requested[LLMO__RB_GPU] = 0;
	assert_true(PICK(nodes, pods, &pk));
	assert_int_equal(pk.pod, 1);
}

/*
 * Of two targets, the one least used after the move: p2 leaves A at 0.65;
 * C at 1300m goes to 2500 -> 0.625, B to 2200 -> 0.55. B.
 */
static void test_least_used_target(void **state)
{
	struct llmo__rb_node nodes[] = {node("a", 3800, 500), node("c", 1300, 200),
					node("b", 1000, 200)};
	struct llmo__rb_pod pods[] = {pod("p2", 0, 1000, 1200, 50)};
	struct llmo__rb_pick pk;

	(void)state;
	assert_true(PICK(nodes, pods, &pk));
	assert_int_equal(pk.to, 2);
}

/*
 * Nothing moves: A at exactly 0.8 is not above the threshold; then hot, but
 * its pod is draining (not movable), of a workload moved within the
 * interval, or without usage; a target not Ready or without usage takes
 * nothing.
 */
static void test_nothing_to_do(void **state)
{
	struct llmo__rb_node nodes[] = {node("a", 3200, 500), node("b", 1000, 200)};
	struct llmo__rb_pod pods[] = {pod("p1", 0, 500, 400, 50)};
	struct llmo__rb_pick pk;

	(void)state;
	assert_false(PICK(nodes, pods, &pk));
	nodes[0].used_cpu = 3800;
	assert_true(PICK(nodes, pods, &pk));
	pods[0].movable = false;
	assert_false(PICK(nodes, pods, &pk));
	pods[0].movable = true;
	pods[0].recent = true;
	assert_false(PICK(nodes, pods, &pk));
	pods[0].recent = false;
	pods[0].has_usage = false;
	assert_false(PICK(nodes, pods, &pk));
	pods[0].has_usage = true;
	nodes[1].ready = false;
	assert_false(PICK(nodes, pods, &pk));
	nodes[1].ready = true;
	nodes[1].has_usage = false;
	assert_false(PICK(nodes, pods, &pk));
}

/*
 * Memory alone makes a node hot (A: cpu 0.1, memory 900/1000 = 0.9); the
 * hottest node comes first, but one with nothing movable is passed over:
 * D at 0.99 has only a draining pod, so A's p1 (memory 300) goes to B:
 * A -> max(0.075, 0.6) = 0.6, B -> max(0.25+0.025, 0.5) = 0.5.
 */
static void test_hottest_node_with_a_move(void **state)
{
	struct llmo__rb_node nodes[] = {node("a", 400, 900), node("b", 1000, 200),
					node("d", 3960, 100)};
	struct llmo__rb_pod pods[] = {pod("p1", 0, 500, 100, 300), pod("q", 2, 500, 2000, 50)};
	struct llmo__rb_pick pk;

	(void)state;
	pods[1].movable = false;
	assert_true(PICK(nodes, pods, &pk));
	assert_int_equal(pk.pod, 0);
	assert_int_equal(pk.to, 1);
	assert_true(pk.from_after > 0.5999 && pk.from_after < 0.6001);
	assert_true(pk.to_after > 0.4999 && pk.to_after < 0.5001);
	/* movable, q leaves D first: D 1960 -> 0.49, B 3000 -> 0.75 is not below: ping-pong;
	 * so D has no move and A's still goes */
	pods[1].movable = true;
	assert_true(PICK(nodes, pods, &pk));
	assert_int_equal(pk.pod, 0);
	/* q smaller (1000m): D 2960 -> 0.74, B 2000 -> 0.5: D's move wins */
	pods[1].used_cpu = 1000;
	assert_true(PICK(nodes, pods, &pk));
	assert_int_equal(pk.pod, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_largest_move_that_fits_without_ping_pong),
		cmocka_unit_test(test_target_stays_under_utilization_target),
		cmocka_unit_test(test_requests_must_fit),
		cmocka_unit_test(test_least_used_target),
		cmocka_unit_test(test_nothing_to_do),
		cmocka_unit_test(test_hottest_node_with_a_move),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
