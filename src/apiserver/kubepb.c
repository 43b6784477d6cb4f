/*
 * Kubernetes protobuf request bodies -> the JSON the client would have sent
 * (see kubepb.h).
 *
 * Each message is a table of its fields (struct kpb_msg): field number, JSON
 * name, how to turn the wire value into JSON. Numbers are those of k8s.io/api
 * and k8s.io/apimachinery's generated.proto files (core/v1, apps/v1,
 * rbac/v1, authentication/v1, authorization/v1, policy/v1, meta/v1,
 * util/intstr, api/resource). Only the fields llmo uses or kubectl sets are
 * listed; see kubepb.h for what happens to the others.
 */
#include "base/common.h"

#include "apiserver/kubepb.h"

#include "apiserver/pb_wire.h"
#include "base/base64.h"
#include "base/clock.h"

#include <string.h>
#include <strings.h>

#include "base/banned.h"

enum kpb_kind {
	K_STR,   /* string */
	K_BYTES, /* bytes -> base64 string */
	K_BOOL,
	K_INT,     /* int32 / int64 varint -> number */
	K_TIME,    /* meta/v1 Time { int64 seconds = 1; int32 nanos = 2 } -> RFC 3339 */
	K_INTSTR,  /* intstr.IntOrString { type = 1; intVal = 2; strVal = 3 } */
	K_QTY,     /* resource.Quantity { string string = 1 } -> string */
	K_MSG,     /* submessage .sub -> object */
	K_MAP_STR, /* map<string, string> */
	K_MAP_BYTES, /* map<string, bytes> -> values base64 */
	K_MAP_QTY,   /* map<string, Quantity> */
	K_MAP_STRS,  /* map<string, { repeated string items = 1 }> -> arrays (UserInfo.extra) */
};

/* What an absent length-delimited field reads as (never a NULL pointer plus 0). */
static const unsigned char kpb_empty[1];

/* Repeated: every occurrence is one element of a JSON array. */
#define F_REP 1u
/* A Go pointer field: present on the wire only when set, so kept at zero. */
#define F_PTR 2u

struct kpb_msg;

struct kpb_field {
	uint32_t num;
	const char *name;
	enum kpb_kind kind;
	unsigned flags;
	const struct kpb_msg *sub;
};

struct kpb_msg {
	const char *name; /* for errors: the Go type */
	const struct kpb_field *fields;
	size_t n;
};

#define MSG(var, gotype, ...)                                                                      \
	static const struct kpb_field var##_fields[] = {__VA_ARGS__};                              \
	static const struct kpb_msg var = {gotype, var##_fields,                                   \
					   sizeof(var##_fields) / sizeof(var##_fields[0])}

/* ---- meta/v1 ---- */

MSG(m_owner_ref, "OwnerReference", {1, "kind", K_STR, 0, NULL}, {3, "name", K_STR, 0, NULL},
    {4, "uid", K_STR, 0, NULL}, {5, "apiVersion", K_STR, 0, NULL},
    {6, "controller", K_BOOL, F_PTR, NULL}, {7, "blockOwnerDeletion", K_BOOL, F_PTR, NULL});

MSG(m_object_meta, "ObjectMeta", {1, "name", K_STR, 0, NULL}, {2, "generateName", K_STR, 0, NULL},
    {3, "namespace", K_STR, 0, NULL}, {5, "uid", K_STR, 0, NULL},
    {6, "resourceVersion", K_STR, 0, NULL}, {7, "generation", K_INT, 0, NULL},
    {8, "creationTimestamp", K_TIME, 0, NULL}, {9, "deletionTimestamp", K_TIME, 0, NULL},
    {10, "deletionGracePeriodSeconds", K_INT, F_PTR, NULL}, {11, "labels", K_MAP_STR, 0, NULL},
    {12, "annotations", K_MAP_STR, 0, NULL},
    {13, "ownerReferences", K_MSG, F_REP, &m_owner_ref},
    {14, "finalizers", K_STR, F_REP, NULL});

MSG(m_selector_req, "LabelSelectorRequirement", {1, "key", K_STR, 0, NULL},
    {2, "operator", K_STR, 0, NULL}, {3, "values", K_STR, F_REP, NULL});

MSG(m_label_selector, "LabelSelector", {1, "matchLabels", K_MAP_STR, 0, NULL},
    {2, "matchExpressions", K_MSG, F_REP, &m_selector_req});

MSG(m_preconditions, "Preconditions", {1, "uid", K_STR, F_PTR, NULL},
    {2, "resourceVersion", K_STR, F_PTR, NULL});

MSG(m_delete_options, "DeleteOptions", {1, "gracePeriodSeconds", K_INT, F_PTR, NULL},
    {2, "preconditions", K_MSG, 0, &m_preconditions},
    {3, "orphanDependents", K_BOOL, F_PTR, NULL}, {4, "propagationPolicy", K_STR, F_PTR, NULL},
    {5, "dryRun", K_STR, F_REP, NULL}, {6, "ignoreStoreReadErrorWithClusterBreakingPotential",
    K_BOOL, F_PTR, NULL});

/* ---- core/v1 ---- */

MSG(m_config_map, "ConfigMap", {1, "metadata", K_MSG, 0, &m_object_meta},
    {2, "data", K_MAP_STR, 0, NULL}, {3, "binaryData", K_MAP_BYTES, 0, NULL},
    {4, "immutable", K_BOOL, F_PTR, NULL});

MSG(m_secret, "Secret", {1, "metadata", K_MSG, 0, &m_object_meta},
    {2, "data", K_MAP_BYTES, 0, NULL}, {3, "type", K_STR, 0, NULL},
    {4, "stringData", K_MAP_STR, 0, NULL}, {5, "immutable", K_BOOL, F_PTR, NULL});

MSG(m_ns_condition, "NamespaceCondition", {1, "type", K_STR, 0, NULL},
    {2, "status", K_STR, 0, NULL}, {4, "lastTransitionTime", K_TIME, 0, NULL},
    {5, "reason", K_STR, 0, NULL}, {6, "message", K_STR, 0, NULL});

MSG(m_ns_spec, "NamespaceSpec", {1, "finalizers", K_STR, F_REP, NULL});

MSG(m_ns_status, "NamespaceStatus", {1, "phase", K_STR, 0, NULL},
    {2, "conditions", K_MSG, F_REP, &m_ns_condition});

MSG(m_namespace, "Namespace", {1, "metadata", K_MSG, 0, &m_object_meta},
    {2, "spec", K_MSG, 0, &m_ns_spec}, {3, "status", K_MSG, 0, &m_ns_status});

MSG(m_object_ref, "ObjectReference", {1, "kind", K_STR, 0, NULL},
    {2, "namespace", K_STR, 0, NULL}, {3, "name", K_STR, 0, NULL}, {4, "uid", K_STR, 0, NULL},
    {5, "apiVersion", K_STR, 0, NULL}, {6, "resourceVersion", K_STR, 0, NULL},
    {7, "fieldPath", K_STR, 0, NULL});

MSG(m_local_object_ref, "LocalObjectReference", {1, "name", K_STR, 0, NULL});

MSG(m_service_account, "ServiceAccount", {1, "metadata", K_MSG, 0, &m_object_meta},
    {2, "secrets", K_MSG, F_REP, &m_object_ref},
    {3, "automountServiceAccountToken", K_BOOL, F_PTR, NULL},
    {4, "imagePullSecrets", K_MSG, F_REP, &m_local_object_ref});

MSG(m_service_port, "ServicePort", {1, "name", K_STR, 0, NULL}, {2, "protocol", K_STR, 0, NULL},
    {3, "port", K_INT, 0, NULL}, {4, "targetPort", K_INTSTR, 0, NULL},
    {5, "nodePort", K_INT, 0, NULL}, {6, "appProtocol", K_STR, F_PTR, NULL});

MSG(m_service_spec, "ServiceSpec", {1, "ports", K_MSG, F_REP, &m_service_port},
    {2, "selector", K_MAP_STR, 0, NULL}, {3, "clusterIP", K_STR, 0, NULL},
    {4, "type", K_STR, 0, NULL}, {5, "externalIPs", K_STR, F_REP, NULL},
    {7, "sessionAffinity", K_STR, 0, NULL}, {8, "loadBalancerIP", K_STR, 0, NULL},
    {9, "loadBalancerSourceRanges", K_STR, F_REP, NULL}, {10, "externalName", K_STR, 0, NULL},
    {11, "externalTrafficPolicy", K_STR, 0, NULL}, {12, "healthCheckNodePort", K_INT, 0, NULL},
    {13, "publishNotReadyAddresses", K_BOOL, 0, NULL},
    {17, "ipFamilyPolicy", K_STR, F_PTR, NULL}, {18, "clusterIPs", K_STR, F_REP, NULL},
    {19, "ipFamilies", K_STR, F_REP, NULL},
    {20, "allocateLoadBalancerNodePorts", K_BOOL, F_PTR, NULL},
    {21, "loadBalancerClass", K_STR, F_PTR, NULL},
    {22, "internalTrafficPolicy", K_STR, F_PTR, NULL},
    {23, "trafficDistribution", K_STR, F_PTR, NULL});

MSG(m_lb_ingress, "LoadBalancerIngress", {1, "ip", K_STR, 0, NULL},
    {2, "hostname", K_STR, 0, NULL}, {3, "ipMode", K_STR, F_PTR, NULL});

MSG(m_lb_status, "LoadBalancerStatus", {1, "ingress", K_MSG, F_REP, &m_lb_ingress});

MSG(m_service_status, "ServiceStatus", {1, "loadBalancer", K_MSG, 0, &m_lb_status});

MSG(m_service, "Service", {1, "metadata", K_MSG, 0, &m_object_meta},
    {2, "spec", K_MSG, 0, &m_service_spec}, {3, "status", K_MSG, 0, &m_service_status});

MSG(m_container_port, "ContainerPort", {1, "name", K_STR, 0, NULL},
    {2, "hostPort", K_INT, 0, NULL}, {3, "containerPort", K_INT, 0, NULL},
    {4, "protocol", K_STR, 0, NULL}, {5, "hostIP", K_STR, 0, NULL});

MSG(m_env_var, "EnvVar", {1, "name", K_STR, 0, NULL}, {2, "value", K_STR, 0, NULL});

MSG(m_resources, "ResourceRequirements", {1, "limits", K_MAP_QTY, 0, NULL},
    {2, "requests", K_MAP_QTY, 0, NULL});

MSG(m_container, "Container", {1, "name", K_STR, 0, NULL}, {2, "image", K_STR, 0, NULL},
    {3, "command", K_STR, F_REP, NULL}, {4, "args", K_STR, F_REP, NULL},
    {5, "workingDir", K_STR, 0, NULL}, {6, "ports", K_MSG, F_REP, &m_container_port},
    {7, "env", K_MSG, F_REP, &m_env_var}, {8, "resources", K_MSG, 0, &m_resources},
    {13, "terminationMessagePath", K_STR, 0, NULL}, {14, "imagePullPolicy", K_STR, 0, NULL},
    {16, "stdin", K_BOOL, 0, NULL}, {17, "stdinOnce", K_BOOL, 0, NULL},
    {18, "tty", K_BOOL, 0, NULL}, {20, "terminationMessagePolicy", K_STR, 0, NULL},
    {24, "restartPolicy", K_STR, F_PTR, NULL});

MSG(m_pod_spec, "PodSpec", {2, "containers", K_MSG, F_REP, &m_container},
    {3, "restartPolicy", K_STR, 0, NULL},
    {4, "terminationGracePeriodSeconds", K_INT, F_PTR, NULL},
    {5, "activeDeadlineSeconds", K_INT, F_PTR, NULL}, {6, "dnsPolicy", K_STR, 0, NULL},
    {7, "nodeSelector", K_MAP_STR, 0, NULL}, {8, "serviceAccountName", K_STR, 0, NULL},
    {9, "serviceAccount", K_STR, 0, NULL}, {10, "nodeName", K_STR, 0, NULL},
    {11, "hostNetwork", K_BOOL, 0, NULL}, {12, "hostPID", K_BOOL, 0, NULL},
    {13, "hostIPC", K_BOOL, 0, NULL},
    {15, "imagePullSecrets", K_MSG, F_REP, &m_local_object_ref},
    {16, "hostname", K_STR, 0, NULL}, {17, "subdomain", K_STR, 0, NULL},
    {19, "schedulerName", K_STR, 0, NULL}, {20, "initContainers", K_MSG, F_REP, &m_container},
    {21, "automountServiceAccountToken", K_BOOL, F_PTR, NULL},
    {24, "priorityClassName", K_STR, 0, NULL}, {25, "priority", K_INT, F_PTR, NULL});

MSG(m_pod_template, "PodTemplateSpec", {1, "metadata", K_MSG, 0, &m_object_meta},
    {2, "spec", K_MSG, 0, &m_pod_spec});

/* ---- apps/v1 ---- */

MSG(m_rolling_update, "RollingUpdateDeployment", {1, "maxUnavailable", K_INTSTR, F_PTR, NULL},
    {2, "maxSurge", K_INTSTR, F_PTR, NULL});

MSG(m_strategy, "DeploymentStrategy", {1, "type", K_STR, 0, NULL},
    {2, "rollingUpdate", K_MSG, 0, &m_rolling_update});

MSG(m_deployment_spec, "DeploymentSpec", {1, "replicas", K_INT, F_PTR, NULL},
    {2, "selector", K_MSG, 0, &m_label_selector}, {3, "template", K_MSG, 0, &m_pod_template},
    {4, "strategy", K_MSG, 0, &m_strategy}, {5, "minReadySeconds", K_INT, 0, NULL},
    {6, "revisionHistoryLimit", K_INT, F_PTR, NULL}, {7, "paused", K_BOOL, 0, NULL},
    {9, "progressDeadlineSeconds", K_INT, F_PTR, NULL});

/* DeploymentStatus: counters only; a client's create carries zeros (left out). */
MSG(m_deployment_status, "DeploymentStatus", {1, "observedGeneration", K_INT, 0, NULL},
    {2, "replicas", K_INT, 0, NULL}, {3, "updatedReplicas", K_INT, 0, NULL},
    {4, "availableReplicas", K_INT, 0, NULL}, {5, "unavailableReplicas", K_INT, 0, NULL},
    {7, "readyReplicas", K_INT, 0, NULL});

MSG(m_deployment, "Deployment", {1, "metadata", K_MSG, 0, &m_object_meta},
    {2, "spec", K_MSG, 0, &m_deployment_spec}, {3, "status", K_MSG, 0, &m_deployment_status});

/* ---- rbac/v1 ---- */

MSG(m_policy_rule, "PolicyRule", {1, "verbs", K_STR, F_REP, NULL},
    {2, "apiGroups", K_STR, F_REP, NULL}, {3, "resources", K_STR, F_REP, NULL},
    {4, "resourceNames", K_STR, F_REP, NULL}, {5, "nonResourceURLs", K_STR, F_REP, NULL});

MSG(m_aggregation_rule, "AggregationRule",
    {1, "clusterRoleSelectors", K_MSG, F_REP, &m_label_selector});

MSG(m_role, "Role", {1, "metadata", K_MSG, 0, &m_object_meta},
    {2, "rules", K_MSG, F_REP, &m_policy_rule});

MSG(m_cluster_role, "ClusterRole", {1, "metadata", K_MSG, 0, &m_object_meta},
    {2, "rules", K_MSG, F_REP, &m_policy_rule},
    {3, "aggregationRule", K_MSG, 0, &m_aggregation_rule});

MSG(m_subject, "Subject", {1, "kind", K_STR, 0, NULL}, {2, "apiGroup", K_STR, 0, NULL},
    {3, "name", K_STR, 0, NULL}, {4, "namespace", K_STR, 0, NULL});

MSG(m_role_ref, "RoleRef", {1, "apiGroup", K_STR, 0, NULL}, {2, "kind", K_STR, 0, NULL},
    {3, "name", K_STR, 0, NULL});

MSG(m_role_binding, "RoleBinding", {1, "metadata", K_MSG, 0, &m_object_meta},
    {2, "subjects", K_MSG, F_REP, &m_subject}, {3, "roleRef", K_MSG, 0, &m_role_ref});

/* ---- authentication/v1, authorization/v1, policy/v1 ---- */

MSG(m_bound_ref, "BoundObjectReference", {1, "kind", K_STR, 0, NULL},
    {2, "apiVersion", K_STR, 0, NULL}, {3, "name", K_STR, 0, NULL}, {4, "uid", K_STR, 0, NULL});

MSG(m_token_request_spec, "TokenRequestSpec", {1, "audiences", K_STR, F_REP, NULL},
    {3, "boundObjectRef", K_MSG, 0, &m_bound_ref},
    {4, "expirationSeconds", K_INT, F_PTR, NULL});

MSG(m_token_request_status, "TokenRequestStatus", {1, "token", K_STR, 0, NULL},
    {2, "expirationTimestamp", K_TIME, 0, NULL});

MSG(m_token_request, "TokenRequest", {1, "metadata", K_MSG, 0, &m_object_meta},
    {2, "spec", K_MSG, 0, &m_token_request_spec},
    {3, "status", K_MSG, 0, &m_token_request_status});

MSG(m_user_info, "UserInfo", {1, "username", K_STR, 0, NULL}, {2, "uid", K_STR, 0, NULL},
    {3, "groups", K_STR, F_REP, NULL}, {4, "extra", K_MAP_STRS, 0, NULL});

MSG(m_ssr_status, "SelfSubjectReviewStatus", {1, "userInfo", K_MSG, 0, &m_user_info});

MSG(m_self_subject_review, "SelfSubjectReview", {1, "metadata", K_MSG, 0, &m_object_meta},
    {2, "status", K_MSG, 0, &m_ssr_status});

MSG(m_resource_attrs, "ResourceAttributes", {1, "namespace", K_STR, 0, NULL},
    {2, "verb", K_STR, 0, NULL}, {3, "group", K_STR, 0, NULL}, {4, "version", K_STR, 0, NULL},
    {5, "resource", K_STR, 0, NULL}, {6, "subresource", K_STR, 0, NULL},
    {7, "name", K_STR, 0, NULL});

MSG(m_non_resource_attrs, "NonResourceAttributes", {1, "path", K_STR, 0, NULL},
    {2, "verb", K_STR, 0, NULL});

MSG(m_ssar_spec, "SelfSubjectAccessReviewSpec",
    {1, "resourceAttributes", K_MSG, 0, &m_resource_attrs},
    {2, "nonResourceAttributes", K_MSG, 0, &m_non_resource_attrs});

MSG(m_sar_status, "SubjectAccessReviewStatus", {1, "allowed", K_BOOL, 0, NULL},
    {2, "reason", K_STR, 0, NULL}, {3, "evaluationError", K_STR, 0, NULL},
    {4, "denied", K_BOOL, 0, NULL});

MSG(m_self_subject_access_review, "SelfSubjectAccessReview",
    {1, "metadata", K_MSG, 0, &m_object_meta}, {2, "spec", K_MSG, 0, &m_ssar_spec},
    {3, "status", K_MSG, 0, &m_sar_status});

MSG(m_ssrr_spec, "SelfSubjectRulesReviewSpec", {1, "namespace", K_STR, 0, NULL});

MSG(m_self_subject_rules_review, "SelfSubjectRulesReview",
    {1, "metadata", K_MSG, 0, &m_object_meta}, {2, "spec", K_MSG, 0, &m_ssrr_spec});

MSG(m_eviction, "Eviction", {1, "metadata", K_MSG, 0, &m_object_meta},
    {2, "deleteOptions", K_MSG, 0, &m_delete_options});

/* The types a body may carry, by typeMeta. */
static const struct {
	const char *api_version, *kind;
	const struct kpb_msg *msg;
} kpb_types[] = {
	{"v1", "ConfigMap", &m_config_map},
	{"v1", "Secret", &m_secret},
	{"v1", "Namespace", &m_namespace},
	{"v1", "ServiceAccount", &m_service_account},
	{"v1", "Service", &m_service},
	{"v1", "DeleteOptions", &m_delete_options},
	{"meta.k8s.io/v1", "DeleteOptions", &m_delete_options},
	{"apps/v1", "Deployment", &m_deployment},
	{"rbac.authorization.k8s.io/v1", "Role", &m_role},
	{"rbac.authorization.k8s.io/v1", "ClusterRole", &m_cluster_role},
	{"rbac.authorization.k8s.io/v1", "RoleBinding", &m_role_binding},
	{"rbac.authorization.k8s.io/v1", "ClusterRoleBinding", &m_role_binding},
	{"authentication.k8s.io/v1", "TokenRequest", &m_token_request},
	{"authentication.k8s.io/v1", "SelfSubjectReview", &m_self_subject_review},
	{"authorization.k8s.io/v1", "SelfSubjectAccessReview", &m_self_subject_access_review},
	{"authorization.k8s.io/v1", "SelfSubjectRulesReview", &m_self_subject_rules_review},
	{"policy/v1", "Eviction", &m_eviction},
};

static const unsigned char kpb_magic[4] = {'k', '8', 's', 0};


struct kpb {
	struct llmo_error *err;
	int depth;
};

static int set_member(json_t *obj, const char *name, json_t *v)
{
	if (!v || json_object_set_new(obj, name, v))
		return LLMO_ENOMEM;
	return 0;
}

static int append(struct kpb *d, const struct kpb_msg *m, json_t *obj, const char *name, json_t *v)
{
	json_t *arr = json_object_get(obj, name);

	if (!v)
		return LLMO_ENOMEM;
	if (!arr) {
		arr = json_array();
		if (set_member(obj, name, arr)) {
			json_decref(v);
			return LLMO_ENOMEM;
		}
	}
	if (json_array_size(arr) >= LLMO_KUBEPB_ITEMS_MAX) {
		json_decref(v);
		return llmo_error_set(d->err, LLMO_ETOOBIG, "%s.%s: more than %d elements", m->name,
				      name, LLMO_KUBEPB_ITEMS_MAX);
	}
	return json_array_append_new(arr, v) ? LLMO_ENOMEM : 0;
}

/* A string member; NULL with err set when it is not UTF-8 (JSON cannot carry it). */
static json_t *utf8(struct kpb *d, const struct kpb_msg *m, const char *name,
		    const unsigned char *p, size_t len)
{
	json_t *s = json_stringn(len ? (const char *)p : "", len);

	if (!s)
		llmo_error_set(d->err, LLMO_EPARSE, "%s.%s: the string is not UTF-8", m->name, name);
	return s;
}

static json_t *base64(const unsigned char *p, size_t len)
{
	char *text;
	json_t *s;

	if (llmo_base64_encode(p, len, &text))
		return NULL;
	s = json_string(text);
	free(text);
	return s;
}

/*
 * Reads the length-delimited fields num 1..3 of the small messages (Time,
 * IntOrString, Quantity, map entries) into vals[]/lens[]; false when
 * malformed. Unknown numbers are skipped, as the Go decoder does for these.
 */
struct kpb_small {
	struct llmo__pb_field f[5];
	bool seen[5];
};

static bool read_small(const unsigned char *p, size_t len, struct kpb_small *s)
{
	const unsigned char *end;
	struct llmo__pb_field f;
	int rc;

	if (!len)
		p = kpb_empty;
	end = p + len;
	memset(s, 0, sizeof(*s));
	while ((rc = llmo__pb_next(&p, end, &f)) == 1)
		if (f.num < 5) {
			s->f[f.num] = f;
			s->seen[f.num] = true;
		}
	return rc == 0;
}

static bool small_is(const struct kpb_small *s, uint32_t num, int wt)
{
	return !s->seen[num] || s->f[num].wt == wt;
}

static int decode_msg(struct kpb *d, const struct kpb_msg *m, const unsigned char *p, size_t len,
		      json_t **out);

static json_t *time_value(struct kpb *d, const struct kpb_msg *m, const char *name,
			  const struct kpb_small *s, bool *zero)
{
	char buf[LLMO_RFC3339_MAX];
	int64_t secs = (int64_t)s->f[1].v;

	*zero = !s->seen[1] && !s->seen[2];
	if (*zero)
		return NULL;
	/* years 1..9999, what RFC 3339 and Go's time.Time JSON form allow */
	if (!small_is(s, 1, LLMO_PB_WT_VARINT) || secs < -62135596800LL ||
	    secs > 253402300799LL) {
		llmo_error_set(d->err, LLMO_EPARSE, "%s.%s: not a time", m->name, name);
		return NULL;
	}
	if (llmo_time_format_rfc3339(secs * 1000, false, buf, sizeof(buf))) {
		llmo_error_set(d->err, LLMO_EPARSE, "%s.%s: not a time", m->name, name);
		return NULL;
	}
	return json_string(buf);
}

static json_t *intstr_value(struct kpb *d, const struct kpb_msg *m, const char *name,
			    const struct kpb_small *s)
{
	if (!small_is(s, 1, LLMO_PB_WT_VARINT) || !small_is(s, 2, LLMO_PB_WT_VARINT) ||
	    !small_is(s, 3, LLMO_PB_WT_LEN)) {
		llmo_error_set(d->err, LLMO_EPARSE, "%s.%s: not an IntOrString", m->name, name);
		return NULL;
	}
	if (s->f[1].v == 1)
		return utf8(d, m, name, s->f[3].p, s->f[3].len);
	return json_integer((json_int_t)(int32_t)(uint32_t)s->f[2].v);
}

/* The value of one map entry { key = 1; value = 2 } as JSON. */
static int map_entry(struct kpb *d, const struct kpb_msg *m, const struct kpb_field *fd,
		     json_t *obj, const struct llmo__pb_field *f)
{
	struct kpb_small s, q;
	json_t *map = json_object_get(obj, fd->name), *v = NULL;
	char *key;
	int rc;

	if (!read_small(f->p, f->len, &s) || !small_is(&s, 1, LLMO_PB_WT_LEN) ||
	    !small_is(&s, 2, LLMO_PB_WT_LEN))
		return llmo_error_set(d->err, LLMO_EPARSE, "%s.%s: a malformed map entry", m->name,
				      fd->name);
	switch (fd->kind) {
	case K_MAP_STR:
		v = utf8(d, m, fd->name, s.f[2].p, s.f[2].len);
		break;
	case K_MAP_BYTES:
		v = base64(s.f[2].p, s.f[2].len);
		if (!v)
			return LLMO_ENOMEM;
		break;
	case K_MAP_QTY:
		if (!read_small(s.f[2].p, s.f[2].len, &q) || !small_is(&q, 1, LLMO_PB_WT_LEN))
			return llmo_error_set(d->err, LLMO_EPARSE, "%s.%s: not a Quantity",
					      m->name, fd->name);
		v = utf8(d, m, fd->name, q.f[1].p, q.f[1].len);
		break;
	default: { /* K_MAP_STRS */
		const unsigned char *p = s.f[2].len ? s.f[2].p : kpb_empty, *end = p + s.f[2].len;
		struct llmo__pb_field e;

		v = json_array();
		if (!v)
			return LLMO_ENOMEM;
		while ((rc = llmo__pb_next(&p, end, &e)) == 1) {
			if (e.num != 1)
				continue;
			if (e.wt != LLMO_PB_WT_LEN || json_array_size(v) >= LLMO_KUBEPB_ITEMS_MAX ||
			    json_array_append_new(v, utf8(d, m, fd->name, e.p, e.len))) {
				json_decref(v);
				return llmo_error_set(d->err, LLMO_EPARSE, "%s.%s: a bad list",
						      m->name, fd->name);
			}
		}
		if (rc < 0) {
			json_decref(v);
			return llmo_error_set(d->err, LLMO_EPARSE, "%s.%s: a malformed list",
					      m->name, fd->name);
		}
	}
	}
	if (!v)
		return d->err->code ? d->err->code : LLMO_ENOMEM;
	if (s.f[1].len && memchr(s.f[1].p, '\0', s.f[1].len)) {
		json_decref(v);
		return llmo_error_set(d->err, LLMO_EPARSE, "%s.%s: a key holds NUL", m->name,
				      fd->name);
	}
	key = strndup(s.f[1].len ? (const char *)s.f[1].p : "", s.f[1].len);
	if (!key) {
		json_decref(v);
		return LLMO_ENOMEM;
	}
	if (!map) {
		map = json_object();
		if ((rc = set_member(obj, fd->name, map))) {
			free(key);
			json_decref(v);
			return rc;
		}
	}
	if (json_object_size(map) >= LLMO_KUBEPB_ITEMS_MAX) {
		free(key);
		json_decref(v);
		return llmo_error_set(d->err, LLMO_ETOOBIG, "%s.%s: more than %d entries", m->name,
				      fd->name, LLMO_KUBEPB_ITEMS_MAX);
	}
	/* jansson wants UTF-8 keys */
	rc = json_object_set_new(map, key, v) ? llmo_error_set(d->err, LLMO_EPARSE,
							       "%s.%s: a key is not UTF-8",
							       m->name, fd->name)
					      : 0;
	free(key);
	return rc;
}

static bool wire_fits(const struct kpb_field *fd, int wt)
{
	switch (fd->kind) {
	case K_BOOL:
	case K_INT:
		return wt == LLMO_PB_WT_VARINT;
	default:
		return wt == LLMO_PB_WT_LEN;
	}
}

/* One field of m into obj. */
static int decode_field(struct kpb *d, const struct kpb_msg *m, const struct kpb_field *fd,
			json_t *obj, const struct llmo__pb_field *f)
{
	bool rep = fd->flags & F_REP, keep = rep || (fd->flags & F_PTR), zero = false;
	struct kpb_small s;
	json_t *v = NULL;
	int rc;

	if (!wire_fits(fd, f->wt))
		return llmo_error_set(d->err, LLMO_EPARSE, "%s.%s (field %u): wire type %d", m->name,
				      fd->name, f->num, f->wt);
	switch (fd->kind) {
	case K_STR:
		zero = f->len == 0;
		v = utf8(d, m, fd->name, f->p, f->len);
		break;
	case K_BYTES:
		zero = f->len == 0;
		v = base64(f->p, f->len);
		break;
	case K_BOOL:
		zero = f->v == 0;
		v = json_boolean(f->v != 0);
		break;
	case K_INT:
		zero = f->v == 0;
		v = json_integer((json_int_t)f->v);
		break;
	case K_TIME:
		if (!read_small(f->p, f->len, &s))
			return llmo_error_set(d->err, LLMO_EPARSE, "%s.%s: not a time", m->name,
					      fd->name);
		v = time_value(d, m, fd->name, &s, &zero);
		if (zero)
			return 0; /* the zero time: JSON's null, left out */
		break;
	case K_INTSTR:
	case K_QTY:
		if (!read_small(f->p, f->len, &s))
			return llmo_error_set(d->err, LLMO_EPARSE, "%s.%s: malformed", m->name,
					      fd->name);
		if (fd->kind == K_INTSTR)
			v = intstr_value(d, m, fd->name, &s);
		else if (small_is(&s, 1, LLMO_PB_WT_LEN))
			v = utf8(d, m, fd->name, s.f[1].p, s.f[1].len);
		else
			return llmo_error_set(d->err, LLMO_EPARSE, "%s.%s: not a Quantity",
					      m->name, fd->name);
		break;
	case K_MSG:
		if ((rc = decode_msg(d, fd->sub, f->p, f->len, &v)))
			return rc;
		break;
	default:
		return map_entry(d, m, fd, obj, f);
	}
	if (!v)
		return d->err->code ? d->err->code : LLMO_ENOMEM;
	if (zero && !keep) {
		json_decref(v);
		return 0;
	}
	return rep ? append(d, m, obj, fd->name, v) : set_member(obj, fd->name, v);
}

static int decode_msg(struct kpb *d, const struct kpb_msg *m, const unsigned char *p, size_t len,
		      json_t **out)
{
	const unsigned char *end = p + len;
	struct llmo__pb_field f;
	json_t *obj = NULL;
	int rc = 0, more;

	*out = NULL;
	if (++d->depth > LLMO_KUBEPB_NEST_MAX) {
		rc = llmo_error_set(d->err, LLMO_ETOOBIG, "%s: nested deeper than %d messages",
				    m->name, LLMO_KUBEPB_NEST_MAX);
		goto out;
	}
	obj = json_object();
	if (!obj) {
		rc = LLMO_ENOMEM;
		goto out;
	}
	while ((more = llmo__pb_next(&p, end, &f)) == 1) {
		const struct kpb_field *fd = NULL;

		for (size_t i = 0; i < m->n; i++)
			if (m->fields[i].num == f.num)
				fd = &m->fields[i];
		if (!fd) {
			if (f.wt == LLMO_PB_WT_LEN ? f.len == 0 : f.v == 0)
				continue; /* a zero Go field the tables do not name */
			rc = llmo_error_set(d->err, LLMO_EUNSUPPORTED,
					    "field %u of %s is set, and llmo server does not "
					    "decode it from protobuf: send the object as JSON",
					    f.num, m->name);
			goto out;
		}
		if ((rc = decode_field(d, m, fd, obj, &f)))
			goto out;
	}
	if (more < 0)
		rc = llmo_error_set(d->err, LLMO_EPARSE, "%s: malformed protobuf", m->name);
out:
	d->depth--;
	if (rc) {
		json_decref(obj);
		obj = NULL;
	}
	*out = obj;
	return rc;
}

bool llmo_kubepb_content_type(const char *ctype)
{
	size_t n = strlen(LLMO_KUBEPB_MEDIA_TYPE);

	if (!ctype)
		return false;
	while (*ctype == ' ' || *ctype == '\t')
		ctype++;
	return strncasecmp(ctype, LLMO_KUBEPB_MEDIA_TYPE, n) == 0 &&
	       (ctype[n] == '\0' || ctype[n] == ';' || ctype[n] == ' ');
}

int llmo_kubepb_decode(const void *data, size_t len, json_t **out, struct llmo_error *err)
{
	const unsigned char *p = data, *end;
	struct llmo__pb_field f, tf, av = {0}, kind = {0}, raw = {0}, enc = {0};
	struct llmo_error scratch;
	struct kpb d;
	const struct kpb_msg *msg = NULL;
	json_t *obj = NULL, *res = NULL;
	char api_version[128], kind_s[128];
	int rc = 0, more;

	*out = NULL;
	/* the decoders read err->code to tell a reported error from ENOMEM */
	if (!err)
		err = &scratch;
	err->code = 0;
	d.err = err;
	d.depth = 0;
	if (len < sizeof(kpb_magic) || memcmp(p, kpb_magic, sizeof(kpb_magic)) != 0)
		return llmo_error_set(err, LLMO_EPARSE,
				      "a protobuf body starts with \"k8s\\0\"; this one does not");
	p += sizeof(kpb_magic);
	end = (const unsigned char *)data + len;
	/* runtime.Unknown */
	while ((more = llmo__pb_next(&p, end, &f)) == 1) {
		if (f.wt != LLMO_PB_WT_LEN || f.num > 4)
			continue; /* unknown fields of the envelope: Go skips them */
		if (f.num == 1) {
			const unsigned char *q = f.p, *qend = f.p + f.len;

			while ((more = llmo__pb_next(&q, qend, &tf)) == 1) {
				if (tf.num == 1 && tf.wt == LLMO_PB_WT_LEN)
					av = tf;
				else if (tf.num == 2 && tf.wt == LLMO_PB_WT_LEN)
					kind = tf;
			}
			if (more < 0)
				break;
		} else if (f.num == 2) {
			raw = f;
		} else if (f.num == 3) {
			enc = f;
		}
	}
	if (more < 0)
		return llmo_error_set(err, LLMO_EPARSE, "the protobuf envelope is malformed");
	if (av.len >= sizeof(api_version) || kind.len >= sizeof(kind_s) ||
	    (av.len && memchr(av.p, '\0', av.len)) || (kind.len && memchr(kind.p, '\0', kind.len)))
		return llmo_error_set(err, LLMO_EPARSE,
				      "the protobuf envelope's apiVersion or kind is not a name");
	if (av.len)
		memcpy(api_version, av.p, av.len);
	api_version[av.len] = '\0';
	if (kind.len)
		memcpy(kind_s, kind.p, kind.len);
	kind_s[kind.len] = '\0';
	if (enc.len)
		return llmo_error_set(err, LLMO_EUNSUPPORTED,
				      "protobuf bodies with a contentEncoding are not supported");
	for (size_t i = 0; i < sizeof(kpb_types) / sizeof(kpb_types[0]); i++)
		if (strcmp(kpb_types[i].api_version, api_version) == 0 &&
		    strcmp(kpb_types[i].kind, kind_s) == 0)
			msg = kpb_types[i].msg;
	if (!msg)
		return llmo_error_set(err, LLMO_EUNSUPPORTED,
				      "llmo server does not decode %s (apiVersion \"%.100s\") from "
				      "protobuf: send the object as JSON",
				      kind_s[0] ? kind_s : "an object without a kind", api_version);
	if ((rc = decode_msg(&d, msg, raw.len ? raw.p : kpb_empty, raw.len, &obj)))
		return rc;
	/* apiVersion and kind first, as a JSON client writes them */
	res = json_pack("{s:s, s:s}", "apiVersion", api_version, "kind", kind_s);
	if (!res || json_object_update(res, obj)) {
		rc = res ? LLMO_ENOMEM : llmo_error_set(err, LLMO_EPARSE,
							 "the protobuf envelope's apiVersion or "
							 "kind is not UTF-8");
		json_decref(res);
		res = NULL;
	}
	json_decref(obj);
	*out = res;
	return rc;
}
