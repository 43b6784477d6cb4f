#include "base/common.h"

#include <math.h>

#include "apiserver/patch.h"
#include "base/buf.h"
#include "base/hmap.h"
#include "base/json.h"
#include "base/str.h"
#include "base/vec.h"

/* Bytes of a pointer, key or directive shown in a message. */
#define PATCH_SHOW 96
#define PATCH_QUOTE_MAX LLMO_STR_QUOTE_SIZE(PATCH_SHOW)
/* One message's detail, before the operation or path is put in front. */
#define PATCH_DETAIL_MAX 320
/*
 * A field path in a strategic merge patch, matched against the schema.
 * Deeper paths are not looked up (no schema path is that long): their lists
 * are replaced.
 */
#define SMP_PATH_MAX 1024

#define SMP_DIRECTIVE "$patch"
#define SMP_RETAIN_KEYS "$retainKeys"
#define SMP_ORDER_PREFIX "$setElementOrder/"
#define SMP_DELETE_PREFIX "$deleteFromPrimitiveList/"

/* ---- shared helpers ----------------------------------------------------- */

/* s for a message: as it is when short printable ASCII, quoted otherwise. */
static const char *patch_show(char *dst, const char *s, size_t len)
{
	bool plain = len <= PATCH_SHOW;

	for (size_t i = 0; plain && i < len; i++)
		plain = (unsigned char)s[i] >= 0x20 && (unsigned char)s[i] < 0x7f;
	if (!plain)
		return llmo_str_quote(dst, s, len, PATCH_SHOW);
	memcpy(dst, s, len);
	dst[len] = '\0';
	return dst;
}

static bool patch_is_container(const json_t *v)
{
	return json_is_object(v) || json_is_array(v);
}

/*
 * Measures v: *depth its nesting (0 for a scalar, 1 + the deepest child for
 * a container) and *count its values. Stops and returns false as soon as
 * the nesting passes max_depth or the count passes max_count, so neither the
 * recursion nor the walk goes further than the caps.
 */
static bool patch_measure(const json_t *v, size_t max_depth, size_t max_count, size_t *depth,
			  size_t *count)
{
	const char *key;
	size_t d = 0;
	json_t *child;

	if (++*count > max_count)
		return false;
	*depth = 0;
	if (!patch_is_container(v))
		return true;
	if (max_depth == 0)
		return false;
	if (json_is_object(v)) {
		json_object_foreach((json_t *)v, key, child) {
			if (!patch_measure(child, max_depth - 1, max_count, &d, count))
				return false;
			*depth = LLMO_MAX(*depth, d);
		}
	} else {
		for (size_t i = 0; i < json_array_size(v); i++) {
			if (!patch_measure(json_array_get(v, i), max_depth - 1, max_count, &d, count))
				return false;
			*depth = LLMO_MAX(*depth, d);
		}
	}
	*depth += 1;
	return true;
}

/* Replaces the reference in *slot by v (which may be NULL: out of memory). */
static int patch_replace(json_t **slot, json_t *v)
{
	if (!v)
		return LLMO_ENOMEM;
	json_decref(*slot);
	*slot = v;
	return 0;
}

/* ---- RFC 7386 merge patch ----------------------------------------------- */

static int merge_apply(json_t **doc, const json_t *patch, size_t depth)
{
	const char *key;
	size_t klen;
	json_t *val;
	int rc;

	if (depth > LLMO_PATCH_DEPTH_MAX)
		return LLMO_ETOOBIG;
	if (!json_is_object(patch))
		return patch_replace(doc, json_deep_copy(patch));
	if (!json_is_object(*doc)) {
		rc = patch_replace(doc, json_object());
		if (rc)
			return rc;
	}
	json_object_keylen_foreach((json_t *)patch, key, klen, val) {
		json_t *child;

		if (json_is_null(val)) {
			json_object_deln(*doc, key, klen);
			continue;
		}
		child = json_incref(json_object_getn(*doc, key, klen));
		rc = merge_apply(&child, val, depth + 1);
		if (rc) {
			json_decref(child);
			return rc;
		}
		if (json_object_setn_new(*doc, key, klen, child) != 0)
			return LLMO_ENOMEM;
	}
	return 0;
}

int llmo_patch_merge(const json_t *target, const json_t *patch, json_t **out,
		     struct llmo_error *err)
{
	json_t *doc = NULL;
	int rc = 0;

	*out = NULL;
	if (!patch) {
		rc = llmo_error_set(err, LLMO_EINVAL, "merge patch: no patch document");
		goto out;
	}
	if (json_is_object(patch) && target) {
		doc = json_deep_copy(target);
		if (!doc) {
			rc = llmo_error_set(err, LLMO_ENOMEM, "merge patch: out of memory");
			goto out;
		}
	}
	rc = merge_apply(&doc, patch, 0);
	if (rc == LLMO_ETOOBIG)
		llmo_error_set(err, rc, "merge patch: nested deeper than %d levels",
			       LLMO_PATCH_DEPTH_MAX);
	else if (rc)
		llmo_error_set(err, rc, "merge patch: out of memory");
out:
	if (rc) {
		json_decref(doc);
		doc = NULL;
	}
	*out = doc;
	return rc;
}

/* ---- RFC 6902 JSON patch ------------------------------------------------ */

enum jp_opcode { JP_ADD, JP_REMOVE, JP_REPLACE, JP_MOVE, JP_COPY, JP_TEST };

static const struct jp_opdef {
	const char *name;
	bool needs_value;
	bool needs_from;
} jp_ops[] = {
	[JP_ADD] = {"add", true, false},
	[JP_REMOVE] = {"remove", false, false},
	[JP_REPLACE] = {"replace", true, false},
	[JP_MOVE] = {"move", false, true},
	[JP_COPY] = {"copy", false, true},
	[JP_TEST] = {"test", true, false},
};

struct jp {
	json_t *doc;          /* the working copy; replaced by root operations */
	size_t depth;         /* an upper bound on doc's nesting */
	size_t copied;        /* values duplicated by "copy" so far */
	struct llmo_strv path; /* the operation's "path", unescaped tokens */
	struct llmo_strv from; /* its "from" */
	struct llmo_buf tok;  /* scratch for one token */
	/* the operation, for messages */
	size_t index;
	const char *op;
	const json_t *path_json;
	struct llmo_error *err;
};

static int jp_fail(struct jp *p, int code, const char *fmt, ...) LLMO_PRINTF(3, 4);

/* "op 2 (test) at /spec/x: value differs" */
static int jp_fail(struct jp *p, int code, const char *fmt, ...)
{
	char detail[PATCH_DETAIL_MAX], where[PATCH_QUOTE_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	if (!p->op)
		return llmo_error_set(p->err, code, "op %zu: %s", p->index, detail);
	if (!json_is_string(p->path_json))
		return llmo_error_set(p->err, code, "op %zu (%s): %s", p->index, p->op, detail);
	return llmo_error_set(p->err, code, "op %zu (%s) at %s: %s", p->index, p->op,
			      patch_show(where, json_string_value(p->path_json),
					 json_string_length(p->path_json)),
			      detail);
}

/*
 * Reads the RFC 6901 pointer v into toks (emptied first). NULL on success,
 * else what is wrong with it; *rc is 0, or LLMO_ENOMEM.
 */
static const char *jp_pointer(struct jp *p, const json_t *v, struct llmo_strv *toks, int *rc)
{
	const char *s;
	size_t len;

	*rc = 0;
	llmo_strv_release(toks);
	if (!json_is_string(v))
		return v ? "must be a string" : "is missing";
	s = json_string_value(v);
	len = json_string_length(v);
	if (strlen(s) != len)
		return "holds a NUL byte";
	if (len == 0)
		return NULL;
	if (s[0] != '/')
		return "must be empty or start with '/'";
	for (size_t i = 1; i <= len; i++) {
		llmo_buf_reset(&p->tok);
		for (; i < len && s[i] != '/'; i++) {
			char c = s[i];

			if (c == '~') {
				if (i + 1 >= len || (s[i + 1] != '0' && s[i + 1] != '1'))
					return "'~' must be followed by '0' or '1'";
				c = s[++i] == '0' ? '~' : '/';
			}
			if (llmo_buf_putc(&p->tok, c) != 0)
				goto nomem;
		}
		if (llmo_strv_push(toks, p->tok.data) != 0)
			goto nomem;
	}
	return NULL;
nomem:
	*rc = LLMO_ENOMEM;
	return "out of memory";
}

/* An array index token: "0" or digits without a leading zero, in range. */
static bool jp_index(const char *tok, size_t *idx)
{
	size_t v = 0;

	if (!*tok || (tok[0] == '0' && tok[1]))
		return false;
	for (const char *c = tok; *c; c++) {
		if (*c < '0' || *c > '9' || v > (SIZE_MAX - 9) / 10)
			return false;
		v = v * 10 + (size_t)(*c - '0');
	}
	*idx = v;
	return true;
}

/* The value the first n tokens name, or NULL. Borrowed from doc. */
static json_t *jp_get(json_t *doc, const struct llmo_strv *t, size_t n)
{
	json_t *cur = doc;
	size_t idx;

	for (size_t i = 0; cur && i < n; i++) {
		if (json_is_object(cur))
			cur = json_object_get(cur, t->items[i]);
		else if (json_is_array(cur) && jp_index(t->items[i], &idx))
			cur = json_array_get(cur, idx); /* NULL past the end */
		else
			cur = NULL;
	}
	return cur;
}

static const char *jp_parent_problem(const json_t *parent)
{
	return parent ? "the parent of the target is not an object or array"
		      : "the parent of the target does not exist";
}

/* Puts value (a reference this takes over) at t, as "add" does. */
static int jp_add(struct jp *p, const struct llmo_strv *t, json_t *value)
{
	json_t *parent;
	const char *last;
	size_t idx;

	if (t->len == 0)
		return patch_replace(&p->doc, value) ? jp_fail(p, LLMO_ENOMEM, "out of memory") : 0;
	parent = jp_get(p->doc, t, t->len - 1);
	last = t->items[t->len - 1];
	if (json_is_object(parent)) {
		if (json_object_setn_new(parent, last, strlen(last), value) != 0)
			return jp_fail(p, LLMO_ENOMEM, "out of memory");
		return 0;
	}
	if (!json_is_array(parent)) {
		json_decref(value);
		return jp_fail(p, LLMO_EINVAL, "%s", jp_parent_problem(parent));
	}
	if (strcmp(last, "-") == 0) {
		idx = json_array_size(parent);
	} else if (!jp_index(last, &idx)) {
		char q[PATCH_QUOTE_MAX];

		json_decref(value);
		return jp_fail(p, LLMO_EINVAL, "%s is not an array index",
			       llmo_str_quote(q, last, strlen(last), PATCH_SHOW));
	}
	if (idx > json_array_size(parent)) {
		json_decref(value);
		return jp_fail(p, LLMO_EINVAL, "index %zu is out of range (the array has %zu items)",
			       idx, json_array_size(parent));
	}
	if (json_array_insert_new(parent, idx, value) != 0)
		return jp_fail(p, LLMO_ENOMEM, "out of memory");
	return 0;
}

/* Removes the value at t (not the root), which must exist. */
static int jp_remove(struct jp *p, const struct llmo_strv *t)
{
	json_t *parent = jp_get(p->doc, t, t->len - 1);
	const char *last = t->items[t->len - 1];
	size_t idx;

	if (json_is_object(parent) && json_object_del(parent, last) == 0)
		return 0;
	if (json_is_array(parent) && jp_index(last, &idx) && idx < json_array_size(parent) &&
	    json_array_remove(parent, idx) == 0)
		return 0;
	return jp_fail(p, LLMO_EINVAL, "path does not exist");
}

/* Replaces the value at t, which must exist, by value (taken over). */
static int jp_replace(struct jp *p, const struct llmo_strv *t, json_t *value)
{
	json_t *parent;
	const char *last;
	size_t idx;
	int rc;

	if (t->len == 0)
		return patch_replace(&p->doc, value) ? jp_fail(p, LLMO_ENOMEM, "out of memory") : 0;
	if (!jp_get(p->doc, t, t->len)) {
		json_decref(value);
		return jp_fail(p, LLMO_EINVAL, "path does not exist");
	}
	parent = jp_get(p->doc, t, t->len - 1);
	last = t->items[t->len - 1];
	if (json_is_object(parent))
		rc = json_object_setn_new(parent, last, strlen(last), value);
	else
		rc = jp_index(last, &idx) ? json_array_set_new(parent, idx, value) : -1;
	return rc ? jp_fail(p, LLMO_ENOMEM, "out of memory") : 0;
}

/* True when a is a proper prefix of b. */
static bool jp_proper_prefix(const struct llmo_strv *a, const struct llmo_strv *b)
{
	if (a->len >= b->len)
		return false;
	for (size_t i = 0; i < a->len; i++)
		if (strcmp(a->items[i], b->items[i]) != 0)
			return false;
	return true;
}

static bool jp_same(const struct llmo_strv *a, const struct llmo_strv *b)
{
	if (a->len != b->len)
		return false;
	for (size_t i = 0; i < a->len; i++)
		if (strcmp(a->items[i], b->items[i]) != 0)
			return false;
	return true;
}

/* Checks that putting a value of nesting vdepth at t keeps the document within bounds. */
static int jp_grow(struct jp *p, const struct llmo_strv *t, size_t vdepth)
{
	if (t->len + vdepth > LLMO_PATCH_DEPTH_MAX)
		return jp_fail(p, LLMO_ETOOBIG, "the result would nest deeper than %d levels",
			       LLMO_PATCH_DEPTH_MAX);
	p->depth = LLMO_MAX(p->depth, t->len + vdepth);
	return 0;
}

static int jp_apply_one(struct jp *p, enum jp_opcode code, const json_t *value)
{
	size_t vdepth = 0, count = 0;
	json_t *v, *from;
	int rc;

	switch (code) {
	case JP_ADD:
	case JP_REPLACE:
		if (!patch_measure(value, LLMO_PATCH_DEPTH_MAX, SIZE_MAX, &vdepth, &count))
			vdepth = LLMO_PATCH_DEPTH_MAX + 1;
		rc = jp_grow(p, &p->path, vdepth);
		if (rc)
			return rc;
		v = json_deep_copy(value);
		if (!v)
			return jp_fail(p, LLMO_ENOMEM, "out of memory");
		return code == JP_ADD ? jp_add(p, &p->path, v) : jp_replace(p, &p->path, v);
	case JP_REMOVE:
		if (p->path.len == 0)
			return jp_fail(p, LLMO_EINVAL, "cannot remove the whole document");
		return jp_remove(p, &p->path);
	case JP_TEST:
		v = jp_get(p->doc, &p->path, p->path.len);
		if (!v)
			return jp_fail(p, LLMO_EINVAL, "path does not exist");
		if (!llmo_json_equal_value(v, value))
			return jp_fail(p, LLMO_EINVAL, "value differs");
		return 0;
	case JP_MOVE:
	case JP_COPY:
		break;
	}
	from = jp_get(p->doc, &p->from, p->from.len);
	if (!from)
		return jp_fail(p, LLMO_EINVAL, "\"from\" does not exist");
	if (code == JP_MOVE) {
		if (jp_same(&p->from, &p->path))
			return 0;
		if (jp_proper_prefix(&p->from, &p->path))
			return jp_fail(p, LLMO_EINVAL, "cannot move a value into one of its own "
				       "children");
		/* The moved value nests at most depth - len(from) deep: no walk needed. */
		vdepth = p->depth > p->from.len ? p->depth - p->from.len : 0;
		rc = jp_grow(p, &p->path, vdepth);
		if (rc)
			return rc;
		json_incref(from);
		rc = jp_remove(p, &p->from);
		if (rc) {
			json_decref(from);
			return rc;
		}
		return jp_add(p, &p->path, from);
	}
	if (!patch_measure(from, LLMO_PATCH_DEPTH_MAX, LLMO_PATCH_COPY_MAX - p->copied, &vdepth,
			   &count))
		return jp_fail(p, LLMO_ETOOBIG, "copies would duplicate more than %d values or "
			       "nest deeper than %d levels", LLMO_PATCH_COPY_MAX,
			       LLMO_PATCH_DEPTH_MAX);
	p->copied += count;
	rc = jp_grow(p, &p->path, vdepth);
	if (rc)
		return rc;
	v = json_deep_copy(from);
	if (!v)
		return jp_fail(p, LLMO_ENOMEM, "out of memory");
	return jp_add(p, &p->path, v);
}

/* Reads operation p->index of the patch and applies it. */
static int jp_step(struct jp *p, const json_t *opj)
{
	char q[PATCH_QUOTE_MAX];
	const json_t *opname, *value = NULL;
	const char *why;
	size_t code;
	int rc;

	p->op = NULL;
	p->path_json = NULL;
	if (!json_is_object(opj))
		return jp_fail(p, LLMO_EPARSE, "expected an object, found %s",
			       llmo_json_type_name(opj));
	opname = json_object_get(opj, "op");
	if (!json_is_string(opname))
		return jp_fail(p, LLMO_EPARSE, "\"op\" %s", opname ? "must be a string" : "is missing");
	for (code = 0; code < LLMO_ARRAY_LEN(jp_ops); code++)
		if (strcmp(json_string_value(opname), jp_ops[code].name) == 0)
			break;
	if (code == LLMO_ARRAY_LEN(jp_ops))
		return jp_fail(p, LLMO_EPARSE, "unknown operation %s (expected add, remove, "
			       "replace, move, copy or test)",
			       llmo_str_quote(q, json_string_value(opname),
					      json_string_length(opname), 32));
	p->op = jp_ops[code].name;
	p->path_json = json_object_get(opj, "path");
	why = jp_pointer(p, p->path_json, &p->path, &rc);
	if (why)
		return jp_fail(p, rc ? rc : LLMO_EPARSE, "\"path\" %s", why);
	if (jp_ops[code].needs_from) {
		why = jp_pointer(p, json_object_get(opj, "from"), &p->from, &rc);
		if (why)
			return jp_fail(p, rc ? rc : LLMO_EPARSE, "\"from\" %s", why);
	}
	if (jp_ops[code].needs_value) {
		value = json_object_get(opj, "value");
		if (!value)
			return jp_fail(p, LLMO_EPARSE, "\"value\" is missing");
	}
	return jp_apply_one(p, (enum jp_opcode)code, value);
}

int llmo_patch_json(const json_t *target, const json_t *ops, json_t **out,
		    struct llmo_error *err)
{
	struct jp p = {.err = err, .path = LLMO_STRV_INIT, .from = LLMO_STRV_INIT};
	size_t count = 0;
	int rc = 0;

	*out = NULL;
	llmo_buf_init(&p.tok, LLMO_BUF_UNLIMITED); /* a token is never longer than its pointer */
	if (!json_is_array(ops)) {
		rc = llmo_error_set(err, LLMO_EPARSE, "json patch: expected an array of "
				    "operations, found %s", llmo_json_type_name(ops));
		goto out;
	}
	if (json_array_size(ops) > LLMO_PATCH_OPS_MAX) {
		rc = llmo_error_set(err, LLMO_ETOOBIG, "json patch: %zu operations, more than the "
				    "limit of %d", json_array_size(ops), LLMO_PATCH_OPS_MAX);
		goto out;
	}
	if (!target) {
		rc = llmo_error_set(err, LLMO_EINVAL, "json patch: no target document");
		goto out;
	}
	if (!patch_measure(target, LLMO_PATCH_DEPTH_MAX, SIZE_MAX, &p.depth, &count)) {
		rc = llmo_error_set(err, LLMO_ETOOBIG, "json patch: the target nests deeper than "
				    "%d levels", LLMO_PATCH_DEPTH_MAX);
		goto out;
	}
	p.doc = json_deep_copy(target);
	if (!p.doc) {
		rc = llmo_error_set(err, LLMO_ENOMEM, "json patch: out of memory");
		goto out;
	}
	for (p.index = 0; p.index < json_array_size(ops); p.index++) {
		rc = jp_step(&p, json_array_get(ops, p.index));
		if (rc)
			goto out;
	}
out:
	if (rc) {
		json_decref(p.doc);
		p.doc = NULL;
	}
	llmo_strv_release(&p.path);
	llmo_strv_release(&p.from);
	llmo_buf_release(&p.tok);
	*out = p.doc;
	return rc;
}

/* ---- strategic merge patch ---------------------------------------------- */

struct smp {
	const struct llmo_smp_schema *schema;
	struct llmo_buf path; /* schema path of the value being merged: "spec.containers[]" */
	size_t lost;          /* steps left out of path because it would pass SMP_PATH_MAX */
	size_t depth;         /* maps being merged, bounded by LLMO_PATCH_DEPTH_MAX */
	struct llmo_error *err;
};

static int smp_fail(struct smp *c, int code, const char *fmt, ...) LLMO_PRINTF(3, 4);

/* "strategic merge patch at spec.containers[]: ..." */
static int smp_fail(struct smp *c, int code, const char *fmt, ...)
{
	char detail[PATCH_DETAIL_MAX], where[PATCH_QUOTE_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	if (c->path.len == 0)
		return llmo_error_set(c->err, code, "strategic merge patch: %s", detail);
	return llmo_error_set(c->err, code, "strategic merge patch at %s%s: %s",
			      patch_show(where, c->path.data, c->path.len), c->lost ? "..." : "",
			      detail);
}

static int smp_nomem(struct smp *c)
{
	return smp_fail(c, LLMO_ENOMEM, "out of memory");
}

/*
 * Steps into member key (item false) or into the items of the current list
 * (item true). *mark is for smp_pop. A path longer than SMP_PATH_MAX is not
 * extended (and matches no schema entry) until popped back.
 */
static int smp_push(struct smp *c, const char *key, size_t klen, bool item, size_t *mark)
{
	int rc = 0;

	*mark = SIZE_MAX;
	if (c->lost == 0) {
		*mark = c->path.len;
		if (item)
			rc = llmo_buf_puts(&c->path, "[]");
		else if (c->path.len > 0)
			rc = llmo_buf_putc(&c->path, '.');
		if (!rc && !item)
			rc = llmo_buf_append(&c->path, key, klen);
		if (rc == 0)
			return 0;
		llmo_buf_truncate(&c->path, *mark);
		*mark = SIZE_MAX;
		if (rc != LLMO_ETOOBIG)
			return smp_nomem(c);
	}
	c->lost++;
	return 0;
}

static void smp_pop(struct smp *c, size_t mark)
{
	if (mark == SIZE_MAX)
		c->lost--;
	else
		llmo_buf_truncate(&c->path, mark);
}

/* The schema entry for the current path, or NULL. */
static const struct llmo_smp_entry *smp_entry(const struct smp *c)
{
	if (!c->schema || c->lost)
		return NULL;
	for (const struct llmo_smp_entry *e = c->schema->entries; e && e->path; e++)
		if (strlen(e->path) == c->path.len && memcmp(e->path, c->path.data, c->path.len) == 0)
			return e;
	return NULL;
}

static bool smp_has_prefix(const char *key, size_t klen, const char *prefix)
{
	size_t plen = strlen(prefix);

	return klen >= plen && memcmp(key, prefix, plen) == 0;
}

/* Members of a patch map that are directives, not fields. */
static bool smp_is_directive(const char *key, size_t klen)
{
	return (klen == strlen(SMP_DIRECTIVE) && memcmp(key, SMP_DIRECTIVE, klen) == 0) ||
	       (klen == strlen(SMP_RETAIN_KEYS) && memcmp(key, SMP_RETAIN_KEYS, klen) == 0) ||
	       smp_has_prefix(key, klen, SMP_ORDER_PREFIX) ||
	       smp_has_prefix(key, klen, SMP_DELETE_PREFIX);
}

/* A list item that carries a "$patch" directive. */
static bool smp_is_special(const json_t *item)
{
	return json_is_object(item) && json_object_get(item, SMP_DIRECTIVE) != NULL;
}

/*
 * Writes into kb (a C string) the identity of scalar v: a type tag and the
 * value, numbers by value so that 80 and 80.0 are one key. 1 when written,
 * 0 when v is no usable key (missing, object, array, string holding NUL),
 * or LLMO_ENOMEM.
 */
static int smp_scalar_key(const json_t *v, struct llmo_buf *kb)
{
	double d;
	int rc;

	llmo_buf_reset(kb);
	switch (v ? json_typeof(v) : JSON_OBJECT) {
	case JSON_STRING:
		if (strlen(json_string_value(v)) != json_string_length(v))
			return 0;
		rc = llmo_buf_putc(kb, 's');
		if (!rc)
			rc = llmo_buf_append(kb, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		rc = llmo_buf_appendf(kb, "n%" JSON_INTEGER_FORMAT, json_integer_value(v));
		break;
	case JSON_REAL:
		d = json_real_value(v);
		if (d == floor(d) && fabs(d) < 9.0e18)
			rc = llmo_buf_appendf(kb, "n%lld", (long long)d);
		else
			rc = llmo_buf_appendf(kb, "r%.17g", d);
		break;
	case JSON_TRUE:
		rc = llmo_buf_putc(kb, 't');
		break;
	case JSON_FALSE:
		rc = llmo_buf_putc(kb, 'f');
		break;
	case JSON_NULL:
		rc = llmo_buf_putc(kb, 'z');
		break;
	default:
		return 0;
	}
	return rc ? LLMO_ENOMEM : 1;
}

/* The identity of a list item: its merge key's value, or itself in a list of scalars. */
static int smp_item_key(const json_t *item, const char *mk, struct llmo_buf *kb)
{
	if (!mk)
		return patch_is_container(item) ? 0 : smp_scalar_key(item, kb);
	if (!json_is_object(item))
		return 0;
	return smp_scalar_key(json_object_get(item, mk), kb);
}

/* Maps key to 1 + pos unless key is there already (the first place wins). */
static int smp_index_put(struct llmo_hmap *m, const char *key, size_t pos)
{
	if (llmo_hmap_has(m, key))
		return 0;
	return llmo_hmap_put(m, key, (void *)(uintptr_t)(pos + 1), NULL);
}

/* 1 + the place of key, or 0 when absent. */
static size_t smp_index_get(const struct llmo_hmap *m, const char *key)
{
	return (size_t)(uintptr_t)llmo_hmap_get(m, key);
}

/* Indexes the keys of the items of list (NULL: none). 0 or LLMO_ENOMEM. */
static int smp_index_list(struct llmo_hmap *m, const json_t *list, const char *mk)
{
	struct llmo_buf kb;
	int rc = 0;

	llmo_buf_init(&kb, LLMO_BUF_UNLIMITED); /* a key is never longer than its value */
	for (size_t i = 0; !rc && i < json_array_size(list); i++) {
		rc = smp_item_key(json_array_get(list, i), mk, &kb);
		rc = rc > 0 ? smp_index_put(m, kb.data, i) : rc;
	}
	llmo_buf_release(&kb);
	return rc;
}

struct smp_slot {
	json_t *v;         /* borrowed from the merged list */
	size_t patch_pos;  /* 1 + place in the patch's order; 0: the patch does not name it */
	size_t server_pos; /* 1 + place in the target's list; 0: not there */
	size_t idx;        /* place in the merged list */
};

static int smp_slot_cmp(const void *a, const void *b)
{
	const struct smp_slot *x = a, *y = b;

	if (x->patch_pos != y->patch_pos)
		return x->patch_pos < y->patch_pos ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/*
 * Orders a merged list as Kubernetes' normalizeElementOrder does: the items
 * the patch names (patch_idx) come in the patch's order, the others keep
 * their order, and the two runs interleave so that one of the others goes
 * first when both it and the next patch item were in the target
 * (server_idx) and it came first there. *out is a new array.
 */
static int smp_order(const json_t *merged, const struct llmo_hmap *patch_idx,
		     const struct llmo_hmap *server_idx, const char *mk, json_t **out)
{
	LLMO_VEC(struct smp_slot) pv = LLMO_VEC_INIT, sv = LLMO_VEC_INIT;
	struct llmo_buf kb;
	json_t *res = NULL;
	size_t i = 0, j = 0;
	int rc = 0;

	*out = NULL;
	llmo_buf_init(&kb, LLMO_BUF_UNLIMITED); /* a key is never longer than its value */
	for (size_t n = 0; n < json_array_size(merged); n++) {
		struct smp_slot s = {json_array_get(merged, n), 0, 0, n}, *dst;
		int k = smp_item_key(s.v, mk, &kb);

		if (k < 0) {
			rc = k;
			goto out;
		}
		if (k) {
			s.patch_pos = smp_index_get(patch_idx, kb.data);
			s.server_pos = smp_index_get(server_idx, kb.data);
		}
		dst = s.patch_pos ? llmo_vec_push(&pv) : llmo_vec_push(&sv);
		if (!dst) {
			rc = LLMO_ENOMEM;
			goto out;
		}
		*dst = s;
	}
	if (pv.len > 1)
		qsort(pv.items, pv.len, sizeof(pv.items[0]), smp_slot_cmp);
	res = json_array();
	if (!res) {
		rc = LLMO_ENOMEM;
		goto out;
	}
	while (i < sv.len || j < pv.len) {
		const struct smp_slot *pick;

		if (j >= pv.len)
			pick = &sv.items[i++];
		else if (i >= sv.len)
			pick = &pv.items[j++];
		else if (sv.items[i].server_pos && pv.items[j].server_pos &&
			 sv.items[i].server_pos < pv.items[j].server_pos)
			pick = &sv.items[i++];
		else
			pick = &pv.items[j++];
		if (json_array_append(res, pick->v) != 0) {
			rc = LLMO_ENOMEM;
			goto out;
		}
	}
	*out = res;
	res = NULL;
out:
	json_decref(res);
	llmo_vec_release(&pv);
	llmo_vec_release(&sv);
	llmo_buf_release(&kb);
	return rc;
}

static int smp_map(struct smp *c, json_t **slot, const json_t *patch);

/* The directives of a merged list's items: deletions by key, and replace. */
static int smp_list_directives(struct smp *c, const json_t *patch, const char *mk,
			       struct llmo_hmap *deletes, bool *replace, struct llmo_buf *kb)
{
	char q[PATCH_QUOTE_MAX];

	for (size_t i = 0; i < json_array_size(patch); i++) {
		const json_t *p = json_array_get(patch, i), *d;
		const char *dv;
		int k;

		if (!json_is_object(p))
			return smp_fail(c, LLMO_EINVAL, "item %zu is a %s, but the list merges objects "
					"by \"%s\"", i, llmo_json_type_name(p), mk);
		d = json_object_get(p, SMP_DIRECTIVE);
		if (!d)
			continue;
		if (!json_is_string(d))
			return smp_fail(c, LLMO_EPARSE, "item %zu: \"$patch\" must be a string", i);
		dv = json_string_value(d);
		if (strcmp(dv, "delete") == 0) {
			k = smp_item_key(p, mk, kb);
			if (k < 0)
				return smp_nomem(c);
			if (k == 0)
				return smp_fail(c, LLMO_EINVAL, "item %zu: \"$patch\": \"delete\" needs "
						"the merge key \"%s\"", i, mk);
			if (llmo_hmap_put(deletes, kb->data, NULL, NULL) != 0)
				return smp_nomem(c);
		} else if (strcmp(dv, "replace") == 0) {
			*replace = true;
		} else {
			return smp_fail(c, LLMO_EPARSE, "item %zu: unsupported \"$patch\" directive %s "
					"in a list (expected delete or replace)", i,
					llmo_str_quote(q, dv, json_string_length(d), PATCH_SHOW));
		}
	}
	return 0;
}

/*
 * Merges the patch's list into orig (an array in the working document, or
 * NULL) by merge key mk; *out is the merged list, a new array. The target's
 * items are merged in place.
 */
static int smp_list_keyed(struct smp *c, json_t *orig, const json_t *patch, const char *mk,
			  json_t **out)
{
	struct llmo_hmap deletes, server, cur, pidx;
	struct llmo_buf kb;
	json_t *list = NULL, *child = NULL;
	bool replace = false, pushed = false;
	size_t mark = SIZE_MAX;
	int rc, k;

	*out = NULL;
	llmo_hmap_init(&deletes);
	llmo_hmap_init(&server);
	llmo_hmap_init(&cur);
	llmo_hmap_init(&pidx);
	llmo_buf_init(&kb, LLMO_BUF_UNLIMITED); /* a key is never longer than its value */
	rc = smp_list_directives(c, patch, mk, &deletes, &replace, &kb);
	if (rc)
		goto out;
	list = json_array();
	if (!list) {
		rc = smp_nomem(c);
		goto out;
	}
	rc = smp_push(c, NULL, 0, true, &mark);
	if (rc)
		goto out;
	pushed = true;
	if (replace) {
		/* "$patch": "replace": the patch's other items are the whole list. */
		for (size_t i = 0; i < json_array_size(patch); i++) {
			const json_t *p = json_array_get(patch, i);

			if (smp_is_special(p))
				continue;
			rc = smp_map(c, &child, p);
			if (rc)
				goto out;
			if (json_array_append_new(list, child) != 0) {
				child = NULL;
				rc = smp_nomem(c);
				goto out;
			}
			child = NULL;
		}
		*out = list;
		list = NULL;
		goto out;
	}
	/* The target's items, less those the patch deletes. */
	for (size_t i = 0; i < json_array_size(orig); i++) {
		json_t *o = json_array_get(orig, i);

		k = smp_item_key(o, mk, &kb);
		if (k < 0)
			goto nomem;
		if (k && llmo_hmap_has(&deletes, kb.data))
			continue;
		if (json_array_append(list, o) != 0)
			goto nomem;
		if (k && (smp_index_put(&server, kb.data, json_array_size(list) - 1) != 0 ||
			  smp_index_put(&cur, kb.data, json_array_size(list) - 1) != 0))
			goto nomem;
	}
	/* Each patch item merges into the item with its key, or is appended. */
	for (size_t i = 0; i < json_array_size(patch); i++) {
		const json_t *p = json_array_get(patch, i);
		size_t pos;

		if (smp_is_special(p))
			continue;
		k = smp_item_key(p, mk, &kb);
		if (k < 0)
			goto nomem;
		if (k == 0) {
			rc = smp_fail(c, LLMO_EINVAL, "item %zu has no merge key \"%s\" (or its value "
				      "is not a scalar)", i, mk);
			goto out;
		}
		if (smp_index_put(&pidx, kb.data, i) != 0)
			goto nomem;
		pos = smp_index_get(&cur, kb.data);
		child = pos ? json_incref(json_array_get(list, pos - 1)) : NULL;
		rc = smp_map(c, &child, p);
		if (rc)
			goto out;
		if (pos) {
			rc = json_array_set_new(list, pos - 1, child);
		} else {
			rc = json_array_append_new(list, child);
			if (!rc)
				rc = smp_index_put(&cur, kb.data, json_array_size(list) - 1);
		}
		child = NULL;
		if (rc)
			goto nomem;
	}
	rc = smp_order(list, &pidx, &server, mk, out);
	if (rc)
		goto nomem;
	goto out;
nomem:
	rc = smp_nomem(c);
out:
	if (pushed)
		smp_pop(c, mark);
	json_decref(child);
	json_decref(list);
	llmo_hmap_release(&deletes, NULL);
	llmo_hmap_release(&server, NULL);
	llmo_hmap_release(&cur, NULL);
	llmo_hmap_release(&pidx, NULL);
	llmo_buf_release(&kb);
	return rc;
}

/* Merges a list of scalars as a set: the target's items, then the patch's new ones. */
static int smp_list_set(struct smp *c, json_t *orig, const json_t *patch, json_t **out)
{
	struct llmo_hmap seen, server, pidx;
	struct llmo_buf kb;
	json_t *list;
	int rc = 0, k;

	*out = NULL;
	llmo_hmap_init(&seen);
	llmo_hmap_init(&server);
	llmo_hmap_init(&pidx);
	llmo_buf_init(&kb, LLMO_BUF_UNLIMITED); /* a key is never longer than its value */
	list = json_array();
	if (!list)
		goto nomem;
	for (size_t i = 0; i < json_array_size(orig); i++) {
		json_t *o = json_array_get(orig, i);

		k = smp_item_key(o, NULL, &kb);
		if (k < 0)
			goto nomem;
		if (k && llmo_hmap_has(&seen, kb.data))
			continue;
		if (json_array_append(list, o) != 0)
			goto nomem;
		if (k && (smp_index_put(&seen, kb.data, 0) != 0 ||
			  smp_index_put(&server, kb.data, json_array_size(list) - 1) != 0))
			goto nomem;
	}
	for (size_t i = 0; i < json_array_size(patch); i++) {
		const json_t *p = json_array_get(patch, i);

		k = smp_item_key(p, NULL, &kb);
		if (k < 0)
			goto nomem;
		if (k == 0) {
			rc = smp_fail(c, LLMO_EINVAL, "item %zu is a %s, but the list merges scalars",
				      i, llmo_json_type_name(p));
			goto out;
		}
		if (smp_index_put(&pidx, kb.data, i) != 0)
			goto nomem;
		if (llmo_hmap_has(&seen, kb.data))
			continue;
		if (smp_index_put(&seen, kb.data, 0) != 0 ||
		    json_array_append_new(list, json_deep_copy(p)) != 0)
			goto nomem;
	}
	rc = smp_order(list, &pidx, &server, NULL, out);
	if (rc)
		goto nomem;
	goto out;
nomem:
	rc = smp_nomem(c);
out:
	json_decref(list);
	llmo_hmap_release(&seen, NULL);
	llmo_hmap_release(&server, NULL);
	llmo_hmap_release(&pidx, NULL);
	llmo_buf_release(&kb);
	return rc;
}

/*
 * Merges the patch's list into orig (the target's value: an array, another
 * value or NULL) as the schema says for the current path; *out is new.
 */
static int smp_list(struct smp *c, json_t *orig, const json_t *patch, json_t **out)
{
	const struct llmo_smp_entry *e = smp_entry(c);

	*out = NULL;
	if (!json_is_array(orig))
		orig = NULL;
	if (e && e->merge_key)
		return smp_list_keyed(c, orig, patch, e->merge_key, out);
	if (e && e->primitive_set)
		return smp_list_set(c, orig, patch, out);
	/*
	 * Replaced. A "$patch" item here means the client merges this list by
	 * a key the schema does not know: refuse rather than store the directive.
	 */
	for (size_t i = 0; i < json_array_size(patch); i++)
		if (smp_is_special(json_array_get(patch, i)))
			return smp_fail(c, LLMO_EPARSE, "item %zu holds \"$patch\", but this list "
					"has no merge key: it is replaced, not merged", i);
	*out = json_deep_copy(patch);
	return *out ? 0 : smp_nomem(c);
}

/* "$retainKeys": drop the target's members not listed. */
static int smp_retain(struct smp *c, json_t *obj, const json_t *patch)
{
	char q[PATCH_QUOTE_MAX];
	const json_t *rk = json_object_get(patch, SMP_RETAIN_KEYS);
	struct llmo_hmap keep;
	const char *key;
	size_t klen;
	json_t *v;
	void *tmp;
	int rc = 0;

	if (!rk)
		return 0;
	if (!json_is_array(rk))
		return smp_fail(c, LLMO_EPARSE, "\"$retainKeys\" must be a list");
	llmo_hmap_init(&keep);
	for (size_t i = 0; i < json_array_size(rk); i++) {
		const json_t *s = json_array_get(rk, i);

		if (json_is_string(s) && strlen(json_string_value(s)) == json_string_length(s) &&
		    llmo_hmap_put(&keep, json_string_value(s), (void *)1, NULL) != 0) {
			rc = smp_nomem(c);
			goto out;
		}
	}
	json_object_keylen_foreach((json_t *)patch, key, klen, v) {
		if (json_is_null(v) || smp_is_directive(key, klen))
			continue;
		if (!llmo_hmap_getn(&keep, key, klen)) {
			rc = smp_fail(c, LLMO_EPARSE, "\"$retainKeys\" does not list %s, which the "
				      "patch sets", llmo_str_quote(q, key, klen, PATCH_SHOW));
			goto out;
		}
	}
	json_object_keylen_foreach_safe(obj, tmp, key, klen, v) {
		if (!llmo_hmap_getn(&keep, key, klen))
			json_object_deln(obj, key, klen);
	}
out:
	llmo_hmap_release(&keep, NULL);
	return rc;
}

/*
 * Checks that the patch's list names its items in the order the
 * "$setElementOrder" list gives (Kubernetes' validatePatchWithSetOrderList).
 */
static int smp_check_order(struct smp *c, const json_t *plist, const json_t *order,
			   const char *mk)
{
	struct llmo_buf k1, k2;
	size_t i = 0, j = 0;
	int rc = 0;

	llmo_buf_init(&k1, LLMO_BUF_UNLIMITED); /* a key is never longer than its value */
	llmo_buf_init(&k2, LLMO_BUF_UNLIMITED);
	while (i < json_array_size(plist) && j < json_array_size(order)) {
		int a, b;

		if (smp_is_special(json_array_get(plist, i))) {
			i++;
			continue;
		}
		a = smp_item_key(json_array_get(plist, i), mk, &k1);
		b = smp_item_key(json_array_get(order, j), mk, &k2);
		if (a < 0 || b < 0) {
			rc = smp_nomem(c);
			goto out;
		}
		if (a && b && k1.len == k2.len && memcmp(k1.data, k2.data, k1.len) == 0)
			i++;
		j++;
	}
	while (i < json_array_size(plist) && smp_is_special(json_array_get(plist, i)))
		i++;
	if (i < json_array_size(plist))
		rc = smp_fail(c, LLMO_EPARSE, "item %zu of the list is not in \"$setElementOrder\" "
			      "or not in its order", i);
out:
	llmo_buf_release(&k1);
	llmo_buf_release(&k2);
	return rc;
}

/* "$setElementOrder/<f>": merges the list f and orders it. */
static int smp_order_one(struct smp *c, json_t *obj, const json_t *patch, const char *f,
			 size_t flen, const json_t *order)
{
	const struct llmo_smp_entry *e;
	struct llmo_hmap server, oidx;
	json_t *orig, *merged = NULL, *res = NULL;
	const json_t *plist;
	const char *mk;
	size_t mark;
	int rc;

	orig = json_object_getn(obj, f, flen);
	if (!json_is_array(orig))
		orig = NULL;
	plist = json_object_getn(patch, f, flen);
	if (!orig && !plist)
		return 0;
	llmo_hmap_init(&server);
	llmo_hmap_init(&oidx);
	rc = smp_push(c, f, flen, false, &mark);
	if (rc)
		return rc;
	if (plist && !json_is_array(plist)) {
		rc = smp_fail(c, LLMO_EPARSE, "must be a list, as \"$setElementOrder\" orders it");
		goto out;
	}
	e = smp_entry(c);
	mk = e ? e->merge_key : NULL;
	if (e && (e->merge_key || e->primitive_set)) {
		if (plist) {
			rc = smp_check_order(c, plist, order, mk);
			if (rc)
				goto out;
		}
		if (smp_index_list(&server, orig, mk) != 0 || smp_index_list(&oidx, order, mk) != 0) {
			rc = smp_nomem(c);
			goto out;
		}
	}
	if (plist)
		rc = smp_list(c, orig, plist, &merged);
	else
		merged = json_incref(orig);
	if (rc)
		goto out;
	if (e && (e->merge_key || e->primitive_set)) {
		if (smp_order(merged, &oidx, &server, mk, &res) != 0) {
			rc = smp_nomem(c);
			goto out;
		}
	} else {
		res = json_incref(merged);
	}
	if (json_object_setn_new(obj, f, flen, res) != 0)
		rc = smp_nomem(c);
	res = NULL;
out:
	smp_pop(c, mark);
	json_decref(merged);
	json_decref(res);
	llmo_hmap_release(&server, NULL);
	llmo_hmap_release(&oidx, NULL);
	return rc;
}

static int smp_set_order(struct smp *c, json_t *obj, const json_t *patch)
{
	size_t plen = strlen(SMP_ORDER_PREFIX);
	const char *key;
	size_t klen;
	json_t *v;
	int rc;

	json_object_keylen_foreach((json_t *)patch, key, klen, v) {
		if (!smp_has_prefix(key, klen, SMP_ORDER_PREFIX))
			continue;
		if (!json_is_array(v)) {
			char q[PATCH_QUOTE_MAX];

			return smp_fail(c, LLMO_EPARSE, "%s must be a list",
					llmo_str_quote(q, key, klen, PATCH_SHOW));
		}
		rc = smp_order_one(c, obj, patch, key + plen, klen - plen, v);
		if (rc)
			return rc;
	}
	return 0;
}

/* "$deleteFromPrimitiveList/<f>": removes those scalars from the list f. */
static int smp_delete_lists(struct smp *c, json_t *obj, const json_t *patch)
{
	size_t plen = strlen(SMP_DELETE_PREFIX);
	struct llmo_hmap drop;
	struct llmo_buf kb;
	const char *key;
	size_t klen;
	json_t *v, *res = NULL;
	int rc = 0, k;

	llmo_hmap_init(&drop);
	llmo_buf_init(&kb, LLMO_BUF_UNLIMITED); /* a key is never longer than its value */
	json_object_keylen_foreach((json_t *)patch, key, klen, v) {
		json_t *cur;

		if (!smp_has_prefix(key, klen, SMP_DELETE_PREFIX))
			continue;
		if (!json_is_array(v)) {
			char q[PATCH_QUOTE_MAX];

			rc = smp_fail(c, LLMO_EPARSE, "%s must be a list",
				      llmo_str_quote(q, key, klen, PATCH_SHOW));
			goto out;
		}
		cur = json_object_getn(obj, key + plen, klen - plen);
		if (!json_is_array(cur))
			continue;
		llmo_hmap_release(&drop, NULL);
		for (size_t i = 0; i < json_array_size(v); i++) {
			k = smp_scalar_key(json_array_get(v, i), &kb);
			if (k < 0 || (k && llmo_hmap_put(&drop, kb.data, NULL, NULL) != 0))
				goto nomem;
		}
		res = json_array();
		if (!res)
			goto nomem;
		for (size_t i = 0; i < json_array_size(cur); i++) {
			json_t *item = json_array_get(cur, i);

			k = smp_scalar_key(item, &kb);
			if (k < 0)
				goto nomem;
			if (k && llmo_hmap_has(&drop, kb.data))
				continue;
			if (json_array_append(res, item) != 0)
				goto nomem;
		}
		rc = json_object_setn_new(obj, key + plen, klen - plen, res);
		res = NULL;
		if (rc)
			goto nomem;
	}
	goto out;
nomem:
	rc = smp_nomem(c);
out:
	json_decref(res);
	llmo_hmap_release(&drop, NULL);
	llmo_buf_release(&kb);
	return rc;
}

/* The fields of a patch map, merged one by one. */
static int smp_fields(struct smp *c, json_t *obj, const json_t *patch)
{
	struct llmo_buf name;
	const char *key;
	size_t klen, mark;
	json_t *v;
	int rc = 0;

	llmo_buf_init(&name, LLMO_BUF_UNLIMITED); /* a prefix and a key of the patch */
	json_object_keylen_foreach((json_t *)patch, key, klen, v) {
		json_t *cur, *child = NULL;

		if (smp_is_directive(key, klen))
			continue;
		/* A list that "$setElementOrder" names was merged with it. */
		llmo_buf_reset(&name);
		if (llmo_buf_puts(&name, SMP_ORDER_PREFIX) != 0 ||
		    llmo_buf_append(&name, key, klen) != 0) {
			rc = smp_nomem(c);
			goto out;
		}
		if (json_object_getn(patch, name.data, name.len))
			continue;
		if (json_is_null(v)) {
			json_object_deln(obj, key, klen);
			continue;
		}
		cur = json_object_getn(obj, key, klen);
		rc = smp_push(c, key, klen, false, &mark);
		if (rc)
			goto out;
		if (json_is_object(v)) {
			child = json_is_object(cur) ? json_incref(cur) : NULL;
			rc = smp_map(c, &child, v);
		} else if (json_is_array(v)) {
			rc = smp_list(c, cur, v, &child);
		} else {
			child = json_deep_copy(v);
			rc = child ? 0 : smp_nomem(c);
		}
		if (!rc && json_object_setn_new(obj, key, klen, child) != 0)
			rc = smp_nomem(c);
		else if (rc)
			json_decref(child);
		smp_pop(c, mark);
		if (rc)
			goto out;
	}
out:
	llmo_buf_release(&name);
	return rc;
}

/*
 * Merges patch (an object) into *slot (a reference in the working document:
 * an object, another value or NULL when absent); *slot becomes the result.
 */
static int smp_map(struct smp *c, json_t **slot, const json_t *patch)
{
	const json_t *d = json_object_get(patch, SMP_DIRECTIVE);
	int rc = 0;

	if (++c->depth > LLMO_PATCH_DEPTH_MAX) {
		rc = smp_fail(c, LLMO_ETOOBIG, "nested deeper than %d levels", LLMO_PATCH_DEPTH_MAX);
		goto out;
	}
	if (d) {
		const char *dv = json_is_string(d) ? json_string_value(d) : "";
		char q[PATCH_QUOTE_MAX];

		if (strcmp(dv, "delete") == 0 || strcmp(dv, "replace") == 0) {
			/* delete empties the map; replace starts it afresh from the patch */
			rc = patch_replace(slot, json_object());
			if (rc || strcmp(dv, "delete") == 0)
				goto out;
		} else if (!json_is_string(d)) {
			rc = smp_fail(c, LLMO_EPARSE, "\"$patch\" must be a string");
			goto out;
		} else {
			rc = smp_fail(c, LLMO_EPARSE, "unsupported \"$patch\" directive %s in a map "
				      "(expected replace or delete)",
				      llmo_str_quote(q, dv, json_string_length(d), PATCH_SHOW));
			goto out;
		}
	} else if (!json_is_object(*slot)) {
		rc = patch_replace(slot, json_object());
	}
	if (rc) {
		rc = smp_nomem(c);
		goto out;
	}
	rc = smp_retain(c, *slot, patch);
	if (!rc)
		rc = smp_set_order(c, *slot, patch);
	if (!rc)
		rc = smp_fields(c, *slot, patch);
	if (!rc)
		rc = smp_delete_lists(c, *slot, patch);
out:
	c->depth--;
	return rc;
}

int llmo_patch_strategic(const json_t *target, const json_t *patch,
			 const struct llmo_smp_schema *schema, json_t **out,
			 struct llmo_error *err)
{
	struct smp c = {.schema = schema, .err = err};
	json_t *doc = NULL;
	int rc = 0;

	*out = NULL;
	llmo_buf_init(&c.path, SMP_PATH_MAX);
	if (!json_is_object(patch)) {
		rc = llmo_error_set(err, LLMO_EPARSE, "strategic merge patch: expected a JSON "
				    "object, found %s", llmo_json_type_name(patch));
		goto out;
	}
	if (!json_is_object(target)) {
		rc = llmo_error_set(err, LLMO_EINVAL, "strategic merge patch: the target is %s, "
				    "not an object", llmo_json_type_name(target));
		goto out;
	}
	doc = json_deep_copy(target);
	if (!doc) {
		rc = llmo_error_set(err, LLMO_ENOMEM, "strategic merge patch: out of memory");
		goto out;
	}
	rc = smp_map(&c, &doc, patch);
out:
	if (rc) {
		json_decref(doc);
		doc = NULL;
	}
	llmo_buf_release(&c.path);
	*out = doc;
	return rc;
}

/* ---- schemas of the built-in kinds -------------------------------------- */

/* From the Go types' patchStrategy / patchMergeKey tags (k8s.io/api). */
#define SMP_META_ENTRIES                                   \
	{"metadata.finalizers", NULL, true},               \
	{"metadata.ownerReferences", "uid", false}

#define SMP_CONTAINER_ENTRIES(list)                                    \
	{list, "name", false},                                          \
	{list "[].env", "name", false},                                 \
	{list "[].ports", "containerPort", false},                      \
	{list "[].volumeMounts", "mountPath", false},                   \
	{list "[].volumeDevices", "devicePath", false}

#define SMP_END {NULL, NULL, false}

static const struct llmo_smp_entry smp_meta_only[] = {
	SMP_META_ENTRIES,
	SMP_END,
};

static const struct llmo_smp_entry smp_pod[] = {
	SMP_META_ENTRIES,
	SMP_CONTAINER_ENTRIES("spec.containers"),
	SMP_CONTAINER_ENTRIES("spec.initContainers"),
	SMP_CONTAINER_ENTRIES("spec.ephemeralContainers"),
	{"spec.volumes", "name", false},
	{"spec.imagePullSecrets", "name", false},
	{"spec.hostAliases", "ip", false},
	{"spec.topologySpreadConstraints", "topologyKey", false},
	{"spec.resourceClaims", "name", false},
	{"spec.schedulingGates", "name", false},
	{"spec.tolerations", NULL, false}, /* no patchStrategy: replaced */
	{"status.conditions", "type", false},
	{"status.podIPs", "ip", false},
	{"status.hostIPs", "ip", false},
	SMP_END,
};

static const struct llmo_smp_entry smp_service[] = {
	SMP_META_ENTRIES,
	{"spec.ports", "port", false},
	{"status.conditions", "type", false},
	SMP_END,
};

static const struct llmo_smp_entry smp_node[] = {
	SMP_META_ENTRIES,
	{"spec.podCIDRs", NULL, true},
	{"spec.taints", NULL, false}, /* replaced */
	{"status.conditions", "type", false},
	{"status.addresses", "type", false},
	SMP_END,
};

static const struct llmo_smp_entry smp_namespace[] = {
	SMP_META_ENTRIES,
	{"spec.finalizers", NULL, false}, /* replaced, unlike metadata.finalizers */
	{"status.conditions", "type", false},
	SMP_END,
};

static const struct llmo_smp_entry smp_endpoints[] = {
	SMP_META_ENTRIES,
	{"subsets", NULL, false}, /* replaced */
	SMP_END,
};

/* Deployments and DaemonSets carry a pod template. */
static const struct llmo_smp_entry smp_workload[] = {
	SMP_META_ENTRIES,
	{"spec.template.metadata.finalizers", NULL, true},
	SMP_CONTAINER_ENTRIES("spec.template.spec.containers"),
	SMP_CONTAINER_ENTRIES("spec.template.spec.initContainers"),
	{"spec.template.spec.volumes", "name", false},
	{"spec.template.spec.imagePullSecrets", "name", false},
	{"spec.template.spec.hostAliases", "ip", false},
	{"spec.template.spec.topologySpreadConstraints", "topologyKey", false},
	{"spec.template.spec.tolerations", NULL, false},
	{"status.conditions", "type", false},
	SMP_END,
};

static const struct llmo_smp_entry smp_service_account[] = {
	SMP_META_ENTRIES,
	{"secrets", "name", false},
	{"imagePullSecrets", "name", false},
	SMP_END,
};

static const struct llmo_smp_schema smp_schemas[] = {
	{"apps", "Deployment", smp_workload},
	{"apps", "DaemonSet", smp_workload},
	{"", "ServiceAccount", smp_service_account},
	{"", "PersistentVolumeClaim", smp_meta_only},
	{"rbac.authorization.k8s.io", "Role", smp_meta_only},
	{"rbac.authorization.k8s.io", "ClusterRole", smp_meta_only},
	{"rbac.authorization.k8s.io", "RoleBinding", smp_meta_only},
	{"rbac.authorization.k8s.io", "ClusterRoleBinding", smp_meta_only},
	{"apiextensions.k8s.io", "CustomResourceDefinition", smp_meta_only},
	{"", "Pod", smp_pod},
	{"", "Service", smp_service},
	{"", "Node", smp_node},
	{"", "ConfigMap", smp_meta_only},
	{"", "Secret", smp_meta_only},
	{"", "Namespace", smp_namespace},
	{"", "Endpoints", smp_endpoints},
	{"", "Event", smp_meta_only},
	{"events.k8s.io", "Event", smp_meta_only},
	{"coordination.k8s.io", "Lease", smp_meta_only},
	/* ingress, egress and their peers have no merge keys: replaced whole */
	{"networking.k8s.io", "NetworkPolicy", smp_meta_only},
};

const struct llmo_smp_schema *llmo_smp_schema_for(const char *group, const char *kind)
{
	if (!group)
		group = "";
	for (size_t i = 0; kind && i < LLMO_ARRAY_LEN(smp_schemas); i++)
		if (strcmp(smp_schemas[i].group, group) == 0 && strcmp(smp_schemas[i].kind, kind) == 0)
			return &smp_schemas[i];
	return NULL;
}
