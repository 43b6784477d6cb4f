/*
 * pods/log: GET /api/v1/namespaces/NS/pods/NAME/log, proxied as
 * kube-apiserver does to the node agent that runs the pod:
 *
 *     GET http://ADDR:PORT/containerLogs/NS/NAME/CONTAINER?follow=true&...
 *     Authorization: Bearer <the server's admin token>
 *
 * ADDR is the pod's Node's status.addresses entry of type InternalIP (else
 * Hostname), PORT its status.daemonEndpoints.kubeletEndpoint.Port. The log
 * options are checked here (a malformed one is a 400 naming it) and only
 * the ones the agent understands are forwarded.
 *
 * The agent's answer is streamed, never held whole: libevent's HTTP client,
 * on the server's own loop, hands over every piece as it is read, and the
 * piece goes straight into the client's chunked reply. A client that reads
 * more slowly than the agent writes gets LLMO_API_LOG_CLIENT_BUFFER_MAX
 * bytes of slack, then its connection is dropped. When the client goes
 * away the agent's connection is closed (the agent stops following); when
 * the agent ends, the reply ends.
 *
 * Lifetime: one struct llmo__logs per proxied request, listed in
 * srv->logs. libevent's callbacks only record what happened and schedule
 * finish_ev; the connections are freed in logs_finish_now, outside libevent's
 * HTTP code (freeing a connection from inside its own callback is not
 * allowed), or by llmo__logs_close_all when the server stops.
 *
 * Ending the reply waits until what was forwarded has been written (see
 * on_down_drained and headers_written): over TLS, libevent 2.1 runs a
 * connection's "output drained" callback deferred, and
 * evhttp_send_reply_end called between a drain and that deferred callback
 * makes evhttp finish the request with the last chunk still unsent (the
 * client then waits forever).
 */
#include "base/common.h"

#include "apiserver/apiserver_int.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/str.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/dns.h>

#include "base/banned.h"

#define LOG "apiserver"
/* Connecting to the agent and waiting for its headers. */
#define LOGS_CONNECT_TIMEOUT_S 10
/* Silence from the agent tolerated on a request that does not follow. */
#define LOGS_READ_TIMEOUT_S 60
/* The agent's error text kept for the Status message. */
#define LOGS_AGENT_TEXT_MAX 1024
/* Longest node address (a DNS name) and container name accepted. */
#define LOGS_ADDR_MAX 253
#define LOGS_CONTAINER_MAX 253
/* The upstream request line. */
#define LOGS_URI_MAX 4096
/* How often an ending reply with headers only checks that they were written. */
#define LOGS_END_POLL_MS 20

enum logs_state {
	LOGS_WAITING,     /* no answer from the agent yet; nothing sent to the client */
	LOGS_STREAMING,   /* 2xx from the agent: its body goes to the client */
	LOGS_AGENT_ERROR, /* non-2xx from the agent: its text becomes a Status */
};

struct llmo__logs {
	struct llmo_apiserver *srv;
	/*
	 * The client's request: NULL once answered, or once freed with its
	 * connection. down_detached: the client went away and libevent left
	 * the request to us (evhttp_send_reply_end frees it).
	 */
	struct evhttp_request *down;
	bool down_detached;
	bool drop;    /* the client is too slow: close its connection mid-reply */
	bool started;    /* the client's chunked reply is started */
	bool sent_data;  /* some log data was handed to the client's connection */
	bool queued;     /* ... and not yet seen written by on_down_drained */
	bool ending;     /* the reply ends once on_down_drained sees the data written */
	bool empty_seen; /* headers_written saw the output empty on an earlier pass */
	bool follow;
	enum logs_state state;
	struct evhttp_connection *up; /* to the agent; ours */
	int up_code;                  /* the agent's HTTP status (0: none yet) */
	bool up_failed;               /* libevent reported up_error */
	enum evhttp_request_error up_error;
	struct llmo_buf agent_text; /* the agent's error body, capped */
	struct event *finish_ev;
	/* the answer when the agent gave none (fail_code 0: not decided) */
	int fail_code;
	char fail_msg[768];
	char pod[LLMO_DNS1123_SUBDOMAIN_MAX + 1];
	char node[LLMO_DNS1123_SUBDOMAIN_MAX + 1];
	char where[LOGS_ADDR_MAX + 16]; /* "ADDR:PORT" for messages */
};

/* The log options, checked. -1: not given. */
struct logs_opts {
	const char *container; /* NULL or "": the pod's only container */
	bool follow, previous, timestamps;
	int64_t tail_lines, limit_bytes, since_seconds;
	const char *since_time;
};

/* ---- finishing ---- */

static void logs_free(struct llmo__logs *p)
{
	struct llmo_apiserver *srv = p->srv;

	for (size_t i = 0; i < srv->logs.len; i++) {
		if (srv->logs.items[i] == p) {
			srv->logs.items[i] = srv->logs.items[srv->logs.len - 1];
			srv->logs.len--;
			break;
		}
	}
	if (p->finish_ev)
		event_free(p->finish_ev);
	llmo_buf_release(&p->agent_text);
	free(p);
}

static const char *reason_for(int code)
{
	switch (code) {
	case 400:
		return "BadRequest";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "NotFound";
	case 409:
		return "Conflict";
	case 429:
		return "TooManyRequests";
	case 503:
		return "ServiceUnavailable";
	case 504:
		return "Timeout";
	default:
		return code >= 500 ? "InternalError" : "BadRequest";
	}
}

static const char *up_error_text(const struct llmo__logs *p)
{
	if (!p->up_failed)
		return "could not connect (connection refused or timed out)";
	switch (p->up_error) {
	case EVREQ_HTTP_TIMEOUT:
		return "timed out waiting for an answer";
	case EVREQ_HTTP_EOF:
		return "the connection failed or was closed before an answer";
	case EVREQ_HTTP_INVALID_HEADER:
		return "the answer is not valid HTTP";
	case EVREQ_HTTP_DATA_TOO_LONG:
		return "the answer is malformed";
	default:
		return "the connection failed";
	}
}

/* Answers the client with a Status when the agent sent no log stream. */
static void reply_failure(struct llmo__logs *p)
{
	if (p->state == LOGS_AGENT_ERROR && p->up_code >= 400 && p->up_code < 600) {
		const char *text = p->agent_text.len ? p->agent_text.data : "";

		if (*text)
			llmo__reply_status(p->down, p->up_code, reason_for(p->up_code), NULL, "%s",
					   text);
		else
			llmo__reply_status(p->down, p->up_code, reason_for(p->up_code), NULL,
					   "the node agent of node \"%s\" at %s answered %d for "
					   "the logs of pod %s", p->node, p->where, p->up_code,
					   p->pod);
		return;
	}
	if (p->state == LOGS_AGENT_ERROR) {
		llmo__reply_status(p->down, 502, "BadGateway", NULL,
				   "the node agent of node \"%s\" at %s answered HTTP %d for the "
				   "logs of pod %s", p->node, p->where, p->up_code, p->pod);
		return;
	}
	if (p->fail_code) {
		llmo__reply_status(p->down, p->fail_code, reason_for(p->fail_code), NULL, "%s",
				   p->fail_msg);
		return;
	}
	llmo__reply_status(p->down, 502, "BadGateway", NULL,
			   "cannot get the logs of pod %s from the node agent of node \"%s\" at "
			   "%s: %s", p->pod, p->node, p->where, up_error_text(p));
}

/* Sets the client connection's timeouts: read NULL for none. */
static void down_timeouts(struct evhttp_connection *conn, bool read_timeout)
{
	struct timeval tv = {LLMO_API_CONN_TIMEOUT_S, 0};

	bufferevent_set_timeouts(evhttp_connection_get_bufferevent(conn),
				 read_timeout ? &tv : NULL, &tv);
}

static void start_reply(struct llmo__logs *p)
{
	evhttp_add_header(evhttp_request_get_output_headers(p->down), "Content-Type",
			  "text/plain");
	evhttp_send_reply_start(p->down, 200, "OK");
	p->started = true;
}

/* Ends the client's streamed reply; the connection may serve its next request. */
static void end_reply(struct llmo__logs *p)
{
	struct evhttp_connection *conn = evhttp_request_get_connection(p->down);

	evhttp_connection_set_closecb(conn, NULL, NULL);
	if (p->follow)
		down_timeouts(conn, true);
	if (!p->started)
		start_reply(p); /* an empty log */
	evhttp_send_reply_end(p->down);
	p->down = NULL;
}

/*
 * For a reply that got its headers and no data: whether they are written
 * and their drain callback has run, so that ending now is safe. The output
 * has to be seen empty on two passes of the loop: a drain, and so a pending
 * deferred callback, can only have happened in the first one (nothing more
 * is written in between).
 */
static bool headers_written(struct llmo__logs *p)
{
	struct evhttp_connection *conn = evhttp_request_get_connection(p->down);

	if (evbuffer_get_length(bufferevent_get_output(evhttp_connection_get_bufferevent(conn)))) {
		p->empty_seen = false;
		return false;
	}
	if (p->empty_seen)
		return true;
	p->empty_seen = true;
	return false;
}

/*
 * Closes the agent's connection and answers or ends the client's reply,
 * then frees p. Unless now, an end that is not yet safe is put off: data
 * still being written is left to on_down_drained, headers still being
 * written to a later pass (finish_ev as a timer).
 */
static void logs_finish_now(struct llmo__logs *p, bool now)
{
	struct evhttp_connection *conn;

	if (p->up) {
		/* frees the request still on it, without calling back */
		evhttp_connection_free(p->up);
		p->up = NULL;
	}
	if (p->down && p->down_detached) {
		evhttp_send_reply_end(p->down); /* frees a detached request */
		p->down = NULL;
	} else if (p->down && p->drop) {
		conn = evhttp_request_get_connection(p->down);
		evhttp_connection_set_closecb(conn, NULL, NULL);
		evhttp_connection_free(conn); /* frees the request with it */
		p->down = NULL;
	} else if (p->down && p->state == LOGS_STREAMING) {
		if (!now && p->queued) {
			p->ending = true;
			return;
		}
		if (!now && p->started && !p->sent_data && !headers_written(p)) {
			struct timeval tv = {0, LOGS_END_POLL_MS * 1000};

			event_add(p->finish_ev, &tv);
			return;
		}
		end_reply(p);
	} else if (p->down) {
		evhttp_connection_set_closecb(evhttp_request_get_connection(p->down), NULL, NULL);
		reply_failure(p);
		p->down = NULL;
	}
	logs_free(p);
}

static void logs_finish(struct llmo__logs *p)
{
	logs_finish_now(p, false);
}

static void on_finish(evutil_socket_t fd, short what, void *arg)
{
	logs_finish(arg);
}

/* Runs logs_finish once the current libevent callback has returned. */
static void schedule_finish(struct llmo__logs *p)
{
	event_active(p->finish_ev, EV_TIMEOUT, 0);
}

/* ---- the client's side ---- */

/*
 * The client went away (or the server is freeing its connections). As in
 * watch.c: libevent detaches a request still being answered from its failed
 * connection and leaves it to us; a request still attached goes with its
 * connection.
 */
static void on_down_close(struct evhttp_connection *conn, void *arg)
{
	struct llmo__logs *p = arg;

	if (p->down && evhttp_request_get_connection(p->down) == NULL)
		p->down_detached = true;
	else
		p->down = NULL;
	schedule_finish(p);
}

/*
 * The client's connection wrote what it had (evhttp calls this from its
 * write callback, possibly for an earlier drain: hence the length check).
 */
static void on_down_drained(struct evhttp_connection *conn, void *arg)
{
	struct llmo__logs *p = arg;

	if (evbuffer_get_length(bufferevent_get_output(evhttp_connection_get_bufferevent(conn))))
		return;
	p->queued = false;
	if (p->ending)
		logs_finish_now(p, true);
}

/* ---- the agent's side ---- */

static int on_up_headers(struct evhttp_request *req, void *arg)
{
	struct llmo__logs *p = arg;
	struct evhttp_connection *conn;
	struct timeval tv = {LOGS_READ_TIMEOUT_S, 0};

	p->up_code = evhttp_request_get_response_code(req);
	if (p->up_code < 200 || p->up_code > 299) {
		p->state = LOGS_AGENT_ERROR;
		return 0;
	}
	p->state = LOGS_STREAMING;
	if (!p->down || p->down_detached)
		return 0; /* finishing already */
	conn = evhttp_request_get_connection(p->down);
	/* no read timeout while following: logs may be quiet for hours */
	bufferevent_set_timeouts(evhttp_connection_get_bufferevent(p->up),
				 p->follow ? NULL : &tv, NULL);
	if (p->follow)
		down_timeouts(conn, false);
	start_reply(p);
	return 0;
}

/* Keeps printable text of the agent's error body, up to LOGS_AGENT_TEXT_MAX bytes. */
static void keep_agent_text(struct llmo__logs *p, struct evbuffer *in)
{
	char piece[256];
	int n;

	while ((n = evbuffer_remove(in, piece, sizeof(piece))) > 0) {
		for (int i = 0; i < n && p->agent_text.len < LOGS_AGENT_TEXT_MAX; i++) {
			unsigned char c = (unsigned char)piece[i];

			llmo_buf_putc(&p->agent_text, c < 0x20 || c == 0x7f ? ' ' : (char)c);
		}
	}
}

static void on_up_chunk(struct evhttp_request *req, void *arg)
{
	struct llmo__logs *p = arg;
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	struct evhttp_connection *conn;
	size_t waiting;

	if (p->state == LOGS_AGENT_ERROR) {
		keep_agent_text(p, in);
		if (p->agent_text.len >= LOGS_AGENT_TEXT_MAX)
			schedule_finish(p); /* enough to answer with */
		return;
	}
	if (p->state != LOGS_STREAMING || !p->down || p->down_detached || p->drop || p->ending)
		return; /* finishing: libevent drains what we leave */
	conn = evhttp_request_get_connection(p->down);
	waiting = evbuffer_get_length(
		bufferevent_get_output(evhttp_connection_get_bufferevent(conn)));
	if (waiting + evbuffer_get_length(in) > LLMO_API_LOG_CLIENT_BUFFER_MAX) {
		llmo_log(LLMO_LOG_WARN, LOG, "log client too slow, dropping its connection",
			 "pod=%s node=%s buffered=%zu limit=%d", p->pod, p->node, waiting,
			 LLMO_API_LOG_CLIENT_BUFFER_MAX);
		p->drop = true;
		schedule_finish(p);
		return;
	}
	if (!p->started)
		start_reply(p);
	p->sent_data = true;
	p->queued = true;
	evhttp_send_reply_chunk_with_cb(p->down, in, on_down_drained, p);
}

static void on_up_error(enum evhttp_request_error error, void *arg)
{
	struct llmo__logs *p = arg;

	p->up_failed = true;
	p->up_error = error;
}

/*
 * The agent's answer is complete, or the request failed: req is NULL (or
 * has no status) when it failed. May run inside evhttp_make_request.
 */
static void on_up_done(struct evhttp_request *req, void *arg)
{
	struct llmo__logs *p = arg;

	if (p->state == LOGS_WAITING && req && evhttp_request_get_response_code(req) != 0)
		p->up_code = evhttp_request_get_response_code(req);
	schedule_finish(p);
}

/* ---- checking the request ---- */

static bool bad_param(struct llmo__req *r, const char *key, const char *value, const char *want)
{
	char quoted[LLMO_STR_QUOTE_SIZE(64)];

	llmo__reply_status(r->req, 400, "BadRequest", NULL,
			   "invalid value %s for query parameter %s: %s",
			   llmo_str_quote(quoted, value, strlen(value), 64), key, want);
	return false;
}

/* A boolean as Go's strconv.ParseBool reads it (what kube-apiserver accepts). */
static bool param_bool(struct llmo__req *r, const char *key, bool *out)
{
	static const char *const yes[] = {"1", "t", "T", "true", "TRUE", "True"};
	static const char *const no[] = {"0", "f", "F", "false", "FALSE", "False"};
	const char *v = evhttp_find_header(&r->query, key);

	*out = false;
	if (!v)
		return true;
	for (size_t i = 0; i < LLMO_ARRAY_LEN(yes); i++) {
		if (strcmp(v, yes[i]) == 0) {
			*out = true;
			return true;
		}
		if (strcmp(v, no[i]) == 0)
			return true;
	}
	return bad_param(r, key, v, "must be true or false");
}

/* An integer >= min, or -1 when absent. */
static bool param_int(struct llmo__req *r, const char *key, int64_t min, int64_t *out)
{
	const char *v = evhttp_find_header(&r->query, key);

	*out = -1;
	if (!v)
		return true;
	if (!isdigit((unsigned char)*v) ||
	    llmo_parse_int_range(v, min, INT64_MAX, out, NULL))
		return bad_param(r, key, v,
				 min == 0 ? "must be a non-negative integer"
					  : "must be a positive integer");
	return true;
}

static bool parse_opts(struct llmo__req *r, struct logs_opts *o)
{
	struct llmo_error err = {0};
	int64_t ms;

	memset(o, 0, sizeof(*o));
	o->container = evhttp_find_header(&r->query, "container");
	if (o->container && strlen(o->container) > LOGS_CONTAINER_MAX)
		return bad_param(r, "container", o->container, "too long");
	if (!param_bool(r, "follow", &o->follow) || !param_bool(r, "previous", &o->previous) ||
	    !param_bool(r, "timestamps", &o->timestamps) ||
	    !param_int(r, "tailLines", 0, &o->tail_lines) ||
	    !param_int(r, "limitBytes", 1, &o->limit_bytes) ||
	    !param_int(r, "sinceSeconds", 1, &o->since_seconds))
		return false;
	o->since_time = evhttp_find_header(&r->query, "sinceTime");
	if (o->since_time && llmo_time_parse_rfc3339(o->since_time, &ms, &err))
		return bad_param(r, "sinceTime", o->since_time,
				 "must be an RFC 3339 time (2006-01-02T15:04:05Z)");
	if (o->since_time && o->since_seconds >= 0) {
		llmo__reply_status(r->req, 400, "BadRequest", NULL,
				   "at most one of sinceTime or sinceSeconds may be specified");
		return false;
	}
	return true;
}

/* Calls fn(name, ctx) for each container, in kube's order: init, regular, ephemeral. */
static void each_container(const json_t *pod, void (*fn)(const char *, void *), void *ctx)
{
	static const char *const lists[] = {"initContainers", "containers",
					    "ephemeralContainers"};
	const json_t *spec = json_object_get(pod, "spec");

	for (size_t l = 0; l < LLMO_ARRAY_LEN(lists); l++) {
		const json_t *c;
		size_t i;

		json_array_foreach(json_object_get(spec, lists[l]), i, c) {
			const char *name = json_string_value(json_object_get(c, "name"));

			if (name)
				fn(name, ctx);
		}
	}
}

struct find_ctx {
	const char *want;
	bool found;
};

static void find_container(const char *name, void *arg)
{
	struct find_ctx *c = arg;

	c->found = c->found || strcmp(name, c->want) == 0;
}

static void list_container(const char *name, void *arg)
{
	struct llmo_buf *b = arg;

	llmo_buf_appendf(b, "%s%s", b->len > 1 ? " " : "", name);
}

/*
 * The container to read: the one asked for, which the pod must have, else
 * the pod's only container. NULL after replying 400 (kube-apiserver's words).
 */
static const char *resolve_container(struct llmo__req *r, const json_t *pod, const char *want)
{
	const json_t *containers = json_object_get(json_object_get(pod, "spec"), "containers");
	struct llmo_buf names;

	if (want && *want) {
		struct find_ctx c = {want, false};

		each_container(pod, find_container, &c);
		if (c.found)
			return want;
		llmo__reply_status(r->req, 400, "BadRequest", NULL,
				   "container %s is not valid for pod %s", want, r->name);
		return NULL;
	}
	if (json_array_size(containers) == 1) {
		const char *name = json_string_value(
			json_object_get(json_array_get(containers, 0), "name"));

		if (name && *name)
			return name;
	}
	if (json_array_size(containers) == 0) {
		llmo__reply_status(r->req, 400, "BadRequest", NULL,
				   "a container name must be specified for pod %s", r->name);
		return NULL;
	}
	llmo_buf_init(&names, 1024);
	llmo_buf_putc(&names, '[');
	each_container(pod, list_container, &names);
	llmo_buf_putc(&names, ']');
	llmo__reply_status(r->req, 400, "BadRequest", NULL,
			   "a container name must be specified for pod %s, choose one of: %s",
			   r->name, names.data);
	llmo_buf_release(&names);
	return NULL;
}

static bool valid_host(const char *s)
{
	unsigned char a[sizeof(struct in6_addr)];
	size_t n = strlen(s);

	if (inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1)
		return true;
	if (n == 0 || n > LOGS_ADDR_MAX || *s == '-' || *s == '.')
		return false;
	for (const char *c = s; *c; c++)
		if (!isalnum((unsigned char)*c) && *c != '-' && *c != '.')
			return false;
	return true;
}

/*
 * The agent's address and port from the Node named by the pod. false after
 * replying (500: the node is missing or does not say where its agent is).
 */
static bool node_agent(struct llmo__req *r, const char *node, char *addr, size_t addr_n,
		       int *port)
{
	const struct llmo_resource *nodes = llmo_resources_find(&r->srv->resources, "", "v1",
								"nodes");
	const char *types[] = {"InternalIP", "Hostname"};
	const json_t *addrs, *a, *p;
	json_t *obj = NULL;
	char *data = NULL;
	int64_t rv;
	size_t i;
	bool ok = false;

	addr[0] = '\0';
	if (nodes && llmo_store_get(r->srv->store, nodes->store_key, "", node, &data, &rv) == 0)
		obj = llmo__object_from_row(nodes, data, rv);
	free(data);
	if (!obj) {
		llmo__reply_status(r->req, 500, "InternalError", NULL,
				   "pod %s is bound to node \"%s\", which does not exist: there is "
				   "no node agent to get its logs from", r->name, node);
		return false;
	}
	addrs = llmo__jsonpath(obj, ".status.addresses");
	for (size_t t = 0; t < LLMO_ARRAY_LEN(types) && !addr[0]; t++) {
		json_array_foreach(addrs, i, a) {
			const char *type = json_string_value(json_object_get(a, "type"));
			const char *v = json_string_value(json_object_get(a, "address"));

			if (type && v && strcmp(type, types[t]) == 0 && *v) {
				snprintf(addr, addr_n, "%s", v);
				break;
			}
		}
	}
	p = llmo__jsonpath(obj, ".status.daemonEndpoints.kubeletEndpoint.Port");
	if (!addr[0]) {
		llmo__reply_status(r->req, 500, "InternalError", NULL,
				   "node \"%s\" has no InternalIP or Hostname in status.addresses: "
				   "cannot reach its node agent for the logs of pod %s", node,
				   r->name);
	} else if (!valid_host(addr)) {
		llmo__reply_status(r->req, 500, "InternalError", NULL,
				   "node \"%s\" has an invalid address \"%.*s\" in "
				   "status.addresses", node, 64, addr);
	} else if (!json_is_integer(p) || json_integer_value(p) < 1 ||
		   json_integer_value(p) > 65535) {
		llmo__reply_status(r->req, 500, "InternalError", NULL,
				   "node \"%s\" has no node agent port (status.daemonEndpoints."
				   "kubeletEndpoint.Port, 1-65535): cannot get the logs of pod %s",
				   node, r->name);
	} else {
		*port = (int)json_integer_value(p);
		ok = true;
	}
	json_decref(obj);
	return ok;
}

/* ---- the request to the agent ---- */

static int put_encoded(struct llmo_buf *b, const char *s)
{
	char *enc = evhttp_uriencode(s, -1, 0);
	int rc;

	if (!enc)
		return LLMO_ENOMEM;
	rc = llmo_buf_puts(b, enc);
	free(enc);
	return rc;
}

/* /containerLogs/NS/POD/CONTAINER?options, with the options the agent takes. */
static int agent_uri(const char *ns, const char *pod, const char *container,
		     const struct logs_opts *o, struct llmo_buf *b)
{
	int rc = 0;
	char sep = '?';

	rc = llmo_buf_puts(b, "/containerLogs/");
	rc = rc ? rc : put_encoded(b, ns);
	rc = rc ? rc : llmo_buf_putc(b, '/');
	rc = rc ? rc : put_encoded(b, pod);
	rc = rc ? rc : llmo_buf_putc(b, '/');
	rc = rc ? rc : put_encoded(b, container);
#define FLAG(on, key)                                                    \
	do {                                                             \
		if (!rc && (on)) {                                       \
			rc = llmo_buf_appendf(b, "%c%s=true", sep, key); \
			sep = '&';                                       \
		}                                                        \
	} while (0)
#define NUM(v, key)                                                                  \
	do {                                                                         \
		if (!rc && (v) >= 0) {                                               \
			rc = llmo_buf_appendf(b, "%c%s=%" PRId64, sep, key, (int64_t)(v)); \
			sep = '&';                                                   \
		}                                                                    \
	} while (0)
	FLAG(o->follow, "follow");
	FLAG(o->previous, "previous");
	FLAG(o->timestamps, "timestamps");
	NUM(o->tail_lines, "tailLines");
	NUM(o->limit_bytes, "limitBytes");
	NUM(o->since_seconds, "sinceSeconds");
#undef FLAG
#undef NUM
	if (!rc && o->since_time) {
		rc = llmo_buf_appendf(b, "%csinceTime=", sep);
		rc = rc ? rc : put_encoded(b, o->since_time);
	}
	return rc;
}

static struct evdns_base *dns_base(struct llmo_apiserver *srv)
{
	if (!srv->dns)
		srv->dns = evdns_base_new(srv->base, EVDNS_BASE_INITIALIZE_NAMESERVERS);
	return srv->dns;
}

void llmo__logs_start(struct llmo__req *r, const json_t *pod)
{
	struct llmo_apiserver *srv = r->srv;
	const char *node = json_string_value(llmo__jsonpath(pod, ".spec.nodeName"));
	struct llmo__logs *p = NULL, **slot;
	struct evhttp_request *up_req = NULL;
	struct evkeyvalq *h;
	struct logs_opts o;
	const char *container;
	char addr[LOGS_ADDR_MAX + 1], host[LOGS_ADDR_MAX + 16];
	unsigned char ip[sizeof(struct in6_addr)];
	struct llmo_buf uri, auth;
	bool numeric;
	int port = 0;

	llmo_buf_init(&uri, LOGS_URI_MAX);
	llmo_buf_init(&auth, LLMO_PKI_TOKEN_MAX + 16);
	if (!parse_opts(r, &o) || !(container = resolve_container(r, pod, o.container)))
		goto out;
	if (!node || !*node) {
		llmo__reply_status(r->req, 400, "BadRequest", NULL,
				   "pod %s does not have a host assigned", r->name);
		goto out;
	}
	if (!node_agent(r, node, addr, sizeof(addr), &port))
		goto out;
	if (srv->logs.len >= LLMO_API_LOG_STREAMS_MAX) {
		evhttp_add_header(evhttp_request_get_output_headers(r->req), "Retry-After", "1");
		llmo__reply_status(r->req, 429, "TooManyRequests", NULL,
				   "too many open log streams (%d); try again later",
				   LLMO_API_LOG_STREAMS_MAX);
		goto out;
	}
	if (agent_uri(r->ns, r->name, container, &o, &uri)) {
		llmo__reply_status(r->req, 400, "BadRequest", NULL,
				   "the request to the node agent would be too long");
		goto out;
	}
	if (llmo_buf_appendf(&auth, "Bearer %s", srv->pki.token))
		goto oom;
	numeric = inet_pton(AF_INET, addr, ip) == 1 || inet_pton(AF_INET6, addr, ip) == 1;
	snprintf(host, sizeof(host), strchr(addr, ':') ? "[%s]:%d" : "%s:%d", addr, port);

	p = calloc(1, sizeof(*p));
	if (!p)
		goto oom;
	p->srv = srv;
	p->follow = o.follow;
	llmo_buf_init(&p->agent_text, LOGS_AGENT_TEXT_MAX + 1);
	snprintf(p->pod, sizeof(p->pod), "%s", r->name);
	snprintf(p->node, sizeof(p->node), "%s", node);
	snprintf(p->where, sizeof(p->where), "%s", host);
	p->finish_ev = event_new(srv->base, -1, 0, on_finish, p);
	if (!p->finish_ev)
		goto oom;
	if (!numeric && !dns_base(srv)) {
		llmo__reply_status(r->req, 500, "InternalError", NULL,
				   "cannot resolve host names (no DNS resolver) to reach the node "
				   "agent of node \"%s\" at %s", node, host);
		goto out;
	}
	p->up = evhttp_connection_base_new(srv->base, numeric ? NULL : srv->dns, addr,
					   (uint16_t)port);
	up_req = evhttp_request_new(on_up_done, p);
	if (!p->up || !up_req)
		goto oom;
	evhttp_connection_set_timeout(p->up, LOGS_CONNECT_TIMEOUT_S);
	evhttp_connection_set_retries(p->up, 0);
	evhttp_request_set_header_cb(up_req, on_up_headers);
	evhttp_request_set_chunked_cb(up_req, on_up_chunk);
	evhttp_request_set_error_cb(up_req, on_up_error);
	h = evhttp_request_get_output_headers(up_req);
	evhttp_add_header(h, "Host", host);
	evhttp_add_header(h, "Authorization", auth.data);
	evhttp_add_header(h, "Accept", "text/plain");
	evhttp_add_header(h, "User-Agent", "llmo-apiserver/" LLMO_VERSION);
	evhttp_add_header(h, "Connection", "close");
	slot = llmo_vec_push(&srv->logs);
	if (!slot)
		goto oom;
	*slot = p;
	p->down = r->req;
	evhttp_connection_set_closecb(evhttp_request_get_connection(r->req), on_down_close, p);
	/* from here on p answers: on_up_done may even run before this returns */
	if (evhttp_make_request(p->up, up_req, EVHTTP_REQ_GET, uri.data) != 0) {
		p->fail_code = 500;
		snprintf(p->fail_msg, sizeof(p->fail_msg),
			 "cannot start the request to the node agent of node \"%s\" at %s", node,
			 host);
		schedule_finish(p);
	}
	up_req = NULL; /* the connection owns it, or freed it */
	p = NULL;
	goto out;
oom:
	llmo__reply_status(r->req, 500, "InternalError", NULL, "out of memory");
out:
	if (up_req)
		evhttp_request_free(up_req);
	if (p) {
		if (p->up)
			evhttp_connection_free(p->up);
		logs_free(p);
	}
	llmo_buf_release(&uri);
	llmo_buf_release(&auth);
}

void llmo__logs_close_all(struct llmo_apiserver *srv)
{
	while (srv->logs.len) {
		struct llmo__logs *p = srv->logs.items[srv->logs.len - 1];

		if (!p->fail_code) {
			p->fail_code = 503;
			snprintf(p->fail_msg, sizeof(p->fail_msg), "the API server is stopping");
		}
		logs_finish_now(p, true);
	}
}
