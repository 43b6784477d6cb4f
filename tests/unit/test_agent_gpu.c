/*
 * GPU discovery: --fake-gpus specs, the JSON report, and NVML being absent
 * (a machine without GPUs is not an error), and the NVML path through a
 * stand-in libnvidia-ml (tests/unit/fake_nvml.c): figures, pod usage and
 * NVLink domains. Real NVML is checked on a GPU machine (see docs/agent.md).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "agent/node.h"
#include "scheduler/topology.h"

#include <dlfcn.h>
#include <stdlib.h>

static void test_fake_specs(void **state)
{
	struct llmo_gpu_inventory inv;
	struct llmo_error err = {0};

	assert_int_equal(llmo_gpu_fake("2", &inv, &err), 0);
	assert_int_equal(inv.source, LLMO_GPU_FAKE);
	assert_int_equal(inv.gpus.len, 2);
	assert_true(inv.gpus.items[0].fake);
	assert_int_equal(inv.gpus.items[1].index, 1);
	assert_int_equal(inv.gpus.items[0].memory_total, 80ULL << 30); /* default 80Gi */
	assert_string_not_equal(inv.gpus.items[0].uuid, inv.gpus.items[1].uuid);
	llmo_gpu_inventory_release(&inv);

	assert_int_equal(llmo_gpu_fake("4:H100:80Gi", &inv, &err), 0);
	assert_int_equal(inv.gpus.len, 4);
	assert_string_equal(inv.gpus.items[3].name, "H100");
	assert_int_equal(inv.gpus.items[3].memory_total, 80ULL << 30);
	/* no topology without D; with D 4, GPUs 0-3 and 4-7 are NVLink domains 0 and 4, NUMA 0 and 1 */
	assert_int_equal(inv.gpus.items[3].nvlink_domain, -1);
	assert_int_equal(inv.gpus.items[3].numa_node, -1);
	llmo_gpu_inventory_release(&inv);
	assert_int_equal(llmo_gpu_fake("8:H100:80Gi:4", &inv, &err), 0);
	assert_int_equal(inv.gpus.len, 8);
	assert_int_equal(inv.gpus.items[3].nvlink_domain, 0);
	assert_int_equal(inv.gpus.items[4].nvlink_domain, 4);
	assert_int_equal(inv.gpus.items[7].nvlink_domain, 4);
	assert_int_equal(inv.gpus.items[3].numa_node, 0);
	assert_int_equal(inv.gpus.items[4].numa_node, 1);
	assert_int_equal(inv.gpus.items[4].memory_total, 80ULL << 30);
	llmo_gpu_inventory_release(&inv);

	assert_int_equal(llmo_gpu_fake("1:L4:24G", &inv, &err), 0);
	assert_int_equal(inv.gpus.items[0].memory_total, 24000000000ULL);
	llmo_gpu_inventory_release(&inv);

	static const char *const bad[] = {"", "0", "-1", "65", "x", "2:A100", "2::80Gi",
					  "2:A100:lots", "2:A100:0", "1:A:2Gi:0", "1:A:2Gi:",
					  "1:A:2Gi:x", "1:A:2Gi:3:4", "1:A:2Gi:65"};
	for (size_t i = 0; i < LLMO_ARRAY_LEN(bad); i++) {
		int rc = llmo_gpu_fake(bad[i], &inv, &err);

		if (rc != LLMO_EINVAL)
			fail_msg("\"%s\" accepted", bad[i]);
		assert_non_null(strstr(err.msg, "expected N, N:MODEL:MEMORY or N:MODEL:MEMORY:D"));
		llmo_gpu_inventory_release(&inv);
	}
}

static void test_json_report(void **state)
{
	struct llmo_gpu_inventory inv;
	json_t *j, *g;

	assert_int_equal(llmo_gpu_fake("1:A100:40Gi", &inv, NULL), 0);
	j = llmo_gpu_inventory_json(&inv);
	assert_string_equal(json_string_value(json_object_get(j, "source")), "fake");
	g = json_array_get(json_object_get(j, "gpus"), 0);
	assert_string_equal(json_string_value(json_object_get(g, "name")), "A100");
	assert_int_equal(json_integer_value(json_object_get(g, "memoryTotalBytes")), 40LL << 30);
	assert_true(json_is_true(json_object_get(g, "fake")));
	assert_null(json_object_get(g, "nvlinkDomain"));
	json_decref(j);
	llmo_gpu_inventory_release(&inv);

	assert_int_equal(llmo_gpu_fake("2:A100:40Gi:1", &inv, NULL), 0);
	j = llmo_gpu_inventory_json(&inv);
	g = json_array_get(json_object_get(j, "gpus"), 1);
	assert_int_equal(json_integer_value(json_object_get(g, "nvlinkDomain")), 1);
	assert_int_equal(json_integer_value(json_object_get(g, "numaNode")), 1);
	json_decref(j);
	llmo_gpu_inventory_release(&inv);
}

static void test_without_nvml(void **state)
{
	struct llmo_gpu_inventory inv;
	struct llmo_error err = {0};
	void *lib = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);

	if (lib) {
		/* a GPU machine: this case is about machines without NVML */
		dlclose(lib);
		skip();
	}
	assert_int_equal(llmo_gpu_discover(&inv, &err), 0);
	assert_int_equal(inv.source, LLMO_GPU_NONE);
	assert_int_equal(inv.gpus.len, 0);
	assert_non_null(strstr(inv.note, "NVML not available"));
	llmo_gpu_inventory_release(&inv);
}

/*
 * The NVML path against tests/unit/fake_nvml.c (two GPUs at 37% and 80%,
 * 10 and 20 GiB used): discovery reads utilization and memory, and a pod's
 * figures come from the GPUs its assignment names, by index or UUID.
 */
static void test_fake_nvml(void **state)
{
	struct llmo_gpu_inventory inv;
	struct llmo_error err = {0};
	double pct = -1;
	uint64_t mem = 0;

	setenv(LLMO_GPU_NVML_ENV, LLMO_FAKE_NVML, 1);
	assert_int_equal(llmo_gpu_discover(&inv, &err), 0);
	unsetenv(LLMO_GPU_NVML_ENV);
	assert_int_equal(inv.source, LLMO_GPU_NVML);
	assert_int_equal(inv.gpus.len, 2);
	assert_string_equal(inv.gpus.items[1].name, "NVIDIA H100 80GB HBM3");
	assert_int_equal(inv.gpus.items[0].utilization_gpu, 37);
	assert_int_equal(inv.gpus.items[1].utilization_gpu, 80);
	assert_int_equal(inv.gpus.items[1].memory_used, 20ULL << 30);
	/* both GPUs: the mean of 37 and 80, the sum of 10 and 20 GiB */
	assert_int_equal(llmo_gpu_pod_usage(&inv, "0,1", &pct, &mem), 0);
	assert_float_equal(pct, 58.5, 1e-9);
	assert_int_equal(mem, 30ULL << 30);
	/* by UUID, spaces around */
	assert_int_equal(llmo_gpu_pod_usage(&inv, " GPU-00000000-fake-nvml-0001 ", &pct, &mem), 0);
	assert_float_equal(pct, 80, 1e-9);
	assert_int_equal(mem, 20ULL << 30);
	/* GPUs it does not have, or none */
	assert_int_equal(llmo_gpu_pod_usage(&inv, "7,GPU-x,", &pct, &mem), LLMO_ENOTFOUND);
	assert_int_equal(llmo_gpu_pod_usage(&inv, "", &pct, &mem), LLMO_ENOTFOUND);
	llmo_gpu_inventory_release(&inv);
	/* fake GPUs are not measured */
	assert_int_equal(llmo_gpu_fake("2", &inv, &err), 0);
	assert_int_equal(llmo_gpu_pod_usage(&inv, "0", &pct, &mem), LLMO_ENOTFOUND);
	llmo_gpu_inventory_release(&inv);
}

/*
 * NVLink topology through the NVML path: P2P status joins GPUs into domains
 * (chains too), the inventory's JSON carries them as the agent writes them
 * on its Node, and the scheduler's topology reader picks GPUs of one domain.
 * GPUs 0-1-2 (a chain), 4-5 and 6-7 are linked; 3 is alone.
 */
static void test_fake_nvml_nvlink(void **state)
{
	static const int want[8] = {0, 0, 0, 3, 4, 4, 6, 6};
	struct llmo_gpu_inventory inv;
	struct llmo_sched_topology t;
	struct llmo_error err = {0};
	bool is_free[8] = {true, true, true, true, true, true, true, true};
	uint8_t pick[4];
	json_t *j, *gpus;

	setenv(LLMO_GPU_NVML_ENV, LLMO_FAKE_NVML, 1);
	setenv("FAKE_NVML_GPUS", "8", 1);
	setenv("FAKE_NVML_NVLINK", "1-2,0-1,4-5,7-6", 1);
	assert_int_equal(llmo_gpu_discover(&inv, &err), 0);
	unsetenv("FAKE_NVML_NVLINK");
	unsetenv("FAKE_NVML_GPUS");
	unsetenv(LLMO_GPU_NVML_ENV);
	assert_int_equal(inv.gpus.len, 8);
	for (int i = 0; i < 8; i++) {
		assert_int_equal(inv.gpus.items[i].nvlink_domain, want[i]);
		assert_int_equal(inv.gpus.items[i].numa_node, -1); /* no sysfs entry for the bus */
	}
	assert_string_equal(inv.gpus.items[3].pci_bus_id, "0000FAKE:13:00.0");
	j = llmo_gpu_inventory_json(&inv);
	gpus = json_object_get(j, "gpus");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(gpus, 7), "nvlinkDomain")),
			 6);
	llmo_sched_topology_read(gpus, &t);
	assert_true(t.known);
	assert_int_equal(t.ngpus, 8);
	/* three GPUs: the chain 0-1-2 is the one domain that holds them */
	assert_int_equal(llmo_sched_topology_pick(&t, is_free, 3, pick), 1);
	assert_int_equal(pick[0], 0);
	assert_int_equal(pick[2], 2);
	/* with GPUs 1, 4 and 6 taken, 0 and 2 are the only free pair of one domain */
	is_free[1] = is_free[4] = is_free[6] = false;
	assert_int_equal(llmo_sched_topology_pick(&t, is_free, 2, pick), 1);
	assert_int_equal(pick[0], 0);
	assert_int_equal(pick[1], 2);
	/* and four GPUs then span three domains at least */
	assert_int_equal(llmo_sched_topology_pick(&t, is_free, 4, pick), 3);
	json_decref(j);
	llmo_gpu_inventory_release(&inv);

	/* without NVLink every GPU is a domain of its own */
	setenv(LLMO_GPU_NVML_ENV, LLMO_FAKE_NVML, 1);
	assert_int_equal(llmo_gpu_discover(&inv, &err), 0);
	unsetenv(LLMO_GPU_NVML_ENV);
	assert_int_equal(inv.gpus.items[0].nvlink_domain, 0);
	assert_int_equal(inv.gpus.items[1].nvlink_domain, 1);
	llmo_gpu_inventory_release(&inv);
}

static void test_node_info(void **state)
{
	struct llmo_node_info n;
	struct llmo_error err = {0};
	json_t *j;

	assert_int_equal(llmo_node_info_read(&n, "2", &err), 0);
	assert_true(n.cpu_milli >= 1000 && n.cpu_milli % 1000 == 0);
	assert_true(n.memory_bytes > 0);
	assert_true(n.hostname[0] != '\0');
	j = llmo_node_info_json(&n);
	assert_int_equal(json_array_size(json_object_get(json_object_get(j, "gpus"), "gpus")), 2);
	json_decref(j);
	llmo_node_info_release(&n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fake_specs),
		cmocka_unit_test(test_json_report),
		cmocka_unit_test(test_without_nvml),
		cmocka_unit_test(test_fake_nvml),
		cmocka_unit_test(test_fake_nvml_nvlink),
		cmocka_unit_test(test_node_info),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
