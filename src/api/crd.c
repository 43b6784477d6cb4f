#include "api/crd.h"
#include "base/yaml.h"

#include <pthread.h>

#define CRDS_MAX 8

static struct llmo_crd crds[CRDS_MAX];
static size_t ncrds;
static struct llmo_yaml_stream crd_stream;
static struct llmo_error crd_err;
static pthread_once_t crd_once = PTHREAD_ONCE_INIT;

static const char *str_at(const json_t *obj, const char *a, const char *b)
{
	const json_t *v = json_object_get(obj, a);

	if (b)
		v = json_object_get(v, b);
	return json_string_value(v);
}

static int crd_from_doc(const json_t *doc, struct llmo_crd *c)
{
	const json_t *spec = json_object_get(doc, "spec");
	const json_t *versions = json_object_get(spec, "versions");
	const char *scope = str_at(spec, "scope", NULL);
	size_t i;
	json_t *v;

	c->doc = doc;
	c->group = str_at(spec, "group", NULL);
	c->kind = str_at(spec, "names", "kind");
	c->plural = str_at(spec, "names", "plural");
	c->singular = str_at(spec, "names", "singular");
	c->namespaced = scope && strcmp(scope, "Namespaced") == 0;
	json_array_foreach(versions, i, v) {
		if (!json_is_true(json_object_get(v, "storage")))
			continue;
		c->version = str_at(v, "name", NULL);
		c->schema = json_object_get(json_object_get(v, "schema"), "openAPIV3Schema");
	}
	if (!c->group || !c->kind || !c->plural || !c->version || !json_is_object(c->schema))
		return llmo_error_set(&crd_err, LLMO_EINTERNAL,
				      "crd.yaml: a CustomResourceDefinition lacks group, names, "
				      "a storage version or its openAPIV3Schema");
	return 0;
}

static void crds_load(void)
{
	if (llmo_yaml_parse(llmo_crd_yaml, llmo_crd_yaml_len, "crd.yaml", &crd_stream, &crd_err))
		return;
	for (size_t i = 0; i < crd_stream.ndocs; i++) {
		const json_t *doc = crd_stream.docs[i].root;
		const char *kind = str_at(doc, "kind", NULL);

		if (!kind || strcmp(kind, "CustomResourceDefinition") != 0)
			continue;
		if (ncrds == CRDS_MAX) {
			llmo_error_set(&crd_err, LLMO_EINTERNAL, "crd.yaml: more than %d CRDs",
				       CRDS_MAX);
			return;
		}
		if (crd_from_doc(doc, &crds[ncrds]))
			return;
		ncrds++;
	}
}

int llmo_crds(const struct llmo_crd **out, size_t *n, struct llmo_error *err)
{
	pthread_once(&crd_once, crds_load);
	if (crd_err.code) {
		if (err)
			*err = crd_err;
		return crd_err.code;
	}
	*out = crds;
	*n = ncrds;
	return 0;
}

const struct llmo_crd *llmo_crd_find(const char *api_version, const char *kind)
{
	const struct llmo_crd *all;
	size_t n;

	if (!api_version || !kind || llmo_crds(&all, &n, NULL))
		return NULL;
	for (size_t i = 0; i < n; i++) {
		size_t glen = strlen(all[i].group);

		if (strcmp(all[i].kind, kind) == 0 && strncmp(api_version, all[i].group, glen) == 0 &&
		    api_version[glen] == '/' && strcmp(api_version + glen + 1, all[i].version) == 0)
			return &all[i];
	}
	return NULL;
}
