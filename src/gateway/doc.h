#ifndef LLMO_GATEWAY_DOC_H
#define LLMO_GATEWAY_DOC_H
/*
 * struct llmo_gw_doc: reading one of the gateway's files (the backends
 * file, the keys file) with errors that name the file, the line and the
 * field path: "backends.yaml:5: models[0].endpoints[0].weight: expected ...".
 * The reader keeps the path of the field it is at in `path` (pushed and
 * truncated as it descends, base/json.h's llmo_path_push_*).
 */
#include "base/common.h"

#include <jansson.h>

#include "base/buf.h"
#include "base/error.h"
#include "base/yaml.h"

struct llmo_gw_doc {
	const struct llmo_yaml_doc *doc; /* line numbers; may be NULL */
	const char *name;		 /* the file's name in messages */
	struct llmo_error *err;
	struct llmo_buf path; /* the field being read */
};

/* Sets the error "name:line: path: message" (no line without doc) and returns LLMO_EINVAL. */
int llmo_gw_doc_bad(struct llmo_gw_doc *c, const char *fmt, ...) LLMO_PRINTF(2, 3);

/* Every key of obj is in allowed (NULL-terminated); else an "unknown key" error at it. */
int llmo_gw_doc_known_keys(struct llmo_gw_doc *c, const json_t *obj, const char *const *allowed);

/*
 * The string member key of obj into *out (NULL when absent, an error when
 * required): non-empty, at most max bytes, no NUL.
 */
int llmo_gw_doc_string(struct llmo_gw_doc *c, const json_t *obj, const char *key, size_t max,
		       const char **out, bool required);

/*
 * Reads the file at path (at most max bytes) and parses it as YAML (JSON
 * is YAML) into s, which must hold exactly one document. The caller
 * releases s (llmo_yaml_stream_release) whatever the outcome.
 */
int llmo_gw_doc_read(const char *path, size_t max, struct llmo_yaml_stream *s,
		     struct llmo_error *err);

#endif
