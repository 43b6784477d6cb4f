/*
 * llmo agent: the node agent (src/agent/agent.h) until SIGINT or SIGTERM, or
 * with --once a report of this machine (CPUs, memory, GPUs through NVML or
 * --fake-gpus).
 */
#include "agent/agent.h"
#include "agent/node.h"
#include "api/config.h"
#include "base/str.h"
#include "cmd/cmd.h"
#include "kube/client.h"
#include "kube/kubeconfig.h"
#include "metrics/http.h"

#include <event2/event.h>
#include <signal.h>
#include <unistd.h>

static const char agent_usage[] =
	"usage: llmo agent [--kubeconfig FILE] [--config FILE] [--node-name NAME]\n"
	"                  [--runtime local|none] [--state-dir DIR] [--keep-pods]\n"
	"                  [--fake-gpus N[:MODEL:MEMORY[:D]]]\n"
	"                  [--model-cache DIR [--registry-token-file FILE]\n"
	"                   [--registry-creds-file FILE]\n"
	"                   [--registry-cacert FILE | --registry-plain-http]]\n"
	"                  [--metrics-listen ADDR:PORT]\n"
	"       llmo agent --once [-o json|text] [--fake-gpus N[:MODEL:MEMORY[:D]]]\n"
	"\n"
	"The node agent. With --runtime local (the default; what `llmo server` runs)\n"
	"it registers a Node for this machine with its CPUs, memory and GPUs (NVML\n"
	"through libnvidia-ml.so.1 loaded at run time, or N fake GPUs labelled fake),\n"
	"heartbeats through a Lease in kube-node-lease, and runs the pods bound to\n"
	"it as processes. With --runtime none (a DaemonSet on a cluster, where the\n"
	"kubelet owns the Node) it publishes the GPU labels and the\n"
	"llm.orchestrator.io/gpu-devices annotation on the Node named --node-name and,\n"
	"with --model-cache, fetches the models of the pods the kubelet runs there\n"
	"(their init container `llmo fetch --await` waits for it).\n"
	"\n"
	"  --kubeconfig FILE   kubeconfig (default $KUBECONFIG, ~/.kube/config, then\n"
	"                      the in-cluster service account)\n"
	"  --config FILE       orchestrator configuration (checked)\n"
	"  --node-name NAME    the Node (default: the host name, lowercased)\n"
	"  --runtime MODE      local or none (see above)\n"
	"  --state-dir DIR     pods' records and logs (default /var/lib/llmo/agent as\n"
	"                      root, else ~/.llmo/agent)\n"
	"  --keep-pods         leave the pods' processes running on exit (the next\n"
	"                      agent adopts them); by default they are stopped\n"
	"  --once              report this machine and exit\n"
	"  -o json|text        --once output format (default text)\n"
	"  --fake-gpus SPEC    N, or N:MODEL:MEMORY such as 2:A100:80Gi, or\n"
	"                      N:MODEL:MEMORY:D (D GPUs per NVLink domain/NUMA node)\n"
	"  --model-cache DIR   fetch each replica's model (pods annotated\n"
	"                      llm.orchestrator.io/model-artifact) into DIR before it\n"
	"                      starts (with --runtime none: for the kubelet's pods of\n"
	"                      this node, results in DIR/pods/UID), and list the\n"
	"                      cached models on the Node; the\n"
	"                      configuration gives cacheSize and signatureValidation\n"
	"                      (trusted keys: $LLMO_TRUSTED_KEYS). docs/agent.md\n"
	"  --registry-token-file FILE  bearer token for the registries of those models\n"
	"  --registry-creds-file FILE  USER:PASSWORD for them (Basic, or for tokens)\n"
	"  --registry-cacert FILE      CA of an https registry\n"
	"  --registry-plain-http       the registries speak plain HTTP\n"
	"  --metrics-listen A  serve /metrics, /healthz and /readyz on ADDR:PORT\n"
	"                      (default: not)\n";

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

static int run_agent(const char *kubeconfig, const struct llmo_agent_opts *o, const char *mhost,
		     int mport)
{
	struct llmo_metrics_http *mhttp = NULL;
	struct llmo_kube_client *client = NULL;
	struct llmo_agent *agent = NULL;
	struct event_base *base = NULL;
	struct llmo_agent_opts opts = *o;
	struct llmo_kube_config kc;
	struct llmo_error err = {0};
	char shim[4096];
	ssize_t n;
	int status = 1;

	signal(SIGPIPE, SIG_IGN);
	n = readlink("/proc/self/exe", shim, sizeof(shim) - 1);
	if (n <= 0) {
		fprintf(stderr, "llmo agent: cannot find its own binary (/proc/self/exe)\n");
		return 1;
	}
	shim[n] = '\0';
	opts.shim_path = shim;
	if (llmo_kube_config_auto(kubeconfig, NULL, &kc, &err)) {
		fprintf(stderr, "llmo agent: %s\n", err.msg);
		return 1;
	}
	/* the API server's pods/log proxy authenticates with the cluster's admin token */
	opts.log_token = kc.token;
	if (llmo_kube_client_new(&kc, &client, &err)) {
		fprintf(stderr, "llmo agent: %s\n", err.msg);
		goto out;
	}
	base = event_base_new();
	if (!base) {
		fprintf(stderr, "llmo agent: cannot create the event loop\n");
		goto out;
	}
	if (llmo_agent_new(client, base, &opts, &agent, &err) || llmo_agent_start(agent, &err)) {
		fprintf(stderr, "llmo agent: %s\n", err.msg);
		goto out;
	}
	if (mhost && mhost[0]) {
		if (llmo_metrics_http_new(base, mhost, mport, llmo_agent_write_metrics, agent, &mhttp,
					  &err)) {
			fprintf(stderr, "llmo agent: %s\n", err.msg);
			goto out;
		}
		llmo_metrics_http_set_ready(mhttp, llmo_agent_ready, agent);
	}
	status = cmd_run_until_signal(base, "agent", NULL, NULL);
out:
	llmo_metrics_http_free(mhttp);
	llmo_agent_free(agent);
	if (base)
		event_base_free(base);
	llmo_kube_client_free(client);
	llmo_kube_config_release(&kc);
	return status;
}

int cmd_agent(int argc, char **argv)
{
	const char *fake = NULL, *format = "text", *kubeconfig = NULL, *config = NULL;
	const char *runtime = "local", *state_dir = NULL, *model_cache = NULL;
	const char *reg_token = NULL, *reg_creds = NULL, *reg_cacert = NULL;
	char mhost[256] = "";
	int mport = 0;
	bool reg_plain = false;
	struct llmo_agent_opts opts = {.stop_pods = true};
	struct llmo_node_info info;
	struct llmo_error err = {0};
	char dir[4096];
	bool once = false;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			fputs(agent_usage, stdout);
			return 0;
		} else if (strcmp(a, "--once") == 0) {
			once = true;
			continue;
		} else if (strcmp(a, "--keep-pods") == 0) {
			opts.stop_pods = false;
			continue;
		} else if (strcmp(a, "--registry-plain-http") == 0) {
			reg_plain = true;
			continue;
		} else if (!v) {
			return cmd_usage_error("agent", "unknown or incomplete option %s (see --help)",
					       a);
		} else if (strcmp(a, "-o") == 0) {
			format = v;
		} else if (strcmp(a, "--fake-gpus") == 0) {
			fake = v;
		} else if (strcmp(a, "--kubeconfig") == 0) {
			kubeconfig = v;
		} else if (strcmp(a, "--config") == 0) {
			config = v;
		} else if (strcmp(a, "--node-name") == 0) {
			opts.node_name = v;
		} else if (strcmp(a, "--runtime") == 0) {
			runtime = v;
		} else if (strcmp(a, "--state-dir") == 0) {
			state_dir = v;
		} else if (strcmp(a, "--model-cache") == 0) {
			model_cache = v;
		} else if (strcmp(a, "--registry-token-file") == 0) {
			reg_token = v;
		} else if (strcmp(a, "--registry-creds-file") == 0) {
			reg_creds = v;
		} else if (strcmp(a, "--metrics-listen") == 0) {
			if (cmd_parse_listen(v, mhost, sizeof(mhost), &mport))
				return cmd_usage_error("agent", "--metrics-listen wants ADDR:PORT, not "
								"\"%s\"",
						       v);
		} else if (strcmp(a, "--registry-cacert") == 0) {
			reg_cacert = v;
		} else {
			return cmd_usage_error("agent", "unknown option %s (see --help)", a);
		}
		i++;
	}
	if (strcmp(format, "json") != 0 && strcmp(format, "text") != 0)
		return cmd_usage_error("agent", "-o wants json or text, not \"%s\"", format);
	if (strcmp(runtime, "local") != 0 && strcmp(runtime, "none") != 0)
		return cmd_usage_error("agent", "--runtime wants local or none, not \"%s\"", runtime);
	if (opts.node_name && !*opts.node_name)
		return cmd_usage_error("agent", "--node-name wants a non-empty name");
	if (!once) {
		struct llmo_config cfg;
		struct cmd_fetch_args fa;
		int rc;

		if (cmd_load_config(config, &cfg))
			return 1;
		if (config)
			cmd_apply_log_config(&cfg);
		if (!state_dir) {
			const char *home = getenv("HOME");

			if (geteuid() == 0 || !home)
				snprintf(dir, sizeof(dir), "/var/lib/llmo/agent");
			else
				snprintf(dir, sizeof(dir), "%s/.llmo/agent", home);
			state_dir = dir;
		}
		opts.state_dir = state_dir;
		opts.fake_gpus = fake;
		opts.run_pods = strcmp(runtime, "local") == 0;
		if (model_cache) {
			cmd_fetch_args_init(&fa, model_cache, &cfg, reg_token, reg_creds, reg_cacert,
					    reg_plain, getenv("LLMO_TRUSTED_KEYS"));
			opts.fetch_args = fa.argv;
			opts.model_cache_dir = model_cache;
		}
		rc = run_agent(kubeconfig, &opts, mhost, mport);
		llmo_config_free(&cfg);
		return rc;
	}
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
