#include "base/common.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/error.h"
#include "base/hmap.h"

static void test_empty(void **state)
{
	struct llmo_hmap m = LLMO_HMAP_INIT;
	size_t it = 0;
	void *old = &m;

	assert_int_equal(llmo_hmap_count(&m), 0);
	assert_null(llmo_hmap_get(&m, "a"));
	assert_null(llmo_hmap_getn(&m, "a", 1));
	assert_false(llmo_hmap_has(&m, "a"));
	assert_false(llmo_hmap_next(&m, &it, NULL, NULL));
	assert_int_equal(llmo_hmap_del(&m, "a", &old), LLMO_ENOTFOUND);
	assert_null(old);
	llmo_hmap_release(&m, free);
	llmo_hmap_init(&m);
	assert_int_equal(llmo_hmap_count(&m), 0);
	llmo_hmap_release(&m, NULL);
}

static void test_put_get_replace_del(void **state)
{
	struct llmo_hmap m;
	int a = 1, b = 2, c = 3;
	void *old = &m;
	char key[] = "llama2";

	llmo_hmap_init(&m);
	assert_int_equal(llmo_hmap_put(&m, key, &a, &old), 0);
	assert_null(old);
	/* The key is copied: changing the caller's string changes nothing. */
	key[0] = 'L';
	assert_ptr_equal(llmo_hmap_get(&m, "llama2"), &a);
	assert_null(llmo_hmap_get(&m, "Llama2"));
	assert_int_equal(llmo_hmap_put(&m, "mistral", &b, NULL), 0);
	assert_int_equal(llmo_hmap_count(&m), 2);

	/* Replacing hands back the old value and keeps the count. */
	assert_int_equal(llmo_hmap_put(&m, "llama2", &c, &old), 0);
	assert_ptr_equal(old, &a);
	assert_ptr_equal(llmo_hmap_get(&m, "llama2"), &c);
	assert_int_equal(llmo_hmap_count(&m), 2);

	assert_int_equal(llmo_hmap_del(&m, "llama2", &old), 0);
	assert_ptr_equal(old, &c);
	assert_false(llmo_hmap_has(&m, "llama2"));
	assert_null(llmo_hmap_get(&m, "llama2"));
	assert_int_equal(llmo_hmap_count(&m), 1);
	assert_int_equal(llmo_hmap_del(&m, "llama2", NULL), LLMO_ENOTFOUND);
	assert_int_equal(llmo_hmap_del(&m, "mistral", NULL), 0);
	assert_int_equal(llmo_hmap_count(&m), 0);
	llmo_hmap_release(&m, NULL);
}

static void test_null_values_and_empty_key(void **state)
{
	struct llmo_hmap m;
	void *old = &m;
	int x = 7;

	llmo_hmap_init(&m);
	assert_int_equal(llmo_hmap_put(&m, "nothing", NULL, NULL), 0);
	assert_null(llmo_hmap_get(&m, "nothing"));
	assert_true(llmo_hmap_has(&m, "nothing"));
	assert_false(llmo_hmap_has(&m, "something"));
	assert_int_equal(llmo_hmap_del(&m, "nothing", &old), 0);
	assert_null(old);
	assert_false(llmo_hmap_has(&m, "nothing"));

	assert_int_equal(llmo_hmap_put(&m, "", &x, NULL), 0);
	assert_true(llmo_hmap_has(&m, ""));
	assert_ptr_equal(llmo_hmap_get(&m, ""), &x);
	assert_ptr_equal(llmo_hmap_getn(&m, "", 0), &x);
	assert_ptr_equal(llmo_hmap_getn(&m, "abc", 0), &x);
	llmo_hmap_release(&m, NULL);
}

static void test_getn(void **state)
{
	struct llmo_hmap m;
	const char *header = "Content-Type: application/json";
	int v = 1;

	llmo_hmap_init(&m);
	assert_int_equal(llmo_hmap_put(&m, "Content-Type", &v, NULL), 0);
	assert_ptr_equal(llmo_hmap_getn(&m, header, 12), &v);
	assert_null(llmo_hmap_getn(&m, header, 11));
	assert_null(llmo_hmap_getn(&m, header, 13));
	llmo_hmap_release(&m, NULL);
}

/* Values are heap ints holding their own index; release frees them. */
static void test_many_keys_grow_and_delete(void **state)
{
	enum { N = 5000 };
	struct llmo_hmap m;
	char key[32];
	void *val;
	bool seen[N];

	llmo_hmap_init(&m);
	for (int i = 0; i < N; i++) {
		int *p = malloc(sizeof(*p));

		assert_non_null(p);
		*p = i;
		snprintf(key, sizeof(key), "pod-%d", i);
		assert_int_equal(llmo_hmap_put(&m, key, p, NULL), 0);
		assert_int_equal(llmo_hmap_count(&m), (size_t)i + 1);
	}
	/* The load factor bound held: at most 3/4 of the slots are used. */
	assert_true(m.count * 4 <= m.cap * 3);
	for (int i = 0; i < N; i++) {
		snprintf(key, sizeof(key), "pod-%d", i);
		val = llmo_hmap_get(&m, key);
		assert_non_null(val);
		assert_int_equal(*(int *)val, i);
	}
	/* Delete the odd ones; backward shift must keep the rest reachable. */
	for (int i = 1; i < N; i += 2) {
		snprintf(key, sizeof(key), "pod-%d", i);
		assert_int_equal(llmo_hmap_del(&m, key, &val), 0);
		assert_int_equal(*(int *)val, i);
		free(val);
	}
	assert_int_equal(llmo_hmap_count(&m), N / 2);
	for (int i = 0; i < N; i++) {
		snprintf(key, sizeof(key), "pod-%d", i);
		if (i % 2) {
			assert_false(llmo_hmap_has(&m, key));
		} else {
			val = llmo_hmap_get(&m, key);
			assert_non_null(val);
			assert_int_equal(*(int *)val, i);
		}
	}

	/* Iteration visits every remaining entry exactly once. */
	{
		size_t it = 0, visits = 0;
		const char *k;

		memset(seen, 0, sizeof(seen));
		while (llmo_hmap_next(&m, &it, &k, &val)) {
			int i = *(int *)val;

			snprintf(key, sizeof(key), "pod-%d", i);
			assert_string_equal(k, key);
			assert_false(seen[i]);
			seen[i] = true;
			visits++;
		}
		assert_int_equal(visits, N / 2);
		/* Finished iterations stay finished. */
		assert_false(llmo_hmap_next(&m, &it, &k, &val));
	}
	llmo_hmap_release(&m, free);
	assert_int_equal(llmo_hmap_count(&m), 0);
	assert_null(m.slots);
}

/*
 * Insert and delete in an interleaved pattern against a plain array model,
 * so deletions happen inside long probe runs and across the table's wrap.
 */
static void test_against_model(void **state)
{
	enum { KEYS = 300, STEPS = 20000 };
	struct llmo_hmap m;
	int model[KEYS];
	int vals[KEYS];
	uint32_t rng = 12345;
	size_t live = 0;
	char key[16];

	llmo_hmap_init(&m);
	memset(model, 0, sizeof(model));
	for (int i = 0; i < KEYS; i++)
		vals[i] = i;
	for (int s = 0; s < STEPS; s++) {
		int k;
		void *old;

		rng = rng * 1103515245u + 12345u;
		k = (int)((rng >> 8) % KEYS);
		snprintf(key, sizeof(key), "k%d", k);
		if ((rng >> 4) & 1) {
			assert_int_equal(llmo_hmap_put(&m, key, &vals[k], &old), 0);
			assert_ptr_equal(old, model[k] ? &vals[k] : NULL);
			live += !model[k];
			model[k] = 1;
		} else {
			assert_int_equal(llmo_hmap_del(&m, key, &old),
					 model[k] ? 0 : LLMO_ENOTFOUND);
			live -= model[k] ? 1 : 0;
			model[k] = 0;
		}
		assert_int_equal(llmo_hmap_count(&m), live);
	}
	for (int k = 0; k < KEYS; k++) {
		snprintf(key, sizeof(key), "k%d", k);
		assert_int_equal(llmo_hmap_has(&m, key), model[k] != 0);
		assert_ptr_equal(llmo_hmap_get(&m, key), model[k] ? &vals[k] : NULL);
	}
	llmo_hmap_release(&m, NULL);
}

static int freed;

static void count_free(void *v)
{
	freed++;
	free(v);
}

static void test_release_frees_values(void **state)
{
	struct llmo_hmap m;

	llmo_hmap_init(&m);
	freed = 0;
	assert_int_equal(llmo_hmap_put(&m, "a", malloc(4), NULL), 0);
	assert_int_equal(llmo_hmap_put(&m, "b", malloc(4), NULL), 0);
	assert_int_equal(llmo_hmap_put(&m, "null", NULL, NULL), 0);
	llmo_hmap_release(&m, count_free);
	/* NULL values are not handed to free_val. */
	assert_int_equal(freed, 2);
	assert_int_equal(llmo_hmap_count(&m), 0);
	/* The map is usable again. */
	assert_int_equal(llmo_hmap_put(&m, "again", NULL, NULL), 0);
	assert_true(llmo_hmap_has(&m, "again"));
	llmo_hmap_release(&m, NULL);
}

static void test_replace_during_iteration(void **state)
{
	struct llmo_hmap m;
	size_t it = 0, n = 0;
	const char *k;
	void *v;
	int x = 1;

	llmo_hmap_init(&m);
	llmo_hmap_put(&m, "a", NULL, NULL);
	llmo_hmap_put(&m, "b", NULL, NULL);
	llmo_hmap_put(&m, "c", NULL, NULL);
	while (llmo_hmap_next(&m, &it, &k, &v)) {
		assert_null(v);
		assert_int_equal(llmo_hmap_put(&m, k, &x, NULL), 0);
		n++;
	}
	assert_int_equal(n, 3);
	assert_ptr_equal(llmo_hmap_get(&m, "a"), &x);
	assert_ptr_equal(llmo_hmap_get(&m, "b"), &x);
	assert_ptr_equal(llmo_hmap_get(&m, "c"), &x);
	llmo_hmap_release(&m, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_put_get_replace_del),
		cmocka_unit_test(test_null_values_and_empty_key),
		cmocka_unit_test(test_getn),
		cmocka_unit_test(test_many_keys_grow_and_delete),
		cmocka_unit_test(test_against_model),
		cmocka_unit_test(test_release_frees_values),
		cmocka_unit_test(test_replace_during_iteration),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
