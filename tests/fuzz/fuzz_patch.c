/*
 * Fuzz target for apiserver/patch.h. The input is two JSON documents, the
 * target and the patch, split at the first newline. Both go through the
 * merge patch, the JSON patch and the strategic merge patch (Pod schema):
 * nothing crashes, leaks or touches the target; a failure leaves *out NULL
 * with a known code and a message (a JSON patch is atomic); a merge patch
 * always applies and applying it twice gives the same result (RFC 7386).
 */
#include "base/common.h"

#include "apiserver/patch.h"
#include "base/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_failure(int rc, json_t *out, const struct llmo_error *err)
{
	if (out)
		abort();
	if (rc != LLMO_EPARSE && rc != LLMO_EINVAL && rc != LLMO_ETOOBIG && rc != LLMO_ENOMEM)
		abort();
	if (err->code != rc || err->msg[0] == '\0')
		abort();
}

static void fuzz_pair(const json_t *target, const json_t *patch)
{
	json_t *before = json_deep_copy(target), *out = NULL, *twice = NULL;
	struct llmo_error err = {0};
	int rc;

	if (!before)
		return;
	rc = llmo_patch_merge(target, patch, &out, &err);
	if (rc == 0) {
		if (llmo_patch_merge(out, patch, &twice, &err) != 0 || !json_equal(out, twice))
			abort();
	} else {
		check_failure(rc, out, &err);
	}
	json_decref(out);
	json_decref(twice);
	out = NULL;

	llmo_error_clear(&err);
	rc = llmo_patch_json(target, patch, &out, &err);
	if (rc)
		check_failure(rc, out, &err);
	json_decref(out);
	out = NULL;

	llmo_error_clear(&err);
	rc = llmo_patch_strategic(target, patch, llmo_smp_schema_for("", "Pod"), &out, &err);
	if (rc)
		check_failure(rc, out, &err);
	json_decref(out);
	out = NULL;

	llmo_error_clear(&err);
	rc = llmo_patch_strategic(target, patch, NULL, &out, &err);
	if (rc)
		check_failure(rc, out, &err);
	json_decref(out);

	/* no patch, failed or not, changes its target */
	if (!json_equal((json_t *)target, before))
		abort();
	json_decref(before);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	const char *nl = memchr(text, '\n', size);
	json_t *target = NULL, *patch = NULL;
	size_t tlen;

	if (!nl)
		return 0;
	tlen = (size_t)(nl - text);
	if (llmo_json_load(text, tlen, "target", &target, NULL) != 0 ||
	    llmo_json_load(nl + 1, size - tlen - 1, "patch", &patch, NULL) != 0)
		goto out;
	fuzz_pair(target, patch);
	fuzz_pair(patch, target);
out:
	json_decref(target);
	json_decref(patch);
	return 0;
}
