#include "base/common.h"

#include <errno.h>
#include <sys/socket.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>

#include "base/http_watch.h"

#include "base/banned.h"

struct llmo_http_watch {
	struct evhttp_request *req;
	struct event *ev;
};

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
	struct llmo_http_watch *w = arg;
	struct evhttp_connection *conn = evhttp_request_get_connection(w->req);
	char c;
	ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);

	if (n > 0 || !conn)
		return;
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
		event_add(w->ev, NULL);
		return;
	}
	/* runs the connection's close callback, which may free w: touch nothing after */
	evhttp_connection_free(conn);
}

struct llmo_http_watch *llmo_http_watch_new(struct event_base *base, struct evhttp_request *req)
{
	struct evhttp_connection *conn = evhttp_request_get_connection(req);
	struct bufferevent *bev = conn ? evhttp_connection_get_bufferevent(conn) : NULL;
	evutil_socket_t fd = bev ? bufferevent_getfd(bev) : -1;
	struct llmo_http_watch *w;

	if (fd < 0)
		return NULL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->req = req;
	w->ev = event_new(base, fd, EV_READ, on_readable, w);
	if (!w->ev) {
		free(w);
		return NULL;
	}
	event_add(w->ev, NULL);
	return w;
}

void llmo_http_watch_free(struct llmo_http_watch *w)
{
	if (!w)
		return;
	event_free(w->ev);
	free(w);
}
