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
/*
 * "ns/name" of obj into key (ns empty for cluster-scoped objects). LLMO_EINVAL
 * without metadata.name, LLMO_ETOOBIG when it does not fit in n bytes.
 */
int llmo_kube_object_key(const json_t *obj, char *key, size_t n);
/* The entry of status.conditions whose type is type, or NULL. */
json_t *llmo_kube_condition(const json_t *obj, const char *type);
/* Whether that condition exists with status "True". */
bool llmo_kube_condition_true(const json_t *obj, const char *type);

#endif
