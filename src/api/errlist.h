#ifndef LLMO_API_ERRLIST_H
#define LLMO_API_ERRLIST_H
/*
 * struct llmo_errlist: every problem found in one object, each with the field
 * path it concerns (`spec.scaling.maxReplicas`) and a message that says what
 * was expected (`must be >= minReplicas (3)`). Validation collects them all
 * instead of stopping at the first, as kube-apiserver does.
 */
#include "base/common.h"
#include "base/vec.h"

struct llmo_field_error {
	char *path; /* "" for the object itself */
	char *msg;
};

/* Bounds the list so that a hostile document cannot grow it without end. */
#define LLMO_ERRLIST_MAX 256

struct llmo_errlist {
	LLMO_VEC(struct llmo_field_error) v;
	size_t dropped; /* errors past LLMO_ERRLIST_MAX, counted not kept */
};

void llmo_errlist_init(struct llmo_errlist *l);
void llmo_errlist_release(struct llmo_errlist *l);
/* Adds one error; returns 0 or LLMO_ENOMEM. */
int llmo_errlist_add(struct llmo_errlist *l, const char *path, const char *fmt, ...)
	LLMO_PRINTF(3, 4);
size_t llmo_errlist_count(const struct llmo_errlist *l);
/* True when some error's path equals path or lies under it. */
bool llmo_errlist_has_under(const struct llmo_errlist *l, const char *path);

#endif
