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
 *
 * TLS (llmo__gw_conn_tls_accept) sits in the same two events: SSL_read and
 * SSL_write on the socket itself (no BIO pair, no bufferevent), so an
 * HTTPS request costs the same reads and writes as a plain one plus what
 * the records need. The handshake runs from the read event (and from the
 * write event when it waits for the socket); a client that speaks plain
 * HTTP to a TLS port is told so in plain HTTP and closed.
 */
#include "base/common.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "base/error.h"
#include "gateway/conn.h"

#include "base/banned.h"

/* Pieces of the output handed to one sendmsg. */
#define WRITE_IOV_MAX 64
/* The first byte of a TLS record that carries a handshake (a ClientHello). */
#define TLS_HANDSHAKE_RECORD 0x16
/* What a plain-HTTP client on a TLS port reads before the close. */
static const char plain_on_tls[] = "HTTP/1.1 400 Bad Request\r\n"
				   "Content-Type: text/plain\r\n"
				   "Content-Length: 47\r\n"
				   "Connection: close\r\n"
				   "\r\n"
				   "This port speaks HTTPS: the request was plain.\n";

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
	SSL *ssl;	   /* TLS; NULL: plain */
	bool handshaking;  /* ssl's handshake is not done */
	bool peeked;	   /* the first byte was seen to be a TLS handshake */
	bool read_wants_write; /* SSL_read waits for the socket to be writable */
	bool hs_reading;       /* rev is added for the handshake only (a client's) */
};

static struct timeval tv_of(int64_t ms)
{
	struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};

	return tv;
}

/* Sends TLS's close_notify once, if the session is up (best effort: never blocks). */
static void tls_close_notify(struct llmo__gw_conn *c)
{
	if (!c->ssl || c->handshaking || c->error || c->fd < 0 ||
	    (SSL_get_shutdown(c->ssl) & SSL_SENT_SHUTDOWN))
		return;
	if (SSL_shutdown(c->ssl) < 0)
		ERR_clear_error();
}

static void really_free(struct llmo__gw_conn *c)
{
	tls_close_notify(c);
	if (c->ssl)
		SSL_free(c->ssl);
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
	tls_close_notify(c);
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

/*
 * An errno for the failed SSL call whose SSL_get_error is e; 0 when it only
 * waits for the socket (EAGAIN-like). Clears OpenSSL's error queue.
 */
static int tls_errno(int e)
{
	int r = e == SSL_ERROR_SYSCALL ? (errno ? errno : EPIPE) : EPROTO;

	ERR_clear_error();
	return r;
}

/*
 * SSL_write of the output's front, copied into the loop's scratch buffer so
 * that small pieces (a head, a chunk) go out as one record. After a
 * WANT_WRITE, OpenSSL wants the same bytes again, at least as many: the
 * front of the output only grows until it is drained, and
 * SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER allows the copy to be a new one.
 */
static int tls_write_some(struct llmo__gw_conn *c)
{
	size_t len;

	while ((len = evbuffer_get_length(c->out)) > 0) {
		ev_ssize_t got;
		int w;

		if (len > LLMO__GW_CONN_READ_MAX)
			len = LLMO__GW_CONN_READ_MAX;
		got = evbuffer_copyout(c->out, c->io->scratch, len);
		if (got <= 0)
			return EIO;
		w = SSL_write(c->ssl, c->io->scratch, (int)got);
		if (w <= 0) {
			int e = SSL_get_error(c->ssl, w);

			if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ)
				return 0;
			return tls_errno(e);
		}
		evbuffer_drain(c->out, (size_t)w);
	}
	return 0;
}

/* Writes as much of the output as the socket takes: 0, or an errno. */
static int write_some(struct llmo__gw_conn *c)
{
	if (c->ssl)
		return tls_write_some(c);
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

	if (c->dead || c->connecting || c->handshaking || c->error ||
	    evbuffer_get_length(c->out) == 0)
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

static void stop_reading(struct llmo__gw_conn *c)
{
	if (c->reading)
		event_del(c->rev);
	c->reading = false;
}

static void read_failed(struct llmo__gw_conn *c, int error)
{
	stop_reading(c);
	if (c->hs_reading) { /* a client's handshake failed */
		event_del(c->rev);
		c->hs_reading = false;
	}
	c->error = error;
	emit(c, LLMO__GW_CONN_ERROR | LLMO__GW_CONN_READING);
}

static void plain_read(struct llmo__gw_conn *c)
{
	ssize_t n = read(c->fd, c->io->scratch, LLMO__GW_CONN_READ_MAX);

	if (n > 0) {
		if (evbuffer_add(c->in, c->io->scratch, (size_t)n) < 0)
			read_failed(c, ENOMEM);
		else
			c->cbs.on_read(c, c->arg);
	} else if (n == 0) {
		stop_reading(c);
		emit(c, LLMO__GW_CONN_EOF | LLMO__GW_CONN_READING);
	} else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
		read_failed(c, errno);
	}
}

/*
 * Reads the records the socket holds, up to the scratch buffer's size, and
 * hands them over in one on_read. Stops when OpenSSL holds nothing more:
 * what is left in the socket wakes the (level-triggered) read event again,
 * which spares the read that would only say EAGAIN.
 */
static void tls_read(struct llmo__gw_conn *c)
{
	size_t got = 0;
	int error = 0;
	bool eof = false;

	while (got < LLMO__GW_CONN_READ_MAX) {
		int n = SSL_read(c->ssl, c->io->scratch, LLMO__GW_CONN_READ_MAX);

		if (n > 0) {
			if (evbuffer_add(c->in, c->io->scratch, (size_t)n) < 0) {
				error = ENOMEM;
				break;
			}
			got += (size_t)n;
			if (!SSL_has_pending(c->ssl))
				break;
			continue;
		}
		int e = SSL_get_error(c->ssl, n);

		switch (e) {
		case SSL_ERROR_WANT_READ:
			break;
		case SSL_ERROR_WANT_WRITE:
			c->read_wants_write = true;
			if (!c->w_armed)
				arm_write(c);
			break;
		case SSL_ERROR_ZERO_RETURN:
			eof = true;
			break;
		default:
			error = tls_errno(e);
			break;
		}
		break;
	}
	if (got > 0) {
		c->cbs.on_read(c, c->arg);
		if (c->dead)
			return;
	}
	if (error) {
		read_failed(c, error);
	} else if (eof && c->reading) {
		stop_reading(c);
		emit(c, LLMO__GW_CONN_EOF | LLMO__GW_CONN_READING);
	}
}

/*
 * Moves the handshake on; true once it is done (reading may go on). A first
 * byte that is no TLS handshake is a plain-HTTP client: it gets a plain 400
 * (best effort, one send) and the connection fails with EPROTO.
 */
static bool tls_handshake(struct llmo__gw_conn *c)
{
	int r, e;

	if (!c->peeked) {
		unsigned char b;
		ssize_t n = recv(c->fd, &b, 1, MSG_PEEK);

		if (n == 0) {
			stop_reading(c);
			emit(c, LLMO__GW_CONN_EOF | LLMO__GW_CONN_READING);
			return false;
		}
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				read_failed(c, errno);
			return false;
		}
		if (b != TLS_HANDSHAKE_RECORD) {
			/*
			 * Read the request first: closing with unread bytes would send a
			 * reset, which may destroy the answer before the client reads it.
			 */
			if (read(c->fd, c->io->scratch, LLMO__GW_CONN_READ_MAX) < 0 ||
			    send(c->fd, plain_on_tls, sizeof(plain_on_tls) - 1, MSG_NOSIGNAL) < 0)
				errno = 0; /* best effort: the peer learns it from the close anyway */
			read_failed(c, EPROTO);
			return false;
		}
		c->peeked = true;
	}
	r = SSL_do_handshake(c->ssl);
	if (r == 1) {
		c->handshaking = false;
		if (c->hs_reading) {
			c->hs_reading = false;
			if (!c->reading)
				event_del(c->rev);
		}
		if (evbuffer_get_length(c->out) > 0)
			llmo__gw_conn_flush(c);
		return true;
	}
	e = SSL_get_error(c->ssl, r);
	if (e == SSL_ERROR_WANT_READ) {
		/* output waits for the handshake (flush holds it), not for the socket */
		if (c->w_armed)
			disarm_write(c);
		/* a client's handshake reads whether or not its owner reads yet */
		if (!c->reading && !c->hs_reading) {
			event_add(c->rev, NULL);
			c->hs_reading = true;
		}
		return false;
	}
	if (e == SSL_ERROR_WANT_WRITE) {
		if (!c->w_armed)
			arm_write(c);
		return false;
	}
	read_failed(c, tls_errno(e));
	return false;
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
	if (c->handshaking) {
		if (!tls_handshake(c))
			goto out;
		if (c->dead)
			goto out;
	}
	if (c->read_wants_write) {
		c->read_wants_write = false;
		tls_read(c);
		if (c->dead || c->error)
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

static void on_read(evutil_socket_t fd, short what, void *arg)
{
	struct llmo__gw_conn *c = arg;

	c->busy++;
	if (c->dead)
		goto out;
	if (what & EV_TIMEOUT) {
		stop_reading(c);
		emit(c, LLMO__GW_CONN_TIMEOUT | LLMO__GW_CONN_READING);
		goto out;
	}
	if (c->handshaking && !tls_handshake(c))
		goto out;
	if (!c->reading) /* armed for the handshake only */
		goto out;
	if (c->ssl)
		tls_read(c);
	else
		plain_read(c);
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
		if (c->hs_reading) /* the handshake still reads */
			c->reading = false;
		else
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

int llmo__gw_conn_tls_accept(struct llmo__gw_conn *c, struct ssl_ctx_st *ctx)
{
	c->ssl = SSL_new(ctx);
	if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1) {
		ERR_clear_error();
		return LLMO_ENOMEM;
	}
	SSL_set_accept_state(c->ssl);
	c->handshaking = true;
	return 0;
}

int llmo__gw_conn_tls_connect(struct llmo__gw_conn *c, struct ssl_ctx_st *ctx,
			      const char *server_name)
{
	c->ssl = SSL_new(ctx);
	if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1 ||
	    SSL_set_tlsext_host_name(c->ssl, server_name) != 1 ||
	    SSL_set1_host(c->ssl, server_name) != 1) {
		ERR_clear_error();
		return LLMO_ENOMEM;
	}
	SSL_set_connect_state(c->ssl);
	c->handshaking = true;
	c->peeked = true; /* the peek at the first byte is a server's */
	return 0;
}

void llmo__gw_conn_shutdown_write(struct llmo__gw_conn *c)
{
	if (c->dead)
		return;
	tls_close_notify(c);
	shutdown(c->fd, SHUT_WR);
}

static int tls_file_error(struct llmo_error *err, const char *path, const char *what)
{
	char buf[256];

	ERR_error_string_n(ERR_get_error(), buf, sizeof(buf));
	ERR_clear_error();
	return llmo_error_set(err, LLMO_EINVAL, "%s: %s: %s", path, what, buf);
}

/* A context of either side: TLS 1.2 or later, the gateway's modes; NULL when out of memory. */
static SSL_CTX *ctx_new(const SSL_METHOD *method)
{
	SSL_CTX *ctx = SSL_CTX_new(method);

	if (!ctx) {
		ERR_clear_error();
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/* a peer gone without close_notify is an EOF, as on a plain connection */
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF);
	/* idle keep-alive connections give their record buffers back (RSS with many clients) */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
				      SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	return ctx;
}

int llmo__gw_tls_ctx_new(const char *cert, const char *key, struct ssl_ctx_st **out,
			 struct llmo_error *err)
{
	SSL_CTX *ctx = NULL;
	int rc = 0;

	*out = NULL;
	/* fopen first: "no such file" and "permission denied" say more than a PEM error */
	for (int i = 0; i < 2; i++) {
		const char *path = i ? key : cert;
		FILE *f = fopen(path, "r");

		if (!f)
			return llmo_error_set(err, errno == ENOENT ? LLMO_ENOTFOUND : LLMO_EINVAL,
					      "%s: cannot read the TLS %s: %s", path,
					      i ? "key" : "certificate", strerror(errno));
		fclose(f);
	}
	if (!(ctx = ctx_new(TLS_server_method())))
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1)
		rc = tls_file_error(err, cert, "cannot load the TLS certificate");
	else if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
		rc = tls_file_error(err, key, "cannot load the TLS key");
	else if (SSL_CTX_check_private_key(ctx) != 1)
		rc = tls_file_error(err, key, "the key does not match the certificate");
	if (rc) {
		SSL_CTX_free(ctx);
		return rc;
	}
	*out = ctx;
	return 0;
}

int llmo__gw_tls_client_ctx_new(const char *ca, struct ssl_ctx_st **out, struct llmo_error *err)
{
	SSL_CTX *ctx;
	FILE *f = fopen(ca, "r");

	*out = NULL;
	if (!f)
		return llmo_error_set(err, errno == ENOENT ? LLMO_ENOTFOUND : LLMO_EINVAL,
				      "%s: cannot read the upstream CA: %s", ca, strerror(errno));
	fclose(f);
	if (!(ctx = ctx_new(TLS_client_method())))
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) {
		SSL_CTX_free(ctx);
		return tls_file_error(err, ca, "cannot load the upstream CA");
	}
	*out = ctx;
	return 0;
}

void llmo__gw_conn_defer_drained(struct llmo__gw_conn *c)
{
	if (c->dead)
		return;
	c->want_drained = true;
	event_active(c->wev, EV_WRITE, 0);
}
