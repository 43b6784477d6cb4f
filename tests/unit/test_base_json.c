#include "base/common.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <math.h>
#include <cmocka.h>

#include "base/json.h"

/* --- field paths --- */

static void test_path_dotted_keys_and_indexes(void **state)
{
	struct llmo_buf p;

	llmo_buf_init(&p, 256);
	assert_int_equal(llmo_path_push_key(&p, "spec"), 0);
	assert_string_equal(p.data, "spec");
	assert_int_equal(llmo_path_push_key(&p, "scaling"), 0);
	assert_int_equal(llmo_path_push_key(&p, "targetMetrics"), 0);
	assert_int_equal(llmo_path_push_index(&p, 0), 0);
	assert_int_equal(llmo_path_push_key(&p, "target"), 0);
	assert_string_equal(p.data, "spec.scaling.targetMetrics[0].target");
	llmo_buf_release(&p);
}

static void test_path_quoted_keys(void **state)
{
	static const struct {
		const char *parent; /* "" for a key at the start */
		const char *key;
		const char *want;
	} cases[] = {
		{"metadata.labels", "app.kubernetes.io/name", "metadata.labels[\"app.kubernetes.io/name\"]"},
		{"a", "x/y", "a[\"x/y\"]"},
		{"a", "[0]", "a[\"[0]\"]"},
		{"a", "b]", "a[\"b]\"]"},
		{"a", "", "a[\"\"]"},
		{"", "a.b", "[\"a.b\"]"},
		{"", "", "[\"\"]"},
		{"a", "tab\there", "a[\"tab\\there\"]"},
		{"a", "nl\nq\"b\\.", "a[\"nl\\nq\\\"b\\\\.\"]"},
		{"a", "bell\x07.", "a[\"bell\\u0007.\"]"},
		/* only [A-Za-z0-9_-] stays plain; anything else is quoted */
		{"a", "x\"y", "a[\"x\\\"y\"]"},
		{"a", "sp ace", "a[\"sp ace\"]"},
		{"a", "caf\xc3\xa9", "a[\"caf\xc3\xa9\"]"},
		{"a", "max-num_seqs", "a.max-num_seqs"},
		{"", "0", "0"},
	};

	for (size_t i = 0; i < LLMO_ARRAY_LEN(cases); i++) {
		struct llmo_buf p;

		llmo_buf_init(&p, 256);
		assert_int_equal(llmo_buf_puts(&p, cases[i].parent), 0);
		assert_int_equal(llmo_path_push_key(&p, cases[i].key), 0);
		assert_string_equal(p.data, cases[i].want);
		llmo_buf_release(&p);
	}
}

static void test_path_key_with_nul_byte(void **state)
{
	struct llmo_buf p;

	llmo_buf_init(&p, 64);
	assert_int_equal(llmo_path_push_keyn(&p, "a\0b", 3), 0);
	assert_string_equal(p.data, "[\"a\\u0000b\"]");
	llmo_buf_release(&p);
}

static void test_path_save_push_truncate(void **state)
{
	struct llmo_buf p;
	size_t saved;

	llmo_buf_init(&p, 64);
	assert_int_equal(llmo_path_push_key(&p, "spec"), 0);
	saved = p.len;
	assert_int_equal(llmo_path_push_key(&p, "replicas"), 0);
	llmo_buf_truncate(&p, saved);
	assert_int_equal(llmo_path_push_index(&p, 12), 0);
	assert_string_equal(p.data, "spec[12]");
	llmo_buf_release(&p);
}

static void test_path_push_over_cap_leaves_path_unchanged(void **state)
{
	struct llmo_buf p;

	llmo_buf_init(&p, 10);
	assert_int_equal(llmo_path_push_key(&p, "spec"), 0);
	assert_int_equal(llmo_path_push_key(&p, "replicas"), LLMO_ETOOBIG);
	assert_string_equal(p.data, "spec");
	assert_int_equal(llmo_path_push_key(&p, "a.b.c"), LLMO_ETOOBIG);
	assert_string_equal(p.data, "spec");
	llmo_buf_release(&p);
}

static void test_path_iter_reads_steps(void **state)
{
	struct llmo_path_iter it;

	llmo_path_iter_init(&it, "spec.containers[10][\"a.b\"].x[\"q\\\"\\\\\\u00e9\"]");
	assert_int_equal(llmo_path_iter_next(&it), 1);
	assert_false(it.is_index);
	assert_string_equal(it.key.data, "spec");
	assert_int_equal(llmo_path_iter_next(&it), 1);
	assert_string_equal(it.key.data, "containers");
	assert_int_equal(llmo_path_iter_next(&it), 1);
	assert_true(it.is_index);
	assert_int_equal(it.index, 10);
	assert_int_equal(llmo_path_iter_next(&it), 1);
	assert_false(it.is_index);
	assert_string_equal(it.key.data, "a.b");
	assert_int_equal(llmo_path_iter_next(&it), 1);
	assert_string_equal(it.key.data, "x");
	assert_int_equal(llmo_path_iter_next(&it), 1);
	assert_string_equal(it.key.data, "q\"\\\xc3\xa9");
	assert_int_equal(llmo_path_iter_next(&it), 0);
	llmo_path_iter_release(&it);
}

static void test_path_iter_rejects_malformed(void **state)
{
	static const char *const bad[] = {
		"a..b", ".a", "a.", "a[", "a[]", "a[x]", "a[-1]", "a[\"b", "a[\"b\"", "a[1]b",
		"a[\"\\q\"]", "a[\"\\u12\"]", "a[\"\\ud800\"]", "a[99999999999999999999999]",
	};

	for (size_t i = 0; i < LLMO_ARRAY_LEN(bad); i++) {
		struct llmo_path_iter it;
		int rc;

		llmo_path_iter_init(&it, bad[i]);
		while ((rc = llmo_path_iter_next(&it)) > 0)
			;
		if (rc != LLMO_EINVAL)
			fail_msg("path %s: got %d, want LLMO_EINVAL", bad[i], rc);
		llmo_path_iter_release(&it);
	}
}

static void test_path_round_trips_through_iter(void **state)
{
	static const char *const keys[] = {
		"plain", "app.kubernetes.io/name", "", "x\"y", "a\\b.c", "\n\t\r\x01", "[0]", "caf\xc3\xa9.",
	};
	struct llmo_path_iter it;
	struct llmo_buf p;

	llmo_buf_init(&p, LLMO_BUF_UNLIMITED);
	for (size_t i = 0; i < LLMO_ARRAY_LEN(keys); i++) {
		assert_int_equal(llmo_path_push_key(&p, keys[i]), 0);
		assert_int_equal(llmo_path_push_index(&p, i), 0);
	}
	llmo_path_iter_init(&it, p.data);
	for (size_t i = 0; i < LLMO_ARRAY_LEN(keys); i++) {
		assert_int_equal(llmo_path_iter_next(&it), 1);
		assert_false(it.is_index);
		assert_int_equal(it.key.len, strlen(keys[i]));
		assert_memory_equal(it.key.data, keys[i], it.key.len);
		assert_int_equal(llmo_path_iter_next(&it), 1);
		assert_true(it.is_index);
		assert_int_equal(it.index, i);
	}
	assert_int_equal(llmo_path_iter_next(&it), 0);
	llmo_path_iter_release(&it);
	llmo_buf_release(&p);
}

/* --- llmo_json_get_path --- */

static void test_get_path(void **state)
{
	json_t *root = json_pack("{s:{s:{s:i, s:[{s:s, s:i}, {s:s}]}}, s:{s:{s:s}}}",
				 "spec", "scaling", "minReplicas", 2, "targetMetrics", "type", "qps",
				 "target", 100, "type", "latency", "metadata", "labels",
				 "app.kubernetes.io/name", "llama");

	assert_non_null(root);
	assert_ptr_equal(llmo_json_get_path(root, ""), root);
	assert_int_equal(json_integer_value(llmo_json_get_path(root, "spec.scaling.minReplicas")), 2);
	assert_int_equal(
		json_integer_value(llmo_json_get_path(root, "spec.scaling.targetMetrics[0].target")),
		100);
	assert_string_equal(
		json_string_value(llmo_json_get_path(root, "spec.scaling.targetMetrics[1].type")),
		"latency");
	assert_string_equal(json_string_value(llmo_json_get_path(
				    root, "metadata.labels[\"app.kubernetes.io/name\"]")),
			    "llama");
	assert_true(json_is_object(llmo_json_get_path(root, "spec[\"scaling\"]")));
	/* missing, wrong type, out of range, malformed */
	assert_null(llmo_json_get_path(root, "spec.scaling.maxReplicas"));
	assert_null(llmo_json_get_path(root, "spec.scaling.minReplicas.x"));
	assert_null(llmo_json_get_path(root, "spec[0]"));
	assert_null(llmo_json_get_path(root, "spec.scaling.targetMetrics.type"));
	assert_null(llmo_json_get_path(root, "spec.scaling.targetMetrics[2]"));
	assert_null(llmo_json_get_path(root, "spec..scaling"));
	assert_null(llmo_json_get_path(NULL, "spec"));
	json_decref(root);
}

/* --- load, dump, type names --- */

static void test_load_ok(void **state)
{
	static const char text[] = "{\"a\": [1, 2.5, true, null], \"b\": \"c\"}";
	struct llmo_error err = {0};
	json_t *v = NULL, *want = json_pack("{s:[i,f,b,n], s:s}", "a", 1, 2.5, 1, "b", "c");

	assert_int_equal(llmo_json_load(text, strlen(text), "x.json", &v, &err), 0);
	assert_true(json_equal(v, want));
	json_decref(v);
	/* any value at the top */
	assert_int_equal(llmo_json_load("42", 2, "x.json", &v, &err), 0);
	assert_int_equal(json_integer_value(v), 42);
	json_decref(v);
	json_decref(want);
}

static void test_load_errors_name_line_and_column(void **state)
{
	static const char dup[] = "{\n  \"a\": 1,\n  \"a\": 2\n}";
	static const char bad[] = "{\"a\": 1,\n\"b\": }";
	static const char nul[] = "[\"a\\u0000b\"]";
	struct llmo_error err = {0};
	json_t *v = (json_t *)1;

	assert_int_equal(llmo_json_load(dup, strlen(dup), "dup.json", &v, &err), LLMO_EPARSE);
	assert_null(v);
	assert_int_equal(err.code, LLMO_EPARSE);
	assert_non_null(strstr(err.msg, "dup.json:3:"));
	assert_non_null(strstr(err.msg, "duplicate"));

	assert_int_equal(llmo_json_load(bad, strlen(bad), "bad.json", &v, &err), LLMO_EPARSE);
	assert_true(strncmp(err.msg, "bad.json:2:", 11) == 0);

	assert_int_equal(llmo_json_load(nul, strlen(nul), NULL, &v, &err), LLMO_EPARSE);
	assert_true(strncmp(err.msg, "<input>:1:", 10) == 0);

	assert_int_equal(llmo_json_load("[1] x", 5, "t.json", &v, &err), LLMO_EPARSE);
	assert_int_equal(llmo_json_load("", 0, "t.json", &v, &err), LLMO_EPARSE);
	assert_int_equal(llmo_json_load("[1,2]", 5, "t.json", &v, NULL), 0);
	json_decref(v);
}

static void test_dump_sorted_compact_and_pretty(void **state)
{
	json_t *v = json_pack("{s:i, s:[b,n], s:{}}", "b", 1, "a", 1, "c");
	char *s;

	s = llmo_json_dump(v, false);
	assert_string_equal(s, "{\"a\":[true,null],\"b\":1,\"c\":{}}");
	free(s);
	s = llmo_json_dump(v, true);
	assert_string_equal(s, "{\n  \"a\": [\n    true,\n    null\n  ],\n  \"b\": 1,\n  \"c\": {}\n}");
	free(s);
	json_decref(v);
	v = json_string("x");
	s = llmo_json_dump(v, false);
	assert_string_equal(s, "\"x\"");
	free(s);
	json_decref(v);
}

static void test_dump_reals_read_back_exactly(void **state)
{
	json_t *v = json_pack("[f,f,f]", 0.1, 0.75, 2.5e-8);
	json_t *w, *back;
	char *s;

	s = llmo_json_dump(v, false);
	assert_string_equal(s, "[0.1,0.75,2.5e-8]");
	free(s);
	/* 0.1 + 0.2 needs all 17 digits; every real then gets them */
	w = json_pack("[f,f]", 0.1 + 0.2, 0.5);
	s = llmo_json_dump(w, false);
	assert_string_equal(s, "[0.30000000000000004,0.5]");
	assert_int_equal(llmo_json_load(s, strlen(s), "t", &back, NULL), 0);
	assert_true(json_equal(back, w));
	free(s);
	json_decref(back);
	json_decref(w);
	json_decref(v);
}

/*
 * The compact writer's text is jansson's JSON_COMPACT text (jansson is the
 * reference here), keys in insertion order, for documents without reals.
 */
static void test_compact_matches_jansson(void **state)
{
	static const char *const docs[] = {
		"{}",
		"[]",
		"\"\"",
		"{\"b\":1,\"a\":[true,false,null,{\"z\":{}},[]],\"c\":\"x\"}",
		"{\"esc\":\"q\\\" b\\\\ \\/ \\b\\f\\n\\r\\t \\u0001\\u001f \\u007f\"}",
		"{\"utf8\":\"\\u00e9\\u4e2d\\ud83d\\ude00\",\"key\":\"nul \\u0000 inside\"}",
		"[-9223372036854775808,9223372036854775807,0,-1,42]",
		"{\"metadata\":{\"name\":\"w\",\"labels\":{\"app\":\"x\"}},\"spec\":{\"n\":[1,[2,[3]]]}}",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		json_error_t jerr;
		json_t *v = json_loads(docs[i], JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
		char *want, *got;

		assert_non_null(v);
		want = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		got = llmo_json_dump_compact(v);
		assert_non_null(want);
		assert_non_null(got);
		assert_string_equal(got, want);
		free(want);
		free(got);
		json_decref(v);
	}
}

/* Each real at its own fewest digits that read back, in jansson's form. */
static void test_compact_reals(void **state)
{
	json_t *v = json_pack("[f,f,f,f,f,f,f]", 0.1, 0.1 + 0.2, 1.0, -2.5, 1e300, 1.5e-7, 100.0);
	char *got;

	(void)state;
	assert_non_null(v);
	got = llmo_json_dump_compact(v);
	assert_non_null(got);
	assert_string_equal(got, "[0.1,0.30000000000000004,1.0,-2.5,1e300,1.5e-7,100.0]");
	free(got);
	json_decref(v);
}

/* The fewest digits, 15 to 17, with which "%.*g" reads back as d. */
static int fewest_digits(double d)
{
	for (int p = 15; p < 17; p++) {
		char buf[64];

		snprintf(buf, sizeof(buf), "%.*g", p, d);
		if (strtod(buf, NULL) == d)
			return p;
	}
	return 17;
}

/*
 * Every real is written as jansson writes it at its fewest round-tripping
 * digits (jansson is the reference): short decimals, which take a path of
 * their own, and arbitrary bit patterns.
 */
static void test_compact_reals_match_jansson(void **state)
{
	static const double pow10[] = {1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8};
	uint64_t x = 88172645463325252ull;

	(void)state;
	for (int i = 0; i < 200000; i++) {
		double d;
		json_t *v;
		char *want, *got;

		x ^= x << 13, x ^= x >> 7, x ^= x << 17; /* xorshift64 */
		if (i % 2) {
			memcpy(&d, &x, sizeof(d));
			if (!isfinite(d))
				continue;
		} else {
			d = (double)(x % (i % 4 ? 1000000 : 1000000000000000ull)) /
			    pow10[(x >> 50) % LLMO_ARRAY_LEN(pow10)];
			if (x >> 63)
				d = -d;
		}
		v = json_real(d);
		assert_non_null(v);
		want = json_dumps(v, JSON_ENCODE_ANY | JSON_REAL_PRECISION(fewest_digits(d)));
		got = llmo_json_dump_compact(v);
		assert_non_null(want);
		assert_non_null(got);
		if (strcmp(want, got) != 0)
			fail_msg("%.17g: got %s, jansson writes %s", d, got, want);
		free(want);
		free(got);
		json_decref(v);
	}
}

/* Text that is not UTF-8 is refused, and a failed write leaves the buffer as it was. */
static void test_compact_refuses_bad_utf8(void **state)
{
	static const char *const bad[] = {"\xff", "a\xc3", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80"};
	struct llmo_buf b;

	(void)state;
	llmo_buf_init(&b, 1024);
	assert_int_equal(llmo_buf_puts(&b, "keep"), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *v = json_pack("{s:o}", "k", json_stringn_nocheck(bad[i], strlen(bad[i])));

		assert_non_null(v);
		assert_int_equal(llmo_json_write(&b, v), LLMO_EINVAL);
		assert_string_equal(b.data, "keep");
		assert_null(llmo_json_dump_compact(v));
		json_decref(v);
	}
	llmo_buf_release(&b);
}

/* A buffer's cap is kept: the write fails whole. */
static void test_compact_respects_cap(void **state)
{
	json_t *v = json_pack("{s:s}", "key", "a value longer than the cap");
	struct llmo_buf b;

	(void)state;
	llmo_buf_init(&b, 16);
	assert_int_equal(llmo_json_write(&b, v), LLMO_ETOOBIG);
	assert_int_equal(b.len, 0);
	llmo_buf_release(&b);
	json_decref(v);
}

static void test_type_names(void **state)
{
	json_t *o = json_object(), *a = json_array(), *s = json_string("x");
	json_t *i = json_integer(1), *r = json_real(1.5);

	assert_string_equal(llmo_json_type_name(o), "object");
	assert_string_equal(llmo_json_type_name(a), "array");
	assert_string_equal(llmo_json_type_name(s), "string");
	assert_string_equal(llmo_json_type_name(i), "integer");
	assert_string_equal(llmo_json_type_name(r), "number");
	assert_string_equal(llmo_json_type_name(json_true()), "boolean");
	assert_string_equal(llmo_json_type_name(json_false()), "boolean");
	assert_string_equal(llmo_json_type_name(json_null()), "null");
	assert_string_equal(llmo_json_type_name(NULL), "missing");
	json_decref(o);
	json_decref(a);
	json_decref(s);
	json_decref(i);
	json_decref(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path_dotted_keys_and_indexes),
		cmocka_unit_test(test_path_quoted_keys),
		cmocka_unit_test(test_path_key_with_nul_byte),
		cmocka_unit_test(test_path_save_push_truncate),
		cmocka_unit_test(test_path_push_over_cap_leaves_path_unchanged),
		cmocka_unit_test(test_path_iter_reads_steps),
		cmocka_unit_test(test_path_iter_rejects_malformed),
		cmocka_unit_test(test_path_round_trips_through_iter),
		cmocka_unit_test(test_get_path),
		cmocka_unit_test(test_load_ok),
		cmocka_unit_test(test_load_errors_name_line_and_column),
		cmocka_unit_test(test_dump_sorted_compact_and_pretty),
		cmocka_unit_test(test_dump_reals_read_back_exactly),
		cmocka_unit_test(test_compact_matches_jansson),
		cmocka_unit_test(test_compact_reals),
		cmocka_unit_test(test_compact_reals_match_jansson),
		cmocka_unit_test(test_compact_refuses_bad_utf8),
		cmocka_unit_test(test_compact_respects_cap),
		cmocka_unit_test(test_type_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
