/*
 * The gateway's HTTP/1.1 proxy: client connections, requests, backend
 * connection pools and the forwarding in between, on lean non-blocking
 * connections (conn.h: a write goes out at once, not from the next loop turn).
 *
 * A client connection (struct llmo__gw_client) reads one request at a
 * time: the head (CS_HEAD, bounded by LLMO_GATEWAY_HEAD_MAX and the head
 * timeout), then for the inference paths the body into memory (CS_BODY,
 * bounded by opts.body_max), whose "model" picks the route; then it waits
 * (CS_WAIT) while the request (struct gw_req) is proxied, and after the
 * answer either reads the next request or closes (CS_CLOSING, lingering
 * when the client may still be sending, so that it reads our answer).
 *
 * A request is sent to a backend over a pooled keep-alive connection
 * (struct gw_up) or a new one. The backend's answer head is parsed, then
 * its body is moved to the client as it arrives (evbuffer_remove_buffer:
 * no copy, nothing waits for the whole body): Content-Length bodies as they
 * are, chunked and close-delimited ones re-chunked for HTTP/1.1 clients, so
 * SSE events go out one by one. When the client reads slower than the
 * backend writes, reading the backend stops while more than
 * LLMO_GATEWAY_CLIENT_BUFFER_MAX bytes wait for the client.
 *
 * Failures before any byte went to the client (connection refused or
 * reset, connect timeout, a 5xx head, a malformed head) are retried on
 * another replica, up to opts.retries times; a pooled connection the
 * backend had closed is retried once on the same backend without counting.
 * A first-byte timeout is not retried (the work may be under way): 504.
 *
 * Lifetimes: the client owns its request; the request owns its upstream
 * connection while it is busy; idle connections live in their backend's
 * list. A request holds references on the model it was routed to (its
 * endpoints stay as they were whatever the table does meanwhile) and on
 * the backend of its current attempt. Freeing happens only at the tail of a
 * callback of the object freed, or of another object (an upstream callback
 * may free its client), never while a caller up the stack still uses it.
 */
#include "base/common.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <strings.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "base/clock.h"
#include "base/duration.h"
#include "base/log.h"
#include "base/str.h"
#include "gateway/body.h"
#include "gateway/conn.h"
#include "gateway/gateway_int.h"
#include "gateway/http1.h"
#include "gateway/keys.h"
#include "gateway/oaerror.h"
#include "metrics/metrics.h"

#include "base/banned.h"

#define LOG "gateway"
/* How long a closing connection is drained after our answer (lingering close). */
#define LINGER_MS 2000
#define ATTEMPTS_MAX (LLMO_GATEWAY_RETRIES_MAX + 1)

enum cstate { CS_HEAD, CS_BODY, CS_WAIT, CS_CLOSING };
enum bmode { B_NONE, B_LENGTH, B_CHUNKED, B_CLOSE };
enum fail { F_NONE, F_CONNECT, F_CONNECT_TIMEOUT, F_RESET, F_TIMEOUT, F_STATUS, F_PROTOCOL };
static const char *const fail_names[] = {"none",    "connect", "connect_timeout", "reset",
					 "timeout", "status",  "protocol"};

struct gw_req;

struct llmo__gw_client {
	struct llmo_gateway *gw;
	struct llmo__gw_client *prev, *next;
	struct llmo__gw_conn *conn;
	char peer[INET6_ADDRSTRLEN];
	enum cstate state;
	size_t scan;	      /* input bytes already searched for the end of the head */
	int64_t head_started; /* when this request's first byte came (mono ns); 0: none yet */
	struct gw_req *req;
	bool linger;	 /* closing: shut writing, then drain what the client still sends */
	bool shut;	 /* shutdown(SHUT_WR) done */
	bool read_off;	 /* reading stopped while a request is proxied (pipelined bytes) */
	bool in_process; /* client_process is on the stack */
};

/* One connection to a backend. */
struct gw_up {
	struct llmo_gateway *gw;
	struct llmo_gw_backend *b;
	struct gw_up *prev, *next; /* in b->idle while idle */
	struct llmo__gw_conn *conn;
	struct gw_req *req; /* NULL while idle */
	bool connected;
	bool reused;	/* taken from the pool for this request */
	bool got_bytes; /* the backend sent something for this request */
	bool in_pool;
	size_t scan; /* input searched for the end of the answer's head */
};

/*
 * What a request keeps of its struct llmo_gw_body: the model name on the heap
 * at its length, not in the scanner's LLMO_GW_MODEL_MAX buffer (a request
 * in flight is about 1.4 KB smaller with this and the key below, which is
 * most of the gateway's memory with 1000 clients waiting).
 */
/*
 * Bytes first reserved for a request's head as forwarded (it grows past
 * them). llmo_buf keeps a byte for its terminating NUL and doubles from 64,
 * so asking for 511 allocates 512: asking for 512 allocated 1 KiB, half of it
 * never used, for every request in flight.
 */
#define HEAD_GUESS 511
/* Answers' tails up to this long (short answers whole) are kept in the request itself. */
#define TAIL_INLINE 512
/* Model names up to this long are kept in the request itself (no allocation). */
#define MODEL_INLINE 64

struct gw_parsed {
	char *model; /* decoded, NUL-terminated (model_inline or allocated); NULL before the body is scanned */
	char model_inline[MODEL_INLINE];
	size_t model_len;
	size_t model_off, model_tok_len; /* the model's JSON token in the body */
	size_t prompt_off, prompt_len;	 /* see struct llmo_gw_body */
};

struct gw_req {
	struct llmo_gateway *gw;
	struct llmo__gw_client *c;
	int minor;
	bool keep_alive;
	int64_t t0, t_first; /* head complete; first byte of the answer sent (mono ns) */
	/*
	 * For the backend: the request line ("POST /v1/... HTTP/1.1\r\n", its
	 * first line_len bytes), then the header lines forwarded and the blank
	 * line; one buffer, one allocation per request.
	 */
	struct llmo_buf head;
	size_t line_len;
	struct llmo_buf body;
	int64_t body_left; /* Content-Length bytes still to read */
	bool body_chunked;
	struct llmo_gw_chunked ch;
	bool body_read; /* the whole body came: the connection can be reused */
	struct gw_parsed parsed;
	unsigned api; /* the path's LLMO_GW_API_* bit */
	/* routing */
	struct llmo_gw_model *routed; /* model's reference, once routed */
	struct llmo_gw_model *model;
	const struct llmo_gw_endpoint *ep; /* of the current or last attempt */
	struct llmo_gw_backend *cur;	   /* the current attempt's backend (a reference) */
	struct llmo_gw_backend *tried[ATTEMPTS_MAX];
	int attempts;
	bool stale_retried;
	bool cut; /* the answer broke off after its head was sent */
	bool trial; /* the current attempt is its backend's half-open trial */
	/* held for a ready replica (scale from zero) */
	bool held;
	struct gw_req *hprev, *hnext;
	struct event *hold_ev;
	/* the tail of the answer's body, for the usage's token counts */
	char *tail; /* tail_cap bytes (tail_inline, or allocated), from a 200's first body byte */
	size_t tail_len, tail_cap;
	char tail_inline[TAIL_INLINE];
	/* the client's API key (Authorization: Bearer) and, with keys, its tenant */
	char *auth;	  /* NUL-terminated, at most LLMO_GW_KEY_MAX bytes; NULL: none */
	size_t auth_len;  /* 0: none */
	bool auth_bad;	  /* an Authorization that is not a usable bearer key */
	struct llmo_gw_keys *keys;     /* a reference, once admitted */
	struct llmo_gw_tenant *tenant; /* of keys */
	uint64_t *phash; /* prefix block hashes of the prompt (prefix affinity), nphash of them */
	size_t nphash;
	bool phashed;	   /* phash is computed */
	bool keyed;	   /* sticky_key is computed */
	double sticky_key; /* the A/B key's point in [0, 1), or -1: none */
	enum fail last_fail;
	struct gw_up *up;
	/* waiting in cur's queue for a connection (LLMO_GATEWAY_CONNECTING_MAX) */
	bool waiting;
	struct gw_req *wnext;
	struct event *wait_ev;
	/* the answer */
	bool head_sent;
	int status;
	enum bmode mode;
	uint64_t left; /* B_LENGTH: body bytes still to come */
	struct llmo_gw_chunked rch;
	bool out_chunked;  /* re-chunked for the client */
	bool event_stream; /* SSE: exempt from the response cap */
	bool reusable;	   /* the backend connection may go back to the pool */
	bool paused;	   /* backend reading stopped: the client is slow */
	bool close_after;  /* the client connection closes after this answer */
	uint64_t resp_bytes;
};

static bool client_process(struct llmo__gw_client *c);
static void client_next(struct llmo__gw_client *c);
static void client_close(struct llmo__gw_client *c, bool linger);
static void client_free(struct llmo__gw_client *c);
static void dispatch(struct gw_req *req);
static bool access_allowed(struct gw_req *req);
static void upstream_failed(struct gw_req *req, enum fail kind);
static void wait_remove(struct gw_req *req);
static void hold_remove(struct gw_req *req);
static bool hold(struct gw_req *req);
static void count_usage(struct gw_req *req);

static int64_t now_ns(void)
{
	return llmo_clock_mono_ns();
}

static struct timeval tv_ms(int64_t ms)
{
	struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};

	return tv;
}

/* Writes v in decimal at p; returns the end. */
static char *put_dec(char *p, uint64_t v)
{
	char tmp[24];
	size_t n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*p++ = tmp[--n];
	return p;
}

static char *put_hex(char *p, uint64_t v)
{
	char tmp[24];
	size_t n = 0;

	do {
		tmp[n++] = "0123456789abcdef"[v & 15];
		v >>= 4;
	} while (v);
	while (n)
		*p++ = tmp[--n];
	return p;
}

static char *put_mem(char *p, const void *s, size_t n)
{
	memcpy(p, s, n);
	return p + n;
}

#define PUT_LIT(p, lit) put_mem((p), (lit), sizeof(lit) - 1)

/* Whether any of the n headers is a Connection header (which may name more hop-by-hop ones). */
static bool has_connection(const struct llmo_gw_header *hs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (hs[i].id == LLMO_GW_H_CONNECTION)
			return true;
	return false;
}

static void nodelay(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* ---- metrics ---- */

static const char *model_label(const struct gw_req *req)
{
	return req && req->model ? req->model->id : "";
}

/*
 * The series a request updates, looked up once per backend instead of once
 * per request: a lookup encodes and hashes the label values, which was about
 * 2% of the gateway's CPU time at 64 connections (hmap_hash and encode_key in
 * perf). Kept on the backend for the model and track it served last (a
 * backend of another model or track looks them up again). The pointers stay
 * valid: these families are never pruned. Each is made on first use so that
 * /metrics shows no series that nothing counted.
 */
enum gw_series_slot { GS_OK200, GS_ATTEMPT_OK, GS_DURATION, GS_TTFB, GS_PROMPT, GS_COMPLETION,
		      GS_N };

struct gw_series {
	char *model, *track;
	struct llmo_series *s[GS_N];
};

static void gw_series_free(struct gw_series *gs)
{
	if (!gs)
		return;
	free(gs->model);
	free(gs->track);
	free(gs);
}

/* req's series in slot, or NULL (then the caller updates the family by labels). */
static struct llmo_series *req_series(struct gw_req *req, enum gw_series_slot slot)
{
	static const char *const third[GS_N] = {"200", "ok", NULL, NULL, "prompt", "completion"};
	struct llmo_gateway *gw = req->gw;
	struct llmo_gw_backend *b = req->ep ? req->ep->backend : NULL;
	struct gw_series *gs;
	struct llmo_metric *f;

	if (!b || !req->model)
		return NULL;
	gs = b->series;
	if (!gs || strcmp(gs->model, req->model->id) != 0 || strcmp(gs->track, req->ep->track) != 0) {
		gw_series_free(gs);
		b->series = gs = calloc(1, sizeof(*gs));
		if (gs && (!(gs->model = llmo_strdup(req->model->id)) ||
			   !(gs->track = llmo_strdup(req->ep->track)))) {
			gw_series_free(gs);
			b->series = gs = NULL;
		}
		if (!gs)
			return NULL;
	}
	if (!gs->s[slot]) {
		f = slot == GS_OK200	   ? gw->m_requests
		    : slot == GS_ATTEMPT_OK ? gw->m_attempts
		    : slot == GS_DURATION   ? gw->m_duration
		    : slot == GS_TTFB	   ? gw->m_ttfb
					   : gw->m_tokens;
		gs->s[slot] = llmo_metric_series(f, (const char *[]){gs->model, gs->track, third[slot]});
	}
	return gs->s[slot];
}

static void count_request(struct llmo_gateway *gw, const char *model, const char *track,
			  int status)
{
	char code[24];

	*put_dec(code, (uint64_t)(status > 0 ? status : 0)) = '\0';
	llmo_metric_add(gw->m_requests, (const char *[]){model, track, code}, 1);
}

/* A histogram of (model, track): through req's cached series when it has one. */
static void series_observe(struct gw_req *req, enum gw_series_slot slot, struct llmo_metric *f,
			   double v)
{
	struct llmo_series *s = req_series(req, slot);

	if (s)
		llmo_series_observe(s, v);
	else
		llmo_metric_observe(f, (const char *[]){model_label(req), req->ep ? req->ep->track : ""},
				    v);
}

/* A token count: through req's cached series when it has one. */
static void series_add(struct gw_req *req, enum gw_series_slot slot, const char *const *labels,
		       double v)
{
	struct llmo_series *s = req_series(req, slot);

	if (s)
		llmo_series_add(s, v);
	else
		llmo_metric_add(req->gw->m_tokens, labels, v);
}

static void inflight_gauge(struct llmo_gateway *gw, struct llmo_gw_backend *b)
{
	if (!b->inflight_gauge)
		b->inflight_gauge = llmo_metric_series(gw->m_inflight, (const char *[]){b->addr});
	llmo_series_set(b->inflight_gauge, b->inflight);
	if (b->pod_gauge)
		llmo_series_set(b->pod_gauge, b->inflight);
}

static void attempt_outcome(struct gw_req *req, bool ok)
{
	struct llmo_series *s = ok ? req_series(req, GS_ATTEMPT_OK) : NULL;

	if (s) {
		llmo_series_add(s, 1);
		return;
	}
	llmo_metric_add(req->gw->m_attempts,
			(const char *[]){model_label(req), req->ep ? req->ep->track : "",
					 ok ? "ok" : "failed"},
			1);
}

static void upstream_error(struct llmo_gateway *gw, struct llmo_gw_backend *b, enum fail kind)
{
	llmo_metric_add(gw->m_upstream_errors, (const char *[]){b->addr, fail_names[kind]}, 1);
}

/* ---- backend connections ---- */

static void up_read_cb(struct llmo__gw_conn *conn, void *arg);
static void up_event_cb(struct llmo__gw_conn *conn, short what, void *arg);
static const struct llmo__gw_conn_cbs up_cbs = {up_read_cb, NULL, up_event_cb};

static void pool_unlink(struct gw_up *up)
{
	struct llmo_gw_backend *b = up->b;

	if (!up->in_pool)
		return;
	if (up->prev)
		up->prev->next = up->next;
	else
		b->idle = up->next;
	if (up->next)
		up->next->prev = up->prev;
	up->prev = up->next = NULL;
	up->in_pool = false;
	b->nidle--;
}

static void schedule_kick(struct llmo_gateway *gw, struct llmo_gw_backend *b);

static void up_free(struct gw_up *up)
{
	if (!up)
		return;
	pool_unlink(up);
	llmo__gw_conn_free(up->conn);
	up->b->conns--;
	if (!up->connected) {
		/* a connecting slot is free: a waiting request may use it */
		up->b->connecting--;
		schedule_kick(up->gw, up->b);
	}
	free(up);
}

struct llmo__gw_conn *llmo__gw_backend_connect(struct llmo_gateway *gw,
					       struct llmo_gw_backend *b, int64_t timeout_ms,
					       const struct llmo__gw_conn_cbs *cbs, void *arg)
{
	struct llmo__gw_conn *c;

	if (b->tls_name[0] && !gw->upstream_ctx) {
		if (!gw->warned_upstream_tls) {
			gw->warned_upstream_tls = true;
			LLMO_WARN(LOG, "a backend wants TLS and the gateway has no upstream CA",
				  "backend=%s name=%s", b->addr, b->tls_name);
		}
		return NULL;
	}
	c = llmo__gw_conn_connect(&gw->io, (struct sockaddr *)&b->sa, b->salen, timeout_ms, cbs,
				  arg);
	if (c && b->tls_name[0] && llmo__gw_conn_tls_connect(c, gw->upstream_ctx, b->tls_name)) {
		llmo__gw_conn_free(c);
		return NULL;
	}
	return c;
}

/* A new connection to b, connecting. NULL when no socket could be made. */
static struct gw_up *up_new(struct llmo_gateway *gw, struct llmo_gw_backend *b)
{
	struct gw_up *up = calloc(1, sizeof(*up));

	if (!up)
		return NULL;
	up->gw = gw;
	up->b = b;
	up->conn = llmo__gw_backend_connect(gw, b, gw->o.connect_timeout_ms, &up_cbs, up);
	if (!up->conn) {
		free(up);
		return NULL;
	}
	b->conns++;
	b->connecting++;
	return up;
}

static struct gw_up *pool_take(struct llmo_gw_backend *b)
{
	struct gw_up *up = b->idle;

	if (!up)
		return NULL;
	pool_unlink(up);
	up->reused = true;
	return up;
}

static void pool_put(struct gw_up *up)
{
	struct llmo_gw_backend *b = up->b;

	up->req = NULL;
	if (b->nidle >= LLMO_GATEWAY_POOL_IDLE_MAX || b->refs <= 1) {
		/* a full pool, or a backend about to go when the request lets go of it */
		up_free(up);
		return;
	}
	up->next = b->idle;
	up->prev = NULL;
	if (up->next)
		up->next->prev = up;
	b->idle = up;
	b->nidle++;
	up->in_pool = true;
	llmo__gw_conn_timeouts(up->conn, LLMO_GATEWAY_POOL_IDLE_TIMEOUT_MS, 0);
	llmo__gw_conn_read(up->conn, true); /* to see the backend close it */
	if (b->waiters)
		schedule_kick(up->gw, b);
}

void llmo__gw_backend_freed(void *ctx, struct llmo_gw_backend *b)
{
	struct llmo_gateway *gw = ctx;

	while (b->idle)
		up_free(b->idle);
	if (b->inflight_gauge)
		llmo_metric_remove(gw->m_inflight, (const char *[]){b->addr});
	if (gw->m_backend_waiting) {
		llmo_metric_remove(gw->m_backend_waiting, (const char *[]){b->addr});
		llmo_metric_remove(gw->m_backend_kv, (const char *[]){b->addr});
	}
	b->inflight_gauge = NULL;
	b->pod_gauge = NULL;
	gw_series_free(b->series);
	b->series = NULL;
}

/* ---- attempts ---- */

static void attempt_begin(struct gw_req *req, const struct llmo_gw_endpoint *ep, int64_t now)
{
	struct llmo_gw_backend *b = ep->backend;

	llmo_gw_backend_ref(b);
	req->trial = llmo_gw_backend_begin(b, now, &req->gw->bal);
	req->tried[req->attempts++] = b;
	req->cur = b;
	req->ep = ep;
	inflight_gauge(req->gw, b);
}

/* The current attempt is over (the backend's load drops, its reference goes). */
static void attempt_end(struct gw_req *req)
{
	struct llmo_gw_backend *b = req->cur;

	if (!b)
		return;
	req->cur = NULL;
	llmo_gw_backend_end(b, req->trial);
	req->trial = false;
	inflight_gauge(req->gw, b);
	if (b->linger && b->inflight == 0)
		llmo__gw_linger_done(req->gw, b);
	llmo_gw_backend_unref(b);
}

/* A failure of the current attempt's backend: counted, and told to its breaker. */
static void record_failure(struct gw_req *req, enum fail kind)
{
	struct llmo_gw_backend *b = req->cur;
	struct llmo_gateway *gw = req->gw;
	bool was_closed;

	if (!b)
		return;
	was_closed = llmo_gw_backend_allowed(b, now_ns(), &gw->bal) && !b->probing;
	upstream_error(gw, b, kind);
	attempt_outcome(req, false);
	llmo_gw_backend_failure(b, now_ns(), &gw->bal);
	if (was_closed && !llmo_gw_backend_allowed(b, now_ns(), &gw->bal))
		LLMO_WARN(LOG, "backend failing, skipped for a while", "backend=%s failures=%d "
			  "cooldown_ms=%" PRId64, b->addr, b->fails, gw->o.breaker_cooldown_ms);
	LLMO_DEBUG(LOG, "upstream failed", "backend=%s kind=%s attempt=%d", b->addr,
		   fail_names[kind], req->attempts);
	req->last_fail = kind;
}

/* The current attempt failed and is over. */
static void attempt_failed(struct gw_req *req, enum fail kind)
{
	record_failure(req, kind);
	attempt_end(req);
}

/* ---- answers to the client ---- */

/*
 * Writes a whole answer (head and body) that the gateway makes itself.
 * head_only: a HEAD request (the body is left out, its length kept).
 */
static void write_answer(struct llmo__gw_client *c, int minor, bool keep_alive, bool head_only,
			 int status, const char *ctype, const char *body, size_t len,
			 const char *extra)
{
	struct evbuffer *out = llmo__gw_conn_output(c->conn);

	evbuffer_add_printf(out,
			    "HTTP/1.%d %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s%s\r\n",
			    minor ? 1 : 0, status, llmo_gw_status_reason(status), ctype, len,
			    extra ? extra : "",
			    !keep_alive ? "Connection: close\r\n"
			    : minor == 0 ? "Connection: keep-alive\r\n"
					 : "");
	if (!head_only && len)
		evbuffer_add(out, body, len);
	llmo__gw_conn_flush(c->conn);
}

static void write_error(struct llmo__gw_client *c, int minor, bool keep_alive, int status,
			const char *msg, const char *param, const char *code, const char *extra)
{
	struct llmo_buf b;

	llmo_buf_init(&b, LLMO_BUF_UNLIMITED);
	if (llmo_gw_error_body(&b, status, msg, param, code) == 0)
		write_answer(c, minor, keep_alive, false, status, "application/json", b.data, b.len,
			     extra);
	llmo_buf_release(&b);
}

/*
 * An error answered before a request exists (a bad head, an unknown path):
 * counted, then the connection goes on or closes.
 */
static void client_error(struct llmo__gw_client *c, int minor, bool keep, int status,
			 const char *msg, const char *code, const char *extra)
{
	count_request(c->gw, "", "", status);
	write_error(c, minor, keep, status, msg, NULL, code, extra);
	if (keep)
		client_next(c);
	else
		client_close(c, true);
}

/* ---- requests ---- */

static void req_free(struct gw_req *req)
{
	if (!req)
		return;
	llmo_buf_release(&req->head);
	llmo_buf_release(&req->body);
	llmo_gw_model_unref(req->routed);
	llmo_gw_keys_unref(req->keys);
	if (req->tail != req->tail_inline)
		free(req->tail);
	free(req->phash);
	if (req->parsed.model != req->parsed.model_inline)
		free(req->parsed.model);
	free(req->auth);
	free(req);
}

/* The request is over with status: counted, detached from its client and freed. */
static void req_finish(struct gw_req *req, int status)
{
	struct llmo_gateway *gw = req->gw;
	const char *model = model_label(req);
	int64_t end = now_ns();

	const char *track = req->ep ? req->ep->track : "";

	wait_remove(req);
	hold_remove(req);
	if (req->up) {
		req->up->req = NULL;
		up_free(req->up);
		req->up = NULL;
	}
	if (req->ep && req->attempts > 0 && status > 0 && status < 500 && !req->cut)
		attempt_outcome(req, true);
	attempt_end(req);
	{
		struct llmo_series *s = status == 200 ? req_series(req, GS_OK200) : NULL;

		if (s)
			llmo_series_add(s, 1);
		else
			count_request(gw, model, track, status);
	}
	if (req->tenant) {
		char code[24];

		*put_dec(code, (uint64_t)(status > 0 ? status : 0)) = '\0';
		llmo_metric_add(gw->m_tenant_requests, (const char *[]){req->tenant->name, code}, 1);
	}
	series_observe(req, GS_DURATION, gw->m_duration, (double)(end - req->t0) / 1e9);
	if (req->t_first)
		series_observe(req, GS_TTFB, gw->m_ttfb, (double)(req->t_first - req->t0) / 1e9);
	LLMO_DEBUG(LOG, "request", "model=%s status=%d backend=%s attempts=%d ms=%.3f",
		   model[0] ? model : "-", status,
		   req->ep ? req->ep->backend->addr : "-", req->attempts,
		   (double)(end - req->t0) / 1e6);
	if (req->c)
		req->c->req = NULL;
	req_free(req);
}

/* Answers req with an OpenAI error and ends it; the connection goes on when it can. */
static void req_error(struct gw_req *req, int status, const char *msg, const char *param,
		      const char *code, const char *extra)
{
	struct llmo__gw_client *c = req->c;
	bool body_read = req->body_read, keep = req->keep_alive && body_read;

	write_error(c, req->minor, keep, status, msg, param, code, extra);
	req_finish(req, status);
	if (keep)
		client_next(c);
	else
		client_close(c, !body_read);
}

/* The answer when no replica could take the request (or the last one failed). */
static void fail_answer(struct gw_req *req)
{
	char msg[LLMO_GW_QUOTE_MAX + 128], q[LLMO_GW_QUOTE_MAX + 4];

	llmo_gw_quote_input(q, req->parsed.model, req->parsed.model_len);
	if (req->attempts == 0) {
		if (llmo_gw_model_ready(req->model) == 0)
			snprintf(msg, sizeof(msg), "The model '%s' has no ready replicas", q);
		else
			snprintf(msg, sizeof(msg),
				 "No replica of the model '%s' can take the request now", q);
		req_error(req, 503, msg, NULL, "model_unavailable", "Retry-After: 1\r\n");
	} else if (req->last_fail == F_TIMEOUT || req->last_fail == F_CONNECT_TIMEOUT) {
		snprintf(msg, sizeof(msg), "The replica of the model '%s' did not answer in time", q);
		req_error(req, 504, msg, NULL, "upstream_timeout", NULL);
	} else {
		snprintf(msg, sizeof(msg), "The replicas of the model '%s' failed (%s)", q,
			 fail_names[req->last_fail]);
		req_error(req, 502, msg, NULL, "upstream_error", NULL);
	}
}

/* Writes the request to the backend connection. */
static void send_request(struct gw_req *req, struct gw_up *up)
{
	const struct llmo_gw_endpoint *ep = req->ep;
	struct evbuffer *out = llmo__gw_conn_output(up->conn);
	size_t served = strlen(ep->served), sj = strlen(ep->served_json);
	bool rewrite = !(req->parsed.model_len == served &&
			 memcmp(req->parsed.model, ep->served, served) == 0);
	size_t len = rewrite ? req->body.len - req->parsed.model_tok_len + sj : req->body.len;
	char head[LLMO_GW_ADDR_MAX + 64], *p = head;

	p = PUT_LIT(p, "Host: ");
	p = put_mem(p, up->b->addr, strlen(up->b->addr));
	p = PUT_LIT(p, "\r\nContent-Length: ");
	p = put_dec(p, len);
	p = PUT_LIT(p, "\r\n");
	evbuffer_add(out, req->head.data, req->line_len);
	evbuffer_add(out, head, (size_t)(p - head));
	/* ends with the blank line */
	evbuffer_add(out, req->head.data + req->line_len, req->head.len - req->line_len);
	if (!rewrite) {
		evbuffer_add(out, req->body.data, req->body.len);
		return;
	}
	evbuffer_add(out, req->body.data, req->parsed.model_off);
	evbuffer_add(out, ep->served_json, sj);
	evbuffer_add(out, req->body.data + req->parsed.model_off + req->parsed.model_tok_len,
		     req->body.len - req->parsed.model_off - req->parsed.model_tok_len);
}

static int max_attempts(const struct llmo_gateway *gw)
{
	return 1 + gw->o.retries;
}

/* Sends req over up, a connection to its current attempt's backend. */
static void attempt_send(struct gw_req *req, struct gw_up *up)
{
	struct llmo_gateway *gw = req->gw;

	up->req = req;
	up->got_bytes = false;
	up->scan = 0;
	req->up = up;
	send_request(req, up);
	llmo__gw_conn_timeouts(up->conn, gw->o.first_byte_timeout_ms,
			       up->connected ? gw->o.idle_timeout_ms : gw->o.connect_timeout_ms);
	llmo__gw_conn_read(up->conn, true);
	llmo__gw_conn_flush(up->conn);
}

/* ---- requests waiting for a connection ---- */

static void wait_remove(struct gw_req *req)
{
	struct llmo_gw_backend *b = req->cur;
	struct gw_req **pp, *prev = NULL;

	if (!req->waiting)
		return;
	for (pp = (struct gw_req **)&b->waiters; *pp; prev = *pp, pp = &(*pp)->wnext) {
		if (*pp == req) {
			*pp = req->wnext;
			if (b->waiters_tail == req)
				b->waiters_tail = prev;
			break;
		}
	}
	req->wnext = NULL;
	req->waiting = false;
	event_free(req->wait_ev);
	req->wait_ev = NULL;
}

static void on_wait_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct gw_req *req = arg;

	wait_remove(req);
	upstream_failed(req, F_CONNECT_TIMEOUT);
}

/* Queues req on its backend until a connection is free (at most the connect timeout). */
static void wait_enqueue(struct gw_req *req)
{
	struct llmo_gw_backend *b = req->cur;
	struct timeval tv = tv_ms(req->gw->o.connect_timeout_ms);

	req->wait_ev = evtimer_new(req->gw->base, on_wait_timeout, req);
	if (!req->wait_ev) {
		upstream_failed(req, F_CONNECT);
		return;
	}
	evtimer_add(req->wait_ev, &tv);
	req->waiting = true;
	req->wnext = NULL;
	if (b->waiters_tail)
		((struct gw_req *)b->waiters_tail)->wnext = req;
	else
		b->waiters = req;
	b->waiters_tail = req;
}

/* Serves b's waiting requests while there are connections or connecting slots. */
static void kick(struct llmo_gateway *gw, struct llmo_gw_backend *b)
{
	while (b->waiters && (b->idle || b->connecting < LLMO_GATEWAY_CONNECTING_MAX)) {
		struct gw_req *req = b->waiters;
		struct gw_up *up;

		wait_remove(req);
		up = pool_take(b);
		if (!up && !(up = up_new(gw, b))) {
			upstream_failed(req, F_CONNECT);
			continue;
		}
		attempt_send(req, up);
	}
}

static void schedule_kick(struct llmo_gateway *gw, struct llmo_gw_backend *b)
{
	if (!b->waiters || b->kick_pending || !gw->kick_ev)
		return;
	b->kick_pending = true;
	llmo_gw_backend_ref(b);
	b->kick_next = gw->kick_list;
	gw->kick_list = b;
	event_active(gw->kick_ev, EV_TIMEOUT, 0);
}

void llmo__gw_kick(evutil_socket_t fd, short what, void *arg)
{
	struct llmo_gateway *gw = arg;

	while (gw->kick_list) {
		struct llmo_gw_backend *b = gw->kick_list;

		gw->kick_list = b->kick_next;
		b->kick_next = NULL;
		b->kick_pending = false;
		kick(gw, b);
		llmo_gw_backend_unref(b);
	}
}

/* ---- requests held for a ready replica (scale from zero) ---- */

size_t llmo__gw_held_count(const struct llmo_gateway *gw, const char *id)
{
	size_t n = 0;

	for (const struct gw_req *r = gw->held; r; r = r->hnext)
		n += strcmp(r->model->id, id) == 0;
	return n;
}

int llmo__gw_pending_collect(void *ctx, struct llmo_metric_emitter *e)
{
	const struct llmo_gateway *gw = ctx;
	struct llmo_hmap held = LLMO_HMAP_INIT; /* model id -> count, in the pointer */
	int rc = 0;

	if (!gw->table)
		return 0;
	for (const struct gw_req *r = gw->held; r && !rc; r = r->hnext) {
		uintptr_t n = (uintptr_t)llmo_hmap_get(&held, r->model->id);

		rc = llmo_hmap_put(&held, r->model->id, (void *)(n + 1), NULL);
	}
	for (size_t i = 0; i < gw->table->models.len && !rc; i++) {
		const char *id = gw->table->models.items[i]->id;

		rc = llmo_metric_emit(e, (const char *[]){id},
				      (double)(uintptr_t)llmo_hmap_get(&held, id));
	}
	llmo_hmap_release(&held, NULL);
	return rc;
}

static void hold_unlink(struct gw_req *req)
{
	struct llmo_gateway *gw = req->gw;

	if (req->hprev)
		req->hprev->hnext = req->hnext;
	else
		gw->held = req->hnext;
	if (req->hnext)
		req->hnext->hprev = req->hprev;
	req->hprev = req->hnext = NULL;
	req->held = false;
	if (req->hold_ev) {
		event_free(req->hold_ev);
		req->hold_ev = NULL;
	}
}

static void hold_remove(struct gw_req *req)
{
	if (!req->held)
		return;
	hold_unlink(req);
}

static void on_hold_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct gw_req *req = arg;
	char msg[LLMO_GW_QUOTE_MAX + 128], q[LLMO_GW_QUOTE_MAX + 4];

	hold_remove(req);
	llmo_gw_quote_input(q, req->parsed.model, req->parsed.model_len);
	snprintf(msg, sizeof(msg), "No replica of the model '%s' became ready within %.3g s", q,
		 (double)req->gw->o.hold_timeout_ms / 1000);
	req_error(req, 503, msg, NULL, "model_unavailable", "Retry-After: 1\r\n");
}

/* Holds req until its model has a ready replica; false when the model's queue is full. */
static bool hold(struct gw_req *req)
{
	struct llmo_gateway *gw = req->gw;
	struct timeval tv = tv_ms(gw->o.hold_timeout_ms);

	if (gw->o.hold_max <= 0 || llmo__gw_held_count(gw, req->model->id) >= (size_t)gw->o.hold_max)
		return false;
	if (!(req->hold_ev = evtimer_new(gw->base, on_hold_timeout, req)))
		return false;
	evtimer_add(req->hold_ev, &tv);
	req->held = true;
	req->hprev = NULL;
	req->hnext = gw->held;
	if (req->hnext)
		req->hnext->hprev = req;
	gw->held = req;
	LLMO_DEBUG(LOG, "request held for a ready replica", "model=%s", req->model->id);
	return true;
}

void llmo__gw_held_retry(struct llmo_gateway *gw)
{
	struct gw_req *go = NULL, *r, *next;

	/* first take out those that can go (dispatching may hold or finish others) */
	for (r = gw->held; r; r = next) {
		struct llmo_gw_model *m = llmo_gw_table_model(gw->table, r->model->id);

		next = r->hnext;
		if (!m || llmo_gw_model_ready(m) == 0)
			continue;
		hold_unlink(r);
		llmo_gw_model_ref(m);
		llmo_gw_model_unref(r->routed);
		r->routed = m;
		r->model = m;
		r->keyed = false;
		r->hnext = go;
		go = r;
	}
	while (go) {
		r = go;
		go = r->hnext;
		r->hnext = NULL;
		/* its workload's access list may have changed while it waited */
		if (access_allowed(r))
			dispatch(r);
	}
}

/*
 * What a tenant-sticky A/B test is keyed by: the tenant of the API key, or
 * without a keys file the bearer key itself (NULL: none).
 */
static const char *req_tenant_key(const struct gw_req *req, size_t *len)
{
	if (req->tenant) {
		*len = strlen(req->tenant->name);
		return req->tenant->name;
	}
	*len = req->auth_len;
	return req->auth_len ? req->auth : NULL;
}

/*
 * The value of the forwarded header name (case-insensitive) in req->head,
 * or NULL. The lines there are "Name: value\r\n", checked by the parser.
 */
static const char *find_header(const struct gw_req *req, const char *name, size_t *len)
{
	const char *p = req->head.data + req->line_len, *end = req->head.data + req->head.len;
	size_t n = strlen(name);

	while (p < end) {
		const char *eol = memchr(p, '\r', (size_t)(end - p));

		if (!eol)
			break;
		if ((size_t)(eol - p) > n + 1 && p[n] == ':' && strncasecmp(p, name, n) == 0) {
			const char *v = p + n + 1;

			while (v < eol && (*v == ' ' || *v == '\t'))
				v++;
			*len = (size_t)(eol - v);
			return v;
		}
		p = eol + 2;
	}
	return NULL;
}

/* The request's sticky A/B key for its model (-1: none, the track is drawn at random). */
static double sticky_key(struct gw_req *req)
{
	const struct llmo_gw_model *m = req->model;
	const char *v = NULL;
	size_t len = 0;

	if (req->keyed)
		return req->sticky_key;
	req->keyed = true;
	req->sticky_key = -1;
	if (m->sticky == LLMO_GW_STICKY_HEADER && m->sticky_header)
		v = find_header(req, m->sticky_header, &len);
	else if (m->sticky == LLMO_GW_STICKY_TENANT)
		v = req_tenant_key(req, &len);
	if (v && len > 0)
		req->sticky_key = llmo_gw_sticky_point(v, len);
	return req->sticky_key;
}

/*
 * The prompt's chained block hashes, once per request (none when the body
 * has no "prompt" or "messages", or they are shorter than one block).
 */
static void prefix_hashes(struct gw_req *req)
{
	size_t block = req->gw->o.prefix_block, n;

	if (req->phashed)
		return;
	req->phashed = true;
	n = LLMO_MIN(req->parsed.prompt_len / block, (size_t)LLMO_GW_PREFIX_BLOCKS_MAX);
	if (n == 0 || !(req->phash = malloc(n * sizeof(*req->phash))))
		return; /* no memory: least load for this request */
	req->nphash = llmo_gw_prefix_hashes(req->body.data + req->parsed.prompt_off,
					    req->parsed.prompt_len, block, 0, req->phash, n);
}

/* Picks the endpoint for the next attempt (an index into the model's, or -1). */
static int pick(struct gw_req *req, int64_t now)
{
	static const char *const results[] = {"none", "hit", "miss", "busy"};
	struct llmo_gateway *gw = req->gw;
	enum llmo_gw_prefix_result res;
	int i;

	if (gw->o.balance != LLMO_GATEWAY_BALANCE_PREFIX)
		return llmo_gw_pick_key(req->model, sticky_key(req), req->tried,
					(size_t)req->attempts, now, &gw->bal, &gw->rng);
	prefix_hashes(req);
	i = llmo_gw_pick_prefix(req->model, sticky_key(req), req->tried, (size_t)req->attempts,
				now, &gw->bal, &gw->rng, &gw->prefix, req->phash, req->nphash, &res);
	if (i >= 0 && res != LLMO_GW_PREFIX_NONE && req->attempts == 0)
		llmo_metric_add(gw->m_prefix, (const char *[]){req->model->id, results[res]}, 1);
	if (i >= 0)
		/* the chosen replica now holds (or will) every block of this prompt */
		for (size_t k = 0; k < req->nphash; k++)
			llmo_gw_lru_put(&gw->prefix, req->phash[k],
					req->model->eps.items[i].backend->id);
	return i;
}

/* Sends req to a replica, or answers with an error when none is left. */
static void dispatch(struct gw_req *req)
{
	struct llmo_gateway *gw = req->gw;

	for (;;) {
		const struct llmo_gw_endpoint *ep;
		struct llmo_gw_backend *b;
		struct gw_up *up;
		int64_t now = now_ns();
		int i;

		if (req->attempts >= max_attempts(gw)) {
			fail_answer(req);
			return;
		}
		i = pick(req, now);
		if (i < 0) {
			if (req->attempts == 0 && llmo_gw_model_ready(req->model) == 0 && hold(req))
				return;
			fail_answer(req);
			return;
		}
		ep = &req->model->eps.items[i];
		b = ep->backend;
		attempt_begin(req, ep, now);
		up = pool_take(b);
		if (!up && (b->waiters || b->connecting >= LLMO_GATEWAY_CONNECTING_MAX)) {
			wait_enqueue(req);
			return;
		}
		if (!up && !(up = up_new(gw, b))) {
			attempt_failed(req, F_CONNECT);
			if (req->attempts < max_attempts(gw))
				llmo_metric_add(gw->m_retries, (const char *[]){model_label(req)}, 1);
			continue;
		}
		attempt_send(req, up);
		return;
	}
}

/* The backend connection failed before the answer's head came. */
static void upstream_failed(struct gw_req *req, enum fail kind)
{
	struct llmo_gateway *gw = req->gw;
	struct gw_up *up = req->up;
	bool stale = up && up->reused && !up->got_bytes && kind == F_RESET && !req->stale_retried;

	if (up) {
		req->up = NULL;
		up->req = NULL;
		up_free(up);
	}
	if (stale) {
		/* the backend had closed the pooled connection: once more, not counted */
		req->stale_retried = true;
		req->attempts--;
		attempt_end(req);
		dispatch(req);
		return;
	}
	attempt_failed(req, kind);
	if (kind != F_TIMEOUT && req->attempts < max_attempts(gw)) {
		llmo_metric_add(gw->m_retries, (const char *[]){model_label(req)}, 1);
		dispatch(req);
		return;
	}
	fail_answer(req);
}

/* The request is fully answered: the backend connection goes back, the client goes on. */
static void complete(struct gw_req *req)
{
	struct llmo__gw_client *c = req->c;
	struct gw_up *up = req->up;
	bool close;

	if (up) {
		req->up = NULL;
		/* reusable only when nothing is left over either way */
		if (req->reusable && evbuffer_get_length(llmo__gw_conn_input(up->conn)) == 0 &&
		    evbuffer_get_length(llmo__gw_conn_output(up->conn)) == 0)
			pool_put(up);
		else
			up_free(up);
	}
	if (req->out_chunked)
		evbuffer_add(llmo__gw_conn_output(c->conn), "0\r\n\r\n", 5);
	llmo__gw_conn_flush(c->conn);
	count_usage(req);
	close = req->close_after || !req->keep_alive;
	req_finish(req, req->status);
	if (close)
		client_close(c, false);
	else
		client_next(c);
}

/* The answer broke off after its head was sent: the client can only see the connection close. */
static void abort_answer(struct gw_req *req, enum fail kind, const char *why)
{
	struct llmo__gw_client *c = req->c;

	if (req->cur) {
		upstream_error(req->gw, req->cur, kind);
		attempt_outcome(req, false);
	}
	req->cut = true;
	LLMO_WARN(LOG, "answer cut short", "model=%s backend=%s reason=%s", model_label(req),
		  req->ep ? req->ep->backend->addr : "-", why);
	req_finish(req, req->status);
	client_free(c);
}

/* ---- answers from the backend ---- */

/*
 * Keeps the last LLMO_GW_USAGE_TAIL_MAX bytes of the answer's body (the n at
 * in's front next). An answer of known length smaller than that gets a
 * buffer of its size: a 2 KiB malloc is a "large" one to glibc, which
 * consolidates its free lists for it, about 1% of the proxy's CPU time when
 * done for every small answer; one of at most TAIL_INLINE bytes (a short
 * answer) is kept in the request itself, without an allocation.
 */
static void tail_keep(struct gw_req *req, struct evbuffer *in, size_t n)
{
	size_t keep;
	struct evbuffer_ptr pos;

	if (!req->tail) {
		/* B_LENGTH: left is the whole body yet, n included (move_body comes first) */
		req->tail_cap = req->mode == B_LENGTH && req->left < LLMO_GW_USAGE_TAIL_MAX
					? (size_t)req->left
					: LLMO_GW_USAGE_TAIL_MAX;
		if (req->tail_cap == 0)
			return;
		req->tail = req->tail_cap <= TAIL_INLINE ? req->tail_inline : malloc(req->tail_cap);
		if (!req->tail)
			return; /* no memory: no token counts for this answer */
	}
	keep = LLMO_MIN(n, req->tail_cap);
	if (req->tail_len + keep > req->tail_cap) {
		size_t drop = req->tail_len + keep - req->tail_cap;

		memmove(req->tail, req->tail + drop, req->tail_len - drop);
		req->tail_len -= drop;
	}
	if (evbuffer_ptr_set(in, &pos, n - keep, EVBUFFER_PTR_SET) == 0 &&
	    evbuffer_copyout_from(in, &pos, req->tail + req->tail_len, keep) == (ev_ssize_t)keep)
		req->tail_len += keep;
}

/* The answer is whole: the tokens its usage reports are counted. */
static void count_usage(struct gw_req *req)
{
	const char *track = req->ep ? req->ep->track : "";
	int64_t prompt, completion;

	if (req->status != 200 || !req->tail_len ||
	    llmo_gw_usage_scan(req->tail, req->tail_len, &prompt, &completion))
		return;
	if (prompt > 0)
		series_add(req, GS_PROMPT, (const char *[]){model_label(req), track, "prompt"},
			   (double)prompt);
	if (completion > 0)
		series_add(req, GS_COMPLETION, (const char *[]){model_label(req), track, "completion"},
			   (double)completion);
	if (req->tenant) {
		struct llmo_gw_tenant *t = req->tenant;

		if (prompt > 0)
			llmo_metric_add(req->gw->m_tenant_tokens, (const char *[]){t->name, "prompt"},
					(double)prompt);
		if (completion > 0)
			llmo_metric_add(req->gw->m_tenant_tokens,
					(const char *[]){t->name, "completion"}, (double)completion);
		llmo_gw_bucket_debit(&t->tokens, now_ns(),
				     (double)LLMO_MAX(prompt, 0) + (double)LLMO_MAX(completion, 0));
	}
}

/* Moves n bytes of the backend's input to the client, framed for it. */
static void move_body(struct gw_req *req, struct evbuffer *in, size_t n)
{
	struct evbuffer *out = llmo__gw_conn_output(req->c->conn);

	if (n == 0)
		return;
	if (!req->t_first)
		req->t_first = now_ns();
	req->resp_bytes += n;
	if (req->status == 200)
		tail_keep(req, in, n);
	if (req->out_chunked) {
		char size[24], *p = put_hex(size, n);

		p = PUT_LIT(p, "\r\n");
		evbuffer_add(out, size, (size_t)(p - size));
		evbuffer_remove_buffer(in, out, n);
		evbuffer_add(out, "\r\n", 2);
	} else {
		evbuffer_remove_buffer(in, out, n);
	}
}

enum { FWD_MORE, FWD_DONE, FWD_ERROR, FWD_TOOBIG };

/* Forwards what the backend sent of the body. */
static int forward_body(struct gw_req *req, struct evbuffer *in)
{
	for (;;) {
		size_t avail = evbuffer_get_length(in), n;
		struct evbuffer_iovec v;

		if (req->mode == B_NONE)
			return FWD_DONE;
		if (req->mode == B_LENGTH && req->left == 0)
			return FWD_DONE;
		if (avail == 0)
			return FWD_MORE;
		switch (req->mode) {
		case B_LENGTH:
			n = avail < req->left ? avail : (size_t)req->left;
			move_body(req, in, n);
			req->left -= n;
			break;
		case B_CLOSE:
			move_body(req, in, avail);
			break;
		case B_CHUNKED:
			if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
				return FWD_MORE;
			switch (llmo_gw_chunked_next(&req->rch, v.iov_base, v.iov_len, &n)) {
			case LLMO_GW_CHUNK_DATA:
				move_body(req, in, n);
				break;
			case LLMO_GW_CHUNK_SKIP:
			case LLMO_GW_CHUNK_MORE:
				evbuffer_drain(in, n);
				break;
			case LLMO_GW_CHUNK_DONE:
				evbuffer_drain(in, n);
				return FWD_DONE;
			default:
				return FWD_ERROR;
			}
			break;
		default:
			return FWD_ERROR;
		}
		if (!req->event_stream && req->resp_bytes > req->gw->o.response_max)
			return FWD_TOOBIG;
	}
}

/* Writes the answer's head to the client, in one piece of the output buffer. */
static void send_head(struct gw_req *req, const struct llmo_gw_response_head *rh)
{
	struct evbuffer *out = llmo__gw_conn_output(req->c->conn);
	const char *reason = llmo_gw_status_reason(rh->status);
	struct evbuffer_iovec v;
	size_t room = 64 + strlen(reason) + 96; /* status line, framing and Connection lines */
	bool keep = req->keep_alive && !req->close_after;
	bool conn = has_connection(rh->headers, rh->nheaders);
	char *p;

	req->head_sent = true;
	for (size_t i = 0; i < rh->nheaders; i++)
		room += rh->headers[i].name_len + rh->headers[i].value_len + 4;
	if (evbuffer_reserve_space(out, (ev_ssize_t)room, &v, 1) < 1 || v.iov_len < room)
		return; /* out of memory: the client sees a broken answer */
	p = v.iov_base;
	p = PUT_LIT(p, "HTTP/1.");
	*p++ = req->minor ? '1' : '0';
	*p++ = ' ';
	p = put_dec(p, (uint64_t)rh->status);
	*p++ = ' ';
	p = put_mem(p, reason, strlen(reason));
	p = PUT_LIT(p, "\r\n");
	for (size_t i = 0; i < rh->nheaders; i++) {
		const struct llmo_gw_header *h = &rh->headers[i];

		if (llmo_gw_header_hop_by_hop(h) ||
		    (conn && llmo_gw_header_connection_listed(rh->headers, rh->nheaders, h)))
			continue;
		p = put_mem(p, h->name, h->name_len);
		p = PUT_LIT(p, ": ");
		p = put_mem(p, h->value, h->value_len);
		p = PUT_LIT(p, "\r\n");
	}
	if (req->mode == B_LENGTH || (req->mode == B_NONE && !llmo_gw_status_bodyless(rh->status))) {
		p = PUT_LIT(p, "Content-Length: ");
		p = put_dec(p, req->left);
		p = PUT_LIT(p, "\r\n");
	} else if (req->out_chunked) {
		p = PUT_LIT(p, "Transfer-Encoding: chunked\r\n");
	}
	if (!keep)
		p = PUT_LIT(p, "Connection: close\r\n");
	else if (req->minor == 0)
		p = PUT_LIT(p, "Connection: keep-alive\r\n");
	p = PUT_LIT(p, "\r\n");
	v.iov_len = (size_t)(p - (char *)v.iov_base);
	evbuffer_commit_space(out, &v, 1);
}

/*
 * Where the blank line that ends a head starts in `in`, searching from byte
 * `from` on; -1 while there is none. A head nearly always arrives in one
 * piece of the buffer: there the CRLF CRLF is looked for line by line
 * (memchr for each LF); libevent's evbuffer_search, which compares at each
 * CR through the chain, is left for heads that span pieces.
 */
static ev_ssize_t head_end(struct evbuffer *in, size_t from, size_t len)
{
	struct evbuffer_iovec v;
	struct evbuffer_ptr start, pos;

	if (evbuffer_peek(in, -1, NULL, &v, 1) >= 1 && v.iov_len >= len) {
		const char *b = v.iov_base, *p = b + (from > 3 ? from : 3), *end = b + len;

		while (p < end && (p = memchr(p, '\n', (size_t)(end - p)))) {
			if (p[-1] == '\r' && p[-2] == '\n' && p[-3] == '\r')
				return (ev_ssize_t)(p - 3 - b);
			p++;
		}
		return -1;
	}
	evbuffer_ptr_set(in, &start, from, EVBUFFER_PTR_SET);
	pos = evbuffer_search(in, "\r\n\r\n", 4, &start);
	return pos.pos;
}

enum { HEAD_WAIT, HEAD_OK, HEAD_GONE };

/* Reads the answer's head. HEAD_GONE: the request went elsewhere (a retry) or was answered. */
static int read_response_head(struct gw_req *req, struct gw_up *up)
{
	struct llmo_gateway *gw = req->gw;
	struct evbuffer *in = llmo__gw_conn_input(up->conn);

	for (;;) {
		struct llmo_gw_response_head rh;
		size_t len = evbuffer_get_length(in), hlen;
		struct llmo_error err = {0};
		const char *p;
		ev_ssize_t at;

		if (len == 0)
			return HEAD_WAIT;
		at = head_end(in, up->scan, len);
		if (at < 0) {
			if (len > LLMO_GATEWAY_UPSTREAM_HEAD_MAX) {
				upstream_failed(req, F_PROTOCOL);
				return HEAD_GONE;
			}
			up->scan = len > 3 ? len - 3 : 0;
			return HEAD_WAIT;
		}
		hlen = (size_t)at + 4;
		up->scan = 0;
		p = (const char *)evbuffer_pullup(in, (ev_ssize_t)hlen);
		if (hlen > LLMO_GATEWAY_UPSTREAM_HEAD_MAX || !p ||
		    llmo_gw_parse_response_head(p, hlen, false, &rh, &err)) {
			LLMO_DEBUG(LOG, "bad answer head", "backend=%s error=\"%s\"", up->b->addr,
				   err.msg);
			upstream_failed(req, F_PROTOCOL);
			return HEAD_GONE;
		}
		if (rh.status < 200) {
			evbuffer_drain(in, hlen);
			if (rh.status == 101) {
				upstream_failed(req, F_PROTOCOL);
				return HEAD_GONE;
			}
			continue;
		}
		if (rh.status >= 500 && rh.status != 501 && rh.status != 505 &&
		    req->attempts < max_attempts(gw) &&
		    llmo_gw_pick(req->model, req->tried, (size_t)req->attempts, now_ns(), &gw->bal,
				 &gw->rng) >= 0) {
			upstream_failed(req, F_STATUS);
			return HEAD_GONE;
		}
		if (rh.status >= 500)
			record_failure(req, F_STATUS); /* forwarded, yet a failure for the breaker */
		else
			llmo_gw_backend_success(up->b);
		req->status = rh.status;
		req->event_stream = rh.event_stream;
		req->reusable = rh.keep_alive;
		if (rh.content_length >= 0) {
			req->mode = B_LENGTH;
			req->left = (uint64_t)rh.content_length;
			if (rh.content_length == 0 && llmo_gw_status_bodyless(rh.status))
				req->mode = B_NONE;
		} else if (rh.chunked) {
			req->mode = B_CHUNKED;
			llmo_gw_chunked_init(&req->rch);
		} else {
			req->mode = B_CLOSE;
			req->reusable = false;
		}
		if (req->mode == B_LENGTH && !req->event_stream &&
		    req->left > (uint64_t)gw->o.response_max) {
			upstream_error(gw, up->b, F_PROTOCOL);
			req->status = 502;
			req_error(req, 502, "The replica's answer is too large", NULL,
				  "upstream_error", NULL);
			return HEAD_GONE;
		}
		if (req->mode == B_CHUNKED || req->mode == B_CLOSE) {
			if (req->minor >= 1)
				req->out_chunked = true;
			else
				req->close_after = true;
		}
		send_head(req, &rh);
		evbuffer_drain(in, hlen);
		if (req->mode == B_NONE)
			req->t_first = now_ns();
		llmo__gw_conn_timeouts(up->conn, gw->o.idle_timeout_ms, gw->o.idle_timeout_ms);
		return HEAD_OK;
	}
}

static void up_read_cb(struct llmo__gw_conn *conn, void *arg)
{
	struct gw_up *up = arg;
	struct gw_req *req = up->req;
	struct llmo__gw_conn *client;

	if (!req) {
		/* an idle connection has nothing to say */
		up_free(up);
		return;
	}
	up->got_bytes = true;
	if (!req->head_sent && read_response_head(req, up) != HEAD_OK)
		return;
	client = req->c->conn;
	switch (forward_body(req, llmo__gw_conn_input(conn))) {
	case FWD_DONE:
		complete(req); /* flushes */
		return;
	case FWD_ERROR:
		abort_answer(req, F_PROTOCOL, "malformed_chunked_body");
		return;
	case FWD_TOOBIG:
		abort_answer(req, F_PROTOCOL, "answer_over_size_limit");
		return;
	default:
		break;
	}
	llmo__gw_conn_flush(client);
	if (evbuffer_get_length(llmo__gw_conn_output(client)) > LLMO_GATEWAY_CLIENT_BUFFER_MAX) {
		/* a slow client: stop reading the backend until its output drains */
		llmo__gw_conn_read(conn, false);
		req->paused = true;
	}
}

static void up_event_cb(struct llmo__gw_conn *conn, short what, void *arg)
{
	struct gw_up *up = arg;
	struct gw_req *req = up->req;
	struct llmo_gateway *gw = up->gw;
	enum fail kind;

	if (what & LLMO__GW_CONN_CONNECTED) {
		up->connected = true;
		up->b->connecting--;
		schedule_kick(gw, up->b);
		if (req)
			llmo__gw_conn_timeouts(conn, gw->o.first_byte_timeout_ms,
					       gw->o.idle_timeout_ms);
		return;
	}
	if (!req) {
		/* idle: the backend closed it, or it sat unused too long */
		up_free(up);
		return;
	}
	if (!up->connected)
		kind = (what & LLMO__GW_CONN_TIMEOUT) ? F_CONNECT_TIMEOUT : F_CONNECT;
	else
		kind = (what & LLMO__GW_CONN_TIMEOUT) ? F_TIMEOUT : F_RESET;
	if (!req->head_sent) {
		upstream_failed(req, kind);
		return;
	}
	if ((what & LLMO__GW_CONN_EOF) && req->mode == B_CLOSE) {
		req->reusable = false;
		complete(req);
		return;
	}
	abort_answer(req, kind, kind == F_TIMEOUT ? "idle_timeout" : "backend_closed");
}

/* ---- client connections ---- */

static void client_read_cb(struct llmo__gw_conn *conn, void *arg)
{
	client_process(arg);
}

/* The output drained: a closing connection goes on closing; a paused backend is read again. */
static void client_drained_cb(struct llmo__gw_conn *conn, void *arg)
{
	struct llmo__gw_client *c = arg;

	if (c->state == CS_CLOSING) {
		if (!c->linger) {
			client_free(c);
			return;
		}
		if (!c->shut) {
			/* lingering close: the client reads our answer before it sees a reset */
			llmo__gw_conn_shutdown_write(conn);
			c->shut = true;
			llmo__gw_conn_timeouts(conn, LINGER_MS, 0);
			llmo__gw_conn_read(conn, true);
		}
		return;
	}
	if (c->req && c->req->paused && c->req->up) {
		c->req->paused = false;
		llmo__gw_conn_read(c->req->up->conn, true);
	}
}

static void client_event_cb(struct llmo__gw_conn *conn, short what, void *arg)
{
	struct llmo__gw_client *c = arg;

	if ((what & LLMO__GW_CONN_TIMEOUT) && c->state == CS_HEAD && c->head_started)
		LLMO_DEBUG(LOG, "client too slow with its request head", "peer=%s", c->peer);
	client_free(c);
}

static const struct llmo__gw_conn_cbs client_cbs = {client_read_cb, client_drained_cb,
						    client_event_cb};

static void client_free(struct llmo__gw_client *c)
{
	struct llmo_gateway *gw = c->gw;

	if (c->req) {
		/* the client went away mid-request: 499, as nginx counts it */
		struct gw_req *req = c->req;

		req->c = NULL;
		c->req = NULL;
		req_finish(req, req->head_sent ? req->status : 499);
	}
	if (c->prev)
		c->prev->next = c->next;
	else
		gw->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	gw->nclients--;
	llmo__gw_conn_free(c->conn);
	free(c);
	llmo_metric_set(gw->m_clients, NULL, (double)gw->nclients);
	if (gw->full && gw->nclients < (size_t)gw->o.clients_max) {
		gw->full = false;
		evconnlistener_enable(gw->listener);
	}
}

/* Ready for the next request on a kept-alive connection. */
static void client_next(struct llmo__gw_client *c)
{
	c->state = CS_HEAD;
	c->scan = 0;
	c->head_started = 0;
	llmo__gw_conn_timeouts(c->conn, LLMO_GATEWAY_KEEPALIVE_TIMEOUT_MS,
			       LLMO_GATEWAY_CLIENT_WRITE_TIMEOUT_MS);
	if (c->read_off) {
		c->read_off = false;
		llmo__gw_conn_read(c->conn, true);
	}
	if (!c->in_process && evbuffer_get_length(llmo__gw_conn_input(c->conn)) > 0)
		client_process(c);
}

/*
 * Closes the connection once the answer is written (never at once: the
 * write callback does it). linger: the client may still be sending.
 */
static void client_close(struct llmo__gw_client *c, bool linger)
{
	c->state = CS_CLOSING;
	c->linger = linger;
	llmo__gw_conn_timeouts(c->conn, 0, LLMO_GATEWAY_CLIENT_WRITE_TIMEOUT_MS);
	if (c->read_off) {
		c->read_off = false;
		llmo__gw_conn_read(c->conn, true);
	}
	llmo__gw_conn_flush(c->conn);
	llmo__gw_conn_defer_drained(c->conn);
}

static bool path_is(const struct llmo_gw_request_head *h, const char *path)
{
	return h->path_len == strlen(path) && memcmp(h->target, path, h->path_len) == 0;
}

static bool method_is(const struct llmo_gw_request_head *h, const char *m)
{
	return h->method_len == strlen(m) && memcmp(h->method, m, h->method_len) == 0;
}

static bool is_authorization(const struct llmo_gw_header *hd)
{
	return hd->name_len == 13 && strncasecmp(hd->name, "authorization", 13) == 0;
}

/*
 * The bearer key of h's Authorization header into *key, *len (0: none).
 * false when it is not usable: two of them, not a bearer key, empty or
 * longer than LLMO_GW_KEY_MAX.
 */
static bool bearer_key(const struct llmo_gw_request_head *h, const char **key, size_t *len)
{
	*key = NULL;
	*len = 0;
	for (size_t i = 0; i < h->nheaders; i++) {
		const struct llmo_gw_header *hd = &h->headers[i];
		const char *v = hd->value;
		size_t n = hd->value_len;

		if (!is_authorization(hd))
			continue;
		if (*key || n < 7 || strncasecmp(v, "Bearer ", 7) != 0)
			return false; /* two of them, or not a bearer key */
		v += 7;
		n -= 7;
		while (n && *v == ' ') {
			v++;
			n--;
		}
		if (n == 0 || n > LLMO_GW_KEY_MAX)
			return false;
		*key = v;
		*len = n;
	}
	return true;
}

/* Reads the bearer key of an Authorization header into req->auth. */
static void read_auth(struct gw_req *req, const struct llmo_gw_request_head *h)
{
	const char *v;
	size_t n;

	if (!bearer_key(h, &v, &n)) {
		req->auth_bad = true;
		return;
	}
	if (!n)
		return;
	if (!(req->auth = malloc(n + 1))) {
		req->auth_bad = true; /* no memory: refused like a bad key, 401 */
		return;
	}
	memcpy(req->auth, v, n);
	req->auth[n] = '\0';
	req->auth_len = n;
}

/*
 * The tenant whose key h carries, for /v1/models: NULL without keys, or
 * without a valid key (the list then shows the models open to everyone).
 */
static const char *head_tenant(const struct llmo_gateway *gw, const struct llmo_gw_request_head *h)
{
	const struct llmo_gw_tenant *t;
	const char *v;
	size_t n;

	if (!gw->keys || !bearer_key(h, &v, &n) || !n)
		return NULL;
	t = llmo_gw_keys_lookup(gw->keys, v, n);
	return t ? t->name : NULL;
}

/* Builds what goes to the backends from the client's head. */
static int req_prepare(struct gw_req *req, const struct llmo_gw_request_head *h, const char *peer)
{
	bool conn = has_connection(h->headers, h->nheaders);
	int rc;

	/* most heads fit: one allocation, not one per doubling */
	rc = llmo_buf_grow(&req->head, HEAD_GUESS);
	if (!rc)
		rc = llmo_buf_append(&req->head, h->method, h->method_len);
	if (!rc)
		rc = llmo_buf_putc(&req->head, ' ');
	if (!rc)
		rc = llmo_buf_append(&req->head, h->target, h->target_len);
	if (!rc)
		rc = llmo_buf_puts(&req->head, " HTTP/1.1\r\n");
	req->line_len = req->head.len;
	for (size_t i = 0; i < h->nheaders && !rc; i++) {
		const struct llmo_gw_header *hd = &h->headers[i];

		if (llmo_gw_header_hop_by_hop(hd) ||
		    (conn && llmo_gw_header_connection_listed(h->headers, h->nheaders, hd)))
			continue;
		if (hd->id == LLMO_GW_H_X_FORWARDED_FOR)
			continue; /* merged below */
		if (req->gw->keys && is_authorization(hd))
			continue; /* the gateway's credential, not the replica's */
		rc = llmo_buf_append(&req->head, hd->name, hd->name_len);
		if (!rc)
			rc = llmo_buf_puts(&req->head, ": ");
		if (!rc)
			rc = llmo_buf_append(&req->head, hd->value, hd->value_len);
		if (!rc)
			rc = llmo_buf_puts(&req->head, "\r\n");
	}
	/* X-Forwarded-For: what came (every such line, in order), then this client's address */
	if (!rc)
		rc = llmo_buf_puts(&req->head, "X-Forwarded-For: ");
	for (size_t i = 0; i < h->nheaders && !rc; i++) {
		const struct llmo_gw_header *hd = &h->headers[i];

		if (hd->id != LLMO_GW_H_X_FORWARDED_FOR || hd->value_len == 0)
			continue;
		rc = llmo_buf_append(&req->head, hd->value, hd->value_len);
		if (!rc)
			rc = llmo_buf_puts(&req->head, ", ");
	}
	if (!rc)
		rc = llmo_buf_puts(&req->head, peer);
	if (!rc)
		rc = llmo_buf_puts(&req->head, "\r\n\r\n"); /* and the blank line */
	return rc;
}

/* An inference request: its head is read (hlen bytes of input); its body comes next. */
static int start_request(struct llmo__gw_client *c, const struct llmo_gw_request_head *h,
			 size_t hlen)
{
	struct llmo_gateway *gw = c->gw;
	struct evbuffer *in = llmo__gw_conn_input(c->conn);
	struct gw_req *req = calloc(1, sizeof(*req));
	bool has_body = h->chunked || h->content_length > 0;

	if (!req) {
		evbuffer_drain(in, hlen);
		client_error(c, h->minor, false, 503, "The gateway is out of memory", NULL,
			     "Retry-After: 1\r\n");
		return 1;
	}
	req->gw = gw;
	req->c = c;
	req->minor = h->minor;
	req->keep_alive = h->keep_alive;
	req->t0 = now_ns();
	req->status = 0;
	/* the line and the headers (at most the head's size each), with what the gateway adds */
	llmo_buf_init(&req->head, 3 * LLMO_GATEWAY_HEAD_MAX + 64);
	llmo_buf_init(&req->body, gw->o.body_max);
	c->req = req;
	read_auth(req, h);
	if (req_prepare(req, h, c->peer)) {
		evbuffer_drain(in, hlen);
		req_error(req, 503, "The gateway is out of memory", NULL, NULL, "Retry-After: 1\r\n");
		return 1;
	}
	req->api = path_is(h, "/v1/completions")    ? LLMO_GW_API_COMPLETIONS
		   : path_is(h, "/v1/embeddings") ? LLMO_GW_API_EMBEDDINGS
						  : LLMO_GW_API_CHAT;
	req->body_chunked = h->chunked;
	req->body_left = h->content_length > 0 ? h->content_length : 0;
	req->body_read = !has_body;
	if (h->content_length > (int64_t)gw->o.body_max) {
		char msg[128];

		evbuffer_drain(in, hlen);
		snprintf(msg, sizeof(msg), "The request body is larger than %zu bytes",
			 gw->o.body_max);
		req_error(req, 413, msg, NULL, "request_too_large", NULL);
		return 1;
	}
	if (req->body_left > 0 && llmo_buf_grow(&req->body, (size_t)req->body_left)) {
		evbuffer_drain(in, hlen);
		req_error(req, 503, "The gateway is out of memory", NULL, NULL, "Retry-After: 1\r\n");
		return 1;
	}
	if (h->expect_continue && h->minor >= 1 && has_body) {
		evbuffer_add(llmo__gw_conn_output(c->conn), "HTTP/1.1 100 Continue\r\n\r\n", 25);
		llmo__gw_conn_flush(c->conn);
	}
	evbuffer_drain(in, hlen);
	llmo_gw_chunked_init(&req->ch);
	c->state = CS_BODY;
	return 1;
}

/*
 * With keys: the request's key must lead to a tenant (401), whose buckets
 * must allow it (429 with Retry-After). false when it was answered.
 */
static bool admit(struct gw_req *req)
{
	struct llmo_gateway *gw = req->gw;
	struct llmo_gw_tenant *t = NULL;
	char msg[256], extra[64];
	int64_t retry = 0, now = now_ns();
	const char *kind = NULL;

	if (!req->auth_bad && req->auth_len)
		t = llmo_gw_keys_lookup(gw->keys, req->auth, req->auth_len);
	if (!t) {
		if (!req->auth_len && !req->auth_bad)
			req_error(req, 401,
				  "You didn't provide an API key. You need to provide your API key "
				  "in an Authorization header using Bearer auth (i.e. Authorization: "
				  "Bearer YOUR_KEY).",
				  NULL, "missing_api_key", "WWW-Authenticate: Bearer\r\n");
		else
			req_error(req, 401, "Incorrect API key provided.", NULL, "invalid_api_key",
				  "WWW-Authenticate: Bearer\r\n");
		return false;
	}
	llmo_gw_keys_ref(gw->keys);
	req->keys = gw->keys;
	req->tenant = t;
	if (!llmo_gw_bucket_positive(&t->tokens, now, &retry)) {
		kind = "tokens";
		snprintf(msg, sizeof(msg),
			 "Rate limit reached for tenant '%s' on tokens per minute (limit %.0f). "
			 "Please try again in %" PRId64 " s.",
			 t->name, t->tokens.rate_per_s * 60, retry);
	} else if ((retry = llmo_gw_bucket_take(&t->requests, now)) > 0) {
		kind = "requests";
		snprintf(msg, sizeof(msg),
			 "Rate limit reached for tenant '%s' on requests per minute (limit %.0f). "
			 "Please try again in %" PRId64 " s.",
			 t->name, t->requests.rate_per_s * 60, retry);
	}
	if (!kind)
		return true;
	llmo_metric_add(gw->m_rate_limited, (const char *[]){t->name, kind}, 1);
	snprintf(extra, sizeof(extra), "Retry-After: %" PRId64 "\r\n", retry);
	req_error(req, 429, msg, NULL, "rate_limit_exceeded", extra);
	return false;
}

/* an access list's names are tenant names: a longer one could never match */
_Static_assert(LLMO_GW_ACCESS_NAME_MAX == LLMO_GW_TENANT_MAX,
	       "access list names and tenant names have one length limit");

/*
 * Whether req's tenant may call req->model (table.h: access control); when
 * not, answers 403, counts it in llmo_gateway_forbidden_total and returns
 * false. Anonymous requests (no keys configured) may not call a restricted
 * model: nothing says who they are.
 */
static bool access_allowed(struct gw_req *req)
{
	const char *tenant = req->tenant ? req->tenant->name : NULL;
	char msg[LLMO_GW_QUOTE_MAX + LLMO_GW_TENANT_MAX + 192], q[LLMO_GW_QUOTE_MAX + 4];

	if (llmo_gw_model_allows(req->model, tenant))
		return true;
	llmo_metric_add(req->gw->m_forbidden, (const char *[]){req->model->id, tenant ? tenant : ""},
			1);
	llmo_gw_quote_input(q, req->parsed.model, req->parsed.model_len);
	if (tenant)
		snprintf(msg, sizeof(msg), "The tenant '%s' is not allowed to use the model '%s'.",
			 tenant, q);
	else
		snprintf(msg, sizeof(msg),
			 "The model '%s' is restricted to some tenants, and the gateway has no API "
			 "keys to tell who you are.",
			 q);
	req_error(req, 403, msg, "model", "model_access_denied", NULL);
	return false;
}

/*
 * Whether req->model serves the path of req (its model type: table.h,
 * llmo_gw_api_of_type); when not, answers 404 as OpenAI does for a model
 * called on an API it does not serve, naming the paths it does serve.
 */
static bool api_allowed(struct gw_req *req)
{
	char msg[LLMO_GW_QUOTE_MAX + 256], q[LLMO_GW_QUOTE_MAX + 4], want[96], got[64];

	if (!req->model->apis || (req->model->apis & req->api))
		return true;
	llmo_gw_quote_input(q, req->parsed.model, req->parsed.model_len);
	llmo_gw_api_paths(req->model->apis, want, sizeof(want));
	llmo_gw_api_paths(req->api, got, sizeof(got));
	snprintf(msg, sizeof(msg),
		 "The model '%s' is not supported on %s (its model type serves %s).", q, got,
		 want);
	req_error(req, 404, msg, "model", "model_not_supported", NULL);
	return false;
}

/* The whole body is in: read the model, route, send. */
static void body_done(struct gw_req *req)
{
	struct llmo_gateway *gw = req->gw;
	struct llmo__gw_client *c = req->c;
	struct llmo_error err = {0};
	char msg[LLMO_ERRMSG_MAX + 128], q[LLMO_GW_QUOTE_MAX + 4];
	struct llmo_gw_body b;
	int rc;

	c->state = CS_WAIT;
	req->body_read = true;
	llmo__gw_conn_timeouts(c->conn, 0, LLMO_GATEWAY_CLIENT_WRITE_TIMEOUT_MS);
	if (gw->keys && !admit(req))
		return;
	rc = llmo_gw_body_scan(req->body.data, req->body.len, &b, &err);
	switch (rc) {
	case 0:
		break;
	case LLMO_ENOTFOUND:
		req_error(req, 400, "you must provide a model parameter", "model", NULL, NULL);
		return;
	case LLMO_EINVAL:
		req_error(req, 400, err.msg, strstr(err.msg, "model") ? "model" : NULL, NULL, NULL);
		return;
	default:
		snprintf(msg, sizeof(msg), "We could not parse the JSON body of your request: %s",
			 req->body.len ? err.msg : "the body is empty");
		req_error(req, 400, msg, NULL, "invalid_json", NULL);
		return;
	}
	req->model = b.model_too_long ? NULL : llmo_gw_table_lookup(gw->table, b.model, b.model_len);
	if (!req->model) {
		llmo_gw_quote_input(q, b.model, b.model_len);
		snprintf(msg, sizeof(msg),
			 "The model '%s' does not exist or you do not have access to it.", q);
		req_error(req, 404, msg, "model", "model_not_found", NULL);
		return;
	}
	req->parsed.model = b.model_len < MODEL_INLINE ? req->parsed.model_inline
						       : malloc(b.model_len + 1);
	if (!req->parsed.model) {
		req->model = NULL;
		req_error(req, 503, "The gateway is out of memory", NULL, NULL, "Retry-After: 1\r\n");
		return;
	}
	memcpy(req->parsed.model, b.model, b.model_len + 1);
	req->parsed.model_len = b.model_len;
	req->parsed.model_off = b.model_off;
	req->parsed.model_tok_len = b.model_tok_len;
	req->parsed.prompt_off = b.prompt_off;
	req->parsed.prompt_len = b.prompt_len;
	req->routed = req->model;
	llmo_gw_model_ref(req->routed);
	if (!access_allowed(req) || !api_allowed(req))
		return;
	dispatch(req);
}

/* Reads the request body; 1 once it is complete (and the request went on), 0 for more. */
static int read_body(struct llmo__gw_client *c)
{
	struct gw_req *req = c->req;
	struct evbuffer *in = llmo__gw_conn_input(c->conn);

	if (!req->body_chunked) {
		size_t n = LLMO_MIN(evbuffer_get_length(in), (size_t)req->body_left);

		if (n) {
			/* room was reserved for the whole Content-Length */
			evbuffer_remove(in, req->body.data + req->body.len, n);
			req->body.len += n;
			req->body.data[req->body.len] = '\0';
			req->body_left -= (int64_t)n;
		}
		if (req->body_left > 0)
			return 0;
		body_done(req);
		return 1;
	}
	for (;;) {
		struct evbuffer_iovec v;
		size_t n;

		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1 || v.iov_len == 0)
			return 0;
		switch (llmo_gw_chunked_next(&req->ch, v.iov_base, v.iov_len, &n)) {
		case LLMO_GW_CHUNK_DATA:
			if (llmo_buf_append(&req->body, v.iov_base, n)) {
				char msg[128];

				snprintf(msg, sizeof(msg), "The request body is larger than %zu bytes",
					 req->gw->o.body_max);
				req_error(req, 413, msg, NULL, "request_too_large", NULL);
				return 1;
			}
			evbuffer_drain(in, n);
			break;
		case LLMO_GW_CHUNK_SKIP:
		case LLMO_GW_CHUNK_MORE:
			evbuffer_drain(in, n);
			break;
		case LLMO_GW_CHUNK_DONE:
			evbuffer_drain(in, n);
			body_done(req);
			return 1;
		default:
			req_error(req, 400, "The chunked request body is malformed", NULL, NULL, NULL);
			return 1;
		}
	}
}

/* The head of a request is parsed: route it by path. */
static int route(struct llmo__gw_client *c, const struct llmo_gw_request_head *h, size_t hlen)
{
	struct evbuffer *in = llmo__gw_conn_input(c->conn);
	bool has_body = h->chunked || h->content_length > 0;
	bool keep = h->keep_alive && !has_body;
	bool head_only = method_is(h, "HEAD");
	const char *ctype = "text/plain";
	struct llmo_buf body;
	char msg[LLMO_GW_TARGET_MAX + 128];
	int status = 200, rc;

	if (path_is(h, "/v1/chat/completions") || path_is(h, "/v1/completions") ||
	    path_is(h, "/v1/embeddings")) {
		if (method_is(h, "POST"))
			return start_request(c, h, hlen);
		snprintf(msg, sizeof(msg), "Method %.*s is not allowed for %.*s; use POST",
			 (int)h->method_len, h->method, (int)h->path_len, h->target);
		evbuffer_drain(in, hlen);
		client_error(c, h->minor, keep, 405, msg, "method_not_allowed", "Allow: POST\r\n");
		return 1;
	}
	if (!method_is(h, "GET") && !head_only) {
		snprintf(msg, sizeof(msg), "Method %.*s is not allowed for %.*s; use GET",
			 (int)h->method_len, h->method, (int)h->path_len, h->target);
		evbuffer_drain(in, hlen);
		client_error(c, h->minor, keep, 405, msg, "method_not_allowed",
			     "Allow: GET, HEAD\r\n");
		return 1;
	}
	llmo_buf_init(&body, LLMO_BUF_UNLIMITED);
	rc = llmo__gw_admin(c->gw, h->target, h->path_len, head_tenant(c->gw, h), &status, &ctype,
			     &body);
	if (rc == LLMO_ENOTFOUND) {
		snprintf(msg, sizeof(msg), "Unknown path %.*s", (int)h->path_len, h->target);
		llmo_buf_release(&body);
		evbuffer_drain(in, hlen);
		client_error(c, h->minor, keep, 404, msg, "not_found", NULL);
		return 1;
	}
	if (rc) {
		llmo_buf_reset(&body);
		status = 503;
		ctype = "application/json";
		llmo_gw_error_body(&body, 503, "The gateway is out of memory", NULL, NULL);
	}
	write_answer(c, h->minor, keep, head_only, status, ctype, body.data, body.len, NULL);
	llmo_buf_release(&body);
	evbuffer_drain(in, hlen);
	if (keep)
		client_next(c);
	else
		client_close(c, has_body);
	return 1;
}

/* Reads a request head; 1 when it moved on (answered or routed), 0 for more input. */
static int read_head(struct llmo__gw_client *c)
{
	struct evbuffer *in = llmo__gw_conn_input(c->conn);
	struct llmo_gw_request_head h;
	struct llmo_error err = {0};
	const char *p;
	size_t len, hlen;
	ev_ssize_t at;
	int status;

	/* empty lines before a request are ignored (RFC 9112 2.2) */
	while ((len = evbuffer_get_length(in)) >= 2) {
		p = (const char *)evbuffer_pullup(in, 2);
		if (p[0] != '\r' || p[1] != '\n')
			break;
		evbuffer_drain(in, 2);
	}
	if (len == 0)
		return 0;
	if (!c->head_started)
		c->head_started = now_ns(); /* the whole head must come within the head timeout */
	at = head_end(in, c->scan, len);
	if (at < 0 && len <= LLMO_GATEWAY_HEAD_MAX) {
		if (now_ns() - c->head_started > LLMO_GATEWAY_CLIENT_HEAD_TIMEOUT_MS * LLMO_NS_PER_MS) {
			client_error(c, 1, false, 408, "The request head took too long to arrive",
				     "request_timeout", NULL);
			return 1;
		}
		c->scan = len > 3 ? len - 3 : 0;
		return 0;
	}
	if (at < 0 || (size_t)at + 4 > LLMO_GATEWAY_HEAD_MAX) {
		client_error(c, 1, false, 431, "The request head is too large",
			     "request_header_too_large", NULL);
		return 1;
	}
	hlen = (size_t)at + 4;
	c->scan = 0;
	p = (const char *)evbuffer_pullup(in, (ev_ssize_t)hlen);
	if (!p || llmo_gw_parse_request_head(p, hlen, &h, &status, &err)) {
		client_error(c, 1, false, p ? status : 503, p ? err.msg : "out of memory", NULL,
			     NULL);
		return 1;
	}
	return route(c, &h, hlen);
}

/* Handles what the client sent, as far as the connection's state allows. */
static bool client_process(struct llmo__gw_client *c)
{
	c->in_process = true;
	for (;;) {
		struct evbuffer *in = llmo__gw_conn_input(c->conn);
		int progress = 0;

		switch (c->state) {
		case CS_HEAD:
			if (evbuffer_get_length(in) > 0)
				progress = read_head(c);
			break;
		case CS_BODY:
			progress = read_body(c);
			break;
		case CS_WAIT:
			/* pipelined requests wait; past a head's worth, stop reading */
			if (evbuffer_get_length(in) > LLMO_GATEWAY_HEAD_MAX && !c->read_off) {
				llmo__gw_conn_read(c->conn, false);
				c->read_off = true;
			}
			break;
		case CS_CLOSING:
			evbuffer_drain(in, evbuffer_get_length(in));
			break;
		}
		if (!progress)
			break;
	}
	c->in_process = false;
	return true;
}

void llmo__gw_client_accept(struct llmo_gateway *gw, int fd, const struct sockaddr *sa,
			    int salen)
{
	struct llmo__gw_client *c = calloc(1, sizeof(*c));

	if (!c) {
		close(fd);
		return;
	}
	nodelay(fd);
	c->gw = gw;
	c->conn = llmo__gw_conn_new(&gw->io, fd, &client_cbs, c);
	if (!c->conn) {
		free(c);
		return;
	}
	if (gw->ssl_ctx && llmo__gw_conn_tls_accept(c->conn, gw->ssl_ctx)) {
		llmo__gw_conn_free(c->conn);
		free(c);
		return;
	}
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, c->peer,
			  sizeof(c->peer));
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, c->peer,
			  sizeof(c->peer));
	else
		snprintf(c->peer, sizeof(c->peer), "unknown");
	c->next = gw->clients;
	if (c->next)
		c->next->prev = c;
	gw->clients = c;
	gw->nclients++;
	llmo_metric_set(gw->m_clients, NULL, (double)gw->nclients);
	if (gw->nclients >= (size_t)gw->o.clients_max && !gw->full) {
		gw->full = true;
		evconnlistener_disable(gw->listener);
	}
	llmo__gw_conn_timeouts(c->conn, LLMO_GATEWAY_KEEPALIVE_TIMEOUT_MS,
			       LLMO_GATEWAY_CLIENT_WRITE_TIMEOUT_MS);
	llmo__gw_conn_read(c->conn, true);
}

void llmo__gw_clients_close_all(struct llmo_gateway *gw)
{
	while (gw->clients)
		client_free(gw->clients);
}
