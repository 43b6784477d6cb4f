/*
 * Fuzz target for gateway/body.h, the request-body scanner, checked
 * against jansson: a body the scanner accepts jansson reads with the same
 * top-level "model"; a body it calls malformed jansson refuses too; a body
 * it calls well-formed (a missing or non-string model, not an object)
 * jansson reads. Numbers jansson cannot hold (it refuses huge ones), raw
 * NUL bytes (jansson stops reading at one), escaped NULs in object keys
 * (jansson refuses them) and the scanner's nesting cap are the known
 * differences. An accepted body with
 * its model token replaced (what the proxy does) scans again to the new
 * name.
 */
#include "base/common.h"

#include <jansson.h>

#include "base/buf.h"
#include "gateway/body.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* jansson refused only because of one of its limits: a number it cannot hold, a NUL in a key. */
static bool jansson_limit(const json_error_t *e)
{
	return strstr(e->text, "too big") || strstr(e->text, "overflow") ||
	       strstr(e->text, "NUL byte in object key");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *body = (const char *)data;
	struct llmo_gw_body b;
	struct llmo_error err = {0};
	json_error_t jerr;
	json_t *j;
	int rc;

	rc = llmo_gw_body_scan(body, size, &b, &err);
	if (rc && (err.code != rc || !err.msg[0]))
		abort();
	j = json_loadb(body, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
	switch (rc) {
	case 0: {
		json_t *m = json_object_get(j, "model");
		struct llmo_buf re;
		struct llmo_gw_body b2;

		if (b.model_off + b.model_tok_len > size || body[b.model_off] != '"' ||
		    body[b.model_off + b.model_tok_len - 1] != '"')
			abort();
		if (b.model_len > LLMO_GW_MODEL_MAX || b.model[b.model_len] != '\0')
			abort();
		if (j && (!json_is_string(m) || memcmp(json_string_value(m), b.model, b.model_len) ||
			  (!b.model_too_long && json_string_length(m) != b.model_len)))
			abort();
		if (!j && !jansson_limit(&jerr))
			abort();
		/* the prompt's span (prefix affinity hashes it) is one whole JSON value */
		if (b.prompt_off + b.prompt_len > size || (b.prompt_len == 0 && b.prompt_off != 0))
			abort();
		if (j && b.prompt_len) {
			json_t *pv = json_loadb(body + b.prompt_off, b.prompt_len,
						JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);

			if (!pv)
				abort();
			json_decref(pv);
		}
		llmo_buf_init(&re, LLMO_BUF_UNLIMITED);
		llmo_buf_append(&re, body, b.model_off);
		llmo_buf_puts(&re, "\"served:1\"");
		llmo_buf_append(&re, body + b.model_off + b.model_tok_len,
				size - b.model_off - b.model_tok_len);
		if (llmo_gw_body_scan(re.data, re.len, &b2, NULL) != 0 ||
		    strcmp(b2.model, "served:1") != 0 || b2.stream != b.stream ||
		    b2.prompt_len != b.prompt_len)
			abort();
		llmo_buf_release(&re);
		break;
	}
	case LLMO_EPARSE:
		/* jansson takes a raw NUL for the end of its input; JSON does not */
		if (j && !memchr(body, '\0', size))
			abort();
		break;
	case LLMO_ETOOBIG:
		break;
	case LLMO_EINVAL:
	case LLMO_ENOTFOUND:
		if (!j && !jansson_limit(&jerr))
			abort();
		break;
	default:
		abort();
	}
	json_decref(j);
	return 0;
}
