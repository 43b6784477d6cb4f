/*
 * GPU topology (src/scheduler/topology.h) on hand-made nodes: reading the
 * gpu-devices entries, and picking whole GPUs of the fewest domains, every
 * expected pick worked out in the comments.
 */
#include "base/common.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "scheduler/topology.h"

/* The topology of a gpu-devices annotation text (a JSON array). */
static void read_text(const char *text, struct llmo_sched_topology *t)
{
	json_t *arr = json_loads(text, 0, NULL);

	assert_non_null(arr);
	llmo_sched_topology_read(arr, t);
	json_decref(arr);
}

/* An 8-GPU node of two NVLink domains: GPUs 0-3 in 0, 4-7 in 1. */
static const char *const eight =
	"[{\"uuid\":\"u0\",\"nvlinkDomain\":0,\"numaNode\":0},"
	"{\"uuid\":\"u1\",\"nvlinkDomain\":0,\"numaNode\":0},"
	"{\"uuid\":\"u2\",\"nvlinkDomain\":0,\"numaNode\":0},"
	"{\"uuid\":\"u3\",\"nvlinkDomain\":0,\"numaNode\":0},"
	"{\"uuid\":\"u4\",\"nvlinkDomain\":1,\"numaNode\":1},"
	"{\"uuid\":\"u5\",\"nvlinkDomain\":1,\"numaNode\":1},"
	"{\"uuid\":\"u6\",\"nvlinkDomain\":1,\"numaNode\":1},"
	"{\"uuid\":\"u7\",\"nvlinkDomain\":1,\"numaNode\":1}]";

static void test_read(void **state)
{
	struct llmo_sched_topology t;

	(void)state;
	read_text(eight, &t);
	assert_true(t.known);
	assert_int_equal(t.ngpus, 8);
	assert_int_equal(t.domain[3], 0);
	assert_int_equal(t.domain[4], 1);

	/* NUMA only: the numaNode is the domain */
	read_text("[{\"uuid\":\"a\",\"numaNode\":1},{\"uuid\":\"b\",\"numaNode\":0}]", &t);
	assert_true(t.known);
	assert_int_equal(t.domain[0], 1);
	assert_int_equal(t.domain[1], 0);

	/* NVLink wins over NUMA; a GPU without it is alone; an entry without uuid is no GPU */
	read_text("[{\"uuid\":\"a\",\"nvlinkDomain\":5,\"numaNode\":0},{\"name\":\"x\"},"
		  "{\"uuid\":\"b\",\"numaNode\":0},{\"uuid\":\"c\",\"nvlinkDomain\":5}]", &t);
	assert_true(t.known);
	assert_int_equal(t.ngpus, 3);
	assert_int_equal(t.domain[0], 5);
	assert_int_equal(t.domain[2], 5);
	assert_true(t.domain[1] != 5);

	/* no fields, bad values (negative, text): no topology */
	read_text("[{\"uuid\":\"a\",\"nvlinkDomain\":-1},{\"uuid\":\"b\",\"numaNode\":\"0\"}]", &t);
	assert_false(t.known);
	assert_int_equal(t.ngpus, 2);
	llmo_sched_topology_read(NULL, &t);
	assert_false(t.known);
	assert_int_equal(t.ngpus, 0);
}

/* Picks k GPUs where free lists the free ones (-1 ends); the domains spanned. */
static int pick(const struct llmo_sched_topology *t, const int *free_gpus, int k, uint8_t *out)
{
	bool is_free[LLMO_SCHED_NODE_GPUS_MAX] = {false};

	for (const int *f = free_gpus; *f >= 0; f++)
		is_free[*f] = true;
	return llmo_sched_topology_pick(t, is_free, k, out);
}

static void test_pick(void **state)
{
	struct llmo_sched_topology t;
	uint8_t g[LLMO_SCHED_POD_GPUS_MAX];

	(void)state;
	read_text(eight, &t);

	/*
	 * Free 3 | 4 5 6: two GPUs. The lowest-numbered (3, 4) would span both
	 * domains; domain 1 holds two: 4, 5.
	 */
	assert_int_equal(pick(&t, (const int[]){3, 4, 5, 6, -1}, 2, g), 1);
	assert_int_equal(g[0], 4);
	assert_int_equal(g[1], 5);

	/*
	 * Free 2 3 | 4 5 6 7: two GPUs fit in either domain; the smaller one
	 * (2 free) is taken, keeping domain 1's four whole for a 4-GPU pod.
	 */
	assert_int_equal(pick(&t, (const int[]){2, 3, 4, 5, 6, 7, -1}, 2, g), 1);
	assert_int_equal(g[0], 2);
	assert_int_equal(g[1], 3);
	/* four: only domain 1 */
	assert_int_equal(pick(&t, (const int[]){2, 3, 4, 5, 6, 7, -1}, 4, g), 1);
	assert_int_equal(g[0], 4);
	assert_int_equal(g[3], 7);
	/* five: domain 1 whole (the largest), then one of domain 0, its lowest */
	assert_int_equal(pick(&t, (const int[]){2, 3, 4, 5, 6, 7, -1}, 5, g), 2);
	assert_int_equal(g[0], 2);
	assert_int_equal(g[1], 4);
	assert_int_equal(g[4], 7);

	/* equal domains (two free each): the one with the lowest GPU */
	assert_int_equal(pick(&t, (const int[]){0, 1, 6, 7, -1}, 2, g), 1);
	assert_int_equal(g[0], 0);
	assert_int_equal(g[1], 1);

	/* too few free GPUs */
	assert_int_equal(pick(&t, (const int[]){0, 7, -1}, 3, g), 0);
	/* k out of range */
	assert_int_equal(pick(&t, (const int[]){0, 1, -1}, 0, g), 0);
	assert_int_equal(pick(&t, (const int[]){0, 1, -1}, LLMO_SCHED_POD_GPUS_MAX + 1, g), 0);

	/* GPUs alone (no field) are a domain each: 2 GPUs of 3 alone span 2 */
	read_text("[{\"uuid\":\"a\"},{\"uuid\":\"b\"},{\"uuid\":\"c\",\"numaNode\":0}]", &t);
	assert_int_equal(pick(&t, (const int[]){0, 1, 2, -1}, 2, g), 2);
	assert_int_equal(g[0], 0);
	assert_int_equal(g[1], 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read),
		cmocka_unit_test(test_pick),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
