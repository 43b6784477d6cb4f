/*
 * The registry's HTTP/1.1 server (registry_int.h): connections on
 * bufferevents (plain or TLS), request heads, streamed request bodies and
 * streamed file answers.
 *
 * Why not evhttp: libevent 2.1's evhttp reads a request body whole into
 * memory before the handler runs, and a registry receives blobs of many
 * gigabytes. Here the body goes to the handler piece by piece as it
 * arrives (at most IN_HWM bytes wait in memory per connection), and file
 * answers are read from disk only as fast as the client takes them (at
 * most OUT_HIGH bytes queued).
 *
 * A connection is in one of these states:
 *
 *     HEAD     reading a request head
 *     BODY     feeding the request body to the handler
 *     ANSWER   a file answer is being read out as the client takes it
 *     DONE     the answer is queued whole: the request is finished by the
 *              processing loop (never inside the handler, which may still
 *              hold the request)
 *     CLOSING  the last answer is queued; close once it is sent (what the
 *              client still sends is dropped)
 *     LINGER   sent and shut for writing; reading (and dropping) what the
 *              client still sends, so that it sees the answer rather than a
 *              reset, for at most LINGER_S seconds or LINGER_MAX bytes
 *
 * A connection is freed only outside its own processing (conn->busy):
 * conn_close() inside a callback marks it dead and the outermost frame
 * frees it.
 */
#include "base/common.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/file.h"
#include "base/log.h"
#include "base/str.h"
#include "metrics/metrics.h"
#include "registry/registry_int.h"

#include "base/banned.h"

#define LOG "registry"
#define BACKLOG 128
/* Pause after a failed accept (out of descriptors) before accepting again. */
#define ACCEPT_RETRY_MS 200
/* Input waiting in memory per connection; reading pauses above it. */
#define IN_HWM ((size_t)1 << 20)
/* Largest read from the socket at once. */
#define SINGLE_READ ((size_t)256 << 10)
/*
 * A file answer is read in pieces of OUT_CHUNK while less than OUT_HIGH is
 * queued; reading starts again below OUT_LOW. The queue is deep enough that
 * the socket still has bytes to send while the next piece is read and hashed
 * (hashing and sending share one thread).
 */
#define OUT_CHUNK ((size_t)1 << 20)
#define OUT_HIGH ((size_t)4 << 20)
#define OUT_LOW ((size_t)2 << 20)
/*
 * Largest write to the socket (or TLS layer) at once. libevent's default is
 * 16 KiB: one syscall and one trip round the event loop per 16 KiB, which
 * cost a 1 GiB pull 65536 of each.
 */
#define SINGLE_WRITE ((size_t)1 << 20)
/*
 * While a blob's digest is computed beside its sending (hasher.h), its last
 * VERIFY_HOLD bytes are not queued: a client can never receive the whole
 * of a blob that turns out not to match.
 */
#define VERIFY_HOLD ((uint64_t)64 << 10)
/* Lingering close bounds. */
#define LINGER_S 5
#define LINGER_MAX ((size_t)64 << 20)
/* Longest extra header text of one answer. */
#define HEADERS_MAX ((size_t)16 << 10)

enum conn_state { ST_HEAD, ST_BODY, ST_ANSWER, ST_DONE, ST_CLOSING, ST_LINGER };

struct llmo__reg_conn {
	struct llmo_registry *reg;
	struct llmo__reg_conn *next, **pprev;
	struct bufferevent *bev;
	enum conn_state state;
	int busy;   /* nesting depth of our own frames on the stack */
	bool dead;  /* free when the outermost frame returns */
	bool close_after;
	char peer[INET6_ADDRSTRLEN + 8];
	struct llmo_buf head;
	struct llmo_gw_request_head h;
	/* body framing */
	struct llmo_gw_chunked chunked;
	int64_t body_left; /* Content-Length bodies: bytes to come */
	struct llmo__reg_req *req;
	/* file answer */
	int fd;
	uint64_t off, left;
	bool streaming;  /* read into memory piece by piece (TLS, no sendfile, or hashing inline) */
	bool sendfile;   /* queued as file segments the kernel sends (plain sockets) */
	bool may_sendfile; /* plain socket, and sendfile() suits the peer (registry.h) */
	bool verifying;  /* hashed inline as read, in c->hash (no worker thread) */
	struct llmo_sha256 hash;
	struct llmo_digest want;
	/* verification on a worker thread (hasher.h): the last c->held bytes
	 * wait until the hash of the whole file matches */
	struct llmo_reg_hash_job *job;
	uint64_t held;
	struct stat st0; /* the file when the answer began */
	size_t lingered;
};

static void conn_free(struct llmo__reg_conn *c);
static void conn_process(struct llmo__reg_conn *c);

static void conn_close(struct llmo__reg_conn *c)
{
	if (c->busy)
		c->dead = true;
	else
		conn_free(c);
}

/* Frames that may close the connection bracket their work with enter/leave. */
static void enter(struct llmo__reg_conn *c)
{
	c->busy++;
}

/* Returns false when the connection was freed. */
static bool leave(struct llmo__reg_conn *c)
{
	if (--c->busy == 0 && c->dead) {
		conn_free(c);
		return false;
	}
	return true;
}

/* ---- requests ---- */

static void req_free(struct llmo__reg_req *req)
{
	if (!req)
		return;
	if (req->upload)
		req->upload->busy = false;
	/* a transfer for a request gone: its result is not wanted */
	llmo__reg_s3_abandon(req);
	if (req->pinned)
		llmo_reg_blob_unpin(req->reg->store, &req->pin);
	llmo__reg_auth_drop(req->auth);
	llmo_buf_release(&req->body);
	llmo_buf_release(&req->headers);
	free(req);
}

const char *llmo__reg_header(const struct llmo__reg_req *req, const char *name)
{
	for (size_t i = 0; i < req->head->nheaders; i++)
		if (llmo_gw_header_is(&req->head->headers[i], name))
			return req->head->headers[i].value;
	return NULL;
}

void llmo__reg_add_header(struct llmo__reg_req *req, const char *name, const char *fmt, ...)
{
	size_t start = req->headers.len;
	va_list ap;
	int rc;

	rc = llmo_buf_appendf(&req->headers, "%s: ", name);
	if (!rc) {
		va_start(ap, fmt);
		rc = llmo_buf_vappendf(&req->headers, fmt, ap);
		va_end(ap);
	}
	if (!rc)
		rc = llmo_buf_puts(&req->headers, "\r\n");
	if (rc) {
		LLMO_WARN(LOG, "response header dropped", "name=%s", name);
		llmo_buf_truncate(&req->headers, start);
	}
}

static void write_head(struct llmo__reg_conn *c, int status, const char *content_type,
		       uint64_t len)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	struct llmo__reg_req *req = c->req;
	char date[64];
	time_t now = time(NULL);
	struct tm tm;

	if (!req || !c->h.keep_alive)
		c->close_after = true;
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	evbuffer_add_printf(out,
			    "HTTP/1.1 %d %s\r\nDate: %s\r\n"
			    "Docker-Distribution-API-Version: registry/2.0\r\n",
			    status, llmo_gw_status_reason(status), date);
	if (content_type)
		evbuffer_add_printf(out, "Content-Type: %s\r\n", content_type);
	evbuffer_add_printf(out, "Content-Length: %" PRIu64 "\r\n", len);
	if (req && req->headers.len)
		evbuffer_add(out, req->headers.data, req->headers.len);
	if (c->close_after)
		evbuffer_add(out, "Connection: close\r\n", 19);
	evbuffer_add(out, "\r\n", 2);
}

static void count_request(struct llmo__reg_req *req, int status)
{
	/* method names come from outside: unknown ones are counted together */
	const char *method = req->method == LLMO__REG_OTHER ? "OTHER" : req->method_name;
	char code[8], q[LLMO_LOG_QUOTE_MAX];

	snprintf(code, sizeof(code), "%d", status);
	llmo_metric_add(req->reg->m_requests, (const char *[]){method, code}, 1);
	if (status >= 500)
		LLMO_WARN(LOG, "request failed", "method=%s path=%s status=%d peer=%s", method,
			  llmo_log_quote(q, sizeof(q), req->path), status, req->conn->peer);
	else
		LLMO_DEBUG(LOG, "request", "method=%s path=%s status=%d tenant=%s peer=%s", method,
			   llmo_log_quote(q, sizeof(q), req->path), status,
			   req->who ? req->who->tenant : "-", req->conn->peer);
}

static void start_linger(struct llmo__reg_conn *c);

/*
 * (State DONE, from the processing loop.) The answer is queued whole: free
 * the request, then go on with the next one, or close once the answer is
 * sent.
 */
static void request_done(struct llmo__reg_conn *c)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);

	req_free(c->req);
	c->req = NULL;
	if (c->close_after) {
		c->state = ST_CLOSING;
		bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
		if (evbuffer_get_length(out) == 0)
			start_linger(c);
		return;
	}
	c->state = ST_HEAD;
	llmo_buf_reset(&c->head);
}

/* Marks the request answered; false when it already was (a handler bug, logged). */
static bool begin_answer(struct llmo__reg_req *req, int status)
{
	if (req->answered) {
		char q[LLMO_LOG_QUOTE_MAX];

		LLMO_ERROR(LOG, "request answered twice", "path=%s status=%d",
			   llmo_log_quote(q, sizeof(q), req->path), status);
		return false;
	}
	req->answered = true;
	req->status = status;
	/* its record change is made: the next one may start */
	llmo__reg_records_release(req);
	count_request(req, status);
	/* an answer before the whole body was read: the rest of it is not wanted */
	if (req->conn->state == ST_BODY && req->has_body)
		req->conn->close_after = true;
	return true;
}

void llmo__reg_respond(struct llmo__reg_req *req, int status, const char *content_type,
		       const void *body, size_t len)
{
	struct llmo__reg_conn *c = req->conn;

	if (!begin_answer(req, status))
		return;
	write_head(c, status, content_type, len);
	if (req->method != LLMO__REG_HEAD && len)
		evbuffer_add(bufferevent_get_output(c->bev), body, len);
	c->state = ST_DONE;
}

void llmo__reg_respond_head(struct llmo__reg_req *req, int status, const char *content_type,
			    uint64_t len)
{
	struct llmo__reg_conn *c = req->conn;

	if (!begin_answer(req, status))
		return;
	write_head(c, status, content_type, len);
	c->state = ST_DONE;
}

/* The end of a file answer, whole or not. */
static void file_end(struct llmo__reg_conn *c)
{
	if (c->job) {
		llmo_reg_hash_job_cancel(c->job);
		c->job = NULL;
	}
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->streaming = c->sendfile = c->verifying = false;
	c->held = 0;
	llmo_sha256_release(&c->hash);
}

/* Ends a file answer early: the client gets fewer bytes than announced. */
static void stream_fail(struct llmo__reg_conn *c)
{
	file_end(c);
	conn_close(c);
}

/* Every byte of the file answer is queued: the request is finished by the loop. */
static void stream_done(struct llmo__reg_conn *c)
{
	file_end(c);
	bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
	c->state = ST_DONE;
}

/*
 * (Plain sockets.) Queues what may be sent of the file (all but c->held
 * bytes) as a file segment: the kernel sends it with sendfile() straight
 * from the page cache, and the loop stays free. The segment has its own
 * descriptor, so it outlives this answer if it must.
 */
static void send_segments(struct llmo__reg_conn *c)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	struct evbuffer_file_segment *seg;
	uint64_t n = c->left - c->held;
	int fd;

	if (n > 0) {
		fd = fcntl(c->fd, F_DUPFD_CLOEXEC, 0);
		seg = fd < 0 ? NULL
			     : evbuffer_file_segment_new(fd, (ev_off_t)c->off, (ev_off_t)n,
							 EVBUF_FS_CLOSE_ON_FREE);
		if (!seg) {
			if (fd >= 0)
				close(fd);
			LLMO_ERROR(LOG, "cannot send a blob", "error=\"%s\" peer=%s",
				   strerror(errno), c->peer);
			stream_fail(c);
			return;
		}
		if (evbuffer_add_file_segment(out, seg, 0, (ev_off_t)n) < 0) {
			evbuffer_file_segment_free(seg);
			LLMO_ERROR(LOG, "out of memory sending a blob", "peer=%s", c->peer);
			stream_fail(c);
			return;
		}
		/* the buffer holds its own reference until the bytes are sent */
		evbuffer_file_segment_free(seg);
		c->off += n;
		c->left -= n;
		llmo__reg_count_bytes(c->reg, false, n);
	}
	if (c->left == 0)
		stream_done(c);
}

/* Queues file pieces while the output is short; finishes the request at the end. */
static void stream_fill(struct llmo__reg_conn *c)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);

	while (c->left > c->held && evbuffer_get_length(out) < OUT_HIGH) {
		size_t want = c->left - c->held < OUT_CHUNK ? (size_t)(c->left - c->held) : OUT_CHUNK;
		struct evbuffer_iovec v;
		ssize_t n;

		if (evbuffer_reserve_space(out, (ev_ssize_t)want, &v, 1) < 1) {
			LLMO_ERROR(LOG, "out of memory sending a blob", "peer=%s", c->peer);
			stream_fail(c);
			return;
		}
		do
			n = pread(c->fd, v.iov_base, want, (off_t)c->off);
		while (n < 0 && errno == EINTR);
		if (n <= 0) {
			LLMO_ERROR(LOG, "cannot read a blob", "error=\"%s\" peer=%s",
				   n < 0 ? strerror(errno) : "file shrank", c->peer);
			stream_fail(c);
			return;
		}
		if (c->verifying) {
			llmo_sha256_update(&c->hash, v.iov_base, (size_t)n);
			if ((uint64_t)n == c->left) {
				struct llmo_digest got;
				char a[LLMO_DIGEST_STR_MAX], b[LLMO_DIGEST_STR_MAX];

				/* the last piece goes out only if the whole matches */
				if (llmo_sha256_peek(&c->hash, &got) || !llmo_digest_equal(&got, &c->want)) {
					LLMO_ERROR(LOG, "blob does not match its digest, not sent whole",
						   "digest=%s got=%s peer=%s",
						   llmo_digest_str(&c->want, a),
						   llmo_digest_str(&got, b), c->peer);
					llmo__reg_count_corrupt(c->reg);
					stream_fail(c);
					return;
				}
				llmo_reg_blob_mark_verified(c->reg->store, &c->want, c->fd);
			}
		}
		v.iov_len = (size_t)n;
		evbuffer_commit_space(out, &v, 1);
		c->off += (uint64_t)n;
		c->left -= (uint64_t)n;
		llmo__reg_count_bytes(c->reg, false, (uint64_t)n);
	}
	if (c->left == 0)
		stream_done(c);
}

/* Whether the file was written to or replaced since the answer began. */
static bool file_changed(const struct llmo__reg_conn *c)
{
	struct stat st;

	/* the same descriptor: its device cannot change, so the comparison is the one it was */
	return fstat(c->fd, &st) < 0 || !llmo_file_same(&st, &c->st0);
}

/*
 * (Loop thread, from the hasher.) The digest of the file being sent is
 * known: release the held-back end if it matches and the file did not
 * change meanwhile (the hash and the send read the file separately), else
 * cut the connection short of the announced length.
 */
static void on_hashed(void *arg, int rc, const struct llmo_digest *got, const char *msg)
{
	struct llmo__reg_conn *c = arg;
	char a[LLMO_DIGEST_STR_MAX], b[LLMO_DIGEST_STR_MAX];

	c->job = NULL;
	enter(c);
	if (rc) {
		LLMO_ERROR(LOG, "cannot verify a blob, not sent whole", "digest=%s error=\"%s\" peer=%s",
			   llmo_digest_str(&c->want, a), msg, c->peer);
		stream_fail(c);
	} else if (!llmo_digest_equal(got, &c->want)) {
		LLMO_ERROR(LOG, "blob does not match its digest, not sent whole",
			   "digest=%s got=%s peer=%s", llmo_digest_str(&c->want, a),
			   llmo_digest_str(got, b), c->peer);
		llmo__reg_count_corrupt(c->reg);
		stream_fail(c);
	} else if (file_changed(c)) {
		LLMO_ERROR(LOG, "blob file changed while it was sent, not sent whole",
			   "digest=%s peer=%s", llmo_digest_str(&c->want, a), c->peer);
		llmo__reg_count_corrupt(c->reg);
		stream_fail(c);
	} else {
		llmo_reg_blob_mark_verified(c->reg->store, &c->want, c->fd);
		c->held = 0;
		if (c->sendfile)
			send_segments(c);
		else
			stream_fill(c);
		if (!c->dead && c->state == ST_DONE)
			conn_process(c);
	}
	leave(c);
}

/*
 * Starts the hash of the file answer's len bytes on a worker thread and
 * holds back its end. false when no worker can take it (the caller then
 * hashes inline).
 */
static bool hash_beside(struct llmo__reg_conn *c, uint64_t len)
{
	struct llmo_error err = {0};

	if (!c->reg->hasher || fstat(c->fd, &c->st0) < 0)
		return false;
	if (llmo_reg_hasher_submit(c->reg->hasher, c->fd, len, on_hashed, c, &c->job, &err)) {
		LLMO_WARN(LOG, "hashing inline", "error=\"%s\"", err.msg);
		return false;
	}
	c->held = len < VERIFY_HOLD ? len : VERIFY_HOLD;
	return true;
}

void llmo__reg_respond_file(struct llmo__reg_req *req, int status, const char *content_type,
			    int fd, uint64_t first, uint64_t len, const struct llmo_digest *verify)
{
	struct llmo__reg_conn *c = req->conn;

	if (!begin_answer(req, status)) {
		close(fd);
		return;
	}
	write_head(c, status, content_type, len);
	if (req->method == LLMO__REG_HEAD || len == 0) {
		close(fd);
		c->state = ST_DONE;
		return;
	}
	c->state = ST_ANSWER;
	c->fd = fd;
	c->off = first;
	c->left = len;
	c->held = 0;
	if (verify) {
		c->want = *verify;
		/* inline, the loop alternates reading, hashing and sending */
		c->verifying = !hash_beside(c, len);
		if (c->verifying && llmo_sha256_init(&c->hash)) {
			stream_fail(c);
			return;
		}
	}
	if (c->may_sendfile && !c->verifying) {
		c->sendfile = true;
		bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
		send_segments(c);
		return;
	}
	c->streaming = true;
	bufferevent_setwatermark(c->bev, EV_WRITE, OUT_LOW, 0);
	stream_fill(c);
}

/* An answer for a request that could not be parsed (no struct llmo__reg_req). */
static void raw_error(struct llmo__reg_conn *c, int status, const char *msg)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	char body[512];
	int n = snprintf(body, sizeof(body),
			 "{\"errors\":[{\"code\":\"UNSUPPORTED\",\"message\":\"%s\",\"detail\":{}}]}\n",
			 msg);

	c->close_after = true;
	write_head(c, status, "application/json", (uint64_t)n);
	evbuffer_add(out, body, (size_t)n);
	c->state = ST_CLOSING;
	bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
}

/* ---- reading ---- */

static enum llmo__reg_method method_of(const char *m)
{
	static const struct {
		const char *name;
		enum llmo__reg_method m;
	} methods[] = {
		{"GET", LLMO__REG_GET},	    {"HEAD", LLMO__REG_HEAD},	  {"PUT", LLMO__REG_PUT},
		{"POST", LLMO__REG_POST},   {"PATCH", LLMO__REG_PATCH}, {"DELETE", LLMO__REG_DELETE},
	};

	for (size_t i = 0; i < LLMO_ARRAY_LEN(methods); i++)
		if (strcmp(m, methods[i].name) == 0)
			return methods[i].m;
	return LLMO__REG_OTHER;
}

/*
 * NUL-terminates the strings the parsed head points at, in the head
 * buffer itself: each is followed by a byte that is no longer needed (the
 * space after the method and target, '?', ':', the CR or blank after a
 * header value).
 */
static void terminate_head(struct llmo__reg_conn *c)
{
	struct llmo_gw_request_head *h = &c->h;

	((char *)h->method)[h->method_len] = '\0';
	((char *)h->target)[h->target_len] = '\0';
	if (h->path_len < h->target_len)
		((char *)h->target)[h->path_len] = '\0';
	for (size_t i = 0; i < h->nheaders; i++) {
		((char *)h->headers[i].name)[h->headers[i].name_len] = '\0';
		((char *)h->headers[i].value)[h->headers[i].value_len] = '\0';
	}
}

/*
 * Whether the bytes so far can begin a request line (an upper-case method
 * and a space), so that a client speaking something else (a TLS hello sent
 * to a plain-HTTP port, as clients probing for HTTPS do) is answered at
 * once instead of waiting for a head that never comes.
 */
static bool plausible_start(struct evbuffer *in, size_t len)
{
	size_t n = len < LLMO_GW_METHOD_MAX + 1 ? len : LLMO_GW_METHOD_MAX + 1;
	const unsigned char *p = evbuffer_pullup(in, (ev_ssize_t)n);

	for (size_t i = 0; p && i < n; i++) {
		if (p[i] == ' ')
			return i > 0;
		if (p[i] < 'A' || p[i] > 'Z')
			return false;
	}
	return n <= LLMO_GW_METHOD_MAX;
}

/* Reads a head when a whole one is there: 1 (go on), 0 (wait for more). */
static int read_head(struct llmo__reg_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	struct llmo_error err = {0};
	struct llmo__reg_req *req;
	struct evbuffer_ptr end, pos;
	size_t len, hlen;
	int status = 400;
	unsigned char *p;

	/* RFC 9112 2.2: empty lines before a request line are ignored */
	while ((len = evbuffer_get_length(in)) >= 2 && (p = evbuffer_pullup(in, 2)) &&
	       p[0] == '\r' && p[1] == '\n')
		evbuffer_drain(in, 2);
	if (len == 0)
		return 0;
	evbuffer_ptr_set(in, &end, len < LLMO_REGISTRY_HEAD_MAX ? len : LLMO_REGISTRY_HEAD_MAX,
			 EVBUFFER_PTR_SET);
	pos = evbuffer_search_range(in, "\r\n\r\n", 4, NULL, &end);
	if (pos.pos < 0) {
		if (len >= LLMO_REGISTRY_HEAD_MAX)
			raw_error(c, 431, "request head too large");
		else if (!plausible_start(in, len))
			raw_error(c, 400, "not an HTTP request");
		return 0;
	}
	hlen = (size_t)pos.pos + 4;
	llmo_buf_reset(&c->head);
	if (llmo_buf_grow(&c->head, hlen)) {
		raw_error(c, 500, "out of memory");
		return 0;
	}
	evbuffer_remove(in, c->head.data, hlen);
	c->head.len = hlen;
	c->head.data[hlen] = '\0';
	if (llmo_gw_parse_request_head(c->head.data, hlen, &c->h, &status, &err)) {
		LLMO_DEBUG(LOG, "bad request head", "peer=%s error=\"%s\"", c->peer, err.msg);
		raw_error(c, status, status == 431	 ? "too many header lines"
				     : status == 414 ? "request target too long"
				     : status == 505 ? "HTTP version not supported"
				     : status == 501 ? "unsupported transfer coding or method"
				     : status == 417 ? "unsupported expectation"
						     : "malformed request");
		return 0;
	}
	terminate_head(c);
	req = calloc(1, sizeof(*req));
	if (!req) {
		raw_error(c, 500, "out of memory");
		return 0;
	}
	req->reg = c->reg;
	req->conn = c;
	req->head = &c->h;
	req->method_name = c->h.method;
	req->method = method_of(c->h.method);
	req->path = c->h.target;
	req->path_len = c->h.path_len;
	if (c->h.path_len < c->h.target_len) {
		req->query = c->h.target + c->h.path_len + 1;
		req->query_len = c->h.target_len - c->h.path_len - 1;
	} else {
		req->query = "";
	}
	req->content_length = c->h.chunked ? -1 : c->h.content_length < 0 ? 0 : c->h.content_length;
	req->has_body = c->h.chunked || c->h.content_length > 0;
	llmo_buf_init(&req->headers, HEADERS_MAX);
	llmo_buf_init(&req->body, LLMO_REGISTRY_MANIFEST_MAX);
	c->req = req;
	c->body_left = c->h.chunked ? -1 : req->content_length;
	llmo_gw_chunked_init(&c->chunked);
	c->state = ST_BODY;
	llmo__reg_dispatch(req);
	if (c->dead || req->answered)
		return 1;
	if (req->has_body && req->on_data && c->h.expect_continue)
		evbuffer_add(bufferevent_get_output(c->bev), "HTTP/1.1 100 Continue\r\n\r\n", 25);
	return 1;
}

/* Hands n body bytes to the handler; false when it answered (stop reading). */
static bool deliver(struct llmo__reg_conn *c, const char *p, size_t n)
{
	struct llmo__reg_req *req = c->req;

	req->body_seen += n;
	if (!req->on_data)
		return true;
	/* req stays allocated until the loop finishes it (state DONE) */
	return req->on_data(req, p, n) == 0 && !req->answered && !c->dead;
}

/* After a handler ran: it answered, or waits for a worker; anything else is a bug. */
static void must_answer(struct llmo__reg_conn *c, struct llmo__reg_req *req)
{
	if (!c->dead && !req->answered && !llmo__reg_s3_waiting(req)) {
		char q[LLMO_LOG_QUOTE_MAX];

		LLMO_ERROR(LOG, "handler did not answer", "path=%s",
			   llmo_log_quote(q, sizeof(q), req->path));
		llmo__reg_error(req, 500, "UNKNOWN", "internal error");
	}
}

static void body_complete(struct llmo__reg_conn *c)
{
	struct llmo__reg_req *req = c->req;

	c->state = ST_ANSWER;
	if (req->on_end)
		req->on_end(req);
	must_answer(c, req);
}

void llmo__reg_wait(struct llmo__reg_req *req)
{
	struct timeval wt = {LLMO_REGISTRY_WRITE_TIMEOUT_S, 0};

	bufferevent_set_timeouts(req->conn->bev, NULL, &wt);
}

void llmo__reg_resume(struct llmo__reg_req *req, llmo__reg_req_fn fn)
{
	struct llmo__reg_conn *c = req->conn;
	struct timeval rt = {LLMO_REGISTRY_READ_TIMEOUT_S, 0};
	struct timeval wt = {LLMO_REGISTRY_WRITE_TIMEOUT_S, 0};

	enter(c);
	bufferevent_set_timeouts(c->bev, &rt, &wt);
	fn(req);
	must_answer(c, req);
	if (!c->dead && c->state == ST_DONE)
		conn_process(c);
	leave(c);
}

/* Feeds the buffered body bytes to the handler: 1 (go on), 0 (wait for more). */
static int read_body(struct llmo__reg_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	struct llmo__reg_req *req = c->req;

	if (!req->has_body) {
		body_complete(c);
		return 1;
	}
	while (evbuffer_get_length(in) > 0) {
		struct evbuffer_iovec v;
		size_t n;

		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			break;
		if (c->body_left >= 0) {
			n = (uint64_t)c->body_left < v.iov_len ? (size_t)c->body_left : v.iov_len;
			if (!deliver(c, v.iov_base, n))
				return 1;
			evbuffer_drain(in, n);
			c->body_left -= (int64_t)n;
			if (c->body_left == 0) {
				body_complete(c);
				return 1;
			}
			continue;
		}
		switch (llmo_gw_chunked_next(&c->chunked, v.iov_base, v.iov_len, &n)) {
		case LLMO_GW_CHUNK_DATA:
			if (!deliver(c, v.iov_base, n))
				return 1;
			evbuffer_drain(in, n);
			break;
		case LLMO_GW_CHUNK_SKIP:
		case LLMO_GW_CHUNK_MORE:
			evbuffer_drain(in, n);
			break;
		case LLMO_GW_CHUNK_DONE:
			evbuffer_drain(in, n);
			body_complete(c);
			return 1;
		case LLMO_GW_CHUNK_ERROR:
			llmo__reg_error(req, 400, "BLOB_UPLOAD_INVALID", "malformed chunked body");
			return 1;
		}
	}
	return 0;
}

static void linger_drop(struct llmo__reg_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	size_t n = evbuffer_get_length(in);

	evbuffer_drain(in, n);
	c->lingered += n;
	if (c->lingered > LINGER_MAX)
		conn_close(c);
}

static void conn_process(struct llmo__reg_conn *c)
{
	int go = 1;

	enter(c);
	while (go && !c->dead) {
		switch (c->state) {
		case ST_HEAD:
			go = read_head(c);
			break;
		case ST_BODY:
			go = read_body(c);
			break;
		case ST_DONE:
			request_done(c);
			break;
		case ST_CLOSING:
		case ST_LINGER:
			linger_drop(c);
			go = 0;
			break;
		case ST_ANSWER:
			go = 0;
			break;
		}
	}
	leave(c);
}

/* ---- connection callbacks ---- */

/*
 * libevent 2.1 reads a plain socket at most 4096 bytes per readiness event
 * (its EVBUFFER_MAX_READ, whatever the max single read is): a 1 GiB upload
 * took 262144 trips round the event loop, each an epoll_wait, an ioctl, a
 * readv and a pwrite. While a request body streams in, read on directly
 * into the input buffer in pieces of SINGLE_READ until the socket is empty
 * or IN_HWM bytes wait. End of stream and errors are left for libevent's
 * own next read to report. (A TLS bufferevent reads up to the max single
 * read already.)
 */
static void read_more(struct llmo__reg_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	evutil_socket_t fd = bufferevent_getfd(c->bev);
	size_t len;

	if (c->reg->ssl_ctx || fd < 0 || c->state != ST_BODY)
		return;
	/* the socket bufferevent keeps its input's end frozen except while it
	 * reads (bufferevent_readcb does this same unfreeze and freeze) */
	evbuffer_unfreeze(in, 0);
	while ((len = evbuffer_get_length(in)) < IN_HWM) {
		size_t want = IN_HWM - len < SINGLE_READ ? IN_HWM - len : SINGLE_READ;
		struct evbuffer_iovec v;
		ssize_t n;

		if (evbuffer_reserve_space(in, (ev_ssize_t)want, &v, 1) < 1)
			break;
		do
			n = recv(fd, v.iov_base, want, MSG_DONTWAIT);
		while (n < 0 && errno == EINTR);
		if (n <= 0)
			break; /* the reservation is dropped uncommitted */
		v.iov_len = (size_t)n;
		if (evbuffer_commit_space(in, &v, 1) < 0 || (size_t)n < want)
			break;
	}
	evbuffer_freeze(in, 0);
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct llmo__reg_conn *c = arg;

	read_more(c);
	conn_process(c);
}

static void start_linger(struct llmo__reg_conn *c)
{
	struct timeval tv = {LINGER_S, 0};
	evutil_socket_t fd = bufferevent_getfd(c->bev);

	c->state = ST_LINGER;
	if (c->reg->ssl_ctx || fd < 0 || shutdown(fd, SHUT_WR) < 0) {
		/* a TLS stream cannot be half-closed under the TLS layer's feet */
		conn_close(c);
		return;
	}
	bufferevent_set_timeouts(c->bev, &tv, NULL);
	bufferevent_setwatermark(c->bev, EV_READ, 0, 0);
	bufferevent_enable(c->bev, EV_READ);
	linger_drop(c);
}

static void on_write(struct bufferevent *bev, void *arg)
{
	struct llmo__reg_conn *c = arg;

	enter(c);
	if (c->streaming) {
		stream_fill(c);
		if (c->state == ST_DONE)
			conn_process(c);
	} else if (c->state == ST_CLOSING &&
		   evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
		start_linger(c);
	}
	leave(c);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct llmo__reg_conn *c = arg;

	/* a TLS connection reports its finished handshake: nothing to do */
	if (what == BEV_EVENT_CONNECTED)
		return;
	if (what & BEV_EVENT_TIMEOUT)
		LLMO_DEBUG(LOG, "connection timed out", "peer=%s state=%d", c->peer, (int)c->state);
	conn_close(c);
}

static void conn_free(struct llmo__reg_conn *c)
{
	struct llmo__reg_req *req = c->req;

	if (req) {
		c->req = NULL;
		if (!req->answered && req->on_abort)
			req->on_abort(req);
		req_free(req);
	}
	file_end(c);
	if (c->bev)
		bufferevent_free(c->bev);
	llmo_buf_release(&c->head);
	if (c->pprev) {
		*c->pprev = c->next;
		if (c->next)
			c->next->pprev = c->pprev;
		c->reg->nconns--;
	}
	free(c);
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
		      int salen, void *arg)
{
	struct llmo_registry *r = arg;
	struct timeval rt = {LLMO_REGISTRY_READ_TIMEOUT_S, 0};
	struct timeval wt = {LLMO_REGISTRY_WRITE_TIMEOUT_S, 0};
	struct llmo__reg_conn *c;
	char addr[INET6_ADDRSTRLEN] = "?";
	int port = 0;

	if (r->nconns >= LLMO_REGISTRY_CONNS_MAX) {
		LLMO_WARN(LOG, "too many connections, refusing one", "max=%d",
			  LLMO_REGISTRY_CONNS_MAX);
		evutil_closesocket(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		evutil_closesocket(fd);
		return;
	}
	c->reg = r;
	c->fd = -1;
	llmo_buf_init(&c->head, LLMO_REGISTRY_HEAD_MAX);
	if (sa->sa_family == AF_INET) {
		inet_ntop(AF_INET, &((struct sockaddr_in *)sa)->sin_addr, addr, sizeof(addr));
		port = ntohs(((struct sockaddr_in *)sa)->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)sa)->sin6_addr, addr, sizeof(addr));
		port = ntohs(((struct sockaddr_in6 *)sa)->sin6_port);
	}
	snprintf(c->peer, sizeof(c->peer), "%s:%d", addr, port);
	c->may_sendfile = !r->ssl_ctx && (r->sendfile == LLMO_REGISTRY_SENDFILE_ALWAYS ||
					  (r->sendfile == LLMO_REGISTRY_SENDFILE_AUTO &&
					   !llmo_host_loopback(addr)));
	if (r->ssl_ctx) {
		SSL *ssl = SSL_new(r->ssl_ctx);

		if (ssl)
			c->bev = bufferevent_openssl_socket_new(r->base, fd, ssl,
								BUFFEREVENT_SSL_ACCEPTING,
								BEV_OPT_CLOSE_ON_FREE);
		if (c->bev)
			bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
		else if (ssl)
			SSL_free(ssl);
	} else {
		c->bev = bufferevent_socket_new(r->base, fd, BEV_OPT_CLOSE_ON_FREE);
	}
	if (!c->bev) {
		evutil_closesocket(fd);
		conn_free(c);
		return;
	}
	c->next = r->conns;
	if (c->next)
		c->next->pprev = &c->next;
	r->conns = c;
	c->pprev = &r->conns;
	r->nconns++;
	bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
	bufferevent_setwatermark(c->bev, EV_READ, 0, IN_HWM);
	bufferevent_set_max_single_read(c->bev, SINGLE_READ);
	bufferevent_set_max_single_write(c->bev, SINGLE_WRITE);
	bufferevent_set_timeouts(c->bev, &rt, &wt);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

static void on_accept_retry(evutil_socket_t fd, short what, void *arg)
{
	struct llmo_registry *r = arg;

	if (r->listener)
		evconnlistener_enable(r->listener);
}

/*
 * Accepting failed (out of descriptors, most likely): pause for a moment
 * rather than spin on a listening socket that stays readable.
 */
static void on_accept_error(struct evconnlistener *l, void *arg)
{
	struct llmo_registry *r = arg;
	struct timeval tv = {0, ACCEPT_RETRY_MS * 1000};

	LLMO_WARN(LOG, "accept failed, pausing", "error=\"%s\" ms=%d",
		  strerror(EVUTIL_SOCKET_ERROR()), ACCEPT_RETRY_MS);
	evconnlistener_disable(l);
	if (r->accept_ev)
		event_add(r->accept_ev, &tv);
}

int llmo__reg_http_listen(struct llmo_registry *r, struct llmo_error *err)
{
	struct sockaddr_storage ss = {0};
	struct sockaddr_in *in = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	const char *host = strcmp(r->host, "localhost") == 0 ? "127.0.0.1" : r->host;
	socklen_t len;

	if (inet_pton(AF_INET, host, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)r->listen_port);
		len = sizeof(*in);
	} else if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)r->listen_port);
		len = sizeof(*in6);
	} else {
		return llmo_error_set(err, LLMO_EINVAL,
				      "listen address \"%s\" is not an IP address", r->host);
	}
	r->listener = evconnlistener_new_bind(r->base, on_accept, r,
					      LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC |
						      LEV_OPT_REUSEABLE,
					      BACKLOG, (struct sockaddr *)&ss, (int)len);
	if (!r->listener)
		return llmo_error_set(err, LLMO_EIO, "cannot listen on %s:%d: %s", r->host,
				      r->listen_port, strerror(errno));
	evconnlistener_set_error_cb(r->listener, on_accept_error);
	r->accept_ev = evtimer_new(r->base, on_accept_retry, r);
	if (!r->accept_ev)
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	len = sizeof(ss);
	if (getsockname(evconnlistener_get_fd(r->listener), (struct sockaddr *)&ss, &len) < 0)
		return llmo_error_set(err, LLMO_EIO, "getsockname: %s", strerror(errno));
	r->port = ntohs(ss.ss_family == AF_INET ? in->sin_port : in6->sin6_port);
	return 0;
}

void llmo__reg_http_stop(struct llmo_registry *r)
{
	if (r->listener) {
		evconnlistener_free(r->listener);
		r->listener = NULL;
	}
	if (r->accept_ev) {
		event_free(r->accept_ev);
		r->accept_ev = NULL;
	}
	while (r->conns)
		conn_free(r->conns);
}
