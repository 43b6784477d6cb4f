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
