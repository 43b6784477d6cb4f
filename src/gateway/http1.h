#ifndef LLMO_GATEWAY_HTTP1_H
#define LLMO_GATEWAY_HTTP1_H
/*
 * HTTP/1.x message heads and chunked framing for the gateway, as pure
 * functions over bytes (no sockets): the request head a client sends, the
 * response head a backend sends, and an incremental chunked-body decoder.
 *
 * The parsers are strict where leniency lets a client and a backend read
 * one message two ways (request smuggling): lines end in CRLF, no
 * whitespace before a header's colon, no obs-fold, Content-Length is plain
 * digits and agrees with itself, Content-Length with Transfer-Encoding is
 * refused, and only "chunked" transfer coding is accepted in requests.
 *
 * Parsed heads point into the caller's buffer (nothing is copied): keep
 * the bytes while using the head.
 */
#include "base/common.h"

#include "base/error.h"

/* Header lines in one head; a head with more is refused (431 for a request). */
#define LLMO_GW_HEADERS_MAX 100
/* Longest request target; longer gets 414. */
#define LLMO_GW_TARGET_MAX 8192
/* Longest method name. */
#define LLMO_GW_METHOD_MAX 16
/* Longest chunk-size line (with extensions) and trailer section of a chunked body. */
#define LLMO_GW_CHUNK_LINE_MAX 4096
#define LLMO_GW_TRAILERS_MAX 16384

/* The header names the gateway acts on, recognised once while parsing. */
enum llmo_gw_header_id {
	LLMO_GW_H_OTHER,
	LLMO_GW_H_CONTENT_LENGTH,
	LLMO_GW_H_TRANSFER_ENCODING,
	LLMO_GW_H_CONNECTION,
	LLMO_GW_H_EXPECT,
	LLMO_GW_H_HOST,
	LLMO_GW_H_CONTENT_TYPE,
	LLMO_GW_H_X_FORWARDED_FOR,
	LLMO_GW_H_KEEP_ALIVE, /* this and those below are hop-by-hop */
	LLMO_GW_H_PROXY_CONNECTION,
	LLMO_GW_H_PROXY_AUTHENTICATE,
	LLMO_GW_H_PROXY_AUTHORIZATION,
	LLMO_GW_H_TE,
	LLMO_GW_H_TRAILER,
	LLMO_GW_H_UPGRADE,
};

struct llmo_gw_header {
	const char *name;
	size_t name_len;
	const char *value; /* without the surrounding whitespace */
	size_t value_len;
	enum llmo_gw_header_id id;
};

/* The id of a header name (ASCII case-insensitive); LLMO_GW_H_OTHER for the rest. */
enum llmo_gw_header_id llmo_gw_header_id(const char *name, size_t len);

struct llmo_gw_request_head {
	const char *method;
	size_t method_len;
	const char *target; /* origin-form: "/v1/models?x=1" */
	size_t target_len;
	size_t path_len; /* target bytes before '?' */
	int minor;	 /* HTTP/1.minor: 0 or 1 */
	struct llmo_gw_header headers[LLMO_GW_HEADERS_MAX];
	size_t nheaders;
	/* what the framing headers say */
	int64_t content_length; /* -1: none */
	bool chunked;		/* Transfer-Encoding: chunked */
	bool keep_alive;	/* after the version and Connection */
	bool expect_continue;	/* Expect: 100-continue */
};

/*
 * Parses the request head in buf[0, len), which ends with the blank line
 * (CRLF CRLF). On error returns LLMO_EPARSE (or LLMO_ETOOBIG, LLMO_EUNSUPPORTED)
 * with *status the answer to give: 400 malformed, 414 target too long,
 * 431 too many headers, 501 an unsupported transfer coding, 505 not HTTP/1.x.
 */
int llmo_gw_parse_request_head(const char *buf, size_t len, struct llmo_gw_request_head *out,
			       int *status, struct llmo_error *err);

struct llmo_gw_response_head {
	int minor;
	int status; /* 100..999 */
	struct llmo_gw_header headers[LLMO_GW_HEADERS_MAX];
	size_t nheaders;
	int64_t content_length; /* -1: none */
	bool chunked;		/* chunked is the last transfer coding */
	bool close_delimited;	/* no length: the body ends when the connection closes */
	bool keep_alive;	/* the connection may be reused after this response */
	bool event_stream;	/* Content-Type: text/event-stream */
};

/*
 * Parses a backend's response head (ending with CRLF CRLF). request_head
 * says the request was HEAD (no body whatever the headers say).
 * LLMO_EPARSE on anything malformed.
 */
int llmo_gw_parse_response_head(const char *buf, size_t len, bool request_head,
				struct llmo_gw_response_head *out, struct llmo_error *err);

/* Whether a response with this status has no body (1xx, 204, 304). */
bool llmo_gw_status_bodyless(int status);

/* A header's name is name (ASCII case-insensitive). */
bool llmo_gw_header_is(const struct llmo_gw_header *h, const char *name);

/*
 * Hop-by-hop headers (RFC 9110 7.6.1), and those the gateway writes itself
 * (Host, Content-Length): never forwarded as they came.
 */
bool llmo_gw_header_hop_by_hop(const struct llmo_gw_header *h);

/*
 * Whether a Connection header among hs[0, n) names h (RFC 9110 7.6.1: the
 * headers it names are hop-by-hop too, and are not forwarded).
 */
bool llmo_gw_header_connection_listed(const struct llmo_gw_header *hs, size_t n,
				      const struct llmo_gw_header *h);

/* The reason phrase of a status ("Not Found"); "Unknown" for codes not in the table. */
const char *llmo_gw_status_reason(int status);

/*
 * An incremental chunked-body decoder. Feed it the unread bytes; each call
 * says what the first of them are:
 *
 *     LLMO_GW_CHUNK_DATA   the next *n bytes are body data
 *     LLMO_GW_CHUNK_SKIP   the next *n bytes are framing (sizes, CRLFs, trailers)
 *     LLMO_GW_CHUNK_DONE   the body ended *n bytes in (the last framing bytes)
 *     LLMO_GW_CHUNK_MORE   every byte given was framing and consumed (*n of
 *                          them); call again with more
 *     LLMO_GW_CHUNK_ERROR  malformed (or over LLMO_GW_CHUNK_LINE_MAX /
 *                          LLMO_GW_TRAILERS_MAX): give up on the message
 *
 * The caller consumes *n bytes after each call but ERROR. Data may be
 * reported before the rest of its chunk has arrived (streaming).
 */
enum llmo_gw_chunk_step {
	LLMO_GW_CHUNK_DATA,
	LLMO_GW_CHUNK_SKIP,
	LLMO_GW_CHUNK_DONE,
	LLMO_GW_CHUNK_MORE,
	LLMO_GW_CHUNK_ERROR,
};

struct llmo_gw_chunked {
	int state;
	uint64_t remaining; /* data bytes left in the current chunk */
	size_t line;	    /* bytes of the current size line or trailer section */
	int digits;
};

void llmo_gw_chunked_init(struct llmo_gw_chunked *c);
enum llmo_gw_chunk_step llmo_gw_chunked_next(struct llmo_gw_chunked *c, const char *p, size_t len,
					     size_t *n);

#endif
