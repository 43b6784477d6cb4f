/*
 * Fuzz target for base/duration.h. Any input either parses or fails with a
 * known code and a message; a parsed value formats to a string that parses
 * back to exactly that value and formats to itself again. The same bytes
 * read as JSON go through llmo_duration_from_json().
 */
#include "base/common.h"

#include "base/duration.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_result(int rc, int64_t v, const struct llmo_error *err)
{
	char out[LLMO_DURATION_FMT_MAX], again[LLMO_DURATION_FMT_MAX];
	int64_t back;

	if (rc != 0) {
		if (rc != LLMO_EPARSE && rc != LLMO_ERANGE && rc != LLMO_ETOOBIG &&
		    rc != LLMO_EINVAL)
			abort();
		if (err->code != rc || err->msg[0] == '\0')
			abort();
		return;
	}
	if (llmo_duration_format(v, out, sizeof(out)) != 0)
		abort();
	if (llmo_duration_parse(out, &back, NULL) != 0 || back != v)
		abort();
	if (llmo_duration_format(back, again, sizeof(again)) != 0 || strcmp(out, again) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
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
	rc = llmo_duration_parse(s, &v, &err);
	check_result(rc, v, &err);
	free(s);

	j = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
	if (j) {
		llmo_error_clear(&err);
		rc = llmo_duration_from_json(j, &v, &err);
		check_result(rc, v, &err);
		json_decref(j);
	}
	return 0;
}
