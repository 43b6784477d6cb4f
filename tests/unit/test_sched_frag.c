/*
 * Fragmentation (src/scheduler/frag.h) on hand-made nodes, with every
 * expected value worked out in the comments, and the target workload built
 * from pods (popularity, the coverage cut, the CPU and memory ratios).
 */
#include "base/common.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "scheduler/frag.h"

static struct llmo_sched_pod pod(int64_t cpu, int64_t mem, int num, int milli)
{
	struct llmo_sched_pod p = {cpu, mem, num, milli, LLMO_SCHED_MODELS_ANY};

	return p;
}

/* A node with 4 GPUs left [1000, 300, 0, 800] (2100 in all) and 8 CPUs free. */
static void make_node(struct llmo_sched_cluster *c)
{
	static const int left[] = {1000, 300, 0, 800};
	struct llmo_sched_node *n;

	llmo_sched_cluster_init(c);
	assert_int_equal(llmo_sched_cluster_add_node(c, "n", 16000, 65536, 4, "T4", NULL), 0);
	n = &c->nodes.items[0];
	n->cpu_left = 8000;
	n->gpu_free = 1;
	n->gpu_left_total = 2100;
	memcpy(n->gpu_left, left, sizeof(left));
}

static void test_frag_task(void **state)
{
	struct llmo_sched_cluster c;
	const struct llmo_sched_node *n;
	struct llmo_sched_pod m;

	make_node(&c);
	n = &c.nodes.items[0];
	/* A 500m share fits on the 1000 and 800 GPUs; the 300 and 0 left are lost to it. */
	m = pod(4000, 0, 1, 500);
	assert_int_equal(llmo_sched_frag_task(n, &m), 300);
	/* A 250m share uses all but the empty GPU: nothing lost. */
	m = pod(4000, 0, 1, 250);
	assert_int_equal(llmo_sched_frag_task(n, &m), 0);
	/* One whole GPU fits on GPU 0; the partial ones (300 + 800) are lost to it. */
	m = pod(4000, 0, 1, 1000);
	assert_int_equal(llmo_sched_frag_task(n, &m), 1100);
	/* Two whole GPUs do not fit at all: all 2100 left is lost to them. */
	m = pod(4000, 0, 2, 1000);
	assert_int_equal(llmo_sched_frag_task(n, &m), 2100);
	/* Nor does a share asking for more CPU than is free. */
	m = pod(8001, 0, 1, 500);
	assert_int_equal(llmo_sched_frag_task(n, &m), 2100);
	/* Nor a task of another model. */
	m = pod(1000, 0, 1, 500);
	m.models = 0;
	assert_int_equal(llmo_sched_frag_task(n, &m), 2100);
	/* A task without GPUs uses none of it. */
	m = pod(1000, 0, 0, 0);
	assert_int_equal(llmo_sched_frag_task(n, &m), 2100);
	/* Memory counts when the type carries it. */
	m = pod(1000, 65537, 1, 500);
	assert_int_equal(llmo_sched_frag_task(n, &m), 2100);
	llmo_sched_cluster_release(&c);
}

static void test_frag_node(void **state)
{
	struct llmo_sched_workload w;
	struct llmo_sched_task_type *t;
	struct llmo_sched_cluster c;

	make_node(&c);
	llmo_sched_workload_init(&w);
	t = llmo_vec_push(&w.types);
	t->shape = pod(4000, 0, 1, 500);
	t->popularity = 0.5;
	t = llmo_vec_push(&w.types);
	t->shape = pod(4000, 0, 1, 1000);
	t->popularity = 0.25;
	t = llmo_vec_push(&w.types);
	t->shape = pod(4000, 0, 2, 1000);
	t->popularity = 0.25;
	/* 0.5 * 300 + 0.25 * 1100 + 0.25 * 2100 = 150 + 275 + 525 = 950 */
	assert_float_equal(llmo_sched_frag_node(&c.nodes.items[0], &w), 950.0, 1e-9);
	assert_float_equal(llmo_sched_frag_cluster(&c, &w), 950.0, 1e-9);
	/* A node with no GPU left has nothing to fragment. */
	c.nodes.items[0].gpu_left_total = 0;
	memset(c.nodes.items[0].gpu_left, 0, sizeof(c.nodes.items[0].gpu_left));
	assert_float_equal(llmo_sched_frag_node(&c.nodes.items[0], &w), 0.0, 1e-9);
	llmo_sched_workload_release(&w);
	llmo_sched_cluster_release(&c);
}

static void test_workload_build(void **state)
{
	struct llmo_sched_pod pods[10];
	struct llmo_sched_workload_opts o;
	struct llmo_sched_workload w;
	struct llmo_error err = {0};
	size_t i = 0;

	/* 5 whole GPUs, 3 shares, 1 pod without GPU, 1 with eight GPUs. */
	for (int k = 0; k < 5; k++)
		pods[i++] = pod(8000, 100 + k, 1, 1000);
	for (int k = 0; k < 3; k++)
		pods[i++] = pod(4000, 50, 1, 500);
	pods[i++] = pod(2000, 10, 0, 0);
	pods[i++] = pod(64000, 1000, 8, 1000);

	llmo_sched_workload_opts_paper(&o);
	llmo_sched_workload_init(&w);
	/* 95% of 10 tasks is 9.5: the two most popular cover 8, the third 9, all four 10. */
	assert_int_equal(llmo_sched_workload_build(&w, pods, i, &o, &err), 0);
	assert_int_equal(w.types.len, 4);
	assert_int_equal(w.types.items[0].shape.gpu_milli, 1000);
	assert_int_equal(w.types.items[0].shape.mem, 0); /* memory is not part of the shape */
	assert_int_equal(w.types.items[0].count, 5);
	assert_float_equal(w.types.items[0].popularity, 0.5, 1e-12);
	assert_float_equal(w.types.items[1].popularity, 0.3, 1e-12);
	/* Equal counts: more CPU first, so the eight-GPU type before the CPU one. */
	assert_int_equal(w.types.items[2].shape.num_gpu, 8);
	assert_int_equal(w.types.items[3].shape.num_gpu, 0);
	/* GPU pods ask for (5*8000 + 3*4000 + 64000) milli-CPU per (5000 + 1500 + 8000) milli-GPU. */
	assert_float_equal(w.cpu_per_gpu, 116000.0 / 14500.0, 1e-12);
	assert_float_equal(w.mem_per_gpu, (100 + 101 + 102 + 103 + 104 + 150 + 1000) / 14500.0,
			   1e-12);
	llmo_sched_workload_release(&w);

	/* 80%: the two most popular (8 of 10) are enough, renormalised to 5/8 and 3/8. */
	o.coverage = 0.8;
	llmo_sched_workload_init(&w);
	assert_int_equal(llmo_sched_workload_build(&w, pods, i, &o, &err), 0);
	assert_int_equal(w.types.len, 2);
	assert_float_equal(w.types.items[0].popularity, 0.625, 1e-12);
	assert_float_equal(w.types.items[1].popularity, 0.375, 1e-12);
	llmo_sched_workload_release(&w);

	/* With memory, the five whole-GPU pods are five shapes. */
	o.coverage = 1;
	o.with_memory = true;
	o.with_cpu_tasks = false;
	llmo_sched_workload_init(&w);
	assert_int_equal(llmo_sched_workload_build(&w, pods, i, &o, &err), 0);
	assert_int_equal(w.types.len, 7);
	assert_int_equal(w.types.items[0].count, 3);
	llmo_sched_workload_release(&w);

	/* Nothing to count. */
	llmo_sched_workload_init(&w);
	assert_int_equal(llmo_sched_workload_build(&w, &pods[8], 1, &o, &err), LLMO_EINVAL);
	o.coverage = 0;
	assert_int_equal(llmo_sched_workload_build(&w, pods, i, &o, &err), LLMO_EINVAL);
	assert_int_equal(w.types.len, 0);
	llmo_sched_workload_release(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frag_task),
		cmocka_unit_test(test_frag_node),
		cmocka_unit_test(test_workload_build),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
