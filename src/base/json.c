#include "base/common.h"
#include "base/str.h"

#include <math.h>

#include "base/json.h"

/* Bytes that force a key into the ["..."] form. */
/* Keys are written bare only when made of [A-Za-z0-9_-]; anything else is quoted. */
static bool path_key_special(unsigned char c)
{
	return !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		 c == '-' || c == '_');
}

static bool path_key_needs_quotes(const char *key, size_t len)
{
	if (len == 0)
		return true;
	for (size_t i = 0; i < len; i++) {
		if (path_key_special((unsigned char)key[i]))
			return true;
	}
	return false;
}

/* Appends key as a double-quoted string with JSON escapes. */
static int path_put_quoted(struct llmo_buf *path, const char *key, size_t len)
{
	size_t run = 0;
	int rc;

	rc = llmo_buf_putc(path, '"');
	for (size_t i = 0; !rc && i < len; i++) {
		unsigned char c = (unsigned char)key[i];
		const char *esc = NULL;

		switch (c) {
		case '"':
			esc = "\\\"";
			break;
		case '\\':
			esc = "\\\\";
			break;
		case '\n':
			esc = "\\n";
			break;
		case '\r':
			esc = "\\r";
			break;
		case '\t':
			esc = "\\t";
			break;
		default:
			if (c >= 0x20 && c != 0x7f) {
				run++;
				continue;
			}
		}
		/* flush the plain bytes before this one, then the escape */
		rc = llmo_buf_append(path, key + i - run, run);
		run = 0;
		if (rc)
			break;
		if (esc)
			rc = llmo_buf_puts(path, esc);
		else
			rc = llmo_buf_appendf(path, "\\u%04x", c);
	}
	if (!rc)
		rc = llmo_buf_append(path, key + len - run, run);
	if (!rc)
		rc = llmo_buf_putc(path, '"');
	return rc;
}

int llmo_path_push_keyn(struct llmo_buf *path, const char *key, size_t len)
{
	size_t old = path->len;
	int rc;

	if (!path_key_needs_quotes(key, len)) {
		rc = path->len ? llmo_buf_putc(path, '.') : 0;
		if (!rc)
			rc = llmo_buf_append(path, key, len);
		goto out;
	}
	rc = llmo_buf_putc(path, '[');
	if (!rc)
		rc = path_put_quoted(path, key, len);
	if (!rc)
		rc = llmo_buf_putc(path, ']');
out:
	if (rc)
		llmo_buf_truncate(path, old);
	return rc;
}

int llmo_path_push_key(struct llmo_buf *path, const char *key)
{
	return llmo_path_push_keyn(path, key, strlen(key));
}

int llmo_path_push_index(struct llmo_buf *path, size_t i)
{
	return llmo_buf_appendf(path, "[%zu]", i);
}

void llmo_path_iter_init(struct llmo_path_iter *it, const char *path)
{
	llmo_buf_init(&it->key, LLMO_BUF_UNLIMITED);
	if (!path)
		path = "";
	llmo_path_iter_reset(it, path, strlen(path), true);
}

void llmo_path_iter_reset(struct llmo_path_iter *it, const char *path, size_t len, bool first)
{
	it->p = path;
	it->end = path + len;
	it->first = first;
	it->is_index = false;
	it->index = 0;
	llmo_buf_reset(&it->key);
}

void llmo_path_iter_release(struct llmo_path_iter *it)
{
	llmo_buf_release(&it->key);
}

/* Reads a "..." key at *pp (just past the opening quote) into it->key. */
static int path_read_quoted(struct llmo_path_iter *it, const char **pp)
{
	const char *p = *pp;
	int rc;

	for (;;) {
		char c;

		if (p >= it->end)
			return LLMO_EINVAL;
		c = *p++;
		if (c == '"')
			break;
		if (c != '\\') {
			rc = llmo_buf_putc(&it->key, c);
			if (rc)
				return rc;
			continue;
		}
		if (p >= it->end)
			return LLMO_EINVAL;
		c = *p++;
		if (c == 'u') {
			int cp = it->end - p >= 4 ? llmo_hex4(p) : -1;
			char u[4];

			/* paths never hold surrogate pairs: keys are UTF-8 */
			if (cp < 0 || (cp >= 0xd800 && cp <= 0xdfff))
				return LLMO_EINVAL;
			p += 4;
			rc = llmo_buf_append(&it->key, u, llmo_utf8_encode((uint32_t)cp, u));
		} else {
			int b = llmo_json_escape_byte(c);

			if (b < 0)
				return LLMO_EINVAL;
			rc = llmo_buf_putc(&it->key, (char)b);
		}
		if (rc)
			return rc;
	}
	*pp = p;
	return 0;
}

int llmo_path_iter_next(struct llmo_path_iter *it)
{
	const char *p = it->p, *start;
	int rc;

	llmo_buf_reset(&it->key);
	it->is_index = false;
	it->index = 0;
	if (p >= it->end)
		return 0;
	if (*p == '[') {
		p++;
		if (p < it->end && *p == '"') {
			p++;
			rc = path_read_quoted(it, &p);
			if (rc)
				return rc;
		} else {
			size_t i = 0;

			start = p;
			while (p < it->end && *p >= '0' && *p <= '9') {
				if (i > (SIZE_MAX - 9) / 10)
					return LLMO_EINVAL;
				i = i * 10 + (size_t)(*p - '0');
				p++;
			}
			if (p == start)
				return LLMO_EINVAL;
			it->is_index = true;
			it->index = i;
		}
		if (p >= it->end || *p != ']')
			return LLMO_EINVAL;
		p++;
	} else {
		if (!it->first) {
			if (*p != '.')
				return LLMO_EINVAL;
			p++;
		}
		start = p;
		while (p < it->end && *p != '.' && *p != '[')
			p++;
		if (p == start)
			return LLMO_EINVAL;
		rc = llmo_buf_append(&it->key, start, (size_t)(p - start));
		if (rc)
			return rc;
	}
	it->first = false;
	it->p = p;
	return 1;
}

/* Whether "%.*g" with precision prec reads back as d. */
static bool real_round_trips(double d, int prec)
{
	char buf[64];

	snprintf(buf, sizeof(buf), "%.*g", prec, d);
	return strtod(buf, NULL) == d;
}

/*
 * The fewest digits, 15 to 17, with which every real in v reads back exactly.
 * Past jansson's own nesting limit (or in a cyclic value) it gives up on 17.
 */
static int real_precision(const json_t *v, int prec, int depth)
{
	const char *key;
	json_t *item;
	size_t i;

	if (prec >= 17 || depth > JSON_PARSER_MAX_DEPTH)
		return 17;
	switch (json_typeof(v)) {
	case JSON_REAL: {
		double d = json_real_value(v);

		while (prec < 17 && isfinite(d) && !real_round_trips(d, prec))
			prec++;
		break;
	}
	case JSON_ARRAY:
		json_array_foreach(v, i, item)
			prec = real_precision(item, prec, depth + 1);
		break;
	case JSON_OBJECT:
		/* jansson's object iterator takes a non-const object; it reads only */
		json_object_foreach((json_t *)v, key, item)
			prec = real_precision(item, prec, depth + 1);
		break;
	default:
		break;
	}
	return prec;
}

char *llmo_json_dump(const json_t *v, bool pretty)
{
	size_t flags = JSON_SORT_KEYS | JSON_ENCODE_ANY;

	flags |= pretty ? JSON_INDENT(2) : JSON_COMPACT;
	flags |= JSON_REAL_PRECISION(real_precision(v, 15, 0));
	return json_dumps(v, flags);
}

/*
 * The compact writer below is what every answer and every stored row goes
 * through, so it writes straight into one buffer instead of through
 * jansson's per-token callbacks (a third of the CPU time of a list of
 * 10,000 objects was jansson's dump). Its text is jansson's JSON_COMPACT
 * text, with each real at its own fewest round-tripping digits.
 */

/* Bytes of a string that need an escape: '"', '\\' and the controls. */
static bool write_needs_escape(unsigned char c)
{
	return c < 0x20 || c == '"' || c == '\\';
}

/* One byte that the caller has made room for (write_reserve). */
static void write_byte(struct llmo_buf *b, char c)
{
	b->data[b->len++] = c;
	b->data[b->len] = '\0';
}

/* Room for n more bytes: one capacity check for a whole token. */
static int write_reserve(struct llmo_buf *b, size_t n)
{
	/* within the allocation and within the buffer's cap (len <= max always) */
	if (n <= b->max - b->len && b->len + n < b->cap)
		return 0;
	return llmo_buf_grow(b, n);
}

static int write_string(struct llmo_buf *b, const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t run = 0;
	int rc;

	/* the quotes and the bytes as they are; escapes make their own room */
	if (len > SIZE_MAX - 2 || (rc = write_reserve(b, len + 2)))
		return len > SIZE_MAX - 2 ? LLMO_ETOOBIG : rc;
	write_byte(b, '"');
	for (size_t i = 0; i < len;) {
		unsigned char c = s[i];
		char esc[8];

		if (c >= 0x80) {
			size_t n = llmo_utf8_seq_len(s + i, len - i);

			if (!n)
				return LLMO_EINVAL;
			run += n;
			i += n;
			continue;
		}
		if (!write_needs_escape(c)) {
			run++;
			i++;
			continue;
		}
		if ((rc = llmo_buf_append(b, s + i - run, run)))
			return rc;
		run = 0;
		switch (c) {
		case '"':
		case '\\':
			esc[0] = '\\', esc[1] = (char)c, esc[2] = '\0';
			break;
		case '\b':
			memcpy(esc, "\\b", 3);
			break;
		case '\f':
			memcpy(esc, "\\f", 3);
			break;
		case '\n':
			memcpy(esc, "\\n", 3);
			break;
		case '\r':
			memcpy(esc, "\\r", 3);
			break;
		case '\t':
			memcpy(esc, "\\t", 3);
			break;
		default:
			snprintf(esc, sizeof(esc), "\\u%04X", c);
		}
		if ((rc = llmo_buf_puts(b, esc)))
			return rc;
		i++;
	}
	if ((rc = write_reserve(b, run + 1)))
		return rc;
	memcpy(b->data + b->len, s + len - run, run);
	b->len += run;
	write_byte(b, '"');
	return 0;
}

static int write_punct(struct llmo_buf *b, char c)
{
	int rc = write_reserve(b, 1);

	if (!rc)
		write_byte(b, c);
	return rc;
}

static int write_integer(struct llmo_buf *b, json_int_t v)
{
	char tmp[24], *p = tmp + sizeof(tmp);
	/* through unsigned: the magnitude of INT64_MIN does not fit a json_int_t */
	unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;

	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		*--p = '-';
	return llmo_buf_append(b, p, (size_t)(tmp + sizeof(tmp) - p));
}

/*
 * The common reals (99.9, 0.01, 70.5) without printf and strtod, which cost
 * 3,000 instructions a real: d is m / 10^k for the smallest k <= 6 with
 * m an integer under 10^15, checked by that division giving d back (the
 * division is correctly rounded, so the k-digit decimal reads back as d).
 * Between 1e-4 and 1e15 "%.15g" prints exactly those digits.
 * *done is false (nothing written) when d is not such a real.
 */
static int write_real_short(struct llmo_buf *b, double d, bool *done)
{
	static const double pow10[] = {1, 10, 100, 1e3, 1e4, 1e5, 1e6};
	double a = fabs(d);
	char digits[24], out[32];
	size_t nd = 0, o = 0;

	*done = false;
	if (!(a >= 1e-4 && a < 1e15))
		return 0;
	for (int k = 0; k < (int)LLMO_ARRAY_LEN(pow10); k++) {
		double m = a * pow10[k];
		unsigned long long u;

		if (m >= 1e15 || m != floor(m) || m / pow10[k] != a)
			continue;
		u = (unsigned long long)m;
		/* a product rounded past its integer (0.58859 * 1e5) lands at a
		 * larger k: the same decimal with trailing zeros, dropped here */
		while (k > 0 && u % 10 == 0) {
			u /= 10;
			k--;
		}
		do {
			digits[nd++] = (char)('0' + u % 10);
			u /= 10;
		} while (u);
		while (nd <= (size_t)k)
			digits[nd++] = '0'; /* leading zeros of 0.0k */
		if (d < 0)
			out[o++] = '-';
		while (nd > (size_t)k)
			out[o++] = digits[--nd];
		out[o++] = '.';
		if (k == 0)
			out[o++] = '0';
		while (nd)
			out[o++] = digits[--nd];
		*done = true;
		return llmo_buf_append(b, out, o);
	}
	return 0;
}

/*
 * A real as jansson writes it: "%.*g" at the fewest digits (15 to 17) that
 * read back exactly, ".0" added when that looks like an integer, and the
 * exponent without '+' or leading zeros.
 */
static int write_real(struct llmo_buf *b, double d)
{
	char tmp[40], out[40];
	size_t o = 0;
	int prec = 15;
	bool done;
	int rc;

	if (!isfinite(d))
		return LLMO_EINVAL;
	if ((rc = write_real_short(b, d, &done)) || done)
		return rc;
	while (prec < 17 && !real_round_trips(d, prec))
		prec++;
	snprintf(tmp, sizeof(tmp), "%.*g", prec, d);
	for (const char *p = tmp; *p; p++) {
		out[o++] = *p == ',' ? '.' : *p; /* a locale's decimal comma */
		if (*p == 'e') {
			p++;
			if (*p == '-')
				out[o++] = *p++;
			else if (*p == '+')
				p++;
			while (*p == '0' && p[1])
				p++;
			while (*p)
				out[o++] = *p++;
			break;
		}
	}
	out[o] = '\0';
	if (!strchr(out, '.') && !strchr(out, 'e')) {
		out[o++] = '.';
		out[o++] = '0';
	}
	return llmo_buf_append(b, out, o);
}

static int write_value(struct llmo_buf *b, const json_t *v, int depth)
{
	int rc = 0;

	if (depth > JSON_PARSER_MAX_DEPTH)
		return LLMO_EINVAL;
	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		bool first = true;

		rc = write_punct(b, '{');
		/* jansson's object iterator takes a non-const object; it reads only */
		for (void *it = json_object_iter((json_t *)v); !rc && it;
		     it = json_object_iter_next((json_t *)v, it)) {
			if ((!first && (rc = write_punct(b, ','))) ||
			    (rc = write_string(b, json_object_iter_key(it),
					       json_object_iter_key_len(it))) ||
			    (rc = write_punct(b, ':')))
				break;
			rc = write_value(b, json_object_iter_value(it), depth + 1);
			first = false;
		}
		return rc ? rc : write_punct(b, '}');
	}
	case JSON_ARRAY: {
		size_t n = json_array_size(v);

		rc = write_punct(b, '[');
		for (size_t i = 0; !rc && i < n; i++) {
			if (!(i && (rc = write_punct(b, ','))))
				rc = write_value(b, json_array_get(v, i), depth + 1);
		}
		return rc ? rc : write_punct(b, ']');
	}
	case JSON_STRING:
		return write_string(b, json_string_value(v), json_string_length(v));
	case JSON_INTEGER:
		return write_integer(b, json_integer_value(v));
	case JSON_REAL:
		return write_real(b, json_real_value(v));
	case JSON_TRUE:
		return llmo_buf_append(b, "true", 4);
	case JSON_FALSE:
		return llmo_buf_append(b, "false", 5);
	case JSON_NULL:
		return llmo_buf_append(b, "null", 4);
	}
	return LLMO_EINVAL;
}

int llmo_json_write(struct llmo_buf *b, const json_t *v)
{
	size_t start = b->len;
	int rc = v ? write_value(b, v, 0) : LLMO_EINVAL;

	if (rc)
		llmo_buf_truncate(b, start);
	return rc;
}

int llmo_json_write_string(struct llmo_buf *b, const char *s, size_t len)
{
	size_t start = b->len;
	int rc = write_string(b, s, len);

	if (rc)
		llmo_buf_truncate(b, start);
	return rc;
}

char *llmo_json_dump_compact(const json_t *v)
{
	struct llmo_buf b;

	llmo_buf_init(&b, LLMO_BUF_UNLIMITED);
	if (llmo_json_write(&b, v)) {
		llmo_buf_release(&b);
		return NULL;
	}
	return llmo_buf_detach(&b, NULL);
}

const char *llmo_json_type_name(const json_t *v)
{
	if (!v)
		return "missing";
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "object";
	case JSON_ARRAY:
		return "array";
	case JSON_STRING:
		return "string";
	case JSON_INTEGER:
		return "integer";
	case JSON_REAL:
		return "number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "boolean";
	case JSON_NULL:
		return "null";
	}
	return "unknown";
}

json_t *llmo_json_get_path(const json_t *root, const char *path)
{
	struct llmo_path_iter it;
	json_t *cur = (json_t *)root;
	int rc;

	llmo_path_iter_init(&it, path);
	while (cur && (rc = llmo_path_iter_next(&it)) != 0) {
		if (rc < 0)
			cur = NULL;
		else if (it.is_index)
			cur = json_is_array(cur) ? json_array_get(cur, it.index) : NULL;
		else
			cur = json_is_object(cur) ? json_object_getn(cur, it.key.data, it.key.len)
						  : NULL;
	}
	llmo_path_iter_release(&it);
	return cur;
}

bool llmo_json_equal_value(const json_t *a, const json_t *b)
{
	const char *key;
	size_t klen;
	json_t *av;

	if (json_is_number(a) && json_is_number(b)) {
		if (json_is_integer(a) && json_is_integer(b))
			return json_integer_value(a) == json_integer_value(b);
		return json_number_value(a) == json_number_value(b);
	}
	if (!a || !b || json_typeof(a) != json_typeof(b))
		return false;
	switch (json_typeof(a)) {
	case JSON_OBJECT:
		if (json_object_size(a) != json_object_size(b))
			return false;
		json_object_keylen_foreach((json_t *)a, key, klen, av) {
			const json_t *bv = json_object_getn(b, key, klen);

			if (!bv || !llmo_json_equal_value(av, bv))
				return false;
		}
		return true;
	case JSON_ARRAY:
		if (json_array_size(a) != json_array_size(b))
			return false;
		for (size_t i = 0; i < json_array_size(a); i++)
			if (!llmo_json_equal_value(json_array_get(a, i), json_array_get(b, i)))
				return false;
		return true;
	default:
		return json_equal(a, b);
	}
}
