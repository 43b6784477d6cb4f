#include "base/vec.h"
#include "base/error.h"

int llmo_vec_reserve_(void **items, size_t *cap, size_t need, size_t size)
{
	size_t n;
	void *p;

	if (need <= *cap)
		return 0;
	n = *cap ? *cap : 4;
	while (n < need) {
		if (n > SIZE_MAX / 2)
			return LLMO_ENOMEM;
		n *= 2;
	}
	if (n > SIZE_MAX / size)
		return LLMO_ENOMEM;
	p = realloc(*items, n * size);
	if (!p)
		return LLMO_ENOMEM;
	*items = p;
	*cap = n;
	return 0;
}

int llmo_vec_append_(void **items, size_t *len, size_t *cap, const void *src, size_t n,
		     size_t size)
{
	if (n > SIZE_MAX - *len || llmo_vec_reserve_(items, cap, *len + n, size))
		return LLMO_ENOMEM;
	if (n) {
		memcpy((char *)*items + *len * size, src, n * size);
		*len += n;
	}
	return 0;
}
