#ifndef LLMO_KUBE_OBJECT_H
#define LLMO_KUBE_OBJECT_H
/*
 * Reading Kubernetes objects as the API returns them (JSON): the small
 * lookups every controller-like component makes. Returned pointers are
 * borrowed from obj.
 */
#include "base/common.h"
#include <jansson.h>

/* obj.a.b as a string, or NULL (also when obj or a level is missing). */
const char *llmo_kube_str(const json_t *obj, const char *a, const char *b);
/* obj.metadata.annotations[key] as a string, or NULL (keys hold dots: no path lookup). */
const char *llmo_kube_annotation(const json_t *obj, const char *key);
/*
 * "ns/name" of obj into key (ns empty for cluster-scoped objects). LLMO_EINVAL
 * without metadata.name, LLMO_ETOOBIG when it does not fit in n bytes.
 */
int llmo_kube_object_key(const json_t *obj, char *key, size_t n);
/*
 * The other way: "ns/name" split into ns (a buffer of n bytes) and the
 * name, returned (a pointer into key). NULL without a '/' or when ns does
 * not fit.
 */
const char *llmo_kube_key_split(const char *key, char *ns, size_t n);
/* The entry of status.conditions whose type is type, or NULL. */
json_t *llmo_kube_condition(const json_t *obj, const char *type);
/* Whether that condition exists with status "True". */
bool llmo_kube_condition_true(const json_t *obj, const char *type);

/*
 * Building trimmed copies of objects, for informer transforms
 * (informer.h: llmo_informer_set_transform). Each returns false when out of
 * memory; a caller chains them with && and ends with llmo_kube_trimmed.
 */
/* dst[key] = a deep copy of src[key] when src has it (src may be NULL). */
bool llmo_kube_keep(json_t *dst, const json_t *src, const char *key);
/* dst[key] = v (taken) when v has members, else drops v. v NULL: false. */
bool llmo_kube_attach(json_t *dst, const char *key, json_t *v);
/*
 * dst[array] = src[array] with each element reduced to its key (an empty
 * object when it has none, so that positions stay); nothing when src has
 * no such array or it is empty. As spec.containers with only "ports".
 */
bool llmo_kube_keep_each(json_t *dst, const json_t *src, const char *array, const char *key);
/* The metadata an informer keys its cache by: name, namespace, resourceVersion. */
bool llmo_kube_keep_identity(json_t *meta, const json_t *src);
/* out when ok, else NULL (out released). */
json_t *llmo_kube_trimmed(json_t *out, bool ok);

#endif
