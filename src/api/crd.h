#ifndef LLMO_API_CRD_H
#define LLMO_API_CRD_H
/*
 * The CustomResourceDefinitions of k8s/llm-orchestrator/crd.yaml, embedded in
 * the binary at build time: that file is the single source of truth for the
 * schemas of LLMWorkload and LLMModel.
 */
#include "base/error.h"
#include <jansson.h>

#define LLMO_GROUP "llm.orchestrator.io"
#define LLMO_VERSION_V1 "v1"
#define LLMO_API_VERSION LLMO_GROUP "/" LLMO_VERSION_V1

struct llmo_crd {
	const char *group;
	const char *version; /* the storage version */
	const char *kind;
	const char *plural;
	const char *singular;
	bool namespaced;
	const json_t *schema; /* openAPIV3Schema of the storage version */
	const json_t *doc;    /* the whole CustomResourceDefinition */
};

/* The embedded crd.yaml text. */
extern const char llmo_crd_yaml[];
extern const size_t llmo_crd_yaml_len;

/*
 * The embedded CRDs, parsed on first use (thread-safe) and kept for the life of
 * the process. Returns 0, or an error when crd.yaml cannot be used (a build
 * defect, reported with its line).
 */
int llmo_crds(const struct llmo_crd **out, size_t *n, struct llmo_error *err);

/* The embedded CRD serving apiVersion ("group/version") and kind, or NULL. */
const struct llmo_crd *llmo_crd_find(const char *api_version, const char *kind);

#endif
