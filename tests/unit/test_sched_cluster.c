/*
 * The scheduler's resource model (src/scheduler/cluster.h): model names and
 * constraints, pod rules, the fit check for CPU, memory, GPU model, whole
 * GPUs and shares, and apply/undo of placements.
 */
#include "base/common.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "scheduler/cluster.h"

/* A node "n<i>" with the given GPU shares left (whole GPUs are 1000). */
static void add_node(struct llmo_sched_cluster *c, int64_t cpu, int64_t mem, const char *model,
		     int ngpus, const int *left)
{
	struct llmo_error err = {0};
	struct llmo_sched_node *n;
	char name[32];

	snprintf(name, sizeof(name), "n%zu", c->nodes.len);
	assert_int_equal(llmo_sched_cluster_add_node(c, name, cpu, mem, ngpus, model, &err), 0);
	n = &c->nodes.items[c->nodes.len - 1];
	for (int g = 0; left && g < ngpus; g++) {
		n->gpu_free -= left[g] < LLMO_SCHED_MILLI;
		n->gpu_left_total -= LLMO_SCHED_MILLI - left[g];
		c->gpu_left_total -= LLMO_SCHED_MILLI - left[g];
		n->gpu_left[g] = left[g];
	}
}

static struct llmo_sched_pod pod(int64_t cpu, int64_t mem, int num, int milli)
{
	struct llmo_sched_pod p = {cpu, mem, num, milli, LLMO_SCHED_MODELS_ANY};

	return p;
}

static void test_models(void **state)
{
	struct llmo_sched_cluster c;
	struct llmo_error err = {0};
	uint64_t m;
	int idx;

	llmo_sched_cluster_init(&c);
	add_node(&c, 8000, 1024, "V100M16", 1, NULL);
	add_node(&c, 8000, 1024, "V100M32", 1, NULL);
	add_node(&c, 8000, 1024, "V100M16", 1, NULL);
	assert_int_equal(c.nmodels, 2);
	assert_int_equal(c.nodes.items[2].model, 0);
	assert_int_equal(llmo_sched_cluster_model(&c, "V100M32", false, &idx, &err), 0);
	assert_int_equal(idx, 1);
	assert_int_equal(llmo_sched_cluster_model(&c, "A100", false, &idx, &err), LLMO_ENOTFOUND);
	assert_int_equal(llmo_sched_cluster_model(&c, "bad name", true, &idx, &err), LLMO_EINVAL);
	assert_non_null(strstr(err.msg, "\"bad name\""));

	assert_int_equal(llmo_sched_cluster_parse_models(&c, "", &m, &err), 0);
	assert_true(m == LLMO_SCHED_MODELS_ANY);
	assert_int_equal(llmo_sched_cluster_parse_models(&c, "V100M16|V100M32", &m, &err), 0);
	assert_true(m == 3);
	/* A model no node has matches nothing, but is not an error. */
	assert_int_equal(llmo_sched_cluster_parse_models(&c, "A100|V100M32", &m, &err), 0);
	assert_true(m == 2);
	assert_int_equal(llmo_sched_cluster_parse_models(&c, "A100", &m, &err), 0);
	assert_true(m == 0);
	assert_int_equal(llmo_sched_cluster_parse_models(&c, "V100M16||T4", &m, &err), LLMO_EINVAL);
	assert_non_null(strstr(err.msg, "GPU model \"\""));
	assert_int_equal(llmo_sched_cluster_parse_models(&c, "V100M16|", &m, &err), LLMO_EINVAL);
	llmo_sched_cluster_release(&c);
}

static void test_add_node_errors(void **state)
{
	struct llmo_sched_cluster c;
	struct llmo_error err = {0};

	llmo_sched_cluster_init(&c);
	assert_int_equal(llmo_sched_cluster_add_node(&c, "a", -1, 0, 0, NULL, &err), LLMO_EINVAL);
	assert_int_equal(llmo_sched_cluster_add_node(&c, "a", 1, 1, 17, "T4", &err), LLMO_EINVAL);
	assert_string_equal(err.msg, "node a: 17 GPUs, at most 16");
	assert_int_equal(llmo_sched_cluster_add_node(&c, "a", 1, 1, 2, "", &err), LLMO_EINVAL);
	assert_string_equal(err.msg, "node a: GPUs without a model");
	assert_int_equal(llmo_sched_cluster_add_node(&c, "cpu", 1000, 1, 0, NULL, &err), 0);
	assert_int_equal(c.gpu_cap_total, 0);
	assert_int_equal(c.nodes.items[0].model, -1);
	llmo_sched_cluster_release(&c);
}

static void test_pod_check(void **state)
{
	struct llmo_error err = {0};
	struct llmo_sched_pod p;

	p = pod(1000, 10, 0, 0);
	assert_int_equal(llmo_sched_pod_check(&p, &err), 0);
	assert_int_equal(llmo_sched_pod_tag(&p), -1);
	p = pod(1000, 10, 1, 250);
	assert_int_equal(llmo_sched_pod_check(&p, &err), 0);
	assert_true(llmo_sched_pod_is_sharing(&p));
	assert_int_equal(llmo_sched_pod_tag(&p), 0);
	p = pod(1000, 10, 4, 1000);
	assert_int_equal(llmo_sched_pod_check(&p, &err), 0);
	assert_int_equal(llmo_sched_pod_gpu_total(&p), 4000);
	assert_int_equal(llmo_sched_pod_tag(&p), 4);
	p = pod(1000, 10, 2, 500);
	assert_int_equal(llmo_sched_pod_check(&p, &err), LLMO_EINVAL);
	assert_string_equal(err.msg, "gpu_milli 500 with 2 GPUs: several GPUs are whole (1000)");
	p = pod(1000, 10, 0, 10);
	assert_int_equal(llmo_sched_pod_check(&p, &err), LLMO_EINVAL);
	p = pod(1000, 10, 1, 0);
	assert_int_equal(llmo_sched_pod_check(&p, &err), LLMO_EINVAL);
	p = pod(1000, 10, 9, 1000);
	assert_int_equal(llmo_sched_pod_check(&p, &err), LLMO_EINVAL);
	p = pod(-1, 10, 0, 0);
	assert_int_equal(llmo_sched_pod_check(&p, &err), LLMO_EINVAL);
}

static void test_fits(void **state)
{
	static const int half[] = {500, 1000};
	static const int frag[] = {300, 200, 0, 1000};
	struct llmo_sched_cluster c;
	struct llmo_sched_pod p;
	const struct llmo_sched_node *a, *b;
	uint64_t only32;

	llmo_sched_cluster_init(&c);
	add_node(&c, 16000, 65536, "V100M16", 2, half); /* a: [500, 1000] */
	add_node(&c, 16000, 65536, "V100M32", 4, frag); /* b: [300, 200, 0, 1000] */
	a = &c.nodes.items[0];
	b = &c.nodes.items[1];
	assert_int_equal(a->gpu_free, 1);
	assert_int_equal(b->gpu_left_total, 1500);
	assert_int_equal(llmo_sched_node_gpus_with(b, 200), 3);

	/* CPU and memory bound every pod, GPU or not. */
	p = pod(16000, 65536, 0, 0);
	assert_true(llmo_sched_node_fits(a, &p));
	p.cpu = 16001;
	assert_false(llmo_sched_node_fits(a, &p));
	p = pod(1000, 65537, 0, 0);
	assert_false(llmo_sched_node_fits(a, &p));

	/* A share needs one GPU with that much left; whole GPUs must be free. */
	p = pod(1000, 1024, 1, 500);
	assert_true(llmo_sched_node_fits(a, &p));
	p.gpu_milli = 310;
	assert_true(llmo_sched_node_fits(b, &p)); /* on the free GPU */
	p = pod(1000, 1024, 1, 1000);
	assert_true(llmo_sched_node_fits(a, &p));
	assert_true(llmo_sched_node_fits(b, &p));
	p = pod(1000, 1024, 2, 1000);
	assert_false(llmo_sched_node_fits(a, &p)); /* 1.5 GPUs left, one free */
	assert_false(llmo_sched_node_fits(b, &p));

	/* The model constraint. */
	assert_int_equal(llmo_sched_cluster_parse_models(&c, "V100M32", &only32, NULL), 0);
	p = pod(1000, 1024, 1, 100);
	p.models = only32;
	assert_false(llmo_sched_node_fits(a, &p));
	assert_true(llmo_sched_node_fits(b, &p));
	/* ... which does not apply to a pod without GPUs. */
	p = pod(1000, 1024, 0, 0);
	p.models = 0;
	assert_true(llmo_sched_node_fits(a, &p));
	llmo_sched_cluster_release(&c);
}

static void test_apply_undo(void **state)
{
	static const int left[] = {600, 1000, 1000};
	struct llmo_sched_placement pl = {0};
	struct llmo_sched_cluster c;
	struct llmo_error err = {0};
	struct llmo_sched_node *n;
	struct llmo_sched_pod share = pod(2000, 4096, 1, 400);
	struct llmo_sched_pod two = pod(4000, 8192, 2, 1000);
	uint64_t v0;

	llmo_sched_cluster_init(&c);
	add_node(&c, 16000, 32768, "T4", 3, left);
	n = &c.nodes.items[0];
	v0 = n->version;
	assert_int_equal(c.gpu_left_total, 2600);

	pl.node = 0;
	pl.ngpus = 1;
	pl.gpus[0] = 0;
	assert_int_equal(llmo_sched_cluster_apply(&c, &share, &pl, &err), 0);
	assert_int_equal(n->gpu_left[0], 200);
	assert_int_equal(n->cpu_left, 14000);
	assert_int_equal(n->mem_left, 28672);
	assert_int_equal(n->tags[0], 1);
	assert_int_equal(c.gpu_left_total, 2200);
	assert_true(n->version > v0);

	/* The same GPU cannot take it again (200 left), nor a GPU that is not there. */
	assert_int_equal(llmo_sched_cluster_apply(&c, &share, &pl, &err), LLMO_EINVAL);
	pl.gpus[0] = 3;
	assert_false(llmo_sched_placement_valid(&c, &share, &pl));
	pl.node = 1;
	assert_false(llmo_sched_placement_valid(&c, &share, &pl));

	/* Two whole GPUs: distinct and free. */
	pl.node = 0;
	pl.ngpus = 2;
	pl.gpus[0] = 1;
	pl.gpus[1] = 1;
	assert_int_equal(llmo_sched_cluster_apply(&c, &two, &pl, &err), LLMO_EINVAL);
	pl.gpus[1] = 0;
	assert_int_equal(llmo_sched_cluster_apply(&c, &two, &pl, &err), LLMO_EINVAL);
	pl.gpus[1] = 2;
	pl.ngpus = 1;
	assert_int_equal(llmo_sched_cluster_apply(&c, &two, &pl, &err), LLMO_EINVAL);
	pl.ngpus = 2;
	assert_int_equal(llmo_sched_cluster_apply(&c, &two, &pl, &err), 0);
	assert_int_equal(n->gpu_free, 0);
	assert_int_equal(n->gpu_left_total, 200);
	assert_int_equal(n->tags[2], 1);

	/* Undo gives back exactly, once. */
	assert_int_equal(llmo_sched_cluster_undo(&c, &two, &pl, &err), 0);
	assert_int_equal(n->gpu_free, 2);
	assert_int_equal(n->tags[2], 0);
	assert_int_equal(llmo_sched_cluster_undo(&c, &two, &pl, &err), LLMO_EINVAL);
	pl.ngpus = 1;
	pl.gpus[0] = 0;
	assert_int_equal(llmo_sched_cluster_undo(&c, &share, &pl, &err), 0);
	assert_int_equal(n->gpu_left[0], 600);
	assert_int_equal(n->cpu_left, 16000);
	assert_int_equal(n->mem_left, 32768);
	assert_int_equal(c.gpu_left_total, 2600);
	/* More than the pod could have taken: the node's CPU would pass its capacity. */
	assert_int_equal(llmo_sched_cluster_undo(&c, &share, &pl, &err), LLMO_EINVAL);
	assert_int_equal(n->gpu_left[0], 600);
	llmo_sched_cluster_release(&c);
}

/* Use by pods already running: taken from what is left, never below 0. */
static void test_take_used(void **state)
{
	static const int64_t used[] = {500, 0, 1500};
	static const uint32_t tags[LLMO_SCHED_TAGS] = {[0] = 1, [1] = 1};
	struct llmo_sched_cluster c;
	struct llmo_error err = {0};
	struct llmo_sched_node *n;
	struct llmo_sched_pod p;
	uint64_t v0;

	(void)state;
	llmo_sched_cluster_init(&c);
	add_node(&c, 8000, 4096, "A100", 3, NULL);
	n = &c.nodes.items[0];
	v0 = n->version;
	assert_int_equal(llmo_sched_cluster_take_used(&c, 0, 3000, 9999, used, 3, tags, &err), 0);
	assert_int_equal(n->cpu_left, 5000);
	assert_int_equal(n->mem_left, 0);
	assert_int_equal(n->gpu_left[0], 500);
	assert_int_equal(n->gpu_left[1], 1000);
	assert_int_equal(n->gpu_left[2], 0);
	assert_int_equal(n->gpu_free, 1);
	assert_int_equal(n->gpu_left_total, 1500);
	assert_int_equal(c.gpu_left_total, 1500);
	assert_int_equal(n->tags[0], 1);
	assert_true(n->version > v0);
	p = pod(1000, 0, 1, 500);
	assert_true(llmo_sched_node_fits(n, &p));
	p = pod(1000, 0, 2, 1000);
	assert_false(llmo_sched_node_fits(n, &p));

	assert_int_equal(llmo_sched_cluster_take_used(&c, 1, 0, 0, NULL, 0, NULL, &err),
			 LLMO_EINVAL);
	assert_int_equal(llmo_sched_cluster_take_used(&c, 0, 0, 0, used, 2, NULL, &err),
			 LLMO_EINVAL);
	assert_int_equal(llmo_sched_cluster_take_used(&c, 0, -1, 0, used, 3, NULL, &err),
			 LLMO_EINVAL);
	assert_int_equal(n->cpu_left, 5000);
	llmo_sched_cluster_release(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_models),
		cmocka_unit_test(test_add_node_errors),
		cmocka_unit_test(test_pod_check),
		cmocka_unit_test(test_fits),
		cmocka_unit_test(test_apply_undo),
		cmocka_unit_test(test_take_used),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
