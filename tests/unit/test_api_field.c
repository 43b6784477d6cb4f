/*
 * Field tables decoding maps (STRMAP, NUMMAP, OBJMAP): entries in document
 * order, an entry of the wrong type reported under its key and left out,
 * the others kept, everything freed (the sanitizer build checks the frees).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "api/field.h"

struct item {
	char *key; /* an OBJMAP element starts with its key */
	int32_t n;
};

struct doc {
	struct llmo_strmap labels;
	struct llmo_nummap weights;
	LLMO_LIST(struct item) items;
};

static const struct llmo_field item_fields[] = {
	LLMO_FIELD(struct item, n, "n", LLMO_FT_INT32),
	LLMO_FIELD_END,
};

static const struct llmo_field doc_fields[] = {
	LLMO_FIELD(struct doc, labels, "labels", LLMO_FT_STRMAP),
	LLMO_FIELD(struct doc, weights, "weights", LLMO_FT_NUMMAP),
	LLMO_FIELD(struct doc, items, "items", LLMO_FT_OBJMAP, .sub = item_fields,
		   .elem_size = sizeof(struct item)),
	LLMO_FIELD_END,
};

/* Decodes json into d; returns the problems as "path: msg|..." (empty when none). */
static char *decode(const char *json, struct doc *d)
{
	json_t *obj = json_loads(json, 0, NULL);
	struct llmo_errlist errs;
	struct llmo_buf out;

	assert_non_null(obj);
	llmo_errlist_init(&errs);
	llmo_buf_init(&out, 1 << 16);
	assert_int_equal(llmo_fields_decode_doc(doc_fields, obj, d, &errs, 0), 0);
	for (size_t i = 0; i < errs.v.len; i++)
		llmo_buf_appendf(&out, "%s%s: %s", i ? "|" : "", errs.v.items[i].path,
				 errs.v.items[i].msg);
	llmo_errlist_release(&errs);
	json_decref(obj);
	return llmo_buf_detach(&out, NULL);
}

static void test_maps_keep_document_order(void **state)
{
	struct doc d = {0};
	char *errs = decode("{\"labels\": {\"b\": \"2\", \"a\": \"1\"},"
			    " \"weights\": {\"y\": 0.5, \"x\": 2},"
			    " \"items\": {\"q\": {\"n\": 7}, \"p\": {}}}",
			    &d);

	(void)state;
	assert_string_equal(errs, "");
	assert_int_equal(d.labels.len, 2);
	assert_string_equal(d.labels.items[0].key, "b");
	assert_string_equal(d.labels.items[0].value, "2");
	assert_string_equal(d.labels.items[1].key, "a");
	assert_string_equal(d.labels.items[1].value, "1");
	assert_int_equal(d.weights.len, 2);
	assert_string_equal(d.weights.items[0].key, "y");
	assert_true(d.weights.items[0].value == 0.5);
	assert_string_equal(d.weights.items[1].key, "x");
	assert_true(d.weights.items[1].value == 2.0);
	assert_int_equal(d.items.len, 2);
	assert_string_equal(d.items.items[0].key, "q");
	assert_int_equal(d.items.items[0].n, 7);
	assert_string_equal(d.items.items[1].key, "p");
	assert_int_equal(d.items.items[1].n, 0);
	free(errs);
	llmo_fields_free(doc_fields, &d);
	assert_int_equal(d.labels.len, 0);
	assert_null(d.items.items);
}

/* A string or number entry of the wrong type is left out; an OBJMAP entry keeps its key. */
static void test_wrong_entries_are_reported_by_key(void **state)
{
	struct doc d = {0};
	char *errs = decode("{\"labels\": {\"a\": 1, \"b\": \"x\", \"c\": null},"
			    " \"weights\": {\"w\": \"1\", \"v\": 3},"
			    " \"items\": {\"i\": 5, \"j\": {\"n\": \"z\"}, \"k\": {\"n\": 1}}}",
			    &d);

	(void)state;
	assert_string_equal(errs, "labels.a: expected string, got integer"
				  "|labels.c: expected string, got null"
				  "|weights.w: expected number, got string"
				  "|items.i: expected object, got integer"
				  "|items.j.n: expected integer, got string");
	assert_int_equal(d.labels.len, 1);
	assert_string_equal(d.labels.items[0].key, "b");
	assert_int_equal(d.weights.len, 1);
	assert_string_equal(d.weights.items[0].key, "v");
	assert_int_equal(d.items.len, 3);
	assert_string_equal(d.items.items[0].key, "i");
	assert_string_equal(d.items.items[2].key, "k");
	assert_int_equal(d.items.items[2].n, 1);
	free(errs);
	llmo_fields_free(doc_fields, &d);
}

static void test_a_map_that_is_no_object(void **state)
{
	struct doc d = {0};
	char *errs = decode("{\"labels\": [], \"weights\": \"x\", \"items\": 1}", &d);

	(void)state;
	assert_string_equal(errs, "labels: expected object of strings, got array"
				  "|weights: expected object of numbers, got string"
				  "|items: expected object, got integer");
	assert_int_equal(d.labels.len + d.weights.len + d.items.len, 0);
	free(errs);
	llmo_fields_free(doc_fields, &d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_maps_keep_document_order),
		cmocka_unit_test(test_wrong_entries_are_reported_by_key),
		cmocka_unit_test(test_a_map_that_is_no_object),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
