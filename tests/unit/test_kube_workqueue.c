#include "base/common.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <event2/event.h>

#include "base/clock.h"
#include "base/error.h"
#include "kube/workqueue.h"

/* What the handler saw, in order. */
struct log {
	struct llmo_workqueue *q;
	char keys[64][16];
	int requeues[64]; /* num_requeues of the key when it was handed out */
	int64_t at_ms[64];
	int n;
	int depth, max_depth;
	/* behaviour */
	int fail_times;	   /* fail this many calls of any key */
	int readd_times;   /* re-add the key (from inside the handler) this many times */
	int readd_repeats; /* ... add it this many times on each such call */
};

static int handler(void *ctx, const char *key)
{
	struct log *l = ctx;
	int rc = 0;

	l->depth++;
	l->max_depth = LLMO_MAX(l->max_depth, l->depth);
	if (l->n < 64) {
		snprintf(l->keys[l->n], sizeof(l->keys[0]), "%s", key);
		l->requeues[l->n] = llmo_workqueue_num_requeues(l->q, key);
		l->at_ms[l->n] = llmo_clock_mono_ms();
	}
	l->n++;
	if (l->readd_times > 0) {
		l->readd_times--;
		for (int i = 0; i < LLMO_MAX(l->readd_repeats, 1); i++)
			assert_int_equal(llmo_workqueue_add(l->q, key), 0);
	}
	if (l->fail_times > 0) {
		l->fail_times--;
		rc = LLMO_EIO;
	}
	l->depth--;
	return rc;
}

struct env {
	struct event_base *base;
	struct llmo_workqueue *q;
	struct log log;
	struct event *tick;
};

static void tick(evutil_socket_t fd, short what, void *arg)
{
}

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	struct timeval tv = {0, 5000};

	e->base = event_base_new();
	assert_int_equal(llmo_workqueue_new(e->base, handler, &e->log, &e->q, NULL), 0);
	e->log.q = e->q;
	/* keeps EVLOOP_ONCE from blocking for long */
	e->tick = event_new(e->base, -1, EV_PERSIST, tick, NULL);
	event_add(e->tick, &tv);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	llmo_workqueue_free(e->q);
	event_free(e->tick);
	event_base_free(e->base);
	free(e);
	return 0;
}

/* Runs the loop until the handler has run n times in all, or 5 s pass. */
static void run_until_calls(struct env *e, int n)
{
	int64_t end = llmo_clock_mono_ms() + 5000;

	while (e->log.n < n && llmo_clock_mono_ms() < end)
		event_base_loop(e->base, EVLOOP_ONCE);
}

static void run_ms(struct env *e, long ms)
{
	int64_t end = llmo_clock_mono_ms() + ms;

	while (llmo_clock_mono_ms() < end)
		event_base_loop(e->base, EVLOOP_ONCE);
}

static void test_dedup_and_order(void **state)
{
	struct env *e = *state;

	assert_int_equal(llmo_workqueue_add(e->q, "a"), 0);
	assert_int_equal(llmo_workqueue_add(e->q, "b"), 0);
	assert_int_equal(llmo_workqueue_add(e->q, "a"), 0);
	assert_int_equal(llmo_workqueue_add(e->q, "c"), 0);
	assert_int_equal(llmo_workqueue_add(e->q, "b"), 0);
	/* nothing runs until the loop does */
	assert_int_equal(e->log.n, 0);
	assert_int_equal(llmo_workqueue_len(e->q), 3);
	run_ms(e, 50);
	assert_int_equal(e->log.n, 3);
	assert_string_equal(e->log.keys[0], "a");
	assert_string_equal(e->log.keys[1], "b");
	assert_string_equal(e->log.keys[2], "c");
	assert_int_equal(llmo_workqueue_len(e->q), 0);
	/* once handled, a key can be added again */
	assert_int_equal(llmo_workqueue_add(e->q, "a"), 0);
	run_ms(e, 30);
	assert_int_equal(e->log.n, 4);
}

/* Orders keys by their first character, descending: "z..." before "a...". */
static bool by_first_desc(void *ctx, const char *a, const char *b)
{
	(void)ctx;
	return a[0] > b[0];
}

/* With an order, the ready key that sorts first runs next; equal keys keep arrival order. */
static void test_order(void **state)
{
	struct env *e = *state;

	llmo_workqueue_set_order(e->q, by_first_desc, NULL);
	assert_int_equal(llmo_workqueue_add(e->q, "b1"), 0);
	assert_int_equal(llmo_workqueue_add(e->q, "a1"), 0);
	assert_int_equal(llmo_workqueue_add(e->q, "c1"), 0);
	assert_int_equal(llmo_workqueue_add(e->q, "b2"), 0);
	assert_int_equal(llmo_workqueue_add(e->q, "c2"), 0);
	run_ms(e, 50);
	assert_int_equal(e->log.n, 5);
	assert_string_equal(e->log.keys[0], "c1");
	assert_string_equal(e->log.keys[1], "c2");
	assert_string_equal(e->log.keys[2], "b1");
	assert_string_equal(e->log.keys[3], "b2");
	assert_string_equal(e->log.keys[4], "a1");
}

static void test_readd_while_processing(void **state)
{
	struct env *e = *state;

	/* the first call adds its own key three times: it runs exactly once more, after */
	e->log.readd_times = 1;
	e->log.readd_repeats = 3;
	assert_int_equal(llmo_workqueue_add(e->q, "a"), 0);
	assert_int_equal(llmo_workqueue_add(e->q, "b"), 0);
	run_ms(e, 50);
	assert_int_equal(e->log.n, 3);
	assert_string_equal(e->log.keys[0], "a");
	assert_string_equal(e->log.keys[1], "b");
	assert_string_equal(e->log.keys[2], "a");
	/* never handed out while in the handler */
	assert_int_equal(e->log.max_depth, 1);
}

static void test_add_after(void **state)
{
	struct env *e = *state;
	int64_t t0 = llmo_clock_mono_ms();

	assert_int_equal(llmo_workqueue_add_after(e->q, "x", 60), 0);
	assert_int_equal(llmo_workqueue_len(e->q), 0);
	assert_int_equal(llmo_workqueue_delayed(e->q), 1);
	run_until_calls(e, 1);
	assert_int_equal(e->log.n, 1);
	assert_true(e->log.at_ms[0] - t0 >= 60);
	assert_int_equal(llmo_workqueue_delayed(e->q), 0);

	/* of two delays for one key the earlier wins, and the key runs once */
	t0 = llmo_clock_mono_ms();
	assert_int_equal(llmo_workqueue_add_after(e->q, "y", 5000), 0);
	assert_int_equal(llmo_workqueue_add_after(e->q, "y", 40), 0);
	assert_int_equal(llmo_workqueue_add_after(e->q, "y", 3000), 0);
	assert_int_equal(llmo_workqueue_delayed(e->q), 1);
	run_until_calls(e, 2);
	assert_int_equal(e->log.n, 2);
	assert_string_equal(e->log.keys[1], "y");
	assert_true(e->log.at_ms[1] - t0 >= 40);
	assert_int_equal(llmo_workqueue_delayed(e->q), 0);

	/* zero delay: ready now */
	assert_int_equal(llmo_workqueue_add_after(e->q, "z", 0), 0);
	assert_int_equal(llmo_workqueue_len(e->q), 1);
}

static void test_backoff_growth_and_forget(void **state)
{
	struct env *e = *state;
	int64_t t0 = llmo_clock_mono_ms();

	/* fails four times, then succeeds: delays 5, 10, 20, 40 ms between the calls */
	e->log.fail_times = 4;
	assert_int_equal(llmo_workqueue_add(e->q, "k"), 0);
	run_until_calls(e, 5);
	assert_int_equal(e->log.n, 5);
	for (int i = 0; i < 5; i++) {
		assert_string_equal(e->log.keys[i], "k");
		/* the handler sees how often the key was requeued so far */
		assert_int_equal(e->log.requeues[i], i);
	}
	assert_true(e->log.at_ms[1] - e->log.at_ms[0] >= 5);
	assert_true(e->log.at_ms[2] - e->log.at_ms[1] >= 10);
	assert_true(e->log.at_ms[3] - e->log.at_ms[2] >= 20);
	assert_true(e->log.at_ms[4] - e->log.at_ms[3] >= 40);
	assert_true(e->log.at_ms[4] - t0 >= 75);
	/* success forgets */
	assert_int_equal(llmo_workqueue_num_requeues(e->q, "k"), 0);
	run_ms(e, 20);
	assert_int_equal(e->log.n, 5);

	/* counting and forget without the handler */
	assert_int_equal(llmo_workqueue_add_rate_limited(e->q, "m"), 0);
	assert_int_equal(llmo_workqueue_add_rate_limited(e->q, "m"), 0);
	assert_int_equal(llmo_workqueue_add_rate_limited(e->q, "m"), 0);
	assert_int_equal(llmo_workqueue_num_requeues(e->q, "m"), 3);
	llmo_workqueue_forget(e->q, "m");
	assert_int_equal(llmo_workqueue_num_requeues(e->q, "m"), 0);
}

static void test_backoff_cap(void **state)
{
	struct env *e = *state;
	int64_t total;

	/* 100 ms doubling, capped at 100: four failures wait 4 x 100 ms, not 100+200+400+800 */
	llmo_workqueue_set_backoff(e->q, 100, 100);
	e->log.fail_times = 4;
	assert_int_equal(llmo_workqueue_add(e->q, "s"), 0);
	run_until_calls(e, 5);
	assert_int_equal(e->log.n, 5);
	for (int i = 1; i < 5; i++)
		assert_true(e->log.at_ms[i] - e->log.at_ms[i - 1] >= 100);
	total = e->log.at_ms[4] - e->log.at_ms[0];
	assert_true(total >= 400);
	/* the uncapped schedule would take 1500 ms */
	assert_true(total < 1500);
}

static void test_shutdown_drains(void **state)
{
	struct env *e = *state;

	assert_int_equal(llmo_workqueue_add(e->q, "a"), 0);
	assert_int_equal(llmo_workqueue_add(e->q, "b"), 0);
	assert_int_equal(llmo_workqueue_add(e->q, "c"), 0);
	assert_int_equal(llmo_workqueue_add_after(e->q, "later", 10000), 0);
	e->log.fail_times = 1;
	llmo_workqueue_shutdown(e->q);
	assert_true(llmo_workqueue_shutting_down(e->q));
	/* the ready keys ran before shutdown returned; the failure was not retried */
	assert_int_equal(e->log.n, 3);
	assert_string_equal(e->log.keys[0], "a");
	assert_string_equal(e->log.keys[1], "b");
	assert_string_equal(e->log.keys[2], "c");
	assert_int_equal(llmo_workqueue_delayed(e->q), 0);
	assert_int_equal(llmo_workqueue_add(e->q, "d"), LLMO_ECLOSED);
	assert_int_equal(llmo_workqueue_add_after(e->q, "d", 5), LLMO_ECLOSED);
	assert_int_equal(llmo_workqueue_add_rate_limited(e->q, "d"), LLMO_ECLOSED);
	run_ms(e, 30);
	assert_int_equal(e->log.n, 3);
}

static void test_many_keys(void **state)
{
	struct env *e = *state;
	char key[16];

	/* more than one batch: every key runs once, in order */
	for (int i = 0; i < 50; i++) {
		snprintf(key, sizeof(key), "k%02d", i);
		assert_int_equal(llmo_workqueue_add(e->q, key), 0);
	}
	run_until_calls(e, 50);
	run_ms(e, 20);
	assert_int_equal(e->log.n, 50);
	for (int i = 0; i < 50; i++) {
		snprintf(key, sizeof(key), "k%02d", i);
		assert_string_equal(e->log.keys[i], key);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_dedup_and_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readd_while_processing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_add_after, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backoff_growth_and_forget, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backoff_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shutdown_drains, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_keys, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
