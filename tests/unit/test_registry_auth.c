/*
 * Registry tokens, tenants and scopes (registry/auth.h), and the manifest
 * checks (registry/manifest.h).
 */
#include "base/common.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_fs.h"

#include "registry/auth.h"
#include "registry/manifest.h"

#define TOK_A "token-aaaaaaaaaaaaaaaa"
#define TOK_B "token-bbbbbbbbbbbbbbbb"
#define HEX_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define HEX_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static char dir[64];

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/llmo-test-regauth-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	test_rm_rf(dir);
	return 0;
}

static void write_file(const char *path, const char *text, int mode)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, (mode_t)mode), 0);
}

static const struct llmo_reg_principal *who(const struct llmo_reg_auth *a, const char *h)
{
	bool presented;

	return llmo_reg_auth_lookup(a, h, &presented);
}

static void test_scopes(void **state)
{
	struct llmo_reg_auth a;
	struct llmo_error err = {0};
	const struct llmo_reg_principal *p;

	assert_int_equal(llmo_reg_auth_init(&a), 0);
	assert_int_equal(llmo_reg_auth_add(&a, TOK_A, "team-a",
					   "repository:models/team-a/*:pull,push "
					   "repository:models/shared:pull",
					   &err),
			 0);
	p = who(&a, "Bearer " TOK_A);
	assert_non_null(p);
	assert_string_equal(p->tenant, "team-a");
	assert_true(llmo_reg_principal_allows(p, "models/team-a/llama", LLMO_REG_PULL));
	assert_true(llmo_reg_principal_allows(p, "models/team-a/x/y", LLMO_REG_PUSH | LLMO_REG_PULL));
	assert_false(llmo_reg_principal_allows(p, "models/team-a/llama", LLMO_REG_DELETE));
	assert_true(llmo_reg_principal_allows(p, "models/shared", LLMO_REG_PULL));
	assert_false(llmo_reg_principal_allows(p, "models/shared", LLMO_REG_PUSH));
	/* a pattern without '*' is one repository, not a prefix */
	assert_false(llmo_reg_principal_allows(p, "models/shared2", LLMO_REG_PULL));
	assert_false(llmo_reg_principal_allows(p, "models/team-b/x", LLMO_REG_PULL));
	assert_true(llmo_reg_principal_any(p, LLMO_REG_PULL));
	assert_false(llmo_reg_principal_any(p, LLMO_REG_DELETE));
	/* schemes in any case, Basic with the token as the password */
	assert_ptr_equal(who(&a, "bearer " TOK_A), p);
	/* "user:token-aaaaaaaaaaaaaaaa" */
	assert_ptr_equal(who(&a, "Basic dXNlcjp0b2tlbi1hYWFhYWFhYWFhYWFhYWFh"), p);
	assert_null(who(&a, "Bearer " TOK_B));
	assert_null(who(&a, "Bearer token-aaaaaaaaaaaaaaa"));
	assert_null(who(&a, "Token " TOK_A));
	assert_null(who(&a, "Basic !!!"));
	assert_null(who(&a, "Bearer "));
	/* no header: the anonymous principal, which may do nothing by default */
	p = who(&a, NULL);
	assert_ptr_equal(p, &a.anonymous);
	assert_false(llmo_reg_principal_allows(p, "models/shared", LLMO_REG_PULL));
	assert_int_equal(llmo_reg_auth_set_anonymous(&a, "pull", &err), 0);
	assert_true(llmo_reg_principal_allows(p, "anything/at/all", LLMO_REG_PULL));
	assert_false(llmo_reg_principal_allows(p, "anything", LLMO_REG_PUSH));
	assert_int_equal(llmo_reg_auth_set_anonymous(&a, "none", &err), 0);
	assert_false(llmo_reg_principal_allows(p, "anything", LLMO_REG_PULL));
	assert_int_equal(llmo_reg_auth_set_anonymous(&a, "pull,fly", &err), LLMO_EINVAL);
	/* refused tokens, tenants and scopes */
	assert_int_equal(llmo_reg_auth_add(&a, TOK_A, "x", "repository:*:pull", &err),
			 LLMO_EEXIST);
	assert_int_equal(llmo_reg_auth_add(&a, "short", "x", "repository:*:pull", &err),
			 LLMO_EINVAL);
	assert_int_equal(llmo_reg_auth_add(&a, TOK_B, "bad tenant", "repository:*:pull", &err),
			 LLMO_EINVAL);
	assert_int_equal(llmo_reg_auth_add(&a, TOK_B, "x", "", &err), LLMO_EINVAL);
	assert_int_equal(llmo_reg_auth_add(&a, TOK_B, "x", "registry:catalog:*", &err),
			 LLMO_EINVAL);
	assert_int_equal(llmo_reg_auth_add(&a, TOK_B, "x", "repository:Models:pull", &err),
			 LLMO_EINVAL);
	assert_int_equal(llmo_reg_auth_add(&a, TOK_B, "x", "repository:m:fly", &err), LLMO_EINVAL);
	assert_int_equal(llmo_reg_auth_add(&a, TOK_B, "x", "repository:*:*", &err), 0);
	p = who(&a, "Bearer " TOK_B);
	assert_true(llmo_reg_principal_allows(p, "a", LLMO_REG_ALL));
	assert_int_equal(a.ntokens, 2);
	llmo_reg_auth_release(&a);
}

static void test_token_file(void **state)
{
	struct llmo_reg_auth a;
	struct llmo_error err = {0};
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/tokens", dir);
	write_file(path,
		   "# TOKEN TENANT SCOPE...\n"
		   "\n" TOK_A "\tteam-a\trepository:models/*:pull,push\r\n"
		   "   " TOK_B "   ci   repository:*:pull   repository:ci/*:*\n",
		   0600);
	assert_int_equal(llmo_reg_auth_init(&a), 0);
	assert_int_equal(llmo_reg_auth_load_file(&a, path, &err), 0);
	assert_int_equal(a.ntokens, 2);
	assert_true(llmo_reg_principal_allows(who(&a, "Bearer " TOK_B), "ci/x", LLMO_REG_DELETE));
	assert_string_equal(who(&a, "Bearer " TOK_A)->tenant, "team-a");
	/* loading it again: every token is known already; nothing changes */
	assert_int_equal(llmo_reg_auth_load_file(&a, path, &err), LLMO_EEXIST);
	assert_int_equal(a.ntokens, 2);
	llmo_reg_auth_release(&a);

	/* a bad line names the file and line, and nothing is loaded */
	write_file(path, TOK_A " team-a repository:models/*:pull\n" TOK_B " ci\n", 0600);
	assert_int_equal(llmo_reg_auth_init(&a), 0);
	assert_int_equal(llmo_reg_auth_load_file(&a, path, &err), LLMO_EINVAL);
	assert_non_null(strstr(err.msg, ":2: "));
	assert_int_equal(a.ntokens, 0);
	assert_null(who(&a, "Bearer " TOK_A));
	llmo_reg_auth_release(&a);

	/* secrets readable by others are refused */
	write_file(path, TOK_A " team-a repository:models/*:pull\n", 0644);
	assert_int_equal(llmo_reg_auth_init(&a), 0);
	assert_int_equal(llmo_reg_auth_load_file(&a, path, &err), LLMO_EDENIED);
	assert_non_null(strstr(err.msg, "chmod 600"));
	snprintf(path, sizeof(path), "%s/missing", dir);
	assert_int_equal(llmo_reg_auth_load_file(&a, path, &err), LLMO_ENOTFOUND);
	llmo_reg_auth_release(&a);
}

static void test_credential(void **state)
{
	char out[64];

	assert_int_equal(llmo_reg_auth_credential("Bearer  abc ", out, sizeof(out)), 3);
	assert_string_equal(out, "abc");
	/* "u:p w" */
	assert_int_equal(llmo_reg_auth_credential("Basic dTpwIHc=", out, sizeof(out)), 3);
	assert_string_equal(out, "p w");
	assert_int_equal(llmo_reg_auth_credential("Basic dTo=", out, sizeof(out)), -1);
	assert_int_equal(llmo_reg_auth_credential("Digest x", out, sizeof(out)), -1);
	assert_int_equal(llmo_reg_auth_credential("Bearer abc", out, 3), -1);
}

static int parse(const char *body, const char *ct, struct llmo_oci_manifest *m)
{
	struct llmo_error err = {0};
	int rc = llmo_oci_manifest_parse(body, strlen(body), ct, m, &err);

	if (rc)
		assert_true(err.msg[0] != '\0');
	return rc;
}

static void test_manifests(void **state)
{
	static const char image[] =
		"{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
		"\"config\":{\"mediaType\":\"application/vnd.llmo.model.config.v1+json\","
		"\"digest\":\"sha256:" HEX_A "\",\"size\":10},"
		"\"layers\":[{\"mediaType\":\"application/octet-stream\",\"digest\":\"sha256:" HEX_B
		"\",\"size\":5,\"annotations\":{\"org.opencontainers.image.title\":\"w.bin\"}}],"
		"\"subject\":{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
		"\"digest\":\"sha256:" HEX_B "\",\"size\":100}}";
	static const char index[] =
		"{\"schemaVersion\":2,\"artifactType\":\"application/x-test\",\"manifests\":["
		"{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"sha256:" HEX_A
		"\",\"size\":1}]}";
	struct llmo_oci_manifest m;

	assert_int_equal(parse(image, "application/vnd.oci.image.manifest.v1+json", &m), 0);
	assert_false(m.is_index);
	assert_string_equal(m.media_type, LLMO_OCI_MANIFEST);
	/* no artifactType: the config's media type stands for it */
	assert_string_equal(m.artifact_type, "application/vnd.llmo.model.config.v1+json");
	assert_int_equal(m.refs.len, 1);
	assert_int_equal(m.refs.items[0].size, 5);
	assert_string_equal(m.refs.items[0].digest.hex, HEX_B);
	assert_true(m.has_subject);
	assert_string_equal(m.subject.digest.hex, HEX_B);
	llmo_oci_manifest_release(&m);
	/* generic or absent Content-Type: the body's mediaType decides */
	assert_int_equal(parse(image, NULL, &m), 0);
	llmo_oci_manifest_release(&m);
	assert_int_equal(parse(image, "application/json; charset=utf-8", &m), 0);
	llmo_oci_manifest_release(&m);
	/* they disagree */
	assert_int_equal(parse(image, LLMO_DOCKER_MANIFEST, &m), LLMO_EINVAL);
	assert_int_equal(parse(image, "application/vnd.docker.distribution.manifest.v1+json", &m),
			 LLMO_EUNSUPPORTED);
	/* an index by its shape */
	assert_int_equal(parse(index, NULL, &m), 0);
	assert_true(m.is_index);
	assert_string_equal(m.artifact_type, "application/x-test");
	assert_int_equal(m.refs.len, 1);
	llmo_oci_manifest_release(&m);
	/* broken ones */
	assert_int_equal(parse("[]", NULL, &m), LLMO_EINVAL);
	assert_int_equal(parse("{", NULL, &m), LLMO_EPARSE);
	assert_int_equal(parse("{\"schemaVersion\":1,\"config\":{}}", NULL, &m), LLMO_EINVAL);
	assert_int_equal(parse("{\"schemaVersion\":2}", NULL, &m), LLMO_EINVAL);
	assert_int_equal(parse("{\"schemaVersion\":2,\"config\":{\"mediaType\":\"a\","
			       "\"digest\":\"sha256:x\",\"size\":1}}",
			       NULL, &m),
			 LLMO_EINVAL);
	assert_int_equal(parse("{\"schemaVersion\":2,\"config\":{\"mediaType\":\"a\","
			       "\"digest\":\"sha256:" HEX_A "\",\"size\":-1}}",
			       NULL, &m),
			 LLMO_EINVAL);
	assert_int_equal(parse("{\"schemaVersion\":2,\"config\":{\"mediaType\":\"a\","
			       "\"digest\":\"sha256:" HEX_A "\",\"size\":1},\"layers\":{}}",
			       NULL, &m),
			 LLMO_EINVAL);
	/* an OCI artifact without layers is fine */
	assert_int_equal(parse("{\"schemaVersion\":2,\"config\":{\"mediaType\":\"a\","
			       "\"digest\":\"sha256:" HEX_A "\",\"size\":1}}",
			       NULL, &m),
			 0);
	llmo_oci_manifest_release(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scopes),
		cmocka_unit_test_setup_teardown(test_token_file, setup, teardown),
		cmocka_unit_test(test_credential),
		cmocka_unit_test(test_manifests),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
