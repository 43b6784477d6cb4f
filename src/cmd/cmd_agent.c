/*
 * llmo agent: the node agent. Implemented so far: --once, which reports this
 * machine (CPUs, memory, GPUs through NVML or --fake-gpus) and exits.
 */
#include "agent/node.h"
#include "cmd/cmd.h"

static const char agent_usage[] =
	"usage: llmo agent --once [-o json|text] [--fake-gpus N[:MODEL:MEMORY]]\n"
	"\n"
	"Reports what the agent sees on this machine: hostname, CPUs, memory, and\n"
	"the GPUs read through NVML (libnvidia-ml.so.1, loaded at run time), or\n"
	"N fake GPUs for machines without any (labelled fake).\n"
	"\n"
	"  --once            report and exit (the long-running agent that registers\n"
	"                    the Node and runs pods is not implemented yet)\n"
	"  -o json|text      output format (default text)\n"
	"  --fake-gpus SPEC  N, or N:MODEL:MEMORY such as 2:A100:80Gi\n";

static void print_text(const struct llmo_node_info *n)
{
	const struct llmo_gpu_inventory *inv = &n->gpus;

	printf("node     %s (%s, Linux %s)\n", n->hostname, n->arch, n->kernel);
	printf("cpu      %" PRId64 "m\n", n->cpu_milli);
	printf("memory   %" PRId64 " bytes\n", n->memory_bytes);
	if (inv->source == LLMO_GPU_NONE) {
		printf("gpus     none (%s)\n", inv->note);
		return;
	}
	printf("gpus     %zu (%s, driver %s)\n", inv->gpus.len,
	       inv->source == LLMO_GPU_FAKE ? "fake" : "nvml", inv->driver_version);
	for (size_t i = 0; i < inv->gpus.len; i++) {
		const struct llmo_gpu *g = &inv->gpus.items[i];

		printf("  %u  %-28s %s  %" PRIu64 " MiB total, %" PRIu64 " MiB used%s\n", g->index,
		       g->name, g->uuid, g->memory_total >> 20, g->memory_used >> 20,
		       g->fake ? "  (fake)" : "");
	}
}

int cmd_agent(int argc, char **argv)
{
	const char *fake = NULL, *format = "text";
	struct llmo_node_info info;
	struct llmo_error err = {0};
	bool once = false;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			fputs(agent_usage, stdout);
			return 0;
		} else if (strcmp(argv[i], "--once") == 0) {
			once = true;
		} else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
			format = argv[++i];
		} else if (strcmp(argv[i], "--fake-gpus") == 0 && i + 1 < argc) {
			fake = argv[++i];
		} else {
			return cmd_usage_error("agent", "unknown or incomplete option %s (see --help)",
					       argv[i]);
		}
	}
	if (!once)
		return cmd_usage_error("agent", "only --once is implemented so far (see --help)");
	if (strcmp(format, "json") != 0 && strcmp(format, "text") != 0)
		return cmd_usage_error("agent", "-o wants json or text, not \"%s\"", format);
	if (llmo_node_info_read(&info, fake, &err)) {
		fprintf(stderr, "llmo agent: %s\n", err.msg);
		return 1;
	}
	if (strcmp(format, "json") == 0) {
		json_t *j = llmo_node_info_json(&info);
		char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

		if (s)
			printf("%s\n", s);
		free(s);
		json_decref(j);
	} else {
		print_text(&info);
	}
	llmo_node_info_release(&info);
	return 0;
}
