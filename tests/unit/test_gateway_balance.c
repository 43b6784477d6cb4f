/*
 * The gateway's balancer (gateway/balance.h): power-of-two-choices
 * statistics over many picks, each expected share worked out by hand and
 * checked within 2 points (load, weight, KV cache usage); what is never
 * picked; and the circuit breaker's states.
 */
#include "base/common.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "gateway/balance.h"
#include "gateway/table.h"

#define PICKS 60000
#define TOLERANCE 0.02
#define SEC INT64_C(1000000000)

struct fixture {
	struct llmo_gw_backends r;
	struct llmo_gw_table *t;
	struct llmo_gw_model *m;
};

static void setup(struct fixture *f, size_t n, const uint32_t *weights)
{
	char addr[32];

	llmo_gw_backends_init(&f->r, NULL, NULL);
	assert_int_equal(llmo_gw_table_new(&f->t), 0);
	assert_int_equal(llmo_gw_table_add_model(f->t, "m", &f->m, NULL), 0);
	for (size_t i = 0; i < n; i++) {
		snprintf(addr, sizeof(addr), "127.0.0.1:%zu", 1000 + i);
		assert_int_equal(llmo_gw_table_add_endpoint(f->t, &f->r, f->m, addr, "m", NULL,
							    weights ? weights[i] : 1, false, NULL),
				 0);
	}
}

static void teardown(struct fixture *f)
{
	llmo_gw_table_unref(f->t);
	llmo_gw_backends_release(&f->r);
}

static struct llmo_gw_backend *be(struct fixture *f, size_t i)
{
	return f->m->eps.items[i].backend;
}

/* Shares of PICKS picks (no request ever ends: the load stays as set). */
static void shares(struct fixture *f, const struct llmo_gw_balance_opts *o, double *out)
{
	struct llmo_rng rng;
	size_t counts[16] = {0};

	llmo_rng_seed(&rng, 42);
	for (int k = 0; k < PICKS; k++) {
		int i = llmo_gw_pick(f->m, NULL, 0, 0, o, &rng);

		assert_true(i >= 0 && (size_t)i < f->m->eps.len);
		counts[i]++;
	}
	for (size_t i = 0; i < f->m->eps.len; i++)
		out[i] = (double)counts[i] / PICKS;
}

static void near(double got, double want, const char *what)
{
	if (got < want - TOLERANCE || got > want + TOLERANCE)
		fail_msg("%s: share %.4f, want %.4f +- %.2f", what, got, want, TOLERANCE);
}

static const struct llmo_gw_balance_opts opts = {.failures = 3, .cooldown_ns = 5 * SEC};

static void test_idle_spreads_uniformly(void **state)
{
	struct fixture f;
	double s[4];

	setup(&f, 4, NULL);
	shares(&f, &opts, s);
	for (int i = 0; i < 4; i++)
		near(s[i], 0.25, "equal weights, no load");
	teardown(&f);
}

static void test_weights(void **state)
{
	static const uint32_t w[] = {1, 1, 2};
	struct fixture f;
	double s[3];

	/* no load: the first candidate wins every tie, and it is drawn by weight */
	setup(&f, 3, w);
	shares(&f, &opts, s);
	near(s[0], 0.25, "weight 1");
	near(s[1], 0.25, "weight 1");
	near(s[2], 0.50, "weight 2");
	teardown(&f);
}

static void test_least_loaded_of_two(void **state)
{
	struct fixture f;
	double s[3];

	/*
	 * Loads 0, 5, 10: the pair {0,1} or {0,2} picks 0, {1,2} picks 1, so
	 * endpoint 0 gets 2/3, endpoint 1 gets 1/3 and the busiest none.
	 */
	setup(&f, 3, NULL);
	be(&f, 1)->inflight = 5;
	be(&f, 2)->inflight = 10;
	shares(&f, &opts, s);
	near(s[0], 2.0 / 3, "least loaded");
	near(s[1], 1.0 / 3, "middle");
	near(s[2], 0, "busiest");
	assert_true(s[2] == 0);
	teardown(&f);
}

static void test_load_against_weight(void **state)
{
	static const uint32_t w[] = {1, 4};
	struct fixture f;
	double s[2];

	/* 3/1 against 8/4: the heavier one wins although busier */
	setup(&f, 2, w);
	be(&f, 0)->inflight = 3;
	be(&f, 1)->inflight = 8;
	shares(&f, &opts, s);
	assert_true(s[1] == 1);
	teardown(&f);
}

static void test_kv_cache(void **state)
{
	struct fixture f;
	double s[3];

	/*
	 * Equal loads: the fuller KV cache loses every pair it is in, so usages
	 * 0.2, 0.5, 0.8 get 2/3, 1/3 and nothing.
	 */
	setup(&f, 3, NULL);
	be(&f, 0)->kv_usage = 0.2;
	be(&f, 1)->kv_usage = 0.5;
	be(&f, 2)->kv_usage = 0.8;
	shares(&f, &opts, s);
	near(s[0], 2.0 / 3, "most KV cache free");
	near(s[1], 1.0 / 3, "middle");
	assert_true(s[2] == 0);
	teardown(&f);
	/*
	 * A full cache (>= LLMO_GW_KV_FULL) loses to one that is not, whatever
	 * the loads: 0 in flight at 0.95 against 6 at 0.1; among full ones and
	 * among the rest the load decides first.
	 */
	setup(&f, 3, NULL);
	be(&f, 0)->kv_usage = 0.95;
	be(&f, 1)->kv_usage = 0.1;
	be(&f, 1)->inflight = 6;
	be(&f, 2)->kv_usage = LLMO_GW_KV_FULL;
	be(&f, 2)->inflight = 1;
	shares(&f, &opts, s);
	near(s[0], 1.0 / 3, "full, idle: wins only against the full and busier one");
	near(s[1], 2.0 / 3, "not full, busy");
	assert_true(s[2] == 0);
	teardown(&f);
	/* without scraping every usage is 0: the load alone, as before */
	setup(&f, 2, NULL);
	be(&f, 0)->inflight = 1;
	shares(&f, &opts, s);
	assert_true(s[1] == 1);
	teardown(&f);
}

static void test_never_picked(void **state)
{
	struct llmo_gw_balance_opts capped = opts;
	struct llmo_gw_backend *ex[1];
	struct llmo_rng rng;
	struct fixture f;

	setup(&f, 4, NULL);
	llmo_rng_seed(&rng, 7);
	f.m->eps.items[0].draining = true;   /* draining */
	ex[0] = be(&f, 1);                    /* tried already */
	be(&f, 2)->inflight = 2;              /* at the connection cap */
	capped.conns_max = 2;
	for (int k = 0; k < 1000; k++)
		assert_int_equal(llmo_gw_pick(f.m, ex, 1, 0, &capped, &rng), 3);
	be(&f, 3)->fails = 3;                 /* breaker open */
	be(&f, 3)->open_until = 5 * SEC;
	assert_int_equal(llmo_gw_pick(f.m, ex, 1, 0, &capped, &rng), -1);
	teardown(&f);
}

static void test_breaker(void **state)
{
	struct llmo_rng rng;
	struct llmo_gw_backend *b;
	struct fixture f;
	int64_t t = 100 * SEC;

	setup(&f, 1, NULL);
	llmo_rng_seed(&rng, 1);
	b = be(&f, 0);
	/* two failures in a row: still closed; a success resets the count */
	llmo_gw_backend_failure(b, t, &opts);
	llmo_gw_backend_failure(b, t, &opts);
	assert_true(llmo_gw_backend_allowed(b, t, &opts));
	llmo_gw_backend_success(b);
	assert_int_equal(b->fails, 0);
	/* three: open for the cool-down */
	for (int i = 0; i < 3; i++)
		llmo_gw_backend_failure(b, t, &opts);
	assert_false(llmo_gw_backend_allowed(b, t, &opts));
	assert_false(llmo_gw_backend_allowed(b, t + 5 * SEC - 1, &opts));
	assert_int_equal(llmo_gw_pick(f.m, NULL, 0, t + SEC, &opts, &rng), -1);
	/* after it: half-open, one trial at a time */
	t += 5 * SEC;
	assert_int_equal(llmo_gw_pick(f.m, NULL, 0, t, &opts, &rng), 0);
	assert_true(llmo_gw_backend_begin(b, t, &opts));
	assert_true(b->probing);
	assert_int_equal(llmo_gw_pick(f.m, NULL, 0, t, &opts, &rng), -1);
	/* a trial abandoned (its client left) lets another go */
	llmo_gw_backend_end(b, true);
	assert_int_equal(llmo_gw_pick(f.m, NULL, 0, t, &opts, &rng), 0);
	assert_true(llmo_gw_backend_begin(b, t, &opts));
	/* the trial fails: open again for a whole cool-down */
	llmo_gw_backend_failure(b, t, &opts);
	llmo_gw_backend_end(b, true);
	assert_false(llmo_gw_backend_allowed(b, t + 5 * SEC - 1, &opts));
	/* the next trial succeeds: closed */
	t += 5 * SEC;
	assert_true(llmo_gw_backend_begin(b, t, &opts));
	llmo_gw_backend_success(b);
	llmo_gw_backend_end(b, true);
	assert_true(llmo_gw_backend_allowed(b, t, &opts));
	assert_int_equal(b->inflight, 0);
	assert_false(b->probing);
	/* failures 0: never opens */
	{
		struct llmo_gw_balance_opts never = {.failures = 0};

		for (int i = 0; i < 100; i++)
			llmo_gw_backend_failure(b, t, &never);
		assert_true(llmo_gw_backend_allowed(b, t, &never));
	}
	teardown(&f);
}

static void test_rng(void **state)
{
	struct llmo_rng a, b;
	uint64_t ones = 0;

	llmo_rng_seed(&a, 0);
	llmo_rng_seed(&b, 0);
	for (int i = 0; i < 1000; i++) {
		uint64_t x = llmo_rng_next(&a);

		assert_true(x == llmo_rng_next(&b));
		ones += (uint64_t)__builtin_popcountll(x);
	}
	/* about half the bits set */
	assert_true(ones > 31000 && ones < 33000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_idle_spreads_uniformly),
		cmocka_unit_test(test_weights),
		cmocka_unit_test(test_least_loaded_of_two),
		cmocka_unit_test(test_load_against_weight),
		cmocka_unit_test(test_kv_cache),
		cmocka_unit_test(test_never_picked),
		cmocka_unit_test(test_breaker),
		cmocka_unit_test(test_rng),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
