#include "base/common.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/buf.h"
#include "base/error.h"

static void test_init_is_empty_string(void **state)
{
	struct llmo_buf b;

	llmo_buf_init(&b, 100);
	assert_non_null(b.data);
	assert_string_equal(b.data, "");
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, 0);
	assert_int_equal(b.max, 100);
	/* Releasing an untouched buffer frees nothing and keeps the cap. */
	llmo_buf_release(&b);
	assert_string_equal(b.data, "");
	assert_int_equal(b.max, 100);
}

static void test_append_and_terminator(void **state)
{
	struct llmo_buf b;

	llmo_buf_init(&b, LLMO_BUF_UNLIMITED);
	assert_int_equal(llmo_buf_puts(&b, "llm"), 0);
	assert_int_equal(llmo_buf_putc(&b, 'o'), 0);
	assert_int_equal(llmo_buf_append(&b, " server", 7), 0);
	assert_int_equal(b.len, 11);
	assert_string_equal(b.data, "llmo server");
	/* Zero-length appends are no-ops, even with a NULL pointer. */
	assert_int_equal(llmo_buf_append(&b, NULL, 0), 0);
	assert_int_equal(b.len, 11);
	/* Binary data with a NUL: len counts it, data[len] is still '\0'. */
	assert_int_equal(llmo_buf_append(&b, "a\0b", 3), 0);
	assert_int_equal(b.len, 14);
	assert_memory_equal(b.data + 11, "a\0b", 3);
	assert_int_equal(b.data[14], '\0');
	llmo_buf_release(&b);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, 0);
	assert_string_equal(b.data, "");
}

static void test_cap_enforced(void **state)
{
	struct llmo_buf b;

	llmo_buf_init(&b, 8);
	assert_int_equal(llmo_buf_puts(&b, "12345678"), 0);
	assert_int_equal(b.len, 8);
	/* One byte past the cap fails and changes nothing. */
	assert_int_equal(llmo_buf_putc(&b, '9'), LLMO_ETOOBIG);
	assert_int_equal(b.len, 8);
	assert_string_equal(b.data, "12345678");
	assert_int_equal(llmo_buf_appendf(&b, "%d", 9), LLMO_ETOOBIG);
	assert_string_equal(b.data, "12345678");
	llmo_buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.data, "");
	/* A single append over the cap fails whole, not partially. */
	assert_int_equal(llmo_buf_puts(&b, "123456789"), LLMO_ETOOBIG);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.data, "");
	/* Sizes that would overflow len + n. */
	assert_int_equal(llmo_buf_grow(&b, SIZE_MAX), LLMO_ETOOBIG);
	llmo_buf_release(&b);

	llmo_buf_init(&b, 0);
	assert_int_equal(llmo_buf_putc(&b, 'x'), LLMO_ETOOBIG);
	assert_int_equal(llmo_buf_puts(&b, ""), 0);
	llmo_buf_release(&b);

	llmo_buf_init(&b, LLMO_BUF_UNLIMITED);
	assert_int_equal(llmo_buf_putc(&b, 'x'), 0);
	assert_int_equal(llmo_buf_grow(&b, SIZE_MAX), LLMO_ETOOBIG);
	assert_string_equal(b.data, "x");
	llmo_buf_release(&b);
}

static void test_appendf_grows(void **state)
{
	struct llmo_buf b;
	char want[16];

	llmo_buf_init(&b, LLMO_BUF_UNLIMITED);
	assert_int_equal(llmo_buf_appendf(&b, "%s=%d", "replicas", 3), 0);
	assert_string_equal(b.data, "replicas=3");
	/* Many appends cross several reallocations; contents stay intact. */
	llmo_buf_reset(&b);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(llmo_buf_appendf(&b, "%04d,", i), 0);
	assert_int_equal(b.len, 5000);
	assert_true(b.cap > b.len);
	for (int i = 0; i < 1000; i++) {
		snprintf(want, sizeof(want), "%04d,", i);
		assert_memory_equal(b.data + i * 5, want, 5);
	}
	assert_int_equal(b.data[5000], '\0');
	/* One appendf larger than the initial allocation. */
	llmo_buf_release(&b);
	assert_int_equal(llmo_buf_appendf(&b, "%0300d", 7), 0);
	assert_int_equal(b.len, 300);
	assert_int_equal(b.data[299], '7');
	assert_int_equal(b.data[0], '0');
	llmo_buf_release(&b);

	/* appendf against a cap: exactly fitting succeeds. */
	llmo_buf_init(&b, 10);
	assert_int_equal(llmo_buf_appendf(&b, "%s", "0123456789"), 0);
	assert_int_equal(b.len, 10);
	llmo_buf_release(&b);
}

static void test_truncate(void **state)
{
	struct llmo_buf b;

	llmo_buf_init(&b, LLMO_BUF_UNLIMITED);
	llmo_buf_puts(&b, "hello world");
	llmo_buf_truncate(&b, 5);
	assert_int_equal(b.len, 5);
	assert_string_equal(b.data, "hello");
	/* Longer than the contents: no-op. */
	llmo_buf_truncate(&b, 50);
	assert_int_equal(b.len, 5);
	assert_string_equal(b.data, "hello");
	llmo_buf_truncate(&b, 0);
	assert_string_equal(b.data, "");
	llmo_buf_release(&b);

	/* Truncating an unallocated buffer is safe. */
	llmo_buf_init(&b, 4);
	llmo_buf_truncate(&b, 0);
	llmo_buf_reset(&b);
	assert_string_equal(b.data, "");
	llmo_buf_release(&b);
}

static void test_detach(void **state)
{
	struct llmo_buf b;
	size_t len = 99;
	char *s;

	llmo_buf_init(&b, 64);
	llmo_buf_puts(&b, "owned");
	s = llmo_buf_detach(&b, &len);
	assert_string_equal(s, "owned");
	assert_int_equal(len, 5);
	/* The buffer is re-initialised with the same cap. */
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, 0);
	assert_int_equal(b.max, 64);
	assert_string_equal(b.data, "");
	free(s);

	/* An empty buffer still gives a heap string. */
	s = llmo_buf_detach(&b, &len);
	assert_non_null(s);
	assert_string_equal(s, "");
	assert_int_equal(len, 0);
	free(s);
	s = llmo_buf_detach(&b, NULL);
	assert_string_equal(s, "");
	free(s);

	/* Usable after detach. */
	assert_int_equal(llmo_buf_puts(&b, "again"), 0);
	assert_string_equal(b.data, "again");
	llmo_buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_is_empty_string),
		cmocka_unit_test(test_append_and_terminator),
		cmocka_unit_test(test_cap_enforced),
		cmocka_unit_test(test_appendf_grows),
		cmocka_unit_test(test_truncate),
		cmocka_unit_test(test_detach),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
