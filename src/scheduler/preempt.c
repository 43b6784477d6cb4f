/*
 * Victim selection on one node; see preempt.h.
 */
#include "base/common.h"

#include "scheduler/preempt.h"

#include "base/banned.h"

bool llmo_sched_preemption_better(const struct llmo_sched_preemption *a,
				  const struct llmo_sched_preemption *b)
{
	if (a->count != b->count)
		return a->count < b->count;
	if (a->max_priority != b->max_priority)
		return a->max_priority < b->max_priority;
	if (a->priority_sum != b->priority_sum)
		return a->priority_sum < b->priority_sum;
	return a->gpu_freed < b->gpu_freed;
}

struct search {
	const struct llmo_sched_node *node;
	const struct llmo_sched_pod *pod;
	const struct llmo_sched_victim *v;
	size_t nv;
	const int *budget;
	size_t ngroups;
	long evals;
	bool ignore_budget; /* the greedy reprieve checks resources only */
};

/*
 * Whether the pod fits the node with the victims of set removed and the
 * budgets hold; fills *out with the set's figures when it does.
 */
static bool try_set(struct search *s, uint64_t set, struct llmo_sched_preemption *out)
{
	struct llmo_sched_node n = *s->node;
	int used[LLMO_SCHED_PREEMPT_VICTIMS_MAX] = {0};
	struct llmo_sched_preemption r = {.set = set, .max_priority = INT32_MIN};

	s->evals++;
	for (size_t i = 0; i < s->nv; i++) {
		const struct llmo_sched_victim *v = &s->v[i];

		if (!(set >> i & 1))
			continue;
		if (!s->ignore_budget && v->group >= 0 && (size_t)v->group < s->ngroups &&
		    ++used[v->group] > (s->budget ? s->budget[v->group] : 0))
			return false;
		n.cpu_left += v->cpu;
		n.mem_left += v->mem;
		for (int g = 0; g < n.ngpus; g++) {
			n.gpu_left[g] += v->gpu[g];
			r.gpu_freed += v->gpu[g];
		}
		r.count++;
		r.max_priority = LLMO_MAX(r.max_priority, v->priority);
		r.priority_sum += v->priority;
	}
	n.gpu_free = 0;
	n.gpu_left_total = 0;
	for (int g = 0; g < n.ngpus; g++) {
		n.gpu_left[g] = LLMO_MIN(n.gpu_left[g], LLMO_SCHED_MILLI);
		n.gpu_free += n.gpu_left[g] == LLMO_SCHED_MILLI;
		n.gpu_left_total += LLMO_MAX(n.gpu_left[g], 0);
	}
	if (!llmo_sched_node_fits(&n, s->pod))
		return false;
	*out = r;
	return true;
}

/* The next larger bit pattern with as many bits set (Gosper's hack); 0 past nv bits. */
static uint64_t next_combination(uint64_t x, size_t nv)
{
	uint64_t c = x & -x, r = x + c;

	if (r == 0)
		return 0;
	r = (((r ^ x) >> 2) / c) | r;
	if (nv < 64 && r >> nv)
		return 0;
	return r;
}

/*
 * Kubernetes' way (preempt.h): all victims, then reprieve from the highest
 * priority down (later ones first among equals), the victims of groups
 * over their budget before the others, checking resources only; the set
 * left must then keep the budgets.
 */
static bool greedy(struct search *s, struct llmo_sched_preemption *out)
{
	uint64_t set = s->nv == 64 ? UINT64_MAX : (((uint64_t)1 << s->nv) - 1);
	int in_group[LLMO_SCHED_PREEMPT_VICTIMS_MAX] = {0};
	bool done[LLMO_SCHED_PREEMPT_VICTIMS_MAX] = {false};
	struct llmo_sched_preemption r;
	bool ok;

	for (size_t i = 0; i < s->nv; i++)
		if (s->v[i].group >= 0 && (size_t)s->v[i].group < s->ngroups)
			in_group[s->v[i].group]++;
	s->ignore_budget = true;
	for (int pass = 0; pass < 2; pass++) {
		for (;;) {
			size_t pick = s->nv;

			for (size_t i = s->nv; i-- > 0;) {
				int g = s->v[i].group;
				bool over = g >= 0 && (size_t)g < s->ngroups &&
					    in_group[g] > (s->budget ? s->budget[g] : 0);

				if (done[i] || (pass == 0 && !over))
					continue;
				if (pick == s->nv || s->v[i].priority > s->v[pick].priority)
					pick = i;
			}
			if (pick == s->nv)
				break;
			done[pick] = true;
			if (try_set(s, set & ~((uint64_t)1 << pick), &r))
				set &= ~((uint64_t)1 << pick);
		}
	}
	s->ignore_budget = false;
	ok = set && try_set(s, set, &r);
	if (ok) {
		r.greedy = true;
		*out = r;
	}
	return ok;
}

bool llmo_sched_preempt_pick(const struct llmo_sched_node *node, const struct llmo_sched_pod *pod,
			     const struct llmo_sched_victim *v, size_t nv, const int *budget,
			     size_t ngroups, struct llmo_sched_preemption *out)
{
	struct search s = {node, pod, v, nv, budget, ngroups, 0, false};
	struct llmo_sched_preemption best = {0}, r;
	struct llmo_sched_node n = *node;
	bool found = false;

	if (nv == 0 || nv > LLMO_SCHED_PREEMPT_VICTIMS_MAX || ngroups > LLMO_SCHED_PREEMPT_VICTIMS_MAX)
		return false;
	/* already fits: nothing to preempt */
	n.gpu_free = 0;
	for (int g = 0; g < n.ngpus; g++)
		n.gpu_free += n.gpu_left[g] == LLMO_SCHED_MILLI;
	if (llmo_sched_node_fits(&n, pod))
		return false;
	for (size_t k = 1; k <= nv && !found; k++) {
		uint64_t x = k == 64 ? UINT64_MAX : (((uint64_t)1 << k) - 1);

		for (; x; x = next_combination(x, nv)) {
			if (s.evals >= LLMO_SCHED_PREEMPT_EVALS_MAX)
				return greedy(&s, out);
			if (try_set(&s, x, &r) && (!found || llmo_sched_preemption_better(&r, &best))) {
				best = r;
				found = true;
			}
			if (k == 64)
				break;
		}
	}
	if (found)
		*out = best;
	return found;
}
