/*
 * HTTP/1.x heads and chunked framing (http1.h), after RFC 9110 and 9112.
 */
#include "base/common.h"
#include "base/str.h"

#include "gateway/http1.h"

#include "base/banned.h"

/* tchar of RFC 9110 5.6.2, the bytes of tokens (methods, header names): one lookup a byte */
static const unsigned char tchars[256] = {
	['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1,
	['+'] = 1, ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1, ['~'] = 1,
	['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1,
	['8'] = 1, ['9'] = 1, ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1,
	['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1,
	['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1,
	['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1,
	['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1,
	['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1,
	['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1
};

static inline bool tchar(unsigned char c)
{
	return tchars[c];
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* a[0, n) equals b[0, n) but for ASCII case; b is in lower case */
static bool eq_lower_n(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (lower(a[i]) != b[i])
			return false;
	return true;
}

static bool eq_nocase(const char *a, size_t alen, const char *b)
{
	size_t blen = strlen(b);

	if (alen != blen)
		return false;
	for (size_t i = 0; i < alen; i++)
		if (lower(a[i]) != lower(b[i]))
			return false;
	return true;
}

bool llmo_gw_header_is(const struct llmo_gw_header *h, const char *name)
{
	return eq_nocase(h->name, h->name_len, name);
}

enum llmo_gw_header_id llmo_gw_header_id(const char *name, size_t len)
{
	/* by length first: most names are none of these, and a length has at most two */
#define IS(lit) eq_lower_n(name, lit, sizeof(lit) - 1)
	switch (len) {
	case 2: return IS("te") ? LLMO_GW_H_TE : LLMO_GW_H_OTHER;
	case 4: return IS("host") ? LLMO_GW_H_HOST : LLMO_GW_H_OTHER;
	case 6: return IS("expect") ? LLMO_GW_H_EXPECT : LLMO_GW_H_OTHER;
	case 7:
		return IS("trailer") ? LLMO_GW_H_TRAILER
		       : IS("upgrade") ? LLMO_GW_H_UPGRADE
				       : LLMO_GW_H_OTHER;
	case 10:
		return IS("keep-alive") ? LLMO_GW_H_KEEP_ALIVE
		       : IS("connection") ? LLMO_GW_H_CONNECTION
					  : LLMO_GW_H_OTHER;
	case 12: return IS("content-type") ? LLMO_GW_H_CONTENT_TYPE : LLMO_GW_H_OTHER;
	case 14: return IS("content-length") ? LLMO_GW_H_CONTENT_LENGTH : LLMO_GW_H_OTHER;
	case 15: return IS("x-forwarded-for") ? LLMO_GW_H_X_FORWARDED_FOR : LLMO_GW_H_OTHER;
	case 16: return IS("proxy-connection") ? LLMO_GW_H_PROXY_CONNECTION : LLMO_GW_H_OTHER;
	case 17: return IS("transfer-encoding") ? LLMO_GW_H_TRANSFER_ENCODING : LLMO_GW_H_OTHER;
	case 18: return IS("proxy-authenticate") ? LLMO_GW_H_PROXY_AUTHENTICATE : LLMO_GW_H_OTHER;
	case 19:
		return IS("proxy-authorization") ? LLMO_GW_H_PROXY_AUTHORIZATION : LLMO_GW_H_OTHER;
	default: return LLMO_GW_H_OTHER;
	}
#undef IS
}

bool llmo_gw_header_hop_by_hop(const struct llmo_gw_header *h)
{
	switch (h->id) {
	case LLMO_GW_H_CONTENT_LENGTH:
	case LLMO_GW_H_TRANSFER_ENCODING:
	case LLMO_GW_H_CONNECTION:
	case LLMO_GW_H_EXPECT:
	case LLMO_GW_H_HOST:
		return true;
	default:
		return h->id >= LLMO_GW_H_KEEP_ALIVE;
	}
}

bool llmo_gw_status_bodyless(int status)
{
	return (status >= 100 && status < 200) || status == 204 || status == 304;
}

const char *llmo_gw_status_reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 206: return "Partial Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 304: return "Not Modified";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Content";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	default: return "Unknown";
	}
}

/* ---- lines and headers ---- */

struct cursor {
	const char *p, *end;
};

/* The next line without its CRLF; false when there is no CRLF-terminated line or a bare CR/LF. */
static bool next_line(struct cursor *c, const char **line, size_t *len)
{
	const char *nl = memchr(c->p, '\n', (size_t)(c->end - c->p));

	if (!nl || nl == c->p || nl[-1] != '\r')
		return false;
	*line = c->p;
	*len = (size_t)(nl - 1 - c->p);
	if (memchr(*line, '\r', *len))
		return false;
	c->p = nl + 1;
	return true;
}

/* A comma-separated list value holds token (case-insensitive), as in Connection: close. */
static bool list_has(const char *v, size_t n, const char *token)
{
	size_t i = 0;

	while (i < n) {
		size_t s, e;

		while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		s = i;
		while (i < n && v[i] != ',')
			i++;
		e = i;
		while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if (e > s && eq_nocase(v + s, e - s, token))
			return true;
	}
	return false;
}

/* A comma-separated list value holds the token name[0, nlen) (case-insensitive). */
static bool list_has_n(const char *v, size_t n, const char *name, size_t nlen)
{
	size_t i = 0;

	while (i < n) {
		size_t s, e;

		while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		s = i;
		while (i < n && v[i] != ',')
			i++;
		e = i;
		while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if (e - s == nlen) {
			size_t k = 0;

			while (k < nlen && lower(v[s + k]) == lower(name[k]))
				k++;
			if (k == nlen)
				return true;
		}
	}
	return false;
}

bool llmo_gw_header_connection_listed(const struct llmo_gw_header *hs, size_t n,
				      const struct llmo_gw_header *h)
{
	for (size_t i = 0; i < n; i++)
		if (hs[i].id == LLMO_GW_H_CONNECTION &&
		    list_has_n(hs[i].value, hs[i].value_len, h->name, h->name_len))
			return true;
	return false;
}

/* The last element of a comma-separated list. */
static void list_last(const char *v, size_t n, const char **out, size_t *olen)
{
	size_t e = n, s;

	while (e > 0 && (v[e - 1] == ' ' || v[e - 1] == '\t' || v[e - 1] == ','))
		e--;
	s = e;
	while (s > 0 && v[s - 1] != ',')
		s--;
	while (s < e && (v[s] == ' ' || v[s] == '\t'))
		s++;
	*out = v + s;
	*olen = e - s;
}

static int parse_length(const char *v, size_t n, int64_t *out)
{
	int64_t x = 0;

	if (n == 0 || n > 18)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		x = x * 10 + (v[i] - '0');
	}
	*out = x;
	return 0;
}

/* One Content-Length header: valid, and equal to any seen before. */
static int take_length(const struct llmo_gw_header *h, bool *seen, int64_t *length,
		       struct llmo_error *err)
{
	int64_t n;

	if (parse_length(h->value, h->value_len, &n) || (*seen && n != *length))
		return llmo_error_set(err, LLMO_EPARSE, "invalid Content-Length");
	*seen = true;
	*length = n;
	return 0;
}

/*
 * A field value holds no control character but HTAB, and no DEL (RFC 9110
 * 5.5; obs-text, 0x80-0xFF, is allowed). Eight bytes at a time: a word with
 * no byte below 0x20 and none equal to 0x7F is fine as it is (the "has a
 * byte less than n" test of bit-twiddling lore, exact for whether there is
 * one); a word with one, a tab say, is looked at byte by byte.
 */
static bool value_ok(const char *v, size_t n)
{
	const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
	size_t i = 0;

	for (; n - i >= 8; i += 8) {
		uint64_t w, del;

		memcpy(&w, v + i, sizeof(w));
		del = w ^ (0x7F * ones);
		if ((((w - 0x20 * ones) & ~w) | ((del - ones) & ~del)) & highs)
			break;
	}
	for (; i < n; i++)
		if (((unsigned char)v[i] < 0x20 && v[i] != '\t') || v[i] == 0x7F)
			return false;
	return true;
}

/*
 * The header lines after the start line, up to the blank line. Fills
 * headers; *toomany when there are more than LLMO_GW_HEADERS_MAX.
 */
static int parse_headers(struct cursor *c, struct llmo_gw_header *headers, size_t *nheaders,
			 bool *toomany, struct llmo_error *err)
{
	const char *line;
	size_t len;

	*nheaders = 0;
	*toomany = false;
	for (;;) {
		struct llmo_gw_header *h;
		size_t i = 0, vs, ve;

		if (!next_line(c, &line, &len))
			return llmo_error_set(err, LLMO_EPARSE, "header lines must end in CRLF");
		if (len == 0)
			return 0;
		if (line[0] == ' ' || line[0] == '\t')
			return llmo_error_set(err, LLMO_EPARSE, "folded header lines are not allowed");
		while (i < len && tchar((unsigned char)line[i]))
			i++;
		if (i == 0 || i >= len || line[i] != ':')
			return llmo_error_set(err, LLMO_EPARSE, "malformed header line");
		vs = i + 1;
		while (vs < len && (line[vs] == ' ' || line[vs] == '\t'))
			vs++;
		ve = len;
		while (ve > vs && (line[ve - 1] == ' ' || line[ve - 1] == '\t'))
			ve--;
		if (!value_ok(line + vs, ve - vs))
			return llmo_error_set(err, LLMO_EPARSE, "control character in a header value");
		if (*nheaders == LLMO_GW_HEADERS_MAX) {
			*toomany = true;
			return llmo_error_set(err, LLMO_ETOOBIG, "more than %d header lines",
					      LLMO_GW_HEADERS_MAX);
		}
		h = &headers[(*nheaders)++];
		h->name = line;
		h->name_len = i;
		h->value = line + vs;
		h->value_len = ve - vs;
		h->id = llmo_gw_header_id(line, i);
	}
}

/* "HTTP/1.x": 0 and *minor, 1 for another HTTP version, -1 when not a version at all. */
static int parse_version(const char *v, size_t n, int *minor)
{
	if (n != 8 || memcmp(v, "HTTP/", 5) != 0 || v[6] != '.' || v[5] < '0' || v[5] > '9' ||
	    v[7] < '0' || v[7] > '9')
		return -1;
	if (v[5] != '1')
		return 1;
	*minor = v[7] == '0' ? 0 : 1;
	return 0;
}

int llmo_gw_parse_request_head(const char *buf, size_t len, struct llmo_gw_request_head *out,
			       int *status, struct llmo_error *err)
{
	struct cursor c = {buf, buf + len};
	const char *line, *sp1, *sp2;
	size_t llen, hosts = 0;
	bool toomany, has_te = false, has_cl = false;
	int rc, v;

	*status = 400;
	out->content_length = -1;
	out->chunked = out->expect_continue = false;
	if (!next_line(&c, &line, &llen))
		return llmo_error_set(err, LLMO_EPARSE, "the request line must end in CRLF");
	sp1 = memchr(line, ' ', llen);
	sp2 = sp1 ? memchr(sp1 + 1, ' ', llen - (size_t)(sp1 + 1 - line)) : NULL;
	if (!sp1 || !sp2 || sp1 == line || sp2 == sp1 + 1)
		return llmo_error_set(err, LLMO_EPARSE, "malformed request line");
	out->method = line;
	out->method_len = (size_t)(sp1 - line);
	for (size_t i = 0; i < out->method_len; i++)
		if (!tchar((unsigned char)line[i]))
			return llmo_error_set(err, LLMO_EPARSE, "malformed method");
	if (out->method_len > LLMO_GW_METHOD_MAX) {
		*status = 501;
		return llmo_error_set(err, LLMO_EUNSUPPORTED, "unknown method");
	}
	out->target = sp1 + 1;
	out->target_len = (size_t)(sp2 - out->target);
	if (out->target_len > LLMO_GW_TARGET_MAX) {
		*status = 414;
		return llmo_error_set(err, LLMO_ETOOBIG, "the request target is longer than %d bytes",
				      LLMO_GW_TARGET_MAX);
	}
	if (out->target[0] != '/')
		return llmo_error_set(err, LLMO_EPARSE, "the request target must start with '/'");
	out->path_len = out->target_len;
	for (size_t i = 0; i < out->target_len; i++) {
		unsigned char ch = (unsigned char)out->target[i];

		if (ch <= 0x20 || ch >= 0x7F)
			return llmo_error_set(err, LLMO_EPARSE, "invalid byte in the request target");
		if (ch == '?' && out->path_len == out->target_len)
			out->path_len = i;
	}
	v = parse_version(sp2 + 1, llen - (size_t)(sp2 + 1 - line), &out->minor);
	if (v) {
		if (v > 0)
			*status = 505;
		return llmo_error_set(err, LLMO_EPARSE, "not an HTTP/1.x request");
	}
	rc = parse_headers(&c, out->headers, &out->nheaders, &toomany, err);
	if (rc) {
		if (toomany)
			*status = 431;
		return rc;
	}
	if (c.p != c.end)
		return llmo_error_set(err, LLMO_EPARSE, "data after the blank line of the head");
	out->keep_alive = out->minor >= 1;
	for (size_t i = 0; i < out->nheaders; i++) {
		const struct llmo_gw_header *h = &out->headers[i];

		if (h->id == LLMO_GW_H_CONTENT_LENGTH) {
			if (take_length(h, &has_cl, &out->content_length, err))
				return LLMO_EPARSE;
		} else if (h->id == LLMO_GW_H_TRANSFER_ENCODING) {
			const char *last;
			size_t ll;

			/* one coding only, and it must be chunked */
			list_last(h->value, h->value_len, &last, &ll);
			if (has_te || !eq_nocase(last, ll, "chunked") ||
			    !eq_nocase(h->value, h->value_len, "chunked")) {
				*status = 501;
				return llmo_error_set(err, LLMO_EUNSUPPORTED,
						      "only Transfer-Encoding: chunked is supported");
			}
			has_te = true;
			out->chunked = true;
		} else if (h->id == LLMO_GW_H_CONNECTION) {
			if (list_has(h->value, h->value_len, "close"))
				out->keep_alive = false;
			else if (out->minor == 0 && list_has(h->value, h->value_len, "keep-alive"))
				out->keep_alive = true;
		} else if (h->id == LLMO_GW_H_EXPECT) {
			if (!eq_nocase(h->value, h->value_len, "100-continue")) {
				*status = 417;
				return llmo_error_set(err, LLMO_EUNSUPPORTED, "unsupported Expect");
			}
			out->expect_continue = true;
		} else if (h->id == LLMO_GW_H_HOST) {
			hosts++;
		}
	}
	if (has_cl && has_te)
		return llmo_error_set(err, LLMO_EPARSE,
				      "Content-Length and Transfer-Encoding together");
	if (hosts > 1 || (out->minor >= 1 && hosts == 0))
		return llmo_error_set(err, LLMO_EPARSE, "an HTTP/1.1 request needs one Host header");
	if (has_te && out->minor == 0)
		return llmo_error_set(err, LLMO_EPARSE, "chunked body in an HTTP/1.0 request");
	return 0;
}

int llmo_gw_parse_response_head(const char *buf, size_t len, bool request_head,
				struct llmo_gw_response_head *out, struct llmo_error *err)
{
	struct cursor c = {buf, buf + len};
	const char *line;
	size_t llen;
	bool toomany, has_cl = false, has_te = false, close = false;
	int rc;

	out->content_length = -1;
	out->chunked = out->close_delimited = out->event_stream = false;
	if (!next_line(&c, &line, &llen) || llen < 12 || line[8] != ' ' ||
	    parse_version(line, 8, &out->minor) != 0 || line[9] < '1' || line[9] > '9' ||
	    line[10] < '0' || line[10] > '9' || line[11] < '0' || line[11] > '9' ||
	    (llen > 12 && line[12] != ' '))
		return llmo_error_set(err, LLMO_EPARSE, "malformed status line");
	out->status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
	rc = parse_headers(&c, out->headers, &out->nheaders, &toomany, err);
	if (rc)
		return rc;
	if (c.p != c.end)
		return llmo_error_set(err, LLMO_EPARSE, "data after the blank line of the head");
	for (size_t i = 0; i < out->nheaders; i++) {
		const struct llmo_gw_header *h = &out->headers[i];

		if (h->id == LLMO_GW_H_CONTENT_LENGTH) {
			if (take_length(h, &has_cl, &out->content_length, err))
				return LLMO_EPARSE;
		} else if (h->id == LLMO_GW_H_TRANSFER_ENCODING) {
			const char *last;
			size_t ll;

			list_last(h->value, h->value_len, &last, &ll);
			has_te = true;
			out->chunked = eq_nocase(last, ll, "chunked");
		} else if (h->id == LLMO_GW_H_CONNECTION) {
			close = list_has(h->value, h->value_len, "close");
		} else if (h->id == LLMO_GW_H_CONTENT_TYPE) {
			static const char es[] = "text/event-stream";

			out->event_stream = h->value_len >= sizeof(es) - 1 &&
					    eq_nocase(h->value, sizeof(es) - 1, es) &&
					    (h->value_len == sizeof(es) - 1 ||
					     h->value[sizeof(es) - 1] == ';' ||
					     h->value[sizeof(es) - 1] == ' ');
		}
	}
	out->keep_alive = !close && out->minor >= 1;
	if (request_head || llmo_gw_status_bodyless(out->status)) {
		out->content_length = 0;
		out->chunked = false;
		return 0;
	}
	if (has_te) {
		/* RFC 9112 6.3: Transfer-Encoding overrides Content-Length */
		out->content_length = -1;
		if (!out->chunked) {
			out->close_delimited = true;
			out->keep_alive = false;
		}
	} else if (!has_cl) {
		out->close_delimited = true;
		out->keep_alive = false;
	}
	return 0;
}

/* ---- chunked bodies ---- */

enum {
	CH_SIZE,      /* hex digits of the chunk size */
	CH_SIZE_TAIL, /* spaces or extensions until CR */
	CH_SIZE_LF,
	CH_DATA,
	CH_DATA_CR,
	CH_DATA_LF,
	CH_TRAILER_START, /* start of a trailer line, or the final CRLF */
	CH_TRAILER_LINE,
	CH_TRAILER_LF,
	CH_FINAL_LF,
	CH_DONE,
};

void llmo_gw_chunked_init(struct llmo_gw_chunked *c)
{
	memset(c, 0, sizeof(*c));
	c->state = CH_SIZE;
}

enum llmo_gw_chunk_step llmo_gw_chunked_next(struct llmo_gw_chunked *c, const char *p, size_t len,
					     size_t *n)
{
	size_t i = 0;

	*n = 0;
	if (c->state == CH_DATA) {
		if (len == 0)
			return LLMO_GW_CHUNK_MORE;
		*n = c->remaining < len ? (size_t)c->remaining : len;
		c->remaining -= *n;
		if (c->remaining == 0)
			c->state = CH_DATA_CR;
		return LLMO_GW_CHUNK_DATA;
	}
	if (c->state == CH_DONE)
		return LLMO_GW_CHUNK_ERROR;
	for (; i < len; i++) {
		char ch = p[i];
		int h;

		switch (c->state) {
		case CH_SIZE:
			h = llmo_hex_digit(ch);
			if (h >= 0) {
				if (++c->digits > 15)
					return LLMO_GW_CHUNK_ERROR;
				c->remaining = (c->remaining << 4) | (uint64_t)h;
				break;
			}
			if (c->digits == 0)
				return LLMO_GW_CHUNK_ERROR;
			c->state = CH_SIZE_TAIL;
			/* fall through */
		case CH_SIZE_TAIL:
			if (ch == '\r')
				c->state = CH_SIZE_LF;
			else if (ch == '\n' || ((unsigned char)ch < 0x20 && ch != '\t') || ch == 0x7F)
				return LLMO_GW_CHUNK_ERROR;
			break;
		case CH_SIZE_LF:
			if (ch != '\n')
				return LLMO_GW_CHUNK_ERROR;
			c->digits = 0;
			c->line = 0;
			if (c->remaining == 0) {
				c->state = CH_TRAILER_START;
				break;
			}
			c->state = CH_DATA;
			*n = i + 1;
			return LLMO_GW_CHUNK_SKIP;
		case CH_DATA_CR:
			if (ch != '\r')
				return LLMO_GW_CHUNK_ERROR;
			c->state = CH_DATA_LF;
			break;
		case CH_DATA_LF:
			if (ch != '\n')
				return LLMO_GW_CHUNK_ERROR;
			c->state = CH_SIZE;
			c->line = 0;
			break;
		case CH_TRAILER_START:
			if (ch == '\r') {
				c->state = CH_FINAL_LF;
				break;
			}
			c->state = CH_TRAILER_LINE;
			/* fall through */
		case CH_TRAILER_LINE:
			if (ch == '\r')
				c->state = CH_TRAILER_LF;
			else if (ch == '\n')
				return LLMO_GW_CHUNK_ERROR;
			break;
		case CH_TRAILER_LF:
			if (ch != '\n')
				return LLMO_GW_CHUNK_ERROR;
			c->state = CH_TRAILER_START;
			break;
		case CH_FINAL_LF:
			if (ch != '\n')
				return LLMO_GW_CHUNK_ERROR;
			c->state = CH_DONE;
			*n = i + 1;
			return LLMO_GW_CHUNK_DONE;
		default:
			return LLMO_GW_CHUNK_ERROR;
		}
		/* bound the framing: a size line, or the trailers */
		if (++c->line > (c->state >= CH_TRAILER_START ? (size_t)LLMO_GW_TRAILERS_MAX
							      : (size_t)LLMO_GW_CHUNK_LINE_MAX))
			return LLMO_GW_CHUNK_ERROR;
	}
	*n = len;
	return LLMO_GW_CHUNK_MORE;
}
