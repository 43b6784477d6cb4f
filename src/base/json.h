#ifndef LLMO_JSON_H
#define LLMO_JSON_H
/*
 * Field paths and small helpers over jansson.
 *
 * Field paths name a value inside a document the way Kubernetes validation
 * messages do:
 *
 *     spec.scaling.targetMetrics[0].target
 *     metadata.labels["app.kubernetes.io/name"]
 *
 * A map key made only of letters, digits, '-' and '_' is written after a '.'
 * (no '.' at the very start); any other key (empty, or holding '.', '/', a
 * space, ...) is written in brackets as a double-quoted string instead, with '"', '\' and control
 * characters escaped as in JSON. An array index is written "[i]". The empty
 * path "" names the root.
 *
 * Paths are built in a struct llmo_buf while walking a document: save
 * path->len, push, recurse, then llmo_buf_truncate() back to the saved length.
 */
#include "base/common.h"

#include <jansson.h>

#include "base/buf.h"
#include "base/error.h"

/*
 * Appends the step for map key `key` (a C string): 0, or the llmo_buf error
 * with path unchanged.
 */
int llmo_path_push_key(struct llmo_buf *path, const char *key);
/* The same for a key of `len` bytes, which may hold any bytes. */
int llmo_path_push_keyn(struct llmo_buf *path, const char *key, size_t len);
/* Appends "[i]". */
int llmo_path_push_index(struct llmo_buf *path, size_t i);

/*
 * Reads a path back one step at a time:
 *
 *     struct llmo_path_iter it;
 *     llmo_path_iter_init(&it, "spec.containers[0].name");
 *     while ((rc = llmo_path_iter_next(&it)) > 0)
 *             use(it.is_index ? index it.index : key it.key.data / it.key.len);
 *     llmo_path_iter_release(&it);
 *
 * llmo_path_iter_next returns 1 with a step, 0 at the end and LLMO_EINVAL
 * when the rest of the path is malformed (an empty plain key, a bad index or
 * escape, a missing '.' between steps), or LLMO_ENOMEM.
 * Quoted keys are unescaped; it.key may then hold any byte, NUL included.
 */
struct llmo_path_iter {
	const char *p;   /* next unread byte */
	const char *end; /* end of the path */
	bool first;      /* no step read yet: a plain key needs no leading '.' */
	bool is_index;
	size_t index;
	struct llmo_buf key; /* the step's key; owned by the iterator */
};

void llmo_path_iter_init(struct llmo_path_iter *it, const char *path);
/*
 * Points the iterator at the `len` bytes at `path`, keeping its key buffer.
 * first = false reads `path` as the continuation of a longer path, so its
 * first step must begin with '.' or '['.
 */
void llmo_path_iter_reset(struct llmo_path_iter *it, const char *path, size_t len, bool first);
int llmo_path_iter_next(struct llmo_path_iter *it);
void llmo_path_iter_release(struct llmo_path_iter *it);

/*
 * Parses `len` bytes of JSON text. Any JSON value is accepted at the top;
 * duplicate object keys and "\u0000" in strings are rejected. On success *out
 * holds a new reference (the caller json_decref()s it). On failure *out is
 * NULL and err reads "name:line:col: <jansson's message>" (name may be NULL:
 * "<input>"), code LLMO_EPARSE.
 */
int llmo_json_load(const char *text, size_t len, const char *name, json_t **out,
		   struct llmo_error *err);

/*
 * Serialises v with object keys sorted: compact, or indented by two spaces
 * when pretty. Reals use the fewest significant digits (15 to 17) that read
 * back exactly for every real in v, so 0.1 is written "0.1".
 * Returns a heap string the caller frees, or NULL when out of memory.
 */
char *llmo_json_dump(const json_t *v, bool pretty);

/* "object", "array", "string", "integer", "number", "boolean" or "null"; "missing" for NULL. */
/*
 * Like llmo_json_dump(v, false) but keeps the objects' key order (no sorting)
 * and gives each real its own fewest digits (15 to 17) that read back
 * exactly: for replies and stored rows. Written by llmo's own writer, not
 * jansson's json_dumps, whose JSON_COMPACT text it otherwise is. NULL when
 * out of memory, or when v holds a string that is not UTF-8 or nests deeper
 * than jansson's parser allows. Caller frees.
 */
char *llmo_json_dump_compact(const json_t *v);
/*
 * Appends v's llmo_json_dump_compact text to b. LLMO_EINVAL when v holds a
 * string that is not UTF-8 or nests deeper than jansson's parser allows (b
 * is then unchanged), LLMO_ENOMEM or LLMO_ETOOBIG from the buffer.
 */
int llmo_json_write(struct llmo_buf *b, const json_t *v);
/* Appends s (len bytes of UTF-8) as a JSON string; errors as llmo_json_write. */
int llmo_json_write_string(struct llmo_buf *b, const char *s, size_t len);

const char *llmo_json_type_name(const json_t *v);

/*
 * JSON equality with numbers compared by value (1 equals 1.0), as RFC 6902's
 * "test" and Kubernetes' structured-merge-diff define it; objects unordered.
 * jansson's json_equal treats 1 and 1.0 as different.
 */
bool llmo_json_equal_value(const json_t *a, const json_t *b);

/*
 * The value at `path` (syntax above, "" = root) under root, or NULL when a
 * step is missing, meets the wrong type, or the path is malformed.
 * Returns a borrowed reference: valid while root holds it.
 */
json_t *llmo_json_get_path(const json_t *root, const char *path);

#endif
