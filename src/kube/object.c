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

const char *llmo_kube_annotation(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(
		json_object_get(json_object_get(obj, "metadata"), "annotations"), key));
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

const char *llmo_kube_key_split(const char *key, char *ns, size_t n)
{
	const char *slash = strchr(key, '/');

	if (!slash || (size_t)(slash - key) >= n)
		return NULL;
	memcpy(ns, key, (size_t)(slash - key));
	ns[slash - key] = '\0';
	return slash + 1;
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

bool llmo_kube_keep(json_t *dst, const json_t *src, const char *key)
{
	const json_t *v = json_object_get(src, key);

	return !v || json_object_set_new(dst, key, json_deep_copy(v)) == 0;
}

bool llmo_kube_attach(json_t *dst, const char *key, json_t *v)
{
	if (!v)
		return false;
	if ((json_is_array(v) ? json_array_size(v) : json_object_size(v)) == 0) {
		json_decref(v);
		return true;
	}
	return json_object_set_new(dst, key, v) == 0;
}

bool llmo_kube_keep_each(json_t *dst, const json_t *src, const char *array, const char *key)
{
	json_t *out = json_array();
	const json_t *e;
	bool ok = out != NULL;
	size_t i;

	json_array_foreach(json_object_get(src, array), i, e) {
		json_t *one = json_object();

		if (!ok)
			break;
		ok = one && llmo_kube_keep(one, e, key);
		ok = (one && json_array_append_new(out, one) == 0) && ok;
	}
	if (!ok) {
		json_decref(out);
		return false;
	}
	return llmo_kube_attach(dst, array, out);
}

bool llmo_kube_keep_identity(json_t *meta, const json_t *src)
{
	return llmo_kube_keep(meta, src, "name") && llmo_kube_keep(meta, src, "namespace") &&
	       llmo_kube_keep(meta, src, "resourceVersion");
}

json_t *llmo_kube_trimmed(json_t *out, bool ok)
{
	if (ok)
		return out;
	json_decref(out);
	return NULL;
}
