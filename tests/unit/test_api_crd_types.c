/*
 * crd.yaml is the single source of truth for the resource schemas; the C
 * field tables must describe exactly the same fields with matching types.
 * These tests walk both, in both directions.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "api/crd.h"
#include "api/model.h"
#include "api/workload.h"

static int failures;

static void fail_at(const char *path, const char *fmt, ...) LLMO_PRINTF(2, 3);
static void fail_at(const char *path, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "  %s: ", path);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	failures++;
}

static const char *str(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static bool is_type(const json_t *s, const char *t)
{
	const char *have = str(s, "type");
	return have && strcmp(have, t) == 0;
}

static bool has_format(const json_t *s, const char *f)
{
	const char *have = str(s, "format");
	return have && strcmp(have, f) == 0;
}

static bool is_quantity_pattern(const json_t *s)
{
	const char *p = str(s, "pattern");
	return p && strstr(p, "[KMGTPE]i") && strstr(p, "[numkMGTPE]");
}

static void agree(const json_t *schema, const struct llmo_field *table, const char *path);

static void check_enum(const json_t *s, const struct llmo_field *f, const char *path)
{
	const json_t *en = json_object_get(s, "enum");
	size_t n = 0;

	while (f->enums[n])
		n++;
	if (json_array_size(en) != n) {
		fail_at(path, "schema enum has %zu values, C has %zu", json_array_size(en), n);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const char *v = json_string_value(json_array_get(en, i));

		if (!v || strcmp(v, f->enums[i]) != 0)
			fail_at(path, "enum value %zu: schema \"%s\", C \"%s\"", i, v ? v : "?",
				f->enums[i]);
	}
}

static void check_field(const json_t *s, const struct llmo_field *f, const char *path)
{
	bool ios = json_is_true(json_object_get(s, "x-kubernetes-int-or-string"));
	const json_t *items = json_object_get(s, "items");
	const json_t *addl = json_object_get(s, "additionalProperties");

	switch (f->type) {
	case LLMO_FT_STRING:
		if (!is_type(s, "string") || json_object_get(s, "enum") || has_format(s, "duration") ||
		    has_format(s, "date-time"))
			fail_at(path, "C string, schema is not a plain string");
		break;
	case LLMO_FT_ENUM:
		if (!is_type(s, "string") || !json_object_get(s, "enum"))
			fail_at(path, "C enum, schema is not a string enum");
		else
			check_enum(s, f, path);
		break;
	case LLMO_FT_BOOL:
		if (!is_type(s, "boolean"))
			fail_at(path, "C bool, schema is not boolean");
		break;
	case LLMO_FT_INT32:
		if (!is_type(s, "integer") || !has_format(s, "int32"))
			fail_at(path, "C int32, schema is not integer/int32");
		break;
	case LLMO_FT_INT64:
		if (!is_type(s, "integer") || !has_format(s, "int64"))
			fail_at(path, "C int64, schema is not integer/int64");
		break;
	case LLMO_FT_NUMBER:
		if (!is_type(s, "number"))
			fail_at(path, "C number, schema is not number");
		break;
	case LLMO_FT_QUANTITY:
		if (!ios || !is_quantity_pattern(s))
			fail_at(path, "C quantity, schema is not int-or-string with the quantity pattern");
		break;
	case LLMO_FT_INTORSTR:
		if (!ios || is_quantity_pattern(s))
			fail_at(path, "C int-or-string, schema is not a plain int-or-string");
		break;
	case LLMO_FT_DURATION:
		if (!is_type(s, "string") || !has_format(s, "duration"))
			fail_at(path, "C duration, schema is not string/duration");
		break;
	case LLMO_FT_TIME:
		if (!is_type(s, "string") || !has_format(s, "date-time"))
			fail_at(path, "C time, schema is not string/date-time");
		break;
	case LLMO_FT_OBJECT:
		if (!is_type(s, "object") || !json_object_get(s, "properties"))
			fail_at(path, "C object, schema is not an object with properties");
		else
			agree(s, f->sub, path);
		break;
	case LLMO_FT_LIST:
		if (!is_type(s, "array") || !is_type(items, "object"))
			fail_at(path, "C list of objects, schema is not an array of objects");
		else
			agree(items, f->sub, path);
		break;
	case LLMO_FT_STRLIST:
		if (!is_type(s, "array") || !is_type(items, "string"))
			fail_at(path, "C list of strings, schema is not an array of strings");
		break;
	case LLMO_FT_STRMAP:
		if (!is_type(s, "object") || !is_type(addl, "string"))
			fail_at(path, "C map of strings, schema is not");
		break;
	case LLMO_FT_NUMMAP:
		if (!is_type(s, "object") || !is_type(addl, "number"))
			fail_at(path, "C map of numbers, schema is not");
		break;
	case LLMO_FT_OBJMAP:
		fail_at(path, "C map of objects has no CRD counterpart");
		break;
	}
}

static bool schema_requires(const json_t *schema, const char *name)
{
	size_t i;
	json_t *r;

	json_array_foreach(json_object_get(schema, "required"), i, r)
		if (json_string_value(r) && strcmp(json_string_value(r), name) == 0)
			return true;
	return false;
}

static void agree(const json_t *schema, const struct llmo_field *table, const char *path)
{
	const json_t *props = json_object_get(schema, "properties");
	const char *key;
	json_t *sub;
	char child[512];

	json_object_foreach((json_t *)props, key, sub) {
		const struct llmo_field *f = llmo_fields_find(table, key);

		snprintf(child, sizeof(child), "%s.%s", path, key);
		if (!f)
			fail_at(child, "in the schema but unknown to the C types");
		else
			check_field(sub, f, child);
	}
	for (const struct llmo_field *f = table; f->name; f++) {
		snprintf(child, sizeof(child), "%s.%s", path, f->name);
		if (!json_object_get(props, f->name))
			fail_at(child, "in the C types but not in the schema");
		else if (!!(f->flags & LLMO_FF_REQUIRED) != schema_requires(schema, f->name))
			fail_at(child, "required in one of schema and C types only");
	}
}

static void check_kind(const char *kind, const struct llmo_field *spec,
		       const struct llmo_field *status)
{
	const struct llmo_crd *crd = llmo_crd_find(LLMO_API_VERSION, kind);
	const json_t *props;

	assert_non_null(crd);
	props = json_object_get(crd->schema, "properties");
	failures = 0;
	check_field(json_object_get(props, "spec"),
		    &(struct llmo_field){.name = "spec", .type = LLMO_FT_OBJECT, .sub = spec}, "spec");
	check_field(json_object_get(props, "status"),
		    &(struct llmo_field){.name = "status", .type = LLMO_FT_OBJECT, .sub = status},
		    "status");
	assert_int_equal(failures, 0);
}

static void test_workload_schema_matches_types(void **state)
{
	check_kind("LLMWorkload", llmo_workload_spec_fields, llmo_workload_status_fields);
}

static void test_model_schema_matches_types(void **state)
{
	check_kind("LLMModel", llmo_model_spec_fields, llmo_model_status_fields);
}

/* The checker itself must notice a disagreement, or the tests above prove nothing. */
static void test_checker_catches_mismatch(void **state)
{
	static const char *const wrong_enum[] = {"premium", "standard", NULL};
	static const struct llmo_field bad[] = {
		{.name = "qosClass", .type = LLMO_FT_ENUM, .enums = wrong_enum},
		{.name = "notInSchema", .type = LLMO_FT_STRING},
		{.name = "modelName", .type = LLMO_FT_INT32},
		LLMO_FIELD_END,
	};
	const struct llmo_crd *crd = llmo_crd_find(LLMO_API_VERSION, "LLMWorkload");

	assert_non_null(crd);
	failures = 0;
	agree(json_object_get(json_object_get(crd->schema, "properties"), "spec"), bad, "spec");
	/* every schema field but two is missing from `bad`, plus the three wrong entries */
	assert_true(failures > 3);
}

static void test_crd_names(void **state)
{
	const struct llmo_crd *w = llmo_crd_find("llm.orchestrator.io/v1", "LLMWorkload");
	const struct llmo_crd *m = llmo_crd_find("llm.orchestrator.io/v1", "LLMModel");

	assert_non_null(w);
	assert_non_null(m);
	assert_string_equal(w->plural, "llmworkloads");
	assert_string_equal(m->plural, "llmmodels");
	assert_true(w->namespaced);
	assert_true(m->namespaced);
	assert_null(llmo_crd_find("llm.orchestrator.io/v2", "LLMWorkload"));
	assert_null(llmo_crd_find("apps/v1", "Deployment"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crd_names),
		cmocka_unit_test(test_workload_schema_matches_types),
		cmocka_unit_test(test_model_schema_matches_types),
		cmocka_unit_test(test_checker_catches_mismatch),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
