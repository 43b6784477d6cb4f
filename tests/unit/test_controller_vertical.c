/*
 * Replica usage (api/usage.h: the agent's annotation and its publication
 * rule) and what the controller makes of it (controller/vertical.h: the
 * cpu and memory metrics, the sample ring, percentiles and
 * recommendations), against numbers worked out by hand.
 */
#include "base/common.h"

#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "api/usage.h"
#include "base/clock.h"
#include "controller/vertical.h"

#define MIB ((int64_t)1 << 20)
#define GIB ((int64_t)1 << 30)

/* ---- the annotation ---- */

static void test_usage_text(void **state)
{
	const char *text = "{\"cpu\":1500,\"memory\":268435456,\"at\":\"2026-11-26T23:59:00Z\"}";
	struct llmo_usage u = {0};
	struct llmo_error err = {0};
	char out[LLMO_USAGE_TEXT_MAX];

	(void)state;
	assert_int_equal(llmo_usage_parse(text, &u, &err), 0);
	assert_int_equal(u.cpu_milli, 1500);
	assert_int_equal(u.memory, 256 * MIB);
	assert_int_equal(llmo_usage_format(&u, out, sizeof(out)), 0);
	assert_string_equal(out, text);
	assert_int_equal(llmo_usage_parse("not json", &u, &err), LLMO_EINVAL);
	assert_int_equal(llmo_usage_parse("{\"cpu\":-1,\"memory\":1,\"at\":\"2026-11-26T23:59:00Z\"}",
					  &u, &err),
			 LLMO_EINVAL);
	assert_int_equal(llmo_usage_parse("{\"cpu\":1,\"memory\":1}", &u, &err), LLMO_EINVAL);
	assert_int_equal(llmo_usage_parse("{\"cpu\":1,\"memory\":1,\"at\":\"yesterday\"}", &u, &err),
			 LLMO_EINVAL);
	assert_int_equal(llmo_usage_parse("", &u, &err), LLMO_EINVAL);
	assert_false(u.has_gpu);
}

/* With GPUs: gpu (percent, one decimal) and gpuMemory come together, or neither. */
static void test_usage_text_gpu(void **state)
{
	const char *text = "{\"cpu\":1500,\"memory\":268435456,\"gpu\":58.5,"
			   "\"gpuMemory\":32212254720,\"at\":\"2026-11-26T23:59:00Z\"}";
	struct llmo_usage u = {0};
	struct llmo_error err = {0};
	char out[LLMO_USAGE_TEXT_MAX];

	(void)state;
	assert_int_equal(llmo_usage_parse(text, &u, &err), 0);
	assert_true(u.has_gpu);
	assert_float_equal(u.gpu_pct, 58.5, 1e-9);
	assert_int_equal(u.gpu_memory, 30 * GIB);
	assert_int_equal(llmo_usage_format(&u, out, sizeof(out)), 0);
	assert_string_equal(out, text);
	assert_int_equal(llmo_usage_parse("{\"cpu\":1,\"memory\":1,\"gpu\":50,"
					  "\"at\":\"2026-11-26T23:59:00Z\"}", &u, &err),
			 LLMO_EINVAL);
	assert_non_null(strstr(err.msg, "go together"));
	assert_int_equal(llmo_usage_parse("{\"cpu\":1,\"memory\":1,\"gpu\":101,\"gpuMemory\":0,"
					  "\"at\":\"2026-11-26T23:59:00Z\"}", &u, &err),
			 LLMO_EINVAL);
	u.gpu_pct = -1;
	assert_int_equal(llmo_usage_format(&u, out, sizeof(out)), LLMO_EINVAL);
}

/*
 * The rule: more than 10% of the published value and more than the floor
 * (20 millicores, 4 MiB), or the published value is 5 minutes old.
 */
static void test_usage_rule(void **state)
{
	struct llmo_usage last = {.cpu_milli = 1000, .memory = GIB}, now = last;

	(void)state;
	now.at_ms = 15000;
	assert_true(llmo_usage_worth_publishing(NULL, &now));
	assert_false(llmo_usage_worth_publishing(&last, &now));
	now.cpu_milli = 1100; /* 100: not more than 10% of 1000 */
	assert_false(llmo_usage_worth_publishing(&last, &now));
	now.cpu_milli = 899;  /* 101 down */
	assert_true(llmo_usage_worth_publishing(&last, &now));
	now.cpu_milli = 1000;
	now.memory = GIB + 102 * MIB; /* 102 x 100 <= 1024 x 10 */
	assert_false(llmo_usage_worth_publishing(&last, &now));
	now.memory = GIB + 103 * MIB;
	assert_true(llmo_usage_worth_publishing(&last, &now));
	/* small values: the floor holds back jitter */
	last.cpu_milli = 100;
	now.memory = GIB;
	now.cpu_milli = 115; /* 15% but only 15m */
	assert_false(llmo_usage_worth_publishing(&last, &now));
	now.cpu_milli = 125; /* 25m and 25% */
	assert_true(llmo_usage_worth_publishing(&last, &now));
	/* unchanged but old */
	now.cpu_milli = 100;
	now.at_ms = LLMO_USAGE_REFRESH_MS - 1;
	assert_false(llmo_usage_worth_publishing(&last, &now));
	now.at_ms = LLMO_USAGE_REFRESH_MS;
	assert_true(llmo_usage_worth_publishing(&last, &now));
	/* GPUs: measured now and not before; then more than 5 points */
	now.at_ms = 15000;
	now.has_gpu = true;
	now.gpu_pct = 40;
	now.gpu_memory = GIB;
	assert_true(llmo_usage_worth_publishing(&last, &now));
	last = now;
	now.gpu_pct = 45; /* 5 points: not more */
	assert_false(llmo_usage_worth_publishing(&last, &now));
	now.gpu_pct = 34.5;
	assert_true(llmo_usage_worth_publishing(&last, &now));
	now.gpu_pct = 40;
	now.gpu_memory = GIB + 103 * MIB; /* as memory */
	assert_true(llmo_usage_worth_publishing(&last, &now));
}

/* ---- the metrics ---- */

static json_t *pod(const char *cpu_req, const char *mem_req, int64_t cpu, int64_t mem, int64_t at)
{
	char text[LLMO_USAGE_TEXT_MAX];
	struct llmo_usage u = {.cpu_milli = cpu, .memory = mem, .at_ms = at};
	json_t *p = json_pack("{s:{s:{}}, s:{s:[{s:s, s:{s:{}}}]}}", "metadata", "annotations",
			      "spec", "containers", "name", "main", "resources", "requests");
	json_t *req = json_object_get(
		json_object_get(json_array_get(json_object_get(json_object_get(p, "spec"),
							       "containers"),
					       0),
				"resources"),
		"requests");

	assert_non_null(p);
	if (cpu_req)
		json_object_set_new(req, "cpu", json_string(cpu_req));
	if (mem_req)
		json_object_set_new(req, "memory", json_string(mem_req));
	if (cpu >= 0) {
		assert_int_equal(llmo_usage_format(&u, text, sizeof(text)), 0);
		json_object_set_new(json_object_get(json_object_get(p, "metadata"), "annotations"),
				    LLMO_ANNOTATION_USAGE, json_string(text));
	}
	return p;
}

/*
 * 3000m of 2 cpus: 150%; 1800m of 2000m: 90%; mean 120. Memory 1Gi of 4Gi:
 * 25%, 2Gi of 4Gi: 50%; mean 37.5. A stale annotation (11 minutes), a pod
 * without one and a pod without requests add nothing.
 */
/* A pod requesting gpus GPUs with, when pct >= 0, a fresh usage annotation saying pct. */
static json_t *gpu_pod(const char *gpus, double pct, int64_t at)
{
	struct llmo_usage u = {.cpu_milli = 100, .memory = GIB, .at_ms = at, .has_gpu = pct >= 0,
			       .gpu_pct = pct, .gpu_memory = GIB};
	char text[LLMO_USAGE_TEXT_MAX];
	json_t *p = pod("1", "1Gi", -1, 0, 0);

	json_object_set_new(json_object_get(json_object_get(json_array_get(json_object_get(
		json_object_get(p, "spec"), "containers"), 0), "resources"), "requests"),
			    "nvidia.com/gpu", json_string(gpus));
	assert_int_equal(llmo_usage_format(&u, text, sizeof(text)), 0);
	json_object_set_new(json_object_get(json_object_get(p, "metadata"), "annotations"),
			    LLMO_ANNOTATION_USAGE, json_string(text));
	return p;
}

/*
 * gpu_utilization: 30% and 70%, mean 50; a pod without GPUs adds nothing,
 * one whose usage has no gpu figure counts as missing (as cpu's do).
 */
static void test_gpu_percent(void **state)
{
	int64_t now = llmo_clock_wall_ms();
	json_t *pods[4] = {gpu_pod("1", 30, now), gpu_pod("2", 70, now - 1000),
			   pod("1", "1Gi", 100, GIB, now), gpu_pod("1", -1, now)};

	(void)state;
	assert_float_equal(llmo__gpu_percent((const json_t *const *)pods, 3, now, 0), 50.0, 1e-9);
	assert_true(isnan(llmo__gpu_percent((const json_t *const *)pods + 2, 1, now, 0)));
	/* the fourth is missing: above a target of 40 it counts 0, (30 + 70) / 3 < 40: the target */
	assert_float_equal(llmo__gpu_percent((const json_t *const *)pods, 4, now, 40), 40.0, 1e-9);
	/* below a target of 60 it counts 100: 200 / 3 turns it round too: 60 */
	assert_float_equal(llmo__gpu_percent((const json_t *const *)pods, 4, now, 60), 60.0, 1e-9);
	/* without a target, the known ones */
	assert_float_equal(llmo__gpu_percent((const json_t *const *)pods, 4, now, 0), 50.0, 1e-9);
	for (size_t i = 0; i < 4; i++)
		json_decref(pods[i]);
}

static void test_usage_percent(void **state)
{
	int64_t now = llmo_clock_wall_ms();
	json_t *pods[5] = {
		pod("2", "4Gi", 3000, GIB, now - 1000),
		pod("2000m", "4Gi", 1800, 2 * GIB, now),
		pod("1", "1Gi", 1000, GIB, now - 11 * 60000),
		pod("1", "1Gi", -1, 0, 0),
		pod(NULL, NULL, 5000, 8 * GIB, now),
	};
	double cpu, mem;

	(void)state;
	/* without targets: the mean over the known ones */
	llmo__usage_percent((const json_t *const *)pods, 5, now, 0, 0, &cpu, &mem);
	assert_float_equal(cpu, 120.0, 1e-9);
	assert_float_equal(mem, 37.5, 1e-9);
	llmo__usage_percent((const json_t *const *)pods + 3, 2, now, 0, 0, &cpu, &mem);
	assert_true(isnan(cpu) && isnan(mem));
	/*
	 * Pods 2 (stale) and 3 (none) have requests: two missing. cpu known 120
	 * above 60: they count 0, (150 + 90) / 4 = 60 -- not above 60 any more,
	 * so the target itself: 60. Above 50: 60 stays above, 60. Memory known
	 * 37.5 below 50: they count 100, (25 + 50 + 200) / 4 = 68.75 turns it
	 * round: 50. Below 80: 68.75.
	 */
	llmo__usage_percent((const json_t *const *)pods, 5, now, 60, 50, &cpu, &mem);
	assert_float_equal(cpu, 60.0, 1e-9);
	assert_float_equal(mem, 50.0, 1e-9);
	llmo__usage_percent((const json_t *const *)pods, 5, now, 50, 80, &cpu, &mem);
	assert_float_equal(cpu, 60.0, 1e-9);
	assert_float_equal(mem, 68.75, 1e-9);
	for (size_t i = 0; i < 5; i++)
		json_decref(pods[i]);
}

/* ---- the recommender ---- */

static void test_percentile_ring(void **state)
{
	static struct llmo__vhist h;

	(void)state;
	memset(&h, 0, sizeof(h));
	assert_true(isnan(llmo__vhist_percentile(&h, 50)));
	for (int i = 10; i >= 1; i--) /* 10 .. 1: order does not matter */
		llmo__vhist_add(&h, i * 100);
	/* nearest rank: ceil(0.9 x 10) = 9th, ceil(0.5 x 10) = 5th, ceil(0.01 x 10) = 1st */
	assert_float_equal(llmo__vhist_percentile(&h, 90), 900, 0);
	assert_float_equal(llmo__vhist_percentile(&h, 50), 500, 0);
	assert_float_equal(llmo__vhist_percentile(&h, 1), 100, 0);
	assert_float_equal(llmo__vhist_percentile(&h, 100), 1000, 0);
	assert_true(isnan(llmo__vhist_percentile(&h, 0)));
	/* 1030 samples in a ring of 1024: 1 .. 6 are gone */
	memset(&h, 0, sizeof(h));
	for (int i = 1; i <= 1030; i++)
		llmo__vhist_add(&h, i);
	assert_int_equal(h.n, LLMO__VERT_SAMPLES);
	assert_float_equal(llmo__vhist_percentile(&h, 0.01), 7, 0);
	assert_float_equal(llmo__vhist_percentile(&h, 100), 1030, 0);
	/* ceil(0.9 x 1024) = 922nd smallest of 7 .. 1030: 928 */
	assert_float_equal(llmo__vhist_percentile(&h, 90), 928, 0);
}

/*
 * cpu 100m .. 1000m (10 samples): p90 900m, +15%: 1035m. Memory 100Mi ..
 * 2000Mi (20 samples): p95 = 19th = 1900Mi, +15%: 2185Mi. Capped at 1000m,
 * floored at 25m / 256Mi; 7 samples are too few.
 */
static void test_recommend(void **state)
{
	static struct llmo__vhist cpu, mem;
	struct llmo__recommendation r;

	(void)state;
	memset(&cpu, 0, sizeof(cpu));
	memset(&mem, 0, sizeof(mem));
	for (int i = 1; i <= 7; i++) {
		llmo__vhist_add(&cpu, i * 100);
		llmo__vhist_add(&mem, (double)(i * 100 * MIB));
	}
	llmo__vertical_compute(&cpu, &mem, 8000, 32 * GIB, &r);
	assert_false(r.valid);
	assert_string_equal(r.reason, "7 usage samples of the 8 needed");
	for (int i = 8; i <= 20; i++) {
		if (i <= 10)
			llmo__vhist_add(&cpu, i * 100);
		llmo__vhist_add(&mem, (double)(i * 100 * MIB));
	}
	llmo__vertical_compute(&cpu, &mem, 8000, 32 * GIB, &r);
	assert_true(r.valid);
	assert_int_equal(r.samples, 10);
	assert_int_equal(r.cpu_milli, 1035);
	assert_int_equal(r.memory, 2185 * MIB);
	assert_string_equal(r.reason, "p90 cpu 900m, p95 memory 1900Mi, +15%");
	llmo__vertical_compute(&cpu, &mem, 1000, 2 * GIB, &r);
	assert_int_equal(r.cpu_milli, 1000);
	assert_int_equal(r.memory, 2 * GIB);
	assert_non_null(strstr(r.reason, "capped by maxCPUPerWorkload and maxMemoryPerWorkload"));
	memset(&cpu, 0, sizeof(cpu));
	memset(&mem, 0, sizeof(mem));
	for (int i = 0; i < 8; i++) {
		llmo__vhist_add(&cpu, 10);
		llmo__vhist_add(&mem, (double)(100 * MIB));
	}
	llmo__vertical_compute(&cpu, &mem, 8000, 32 * GIB, &r);
	assert_int_equal(r.cpu_milli, LLMO__VERT_CPU_FLOOR_MILLI);
	assert_int_equal(r.memory, LLMO__VERT_MEMORY_FLOOR);
}

/* The status object: updatedAt moves only with the values; a restart keeps the old ones. */
static void test_recommendation_status(void **state)
{
	struct llmo__recommendation r = {.valid = true, .cpu_milli = 575, .memory = 3533 * MIB};
	json_t *old = json_pack("{s:s, s:s, s:s}", "cpu", "575m", "memory", "3533Mi", "updatedAt",
				"2026-11-26T00:00:00Z");
	json_t *st;

	(void)state;
	snprintf(r.reason, sizeof(r.reason), "why");
	st = llmo__vertical_status(old, &r, 1800000000000);
	assert_string_equal(json_string_value(json_object_get(st, "updatedAt")),
			    "2026-11-26T00:00:00Z");
	assert_string_equal(json_string_value(json_object_get(st, "reason")), "why");
	json_decref(st);
	r.cpu_milli = 600;
	st = llmo__vertical_status(old, &r, 1800000000000);
	assert_string_equal(json_string_value(json_object_get(st, "cpu")), "600m");
	assert_string_equal(json_string_value(json_object_get(st, "updatedAt")),
			    "2027-01-15T08:00:00Z");
	json_decref(st);
	r.valid = false;
	snprintf(r.reason, sizeof(r.reason), "0 usage samples of the 8 needed");
	st = llmo__vertical_status(old, &r, 1800000000000);
	assert_string_equal(json_string_value(json_object_get(st, "cpu")), "575m");
	assert_string_equal(json_string_value(json_object_get(st, "memory")), "3533Mi");
	assert_string_equal(json_string_value(json_object_get(st, "reason")),
			    "0 usage samples of the 8 needed");
	json_decref(st);
	st = llmo__vertical_status(NULL, &r, 1800000000000);
	assert_null(json_object_get(st, "cpu"));
	json_decref(st);
	json_decref(old);
}

/* Precedence: spec.resources pins a resource; only vertical and hybrid take the status's. */
static void test_requests_precedence(void **state)
{
	json_t *w = json_pack("{s:{s:{s:s}, s:{s:s}}, s:{s:{s:s, s:s}}}", "spec", "scaling",
			      "strategy", "hybrid", "resources", "cpu", "2", "status",
			      "recommendation", "cpu", "575m", "memory", "3533Mi");
	int64_t cpu, mem;

	(void)state;
	llmo__vertical_requests(w, &cpu, &mem);
	assert_int_equal(cpu, 0); /* pinned */
	assert_int_equal(mem, 3533 * MIB * 1000);
	json_object_set_new(json_object_get(json_object_get(w, "spec"), "scaling"), "strategy",
			    json_string("horizontal"));
	llmo__vertical_requests(w, &cpu, &mem);
	assert_int_equal(mem, 0);
	json_decref(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_usage_text),
		cmocka_unit_test(test_usage_text_gpu),
		cmocka_unit_test(test_gpu_percent),
		cmocka_unit_test(test_usage_rule),
		cmocka_unit_test(test_usage_percent),
		cmocka_unit_test(test_percentile_ring),
		cmocka_unit_test(test_recommend),
		cmocka_unit_test(test_recommendation_status),
		cmocka_unit_test(test_requests_precedence),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
