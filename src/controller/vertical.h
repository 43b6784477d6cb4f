#ifndef LLMO_CONTROLLER_VERTICAL_H
#define LLMO_CONTROLLER_VERTICAL_H
/*
 * Resource usage of a workload's replicas, from the annotation the node
 * agent writes on each pod (api/usage.h):
 *
 * - the cpu and memory autoscaling metrics: the mean, over the Ready
 *   replicas with a fresh usage annotation and a request, of usage /
 *   request x 100 (llmo__usage_percent);
 * - vertical recommendations (spec.scaling.strategy vertical or hybrid):
 *   a bounded history of per-replica samples per workload and the requests
 *   it recommends (docs/controller.md, "Vertical scaling").
 *
 * The recommendation: cpu = p90 of the cpu samples, memory = p95 of the
 * memory samples (nearest rank), each x (1 + LLMO__VERT_MARGIN_PCT / 100),
 * rounded up (cpu to the millicore, memory to the MiB), at least the floor
 * (LLMO__VERT_CPU_FLOOR_MILLI, LLMO__VERT_MEMORY_FLOOR) and at most the
 * configuration's resourceManager.maxCPUPerWorkload / maxMemoryPerWorkload
 * (the largest request of one replica). None before LLMO__VERT_MIN_SAMPLES
 * samples of each.
 */
#include "base/common.h"

#include <jansson.h>

#include "api/usage.h"

struct llmo_controller;

/* How often each Ready replica's usage annotation is sampled (as the Kubernetes VPA does). */
#define LLMO__VERT_SAMPLE_MS 60000L
/* Samples kept per workload and resource (a ring: the oldest goes first): 17 hours of
 * one replica at one a minute, less with more replicas. */
#define LLMO__VERT_SAMPLES 1024
/* Samples needed before anything is recommended. */
#define LLMO__VERT_MIN_SAMPLES 8
#define LLMO__VERT_CPU_PERCENTILE 90
#define LLMO__VERT_MEMORY_PERCENTILE 95
#define LLMO__VERT_MARGIN_PCT 15
#define LLMO__VERT_CPU_FLOOR_MILLI 25
#define LLMO__VERT_MEMORY_FLOOR ((int64_t)256 << 20) /* bytes */
/* A usage annotation older than this is not a measurement any more (the agent refreshes
 * its annotation every LLMO_USAGE_REFRESH_MS at the latest). */
#define LLMO__USAGE_STALE_MS (2 * LLMO_USAGE_REFRESH_MS)

/* A ring of samples. */
struct llmo__vhist {
	double v[LLMO__VERT_SAMPLES];
	size_t n, next;
};

void llmo__vhist_add(struct llmo__vhist *h, double v);
/* The p-th percentile (0 < p <= 100), nearest rank: the ceil(p/100 x n)-th smallest;
 * NAN when empty. */
double llmo__vhist_percentile(const struct llmo__vhist *h, double p);

struct llmo__recommendation {
	bool valid;
	int64_t cpu_milli; /* millicores */
	int64_t memory;	   /* bytes */
	size_t samples;	   /* the fewer of the two histories */
	char reason[200];
};

/*
 * The recommendation from the two histories and the ceilings (millicores,
 * bytes; <= 0: none). out->valid false (and a reason) when too few samples.
 */
void llmo__vertical_compute(const struct llmo__vhist *cpu, const struct llmo__vhist *mem,
			    int64_t max_cpu_milli, int64_t max_memory,
			    struct llmo__recommendation *out);

/*
 * The cpu and memory metrics over pods (the Ready replicas), percent;
 * NAN when no pod has a usage annotation not older than LLMO__USAGE_STALE_MS
 * at now_wall_ms and a request of that resource. With a target (> 0; the
 * workload's, percent), replicas with a request but no fresh annotation
 * count as the Kubernetes HPA counts pods missing metrics: as 0% when the
 * others are above the target (a new replica does not multiply a scale-up),
 * as 100% when below (nor a scale-in), and the target itself when that
 * would turn the direction round.
 */
void llmo__usage_percent(const json_t *const *pods, size_t n, int64_t now_wall_ms,
			 double cpu_target, double mem_target, double *cpu_pct, double *mem_pct);

/*
 * gpu_utilization: the mean, over the pods that request nvidia.com/gpu, of
 * the gpu figure of their fresh usage annotations (percent; the agent reads
 * it through NVML). NAN when none has one; pods missing it count as above.
 */
double llmo__gpu_percent(const json_t *const *pods, size_t n, int64_t now_wall_ms,
			 double target);

/*
 * Per workload (key "ns/name"): at most once each c->vertical_sample_ms of
 * now_mono_ms, adds one sample per pod with a fresh usage annotation, then
 * recomputes *out from the history. 0 or LLMO_ENOMEM.
 */
int llmo__vertical_update(struct llmo_controller *c, const char *key, const json_t *const *pods,
			  size_t n, int64_t now_wall_ms, int64_t now_mono_ms,
			  struct llmo__recommendation *out);
/* Whether the workload's spec.scaling.strategy is vertical or hybrid (recommendations on). */
bool llmo__vertical_on(const json_t *w);
/* Whether it is vertical (the horizontal autoscaler off). */
bool llmo__vertical_only(const json_t *w);
/*
 * The status.recommendation object to write (new reference, NULL: out of
 * memory): rec's values when valid, with updatedAt now_wall_ms, or kept at
 * old's updatedAt when the values did not change; without a valid rec,
 * old's values (a restarted controller has no history yet) with rec's
 * reason, or the reason alone.
 */
json_t *llmo__vertical_status(const json_t *old, const struct llmo__recommendation *rec,
			      int64_t now_wall_ms);
/*
 * The requests the pod template takes from the workload's
 * status.recommendation (milli units, as resource quantities; 0: none):
 * only with strategy vertical or hybrid, and only for a resource that
 * spec.resources does not set.
 */
void llmo__vertical_requests(const json_t *w, int64_t *cpu_milli, int64_t *memory_milli);
void llmo__vertical_forget(struct llmo_controller *c, const char *key);
void llmo__vertical_release_all(struct llmo_controller *c);

#endif
