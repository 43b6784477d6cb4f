/*
 * Reading stored rows without parsing them (llmo__row_text, apiserver_int.h):
 * where it answers, its text must mean what parsing the row gives
 * (llmo__object_from_row, the reference), and where the row is not of the
 * usual form it must append nothing and leave the row to the parser.
 */
#include "base/common.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <event2/buffer.h>

#include "apiserver/apiserver_int.h"
#include "base/json.h"

static struct llmo_resources resources;

static int setup(void **state)
{
	(void)state;
	return llmo_resources_init(&resources);
}

static int teardown(void **state)
{
	(void)state;
	llmo_resources_release(&resources);
	return 0;
}

static const struct llmo_resource *configmaps(void)
{
	const struct llmo_resource *res = llmo_resources_find(&resources, "", "v1", "configmaps");

	assert_non_null(res);
	return res;
}

/*
 * [0, sep and the text of llmo__row_text] parsed (no 0 when sep is ""); NULL
 * when it declined, and then it must have written nothing.
 */
static json_t *fast(const char *row, int64_t rv, const char *sep)
{
	struct evbuffer *out = evbuffer_new();
	json_t *v = NULL;
	size_t len;
	char *text;

	assert_non_null(out);
	/* an element before, for the separator to follow */
	assert_int_equal(evbuffer_add(out, *sep ? "[0" : "[", *sep ? 2 : 1), 0);
	len = evbuffer_get_length(out);
	if (!llmo__row_text(configmaps(), row, rv, sep, out)) {
		assert_int_equal(evbuffer_get_length(out), len);
		evbuffer_free(out);
		return NULL;
	}
	assert_int_equal(evbuffer_add(out, "]", 1), 0);
	len = evbuffer_get_length(out);
	text = (char *)evbuffer_pullup(out, -1);
	assert_non_null(text);
	v = json_loadb(text, len, 0, NULL);
	assert_non_null(v);
	evbuffer_free(out);
	return v;
}

static void test_usual_rows_match_the_parser(void **state)
{
	static const char *const rows[] = {
		"{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"a\","
		"\"namespace\":\"default\",\"labels\":{\"x\":\"}{\\\"],\"}},\"data\":{\"k\":\"v\"}}",
		/* an empty metadata gets no comma after the resourceVersion */
		"{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{},\"data\":{}}",
		/* metadata first, nested values of every kind, whitespace */
		" { \"metadata\" : { \"name\" : \"b\" , \"x\" : [1, 2.5, true, null, {\"y\":[]}] } ,"
		" \"apiVersion\" : \"v1\" , \"kind\" : \"ConfigMap\" , \"data\" : {\"q\":\"\\\\\"} } ",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		json_t *want = llmo__object_from_row(configmaps(), rows[i], 42);
		json_t *got = fast(rows[i], 42, i ? "," : "");

		assert_non_null(want);
		if (!got)
			fail_msg("declined the usual row %s", rows[i]);
		/* the separator went before the object */
		assert_int_equal(json_array_size(got), i ? 2 : 1);
		if (!json_equal(json_array_get(got, json_array_size(got) - 1), want))
			fail_msg("row %zu reads differently when not parsed", i);
		json_decref(want);
		json_decref(got);
	}
}

static void test_unusual_rows_are_left_to_the_parser(void **state)
{
	static const char *const rows[] = {
		/* another version or kind than the resource serves */
		"{\"apiVersion\":\"v2\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"a\"}}",
		"{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"a\"}}",
		"{\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"a\"}}",
		"{\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"a\"}}",
		/* no metadata object, or one that already has a resourceVersion */
		"{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\"}",
		"{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":[]}",
		"{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"resourceVersion\":\"1\"}}",
		/* not JSON, or more than one value */
		"{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"a\",}}",
		"{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{},}",
		"{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"a}}",
		"{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{}} {}",
		"[]",
		"",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		json_t *got = fast(rows[i], 7, ",");

		if (got)
			fail_msg("took the unusual row %s", rows[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_usual_rows_match_the_parser),
		cmocka_unit_test(test_unusual_rows_are_left_to_the_parser),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
