#ifndef LLMO_APISERVER_RBAC_CACHE_H
#define LLMO_APISERVER_RBAC_CACHE_H
/*
 * A cache for RBAC decisions: per user (name and groups) and namespace, the
 * PolicyRules bound to the user there (llmo_rbac_bound_rules), so that a
 * request is decided by matching its attributes against rules in memory
 * instead of reading and parsing bindings and roles from the store. The
 * rules depend on the Roles, ClusterRoles, RoleBindings and
 * ClusterRoleBindings in the store, so the cache is emptied whenever one of
 * those changes: the server calls llmo_rbac_cache_changed for every
 * committed store event, and must not use the cache while writes are
 * uncommitted (rules read from an uncommitted binding would outlive a
 * rollback); see authorize() in apiserver.c.
 *
 * Ownership: the cache owns its keys and entries; nothing is borrowed.
 * Not thread-safe (the API server's event loop is its only user).
 */
#include "base/common.h"

#include "apiserver/rbac.h"
#include "base/hmap.h"

/* (user, namespace) entries kept; at this many the cache is emptied and starts again. */
#define LLMO_RBAC_CACHE_MAX 10000

struct llmo_rbac_cache {
	struct llmo_hmap map; /* key -> struct rbac_cache_entry * (rbac_cache.c) */
	uint64_t hits, misses, clears;
};

void llmo_rbac_cache_init(struct llmo_rbac_cache *c);
void llmo_rbac_cache_release(struct llmo_rbac_cache *c);

/* Forgets every decision. */
void llmo_rbac_cache_clear(struct llmo_rbac_cache *c);

/*
 * For a store event on the resource store key res ("group/plural"): empties
 * the cache when res is one of the four RBAC resources.
 */
void llmo_rbac_cache_changed(struct llmo_rbac_cache *c, const char *res);

/*
 * llmo_rbac_authorize through the cache: the same *allowed; reason is that
 * of a refusal ("" or the roles not found), and "" on allow (where
 * llmo_rbac_authorize names the binding that allowed). The rules come from
 * the cache when this user was decided in this namespace since the last
 * change, else from the store (and are then kept; nothing is kept on an
 * error). Users in system:masters are answered without the cache or the
 * store.
 */
int llmo_rbac_cache_authorize(struct llmo_rbac_cache *c, struct llmo_store *store,
			      const struct llmo_user *user, const struct llmo_rbac_attrs *a,
			      bool *allowed, char *reason, size_t reason_size);

#endif
