/*
 * OpenAI-style error bodies (oaerror.h).
 */
#include "base/common.h"

#include "base/str.h"
#include "gateway/oaerror.h"

#include "base/banned.h"

static int put_json_string(struct llmo_buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);
	int rc = llmo_buf_putc(b, '"');

	while (n > 0 && !rc) {
		size_t k = llmo_utf8_seq_len(p, n);

		if (k == 0) {
			rc = llmo_buf_puts(b, "\xEF\xBF\xBD");
			k = 1;
		} else if (*p == '"' || *p == '\\') {
			rc = llmo_buf_putc(b, '\\');
			if (!rc)
				rc = llmo_buf_putc(b, (char)*p);
		} else if (*p < 0x20) {
			rc = llmo_buf_appendf(b, "\\u%04x", *p);
		} else {
			rc = llmo_buf_append(b, p, k);
		}
		p += k;
		n -= k;
	}
	return rc ? rc : llmo_buf_putc(b, '"');
}

int llmo_gw_error_body(struct llmo_buf *out, int status, const char *message, const char *param,
		       const char *code)
{
	int rc = llmo_buf_puts(out, "{\"error\":{\"message\":");

	if (!rc)
		rc = put_json_string(out, message ? message : "");
	if (!rc)
		rc = llmo_buf_puts(out, status >= 500 ? ",\"type\":\"server_error\",\"param\":"
						      : ",\"type\":\"invalid_request_error\",\"param\":");
	if (!rc)
		rc = param ? put_json_string(out, param) : llmo_buf_puts(out, "null");
	if (!rc)
		rc = llmo_buf_puts(out, ",\"code\":");
	if (!rc)
		rc = code ? put_json_string(out, code) : llmo_buf_puts(out, "null");
	if (!rc)
		rc = llmo_buf_puts(out, "}}");
	return rc;
}

const char *llmo_gw_quote_input(char *dst, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, o = 0;

	while (i < len) {
		size_t k = llmo_utf8_seq_len(p + i, len - i);

		if (k == 0)
			k = 1; /* an invalid byte: kept, the JSON writer replaces it */
		if (o + k > LLMO_GW_QUOTE_MAX) {
			memcpy(dst + o, "...", 4);
			return dst;
		}
		for (size_t j = 0; j < k; j++)
			dst[o + j] = p[i + j] ? (char)p[i + j] : '?';
		o += k;
		i += k;
	}
	dst[o] = '\0';
	return dst;
}
