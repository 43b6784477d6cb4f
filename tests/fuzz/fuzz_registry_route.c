/*
 * Fuzz target for the registry's parsers of outside input: request paths
 * (registry/route.h), digests, names and tags, query parameters, Range and
 * Content-Range, Authorization credentials (registry/auth.h) and pushed
 * manifests (registry/manifest.h). The same bytes go through each one.
 *
 * Invariants: every call returns a known code with a message; a parsed
 * route's name is a valid name, its tag a valid tag, its digest formats to
 * text that parses back to the same digest; a parsed range lies inside the
 * blob; a decoded query value fits its buffer.
 */
#include "base/common.h"

#include "registry/auth.h"
#include "registry/digest.h"
#include "registry/manifest.h"
#include "registry/route.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_digest(const struct llmo_digest *d)
{
	char s[LLMO_DIGEST_STR_MAX];
	struct llmo_digest back;

	llmo_digest_str(d, s);
	if (llmo_digest_parse(s, strlen(s), &back, NULL) != 0 || !llmo_digest_equal(d, &back))
		abort();
}

static void fuzz_route(const char *s, size_t n)
{
	struct llmo_error err = {0};
	struct llmo_reg_route rt;
	int rc = llmo_reg_route_parse(s, n, &rt, &err);

	if (rc == LLMO_ENOTFOUND || rc == LLMO_EINVAL) {
		if (err.msg[0] == '\0' || (rc == LLMO_EINVAL && rt.bad == LLMO_REG_BAD_NONE))
			abort();
		return;
	}
	if (rc != 0)
		abort();
	switch (rt.kind) {
	case LLMO_REG_R_TAGS:
	case LLMO_REG_R_UPLOADS:
	case LLMO_REG_R_UPLOAD:
	case LLMO_REG_R_BLOB:
	case LLMO_REG_R_MANIFEST:
	case LLMO_REG_R_REFERRERS:
		if (!llmo_reg_name_valid(rt.name, strlen(rt.name)))
			abort();
		break;
	default:
		if (rt.name[0])
			abort();
	}
	if (rt.kind == LLMO_REG_R_BLOB || rt.kind == LLMO_REG_R_REFERRERS ||
	    (rt.kind == LLMO_REG_R_MANIFEST && rt.by_digest))
		check_digest(&rt.digest);
	if (rt.kind == LLMO_REG_R_MANIFEST && !rt.by_digest &&
	    !llmo_reg_tag_valid(rt.tag, strlen(rt.tag)))
		abort();
	if (rt.kind == LLMO_REG_R_UPLOAD && strlen(rt.upload_id) != LLMO_REG_UPLOAD_ID_LEN)
		abort();
}

static void fuzz_digest(const char *s, size_t n)
{
	struct llmo_error err = {0};
	struct llmo_digest d;
	int rc = llmo_digest_parse(s, n, &d, &err);

	if (rc == 0)
		check_digest(&d);
	else if ((rc != LLMO_EPARSE && rc != LLMO_EUNSUPPORTED) || err.msg[0] == '\0')
		abort();
}

static void fuzz_query(const char *s, size_t n)
{
	static const char *const keys[] = {"digest", "n", "last", "mount", "from", ""};
	char out[64];

	for (size_t i = 0; i < LLMO_ARRAY_LEN(keys); i++) {
		int rc = llmo_reg_query_get(s, n, keys[i], out, sizeof(out));

		if (rc != 0 && rc != 1 && rc != LLMO_EPARSE && rc != LLMO_ETOOBIG)
			abort();
		if (rc == 1 && strlen(out) >= sizeof(out))
			abort();
	}
}

static void fuzz_ranges(const char *s, size_t n)
{
	uint64_t sizes[] = {0, 1, 100, UINT64_MAX};
	uint64_t a, b;

	for (size_t i = 0; i < LLMO_ARRAY_LEN(sizes); i++) {
		int rc = llmo_reg_range_parse(s, sizes[i], &a, &b);

		if (rc == 0 && (a > b || b >= sizes[i]))
			abort();
		if (rc != 0 && rc != LLMO_ENOTFOUND && rc != LLMO_ERANGE)
			abort();
	}
	if (llmo_reg_content_range_parse(s, &a, &b) == 0 && a > b)
		abort();
	(void)n;
}

static void fuzz_credential(const char *s)
{
	char out[LLMO_REG_TOKEN_MAX + 1];
	int rc = llmo_reg_auth_credential(s, out, sizeof(out));

	if (rc > 0 && (size_t)rc != strlen(out))
		abort();
}

static void fuzz_manifest(const char *s, size_t n)
{
	struct llmo_error err = {0};
	struct llmo_oci_manifest m;
	int rc = llmo_oci_manifest_parse(s, n, NULL, &m, &err);

	if (rc == 0) {
		for (size_t i = 0; i < m.refs.len; i++)
			check_digest(&m.refs.items[i].digest);
		if (!m.media_type || (m.has_config && !m.artifact_type))
			abort();
		llmo_oci_manifest_release(&m);
	} else if (err.msg[0] == '\0') {
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	fuzz_route(s, size);
	fuzz_digest(s, size);
	(void)llmo_reg_name_valid(s, size);
	(void)llmo_reg_tag_valid(s, size);
	fuzz_query(s, size);
	fuzz_ranges(s, size);
	fuzz_credential(s);
	fuzz_manifest(s, size);
	free(s);
	return 0;
}
