/*
 * Reading the gateway's files with located errors (doc.h).
 */
#include "base/common.h"

#include "base/file.h"
#include "base/json.h"
#include "gateway/doc.h"

#include "base/banned.h"

int llmo_gw_doc_bad(struct llmo_gw_doc *c, const char *fmt, ...)
{
	char msg[LLMO_ERRMSG_MAX];
	va_list ap;
	int line = c->doc ? llmo_yaml_line(c->doc, c->path.data) : 0;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line > 0)
		return llmo_error_set(c->err, LLMO_EINVAL, "%s:%d: %s: %s", c->name, line,
				      c->path.len ? c->path.data : "(top)", msg);
	return llmo_error_set(c->err, LLMO_EINVAL, "%s: %s: %s", c->name,
			      c->path.len ? c->path.data : "(top)", msg);
}

int llmo_gw_doc_known_keys(struct llmo_gw_doc *c, const json_t *obj, const char *const *allowed)
{
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)obj, key, v) {
		bool ok = false;

		for (size_t i = 0; allowed[i] && !ok; i++)
			ok = strcmp(key, allowed[i]) == 0;
		if (!ok) {
			size_t keep = c->path.len;
			int rc;

			llmo_path_push_key(&c->path, key);
			rc = llmo_gw_doc_bad(c, "unknown key");
			llmo_buf_truncate(&c->path, keep);
			return rc;
		}
	}
	return 0;
}

int llmo_gw_doc_read(const char *path, size_t max, struct llmo_yaml_stream *s,
		     struct llmo_error *err)
{
	struct llmo_buf text;
	int rc;

	llmo_buf_init(&text, max);
	if ((rc = llmo_file_read(path, max, &text, err)))
		goto out;
	if ((rc = llmo_yaml_parse(text.data, text.len, path, s, err)))
		goto out;
	if (s->ndocs != 1)
		rc = llmo_error_set(err, LLMO_EINVAL, "%s: expected one document, found %zu", path,
				    s->ndocs);
out:
	llmo_buf_release(&text);
	return rc;
}

int llmo_gw_doc_string(struct llmo_gw_doc *c, const json_t *obj, const char *key, size_t max,
		       const char **out, bool required)
{
	json_t *v = json_object_get(obj, key);
	size_t keep = c->path.len;
	int rc = 0;

	*out = NULL;
	llmo_path_push_key(&c->path, key);
	if (!v) {
		if (required)
			rc = llmo_gw_doc_bad(c, "required");
	} else if (!json_is_string(v) || json_string_length(v) == 0) {
		rc = llmo_gw_doc_bad(c, "expected a non-empty string");
	} else if (json_string_length(v) > max ||
		   strlen(json_string_value(v)) != json_string_length(v)) {
		rc = llmo_gw_doc_bad(c, "longer than %zu bytes or holds a NUL", max);
	} else {
		*out = json_string_value(v);
	}
	llmo_buf_truncate(&c->path, keep);
	return rc;
}
