#ifndef LLMO_YAML_H
#define LLMO_YAML_H
/*
 * YAML streams (libfyaml) converted to jansson values, with the source line
 * and column of every value kept so that messages can say where a field is.
 *
 * Typing follows the YAML 1.2 core schema, not YAML 1.1: Kubernetes' Go YAML
 * reads `yes`, `no`, `on`, `off` as booleans, llmo reads them as strings.
 * Plain (unquoted) scalars only:
 *   null, Null, NULL, ~ and the empty scalar          -> JSON null
 *   true, True, TRUE, false, False, FALSE             -> JSON true/false
 *   [-+]?[0-9]+, 0x[0-9a-fA-F]+, 0o[0-7]+              -> JSON integer (int64;
 *                                                         outside it: an error)
 *   [-+]?(.[0-9]+|[0-9]+(.[0-9]*)?)([eE][-+]?[0-9]+)? -> JSON real
 *   .inf, -.inf, .nan (any case form)                 -> an error: JSON has none
 * Everything else, and every quoted or block scalar, is a string. The tags
 * !!str, !!int, !!float, !!bool, !!null, !!map, !!seq and ! are honoured;
 * other tags are errors.
 *
 * Mapping keys are scalars and become strings as written (a plain key `1` is
 * the string "1"); complex keys, alias keys and duplicate keys are errors.
 * Anchors, aliases and merge keys (`<<: *base`, `<<: [*a, *b]`; keys written
 * in the mapping win, then the earlier sources) are resolved; every alias
 * becomes a copy, charged to LLMO_YAML_MAX_NODES, so alias bombs stop there.
 * Empty documents (only comments or "---") are skipped. JSON input goes
 * through the same path and gets lines too.
 *
 * Inputs are untrusted: a NUL byte or invalid UTF-8 is an error (libfyaml
 * would silently stop or drop text at them), and the limits below hold.
 */
#include "base/common.h"

#include <jansson.h>

#include "base/error.h"

/* Largest input, file or string. */
#define LLMO_YAML_FILE_MAX ((size_t)16 << 20)
/* Nodes one document may produce, counting every alias expansion in full. */
#define LLMO_YAML_MAX_NODES ((size_t)1000000)
/*
 * Collections nested in one another, after alias expansion. libfyaml stops
 * the parse at the same depth ("Max depth (64) exceeded").
 */
#define LLMO_YAML_MAX_DEPTH 64
/* Distinct anchor names in one document. */
#define LLMO_YAML_MAX_ANCHORS 10000
/* Bytes of path text in one document's line map. */
#define LLMO_YAML_INDEX_MAX ((size_t)64 << 20)

struct llmo_yaml_lines; /* private: path -> (line, column), sorted */

struct llmo_yaml_doc {
	json_t *root;                  /* owned; never NULL */
	struct llmo_yaml_lines *lines; /* owned; use llmo_yaml_line() */
	int start_line;                /* 1-based line of "---", or of the first node */
};

struct llmo_yaml_stream {
	struct llmo_yaml_doc *docs; /* owned, ndocs of them */
	size_t ndocs;
	char *filename; /* owned copy of the name given to llmo_yaml_parse */
};

/*
 * Parses every document of text[0, len). filename names the input in
 * messages (NULL: "<input>"). *out is overwritten, not released, and on
 * error left empty. Errors, all with "filename:line:col: " first:
 *   LLMO_EPARSE   syntax (libfyaml's message), scalar, key, tag or alias errors
 *   LLMO_ERANGE   an integer outside int64, a real that overflows, .inf/.nan
 *   LLMO_ETOOBIG  the input, node, depth, anchor or line-map limits above
 *   LLMO_ENOMEM
 */
int llmo_yaml_parse(const char *text, size_t len, const char *filename,
		    struct llmo_yaml_stream *out, struct llmo_error *err);

/*
 * Reads the file at path (at most LLMO_YAML_FILE_MAX bytes) and parses it,
 * naming it by path. A missing file is LLMO_ENOTFOUND "path: no such file";
 * other read failures are LLMO_EIO.
 */
int llmo_yaml_load_file(const char *path, struct llmo_yaml_stream *out,
			struct llmo_error *err);

/* Frees everything in s and leaves it empty. */
void llmo_yaml_stream_release(struct llmo_yaml_stream *s);

/*
 * The 1-based line of the value at `path` (llmo field-path syntax, see
 * base/json.h; "" is the root). A map member's position is that of its key,
 * so "spec.scaling" is the line of `scaling:` even when its value starts on
 * the next line; an item's is that of the item; values that came through an
 * alias or a merge key keep the lines where they are written in the anchored
 * node. When `path` has no node, the position of its nearest existing
 * ancestor is returned. 0 when unknown (a malformed path, a document that
 * did not come from llmo_yaml_parse).
 */
int llmo_yaml_line(const struct llmo_yaml_doc *d, const char *path);
/* The 1-based column by the same rules (inside the quotes, for a quoted key). */
int llmo_yaml_column(const struct llmo_yaml_doc *d, const char *path);

#endif
