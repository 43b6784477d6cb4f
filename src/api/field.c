#include "api/field.h"
#include "base/clock.h"
#include "base/duration.h"
#include "base/error.h"
#include "base/json.h"
#include "base/quantity.h"
#include "base/yaml.h"

#include <math.h>

#define MEMBER(obj, f, T) ((T *)((char *)(obj) + (f)->off))
#define CMEMBER(obj, f, T) ((const T *)((const char *)(obj) + (f)->off))

/* Every LLMO_LIST(T) has this layout. */
struct any_list {
	void *items;
	size_t len;
};

const struct llmo_field *llmo_fields_find(const struct llmo_field *table, const char *name)
{
	for (const struct llmo_field *f = table; f->name; f++)
		if (strcmp(f->name, name) == 0)
			return f;
	return NULL;
}

const char *llmo_field_enum_name(const struct llmo_field *f, int value)
{
	if (value <= 0 || !f->enums)
		return NULL;
	for (int i = 0; f->enums[i]; i++)
		if (i + 1 == value)
			return f->enums[i];
	return NULL;
}

static void enum_list(const struct llmo_field *f, struct llmo_buf *b)
{
	for (int i = 0; f->enums[i]; i++)
		llmo_buf_appendf(b, "%s\"%s\"", i ? ", " : "", f->enums[i]);
}

/* Formats a bound in the member's own unit for messages. */
static void bound_str(const struct llmo_field *f, double v, char *out, size_t n)
{
	if (f->type == LLMO_FT_QUANTITY)
		llmo_quantity_format((int64_t)v, (f->flags & LLMO_FF_BINARY) ? LLMO_QFORMAT_BINARY_SI
									    : LLMO_QFORMAT_DECIMAL_SI,
				     out, n);
	else if (f->type == LLMO_FT_DURATION)
		llmo_duration_format((int64_t)v, out, n);
	else
		snprintf(out, n, "%.15g", v);
}

static int check_bounds(const struct llmo_field *f, double v, const char *path,
			struct llmo_errlist *errs)
{
	char b[64];

	if ((f->flags & LLMO_FF_MIN) && v < f->min) {
		bound_str(f, f->min, b, sizeof(b));
		return llmo_errlist_add(errs, path, "must be >= %s", b);
	}
	if ((f->flags & LLMO_FF_MAX) && v > f->max) {
		bound_str(f, f->max, b, sizeof(b));
		return llmo_errlist_add(errs, path, "must be <= %s", b);
	}
	return 0;
}

static int type_error(struct llmo_errlist *errs, const char *path, const char *want,
		      const json_t *v)
{
	return llmo_errlist_add(errs, path, "expected %s, got %s", want, llmo_json_type_name(v));
}

static int decode_value(const struct llmo_field *f, const json_t *v, void *out,
			struct llmo_buf *path, struct llmo_errlist *errs, unsigned flags);

static int decode_string(const json_t *v, char **dst, const char *path, struct llmo_errlist *errs)
{
	if (!json_is_string(v))
		return type_error(errs, path, "string", v);
	free(*dst);
	*dst = strdup(json_string_value(v));
	return *dst ? 0 : LLMO_ENOMEM;
}

static int decode_list(const struct llmo_field *f, const json_t *v, void *out,
		       struct llmo_buf *path, struct llmo_errlist *errs, unsigned flags)
{
	struct any_list *l = MEMBER(out, f, struct any_list);
	size_t n, i, mark = path->len;
	json_t *item;
	char *items;
	int rc = 0;

	if (!json_is_array(v))
		return type_error(errs, path->data, "array", v);
	n = json_array_size(v);
	if (n == 0)
		return 0;
	items = calloc(n, f->elem_size);
	if (!items)
		return LLMO_ENOMEM;
	l->items = items;
	l->len = n;
	json_array_foreach(v, i, item) {
		llmo_path_push_index(path, i);
		if (!json_is_object(item))
			rc = type_error(errs, path->data, "object", item);
		else
			rc = llmo_fields_decode(f->sub, item, items + i * f->elem_size, path, errs,
						flags);
		llmo_buf_truncate(path, mark);
		if (rc)
			break;
	}
	return rc;
}

static int decode_strlist(const json_t *v, struct llmo_strlist *l, struct llmo_buf *path,
			  struct llmo_errlist *errs)
{
	size_t i, mark = path->len;
	json_t *item;
	int rc = 0;

	if (!json_is_array(v))
		return type_error(errs, path->data, "array of strings", v);
	if (json_array_size(v) == 0)
		return 0;
	l->items = calloc(json_array_size(v), sizeof(char *));
	if (!l->items)
		return LLMO_ENOMEM;
	json_array_foreach(v, i, item) {
		llmo_path_push_index(path, i);
		if (!json_is_string(item)) {
			rc = type_error(errs, path->data, "string", item);
		} else {
			l->items[l->len] = strdup(json_string_value(item));
			rc = l->items[l->len] ? 0 : LLMO_ENOMEM;
			if (!rc)
				l->len++;
		}
		llmo_buf_truncate(path, mark);
		if (rc)
			break;
	}
	return rc;
}

/*
 * Decodes the entry key: v of a JSON object into elem, which is zeroed. Sets
 * *kept once elem owns memory, so that the map counts it and llmo_fields_free
 * frees it; an entry of the wrong type is reported and not kept.
 */
typedef int (*entry_decode_fn)(const struct llmo_field *f, char *elem, const char *key,
			       const json_t *v, struct llmo_buf *path, struct llmo_errlist *errs,
			       unsigned flags, bool *kept);

/*
 * Decodes the JSON object v into the map l (STRMAP, NUMMAP and OBJMAP all have the
 * layout of struct any_list), one entry of elem_size bytes per key, in the
 * order of the document. want is the expected type named when v is no object.
 */
static int decode_map(const struct llmo_field *f, const json_t *v, struct any_list *l,
		      size_t elem_size, const char *want, entry_decode_fn entry,
		      struct llmo_buf *path, struct llmo_errlist *errs, unsigned flags)
{
	size_t mark = path->len;
	const char *key;
	json_t *item;
	char *items;
	int rc = 0;

	if (!json_is_object(v))
		return type_error(errs, path->data, want, v);
	if (json_object_size(v) == 0)
		return 0;
	items = calloc(json_object_size(v), elem_size);
	if (!items)
		return LLMO_ENOMEM;
	l->items = items;
	json_object_foreach((json_t *)v, key, item) {
		bool kept = false;

		llmo_path_push_key(path, key);
		rc = entry(f, items + l->len * elem_size, key, item, path, errs, flags, &kept);
		if (kept)
			l->len++;
		llmo_buf_truncate(path, mark);
		if (rc)
			break;
	}
	return rc;
}

static int strmap_entry(const struct llmo_field *f, char *elem, const char *key,
			const json_t *v, struct llmo_buf *path, struct llmo_errlist *errs,
			unsigned flags, bool *kept)
{
	struct llmo_kv *kv = (struct llmo_kv *)elem;

	(void)f;
	(void)flags;
	if (!json_is_string(v))
		return type_error(errs, path->data, "string", v);
	*kept = true;
	kv->key = strdup(key);
	kv->value = strdup(json_string_value(v));
	return kv->key && kv->value ? 0 : LLMO_ENOMEM;
}

static int nummap_entry(const struct llmo_field *f, char *elem, const char *key,
			const json_t *v, struct llmo_buf *path, struct llmo_errlist *errs,
			unsigned flags, bool *kept)
{
	struct llmo_numkv *kv = (struct llmo_numkv *)elem;

	(void)f;
	(void)flags;
	if (!json_is_number(v))
		return type_error(errs, path->data, "number", v);
	*kept = true;
	kv->key = strdup(key);
	kv->value = json_number_value(v);
	return kv->key ? 0 : LLMO_ENOMEM;
}

/* An OBJMAP element is a struct that starts with its key, the rest by f->sub. */
static int objmap_entry(const struct llmo_field *f, char *elem, const char *key,
			const json_t *v, struct llmo_buf *path, struct llmo_errlist *errs,
			unsigned flags, bool *kept)
{
	*kept = true;
	*(char **)elem = strdup(key);
	if (!*(char **)elem)
		return LLMO_ENOMEM;
	if (!json_is_object(v))
		return type_error(errs, path->data, "object", v);
	return llmo_fields_decode(f->sub, v, elem, path, errs, flags);
}

static int decode_value(const struct llmo_field *f, const json_t *v, void *out,
			struct llmo_buf *path, struct llmo_errlist *errs, unsigned flags)
{
	const char *p = path->data;
	struct llmo_error err = {0};
	int64_t i64;
	int rc;

	switch (f->type) {
	case LLMO_FT_STRING:
		rc = decode_string(v, MEMBER(out, f, char *), p, errs);
		if (!rc && (flags & LLMO_DECODE_CHECK) && (f->flags & LLMO_FF_NONEMPTY) &&
		    !**MEMBER(out, f, char *))
			rc = llmo_errlist_add(errs, p, "must not be empty");
		return rc;
	case LLMO_FT_ENUM: {
		struct llmo_buf b;

		if (!json_is_string(v))
			return type_error(errs, p, "string", v);
		for (int i = 0; f->enums[i]; i++) {
			if (strcmp(f->enums[i], json_string_value(v)) == 0) {
				*MEMBER(out, f, int) = i + 1;
				return 0;
			}
		}
		llmo_buf_init(&b, 4096);
		enum_list(f, &b);
		rc = llmo_errlist_add(errs, p, "unsupported value \"%s\": must be one of %s",
				      json_string_value(v), b.data);
		llmo_buf_release(&b);
		return rc;
	}
	case LLMO_FT_BOOL:
		if (!json_is_boolean(v))
			return type_error(errs, p, "boolean", v);
		*MEMBER(out, f, bool) = json_is_true(v);
		return 0;
	case LLMO_FT_INT32:
		if (!json_is_integer(v))
			return type_error(errs, p, "integer", v);
		i64 = json_integer_value(v);
		if (i64 < INT32_MIN || i64 > INT32_MAX)
			return llmo_errlist_add(errs, p, "%" PRId64 " does not fit in 32 bits", i64);
		*MEMBER(out, f, int32_t) = (int32_t)i64;
		return (flags & LLMO_DECODE_CHECK) ? check_bounds(f, (double)i64, p, errs) : 0;
	case LLMO_FT_INT64:
		if (!json_is_integer(v))
			return type_error(errs, p, "integer", v);
		*MEMBER(out, f, int64_t) = json_integer_value(v);
		return (flags & LLMO_DECODE_CHECK)
			       ? check_bounds(f, (double)json_integer_value(v), p, errs)
			       : 0;
	case LLMO_FT_NUMBER:
		if (!json_is_number(v))
			return type_error(errs, p, "number", v);
		*MEMBER(out, f, double) = json_number_value(v);
		return (flags & LLMO_DECODE_CHECK) ? check_bounds(f, json_number_value(v), p, errs)
						   : 0;
	case LLMO_FT_QUANTITY:
		if (llmo_quantity_from_json(v, &i64, &err))
			return llmo_errlist_add(errs, p, "%s", err.msg);
		*MEMBER(out, f, int64_t) = i64;
		return (flags & LLMO_DECODE_CHECK) ? check_bounds(f, (double)i64, p, errs) : 0;
	case LLMO_FT_DURATION:
		if (llmo_duration_from_json(v, &i64, &err))
			return llmo_errlist_add(errs, p, "%s", err.msg);
		*MEMBER(out, f, int64_t) = i64;
		return (flags & LLMO_DECODE_CHECK) ? check_bounds(f, (double)i64, p, errs) : 0;
	case LLMO_FT_TIME:
		if (!json_is_string(v))
			return type_error(errs, p, "RFC 3339 time string", v);
		if (llmo_time_parse_rfc3339(json_string_value(v), &i64, &err))
			return llmo_errlist_add(errs, p, "%s", err.msg);
		*MEMBER(out, f, int64_t) = i64;
		return 0;
	case LLMO_FT_INTORSTR: {
		struct llmo_intorstr *ios = MEMBER(out, f, struct llmo_intorstr);

		if (json_is_integer(v)) {
			ios->set = true;
			ios->is_str = false;
			ios->i = json_integer_value(v);
			return 0;
		}
		if (!json_is_string(v))
			return type_error(errs, p, "integer or string", v);
		free(ios->s);
		ios->s = strdup(json_string_value(v));
		if (!ios->s)
			return LLMO_ENOMEM;
		ios->set = true;
		ios->is_str = true;
		return 0;
	}
	case LLMO_FT_OBJECT:
		if (!json_is_object(v))
			return type_error(errs, p, "object", v);
		return llmo_fields_decode(f->sub, v, MEMBER(out, f, char), path, errs, flags);
	case LLMO_FT_LIST:
		return decode_list(f, v, out, path, errs, flags);
	case LLMO_FT_STRLIST:
		return decode_strlist(v, MEMBER(out, f, struct llmo_strlist), path, errs);
	case LLMO_FT_STRMAP:
		return decode_map(f, v, MEMBER(out, f, struct any_list), sizeof(struct llmo_kv),
				  "object of strings", strmap_entry, path, errs, flags);
	case LLMO_FT_NUMMAP:
		return decode_map(f, v, MEMBER(out, f, struct any_list), sizeof(struct llmo_numkv),
				  "object of numbers", nummap_entry, path, errs, flags);
	case LLMO_FT_OBJMAP:
		return decode_map(f, v, MEMBER(out, f, struct any_list), f->elem_size, "object",
				  objmap_entry, path, errs, flags);
	}
	return LLMO_EINTERNAL;
}

int llmo_fields_decode(const struct llmo_field *table, const json_t *obj, void *out,
		       struct llmo_buf *path, struct llmo_errlist *errs, unsigned flags)
{
	size_t mark = path->len;
	const char *key;
	json_t *v;
	int rc = 0;

	if (flags & LLMO_DECODE_STRICT) {
		json_object_foreach((json_t *)obj, key, v) {
			if (llmo_fields_find(table, key))
				continue;
			llmo_path_push_key(path, key);
			rc = llmo_errlist_add(errs, path->data, "unknown field");
			llmo_buf_truncate(path, mark);
			if (rc)
				return rc;
		}
	}
	for (const struct llmo_field *f = table; f->name; f++) {
		v = json_object_get(obj, f->name);
		llmo_path_push_key(path, f->name);
		if (!v || json_is_null(v)) {
			if ((flags & LLMO_DECODE_CHECK) && (f->flags & LLMO_FF_REQUIRED))
				rc = llmo_errlist_add(errs, path->data, "required field is missing");
		} else {
			rc = decode_value(f, v, out, path, errs, flags);
			if (f->set_off)
				*(bool *)((char *)out + f->set_off) = true;
		}
		llmo_buf_truncate(path, mark);
		if (rc)
			return rc;
	}
	return 0;
}

int llmo_fields_decode_doc(const struct llmo_field *table, const json_t *obj, void *out,
			   struct llmo_errlist *errs, unsigned flags)
{
	struct llmo_buf path;
	int rc;

	llmo_buf_init(&path, LLMO_FIELD_PATH_MAX);
	rc = llmo_fields_decode(table, obj, out, &path, errs, flags);
	llmo_buf_release(&path);
	return rc;
}

/* ---- encode ---- */

static json_t *encode_value(const struct llmo_field *f, const void *in);

static json_t *encode_list(const struct llmo_field *f, const void *in, bool keyed)
{
	const struct any_list *l = CMEMBER(in, f, struct any_list);
	json_t *out;

	if (!l->len)
		return NULL;
	out = keyed ? json_object() : json_array();
	for (size_t i = 0; out && i < l->len; i++) {
		const char *elem = (const char *)l->items + i * f->elem_size;
		json_t *o = llmo_fields_encode(f->sub, elem);

		if (!o) {
			json_decref(out);
			return NULL;
		}
		if (keyed)
			json_object_set_new(out, *(char *const *)elem, o);
		else
			json_array_append_new(out, o);
	}
	return out;
}

static json_t *encode_value(const struct llmo_field *f, const void *in)
{
	char buf[64];
	int64_t i64;

	switch (f->type) {
	case LLMO_FT_STRING: {
		const char *s = *CMEMBER(in, f, char *);
		return s ? json_string(s) : NULL;
	}
	case LLMO_FT_ENUM: {
		const char *s = llmo_field_enum_name(f, *CMEMBER(in, f, int));
		return s ? json_string(s) : NULL;
	}
	case LLMO_FT_BOOL:
		return json_boolean(*CMEMBER(in, f, bool));
	case LLMO_FT_INT32:
		return json_integer(*CMEMBER(in, f, int32_t));
	case LLMO_FT_INT64:
		return json_integer(*CMEMBER(in, f, int64_t));
	case LLMO_FT_NUMBER:
		return json_real(*CMEMBER(in, f, double));
	case LLMO_FT_QUANTITY:
		i64 = *CMEMBER(in, f, int64_t);
		if (!i64)
			return NULL;
		if (llmo_quantity_format(i64, (f->flags & LLMO_FF_BINARY) ? LLMO_QFORMAT_BINARY_SI
									     : LLMO_QFORMAT_DECIMAL_SI,
					 buf, sizeof(buf)))
			return NULL;
		return json_string(buf);
	case LLMO_FT_DURATION:
		i64 = *CMEMBER(in, f, int64_t);
		if (!i64 || llmo_duration_format(i64, buf, sizeof(buf)))
			return NULL;
		return json_string(buf);
	case LLMO_FT_TIME:
		i64 = *CMEMBER(in, f, int64_t);
		if (!i64 || llmo_time_format_rfc3339(i64, false, buf, sizeof(buf)))
			return NULL;
		return json_string(buf);
	case LLMO_FT_INTORSTR: {
		const struct llmo_intorstr *ios = CMEMBER(in, f, struct llmo_intorstr);

		if (!ios->set)
			return NULL;
		return ios->is_str ? json_string(ios->s) : json_integer(ios->i);
	}
	case LLMO_FT_OBJECT: {
		json_t *o = llmo_fields_encode(f->sub, CMEMBER(in, f, char));

		if (o && json_object_size(o) == 0) {
			json_decref(o);
			o = NULL;
		}
		return o;
	}
	case LLMO_FT_LIST:
		return encode_list(f, in, false);
	case LLMO_FT_OBJMAP:
		return encode_list(f, in, true);
	case LLMO_FT_STRLIST: {
		const struct llmo_strlist *l = CMEMBER(in, f, struct llmo_strlist);
		json_t *a;

		if (!l->len)
			return NULL;
		a = json_array();
		for (size_t i = 0; a && i < l->len; i++)
			json_array_append_new(a, json_string(l->items[i]));
		return a;
	}
	case LLMO_FT_STRMAP: {
		const struct llmo_strmap *m = CMEMBER(in, f, struct llmo_strmap);
		json_t *o;

		if (!m->len)
			return NULL;
		o = json_object();
		for (size_t i = 0; o && i < m->len; i++)
			json_object_set_new(o, m->items[i].key, json_string(m->items[i].value));
		return o;
	}
	case LLMO_FT_NUMMAP: {
		const struct llmo_nummap *m = CMEMBER(in, f, struct llmo_nummap);
		json_t *o;

		if (!m->len)
			return NULL;
		o = json_object();
		for (size_t i = 0; o && i < m->len; i++)
			json_object_set_new(o, m->items[i].key, json_real(m->items[i].value));
		return o;
	}
	}
	return NULL;
}

json_t *llmo_fields_encode(const struct llmo_field *table, const void *in)
{
	json_t *out = json_object();

	if (!out)
		return NULL;
	for (const struct llmo_field *f = table; f->name; f++) {
		json_t *v;

		/* a scalar that has a presence flag is written only when present */
		if (f->set_off && !*(const bool *)((const char *)in + f->set_off))
			continue;
		v = encode_value(f, in);
		if (v)
			json_object_set_new(out, f->name, v);
	}
	return out;
}

/* ---- free ---- */

void llmo_fields_free(const struct llmo_field *table, void *obj)
{
	for (const struct llmo_field *f = table; f->name; f++) {
		switch (f->type) {
		case LLMO_FT_STRING:
			free(*MEMBER(obj, f, char *));
			*MEMBER(obj, f, char *) = NULL;
			break;
		case LLMO_FT_INTORSTR: {
			struct llmo_intorstr *ios = MEMBER(obj, f, struct llmo_intorstr);

			free(ios->s);
			memset(ios, 0, sizeof(*ios));
			break;
		}
		case LLMO_FT_OBJECT:
			llmo_fields_free(f->sub, MEMBER(obj, f, char));
			break;
		case LLMO_FT_LIST:
		case LLMO_FT_OBJMAP: {
			struct any_list *l = MEMBER(obj, f, struct any_list);

			for (size_t i = 0; i < l->len; i++) {
				char *elem = (char *)l->items + i * f->elem_size;

				if (f->type == LLMO_FT_OBJMAP)
					free(*(char **)elem);
				llmo_fields_free(f->sub, elem);
			}
			free(l->items);
			l->items = NULL;
			l->len = 0;
			break;
		}
		case LLMO_FT_STRLIST: {
			struct llmo_strlist *l = MEMBER(obj, f, struct llmo_strlist);

			for (size_t i = 0; i < l->len; i++)
				free(l->items[i]);
			free(l->items);
			memset(l, 0, sizeof(*l));
			break;
		}
		case LLMO_FT_STRMAP: {
			struct llmo_strmap *m = MEMBER(obj, f, struct llmo_strmap);

			for (size_t i = 0; i < m->len; i++) {
				free(m->items[i].key);
				free(m->items[i].value);
			}
			free(m->items);
			memset(m, 0, sizeof(*m));
			break;
		}
		case LLMO_FT_NUMMAP: {
			struct llmo_nummap *m = MEMBER(obj, f, struct llmo_nummap);

			for (size_t i = 0; i < m->len; i++)
				free(m->items[i].key);
			free(m->items);
			memset(m, 0, sizeof(*m));
			break;
		}
		default:
			break;
		}
	}
}

/* ---- defaults and the commented default file ---- */

static json_t *parse_def(const struct llmo_field *f, struct llmo_error *err)
{
	struct llmo_yaml_stream s = {0};
	json_t *v = NULL;

	if (llmo_yaml_parse(f->def, strlen(f->def), f->name, &s, err))
		return NULL;
	if (s.ndocs == 1)
		v = json_incref(s.docs[0].root);
	else
		llmo_error_set(err, LLMO_EINTERNAL, "default of %s is not one value", f->name);
	llmo_yaml_stream_release(&s);
	return v;
}

int llmo_fields_apply_defaults(const struct llmo_field *table, json_t *doc,
				struct llmo_error *err)
{
	const char *key;
	json_t *v, *item;
	size_t i;
	int rc;

	for (const struct llmo_field *f = table; f->name; f++) {
		v = json_object_get(doc, f->name);
		if (!v && f->def) {
			v = parse_def(f, err);
			if (!v || json_object_set_new(doc, f->name, v))
				return err && err->code ? err->code : LLMO_ENOMEM;
		}
		if (!v && f->type == LLMO_FT_OBJECT) {
			v = json_object();
			if (!v)
				return LLMO_ENOMEM;
			rc = llmo_fields_apply_defaults(f->sub, v, err);
			if (rc || json_object_size(v) == 0) {
				json_decref(v);
				if (rc)
					return rc;
				continue;
			}
			if (json_object_set_new(doc, f->name, v))
				return LLMO_ENOMEM;
			continue;
		}
		if (!v)
			continue;
		if (f->type == LLMO_FT_OBJECT && json_is_object(v)) {
			if ((rc = llmo_fields_apply_defaults(f->sub, v, err)))
				return rc;
		} else if (f->type == LLMO_FT_OBJMAP && json_is_object(v)) {
			json_object_foreach(v, key, item)
				if (json_is_object(item) &&
				    (rc = llmo_fields_apply_defaults(f->sub, item, err)))
					return rc;
		} else if (f->type == LLMO_FT_LIST && json_is_array(v)) {
			json_array_foreach(v, i, item)
				if (json_is_object(item) &&
				    (rc = llmo_fields_apply_defaults(f->sub, item, err)))
					return rc;
		}
	}
	return 0;
}

json_t *llmo_fields_defaults(const struct llmo_field *table, struct llmo_error *err)
{
	json_t *out = json_object();

	if (!out) {
		llmo_error_set(err, LLMO_ENOMEM, "out of memory");
		return NULL;
	}
	if (llmo_fields_apply_defaults(table, out, err)) {
		json_decref(out);
		return NULL;
	}
	return out;
}

static int indent_to(struct llmo_buf *out, int n)
{
	for (int i = 0; i < n; i++) {
		int rc = llmo_buf_putc(out, ' ');
		if (rc)
			return rc;
	}
	return 0;
}

/* Writes a scalar in YAML flow form (strings always quoted: "5m", "8Gi"). */
static int write_scalar(const json_t *v, struct llmo_buf *out)
{
	char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_REAL_PRECISION(15));
	int rc;

	if (!s)
		return LLMO_ENOMEM;
	rc = llmo_buf_puts(out, s);
	free(s);
	return rc;
}

static int write_value(const struct llmo_field *f, const json_t *v, int indent,
		       struct llmo_buf *out);

static int write_map_of_objects(const struct llmo_field *f, const json_t *v, int indent,
				struct llmo_buf *out)
{
	const char *key;
	json_t *item;
	int rc = 0;

	json_object_foreach((json_t *)v, key, item) {
		if ((rc = indent_to(out, indent)) || (rc = llmo_buf_appendf(out, "%s:\n", key)))
			return rc;
		rc = llmo_fields_write_yaml(f->sub, item, indent + 2, out);
		if (rc)
			return rc;
	}
	return rc;
}

static int write_value(const struct llmo_field *f, const json_t *v, int indent,
		       struct llmo_buf *out)
{
	size_t i;
	json_t *item;
	int rc = 0;

	if (f->type == LLMO_FT_OBJECT && json_is_object(v)) {
		if ((rc = llmo_buf_puts(out, "\n")))
			return rc;
		return llmo_fields_write_yaml(f->sub, v, indent + 2, out);
	}
	if (f->type == LLMO_FT_OBJMAP && json_is_object(v) && json_object_size(v)) {
		if ((rc = llmo_buf_puts(out, "\n")))
			return rc;
		return write_map_of_objects(f, v, indent + 2, out);
	}
	if (f->type == LLMO_FT_OBJMAP) {
		/* an empty map: show the shape of an entry */
		if ((rc = llmo_buf_puts(out, " {}\n")) || (rc = indent_to(out, indent + 2)) ||
		    (rc = llmo_buf_puts(out, "# each entry, under its name, takes:\n")))
			return rc;
		for (const struct llmo_field *s = f->sub; s->name; s++) {
			if ((rc = indent_to(out, indent + 2)) ||
			    (rc = llmo_buf_appendf(out, "#   %s: %s\n", s->name, s->doc ? s->doc : "")))
				return rc;
		}
		return 0;
	}
	if (f->type == LLMO_FT_LIST && json_is_array(v) && json_array_size(v)) {
		if ((rc = llmo_buf_puts(out, "\n")))
			return rc;
		json_array_foreach(v, i, item) {
			if ((rc = indent_to(out, indent + 2)) || (rc = llmo_buf_puts(out, "-\n")))
				return rc;
			if ((rc = llmo_fields_write_yaml(f->sub, item, indent + 4, out)))
				return rc;
		}
		return 0;
	}
	if ((rc = llmo_buf_putc(out, ' ')))
		return rc;
	if ((rc = write_scalar(v, out)))
		return rc;
	return llmo_buf_putc(out, '\n');
}

int llmo_fields_write_yaml(const struct llmo_field *table, const json_t *values, int indent,
			   struct llmo_buf *out)
{
	int rc = 0;

	for (const struct llmo_field *f = table; f->name; f++) {
		const json_t *v = values ? json_object_get(values, f->name) : NULL;

		if (f->doc) {
			if ((rc = indent_to(out, indent)) ||
			    (rc = llmo_buf_appendf(out, "# %s\n", f->doc)))
				return rc;
		}
		if ((rc = indent_to(out, indent)))
			return rc;
		if (!v) {
			if (f->type == LLMO_FT_OBJECT) {
				if ((rc = llmo_buf_appendf(out, "%s:\n", f->name)) ||
				    (rc = llmo_fields_write_yaml(f->sub, NULL, indent + 2, out)))
					return rc;
				continue;
			}
			rc = llmo_buf_appendf(out, "# %s:\n", f->name);
		} else {
			if ((rc = llmo_buf_appendf(out, "%s:", f->name)))
				return rc;
			rc = write_value(f, v, indent, out);
		}
		if (rc)
			return rc;
	}
	return 0;
}

int llmo_json_merge(json_t *dst, const json_t *src)
{
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)src, key, v) {
		json_t *d = json_object_get(dst, key);

		if (json_is_object(d) && json_is_object(v)) {
			int rc = llmo_json_merge(d, v);
			if (rc)
				return rc;
		} else if (json_object_set(dst, key, v)) {
			return LLMO_ENOMEM;
		}
	}
	return 0;
}
