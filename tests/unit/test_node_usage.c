/*
 * The node's own usage (src/agent/nodeusage.c) from fixture /proc texts,
 * and its annotation (src/api/usage.c) with the network figures; expected
 * values are computed by hand in the comments.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/common.h"

#include "agent/nodeusage.h"
#include "api/usage.h"

static const char *const stat_a = "cpu  100 0 50 800 50 0 0 0 0 0\n"
				  "cpu0 50 0 25 400 25 0 0 0 0 0\n"
				  "intr 12345\n";
/* +300 user, +100 system, +550 idle, +50 iowait: 1000 jiffies, 400 busy */
static const char *const stat_b = "cpu  400 0 150 1350 100 0 0 0 0 0\n"
				  "cpu0 200 0 75 675 50 0 0 0 0 0\n";

static const char *const meminfo = "MemTotal:       16384000 kB\n"
				   "MemFree:         1000000 kB\n"
				   "MemAvailable:    12288000 kB\n";

static const char *const netdev_a =
	"Inter-|   Receive                                                |  Transmit\n"
	" face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets "
	"errs drop fifo colls carrier compressed\n"
	"    lo: 9000000    100    0    0    0     0          0         0  9000000     100    0 "
	"   0    0     0       0          0\n"
	"  eth0: 1000000    10    0    0    0     0          0         0  500000     5    0    0 "
	"   0     0       0          0\n"
	"  eth1: 2000    1    0    0    0     0          0         0  1000     1    0    0    0 "
	"    0       0          0\n";
/* eth0 +2,000,000 rx, +1,000,000 tx; eth1 +0; lo +50,000,000 (left out) */
static const char *const netdev_b =
	"Inter-|   Receive                                                |  Transmit\n"
	" face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets "
	"errs drop fifo colls carrier compressed\n"
	"    lo: 59000000    100    0    0    0     0          0         0  59000000     100    0 "
	"   0    0     0       0          0\n"
	"  eth0: 3000000    10    0    0    0     0          0         0  1500000     5    0    0 "
	"   0     0       0          0\n"
	"  eth1: 2000    1    0    0    0     0          0         0  1000     1    0    0    0 "
	"    0       0          0\n";

static void test_between(void **state)
{
	struct llmo_node_sample a, b;
	struct llmo_error err = {0};
	struct llmo_usage u;

	(void)state;
	assert_int_equal(llmo_node_sample_parse(stat_a, meminfo, netdev_a, &a, &err), 0);
	assert_int_equal(llmo_node_sample_parse(stat_b, meminfo, netdev_b, &b, &err), 0);
	/* busy = total - idle - iowait: 1000 - 800 - 50 = 150 */
	assert_int_equal(a.cpu_total, 1000);
	assert_int_equal(a.cpu_busy, 150);
	assert_int_equal(a.net_rx, 1002000);
	assert_int_equal(a.net_tx, 501000);
	a.at_ms = 10000;
	b.at_ms = 12000; /* 2 s later */
	assert_int_equal(llmo_node_usage_between(&a, &b, 4000, &u), 0);
	/* 400 of 1000 jiffies busy on 4 cores: 1600 millicores */
	assert_int_equal(u.cpu_milli, 1600);
	/* (16384000 - 12288000) kB = 4096000 * 1024 bytes */
	assert_int_equal(u.memory, 4194304000);
	assert_true(u.has_net);
	/* 2,000,000 bytes in 2 s; 1,000,000 in 2 s */
	assert_int_equal(u.net_rx, 1000000);
	assert_int_equal(u.net_tx, 500000);
	/* not later: nothing to measure over */
	assert_int_equal(llmo_node_usage_between(&b, &a, 4000, &u), LLMO_EINVAL);
}

/* A counter that went back (an interface replaced) counts as no traffic, not a huge rate. */
static void test_counter_reset(void **state)
{
	struct llmo_node_sample a, b;
	struct llmo_usage u;

	(void)state;
	assert_int_equal(llmo_node_sample_parse(stat_a, meminfo, netdev_b, &a, NULL), 0);
	assert_int_equal(llmo_node_sample_parse(stat_b, meminfo, netdev_a, &b, NULL), 0);
	a.at_ms = 0;
	b.at_ms = 1000;
	assert_int_equal(llmo_node_usage_between(&a, &b, 1000, &u), 0);
	assert_int_equal(u.net_rx, 0);
	assert_int_equal(u.net_tx, 0);
}

static void test_malformed(void **state)
{
	struct llmo_node_sample s;
	struct llmo_error err = {0};

	(void)state;
	assert_int_equal(llmo_node_sample_parse("intr 1\n", meminfo, NULL, &s, &err), LLMO_EINVAL);
	assert_non_null(strstr(err.msg, "/proc/stat"));
	assert_int_equal(llmo_node_sample_parse("cpu  1 2 3\n", meminfo, NULL, &s, &err),
			 LLMO_EINVAL);
	assert_non_null(strstr(err.msg, "3 fields"));
	assert_int_equal(llmo_node_sample_parse(stat_a, "MemTotal: 10 kB\n", NULL, &s, &err),
			 LLMO_EINVAL);
	assert_non_null(strstr(err.msg, "MemAvailable"));
	assert_int_equal(llmo_node_sample_parse(stat_a, meminfo, "h1\nh2\n  eth0 1 2 3\n", &s, &err),
			 LLMO_EINVAL);
	assert_non_null(strstr(err.msg, "/proc/net/dev line 3"));
	assert_int_equal(llmo_node_sample_parse(stat_a, meminfo, "h1\nh2\n  eth0: 1 2 3\n", &s, &err),
			 LLMO_EINVAL);
	assert_non_null(strstr(err.msg, "9 counters"));
	/* no network file: CPU and memory still */
	assert_int_equal(llmo_node_sample_parse(stat_a, meminfo, NULL, &s, &err), 0);
	assert_int_equal(s.net_rx, 0);
}

/* The live /proc of this machine parses into plausible figures. */
static void test_read_live(void **state)
{
	struct llmo_node_sample s;
	struct llmo_error err = {0};

	(void)state;
	if (llmo_node_sample_read(&s, &err))
		fail_msg("%s", err.msg);
	assert_true(s.cpu_total > 0);
	assert_true(s.mem_total > 0 && s.mem_avail <= s.mem_total);
}

static void test_annotation_net(void **state)
{
	struct llmo_usage u = {.cpu_milli = 3100,
			       .memory = 8589934592,
			       .at_ms = 1795737600000,
			       .has_net = true,
			       .net_rx = 125000,
			       .net_tx = 98000},
			  back, moved;
	struct llmo_error err = {0};
	char text[LLMO_USAGE_TEXT_MAX];

	(void)state;
	assert_int_equal(llmo_usage_format(&u, text, sizeof(text)), 0);
	assert_non_null(strstr(text, "\"netRx\":125000,\"netTx\":98000"));
	assert_int_equal(llmo_usage_parse(text, &back, &err), 0);
	assert_true(back.has_net);
	assert_int_equal(back.net_rx, 125000);
	assert_int_equal(back.net_tx, 98000);
	/* one without the other is malformed */
	assert_int_equal(llmo_usage_parse("{\"cpu\":1,\"memory\":1,\"netRx\":5,"
					  "\"at\":\"2026-11-27T00:00:00Z\"}",
					  &back, &err),
			 LLMO_EINVAL);
	assert_non_null(strstr(err.msg, "netRx and netTx"));
	/* +100 KB/s is 80% more but under the 256 KiB/s floor: not worth a write */
	moved = u;
	moved.net_rx = 225000;
	assert_false(llmo_usage_worth_publishing(&u, &moved));
	/* +1 MB/s: written */
	moved.net_rx = 1125000;
	assert_true(llmo_usage_worth_publishing(&u, &moved));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_between),	      cmocka_unit_test(test_counter_reset),
		cmocka_unit_test(test_malformed),     cmocka_unit_test(test_read_live),
		cmocka_unit_test(test_annotation_net),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
