/*
 * Swagger 2.0 JSON -> gnostic's openapi.v2.Document protobuf (see openapi_pb.h).
 *
 * The messages are described by tables (struct pb_msg), one row per field,
 * rows in field-number order, numbers copied from gnostic's
 * openapiv2/OpenAPIv2.proto. A row names the JSON member it reads and how to
 * write it; the few messages that are oneofs or filter their map keys are
 * written by functions (PB_FN).
 *
 * Submessages are written in place: the tag goes out, the body follows, and
 * when the body is done its length varint is slid in before it (pb_end).
 */
#include "base/common.h"

#include "apiserver/openapi_pb.h"

#include "apiserver/apiserver_int.h"
#include "apiserver/pb_wire.h"
#include "base/json.h"

#include <ctype.h>
#include <event2/buffer.h>
#include <strings.h>

#define VARINT_MAX 10
/* Longest mapping key written as a YAML implicit key (YAML allows 1024 characters). */
#define YAML_KEY_MAX 1000
/* Cap on one text number (a double at %.17g needs at most 24 bytes). */
#define NUMBER_TEXT_MAX 40

struct pb {
	struct llmo_buf *out;
	struct llmo_buf yaml; /* scratch: the YAML text of one Any */
	int depth;            /* messages open */
	bool too_deep;
};

enum pb_kind {
	PB_STRING,      /* string member; left out when empty */
	PB_BOOL,        /* left out when false */
	PB_DOUBLE,      /* any JSON number; left out when +0.0 */
	PB_INT64,       /* integer (or integral real); left out when 0 */
	PB_STRINGS,     /* repeated string: every string of an array */
	PB_STRLIST_MSG, /* message { repeated string value = 1 } from a string or an array */
	PB_ANY,         /* Any { yaml = 2 } holding the value as YAML */
	PB_MSG,         /* submessage .sub from an object */
	PB_LIST,        /* repeated: each element of an array written as .elem */
	PB_MAP,         /* message { repeated Named { name = 1; value = 2 (.elem) } = 1 } */
	PB_WRAP,        /* message { .elem = .inner } from the same value */
	PB_EXT,         /* repeated NamedAny: the object's "x-" members (no key) */
	PB_FN,          /* written by .fn */
};

struct pb;
struct pb_msg;

struct pb_field {
	uint32_t num;
	const char *key;
	enum pb_kind kind;
	const struct pb_msg *sub;
	const struct pb_field *elem;
	uint32_t inner;
	int (*fn)(struct pb *p, uint32_t num, const json_t *v);
};

struct pb_msg {
	const struct pb_field *fields;
	size_t n;
};

static int pb_value(struct pb *p, uint32_t num, const struct pb_field *f, const json_t *v);
static int pb_fields(struct pb *p, const json_t *obj, const struct pb_msg *m);

/* ---- wire format ---- */

static size_t varint_encode(unsigned char *dst, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		dst[n++] = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	dst[n++] = (unsigned char)v;
	return n;
}

static int put_varint(struct pb *p, uint64_t v)
{
	unsigned char tmp[VARINT_MAX];

	return llmo_buf_append(p->out, tmp, varint_encode(tmp, v));
}

static int put_tag(struct pb *p, uint32_t num, int wt)
{
	return put_varint(p, ((uint64_t)num << 3) | (uint64_t)wt);
}

static int put_bytes(struct pb *p, uint32_t num, const char *s, size_t n)
{
	int rc;

	if ((rc = put_tag(p, num, LLMO_PB_WT_LEN)) || (rc = put_varint(p, n)))
		return rc;
	return llmo_buf_append(p->out, s, n);
}

static int put_uint(struct pb *p, uint32_t num, uint64_t v)
{
	int rc = put_tag(p, num, LLMO_PB_WT_VARINT);

	return rc ? rc : put_varint(p, v);
}

static int put_double(struct pb *p, uint32_t num, double d)
{
	unsigned char le[8];
	uint64_t bits;
	int rc;

	memcpy(&bits, &d, sizeof(bits));
	for (int i = 0; i < 8; i++)
		le[i] = (unsigned char)(bits >> (8 * i));
	if ((rc = put_tag(p, num, LLMO_PB_WT_I64)))
		return rc;
	return llmo_buf_append(p->out, le, sizeof(le));
}

/* Opens submessage num; *mark is where its body starts. */
static int pb_begin(struct pb *p, uint32_t num, size_t *mark)
{
	int rc;

	if (p->depth >= LLMO_OPENAPI_PB_NEST_MAX) {
		p->too_deep = true;
		return LLMO_ETOOBIG;
	}
	if ((rc = put_tag(p, num, LLMO_PB_WT_LEN)))
		return rc;
	p->depth++;
	*mark = p->out->len;
	return 0;
}

/* Closes the submessage opened at mark: slides its body up and writes its length before it. */
static int pb_end(struct pb *p, size_t mark)
{
	unsigned char hdr[VARINT_MAX];
	size_t body = p->out->len - mark, hn = varint_encode(hdr, body);
	int rc;

	/* appending the header grows the buffer by hn (the bytes are overwritten below) */
	if ((rc = llmo_buf_append(p->out, hdr, hn)))
		return rc;
	memmove(p->out->data + mark + hn, p->out->data + mark, body);
	memcpy(p->out->data + mark, hdr, hn);
	p->depth--;
	return 0;
}

/* ---- YAML text for Any.yaml ---- */

static bool yaml_reserved(const char *s, size_t n)
{
	/* words YAML 1.1 or 1.2 reads as booleans or null, in any case */
	static const char *const words[] = {"y", "n", "yes", "no", "on", "off", "true", "false", "null"};

	for (size_t i = 0; i < LLMO_ARRAY_LEN(words); i++)
		if (strlen(words[i]) == n && strncasecmp(s, words[i], n) == 0)
			return true;
	return false;
}

/*
 * A string may go unquoted when it starts with a letter, '_' or '/', holds
 * only letters, digits and "_./- ", does not end in a space and is not a word
 * YAML resolves to a boolean or null. That keeps numbers, timestamps, ".inf",
 * indicators, ": " and " #" out of plain scalars.
 */
static bool yaml_plain_ok(const char *s, size_t n)
{
	if (n == 0 || !(isalpha((unsigned char)s[0]) || s[0] == '_' || s[0] == '/'))
		return false;
	if (s[n - 1] == ' ')
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!isalnum(c) && !strchr("_./- ", c))
			return false;
	}
	return !yaml_reserved(s, n);
}

/* Decodes the UTF-8 sequence at s (n > 0 bytes left); *len gets its length, 1 for a bad byte. */
static uint32_t utf8_next(const unsigned char *s, size_t n, size_t *len)
{
	uint32_t cp;
	size_t need;

	if (s[0] < 0x80) {
		*len = 1;
		return s[0];
	}
	if ((s[0] & 0xE0) == 0xC0) {
		need = 2;
		cp = s[0] & 0x1F;
	} else if ((s[0] & 0xF0) == 0xE0) {
		need = 3;
		cp = s[0] & 0x0F;
	} else if ((s[0] & 0xF8) == 0xF0) {
		need = 4;
		cp = s[0] & 0x07;
	} else {
		*len = 1;
		return UINT32_MAX;
	}
	if (need > n) {
		*len = 1;
		return UINT32_MAX;
	}
	for (size_t i = 1; i < need; i++) {
		if ((s[i] & 0xC0) != 0x80) {
			*len = 1;
			return UINT32_MAX;
		}
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	*len = need;
	return cp;
}

/* YAML's printable set (c-printable) less the line separators, which YAML reads as breaks. */
static bool yaml_printable(uint32_t cp)
{
	if (cp == 0x2028 || cp == 0x2029)
		return false;
	return (cp >= 0x20 && cp <= 0x7E) || (cp >= 0xA0 && cp <= 0xD7FF) ||
	       (cp >= 0xE000 && cp <= 0xFFFD && cp != 0xFEFF) || (cp >= 0x10000 && cp <= 0x10FFFF);
}

static int yaml_quoted(struct llmo_buf *b, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	int rc = llmo_buf_putc(b, '"');

	for (size_t i = 0; i < n && !rc;) {
		size_t len;
		uint32_t cp = utf8_next(u + i, n - i, &len);

		if (cp == '"' || cp == '\\')
			rc = llmo_buf_appendf(b, "\\%c", (char)cp);
		else if (cp == '\n')
			rc = llmo_buf_puts(b, "\\n");
		else if (cp == '\t')
			rc = llmo_buf_puts(b, "\\t");
		else if (cp == '\r')
			rc = llmo_buf_puts(b, "\\r");
		else if (cp == UINT32_MAX)
			rc = llmo_buf_appendf(b, "\\x%02X", u[i]);
		else if (cp <= 0xFF && !yaml_printable(cp))
			rc = llmo_buf_appendf(b, "\\x%02X", (unsigned)cp);
		else if (!yaml_printable(cp))
			rc = llmo_buf_appendf(b, "\\u%04X", (unsigned)cp);
		else
			rc = llmo_buf_append(b, s + i, len);
		i += len;
	}
	return rc ? rc : llmo_buf_putc(b, '"');
}

static int yaml_string(struct llmo_buf *b, const char *s, size_t n)
{
	return yaml_plain_ok(s, n) ? llmo_buf_append(b, s, n) : yaml_quoted(b, s, n);
}

/*
 * The shortest of %.15g..%.17g that reads back as d, with ".0" added where it
 * would otherwise read as an integer ("3" -> "3.0", "1e+100" -> "1.0e+100";
 * YAML 1.1 wants a '.' in a float).
 */
static int yaml_real(struct llmo_buf *b, double d)
{
	char text[NUMBER_TEXT_MAX];
	char *e;

	for (int prec = 15; prec <= 17; prec++) {
		snprintf(text, sizeof(text), "%.*g", prec, d);
		if (strtod(text, NULL) == d)
			break;
	}
	if (strchr(text, '.'))
		return llmo_buf_puts(b, text);
	e = strchr(text, 'e');
	if (!e)
		return llmo_buf_appendf(b, "%s.0", text);
	return llmo_buf_appendf(b, "%.*s.0%s", (int)(e - text), text, e);
}

/* A value written on one line: a scalar, or an empty mapping or sequence. */
static int yaml_inline(struct llmo_buf *b, const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return llmo_buf_puts(b, "{}");
	case JSON_ARRAY:
		return llmo_buf_puts(b, "[]");
	case JSON_STRING:
		return yaml_string(b, json_string_value(v), json_string_length(v));
	case JSON_INTEGER:
		return llmo_buf_appendf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	case JSON_REAL:
		return yaml_real(b, json_real_value(v));
	case JSON_TRUE:
		return llmo_buf_puts(b, "true");
	case JSON_FALSE:
		return llmo_buf_puts(b, "false");
	case JSON_NULL:
		return llmo_buf_puts(b, "null");
	}
	return LLMO_EINVAL;
}

static bool yaml_is_block(const json_t *v)
{
	return (json_is_object(v) && json_object_size(v) > 0) ||
	       (json_is_array(v) && json_array_size(v) > 0);
}

static int yaml_block(struct pb *p, const json_t *v, int indent, bool inline_first, int depth);

static int yaml_indent(struct llmo_buf *b, int indent)
{
	int rc = 0;

	for (int i = 0; i < indent && !rc; i++)
		rc = llmo_buf_putc(b, ' ');
	return rc;
}

/*
 * The rest of a line after an indicator ("-", "key:", "?" or ":" at column
 * col): a scalar, or a block. yaml.v3 puts a mapping or sequence that is a
 * sequence item on the indicator's line, two columns in; under a mapping key
 * it starts on the next line at the next multiple of four.
 */
static int yaml_after(struct pb *p, const json_t *v, int col, bool key, int depth)
{
	struct llmo_buf *b = &p->yaml;
	int rc;

	if (!yaml_is_block(v)) {
		if ((rc = llmo_buf_putc(b, ' ')) || (rc = yaml_inline(b, v)))
			return rc;
		return llmo_buf_putc(b, '\n');
	}
	if (!key) {
		if ((rc = llmo_buf_putc(b, ' ')))
			return rc;
		return yaml_block(p, v, col + 2, true, depth + 1);
	}
	if ((rc = llmo_buf_putc(b, '\n')))
		return rc;
	return yaml_block(p, v, (col / 4 + 1) * 4, false, depth + 1);
}

/*
 * A non-empty mapping or sequence at column indent; inline_first: the cursor
 * already stands at that column on its first line (after "- ").
 */
static int yaml_block(struct pb *p, const json_t *v, int indent, bool inline_first, int depth)
{
	struct llmo_buf *b = &p->yaml;
	bool first = true;
	int rc = 0;

	if (depth >= LLMO_OPENAPI_PB_NEST_MAX) {
		p->too_deep = true;
		return LLMO_ETOOBIG;
	}
	if (json_is_array(v)) {
		size_t i;
		json_t *item;

		json_array_foreach(v, i, item) {
			if (!(first && inline_first) && (rc = yaml_indent(b, indent)))
				return rc;
			first = false;
			if ((rc = llmo_buf_putc(b, '-')) || (rc = yaml_after(p, item, indent, false, depth)))
				return rc;
		}
		return 0;
	}
	{
		const char *k;
		json_t *val;

		json_object_foreach((json_t *)v, k, val) {
			size_t at;

			if (!(first && inline_first) && (rc = yaml_indent(b, indent)))
				return rc;
			first = false;
			at = b->len;
			if ((rc = yaml_string(b, k, strlen(k))))
				return rc;
			if (b->len - at <= YAML_KEY_MAX) {
				if ((rc = llmo_buf_putc(b, ':')) ||
				    (rc = yaml_after(p, val, indent, true, depth)))
					return rc;
				continue;
			}
			/* too long for an implicit key: "? key", then ": value" on the next line */
			llmo_buf_truncate(b, at);
			if ((rc = llmo_buf_puts(b, "? ")) || (rc = yaml_string(b, k, strlen(k))) ||
			    (rc = llmo_buf_putc(b, '\n')) || (rc = yaml_indent(b, indent)) ||
			    (rc = llmo_buf_putc(b, ':')) || (rc = yaml_after(p, val, indent, false, depth)))
				return rc;
		}
	}
	return rc;
}

static int yaml_value(struct pb *p, const json_t *v)
{
	struct llmo_buf *b = &p->yaml;
	int rc;

	llmo_buf_reset(b);
	if (yaml_is_block(v))
		return yaml_block(p, v, 0, false, 0);
	if ((rc = yaml_inline(b, v)))
		return rc;
	return llmo_buf_putc(b, '\n');
}

/* ---- fields ---- */

/* Any { string yaml = 2 } */
static int pb_any(struct pb *p, uint32_t num, const json_t *v)
{
	size_t mark;
	int rc;

	if ((rc = yaml_value(p, v)) || (rc = pb_begin(p, num, &mark)) ||
	    (rc = put_bytes(p, 2, p->yaml.data, p->yaml.len)))
		return rc;
	return pb_end(p, mark);
}

/* NamedAny { name = 1; Any value = 2 } for each "x-" member of obj */
static int pb_ext(struct pb *p, uint32_t num, const json_t *obj)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)obj, k, v) {
		size_t mark;
		int rc;

		if (strncmp(k, "x-", 2) != 0)
			continue;
		if ((rc = pb_begin(p, num, &mark)) || (rc = put_bytes(p, 1, k, strlen(k))) ||
		    (rc = pb_any(p, 2, v)) || (rc = pb_end(p, mark)))
			return rc;
	}
	return 0;
}

static int pb_int64(struct pb *p, uint32_t num, const json_t *v)
{
	int64_t i;

	if (json_is_integer(v)) {
		i = json_integer_value(v);
	} else if (json_is_real(v)) {
		double d = json_real_value(v);

		/* gnostic wants an integer; an integral real is taken, others left out */
		if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0) || d != (double)(int64_t)d)
			return 0;
		i = (int64_t)d;
	} else {
		return 0;
	}
	return i ? put_uint(p, num, (uint64_t)i) : 0;
}

static int pb_strings(struct pb *p, uint32_t num, const json_t *v)
{
	size_t i;
	json_t *s;

	json_array_foreach(v, i, s) {
		int rc;

		if (json_is_string(s) &&
		    (rc = put_bytes(p, num, json_string_value(s), json_string_length(s))))
			return rc;
	}
	return 0;
}

static int pb_value(struct pb *p, uint32_t num, const struct pb_field *f, const json_t *v)
{
	size_t mark, i;
	const char *k;
	json_t *e;
	int rc = 0;
	uint64_t bits;

	if (!v)
		return 0;
	switch (f->kind) {
	case PB_STRING:
		if (json_is_string(v) && json_string_length(v))
			rc = put_bytes(p, num, json_string_value(v), json_string_length(v));
		return rc;
	case PB_BOOL:
		return json_is_true(v) ? put_uint(p, num, 1) : 0;
	case PB_DOUBLE:
		if (!json_is_number(v))
			return 0;
		{
			double d = json_number_value(v);

			memcpy(&bits, &d, sizeof(bits));
			return bits ? put_double(p, num, d) : 0;
		}
	case PB_INT64:
		return pb_int64(p, num, v);
	case PB_STRINGS:
		return json_is_array(v) ? pb_strings(p, num, v) : 0;
	case PB_STRLIST_MSG:
		if (!json_is_string(v) && !json_is_array(v))
			return 0;
		if ((rc = pb_begin(p, num, &mark)))
			return rc;
		if (json_is_string(v))
			rc = put_bytes(p, 1, json_string_value(v), json_string_length(v));
		else
			rc = pb_strings(p, 1, v);
		return rc ? rc : pb_end(p, mark);
	case PB_ANY:
		return pb_any(p, num, v);
	case PB_MSG:
		if (!json_is_object(v))
			return 0;
		if ((rc = pb_begin(p, num, &mark)) || (rc = pb_fields(p, v, f->sub)))
			return rc;
		return pb_end(p, mark);
	case PB_LIST:
		if (!json_is_array(v))
			return 0;
		json_array_foreach(v, i, e)
			if ((rc = pb_value(p, num, f->elem, e)))
				return rc;
		return 0;
	case PB_MAP:
		if (!json_is_object(v))
			return 0;
		if ((rc = pb_begin(p, num, &mark)))
			return rc;
		json_object_foreach((json_t *)v, k, e) {
			size_t named;

			if ((rc = pb_begin(p, 1, &named)) || (rc = put_bytes(p, 1, k, strlen(k))) ||
			    (rc = pb_value(p, 2, f->elem, e)) || (rc = pb_end(p, named)))
				return rc;
		}
		return pb_end(p, mark);
	case PB_WRAP:
		if ((rc = pb_begin(p, num, &mark)) || (rc = pb_value(p, f->inner, f->elem, v)))
			return rc;
		return pb_end(p, mark);
	case PB_EXT:
		return json_is_object(v) ? pb_ext(p, num, v) : 0;
	case PB_FN:
		return f->fn(p, num, v);
	}
	return LLMO_EINVAL;
}

static int pb_fields(struct pb *p, const json_t *obj, const struct pb_msg *m)
{
	for (size_t i = 0; i < m->n; i++) {
		const struct pb_field *f = &m->fields[i];
		const json_t *v = f->kind == PB_EXT ? obj : json_object_get(obj, f->key);
		int rc = pb_value(p, f->num, f, v);

		if (rc)
			return rc;
	}
	return 0;
}

/* ---- the messages of OpenAPIv2.proto ---- */

#define MSG(name, ...)                                                              \
	static const struct pb_field name##_fields[] = {__VA_ARGS__};               \
	static const struct pb_msg name = {name##_fields, LLMO_ARRAY_LEN(name##_fields)}

#define F(n, k, kd) {.num = (n), .key = (k), .kind = (kd)}
#define F_SUB(n, k, s) {.num = (n), .key = (k), .kind = PB_MSG, .sub = &(s)}
#define F_ELEM(n, k, kd, e) {.num = (n), .key = (k), .kind = (kd), .elem = &(e)}
#define F_FN(n, k, f) {.num = (n), .key = (k), .kind = PB_FN, .fn = (f)}
#define F_EXT(n) {.num = (n), .kind = PB_EXT}

static const struct pb_msg schema_msg, prim_items_msg, response_msg, operation_msg, path_item_msg;

static const struct pb_field any_elem = {.kind = PB_ANY};
static const struct pb_field string_elem = {.kind = PB_STRING};
static const struct pb_field strlist_elem = {.kind = PB_STRLIST_MSG};
static const struct pb_field schema_elem = {.kind = PB_MSG, .sub = &schema_msg};
static const struct pb_field response_elem = {.kind = PB_MSG, .sub = &response_msg};
/* SecurityRequirement { repeated NamedStringArray additional_properties = 1 } */
static const struct pb_field security_req_elem = {.kind = PB_MAP, .elem = &strlist_elem};

MSG(external_docs_msg, F(1, "description", PB_STRING), F(2, "url", PB_STRING), F_EXT(3));
MSG(contact_msg, F(1, "name", PB_STRING), F(2, "url", PB_STRING), F(3, "email", PB_STRING),
    F_EXT(4));
MSG(license_msg, F(1, "name", PB_STRING), F(2, "url", PB_STRING), F_EXT(3));
MSG(info_msg, F(1, "title", PB_STRING), F(2, "version", PB_STRING),
    F(3, "description", PB_STRING), F(4, "termsOfService", PB_STRING),
    F_SUB(5, "contact", contact_msg), F_SUB(6, "license", license_msg), F_EXT(7));
MSG(tag_msg, F(1, "name", PB_STRING), F(2, "description", PB_STRING),
    F_SUB(3, "externalDocs", external_docs_msg), F_EXT(4));
MSG(xml_msg, F(1, "name", PB_STRING), F(2, "namespace", PB_STRING), F(3, "prefix", PB_STRING),
    F(4, "attribute", PB_BOOL), F(5, "wrapped", PB_BOOL), F_EXT(6));
MSG(json_reference_msg, F(1, "$ref", PB_STRING), F(2, "description", PB_STRING));

static int schema_additional(struct pb *p, uint32_t num, const json_t *v);
static int schema_items(struct pb *p, uint32_t num, const json_t *v);

MSG(schema_msg, F(1, "$ref", PB_STRING), F(2, "format", PB_STRING), F(3, "title", PB_STRING),
    F(4, "description", PB_STRING), F(5, "default", PB_ANY), F(6, "multipleOf", PB_DOUBLE),
    F(7, "maximum", PB_DOUBLE), F(8, "exclusiveMaximum", PB_BOOL), F(9, "minimum", PB_DOUBLE),
    F(10, "exclusiveMinimum", PB_BOOL), F(11, "maxLength", PB_INT64),
    F(12, "minLength", PB_INT64), F(13, "pattern", PB_STRING), F(14, "maxItems", PB_INT64),
    F(15, "minItems", PB_INT64), F(16, "uniqueItems", PB_BOOL),
    F(17, "maxProperties", PB_INT64), F(18, "minProperties", PB_INT64),
    F(19, "required", PB_STRINGS), F_ELEM(20, "enum", PB_LIST, any_elem),
    F_FN(21, "additionalProperties", schema_additional), F(22, "type", PB_STRLIST_MSG),
    F_FN(23, "items", schema_items), F_ELEM(24, "allOf", PB_LIST, schema_elem),
    F_ELEM(25, "properties", PB_MAP, schema_elem), F(26, "discriminator", PB_STRING),
    F(27, "readOnly", PB_BOOL), F_SUB(28, "xml", xml_msg),
    F_SUB(29, "externalDocs", external_docs_msg), F(30, "example", PB_ANY), F_EXT(31));

MSG(prim_items_msg, F(1, "type", PB_STRING), F(2, "format", PB_STRING),
    F_SUB(3, "items", prim_items_msg), F(4, "collectionFormat", PB_STRING),
    F(5, "default", PB_ANY), F(6, "maximum", PB_DOUBLE), F(7, "exclusiveMaximum", PB_BOOL),
    F(8, "minimum", PB_DOUBLE), F(9, "exclusiveMinimum", PB_BOOL),
    F(10, "maxLength", PB_INT64), F(11, "minLength", PB_INT64), F(12, "pattern", PB_STRING),
    F(13, "maxItems", PB_INT64), F(14, "minItems", PB_INT64), F(15, "uniqueItems", PB_BOOL),
    F_ELEM(16, "enum", PB_LIST, any_elem), F(17, "multipleOf", PB_DOUBLE), F_EXT(18));

/* Header (of a response): PrimitivesItems' fields, then description = 18 */
MSG(header_msg, F(1, "type", PB_STRING), F(2, "format", PB_STRING),
    F_SUB(3, "items", prim_items_msg), F(4, "collectionFormat", PB_STRING),
    F(5, "default", PB_ANY), F(6, "maximum", PB_DOUBLE), F(7, "exclusiveMaximum", PB_BOOL),
    F(8, "minimum", PB_DOUBLE), F(9, "exclusiveMinimum", PB_BOOL),
    F(10, "maxLength", PB_INT64), F(11, "minLength", PB_INT64), F(12, "pattern", PB_STRING),
    F(13, "maxItems", PB_INT64), F(14, "minItems", PB_INT64), F(15, "uniqueItems", PB_BOOL),
    F_ELEM(16, "enum", PB_LIST, any_elem), F(17, "multipleOf", PB_DOUBLE),
    F(18, "description", PB_STRING), F_EXT(19));
static const struct pb_field header_elem = {.kind = PB_MSG, .sub = &header_msg};

MSG(body_param_msg, F(1, "description", PB_STRING), F(2, "name", PB_STRING),
    F(3, "in", PB_STRING), F(4, "required", PB_BOOL), F_SUB(5, "schema", schema_msg),
    F_EXT(6));

/* HeaderParameterSubSchema and PathParameterSubSchema share one layout */
MSG(header_path_param_msg, F(1, "required", PB_BOOL), F(2, "in", PB_STRING),
    F(3, "description", PB_STRING), F(4, "name", PB_STRING), F(5, "type", PB_STRING),
    F(6, "format", PB_STRING), F_SUB(7, "items", prim_items_msg),
    F(8, "collectionFormat", PB_STRING), F(9, "default", PB_ANY), F(10, "maximum", PB_DOUBLE),
    F(11, "exclusiveMaximum", PB_BOOL), F(12, "minimum", PB_DOUBLE),
    F(13, "exclusiveMinimum", PB_BOOL), F(14, "maxLength", PB_INT64),
    F(15, "minLength", PB_INT64), F(16, "pattern", PB_STRING), F(17, "maxItems", PB_INT64),
    F(18, "minItems", PB_INT64), F(19, "uniqueItems", PB_BOOL),
    F_ELEM(20, "enum", PB_LIST, any_elem), F(21, "multipleOf", PB_DOUBLE), F_EXT(22));

/* QueryParameterSubSchema and FormDataParameterSubSchema: allowEmptyValue = 5 shifts the rest */
MSG(query_form_param_msg, F(1, "required", PB_BOOL), F(2, "in", PB_STRING),
    F(3, "description", PB_STRING), F(4, "name", PB_STRING),
    F(5, "allowEmptyValue", PB_BOOL), F(6, "type", PB_STRING), F(7, "format", PB_STRING),
    F_SUB(8, "items", prim_items_msg), F(9, "collectionFormat", PB_STRING),
    F(10, "default", PB_ANY), F(11, "maximum", PB_DOUBLE), F(12, "exclusiveMaximum", PB_BOOL),
    F(13, "minimum", PB_DOUBLE), F(14, "exclusiveMinimum", PB_BOOL),
    F(15, "maxLength", PB_INT64), F(16, "minLength", PB_INT64), F(17, "pattern", PB_STRING),
    F(18, "maxItems", PB_INT64), F(19, "minItems", PB_INT64), F(20, "uniqueItems", PB_BOOL),
    F_ELEM(21, "enum", PB_LIST, any_elem), F(22, "multipleOf", PB_DOUBLE), F_EXT(23));

static int parameter(struct pb *p, uint32_t num, const json_t *v);
static int parameters_item(struct pb *p, uint32_t num, const json_t *v);
static int responses(struct pb *p, uint32_t num, const json_t *v);
static int paths(struct pb *p, uint32_t num, const json_t *v);
static int security_definitions_item(struct pb *p, uint32_t num, const json_t *v);

static const struct pb_field parameters_item_elem = {.kind = PB_FN, .fn = parameters_item};
static const struct pb_field parameter_elem = {.kind = PB_FN, .fn = parameter};
static const struct pb_field security_definitions_item_elem = {.kind = PB_FN,
							       .fn = security_definitions_item};

MSG(response_msg, F(1, "description", PB_STRING),
    {.num = 2, .key = "schema", .kind = PB_WRAP, .inner = 1, .elem = &schema_elem},
    F_ELEM(3, "headers", PB_MAP, header_elem), F_ELEM(4, "examples", PB_MAP, any_elem),
    F_EXT(5));

MSG(operation_msg, F(1, "tags", PB_STRINGS), F(2, "summary", PB_STRING),
    F(3, "description", PB_STRING), F_SUB(4, "externalDocs", external_docs_msg),
    F(5, "operationId", PB_STRING), F(6, "produces", PB_STRINGS),
    F(7, "consumes", PB_STRINGS), F_ELEM(8, "parameters", PB_LIST, parameters_item_elem),
    F_FN(9, "responses", responses), F(10, "schemes", PB_STRINGS),
    F(11, "deprecated", PB_BOOL), F_ELEM(12, "security", PB_LIST, security_req_elem),
    F_EXT(13));

MSG(path_item_msg, F(1, "$ref", PB_STRING), F_SUB(2, "get", operation_msg),
    F_SUB(3, "put", operation_msg), F_SUB(4, "post", operation_msg),
    F_SUB(5, "delete", operation_msg), F_SUB(6, "options", operation_msg),
    F_SUB(7, "head", operation_msg), F_SUB(8, "patch", operation_msg),
    F_ELEM(9, "parameters", PB_LIST, parameters_item_elem), F_EXT(10));

/* The security schemes (SecurityDefinitionsItem's oneof) */
MSG(basic_auth_msg, F(1, "type", PB_STRING), F(2, "description", PB_STRING), F_EXT(3));
MSG(api_key_msg, F(1, "type", PB_STRING), F(2, "name", PB_STRING), F(3, "in", PB_STRING),
    F(4, "description", PB_STRING), F_EXT(5));
MSG(oauth2_implicit_msg, F(1, "type", PB_STRING), F(2, "flow", PB_STRING),
    F_ELEM(3, "scopes", PB_MAP, string_elem), F(4, "authorizationUrl", PB_STRING),
    F(5, "description", PB_STRING), F_EXT(6));
/* Oauth2PasswordSecurity and Oauth2ApplicationSecurity share one layout */
MSG(oauth2_token_msg, F(1, "type", PB_STRING), F(2, "flow", PB_STRING),
    F_ELEM(3, "scopes", PB_MAP, string_elem), F(4, "tokenUrl", PB_STRING),
    F(5, "description", PB_STRING), F_EXT(6));
MSG(oauth2_access_code_msg, F(1, "type", PB_STRING), F(2, "flow", PB_STRING),
    F_ELEM(3, "scopes", PB_MAP, string_elem), F(4, "authorizationUrl", PB_STRING),
    F(5, "tokenUrl", PB_STRING), F(6, "description", PB_STRING), F_EXT(7));

static const struct pb_field tag_elem = {.kind = PB_MSG, .sub = &tag_msg};
static const struct pb_field path_item_elem = {.kind = PB_MSG, .sub = &path_item_msg};

MSG(document_msg, F(1, "swagger", PB_STRING), F_SUB(2, "info", info_msg),
    F(3, "host", PB_STRING), F(4, "basePath", PB_STRING), F(5, "schemes", PB_STRINGS),
    F(6, "consumes", PB_STRINGS), F(7, "produces", PB_STRINGS), F_FN(8, "paths", paths),
    F_ELEM(9, "definitions", PB_MAP, schema_elem),
    F_ELEM(10, "parameters", PB_MAP, parameter_elem),
    F_ELEM(11, "responses", PB_MAP, response_elem),
    F_ELEM(12, "security", PB_LIST, security_req_elem),
    F_ELEM(13, "securityDefinitions", PB_MAP, security_definitions_item_elem),
    F_ELEM(14, "tags", PB_LIST, tag_elem),
    F_SUB(15, "externalDocs", external_docs_msg), F_EXT(16));

/* Writes obj as message m in field inner of a new message num (a oneof's chosen member). */
static int oneof(struct pb *p, uint32_t num, uint32_t inner, const struct pb_msg *m,
		 const json_t *obj)
{
	size_t outer, mark;
	int rc;

	if ((rc = pb_begin(p, num, &outer)) || (rc = pb_begin(p, inner, &mark)) ||
	    (rc = pb_fields(p, obj, m)) || (rc = pb_end(p, mark)))
		return rc;
	return pb_end(p, outer);
}

/* AdditionalPropertiesItem { oneof { Schema schema = 1; bool boolean = 2; } } */
static int schema_additional(struct pb *p, uint32_t num, const json_t *v)
{
	size_t mark;
	int rc;

	if (json_is_object(v))
		return oneof(p, num, 1, &schema_msg, v);
	if (!json_is_boolean(v))
		return 0;
	/* a oneof member is sent even at its default */
	if ((rc = pb_begin(p, num, &mark)) || (rc = put_uint(p, 2, json_is_true(v))))
		return rc;
	return pb_end(p, mark);
}

/* ItemsItem { repeated Schema schema = 1 }: one schema or a list of them */
static int schema_items(struct pb *p, uint32_t num, const json_t *v)
{
	size_t mark, i;
	json_t *e;
	int rc;

	if (json_is_object(v))
		return oneof(p, num, 1, &schema_msg, v);
	if (!json_is_array(v))
		return 0;
	if ((rc = pb_begin(p, num, &mark)))
		return rc;
	json_array_foreach(v, i, e)
		if ((rc = pb_value(p, 1, &schema_elem, e)))
			return rc;
	return pb_end(p, mark);
}

/*
 * Parameter { oneof { BodyParameter body_parameter = 1;
 *                     NonBodyParameter non_body_parameter = 2; } }
 * NonBodyParameter { oneof { header = 1; formData = 2; query = 3; path = 4 } }
 * An "in" gnostic does not know gives an empty Parameter.
 */
static int parameter(struct pb *p, uint32_t num, const json_t *v)
{
	static const struct {
		const char *in;
		uint32_t num;
		const struct pb_msg *msg;
	} non_body[] = {
		{"header", 1, &header_path_param_msg},
		{"formData", 2, &query_form_param_msg},
		{"query", 3, &query_form_param_msg},
		{"path", 4, &header_path_param_msg},
	};
	const char *in = json_string_value(json_object_get(v, "in"));
	size_t mark;
	int rc;

	if (!json_is_object(v))
		return 0;
	if (in && strcmp(in, "body") == 0)
		return oneof(p, num, 1, &body_param_msg, v);
	if ((rc = pb_begin(p, num, &mark)))
		return rc;
	for (size_t i = 0; in && i < LLMO_ARRAY_LEN(non_body); i++)
		if (strcmp(in, non_body[i].in) == 0) {
			rc = oneof(p, 2, non_body[i].num, non_body[i].msg, v);
			break;
		}
	return rc ? rc : pb_end(p, mark);
}

/* ParametersItem { oneof { Parameter parameter = 1; JsonReference json_reference = 2; } } */
static int parameters_item(struct pb *p, uint32_t num, const json_t *v)
{
	size_t mark;
	int rc;

	if (!json_is_object(v))
		return 0;
	if (json_object_get(v, "$ref"))
		return oneof(p, num, 2, &json_reference_msg, v);
	if ((rc = pb_begin(p, num, &mark)) || (rc = parameter(p, 1, v)))
		return rc;
	return pb_end(p, mark);
}

/* ResponseValue { oneof { Response response = 1; JsonReference json_reference = 2; } } */
static int response_value(struct pb *p, uint32_t num, const json_t *v)
{
	if (!json_is_object(v))
		return 0;
	if (json_object_get(v, "$ref"))
		return oneof(p, num, 2, &json_reference_msg, v);
	return oneof(p, num, 1, &response_msg, v);
}

static bool response_code(const char *k)
{
	return strcmp(k, "default") == 0 || (strlen(k) == 3 && isdigit((unsigned char)k[0]) &&
					     isdigit((unsigned char)k[1]) &&
					     isdigit((unsigned char)k[2]));
}

/*
 * Responses { repeated NamedResponseValue response_code = 1;
 *             repeated NamedAny vendor_extension = 2; }
 * Members other than status codes, "default" and "x-" ones are skipped.
 */
static int responses(struct pb *p, uint32_t num, const json_t *v)
{
	size_t mark;
	const char *k;
	json_t *e;
	int rc;

	if (!json_is_object(v))
		return 0;
	if ((rc = pb_begin(p, num, &mark)))
		return rc;
	json_object_foreach((json_t *)v, k, e) {
		size_t named;

		if (!response_code(k))
			continue;
		if ((rc = pb_begin(p, 1, &named)) || (rc = put_bytes(p, 1, k, strlen(k))) ||
		    (rc = response_value(p, 2, e)) || (rc = pb_end(p, named)))
			return rc;
	}
	if ((rc = pb_ext(p, 2, v)))
		return rc;
	return pb_end(p, mark);
}

/*
 * Paths { repeated NamedAny vendor_extension = 1; repeated NamedPathItem path = 2; }
 * Members are paths when they start with '/'; other non-"x-" members are skipped.
 */
static int paths(struct pb *p, uint32_t num, const json_t *v)
{
	size_t mark;
	const char *k;
	json_t *e;
	int rc;

	if (!json_is_object(v))
		return 0;
	if ((rc = pb_begin(p, num, &mark)) || (rc = pb_ext(p, 1, v)))
		return rc;
	json_object_foreach((json_t *)v, k, e) {
		size_t named;

		if (k[0] != '/')
			continue;
		if ((rc = pb_begin(p, 2, &named)) || (rc = put_bytes(p, 1, k, strlen(k))) ||
		    (rc = pb_value(p, 2, &path_item_elem, e)) || (rc = pb_end(p, named)))
			return rc;
	}
	return pb_end(p, mark);
}

/*
 * SecurityDefinitionsItem's oneof, chosen by "type" (and "flow" for oauth2).
 * An unknown scheme gives an empty item.
 */
static int security_definitions_item(struct pb *p, uint32_t num, const json_t *v)
{
	static const struct {
		const char *type, *flow;
		uint32_t num;
		const struct pb_msg *msg;
	} schemes[] = {
		{"basic", NULL, 1, &basic_auth_msg},
		{"apiKey", NULL, 2, &api_key_msg},
		{"oauth2", "implicit", 3, &oauth2_implicit_msg},
		{"oauth2", "password", 4, &oauth2_token_msg},
		{"oauth2", "application", 5, &oauth2_token_msg},
		{"oauth2", "accessCode", 6, &oauth2_access_code_msg},
	};
	const char *type = json_string_value(json_object_get(v, "type"));
	const char *flow = json_string_value(json_object_get(v, "flow"));
	size_t mark;
	int rc;

	if (!json_is_object(v))
		return 0;
	for (size_t i = 0; type && i < LLMO_ARRAY_LEN(schemes); i++) {
		if (strcmp(type, schemes[i].type) != 0)
			continue;
		if (schemes[i].flow && (!flow || strcmp(flow, schemes[i].flow) != 0))
			continue;
		return oneof(p, num, schemes[i].num, schemes[i].msg, v);
	}
	if ((rc = pb_begin(p, num, &mark)))
		return rc;
	return pb_end(p, mark);
}

/* ---- entry points ---- */

int llmo_openapi_v2_protobuf(const json_t *swagger, struct llmo_buf *out, struct llmo_error *err)
{
	struct pb p = {.out = out};
	size_t start = out->len;
	int rc;

	/* one value's YAML can be no larger than the whole encoding may be */
	llmo_buf_init(&p.yaml, out->max);
	if (!json_is_object(swagger)) {
		rc = llmo_error_set(err, LLMO_EINVAL, "openapi v2: the document is %s, not an object",
				    llmo_json_type_name(swagger));
		goto out;
	}
	rc = pb_fields(&p, swagger, &document_msg);
	if (rc == LLMO_ETOOBIG && p.too_deep)
		llmo_error_set(err, rc, "openapi v2: nested deeper than %d levels",
			       LLMO_OPENAPI_PB_NEST_MAX);
	else if (rc == LLMO_ETOOBIG)
		llmo_error_set(err, rc, "openapi v2: the protobuf encoding passes its cap of %zu bytes",
			       out->max);
	else if (rc)
		llmo_error_set(err, rc, "openapi v2: %s", llmo_strerror(rc));
out:
	if (rc)
		llmo_buf_truncate(out, start);
	llmo_buf_release(&p.yaml);
	return rc;
}

bool llmo_openapi_pb_accepted(const char *accept)
{
	return accept && strstr(accept, "application/com.github.proto-openapi.spec.v2");
}

bool llmo__openapi_v2_reply_pb(struct evhttp_request *req, const json_t *swagger)
{
	const char *accept = evhttp_find_header(evhttp_request_get_input_headers(req), "Accept");
	struct llmo_error err = {0};
	struct llmo_buf body;

	if (!llmo_openapi_pb_accepted(accept))
		return false;
	llmo_buf_init(&body, LLMO_OPENAPI_PB_BODY_MAX);
	if (llmo_openapi_v2_protobuf(swagger, &body, &err) != 0) {
		llmo__reply_status(req, 500, "InternalError", NULL, "%s", err.msg);
	} else {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
				  LLMO_OPENAPI_PB_CONTENT_TYPE);
		evbuffer_add(evhttp_request_get_output_buffer(req), body.data, body.len);
		evhttp_send_reply(req, 200, "OK", NULL);
	}
	llmo_buf_release(&body);
	return true;
}
