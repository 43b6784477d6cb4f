/*
 * The node's own usage from /proc; see nodeusage.h.
 */
#include "base/common.h"

#include <inttypes.h>

#include "agent/nodeusage.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/file.h"
#include "base/str.h"

#include "base/banned.h"

/* Fields of the aggregate "cpu" line summed into the total (guest time is already in user). */
#define STAT_CPU_FIELDS 8
/* Interface names longer than this are not Linux's (IFNAMSIZ is 16). */
#define NETDEV_NAME_MAX 64

/* The next unsigned decimal at *p (spaces skipped); false when there is none. */
static bool next_u64(const char **p, uint64_t *out)
{
	const char *s = *p;
	uint64_t v = 0;

	while (*s == ' ' || *s == '\t')
		s++;
	if (*s < '0' || *s > '9')
		return false;
	for (; *s >= '0' && *s <= '9'; s++) {
		unsigned d = (unsigned)(*s - '0');

		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*p = s;
	*out = v;
	return true;
}

/* The aggregate "cpu " line: user nice system idle iowait irq softirq steal ... */
static int parse_stat(const char *text, struct llmo_node_sample *out, struct llmo_error *err)
{
	uint64_t f[STAT_CPU_FIELDS] = {0}, total = 0;
	const char *p;
	int n = 0;

	p = llmo_str_has_prefix(text, "cpu ") ? text + 4 : strstr(text, "\ncpu ");
	if (!p)
		return llmo_error_set(err, LLMO_EINVAL, "/proc/stat: no aggregate \"cpu\" line");
	if (*p == '\n')
		p += 5;
	while (n < STAT_CPU_FIELDS && next_u64(&p, &f[n]))
		n++;
	/* idle and iowait are the fourth and fifth; kernels since 2.6.11 have steal */
	if (n < 5)
		return llmo_error_set(err, LLMO_EINVAL,
				      "/proc/stat: the \"cpu\" line has %d fields, needs at least 5",
				      n);
	for (int i = 0; i < n; i++)
		total += f[i];
	out->cpu_total = total;
	out->cpu_busy = total - f[3] - f[4];
	return 0;
}

/* "Key:   N kB" of /proc/meminfo in bytes; false when absent or malformed. */
static bool meminfo_field(const char *text, const char *key, int64_t *bytes)
{
	size_t klen = strlen(key);
	const char *p = text;
	uint64_t kb;

	while (p && *p) {
		if (strncmp(p, key, klen) == 0 && p[klen] == ':') {
			p += klen + 1;
			if (!next_u64(&p, &kb) || kb > (uint64_t)INT64_MAX / 1024)
				return false;
			*bytes = (int64_t)kb * 1024;
			return true;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return false;
}

/*
 * /proc/net/dev: two header lines, then "  NAME: rx_bytes rx_packets rx_errs
 * rx_drop rx_fifo rx_frame rx_compressed rx_multicast tx_bytes ...". Loopback
 * is left out: it is traffic between the node's own processes.
 */
static int parse_netdev(const char *text, struct llmo_node_sample *out, struct llmo_error *err)
{
	const char *line = text;
	int lineno = 0;

	out->net_rx = out->net_tx = 0;
	for (; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
		const char *colon, *name, *p;
		uint64_t v[9];
		size_t nlen;

		if (++lineno <= 2)
			continue;
		colon = strchr(line, ':');
		if (!colon || (strchr(line, '\n') && colon > strchr(line, '\n')))
			return llmo_error_set(err, LLMO_EINVAL, "/proc/net/dev line %d: no \"NAME:\"",
					      lineno);
		for (name = line; *name == ' '; name++)
			;
		nlen = (size_t)(colon - name);
		if (nlen == 0 || nlen > NETDEV_NAME_MAX)
			return llmo_error_set(err, LLMO_EINVAL,
					      "/proc/net/dev line %d: bad interface name", lineno);
		p = colon + 1;
		for (int i = 0; i < 9; i++) {
			if (!next_u64(&p, &v[i]))
				return llmo_error_set(err, LLMO_EINVAL,
						      "/proc/net/dev line %d: needs 9 counters",
						      lineno);
		}
		if (nlen == 2 && strncmp(name, "lo", 2) == 0)
			continue;
		out->net_rx += v[0];
		out->net_tx += v[8];
	}
	return 0;
}

int llmo_node_sample_parse(const char *stat, const char *meminfo, const char *netdev,
			   struct llmo_node_sample *out, struct llmo_error *err)
{
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = parse_stat(stat, out, err)))
		return rc;
	if (!meminfo_field(meminfo, "MemTotal", &out->mem_total) ||
	    !meminfo_field(meminfo, "MemAvailable", &out->mem_avail))
		return llmo_error_set(err, LLMO_EINVAL,
				      "/proc/meminfo: needs MemTotal and MemAvailable in kB");
	return netdev ? parse_netdev(netdev, out, err) : 0;
}

int llmo_node_sample_read(struct llmo_node_sample *out, struct llmo_error *err)
{
	struct llmo_buf stat, mem, net;
	int rc;

	llmo_buf_init(&stat, LLMO_NODE_PROC_TEXT_MAX);
	llmo_buf_init(&mem, LLMO_NODE_PROC_TEXT_MAX);
	llmo_buf_init(&net, LLMO_NODE_PROC_TEXT_MAX);
	if ((rc = llmo_file_read("/proc/stat", LLMO_NODE_PROC_TEXT_MAX, &stat, err)) ||
	    (rc = llmo_file_read("/proc/meminfo", LLMO_NODE_PROC_TEXT_MAX, &mem, err)))
		goto out;
	/* a machine without /proc/net/dev (a network namespace gone) still has CPU and memory */
	rc = llmo_node_sample_parse(stat.data, mem.data,
				    llmo_file_read("/proc/net/dev", LLMO_NODE_PROC_TEXT_MAX, &net,
						   NULL) == 0
					    ? net.data
					    : NULL,
				    out, err);
	out->at_ms = llmo_clock_mono_ms();
out:
	llmo_buf_release(&stat);
	llmo_buf_release(&mem);
	llmo_buf_release(&net);
	return rc;
}

/* (b - a) per second over ms milliseconds; 0 when the counter went back (a reset). */
static int64_t per_second(uint64_t a, uint64_t b, int64_t ms)
{
	uint64_t d = b >= a ? b - a : 0;

	if (d > (uint64_t)INT64_MAX / 1000)
		return INT64_MAX / ms;
	return (int64_t)(d * 1000 / (uint64_t)ms);
}

int llmo_node_usage_between(const struct llmo_node_sample *a, const struct llmo_node_sample *b,
			    int64_t cpu_milli, struct llmo_usage *out)
{
	int64_t ms = b->at_ms - a->at_ms;
	uint64_t busy, total;

	if (ms <= 0 || b->cpu_total <= a->cpu_total)
		return LLMO_EINVAL;
	busy = b->cpu_busy >= a->cpu_busy ? b->cpu_busy - a->cpu_busy : 0;
	total = b->cpu_total - a->cpu_total;
	memset(out, 0, sizeof(*out));
	out->cpu_milli = (int64_t)((double)cpu_milli * (double)busy / (double)total + 0.5);
	if (out->cpu_milli > cpu_milli)
		out->cpu_milli = cpu_milli;
	out->memory = b->mem_total > b->mem_avail ? b->mem_total - b->mem_avail : 0;
	out->has_net = true;
	out->net_rx = per_second(a->net_rx, b->net_rx, ms);
	out->net_tx = per_second(a->net_tx, b->net_tx, ms);
	return 0;
}
