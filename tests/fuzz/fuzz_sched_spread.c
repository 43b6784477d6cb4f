/*
 * Fuzz target for the scheduler's topology spread constraints
 * (scheduler/spread.h), which reads pods' spec.topologySpreadConstraints
 * (outside input). The input is a JSON pod, placed (as its own neighbour) on
 * the first of two nodes, then checked and scored on both. Any input gives 0,
 * LLMO_EINVAL (with a message) or LLMO_ENOMEM; a check is one of the three
 * answers, the same twice; scores lie in 0..100.
 */
#include "base/common.h"

#include <jansson.h>

#include "scheduler/spread.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct llmo_sched_spread *sp = NULL;
	struct llmo_error err = {0};
	json_t *pod = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL), *nodes[2];
	double out[2];
	int rc;

	if (!pod)
		return 0;
	nodes[0] = json_pack("{s:{s:{s:s, s:s}}}", "metadata", "labels", "kubernetes.io/hostname",
			     "a", "zone", "z");
	nodes[1] = json_pack("{s:{s:{s:s}}}", "metadata", "labels", "kubernetes.io/hostname", "b");
	rc = llmo_sched_spread_new(pod, &sp, &err);
	if (rc != 0 && rc != LLMO_EINVAL && rc != LLMO_ENOMEM)
		abort();
	if (rc == LLMO_EINVAL && !err.msg[0])
		abort();
	if (rc == 0) {
		for (int i = 0; i < 2; i++)
			if (llmo_sched_spread_add_node(sp, nodes[i]) != 0)
				abort();
		if (llmo_sched_spread_add_pod(sp, pod, nodes[0]) != 0)
			abort();
		llmo_sched_spread_done(sp);
		for (int i = 0; i < 2; i++) {
			enum llmo_sched_spread_why w = llmo_sched_spread_check(sp, nodes[i]);

			if (w > LLMO_SCHED_SPREAD_SKEW || w != llmo_sched_spread_check(sp, nodes[i]))
				abort();
		}
		if (llmo_sched_spread_score(sp, nodes, 2, out))
			for (int i = 0; i < 2; i++)
				if (!(out[i] >= 0 && out[i] <= LLMO_SCHED_SPREAD_SCORE_MAX))
					abort();
		llmo_sched_spread_free(sp);
	}
	json_decref(nodes[0]);
	json_decref(nodes[1]);
	json_decref(pod);
	return 0;
}
