#ifndef LLMO_REGISTRY_MANIFEST_H
#define LLMO_REGISTRY_MANIFEST_H
/*
 * OCI image manifests and indexes (image-spec v1.1) and their Docker v2
 * schema 2 equivalents, as far as a registry checks them: the media type,
 * schemaVersion 2, well-formed descriptors (mediaType, sha256 digest,
 * size), the blobs or manifests they reference, the subject (for the
 * referrers API) and the artifact type.
 *
 * The media type of a pushed manifest is its Content-Type, or its
 * "mediaType" field when the Content-Type is absent or generic
 * (application/json, application/octet-stream); when both are given they
 * must agree. A body without either is read by its shape ("manifests":
 * an index; "config": an image manifest). Docker schema 1 is refused.
 */
#include "base/common.h"

#include <jansson.h>

#include "base/error.h"
#include "base/vec.h"
#include "registry/digest.h"

#define LLMO_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define LLMO_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define LLMO_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define LLMO_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define LLMO_OCI_EMPTY "application/vnd.oci.empty.v1+json"
/* Descriptors (layers, manifests) in one manifest. */
#define LLMO_OCI_REFS_MAX 10000

struct llmo_oci_descriptor {
	const char *media_type;    /* borrowed from the manifest's JSON */
	const char *artifact_type; /* NULL when absent */
	struct llmo_digest digest;
	uint64_t size;
	bool external; /* has "urls": a foreign layer the registry need not hold */
	json_t *annotations; /* borrowed; NULL when absent */
};

struct llmo_oci_manifest {
	json_t *root;           /* owned */
	const char *media_type; /* a static LLMO_OCI_* / LLMO_DOCKER_* string */
	bool is_index;
	/* artifactType, else (image manifests) the config's mediaType: what the
	 * referrers API reports and filters on. NULL for an index without one. */
	const char *artifact_type;
	bool has_config;
	struct llmo_oci_descriptor config;
	LLMO_VEC(struct llmo_oci_descriptor) refs; /* layers, or an index's manifests */
	bool has_subject;
	struct llmo_oci_descriptor subject;
	json_t *annotations; /* borrowed; NULL when absent */
};

/*
 * Parses len bytes of a manifest pushed with content_type (NULL when none)
 * into *out (free with llmo_oci_manifest_release; left empty on failure).
 * LLMO_EPARSE (not JSON), LLMO_EINVAL (not a valid manifest: err names the
 * field) or LLMO_EUNSUPPORTED (a media type this registry does not take).
 */
int llmo_oci_manifest_parse(const char *body, size_t len, const char *content_type,
			    struct llmo_oci_manifest *out, struct llmo_error *err);
void llmo_oci_manifest_release(struct llmo_oci_manifest *m);

/* Whether mt (parameters ignored) is one of the four manifest media types. */
const char *llmo_oci_manifest_type(const char *mt, size_t len);

#endif
