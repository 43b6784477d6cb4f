#ifndef LLMO_APISERVER_SSA_H
#define LLMO_APISERVER_SSA_H
/*
 * Server-side apply and field ownership (metadata.managedFields), as
 * kube-apiserver does them with sigs.k8s.io/structured-merge-diff. Pure
 * logic over jansson values: the caller (the PATCH, PUT and POST handlers)
 * reads and writes the store.
 *
 * Field sets. Each managedFields entry
 *
 *     {"manager": "kubectl", "operation": "Apply" | "Update",
 *      "apiVersion": "llm.orchestrator.io/v1", "time": "2024-05-01T10:00:00Z",
 *      "fieldsType": "FieldsV1", "fieldsV1": {...}}
 *
 * names the fields one manager owns, as a tree in Kubernetes' FieldsV1
 * encoding: "f:<name>" for a member of a map, "k:{\"name\":\"x\"}" for the
 * item of an associative list (its merge keys as compact JSON, keys sorted),
 * "v:<json>" for the item of a set list, "i:<n>" (read, never written) for an
 * index; "." marks the node itself as owned where it also has children;
 * an owned leaf is {}. Entries are identified by (manager, operation,
 * subresource) and, for Update, apiVersion; they are kept sorted as
 * kube-apiserver sorts them (Apply first, then by time, manager, apiVersion).
 *
 * Schema. `schema` is the resource's openAPIV3Schema (or NULL). It says which
 * lists are associative (x-kubernetes-list-type: map with
 * x-kubernetes-list-map-keys: their items are owned one by one, by key), which
 * are sets (x-kubernetes-list-type: set: items owned by value) and which maps
 * are atomic (x-kubernetes-map-type: atomic); every other list, and every list
 * whose items cannot be keyed, is atomic (owned and replaced as a whole).
 * Entries of a map described by additionalProperties are owned themselves,
 * as well as their contents (".", like metadata.labels' entries); members of
 * a map described by properties, or by no schema at all, only through their
 * leaves. metadata always uses ObjectMeta's built-in schema (labels and
 * annotations are maps, finalizers a set, ownerReferences keyed by uid).
 *
 * Never owned: apiVersion, kind, metadata itself and metadata.name,
 * namespace, creationTimestamp, selfLink, uid, clusterName, generation,
 * managedFields, resourceVersion. status is treated like any other field:
 * resetting it for a main resource with a status subresource (and spec for
 * the subresource) is the caller's business, before calling.
 *
 * Ownership: inputs are only read, except `updated` in llmo_ssa_update. Every
 * document handed back is new and shares nothing with the inputs.
 *
 * Bounds: documents nested deeper than LLMO_SSA_DEPTH_MAX are refused with
 * LLMO_ETOOBIG (inputs are expected to come from llmo_json_load, whose parser
 * bounds nesting too). managedFields that do not decode (not the shape above,
 * duplicate entries, more than LLMO_SSA_ENTRIES_MAX entries or
 * LLMO_SSA_SET_NODES_MAX set nodes, deeper than the depth cap) are dropped and
 * rebuilt from this operation on, as kube-apiserver resets them.
 */
#include "base/common.h"

#include <jansson.h>

#include "api/errlist.h"
#include "base/error.h"

/* A field manager's name, in bytes (kube-apiserver's limit). */
#define LLMO_SSA_MANAGER_MAX 128
/* Nesting of the objects and of the field sets (a Kubernetes object is ~20 deep). */
#define LLMO_SSA_DEPTH_MAX 256
/* managedFields entries read from one object. */
#define LLMO_SSA_ENTRIES_MAX 256
/* Nodes in all the field sets read from one object's managedFields. */
#define LLMO_SSA_SET_NODES_MAX (1024 * 1024)
/*
 * Bytes of one path element ("k:{...}", "f:name"): a longer key is an error in an
 * applied configuration, and makes its list atomic elsewhere.
 */
#define LLMO_SSA_ELEM_MAX 16384
/* Merge keys of one associative list; lists declaring more are atomic. */
#define LLMO_SSA_LIST_KEYS_MAX 16
/*
 * Update entries kept; older ones are merged into one "ancient-changes" entry
 * per apiVersion, as kube-apiserver does (its DefaultMaxUpdateManagers).
 */
#define LLMO_SSA_UPDATE_MANAGERS_MAX 10
#define LLMO_SSA_ANCIENT_MANAGER "ancient-changes"

/*
 * Server-side apply of `config` (an apply-patch+yaml body, already parsed) by
 * `manager` (the fieldManager query parameter; 1 to LLMO_SSA_MANAGER_MAX
 * bytes) onto `live` (the stored object; NULL when it does not exist yet, and
 * the apply creates it).
 *
 *   - The fields of config (its leaves, list items and map entries, as
 *     above) become manager's Apply set.
 *   - The result is live with config merged in: maps merge key by key,
 *     associative lists item by item by key (config's order for the items it
 *     lists, live's others kept in place), sets are unioned, atomic lists and
 *     leaves are replaced. The never-owned metadata fields other than name
 *     and namespace keep live's values (config's are ignored).
 *   - Fields manager's previous Apply set held that config no longer holds
 *     are removed from the result, with what lies under them, unless some
 *     manager (manager itself included, through another entry) still owns
 *     them.
 *   - A field that this changes (adds or gives a different value) and that
 *     another entry owns is a conflict. Without force: LLMO_ECONFLICT, one
 *     error per field and entry in `conflicts` (when not NULL), path as
 *     kube-apiserver prints it (".spec.scaling.maxReplicas",
 *     ".spec.containers[name=\"vllm\"].image"), message
 *     `conflict with "kubectl-edit" using llm.orchestrator.io/v1` (Update
 *     entries) or `conflict with "ci"` (Apply entries), and err reading
 *     "Apply failed with 1 conflict: conflict with ... : .spec.x". With
 *     force, manager takes the fields and the other entries lose them.
 *     Equal values are shared ownership, never a conflict.
 *   - Fields the apply removes leave every set; entries left empty are
 *     dropped; manager's Apply entry gets api_version and, when its set or
 *     the object changed, time `now` (RFC 3339, the caller's clock).
 *
 * On success *out is the new object, managedFields included. When it equals
 * live the apply changed nothing (the caller may skip the write).
 *
 * Errors (*out NULL):
 *   LLMO_EINVAL     bad arguments: no or too long manager (kube-apiserver
 *                   answers 400), live or config not an object, config's
 *                   metadata not an object or holding managedFields
 *                   ("metadata.managedFields must be nil"), an item of an
 *                   associative list in config without its keys or listed
 *                   twice ("duplicate entries for key"), a set with objects
 *                   or repeated values: 422 / 400, message names the field.
 *   LLMO_ECONFLICT  see above: 409.
 *   LLMO_ETOOBIG    nesting past LLMO_SSA_DEPTH_MAX, a field name past
 *                   LLMO_SSA_ELEM_MAX.
 *   LLMO_ENOMEM
 */
int llmo_ssa_apply(const json_t *live, const json_t *config, const char *manager, bool force,
		   const json_t *schema, const char *api_version, const char *now, json_t **out,
		   struct llmo_errlist *conflicts, struct llmo_error *err);

/*
 * Ownership after a write that is not an apply (create, PUT, JSON/merge/
 * strategic PATCH) by `manager` (the fieldManager query, else a name the
 * caller derives from the User-Agent: "kubectl-edit", "unknown", ...).
 * `old` is the stored object (NULL on create), `updated` the object about to
 * be written; its metadata.managedFields is rewritten in place from old's
 * (anything the client sent there is ignored):
 *
 *   - fields whose value updated adds or changes become manager's, in its
 *     Update entry for api_version (created, or merged with the one it has;
 *     time set to `now`); every other entry loses them (an update always
 *     "forces");
 *   - fields updated no longer has leave every entry;
 *   - entries left empty are dropped; past LLMO_SSA_UPDATE_MANAGERS_MAX
 *     Update entries, the oldest merge into "ancient-changes".
 *
 * Lists that cannot be keyed (duplicate keys, missing keys) count as atomic
 * here, so a write the caller accepts is never refused for its lists.
 *
 * Errors: LLMO_EINVAL (no or too long manager, old or updated not an object,
 * updated's metadata not an object), LLMO_ETOOBIG (nesting), LLMO_ENOMEM.
 * On error updated's metadata.managedFields is removed, as kube-apiserver
 * does when its field manager fails, so no stale ownership is written.
 */
int llmo_ssa_update(const json_t *old, json_t *updated, const char *manager,
		    const json_t *schema, const char *api_version, const char *now,
		    struct llmo_error *err);

/*
 * The FieldsV1 set of obj's fields (what an Apply of obj would own, with the
 * never-owned fields left out), as a new JSON object in *fieldsV1. Lists are
 * checked as for an applied configuration: LLMO_EINVAL for items without
 * their keys or repeated. Also LLMO_ETOOBIG, LLMO_ENOMEM (*fieldsV1 NULL).
 */
int llmo_ssa_fields_of(const json_t *obj, const json_t *schema, json_t **fieldsV1,
		       struct llmo_error *err);

struct llmo_smp_schema;

/*
 * An ownership schema (the parts of an openAPIV3Schema this file reads) for
 * a built-in kind, from its strategic merge patch table (apiserver/patch.h,
 * llmo_smp_schema_for): each list with a merge key becomes an associative
 * list keyed by it, each primitive set a set list; all else stays atomic or
 * granular as without a schema. So Pod containers merge by name under
 * server-side apply as in kube-apiserver (which keys ports by containerPort
 * and protocol where the table has containerPort alone). *out is a new
 * object (NULL on LLMO_ENOMEM); smp NULL gives an empty schema.
 */
int llmo_ssa_schema_from_smp(const struct llmo_smp_schema *smp, json_t **out,
			     struct llmo_error *err);

#endif
