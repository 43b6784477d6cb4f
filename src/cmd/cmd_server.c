/*
 * llmo server: the whole control plane on one machine: the embedded
 * Kubernetes-compatible API server on the main thread's loop, and the
 * components (controller, scheduler, node agent) each on a thread and loop
 * of its own, talking to the API over loopback like any client (they make
 * blocking API calls, which must not run on the API server's loop).
 *
 * Stop: the first SIGINT/SIGTERM asks every component to stop while the API
 * keeps serving (the agent stops its pods through it); once all are done
 * the server exits. A second signal exits at once.
 */
#include "api/config.h"
#include "agent/agent.h"
#include "agent/crilog.h"
#include "agent/selfpod.h"
#include "apiserver/apiserver.h"
#include "base/clock.h"
#include "base/file.h"
#include "base/log.h"
#include "base/str.h"
#include "base/yaml.h"
#include "cmd/cmd.h"
#include "controller/controller.h"
#include "gateway/gateway.h"
#include "gateway/keys.h"
#include "kube/client.h"
#include "kube/kubeconfig.h"
#include "registry/registry.h"
#include "scheduler/binder.h"

#include <event2/event.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

static const char server_usage[] =
	"usage: llmo server [--data-dir DIR] [--listen ADDR:PORT] [--config FILE]\n"
	"                   [--insecure-http] [--log-level LEVEL] [--log-json]\n"
	"                   [--fake-gpus N[:MODEL:MEMORY[:D]]] [--node-name NAME]\n"
	"                   [--gateway-listen ADDR:PORT] [--registry-listen ADDR:PORT]\n"
	"                   [--gateway-tls-cert FILE --gateway-tls-key FILE]\n"
	"                   [--gateway-keys-secret NAMESPACE/NAME | --gateway-keys-file FILE]\n"
	"                   [--gateway-hold-max N] [--gateway-hold-timeout D]\n"
	"                   [--disable COMPONENTS] [--keep-pods]\n"
	"                   [--metrics-listen ADDR:PORT] [--prometheus URL]\n"
	"                   [--token-file FILE]\n"
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
	"  --log-json         log JSON lines instead of text\n"
	"  --fake-gpus SPEC   the agent reports N fake GPUs (N or N:MODEL:MEMORY,\n"
	"                     such as 2:A100:80Gi, or N:MODEL:MEMORY:D with D GPUs\n"
	"                     per NVLink domain) instead of reading NVML\n"
	"  --node-name NAME   the agent's Node name (default: the host name)\n"
	"  --gateway-listen ADDR:PORT  the OpenAI-compatible gateway (default\n"
	"                     127.0.0.1:8000; port 0 picks a free one): plain HTTP,\n"
	"                     only on a loopback address; HTTPS with the two below\n"
	"  --gateway-tls-cert FILE     the gateway serves HTTPS with this PEM\n"
	"                     certificate (chain); replicas stay plain HTTP\n"
	"  --gateway-tls-key FILE      its PEM private key\n"
	"  --gateway-keys-secret NAMESPACE/NAME  API keys and tenants of the gateway\n"
	"                     from this Secret's keys.yaml, watched; until it loads\n"
	"                     every inference request gets 401 (default: no keys)\n"
	"  --gateway-keys-file FILE    the same from a keys file (llmo gateway --keys),\n"
	"                     reloaded when it changes\n"
	"  --gateway-hold-max N        requests held per model while it has no ready\n"
	"                     replica (default 100; 0: 503 at once)\n"
	"  --gateway-hold-timeout D    how long one is held before a 503 (default 1m)\n"
	"  --gateway-scrape-interval D how often the gateway reads each replica's\n"
	"                     /metrics for balancing (default 1s; 0: never)\n"
	"  --registry-listen ADDR:PORT the OCI model registry (default 127.0.0.1:5000,\n"
	"                     with the API's certificate; admin token of the kubeconfig)\n"
	"  --disable LIST     components not to run, comma-separated: controller,\n"
	"                     scheduler, agent, gateway, registry\n"
	"  --keep-pods        leave the replicas' processes running on exit (the\n"
	"                     next start adopts them); by default they are stopped\n"
	"  --metrics-listen ADDR:PORT  the controller's /metrics (workloads, rollouts,\n"
	"                     models, reconciles; default: not served). The API's\n"
	"                     /metrics and the gateway's are served anyway\n"
	"  --prometheus URL   the controller reads the gateway's series from this\n"
	"                     Prometheus server's query API instead of the gateway\n"
	"  --token-file FILE  more users, as bearer tokens (kube-apiserver's CSV:\n"
	"                     token,user,uid,\"group1,group2\"); authorized by RBAC\n";

/* A second stop signal sooner than this after the first is the same stop. */
#define SECOND_SIGNAL_MS 1000

enum part_kind { PART_CONTROLLER, PART_SCHEDULER, PART_AGENT, PART_GATEWAY, PART_REGISTRY, PART_N };

static const char *const part_names[PART_N] = {"controller", "scheduler", "agent", "gateway",
					       "registry"};

struct server;

/* One component on its own thread and loop. */
struct part {
	struct server *srv;
	enum part_kind kind;
	pthread_t thread;
	bool running;
	struct event_base *base;
	int quit[2]; /* main -> part: stop */
	struct event *quit_ev;
	struct llmo_kube_client *client;
	void *obj;
	int status; /* 0 once it started */
};

struct server {
	struct event_base *base;
	struct llmo_apiserver *api;
	const struct llmo_config *cfg;
	const char *fake_gpus, *node_name, *data_dir;
	bool keep_pods;
	bool plain_http;
	const char *gateway_host, *registry_host;
	const char *gateway_tls_cert, *gateway_tls_key; /* NULL: plain HTTP (loopback only) */
	const char *gateway_keys_secret; /* "ns/name" of the tenants' Secret; NULL: none */
	const char *gateway_keys_file;	 /* the tenants' keys file; NULL: none */
	int gateway_hold_max;		 /* -1: the gateway's default */
	int64_t gateway_hold_timeout_ms; /* 0: the gateway's default */
	int64_t gateway_scrape_ms;	 /* how often replicas' /metrics are read; 0: never */
	int gateway_port, registry_port;
	char metrics_host[256]; /* the controller's /metrics; "" not served */
	const char *prometheus;	/* the controller's source instead of the gateway; NULL none */
	struct llmo_binder *binder_live; /* the running scheduler, under gw_lock; NULL none */
	int metrics_port;
	/* the gateway's bound port for the controller's metrics URL: 0 not yet, -1 never */
	pthread_mutex_t gw_lock;
	pthread_cond_t gw_cond;
	int gateway_bound;
	bool disabled[PART_N];
	struct part parts[PART_N];
	int done[2]; /* part -> main: finished */
	struct event *done_ev;
	struct event *sig_ev;
	int sig[2]; /* the signal handler -> main */
	int running, stopping;
	int64_t stop_ms; /* when the first stop signal came (monotonic) */
	char shim[4096];
	const char *trusted_keys; /* $LLMO_TRUSTED_KEYS: signatureValidation, spec.signature */
	/* the server's own pod (agent/selfpod.h) and its log, as a container's */
	struct llmo_selfpod self;
	struct llmo_strv cmdline;
	int log_fd; /* DATA_DIR/logs/server.log; -1: not kept */
	char log_path[4096], prev_log_path[4096];
};

/* What main writes into a part's quit pipe. */
#define PART_MSG_STOP 1
#define PART_MSG_RELOAD 2 /* SIGHUP: the gateway reads its keys file again */

static void on_part_quit(evutil_socket_t fd, short what, void *arg)
{
	struct part *p = arg;
	struct llmo_error err = {0};
	char b = PART_MSG_STOP;

	(void)what;
	if (read(fd, &b, 1) == 1 && b == PART_MSG_RELOAD) {
		/* a failed reload keeps the old keys and says why (gateway.c) */
		if (p->kind == PART_GATEWAY && p->obj && llmo_gateway_reload(p->obj, &err) == 0)
			llmo_log(LLMO_LOG_INFO, "server", "SIGHUP: the gateway's keys file was reloaded",
				 NULL);
		else if (p->kind == PART_GATEWAY && err.code == LLMO_EINVAL)
			llmo_log(LLMO_LOG_INFO, "server", "SIGHUP: nothing to reload", "reason=\"%s\"",
				 err.msg);
		return;
	}
	event_base_loopexit(p->base, NULL);
}

/* The scheduler's metrics, on the controller's /metrics (called on its thread). */
static int scheduler_metrics(void *arg, struct llmo_buf *out, struct llmo_error *err)
{
	struct server *s = arg;
	int rc = 0;

	pthread_mutex_lock(&s->gw_lock);
	if (s->binder_live)
		rc = llmo_binder_write_metrics(s->binder_live, out, err);
	pthread_mutex_unlock(&s->gw_lock);
	return rc;
}

static void gateway_published(struct server *s, int port)
{
	pthread_mutex_lock(&s->gw_lock);
	s->gateway_bound = port;
	pthread_cond_broadcast(&s->gw_cond);
	pthread_mutex_unlock(&s->gw_lock);
}

static int part_start(struct part *p, struct llmo_kube_config *kc, struct llmo_error *err)
{
	struct server *s = p->srv;
	char state[4096];

	switch (p->kind) {
	case PART_CONTROLLER: {
		struct llmo_controller_opts o = {.config = s->cfg,
						 .leader_election = false,
						 .node_lifecycle = true,
						 .trusted_keys = s->trusted_keys};
		int64_t deadline = llmo_clock_mono_ms() + 30000;
		char url[320], ca_crt[4096], ca_key[4096];
		int port;

		/* encrypted workloads' replica certificates: signed by the server's own CA */
		snprintf(ca_crt, sizeof(ca_crt), "%s/pki/ca.crt", s->data_dir);
		snprintf(ca_key, sizeof(ca_key), "%s/pki/ca.key", s->data_dir);
		o.replica_ca_cert = ca_crt;
		o.replica_ca_key = ca_key;

		/* the gateway's metrics drive autoscaling, canary analysis and drains */
		pthread_mutex_lock(&s->gw_lock);
		while (s->gateway_bound == 0 && !s->disabled[PART_GATEWAY] &&
		       llmo_clock_mono_ms() < deadline) {
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 100000000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&s->gw_cond, &s->gw_lock, &ts);
		}
		port = s->gateway_bound;
		pthread_mutex_unlock(&s->gw_lock);
		if (port > 0) {
			snprintf(url, sizeof(url),
				 strchr(s->gateway_host, ':') ? "%s://[%s]:%d/metrics"
							      : "%s://%s:%d/metrics",
				 s->gateway_tls_cert ? "https" : "http",
				 strcmp(s->gateway_host, "0.0.0.0") == 0	? "127.0.0.1"
				 : strcmp(s->gateway_host, "::") == 0 ? "::1"
								      : s->gateway_host,
				 port);
			o.gateway_metrics_url = url;
			/* the gateway's own certificate, whatever names it carries */
			o.gateway_metrics_ca = s->gateway_tls_cert;
		}
		if (s->prometheus) {
			o.prometheus_url = s->prometheus;
			o.gateway_metrics_url = NULL;
		}
		if (s->metrics_host[0]) {
			o.metrics_host = s->metrics_host;
			o.metrics_port = s->metrics_port;
			o.extra_metrics = scheduler_metrics;
			o.extra_metrics_arg = s;
		}
		if (llmo_controller_new(p->client, p->base, &o, (struct llmo_controller **)&p->obj,
					err))
			return -1;
		if (s->metrics_host[0]) {
			printf("llmo controller metrics on http://%s:%d/metrics\n", s->metrics_host,
			       llmo_controller_metrics_port(p->obj));
			fflush(stdout);
		}
		return llmo_controller_start(p->obj, err);
	}
	case PART_SCHEDULER:
		if (llmo_binder_new(p->client, p->base, NULL, (struct llmo_binder **)&p->obj, err))
			return -1;
		if (llmo_binder_configure(p->obj, &s->cfg->scheduler, err))
			return -1;
		if (s->cfg->scheduler.policy > 0)
			llmo_binder_set_policy(
				p->obj, (enum llmo_sched_policy_kind)(s->cfg->scheduler.policy - 1));
		if (llmo_binder_start(p->obj, err))
			return -1;
		pthread_mutex_lock(&s->gw_lock);
		s->binder_live = p->obj;
		pthread_mutex_unlock(&s->gw_lock);
		return 0;
	case PART_AGENT: {
		struct llmo_agent_opts o = {.node_name = s->node_name,
					    .fake_gpus = s->fake_gpus,
					    .state_dir = state,
					    .shim_path = s->shim,
					    .log_token = kc->token,
					    .stop_pods = !s->keep_pods,
					    .run_pods = true};
		char cache[4096], ca[4096], tokf[4096];
		struct cmd_fetch_args fa;

		snprintf(state, sizeof(state), "%s/agent", s->data_dir);
		/* replicas fetch their model from this server's registry into DATA_DIR/models */
		snprintf(cache, sizeof(cache), "%s/models", s->data_dir);
		snprintf(ca, sizeof(ca), "%s/pki/ca.crt", s->data_dir);
		snprintf(tokf, sizeof(tokf), "%s/registry-token", state);
		if (llmo_mkdir_p(state, 0700, err) ||
		    (kc->token && llmo_file_write_atomic(tokf, kc->token, strlen(kc->token), 0600, err)))
			return -1;
		cmd_fetch_args_init(&fa, cache, s->cfg, kc->token ? tokf : NULL, NULL,
				    s->plain_http ? NULL : ca, s->plain_http, s->trusted_keys);
		o.fetch_args = fa.argv;
		o.model_cache_dir = cache;
		o.self_pod = &s->self;
		if (llmo_agent_new(p->client, p->base, &o, (struct llmo_agent **)&p->obj, err))
			return -1;
		return llmo_agent_start(p->obj, err);
	}
	case PART_GATEWAY: {
		struct llmo_gateway_opts o;
		char upca[4096];

		llmo_gateway_opts_init(&o);
		o.host = s->gateway_host;
		o.port = s->gateway_port;
		o.client = p->client;
		o.tls_cert = s->gateway_tls_cert;
		o.tls_key = s->gateway_tls_key;
		/* encrypted workloads' replicas: certificates from this server's CA (controller) */
		snprintf(upca, sizeof(upca), "%s/pki/ca.crt", s->data_dir);
		o.upstream_ca = upca;
		o.keys_secret = s->gateway_keys_secret;
		o.keys_file = s->gateway_keys_file;
		if (s->gateway_hold_max >= 0)
			o.hold_max = s->gateway_hold_max;
		if (s->gateway_hold_timeout_ms > 0)
			o.hold_timeout_ms = s->gateway_hold_timeout_ms;
		o.scrape_interval_ms = s->gateway_scrape_ms;
		if (llmo_gateway_new(p->base, &o, (struct llmo_gateway **)&p->obj, err) ||
		    llmo_gateway_start(p->obj, err)) {
			gateway_published(s, -1);
			return -1;
		}
		gateway_published(s, llmo_gateway_port(p->obj));
		cmd_announce_listening(&(struct cmd_listening){.what = "llmo gateway",
							       .tls = llmo_gateway_tls(p->obj),
							       .host = s->gateway_host,
							       .port = llmo_gateway_port(p->obj)});
		return 0;
	}
	case PART_REGISTRY: {
		struct llmo_registry_token admin = {kc->token, "admin", "repository:*:pull,push,delete"};
		struct llmo_registry_opts o;
		struct llmo_reg_s3_opts s3;
		char cert[4096], key[4096];

		llmo_registry_opts_init(&o);
		if (s->cfg->model_registry.storage_type == LLMO_STORAGE_S3) {
			/* DATA_DIR/registry becomes the cache of the bucket */
			cmd_s3_opts(&s->cfg->model_registry.s3, &s3);
			o.s3 = &s3;
		}
		snprintf(state, sizeof(state), "%s/registry", s->data_dir);
		snprintf(cert, sizeof(cert), "%s/pki/server.crt", s->data_dir);
		snprintf(key, sizeof(key), "%s/pki/server.key", s->data_dir);
		o.host = s->registry_host;
		o.port = s->registry_port;
		o.storage_path = state;
		cmd_registry_config_opts(&s->cfg->model_registry, &o);
		if (!s->plain_http) {
			o.tls_cert = cert;
			o.tls_key = key;
		}
		o.tokens = &admin;
		o.ntokens = kc->token ? 1 : 0;
		if (llmo_registry_new(p->base, &o, (struct llmo_registry **)&p->obj, err))
			return -1;
		cmd_announce_listening(&(struct cmd_listening){.what = "llmo registry",
							       .tls = llmo_registry_tls(p->obj),
							       .host = s->registry_host,
							       .port = llmo_registry_port(p->obj)});
		return 0;
	}
	default:
		return -1;
	}
}

static void part_free(struct part *p)
{
	switch (p->kind) {
	case PART_CONTROLLER:
		llmo_controller_free(p->obj);
		break;
	case PART_SCHEDULER:
		pthread_mutex_lock(&p->srv->gw_lock);
		p->srv->binder_live = NULL;
		pthread_mutex_unlock(&p->srv->gw_lock);
		llmo_binder_free(p->obj);
		break;
	case PART_AGENT:
		llmo_agent_free(p->obj);
		break;
	case PART_GATEWAY:
		llmo_gateway_free(p->obj);
		break;
	case PART_REGISTRY:
		llmo_registry_free(p->obj);
		break;
	default:
		break;
	}
	p->obj = NULL;
}

static void *part_main(void *arg)
{
	struct part *p = arg;
	struct server *s = p->srv;
	struct llmo_kube_config kc = {0};
	struct llmo_error err = {0};
	char byte = (char)p->kind;

	if (llmo_kube_config_load(llmo_apiserver_kubeconfig(s->api), NULL, &kc, &err) ||
	    llmo_kube_client_new(&kc, &p->client, &err)) {
		llmo_log(LLMO_LOG_ERROR, part_names[p->kind], "cannot reach the API",
			 "error=\"%s\"", err.msg);
		goto out;
	}
	if (part_start(p, &kc, &err)) {
		llmo_log(LLMO_LOG_ERROR, part_names[p->kind], "cannot start", "error=\"%s\"",
			 err.msg);
		goto out;
	}
	p->status = 0;
	event_base_dispatch(p->base);
out:
	if (p->kind == PART_GATEWAY && p->status != 0)
		gateway_published(s, -1);
	part_free(p);
	llmo_kube_client_free(p->client);
	p->client = NULL;
	llmo_kube_config_release(&kc);
	if (write(s->done[1], &byte, 1) != 1)
		llmo_log(LLMO_LOG_ERROR, "server", "cannot signal a component's end", NULL);
	return NULL;
}

static int part_spawn(struct server *s, enum part_kind kind)
{
	struct part *p = &s->parts[kind];

	p->srv = s;
	p->kind = kind;
	p->status = -1;
	p->quit[0] = p->quit[1] = -1;
	if (pipe(p->quit) < 0)
		return -1;
	p->base = event_base_new();
	if (!p->base)
		return -1;
	p->quit_ev = event_new(p->base, p->quit[0], EV_READ | EV_PERSIST, on_part_quit, p);
	if (!p->quit_ev || event_add(p->quit_ev, NULL) < 0)
		return -1;
	if (pthread_create(&p->thread, NULL, part_main, p) != 0)
		return -1;
	p->running = true;
	s->running++;
	return 0;
}

static void part_release(struct part *p)
{
	if (!p->srv)
		return; /* never spawned */
	if (p->running)
		pthread_join(p->thread, NULL);
	p->running = false;
	if (p->quit_ev)
		event_free(p->quit_ev);
	if (p->base)
		event_base_free(p->base);
	for (int i = 0; i < 2; i++)
		if (p->quit[i] >= 0)
			close(p->quit[i]);
}

static void stop_parts(struct server *s)
{
	for (int k = 0; k < PART_N; k++) {
		char b = PART_MSG_STOP;

		if (s->parts[k].running && write(s->parts[k].quit[1], &b, 1) != 1)
			event_base_loopexit(s->base, NULL);
	}
	if (!s->running)
		event_base_loopexit(s->base, NULL);
}

static void on_part_done(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;
	char b;

	if (read(fd, &b, 1) != 1)
		return;
	s->running--;
	if (!s->stopping) {
		/* a component ended by itself (it could not start): stop everything */
		llmo_log(LLMO_LOG_ERROR, "server", "a component stopped; shutting down",
			 "component=%s", b >= 0 && b < PART_N ? part_names[(int)b] : "?");
		s->stopping = 1;
		stop_parts(s);
	}
	if (s->running == 0)
		event_base_loopexit(s->base, NULL);
}

/*
 * SIGINT and SIGTERM go through a plain handler and a pipe, not libevent's
 * evsignal: with epoll, libevent delivers signals to one event_base only,
 * and the agent's runtime watches SIGCHLD on its own base.
 */
static volatile sig_atomic_t sig_fd = -1;

static void on_signal_raw(int signo)
{
	int saved = errno;
	char b = (char)signo;

	if (sig_fd >= 0 && write(sig_fd, &b, 1) < 0) {
		/* nothing to do in a signal handler */
	}
	errno = saved;
}

static void on_server_signal(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;
	char b = 0;
	int sig;

	if (read(fd, &b, 1) != 1)
		return;
	sig = b;
	if (sig == SIGHUP) {
		struct part *gw = &s->parts[PART_GATEWAY];
		char m = PART_MSG_RELOAD;

		llmo_log(LLMO_LOG_INFO, "server", "SIGHUP: reloading the gateway's keys file", NULL);
		if (!s->stopping && gw->running && write(gw->quit[1], &m, 1) != 1)
			llmo_log(LLMO_LOG_WARN, "server", "SIGHUP: cannot reach the gateway", NULL);
		return;
	}

	/* the same stop often arrives twice at once (Ctrl-C and a wrapper script) */
	if (s->stopping && llmo_clock_mono_ms() - s->stop_ms < SECOND_SIGNAL_MS)
		return;
	if (s->stopping++) {
		/* components may be mid-request: leave without tearing anything down */
		llmo_log(LLMO_LOG_WARN, "server", "second signal: exiting now", "signal=%d", sig);
		_exit(1);
	}
	s->stop_ms = llmo_clock_mono_ms();
	llmo_log(LLMO_LOG_INFO, "server", "stopping", "signal=%d components=%d", (int)sig,
		 s->running);
	stop_parts(s);
}

/* ---- the server's own log and pod ---- */

static void on_log_line(void *ctx, const char *line, size_t len)
{
	struct server *s = ctx;

	llmo_cri_write_line(s->log_fd, "stderr", false, line, len);
}

/*
 * Keeps the server's log as the shim keeps a container's (CRI format), for
 * `kubectl logs` of its pod: DATA_DIR/logs/server.log for this start, the
 * previous start's moved to server.previous.log. Without it the server runs
 * on (logging to stderr only) and says why.
 */
static void log_keep(struct server *s, const char *data_dir)
{
	struct llmo_error err = {0};
	char dir[4096];

	s->log_fd = -1;
	if (snprintf(dir, sizeof(dir), "%s/logs", data_dir) >= (int)sizeof(dir) ||
	    snprintf(s->log_path, sizeof(s->log_path), "%s/server.log", dir) >=
		    (int)sizeof(s->log_path) ||
	    snprintf(s->prev_log_path, sizeof(s->prev_log_path), "%s/server.previous.log", dir) >=
		    (int)sizeof(s->prev_log_path)) {
		fprintf(stderr, "llmo server: --data-dir is too long to keep a log under it\n");
		return;
	}
	if (llmo_mkdir_p(dir, 0700, &err)) {
		fprintf(stderr, "llmo server: its log is not kept (kubectl logs): %s\n", err.msg);
		return;
	}
	if (rename(s->log_path, s->prev_log_path) && errno != ENOENT)
		fprintf(stderr, "llmo server: cannot move %s to %s: %s\n", s->log_path,
			s->prev_log_path, strerror(errno));
	s->log_fd = open(s->log_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
	if (s->log_fd < 0) {
		fprintf(stderr, "llmo server: its log is not kept (kubectl logs): %s: %s\n",
			s->log_path, strerror(errno));
		return;
	}
	llmo_log_set_tee(on_log_line, s);
}

static void log_close(struct server *s)
{
	if (s->log_fd < 0)
		return;
	llmo_log_set_tee(NULL, NULL);
	close(s->log_fd);
	s->log_fd = -1;
}

/* The server as a pod for the agent to show (agent/selfpod.h). */
static void self_pod_init(struct server *s)
{
	struct llmo_buf b;
	struct llmo_error err = {0};

	llmo_buf_init(&b, 1 << 16);
	/* the command line as the process has it: NUL-separated */
	if (llmo_file_read("/proc/self/cmdline", 1 << 16, &b, &err) == 0) {
		for (size_t i = 0; i < b.len; i += strlen(b.data + i) + 1)
			llmo_strv_push(&s->cmdline, b.data + i);
	}
	llmo_buf_release(&b);
	s->self = (struct llmo_selfpod){
		.ns = s->cfg->operator_.namespace_ && *s->cfg->operator_.namespace_
			      ? s->cfg->operator_.namespace_
			      : "llm-orchestrator",
		.name = "llmo-server",
		.deployment = "llm-orchestrator",
		.component = "server",
		.container = "llmo",
		.image = s->shim,
		.argv = (const char *const *)s->cmdline.items,
		.started_ms = llmo_clock_wall_ms(),
		.pid = (long)getpid(),
		.log_path = s->log_fd >= 0 ? s->log_path : NULL,
		.prev_log_path = s->log_fd >= 0 ? s->prev_log_path : NULL,
	};
}

static void announce(struct llmo_apiserver *srv)
{
	printf("llmo server listening on %s\nexport KUBECONFIG=%s\n", llmo_apiserver_url(srv),
	       llmo_apiserver_kubeconfig(srv));
	fflush(stdout);
}

/* Runs the API and the components until stopped; the exit status. */
static int serve(struct server *s)
{
	int status = 1;
	ssize_t n;

	s->done[0] = s->done[1] = -1;
	s->sig[0] = s->sig[1] = -1;
	n = readlink("/proc/self/exe", s->shim, sizeof(s->shim) - 1);
	if (n <= 0) {
		fprintf(stderr, "llmo server: cannot find its own binary (/proc/self/exe)\n");
		return 1;
	}
	s->shim[n] = '\0';
	self_pod_init(s);
	if (pipe(s->done) < 0) {
		fprintf(stderr, "llmo server: pipe: %s\n", strerror(errno));
		return 1;
	}
	/* the done pipe is closed by main only after every component is joined */
	if (pipe(s->sig) < 0) {
		fprintf(stderr, "llmo server: pipe: %s\n", strerror(errno));
		goto out;
	}
	sig_fd = s->sig[1];
	{
		struct sigaction sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_signal_raw;
		sigemptyset(&sa.sa_mask);
		sa.sa_flags = SA_RESTART;
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGHUP, &sa, NULL);
	}
	s->done_ev = event_new(s->base, s->done[0], EV_READ | EV_PERSIST, on_part_done, s);
	s->sig_ev = event_new(s->base, s->sig[0], EV_READ | EV_PERSIST, on_server_signal, s);
	if (!s->done_ev || !s->sig_ev || event_add(s->done_ev, NULL) < 0 ||
	    event_add(s->sig_ev, NULL) < 0) {
		fprintf(stderr, "llmo server: cannot watch signals\n");
		goto out;
	}
	for (int k = 0; k < PART_N; k++) {
		if (!s->disabled[k] && part_spawn(s, (enum part_kind)k)) {
			fprintf(stderr, "llmo server: cannot start the %s\n", part_names[k]);
			s->stopping = 1;
			stop_parts(s);
			break;
		}
	}
	if (!s->stopping)
		announce(s->api);
	event_base_dispatch(s->base);
	status = 0;
	for (int k = 0; k < PART_N; k++) {
		if (s->parts[k].running && s->parts[k].status != 0)
			status = 1;
	}
out:
	for (int k = 0; k < PART_N; k++)
		part_release(&s->parts[k]);
	if (s->done_ev)
		event_free(s->done_ev);
	for (int i = 0; i < 2; i++)
		if (s->done[i] >= 0)
			close(s->done[i]);
	if (s->sig_ev)
		event_free(s->sig_ev);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	sig_fd = -1;
	for (int i = 0; i < 2; i++)
		if (s->sig[i] >= 0)
			close(s->sig[i]);
	return status;
}

/* "controller,agent" into the disabled flags. */
static int parse_disable(const char *v, bool disabled[PART_N])
{
	struct llmo_strv parts = LLMO_STRV_INIT;
	int rc = llmo_str_split(v, ',', &parts);

	for (size_t i = 0; i < parts.len && !rc; i++) {
		int k;

		for (k = 0; k < PART_N && strcmp(parts.items[i], part_names[k]) != 0; k++)
			;
		if (k == PART_N)
			rc = -1;
		else
			disabled[k] = true;
	}
	llmo_strv_release(&parts);
	return rc;
}

/* Whether the gateway's keys file loads; 1 with a message naming the file if not. */
static int check_keys_file(const char *path)
{
	struct llmo_error err = {0};
	struct llmo_gw_keys *k = NULL;

	if (llmo_gw_keys_from_file(path, &k, &err)) {
		fprintf(stderr, "llmo server: --gateway-keys-file: %s\n", err.msg);
		return 1;
	}
	llmo_gw_keys_unref(k);
	return 0;
}

int cmd_server(int argc, char **argv)
{
	struct llmo_apiserver_opts opts = {.listen_host = "127.0.0.1", .listen_port = 6443};
	struct llmo_apiserver *srv = NULL;
	struct llmo_error err = {0}, perr = {0};
	struct llmo_config cfg = {0};
	struct server s = {.gateway_host = "127.0.0.1",
			   .gateway_port = LLMO_GATEWAY_PORT,
			   .registry_host = "127.0.0.1",
			   .registry_port = LLMO_REGISTRY_PORT,
			   .gateway_hold_max = -1,
			   .gateway_scrape_ms = LLMO_GATEWAY_SCRAPE_MS,
			   .gw_lock = PTHREAD_MUTEX_INITIALIZER,
			   .gw_cond = PTHREAD_COND_INITIALIZER,
			   .log_fd = -1};
	char gw_host[256] = "127.0.0.1", reg_host[256] = "127.0.0.1";
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
			cmd_log_json_flag();
		} else if (strcmp(a, "--keep-pods") == 0) {
			s.keep_pods = true;
		} else if (!v) {
			return cmd_usage_error("server", "%s needs a value (see --help)", a);
		} else if (strcmp(a, "--data-dir") == 0) {
			data_dir = v;
			i++;
		} else if (strcmp(a, "--listen") == 0) {
			if (cmd_parse_listen(v, host, sizeof(host), &opts.listen_port))
				return cmd_usage_error("server", "--listen wants ADDR:PORT, got \"%s\"",
						       v);
			opts.listen_host = host;
			i++;
		} else if (strcmp(a, "--config") == 0) {
			config = v;
			i++;
		} else if (strcmp(a, "--token-file") == 0) {
			opts.token_file = v;
			i++;
		} else if (strcmp(a, "--prometheus") == 0) {
			if (strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0)
				return cmd_usage_error("server", "--prometheus wants an http(s):// URL, "
						       "got \"%s\"", v);
			s.prometheus = v;
			i++;
		} else if (strcmp(a, "--metrics-listen") == 0) {
			if (cmd_parse_listen(v, s.metrics_host, sizeof(s.metrics_host), &s.metrics_port))
				return cmd_usage_error("server", "%s wants ADDR:PORT, got \"%s\"", a, v);
			i++;
		} else if (strcmp(a, "--gateway-listen") == 0 || strcmp(a, "--registry-listen") == 0) {
			bool gw = strcmp(a, "--gateway-listen") == 0;
			char *h = gw ? gw_host : reg_host;

			if (cmd_parse_listen(v, h, 256, gw ? &s.gateway_port : &s.registry_port))
				return cmd_usage_error("server", "%s wants ADDR:PORT, got \"%s\"", a, v);
			i++;
		} else if (strcmp(a, "--gateway-tls-cert") == 0) {
			s.gateway_tls_cert = v;
			i++;
		} else if (strcmp(a, "--gateway-tls-key") == 0) {
			s.gateway_tls_key = v;
			i++;
		} else if (strcmp(a, "--gateway-hold-max") == 0) {
			int64_t n;

			if (llmo_parse_int_range(v, 0, 1000000, &n, &perr))
				return cmd_usage_error("server", "%s: %s", a, perr.msg);
			s.gateway_hold_max = (int)n;
			i++;
		} else if (strcmp(a, "--gateway-hold-timeout") == 0) {
			if (cmd_parse_ms("server", a, v, &s.gateway_hold_timeout_ms))
				return 2;
			if (s.gateway_hold_timeout_ms <= 0)
				return cmd_usage_error("server", "%s must be positive", a);
			i++;
		} else if (strcmp(a, "--gateway-scrape-interval") == 0) {
			if (cmd_parse_ms("server", a, v, &s.gateway_scrape_ms))
				return 2;
			i++;
		} else if (strcmp(a, "--gateway-keys-secret") == 0) {
			const char *slash = strchr(v, '/');

			if (!slash || slash == v || !slash[1] || strchr(slash + 1, '/'))
				return cmd_usage_error("server", "--gateway-keys-secret wants "
						       "NAMESPACE/NAME, got \"%s\"", v);
			s.gateway_keys_secret = v;
			i++;
		} else if (strcmp(a, "--gateway-keys-file") == 0) {
			s.gateway_keys_file = v;
			i++;
		} else if (strcmp(a, "--fake-gpus") == 0) {
			s.fake_gpus = v;
			i++;
		} else if (strcmp(a, "--node-name") == 0) {
			s.node_name = v;
			i++;
		} else if (strcmp(a, "--disable") == 0) {
			if (parse_disable(v, s.disabled))
				return cmd_usage_error("server",
						       "--disable wants a comma-separated list of "
						       "controller, scheduler, agent; got \"%s\"",
						       v);
			i++;
		} else if (strcmp(a, "--log-level") == 0) {
			if (llmo_log_level_parse(v, &level))
				return cmd_usage_error("server", "unknown log level \"%s\"", v);
			cmd_log_level_flag(level);
			i++;
		} else {
			return cmd_usage_error("server", "unknown option %s (see --help)", a);
		}
	}
	if (!s.gateway_tls_cert != !s.gateway_tls_key)
		return cmd_usage_error("server", "--gateway-tls-cert and --gateway-tls-key go together");
	if (s.gateway_keys_file && s.gateway_keys_secret)
		return cmd_usage_error("server", "--gateway-keys-file and --gateway-keys-secret "
				       "exclude each other: the gateway's keys come from one place");
	/* a keys file that does not load stops the server before it starts anything */
	if (s.gateway_keys_file && !s.disabled[PART_GATEWAY] && check_keys_file(s.gateway_keys_file))
		return 1;
	/* the API's rule for --insecure-http: no plain HTTP off this machine */
	if (!s.disabled[PART_GATEWAY] && !s.gateway_tls_cert && !llmo_host_loopback(gw_host))
		return cmd_usage_error("server",
				       "--gateway-listen %s: plain HTTP is only allowed on a loopback "
				       "address; give --gateway-tls-cert and --gateway-tls-key",
				       gw_host);
	if (cmd_load_config(config, &cfg))
		return 1;
	if (config)
		cmd_apply_log_config(&cfg);
	if (!data_dir) {
		const char *home = getenv("HOME");

		if (geteuid() == 0 || !home)
			snprintf(dir, sizeof(dir), "/var/lib/llmo");
		else
			snprintf(dir, sizeof(dir), "%s/.llmo", home);
		data_dir = dir;
	}
	opts.data_dir = data_dir;
	log_keep(&s, data_dir);
	signal(SIGPIPE, SIG_IGN);
	base = event_base_new();
	if (!base) {
		fprintf(stderr, "llmo server: cannot create the event loop\n");
		llmo_config_free(&cfg);
		log_close(&s);
		return 1;
	}
	if (llmo_apiserver_new(base, &opts, &srv, &err)) {
		fprintf(stderr, "llmo server: %s\n", err.msg);
		goto out;
	}
	s.base = base;
	s.api = srv;
	s.plain_http = opts.plain_http;
	s.gateway_host = gw_host;
	s.registry_host = reg_host;
	s.cfg = &cfg;
	s.data_dir = data_dir;
	s.trusted_keys = getenv("LLMO_TRUSTED_KEYS");
	status = serve(&s);
out:
	llmo_apiserver_free(srv);
	event_base_free(base);
	llmo_config_free(&cfg);
	log_close(&s);
	llmo_strv_release(&s.cmdline);
	return status;
}
