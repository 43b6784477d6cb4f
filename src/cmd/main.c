/*
 * llmo: one binary, one subcommand per component.
 */
#include "cmd/cmd.h"

#include <signal.h>

#include "base/duration.h"
#include "base/log.h"

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary; /* NULL: hidden from help (internal commands) */
};

static int cmd_version(int argc, char **argv);
static int cmd_help(int argc, char **argv);

static const struct command commands[] = {
	{"server", cmd_server, "run the control plane on this machine (embedded Kubernetes API)"},
	{"agent", cmd_agent, "the node agent: report this machine's CPUs, memory and GPUs"},
	{"controller", cmd_controller, "the operator: LLMWorkloads and LLMModels into replicas, Services and status"},
	{"scheduler", cmd_scheduler, "bind pending pods to nodes (first fit; the GPU-aware scheduler replaces it)"},
	{"gateway", cmd_gateway, "the OpenAI-compatible router: model routing, balancing, streaming, retries"},
	{"model", cmd_model, "models as OCI artifacts: push, pull, list, inspect, sign, verify"},
	{"fetch", cmd_fetch, "pull a model into the node's cache, verified and resumable (a replica's init step)"},
	{"registry", cmd_registry, "the OCI model registry: versioned, verified, access-controlled blobs"},
	{"inference-sim", cmd_inference_sim, "an OpenAI-compatible simulated LLM server for tests and demos"},
	{"sim", cmd_sim, "trace-driven simulators: `llmo sim schedule` (GPU placement), `llmo sim autoscale` (autoscaling)"},
	{"bench", cmd_bench, "`llmo bench load`: open-loop load generator (trace replay or Poisson) with TTFT and latency percentiles"},
	{"validate", cmd_validate, "check LLMWorkload, LLMModel and configuration files"},
	{"config", cmd_config, "print the default configuration or check a configuration file"},
	{"version", cmd_version, "print the version"},
	{"help", cmd_help, "show this help"},
	{"shim", cmd_shim, NULL},
};

static int cmd_version(int argc, char **argv)
{
	printf("llmo %s\n", LLMO_VERSION);
	return 0;
}

static int cmd_help(int argc, char **argv)
{
	printf("llmo %s: LLM workload orchestrator\n\nusage: llmo COMMAND [ARGS]\n\ncommands:\n",
	       LLMO_VERSION);
	for (size_t i = 0; i < LLMO_ARRAY_LEN(commands); i++)
		if (commands[i].summary)
			printf("  %-10s %s\n", commands[i].name, commands[i].summary);
	printf("\n`llmo COMMAND --help` describes a command. Documentation: docs/README.md\n");
	return 0;
}

int cmd_usage_error(const char *sub, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "llmo %s: ", sub);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	return 2;
}

int cmd_parse_ms(const char *sub, const char *flag, const char *v, int64_t *ms)
{
	struct llmo_error err = {0};
	int64_t ns;

	if (llmo_duration_parse(v, &ns, &err))
		return cmd_usage_error(sub, "%s: %s", flag, err.msg);
	if (ns < 0)
		return cmd_usage_error(sub, "%s: must not be negative", flag);
	*ms = ns / LLMO_NS_PER_MS;
	return 0;
}

enum cmd_opt cmd_option(const char *sub, const char *usage, int argc, char **argv, int *i,
			char name[64], const char **value)
{
	const char *a = argv[*i], *eq = strchr(a, '=');

	if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
		fputs(usage, stdout);
		return CMD_OPT_HELP;
	}
	if (strcmp(a, "--log-json") == 0) {
		cmd_log_json_flag();
		return CMD_OPT_HANDLED;
	}
	snprintf(name, 64, "%.*s", eq ? (int)(eq - a) : (int)strlen(a), a);
	*value = eq ? eq + 1 : *i + 1 < argc ? argv[*i + 1] : NULL;
	if (strncmp(name, "--", 2) != 0) {
		cmd_usage_error(sub, "unexpected argument %s (see --help)", a);
		return CMD_OPT_ERROR;
	}
	if (!*value) {
		cmd_usage_error(sub, "%s needs a value (see --help)", name);
		return CMD_OPT_ERROR;
	}
	if (!eq)
		(*i)++;
	return CMD_OPT_VALUE;
}

bool cmd_str_flag_set(const struct cmd_str_flag *flags, size_t nflags, void *opts,
		      const char *arg, size_t n, const char *value)
{
	for (size_t k = 0; k < nflags; k++) {
		if (strlen(flags[k].name) != n || strncmp(arg, flags[k].name, n) != 0)
			continue;
		*(const char **)(void *)((char *)opts + flags[k].off) = value;
		return true;
	}
	return false;
}

int main(int argc, char **argv)
{
	const char *name = argc > 1 ? argv[1] : NULL;

	/*
	 * A write past the file size limit (RLIMIT_FSIZE) fails with EFBIG, which
	 * the writer reports like a full disk, instead of killing the process.
	 */
	signal(SIGXFSZ, SIG_IGN);
	if (!name) {
		cmd_help(0, NULL);
		return 2;
	}
	if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0)
		return cmd_help(0, NULL);
	if (strcmp(name, "--version") == 0)
		return cmd_version(0, NULL);
	for (size_t i = 0; i < LLMO_ARRAY_LEN(commands); i++)
		if (strcmp(commands[i].name, name) == 0)
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "llmo: unknown command \"%s\" (see `llmo help`)\n", name);
	return 2;
}
