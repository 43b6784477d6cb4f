/*
 * The cross-cluster assignment (llmo__fed_assign) on made-up clusters: each
 * strategy's order, capacities, clusters that hold their share while
 * unreachable, noise in measured latency, and what fits nowhere. Expected
 * splits are worked by hand from the rules in federation.h.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/common.h"
#include "controller/federation.h"

#define SITE(n, c, r, cap) {.name = n, .usable = true, .cost = c, .rtt_ms = r, .capacity = cap}

static void expect_split(const int64_t *got, const int64_t *want, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (got[i] != want[i])
			fail_msg("site %zu: got %" PRId64 " replicas, want %" PRId64, i, got[i],
				 want[i]);
}

static void test_strategy_names(void **state)
{
	(void)state;
	assert_int_equal(llmo__fed_strategy_parse("cost-optimized"), LLMO__FED_COST);
	assert_int_equal(llmo__fed_strategy_parse("latency-optimized"), LLMO__FED_LATENCY);
	assert_int_equal(llmo__fed_strategy_parse("balanced"), LLMO__FED_BALANCED);
	assert_int_equal(llmo__fed_strategy_parse(NULL), LLMO__FED_BALANCED);
}

/* cost-optimized: cheapest first, each up to its capacity; the rest is unplaced */
static void test_cost(void **state)
{
	struct llmo__fed_site s[3] = {SITE("a", 3.0, 1, 4), SITE("b", 1.0, 50, 2),
				      SITE("c", 5.0, 1, 1)};
	int64_t out[3];

	(void)state;
	assert_int_equal(llmo__fed_assign(LLMO__FED_COST, s, 3, 3, out), 0);
	expect_split(out, (int64_t[]){1, 2, 0}, 3);
	assert_int_equal(llmo__fed_assign(LLMO__FED_COST, s, 3, 7, out), 0);
	expect_split(out, (int64_t[]){4, 2, 1}, 3);
	assert_int_equal(llmo__fed_assign(LLMO__FED_COST, s, 3, 9, out), 2);
	expect_split(out, (int64_t[]){4, 2, 1}, 3);
	assert_int_equal(llmo__fed_assign(LLMO__FED_COST, s, 3, 0, out), 0);
	expect_split(out, (int64_t[]){0, 0, 0}, 3);
}

/* latency-optimized: fastest first; round trips within 25% (or 2 ms) are a tie, broken by cost */
static void test_latency(void **state)
{
	struct llmo__fed_site s[3] = {SITE("a", 3.0, 40, 4), SITE("b", 1.0, 45, 4),
				      SITE("c", 5.0, 10, 1)};
	int64_t out[3];

	(void)state;
	/* c (10 ms) first; a and b (40, 45 ms) are a tie: b is cheaper */
	assert_int_equal(llmo__fed_assign(LLMO__FED_LATENCY, s, 3, 3, out), 0);
	expect_split(out, (int64_t[]){0, 2, 1}, 3);
	/* 40 against 80 ms is no tie: a first */
	s[1].rtt_ms = 80;
	assert_int_equal(llmo__fed_assign(LLMO__FED_LATENCY, s, 3, 3, out), 0);
	expect_split(out, (int64_t[]){2, 0, 1}, 3);
	/* sub-millisecond noise on equal clusters: the previous assignment stays */
	s[0] = (struct llmo__fed_site)SITE("a", 1.0, 0.3, 4);
	s[1] = (struct llmo__fed_site)SITE("b", 1.0, 0.5, 4);
	s[2].usable = false;
	s[1].previous = 2;
	assert_int_equal(llmo__fed_assign(LLMO__FED_LATENCY, s, 3, 2, out), 0);
	expect_split(out, (int64_t[]){0, 2, 0}, 3);
}

/* balanced: one at a time to the site with the fewest; equal counts go to the cheaper */
static void test_balanced(void **state)
{
	struct llmo__fed_site s[3] = {SITE("a", 3.0, 1, 10), SITE("b", 1.0, 1, 10),
				      SITE("c", 2.0, 1, 1)};
	int64_t out[3];

	(void)state;
	assert_int_equal(llmo__fed_assign(LLMO__FED_BALANCED, s, 3, 3, out), 0);
	expect_split(out, (int64_t[]){1, 1, 1}, 3);
	/* c holds one: the other four go two and two, b first */
	assert_int_equal(llmo__fed_assign(LLMO__FED_BALANCED, s, 3, 5, out), 0);
	expect_split(out, (int64_t[]){2, 2, 1}, 3);
	assert_int_equal(llmo__fed_assign(LLMO__FED_BALANCED, s, 3, 4, out), 0);
	expect_split(out, (int64_t[]){1, 2, 1}, 3);
	assert_int_equal(llmo__fed_assign(LLMO__FED_BALANCED, s, 3, 25, out), 4);
	expect_split(out, (int64_t[]){10, 10, 1}, 3);
}

/*
 * An unreachable site within failoverAfter keeps what it had (first), an
 * unusable one gets nothing, and a site of capacity 0 nothing either.
 */
static void test_hold_and_unusable(void **state)
{
	struct llmo__fed_site s[3] = {SITE("a", 1.0, 1, 10), SITE("b", 2.0, 1, 10),
				      SITE("c", 0.5, 1, 0)};
	int64_t out[3];

	(void)state;
	s[0].usable = false;
	s[0].hold = true;
	s[0].previous = 2;
	assert_int_equal(llmo__fed_assign(LLMO__FED_COST, s, 3, 5, out), 0);
	expect_split(out, (int64_t[]){2, 3, 0}, 3);
	/* fewer wanted than it held: it keeps only those */
	assert_int_equal(llmo__fed_assign(LLMO__FED_COST, s, 3, 1, out), 0);
	expect_split(out, (int64_t[]){1, 0, 0}, 3);
	/* past failoverAfter: neither usable nor holding */
	s[0].hold = false;
	assert_int_equal(llmo__fed_assign(LLMO__FED_BALANCED, s, 3, 5, out), 0);
	expect_split(out, (int64_t[]){0, 5, 0}, 3);
	assert_int_equal(llmo__fed_assign(LLMO__FED_COST, s, 3, 12, out), 2);
	expect_split(out, (int64_t[]){0, 10, 0}, 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strategy_names),
		cmocka_unit_test(test_cost),
		cmocka_unit_test(test_latency),
		cmocka_unit_test(test_balanced),
		cmocka_unit_test(test_hold_and_unusable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
