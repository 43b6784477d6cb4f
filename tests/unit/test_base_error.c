#include "base/common.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/error.h"

/* The table, restated by hand: a change to error.h must be made here too. */
static const struct {
	int code;
	const char *name;
	const char *msg;
} table[] = {
	{LLMO_OK, "LLMO_OK", "success"},
	{-1, "LLMO_ENOMEM", "out of memory"},
	{-2, "LLMO_EINVAL", "invalid argument"},
	{-3, "LLMO_ERANGE", "value out of range"},
	{-4, "LLMO_EPARSE", "malformed input"},
	{-5, "LLMO_ENOTFOUND", "not found"},
	{-6, "LLMO_EEXIST", "already exists"},
	{-7, "LLMO_EIO", "input/output error"},
	{-8, "LLMO_ETOOBIG", "input exceeds its size limit"},
	{-9, "LLMO_ECONFLICT", "conflict"},
	{-10, "LLMO_EUNSUPPORTED", "not supported"},
	{-11, "LLMO_ETIMEOUT", "timed out"},
	{-12, "LLMO_EAGAIN", "try again"},
	{-13, "LLMO_ECLOSED", "connection closed"},
	{-14, "LLMO_EDENIED", "permission denied"},
	{-15, "LLMO_EINVALID_OBJECT", "object failed validation"},
	{-16, "LLMO_EINTERNAL", "internal error"},
	{-17, "LLMO_EGONE", "resource version too old"},
};

static void test_every_code_has_name_and_message(void **state)
{
	for (size_t i = 0; i < LLMO_ARRAY_LEN(table); i++) {
		assert_string_equal(llmo_errname(table[i].code), table[i].name);
		assert_string_equal(llmo_strerror(table[i].code), table[i].msg);
	}
	assert_int_equal(LLMO_ENOMEM, -1);
	assert_int_equal(LLMO_EINTERNAL, -16);
}

static void test_table_is_complete_and_distinct(void **state)
{
	int n = 0;

	/* Every code the X-macro defines appears in the hand table, once. */
#define COUNT(nm, cd, ms)                                                         \
	do {                                                                      \
		int found = 0;                                                    \
		for (size_t i = 0; i < LLMO_ARRAY_LEN(table); i++)                \
			found += table[i].code == LLMO_E##nm;                     \
		assert_int_equal(found, 1);                                       \
		assert_int_equal(LLMO_E##nm, cd);                                 \
		assert_string_equal(llmo_errname(LLMO_E##nm), "LLMO_E" #nm);      \
		assert_string_equal(llmo_strerror(LLMO_E##nm), ms);               \
		n++;                                                              \
	} while (0);
	LLMO_ERRORS(COUNT)
#undef COUNT
	assert_int_equal(n + 1, (int)LLMO_ARRAY_LEN(table));
	for (size_t i = 0; i < LLMO_ARRAY_LEN(table); i++) {
		for (size_t j = i + 1; j < LLMO_ARRAY_LEN(table); j++) {
			assert_int_not_equal(table[i].code, table[j].code);
			assert_string_not_equal(table[i].msg, table[j].msg);
		}
	}
}

static void test_unknown_codes(void **state)
{
	assert_string_equal(llmo_strerror(1), "unknown error");
	assert_string_equal(llmo_strerror(-18), "unknown error");
	assert_string_equal(llmo_strerror(INT_MIN), "unknown error");
	assert_string_equal(llmo_errname(-18), "LLMO_E?");
	assert_string_equal(llmo_errname(42), "LLMO_E?");
}

static void test_error_set(void **state)
{
	struct llmo_error err;

	llmo_error_clear(&err);
	assert_int_equal(err.code, 0);
	assert_string_equal(err.msg, "");
	assert_int_equal(llmo_error_set(&err, LLMO_EPARSE, "line %d: expected %s", 3, "':'"),
			 LLMO_EPARSE);
	assert_int_equal(err.code, LLMO_EPARSE);
	assert_string_equal(err.msg, "line 3: expected ':'");
	/* NULL err: just the code back. */
	assert_int_equal(llmo_error_set(NULL, LLMO_ERANGE, "ignored %d", 1), LLMO_ERANGE);
	llmo_error_clear(NULL);
	llmo_error_clear(&err);
	assert_int_equal(err.code, 0);
	assert_string_equal(err.msg, "");
}

static void test_error_set_truncates(void **state)
{
	struct llmo_error err;
	char big[LLMO_ERRMSG_MAX * 2];

	memset(big, 'e', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	llmo_error_set(&err, LLMO_EINVAL, "%s", big);
	assert_int_equal(strlen(err.msg), LLMO_ERRMSG_MAX - 1);
	assert_memory_equal(err.msg, big, LLMO_ERRMSG_MAX - 1);
}

static void test_error_prefix(void **state)
{
	struct llmo_error err;
	char big[LLMO_ERRMSG_MAX * 2];

	llmo_error_set(&err, LLMO_EPARSE, "expected a mapping");
	llmo_error_prefix(&err, "%s:%d: ", "workload.yaml", 7);
	assert_string_equal(err.msg, "workload.yaml:7: expected a mapping");
	assert_int_equal(err.code, LLMO_EPARSE);
	llmo_error_prefix(&err, "spec.replicas: ");
	assert_string_equal(err.msg, "spec.replicas: workload.yaml:7: expected a mapping");
	llmo_error_prefix(NULL, "nothing %d", 1);

	/* A long prefix keeps the total within the buffer. */
	memset(big, 'p', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	llmo_error_prefix(&err, "%s", big);
	assert_int_equal(strlen(err.msg), LLMO_ERRMSG_MAX - 1);
	assert_int_equal(err.msg[0], 'p');
	assert_int_equal(err.code, LLMO_EPARSE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_code_has_name_and_message),
		cmocka_unit_test(test_table_is_complete_and_distinct),
		cmocka_unit_test(test_unknown_codes),
		cmocka_unit_test(test_error_set),
		cmocka_unit_test(test_error_set_truncates),
		cmocka_unit_test(test_error_prefix),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
