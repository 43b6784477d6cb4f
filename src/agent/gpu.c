#include "agent/gpu.h"
#include "base/quantity.h"
#include "base/str.h"

#include <ctype.h>
#include <dlfcn.h>

/* The few NVML types and entry points llmo uses, declared here (no CUDA headers). */
typedef int nvml_return;
typedef struct nvml_device_st *nvml_device;
struct nvml_memory {
	unsigned long long total, free, used;
};
struct nvml_utilization {
	unsigned int gpu, memory;
};
struct nvml_pci_info {
	char bus_id_legacy[16];
	unsigned int domain, bus, device, pci_device_id, pci_subsystem_id;
	char bus_id[32];
};

#define NVML_SUCCESS 0
#define NVML_ERROR_NOT_SUPPORTED 3
#define NVML_TEMPERATURE_GPU 0
#define NVML_P2P_CAPS_INDEX_NVLINK 2
#define NVML_P2P_STATUS_OK 0

struct nvml {
	void *lib;
	nvml_return (*init)(void);
	nvml_return (*shutdown)(void);
	const char *(*error_string)(nvml_return);
	nvml_return (*system_driver_version)(char *, unsigned int);
	nvml_return (*system_nvml_version)(char *, unsigned int);
	nvml_return (*count)(unsigned int *);
	nvml_return (*handle_by_index)(unsigned int, nvml_device *);
	nvml_return (*name)(nvml_device, char *, unsigned int);
	nvml_return (*uuid)(nvml_device, char *, unsigned int);
	nvml_return (*memory)(nvml_device, struct nvml_memory *);
	nvml_return (*utilization)(nvml_device, struct nvml_utilization *);
	nvml_return (*mig_mode)(nvml_device, unsigned int *, unsigned int *);
	nvml_return (*pci_info)(nvml_device, struct nvml_pci_info *);
	nvml_return (*temperature)(nvml_device, int, unsigned int *);
	nvml_return (*p2p_status)(nvml_device, nvml_device, int, int *);
};

/* Resolves one symbol; the *_v2 names first, as NVML's own header maps them. */
static void *sym(void *lib, const char *name, const char *v2)
{
	void *p = v2 ? dlsym(lib, v2) : NULL;

	return p ? p : dlsym(lib, name);
}

static int nvml_load(struct nvml *n, struct llmo_gpu_inventory *inv)
{
	const char *path = getenv(LLMO_GPU_NVML_ENV);

	n->lib = dlopen(path && *path ? path : "libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
	if (!n->lib) {
		snprintf(inv->note, sizeof(inv->note), "NVML not available: %s", dlerror());
		return -1;
	}
#define LOAD(field, name, v2) *(void **)&n->field = sym(n->lib, name, v2)
	LOAD(init, "nvmlInit", "nvmlInit_v2");
	LOAD(shutdown, "nvmlShutdown", NULL);
	LOAD(error_string, "nvmlErrorString", NULL);
	LOAD(system_driver_version, "nvmlSystemGetDriverVersion", NULL);
	LOAD(system_nvml_version, "nvmlSystemGetNVMLVersion", NULL);
	LOAD(count, "nvmlDeviceGetCount", "nvmlDeviceGetCount_v2");
	LOAD(handle_by_index, "nvmlDeviceGetHandleByIndex", "nvmlDeviceGetHandleByIndex_v2");
	LOAD(name, "nvmlDeviceGetName", NULL);
	LOAD(uuid, "nvmlDeviceGetUUID", NULL);
	LOAD(memory, "nvmlDeviceGetMemoryInfo", NULL);
	LOAD(utilization, "nvmlDeviceGetUtilizationRates", NULL);
	LOAD(mig_mode, "nvmlDeviceGetMigMode", NULL);
	LOAD(pci_info, "nvmlDeviceGetPciInfo", "nvmlDeviceGetPciInfo_v3");
	LOAD(temperature, "nvmlDeviceGetTemperature", NULL);
	LOAD(p2p_status, "nvmlDeviceGetP2PStatus", NULL);
#undef LOAD
	if (!n->init || !n->shutdown || !n->count || !n->handle_by_index || !n->name ||
	    !n->uuid || !n->memory) {
		snprintf(inv->note, sizeof(inv->note),
			 "libnvidia-ml.so.1 lacks the NVML functions llmo needs");
		dlclose(n->lib);
		n->lib = NULL;
		return -1;
	}
	return 0;
}

static const char *nvml_err(const struct nvml *n, nvml_return rc)
{
	return n->error_string ? n->error_string(rc) : "NVML error";
}

/*
 * The NUMA node of the PCI device bus_id (NVML's "00000000:17:00.0") from
 * sysfs, whose names have a 4-digit domain in lower case; -1 when unknown.
 */
static int pci_numa_node(const char *bus_id)
{
	char path[96], name[32], line[16];
	size_t len = strlen(bus_id), i;
	int64_t node = -1;
	FILE *f;

	if (len < 12 || len - 12 + 1 > sizeof(name))
		return -1;
	for (i = 0; i < 12; i++)
		name[i] = (char)tolower((unsigned char)bus_id[len - 12 + i]);
	name[i] = '\0';
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/numa_node", name);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (llmo_parse_int_range(line, 0, INT32_MAX, &node, NULL))
			node = -1;
	}
	fclose(f);
	return (int)node;
}

/*
 * Joins GPUs linked by NVLink (NVML's P2P status, pairwise) into domains
 * named by their lowest index; without the call every domain stays -1.
 */
static void nvlink_domains(const struct nvml *n, const nvml_device *devs,
			   struct llmo_gpu_inventory *inv)
{
	size_t count = inv->gpus.len;

	if (!n->p2p_status)
		return;
	for (size_t i = 0; i < count; i++)
		inv->gpus.items[i].nvlink_domain = (int)i;
	/* union by the lowest index: a pass per GPU settles chains too (count <= 64) */
	for (size_t round = 0; round < count; round++) {
		for (size_t i = 0; i < count; i++) {
			for (size_t j = i + 1; j < count; j++) {
				struct llmo_gpu *a = &inv->gpus.items[i], *b = &inv->gpus.items[j];
				int st = -1;

				if (a->nvlink_domain == b->nvlink_domain ||
				    n->p2p_status(devs[i], devs[j], NVML_P2P_CAPS_INDEX_NVLINK, &st) !=
					    NVML_SUCCESS ||
				    st != NVML_P2P_STATUS_OK)
					continue;
				a->nvlink_domain = b->nvlink_domain =
					LLMO_MIN(a->nvlink_domain, b->nvlink_domain);
			}
		}
	}
}

int llmo_gpu_discover(struct llmo_gpu_inventory *inv, struct llmo_error *err)
{
	nvml_device devs[LLMO_GPU_MAX];
	struct nvml n = {0};
	unsigned int count = 0;
	nvml_return rc;
	int ret = 0;

	memset(inv, 0, sizeof(*inv));
	if (nvml_load(&n, inv))
		return 0;
	rc = n.init();
	if (rc != NVML_SUCCESS) {
		snprintf(inv->note, sizeof(inv->note), "NVML could not start: %s",
			 nvml_err(&n, rc));
		dlclose(n.lib);
		return 0;
	}
	if (n.system_driver_version)
		n.system_driver_version(inv->driver_version, sizeof(inv->driver_version));
	if (n.system_nvml_version)
		n.system_nvml_version(inv->nvml_version, sizeof(inv->nvml_version));
	rc = n.count(&count);
	if (rc != NVML_SUCCESS) {
		ret = llmo_error_set(err, LLMO_EIO, "NVML: cannot count GPUs: %s", nvml_err(&n, rc));
		goto out;
	}
	if (count > LLMO_GPU_MAX)
		count = LLMO_GPU_MAX;
	for (unsigned int i = 0; i < count; i++) {
		struct llmo_gpu *g = llmo_vec_push(&inv->gpus);
		struct nvml_memory mem;
		struct nvml_utilization util;
		struct nvml_pci_info pci;
		unsigned int cur, pending, temp;
		nvml_device dev;

		if (!g) {
			ret = llmo_error_set(err, LLMO_ENOMEM, "out of memory");
			goto out;
		}
		g->index = i;
		g->mig_mode = -1;
		g->temperature_c = -1;
		g->utilization_gpu = (unsigned)-1;
		g->utilization_memory = (unsigned)-1;
		g->nvlink_domain = -1;
		g->numa_node = -1;
		rc = n.handle_by_index(i, &dev);
		if (rc != NVML_SUCCESS) {
			ret = llmo_error_set(err, LLMO_EIO, "NVML: GPU %u: %s", i, nvml_err(&n, rc));
			goto out;
		}
		if ((rc = n.name(dev, g->name, sizeof(g->name))) != NVML_SUCCESS ||
		    (rc = n.uuid(dev, g->uuid, sizeof(g->uuid))) != NVML_SUCCESS ||
		    (rc = n.memory(dev, &mem)) != NVML_SUCCESS) {
			ret = llmo_error_set(err, LLMO_EIO, "NVML: GPU %u: %s", i, nvml_err(&n, rc));
			goto out;
		}
		g->memory_total = mem.total;
		g->memory_used = mem.used;
		if (n.utilization && n.utilization(dev, &util) == NVML_SUCCESS) {
			g->utilization_gpu = util.gpu;
			g->utilization_memory = util.memory;
		}
		if (n.mig_mode && n.mig_mode(dev, &cur, &pending) == NVML_SUCCESS)
			g->mig_mode = cur ? 1 : 0;
		if (n.pci_info && n.pci_info(dev, &pci) == NVML_SUCCESS) {
			snprintf(g->pci_bus_id, sizeof(g->pci_bus_id), "%s", pci.bus_id);
			g->numa_node = pci_numa_node(g->pci_bus_id);
		}
		devs[i] = dev;
		if (n.temperature && n.temperature(dev, NVML_TEMPERATURE_GPU, &temp) == NVML_SUCCESS)
			g->temperature_c = (int)temp;
	}
	nvlink_domains(&n, devs, inv);
	inv->source = count ? LLMO_GPU_NVML : LLMO_GPU_NONE;
	if (!count)
		snprintf(inv->note, sizeof(inv->note), "NVML reports no GPU");
out:
	n.shutdown();
	dlclose(n.lib);
	if (ret)
		llmo_gpu_inventory_release(inv);
	return ret;
}

/* The GPU of inv named by one entry of an assignment: an index or a UUID (len bytes). */
static const struct llmo_gpu *assigned_gpu(const struct llmo_gpu_inventory *inv, const char *s,
					   size_t len)
{
	for (size_t i = 0; i < inv->gpus.len; i++) {
		const struct llmo_gpu *g = &inv->gpus.items[i];
		char idx[16];

		snprintf(idx, sizeof(idx), "%u", g->index);
		if ((strlen(idx) == len && memcmp(idx, s, len) == 0) ||
		    (strlen(g->uuid) == len && memcmp(g->uuid, s, len) == 0))
			return g;
	}
	return NULL;
}

int llmo_gpu_pod_usage(const struct llmo_gpu_inventory *inv, const char *assigned,
		       double *util_pct, uint64_t *memory_used)
{
	double sum = 0;
	uint64_t mem = 0;
	size_t n = 0;

	for (const char *s = assigned; s && *s;) {
		size_t len = strcspn(s, ",");
		const char *a = s, *e = s + len;
		const struct llmo_gpu *g;

		while (a < e && isspace((unsigned char)*a))
			a++;
		while (e > a && isspace((unsigned char)e[-1]))
			e--;
		g = e > a ? assigned_gpu(inv, a, (size_t)(e - a)) : NULL;
		if (g && !g->fake && g->utilization_gpu <= 100) {
			sum += g->utilization_gpu;
			mem += g->memory_used;
			n++;
		}
		s += len;
		if (*s == ',')
			s++;
	}
	if (!n)
		return LLMO_ENOTFOUND;
	*util_pct = sum / (double)n;
	*memory_used = mem;
	return 0;
}

int llmo_gpu_fake(const char *spec, struct llmo_gpu_inventory *inv, struct llmo_error *err)
{
	char model[LLMO_GPU_NAME_MAX] = "FAKE-GPU", count_s[16], mem_s[32] = "80Gi";
	const char *c1 = strchr(spec, ':');
	int64_t count, milli, domain = 0;
	size_t n;

	memset(inv, 0, sizeof(*inv));
	n = c1 ? (size_t)(c1 - spec) : strlen(spec);
	if (n == 0 || n >= sizeof(count_s))
		goto bad;
	memcpy(count_s, spec, n);
	count_s[n] = '\0';
	if (llmo_parse_int_range(count_s, 1, LLMO_GPU_MAX, &count, NULL))
		goto bad;
	if (c1) {
		const char *c2 = strchr(c1 + 1, ':');

		n = c2 ? (size_t)(c2 - c1 - 1) : strlen(c1 + 1);
		if (n == 0 || n >= sizeof(model) || !c2 || strlen(c2 + 1) >= sizeof(mem_s))
			goto bad;
		memcpy(model, c1 + 1, n);
		model[n] = '\0';
		snprintf(mem_s, sizeof(mem_s), "%s", c2 + 1);
		if (strchr(mem_s, ':')) {
			/* N:MODEL:MEMORY:D */
			char *c3 = strchr(mem_s, ':');

			*c3 = '\0';
			if (llmo_parse_int_range(c3 + 1, 1, LLMO_GPU_MAX, &domain, NULL))
				goto bad;
		}
	}
	if (llmo_quantity_parse(mem_s, &milli, NULL) || milli <= 0)
		goto bad;
	for (int64_t i = 0; i < count; i++) {
		struct llmo_gpu *g = llmo_vec_push(&inv->gpus);

		if (!g) {
			llmo_gpu_inventory_release(inv);
			return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
		}
		g->index = (unsigned)i;
		g->fake = true;
		snprintf(g->name, sizeof(g->name), "%s", model);
		snprintf(g->uuid, sizeof(g->uuid), "GPU-fake-%08" PRIx64 "-%04x",
			 (uint64_t)(count * 2654435761u) & 0xffffffff, (unsigned)i);
		snprintf(g->pci_bus_id, sizeof(g->pci_bus_id), "fake:%02x", (unsigned)i);
		g->memory_total = (uint64_t)llmo_quantity_value_ceil(milli);
		g->utilization_gpu = 0;
		g->utilization_memory = 0;
		g->mig_mode = -1;
		g->temperature_c = -1;
		g->nvlink_domain = domain ? (int)(i / domain * domain) : -1;
		g->numa_node = domain ? (int)(i / domain) : -1;
	}
	inv->source = LLMO_GPU_FAKE;
	snprintf(inv->driver_version, sizeof(inv->driver_version), "fake");
	return 0;
bad:
	return llmo_error_set(err, LLMO_EINVAL,
			      "--fake-gpus \"%s\": expected N, N:MODEL:MEMORY or N:MODEL:MEMORY:D, "
			      "such as \"2:A100:80Gi\" or \"8:H100:80Gi:4\" (1 <= N, D <= %d)",
			      spec, LLMO_GPU_MAX);
}

void llmo_gpu_inventory_release(struct llmo_gpu_inventory *inv)
{
	llmo_vec_release(&inv->gpus);
}

json_t *llmo_gpu_inventory_json(const struct llmo_gpu_inventory *inv)
{
	static const char *const sources[] = {"none", "nvml", "fake"};
	json_t *gpus = json_array(), *out;

	for (size_t i = 0; i < inv->gpus.len; i++) {
		const struct llmo_gpu *g = &inv->gpus.items[i];
		json_t *o = json_pack("{s:i, s:s, s:s, s:I, s:I, s:b}", "index", (int)g->index, "uuid",
				      g->uuid, "name", g->name, "memoryTotalBytes",
				      (json_int_t)g->memory_total, "memoryUsedBytes",
				      (json_int_t)g->memory_used, "fake", g->fake);

		if (*g->pci_bus_id)
			json_object_set_new(o, "pciBusId", json_string(g->pci_bus_id));
		if (g->utilization_gpu <= 100)
			json_object_set_new(o, "utilizationGpuPercent",
					    json_integer(g->utilization_gpu));
		if (g->utilization_memory <= 100)
			json_object_set_new(o, "utilizationMemoryPercent",
					    json_integer(g->utilization_memory));
		json_object_set_new(o, "migMode",
				    json_string(g->mig_mode < 0   ? "unsupported"
						: g->mig_mode ? "enabled"
							      : "disabled"));
		if (g->temperature_c >= 0)
			json_object_set_new(o, "temperatureC", json_integer(g->temperature_c));
		if (g->nvlink_domain >= 0)
			json_object_set_new(o, "nvlinkDomain", json_integer(g->nvlink_domain));
		if (g->numa_node >= 0)
			json_object_set_new(o, "numaNode", json_integer(g->numa_node));
		json_array_append_new(gpus, o);
	}
	out = json_pack("{s:s, s:o}", "source", sources[inv->source], "gpus", gpus);
	if (*inv->driver_version)
		json_object_set_new(out, "driverVersion", json_string(inv->driver_version));
	if (*inv->nvml_version)
		json_object_set_new(out, "nvmlVersion", json_string(inv->nvml_version));
	if (*inv->note)
		json_object_set_new(out, "note", json_string(inv->note));
	return out;
}
