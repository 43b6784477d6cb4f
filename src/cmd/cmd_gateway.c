/*
 * llmo gateway: the OpenAI-compatible router (src/gateway/gateway.h) until
 * SIGINT or SIGTERM; SIGHUP reloads the static backends file and the keys file.
 */
#include "base/common.h"

#include <event2/event.h>
#include <signal.h>

#include "base/log.h"
#include "base/quantity.h"
#include "base/str.h"
#include "cmd/cmd.h"
#include "gateway/gateway.h"
#include "gateway/prefix.h"
#include "kube/client.h"
#include "kube/kubeconfig.h"

#include "base/banned.h"

#define SUB "gateway"

static const char usage[] =
	"usage: llmo gateway [--listen ADDR:PORT] [--backends FILE | --kubeconfig FILE]\n"
	"                    [--namespace NS] [--connect-timeout D] [--first-byte-timeout D]\n"
	"                    [--idle-timeout D] [--retries N] [--max-body SIZE]\n"
	"                    [--max-response SIZE] [--backend-connections N]\n"
	"                    [--max-clients N] [--breaker-failures N] [--breaker-cooldown D]\n"
	"                    [--watch D] [--hold-max N] [--hold-timeout D]\n"
	"                    [--keys FILE | --keys-secret NS/NAME] [--balance prefix|p2c]\n"
	"                    [--prefix-block SIZE] [--prefix-busy N] [--prefix-entries N]\n"
	"                    [--scrape-interval D] [--tls-cert FILE --tls-key FILE]\n"
	"                    [--upstream-ca FILE]\n"
	"                    [--seed N] [--log-level LEVEL] [--log-json]\n"
	"\n"
	"Serves the OpenAI API (/v1/chat/completions, /v1/completions, /v1/embeddings,\n"
	"/v1/models) and routes each request by its \"model\" to a replica that serves\n"
	"it: prefix affinity, else least outstanding requests with two random\n"
	"choices; keep-alive pools,\n"
	"streaming, retries on another replica, circuit breaking. Also /healthz,\n"
	"/readyz and /metrics. Replicas come from a static backends file, or else\n"
	"from the API (LLMWorkloads and their Ready pods). docs/gateway.md describes\n"
	"it all. D is a duration (5s, 300ms); SIZE is bytes or a quantity (1Mi).\n"
	"\n"
	"  --listen ADDR:PORT        address to serve on (default 127.0.0.1:8000;\n"
	"                            port 0 picks a free one; the URL is printed)\n"
	"  --backends FILE           static backends file (YAML or JSON); reloaded on\n"
	"                            SIGHUP and when it changes\n"
	"  --kubeconfig FILE         the API to watch when no --backends is given\n"
	"                            (default $KUBECONFIG, ~/.kube/config, in-cluster)\n"
	"  --namespace NS            watch one namespace (default all)\n"
	"  --connect-timeout D       connecting to a replica (default 5s)\n"
	"  --first-byte-timeout D    from the request sent to the answer's head\n"
	"                            (default 5m)\n"
	"  --idle-timeout D          longest silence inside an answer (default 1m)\n"
	"  --retries N               more attempts on other replicas (default 2, max 10)\n"
	"  --max-body SIZE           request bodies over it get 413 (default 1Mi)\n"
	"  --max-response SIZE       non-streaming answers over it are cut (default 64Mi)\n"
	"  --backend-connections N   requests in flight per replica (default 1024)\n"
	"  --max-clients N           client connections at once (default 16384)\n"
	"  --breaker-failures N      failures in a row that take a replica out for the\n"
	"                            cool-down (default 5; 0 never)\n"
	"  --breaker-cooldown D      (default 5s)\n"
	"  --watch D                 how often the backends and keys files are checked\n"
	"                            (default 1s; 0 only on SIGHUP)\n"
	"  --hold-max N              requests held per model while it has no ready\n"
	"                            replica (scale from zero; default 100; 0: 503 at once)\n"
	"  --hold-timeout D          how long one is held before a 503 (default 1m)\n"
	"  --keys FILE               API keys and their tenants, with rate limits (YAML\n"
	"                            or JSON); reloaded on SIGHUP and when it changes;\n"
	"                            without it requests are anonymous\n"
	"  --keys-secret NS/NAME     API mode: the keys file is the Secret's data\n"
	"                            \"keys.yaml\", watched\n"
	"  --balance prefix|p2c      prefix: prefer the replica that last served the\n"
	"                            longest prefix of the prompt unless it is busy,\n"
	"                            else least load (default); p2c: least load only\n"
	"  --prefix-block SIZE       bytes of the prompt's JSON per hashed block\n"
	"                            (default 256; 16 to 64Ki)\n"
	"  --prefix-busy N           a matching replica with more than N requests in\n"
	"                            flight above the least loaded one is busy\n"
	"                            (default 8)\n"
	"  --prefix-entries N        prefix blocks remembered, least recently used\n"
	"                            forgotten first (default 65536)\n"
	"  --scrape-interval D       how often each replica's /metrics is read; its\n"
	"                            vllm:num_requests_waiting counts into its load\n"
	"                            (default 1s; 0 never)\n"
	"  --tls-cert FILE           serve HTTPS with this PEM certificate (chain)\n"
	"  --tls-key FILE            its PEM private key\n"
	"  --upstream-ca FILE        reach encrypted backends (pods annotated\n"
	"                            llm.orchestrator.io/tls-server-name, endpoints\n"
	"                            with tlsServerName) over TLS, trusting this PEM\n"
	"                            CA; without it they cannot be reached\n"
	"  --seed N                  the balancer's random seed (default: from the clock;\n"
	"                            for reproducible tests)\n"
	"  --log-level LEVEL         debug | info | warn | error (default info)\n"
	"  --log-json                log JSON lines instead of text\n";


static int parse_size(const char *flag, const char *v, size_t *out)
{
	struct llmo_error err = {0};
	int64_t milli;

	if (llmo_quantity_parse(v, &milli, &err))
		return cmd_usage_error(SUB, "%s: %s", flag, err.msg);
	if (milli <= 0)
		return cmd_usage_error(SUB, "%s: must be positive", flag);
	*out = (size_t)llmo_quantity_value_ceil(milli);
	return 0;
}

static int parse_int(const char *flag, const char *v, int64_t lo, int64_t hi, int *out)
{
	struct llmo_error err = {0};
	int64_t i;

	if (llmo_parse_int_range(v, lo, hi, &i, &err))
		return cmd_usage_error(SUB, "%s: %s", flag, err.msg);
	*out = (int)i;
	return 0;
}

static void on_hup(evutil_socket_t sig, short what, void *arg)
{
	struct llmo_error err = {0};

	llmo_log(LLMO_LOG_INFO, SUB, "SIGHUP: reloading the backends and keys files", NULL);
	llmo_gateway_reload(arg, &err);
}

int cmd_gateway(int argc, char **argv)
{
	const char *kubeconfig = NULL;
	struct llmo_gateway_opts opts;
	struct llmo_kube_client *client = NULL;
	struct llmo_gateway *gw = NULL;
	struct event_base *base = NULL;
	struct event *hup = NULL;
	struct llmo_error err = {0};
	char host[256] = "127.0.0.1";
	int status = 1, rc;

	llmo_gateway_opts_init(&opts);
	opts.scrape_interval_ms = LLMO_GATEWAY_SCRAPE_MS;
	for (int i = 1; i < argc; i++) {
		enum cmd_opt k;
		char name[64];
		const char *v;

		if ((k = cmd_option(SUB, usage, argc, argv, &i, name, &v)) == CMD_OPT_HELP)
			return 0;
		if (k == CMD_OPT_ERROR)
			return 2;
		if (k == CMD_OPT_HANDLED)
			continue;
		rc = 0;
		if (strcmp(name, "--listen") == 0) {
			if (cmd_parse_listen(v, host, sizeof(host), &opts.port))
				return cmd_usage_error(SUB, "--listen wants ADDR:PORT, not \"%s\"", v);
		} else if (strcmp(name, "--backends") == 0) {
			opts.backends_file = v;
		} else if (strcmp(name, "--kubeconfig") == 0) {
			kubeconfig = v;
		} else if (strcmp(name, "--namespace") == 0) {
			opts.ns = v;
		} else if (strcmp(name, "--connect-timeout") == 0) {
			rc = cmd_parse_ms(SUB, name, v, &opts.connect_timeout_ms);
		} else if (strcmp(name, "--first-byte-timeout") == 0) {
			rc = cmd_parse_ms(SUB, name, v, &opts.first_byte_timeout_ms);
		} else if (strcmp(name, "--idle-timeout") == 0) {
			rc = cmd_parse_ms(SUB, name, v, &opts.idle_timeout_ms);
		} else if (strcmp(name, "--breaker-cooldown") == 0) {
			rc = cmd_parse_ms(SUB, name, v, &opts.breaker_cooldown_ms);
		} else if (strcmp(name, "--watch") == 0) {
			rc = cmd_parse_ms(SUB, name, v, &opts.watch_ms);
		} else if (strcmp(name, "--scrape-interval") == 0) {
			rc = cmd_parse_ms(SUB, name, v, &opts.scrape_interval_ms);
		} else if (strcmp(name, "--hold-timeout") == 0) {
			rc = cmd_parse_ms(SUB, name, v, &opts.hold_timeout_ms);
			if (!rc && opts.hold_timeout_ms <= 0)
				return cmd_usage_error(SUB, "--hold-timeout must be positive");
		} else if (strcmp(name, "--tls-cert") == 0) {
			opts.tls_cert = v;
		} else if (strcmp(name, "--tls-key") == 0) {
			opts.tls_key = v;
		} else if (strcmp(name, "--upstream-ca") == 0) {
			opts.upstream_ca = v;
		} else if (strcmp(name, "--keys") == 0) {
			opts.keys_file = v;
		} else if (strcmp(name, "--keys-secret") == 0) {
			opts.keys_secret = v;
		} else if (strcmp(name, "--seed") == 0) {
			int64_t seed;

			if (llmo_parse_int_range(v, 1, INT64_MAX, &seed, &err))
				return cmd_usage_error(SUB, "%s: %s", name, err.msg);
			opts.seed = (uint64_t)seed;
		} else if (strcmp(name, "--hold-max") == 0) {
			rc = parse_int(name, v, 0, 1000000, &opts.hold_max);
		} else if (strcmp(name, "--retries") == 0) {
			rc = parse_int(name, v, 0, LLMO_GATEWAY_RETRIES_MAX, &opts.retries);
		} else if (strcmp(name, "--backend-connections") == 0) {
			rc = parse_int(name, v, 1, 1000000, &opts.backend_conns_max);
		} else if (strcmp(name, "--max-clients") == 0) {
			rc = parse_int(name, v, 1, 1000000, &opts.clients_max);
		} else if (strcmp(name, "--breaker-failures") == 0) {
			rc = parse_int(name, v, 0, 1000, &opts.breaker_failures);
		} else if (strcmp(name, "--balance") == 0) {
			if (strcmp(v, "prefix") == 0)
				opts.balance = LLMO_GATEWAY_BALANCE_PREFIX;
			else if (strcmp(v, "p2c") == 0)
				opts.balance = LLMO_GATEWAY_BALANCE_P2C;
			else
				return cmd_usage_error(SUB, "--balance wants prefix or p2c, not \"%s\"",
						       v);
		} else if (strcmp(name, "--prefix-busy") == 0) {
			rc = parse_int(name, v, 0, 1000000, &opts.prefix_busy);
		} else if (strcmp(name, "--prefix-entries") == 0) {
			int n;

			rc = parse_int(name, v, 1, LLMO_GW_LRU_MAX, &n);
			opts.prefix_entries = (size_t)n;
		} else if (strcmp(name, "--prefix-block") == 0) {
			rc = parse_size(name, v, &opts.prefix_block);
			if (!rc && (opts.prefix_block < LLMO_GW_PREFIX_BLOCK_MIN ||
				    opts.prefix_block > LLMO_GW_PREFIX_BLOCK_MAX))
				return cmd_usage_error(SUB, "--prefix-block must be 16 to 65536 bytes");
		} else if (strcmp(name, "--max-body") == 0) {
			rc = parse_size(name, v, &opts.body_max);
		} else if (strcmp(name, "--max-response") == 0) {
			rc = parse_size(name, v, &opts.response_max);
		} else if (strcmp(name, "--log-level") == 0) {
			enum llmo_log_level level;

			if (llmo_log_level_parse(v, &level))
				return cmd_usage_error(SUB, "unknown log level \"%s\"", v);
			cmd_log_level_flag(level);
		} else {
			return cmd_usage_error(SUB, "unknown option %s (see --help)", name);
		}
		if (rc)
			return rc;
	}
	if (!opts.tls_cert != !opts.tls_key)
		return cmd_usage_error(SUB, "--tls-cert and --tls-key go together");
	if (opts.backends_file && kubeconfig)
		return cmd_usage_error(SUB, "--backends and --kubeconfig exclude each other");
	if (opts.keys_secret && (opts.keys_file || opts.backends_file))
		return cmd_usage_error(SUB, "--keys-secret needs API mode (no --backends, no --keys)");
	opts.host = host;

	signal(SIGPIPE, SIG_IGN);
	/* many connections need many descriptors */
	cmd_raise_nofile();
	if (!opts.backends_file) {
		struct llmo_kube_config kc;

		if (llmo_kube_config_auto(kubeconfig, NULL, &kc, &err)) {
			fprintf(stderr, "llmo %s: %s (or give --backends FILE)\n", SUB, err.msg);
			goto out;
		}
		rc = llmo_kube_client_new(&kc, &client, &err);
		llmo_kube_config_release(&kc);
		if (rc) {
			fprintf(stderr, "llmo %s: %s\n", SUB, err.msg);
			goto out;
		}
		opts.client = client;
	}
	base = event_base_new();
	if (!base) {
		fprintf(stderr, "llmo %s: cannot create the event loop\n", SUB);
		goto out;
	}
	if (llmo_gateway_new(base, &opts, &gw, &err) || llmo_gateway_start(gw, &err)) {
		fprintf(stderr, "llmo %s: %s\n", SUB, err.msg);
		goto out;
	}
	hup = evsignal_new(base, SIGHUP, on_hup, gw);
	if (!hup || event_add(hup, NULL) < 0) {
		fprintf(stderr, "llmo %s: cannot watch SIGHUP\n", SUB);
		goto out;
	}
	status = cmd_run_until_signal(base, SUB, cmd_announce_listening,
				      &(struct cmd_listening){.what = "llmo gateway",
							      .tls = llmo_gateway_tls(gw),
							      .host = host,
							      .port = llmo_gateway_port(gw)});
out:
	if (hup)
		event_free(hup);
	llmo_gateway_free(gw);
	if (base)
		event_base_free(base);
	llmo_kube_client_free(client);
	return status;
}
