/*
 * The API server's group commit (apiserver_int.h): while a batch of writes
 * is open, every answer of a request that read or wrote the store waits for
 * the commit, and becomes a 500 when the commit fails; watches see only
 * committed writes.
 *
 * The server runs on this thread's event_base and the test is its client
 * over raw sockets, so that several requests are provably handled in one
 * loop pass (one batch): they are all written before the loop runs, and
 * Linux reports sockets ready in the order their data arrived.
 */
#include "base/common.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "apiserver/apiserver_int.h"
#include "base/clock.h"
#include "base/log.h"
#include "test_fs.h"

#define CM_PATH "/api/v1/namespaces/default/configmaps"
/* Largest answer a test reads. */
#define ANSWER_MAX 65536
/* How long a test waits for an answer before failing. */
#define WAIT_MS 20000

struct fixture {
	char dir[64];
	struct event_base *base;
	struct llmo_apiserver *srv;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct llmo_apiserver_opts opts = {0};
	struct llmo_error err = {0};

	if (!f)
		return -1;
	llmo_log_set_level(LLMO_LOG_OFF);
	snprintf(f->dir, sizeof(f->dir), "/tmp/llmo-test-commit-XXXXXX");
	if (!mkdtemp(f->dir) || !(f->base = event_base_new()))
		return -1;
	opts.data_dir = f->dir;
	opts.listen_host = "127.0.0.1";
	opts.plain_http = true;
	opts.quiet = true;
	if (llmo_apiserver_new(f->base, &opts, &f->srv, &err)) {
		fprintf(stderr, "llmo_apiserver_new: %s\n", err.msg);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	llmo_apiserver_free(f->srv);
	event_base_free(f->base);
	test_rm_rf(f->dir);
	free(f);
	return 0;
}

static int conn_open(struct fixture *f)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	a.sin_port = htons((uint16_t)llmo_apiserver_port(f->srv));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

/* Writes one request (body NULL: none) without running the server. */
static void send_request(struct fixture *f, int fd, const char *method, const char *path,
			 const char *body)
{
	char req[4096];
	int n = snprintf(req, sizeof(req),
			 "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
			 "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
			 method, path, f->srv->pki.token, body ? strlen(body) : 0,
			 body ? body : "");

	assert_true(n > 0 && (size_t)n < sizeof(req));
	assert_int_equal(write(fd, req, (size_t)n), n);
}

/* Appends what fd has to buf (NUL-terminated); false when nothing was there. */
static bool take(int fd, char *buf, size_t *len)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	ssize_t n;

	if (poll(&p, 1, 0) != 1)
		return false;
	n = read(fd, buf + *len, ANSWER_MAX - 1 - *len);
	assert_true(n > 0);
	*len += (size_t)n;
	buf[*len] = '\0';
	return true;
}

/* Runs the server until buf (what fd sent so far) holds needle. */
static void run_until_seen(struct fixture *f, int fd, char *buf, size_t *len, const char *needle)
{
	int64_t end = llmo_clock_mono_ms() + WAIT_MS;

	while (!strstr(buf, needle)) {
		assert_true(llmo_clock_mono_ms() < end);
		if (!take(fd, buf, len)) {
			struct pollfd p = {.fd = fd, .events = POLLIN};

			event_base_loop(f->base, EVLOOP_NONBLOCK);
			poll(&p, 1, 1);
		}
	}
}

/* Runs the server until fd has one whole answer (Content-Length framed); its status code. */
static int read_answer(struct fixture *f, int fd, char *body, size_t cap)
{
	char buf[ANSWER_MAX];
	size_t len = 0, clen;
	const char *cl, *start;
	int code;
	int64_t end = llmo_clock_mono_ms() + WAIT_MS;

	buf[0] = '\0';
	run_until_seen(f, fd, buf, &len, "\r\n\r\n");
	assert_int_equal(sscanf(buf, "HTTP/1.1 %d", &code), 1);
	cl = strstr(buf, "Content-Length: ");
	assert_non_null(cl);
	clen = strtoul(cl + strlen("Content-Length: "), NULL, 10);
	start = strstr(buf, "\r\n\r\n") + 4;
	while ((size_t)(buf + len - start) < clen) {
		struct pollfd p = {.fd = fd, .events = POLLIN};

		assert_true(len < sizeof(buf) - 1 && llmo_clock_mono_ms() < end);
		if (!take(fd, buf, &len)) {
			event_base_loop(f->base, EVLOOP_NONBLOCK);
			poll(&p, 1, 1);
		}
	}
	snprintf(body, cap, "%.*s", (int)clen, start);
	return code;
}

/* A warm-up request, so that the server has accepted fd before a batch is made. */
static void connected(struct fixture *f, int fd)
{
	char body[256];

	send_request(f, fd, "GET", "/healthz", NULL);
	assert_int_equal(read_answer(f, fd, body, sizeof(body)), 200);
}

static const char *cm_json(const char *name)
{
	static char text[256];

	snprintf(text, sizeof(text),
		 "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"%s\"},"
		 "\"data\":{\"k\":\"v\"}}",
		 name);
	return text;
}

/*
 * In one batch: create NAME (a), create NAME again (b: 409 from the first,
 * uncommitted), GET NAME (c: sees the uncommitted object). Their codes.
 */
static void one_batch(struct fixture *f, const int fds[3], const char *name, int codes[3],
		      char bodies[3][4096])
{
	char path[256];

	snprintf(path, sizeof(path), CM_PATH "/%s", name);
	send_request(f, fds[0], "POST", CM_PATH, cm_json(name));
	send_request(f, fds[1], "POST", CM_PATH, cm_json(name));
	send_request(f, fds[2], "GET", path, NULL);
	for (int i = 0; i < 3; i++)
		codes[i] = read_answer(f, fds[i], bodies[i], sizeof(bodies[i]));
}

static void test_answers_wait_for_the_commit(void **state)
{
	struct fixture *f = *state;
	char bodies[3][4096], body[4096], watch[ANSWER_MAX];
	int fds[3], codes[3], w;
	uint64_t commits;
	size_t wlen = 0;

	for (int i = 0; i < 3; i++) {
		fds[i] = conn_open(f);
		connected(f, fds[i]);
	}
	/* a watch from now on: its answer's headers say it is registered */
	w = conn_open(f);
	send_request(f, w, "GET", CM_PATH "?watch=true", NULL);
	watch[0] = '\0';
	run_until_seen(f, w, watch, &wlen, "\r\n\r\n");
	assert_non_null(strstr(watch, "HTTP/1.1 200"));
	wlen = 0;
	watch[0] = '\0';

	/* the commit of the batch fails: every answer that came from it is a 500 */
	llmo_store_fail_next_commit(f->srv->store, LLMO_EIO);
	commits = f->srv->group_commits;
	one_batch(f, fds, "x", codes, bodies);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(codes[i], 500);
		assert_non_null(strstr(bodies[i], "storage error"));
		assert_non_null(strstr(bodies[i], "\"kind\":\"Status\""));
	}
	assert_int_equal(f->srv->group_commits, commits);
	/* nothing of it was kept */
	send_request(f, fds[0], "GET", CM_PATH "/x", NULL);
	assert_int_equal(read_answer(f, fds[0], body, sizeof(body)), 404);

	/* the same batch committed: the answers it held, with what it wrote */
	one_batch(f, fds, "y", codes, bodies);
	assert_int_equal(codes[0], 201);
	assert_int_equal(codes[1], 409);
	assert_non_null(strstr(bodies[1], "AlreadyExists"));
	assert_int_equal(codes[2], 200);
	assert_non_null(strstr(bodies[2], "\"name\":\"y\""));
	/* one commit for the three requests */
	assert_int_equal(f->srv->group_commits, commits + 1);

	/* the watch's first event is the committed create, never the rolled-back one */
	run_until_seen(f, w, watch, &wlen, "}\n");
	assert_non_null(strstr(watch, "\"type\":\"ADDED\""));
	assert_non_null(strstr(watch, "\"name\":\"y\""));
	assert_null(strstr(watch, "\"name\":\"x\""));

	for (int i = 0; i < 3; i++)
		close(fds[i]);
	close(w);
}

/* A request that does not touch the store (a bad body) is answered at once, batch or not. */
static void test_answers_without_the_store_go_at_once(void **state)
{
	struct fixture *f = *state;
	char body[4096];
	int a = conn_open(f), b = conn_open(f);

	connected(f, a);
	connected(f, b);
	llmo_store_fail_next_commit(f->srv->store, LLMO_EIO);
	send_request(f, a, "POST", CM_PATH, cm_json("z"));
	send_request(f, b, "POST", CM_PATH, "{not json");
	assert_int_equal(read_answer(f, a, body, sizeof(body)), 500);
	assert_int_equal(read_answer(f, b, body, sizeof(body)), 400);
	close(a);
	close(b);
}

/*
 * A CRD created in a batch is served (discovery, its resources) only once
 * the batch commits: a discovery request of the same loop pass does not see
 * it, nor does any request after a commit that failed.
 */
static void test_crd_served_after_commit(void **state)
{
	static const char crd[] =
		"{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":\"CustomResourceDefinition\","
		"\"metadata\":{\"name\":\"widgets.example.com\"},\"spec\":{\"group\":\"example.com\","
		"\"scope\":\"Namespaced\",\"names\":{\"plural\":\"widgets\",\"singular\":\"widget\","
		"\"kind\":\"Widget\",\"listKind\":\"WidgetList\"},\"versions\":[{\"name\":\"v1\","
		"\"served\":true,\"storage\":true,\"schema\":{\"openAPIV3Schema\":{\"type\":\"object\","
		"\"x-kubernetes-preserve-unknown-fields\":true}}}]}}";
	static const char crds[] = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";
	struct fixture *f = *state;
	char body[ANSWER_MAX];
	int a = conn_open(f), b = conn_open(f);

	connected(f, a);
	connected(f, b);
	/* the commit fails: never served */
	llmo_store_fail_next_commit(f->srv->store, LLMO_EIO);
	send_request(f, a, "POST", crds, crd);
	send_request(f, b, "GET", "/apis/example.com/v1", NULL);
	assert_int_equal(read_answer(f, b, body, sizeof(body)), 404);
	assert_int_equal(read_answer(f, a, body, sizeof(body)), 500);
	send_request(f, b, "GET", "/apis/example.com/v1", NULL);
	assert_int_equal(read_answer(f, b, body, sizeof(body)), 404);

	/* it commits: not served in its own loop pass, served from the next request on */
	send_request(f, a, "POST", crds, crd);
	send_request(f, b, "GET", "/apis/example.com/v1", NULL);
	assert_int_equal(read_answer(f, b, body, sizeof(body)), 404);
	assert_int_equal(read_answer(f, a, body, sizeof(body)), 201);
	send_request(f, b, "GET", "/apis/example.com/v1", NULL);
	assert_int_equal(read_answer(f, b, body, sizeof(body)), 200);
	assert_non_null(strstr(body, "\"name\":\"widgets\""));
	close(a);
	close(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_answers_wait_for_the_commit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_answers_without_the_store_go_at_once, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_crd_served_after_commit, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
