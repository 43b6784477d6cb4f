/*
 * The gateway driven end to end in-process: simulated backends
 * (sim/inference.h) and the gateway share one event loop in a thread; the
 * tests talk to the gateway over 127.0.0.1 with libcurl and raw sockets
 * and change the world (a backend dies, the file is rewritten) through a
 * command pipe that the loop thread obeys. The last test runs the gateway
 * in API mode against a real `llmo server` (tests/unit/kube_fixture.h):
 * an LLMWorkload and a Ready pod whose host port leads to a simulator.
 * Waits for a state are polls with a bound.
 */
#include "base/common.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <event2/event.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kube_fixture.h"

#include "base/buf.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/str.h"
#include "gateway/gateway.h"
#include "sim/inference.h"

#define RESP_MAX (4 * 1024 * 1024)
#define WAIT_MS 10000
#define NSIMS 5

/* The simulators: what each serves and how. */
enum { S_A, S_B, S_BAD, S_STREAM, S_ONLYBAD };

/*
 * A scripted backend on a thread of its own: each connection gets the next
 * answer of `script` (then is closed), and the request it sent is kept.
 */
#define FAKE_REQ_MAX 65536
struct fake {
	int fd, port;
	pthread_t thread;
	const char *const *script; /* NULL-terminated answers */
	char last[FAKE_REQ_MAX];   /* the last request received, head and body */
	size_t last_len;
	int served;
};

struct env {
	struct event_base *base;
	struct fake fake;
	pthread_t thread;
	bool running;
	int cmd[2], ack[2];
	struct event *cmd_ev;
	struct llmo_sim *sims[NSIMS];
	int ports[NSIMS];
	struct llmo_gateway *gw;
	char url[64];
	char file[64];
};

static struct env env;

struct cmd {
	char op; /* 'k': free sims[arg]; 'r': reload; 'q': stop */
	int arg;
};

static void on_cmd(evutil_socket_t fd, short what, void *arg)
{
	struct env *e = arg;
	struct cmd c;
	char ok = 1;

	if (read(fd, &c, sizeof(c)) != sizeof(c))
		return;
	if (c.op == 'k') {
		llmo_sim_free(e->sims[c.arg]);
		e->sims[c.arg] = NULL;
	} else if (c.op == 'r') {
		ok = llmo_gateway_reload(e->gw, NULL) == 0;
	} else if (c.op == 'q') {
		event_base_loopbreak(e->base);
	}
	if (write(e->ack[1], &ok, 1) != 1)
		abort();
}

/* Runs c on the loop thread and waits for it; the loop's answer (1 ok). */
static char command(char op, int arg)
{
	struct cmd c = {op, arg};
	char ok = 0;

	assert_int_equal(write(env.cmd[1], &c, sizeof(c)), (ssize_t)sizeof(c));
	assert_int_equal(read(env.ack[0], &ok, 1), 1);
	return ok;
}

static void *loop_main(void *arg)
{
	event_base_loop(arg, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

static void sim_new(int i, const char *model, int64_t itl_ns, double error_rate)
{
	const char *models[] = {model};
	struct llmo_sim_opts o;
	struct llmo_error err = {0};

	llmo_sim_opts_init(&o);
	o.port = 0;
	o.models = models;
	o.nmodels = 1;
	o.ttft_base_ns = o.ttft_per_token_ns = 0;
	o.itl_ns = itl_ns;
	o.max_batch = 0;
	o.error_rate = error_rate;
	if (llmo_sim_new(env.base, &o, &env.sims[i], &err))
		fail_msg("sim: %s", err.msg);
	env.ports[i] = llmo_sim_port(env.sims[i]);
}

static void write_file(const char *text)
{
	FILE *f = fopen(env.file, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* Reads one request (head and Content-Length body) from fd into f->last. */
static void fake_read(struct fake *f, int fd)
{
	size_t want = 0;

	f->last_len = 0;
	for (;;) {
		ssize_t n = read(fd, f->last + f->last_len, FAKE_REQ_MAX - 1 - f->last_len);
		char *end, *cl;

		if (n <= 0)
			return;
		f->last_len += (size_t)n;
		f->last[f->last_len] = '\0';
		end = strstr(f->last, "\r\n\r\n");
		if (!end)
			continue;
		cl = strcasestr(f->last, "\r\nContent-Length: ");
		want = (size_t)(end + 4 - f->last) + (cl && cl < end ? strtoul(cl + 18, NULL, 10) : 0);
		if (f->last_len >= want)
			return;
	}
}

static void *fake_main(void *arg)
{
	struct fake *f = arg;

	for (const char *const *a = f->script; *a; a++) {
		int fd = accept(f->fd, NULL, NULL);

		if (fd < 0)
			break;
		fake_read(f, fd);
		if (write(fd, *a, strlen(*a)) < 0)
			break;
		__atomic_add_fetch(&f->served, 1, __ATOMIC_SEQ_CST);
		close(fd);
	}
	return NULL;
}

static const char *const fake_script[] = {
	/* a 1xx first, then a chunked answer with a trailer and a header of its own */
	"HTTP/1.1 100 Continue\r\n\r\n"
	"HTTP/1.1 200 OK\r\nX-Backend: yes\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
	"5\r\nhello\r\n1;ext=1\r\n!\r\n0\r\nX-Trailer: t\r\n\r\n",
	/* an answer larger than the gateway passes */
	"HTTP/1.1 200 OK\r\nContent-Length: 1000000000000\r\n\r\n",
	/* not HTTP */
	"SMTP ready\r\n\r\n",
	NULL,
};

static int group_setup(void **state)
{
	struct llmo_gateway_opts o;
	struct llmo_error err = {0};
	char text[2048];
	int fd;

	signal(SIGPIPE, SIG_IGN);
	llmo_log_set_level(LLMO_LOG_ERROR);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	memset(&env, 0, sizeof(env));
	env.base = event_base_new();
	if (!env.base || pipe(env.cmd) || pipe(env.ack))
		return -1;
	env.cmd_ev = event_new(env.base, env.cmd[0], EV_READ | EV_PERSIST, on_cmd, &env);
	event_add(env.cmd_ev, NULL);
	sim_new(S_A, "llama2:7b", 0, 0);
	sim_new(S_B, "llama2:7b", 0, 0);
	sim_new(S_BAD, "llama2:7b", 0, 1);
	sim_new(S_STREAM, "mistral:7b", 30 * INT64_C(1000000), 0);
	sim_new(S_ONLYBAD, "llama2:7b", 0, 1);
	{
		struct sockaddr_in a = {.sin_family = AF_INET};
		socklen_t alen = sizeof(a);

		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		env.fake.fd = socket(AF_INET, SOCK_STREAM, 0);
		if (env.fake.fd < 0 || bind(env.fake.fd, (struct sockaddr *)&a, sizeof(a)) ||
		    listen(env.fake.fd, 16) || getsockname(env.fake.fd, (struct sockaddr *)&a, &alen))
			return -1;
		env.fake.port = ntohs(a.sin_port);
		env.fake.script = fake_script;
		if (pthread_create(&env.fake.thread, NULL, fake_main, &env.fake))
			return -1;
	}
	snprintf(env.file, sizeof(env.file), "/tmp/llmo-test-gw-XXXXXX");
	fd = mkstemp(env.file);
	if (fd < 0)
		return -1;
	close(fd);
	snprintf(text, sizeof(text),
		 "models:\n"
		 "  - name: llama2:7b\n    aliases: [chat]\n    endpoints:\n"
		 "      - address: 127.0.0.1:%d\n      - address: 127.0.0.1:%d\n"
		 "  - name: flaky\n    served: llama2:7b\n    endpoints:\n"
		 "      - address: 127.0.0.1:%d\n      - address: 127.0.0.1:%d\n"
		 "  - name: onlybad\n    served: llama2:7b\n    endpoints:\n"
		 "      - address: 127.0.0.1:%d\n"
		 "  - name: mistral:7b\n    endpoints:\n      - address: 127.0.0.1:%d\n"
		 "  - name: fake\n    served: served-name\n    endpoints:\n"
		 "      - address: 127.0.0.1:%d\n",
		 env.ports[S_A], env.ports[S_B], env.ports[S_BAD], env.ports[S_A],
		 env.ports[S_ONLYBAD], env.ports[S_STREAM], env.fake.port);
	write_file(text);
	llmo_gateway_opts_init(&o);
	o.port = 0;
	o.backends_file = env.file;
	o.watch_ms = 0;
	o.seed = 1;
	if (llmo_gateway_new(env.base, &o, &env.gw, &err) || llmo_gateway_start(env.gw, &err)) {
		fprintf(stderr, "gateway: %s\n", err.msg);
		return -1;
	}
	snprintf(env.url, sizeof(env.url), "http://127.0.0.1:%d", llmo_gateway_port(env.gw));
	if (pthread_create(&env.thread, NULL, loop_main, env.base))
		return -1;
	env.running = true;
	return 0;
}

static int group_teardown(void **state)
{
	if (env.running) {
		command('q', 0);
		pthread_join(env.thread, NULL);
	}
	llmo_gateway_free(env.gw);
	for (int i = 0; i < NSIMS; i++)
		llmo_sim_free(env.sims[i]);
	shutdown(env.fake.fd, SHUT_RDWR); /* ends the fake's accept */
	pthread_join(env.fake.thread, NULL);
	close(env.fake.fd);
	event_free(env.cmd_ev);
	event_base_free(env.base);
	close(env.cmd[0]);
	close(env.cmd[1]);
	close(env.ack[0]);
	close(env.ack[1]);
	unlink(env.file);
	curl_global_cleanup();
	return 0;
}

/* ---- an HTTP client ---- */

struct resp {
	long status;
	struct llmo_buf body;
	struct llmo_buf headers;	   /* the answer's head lines (http_with only) */
	struct curl_slist *extra; /* request headers to add (http_with only) */
	int writes;	      /* write callbacks (chunks seen) */
	int64_t first, last;  /* mono ms of the first and last data */
	int stop_after;	      /* abort the transfer after this many writes (0: never) */
};

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
	struct resp *r = arg;
	int64_t now = llmo_clock_mono_ms();

	if (!r->writes)
		r->first = now;
	r->last = now;
	r->writes++;
	if (llmo_buf_append(&r->body, p, size * n))
		return 0;
	if (r->stop_after && r->writes >= r->stop_after)
		return 0;
	return size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
	struct resp *r = arg;

	llmo_buf_append(&r->headers, p, size * n);
	return size * n;
}

/* POSTs body (or GETs when body is NULL) to url path; r->body must be released. */
static void http(const char *base, const char *path, const char *body, struct resp *r)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
	struct curl_slist *extra = r->extra;
	char url[256];
	int stop = r->stop_after;

	memset(r, 0, sizeof(*r));
	r->stop_after = stop;
	llmo_buf_init(&r->body, RESP_MAX);
	llmo_buf_init(&r->headers, RESP_MAX);
	for (; extra; extra = extra->next)
		h = curl_slist_append(h, extra->data);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	snprintf(url, sizeof(url), "%s%s", base, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	if (body)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	llmo_buf_release(&r->headers);
}

static char *chat(const char *model, const char *extra)
{
	static _Thread_local char buf[512]; /* the workers call it from their threads */

	/* extra (NULL: max_tokens 3) ends the object */
	snprintf(buf, sizeof(buf),
		 "{\"model\":\"%s\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi!\"}],%s}",
		 model, extra ? extra : "\"max_tokens\":3");
	return buf;
}

static const char *jstr(const char *text, const char *a, const char *b)
{
	static char out[256];
	json_t *j = json_loads(text, 0, NULL), *v = json_object_get(j, a);

	if (b)
		v = json_object_get(v, b);
	snprintf(out, sizeof(out), "%s", json_string_value(v) ? json_string_value(v) : "");
	json_decref(j);
	return out;
}

/* The value of a series in the gateway's /metrics (0 when absent). */
static double metric(const char *series)
{
	struct resp r = {0};
	double v = 0;
	char *p;

	http(env.url, "/metrics", NULL, &r);
	for (p = r.body.data; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		size_t n = strlen(series);

		if (strncmp(p, series, n) == 0 && p[n] == ' ') {
			v = strtod(p + n + 1, NULL);
			break;
		}
	}
	llmo_buf_release(&r.body);
	return v;
}

static bool wait_metric(const char *series, double want)
{
	int64_t end = llmo_clock_mono_ms() + WAIT_MS;

	while (llmo_clock_mono_ms() < end) {
		if (metric(series) == want)
			return true;
		usleep(20000);
	}
	return false;
}

/* ---- tests ---- */

static void test_route_by_alias(void **state)
{
	struct resp r = {0};

	http(env.url, "/v1/chat/completions", chat("chat", NULL), &r);
	assert_int_equal(r.status, 200);
	/* the backend got the name it serves, not the alias */
	assert_string_equal(jstr(r.body.data, "model", NULL), "llama2:7b");
	llmo_buf_release(&r.body);
	http(env.url, "/v1/chat/completions", chat("nope", NULL), &r);
	assert_int_equal(r.status, 404);
	assert_string_equal(jstr(r.body.data, "error", "code"), "model_not_found");
	llmo_buf_release(&r.body);
}

static void test_5xx_retried_then_breaker(void **state)
{
	char series[128];

	/* flaky: the bad replica answers 500, each such request is retried on the good one */
	for (int i = 0; i < 40; i++) {
		struct resp r = {0};

		http(env.url, "/v1/chat/completions", chat("flaky", NULL), &r);
		if (r.status != 200)
			fail_msg("request %d: %ld %s", i, r.status, r.body.data);
		llmo_buf_release(&r.body);
	}
	/* five failures in a row open its breaker: no more attempts on it */
	snprintf(series, sizeof(series),
		 "llmo_gateway_upstream_errors_total{backend=\"127.0.0.1:%d\",kind=\"status\"}",
		 env.ports[S_BAD]);
	assert_true(metric(series) == 5);
	assert_true(metric("llmo_gateway_retries_total{model=\"flaky\"}") == 5);
}

static void test_5xx_passed_through_when_alone(void **state)
{
	struct resp r = {0};

	/* no other replica: the backend's own 500 goes to the client, five times */
	for (int i = 0; i < 5; i++) {
		http(env.url, "/v1/chat/completions", chat("onlybad", NULL), &r);
		assert_int_equal(r.status, 500);
		assert_string_equal(jstr(r.body.data, "error", "code"), "simulated_error");
		llmo_buf_release(&r.body);
	}
	/* then its breaker is open: 503 from the gateway */
	http(env.url, "/v1/chat/completions", chat("onlybad", NULL), &r);
	assert_int_equal(r.status, 503);
	assert_string_equal(jstr(r.body.data, "error", "code"), "model_unavailable");
	llmo_buf_release(&r.body);
}

static void test_streaming(void **state)
{
	struct resp r = {0};
	char series[128];

	http(env.url, "/v1/chat/completions",
	     chat("mistral:7b", "\"stream\":true,\"max_tokens\":5"), &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body.data, "data: [DONE]"));
	/* 7 events 30ms apart came as they were made, not in one piece at the end */
	assert_true(r.writes >= 5);
	assert_true(r.last - r.first >= 100);
	llmo_buf_release(&r.body);
	/* a client that leaves mid-stream: the backend's request ends too */
	r.stop_after = 2;
	http(env.url, "/v1/chat/completions",
	     chat("mistral:7b", "\"stream\":true,\"max_tokens\":50"), &r);
	llmo_buf_release(&r.body);
	snprintf(series, sizeof(series), "llmo_gateway_inflight{backend=\"127.0.0.1:%d\"}",
		 env.ports[S_STREAM]);
	assert_true(wait_metric(series, 0));
}

struct worker {
	int n, failures;
	volatile int *done;
};

static void *chat_worker(void *arg)
{
	struct worker *w = arg;

	for (int i = 0; i < w->n; i++) {
		struct resp r = {0};

		http(env.url, "/v1/chat/completions", chat("chat", NULL), &r);
		if (r.status != 200) {
			fprintf(stderr, "request failed: %ld %s\n", r.status, r.body.data);
			w->failures++;
		}
		llmo_buf_release(&r.body);
		__atomic_add_fetch(w->done, 1, __ATOMIC_SEQ_CST);
	}
	return NULL;
}

static void test_killed_backend(void **state)
{
	volatile int done = 0;
	struct worker w[4];
	pthread_t t[4];

	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){.n = 60, .done = &done};
		assert_int_equal(pthread_create(&t[i], NULL, chat_worker, &w[i]), 0);
	}
	while (__atomic_load_n(&done, __ATOMIC_SEQ_CST) < 60)
		usleep(1000);
	command('k', S_B);
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(w[i].failures, 0);
	}
}

/* Sends raw bytes and reads until the connection closes or `want` answers came. */
/*
 * Sends pieces[0, npieces) (NUL-terminated) on one connection, 50 ms apart, and
 * reads answers until want heads came (0: until the gateway closes). The
 * pause only makes it likely that the gateway reads each piece on its
 * own; the answers must be the same when pieces arrive together.
 */
static void raw_pieces(const char *const *pieces, size_t npieces, int want, struct llmo_buf *out)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(llmo_gateway_port(env.gw))};
	struct timeval tv = {10, 0};
	int fd = socket(AF_INET, SOCK_STREAM, 0), seen = 0;
	char buf[4096];

	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	for (size_t i = 0; i < npieces; i++) {
		if (i)
			usleep(50000);
		assert_int_equal(write(fd, pieces[i], strlen(pieces[i])), (ssize_t)strlen(pieces[i]));
	}
	while (want == 0 || seen < want) {
		ssize_t n = read(fd, buf, sizeof(buf));
		const char *p;

		if (n <= 0)
			break;
		llmo_buf_append(out, buf, (size_t)n);
		seen = 0;
		for (p = out->data; (p = strstr(p, "HTTP/1.")); p++)
			seen++;
	}
	close(fd);
}

static void raw(const char *req, size_t len, int want, struct llmo_buf *out)
{
	char *copy = strndup(req, len);

	assert_non_null(copy);
	assert_int_equal(strlen(copy), len);
	raw_pieces((const char *const *)&copy, 1, want, out);
	free(copy);
}

static void test_raw_http(void **state)
{
	static const char pipelined[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
					"GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n";
	const char *body = "{\"model\":\"mistral:7b\",\"stream\":true,\"max_tokens\":2,"
			   "\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}";
	struct llmo_buf out, req;

	/* two pipelined requests, two answers in order */
	llmo_buf_init(&out, RESP_MAX);
	raw(pipelined, sizeof(pipelined) - 1, 2, &out);
	assert_non_null(strstr(out.data, "HTTP/1.1 200 OK"));
	assert_non_null(strstr(strstr(out.data, "ok\n") + 3, "HTTP/1.1 200 OK"));
	llmo_buf_release(&out);
	/* HTTP/1.0 and a stream: no chunking, the connection ends the body */
	llmo_buf_init(&out, RESP_MAX);
	llmo_buf_init(&req, 4096);
	llmo_buf_appendf(&req, "POST /v1/chat/completions HTTP/1.0\r\nContent-Length: %zu\r\n\r\n%s",
			 strlen(body), body);
	raw(req.data, req.len, 0, &out);
	assert_true(strncmp(out.data, "HTTP/1.0 200 OK\r\n", 17) == 0);
	assert_null(strstr(out.data, "Transfer-Encoding"));
	assert_non_null(strstr(out.data, "Connection: close"));
	assert_non_null(strstr(out.data, "data: [DONE]"));
	llmo_buf_release(&out);
	llmo_buf_release(&req);
	/*
	 * A head in pieces: split inside its closing CRLF CRLF (the search for
	 * it resumes where it stopped), and a head larger than the first piece
	 * of the gateway's input buffer, which then spans two of them.
	 */
	{
		static const char *const split[] = {"GET /healthz HTTP/1.1\r\nHost: x\r\n\r", "\n"};
		const char *spans[3] = {"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ", NULL, "\r\n\r\n"};
		char *big = malloc(3001);

		assert_non_null(big);
		memset(big, 'b', 3000);
		big[3000] = '\0';
		spans[1] = big;
		llmo_buf_init(&out, RESP_MAX);
		raw_pieces(split, 2, 1, &out);
		assert_true(strncmp(out.data, "HTTP/1.1 200 OK\r\n", 17) == 0);
		llmo_buf_release(&out);
		llmo_buf_init(&out, RESP_MAX);
		raw_pieces(spans, 3, 1, &out);
		assert_true(strncmp(out.data, "HTTP/1.1 200 OK\r\n", 17) == 0);
		llmo_buf_release(&out);
		free(big);
	}
	/* a head too large: 431 */
	llmo_buf_init(&out, RESP_MAX);
	llmo_buf_init(&req, LLMO_BUF_UNLIMITED);
	llmo_buf_puts(&req, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ");
	for (int i = 0; i < LLMO_GATEWAY_HEAD_MAX; i++)
		llmo_buf_putc(&req, 'a');
	llmo_buf_puts(&req, "\r\n\r\n");
	raw(req.data, req.len, 1, &out);
	assert_true(strncmp(out.data, "HTTP/1.1 431 ", 13) == 0);
	llmo_buf_release(&out);
	llmo_buf_release(&req);
}

static void test_forwarding(void **state)
{
	struct curl_slist *extra = NULL;
	struct resp r = {0};
	const char *body = "{\"model\":\"fake\",\"x\":1}";
	char host[64], *req;

	extra = curl_slist_append(extra, "Authorization: Bearer k");
	extra = curl_slist_append(extra, "X-Forwarded-For: 10.1.1.1");
	extra = curl_slist_append(extra, "X-Custom: v");
	extra = curl_slist_append(extra, "TE: trailers");
	extra = curl_slist_append(extra, "Connection: keep-alive, X-Hop");
	extra = curl_slist_append(extra, "X-Hop: 1");
	r.extra = extra;
	http(env.url, "/v1/completions?a=1", body, &r);
	curl_slist_free_all(extra);
	/* the answer: 200 after the 1xx, re-chunked, its own header kept */
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body.data, "hello!");
	llmo_buf_release(&r.body);
	/* the request the backend saw */
	req = env.fake.last;
	snprintf(host, sizeof(host), "\r\nHost: 127.0.0.1:%d\r\n", env.fake.port);
	assert_true(llmo_str_has_prefix(req, "POST /v1/completions?a=1 HTTP/1.1\r\n"));
	assert_non_null(strstr(req, host));
	assert_non_null(strstr(req, "\r\nAuthorization: Bearer k\r\n"));
	assert_non_null(strstr(req, "\r\nX-Custom: v\r\n"));
	assert_non_null(strstr(req, "\r\nX-Forwarded-For: 10.1.1.1, 127.0.0.1\r\n"));
	assert_null(strcasestr(req, "\r\nTE:"));
	assert_null(strcasestr(req, "\r\nConnection:"));
	assert_null(strcasestr(req, "\r\nX-Hop:"));
	/* the model is the endpoint's served name, and the length follows it */
	assert_non_null(strstr(req, "\r\nContent-Length: 29\r\n"));
	assert_non_null(strstr(req, "\r\n\r\n{\"model\":\"served-name\",\"x\":1}"));

	/* an answer over the size limit: 502 */
	http(env.url, "/v1/completions", body, &r);
	assert_int_equal(r.status, 502);
	llmo_buf_release(&r.body);
	/* not HTTP at all: 502 (no other replica to try) */
	http(env.url, "/v1/completions", body, &r);
	assert_int_equal(r.status, 502);
	assert_string_equal(jstr(r.body.data, "error", "code"), "upstream_error");
	llmo_buf_release(&r.body);
	assert_int_equal(__atomic_load_n(&env.fake.served, __ATOMIC_SEQ_CST), 3);
}

static void test_reload(void **state)
{
	struct resp r = {0};
	char text[256];

	snprintf(text, sizeof(text),
		 "models:\n  - name: renamed\n    served: llama2:7b\n    endpoints:\n"
		 "      - address: 127.0.0.1:%d\n",
		 env.ports[S_A]);
	write_file(text);
	assert_int_equal(command('r', 0), 1);
	http(env.url, "/v1/chat/completions", chat("renamed", NULL), &r);
	assert_int_equal(r.status, 200);
	llmo_buf_release(&r.body);
	http(env.url, "/v1/chat/completions", chat("chat", NULL), &r);
	assert_int_equal(r.status, 404);
	llmo_buf_release(&r.body);
	/* a broken file: refused, the table stays */
	write_file("models: [");
	assert_int_equal(command('r', 0), 0);
	http(env.url, "/v1/chat/completions", chat("renamed", NULL), &r);
	assert_int_equal(r.status, 200);
	llmo_buf_release(&r.body);
	/* the metrics of it all are there */
	http(env.url, "/metrics", NULL, &r);
	assert_non_null(strstr(r.body.data, "# TYPE llmo_gateway_request_duration_seconds histogram"));
	assert_non_null(strstr(r.body.data, "# TYPE llmo_gateway_time_to_first_byte_seconds histogram"));
	assert_non_null(strstr(r.body.data, "llmo_gateway_endpoints{model=\"renamed\",state=\"ready\"} 1"));
	llmo_buf_release(&r.body);
}

/*
 * A model's accessControl without keys: every request for it is anonymous,
 * so it gets 403 (counted with an empty tenant) and /v1/models leaves it
 * out; an empty list, loaded by a reload, opens it again.
 */
static void load_locked(const char *access)
{
	char text[512];

	snprintf(text, sizeof(text),
		 "models:\n  - name: open\n    served: llama2:7b\n    endpoints:\n"
		 "      - address: 127.0.0.1:%d\n"
		 "  - name: locked\n    served: llama2:7b\n    accessControl: [%s]\n"
		 "    endpoints:\n      - address: 127.0.0.1:%d\n",
		 env.ports[S_A], access, env.ports[S_A]);
	write_file(text);
	assert_int_equal(command('r', 0), 1);
}

static void test_access_list_without_keys(void **state)
{
	struct resp r = {0};

	load_locked("acme");
	http(env.url, "/v1/chat/completions", chat("locked", NULL), &r);
	assert_int_equal(r.status, 403);
	assert_string_equal(jstr(r.body.data, "error", "code"), "model_access_denied");
	assert_string_equal(jstr(r.body.data, "error", "param"), "model");
	assert_string_equal(jstr(r.body.data, "error", "type"), "invalid_request_error");
	assert_non_null(strstr(jstr(r.body.data, "error", "message"), "'locked'"));
	llmo_buf_release(&r.body);
	assert_true(wait_metric("llmo_gateway_forbidden_total{model=\"locked\",tenant=\"\"}", 1));
	http(env.url, "/v1/models", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body.data, "\"id\":\"open\""));
	assert_null(strstr(r.body.data, "\"id\":\"locked\""));
	llmo_buf_release(&r.body);
	http(env.url, "/v1/models/locked", NULL, &r);
	assert_int_equal(r.status, 404);
	llmo_buf_release(&r.body);
	http(env.url, "/v1/chat/completions", chat("open", NULL), &r);
	assert_int_equal(r.status, 200);
	llmo_buf_release(&r.body);

	load_locked("");
	http(env.url, "/v1/chat/completions", chat("locked", NULL), &r);
	assert_int_equal(r.status, 200);
	llmo_buf_release(&r.body);
}

/* ---- API mode ---- */

/* API mode's requests carry a key of the keys Secret. */
#define API_KEY "sk-test-0001"

/* A chat request for chatty with the Secret's key (with_key) or none; its status. */
static long api_chat(const char *url, bool with_key, struct resp *r)
{
	struct curl_slist *h = with_key ? curl_slist_append(NULL, "Authorization: Bearer " API_KEY)
					: NULL;

	memset(r, 0, sizeof(*r));
	r->extra = h;
	http(url, "/v1/chat/completions", chat("chatty", NULL), r); /* r->extra is reset */
	curl_slist_free_all(h);
	return r->status;
}

static bool gateway_routes(void *ctx)
{
	struct resp r;
	bool ok;

	api_chat(ctx, true, &r);
	ok = r.status == 200 && strcmp(jstr(r.body.data, "model", NULL), "llama2:7b") == 0;
	llmo_buf_release(&r.body);
	return ok;
}

static bool gateway_refuses(void *ctx)
{
	struct resp r;
	bool ok;

	api_chat(ctx, true, &r);
	/* held for hold_timeout_ms, then refused */
	ok = r.status == 503 && strstr(r.body.data, "became ready");
	llmo_buf_release(&r.body);
	return ok;
}

/* The pod is draining in the table, and still reported. */
static bool pod_draining(void *ctx)
{
	struct resp r = {0};
	bool ok;

	http(ctx, "/metrics", NULL, &r);
	ok = r.status == 200 &&
	     strstr(r.body.data,
		    "llmo_gateway_endpoints{model=\"default/chat\",state=\"draining\"} 1\n") &&
	     strstr(r.body.data, "llmo_gateway_pod_inflight{namespace=\"default\",workload=\"chat\","
				 "pod=\"chat-abcde\",track=\"stable\"} 0\n");
	llmo_buf_release(&r.body);
	return ok;
}

/* The pod's in-flight gauge is reported (0 between requests). */
static bool pod_reported(void *ctx)
{
	struct resp r = {0};
	bool ok;

	http(ctx, "/metrics", NULL, &r);
	ok = r.status == 200 &&
	     strstr(r.body.data, "llmo_gateway_pod_inflight{namespace=\"default\",workload=\"chat\","
				 "pod=\"chat-abcde\",track=\"stable\"} 0\n");
	llmo_buf_release(&r.body);
	return ok;
}

/* Polls pred for up to WAIT_MS (the gateway's loop runs in its thread). */
static bool poll_until(bool (*pred)(void *), void *ctx)
{
	int64_t end = llmo_clock_mono_ms() + WAIT_MS;

	while (llmo_clock_mono_ms() < end) {
		if (pred(ctx))
			return true;
		usleep(50000);
	}
	return false;
}

/* /metrics has want (may be NULL) and not absent (may be NULL). */
struct metrics_check {
	const char *url, *want, *want2, *absent;
};

static bool metrics_match(void *ctx)
{
	const struct metrics_check *mc = ctx;
	struct resp r = {0};
	bool ok;

	http(mc->url, "/metrics", NULL, &r);
	ok = r.status == 200 && (!mc->want || strstr(r.body.data, mc->want)) &&
	     (!mc->want2 || strstr(r.body.data, mc->want2)) &&
	     (!mc->absent || !strstr(r.body.data, mc->absent));
	llmo_buf_release(&r.body);
	return ok;
}

struct slow_chat {
	const char *url;
	long status;
};

/* A chat of 750 tokens (1.5 s at the simulator's 2 ms per token), with the key. */
static void *slow_chat_main(void *arg)
{
	struct slow_chat *sc = arg;
	struct resp r = {0};

	r.extra = curl_slist_append(NULL, "Authorization: Bearer " API_KEY);
	{
		struct curl_slist *h = r.extra;

		http(sc->url, "/v1/chat/completions", chat("chatty", "\"max_tokens\":750"), &r);
		curl_slist_free_all(h);
	}
	sc->status = r.status;
	llmo_buf_release(&r.body);
	return NULL;
}

/* Creates pod name of the workload chat at the simulator's port (hp), Ready. */
static void ready_pod(struct kube_fixture *f, const char *name, const char *hp)
{
	struct llmo_error err = {0};
	json_t *pod, *patch;

	pod = json_pack("{s:s, s:s, s:{s:s, s:{s:s, s:s}, s:{s:s}},"
			" s:{s:[{s:s, s:s, s:[{s:s, s:i}]}]}}",
			"apiVersion", "v1", "kind", "Pod", "metadata", "name", name, "labels",
			"llm.orchestrator.io/workload", "chat", "llm.orchestrator.io/track", "stable",
			"annotations", "llm.orchestrator.io/host-ports", hp, "spec", "containers",
			"name", "model-server", "image", "sim", "ports", "name", "http",
			"containerPort", 8000);
	if (llmo_kube_create(f->client, &llmo_kube_pods, "default", pod, NULL, &err))
		fail_msg("pod: %s", err.msg);
	patch = json_pack("{s:{s:s, s:s, s:[{s:s, s:s}]}}", "status", "phase", "Running", "podIP",
			  "127.0.0.1", "conditions", "type", "Ready", "status", "True");
	if (llmo_kube_patch(f->client, &llmo_kube_pods, "default", name, "status",
			    LLMO_KUBE_PATCH_MERGE, patch, NULL, &err))
		fail_msg("pod status: %s", err.msg);
	json_decref(pod);
	json_decref(patch);
}

/*
 * A pod that stops being Ready while draining stays in the table while its
 * request runs (reported in flight), and leaves once that request ends,
 * with no other change to the workload or its pods.
 */
static void check_linger(struct kube_fixture *f, const char *url, const char *hp)
{
	struct llmo_error err = {0};
	struct slow_chat sc = {url, 0};
	struct metrics_check in_flight = {
		url,
		"llmo_gateway_pod_inflight{namespace=\"default\",workload=\"chat\",pod=\"chat-slow\","
		"track=\"stable\"} 1\n",
		NULL, NULL};
	struct metrics_check lingers = {
		url, in_flight.want,
		"llmo_gateway_endpoints{model=\"default/chat\",state=\"draining\"} 1\n", NULL};
	struct metrics_check gone = {
		url, "llmo_gateway_endpoints{model=\"default/chat\",state=\"draining\"} 0\n", NULL,
		"pod=\"chat-slow\""};
	pthread_t t;
	json_t *patch;

	ready_pod(f, "chat-slow", hp);
	assert_true(poll_until(gateway_routes, (void *)url));
	assert_int_equal(pthread_create(&t, NULL, slow_chat_main, &sc), 0);
	assert_true(poll_until(metrics_match, &in_flight));
	patch = json_pack("{s:{s:{s:s}}}", "metadata", "annotations", "llm.orchestrator.io/draining",
			  "true");
	if (llmo_kube_patch(f->client, &llmo_kube_pods, "default", "chat-slow", NULL,
			    LLMO_KUBE_PATCH_MERGE, patch, NULL, &err))
		fail_msg("pod annotation: %s", err.msg);
	json_decref(patch);
	patch = json_pack("{s:{s:[{s:s, s:s}]}}", "status", "conditions", "type", "Ready", "status",
			  "False");
	if (llmo_kube_patch(f->client, &llmo_kube_pods, "default", "chat-slow", "status",
			    LLMO_KUBE_PATCH_MERGE, patch, NULL, &err))
		fail_msg("pod status: %s", err.msg);
	json_decref(patch);
	/* not Ready, draining: still listed while its request runs */
	assert_true(poll_until(metrics_match, &lingers));
	pthread_join(t, NULL);
	assert_int_equal(sc.status, 200);
	/* its request done: gone, without any other change */
	assert_true(poll_until(metrics_match, &gone));
}

static void test_api_mode(void **state)
{
	struct kube_fixture f;
	struct event_base *base;
	struct llmo_sim *sim = NULL;
	struct llmo_gateway *gw = NULL;
	struct llmo_gateway_opts o;
	struct llmo_error err = {0};
	const char *models[] = {"llama2:7b"};
	struct llmo_sim_opts so;
	pthread_t thread;
	char url[64], hp[64];
	json_t *wl, *patch, *secret;
	struct resp r;
	int quit[2];
	struct event *quit_ev;

	assert_int_equal(fixture_start(&f), 0);
	llmo_log_set_level(LLMO_LOG_ERROR);
	base = event_base_new();
	llmo_sim_opts_init(&so);
	so.port = 0;
	so.models = models;
	so.nmodels = 1;
	so.ttft_base_ns = 0;
	so.itl_ns = 2000000; /* 2 ms: check_linger's request takes 1.5 s, the others 6 ms */
	assert_int_equal(llmo_sim_new(base, &so, &sim, &err), 0);
	/* the workload and a replica the way the controller and the agent leave them */
	wl = json_pack("{s:s, s:s, s:{s:s}, s:{s:s, s:s, s:[s]}}", "apiVersion",
		       "llm.orchestrator.io/v1", "kind", "LLMWorkload", "metadata", "name", "chat",
		       "spec", "modelName", "llama2", "modelVersion", "7b", "aliases", "chatty");
	if (llmo_kube_create(f.client, &llmo_kube_llmworkloads, "default", wl, NULL, &err))
		fail_msg("workload: %s", err.msg);
	snprintf(hp, sizeof(hp), "{\"8000\": %d}", llmo_sim_port(sim));
	ready_pod(&f, "chat-abcde", hp);
	json_decref(wl);
	/* the keys Secret: "tenants: [{name: t, keys: [sk-test-0001]}]", base64 */
	secret = json_pack("{s:s, s:s, s:{s:s}, s:{s:s}}", "apiVersion", "v1", "kind", "Secret",
			   "metadata", "name", "llmo-keys", "data", "keys.yaml",
			   "dGVuYW50czogW3tuYW1lOiB0LCBrZXlzOiBbc2stdGVzdC0wMDAxXX1dCg==");
	if (llmo_kube_create(f.client, &llmo_kube_secrets, "default", secret, NULL, &err))
		fail_msg("secret: %s", err.msg);
	json_decref(secret);

	llmo_gateway_opts_init(&o);
	o.port = 0;
	o.client = f.client;
	o.keys_secret = "default/llmo-keys";
	o.hold_timeout_ms = 300;
	assert_int_equal(llmo_gateway_new(base, &o, &gw, &err), 0);
	assert_int_equal(llmo_gateway_start(gw, &err), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", llmo_gateway_port(gw));
	assert_int_equal(pipe(quit), 0);
	quit_ev = event_new(base, quit[0], EV_READ, fixture_on_quit, base);
	event_add(quit_ev, NULL);
	assert_int_equal(pthread_create(&thread, NULL, loop_main, base), 0);

	/* the alias leads to the pod's host port; the backend gets llama2:7b */
	assert_true(poll_until(gateway_routes, url));
	assert_true(poll_until(pod_reported, url));
	/* the Secret's keys apply: no key, 401 */
	assert_int_equal(api_chat(url, false, &r), 401);
	assert_non_null(strstr(r.body.data, "missing_api_key"));
	llmo_buf_release(&r.body);
	/* the controller marks it draining: no new request (held, then 503), still reported */
	patch = json_pack("{s:{s:{s:s}}}", "metadata", "annotations", "llm.orchestrator.io/draining",
			  "true");
	if (llmo_kube_patch(f.client, &llmo_kube_pods, "default", "chat-abcde", NULL,
			    LLMO_KUBE_PATCH_MERGE, patch, NULL, &err))
		fail_msg("pod annotation: %s", err.msg);
	json_decref(patch);
	assert_true(poll_until(pod_draining, url));
	assert_true(gateway_refuses(url));
	/* the replica goes: no replica left, held, then 503 */
	assert_int_equal(llmo_kube_delete(f.client, &llmo_kube_pods, "default", "chat-abcde",
					  LLMO_KUBE_PROPAGATE_DEFAULT, NULL, &err),
			 0);
	assert_true(poll_until(gateway_refuses, url));
	check_linger(&f, url, hp);

	assert_int_equal(write(quit[1], "q", 1), 1);
	pthread_join(thread, NULL);
	event_free(quit_ev);
	close(quit[0]);
	close(quit[1]);
	llmo_gateway_free(gw);
	llmo_sim_free(sim);
	event_base_free(base);
	fixture_stop(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_route_by_alias),
		cmocka_unit_test(test_5xx_retried_then_breaker),
		cmocka_unit_test(test_5xx_passed_through_when_alone),
		cmocka_unit_test(test_streaming),
		cmocka_unit_test(test_killed_backend),
		cmocka_unit_test(test_raw_http),
		cmocka_unit_test(test_forwarding),
		cmocka_unit_test(test_reload),
		cmocka_unit_test(test_access_list_without_keys),
	};
	const struct CMUnitTest api[] = {
		cmocka_unit_test(test_api_mode),
	};
	int failed = cmocka_run_group_tests(tests, group_setup, group_teardown);

	return failed + cmocka_run_group_tests(api, NULL, NULL);
}
