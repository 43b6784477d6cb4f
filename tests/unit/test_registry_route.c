/*
 * The registry's request grammar (registry/route.h, registry/digest.h):
 * digests, repository names, tags, request paths, query parameters, Range
 * and Content-Range.
 */
#include "base/common.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "registry/digest.h"
#include "registry/route.h"

#define HEX_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define HEX_EMPTY "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static int parse_digest(const char *s, struct llmo_digest *d)
{
	struct llmo_error err = {0};
	int rc = llmo_digest_parse(s, strlen(s), d, &err);

	if (rc)
		assert_true(err.msg[0] != '\0');
	return rc;
}

static void test_digest_parse(void **state)
{
	static const struct {
		const char *in;
		int rc;
	} cases[] = {
		{"sha256:" HEX_A, 0},
		{"sha256:" HEX_EMPTY, 0},
		/* well-formed, another algorithm */
		{"sha512:" HEX_A HEX_A, LLMO_EUNSUPPORTED},
		{"multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8", LLMO_EUNSUPPORTED},
		/* sha256 needs exactly 64 lowercase hex digits */
		{"sha256:" HEX_A "a", LLMO_EPARSE},
		{"sha256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", LLMO_EPARSE},
		{"sha256:abc", LLMO_EPARSE},
		{"sha256:", LLMO_EPARSE},
		{":" HEX_A, LLMO_EPARSE},
		{HEX_A, LLMO_EPARSE},
		{"", LLMO_EPARSE},
		{"SHA256:" HEX_A, LLMO_EPARSE},
		{"sha256+:" HEX_A, LLMO_EPARSE},
		{"sha256:" HEX_A "/", LLMO_EPARSE},
	};
	struct llmo_digest d;
	char s[LLMO_DIGEST_STR_MAX];

	for (size_t i = 0; i < LLMO_ARRAY_LEN(cases); i++) {
		int rc = parse_digest(cases[i].in, &d);

		if (rc != cases[i].rc)
			fail_msg("%s: got %d, want %d", cases[i].in, rc, cases[i].rc);
	}
	assert_int_equal(parse_digest("sha256:" HEX_EMPTY, &d), 0);
	assert_string_equal(llmo_digest_str(&d, s), "sha256:" HEX_EMPTY);
}

static void test_digest_of_and_streaming(void **state)
{
	struct llmo_digest a, b, empty;
	struct llmo_sha256 h = {0};
	char s[LLMO_DIGEST_STR_MAX];

	assert_int_equal(llmo_digest_of("", 0, &empty), 0);
	assert_string_equal(llmo_digest_str(&empty, s), "sha256:" HEX_EMPTY);
	assert_int_equal(llmo_digest_of("hello world", 11, &a), 0);
	assert_int_equal(llmo_sha256_init(&h), 0);
	llmo_sha256_update(&h, "hello ", 6);
	/* peek does not end the hash */
	assert_int_equal(llmo_sha256_peek(&h, &b), 0);
	assert_false(llmo_digest_equal(&a, &b));
	llmo_sha256_update(&h, "world", 5);
	assert_int_equal(llmo_sha256_peek(&h, &b), 0);
	assert_true(llmo_digest_equal(&a, &b));
	assert_int_equal(h.len, 11);
	llmo_sha256_release(&h);
	llmo_sha256_release(&h);
}

static void test_names(void **state)
{
	static const char *const good[] = {
		"a", "models", "models/llama2", "a.b", "a_b", "a__b", "a-b", "a---b",
		"library/ubuntu/x86-64", "0", "a1/b2/c3",
	};
	static const char *const bad[] = {
		"", "A", "models/", "/models", "models//x", "a..b", "a___b", "-a", "a-", "a_",
		"a._b", "a/_b", "models/Llama", "a b", "a:b", "a%2fb",
	};
	char longname[LLMO_REG_NAME_MAX + 2];

	for (size_t i = 0; i < LLMO_ARRAY_LEN(good); i++)
		if (!llmo_reg_name_valid(good[i], strlen(good[i])))
			fail_msg("\"%s\" should be a valid name", good[i]);
	for (size_t i = 0; i < LLMO_ARRAY_LEN(bad); i++)
		if (llmo_reg_name_valid(bad[i], strlen(bad[i])))
			fail_msg("\"%s\" should be refused", bad[i]);
	memset(longname, 'a', sizeof(longname));
	assert_true(llmo_reg_name_valid(longname, LLMO_REG_NAME_MAX));
	assert_false(llmo_reg_name_valid(longname, LLMO_REG_NAME_MAX + 1));
}

static void test_tags(void **state)
{
	char t[LLMO_REG_TAG_MAX + 1];

	assert_true(llmo_reg_tag_valid("latest", 6));
	assert_true(llmo_reg_tag_valid("v1.0-rc_1", 9));
	assert_true(llmo_reg_tag_valid("_x", 2));
	assert_true(llmo_reg_tag_valid("STABLE", 6));
	assert_false(llmo_reg_tag_valid("", 0));
	assert_false(llmo_reg_tag_valid(".x", 2));
	assert_false(llmo_reg_tag_valid("-x", 2));
	assert_false(llmo_reg_tag_valid("a/b", 3));
	assert_false(llmo_reg_tag_valid("a:b", 3));
	memset(t, 'x', sizeof(t));
	assert_true(llmo_reg_tag_valid(t, LLMO_REG_TAG_MAX));
	assert_false(llmo_reg_tag_valid(t, LLMO_REG_TAG_MAX + 1));
}

static int route(const char *path, struct llmo_reg_route *rt)
{
	struct llmo_error err = {0};

	return llmo_reg_route_parse(path, strlen(path), rt, &err);
}

static void test_routes(void **state)
{
	static const struct {
		const char *path;
		int rc;
		enum llmo_reg_route_kind kind;
		const char *name;
		enum llmo_reg_bad_part bad;
	} cases[] = {
		{"/v2/", 0, LLMO_REG_R_BASE, "", 0},
		{"/v2", 0, LLMO_REG_R_BASE, "", 0},
		{"/v2/_catalog", 0, LLMO_REG_R_CATALOG, "", 0},
		{"/token", 0, LLMO_REG_R_TOKEN, "", 0},
		{"/healthz", 0, LLMO_REG_R_HEALTHZ, "", 0},
		{"/metrics", 0, LLMO_REG_R_METRICS, "", 0},
		{"/v2/models/x/tags/list", 0, LLMO_REG_R_TAGS, "models/x", 0},
		{"/v2/models/x/manifests/latest", 0, LLMO_REG_R_MANIFEST, "models/x", 0},
		{"/v2/models/x/manifests/sha256:" HEX_A, 0, LLMO_REG_R_MANIFEST, "models/x", 0},
		{"/v2/models/x/blobs/sha256:" HEX_A, 0, LLMO_REG_R_BLOB, "models/x", 0},
		{"/v2/models/x/blobs/uploads/", 0, LLMO_REG_R_UPLOADS, "models/x", 0},
		{"/v2/models/x/blobs/uploads", 0, LLMO_REG_R_UPLOADS, "models/x", 0},
		{"/v2/models/x/blobs/uploads/0123456789abcdef0123456789abcdef", 0, LLMO_REG_R_UPLOAD,
		 "models/x", 0},
		{"/v2/models/x/referrers/sha256:" HEX_A, 0, LLMO_REG_R_REFERRERS, "models/x", 0},
		/* names holding route words are matched from the end */
		{"/v2/a/manifests/b/manifests/latest", 0, LLMO_REG_R_MANIFEST, "a/manifests/b", 0},
		{"/v2/blobs/blobs/sha256:" HEX_A, 0, LLMO_REG_R_BLOB, "blobs", 0},
		{"/v2/tags/tags/list", 0, LLMO_REG_R_TAGS, "tags", 0},
		{"/v2/uploads/blobs/uploads/", 0, LLMO_REG_R_UPLOADS, "uploads", 0},
		/* route shapes with bad parts */
		{"/v2/Models/manifests/latest", LLMO_EINVAL, LLMO_REG_R_MANIFEST, NULL, LLMO_REG_BAD_NAME},
		{"/v2/x/blobs/sha256:zz", LLMO_EINVAL, LLMO_REG_R_BLOB, NULL, LLMO_REG_BAD_DIGEST},
		{"/v2/x/blobs/sha512:" HEX_A HEX_A, LLMO_EINVAL, LLMO_REG_R_BLOB, NULL,
		 LLMO_REG_BAD_DIGEST},
		{"/v2/x/manifests/-bad", LLMO_EINVAL, LLMO_REG_R_MANIFEST, NULL, LLMO_REG_BAD_TAG},
		{"/v2/x/blobs/uploads/nothex", LLMO_EINVAL, LLMO_REG_R_UPLOAD, NULL,
		 LLMO_REG_BAD_UPLOAD_ID},
		{"/v2//manifests/latest", LLMO_EINVAL, LLMO_REG_R_MANIFEST, NULL, LLMO_REG_BAD_NAME},
		/* not routes */
		{"/", LLMO_ENOTFOUND, 0, NULL, 0},
		{"/v1/models", LLMO_ENOTFOUND, 0, NULL, 0},
		{"/v2/x", LLMO_ENOTFOUND, 0, NULL, 0},
		{"/v2/x/manifests/", LLMO_ENOTFOUND, 0, NULL, 0},
		{"/v2/manifests/latest", LLMO_ENOTFOUND, 0, NULL, 0},
		{"/v2/x/other/thing", LLMO_ENOTFOUND, 0, NULL, 0},
		{"/v2/blobs/uploads/x", LLMO_ENOTFOUND, 0, NULL, 0},
	};
	struct llmo_reg_route rt;

	for (size_t i = 0; i < LLMO_ARRAY_LEN(cases); i++) {
		int rc = route(cases[i].path, &rt);

		if (rc != cases[i].rc)
			fail_msg("%s: got %d, want %d", cases[i].path, rc, cases[i].rc);
		if (rc == LLMO_ENOTFOUND)
			continue;
		if (rt.kind != cases[i].kind)
			fail_msg("%s: kind %d, want %d", cases[i].path, rt.kind, cases[i].kind);
		if (rc == 0 && strcmp(rt.name, cases[i].name) != 0)
			fail_msg("%s: name \"%s\", want \"%s\"", cases[i].path, rt.name,
				 cases[i].name);
		if (rt.bad != cases[i].bad)
			fail_msg("%s: bad part %d, want %d", cases[i].path, rt.bad, cases[i].bad);
	}
	assert_int_equal(route("/v2/models/x/manifests/v1.0", &rt), 0);
	assert_false(rt.by_digest);
	assert_string_equal(rt.tag, "v1.0");
	assert_int_equal(route("/v2/models/x/manifests/sha256:" HEX_A, &rt), 0);
	assert_true(rt.by_digest);
	assert_string_equal(rt.digest.hex, HEX_A);
	assert_int_equal(route("/v2/m/blobs/uploads/0123456789abcdef0123456789abcdef", &rt), 0);
	assert_string_equal(rt.upload_id, "0123456789abcdef0123456789abcdef");
}

static void test_query(void **state)
{
	static const char q[] = "n=10&last=v1&digest=sha256%3A" HEX_A "&empty=&flag&x=a+b";
	char out[128], small[4];

	assert_int_equal(llmo_reg_query_get(q, strlen(q), "n", out, sizeof(out)), 1);
	assert_string_equal(out, "10");
	assert_int_equal(llmo_reg_query_get(q, strlen(q), "digest", out, sizeof(out)), 1);
	assert_string_equal(out, "sha256:" HEX_A);
	assert_int_equal(llmo_reg_query_get(q, strlen(q), "empty", out, sizeof(out)), 1);
	assert_string_equal(out, "");
	assert_int_equal(llmo_reg_query_get(q, strlen(q), "flag", out, sizeof(out)), 1);
	assert_string_equal(out, "");
	assert_int_equal(llmo_reg_query_get(q, strlen(q), "x", out, sizeof(out)), 1);
	assert_string_equal(out, "a b");
	assert_int_equal(llmo_reg_query_get(q, strlen(q), "missing", out, sizeof(out)), 0);
	assert_string_equal(out, "");
	/* a key is matched whole, not as a prefix */
	assert_int_equal(llmo_reg_query_get(q, strlen(q), "las", out, sizeof(out)), 0);
	assert_int_equal(llmo_reg_query_get(q, strlen(q), "last", small, sizeof(small)), 1);
	assert_int_equal(llmo_reg_query_get(q, strlen(q), "digest", small, sizeof(small)),
			 LLMO_ETOOBIG);
	assert_int_equal(llmo_reg_query_get("a=%zz", 5, "a", out, sizeof(out)), LLMO_EPARSE);
	assert_int_equal(llmo_reg_query_get("a=%4", 4, "a", out, sizeof(out)), LLMO_EPARSE);
	assert_int_equal(llmo_reg_query_get("a=%00", 5, "a", out, sizeof(out)), LLMO_EPARSE);
	/* given twice: refused rather than picking one */
	assert_int_equal(llmo_reg_query_get("a=1&a=2", 7, "a", out, sizeof(out)), LLMO_EPARSE);
	assert_int_equal(llmo_reg_query_get("", 0, "a", out, sizeof(out)), 0);
}

static void test_range(void **state)
{
	static const struct {
		const char *v;
		uint64_t size;
		int rc;
		uint64_t first, last;
	} cases[] = {
		{"bytes=0-9", 100, 0, 0, 9},
		{"bytes=10-", 100, 0, 10, 99},
		{"bytes=-10", 100, 0, 90, 99},
		{"bytes=-1000", 100, 0, 0, 99},
		{"bytes=50-1000", 100, 0, 50, 99},
		{"Bytes=0-0", 100, 0, 0, 0},
		{"bytes=99-99", 100, 0, 99, 99},
		/* not satisfiable */
		{"bytes=100-", 100, LLMO_ERANGE, 0, 0},
		{"bytes=100-200", 100, LLMO_ERANGE, 0, 0},
		{"bytes=-0", 100, LLMO_ERANGE, 0, 0},
		{"bytes=0-", 0, LLMO_ERANGE, 0, 0},
		/* ignored: the whole blob is served */
		{"bytes=0-1,5-6", 100, LLMO_ENOTFOUND, 0, 0},
		{"items=0-1", 100, LLMO_ENOTFOUND, 0, 0},
		{"bytes=5-1", 100, LLMO_ENOTFOUND, 0, 0},
		{"bytes=a-b", 100, LLMO_ENOTFOUND, 0, 0},
		{"bytes=", 100, LLMO_ENOTFOUND, 0, 0},
		{"bytes=1-2x", 100, LLMO_ENOTFOUND, 0, 0},
		{"bytes=99999999999999999999-", 100, LLMO_ENOTFOUND, 0, 0},
	};

	for (size_t i = 0; i < LLMO_ARRAY_LEN(cases); i++) {
		uint64_t a = 0, b = 0;
		int rc = llmo_reg_range_parse(cases[i].v, cases[i].size, &a, &b);

		if (rc != cases[i].rc)
			fail_msg("%s: got %d, want %d", cases[i].v, rc, cases[i].rc);
		if (rc == 0 && (a != cases[i].first || b != cases[i].last))
			fail_msg("%s: got %" PRIu64 "-%" PRIu64, cases[i].v, a, b);
	}
}

static void test_content_range(void **state)
{
	uint64_t a, b;

	assert_int_equal(llmo_reg_content_range_parse("0-1023", &a, &b), 0);
	assert_true(a == 0 && b == 1023);
	assert_int_equal(llmo_reg_content_range_parse("bytes 1024-2047/4096", &a, &b), 0);
	assert_true(a == 1024 && b == 2047);
	assert_int_equal(llmo_reg_content_range_parse("bytes 0-9/*", &a, &b), 0);
	assert_int_equal(llmo_reg_content_range_parse("5-4", &a, &b), LLMO_EPARSE);
	assert_int_equal(llmo_reg_content_range_parse("0-", &a, &b), LLMO_EPARSE);
	assert_int_equal(llmo_reg_content_range_parse("-5", &a, &b), LLMO_EPARSE);
	assert_int_equal(llmo_reg_content_range_parse("0-9 ", &a, &b), LLMO_EPARSE);
	assert_int_equal(llmo_reg_content_range_parse("bytes 0-9/5", &a, &b), LLMO_EPARSE);
	assert_int_equal(llmo_reg_content_range_parse("bytes 0-9", &a, &b), LLMO_EPARSE);
	assert_int_equal(llmo_reg_content_range_parse("", &a, &b), LLMO_EPARSE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_digest_parse),
		cmocka_unit_test(test_digest_of_and_streaming),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_tags),
		cmocka_unit_test(test_routes),
		cmocka_unit_test(test_query),
		cmocka_unit_test(test_range),
		cmocka_unit_test(test_content_range),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
