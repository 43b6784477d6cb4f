/*
 * The gateway's HTTP/1.x heads and chunked decoder (gateway/http1.h):
 * request heads as a table of inputs and the answer each must get,
 * response heads and their framing, and chunked bodies fed whole and one
 * byte at a time.
 */
#include "base/common.h"

#include <ctype.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/buf.h"
#include "gateway/http1.h"

#define H "Host: gw\r\n"

static const struct {
	const char *what;
	const char *head;
	int status; /* 0: accepted */
	int64_t content_length;
	bool chunked, keep_alive;
} req_cases[] = {
	{"plain POST", "POST /v1/chat/completions HTTP/1.1\r\n" H "Content-Length: 12\r\n\r\n", 0, 12, false, true},
	{"GET, query", "GET /v1/models?x=1 HTTP/1.1\r\n" H "\r\n", 0, -1, false, true},
	{"HTTP/1.0 closes", "GET / HTTP/1.0\r\n\r\n", 0, -1, false, false},
	{"HTTP/1.0 keep-alive", "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", 0, -1, false, true},
	{"Connection: close", "GET / HTTP/1.1\r\n" H "Connection: foo, close\r\n\r\n", 0, -1, false, false},
	{"chunked", "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n\r\n", 0, -1, true, true},
	{"same length twice", "POST / HTTP/1.1\r\n" H "Content-Length: 3\r\nContent-Length: 3\r\n\r\n", 0, 3, false, true},
	{"spaces around a value", "POST / HTTP/1.1\r\n" H "Content-Length:   7  \r\n\r\n", 0, 7, false, true},
	/* refused */
	{"length and chunked", "POST / HTTP/1.1\r\n" H "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400, 0, false, false},
	{"two lengths", "POST / HTTP/1.1\r\n" H "Content-Length: 3\r\nContent-Length: 4\r\n\r\n", 400, 0, false, false},
	{"signed length", "POST / HTTP/1.1\r\n" H "Content-Length: +3\r\n\r\n", 400, 0, false, false},
	{"list length", "POST / HTTP/1.1\r\n" H "Content-Length: 3, 3\r\n\r\n", 400, 0, false, false},
	{"gzip coding", "POST / HTTP/1.1\r\n" H "Transfer-Encoding: gzip, chunked\r\n\r\n", 501, 0, false, false},
	{"chunked twice", "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 501, 0, false, false},
	{"chunked in 1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400, 0, false, false},
	{"no Host in 1.1", "GET / HTTP/1.1\r\n\r\n", 400, 0, false, false},
	{"two Hosts", "GET / HTTP/1.1\r\n" H H "\r\n", 400, 0, false, false},
	{"folded header", "GET / HTTP/1.1\r\n" H "X-A: 1\r\n 2\r\n\r\n", 400, 0, false, false},
	{"space before colon", "GET / HTTP/1.1\r\n" H "X-A : 1\r\n\r\n", 400, 0, false, false},
	{"bare LF", "GET / HTTP/1.1\n" H "\r\n", 400, 0, false, false},
	{"CR inside a value", "GET / HTTP/1.1\r\n" H "X-A: 1\r2\r\n\r\n", 400, 0, false, false},
	{"control byte in a value", "GET / HTTP/1.1\r\n" H "X-A: 1\x01\r\n\r\n", 400, 0, false, false},
	{"absolute form", "GET http://x/ HTTP/1.1\r\n" H "\r\n", 400, 0, false, false},
	{"space in the target", "GET /a b HTTP/1.1\r\n" H "\r\n", 400, 0, false, false},
	{"HTTP/2.0", "GET / HTTP/2.0\r\n" H "\r\n", 505, 0, false, false},
	{"not HTTP", "GET / FTP/1.1\r\n" H "\r\n", 400, 0, false, false},
	{"no method", " / HTTP/1.1\r\n" H "\r\n", 400, 0, false, false},
	{"bad Expect", "POST / HTTP/1.1\r\n" H "Expect: 200-ok\r\nContent-Length: 1\r\n\r\n", 417, 0, false, false},
};

static void test_request_heads(void **state)
{
	for (size_t i = 0; i < LLMO_ARRAY_LEN(req_cases); i++) {
		struct llmo_gw_request_head h;
		struct llmo_error err = {0};
		int status = 0;
		int rc = llmo_gw_parse_request_head(req_cases[i].head, strlen(req_cases[i].head), &h,
						    &status, &err);

		if (req_cases[i].status) {
			if (!rc || status != req_cases[i].status || !err.msg[0])
				fail_msg("%s: rc %d status %d, want %d", req_cases[i].what, rc, status,
					 req_cases[i].status);
			continue;
		}
		if (rc)
			fail_msg("%s: refused: %s", req_cases[i].what, err.msg);
		if (h.content_length != req_cases[i].content_length ||
		    h.chunked != req_cases[i].chunked || h.keep_alive != req_cases[i].keep_alive)
			fail_msg("%s: length %" PRId64 " chunked %d keep-alive %d", req_cases[i].what,
				 h.content_length, h.chunked, h.keep_alive);
	}
}

static void test_request_fields(void **state)
{
	static const char head[] = "POST /v1/completions?a=b HTTP/1.1\r\nHost: gw:8000\r\n"
				   "Authorization: Bearer  k \r\nExpect: 100-continue\r\n"
				   "Content-Length: 5\r\n\r\n";
	struct llmo_gw_request_head h;
	int status;

	assert_int_equal(llmo_gw_parse_request_head(head, sizeof(head) - 1, &h, &status, NULL), 0);
	assert_int_equal(h.method_len, 4);
	assert_memory_equal(h.method, "POST", 4);
	assert_int_equal(h.target_len, strlen("/v1/completions?a=b"));
	assert_int_equal(h.path_len, strlen("/v1/completions"));
	assert_int_equal(h.minor, 1);
	assert_true(h.expect_continue);
	assert_int_equal(h.nheaders, 4);
	assert_true(llmo_gw_header_is(&h.headers[1], "AUTHORIZATION"));
	assert_int_equal(h.headers[1].value_len, strlen("Bearer  k"));
	assert_memory_equal(h.headers[1].value, "Bearer  k", h.headers[1].value_len);
	assert_true(llmo_gw_header_hop_by_hop(&h.headers[0]));  /* Host: the gateway writes its own */
	assert_false(llmo_gw_header_hop_by_hop(&h.headers[1])); /* Authorization goes through */
	assert_true(llmo_gw_header_hop_by_hop(&h.headers[2]));  /* Expect */
	assert_false(llmo_gw_header_connection_listed(h.headers, h.nheaders, &h.headers[1]));
}

static void test_connection_listed(void **state)
{
	static const char head[] = "GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, X-Hop\r\n"
				   "x-hop: 1\r\nX-Hopper: 2\r\n\r\n";
	struct llmo_gw_request_head h;
	int status;

	assert_int_equal(llmo_gw_parse_request_head(head, sizeof(head) - 1, &h, &status, NULL), 0);
	assert_true(llmo_gw_header_connection_listed(h.headers, h.nheaders, &h.headers[2]));
	assert_false(llmo_gw_header_connection_listed(h.headers, h.nheaders, &h.headers[3]));
}

/* Every known name in any case; names one byte or one letter away are others. */
static void test_header_ids(void **state)
{
	static const struct {
		const char *name;
		enum llmo_gw_header_id id;
	} known[] = {
		{"te", LLMO_GW_H_TE},
		{"host", LLMO_GW_H_HOST},
		{"expect", LLMO_GW_H_EXPECT},
		{"trailer", LLMO_GW_H_TRAILER},
		{"upgrade", LLMO_GW_H_UPGRADE},
		{"keep-alive", LLMO_GW_H_KEEP_ALIVE},
		{"connection", LLMO_GW_H_CONNECTION},
		{"content-type", LLMO_GW_H_CONTENT_TYPE},
		{"content-length", LLMO_GW_H_CONTENT_LENGTH},
		{"x-forwarded-for", LLMO_GW_H_X_FORWARDED_FOR},
		{"proxy-connection", LLMO_GW_H_PROXY_CONNECTION},
		{"transfer-encoding", LLMO_GW_H_TRANSFER_ENCODING},
		{"proxy-authenticate", LLMO_GW_H_PROXY_AUTHENTICATE},
		{"proxy-authorization", LLMO_GW_H_PROXY_AUTHORIZATION},
	};

	for (size_t i = 0; i < LLMO_ARRAY_LEN(known); i++) {
		char n[32];
		size_t len = strlen(known[i].name);

		memcpy(n, known[i].name, len);
		assert_int_equal(llmo_gw_header_id(n, len), known[i].id);
		for (size_t k = 0; k < len; k++) /* upper case, one letter at a time, then all */
			n[k] = (char)toupper((unsigned char)n[k]);
		assert_int_equal(llmo_gw_header_id(n, len), known[i].id);
		n[len - 1] ^= 1; /* the last byte changed */
		assert_int_equal(llmo_gw_header_id(n, len), LLMO_GW_H_OTHER);
		n[len - 1] ^= 1;
		n[0] = n[0] == 'X' ? 'Y' : 'X'; /* the first */
		assert_int_equal(llmo_gw_header_id(n, len), LLMO_GW_H_OTHER);
		assert_int_equal(llmo_gw_header_id(known[i].name, len - 1), LLMO_GW_H_OTHER);
		/* a prefix that reads as a known name of that length is not one: "host" of "hosts" */
		memcpy(n, known[i].name, len);
		n[len] = 's';
		assert_int_equal(llmo_gw_header_id(n, len + 1), LLMO_GW_H_OTHER);
	}
	/* "-" and "\r" differ by 0x20 alone: no case folding beyond the letters */
	assert_int_equal(llmo_gw_header_id("keep\ralive", 10), LLMO_GW_H_OTHER);
	assert_int_equal(llmo_gw_header_id("", 0), LLMO_GW_H_OTHER);
}

/*
 * Header values are checked eight bytes at a time: a control byte, DEL or
 * a tab at every position of a value of every length up to 40 bytes, and
 * obs-text bytes, which are allowed.
 */
static void test_header_value_bytes(void **state)
{
	static const unsigned char probes[] = {0x00, 0x01, 0x0A, 0x1F, 0x7F, '\t', 0x20, 0x7E, 0x80,
					       0xFF, 0x9F, 0xA0};

	for (size_t len = 1; len <= 40; len++) {
		for (size_t at = 0; at < len; at++) {
			for (size_t k = 0; k < sizeof(probes); k++) {
				unsigned char b = probes[k];
				bool ok = b == '\t' || (b >= 0x20 && b != 0x7F);
				char head[128];
				struct llmo_gw_request_head h;
				int status = 0, n;

				/* no tab or space at either end: those are trimmed, not checked */
				if ((b == '\t' || b == ' ') && (at == 0 || at == len - 1))
					continue;
				n = snprintf(head, sizeof(head), "GET / HTTP/1.1\r\n" H "X-V: ");
				memset(head + n, 'v', len);
				head[n + (int)at] = (char)b;
				memcpy(head + n + (int)len, "\r\n\r\n", 4);
				if (b == '\n') { /* a bare LF ends the line early: refused either way */
					ok = false;
				}
				if ((llmo_gw_parse_request_head(head, (size_t)n + len + 4, &h, &status,
								NULL) == 0) != ok)
					fail_msg("byte 0x%02x at %zu of %zu: %s", b, at, len,
						 ok ? "refused" : "accepted");
				if (ok && (h.nheaders != 2 || h.headers[1].value_len != len))
					fail_msg("byte 0x%02x at %zu of %zu: value of %zu bytes", b, at,
						 len, h.headers[1].value_len);
			}
		}
	}
}

static void test_request_limits(void **state)
{
	struct llmo_gw_request_head h;
	struct llmo_buf b;
	int status;

	llmo_buf_init(&b, LLMO_BUF_UNLIMITED);
	llmo_buf_puts(&b, "GET /");
	for (int i = 0; i < LLMO_GW_TARGET_MAX; i++)
		llmo_buf_putc(&b, 'a');
	llmo_buf_puts(&b, " HTTP/1.1\r\n" H "\r\n");
	assert_int_not_equal(llmo_gw_parse_request_head(b.data, b.len, &h, &status, NULL), 0);
	assert_int_equal(status, 414);
	llmo_buf_reset(&b);
	llmo_buf_puts(&b, "GET / HTTP/1.1\r\n" H);
	for (int i = 0; i < LLMO_GW_HEADERS_MAX; i++)
		llmo_buf_appendf(&b, "X-%d: v\r\n", i);
	llmo_buf_puts(&b, "\r\n");
	assert_int_not_equal(llmo_gw_parse_request_head(b.data, b.len, &h, &status, NULL), 0);
	assert_int_equal(status, 431);
	llmo_buf_release(&b);
}

static void test_response_heads(void **state)
{
	static const struct {
		const char *what, *head;
		bool head_req;
		int status;
		int64_t length;
		bool chunked, close_delimited, keep_alive, event_stream;
	} cases[] = {
		{"length", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", false, 200, 10, false, false, true, false},
		{"chunked SSE", "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n", false, 200, -1, true, false, true, true},
		{"SSE with charset", "HTTP/1.1 200 OK\r\nContent-Type: Text/Event-Stream; charset=utf-8\r\nContent-Length: 1\r\n\r\n", false, 200, 1, false, false, true, true},
		{"not SSE", "HTTP/1.1 200 OK\r\nContent-Type: text/event-streamer\r\nContent-Length: 1\r\n\r\n", false, 200, 1, false, false, true, false},
		{"no length: until close", "HTTP/1.1 200 OK\r\n\r\n", false, 200, -1, false, true, false, false},
		{"TE wins over length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", false, 200, -1, true, false, true, false},
		{"Connection: close", "HTTP/1.1 503 Busy\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", false, 503, 0, false, false, false, false},
		{"HTTP/1.0", "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n", false, 200, 2, false, false, false, false},
		{"204", "HTTP/1.1 204 No Content\r\nContent-Length: 9\r\n\r\n", false, 204, 0, false, false, true, false},
		{"HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n", true, 200, 0, false, false, true, false},
		{"no reason phrase", "HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n", false, 404, 0, false, false, true, false},
	};
	static const char *const bad[] = {
		"HTTP/1.1 20 OK\r\n\r\n", "HTTP/1.1 200OK\r\n\r\n", "HTTX/1.1 200 OK\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", "HTTP/1.1 200 OK\nA: b\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
	};

	for (size_t i = 0; i < LLMO_ARRAY_LEN(cases); i++) {
		struct llmo_gw_response_head r;
		struct llmo_error err = {0};

		if (llmo_gw_parse_response_head(cases[i].head, strlen(cases[i].head), cases[i].head_req,
						&r, &err))
			fail_msg("%s: %s", cases[i].what, err.msg);
		if (r.status != cases[i].status || r.content_length != cases[i].length ||
		    r.chunked != cases[i].chunked || r.close_delimited != cases[i].close_delimited ||
		    r.keep_alive != cases[i].keep_alive || r.event_stream != cases[i].event_stream)
			fail_msg("%s: status %d length %" PRId64 " chunked %d close %d keep %d sse %d",
				 cases[i].what, r.status, r.content_length, r.chunked,
				 r.close_delimited, r.keep_alive, r.event_stream);
	}
	for (size_t i = 0; i < LLMO_ARRAY_LEN(bad); i++) {
		struct llmo_gw_response_head r;

		if (llmo_gw_parse_response_head(bad[i], strlen(bad[i]), false, &r, NULL) == 0)
			fail_msg("accepted: %s", bad[i]);
	}
}

/* Decodes in steps of at most `step` bytes; returns the step that ended it. */
static enum llmo_gw_chunk_step decode(const char *in, size_t len, size_t step,
				      struct llmo_buf *out, size_t *used)
{
	struct llmo_gw_chunked c;
	size_t pos = 0;

	llmo_gw_chunked_init(&c);
	for (;;) {
		size_t avail = LLMO_MIN(len - pos, step), n;
		enum llmo_gw_chunk_step s = llmo_gw_chunked_next(&c, in + pos, avail, &n);

		if (s == LLMO_GW_CHUNK_ERROR)
			return s;
		assert_true(n <= avail);
		if (s == LLMO_GW_CHUNK_DATA)
			llmo_buf_append(out, in + pos, n);
		pos += n;
		*used = pos;
		if (s == LLMO_GW_CHUNK_DONE)
			return s;
		if (pos == len && (s == LLMO_GW_CHUNK_MORE || avail == 0))
			return LLMO_GW_CHUNK_MORE;
	}
}

static void test_chunked(void **state)
{
	static const struct {
		const char *what, *in, *data;
		enum llmo_gw_chunk_step end;
	} cases[] = {
		{"two chunks", "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", "hello world", LLMO_GW_CHUNK_DONE},
		{"hex sizes, extensions", "A;x=1\r\n0123456789\r\na \r\nabcdefghij\r\n0;end\r\n\r\n", "0123456789abcdefghij", LLMO_GW_CHUNK_DONE},
		{"trailers", "1\r\nx\r\n0\r\nX-T: 1\r\nX-U: 2\r\n\r\n", "x", LLMO_GW_CHUNK_DONE},
		{"SSE event", "e\r\ndata: {\"a\":1}\n\r\n", "data: {\"a\":1}\n", LLMO_GW_CHUNK_MORE},
		{"no size", "\r\nx\r\n", "", LLMO_GW_CHUNK_ERROR},
		{"bad size", "g\r\n", "", LLMO_GW_CHUNK_ERROR},
		{"missing CRLF after data", "1\r\nxy\r\n", "x", LLMO_GW_CHUNK_ERROR},
		{"size overflow", "10000000000000000\r\n", "", LLMO_GW_CHUNK_ERROR},
		{"bare LF after size", "1\nx\r\n", "", LLMO_GW_CHUNK_ERROR},
	};

	for (size_t i = 0; i < LLMO_ARRAY_LEN(cases); i++) {
		for (size_t step = 1; step <= 64; step *= 4) {
			struct llmo_buf out;
			size_t used = 0;
			enum llmo_gw_chunk_step s;

			llmo_buf_init(&out, LLMO_BUF_UNLIMITED);
			s = decode(cases[i].in, strlen(cases[i].in), step, &out, &used);
			if (s != cases[i].end)
				fail_msg("%s (step %zu): ended with %d, want %d", cases[i].what, step, s,
					 cases[i].end);
			if (s != LLMO_GW_CHUNK_ERROR && strcmp(out.data, cases[i].data) != 0)
				fail_msg("%s (step %zu): data \"%s\"", cases[i].what, step, out.data);
			if (s == LLMO_GW_CHUNK_DONE && used != strlen(cases[i].in))
				fail_msg("%s: stopped at %zu", cases[i].what, used);
			llmo_buf_release(&out);
		}
	}
}

static void test_chunked_bounds(void **state)
{
	struct llmo_gw_chunked c;
	char line[LLMO_GW_CHUNK_LINE_MAX + 10];
	size_t n;

	/* an endless size line is refused, not buffered */
	memset(line, ';', sizeof(line));
	line[0] = '1';
	llmo_gw_chunked_init(&c);
	assert_int_equal(llmo_gw_chunked_next(&c, line, sizeof(line), &n), LLMO_GW_CHUNK_ERROR);
	/* the reason phrases the gateway writes */
	assert_string_equal(llmo_gw_status_reason(413), "Content Too Large");
	assert_string_equal(llmo_gw_status_reason(599), "Unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_heads),
		cmocka_unit_test(test_request_fields),
		cmocka_unit_test(test_connection_listed),
		cmocka_unit_test(test_request_limits),
		cmocka_unit_test(test_header_ids),
		cmocka_unit_test(test_header_value_bytes),
		cmocka_unit_test(test_response_heads),
		cmocka_unit_test(test_chunked),
		cmocka_unit_test(test_chunked_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
