#ifndef LLMO_AGENT_GPU_H
#define LLMO_AGENT_GPU_H
/*
 * GPU discovery for the node agent: NVIDIA GPUs through NVML, loaded at run
 * time with dlopen("libnvidia-ml.so.1") so that llmo builds and runs
 * everywhere without CUDA; or fake GPUs (--fake-gpus) on machines without
 * any, labelled as fake wherever they are reported.
 */
#include "base/error.h"
#include "base/vec.h"
#include <jansson.h>

#define LLMO_GPU_NAME_MAX 96
#define LLMO_GPU_UUID_MAX 96
#define LLMO_GPU_MAX 64
/*
 * The environment variable naming the NVML library to load instead of
 * libnvidia-ml.so.1 (a driver installed elsewhere; the tests' fake NVML).
 */
#define LLMO_GPU_NVML_ENV "LLMO_NVML_LIBRARY"

struct llmo_gpu {
	unsigned index;
	char uuid[LLMO_GPU_UUID_MAX];
	char name[LLMO_GPU_NAME_MAX];
	char pci_bus_id[32];
	uint64_t memory_total; /* bytes */
	uint64_t memory_used;  /* bytes */
	unsigned utilization_gpu;    /* percent, 0..100; -1 when not reported */
	unsigned utilization_memory; /* percent */
	int mig_mode;                /* 1 enabled, 0 disabled, -1 not supported */
	int temperature_c;           /* -1 when not reported */
	/*
	 * Topology (src/scheduler/topology.h): GPUs joined by NVLink, directly
	 * or through others, share nvlink_domain (the lowest index among them);
	 * numa_node is the NUMA node of the GPU's PCI device. -1 when unknown.
	 */
	int nvlink_domain;
	int numa_node;
	bool fake;
};

enum llmo_gpu_source { LLMO_GPU_NONE = 0, LLMO_GPU_NVML, LLMO_GPU_FAKE };

struct llmo_gpu_inventory {
	enum llmo_gpu_source source;
	char driver_version[80];
	char nvml_version[80];
	LLMO_VEC(struct llmo_gpu) gpus;
	char note[256]; /* why no NVML GPUs were found, for people */
};

/*
 * Parses a --fake-gpus value: "N", "N:MODEL:MEMORY" ("2:A100:80Gi") or
 * "N:MODEL:MEMORY:D" ("8:H100:80Gi:4"): with D, GPUs 0..D-1 form NVLink
 * domain and NUMA node 0, the next D the next one, and so on; without D the
 * topology is unknown. Fills inv with N fake GPUs. LLMO_EINVAL with a
 * message on a bad value.
 */
int llmo_gpu_fake(const char *spec, struct llmo_gpu_inventory *inv, struct llmo_error *err);

/*
 * Reads the GPUs through NVML. When NVML is not installed or reports no
 * device, returns 0 with source LLMO_GPU_NONE and a note saying why (a machine
 * without GPUs is not an error); other NVML failures are errors.
 */
int llmo_gpu_discover(struct llmo_gpu_inventory *inv, struct llmo_error *err);

void llmo_gpu_inventory_release(struct llmo_gpu_inventory *inv);

/*
 * What a pod's GPUs do: assigned is its GPU assignment (the annotation
 * llm.orchestrator.io/gpus: indices or UUIDs, comma-separated). *util_pct
 * gets the mean utilization of those of inv's GPUs NVML measured (percent;
 * of the whole GPU, so pods sharing one each get its figure), *memory_used
 * the sum of their used memory (bytes). LLMO_ENOTFOUND when none is (no
 * assignment, unknown GPUs, fake GPUs, utilization not reported).
 */
int llmo_gpu_pod_usage(const struct llmo_gpu_inventory *inv, const char *assigned,
		       double *util_pct, uint64_t *memory_used);

/* The inventory as JSON (the agent's report and the Node annotation). */
json_t *llmo_gpu_inventory_json(const struct llmo_gpu_inventory *inv);

#endif
