#include "base/common.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/clock.h"
#include "base/error.h"
#include "kube/client.h"
#include "kube/leader.h"

#include "kube_fixture.h"

#define NS "kube-system"
#define LEASE "llmo-test"
/* Short durations so that the test takes seconds: lease 1 s, renew 0.6 s, retry 0.2 s. */
#define LEASE_MS 1000
#define RENEW_MS 600
#define RETRY_MS 200
/* Bound on every wait (the elections themselves take a few hundred ms). */
#define WAIT_MS 10000

static struct kube_fixture fx;

struct candidate {
	const char *id;
	struct llmo_leader *l;
	int started, stopped;
	char leader_seen[64]; /* the last new_leader identity */
	int new_leader_calls;
	int64_t started_ms;
};

static void on_started(void *ctx)
{
	struct candidate *c = ctx;

	c->started++;
	c->started_ms = llmo_clock_mono_ms();
}

static void on_stopped(void *ctx)
{
	struct candidate *c = ctx;

	c->stopped++;
}

static void on_new_leader(void *ctx, const char *identity)
{
	struct candidate *c = ctx;

	snprintf(c->leader_seen, sizeof(c->leader_seen), "%s", identity);
	c->new_leader_calls++;
}

static void make(struct candidate *c, const char *id)
{
	struct llmo_leader_config cfg = {
		.ns = NS,
		.name = LEASE,
		.identity = id,
		.lease_duration_ms = LEASE_MS,
		.renew_deadline_ms = RENEW_MS,
		.retry_period_ms = RETRY_MS,
		.started_leading = on_started,
		.stopped_leading = on_stopped,
		.new_leader = on_new_leader,
		.ctx = c,
	};
	struct llmo_error err = {0};

	memset(c, 0, sizeof(*c));
	c->id = id;
	if (llmo_leader_new(fx.client, fx.base, &cfg, &c->l, &err))
		fail_msg("leader_new: %s", err.msg);
}

static bool leads(void *ctx)
{
	return llmo_leader_is_leader(((struct candidate *)ctx)->l);
}

static int setup(void **state)
{
	return fixture_start(&fx);
}

static int teardown(void **state)
{
	fixture_stop(&fx);
	return 0;
}

static json_t *get_lease(void)
{
	struct llmo_error err = {0};
	json_t *lease = NULL;

	if (llmo_kube_get(fx.client, &llmo_kube_leases, NS, LEASE, &lease, &err))
		fail_msg("get lease: %s", err.msg);
	return lease;
}

static const char *spec_str(const json_t *lease, const char *key)
{
	return json_string_value(json_object_get(json_object_get(lease, "spec"), key));
}

static json_int_t spec_int(const json_t *lease, const char *key)
{
	return json_integer_value(json_object_get(json_object_get(lease, "spec"), key));
}

static void test_one_leads_then_hands_over(void **state)
{
	struct candidate a, b;
	struct llmo_error err = {0};
	json_t *lease;
	int64_t stopped_at;

	make(&a, "candidate-a");
	make(&b, "candidate-b");
	assert_int_equal(llmo_leader_start(a.l, &err), 0);
	assert_true(run_until(fx.base, leads, &a, WAIT_MS));
	assert_int_equal(a.started, 1);
	assert_string_equal(a.leader_seen, "candidate-a");

	/* the Lease says so, with our duration in whole seconds and MicroTime stamps */
	lease = get_lease();
	assert_string_equal(spec_str(lease, "holderIdentity"), "candidate-a");
	assert_int_equal(spec_int(lease, "leaseDurationSeconds"), 1);
	assert_int_equal(strlen(spec_str(lease, "renewTime")),
			 strlen("2006-01-02T15:04:05.000000Z"));
	assert_int_equal(spec_str(lease, "renewTime")[26], 'Z');
	json_decref(lease);

	/* b campaigns for several lease durations while a renews: a stays, b follows */
	assert_int_equal(llmo_leader_start(b.l, &err), 0);
	run_for(fx.base, 3 * LEASE_MS);
	assert_true(llmo_leader_is_leader(a.l));
	assert_false(llmo_leader_is_leader(b.l));
	assert_int_equal(a.started, 1);
	assert_int_equal(a.stopped, 0);
	assert_int_equal(b.started, 0);
	assert_string_equal(b.leader_seen, "candidate-a");

	/* a stops: it releases the Lease, so b takes over well within a lease duration */
	llmo_leader_stop(a.l);
	stopped_at = llmo_clock_mono_ms();
	assert_int_equal(a.stopped, 1);
	assert_false(llmo_leader_is_leader(a.l));
	assert_true(run_until(fx.base, leads, &b, WAIT_MS));
	assert_true(b.started_ms - stopped_at <= LEASE_MS);
	assert_string_equal(b.leader_seen, "candidate-b");
	lease = get_lease();
	assert_string_equal(spec_str(lease, "holderIdentity"), "candidate-b");
	assert_int_equal(spec_int(lease, "leaseTransitions"), 1);
	json_decref(lease);

	llmo_leader_free(b.l);
	assert_int_equal(b.stopped, 1);
	llmo_leader_free(a.l);
	/* released again */
	lease = get_lease();
	assert_string_equal(spec_str(lease, "holderIdentity"), "");
	json_decref(lease);
}

/* A Lease whose holder stopped renewing without releasing it. */
static void put_ghost_lease(int64_t renew_wall_ms)
{
	char ts[LLMO_MICROTIME_MAX];
	struct llmo_error err = {0};
	json_t *lease;

	assert_int_equal(llmo_kube_microtime(renew_wall_ms, ts, sizeof(ts)), 0);
	lease = json_pack("{s:s, s:s, s:{s:s}, s:{s:s, s:i, s:s, s:s, s:i}}", "apiVersion",
			  "coordination.k8s.io/v1", "kind", "Lease", "metadata", "name", LEASE,
			  "spec", "holderIdentity", "ghost", "leaseDurationSeconds", 1,
			  "acquireTime", ts, "renewTime", ts, "leaseTransitions", 3);
	if (llmo_kube_create(fx.client, &llmo_kube_leases, NS, lease, NULL, &err))
		fail_msg("create lease: %s", err.msg);
	json_decref(lease);
}

static void test_expired_lease_is_taken(void **state)
{
	struct candidate c;
	struct llmo_error err = {0};
	json_t *lease;

	/* renewed a minute ago with a 1 s duration: long expired */
	put_ghost_lease(llmo_clock_wall_ms() - 60000);
	make(&c, "candidate-c");
	assert_int_equal(llmo_leader_start(c.l, &err), 0);
	assert_true(run_until(fx.base, leads, &c, WAIT_MS));
	lease = get_lease();
	assert_string_equal(spec_str(lease, "holderIdentity"), "candidate-c");
	assert_int_equal(spec_int(lease, "leaseTransitions"), 4);
	json_decref(lease);
	llmo_leader_free(c.l);
}

static void test_live_lease_is_respected(void **state)
{
	struct candidate c;
	struct llmo_error err = {0};
	int64_t t0 = llmo_clock_mono_ms();

	/* renewed just now: the candidate must wait for the lease to run out */
	put_ghost_lease(llmo_clock_wall_ms());
	make(&c, "candidate-c");
	assert_int_equal(llmo_leader_start(c.l, &err), 0);
	assert_true(run_until(fx.base, leads, &c, WAIT_MS));
	assert_true(c.started_ms - t0 >= LEASE_MS);
	assert_string_equal(c.leader_seen, "candidate-c");
	assert_true(c.new_leader_calls >= 2); /* "ghost", then itself */
	llmo_leader_free(c.l);
}

static bool stepped_down(void *ctx)
{
	return ((struct candidate *)ctx)->stopped > 0;
}

static void test_steps_down_when_renewal_fails(void **state)
{
	struct candidate a;
	struct llmo_error err = {0};
	int64_t t0;

	make(&a, "candidate-a");
	assert_int_equal(llmo_leader_start(a.l, &err), 0);
	assert_true(run_until(fx.base, leads, &a, WAIT_MS));
	/* the API stops answering for 3 s: past the renew deadline a steps down */
	t0 = llmo_clock_mono_ms();
	fixture_pause_server(&fx, 3000);
	assert_true(run_until(fx.base, stepped_down, &a, WAIT_MS));
	/*
	 * The deadline runs from the start of the last renewal, at most a retry
	 * period before the pause: no step-down sooner than that allows.
	 */
	assert_true(llmo_clock_mono_ms() - t0 >= RENEW_MS - 2 * RETRY_MS);
	assert_false(llmo_leader_is_leader(a.l));
	/* once the API answers again the Lease (still its own) is taken back */
	assert_true(run_until(fx.base, leads, &a, WAIT_MS));
	assert_int_equal(a.started, 2);
	llmo_leader_free(a.l);
	assert_int_equal(a.stopped, 2);
}

static void test_config_checks(void **state)
{
	struct llmo_leader_config cfg = {.ns = NS, .name = LEASE, .identity = "x"};
	struct llmo_leader *l = NULL;
	struct llmo_error err = {0};
	char ts[LLMO_MICROTIME_MAX];

	cfg.lease_duration_ms = 1000;
	cfg.renew_deadline_ms = 2000;
	assert_int_equal(llmo_leader_new(fx.client, fx.base, &cfg, &l, &err), LLMO_EINVAL);
	cfg.renew_deadline_ms = 0;
	cfg.lease_duration_ms = 0;
	cfg.identity = "";
	assert_int_equal(llmo_leader_new(fx.client, fx.base, &cfg, &l, &err), LLMO_EINVAL);
	cfg.identity = "x";
	assert_int_equal(llmo_leader_new(fx.client, fx.base, &cfg, &l, &err), 0);
	assert_false(llmo_leader_is_leader(l));
	llmo_leader_free(l);

	/* MicroTime: Go's reference time, to the microsecond */
	assert_int_equal(llmo_kube_microtime(1136214245000, ts, sizeof(ts)), 0);
	assert_string_equal(ts, "2006-01-02T15:04:05.000000Z");
	assert_int_equal(llmo_kube_microtime(1136214245123, ts, sizeof(ts)), 0);
	assert_string_equal(ts, "2006-01-02T15:04:05.123000Z");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_one_leads_then_hands_over, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expired_lease_is_taken, setup, teardown),
		cmocka_unit_test_setup_teardown(test_live_lease_is_respected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_steps_down_when_renewal_fails, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_config_checks, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
