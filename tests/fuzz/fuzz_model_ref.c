/*
 * Fuzz target for llmo_model_ref_parse (registry/fetch.h), which reads the
 * model-artifact annotation of a pod (an API object: outside input) and
 * `llmo fetch`'s REFERENCE. Any input parses or fails with LLMO_EINVAL and
 * a message; a parsed reference has a valid repository name, a valid tag or
 * digest, and a URL with a scheme; formatting it back and parsing again
 * gives the same parts.
 */
#include "base/common.h"

#include "registry/fetch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const uint8_t *data, size_t size, bool given, bool plain)
{
	struct llmo_model_ref r, again;
	struct llmo_error err = {0};
	struct llmo_digest d;
	char text[2048];
	const char *host;
	int rc;

	rc = llmo_model_ref_parse((const char *)data, size, "http://127.0.0.1:5000", given, plain,
				  &r, &err);
	if (rc) {
		if (rc != LLMO_EINVAL || err.code != rc || !err.msg[0])
			abort();
		return;
	}
	if (!llmo_reg_name_valid(r.repo, strlen(r.repo)))
		abort();
	if (strncmp(r.ref, "sha256:", 7) == 0 ? llmo_digest_parse(r.ref, strlen(r.ref), &d, NULL) != 0
					       : !llmo_reg_tag_valid(r.ref, strlen(r.ref)))
		abort();
	host = strstr(r.url, "://");
	if (!host || (strncmp(r.url, "http://", 7) != 0 && strncmp(r.url, "https://", 8) != 0))
		abort();
	snprintf(text, sizeof(text), "%s/%s%s%s", host + 3, r.repo, strchr(r.ref, ':') ? "@" : ":",
		 r.ref);
	if (llmo_model_ref_parse(text, strlen(text), "http://127.0.0.1:5000", true, plain, &again,
				 &err) != 0 ||
	    strcmp(again.repo, r.repo) != 0 || strcmp(again.ref, r.ref) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check(data, size, false, false);
	check(data, size, true, true);
	return 0;
}
