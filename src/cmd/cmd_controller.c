/*
 * llmo controller: the operator (src/controller/controller.h) until SIGINT or
 * SIGTERM.
 */
#include "base/common.h"

#include <event2/event.h>
#include <signal.h>

#include "api/config.h"
#include "base/duration.h"
#include "base/log.h"
#include "cmd/cmd.h"
#include "controller/controller.h"
#include "kube/client.h"
#include "kube/kubeconfig.h"

static const char controller_usage[] =
	"usage: llmo controller [--kubeconfig FILE] [--config FILE]\n"
	"                       [--leader-elect true|false] [--identity ID]\n"
	"                       [--gateway-metrics URL] [--scrape-interval DURATION]\n"
	"                       [--metrics-listen ADDR:PORT|off] [--prometheus URL]\n"
	"                       [--gateway-pods NAMESPACE/LABEL_SELECTOR]\n"
	"                       [--node-lifecycle true|false]\n"
	"                       [--replica-ca-cert FILE --replica-ca-key FILE]\n"
	"\n"
	"Reconciles LLMWorkloads into replicas (pods scheduled by llmo-scheduler)\n"
	"and a Service each, and LLMModels into a phase and the workloads using\n"
	"them. Runs until SIGINT or SIGTERM.\n"
	"\n"
	"  --kubeconfig FILE    kubeconfig (default $KUBECONFIG, ~/.kube/config,\n"
	"                       then the in-cluster service account)\n"
	"  --config FILE        orchestrator configuration (see `llmo config defaults`)\n"
	"  --leader-elect BOOL  campaign on the Lease llmo-controller in\n"
	"                       operator.namespace before acting (default: the\n"
	"                       configuration's operator.leaderElection)\n"
	"  --identity ID        this candidate's name (default HOSTNAME_PID)\n"
	"  --gateway-metrics URL  the gateway's /metrics (http://HOST:PORT/metrics):\n"
	"                       request rates, latency and in-flight counts for\n"
	"                       autoscaling, canary analysis and drain-aware scale-in\n"
	"                       (default: none; replicas are then deleted without\n"
	"                       draining and canaries are not analysed)\n"
	"  --prometheus URL     read the gateway's series from this Prometheus server's\n"
	"                       query API (http://HOST:9090) instead of --gateway-metrics\n"
	"  --gateway-pods NS/SELECTOR  read every Ready gateway pod the selector finds\n"
	"                       (http://POD_IP:PORT/metrics, PORT its prometheus.io/port\n"
	"                       annotation or its port named http) and add their counts\n"
	"                       up: several gateways without a Prometheus\n"
	"  --scrape-interval D  how often the gateway's metrics are read (default 2s)\n"
	"  --node-lifecycle BOOL  mark nodes whose agent stopped reporting\n"
	"                       Ready=Unknown, as kube-controller-manager does (default\n"
	"                       false: on a cluster kube-controller-manager does it)\n"
	"  --replica-ca-cert FILE, --replica-ca-key FILE  the CA (PEM) that signs the\n"
	"                       certificates of workloads with spec.security.encryption;\n"
	"                       give the gateway the same certificate (--upstream-ca).\n"
	"                       Without them encrypted workloads run no replica\n"
	"  --metrics-listen A   serve /metrics and /healthz on ADDR:PORT (default the\n"
	"                       configuration's operator.metricsAddr, \":9090\"); off: not\n"
	"\n"
	"$LLMO_TRUSTED_KEYS (the agents' trusted public keys, a directory of NAME.pub\n"
	"files): an LLMModel whose spec.signature.keyRef names no key there is Failed.\n";

int cmd_controller(int argc, char **argv)
{
	const char *kubeconfig = NULL, *config = NULL, *identity = NULL, *elect = NULL;
	const char *interval = NULL, *mlisten = NULL;
	char maddr[256], mhost[256];
	struct llmo_controller_opts opts = {0};
	struct llmo_kube_client *client = NULL;
	struct llmo_controller *ctl = NULL;
	struct event_base *base = NULL;
	struct llmo_config cfg = {0};
	struct llmo_kube_config kc;
	struct llmo_error err = {0};
	int status = 1;

	for (int i = 1; i < argc; i += 2) { /* every option takes a value */
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			fputs(controller_usage, stdout);
			return 0;
		} else if (!v) {
			return cmd_usage_error("controller", "unknown or incomplete option %s (see --help)", a);
		} else if (strcmp(a, "--kubeconfig") == 0) {
			kubeconfig = v;
		} else if (strcmp(a, "--config") == 0) {
			config = v;
		} else if (strcmp(a, "--leader-elect") == 0) {
			elect = v;
		} else if (strcmp(a, "--identity") == 0) {
			identity = v;
		} else if (strcmp(a, "--gateway-metrics") == 0) {
			if (strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0)
				return cmd_usage_error("controller",
						       "--gateway-metrics wants an http:// or https:// "
						       "URL, not \"%s\"", v);
			opts.gateway_metrics_url = v;
		} else if (strcmp(a, "--prometheus") == 0) {
			if (strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0)
				return cmd_usage_error("controller",
						       "--prometheus wants an http:// or https:// URL, "
						       "not \"%s\"", v);
			opts.prometheus_url = v;
		} else if (strcmp(a, "--gateway-pods") == 0) {
			if (!strchr(v, '/') || v[0] == '/' || !strchr(v, '/')[1])
				return cmd_usage_error("controller",
						       "--gateway-pods wants NAMESPACE/LABEL_SELECTOR, "
						       "not \"%s\"",
						       v);
			opts.gateway_pods = v;
		} else if (strcmp(a, "--scrape-interval") == 0) {
			interval = v;
		} else if (strcmp(a, "--metrics-listen") == 0) {
			mlisten = v;
		} else if (strcmp(a, "--replica-ca-cert") == 0) {
			opts.replica_ca_cert = v;
		} else if (strcmp(a, "--replica-ca-key") == 0) {
			opts.replica_ca_key = v;
		} else if (strcmp(a, "--node-lifecycle") == 0) {
			if (strcmp(v, "true") != 0 && strcmp(v, "false") != 0)
				return cmd_usage_error("controller",
						       "--node-lifecycle wants true or false, not "
						       "\"%s\"", v);
			opts.node_lifecycle = strcmp(v, "true") == 0;
		} else {
			return cmd_usage_error("controller", "unknown option %s (see --help)", a);
		}
	}
	if (elect && strcmp(elect, "true") != 0 && strcmp(elect, "false") != 0)
		return cmd_usage_error("controller", "--leader-elect wants true or false, not \"%s\"",
				       elect);
	if (interval) {
		int64_t ns;
		struct llmo_error derr = {0};

		if (llmo_duration_parse(interval, &ns, &derr) || ns < 100000000LL ||
		    ns > 600000000000LL)
			return cmd_usage_error("controller",
					       "--scrape-interval wants a duration from 100ms to 10m, "
					       "not \"%s\"", interval);
		opts.scrape_interval_ms = (long)(ns / 1000000);
	}
	if (!!opts.prometheus_url + !!opts.gateway_metrics_url + !!opts.gateway_pods > 1)
		return cmd_usage_error("controller",
				       "--prometheus, --gateway-metrics and --gateway-pods are sources "
				       "of the same numbers: give one");
	if (identity && !*identity)
		return cmd_usage_error("controller", "--identity wants a non-empty name");
	if (!opts.replica_ca_cert != !opts.replica_ca_key)
		return cmd_usage_error("controller",
				       "--replica-ca-cert and --replica-ca-key go together");
	if (cmd_load_config(config, &cfg))
		return 1;
	/* the agents' trusted keys, when mounted here too: keyRef is checked */
	opts.trusted_keys = getenv("LLMO_TRUSTED_KEYS");
	if (config)
		cmd_apply_log_config(&cfg);
	signal(SIGPIPE, SIG_IGN);
	if (llmo_kube_config_auto(kubeconfig, NULL, &kc, &err)) {
		fprintf(stderr, "llmo controller: %s\n", err.msg);
		goto out;
	}
	if (llmo_kube_client_new(&kc, &client, &err)) {
		llmo_kube_config_release(&kc);
		fprintf(stderr, "llmo controller: %s\n", err.msg);
		goto out;
	}
	llmo_kube_config_release(&kc);
	base = event_base_new();
	if (!base) {
		fprintf(stderr, "llmo controller: cannot create the event loop\n");
		goto out;
	}
	if (!mlisten)
		mlisten = cfg.operator_.metrics_addr;
	if (mlisten && strcmp(mlisten, "off") != 0) {
		snprintf(maddr, sizeof(maddr), "%s%s", mlisten[0] == ':' ? "0.0.0.0" : "", mlisten);
		if (cmd_parse_listen(maddr, mhost, sizeof(mhost), &opts.metrics_port)) {
			fprintf(stderr, "llmo controller: the metrics address \"%s\" is not ADDR:PORT\n",
				mlisten);
			goto out;
		}
		opts.metrics_host = mhost;
	}
	opts.config = &cfg;
	/* on a cluster the kubelet starts replicas: they wait for the node agent's fetch */
	opts.fetch_image = cfg.model_registry.fetch_image;
	opts.node_cache_path = cfg.model_registry.node_cache_path;
	opts.leader_election = elect ? strcmp(elect, "true") == 0 : cfg.operator_.leader_election;
	opts.identity = identity;
	if (llmo_controller_new(client, base, &opts, &ctl, &err) ||
	    llmo_controller_start(ctl, &err)) {
		fprintf(stderr, "llmo controller: %s\n", err.msg);
		goto out;
	}
	status = cmd_run_until_signal(base, "controller", NULL, NULL);
out:
	llmo_controller_free(ctl);
	if (base)
		event_base_free(base);
	llmo_kube_client_free(client);
	llmo_config_free(&cfg);
	return status;
}
