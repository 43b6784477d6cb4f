#ifndef LLMO_REGISTRY_INT_H
#define LLMO_REGISTRY_INT_H
/*
 * Private to src/registry: the registry object, its HTTP/1.1 connections
 * (http.c) and the request handlers (registry.c, blobs.c, manifests.c).
 *
 * Life of a request: http.c reads the head (at most
 * LLMO_REGISTRY_HEAD_MAX), parses it with gateway/http1.h's strict parser
 * and hands a struct llmo__reg_req to llmo__reg_dispatch. The handler
 * either answers at once, or sets req->on_data / req->on_end (and
 * req->on_abort) to take the body: http.c then feeds it the body bytes as
 * they arrive (de-chunked), calls on_end when the body is complete, and
 * on_abort instead when the connection goes away first. Every request is
 * answered exactly once, with llmo__reg_respond*, llmo__reg_error or
 * llmo__reg_respond_file; after an answer given before the body was read
 * the connection is closed.
 */
#include "base/common.h"

#include <openssl/ssl.h>

#include "base/buf.h"
#include "base/error.h"
#include "base/hmap.h"
#include "gateway/http1.h"
#include "registry/auth.h"
#include "registry/hasher.h"
#include "registry/registry.h"
#include "registry/route.h"
#include "registry/s3jobs.h"
#include "registry/store.h"

struct event;
struct evconnlistener;
struct llmo_metrics;
struct llmo_metric;
struct llmo__reg_conn;
struct llmo__reg_fetch;
struct llmo__reg_upkeep;
struct llmo__reg_req;

/*
 * Requests waiting for something on the loop, oldest first (s3req.c): the
 * turn of record changes, the restore at start. A request waits in one
 * queue at a time (req->queue).
 */
struct llmo__reg_queue {
	struct llmo__reg_req *head, *tail;
};

/* Seconds between tries of a restore of the records from S3 that failed (upkeep.c). */
#define LLMO_REGISTRY_RESTORE_RETRY_S 5

struct llmo_registry {
	struct event_base *base;
	char *host;             /* the listen address (owned) */
	int listen_port;        /* as asked (0: any) */
	int64_t upload_idle_ms;
	int max_versions; /* 0: versions are not pruned */
	int64_t gc_interval_ms; /* 0: no periodic collection */
	struct event *gc_ev;    /* its timer (one-shot, armed again after each try) */
	bool gc_on_delete; /* autoCleanup: a manifest DELETE collects the garbage (upkeep.c) */
	int64_t gc_grace_ms;
	struct evconnlistener *listener;
	struct event *accept_ev; /* re-enables the listener after a failed accept */
	SSL_CTX *ssl_ctx; /* NULL: plain HTTP */
	enum llmo_registry_sendfile sendfile;
	int port;
	struct llmo_reg_store *store;
	struct llmo_reg_hasher *hasher; /* verifies large blobs beside their sending */
	struct llmo_reg_s3jobs *s3jobs; /* storageType s3: blob transfers off the loop */
	/* digest hex -> struct llmo__reg_fetch *: the fetches from S3 in progress, each
	 * shared by every request waiting for that blob (s3req.c) */
	struct llmo_hmap s3_fetches;
	/*
	 * Record changes (s3req.c), made one at a time in the order asked so
	 * that S3 and the directory take them in the same order: the request
	 * that holds the turn plans its change in recs, its S3 steps run on a
	 * worker (rec_job), and the others wait in the queue (rec_queue).
	 */
	bool rec_busy;                     /* the turn is taken */
	struct llmo__reg_req *rec_holder;  /* by this request; NULL: it went away, rec_job runs on */
	struct llmo_reg_s3_job *rec_job;   /* the holder's S3 steps in progress */
	struct llmo_reg_recs recs;         /* the holder's plan */
	struct llmo__reg_queue rec_queue;  /* waiting for the turn */
	struct event *rec_ev;              /* hands the turn on, from the loop */
	/* the registry's own work holding the turn (upkeep.c): the restore at
	 * start, or the holder's autoCleanup; NULL when none runs */
	struct llmo__reg_upkeep *upkeep;
	/* S3 at start: the records are being restored; reads of them wait (rst_queue) */
	bool restoring;
	bool restore_failed;          /* the last try failed (restore_err); reads get 503 */
	struct llmo_error restore_err;
	struct llmo__reg_queue rst_queue; /* reads waiting for it */
	struct event *restore_ev;     /* tries a failed restore again */
	int lock_fd; /* DIR/lock held shared: keeps `llmo registry gc` off (gc.h) */
	/* the tokens now (tokens.c): a request holds the generation it started with */
	struct llmo__reg_auth *auth;
	struct llmo__reg_tokens *tokens; /* where they come from, watched for changes */
	struct llmo_metric *m_token_reloads; /* by source and result */
	struct llmo_metric *m_tokens;        /* tokens known */
	struct event *expire_ev; /* removes idle upload sessions */
	size_t nconns;
	struct llmo__reg_conn *conns; /* every open connection (a list through conn->next) */
	struct llmo_metrics *metrics;
	struct llmo_metric *m_requests;  /* by method and code */
	struct llmo_metric *m_bytes_in;  /* blob bytes received */
	struct llmo_metric *m_bytes_out; /* blob bytes sent */
	struct llmo_metric *m_corrupt;   /* blobs found not to match their digest */
	struct llmo_metric *m_verified;  /* verified reads, by source (hash, cache) */
	struct llmo_metric *m_uploads;   /* upload sessions open */
	struct llmo_metric *m_s3_cache;  /* s3: blob reads by cache result (hit, miss) */
	struct llmo_metric *m_s3_active; /* s3: blob transfers queued or running */
	struct llmo_metric *m_s3_evictions;   /* s3: blobs evicted from the cache */
	struct llmo_metric *m_s3_cache_bytes; /* s3: bytes cached */
	struct llmo_metric *m_upkeep_failures; /* cleanups and restores that failed, by job */
	struct llmo_metric *m_gc_runs;         /* collections that ended, by trigger */
	struct llmo_metric *m_gc_bytes;        /* bytes they removed */
	uint64_t evictions_seen; /* the store's eviction count last added to m_s3_evictions */
};

enum llmo__reg_method {
	LLMO__REG_GET = 1,
	LLMO__REG_HEAD,
	LLMO__REG_PUT,
	LLMO__REG_POST,
	LLMO__REG_PATCH,
	LLMO__REG_DELETE,
	LLMO__REG_OTHER,
};

struct llmo__reg_req;
/* Body callbacks: on_data returns 0 to go on; non-zero after it has answered (an error). */
typedef int (*llmo__reg_data_fn)(struct llmo__reg_req *req, const char *p, size_t n);
typedef void (*llmo__reg_req_fn)(struct llmo__reg_req *req);

struct llmo__reg_req {
	struct llmo_registry *reg;
	struct llmo__reg_conn *conn;
	enum llmo__reg_method method;
	const char *method_name;
	/* The head; strings are NUL-terminated and live as long as the request. */
	const char *path;  /* before '?' */
	const char *query; /* after '?', "" when none */
	size_t path_len, query_len;
	const struct llmo_gw_request_head *head;
	bool has_body; /* Content-Length > 0 or chunked */
	int64_t content_length; /* -1: chunked */
	struct llmo_reg_route route;
	struct llmo__reg_auth *auth; /* held until the request is freed; who lives in it */
	const struct llmo_reg_principal *who;
	char actions_needed[32]; /* for the 401/403 scope text */
	/* body handling, set by the handler */
	llmo__reg_data_fn on_data;
	llmo__reg_req_fn on_end;
	llmo__reg_req_fn on_abort; /* the connection went away before the answer */
	uint64_t body_seen;        /* body bytes handed to on_data */
	/* handler state */
	struct llmo_buf body;            /* manifests: the body so far */
	struct llmo_reg_upload *upload;  /* uploads: the session written to */
	bool monolithic;                 /* POST ?digest=: the session is the request's own */
	bool has_digest;                 /* PUT/POST ?digest= */
	size_t refs_fetched;             /* referrers: those before it were fetched (or failed) */
	struct llmo_digest digest;
	int64_t del_stored_ns; /* a manifest DELETE: its revision's mtime before it (gc.h) */
	/* an upload whose session ended, still to be linked (S3: blobs.c, finish_stored) */
	char up_repo[LLMO_REG_NAME_MAX + 1];
	uint64_t up_size;
	/* waiting for S3 on a worker thread (s3req.c) */
	struct llmo_reg_s3_job *s3_job; /* its own transfer in progress (HEAD, PUT); or */
	uint64_t s3_size;               /* RECORDS: the steps S3 took */
	struct llmo__reg_fetch *s3_fetch; /* the shared fetch it waits for; NULL when none */
	llmo__reg_req_fn s3_again;      /* called on the loop when it ends */
	bool s3_done;                   /* its result is below, for the handler's next run */
	enum llmo_reg_s3_op s3_op;
	struct llmo_digest s3_digest;
	int s3_rc;
	struct llmo_error s3_err;
	/* waiting in a queue (the turn of record changes, the restore at start) */
	struct llmo__reg_queue *queue; /* NULL: in none */
	struct llmo__reg_req *queue_next;
	llmo__reg_req_fn rec_again;
	/* the blob whose file the answer sends: kept in the S3 cache until the request ends */
	bool pinned;
	struct llmo_digest pin;
	/* the answer */
	struct llmo_buf headers; /* extra header lines, "Name: value\r\n" each */
	bool answered;
	int status;
};

/* ---- http.c ---- */

int llmo__reg_http_listen(struct llmo_registry *r, struct llmo_error *err);
/* Closes the listener and every connection (on_abort is called for requests in flight). */
void llmo__reg_http_stop(struct llmo_registry *r);

/* The value of header name (any case), NUL-terminated, or NULL. */
const char *llmo__reg_header(const struct llmo__reg_req *req, const char *name);

/* Adds a response header line (value formatted). */
void llmo__reg_add_header(struct llmo__reg_req *req, const char *name, const char *fmt, ...)
	LLMO_PRINTF(3, 4);

/*
 * Answers with len bytes of body (copied; for HEAD only the length is
 * sent). content_type may be NULL (no Content-Type).
 */
void llmo__reg_respond(struct llmo__reg_req *req, int status, const char *content_type,
		       const void *body, size_t len);
/* Answers a HEAD: the headers of a body of len bytes, no body. */
void llmo__reg_respond_head(struct llmo__reg_req *req, int status, const char *content_type,
			    uint64_t len);
/*
 * Answers with len bytes of the file fd from offset first (fd is taken
 * and closed at the end), sent as the client reads. When verify is not
 * NULL the bytes (the whole file, first == 0) are hashed as they are sent
 * and the last piece is held back until the digest matches *verify: on a
 * mismatch the connection is closed short of the announced length, so the
 * client never sees a complete wrong blob.
 */
void llmo__reg_respond_file(struct llmo__reg_req *req, int status, const char *content_type,
			    int fd, uint64_t first, uint64_t len, const struct llmo_digest *verify);

/*
 * A handler that waits for a worker thread (s3req.c): the read timeout is
 * off meanwhile (the client is waiting for the answer, not sending).
 */
void llmo__reg_wait(struct llmo__reg_req *req);
/*
 * On the loop when the wait ends: calls fn(req), which answers or waits
 * again, then goes on with the connection (the next request, or closing).
 */
void llmo__reg_resume(struct llmo__reg_req *req, llmo__reg_req_fn fn);

/* ---- s3req.c: storageType s3 transfers on worker threads (s3jobs.h) ---- */

/* req (in no queue) waits at q's end; the first of q leaves it (NULL when empty). */
void llmo__reg_queue_push(struct llmo__reg_queue *q, struct llmo__reg_req *req);
struct llmo__reg_req *llmo__reg_queue_pop(struct llmo__reg_queue *q);
/* req leaves the queue it waits in, if any. */
void llmo__reg_queue_leave(struct llmo__reg_req *req);

/*
 * Makes blob d of repo (NULL: any) usable by the handler without blocking
 * the loop on S3. fetch: its bytes in the cache (GET); else its size known
 * (llmo_reg_blob_stat answers from memory). Returns 0 to go on (local
 * storage, a cached or known blob, or the result of the transfer this
 * request waited for), 1 when a transfer started (the handler returns
 * without answering; again(req) runs on the loop when it ends and calls
 * this again), or an error: LLMO_ENOTFOUND (not linked into repo, or not in
 * S3) or S3's failure, in err.
 */
int llmo__reg_s3_need(struct llmo__reg_req *req, const char *repo, const struct llmo_digest *d,
		      bool fetch, llmo__reg_req_fn again, struct llmo_error *err);
/* Whether req waits for a transfer (it will be answered when it ends). */
bool llmo__reg_s3_waiting(const struct llmo__reg_req *req);
/* req goes away while it waits: its transfer is dropped (a shared fetch once no one waits). */
void llmo__reg_s3_abandon(struct llmo__reg_req *req);
/* At the registry's end: no request waits any more (every connection is closed). */
void llmo__reg_s3_release(struct llmo_registry *r);
/*
 * Stores w (LLMO_REG_S3_PUT) on a worker; true when it started (again(req)
 * then runs on the loop with req->s3_rc and req->s3_err), false when no
 * worker could take it (the caller stores it in the loop).
 */
bool llmo__reg_s3_put(struct llmo__reg_req *req, const struct llmo_reg_s3_work *w,
		      llmo__reg_req_fn again);

/*
 * Record changes (store.h's plans: a manifest push, a manifest or tag
 * DELETE, a blob's DELETE, a mount's link) are made one at a time, so that
 * S3 and the directory take them in the same order, and their S3 steps
 * run on a worker so that the loop goes on serving other requests.
 *
 * llmo__reg_records_turn: 0 when req holds the turn (it keeps it until it
 * is answered or goes away), or 1 when it waits for it (again(req) runs
 * on the loop when it comes). Local storage: always 0.
 */
int llmo__reg_records_turn(struct llmo__reg_req *req, llmo__reg_req_fn again);
/*
 * Makes the change planned in req->reg->recs by the turn's holder: its S3
 * steps on a worker, then the directory, each step S3 took. 0 when made,
 * 1 when the worker started (again(req) then runs on the loop and calls
 * this again, which finishes), or the error (S3's: the steps before it are
 * made in both, as a usable state). The plan is released.
 */
int llmo__reg_records(struct llmo__reg_req *req, llmo__reg_req_fn again, struct llmo_error *err);
/* Whether the change req waited for has ended (its handler runs again to finish it). */
bool llmo__reg_records_ended(const struct llmo__reg_req *req);
/* req is answered or goes away: the turn passes on (once its S3 steps end). */
void llmo__reg_records_release(struct llmo__reg_req *req);
/* The registry's part: 0, or LLMO_ENOMEM. */
int llmo__reg_records_init(struct llmo_registry *r, struct llmo_error *err);
void llmo__reg_records_free(struct llmo_registry *r);
/*
 * The registry's own work (upkeep.c) takes the turn, free at the time, with
 * no request holding it (_hold); _end passes it on. A request that holds
 * the turn keeps it, when it goes away, until r->upkeep ends too.
 */
void llmo__reg_records_hold(struct llmo_registry *r);
void llmo__reg_records_end(struct llmo_registry *r);
/* llmo_registry_s3_transfers is set again (a job was queued or ended). */
void llmo__reg_s3_active_changed(struct llmo_registry *r);

/* ---- upkeep.c: the store's upkeep off the loop (storageType s3) ---- */

/*
 * What an autoCleanup follows: a push of digest, a DELETE of it (stored at
 * stored_ns), or the clock (periodic: modelRegistry.gcInterval).
 */
struct llmo_reg_cleanup_of {
	struct llmo_digest digest;
	bool deleted;
	bool periodic;     /* the collection alone; digest unused */
	int64_t stored_ns; /* deleted: llmo_reg_revision_stored_ns before the delete */
};

/*
 * autoCleanup after req's push of manifest of->digest (into
 * req->route.name): prunes the versions beyond maxVersions and collects the
 * garbage; after req's DELETE of manifest of->digest (of->deleted, stored
 * at of->stored_ns): removes the links only it used and collects. With S3
 * and the push holding the turn of record changes it runs on a worker, on a
 * clone of the store, keeping the turn until it ends, so that no other
 * change of the records comes between; returns 1 and again(req) runs on the
 * loop when it ends (the push is answered then: its client sees the cleanup
 * done, as with local storage). Otherwise (local storage, no worker) it runs
 * in the loop and returns 0. A failure is logged and counted
 * (llmo_registry_upkeep_failures_total{task="cleanup"}); the push itself has
 * succeeded either way.
 */
int llmo__reg_cleanup(struct llmo__reg_req *req, const struct llmo_reg_cleanup_of *of,
		      llmo__reg_req_fn again);
/*
 * The periodic collection (registry.h, gc_interval_ms): with local storage
 * in the loop at once; with S3 on a worker holding the turn of record
 * changes. 0 when it ran or started; LLMO_EAGAIN when it cannot start now
 * (the records are being restored or could not be, or the turn or the
 * worker is taken): the caller tries again shortly.
 */
int llmo__reg_collect(struct llmo_registry *r);
/*
 * S3 at start (the store opened with defer_restore): restores the records
 * on a worker, holding the turn of record changes until it ends, while the
 * registry already serves. 0, or the error of a restore made in the caller
 * (no worker could take it).
 */
int llmo__reg_restore_start(struct llmo_registry *r, struct llmo_error *err);
/*
 * Before a request that reads the records (GET or HEAD of a manifest, tag
 * list, catalog, referrers or blob) is handled: true when it waits for the
 * restore (llmo__reg_dispatch runs it again when it ends) or was answered
 * 503 (the last try failed); false to go on. Changes of the records need
 * no gate: they wait in the turn the restore holds.
 */
bool llmo__reg_restore_wait(struct llmo__reg_req *req);
/* Before the workers stop (the registry's end): the upkeep in progress is not reported. */
void llmo__reg_upkeep_stop(struct llmo_registry *r);
void llmo__reg_upkeep_free(struct llmo_registry *r);

/* ---- registry.c ---- */

void llmo__reg_dispatch(struct llmo__reg_req *req);
/*
 * Answers with the OCI error body {"errors":[{"code","message","detail"}]}.
 * detail may be NULL (then {}).
 */
void llmo__reg_error(struct llmo__reg_req *req, int status, const char *code, const char *fmt,
		     ...) LLMO_PRINTF(4, 5);
/* 500 with code UNKNOWN for an llmo_error from the store (its message is logged too). */
void llmo__reg_internal(struct llmo__reg_req *req, const struct llmo_error *err);
/*
 * Adds the WWW-Authenticate Bearer challenge (realm: this registry's /token
 * at the Host the client used). scope and error may be NULL.
 */
void llmo__reg_challenge(struct llmo__reg_req *req, const char *scope, const char *error);
/* Whether req's caller may do `actions` on repository name; answers 401/403 when not. */
/*
 * ---- tokens.c: the token table and its sources ----
 * The table is rebuilt whole when a source changes (the token file, polled
 * every LLMO_REG_TOKENS_POLL_MS and on llmo_registry_reload_tokens; the
 * Secret, watched) and swapped in; a request keeps the generation it
 * started with, so a principal never goes away under it. A source that
 * fails to parse changes nothing (logged, counted).
 */
struct llmo__reg_auth {
	struct llmo_reg_auth a;
	unsigned refs;
};
#define LLMO_REG_TOKENS_POLL_MS 5000
/* Loads the first table (a bad token file fails the start) and starts watching. */
int llmo__reg_tokens_start(struct llmo_registry *r, const struct llmo_registry_opts *o,
			   struct llmo_error *err);
void llmo__reg_tokens_stop(struct llmo_registry *r);
/* The table now, held (drop it with llmo__reg_auth_drop). */
struct llmo__reg_auth *llmo__reg_auth_hold(struct llmo_registry *r);
void llmo__reg_auth_drop(struct llmo__reg_auth *g);

bool llmo__reg_authorize(struct llmo__reg_req *req, const char *name, unsigned actions);
void llmo__reg_count_bytes(struct llmo_registry *r, bool in, uint64_t n);
void llmo__reg_count_corrupt(struct llmo_registry *r);
/* A read of a blob over 1 MiB verified by hashing it (hashed) or from the cache. */
void llmo__reg_count_verified(struct llmo_registry *r, bool hashed);
void llmo__reg_uploads_changed(struct llmo_registry *r);

/* ---- blobs.c ---- */

void llmo__reg_blob(struct llmo__reg_req *req);
void llmo__reg_uploads(struct llmo__reg_req *req);
void llmo__reg_upload(struct llmo__reg_req *req);

/* ---- manifests.c ---- */

void llmo__reg_manifest(struct llmo__reg_req *req);
void llmo__reg_referrers(struct llmo__reg_req *req);
void llmo__reg_tags(struct llmo__reg_req *req);
void llmo__reg_catalog(struct llmo__reg_req *req);

#endif
