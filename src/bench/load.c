#include "base/common.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <jansson.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/rng.h"
#include "bench/load.h"

/*
 * The prompt text: PROMPT_WORDS three-letter words, each followed by a space
 * (4 bytes a word; each is one token for BPE tokenizers and for
 * inference-sim). A request of n tokens takes n words from an offset that
 * changes from request to request, so that prompts do not share a prefix
 * (a prefix cache would otherwise make every prefill free).
 */
#define PROMPT_WORDS (2 * LLMO_LOAD_PROMPT_TOKENS_MAX)
static const char word_list[][4] = {
	"the", "and", "for", "you", "are", "not", "but", "all", "can", "one", "out",
	"day", "get", "has", "him", "his", "how", "man", "new", "now", "old", "see",
	"two", "way", "who", "boy", "did", "its", "let", "put", "say", "she", "too",
	"use", "sea", "sky", "sun", "red", "big", "run",
};

static const char *const fail_names[LLMO_LOAD_FAIL_KINDS] = {
	"connect", "timeout", "closed", "protocol", "bad_body", "truncated",
};

const char *llmo_load_fail_name(int kind)
{
	return kind >= 0 && kind < LLMO_LOAD_FAIL_KINDS ? fail_names[kind] : "unknown";
}

bool llmo_load_is_late(int64_t due, int64_t sent)
{
	return sent - due > LLMO_LOAD_LATE_NS;
}

struct load;

/* One connection and the request in flight on it. */
struct slot {
	struct load *l;
	struct evhttp_connection *conn;
	int64_t due;   /* scheduled time, ns on the monotonic clock */
	int64_t first; /* TTFT point; 0: not yet */
	int64_t usage_tokens;	/* from the answer's usage; -1: none */
	int64_t counted_tokens; /* stream chunks with text */
	int fail;		/* an llmo_load_fail seen by the error callback; -1: none */
	bool done_seen;		/* "data: [DONE]" */
	bool bad;		/* a line or body over LLMO_LOAD_BODY_MAX, or malformed */
	bool skip_line;		/* the rest of an overlong SSE line */
	struct llmo_buf buf;	/* SSE: the partial line; else the body */
};

struct load {
	struct event_base *base;
	const struct llmo_load_opts *o;
	struct llmo_load_schedule *s;
	struct llmo_load_stats *st;
	struct slot *slots;
	int *free_slots;
	int nfree;
	struct event *pump, *tick;
	struct llmo_load_item next;
	bool have_next, over;
	int64_t start;
	char *prompt; /* PROMPT_WORDS words */
	uint64_t seq;
	char host_header[300];
};

int llmo_load_target(struct llmo_load_opts *o, const char *url, struct llmo_error *err)
{
	struct evhttp_uri *u = evhttp_uri_parse(url);
	const char *scheme, *host, *path, *query;
	size_t plen;
	int rc = 0;

	if (!u)
		return llmo_error_set(err, LLMO_EINVAL, "--target: \"%.128s\" is not a URL", url);
	scheme = evhttp_uri_get_scheme(u);
	host = evhttp_uri_get_host(u);
	path = evhttp_uri_get_path(u);
	query = evhttp_uri_get_query(u);
	if (!scheme || strcasecmp(scheme, "http") != 0) {
		rc = llmo_error_set(err, LLMO_EINVAL,
				    "--target: \"%.128s\": want an http:// URL (https is not supported)",
				    url);
		goto out;
	}
	if (!host || !*host || strlen(host) >= sizeof(o->host)) {
		rc = llmo_error_set(err, LLMO_EINVAL, "--target: \"%.128s\": no host", url);
		goto out;
	}
	snprintf(o->host, sizeof(o->host), "%s", host);
	o->port = evhttp_uri_get_port(u) < 0 ? 80 : evhttp_uri_get_port(u);
	if (!path)
		path = "";
	plen = strlen(path);
	while (plen && path[plen - 1] == '/')
		plen--;
	if (strlen(path) >= 12 && strcmp(path + strlen(path) - 12, "/completions") == 0)
		plen = strlen(path);
	if ((size_t)snprintf(o->path, sizeof(o->path), "%.*s%s%s%s", (int)plen, path,
			     plen == strlen(path) && plen >= 12 &&
					     strcmp(path + plen - 12, "/completions") == 0
				     ? ""
				     : "/v1/completions",
			     query ? "?" : "", query ? query : "") >= sizeof(o->path) ||
	    (size_t)snprintf(o->url, sizeof(o->url), "http://%s%s:%d%s",
			     strchr(o->host, ':') ? "[" : "", o->host, o->port, o->path) >= sizeof(o->url)) {
		rc = llmo_error_set(err, LLMO_EINVAL, "--target: longer than %d bytes",
				    LLMO_LOAD_URL_MAX - 1);
		goto out;
	}
	if (strchr(o->host, ':')) /* "[v6]": put the closing bracket back */
		snprintf(o->url, sizeof(o->url), "http://[%s]:%d%s", o->host, o->port, o->path);
out:
	evhttp_uri_free(u);
	return rc;
}

int llmo_load_probe(const char *host, int port, int timeout_ms, struct llmo_error *err)
{
	struct addrinfo hints = {0}, *res = NULL;
	char service[16];
	int e, last = ECONNREFUSED;

	hints.ai_socktype = SOCK_STREAM;
	snprintf(service, sizeof(service), "%d", port);
	e = getaddrinfo(host, service, &hints, &res);
	if (e)
		return llmo_error_set(err, LLMO_EIO, "cannot connect to %s:%d: %s", host, port,
				      gai_strerror(e));
	for (struct addrinfo *a = res; a; a = a->ai_next) {
		int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
				a->ai_protocol);
		struct pollfd p;
		socklen_t len = sizeof(e);

		if (fd < 0) {
			last = errno;
			continue;
		}
		e = 0;
		if (connect(fd, a->ai_addr, a->ai_addrlen) < 0) {
			e = errno;
			if (e == EINPROGRESS) {
				p.fd = fd;
				p.events = POLLOUT;
				if (poll(&p, 1, timeout_ms) <= 0)
					e = ETIMEDOUT;
				else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0)
					e = errno;
			}
		}
		close(fd);
		if (!e) {
			freeaddrinfo(res);
			return 0;
		}
		last = e;
	}
	freeaddrinfo(res);
	return llmo_error_set(err, LLMO_EIO, "cannot connect to %s:%d: %s", host, port,
			      strerror(last));
}

#define MODELS_BODY_MAX (1024 * 1024)

static size_t models_write(char *p, size_t size, size_t nmemb, void *arg)
{
	return llmo_buf_append(arg, p, size * nmemb) ? 0 : size * nmemb;
}

int llmo_load_first_model(const struct llmo_load_opts *o, char *out, size_t n,
			  struct llmo_error *err)
{
	char url[LLMO_LOAD_URL_MAX + 32];
	struct llmo_buf body;
	json_error_t jerr;
	json_t *obj = NULL, *id;
	CURL *h = curl_easy_init();
	CURLcode cc;
	long code = 0;
	int rc = 0;

	llmo_buf_init(&body, MODELS_BODY_MAX);
	snprintf(url, sizeof(url), strchr(o->host, ':') ? "http://[%s]:%d/v1/models" : "http://%s:%d/v1/models",
		 o->host, o->port);
	if (!h) {
		rc = llmo_error_set(err, LLMO_ENOMEM, "out of memory");
		goto out;
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, models_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)o->timeout_s * 1000L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	cc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	if (cc != CURLE_OK) {
		rc = llmo_error_set(err, LLMO_EIO, "GET %s: %s", url, curl_easy_strerror(cc));
		goto out;
	}
	if (code != 200) {
		rc = llmo_error_set(err, LLMO_EIO, "GET %s: status %ld; give --model", url, code);
		goto out;
	}
	obj = json_loadb(body.data, body.len, 0, &jerr);
	id = json_object_get(json_array_get(json_object_get(obj, "data"), 0), "id");
	if (!json_is_string(id) || json_string_length(id) >= n) {
		rc = llmo_error_set(err, LLMO_ENOTFOUND, "GET %s: no model listed; give --model",
				    url);
		goto out;
	}
	snprintf(out, n, "%s", json_string_value(id));
out:
	json_decref(obj);
	if (h)
		curl_easy_cleanup(h);
	llmo_buf_release(&body);
	return rc;
}

static int64_t since_start(const struct load *l)
{
	return llmo_clock_mono_ns() - l->start;
}

static void pump_soon(struct load *l)
{
	event_active(l->pump, EV_TIMEOUT, 0);
}

/* One SSE line of a stream (without its newline). */
static void sse_line(struct slot *sl, const char *line, size_t len)
{
	json_t *obj, *usage, *choices, *c0, *text;
	json_error_t jerr;

	if (len && line[len - 1] == '\r')
		len--;
	if (len < 5 || memcmp(line, "data:", 5) != 0)
		return; /* comments, event names, blank separators */
	line += 5;
	len -= 5;
	if (len && *line == ' ') {
		line++;
		len--;
	}
	if (!sl->first)
		sl->first = llmo_clock_mono_ns();
	if (len == 6 && memcmp(line, "[DONE]", 6) == 0) {
		sl->done_seen = true;
		return;
	}
	obj = json_loadb(line, len, 0, &jerr);
	if (!json_is_object(obj)) {
		sl->bad = true;
		json_decref(obj);
		return;
	}
	usage = json_object_get(obj, "usage");
	if (json_is_object(usage) && json_is_integer(json_object_get(usage, "completion_tokens")))
		sl->usage_tokens = json_integer_value(json_object_get(usage, "completion_tokens"));
	choices = json_object_get(obj, "choices");
	c0 = json_array_get(choices, 0);
	text = json_object_get(c0, "text");
	if (!text)
		text = json_object_get(json_object_get(c0, "delta"), "content");
	if (json_is_string(text) && json_string_length(text) > 0)
		sl->counted_tokens++;
	json_decref(obj);
}

static void on_chunk(struct evhttp_request *req, void *arg)
{
	struct slot *sl = arg;
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t n = evbuffer_get_length(in);
	const char *p, *end, *nl;

	if (!n)
		return;
	p = (const char *)evbuffer_pullup(in, -1);
	if (!p)
		return;
	if (!sl->l->o->stream) {
		if (!sl->first)
			sl->first = llmo_clock_mono_ns();
		if (llmo_buf_append(&sl->buf, p, n))
			sl->bad = true;
		return;
	}
	for (end = p + n; p < end; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (!sl->skip_line && llmo_buf_append(&sl->buf, p, (size_t)((nl ? nl : end) - p))) {
			sl->bad = sl->skip_line = true;
			llmo_buf_reset(&sl->buf);
		}
		if (!nl)
			break;
		if (!sl->skip_line)
			sse_line(sl, sl->buf.data, sl->buf.len);
		sl->skip_line = false;
		llmo_buf_reset(&sl->buf);
	}
}

static void on_error(enum evhttp_request_error e, void *arg)
{
	struct slot *sl = arg;

	switch (e) {
	case EVREQ_HTTP_TIMEOUT:
		sl->fail = LLMO_LOAD_FAIL_TIMEOUT;
		break;
	case EVREQ_HTTP_EOF:
	case EVREQ_HTTP_BUFFER_ERROR:
		sl->fail = LLMO_LOAD_FAIL_CLOSED;
		break;
	case EVREQ_HTTP_INVALID_HEADER:
	case EVREQ_HTTP_DATA_TOO_LONG:
		sl->fail = LLMO_LOAD_FAIL_PROTOCOL;
		break;
	default:
		break;
	}
}

/* The completion tokens of a non-streamed answer's body; -1 when it is not a completion. */
static int64_t body_tokens(const struct llmo_buf *b)
{
	json_error_t jerr;
	json_t *obj = json_loadb(b->data, b->len, 0, &jerr);
	json_t *ct = json_object_get(json_object_get(obj, "usage"), "completion_tokens");
	int64_t n = -1;

	if (json_is_object(obj) && json_is_array(json_object_get(obj, "choices")))
		n = json_is_integer(ct) ? json_integer_value(ct) : 0;
	json_decref(obj);
	return n;
}

static void slot_release(struct slot *sl)
{
	struct load *l = sl->l;

	llmo_buf_reset(&sl->buf);
	l->st->in_flight--;
	l->free_slots[l->nfree++] = (int)(sl - l->slots);
	pump_soon(l);
}

static void fail(struct slot *sl, int kind)
{
	sl->l->st->failed++;
	sl->l->st->kind[kind]++;
	slot_release(sl);
}

static uint64_t to_us(int64_t ns)
{
	return ns <= 0 ? 0 : (uint64_t)(ns / 1000);
}

static void on_done(struct evhttp_request *req, void *arg)
{
	struct slot *sl = arg;
	struct llmo_load_stats *st = sl->l->st;
	int64_t now = llmo_clock_mono_ns(), tokens;
	int code = req ? evhttp_request_get_response_code(req) : 0;

	if (code <= 0) {
		fail(sl, sl->fail >= 0 ? sl->fail : LLMO_LOAD_FAIL_CONNECT);
		return;
	}
	if (code < 200 || code > 299) {
		st->failed++;
		st->status[code >= 100 && code <= 599 ? code : 599]++;
		slot_release(sl);
		return;
	}
	if (sl->l->o->stream) {
		if (sl->buf.len && !sl->skip_line)
			sse_line(sl, sl->buf.data, sl->buf.len);
		if (sl->bad) {
			fail(sl, LLMO_LOAD_FAIL_BODY);
			return;
		}
		if (!sl->done_seen) {
			fail(sl, LLMO_LOAD_FAIL_TRUNCATED);
			return;
		}
		tokens = sl->usage_tokens >= 0 ? sl->usage_tokens : sl->counted_tokens;
	} else {
		tokens = sl->bad ? -1 : body_tokens(&sl->buf);
		if (tokens < 0) {
			fail(sl, LLMO_LOAD_FAIL_BODY);
			return;
		}
	}
	if (!sl->first)
		sl->first = now;
	st->completed++;
	st->completion_tokens += (uint64_t)tokens;
	llmo_hist_add(&st->ttft, to_us(sl->first - sl->due));
	/* Counted exactly here: the histogram's buckets would blur the objective by 1.6%. */
	if (sl->l->o->slo_ttft_ns > 0 && sl->first - sl->due <= sl->l->o->slo_ttft_ns)
		st->within_slo++;
	llmo_hist_add(&st->latency, to_us(now - sl->due));
	slot_release(sl);
}

/* Sends it on a free connection: the caller checked l->nfree. */
static void send_one(struct load *l, const struct llmo_load_item *it, int64_t now)
{
	struct slot *sl = &l->slots[l->free_slots[--l->nfree]];
	struct llmo_load_stats *st = l->st;
	struct evhttp_request *req;
	struct evkeyvalq *h;
	struct evbuffer *body;
	size_t words = (size_t)it->prompt_tokens;
	size_t off = (size_t)((l->seq++ * 7919) % (PROMPT_WORDS - words + 1));
	int64_t late = now - it->at;

	st->sent++;
	st->in_flight++;
	st->prompt_tokens += (uint64_t)it->prompt_tokens;
	if (llmo_load_is_late(it->at, now)) {
		st->late++;
		st->late_max = LLMO_MAX(st->late_max, late);
	}
	sl->due = l->start + it->at;
	sl->first = 0;
	sl->usage_tokens = -1;
	sl->counted_tokens = 0;
	sl->fail = -1;
	sl->done_seen = sl->bad = sl->skip_line = false;
	if (!sl->conn) {
		sl->conn = evhttp_connection_base_new(l->base, NULL, l->o->host,
						      (uint16_t)l->o->port);
		if (!sl->conn) {
			fail(sl, LLMO_LOAD_FAIL_CONNECT);
			return;
		}
		evhttp_connection_set_timeout(sl->conn, l->o->timeout_s);
		evhttp_connection_set_retries(sl->conn, 0);
	}
	req = evhttp_request_new(on_done, sl);
	if (!req) {
		fail(sl, LLMO_LOAD_FAIL_CONNECT);
		return;
	}
	evhttp_request_set_chunked_cb(req, on_chunk);
	evhttp_request_set_error_cb(req, on_error);
	h = evhttp_request_get_output_headers(req);
	body = evhttp_request_get_output_buffer(req);
	evhttp_add_header(h, "Host", l->host_header);
	evhttp_add_header(h, "Content-Type", "application/json");
	evhttp_add_header(h, "Accept", l->o->stream ? "text/event-stream" : "application/json");
	evhttp_add_header(h, "User-Agent", "llmo-bench/" LLMO_VERSION);
	if (l->o->api_key) {
		char auth[512];

		snprintf(auth, sizeof(auth), "Bearer %s", l->o->api_key);
		evhttp_add_header(h, "Authorization", auth);
	}
	/* The model name is checked by the caller to need no JSON escaping. */
	evbuffer_add_printf(body, "{\"model\":\"%s\",\"prompt\":\"", l->o->model);
	evbuffer_add(body, l->prompt + off * 4, words * 4 - 1);
	evbuffer_add_printf(body, "\",\"max_tokens\":%" PRId32 "%s}", it->max_tokens,
			    l->o->stream ? ",\"stream\":true,\"stream_options\":{\"include_usage\":true}"
					 : "");
	/*
	 * The connection owns req from here on (on_done may even run before
	 * this returns: a refused local connect is reported at once). On -1
	 * (no socket could be made) libevent has neither queued nor freed it.
	 */
	if (evhttp_make_request(sl->conn, req, EVHTTP_REQ_POST, l->o->path) != 0) {
		evhttp_request_free(req);
		fail(sl, LLMO_LOAD_FAIL_CONNECT);
	}
}

static void on_pump(evutil_socket_t fd, short what, void *arg)
{
	struct load *l = arg;
	int64_t now = since_start(l);

	while (!l->over) {
		if (!l->have_next) {
			l->have_next = llmo_load_schedule_next(l->s, &l->next);
			if (!l->have_next) {
				l->over = true;
				break;
			}
		}
		if (l->next.at > now) {
			int64_t d = l->next.at - now;
			struct timeval tv = {(time_t)(d / 1000000000), (suseconds_t)(d % 1000000000 / 1000)};

			evtimer_add(l->pump, &tv);
			break;
		}
		if (!l->nfree)
			break; /* a finished request pumps again */
		send_one(l, &l->next, now);
		l->have_next = false;
		now = since_start(l);
	}
	if (l->over && !l->st->in_flight && !l->st->done) {
		l->st->done = true;
		event_base_loopexit(l->base, NULL);
	}
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct load *l = arg;

	l->st->elapsed = since_start(l);
	l->o->progress(l->st, l->o->arg);
}

static char *prompt_text(void)
{
	char *p = malloc((size_t)PROMPT_WORDS * 4);
	struct llmo_rng rng;

	if (!p)
		return NULL;
	llmo_rng_seed(&rng, 1);
	for (size_t i = 0; i < PROMPT_WORDS; i++) {
		memcpy(p + i * 4, word_list[llmo_rng_below(&rng, LLMO_ARRAY_LEN(word_list))], 3);
		p[i * 4 + 3] = ' ';
	}
	return p;
}

int llmo_load_run(struct event_base *base, struct llmo_load_schedule *s,
		  const struct llmo_load_opts *o, struct llmo_load_stats *st, struct llmo_error *err)
{
	struct load l = {0};
	int n = o->concurrency_max, rc = 0;

	memset(st, 0, sizeof(*st));
	llmo_hist_init(&st->ttft);
	llmo_hist_init(&st->latency);
	l.base = base;
	l.o = o;
	l.s = s;
	l.st = st;
	snprintf(l.host_header, sizeof(l.host_header), strchr(o->host, ':') ? "[%s]:%d" : "%s:%d",
		 o->host, o->port);
	l.slots = calloc((size_t)n, sizeof(*l.slots));
	l.free_slots = calloc((size_t)n, sizeof(*l.free_slots));
	l.prompt = prompt_text();
	l.pump = event_new(base, -1, 0, on_pump, &l);
	if (o->progress && o->progress_ns > 0)
		l.tick = event_new(base, -1, EV_PERSIST, on_tick, &l);
	if (!l.slots || !l.free_slots || !l.prompt || !l.pump ||
	    (o->progress && o->progress_ns > 0 && !l.tick)) {
		rc = llmo_error_set(err, LLMO_ENOMEM, "out of memory");
		goto out;
	}
	for (int i = 0; i < n; i++) {
		l.slots[i].l = &l;
		llmo_buf_init(&l.slots[i].buf, LLMO_LOAD_BODY_MAX);
		l.free_slots[l.nfree++] = n - 1 - i; /* slot 0 is used first */
	}
	if (l.tick) {
		struct timeval tv = {(time_t)(o->progress_ns / 1000000000),
				     (suseconds_t)(o->progress_ns % 1000000000 / 1000)};

		evtimer_add(l.tick, &tv);
	}
	l.start = llmo_clock_mono_ns();
	pump_soon(&l);
	if (event_base_dispatch(base) < 0)
		rc = llmo_error_set(err, LLMO_EINTERNAL, "the event loop failed");
	st->elapsed = since_start(&l);
out:
	if (l.slots) {
		for (int i = 0; i < n; i++) {
			if (l.slots[i].conn)
				evhttp_connection_free(l.slots[i].conn);
			llmo_buf_release(&l.slots[i].buf);
		}
	}
	if (l.pump)
		event_free(l.pump);
	if (l.tick)
		event_free(l.tick);
	free(l.slots);
	free(l.free_slots);
	free(l.prompt);
	return rc;
}
