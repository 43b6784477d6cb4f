/*
 * OpenAI-style error bodies (gateway/oaerror.h): their exact text, that
 * they stay valid JSON whatever bytes a client's input put in the message,
 * and how client input is quoted in messages.
 */
#include "base/common.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>

#include "base/buf.h"
#include "gateway/oaerror.h"

static void test_exact_bodies(void **state)
{
	static const struct {
		int status;
		const char *msg, *param, *code, *want;
	} cases[] = {
		{404, "The model 'x' does not exist", "model", "model_not_found",
		 "{\"error\":{\"message\":\"The model 'x' does not exist\",\"type\":\"invalid_request_error\","
		 "\"param\":\"model\",\"code\":\"model_not_found\"}}"},
		{400, "bad", NULL, NULL,
		 "{\"error\":{\"message\":\"bad\",\"type\":\"invalid_request_error\",\"param\":null,\"code\":null}}"},
		{502, "down", NULL, "upstream_error",
		 "{\"error\":{\"message\":\"down\",\"type\":\"server_error\",\"param\":null,\"code\":\"upstream_error\"}}"},
		{413, "a \"quoted\" \\ and\ttab\n", NULL, "request_too_large",
		 "{\"error\":{\"message\":\"a \\\"quoted\\\" \\\\ and\\u0009tab\\u000a\",\"type\":"
		 "\"invalid_request_error\",\"param\":null,\"code\":\"request_too_large\"}}"},
	};

	for (size_t i = 0; i < LLMO_ARRAY_LEN(cases); i++) {
		struct llmo_buf b;

		llmo_buf_init(&b, 4096);
		assert_int_equal(llmo_gw_error_body(&b, cases[i].status, cases[i].msg, cases[i].param,
						    cases[i].code),
				 0);
		assert_string_equal(b.data, cases[i].want);
		llmo_buf_release(&b);
	}
}

static void test_always_valid_json(void **state)
{
	/* invalid UTF-8, a lone continuation byte, an overlong form, a surrogate */
	static const char *const msgs[] = {
		"model '\xff\xfe'", "x\x80y", "\xc0\xaf", "\xed\xa0\x80", "ok \xe6\xa8\xa1", "\x01\x1f",
	};

	for (size_t i = 0; i < LLMO_ARRAY_LEN(msgs); i++) {
		struct llmo_buf b;
		json_error_t jerr;
		json_t *j, *e;

		llmo_buf_init(&b, 4096);
		assert_int_equal(llmo_gw_error_body(&b, 404, msgs[i], "model", "model_not_found"), 0);
		j = json_loads(b.data, 0, &jerr);
		if (!j)
			fail_msg("not JSON (%s): %s", jerr.text, b.data);
		e = json_object_get(j, "error");
		assert_int_equal(json_object_size(e), 4);
		assert_string_equal(json_string_value(json_object_get(e, "type")),
				    "invalid_request_error");
		json_decref(j);
		llmo_buf_release(&b);
	}
}

static void test_quote_input(void **state)
{
	char q[LLMO_GW_QUOTE_MAX + 4], big[LLMO_GW_QUOTE_MAX + 50];

	assert_string_equal(llmo_gw_quote_input(q, "llama", 5), "llama");
	assert_string_equal(llmo_gw_quote_input(q, "a\0b", 3), "a?b");
	memset(big, 'x', sizeof(big));
	llmo_gw_quote_input(q, big, sizeof(big));
	assert_int_equal(strlen(q), LLMO_GW_QUOTE_MAX + 3);
	assert_string_equal(q + LLMO_GW_QUOTE_MAX, "...");
	/* a cut never splits a UTF-8 sequence: 3-byte characters from byte 0 */
	for (size_t i = 0; i + 3 <= sizeof(big); i += 3)
		memcpy(big + i, "\xe6\xa8\xa1", 3);
	llmo_gw_quote_input(q, big, sizeof(big) / 3 * 3);
	assert_int_equal((strlen(q) - 3) % 3, 0);
	assert_true(strlen(q) - 3 <= LLMO_GW_QUOTE_MAX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exact_bodies),
		cmocka_unit_test(test_always_valid_json),
		cmocka_unit_test(test_quote_input),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
