#include "base/common.h"

#include <libfyaml.h>
#include <math.h>

#include "base/buf.h"
#include "base/json.h"
#include "base/vec.h"
#include "base/str.h"
#include "base/yaml.h"

/*
 * The conversion reads libfyaml's event stream rather than its document
 * trees: in libfyaml 0.7.12 fy_node_resolve_alias(), fy_node_get_anchor()
 * and fy_document_destroy() each scan the document's anchor list, which
 * makes a few hundred thousand anchors take minutes. Events carry the
 * position of every node, collections included, which the tree API does not
 * expose; anchors, aliases and merge keys are resolved here instead.
 *
 * The line map is a list of (path, line, column) entries recorded as nodes
 * start, so the entries of a node's subtree are contiguous and all begin
 * with the node's path. An alias replays the entries of its anchored node
 * under its own path. The value of a merge key is built under the path of
 * its mapping followed by PATH_MERGE, a byte that never appears in a real
 * path (path_push_key escapes control bytes); when the mapping closes, the
 * entries of the keys it took are replayed under the mapping's path and the
 * rest is dropped when the document's map is finished.
 */
#define PATH_MERGE '\x01'

/* Entries per document: each node records one, aliases and merges replay some. */
#define YAML_MAX_ENTRIES (4 * LLMO_YAML_MAX_NODES)

#define YAML_TAG_PREFIX "tag:yaml.org,2002:"

struct yaml_entry {
	size_t off; /* path text at paths.data + off */
	size_t len;
	int line;
	int col;
};

struct yaml_line {
	const char *path; /* into llmo_yaml_lines.paths */
	size_t len;
	int line;
	int col;
};

struct llmo_yaml_lines {
	char *paths;
	struct yaml_line *items; /* sorted by path bytes, then length */
	size_t n;
};

/* One definition of an anchor. */
struct yaml_anchor {
	json_t *value;   /* a reference; NULL while the anchored node is open */
	size_t path_len; /* its path's length: its entries all start with that path */
	size_t first;    /* its subtree's line-map entries: [first, end) */
	size_t end;
	size_t nodes; /* nodes built for it, charged again by every alias */
	int height;   /* collections nested in it, 0 for a scalar */
};

/* The latest definition of each anchor name, sorted by name. */
struct yaml_name {
	char *name;
	size_t len;
	size_t def; /* index into yaml_conv.defs */
};

/* An open mapping or sequence. */
struct yaml_frame {
	json_t *value; /* owned until attached to its parent */
	bool is_map;
	size_t path_len;   /* length of this collection's path */
	size_t index;      /* sequences: the next item's index */
	size_t nodes_at;   /* node count before this collection began */
	size_t anchor;     /* 1 + index into defs, 0 when not anchored */
	int child_height;  /* tallest child so far */
	char *key;         /* mappings: the pending key (owned), NULL when none */
	size_t key_len;
	int key_line;
	int key_col;
	bool key_is_merge; /* the pending key is `<<` */
	bool merge_seen;
	json_t *merge;      /* the value of `<<`, owned */
	size_t merge_first; /* its line-map entries: [merge_first, merge_end) */
	size_t merge_end;
	int merge_line;
	int merge_col;
};

struct yaml_conv {
	const char *filename;
	struct llmo_error *err;
	struct llmo_buf path;  /* path of the node being read */
	struct llmo_buf paths; /* the entries' path text */
	LLMO_VEC(struct yaml_entry) entries;
	LLMO_VEC(struct yaml_anchor) defs;
	LLMO_VEC(struct yaml_name) names;
	struct yaml_frame frames[LLMO_YAML_MAX_DEPTH];
	int depth;
	size_t nodes;
	json_t *root;
	bool root_empty;
	int start_line;
	int line; /* last known position, for messages about nodes without one */
	int col;
	struct llmo_path_iter it; /* scratch for merge replays */
	const char *text;         /* the input */
	size_t len;
	struct llmo_buf quoted;   /* scratch: the text of the last single-quoted scalar */
};

static int conv_fail(struct yaml_conv *c, int code, int line, int col, const char *fmt, ...)
	LLMO_PRINTF(5, 6);

static int conv_fail(struct yaml_conv *c, int code, int line, int col, const char *fmt, ...)
{
	char msg[LLMO_ERRMSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line <= 0) {
		line = c->line;
		col = c->col;
	}
	return llmo_error_set(c->err, code, "%s:%d:%d: %s", c->filename, line, col, msg);
}

/*
 * Length of the valid UTF-8 at the start of s[0, n): shortest forms only, no
 * surrogates, nothing above U+10FFFF.
 */
static size_t utf8_valid_len(const unsigned char *s, size_t n)
{
	size_t i = 0, k;

	while (i < n && (k = llmo_utf8_seq_len(s + i, n - i)) > 0)
		i += k;
	return i;
}

/* Rejects NUL bytes and invalid UTF-8, which libfyaml would silently cut at or drop. */
static int check_input(const char *text, size_t len, const char *name, struct llmo_error *err)
{
	const unsigned char *s = (const unsigned char *)text;
	const unsigned char *nul = memchr(s, '\0', len);
	size_t bad = utf8_valid_len(s, len);
	int line = 1, col = 1;
	bool is_nul;

	if (nul && (size_t)(nul - s) < bad)
		bad = (size_t)(nul - s);
	if (bad == len)
		return 0;
	is_nul = s[bad] == '\0';
	for (size_t i = 0; i < bad; i++) {
		if (s[i] == '\n') {
			line++;
			col = 1;
		} else if ((s[i] & 0xc0) != 0x80) {
			col++;
		}
	}
	return llmo_error_set(err, LLMO_EPARSE, "%s:%d:%d: %s", name, line, col,
			      is_nul ? "NUL byte in input" : "invalid UTF-8");
}

static const char *token_text(struct fy_token *t, size_t *len)
{
	const char *s = t ? fy_token_get_text(t, len) : NULL;

	if (!s) {
		*len = 0;
		return "";
	}
	return s;
}

/*
 * Appends the value of a single-quoted scalar whose source (between the
 * quotes) is src[0, n): '' is a quote, and line breaks fold as in YAML 1.2:
 * white space around a break is dropped, a lone break becomes a space and
 * each empty line after it a newline.
 */
static int fold_single_quoted(const char *src, size_t n, struct llmo_buf *out)
{
	const char *p = src, *end = src + n;
	size_t empty = 0;
	bool first = true;
	int rc = 0;

	while (!rc && p <= end) {
		const char *eol = p, *a = p, *b;
		bool last;

		while (eol < end && *eol != '\n' && *eol != '\r')
			eol++;
		last = eol == end;
		b = eol;
		if (!first)
			while (a < b && (*a == ' ' || *a == '\t'))
				a++;
		if (!last)
			while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
				b--;
		if (!first && !last && a == b) {
			empty++;
		} else {
			if (!first) {
				if (!empty)
					rc = llmo_buf_putc(out, ' ');
				for (; !rc && empty; empty--)
					rc = llmo_buf_putc(out, '\n');
			}
			/* '' stands for one quote; a lone quote cannot occur inside */
			for (const char *q = a; !rc && q < b; q++) {
				rc = llmo_buf_putc(out, *q);
				if (*q == '\'' && q + 1 < b && q[1] == '\'')
					q++;
			}
		}
		first = false;
		if (last)
			break;
		p = eol + (eol[0] == '\r' && eol + 1 < end && eol[1] == '\n' ? 2 : 1);
	}
	return rc;
}

/*
 * The text of a scalar token. Single-quoted scalars are unescaped here from
 * the source: libfyaml 0.7.12's fy_token_get_text() leaks the chunk array of
 * those with many '' escapes (fy_atom_format_text() returns early without
 * fy_atom_iter_finish()). Their text lives in c->quoted until the next call.
 */
static int scalar_text(struct yaml_conv *c, struct fy_token *t, const char **s, size_t *n)
{
	const struct fy_mark *a, *b;
	int rc;

	if (!t || fy_token_scalar_style(t) != FYSS_SINGLE_QUOTED) {
		*s = token_text(t, n);
		return 0;
	}
	a = fy_token_start_mark(t);
	b = fy_token_end_mark(t);
	if (!a || !b || a->input_pos > b->input_pos || b->input_pos > c->len)
		return conv_fail(c, LLMO_EINTERNAL, 0, 0, "cannot locate a quoted scalar");
	llmo_buf_reset(&c->quoted);
	rc = fold_single_quoted(c->text + a->input_pos, b->input_pos - a->input_pos, &c->quoted);
	if (rc)
		return rc;
	*s = c->quoted.data;
	*n = c->quoted.len;
	return 0;
}

/* --- scalars: the YAML 1.2 core schema --- */

enum yaml_kind {
	YAML_NULL,
	YAML_TRUE,
	YAML_FALSE,
	YAML_INT,
	YAML_FLOAT,
	YAML_INF_NAN,
	YAML_STRING,
};

static bool text_is(const char *s, size_t n, const char *word)
{
	return strlen(word) == n && memcmp(s, word, n) == 0;
}

static bool text_is_any(const char *s, size_t n, const char *const *words)
{
	for (; *words; words++) {
		if (text_is(s, n, *words))
			return true;
	}
	return false;
}

static size_t span_digits(const char *s, size_t n, int base)
{
	size_t i = 0;

	for (; i < n; i++) {
		char c = s[i];
		bool ok;

		if (base == 8)
			ok = c >= '0' && c <= '7';
		else if (base == 10)
			ok = c >= '0' && c <= '9';
		else
			ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
		if (!ok)
			break;
	}
	return i;
}

/* [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
static bool is_core_float(const char *s, size_t n)
{
	size_t i = 0, d;

	if (i < n && (s[i] == '-' || s[i] == '+'))
		i++;
	d = span_digits(s + i, n - i, 10);
	i += d;
	if (i < n && s[i] == '.') {
		size_t f = span_digits(s + i + 1, n - i - 1, 10);

		if (d == 0 && f == 0)
			return false;
		i += 1 + f;
	} else if (d == 0) {
		return false;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '-' || s[i] == '+'))
			i++;
		d = span_digits(s + i, n - i, 10);
		if (d == 0)
			return false;
		i += d;
	}
	return i == n;
}

static enum yaml_kind core_kind(const char *s, size_t n)
{
	static const char *const nulls[] = {"~", "null", "Null", "NULL", NULL};
	static const char *const trues[] = {"true", "True", "TRUE", NULL};
	static const char *const falses[] = {"false", "False", "FALSE", NULL};
	static const char *const infs[] = {".inf", ".Inf", ".INF", NULL};
	static const char *const nans[] = {".nan", ".NaN", ".NAN", NULL};
	size_t i = 0;

	if (n == 0 || text_is_any(s, n, nulls))
		return YAML_NULL;
	if (text_is_any(s, n, trues))
		return YAML_TRUE;
	if (text_is_any(s, n, falses))
		return YAML_FALSE;
	if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'o'))
		return span_digits(s + 2, n - 2, s[1] == 'x' ? 16 : 8) == n - 2 ? YAML_INT
										 : YAML_STRING;
	if (s[0] == '-' || s[0] == '+')
		i = 1;
	if (i < n && span_digits(s + i, n - i, 10) == n - i)
		return YAML_INT;
	if (is_core_float(s, n))
		return YAML_FLOAT;
	if (text_is_any(s + i, n - i, infs) || text_is_any(s, n, nans))
		return YAML_INF_NAN;
	return YAML_STRING;
}

/* Reads an integer in a form core_kind() accepted; LLMO_ERANGE outside int64. */
static int core_int(const char *s, size_t n, int64_t *out)
{
	uint64_t v = 0, limit = (uint64_t)INT64_MAX;
	unsigned base = 10;
	bool neg = false;
	size_t i = 0;

	if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'o')) {
		base = s[1] == 'x' ? 16 : 8;
		i = 2;
	} else if (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-';
		i = 1;
	}
	if (neg)
		limit++;
	for (; i < n; i++) {
		char c = s[i];
		unsigned d = c <= '9' ? (unsigned)(c - '0') : (unsigned)((c | 0x20) - 'a' + 10);

		if (v > (limit - d) / base)
			return LLMO_ERANGE;
		v = v * base + d;
	}
	if (neg)
		*out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
	else
		*out = (int64_t)v;
	return 0;
}

static int core_float(struct yaml_conv *c, const char *s, size_t n, int line, int col,
		      json_t **out)
{
	char small[64];
	char *buf = n < sizeof(small) ? small : malloc(n + 1);
	double d;
	int rc = 0;

	if (!buf)
		return LLMO_ENOMEM;
	memcpy(buf, s, n);
	buf[n] = '\0';
	/* the text matched the core float pattern, so strtod reads all of it (C locale) */
	d = strtod(buf, NULL);
	if (!isfinite(d)) {
		rc = conv_fail(c, LLMO_ERANGE, line, col, "number %.*s is out of range",
			       (int)LLMO_MIN(n, 64), s);
		goto out;
	}
	*out = json_real(d);
	if (!*out)
		rc = LLMO_ENOMEM;
out:
	if (buf != small)
		free(buf);
	return rc;
}

/*
 * Converts a scalar value. tag is libfyaml's resolved tag ("tag:yaml.org,2002:int",
 * "!" for the non-specific tag) or NULL; plain says the scalar was unquoted.
 */
static int conv_scalar_value(struct yaml_conv *c, const char *s, size_t n, bool plain,
			     const char *tag, size_t taglen, int line, int col, json_t **out)
{
	enum yaml_kind kind = plain ? core_kind(s, n) : YAML_STRING;
	const char *want = NULL;
	bool as_real = false;
	int64_t i;
	int rc;

	*out = NULL;
	if (tag) {
		size_t pl = strlen(YAML_TAG_PREFIX);
		const char *t = tag + pl;
		size_t tl = taglen - pl;

		if (text_is(tag, taglen, "!")) {
			kind = YAML_STRING;
		} else if (taglen <= pl || memcmp(tag, YAML_TAG_PREFIX, pl) != 0) {
			return conv_fail(c, LLMO_EPARSE, line, col, "unsupported tag %.*s",
					 (int)LLMO_MIN(taglen, 64), tag);
		} else if (text_is(t, tl, "str")) {
			kind = YAML_STRING;
		} else {
			/* the value must have the tag's type in the core schema */
			enum yaml_kind k = core_kind(s, n);
			bool ok;

			if (text_is(t, tl, "null")) {
				want = "a null";
				ok = k == YAML_NULL;
			} else if (text_is(t, tl, "bool")) {
				want = "a boolean";
				ok = k == YAML_TRUE || k == YAML_FALSE;
			} else if (text_is(t, tl, "int")) {
				want = "an integer";
				ok = k == YAML_INT;
			} else if (text_is(t, tl, "float")) {
				want = "a number";
				ok = k == YAML_INT || k == YAML_FLOAT || k == YAML_INF_NAN;
				as_real = k == YAML_INT;
			} else {
				return conv_fail(c, LLMO_EPARSE, line, col, "unsupported tag !!%.*s",
						 (int)LLMO_MIN(tl, 64), t);
			}
			if (!ok)
				return conv_fail(c, LLMO_EPARSE, line, col, "\"%.*s\" is not %s",
						 (int)LLMO_MIN(n, 64), s, want);
			kind = k;
		}
	}
	switch (kind) {
	case YAML_NULL:
		*out = json_null();
		return 0;
	case YAML_TRUE:
		*out = json_true();
		return 0;
	case YAML_FALSE:
		*out = json_false();
		return 0;
	case YAML_INT:
		rc = core_int(s, n, &i);
		if (rc)
			return conv_fail(c, rc, line, col,
					 "integer %.*s is out of range (64-bit signed)",
					 (int)LLMO_MIN(n, 64), s);
		*out = as_real ? json_real((double)i) : json_integer(i);
		return *out ? 0 : LLMO_ENOMEM;
	case YAML_FLOAT:
		return core_float(c, s, n, line, col, out);
	case YAML_INF_NAN:
		return conv_fail(c, LLMO_ERANGE, line, col,
				 "%.*s is not a JSON number (JSON has no infinity or NaN); "
				 "quote it for a string",
				 (int)n, s);
	case YAML_STRING:
		break;
	}
	if (memchr(s, '\0', n))
		return conv_fail(c, LLMO_EPARSE, line, col, "string holds a NUL character");
	if (utf8_valid_len((const unsigned char *)s, n) != n)
		return conv_fail(c, LLMO_EPARSE, line, col, "string is not valid UTF-8");
	*out = json_stringn(s, n);
	return *out ? 0 : LLMO_ENOMEM;
}

/* --- the line map --- */

/*
 * Records an entry whose path is the current path followed by the n bytes at
 * paths.data + off (a suffix beginning with '.' or '['; at the root the '.'
 * is dropped).
 */
static int conv_record(struct yaml_conv *c, size_t off, size_t n, int line, int col)
{
	struct yaml_entry *e;
	size_t start = c->paths.len;
	int rc;

	if (c->path.len == 0 && n > 0 && c->paths.data[off] == '.') {
		off++;
		n--;
	}
	if (c->entries.len >= YAML_MAX_ENTRIES)
		return conv_fail(c, LLMO_ETOOBIG, line, col,
				 "document has too many nodes to index (more than %zu)",
				 (size_t)YAML_MAX_ENTRIES);
	/* reserve first: the suffix is copied from inside the same buffer */
	rc = llmo_buf_grow(&c->paths, c->path.len + n);
	if (rc == LLMO_ETOOBIG)
		return conv_fail(c, rc, line, col, "document's field paths exceed %zu MiB",
				 LLMO_YAML_INDEX_MAX >> 20);
	if (rc)
		return rc;
	llmo_buf_append(&c->paths, c->path.data, c->path.len);
	llmo_buf_append(&c->paths, c->paths.data + off, n);
	e = llmo_vec_push(&c->entries);
	if (!e) {
		llmo_buf_truncate(&c->paths, start);
		return LLMO_ENOMEM;
	}
	e->off = start;
	e->len = c->paths.len - start;
	e->line = line;
	e->col = col;
	return 0;
}

/* Replays entries [first, end), whose paths begin with base_len bytes of an anchor's path. */
static int conv_replay(struct yaml_conv *c, size_t first, size_t end, size_t base_len)
{
	int rc = 0;

	for (size_t i = first; !rc && i < end; i++) {
		struct yaml_entry e = c->entries.items[i];
		const char *suffix = c->paths.data + e.off + base_len;

		if (e.len <= base_len || memchr(suffix, PATH_MERGE, e.len - base_len))
			continue;
		rc = conv_record(c, e.off + base_len, e.len - base_len, e.line, e.col);
	}
	return rc;
}

static int line_cmp(const void *a, const void *b)
{
	const struct yaml_line *x = a, *y = b;
	int r = memcmp(x->path, y->path, LLMO_MIN(x->len, y->len));

	if (r)
		return r;
	return x->len < y->len ? -1 : x->len > y->len;
}

/* Moves the entries into a sorted map, dropping merge-key scaffolding. */
static int conv_finish_lines(struct yaml_conv *c, struct llmo_yaml_lines **out)
{
	struct llmo_yaml_lines *l = calloc(1, sizeof(*l));
	int rc = LLMO_ENOMEM;

	if (!l)
		goto out;
	l->items = calloc(c->entries.len ? c->entries.len : 1, sizeof(*l->items));
	l->paths = llmo_buf_detach(&c->paths, NULL);
	if (!l->items || !l->paths)
		goto out;
	for (size_t i = 0; i < c->entries.len; i++) {
		const struct yaml_entry *e = &c->entries.items[i];
		struct yaml_line *dst;

		if (memchr(l->paths + e->off, PATH_MERGE, e->len))
			continue;
		dst = &l->items[l->n++];
		dst->path = l->paths + e->off;
		dst->len = e->len;
		dst->line = e->line;
		dst->col = e->col;
	}
	qsort(l->items, l->n, sizeof(*l->items), line_cmp);
	*out = l;
	l = NULL;
	rc = 0;
out:
	if (l) {
		free(l->paths);
		free(l->items);
		free(l);
	}
	return rc;
}

static void lines_free(struct llmo_yaml_lines *l)
{
	if (!l)
		return;
	free(l->paths);
	free(l->items);
	free(l);
}

/* --- anchors --- */

static int name_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int r = memcmp(a, b, LLMO_MIN(alen, blen));

	if (r)
		return r;
	return alen < blen ? -1 : alen > blen;
}

/* Index in names of `name`, or where it would go (with *found false). */
static size_t name_find(struct yaml_conv *c, const char *name, size_t len, bool *found)
{
	size_t lo = 0, hi = c->names.len;

	*found = false;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int r = name_cmp(name, len, c->names.items[mid].name, c->names.items[mid].len);

		if (r == 0) {
			*found = true;
			return mid;
		}
		if (r < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

/*
 * Starts a definition of the anchor in token t for the node whose path is
 * the current path and whose subtree's entries begin at entries.len.
 * *def receives its index in defs. The value is set by conv_anchor_close().
 */
static int conv_anchor_open(struct yaml_conv *c, struct fy_token *t, int line, int col,
			    size_t *def)
{
	struct yaml_anchor *a;
	struct yaml_name *nm;
	const char *name;
	size_t len, pos;
	bool found;

	name = token_text(t, &len);
	a = llmo_vec_push(&c->defs);
	if (!a)
		return LLMO_ENOMEM;
	*def = c->defs.len - 1;
	a->path_len = c->path.len;
	a->first = c->entries.len;
	a->end = c->entries.len;
	pos = name_find(c, name, len, &found);
	if (found) {
		/* a later definition hides the earlier one from later aliases */
		c->names.items[pos].def = *def;
		return 0;
	}
	if (c->names.len >= LLMO_YAML_MAX_ANCHORS)
		return conv_fail(c, LLMO_ETOOBIG, line, col, "more than %d anchors in one document",
				 LLMO_YAML_MAX_ANCHORS);
	if (!llmo_vec_push(&c->names))
		return LLMO_ENOMEM;
	memmove(&c->names.items[pos + 1], &c->names.items[pos],
		(c->names.len - 1 - pos) * sizeof(*c->names.items));
	nm = &c->names.items[pos];
	nm->name = malloc(len ? len : 1);
	if (!nm->name) {
		memmove(&c->names.items[pos], &c->names.items[pos + 1],
			(c->names.len - 1 - pos) * sizeof(*c->names.items));
		c->names.len--;
		return LLMO_ENOMEM;
	}
	memcpy(nm->name, name, len);
	nm->len = len;
	nm->def = *def;
	return 0;
}

static void conv_anchor_close(struct yaml_conv *c, size_t def, json_t *v, size_t nodes_at,
			      int height)
{
	struct yaml_anchor *a = &c->defs.items[def];

	a->value = json_incref(v);
	a->end = c->entries.len;
	a->nodes = c->nodes - nodes_at;
	a->height = height;
}

/* --- the tree --- */

static struct yaml_frame *conv_top(struct yaml_conv *c)
{
	return c->depth ? &c->frames[c->depth - 1] : NULL;
}

/*
 * Starts a node in value position: charges `charge` nodes, extends the path
 * for a sequence item and records the node's entry. A map member's position
 * is its key's.
 */
static int conv_begin(struct yaml_conv *c, const struct fy_mark *m, size_t charge)
{
	struct yaml_frame *f = conv_top(c);
	int line = m ? m->line + 1 : 0, col = m ? m->column + 1 : 0;
	int rc;

	if (charge > LLMO_YAML_MAX_NODES - c->nodes)
		return conv_fail(c, LLMO_ETOOBIG, line, col,
				 "document expands to more than %zu nodes (aliases count in full)",
				 LLMO_YAML_MAX_NODES);
	c->nodes += charge;
	if (!c->start_line && m)
		c->start_line = line;
	if (f && !f->is_map) {
		rc = llmo_path_push_index(&c->path, f->index);
		if (rc)
			return rc;
	} else if (f) {
		line = f->key_line;
		col = f->key_col;
	}
	if (line <= 0)
		return 0;
	return conv_record(c, c->paths.len, 0, line, col);
}

/* Hands v (a reference the caller owned) to the open collection, or makes it the root. */
static int conv_attach(struct yaml_conv *c, json_t *v, int height)
{
	struct yaml_frame *f = conv_top(c);
	int rc = 0;

	if (!f) {
		c->root = v;
		return 0;
	}
	if (height > f->child_height)
		f->child_height = height;
	if (!f->is_map) {
		if (json_array_append_new(f->value, v))
			rc = LLMO_ENOMEM;
		f->index++;
	} else if (f->key_is_merge) {
		f->merge = v;
		f->merge_end = c->entries.len;
	} else {
		if (json_object_setn_new(f->value, f->key, f->key_len, v))
			rc = LLMO_ENOMEM;
	}
	free(f->key);
	f->key = NULL;
	f->key_is_merge = false;
	llmo_buf_truncate(&c->path, f->path_len);
	return rc;
}

/* A scalar in key position: checked, kept as the frame's pending key. */
static int conv_key(struct yaml_conv *c, struct yaml_frame *f, struct fy_event *e,
		    const struct fy_mark *m)
{
	struct fy_token *anchor = e->scalar.anchor;
	int line = m ? m->line + 1 : c->line, col = m ? m->column + 1 : c->col;
	bool plain = !e->scalar.value || fy_token_scalar_style(e->scalar.value) == FYSS_PLAIN;
	const char *s;
	size_t n, def;
	int rc;

	rc = scalar_text(c, e->scalar.value, &s, &n);
	if (rc)
		return rc;
	if (c->nodes >= LLMO_YAML_MAX_NODES)
		return conv_fail(c, LLMO_ETOOBIG, line, col,
				 "document expands to more than %zu nodes (aliases count in full)",
				 LLMO_YAML_MAX_NODES);
	c->nodes++;
	if (memchr(s, '\0', n))
		return conv_fail(c, LLMO_EPARSE, line, col, "key holds a NUL character");
	if (utf8_valid_len((const unsigned char *)s, n) != n)
		return conv_fail(c, LLMO_EPARSE, line, col, "key is not valid UTF-8");
	f->key_is_merge = plain && !e->scalar.tag && text_is(s, n, "<<");
	if (f->key_is_merge ? f->merge_seen : json_object_getn(f->value, s, n) != NULL)
		return conv_fail(c, LLMO_EPARSE, line, col, "duplicate key \"%.*s\"",
				 (int)LLMO_MIN(n, 128), s);
	f->key = malloc(n ? n : 1);
	if (!f->key)
		return LLMO_ENOMEM;
	memcpy(f->key, s, n);
	f->key_len = n;
	f->key_line = line;
	f->key_col = col;
	if (f->key_is_merge) {
		f->merge_seen = true;
		f->merge_line = line;
		f->merge_col = col;
		rc = llmo_buf_putc(&c->path, PATH_MERGE);
		f->merge_first = c->entries.len;
	} else {
		rc = llmo_path_push_keyn(&c->path, s, n);
	}
	if (rc == LLMO_ETOOBIG)
		return conv_fail(c, rc, line, col, "field path exceeds %zu MiB",
				 LLMO_YAML_INDEX_MAX >> 20);
	if (rc || !anchor)
		return rc;
	/* an anchored key: aliases to it read the key as a string */
	rc = conv_anchor_open(c, anchor, line, col, &def);
	if (!rc) {
		json_t *v = json_stringn(s, n);

		if (!v)
			return LLMO_ENOMEM;
		conv_anchor_close(c, def, v, c->nodes - 1, 0);
		json_decref(v);
	}
	return rc;
}

static int conv_scalar(struct yaml_conv *c, struct fy_event *e, const struct fy_mark *m)
{
	struct yaml_frame *f = conv_top(c);
	struct fy_token *tag = e->scalar.tag;
	bool plain = !e->scalar.value || fy_token_scalar_style(e->scalar.value) == FYSS_PLAIN;
	const char *s, *t = NULL;
	size_t n, tn = 0, nodes_at = c->nodes, def;
	int line, col, rc;
	json_t *v = NULL;

	if (f && f->is_map && !f->key)
		return conv_key(c, f, e, m);
	rc = conv_begin(c, m, 1);
	if (rc)
		return rc;
	line = m ? m->line + 1 : (f && f->is_map ? f->key_line : c->line);
	col = m ? m->column + 1 : (f && f->is_map ? f->key_col : c->col);
	rc = scalar_text(c, e->scalar.value, &s, &n);
	if (rc)
		return rc;
	if (tag)
		t = token_text(tag, &tn);
	if (!f && !e->scalar.value && !tag && !e->scalar.anchor)
		c->root_empty = true;
	rc = conv_scalar_value(c, s, n, plain, t, tn, line, col, &v);
	if (rc)
		return rc;
	if (e->scalar.anchor) {
		rc = conv_anchor_open(c, e->scalar.anchor, line, col, &def);
		if (rc) {
			json_decref(v);
			return rc;
		}
		conv_anchor_close(c, def, v, nodes_at, 0);
	}
	return conv_attach(c, v, 0);
}

static int conv_alias(struct yaml_conv *c, struct fy_event *e, const struct fy_mark *m)
{
	struct yaml_frame *f = conv_top(c);
	int line = m ? m->line + 1 : c->line, col = m ? m->column + 1 : c->col;
	struct yaml_anchor *a;
	const char *name;
	size_t n, pos;
	bool found;
	json_t *v;
	int rc;

	name = token_text(e->alias.anchor, &n);
	if (f && f->is_map && !f->key)
		return conv_fail(c, LLMO_EPARSE, line, col,
				 "alias *%.*s used as a mapping key (keys must be scalars)",
				 (int)LLMO_MIN(n, 64), name);
	pos = name_find(c, name, n, &found);
	if (!found)
		return conv_fail(c, LLMO_EPARSE, line, col, "undefined alias *%.*s",
				 (int)LLMO_MIN(n, 64), name);
	a = &c->defs.items[c->names.items[pos].def];
	if (!a->value)
		return conv_fail(c, LLMO_EPARSE, line, col,
				 "alias *%.*s refers to a node that contains it",
				 (int)LLMO_MIN(n, 64), name);
	if (c->depth + a->height > LLMO_YAML_MAX_DEPTH)
		return conv_fail(c, LLMO_ETOOBIG, line, col,
				 "alias *%.*s nests collections deeper than %d levels",
				 (int)LLMO_MIN(n, 64), name, LLMO_YAML_MAX_DEPTH);
	rc = conv_begin(c, m, a->nodes);
	if (rc)
		return rc;
	/* a copy, so that callers may change one place without the other */
	v = json_deep_copy(a->value);
	if (!v)
		return LLMO_ENOMEM;
	rc = conv_replay(c, a->first, a->end, a->path_len);
	if (rc) {
		json_decref(v);
		return rc;
	}
	return conv_attach(c, v, a->height);
}

static int check_collection_tag(struct yaml_conv *c, struct fy_token *tag, bool is_map,
				int line, int col)
{
	const char *t;
	size_t n;

	if (!tag)
		return 0;
	t = token_text(tag, &n);
	if (text_is(t, n, "!") || text_is(t, n, is_map ? YAML_TAG_PREFIX "map"
						     : YAML_TAG_PREFIX "seq"))
		return 0;
	return conv_fail(c, LLMO_EPARSE, line, col, "unsupported tag %.*s on a %s",
			 (int)LLMO_MIN(n, 64), t, is_map ? "mapping" : "sequence");
}

static int conv_open(struct yaml_conv *c, struct fy_event *e, const struct fy_mark *m)
{
	bool is_map = e->type == FYET_MAPPING_START;
	struct fy_token *anchor = is_map ? e->mapping_start.anchor : e->sequence_start.anchor;
	struct fy_token *tag = is_map ? e->mapping_start.tag : e->sequence_start.tag;
	int line = m ? m->line + 1 : c->line, col = m ? m->column + 1 : c->col;
	struct yaml_frame *f = conv_top(c), *nf;
	size_t nodes_at = c->nodes, def;
	json_t *v;
	int rc;

	if (f && f->is_map && !f->key)
		return conv_fail(c, LLMO_EPARSE, line, col,
				 "mapping keys must be scalars, not %s",
				 is_map ? "mappings" : "sequences");
	if (c->depth >= LLMO_YAML_MAX_DEPTH)
		return conv_fail(c, LLMO_ETOOBIG, line, col,
				 "collections nest deeper than %d levels", LLMO_YAML_MAX_DEPTH);
	rc = check_collection_tag(c, tag, is_map, line, col);
	if (!rc)
		rc = conv_begin(c, m, 1);
	if (rc)
		return rc;
	v = is_map ? json_object() : json_array();
	if (!v)
		return LLMO_ENOMEM;
	nf = &c->frames[c->depth++];
	memset(nf, 0, sizeof(*nf));
	nf->value = v;
	nf->is_map = is_map;
	nf->path_len = c->path.len;
	nf->nodes_at = nodes_at;
	if (!anchor)
		return 0;
	rc = conv_anchor_open(c, anchor, line, col, &def);
	if (!rc)
		nf->anchor = def + 1;
	return rc;
}

/*
 * Applies the frame's merge key: the keys of each source mapping that the
 * mapping does not have yet, earlier sources first; then replays the line
 * map entries of the keys taken under the mapping's path.
 */
static int conv_merge(struct yaml_conv *c, struct yaml_frame *f)
{
	json_t *m = f->merge, *origin = json_object(), *src, *v;
	size_t nsrc = json_is_array(m) ? json_array_size(m) : 1;
	size_t base = f->path_len + 1; /* the mapping's path, then PATH_MERGE */
	const char *key;
	int rc = 0;

	if (!origin)
		return LLMO_ENOMEM;
	for (size_t i = 0; !rc && i < nsrc; i++) {
		src = json_is_array(m) ? json_array_get(m, i) : m;
		if (!json_is_object(src)) {
			rc = conv_fail(c, LLMO_EPARSE, f->merge_line, f->merge_col,
				       "merge key << takes a mapping or a sequence of mappings, "
				       "not %s",
				       json_is_array(m) ? "a sequence holding other values"
							: llmo_json_type_name(m));
			break;
		}
		json_object_foreach(src, key, v) {
			json_t *idx;

			if (json_object_get(f->value, key))
				continue;
			idx = json_integer((json_int_t)i);
			if (json_object_set(f->value, key, v) || json_object_set_new(origin, key, idx)) {
				rc = LLMO_ENOMEM;
				break;
			}
		}
	}
	for (size_t j = f->merge_first; !rc && j < f->merge_end; j++) {
		struct yaml_entry e = c->entries.items[j];
		const char *rest = c->paths.data + e.off + base;
		size_t rn = e.len - base, i = 0, skip;
		json_t *from;

		if (e.len <= base)
			continue;
		llmo_path_iter_reset(&c->it, rest, rn, false);
		if (json_is_array(m)) {
			if (llmo_path_iter_next(&c->it) != 1 || !c->it.is_index)
				continue;
			i = c->it.index;
		}
		skip = (size_t)(c->it.p - rest);
		if (memchr(rest, PATH_MERGE, rn) || llmo_path_iter_next(&c->it) != 1 ||
		    c->it.is_index)
			continue;
		from = json_object_getn(origin, c->it.key.data, c->it.key.len);
		if (!from || (size_t)json_integer_value(from) != i)
			continue;
		rc = conv_record(c, e.off + base + skip, rn - skip, e.line, e.col);
	}
	json_decref(origin);
	return rc;
}

static int conv_close(struct yaml_conv *c)
{
	struct yaml_frame *f = &c->frames[c->depth - 1];
	int height = f->child_height + 1;
	json_t *v;
	int rc = 0;

	if (f->merge) {
		rc = conv_merge(c, f);
		json_decref(f->merge);
		f->merge = NULL;
		if (rc)
			return rc;
	}
	if (f->anchor)
		conv_anchor_close(c, f->anchor - 1, f->value, f->nodes_at, height);
	v = f->value;
	f->value = NULL;
	c->depth--;
	return conv_attach(c, v, height);
}

/* --- documents --- */

/* Drops everything of the current document but the stream-wide settings. */
static void conv_doc_reset(struct yaml_conv *c)
{
	while (c->depth > 0) {
		struct yaml_frame *f = &c->frames[--c->depth];

		json_decref(f->value);
		json_decref(f->merge);
		free(f->key);
	}
	for (size_t i = 0; i < c->defs.len; i++)
		json_decref(c->defs.items[i].value);
	for (size_t i = 0; i < c->names.len; i++)
		free(c->names.items[i].name);
	llmo_vec_release(&c->defs);
	llmo_vec_release(&c->names);
	llmo_vec_release(&c->entries);
	llmo_buf_release(&c->paths);
	llmo_buf_reset(&c->path);
	json_decref(c->root);
	c->root = NULL;
	c->root_empty = false;
	c->nodes = 0;
	c->start_line = 0;
}

static int conv_doc_end(struct yaml_conv *c, struct llmo_yaml_doc *d, bool *kept)
{
	int rc;

	*kept = false;
	if (!c->root || c->root_empty)
		return 0;
	rc = conv_finish_lines(c, &d->lines);
	if (rc)
		return rc;
	d->root = c->root;
	c->root = NULL;
	d->start_line = c->start_line;
	*kept = true;
	return 0;
}

static void diag_discard(struct fy_diag *diag, void *user, const char *buf, size_t len)
{
}

/* The first error libfyaml collected, as "name:line:col: message". */
static int syntax_error(struct fy_diag *diag, const char *name, struct llmo_error *err)
{
	struct fy_diag_error *de;
	void *it = NULL;

	while ((de = fy_diag_errors_iterate(diag, &it)) != NULL) {
		if (de->type < FYET_ERROR)
			continue;
		if (de->line <= 0)
			return llmo_error_set(err, LLMO_EPARSE, "%s: %s", name, de->msg);
		return llmo_error_set(err, LLMO_EPARSE, "%s:%d:%d: %s", name, de->line,
				      de->column, de->msg);
	}
	return llmo_error_set(err, LLMO_EPARSE, "%s: malformed YAML", name);
}

static void doc_release(struct llmo_yaml_doc *d)
{
	json_decref(d->root);
	lines_free(d->lines);
	memset(d, 0, sizeof(*d));
}

void llmo_yaml_stream_release(struct llmo_yaml_stream *s)
{
	for (size_t i = 0; i < s->ndocs; i++)
		doc_release(&s->docs[i]);
	free(s->docs);
	free(s->filename);
	memset(s, 0, sizeof(*s));
}

int llmo_yaml_parse(const char *text, size_t len, const char *filename,
		    struct llmo_yaml_stream *out, struct llmo_error *err)
{
	LLMO_VEC(struct llmo_yaml_doc) docs = LLMO_VEC_INIT;
	struct llmo_yaml_stream s = {0};
	struct fy_parser *fyp = NULL;
	struct fy_diag *diag = NULL;
	struct fy_diag_cfg dcfg;
	struct fy_parse_cfg pcfg;
	struct yaml_conv c;
	struct fy_event *e;
	int rc;

	memset(out, 0, sizeof(*out));
	llmo_error_clear(err);
	memset(&c, 0, sizeof(c));
	llmo_buf_init(&c.path, LLMO_YAML_INDEX_MAX);
	llmo_buf_init(&c.paths, LLMO_YAML_INDEX_MAX);
	llmo_path_iter_init(&c.it, "");
	llmo_buf_init(&c.quoted, LLMO_YAML_FILE_MAX);
	c.filename = filename ? filename : "<input>";
	c.err = err;
	if (!text)
		text = "";
	c.text = text;
	c.len = len;
	if (len > LLMO_YAML_FILE_MAX) {
		rc = llmo_error_set(err, LLMO_ETOOBIG, "%s: input exceeds %zu MiB", c.filename,
				    LLMO_YAML_FILE_MAX >> 20);
		goto out;
	}
	rc = check_input(text, len, c.filename, err);
	if (rc)
		goto out;
	rc = LLMO_ENOMEM;
	s.filename = strdup(c.filename);
	if (!s.filename)
		goto out;

	/* collect libfyaml's messages instead of letting it print them */
	fy_diag_cfg_default(&dcfg);
	dcfg.fp = NULL;
	dcfg.output_fn = diag_discard;
	dcfg.colorize = false;
	dcfg.level = FYET_ERROR;
	diag = fy_diag_create(&dcfg);
	if (!diag)
		goto out;
	fy_diag_set_collect_errors(diag, true);
	memset(&pcfg, 0, sizeof(pcfg));
	/* duplicate keys are found here, to report them by name */
	pcfg.flags = FYPCF_QUIET | FYPCF_DEFAULT_VERSION_1_2 | FYPCF_ALLOW_DUPLICATE_KEYS |
		     FYPCF_JSON_NONE;
	pcfg.diag = diag;
	fyp = fy_parser_create(&pcfg);
	if (!fyp || fy_parser_set_string(fyp, text, len) != 0)
		goto out;

	rc = 0;
	while (!rc && (e = fy_parser_parse(fyp)) != NULL) {
		const struct fy_mark *m = fy_event_start_mark(e);

		if (m) {
			c.line = m->line + 1;
			c.col = m->column + 1;
		}
		switch (e->type) {
		case FYET_DOCUMENT_START:
			conv_doc_reset(&c);
			if (m)
				c.start_line = m->line + 1;
			break;
		case FYET_DOCUMENT_END: {
			struct llmo_yaml_doc d = {0};
			bool kept;

			rc = conv_doc_end(&c, &d, &kept);
			if (rc || !kept)
				break;
			if (!llmo_vec_push(&docs)) {
				doc_release(&d);
				rc = LLMO_ENOMEM;
				break;
			}
			docs.items[docs.len - 1] = d;
			break;
		}
		case FYET_SCALAR:
			rc = conv_scalar(&c, e, m);
			break;
		case FYET_ALIAS:
			rc = conv_alias(&c, e, m);
			break;
		case FYET_MAPPING_START:
		case FYET_SEQUENCE_START:
			rc = conv_open(&c, e, m);
			break;
		case FYET_MAPPING_END:
		case FYET_SEQUENCE_END:
			rc = conv_close(&c);
			break;
		default:
			break;
		}
		fy_parser_event_free(fyp, e);
	}
	if (!rc && fy_parser_get_stream_error(fyp))
		rc = syntax_error(diag, c.filename, err);
	if (rc)
		goto out;
	s.docs = docs.items;
	s.ndocs = docs.len;
	docs.items = NULL;
	docs.len = 0;
	*out = s;
	memset(&s, 0, sizeof(s));
out:
	if (rc && err && !err->code)
		llmo_error_set(err, rc, "%s: %s", c.filename, llmo_strerror(rc));
	for (size_t i = 0; i < docs.len; i++)
		doc_release(&docs.items[i]);
	llmo_vec_release(&docs);
	conv_doc_reset(&c);
	llmo_buf_release(&c.path);
	llmo_path_iter_release(&c.it);
	llmo_buf_release(&c.quoted);
	llmo_yaml_stream_release(&s);
	if (fyp)
		fy_parser_destroy(fyp);
	if (diag)
		fy_diag_destroy(diag);
	return rc;
}

int llmo_yaml_load_file(const char *path, struct llmo_yaml_stream *out, struct llmo_error *err)
{
	struct llmo_buf b;
	char chunk[64 * 1024];
	FILE *f;
	size_t n;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	llmo_buf_init(&b, LLMO_YAML_FILE_MAX);
	f = fopen(path, "rb");
	if (!f) {
		if (errno == ENOENT || errno == ENOTDIR)
			rc = llmo_error_set(err, LLMO_ENOTFOUND, "%s: no such file", path);
		else
			rc = llmo_error_set(err, LLMO_EIO, "%s: %s", path, strerror(errno));
		goto out;
	}
	while (!rc && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		rc = llmo_buf_append(&b, chunk, n);
	if (rc == LLMO_ETOOBIG) {
		llmo_error_set(err, rc, "%s: file exceeds %zu MiB", path, LLMO_YAML_FILE_MAX >> 20);
		goto out;
	}
	if (rc) {
		llmo_error_set(err, rc, "%s: out of memory", path);
		goto out;
	}
	if (ferror(f)) {
		rc = llmo_error_set(err, LLMO_EIO, "%s: %s", path, strerror(errno));
		goto out;
	}
	rc = llmo_yaml_parse(b.data, b.len, path, out, err);
out:
	if (f)
		fclose(f);
	llmo_buf_release(&b);
	return rc;
}

/* --- lookups --- */

static const struct yaml_line *lines_find(const struct llmo_yaml_lines *l, const char *path,
					  size_t len)
{
	struct yaml_line key = {.path = path, .len = len};

	return bsearch(&key, l->items, l->n, sizeof(*l->items), line_cmp);
}

/*
 * The entry of path or of its nearest ancestor that has one. The path is
 * rewritten in canonical form first, so `a["b"]` finds "a.b".
 */
static const struct yaml_line *doc_lookup(const struct llmo_yaml_doc *d, const char *path)
{
	LLMO_VEC(size_t) ends = LLMO_VEC_INIT;
	const struct yaml_line *found = NULL;
	struct llmo_path_iter it;
	struct llmo_buf canon;
	size_t *end;
	int rc;

	if (!d || !d->lines)
		return NULL;
	llmo_buf_init(&canon, LLMO_YAML_INDEX_MAX);
	llmo_path_iter_init(&it, path);
	end = llmo_vec_push(&ends);
	if (!end)
		goto out;
	while ((rc = llmo_path_iter_next(&it)) > 0) {
		rc = it.is_index ? llmo_path_push_index(&canon, it.index)
				 : llmo_path_push_keyn(&canon, it.key.data, it.key.len);
		if (rc)
			goto out;
		end = llmo_vec_push(&ends);
		if (!end)
			goto out;
		*end = canon.len;
	}
	if (rc < 0)
		goto out;
	for (size_t i = ends.len; !found && i-- > 0;)
		found = lines_find(d->lines, canon.data, ends.items[i]);
out:
	llmo_path_iter_release(&it);
	llmo_buf_release(&canon);
	llmo_vec_release(&ends);
	return found;
}

int llmo_yaml_line(const struct llmo_yaml_doc *d, const char *path)
{
	const struct yaml_line *l = doc_lookup(d, path);

	return l ? l->line : 0;
}

int llmo_yaml_column(const struct llmo_yaml_doc *d, const char *path)
{
	const struct yaml_line *l = doc_lookup(d, path);

	return l ? l->col : 0;
}
