#ifndef LLMO_AGENT_NODE_H
#define LLMO_AGENT_NODE_H
/*
 * What the agent reports about its machine: name, CPUs, memory, OS, and the
 * GPUs (gpu.h). This is the capacity the agent's Node object carries.
 */
#include "agent/gpu.h"

struct llmo_node_info {
	char hostname[256];
	int64_t cpu_milli;    /* online CPUs, in milli-cores */
	int64_t memory_bytes; /* physical memory */
	char kernel[128];     /* uname -r */
	char arch[32];        /* uname -m */
	struct llmo_gpu_inventory gpus;
};

/*
 * Fills info. fake_gpus (may be NULL) is a --fake-gpus value; otherwise GPUs
 * come from NVML when it is present.
 */
int llmo_node_info_read(struct llmo_node_info *info, const char *fake_gpus,
			struct llmo_error *err);
void llmo_node_info_release(struct llmo_node_info *info);
json_t *llmo_node_info_json(const struct llmo_node_info *info);

#endif
