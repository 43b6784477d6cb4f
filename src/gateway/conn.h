#ifndef LLMO_GATEWAY_CONN_H
#define LLMO_GATEWAY_CONN_H
/*
 * Internal to src/gateway: struct llmo__gw_conn, a non-blocking TCP
 * connection on a libevent loop with an input and an output evbuffer; the
 * slice of bufferevent's behaviour the proxy needs, in fewer system calls.
 *
 * Why not bufferevent: it writes only from the loop (each answer costs an
 * epoll_ctl to watch for writability, a wake-up, the write, and another
 * epoll_ctl), and asks FIONREAD before every read. Here a flush writes at
 * once and watches for writability only when the socket's buffer is full;
 * reads go straight into a scratch buffer shared by all connections of
 * the loop. A proxied request costs a read and a write on each side.
 *
 * Callbacks run from the loop only, never from inside a call of the
 * owner's: an error met by a flush is reported from the loop afterwards.
 * A connection may be freed from inside its own callbacks (the memory goes
 * when the callback returns).
 *
 *     on_read     bytes were appended to the input (reading is enabled)
 *     on_drained  the output became empty after a flush could not finish
 *                 it, or after llmo__gw_conn_defer_drained
 *     on_event    CONNECTED; or EOF, ERROR or TIMEOUT with READING or
 *                 WRITING (reading stops at EOF and ERROR)
 *
 * Timeouts: the read timeout is the longest silence while reading is
 * enabled; the write timeout the longest wait for writability while output
 * waits, and the connect timeout while connecting.
 */
#include "base/common.h"

#include <sys/socket.h>

struct event_base;
struct evbuffer;
struct llmo_error;
struct ssl_ctx_st; /* OpenSSL's SSL_CTX */

#define LLMO__GW_CONN_READING 0x01
#define LLMO__GW_CONN_WRITING 0x02
#define LLMO__GW_CONN_EOF 0x10
#define LLMO__GW_CONN_ERROR 0x20
#define LLMO__GW_CONN_TIMEOUT 0x40
#define LLMO__GW_CONN_CONNECTED 0x80

/* Bytes read from a socket at a time (the shared scratch buffer's size). */
#define LLMO__GW_CONN_READ_MAX 65536

struct llmo__gw_conn;

/* What all connections of one loop share; owned by the gateway. */
struct llmo__gw_io {
	struct event_base *base;
	char *scratch; /* LLMO__GW_CONN_READ_MAX bytes */
};

struct llmo__gw_conn_cbs {
	void (*on_read)(struct llmo__gw_conn *c, void *arg);
	void (*on_drained)(struct llmo__gw_conn *c, void *arg); /* may be NULL */
	void (*on_event)(struct llmo__gw_conn *c, short what, void *arg);
};

/*
 * Wraps fd (connected, non-blocking; owned from now on: closed by
 * llmo__gw_conn_free). Reading starts disabled. NULL when out of memory
 * (fd is then closed).
 */
struct llmo__gw_conn *llmo__gw_conn_new(struct llmo__gw_io *io, int fd,
					const struct llmo__gw_conn_cbs *cbs, void *arg);
/*
 * Starts connecting to sa; CONNECTED or ERROR|WRITING follows from the loop
 * (also for a connection refused at once). NULL when no socket could be made.
 */
struct llmo__gw_conn *llmo__gw_conn_connect(struct llmo__gw_io *io, const struct sockaddr *sa,
					    socklen_t salen, int64_t connect_timeout_ms,
					    const struct llmo__gw_conn_cbs *cbs, void *arg);
/* Closes the socket and frees c (later when inside one of c's callbacks). NULL is fine. */
void llmo__gw_conn_free(struct llmo__gw_conn *c);

struct evbuffer *llmo__gw_conn_input(struct llmo__gw_conn *c);
struct evbuffer *llmo__gw_conn_output(struct llmo__gw_conn *c);
int llmo__gw_conn_fd(const struct llmo__gw_conn *c);
bool llmo__gw_conn_connected(const struct llmo__gw_conn *c);

/* Writes what the socket takes now; the rest goes when it is writable. */
void llmo__gw_conn_flush(struct llmo__gw_conn *c);
/* Starts or stops reading. */
void llmo__gw_conn_read(struct llmo__gw_conn *c, bool on);
/* Sets the timeouts in ms (0: none). */
void llmo__gw_conn_timeouts(struct llmo__gw_conn *c, int64_t read_ms, int64_t write_ms);
/*
 * Serves TLS on c, a connection just accepted, before reading is enabled:
 * the handshake runs from the loop as the client's bytes come; on_read sees
 * plaintext only. A handshake that fails (a plain-HTTP client is answered a
 * plain 400 first) is ERROR|READING. 0, or LLMO_ENOMEM. OpenSSL writes to
 * the socket with write(2): the process must ignore SIGPIPE (llmo's
 * commands do).
 */
int llmo__gw_conn_tls_accept(struct llmo__gw_conn *c, struct ssl_ctx_st *ctx);
/*
 * Speaks TLS as a client on c, a connection just made by
 * llmo__gw_conn_connect: after CONNECTED the handshake runs from the loop
 * (output waits for it), the server's certificate must verify against ctx's
 * CA and name server_name (also sent as SNI). A failed handshake or
 * verification is ERROR|READING. 0, or LLMO_ENOMEM.
 */
int llmo__gw_conn_tls_connect(struct llmo__gw_conn *c, struct ssl_ctx_st *ctx,
			      const char *server_name);
/* A client TLS context that trusts the PEM CA file ca only. Errors name the file. */
int llmo__gw_tls_client_ctx_new(const char *ca, struct ssl_ctx_st **out, struct llmo_error *err);
/* Ends sending (TLS: close_notify first); reading goes on. */
void llmo__gw_conn_shutdown_write(struct llmo__gw_conn *c);
/*
 * A server TLS context from a PEM certificate chain and key. Errors name
 * the file: LLMO_ENOTFOUND (missing), LLMO_EINVAL (unreadable, not PEM, or
 * a key that does not match the certificate).
 */
int llmo__gw_tls_ctx_new(const char *cert, const char *key, struct ssl_ctx_st **out,
			 struct llmo_error *err);

/* Calls on_drained from the loop once the output is empty (at once when it is). */
void llmo__gw_conn_defer_drained(struct llmo__gw_conn *c);

#endif
