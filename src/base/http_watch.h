#ifndef LLMO_BASE_HTTP_WATCH_H
#define LLMO_BASE_HTTP_WATCH_H
/*
 * struct llmo_http_watch: notices that the client of an evhttp request went
 * away while the request waits for (or streams) its answer.
 *
 * evhttp (2.1) does not read a connection while the request on it is being
 * answered, so a client that left is noticed only when a write fails, which
 * for a pending answer is at the very end. The watch waits for the client's
 * socket to turn readable and peeks one byte: EOF or an error frees the
 * connection, which runs its close callback (where the owner of the request
 * cleans up, the watch included); pipelined bytes stop the watch.
 */
#include "base/common.h"

struct event_base;
struct evhttp_request;
struct llmo_http_watch;

/*
 * Starts watching the client of req on base. NULL when req has no connection
 * or socket, or out of memory: the caller then goes on without a watch.
 * The caller frees the watch (before or when req goes) with llmo_http_watch_free.
 */
struct llmo_http_watch *llmo_http_watch_new(struct event_base *base, struct evhttp_request *req);

/* Stops and frees w (NULL is allowed). */
void llmo_http_watch_free(struct llmo_http_watch *w);

#endif
