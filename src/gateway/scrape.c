/*
 * Reading a backend's /metrics answer (scrape.h).
 */
#include "base/common.h"

#include <math.h>

#include <event2/buffer.h>

#include "base/buf.h"
#include "base/log.h"
#include "gateway/gateway_int.h"
#include "gateway/http1.h"
#include "gateway/scrape.h"
#include "metrics/metrics.h"
#include "metrics/parse.h"

#include "base/banned.h"

#define LOG_SCRAPE "gateway"

static int clamp_count(double v)
{
	if (!(v > 0)) /* NaN too */
		return 0;
	return v > LLMO_GW_SCRAPE_COUNT_MAX ? LLMO_GW_SCRAPE_COUNT_MAX : (int)v;
}

static int on_sample(void *arg, const char *name, const struct llmo_prom_label *labels,
		     size_t nlabels, double value)
{
	struct llmo_gw_scraped *out = arg;

	(void)labels;
	(void)nlabels;
	if (strcmp(name, "vllm:num_requests_waiting") == 0) {
		out->waiting = clamp_count((out->waiting > 0 ? out->waiting : 0) + clamp_count(value));
	} else if (strcmp(name, "vllm:num_requests_running") == 0) {
		out->running = clamp_count((out->running > 0 ? out->running : 0) + clamp_count(value));
	} else if (strcmp(name, "vllm:gpu_cache_usage_perc") == 0 ||
		   strcmp(name, "vllm:kv_cache_usage_perc") == 0) {
		double v = isfinite(value) ? LLMO_MIN(LLMO_MAX(value, 0.0), 1.0) : 0;

		out->kv_usage = LLMO_MAX(out->kv_usage, v);
	}
	return 0;
}

/* The chunked body at p (len bytes) decoded into b. */
static int dechunk(const char *p, size_t len, struct llmo_buf *b, struct llmo_error *err)
{
	struct llmo_gw_chunked ch;

	llmo_gw_chunked_init(&ch);
	for (;;) {
		size_t n = 0;

		switch (llmo_gw_chunked_next(&ch, p, len, &n)) {
		case LLMO_GW_CHUNK_DATA:
			if (llmo_buf_append(b, p, n))
				return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
			break;
		case LLMO_GW_CHUNK_SKIP:
			break;
		case LLMO_GW_CHUNK_DONE:
			return 0;
		case LLMO_GW_CHUNK_MORE:
			if (n >= len)
				return llmo_error_set(err, LLMO_EPARSE, "the chunked body is cut short");
			break;
		default:
			return llmo_error_set(err, LLMO_EPARSE, "the chunked body is malformed");
		}
		p += n;
		len -= n;
	}
}

int llmo_gw_scrape_parse(const char *resp, size_t len, struct llmo_gw_scraped *out,
			 struct llmo_error *err)
{
	struct llmo_gw_response_head rh;
	const char *end = len >= 4 ? memmem(resp, len, "\r\n\r\n", 4) : NULL;
	const char *body;
	struct llmo_buf b;
	size_t hlen, blen;
	int rc;

	out->waiting = out->running = -1;
	out->kv_usage = -1;
	if (!end)
		return llmo_error_set(err, LLMO_EPARSE, "no complete answer head");
	hlen = (size_t)(end - resp) + 4;
	if ((rc = llmo_gw_parse_response_head(resp, hlen, false, &rh, err)))
		return rc;
	if (rh.status != 200)
		return llmo_error_set(err, LLMO_ERANGE, "status %d", rh.status);
	body = resp + hlen;
	blen = len - hlen;
	if (rh.content_length >= 0) {
		if ((uint64_t)rh.content_length > blen)
			return llmo_error_set(err, LLMO_EPARSE, "the body is cut short");
		blen = (size_t)rh.content_length;
	}
	llmo_buf_init(&b, LLMO_GW_SCRAPE_MAX);
	if (rh.chunked) {
		if ((rc = dechunk(body, blen, &b, err)))
			goto out;
		body = b.data ? b.data : "";
		blen = b.len;
	}
	rc = llmo_prom_parse(body, blen, on_sample, out, err);
out:
	llmo_buf_release(&b);
	return rc;
}

/* ---- the scrapes, on the gateway's loop ---- */

/* One scrape in flight: a connection to a backend, holding a reference on it. */
struct llmo__gw_scrape {
	struct llmo_gateway *gw;
	struct llmo_gw_backend *b;
	struct llmo__gw_conn *conn;
	struct llmo__gw_scrape *prev, *next; /* in gw->scrapes */
};

static void scrape_free(struct llmo__gw_scrape *s)
{
	struct llmo_gateway *gw = s->gw;

	if (s->prev)
		s->prev->next = s->next;
	else
		gw->scrapes = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->b->scrape = NULL;
	llmo__gw_conn_free(s->conn);
	llmo_gw_backend_unref(s->b);
	free(s);
}

static void scrape_gauges(struct llmo_gateway *gw, struct llmo_gw_backend *b)
{
	const char *labels[] = {b->addr};

	llmo_metric_set(gw->m_backend_waiting, labels, b->waiting);
	llmo_metric_set(gw->m_backend_kv, labels, b->kv_usage);
}

/* The scrape ended: its values, or none (a failure forgets the old ones). */
static void scrape_done(struct llmo__gw_scrape *s, bool ok)
{
	struct llmo_gateway *gw = s->gw;
	struct llmo_gw_backend *b = s->b;
	struct evbuffer *in = llmo__gw_conn_input(s->conn);
	struct llmo_gw_scraped v = {0, 0, 0};
	struct llmo_error err = {0};
	size_t len = evbuffer_get_length(in);
	const char *p = ok && len ? (const char *)evbuffer_pullup(in, (ev_ssize_t)len) : NULL;

	if (ok && (!p || llmo_gw_scrape_parse(p, len, &v, &err))) {
		ok = false;
		LLMO_DEBUG(LOG_SCRAPE, "backend metrics unreadable", "backend=%s error=\"%s\"",
			   b->addr, p ? err.msg : "no answer");
	}
	b->waiting = ok && v.waiting > 0 ? v.waiting : 0;
	b->kv_usage = ok && v.kv_usage > 0 ? v.kv_usage : 0;
	b->scraped = ok && (v.waiting >= 0 || v.kv_usage >= 0);
	llmo_metric_add(gw->m_scrapes, (const char *[]){ok ? "ok" : "failed"}, 1);
	if (b->refs > 1) /* still in a table: its gauges */
		scrape_gauges(gw, b);
	scrape_free(s);
}

static void scrape_read_cb(struct llmo__gw_conn *conn, void *arg)
{
	struct llmo__gw_scrape *s = arg;

	if (evbuffer_get_length(llmo__gw_conn_input(conn)) > LLMO_GW_SCRAPE_MAX)
		scrape_done(s, false);
}

static void scrape_event_cb(struct llmo__gw_conn *conn, short what, void *arg)
{
	struct llmo__gw_scrape *s = arg;
	char req[LLMO_GW_ADDR_MAX + 96];

	if (what & LLMO__GW_CONN_CONNECTED) {
		snprintf(req, sizeof(req),
			 "GET /metrics HTTP/1.1\r\nHost: %s\r\nAccept: text/plain\r\n"
			 "Connection: close\r\n\r\n",
			 s->b->addr);
		evbuffer_add(llmo__gw_conn_output(conn), req, strlen(req));
		llmo__gw_conn_read(conn, true);
		llmo__gw_conn_flush(conn);
		return;
	}
	/* the answer ends with the connection (Connection: close) */
	scrape_done(s, (what & LLMO__GW_CONN_EOF) && !(what & LLMO__GW_CONN_ERROR));
}

static const struct llmo__gw_conn_cbs scrape_cbs = {scrape_read_cb, NULL, scrape_event_cb};

static void scrape_start(struct llmo_gateway *gw, struct llmo_gw_backend *b)
{
	struct llmo__gw_scrape *s = calloc(1, sizeof(*s));
	int64_t limit = gw->o.scrape_interval_ms;

	if (!s)
		return;
	s->gw = gw;
	s->b = b;
	s->conn = llmo__gw_backend_connect(gw, b, limit, &scrape_cbs, s);
	if (!s->conn) {
		free(s);
		return;
	}
	/* a scrape that takes longer than the period fails (and forgets the values) */
	llmo__gw_conn_timeouts(s->conn, limit, limit);
	llmo_gw_backend_ref(b);
	b->scrape = s;
	s->next = gw->scrapes;
	if (s->next)
		s->next->prev = s;
	gw->scrapes = s;
}

void llmo__gw_scrape_tick(evutil_socket_t fd, short what, void *arg)
{
	struct llmo_gateway *gw = arg;
	size_t it = 0;
	const char *k;
	void *v;

	while (llmo_hmap_next(&gw->backends.by_addr, &it, &k, &v)) {
		struct llmo_gw_backend *b = v;

		if (!b->scrape)
			scrape_start(gw, b);
	}
}

void llmo__gw_scrapes_stop(struct llmo_gateway *gw)
{
	while (gw->scrapes)
		scrape_free(gw->scrapes);
}
