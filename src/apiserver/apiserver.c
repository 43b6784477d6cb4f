/*
 * The embedded API server: start-up, listening (HTTPS or loopback HTTP),
 * authentication, routing, and the helpers every handler uses to answer.
 */
#include "apiserver/apiserver_int.h"
#include "api/crd.h"
#include "base/clock.h"
#include "base/file.h"
#include "base/json.h"
#include "base/log.h"
#include "base/str.h"

#include <arpa/inet.h>
#include <strings.h>
#include <sys/queue.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <openssl/crypto.h>
#include <openssl/ssl.h>

#define LOG "apiserver"
#define PATH_SEGMENTS_MAX 8

/* ---- responses ---- */

static const char *reason_of(int code)
{
	return code == 200 ? "OK" : code == 201 ? "Created" : NULL;
}

/*
 * The server whose on_request runs on this thread now, NULL outside it: the
 * reply functions take only the request (they have over a hundred callers)
 * and learn from it whether an answer must wait for the open batch.
 */
static _Thread_local struct llmo_apiserver *answering;

static void answer(struct llmo_apiserver *srv, struct llmo__pending a);

void llmo__reply_json(struct evhttp_request *req, int code, json_t *body)
{
	llmo__reply_json_type(req, code, body, "application/json");
}

void llmo__reply_json_type(struct evhttp_request *req, int code, json_t *body,
			   const char *content_type)
{
	answer(answering, (struct llmo__pending){
				  .req = req, .code = code, .type = content_type, .body = body});
}

void llmo__reply_json_buffer(struct evhttp_request *req, int code, struct evbuffer *out)
{
	answer(answering, (struct llmo__pending){
				  .req = req, .code = code, .type = "application/json", .out = out});
}

static json_t *status_new(int code, const char *reason, const char *msg, json_t *details)
{
	json_t *st = json_pack("{s:s, s:s, s:{}, s:s, s:s, s:s, s:i}", "kind", "Status",
			       "apiVersion", "v1", "metadata", "status", "Failure", "message", msg,
			       "reason", reason, "code", code);

	if (st && details)
		json_object_set(st, "details", details);
	json_decref(details);
	return st;
}

void llmo__reply_status(struct evhttp_request *req, int code, const char *reason, json_t *details,
			const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	llmo__reply_json(req, code, status_new(code, reason, msg, details));
}

void llmo__qualified_name(const struct llmo_resource *res, char *out, size_t n)
{
	if (*res->group)
		snprintf(out, n, "%s.%s", res->plural, res->group);
	else
		snprintf(out, n, "%s", res->plural);
}

void llmo__reply_not_found(struct evhttp_request *req, const struct llmo_resource *res,
			   const char *name)
{
	char q[512];

	llmo__qualified_name(res, q, sizeof(q));
	llmo__reply_status(req, 404, "NotFound",
			   json_pack("{s:s, s:s, s:s}", "name", name, "group", res->group, "kind",
				     res->plural),
			   "%s \"%s\" not found", q, name);
}

void llmo__reply_invalid(struct evhttp_request *req, const struct llmo_resource *res,
			 const char *name, const struct llmo_errlist *errs)
{
	json_t *causes = json_array();
	struct llmo_buf msg;
	char q[512];

	llmo__qualified_name(res, q, sizeof(q));
	llmo_buf_init(&msg, 16 * 1024);
	llmo_buf_appendf(&msg, "%s \"%s\" is invalid: ", res->kind, name ? name : "");
	for (size_t i = 0; i < errs->v.len; i++) {
		const struct llmo_field_error *e = &errs->v.items[i];

		json_array_append_new(causes, json_pack("{s:s, s:s, s:s}", "reason",
							"FieldValueInvalid", "message", e->msg,
							"field", e->path));
		llmo_buf_appendf(&msg, "%s%s%s%s", i ? ", " : "", e->path, *e->path ? ": " : "",
				 e->msg);
	}
	if (errs->v.len > 1) {
		/* kube-apiserver brackets a list of several errors */
		llmo_buf_reset(&msg);
		llmo_buf_appendf(&msg, "%s \"%s\" is invalid: [", res->kind, name ? name : "");
		for (size_t i = 0; i < errs->v.len; i++)
			llmo_buf_appendf(&msg, "%s%s%s%s", i ? ", " : "", errs->v.items[i].path,
					 *errs->v.items[i].path ? ": " : "", errs->v.items[i].msg);
		llmo_buf_puts(&msg, "]");
	}
	llmo__reply_json(req, 422,
			 status_new(422, "Invalid", msg.data,
				    json_pack("{s:s, s:s, s:s, s:o}", "name", name ? name : "",
					      "group", res->group, "kind", res->kind, "causes",
					      causes)));
	llmo_buf_release(&msg);
}

/* ---- group commit ---- */

/* Sends a's answer now; frees its body and text (a.out stays its owner's, drained). */
static void send_answer(struct llmo__pending *a)
{
	struct evbuffer *out = evhttp_request_get_output_buffer(a->req);

	evhttp_add_header(evhttp_request_get_output_headers(a->req), "Content-Type", a->type);
	if (a->body) {
		/* shortest exact numbers (99.9, not 99.900000000000006), as Go writes them */
		char *text = llmo_json_dump_compact(a->body);

		if (text) {
			evbuffer_add(out, text, strlen(text));
			evbuffer_add(out, "\n", 1);
		}
		free(text);
	} else if (a->text) {
		evbuffer_add(out, a->text, a->len);
		evbuffer_add(out, "\n", 1);
	} else if (a->out) {
		evbuffer_add_buffer(out, a->out);
	}
	evhttp_send_reply(a->req, a->code, reason_of(a->code), NULL);
	json_decref(a->body);
	free(a->text);
	a->body = NULL;
	a->text = NULL;
}

/* Frees what a holds without sending it. */
static void drop_answer(struct llmo__pending *a, bool owns_out)
{
	json_decref(a->body);
	free(a->text);
	if (owns_out && a->out)
		evbuffer_free(a->out);
}

/* The 500 that replaces an answer given from a batch whose commit (rc) failed. */
static void send_storage_failed(struct evhttp_request *req, int rc)
{
	struct llmo__pending a = {.req = req, .code = 500, .type = "application/json"};
	char msg[256];

	snprintf(msg, sizeof(msg),
		 "storage error: the changes this answer depends on were not committed: %s",
		 llmo_strerror(rc));
	a.body = status_new(500, "InternalError", msg, NULL);
	send_answer(&a);
}

void llmo__flush(struct llmo_apiserver *srv)
{
	struct llmo__current *cur = &srv->current;
	int rc = 0;

	if (!srv->batch_open)
		return;
	srv->batch_open = false;
	rc = llmo_store_commit(srv->store);
	if (!rc) {
		srv->group_commits++;
		for (size_t i = 0; i < srv->pending.len; i++)
			srv->group_commit_writes += srv->pending.items[i].write;
	} else {
		llmo_log(LLMO_LOG_ERROR, LOG, "commit failed", "error=\"%s\" answers=%zu",
			 llmo_strerror(rc), srv->pending.len);
		/* the request being handled read or wrote the batch: its answer is lost too */
		if (cur->req && llmo_store_calls(srv->store) != cur->calls)
			cur->lost = rc;
		srv->crds_stale = true;
	}
	cur->calls = llmo_store_calls(srv->store);
	for (size_t i = 0; i < srv->pending.len; i++) {
		struct llmo__pending *p = &srv->pending.items[i];

		if (rc) {
			drop_answer(p, true);
			send_storage_failed(p->req, rc);
			continue;
		}
		send_answer(p);
		if (p->out)
			evbuffer_free(p->out);
	}
	srv->pending.len = 0;
}

/*
 * After a CRD write's batch commits, or a commit fails (the write was
 * rolled back), the served custom resources are read again from the
 * committed CRDs. Only between requests, since a request being handled
 * points at them, and never while a batch is open: the store would show
 * its uncommitted writes.
 */
static void resync_crds(struct llmo_apiserver *srv)
{
	struct llmo_error err = {0};

	if (!srv->crds_stale || srv->batch_open)
		return;
	srv->crds_stale = false;
	if (llmo__crd_sync(srv, &err))
		llmo_log(LLMO_LOG_ERROR, LOG, "CRD sync failed", "error=\"%s\"", err.msg);
}

static void on_flush(evutil_socket_t fd, short what, void *arg)
{
	llmo__flush(arg);
	resync_crds(arg);
}

void llmo__write_begin(struct llmo_apiserver *srv)
{
	if (srv->batch_open || !srv->flush_ev)
		return;
	if (llmo_store_begin(srv->store) != 0)
		return; /* the write then commits on its own */
	srv->batch_open = true;
	/* runs once the callbacks already due in this loop pass have run */
	event_active(srv->flush_ev, EV_TIMEOUT, 0);
}

/*
 * Gives a (body and text stolen, out drained) its answer: held until the
 * open batch commits when a answers the request being handled and that
 * request read or wrote the store since the batch began; a 500 when that
 * request used a batch whose commit already failed; sent now otherwise
 * (srv NULL: outside on_request).
 */
static void answer(struct llmo_apiserver *srv, struct llmo__pending a)
{
	struct llmo__current *cur = srv ? &srv->current : NULL;
	struct llmo__pending *p;

	if (!cur || cur->req != a.req) {
		send_answer(&a);
		return;
	}
	if (!cur->lost && srv->batch_open && llmo_store_calls(srv->store) != cur->calls) {
		struct evbuffer *own = a.out ? evbuffer_new() : NULL;

		p = (!a.out || own) ? llmo_vec_push(&srv->pending) : NULL;
		if (p) {
			if (own)
				evbuffer_add_buffer(own, a.out);
			a.out = own;
			*p = a;
			return;
		}
		if (own)
			evbuffer_free(own);
		/* no room to hold it: commit now, then answer (a 500 if that failed) */
		llmo__flush(srv);
	}
	if (cur->lost) {
		drop_answer(&a, false);
		send_storage_failed(a.req, cur->lost);
		return;
	}
	send_answer(&a);
}

bool llmo__flush_for_stream(struct llmo_apiserver *srv, struct evhttp_request *req)
{
	llmo__flush(srv);
	if (!srv->current.lost || srv->current.req != req)
		return true;
	send_storage_failed(req, srv->current.lost);
	return false;
}

void llmo__reply_written(struct llmo_apiserver *srv, struct evhttp_request *req, int code,
			 json_t *body)
{
	answer(srv, (struct llmo__pending){.req = req,
					   .code = code,
					   .type = "application/json",
					   .body = body,
					   .write = true});
}

void llmo__reply_written_text(struct llmo_apiserver *srv, struct evhttp_request *req, int code,
			      char *text, size_t len)
{
	answer(srv, (struct llmo__pending){.req = req,
					   .code = code,
					   .type = "application/json",
					   .text = text,
					   .len = len,
					   .write = true});
}

/* ---- objects ---- */

json_t *llmo__object_from_row(const struct llmo_resource *res, const char *data, int64_t rv)
{
	json_t *obj = NULL, *meta;
	char buf[64];

	if (llmo_json_load(data, strlen(data), "stored object", &obj, NULL) || !json_is_object(obj)) {
		json_decref(obj);
		return NULL;
	}
	llmo_resource_api_version(res, buf, sizeof(buf));
	json_object_set_new(obj, "apiVersion", json_string(buf));
	json_object_set_new(obj, "kind", json_string(res->kind));
	meta = json_object_get(obj, "metadata");
	if (!json_is_object(meta)) {
		meta = json_object();
		json_object_set_new(obj, "metadata", meta);
	}
	snprintf(buf, sizeof(buf), "%" PRId64, rv);
	json_object_set_new(meta, "resourceVersion", json_string(buf));
	return obj;
}

/* ---- reading rows without parsing them ---- */

static const char *row_ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

/* Just past the JSON string at p (at its '"'), or NULL. */
static const char *row_string(const char *p)
{
	for (p++; *p && *p != '"'; p++) {
		if (*p == '\\' && !*++p)
			return NULL;
	}
	return *p ? p + 1 : NULL;
}

/* Just past the JSON value at p, or NULL when it is not one. */
static const char *row_value(const char *p, int depth)
{
	const char *start;
	char close;

	p = row_ws(p);
	if (*p == '"')
		return row_string(p);
	if (*p != '{' && *p != '[') {
		for (start = p; *p && !strchr(",}] \t\n\r", *p); p++)
			;
		return p > start ? p : NULL;
	}
	if (depth > JSON_PARSER_MAX_DEPTH)
		return NULL;
	close = *p == '{' ? '}' : ']';
	p = row_ws(p + 1);
	if (*p == close)
		return p + 1;
	for (;;) {
		if (close == '}') {
			if (*p != '"' || !(p = row_string(p)))
				return NULL;
			p = row_ws(p);
			if (*p++ != ':')
				return NULL;
		}
		if (!(p = row_value(p, depth + 1)))
			return NULL;
		p = row_ws(p);
		if (*p == close)
			return p + 1;
		if (*p++ != ',')
			return NULL;
		p = row_ws(p);
	}
}

/* Whether the member key at p (at its '"', just past it in *end) is name. */
static bool row_key_is(const char *p, const char **end, const char *name)
{
	size_t n = strlen(name);

	*end = row_string(p);
	return *end && (size_t)(*end - p) == n + 2 && memcmp(p + 1, name, n) == 0;
}

/*
 * Finds in row (an object) where its metadata object's members start, and
 * checks that apiVersion and kind are api_version and kind and that the
 * metadata has no resourceVersion. 0 when the row is not of that form.
 */
static size_t row_meta_at(const char *row, const char *api_version, const char *kind)
{
	const char *p = row_ws(row), *end;
	size_t meta_at = 0;
	bool version_ok = false, kind_ok = false;

	if (*p++ != '{')
		return 0;
	for (p = row_ws(p);; p = row_ws(p + 1)) {
		const char *v;
		int which = row_key_is(p, &end, "apiVersion") ? 1
			    : row_key_is(p, &end, "kind")     ? 2
			    : row_key_is(p, &end, "metadata") ? 3
							      : 0;

		if (*p != '"' || !end || *(p = row_ws(end)) != ':')
			return 0;
		v = row_ws(p + 1);
		if (!(p = row_value(v, 1)))
			return 0;
		if (which == 1 || which == 2) {
			const char *want = which == 1 ? api_version : kind;
			size_t n = strlen(want);
			bool same = (size_t)(p - v) == n + 2 && *v == '"' && memcmp(v + 1, want, n) == 0;

			if (!same)
				return 0;
			*(which == 1 ? &version_ok : &kind_ok) = true;
		} else if (which == 3) {
			const char *m = row_ws(v + 1);

			if (*v != '{')
				return 0;
			meta_at = (size_t)(v + 1 - row);
			/* a stored row has no resourceVersion: let the parser deal with one that has */
			for (; *m == '"'; m = row_ws(m)) {
				if (row_key_is(m, &end, "resourceVersion") || !end ||
				    *(m = row_ws(end)) != ':' || !(m = row_value(m + 1, 2)))
					return 0;
				m = row_ws(m);
				if (*m == ',')
					m = row_ws(m + 1);
			}
		}
		p = row_ws(p);
		if (*p != ',')
			break;
	}
	if (*p != '}' || *row_ws(p + 1))
		return 0;
	return version_ok && kind_ok ? meta_at : 0;
}

bool llmo__row_text(const struct llmo_resource *res, const char *row, int64_t rv,
		    const char *sep, struct evbuffer *out)
{
	char api_version[128], rvs[48];
	size_t meta_at, len;
	int n;

	llmo_resource_api_version(res, api_version, sizeof(api_version));
	meta_at = row_meta_at(row, api_version, res->kind);
	if (!meta_at)
		return false;
	n = snprintf(rvs, sizeof(rvs), "\"resourceVersion\":\"%" PRId64 "\"%s", rv,
		     *row_ws(row + meta_at) == '}' ? "" : ",");
	len = strlen(row);
	/* room first, so that the three adds cannot fail halfway */
	return evbuffer_expand(out, strlen(sep) + len + (size_t)n) == 0 &&
	       evbuffer_add(out, sep, strlen(sep)) == 0 && evbuffer_add(out, row, meta_at) == 0 &&
	       evbuffer_add(out, rvs, (size_t)n) == 0 &&
	       evbuffer_add(out, row + meta_at, len - meta_at) == 0;
}

char *llmo__row_dump(const json_t *obj, size_t *meta_at)
{
	struct llmo_buf b;
	bool first = true;
	int rc;

	*meta_at = 0;
	llmo_buf_init(&b, LLMO_API_ROW_MAX);
	rc = llmo_buf_putc(&b, '{');
	/* jansson's object iterator takes a non-const object; it reads only */
	for (void *it = json_object_iter((json_t *)obj); !rc && it;
	     it = json_object_iter_next((json_t *)obj, it)) {
		const char *key = json_object_iter_key(it);
		json_t *v = json_object_iter_value(it);

		if ((!first && (rc = llmo_buf_putc(&b, ','))) ||
		    (rc = llmo_json_write_string(&b, key, json_object_iter_key_len(it))) ||
		    (rc = llmo_buf_putc(&b, ':')))
			break;
		if (strcmp(key, "metadata") == 0 && json_is_object(v))
			*meta_at = b.len + 1; /* just past the '{' the value starts with */
		rc = llmo_json_write(&b, v);
		first = false;
	}
	if (rc || llmo_buf_putc(&b, '}')) {
		llmo_buf_release(&b);
		*meta_at = 0;
		return NULL;
	}
	return llmo_buf_detach(&b, NULL);
}

char *llmo__row_with_rv(const char *row, size_t meta_at, int64_t rv, size_t *len)
{
	struct llmo_buf b;
	bool empty;

	if (!meta_at)
		return NULL;
	/* the metadata is "{}" when the character after its '{' closes it */
	empty = row[meta_at] == '}';
	llmo_buf_init(&b, LLMO_API_ROW_MAX + 64);
	if (llmo_buf_append(&b, row, meta_at) ||
	    llmo_buf_appendf(&b, "\"resourceVersion\":\"%" PRId64 "\"%s", rv, empty ? "" : ",") ||
	    llmo_buf_puts(&b, row + meta_at)) {
		llmo_buf_release(&b);
		return NULL;
	}
	return llmo_buf_detach(&b, len);
}

json_t *llmo__jsonpath(const json_t *obj, const char *path)
{
	const json_t *cur = obj;
	const char *p = path;

	if (*p == '.')
		p++;
	while (cur && *p) {
		size_t n = strcspn(p, ".[");
		char key[256];

		if (n >= sizeof(key))
			return NULL;
		memcpy(key, p, n);
		key[n] = '\0';
		cur = json_object_get(cur, key);
		p += n;
		while (cur && *p == '[') {
			char *end;
			unsigned long i = strtoul(p + 1, &end, 10);

			if (*end != ']')
				return NULL;
			cur = json_array_get(cur, i);
			p = end + 1;
		}
		if (*p == '.')
			p++;
	}
	return (json_t *)cur;
}

/* ---- routing ---- */

static int split_path(char *path, char **seg, int max)
{
	int n = 0;
	char *save = NULL;

	for (char *t = strtok_r(path, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
		if (n == max)
			return -1;
		seg[n++] = t;
	}
	return n;
}

static bool copy_seg(char *dst, size_t n, const char *src)
{
	size_t len = strlen(src);

	if (len >= n)
		return false;
	memcpy(dst, src, len + 1);
	return true;
}

static bool wants_table(struct evhttp_request *req)
{
	const char *accept =
		evhttp_find_header(evhttp_request_get_input_headers(req), "Accept");

	return accept && strstr(accept, "as=Table") && strstr(accept, "g=meta.k8s.io");
}

/* Parses /api/v1/... and /apis/G/V/... resource URLs; false when path is not one. */
static void route_resource(struct llmo_apiserver *srv, struct evhttp_request *req, char *path,
			   const char *query, const struct llmo_user *user)
{
	struct llmo__req r = {.srv = srv,
			      .req = req,
			      .user = user,
			      .cmd = evhttp_request_get_command(req),
			      .grace = -1};
	char *seg[PATH_SEGMENTS_MAX];
	const char *group, *version;
	int n = split_path(path, seg, PATH_SEGMENTS_MAX), i;

	if (n < 3)
		goto not_found;
	if (strcmp(seg[0], "api") == 0) {
		group = "";
		version = seg[1];
		i = 2;
	} else {
		if (n < 4)
			goto not_found;
		group = seg[1];
		version = seg[2];
		i = 3;
	}
	if (n - i >= 3 && strcmp(seg[i], "namespaces") == 0) {
		const struct llmo_resource *res = llmo_resources_find(&srv->resources, group,
								       version, seg[i + 2]);

		if (res && res->namespaced) {
			if (!copy_seg(r.ns, sizeof(r.ns), seg[i + 1]))
				goto bad_name;
			r.res = res;
			i += 3;
		}
	}
	if (!r.res) {
		r.res = llmo_resources_find(&srv->resources, group, version, seg[i]);
		if (!r.res)
			goto not_found;
		i++;
	}
	if (i < n) {
		if (!copy_seg(r.name, sizeof(r.name), seg[i++]))
			goto bad_name;
		r.has_name = true;
	}
	if (i < n && !copy_seg(r.sub, sizeof(r.sub), seg[i++]))
		goto not_found;
	if (i < n)
		goto not_found;
	evhttp_parse_query_str(query ? query : "", &r.query);
	r.want_table = wants_table(req);
	{
		const char *inc = evhttp_find_header(&r.query, "includeObject");

		r.include = inc && strcmp(inc, "None") == 0     ? LLMO__INCLUDE_NONE
			    : inc && strcmp(inc, "Object") == 0 ? LLMO__INCLUDE_OBJECT
								: LLMO__INCLUDE_METADATA;
	}
	llmo__handle_resource(&r);
	evhttp_clear_headers(&r.query);
	return;
not_found:
	llmo__reply_status(req, 404, "NotFound", NULL,
			   "the server could not find the requested resource");
	return;
bad_name:
	llmo__reply_status(req, 400, "BadRequest", NULL, "name or namespace is too long");
}

static void reply_text(struct evhttp_request *req, int code, const char *type, const char *text)
{
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", type);
	evbuffer_add(evhttp_request_get_output_buffer(req), text, strlen(text));
	evhttp_send_reply(req, code, NULL, NULL);
}

static void reply_metrics(struct llmo_apiserver *srv, struct evhttp_request *req)
{
	struct llmo_buf b;

	llmo_buf_init(&b, 1 << 20);
	llmo_buf_appendf(&b,
			 "# HELP llmo_apiserver_requests_total API requests served, by status class.\n"
			 "# TYPE llmo_apiserver_requests_total counter\n");
	for (int c = 1; c <= 5; c++)
		llmo_buf_appendf(&b, "llmo_apiserver_requests_total{code=\"%dxx\"} %" PRIu64 "\n", c,
				 srv->requests_by_class[c]);
	llmo_buf_appendf(&b,
			 "# HELP llmo_apiserver_watches Open watch streams.\n"
			 "# TYPE llmo_apiserver_watches gauge\n"
			 "llmo_apiserver_watches %zu\n"
			 "# HELP llmo_apiserver_watch_events_sent_total Watch events written to clients.\n"
			 "# TYPE llmo_apiserver_watch_events_sent_total counter\n"
			 "llmo_apiserver_watch_events_sent_total %" PRIu64 "\n"
			 "# HELP llmo_apiserver_log_streams Open pods/log streams.\n"
			 "# TYPE llmo_apiserver_log_streams gauge\n"
			 "llmo_apiserver_log_streams %zu\n"
			 "# HELP llmo_apiserver_resource_version The latest resourceVersion issued.\n"
			 "# TYPE llmo_apiserver_resource_version gauge\n"
			 "llmo_apiserver_resource_version %" PRId64 "\n"
			 "# HELP llmo_apiserver_rbac_cache_total RBAC decisions of users outside "
			 "system:masters, by whether the bound rules came from the cache.\n"
			 "# TYPE llmo_apiserver_rbac_cache_total counter\n"
			 "llmo_apiserver_rbac_cache_total{result=\"hit\"} %" PRIu64 "\n"
			 "llmo_apiserver_rbac_cache_total{result=\"miss\"} %" PRIu64 "\n"
			 "# HELP llmo_apiserver_rbac_cache_clears_total Times a change of a role or "
			 "binding (or the size cap) emptied the RBAC cache.\n"
			 "# TYPE llmo_apiserver_rbac_cache_clears_total counter\n"
			 "llmo_apiserver_rbac_cache_clears_total %" PRIu64 "\n"
			 "# HELP llmo_apiserver_group_commits_total Write batches committed, one "
			 "fsync each.\n"
			 "# TYPE llmo_apiserver_group_commits_total counter\n"
			 "llmo_apiserver_group_commits_total %" PRIu64 "\n"
			 "# HELP llmo_apiserver_group_commit_writes_total Writes answered after "
			 "those commits (divided by the commits: writes per fsync).\n"
			 "# TYPE llmo_apiserver_group_commit_writes_total counter\n"
			 "llmo_apiserver_group_commit_writes_total %" PRIu64 "\n",
			 srv->watches.len, srv->watch_events_sent, srv->logs.len,
			 llmo_store_rv(srv->store), srv->rbac_cache.hits, srv->rbac_cache.misses,
			 srv->rbac_cache.clears, srv->group_commits, srv->group_commit_writes);
	reply_text(req, 200, "text/plain; version=0.0.4", b.data);
	llmo_buf_release(&b);
}

/* ---- authentication and authorization ---- */

/*
 * The ServiceAccount a token of satoken.h names, into *u (released by the
 * caller): valid, unexpired, and the ServiceAccount still there with that uid.
 */
static bool authenticate_sa(struct llmo_apiserver *srv, const char *tok, size_t len,
			    struct llmo_user *u)
{
	struct llmo_sa_claims c;
	char *data = NULL, name[2 * LLMO_RBAC_SEGMENT_MAX + 32];
	json_t *sa = NULL;
	bool ok;

	if (llmo_sa_token_verify(srv->sa_key, tok, len, llmo_clock_wall_ms() / 1000, &c) != 0)
		return false;
	llmo__flush(srv);
	if (llmo_store_get(srv->store, "/serviceaccounts", c.ns, c.name, &data, NULL) == 0)
		sa = json_loads(data, 0, NULL);
	free(data);
	ok = sa && json_is_string(json_object_get(json_object_get(sa, "metadata"), "uid")) &&
	     strcmp(json_string_value(json_object_get(json_object_get(sa, "metadata"), "uid")),
		    c.uid) == 0;
	json_decref(sa);
	if (!ok)
		return false;
	snprintf(name, sizeof(name), "system:serviceaccount:%s:%s", c.ns, c.name);
	u->name = strdup(name);
	u->uid = strdup(c.uid);
	snprintf(name, sizeof(name), "system:serviceaccounts:%s", c.ns);
	return u->name && u->uid && !llmo_strv_push(&u->groups, "system:serviceaccounts") &&
	       !llmo_strv_push(&u->groups, name) &&
	       !llmo_strv_push(&u->groups, LLMO_RBAC_AUTHENTICATED);
}

/*
 * The user a request's Authorization header names: the admin, a
 * --token-file user, a ServiceAccount (made in *scratch, which the caller
 * releases), or NULL.
 */
static const struct llmo_user *authenticate(struct llmo_apiserver *srv, const char *auth,
					    struct llmo_user *scratch)
{
	const char *tok;
	size_t len;

	if (llmo_pki_token_ok(&srv->pki, auth))
		return &srv->admin;
	if (!llmo_bearer_token(auth, &tok, &len))
		return NULL;
	if (len > strlen(LLMO_SA_TOKEN_PREFIX) &&
	    memcmp(tok, LLMO_SA_TOKEN_PREFIX, strlen(LLMO_SA_TOKEN_PREFIX)) == 0)
		return authenticate_sa(srv, tok, len, scratch) ? scratch : NULL;
	return llmo_tokens_find(&srv->tokens, tok, len);
}

static const char *method_name(enum evhttp_cmd_type cmd)
{
	switch (cmd) {
	case EVHTTP_REQ_GET:
		return "GET";
	case EVHTTP_REQ_POST:
		return "POST";
	case EVHTTP_REQ_PUT:
		return "PUT";
	case EVHTTP_REQ_PATCH:
		return "PATCH";
	case EVHTTP_REQ_DELETE:
		return "DELETE";
	case EVHTTP_REQ_HEAD:
		return "HEAD";
	case EVHTTP_REQ_OPTIONS:
		return "OPTIONS";
	default:
		return "";
	}
}

/* Whether the query asks for a watch (?watch=true, as Go's ParseBool reads it). */
static bool query_watch(const char *query)
{
	static const char *const yes[] = {"1", "t", "T", "TRUE", "true", "True"};
	struct evkeyvalq q;
	const char *v;
	bool watch = false;

	if (!query || evhttp_parse_query_str(query, &q) != 0)
		return false;
	v = evhttp_find_header(&q, "watch");
	for (size_t i = 0; v && i < LLMO_ARRAY_LEN(yes); i++)
		watch = watch || strcmp(v, yes[i]) == 0;
	evhttp_clear_headers(&q);
	return watch;
}

/* Every committed change: RBAC objects empty the decision cache, then the watches get it. */
static int store_observer(void *ctx, const struct llmo_store_event *ev)
{
	struct llmo_apiserver *srv = ctx;

	llmo_rbac_cache_changed(&srv->rbac_cache, ev->res);
	return llmo__watch_observer(ctx, ev);
}

/*
 * llmo_rbac_authorize, through the decision cache unless writes wait for
 * their commit: a decision read from an uncommitted binding must not
 * outlive a rollback.
 */
static int rbac_decide(struct llmo_apiserver *srv, const struct llmo_user *user,
		       const struct llmo_rbac_attrs *a, bool *allowed, char *reason, size_t n)
{
	if (srv->batch_open)
		return llmo_rbac_authorize(srv->store, user, a, allowed, reason, n);
	return llmo_rbac_cache_authorize(&srv->rbac_cache, srv->store, user, a, allowed, reason, n);
}

/* RBAC: true when user may make this request; otherwise answers it (403) and returns false. */
static bool authorize(struct llmo_apiserver *srv, struct evhttp_request *req,
		      const struct llmo_user *user, const char *path, const char *query)
{
	struct llmo_rbac_attrs a;
	char reason[1024], msg[2048];
	bool allowed = false;
	json_t *details;
	int rc;

	if (llmo_user_in_group(user, LLMO_RBAC_MASTERS))
		return true; /* without reading the store: the components ask all the time */
	rc = llmo_rbac_attrs_from_request(method_name(evhttp_request_get_command(req)), path,
					  query_watch(query), &a);
	if (rc) {
		llmo__reply_status(req, 400, "BadRequest", NULL,
				   "a name or namespace in the path is too long");
		return false;
	}
	rc = rbac_decide(srv, user, &a, &allowed, reason, sizeof(reason));
	if (rc) {
		llmo__reply_status(req, 500, "InternalError", NULL, "authorization failed: %s",
				   llmo_strerror(rc));
		return false;
	}
	if (allowed)
		return true;
	llmo_rbac_forbidden_message(user, &a, reason, msg, sizeof(msg));
	llmo_log(LLMO_LOG_DEBUG, LOG, "forbidden", "user=\"%s\" verb=%s path=\"%s\"", user->name,
		 a.verb, path);
	details = json_object();
	if (*a.name)
		json_object_set_new(details, "name", json_string(a.name));
	if (*a.group)
		json_object_set_new(details, "group", json_string(a.group));
	if (*a.resource)
		json_object_set_new(details, "kind", json_string(a.resource));
	llmo__reply_status(req, 403, "Forbidden", details, "%s", msg);
	return false;
}

/*
 * Whether caller may impersonate: verb impersonate on GROUP/RESOURCE NAME (in
 * namespace ns for service accounts). Otherwise answers 403 and returns false.
 */
static bool may_impersonate(struct llmo_apiserver *srv, struct evhttp_request *req,
			    const struct llmo_user *caller, const char *group, const char *resource,
			    const char *ns, const char *name)
{
	struct llmo_rbac_attrs a = {.resource_request = true};
	char reason[1024], msg[2048];
	bool allowed = false;

	if (llmo_user_in_group(caller, LLMO_RBAC_MASTERS))
		return true;
	if (strlen(name) > LLMO_RBAC_SEGMENT_MAX || strlen(ns) > LLMO_RBAC_SEGMENT_MAX) {
		llmo__reply_status(req, 400, "BadRequest", NULL, "an impersonated name is too long");
		return false;
	}
	snprintf(a.verb, sizeof(a.verb), "impersonate");
	snprintf(a.group, sizeof(a.group), "%s", group);
	snprintf(a.resource, sizeof(a.resource), "%s", resource);
	snprintf(a.ns, sizeof(a.ns), "%s", ns);
	snprintf(a.name, sizeof(a.name), "%s", name);
	if (rbac_decide(srv, caller, &a, &allowed, reason, sizeof(reason))) {
		llmo__reply_status(req, 500, "InternalError", NULL, "authorization failed");
		return false;
	}
	if (allowed)
		return true;
	llmo_rbac_forbidden_message(caller, &a, reason, msg, sizeof(msg));
	llmo__reply_status(req, 403, "Forbidden", NULL, "%s", msg);
	return false;
}

/*
 * Impersonation (kubectl --as USER [--as-group G]... [--as-uid U]): the
 * Impersonate-User, Impersonate-Group (repeatable) and Impersonate-Uid
 * headers, as kube-apiserver reads them. The caller needs the verb
 * impersonate on users NAME (serviceaccounts NAME in NS for
 * system:serviceaccount:NS:NAME), on groups G for each group and on
 * authentication.k8s.io uids U; the request then runs as that user, in the
 * groups given plus system:authenticated (and a service account's own
 * groups), built in *out. caller itself without the headers; NULL after
 * answering (400, 403).
 */
static const struct llmo_user *impersonate(struct llmo_apiserver *srv, struct evhttp_request *req,
					   const struct llmo_user *caller, struct llmo_user *out)
{
	static const char sa_prefix[] = "system:serviceaccount:";
	struct evkeyvalq *h = evhttp_request_get_input_headers(req);
	const char *who = evhttp_find_header(h, "Impersonate-User");
	const char *uid = evhttp_find_header(h, "Impersonate-Uid");
	bool any = false;
	struct evkeyval *kv;
	char ns[LLMO_RBAC_SEGMENT_MAX + 1] = "", group[300];

	TAILQ_FOREACH(kv, h, next) {
		if (strncasecmp(kv->key, "Impersonate-", 12) != 0)
			continue;
		any = true;
		if (strncasecmp(kv->key, "Impersonate-Extra-", 18) == 0) {
			llmo__reply_status(req, 400, "BadRequest", NULL,
					   "%s: impersonating user extras is not supported", kv->key);
			return NULL;
		}
	}
	if (!any)
		return caller;
	if (!who || !*who) {
		llmo__reply_status(req, 400, "BadRequest", NULL,
				   "impersonating groups or a uid needs Impersonate-User");
		return NULL;
	}
	if (strncmp(who, sa_prefix, sizeof(sa_prefix) - 1) == 0) {
		const char *rest = who + sizeof(sa_prefix) - 1, *colon = strchr(rest, ':');

		if (!colon || colon == rest || !colon[1] ||
		    (size_t)(colon - rest) > LLMO_RBAC_SEGMENT_MAX) {
			llmo__reply_status(req, 400, "BadRequest", NULL,
					   "Impersonate-User \"%s\": want system:serviceaccount:NS:NAME",
					   who);
			return NULL;
		}
		memcpy(ns, rest, (size_t)(colon - rest));
		ns[colon - rest] = '\0';
		if (!may_impersonate(srv, req, caller, "", "serviceaccounts", ns, colon + 1))
			return NULL;
	} else if (!may_impersonate(srv, req, caller, "", "users", "", who)) {
		return NULL;
	}
	TAILQ_FOREACH(kv, h, next) {
		if (strcasecmp(kv->key, "Impersonate-Group") != 0)
			continue;
		if (!may_impersonate(srv, req, caller, "", "groups", "", kv->value))
			return NULL;
		if (llmo_strv_push(&out->groups, kv->value))
			goto oom;
	}
	if (uid && !may_impersonate(srv, req, caller, "authentication.k8s.io", "uids", "", uid))
		return NULL;
	out->name = strdup(who);
	out->uid = uid ? strdup(uid) : NULL;
	if (!out->name || (uid && !out->uid))
		goto oom;
	if (*ns) {
		snprintf(group, sizeof(group), "system:serviceaccounts:%s", ns);
		if (llmo_strv_push(&out->groups, "system:serviceaccounts") ||
		    llmo_strv_push(&out->groups, group))
			goto oom;
	}
	if (!llmo_user_in_group(out, LLMO_RBAC_AUTHENTICATED) &&
	    llmo_strv_push(&out->groups, LLMO_RBAC_AUTHENTICATED))
		goto oom;
	return out;
oom:
	llmo__reply_status(req, 500, "InternalError", NULL, "out of memory");
	return NULL;
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct llmo_apiserver *srv = arg;
	const char *uri = evhttp_request_get_uri(req);
	struct evhttp_uri *u = evhttp_uri_parse_with_flags(uri, EVHTTP_URI_NONCONFORMANT);
	const char *auth = evhttp_find_header(evhttp_request_get_input_headers(req),
					      "Authorization");
	const char *rawpath = u ? evhttp_uri_get_path(u) : NULL;
	char *path = rawpath ? evhttp_uridecode(rawpath, 0, NULL) : NULL;
	const struct llmo_user *user;
	struct llmo_user sa_user = {0}, imp_user = {0};

	/* atomic: llmo_apiserver_requests reads it from other threads */
	__atomic_add_fetch(&srv->requests_total, 1, __ATOMIC_RELAXED);
	srv->current = (struct llmo__current){.req = req, .calls = llmo_store_calls(srv->store)};
	answering = srv;
	if (!path) {
		llmo__reply_status(req, 400, "BadRequest", NULL, "malformed request URI");
		goto out;
	}
	if (strcmp(path, "/healthz") == 0 || strcmp(path, "/livez") == 0 ||
	    strcmp(path, "/readyz") == 0) {
		reply_text(req, 200, "text/plain", "ok");
		goto out;
	}
	user = authenticate(srv, auth, &sa_user);
	if (!user) {
		llmo__reply_status(req, 401, "Unauthorized", NULL, "Unauthorized");
		goto out;
	}
	if (!(user = impersonate(srv, req, user, &imp_user)))
		goto out;
	if (!authorize(srv, req, user, path, u ? evhttp_uri_get_query(u) : NULL))
		goto out;
	if (strcmp(path, "/metrics") == 0) {
		reply_metrics(srv, req);
		goto out;
	}
	if (llmo__handle_discovery(srv, req, path))
		goto out;
	if (strncmp(path, "/api/", 5) == 0 || strncmp(path, "/apis/", 6) == 0) {
		route_resource(srv, req, path, evhttp_uri_get_query(u), user);
		goto out;
	}
	llmo__reply_status(req, 404, "NotFound", NULL,
			   "the server could not find the requested resource");
out:
	answering = NULL;
	srv->current = (struct llmo__current){0};
	resync_crds(srv);
	llmo_user_release(&sa_user);
	llmo_user_release(&imp_user);
	free(path);
	if (u)
		evhttp_uri_free(u);
}

/* Counts replies by status class, whatever handler answered. */
static void on_complete(struct evhttp_request *req, void *arg)
{
	struct llmo_apiserver *srv = arg;
	int code = evhttp_request_get_response_code(req);

	if (code >= 100 && code < 600)
		srv->requests_by_class[code / 100]++;
}

static void on_request_counted(struct evhttp_request *req, void *arg)
{
	evhttp_request_set_on_complete_cb(req, on_complete, arg);
	on_request(req, arg);
}

static struct bufferevent *ssl_bev(struct event_base *base, void *arg)
{
	struct llmo_apiserver *srv = arg;
	SSL *ssl = SSL_new(srv->ssl_ctx);

	if (!ssl)
		return NULL;
	return bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
					      BEV_OPT_CLOSE_ON_FREE);
}

/* ---- CRDs in the store ---- */

/* Puts the embedded CRDs into the store (so that kubectl sees them) when absent or changed. */
static int install_builtin_crds(struct llmo_apiserver *srv, struct llmo_error *err)
{
	const struct llmo_crd *crds;
	size_t n;
	int rc = llmo_crds(&crds, &n, err);

	for (size_t i = 0; !rc && i < n; i++) {
		json_t *doc = json_deep_copy(crds[i].doc);
		const char *name = json_string_value(
			json_object_get(json_object_get(doc, "metadata"), "name"));
		char *existing = NULL, *text;
		int64_t rv;

		json_object_del(doc, "apiVersion");
		json_object_del(doc, "kind");
		if (!name) {
			json_decref(doc);
			return llmo_error_set(err, LLMO_EINTERNAL, "crd.yaml: a CRD has no name");
		}
		rc = llmo_store_get(srv->store, "apiextensions.k8s.io/customresourcedefinitions", "",
				    name, &existing, &rv);
		if (rc == LLMO_ENOTFOUND) {
			json_t *meta = json_object_get(doc, "metadata");
			char ts[64];

			llmo_time_format_rfc3339(llmo_clock_wall_ms(), false, ts, sizeof(ts));
			json_object_set_new(meta, "creationTimestamp", json_string(ts));
			json_object_set_new(meta, "uid", json_string(name));
			json_object_set_new(meta, "generation", json_integer(1));
			text = json_dumps(doc, JSON_COMPACT);
			rc = text ? llmo_store_create(srv->store,
						      "apiextensions.k8s.io/customresourcedefinitions",
						      "", name, text, &rv)
				  : LLMO_ENOMEM;
			free(text);
		} else if (rc == 0) {
			json_t *old = json_loads(existing, 0, NULL);

			/* keep the stored metadata; refresh the spec from this binary */
			if (old && !json_equal(json_object_get(old, "spec"),
					       json_object_get(doc, "spec"))) {
				json_object_set(old, "spec", json_object_get(doc, "spec"));
				text = json_dumps(old, JSON_COMPACT);
				rc = text ? llmo_store_update(
						    srv->store,
						    "apiextensions.k8s.io/customresourcedefinitions",
						    "", name, text, 0, &rv)
					  : LLMO_ENOMEM;
				free(text);
			}
			json_decref(old);
		}
		free(existing);
		json_decref(doc);
		if (rc)
			return llmo_error_set(err, rc, "storing CRD %s: %s", name, llmo_strerror(rc));
	}
	return rc;
}

static int ensure_namespaces(struct llmo_apiserver *srv, struct llmo_error *err)
{
	static const char *const names[] = {"default", "kube-system", "kube-public",
					    "kube-node-lease", "llm-orchestrator", "llm-workloads"};

	for (size_t i = 0; i < LLMO_ARRAY_LEN(names); i++) {
		char ts[64], uid[64], *text;
		int64_t rv;
		json_t *ns;
		int rc;

		llmo_time_format_rfc3339(llmo_clock_wall_ms(), false, ts, sizeof(ts));
		snprintf(uid, sizeof(uid), "namespace-%s", names[i]);
		ns = json_pack("{s:{s:s, s:s, s:s}, s:{s:[s]}, s:{s:s}}", "metadata", "name",
			       names[i], "uid", uid, "creationTimestamp", ts, "spec", "finalizers",
			       "kubernetes", "status", "phase", "Active");
		text = ns ? json_dumps(ns, JSON_COMPACT) : NULL;
		json_decref(ns);
		if (!text)
			return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
		rc = llmo_store_create(srv->store, "/namespaces", "", names[i], text, &rv);
		free(text);
		if (rc && rc != LLMO_EEXIST)
			return llmo_error_set(err, rc, "creating namespace %s: %s", names[i],
					      llmo_strerror(rc));
	}
	return 0;
}

static void on_compact(evutil_socket_t fd, short what, void *arg)
{
	struct llmo_apiserver *srv = arg;

	llmo__flush(srv);
	resync_crds(srv);
	llmo_store_compact(srv->store, LLMO_API_HISTORY_KEEP);
}

/* ---- life cycle ---- */

int llmo_apiserver_new(struct event_base *base, const struct llmo_apiserver_opts *opts,
		       struct llmo_apiserver **out, struct llmo_error *err)
{
	struct llmo_apiserver *srv = calloc(1, sizeof(*srv));
	const char *host = opts->listen_host ? opts->listen_host : "127.0.0.1";
	const char *hosts[4] = {"127.0.0.1", "localhost", NULL, NULL};
	struct timeval tv = {60, 0};
	struct llmo_buf b;
	char url[300];
	int rc = 0;

	*out = NULL;
	if (!srv)
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	llmo_rbac_cache_init(&srv->rbac_cache);
	llmo_buf_init(&b, 4096);
	srv->base = base;
	srv->started_ms = llmo_clock_wall_ms();
	srv->plain_http = opts->plain_http;
	if (opts->plain_http && !llmo_host_loopback(host)) {
		rc = llmo_error_set(err, LLMO_EINVAL,
				    "--insecure-http is only allowed on a loopback address, not %s",
				    host);
		goto fail;
	}
	if ((rc = llmo_mkdir_p(opts->data_dir, 0700, err)))
		goto fail;
	/* absolute, so that the printed KUBECONFIG works from any directory */
	srv->data_dir = realpath(opts->data_dir, NULL);
	if (!srv->data_dir)
		goto fail_oom;
	if ((rc = llmo_buf_appendf(&b, "%s/state.db", srv->data_dir)) ||
	    (rc = llmo_store_open(b.data, &srv->store, err)))
		goto fail;
	llmo_store_set_observer(srv->store, store_observer, srv);
	if ((rc = llmo_resources_init(&srv->resources)))
		goto fail_oom;
	if ((rc = install_builtin_crds(srv, err)) || (rc = ensure_namespaces(srv, err)) ||
	    (rc = llmo_rbac_bootstrap(srv->store, err)) || (rc = llmo__crd_sync(srv, err)))
		goto fail;
	srv->admin.name = strdup("admin");
	srv->admin.uid = strdup("admin");
	if (!srv->admin.name || !srv->admin.uid ||
	    llmo_strv_push(&srv->admin.groups, LLMO_RBAC_MASTERS) ||
	    llmo_strv_push(&srv->admin.groups, LLMO_RBAC_AUTHENTICATED))
		goto fail_oom;
	if (opts->token_file && (rc = llmo_tokens_load(opts->token_file, &srv->tokens, err)))
		goto fail;

	srv->http = evhttp_new(base);
	if (!srv->http)
		goto fail_oom;
	evhttp_set_max_body_size(srv->http, LLMO_API_BODY_MAX + 64 * 1024);
	evhttp_set_allowed_methods(srv->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
						      EVHTTP_REQ_PATCH | EVHTTP_REQ_DELETE |
						      EVHTTP_REQ_HEAD | EVHTTP_REQ_OPTIONS);
	evhttp_set_timeout(srv->http, LLMO_API_CONN_TIMEOUT_S);
	evhttp_set_gencb(srv->http, on_request_counted, srv);
	srv->sock = evhttp_bind_socket_with_handle(srv->http, host, (uint16_t)opts->listen_port);
	if (!srv->sock) {
		rc = llmo_error_set(err, LLMO_EIO, "cannot listen on %s:%d: %s", host,
				    opts->listen_port, strerror(errno));
		goto fail;
	}
	{
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		evutil_socket_t fd = evhttp_bound_socket_get_fd(srv->sock);
		int one = 1;

		/* Replies go out as a few writes (TLS records); without this, Nagle holds
		 * the last one until the client's delayed ACK: 40 ms per request.
		 * Accepted sockets inherit it from the listener on Linux. */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

		if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
			srv->port = ntohs(ss.ss_family == AF_INET6
						  ? ((struct sockaddr_in6 *)&ss)->sin6_port
						  : ((struct sockaddr_in *)&ss)->sin_port);
	}
	if (strcmp(host, "127.0.0.1") != 0 && strcmp(host, "localhost") != 0)
		hosts[2] = host;
	if (strchr(host, ':'))
		snprintf(url, sizeof(url), "%s://[%s]:%d", opts->plain_http ? "http" : "https",
			 host, srv->port);
	else
		snprintf(url, sizeof(url), "%s://%s:%d", opts->plain_http ? "http" : "https", host,
			 srv->port);
	if ((rc = llmo_pki_ensure(srv->data_dir, hosts, url, &srv->pki, err)))
		goto fail;
	llmo_sa_key_derive(srv->pki.token, srv->sa_key);
	if (!opts->plain_http) {
		if ((rc = llmo_pki_ssl_ctx(&srv->pki, (SSL_CTX **)&srv->ssl_ctx, err)))
			goto fail;
		evhttp_set_bevcb(srv->http, ssl_bev, srv);
	}
	srv->flush_ev = event_new(base, -1, 0, on_flush, srv);
	if (!srv->flush_ev)
		goto fail_oom;
	srv->compact_timer = event_new(base, -1, EV_PERSIST, on_compact, srv);
	if (!srv->compact_timer)
		goto fail_oom;
	event_add(srv->compact_timer, &tv);
	srv->kubeconfig = strdup(srv->pki.kubeconfig_path);
	if (!srv->kubeconfig)
		goto fail_oom;
	srv->url = strdup(url);
	if (!srv->url)
		goto fail_oom;
	if (!opts->quiet)
		llmo_log(LLMO_LOG_INFO, LOG, "listening", "url=%s data_dir=%s", url, srv->data_dir);
	llmo_buf_release(&b);
	*out = srv;
	return 0;
fail_oom:
	if (!rc || rc == LLMO_ENOMEM)
		rc = llmo_error_set(err, LLMO_ENOMEM, "out of memory");
fail:
	llmo_buf_release(&b);
	llmo_apiserver_free(srv);
	return rc;
}

void llmo_apiserver_free(struct llmo_apiserver *srv)
{
	if (!srv)
		return;
	llmo__flush(srv);
	llmo_vec_release(&srv->pending);
	if (srv->flush_ev)
		event_free(srv->flush_ev);
	llmo__watch_close_all(srv);
	llmo_vec_release(&srv->watches);
	llmo__logs_close_all(srv);
	llmo_vec_release(&srv->logs);
	if (srv->dns)
		evdns_base_free(srv->dns, 0);
	if (srv->compact_timer)
		event_free(srv->compact_timer);
	if (srv->http)
		evhttp_free(srv->http);
	if (srv->ssl_ctx)
		SSL_CTX_free((SSL_CTX *)srv->ssl_ctx);
	if (srv->store)
		llmo_store_close(srv->store);
	llmo_resources_release(&srv->resources);
	llmo_rbac_cache_release(&srv->rbac_cache);
	llmo_pki_release(&srv->pki);
	llmo_user_release(&srv->admin);
	llmo_tokens_release(&srv->tokens);
	OPENSSL_cleanse(srv->sa_key, sizeof(srv->sa_key));
	free(srv->data_dir);
	free(srv->kubeconfig);
	free(srv->url);
	free(srv);
}

int llmo_apiserver_port(const struct llmo_apiserver *srv)
{
	return srv->port;
}

uint64_t llmo_apiserver_requests(const struct llmo_apiserver *srv)
{
	return __atomic_load_n(&srv->requests_total, __ATOMIC_RELAXED);
}

const char *llmo_apiserver_url(const struct llmo_apiserver *srv)
{
	return srv->url;
}

const char *llmo_apiserver_kubeconfig(const struct llmo_apiserver *srv)
{
	return srv->kubeconfig;
}
