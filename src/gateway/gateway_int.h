#ifndef LLMO_GATEWAY_INT_H
#define LLMO_GATEWAY_INT_H
/*
 * Internal to src/gateway: struct llmo_gateway, shared by gateway.c (life
 * cycle, backends sources, the admin endpoints) and proxy.c (connections,
 * requests, forwarding).
 */
#include "base/common.h"

#include <sys/socket.h>
#include <sys/stat.h>

#include <event2/util.h>

#include "base/buf.h"
#include "gateway/balance.h"
#include "gateway/conn.h"
#include "gateway/gateway.h"
#include "gateway/keys.h"
#include "gateway/table.h"

struct event;
struct evconnlistener;
struct llmo_informer;
struct llmo_metric;
struct llmo_metric_emitter;
struct llmo_metrics;
struct llmo__gw_client;
struct llmo__gw_scrape;

struct llmo_gateway {
	struct event_base *base;
	struct llmo__gw_io io;	    /* the loop and the read buffer all connections share */
	struct llmo_gateway_opts o; /* strings point at the copies below */
	char *host, *backends_file, *ns, *keys_file, *keys_secret;
	struct llmo_gw_keys *keys; /* NULL: no keys file, requests are anonymous */
	struct stat keys_st;	   /* the keys file's identity when last read */
	size_t logged_size[3];	   /* models, endpoints, names of the table last logged at info */
	char *secret_ns, *secret_name;	  /* opts.keys_secret, split */
	struct llmo_informer *secret_inf; /* on that Secret */
	struct event *secret_ev;	  /* reads it after a change */
	struct evconnlistener *listener;
	struct ssl_ctx_st *ssl_ctx; /* clients speak TLS (opts.tls_cert); NULL: plain HTTP */
	struct ssl_ctx_st *upstream_ctx; /* TLS to encrypted backends (opts.upstream_ca); NULL: none */
	bool warned_upstream_tls;	 /* the missing upstream CA was logged */
	int port;
	bool started;		 /* llmo_gateway_start ran */
	bool full;		 /* accepting paused at opts.clients_max connections */
	struct event *accept_ev; /* re-enables accepting after an accept error (EMFILE) */

	struct llmo_gw_backends backends;
	struct llmo_gw_table *table; /* current; never NULL */
	bool ready;
	struct llmo_gw_balance_opts bal;
	struct llmo_rng rng;
	struct llmo_gw_lru prefix; /* prefix block hash -> backend id; empty with --balance p2c */
	struct event *scrape_ev;	  /* every opts.scrape_interval_ms: scrape.c */
	struct llmo__gw_scrape *scrapes; /* in flight */

	struct llmo__gw_client *clients; /* every open client connection */
	size_t nclients;
	struct event *kick_ev;		   /* serves backends' waiting requests (proxy.c) */
	struct llmo_gw_backend *kick_list; /* the backends to serve, each with a reference */
	void *held;			   /* proxy.c: requests held for a ready replica */

	/* static mode: the file's identity when last loaded (watch_ev checks the keys file too) */
	struct event *watch_ev;
	struct stat file_st;
	bool file_loaded_once;

	/*
	 * API mode. The table is built whole once both informers have listed;
	 * after that each change marks the model ids it touches (a workload's,
	 * a pod's old and new workload label) and only those models are built
	 * again, after each batch of changes (rebuild_ev).
	 */
	struct llmo_informer *wl_inf, *pod_inf;
	struct event *rebuild_ev;
	struct llmo_hmap dirty;	    /* model ids to build again (values unused) */
	struct llmo_hmap lingering; /* ids of the models with a lingering endpoint */
	bool rebuild_all;	    /* the next rebuild builds the whole table */

	struct llmo_metrics *metrics;
	struct llmo_metric *m_requests, *m_duration, *m_ttfb, *m_upstream_errors, *m_attempts,
		*m_retries,
		*m_inflight, *m_endpoints, *m_clients, *m_pod_inflight, *m_tokens, *m_pending,
		*m_tenant_requests, *m_tenant_tokens, *m_rate_limited, *m_prefix, *m_scrapes,
		*m_backend_waiting, *m_backend_kv, *m_forbidden;
};

/* proxy.c: a new client connection on fd (accepted, non-blocking). */
void llmo__gw_client_accept(struct llmo_gateway *gw, int fd, const struct sockaddr *sa,
			    int salen);
/* proxy.c: closes every client connection and what it has in flight. */
void llmo__gw_clients_close_all(struct llmo_gateway *gw);
/* proxy.c: the kick_ev callback. */
void llmo__gw_kick(evutil_socket_t fd, short what, void *arg);
/*
 * A new connection to b (llmo__gw_conn_connect), over TLS when b has a
 * tls_name (checked against opts.upstream_ca). NULL when no socket could be
 * made, or b wants TLS and the gateway has no upstream CA (logged once).
 */
struct llmo__gw_conn *llmo__gw_backend_connect(struct llmo_gateway *gw,
					       struct llmo_gw_backend *b, int64_t timeout_ms,
					       const struct llmo__gw_conn_cbs *cbs, void *arg);
/* proxy.c: the table changed: held requests whose model has a ready replica go on. */
void llmo__gw_held_retry(struct llmo_gateway *gw);
/* proxy.c: requests held for the model with this id now. */
size_t llmo__gw_held_count(const struct llmo_gateway *gw, const char *id);
/* llmo_gateway_pending_requests{model}, made at each scrape (llmo_metric_set_collect). */
int llmo__gw_pending_collect(void *ctx, struct llmo_metric_emitter *e);
/* proxy.c: a backend's last reference went; closes its idle connections. */
void llmo__gw_backend_freed(void *ctx, struct llmo_gw_backend *b);

/* scrape.c: the scrape_ev callback: scrapes every backend that has no scrape in flight. */
void llmo__gw_scrape_tick(evutil_socket_t fd, short what, void *arg);
/* scrape.c: ends the scrapes in flight (their backends' references go). */
void llmo__gw_scrapes_stop(struct llmo_gateway *gw);

/*
 * gateway.c: the last request on a lingering backend (table.h) ended: the
 * models with a lingering endpoint are built again.
 */
void llmo__gw_linger_done(struct llmo_gateway *gw, struct llmo_gw_backend *b);
/* gateway.c: swaps t in as the current table (takes the caller's reference). */
void llmo__gw_table_swap(struct llmo_gateway *gw, struct llmo_gw_table *t);
/*
 * gateway.c: answers the admin paths (/healthz, /readyz, /metrics,
 * /v1/models[/ID]) into status, content type and body (body's max is set by
 * the caller). tenant (NULL: none) is the caller's, by its API key:
 * /v1/models lists only the models it may call (table.h: access control),
 * and /v1/models/ID of another is 404. 0, or LLMO_ENOTFOUND when the path
 * is not one of them.
 */
int llmo__gw_admin(struct llmo_gateway *gw, const char *path, size_t len, const char *tenant,
		   int *status, const char **content_type, struct llmo_buf *body);

#endif
