#ifndef LLMO_METRICS_HTTP_H
#define LLMO_METRICS_HTTP_H
/*
 * struct llmo_metrics_http: a small HTTP listener on a component's own
 * libevent loop that answers GET /metrics with what a callback writes (the
 * text exposition), GET /healthz with "ok" and GET /readyz with "ok" (200)
 * or "not ready" (503) as a callback says. The controller, the scheduler and
 * the agent serve their metrics with it (--metrics-listen).
 */
#include "base/common.h"

#include "base/buf.h"
#include "base/error.h"

struct event_base;
struct llmo_metrics_http;

/* Appends the exposition to out; 0 or an error (answered 500 with err's message). */
typedef int (*llmo_metrics_write_fn)(void *arg, struct llmo_buf *out, struct llmo_error *err);

/* Whether the component is ready (GET /readyz). */
typedef bool (*llmo_metrics_ready_fn)(void *arg);

/* Largest exposition served. */
#define LLMO_METRICS_HTTP_MAX ((size_t)64 << 20)

/* Listens on host:port (0: any free port). LLMO_EIO names the address when it cannot. */
int llmo_metrics_http_new(struct event_base *base, const char *host, int port,
			  llmo_metrics_write_fn write, void *arg, struct llmo_metrics_http **out,
			  struct llmo_error *err);
/* /readyz asks fn (NULL, the default: ready while it serves). */
void llmo_metrics_http_set_ready(struct llmo_metrics_http *h, llmo_metrics_ready_fn fn,
				 void *arg);
/* The port it listens on. */
int llmo_metrics_http_port(const struct llmo_metrics_http *h);
void llmo_metrics_http_free(struct llmo_metrics_http *h);

#endif
