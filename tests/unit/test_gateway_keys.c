/*
 * API keys and tenants (gateway/keys.h): the keys file and its located
 * errors, key lookups, and the token buckets' arithmetic worked out by
 * hand (a minute's capacity, continuous refill, Retry-After seconds, a
 * token bucket that goes below zero after an answer), and levels carried
 * over a reload.
 */
#include "base/common.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "gateway/keys.h"

#define SEC INT64_C(1000000000)

static struct llmo_gw_keys *from_yaml(const char *text, struct llmo_error *err)
{
	struct llmo_yaml_stream s = {0};
	struct llmo_gw_keys *k = NULL;

	if (llmo_yaml_parse(text, strlen(text), "keys.yaml", &s, err) == 0)
		llmo_gw_keys_from_json(s.docs[0].root, &s.docs[0], "keys.yaml", &k, err);
	llmo_yaml_stream_release(&s);
	return k;
}

static const char good[] = "tenants:\n"
			   "  - name: acme\n"
			   "    keys: [sk-acme-0001, sk-acme-0002]\n"
			   "    requestsPerMinute: 60\n"
			   "    tokensPerMinute: 600\n"
			   "  - name: free.tier_1\n"
			   "    keys: ['sk-free-0001']\n";

static void test_file(void **state)
{
	struct llmo_error err = {0};
	struct llmo_gw_keys *k = from_yaml(good, &err);
	struct llmo_gw_tenant *t;

	if (!k)
		fail_msg("%s", err.msg);
	assert_int_equal(k->tenants.len, 2);
	t = llmo_gw_keys_lookup(k, "sk-acme-0002", 12);
	assert_non_null(t);
	assert_string_equal(t->name, "acme");
	assert_true(t->requests.rate_per_s == 1.0);
	assert_true(t->tokens.rate_per_s == 10.0);
	t = llmo_gw_keys_lookup(k, "sk-free-0001", 12);
	assert_string_equal(t->name, "free.tier_1");
	assert_true(t->requests.rate_per_s == 0 && t->tokens.rate_per_s == 0);
	assert_null(llmo_gw_keys_lookup(k, "sk-acme-000", 11));
	assert_non_null(llmo_gw_keys_lookup(k, "sk-acme-00012", 12)); /* len bytes only */
	assert_null(llmo_gw_keys_lookup(k, "sk-acme-00012", 13));
	assert_null(llmo_gw_keys_lookup(k, "sk-acme-0001\0x", 14));
	assert_null(llmo_gw_keys_lookup(NULL, "sk-acme-0001", 12));
	llmo_gw_keys_unref(k);
}

static void test_file_errors(void **state)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
		{"tenant: []\n", "keys.yaml:1: tenant: unknown key"},
		{"tenants: {}\n", "keys.yaml:1: tenants: expected a list of tenants"},
		{"{}\n", "tenants: required"},
		{"tenants:\n  - keys: [sk-aaaaaaaa]\n", "tenants[0].name: required"},
		{"tenants:\n  - name: a b\n    keys: [sk-aaaaaaaa]\n",
		 "keys.yaml:2: tenants[0].name: expected letters, digits"},
		{"tenants:\n  - name: a\n", "keys.yaml:2: tenants[0].keys: required"},
		{"tenants:\n  - name: a\n    keys: []\n",
		 "keys.yaml:3: tenants[0].keys: expected a non-empty list of keys"},
		{"tenants:\n  - name: a\n    keys: [sk-aaaaaaaa, short]\n",
		 "tenants[0].keys[1]: expected a key of 8 to 256 visible ASCII characters"},
		{"tenants:\n  - name: a\n    keys: [sk-aaaaaaaa, 12345678]\n",
		 "tenants[0].keys[1]: expected a key"},
		{"tenants:\n  - name: a\n    keys: [sk-aaaaaaaa]\n  - name: b\n    keys:\n"
		 "      - sk-aaaaaaaa\n",
		 "keys.yaml:6: tenants[1].keys[0]: this key is listed twice"},
		{"tenants:\n  - name: a\n    keys: [sk-aaaaaaaa]\n  - name: a\n    keys: [sk-bbbbbbbb]\n",
		 "keys.yaml:4: tenants[1].name: tenant \"a\" is listed twice"},
		{"tenants:\n  - name: a\n    keys: [sk-aaaaaaaa]\n    requestsPerMinute: 0\n",
		 "keys.yaml:4: tenants[0].requestsPerMinute: expected an integer from 1 to 1000000000"},
		{"tenants:\n  - name: a\n    keys: [sk-aaaaaaaa]\n    tokensPerMinute: '5'\n",
		 "tenants[0].tokensPerMinute: expected an integer"},
		{"tenants:\n  - name: a\n    keys: [sk-aaaaaaaa]\n    rpm: 5\n",
		 "keys.yaml:4: tenants[0].rpm: unknown key"},
		{"tenants:\n  - 7\n", "tenants[0]: expected a mapping with name and keys"},
	};

	for (size_t i = 0; i < LLMO_ARRAY_LEN(cases); i++) {
		struct llmo_error err = {0};
		struct llmo_gw_keys *k = from_yaml(cases[i].text, &err);

		if (k)
			fail_msg("accepted: %s", cases[i].text);
		if (!strstr(err.msg, cases[i].want))
			fail_msg("message \"%s\" lacks \"%s\"", err.msg, cases[i].want);
		/* a key is never quoted in a message */
		assert_null(strstr(err.msg, "sk-aaaaaaaa"));
	}
}

static void test_read_file(void **state)
{
	struct llmo_error err = {0};
	struct llmo_gw_keys *k;

	assert_int_equal(llmo_gw_keys_from_file("/nonexistent/keys.yaml", &k, &err), LLMO_ENOTFOUND);
	assert_non_null(strstr(err.msg, "/nonexistent/keys.yaml"));
	assert_null(k);
}

static void test_request_bucket(void **state)
{
	/* 60 a minute: 60 at once, then one a second */
	struct llmo_gw_bucket b = {.rate_per_s = 1};
	int64_t t = 100 * SEC;

	for (int i = 0; i < 60; i++)
		assert_int_equal(llmo_gw_bucket_take(&b, t), 0);
	assert_int_equal(llmo_gw_bucket_take(&b, t), 1);
	/* half a second later: half a request, still 1 s to wait (rounded up) */
	assert_int_equal(llmo_gw_bucket_take(&b, t + SEC / 2), 1);
	assert_int_equal(llmo_gw_bucket_take(&b, t + SEC), 0);
	assert_int_equal(llmo_gw_bucket_take(&b, t + SEC), 1);
	/* a long pause refills to the minute's capacity, no more */
	assert_int_equal(llmo_gw_bucket_take(&b, t + 3600 * SEC), 0);
	assert_true(b.level == 59);
	/* 2 a minute: the third waits 30 s */
	b = (struct llmo_gw_bucket){.rate_per_s = 2.0 / 60};
	assert_int_equal(llmo_gw_bucket_take(&b, t), 0);
	assert_int_equal(llmo_gw_bucket_take(&b, t), 0);
	assert_int_equal(llmo_gw_bucket_take(&b, t), 30);
	assert_int_equal(llmo_gw_bucket_take(&b, t + 10 * SEC), 20);
	/* no limit */
	b = (struct llmo_gw_bucket){0};
	for (int i = 0; i < 1000; i++)
		assert_int_equal(llmo_gw_bucket_take(&b, t), 0);
}

static void test_token_bucket(void **state)
{
	/* 600 tokens a minute (10/s): an answer of 900 leaves -300, 30 s to get back to 0 */
	struct llmo_gw_bucket b = {.rate_per_s = 10};
	int64_t t = 100 * SEC, retry = 0;

	assert_true(llmo_gw_bucket_positive(&b, t, &retry));
	llmo_gw_bucket_debit(&b, t, 900);
	assert_false(llmo_gw_bucket_positive(&b, t, &retry));
	assert_int_equal(retry, 30);
	assert_false(llmo_gw_bucket_positive(&b, t + 20 * SEC, &retry));
	assert_int_equal(retry, 10);
	assert_false(llmo_gw_bucket_positive(&b, t + 29 * SEC, &retry));
	assert_int_equal(retry, 1);
	assert_true(llmo_gw_bucket_positive(&b, t + 30 * SEC, &retry)); /* exactly 0 */
}

static void test_carry(void **state)
{
	struct llmo_gw_keys *a = from_yaml(good, NULL), *b = from_yaml(good, NULL);
	struct llmo_gw_tenant *ta = llmo_gw_keys_lookup(a, "sk-acme-0001", 12);
	struct llmo_gw_tenant *tb = llmo_gw_keys_lookup(b, "sk-acme-0001", 12);

	for (int i = 0; i < 60; i++)
		assert_int_equal(llmo_gw_bucket_take(&ta->requests, SEC), 0);
	llmo_gw_keys_carry(b, a);
	/* the reloaded tenant has no request left either */
	assert_int_equal(llmo_gw_bucket_take(&tb->requests, SEC), 1);
	llmo_gw_keys_unref(a);
	llmo_gw_keys_unref(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_file),
		cmocka_unit_test(test_file_errors),
		cmocka_unit_test(test_read_file),
		cmocka_unit_test(test_request_bucket),
		cmocka_unit_test(test_token_bucket),
		cmocka_unit_test(test_carry),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
