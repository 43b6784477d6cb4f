/*
 * RBAC decision cache (rbac_cache.h).
 */
#include "base/common.h"

#include "apiserver/rbac_cache.h"

#include "base/buf.h"
#include "base/error.h"

#include "base/banned.h"

/* A key holds the user's name and groups and the attributes; longer requests are not cached. */
#define RBAC_CACHE_KEY_MAX 8192

struct rbac_cache_entry {
	json_t *rules;     /* the PolicyRules bound to the user where the key says */
	char *deny_reason; /* llmo_rbac_authorize's reason when none allows */
};

static void entry_free(void *v)
{
	struct rbac_cache_entry *e = v;

	if (e) {
		json_decref(e->rules);
		free(e->deny_reason);
		free(e);
	}
}

void llmo_rbac_cache_init(struct llmo_rbac_cache *c)
{
	memset(c, 0, sizeof(*c));
	llmo_hmap_init(&c->map);
}

void llmo_rbac_cache_release(struct llmo_rbac_cache *c)
{
	llmo_hmap_release(&c->map, entry_free);
}

void llmo_rbac_cache_clear(struct llmo_rbac_cache *c)
{
	if (!llmo_hmap_count(&c->map))
		return;
	llmo_hmap_release(&c->map, entry_free); /* leaves it empty and usable */
	c->clears++;
}

void llmo_rbac_cache_changed(struct llmo_rbac_cache *c, const char *res)
{
	static const char *const keys[] = {
		"rbac.authorization.k8s.io/roles",
		"rbac.authorization.k8s.io/rolebindings",
		"rbac.authorization.k8s.io/clusterroles",
		"rbac.authorization.k8s.io/clusterrolebindings",
	};

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (res && strcmp(res, keys[i]) == 0) {
			llmo_rbac_cache_clear(c);
			return;
		}
}

/* One part of the key, length-prefixed so that no two requests share a key. */
static int key_part(struct llmo_buf *b, const char *s)
{
	if (!s)
		s = "";
	return llmo_buf_appendf(b, "%zu:%s", strlen(s), s);
}

/*
 * What the bound rules depend on: the user's name and groups, and the
 * namespace whose RoleBindings apply ("" for cluster-scoped and
 * non-resource requests, which only ClusterRoleBindings reach).
 */
static int cache_key(struct llmo_buf *b, const struct llmo_user *user, const char *ns)
{
	int rc = llmo_buf_appendf(b, "%zu|", user->groups.len);

	if (!rc)
		rc = key_part(b, user->name);
	for (size_t i = 0; !rc && i < user->groups.len; i++)
		rc = key_part(b, user->groups.items[i]);
	if (!rc)
		rc = key_part(b, ns);
	return rc;
}

static void decide(const struct rbac_cache_entry *e, const struct llmo_rbac_attrs *a,
		   bool *allowed, char *reason, size_t reason_size)
{
	size_t i;
	json_t *rule;

	*allowed = false;
	json_array_foreach(e->rules, i, rule)
		if (llmo_rbac_rule_allows(rule, a)) {
			*allowed = true;
			break;
		}
	if (reason && reason_size)
		snprintf(reason, reason_size, "%s", *allowed ? "" : e->deny_reason);
}

int llmo_rbac_cache_authorize(struct llmo_rbac_cache *c, struct llmo_store *store,
			      const struct llmo_user *user, const struct llmo_rbac_attrs *a,
			      bool *allowed, char *reason, size_t reason_size)
{
	const char *ns = a->resource_request ? a->ns : "";
	struct rbac_cache_entry *e, *fresh = NULL;
	struct llmo_buf key;
	char text[1024];
	int rc = 0;

	*allowed = false;
	if (llmo_user_in_group(user, LLMO_RBAC_MASTERS))
		return llmo_rbac_authorize(store, user, a, allowed, reason, reason_size);
	llmo_buf_init(&key, RBAC_CACHE_KEY_MAX);
	if (cache_key(&key, user, ns) || !key.data) {
		/* too long to keep: decided from the store each time */
		llmo_buf_release(&key);
		return llmo_rbac_authorize(store, user, a, allowed, reason, reason_size);
	}
	e = llmo_hmap_get(&c->map, key.data);
	if (e) {
		c->hits++;
		decide(e, a, allowed, reason, reason_size);
		goto out;
	}
	c->misses++;
	fresh = calloc(1, sizeof(*fresh));
	if (!fresh || !(fresh->rules = json_array())) {
		rc = LLMO_ENOMEM;
		goto out;
	}
	if ((rc = llmo_rbac_bound_rules(store, user, ns, fresh->rules, text, sizeof(text))))
		goto out;
	if (!(fresh->deny_reason = strdup(text))) {
		rc = LLMO_ENOMEM;
		goto out;
	}
	decide(fresh, a, allowed, reason, reason_size);
	if (llmo_hmap_count(&c->map) >= LLMO_RBAC_CACHE_MAX)
		llmo_rbac_cache_clear(c);
	if (llmo_hmap_put(&c->map, key.data, fresh, NULL) == 0)
		fresh = NULL; /* kept; when it cannot be, the answer still stands */
out:
	if (rc && reason && reason_size)
		reason[0] = '\0';
	entry_free(fresh);
	llmo_buf_release(&key);
	return rc;
}
