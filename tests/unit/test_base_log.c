#include "base/common.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/error.h"
#include "base/log.h"

/* Each test logs into a memory stream; captured() returns what was written. */
static FILE *mem;
static char *mem_data;
static size_t mem_len;

static int open_capture(void)
{
	mem = open_memstream(&mem_data, &mem_len);
	if (!mem)
		return -1;
	llmo_log_set_output(mem);
	return 0;
}

static void close_capture(void)
{
	llmo_log_set_output(NULL);
	fclose(mem);
	free(mem_data);
	mem = NULL;
	mem_data = NULL;
}

static int setup(void **state)
{
	llmo_log_set_level(LLMO_LOG_INFO);
	llmo_log_set_json(false);
	return open_capture();
}

static int teardown(void **state)
{
	close_capture();
	llmo_log_set_json(false);
	llmo_log_set_level(LLMO_LOG_INFO);
	return 0;
}

static const char *captured(void)
{
	fflush(mem);
	return mem_data;
}

/* Starts a fresh capture. */
static void forget(void)
{
	close_capture();
	assert_int_equal(open_capture(), 0);
}

/*
 * Checks that the RFC 3339 time at s is now (within a minute) and returns a
 * copy of line with those 24 characters replaced by "TS" (free() it).
 */
static char *mask_ts(const char *line, size_t at)
{
	char ts[25];
	int64_t ms, now = llmo_clock_wall_ms();
	char *out;

	assert_true(strlen(line) >= at + 24);
	memcpy(ts, line + at, 24);
	ts[24] = '\0';
	assert_int_equal(ts[19], '.');
	assert_int_equal(llmo_time_parse_rfc3339(ts, &ms, NULL), 0);
	assert_true(ms <= now && now - ms < 60000);
	out = malloc(strlen(line) + 1);
	assert_non_null(out);
	memcpy(out, line, at);
	memcpy(out + at, "TS", 2);
	memcpy(out + at + 2, line + at + 24, strlen(line + at + 24) + 1);
	return out;
}

static void assert_text_line(const char *want)
{
	char *got = mask_ts(captured(), 0);

	assert_string_equal(got, want);
	free(got);
	forget();
}

static void assert_json_line(const char *want)
{
	const char *line = captured();
	json_error_t jerr;
	json_t *j;
	char *got;

	/* Whatever else, every line is one valid JSON object and a newline. */
	j = json_loads(line, JSON_REJECT_DUPLICATES, &jerr);
	if (!j)
		fail_msg("invalid JSON (%s): %s", jerr.text, line);
	assert_true(json_is_object(j));
	json_decref(j);
	assert_true(strncmp(line, "{\"ts\":\"", 7) == 0);
	got = mask_ts(line, 7);
	assert_string_equal(got, want);
	free(got);
	forget();
}

static void test_text_format(void **state)
{
	llmo_log(LLMO_LOG_INFO, "server", "listening", "addr=%s port=%d", "0.0.0.0", 8080);
	assert_text_line("TS info server listening addr=0.0.0.0 port=8080\n");

	llmo_log(LLMO_LOG_WARN, "gateway", "upstream failed", "model=%s status=%d", "llama2", 503);
	assert_text_line("TS warn gateway upstream failed model=llama2 status=503\n");

	llmo_log(LLMO_LOG_ERROR, "agent", "gpu lost", NULL);
	assert_text_line("TS error agent gpu lost\n");

	/* Missing component and message show as "-". */
	llmo_log(LLMO_LOG_INFO, NULL, NULL, "k=%d", 1);
	assert_text_line("TS info - - k=1\n");
	llmo_log(LLMO_LOG_INFO, "", "", NULL);
	assert_text_line("TS info - -\n");
}

static void test_text_escapes_control_characters(void **state)
{
	char q[LLMO_LOG_QUOTE_MAX];

	/* One record is one line, even with newlines in the message. */
	llmo_log(LLMO_LOG_INFO, "api", "bad\nline\r\there\x01", "path=%s", "/a\nb");
	assert_text_line("TS info api bad\\nline\\r\\there\\x01 path=/a\\nb\n");

	llmo_log(LLMO_LOG_INFO, "api", "quoted", "reason=%s", llmo_log_quote(q, sizeof(q), "a \"b\"\nc"));
	assert_text_line("TS info api quoted reason=\"a \\\"b\\\"\\nc\"\n");
}

static void test_level_gating(void **state)
{
	llmo_log_set_level(LLMO_LOG_WARN);
	assert_int_equal(llmo_log_get_level(), LLMO_LOG_WARN);
	assert_false(llmo_log_enabled(LLMO_LOG_DEBUG));
	assert_false(llmo_log_enabled(LLMO_LOG_INFO));
	assert_true(llmo_log_enabled(LLMO_LOG_WARN));
	assert_true(llmo_log_enabled(LLMO_LOG_ERROR));
	assert_false(llmo_log_enabled(LLMO_LOG_OFF));

	llmo_log(LLMO_LOG_INFO, "x", "dropped", NULL);
	llmo_log(LLMO_LOG_DEBUG, "x", "dropped", NULL);
	assert_string_equal(captured(), "");
	llmo_log(LLMO_LOG_WARN, "x", "kept", NULL);
	assert_text_line("TS warn x kept\n");

	llmo_log_set_level(LLMO_LOG_OFF);
	llmo_log(LLMO_LOG_ERROR, "x", "dropped", NULL);
	/* OFF is never a line's level. */
	llmo_log(LLMO_LOG_OFF, "x", "dropped", NULL);
	assert_string_equal(captured(), "");

	llmo_log_set_level(LLMO_LOG_DEBUG);
	llmo_log(LLMO_LOG_OFF, "x", "dropped", NULL);
	assert_string_equal(captured(), "");
	llmo_log(LLMO_LOG_DEBUG, "x", "kept", NULL);
	assert_text_line("TS debug x kept\n");
}

static int evaluated;

static int side_effect(void)
{
	return ++evaluated;
}

static void test_macros_skip_disabled_levels(void **state)
{
	evaluated = 0;
	llmo_log_set_level(LLMO_LOG_INFO);
	LLMO_DEBUG("sched", "cycle", "n=%d", side_effect());
	assert_int_equal(evaluated, 0);
	assert_string_equal(captured(), "");

	LLMO_INFO("sched", "cycle", "n=%d", side_effect());
	assert_int_equal(evaluated, 1);
	assert_text_line("TS info sched cycle n=1\n");
	LLMO_WARN("sched", "slow", NULL);
	assert_text_line("TS warn sched slow\n");
	LLMO_ERROR("sched", "failed", "err=%s", "boom");
	assert_text_line("TS error sched failed err=boom\n");
	LLMO_LOG_AT(LLMO_LOG_INFO, "sched", "at", NULL);
	assert_text_line("TS info sched at\n");
}

static void test_level_parse_and_name(void **state)
{
	static const struct {
		const char *s;
		enum llmo_log_level lvl;
	} ok[] = {
		{"debug", LLMO_LOG_DEBUG}, {"info", LLMO_LOG_INFO},   {"warn", LLMO_LOG_WARN},
		{"error", LLMO_LOG_ERROR}, {"off", LLMO_LOG_OFF},     {"INFO", LLMO_LOG_INFO},
		{"Warning", LLMO_LOG_WARN}, {"DEBUG", LLMO_LOG_DEBUG},
	};
	enum llmo_log_level lvl;

	for (size_t i = 0; i < LLMO_ARRAY_LEN(ok); i++) {
		lvl = LLMO_LOG_ERROR;
		assert_int_equal(llmo_log_level_parse(ok[i].s, &lvl), 0);
		assert_int_equal(lvl, ok[i].lvl);
	}
	lvl = LLMO_LOG_ERROR;
	assert_int_equal(llmo_log_level_parse("verbose", &lvl), LLMO_EINVAL);
	assert_int_equal(llmo_log_level_parse("", &lvl), LLMO_EINVAL);
	assert_int_equal(llmo_log_level_parse("info ", &lvl), LLMO_EINVAL);
	assert_int_equal(llmo_log_level_parse(NULL, &lvl), LLMO_EINVAL);
	assert_int_equal(lvl, LLMO_LOG_ERROR);

	assert_string_equal(llmo_log_level_name(LLMO_LOG_DEBUG), "debug");
	assert_string_equal(llmo_log_level_name(LLMO_LOG_INFO), "info");
	assert_string_equal(llmo_log_level_name(LLMO_LOG_WARN), "warn");
	assert_string_equal(llmo_log_level_name(LLMO_LOG_ERROR), "error");
	assert_string_equal(llmo_log_level_name(LLMO_LOG_OFF), "off");
	assert_string_equal(llmo_log_level_name((enum llmo_log_level)99), "?");
}

static void test_quote(void **state)
{
	char q[LLMO_LOG_QUOTE_MAX];
	char small[10];
	const char *plain = "llama2-7b";

	/* No quoting needed: the same pointer comes back. */
	assert_ptr_equal(llmo_log_quote(q, sizeof(q), plain), plain);
	assert_string_equal(llmo_log_quote(q, sizeof(q), "a\\b"), "a\\b");
	assert_string_equal(llmo_log_quote(q, sizeof(q), "caf\xc3\xa9"), "caf\xc3\xa9");

	assert_ptr_equal(llmo_log_quote(q, sizeof(q), "with space"), q);
	assert_string_equal(q, "\"with space\"");
	assert_string_equal(llmo_log_quote(q, sizeof(q), ""), "\"\"");
	assert_string_equal(llmo_log_quote(q, sizeof(q), NULL), "\"\"");
	assert_string_equal(llmo_log_quote(q, sizeof(q), "k=v"), "\"k=v\"");
	assert_string_equal(llmo_log_quote(q, sizeof(q), "say \"hi\""), "\"say \\\"hi\\\"\"");
	assert_string_equal(llmo_log_quote(q, sizeof(q), "back\\slash x"), "\"back\\\\slash x\"");
	assert_string_equal(llmo_log_quote(q, sizeof(q), "a\nb\rc\td"), "\"a\\nb\\rc\\td\"");
	assert_string_equal(llmo_log_quote(q, sizeof(q), "\x01\x7f"), "\"\\x01\\x7f\"");

	/* Exactly fits: 5 characters + NUL in 6 bytes. */
	assert_string_equal(llmo_log_quote(small, 6, "a b"), "\"a b\"");
	/* Cut: room for `"` + 4 characters + `..."` + NUL in 10 bytes. */
	assert_string_equal(llmo_log_quote(small, sizeof(small), "hello world"), "\"hell...\"");
	/* An escape is never split. */
	assert_string_equal(llmo_log_quote(small, 8, "ab\"cd ef"), "\"ab...\"");
	assert_string_equal(llmo_log_quote(small, 5, "a b"), "\"...\"");
}

static void test_json_format(void **state)
{
	char q[LLMO_LOG_QUOTE_MAX];

	llmo_log_set_json(true);
	llmo_log(LLMO_LOG_INFO, "server", "listening", "addr=%s port=%d", "0.0.0.0", 8080);
	assert_json_line("{\"ts\":\"TS\",\"level\":\"info\",\"component\":\"server\","
			 "\"msg\":\"listening\",\"addr\":\"0.0.0.0\",\"port\":\"8080\"}\n");

	llmo_log(LLMO_LOG_ERROR, "agent", "gpu lost", NULL);
	assert_json_line("{\"ts\":\"TS\",\"level\":\"error\",\"component\":\"agent\","
			 "\"msg\":\"gpu lost\"}\n");

	llmo_log(LLMO_LOG_INFO, NULL, NULL, NULL);
	assert_json_line("{\"ts\":\"TS\",\"level\":\"info\",\"component\":\"\",\"msg\":\"\"}\n");

	/* Quoted values are unquoted; bare words get ""; reserved keys get '_'. */
	llmo_log(LLMO_LOG_WARN, "gw", "retry", "  note=%s  flag empty= msg=%s level=x",
		 llmo_log_quote(q, sizeof(q), "said \"hi\"\n\tthere \\o/ \x02"), "inner");
	assert_json_line("{\"ts\":\"TS\",\"level\":\"warn\",\"component\":\"gw\",\"msg\":\"retry\","
			 "\"note\":\"said \\\"hi\\\"\\n\\tthere \\\\o/ \\u0002\","
			 "\"flag\":\"\",\"empty\":\"\",\"_msg\":\"inner\",\"_level\":\"x\"}\n");

	/* Hand-written quoting: unknown escapes kept, unterminated quote runs to the end. */
	llmo_log(LLMO_LOG_INFO, "c", "m", "a=\"x\\qy\" b=\"\\x4a\\x4\" c=\"open ended");
	assert_json_line("{\"ts\":\"TS\",\"level\":\"info\",\"component\":\"c\",\"msg\":\"m\","
			 "\"a\":\"x\\\\qy\",\"b\":\"J\\\\x4\",\"c\":\"open ended\"}\n");
}

static void test_json_escapes_and_utf8(void **state)
{
	llmo_log_set_json(true);
	/* Valid UTF-8 passes through; invalid bytes become U+FFFD. */
	llmo_log(LLMO_LOG_INFO, "c\"omp", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xff \xc0\xaf "
		 "\xed\xa0\x80 \xe2\x82", "k\x01=v\x7f");
	assert_json_line("{\"ts\":\"TS\",\"level\":\"info\",\"component\":\"c\\\"omp\","
			 "\"msg\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \\ufffd "
			 "\\ufffd\\ufffd \\ufffd\\ufffd\\ufffd \\ufffd\\ufffd\","
			 "\"k\\u0001\":\"v\\u007f\"}\n");
}

static void test_text_truncation(void **state)
{
	char *big = malloc(20000);
	const char *line;
	size_t len;

	assert_non_null(big);
	memset(big, 'x', 19999);
	big[19999] = '\0';

	llmo_log(LLMO_LOG_INFO, "c", "m", "v=%s", big);
	line = captured();
	len = strlen(line);
	assert_true(len <= LLMO_LOG_LINE_MAX);
	assert_true(len > LLMO_LOG_LINE_MAX - 64);
	assert_string_equal(line + len - 16, " truncated=true\n");
	assert_true(strncmp(line + 24, " info c m v=xxxx", 16) == 0);
	assert_int_equal(line[len - 17], 'x');
	forget();

	/* Cut inside a quoted value: the quote is closed before the marker. */
	llmo_log(LLMO_LOG_INFO, "c", "m", "v=\"%s\"", big);
	line = captured();
	len = strlen(line);
	assert_true(len <= LLMO_LOG_LINE_MAX);
	assert_string_equal(line + len - 18, "x\" truncated=true\n");
	forget();

	/* Escapes count toward the limit: 19999 newlines become 8K of "\n". */
	memset(big, '\n', 19999);
	llmo_log(LLMO_LOG_INFO, "c", big, NULL);
	line = captured();
	len = strlen(line);
	assert_true(len <= LLMO_LOG_LINE_MAX);
	assert_string_equal(line + len - 18, "\\n truncated=true\n");
	forget();
	free(big);
}

static void test_json_truncation(void **state)
{
	char *big = malloc(20000);
	const char *line;
	size_t len;
	json_t *j;

	assert_non_null(big);
	memset(big, 'y', 19999);
	big[19999] = '\0';
	llmo_log_set_json(true);

	/* A huge message: cut, closed, marked; later pairs dropped. */
	llmo_log(LLMO_LOG_INFO, "c", big, "after=1");
	line = captured();
	len = strlen(line);
	assert_true(len <= LLMO_LOG_LINE_MAX);
	assert_string_equal(line + len - 21, "y\",\"truncated\":true}\n");
	j = json_loads(line, JSON_REJECT_DUPLICATES, NULL);
	assert_non_null(j);
	assert_true(json_is_true(json_object_get(j, "truncated")));
	assert_null(json_object_get(j, "after"));
	assert_true(strlen(json_string_value(json_object_get(j, "msg"))) > 8000);
	json_decref(j);
	forget();

	/* A huge value in the key=value text (also past the kv buffer). */
	llmo_log(LLMO_LOG_INFO, "c", "m", "first=1 v=%s", big);
	line = captured();
	len = strlen(line);
	assert_true(len <= LLMO_LOG_LINE_MAX);
	j = json_loads(line, JSON_REJECT_DUPLICATES, NULL);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "first")), "1");
	assert_true(json_is_true(json_object_get(j, "truncated")));
	json_decref(j);
	forget();

	/* Many small pairs: whole pairs only, then the marker. */
	{
		char kv[12000];
		size_t n = 0;

		for (int i = 0; n + 16 < sizeof(kv); i++)
			n += (size_t)snprintf(kv + n, sizeof(kv) - n, "key%d=v%d ", i, i);
		llmo_log(LLMO_LOG_INFO, "c", "m", "%s", kv);
		line = captured();
		len = strlen(line);
		assert_true(len <= LLMO_LOG_LINE_MAX);
		j = json_loads(line, JSON_REJECT_DUPLICATES, NULL);
		assert_non_null(j);
		assert_string_equal(json_string_value(json_object_get(j, "key0")), "v0");
		assert_true(json_is_true(json_object_get(j, "truncated")));
		json_decref(j);
		forget();
	}

	/* Escaped characters are never split: 3000 control bytes, 6 output bytes each. */
	memset(big, '\x01', 3000);
	big[3000] = '\0';
	llmo_log(LLMO_LOG_INFO, "c", big, NULL);
	line = captured();
	j = json_loads(line, 0, NULL);
	assert_non_null(j);
	assert_true(json_is_true(json_object_get(j, "truncated")));
	json_decref(j);
	forget();
	free(big);
}

static void test_default_output_is_stderr(void **state)
{
	char got[256];
	FILE *tmp = tmpfile();
	int saved, n;

	assert_non_null(tmp);
	/* Point fd 2 at a temporary file while logging with the default output. */
	fflush(stderr);
	saved = dup(2);
	assert_true(saved >= 0);
	assert_true(dup2(fileno(tmp), 2) >= 0);
	llmo_log_set_output(NULL);
	llmo_log(LLMO_LOG_ERROR, "test", "to stderr", "n=%d", 1);
	fflush(stderr);
	assert_true(dup2(saved, 2) >= 0);
	close(saved);

	rewind(tmp);
	n = (int)fread(got, 1, sizeof(got) - 1, tmp);
	got[n > 0 ? n : 0] = '\0';
	fclose(tmp);
	{
		char *masked = mask_ts(got, 0);

		assert_string_equal(masked, "TS error test to stderr n=1\n");
		free(masked);
	}
	/* Nothing reached the memory stream. */
	assert_string_equal(captured(), "");
}

struct tee_seen {
	int calls;
	char text[256];
};

static void tee_fn(void *ctx, const char *line, size_t len)
{
	struct tee_seen *t = ctx;

	t->calls++;
	assert_true(len < sizeof(t->text));
	memcpy(t->text, line, len);
	t->text[len] = '\0';
}

/* The tee gets each written line, without its newline; not lines below the level; none once cleared. */
static void test_tee(void **state)
{
	struct tee_seen t = {0};
	char *masked;

	(void)state;
	llmo_log_set_tee(tee_fn, &t);
	llmo_log(LLMO_LOG_WARN, "server", "copied", "n=%d", 2);
	llmo_log(LLMO_LOG_DEBUG, "server", "below the level", NULL);
	assert_int_equal(t.calls, 1);
	masked = mask_ts(t.text, 0);
	assert_string_equal(masked, "TS warn server copied n=2");
	free(masked);
	/* the output has the same line, with its newline */
	assert_int_equal(strlen(captured()), strlen(t.text) + 1);
	assert_memory_equal(captured(), t.text, strlen(t.text));
	llmo_log_set_tee(NULL, NULL);
	llmo_log(LLMO_LOG_ERROR, "server", "not copied", NULL);
	assert_int_equal(t.calls, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_text_format, setup, teardown),
		cmocka_unit_test_setup_teardown(test_text_escapes_control_characters, setup, teardown),
		cmocka_unit_test_setup_teardown(test_level_gating, setup, teardown),
		cmocka_unit_test_setup_teardown(test_macros_skip_disabled_levels, setup, teardown),
		cmocka_unit_test_setup_teardown(test_level_parse_and_name, setup, teardown),
		cmocka_unit_test_setup_teardown(test_quote, setup, teardown),
		cmocka_unit_test_setup_teardown(test_json_format, setup, teardown),
		cmocka_unit_test_setup_teardown(test_json_escapes_and_utf8, setup, teardown),
		cmocka_unit_test_setup_teardown(test_text_truncation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_json_truncation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_default_output_is_stderr, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tee, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
