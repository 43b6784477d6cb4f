#ifndef LLMO_AGENT_NODEUSAGE_H
#define LLMO_AGENT_NODEUSAGE_H
/*
 * What the whole machine uses, as the agent publishes it on its Node (the
 * annotation llm.orchestrator.io/usage, format api/usage.h; docs/agent.md,
 * "Node usage"): CPU busy, memory in use and network traffic. Pod usage
 * (runtime.h) covers only the replicas' processes; this is the node's own
 * figure, so the controller can export utilization across nodes whatever
 * runs on them.
 *
 * A sample holds the kernel's counters at one instant; two samples give the
 * usage between them. Parsing takes the files' text so that tests can hand
 * it fixtures.
 */
#include "base/common.h"

#include "api/usage.h"
#include "base/error.h"

/* Longest /proc file read for a sample; /proc/net/dev grows with interfaces. */
#define LLMO_NODE_PROC_TEXT_MAX (256 * 1024)

struct llmo_node_sample {
	uint64_t cpu_busy;  /* jiffies not idle or waiting for I/O, all CPUs */
	uint64_t cpu_total; /* all jiffies, all CPUs */
	int64_t mem_total;  /* bytes (MemTotal) */
	int64_t mem_avail;  /* bytes (MemAvailable) */
	uint64_t net_rx;    /* bytes received, interfaces other than loopback */
	uint64_t net_tx;    /* bytes sent, likewise */
	int64_t at_ms;	    /* monotonic clock of the sample */
};

/*
 * Fills out from the text of /proc/stat, /proc/meminfo and /proc/net/dev
 * (netdev may be NULL: no network figures). LLMO_EINVAL names the file and
 * what is missing.
 */
int llmo_node_sample_parse(const char *stat, const char *meminfo, const char *netdev,
			   struct llmo_node_sample *out, struct llmo_error *err);
/* Reads the three files under /proc and parses them; at_ms from the monotonic clock. */
int llmo_node_sample_read(struct llmo_node_sample *out, struct llmo_error *err);
/*
 * The usage between two samples into out: cpu in millicores (busy share of
 * cpu_milli, the node's CPUs), memory in use at b (MemTotal - MemAvailable),
 * network in bytes per second. at_ms is left for the caller (wall clock).
 * LLMO_EINVAL when b is not after a.
 */
int llmo_node_usage_between(const struct llmo_node_sample *a, const struct llmo_node_sample *b,
			    int64_t cpu_milli, struct llmo_usage *out);

#endif
