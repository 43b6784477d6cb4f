#ifndef LLMO_GATEWAY_TABLE_H
#define LLMO_GATEWAY_TABLE_H
/*
 * struct llmo_gw_table: the gateway's routing table, an immutable snapshot
 * of which model names go to which replicas, and struct llmo_gw_backend,
 * one replica's address with its load, health and connection pool.
 *
 *     model name ("llama2:7b", "my-llm-workload", an alias)
 *         -> struct llmo_gw_model (one workload, or one entry of the static file)
 *             -> endpoints: backend + the model name it serves + track + weight
 *
 * A table is built whole (from the static backends file, or from the API's
 * workloads and pods at start, source.h) and swapped in, or changed one
 * model at a time (llmo_gw_table_remove_model, then the model built again:
 * what the API's changes do, so that a pod's change costs its workload's
 * entries, not the whole table). A model, once its endpoints are added, is
 * never changed: a change builds a new one. Requests in flight keep a
 * reference to the model they were routed with, so neither a swap nor a
 * model's replacement pulls an endpoint from under them. Backends are shared between tables through a
 * registry keyed by address, so their load, circuit-breaker state and idle
 * connections survive swaps; a backend lives while a table or a request
 * holds a reference.
 *
 * Name conflicts (two models claiming one name) are settled the same way on
 * every build: the lower priority value wins (a workload's own name 0, an
 * alias 1, modelName:modelVersion 2), then the smaller model id (bytes).
 *
 * Threads: none; everything here belongs to the gateway's loop.
 */
#include "base/common.h"

#include <sys/socket.h>

#include "base/error.h"
#include "base/hmap.h"
#include "base/vec.h"

/* Models in one table, endpoints of one model, names of one model. */
#define LLMO_GW_MODELS_MAX 10000
#define LLMO_GW_ENDPOINTS_MAX 1024
#define LLMO_GW_NAMES_MAX 64
/* Largest endpoint weight. */
#define LLMO_GW_WEIGHT_MAX 10000
/* Longest "host:port" address text, and longest track name. */
#define LLMO_GW_ADDR_MAX 64
/* Longest server name a backend's TLS certificate is checked against (a DNS name). */
#define LLMO_GW_TLS_NAME_MAX 253
#define LLMO_GW_TRACK_MAX 63
/* Tracks of one model (status.tracks), and the largest track weight. */
#define LLMO_GW_TRACKS_MAX 16
#define LLMO_GW_TRACK_WEIGHT_MAX 100
/*
 * Tenants named by one model's access list (spec.security.accessControl),
 * and the longest name kept (a longer one can name no tenant: keys.h).
 */
#define LLMO_GW_ACCESS_MAX 1024
#define LLMO_GW_ACCESS_NAME_MAX 63
/* Longest name of the header an A/B test is sticky by. */
#define LLMO_GW_HEADER_NAME_MAX 128

/* Name priorities (lower wins a conflict). */
#define LLMO_GW_PRIO_NAME 0
#define LLMO_GW_PRIO_ALIAS 1
#define LLMO_GW_PRIO_MODEL 2

struct llmo_gw_backends;
struct llmo_series;

/* One replica address. Fields below `refs` belong to the balancer and the proxy. */
struct llmo_gw_backend {
	char addr[LLMO_GW_ADDR_MAX + 1]; /* "10.0.0.5:8000", "[::1]:8000" */
	/* TLS: the name its certificate must carry (an encrypted workload's); "": plain HTTP */
	char tls_name[LLMO_GW_TLS_NAME_MAX + 1];
	struct sockaddr_storage sa;
	socklen_t salen;
	int refs; /* tables naming it and attempts using it */
	struct llmo_gw_backends *registry;
	uint64_t id; /* unique in its registry, never reused (prefix affinity remembers it) */

	int inflight;	   /* requests sent and not finished */
	int conns;	   /* open connections, busy and idle */
	int fails;	   /* consecutive failures */
	int64_t open_until; /* circuit breaker: skipped until this monotonic ns */
	bool probing;	   /* half-open: the one trial request is out */

	void *idle;			   /* the proxy's idle-connection list */
	int nidle;			   /* connections in it */
	int connecting;			   /* connections not yet established */
	void *waiters, *waiters_tail;	   /* the proxy's requests waiting for a connection */
	bool kick_pending;		   /* the proxy will serve the waiters soon */
	struct llmo_gw_backend *kick_next; /* in the proxy's list of those */
	struct llmo_series *inflight_gauge; /* llmo_gateway_inflight{backend} */
	struct llmo_series *pod_gauge;	    /* llmo_gateway_pod_inflight{...}; NULL: none */
	void *series; /* the proxy's per-model series of this backend's requests; NULL: none */
	/* from its own /metrics (scrape.h); 0 when not scraped or the last scrape failed */
	void *scrape;	 /* the scrape in flight, or NULL */
	int waiting;	 /* vllm:num_requests_waiting: counted into its load */
	double kv_usage; /* vllm:gpu_cache_usage_perc */
	bool scraped;	 /* the last scrape succeeded and named one of them */
	/*
	 * An endpoint of a model in the table lingers on it (draining, not
	 * Ready, requests in flight): the gateway builds that model again when
	 * they are done.
	 */
	bool linger;
};

/*
 * The registry of backends by address. on_free (may be NULL) runs when a
 * backend's last reference goes, before it is freed (the proxy closes its
 * idle connections there).
 */
struct llmo_gw_backends {
	struct llmo_hmap by_addr;
	uint64_t next_id; /* the last id given to a backend */
	void (*on_free)(void *ctx, struct llmo_gw_backend *b);
	void *ctx;
};

void llmo_gw_backends_init(struct llmo_gw_backends *r, void (*on_free)(void *ctx,
						  struct llmo_gw_backend *b),
			   void *ctx);
/* Every backend must have been released (the tables and requests are gone). */
void llmo_gw_backends_release(struct llmo_gw_backends *r);

/*
 * Parses "IPv4:port", "[IPv6]:port" or "localhost:port" (127.0.0.1). Host
 * names are refused: resolving them would block the loop. 0 or LLMO_EINVAL
 * with a message naming the address. canon (LLMO_GW_ADDR_MAX + 1 bytes, may
 * be NULL) receives the canonical text.
 */
int llmo_gw_addr_parse(const char *addr, struct sockaddr_storage *sa, socklen_t *salen,
		       char *canon, struct llmo_error *err);

/* The backend at addr with one more reference, made when new. LLMO_EINVAL, LLMO_ENOMEM. */
int llmo_gw_backend_get(struct llmo_gw_backends *r, const char *addr,
			struct llmo_gw_backend **out, struct llmo_error *err);
/* The backend at addr if one exists (no reference taken), else NULL. */
struct llmo_gw_backend *llmo_gw_backend_find(struct llmo_gw_backends *r, const char *addr);
void llmo_gw_backend_ref(struct llmo_gw_backend *b);
void llmo_gw_backend_unref(struct llmo_gw_backend *b);

struct llmo_gw_endpoint {
	struct llmo_gw_backend *backend; /* a reference, held by the table */
	char *served;			 /* the model name this endpoint serves */
	char *served_json;		 /* served as a JSON string, quotes included */
	char *track;			 /* "stable", "canary", ... */
	uint32_t weight;		 /* 1 .. LLMO_GW_WEIGHT_MAX */
	bool draining;			 /* terminating: never picked for a new request */
	/*
	 * API mode: draining and not Ready, listed only while requests are in
	 * flight on its backend (source.h); the model is to be built again
	 * once they are done.
	 */
	bool linger;
	char *pod;			 /* API mode: the pod's name (metrics); else NULL */
};

/* One traffic split arm (an LLMWorkload's status.tracks[] entry). */
struct llmo_gw_track {
	char *name;
	uint32_t weight; /* 0 .. LLMO_GW_TRACK_WEIGHT_MAX */
};

/* What a sticky (A/B) track choice is keyed by. */
enum llmo_gw_sticky { LLMO_GW_STICKY_NONE, LLMO_GW_STICKY_TENANT, LLMO_GW_STICKY_HEADER };

struct llmo_gw_model {
	int refs;	/* the table's, and each request's routed to it */
	size_t slot;	/* its index in its table's models, while in one */
	char *id;				  /* static name, or "namespace/workload" */
	char *ns, *workload;			  /* API mode: the workload's; else NULL */
	LLMO_VEC(struct llmo_gw_endpoint) eps;
	LLMO_VEC(char *) names;			  /* the names it answers to (own copies) */
	/*
	 * Traffic split: when a track has weight > 0 a request first picks a
	 * track by weight among those with an eligible endpoint, then an
	 * endpoint of that track (balance.h).
	 */
	LLMO_VEC(struct llmo_gw_track) tracks;
	enum llmo_gw_sticky sticky; /* the track choice is sticky (A/B test) */
	char *sticky_header;	    /* LLMO_GW_STICKY_HEADER: the header's name */
	/*
	 * Access control: when restricted, only the tenants in access may call
	 * it, and anonymous requests (no keys configured) may not. A list whose
	 * entries were all dropped (too long, past LLMO_GW_ACCESS_MAX) stays
	 * restricted: the gateway fails closed.
	 */
	bool restricted;
	LLMO_VEC(char *) access; /* tenant names (own copies) */
	/*
	 * The OpenAI paths it serves (LLMO_GW_API_* bits), from its model type
	 * (llmo_gw_api_of_type); 0: every path.
	 */
	unsigned apis;
};

/* The OpenAI paths a model may be called on. */
#define LLMO_GW_API_COMPLETIONS 1u /* /v1/completions */
#define LLMO_GW_API_CHAT 2u	   /* /v1/chat/completions */
#define LLMO_GW_API_EMBEDDINGS 4u  /* /v1/embeddings */

/*
 * The paths a model of type (LLMWorkload spec.modelType) serves:
 * text-generation and code-generation both completion APIs, chat the chat
 * API, embedding the embeddings API; classification, NULL or an unknown type
 * every path (0). *known (may be NULL) says whether type was recognised.
 */
unsigned llmo_gw_api_of_type(const char *type, bool *known);
/* "/v1/completions" ... for one LLMO_GW_API_* bit; the list "/v1/a or /v1/b" for several. */
void llmo_gw_api_paths(unsigned apis, char *out, size_t n);

struct llmo_gw_table {
	int refs;
	LLMO_VEC(struct llmo_gw_model *) models; /* in no particular order */
	size_t neps;		/* endpoints of all the models */
	/*
	 * name -> struct name_entry (private): the model it leads to, and every
	 * other model's claim on it, so that removing a model hands its names
	 * to the next best claim without a look at the other models.
	 */
	struct llmo_hmap names;
	struct llmo_hmap ids;   /* model id -> its struct llmo_gw_model (borrowed from models) */
};

/* An empty table with one reference. LLMO_ENOMEM. */
int llmo_gw_table_new(struct llmo_gw_table **out);
void llmo_gw_table_ref(struct llmo_gw_table *t);
/* Drops a reference; the last frees the table and releases its backends. NULL is fine. */
void llmo_gw_table_unref(struct llmo_gw_table *t);

/* A reference on m, for a request routed to it. */
void llmo_gw_model_ref(struct llmo_gw_model *m);
/* Drops one; the last frees m and releases its backends. NULL is fine. */
void llmo_gw_model_unref(struct llmo_gw_model *m);

/*
 * Takes m out of t: its names go to the next best claim (as a table built
 * without m would have them), and t's reference goes (requests routed to
 * m keep theirs).
 */
void llmo_gw_table_remove_model(struct llmo_gw_table *t, struct llmo_gw_model *m);

/* Adds a model with id (unique in the table: LLMO_EEXIST otherwise). */
int llmo_gw_table_add_model(struct llmo_gw_table *t, const char *id, struct llmo_gw_model **out,
			    struct llmo_error *err);
/*
 * Makes name lead to m unless a model with a better claim (priority, then
 * id) has it. Adding a name m already has is a no-op. LLMO_ERANGE past
 * LLMO_GW_NAMES_MAX names of m.
 */
int llmo_gw_table_add_name(struct llmo_gw_table *t, struct llmo_gw_model *m, const char *name,
			   int priority, struct llmo_error *err);
/*
 * Adds an endpoint of m at backend address addr (the table takes its own
 * reference from r). track NULL: "stable"; weight 0: 1.
 */
int llmo_gw_table_add_endpoint(struct llmo_gw_table *t, struct llmo_gw_backends *r,
			       struct llmo_gw_model *m, const char *addr, const char *served,
			       const char *track, uint32_t weight, bool draining,
			       struct llmo_error *err);

/*
 * Adds a split arm to m (after the others: the order is the one sticky keys
 * are mapped onto). LLMO_EINVAL (empty or too long a name, a weight over
 * LLMO_GW_TRACK_WEIGHT_MAX, a name twice), LLMO_ERANGE (over
 * LLMO_GW_TRACKS_MAX), LLMO_ENOMEM.
 */
int llmo_gw_model_add_track(struct llmo_gw_model *m, const char *name, uint32_t weight,
			    struct llmo_error *err);
/* Makes m's track choice sticky by tenant or by the header named header. */
int llmo_gw_model_set_sticky(struct llmo_gw_model *m, enum llmo_gw_sticky by, const char *header,
			     struct llmo_error *err);
/*
 * Makes m restricted and, when tenant fits (1 to LLMO_GW_ACCESS_NAME_MAX
 * bytes) and m has fewer than LLMO_GW_ACCESS_MAX, lets tenant call it.
 * LLMO_EINVAL (a name that does not fit: m stays restricted without it),
 * LLMO_ERANGE (too many), LLMO_ENOMEM.
 */
int llmo_gw_model_allow(struct llmo_gw_model *m, const char *tenant, struct llmo_error *err);
/*
 * Whether tenant (NULL: an anonymous request, no keys configured; or the
 * caller of /v1/models without a valid key) may call m.
 */
bool llmo_gw_model_allows(const struct llmo_gw_model *m, const char *tenant);
/* Whether m splits its traffic: a track has weight > 0. */
bool llmo_gw_model_split(const struct llmo_gw_model *m);
/* The model with this id, or NULL. */
struct llmo_gw_model *llmo_gw_table_model(const struct llmo_gw_table *t, const char *id);

/* The model name (len bytes, any bytes) leads to, or NULL. */
struct llmo_gw_model *llmo_gw_table_lookup(const struct llmo_gw_table *t, const char *name,
					   size_t len);

/*
 * Calls fn for each name that leads somewhere, sorted by name, with the
 * model it leads to. A non-zero return stops and is returned.
 */
int llmo_gw_table_each_name(const struct llmo_gw_table *t,
			    int (*fn)(void *ctx, const char *name, const struct llmo_gw_model *m),
			    void *ctx);

/* Endpoints of m that are not draining. */
size_t llmo_gw_model_ready(const struct llmo_gw_model *m);

#endif
