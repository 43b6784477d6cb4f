/*
 * Manifest checks (manifest.h).
 */
#include "base/common.h"

#include <strings.h>

#include "base/json.h"
#include "registry/manifest.h"

#include "base/banned.h"

static const char *const types[] = {LLMO_OCI_MANIFEST, LLMO_OCI_INDEX, LLMO_DOCKER_MANIFEST,
				    LLMO_DOCKER_LIST};

const char *llmo_oci_manifest_type(const char *mt, size_t len)
{
	size_t n = 0;

	/* the type without parameters or surrounding blanks */
	while (len && (*mt == ' ' || *mt == '\t'))
		mt++, len--;
	while (n < len && mt[n] != ';' && mt[n] != ' ' && mt[n] != '\t')
		n++;
	for (size_t i = 0; i < LLMO_ARRAY_LEN(types); i++)
		if (strlen(types[i]) == n && strncasecmp(types[i], mt, n) == 0)
			return types[i];
	return NULL;
}

static bool generic_type(const char *mt)
{
	size_t n = strcspn(mt, "; \t");

	return n == 0 || (n == 16 && strncasecmp(mt, "application/json", 16) == 0) ||
	       (n == 24 && strncasecmp(mt, "application/octet-stream", 24) == 0);
}

static int descriptor(json_t *j, const char *path, struct llmo_oci_descriptor *d,
		      struct llmo_error *err)
{
	json_t *mt = json_object_get(j, "mediaType"), *dg = json_object_get(j, "digest");
	json_t *sz = json_object_get(j, "size"), *at = json_object_get(j, "artifactType");
	json_t *an = json_object_get(j, "annotations"), *urls = json_object_get(j, "urls");
	struct llmo_error derr = {0};

	memset(d, 0, sizeof(*d));
	if (!json_is_object(j))
		return llmo_error_set(err, LLMO_EINVAL, "%s: expected a descriptor object", path);
	if (!json_is_string(mt) || json_string_length(mt) == 0)
		return llmo_error_set(err, LLMO_EINVAL, "%s.mediaType: expected a string", path);
	if (!json_is_string(dg) ||
	    llmo_digest_parse(json_string_value(dg), json_string_length(dg), &d->digest, &derr))
		return llmo_error_set(err, LLMO_EINVAL, "%s.digest: %s", path,
				      json_is_string(dg) ? derr.msg : "expected a string");
	if (!json_is_integer(sz) || json_integer_value(sz) < 0)
		return llmo_error_set(err, LLMO_EINVAL, "%s.size: expected a non-negative integer",
				      path);
	if (at && !json_is_string(at))
		return llmo_error_set(err, LLMO_EINVAL, "%s.artifactType: expected a string", path);
	if (an && !json_is_object(an))
		return llmo_error_set(err, LLMO_EINVAL, "%s.annotations: expected an object", path);
	d->media_type = json_string_value(mt);
	d->artifact_type = at ? json_string_value(at) : NULL;
	d->size = (uint64_t)json_integer_value(sz);
	d->external = json_is_array(urls) && json_array_size(urls) > 0;
	d->annotations = an;
	return 0;
}

void llmo_oci_manifest_release(struct llmo_oci_manifest *m)
{
	llmo_vec_release(&m->refs);
	json_decref(m->root);
	memset(m, 0, sizeof(*m));
}

int llmo_oci_manifest_parse(const char *body, size_t len, const char *content_type,
			    struct llmo_oci_manifest *out, struct llmo_error *err)
{
	const char *ct = NULL, *field = NULL;
	json_t *mt, *list, *v, *at, *an;
	char path[64];
	int rc;

	memset(out, 0, sizeof(*out));
	rc = llmo_json_load(body, len, "manifest", &out->root, err);
	if (rc)
		return rc;
	if (!json_is_object(out->root)) {
		rc = llmo_error_set(err, LLMO_EINVAL, "a manifest is a JSON object");
		goto out;
	}
	if (content_type && !generic_type(content_type)) {
		ct = llmo_oci_manifest_type(content_type, strlen(content_type));
		if (!ct) {
			rc = llmo_error_set(err, LLMO_EUNSUPPORTED,
					    "unsupported manifest media type \"%.100s\" (OCI image "
					    "manifest or index, Docker v2 schema 2 manifest or list)",
					    content_type);
			goto out;
		}
	}
	mt = json_object_get(out->root, "mediaType");
	if (mt) {
		if (!json_is_string(mt)) {
			rc = llmo_error_set(err, LLMO_EINVAL, "mediaType: expected a string");
			goto out;
		}
		field = llmo_oci_manifest_type(json_string_value(mt), json_string_length(mt));
		if (!field) {
			rc = llmo_error_set(err, LLMO_EUNSUPPORTED,
					    "unsupported manifest media type \"%.100s\"",
					    json_string_value(mt));
			goto out;
		}
		if (ct && strcmp(ct, field) != 0) {
			rc = llmo_error_set(err, LLMO_EINVAL,
					    "mediaType \"%s\" differs from the Content-Type \"%s\"",
					    field, ct);
			goto out;
		}
	}
	out->media_type = ct ? ct : field;
	if (!out->media_type)
		out->media_type = json_object_get(out->root, "manifests") ? LLMO_OCI_INDEX
									  : LLMO_OCI_MANIFEST;
	out->is_index = strcmp(out->media_type, LLMO_OCI_INDEX) == 0 ||
			strcmp(out->media_type, LLMO_DOCKER_LIST) == 0;
	v = json_object_get(out->root, "schemaVersion");
	if (!json_is_integer(v) || json_integer_value(v) != 2) {
		rc = llmo_error_set(err, LLMO_EINVAL, "schemaVersion: expected 2");
		goto out;
	}
	at = json_object_get(out->root, "artifactType");
	if (at && !json_is_string(at)) {
		rc = llmo_error_set(err, LLMO_EINVAL, "artifactType: expected a string");
		goto out;
	}
	an = json_object_get(out->root, "annotations");
	if (an && !json_is_object(an)) {
		rc = llmo_error_set(err, LLMO_EINVAL, "annotations: expected an object");
		goto out;
	}
	out->annotations = an;
	out->artifact_type = at ? json_string_value(at) : NULL;
	if (!out->is_index) {
		v = json_object_get(out->root, "config");
		if (!v) {
			rc = llmo_error_set(err, LLMO_EINVAL, "config: missing");
			goto out;
		}
		if ((rc = descriptor(v, "config", &out->config, err)))
			goto out;
		out->has_config = true;
		if (!out->artifact_type)
			out->artifact_type = out->config.media_type;
	}
	list = json_object_get(out->root, out->is_index ? "manifests" : "layers");
	/* an OCI artifact may have no layers at all */
	if ((list || strcmp(out->media_type, LLMO_OCI_MANIFEST) != 0) && !json_is_array(list)) {
		rc = llmo_error_set(err, LLMO_EINVAL, "%s: expected an array",
				    out->is_index ? "manifests" : "layers");
		goto out;
	}
	if (list && json_array_size(list) > LLMO_OCI_REFS_MAX) {
		rc = llmo_error_set(err, LLMO_EINVAL, "more than %d descriptors", LLMO_OCI_REFS_MAX);
		goto out;
	}
	for (size_t i = 0; list && i < json_array_size(list); i++) {
		struct llmo_oci_descriptor *d = llmo_vec_push(&out->refs);

		if (!d) {
			rc = llmo_error_set(err, LLMO_ENOMEM, "out of memory");
			goto out;
		}
		snprintf(path, sizeof(path), "%s[%zu]", out->is_index ? "manifests" : "layers", i);
		if ((rc = descriptor(json_array_get(list, i), path, d, err)))
			goto out;
	}
	v = json_object_get(out->root, "subject");
	if (v) {
		if ((rc = descriptor(v, "subject", &out->subject, err)))
			goto out;
		out->has_subject = true;
	}
out:
	if (rc)
		llmo_oci_manifest_release(out);
	return rc;
}
