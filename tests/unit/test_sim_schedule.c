/*
 * The openb CSV readers (src/sim/trace.h), their problems reported as
 * FILE:LINE: message, and the scheduling simulator (src/sim/schedule.h) on
 * small hand-made traces whose best outcome is known.
 */
#include "base/common.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/buf.h"
#include "sim/schedule.h"
#include "sim/trace.h"

static const char nodes_hdr[] = "sn,cpu_milli,memory_mib,gpu,model\n";
static const char pods_hdr[] =
	"name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,"
	"deletion_time,scheduled_time\n";

/* Parses text as a node list ("n.csv") or a pod list ("p.csv"); returns the code. */
static int parse(struct llmo_sim_trace *t, bool nodes, const char *text, struct llmo_strv *problems)
{
	if (nodes)
		return llmo_sim_trace_parse_nodes(t, text, strlen(text), "n.csv", problems);
	return llmo_sim_trace_parse_pods(t, text, strlen(text), "p.csv", problems);
}

static void test_parse_ok(void **state)
{
	struct llmo_strv problems = LLMO_STRV_INIT;
	struct llmo_sim_trace t;

	llmo_sim_trace_init(&t);
	/* Columns in another order, CRLF line ends, "nan" for none. */
	assert_int_equal(parse(&t, true,
			       "model,gpu,sn,memory_mib,cpu_milli\r\n"
			       "V100M16,4,node-a,131072,32000\r\n"
			       "nan,0,node-b,1024,8000\r\n",
			       &problems),
			 0);
	assert_int_equal(problems.len, 0);
	assert_int_equal(t.nodes.len, 2);
	assert_string_equal(t.nodes.items[0].name, "node-a");
	assert_int_equal(t.nodes.items[0].cpu_milli, 32000);
	assert_int_equal(t.nodes.items[0].memory_mib, 131072);
	assert_int_equal(t.nodes.items[0].gpus, 4);
	assert_string_equal(t.nodes.items[0].model, "V100M16");
	assert_string_equal(t.nodes.items[1].model, "");

	assert_int_equal(parse(&t, false,
			       "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec\n"
			       "p0,12000,16384,1,1000,\n"
			       "p1,6000,12288,1,460,V100M16|V100M32\n"
			       "p2,88000,327680,8,1000,nan\n"
			       "p3,4000,100,0,0,\n",
			       &problems),
			 0);
	assert_int_equal(problems.len, 0);
	assert_int_equal(t.pods.len, 4);
	assert_int_equal(t.pods.items[1].gpu_milli, 460);
	assert_string_equal(t.pods.items[1].gpu_spec, "V100M16|V100M32");
	assert_string_equal(t.pods.items[2].gpu_spec, "");
	assert_int_equal(t.pods.items[2].num_gpu, 8);
	llmo_sim_trace_release(&t);
	llmo_strv_release(&problems);
}

static const struct {
	bool nodes;
	const char *text;
	const char *problems; /* all of them, one per line */
} bad[] = {
	{true, "", "n.csv: empty file, want a header line\n"},
	{true, "sn,cpu_milli,memory_mib,gpu\nn0,1,1,0\n",
	 "n.csv:1: no column \"model\" in the header \"sn,cpu_milli,memory_mib,gpu\"\n"},
	{true, "sn,cpu_milli,memory_mib,gpu,model,gpu\n",
	 "n.csv:1: column \"gpu\" appears twice\n"},
	{true,
	 "sn,cpu_milli,memory_mib,gpu,model\n"
	 "n0,64000,262144,2,P100\n"
	 "n1,64k,262144,2,P100\n"
	 "n2,64000,-5,2,P100\n"
	 "n3,64000,262144,17,P100\n"
	 "n4,64000,262144,2,\n"
	 "n0,64000,262144,2,P100\n"
	 "n5,64000,262144,2,P 100\n"
	 "n6,64000,262144\n"
	 "\n"
	 "n7,\"64000\",262144,2,P100\n"
	 ",1,1,0,\n",
	 "n.csv:3: cpu_milli: \"64k\": not an integer\n"
	 "n.csv:4: memory_mib: \"-5\": must be between 0 and 1073741824\n"
	 "n.csv:5: gpu: \"17\": must be between 0 and 16\n"
	 "n.csv:6: model: empty, but the node has 2 GPUs\n"
	 "n.csv:7: sn: node \"n0\" already listed on line 2\n"
	 "n.csv:8: model: \"P 100\" is not a GPU model (1 to 64 letters, digits, '-', '_', '.')\n"
	 "n.csv:9: 3 fields, the header has 5\n"
	 "n.csv:10: empty line\n"
	 "n.csv:11: quoted fields are not supported\n"
	 "n.csv:12: sn: empty\n"},
	{false,
	 "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec\n"
	 "p0,12000,16384,1,1000,\n"
	 "p1,12000,16384,9,1000,\n"
	 "p2,12000,16384,0,500,\n"
	 "p3,12000,16384,1,0,\n"
	 "p4,12000,16384,2,500,\n"
	 "p5,12000,16384,1,1001,\n"
	 "p6,12000,16384,1,500,V100M16||T4\n"
	 "p7,1.5,16384,1,500,\n",
	 "p.csv:3: num_gpu: \"9\": must be between 0 and 8\n"
	 "p.csv:4: gpu_milli: 500 but num_gpu is 0: want 0\n"
	 "p.csv:5: gpu_milli: 0 but num_gpu is 1: want 1 to 1000\n"
	 "p.csv:6: gpu_milli: 500 with num_gpu 2: GPUs beyond one are whole, want 1000\n"
	 "p.csv:7: gpu_milli: \"1001\": must be between 0 and 1000\n"
	 "p.csv:8: gpu_spec: \"V100M16||T4\" is not a GPU model list (1 to 64 letters, digits, "
	 "'-', '_', '.')\n"
	 "p.csv:9: cpu_milli: \"1.5\": not an integer\n"},
};

static void test_parse_problems(void **state)
{
	for (size_t i = 0; i < LLMO_ARRAY_LEN(bad); i++) {
		struct llmo_strv problems = LLMO_STRV_INIT;
		struct llmo_buf got;
		struct llmo_sim_trace t;

		llmo_sim_trace_init(&t);
		llmo_buf_init(&got, LLMO_BUF_UNLIMITED);
		assert_int_equal(parse(&t, bad[i].nodes, bad[i].text, &problems), LLMO_EPARSE);
		for (size_t k = 0; k < problems.len; k++)
			assert_int_equal(llmo_buf_appendf(&got, "%s\n", problems.items[k]), 0);
		assert_string_equal(got.data, bad[i].problems);
		/* A file with problems gives no rows at all. */
		assert_int_equal(t.nodes.len + t.pods.len, 0);
		llmo_buf_release(&got);
		llmo_sim_trace_release(&t);
		llmo_strv_release(&problems);
	}
}

static void test_parse_limits(void **state)
{
	struct llmo_strv problems = LLMO_STRV_INIT;
	struct llmo_sim_trace t;
	struct llmo_buf text;

	/* Problems beyond the cap are counted, not listed. */
	llmo_sim_trace_init(&t);
	llmo_buf_init(&text, LLMO_BUF_UNLIMITED);
	assert_int_equal(llmo_buf_puts(&text, nodes_hdr), 0);
	for (int i = 0; i < LLMO_SIM_TRACE_PROBLEMS_MAX + 5; i++)
		assert_int_equal(llmo_buf_appendf(&text, "n%d,x,1,0,\n", i), 0);
	assert_int_equal(parse(&t, true, text.data, &problems), LLMO_EPARSE);
	assert_int_equal(problems.len, LLMO_SIM_TRACE_PROBLEMS_MAX + 1);
	assert_string_equal(problems.items[LLMO_SIM_TRACE_PROBLEMS_MAX],
			    "n.csv: 5 more problems not shown");
	llmo_strv_release(&problems);

	/* A line over the cap. */
	llmo_buf_reset(&text);
	assert_int_equal(llmo_buf_puts(&text, nodes_hdr), 0);
	for (int i = 0; i <= LLMO_SIM_TRACE_LINE_MAX; i++)
		assert_int_equal(llmo_buf_putc(&text, 'a'), 0);
	assert_int_equal(llmo_buf_puts(&text, "\n"), 0);
	assert_int_equal(parse(&t, true, text.data, &problems), LLMO_EPARSE);
	assert_int_equal(problems.len, 1);
	assert_string_equal(problems.items[0], "n.csv:2: line is 4097 bytes, limit is 4096");
	llmo_buf_release(&text);
	llmo_strv_release(&problems);

	/* A file that is not there. */
	assert_int_equal(llmo_sim_trace_load_pods(&t, "tests/data/sim/no-such-file.csv", &problems),
			 LLMO_ENOTFOUND);
	assert_string_equal(problems.items[0], "tests/data/sim/no-such-file.csv: no such file");
	llmo_strv_release(&problems);
	llmo_sim_trace_release(&t);
}

/* Builds a trace from CSV bodies (headers added). */
static void trace(struct llmo_sim_trace *t, const char *nodes, const char *pods)
{
	struct llmo_strv problems = LLMO_STRV_INIT;
	struct llmo_buf b;

	llmo_sim_trace_init(t);
	llmo_buf_init(&b, LLMO_BUF_UNLIMITED);
	assert_int_equal(llmo_buf_appendf(&b, "%s%s", nodes_hdr, nodes), 0);
	assert_int_equal(parse(t, true, b.data, &problems), 0);
	llmo_buf_reset(&b);
	assert_int_equal(llmo_buf_appendf(&b, "%s%s", pods_hdr, pods), 0);
	assert_int_equal(parse(t, false, b.data, &problems), 0);
	llmo_buf_release(&b);
	llmo_strv_release(&problems);
}

static void run(const struct llmo_sim_trace *t, enum llmo_sched_policy_kind k, uint64_t seed,
		double inflate, struct llmo_sim_schedule_result *res)
{
	struct llmo_sim_schedule_opts o;
	struct llmo_error err = {0};

	llmo_sim_schedule_opts_init(&o);
	o.policy = k;
	o.seed = seed;
	o.inflate = inflate;
	assert_int_equal(llmo_sim_schedule_run(t, &o, res, &err), 0);
}

/*
 * One GPU on one node, two on another; a 1-GPU pod and a 2-GPU pod. In
 * whichever order they come, both fit only if the 1-GPU pod takes the
 * single GPU. FGD and llmo see it (on the 2-GPU node it would leave the
 * 2-GPU type nowhere to go); random often does not.
 */
static void test_known_best_order(void **state)
{
	struct llmo_sim_schedule_result res;
	struct llmo_sim_trace t;
	int random_failed = 0;

	trace(&t, "one,16000,65536,1,T4\ntwo,16000,65536,2,T4\n",
	      "a,4000,1024,1,1000,,LS,Running,0,1,0\nb,8000,2048,2,1000,,LS,Running,0,1,0\n");
	for (uint64_t seed = 1; seed <= 20; seed++) {
		/* inflate 1: the two pods already ask for all 3 GPUs, no clones. */
		run(&t, LLMO_SCHED_FGD, seed, 1.0, &res);
		assert_int_equal(res.pods, 2);
		assert_int_equal(res.scheduled, 2);
		run(&t, LLMO_SCHED_LLMO, seed, 1.0, &res);
		assert_int_equal(res.scheduled, 2);
		assert_true(res.at100.reached);
		assert_float_equal(res.at100.unallocated_pct, 0, 1e-9);
		run(&t, LLMO_SCHED_BESTFIT, seed, 1.0, &res);
		assert_int_equal(res.scheduled, 2);
		run(&t, LLMO_SCHED_RANDOM, seed, 1.0, &res);
		random_failed += res.failed > 0;
	}
	assert_true(random_failed > 0);
	llmo_sim_trace_release(&t);
}

/*
 * Two GPUs and four shares, 600m and 400m twice: they fill both GPUs only
 * when each 400m pod joins a 600m one. Fragmentation-aware placement does
 * that in every order.
 */
static void test_known_best_shares(void **state)
{
	struct llmo_sim_schedule_result res;
	struct llmo_sim_trace t;

	trace(&t, "n,16000,65536,2,T4\n",
	      "a,1000,1024,1,600,,LS,Running,0,1,0\nb,1000,1024,1,400,,LS,Running,0,1,0\n"
	      "c,1000,1024,1,600,,LS,Running,0,1,0\nd,1000,1024,1,400,,LS,Running,0,1,0\n");
	for (uint64_t seed = 1; seed <= 20; seed++) {
		run(&t, LLMO_SCHED_FGD, seed, 1.0, &res);
		assert_int_equal(res.scheduled, 4);
		run(&t, LLMO_SCHED_LLMO, seed, 1.0, &res);
		assert_int_equal(res.scheduled, 4);
		assert_float_equal(res.allocated_pct, 100, 1e-9);
		assert_float_equal(res.at100.frag_pct, 0, 1e-9);
	}
	llmo_sim_trace_release(&t);
}

struct series {
	double arrived[16];
	double allocated[16];
	size_t n;
};

static void record(void *arg, const struct llmo_sim_point *pt)
{
	struct series *s = arg;

	assert_int_equal(pt->index, s->n);
	assert_true(s->n < LLMO_ARRAY_LEN(s->arrived));
	s->arrived[s->n] = pt->arrived_pct;
	s->allocated[s->n] = pt->allocated_pct;
	s->n++;
}

/*
 * Clones: one 1-GPU pod, 4 GPUs. inflate 1 adds three clones (4000 of
 * 4000); inflate 1.3 four (5000 <= 5200, a sixth would pass it). The fifth
 * pod fails; arrived ends at 125%, more than one point short of 130%, so
 * that checkpoint is not reached.
 */
static void test_clones_and_checkpoints(void **state)
{
	struct llmo_sim_schedule_result res;
	struct llmo_sim_schedule_opts o;
	struct llmo_sim_trace t;
	struct series s = {{0}, {0}, 0};

	trace(&t, "n,64000,65536,4,T4\n", "a,4000,1024,1,1000,,LS,Running,0,1,0\n");
	run(&t, LLMO_SCHED_LLMO, 42, 1.0, &res);
	assert_int_equal(res.trace_pods, 1);
	assert_int_equal(res.pods, 4);
	assert_int_equal(res.scheduled, 4);

	llmo_sim_schedule_opts_init(&o);
	o.inflate = 1.3;
	o.on_pod = record;
	o.arg = &s;
	assert_int_equal(llmo_sim_schedule_run(&t, &o, &res, NULL), 0);
	assert_int_equal(res.pods, 5);
	assert_int_equal(res.scheduled, 4);
	assert_int_equal(res.failed, 1);
	assert_int_equal(s.n, 5);
	for (size_t i = 0; i < 5; i++)
		assert_float_equal(s.arrived[i], 25.0 * (double)(i + 1), 1e-9);
	assert_float_equal(s.allocated[4], 100, 1e-9);
	/* 90%: first reached at the fourth pod (100% arrived, all allocated). */
	assert_true(res.at90.reached);
	assert_float_equal(res.at90.arrived_pct, 100, 1e-9);
	assert_float_equal(res.at100.unallocated_pct, 0, 1e-9);
	assert_false(res.at130.reached);
	assert_float_equal(res.arrived_pct, 125, 1e-9);
	llmo_sim_trace_release(&t);

	/*
	 * 100 GPUs, inflate 1.295: 129 pods (129000 <= 129500). A trace ending
	 * less than one point short of 130% counts its last pod there.
	 */
	trace(&t,
	      "n0,64000,1048576,10,T4\nn1,64000,1048576,10,T4\nn2,64000,1048576,10,T4\n"
	      "n3,64000,1048576,10,T4\nn4,64000,1048576,10,T4\nn5,64000,1048576,10,T4\n"
	      "n6,64000,1048576,10,T4\nn7,64000,1048576,10,T4\nn8,64000,1048576,10,T4\n"
	      "n9,64000,1048576,10,T4\n",
	      "a,400,1024,1,1000,,LS,Running,0,1,0\n");
	run(&t, LLMO_SCHED_FGD, 42, 1.295, &res);
	assert_int_equal(res.pods, 129);
	assert_int_equal(res.failed, 29);
	assert_true(res.at130.reached);
	assert_float_equal(res.at130.arrived_pct, 129, 1e-9);
	assert_float_equal(res.at130.unallocated_pct, 0, 1e-9);
	llmo_sim_trace_release(&t);
}

static void test_same_order_for_all_policies(void **state)
{
	struct llmo_sim_schedule_result res;
	struct llmo_sim_schedule_opts o;
	struct llmo_sim_trace t;
	struct series first = {{0}, {0}, 0};

	trace(&t, "a,16000,65536,2,T4\nb,32000,65536,4,V100M16\n",
	      "p0,1000,1024,1,300,,LS,Running,0,1,0\n"
	      "p1,2000,1024,1,1000,,LS,Running,0,1,0\n"
	      "p2,3000,1024,2,1000,V100M16,LS,Running,0,1,0\n"
	      "p3,1000,1024,0,0,,LS,Running,0,1,0\n");
	llmo_sim_schedule_opts_init(&o);
	o.on_pod = record;
	for (int k = 0; k < LLMO_SCHED_POLICY_COUNT; k++) {
		struct series s = {{0}, {0}, 0};

		o.policy = (enum llmo_sched_policy_kind)k;
		o.arg = k == 0 ? &first : &s;
		assert_int_equal(llmo_sim_schedule_run(&t, &o, &res, NULL), 0);
		if (k > 0) {
			assert_int_equal(s.n, first.n);
			assert_memory_equal(s.arrived, first.arrived, sizeof(s.arrived));
		}
		assert_int_equal(res.scheduled + res.failed, res.pods);
	}
	llmo_sim_trace_release(&t);
}

static void test_run_errors(void **state)
{
	struct llmo_sim_schedule_result res;
	struct llmo_sim_schedule_opts o;
	struct llmo_error err = {0};
	struct llmo_sim_trace t;

	llmo_sim_schedule_opts_init(&o);
	trace(&t, "cpu,16000,65536,0,\n", "a,1000,1024,0,0,,LS,Running,0,1,0\n");
	assert_int_equal(llmo_sim_schedule_run(&t, &o, &res, &err), LLMO_EINVAL);
	assert_string_equal(err.msg, "the nodes have no GPUs");
	llmo_sim_trace_release(&t);

	trace(&t, "n,16000,65536,1,T4\n", "");
	assert_int_equal(llmo_sim_schedule_run(&t, &o, &res, &err), LLMO_EINVAL);
	assert_string_equal(err.msg, "the pod list has no pods");
	o.inflate = 0;
	assert_int_equal(llmo_sim_schedule_run(&t, &o, &res, &err), LLMO_EINVAL);
	llmo_sim_trace_release(&t);

	/* Only CPU pods: nothing to clone against, so none are added. */
	trace(&t, "n,16000,65536,1,T4\n", "a,1000,1024,0,0,,LS,Running,0,1,0\n");
	o.inflate = 1.3;
	o.policy = LLMO_SCHED_BESTFIT;
	assert_int_equal(llmo_sim_schedule_run(&t, &o, &res, &err), 0);
	assert_int_equal(res.pods, 1);
	assert_false(res.at100.reached);
	llmo_sim_trace_release(&t);
}

/* --synthetic-nodes: the node list's shapes in turn. */
static void test_synthetic(void **state)
{
	struct llmo_sim_schedule_result res;
	struct llmo_sim_schedule_opts o;
	struct llmo_sim_trace t;

	trace(&t, "a,16000,65536,2,T4\nb,32000,65536,4,V100M16\n",
	      "p0,1000,1024,1,500,,LS,Running,0,1,0\n");
	llmo_sim_schedule_opts_init(&o);
	o.synthetic_nodes = 5; /* a, b, a, b, a: 2 + 4 + 2 + 4 + 2 = 14 GPUs */
	assert_int_equal(llmo_sim_schedule_run(&t, &o, &res, NULL), 0);
	assert_int_equal(res.nodes, 5);
	assert_int_equal(res.gpu_capacity_milli, 14000);
	/* 500m pods up to 1.3 x 14 GPUs: 36 of them (18000 <= 18200). */
	assert_int_equal(res.pods, 36);
	llmo_sim_trace_release(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_ok),
		cmocka_unit_test(test_parse_problems),
		cmocka_unit_test(test_parse_limits),
		cmocka_unit_test(test_known_best_order),
		cmocka_unit_test(test_known_best_shares),
		cmocka_unit_test(test_clones_and_checkpoints),
		cmocka_unit_test(test_same_order_for_all_policies),
		cmocka_unit_test(test_run_errors),
		cmocka_unit_test(test_synthetic),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
