/*
 * A stand-in libnvidia-ml for tests (loaded through LLMO_NVML_LIBRARY):
 * two "NVIDIA H100 80GB HBM3" GPUs with set figures, so the NVML path of
 * src/agent/gpu.c runs where there is no GPU. What gpu.c requires, the
 * utilization, the PCI bus id and NVLink P2P status are defined; the other
 * optional entry points (MIG, temperature) are absent, as gpu.c allows.
 *
 *   GPU 0: GPU-00000000-fake-nvml-0000, 80 GiB, 10 GiB used, 37% busy
 *   GPU 1: GPU-00000000-fake-nvml-0001, 80 GiB, 20 GiB used, 80% busy
 *   GPU i >= 2 (FAKE_NVML_GPUS=N, up to 8): i * 5 GiB used, i * 10% busy
 *
 * FAKE_NVML_NVLINK lists NVLink-connected pairs ("0-1,2-3"); P2P status is
 * OK for those (either way round) and "not supported" for every other pair.
 * Unset, every P2P query answers "not supported" (a machine without NVLink).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* NVML's ABI as gpu.c declares it. */
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
typedef struct fake_device *nvml_device;

struct fake_device {
	unsigned idx;
};

#define FAKE_MAX 8
#define NVML_ERROR_INVALID_ARGUMENT 2
#define NVML_ERROR_NOT_SUPPORTED 3
#define NVML_P2P_CAPS_INDEX_NVLINK 2

static struct fake_device devices[FAKE_MAX] = {{0}, {1}, {2}, {3}, {4}, {5}, {6}, {7}};

static unsigned gpu_count(void)
{
	const char *e = getenv("FAKE_NVML_GPUS");
	long n = e ? strtol(e, NULL, 10) : 2;

	return n >= 1 && n <= FAKE_MAX ? (unsigned)n : 2;
}

static unsigned busy(unsigned i)
{
	return i == 0 ? 37 : i == 1 ? 80 : i * 10;
}

static unsigned long long used_gib(unsigned i)
{
	return i == 0 ? 10 : i == 1 ? 20 : i * 5ULL;
}

/* Whether "a-b" or "b-a" is in FAKE_NVML_NVLINK. */
static int linked(unsigned a, unsigned b)
{
	const char *p = getenv("FAKE_NVML_NVLINK");
	char *end;

	while (p && *p) {
		unsigned long x = strtoul(p, &end, 10), y;

		if (end == p || *end != '-')
			return 0;
		p = end + 1;
		y = strtoul(p, &end, 10);
		if (end == p)
			return 0;
		if ((x == a && y == b) || (x == b && y == a))
			return 1;
		p = *end == ',' ? end + 1 : end;
	}
	return 0;
}

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
int nvmlDeviceGetPciInfo_v3(nvml_device dev, struct nvml_pci_info *pci);
int nvmlDeviceGetP2PStatus(nvml_device a, nvml_device b, int index, int *status);

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
	*n = gpu_count();
	return 0;
}

int nvmlDeviceGetHandleByIndex_v2(unsigned int i, nvml_device *dev)
{
	if (i >= gpu_count())
		return NVML_ERROR_INVALID_ARGUMENT;
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
	m->used = used_gib(dev->idx) << 30;
	m->free = m->total - m->used;
	return 0;
}

int nvmlDeviceGetUtilizationRates(nvml_device dev, struct nvml_utilization *u)
{
	u->gpu = busy(dev->idx);
	u->memory = busy(dev->idx) / 2;
	return 0;
}

/* Bus ids no sysfs has, so the NUMA node stays unknown (-1). */
int nvmlDeviceGetPciInfo_v3(nvml_device dev, struct nvml_pci_info *pci)
{
	memset(pci, 0, sizeof(*pci));
	snprintf(pci->bus_id, sizeof(pci->bus_id), "0000FAKE:%02X:00.0", 0x10 + dev->idx);
	return 0;
}

int nvmlDeviceGetP2PStatus(nvml_device a, nvml_device b, int index, int *status)
{
	if (index != NVML_P2P_CAPS_INDEX_NVLINK || !linked(a->idx, b->idx))
		return NVML_ERROR_NOT_SUPPORTED;
	*status = 0; /* NVML_P2P_STATUS_OK */
	return 0;
}
