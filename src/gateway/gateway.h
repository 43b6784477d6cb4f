#ifndef LLMO_GATEWAY_H
#define LLMO_GATEWAY_H
/*
 * struct llmo_gateway: `llmo gateway`, the OpenAI-compatible router in
 * front of the model replicas. It serves
 *
 *     POST /v1/chat/completions, /v1/completions, /v1/embeddings
 *                       routed by the body's "model" to a replica of the
 *                       workload that serves it, answers streamed through
 *     GET  /v1/models   the model names it routes (GET /v1/models/ID: one)
 *     GET  /healthz     200 while the process runs
 *     GET  /readyz      200 once the backends are known (file loaded, or
 *                       the API's workloads and pods listed)
 *     GET  /metrics     Prometheus text
 *
 * Backends come from a static file (opts.backends_file, reloaded by
 * llmo_gateway_reload and, when opts.watch_ms > 0, when the file changes)
 * or from the API (opts.client: informers on LLMWorkloads and their pods;
 * the same code against a cluster and against `llmo server`). Replicas are
 * picked by prefix affinity and load (balance.h, prefix.h), the load
 * including what each replica's own /metrics says when opts.scrape_interval_ms
 * is set (scrape.h). docs/gateway.md describes routing, balancing, retries,
 * timeouts, errors and metrics.
 *
 * Threads: everything runs on the caller's event_base, which must not be
 * blocked by anything else (the informers' HTTP runs on their own threads
 * and hands results to this loop). Nothing here blocks: sockets are
 * non-blocking, upstream addresses are IP literals.
 */
#include "base/common.h"

#include "base/error.h"

struct event_base;
struct llmo_gateway;
struct llmo_kube_client;

/* Defaults (llmo_gateway_opts_init), each overridable in the options. */
#define LLMO_GATEWAY_PORT 8000
/* Request bodies over this get 413. */
#define LLMO_GATEWAY_BODY_MAX ((size_t)1 << 20)
/* Non-streaming answers over this are cut (the client sees the connection close). */
#define LLMO_GATEWAY_RESPONSE_MAX ((size_t)64 << 20)
/* Request head (request line and headers) over this gets 431. */
#define LLMO_GATEWAY_HEAD_MAX 16384
/* Backend response head over this is a 502. */
#define LLMO_GATEWAY_UPSTREAM_HEAD_MAX 65536
#define LLMO_GATEWAY_CONNECT_TIMEOUT_MS 5000
/* From the request sent to the answer's head (a non-streaming answer comes whole). */
#define LLMO_GATEWAY_FIRST_BYTE_TIMEOUT_MS 300000
/* Longest silence inside an answer (between SSE events too). */
#define LLMO_GATEWAY_IDLE_TIMEOUT_MS 60000
/* A client's whole request head must arrive within this (checked as its bytes come). */
#define LLMO_GATEWAY_CLIENT_HEAD_TIMEOUT_MS 30000
/* A client connection silent this long (between requests, or inside one) is closed. */
#define LLMO_GATEWAY_KEEPALIVE_TIMEOUT_MS 75000
/* A client that reads nothing of its answer for this long is dropped. */
#define LLMO_GATEWAY_CLIENT_WRITE_TIMEOUT_MS 60000
/* An idle backend connection in the pool is closed after this. */
#define LLMO_GATEWAY_POOL_IDLE_TIMEOUT_MS 60000
/* Extra attempts on other replicas after a connection failure or a 5xx before any byte. */
#define LLMO_GATEWAY_RETRIES 2
#define LLMO_GATEWAY_RETRIES_MAX 10
/* Connections per backend (busy ones; idle ones kept: LLMO_GATEWAY_POOL_IDLE_MAX). */
#define LLMO_GATEWAY_BACKEND_CONNS_MAX 1024
#define LLMO_GATEWAY_POOL_IDLE_MAX 256
/*
 * Connections being established to one backend at once; more requests wait
 * (at most the connect timeout) for one of them or for a pooled connection,
 * so that a burst of clients does not overflow a backend's listen backlog.
 */
#define LLMO_GATEWAY_CONNECTING_MAX 8
/* Client connections at once; past it the gateway stops accepting until one closes. */
#define LLMO_GATEWAY_CLIENTS_MAX 16384
/* Bytes of an answer waiting for a slow client before the backend is no longer read. */
#define LLMO_GATEWAY_CLIENT_BUFFER_MAX ((size_t)256 << 10)
/*
 * Scale from zero: requests for a model with no ready replica wait (at most
 * this many per model, at most this long) for one to become ready.
 */
#define LLMO_GATEWAY_HOLD_MAX 100
#define LLMO_GATEWAY_HOLD_TIMEOUT_MS 60000
/* `llmo gateway`'s backend metrics period (the library's default is 0: off). */
#define LLMO_GATEWAY_SCRAPE_MS 1000
/* How often the static file is checked for changes. */
#define LLMO_GATEWAY_WATCH_MS 1000

/* How a replica is chosen among a model's eligible ones (docs/gateway.md, Balancing). */
enum llmo_gateway_balance {
	LLMO_GATEWAY_BALANCE_PREFIX, /* prefix affinity, else least load (the default) */
	LLMO_GATEWAY_BALANCE_P2C,    /* least load: power of two choices */
};

struct llmo_gateway_opts {
	const char *host;	   /* address to listen on: "127.0.0.1" */
	int port;		   /* LLMO_GATEWAY_PORT; 0 picks a free port */
	const char *backends_file; /* static mode; NULL: API mode */
	struct llmo_kube_client *client; /* API mode (borrowed, outlives the gateway) */
	const char *ns;			 /* API mode: the namespace watched; NULL: all */
	int64_t connect_timeout_ms;
	int64_t first_byte_timeout_ms;
	int64_t idle_timeout_ms;
	int retries;		  /* 0 .. LLMO_GATEWAY_RETRIES_MAX */
	size_t body_max;	  /* request bodies */
	size_t response_max;	  /* non-streaming answers */
	int backend_conns_max;	  /* per backend */
	int clients_max;
	int breaker_failures;	  /* consecutive failures that open the breaker; 0: never */
	int64_t breaker_cooldown_ms;
	/*
	 * How often the backends file and the keys file are checked for changes
	 * (size, modification time, inode) and reloaded; 0: only on
	 * llmo_gateway_reload.
	 */
	int64_t watch_ms;
	uint64_t seed;	  /* balancer's random seed; 0: from the clock */
	/*
	 * API keys and tenants (keys.h), either mode; reloaded like the backends
	 * file. NULL: no keys, requests are anonymous.
	 */
	const char *keys_file;
	/*
	 * API mode, instead of keys_file: "namespace/name" of a Secret whose
	 * data "keys.yaml" is the keys file, watched. Until it loads, every
	 * inference request gets 401.
	 */
	const char *keys_secret;
	int hold_max;	  /* requests held per model without a ready replica; 0: 503 at once */
	int64_t hold_timeout_ms; /* how long one is held before a 503 */
	enum llmo_gateway_balance balance;
	size_t prefix_block;   /* bytes per prefix block (LLMO_GW_PREFIX_BLOCK_BYTES) */
	int prefix_busy;       /* in flight above the least loaded that makes a match busy */
	size_t prefix_entries; /* prefix blocks remembered (LLMO_GW_PREFIX_ENTRIES) */
	/*
	 * How often each backend's /metrics is read (scrape.h), and the most one
	 * scrape may take; 0 (the library's default): never. `llmo gateway`
	 * sets LLMO_GATEWAY_SCRAPE_MS.
	 */
	int64_t scrape_interval_ms;
	/*
	 * PEM files: with both, clients speak HTTPS (TLS 1.2 or later) on the
	 * listening port; read once by llmo_gateway_new, whose errors name the
	 * file. NULL, NULL: plain HTTP.
	 */
	const char *tls_cert, *tls_key;
	/*
	 * A PEM CA file: backends whose pods carry the annotation
	 * llm.orchestrator.io/tls-server-name (encrypted workloads) are reached
	 * over TLS, their certificate verified against it and that name; read
	 * once by llmo_gateway_new. NULL: such backends cannot be reached (the
	 * attempt fails as a connection failure). Other backends: plain HTTP.
	 */
	const char *upstream_ca;
};

/* The defaults above. */
void llmo_gateway_opts_init(struct llmo_gateway_opts *o);

/*
 * Checks opts, binds the listening socket (not accepting yet) and, in
 * static mode, loads the backends file (its errors are returned here).
 * opts and its strings are copied; the kube client is borrowed.
 * LLMO_EINVAL (bad options or file), LLMO_ENOTFOUND (no file), LLMO_EIO
 * (cannot listen), LLMO_ENOMEM.
 */
int llmo_gateway_new(struct event_base *base, const struct llmo_gateway_opts *opts,
		     struct llmo_gateway **out, struct llmo_error *err);

/* Starts accepting, and in API mode starts the informers. */
int llmo_gateway_start(struct llmo_gateway *gw, struct llmo_error *err);

/*
 * Reads the keys file (when there is one) and, in static mode, the backends
 * file again and swaps them in. On an error the old ones stay and the
 * error is returned (and logged). LLMO_EINVAL with neither file.
 */
int llmo_gateway_reload(struct llmo_gateway *gw, struct llmo_error *err);

/* The port bound (useful with port 0). */
int llmo_gateway_port(const struct llmo_gateway *gw);
/* Whether clients speak TLS (opts.tls_cert was given). */
bool llmo_gateway_tls(const struct llmo_gateway *gw);

/* Whether the backends are known (/readyz). */
bool llmo_gateway_ready(const struct llmo_gateway *gw);

/*
 * Closes every connection (requests in flight end abruptly), stops the
 * informers and frees gw. On the loop's thread, outside the gateway's own
 * callbacks. NULL is fine.
 */
void llmo_gateway_free(struct llmo_gateway *gw);

#endif
