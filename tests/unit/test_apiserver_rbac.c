/*
 * RBAC as tables, worked out by hand from the Kubernetes docs ("Using RBAC
 * Authorization", "Authorization Overview": request verbs and attributes)
 * and k8s.io/apiserver's RequestInfoFactory and rbac/v1 helpers: request
 * method + path -> attributes; hand-written PolicyRule x request -> allow;
 * subjects; the Forbidden message; bindings in a store; the token file.
 * JSON in the tables uses ' for ".
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/common.h"
#include "apiserver/rbac.h"
#include "apiserver/satoken.h"
#include "apiserver/store.h"
#include "apiserver/tokens.h"
#include "test_json.h"

/* ---- method + path -> attributes ---- */

struct attrs_case {
	const char *method, *path;
	bool watch;
	bool resource;
	const char *verb, *group, *resource_name, *sub, *name, *ns;
};

static const struct attrs_case attrs_cases[] = {
	/* collections: GET is list (or watch), DELETE deletecollection, POST create */
	{"GET", "/api/v1/namespaces/default/pods", false, true, "list", "", "pods", "", "", "default"},
	{"GET", "/api/v1/namespaces/default/pods", true, true, "watch", "", "pods", "", "", "default"},
	{"GET", "/api/v1/pods", false, true, "list", "", "pods", "", "", ""},
	{"DELETE", "/api/v1/namespaces/ns1/configmaps", false, true, "deletecollection", "",
	 "configmaps", "", "", "ns1"},
	{"POST", "/api/v1/namespaces/ns1/configmaps", false, true, "create", "", "configmaps", "",
	 "", "ns1"},
	/* named objects */
	{"GET", "/api/v1/namespaces/default/pods/p1", false, true, "get", "", "pods", "", "p1",
	 "default"},
	{"GET", "/api/v1/namespaces/default/pods/p1", true, true, "get", "", "pods", "", "p1",
	 "default"},
	{"PUT", "/apis/apps/v1/namespaces/a/deployments/d", false, true, "update", "apps",
	 "deployments", "", "d", "a"},
	{"PATCH", "/apis/llm.orchestrator.io/v1/namespaces/w/llmworkloads/x", false, true, "patch",
	 "llm.orchestrator.io", "llmworkloads", "", "x", "w"},
	{"DELETE", "/api/v1/nodes/n1", false, true, "delete", "", "nodes", "", "n1", ""},
	{"HEAD", "/api/v1/nodes/n1", false, true, "get", "", "nodes", "", "n1", ""},
	/* subresources */
	{"GET", "/api/v1/namespaces/default/pods/p1/log", false, true, "get", "", "pods", "log",
	 "p1", "default"},
	{"PUT", "/apis/apps/v1/namespaces/a/deployments/d/scale", false, true, "update", "apps",
	 "deployments", "scale", "d", "a"},
	{"POST", "/api/v1/namespaces/a/pods/p/eviction", false, true, "create", "", "pods",
	 "eviction", "p", "a"},
	/* a namespace is in itself; its status stays a subresource of namespaces */
	{"GET", "/api/v1/namespaces/team", false, true, "get", "", "namespaces", "", "team", "team"},
	{"PUT", "/api/v1/namespaces/team/status", false, true, "update", "", "namespaces", "status",
	 "team", "team"},
	{"PUT", "/api/v1/namespaces/team/finalize", false, true, "update", "", "namespaces",
	 "finalize", "team", "team"},
	{"GET", "/api/v1/namespaces", false, true, "list", "", "namespaces", "", "", ""},
	{"POST", "/api/v1/namespaces", false, true, "create", "", "namespaces", "", "", ""},
	/* cluster-scoped in a group */
	{"GET", "/apis/rbac.authorization.k8s.io/v1/clusterroles/view", false, true, "get",
	 "rbac.authorization.k8s.io", "clusterroles", "", "view", ""},
	{"POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", false, true, "create",
	 "authorization.k8s.io", "selfsubjectaccessreviews", "", "", ""},
	/* doubled slashes are one separator */
	{"GET", "//api//v1//pods", false, true, "list", "", "pods", "", "", ""},
	/* discovery and the rest are non-resource: the verb is the method */
	{"GET", "/api", false, false, "get", "", "", "", "", ""},
	{"GET", "/api/v1", false, false, "get", "", "", "", "", ""},
	{"GET", "/apis", false, false, "get", "", "", "", "", ""},
	{"GET", "/apis/apps", false, false, "get", "", "", "", "", ""},
	{"GET", "/apis/apps/v1", false, false, "get", "", "", "", "", ""},
	{"GET", "/healthz", false, false, "get", "", "", "", "", ""},
	{"POST", "/metrics", false, false, "post", "", "", "", "", ""},
	{"GET", "/openapi/v3/apis/apps/v1", false, false, "get", "", "", "", "", ""},
};

static void test_attrs(void **state)
{
	(void)state;
	for (size_t i = 0; i < LLMO_ARRAY_LEN(attrs_cases); i++) {
		const struct attrs_case *c = &attrs_cases[i];
		struct llmo_rbac_attrs a;

		assert_int_equal(llmo_rbac_attrs_from_request(c->method, c->path, c->watch, &a), 0);
		if (a.resource_request != c->resource || strcmp(a.verb, c->verb) != 0 ||
		    strcmp(a.group, c->group) != 0 || strcmp(a.resource, c->resource_name) != 0 ||
		    strcmp(a.subresource, c->sub) != 0 || strcmp(a.name, c->name) != 0 ||
		    strcmp(a.ns, c->ns) != 0)
			fail_msg("%s %s: got resource=%d verb=%s group=%s resource=%s sub=%s name=%s "
				 "ns=%s",
				 c->method, c->path, a.resource_request, a.verb, a.group, a.resource,
				 a.subresource, a.name, a.ns);
		assert_string_equal(a.path, c->path);
	}
}

static void test_attrs_too_long(void **state)
{
	char path[600];
	struct llmo_rbac_attrs a;

	(void)state;
	snprintf(path, sizeof(path), "/api/v1/namespaces/default/pods/%0300d", 7);
	assert_int_equal(llmo_rbac_attrs_from_request("GET", path, false, &a), LLMO_ETOOBIG);
	snprintf(path, sizeof(path), "/healthz/%0300d", 7);
	assert_int_equal(llmo_rbac_attrs_from_request("GET", path, false, &a), 0);
	assert_false(a.resource_request);
}

/* ---- rules ---- */

struct rule_case {
	const char *rule;
	const char *method, *path;
	bool allowed;
};

static const struct rule_case rule_cases[] = {
	/* verbs and groups */
	{"{'apiGroups':[''],'resources':['pods'],'verbs':['get','list']}", "GET",
	 "/api/v1/namespaces/d/pods", true},
	{"{'apiGroups':[''],'resources':['pods'],'verbs':['get']}", "GET",
	 "/api/v1/namespaces/d/pods", false},
	{"{'apiGroups':[''],'resources':['pods'],'verbs':['list']}", "GET",
	 "/api/v1/namespaces/d/pods?watch=1", false}, /* watch is a verb of its own */
	{"{'apiGroups':[''],'resources':['pods'],'verbs':['watch']}", "GET",
	 "/api/v1/namespaces/d/pods?watch=1", true},
	{"{'apiGroups':[''],'resources':['pods'],'verbs':['*']}", "DELETE",
	 "/api/v1/namespaces/d/pods", true},
	{"{'apiGroups':['apps'],'resources':['pods'],'verbs':['*']}", "GET", "/api/v1/pods", false},
	{"{'apiGroups':['*'],'resources':['deployments'],'verbs':['get']}", "GET",
	 "/apis/apps/v1/namespaces/a/deployments/d", true},
	{"{'resources':['pods'],'verbs':['get']}", "GET", "/api/v1/namespaces/a/pods/p", false},
	/* subresources: "pods" is not "pods/log"; "pods/log" and "*\/log" are */
	{"{'apiGroups':[''],'resources':['pods'],'verbs':['get']}", "GET",
	 "/api/v1/namespaces/a/pods/p/log", false},
	{"{'apiGroups':[''],'resources':['pods/log'],'verbs':['get']}", "GET",
	 "/api/v1/namespaces/a/pods/p/log", true},
	{"{'apiGroups':[''],'resources':['pods/log'],'verbs':['get']}", "GET",
	 "/api/v1/namespaces/a/pods/p", false},
	{"{'apiGroups':[''],'resources':['*/log'],'verbs':['get']}", "GET",
	 "/api/v1/namespaces/a/pods/p/log", true},
	{"{'apiGroups':[''],'resources':['*/log'],'verbs':['get']}", "GET",
	 "/api/v1/namespaces/a/pods/p/status", false},
	{"{'apiGroups':[''],'resources':['*/log'],'verbs':['get']}", "GET",
	 "/api/v1/namespaces/a/pods/p", false},
	{"{'apiGroups':[''],'resources':['*'],'verbs':['get']}", "GET",
	 "/api/v1/namespaces/a/pods/p/log", true},
	{"{'apiGroups':['apps'],'resources':['deployments/scale'],'verbs':['update']}", "PUT",
	 "/apis/apps/v1/namespaces/a/deployments/d/scale", true},
	/* resourceNames: only requests that name an object */
	{"{'apiGroups':[''],'resources':['configmaps'],'resourceNames':['s'],'verbs':['get']}",
	 "GET", "/api/v1/namespaces/a/configmaps/s", true},
	{"{'apiGroups':[''],'resources':['configmaps'],'resourceNames':['s'],'verbs':['get']}",
	 "GET", "/api/v1/namespaces/a/configmaps/t", false},
	{"{'apiGroups':[''],'resources':['configmaps'],'resourceNames':['s'],'verbs':['list']}",
	 "GET", "/api/v1/namespaces/a/configmaps", false},
	{"{'apiGroups':[''],'resources':['configmaps'],'resourceNames':[],'verbs':['list']}", "GET",
	 "/api/v1/namespaces/a/configmaps", true},
	/* non-resource URLs: exact, or a prefix ending in * */
	{"{'nonResourceURLs':['/healthz'],'verbs':['get']}", "GET", "/healthz", true},
	{"{'nonResourceURLs':['/healthz'],'verbs':['get']}", "GET", "/healthz/etcd", false},
	{"{'nonResourceURLs':['/healthz/*'],'verbs':['get']}", "GET", "/healthz/etcd", true},
	{"{'nonResourceURLs':['/healthz/*'],'verbs':['get']}", "GET", "/healthz", false},
	{"{'nonResourceURLs':['/apis*'],'verbs':['get']}", "GET", "/apis/apps/v1", true},
	{"{'nonResourceURLs':['*'],'verbs':['get']}", "GET", "/metrics", true},
	{"{'nonResourceURLs':['/metrics'],'verbs':['get']}", "POST", "/metrics", false},
	{"{'nonResourceURLs':['/metrics'],'verbs':['post']}", "POST", "/metrics", true},
	/* a resource rule never matches a path, nor a path rule a resource */
	{"{'apiGroups':['*'],'resources':['*'],'verbs':['*']}", "GET", "/healthz", false},
	{"{'nonResourceURLs':['*'],'verbs':['*']}", "GET", "/api/v1/pods", false},
	/* malformed rules allow nothing */
	{"{'apiGroups':'','resources':'pods','verbs':'get'}", "GET", "/api/v1/namespaces/a/pods/p",
	 false},
	{"[]", "GET", "/api/v1/namespaces/a/pods/p", false},
};

static void test_rules(void **state)
{
	(void)state;
	for (size_t i = 0; i < LLMO_ARRAY_LEN(rule_cases); i++) {
		const struct rule_case *c = &rule_cases[i];
		char path[256];
		const char *q = strchr(c->path, '?');
		struct llmo_rbac_attrs a;
		json_t *rule = J(c->rule);

		snprintf(path, sizeof(path), "%.*s", q ? (int)(q - c->path) : (int)strlen(c->path),
			 c->path);
		assert_int_equal(llmo_rbac_attrs_from_request(c->method, path, q != NULL, &a), 0);
		if (llmo_rbac_rule_allows(rule, &a) != c->allowed)
			fail_msg("rule %s on %s %s: expected %s", c->rule, c->method, c->path,
				 c->allowed ? "allow" : "no");
		json_decref(rule);
	}
}

/* ---- subjects ---- */

static struct llmo_user user_new(const char *name, const char *groups_csv)
{
	struct llmo_user u = {.name = strdup(name), .uid = strdup("1")};

	if (groups_csv)
		assert_int_equal(llmo_str_split(groups_csv, ',', &u.groups), 0);
	return u;
}

static void test_subjects(void **state)
{
	struct llmo_user bob = user_new("bob", "dev,system:authenticated");
	struct llmo_user sa = user_new("system:serviceaccount:team:builder", NULL);
	struct {
		const char *subject;
		const struct llmo_user *u;
		const char *binding_ns;
		bool applies;
	} cases[] = {
		{"{'kind':'User','name':'bob'}", &bob, "", true},
		{"{'kind':'User','name':'Bob'}", &bob, "", false},
		{"{'kind':'Group','name':'dev'}", &bob, "", true},
		{"{'kind':'Group','name':'system:authenticated'}", &bob, "x", true},
		{"{'kind':'Group','name':'ops'}", &bob, "", false},
		{"{'kind':'User','name':'dev'}", &bob, "", false},
		{"{'kind':'ServiceAccount','name':'builder','namespace':'team'}", &sa, "", true},
		/* the RoleBinding's namespace when the subject has none */
		{"{'kind':'ServiceAccount','name':'builder'}", &sa, "team", true},
		{"{'kind':'ServiceAccount','name':'builder'}", &sa, "", false},
		{"{'kind':'ServiceAccount','name':'builder','namespace':'other'}", &sa, "team", false},
		{"{'kind':'Robot','name':'bob'}", &bob, "", false},
		{"{'kind':'User'}", &bob, "", false},
	};

	(void)state;
	for (size_t i = 0; i < LLMO_ARRAY_LEN(cases); i++) {
		json_t *s = J(cases[i].subject);

		if (llmo_rbac_subject_applies(s, cases[i].u, cases[i].binding_ns) != cases[i].applies)
			fail_msg("subject %s in ns '%s' for %s: expected %d", cases[i].subject,
				 cases[i].binding_ns, cases[i].u->name, cases[i].applies);
		json_decref(s);
	}
	llmo_user_release(&bob);
	llmo_user_release(&sa);
}

/* ---- the Forbidden message (kube-apiserver's words) ---- */

static void test_forbidden_message(void **state)
{
	struct llmo_user bob = user_new("bob", NULL);
	struct {
		const char *method, *path, *reason, *msg;
	} cases[] = {
		{"GET", "/api/v1/namespaces/default/pods", "",
		 "pods is forbidden: User \"bob\" cannot list resource \"pods\" in API group \"\" in "
		 "the namespace \"default\""},
		{"GET", "/api/v1/namespaces/default/pods/p1/log", NULL,
		 "pods \"p1\" is forbidden: User \"bob\" cannot get resource \"pods/log\" in API "
		 "group \"\" in the namespace \"default\""},
		{"DELETE", "/apis/apps/v1/deployments", "",
		 "deployments.apps is forbidden: User \"bob\" cannot deletecollection resource "
		 "\"deployments\" in API group \"apps\" at the cluster scope"},
		{"GET", "/api/v1/nodes/n1", "RBAC: clusterrole.rbac.authorization.k8s.io \"x\" not found",
		 "nodes \"n1\" is forbidden: User \"bob\" cannot get resource \"nodes\" in API group "
		 "\"\" at the cluster scope: RBAC: clusterrole.rbac.authorization.k8s.io \"x\" not "
		 "found"},
		{"GET", "/metrics", "", "forbidden: User \"bob\" cannot get path \"/metrics\""},
	};

	(void)state;
	for (size_t i = 0; i < LLMO_ARRAY_LEN(cases); i++) {
		struct llmo_rbac_attrs a;
		char msg[1024];

		assert_int_equal(llmo_rbac_attrs_from_request(cases[i].method, cases[i].path, false,
							      &a),
				 0);
		llmo_rbac_forbidden_message(&bob, &a, cases[i].reason, msg, sizeof(msg));
		assert_string_equal(msg, cases[i].msg);
	}
	llmo_user_release(&bob);
}

/* ---- bindings in a store ---- */

static void put(struct llmo_store *s, const char *key, const char *ns, const char *name,
		const char *json)
{
	json_t *obj = J(json);
	char *text = json_dumps(obj, JSON_COMPACT);

	assert_int_equal(llmo_store_create(s, key, ns, name, text, NULL), 0);
	free(text);
	json_decref(obj);
}

static bool decide(struct llmo_store *s, const struct llmo_user *u, const char *method,
		   const char *path, char *reason, size_t n)
{
	struct llmo_rbac_attrs a;
	bool allowed = true;

	assert_int_equal(llmo_rbac_attrs_from_request(method, path, false, &a), 0);
	assert_int_equal(llmo_rbac_authorize(s, u, &a, &allowed, reason, n), 0);
	return allowed;
}

static void test_authorize_store(void **state)
{
	struct llmo_user bob = user_new("bob", "system:authenticated");
	struct llmo_user eve = user_new("eve", "system:authenticated");
	struct llmo_user root = user_new("root", "system:masters");
	struct llmo_error err = {0};
	struct llmo_store *s = NULL;
	char reason[512];

	(void)state;
	assert_int_equal(llmo_store_open(":memory:", &s, &err), 0);
	assert_int_equal(llmo_rbac_bootstrap(s, &err), 0);
	assert_int_equal(llmo_rbac_bootstrap(s, &err), 0); /* twice is fine */

	/* masters need no binding; everyone authenticated gets discovery */
	assert_true(decide(s, &root, "DELETE", "/api/v1/nodes/n", reason, sizeof(reason)));
	assert_string_equal(reason, "");
	assert_true(decide(s, &bob, "GET", "/apis/apps/v1", reason, sizeof(reason)));
	assert_string_equal(reason, "RBAC: allowed by ClusterRoleBinding \"system:discovery\" of "
				    "ClusterRole \"system:discovery\" to Group "
				    "\"system:authenticated\"");
	assert_false(decide(s, &bob, "GET", "/metrics", reason, sizeof(reason)));
	assert_false(decide(s, &bob, "GET", "/api/v1/namespaces/team/pods", reason,
			    sizeof(reason)));
	assert_string_equal(reason, "");

	/* a RoleBinding to view in team: reads in team, nothing elsewhere */
	put(s, "rbac.authorization.k8s.io/rolebindings", "team", "bob-view",
	    "{'metadata':{'name':'bob-view','namespace':'team'},'roleRef':{'kind':'ClusterRole',"
	    "'name':'view'},'subjects':[{'kind':'User','name':'bob'}]}");
	assert_true(decide(s, &bob, "GET", "/api/v1/namespaces/team/pods", reason,
			   sizeof(reason)));
	assert_string_equal(reason, "RBAC: allowed by RoleBinding \"bob-view/team\" of ClusterRole "
				    "\"view\" to User \"bob\"");
	assert_true(decide(s, &bob, "GET", "/api/v1/namespaces/team/pods/p/log", reason,
			   sizeof(reason)));
	assert_false(decide(s, &bob, "GET", "/api/v1/namespaces/team/secrets", reason,
			    sizeof(reason)));
	assert_false(decide(s, &bob, "POST", "/api/v1/namespaces/team/pods", reason,
			    sizeof(reason)));
	assert_false(decide(s, &bob, "GET", "/api/v1/namespaces/other/pods", reason,
			    sizeof(reason)));
	assert_false(decide(s, &bob, "GET", "/api/v1/pods", reason, sizeof(reason)));
	assert_false(decide(s, &eve, "GET", "/api/v1/namespaces/team/pods", reason,
			    sizeof(reason)));
	/* the rules a SelfSubjectRulesReview lists: the 4 rules every authenticated
	 * user has (discovery 1, public-info-viewer 1, basic-user 2), plus view's 7 in team
	 * (core, namespaces, apps, leases, networkpolicies, metrics.k8s.io,
	 * llm.orchestrator.io) */
	{
		json_t *rules = json_array();

		assert_int_equal(llmo_rbac_rules(s, &bob, "team", rules, reason, sizeof(reason)), 0);
		assert_int_equal(json_array_size(rules), 4 + 7);
		assert_string_equal(reason, "");
		json_array_clear(rules);
		assert_int_equal(llmo_rbac_rules(s, &bob, "other", rules, NULL, 0), 0);
		assert_int_equal(json_array_size(rules), 4);
		json_decref(rules);
	}

	/* a Role of the namespace, and bindings to missing roles named in the reason */
	put(s, "rbac.authorization.k8s.io/roles", "team", "cm",
	    "{'metadata':{'name':'cm','namespace':'team'},'rules':[{'apiGroups':[''],"
	    "'resources':['configmaps'],'verbs':['create']}]}");
	put(s, "rbac.authorization.k8s.io/rolebindings", "team", "a-missing",
	    "{'metadata':{'name':'a-missing','namespace':'team'},'roleRef':{'kind':'Role',"
	    "'name':'gone'},'subjects':[{'kind':'User','name':'eve'}]}");
	put(s, "rbac.authorization.k8s.io/rolebindings", "team", "b-missing",
	    "{'metadata':{'name':'b-missing','namespace':'team'},'roleRef':{'kind':'ClusterRole',"
	    "'name':'gone2'},'subjects':[{'kind':'User','name':'eve'}]}");
	assert_false(decide(s, &eve, "POST", "/api/v1/namespaces/team/configmaps", reason,
			    sizeof(reason)));
	assert_string_equal(reason, "RBAC: [role.rbac.authorization.k8s.io \"gone\" not found, "
				    "clusterrole.rbac.authorization.k8s.io \"gone2\" not found]");
	{
		json_t *rules = json_array();

		assert_int_equal(llmo_rbac_rules(s, &eve, "team", rules, reason, sizeof(reason)), 0);
		assert_string_equal(reason, "role.rbac.authorization.k8s.io \"gone\" not found, "
					    "clusterrole.rbac.authorization.k8s.io \"gone2\" not "
					    "found");
		json_decref(rules);
	}
	put(s, "rbac.authorization.k8s.io/rolebindings", "team", "c-cm",
	    "{'metadata':{'name':'c-cm','namespace':'team'},'roleRef':{'kind':'Role','name':'cm'},"
	    "'subjects':[{'kind':'User','name':'eve'}]}");
	assert_true(decide(s, &eve, "POST", "/api/v1/namespaces/team/configmaps", reason,
			   sizeof(reason)));
	assert_false(decide(s, &eve, "POST", "/api/v1/namespaces/other/configmaps", reason,
			    sizeof(reason)));
	assert_string_equal(reason, "");

	/* a RoleBinding to a Role of another namespace does not reach it */
	put(s, "rbac.authorization.k8s.io/rolebindings", "other", "cm",
	    "{'metadata':{'name':'cm','namespace':'other'},'roleRef':{'kind':'Role','name':'cm'},"
	    "'subjects':[{'kind':'User','name':'eve'}]}");
	assert_false(decide(s, &eve, "POST", "/api/v1/namespaces/other/configmaps", reason,
			    sizeof(reason)));
	assert_string_equal(reason, "RBAC: role.rbac.authorization.k8s.io \"cm\" not found");

	/* a ClusterRoleBinding reaches every namespace and the cluster scope */
	put(s, "rbac.authorization.k8s.io/clusterrolebindings", "", "eve-admin",
	    "{'metadata':{'name':'eve-admin'},'roleRef':{'kind':'ClusterRole',"
	    "'name':'cluster-admin'},'subjects':[{'kind':'User','name':'eve'}]}");
	assert_true(decide(s, &eve, "DELETE", "/api/v1/nodes/n", reason, sizeof(reason)));
	assert_true(decide(s, &eve, "GET", "/metrics", reason, sizeof(reason)));
	assert_string_equal(reason, "RBAC: allowed by ClusterRoleBinding \"eve-admin\" of "
				    "ClusterRole \"cluster-admin\" to User \"eve\"");
	llmo_store_close(s);
	llmo_user_release(&bob);
	llmo_user_release(&eve);
	llmo_user_release(&root);
}

/* ---- escalation prevention ---- */

static bool may_write(struct llmo_store *s, const struct llmo_user *u, const char *plural,
		      const char *ns, const char *obj_json, char *msg, size_t n)
{
	json_t *obj = J(obj_json);
	bool allowed = false;

	assert_int_equal(llmo_rbac_check_escalation(s, u, plural, ns, obj, &allowed, msg, n), 0);
	json_decref(obj);
	return allowed;
}

static void test_escalation(void **state)
{
	struct llmo_user amy = user_new("amy", "system:authenticated");
	struct llmo_user root = user_new("root", "system:masters");
	struct llmo_error err = {0};
	struct llmo_store *s = NULL;
	char msg[1024];

	(void)state;
	assert_int_equal(llmo_store_open(":memory:", &s, &err), 0);
	assert_int_equal(llmo_rbac_bootstrap(s, &err), 0);
	/* amy is admin of team */
	put(s, "rbac.authorization.k8s.io/rolebindings", "team", "amy-admin",
	    "{'metadata':{'name':'amy-admin','namespace':'team'},'roleRef':{'kind':'ClusterRole',"
	    "'name':'admin'},'subjects':[{'kind':'User','name':'amy'}]}");
	/* bindings: to roles she holds in team, yes; to more, or elsewhere, no */
	assert_true(may_write(s, &amy, "rolebindings", "team",
			      "{'metadata':{'name':'b'},'roleRef':{'kind':'ClusterRole','name':'view'}}",
			      msg, sizeof(msg)));
	assert_true(may_write(s, &amy, "rolebindings", "team",
			      "{'metadata':{'name':'b'},'roleRef':{'kind':'ClusterRole','name':'edit'}}",
			      msg, sizeof(msg)));
	assert_false(may_write(s, &amy, "rolebindings", "team",
			       "{'metadata':{'name':'b'},'roleRef':{'kind':'ClusterRole',"
			       "'name':'cluster-admin'}}",
			       msg, sizeof(msg)));
	assert_string_equal(msg, "user \"amy\" is attempting to grant RBAC permissions not "
				 "currently held: {APIGroups:[\"*\"], Resources:[\"*\"], "
				 "Verbs:[\"*\"]}");
	assert_false(may_write(s, &amy, "rolebindings", "other",
			       "{'metadata':{'name':'b'},'roleRef':{'kind':'ClusterRole','name':'view'}}",
			       msg, sizeof(msg)));
	assert_false(may_write(s, &amy, "clusterrolebindings", "",
			       "{'metadata':{'name':'b'},'roleRef':{'kind':'ClusterRole','name':'view'}}",
			       msg, sizeof(msg)));
	assert_false(may_write(s, &amy, "rolebindings", "team",
			       "{'metadata':{'name':'b'},'roleRef':{'kind':'Role','name':'nope'}}", msg,
			       sizeof(msg)));
	assert_string_equal(msg, "role.rbac.authorization.k8s.io \"nope\" not found");
	/* roles: only rules she holds, piece by piece */
	assert_true(may_write(s, &amy, "roles", "team",
			      "{'metadata':{'name':'r'},'rules':[{'apiGroups':[''],'resources':"
			      "['secrets','pods/log'],'resourceNames':['x'],'verbs':['get']}]}",
			      msg, sizeof(msg)));
	assert_false(may_write(s, &amy, "roles", "team",
			       "{'metadata':{'name':'r'},'rules':[{'apiGroups':[''],'resources':"
			       "['pods','nodes'],'verbs':['get']}]}",
			       msg, sizeof(msg)));
	assert_string_equal(msg, "user \"amy\" is attempting to grant RBAC permissions not "
				 "currently held: {APIGroups:[\"\"], Resources:[\"nodes\"], "
				 "Verbs:[\"get\"]}");
	assert_false(may_write(s, &amy, "roles", "team",
			       "{'metadata':{'name':'r'},'rules':[{'apiGroups':[''],'resources':"
			       "['*'],'verbs':['get']}]}",
			       msg, sizeof(msg)));
	assert_false(may_write(s, &amy, "clusterroles", "",
			       "{'metadata':{'name':'r'},'rules':[{'nonResourceURLs':['/metrics'],"
			       "'verbs':['get']}]}",
			       msg, sizeof(msg)));
	assert_true(may_write(s, &amy, "clusterroles", "",
			      "{'metadata':{'name':'r'},'rules':[{'nonResourceURLs':['/healthz'],"
			      "'verbs':['get']}]}",
			      msg, sizeof(msg)));
	/* the escalate and bind verbs lift the check */
	put(s, "rbac.authorization.k8s.io/clusterroles", "", "binder",
	    "{'metadata':{'name':'binder'},'rules':[{'apiGroups':['rbac.authorization.k8s.io'],"
	    "'resources':['clusterroles'],'resourceNames':['cluster-admin'],'verbs':['bind']},"
	    "{'apiGroups':['rbac.authorization.k8s.io'],'resources':['roles'],'verbs':['escalate']}]}");
	put(s, "rbac.authorization.k8s.io/rolebindings", "team", "amy-binder",
	    "{'metadata':{'name':'amy-binder','namespace':'team'},'roleRef':{'kind':'ClusterRole',"
	    "'name':'binder'},'subjects':[{'kind':'User','name':'amy'}]}");
	assert_true(may_write(s, &amy, "rolebindings", "team",
			      "{'metadata':{'name':'b'},'roleRef':{'kind':'ClusterRole',"
			      "'name':'cluster-admin'}}",
			      msg, sizeof(msg)));
	assert_true(may_write(s, &amy, "roles", "team",
			      "{'metadata':{'name':'r'},'rules':[{'apiGroups':['*'],'resources':"
			      "['*'],'verbs':['*']}]}",
			      msg, sizeof(msg)));
	/* masters, and other resources, are not checked */
	assert_true(may_write(s, &root, "clusterrolebindings", "",
			      "{'metadata':{'name':'b'},'roleRef':{'kind':'ClusterRole','name':'gone'}}",
			      msg, sizeof(msg)));
	assert_true(may_write(s, &amy, "configmaps", "other", "{'metadata':{'name':'c'}}", msg,
			      sizeof(msg)));
	llmo_store_close(s);
	llmo_user_release(&amy);
	llmo_user_release(&root);
}

/* ---- the token file ---- */

static void test_tokens(void **state)
{
	static const char text[] = "t1,alice,1\n"
				   "t2,bob,2,\"dev,ops\"\r\n"
				   "\n"
				   ",nobody,3\n"
				   "\"t\"\"3\",\"carol, jr\",4,single\n"
				   "t1,alice2,5\n";
	struct llmo_tokens t;
	struct llmo_error err = {0};
	const struct llmo_user *u;

	(void)state;
	assert_int_equal(llmo_tokens_parse(text, strlen(text), "tokens.csv", &t, &err), 0);
	assert_int_equal(t.len, 3);
	/* the later record of a token wins */
	u = llmo_tokens_find(&t, "t1", 2);
	assert_non_null(u);
	assert_string_equal(u->name, "alice2");
	assert_string_equal(u->uid, "5");
	assert_int_equal(u->groups.len, 1);
	assert_string_equal(u->groups.items[0], "system:authenticated");
	u = llmo_tokens_find(&t, "t2", 2);
	assert_non_null(u);
	assert_string_equal(u->name, "bob");
	assert_int_equal(u->groups.len, 3);
	assert_string_equal(u->groups.items[0], "dev");
	assert_string_equal(u->groups.items[1], "ops");
	u = llmo_tokens_find(&t, "t\"3", 3);
	assert_non_null(u);
	assert_string_equal(u->name, "carol, jr");
	assert_string_equal(u->groups.items[0], "single");
	assert_null(llmo_tokens_find(&t, "t", 1));
	assert_null(llmo_tokens_find(&t, "t1x", 3));
	assert_null(llmo_tokens_find(&t, "", 0));
	llmo_tokens_release(&t);
}

static void test_tokens_errors(void **state)
{
	struct {
		const char *text;
		int rc;
		const char *msg;
	} cases[] = {
		{"a,b\n", LLMO_EPARSE,
		 "f.csv:1: a record needs at least 3 fields (token, user name, user uid), found 2"},
		{"a,b,c\n\nx\n", LLMO_EPARSE, "f.csv:3: a record needs at least 3 fields"},
		{"a,b\"c,d\n", LLMO_EPARSE, "f.csv:1: bare \" in a field that is not quoted"},
		{"a,\"b\"c,d\n", LLMO_EPARSE, "f.csv:1: extraneous or missing \" in a quoted field"},
		{"a,b,c\n\"open,d\n", LLMO_EPARSE, "f.csv:2: a quoted field is not closed"},
		{"a,\"multi\nline\",c\nx,y\n", LLMO_EPARSE, "f.csv:3: a record needs at least 3"},
	};
	char big[LLMO_TOKENS_FIELD_MAX + 16];

	(void)state;
	for (size_t i = 0; i < LLMO_ARRAY_LEN(cases); i++) {
		struct llmo_tokens t;
		struct llmo_error err = {0};

		assert_int_equal(llmo_tokens_parse(cases[i].text, strlen(cases[i].text), "f.csv", &t,
						   &err),
				 cases[i].rc);
		if (!strstr(err.msg, cases[i].msg))
			fail_msg("%s: message \"%s\" lacks \"%s\"", cases[i].text, err.msg,
				 cases[i].msg);
		assert_int_equal(t.len, 0);
	}
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	{
		struct llmo_tokens t;
		struct llmo_error err = {0};

		assert_int_equal(llmo_tokens_parse(big, strlen(big), "f.csv", &t, &err),
				 LLMO_ETOOBIG);
		assert_non_null(strstr(err.msg, "f.csv:1: a field is longer than 4096 bytes"));
		assert_int_equal(llmo_tokens_parse("a\0b,c,d", 7, "f.csv", &t, &err), LLMO_EPARSE);
	}
}

static void test_bearer(void **state)
{
	const char *tok;
	size_t len;

	(void)state;
	assert_true(llmo_bearer_token("Bearer abc", &tok, &len));
	assert_int_equal(len, 3);
	assert_memory_equal(tok, "abc", 3);
	assert_true(llmo_bearer_token(" bearer\t abc \t", &tok, &len));
	assert_int_equal(len, 3);
	assert_false(llmo_bearer_token("Basic abc", &tok, &len));
	assert_false(llmo_bearer_token("Bearer ", &tok, &len));
	assert_false(llmo_bearer_token("Bearerabc", &tok, &len));
	assert_false(llmo_bearer_token(NULL, &tok, &len));
}

/* ---- ServiceAccount tokens ---- */

static void test_sa_tokens(void **state)
{
	unsigned char key[LLMO_SA_KEY_LEN], other[LLMO_SA_KEY_LEN];
	struct llmo_sa_claims c = {.ns = "team", .name = "builder", .uid = "u-1", .exp = 2000}, got;
	char tok[LLMO_SA_TOKEN_MAX + 1], bad[LLMO_SA_TOKEN_MAX + 1];
	size_t len;

	(void)state;
	llmo_sa_key_derive("admin-token", key);
	llmo_sa_key_derive("another-admin-token", other);
	assert_int_equal(llmo_sa_token_issue(key, &c, tok, sizeof(tok)), 0);
	len = strlen(tok);
	/* prefix, the claims in order, 64 hex digits */
	assert_int_equal(strncmp(tok, "llmo-sa:team:builder:u-1:2000:", 30), 0);
	assert_int_equal(len, 30 + 64);
	assert_int_equal(llmo_sa_token_verify(key, tok, len, 1999, &got), 0);
	assert_string_equal(got.ns, "team");
	assert_string_equal(got.name, "builder");
	assert_string_equal(got.uid, "u-1");
	assert_int_equal(got.exp, 2000);
	/* expired at its second */
	assert_int_equal(llmo_sa_token_verify(key, tok, len, 2000, &got), LLMO_ETIMEOUT);
	/* another server's key */
	assert_int_equal(llmo_sa_token_verify(other, tok, len, 1999, &got), LLMO_EDENIED);
	/* any change to the claims or the MAC */
	memcpy(bad, tok, len + 1);
	bad[10] = 'X'; /* team -> teXm */
	assert_int_equal(llmo_sa_token_verify(key, bad, len, 1999, &got), LLMO_EDENIED);
	memcpy(bad, tok, len + 1);
	bad[len - 1] = bad[len - 1] == '0' ? '1' : '0';
	assert_int_equal(llmo_sa_token_verify(key, bad, len, 1999, &got), LLMO_EDENIED);
	snprintf(bad, sizeof(bad), "llmo-sa:team:builder:u-1:9999:%s", tok + 30);
	assert_int_equal(llmo_sa_token_verify(key, bad, strlen(bad), 1999, &got), LLMO_EDENIED);
	/* malformed: short, no prefix, truncated MAC, extra field, empty or bad fields */
	assert_int_equal(llmo_sa_token_verify(key, tok, len - 1, 1999, &got), LLMO_EPARSE);
	assert_int_equal(llmo_sa_token_verify(key, tok + 1, len - 1, 1999, &got), LLMO_EPARSE);
	assert_int_equal(llmo_sa_token_verify(key, "llmo-sa:", 8, 0, &got), LLMO_EPARSE);
	snprintf(bad, sizeof(bad), "llmo-sa:team:builder:u-1:2000:x:%s", tok + 30);
	assert_int_equal(llmo_sa_token_verify(key, bad, strlen(bad), 1999, &got), LLMO_EPARSE);
	snprintf(bad, sizeof(bad), "llmo-sa::builder:u-1:2000:%s", tok + 30);
	assert_int_equal(llmo_sa_token_verify(key, bad, strlen(bad), 1999, &got), LLMO_EPARSE);
	snprintf(bad, sizeof(bad), "llmo-sa:team:builder:u-1:-5:%s", tok + 30);
	assert_int_equal(llmo_sa_token_verify(key, bad, strlen(bad), 1999, &got), LLMO_EPARSE);
	/* what cannot be written into a token */
	snprintf(c.name, sizeof(c.name), "a:b");
	assert_int_equal(llmo_sa_token_issue(key, &c, tok, sizeof(tok)), LLMO_EINVAL);
	snprintf(c.name, sizeof(c.name), "builder");
	assert_int_equal(llmo_sa_token_issue(key, &c, tok, 20), LLMO_ETOOBIG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_attrs),
		cmocka_unit_test(test_attrs_too_long),
		cmocka_unit_test(test_rules),
		cmocka_unit_test(test_subjects),
		cmocka_unit_test(test_forbidden_message),
		cmocka_unit_test(test_authorize_store),
		cmocka_unit_test(test_escalation),
		cmocka_unit_test(test_tokens),
		cmocka_unit_test(test_tokens_errors),
		cmocka_unit_test(test_bearer),
		cmocka_unit_test(test_sa_tokens),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
