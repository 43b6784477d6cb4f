/*
 * GPU memory requests in the live scheduler (src/scheduler/binder.h): the
 * share a request of M bytes per GPU takes of a GPU of G bytes, and where a
 * node's G comes from. Expectations are worked by hand:
 *
 *   20Gi of an 80Gi GPU is 1000 * 20 / 80 = 250m; 30Gi of 80Gi 375m;
 *   48Gi of 80Gi 600m; 20Gi of 40Gi 500m; one byte of 80Gi rounds up to 1m;
 *   a share of 500m asking 60Gi of 80Gi takes the larger, 750m; one asking
 *   10Gi of 80Gi keeps its 500m (125m is less);
 *   48Gi does not fit a 40Gi GPU (-1), as a share or as a whole GPU;
 *   a whole GPU (1000m) with 48Gi of an 80Gi GPU stays 1000m; no GPU
 *   memory leaves the request as it is; an unknown GPU size (0) fits no
 *   memory request.
 *
 * A node's GPU memory: the smallest memoryTotalBytes of its gpu-devices
 * entries (40Gi of 40Gi and 80Gi), else the nvidia.com/gpu.memory label in
 * MiB (81920 MiB = 80Gi), else 0.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/common.h"

#include <jansson.h>

#include "scheduler/binder_int.h"

#define GI (INT64_C(1) << 30)

static void test_share(void **state)
{
	(void)state;
	assert_int_equal(llmo__binder_gpu_share(0, 20 * GI, 80 * GI), 250);
	assert_int_equal(llmo__binder_gpu_share(100, 20 * GI, 80 * GI), 250);
	assert_int_equal(llmo__binder_gpu_share(0, 30 * GI, 80 * GI), 375);
	assert_int_equal(llmo__binder_gpu_share(0, 48 * GI, 80 * GI), 600);
	assert_int_equal(llmo__binder_gpu_share(0, 20 * GI, 40 * GI), 500);
	assert_int_equal(llmo__binder_gpu_share(0, 1, 80 * GI), 1);
	assert_int_equal(llmo__binder_gpu_share(500, 60 * GI, 80 * GI), 750);
	assert_int_equal(llmo__binder_gpu_share(500, 10 * GI, 80 * GI), 500);
	assert_int_equal(llmo__binder_gpu_share(0, 80 * GI, 80 * GI), 1000);
	assert_int_equal(llmo__binder_gpu_share(0, 48 * GI, 40 * GI), -1);
	assert_int_equal(llmo__binder_gpu_share(1000, 48 * GI, 40 * GI), -1);
	assert_int_equal(llmo__binder_gpu_share(1000, 48 * GI, 80 * GI), 1000);
	assert_int_equal(llmo__binder_gpu_share(2000, 48 * GI, 80 * GI), 2000);
	assert_int_equal(llmo__binder_gpu_share(300, 0, 0), 300);
	assert_int_equal(llmo__binder_gpu_share(300, 1, 0), -1);
	/* near the top of int64_t: half of the GPU, no overflow */
	assert_int_equal(llmo__binder_gpu_share(0, INT64_MAX / 2, INT64_MAX - 1), 500);
}

static int64_t node_memory(const char *text)
{
	json_t *node = json_loads(text, 0, NULL);
	int64_t m;

	assert_non_null(node);
	m = llmo__binder_node_gpu_memory(node);
	json_decref(node);
	return m;
}

static void test_node_memory(void **state)
{
	(void)state;
	assert_int_equal(
		node_memory("{\"metadata\":{\"annotations\":{\"llm.orchestrator.io/gpu-devices\":"
			    "\"[{\\\"uuid\\\":\\\"g0\\\",\\\"memoryTotalBytes\\\":85899345920},"
			    "{\\\"uuid\\\":\\\"g1\\\",\\\"memoryTotalBytes\\\":42949672960}]\"},"
			    "\"labels\":{\"nvidia.com/gpu.memory\":\"1\"}}}"),
		40 * GI);
	assert_int_equal(node_memory("{\"metadata\":{\"labels\":{\"nvidia.com/gpu.memory\":"
				     "\"81920\"}}}"),
			 80 * GI);
	assert_int_equal(node_memory("{\"metadata\":{\"labels\":{\"nvidia.com/gpu.memory\":"
				     "\"80Gi\"}}}"),
			 0);
	assert_int_equal(node_memory("{\"metadata\":{\"annotations\":{"
				     "\"llm.orchestrator.io/gpu-devices\":\"not json\"}}}"),
			 0);
	assert_int_equal(node_memory("{\"metadata\":{}}"), 0);
}

/* The pod's request takes its GPU memory annotation, in bytes (rounded up). */
static void test_pod_request(void **state)
{
	json_t *pod = json_loads("{\"metadata\":{\"annotations\":{"
				 "\"llm.orchestrator.io/gpu-memory\":\"20Gi\"}},"
				 "\"spec\":{\"containers\":[{\"resources\":{\"requests\":"
				 "{\"nvidia.com/gpu\":\"500m\"}}}]}}",
				 0, NULL);
	struct llmo__binder_usage u;

	(void)state;
	assert_non_null(pod);
	llmo__binder_pod_request(pod, &u);
	assert_int_equal(u.gpu_mem, 20 * GI);
	assert_int_equal(u.v[RES_GPU], 500);
	json_object_set_new(json_object_get(json_object_get(pod, "metadata"), "annotations"),
			    "llm.orchestrator.io/gpu-memory", json_string("lots"));
	llmo__binder_pod_request(pod, &u);
	assert_int_equal(u.gpu_mem, 0);
	json_decref(pod);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_share),
		cmocka_unit_test(test_node_memory),
		cmocka_unit_test(test_pod_request),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
