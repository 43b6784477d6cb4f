#include "base/common.h"

#include <errno.h>
#include <math.h>

#include "base/json.h"
#include "base/str.h"

/*
 * A JSON parser that builds jansson values, for llmo_json_load: jansson's
 * own reads its input one character at a time through a stream callback
 * and copied every token through a growable buffer, which made parsing a
 * request body a fifth of an API create's CPU time. This one scans the
 * text in place. It accepts exactly what json_loadb(text, len,
 * JSON_DECODE_ANY | JSON_REJECT_DUPLICATES) accepts and builds the same
 * values (tests/fuzz/fuzz_json_parse.c checks both against jansson),
 * including its nesting limit of JSON_PARSER_MAX_DEPTH values.
 */

struct jp {
	const char *start, *p, *end;
	int depth;
	int rc;               /* LLMO_EPARSE or LLMO_ENOMEM once failed */
	const char *err_at;   /* where the error was found */
	char msg[160];        /* what it is */
	struct llmo_buf text; /* a string with escapes, decoded */
};

static void jp_fail(struct jp *j, const char *at, const char *fmt, ...) LLMO_PRINTF(3, 4);
static void jp_fail(struct jp *j, const char *at, const char *fmt, ...)
{
	va_list ap;

	if (j->rc)
		return;
	j->rc = LLMO_EPARSE;
	j->err_at = at;
	va_start(ap, fmt);
	vsnprintf(j->msg, sizeof(j->msg), fmt, ap);
	va_end(ap);
}

static void jp_nomem(struct jp *j)
{
	if (!j->rc) {
		j->rc = LLMO_ENOMEM;
		j->err_at = j->p;
		snprintf(j->msg, sizeof(j->msg), "out of memory");
	}
}

static void jp_ws(struct jp *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

/* What is at p, for messages: the character or "end of input". */
static const char *jp_near(const struct jp *j, const char *p, char buf[8])
{
	unsigned char c;

	if (p >= j->end)
		return "end of input";
	c = (unsigned char)*p;
	if (c >= 0x21 && c < 0x7f)
		snprintf(buf, 8, "'%c'", c);
	else
		snprintf(buf, 8, "0x%02x", c);
	return buf;
}

/* One escape at p (at its '\'), decoded into j->text; moves p past it. */
static bool jp_escape(struct jp *j)
{
	const char *at = j->p;
	uint32_t cp;
	int v, lo;
	char c, u[4];

	if (j->end - j->p < 2) {
		jp_fail(j, at, "unfinished escape in a string");
		return false;
	}
	c = j->p[1];
	j->p += 2;
	if (c != 'u') {
		v = llmo_json_escape_byte(c);
		if (v < 0) {
			jp_fail(j, at, "invalid escape '\\%c' in a string", c);
			return false;
		}
		if (llmo_buf_putc(&j->text, (char)v))
			jp_nomem(j);
		return !j->rc;
	}
	if (j->end - j->p < 4 || (v = llmo_hex4(j->p)) < 0) {
		jp_fail(j, at, "invalid \\u escape in a string");
		return false;
	}
	j->p += 4;
	cp = (uint32_t)v;
	if (cp >= 0xdc00 && cp <= 0xdfff) {
		jp_fail(j, at, "invalid Unicode escape: a low surrogate \\u%04X alone", cp);
		return false;
	}
	if (cp >= 0xd800 && cp <= 0xdbff) {
		if (j->end - j->p < 6 || j->p[0] != '\\' || j->p[1] != 'u' ||
		    (lo = llmo_hex4(j->p + 2)) < 0xdc00 || lo > 0xdfff) {
			jp_fail(j, at, "invalid Unicode escape: \\u%04X without its low surrogate",
				cp);
			return false;
		}
		j->p += 6;
		cp = 0x10000 + ((cp - 0xd800) << 10) + ((uint32_t)lo - 0xdc00);
	}
	if (cp == 0) {
		jp_fail(j, at, "\\u0000 is not allowed in a string");
		return false;
	}
	if (llmo_buf_append(&j->text, u, llmo_utf8_encode(cp, u)))
		jp_nomem(j);
	return !j->rc;
}

/*
 * The string at p (at its '"'): its bytes in *s (into the text itself when
 * it has no escape, else into j->text) and *n. Moves p past it.
 */
static bool jp_string(struct jp *j, const char **s, size_t *n)
{
	const char *at = j->p, *run;
	bool escaped = false;

	run = ++j->p;
	for (;;) {
		unsigned char c;

		if (j->p >= j->end) {
			jp_fail(j, at, "unterminated string");
			return false;
		}
		c = (unsigned char)*j->p;
		if (c == '"')
			break;
		if (c < 0x20) {
			jp_fail(j, j->p, "control character 0x%02x in a string", c);
			return false;
		}
		if (c >= 0x80) {
			size_t k = llmo_utf8_seq_len((const unsigned char *)j->p,
						     (size_t)(j->end - j->p));

			if (!k) {
				jp_fail(j, j->p, "invalid UTF-8 byte 0x%02x in a string", c);
				return false;
			}
			j->p += k;
			continue;
		}
		if (c != '\\') {
			j->p++;
			continue;
		}
		if (!escaped) {
			llmo_buf_reset(&j->text);
			escaped = true;
		}
		if (llmo_buf_append(&j->text, run, (size_t)(j->p - run))) {
			jp_nomem(j);
			return false;
		}
		if (!jp_escape(j))
			return false;
		run = j->p;
	}
	if (!escaped) {
		*s = run;
		*n = (size_t)(j->p - run);
	} else {
		if (llmo_buf_append(&j->text, run, (size_t)(j->p - run))) {
			jp_nomem(j);
			return false;
		}
		*s = j->text.data;
		*n = j->text.len;
	}
	j->p++;
	return true;
}

static bool jp_digit(const struct jp *j, const char *p)
{
	return p < j->end && *p >= '0' && *p <= '9';
}

static json_t *jp_number(struct jp *j)
{
	const char *at = j->p, *p = j->p;
	bool real = false;
	char small[64], *copy;
	size_t n;
	json_t *v;

	if (*p == '-')
		p++;
	if (!jp_digit(j, p)) {
		jp_fail(j, at, "invalid number");
		return NULL;
	}
	if (*p == '0') {
		p++;
		if (jp_digit(j, p)) {
			jp_fail(j, at, "invalid number: a leading zero");
			return NULL;
		}
	} else {
		while (jp_digit(j, p))
			p++;
	}
	if (p < j->end && *p == '.') {
		real = true;
		if (!jp_digit(j, ++p)) {
			jp_fail(j, at, "invalid number: no digit after '.'");
			return NULL;
		}
		while (jp_digit(j, p))
			p++;
	}
	if (p < j->end && (*p == 'e' || *p == 'E')) {
		real = true;
		p++;
		if (p < j->end && (*p == '+' || *p == '-'))
			p++;
		if (!jp_digit(j, p)) {
			jp_fail(j, at, "invalid number: no digit in the exponent");
			return NULL;
		}
		while (jp_digit(j, p))
			p++;
	}
	/* strtoll and strtod want a terminated string: the text need not be one */
	n = (size_t)(p - at);
	copy = n < sizeof(small) ? small : malloc(n + 1);
	if (!copy) {
		jp_nomem(j);
		return NULL;
	}
	memcpy(copy, at, n);
	copy[n] = '\0';
	errno = 0;
	if (real) {
		double d = strtod(copy, NULL);

		if (errno == ERANGE && (d == HUGE_VAL || d == -HUGE_VAL)) {
			jp_fail(j, at, "real number overflow");
			v = NULL;
		} else {
			v = json_real(d);
		}
	} else {
		long long i = strtoll(copy, NULL, 10);

		if (errno == ERANGE) {
			jp_fail(j, at, "too big %sinteger", i < 0 ? "negative " : "");
			v = NULL;
		} else {
			v = json_integer((json_int_t)i);
		}
	}
	if (copy != small)
		free(copy);
	if (!v && !j->rc)
		jp_nomem(j);
	j->p = p;
	return v;
}

static json_t *jp_value(struct jp *j);

static json_t *jp_object(struct jp *j)
{
	json_t *obj = json_object();

	if (!obj) {
		jp_nomem(j);
		return NULL;
	}
	j->p++;
	jp_ws(j);
	if (j->p < j->end && *j->p == '}') {
		j->p++;
		return obj;
	}
	for (;;) {
		const char *key_at = j->p, *key;
		char *owned = NULL;
		size_t n;
		json_t *v;
		char nb[8];

		if (j->p >= j->end || *j->p != '"') {
			jp_fail(j, j->p, "expected a string key, got %s", jp_near(j, j->p, nb));
			break;
		}
		if (!jp_string(j, &key, &n))
			break;
		/* a key decoded into j->text must outlive it (the value may reuse it);
		 * one without escapes is a slice of the text itself */
		if (key == j->text.data) {
			if (!(owned = malloc(n ? n : 1))) {
				jp_nomem(j);
				break;
			}
			memcpy(owned, key, n);
			key = owned;
		}
		jp_ws(j);
		if (j->p >= j->end || *j->p != ':') {
			jp_fail(j, j->p, "expected ':' after an object key, got %s",
				jp_near(j, j->p, nb));
			free(owned);
			break;
		}
		j->p++;
		v = jp_value(j);
		if (!v) {
			free(owned);
			break;
		}
		if (json_object_getn(obj, key, n)) {
			jp_fail(j, key_at, "duplicate object key \"%.*s\"", (int)LLMO_MIN(n, sizeof(j->msg)),
				key);
			json_decref(v);
			free(owned);
			break;
		}
		/* setn copies the key */
		if (json_object_setn_new_nocheck(obj, key, n, v)) {
			jp_nomem(j);
			free(owned);
			break;
		}
		free(owned);
		jp_ws(j);
		if (j->p < j->end && *j->p == ',') {
			j->p++;
			jp_ws(j);
			continue;
		}
		if (j->p < j->end && *j->p == '}') {
			j->p++;
			return obj;
		}
		jp_fail(j, j->p, "expected ',' or '}' in an object, got %s", jp_near(j, j->p, nb));
		break;
	}
	json_decref(obj);
	return NULL;
}

static json_t *jp_array(struct jp *j)
{
	json_t *arr = json_array();
	char nb[8];

	if (!arr) {
		jp_nomem(j);
		return NULL;
	}
	j->p++;
	jp_ws(j);
	if (j->p < j->end && *j->p == ']') {
		j->p++;
		return arr;
	}
	for (;;) {
		json_t *v = jp_value(j);

		if (!v)
			break;
		if (json_array_append_new(arr, v)) {
			jp_nomem(j);
			break;
		}
		jp_ws(j);
		if (j->p < j->end && *j->p == ',') {
			j->p++;
			continue;
		}
		if (j->p < j->end && *j->p == ']') {
			j->p++;
			return arr;
		}
		jp_fail(j, j->p, "expected ',' or ']' in an array, got %s", jp_near(j, j->p, nb));
		break;
	}
	json_decref(arr);
	return NULL;
}

/* true, false or null at p; an identifier that is none of them is an error. */
static json_t *jp_literal(struct jp *j)
{
	const char *at = j->p, *p = j->p;
	size_t n;

	while (p < j->end && ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
		p++;
	n = (size_t)(p - at);
	j->p = p;
	if (n == 4 && memcmp(at, "true", 4) == 0)
		return json_true();
	if (n == 5 && memcmp(at, "false", 5) == 0)
		return json_false();
	if (n == 4 && memcmp(at, "null", 4) == 0)
		return json_null();
	jp_fail(j, at, "invalid token '%.*s'", (int)(n > 20 ? 20 : n), at);
	return NULL;
}

static json_t *jp_value(struct jp *j)
{
	json_t *v = NULL;
	char nb[8];

	jp_ws(j);
	/* every value counts, as in jansson: its limit is on values, not levels */
	if (++j->depth > JSON_PARSER_MAX_DEPTH) {
		jp_fail(j, j->p, "nested deeper than %d levels", JSON_PARSER_MAX_DEPTH);
		return NULL;
	}
	if (j->p >= j->end) {
		jp_fail(j, j->p, "unexpected end of input");
		return NULL;
	}
	switch (*j->p) {
	case '{':
		v = jp_object(j);
		break;
	case '[':
		v = jp_array(j);
		break;
	case '"': {
		const char *s;
		size_t n;

		if (jp_string(j, &s, &n) && !(v = json_stringn_nocheck(s, n)))
			jp_nomem(j);
		break;
	}
	case '-':
	case '0':
	case '1':
	case '2':
	case '3':
	case '4':
	case '5':
	case '6':
	case '7':
	case '8':
	case '9':
		v = jp_number(j);
		break;
	default:
		if ((*j->p >= 'a' && *j->p <= 'z') || (*j->p >= 'A' && *j->p <= 'Z'))
			v = jp_literal(j);
		else
			jp_fail(j, j->p, "unexpected %s", jp_near(j, j->p, nb));
	}
	j->depth--;
	return v;
}

/* Line and column (1-based, columns in bytes) of p in the text. */
static void jp_position(const struct jp *j, const char *p, int *line, int *col)
{
	const char *line_start = j->start;

	*line = 1;
	for (const char *q = j->start; q < p; q++) {
		if (*q == '\n') {
			(*line)++;
			line_start = q + 1;
		}
	}
	*col = (int)(p - line_start) + 1;
}

int llmo_json_load(const char *text, size_t len, const char *name, json_t **out,
		   struct llmo_error *err)
{
	struct jp j = {.start = text, .p = text, .end = text + len};
	int line, col;

	*out = NULL;
	if (!name)
		name = "<input>";
	llmo_buf_init(&j.text, LLMO_BUF_UNLIMITED);
	*out = jp_value(&j);
	if (*out) {
		char nb[8];

		jp_ws(&j);
		if (j.p < j.end)
			jp_fail(&j, j.p, "expected the end of input after the value, got %s",
				jp_near(&j, j.p, nb));
	}
	llmo_buf_release(&j.text);
	if (!j.rc)
		return 0;
	json_decref(*out);
	*out = NULL;
	if (j.rc == LLMO_ENOMEM)
		return llmo_error_set(err, LLMO_ENOMEM, "%s: out of memory", name);
	jp_position(&j, j.err_at, &line, &col);
	return llmo_error_set(err, LLMO_EPARSE, "%s:%d:%d: %s", name, line, col, j.msg);
}
