/*
 * The request-body scanner (body.h): recursive descent over the JSON
 * grammar of RFC 8259, bounded by LLMO_GW_BODY_DEPTH_MAX, with a byte-class
 * table for the hot loop over string contents (which is where the bytes of
 * a prompt are). Strings are decoded only where the gateway needs their
 * value: top-level keys and the model.
 */
#include "base/common.h"

#include "base/str.h"
#include "gateway/body.h"

#include "base/banned.h"

/* Byte classes inside a JSON string. */
enum {
	C_PLAIN, /* printable ASCII other than '"' and '\\' (see plain()) */
	C_QUOTE,
	C_ESC,
	C_CTRL, /* below 0x20: must be escaped */
	C_U2,	/* C2..DF: lead of 2 bytes */
	C_U3,	/* E0..EF: lead of 3 */
	C_U4,	/* F0..F4: lead of 4 */
	C_BAD,	/* 80..BF alone, C0, C1, F5..FF: never valid here */
};

/* Printable ASCII other than '"' and '\\': what most string bytes are. */
static inline bool plain(unsigned char c)
{
	return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

/*
 * Whether all 8 bytes of w are plain: none below 0x20 or from 0x80, none
 * '"' or '\\' (the "has a zero byte" and "has a byte below n" bit tricks,
 * exact for telling whether any byte matches).
 */
static inline bool word_plain(uint64_t w)
{
	const uint64_t ones = UINT64_C(0x0101010101010101), highs = UINT64_C(0x8080808080808080);
	uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');
	uint64_t ctl = (w - ones * 0x20) & ~w & highs;

	return ((ctl | (w & highs) | ((q - ones) & ~q & highs) | ((b - ones) & ~b & highs)) == 0);
}

static int classify(unsigned char c)
{
	if (c == '"')
		return C_QUOTE;
	if (c == '\\')
		return C_ESC;
	if (c < 0x20)
		return C_CTRL;
	if (c >= 0xC2 && c <= 0xDF)
		return C_U2;
	if (c >= 0xE0 && c <= 0xEF)
		return C_U3;
	if (c >= 0xF0 && c <= 0xF4)
		return C_U4;
	return c < 0x80 ? C_PLAIN : C_BAD;
}

struct scan {
	const unsigned char *start, *p, *end;
	struct llmo_error *err;
	int semantic;	       /* the first non-syntax error (EINVAL), reported if the syntax is fine */
	struct llmo_error sem; /* its message */
};

static int fail(struct scan *s, const char *what)
{
	if (s->p >= s->end)
		return llmo_error_set(s->err, LLMO_EPARSE, "byte %zu: unexpected end of body, %s",
				      (size_t)(s->end - s->start), what);
	return llmo_error_set(s->err, LLMO_EPARSE, "byte %zu: %s", (size_t)(s->p - s->start), what);
}

static void skip_ws(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

/* Appends one decoded byte; *n counts every byte, stored or not. */
static inline void put(char *dec, size_t cap, size_t *n, unsigned char c)
{
	if (dec && *n < cap)
		dec[*n] = (char)c;
	(*n)++;
}

static int hex4(struct scan *s, unsigned *out)
{
	int v;

	if (s->end - s->p < 4 || (v = llmo_hex4((const char *)s->p)) < 0)
		return fail(s, "expected 4 hex digits after \\u");
	s->p += 4;
	*out = (unsigned)v;
	return 0;
}

/* One escape after the backslash (s->p is past it). */
static int escape(struct scan *s, char *dec, size_t cap, size_t *n)
{
	unsigned cp = 0, lo = 0;
	char u[4];
	size_t k;
	int rc;

	if (s->p >= s->end)
		return fail(s, "expected an escape after '\\'");
	if (*s->p != 'u') {
		int b = llmo_json_escape_byte((char)*s->p);

		if (b < 0)
			return fail(s, "invalid escape");
		s->p++;
		put(dec, cap, n, (unsigned char)b);
		return 0;
	}
	s->p++;
	if ((rc = hex4(s, &cp)))
		return rc;
	if (cp >= 0xDC00 && cp <= 0xDFFF) {
		s->p -= 6;
		return fail(s, "lone low surrogate in \\u escape");
	}
	if (cp >= 0xD800 && cp <= 0xDBFF) {
		if (s->end - s->p < 6 || s->p[0] != '\\' || s->p[1] != 'u') {
			s->p -= 6;
			return fail(s, "high surrogate not followed by a low one");
		}
		s->p += 2;
		if ((rc = hex4(s, &lo)))
			return rc;
		if (lo < 0xDC00 || lo > 0xDFFF) {
			s->p -= 6;
			return fail(s, "high surrogate not followed by a low one");
		}
		cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
	}
	k = llmo_utf8_encode(cp, u);
	for (size_t i = 0; i < k; i++)
		put(dec, cap, n, (unsigned char)u[i]);
	return 0;
}

/* A multi-byte UTF-8 sequence at s->p of class k (RFC 3629: no overlongs, no surrogates). */
static int utf8_seq(struct scan *s, int k, char *dec, size_t cap, size_t *n)
{
	const unsigned char *p = s->p;
	size_t need = k == C_U2 ? 2 : k == C_U3 ? 3 : 4;

	if ((size_t)(s->end - p) < need)
		return fail(s, "truncated UTF-8 sequence");
	if (llmo_utf8_seq_len(p, need) != need)
		return fail(s, "invalid UTF-8");
	for (size_t i = 0; i < need; i++)
		put(dec, cap, n, p[i]);
	s->p += need;
	return 0;
}

/*
 * A string at s->p (which is '"'). With dec, its decoded bytes go there (at
 * most cap); *n (may be NULL without dec) receives the decoded length.
 */
static int string(struct scan *s, char *dec, size_t cap, size_t *n)
{
	size_t count = 0;
	int rc;

	s->p++;
	for (;;) {
		const unsigned char *p = s->p;

		/* the hot loop: runs of plain ASCII */
		if (dec) {
			while (p < s->end && plain(*p)) {
				if (count < cap)
					dec[count] = (char)*p;
				count++;
				p++;
			}
		} else {
			/* eight bytes at a time through prompts, then byte by byte */
			while (s->end - p >= 8) {
				uint64_t w;

				memcpy(&w, p, sizeof(w));
				if (!word_plain(w))
					break;
				p += 8;
			}
			while (p < s->end && plain(*p))
				p++;
		}
		s->p = p;
		if (p >= s->end)
			return fail(s, "unterminated string");
		int k = classify(*p);

		switch (k) {
		case C_QUOTE:
			s->p++;
			if (n)
				*n = count;
			return 0;
		case C_ESC:
			s->p++;
			if ((rc = escape(s, dec, cap, &count)))
				return rc;
			break;
		case C_CTRL:
			return fail(s, "control character in string");
		case C_BAD:
			return fail(s, "invalid UTF-8");
		default:
			if ((rc = utf8_seq(s, k, dec, cap, &count)))
				return rc;
		}
	}
}

static bool digit(const struct scan *s)
{
	return s->p < s->end && *s->p >= '0' && *s->p <= '9';
}

static int number(struct scan *s)
{
	if (s->p < s->end && *s->p == '-')
		s->p++;
	if (!digit(s))
		return fail(s, "expected a digit");
	if (*s->p == '0')
		s->p++;
	else
		while (digit(s))
			s->p++;
	if (s->p < s->end && *s->p == '.') {
		s->p++;
		if (!digit(s))
			return fail(s, "expected a digit after '.'");
		while (digit(s))
			s->p++;
	}
	if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
		s->p++;
		if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
			s->p++;
		if (!digit(s))
			return fail(s, "expected a digit in the exponent");
		while (digit(s))
			s->p++;
	}
	return 0;
}

static int literal(struct scan *s, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
		return fail(s, "expected a JSON value");
	s->p += n;
	return 0;
}

static int value(struct scan *s, int depth);

static int array(struct scan *s, int depth)
{
	int rc;

	s->p++;
	skip_ws(s);
	if (s->p < s->end && *s->p == ']') {
		s->p++;
		return 0;
	}
	for (;;) {
		if ((rc = value(s, depth)))
			return rc;
		skip_ws(s);
		if (s->p >= s->end)
			return fail(s, "expected ',' or ']'");
		if (*s->p == ']') {
			s->p++;
			return 0;
		}
		if (*s->p != ',')
			return fail(s, "expected ',' or ']'");
		s->p++;
		skip_ws(s);
	}
}

static void semantic(struct scan *s, const char *msg)
{
	if (!s->semantic)
		s->semantic = llmo_error_set(&s->sem, LLMO_EINVAL, "%s", msg);
}

/*
 * An object at s->p ('{'). The top-level one (out not NULL) also reads
 * "model" and "stream" into out.
 */
static int object(struct scan *s, int depth, struct llmo_gw_body *out, bool *have_model)
{
	char key[8];
	size_t klen;
	int rc;

	s->p++;
	skip_ws(s);
	if (s->p < s->end && *s->p == '}') {
		s->p++;
		return 0;
	}
	for (;;) {
		bool is_model = false, is_stream = false, is_prompt = false;

		if (s->p >= s->end || *s->p != '"')
			return fail(s, "expected a string key");
		if (out) {
			if ((rc = string(s, key, sizeof(key), &klen)))
				return rc;
			is_model = klen == 5 && memcmp(key, "model", 5) == 0;
			is_stream = klen == 6 && memcmp(key, "stream", 6) == 0;
			is_prompt = (klen == 6 && memcmp(key, "prompt", 6) == 0) ||
				    (klen == 8 && memcmp(key, "messages", 8) == 0);
		} else if ((rc = string(s, NULL, 0, NULL))) {
			return rc;
		}
		skip_ws(s);
		if (s->p >= s->end || *s->p != ':')
			return fail(s, "expected ':'");
		s->p++;
		skip_ws(s);
		if (is_model) {
			if (*have_model)
				semantic(s, "\"model\" appears more than once");
			*have_model = true;
			if (s->p < s->end && *s->p == '"') {
				size_t n;

				out->model_off = (size_t)(s->p - s->start);
				if ((rc = string(s, out->model, LLMO_GW_MODEL_MAX, &n)))
					return rc;
				out->model_tok_len = (size_t)(s->p - s->start) - out->model_off;
				out->model_too_long = n > LLMO_GW_MODEL_MAX;
				out->model_len = LLMO_MIN(n, (size_t)LLMO_GW_MODEL_MAX);
				out->model[out->model_len] = '\0';
			} else {
				semantic(s, "\"model\" must be a string");
				if ((rc = value(s, depth)))
					return rc;
			}
		} else {
			const unsigned char *v = s->p;

			if (is_stream)
				out->stream = (size_t)(s->end - s->p) >= 4 && memcmp(s->p, "true", 4) == 0;
			if ((rc = value(s, depth)))
				return rc;
			if (is_prompt && out->prompt_len == 0) {
				out->prompt_off = (size_t)(v - s->start);
				out->prompt_len = (size_t)(s->p - v);
			}
		}
		skip_ws(s);
		if (s->p >= s->end)
			return fail(s, "expected ',' or '}'");
		if (*s->p == '}') {
			s->p++;
			return 0;
		}
		if (*s->p != ',')
			return fail(s, "expected ',' or '}'");
		s->p++;
		skip_ws(s);
	}
}

static int value(struct scan *s, int depth)
{
	if (s->p >= s->end)
		return fail(s, "expected a JSON value");
	switch (*s->p) {
	case '{':
	case '[':
		if (depth + 1 > LLMO_GW_BODY_DEPTH_MAX)
			return llmo_error_set(s->err, LLMO_ETOOBIG,
					      "byte %zu: nested deeper than %d levels",
					      (size_t)(s->p - s->start), LLMO_GW_BODY_DEPTH_MAX);
		return *s->p == '{' ? object(s, depth + 1, NULL, NULL) : array(s, depth + 1);
	case '"':
		return string(s, NULL, 0, NULL);
	case 't':
		return literal(s, "true");
	case 'f':
		return literal(s, "false");
	case 'n':
		return literal(s, "null");
	default:
		return number(s);
	}
}

int llmo_gw_body_scan(const char *body, size_t len, struct llmo_gw_body *out,
		      struct llmo_error *err)
{
	struct scan s = {.start = (const unsigned char *)body,
			 .p = (const unsigned char *)body,
			 .end = (const unsigned char *)body + len,
			 .err = err};
	bool have_model = false, is_object;
	int rc;

	out->model[0] = '\0';
	out->model_len = 0;
	out->model_too_long = false;
	out->model_off = out->model_tok_len = 0;
	out->stream = false;
	out->prompt_off = out->prompt_len = 0;
	skip_ws(&s);
	is_object = s.p < s.end && *s.p == '{';
	if (is_object)
		rc = object(&s, 1, out, &have_model);
	else
		rc = value(&s, 0);
	if (rc)
		return rc;
	skip_ws(&s);
	if (s.p != s.end)
		return fail(&s, "unexpected data after the JSON value");
	if (!is_object)
		return llmo_error_set(err, LLMO_EINVAL, "the body must be a JSON object");
	if (s.semantic) {
		llmo_error_set(err, s.semantic, "%s", s.sem.msg);
		return s.semantic;
	}
	if (!have_model)
		return llmo_error_set(err, LLMO_ENOTFOUND, "you must provide a model parameter");
	return 0;
}

/* ---- token counts in answers ---- */

/* The non-negative integer after "key" : in s[0, n), within the object that starts there. */
static int64_t usage_field(const char *s, size_t n, const char *key)
{
	size_t k = strlen(key);
	int depth = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '{' || s[i] == '[') {
			depth++;
		} else if (s[i] == '}' || s[i] == ']') {
			if (--depth <= 0)
				return -1;
		} else if (depth == 1 && s[i] == '"' && n - i > k + 1 && s[i + 1 + k] == '"' &&
			   memcmp(s + i + 1, key, k) == 0) {
			size_t j = i + k + 2;
			int64_t v = 0;

			while (j < n && (s[j] == ' ' || s[j] == '\t' || s[j] == '\n' || s[j] == '\r'))
				j++;
			if (j >= n || s[j] != ':')
				return -1;
			j++;
			while (j < n && (s[j] == ' ' || s[j] == '\t' || s[j] == '\n' || s[j] == '\r'))
				j++;
			if (j >= n || s[j] < '0' || s[j] > '9')
				return -1;
			for (; j < n && s[j] >= '0' && s[j] <= '9'; j++) {
				if (v > (INT64_MAX - 9) / 10)
					return -1;
				v = v * 10 + (s[j] - '0');
			}
			return v;
		}
	}
	return -1;
}

/* After "usage" at s[j]: the offset of its object's '{', or n when the value is not an object. */
static size_t usage_object(const char *s, size_t n, size_t j)
{
	while (j < n && (s[j] == ' ' || s[j] == '\t' || s[j] == '\n' || s[j] == '\r'))
		j++;
	if (j >= n || s[j] != ':')
		return n;
	j++;
	while (j < n && (s[j] == ' ' || s[j] == '\t' || s[j] == '\n' || s[j] == '\r'))
		j++;
	return j < n && s[j] == '{' ? j : n; /* null in a stream's other events */
}

int llmo_gw_usage_scan(const char *s, size_t n, int64_t *prompt, int64_t *completion)
{
	static const char key[] = "\"usage\"";
	size_t k = sizeof(key) - 1, last = n;
	const char *q = s + n;

	*prompt = *completion = -1;
	/*
	 * The last occurrence whose value is an object: backwards, from quote
	 * to quote (an answer's usage is at or near its end, a few quotes from
	 * it; a forward memmem went through the whole tail twice).
	 */
	while ((q = memrchr(s, '"', (size_t)(q - s)))) {
		if ((size_t)(q - s) + 1 >= k && memcmp(q + 1 - k, key, k) == 0) {
			size_t at = usage_object(s, n, (size_t)(q - s) + 1);

			if (at < n) {
				last = at;
				break;
			}
		}
	}
	if (last == n)
		return LLMO_ENOTFOUND;
	*prompt = usage_field(s + last, n - last, "prompt_tokens");
	*completion = usage_field(s + last, n - last, "completion_tokens");
	return 0;
}
