/*
 * Fuzz target for llmo_reg_link_next (registry/httphdr.h), which reads the
 * Link header of a registry's list answers (outside input). Any input gives
 * 0, LLMO_ENOTFOUND, LLMO_EPARSE or LLMO_ETOOBIG; a target found is a
 * non-empty NUL-terminated string that occurs in the input between '<' and
 * '>', holds no '>', fits the buffer; with a smaller buffer the same value
 * gives the same target or LLMO_ETOOBIG; and a value built back from it,
 * `<TARGET>; rel="next"`, gives it again.
 */
#include "base/common.h"

#include "registry/httphdr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *v = (const char *)data;
	char out[256], small[16], again[256], built[300];
	size_t len;
	int rc = llmo_reg_link_next(v, size, out, sizeof(out)), rc2;

	if (rc != 0 && rc != LLMO_ENOTFOUND && rc != LLMO_EPARSE && rc != LLMO_ETOOBIG)
		abort();
	rc2 = llmo_reg_link_next(v, size, small, sizeof(small));
	if (rc != 0) {
		if (rc2 != rc)
			abort();
		return 0;
	}
	len = strlen(out);
	if (len == 0 || len >= sizeof(out) || memchr(out, '>', len))
		abort();
	if (!memmem(data, size, out, len))
		abort();
	if (rc2 == 0 ? strcmp(small, out) != 0 : (rc2 != LLMO_ETOOBIG || len < sizeof(small)))
		abort();
	snprintf(built, sizeof(built), "<%s>; rel=\"next\"", out);
	if (llmo_reg_link_next(built, strlen(built), again, sizeof(again)) != 0 ||
	    strcmp(again, out) != 0)
		abort();
	return 0;
}
