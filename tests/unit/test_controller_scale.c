/*
 * The controller's autoscaler configuration (src/controller/scale.h,
 * llmo__scale_config): a predictive workload that states its replica slots
 * (annotation llm.orchestrator.io/replica-slots) and has a QoS class with a
 * time to first token objective gets the queueing sizing's replica_slots and
 * slo_wait (the objective less the model's unloaded TTFT, worked out by hand
 * below); without either, the configuration is the one built before they
 * existed; a bad annotation is refused with a message naming it. And the
 * measured cold start (the predictive horizon) leaves out restarted replicas.
 */
#include "base/common.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "api/config.h"
#include "autoscale/autoscaler.h"
#include "controller/controller.h"
#include "controller/scale.h"

#define MS INT64_C(1000000)

/* The configuration's defaults, with standard's maxLatency as given (0: left at 200). */
static void config(struct llmo_config *cfg, int standard_ms)
{
	struct llmo_errlist errs;
	json_t *user = standard_ms ? json_pack("{s:{s:{s:{s:i}}}}", "scheduler", "qosClasses",
					       "standard", "maxLatency", standard_ms)
				   : json_object();

	llmo_errlist_init(&errs);
	assert_int_equal(llmo_config_from_json(user, cfg, &errs), 0);
	assert_int_equal(errs.v.len, 0);
	llmo_errlist_release(&errs);
	json_decref(user);
}

/* The workload chat: queue_length 8 per replica, then requests_per_second 10. */
static json_t *workload(const char *qos, const char *slots)
{
	json_t *w = json_pack(
		"{s:s, s:s, s:{s:s, s:s}, s:{s:s, s:s, s:{s:i, s:i, s:[{s:s, s:f}, {s:s, s:f}]}}}",
		"apiVersion", "llm.orchestrator.io/v1", "kind", "LLMWorkload", "metadata", "name",
		"chat", "namespace", "default", "spec", "modelName", "llama2", "modelVersion", "7b",
		"scaling", "minReplicas", 1, "maxReplicas", 20, "targetMetrics", "type",
		"queue_length", "target", 8.0, "type", "requests_per_second", "target", 10.0);

	if (qos)
		json_object_set_new(json_object_get(w, "spec"), "qosClass", json_string(qos));
	if (slots)
		json_object_set_new(json_object_get(w, "metadata"), "annotations",
				    json_pack("{s:s}", LLMO_ANNOTATION_REPLICA_SLOTS, slots));
	return w;
}

/* An LLMModel whose benchmarks' median TTFTs are 80 ms (loaded) and 45.5 ms (least loaded). */
static json_t *model(void)
{
	return json_pack("{s:{s:[{s:s, s:i, s:f, s:f}, {s:s, s:i, s:f, s:f}]}}", "status",
			 "benchmarks", "gpuType", "A100", "concurrency", 16, "ttftP50Ms", 80.0,
			 "ttftP95Ms", 120.0, "gpuType", "H100", "concurrency", 1, "ttftP50Ms",
			 45.5, "ttftP95Ms", 60.0);
}

static int build(const struct llmo_config *cfg, const json_t *w, const json_t *m, int policy,
		 struct llmo_as_config *out, struct llmo_error *err)
{
	struct llmo__scale_in in = {.key = "default/chat", .w = w, .generation = 1,
				    .has_targets = true, .min = 1, .max = 20,
				    .cold_start_ms = 30000, .model = m};

	return llmo__scale_config(cfg, &in, policy, out, err);
}

/*
 * 32 slots and the standard class (200 ms): the wait budget is 200 - 45.5 =
 * 154.5 ms. The rest is as before: forecast arrivals, the horizon 30 s.
 */
static void test_queue_inputs(void **state)
{
	struct llmo_config cfg = {0};
	struct llmo_as_config as;
	struct llmo_error err = {0};
	json_t *w = workload("standard", "32"), *m = model();

	(void)state;
	config(&cfg, 0);
	assert_int_equal(build(&cfg, w, m, LLMO_AS_PREDICTIVE, &as, &err), 0);
	assert_int_equal(as.replica_slots, 32);
	assert_int_equal(as.slo_wait, 154500000);
	assert_int_equal(as.forecast_metric, LLMO_METRIC_REQUESTS_PER_SECOND);
	assert_int_equal(as.targets[0].metric, LLMO_METRIC_QUEUE_LENGTH);
	assert_int_equal(as.cold_start, 30000 * MS);

	/* without a benchmark, the whole objective: 200 ms */
	assert_int_equal(build(&cfg, w, NULL, LLMO_AS_PREDICTIVE, &as, &err), 0);
	assert_int_equal(as.replica_slots, 32);
	assert_int_equal(as.slo_wait, 200 * MS);
	llmo_config_free(&cfg);

	/* the configuration's objective for the class: 500 - 45.5 = 454.5 ms */
	config(&cfg, 500);
	assert_int_equal(build(&cfg, w, m, LLMO_AS_PREDICTIVE, &as, &err), 0);
	assert_int_equal(as.slo_wait, 454500000);
	llmo_config_free(&cfg);
	json_decref(w);
	json_decref(m);
}

/*
 * Without the annotation, without a class, or with an objective the unloaded
 * TTFT (45.5 ms) takes whole (40 or 45 ms), the configuration equals the one
 * built for the bare workload: slots and wait 0. Premium's 50 ms leaves
 * 4.5 ms; the reactive policy takes neither.
 */
static void test_queue_inputs_off(void **state)
{
	struct llmo_config cfg = {0};
	struct llmo_as_config bare, as;
	struct llmo_error err = {0};
	json_t *plain = workload(NULL, NULL), *m = model();
	struct {
		const char *qos, *slots;
		int policy, standard_ms;
	} cases[] = {
		{"standard", NULL, LLMO_AS_PREDICTIVE, 0}, /* no slots */
		{NULL, "32", LLMO_AS_PREDICTIVE, 0},       /* no class */
		{"standard", "32", LLMO_AS_PREDICTIVE, 40}, /* 40 - 45.5 < 0: no wait left */
		{"standard", "32", LLMO_AS_PREDICTIVE, 45}, /* 45 - 45.5 < 0 */
	};

	(void)state;
	config(&cfg, 0);
	assert_int_equal(build(&cfg, plain, m, LLMO_AS_PREDICTIVE, &bare, &err), 0);
	assert_int_equal(bare.replica_slots, 0);
	assert_int_equal(bare.slo_wait, 0);
	llmo_config_free(&cfg);
	for (size_t i = 0; i < LLMO_ARRAY_LEN(cases); i++) {
		json_t *w = workload(cases[i].qos, cases[i].slots);

		config(&cfg, cases[i].standard_ms);
		assert_int_equal(build(&cfg, w, m, cases[i].policy, &as, &err), 0);
		assert_memory_equal(&as, &bare, sizeof(as));
		llmo_config_free(&cfg);
		json_decref(w);
	}

	/* premium (50 ms) less 45.5 leaves 4.5 ms: still a wait budget */
	{
		json_t *w = workload("premium", "8");

		config(&cfg, 0);
		assert_int_equal(build(&cfg, w, m, LLMO_AS_PREDICTIVE, &as, &err), 0);
		assert_int_equal(as.replica_slots, 8);
		assert_int_equal(as.slo_wait, 4500000);
		/* the reactive policy has no use for them */
		assert_int_equal(build(&cfg, w, m, LLMO_AS_REACTIVE, &as, &err), 0);
		assert_int_equal(as.replica_slots, 0);
		assert_int_equal(as.slo_wait, 0);
		llmo_config_free(&cfg);
		json_decref(w);
	}
	json_decref(plain);
	json_decref(m);
}

/* Not an integer from 1 to LLMO_AS_SLOTS_MAX: refused, the message names the annotation. */
static void test_queue_inputs_bad(void **state)
{
	const char *bad[] = {"0", "-4", "4097", "32x", "", "many", "1e3"};
	struct llmo_config cfg = {0};
	struct llmo_as_config as;

	(void)state;
	config(&cfg, 0);
	for (size_t i = 0; i < LLMO_ARRAY_LEN(bad); i++) {
		struct llmo_error err = {0};
		json_t *w = workload("standard", bad[i]);

		assert_int_equal(build(&cfg, w, NULL, LLMO_AS_PREDICTIVE, &as, &err), LLMO_EINVAL);
		assert_non_null(strstr(err.msg, LLMO_ANNOTATION_REPLICA_SLOTS));
		assert_non_null(strstr(err.msg, "from 1 to 4096"));
		json_decref(w);
	}
	{
		struct llmo_error err = {0};
		json_t *w = workload("standard", "4096");

		assert_int_equal(build(&cfg, w, NULL, LLMO_AS_PREDICTIVE, &as, &err), 0);
		assert_int_equal(as.replica_slots, 4096);
		json_decref(w);
	}
	llmo_config_free(&cfg);
}

/* A Ready pod created at 10:00:00 and Ready at 10:00:SS, its container restarted `restarts` times. */
static json_t *ready_pod(int ready_s, int restarts)
{
	char at[32];

	snprintf(at, sizeof(at), "2026-01-01T10:%02d:%02dZ", ready_s / 60, ready_s % 60);
	return json_pack("{s:{s:s}, s:{s:[{s:s, s:s, s:s}], s:[{s:s, s:i}]}}", "metadata",
			 "creationTimestamp", "2026-01-01T10:00:00Z", "status", "conditions", "type",
			 "Ready", "status", "True", "lastTransitionTime", at, "containerStatuses",
			 "name", "model-server", "restartCount", restarts);
}

/*
 * The cold start is pod created -> Ready over the replicas that never
 * restarted: a restart makes the pod Ready again at the restart, which is its
 * age, not a cold start (bench/autoscale/e2e_fluid.sh saw 4 s become 226 s).
 * With none left it is unknown (0), and the configuration assumes 60 s.
 */
static void test_cold_start(void **state)
{
	json_t *p4 = ready_pod(4, 0), *p6 = ready_pod(6, 0), *old = ready_pod(226, 1);
	const json_t *two[] = {p4, old}, *three[] = {p4, p6, old}, *none[] = {old};
	struct llmo_config cfg = {0};
	struct llmo_as_config as;
	struct llmo_error err = {0};
	json_t *w = workload("standard", "32");
	struct llmo__scale_in in = {.key = "default/chat", .w = w, .generation = 1,
				    .has_targets = true, .min = 1, .max = 20};

	(void)state;
	/* the restarted pod would be the median of two (the upper one) */
	assert_int_equal(llmo__scale_cold_start_ms(two, 2), 4000);
	assert_int_equal(llmo__scale_cold_start_ms(three, 3), 6000);
	assert_int_equal(llmo__scale_cold_start_ms(none, 1), 0);
	assert_int_equal(llmo__scale_cold_start_ms(NULL, 0), 0);
	config(&cfg, 0);
	assert_int_equal(llmo__scale_config(&cfg, &in, LLMO_AS_PREDICTIVE, &as, &err), 0);
	assert_int_equal(as.cold_start, 60000 * MS);
	in.cold_start_ms = llmo__scale_cold_start_ms(two, 2);
	assert_int_equal(llmo__scale_config(&cfg, &in, LLMO_AS_PREDICTIVE, &as, &err), 0);
	assert_int_equal(as.cold_start, 4000 * MS);
	llmo_config_free(&cfg);
	json_decref(w);
	json_decref(p4);
	json_decref(p6);
	json_decref(old);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_queue_inputs),
		cmocka_unit_test(test_queue_inputs_off),
		cmocka_unit_test(test_queue_inputs_bad),
		cmocka_unit_test(test_cold_start),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
