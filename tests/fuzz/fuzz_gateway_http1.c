/*
 * Fuzz target for gateway/http1.h. The input goes through the request-head
 * and response-head parsers (parsed fields must lie inside the input and
 * agree with themselves), and through the chunked decoder in steps whose
 * sizes come from the input's first byte: every step consumes what it says
 * and no more than it was given, and the data it reports is the same
 * whatever the step size.
 */
#include "base/common.h"

#include "base/buf.h"
#include "gateway/http1.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void inside(const char *p, size_t n, const char *buf, size_t size)
{
	if (n && (p < buf || p + n > buf + size))
		abort();
}

static void heads(const char *buf, size_t size)
{
	struct llmo_gw_request_head *rq = malloc(sizeof(*rq));
	struct llmo_gw_response_head *rs = malloc(sizeof(*rs));
	struct llmo_error err = {0};
	int status = 0;

	if (!rq || !rs)
		abort();
	if (llmo_gw_parse_request_head(buf, size, rq, &status, &err) == 0) {
		inside(rq->method, rq->method_len, buf, size);
		inside(rq->target, rq->target_len, buf, size);
		if (rq->path_len > rq->target_len || rq->target[0] != '/' ||
		    rq->nheaders > LLMO_GW_HEADERS_MAX || (rq->chunked && rq->content_length >= 0))
			abort();
		for (size_t i = 0; i < rq->nheaders; i++) {
			inside(rq->headers[i].name, rq->headers[i].name_len, buf, size);
			inside(rq->headers[i].value, rq->headers[i].value_len, buf, size);
			llmo_gw_header_connection_listed(rq->headers, rq->nheaders, &rq->headers[i]);
		}
	} else if (status < 400 || status > 505 || !err.msg[0]) {
		abort();
	}
	if (llmo_gw_parse_response_head(buf, size, size & 1, rs, &err) == 0) {
		if (rs->status < 100 || rs->status > 999 || (rs->chunked && rs->close_delimited))
			abort();
		for (size_t i = 0; i < rs->nheaders; i++)
			inside(rs->headers[i].value, rs->headers[i].value_len, buf, size);
	}
	free(rq);
	free(rs);
}

/* Decodes buf in steps of `step` bytes into out; the last step's result. */
static enum llmo_gw_chunk_step chunks(const char *buf, size_t size, size_t step,
				      struct llmo_buf *out)
{
	struct llmo_gw_chunked c;
	size_t pos = 0;

	llmo_gw_chunked_init(&c);
	for (int guard = 0; guard < 1000000; guard++) {
		size_t avail = LLMO_MIN(size - pos, step), n = (size_t)-1;
		enum llmo_gw_chunk_step s = llmo_gw_chunked_next(&c, buf + pos, avail, &n);

		if (s == LLMO_GW_CHUNK_ERROR)
			return s;
		if (n > avail)
			abort();
		if (s == LLMO_GW_CHUNK_DATA)
			llmo_buf_append(out, buf + pos, n);
		pos += n;
		if (s == LLMO_GW_CHUNK_DONE || (pos == size && (n == 0 || s == LLMO_GW_CHUNK_MORE)))
			return s;
	}
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct llmo_buf a, b;
	enum llmo_gw_chunk_step sa, sb;

	heads(buf, size);
	if (size == 0)
		return 0;
	llmo_buf_init(&a, LLMO_BUF_UNLIMITED);
	llmo_buf_init(&b, LLMO_BUF_UNLIMITED);
	sa = chunks(buf + 1, size - 1, size, &a);
	sb = chunks(buf + 1, size - 1, 1 + data[0] % 7, &b);
	/* until an error, both step sizes see the same data */
	if (sa != LLMO_GW_CHUNK_ERROR && sb != LLMO_GW_CHUNK_ERROR &&
	    (sa != sb || a.len != b.len || memcmp(a.data, b.data, a.len) != 0))
		abort();
	llmo_buf_release(&a);
	llmo_buf_release(&b);
	return 0;
}
