/*
 * The RBAC decision cache (apiserver/rbac_cache.h) over an in-memory store
 * whose observer feeds it, as llmo server's does: a repeated question is
 * answered from the cache with the same answer and reason; any committed
 * change to a Role, ClusterRole, RoleBinding or ClusterRoleBinding empties
 * it (a new binding allows at once, a deleted one stops allowing at once);
 * other writes leave it; users and requests do not share entries.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/common.h"
#include "apiserver/rbac_cache.h"
#include "apiserver/store.h"
#include "apiserver/tokens.h"
#include "base/str.h"

#define CRB "rbac.authorization.k8s.io/clusterrolebindings"
#define RB "rbac.authorization.k8s.io/rolebindings"
#define ROLES "rbac.authorization.k8s.io/roles"

static int observer(void *ctx, const struct llmo_store_event *ev)
{
	llmo_rbac_cache_changed(ctx, ev->res);
	return 0;
}

static struct llmo_user user_new(const char *name, const char *groups_csv)
{
	struct llmo_user u = {.name = strdup(name), .uid = strdup("1")};

	assert_int_equal(llmo_str_split(groups_csv, ',', &u.groups), 0);
	return u;
}

static bool ask(struct llmo_rbac_cache *c, struct llmo_store *s, const struct llmo_user *u,
		const char *method, const char *path, char *reason, size_t n)
{
	struct llmo_rbac_attrs a;
	bool allowed = false;

	assert_int_equal(llmo_rbac_attrs_from_request(method, path, false, &a), 0);
	assert_int_equal(llmo_rbac_cache_authorize(c, s, u, &a, &allowed, reason, n), 0);
	return allowed;
}

static void put(struct llmo_store *s, const char *key, const char *ns, const char *name,
		const char *json)
{
	assert_int_equal(llmo_store_create(s, key, ns, name, json, NULL), 0);
}

/* A RoleBinding (ns not empty) or ClusterRoleBinding of a ClusterRole to one subject. */
static void bind(struct llmo_store *s, const char *ns, const char *name, const char *role,
		 const char *subject_kind, const char *subject)
{
	json_t *b = json_pack("{s:{s:s}, s:{s:s, s:s}, s:[{s:s, s:s}]}", "metadata", "name", name,
			      "roleRef", "kind", "ClusterRole", "name", role, "subjects", "kind",
			      subject_kind, "name", subject);
	char *text;

	assert_non_null(b);
	if (*ns)
		json_object_set_new(json_object_get(b, "metadata"), "namespace", json_string(ns));
	text = json_dumps(b, JSON_COMPACT);
	put(s, *ns ? RB : CRB, ns, name, text);
	free(text);
	json_decref(b);
}

/* An in-memory store with the default roles whose committed changes reach c. */
static struct llmo_store *store_new(struct llmo_rbac_cache *c)
{
	struct llmo_error err = {0};
	struct llmo_store *s = NULL;

	llmo_rbac_cache_init(c);
	assert_int_equal(llmo_store_open(":memory:", &s, &err), 0);
	assert_int_equal(llmo_rbac_bootstrap(s, &err), 0);
	llmo_store_set_observer(s, observer, c);
	return s;
}

static void store_free(struct llmo_store *s, struct llmo_rbac_cache *c)
{
	llmo_store_set_observer(s, NULL, NULL);
	llmo_store_close(s);
	llmo_rbac_cache_release(c);
}

static void test_cache_follows_rbac_changes(void **state)
{
	struct llmo_user bob = user_new("bob", "system:authenticated");
	struct llmo_user eve = user_new("eve", "system:authenticated");
	struct llmo_rbac_cache c;
	struct llmo_store *s = store_new(&c);
	char reason[512], again[512];
	const char *pods = "/api/v1/namespaces/team/pods";
	uint64_t clears;

	(void)state;

	/* a refusal, asked twice: the second answer comes from the cache, the same */
	assert_false(ask(&c, s, &bob, "GET", pods, reason, sizeof(reason)));
	assert_int_equal(c.misses, 1);
	assert_false(ask(&c, s, &bob, "GET", pods, again, sizeof(again)));
	assert_int_equal(c.hits, 1);
	assert_string_equal(again, reason);

	/* a RoleBinding to view in team allows the next request */
	bind(s, "team", "bob-view", "view", "User", "bob");
	assert_true(ask(&c, s, &bob, "GET", pods, reason, sizeof(reason)));
	assert_true(ask(&c, s, &bob, "GET", pods, again, sizeof(again)));
	assert_int_equal(c.hits, 2);

	/* from the same rules: another verb and another object in team */
	assert_false(ask(&c, s, &bob, "DELETE", "/api/v1/namespaces/team/pods/p", reason,
			 sizeof(reason)));
	assert_true(ask(&c, s, &bob, "GET", "/api/v1/namespaces/team/configmaps/x", reason,
			sizeof(reason)));
	assert_int_equal(c.hits, 4);
	/* another user, another namespace: their own entries */
	assert_false(ask(&c, s, &eve, "GET", pods, reason, sizeof(reason)));
	assert_false(ask(&c, s, &bob, "GET", "/api/v1/namespaces/other/pods", reason,
			 sizeof(reason)));
	assert_int_equal(c.hits, 4);
	assert_int_equal(c.misses, 4);

	/* writes of other resources leave the cache */
	clears = c.clears;
	put(s, "/configmaps", "team", "cm", "{\"metadata\":{\"name\":\"cm\"}}");
	assert_int_equal(c.clears, clears);
	assert_true(ask(&c, s, &bob, "GET", pods, reason, sizeof(reason)));
	assert_int_equal(c.hits, 5);

	/* a Role written anywhere empties it */
	put(s, ROLES, "other", "r", "{\"metadata\":{\"name\":\"r\",\"namespace\":\"other\"}}");
	assert_int_equal(c.clears, clears + 1);

	/* deleting the binding stops allowing at once */
	assert_int_equal(llmo_store_delete(s, RB, "team", "bob-view", 0, NULL, NULL), 0);
	assert_false(ask(&c, s, &bob, "GET", pods, reason, sizeof(reason)));
	assert_false(ask(&c, s, &bob, "GET", pods, reason, sizeof(reason)));

	/* a refusal names the roles not found, as llmo_rbac_authorize does */
	bind(s, "team", "ghosts", "ghost", "User", "eve");
	assert_false(ask(&c, s, &eve, "GET", pods, reason, sizeof(reason)));
	assert_string_equal(reason,
			    "RBAC: clusterrole.rbac.authorization.k8s.io \"ghost\" not found");
	{
		struct llmo_rbac_attrs a;
		bool allowed = true;

		assert_int_equal(llmo_rbac_attrs_from_request("GET", pods, false, &a), 0);
		assert_int_equal(llmo_rbac_authorize(s, &eve, &a, &allowed, again, sizeof(again)),
				 0);
		assert_false(allowed);
		assert_string_equal(again, reason);
	}

	/* a ClusterRoleBinding of cluster-admin to bob's group */
	bind(s, "", "all", "cluster-admin", "Group", "system:authenticated");
	assert_true(ask(&c, s, &bob, "GET", pods, reason, sizeof(reason)));
	assert_true(ask(&c, s, &eve, "DELETE", "/api/v1/nodes/n", reason, sizeof(reason)));

	store_free(s, &c);
	llmo_user_release(&bob);
	llmo_user_release(&eve);
}

/* Groups are part of the key: the same name with other groups is another question. */
static void test_groups_in_key(void **state)
{
	struct llmo_user plain = user_new("bob", "system:authenticated");
	struct llmo_user dev = user_new("bob", "dev,system:authenticated");
	struct llmo_rbac_cache c;
	struct llmo_store *s = store_new(&c);
	char reason[512];

	(void)state;
	bind(s, "", "dev-view", "view", "Group", "dev");
	assert_false(ask(&c, s, &plain, "GET", "/api/v1/namespaces/a/pods", reason,
			 sizeof(reason)));
	assert_true(ask(&c, s, &dev, "GET", "/api/v1/namespaces/a/pods", reason, sizeof(reason)));
	assert_false(ask(&c, s, &plain, "GET", "/api/v1/namespaces/a/pods", reason,
			 sizeof(reason)));
	assert_int_equal(c.hits, 1);
	store_free(s, &c);
	llmo_user_release(&plain);
	llmo_user_release(&dev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cache_follows_rbac_changes),
		cmocka_unit_test(test_groups_in_key),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
