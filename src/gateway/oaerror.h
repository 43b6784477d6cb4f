#ifndef LLMO_GATEWAY_OAERROR_H
#define LLMO_GATEWAY_OAERROR_H
/*
 * OpenAI-style error bodies, what every gateway error answer carries:
 *
 *     {"error":{"message":"...","type":"invalid_request_error","param":"model","code":"model_not_found"}}
 *
 * type is "invalid_request_error" for 4xx statuses and "server_error" for
 * 5xx; param and code are JSON null when not given. The message is escaped
 * for JSON; bytes that are not valid UTF-8 become U+FFFD, so the body is
 * always valid JSON whatever a client sent.
 */
#include "base/common.h"

#include "base/buf.h"

/* Longest piece of a client's input (a model name) quoted in a message. */
#define LLMO_GW_QUOTE_MAX 128

/* Appends the body to out. param and code may be NULL. 0 or out's error. */
int llmo_gw_error_body(struct llmo_buf *out, int status, const char *message, const char *param,
		       const char *code);

/*
 * Writes at most LLMO_GW_QUOTE_MAX bytes of s (len bytes, any bytes) into
 * dst (LLMO_GW_QUOTE_MAX + 4 bytes), cut on a UTF-8 boundary and ending in
 * "..." when cut; NUL bytes become '?'. Returns dst.
 */
const char *llmo_gw_quote_input(char *dst, const char *s, size_t len);

#endif
