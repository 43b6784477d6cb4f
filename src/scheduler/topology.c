/* GPU topology of a node; see topology.h. */
#include "base/common.h"

#include "scheduler/topology.h"

#include "base/banned.h"

/* The entry's field as a domain number, or -1 when absent or not an integer 0..INT32_MAX. */
static int64_t field(const json_t *entry, const char *name)
{
	const json_t *v = json_object_get(entry, name);
	json_int_t n;

	if (!json_is_integer(v))
		return -1;
	n = json_integer_value(v);
	return n >= 0 && n <= INT32_MAX ? (int64_t)n : -1;
}

void llmo_sched_topology_read(const json_t *devices, struct llmo_sched_topology *t)
{
	const json_t *entries[LLMO_SCHED_NODE_GPUS_MAX];
	const char *use = NULL;
	const json_t *d;
	size_t i;

	memset(t, 0, sizeof(*t));
	json_array_foreach(devices, i, d) {
		const char *uuid = json_string_value(json_object_get(d, "uuid"));

		/* the ids the binder uses: entries with a uuid, in order */
		if (!uuid || !*uuid || strchr(uuid, ','))
			continue;
		if (t->ngpus == LLMO_SCHED_NODE_GPUS_MAX)
			break;
		entries[t->ngpus++] = d;
	}
	for (int g = 0; g < t->ngpus && !use; g++)
		if (field(entries[g], LLMO_SCHED_TOPO_NVLINK_FIELD) >= 0)
			use = LLMO_SCHED_TOPO_NVLINK_FIELD;
	for (int g = 0; g < t->ngpus && !use; g++)
		if (field(entries[g], LLMO_SCHED_TOPO_NUMA_FIELD) >= 0)
			use = LLMO_SCHED_TOPO_NUMA_FIELD;
	t->known = use != NULL;
	for (int g = 0; g < t->ngpus; g++) {
		int64_t v = use ? field(entries[g], use) : -1;

		/* alone: a number no reported domain has (they are at most INT32_MAX) */
		t->domain[g] = v >= 0 ? v : (int64_t)INT32_MAX + 1 + g;
	}
}

int llmo_sched_topology_pick(const struct llmo_sched_topology *t, const bool *is_free, int k,
			     uint8_t *out)
{
	int count[LLMO_SCHED_NODE_GPUS_MAX] = {0}; /* per GPU: free GPUs of its domain, at its first */
	bool used[LLMO_SCHED_NODE_GPUS_MAX] = {false};
	int total = 0, need = k, spanned = 0, n = 0;

	if (k < 1 || k > LLMO_SCHED_POD_GPUS_MAX)
		return 0;
	/* each domain counted at its lowest free GPU (its representative) */
	for (int g = 0; g < t->ngpus; g++) {
		int rep = g;

		if (!is_free[g])
			continue;
		total++;
		for (int h = 0; h < g; h++) {
			if (is_free[h] && t->domain[h] == t->domain[g]) {
				rep = h;
				break;
			}
		}
		count[rep]++;
	}
	if (total < k)
		return 0;
	while (need > 0) {
		int fit = -1, big = -1, take;

		for (int g = 0; g < t->ngpus; g++) {
			if (!count[g] || used[g])
				continue;
			if (count[g] >= need && (fit < 0 || count[g] < count[fit]))
				fit = g;
			if (big < 0 || count[g] > count[big])
				big = g;
		}
		if (fit < 0)
			fit = big;
		used[fit] = true;
		spanned++;
		take = LLMO_MIN(need, count[fit]);
		need -= take;
		for (int g = fit; g < t->ngpus && take > 0; g++) {
			if (is_free[g] && t->domain[g] == t->domain[fit]) {
				out[n++] = (uint8_t)g;
				take--;
			}
		}
	}
	/* ascending: insertion sort of at most LLMO_SCHED_POD_GPUS_MAX */
	for (int i = 1; i < n; i++) {
		uint8_t v = out[i];
		int j = i;

		for (; j > 0 && out[j - 1] > v; j--)
			out[j] = out[j - 1];
		out[j] = v;
	}
	return spanned;
}
