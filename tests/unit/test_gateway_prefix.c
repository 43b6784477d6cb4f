/*
 * Prefix affinity (gateway/prefix.h, llmo_gw_pick_prefix in balance.h):
 * chained block hashes, the bounded LRU table, where the body scanner says
 * the prompt is, and which endpoint a request with a known prefix gets:
 * the longest match's replica unless it is busy, inside the chosen track.
 */
#include "base/common.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "gateway/balance.h"
#include "gateway/body.h"
#include "gateway/prefix.h"
#include "gateway/table.h"

static void test_hashes_chain(void **state)
{
	char a[100], b[100];
	uint64_t ha[8], hb[8];

	memset(a, 'x', sizeof(a));
	memcpy(b, a, sizeof(b));
	b[45] = 'y'; /* in the third block of 16 bytes */
	/* 100 bytes are 6 whole blocks of 16; the 4 bytes left are not hashed */
	assert_int_equal(llmo_gw_prefix_hashes(a, 100, 16, 0, ha, 8), 6);
	assert_int_equal(llmo_gw_prefix_hashes(b, 100, 16, 0, hb, 8), 6);
	assert_true(ha[0] == hb[0] && ha[1] == hb[1]);
	/* from the block that differs on, every hash differs: each covers all before it */
	for (int i = 2; i < 6; i++)
		assert_true(ha[i] != hb[i]);
	/* blocks of equal bytes at different places still hash differently */
	assert_true(ha[0] != ha[1]);
	/* at most max, fewer than a block: none, a block of 0: none */
	assert_int_equal(llmo_gw_prefix_hashes(a, 100, 16, 0, ha, 2), 2);
	assert_int_equal(llmo_gw_prefix_hashes(a, 15, 16, 0, ha, 8), 0);
	assert_int_equal(llmo_gw_prefix_hashes(a, 100, 0, 0, ha, 8), 0);
	/* another seed, another chain */
	llmo_gw_prefix_hashes(a, 16, 16, 1, hb, 8);
	llmo_gw_prefix_hashes(a, 16, 16, 0, ha, 8);
	assert_true(ha[0] != hb[0]);
}

static void test_chain_pieces(void **state)
{
	struct llmo_gw_chain c1, c2;

	/* "ab" as one piece and as "a" then "b" differ (tokens "ab" and "a", "b") */
	llmo_gw_chain_init(&c1, 0);
	llmo_gw_chain_add(&c1, "ab", 2);
	llmo_gw_chain_init(&c2, 0);
	llmo_gw_chain_add(&c2, "a", 1);
	llmo_gw_chain_add(&c2, "b", 1);
	assert_true(llmo_gw_chain_cut(&c1) != llmo_gw_chain_cut(&c2));
}

static void test_lru(void **state)
{
	struct llmo_gw_lru l;
	uint64_t v = 0;

	assert_int_equal(llmo_gw_lru_init(&l, 0), LLMO_EINVAL);
	assert_int_equal(llmo_gw_lru_init(&l, 3), 0);
	assert_false(llmo_gw_lru_get(&l, 1, &v));
	assert_false(llmo_gw_lru_put(&l, 1, 10));
	assert_false(llmo_gw_lru_put(&l, 2, 20));
	assert_false(llmo_gw_lru_put(&l, 3, 30));
	/* 1 is used again: 2 is now the least recently used */
	assert_true(llmo_gw_lru_put(&l, 1, 11));
	assert_false(llmo_gw_lru_put(&l, 4, 40));
	assert_false(llmo_gw_lru_get(&l, 2, NULL));
	assert_true(llmo_gw_lru_get(&l, 1, &v) && v == 11);
	assert_true(llmo_gw_lru_get(&l, 3, &v) && v == 30);
	assert_true(llmo_gw_lru_get(&l, 4, &v) && v == 40);
	/* get does not count as a use: 3 goes next */
	llmo_gw_lru_put(&l, 5, 50);
	assert_false(llmo_gw_lru_get(&l, 3, NULL));
	assert_int_equal(l.len, 3);
	assert_int_equal(l.evictions, 2);
	llmo_gw_lru_release(&l);

	/* many keys through a small table: always the last cap of them */
	assert_int_equal(llmo_gw_lru_init(&l, 100), 0);
	for (uint64_t k = 0; k < 10000; k++)
		llmo_gw_lru_put(&l, k * 7919, k);
	for (uint64_t k = 0; k < 10000; k++)
		assert_int_equal(llmo_gw_lru_get(&l, k * 7919, &v), k >= 9900);
	llmo_gw_lru_release(&l);
}

static void test_body_prompt_span(void **state)
{
	static const char *const cases[][2] = {
		{"{\"model\":\"m\",\"prompt\":\"abc\"}", "\"abc\""},
		{"{\"prompt\": [1, 2] ,\"model\":\"m\"}", "[1, 2]"},
		{"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
		 "[{\"role\":\"user\",\"content\":\"hi\"}]"},
		{"{\"model\":\"m\",\"prompt\":\"a\",\"messages\":[]}", "\"a\""},
		{"{\"model\":\"m\",\"input\":\"abc\"}", ""},
		{"{\"model\":\"m\",\"x\":{\"prompt\":\"abc\"}}", ""},
	};
	struct llmo_gw_body out;

	for (size_t i = 0; i < LLMO_ARRAY_LEN(cases); i++) {
		const char *body = cases[i][0], *want = cases[i][1];

		assert_int_equal(llmo_gw_body_scan(body, strlen(body), &out, NULL), 0);
		assert_int_equal(out.prompt_len, strlen(want));
		assert_memory_equal(body + out.prompt_off, want, out.prompt_len);
	}
}

struct fixture {
	struct llmo_gw_backends r;
	struct llmo_gw_table *t;
	struct llmo_gw_model *m;
	struct llmo_gw_lru lru;
	struct llmo_rng rng;
};

static void setup(struct fixture *f, const char *const *tracks)
{
	char addr[32];

	llmo_gw_backends_init(&f->r, NULL, NULL);
	assert_int_equal(llmo_gw_table_new(&f->t), 0);
	assert_int_equal(llmo_gw_table_add_model(f->t, "m", &f->m, NULL), 0);
	for (size_t i = 0; i < 3; i++) {
		snprintf(addr, sizeof(addr), "127.0.0.1:%zu", 1000 + i);
		assert_int_equal(llmo_gw_table_add_endpoint(f->t, &f->r, f->m, addr, "m",
							    tracks ? tracks[i] : NULL, 1, false,
							    NULL),
				 0);
	}
	assert_int_equal(llmo_gw_lru_init(&f->lru, 64), 0);
	llmo_rng_seed(&f->rng, 1);
}

static void teardown(struct fixture *f)
{
	llmo_gw_lru_release(&f->lru);
	llmo_gw_table_unref(f->t);
	llmo_gw_backends_release(&f->r);
}

static struct llmo_gw_backend *be(struct fixture *f, size_t i)
{
	return f->m->eps.items[i].backend;
}

static const struct llmo_gw_balance_opts opts = {.failures = 3, .prefix_busy = 8};

static int pick(struct fixture *f, const uint64_t *h, size_t n,
		struct llmo_gw_backend *const *exclude, size_t nexclude,
		enum llmo_gw_prefix_result *res)
{
	return llmo_gw_pick_prefix(f->m, -1, exclude, nexclude, 0, &opts, &f->rng, &f->lru, h, n,
				   res);
}

static void test_pick_longest_match(void **state)
{
	static const uint64_t h[3] = {101, 102, 103};
	enum llmo_gw_prefix_result res;
	struct fixture f;

	setup(&f, NULL);
	/* nothing to hash: power of two choices */
	assert_true(pick(&f, h, 0, NULL, 0, &res) >= 0);
	assert_int_equal(res, LLMO_GW_PREFIX_NONE);
	/* nothing known */
	assert_true(pick(&f, h, 3, NULL, 0, &res) >= 0);
	assert_int_equal(res, LLMO_GW_PREFIX_MISS);
	/* endpoint 2 served blocks 0 and 1, endpoint 1 block 0 only since */
	llmo_gw_lru_put(&f.lru, 101, be(&f, 2)->id);
	llmo_gw_lru_put(&f.lru, 102, be(&f, 2)->id);
	llmo_gw_lru_put(&f.lru, 101, be(&f, 1)->id);
	assert_int_equal(pick(&f, h, 3, NULL, 0, &res), 2);
	assert_int_equal(res, LLMO_GW_PREFIX_HIT);
	/* a request that shares only block 0 goes where block 0 went last */
	assert_int_equal(pick(&f, h, 1, NULL, 0, &res), 1);
	assert_int_equal(res, LLMO_GW_PREFIX_HIT);
	/* a retry that already tried endpoint 2: the next longer match that can serve */
	{
		struct llmo_gw_backend *tried[1] = {be(&f, 2)};

		assert_int_equal(pick(&f, h, 3, tried, 1, &res), 1);
		assert_int_equal(res, LLMO_GW_PREFIX_HIT);
	}
	teardown(&f);
}

static void test_pick_busy(void **state)
{
	static const uint64_t h[1] = {7};
	enum llmo_gw_prefix_result res;
	struct fixture f;
	int counts[3] = {0};

	setup(&f, NULL);
	llmo_gw_lru_put(&f.lru, 7, be(&f, 0)->id);
	/* 10 is 8 above the least loaded (2): not busy, as 10 > 2 + 8 is false */
	be(&f, 0)->inflight = 10;
	be(&f, 1)->inflight = 2;
	be(&f, 2)->inflight = 3;
	assert_int_equal(pick(&f, h, 1, NULL, 0, &res), 0);
	assert_int_equal(res, LLMO_GW_PREFIX_HIT);
	/* 9 above is busy: power of two choices among all, which never picks 0 here */
	be(&f, 0)->inflight = 11;
	for (int k = 0; k < 300; k++) {
		int i = pick(&f, h, 1, NULL, 0, &res);

		assert_int_equal(res, LLMO_GW_PREFIX_BUSY);
		counts[i]++;
	}
	assert_int_equal(counts[0], 0);
	assert_true(counts[1] > 0 && counts[2] > 0);
	teardown(&f);
}

static void test_pick_inside_track(void **state)
{
	static const char *const tracks[3] = {"stable", "stable", "canary"};
	static const uint64_t h[1] = {9};
	enum llmo_gw_prefix_result res;
	struct fixture f;

	setup(&f, tracks);
	assert_int_equal(llmo_gw_model_add_track(f.m, "stable", 100, NULL), 0);
	assert_int_equal(llmo_gw_model_add_track(f.m, "canary", 0, NULL), 0);
	/* the prefix was served by the canary, which gets no traffic: a miss in stable */
	llmo_gw_lru_put(&f.lru, 9, be(&f, 2)->id);
	for (int k = 0; k < 50; k++) {
		int i = pick(&f, h, 1, NULL, 0, &res);

		assert_true(i == 0 || i == 1);
		assert_int_equal(res, LLMO_GW_PREFIX_MISS);
	}
	/* served by a stable replica: a hit */
	llmo_gw_lru_put(&f.lru, 9, be(&f, 1)->id);
	assert_int_equal(pick(&f, h, 1, NULL, 0, &res), 1);
	assert_int_equal(res, LLMO_GW_PREFIX_HIT);
	teardown(&f);
}

static void test_backend_ids_unique(void **state)
{
	struct fixture f;

	setup(&f, NULL);
	assert_true(be(&f, 0)->id != be(&f, 1)->id && be(&f, 1)->id != be(&f, 2)->id &&
		    be(&f, 0)->id != be(&f, 2)->id);
	teardown(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hashes_chain),
		cmocka_unit_test(test_chain_pieces),
		cmocka_unit_test(test_lru),
		cmocka_unit_test(test_body_prompt_span),
		cmocka_unit_test(test_pick_longest_match),
		cmocka_unit_test(test_pick_busy),
		cmocka_unit_test(test_pick_inside_track),
		cmocka_unit_test(test_backend_ids_unique),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
