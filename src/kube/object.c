/*
 * Lookups on API objects; see object.h.
 */
#include "base/common.h"

#include "base/error.h"
#include "kube/object.h"

#include "base/banned.h"

const char *llmo_kube_str(const json_t *obj, const char *a, const char *b)
{
	return json_string_value(json_object_get(json_object_get(obj, a), b));
}

int llmo_kube_object_key(const json_t *obj, char *key, size_t n)
{
	const char *ns = llmo_kube_str(obj, "metadata", "namespace");
	const char *name = llmo_kube_str(obj, "metadata", "name");
	int len;

	if (!name)
		return LLMO_EINVAL;
	len = snprintf(key, n, "%s/%s", ns ? ns : "", name);
	return len < 0 || (size_t)len >= n ? LLMO_ETOOBIG : 0;
}

json_t *llmo_kube_condition(const json_t *obj, const char *type)
{
	json_t *conds = json_object_get(json_object_get(obj, "status"), "conditions"), *c;
	size_t i;

	json_array_foreach(conds, i, c) {
		const char *t = json_string_value(json_object_get(c, "type"));

		if (t && strcmp(t, type) == 0)
			return c;
	}
	return NULL;
}

bool llmo_kube_condition_true(const json_t *obj, const char *type)
{
	const char *st = json_string_value(json_object_get(llmo_kube_condition(obj, type), "status"));

	return st && strcmp(st, "True") == 0;
}
