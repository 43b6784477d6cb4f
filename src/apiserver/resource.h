#ifndef LLMO_APISERVER_RESOURCE_H
#define LLMO_APISERVER_RESOURCE_H
/*
 * The resources the embedded API server serves: built-in Kubernetes types
 * (stored as given, with the checks this server makes for them) and custom
 * resources from CustomResourceDefinitions, including llmo's own from the
 * embedded crd.yaml. A resource is found by (group, version, plural) from a
 * URL, or by (apiVersion, kind) from an object.
 */
#include "api/types.h"
#include "base/error.h"
#include "base/vec.h"
#include <jansson.h>

struct llmo_resource {
	char *group;     /* "" for the core group */
	char *version;   /* "v1" */
	char *plural;    /* "pods" */
	char *singular;  /* "pod" */
	char *kind;      /* "Pod" */
	char *list_kind; /* "PodList" */
	bool namespaced;
	struct llmo_strlist short_names;
	struct llmo_strlist categories;
	unsigned subresources; /* LLMO_SUB_* */
	json_t *schema;        /* openAPIV3Schema, or NULL: any object is accepted */
	json_t *ownership;     /* built-ins: the keyed lists server-side apply uses, built
				* from the strategic-merge tables on first use (handlers.c) */
	json_t *columns;       /* additionalPrinterColumns, or NULL */
	char *scale_spec_path; /* ".spec.replicas" for the scale subresource */
	char *scale_status_path;
	char *scale_selector_path;
	char *store_key; /* "group/plural", the store's resource key */
	bool from_crd;   /* served because a CustomResourceDefinition says so */
	bool review;     /* a review (SelfSubjectAccessReview, SelfSubjectReview): create
			  * only, answered, nothing stored */
	bool metrics;    /* metrics.k8s.io: read only, made from the usage the agent
			  * publishes on the objects at store_key (core pods or nodes) */
};

enum llmo_subresource {
	LLMO_SUB_STATUS = 1 << 0,
	LLMO_SUB_SCALE = 1 << 1,
	LLMO_SUB_BINDING = 1 << 2,
	LLMO_SUB_LOG = 1 << 3,
	LLMO_SUB_EVICTION = 1 << 4,
	LLMO_SUB_TOKEN = 1 << 5, /* serviceaccounts/token: TokenRequest */
};

struct llmo_resources {
	LLMO_VEC(struct llmo_resource *) v;
};

/* Registers the built-in types. */
int llmo_resources_init(struct llmo_resources *r);
void llmo_resources_release(struct llmo_resources *r);

/*
 * Serves (or re-serves, replacing the previous definition) the custom
 * resource a CustomResourceDefinition object describes: its storage version,
 * names, scope, schema, printer columns and subresources.
 */
int llmo_resources_add_crd(struct llmo_resources *r, const json_t *crd, struct llmo_error *err);
/* Stops serving the resources of the CRD named name ("plural.group"). */
void llmo_resources_remove_crd(struct llmo_resources *r, const char *crd_name);

const struct llmo_resource *llmo_resources_find(const struct llmo_resources *r, const char *group,
						 const char *version, const char *plural);
const struct llmo_resource *llmo_resources_find_kind(const struct llmo_resources *r,
						      const char *api_version, const char *kind);

/* "group/version", or "version" for the core group, into out. */
void llmo_resource_api_version(const struct llmo_resource *res, char *out, size_t n);

#endif
