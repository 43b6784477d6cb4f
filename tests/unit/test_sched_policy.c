/*
 * The placement policies (src/scheduler/policy.h) on tiny clusters, each
 * expectation worked out by hand in the comments from the formulas in
 * docs/scheduler-policies.md.
 */
#include "base/common.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>

#include "scheduler/policy.h"
#include "scheduler/pool.h"

static struct llmo_sched_pod pod(int64_t cpu, int64_t mem, int num, int milli)
{
	struct llmo_sched_pod p = {cpu, mem, num, milli, LLMO_SCHED_MODELS_ANY};

	return p;
}

/* Adds a node whose GPUs have the given shares left (NULL: all free). */
static void add_node(struct llmo_sched_cluster *c, int64_t cpu, int ngpus, const int *left)
{
	struct llmo_sched_node *n;
	char name[16];

	snprintf(name, sizeof(name), "n%zu", c->nodes.len);
	assert_int_equal(llmo_sched_cluster_add_node(c, name, cpu, 1 << 20, ngpus, "G", NULL), 0);
	n = &c->nodes.items[c->nodes.len - 1];
	for (int g = 0; left && g < ngpus; g++) {
		n->gpu_free -= left[g] < LLMO_SCHED_MILLI;
		n->gpu_left_total -= LLMO_SCHED_MILLI - left[g];
		c->gpu_left_total -= LLMO_SCHED_MILLI - left[g];
		n->gpu_left[g] = left[g];
	}
}

/* Places pod with a policy of kind over c (no cache); returns the node, or -1. */
static long place(enum llmo_sched_policy_kind kind, const struct llmo_sched_workload *w,
		  const struct llmo_sched_cluster *c, const struct llmo_sched_pod *p,
		  struct llmo_sched_placement *pl)
{
	struct llmo_sched_policy pol;
	struct llmo_error err = {0};
	struct llmo_rng rng;
	int rc;

	llmo_rng_seed(&rng, 7);
	assert_int_equal(llmo_sched_policy_init(&pol, kind, w, &err), 0);
	rc = llmo_sched_policy_place(&pol, c, p, -1, &rng, pl);
	llmo_sched_policy_release(&pol);
	if (rc == LLMO_ENOTFOUND)
		return -1;
	assert_int_equal(rc, 0);
	assert_true(llmo_sched_placement_valid(c, p, pl));
	return (long)pl->node;
}

static double score(enum llmo_sched_policy_kind kind, const struct llmo_sched_workload *w,
		    const struct llmo_sched_cluster *c, size_t node, const struct llmo_sched_pod *p)
{
	struct llmo_sched_policy pol;
	double s = NAN;

	assert_int_equal(llmo_sched_policy_init(&pol, kind, w, NULL), 0);
	assert_true(llmo_sched_policy_score(&pol, c, node, p, &s, NULL));
	llmo_sched_policy_release(&pol);
	return s;
}

static void test_rng(void **state)
{
	struct llmo_rng a, b;
	unsigned seen[6] = {0};

	/* The same seed gives the same stream; 0 is a seed like any other. */
	llmo_rng_seed(&a, 0);
	llmo_rng_seed(&b, 0);
	for (int i = 0; i < 100; i++)
		assert_true(llmo_rng_next(&a) == llmo_rng_next(&b));
	llmo_rng_seed(&b, 1);
	assert_true(llmo_rng_next(&a) != llmo_rng_next(&b));
	for (int i = 0; i < 6000; i++) {
		uint64_t x = llmo_rng_below(&a, 6);
		double u = llmo_rng_unit(&a);

		assert_true(x < 6);
		assert_true(u >= 0 && u < 1);
		seen[x]++;
	}
	/* Each face about 1000 times (a 6-sigma band). */
	for (int k = 0; k < 6; k++)
		assert_in_range(seen[k], 830, 1170);
	assert_true(llmo_rng_below(&a, 1) == 0);
	assert_true(llmo_rng_below(&a, 0) == 0);
}

static void test_names(void **state)
{
	static const char *const names[] = {"random",        "bestfit", "dotprod", "gpupacking",
					    "gpuclustering", "fgd",     "llmo"};
	struct llmo_error err = {0};
	enum llmo_sched_policy_kind k;

	for (size_t i = 0; i < LLMO_ARRAY_LEN(names); i++) {
		assert_int_equal(llmo_sched_policy_parse(names[i], &k, &err), 0);
		assert_string_equal(llmo_sched_policy_name(k), names[i]);
	}
	assert_int_equal(llmo_sched_policy_parse("FGD", &k, &err), LLMO_ENOTFOUND);
	assert_non_null(strstr(err.msg, "want random, bestfit"));
	assert_string_equal(llmo_sched_policy_name(LLMO_SCHED_POLICY_COUNT), "?");
	/* FGD and llmo cannot work without a target workload. */
	{
		struct llmo_sched_policy pol;

		assert_int_equal(llmo_sched_policy_init(&pol, LLMO_SCHED_FGD, NULL, &err),
				 LLMO_EINVAL);
		assert_int_equal(llmo_sched_policy_init(&pol, LLMO_SCHED_BESTFIT, NULL, &err), 0);
		llmo_sched_policy_release(&pol);
	}
}

static void test_bestfit(void **state)
{
	struct llmo_sched_placement pl;
	struct llmo_sched_cluster c;
	struct llmo_sched_pod p = pod(4000, 1024, 1, 1000);

	llmo_sched_cluster_init(&c);
	add_node(&c, 64000, 2, NULL); /* roomy */
	add_node(&c, 32000, 1, NULL); /* tight */
	/*
	 * Left after placement, over 128 CPUs and 8 GPUs, weighted 1/2 each:
	 * roomy: 60/128/2 + 1/8/2 = 0.296875 -> (1 - s) * 100 = 70.3 -> 70
	 * tight: 28/128/2 + 0/8/2 = 0.109375 -> 89.06 -> 89
	 */
	assert_float_equal(score(LLMO_SCHED_BESTFIT, NULL, &c, 0, &p), 70, 0);
	assert_float_equal(score(LLMO_SCHED_BESTFIT, NULL, &c, 1, &p), 89, 0);
	assert_int_equal(place(LLMO_SCHED_BESTFIT, NULL, &c, &p, &pl), 1);
	llmo_sched_cluster_release(&c);
}

static void test_dotprod(void **state)
{
	struct llmo_sched_placement pl;
	struct llmo_sched_cluster c;
	struct llmo_sched_pod p = pod(8000, 1024, 1, 1000);

	llmo_sched_cluster_init(&c);
	add_node(&c, 64000, 2, NULL);
	add_node(&c, 16000, 1, NULL);
	/*
	 * Free (64/128, 2/8) . request (8/128, 1/8) = 0.5*0.0625 + 0.25*0.125 = 0.0625,
	 * halved 0.03125: 100 * (1 - 0.03125) = 96.875 -> 96.
	 * Free (16/128, 1/8): 0.125*0.0625 + 0.125*0.125 = 0.0234375, halved
	 * 0.01171875: 98.83 -> 98, the smaller product wins.
	 */
	assert_float_equal(score(LLMO_SCHED_DOTPROD, NULL, &c, 0, &p), 96, 0);
	assert_float_equal(score(LLMO_SCHED_DOTPROD, NULL, &c, 1, &p), 98, 0);
	assert_int_equal(place(LLMO_SCHED_DOTPROD, NULL, &c, &p, &pl), 1);
	llmo_sched_cluster_release(&c);
}

static void test_gpupacking(void **state)
{
	static const int half[] = {500, 1000};
	struct llmo_sched_placement pl;
	struct llmo_sched_cluster c;
	struct llmo_sched_pod share = pod(1000, 1024, 1, 300);
	struct llmo_sched_pod whole = pod(1000, 1024, 1, 1000);

	llmo_sched_cluster_init(&c);
	add_node(&c, 64000, 2, NULL); /* empty */
	add_node(&c, 64000, 2, half); /* one GPU half used */
	/*
	 * Empty node: 100/3 - 2 free GPUs = 31.
	 * Share on the used GPU (500 left, 50%): 100 - 50/10 = 95.
	 */
	assert_float_equal(score(LLMO_SCHED_GPUPACKING, NULL, &c, 0, &share), 31, 0);
	assert_float_equal(score(LLMO_SCHED_GPUPACKING, NULL, &c, 1, &share), 95, 0);
	assert_int_equal(place(LLMO_SCHED_GPUPACKING, NULL, &c, &share, &pl), 1);
	assert_int_equal(pl.gpus[0], 0);
	/* A whole GPU on the used node takes a free GPU there: 100/2 - 1 = 49 > 31. */
	assert_float_equal(score(LLMO_SCHED_GPUPACKING, NULL, &c, 1, &whole), 49, 0);
	assert_int_equal(place(LLMO_SCHED_GPUPACKING, NULL, &c, &whole, &pl), 1);
	assert_int_equal(pl.gpus[0], 1);
	llmo_sched_cluster_release(&c);
}

static void test_gpuclustering(void **state)
{
	static const int some[] = {500, 1000, 1000, 1000, 1000, 1000, 1000, 1000};
	static const int one[] = {0, 1000, 1000, 1000, 1000, 1000, 1000, 1000};
	struct llmo_sched_placement pl;
	struct llmo_sched_cluster c;
	struct llmo_sched_pod share = pod(1000, 1024, 1, 200);

	llmo_sched_cluster_init(&c);
	add_node(&c, 64000, 8, NULL); /* empty */
	add_node(&c, 64000, 8, one);  /* runs a whole-GPU pod */
	add_node(&c, 64000, 8, some); /* runs a sharing pod */
	c.nodes.items[1].tags[1] = 1;
	c.nodes.items[2].tags[0] = 1;
	/*
	 * Within a quarter, 25 * (8000 - GPU left) / 8000, integers:
	 * empty: 25 * 0 / 8000 = 0, + 25 (no GPU pods yet) = 25
	 * whole-GPU node: 25 * 1000 / 8000 = 3, other shapes only: 3
	 * sharing node: 25 * 500 / 8000 = 1, only this shape: + 75 = 76
	 */
	assert_float_equal(score(LLMO_SCHED_GPUCLUSTERING, NULL, &c, 0, &share), 25, 0);
	assert_float_equal(score(LLMO_SCHED_GPUCLUSTERING, NULL, &c, 1, &share), 3, 0);
	assert_float_equal(score(LLMO_SCHED_GPUCLUSTERING, NULL, &c, 2, &share), 76, 0);
	assert_int_equal(place(LLMO_SCHED_GPUCLUSTERING, NULL, &c, &share, &pl), 2);
	/* Both shapes on the node: the middle quarter, 1 + 50. */
	c.nodes.items[2].tags[1] = 1;
	assert_float_equal(score(LLMO_SCHED_GPUCLUSTERING, NULL, &c, 2, &share), 51, 0);
	llmo_sched_cluster_release(&c);
}

static void test_random(void **state)
{
	struct llmo_sched_policy pol;
	struct llmo_sched_placement pl;
	struct llmo_sched_cluster c;
	struct llmo_sched_pod p = pod(8000, 1024, 1, 100);
	unsigned hits[3] = {0};
	struct llmo_rng rng;

	llmo_sched_cluster_init(&c);
	add_node(&c, 16000, 2, NULL);
	add_node(&c, 4000, 2, NULL); /* too little CPU */
	add_node(&c, 16000, 2, NULL);
	llmo_rng_seed(&rng, 1);
	assert_int_equal(llmo_sched_policy_init(&pol, LLMO_SCHED_RANDOM, NULL, NULL), 0);
	for (int i = 0; i < 400; i++) {
		assert_int_equal(llmo_sched_policy_place(&pol, &c, &p, -1, &rng, &pl), 0);
		hits[pl.node]++;
	}
	/* Never the node it does not fit; the other two about equally (each 200 +- 60). */
	assert_int_equal(hits[1], 0);
	assert_in_range(hits[0], 140, 260);
	assert_in_range(hits[2], 140, 260);
	llmo_sched_policy_release(&pol);
	llmo_sched_cluster_release(&c);
}

/* A workload of one 500m share type and one whole-GPU type, equally popular. */
static void half_half(struct llmo_sched_workload *w)
{
	struct llmo_sched_task_type *t;

	llmo_sched_workload_init(w);
	t = llmo_vec_push(&w->types);
	t->shape = pod(0, 0, 1, 500);
	t->popularity = 0.5;
	t = llmo_vec_push(&w->types);
	t->shape = pod(0, 0, 1, 1000);
	t->popularity = 0.5;
}

static void test_fgd(void **state)
{
	static const int used[] = {600, 1000};
	struct llmo_sched_placement pl;
	struct llmo_sched_workload w;
	struct llmo_sched_cluster c;
	struct llmo_sched_pod p = pod(0, 0, 1, 400);

	half_half(&w);
	llmo_sched_cluster_init(&c);
	add_node(&c, 8000, 2, NULL); /* A: [1000, 1000] */
	add_node(&c, 8000, 2, used); /* B: [600, 1000] */
	/*
	 * Fragmentation before: A has none. B: the 600 GPU is lost to the
	 * whole-GPU type, 0.5 * 600 = 300.
	 * The 400m pod on
	 *   A's GPU 0 -> [600, 1000]: 300, a growth of 300;
	 *   B's GPU 0 -> [200, 1000]: 200 is lost to both types, 0.5*200 + 0.5*200 = 200,
	 *                a decrease of 100;
	 *   B's GPU 1 -> [600, 600]: the whole-GPU type fits nowhere, 0.5 * 1200 = 600,
	 *                a growth of 300.
	 * FGD's scores: sigmoid(-0.3) * 100 = 42.6 -> 42, sigmoid(0.1) * 100 = 52.5 -> 52.
	 */
	assert_float_equal(score(LLMO_SCHED_FGD, &w, &c, 0, &p), 42, 0);
	assert_float_equal(score(LLMO_SCHED_FGD, &w, &c, 1, &p), 52, 0);
	assert_int_equal(place(LLMO_SCHED_FGD, &w, &c, &p, &pl), 1);
	assert_int_equal(pl.gpus[0], 0);
	/* llmo agrees here (nothing is short of CPU or memory). */
	assert_int_equal(place(LLMO_SCHED_LLMO, &w, &c, &p, &pl), 1);
	assert_int_equal(pl.gpus[0], 0);
	llmo_sched_cluster_release(&c);
	llmo_sched_workload_release(&w);
}

static void test_fgd_ties(void **state)
{
	struct llmo_sched_policy pol;
	struct llmo_sched_placement pl;
	struct llmo_sched_workload w;
	struct llmo_sched_cluster c;
	struct llmo_sched_pod p = pod(0, 0, 1, 1000);
	struct llmo_rng rng;

	half_half(&w);
	llmo_sched_cluster_init(&c);
	for (int i = 0; i < 4; i++)
		add_node(&c, 8000, 2, NULL);
	/* Four equal nodes: the first in the tie order takes the pod, every time. */
	assert_int_equal(place(LLMO_SCHED_FGD, &w, &c, &p, &pl), 0);
	llmo_rng_seed(&rng, 3);
	assert_int_equal(llmo_sched_policy_init(&pol, LLMO_SCHED_FGD, &w, NULL), 0);
	assert_int_equal(llmo_sched_policy_shuffle_ties(&pol, c.nodes.len, &rng), 0);
	for (int i = 0; i < 5; i++) {
		size_t first = SIZE_MAX;

		assert_int_equal(llmo_sched_policy_place(&pol, &c, &p, -1, &rng, &pl), 0);
		for (size_t k = 0; k < c.nodes.len; k++)
			if (pol.rank[k] == 0)
				first = k;
		assert_int_equal(pl.node, first);
	}
	llmo_sched_policy_release(&pol);
	llmo_sched_cluster_release(&c);
	llmo_sched_workload_release(&w);
}

static void test_llmo_stranding(void **state)
{
	static const int one_used[] = {0, 1000, 1000, 1000};
	struct llmo_sched_placement pl;
	struct llmo_sched_workload w;
	struct llmo_sched_task_type *t;
	struct llmo_sched_cluster c;
	struct llmo_sched_pod cpu_pod = pod(10000, 0, 0, 0);

	/* GPU tasks take one whole GPU and 10 CPUs: 10 milli-CPU per milli-GPU. */
	llmo_sched_workload_init(&w);
	t = llmo_vec_push(&w.types);
	t->shape = pod(10000, 0, 1, 1000);
	t->popularity = 1;
	w.cpu_per_gpu = 10;
	llmo_sched_cluster_init(&c);
	add_node(&c, 40000, 4, one_used);  /* tight: 30 CPUs left for 3 GPUs */
	add_node(&c, 100000, 4, one_used); /* roomy: 90 CPUs left for 3 GPUs */
	c.nodes.items[0].cpu_left = 30000;
	c.nodes.items[1].cpu_left = 90000;
	/*
	 * A pod without GPUs and 10 CPUs. FGD: on either node a GPU task still
	 * fits (20 or 80 CPUs left), fragmentation stays 0, score
	 * sigmoid(0) = 50 on both: the tie goes to the first node, the tight one.
	 * llmo: on the tight node 20 CPUs feed only 2 of its 3 free GPUs, 1000
	 * milli-GPU stranded: sigmoid(-1) * 100 = 26.9 -> 26; the roomy node
	 * still feeds all three: 50.
	 */
	assert_float_equal(score(LLMO_SCHED_FGD, &w, &c, 0, &cpu_pod), 50, 0);
	assert_float_equal(score(LLMO_SCHED_FGD, &w, &c, 1, &cpu_pod), 50, 0);
	assert_int_equal(place(LLMO_SCHED_FGD, &w, &c, &cpu_pod, &pl), 0);
	assert_float_equal(score(LLMO_SCHED_LLMO, &w, &c, 0, &cpu_pod), 26, 0);
	assert_float_equal(score(LLMO_SCHED_LLMO, &w, &c, 1, &cpu_pod), 50, 0);
	assert_int_equal(place(LLMO_SCHED_LLMO, &w, &c, &cpu_pod, &pl), 1);
	/* On a node with no GPU pod yet, stranding is not counted (FGD's measure decides). */
	c.nodes.items[0].gpu_left[0] = 1000;
	c.nodes.items[0].gpu_free = 4;
	c.nodes.items[0].gpu_left_total = 4000;
	c.nodes.items[0].cpu_left = 40000;
	assert_float_equal(score(LLMO_SCHED_LLMO, &w, &c, 0, &cpu_pod), 50, 0);
	llmo_sched_cluster_release(&c);
	llmo_sched_workload_release(&w);
}

static void test_llmo_best_fit_gpu(void **state)
{
	static const int left[] = {1000, 700, 500};
	struct llmo_sched_placement pl;
	struct llmo_sched_workload w;
	struct llmo_sched_task_type *t;
	struct llmo_sched_cluster c;
	struct llmo_sched_pod p = pod(0, 0, 1, 300);

	llmo_sched_workload_init(&w);
	t = llmo_vec_push(&w.types);
	t->shape = pod(0, 0, 1, 1000);
	t->popularity = 1;
	llmo_sched_cluster_init(&c);
	add_node(&c, 8000, 3, left);
	/*
	 * Only whole GPUs in the workload: fragmentation is the partial GPUs,
	 * 700 + 500 = 1200. The 300m pod on
	 *   GPU 0 -> [700, 700, 500]: no whole GPU left, all 1900 lost: -700 -> 33
	 *   GPU 1 -> [1000, 400, 500]: 900, +300 -> sigmoid(0.3) = 57.4 -> 57
	 *   GPU 2 -> [1000, 700, 200]: 900, +300 -> 57
	 * FGD takes the lowest-numbered of the equals, GPU 1; llmo the one
	 * with the least share left, GPU 2 (500).
	 */
	assert_int_equal(place(LLMO_SCHED_FGD, &w, &c, &p, &pl), 0);
	assert_int_equal(pl.gpus[0], 1);
	assert_int_equal(place(LLMO_SCHED_LLMO, &w, &c, &p, &pl), 0);
	assert_int_equal(pl.gpus[0], 2);
	/* The non-FGD baselines take the best-fit GPU too. */
	assert_int_equal(place(LLMO_SCHED_BESTFIT, &w, &c, &p, &pl), 0);
	assert_int_equal(pl.gpus[0], 2);
	llmo_sched_cluster_release(&c);
	llmo_sched_workload_release(&w);
}

static void test_nothing_fits(void **state)
{
	struct llmo_sched_placement pl;
	struct llmo_sched_workload w;
	struct llmo_sched_cluster c;
	struct llmo_sched_pod p = pod(1000, 1024, 2, 1000);

	half_half(&w);
	llmo_sched_cluster_init(&c);
	add_node(&c, 8000, 1, NULL);
	for (int k = 0; k < LLMO_SCHED_POLICY_COUNT; k++)
		assert_int_equal(place((enum llmo_sched_policy_kind)k, &w, &c, &p, &pl), -1);
	llmo_sched_cluster_release(&c);
	llmo_sched_workload_release(&w);
}

/* The cache gives the same decisions as scoring every node every time. */
static void test_cache(void **state)
{
	struct llmo_sched_policy cached, plain;
	struct llmo_sched_workload w;
	struct llmo_sched_cluster c1, c2;
	struct llmo_rng r1, r2;
	struct llmo_sched_pod pods[3] = {pod(1000, 100, 1, 300), pod(2000, 100, 1, 1000),
					  pod(500, 100, 1, 600)};

	half_half(&w);
	llmo_sched_cluster_init(&c1);
	llmo_sched_cluster_init(&c2);
	for (int i = 0; i < 6; i++) {
		add_node(&c1, 8000 + 1000 * i, 2 + i % 3, NULL);
		add_node(&c2, 8000 + 1000 * i, 2 + i % 3, NULL);
	}
	llmo_rng_seed(&r1, 9);
	llmo_rng_seed(&r2, 9);
	assert_int_equal(llmo_sched_policy_init(&cached, LLMO_SCHED_LLMO, &w, NULL), 0);
	assert_int_equal(llmo_sched_policy_init(&plain, LLMO_SCHED_LLMO, &w, NULL), 0);
	assert_int_equal(llmo_sched_policy_enable_cache(&cached, 3, NULL), 0);
	for (int i = 0; i < 40; i++) {
		struct llmo_sched_placement a, b;
		int k = (i * 7) % 3, ra, rb;

		ra = llmo_sched_policy_place(&cached, &c1, &pods[k], k, &r1, &a);
		rb = llmo_sched_policy_place(&plain, &c2, &pods[k], -1, &r2, &b);
		assert_int_equal(ra, rb);
		if (ra)
			continue;
		assert_int_equal(a.node, b.node);
		assert_memory_equal(a.gpus, b.gpus, (size_t)a.ngpus);
		assert_int_equal(llmo_sched_cluster_apply(&c1, &pods[k], &a, NULL), 0);
		assert_int_equal(llmo_sched_cluster_apply(&c2, &pods[k], &b, NULL), 0);
	}
	assert_true(cached.evaluations < plain.evaluations);
	assert_int_equal(llmo_sched_policy_enable_cache(&cached, LLMO_SCHED_CACHE_CLASSES_MAX + 1,
							NULL),
			 LLMO_EINVAL);
	llmo_sched_policy_release(&cached);
	llmo_sched_policy_release(&plain);
	llmo_sched_cluster_release(&c1);
	llmo_sched_cluster_release(&c2);
	llmo_sched_workload_release(&w);
}

/* Builds the same random cluster of n nodes into c1 and c2 (seed rng), some GPUs taken. */
static void random_cluster(struct llmo_sched_cluster *c1, struct llmo_sched_cluster *c2,
			   size_t n, struct llmo_rng *rng)
{
	static const int gpus[] = {0, 1, 2, 4, 8};

	for (size_t i = 0; i < n; i++) {
		int ng = gpus[llmo_rng_below(rng, 5)];
		int64_t cpu = 16000 + 16000 * (int64_t)llmo_rng_below(rng, 6);
		int64_t used_cpu = (int64_t)llmo_rng_below(rng, (uint64_t)cpu / 2);
		int64_t used[LLMO_SCHED_NODE_GPUS_MAX] = {0};
		char name[24];

		for (int g = 0; g < ng; g++)
			used[g] = llmo_rng_below(rng, 3) == 0 ? (int64_t)llmo_rng_below(rng, 1001) : 0;
		snprintf(name, sizeof(name), "r%zu", i);
		assert_int_equal(llmo_sched_cluster_add_node(c1, name, cpu, 1 << 20, ng, ng ? "G" : NULL,
							     NULL), 0);
		assert_int_equal(llmo_sched_cluster_add_node(c2, name, cpu, 1 << 20, ng, ng ? "G" : NULL,
							     NULL), 0);
		assert_int_equal(llmo_sched_cluster_take_used(c1, i, used_cpu, 0, used, ng, NULL, NULL),
				 0);
		assert_int_equal(llmo_sched_cluster_take_used(c2, i, used_cpu, 0, used, ng, NULL, NULL),
				 0);
	}
}

/*
 * Parallel scoring (a pool of 4 threads over 3,000 nodes, above
 * LLMO_SCHED_PARALLEL_MIN_NODES) places every pod of a random sequence
 * where serial scoring does, GPUs included, for every policy, with the
 * tie order shuffled and with and without the class cache; both clusters
 * take each placement, so later decisions see identical states.
 */
static void test_parallel_same(void **state)
{
	static const struct llmo_sched_pod shapes[] = {
		{2000, 1024, 1, 1000, LLMO_SCHED_MODELS_ANY}, {4000, 2048, 2, 1000, LLMO_SCHED_MODELS_ANY},
		{1000, 512, 1, 500, LLMO_SCHED_MODELS_ANY},   {500, 256, 1, 250, LLMO_SCHED_MODELS_ANY},
		{8000, 4096, 8, 1000, LLMO_SCHED_MODELS_ANY}, {3000, 1024, 0, 0, LLMO_SCHED_MODELS_ANY},
		{1000, 512, 4, 1000, LLMO_SCHED_MODELS_ANY},
	};
	const size_t nshapes = sizeof(shapes) / sizeof(shapes[0]);
	struct llmo_sched_pool *pool = NULL;
	struct llmo_sched_workload w;

	(void)state;
	assert_true(3000 >= LLMO_SCHED_PARALLEL_MIN_NODES);
	assert_int_equal(llmo_sched_pool_new(4, &pool), 0);
	assert_int_equal(llmo_sched_pool_threads(pool), 4);
	half_half(&w);
	for (int k = 0; k < LLMO_SCHED_POLICY_COUNT; k++) {
		for (int cached = 0; cached < 2; cached++) {
			struct llmo_sched_policy serial, par;
			struct llmo_sched_cluster c1, c2;
			struct llmo_rng rc, r1, r2, pick;
			size_t placed = 0;

			llmo_sched_cluster_init(&c1);
			llmo_sched_cluster_init(&c2);
			llmo_rng_seed(&rc, 1000 + (uint64_t)k);
			random_cluster(&c1, &c2, 3000, &rc);
			assert_int_equal(llmo_sched_policy_init(&serial, (enum llmo_sched_policy_kind)k,
								&w, NULL), 0);
			assert_int_equal(llmo_sched_policy_init(&par, (enum llmo_sched_policy_kind)k, &w,
								NULL), 0);
			llmo_sched_policy_set_pool(&par, pool);
			llmo_rng_seed(&r1, 5);
			llmo_rng_seed(&r2, 5);
			assert_int_equal(llmo_sched_policy_shuffle_ties(&serial, c1.nodes.len, &r1), 0);
			assert_int_equal(llmo_sched_policy_shuffle_ties(&par, c2.nodes.len, &r2), 0);
			if (cached) {
				assert_int_equal(llmo_sched_policy_enable_cache(&serial, nshapes, NULL), 0);
				assert_int_equal(llmo_sched_policy_enable_cache(&par, nshapes, NULL), 0);
			}
			llmo_rng_seed(&pick, 77);
			for (int i = 0; i < 300; i++) {
				size_t sh = (size_t)llmo_rng_below(&pick, nshapes);
				long cls = cached ? (long)sh : -1;
				struct llmo_sched_placement a, b;
				int ra = llmo_sched_policy_place(&serial, &c1, &shapes[sh], cls, &r1, &a);
				int rb = llmo_sched_policy_place(&par, &c2, &shapes[sh], cls, &r2, &b);

				assert_int_equal(ra, rb);
				if (ra)
					continue;
				if (a.node != b.node)
					fail_msg("policy %s cache %d pod %d: serial node %zu, parallel %zu",
						 llmo_sched_policy_name((enum llmo_sched_policy_kind)k),
						 cached, i, a.node, b.node);
				assert_int_equal(a.ngpus, b.ngpus);
				assert_memory_equal(a.gpus, b.gpus, (size_t)a.ngpus);
				assert_int_equal(llmo_sched_cluster_apply(&c1, &shapes[sh], &a, NULL), 0);
				assert_int_equal(llmo_sched_cluster_apply(&c2, &shapes[sh], &b, NULL), 0);
				placed++;
			}
			/* the sequence placed most pods: the comparison covers real choices */
			assert_true(placed > 250);
			assert_int_equal(serial.evaluations, par.evaluations);
			llmo_sched_policy_release(&serial);
			llmo_sched_policy_release(&par);
			llmo_sched_cluster_release(&c1);
			llmo_sched_cluster_release(&c2);
		}
	}
	llmo_sched_workload_release(&w);
	llmo_sched_pool_free(pool);
}

/* A pool runs a job in fixed parts that together cover the range once. */
struct cover {
	unsigned char *hits;
	size_t parts_seen[LLMO_SCHED_POOL_PARTS_MAX]; /* each written by the one thread running it */
};

static void cover_part(void *ctx, size_t part, size_t lo, size_t hi)
{
	struct cover *c = ctx;

	c->parts_seen[part]++;
	for (size_t i = lo; i < hi; i++)
		c->hits[i]++;
}

static void test_pool(void **state)
{
	struct llmo_sched_pool *pool = NULL;
	struct cover c = {0};
	static unsigned char hits[1001];

	(void)state;
	assert_int_equal(llmo_sched_pool_new(0, &pool), LLMO_EINVAL);
	assert_int_equal(llmo_sched_pool_new(LLMO_SCHED_POOL_MAX + 1, &pool), LLMO_EINVAL);
	assert_true(llmo_sched_pool_default_threads() >= 1 &&
		    llmo_sched_pool_default_threads() <= LLMO_SCHED_POOL_DEFAULT_MAX);
	assert_int_equal(llmo_sched_pool_new(3, &pool), 0);
	c.hits = hits;
	for (int round = 0; round < 50; round++)
		llmo_sched_pool_run(pool, 1001, cover_part, &c);
	for (size_t i = 0; i < 1001; i++)
		assert_int_equal(hits[i], 50);
	assert_int_equal(llmo_sched_pool_parts(pool), 3 * LLMO_SCHED_POOL_CHUNKS_PER_THREAD);
	for (size_t k = 0; k < llmo_sched_pool_parts(pool); k++)
		assert_int_equal(c.parts_seen[k], 50);
	/* fewer items than threads: empty parts are skipped */
	memset(hits, 0, sizeof(hits));
	llmo_sched_pool_run(pool, 2, cover_part, &c);
	assert_int_equal(hits[0] + hits[1], 2);
	llmo_sched_pool_free(pool);
	llmo_sched_pool_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rng),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_bestfit),
		cmocka_unit_test(test_dotprod),
		cmocka_unit_test(test_gpupacking),
		cmocka_unit_test(test_gpuclustering),
		cmocka_unit_test(test_random),
		cmocka_unit_test(test_fgd),
		cmocka_unit_test(test_fgd_ties),
		cmocka_unit_test(test_llmo_stranding),
		cmocka_unit_test(test_llmo_best_fit_gpu),
		cmocka_unit_test(test_nothing_fits),
		cmocka_unit_test(test_cache),
		cmocka_unit_test(test_parallel_same),
		cmocka_unit_test(test_pool),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
