/*
 * Fuzz target for the scheduler's inter-pod affinity (scheduler/podaffinity.h),
 * which reads pods' spec.affinity (outside input: any pod a user creates).
 * The input is a JSON pod; the pod is placed (as its own neighbour) on one
 * of two nodes and then checked and scored on both. Any input gives 0,
 * LLMO_EINVAL (with a message) or LLMO_ENOMEM from llmo_sched_podaff_new; a
 * placed pod never fails to be counted; a check is one of the four answers,
 * the same twice; the normalised scores lie in 0..100.
 */
#include "base/common.h"

#include <jansson.h>

#include "scheduler/podaffinity.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct llmo_sched_podaff *pa = NULL;
	struct llmo_error err = {0};
	json_t *pod = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL), *nodes[2];
	int64_t raw[2], lo = 0, hi = 0;
	int rc;

	if (!pod)
		return 0;
	nodes[0] = json_pack("{s:{s:{s:s, s:s}}}", "metadata", "labels", "kubernetes.io/hostname",
			     "a", "zone", "z");
	nodes[1] = json_pack("{s:{s:{s:s}}}", "metadata", "labels", "kubernetes.io/hostname", "b");
	rc = llmo_sched_podaff_new(pod, NULL, NULL, &pa, &err);
	if (rc != 0 && rc != LLMO_EINVAL && rc != LLMO_ENOMEM)
		abort();
	if (rc == LLMO_EINVAL && !err.msg[0])
		abort();
	if (rc == 0) {
		if (llmo_sched_podaff_add(pa, pod, nodes[0]) != 0)
			abort();
		for (int i = 0; i < 2; i++) {
			enum llmo_sched_podaff_why w = llmo_sched_podaff_check(pa, nodes[i]);

			if (w > LLMO_SCHED_PODAFF_EXISTING_ANTI || w != llmo_sched_podaff_check(pa, nodes[i]))
				abort();
			raw[i] = llmo_sched_podaff_score(pa, nodes[i]);
			lo = raw[i] < lo ? raw[i] : lo;
			hi = raw[i] > hi ? raw[i] : hi;
		}
		for (int i = 0; i < 2; i++) {
			double s = llmo_sched_podaff_normalize(raw[i], lo, hi);

			if (!(s >= 0 && s <= LLMO_SCHED_PODAFF_SCORE_MAX))
				abort();
		}
		llmo_sched_podaff_free(pa);
	}
	json_decref(nodes[0]);
	json_decref(nodes[1]);
	json_decref(pod);
	return 0;
}
