/*
 * llmo inference-sim: the tokenizer and latency arithmetic as tables worked
 * out by hand, then the server driven in-process: its event loop runs in a
 * thread, the tests talk to it over 127.0.0.1 with libcurl and raw sockets.
 * Timing checks assert lower bounds only; waits for a state are polls with
 * a bound.
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
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/str.h"
#include "sim/inference.h"

#define MS INT64_C(1000000)
#define SEC INT64_C(1000000000)
#define MODEL "llama2:7b"
/* Cap on a response body read by the tests. */
#define RESP_MAX (16 * 1024 * 1024)
/* Bound on every wait for a state (the sanitizers slow things down). */
#define WAIT_MS 10000

/* ---- tokenizer and arithmetic ---- */

static const struct {
	const char *text;
	size_t tokens;
} token_cases[] = {
	{"", 0},
	{"   \t\n", 0},
	{"Hello", 1},
	{"Hello, world!", 4},             /* Hello , world ! */
	{"  a  b  ", 2},
	{"don't", 3},                     /* don ' t */
	{"12345678", 1},                  /* 8 bytes: one token */
	{"123456789", 2},                 /* 9 bytes: two */
	{"internationalization", 3},      /* 20 bytes: 8 + 8 + 4 */
	{"h\xc3\xa9llo", 1},              /* UTF-8 stays in its word */
	{"a+b=c", 5},
	{"You are terse.", 4},
};

static void test_count_tokens(void **state)
{
	for (size_t i = 0; i < LLMO_ARRAY_LEN(token_cases); i++) {
		size_t got = llmo_sim_count_tokens(token_cases[i].text,
						   strlen(token_cases[i].text));

		if (got != token_cases[i].tokens)
			fail_msg("\"%s\": %zu tokens, want %zu", token_cases[i].text, got,
				 token_cases[i].tokens);
	}
}

static void test_latency_arithmetic(void **state)
{
	struct llmo_sim_opts o;

	llmo_sim_opts_init(&o);
	o.ttft_base_ns = 10 * MS;
	o.ttft_per_token_ns = 200 * 1000;
	o.itl_ns = 20 * MS;
	/* 10ms + 50 * 0.2ms = 20ms */
	assert_int_equal(llmo_sim_ttft_ns(&o, 50), 20 * MS);
	assert_int_equal(llmo_sim_ttft_ns(&o, 0), 10 * MS);
	/* 20ms + 5 * 20ms = 120ms */
	assert_int_equal(llmo_sim_e2e_ns(&o, 50, 5), 120 * MS);
	/* embeddings: no completion tokens */
	assert_int_equal(llmo_sim_e2e_ns(&o, 50, 0), 20 * MS);
	/* a zero-latency backend */
	o.ttft_base_ns = o.ttft_per_token_ns = o.itl_ns = 0;
	assert_int_equal(llmo_sim_e2e_ns(&o, 1000, 1000), 0);
	/* saturation instead of overflow */
	o.ttft_per_token_ns = LLMO_SIM_DELAY_MAX_NS;
	assert_int_equal(llmo_sim_ttft_ns(&o, SIZE_MAX), INT64_MAX);
	/* KV blocks of 16 tokens: ceil(tokens / 16) */
	o.block_size = 16;
	assert_int_equal(llmo_sim_kv_blocks_for(&o, 0), 0);
	assert_int_equal(llmo_sim_kv_blocks_for(&o, 1), 1);
	assert_int_equal(llmo_sim_kv_blocks_for(&o, 16), 1);
	assert_int_equal(llmo_sim_kv_blocks_for(&o, 17), 2);
}

static void test_opts_check(void **state)
{
	const char *one[] = {MODEL}, *twice[] = {MODEL, MODEL}, *spaced[] = {"a b"};
	struct llmo_error err = {0};
	struct llmo_sim_opts o;

	llmo_sim_opts_init(&o);
	assert_int_equal(llmo_sim_opts_check(&o, &err), LLMO_ERANGE); /* no model */
	o.models = one;
	o.nmodels = 1;
	assert_int_equal(llmo_sim_opts_check(&o, &err), 0);
	o.error_rate = 1.5;
	assert_int_equal(llmo_sim_opts_check(&o, &err), LLMO_ERANGE);
	assert_non_null(strstr(err.msg, "--error-rate"));
	o.error_rate = 0;
	o.itl_ns = -1;
	assert_int_equal(llmo_sim_opts_check(&o, &err), LLMO_ERANGE);
	assert_non_null(strstr(err.msg, "--itl"));
	o.itl_ns = 0;
	o.max_batch = -1;
	assert_int_equal(llmo_sim_opts_check(&o, &err), LLMO_ERANGE);
	o.max_batch = 1;
	o.models = twice;
	o.nmodels = 2;
	assert_int_equal(llmo_sim_opts_check(&o, &err), LLMO_EEXIST);
	o.models = spaced;
	o.nmodels = 1;
	assert_int_equal(llmo_sim_opts_check(&o, &err), LLMO_EINVAL);
}

/* ---- the server in a thread ---- */

struct server {
	struct event_base *base;
	struct llmo_sim *sim;
	struct event *stop;
	pthread_t thread;
	int wake[2];
	int port;
	char url[64];
};

static const char *const models_one[] = {MODEL};

/* Zero latency, one model, a free port: each test sets what it measures. */
static void opts_fast(struct llmo_sim_opts *o)
{
	llmo_sim_opts_init(o);
	o->port = 0;
	o->models = models_one;
	o->nmodels = 1;
	o->ttft_base_ns = 0;
	o->ttft_per_token_ns = 0;
	o->itl_ns = 0;
}

static void on_stop(evutil_socket_t fd, short what, void *arg)
{
	event_base_loopbreak(arg);
}

static void *loop_main(void *arg)
{
	struct server *s = arg;

	event_base_dispatch(s->base);
	return NULL;
}

static void server_start(struct server *s, const struct llmo_sim_opts *o)
{
	struct llmo_error err = {0};

	memset(s, 0, sizeof(*s));
	s->base = event_base_new();
	assert_non_null(s->base);
	assert_int_equal(pipe(s->wake), 0);
	s->stop = event_new(s->base, s->wake[0], EV_READ, on_stop, s->base);
	assert_non_null(s->stop);
	event_add(s->stop, NULL);
	if (llmo_sim_new(s->base, o, &s->sim, &err))
		fail_msg("llmo_sim_new: %s", err.msg);
	s->port = llmo_sim_port(s->sim);
	assert_true(s->port > 0);
	snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%d", s->port);
	assert_int_equal(pthread_create(&s->thread, NULL, loop_main, s), 0);
}

/* Stops the loop and frees the server (requests in flight included). */
static void server_stop(struct server *s)
{
	assert_int_equal(write(s->wake[1], "x", 1), 1);
	pthread_join(s->thread, NULL);
	llmo_sim_free(s->sim);
	event_free(s->stop);
	event_base_free(s->base);
	close(s->wake[0]);
	close(s->wake[1]);
}

/* ---- an HTTP client ---- */

struct resp {
	long status;
	struct llmo_buf body;
	int64_t ns; /* wall time of the exchange, monotonic clock */
};

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
	struct llmo_buf *b = arg;

	return llmo_buf_append(b, p, size * n) ? 0 : size * n;
}

/* GET when body is NULL, else POST of body (JSON). */
static void http(const struct server *s, const char *path, const char *body, struct resp *r)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
	char url[512];
	int64_t t0;
	CURLcode rc;

	assert_non_null(c);
	llmo_buf_init(&r->body, RESP_MAX);
	snprintf(url, sizeof(url), "%s%s", s->url, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->body);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (body)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	t0 = llmo_clock_mono_ns();
	rc = curl_easy_perform(c);
	r->ns = llmo_clock_mono_ns() - t0;
	if (rc != CURLE_OK)
		fail_msg("%s: %s", url, curl_easy_strerror(rc));
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
}

static json_t *resp_json(const struct resp *r)
{
	json_error_t e;
	json_t *v = json_loads(r->body.data, 0, &e);

	if (!v)
		fail_msg("not JSON (%s): %s", e.text, r->body.data);
	return v;
}

static const char *jstr(const json_t *v, const char *path)
{
	const char *s = json_string_value(json_object_get(v, path));

	if (!s)
		fail_msg("no string %s", path);
	return s;
}

/* The value of a series ("name{labels}") in a /metrics text; NAN when absent. */
static double metric(const char *text, const char *series)
{
	size_t n = strlen(series);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, series, n) == 0 && p[n] == ' ')
			return strtod(p + n + 1, NULL);
	return NAN;
}

static double get_metric(const struct server *s, const char *series)
{
	struct resp r;
	double v;

	http(s, "/metrics", NULL, &r);
	assert_int_equal(r.status, 200);
	v = metric(r.body.data, series);
	llmo_buf_release(&r.body);
	return v;
}

/* Polls /metrics until series == want; false after WAIT_MS. */
static bool wait_metric(const struct server *s, const char *series, double want)
{
	int64_t end = llmo_clock_mono_ms() + WAIT_MS;

	while (llmo_clock_mono_ms() < end) {
		if (get_metric(s, series) == want)
			return true;
		usleep(5000);
	}
	return false;
}

#define RUNNING "vllm:num_requests_running{model_name=\"" MODEL "\"}"
#define WAITING "vllm:num_requests_waiting{model_name=\"" MODEL "\"}"

/* ---- raw sockets, for clients that go away ---- */

static int raw_connect(const struct server *s)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->port)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

static int raw_post(const struct server *s, const char *path, const char *body)
{
	int fd = raw_connect(s);
	char head[256];
	int n = snprintf(head, sizeof(head),
			 "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
			 "Content-Length: %zu\r\n\r\n",
			 path, strlen(body));

	assert_int_equal(send(fd, head, (size_t)n, MSG_NOSIGNAL), n);
	assert_int_equal(send(fd, body, strlen(body), MSG_NOSIGNAL), (ssize_t)strlen(body));
	return fd;
}

/* Reads from fd until needle has arrived; false after WAIT_MS. */
static bool raw_wait_for(int fd, const char *needle)
{
	int64_t end = llmo_clock_mono_ms() + WAIT_MS;
	char buf[65536];
	size_t len = 0;

	while (llmo_clock_mono_ms() < end && len < sizeof(buf) - 1) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t n;

		if (poll(&p, 1, 100) <= 0)
			continue;
		n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
		if (n <= 0)
			return false;
		len += (size_t)n;
		buf[len] = '\0';
		if (strstr(buf, needle))
			return true;
	}
	return false;
}

/* ---- endpoints ---- */

static void test_models(void **state)
{
	struct llmo_sim_opts o;
	struct server s;
	struct resp r;
	json_t *v, *m;

	opts_fast(&o);
	server_start(&s, &o);
	http(&s, "/v1/models", NULL, &r);
	assert_int_equal(r.status, 200);
	v = resp_json(&r);
	assert_string_equal(jstr(v, "object"), "list");
	assert_int_equal(json_array_size(json_object_get(v, "data")), 1);
	m = json_array_get(json_object_get(v, "data"), 0);
	assert_string_equal(jstr(m, "id"), MODEL);
	assert_string_equal(jstr(m, "object"), "model");
	json_decref(v);
	llmo_buf_release(&r.body);

	http(&s, "/v1/models/llama2%3A7b", NULL, &r);
	assert_int_equal(r.status, 200);
	llmo_buf_release(&r.body);
	http(&s, "/v1/models/mistral", NULL, &r);
	assert_int_equal(r.status, 404);
	llmo_buf_release(&r.body);
	server_stop(&s);
}

static void check_usage(const json_t *v, size_t prompt, size_t completion)
{
	const json_t *u = json_object_get(v, "usage");

	assert_int_equal(json_integer_value(json_object_get(u, "prompt_tokens")), prompt);
	assert_int_equal(json_integer_value(json_object_get(u, "completion_tokens")), completion);
	assert_int_equal(json_integer_value(json_object_get(u, "total_tokens")),
			 prompt + completion);
}

static void test_completion(void **state)
{
	/* Hello , world ! How are you ? = 8 tokens */
	const char *body = "{\"model\":\"" MODEL "\",\"prompt\":\"Hello, world! How are you?\","
			   "\"max_tokens\":5}";
	struct llmo_sim_opts o;
	struct server s;
	struct resp r;
	const json_t *c;
	const char *text;
	json_t *v;

	opts_fast(&o);
	server_start(&s, &o);
	http(&s, "/v1/completions", body, &r);
	assert_int_equal(r.status, 200);
	v = resp_json(&r);
	assert_true(strncmp(jstr(v, "id"), "cmpl-", 5) == 0);
	assert_string_equal(jstr(v, "object"), "text_completion");
	assert_string_equal(jstr(v, "model"), MODEL);
	assert_true(json_is_integer(json_object_get(v, "created")));
	assert_int_equal(json_array_size(json_object_get(v, "choices")), 1);
	c = json_array_get(json_object_get(v, "choices"), 0);
	assert_int_equal(json_integer_value(json_object_get(c, "index")), 0);
	assert_string_equal(jstr(c, "finish_reason"), "length");
	text = jstr(c, "text");
	/* the text holds as many tokens as usage claims */
	assert_int_equal(llmo_sim_count_tokens(text, strlen(text)), 5);
	check_usage(v, 8, 5);
	json_decref(v);
	llmo_buf_release(&r.body);

	/* prompt as token ids: 3 tokens; a name without its version finds llama2:7b */
	http(&s, "/v1/completions", "{\"model\":\"llama2\",\"prompt\":[1,2,3],\"max_tokens\":2}",
	     &r);
	assert_int_equal(r.status, 200);
	v = resp_json(&r);
	check_usage(v, 3, 2);
	assert_string_equal(jstr(v, "model"), MODEL);
	json_decref(v);
	llmo_buf_release(&r.body);
	server_stop(&s);
}

static void test_chat(void **state)
{
	/* (You are terse . = 4) + 1 for the role, (Hi ! = 2) + 1 = 8 */
	const char *msgs = "\"messages\":[{\"role\":\"system\",\"content\":\"You are terse.\"},"
			   "{\"role\":\"user\",\"content\":\"Hi!\"}]";
	char body[512], first[256];
	struct llmo_sim_opts o;
	struct server s;
	struct resp r;
	const json_t *c, *msg;
	json_t *v;
	json_int_t n;

	opts_fast(&o);
	server_start(&s, &o);
	snprintf(body, sizeof(body), "{\"model\":\"%s\",%s,\"max_tokens\":3}", MODEL, msgs);
	http(&s, "/v1/chat/completions", body, &r);
	assert_int_equal(r.status, 200);
	v = resp_json(&r);
	assert_true(strncmp(jstr(v, "id"), "chatcmpl-", 9) == 0);
	assert_string_equal(jstr(v, "object"), "chat.completion");
	c = json_array_get(json_object_get(v, "choices"), 0);
	msg = json_object_get(c, "message");
	assert_string_equal(jstr(msg, "role"), "assistant");
	assert_int_equal(llmo_sim_count_tokens(jstr(msg, "content"),
					       strlen(jstr(msg, "content"))), 3);
	assert_string_equal(jstr(c, "finish_reason"), "length");
	check_usage(v, 8, 3);
	json_decref(v);
	llmo_buf_release(&r.body);

	/* no max_tokens: a deterministic stop within --max-tokens (16), the same each time */
	snprintf(body, sizeof(body), "{\"model\":\"%s\",%s}", MODEL, msgs);
	for (int i = 0; i < 2; i++) {
		http(&s, "/v1/chat/completions", body, &r);
		assert_int_equal(r.status, 200);
		v = resp_json(&r);
		c = json_array_get(json_object_get(v, "choices"), 0);
		assert_string_equal(jstr(c, "finish_reason"), "stop");
		n = json_integer_value(
			json_object_get(json_object_get(v, "usage"), "completion_tokens"));
		assert_true(n >= 1 && n <= 16);
		if (i == 0)
			snprintf(first, sizeof(first), "%s",
				 jstr(json_object_get(c, "message"), "content"));
		else
			assert_string_equal(first, jstr(json_object_get(c, "message"), "content"));
		json_decref(v);
		llmo_buf_release(&r.body);
	}
	server_stop(&s);
}

/*
 * Splits an SSE body into its events' data; returns how many JSON chunks
 * came before "data: [DONE]" (which must be the last event), with the
 * chunks in *chunks (an array; the caller decrefs).
 */
static size_t sse_chunks(const char *body, json_t **chunks)
{
	const char *p = body;
	bool done = false;

	*chunks = json_array();
	while (*p) {
		const char *end = strstr(p, "\n\n");
		char *data;

		if (!end)
			fail_msg("an event does not end with a blank line: %s", p);
		if (strncmp(p, "data: ", 6) != 0)
			fail_msg("an event that is not data: %s", p);
		if (done)
			fail_msg("an event after [DONE]: %s", p);
		data = llmo_strndup(p + 6, (size_t)(end - p - 6));
		assert_non_null(data);
		if (strcmp(data, "[DONE]") == 0) {
			done = true;
		} else {
			json_t *c = json_loads(data, 0, NULL);

			if (!c)
				fail_msg("a chunk that is not JSON: %s", data);
			json_array_append_new(*chunks, c);
		}
		free(data);
		p = end + 2;
	}
	assert_true(done);
	return json_array_size(*chunks);
}

static void test_stream_chat(void **state)
{
	const char *body = "{\"model\":\"" MODEL "\",\"stream\":true,\"max_tokens\":5,"
			   "\"messages\":[{\"role\":\"user\",\"content\":\"Hi!\"}]}";
	const char *body_usage = "{\"model\":\"" MODEL "\",\"stream\":true,\"max_tokens\":5,"
				 "\"stream_options\":{\"include_usage\":true},"
				 "\"messages\":[{\"role\":\"user\",\"content\":\"Hi!\"}]}";
	struct llmo_sim_opts o;
	struct server s;
	struct resp r;
	struct llmo_buf text;
	json_t *chunks, *c, *last;
	size_t i;

	opts_fast(&o);
	server_start(&s, &o);
	http(&s, "/v1/chat/completions", body, &r);
	assert_int_equal(r.status, 200);
	/* the role, 5 tokens, the finish: 7 chunks, then [DONE] */
	assert_int_equal(sse_chunks(r.body.data, &chunks), 7);
	llmo_buf_init(&text, 4096);
	json_array_foreach(chunks, i, c) {
		const json_t *ch = json_array_get(json_object_get(c, "choices"), 0);
		const json_t *delta = json_object_get(ch, "delta");

		assert_string_equal(jstr(c, "object"), "chat.completion.chunk");
		assert_string_equal(jstr(c, "model"), MODEL);
		if (i == 0)
			assert_string_equal(jstr(delta, "role"), "assistant");
		else if (json_object_get(delta, "content"))
			llmo_buf_puts(&text, jstr(delta, "content"));
		if (i < 6)
			assert_true(json_is_null(json_object_get(ch, "finish_reason")));
	}
	last = json_array_get(json_object_get(json_array_get(chunks, 6), "choices"), 0);
	assert_string_equal(jstr(last, "finish_reason"), "length");
	assert_int_equal(llmo_sim_count_tokens(text.data, text.len), 5);
	llmo_buf_release(&text);
	json_decref(chunks);
	llmo_buf_release(&r.body);

	/* include_usage: one more chunk, with no choices and the usage (1 + 2 prompt tokens) */
	http(&s, "/v1/chat/completions", body_usage, &r);
	assert_int_equal(sse_chunks(r.body.data, &chunks), 8);
	c = json_array_get(chunks, 7);
	assert_int_equal(json_array_size(json_object_get(c, "choices")), 0);
	check_usage(c, 3, 5);
	json_decref(chunks);
	llmo_buf_release(&r.body);
	server_stop(&s);
}

static void test_stream_completion(void **state)
{
	const char *body = "{\"model\":\"" MODEL "\",\"stream\":true,\"max_tokens\":4,"
			   "\"prompt\":\"Once upon a time\"}";
	struct llmo_sim_opts o;
	struct server s;
	struct resp r;
	json_t *chunks, *c;
	size_t i;

	opts_fast(&o);
	server_start(&s, &o);
	http(&s, "/v1/completions", body, &r);
	assert_int_equal(r.status, 200);
	/* 4 tokens and the finish */
	assert_int_equal(sse_chunks(r.body.data, &chunks), 5);
	json_array_foreach(chunks, i, c) {
		const json_t *ch = json_array_get(json_object_get(c, "choices"), 0);

		assert_string_equal(jstr(c, "object"), "text_completion");
		assert_true(json_is_string(json_object_get(ch, "text")));
		if (i == 4)
			assert_string_equal(jstr(ch, "finish_reason"), "length");
	}
	json_decref(chunks);
	llmo_buf_release(&r.body);
	server_stop(&s);
}

static void test_itl_lower_bound(void **state)
{
	const char *plain = "{\"model\":\"" MODEL "\",\"prompt\":\"x\",\"max_tokens\":5}";
	const char *stream = "{\"model\":\"" MODEL "\",\"prompt\":\"x\",\"max_tokens\":5,"
			     "\"stream\":true}";
	struct llmo_sim_opts o;
	struct server s;
	struct resp r;

	opts_fast(&o);
	o.itl_ns = 20 * MS;
	server_start(&s, &o);
	http(&s, "/v1/completions", plain, &r);
	assert_int_equal(r.status, 200);
	assert_true(r.ns >= 5 * 20 * MS);
	llmo_buf_release(&r.body);
	http(&s, "/v1/completions", stream, &r);
	assert_int_equal(r.status, 200);
	assert_true(r.ns >= 5 * 20 * MS);
	llmo_buf_release(&r.body);
	server_stop(&s);
}

struct client {
	const struct server *s;
	struct resp r;
	pthread_t thread;
};

static void *client_main(void *arg)
{
	struct client *c = arg;

	http(c->s, "/v1/completions",
	     "{\"model\":\"" MODEL "\",\"prompt\":\"queue me\",\"max_tokens\":10}", &c->r);
	return NULL;
}

static void test_max_batch_queue(void **state)
{
	struct llmo_sim_opts o;
	struct client c[2];
	struct server s;

	opts_fast(&o);
	o.max_batch = 1;
	o.itl_ns = 50 * MS; /* 10 tokens: 500ms each */
	server_start(&s, &o);
	for (int i = 0; i < 2; i++) {
		c[i].s = &s;
		assert_int_equal(pthread_create(&c[i].thread, NULL, client_main, &c[i]), 0);
	}
	/* while the first runs, the second waits */
	assert_true(wait_metric(&s, WAITING, 1));
	assert_true(get_metric(&s, RUNNING) == 1);
	for (int i = 0; i < 2; i++) {
		pthread_join(c[i].thread, NULL);
		assert_int_equal(c[i].r.status, 200);
		llmo_buf_release(&c[i].r.body);
	}
	assert_true(get_metric(&s, RUNNING) == 0);
	assert_true(get_metric(&s, WAITING) == 0);
	assert_true(get_metric(&s, "vllm:request_success_total{finished_reason=\"length\","
				   "model_name=\"" MODEL "\"}") == 2);
	assert_true(get_metric(&s, "vllm:generation_tokens_total{model_name=\"" MODEL "\"}") == 20);
	/* queue me = 2 tokens, twice */
	assert_true(get_metric(&s, "vllm:prompt_tokens_total{model_name=\"" MODEL "\"}") == 4);
	assert_true(get_metric(&s, "vllm:e2e_request_latency_seconds_count{model_name=\"" MODEL
				   "\"}") == 2);
	assert_true(get_metric(&s, "vllm:time_to_first_token_seconds_count{model_name=\"" MODEL
				   "\"}") == 2);
	server_stop(&s);
}

static void test_startup_delay(void **state)
{
	const char *body = "{\"model\":\"" MODEL "\",\"prompt\":\"x\",\"max_tokens\":1}";
	int64_t t0 = llmo_clock_mono_ns(), end;
	struct llmo_sim_opts o;
	struct server s;
	struct resp r;
	bool up = false;

	opts_fast(&o);
	o.startup_delay_ns = 300 * MS;
	server_start(&s, &o);
	http(&s, "/health", NULL, &r);
	assert_int_equal(r.status, 503);
	llmo_buf_release(&r.body);
	http(&s, "/v1/completions", body, &r);
	assert_int_equal(r.status, 503);
	llmo_buf_release(&r.body);
	end = llmo_clock_mono_ms() + WAIT_MS;
	while (!up && llmo_clock_mono_ms() < end) {
		http(&s, "/health", NULL, &r);
		up = r.status == 200;
		llmo_buf_release(&r.body);
		if (!up)
			usleep(10000);
	}
	assert_true(up);
	assert_true(llmo_clock_mono_ns() - t0 >= 300 * MS);
	http(&s, "/v1/completions", body, &r);
	assert_int_equal(r.status, 200);
	llmo_buf_release(&r.body);
	server_stop(&s);
}

static void test_error_rate(void **state)
{
	const char *body = "{\"model\":\"" MODEL "\",\"prompt\":\"x\",\"max_tokens\":1}";
	struct llmo_sim_opts o;
	struct server s;
	struct resp r;
	json_t *v;

	opts_fast(&o);
	o.error_rate = 1;
	server_start(&s, &o);
	for (int i = 0; i < 5; i++) {
		http(&s, "/v1/completions", body, &r);
		assert_int_equal(r.status, 500);
		v = resp_json(&r);
		assert_string_equal(jstr(json_object_get(v, "error"), "type"), "server_error");
		json_decref(v);
		llmo_buf_release(&r.body);
	}
	server_stop(&s);
}

static const struct bad_case {
	const char *path;
	const char *body;
	long status;
	const char *param; /* NULL: the error's param is null */
} bad_cases[] = {
	{"/v1/completions", "{\"model\":", 400, NULL},
	{"/v1/completions", "", 400, NULL},
	{"/v1/completions", "[1]", 400, NULL},
	{"/v1/completions", "{\"prompt\":\"x\"}", 400, "model"},
	{"/v1/completions", "{\"model\":5,\"prompt\":\"x\"}", 400, "model"},
	{"/v1/completions", "{\"model\":\"nope\",\"prompt\":\"x\"}", 404, "model"},
	{"/v1/completions", "{\"model\":\"" MODEL "\"}", 400, "prompt"},
	{"/v1/completions", "{\"model\":\"" MODEL "\",\"prompt\":{}}", 400, "prompt"},
	{"/v1/completions", "{\"model\":\"" MODEL "\",\"prompt\":[1,-2]}", 400, "prompt[1]"},
	{"/v1/completions", "{\"model\":\"" MODEL "\",\"prompt\":[\"a\",\"b\"]}", 400, "prompt"},
	{"/v1/completions", "{\"model\":\"" MODEL "\",\"prompt\":\"x\",\"max_tokens\":\"5\"}", 400,
	 "max_tokens"},
	{"/v1/completions", "{\"model\":\"" MODEL "\",\"prompt\":\"x\",\"max_tokens\":0}", 400,
	 "max_tokens"},
	{"/v1/completions", "{\"model\":\"" MODEL "\",\"prompt\":\"x\",\"max_tokens\":5000}", 400,
	 "max_tokens"},
	{"/v1/completions", "{\"model\":\"" MODEL "\",\"prompt\":\"x\",\"temperature\":\"hot\"}",
	 400, "temperature"},
	{"/v1/completions", "{\"model\":\"" MODEL "\",\"prompt\":\"x\",\"stream\":\"yes\"}", 400,
	 "stream"},
	{"/v1/completions", "{\"model\":\"" MODEL "\",\"prompt\":\"x\",\"n\":2}", 400, "n"},
	{"/v1/completions",
	 "{\"model\":\"" MODEL "\",\"prompt\":\"x\",\"stream\":true,"
	 "\"stream_options\":{\"include_usage\":1}}",
	 400, "stream_options.include_usage"},
	{"/v1/chat/completions", "{\"model\":\"" MODEL "\"}", 400, "messages"},
	{"/v1/chat/completions", "{\"model\":\"" MODEL "\",\"messages\":[]}", 400, "messages"},
	{"/v1/chat/completions", "{\"model\":\"" MODEL "\",\"messages\":[5]}", 400, "messages[0]"},
	{"/v1/chat/completions",
	 "{\"model\":\"" MODEL "\",\"messages\":[{\"role\":\"wizard\",\"content\":\"x\"}]}", 400,
	 "messages[0].role"},
	{"/v1/chat/completions", "{\"model\":\"" MODEL "\",\"messages\":[{\"role\":\"user\"}]}",
	 400, "messages[0].content"},
	{"/v1/chat/completions",
	 "{\"model\":\"" MODEL "\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
	 "\"text\"}]}]}",
	 400, "messages[0].content[0].text"},
	{"/v1/embeddings", "{\"model\":\"" MODEL "\"}", 400, "input"},
	{"/v1/embeddings", "{\"model\":\"" MODEL "\",\"input\":[\"a\",5]}", 400, "input[1]"},
	{"/v1/embeddings", "{\"model\":\"" MODEL "\",\"input\":\"a\",\"dimensions\":0}", 400,
	 "dimensions"},
	{"/v1/embeddings", "{\"model\":\"" MODEL "\",\"input\":\"a\",\"encoding_format\":\"hex\"}",
	 400, "encoding_format"},
	{"/nothing", NULL, 404, NULL},
	{"/v1/completions", NULL, 405, NULL},
};

static void test_bad_requests(void **state)
{
	struct llmo_sim_opts o;
	struct server s;
	struct resp r;
	struct llmo_buf big;

	opts_fast(&o);
	server_start(&s, &o);
	for (size_t i = 0; i < LLMO_ARRAY_LEN(bad_cases); i++) {
		const struct bad_case *c = &bad_cases[i];
		const json_t *e, *param;
		json_t *v;

		http(&s, c->path, c->body, &r);
		if (r.status != c->status)
			fail_msg("%s %s: status %ld, want %ld: %s", c->path, c->body, r.status,
				 c->status, r.body.data);
		v = resp_json(&r);
		e = json_object_get(v, "error");
		assert_true(json_is_string(json_object_get(e, "message")));
		assert_true(json_is_string(json_object_get(e, "type")));
		assert_non_null(json_object_get(e, "code"));
		param = json_object_get(e, "param");
		if (c->param && (!json_is_string(param) ||
				 strcmp(json_string_value(param), c->param) != 0))
			fail_msg("%s %s: param %s, want %s", c->path, c->body, r.body.data,
				 c->param);
		if (!c->param)
			assert_true(json_is_null(param));
		/* the message names the field */
		if (c->param && c->status == 400)
			assert_non_null(strstr(jstr(e, "message"), c->param));
		json_decref(v);
		llmo_buf_release(&r.body);
	}

	/* a body one byte over the limit */
	llmo_buf_init(&big, LLMO_BUF_UNLIMITED);
	assert_int_equal(llmo_buf_puts(&big, "{\"model\":\"" MODEL "\",\"prompt\":\""), 0);
	while (big.len < LLMO_SIM_BODY_MAX - 1)
		assert_int_equal(llmo_buf_putc(&big, 'a'), 0);
	assert_int_equal(llmo_buf_puts(&big, "\"}"), 0);
	assert_int_equal(big.len, LLMO_SIM_BODY_MAX + 1);
	http(&s, "/v1/completions", big.data, &r);
	assert_int_equal(r.status, 413);
	llmo_buf_release(&r.body);
	llmo_buf_release(&big);

	/* the server is still fine */
	http(&s, "/health", NULL, &r);
	assert_int_equal(r.status, 200);
	llmo_buf_release(&r.body);
	server_stop(&s);
}

static void test_context_length(void **state)
{
	struct llmo_sim_opts o;
	struct server s;
	struct resp r;

	opts_fast(&o);
	o.max_model_len = 10;
	server_start(&s, &o);
	/* 4 prompt tokens + 6 = 10: fits */
	http(&s, "/v1/completions",
	     "{\"model\":\"" MODEL "\",\"prompt\":\"a b c d\",\"max_tokens\":6}", &r);
	assert_int_equal(r.status, 200);
	llmo_buf_release(&r.body);
	/* + 7 = 11: does not */
	http(&s, "/v1/completions",
	     "{\"model\":\"" MODEL "\",\"prompt\":\"a b c d\",\"max_tokens\":7}", &r);
	assert_int_equal(r.status, 400);
	llmo_buf_release(&r.body);
	/* a prompt of 10 tokens leaves no room */
	http(&s, "/v1/completions", "{\"model\":\"" MODEL "\",\"prompt\":[1,2,3,4,5,6,7,8,9,10]}",
	     &r);
	assert_int_equal(r.status, 400);
	llmo_buf_release(&r.body);
	server_stop(&s);
}

static void test_embeddings(void **state)
{
	const char *body = "{\"model\":\"" MODEL "\",\"input\":[\"Hello, world!\",\"other\","
			   "\"Hello, world!\"],\"dimensions\":8}";
	struct llmo_sim_opts o;
	struct server s;
	struct resp r;
	const json_t *data, *vec[3];
	json_t *v;
	const char *b64;

	opts_fast(&o);
	server_start(&s, &o);
	http(&s, "/v1/embeddings", body, &r);
	assert_int_equal(r.status, 200);
	v = resp_json(&r);
	assert_string_equal(jstr(v, "object"), "list");
	data = json_object_get(v, "data");
	assert_int_equal(json_array_size(data), 3);
	for (size_t i = 0; i < 3; i++) {
		const json_t *d = json_array_get(data, i);
		double norm = 0;

		assert_string_equal(jstr(d, "object"), "embedding");
		assert_int_equal(json_integer_value(json_object_get(d, "index")), i);
		vec[i] = json_object_get(d, "embedding");
		assert_int_equal(json_array_size(vec[i]), 8);
		for (size_t j = 0; j < 8; j++)
			norm += pow(json_number_value(json_array_get(vec[i], j)), 2);
		/* a unit vector */
		assert_true(fabs(norm - 1) < 1e-5);
	}
	/* the same input gives the same vector, another input another */
	assert_true(json_equal(vec[0], vec[2]));
	assert_false(json_equal(vec[0], vec[1]));
	/* 4 + 1 + 4 tokens */
	assert_int_equal(json_integer_value(json_object_get(json_object_get(v, "usage"),
							    "prompt_tokens")),
			 9);
	json_decref(v);
	llmo_buf_release(&r.body);

	/* base64: 8 float32 values = 32 bytes = 44 base64 characters */
	http(&s, "/v1/embeddings",
	     "{\"model\":\"" MODEL "\",\"input\":\"x\",\"dimensions\":8,"
	     "\"encoding_format\":\"base64\"}",
	     &r);
	assert_int_equal(r.status, 200);
	v = resp_json(&r);
	b64 = json_string_value(
		json_object_get(json_array_get(json_object_get(v, "data"), 0), "embedding"));
	assert_non_null(b64);
	assert_int_equal(strlen(b64), 44);
	json_decref(v);
	llmo_buf_release(&r.body);

	/* the default dimension */
	http(&s, "/v1/embeddings", "{\"model\":\"" MODEL "\",\"input\":\"x\"}", &r);
	v = resp_json(&r);
	assert_int_equal(json_array_size(json_object_get(
				 json_array_get(json_object_get(v, "data"), 0), "embedding")),
			 384);
	json_decref(v);
	llmo_buf_release(&r.body);
	server_stop(&s);
}

static void test_kv_cache_usage(void **state)
{
	struct llmo_sim_opts o;
	struct server s;
	int fd;

	opts_fast(&o);
	o.kv_blocks = 10;
	o.block_size = 16;
	o.ttft_base_ns = 10 * SEC; /* the request stays in prefill while we look */
	server_start(&s, &o);
	/* 20 prompt tokens = 2 blocks of 16 = 0.2 of 10 blocks */
	fd = raw_post(&s, "/v1/completions",
		      "{\"model\":\"" MODEL "\",\"prompt\":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,"
		      "15,16,17,18,19,20],\"max_tokens\":1}");
	assert_true(wait_metric(&s, RUNNING, 1));
	assert_true(get_metric(&s, "vllm:gpu_cache_usage_perc{model_name=\"" MODEL "\"}") == 0.2);
	close(fd);
	assert_true(wait_metric(&s, RUNNING, 0));
	assert_true(get_metric(&s, "vllm:gpu_cache_usage_perc{model_name=\"" MODEL "\"}") == 0);
	server_stop(&s);
}

/* The cached_tokens of an answer's usage.prompt_tokens_details (-1: none). */
static long long cached_tokens(const struct server *s, const char *path, const char *body,
			       int64_t *ns)
{
	struct resp r;
	json_t *v, *d;
	long long n = -1;

	http(s, path, body, &r);
	assert_int_equal(r.status, 200);
	v = resp_json(&r);
	d = json_object_get(json_object_get(json_object_get(v, "usage"),
					    "prompt_tokens_details"),
			    "cached_tokens");
	if (json_is_integer(d))
		n = (long long)json_integer_value(d);
	if (ns)
		*ns = r.ns;
	json_decref(v);
	llmo_buf_release(&r.body);
	return n;
}

#define PREFIX_Q "vllm:prefix_cache_queries_total{model_name=\"" MODEL "\"}"
#define PREFIX_H "vllm:prefix_cache_hits_total{model_name=\"" MODEL "\"}"
#define PREFIX_R "vllm:gpu_prefix_cache_hit_rate{model_name=\"" MODEL "\"}"
#define CMPL(ids) "{\"model\":\"" MODEL "\",\"prompt\":[" ids "],\"max_tokens\":1}"

static void test_prefix_cache(void **state)
{
	struct llmo_sim_opts o;
	struct server s;
	int64_t first = 0, second = 0;

	opts_fast(&o);
	o.block_size = 4;
	o.prefix_cache_blocks = 3;
	o.ttft_per_token_ns = 100 * MS;
	server_start(&s, &o);
	/* 10 tokens = 2 whole blocks of 4 (the 2 left over are never cached) */
	assert_int_equal(cached_tokens(&s, "/v1/completions", CMPL("1,2,3,4,5,6,7,8,9,10"),
				       &first), 0);
	assert_int_equal(cached_tokens(&s, "/v1/completions", CMPL("1,2,3,4,5,6,7,8,9,10"),
				       &second), 8);
	/* prefill: 10 tokens at 100ms, then the 2 uncached ones */
	assert_true(first >= 1000 * MS);
	if (!(second >= 200 * MS && second < 800 * MS))
		fail_msg("first %lld ms, second %lld ms", (long long)(first / MS),
			 (long long)(second / MS));
	/* only the first block is shared */
	assert_int_equal(cached_tokens(&s, "/v1/completions", CMPL("1,2,3,4,99,6,7,8,9,10"),
				       NULL), 4);
	/* all 8 tokens are cached, but the last one is always computed */
	assert_int_equal(cached_tokens(&s, "/v1/completions", CMPL("1,2,3,4,5,6,7,8"), NULL), 7);
	/* queries 10 + 10 + 10 + 8, hits 0 + 8 + 4 + 7 */
	assert_true(get_metric(&s, PREFIX_Q) == 38);
	assert_true(get_metric(&s, PREFIX_H) == 19);
	assert_true(get_metric(&s, PREFIX_R) == 0.5);
	/* 3 new blocks fill the cache of 3: the old prompt is forgotten */
	assert_int_equal(cached_tokens(&s, "/v1/completions",
				       CMPL("50,51,52,53,54,55,56,57,58,59,60,61"), NULL), 0);
	assert_int_equal(cached_tokens(&s, "/v1/completions", CMPL("1,2,3,4,5,6,7,8,9,10"), NULL),
			 0);
	/* chat: 8 content tokens and the role's = 9 tokens, 2 blocks */
	o.ttft_per_token_ns = 0;
	server_stop(&s);
	server_start(&s, &o);
	assert_int_equal(cached_tokens(&s, "/v1/chat/completions",
				       "{\"model\":\"" MODEL "\",\"max_tokens\":1,\"messages\":"
				       "[{\"role\":\"user\",\"content\":\"a b c d e f g h\"}]}",
				       NULL), 0);
	assert_int_equal(cached_tokens(&s, "/v1/chat/completions",
				       "{\"model\":\"" MODEL "\",\"max_tokens\":1,\"messages\":"
				       "[{\"role\":\"user\",\"content\":\"a b c d e f g h\"}]}",
				       NULL), 8);
	/* the role is the 9th token, after the content, outside the whole blocks: still 8 */
	assert_int_equal(cached_tokens(&s, "/v1/chat/completions",
				       "{\"model\":\"" MODEL "\",\"max_tokens\":1,\"messages\":"
				       "[{\"role\":\"system\",\"content\":\"a b c d e f g h\"}]}",
				       NULL), 8);
	server_stop(&s);
	/* without the cache: no details, nothing cached, queries still counted */
	opts_fast(&o);
	server_start(&s, &o);
	assert_int_equal(cached_tokens(&s, "/v1/completions", CMPL("1,2,3,4,5,6,7,8,9,10"), NULL),
			 -1);
	assert_int_equal(cached_tokens(&s, "/v1/completions", CMPL("1,2,3,4,5,6,7,8,9,10"), NULL),
			 -1);
	assert_true(get_metric(&s, PREFIX_Q) == 20);
	assert_true(get_metric(&s, PREFIX_H) == 0);
	server_stop(&s);
}

static void test_disconnect_mid_stream(void **state)
{
	struct llmo_sim_opts o;
	struct server s;
	double gen;
	int fd;

	opts_fast(&o);
	o.itl_ns = 20 * MS; /* 100 tokens: 2s if nobody went away */
	server_start(&s, &o);
	fd = raw_post(&s, "/v1/completions",
		      "{\"model\":\"" MODEL "\",\"prompt\":\"x\",\"max_tokens\":100,"
		      "\"stream\":true}");
	assert_true(raw_wait_for(fd, "data: {"));
	assert_true(get_metric(&s, RUNNING) == 1);
	close(fd);
	assert_true(wait_metric(&s, RUNNING, 0));
	gen = get_metric(&s, "vllm:generation_tokens_total{model_name=\"" MODEL "\"}");
	assert_true(gen >= 1 && gen < 100);
	/* not a success */
	assert_true(get_metric(&s, "vllm:request_success_total{finished_reason=\"length\","
				   "model_name=\"" MODEL "\"}") == 0);
	server_stop(&s);
}

static void test_disconnect_waiting(void **state)
{
	struct llmo_sim_opts o;
	struct server s;
	int first, second;

	opts_fast(&o);
	o.max_batch = 1;
	o.itl_ns = 20 * MS;
	server_start(&s, &o);
	first = raw_post(&s, "/v1/completions",
			 "{\"model\":\"" MODEL "\",\"prompt\":\"x\",\"max_tokens\":500}");
	assert_true(wait_metric(&s, RUNNING, 1));
	second = raw_post(&s, "/v1/completions",
			  "{\"model\":\"" MODEL "\",\"prompt\":\"y\",\"max_tokens\":500}");
	assert_true(wait_metric(&s, WAITING, 1));
	close(second);
	assert_true(wait_metric(&s, WAITING, 0));
	assert_true(get_metric(&s, RUNNING) == 1);
	close(first);
	assert_true(wait_metric(&s, RUNNING, 0));
	server_stop(&s);
}

/* Freeing the server with requests running and waiting leaks nothing (ASan checks). */
static void test_free_in_flight(void **state)
{
	struct llmo_sim_opts o;
	struct server s;
	int a, b;

	opts_fast(&o);
	o.max_batch = 1;
	o.itl_ns = 50 * MS;
	server_start(&s, &o);
	a = raw_post(&s, "/v1/chat/completions",
		     "{\"model\":\"" MODEL "\",\"stream\":true,\"max_tokens\":200,"
		     "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}");
	assert_true(raw_wait_for(a, "data: {"));
	b = raw_post(&s, "/v1/embeddings", "{\"model\":\"" MODEL "\",\"input\":\"x\"}");
	assert_true(wait_metric(&s, WAITING, 1));
	server_stop(&s);
	close(a);
	close(b);
}

static int group_setup(void **state)
{
	llmo_log_set_level(LLMO_LOG_WARN);
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

static int group_teardown(void **state)
{
	curl_global_cleanup();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_count_tokens),
		cmocka_unit_test(test_latency_arithmetic),
		cmocka_unit_test(test_opts_check),
		cmocka_unit_test(test_models),
		cmocka_unit_test(test_completion),
		cmocka_unit_test(test_chat),
		cmocka_unit_test(test_stream_chat),
		cmocka_unit_test(test_stream_completion),
		cmocka_unit_test(test_itl_lower_bound),
		cmocka_unit_test(test_max_batch_queue),
		cmocka_unit_test(test_startup_delay),
		cmocka_unit_test(test_error_rate),
		cmocka_unit_test(test_bad_requests),
		cmocka_unit_test(test_context_length),
		cmocka_unit_test(test_embeddings),
		cmocka_unit_test(test_kv_cache_usage),
		cmocka_unit_test(test_prefix_cache),
		cmocka_unit_test(test_disconnect_mid_stream),
		cmocka_unit_test(test_disconnect_waiting),
		cmocka_unit_test(test_free_in_flight),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
