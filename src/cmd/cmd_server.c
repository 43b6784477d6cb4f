/*
 * llmo server: the whole control plane on one machine. Today it runs the
 * embedded Kubernetes-compatible API server; the controllers, scheduler,
 * gateway and registry join it as they are built.
 */
#include "api/config.h"
#include "apiserver/apiserver.h"
#include "base/log.h"
#include "base/str.h"
#include "base/yaml.h"
#include "cmd/cmd.h"

#include <event2/event.h>
#include <signal.h>
#include <unistd.h>

static const char server_usage[] =
	"usage: llmo server [--data-dir DIR] [--listen ADDR:PORT] [--config FILE]\n"
	"                   [--insecure-http] [--log-level LEVEL] [--log-json]\n"
	"\n"
	"Runs llmo's control plane on this machine, with an embedded Kubernetes-\n"
	"compatible API server (HTTPS, bearer token). On first start it creates a CA,\n"
	"a serving certificate, an admin token and DIR/kubeconfig, and prints the\n"
	"`export KUBECONFIG=...` line for kubectl.\n"
	"\n"
	"  --data-dir DIR     state (SQLite), certificates, token, kubeconfig\n"
	"                     (default: /var/lib/llmo as root, else ~/.llmo)\n"
	"  --listen ADDR:PORT address to serve the API on (default 127.0.0.1:6443;\n"
	"                     port 0 picks a free one)\n"
	"  --config FILE      orchestrator configuration (see `llmo config defaults`)\n"
	"  --insecure-http    plain HTTP instead of HTTPS; only on a loopback address\n"
	"  --log-level LEVEL  debug | info | warn | error (default info)\n"
	"  --log-json         log JSON lines instead of text\n";

static void announce(void *arg)
{
	struct llmo_apiserver *srv = arg;

	printf("llmo server listening on %s\nexport KUBECONFIG=%s\n", llmo_apiserver_url(srv),
	       llmo_apiserver_kubeconfig(srv));
	fflush(stdout);
}

/* Splits "host:port" or "[v6]:port". */
static int parse_listen(const char *s, char *host, size_t n, int *port)
{
	const char *colon = strrchr(s, ':');
	int64_t p;
	size_t hl;

	if (!colon)
		return -1;
	hl = (size_t)(colon - s);
	if (hl >= 2 && s[0] == '[' && s[hl - 1] == ']') {
		s++;
		hl -= 2;
	}
	if (hl == 0 || hl >= n || llmo_parse_int_range(colon + 1, 0, 65535, &p, NULL))
		return -1;
	memcpy(host, s, hl);
	host[hl] = '\0';
	*port = (int)p;
	return 0;
}

int cmd_server(int argc, char **argv)
{
	struct llmo_apiserver_opts opts = {.listen_host = "127.0.0.1", .listen_port = 6443};
	struct llmo_apiserver *srv = NULL;
	struct llmo_error err = {0};
	struct event_base *base;
	char host[256], dir[4096];
	const char *config = NULL, *data_dir = NULL;
	enum llmo_log_level level;
	int status = 1;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			fputs(server_usage, stdout);
			return 0;
		} else if (strcmp(a, "--insecure-http") == 0) {
			opts.plain_http = true;
		} else if (strcmp(a, "--log-json") == 0) {
			llmo_log_set_json(true);
		} else if (!v) {
			return cmd_usage_error("server", "%s needs a value (see --help)", a);
		} else if (strcmp(a, "--data-dir") == 0) {
			data_dir = v;
			i++;
		} else if (strcmp(a, "--listen") == 0) {
			if (parse_listen(v, host, sizeof(host), &opts.listen_port))
				return cmd_usage_error("server", "--listen wants ADDR:PORT, got \"%s\"",
						       v);
			opts.listen_host = host;
			i++;
		} else if (strcmp(a, "--config") == 0) {
			config = v;
			i++;
		} else if (strcmp(a, "--log-level") == 0) {
			if (llmo_log_level_parse(v, &level))
				return cmd_usage_error("server", "unknown log level \"%s\"", v);
			llmo_log_set_level(level);
			i++;
		} else {
			return cmd_usage_error("server", "unknown option %s (see --help)", a);
		}
	}
	if (config && cmd_load_config(config, NULL))
		return 1;
	if (!data_dir) {
		const char *home = getenv("HOME");

		if (geteuid() == 0 || !home)
			snprintf(dir, sizeof(dir), "/var/lib/llmo");
		else
			snprintf(dir, sizeof(dir), "%s/.llmo", home);
		data_dir = dir;
	}
	opts.data_dir = data_dir;
	signal(SIGPIPE, SIG_IGN);
	base = event_base_new();
	if (!base) {
		fprintf(stderr, "llmo server: cannot create the event loop\n");
		return 1;
	}
	if (llmo_apiserver_new(base, &opts, &srv, &err)) {
		fprintf(stderr, "llmo server: %s\n", err.msg);
		goto out;
	}
	status = cmd_run_until_signal(base, "server", announce, srv);
out:
	llmo_apiserver_free(srv);
	event_base_free(base);
	return status;
}
