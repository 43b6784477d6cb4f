/*
 * Differential fuzz target for llmo_json_load (base/json_parse.c): on any
 * input it must agree with jansson's json_loadb(JSON_DECODE_ANY |
 * JSON_REJECT_DUPLICATES), the parser it replaced: both accept or both
 * refuse, and what both accept is the same value (json_equal, and the
 * same integer/real type at every node, which json_equal does not check).
 * A refusal is LLMO_EPARSE with "NAME:LINE:COL: message".
 *
 * One deliberate difference: a NUL byte is never valid JSON (outside a
 * string it is no token, inside one it is a control character), and ours
 * refuses every text with one, while jansson accepts some ("[1\0]" reads as
 * [1], "4\0" as 4). Such inputs are only checked to be refused.
 */
#include "base/common.h"

#include "base/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool same_types(const json_t *a, const json_t *b)
{
	const char *key;
	json_t *av;
	size_t i;

	if (json_typeof(a) != json_typeof(b))
		return false;
	if (json_is_object(a)) {
		json_object_foreach((json_t *)a, key, av)
			if (!same_types(av, json_object_get(b, key)))
				return false;
	} else if (json_is_array(a)) {
		json_array_foreach(a, i, av)
			if (!same_types(av, json_array_get(b, i)))
				return false;
	}
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct llmo_error err = {0};
	json_t *ours = NULL, *theirs;
	int rc;

	if (memchr(data, '\0', size)) {
		if (llmo_json_load((const char *)data, size, "in", &ours, &err) != LLMO_EPARSE ||
		    ours)
			abort();
		return 0;
	}
	theirs = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES,
			    NULL);
	rc = llmo_json_load((const char *)data, size, "in", &ours, &err);
	if ((rc == 0) != (theirs != NULL))
		abort();
	if (rc == 0) {
		if (!json_equal(ours, theirs) || !same_types(ours, theirs))
			abort();
	} else if (rc != LLMO_EPARSE || err.code != rc || ours ||
		   strncmp(err.msg, "in:", 3) != 0) {
		abort();
	}
	json_decref(ours);
	json_decref(theirs);
	return 0;
}
