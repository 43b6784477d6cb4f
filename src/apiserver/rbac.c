#include "base/common.h"

#include <ctype.h>

#include "apiserver/rbac.h"
#include "apiserver/store.h"
#include "base/buf.h"
#include "base/clock.h"

#define RBAC_GROUP "rbac.authorization.k8s.io"
#define KEY_CRB RBAC_GROUP "/clusterrolebindings"
#define KEY_RB RBAC_GROUP "/rolebindings"
#define KEY_CR RBAC_GROUP "/clusterroles"
#define KEY_ROLE RBAC_GROUP "/roles"
/* Path segments looked at when deriving a request's attributes. */
#define RBAC_PARTS_MAX 16
/* Missing roles named in a refusal's reason. */
#define RBAC_ERRORS_MAX 8

/* ---- request attributes ---- */

static int copy_part(char *dst, size_t n, const char *src)
{
	size_t len = strlen(src);

	if (len >= n)
		return LLMO_ETOOBIG;
	memcpy(dst, src, len + 1);
	return 0;
}

int llmo_rbac_attrs_from_request(const char *method, const char *path, bool watch,
				 struct llmo_rbac_attrs *a)
{
	char buf[4096], *parts[RBAC_PARTS_MAX], *save = NULL;
	size_t n = 0, i = 0;
	int rc = 0;

	memset(a, 0, sizeof(*a));
	a->path = path;
	for (size_t k = 0; method[k] && k + 1 < sizeof(a->verb); k++)
		a->verb[k] = (char)tolower((unsigned char)method[k]);
	if (strlen(path) >= sizeof(buf))
		return strncmp(path, "/api/", 5) == 0 || strncmp(path, "/apis/", 6) == 0
			       ? LLMO_ETOOBIG
			       : 0;
	memcpy(buf, path, strlen(path) + 1);
	for (char *t = strtok_r(buf, "/", &save); t && n < RBAC_PARTS_MAX;
	     t = strtok_r(NULL, "/", &save))
		parts[n++] = t;
	/* /api/V/RES... or /apis/G/V/RES...; shorter paths are discovery */
	if (n < 3 || (strcmp(parts[0], "api") != 0 && strcmp(parts[0], "apis") != 0))
		return 0;
	i = 1;
	if (strcmp(parts[0], "apis") == 0) {
		if (n < 4)
			return 0;
		if ((rc = copy_part(a->group, sizeof(a->group), parts[i++])))
			return rc;
	}
	a->resource_request = true;
	if ((rc = copy_part(a->version, sizeof(a->version), parts[i++])))
		return rc;
	if (strcmp(method, "POST") == 0)
		snprintf(a->verb, sizeof(a->verb), "create");
	else if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0)
		snprintf(a->verb, sizeof(a->verb), "get");
	else if (strcmp(method, "PUT") == 0)
		snprintf(a->verb, sizeof(a->verb), "update");
	else if (strcmp(method, "PATCH") == 0)
		snprintf(a->verb, sizeof(a->verb), "patch");
	else if (strcmp(method, "DELETE") == 0)
		snprintf(a->verb, sizeof(a->verb), "delete");
	else
		a->verb[0] = '\0';
	/* namespaces/NS/RES...: the resource follows, unless the part after NS
	 * is a namespace's own subresource (namespaces/NS/status); a request for
	 * a namespace itself has that namespace as its namespace, as in kube */
	if (strcmp(parts[i], "namespaces") == 0 && n - i > 1) {
		if ((rc = copy_part(a->ns, sizeof(a->ns), parts[i + 1])))
			return rc;
		if (n - i > 2 && strcmp(parts[i + 2], "status") != 0 &&
		    strcmp(parts[i + 2], "finalize") != 0)
			i += 2;
	}
	if (n - i >= 3 && (rc = copy_part(a->subresource, sizeof(a->subresource), parts[i + 2])))
		return rc;
	if (n - i >= 2 && (rc = copy_part(a->name, sizeof(a->name), parts[i + 1])))
		return rc;
	if ((rc = copy_part(a->resource, sizeof(a->resource), parts[i])))
		return rc;
	if (!a->name[0] && strcmp(a->verb, "get") == 0)
		snprintf(a->verb, sizeof(a->verb), "%s", watch ? "watch" : "list");
	if (!a->name[0] && strcmp(a->verb, "delete") == 0)
		snprintf(a->verb, sizeof(a->verb), "deletecollection");
	return 0;
}

/* ---- rules ---- */

/* Whether the string array holds "*" or s. */
static bool has_or_all(const json_t *arr, const char *s)
{
	size_t i;
	json_t *v;

	json_array_foreach(arr, i, v) {
		const char *e = json_string_value(v);

		if (e && (strcmp(e, "*") == 0 || strcmp(e, s) == 0))
			return true;
	}
	return false;
}

static bool resource_matches(const json_t *rule, const struct llmo_rbac_attrs *a)
{
	char combined[sizeof(a->resource) + sizeof(a->subresource) + 1];
	size_t i, sublen = strlen(a->subresource);
	json_t *v;

	snprintf(combined, sizeof(combined), "%s%s%s", a->resource, sublen ? "/" : "",
		 a->subresource);
	json_array_foreach(json_object_get(rule, "resources"), i, v) {
		const char *e = json_string_value(v);

		if (!e)
			continue;
		if (strcmp(e, "*") == 0 || strcmp(e, combined) == 0)
			return true;
		/* "*\/log" matches the log subresource of every resource */
		if (sublen && strlen(e) == sublen + 2 && e[0] == '*' && e[1] == '/' &&
		    strcmp(e + 2, a->subresource) == 0)
			return true;
	}
	return false;
}

static bool name_matches(const json_t *rule, const struct llmo_rbac_attrs *a)
{
	const json_t *names = json_object_get(rule, "resourceNames");
	size_t i;
	json_t *v;

	if (json_array_size(names) == 0)
		return true;
	json_array_foreach(names, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), a->name) == 0)
			return true;
	return false;
}

static bool url_matches(const json_t *rule, const char *path)
{
	size_t i;
	json_t *v;

	json_array_foreach(json_object_get(rule, "nonResourceURLs"), i, v) {
		const char *e = json_string_value(v);
		size_t len;

		if (!e)
			continue;
		len = strlen(e);
		if (strcmp(e, "*") == 0 || strcmp(e, path) == 0)
			return true;
		if (len && e[len - 1] == '*' && strncmp(e, path, len - 1) == 0)
			return true;
	}
	return false;
}

bool llmo_rbac_rule_allows(const json_t *rule, const struct llmo_rbac_attrs *a)
{
	if (!json_is_object(rule) || !has_or_all(json_object_get(rule, "verbs"), a->verb))
		return false;
	if (!a->resource_request)
		return a->path && url_matches(rule, a->path);
	return has_or_all(json_object_get(rule, "apiGroups"), a->group) &&
	       resource_matches(rule, a) && name_matches(rule, a);
}

/* ---- subjects ---- */

bool llmo_user_in_group(const struct llmo_user *user, const char *group)
{
	for (size_t i = 0; i < user->groups.len; i++)
		if (strcmp(user->groups.items[i], group) == 0)
			return true;
	return false;
}

bool llmo_rbac_subject_applies(const json_t *subject, const struct llmo_user *user,
			       const char *binding_ns)
{
	const char *kind = json_string_value(json_object_get(subject, "kind"));
	const char *name = json_string_value(json_object_get(subject, "name"));
	const char *ns = json_string_value(json_object_get(subject, "namespace"));
	char sa[2 * LLMO_RBAC_SEGMENT_MAX + 32];

	if (!kind || !name)
		return false;
	if (strcmp(kind, "User") == 0)
		return strcmp(name, user->name) == 0;
	if (strcmp(kind, "Group") == 0)
		return llmo_user_in_group(user, name);
	if (strcmp(kind, "ServiceAccount") == 0) {
		if (!ns || !*ns)
			ns = binding_ns;
		if (!ns || !*ns)
			return false;
		snprintf(sa, sizeof(sa), "system:serviceaccount:%s:%s", ns, name);
		return strcmp(sa, user->name) == 0;
	}
	return false;
}

/* ---- evaluation over the store ---- */

struct visit {
	struct llmo_store *store;
	const struct llmo_user *user;
	const struct llmo_rbac_attrs *a;
	json_t *bindings; /* [[ns, binding], ...] */
	json_t *collect;  /* NULL, or where every rule of the user's roles goes */
	struct llmo_buf errors;
	size_t nerrors;
	bool allowed;
};

static int collect_binding(void *ctx, const char *ns, const char *name, const char *data,
			   int64_t rv)
{
	struct visit *v = ctx;
	json_t *b = json_loads(data, 0, NULL);

	(void)name;
	(void)rv;
	if (b && json_array_append_new(v->bindings, json_pack("[s, o]", ns, b)) != 0)
		return LLMO_ENOMEM;
	return 0;
}

static void describe_subject(const json_t *s, char *out, size_t n)
{
	const char *kind = json_string_value(json_object_get(s, "kind"));
	const char *name = json_string_value(json_object_get(s, "name"));
	const char *ns = json_string_value(json_object_get(s, "namespace"));

	if (ns && *ns)
		snprintf(out, n, "%s \"%s/%s\"", kind, ns, name);
	else
		snprintf(out, n, "%s \"%s\"", kind, name);
}

/* Looks at one binding: sets v->allowed (and reason) when one of its role's rules allows. */
static int visit_binding(struct visit *v, const char *ns, const json_t *b, char *reason,
			 size_t reason_size)
{
	const json_t *ref = json_object_get(b, "roleRef"), *subject = NULL, *s, *rule;
	const char *kind = json_string_value(json_object_get(ref, "kind"));
	const char *role = json_string_value(json_object_get(ref, "name"));
	const char *bname = json_string_value(
		json_object_get(json_object_get(b, "metadata"), "name"));
	bool cluster_role;
	char *data = NULL;
	json_t *obj;
	size_t i;
	int rc;

	json_array_foreach(json_object_get(b, "subjects"), i, s) {
		if (llmo_rbac_subject_applies(s, v->user, ns)) {
			subject = s;
			break;
		}
	}
	if (!subject || !kind || !role || !bname)
		return 0;
	cluster_role = strcmp(kind, "ClusterRole") == 0;
	if (!cluster_role && strcmp(kind, "Role") != 0)
		return 0;
	rc = llmo_store_get(v->store, cluster_role ? KEY_CR : KEY_ROLE, cluster_role ? "" : ns,
			    role, &data, NULL);
	if (rc == LLMO_ENOTFOUND) {
		if (v->nerrors++ < RBAC_ERRORS_MAX)
			llmo_buf_appendf(&v->errors, "%s%s.%s \"%s\" not found",
					 v->errors.len ? ", " : "", cluster_role ? "clusterrole" : "role",
					 RBAC_GROUP, role);
		return 0;
	}
	if (rc)
		return rc;
	obj = json_loads(data, 0, NULL);
	free(data);
	if (v->collect) {
		json_array_foreach(json_object_get(obj, "rules"), i, rule)
			if (json_is_object(rule))
				json_array_append_new(v->collect, json_deep_copy(rule));
		json_decref(obj);
		return 0;
	}
	json_array_foreach(json_object_get(obj, "rules"), i, rule) {
		if (llmo_rbac_rule_allows(rule, v->a)) {
			char who[2 * LLMO_RBAC_SEGMENT_MAX + 64];

			describe_subject(subject, who, sizeof(who));
			v->allowed = true;
			if (reason && *ns)
				snprintf(reason, reason_size,
					 "RBAC: allowed by RoleBinding \"%s/%s\" of %s \"%s\" to %s",
					 bname, ns, kind, role, who);
			else if (reason)
				snprintf(reason, reason_size,
					 "RBAC: allowed by ClusterRoleBinding \"%s\" of %s \"%s\" to %s",
					 bname, kind, role, who);
			break;
		}
	}
	json_decref(obj);
	return 0;
}

/* Visits the bindings of key in ns until one allows. */
static int visit_bindings(struct visit *v, const char *key, const char *ns, char *reason,
			  size_t reason_size)
{
	size_t i;
	json_t *pair;
	int rc;

	v->bindings = json_array();
	if (!v->bindings)
		return LLMO_ENOMEM;
	/* collected first: the store's callbacks must not read the store again */
	rc = llmo_store_list(v->store, key, ns, NULL, NULL, 0, collect_binding, v, NULL, NULL);
	json_array_foreach(v->bindings, i, pair) {
		if (rc || v->allowed)
			break;
		rc = visit_binding(v, json_string_value(json_array_get(pair, 0)),
				   json_array_get(pair, 1), reason, reason_size);
	}
	json_decref(v->bindings);
	v->bindings = NULL;
	return rc;
}

int llmo_rbac_authorize(struct llmo_store *store, const struct llmo_user *user,
			const struct llmo_rbac_attrs *a, bool *allowed, char *reason,
			size_t reason_size)
{
	struct visit v = {.store = store, .user = user, .a = a};
	int rc;

	*allowed = false;
	if (reason && reason_size)
		reason[0] = '\0';
	if (llmo_user_in_group(user, LLMO_RBAC_MASTERS)) {
		*allowed = true;
		return 0;
	}
	llmo_buf_init(&v.errors, 4096);
	rc = visit_bindings(&v, KEY_CRB, "", reason, reason_size);
	if (!rc && !v.allowed && a->resource_request && *a->ns)
		rc = visit_bindings(&v, KEY_RB, a->ns, reason, reason_size);
	if (!rc && !v.allowed && v.nerrors && reason)
		snprintf(reason, reason_size, "RBAC: %s%s%s", v.nerrors > 1 ? "[" : "",
			 v.errors.data ? v.errors.data : "", v.nerrors > 1 ? "]" : "");
	*allowed = !rc && v.allowed;
	llmo_buf_release(&v.errors);
	return rc;
}

/* The rules bound to user in ns (CRBs, then ns's RBs); *nerrors: the roles named and not found. */
static int bound_rules(struct llmo_store *store, const struct llmo_user *user, const char *ns,
		       json_t *rules, struct llmo_buf *errors, size_t *nerrors)
{
	struct visit v = {.store = store, .user = user, .collect = rules};
	struct llmo_rbac_attrs none;
	int rc;

	memset(&none, 0, sizeof(none));
	v.a = &none;
	llmo_buf_init(&v.errors, 4096);
	rc = visit_bindings(&v, KEY_CRB, "", NULL, 0);
	if (!rc && ns && *ns)
		rc = visit_bindings(&v, KEY_RB, ns, NULL, 0);
	*errors = v.errors;
	*nerrors = v.nerrors;
	return rc;
}

/*
 * bound_rules, with the roles not found written to out: as a list
 * (llmo_rbac_rules) or, with as_reason, worded as llmo_rbac_authorize words
 * a refusal.
 */
static int rules_and_errors(struct llmo_store *store, const struct llmo_user *user,
			    const char *ns, json_t *rules, char *out, size_t n, bool as_reason)
{
	struct llmo_buf e;
	size_t nerrors;
	int rc;

	if (out && n)
		out[0] = '\0';
	rc = bound_rules(store, user, ns, rules, &e, &nerrors);
	if (!rc && nerrors && out)
		snprintf(out, n, "%s%s%s%s", as_reason ? "RBAC: " : "",
			 as_reason && nerrors > 1 ? "[" : "", e.data ? e.data : "",
			 as_reason && nerrors > 1 ? "]" : "");
	llmo_buf_release(&e);
	return rc;
}

int llmo_rbac_rules(struct llmo_store *store, const struct llmo_user *user, const char *ns,
		    json_t *rules, char *errors, size_t errors_size)
{
	return rules_and_errors(store, user, ns, rules, errors, errors_size, false);
}

int llmo_rbac_bound_rules(struct llmo_store *store, const struct llmo_user *user,
			  const char *ns, json_t *rules, char *deny_reason, size_t n)
{
	return rules_and_errors(store, user, ns, rules, deny_reason, n, true);
}

/* ---- escalation ---- */

/* Whether one of owner's rules allows a. */
static bool owner_allows(const json_t *owner, const struct llmo_rbac_attrs *a)
{
	size_t i;
	json_t *rule;

	json_array_foreach(owner, i, rule)
		if (llmo_rbac_rule_allows(rule, a))
			return true;
	return false;
}

/* Strings of arr, or one "" when it has none (a rule without resourceNames). */
static size_t strings_or_empty(const json_t *arr, size_t i, const char **out)
{
	const json_t *v = json_array_get(arr, i);

	if (json_array_size(arr) == 0) {
		*out = "";
		return 1;
	}
	*out = json_is_string(v) ? json_string_value(v) : NULL;
	return json_array_size(arr);
}

/*
 * Whether owner (the writer's rules in ns) covers one rule of the object
 * written, broken into single verb x group x resource x name (or verb x
 * URL) pieces as Kubernetes' rule covering does. When not, *missing
 * describes the first piece that is not held.
 */
static bool covers(const json_t *owner, const json_t *rule, const char *ns, struct llmo_buf *missing)
{
	const json_t *verbs = json_object_get(rule, "verbs"), *v, *g, *res, *url;
	size_t i, j, k, l;

	json_array_foreach(verbs, i, v) {
		const char *verb = json_string_value(v);
		struct llmo_rbac_attrs a;

		if (!verb || strlen(verb) >= sizeof(a.verb))
			return false;
		json_array_foreach(json_object_get(rule, "nonResourceURLs"), j, url) {
			memset(&a, 0, sizeof(a));
			memcpy(a.verb, verb, strlen(verb) + 1);
			a.path = json_string_value(url);
			if (a.path && !owner_allows(owner, &a)) {
				llmo_buf_appendf(missing, "{NonResourceURLs:[\"%s\"], Verbs:[\"%s\"]}",
						 a.path, verb);
				return false;
			}
		}
		json_array_foreach(json_object_get(rule, "apiGroups"), j, g) {
			json_array_foreach(json_object_get(rule, "resources"), k, res) {
				const json_t *names = json_object_get(rule, "resourceNames");
				const char *group = json_string_value(g), *rs = json_string_value(res);
				const char *name;
				size_t n = strings_or_empty(names, 0, &name);

				for (l = 0; l < n; l++) {
					const char *slash;

					strings_or_empty(names, l, &name);
					memset(&a, 0, sizeof(a));
					a.resource_request = true;
					memcpy(a.verb, verb, strlen(verb) + 1);
					if (!group || !rs || !name || strlen(group) >= sizeof(a.group) ||
					    strlen(name) >= sizeof(a.name) || strlen(ns) >= sizeof(a.ns))
						return false;
					slash = strchr(rs, '/');
					if (snprintf(a.resource, sizeof(a.resource), "%.*s",
						     (int)(slash ? (size_t)(slash - rs) : strlen(rs)),
						     rs) >= (int)sizeof(a.resource) ||
					    snprintf(a.subresource, sizeof(a.subresource), "%s",
						     slash ? slash + 1 : "") >=
						    (int)sizeof(a.subresource))
						return false;
					snprintf(a.group, sizeof(a.group), "%s", group);
					snprintf(a.name, sizeof(a.name), "%s", name);
					snprintf(a.ns, sizeof(a.ns), "%s", ns);
					if (!owner_allows(owner, &a)) {
						llmo_buf_appendf(missing,
								 "{APIGroups:[\"%s\"], Resources:[\"%s\"]",
								 group, rs);
						if (*name)
							llmo_buf_appendf(missing,
									 ", ResourceNames:[\"%s\"]",
									 name);
						llmo_buf_appendf(missing, ", Verbs:[\"%s\"]}", verb);
						return false;
					}
				}
			}
		}
	}
	return true;
}

/* Whether user may do verb (escalate, bind) on the RBAC resource plural/name in ns. */
static int may(struct llmo_store *store, const struct llmo_user *user, const char *verb,
	       const char *plural, const char *name, const char *ns, bool *allowed)
{
	struct llmo_rbac_attrs a;

	memset(&a, 0, sizeof(a));
	a.resource_request = true;
	snprintf(a.verb, sizeof(a.verb), "%s", verb);
	snprintf(a.group, sizeof(a.group), "%s", RBAC_GROUP);
	snprintf(a.resource, sizeof(a.resource), "%s", plural);
	if (snprintf(a.name, sizeof(a.name), "%s", name) >= (int)sizeof(a.name) ||
	    snprintf(a.ns, sizeof(a.ns), "%s", ns) >= (int)sizeof(a.ns)) {
		*allowed = false;
		return 0;
	}
	return llmo_rbac_authorize(store, user, &a, allowed, NULL, 0);
}

int llmo_rbac_check_escalation(struct llmo_store *store, const struct llmo_user *user,
			       const char *plural, const char *ns, const json_t *obj,
			       bool *allowed, char *msg, size_t n)
{
	const char *name = json_string_value(json_object_get(json_object_get(obj, "metadata"),
							     "name"));
	bool binding = strcmp(plural, "rolebindings") == 0 ||
		       strcmp(plural, "clusterrolebindings") == 0;
	json_t *rules = NULL, *owner = NULL, *role = NULL, *rule;
	struct llmo_buf missing;
	char *data = NULL;
	size_t i;
	int rc = 0;

	*allowed = true;
	if (msg && n)
		msg[0] = '\0';
	if (llmo_user_in_group(user, LLMO_RBAC_MASTERS) ||
	    (!binding && strcmp(plural, "roles") != 0 && strcmp(plural, "clusterroles") != 0))
		return 0;
	llmo_buf_init(&missing, 4096);
	if (!name)
		name = "";
	if (!ns)
		ns = "";
	if (binding) {
		const json_t *ref = json_object_get(obj, "roleRef");
		const char *kind = json_string_value(json_object_get(ref, "kind"));
		const char *rname = json_string_value(json_object_get(ref, "name"));
		bool cluster = kind && strcmp(kind, "ClusterRole") == 0;

		if (!kind || !rname || (!cluster && strcmp(kind, "Role") != 0))
			goto out; /* binds nothing this server evaluates */
		/* the bind verb on the role lets one bind it without holding it */
		rc = may(store, user, "bind", cluster ? "clusterroles" : "roles", rname, ns, allowed);
		if (rc || *allowed)
			goto out;
		rc = llmo_store_get(store, cluster ? KEY_CR : KEY_ROLE, cluster ? "" : ns, rname,
				    &data, NULL);
		if (rc == LLMO_ENOTFOUND) {
			*allowed = false;
			rc = 0;
			if (msg)
				snprintf(msg, n, "%s.%s \"%s\" not found",
					 cluster ? "clusterrole" : "role", RBAC_GROUP, rname);
			goto out;
		}
		if (rc)
			goto out;
		role = json_loads(data, 0, NULL);
		rules = json_incref(json_object_get(role, "rules"));
	} else {
		rc = may(store, user, "escalate", plural, name, ns, allowed);
		if (rc || *allowed)
			goto out;
		rules = json_incref(json_object_get(obj, "rules"));
	}
	owner = json_array();
	if (!owner) {
		rc = LLMO_ENOMEM;
		goto out;
	}
	if ((rc = llmo_rbac_rules(store, user, ns, owner, NULL, 0)))
		goto out;
	*allowed = true;
	json_array_foreach(rules, i, rule) {
		if (!covers(owner, rule, ns, &missing)) {
			*allowed = false;
			break;
		}
	}
	if (!*allowed && msg)
		snprintf(msg, n,
			 "user \"%s\" is attempting to grant RBAC permissions not currently held: %s",
			 user->name, missing.data ? missing.data : "");
out:
	if (rc)
		*allowed = false;
	free(data);
	json_decref(role);
	json_decref(rules);
	json_decref(owner);
	llmo_buf_release(&missing);
	return rc;
}

void llmo_rbac_forbidden_message(const struct llmo_user *user, const struct llmo_rbac_attrs *a,
				 const char *reason, char *out, size_t n)
{
	struct llmo_buf b;

	llmo_buf_init(&b, 8192);
	if (!a->resource_request) {
		llmo_buf_appendf(&b, "forbidden: User \"%s\" cannot %s path \"%s\"", user->name,
				 a->verb, a->path ? a->path : "");
	} else {
		llmo_buf_appendf(&b, "%s%s%s", a->resource, *a->group ? "." : "", a->group);
		if (*a->name)
			llmo_buf_appendf(&b, " \"%s\"", a->name);
		llmo_buf_appendf(&b,
				 " is forbidden: User \"%s\" cannot %s resource \"%s%s%s\" in API "
				 "group \"%s\"",
				 user->name, a->verb, a->resource, *a->subresource ? "/" : "",
				 a->subresource, a->group);
		if (*a->ns)
			llmo_buf_appendf(&b, " in the namespace \"%s\"", a->ns);
		else
			llmo_buf_puts(&b, " at the cluster scope");
	}
	if (reason && *reason)
		llmo_buf_appendf(&b, ": %s", reason);
	snprintf(out, n, "%s", b.data ? b.data : "forbidden");
	llmo_buf_release(&b);
}

/* ---- default roles ---- */

/*
 * The default ClusterRoles, as kube-apiserver's bootstrap policy has them
 * for the resources llmo serves (kube builds admin, edit and view by
 * aggregation; llmo lists their rules directly, and gives them llmo's own
 * resources as kube's aggregation labels would).
 */
#define RO "\"get\",\"list\",\"watch\""
#define RW "\"create\",\"delete\",\"deletecollection\",\"patch\",\"update\""
#define VIEW_RULES                                                                                \
	"{\"apiGroups\":[\"\"],\"resources\":[\"configmaps\",\"endpoints\","                       \
	"\"persistentvolumeclaims\",\"persistentvolumeclaims/status\",\"pods\",\"pods/log\","      \
	"\"pods/status\",\"services\",\"services/status\",\"serviceaccounts\",\"events\"],"        \
	"\"verbs\":[" RO "]},"                                                                    \
	"{\"apiGroups\":[\"\"],\"resources\":[\"namespaces\",\"namespaces/status\"],"               \
	"\"verbs\":[" RO "]},"                                                                    \
	"{\"apiGroups\":[\"apps\"],\"resources\":[\"daemonsets\",\"daemonsets/status\","           \
	"\"deployments\",\"deployments/scale\",\"deployments/status\"],\"verbs\":[" RO "]},"        \
	"{\"apiGroups\":[\"coordination.k8s.io\"],\"resources\":[\"leases\"],\"verbs\":[" RO "]}," \
	"{\"apiGroups\":[\"networking.k8s.io\"],\"resources\":[\"networkpolicies\"],"             \
	"\"verbs\":[" RO "]},"                                                                    \
	"{\"apiGroups\":[\"metrics.k8s.io\"],\"resources\":[\"pods\",\"nodes\"],"                  \
	"\"verbs\":[" RO "]},"                                                                    \
	"{\"apiGroups\":[\"llm.orchestrator.io\"],\"resources\":[\"*\"],\"verbs\":[" RO "]}"
#define EDIT_RULES                                                                                \
	"{\"apiGroups\":[\"\"],\"resources\":[\"configmaps\",\"endpoints\","                       \
	"\"persistentvolumeclaims\",\"pods\",\"pods/eviction\",\"services\",\"serviceaccounts\","  \
	"\"secrets\",\"events\"],\"verbs\":[" RW "]},"                                            \
	"{\"apiGroups\":[\"\"],\"resources\":[\"secrets\"],\"verbs\":[" RO "]},"                    \
	"{\"apiGroups\":[\"apps\"],\"resources\":[\"daemonsets\",\"deployments\","                 \
	"\"deployments/scale\"],\"verbs\":[" RW "]},"                                             \
	"{\"apiGroups\":[\"coordination.k8s.io\"],\"resources\":[\"leases\"],\"verbs\":[" RW "]}," \
	"{\"apiGroups\":[\"networking.k8s.io\"],\"resources\":[\"networkpolicies\"],"             \
	"\"verbs\":[" RW "]},"                                                                    \
	"{\"apiGroups\":[\"llm.orchestrator.io\"],\"resources\":[\"*\"],\"verbs\":[" RW "]}"
#define ADMIN_RULES                                                                               \
	"{\"apiGroups\":[\"rbac.authorization.k8s.io\"],\"resources\":[\"roles\","                 \
	"\"rolebindings\"],\"verbs\":[" RO "," RW "]},"                                           \
	"{\"apiGroups\":[\"authorization.k8s.io\"],"                                              \
	"\"resources\":[\"localsubjectaccessreviews\"],\"verbs\":[\"create\"]}"
#define DISCOVERY_URLS                                                                            \
	"\"/api\",\"/api/*\",\"/apis\",\"/apis/*\",\"/healthz\",\"/livez\",\"/openapi\","          \
	"\"/openapi/*\",\"/readyz\",\"/version\",\"/version/\""

struct default_role {
	const char *name;
	const char *rules; /* JSON array text */
	const char *bind_group; /* a ClusterRoleBinding of the same name to this group, or NULL */
};

static const struct default_role default_roles[] = {
	{"cluster-admin",
	 "[{\"apiGroups\":[\"*\"],\"resources\":[\"*\"],\"verbs\":[\"*\"]},"
	 "{\"nonResourceURLs\":[\"*\"],\"verbs\":[\"*\"]}]",
	 LLMO_RBAC_MASTERS},
	{"admin", "[" VIEW_RULES "," EDIT_RULES "," ADMIN_RULES "]", NULL},
	{"edit", "[" VIEW_RULES "," EDIT_RULES "]", NULL},
	{"view", "[" VIEW_RULES "]", NULL},
	{"system:discovery", "[{\"nonResourceURLs\":[" DISCOVERY_URLS "],\"verbs\":[\"get\"]}]",
	 LLMO_RBAC_AUTHENTICATED},
	{"system:public-info-viewer",
	 "[{\"nonResourceURLs\":[\"/healthz\",\"/livez\",\"/readyz\",\"/version\",\"/version/\"],"
	 "\"verbs\":[\"get\"]}]",
	 LLMO_RBAC_AUTHENTICATED},
	{"system:basic-user",
	 "[{\"apiGroups\":[\"authorization.k8s.io\"],\"resources\":[\"selfsubjectaccessreviews\","
	 "\"selfsubjectrulesreviews\"],\"verbs\":[\"create\"]},"
	 "{\"apiGroups\":[\"authentication.k8s.io\"],\"resources\":[\"selfsubjectreviews\"],"
	 "\"verbs\":[\"create\"]}]",
	 LLMO_RBAC_AUTHENTICATED},
};

/* Stores obj under key/name unless something is there already. */
static int create_absent(struct llmo_store *store, const char *key, const char *kind,
			 const char *name, json_t *obj, struct llmo_error *err)
{
	char ts[64], uid[300], *text;
	json_t *meta = json_object_get(obj, "metadata");
	int rc;

	llmo_time_format_rfc3339(llmo_clock_wall_ms(), false, ts, sizeof(ts));
	snprintf(uid, sizeof(uid), "%s-%s", kind, name);
	json_object_set_new(meta, "uid", json_string(uid));
	json_object_set_new(meta, "creationTimestamp", json_string(ts));
	text = json_dumps(obj, JSON_COMPACT);
	if (!text)
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	rc = llmo_store_create(store, key, "", name, text, NULL);
	free(text);
	if (rc && rc != LLMO_EEXIST)
		return llmo_error_set(err, rc, "creating %s %s: %s", kind, name, llmo_strerror(rc));
	return 0;
}

static json_t *default_meta(const char *name)
{
	return json_pack("{s:s, s:{s:s}, s:{s:s}}", "name", name, "labels",
			 "kubernetes.io/bootstrapping", "rbac-defaults", "annotations",
			 "rbac.authorization.kubernetes.io/autoupdate", "true");
}

int llmo_rbac_bootstrap(struct llmo_store *store, struct llmo_error *err)
{
	for (size_t i = 0; i < LLMO_ARRAY_LEN(default_roles); i++) {
		const struct default_role *d = &default_roles[i];
		json_t *rules = json_loads(d->rules, 0, NULL), *obj;
		int rc;

		if (!rules)
			return llmo_error_set(err, LLMO_EINTERNAL, "default ClusterRole %s: bad rules",
					      d->name);
		obj = json_pack("{s:o, s:o}", "metadata", default_meta(d->name), "rules", rules);
		rc = obj ? create_absent(store, KEY_CR, "clusterrole", d->name, obj, err)
			 : llmo_error_set(err, LLMO_ENOMEM, "out of memory");
		json_decref(obj);
		if (rc)
			return rc;
		if (!d->bind_group)
			continue;
		obj = json_pack("{s:o, s:{s:s, s:s, s:s}, s:[{s:s, s:s, s:s}]}", "metadata",
				default_meta(d->name), "roleRef", "apiGroup", RBAC_GROUP, "kind",
				"ClusterRole", "name", d->name, "subjects", "apiGroup", RBAC_GROUP,
				"kind", "Group", "name", d->bind_group);
		rc = obj ? create_absent(store, KEY_CRB, "clusterrolebinding", d->name, obj, err)
			 : llmo_error_set(err, LLMO_ENOMEM, "out of memory");
		json_decref(obj);
		if (rc)
			return rc;
	}
	return 0;
}
