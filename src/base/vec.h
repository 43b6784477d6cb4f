#ifndef LLMO_VEC_H
#define LLMO_VEC_H
/*
 * Typed growable arrays:
 *
 *     LLMO_VEC(struct thing) things = LLMO_VEC_INIT;
 *     struct thing *t = llmo_vec_push(&things);   // zeroed slot, or NULL (no memory)
 *     for (size_t i = 0; i < things.len; i++) use(&things.items[i]);
 *     llmo_vec_release(&things);                  // frees the array, not what items own
 *
 * Growth is amortised doubling; `items` moves when the array grows, so do not
 * keep pointers into it across a push.
 */
#include "base/common.h"

#define LLMO_VEC(T)          \
	struct {             \
		T *items;    \
		size_t len;  \
		size_t cap;  \
	}

#define LLMO_VEC_INIT {NULL, 0, 0}

/* Ensures room for `need` elements of `size` bytes; 0 or LLMO_ENOMEM. */
int llmo_vec_reserve_(void **items, size_t *cap, size_t need, size_t size);

/* Appends a zeroed element and returns a pointer to it, or NULL when out of memory. */
#define llmo_vec_push(v)                                                        \
	(llmo_vec_reserve_((void **)&(v)->items, &(v)->cap, (v)->len + 1,       \
			   sizeof(*(v)->items))                                 \
		 ? NULL                                                         \
		 : memset(&(v)->items[(v)->len++], 0, sizeof(*(v)->items)))

#define llmo_vec_reserve(v, n) \
	llmo_vec_reserve_((void **)&(v)->items, &(v)->cap, (n), sizeof(*(v)->items))

/*
 * Appends a copy of the n elements at src (of v's element type: the bytes are
 * copied, what they point to is then shared). 0, or LLMO_ENOMEM with v unchanged.
 */
int llmo_vec_append_(void **items, size_t *len, size_t *cap, const void *src, size_t n,
		     size_t size);
#define llmo_vec_append(v, src, n)                                                     \
	llmo_vec_append_((void **)&(v)->items, &(v)->len, &(v)->cap, (src), (n),       \
			 sizeof(*(v)->items))

#define llmo_vec_release(v)          \
	do {                         \
		free((v)->items);    \
		(v)->items = NULL;   \
		(v)->len = 0;        \
		(v)->cap = 0;        \
	} while (0)

#endif
