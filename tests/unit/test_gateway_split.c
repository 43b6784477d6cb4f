/*
 * Traffic splits (gateway/balance.h, llmo_gw_pick_key): tracks chosen by
 * weight among those that can serve, renormalised when an arm has no
 * eligible replica, no split at all weights 0, and sticky A/B keys that
 * stay in their arm while replicas come and go. Shares are checked over
 * 10,000 picks against hand-computed expectations, within 2 points.
 */
#include "base/common.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "gateway/balance.h"
#include "gateway/table.h"

#define PICKS 10000
#define TOLERANCE 0.02

struct fixture {
	struct llmo_gw_backends r;
	struct llmo_gw_table *t;
	struct llmo_gw_model *m;
	struct llmo_rng rng;
};

static const struct llmo_gw_balance_opts opts = {.failures = 3, .cooldown_ns = 1000000000};

/* A model with endpoints in the given tracks ("stable", "canary", ...), one each. */
static void setup(struct fixture *f, size_t n, const char *const *tracks)
{
	char addr[32];

	llmo_gw_backends_init(&f->r, NULL, NULL);
	assert_int_equal(llmo_gw_table_new(&f->t), 0);
	assert_int_equal(llmo_gw_table_add_model(f->t, "m", &f->m, NULL), 0);
	for (size_t i = 0; i < n; i++) {
		snprintf(addr, sizeof(addr), "127.0.0.1:%zu", 2000 + i);
		assert_int_equal(llmo_gw_table_add_endpoint(f->t, &f->r, f->m, addr, "m", tracks[i],
							    1, false, NULL),
				 0);
	}
	llmo_rng_seed(&f->rng, 12345);
}

static void teardown(struct fixture *f)
{
	llmo_gw_table_unref(f->t);
	llmo_gw_backends_release(&f->r);
}

static void track(struct fixture *f, const char *name, uint32_t w)
{
	assert_int_equal(llmo_gw_model_add_track(f->m, name, w, NULL), 0);
}

/* Share of PICKS random picks (key -1) that land on an endpoint of track name. */
static double share(struct fixture *f, const char *name)
{
	int hits = 0;

	for (int k = 0; k < PICKS; k++) {
		int i = llmo_gw_pick_key(f->m, -1, NULL, 0, 0, &opts, &f->rng);

		assert_true(i >= 0);
		hits += strcmp(f->m->eps.items[i].track, name) == 0;
	}
	return (double)hits / PICKS;
}

static void near(double got, double want, const char *what)
{
	if (got < want - TOLERANCE || got > want + TOLERANCE)
		fail_msg("%s: share %.4f, want %.4f +- %.2f", what, got, want, TOLERANCE);
}

static void test_canary_split(void **state)
{
	static const char *const tr[] = {"stable", "stable", "stable", "canary"};
	struct fixture f;

	/* 90/10 although stable has three replicas and canary one */
	setup(&f, 4, tr);
	track(&f, "stable", 90);
	track(&f, "canary", 10);
	near(share(&f, "canary"), 0.10, "canary 10%");
	teardown(&f);

	/* 50/50 */
	setup(&f, 4, tr);
	track(&f, "stable", 50);
	track(&f, "canary", 50);
	near(share(&f, "canary"), 0.50, "canary 50%");
	teardown(&f);
}

static void test_three_arms_renormalised(void **state)
{
	static const char *const tr[] = {"a", "b", "c", "c"};
	struct fixture f;

	/* 50/30/20; c's replicas all draining: a gets 50/80, b 30/80 */
	setup(&f, 4, tr);
	track(&f, "a", 50);
	track(&f, "b", 30);
	track(&f, "c", 20);
	near(share(&f, "a"), 0.50, "a of three");
	near(share(&f, "c"), 0.20, "c of three");
	f.m->eps.items[2].draining = true;
	f.m->eps.items[3].draining = true;
	near(share(&f, "a"), 50.0 / 80, "a renormalised");
	near(share(&f, "b"), 30.0 / 80, "b renormalised");
	teardown(&f);
}

static void test_no_split(void **state)
{
	static const char *const tr[] = {"stable", "stable", "stable", "canary"};
	struct fixture f;

	/* no tracks, or all weights 0: each replica gets its share (canary 1 of 4) */
	setup(&f, 4, tr);
	near(share(&f, "canary"), 0.25, "no tracks");
	track(&f, "stable", 0);
	track(&f, "canary", 0);
	assert_false(llmo_gw_model_split(f.m));
	near(share(&f, "canary"), 0.25, "weights 0");
	teardown(&f);
}

static void test_weight_zero_arm_gets_nothing(void **state)
{
	static const char *const tr[] = {"stable", "canary", "other"};
	struct fixture f;

	/* canary at 0 and an unlisted track get nothing while stable can serve */
	setup(&f, 3, tr);
	track(&f, "stable", 100);
	track(&f, "canary", 0);
	assert_true(share(&f, "stable") == 1.0);
	/* stable gone: nothing listed can serve, so every eligible replica does */
	f.m->eps.items[0].draining = true;
	near(share(&f, "canary"), 0.5, "fallback canary");
	near(share(&f, "other"), 0.5, "fallback other");
	teardown(&f);
}

static void test_excluded_arm(void **state)
{
	static const char *const tr[] = {"stable", "canary"};
	struct llmo_gw_backend *ex[1];
	struct fixture f;

	/* a retry that already tried the canary goes to stable */
	setup(&f, 2, tr);
	track(&f, "stable", 1);
	track(&f, "canary", 99);
	ex[0] = f.m->eps.items[1].backend;
	for (int k = 0; k < 100; k++)
		assert_int_equal(llmo_gw_pick_key(f.m, -1, ex, 1, 0, &opts, &f.rng), 0);
	teardown(&f);
}

/* The track a sticky key lands in. */
static const char *arm(struct fixture *f, const char *key)
{
	int i = llmo_gw_pick_key(f->m, llmo_gw_sticky_point(key, strlen(key)), NULL, 0, 0, &opts,
				 &f->rng);

	assert_true(i >= 0);
	return f->m->eps.items[i].track;
}

static void test_sticky(void **state)
{
	static const char *const tr[] = {"a", "b", "b", "b", "b", "b"};
	const char *first[200];
	char key[32];
	int in_a = 0;
	struct fixture f;

	/* 10,000 keys spread 30/70 over two arms whatever their replica counts */
	setup(&f, 6, tr);
	track(&f, "a", 30);
	track(&f, "b", 70);
	for (int k = 0; k < PICKS; k++) {
		snprintf(key, sizeof(key), "tenant-%d", k);
		in_a += strcmp(arm(&f, key), "a") == 0;
	}
	near((double)in_a / PICKS, 0.30, "keys in a");
	/* each key lands in the same arm every time */
	for (int k = 0; k < 200; k++) {
		snprintf(key, sizeof(key), "user%d", k);
		first[k] = arm(&f, key);
		for (int j = 0; j < 20; j++)
			assert_string_equal(arm(&f, key), first[k]);
	}
	/* replicas of b go and a's come: nobody changes arm */
	for (size_t i = 2; i < 6; i++)
		f.m->eps.items[i].draining = true;
	assert_int_equal(llmo_gw_table_add_endpoint(f.t, &f.r, f.m, "127.0.0.1:3000", "m", "a", 1,
						    false, NULL),
			 0);
	for (int k = 0; k < 200; k++) {
		snprintf(key, sizeof(key), "user%d", k);
		assert_string_equal(arm(&f, key), first[k]);
	}
	/* b has no replica at all: its keys go to a meanwhile, and come back after */
	f.m->eps.items[1].draining = true;
	for (int k = 0; k < 200; k++) {
		snprintf(key, sizeof(key), "user%d", k);
		assert_string_equal(arm(&f, key), "a");
	}
	f.m->eps.items[1].draining = false;
	for (int k = 0; k < 200; k++) {
		snprintf(key, sizeof(key), "user%d", k);
		assert_string_equal(arm(&f, key), first[k]);
	}
	teardown(&f);
}

static void test_sticky_point(void **state)
{
	/* stable across runs and builds: FNV-1a 64 then the splitmix64 finaliser */
	double a = llmo_gw_sticky_point("tenant-a", 8), b = llmo_gw_sticky_point("tenant-b", 8);

	assert_true(a >= 0 && a < 1 && b >= 0 && b < 1);
	assert_true(a != b);
	assert_true(a == llmo_gw_sticky_point("tenant-a", 8));
	assert_true(llmo_gw_sticky_point("", 0) >= 0);
}

static void test_track_limits(void **state)
{
	struct fixture f;
	char name[16];

	setup(&f, 0, NULL);
	assert_int_equal(llmo_gw_model_add_track(f.m, "x", 101, NULL), LLMO_EINVAL);
	assert_int_equal(llmo_gw_model_add_track(f.m, "", 1, NULL), LLMO_EINVAL);
	assert_int_equal(llmo_gw_model_add_track(f.m, "x", 1, NULL), 0);
	assert_int_equal(llmo_gw_model_add_track(f.m, "x", 1, NULL), LLMO_EINVAL);
	for (int i = 1; i < LLMO_GW_TRACKS_MAX; i++) {
		snprintf(name, sizeof(name), "t%d", i);
		assert_int_equal(llmo_gw_model_add_track(f.m, name, 1, NULL), 0);
	}
	assert_int_equal(llmo_gw_model_add_track(f.m, "one-more", 1, NULL), LLMO_ERANGE);
	/* no endpoint at all */
	assert_int_equal(llmo_gw_pick_key(f.m, 0.5, NULL, 0, 0, &opts, &f.rng), -1);
	teardown(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_canary_split),
		cmocka_unit_test(test_three_arms_renormalised),
		cmocka_unit_test(test_no_split),
		cmocka_unit_test(test_weight_zero_arm_gets_nothing),
		cmocka_unit_test(test_excluded_arm),
		cmocka_unit_test(test_sticky),
		cmocka_unit_test(test_sticky_point),
		cmocka_unit_test(test_track_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
