#ifndef LLMO_FUZZ_SCALAR_H
#define LLMO_FUZZ_SCALAR_H
/*
 * Shared by the fuzz targets of the parsers of strings into int64_t with a
 * format back (quantities, durations): any input either parses or fails with
 * a known code and a message; a parsed value goes through round_trip. The
 * same bytes read as JSON go through from_json, with the same checks.
 */
#include "base/common.h"

#include <jansson.h>

struct fuzz_scalar {
	int (*parse)(const char *s, int64_t *out, struct llmo_error *err);
	int (*from_json)(const json_t *v, int64_t *out, struct llmo_error *err);
	/* aborts unless v formats to a string that parses back to v and formats the same */
	void (*round_trip)(int64_t v);
	/* NULL, or a yes/no check that must agree with parse */
	bool (*is_valid)(const char *s);
};

static inline void fuzz_scalar_check(const struct fuzz_scalar *f, int rc, int64_t v,
				     const struct llmo_error *err)
{
	if (rc != 0) {
		if (rc != LLMO_EPARSE && rc != LLMO_ERANGE && rc != LLMO_ETOOBIG &&
		    rc != LLMO_EINVAL)
			abort();
		if (err->code != rc || err->msg[0] == '\0')
			abort();
		return;
	}
	f->round_trip(v);
}

static inline int fuzz_scalar_run(const struct fuzz_scalar *f, const uint8_t *data, size_t size)
{
	struct llmo_error err = {0};
	char *s = malloc(size + 1);
	json_t *j;
	int64_t v = 0;
	int rc;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	rc = f->parse(s, &v, &err);
	fuzz_scalar_check(f, rc, v, &err);
	if (f->is_valid && f->is_valid(s) != (rc == 0))
		abort();
	free(s);

	j = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
	if (j) {
		llmo_error_clear(&err);
		rc = f->from_json(j, &v, &err);
		fuzz_scalar_check(f, rc, v, &err);
		json_decref(j);
	}
	return 0;
}

#endif
