/*
 * Victim selection on one node (src/scheduler/preempt.h), with hand-made
 * nodes: the smallest set, its tie-breaks (lower priorities, less GPU
 * freed), CPU as well as GPUs, workload budgets (minReplicas), nothing to do
 * when the pod fits, no answer when no set works, and the greedy fallback.
 *
 * The node of most cases: 4 GPUs all in use, 1000m CPU left:
 *   v0  GPU 0 whole          priority 10   500m CPU
 *   v1  GPUs 1, 2 whole      priority 10  1500m CPU
 *   v2  half of GPU 3        priority 10
 *   v3  half of GPU 3        priority 50
 */
#include "base/common.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "scheduler/preempt.h"

static struct llmo_sched_node node4(void)
{
	struct llmo_sched_node n = {0};

	n.cpu_cap = n.cpu_left = 1000;
	n.mem_cap = n.mem_left = 1 << 20;
	n.ngpus = 4;
	n.model = 0;
	return n; /* every GPU used: gpu_left 0 */
}

static void victims(struct llmo_sched_victim v[4])
{
	memset(v, 0, 4 * sizeof(*v));
	v[0].gpu[0] = 1000;
	v[0].cpu = 500;
	v[0].priority = 10;
	v[0].group = -1;
	v[1].gpu[1] = v[1].gpu[2] = 1000;
	v[1].cpu = 1500;
	v[1].priority = 10;
	v[1].group = -1;
	v[2].gpu[3] = 500;
	v[2].priority = 10;
	v[2].group = -1;
	v[3].gpu[3] = 500;
	v[3].priority = 50;
	v[3].group = -1;
}

static struct llmo_sched_pod gpus(int64_t cpu, int num, int milli)
{
	struct llmo_sched_pod p = {cpu, 0, num, milli, LLMO_SCHED_MODELS_ANY};

	return p;
}

static void test_smallest_set(void **state)
{
	struct llmo_sched_node n = node4();
	struct llmo_sched_victim v[4];
	struct llmo_sched_pod p = gpus(0, 2, 1000);
	struct llmo_sched_preemption r;

	(void)state;
	victims(v);
	/* two whole GPUs: v1 alone frees GPUs 1 and 2 */
	assert_true(llmo_sched_preempt_pick(&n, &p, v, 4, NULL, 0, &r));
	assert_int_equal(r.set, 0x2);
	assert_int_equal(r.count, 1);
	assert_int_equal(r.gpu_freed, 2000);
	assert_false(r.greedy);
	/* one whole GPU: v0 and v1 both work alone; v0 frees less GPU */
	p = gpus(0, 1, 1000);
	assert_true(llmo_sched_preempt_pick(&n, &p, v, 4, NULL, 0, &r));
	assert_int_equal(r.set, 0x1);
	assert_int_equal(r.gpu_freed, 1000);
	/* ... unless v0's priority is higher: the lower priority goes first */
	v[0].priority = 20;
	assert_true(llmo_sched_preempt_pick(&n, &p, v, 4, NULL, 0, &r));
	assert_int_equal(r.set, 0x2);
	assert_int_equal(r.max_priority, 10);
	/* CPU counts too: 2000m CPU and a GPU needs v1 (1000 + 1500 CPU), v0 gives 1500 only */
	v[0].priority = 10;
	p = gpus(2000, 1, 1000);
	assert_true(llmo_sched_preempt_pick(&n, &p, v, 4, NULL, 0, &r));
	assert_int_equal(r.set, 0x2);
	/* a share of 600m: GPU 3 must lose both halves (two victims, priorities 10 + 50) */
	p = gpus(0, 1, 600);
	assert_true(llmo_sched_preempt_pick(&n, &p, v + 2, 2, NULL, 0, &r));
	assert_int_equal(r.set, 0x3);
	assert_int_equal(r.count, 2);
	assert_int_equal(r.max_priority, 50);
	assert_int_equal(r.priority_sum, 60);
	/* a share of 500m: one half is enough, the lower-priority one */
	p = gpus(0, 1, 500);
	assert_true(llmo_sched_preempt_pick(&n, &p, v + 2, 2, NULL, 0, &r));
	assert_int_equal(r.set, 0x1);
}

static void test_budgets(void **state)
{
	struct llmo_sched_node n = node4();
	struct llmo_sched_victim v[4];
	struct llmo_sched_pod p = gpus(0, 1, 1000);
	struct llmo_sched_preemption r;
	int budget[1] = {0};

	(void)state;
	victims(v);
	/* v0 and v1 are replicas of one workload that may lose none: GPU 3 goes instead */
	v[0].group = v[1].group = 0;
	assert_true(llmo_sched_preempt_pick(&n, &p, v, 4, budget, 1, &r));
	assert_int_equal(r.set, 0xc);
	/* it may lose one */
	budget[0] = 1;
	assert_true(llmo_sched_preempt_pick(&n, &p, v, 4, budget, 1, &r));
	assert_int_equal(r.set, 0x1);
	/* three whole GPUs: v0 and v1 are over a budget of one, so v1, v2 and v3 */
	p = gpus(0, 3, 1000);
	assert_true(llmo_sched_preempt_pick(&n, &p, v, 4, budget, 1, &r));
	assert_int_equal(r.set, 0xe);
	assert_int_equal(r.count, 3);
	/* with a budget of none, GPU 3 alone is not enough */
	budget[0] = 0;
	assert_false(llmo_sched_preempt_pick(&n, &p, v, 4, budget, 1, &r));
	budget[0] = 2;
	assert_true(llmo_sched_preempt_pick(&n, &p, v, 4, budget, 1, &r));
	assert_int_equal(r.set, 0x3);
}

static void test_nothing_to_do(void **state)
{
	struct llmo_sched_node n = node4();
	struct llmo_sched_victim v[4];
	struct llmo_sched_pod p = gpus(0, 0, 0);
	struct llmo_sched_preemption r;

	(void)state;
	victims(v);
	/* a CPU-only pod fits already */
	p.cpu = 1000;
	assert_false(llmo_sched_preempt_pick(&n, &p, v, 4, NULL, 0, &r));
	/* five GPUs on a four-GPU node: no set works */
	p = gpus(0, 5, 1000);
	assert_false(llmo_sched_preempt_pick(&n, &p, v, 4, NULL, 0, &r));
	/* no victims */
	p = gpus(0, 1, 1000);
	assert_false(llmo_sched_preempt_pick(&n, &p, v, 0, NULL, 0, &r));
}

/*
 * 40 victims of 25m each fill one GPU; a whole GPU needs all of them, past
 * the subsets the exact search tries (40 + 780 + 9880 + 91390 > 20000): the
 * greedy way takes all 40 and can spare none.
 */
static void test_greedy(void **state)
{
	struct llmo_sched_node n = {0};
	struct llmo_sched_victim v[40];
	struct llmo_sched_pod p = gpus(0, 1, 1000);
	struct llmo_sched_preemption r;

	(void)state;
	n.ngpus = 1;
	n.mem_left = 1 << 20;
	memset(v, 0, sizeof(v));
	for (int i = 0; i < 40; i++) {
		v[i].gpu[0] = 25;
		v[i].priority = i;
		v[i].group = -1;
	}
	assert_true(llmo_sched_preempt_pick(&n, &p, v, 40, NULL, 0, &r));
	assert_true(r.greedy);
	assert_int_equal(r.count, 40);
	assert_int_equal(r.set, ((uint64_t)1 << 40) - 1);
	/* with 500m left already, 20 must go: the highest priorities are reprieved first */
	n.gpu_left[0] = 500;
	assert_true(llmo_sched_preempt_pick(&n, &p, v, 40, NULL, 0, &r));
	assert_true(r.greedy);
	assert_int_equal(r.count, 20);
	assert_int_equal(r.set, ((uint64_t)1 << 20) - 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_smallest_set),
		cmocka_unit_test(test_budgets),
		cmocka_unit_test(test_nothing_to_do),
		cmocka_unit_test(test_greedy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
