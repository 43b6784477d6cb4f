#include "base/common.h"

#include "apiserver/ssa.h"
#include "apiserver/patch.h"
#include "base/buf.h"
#include "base/hmap.h"
#include "base/json.h"
#include "base/str.h"
#include "base/vec.h"

#include <pthread.h>

/*
 * How it works, after structured-merge-diff (merge/update.go):
 *
 *   apply:  merged = merge(live, config); the applier's set = fields(config);
 *           prune(merged) of what its last set had and nobody owns now;
 *           (added, modified, removed) = compare(live, merged); the other
 *           entries' sets meeting added + modified are conflicts (or lose
 *           those fields with force); all lose removed.
 *   update: (added, modified, removed) = compare(old, updated); every entry
 *           loses added + modified + removed; the manager's Update entry
 *           gains added + modified.
 *
 * Field sets are jansson objects in an internal form of the FieldsV1 tree:
 * children keyed by their path element ("f:spec", "k:{...}"), and a member
 * "." on every node that is itself in the set (FieldsV1 leaves out "." when
 * it would be the only child). A node with neither children nor "." never
 * stays in a set.
 */

#define SSA_SELF "."
/* A path shown in a message (".spec.containers[name=\"x\"].image"). */
#define SSA_PATH_MAX 4096
/* Bytes of a manager name or key value quoted in a message. */
#define SSA_SHOW 128
#define SSA_QUOTE_MAX LLMO_STR_QUOTE_SIZE(SSA_SHOW)
/* Why a list item has no path element. */
#define SSA_WHY_MAX 256

/* How a value is owned and merged. */
enum ssa_kind {
	SSA_LEAF, /* scalars, atomic lists and maps: owned and replaced whole */
	SSA_MAP,  /* owned member by member */
	SSA_LMAP, /* associative list: items by their keys */
	SSA_LSET, /* set list: items by value */
};

/* Where a map lies: the object itself, its metadata, anywhere else. */
enum ssa_level {
	SSA_AT_ROOT,
	SSA_AT_META,
	SSA_AT_OTHER,
};

/* ObjectMeta, as far as ownership goes (k8s.io/apimachinery's OpenAPI). */
static const char ssa_meta_schema_text[] =
	"{\"type\":\"object\",\"properties\":{"
	"\"labels\":{\"type\":\"object\",\"additionalProperties\":{\"type\":\"string\"}},"
	"\"annotations\":{\"type\":\"object\",\"additionalProperties\":{\"type\":\"string\"}},"
	"\"finalizers\":{\"type\":\"array\",\"items\":{\"type\":\"string\"},"
	"\"x-kubernetes-list-type\":\"set\"},"
	"\"ownerReferences\":{\"type\":\"array\",\"items\":{\"type\":\"object\"},"
	"\"x-kubernetes-list-type\":\"map\",\"x-kubernetes-list-map-keys\":[\"uid\"]},"
	"\"managedFields\":{\"type\":\"array\"}}}";

/* metadata members the server sets: never owned, never taken from a config. */
static const char *const ssa_meta_server[] = {
	"creationTimestamp", "selfLink", "uid", "clusterName",
	"generation", "managedFields", "resourceVersion",
};
/* The same as field elements, for taking them out of sets. */
static const char *const ssa_meta_server_elems[] = {
	"f:creationTimestamp", "f:selfLink", "f:uid", "f:clusterName",
	"f:generation", "f:managedFields", "f:resourceVersion",
};
_Static_assert(LLMO_ARRAY_LEN(ssa_meta_server) == LLMO_ARRAY_LEN(ssa_meta_server_elems),
	       "one element per server field");

struct ssa_ctx {
	json_t *meta_schema;
	bool strict;          /* unkeyable lists are errors (applied configuration) */
	size_t nodes;         /* set nodes decoded, against LLMO_SSA_SET_NODES_MAX */
	struct llmo_buf path; /* the walk's path, for messages */
	struct llmo_buf elem; /* scratch: one path element, used before recursing */
	struct llmo_error *err;
};

/* The ObjectMeta schema, parsed once for the process (never changed, never freed). */
static json_t *ssa_meta_schema;
static pthread_once_t ssa_meta_once = PTHREAD_ONCE_INIT;

static void ssa_meta_load(void)
{
	ssa_meta_schema = json_loads(ssa_meta_schema_text, 0, NULL);
}

static int ssa_ctx_init(struct ssa_ctx *c, struct llmo_error *err)
{
	memset(c, 0, sizeof(*c));
	c->err = err;
	llmo_buf_init(&c->path, SSA_PATH_MAX);
	llmo_buf_init(&c->elem, LLMO_SSA_ELEM_MAX);
	pthread_once(&ssa_meta_once, ssa_meta_load);
	c->meta_schema = json_incref(ssa_meta_schema);
	if (!c->meta_schema)
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	return 0;
}

static void ssa_ctx_release(struct ssa_ctx *c)
{
	json_decref(c->meta_schema);
	llmo_buf_release(&c->path);
	llmo_buf_release(&c->elem);
}

static int ssa_nomem(struct ssa_ctx *c)
{
	return llmo_error_set(c->err, LLMO_ENOMEM, "out of memory");
}

static bool ssa_key_is(const char *key, size_t klen, const char *name)
{
	return klen == strlen(name) && memcmp(key, name, klen) == 0;
}

static bool ssa_is_server_meta(const char *key, size_t klen)
{
	for (size_t i = 0; i < LLMO_ARRAY_LEN(ssa_meta_server); i++)
		if (ssa_key_is(key, klen, ssa_meta_server[i]))
			return true;
	return false;
}

static bool ssa_depth_ok(const json_t *v, int depth)
{
	const char *key;
	size_t i;
	json_t *item;

	if (depth > LLMO_SSA_DEPTH_MAX)
		return false;
	if (json_is_object(v)) {
		json_object_foreach((json_t *)v, key, item)
			if (!ssa_depth_ok(item, depth + 1))
				return false;
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, item)
			if (!ssa_depth_ok(item, depth + 1))
				return false;
	}
	return true;
}

/* ---- schema ------------------------------------------------------------- */

static bool ssa_schema_is(const json_t *schema, const char *ext, const char *value)
{
	const char *s = json_string_value(json_object_get(schema, ext));

	return s && strcmp(s, value) == 0;
}

static bool ssa_keys_ok(const json_t *keys)
{
	size_t i, n = json_array_size(keys);
	json_t *k;

	if (n == 0 || n > LLMO_SSA_LIST_KEYS_MAX)
		return false;
	json_array_foreach(keys, i, k)
		if (!json_is_string(k))
			return false;
	return true;
}

/* How v, described by schema (may be NULL), is owned; *keys: an associative list's keys. */
static enum ssa_kind ssa_kind_of(const json_t *schema, const json_t *v, enum ssa_level lv,
				 const json_t **keys)
{
	const json_t *k;

	*keys = NULL;
	if (json_is_object(v)) {
		if (lv == SSA_AT_OTHER && ssa_schema_is(schema, "x-kubernetes-map-type", "atomic"))
			return SSA_LEAF;
		return SSA_MAP;
	}
	if (!json_is_array(v))
		return SSA_LEAF;
	if (ssa_schema_is(schema, "x-kubernetes-list-type", "set"))
		return SSA_LSET;
	k = json_object_get(schema, "x-kubernetes-list-map-keys");
	if (ssa_schema_is(schema, "x-kubernetes-list-type", "map") && ssa_keys_ok(k)) {
		*keys = k;
		return SSA_LMAP;
	}
	return SSA_LEAF;
}

/*
 * The schema of member key of a map described by schema. *declared is false
 * for the entries of an additionalProperties map (owned themselves), true
 * for properties and for members nothing describes.
 */
static const json_t *ssa_member_schema(const struct ssa_ctx *c, const json_t *schema,
				       const char *key, size_t klen, enum ssa_level lv,
				       bool *declared)
{
	const json_t *p, *ap;

	*declared = true;
	if (lv == SSA_AT_ROOT && ssa_key_is(key, klen, "metadata"))
		return c->meta_schema;
	p = json_object_getn(json_object_get(schema, "properties"), key, klen);
	if (p)
		return p;
	ap = json_object_get(schema, "additionalProperties");
	if (json_is_object(ap)) {
		*declared = false;
		return ap;
	}
	return NULL;
}

static enum ssa_level ssa_member_level(enum ssa_level lv, const char *key, size_t klen)
{
	return lv == SSA_AT_ROOT && ssa_key_is(key, klen, "metadata") ? SSA_AT_META : SSA_AT_OTHER;
}

/* ---- path elements ------------------------------------------------------ */

static int ssa_elem_field(struct llmo_buf *elem, const char *key, size_t klen)
{
	llmo_buf_reset(elem);
	if (llmo_buf_puts(elem, "f:") || llmo_buf_append(elem, key, klen))
		return LLMO_ETOOBIG;
	return 0;
}

/* Appends text, or LLMO_ETOOBIG / LLMO_ENOMEM; NULL text means out of memory. */
static int ssa_put_dump(struct llmo_buf *b, const char *prefix, char *text)
{
	int rc;

	if (!text)
		return LLMO_ENOMEM;
	rc = llmo_buf_puts(b, prefix);
	if (!rc)
		rc = llmo_buf_puts(b, text);
	free(text);
	return rc;
}

/*
 * The path element of a list item into elem: "k:{...}" or "v:...". 0;
 * LLMO_EINVAL with why filled when the item has none (not keyed, too long);
 * LLMO_ENOMEM.
 */
static int ssa_item_elem(const json_t *item, enum ssa_kind kind, const json_t *keys,
			 struct llmo_buf *elem, char *why, size_t whylen)
{
	json_t *kv = NULL, *k;
	size_t i;
	int rc;

	llmo_buf_reset(elem);
	if (kind == SSA_LSET) {
		if (json_is_object(item) || json_is_array(item)) {
			snprintf(why, whylen, "a set may only hold scalars, not an %s",
				 llmo_json_type_name(item));
			return LLMO_EINVAL;
		}
		rc = ssa_put_dump(elem, "v:", llmo_json_dump(item, false));
		goto out;
	}
	if (!json_is_object(item)) {
		snprintf(why, whylen, "an associative list's items must be objects, not %s",
			 llmo_json_type_name(item));
		return LLMO_EINVAL;
	}
	kv = json_object();
	if (!kv)
		return LLMO_ENOMEM;
	json_array_foreach(keys, i, k) {
		const char *name = json_string_value(k);
		json_t *v = json_object_get(item, name);

		if (!v || json_is_null(v) || json_is_object(v) || json_is_array(v)) {
			char q[SSA_QUOTE_MAX];

			snprintf(why, whylen,
				 "associative list with keys has an element that omits key field %s",
				 llmo_str_quote(q, name, strlen(name), SSA_SHOW));
			rc = LLMO_EINVAL;
			goto out_kv;
		}
		if (json_object_set(kv, name, v)) {
			rc = LLMO_ENOMEM;
			goto out_kv;
		}
	}
	rc = ssa_put_dump(elem, "k:", llmo_json_dump(kv, false));
out_kv:
	json_decref(kv);
out:
	if (rc == LLMO_ETOOBIG) {
		snprintf(why, whylen, "key longer than %d bytes", LLMO_SSA_ELEM_MAX);
		rc = LLMO_EINVAL;
	}
	return rc;
}

/* A key value as structured-merge-diff prints it: JSON. */
static void ssa_show_value(struct llmo_buf *out, const json_t *v)
{
	char *s = llmo_json_dump(v, false);

	if (s)
		llmo_buf_puts(out, s);
	free(s);
}

/*
 * Appends the step a path element stands for, as kube-apiserver prints
 * paths: ".name", "[name=\"x\",port=80]", "[=\"a\"]", "[3]". Messages only:
 * a full buffer cuts the path.
 */
static void ssa_elem_show(struct llmo_buf *out, const char *elem, size_t len)
{
	json_t *v = NULL;

	if (len >= 2 && elem[1] == ':') {
		switch (elem[0]) {
		case 'f':
			llmo_buf_putc(out, '.');
			llmo_buf_append(out, elem + 2, len - 2);
			return;
		case 'v':
			llmo_buf_puts(out, "[=");
			llmo_buf_append(out, elem + 2, len - 2);
			llmo_buf_putc(out, ']');
			return;
		case 'i':
			llmo_buf_putc(out, '[');
			llmo_buf_append(out, elem + 2, len - 2);
			llmo_buf_putc(out, ']');
			return;
		case 'k':
			v = json_loadb(elem + 2, len - 2, 0, NULL);
			break;
		default:
			break;
		}
	}
	if (!json_is_object(v)) {
		llmo_buf_append(out, elem, len);
	} else {
		/* keys come sorted: the element was written with sorted keys */
		const char *key;
		json_t *kv;
		bool first = true;

		llmo_buf_putc(out, '[');
		json_object_foreach(v, key, kv) {
			if (!first)
				llmo_buf_putc(out, ',');
			first = false;
			llmo_buf_puts(out, key);
			llmo_buf_putc(out, '=');
			ssa_show_value(out, kv);
		}
		llmo_buf_putc(out, ']');
	}
	json_decref(v);
}

/* ---- field sets --------------------------------------------------------- */

static bool set_member(const json_t *node)
{
	return node && json_object_get(node, SSA_SELF) != NULL;
}

static bool set_is_self(const char *key, size_t klen)
{
	return klen == 1 && key[0] == '.';
}

/* node's child for elem; with create, a new empty one when absent (NULL: no memory). */
static json_t *set_child(json_t *node, const char *elem, size_t len, bool create)
{
	json_t *ch = json_object_getn(node, elem, len);

	if (ch || !create)
		return ch;
	ch = json_object();
	if (!ch || json_object_setn_new_nocheck(node, elem, len, ch))
		return NULL;
	return ch;
}

static int set_mark(json_t *node)
{
	if (set_member(node))
		return 0;
	return json_object_set_new_nocheck(node, SSA_SELF, json_object()) ? LLMO_ENOMEM : 0;
}

/* Drops node's child elem when it is empty. */
static void set_trim(json_t *node, const char *elem, size_t len)
{
	json_t *ch = json_object_getn(node, elem, len);

	if (ch && json_object_size(ch) == 0)
		json_object_deln(node, elem, len);
}

static int set_union(json_t *dst, const json_t *src)
{
	const char *key;
	size_t klen;
	json_t *sv;
	int rc;

	json_object_keylen_foreach((json_t *)src, key, klen, sv) {
		json_t *dc;

		if (set_is_self(key, klen)) {
			if ((rc = set_mark(dst)))
				return rc;
			continue;
		}
		dc = set_child(dst, key, klen, true);
		if (!dc)
			return LLMO_ENOMEM;
		if ((rc = set_union(dc, sv)))
			return rc;
	}
	return 0;
}

/* dst -= src: src's members leave dst, and nodes left empty go. */
static void set_subtract(json_t *dst, const json_t *src)
{
	const char *key;
	size_t klen;
	json_t *sv;

	json_object_keylen_foreach((json_t *)src, key, klen, sv) {
		json_t *dc;

		if (set_is_self(key, klen)) {
			json_object_del(dst, SSA_SELF);
			continue;
		}
		dc = json_object_getn(dst, key, klen);
		if (!dc)
			continue;
		set_subtract(dc, sv);
		if (json_object_size(dc) == 0)
			json_object_deln(dst, key, klen);
	}
}

/* a & b as a new set, or NULL when out of memory. */
static json_t *set_intersect(const json_t *a, const json_t *b)
{
	json_t *out = json_object(), *av;
	const char *key;
	size_t klen;

	if (!out)
		return NULL;
	json_object_keylen_foreach((json_t *)a, key, klen, av) {
		const json_t *bv = json_object_getn(b, key, klen);
		json_t *ch;

		if (!bv)
			continue;
		if (set_is_self(key, klen)) {
			if (set_mark(out))
				goto fail;
			continue;
		}
		ch = set_intersect(av, bv);
		if (!ch)
			goto fail;
		if (json_object_size(ch) == 0) {
			json_decref(ch);
			continue;
		}
		if (json_object_setn_new_nocheck(out, key, klen, ch))
			goto fail;
	}
	return out;
fail:
	json_decref(out);
	return NULL;
}

/* Removes what no one may own (apiVersion, kind, metadata's server fields). */
static void set_strip(json_t *root)
{
	static const char *const top[] = {"f:apiVersion", "f:kind"};
	static const char *const meta[] = {"f:name", "f:namespace"};
	json_t *m;

	for (size_t i = 0; i < LLMO_ARRAY_LEN(top); i++)
		json_object_del(root, top[i]);
	m = json_object_get(root, "f:metadata");
	if (!m)
		return;
	json_object_del(m, SSA_SELF);
	for (size_t i = 0; i < LLMO_ARRAY_LEN(meta); i++)
		json_object_del(m, meta[i]);
	for (size_t i = 0; i < LLMO_ARRAY_LEN(ssa_meta_server_elems); i++)
		json_object_del(m, ssa_meta_server_elems[i]);
	if (json_object_size(m) == 0)
		json_object_del(root, "f:metadata");
}

/*
 * FieldsV1 (enc) to the internal form. LLMO_EINVAL for anything that is not
 * a well-formed set, LLMO_ETOOBIG past the caps, LLMO_ENOMEM.
 */
static int set_decode(struct ssa_ctx *c, const json_t *enc, int depth, json_t *node)
{
	const char *key;
	size_t klen;
	json_t *ev;
	int rc;

	if (!json_is_object(enc))
		return LLMO_EINVAL;
	if (depth > LLMO_SSA_DEPTH_MAX)
		return LLMO_ETOOBIG;
	json_object_keylen_foreach((json_t *)enc, key, klen, ev) {
		json_t *ch;

		if (++c->nodes > LLMO_SSA_SET_NODES_MAX)
			return LLMO_ETOOBIG;
		if (!json_is_object(ev))
			return LLMO_EINVAL;
		if (set_is_self(key, klen)) {
			if (json_object_size(ev) != 0)
				return LLMO_EINVAL;
			if ((rc = set_mark(node)))
				return rc;
			continue;
		}
		if (klen < 2 || key[1] != ':' || !strchr("fkvi", key[0]) || key[0] == '\0')
			return LLMO_EINVAL;
		ch = set_child(node, key, klen, true);
		if (!ch)
			return LLMO_ENOMEM;
		if (json_object_size(ev) == 0)
			rc = set_mark(ch);
		else
			rc = set_decode(c, ev, depth + 1, ch);
		if (rc)
			return rc;
	}
	return 0;
}

/* The internal form to FieldsV1: a new object, or NULL when out of memory. */
static json_t *set_encode(const json_t *node)
{
	json_t *out = json_object(), *v;
	const char *key;
	size_t klen;

	if (!out)
		return NULL;
	json_object_keylen_foreach((json_t *)node, key, klen, v) {
		json_t *e;

		if (set_is_self(key, klen)) {
			if (json_object_size(node) == 1)
				continue; /* a leaf: {} */
			e = json_object();
		} else {
			e = set_encode(v);
		}
		if (!e || json_object_setn_new_nocheck(out, key, klen, e))
			goto fail;
	}
	return out;
fail:
	json_decref(out);
	return NULL;
}

struct ssa_key {
	const char *s;
	size_t len;
};

static int ssa_key_cmp(const void *a, const void *b)
{
	const struct ssa_key *x = a, *y = b;
	int d = memcmp(x->s, y->s, LLMO_MIN(x->len, y->len));

	if (d)
		return d;
	return x->len < y->len ? -1 : x->len > y->len;
}

typedef int (*ssa_member_fn)(void *arg, const char *path);

/* Calls fn with the printed path of every member of node, in sorted order. */
static int set_each_member(const json_t *node, struct llmo_buf *path, ssa_member_fn fn, void *arg)
{
	LLMO_VEC(struct ssa_key) keys = LLMO_VEC_INIT;
	const char *key;
	size_t klen;
	json_t *v;
	int rc = 0;

	if (set_member(node) && (rc = fn(arg, path->data)))
		return rc;
	json_object_keylen_foreach((json_t *)node, key, klen, v) {
		struct ssa_key *k;

		if (set_is_self(key, klen))
			continue;
		k = llmo_vec_push(&keys);
		if (!k) {
			rc = LLMO_ENOMEM;
			goto out;
		}
		k->s = key;
		k->len = klen;
	}
	if (keys.len)
		qsort(keys.items, keys.len, sizeof(*keys.items), ssa_key_cmp);
	for (size_t i = 0; i < keys.len && !rc; i++) {
		size_t mark = path->len;

		ssa_elem_show(path, keys.items[i].s, keys.items[i].len);
		rc = set_each_member(json_object_getn(node, keys.items[i].s, keys.items[i].len),
				     path, fn, arg);
		llmo_buf_truncate(path, mark);
	}
out:
	llmo_vec_release(&keys);
	return rc;
}

/* The members of a set. */
static size_t set_count(const json_t *node)
{
	const char *key;
	size_t klen, n = 0;
	json_t *v;

	json_object_keylen_foreach((json_t *)node, key, klen, v)
		n += set_is_self(key, klen) ? 1 : set_count(v);
	return n;
}

/* ---- list items --------------------------------------------------------- */

/* The path elements of a list's items, and where each first occurs. */
struct ssa_items {
	LLMO_VEC(char *) elems;
	struct llmo_hmap index; /* elem -> (void *)(item index + 1) */
	bool ok;                /* every item has an element, none repeats */
	bool dup;               /* when !ok: item `bad` repeats an element */
	size_t bad;
	char why[SSA_WHY_MAX];
};

static void ssa_items_release(struct ssa_items *it)
{
	for (size_t i = 0; i < it->elems.len; i++)
		free(it->elems.items[i]);
	llmo_vec_release(&it->elems);
	llmo_hmap_release(&it->index, NULL);
}

/* Indexes list; stops at the first item without an element or repeated. 0 or LLMO_ENOMEM. */
static int ssa_items_init(struct ssa_ctx *c, const json_t *list, enum ssa_kind kind,
			  const json_t *keys, struct ssa_items *it)
{
	size_t i;
	json_t *item;
	int rc;

	memset(it, 0, sizeof(*it));
	llmo_hmap_init(&it->index);
	it->ok = true;
	json_array_foreach(list, i, item) {
		char **slot;
		char *s;

		rc = ssa_item_elem(item, kind, keys, &c->elem, it->why, sizeof(it->why));
		if (rc == LLMO_EINVAL) {
			it->ok = false;
			it->bad = i;
			return 0;
		}
		if (rc)
			return rc;
		if (llmo_hmap_has(&it->index, c->elem.data)) {
			it->ok = false;
			it->dup = true;
			it->bad = i;
			return 0;
		}
		s = llmo_strdup(c->elem.data);
		slot = s ? llmo_vec_push(&it->elems) : NULL;
		if (!slot) {
			free(s);
			return LLMO_ENOMEM;
		}
		*slot = s;
		if (llmo_hmap_put(&it->index, s, (void *)(uintptr_t)(i + 1), NULL))
			return LLMO_ENOMEM;
	}
	return 0;
}

/* The index of the item with element elem, or -1. */
static ptrdiff_t ssa_items_find(const struct ssa_items *it, const char *elem)
{
	uintptr_t v = (uintptr_t)llmo_hmap_get(&it->index, elem);

	return v ? (ptrdiff_t)(v - 1) : -1;
}

/* ---- fields of an object ------------------------------------------------ */

static int ssa_fields(struct ssa_ctx *c, const json_t *v, const json_t *schema,
		      enum ssa_level lv, json_t *node, int depth);

static int ssa_fields_map(struct ssa_ctx *c, const json_t *v, const json_t *schema,
			  enum ssa_level lv, json_t *node, int depth)
{
	const char *key;
	size_t klen;
	json_t *val;
	int rc;

	json_object_keylen_foreach((json_t *)v, key, klen, val) {
		bool declared;
		const json_t *cs = ssa_member_schema(c, schema, key, klen, lv, &declared);
		size_t mark = c->path.len;
		json_t *child;

		if ((rc = ssa_elem_field(&c->elem, key, klen)))
			return llmo_error_set(c->err, LLMO_ETOOBIG, "%s: field name too long",
					      c->path.data);
		child = set_child(node, c->elem.data, c->elem.len, true);
		if (!child)
			return ssa_nomem(c);
		llmo_buf_putc(&c->path, '.');
		llmo_buf_append(&c->path, key, klen);
		rc = ssa_fields(c, val, cs, ssa_member_level(lv, key, klen), child, depth + 1);
		llmo_buf_truncate(&c->path, mark);
		if (rc)
			return rc;
		if (json_is_null(val) || (json_is_object(val) && json_object_size(val) == 0) ||
		    !declared) {
			if (set_mark(child))
				return ssa_nomem(c);
		}
		if (json_object_size(child) == 0) {
			ssa_elem_field(&c->elem, key, klen);
			json_object_deln(node, c->elem.data, c->elem.len);
		}
	}
	return 0;
}

static int ssa_fields_list(struct ssa_ctx *c, const json_t *v, const json_t *schema,
			   enum ssa_kind kind, const json_t *keys, json_t *node, int depth)
{
	const json_t *is = json_object_get(schema, "items");
	struct ssa_items it;
	int rc;

	if ((rc = ssa_items_init(c, v, kind, keys, &it))) {
		rc = ssa_nomem(c);
		goto out;
	}
	if (!it.ok) {
		if (!c->strict) {
			rc = set_mark(node) ? ssa_nomem(c) : 0; /* owned whole, as atomic */
		} else if (it.dup) {
			struct llmo_buf show;

			llmo_buf_init(&show, SSA_PATH_MAX);
			ssa_elem_show(&show, c->elem.data, c->elem.len);
			rc = llmo_error_set(c->err, LLMO_EINVAL, "%s: duplicate entries for key %s",
					    c->path.data, show.data);
			llmo_buf_release(&show);
		} else {
			rc = llmo_error_set(c->err, LLMO_EINVAL, "%s[%zu]: %s", c->path.data, it.bad,
					    it.why);
		}
		goto out;
	}
	for (size_t i = 0; i < it.elems.len; i++) {
		const char *e = it.elems.items[i];
		size_t mark = c->path.len;
		json_t *child = set_child(node, e, strlen(e), true);

		if (!child) {
			rc = ssa_nomem(c);
			goto out;
		}
		ssa_elem_show(&c->path, e, strlen(e));
		rc = ssa_fields(c, json_array_get(v, i), is, SSA_AT_OTHER, child, depth + 1);
		llmo_buf_truncate(&c->path, mark);
		if (rc)
			goto out;
		if (set_mark(child)) {
			rc = ssa_nomem(c);
			goto out;
		}
	}
out:
	ssa_items_release(&it);
	return rc;
}

static int ssa_depth_error(struct ssa_ctx *c)
{
	return llmo_error_set(c->err, LLMO_ETOOBIG, "%s: nested deeper than %d levels",
			      c->path.len ? c->path.data : "object", LLMO_SSA_DEPTH_MAX);
}

/* Adds the fields of v (at the path of node) to node: structured-merge-diff's ToFieldSet. */
static int ssa_fields(struct ssa_ctx *c, const json_t *v, const json_t *schema,
		      enum ssa_level lv, json_t *node, int depth)
{
	const json_t *keys;
	enum ssa_kind kind = ssa_kind_of(schema, v, lv, &keys);

	if (depth > LLMO_SSA_DEPTH_MAX)
		return ssa_depth_error(c);
	switch (kind) {
	case SSA_MAP:
		return ssa_fields_map(c, v, schema, lv, node, depth);
	case SSA_LMAP:
	case SSA_LSET:
		return ssa_fields_list(c, v, schema, kind, keys, node, depth);
	case SSA_LEAF:
		break;
	}
	return set_mark(node) ? ssa_nomem(c) : 0;
}

/* The set of obj's fields, never-owned ones stripped, into *out. */
static int ssa_fields_root(struct ssa_ctx *c, const json_t *obj, const json_t *schema, json_t **out)
{
	json_t *set = json_object();
	int rc;

	*out = NULL;
	if (!set)
		return ssa_nomem(c);
	rc = ssa_fields(c, obj, schema, SSA_AT_ROOT, set, 0);
	if (rc) {
		json_decref(set);
		return rc;
	}
	set_strip(set);
	*out = set;
	return 0;
}

/* ---- merge -------------------------------------------------------------- */

static int ssa_merge(struct ssa_ctx *c, const json_t *l, const json_t *r, const json_t *schema,
		     enum ssa_level lv, int depth, json_t **out);

static int ssa_copy(struct ssa_ctx *c, const json_t *v, json_t **out)
{
	*out = json_deep_copy(v);
	return *out ? 0 : ssa_nomem(c);
}

static int ssa_merge_member(struct ssa_ctx *c, json_t *res, const char *key, size_t klen,
			    const json_t *l, const json_t *r, const json_t *schema,
			    enum ssa_level lv, int depth)
{
	bool declared;
	const json_t *cs = ssa_member_schema(c, schema, key, klen, lv, &declared);
	json_t *m;
	int rc;

	rc = ssa_merge(c, l, r, cs, ssa_member_level(lv, key, klen), depth + 1, &m);
	if (rc)
		return rc;
	if (json_object_setn_new_nocheck(res, key, klen, m))
		return ssa_nomem(c);
	return 0;
}

/* l (may be NULL: none) and r, maps merged member by member. */
static int ssa_merge_map(struct ssa_ctx *c, const json_t *l, const json_t *r, const json_t *schema,
			 enum ssa_level lv, int depth, json_t **out)
{
	json_t *res = json_object(), *v;
	const char *key;
	size_t klen;
	int rc = 0;

	if (!res)
		return ssa_nomem(c);
	json_object_keylen_foreach((json_t *)l, key, klen, v) {
		const json_t *rv = json_object_getn(r, key, klen);

		if (lv == SSA_AT_META && ssa_is_server_meta(key, klen))
			rv = NULL; /* the server's, whatever config says */
		if ((rc = ssa_merge_member(c, res, key, klen, v, rv, schema, lv, depth)))
			goto out;
	}
	json_object_keylen_foreach((json_t *)r, key, klen, v) {
		if (json_object_getn(l, key, klen))
			continue;
		if (lv == SSA_AT_META && ssa_is_server_meta(key, klen))
			continue;
		if ((rc = ssa_merge_member(c, res, key, klen, NULL, v, schema, lv, depth)))
			goto out;
	}
	*out = res;
	res = NULL;
out:
	json_decref(res);
	return rc;
}

/* Appends the merge of one item (either side may be NULL). */
static int ssa_merge_item(struct ssa_ctx *c, json_t *res, const json_t *l, const json_t *r,
			  const json_t *is, int depth)
{
	json_t *m;
	int rc = ssa_merge(c, l, r, is, SSA_AT_OTHER, depth + 1, &m);

	if (rc)
		return rc;
	if (json_array_append_new(res, m))
		return ssa_nomem(c);
	return 0;
}

static bool ssa_elem_eq(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

/*
 * Associative or set lists, merged item by item (structured-merge-diff's
 * mergingWalker.visitListItems): the items both have come in r's order, each
 * of l's others stays where it was relative to them, r's new items come
 * where r has them.
 */
static int ssa_merge_list(struct ssa_ctx *c, const json_t *l, const json_t *r,
			  const json_t *schema, enum ssa_kind kind, const json_t *keys, int depth,
			  json_t **out)
{
	const json_t *is = json_object_get(schema, "items");
	struct ssa_items li, ri;
	struct llmo_hmap done = LLMO_HMAP_INIT; /* r's items emitted */
	LLMO_VEC(const char *) shared = LLMO_VEC_INIT;
	json_t *res = NULL;
	const char *next = NULL;
	size_t si = 0, lI = 0, rI = 0, ln, rn;
	int rc;

	memset(&li, 0, sizeof(li));
	llmo_hmap_init(&li.index);
	if ((rc = ssa_items_init(c, r, kind, keys, &ri)) ||
	    (rc = ssa_items_init(c, l, kind, keys, &li))) {
		rc = ssa_nomem(c);
		goto out;
	}
	if (!ri.ok || !li.ok) {
		/* not keyed: the list is replaced, as an atomic one */
		rc = ssa_copy(c, r, out);
		goto out;
	}
	ln = li.elems.len;
	rn = ri.elems.len;
	for (size_t i = 0; i < rn; i++) {
		const char **s;

		if (ssa_items_find(&li, ri.elems.items[i]) < 0)
			continue;
		if (!(s = llmo_vec_push(&shared))) {
			rc = ssa_nomem(c);
			goto out;
		}
		*s = ri.elems.items[i];
	}
	next = si < shared.len ? shared.items[si++] : NULL;
	res = json_array();
	if (!res) {
		rc = ssa_nomem(c);
		goto out;
	}
	while (lI < ln || rI < rn) {
		const char *lpe = lI < ln ? li.elems.items[lI] : NULL;

		if (lI < ln && rI < rn) {
			if (ssa_elem_eq(lpe, ri.elems.items[rI])) {
				if (llmo_hmap_put(&done, lpe, NULL, NULL)) {
					rc = ssa_nomem(c);
					goto out;
				}
				rc = ssa_merge_item(c, res, json_array_get(l, lI), json_array_get(r, rI),
						    is, depth);
				if (rc)
					goto out;
				lI++;
				rI++;
				next = si < shared.len ? shared.items[si++] : NULL;
				continue;
			}
			if (ssa_items_find(&ri, lpe) >= 0 && next && !ssa_elem_eq(next, lpe)) {
				lI++; /* shared, but not the one due now */
				continue;
			}
		}
		if (lI < ln) {
			if (ssa_items_find(&ri, lpe) < 0) {
				rc = ssa_merge_item(c, res, json_array_get(l, lI), NULL, is, depth);
				if (rc)
					goto out;
				lI++;
				continue;
			}
			if (llmo_hmap_has(&done, lpe)) {
				lI++;
				continue;
			}
		}
		if (rI < rn) {
			const char *rpe = ri.elems.items[rI];
			ptrdiff_t at = ssa_items_find(&li, rpe);

			if (llmo_hmap_put(&done, rpe, NULL, NULL)) {
				rc = ssa_nomem(c);
				goto out;
			}
			rc = ssa_merge_item(c, res, at >= 0 ? json_array_get(l, (size_t)at) : NULL,
					    json_array_get(r, rI), is, depth);
			if (rc)
				goto out;
			rI++;
			if (ssa_elem_eq(next, rpe))
				next = si < shared.len ? shared.items[si++] : NULL;
		}
	}
	*out = res;
	res = NULL;
out:
	json_decref(res);
	llmo_vec_release(&shared);
	llmo_hmap_release(&done, NULL);
	ssa_items_release(&li);
	ssa_items_release(&ri);
	return rc;
}

/*
 * The merge of l (live; NULL: absent) and r (config; NULL: absent) as a new
 * value in *out: r's leaves win.
 */
static int ssa_merge(struct ssa_ctx *c, const json_t *l, const json_t *r, const json_t *schema,
		     enum ssa_level lv, int depth, json_t **out)
{
	const json_t *keys;
	enum ssa_kind kind;

	*out = NULL;
	if (depth > LLMO_SSA_DEPTH_MAX)
		return ssa_depth_error(c);
	if (!r)
		return ssa_copy(c, l, out);
	kind = ssa_kind_of(schema, r, lv, &keys);
	if (kind == SSA_MAP && (json_is_object(l) || lv != SSA_AT_OTHER))
		return ssa_merge_map(c, json_is_object(l) ? l : NULL, r, schema, lv, depth, out);
	if ((kind == SSA_LMAP || kind == SSA_LSET) && json_is_array(l))
		return ssa_merge_list(c, l, r, schema, kind, keys, depth, out);
	return ssa_copy(c, r, out);
}

/* ---- prune -------------------------------------------------------------- */

/*
 * Removes from v (in place) what the applier's last set (last) had and no
 * set owns now (owned, may be NULL: nothing under here), with all under it.
 * A member of a map counts as owned when the set has anything at or under it
 * (structured-merge-diff's EnsureNamedFieldsAreMembers), a list item only
 * when the set has the item itself.
 */
static int ssa_prune(struct ssa_ctx *c, json_t *v, const json_t *schema, enum ssa_level lv,
		     const json_t *last, const json_t *owned, int depth)
{
	const json_t *keys;
	enum ssa_kind kind = ssa_kind_of(schema, v, lv, &keys);
	int rc = 0;

	if (depth > LLMO_SSA_DEPTH_MAX)
		return ssa_depth_error(c);
	if (kind == SSA_MAP) {
		const char *key;
		size_t klen;
		json_t *cv, *tmp;

		json_object_keylen_foreach_safe(v, tmp, key, klen, cv) {
			bool declared;
			const json_t *cs = ssa_member_schema(c, schema, key, klen, lv, &declared);
			const json_t *lc, *oc;

			if (ssa_elem_field(&c->elem, key, klen))
				continue; /* too long to have been owned */
			lc = json_object_getn(last, c->elem.data, c->elem.len);
			oc = json_object_getn(owned, c->elem.data, c->elem.len);
			if (!lc)
				continue;
			if (!oc && !(lv == SSA_AT_ROOT && ssa_key_is(key, klen, "metadata"))) {
				json_object_deln(v, key, klen);
				continue;
			}
			if (json_object_size(lc) > (set_member(lc) ? 1u : 0u)) {
				rc = ssa_prune(c, cv, cs, ssa_member_level(lv, key, klen), lc, oc,
					       depth + 1);
				if (rc)
					return rc;
			}
		}
	} else if (kind == SSA_LMAP || kind == SSA_LSET) {
		const json_t *is = json_object_get(schema, "items");
		struct ssa_items it;

		if ((rc = ssa_items_init(c, v, kind, keys, &it))) {
			rc = ssa_nomem(c);
		} else if (it.ok) {
			for (size_t i = it.elems.len; i-- > 0 && !rc;) {
				const char *e = it.elems.items[i];
				const json_t *lc = json_object_get(last, e);
				const json_t *oc = json_object_get(owned, e);

				if (!lc)
					continue;
				if (set_member(lc) && !set_member(oc))
					json_array_remove(v, i);
				else if (json_object_size(lc) > (set_member(lc) ? 1u : 0u))
					rc = ssa_prune(c, json_array_get(v, i), is, SSA_AT_OTHER, lc,
						       oc, depth + 1);
			}
		}
		ssa_items_release(&it);
	}
	return rc;
}

/* ---- compare ------------------------------------------------------------ */

/* The three sets of a comparison, at one path. */
struct ssa_diff {
	json_t *added, *modified, *removed;
};

static int ssa_compare(struct ssa_ctx *c, const json_t *l, const json_t *r, const json_t *schema,
		       enum ssa_level lv, const struct ssa_diff *d, int depth);

/*
 * Compares one child (elem) of the node d stands at. When only one side has
 * the child, everything under it goes to one set (added when only r has
 * it, removed when only l has it), so only that set gets a child node and
 * the others stay NULL below: on a create (l is {}) that saves building and
 * trimming two empty trees as big as the object.
 */
static int ssa_compare_child(struct ssa_ctx *c, const char *elem_in, size_t len, const json_t *l,
			     const json_t *r, const json_t *schema, enum ssa_level lv,
			     const struct ssa_diff *d, int depth)
{
	/* a copy: elem_in may be c->elem, which the recursion reuses */
	char *elem = malloc(len + 1);
	struct ssa_diff cd = {0};
	bool want_added = r != NULL, want_removed = l != NULL, want_modified = l && r;
	int rc;

	if (!elem)
		return ssa_nomem(c);
	memcpy(elem, elem_in, len);
	elem[len] = '\0';
	if (want_added)
		cd.added = set_child(d->added, elem, len, true);
	if (want_modified)
		cd.modified = set_child(d->modified, elem, len, true);
	if (want_removed)
		cd.removed = set_child(d->removed, elem, len, true);
	if ((want_added && !cd.added) || (want_modified && !cd.modified) ||
	    (want_removed && !cd.removed))
		rc = ssa_nomem(c);
	else
		rc = ssa_compare(c, l, r, schema, lv, &cd, depth + 1);
	if (want_added)
		set_trim(d->added, elem, len);
	if (want_modified)
		set_trim(d->modified, elem, len);
	if (want_removed)
		set_trim(d->removed, elem, len);
	free(elem);
	return rc;
}

/* Compares the children of maps or keyed lists l and r (either may be NULL). */
static int ssa_compare_children(struct ssa_ctx *c, const json_t *l, const json_t *r,
				const json_t *schema, enum ssa_level lv, enum ssa_kind kind,
				const json_t *keys, const struct ssa_diff *d, int depth)
{
	struct ssa_items li, ri;
	int rc = 0;

	memset(&li, 0, sizeof(li));
	memset(&ri, 0, sizeof(ri));
	llmo_hmap_init(&li.index);
	llmo_hmap_init(&ri.index);
	if (kind == SSA_MAP) {
		const char *key;
		size_t klen;
		json_t *v;

		json_object_keylen_foreach((json_t *)l, key, klen, v) {
			bool declared;
			const json_t *cs = ssa_member_schema(c, schema, key, klen, lv, &declared);

			if (ssa_elem_field(&c->elem, key, klen))
				continue; /* too long a name to own */
			rc = ssa_compare_child(c, c->elem.data, c->elem.len, v,
					       json_object_getn(r, key, klen), cs,
					       ssa_member_level(lv, key, klen), d, depth);
			if (rc)
				goto out;
		}
		json_object_keylen_foreach((json_t *)r, key, klen, v) {
			bool declared;
			const json_t *cs = ssa_member_schema(c, schema, key, klen, lv, &declared);

			if (json_object_getn(l, key, klen) || ssa_elem_field(&c->elem, key, klen))
				continue;
			rc = ssa_compare_child(c, c->elem.data, c->elem.len, NULL, v, cs,
					       ssa_member_level(lv, key, klen), d, depth);
			if (rc)
				goto out;
		}
	} else {
		const json_t *is = json_object_get(schema, "items");

		ssa_items_release(&li);
		ssa_items_release(&ri);
		if ((rc = ssa_items_init(c, l, kind, keys, &li)) ||
		    (rc = ssa_items_init(c, r, kind, keys, &ri))) {
			rc = ssa_nomem(c);
			goto out;
		}
		for (size_t i = 0; i < li.elems.len && !rc; i++) {
			const char *e = li.elems.items[i];
			ptrdiff_t at = ssa_items_find(&ri, e);

			rc = ssa_compare_child(c, e, strlen(e), json_array_get(l, i),
					       at >= 0 ? json_array_get(r, (size_t)at) : NULL, is,
					       SSA_AT_OTHER, d, depth);
		}
		for (size_t i = 0; i < ri.elems.len && !rc; i++) {
			const char *e = ri.elems.items[i];

			if (ssa_items_find(&li, e) < 0)
				rc = ssa_compare_child(c, e, strlen(e), NULL, json_array_get(r, i), is,
						       SSA_AT_OTHER, d, depth);
		}
	}
out:
	ssa_items_release(&li);
	ssa_items_release(&ri);
	return rc;
}

/* True when v is a list whose items all have an element (and none repeats). */
static int ssa_list_keyed(struct ssa_ctx *c, const json_t *v, enum ssa_kind kind,
			  const json_t *keys, bool *ok)
{
	struct ssa_items it;
	int rc = ssa_items_init(c, v, kind, keys, &it);

	*ok = it.ok;
	ssa_items_release(&it);
	return rc ? ssa_nomem(c) : 0;
}

/*
 * Compares l (old) and r (new) at the path d stands at, either possibly NULL
 * (absent), as structured-merge-diff's Compare: a path only r has is added
 * (maps and list items included, with all under them), only l has is
 * removed, a leaf both have with different values is modified.
 */
static int ssa_compare(struct ssa_ctx *c, const json_t *l, const json_t *r, const json_t *schema,
		       enum ssa_level lv, const struct ssa_diff *d, int depth)
{
	const json_t *lkeys, *rkeys;
	enum ssa_kind lk, rk;
	bool lok = true, rok = true;
	int rc;

	if (depth > LLMO_SSA_DEPTH_MAX)
		return ssa_depth_error(c);
	lk = l ? ssa_kind_of(schema, l, lv, &lkeys) : SSA_LEAF;
	rk = r ? ssa_kind_of(schema, r, lv, &rkeys) : SSA_LEAF;
	if (l && lk != SSA_LEAF && lk != SSA_MAP && (rc = ssa_list_keyed(c, l, lk, lkeys, &lok)))
		return rc;
	if (r && rk != SSA_LEAF && rk != SSA_MAP && (rc = ssa_list_keyed(c, r, rk, rkeys, &rok)))
		return rc;
	/* a list that cannot be keyed is compared as an atomic one */
	if (!lok)
		lk = SSA_LEAF;
	if (!rok)
		rk = SSA_LEAF;
	if (!l || !r) {
		enum ssa_kind k = l ? lk : rk;
		json_t *node = l ? d->removed : d->added;

		if (lv != SSA_AT_ROOT && set_mark(node))
			return ssa_nomem(c);
		if (k == SSA_LEAF)
			return 0;
		return ssa_compare_children(c, l, r, schema, lv, k, l ? lkeys : rkeys, d, depth);
	}
	if (lk == rk && lk != SSA_LEAF)
		return ssa_compare_children(c, l, r, schema, lv, lk, lkeys, d, depth);
	if (lk == SSA_LEAF && rk == SSA_LEAF) {
		if (!llmo_json_equal_value(l, r) && set_mark(d->modified))
			return ssa_nomem(c);
		return 0;
	}
	/* changed shape: the path is modified, what was under it removed, what is under it added */
	if (set_mark(d->modified))
		return ssa_nomem(c);
	if (lk != SSA_LEAF && (rc = ssa_compare_children(c, l, NULL, schema, lv, lk, lkeys, d, depth)))
		return rc;
	if (rk != SSA_LEAF && (rc = ssa_compare_children(c, NULL, r, schema, lv, rk, rkeys, d, depth)))
		return rc;
	return 0;
}

static void ssa_diff_release(struct ssa_diff *d)
{
	json_decref(d->added);
	json_decref(d->modified);
	json_decref(d->removed);
	memset(d, 0, sizeof(*d));
}

/* Compares two objects; the never-owned fields are left out of the sets. */
static int ssa_diff(struct ssa_ctx *c, const json_t *l, const json_t *r, const json_t *schema,
		    struct ssa_diff *d)
{
	int rc;

	d->added = json_object();
	d->modified = json_object();
	d->removed = json_object();
	if (!d->added || !d->modified || !d->removed)
		return ssa_nomem(c);
	rc = ssa_compare(c, l, r, schema, SSA_AT_ROOT, d, 0);
	if (rc)
		return rc;
	set_strip(d->added);
	set_strip(d->modified);
	set_strip(d->removed);
	return 0;
}

/* ---- managedFields entries ---------------------------------------------- */

struct ssa_entry {
	char *manager;
	char *api_version; /* may be NULL */
	char *time;        /* may be NULL */
	char *subresource; /* NULL when none */
	bool apply;        /* operation Apply, else Update */
	bool gone;         /* to be dropped */
	json_t *set;       /* internal form */
};

struct ssa_entries {
	LLMO_VEC(struct ssa_entry) v;
};

static void ssa_entry_release(struct ssa_entry *e)
{
	free(e->manager);
	free(e->api_version);
	free(e->time);
	free(e->subresource);
	json_decref(e->set);
	memset(e, 0, sizeof(*e));
}

static void ssa_entries_release(struct ssa_entries *es)
{
	for (size_t i = 0; i < es->v.len; i++)
		ssa_entry_release(&es->v.items[i]);
	llmo_vec_release(&es->v);
}

static bool ssa_str_eq(const char *a, const char *b)
{
	return (!a || !*a) ? (!b || !*b) : (b && strcmp(a, b) == 0);
}

static bool ssa_entry_is(const struct ssa_entry *e, const char *manager, bool apply,
			 const char *api_version, const char *subresource)
{
	return !e->gone && e->apply == apply && strcmp(e->manager, manager) == 0 &&
	       ssa_str_eq(e->subresource, subresource) &&
	       (apply || ssa_str_eq(e->api_version, api_version));
}

static ptrdiff_t ssa_entries_find(const struct ssa_entries *es, const char *manager, bool apply,
				  const char *api_version)
{
	for (size_t i = 0; i < es->v.len; i++)
		if (ssa_entry_is(&es->v.items[i], manager, apply, api_version, NULL))
			return (ptrdiff_t)i;
	return -1;
}

/* An optional string member: 0 (absent or null: *out NULL), LLMO_EINVAL, LLMO_ENOMEM. */
static int ssa_opt_string(const json_t *obj, const char *name, char **out)
{
	const json_t *v = json_object_get(obj, name);

	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
		return LLMO_EINVAL;
	*out = llmo_strdup(json_string_value(v));
	return *out ? 0 : LLMO_ENOMEM;
}

/* One entry of managedFields: 0, LLMO_EINVAL (malformed), LLMO_ETOOBIG, LLMO_ENOMEM. */
static int ssa_entry_decode(struct ssa_ctx *c, const json_t *j, struct ssa_entry *e)
{
	const char *op = json_string_value(json_object_get(j, "operation"));
	const char *ft = json_string_value(json_object_get(j, "fieldsType"));
	const json_t *f = json_object_get(j, "fieldsV1");
	int rc;

	if (!json_is_object(j) || !op || !ft || strcmp(ft, "FieldsV1") != 0)
		return LLMO_EINVAL;
	if (strcmp(op, "Apply") == 0)
		e->apply = true;
	else if (strcmp(op, "Update") != 0)
		return LLMO_EINVAL;
	if ((rc = ssa_opt_string(j, "manager", &e->manager)) ||
	    (rc = ssa_opt_string(j, "apiVersion", &e->api_version)) ||
	    (rc = ssa_opt_string(j, "time", &e->time)) ||
	    (rc = ssa_opt_string(j, "subresource", &e->subresource)))
		return rc;
	if (!e->manager)
		return LLMO_EINVAL;
	e->set = json_object();
	if (!e->set)
		return LLMO_ENOMEM;
	if (f && !json_is_null(f) && (rc = set_decode(c, f, 1, e->set)))
		return rc;
	return 0;
}

/*
 * The entries of obj's managedFields. Ones that do not decode are dropped,
 * all of them, as kube-apiserver resets managedFields it cannot decode.
 * 0 or LLMO_ENOMEM.
 */
static int ssa_entries_load(struct ssa_ctx *c, const json_t *obj, struct ssa_entries *es)
{
	const json_t *mf = json_object_get(json_object_get(obj, "metadata"), "managedFields");
	size_t i;
	json_t *j;
	int rc = 0;

	if (!mf || json_is_null(mf))
		return 0;
	if (!json_is_array(mf) || json_array_size(mf) > LLMO_SSA_ENTRIES_MAX)
		goto reset;
	json_array_foreach(mf, i, j) {
		struct ssa_entry *e = llmo_vec_push(&es->v);

		if (!e)
			return ssa_nomem(c);
		rc = ssa_entry_decode(c, j, e);
		if (rc == LLMO_ENOMEM)
			return ssa_nomem(c);
		if (rc)
			goto reset;
		for (size_t k = 0; k + 1 < es->v.len; k++)
			if (ssa_entry_is(&es->v.items[k], e->manager, e->apply, e->api_version,
					 e->subresource))
				goto reset;
	}
	return 0;
reset:
	ssa_entries_release(es);
	return 0;
}

static int ssa_time_cmp(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "");
}

/* kube-apiserver's order (sortEncodedManagedFields). */
static int ssa_entry_cmp(const void *pa, const void *pb)
{
	const struct ssa_entry *a = pa, *b = pb;
	int d;

	if (a->apply != b->apply)
		return a->apply ? -1 : 1;
	if ((d = ssa_time_cmp(a->time, b->time)))
		return d;
	if ((d = strcmp(a->manager, b->manager)))
		return d;
	if ((d = strcmp(a->api_version ? a->api_version : "", b->api_version ? b->api_version : "")))
		return d;
	return strcmp(a->subresource ? a->subresource : "", b->subresource ? b->subresource : "");
}

/* Drops the entries marked gone or left empty. */
static void ssa_entries_compact(struct ssa_entries *es)
{
	size_t n = 0;

	for (size_t i = 0; i < es->v.len; i++) {
		struct ssa_entry *e = &es->v.items[i];

		if (e->gone || json_object_size(e->set) == 0) {
			ssa_entry_release(e);
			continue;
		}
		es->v.items[n++] = *e;
	}
	es->v.len = n;
}

/*
 * Past LLMO_SSA_UPDATE_MANAGERS_MAX Update entries, merges the oldest into
 * one "ancient-changes" entry per apiVersion (kube-apiserver's
 * capManagersManager). 0 or LLMO_ENOMEM.
 */
static int ssa_entries_cap(struct ssa_ctx *c, struct ssa_entries *es)
{
	LLMO_VEC(struct ssa_entry *) ups = LLMO_VEC_INIT;
	struct llmo_hmap first = LLMO_HMAP_INIT; /* apiVersion -> its bucket or first entry */
	size_t length;
	int rc = 0;

	for (size_t i = 0; i < es->v.len; i++) {
		struct ssa_entry **p;

		if (es->v.items[i].apply || es->v.items[i].gone)
			continue;
		if (!(p = llmo_vec_push(&ups))) {
			rc = ssa_nomem(c);
			goto out;
		}
		*p = &es->v.items[i];
	}
	length = ups.len;
	if (length <= LLMO_SSA_UPDATE_MANAGERS_MAX)
		goto out;
	/* oldest first; insertion sort keeps equal times in their order */
	for (size_t i = 1; i < ups.len; i++)
		for (size_t j = i; j > 0 && ssa_time_cmp(ups.items[j - 1]->time, ups.items[j]->time) > 0; j--) {
			struct ssa_entry *t = ups.items[j];

			ups.items[j] = ups.items[j - 1];
			ups.items[j - 1] = t;
		}
	for (size_t i = 0; i < ups.len && length > LLMO_SSA_UPDATE_MANAGERS_MAX; i++) {
		struct ssa_entry *e = ups.items[i], *b;
		const char *ver = e->api_version ? e->api_version : "";
		ptrdiff_t at;

		if (strcmp(e->manager, LLMO_SSA_ANCIENT_MANAGER) == 0 && !e->subresource)
			continue; /* a bucket itself */
		at = ssa_entries_find(es, LLMO_SSA_ANCIENT_MANAGER, false, ver);
		if (at >= 0) {
			b = &es->v.items[at];
		} else if (!(b = llmo_hmap_get(&first, ver))) {
			if (llmo_hmap_put(&first, ver, e, NULL)) {
				rc = ssa_nomem(c);
				goto out;
			}
			continue;
		} else {
			/* the oldest entry of this version becomes the bucket */
			char *name = llmo_strdup(LLMO_SSA_ANCIENT_MANAGER);

			if (!name) {
				rc = ssa_nomem(c);
				goto out;
			}
			free(b->manager);
			b->manager = name;
			free(b->subresource);
			b->subresource = NULL;
		}
		if (set_union(b->set, e->set)) {
			rc = ssa_nomem(c);
			goto out;
		}
		if (ssa_time_cmp(e->time, b->time) > 0) {
			char *t = e->time;

			e->time = b->time;
			b->time = t;
		}
		e->gone = true;
		length--;
	}
out:
	llmo_vec_release(&ups);
	llmo_hmap_release(&first, NULL);
	return rc;
}

/* Writes the entries, sorted, into obj's metadata.managedFields (removed when none). */
/*
 * A managedFields item; api_version, time and subresource may be NULL, and
 * fields (FieldsV1) is taken even on failure. NULL when out of memory.
 */
static json_t *ssa_entry_json(const char *manager, bool apply, const char *api_version,
			      const char *time, const char *subresource, json_t *fields)
{
	json_t *j = json_object();
	bool bad;

	if (!j) {
		json_decref(fields);
		return NULL;
	}
	/* json_object_set_new takes its value, even when it fails */
	bad = json_object_set_new(j, "manager", json_string(manager)) != 0;
	bad |= json_object_set_new(j, "operation", json_string(apply ? "Apply" : "Update")) != 0;
	if (api_version)
		bad |= json_object_set_new(j, "apiVersion", json_string(api_version)) != 0;
	if (time)
		bad |= json_object_set_new(j, "time", json_string(time)) != 0;
	bad |= json_object_set_new(j, "fieldsType", json_string("FieldsV1")) != 0;
	bad |= json_object_set_new(j, "fieldsV1", fields) != 0;
	if (subresource)
		bad |= json_object_set_new(j, "subresource", json_string(subresource)) != 0;
	if (bad) {
		json_decref(j);
		return NULL;
	}
	return j;
}

static int ssa_entries_store(struct ssa_ctx *c, struct ssa_entries *es, json_t *obj)
{
	json_t *meta = json_object_get(obj, "metadata"), *arr = NULL;
	int rc = 0;

	ssa_entries_compact(es);
	if (es->v.len > 1)
		qsort(es->v.items, es->v.len, sizeof(*es->v.items), ssa_entry_cmp);
	if (!json_is_object(meta)) {
		meta = json_object();
		if (!meta || json_object_set_new(obj, "metadata", meta))
			return ssa_nomem(c);
	}
	if (es->v.len == 0) {
		json_object_del(meta, "managedFields");
		return 0;
	}
	arr = json_array();
	if (!arr)
		return ssa_nomem(c);
	for (size_t i = 0; i < es->v.len; i++) {
		const struct ssa_entry *e = &es->v.items[i];
		json_t *j = ssa_entry_json(e->manager, e->apply, e->api_version, e->time,
					   e->subresource, set_encode(e->set));

		if (!j) {
			rc = ssa_nomem(c);
			goto out;
		}
		if (json_array_append_new(arr, j)) {
			rc = ssa_nomem(c);
			goto out;
		}
	}
	if (json_object_set_new(meta, "managedFields", arr)) {
		arr = NULL;
		rc = ssa_nomem(c);
		goto out;
	}
	arr = NULL;
out:
	json_decref(arr);
	return rc;
}

/* Gives entry e the apiVersion and time given. 0 or LLMO_ENOMEM. */
static int ssa_entry_stamp(struct ssa_ctx *c, struct ssa_entry *e, const char *api_version,
			   const char *now)
{
	char *v = llmo_strdup(api_version), *t = llmo_strdup(now);

	if (!v || !t) {
		free(v);
		free(t);
		return ssa_nomem(c);
	}
	free(e->api_version);
	free(e->time);
	e->api_version = v;
	e->time = t;
	return 0;
}

/* A new entry for manager, with an empty set; its index in *at. */
static int ssa_entries_add(struct ssa_ctx *c, struct ssa_entries *es, const char *manager,
			   bool apply, size_t *at)
{
	struct ssa_entry *e = llmo_vec_push(&es->v);

	if (!e)
		return ssa_nomem(c);
	e->apply = apply;
	e->manager = llmo_strdup(manager);
	e->set = json_object();
	if (!e->manager || !e->set) {
		ssa_entry_release(e);
		es->v.len--;
		return ssa_nomem(c);
	}
	*at = es->v.len - 1;
	return 0;
}

/* ---- arguments ---------------------------------------------------------- */

static bool ssa_utf8(const char *s)
{
	json_t *t = json_string(s);

	json_decref(t);
	return t != NULL;
}

static int ssa_check_args(const char *manager, const char *api_version, const char *now,
			  struct llmo_error *err)
{
	if (!manager || !*manager)
		return llmo_error_set(err, LLMO_EINVAL, "fieldManager: Required value: is required");
	if (strlen(manager) > LLMO_SSA_MANAGER_MAX)
		return llmo_error_set(err, LLMO_EINVAL,
				      "fieldManager: Too long: may not be more than %d bytes",
				      LLMO_SSA_MANAGER_MAX);
	if (!api_version || !now)
		return llmo_error_set(err, LLMO_EINVAL, "apiVersion and time are required");
	if (!ssa_utf8(manager) || !ssa_utf8(api_version) || !ssa_utf8(now))
		return llmo_error_set(err, LLMO_EINVAL,
				      "fieldManager, apiVersion and time must be UTF-8");
	return 0;
}

static int ssa_check_object(const json_t *obj, const char *what, struct llmo_error *err)
{
	const json_t *meta = json_object_get(obj, "metadata");

	if (!json_is_object(obj))
		return llmo_error_set(err, LLMO_EINVAL, "%s must be an object, not %s", what,
				      llmo_json_type_name(obj));
	if (meta && !json_is_object(meta))
		return llmo_error_set(err, LLMO_EINVAL, "%s: metadata must be an object, not %s",
				      what, llmo_json_type_name(meta));
	if (!ssa_depth_ok(obj, 0))
		return llmo_error_set(err, LLMO_ETOOBIG, "%s is nested deeper than %d levels", what,
				      LLMO_SSA_DEPTH_MAX);
	return 0;
}

/* ---- apply -------------------------------------------------------------- */

/* One entry's conflicts, for the message. */
struct ssa_conflicts {
	struct llmo_errlist *list;
	char who[2 * SSA_QUOTE_MAX + 160];
	struct llmo_buf *msg;
	bool single; /* the message names the one conflict */
};

static int ssa_conflict_one(void *arg, const char *path)
{
	struct ssa_conflicts *k = arg;

	if (k->single)
		llmo_buf_appendf(k->msg, "conflict with %s: %s", k->who, path);
	else
		llmo_buf_appendf(k->msg, "\n- %s", path);
	if (k->list && llmo_errlist_add(k->list, path, "conflict with %s", k->who))
		return LLMO_ENOMEM;
	return 0;
}

/* `"kubectl-edit" using llm.orchestrator.io/v1`, as kube-apiserver's printManager. */
static void ssa_who(const struct ssa_entry *e, char *out, size_t outlen)
{
	char qm[SSA_QUOTE_MAX], qs[SSA_QUOTE_MAX];
	int n;

	n = snprintf(out, outlen, "%s", llmo_str_quote(qm, e->manager, strlen(e->manager), SSA_SHOW));
	if (e->subresource && n >= 0 && (size_t)n < outlen)
		n += snprintf(out + n, outlen - (size_t)n, " with subresource %s",
			      llmo_str_quote(qs, e->subresource, strlen(e->subresource), SSA_SHOW));
	if (!e->apply && n >= 0 && (size_t)n < outlen)
		snprintf(out + n, outlen - (size_t)n, " using %.*s", SSA_SHOW,
			 e->api_version ? e->api_version : "");
}

static int ssa_entry_ptr_cmp(const void *pa, const void *pb)
{
	const struct ssa_entry *a = *(const struct ssa_entry *const *)pa;
	const struct ssa_entry *b = *(const struct ssa_entry *const *)pb;
	int d = strcmp(a->manager, b->manager);

	if (d)
		return d;
	if (a->apply != b->apply)
		return a->apply ? -1 : 1;
	return strcmp(a->api_version ? a->api_version : "", b->api_version ? b->api_version : "");
}

/*
 * Reports the conflicts found (sets[i] for entry i, NULL when none): the
 * errlist and err's message, managers in name order. Returns LLMO_ECONFLICT
 * or LLMO_ENOMEM.
 */
static int ssa_report_conflicts(struct ssa_ctx *c, struct ssa_entries *es, json_t **sets,
				size_t total, struct llmo_errlist *conflicts)
{
	LLMO_VEC(struct ssa_entry *) order = LLMO_VEC_INIT;
	struct llmo_buf msg, path;
	struct ssa_conflicts k = {.list = conflicts, .msg = &msg};
	int rc = 0;

	llmo_buf_init(&msg, LLMO_ERRMSG_MAX);
	llmo_buf_init(&path, SSA_PATH_MAX);
	for (size_t i = 0; i < es->v.len; i++) {
		struct ssa_entry **p;

		if (!sets[i])
			continue;
		if (!(p = llmo_vec_push(&order))) {
			rc = ssa_nomem(c);
			goto out;
		}
		*p = &es->v.items[i];
	}
	if (order.len > 1)
		qsort(order.items, order.len, sizeof(*order.items), ssa_entry_ptr_cmp);
	k.single = total == 1;
	llmo_buf_appendf(&msg, "Apply failed with %zu conflict%s: ", total, total == 1 ? "" : "s");
	for (size_t i = 0; i < order.len; i++) {
		size_t at = (size_t)(order.items[i] - es->v.items);

		ssa_who(order.items[i], k.who, sizeof(k.who));
		if (!k.single)
			llmo_buf_appendf(&msg, "%sconflicts with %s:", i ? "\n" : "", k.who);
		llmo_buf_reset(&path);
		if (set_each_member(sets[at], &path, ssa_conflict_one, &k)) {
			rc = ssa_nomem(c);
			goto out;
		}
	}
	rc = llmo_error_set(c->err, LLMO_ECONFLICT, "%s", msg.data);
out:
	llmo_vec_release(&order);
	llmo_buf_release(&msg);
	llmo_buf_release(&path);
	return rc;
}

/*
 * The other entries' fields that diff changes: conflicts (LLMO_ECONFLICT)
 * unless force, else taken from them. Then every entry loses what diff
 * removes. `self` is the applier's entry, left alone.
 */
static int ssa_take_fields(struct ssa_ctx *c, struct ssa_entries *es, size_t self,
			   const json_t *changed, const json_t *removed, bool force,
			   struct llmo_errlist *conflicts)
{
	json_t **sets = calloc(es->v.len ? es->v.len : 1, sizeof(*sets));
	size_t total = 0;
	int rc = 0;

	if (!sets)
		return ssa_nomem(c);
	for (size_t i = 0; i < es->v.len; i++) {
		json_t *x;

		if (i == self)
			continue;
		x = set_intersect(es->v.items[i].set, changed);
		if (!x) {
			rc = ssa_nomem(c);
			goto out;
		}
		if (json_object_size(x) == 0) {
			json_decref(x);
			continue;
		}
		sets[i] = x;
		total += set_count(x);
	}
	if (total && !force) {
		rc = ssa_report_conflicts(c, es, sets, total, conflicts);
		goto out;
	}
	for (size_t i = 0; i < es->v.len; i++) {
		if (i == self)
			continue;
		if (sets[i])
			set_subtract(es->v.items[i].set, sets[i]);
		set_subtract(es->v.items[i].set, removed);
	}
out:
	for (size_t i = 0; i < es->v.len; i++)
		json_decref(sets[i]);
	free(sets);
	return rc;
}

int llmo_ssa_apply(const json_t *live, const json_t *config, const char *manager, bool force,
		   const json_t *schema, const char *api_version, const char *now, json_t **out,
		   struct llmo_errlist *conflicts, struct llmo_error *err)
{
	struct ssa_entries es = {LLMO_VEC_INIT};
	struct ssa_diff d = {0};
	struct ssa_ctx c;
	json_t *base = NULL, *newset = NULL, *merged = NULL, *last = NULL, *owned = NULL;
	json_t *changed = NULL;
	const json_t *cmeta;
	ptrdiff_t found;
	size_t self;
	int rc;

	if (!out || !config)
		return llmo_error_set(err, LLMO_EINVAL, "no configuration to apply");
	*out = NULL;
	if ((rc = ssa_check_args(manager, api_version, now, err)) ||
	    (rc = ssa_check_object(config, "the applied configuration", err)) ||
	    (live && (rc = ssa_check_object(live, "the live object", err))))
		return rc;
	cmeta = json_object_get(config, "metadata");
	if (json_object_get(cmeta, "managedFields") &&
	    !json_is_null(json_object_get(cmeta, "managedFields")))
		return llmo_error_set(err, LLMO_EINVAL, "metadata.managedFields must be nil");
	if ((rc = ssa_ctx_init(&c, err)))
		return rc;

	base = live ? json_incref((json_t *)live) : json_object();
	if (!base) {
		rc = ssa_nomem(&c);
		goto out;
	}
	if ((rc = ssa_entries_load(&c, base, &es)))
		goto out;

	c.strict = true;
	if ((rc = ssa_fields_root(&c, config, schema, &newset)))
		goto out;
	c.strict = false;
	llmo_buf_reset(&c.path);
	if ((rc = ssa_merge(&c, base, config, schema, SSA_AT_ROOT, 0, &merged)))
		goto out;

	found = ssa_entries_find(&es, manager, true, NULL);
	if (found >= 0) {
		self = (size_t)found;
		last = es.v.items[self].set;
		es.v.items[self].set = NULL;
	} else if ((rc = ssa_entries_add(&c, &es, manager, true, &self))) {
		goto out;
	} else {
		json_decref(es.v.items[self].set);
	}
	es.v.items[self].set = json_deep_copy(newset);
	owned = json_object();
	if (!es.v.items[self].set || !owned) {
		rc = ssa_nomem(&c);
		goto out;
	}
	for (size_t i = 0; i < es.v.len; i++)
		if (set_union(owned, es.v.items[i].set)) {
			rc = ssa_nomem(&c);
			goto out;
		}
	if (last && (rc = ssa_prune(&c, merged, schema, SSA_AT_ROOT, last, owned, 0)))
		goto out;

	if ((rc = ssa_diff(&c, base, merged, schema, &d)))
		goto out;
	changed = json_deep_copy(d.added);
	if (!changed || set_union(changed, d.modified)) {
		rc = ssa_nomem(&c);
		goto out;
	}
	if ((rc = ssa_take_fields(&c, &es, self, changed, d.removed, force, conflicts)))
		goto out;

	/* the applier's entry: time moves when its set or the object changed */
	if (!last || !json_equal(last, newset) || json_object_size(changed) ||
	    json_object_size(d.removed) || !es.v.items[self].time) {
		if ((rc = ssa_entry_stamp(&c, &es.v.items[self], api_version, now)))
			goto out;
	} else {
		char *v = llmo_strdup(api_version);

		if (!v) {
			rc = ssa_nomem(&c);
			goto out;
		}
		free(es.v.items[self].api_version);
		es.v.items[self].api_version = v;
	}
	if ((rc = ssa_entries_cap(&c, &es)) || (rc = ssa_entries_store(&c, &es, merged)))
		goto out;
	*out = merged;
	merged = NULL;
out:
	json_decref(base);
	json_decref(newset);
	json_decref(merged);
	json_decref(last);
	json_decref(owned);
	json_decref(changed);
	ssa_diff_release(&d);
	ssa_entries_release(&es);
	ssa_ctx_release(&c);
	return rc;
}

/* ---- update ------------------------------------------------------------- */

/* ---- a create's entry ----------------------------------------------------- */

static int ssa_created_fields(struct ssa_ctx *c, const json_t *v, const json_t *schema,
			      enum ssa_level lv, json_t *out, int depth);

/*
 * Adds child elem of out (a node in FieldsV1 form) for a value everything
 * under which is new. A non-root node that has children owns itself too
 * ("." first, as ssa_compare marks it before its children).
 */
static int ssa_created_child(struct ssa_ctx *c, json_t *out, enum ssa_level lv, const char *elem,
			     size_t len, const json_t *v, const json_t *schema,
			     enum ssa_level child_lv, int depth)
{
	json_t *ch = json_object();

	if (!ch)
		return ssa_nomem(c);
	if (lv != SSA_AT_ROOT && json_object_size(out) == 0 &&
	    json_object_set_new_nocheck(out, SSA_SELF, json_object())) {
		json_decref(ch);
		return ssa_nomem(c);
	}
	if (json_object_setn_new_nocheck(out, elem, len, ch))
		return ssa_nomem(c);
	return ssa_created_fields(c, v, schema, child_lv, ch, depth + 1);
}

/*
 * The fields of v, all of them new, straight into FieldsV1 form (out):
 * what ssa_diff({}, v) and set_encode give together, in one walk and
 * without the internal sets (a quarter of a create's CPU time went there).
 */
static int ssa_created_fields(struct ssa_ctx *c, const json_t *v, const json_t *schema,
			      enum ssa_level lv, json_t *out, int depth)
{
	const json_t *keys;
	enum ssa_kind kind;
	struct ssa_items it;
	int rc = 0;

	if (depth > LLMO_SSA_DEPTH_MAX)
		return ssa_depth_error(c);
	kind = ssa_kind_of(schema, v, lv, &keys);
	if (kind == SSA_LEAF)
		return 0;
	if (kind == SSA_MAP) {
		const char *key;
		size_t klen;
		json_t *val;

		json_object_keylen_foreach((json_t *)v, key, klen, val) {
			bool declared;
			const json_t *cs = ssa_member_schema(c, schema, key, klen, lv, &declared);

			if (ssa_elem_field(&c->elem, key, klen))
				continue; /* too long a name to own */
			if ((rc = ssa_created_child(c, out, lv, c->elem.data, c->elem.len, val, cs,
						    ssa_member_level(lv, key, klen), depth)))
				return rc;
		}
		return 0;
	}
	if ((rc = ssa_items_init(c, v, kind, keys, &it))) {
		ssa_items_release(&it);
		return ssa_nomem(c);
	}
	/* a list that cannot be keyed is owned as an atomic one: no children */
	for (size_t i = 0; it.ok && !rc && i < it.elems.len; i++) {
		const char *e = it.elems.items[i];

		rc = ssa_created_child(c, out, lv, e, strlen(e), json_array_get(v, i),
				       json_object_get(schema, "items"), SSA_AT_OTHER, depth);
	}
	ssa_items_release(&it);
	return rc;
}

/*
 * A create: the manager's Update entry owns everything the object holds
 * (none when that is only what no one may own), and it is the only entry.
 */
static int ssa_update_created(struct ssa_ctx *c, json_t *obj, const char *manager,
			      const json_t *schema, const char *api_version, const char *now)
{
	json_t *fields = json_object(), *meta = json_object_get(obj, "metadata"), *entry, *item;
	int rc;

	if (!fields)
		return ssa_nomem(c);
	if ((rc = ssa_created_fields(c, obj, schema, SSA_AT_ROOT, fields, 0))) {
		json_decref(fields);
		return rc;
	}
	set_strip(fields); /* the same in FieldsV1 form */
	if (!json_is_object(meta)) {
		meta = json_object();
		if (!meta || json_object_set_new(obj, "metadata", meta)) {
			json_decref(fields);
			return ssa_nomem(c);
		}
	}
	if (json_object_size(fields) == 0) {
		json_decref(fields);
		json_object_del(meta, "managedFields");
		return 0;
	}
	item = ssa_entry_json(manager, false, api_version, now, NULL, fields);
	entry = item ? json_array() : NULL;
	if (!entry) {
		json_decref(item);
		return ssa_nomem(c);
	}
	/* both take their value, even when they fail */
	if (json_array_append_new(entry, item)) {
		json_decref(entry);
		return ssa_nomem(c);
	}
	return json_object_set_new(meta, "managedFields", entry) ? ssa_nomem(c) : 0;
}

int llmo_ssa_update(const json_t *old, json_t *updated, const char *manager,
		    const json_t *schema, const char *api_version, const char *now,
		    struct llmo_error *err)
{
	struct ssa_entries es = {LLMO_VEC_INIT};
	struct ssa_diff d = {0};
	struct ssa_ctx c;
	json_t *base = NULL, *changed = NULL, *gone = NULL;
	bool ctx = false;
	int rc;

	if (!updated) {
		rc = llmo_error_set(err, LLMO_EINVAL, "no object to update");
		goto out;
	}
	if ((rc = ssa_check_args(manager, api_version, now, err)) ||
	    (rc = ssa_check_object(updated, "the object", err)) ||
	    (old && (rc = ssa_check_object(old, "the stored object", err))))
		goto out;
	if ((rc = ssa_ctx_init(&c, err)))
		goto out;
	ctx = true;
	if (!old) {
		rc = ssa_update_created(&c, updated, manager, schema, api_version, now);
		goto out;
	}
	base = json_incref((json_t *)old);
	if ((rc = ssa_entries_load(&c, base, &es)) || (rc = ssa_diff(&c, base, updated, schema, &d)))
		goto out;
	changed = json_deep_copy(d.added);
	gone = json_deep_copy(d.removed);
	if (!changed || !gone || set_union(changed, d.modified) || set_union(gone, changed)) {
		rc = ssa_nomem(&c);
		goto out;
	}
	/* everyone, the manager's own Update entry included, loses what changed or went */
	for (size_t i = 0; i < es.v.len; i++)
		set_subtract(es.v.items[i].set, gone);
	if (json_object_size(changed)) {
		ptrdiff_t found = ssa_entries_find(&es, manager, false, api_version);
		size_t self;

		if (found >= 0)
			self = (size_t)found;
		else if ((rc = ssa_entries_add(&c, &es, manager, false, &self)))
			goto out;
		if (set_union(es.v.items[self].set, changed)) {
			rc = ssa_nomem(&c);
			goto out;
		}
		if ((rc = ssa_entry_stamp(&c, &es.v.items[self], api_version, now)))
			goto out;
	}
	if ((rc = ssa_entries_cap(&c, &es)) || (rc = ssa_entries_store(&c, &es, updated)))
		goto out;
out:
	if (rc && json_is_object(json_object_get(updated, "metadata")))
		json_object_del(json_object_get(updated, "metadata"), "managedFields");
	json_decref(base);
	json_decref(changed);
	json_decref(gone);
	ssa_diff_release(&d);
	ssa_entries_release(&es);
	if (ctx)
		ssa_ctx_release(&c);
	return rc;
}

/* ---- fields ------------------------------------------------------------- */

int llmo_ssa_fields_of(const json_t *obj, const json_t *schema, json_t **fieldsV1,
		       struct llmo_error *err)
{
	struct ssa_ctx c;
	json_t *set = NULL;
	int rc;

	if (!fieldsV1)
		return llmo_error_set(err, LLMO_EINVAL, "no output");
	*fieldsV1 = NULL;
	if ((rc = ssa_check_object(obj, "the object", err)))
		return rc;
	if ((rc = ssa_ctx_init(&c, err)))
		return rc;
	c.strict = true;
	if ((rc = ssa_fields_root(&c, obj, schema, &set)))
		goto out;
	*fieldsV1 = set_encode(set);
	if (!*fieldsV1)
		rc = ssa_nomem(&c);
out:
	json_decref(set);
	ssa_ctx_release(&c);
	return rc;
}

/* ---- schemas of built-in kinds ------------------------------------------ */

/* node's member name (a new {} when absent), or NULL when out of memory. */
static json_t *ssa_schema_child(json_t *node, const char *name, size_t len)
{
	json_t *ch = json_object_getn(node, name, len);

	if (ch)
		return ch;
	ch = json_object();
	if (!ch || json_object_setn_new(node, name, len, ch))
		return NULL;
	return ch;
}

/* The schema node at an smp path ("spec.containers[].env"), made as needed. */
static json_t *ssa_schema_path(json_t *root, const char *path)
{
	json_t *node = root;
	const char *p = path;

	while (node && *p) {
		const char *dot = strchr(p, '.');
		size_t len = dot ? (size_t)(dot - p) : strlen(p);
		bool items = len >= 2 && memcmp(p + len - 2, "[]", 2) == 0;

		node = ssa_schema_child(node, "properties", strlen("properties"));
		if (node)
			node = ssa_schema_child(node, p, items ? len - 2 : len);
		if (node && items)
			node = ssa_schema_child(node, "items", strlen("items"));
		p += len + (dot ? 1 : 0);
	}
	return node;
}

int llmo_ssa_schema_from_smp(const struct llmo_smp_schema *smp, json_t **out,
			     struct llmo_error *err)
{
	json_t *root = json_object();

	*out = NULL;
	if (!root)
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	for (const struct llmo_smp_entry *e = smp ? smp->entries : NULL; e && e->path; e++) {
		json_t *node;
		int bad;

		if (!e->merge_key && !e->primitive_set)
			continue; /* replaced by patches: atomic */
		node = ssa_schema_path(root, e->path);
		if (!node)
			goto nomem;
		if (e->merge_key)
			bad = json_object_set_new(node, "x-kubernetes-list-type", json_string("map")) ||
			      json_object_set_new(node, "x-kubernetes-list-map-keys",
						  json_pack("[s]", e->merge_key));
		else
			bad = json_object_set_new(node, "x-kubernetes-list-type", json_string("set"));
		if (bad)
			goto nomem;
	}
	*out = root;
	return 0;
nomem:
	json_decref(root);
	return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
}
