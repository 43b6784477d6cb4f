#ifndef LLMO_API_USAGE_H
#define LLMO_API_USAGE_H
/*
 * The pod annotation llm.orchestrator.io/usage: what a replica's processes
 * use, as the node agent measured it (docs/agent.md, "Usage"), and the
 * controller reads for the cpu and memory autoscaling metrics and the
 * vertical recommendations (docs/controller.md, "Autoscaling"):
 *
 *     {"cpu": 1500, "memory": 268435456, "gpu": 58.5, "gpuMemory": 32212254720,
 *      "at": "2026-11-26T23:59:00Z"}
 *
 * cpu in millicores (the mean over the last measuring period), memory in
 * bytes (resident set size, summed over the processes), at the wall-clock
 * time of the measurement. gpu and gpuMemory only for a pod with GPUs
 * measured through NVML (absent otherwise): gpu is the mean of its GPUs'
 * utilization (percent, NVML's nvmlDeviceGetUtilizationRates, which is of
 * the whole GPU: pods sharing one each get its figure), gpuMemory the
 * memory used on them (bytes, likewise of the whole GPUs).
 *
 * The same annotation on a Node is the whole machine's usage (the agent,
 * agent/nodeusage.h): cpu busy over the node's CPUs, memory in use
 * (MemTotal - MemAvailable), and netRx / netTx, the bytes per second
 * received and sent on its interfaces other than loopback (Node only):
 *
 *     {"cpu": 3100, "memory": 8589934592, "netRx": 125000, "netTx": 98000,
 *      "at": "2026-11-26T23:59:00Z"}
 *
 * The publication rule (llmo_usage_worth_publishing) bounds the API writes:
 * the agent measures every LLMO_USAGE_PERIOD_MS and writes at most once a
 * period per pod, and only when cpu or memory moved by more than
 * LLMO_USAGE_CHANGE_PCT percent of the published value (and by more than
 * LLMO_USAGE_CPU_FLOOR_MILLI / LLMO_USAGE_MEMORY_FLOOR_BYTES, so that an idle
 * process's jitter writes nothing), gpu by more than LLMO_USAGE_GPU_POINTS
 * points, gpuMemory as memory, netRx or netTx by more than
 * LLMO_USAGE_CHANGE_PCT percent and LLMO_USAGE_NET_FLOOR_BPS, or the published value is older than
 * LLMO_USAGE_REFRESH_MS (so readers can tell a live figure from a stale one).
 */
#include "base/common.h"

#include "base/error.h"

#define LLMO_ANNOTATION_USAGE "llm.orchestrator.io/usage"
#define LLMO_USAGE_PERIOD_MS 15000L
#define LLMO_USAGE_CHANGE_PCT 10
#define LLMO_USAGE_CPU_FLOOR_MILLI 20
#define LLMO_USAGE_MEMORY_FLOOR_BYTES ((int64_t)4 << 20)
#define LLMO_USAGE_GPU_POINTS 5.0
#define LLMO_USAGE_NET_FLOOR_BPS ((int64_t)256 << 10)
#define LLMO_USAGE_REFRESH_MS 300000L
/* Longest annotation value read (a well-formed one is under 100 bytes). */
#define LLMO_USAGE_TEXT_MAX 256

struct llmo_usage {
	int64_t cpu_milli; /* millicores */
	int64_t memory;	   /* bytes */
	int64_t at_ms;	   /* wall clock, ms since the epoch */
	bool has_gpu;	   /* gpu_pct and gpu_memory are set */
	double gpu_pct;	   /* 0..100 */
	int64_t gpu_memory; /* bytes */
	bool has_net;	    /* net_rx and net_tx are set (a Node's annotation) */
	int64_t net_rx;	    /* bytes per second received */
	int64_t net_tx;	    /* bytes per second sent */
};

/* The annotation's value into out (n >= LLMO_USAGE_TEXT_MAX). 0 or LLMO_EINVAL. */
int llmo_usage_format(const struct llmo_usage *u, char *out, size_t n);
/* Parses an annotation value. 0, or LLMO_EINVAL (err says why) for anything malformed. */
int llmo_usage_parse(const char *text, struct llmo_usage *out, struct llmo_error *err);
/* Whether now should replace last (NULL: nothing published yet) by the rule above. */
bool llmo_usage_worth_publishing(const struct llmo_usage *last, const struct llmo_usage *now);

#endif
