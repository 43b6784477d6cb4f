#ifndef LLMO_GATEWAY_BODY_H
#define LLMO_GATEWAY_BODY_H
/*
 * The gateway's fast path through an OpenAI request body: one pass over the
 * bytes that checks the whole body is well-formed JSON (RFC 8259: UTF-8,
 * escapes, numbers, nesting) whose top level is an object, and reads the
 * members the gateway acts on, "model" and "stream", and where the prompt
 * ("prompt" or "messages") lies. Nothing is
 * allocated and no tree is built: the body is forwarded as it came, with
 * at most the model's string replaced (llmo_gw_body_model_span says where).
 *
 * Top-level keys are compared after unescaping, as the backends read them
 * ("mod\u0065l" is "model"), and a second "model" member is an error, so
 * that the gateway never routes by one model while the backend reads
 * another.
 *
 * Input is untrusted: the nesting depth is capped at LLMO_GW_BODY_DEPTH_MAX,
 * the decoded model name at LLMO_GW_MODEL_MAX bytes (a longer one is
 * flagged, not copied), and the body's size is the caller's cap.
 */
#include "base/common.h"

#include "base/error.h"

/* Longest model name read (workload names are <= 253, modelName:modelVersion <= 382). */
#define LLMO_GW_MODEL_MAX 512
/* Deepest nesting of arrays and objects accepted. */
#define LLMO_GW_BODY_DEPTH_MAX 128

struct llmo_gw_body {
	char model[LLMO_GW_MODEL_MAX + 1]; /* decoded, NUL-terminated (may hold NULs from \u0000) */
	size_t model_len;		   /* bytes in model */
	bool model_too_long;		   /* the name was longer than LLMO_GW_MODEL_MAX: model is cut */
	size_t model_off;		   /* the model value's JSON token, quotes included: */
	size_t model_tok_len;		   /*   body[model_off, model_off + model_tok_len) */
	bool stream;			   /* top-level "stream" is true */
	/*
	 * The JSON text of the top-level "prompt" (completions) or "messages"
	 * (chat) value, as it came: body[prompt_off, prompt_off + prompt_len);
	 * prompt_len 0 when there is neither (the first one counts). Prefix
	 * affinity hashes these bytes.
	 */
	size_t prompt_off, prompt_len;
};

/*
 * Scans len bytes of body into *out. Returns 0 with the model read, or:
 *   LLMO_EPARSE     not JSON (message: "byte N: what was expected")
 *   LLMO_ETOOBIG    nested deeper than LLMO_GW_BODY_DEPTH_MAX
 *   LLMO_EINVAL     the top level is not an object, "model" is not a string,
 *                   or "model" appears twice (message says which)
 *   LLMO_ENOTFOUND  there is no "model" member
 * err (may be NULL) gets the message; *out is unspecified on error.
 */
int llmo_gw_body_scan(const char *body, size_t len, struct llmo_gw_body *out,
		      struct llmo_error *err);

/* Bytes at the end of an answer the token counts are read from (llmo_gw_usage_scan). */
#define LLMO_GW_USAGE_TAIL_MAX 2048

/*
 * Token counts from the tail of a backend's answer: the last "usage" member
 * whose value is an object ({"prompt_tokens": P, "completion_tokens": C,
 * ...}, in a JSON answer or in the final SSE event of a stream; "usage":
 * null in the other events is passed over). Only the s[0, n) bytes are
 * read, which may start mid-document. 0 with *prompt and *completion (-1
 * for one that is absent), or LLMO_ENOTFOUND when there is no such member.
 */
int llmo_gw_usage_scan(const char *s, size_t n, int64_t *prompt, int64_t *completion);

#endif
