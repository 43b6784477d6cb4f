#ifndef LLMO_API_SCHEMA_H
#define LLMO_API_SCHEMA_H
/*
 * OpenAPI v3 structural schemas as Kubernetes CRDs use them
 * (spec.versions[].schema.openAPIV3Schema): validation, defaulting and pruning
 * of a JSON value, with every problem reported under its field path.
 *
 * Supported: type, nullable, enum, format (int32, int64, float, double, byte,
 * date-time, date, duration), pattern (ECMA-262 patterns of the kind CRDs use,
 * run as POSIX extended regular expressions with \d \w \s translated),
 * minLength/maxLength (in characters), minimum/maximum with exclusive
 * variants, multipleOf, minItems/maxItems, minProperties/maxProperties,
 * required, properties, additionalProperties, items, allOf/anyOf/oneOf/not,
 * x-kubernetes-int-or-string, x-kubernetes-preserve-unknown-fields,
 * x-kubernetes-embedded-resource, x-kubernetes-list-type (set, map) with
 * x-kubernetes-list-map-keys. Not supported: x-kubernetes-validations (CEL).
 *
 * null in a field that is not nullable counts as absent, as in kube-apiserver
 * (which prunes such nulls before defaulting).
 */
#include "api/errlist.h"
#include "base/buf.h"
#include <jansson.h>

enum llmo_schema_flags {
	/* Report fields the schema does not know (kubectl's --validate=strict);
	 * without it they are left to llmo_schema_prune. */
	LLMO_SCHEMA_UNKNOWN_FIELDS = 1 << 0,
};

/*
 * Validates v against schema, adding errors to errs (path names v and is
 * restored on return). Returns 0 or LLMO_ENOMEM.
 */
int llmo_schema_validate(const json_t *schema, const json_t *v, struct llmo_buf *path,
			 struct llmo_errlist *errs, unsigned flags);

/*
 * Fills in `default`s: a property missing from an object that is present gets
 * a copy of its schema default, recursively (into arrays' items and maps'
 * values too). Removes nulls of non-nullable fields first. 0 or LLMO_ENOMEM.
 */
int llmo_schema_default(const json_t *schema, json_t *v);

/* Removes the fields the schema does not know, unless it preserves unknown fields. */
void llmo_schema_prune(const json_t *schema, json_t *v);

/* The sub-schema at a dotted path of property names ("spec.scaling"), or NULL. */
const json_t *llmo_schema_at(const json_t *schema, const char *dotted);

#endif
