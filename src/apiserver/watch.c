/*
 * Watches: a chunked HTTP response of JSON events, one per line:
 * {"type":"ADDED|MODIFIED|DELETED|BOOKMARK|ERROR","object":{...}}.
 * A watch first replays (all current objects as ADDED when no
 * resourceVersion is given, or the store's history after the given one),
 * then follows the store's observer. A resourceVersion older than the kept
 * history gets an ERROR event with a 410 Expired Status, as kube-apiserver.
 */
#include "apiserver/apiserver_int.h"
#include "apiserver/selector.h"
#include "base/json.h"
#include "base/log.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#define BOOKMARK_SECONDS 30
#define WATCH_TIMEOUT_MAX 3600
/* An ending watch checks this often whether its last chunk is written ... */
#define WATCH_END_POLL_MS 2
/* ... and ends anyway after this long (a client that stopped reading). */
#define WATCH_END_WAIT_MS 5000

struct llmo__watch {
	struct llmo_apiserver *srv;
	struct evhttp_request *req;
	const struct llmo_resource *res;
	char *ns; /* NULL: all namespaces */
	struct llmo_selector *labels;
	struct llmo_field_selector *fields;
	bool table;
	enum llmo__include include;
	bool bookmarks;
	int64_t last_rv;
	struct event *timeout;
	struct event *bookmark;
	struct event *end_ev; /* an ending watch waits for its output to be written */
	bool empty_seen;      /* the output was seen empty on the previous pass */
	int end_polls;
};

static void watch_free(struct llmo__watch *w)
{
	struct llmo_apiserver *srv = w->srv;

	for (size_t i = 0; i < srv->watches.len; i++) {
		if (srv->watches.items[i] == w) {
			srv->watches.items[i] = srv->watches.items[srv->watches.len - 1];
			srv->watches.len--;
			break;
		}
	}
	if (w->timeout)
		event_free(w->timeout);
	if (w->bookmark)
		event_free(w->bookmark);
	if (w->end_ev)
		event_free(w->end_ev);
	llmo_selector_free(w->labels);
	llmo_field_selector_free(w->fields);
	free(w->ns);
	free(w);
}

/* Ends the response (the client sees the stream close) and frees w, at once. */
static void watch_end(struct llmo__watch *w)
{
	struct evhttp_connection *conn = evhttp_request_get_connection(w->req);

	if (conn)
		evhttp_connection_set_closecb(conn, NULL, NULL);
	evhttp_send_reply_end(w->req);
	watch_free(w);
}

static void on_end_poll(evutil_socket_t fd, short what, void *arg)
{
	struct llmo__watch *w = arg;
	struct evhttp_connection *conn = evhttp_request_get_connection(w->req);
	struct bufferevent *bev = conn ? evhttp_connection_get_bufferevent(conn) : NULL;
	size_t pending = bev ? evbuffer_get_length(bufferevent_get_output(bev)) : 0;
	struct timeval tv = {0, WATCH_END_POLL_MS * 1000};

	if ((pending == 0 && w->empty_seen) ||
	    ++w->end_polls > WATCH_END_WAIT_MS / WATCH_END_POLL_MS) {
		watch_end(w);
		return;
	}
	w->empty_seen = pending == 0;
	event_add(w->end_ev, &tv);
}

/*
 * Ends the response once what was sent has been written: over TLS,
 * libevent 2.1 runs a connection's "output written" callback deferred, and
 * evhttp_send_reply_end right after a chunk can finish the request with
 * that chunk (an ERROR event, the last events before a timeout) unsent, the
 * client then waiting forever. The output must be seen empty on two passes
 * of the loop (see src/apiserver/logs.c). Meanwhile the watch stays listed
 * (so that a server stop ends it) but gets no more events.
 */
static void watch_end_soon(struct llmo__watch *w)
{
	struct llmo_apiserver *srv = w->srv;
	struct timeval now = {0, 0};

	if (w->end_ev)
		return; /* already ending */
	if (w->timeout)
		event_del(w->timeout);
	if (w->bookmark)
		event_del(w->bookmark);
	w->end_ev = evtimer_new(srv->base, on_end_poll, w);
	if (!w->end_ev || event_add(w->end_ev, &now) < 0)
		watch_end(w);
}

static void send_text(struct llmo__watch *w, const char *text, size_t len)
{
	struct evbuffer *chunk = evbuffer_new();

	if (!chunk)
		return;
	evbuffer_add(chunk, text, len);
	evhttp_send_reply_chunk(w->req, chunk);
	w->srv->watch_events_sent++;
	evbuffer_free(chunk);
}

/* One event line: {"type":...,"object":...}\n. Caller frees. */
static char *event_line(const char *type, json_t *object, size_t *len)
{
	json_t *ev = json_pack("{s:s, s:O}", "type", type, "object", object);
	struct llmo_buf b;
	char *text = ev ? llmo_json_dump_compact(ev) : NULL;

	json_decref(ev);
	if (!text)
		return NULL;
	llmo_buf_init(&b, LLMO_BUF_UNLIMITED);
	if (llmo_buf_puts(&b, text) || llmo_buf_putc(&b, '\n')) {
		free(text);
		llmo_buf_release(&b);
		return NULL;
	}
	free(text);
	return llmo_buf_detach(&b, len);
}

static void send_event(struct llmo__watch *w, const char *type, json_t *object)
{
	size_t len;
	char *line = event_line(type, object, &len);

	if (line)
		send_text(w, line, len);
	free(line);
}

static bool matches(struct llmo__watch *w, const json_t *obj)
{
	const json_t *labels = llmo__jsonpath(obj, ".metadata.labels");

	if (w->labels && !llmo_selector_matches(w->labels, labels))
		return false;
	if (w->fields && !llmo_field_selector_matches(w->fields, obj))
		return false;
	return true;
}

/*
 * Sends one stored change to w. obj is the parsed object; *line caches the
 * serialised event across the watchers of one change, so that a fan-out to
 * many watchers serialises it once (tables are per watcher).
 */
static void deliver_obj(struct llmo__watch *w, const char *type, json_t *obj, int64_t rv,
			char **line, size_t *len)
{
	if (matches(w, obj)) {
		if (w->table) {
			json_t *items = json_pack("[O]", obj);
			char rvs[32];
			json_t *t;

			snprintf(rvs, sizeof(rvs), "%" PRId64, rv);
			t = llmo__table(w->res, items, rvs, w->include);
			send_event(w, type, t);
			json_decref(t);
			json_decref(items);
		} else {
			if (!*line)
				*line = event_line(type, obj, len);
			if (*line)
				send_text(w, *line, *len);
		}
	}
	if (rv > w->last_rv)
		w->last_rv = rv;
}

static void deliver(struct llmo__watch *w, const char *type, const char *data, int64_t rv)
{
	json_t *obj = llmo__object_from_row(w->res, data, rv);
	char *line = NULL;
	size_t len = 0;

	if (!obj)
		return;
	deliver_obj(w, type, obj, rv, &line, &len);
	free(line);
	json_decref(obj);
}

static const char *event_type(enum llmo_store_event_type t)
{
	return t == LLMO_STORE_ADDED ? "ADDED" : t == LLMO_STORE_MODIFIED ? "MODIFIED" : "DELETED";
}

int llmo__watch_observer(void *ctx, const struct llmo_store_event *ev)
{
	struct llmo_apiserver *srv = ctx;
	const char *type = event_type(ev->type);
	json_t *obj = NULL;
	char *line = NULL;
	size_t len = 0;

	for (size_t i = 0; i < srv->watches.len; i++) {
		struct llmo__watch *w = srv->watches.items[i];

		/* an ending watch gets nothing more (its CRD's resource may be gone) */
		if (w->end_ev || strcmp(w->res->store_key, ev->res) != 0)
			continue;
		if (w->ns && strcmp(w->ns, ev->ns) != 0)
			continue;
		if (ev->rv <= w->last_rv)
			continue;
		/* parsed once for all the watchers of this change */
		if (!obj)
			obj = llmo__object_from_row(w->res, ev->data, ev->rv);
		if (!obj)
			break;
		deliver_obj(w, type, obj, ev->rv, &line, &len);
	}
	free(line);
	json_decref(obj);
	return 0;
}

static int replay_event(void *ctx, const struct llmo_store_event *ev)
{
	deliver(ctx, event_type(ev->type), ev->data, ev->rv);
	return 0;
}

static int replay_item(void *ctx, const char *ns, const char *name, const char *data, int64_t rv)
{
	deliver(ctx, "ADDED", data, rv);
	return 0;
}

/*
 * The client went away. libevent detaches a request that is still streaming
 * from its failed connection and leaves it to us: ending the reply on a
 * detached request frees it. A request still attached is freed with its
 * connection.
 */
static void on_close(struct evhttp_connection *conn, void *arg)
{
	struct llmo__watch *w = arg;
	struct evhttp_request *req = w->req;
	bool detached = evhttp_request_get_connection(req) == NULL;

	watch_free(w);
	if (detached)
		evhttp_send_reply_end(req);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
	watch_end_soon(arg);
}

static void on_bookmark(evutil_socket_t fd, short what, void *arg)
{
	struct llmo__watch *w = arg;
	char api_version[128], rv[32];
	json_t *obj;

	llmo_resource_api_version(w->res, api_version, sizeof(api_version));
	snprintf(rv, sizeof(rv), "%" PRId64, w->last_rv);
	obj = json_pack("{s:s, s:s, s:{s:s}}", "kind", w->res->kind, "apiVersion", api_version,
			"metadata", "resourceVersion", rv);
	send_event(w, "BOOKMARK", obj);
	json_decref(obj);
}

void llmo__watch_start(struct llmo__req *r)
{
	const char *rvs = evhttp_find_header(&r->query, "resourceVersion");
	const char *tos = evhttp_find_header(&r->query, "timeoutSeconds");
	const char *bm = evhttp_find_header(&r->query, "allowWatchBookmarks");
	const char *ls = evhttp_find_header(&r->query, "labelSelector");
	const char *fs = evhttp_find_header(&r->query, "fieldSelector");
	struct llmo__watch *w = calloc(1, sizeof(*w)), **slot;
	struct llmo_error err = {0};
	struct evhttp_connection *conn;
	int64_t since = 0, list_rv;
	bool more;
	int rc;

	if (!w) {
		llmo__reply_status(r->req, 500, "InternalError", NULL, "out of memory");
		return;
	}
	if (r->srv->watches.len >= LLMO_API_WATCHES_MAX) {
		free(w);
		evhttp_add_header(evhttp_request_get_output_headers(r->req), "Retry-After", "1");
		llmo__reply_status(r->req, 429, "TooManyRequests", NULL,
				   "too many open watches (%d); try again later",
				   LLMO_API_WATCHES_MAX);
		return;
	}
	w->srv = r->srv;
	w->req = r->req;
	w->res = r->res;
	w->table = r->want_table;
	w->include = r->include;
	w->bookmarks = bm && (strcmp(bm, "true") == 0 || strcmp(bm, "True") == 0 ||
			      strcmp(bm, "1") == 0);
	if (r->res->namespaced && *r->ns && !(w->ns = strdup(r->ns)))
		goto oom;
	if ((ls && *ls && llmo_selector_parse(ls, &w->labels, &err)) ||
	    (fs && *fs && llmo_field_selector_parse(fs, &w->fields, &err))) {
		llmo__reply_status(r->req, 400, "BadRequest", NULL, "%s", err.msg);
		watch_free(w);
		return;
	}
	if (rvs && *rvs) {
		char *end;

		since = strtoll(rvs, &end, 10);
		if (*end || since < 0) {
			llmo__reply_status(r->req, 400, "BadRequest", NULL,
					   "resourceVersion: invalid value \"%s\"", rvs);
			watch_free(w);
			return;
		}
	}
	slot = llmo_vec_push(&r->srv->watches);
	if (!slot)
		goto oom;
	*slot = w;
	evhttp_add_header(evhttp_request_get_output_headers(r->req), "Content-Type",
			  "application/json");
	evhttp_send_reply_start(r->req, 200, "OK");
	conn = evhttp_request_get_connection(r->req);
	evhttp_connection_set_closecb(conn, on_close, w);

	if (since == 0) {
		/* no resourceVersion (or "0"): the current state, then changes */
		rc = llmo_store_list(r->srv->store, r->res->store_key, w->ns, NULL, NULL, 0,
				     replay_item, w, &list_rv, &more);
		if (list_rv > w->last_rv)
			w->last_rv = list_rv;
	} else {
		w->last_rv = since;
		rc = llmo_store_events_since(r->srv->store, r->res->store_key, w->ns, since,
					     replay_event, w);
		if (rc == LLMO_EGONE) {
			json_t *st = json_pack("{s:s, s:s, s:{}, s:s, s:s, s:s, s:i}", "kind",
					       "Status", "apiVersion", "v1", "metadata", "status",
					       "Failure", "message",
					       "too old resource version", "reason", "Expired",
					       "code", 410);

			send_event(w, "ERROR", st);
			json_decref(st);
			watch_end_soon(w);
			return;
		}
	}
	if (llmo_store_rv(r->srv->store) > w->last_rv && since == 0)
		w->last_rv = llmo_store_rv(r->srv->store);
	if (tos && *tos) {
		long t = strtol(tos, NULL, 10);
		struct timeval tv = {t > 0 && t < WATCH_TIMEOUT_MAX ? t : WATCH_TIMEOUT_MAX, 0};

		w->timeout = event_new(r->srv->base, -1, 0, on_timeout, w);
		if (w->timeout)
			event_add(w->timeout, &tv);
	}
	if (w->bookmarks) {
		struct timeval tv = {BOOKMARK_SECONDS, 0};

		w->bookmark = event_new(r->srv->base, -1, EV_PERSIST, on_bookmark, w);
		if (w->bookmark)
			event_add(w->bookmark, &tv);
	}
	return;
oom:
	llmo__reply_status(r->req, 500, "InternalError", NULL, "out of memory");
	watch_free(w);
}

void llmo__watch_close_crd(struct llmo_apiserver *srv)
{
	for (size_t i = srv->watches.len; i-- > 0;)
		if (!srv->watches.items[i]->end_ev && srv->watches.items[i]->res->from_crd)
			watch_end_soon(srv->watches.items[i]);
}

void llmo__watch_close_all(struct llmo_apiserver *srv)
{
	while (srv->watches.len)
		watch_end(srv->watches.items[srv->watches.len - 1]);
}
