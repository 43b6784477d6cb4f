/*
 * Fuzz target for sim/trace.h, the openb CSV readers, and through them the
 * scheduling simulator. The input is read as a node list and as a pod list;
 * when it holds a line "---", the text before it is the node list and the
 * text after it the pod list.
 *
 * Each parse either succeeds with no problems and one row per data line
 * (nothing dropped), or fails with a known code, at least one problem, at
 * most LLMO_SIM_TRACE_PROBLEMS_MAX + 1 of them, each naming the file, and no
 * rows. When both halves parse into a small trace (that its clones do not
 * multiply more than fourfold), it is replayed under every policy and the
 * counts must add up.
 */
#include "base/common.h"

#include "base/str.h"
#include "fuzz_csv.h"
#include "sim/schedule.h"
#include "sim/trace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Replays are run only on traces this small, to keep each input fast. */
#define FUZZ_NODES_MAX 32
#define FUZZ_PODS_MAX 64

static int parse(struct llmo_sim_trace *t, bool nodes, const char *text, size_t len)
{
	struct llmo_strv problems = LLMO_STRV_INIT;
	size_t before = nodes ? t->nodes.len : t->pods.len, after;
	int rc;

	if (nodes)
		rc = llmo_sim_trace_parse_nodes(t, text, len, "fuzz.csv", &problems);
	else
		rc = llmo_sim_trace_parse_pods(t, text, len, "fuzz.csv", &problems);
	after = nodes ? t->nodes.len : t->pods.len;
	if (rc == 0) {
		if (problems.len != 0 || after - before != fuzz_csv_data_lines(text, len))
			abort();
	} else {
		if (rc != LLMO_EPARSE && rc != LLMO_ETOOBIG)
			abort();
		if (problems.len == 0 || problems.len > LLMO_SIM_TRACE_PROBLEMS_MAX + 1 ||
		    after != before)
			abort();
		for (size_t i = 0; i < problems.len; i++)
			if (!llmo_str_has_prefix(problems.items[i], "fuzz.csv"))
				abort();
	}
	llmo_strv_release(&problems);
	return rc;
}

static void replay(const struct llmo_sim_trace *t)
{
	int64_t cap = 0, asked = 0;

	/* Clones fill the cluster: replay only when they are a few times the trace. */
	for (size_t i = 0; i < t->nodes.len; i++)
		cap += (int64_t)t->nodes.items[i].gpus * 1000;
	for (size_t i = 0; i < t->pods.len; i++)
		asked += (int64_t)t->pods.items[i].num_gpu * t->pods.items[i].gpu_milli;
	if (asked > 0 && asked * 4 < cap)
		return;
	for (int k = 0; k < LLMO_SCHED_POLICY_COUNT; k++) {
		struct llmo_sim_schedule_result res;
		struct llmo_sim_schedule_opts o;
		struct llmo_error err = {0};
		int rc;

		llmo_sim_schedule_opts_init(&o);
		o.policy = (enum llmo_sched_policy_kind)k;
		o.inflate = 1.0;
		rc = llmo_sim_schedule_run(t, &o, &res, &err);
		if (rc) {
			/* Traces without GPUs or pods are refused, with a message. */
			if (rc != LLMO_EINVAL || err.msg[0] == '\0')
				abort();
			continue;
		}
		if (res.scheduled + res.failed != res.pods || res.pods < res.trace_pods)
			abort();
		if (res.allocated_pct < 0 || res.allocated_pct > 100 + 1e-9)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data, *sep = NULL;
	struct llmo_sim_trace t;
	int rn, rp;

	llmo_sim_trace_init(&t);
	parse(&t, true, text, size);
	llmo_sim_trace_release(&t);
	llmo_sim_trace_init(&t);
	parse(&t, false, text, size);
	llmo_sim_trace_release(&t);

	for (size_t i = 0; i + 4 <= size; i++) {
		if (memcmp(text + i, "---\n", 4) == 0 && (i == 0 || text[i - 1] == '\n')) {
			sep = text + i;
			break;
		}
	}
	if (!sep)
		return 0;
	llmo_sim_trace_init(&t);
	rn = parse(&t, true, text, (size_t)(sep - text));
	rp = parse(&t, false, sep + 4, size - (size_t)(sep + 4 - text));
	if (rn == 0 && rp == 0 && t.nodes.len <= FUZZ_NODES_MAX && t.pods.len <= FUZZ_PODS_MAX)
		replay(&t);
	llmo_sim_trace_release(&t);
	return 0;
}
