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

/* Appends code point cp (not a surrogate, at most U+FFFF) as UTF-8. */
static int put_utf8(struct llmo_buf *b, unsigned cp)
{
	char u[3];
	size_t n;

	if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else {
		u[0] = (char)(0xe0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	}
	return llmo_buf_append(b, u, n);
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
		switch (c) {
		case '"':
		case '\\':
		case '/':
			break;
		case 'b':
			c = '\b';
			break;
		case 'f':
			c = '\f';
			break;
		case 'n':
			c = '\n';
			break;
		case 'r':
			c = '\r';
			break;
		case 't':
			c = '\t';
			break;
		case 'u': {
			unsigned cp = 0;

			if (it->end - p < 4)
				return LLMO_EINVAL;
			for (int i = 0; i < 4; i++) {
				int d = llmo_hex_digit(p[i]);

				if (d < 0)
					return LLMO_EINVAL;
				cp = cp << 4 | (unsigned)d;
			}
			p += 4;
			/* paths never hold surrogate pairs: keys are UTF-8 */
			if (cp >= 0xd800 && cp <= 0xdfff)
				return LLMO_EINVAL;
			rc = put_utf8(&it->key, cp);
			if (rc)
				return rc;
			continue;
		}
		default:
			return LLMO_EINVAL;
		}
		rc = llmo_buf_putc(&it->key, c);
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

int llmo_json_load(const char *text, size_t len, const char *name, json_t **out,
		   struct llmo_error *err)
{
	json_error_t jerr;

	if (!name)
		name = "<input>";
	*out = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	if (*out)
		return 0;
	if (jerr.line < 1)
		return llmo_error_set(err, LLMO_EPARSE, "%s: %s", name, jerr.text);
	return llmo_error_set(err, LLMO_EPARSE, "%s:%d:%d: %s", name, jerr.line, jerr.column,
			      jerr.text);
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

char *llmo_json_dump_compact(const json_t *v)
{
	return json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT |
				     JSON_REAL_PRECISION(real_precision(v, 15, 0)));
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
