/*
 * The controller's node resource families (src/controller/node_metrics.c)
 * from hand-written Nodes and Pods, checked line by line in the /metrics
 * text against values computed by hand in the comments.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/common.h"

#include <jansson.h>

#include "base/buf.h"
#include "controller/controller_int.h"
#include "metrics/metrics.h"

/*
 * Node n1: 8 cpu, 32Gi, 2 GPUs; GPU 0 at 37% with 10 GiB of 80 GiB used,
 * GPU 1 at 80% with 20 GiB used. Node n2: 4 cpu, 16Gi, no GPU, no pods;
 * its one device entry reports no utilization.
 */
static const char *const nodes_json =
	"[{\"metadata\":{\"name\":\"n1\",\"annotations\":{\"llm.orchestrator.io/gpu-devices\":"
	"\"[{\\\"index\\\":0,\\\"uuid\\\":\\\"GPU-a\\\",\\\"name\\\":\\\"NVIDIA H100\\\","
	"\\\"memoryTotalBytes\\\":85899345920,\\\"memoryUsedBytes\\\":10737418240,"
	"\\\"utilizationGpuPercent\\\":37},"
	"{\\\"index\\\":1,\\\"uuid\\\":\\\"GPU-b\\\",\\\"name\\\":\\\"NVIDIA H100\\\","
	"\\\"memoryTotalBytes\\\":85899345920,\\\"memoryUsedBytes\\\":21474836480,"
	"\\\"utilizationGpuPercent\\\":80}]\"}},"
	"\"status\":{\"allocatable\":{\"cpu\":\"8\",\"memory\":\"32Gi\",\"nvidia.com/gpu\":\"2\","
	"\"pods\":\"110\"}}},"
	"{\"metadata\":{\"name\":\"n2\",\"annotations\":{\"llm.orchestrator.io/gpu-devices\":"
	"\"[{\\\"index\\\":0,\\\"name\\\":\\\"FAKE-GPU\\\",\\\"memoryTotalBytes\\\":1024,"
	"\\\"memoryUsedBytes\\\":0}]\"}},"
	"\"status\":{\"allocatable\":{\"cpu\":\"4000m\",\"memory\":\"16Gi\"}}}]";

/*
 * On n1: a (500m cpu, 1Gi, 1 GPU; uses 1500m and 256 MiB), b (two
 * containers 200m + 50m, 512Mi as a limit only; uses 250m and 128 MiB),
 * s (a 250m GPU share given by the scheduler; no usage), and finished
 * pods that must not count (Succeeded, Failed). Elsewhere: one on an
 * unknown node and one not placed.
 */
static const char *const pods_json =
	"[{\"metadata\":{\"name\":\"a\",\"annotations\":{\"llm.orchestrator.io/usage\":"
	"\"{\\\"cpu\\\":1500,\\\"memory\\\":268435456,\\\"at\\\":\\\"2026-11-27T00:00:00Z\\\"}\"}},"
	"\"spec\":{\"nodeName\":\"n1\",\"containers\":[{\"resources\":{\"requests\":{\"cpu\":\"500m\","
	"\"memory\":\"1Gi\",\"nvidia.com/gpu\":\"1\"}}}]},\"status\":{\"phase\":\"Running\"}},"
	"{\"metadata\":{\"name\":\"b\",\"annotations\":{\"llm.orchestrator.io/usage\":"
	"\"{\\\"cpu\\\":250,\\\"memory\\\":134217728,\\\"at\\\":\\\"2026-11-27T00:00:00Z\\\"}\"}},"
	"\"spec\":{\"nodeName\":\"n1\",\"containers\":[{\"resources\":{\"requests\":{\"cpu\":\"200m\"},"
	"\"limits\":{\"memory\":\"512Mi\"}}},{\"resources\":{\"requests\":{\"cpu\":\"50m\"}}}]},"
	"\"status\":{\"phase\":\"Pending\"}},"
	"{\"metadata\":{\"name\":\"s\",\"annotations\":{\"llm.orchestrator.io/gpu-share\":\"250m\"}},"
	"\"spec\":{\"nodeName\":\"n1\",\"containers\":[{\"resources\":{}}]},"
	"\"status\":{\"phase\":\"Running\"}},"
	"{\"metadata\":{\"name\":\"done\"},\"spec\":{\"nodeName\":\"n1\",\"containers\":[{\"resources\":"
	"{\"requests\":{\"cpu\":\"4\",\"nvidia.com/gpu\":\"1\"}}}]},\"status\":{\"phase\":\"Succeeded\"}},"
	"{\"metadata\":{\"name\":\"failed\",\"annotations\":{\"llm.orchestrator.io/usage\":"
	"\"{\\\"cpu\\\":9000,\\\"memory\\\":1,\\\"at\\\":\\\"2026-11-27T00:00:00Z\\\"}\"}},"
	"\"spec\":{\"nodeName\":\"n1\",\"containers\":[{\"resources\":{\"requests\":{\"cpu\":\"4\"}}}]},"
	"\"status\":{\"phase\":\"Failed\"}},"
	"{\"metadata\":{\"name\":\"lost\"},\"spec\":{\"nodeName\":\"gone\",\"containers\":[{\"resources\":"
	"{\"requests\":{\"cpu\":\"1\"}}}]},\"status\":{\"phase\":\"Running\"}},"
	"{\"metadata\":{\"name\":\"pending\"},\"spec\":{\"containers\":[{\"resources\":"
	"{\"requests\":{\"cpu\":\"1\"}}}]},\"status\":{\"phase\":\"Pending\"}}]";

/* The exposition of the node families for nodes and pods (JSON text or NULL). */
static char *render(const char *nodes_text, const char *pods_text)
{
	struct llmo_metrics *m = NULL;
	struct llmo_error err = {0};
	struct llmo_buf out;
	json_t *nodes = nodes_text ? json_loads(nodes_text, 0, NULL) : NULL;
	json_t *pods = pods_text ? json_loads(pods_text, 0, NULL) : NULL;
	char *text;

	assert_true(!nodes_text || nodes);
	assert_true(!pods_text || pods);
	llmo_buf_init(&out, 1 << 20);
	assert_int_equal(llmo_metrics_new(&m), 0);
	if (llmo__node_metrics_put(m, nodes, pods, &err))
		fail_msg("node metrics: %s", err.msg);
	assert_int_equal(llmo_metrics_write(m, &out), 0);
	text = strdup(out.data ? out.data : "");
	assert_non_null(text);
	llmo_buf_release(&out);
	llmo_metrics_free(m);
	json_decref(nodes);
	json_decref(pods);
	return text;
}

/* Whether text has line as one whole line. */
static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; (p = strstr(p, line)); p++) {
		if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
			return true;
	}
	return false;
}

static void expect(const char *text, const char *line)
{
	if (!has_line(text, line))
		fail_msg("missing line: %s\n--- got:\n%s", line, text);
}

static void test_node_families(void **state)
{
	char *t = render(nodes_json, pods_json);

	(void)state;
	/* per GPU, as the agent measured */
	expect(t, "llmo_node_gpu_utilization_percent{node=\"n1\",gpu=\"0\",model=\"NVIDIA H100\"} 37");
	expect(t, "llmo_node_gpu_utilization_percent{node=\"n1\",gpu=\"1\",model=\"NVIDIA H100\"} 80");
	expect(t, "llmo_node_gpu_memory_used_bytes{node=\"n1\",gpu=\"0\"} 10737418240");
	expect(t, "llmo_node_gpu_memory_used_bytes{node=\"n1\",gpu=\"1\"} 21474836480");
	expect(t, "llmo_node_gpu_memory_total_bytes{node=\"n1\",gpu=\"1\"} 85899345920");
	/* n2's GPU reports no utilization: memory only */
	assert_null(strstr(t, "llmo_node_gpu_utilization_percent{node=\"n2\""));
	expect(t, "llmo_node_gpu_memory_total_bytes{node=\"n2\",gpu=\"0\"} 1024");
	/* allocatable: 8 cores, 32 * 2^30 bytes, 2 GPUs; n2 has no nvidia.com/gpu */
	expect(t, "llmo_node_allocatable{node=\"n1\",resource=\"cpu\"} 8");
	expect(t, "llmo_node_allocatable{node=\"n1\",resource=\"memory\"} 34359738368");
	expect(t, "llmo_node_allocatable{node=\"n1\",resource=\"gpu\"} 2");
	expect(t, "llmo_node_allocatable{node=\"n2\",resource=\"cpu\"} 4");
	expect(t, "llmo_node_allocatable{node=\"n2\",resource=\"gpu\"} 0");
	/*
	 * requested on n1 (a, b, s; not done, failed): cpu 500m + 200m + 50m =
	 * 0.75 cores; memory 1Gi + 512Mi (b's limit) = 1610612736; gpu 1 + 0.25
	 */
	expect(t, "llmo_node_requested{node=\"n1\",resource=\"cpu\"} 0.75");
	expect(t, "llmo_node_requested{node=\"n1\",resource=\"memory\"} 1610612736");
	expect(t, "llmo_node_requested{node=\"n1\",resource=\"gpu\"} 1.25");
	expect(t, "llmo_node_requested{node=\"n2\",resource=\"cpu\"} 0");
	/* used on n1: 1500m + 250m = 1.75 cores; 256 MiB + 128 MiB = 402653184 */
	expect(t, "llmo_node_used{node=\"n1\",resource=\"cpu\"} 1.75");
	expect(t, "llmo_node_used{node=\"n1\",resource=\"memory\"} 402653184");
	expect(t, "llmo_node_used{node=\"n2\",resource=\"memory\"} 0");
	/* no series for a node that is not listed */
	assert_null(strstr(t, "node=\"gone\""));
	free(t);
}

/* With nothing listed (a failed list) the families are still declared, with no samples. */
static void test_declared_without_nodes(void **state)
{
	char *t = render(NULL, NULL);

	(void)state;
	expect(t, "# TYPE llmo_node_gpu_utilization_percent gauge");
	expect(t, "# TYPE llmo_node_gpu_memory_used_bytes gauge");
	expect(t, "# TYPE llmo_node_gpu_memory_total_bytes gauge");
	expect(t, "# TYPE llmo_node_allocatable gauge");
	expect(t, "# TYPE llmo_node_requested gauge");
	expect(t, "# TYPE llmo_node_used gauge");
	assert_null(strstr(t, "{node="));
	free(t);
}

/* Malformed annotations and quantities are skipped, not fatal. */
static void test_malformed(void **state)
{
	char *t = render("[{\"metadata\":{\"name\":\"x\",\"annotations\":{"
			 "\"llm.orchestrator.io/gpu-devices\":\"not json\"}},"
			 "\"status\":{\"allocatable\":{\"cpu\":\"8Gb\",\"memory\":\"1Gi\"}}}]",
			 "[{\"metadata\":{\"name\":\"p\",\"annotations\":{"
			 "\"llm.orchestrator.io/usage\":\"{\\\"cpu\\\":\\\"x\\\"}\"}},"
			 "\"spec\":{\"nodeName\":\"x\",\"containers\":[{\"resources\":{\"requests\":"
			 "{\"cpu\":\"lots\",\"memory\":\"2Gi\"}}}]}}]");

	(void)state;
	expect(t, "llmo_node_allocatable{node=\"x\",resource=\"cpu\"} 0");
	expect(t, "llmo_node_allocatable{node=\"x\",resource=\"memory\"} 1073741824");
	expect(t, "llmo_node_requested{node=\"x\",resource=\"cpu\"} 0");
	expect(t, "llmo_node_requested{node=\"x\",resource=\"memory\"} 2147483648");
	expect(t, "llmo_node_used{node=\"x\",resource=\"cpu\"} 0");
	assert_null(strstr(t, "llmo_node_gpu_memory_total_bytes{"));
	free(t);
}

/* Each element of the JSON array text through fn (the informer transforms). */
static char *transformed(const char *text, json_t *(*fn)(void *, const json_t *))
{
	json_t *in = json_loads(text, 0, NULL), *out = json_array(), *o;
	size_t i;
	char *dump;

	assert_non_null(in);
	json_array_foreach(in, i, o) {
		json_t *t = fn(NULL, o);

		assert_non_null(t);
		assert_int_equal(json_array_append_new(out, t), 0);
	}
	dump = json_dumps(out, JSON_COMPACT);
	assert_non_null(dump);
	json_decref(in);
	json_decref(out);
	return dump;
}

/*
 * The controller caches Nodes and Pods trimmed by the transforms: the
 * families from the trimmed objects are the same text as from the whole
 * ones, and what is not read (another annotation, a container's env and
 * image, labels) is gone while the cache's key stays.
 */
static void test_transforms_keep_what_is_read(void **state)
{
	char *nodes = transformed(nodes_json, llmo__node_metrics_node_transform);
	char *pods = transformed(pods_json, llmo__node_metrics_pod_transform);
	char *whole = render(nodes_json, pods_json), *trimmed = render(nodes, pods);
	char *extra = transformed(
		"[{\"metadata\":{\"name\":\"p\",\"namespace\":\"ns\",\"resourceVersion\":\"7\","
		"\"labels\":{\"a\":\"b\"},\"annotations\":{\"other\":\"x\"}},"
		"\"spec\":{\"nodeName\":\"n1\",\"containers\":[{\"name\":\"c\",\"image\":\"i\","
		"\"env\":[{\"name\":\"K\",\"value\":\"V\"}],\"resources\":{\"requests\":"
		"{\"cpu\":\"1\"}}}]},\"status\":{\"phase\":\"Running\",\"podIP\":\"10.0.0.1\"}}]",
		llmo__node_metrics_pod_transform);

	(void)state;
	assert_string_equal(trimmed, whole);
	assert_string_equal(extra, "[{\"metadata\":{\"name\":\"p\",\"namespace\":\"ns\","
				   "\"resourceVersion\":\"7\"},\"spec\":{\"nodeName\":\"n1\","
				   "\"containers\":[{\"resources\":{\"requests\":{\"cpu\":\"1\"}}}]},"
				   "\"status\":{\"phase\":\"Running\"}}]");
	free(nodes);
	free(pods);
	free(whole);
	free(trimmed);
	free(extra);
}

/*
 * A node's own usage annotation: 3100 millicores = 3.1 cores, 8 GiB, and
 * network rates; a node whose annotation has no network figures gets no
 * network series; a malformed one gets none at all.
 */
static void test_node_own_usage(void **state)
{
	static const char usage_nodes[] = "[{\"metadata\":{\"name\":\"u1\",\"annotations\":{"
			 "\"llm.orchestrator.io/usage\":\"{\\\"cpu\\\":3100,"
			 "\\\"memory\\\":8589934592,\\\"netRx\\\":125000,"
			 "\\\"netTx\\\":98000,\\\"at\\\":\\\"2026-11-27T00:00:00Z\\\"}\"}}},"
			 "{\"metadata\":{\"name\":\"u2\",\"annotations\":{"
			 "\"llm.orchestrator.io/usage\":\"{\\\"cpu\\\":500,"
			 "\\\"memory\\\":1024,\\\"at\\\":\\\"2026-11-27T00:00:00Z\\\"}\"}}},"
			 "{\"metadata\":{\"name\":\"u3\",\"annotations\":{"
			 "\"llm.orchestrator.io/usage\":\"{\\\"cpu\\\":-1}\"}}}]";
	char *t = render(usage_nodes, "[]");
	char *trimmed = transformed(usage_nodes, llmo__node_metrics_node_transform);
	char *t2 = render(trimmed, "[]");

	(void)state;
	/* the controller's node cache keeps the annotation (the transform) */
	assert_string_equal(t2, t);
	free(trimmed);
	free(t2);
	expect(t, "llmo_node_cpu_used_cores{node=\"u1\"} 3.1");
	expect(t, "llmo_node_memory_used_bytes{node=\"u1\"} 8589934592");
	expect(t, "llmo_node_network_receive_bytes_per_second{node=\"u1\"} 125000");
	expect(t, "llmo_node_network_transmit_bytes_per_second{node=\"u1\"} 98000");
	expect(t, "llmo_node_cpu_used_cores{node=\"u2\"} 0.5");
	expect(t, "llmo_node_memory_used_bytes{node=\"u2\"} 1024");
	assert_null(strstr(t, "llmo_node_network_receive_bytes_per_second{node=\"u2\"}"));
	assert_null(strstr(t, "llmo_node_cpu_used_cores{node=\"u3\"}"));
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_node_families),
		cmocka_unit_test(test_declared_without_nodes),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_node_own_usage),
		cmocka_unit_test(test_transforms_keep_what_is_read),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
