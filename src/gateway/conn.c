/*
 * Lean non-blocking connections for the proxy (conn.h).
 *
 * Each connection has a persistent read event, added while reading is
 * enabled (its timeout restarts at every read: an idle timeout), and a
 * persistent write event, added only while output waits for the socket or
 * while connecting. Everything the owner may see happens in those two
 * events' callbacks: a flush that fails stores the error and activates the
 * write event to report it. `busy` counts the callbacks on the stack, so
 * that a connection freed from its own callback is only marked dead (socket
 * closed, events removed) and freed when the last one returns.
 */
#include "base/common.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "gateway/conn.h"

#include "base/banned.h"

/* Pieces of the output handed to one sendmsg. */
#define WRITE_IOV_MAX 64

struct llmo__gw_conn {
	struct llmo__gw_io *io;
	int fd;
	struct event *rev, *wev;
	struct evbuffer *in, *out;
	struct llmo__gw_conn_cbs cbs;
	void *arg;
	int64_t read_ms, write_ms;
	bool reading;	   /* rev is added */
	bool w_armed;	   /* wev is added */
	bool connecting;   /* connect() in progress */
	bool want_drained; /* call on_drained once the output is empty */
	int error;	   /* errno of a failure to report from the loop */
	short error_what;  /* its flags */
	int busy;	   /* callbacks of c on the stack */
	bool dead;	   /* freed while busy */
};

static struct timeval tv_of(int64_t ms)
{
	struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};

	return tv;
}

static void really_free(struct llmo__gw_conn *c)
{
	if (c->rev)
		event_free(c->rev);
	if (c->wev)
		event_free(c->wev);
	if (c->in)
		evbuffer_free(c->in);
	if (c->out)
		evbuffer_free(c->out);
	if (c->fd >= 0)
		close(c->fd);
	free(c);
}

static void release(struct llmo__gw_conn *c)
{
	if (--c->busy == 0 && c->dead)
		really_free(c);
}

void llmo__gw_conn_free(struct llmo__gw_conn *c)
{
	if (!c)
		return;
	if (!c->busy) {
		really_free(c);
		return;
	}
	if (c->dead)
		return;
	c->dead = true;
	event_del(c->rev);
	event_del(c->wev);
	close(c->fd);
	c->fd = -1;
}

static void arm_write(struct llmo__gw_conn *c)
{
	struct timeval tv = tv_of(c->write_ms);

	event_add(c->wev, c->write_ms > 0 ? &tv : NULL);
	c->w_armed = true;
}

static void disarm_write(struct llmo__gw_conn *c)
{
	if (c->w_armed)
		event_del(c->wev);
	c->w_armed = false;
}

/* Remembers a failure and has the loop report it. */
static void fail_later(struct llmo__gw_conn *c, int error, short what)
{
	if (c->error)
		return;
	c->error = error ? error : EIO;
	c->error_what = what;
	event_active(c->wev, EV_WRITE, 0);
}

/* Writes as much of the output as the socket takes: 0, or an errno. */
static int write_some(struct llmo__gw_conn *c)
{
	while (evbuffer_get_length(c->out) > 0) {
		struct evbuffer_iovec v[WRITE_IOV_MAX];
		struct iovec iov[WRITE_IOV_MAX];
		struct msghdr msg = {0};
		int n = evbuffer_peek(c->out, -1, NULL, v, WRITE_IOV_MAX);
		ssize_t w;

		if (n > WRITE_IOV_MAX)
			n = WRITE_IOV_MAX;
		for (int i = 0; i < n; i++) {
			iov[i].iov_base = v[i].iov_base;
			iov[i].iov_len = v[i].iov_len;
		}
		msg.msg_iov = iov;
		msg.msg_iovlen = (size_t)n;
		/* MSG_NOSIGNAL: a peer gone is an error here, not a SIGPIPE for the process */
		w = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			if (errno == EINTR)
				continue;
			return errno;
		}
		evbuffer_drain(c->out, (size_t)w);
	}
	return 0;
}

void llmo__gw_conn_flush(struct llmo__gw_conn *c)
{
	int e;

	if (c->dead || c->connecting || c->error || evbuffer_get_length(c->out) == 0)
		return;
	e = write_some(c);
	if (e) {
		fail_later(c, e, LLMO__GW_CONN_ERROR | LLMO__GW_CONN_WRITING);
		return;
	}
	if (evbuffer_get_length(c->out) > 0) {
		c->want_drained = true;
		arm_write(c);
	}
}

static void emit(struct llmo__gw_conn *c, short what)
{
	c->cbs.on_event(c, what, c->arg);
}

static void on_write(evutil_socket_t fd, short what, void *arg)
{
	struct llmo__gw_conn *c = arg;
	int e;

	c->busy++;
	if (c->dead)
		goto out;
	if (c->error) {
		disarm_write(c);
		emit(c, c->error_what);
		goto out;
	}
	if (what & EV_TIMEOUT) {
		disarm_write(c);
		emit(c, LLMO__GW_CONN_TIMEOUT | LLMO__GW_CONN_WRITING);
		goto out;
	}
	if (c->connecting) {
		int err = 0;
		socklen_t len = sizeof(err);

		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		if (err == EINPROGRESS || err == EALREADY)
			goto out;
		if (err) {
			c->error = err;
			disarm_write(c);
			emit(c, LLMO__GW_CONN_ERROR | LLMO__GW_CONN_WRITING);
			goto out;
		}
		c->connecting = false;
		emit(c, LLMO__GW_CONN_CONNECTED);
		if (c->dead)
			goto out;
	}
	e = write_some(c);
	if (e) {
		c->error = e;
		disarm_write(c);
		emit(c, LLMO__GW_CONN_ERROR | LLMO__GW_CONN_WRITING);
		goto out;
	}
	if (evbuffer_get_length(c->out) > 0) {
		if (!c->w_armed)
			arm_write(c);
		goto out;
	}
	disarm_write(c);
	if (c->want_drained) {
		c->want_drained = false;
		if (c->cbs.on_drained)
			c->cbs.on_drained(c, c->arg);
	}
out:
	release(c);
}

static void stop_reading(struct llmo__gw_conn *c)
{
	if (c->reading)
		event_del(c->rev);
	c->reading = false;
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
	struct llmo__gw_conn *c = arg;
	ssize_t n;

	c->busy++;
	if (c->dead)
		goto out;
	if (what & EV_TIMEOUT) {
		stop_reading(c);
		emit(c, LLMO__GW_CONN_TIMEOUT | LLMO__GW_CONN_READING);
		goto out;
	}
	n = read(c->fd, c->io->scratch, LLMO__GW_CONN_READ_MAX);
	if (n > 0) {
		if (evbuffer_add(c->in, c->io->scratch, (size_t)n) < 0) {
			stop_reading(c);
			c->error = ENOMEM;
			emit(c, LLMO__GW_CONN_ERROR | LLMO__GW_CONN_READING);
		} else {
			c->cbs.on_read(c, c->arg);
		}
	} else if (n == 0) {
		stop_reading(c);
		emit(c, LLMO__GW_CONN_EOF | LLMO__GW_CONN_READING);
	} else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
		stop_reading(c);
		c->error = errno;
		emit(c, LLMO__GW_CONN_ERROR | LLMO__GW_CONN_READING);
	}
out:
	release(c);
}

struct llmo__gw_conn *llmo__gw_conn_new(struct llmo__gw_io *io, int fd,
					const struct llmo__gw_conn_cbs *cbs, void *arg)
{
	struct llmo__gw_conn *c = calloc(1, sizeof(*c));

	if (!c) {
		close(fd);
		return NULL;
	}
	c->io = io;
	c->fd = fd;
	c->cbs = *cbs;
	c->arg = arg;
	c->rev = event_new(io->base, fd, EV_READ | EV_PERSIST, on_read, c);
	c->wev = event_new(io->base, fd, EV_WRITE | EV_PERSIST, on_write, c);
	c->in = evbuffer_new();
	c->out = evbuffer_new();
	if (!c->rev || !c->wev || !c->in || !c->out) {
		really_free(c);
		return NULL;
	}
	return c;
}

struct llmo__gw_conn *llmo__gw_conn_connect(struct llmo__gw_io *io, const struct sockaddr *sa,
					    socklen_t salen, int64_t connect_timeout_ms,
					    const struct llmo__gw_conn_cbs *cbs, void *arg)
{
	struct llmo__gw_conn *c;
	int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0)
		return NULL;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c = llmo__gw_conn_new(io, fd, cbs, arg);
	if (!c)
		return NULL;
	c->connecting = true;
	c->write_ms = connect_timeout_ms;
	if (connect(fd, sa, salen) == 0 || errno == EINPROGRESS)
		arm_write(c);
	else
		fail_later(c, errno, LLMO__GW_CONN_ERROR | LLMO__GW_CONN_WRITING);
	return c;
}

struct evbuffer *llmo__gw_conn_input(struct llmo__gw_conn *c)
{
	return c->in;
}

struct evbuffer *llmo__gw_conn_output(struct llmo__gw_conn *c)
{
	return c->out;
}

int llmo__gw_conn_fd(const struct llmo__gw_conn *c)
{
	return c->fd;
}

bool llmo__gw_conn_connected(const struct llmo__gw_conn *c)
{
	return !c->connecting && !c->error;
}

void llmo__gw_conn_read(struct llmo__gw_conn *c, bool on)
{
	struct timeval tv = tv_of(c->read_ms);

	if (c->dead || on == c->reading)
		return;
	if (!on) {
		stop_reading(c);
		return;
	}
	event_add(c->rev, c->read_ms > 0 ? &tv : NULL);
	c->reading = true;
}

void llmo__gw_conn_timeouts(struct llmo__gw_conn *c, int64_t read_ms, int64_t write_ms)
{
	struct timeval rtv = tv_of(read_ms), wtv = tv_of(write_ms);

	if (c->dead)
		return;
	if (c->reading && read_ms != c->read_ms) {
		if (read_ms > 0)
			event_add(c->rev, &rtv);
		else
			event_remove_timer(c->rev);
	}
	if (c->w_armed && write_ms != c->write_ms) {
		if (write_ms > 0)
			event_add(c->wev, &wtv);
		else
			event_remove_timer(c->wev);
	}
	c->read_ms = read_ms;
	c->write_ms = write_ms;
}

void llmo__gw_conn_defer_drained(struct llmo__gw_conn *c)
{
	if (c->dead)
		return;
	c->want_drained = true;
	event_active(c->wev, EV_WRITE, 0);
}
