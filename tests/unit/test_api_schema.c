/*
 * The OpenAPI v3 schema checker: each case is a schema, a value, and the
 * problems kube-apiserver would report (path and the gist of the message).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "api/schema.h"
#include "base/json.h"

static json_t *J(const char *text)
{
	json_error_t e;
	json_t *v = json_loads(text, JSON_DECODE_ANY, &e);

	if (!v)
		fail_msg("bad test JSON: %s: %s", text, e.text);
	return v;
}

/* Validates and returns the errors as "path: msg" lines joined by '|'. */
static char *check(const char *schema, const char *value, unsigned flags)
{
	json_t *s = J(schema), *v = J(value);
	struct llmo_errlist errs;
	struct llmo_buf path, out;

	llmo_errlist_init(&errs);
	llmo_buf_init(&path, 4096);
	llmo_buf_init(&out, 1 << 20);
	assert_int_equal(llmo_schema_validate(s, v, &path, &errs, flags), 0);
	assert_int_equal(path.len, 0);
	for (size_t i = 0; i < errs.v.len; i++)
		llmo_buf_appendf(&out, "%s%s: %s", i ? "|" : "", errs.v.items[i].path,
				 errs.v.items[i].msg);
	llmo_errlist_release(&errs);
	llmo_buf_release(&path);
	json_decref(s);
	json_decref(v);
	return llmo_buf_detach(&out, NULL);
}

static void expect(const char *schema, const char *value, unsigned flags, const char *want)
{
	char *got = check(schema, value, flags);

	if (strcmp(got, want) != 0)
		fail_msg("schema %s\nvalue %s\nwant [%s]\ngot  [%s]", schema, value, want, got);
	free(got);
}

static void expect_has(const char *schema, const char *value, const char *needle)
{
	char *got = check(schema, value, 0);

	if (!strstr(got, needle))
		fail_msg("schema %s\nvalue %s\nwant substring [%s]\ngot [%s]", schema, value, needle,
			 got);
	free(got);
}

static void test_types(void **state)
{
	expect("{\"type\":\"integer\"}", "3", 0, "");
	expect("{\"type\":\"integer\"}", "3.5", 0, ": expected integer, got number");
	expect("{\"type\":\"number\"}", "3", 0, "");
	expect("{\"type\":\"string\"}", "true", 0, ": expected string, got boolean");
	expect("{\"type\":\"boolean\"}", "\"true\"", 0, ": expected boolean, got string");
	expect("{\"type\":\"object\"}", "[]", 0, ": expected object, got array");
	expect("{\"type\":\"array\"}", "{}", 0, ": expected array, got object");
	/* a null counts as absent */
	expect("{\"type\":\"string\"}", "null", 0, "");
}

static void test_nested_paths(void **state)
{
	const char *s = "{\"type\":\"object\",\"properties\":{\"spec\":{\"type\":\"object\","
			"\"required\":[\"name\"],\"properties\":{\"name\":{\"type\":\"string\"},"
			"\"items\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":"
			"{\"n\":{\"type\":\"integer\",\"minimum\":1}}}}}}}}";

	expect(s, "{\"spec\":{\"name\":\"a\",\"items\":[{\"n\":1},{\"n\":0}]}}", 0,
	       "spec.items[1].n: must be >= 1");
	expect(s, "{\"spec\":{}}", 0, "spec.name: required field is missing");
	expect(s, "{\"spec\":{\"name\":\"a\",\"extra\":1}}", 0, "");
	expect(s, "{\"spec\":{\"name\":\"a\",\"extra\":1}}", LLMO_SCHEMA_UNKNOWN_FIELDS,
	       "spec.extra: unknown field");
}

static void test_bounds(void **state)
{
	expect("{\"type\":\"integer\",\"maximum\":100}", "101", 0, ": must be <= 100");
	expect("{\"type\":\"number\",\"minimum\":0,\"exclusiveMinimum\":true}", "0", 0,
	       ": must be > 0");
	expect("{\"type\":\"number\",\"maximum\":1,\"exclusiveMaximum\":true}", "0.5", 0, "");
	expect("{\"type\":\"integer\",\"multipleOf\":5}", "12", 0, ": must be a multiple of 5");
	expect("{\"type\":\"string\",\"maxLength\":3}", "\"abcd\"", 0,
	       ": must be at most 3 characters long");
	/* lengths count characters, not bytes: "héé" is 3 characters in 5 bytes */
	expect("{\"type\":\"string\",\"maxLength\":3}", "\"h\\u00e9\\u00e9\"", 0, "");
	expect("{\"type\":\"string\",\"minLength\":1}", "\"\"", 0,
	       ": must be at least 1 characters long");
	expect("{\"type\":\"array\",\"maxItems\":1}", "[1,2]", 0, ": must have at most 1 items");
	expect("{\"type\":\"object\",\"maxProperties\":1,\"additionalProperties\":{\"type\":\"string\"}}",
	       "{\"a\":\"1\",\"b\":\"2\"}", 0, ": must have at most 1 entries");
	expect("{\"type\":\"integer\",\"format\":\"int32\"}", "2147483648", 0,
	       ": 2147483648 does not fit in int32");
}

static void test_enum_pattern_format(void **state)
{
	expect("{\"type\":\"string\",\"enum\":[\"a\",\"b\"]}", "\"c\"", 0,
	       ": unsupported value \"c\": must be one of \"a\", \"b\"");
	expect("{\"type\":\"string\",\"pattern\":\"^[a-z]+$\"}", "\"abc\"", 0, "");
	expect("{\"type\":\"string\",\"pattern\":\"^[a-z]+$\"}", "\"aBc\"", 0,
	       ": \"aBc\" does not match the pattern ^[a-z]+$");
	/* ECMA shorthand classes work */
	expect("{\"type\":\"string\",\"pattern\":\"^\\\\d{3}$\"}", "\"123\"", 0, "");
	expect("{\"type\":\"string\",\"pattern\":\"^\\\\d{3}$\"}", "\"12a\"", 0,
	       ": \"12a\" does not match the pattern ^\\d{3}$");
	expect_has("{\"type\":\"string\",\"format\":\"duration\"}", "\"10 minutes\"",
		   ": invalid duration:");
	expect("{\"type\":\"string\",\"format\":\"duration\"}", "\"1h30m\"", 0, "");
	expect_has("{\"type\":\"string\",\"format\":\"date-time\"}", "\"yesterday\"",
		   ": invalid date-time:");
	expect("{\"type\":\"string\",\"format\":\"date-time\"}", "\"2026-11-26T16:52:35Z\"", 0, "");
}

static void test_int_or_string_and_quantity(void **state)
{
	const char *q = "{\"anyOf\":[{\"type\":\"integer\"},{\"type\":\"string\"}],"
			"\"x-kubernetes-int-or-string\":true,\"pattern\":"
			"\"^(\\\\+|-)?(([0-9]+(\\\\.[0-9]*)?)|(\\\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|"
			"([eE](\\\\+|-)?(([0-9]+(\\\\.[0-9]*)?)|(\\\\.[0-9]+))))?$\"}";

	expect(q, "2", 0, "");
	expect(q, "\"2000m\"", 0, "");
	expect(q, "\"8Gi\"", 0, "");
	expect(q, "\"1e3\"", 0, "");
	expect(q, "1.5", 0, ": expected integer or string, got number (write a fractional quantity "
		   "as a string: \"1.5\")");
	expect_has(q, "\"8Gb\"", ": invalid quantity \"8Gb\": unknown suffix \"Gb\"");
}

static void test_list_types(void **state)
{
	const char *set = "{\"type\":\"array\",\"x-kubernetes-list-type\":\"set\",\"items\":"
			  "{\"type\":\"string\"}}";
	const char *map = "{\"type\":\"array\",\"x-kubernetes-list-type\":\"map\","
			  "\"x-kubernetes-list-map-keys\":[\"type\"],\"items\":{\"type\":\"object\","
			  "\"properties\":{\"type\":{\"type\":\"string\"},\"v\":{\"type\":\"integer\"}}}}";

	expect(set, "[\"a\",\"b\"]", 0, "");
	expect(set, "[\"a\",\"b\",\"a\"]", 0, "[2]: duplicate entry (same as [0])");
	expect(map, "[{\"type\":\"Ready\",\"v\":1},{\"type\":\"Ready\",\"v\":2}]", 0,
	       "[1]: duplicate entry (same as [0])");
	expect(map, "[{\"type\":\"Ready\"},{\"type\":\"Progressing\"}]", 0, "");
}

static void test_combinators(void **state)
{
	expect("{\"oneOf\":[{\"type\":\"integer\"},{\"type\":\"number\"}]}", "1", 0,
	       ": must match exactly one of the allowed forms");
	expect("{\"oneOf\":[{\"type\":\"integer\"},{\"type\":\"string\"}]}", "1", 0, "");
	expect("{\"not\":{\"type\":\"string\"}}", "\"x\"", 0, ": matches a form that is not allowed");
	expect("{\"anyOf\":[{\"type\":\"integer\"},{\"type\":\"string\"}]}", "true", 0,
	       ": does not match any of the allowed forms");
}

static void test_defaulting(void **state)
{
	json_t *s = J("{\"type\":\"object\",\"properties\":{\"spec\":{\"type\":\"object\","
		      "\"properties\":{\"a\":{\"type\":\"integer\",\"default\":1},"
		      "\"o\":{\"type\":\"object\",\"default\":{},\"properties\":"
		      "{\"b\":{\"type\":\"string\",\"default\":\"x\"}}},"
		      "\"p\":{\"type\":\"object\",\"properties\":{\"c\":{\"type\":\"integer\","
		      "\"default\":3}}},"
		      "\"n\":{\"type\":\"string\"}}}}}");
	json_t *v = J("{\"spec\":{\"a\":5,\"n\":null}}");
	json_t *want = J("{\"spec\":{\"a\":5,\"o\":{\"b\":\"x\"}}}");

	assert_int_equal(llmo_schema_default(s, v), 0);
	if (!json_equal(v, want)) {
		char *got = json_dumps(v, JSON_SORT_KEYS);
		fail_msg("defaulted to %s", got);
	}
	json_decref(s);
	json_decref(v);
	json_decref(want);
}

static void test_pruning(void **state)
{
	json_t *s = J("{\"type\":\"object\",\"properties\":{\"keep\":{\"type\":\"object\","
		      "\"properties\":{\"x\":{\"type\":\"integer\"}}},\"open\":{\"type\":\"object\","
		      "\"x-kubernetes-preserve-unknown-fields\":true},\"m\":{\"type\":\"object\","
		      "\"additionalProperties\":{\"type\":\"string\"}}}}");
	json_t *v = J("{\"keep\":{\"x\":1,\"y\":2},\"open\":{\"z\":3},\"m\":{\"k\":\"v\"},\"gone\":1}");
	json_t *want = J("{\"keep\":{\"x\":1},\"open\":{\"z\":3},\"m\":{\"k\":\"v\"}}");

	llmo_schema_prune(s, v);
	assert_true(json_equal(v, want));
	json_decref(s);
	json_decref(v);
	json_decref(want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_types),
		cmocka_unit_test(test_nested_paths),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_enum_pattern_format),
		cmocka_unit_test(test_int_or_string_and_quantity),
		cmocka_unit_test(test_list_types),
		cmocka_unit_test(test_combinators),
		cmocka_unit_test(test_defaulting),
		cmocka_unit_test(test_pruning),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
