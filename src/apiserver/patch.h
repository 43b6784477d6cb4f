#ifndef LLMO_APISERVER_PATCH_H
#define LLMO_APISERVER_PATCH_H
/*
 * The three patch types of a Kubernetes PATCH request, over jansson values:
 *
 *   application/merge-patch+json            llmo_patch_merge      RFC 7386
 *   application/json-patch+json             llmo_patch_json       RFC 6902 (+ RFC 6901 pointers)
 *   application/strategic-merge-patch+json  llmo_patch_strategic  Kubernetes' own
 *
 * Ownership: the target and the patch are only read. On success *out is a
 * new document (a new reference sharing nothing with target or patch: the
 * caller may change it and json_decref()s it). On failure *out is NULL, so
 * a failed patch changes nothing (RFC 6902's atomicity).
 *
 * Errors, and the status kube-apiserver answers for them:
 *   LLMO_EPARSE    the patch document is malformed (not an array of
 *                  operations, unknown op, missing member, bad pointer, bad
 *                  directive): 400 Bad Request
 *   LLMO_EINVAL    the patch is well formed but does not apply to this
 *                  target (a path that does not exist, a failed "test", a
 *                  list item without its merge key): 422 Unprocessable Entity
 *   LLMO_ETOOBIG   more than LLMO_PATCH_OPS_MAX operations, copies past
 *                  LLMO_PATCH_COPY_MAX values, or a result nested deeper than
 *                  LLMO_PATCH_DEPTH_MAX: 413 / 422
 *   LLMO_ENOMEM
 * The message names the operation and path ("op 2 (test) at /spec/x: value
 * differs"; operations are counted from 0) or the field.
 *
 * Documents are expected to come from llmo_json_load (nesting bounded by
 * jansson's parser); the patch functions recurse along the patch's nesting.
 */
#include "base/common.h"

#include <jansson.h>

#include "base/error.h"

/* Operations in one JSON patch. */
#define LLMO_PATCH_OPS_MAX 10000
/*
 * JSON values that "copy" operations of one patch may duplicate in all: each
 * copy can double the document, so without a cap a short patch could ask for
 * 2^10000 values.
 */
#define LLMO_PATCH_COPY_MAX (256 * 1024)
/* Nesting of a JSON patch's result (path depth plus value depth). */
#define LLMO_PATCH_DEPTH_MAX 2048

/*
 * RFC 7386 merge patch: a null member deletes, an object member merges
 * recursively, anything else replaces; a patch that is not an object replaces
 * the whole document. target may be NULL (absent: an object patch applies to
 * {}). Any patch applies: the only failures are LLMO_EINVAL for a NULL patch,
 * LLMO_ETOOBIG for a patch nested deeper than LLMO_PATCH_DEPTH_MAX, and
 * LLMO_ENOMEM.
 */
int llmo_patch_merge(const json_t *target, const json_t *patch, json_t **out,
		     struct llmo_error *err);

/*
 * RFC 6902 JSON patch: ops is an array of {"op": add|remove|replace|move|copy|
 * test, "path": pointer, "from": pointer, "value": any}, applied in order,
 * all or nothing. Pointers follow RFC 6901 ("" is the whole document, "~0"
 * is '~', "~1" is '/', "-" appends to an array). "test" compares numbers by
 * value (1 equals 1.0). Members an operation does not use are ignored.
 */
int llmo_patch_json(const json_t *target, const json_t *ops, json_t **out,
		    struct llmo_error *err);

/*
 * Strategic merge patch schema: which lists merge by which key. Paths are
 * the field names from the object's root joined by '.', "[]" marking the
 * items of a list: "spec.containers[].env". A list not in the table, or one
 * with neither merge_key nor primitive_set, is replaced by the patch's list
 * (as kube-apiserver does for fields without a patchStrategy).
 */
struct llmo_smp_entry {
	const char *path;
	const char *merge_key; /* lists of objects merged by this member; NULL: replace */
	bool primitive_set;    /* lists of scalars merged as a set (metadata.finalizers) */
};

struct llmo_smp_schema {
	const char *group; /* "" for the core group */
	const char *kind;
	const struct llmo_smp_entry *entries; /* ended by an entry with path NULL */
};

/*
 * The table for a built-in kind: Pod, Service, Node, ConfigMap, Secret,
 * Namespace, Endpoints, Event (group "" or "events.k8s.io"), Lease
 * ("coordination.k8s.io"). NULL for any other (group, kind). The tables hold
 * the merge lists of Kubernetes' Go types (patchStrategy:"merge" with its
 * patchMergeKey) that llmo's clients touch; every table includes
 * metadata.finalizers (a set) and metadata.ownerReferences (by uid).
 *
 * kube-apiserver refuses strategic merge patches for custom resources (415
 * Unsupported Media Type, "strategic merge patch is not supported for
 * custom resources"): the caller does that before calling
 * llmo_patch_strategic, which itself accepts any schema, NULL included.
 */
const struct llmo_smp_schema *llmo_smp_schema_for(const char *group, const char *kind);

/*
 * Kubernetes strategic merge patch, as kubectl (apply, patch, edit) sends it.
 * target and patch must be objects. Like a merge patch, except:
 *   - lists in the schema with a merge key merge item by item (an item of the
 *     patch merges into the target's item with the same key value, or is
 *     appended), lists of scalars marked primitive_set merge as sets; patch
 *     items come first in the patch's order and the target's other items
 *     keep their place relative to them, as Kubernetes orders them;
 *   - {"$patch": "replace"} in a map replaces the map by the rest of the
 *     patch map, {"$patch": "delete"} empties it; in a merged list, an item
 *     {"$patch": "delete", <key>: v} deletes the items with that key and an
 *     item {"$patch": "replace"} replaces the list by the patch's other items;
 *   - "$deleteFromPrimitiveList/<field>": [..] removes those scalars from the
 *     list <field>;
 *   - "$setElementOrder/<field>": [..] orders the list <field>: its items in
 *     the given order, the target's others kept in place relative to them;
 *   - "$retainKeys": [..] drops the target map's members not listed (and
 *     refuses a patch that sets a member not listed).
 * Directives in merged maps and lists never reach the result; a "$patch"
 * item in a list that the schema replaces is refused (LLMO_EPARSE) rather
 * than stored, since it means the client merges a list the schema does not
 * know. Values the patch adds where the target has none go through the same
 * merge (against nothing), so their nulls and directives are dropped too,
 * as kube-apiserver drops unmatched nulls. With a NULL schema every list is
 * replaced: the patch acts as a merge patch that honours the map directives.
 * Lists are merged in time linear in their length (keys are hashed).
 */
int llmo_patch_strategic(const json_t *target, const json_t *patch,
			 const struct llmo_smp_schema *schema, json_t **out,
			 struct llmo_error *err);

#endif
