/*
 * llmo sim schedule --nodes NODES.csv --pods PODS.csv [--policy NAME] [--seed N]
 *                   [--inflate X] [--series FILE] [--synthetic-nodes N]
 *
 * Replays an openb trace through one scheduling policy (src/sim/schedule.h)
 * and prints one JSON object of results. docs/sim.md describes it.
 */
#include "base/common.h"

#include <math.h>

#include "base/str.h"
#include "cmd/cmd.h"
#include "scheduler/policy.h"
#include "sim/schedule.h"
#include "sim/trace.h"

static const char sim_usage[] =
	"usage: llmo sim schedule --nodes NODES.csv --pods PODS.csv [--policy NAME]\n"
	"                         [--seed N] [--inflate X] [--series FILE]\n"
	"                         [--synthetic-nodes N]\n"
	"\n"
	"Replays an Alibaba openb GPU trace (node list and pod list, CSV) through one\n"
	"placement policy, as \"Beware of Fragmentation\" (ATC'23) does: the pods are\n"
	"shuffled by the seed, random clones of them are appended until the GPU they\n"
	"request would exceed X times the cluster's GPUs, and each pod is tried once,\n"
	"in order. Prints one JSON object of results on standard output.\n"
	"\n"
	"  --nodes FILE          node list: sn,cpu_milli,memory_mib,gpu,model\n"
	"  --pods FILE           pod list: name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec\n"
	"  --policy NAME         random, bestfit, dotprod, gpupacking, gpuclustering,\n"
	"                        fgd or llmo (default llmo)\n"
	"  --seed N              seed of the shuffle, the clones and the policy's ties\n"
	"                        (default 42)\n"
	"  --inflate X           clones until X times the GPU capacity is requested\n"
	"                        (default 1.3)\n"
	"  --series FILE         write arrived_pct,allocated_pct,frag_pct after each pod\n"
	"  --synthetic-nodes N   replace the cluster by N nodes shaped like the node\n"
	"                        list's, in turn (throughput measurements)\n"
	"\n"
	"Exit status: 0 done, 1 invalid input (each problem on standard error as\n"
	"FILE:LINE: message), 2 usage error.\n";

/* --series output: one line per pod, flushed as the replay goes. */
struct series {
	FILE *f;
	bool failed;
};

static void series_point(void *arg, const struct llmo_sim_point *pt)
{
	struct series *s = arg;

	if (!s->failed && fprintf(s->f, "%.4f,%.4f,%.4f\n", pt->arrived_pct, pt->allocated_pct,
				  pt->frag_pct) < 0)
		s->failed = true;
}

static void print_checkpoint(const char *key, const struct llmo_sim_checkpoint *cp, bool frag)
{
	if (!cp->reached)
		printf(",\n  \"%s\": null", key);
	else
		printf(",\n  \"%s\": %.4f", key, frag ? cp->frag_pct : cp->unallocated_pct);
}

static void print_result(const struct llmo_sim_schedule_opts *o, const char *nodes,
			 const char *pods, const struct llmo_sim_schedule_result *r)
{
	/* File names are printed as JSON strings: escape what JSON requires. */
	const char *files[2] = {nodes, pods};
	const char *keys[2] = {"nodes_file", "pods_file"};

	printf("{\n  \"policy\": \"%s\",\n  \"seed\": %" PRIu64 ",\n  \"inflate\": %g",
	       llmo_sched_policy_name(o->policy), o->seed, o->inflate);
	for (int k = 0; k < 2; k++) {
		printf(",\n  \"%s\": \"", keys[k]);
		for (const unsigned char *p = (const unsigned char *)files[k]; *p; p++) {
			if (*p == '"' || *p == '\\')
				printf("\\%c", *p);
			else if (*p < 0x20)
				printf("\\u%04x", *p);
			else
				putchar(*p);
		}
		putchar('"');
	}
	printf(",\n  \"nodes\": %zu,\n  \"gpus\": %.3f", r->nodes,
	       (double)r->gpu_capacity_milli / 1000);
	printf(",\n  \"trace_pods\": %zu,\n  \"pods\": %zu,\n  \"scheduled\": %zu,\n  \"failed\": %zu",
	       r->trace_pods, r->pods, r->scheduled, r->failed);
	print_checkpoint("unallocated_gpu_pct_at_arrived_100", &r->at100, false);
	print_checkpoint("unallocated_gpu_pct_at_arrived_130", &r->at130, false);
	print_checkpoint("frag_gpu_pct_at_arrived_90", &r->at90, true);
	print_checkpoint("frag_gpu_pct_at_arrived_100", &r->at100, true);
	printf(",\n  \"arrived_gpu_pct_final\": %.4f,\n  \"allocated_gpu_pct_final\": %.4f",
	       r->arrived_pct, r->allocated_pct);
	printf(",\n  \"decision_seconds\": %.6f,\n  \"decisions_per_second\": %.1f",
	       r->decision_seconds, r->decisions_per_second);
	printf(",\n  \"node_evaluations\": %" PRIu64 "\n}\n", r->evaluations);
}

static void print_problems(const struct llmo_strv *problems)
{
	for (size_t i = 0; i < problems->len; i++)
		fprintf(stderr, "%s\n", problems->items[i]);
}

static int sim_schedule(int argc, char **argv)
{
	const char *nodes = NULL, *pods = NULL, *series_path = NULL;
	struct llmo_strv problems = LLMO_STRV_INIT;
	struct llmo_sim_schedule_result res;
	struct llmo_sim_schedule_opts o;
	struct llmo_error err = {0};
	struct series series = {NULL, false};
	struct llmo_sim_trace trace;
	int status = 1, rc;

	llmo_sim_schedule_opts_init(&o);
	llmo_sim_trace_init(&trace);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		int64_t n;
		double x;

		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			fputs(sim_usage, stdout);
			status = 0;
			goto out;
		}
		if (!v) {
			status = cmd_usage_error("sim schedule", "unknown or incomplete option %s (see --help)", a);
			goto out;
		}
		i++;
		if (strcmp(a, "--nodes") == 0) {
			nodes = v;
		} else if (strcmp(a, "--pods") == 0) {
			pods = v;
		} else if (strcmp(a, "--series") == 0) {
			series_path = v;
		} else if (strcmp(a, "--policy") == 0) {
			if (llmo_sched_policy_parse(v, &o.policy, &err)) {
				status = cmd_usage_error("sim schedule", "--policy: %s", err.msg);
				goto out;
			}
		} else if (strcmp(a, "--seed") == 0) {
			if (llmo_parse_int_range(v, 0, INT64_MAX, &n, &err)) {
				status = cmd_usage_error("sim schedule", "--seed: %s", err.msg);
				goto out;
			}
			o.seed = (uint64_t)n;
		} else if (strcmp(a, "--inflate") == 0) {
			if (llmo_parse_double(v, &x, &err) || !(x > 0) ||
			    x > LLMO_SIM_SCHEDULE_INFLATE_MAX) {
				status = cmd_usage_error("sim schedule",
							 "--inflate: \"%.64s\": want a number above 0, at most %g",
							 v, LLMO_SIM_SCHEDULE_INFLATE_MAX);
				goto out;
			}
			o.inflate = x;
		} else if (strcmp(a, "--synthetic-nodes") == 0) {
			if (llmo_parse_int_range(v, 1, LLMO_SIM_SCHEDULE_NODES_MAX, &n, &err)) {
				status = cmd_usage_error("sim schedule", "--synthetic-nodes: %s", err.msg);
				goto out;
			}
			o.synthetic_nodes = (size_t)n;
		} else {
			status = cmd_usage_error("sim schedule", "unknown option %s (see --help)", a);
			goto out;
		}
	}
	if (!nodes || !pods) {
		status = cmd_usage_error("sim schedule", "--nodes and --pods are required (see --help)");
		goto out;
	}
	rc = llmo_sim_trace_load_nodes(&trace, nodes, &problems);
	/* Both files are checked, so that one run reports the problems of both. */
	if (llmo_sim_trace_load_pods(&trace, pods, &problems) || rc) {
		print_problems(&problems);
		goto out;
	}
	if (series_path) {
		series.f = fopen(series_path, "w");
		if (!series.f) {
			fprintf(stderr, "llmo sim schedule: %s: %s\n", series_path, strerror(errno));
			goto out;
		}
		fputs("arrived_pct,allocated_pct,frag_pct\n", series.f);
		o.on_pod = series_point;
		o.arg = &series;
	}
	if (llmo_sim_schedule_run(&trace, &o, &res, &err)) {
		fprintf(stderr, "llmo sim schedule: %s\n", err.msg);
		goto out;
	}
	if (series.f) {
		int bad = series.failed || fclose(series.f) != 0;

		series.f = NULL;
		if (bad) {
			fprintf(stderr, "llmo sim schedule: %s: write failed\n", series_path);
			goto out;
		}
	}
	print_result(&o, nodes, pods, &res);
	status = fflush(stdout) == 0 ? 0 : 1;
out:
	if (series.f)
		fclose(series.f);
	llmo_sim_trace_release(&trace);
	llmo_strv_release(&problems);
	return status;
}

int cmd_sim(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		fputs(sim_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "schedule") == 0)
		return sim_schedule(argc - 1, argv + 1);
	return cmd_usage_error("sim", "unknown simulator \"%s\" (want schedule; see --help)",
			       argv[1]);
}
