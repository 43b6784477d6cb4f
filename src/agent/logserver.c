/*
 * The agent's container log server (logserver.h).
 *
 * One struct ls_stream per reply being sent. A reply is pumped one chunk at a
 * time: read up to LS_READ_CHUNK bytes of the CRI file, turn its complete
 * lines into output, send that as one chunk, and read on only once libevent
 * says the chunk is written (so a slow client holds one chunk, not a file).
 * Following, an EOF arms a LLMO_LOGSERVER_POLL_MS timer. Every step after a
 * libevent HTTP callback is taken from the stream's own timer, never inside
 * libevent's HTTP code, where ending a reply may free the connection.
 *
 * Lifetime: a stream ends by llmo_logserver's stream_end (reply ended, state
 * freed) or by the connection's close callback (the client went away; libevent
 * detaches a request still being answered and leaves it to us to free with
 * evhttp_send_reply_end).
 */
#include "base/common.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "agent/logserver.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/http_watch.h"
#include "base/log.h"
#include "base/str.h"

#include "base/banned.h"

#define LOG "logserver"
/* Bytes read from a log file per step. */
#define LS_READ_CHUNK 65536
/* An unfinished CRI line kept between reads (a shim line is at most
 * LLMO_RUNTIME_LOG_PARTIAL_MAX bytes of text plus its prefix). */
#define LS_LINE_MAX (LLMO_RUNTIME_LOG_PARTIAL_MAX + 1024)
/* Request headers, and the idle time allowed while reading a request. */
#define LS_HEADERS_MAX 16384
#define LS_TIMEOUT_S 60
/* Longest namespace / pod / container name in a path. */
#define LS_NAME_MAX 253

struct llmo_logserver;

struct ls_stream {
	struct llmo_logserver *ls;
	TAILQ_ENTRY(ls_stream) link;
	struct evhttp_request *req;
	char ns[LS_NAME_MAX + 1], pod[LS_NAME_MAX + 1], ctr[LS_NAME_MAX + 1];
	char path[PATH_MAX];
	int fd; /* -1 until the file exists */
	off_t off;
	bool follow, timestamps;
	int64_t left;     /* limitBytes still allowed; -1: no limit */
	int64_t since_ms; /* -1: every line */
	bool final;       /* the run is over: at EOF the reply ends */
	bool writing;     /* a chunk is on its way; wait for on_written */
	bool done;        /* end once the chunk in flight is written */
	bool in_line;     /* the last CRI line was partial (P) */
	bool skipping;    /* the current logical line is older than since */
	struct llmo_buf pending; /* an unfinished CRI line */
	struct event *timer;
	struct llmo_http_watch *watch; /* the client's socket, to notice it went away */
};

TAILQ_HEAD(ls_stream_list, ls_stream);

/* A log no container of the runtime writes (llmo_logserver_set_file). */
struct ls_file {
	char *ns, *pod, *ctr, *path, *prev;
};

struct llmo_logserver {
	struct event_base *base;
	struct llmo_runtime *rt;
	struct ls_file file; /* ns NULL: none */
	struct evhttp *http;
	struct evhttp_bound_socket *sock;
	int port;
	char *token;
	struct ls_stream_list streams;
	size_t nstreams;
};

/* ---- answers ---- */

static void reply_text(struct evhttp_request *req, int code, const char *reason, const char *text)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	evhttp_add_header(h, "Content-Type", "text/plain; charset=utf-8");
	if (code == 401)
		evhttp_add_header(h, "WWW-Authenticate", "Bearer");
	evbuffer_add_printf(evhttp_request_get_output_buffer(req), "%s\n", text);
	evhttp_send_reply(req, code, reason, NULL);
}

/* Compares in time that depends only on the expected token's length. */
static bool token_ok(const char *got, const char *want)
{
	size_t gl = strlen(got), wl = strlen(want);
	unsigned char d = gl != wl;

	for (size_t i = 0; i < wl; i++)
		d |= (unsigned char)want[i] ^ (unsigned char)(i < gl ? got[i] : 0);
	return d == 0;
}

static bool authorized(struct llmo_logserver *ls, struct evhttp_request *req)
{
	const char *h = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");

	if (!h || strncasecmp(h, "Bearer ", 7) != 0)
		return false;
	h += 7;
	while (*h == ' ')
		h++;
	return token_ok(h, ls->token);
}

/* strconv.ParseBool, which kubelet uses: 1 t T TRUE true True, 0 f F FALSE false False. */
static bool parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"1", "t", "T", "TRUE", "true", "True"};
	static const char *const no[] = {"0", "f", "F", "FALSE", "false", "False"};

	for (size_t i = 0; i < LLMO_ARRAY_LEN(yes); i++) {
		if (strcmp(s, yes[i]) == 0) {
			*out = true;
			return true;
		}
		if (strcmp(s, no[i]) == 0) {
			*out = false;
			return true;
		}
	}
	return false;
}

/* ---- streams ---- */

static void stream_free(struct ls_stream *s)
{
	struct llmo_logserver *ls = s->ls;

	TAILQ_REMOVE(&ls->streams, s, link);
	ls->nstreams--;
	if (s->timer)
		event_free(s->timer);
	llmo_http_watch_free(s->watch);
	if (s->fd >= 0)
		close(s->fd);
	llmo_buf_release(&s->pending);
	free(s);
}

/* Ends the reply and frees s. */
static void stream_end(struct ls_stream *s)
{
	struct evhttp_request *req = s->req;
	struct evhttp_connection *conn = evhttp_request_get_connection(req);

	if (conn)
		evhttp_connection_set_closecb(conn, NULL, NULL);
	stream_free(s);
	evhttp_send_reply_end(req);
}

/* The client went away (or the server is closing its connection). */
static void on_close(struct evhttp_connection *conn, void *arg)
{
	struct ls_stream *s = arg;
	struct evhttp_request *req = s->req;
	bool detached = evhttp_request_get_connection(req) == NULL;

	evhttp_connection_set_closecb(conn, NULL, NULL);
	stream_free(s);
	/* a detached request is ours to free; an attached one goes with its connection */
	if (detached)
		evhttp_send_reply_end(req);
}

static void stream_later(struct ls_stream *s, int64_t ms)
{
	struct timeval tv = llmo_clock_timeval(ms);

	evtimer_add(s->timer, &tv);
}

static void on_written(struct evhttp_connection *conn, void *arg)
{
	struct ls_stream *s = arg;

	s->writing = false;
	stream_later(s, 0);
}

/* Appends len bytes to out within the limitBytes left. */
static void emit(struct ls_stream *s, struct evbuffer *out, const char *p, size_t len)
{
	if (s->left >= 0 && (int64_t)len > s->left)
		len = (size_t)s->left;
	if (len == 0)
		return;
	evbuffer_add(out, p, len);
	if (s->left >= 0)
		s->left -= (int64_t)len;
}

/* One CRI line ("TS STREAM TAG TEXT", no newline) into out. */
static void emit_line(struct ls_stream *s, struct evbuffer *out, const char *line, size_t len)
{
	const char *end = line + len, *ts = line, *sp1, *sp2, *sp3, *text;
	bool partial;

	sp1 = memchr(line, ' ', len);
	sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(end - sp1 - 1)) : NULL;
	sp3 = sp2 ? memchr(sp2 + 1, ' ', (size_t)(end - sp2 - 1)) : NULL;
	if (!sp3 && sp2 && end - sp2 == 2)
		sp3 = end; /* "TS stream F" with empty text and no trailing space */
	if (!sp3 || sp3 - sp2 < 2) {
		/* not a CRI line: pass it on as it is */
		if (!s->skipping) {
			emit(s, out, line, len);
			emit(s, out, "\n", 1);
		}
		s->in_line = false;
		return;
	}
	partial = sp2[1] == 'P';
	text = sp3 < end ? sp3 + 1 : end;
	if (!s->in_line) {
		if (s->since_ms >= 0) {
			char tsbuf[64];
			int64_t ms;

			snprintf(tsbuf, sizeof(tsbuf), "%.*s", (int)(sp1 - ts), ts);
			s->skipping = llmo_time_parse_rfc3339(tsbuf, &ms, NULL) == 0 && ms < s->since_ms;
		}
		if (!s->skipping && s->timestamps) {
			emit(s, out, ts, (size_t)(sp1 - ts));
			emit(s, out, " ", 1);
		}
	}
	if (!s->skipping) {
		emit(s, out, text, (size_t)(end - text));
		if (!partial)
			emit(s, out, "\n", 1);
	}
	s->in_line = partial;
}

/* Splits data into CRI lines (keeping an unfinished one in pending) into out. */
static void feed(struct ls_stream *s, struct evbuffer *out, const char *data, size_t n, bool eof)
{
	while (n > 0 && s->left != 0) {
		const char *nl = memchr(data, '\n', n);
		size_t take = nl ? (size_t)(nl - data) : n;

		if (s->pending.len + take > LS_LINE_MAX) {
			/* longer than any line a shim writes: give out what there is */
			take = LS_LINE_MAX - s->pending.len;
			nl = NULL;
		}
		llmo_buf_append(&s->pending, data, take);
		data += take;
		n -= take;
		if (nl) {
			data++;
			n--;
		}
		if (nl || s->pending.len >= LS_LINE_MAX) {
			emit_line(s, out, s->pending.data, s->pending.len);
			llmo_buf_reset(&s->pending);
		}
	}
	if (eof && s->pending.len > 0 && s->left != 0) {
		emit_line(s, out, s->pending.data, s->pending.len);
		llmo_buf_reset(&s->pending);
	}
}

/* Sends out as a chunk when it holds anything; true when it did. */
static bool send_chunk(struct ls_stream *s, struct evbuffer *out)
{
	if (evbuffer_get_length(out) == 0)
		return false;
	s->writing = true;
	evhttp_send_reply_chunk_with_cb(s->req, out, on_written, s);
	return true;
}

/* Where a container's log is: the file set by llmo_logserver_set_file, or the runtime's. */
static int log_path(struct llmo_logserver *ls, const char *ns, const char *pod, const char *ctr,
		    bool previous, char *out, size_t n, bool *running, struct llmo_error *err)
{
	const struct ls_file *f = &ls->file;
	const char *path;

	if (!f->ns || strcmp(ns, f->ns) != 0 || strcmp(pod, f->pod) != 0)
		return llmo_runtime_log_path(ls->rt, ns, pod, ctr, previous, out, n, running, err);
	*running = false;
	if (strcmp(ctr, f->ctr) != 0)
		return llmo_error_set(err, LLMO_ENOTFOUND, "container \"%s\" in pod \"%s\" not found",
				      ctr, pod);
	path = previous ? f->prev : f->path;
	if (!path || access(path, F_OK) != 0)
		return llmo_error_set(err, LLMO_ENOTFOUND,
				      previous ? "previous terminated container \"%s\" in pod \"%s\" "
						 "not found"
					       : "the log of container \"%s\" in pod \"%s\" is "
						 "not there",
				      ctr, pod);
	if (snprintf(out, n, "%s", path) >= (int)n)
		return llmo_error_set(err, LLMO_EINVAL, "log path longer than %zu bytes", n);
	*running = !previous;
	return 0;
}

/* Whether the run s reads is over (a later run, or no process). */
static bool run_over(struct ls_stream *s)
{
	char path[PATH_MAX];
	bool running = false;

	if (log_path(s->ls, s->ns, s->pod, s->ctr, false, path, sizeof(path), &running, NULL))
		return true;
	return !running || strcmp(path, s->path) != 0;
}

/* The next step of the reply: read, send, wait or end. */
static void pump(struct ls_stream *s)
{
	struct evbuffer *out = evbuffer_new();
	char *chunk = malloc(LS_READ_CHUNK);

	if (!out || !chunk) {
		s->done = true;
		goto out;
	}
	while (!s->writing && !s->done) {
		ssize_t n = 0;

		if (s->left == 0) {
			s->done = true;
			break;
		}
		if (s->fd < 0)
			s->fd = open(s->path, O_RDONLY | O_CLOEXEC);
		if (s->fd >= 0) {
			do
				n = pread(s->fd, chunk, LS_READ_CHUNK, s->off);
			while (n < 0 && errno == EINTR);
		}
		if (n < 0) {
			s->done = true;
			break;
		}
		if (n > 0) {
			s->off += n;
			feed(s, out, chunk, (size_t)n, false);
			if (send_chunk(s, out))
				break;
			continue;
		}
		/* at the end of what the file holds */
		if (s->final || !s->follow) {
			feed(s, out, NULL, 0, true);
			s->done = true;
			break;
		}
		if (run_over(s)) {
			/* the shim wrote its last line before it exited: one more read gets it all */
			s->final = true;
			continue;
		}
		stream_later(s, LLMO_LOGSERVER_POLL_MS);
		break;
	}
	if (s->done && evbuffer_get_length(out) > 0) {
		/* the last output, then the end once it is written */
		send_chunk(s, out);
	}
out:
	free(chunk);
	if (out)
		evbuffer_free(out);
	if (s->done && !s->writing)
		stream_end(s);
}

static void on_stream_timer(evutil_socket_t fd, short what, void *arg)
{
	pump(arg);
}

/* Where the last `lines` lines of the file begin. */
static off_t tail_offset(int fd, int64_t lines)
{
	char buf[LS_READ_CHUNK];
	struct stat st;
	off_t end, pos;
	int64_t seen = 0;

	if (fstat(fd, &st) < 0)
		return 0;
	end = pos = st.st_size;
	if (lines == 0)
		return end;
	while (pos > 0) {
		size_t n = (size_t)LLMO_MIN((off_t)sizeof(buf), pos);
		ssize_t r;

		pos -= (off_t)n;
		r = pread(fd, buf, n, pos);
		if (r != (ssize_t)n)
			return 0;
		for (size_t i = n; i-- > 0;) {
			if (buf[i] != '\n' || pos + (off_t)i == end - 1)
				continue;
			if (++seen == lines)
				return pos + (off_t)i + 1;
		}
	}
	return 0;
}

/* ---- requests ---- */

/* Copies the URL-decoded path segment [p, end) into out; false when unfit. */
static bool segment(const char *p, const char *end, char *out, size_t n)
{
	char raw[3 * LS_NAME_MAX + 1];
	char *dec;
	size_t len;
	bool ok;

	if (end <= p || (size_t)(end - p) >= sizeof(raw))
		return false;
	memcpy(raw, p, (size_t)(end - p));
	raw[end - p] = '\0';
	dec = evhttp_uridecode(raw, 0, &len);
	ok = dec && len > 0 && len < n && strlen(dec) == len && !strchr(dec, '/');
	if (ok)
		memcpy(out, dec, len + 1);
	free(dec);
	return ok;
}

/* Reads the query into s (and *previous, *tail); false after a 400. */
static bool parse_query(struct evhttp_request *req, const struct evhttp_uri *uri,
			struct ls_stream *s, bool *previous, int64_t *tail)
{
	const char *q = evhttp_uri_get_query(uri);
	struct evkeyvalq params;
	struct evkeyval *kv;
	bool ok = true, have_since = false, have_since_time = false;
	char msg[256];

	TAILQ_INIT(&params);
	if (q && evhttp_parse_query_str(q, &params) < 0) {
		reply_text(req, 400, "Bad Request", "malformed query string");
		return false;
	}
	TAILQ_FOREACH(kv, &params, next) {
		const char *k = kv->key, *v = kv->value;
		int64_t num;

		if (strcmp(k, "follow") == 0 || strcmp(k, "previous") == 0 ||
		    strcmp(k, "timestamps") == 0) {
			bool b;

			if (!parse_bool(v, &b)) {
				snprintf(msg, sizeof(msg), "%s: want true or false, not \"%.64s\"", k, v);
				ok = false;
				break;
			}
			if (k[0] == 'f')
				s->follow = b;
			else if (k[0] == 'p')
				*previous = b;
			else
				s->timestamps = b;
		} else if (strcmp(k, "tailLines") == 0) {
			if (llmo_parse_int64(v, &num, NULL) || num < 0) {
				snprintf(msg, sizeof(msg),
					 "tailLines: want an integer >= 0, not \"%.64s\"", v);
				ok = false;
				break;
			}
			*tail = LLMO_MIN(num, LLMO_LOGSERVER_TAIL_MAX);
		} else if (strcmp(k, "limitBytes") == 0) {
			if (llmo_parse_int64(v, &num, NULL) || num < 1) {
				snprintf(msg, sizeof(msg),
					 "limitBytes: want an integer >= 1, not \"%.64s\"", v);
				ok = false;
				break;
			}
			s->left = num;
		} else if (strcmp(k, "sinceSeconds") == 0) {
			if (llmo_parse_int64(v, &num, NULL) || num < 1 || num > INT64_MAX / 2000) {
				snprintf(msg, sizeof(msg),
					 "sinceSeconds: want an integer >= 1, not \"%.64s\"", v);
				ok = false;
				break;
			}
			s->since_ms = llmo_clock_wall_ms() - num * 1000;
			have_since = true;
		} else if (strcmp(k, "sinceTime") == 0) {
			int64_t ms;

			if (llmo_time_parse_rfc3339(v, &ms, NULL)) {
				snprintf(msg, sizeof(msg), "sinceTime: want an RFC 3339 time, not "
							   "\"%.64s\"",
					 v);
				ok = false;
				break;
			}
			s->since_ms = ms;
			have_since_time = true;
		}
		/* other parameters (kubelet has a few more) are ignored */
	}
	if (ok && have_since && have_since_time) {
		snprintf(msg, sizeof(msg), "at most one of sinceTime or sinceSeconds may be specified");
		ok = false;
	}
	evhttp_clear_headers(&params);
	if (!ok)
		reply_text(req, 400, "Bad Request", msg);
	return ok;
}

static void handle_logs(struct llmo_logserver *ls, struct evhttp_request *req,
			const struct evhttp_uri *uri, const char *rest)
{
	struct ls_stream *s = calloc(1, sizeof(*s));
	struct llmo_error err = {0};
	const char *a = rest, *b, *c;
	struct evhttp_connection *conn;
	bool previous = false, running = false;
	int64_t tail = -1;
	int rc;

	if (!s) {
		reply_text(req, 500, "Internal Server Error", "out of memory");
		return;
	}
	s->ls = ls;
	s->req = req;
	s->fd = -1;
	s->left = -1;
	s->since_ms = -1;
	llmo_buf_init(&s->pending, LS_LINE_MAX);
	b = strchr(a, '/');
	c = b ? strchr(b + 1, '/') : NULL;
	if (!b || !c || strchr(c + 1, '/') || !segment(a, b, s->ns, sizeof(s->ns)) ||
	    !segment(b + 1, c, s->pod, sizeof(s->pod)) ||
	    !segment(c + 1, c + 1 + strlen(c + 1), s->ctr, sizeof(s->ctr))) {
		reply_text(req, 404, "Not Found",
			   "want /containerLogs/{namespace}/{pod}/{container}");
		goto fail;
	}
	if (!parse_query(req, uri, s, &previous, &tail))
		goto fail;
	rc = log_path(ls, s->ns, s->pod, s->ctr, previous, s->path, sizeof(s->path), &running,
		      &err);
	if (rc) {
		if (rc == LLMO_ENOTFOUND)
			reply_text(req, 404, "Not Found", err.msg);
		else if (rc == LLMO_EAGAIN)
			reply_text(req, 400, "Bad Request", err.msg);
		else
			reply_text(req, 500, "Internal Server Error", err.msg);
		goto fail;
	}
	if (ls->nstreams >= LLMO_LOGSERVER_STREAMS_MAX) {
		reply_text(req, 503, "Service Unavailable", "too many log streams open");
		goto fail;
	}
	s->final = !running;
	s->fd = open(s->path, O_RDONLY | O_CLOEXEC);
	if (s->fd >= 0 && tail >= 0)
		s->off = tail_offset(s->fd, tail);
	s->timer = evtimer_new(ls->base, on_stream_timer, s);
	if (!s->timer) {
		reply_text(req, 500, "Internal Server Error", "out of memory");
		goto fail;
	}
	TAILQ_INSERT_TAIL(&ls->streams, s, link);
	ls->nstreams++;
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "text/plain; charset=utf-8");
	evhttp_send_reply_start(req, 200, "OK");
	conn = evhttp_request_get_connection(req);
	evhttp_connection_set_closecb(conn, on_close, s);
	/* a client that leaves ends in on_close, which frees s */
	s->watch = llmo_http_watch_new(ls->base, req);
	stream_later(s, 0);
	return;
fail:
	if (s->fd >= 0)
		close(s->fd);
	if (s->timer)
		event_free(s->timer);
	llmo_buf_release(&s->pending);
	free(s);
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct llmo_logserver *ls = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;

	if (!authorized(ls, req)) {
		reply_text(req, 401, "Unauthorized", "Unauthorized");
		return;
	}
	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET");
		reply_text(req, 405, "Method Not Allowed", "only GET is served");
		return;
	}
	if (!path || !llmo_str_has_prefix(path, "/containerLogs/")) {
		reply_text(req, 404, "Not Found", "404 page not found");
		return;
	}
	handle_logs(ls, req, uri, path + strlen("/containerLogs/"));
}

/* ---- the server ---- */

int llmo_logserver_new(struct event_base *base, struct llmo_runtime *rt,
		       const struct llmo_logserver_opts *opts, struct llmo_logserver **out,
		       struct llmo_error *err)
{
	const char *host = opts && opts->host ? opts->host : "127.0.0.1";
	struct llmo_logserver *ls;
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	int rc;

	*out = NULL;
	if (!opts || !opts->token || !*opts->token || strlen(opts->token) > LLMO_LOGSERVER_TOKEN_MAX)
		return llmo_error_set(err, LLMO_EINVAL, "log server: a bearer token of 1-%d bytes is "
							"required",
				      LLMO_LOGSERVER_TOKEN_MAX);
	if (opts->port < 0 || opts->port > 65535)
		return llmo_error_set(err, LLMO_EINVAL, "log server: port %d is not 0-65535",
				      opts->port);
	ls = calloc(1, sizeof(*ls));
	if (!ls)
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	ls->base = base;
	ls->rt = rt;
	TAILQ_INIT(&ls->streams);
	ls->token = llmo_strdup(opts->token);
	ls->http = evhttp_new(base);
	if (!ls->token || !ls->http) {
		rc = llmo_error_set(err, LLMO_ENOMEM, "out of memory");
		goto fail;
	}
	evhttp_set_max_headers_size(ls->http, LS_HEADERS_MAX);
	evhttp_set_max_body_size(ls->http, 0);
	evhttp_set_timeout(ls->http, LS_TIMEOUT_S);
	evhttp_set_allowed_methods(ls->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
						     EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
						     EVHTTP_REQ_PATCH | EVHTTP_REQ_OPTIONS);
	evhttp_set_gencb(ls->http, on_request, ls);
	ls->sock = evhttp_bind_socket_with_handle(ls->http, host, (uint16_t)opts->port);
	if (!ls->sock) {
		rc = llmo_error_set(err, LLMO_EIO, "log server: cannot listen on %s:%d: %s", host,
				    opts->port, strerror(errno));
		goto fail;
	}
	if (getsockname(evhttp_bound_socket_get_fd(ls->sock), (struct sockaddr *)&ss, &sslen) == 0)
		ls->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
							  : ((struct sockaddr_in *)&ss)->sin_port);
	LLMO_INFO(LOG, "listening", "host=%s port=%d", host, ls->port);
	*out = ls;
	return 0;
fail:
	llmo_logserver_free(ls);
	return rc;
}

static void file_release(struct ls_file *f)
{
	free(f->ns);
	free(f->pod);
	free(f->ctr);
	free(f->path);
	free(f->prev);
	memset(f, 0, sizeof(*f));
}

int llmo_logserver_set_file(struct llmo_logserver *ls, const char *ns, const char *pod,
			    const char *ctr, const char *path, const char *prev_path,
			    struct llmo_error *err)
{
	struct ls_file *f = &ls->file;

	file_release(f);
	f->ns = llmo_strdup(ns);
	f->pod = llmo_strdup(pod);
	f->ctr = llmo_strdup(ctr);
	f->path = llmo_strdup(path);
	f->prev = prev_path ? llmo_strdup(prev_path) : NULL;
	if (!f->ns || !f->pod || !f->ctr || !f->path || (prev_path && !f->prev)) {
		file_release(f);
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	}
	return 0;
}

int llmo_logserver_port(const struct llmo_logserver *ls)
{
	return ls->port;
}

void llmo_logserver_free(struct llmo_logserver *ls)
{
	struct ls_stream *s;

	if (!ls)
		return;
	while ((s = TAILQ_FIRST(&ls->streams))) {
		struct evhttp_connection *conn = evhttp_request_get_connection(s->req);

		/* the request goes with its connection in evhttp_free */
		if (conn)
			evhttp_connection_set_closecb(conn, NULL, NULL);
		stream_free(s);
	}
	if (ls->http)
		evhttp_free(ls->http);
	if (ls->token) {
		memset(ls->token, 0, strlen(ls->token));
		free(ls->token);
	}
	file_release(&ls->file);
	free(ls);
}
