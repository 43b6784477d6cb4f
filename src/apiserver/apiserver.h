#ifndef LLMO_APISERVER_H
#define LLMO_APISERVER_H
/*
 * llmo's embedded Kubernetes-compatible API server: the REST API of the
 * served resources over HTTPS (or plain HTTP on loopback), backed by the
 * SQLite store, with discovery, OpenAPI, watches and Table output so that
 * kubectl and client libraries work against it as against kube-apiserver.
 * docs/embedded-server.md lists what is supported and every difference.
 */
#include "base/error.h"

struct event_base;
struct llmo_apiserver;

struct llmo_apiserver_opts {
	const char *data_dir;    /* state, PKI and kubeconfig; created if missing */
	const char *listen_host; /* "127.0.0.1" */
	int listen_port;         /* 6443; 0 picks a free port */
	bool plain_http;         /* only allowed on a loopback address */
	bool quiet;              /* no "listening" log line (tests embedding the server) */
	const char *token_file;  /* static bearer tokens (tokens.h), or NULL */
};

/*
 * Opens the store, installs the built-in and llmo resources and the CRDs in
 * the store, creates the PKI and kubeconfig on first start, and listens.
 * Runs on base (the caller runs the loop).
 */
int llmo_apiserver_new(struct event_base *base, const struct llmo_apiserver_opts *opts,
		       struct llmo_apiserver **out, struct llmo_error *err);
void llmo_apiserver_free(struct llmo_apiserver *srv);

/* The port actually bound (useful with listen_port 0). */
int llmo_apiserver_port(const struct llmo_apiserver *srv);
/*
 * Requests received so far, every kind (llmo_apiserver_requests_total of
 * /metrics, before it is split by status). Any thread: tests count what a
 * client asked of a server running on another.
 */
uint64_t llmo_apiserver_requests(const struct llmo_apiserver *srv);
/* The URL clients use ("https://127.0.0.1:6443"). */
const char *llmo_apiserver_url(const struct llmo_apiserver *srv);
/* The kubeconfig path written for clients. */
const char *llmo_apiserver_kubeconfig(const struct llmo_apiserver *srv);

#endif
