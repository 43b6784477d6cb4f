#ifndef LLMO_KUBE_INFORMER_INT_H
#define LLMO_KUBE_INFORMER_INT_H
/*
 * Internal to src/kube and its tests.
 */
#include "kube/informer.h"

/*
 * What the informer does after a 410 Gone, run synchronously on the loop
 * thread of a stopped informer: a full (paged) list, then the differences
 * from the cache delivered to the handlers. LLMO_EINVAL while running.
 */
int llmo__informer_relist(struct llmo_informer *inf, struct llmo_error *err);

/* Sets the list's page size (tests use a small one to exercise paging). */
void llmo__informer_set_page_limit(struct llmo_informer *inf, int limit);

#endif
