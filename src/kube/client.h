#ifndef LLMO_KUBE_CLIENT_H
#define LLMO_KUBE_CLIENT_H
/*
 * The Kubernetes REST client every llmo component uses: blocking HTTP(S)
 * requests through libcurl, JSON in and out, with the API's errors mapped
 * to LLMO_E* codes.
 *
 * Threads: one struct llmo_kube_client may be shared by any number of
 * threads once built (set the timeouts and retries before sharing it).
 * Each request borrows a curl handle from a small pool and gives it back,
 * so connections are kept alive between requests.
 *
 * Errors of every request: LLMO_ENOTFOUND (404), LLMO_EEXIST (409
 * AlreadyExists), LLMO_ECONFLICT (other 409), LLMO_EGONE (410),
 * LLMO_EDENIED (401, 403), LLMO_EINVALID_OBJECT (422), LLMO_EAGAIN (429
 * after the retries), LLMO_EINVAL (other 4xx), LLMO_EIO (5xx, connection
 * and TLS failures), LLMO_ETIMEOUT (no answer in time), LLMO_ETOOBIG (a
 * response over LLMO_KUBE_RESPONSE_MAX), LLMO_EPARSE (a 2xx body that is not
 * JSON), LLMO_ENOMEM. For HTTP errors err->msg is the Status message
 * ("pods \"x\" not found"); for others it names the method and URL.
 */
#include "base/common.h"

#include <jansson.h>

#include "base/buf.h"
#include "base/error.h"
#include "kube/kubeconfig.h"

/* Largest response body read (a list of many objects). */
#define LLMO_KUBE_RESPONSE_MAX ((size_t)64 << 20)
/* Defaults; see llmo_kube_client_set_timeouts / _set_retries. */
#define LLMO_KUBE_CONNECT_TIMEOUT_MS 5000
#define LLMO_KUBE_TIMEOUT_MS 30000
#define LLMO_KUBE_ATTEMPTS 5
#define LLMO_KUBE_BACKOFF_MS 200
#define LLMO_KUBE_BACKOFF_MAX_MS 10000
/* Longest Retry-After honoured; longer ones are cut to this. */
#define LLMO_KUBE_RETRY_AFTER_MAX_MS 30000

struct llmo_kube_client;

/*
 * A REST resource: group "" for the core API ("/api/v1"), plural as in the
 * URL. The strings are not owned: use literals or strings that outlive
 * every use of the descriptor.
 */
struct llmo_kube_resource {
	const char *group;
	const char *version;
	const char *plural;
	bool namespaced;
};

extern const struct llmo_kube_resource llmo_kube_namespaces;
extern const struct llmo_kube_resource llmo_kube_nodes;
extern const struct llmo_kube_resource llmo_kube_pods;
extern const struct llmo_kube_resource llmo_kube_services;
extern const struct llmo_kube_resource llmo_kube_endpoints;
extern const struct llmo_kube_resource llmo_kube_configmaps;
extern const struct llmo_kube_resource llmo_kube_secrets;
extern const struct llmo_kube_resource llmo_kube_events;
extern const struct llmo_kube_resource llmo_kube_leases;
extern const struct llmo_kube_resource llmo_kube_networkpolicies;
extern const struct llmo_kube_resource llmo_kube_llmworkloads;
extern const struct llmo_kube_resource llmo_kube_llmmodels;

/*
 * Builds the client from cfg (copied: cfg may be released afterwards).
 * LLMO_EINVAL when cfg has no server; LLMO_ENOMEM; LLMO_EIO when libcurl
 * cannot start.
 */
int llmo_kube_client_new(const struct llmo_kube_config *cfg, struct llmo_kube_client **out,
			 struct llmo_error *err);
/* Frees the client; no request may be running. NULL is fine. */
void llmo_kube_client_free(struct llmo_kube_client *c);

/* Connect and whole-request timeouts in milliseconds (0 keeps the current value). */
void llmo_kube_client_set_timeouts(struct llmo_kube_client *c, long connect_ms, long total_ms);
/*
 * Attempts per request (1 = no retry) and the backoff: base_ms doubling per
 * attempt up to max_ms, each wait drawn at random from [d/2, d].
 */
void llmo_kube_client_set_retries(struct llmo_kube_client *c, int attempts, long base_ms,
				  long max_ms);
/* The namespace of the config the client was built from ("default" when none). */
const char *llmo_kube_client_namespace(const struct llmo_kube_client *c);

/*
 * Appends the URL path of resource r to out: the collection when name is
 * NULL, else the object, then "/subresource" when subresource is not NULL.
 * ns is used for namespaced resources only (NULL or "": all namespaces).
 * Names are percent-encoded. 0 or the llmo_buf error.
 *     /api/v1/namespaces/default/pods/web-0/status
 *     /apis/coordination.k8s.io/v1/namespaces/kube-system/leases/llmo
 */
int llmo_kube_path(const struct llmo_kube_resource *r, const char *ns, const char *name,
		   const char *subresource, struct llmo_buf *out);
/* Appends "?key=value" (or "&key=value" after the first), value percent-encoded. */
int llmo_kube_query_add(struct llmo_buf *url, const char *key, const char *value);

/*
 * One request. path_and_query starts with '/' and is appended to the
 * server URL. body (may be NULL) is sent as JSON with content_type
 * ("application/json" when NULL). On a 2xx answer with out not NULL, *out
 * receives the parsed body (a new reference; JSON null for an empty body).
 * *out is NULL on error. http_status (may be NULL) receives the last HTTP
 * status, 0 when there was none.
 *
 * Retries (up to the attempts set), with exponential backoff and jitter:
 * connection failures and 429/503 answers (honouring Retry-After) for GET,
 * PUT, PATCH and DELETE; for POST only a refused connection (nothing was
 * sent). Errors as in the comment at the top.
 */
int llmo_kube_request(struct llmo_kube_client *c, const char *method, const char *path_and_query,
		      const char *content_type, const json_t *body, json_t **out, int *http_status,
		      struct llmo_error *err);

/* ---- verbs ---- */

/* The object ns/name of r into *out (new reference). */
int llmo_kube_get(struct llmo_kube_client *c, const struct llmo_kube_resource *r, const char *ns,
		  const char *name, json_t **out, struct llmo_error *err);

/* Every member may be NULL or 0 for "not given". */
struct llmo_kube_list_opts {
	const char *label_selector;
	const char *field_selector;
	long limit;
	const char *continue_token;   /* metadata.continue of the previous page */
	const char *resource_version; /* "0": any cached version is fine */
};

/* One page of the list of r in ns (NULL: all namespaces) into *out, the List object. */
int llmo_kube_list(struct llmo_kube_client *c, const struct llmo_kube_resource *r, const char *ns,
		   const struct llmo_kube_list_opts *opts, json_t **out, struct llmo_error *err);

/* POSTs obj into ns; *out (may be NULL) receives the created object. */
int llmo_kube_create(struct llmo_kube_client *c, const struct llmo_kube_resource *r, const char *ns,
		     const json_t *obj, json_t **out, struct llmo_error *err);
/*
 * PUTs obj (named by its metadata.name; its metadata.resourceVersion makes
 * the write conditional: LLMO_ECONFLICT when the stored one differs).
 */
int llmo_kube_update(struct llmo_kube_client *c, const struct llmo_kube_resource *r, const char *ns,
		     const json_t *obj, json_t **out, struct llmo_error *err);
/* The same to the status subresource. */
int llmo_kube_update_status(struct llmo_kube_client *c, const struct llmo_kube_resource *r,
			    const char *ns, const json_t *obj, json_t **out,
			    struct llmo_error *err);

enum llmo_kube_patch_type {
	LLMO_KUBE_PATCH_MERGE,	   /* application/merge-patch+json (RFC 7386) */
	LLMO_KUBE_PATCH_JSON,	   /* application/json-patch+json (RFC 6902) */
	LLMO_KUBE_PATCH_STRATEGIC, /* application/strategic-merge-patch+json */
	LLMO_KUBE_PATCH_APPLY,	   /* server-side apply, fieldManager=llmo, force */
};

/* PATCHes ns/name (subresource may be NULL or "status"). */
int llmo_kube_patch(struct llmo_kube_client *c, const struct llmo_kube_resource *r, const char *ns,
		    const char *name, const char *subresource, enum llmo_kube_patch_type type,
		    const json_t *patch, json_t **out, struct llmo_error *err);

enum llmo_kube_propagation {
	LLMO_KUBE_PROPAGATE_DEFAULT, /* the server's default for the resource */
	LLMO_KUBE_PROPAGATE_BACKGROUND,
	LLMO_KUBE_PROPAGATE_FOREGROUND,
	LLMO_KUBE_PROPAGATE_ORPHAN,
};

/* DELETEs ns/name; *out (may be NULL) receives the answer (the object or a Status). */
int llmo_kube_delete(struct llmo_kube_client *c, const struct llmo_kube_resource *r, const char *ns,
		     const char *name, enum llmo_kube_propagation propagation, json_t **out,
		     struct llmo_error *err);
/*
 * DELETEs ns/name at once (gracePeriodSeconds 0) on the precondition that it
 * is the object uid, as the kubelet ends a pod it stopped. LLMO_ENOTFOUND or
 * LLMO_ECONFLICT when it is gone or another object has the name now.
 */
int llmo_kube_delete_now(struct llmo_kube_client *c, const struct llmo_kube_resource *r,
			 const char *ns, const char *name, const char *uid, struct llmo_error *err);

#endif
