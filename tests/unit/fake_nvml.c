/*
 * A stand-in libnvidia-ml for tests (loaded through LLMO_NVML_LIBRARY):
 * two "NVIDIA H100 80GB HBM3" GPUs with set figures, so the NVML path of
 * src/agent/gpu.c runs where there is no GPU. Only what gpu.c requires and
 * the utilization are defined; the optional entry points (PCI, MIG,
 * temperature, P2P) are absent, as gpu.c allows.
 *
 *   GPU 0: GPU-00000000-fake-nvml-0000, 80 GiB, 10 GiB used, 37% busy
 *   GPU 1: GPU-00000000-fake-nvml-0001, 80 GiB, 20 GiB used, 80% busy
 */
#include <stdio.h>
#include <string.h>

/* NVML's ABI as gpu.c declares it. */
struct nvml_memory {
	unsigned long long total, free, used;
};
struct nvml_utilization {
	unsigned int gpu, memory;
};
typedef struct fake_device *nvml_device;

struct fake_device {
	unsigned idx;
};

static struct fake_device devices[2] = {{0}, {1}};
static const unsigned busy[2] = {37, 80};
static const unsigned long long used_gib[2] = {10, 20};

/* These are the library's exported symbols: they need no prototypes elsewhere. */
int nvmlInit_v2(void);
int nvmlShutdown(void);
const char *nvmlErrorString(int rc);
int nvmlDeviceGetCount_v2(unsigned int *n);
int nvmlDeviceGetHandleByIndex_v2(unsigned int i, nvml_device *dev);
int nvmlDeviceGetName(nvml_device dev, char *out, unsigned int n);
int nvmlDeviceGetUUID(nvml_device dev, char *out, unsigned int n);
int nvmlDeviceGetMemoryInfo(nvml_device dev, struct nvml_memory *m);
int nvmlDeviceGetUtilizationRates(nvml_device dev, struct nvml_utilization *u);

int nvmlInit_v2(void)
{
	return 0;
}

int nvmlShutdown(void)
{
	return 0;
}

const char *nvmlErrorString(int rc)
{
	return rc ? "fake NVML error" : "success";
}

int nvmlDeviceGetCount_v2(unsigned int *n)
{
	*n = 2;
	return 0;
}

int nvmlDeviceGetHandleByIndex_v2(unsigned int i, nvml_device *dev)
{
	if (i >= 2)
		return 2; /* NVML_ERROR_INVALID_ARGUMENT */
	*dev = &devices[i];
	return 0;
}

int nvmlDeviceGetName(nvml_device dev, char *out, unsigned int n)
{
	snprintf(out, n, "NVIDIA H100 80GB HBM3");
	(void)dev;
	return 0;
}

int nvmlDeviceGetUUID(nvml_device dev, char *out, unsigned int n)
{
	snprintf(out, n, "GPU-00000000-fake-nvml-%04u", dev->idx);
	return 0;
}

int nvmlDeviceGetMemoryInfo(nvml_device dev, struct nvml_memory *m)
{
	m->total = 80ULL << 30;
	m->used = used_gib[dev->idx] << 30;
	m->free = m->total - m->used;
	return 0;
}

int nvmlDeviceGetUtilizationRates(nvml_device dev, struct nvml_utilization *u)
{
	u->gpu = busy[dev->idx];
	u->memory = busy[dev->idx] / 2;
	return 0;
}
