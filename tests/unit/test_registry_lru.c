/*
 * The S3 cache's bookkeeping (registry/lru.h): nothing goes within the
 * bound or without one; past it the least recently used goes first, a use
 * makes a blob the most recent, a pinned blob and the most recent one never
 * go, sizes are re-counted when a blob is used again with another size,
 * dropped entries leave the count.
 */
#include "base/common.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "registry/lru.h"

static void evict_all(struct llmo_reg_lru *l, const char *want)
{
	/* want: the victims expected, in order, separated by spaces */
	char got[256] = "";
	size_t n = 0;
	const char *v;

	while ((v = llmo_reg_lru_victim(l))) {
		char hex[72];

		snprintf(hex, sizeof(hex), "%s", v);
		n += (size_t)snprintf(got + n, sizeof(got) - n, "%s%s", n ? " " : "", hex);
		llmo_reg_lru_drop(l, hex);
	}
	assert_string_equal(got, want);
}

static void test_order_and_bound(void **state)
{
	struct llmo_reg_lru l;

	llmo_reg_lru_init(&l, 100);
	assert_int_equal(llmo_reg_lru_use(&l, "a", 40), 0);
	assert_int_equal(llmo_reg_lru_use(&l, "b", 40), 0);
	assert_null(llmo_reg_lru_victim(&l)); /* 80 <= 100 */
	assert_int_equal(llmo_reg_lru_use(&l, "a", 40), 0); /* a read: b is now the oldest */
	assert_int_equal(llmo_reg_lru_use(&l, "c", 40), 0); /* 120 > 100 */
	assert_int_equal(l.bytes, 120);
	evict_all(&l, "b");
	assert_int_equal(l.bytes, 80);
	/* a blob larger than the bound stays while it is the most recent */
	assert_int_equal(llmo_reg_lru_use(&l, "huge", 500), 0);
	evict_all(&l, "a c");
	assert_int_equal(l.bytes, 500);
	assert_int_equal(llmo_reg_lru_use(&l, "d", 1), 0);
	evict_all(&l, "huge");
	assert_int_equal(l.bytes, 1);
	/* the same blob used with another size is counted once, at its new size */
	assert_int_equal(llmo_reg_lru_use(&l, "d", 7), 0);
	assert_int_equal(l.bytes, 7);
	llmo_reg_lru_drop(&l, "d");
	llmo_reg_lru_drop(&l, "absent");
	assert_int_equal(l.bytes, 0);
	assert_null(l.head);
	assert_null(l.tail);
	llmo_reg_lru_release(&l);
}

static void test_pins(void **state)
{
	struct llmo_reg_lru l;

	llmo_reg_lru_init(&l, 10);
	llmo_reg_lru_use(&l, "old", 10);
	llmo_reg_lru_use(&l, "mid", 10);
	llmo_reg_lru_use(&l, "new", 10);
	llmo_reg_lru_pin(&l, "old");
	llmo_reg_lru_pin(&l, "old");
	llmo_reg_lru_pin(&l, "absent"); /* ignored */
	/* old is being read (twice): mid goes instead, then nothing (new is the most recent) */
	evict_all(&l, "mid");
	llmo_reg_lru_unpin(&l, "old");
	assert_null(llmo_reg_lru_victim(&l));
	llmo_reg_lru_unpin(&l, "old");
	llmo_reg_lru_unpin(&l, "old"); /* one too many: harmless */
	evict_all(&l, "old");
	assert_int_equal(l.bytes, 10);
	llmo_reg_lru_release(&l);
}

static void test_no_bound(void **state)
{
	struct llmo_reg_lru l;
	char hex[16];

	llmo_reg_lru_init(&l, 0);
	for (int i = 0; i < 1000; i++) {
		snprintf(hex, sizeof(hex), "%d", i);
		assert_int_equal(llmo_reg_lru_use(&l, hex, (uint64_t)1 << 40), 0);
	}
	assert_null(llmo_reg_lru_victim(&l));
	assert_int_equal(l.bytes, (uint64_t)1000 << 40);
	llmo_reg_lru_release(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order_and_bound),
		cmocka_unit_test(test_pins),
		cmocka_unit_test(test_no_bound),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
