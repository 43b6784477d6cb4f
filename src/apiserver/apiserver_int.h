#ifndef LLMO_APISERVER_INT_H
#define LLMO_APISERVER_INT_H
/*
 * Internal to src/apiserver: the server's state and the functions its files
 * share (llmo__ prefix). Nothing outside src/apiserver includes this.
 */
#include "api/errlist.h"
#include "api/meta.h"
#include "apiserver/apiserver.h"
#include "apiserver/pki.h"
#include "apiserver/rbac.h"
#include "apiserver/rbac_cache.h"
#include "apiserver/satoken.h"
#include "apiserver/resource.h"
#include "apiserver/store.h"
#include "apiserver/tokens.h"
#include "base/buf.h"
#include "base/vec.h"

#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

/* kube-apiserver's limit on request bodies. */
#define LLMO_API_BODY_MAX (3 * 1024 * 1024)
/* Open watches at once; more get 429 (each holds a connection and a little memory). */
#define LLMO_API_WATCHES_MAX 10000
/* Watch history kept in the store for resuming watches. */
#define LLMO_API_HISTORY_KEEP 10000
/* The Kubernetes version this API answers as (kubectl warns on a large skew). */
#define LLMO_API_KUBE_MAJOR "1"
#define LLMO_API_KUBE_MINOR "31"
/* Idle timeout of client connections (a stream that sends nothing ends after it). */
#define LLMO_API_CONN_TIMEOUT_S 3600
/* Open pods/log streams at once; more get 429 (each holds two connections). */
#define LLMO_API_LOG_STREAMS_MAX 1000
/*
 * Log bytes waiting to be written to one slow client before its connection
 * is dropped: a log stream is forwarded, never buffered without bound.
 */
#define LLMO_API_LOG_CLIENT_BUFFER_MAX (4 * 1024 * 1024)

struct evdns_base;
struct llmo__watch;
struct llmo__logs;

/*
 * An answer held until the batch it depends on is committed (group commit):
 * exactly one of body, text or out holds it.
 */
struct llmo__pending {
	struct evhttp_request *req;
	int code;
	const char *type; /* Content-Type, a string literal */
	json_t *body;
	char *text; /* len bytes of serialised JSON */
	size_t len;
	struct evbuffer *out; /* a body built in a buffer (a list) */
	bool write;           /* the answer to a write (llmo__reply_written*), for /metrics */
};

/*
 * The request on_request is handling now: whether it read or wrote the
 * store since the open batch began decides whether its answer is held.
 */
struct llmo__current {
	struct evhttp_request *req; /* NULL between requests */
	uint64_t calls;             /* llmo_store_calls at its start or the last commit since */
	int lost; /* the failed commit's code when it used a batch rolled back: it answers 500 */
};

/*
 * Largest text llmo__row_dump makes: a request body is capped at 3 MiB
 * (LLMO_STORE_DATA_MAX) and defaults and managedFields add less than as much
 * again; the store refuses a row over LLMO_STORE_DATA_MAX in any case.
 */
#define LLMO_API_ROW_MAX (2 * LLMO_STORE_DATA_MAX)

struct llmo_apiserver {
	struct event_base *base;
	struct evhttp *http;
	struct evhttp_bound_socket *sock;
	struct ssl_ctx_st *ssl_ctx;
	struct llmo_store *store;
	struct llmo_rbac_cache rbac_cache; /* emptied by every committed RBAC change */
	struct llmo_resources resources;
	struct llmo_pki pki;
	struct llmo_user admin;    /* whoever has the admin token (system:masters) */
	struct llmo_tokens tokens; /* --token-file users */
	unsigned char sa_key[LLMO_SA_KEY_LEN]; /* signs ServiceAccount tokens (satoken.h) */
	char *data_dir;
	char *kubeconfig;
	char *url;
	int port;
	bool plain_http;
	LLMO_VEC(struct llmo__watch *) watches;
	LLMO_VEC(struct llmo__logs *) logs; /* open pods/log proxies (logs.c) */
	struct evdns_base *dns;             /* for agents named by host name; made on first use */
	struct event *compact_timer;
	/* group commit: the writes of one loop pass share one transaction (one fsync) */
	bool batch_open;
	struct event *flush_ev;
	LLMO_VEC(struct llmo__pending) pending;
	struct llmo__current current;
	/* the served CRDs are re-read between requests: a CRD write's batch committed or failed */
	bool crds_stale;
	int64_t started_ms;
	/* counters for /metrics */
	uint64_t requests_total;
	uint64_t requests_by_class[6]; /* 1xx .. 5xx by code / 100 */
	uint64_t watch_events_sent;
	uint64_t group_commits;       /* batches committed (one fsync each) */
	uint64_t group_commit_writes; /* write answers those batches held: writes per fsync */
};

/* One request to a resource URL, parsed. */
/* What a Table's rows carry as "object" (?includeObject=, as kube-apiserver reads it). */
enum llmo__include {
	LLMO__INCLUDE_METADATA, /* Metadata (the default): PartialObjectMetadata */
	LLMO__INCLUDE_NONE,     /* None: no object */
	LLMO__INCLUDE_OBJECT,   /* Object: the whole object (kubectl --sort-by asks for it) */
};

struct llmo__req {
	struct llmo_apiserver *srv;
	struct evhttp_request *req;
	enum evhttp_cmd_type cmd;
	struct evkeyvalq query;
	const struct llmo_resource *res;
	const struct llmo_user *user; /* who asks (authenticated and authorized) */
	char ns[LLMO_DNS1123_LABEL_MAX + 1];
	char name[LLMO_DNS1123_SUBDOMAIN_MAX + 1];
	char sub[32];
	bool has_name;
	bool want_table;
	enum llmo__include include; /* a Table's rows' object: ?includeObject= */
	int64_t grace; /* a delete's gracePeriodSeconds; -1: the object's default */
};

/* ---- responses (apiserver.c) ---- */

/* Sends body (stolen) as JSON with code. */
void llmo__reply_json(struct evhttp_request *req, int code, json_t *body);
/* The same with another Content-Type (aggregated discovery's). */
void llmo__reply_json_type(struct evhttp_request *req, int code, json_t *body,
			   const char *content_type);
/*
 * Sends a Kubernetes Status failure: code, reason ("NotFound"), message, and
 * details (stolen; may be NULL).
 */
void llmo__reply_status(struct evhttp_request *req, int code, const char *reason, json_t *details,
			const char *fmt, ...) LLMO_PRINTF(5, 6);
/* 422 Invalid with one cause per problem in errs, for object kind/name. */
void llmo__reply_invalid(struct evhttp_request *req, const struct llmo_resource *res,
			 const char *name, const struct llmo_errlist *errs);
/* 404 NotFound naming the object as kube-apiserver does. */
void llmo__reply_not_found(struct evhttp_request *req, const struct llmo_resource *res,
			   const char *name);

/*
 * Group commit. Every write calls llmo__write_begin first: the writes of one
 * event-loop pass go into one store transaction, committed (one fsync) when
 * the pass ends. While that batch is open, every answer of a request that
 * read or wrote the store (a success, a 409 or 404 that an uncommitted write
 * caused, a GET that saw one, a 403 from an uncommitted binding) waits
 * until the commit: the llmo__reply_* functions hold it. If the commit
 * fails, each held answer becomes a 500 saying that storage failed; so
 * nothing is ever answered from state that was then rolled back. Answers of
 * requests that did not touch the store (a 400 for a bad body) go at once.
 * Streams (watches, pods/log) cannot be held: they llmo__flush first.
 * llmo__flush commits now (a no-op without a batch).
 */
void llmo__write_begin(struct llmo_apiserver *srv);
/* llmo__reply_json for a write (held as every answer is; srv given, not looked up). */
void llmo__reply_written(struct llmo_apiserver *srv, struct evhttp_request *req, int code,
			 json_t *body);
/* The same with the answer already serialised: text (len bytes, stolen). */
void llmo__reply_written_text(struct llmo_apiserver *srv, struct evhttp_request *req, int code,
			      char *text, size_t len);
/* Sends the JSON in out (drained, still the caller's) with code: a list built in a buffer. */
void llmo__reply_json_buffer(struct evhttp_request *req, int code, struct evbuffer *out);
void llmo__flush(struct llmo_apiserver *srv);
/*
 * Commits the open batch before req starts a stream; false when req itself
 * read that batch and the commit failed (then req has its 500).
 */
bool llmo__flush_for_stream(struct llmo_apiserver *srv, struct evhttp_request *req);

/* ---- objects ---- */

/* Parses a stored row into an object with apiVersion, kind and resourceVersion set. */
json_t *llmo__object_from_row(const struct llmo_resource *res, const char *data, int64_t rv);
/*
 * obj (an object whose metadata has no resourceVersion) as compact JSON for
 * the store, and in *meta_at the offset just inside its metadata object's
 * '{' (0 when there is no metadata object), where llmo__row_with_rv puts the
 * resourceVersion. The top level is written key by key only to learn that
 * offset: the answer to a write is then the stored text plus the
 * resourceVersion, not a second serialisation. NULL when out of memory or
 * over LLMO_API_ROW_MAX. Caller frees.
 */
char *llmo__row_dump(const json_t *obj, size_t *meta_at);
/*
 * Appends to out sep and the text a reader of the stored row gets (what
 * llmo__object_from_row's object serialises to) without parsing it: the
 * row with "resourceVersion":"rv" first in its metadata, when the row is an
 * object whose apiVersion and kind are res's and whose metadata has no
 * resourceVersion. Otherwise (or out of memory) false, and nothing is
 * appended: the caller parses the row. A list of thousands of objects spent
 * nine tenths of its time parsing rows and writing them out again.
 */
bool llmo__row_text(const struct llmo_resource *res, const char *row, int64_t rv,
		    const char *sep, struct evbuffer *out);
/*
 * row (from llmo__row_dump) with "resourceVersion":"rv" first in its
 * metadata: the text a reader of the object gets. *len gets its length.
 * NULL when out of memory or meta_at is 0. Caller frees.
 */
char *llmo__row_with_rv(const char *row, size_t meta_at, int64_t rv, size_t *len);
/* "group/resource" for messages: "llmworkloads.llm.orchestrator.io", "pods". */
void llmo__qualified_name(const struct llmo_resource *res, char *out, size_t n);
/* The value at a simple JSONPath (".spec.replicas", ".metadata.labels.app"), borrowed. */
json_t *llmo__jsonpath(const json_t *obj, const char *path);

/* ---- the parts ---- */

/* The aggregated discovery documents a client may ask for (discovery.c). */
enum llmo__aggregated { LLMO__AGG_NONE, LLMO__AGG_V2, LLMO__AGG_V2BETA1 };
/*
 * The first APIGroupDiscoveryList version (apidiscovery.k8s.io v2 or
 * v2beta1, as application/json) an Accept header value lists, or LLMO__AGG_NONE
 * (also for NULL and for values longer than 4 KiB).
 */
enum llmo__aggregated llmo__accept_aggregated(const char *accept);

/*
 * POST selfsubjectaccessreviews: answers whether r->user may do what the
 * body asks; POST selfsubjectreviews: says who r->user is (handlers.c).
 */
void llmo__handle_access_review(struct llmo__req *r);
void llmo__handle_self_review(struct llmo__req *r);
/* POST selfsubjectrulesreviews: the rules r->user has in spec.namespace (handlers.c). */
void llmo__handle_rules_review(struct llmo__req *r);

void llmo__handle_resource(struct llmo__req *r);                              /* handlers.c */
bool llmo__handle_discovery(struct llmo_apiserver *srv, struct evhttp_request *req,
			    const char *path);                                      /* discovery.c */
json_t *llmo__table(const struct llmo_resource *res, const json_t *items, const char *rv,
		    enum llmo__include include);                               /* table.c */
void llmo__watch_start(struct llmo__req *r);                                  /* watch.c */
int llmo__watch_observer(void *ctx, const struct llmo_store_event *ev);     /* watch.c */
void llmo__watch_close_all(struct llmo_apiserver *srv);                       /* watch.c */
/* Ends the watches on custom resources (their definitions are about to be rebuilt). */
void llmo__watch_close_crd(struct llmo_apiserver *srv);                       /* watch.c */

/*
 * GET pods/NAME/log: proxies to the node agent running the pod (logs.c).
 * pod is the stored Pod; r->query holds the log options. Replies (now or
 * when the agent answers); r need not outlive the call.
 */
void llmo__logs_start(struct llmo__req *r, const json_t *pod);                  /* logs.c */
/* Ends every open log stream (the server is stopping). */
void llmo__logs_close_all(struct llmo_apiserver *srv);                        /* logs.c */

/* Writes path through store hooks that keep the CRD registry in sync (handlers.c). */
int llmo__crd_sync(struct llmo_apiserver *srv, struct llmo_error *err);

#endif
