/*
 * pods/log in the embedded API server: a real llmo server (kube_fixture.h)
 * proxies to a fake node agent that this test runs on its own event_base
 * and thread (evhttp on 127.0.0.1, a free port). The agent checks the bearer
 * token, records the request line, and answers by pod name:
 *
 *     plain, two     200 "line 1\nline 2\n"
 *     follow         chunked "first line\n", then "last line\n" once the test
 *                    client has seen the first (or after 5 s)
 *     endless        a chunk every 20 ms until its connection closes
 *     flood          256 KiB chunks as fast as it can, up to FLOOD_TOTAL
 *     missing        404 with a plain-text reason
 *     empty          200 with no body
 *
 * The client is libcurl (blocking, in the test thread), or a raw socket that
 * never reads (the slow client). The tests run against a plain-HTTP server,
 * then the streaming ones again against an HTTPS one (libevent's TLS
 * connections call back differently; see src/apiserver/logs.c).
 */
#include "base/common.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <sys/socket.h>

#include "base/buf.h"
#include "base/error.h"
#include "base/file.h"
#include "kube/client.h"

#include "kube_fixture.h"

#define FLOOD_CHUNK (256 * 1024)
#define FLOOD_TOTAL ((long)256 << 20)
#define WAIT_MS 10000

/* ---- the fake node agent ---- */

struct agent {
	struct event_base *base;
	struct evhttp *http;
	struct event *quit_ev;
	int quit_fds[2];
	pthread_t thread;
	int port;
	char token[256];
	pthread_mutex_t mu;
	char last_uri[1024]; /* under mu */
	atomic_int requests;
	atomic_bool seen_first;         /* set by the client when "first line" arrived */
	atomic_bool last_after_first;   /* the follow stream's last chunk came after that */
	atomic_bool closed;             /* an endless or flood stream saw its connection close */
	atomic_long flood_sent;
};

struct stream {
	struct agent *a;
	struct evhttp_request *req;
	struct event *tick;
	int kind; /* 'f'ollow, 'e'ndless, 'F'lood */
	int64_t deadline_ms;
};

static struct kube_fixture fx;
static struct agent ag;

static void stream_free(struct stream *s)
{
	if (s->tick)
		event_free(s->tick);
	free(s);
}

static void stream_end(struct stream *s)
{
	evhttp_connection_set_closecb(evhttp_request_get_connection(s->req), NULL, NULL);
	evhttp_send_reply_end(s->req);
	stream_free(s);
}

static void stream_on_close(struct evhttp_connection *conn, void *arg)
{
	struct stream *s = arg;
	bool detached = evhttp_request_get_connection(s->req) == NULL;

	atomic_store(&s->a->closed, true);
	if (detached)
		evhttp_send_reply_end(s->req);
	stream_free(s);
}

static void send_text(struct evhttp_request *req, const char *text)
{
	struct evbuffer *b = evbuffer_new();

	evbuffer_add(b, text, strlen(text));
	evhttp_send_reply_chunk(req, b);
	evbuffer_free(b);
}

static void stream_tick(evutil_socket_t fd, short what, void *arg)
{
	struct stream *s = arg;

	switch (s->kind) {
	case 'f':
		if (!atomic_load(&s->a->seen_first) && llmo_clock_mono_ms() < s->deadline_ms)
			return;
		atomic_store(&s->a->last_after_first, atomic_load(&s->a->seen_first));
		send_text(s->req, "last line\n");
		stream_end(s);
		return;
	case 'e':
		send_text(s->req, "tick\n");
		if (llmo_clock_mono_ms() > s->deadline_ms)
			stream_end(s);
		return;
	default: {
		struct evbuffer *b = evbuffer_new();
		static char block[FLOOD_CHUNK];

		memset(block, 'x', sizeof(block));
		block[sizeof(block) - 1] = '\n';
		evbuffer_add(b, block, sizeof(block));
		evhttp_send_reply_chunk(s->req, b);
		evbuffer_free(b);
		if (atomic_fetch_add(&s->a->flood_sent, FLOOD_CHUNK) + FLOOD_CHUNK >= FLOOD_TOTAL)
			stream_end(s);
		return;
	}
	}
}

static void agent_stream(struct agent *a, struct evhttp_request *req, int kind)
{
	struct stream *s = calloc(1, sizeof(*s));
	struct timeval tv = {0, kind == 'F' ? 1000 : kind == 'e' ? 20000 : 10000};

	s->a = a;
	s->req = req;
	s->kind = kind;
	s->deadline_ms = llmo_clock_mono_ms() + (kind == 'f' ? 5000 : WAIT_MS);
	s->tick = event_new(a->base, -1, EV_PERSIST, stream_tick, s);
	event_add(s->tick, &tv);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "text/plain");
	evhttp_send_reply_start(req, 200, "OK");
	evhttp_connection_set_closecb(evhttp_request_get_connection(req), stream_on_close, s);
	if (kind == 'f')
		send_text(req, "first line\n");
}

static void agent_reply(struct evhttp_request *req, int code, const char *text)
{
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "text/plain");
	evbuffer_add(evhttp_request_get_output_buffer(req), text, strlen(text));
	evhttp_send_reply(req, code, NULL, NULL);
}

static void agent_on_request(struct evhttp_request *req, void *arg)
{
	struct agent *a = arg;
	const char *uri = evhttp_request_get_uri(req);
	const char *auth = evhttp_find_header(evhttp_request_get_input_headers(req),
					      "Authorization");
	char want[300], pod[64] = "";

	atomic_fetch_add(&a->requests, 1);
	pthread_mutex_lock(&a->mu);
	snprintf(a->last_uri, sizeof(a->last_uri), "%s", uri);
	pthread_mutex_unlock(&a->mu);
	snprintf(want, sizeof(want), "Bearer %s", a->token);
	if (!auth || strcmp(auth, want) != 0) {
		agent_reply(req, 401, "Unauthorized\n");
		return;
	}
	if (sscanf(uri, "/containerLogs/default/%63[^/]/", pod) != 1) {
		agent_reply(req, 400, "bad path\n");
		return;
	}
	if (strcmp(pod, "follow") == 0)
		agent_stream(a, req, 'f');
	else if (strcmp(pod, "endless") == 0)
		agent_stream(a, req, 'e');
	else if (strcmp(pod, "flood") == 0)
		agent_stream(a, req, 'F');
	else if (strcmp(pod, "missing") == 0)
		agent_reply(req, 404, "container \"c\" in pod \"missing\" has no logs\n");
	else if (strcmp(pod, "empty") == 0)
		agent_reply(req, 200, "");
	else
		agent_reply(req, 200, "line 1\nline 2\n");
}

static void agent_on_quit(evutil_socket_t fd, short what, void *arg)
{
	event_base_loopbreak(arg);
}

static void *agent_main(void *arg)
{
	struct agent *a = arg;

	event_base_loop(a->base, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

static int agent_start(struct agent *a, const char *token)
{
	struct evhttp_bound_socket *sock;
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	memset(a, 0, sizeof(*a));
	pthread_mutex_init(&a->mu, NULL);
	snprintf(a->token, sizeof(a->token), "%s", token);
	a->base = event_base_new();
	a->http = a->base ? evhttp_new(a->base) : NULL;
	if (!a->http || pipe(a->quit_fds) < 0)
		return -1;
	evhttp_set_gencb(a->http, agent_on_request, a);
	sock = evhttp_bind_socket_with_handle(a->http, "127.0.0.1", 0);
	if (!sock || getsockname(evhttp_bound_socket_get_fd(sock), (struct sockaddr *)&sin,
				 &len) < 0)
		return -1;
	a->port = ntohs(sin.sin_port);
	/* also on ::1 where there is one, for "localhost" resolving to it first */
	evhttp_bind_socket_with_handle(a->http, "::1", (uint16_t)a->port);
	a->quit_ev = event_new(a->base, a->quit_fds[0], EV_READ, agent_on_quit, a->base);
	if (!a->quit_ev || event_add(a->quit_ev, NULL) < 0)
		return -1;
	return pthread_create(&a->thread, NULL, agent_main, a) ? -1 : 0;
}

static void agent_stop(struct agent *a)
{
	char b = 1;

	if (write(a->quit_fds[1], &b, 1) == 1)
		pthread_join(a->thread, NULL);
	evhttp_free(a->http);
	event_free(a->quit_ev);
	event_base_free(a->base);
	close(a->quit_fds[0]);
	close(a->quit_fds[1]);
	pthread_mutex_destroy(&a->mu);
}

static void agent_last_uri(char *out, size_t n)
{
	pthread_mutex_lock(&ag.mu);
	snprintf(out, n, "%s", ag.last_uri);
	pthread_mutex_unlock(&ag.mu);
}

/* ---- objects ---- */

static char token[256];

static void create(const struct llmo_kube_resource *res, const char *ns, json_t *obj)
{
	struct llmo_error err = {0};

	if (llmo_kube_create(fx.client, res, ns, obj, NULL, &err))
		fail_msg("create: %s", err.msg);
	json_decref(obj);
}

static json_t *node_obj(const char *name, const char *addr_type, const char *addr, int port)
{
	json_t *n = json_pack("{s:s, s:s, s:{s:s}, s:{}}", "apiVersion", "v1", "kind", "Node",
			      "metadata", "name", name, "status");
	json_t *st = json_object_get(n, "status");

	if (addr)
		json_object_set_new(st, "addresses",
				    json_pack("[{s:s, s:s}]", "type", addr_type, "address", addr));
	if (port)
		json_object_set_new(st, "daemonEndpoints",
				    json_pack("{s:{s:i}}", "kubeletEndpoint", "Port", port));
	return n;
}

/* A pod on node (NULL: unbound) with the named containers (NULL-terminated). */
static json_t *pod_obj(const char *name, const char *node, ...)
{
	json_t *containers = json_array(), *pod;
	const char *c;
	va_list ap;

	va_start(ap, node);
	while ((c = va_arg(ap, const char *)))
		json_array_append_new(containers, json_pack("{s:s, s:s}", "name", c, "image", "x"));
	va_end(ap);
	pod = json_pack("{s:s, s:s, s:{s:s}, s:{s:o}}", "apiVersion", "v1", "kind", "Pod",
			"metadata", "name", name, "spec", "containers", containers);
	if (node)
		json_object_set_new(json_object_get(pod, "spec"), "nodeName", json_string(node));
	return pod;
}

/* A port nothing listens on. */
static int dead_port(void)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

static bool tls;

static int setup_with(bool use_tls)
{
	char path[128];
	struct llmo_buf b;
	struct llmo_error err = {0};

	tls = use_tls;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (fixture_start_with(&fx, !use_tls))
		return -1;
	snprintf(path, sizeof(path), "%s/token", fx.dir);
	llmo_buf_init(&b, 4096);
	if (llmo_file_read(path, 4096, &b, &err))
		return -1;
	snprintf(token, sizeof(token), "%.*s", (int)strcspn(b.data, "\r\n"), b.data);
	llmo_buf_release(&b);
	if (agent_start(&ag, token))
		return -1;
	create(&llmo_kube_nodes, NULL, node_obj("n1", "InternalIP", "127.0.0.1", ag.port));
	create(&llmo_kube_nodes, NULL, node_obj("byname", "Hostname", "localhost", ag.port));
	create(&llmo_kube_nodes, NULL, node_obj("dead", "InternalIP", "127.0.0.1", dead_port()));
	create(&llmo_kube_nodes, NULL, node_obj("noaddr", NULL, NULL, ag.port));
	create(&llmo_kube_nodes, NULL, node_obj("noport", "InternalIP", "127.0.0.1", 0));
	create(&llmo_kube_pods, "default", pod_obj("plain", "n1", "c", NULL));
	create(&llmo_kube_pods, "default", pod_obj("two", "n1", "a", "b", NULL));
	create(&llmo_kube_pods, "default", pod_obj("follow", "n1", "c", NULL));
	create(&llmo_kube_pods, "default", pod_obj("endless", "n1", "c", NULL));
	create(&llmo_kube_pods, "default", pod_obj("flood", "n1", "c", NULL));
	create(&llmo_kube_pods, "default", pod_obj("missing", "n1", "c", NULL));
	create(&llmo_kube_pods, "default", pod_obj("empty", "n1", "c", NULL));
	create(&llmo_kube_pods, "default", pod_obj("unbound", NULL, "c", NULL));
	create(&llmo_kube_pods, "default", pod_obj("deadpod", "dead", "c", NULL));
	create(&llmo_kube_pods, "default", pod_obj("ghost", "nosuchnode", "c", NULL));
	create(&llmo_kube_pods, "default", pod_obj("noaddr", "noaddr", "c", NULL));
	create(&llmo_kube_pods, "default", pod_obj("noport", "noport", "c", NULL));
	create(&llmo_kube_pods, "default", pod_obj("byname", "byname", "c", NULL));
	return 0;
}

static int setup(void **state)
{
	return setup_with(false);
}

static int setup_tls(void **state)
{
	return setup_with(true);
}

static int teardown(void **state)
{
	fixture_stop(&fx);
	agent_stop(&ag);
	curl_global_cleanup();
	return 0;
}

/* ---- the client ---- */

struct got {
	struct llmo_buf body;
	long code;
	char ctype[128];
	bool abort_after_first; /* close the connection once data came */
};

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct got *g = arg;

	llmo_buf_append(&g->body, p, size * n);
	if (strstr(g->body.data, "first line"))
		atomic_store(&ag.seen_first, true);
	if (g->abort_after_first)
		return 0;
	return size * n;
}

/* method path (with the admin token unless anonymous); fills g (release g->body). */
static void request(const char *method, const char *path, struct got *g, bool anonymous)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	char url[1024], auth[300], ca[128];
	const char *ct = NULL;

	llmo_buf_init(&g->body, LLMO_BUF_UNLIMITED);
	snprintf(url, sizeof(url), "%s%s", fx.url, path);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
	if (!anonymous)
		h = curl_slist_append(h, auth);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, g);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (tls) {
		snprintf(ca, sizeof(ca), "%s/pki/ca.crt", fx.dir);
		curl_easy_setopt(c, CURLOPT_CAINFO, ca);
	}
	curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &g->code);
	curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
	snprintf(g->ctype, sizeof(g->ctype), "%s", ct ? ct : "");
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
}

static void get(const char *path, struct got *g, bool anonymous)
{
	request("GET", path, g, anonymous);
}

/* GETs path and checks that the answer is a Status with code whose message contains want. */
static void expect_status(const char *path, long code, const char *want)
{
	struct got g = {0};
	json_t *st;
	const char *msg;

	get(path, &g, false);
	assert_int_equal(g.code, code);
	assert_non_null(strstr(g.ctype, "application/json"));
	st = json_loads(g.body.data, 0, NULL);
	assert_non_null(st);
	assert_string_equal(json_string_value(json_object_get(st, "kind")), "Status");
	assert_int_equal(json_integer_value(json_object_get(st, "code")), code);
	msg = json_string_value(json_object_get(st, "message"));
	assert_non_null(msg);
	if (!strstr(msg, want))
		fail_msg("message \"%s\" does not contain \"%s\"", msg, want);
	json_decref(st);
	llmo_buf_release(&g.body);
}

static bool wait_for(atomic_bool *flag, long ms)
{
	int64_t end = llmo_clock_mono_ms() + ms;

	while (!atomic_load(flag) && llmo_clock_mono_ms() < end)
		usleep(10000);
	return atomic_load(flag);
}

#define LOG_PATH "/api/v1/namespaces/default/pods/"

/* ---- tests ---- */

static void test_plain(void **state)
{
	struct got g = {0};
	char uri[1024];

	/* the only container is the default; no options are forwarded */
	get(LOG_PATH "plain/log", &g, false);
	assert_int_equal(g.code, 200);
	assert_string_equal(g.ctype, "text/plain");
	assert_string_equal(g.body.data, "line 1\nline 2\n");
	llmo_buf_release(&g.body);
	agent_last_uri(uri, sizeof(uri));
	assert_string_equal(uri, "/containerLogs/default/plain/c");

	/* kubectl's options, checked and forwarded; others dropped */
	get(LOG_PATH "plain/log?container=c&tailLines=10&timestamps=true&limitBytes=100"
		     "&sinceTime=2024-01-02T03%3A04%3A05Z&previous=false&pretty=true",
	    &g, false);
	assert_int_equal(g.code, 200);
	assert_string_equal(g.body.data, "line 1\nline 2\n");
	llmo_buf_release(&g.body);
	agent_last_uri(uri, sizeof(uri));
	assert_string_equal(uri, "/containerLogs/default/plain/c?timestamps=true&tailLines=10"
				 "&limitBytes=100&sinceTime=2024-01-02T03%3A04%3A05Z");

	get(LOG_PATH "two/log?container=b&sinceSeconds=60&previous=1", &g, false);
	assert_int_equal(g.code, 200);
	llmo_buf_release(&g.body);
	agent_last_uri(uri, sizeof(uri));
	assert_string_equal(uri, "/containerLogs/default/two/b?previous=true&sinceSeconds=60");
}

static void test_empty(void **state)
{
	struct got g = {0};

	get(LOG_PATH "empty/log?follow=true", &g, false);
	assert_int_equal(g.code, 200);
	assert_string_equal(g.ctype, "text/plain");
	assert_string_equal(g.body.data, "");
	llmo_buf_release(&g.body);
}

/* An agent named only by a host name is reached through the asynchronous resolver. */
static void test_hostname(void **state)
{
	struct got g = {0};

	get(LOG_PATH "byname/log", &g, false);
	assert_int_equal(g.code, 200);
	assert_string_equal(g.body.data, "line 1\nline 2\n");
	llmo_buf_release(&g.body);
}

static void test_follow_streams(void **state)
{
	struct got g = {0};
	char uri[1024];

	atomic_store(&ag.seen_first, false);
	atomic_store(&ag.last_after_first, false);
	get(LOG_PATH "follow/log?follow=true", &g, false);
	assert_int_equal(g.code, 200);
	assert_string_equal(g.ctype, "text/plain");
	assert_string_equal(g.body.data, "first line\nlast line\n");
	/* the agent sent its last line only after the client had the first */
	assert_true(atomic_load(&ag.last_after_first));
	llmo_buf_release(&g.body);
	agent_last_uri(uri, sizeof(uri));
	assert_string_equal(uri, "/containerLogs/default/follow/c?follow=true");
}

static void expect_no_streams(void)
{
	int64_t end = llmo_clock_mono_ms() + WAIT_MS;
	struct got g = {0};
	bool none = false;

	while (!none && llmo_clock_mono_ms() < end) {
		get("/metrics", &g, false);
		none = strstr(g.body.data, "\nllmo_apiserver_log_streams 0\n") != NULL;
		llmo_buf_release(&g.body);
		if (!none)
			usleep(20000);
	}
	assert_true(none);
}

/* The client going away closes the agent's connection. */
static void test_client_close_cancels(void **state)
{
	struct got g = {.abort_after_first = true};

	atomic_store(&ag.closed, false);
	get(LOG_PATH "endless/log?follow=true", &g, false);
	assert_non_null(strstr(g.body.data, "tick"));
	llmo_buf_release(&g.body);
	assert_true(wait_for(&ag.closed, WAIT_MS));
	expect_no_streams();
}

/* A client that does not read is dropped once LLMO's buffer cap is reached. */
static void test_slow_client_dropped(void **state)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	struct timeval tv = {10, 0};
	int fd = socket(AF_INET, SOCK_STREAM, 0), rcvbuf = 64 * 1024;
	char req[1024], buf[65536];
	long total = 0;
	ssize_t n;

	atomic_store(&ag.closed, false);
	atomic_store(&ag.flood_sent, 0);
	/* a small receive window, so that the server's buffer fills soon */
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)llmo_apiserver_port(fx.srv));
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	snprintf(req, sizeof(req),
		 "GET " LOG_PATH "flood/log?follow=true HTTP/1.1\r\nHost: x\r\n"
		 "Authorization: Bearer %s\r\n\r\n", token);
	assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	assert_true(wait_for(&ag.closed, 30000));
	assert_true(atomic_load(&ag.flood_sent) < FLOOD_TOTAL);
	/* what did reach the client stops short: the reply never ended */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		total += n;
	assert_true(n == 0 || errno == ECONNRESET);
	assert_true(total < atomic_load(&ag.flood_sent));
	close(fd);
	expect_no_streams();
}

static void test_agent_error(void **state)
{
	expect_status(LOG_PATH "missing/log", 404,
		      "container \"c\" in pod \"missing\" has no logs");
}

static void test_errors(void **state)
{
	expect_status(LOG_PATH "nope/log", 404, "pods \"nope\" not found");
	expect_status(LOG_PATH "two/log", 400,
		      "a container name must be specified for pod two, choose one of: [a b]");
	expect_status(LOG_PATH "two/log?container=x", 400, "container x is not valid for pod two");
	expect_status(LOG_PATH "unbound/log", 400, "pod unbound does not have a host assigned");
	expect_status(LOG_PATH "ghost/log", 500, "\"nosuchnode\", which does not exist");
	expect_status(LOG_PATH "noaddr/log", 500, "node \"noaddr\" has no InternalIP or Hostname");
	expect_status(LOG_PATH "noport/log", 500, "node \"noport\" has no node agent port");
	/* the agent is down: the message names the node and the address */
	expect_status(LOG_PATH "deadpod/log", 502, "node agent of node \"dead\" at 127.0.0.1:");
}

static void test_bad_options(void **state)
{
	expect_status(LOG_PATH "plain/log?tailLines=abc", 400, "query parameter tailLines");
	expect_status(LOG_PATH "plain/log?tailLines=-1", 400, "query parameter tailLines");
	expect_status(LOG_PATH "plain/log?limitBytes=0", 400, "query parameter limitBytes");
	expect_status(LOG_PATH "plain/log?sinceSeconds=1x", 400, "query parameter sinceSeconds");
	expect_status(LOG_PATH "plain/log?follow=yes%20please", 400, "query parameter follow");
	expect_status(LOG_PATH "plain/log?timestamps=2", 400, "query parameter timestamps");
	expect_status(LOG_PATH "plain/log?sinceTime=yesterday", 400, "query parameter sinceTime");
	expect_status(LOG_PATH "plain/log?sinceTime=2024-01-02T03%3A04%3A05Z&sinceSeconds=5", 400,
		      "at most one of sinceTime or sinceSeconds");
}

static void test_auth_and_method(void **state)
{
	struct got g = {0};
	int before = atomic_load(&ag.requests);

	get(LOG_PATH "plain/log", &g, true);
	assert_int_equal(g.code, 401);
	llmo_buf_release(&g.body);
	request("POST", LOG_PATH "plain/log", &g, false);
	assert_int_equal(g.code, 405);
	llmo_buf_release(&g.body);
	assert_int_equal(atomic_load(&ag.requests), before);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_hostname),
		cmocka_unit_test(test_follow_streams),
		cmocka_unit_test(test_client_close_cancels),
		cmocka_unit_test(test_slow_client_dropped),
		cmocka_unit_test(test_agent_error),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_bad_options),
		cmocka_unit_test(test_auth_and_method),
	};
	const struct CMUnitTest tls_tests[] = {
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_follow_streams),
		cmocka_unit_test(test_client_close_cancels),
		cmocka_unit_test(test_agent_error),
		cmocka_unit_test(test_errors),
	};
	int failed = cmocka_run_group_tests_name("plain HTTP", tests, setup, teardown);

	return failed + cmocka_run_group_tests_name("HTTPS", tls_tests, setup_tls, teardown);
}
