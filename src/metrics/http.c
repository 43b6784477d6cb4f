/*
 * The /metrics listener (http.h) on libevent's evhttp.
 */
#include "base/common.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "metrics/http.h"
#include "metrics/metrics.h"

#include "base/banned.h"

struct llmo_metrics_http {
	struct evhttp *http;
	llmo_metrics_write_fn write;
	void *arg;
	llmo_metrics_ready_fn ready; /* NULL: ready while it serves */
	void *ready_arg;
	int port;
};

void llmo_metrics_http_set_ready(struct llmo_metrics_http *h, llmo_metrics_ready_fn fn,
				 void *arg)
{
	h->ready = fn;
	h->ready_arg = arg;
}

static void serve(struct evhttp_request *req, void *arg)
{
	struct llmo_metrics_http *h = arg;
	struct llmo_error err = {0};
	const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	struct evbuffer *b;
	struct llmo_buf text;

	if (!path || (strcmp(path, "/metrics") != 0 && strcmp(path, "/healthz") != 0 &&
		      strcmp(path, "/readyz") != 0)) {
		evhttp_send_error(req, 404, "only /metrics, /healthz and /readyz");
		return;
	}
	if (!(b = evbuffer_new())) {
		evhttp_send_error(req, 500, "out of memory");
		return;
	}
	if (strcmp(path, "/healthz") == 0 || strcmp(path, "/readyz") == 0) {
		bool ready = path[1] == 'h' || !h->ready || h->ready(h->ready_arg);

		evbuffer_add_printf(b, ready ? "ok\n" : "not ready\n");
		evhttp_send_reply(req, ready ? 200 : 503, ready ? "OK" : "Service Unavailable", b);
		evbuffer_free(b);
		return;
	}
	llmo_buf_init(&text, LLMO_METRICS_HTTP_MAX);
	if (h->write(h->arg, &text, &err)) {
		evhttp_send_error(req, 500, err.msg[0] ? err.msg : "cannot write the metrics");
	} else {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
				  LLMO_METRICS_CONTENT_TYPE);
		evbuffer_add(b, text.data ? text.data : "", text.len);
		evhttp_send_reply(req, 200, "OK", b);
	}
	llmo_buf_release(&text);
	evbuffer_free(b);
}

int llmo_metrics_http_new(struct event_base *base, const char *host, int port,
			  llmo_metrics_write_fn write, void *arg, struct llmo_metrics_http **out,
			  struct llmo_error *err)
{
	struct llmo_metrics_http *h = calloc(1, sizeof(*h));
	struct evhttp_bound_socket *s;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	*out = NULL;
	if (!h || !(h->http = evhttp_new(base))) {
		free(h);
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	}
	h->write = write;
	h->arg = arg;
	evhttp_set_gencb(h->http, serve, h);
	evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	if (!(s = evhttp_bind_socket_with_handle(h->http, host, (ev_uint16_t)port))) {
		llmo_metrics_http_free(h);
		return llmo_error_set(err, LLMO_EIO, "metrics: cannot listen on %s:%d", host, port);
	}
	if (getsockname(evhttp_bound_socket_get_fd(s), (struct sockaddr *)&ss, &len) == 0)
		h->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
							 : ((struct sockaddr_in *)&ss)->sin_port);
	*out = h;
	return 0;
}

int llmo_metrics_http_port(const struct llmo_metrics_http *h)
{
	return h ? h->port : 0;
}

void llmo_metrics_http_free(struct llmo_metrics_http *h)
{
	if (!h)
		return;
	if (h->http)
		evhttp_free(h->http);
	free(h);
}
