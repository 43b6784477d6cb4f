#include "agent/node.h"

#include <sys/utsname.h>
#include <unistd.h>

int llmo_node_info_read(struct llmo_node_info *info, const char *fake_gpus,
			struct llmo_error *err)
{
	struct utsname u;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);

	memset(info, 0, sizeof(*info));
	if (gethostname(info->hostname, sizeof(info->hostname) - 1) != 0)
		snprintf(info->hostname, sizeof(info->hostname), "localhost");
	info->cpu_milli = (cpus > 0 ? cpus : 1) * 1000;
	info->memory_bytes = pages > 0 && page > 0 ? (int64_t)pages * page : 0;
	if (uname(&u) == 0) {
		snprintf(info->kernel, sizeof(info->kernel), "%s", u.release);
		snprintf(info->arch, sizeof(info->arch), "%s", u.machine);
	}
	if (fake_gpus)
		return llmo_gpu_fake(fake_gpus, &info->gpus, err);
	return llmo_gpu_discover(&info->gpus, err);
}

void llmo_node_info_release(struct llmo_node_info *info)
{
	llmo_gpu_inventory_release(&info->gpus);
}

json_t *llmo_node_info_json(const struct llmo_node_info *info)
{
	return json_pack("{s:s, s:I, s:I, s:s, s:s, s:o}", "hostname", info->hostname, "cpuMilli",
			 (json_int_t)info->cpu_milli, "memoryBytes",
			 (json_int_t)info->memory_bytes, "kernel", info->kernel, "arch",
			 info->arch, "gpus", llmo_gpu_inventory_json(&info->gpus));
}
