/*
 * The live scheduler's gang placement (binder.h: LLMO_BINDER_POD_GROUP_
 * ANNOTATION): a pod group's pending members are placed all or nothing in
 * one decision (reserve, permit, bind), and when the group does not fit,
 * preempted for together: evictions are planned member after member, each
 * seeing those before it as done, and made only when the whole group then
 * fits (binder_preempt.c's plans). Shared internals in binder_int.h.
 */
#include "base/common.h"

#include <ctype.h>
#include <jansson.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/vec.h"
#include "kube/events.h"
#include "kube/informer.h"
#include "kube/object.h"
#include "kube/workqueue.h"
#include "scheduler/binder_int.h"

#include "base/banned.h"

#define LOG_COMPONENT LLMO__BINDER_LOG

/* A pending member of a pod group, and where this decision puts it. */
struct gang_member {
	json_t *pod; /* a reference */
	char key[LLMO_BINDER_KEY_MAX];
	const char *node; /* the chosen node's name (the informer's), or NULL */
	struct llmo_buf gpus;
	bool preempts; /* placed on a node where a plan evicts for it */
};

/* A pod group as the informer shows it: its members bound and pending. */
struct gang {
	struct llmo_binder *b;
	const char *name;
	size_t bound; /* members holding a node (bound or assumed), unfinished */
	LLMO_VEC(struct gang_member) pending; /* in queue order */
};

/* The pod's group (its annotation), or NULL when it has none or a bad one. */
const char *llmo__binder_pod_group(const json_t *pod)
{
	const char *g = llmo_kube_annotation(pod, LLMO_BINDER_POD_GROUP_ANNOTATION);

	return g && *g && strlen(g) <= LLMO_BINDER_POD_GROUP_MAX ? g : NULL;
}

/* The pod's minMember into *min: 1 when absent; false when not 1..LLMO_BINDER_GANG_MAX. */
static bool pod_group_min(const json_t *pod, int64_t *min)
{
	const char *v = llmo_kube_annotation(pod, LLMO_BINDER_POD_GROUP_MIN_ANNOTATION);
	int64_t n = 0;

	*min = 1;
	if (!v)
		return true;
	if (!*v || strlen(v) > 4)
		return false;
	for (const char *c = v; *c; c++) {
		if (!isdigit((unsigned char)*c))
			return false;
		n = n * 10 + (*c - '0');
	}
	if (n < 1 || n > LLMO_BINDER_GANG_MAX)
		return false;
	*min = n;
	return true;
}

static int gang_collect(void *ctx, json_t *pod)
{
	struct gang *g = ctx;
	const char *grp = llmo__binder_pod_group(pod), *node = llmo_kube_str(pod, "spec", "nodeName");
	struct gang_member *m;
	char key[LLMO_BINDER_KEY_MAX];

	if (!grp || strcmp(grp, g->name) != 0 || llmo__binder_pod_finished(pod) ||
	    llmo_kube_object_key(pod, key, sizeof(key)))
		return 0;
	if ((node && *node) || llmo_hmap_has(&g->b->assumed, key)) {
		g->bound++;
		return 0;
	}
	if (!llmo__binder_pod_pending(g->b, pod) || g->pending.len == LLMO_BINDER_GANG_MAX)
		return 0;
	m = llmo_vec_push(&g->pending);
	if (!m)
		return LLMO_ENOMEM;
	m->pod = json_incref(pod);
	memcpy(m->key, key, sizeof(key));
	llmo_buf_init(&m->gpus, LLMO_BINDER_MESSAGE_MAX);
	return 0;
}

static void gang_release(struct gang *g)
{
	for (size_t i = 0; i < g->pending.len; i++) {
		json_decref(g->pending.items[i].pod);
		llmo_buf_release(&g->pending.items[i].gpus);
	}
	llmo_vec_release(&g->pending);
}

/* Sorts the pending members into queue order (insertion sort: groups are small). */
static void gang_sort(struct gang *g)
{
	for (size_t i = 1; i < g->pending.len; i++) {
		struct gang_member m = g->pending.items[i];
		size_t j = i;

		for (; j > 0 && llmo__binder_pod_before(g->b, m.key, g->pending.items[j - 1].key); j--)
			g->pending.items[j] = g->pending.items[j - 1];
		g->pending.items[j] = m;
	}
}

/* Marks pod Unschedulable with msg and records a FailedScheduling Event. */
static void gang_fail(struct llmo_binder *b, const json_t *pod, const char *key, const char *ns,
		      const char *name, const char *msg, bool event)
{
	llmo__binder_report_unschedulable(b, pod, key, ns, name, msg, event);
}

/* What one attempt at placing a group found. */
struct gang_try {
	size_t placed;			/* members placed */
	size_t first_failed;		/* the first member that did not fit, or SIZE_MAX */
	struct llmo__binder_whys whys;	/* why that one did not fit */
};

/*
 * Places g's pending members in queue order on the pass's nodes, each with
 * the members before it reserved; with a plan, a member that fits nowhere
 * is preempted for (llmo__binder_plan_pod, seeing the evictions planned
 * for the members before it) and reserved on the node the plan frees. 0 or
 * an error code.
 */
static int gang_place(struct llmo__binder_pass *p, struct gang *g, struct llmo__binder_plan *plan,
		      struct gang_try *t)
{
	int rc = 0;

	memset(t, 0, sizeof(*t));
	t->first_failed = SIZE_MAX;
	for (size_t i = 0; i < g->pending.len && !rc; i++) {
		struct gang_member *m = &g->pending.items[i];
		struct llmo__binder_objv cands = {LLMO_VEC_INIT}, shorts = {LLMO_VEC_INIT};
		struct llmo__binder_usage req, on;
		struct llmo__binder_whys w;
		json_t *chosen = NULL;

		memset(&w, 0, sizeof(w));
		m->node = NULL;
		m->preempts = false;
		llmo_buf_reset(&m->gpus);
		llmo__binder_pod_demand(p->b, m->pod, &req);
		rc = llmo__binder_filter(p, m->pod, &req, &w, &cands, plan ? &shorts : NULL);
		if (!rc)
			chosen = llmo__binder_choose(p, m->pod, cands.v.items, cands.v.len, &req,
						     &m->gpus, &rc);
		if (!rc && !chosen && plan) {
			rc = llmo__binder_plan_pod(plan, m->pod, m->key, shorts.v.items,
						   shorts.v.len, &req, i, &chosen);
			/* the plan freed room there: take GPUs as the binding will */
			if (!rc && chosen && (!llmo__binder_node_request(p->b, chosen, &req, &on) ||
					      (on.v[RES_GPU] > 0 &&
					       !llmo__binder_pick_gpus(p, chosen, on.v[RES_GPU],
								       &m->gpus))))
				chosen = NULL;
			m->preempts = chosen != NULL;
		}
		if (!rc && chosen) {
			m->node = llmo_kube_str(chosen, "metadata", "name");
			/* what it takes there: a GPU memory request's share on that node */
			llmo__binder_node_request(p->b, chosen, &req, &on);
			rc = llmo__binder_pass_reserve(p, m->node, &on, m->gpus.data, 1);
			t->placed++;
		} else if (!rc && t->first_failed == SIZE_MAX) {
			w.n[WHY_GPU] += (int)cands.v.len;
			t->whys = w;
			t->first_failed = i;
		}
		llmo_vec_release(&cands.v);
		llmo_vec_release(&shorts.v);
	}
	return rc;
}

/*
 * Preempts for g (binder.h, "Gang placement"), which does not fit as the
 * cluster is (needed: the members that must be placed): plans evictions on
 * a fresh pass with the rules of a lone pod's preemption, member after
 * member, and only when every member then has a node evicts the planned
 * victims, nominating each member to its node. Nothing when a member waits
 * for victims still leaving its nominated node, or when the group could
 * only partly fit. pod (key) is the member being reconciled; its priority
 * is the pass's. 0 or an error code.
 */
static int gang_preempt(struct llmo_binder *b, struct gang *g, const json_t *pod, const char *key,
			const char *ns, int32_t priority, size_t needed)
{
	struct llmo__binder_pass q = {.b = b, .self = key, .priority = priority,
				      .group_ns = ns, .group = g->name, .nodes = LLMO_VEC_INIT};
	struct llmo__binder_plan *plan = NULL;
	struct gang_try t;
	struct llmo_buf names;
	int rc;

	if (llmo__binder_pod_preemption(b, pod) == LLMO_PREEMPT_NEVER ||
	    !llmo_informer_synced(b->workloads))
		return 0;
	llmo_hmap_init(&q.used);
	llmo_hmap_init(&q.gpu_used);
	llmo_buf_init(&names, LLMO_BINDER_MESSAGE_MAX);
	rc = llmo__binder_pass_fill(&q);
	if (!rc)
		rc = llmo__binder_plan_new(&q, &plan);
	/* room is being made for the group already: wait for it, evict no more */
	for (size_t i = 0; !rc && i < g->pending.len; i++) {
		const struct gang_member *m = &g->pending.items[i];
		const char *mine = llmo__binder_nominated_node(b, m->pod, m->key);

		if (mine && llmo__binder_plan_leaving(plan, mine,
						      llmo__binder_pod_priority(b, m->pod)))
			goto out;
	}
	if (!rc)
		rc = gang_place(&q, g, plan, &t);
	if (rc || t.placed < needed || t.placed == 0 || !llmo__binder_plan_victims(plan))
		goto out;
	for (size_t i = 0; i < g->pending.len; i++) {
		struct gang_member *m = &g->pending.items[i];
		int32_t prio = llmo__binder_pod_priority(b, m->pod);
		char mns[LLMO_BINDER_KEY_MAX];
		const char *mname;
		json_t *ref;
		int evicted;

		if (!m->node || !(mname = llmo_kube_key_split(m->key, mns, sizeof(mns))))
			continue;
		llmo_buf_reset(&names);
		evicted = m->preempts ? llmo__binder_plan_evict(plan, i, m->key, prio, &names) : 0;
		llmo__binder_nominate(b, m->key, mns, mname, m->node);
		ref = evicted ? llmo__binder_pod_ref(m->pod) : NULL;
		if (ref)
			llmo_kube_event(b->rec, ref, "Normal", "Preempting",
					"Preempting %d pod(s) of lower priority on node %s for pod "
					"group %s/%s: %s",
					evicted, m->node, ns, g->name, names.data ? names.data : "");
		json_decref(ref);
	}
out:
	llmo__binder_plan_free(plan);
	llmo_buf_release(&names);
	llmo_vec_release(&q.nodes);
	llmo_sched_podaff_free(q.podaff);
	llmo_sched_spread_free(q.spread);
	llmo_hmap_release(&q.used, free);
	llmo_hmap_release(&q.gpu_used, free);
	return rc;
}

/*
 * Places pod's whole group (binder.h) in one decision: every pending member
 * in queue order is filtered and placed with the members before it
 * reserved; when the bound members and those placed reach minMember, the
 * placed ones are bound (reserve, permit, bind), else none is, pod is
 * marked with how many fit, and the group preempts when its members may
 * (gang_preempt). 1 to retry with backoff, 0 when done, or an error code.
 */
int llmo__binder_gang_reconcile(struct llmo__binder_pass *p, const json_t *pod, const char *key,
				const char *ns, const char *name)
{
	struct llmo_binder *b = p->b;
	struct gang g = {.b = b, .name = llmo__binder_pod_group(pod), .pending = LLMO_VEC_INIT};
	struct llmo_buf msg;
	struct gang_try t;
	size_t needed;
	int64_t min;
	int rc;

	llmo_buf_init(&msg, LLMO_BINDER_MESSAGE_MAX);
	if (!pod_group_min(pod, &min)) {
		rc = llmo_buf_appendf(&msg,
				      "pod group %s/%s: annotation %s must be an integer from 1 to %d",
				      ns, g.name, LLMO_BINDER_POD_GROUP_MIN_ANNOTATION,
				      LLMO_BINDER_GANG_MAX);
		if (!rc)
			gang_fail(b, pod, key, ns, name, msg.data, true);
		rc = rc ? rc : 1;
		goto out;
	}
	rc = llmo_informer_list(b->pods, ns, gang_collect, &g);
	if (rc)
		goto out;
	gang_sort(&g);
	needed = (size_t)min > g.bound ? (size_t)min - g.bound : 0;
	if (g.pending.len < needed) {
		/* the others are still to come: their arrival brings the group back */
		rc = llmo_buf_appendf(&msg,
				      "pod group %s/%s: waiting for %zu more pod(s) (%zu pending, "
				      "%zu bound, minMember %" PRId64 ")",
				      ns, g.name, needed - g.pending.len, g.pending.len, g.bound, min);
		if (!rc)
			gang_fail(b, pod, key, ns, name, msg.data, false);
		rc = rc ? rc : 1;
		goto out;
	}
	p->group_ns = ns;
	p->group = g.name;
	rc = llmo__binder_pass_fill(p);
	if (!rc)
		rc = gang_place(p, &g, NULL, &t);
	if (rc)
		goto out;
	if (t.placed > 0 && t.placed >= needed) {
		/* permit: enough of the group fits; bind every member placed */
		for (size_t i = 0; i < g.pending.len && !rc; i++) {
			struct gang_member *m = &g.pending.items[i];
			char mns[LLMO_BINDER_KEY_MAX];
			const char *mname;

			if (!m->node || !(mname = llmo_kube_key_split(m->key, mns, sizeof(mns))))
				continue;
			rc = llmo__binder_bind(b, m->pod, m->key, mns, mname, m->node, m->gpus.data);
			if (!rc)
				llmo_workqueue_forget(b->queue, m->key);
		}
		if (rc)
			llmo_log(LLMO_LOG_WARN, LOG_COMPONENT, "pod group partly bound",
				 "group=%s/%s rc=%d", ns, g.name, rc);
		/* a member not placed (the group was satisfied without it) retries alone */
		rc = llmo_hmap_has(&b->assumed, key) ? 0 : 1;
		goto out;
	}
	rc = llmo_buf_appendf(&msg, "pod group %s/%s: %zu of %zu pod(s) fit, minMember %" PRId64 "; ",
			      ns, g.name, t.placed + g.bound, g.pending.len + g.bound, min);
	if (!rc && t.first_failed != SIZE_MAX)
		rc = llmo__binder_format_reasons(p->nodes.len, &t.whys, &msg);
	if (!rc) {
		gang_fail(b, pod, key, ns, name, msg.data, true);
		rc = gang_preempt(b, &g, pod, key, ns, p->priority, needed);
		if (rc)
			llmo_log(LLMO_LOG_WARN, LOG_COMPONENT, "pod group preemption failed",
				 "group=%s/%s rc=%d", ns, g.name, rc);
		rc = rc == LLMO_ENOMEM ? rc : 1; /* retry rate-limited */
	}
out:
	llmo_buf_release(&msg);
	gang_release(&g);
	return rc;
}
