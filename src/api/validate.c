#include "api/validate.h"
#include "api/crd.h"
#include "api/model.h"
#include "api/schema.h"
#include "api/workload.h"
#include "base/error.h"
#include "base/json.h"

#include <dirent.h>
#include <strings.h>
#include <sys/stat.h>

#define VALIDATE_PATH_MAX 4096
#define VALIDATE_DIR_ENTRIES_MAX 10000
#define CONFIGMAP_KEY "config.yaml"

static int check_envelope(const json_t *obj, const struct llmo_crd **crd, struct llmo_errlist *errs)
{
	const char *api_version = json_string_value(json_object_get(obj, "apiVersion"));
	const char *kind = json_string_value(json_object_get(obj, "kind"));
	const struct llmo_crd *all;
	size_t n;

	*crd = NULL;
	if (!api_version)
		return llmo_errlist_add(errs, "apiVersion", json_object_get(obj, "apiVersion")
								    ? "expected string"
								    : "required field is missing");
	if (!kind)
		return llmo_errlist_add(errs, "kind", json_object_get(obj, "kind")
							      ? "expected string"
							      : "required field is missing");
	*crd = llmo_crd_find(api_version, kind);
	if (*crd || llmo_crds(&all, &n, NULL))
		return 0;
	for (size_t i = 0; i < n; i++) {
		size_t glen = strlen(all[i].group);

		if (strncmp(api_version, all[i].group, glen) == 0 && api_version[glen] == '/') {
			if (strcmp(all[i].kind, kind) == 0)
				return llmo_errlist_add(errs, "apiVersion",
							"\"%s\" is not served (served: %s/%s)",
							api_version, all[i].group, all[i].version);
			if (strcmp(api_version + glen + 1, all[i].version) == 0 &&
			    (strcasecmp(all[i].kind, kind) == 0 ||
			     strcasecmp(all[i].plural, kind) == 0 ||
			     strcasecmp(all[i].singular, kind) == 0))
				return llmo_errlist_add(errs, "kind",
							"unknown kind \"%s\" (did you mean \"%s\"?)",
							kind, all[i].kind);
		}
	}
	if (strncmp(api_version, LLMO_GROUP "/", strlen(LLMO_GROUP) + 1) == 0)
		return llmo_errlist_add(errs, "kind", "unknown kind \"%s\" in %s (known: "
					"LLMWorkload, LLMModel)", kind, LLMO_GROUP);
	return 0;
}

static int check_meta(const json_t *obj, bool namespaced, struct llmo_errlist *errs)
{
	struct llmo_object_meta meta = {0};
	const json_t *m = json_object_get(obj, "metadata");
	struct llmo_buf path;
	int rc;

	llmo_buf_init(&path, 4096);
	llmo_path_push_key(&path, "metadata");
	if (!m) {
		rc = llmo_errlist_add(errs, "metadata", "required field is missing");
		goto out;
	}
	if (!json_is_object(m)) {
		rc = llmo_errlist_add(errs, "metadata", "expected object, got %s",
				      llmo_json_type_name(m));
		goto out;
	}
	rc = llmo_fields_decode(llmo_object_meta_fields, m, &meta, &path, errs, 0);
	if (!rc && !llmo_errlist_has_under(errs, "metadata"))
		rc = llmo_object_meta_validate(&meta, namespaced, &path, errs);
out:
	llmo_fields_free(llmo_object_meta_fields, &meta);
	llmo_buf_release(&path);
	return rc;
}

int llmo_object_check(json_t *obj, const struct llmo_config *cfg, enum llmo_doc_kind *kind,
		      struct llmo_errlist *errs)
{
	const struct llmo_crd *crd = NULL;
	struct llmo_buf path;
	size_t before;
	int rc;

	*kind = LLMO_DOC_UNKNOWN;
	if (!json_is_object(obj))
		return llmo_errlist_add(errs, "", "expected an object, got %s",
					llmo_json_type_name(obj));
	before = llmo_errlist_count(errs);
	rc = check_envelope(obj, &crd, errs);
	if (rc || llmo_errlist_count(errs) > before)
		return rc;
	if (!crd) {
		*kind = LLMO_DOC_OTHER;
		return check_meta(obj, true, errs);
	}
	*kind = strcmp(crd->kind, "LLMWorkload") == 0 ? LLMO_DOC_WORKLOAD : LLMO_DOC_MODEL;

	llmo_buf_init(&path, 4096);
	rc = llmo_schema_validate(crd->schema, obj, &path, errs, LLMO_SCHEMA_UNKNOWN_FIELDS);
	llmo_buf_release(&path);
	if (!rc)
		rc = check_meta(obj, crd->namespaced, errs);
	if (rc || llmo_errlist_count(errs) > before)
		return rc;
	rc = llmo_schema_default(crd->schema, obj);
	if (rc)
		return rc;

	if (*kind == LLMO_DOC_WORKLOAD) {
		struct llmo_workload w = {0};

		rc = llmo_workload_decode(obj, &w, errs);
		if (!rc && llmo_errlist_count(errs) == before)
			rc = llmo_workload_validate(&w, cfg, errs);
		llmo_workload_free(&w);
	} else {
		struct llmo_model m = {0};

		rc = llmo_model_decode(obj, &m, errs);
		if (!rc && llmo_errlist_count(errs) == before)
			rc = llmo_model_validate(&m, errs);
		llmo_model_free(&m);
	}
	return rc;
}

/* ---- documents and files ---- */

static bool looks_like_config(const json_t *root)
{
	if (!json_is_object(root) || json_object_get(root, "apiVersion") ||
	    json_object_get(root, "kind"))
		return false;
	for (int i = 0; llmo_config_sections[i]; i++)
		if (json_object_get(root, llmo_config_sections[i]))
			return true;
	return false;
}

static void print_errors(const struct llmo_validate_opts *o, const char *file,
			 const struct llmo_yaml_doc *doc, int line_offset,
			 const struct llmo_errlist *errs)
{
	for (size_t i = 0; i < errs->v.len; i++) {
		const struct llmo_field_error *e = &errs->v.items[i];
		int line = doc ? llmo_yaml_line(doc, e->path) : 0;

		if (line)
			fprintf(o->out, "%s:%d: ", file, line + line_offset);
		else
			fprintf(o->out, "%s: ", file);
		if (*e->path)
			fprintf(o->out, "%s: ", e->path);
		fprintf(o->out, "%s\n", e->msg);
	}
	if (errs->dropped)
		fprintf(o->out, "%s: ... and %zu more problems\n", file, errs->dropped);
}

static const char *describe(const json_t *root, char *buf, size_t n)
{
	const json_t *meta = json_object_get(root, "metadata");
	const char *kind = json_string_value(json_object_get(root, "kind"));
	const char *ns = json_string_value(json_object_get(meta, "namespace"));
	const char *name = json_string_value(json_object_get(meta, "name"));

	snprintf(buf, n, "%s %s%s%s", kind ? kind : "object", ns ? ns : "", ns ? "/" : "",
		 name ? name : "(unnamed)");
	return buf;
}

static int check_config_doc(const json_t *root, const struct llmo_validate_opts *o,
			    const char *file, const struct llmo_yaml_doc *doc, int line_offset,
			    struct llmo_validate_result *res)
{
	struct llmo_config cfg = {0};
	struct llmo_errlist errs;
	int rc;

	llmo_errlist_init(&errs);
	rc = llmo_config_from_json(root, &cfg, &errs);
	if (!rc) {
		if (llmo_errlist_count(&errs)) {
			res->invalid++;
			print_errors(o, file, doc, line_offset, &errs);
		} else if (!o->quiet) {
			fprintf(o->out, "ok %s: orchestrator configuration\n", file);
		}
	}
	llmo_config_free(&cfg);
	llmo_errlist_release(&errs);
	return rc;
}

/* A ConfigMap that carries llmo's configuration under config.yaml: check that too. */
static int check_embedded_config(const json_t *root, const struct llmo_validate_opts *o,
				 const char *file, const struct llmo_yaml_doc *doc,
				 struct llmo_validate_result *res)
{
	const json_t *data = json_object_get(json_object_get(root, "data"), CONFIGMAP_KEY);
	const char *text = json_string_value(data);
	struct llmo_yaml_stream inner = {0};
	struct llmo_error err = {0};
	struct llmo_buf path;
	char name[VALIDATE_PATH_MAX];
	int outer_line, rc = 0;

	if (!text)
		return 0;
	llmo_buf_init(&path, 256);
	llmo_path_push_key(&path, "data");
	llmo_path_push_key(&path, CONFIGMAP_KEY);
	outer_line = llmo_yaml_line(doc, path.data);
	llmo_buf_release(&path);
	snprintf(name, sizeof(name), "%s (data.%s)", file, CONFIGMAP_KEY);
	if (llmo_yaml_parse(text, strlen(text), name, &inner, &err)) {
		res->invalid++;
		fprintf(o->out, "%s\n", err.msg);
		return 0;
	}
	for (size_t i = 0; !rc && i < inner.ndocs; i++)
		rc = check_config_doc(inner.docs[i].root, o, file, &inner.docs[i], outer_line, res);
	llmo_yaml_stream_release(&inner);
	return rc;
}

static int check_doc(struct llmo_yaml_doc *doc, const struct llmo_validate_opts *o,
		     const char *file, struct llmo_validate_result *res)
{
	enum llmo_doc_kind kind;
	struct llmo_errlist errs;
	char what[512];
	int rc;

	res->documents++;
	if (looks_like_config(doc->root))
		return check_config_doc(doc->root, o, file, doc, 0, res);

	llmo_errlist_init(&errs);
	describe(doc->root, what, sizeof(what));
	rc = llmo_object_check(doc->root, o->cfg, &kind, &errs);
	if (rc)
		goto out;
	if (kind == LLMO_DOC_UNKNOWN && llmo_errlist_count(&errs) == 0)
		llmo_errlist_add(&errs, "", "not a Kubernetes object (no apiVersion and kind) nor an "
				 "llmo configuration (no scheduler, resourceManager, modelRegistry, "
				 "operator, resourceProfiles or deploymentStrategies section)");
	if (llmo_errlist_count(&errs)) {
		res->invalid++;
		print_errors(o, file, doc, 0, &errs);
		goto out;
	}
	if (!o->quiet)
		fprintf(o->out, "ok %s: %s%s\n", file, what,
			kind == LLMO_DOC_OTHER ? " (not an llmo kind: envelope checked)" : "");
	if (kind == LLMO_DOC_OTHER)
		rc = check_embedded_config(doc->root, o, file, doc, res);
out:
	llmo_errlist_release(&errs);
	return rc;
}

static int validate_stream(struct llmo_yaml_stream *s, const char *name,
			   const struct llmo_validate_opts *o, struct llmo_validate_result *res)
{
	int rc = 0;

	if (s->ndocs == 0) {
		res->invalid++;
		fprintf(o->out, "%s: no documents\n", name);
	}
	for (size_t i = 0; !rc && i < s->ndocs; i++)
		rc = check_doc(&s->docs[i], o, name, res);
	return rc;
}

/*
 * One file after the YAML reader (rc, s and err are what it gave): validates
 * its documents, or counts it invalid and prints why it could not be read.
 */
static int validate_read(int rc, struct llmo_yaml_stream *s, const struct llmo_error *err,
			 const char *name, const struct llmo_validate_opts *opts,
			 struct llmo_validate_result *res)
{
	if (rc == LLMO_ENOMEM)
		return rc;
	if (rc) {
		res->invalid++;
		fprintf(opts->out, "%s\n", err->msg);
		return 0;
	}
	rc = validate_stream(s, name, opts, res);
	llmo_yaml_stream_release(s);
	return rc;
}

int llmo_validate_text(const char *text, size_t len, const char *name,
		       const struct llmo_validate_opts *opts, struct llmo_validate_result *res)
{
	struct llmo_yaml_stream s = {0};
	struct llmo_error err = {0};
	int rc;

	res->files++;
	rc = llmo_yaml_parse(text, len, name, &s, &err);
	return validate_read(rc, &s, &err, name, opts, res);
}

static bool wanted_file(const char *name)
{
	size_t n = strlen(name);

	return (n > 5 && strcmp(name + n - 5, ".yaml") == 0) ||
	       (n > 4 && strcmp(name + n - 4, ".yml") == 0) ||
	       (n > 5 && strcmp(name + n - 5, ".json") == 0);
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int validate_dir(const char *dir, const struct llmo_validate_opts *o,
			struct llmo_validate_result *res, int depth)
{
	LLMO_VEC(char *) names = LLMO_VEC_INIT;
	struct dirent *e;
	DIR *d = opendir(dir);
	int rc = 0;

	if (!d) {
		res->invalid++;
		fprintf(o->out, "%s: cannot open directory: %s\n", dir, strerror(errno));
		return 0;
	}
	while ((e = readdir(d)) != NULL && names.len < VALIDATE_DIR_ENTRIES_MAX) {
		char **slot;

		if (e->d_name[0] == '.')
			continue;
		slot = llmo_vec_push(&names);
		if (!slot || !(*slot = strdup(e->d_name))) {
			rc = LLMO_ENOMEM;
			break;
		}
	}
	closedir(d);
	if (names.len)
		qsort(names.items, names.len, sizeof(char *), cmp_names);
	for (size_t i = 0; !rc && i < names.len; i++) {
		char child[VALIDATE_PATH_MAX];
		struct stat st;

		snprintf(child, sizeof(child), "%s%s%s", dir,
			 dir[strlen(dir) - 1] == '/' ? "" : "/", names.items[i]);
		if (stat(child, &st) != 0)
			continue;
		if (S_ISDIR(st.st_mode) && depth < 16)
			rc = validate_dir(child, o, res, depth + 1);
		else if (S_ISREG(st.st_mode) && wanted_file(names.items[i]))
			rc = llmo_validate_path(child, o, res);
	}
	for (size_t i = 0; i < names.len; i++)
		free(names.items[i]);
	llmo_vec_release(&names);
	return rc;
}

int llmo_validate_path(const char *path, const struct llmo_validate_opts *opts,
		       struct llmo_validate_result *res)
{
	struct llmo_yaml_stream s = {0};
	struct llmo_error err = {0};
	struct stat st;
	int rc;

	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return validate_dir(path, opts, res, 0);
	res->files++;
	rc = llmo_yaml_load_file(path, &s, &err);
	return validate_read(rc, &s, &err, path, opts, res);
}
