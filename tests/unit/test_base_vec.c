#include "base/common.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/error.h"
#include "base/vec.h"

struct thing {
	int id;
	char name[12];
	double weight;
};

static void test_push_zeroed_and_grows(void **state)
{
	LLMO_VEC(struct thing) v = LLMO_VEC_INIT;
	struct thing *t;

	assert_null(v.items);
	assert_int_equal(v.len, 0);
	for (int i = 0; i < 1000; i++) {
		t = llmo_vec_push(&v);
		assert_non_null(t);
		/* Each new slot is zeroed, even after a realloc. */
		assert_int_equal(t->id, 0);
		assert_int_equal(t->name[0], '\0');
		assert_true(t->weight == 0.0);
		t->id = i;
		snprintf(t->name, sizeof(t->name), "n%d", i);
		assert_int_equal(v.len, (size_t)i + 1);
		assert_true(v.cap >= v.len);
	}
	/* Doubling from 4: 4, 8, ..., 1024. */
	assert_int_equal(v.cap, 1024);
	for (int i = 0; i < 1000; i++) {
		char want[12];

		snprintf(want, sizeof(want), "n%d", i);
		assert_int_equal(v.items[i].id, i);
		assert_string_equal(v.items[i].name, want);
	}
	llmo_vec_release(&v);
	assert_null(v.items);
	assert_int_equal(v.len, 0);
	assert_int_equal(v.cap, 0);
	/* Release twice is harmless; push after release works. */
	llmo_vec_release(&v);
	assert_non_null(llmo_vec_push(&v));
	assert_int_equal(v.len, 1);
	llmo_vec_release(&v);
}

static void test_reserve(void **state)
{
	LLMO_VEC(int) v = LLMO_VEC_INIT;
	int *before;

	assert_int_equal(llmo_vec_reserve(&v, 0), 0);
	assert_null(v.items);
	assert_int_equal(llmo_vec_reserve(&v, 1), 0);
	assert_int_equal(v.cap, 4);
	assert_int_equal(llmo_vec_reserve(&v, 5), 0);
	assert_int_equal(v.cap, 8);
	assert_int_equal(llmo_vec_reserve(&v, 100), 0);
	assert_int_equal(v.cap, 128);
	assert_int_equal(v.len, 0);
	/* Pushing within the reserved room does not move the array. */
	before = v.items;
	for (int i = 0; i < 128; i++)
		*(int *)llmo_vec_push(&v) = i * i;
	assert_ptr_equal(v.items, before);
	assert_int_equal(v.items[127], 127 * 127);
	/* Reserving less than held is a no-op. */
	assert_int_equal(llmo_vec_reserve(&v, 3), 0);
	assert_int_equal(v.cap, 128);
	llmo_vec_release(&v);
}

static void test_reserve_overflow(void **state)
{
	LLMO_VEC(struct thing) v = LLMO_VEC_INIT;
	LLMO_VEC(char) c = LLMO_VEC_INIT;

	/* Element counts whose byte size overflows fail cleanly. */
	assert_int_equal(llmo_vec_reserve(&v, SIZE_MAX / 2), LLMO_ENOMEM);
	assert_null(v.items);
	assert_int_equal(v.cap, 0);
	assert_int_equal(llmo_vec_reserve(&c, SIZE_MAX), LLMO_ENOMEM);
	assert_int_equal(c.cap, 0);
	llmo_vec_release(&v);
	llmo_vec_release(&c);
}

static void test_append(void **state)
{
	LLMO_VEC(struct thing) v = LLMO_VEC_INIT;
	const struct thing more[] = {{.id = 7, .name = "seven"}, {.id = 8, .weight = 0.5}};

	assert_int_equal(llmo_vec_append(&v, more, 0), 0);
	assert_int_equal(v.len, 0);
	assert_non_null(llmo_vec_push(&v));
	v.items[0].id = 1;
	assert_int_equal(llmo_vec_append(&v, more, 2), 0);
	assert_int_equal(v.len, 3);
	assert_true(v.cap >= 3);
	assert_int_equal(v.items[0].id, 1);
	assert_int_equal(v.items[1].id, 7);
	assert_string_equal(v.items[1].name, "seven");
	assert_int_equal(v.items[2].id, 8);
	assert_true(v.items[2].weight == 0.5);
	/* a count that cannot fit leaves v as it was */
	assert_int_equal(llmo_vec_append(&v, more, SIZE_MAX), LLMO_ENOMEM);
	assert_int_equal(v.len, 3);
	llmo_vec_release(&v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_push_zeroed_and_grows),
		cmocka_unit_test(test_reserve),
		cmocka_unit_test(test_reserve_overflow),
		cmocka_unit_test(test_append),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
