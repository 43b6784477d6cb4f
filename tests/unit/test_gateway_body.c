/*
 * The gateway's request-body scanner (gateway/body.h): a table of bodies,
 * each with the model it yields or the error it gets, worked out from RFC
 * 8259 by hand; the model's span in the body; the nesting cap; and a
 * cross-check against jansson on every accepted body of the table.
 */
#include "base/common.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>

#include "base/buf.h"
#include "gateway/body.h"

static const struct {
	const char *what;
	const char *body;
	int rc;		   /* 0 or the LLMO_E* expected */
	const char *model; /* when rc == 0 */
	bool stream;
} cases[] = {
	/* found */
	{"plain", "{\"model\":\"llama2:7b\"}", 0, "llama2:7b", false},
	{"whitespace everywhere", " \t\r\n{ \"model\" :\n \"m\" , \"x\" : 1 }\n", 0, "m", false},
	{"model last, after nested ones", "{\"messages\":[{\"model\":\"inner\"},{\"x\":{\"model\":\"deep\"}}],\"model\":\"top\"}", 0, "top", false},
	{"escaped key", "{\"mod\\u0065l\":\"m\"}", 0, "m", false},
	{"escaped value", "{\"model\":\"ll\\u0061ma\\/2\\\\x\\\"y\"}", 0, "llama/2\\x\"y", false},
	{"surrogate pair", "{\"model\":\"\\ud83d\\ude00\"}", 0, "\xf0\x9f\x98\x80", false},
	{"raw UTF-8", "{\"model\":\"mod\xc3\xa8le-\xe6\xa8\xa1\xe5\x9e\x8b\"}", 0, "mod\xc3\xa8le-\xe6\xa8\xa1\xe5\x9e\x8b", false},
	{"empty model", "{\"model\":\"\"}", 0, "", false},
	{"stream true", "{\"model\":\"m\",\"stream\":true}", 0, "m", true},
	{"stream false", "{\"stream\":false,\"model\":\"m\"}", 0, "m", false},
	{"stream not a boolean", "{\"stream\":\"true\",\"model\":\"m\"}", 0, "m", false},
	{"nested stream ignored", "{\"x\":{\"stream\":true},\"model\":\"m\"}", 0, "m", false},
	{"every value type", "{\"a\":[1,-2.5e+3,0,0.1,1E-2,true,false,null,\"s\",{},[]],\"model\":\"m\"}", 0, "m", false},
	{"key that only looks like model", "{\"models\":\"a\",\"mode\":\"b\",\"model\":\"m\"}", 0, "m", false},
	/* semantic errors */
	{"no model", "{\"messages\":[]}", LLMO_ENOTFOUND, NULL, false},
	{"empty object", "{}", LLMO_ENOTFOUND, NULL, false},
	{"model twice", "{\"model\":\"a\",\"model\":\"b\"}", LLMO_EINVAL, NULL, false},
	{"model twice, once escaped", "{\"model\":\"a\",\"mod\\u0065l\":\"b\"}", LLMO_EINVAL, NULL, false},
	{"model a number", "{\"model\":7}", LLMO_EINVAL, NULL, false},
	{"model null", "{\"model\":null}", LLMO_EINVAL, NULL, false},
	{"model an object", "{\"model\":{\"name\":\"m\"}}", LLMO_EINVAL, NULL, false},
	{"an array", "[{\"model\":\"m\"}]", LLMO_EINVAL, NULL, false},
	{"a string", "\"model\"", LLMO_EINVAL, NULL, false},
	{"a number", "12", LLMO_EINVAL, NULL, false},
	/* not JSON */
	{"empty", "", LLMO_EPARSE, NULL, false},
	{"blank", "  \n", LLMO_EPARSE, NULL, false},
	{"unterminated object", "{\"model\":\"m\"", LLMO_EPARSE, NULL, false},
	{"unterminated string", "{\"model\":\"m}", LLMO_EPARSE, NULL, false},
	{"trailing comma", "{\"model\":\"m\",}", LLMO_EPARSE, NULL, false},
	{"missing colon", "{\"model\" \"m\"}", LLMO_EPARSE, NULL, false},
	{"unquoted key", "{model:\"m\"}", LLMO_EPARSE, NULL, false},
	{"single quotes", "{'model':'m'}", LLMO_EPARSE, NULL, false},
	{"data after the object", "{\"model\":\"m\"} {}", LLMO_EPARSE, NULL, false},
	{"leading zero", "{\"model\":\"m\",\"n\":01}", LLMO_EPARSE, NULL, false},
	{"bare minus", "{\"model\":\"m\",\"n\":-}", LLMO_EPARSE, NULL, false},
	{"dot without digits", "{\"model\":\"m\",\"n\":1.}", LLMO_EPARSE, NULL, false},
	{"exponent without digits", "{\"model\":\"m\",\"n\":1e}", LLMO_EPARSE, NULL, false},
	{"plus sign", "{\"model\":\"m\",\"n\":+1}", LLMO_EPARSE, NULL, false},
	{"NaN", "{\"model\":\"m\",\"n\":NaN}", LLMO_EPARSE, NULL, false},
	{"truncated literal", "{\"model\":\"m\",\"b\":tru}", LLMO_EPARSE, NULL, false},
	{"bad escape", "{\"model\":\"\\x41\"}", LLMO_EPARSE, NULL, false},
	{"short \\u", "{\"model\":\"\\u12\"}", LLMO_EPARSE, NULL, false},
	{"lone high surrogate", "{\"model\":\"\\ud800\"}", LLMO_EPARSE, NULL, false},
	{"lone low surrogate", "{\"model\":\"\\udc00\"}", LLMO_EPARSE, NULL, false},
	{"high then not low", "{\"model\":\"\\ud800\\u0041\"}", LLMO_EPARSE, NULL, false},
	{"control character", "{\"model\":\"a\tb\"}", LLMO_EPARSE, NULL, false},
	{"invalid UTF-8 byte", "{\"model\":\"\xff\"}", LLMO_EPARSE, NULL, false},
	{"continuation byte alone", "{\"x\":\"\x80\",\"model\":\"m\"}", LLMO_EPARSE, NULL, false},
	{"overlong encoding", "{\"model\":\"\xc0\xaf\"}", LLMO_EPARSE, NULL, false},
	{"UTF-16 surrogate in UTF-8", "{\"model\":\"\xed\xa0\x80\"}", LLMO_EPARSE, NULL, false},
	{"above U+10FFFF", "{\"model\":\"\xf4\x90\x80\x80\"}", LLMO_EPARSE, NULL, false},
	{"truncated UTF-8", "{\"model\":\"\xe6\xa8\"}", LLMO_EPARSE, NULL, false},
	{"a comment", "{\"model\":\"m\" /* x */}", LLMO_EPARSE, NULL, false},
};

/* jansson's view of an accepted body, to agree with: the top-level "model" string. */
static void crosscheck(const char *what, const char *body, size_t len, const struct llmo_gw_body *b)
{
	json_error_t jerr;
	json_t *j = json_loadb(body, len, JSON_ALLOW_NUL, &jerr);
	json_t *m = json_object_get(j, "model");

	if (!j)
		fail_msg("%s: jansson rejects what the scanner accepts: %s", what, jerr.text);
	if (!json_is_string(m) || json_string_length(m) != b->model_len ||
	    memcmp(json_string_value(m), b->model, b->model_len) != 0)
		fail_msg("%s: jansson reads another model", what);
	json_decref(j);
}

static void test_cases(void **state)
{
	for (size_t i = 0; i < LLMO_ARRAY_LEN(cases); i++) {
		struct llmo_gw_body b;
		struct llmo_error err = {0};
		size_t len = strlen(cases[i].body);
		int rc = llmo_gw_body_scan(cases[i].body, len, &b, &err);

		if (rc != cases[i].rc)
			fail_msg("%s: rc %d (%s), want %d", cases[i].what, rc, err.msg, cases[i].rc);
		if (rc) {
			if (err.code != rc || !err.msg[0])
				fail_msg("%s: no message for %d", cases[i].what, rc);
			continue;
		}
		if (b.model_len != strlen(cases[i].model) || strcmp(b.model, cases[i].model) != 0)
			fail_msg("%s: model \"%s\", want \"%s\"", cases[i].what, b.model,
				 cases[i].model);
		if (b.stream != cases[i].stream)
			fail_msg("%s: stream %d", cases[i].what, b.stream);
		/* the span is the string token, quotes included */
		if (b.model_off + b.model_tok_len > len || cases[i].body[b.model_off] != '"' ||
		    cases[i].body[b.model_off + b.model_tok_len - 1] != '"')
			fail_msg("%s: bad span %zu+%zu", cases[i].what, b.model_off, b.model_tok_len);
		crosscheck(cases[i].what, cases[i].body, len, &b);
	}
}

static void test_parse_errors_say_where(void **state)
{
	struct llmo_gw_body b;
	struct llmo_error err = {0};

	assert_int_equal(llmo_gw_body_scan("{\"model\":\"m\",}", 14, &b, &err), LLMO_EPARSE);
	assert_non_null(strstr(err.msg, "byte 13"));
	assert_int_equal(llmo_gw_body_scan("{\"model\":", 9, &b, &err), LLMO_EPARSE);
	assert_non_null(strstr(err.msg, "end of body"));
	/* syntax errors win over the model's problems */
	assert_int_equal(llmo_gw_body_scan("{\"model\":1,", 11, &b, &err), LLMO_EPARSE);
}

static void test_nul_bytes(void **state)
{
	static const char raw[] = "{\"model\":\"a\0b\"}";
	static const char esc[] = "{\"model\":\"a\\u0000b\"}";
	struct llmo_gw_body b;

	/* a raw NUL is a control character; an escaped one is a character of the name */
	assert_int_equal(llmo_gw_body_scan(raw, sizeof(raw) - 1, &b, NULL), LLMO_EPARSE);
	assert_int_equal(llmo_gw_body_scan(esc, sizeof(esc) - 1, &b, NULL), 0);
	assert_int_equal(b.model_len, 3);
	assert_memory_equal(b.model, "a\0b", 3);
}

static void test_span_and_rewrite(void **state)
{
	const char *body = "{\"messages\":[],\"model\" : \"ch\\u0061t\" ,\"n\":1}";
	struct llmo_gw_body b;
	struct llmo_buf out;

	assert_int_equal(llmo_gw_body_scan(body, strlen(body), &b, NULL), 0);
	assert_string_equal(b.model, "chat");
	/* what the proxy does with a served name: splice it over the token */
	llmo_buf_init(&out, 1024);
	llmo_buf_append(&out, body, b.model_off);
	llmo_buf_puts(&out, "\"llama2:7b\"");
	llmo_buf_puts(&out, body + b.model_off + b.model_tok_len);
	assert_string_equal(out.data, "{\"messages\":[],\"model\" : \"llama2:7b\" ,\"n\":1}");
	llmo_buf_release(&out);
}

static void test_depth_cap(void **state)
{
	struct llmo_buf s;
	struct llmo_gw_body b;
	struct llmo_error err = {0};

	/* the top object is level 1: 127 arrays inside it make 128 levels */
	for (int extra = 0; extra <= 1; extra++) {
		int n = LLMO_GW_BODY_DEPTH_MAX - 1 + extra;

		llmo_buf_init(&s, LLMO_BUF_UNLIMITED);
		llmo_buf_puts(&s, "{\"model\":\"m\",\"x\":");
		for (int i = 0; i < n; i++)
			llmo_buf_putc(&s, '[');
		for (int i = 0; i < n; i++)
			llmo_buf_putc(&s, ']');
		llmo_buf_putc(&s, '}');
		assert_int_equal(llmo_gw_body_scan(s.data, s.len, &b, &err), extra ? LLMO_ETOOBIG : 0);
		llmo_buf_release(&s);
	}
	/* far deeper input fails the same way, without exhausting the stack */
	llmo_buf_init(&s, LLMO_BUF_UNLIMITED);
	llmo_buf_putc(&s, '{');
	llmo_buf_puts(&s, "\"x\":");
	for (int i = 0; i < 100000; i++)
		llmo_buf_putc(&s, '[');
	assert_int_equal(llmo_gw_body_scan(s.data, s.len, &b, &err), LLMO_ETOOBIG);
	llmo_buf_release(&s);
}

static void test_long_model(void **state)
{
	struct llmo_buf s;
	struct llmo_gw_body b;

	llmo_buf_init(&s, LLMO_BUF_UNLIMITED);
	llmo_buf_puts(&s, "{\"model\":\"");
	for (int i = 0; i < LLMO_GW_MODEL_MAX + 100; i++)
		llmo_buf_putc(&s, 'x');
	llmo_buf_puts(&s, "\"}");
	assert_int_equal(llmo_gw_body_scan(s.data, s.len, &b, NULL), 0);
	assert_true(b.model_too_long);
	assert_int_equal(b.model_len, LLMO_GW_MODEL_MAX);
	assert_int_equal(b.model_tok_len, LLMO_GW_MODEL_MAX + 100 + 2);
	llmo_buf_release(&s);
}

static void test_usage_scan(void **state)
{
	static const struct {
		const char *text;
		int rc;
		int64_t prompt, completion;
	} ucases[] = {
		{"{\"id\":\"x\",\"choices\":[],\"usage\":{\"prompt_tokens\":12,"
		 "\"completion_tokens\":5,\"total_tokens\":17}}",
		 0, 12, 5},
		/* a stream: null usage in the token events, the counts in the last one */
		{"data: {\"choices\":[{\"delta\":{}}],\"usage\":null}\n\n"
		 "data: {\"choices\":[],\"usage\": {\"completion_tokens\" : 7, \"prompt_tokens\":3}}\n\n"
		 "data: [DONE]\n\n",
		 0, 3, 7},
		/* the last object wins; nested members with the same names are not read */
		{"\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1} \"usage\":{\"d\":{"
		 "\"prompt_tokens\":99},\"prompt_tokens\":2}",
		 0, 2, -1},
		{"{\"usage\":null}", LLMO_ENOTFOUND, -1, -1},
		{"no usage here", LLMO_ENOTFOUND, -1, -1},
		{"\"usage\":{\"prompt_tokens\":-3,\"completion_tokens\":99999999999999999999}", 0, -1,
		 -1},
		{"\"usage\":{\"prompt_tokens\":4", 0, 4, -1}, /* cut short */
		{"\"usage\"", LLMO_ENOTFOUND, -1, -1},
		/* a later null does not hide the object before it; the key at the very start */
		{"\"usage\":{\"prompt_tokens\":5} \"usage\":null \"content\":\"x\"", 0, 5, -1},
		/* quotes after the usage object, inside strings too */
		{"{\"usage\":{\"completion_tokens\":6},\"s\":\"a \\\"usage\\\" b\",\"t\":\"\"}", 0, -1, 6},
		{"", LLMO_ENOTFOUND, -1, -1},
	};

	for (size_t i = 0; i < LLMO_ARRAY_LEN(ucases); i++) {
		int64_t p, c;
		int rc = llmo_gw_usage_scan(ucases[i].text, strlen(ucases[i].text), &p, &c);

		if (rc != ucases[i].rc || p != ucases[i].prompt || c != ucases[i].completion)
			fail_msg("case %zu: rc %d prompt %lld completion %lld", i, rc, (long long)p,
				 (long long)c);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_parse_errors_say_where),
		cmocka_unit_test(test_nul_bytes),
		cmocka_unit_test(test_span_and_rewrite),
		cmocka_unit_test(test_depth_cap),
		cmocka_unit_test(test_long_model),
		cmocka_unit_test(test_usage_scan),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
