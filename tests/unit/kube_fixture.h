#ifndef LLMO_TEST_KUBE_FIXTURE_H
#define LLMO_TEST_KUBE_FIXTURE_H
/*
 * For the src/kube tests (included by tests/unit/test_kube_*.c after
 * cmocka.h): a real `llmo server` in this process, on its own event_base
 * in its own thread, serving plain HTTP on 127.0.0.1 at a free port with a
 * fresh data directory, and a client built from the kubeconfig it writes.
 * Also a loop helper that runs the test's own event_base until a condition
 * holds or a deadline passes.
 */
#include <dirent.h>
#include <event2/event.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include "apiserver/apiserver.h"
#include "test_fs.h"
#include "base/clock.h"
#include "base/log.h"
#include "kube/client.h"
#include "kube/kubeconfig.h"

struct kube_fixture {
	char dir[64];
	struct event_base *srv_base;
	struct llmo_apiserver *srv;
	struct event *quit_ev;
	int quit_fds[2];
	struct event *pause_ev;
	int pause_fds[2];
	pthread_t thread;
	struct llmo_kube_client *client;
	struct event_base *base; /* the test's loop */
	char url[64];		 /* http://127.0.0.1:PORT */
};

LLMO_UNUSED static void fixture_on_quit(evutil_socket_t fd, short what, void *arg)
{
	event_base_loopbreak(arg);
}

/* Blocks the server's loop for the milliseconds written to the pipe (an unresponsive server). */
LLMO_UNUSED static void fixture_on_pause(evutil_socket_t fd, short what, void *arg)
{
	struct timespec ts;
	long ms;

	if (read(fd, &ms, sizeof(ms)) != sizeof(ms))
		return;
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	nanosleep(&ts, NULL);
}

LLMO_UNUSED static void fixture_pause_server(struct kube_fixture *f, long ms)
{
	if (write(f->pause_fds[1], &ms, sizeof(ms)) != sizeof(ms))
		fail_msg("cannot pause the server");
}

LLMO_UNUSED static void *fixture_server_main(void *arg)
{
	struct kube_fixture *f = arg;

	event_base_loop(f->srv_base, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

/* plain_http false serves HTTPS with the server's own CA (the kubeconfig carries it). */
LLMO_UNUSED static int fixture_start_with(struct kube_fixture *f, bool plain_http)
{
	struct llmo_apiserver_opts opts = {0};
	struct llmo_kube_config cfg;
	struct llmo_error err = {0};

	memset(f, 0, sizeof(*f));
	llmo_log_set_level(LLMO_LOG_WARN);
	snprintf(f->dir, sizeof(f->dir), "/tmp/llmo-test-kube-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	f->srv_base = event_base_new();
	f->base = event_base_new();
	if (!f->srv_base || !f->base || pipe(f->quit_fds) < 0 || pipe(f->pause_fds) < 0)
		return -1;
	opts.data_dir = f->dir;
	opts.listen_host = "127.0.0.1";
	opts.listen_port = 0;
	opts.plain_http = plain_http;
	opts.quiet = true;
	if (llmo_apiserver_new(f->srv_base, &opts, &f->srv, &err)) {
		fprintf(stderr, "llmo_apiserver_new: %s\n", err.msg);
		return -1;
	}
	snprintf(f->url, sizeof(f->url), "%s://127.0.0.1:%d", plain_http ? "http" : "https",
		 llmo_apiserver_port(f->srv));
	f->quit_ev = event_new(f->srv_base, f->quit_fds[0], EV_READ, fixture_on_quit, f->srv_base);
	f->pause_ev = event_new(f->srv_base, f->pause_fds[0], EV_READ | EV_PERSIST,
				fixture_on_pause, NULL);
	if (!f->quit_ev || event_add(f->quit_ev, NULL) < 0 || !f->pause_ev ||
	    event_add(f->pause_ev, NULL) < 0)
		return -1;
	if (llmo_kube_config_load(llmo_apiserver_kubeconfig(f->srv), NULL, &cfg, &err)) {
		fprintf(stderr, "kubeconfig: %s\n", err.msg);
		return -1;
	}
	if (llmo_kube_client_new(&cfg, &f->client, &err)) {
		fprintf(stderr, "client: %s\n", err.msg);
		llmo_kube_config_release(&cfg);
		return -1;
	}
	llmo_kube_config_release(&cfg);
	if (pthread_create(&f->thread, NULL, fixture_server_main, f))
		return -1;
	return 0;
}

LLMO_UNUSED static int fixture_start(struct kube_fixture *f)
{
	return fixture_start_with(f, true);
}

LLMO_UNUSED static void fixture_stop(struct kube_fixture *f)
{
	char b = 1;

	if (write(f->quit_fds[1], &b, 1) == 1)
		pthread_join(f->thread, NULL);
	llmo_kube_client_free(f->client);
	event_free(f->quit_ev);
	event_free(f->pause_ev);
	llmo_apiserver_free(f->srv);
	event_base_free(f->srv_base);
	event_base_free(f->base);
	close(f->quit_fds[0]);
	close(f->quit_fds[1]);
	close(f->pause_fds[0]);
	close(f->pause_fds[1]);
	test_rm_rf(f->dir);
}

LLMO_UNUSED static void fixture_tick(evutil_socket_t fd, short what, void *arg)
{
}

/*
 * Runs base until pred(ctx) holds or timeout_ms pass; returns pred's last
 * value. A 10 ms tick keeps event_base_loop(EVLOOP_ONCE) from blocking.
 */
LLMO_UNUSED static bool run_until(struct event_base *base, bool (*pred)(void *ctx), void *ctx,
				  long timeout_ms)
{
	int64_t end = llmo_clock_mono_ms() + timeout_ms;
	struct timeval tv = {0, 10000};
	struct event *tick = event_new(base, -1, EV_PERSIST, fixture_tick, NULL);
	bool ok;

	event_add(tick, &tv);
	while (!(ok = pred(ctx)) && llmo_clock_mono_ms() < end)
		event_base_loop(base, EVLOOP_ONCE);
	event_free(tick);
	return ok;
}

LLMO_UNUSED static bool never(void *ctx)
{
	return false;
}

/* Runs base for ms milliseconds. */
LLMO_UNUSED static void run_for(struct event_base *base, long ms)
{
	run_until(base, never, NULL, ms);
}

/* A ConfigMap {metadata: {name, labels: {app: app}}, data: {k: v}} (new reference). */
LLMO_UNUSED static json_t *configmap(const char *name, const char *app, const char *v)
{
	json_t *cm = json_pack("{s:s, s:s, s:{s:s}, s:{s:s}}", "apiVersion", "v1", "kind",
			       "ConfigMap", "metadata", "name", name, "data", "k", v);

	if (app)
		json_object_set_new(json_object_get(cm, "metadata"), "labels",
				    json_pack("{s:s}", "app", app));
	return cm;
}

LLMO_UNUSED static const char *meta_str(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(json_object_get(obj, "metadata"), key));
}

#endif
