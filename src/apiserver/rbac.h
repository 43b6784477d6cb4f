#ifndef LLMO_APISERVER_RBAC_H
#define LLMO_APISERVER_RBAC_H
/*
 * Authorization with Kubernetes RBAC semantics
 * (rbac.authorization.k8s.io/v1): the attributes of a request as
 * kube-apiserver derives them from its method and path (RequestInfo), the
 * rule matcher (verbs, apiGroups, resources with "pods/log" and "* /log"
 * subresource forms, resourceNames, nonResourceURLs with a trailing "*"),
 * subjects (User, Group, ServiceAccount), and the evaluation of the
 * ClusterRoleBindings and the request namespace's RoleBindings held in the
 * store. There is no deny: a request is allowed when some rule bound to the
 * user allows it. ClusterRole aggregation is not done.
 *
 * Users in the group "system:masters" are allowed everything without
 * looking at the store (as kube-apiserver's privileged-group authorizer).
 */
#include "base/common.h"
#include "base/str.h"
#include <jansson.h>

struct llmo_store;

/* An authenticated identity. Strings owned by whoever made it. */
struct llmo_user {
	char *name;
	char *uid;
	struct llmo_strv groups; /* "system:authenticated" included */
};

#define LLMO_RBAC_MASTERS "system:masters"
#define LLMO_RBAC_AUTHENTICATED "system:authenticated"

/* Longest path segment kept in a request's attributes (a DNS subdomain is 253). */
#define LLMO_RBAC_SEGMENT_MAX 253

/* What a request asks to do, as RBAC sees it (kube-apiserver's RequestInfo). */
struct llmo_rbac_attrs {
	bool resource_request;
	char verb[32];        /* get list watch create update patch delete deletecollection,
			       * or the lower-case method for a non-resource request */
	char group[LLMO_RBAC_SEGMENT_MAX + 1];
	char version[64];
	char resource[LLMO_RBAC_SEGMENT_MAX + 1];
	char subresource[64];
	char name[LLMO_RBAC_SEGMENT_MAX + 1];
	char ns[LLMO_RBAC_SEGMENT_MAX + 1];
	const char *path; /* borrowed: the request path (non-resource requests) */
};

/*
 * Fills a from an HTTP method ("GET") and a decoded path, the way
 * kube-apiserver does: /api/V/... and /apis/G/V/... with at least a resource
 * are resource requests ("namespaces/NS/RES/NAME/SUB"; GET without a name is
 * list, or watch when watch is true; DELETE without a name is
 * deletecollection); anything else (/api, /apis/G, /healthz, /openapi/v2) is
 * a non-resource request whose verb is the lower-case method. a->path
 * borrows path. LLMO_ETOOBIG when a segment is longer than the fields hold.
 */
int llmo_rbac_attrs_from_request(const char *method, const char *path, bool watch,
				 struct llmo_rbac_attrs *a);

/* Whether one PolicyRule object allows a (kube's RuleAllows). */
bool llmo_rbac_rule_allows(const json_t *rule, const struct llmo_rbac_attrs *a);

/*
 * Whether a binding's subject names user: a User by name, a Group the user
 * is in, a ServiceAccount by "system:serviceaccount:NS:NAME" (NS defaults
 * to binding_ns, the RoleBinding's namespace; "" for a ClusterRoleBinding).
 */
bool llmo_rbac_subject_applies(const json_t *subject, const struct llmo_user *user,
			       const char *binding_ns);

/* Whether user is in group. */
bool llmo_user_in_group(const struct llmo_user *user, const char *group);

/*
 * Decides a from the bindings and roles in store. *allowed says the answer;
 * reason (may be NULL) gets kube's wording: on allow "RBAC: allowed by
 * ClusterRoleBinding \"B\" of ClusterRole \"R\" to User \"bob\"", on deny
 * "" or the missing roles ("RBAC: clusterrole.rbac.authorization.k8s.io
 * \"x\" not found"). Returns 0, or LLMO_ENOMEM / a store error (then
 * *allowed is false).
 */
int llmo_rbac_authorize(struct llmo_store *store, const struct llmo_user *user,
			const struct llmo_rbac_attrs *a, bool *allowed, char *reason,
			size_t reason_size);

/*
 * Appends to rules (a JSON array) every PolicyRule of the roles bound to
 * user by ClusterRoleBindings and, when ns is not empty, by ns's
 * RoleBindings (for SelfSubjectRulesReview). errors (may be NULL) gets the
 * roles that were named but not found ("clusterrole.rbac.authorization.k8s.io
 * \"x\" not found, ..."), or "". Returns 0, LLMO_ENOMEM or a store error.
 */
int llmo_rbac_rules(struct llmo_store *store, const struct llmo_user *user, const char *ns,
		    json_t *rules, char *errors, size_t errors_size);

/*
 * The rules of llmo_rbac_rules, for deciding requests without the store
 * (rbac_cache.h): a request with attributes a is allowed exactly when one of
 * the rules bound in a->ns (resource requests in a namespace) or in ""
 * (cluster-scoped and non-resource requests) allows it
 * (llmo_rbac_rule_allows). deny_reason (may be NULL) gets what
 * llmo_rbac_authorize gives as the reason of a refusal: "" or "RBAC: ..."
 * naming the roles not found. Returns 0, LLMO_ENOMEM or a store error.
 */
int llmo_rbac_bound_rules(struct llmo_store *store, const struct llmo_user *user,
			  const char *ns, json_t *rules, char *deny_reason, size_t n);

/*
 * Kubernetes' escalation prevention, for a write (create, update, patch,
 * apply) of obj, an object of the RBAC resource plural ("roles",
 * "clusterroles", "rolebindings", "clusterrolebindings"; anything else is
 * allowed) in ns ("" for the cluster-scoped ones), by user: a Role or
 * ClusterRole only with rules the user already holds in ns (or the
 * `escalate` verb on it), a binding only to a role whose rules the user
 * holds in ns (or the `bind` verb on that role; a missing role is refused).
 * system:masters may do anything. *allowed says the answer; msg (may be
 * NULL) gets the reason of a refusal ("user \"bob\" is attempting to grant
 * RBAC permissions not currently held: {APIGroups:[\"\"],
 * Resources:[\"secrets\"], Verbs:[\"get\"]}"). Returns 0 or an error.
 */
int llmo_rbac_check_escalation(struct llmo_store *store, const struct llmo_user *user,
			       const char *plural, const char *ns, const json_t *obj,
			       bool *allowed, char *msg, size_t n);

/*
 * The message of the 403 Forbidden Status for a refused request, as
 * kube-apiserver words it: `pods is forbidden: User "bob" cannot list
 * resource "pods" in API group "" in the namespace "default"`, with
 * `: REASON` appended when reason is not empty.
 */
void llmo_rbac_forbidden_message(const struct llmo_user *user, const struct llmo_rbac_attrs *a,
				 const char *reason, char *out, size_t n);

/*
 * Creates the default ClusterRoles (cluster-admin, admin, edit, view,
 * system:discovery, system:basic-user, system:public-info-viewer) and their
 * ClusterRoleBindings (cluster-admin to system:masters, the system: ones to
 * system:authenticated) when absent; existing ones are left as they are.
 */
int llmo_rbac_bootstrap(struct llmo_store *store, struct llmo_error *err);

#endif
