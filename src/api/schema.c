#include "api/schema.h"
#include "base/clock.h"
#include "base/duration.h"
#include "base/error.h"
#include "base/json.h"
#include "base/quantity.h"

#include <math.h>
#include <pthread.h>
#include <regex.h>

/* ---- patterns: compiled once, kept for the life of the process ---- */

#define PATTERN_CACHE_MAX 256

struct pattern {
	char *src;
	regex_t re;
	bool ok;
};

static struct pattern pattern_cache[PATTERN_CACHE_MAX];
static size_t pattern_count;
static pthread_mutex_t pattern_lock = PTHREAD_MUTEX_INITIALIZER;

/* ECMA-262 shorthands that POSIX ERE lacks, rewritten into bracket forms. */
static int pattern_translate(const char *src, struct llmo_buf *out)
{
	int rc = 0;
	bool in_bracket = false;

	for (const char *p = src; *p && !rc; p++) {
		if (*p == '\\' && p[1]) {
			const char *rep = NULL;

			switch (p[1]) {
			case 'd': rep = in_bracket ? "0-9" : "[0-9]"; break;
			case 'w': rep = in_bracket ? "A-Za-z0-9_" : "[A-Za-z0-9_]"; break;
			case 's': rep = in_bracket ? " \t\r\n\f\v" : "[ \t\r\n\f\v]"; break;
			default: break;
			}
			if (rep) {
				rc = llmo_buf_puts(out, rep);
			} else if (in_bracket) {
				/* inside brackets POSIX has no escapes: keep the character */
				rc = llmo_buf_putc(out, p[1]);
			} else {
				rc = llmo_buf_append(out, p, 2);
			}
			p++;
			continue;
		}
		if (*p == '[' && !in_bracket)
			in_bracket = true;
		else if (*p == ']' && in_bracket && p[-1] != '[' && !(p[-1] == '^' && p[-2] == '['))
			in_bracket = false;
		rc = llmo_buf_putc(out, *p);
	}
	return rc;
}

/* Returns the compiled pattern or NULL when it does not compile. */
static const regex_t *pattern_get(const char *src)
{
	const regex_t *re = NULL;
	struct llmo_buf ere;
	struct pattern *p;

	pthread_mutex_lock(&pattern_lock);
	for (size_t i = 0; i < pattern_count; i++) {
		if (strcmp(pattern_cache[i].src, src) == 0) {
			re = pattern_cache[i].ok ? &pattern_cache[i].re : NULL;
			goto out;
		}
	}
	if (pattern_count == PATTERN_CACHE_MAX)
		goto out;
	p = &pattern_cache[pattern_count];
	llmo_buf_init(&ere, 64 * 1024);
	if (pattern_translate(src, &ere) == 0) {
		p->src = strdup(src);
		p->ok = p->src && regcomp(&p->re, ere.data, REG_EXTENDED | REG_NOSUB) == 0;
		if (p->src)
			pattern_count++;
		re = p->ok ? &p->re : NULL;
	}
	llmo_buf_release(&ere);
out:
	pthread_mutex_unlock(&pattern_lock);
	return re;
}

/* ---- validation ---- */

struct vctx {
	struct llmo_buf *path;
	struct llmo_errlist *errs;
	unsigned flags;
	int rc; /* first LLMO_ENOMEM */
};

static void verr(struct vctx *c, const char *fmt, ...) LLMO_PRINTF(2, 3);
static void verr(struct vctx *c, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (llmo_errlist_add(c->errs, c->path->data, "%s", msg) && !c->rc)
		c->rc = LLMO_ENOMEM;
}

static bool sbool(const json_t *schema, const char *key)
{
	return json_is_true(json_object_get(schema, key));
}

/*
 * The keywords of one schema node that validation reads, found in one pass
 * over the node's keys: a node has a handful of keys, and looking two dozen
 * keywords up by hash in each node cost more than the checks themselves.
 */
struct snode {
	const char *type, *format, *pattern, *list_type;
	const json_t *en, *props, *addl, *req, *items, *list_keys;
	const json_t *max_len, *min_len, *minimum, *maximum, *multiple_of;
	const json_t *max_items, *min_items, *max_props, *min_props;
	const json_t *all_of, *any_of, *one_of, *not;
	bool excl_min, excl_max, int_or_string, preserve;
};

static void snode_read(const json_t *schema, struct snode *n)
{
	const char *k;
	json_t *v;

	memset(n, 0, sizeof(*n));
	/* jansson's object iterator takes a non-const object; it reads only */
	json_object_foreach((json_t *)schema, k, v) {
		switch (k[0]) {
		case 'a':
			if (strcmp(k, "additionalProperties") == 0)
				n->addl = v;
			else if (strcmp(k, "allOf") == 0)
				n->all_of = v;
			else if (strcmp(k, "anyOf") == 0)
				n->any_of = v;
			break;
		case 'e':
			if (strcmp(k, "enum") == 0)
				n->en = v;
			else if (strcmp(k, "exclusiveMinimum") == 0)
				n->excl_min = json_is_true(v);
			else if (strcmp(k, "exclusiveMaximum") == 0)
				n->excl_max = json_is_true(v);
			break;
		case 'f':
			if (strcmp(k, "format") == 0)
				n->format = json_string_value(v);
			break;
		case 'i':
			if (strcmp(k, "items") == 0)
				n->items = v;
			break;
		case 'm':
			if (strcmp(k, "maxLength") == 0)
				n->max_len = v;
			else if (strcmp(k, "minLength") == 0)
				n->min_len = v;
			else if (strcmp(k, "minimum") == 0)
				n->minimum = v;
			else if (strcmp(k, "maximum") == 0)
				n->maximum = v;
			else if (strcmp(k, "multipleOf") == 0)
				n->multiple_of = v;
			else if (strcmp(k, "maxItems") == 0)
				n->max_items = v;
			else if (strcmp(k, "minItems") == 0)
				n->min_items = v;
			else if (strcmp(k, "maxProperties") == 0)
				n->max_props = v;
			else if (strcmp(k, "minProperties") == 0)
				n->min_props = v;
			break;
		case 'n':
			if (strcmp(k, "not") == 0)
				n->not = v;
			break;
		case 'o':
			if (strcmp(k, "oneOf") == 0)
				n->one_of = v;
			break;
		case 'p':
			if (strcmp(k, "pattern") == 0)
				n->pattern = json_string_value(v);
			else if (strcmp(k, "properties") == 0)
				n->props = v;
			break;
		case 'r':
			if (strcmp(k, "required") == 0)
				n->req = v;
			break;
		case 't':
			if (strcmp(k, "type") == 0)
				n->type = json_string_value(v);
			break;
		case 'x':
			if (strcmp(k, "x-kubernetes-int-or-string") == 0)
				n->int_or_string = json_is_true(v);
			else if (strcmp(k, "x-kubernetes-preserve-unknown-fields") == 0)
				n->preserve = json_is_true(v);
			else if (strcmp(k, "x-kubernetes-list-type") == 0)
				n->list_type = json_string_value(v);
			else if (strcmp(k, "x-kubernetes-list-map-keys") == 0)
				n->list_keys = v;
			break;
		default:
			break;
		}
	}
}

static size_t utf8_len(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			n++;
	return n;
}

static bool type_matches(const char *type, const json_t *v)
{
	if (strcmp(type, "object") == 0)
		return json_is_object(v);
	if (strcmp(type, "array") == 0)
		return json_is_array(v);
	if (strcmp(type, "string") == 0)
		return json_is_string(v);
	if (strcmp(type, "integer") == 0)
		return json_is_integer(v);
	if (strcmp(type, "number") == 0)
		return json_is_number(v);
	if (strcmp(type, "boolean") == 0)
		return json_is_boolean(v);
	return true; /* unknown types are the CRD's problem, not the object's */
}

static void validate_node(struct vctx *c, const json_t *schema, const json_t *v);

static void check_enum(struct vctx *c, const json_t *en, const json_t *v)
{
	struct llmo_buf list;
	size_t i;
	json_t *e;

	json_array_foreach(en, i, e)
		if (json_equal(e, v))
			return;
	llmo_buf_init(&list, 2048);
	json_array_foreach(en, i, e) {
		char *s = json_dumps(e, JSON_ENCODE_ANY | JSON_COMPACT);

		if (s)
			llmo_buf_appendf(&list, "%s%s", i ? ", " : "", s);
		free(s);
	}
	if (json_is_string(v))
		verr(c, "unsupported value \"%s\": must be one of %s", json_string_value(v), list.data);
	else
		verr(c, "unsupported value: must be one of %s", list.data);
	llmo_buf_release(&list);
}

static void check_format(struct vctx *c, const char *format, const json_t *v)
{
	struct llmo_error err = {0};
	int64_t out;

	if (json_is_integer(v) && strcmp(format, "int32") == 0) {
		json_int_t i = json_integer_value(v);

		if (i < INT32_MIN || i > INT32_MAX)
			verr(c, "%" JSON_INTEGER_FORMAT " does not fit in int32", i);
		return;
	}
	if (!json_is_string(v))
		return;
	if (strcmp(format, "duration") == 0) {
		if (llmo_duration_parse(json_string_value(v), &out, &err))
			verr(c, "invalid duration: %s", err.msg);
	} else if (strcmp(format, "date-time") == 0) {
		if (llmo_time_parse_rfc3339(json_string_value(v), &out, &err))
			verr(c, "invalid date-time: %s", err.msg);
	}
}

/*
 * An int-or-string field with Kubernetes' quantity pattern holds a quantity:
 * say what is wrong with it the way the quantity parser does ("8Gb": unknown
 * suffix "Gb") rather than quoting the regular expression.
 */
static bool quantity_error(struct vctx *c, const struct snode *n, const char *s)
{
	struct llmo_error err = {0};
	int64_t milli;

	if (!n->int_or_string || !n->pattern || !strstr(n->pattern, "[KMGTPE]i"))
		return false;
	if (llmo_quantity_parse(s, &milli, &err) == 0)
		return false;
	verr(c, "invalid quantity %s", err.msg);
	return true;
}

static void check_string(struct vctx *c, const struct snode *n, const json_t *v)
{
	const char *s = json_string_value(v);
	const char *pat = n->pattern;
	const json_t *lim;

	if ((lim = n->max_len) && json_is_integer(lim) &&
	    (json_int_t)utf8_len(s) > json_integer_value(lim))
		verr(c, "must be at most %" JSON_INTEGER_FORMAT " characters long",
		     json_integer_value(lim));
	if ((lim = n->min_len) && json_is_integer(lim) &&
	    (json_int_t)utf8_len(s) < json_integer_value(lim))
		verr(c, "must be at least %" JSON_INTEGER_FORMAT " characters long",
		     json_integer_value(lim));
	if (pat) {
		const regex_t *re = pattern_get(pat);

		if (!re)
			verr(c, "the schema's pattern %s cannot be evaluated", pat);
		else if (regexec(re, s, 0, NULL, 0) != 0 && !quantity_error(c, n, s))
			verr(c, "\"%s\" does not match the pattern %s", s, pat);
	}
}

static void check_number(struct vctx *c, const struct snode *n, const json_t *v)
{
	double x = json_number_value(v);
	const json_t *lim;

	if ((lim = n->minimum) && json_is_number(lim)) {
		double m = json_number_value(lim);

		if (n->excl_min ? x <= m : x < m)
			verr(c, "must be %s %.15g", n->excl_min ? ">" : ">=", m);
	}
	if ((lim = n->maximum) && json_is_number(lim)) {
		double m = json_number_value(lim);

		if (n->excl_max ? x >= m : x > m)
			verr(c, "must be %s %.15g", n->excl_max ? "<" : "<=", m);
	}
	if ((lim = n->multiple_of) && json_is_number(lim) && json_number_value(lim) > 0) {
		double q = x / json_number_value(lim);

		if (fabs(q - round(q)) > 1e-9)
			verr(c, "must be a multiple of %.15g", json_number_value(lim));
	}
}

static void check_list_type(struct vctx *c, const struct snode *sn, const json_t *v)
{
	const char *lt = sn->list_type;
	const json_t *keys = sn->list_keys;
	size_t n = json_array_size(v);

	if (!lt || strcmp(lt, "atomic") == 0)
		return;
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < i; j++) {
			const json_t *a = json_array_get(v, i), *b = json_array_get(v, j);
			bool dup;

			if (strcmp(lt, "set") == 0) {
				dup = json_equal(a, b);
			} else {
				size_t k;
				json_t *key;

				dup = json_is_array(keys) && json_array_size(keys) > 0;
				json_array_foreach(keys, k, key) {
					const char *kn = json_string_value(key);
					json_t *ka = kn ? json_object_get(a, kn) : NULL;
					json_t *kb = kn ? json_object_get(b, kn) : NULL;

					if (!(ka == kb || (ka && kb && json_equal(ka, kb))))
						dup = false;
				}
			}
			if (dup) {
				size_t mark = c->path->len;

				llmo_path_push_index(c->path, i);
				verr(c, "duplicate entry (same as [%zu])", j);
				llmo_buf_truncate(c->path, mark);
				break;
			}
		}
	}
}

static void check_object(struct vctx *c, const struct snode *n, const json_t *v)
{
	const json_t *props = n->props, *addl = n->addl;
	size_t mark = c->path->len, i;
	const char *key;
	const json_t *lim;
	json_t *item;

	if ((lim = n->max_props) && json_is_integer(lim) &&
	    (json_int_t)json_object_size(v) > json_integer_value(lim))
		verr(c, "must have at most %" JSON_INTEGER_FORMAT " entries", json_integer_value(lim));
	if ((lim = n->min_props) && json_is_integer(lim) &&
	    (json_int_t)json_object_size(v) < json_integer_value(lim))
		verr(c, "must have at least %" JSON_INTEGER_FORMAT " entries", json_integer_value(lim));

	json_array_foreach(n->req, i, item) {
		const char *name = json_string_value(item);
		json_t *present = name ? json_object_get(v, name) : NULL;

		if (!name || (present && !json_is_null(present)))
			continue;
		llmo_path_push_key(c->path, name);
		verr(c, "required field is missing");
		llmo_buf_truncate(c->path, mark);
	}

	json_object_foreach((json_t *)v, key, item) {
		const json_t *sub = props ? json_object_get(props, key) : NULL;

		llmo_path_push_key(c->path, key);
		if (sub)
			validate_node(c, sub, item);
		else if (json_is_object(addl))
			validate_node(c, addl, item);
		else if (json_is_false(addl))
			verr(c, "unknown field");
		else if ((c->flags & LLMO_SCHEMA_UNKNOWN_FIELDS) && !n->preserve && props &&
			 !json_is_true(addl))
			verr(c, "unknown field");
		llmo_buf_truncate(c->path, mark);
	}
}

static void check_array(struct vctx *c, const struct snode *n, const json_t *v)
{
	const json_t *items = n->items, *lim;
	size_t mark = c->path->len, i;
	json_t *item;

	if ((lim = n->max_items) && json_is_integer(lim) &&
	    (json_int_t)json_array_size(v) > json_integer_value(lim))
		verr(c, "must have at most %" JSON_INTEGER_FORMAT " items", json_integer_value(lim));
	if ((lim = n->min_items) && json_is_integer(lim) &&
	    (json_int_t)json_array_size(v) < json_integer_value(lim))
		verr(c, "must have at least %" JSON_INTEGER_FORMAT " items", json_integer_value(lim));
	check_list_type(c, n, v);
	if (!json_is_object(items))
		return;
	json_array_foreach(v, i, item) {
		llmo_path_push_index(c->path, i);
		validate_node(c, items, item);
		llmo_buf_truncate(c->path, mark);
	}
}

/* Validates v against each of a list of schemas into a scratch list; counts passes. */
static size_t count_passing(struct vctx *c, const json_t *list, const json_t *v)
{
	size_t i, pass = 0;
	json_t *s;

	json_array_foreach(list, i, s) {
		struct llmo_errlist scratch;
		struct vctx sc = *c;

		llmo_errlist_init(&scratch);
		sc.errs = &scratch;
		validate_node(&sc, s, v);
		if (sc.rc && !c->rc)
			c->rc = sc.rc;
		if (llmo_errlist_count(&scratch) == 0)
			pass++;
		llmo_errlist_release(&scratch);
	}
	return pass;
}

static void validate_node(struct vctx *c, const json_t *schema, const json_t *v)
{
	struct snode n;
	const json_t *list;
	size_t i;
	json_t *s;

	if (!json_is_object(schema))
		return;
	if (json_is_null(v)) {
		/* nullable or not, a null is accepted here: non-nullable nulls are
		 * dropped by defaulting, as kube-apiserver prunes them */
		return;
	}
	snode_read(schema, &n);
	if (n.int_or_string) {
		if (json_is_real(v) && strstr(n.pattern ? n.pattern : "", "[KMGTPE]i")) {
			verr(c, "expected integer or string, got number (write a fractional "
				"quantity as a string: \"%g\")", json_real_value(v));
			return;
		}
		if (!json_is_integer(v) && !json_is_string(v)) {
			verr(c, "expected integer or string, got %s", llmo_json_type_name(v));
			return;
		}
	} else if (n.type && !type_matches(n.type, v)) {
		verr(c, "expected %s, got %s", n.type, llmo_json_type_name(v));
		return;
	}
	if (json_is_array(n.en))
		check_enum(c, n.en, v);
	if (n.format)
		check_format(c, n.format, v);
	if (json_is_string(v))
		check_string(c, &n, v);
	else if (json_is_number(v))
		check_number(c, &n, v);
	else if (json_is_object(v))
		check_object(c, &n, v);
	else if (json_is_array(v))
		check_array(c, &n, v);

	if ((list = n.all_of))
		json_array_foreach(list, i, s)
			validate_node(c, s, v);
	if ((list = n.any_of) && json_array_size(list) && count_passing(c, list, v) == 0)
		verr(c, "does not match any of the allowed forms");
	if ((list = n.one_of) && json_array_size(list) && count_passing(c, list, v) != 1)
		verr(c, "must match exactly one of the allowed forms");
	if ((s = (json_t *)n.not) && json_is_object(s)) {
		json_t *one = json_array();

		json_array_append(one, s);
		if (count_passing(c, one, v) == 1)
			verr(c, "matches a form that is not allowed");
		json_decref(one);
	}
}

int llmo_schema_validate(const json_t *schema, const json_t *v, struct llmo_buf *path,
			 struct llmo_errlist *errs, unsigned flags)
{
	struct vctx c = {.path = path, .errs = errs, .flags = flags, .rc = 0};
	size_t mark = path->len;

	validate_node(&c, schema, v);
	llmo_buf_truncate(path, mark);
	return c.rc;
}

/* ---- defaulting and pruning ---- */

int llmo_schema_default(const json_t *schema, json_t *v)
{
	const json_t *props, *addl, *items;
	const char *key;
	json_t *item, *tmp;
	size_t i;
	int rc;

	if (!json_is_object(schema))
		return 0;
	if (json_is_object(v)) {
		props = json_object_get(schema, "properties");
		addl = json_object_get(schema, "additionalProperties");
		json_object_foreach_safe(v, tmp, key, item) {
			const json_t *sub = props ? json_object_get(props, key) : NULL;

			if (!sub && json_is_object(addl))
				sub = addl;
			if (json_is_null(item) && sub && !sbool(sub, "nullable")) {
				json_object_del(v, key);
				continue;
			}
			if (sub && (rc = llmo_schema_default(sub, item)))
				return rc;
		}
		json_object_foreach((json_t *)props, key, item) {
			const json_t *def = json_object_get(item, "default");
			json_t *copy;

			if (!def || json_object_get(v, key))
				continue;
			copy = json_deep_copy(def);
			if (!copy || json_object_set_new(v, key, copy))
				return LLMO_ENOMEM;
			/* defaults inside a defaulted object apply too */
			if ((rc = llmo_schema_default(item, copy)))
				return rc;
		}
	} else if (json_is_array(v)) {
		items = json_object_get(schema, "items");
		json_array_foreach(v, i, item)
			if ((rc = llmo_schema_default(items, item)))
				return rc;
	}
	return 0;
}

void llmo_schema_prune(const json_t *schema, json_t *v)
{
	const json_t *props, *addl;
	const char *key;
	json_t *item, *tmp;
	size_t i;

	if (!json_is_object(schema) || sbool(schema, "x-kubernetes-preserve-unknown-fields"))
		return;
	if (json_is_object(v)) {
		props = json_object_get(schema, "properties");
		addl = json_object_get(schema, "additionalProperties");
		if (!props && !json_is_object(addl))
			return; /* an open object such as metadata */
		json_object_foreach_safe(v, tmp, key, item) {
			const json_t *sub = props ? json_object_get(props, key) : NULL;

			if (!sub && json_is_object(addl))
				sub = addl;
			if (!sub && !json_is_true(addl))
				json_object_del(v, key);
			else if (sub)
				llmo_schema_prune(sub, item);
		}
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, item)
			llmo_schema_prune(json_object_get(schema, "items"), item);
	}
}

const json_t *llmo_schema_at(const json_t *schema, const char *dotted)
{
	const char *p = dotted;

	while (schema && *p) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);
		char name[256];

		if (n >= sizeof(name))
			return NULL;
		memcpy(name, p, n);
		name[n] = '\0';
		schema = json_object_get(json_object_get(schema, "properties"), name);
		p += n + (dot ? 1 : 0);
	}
	return schema;
}
