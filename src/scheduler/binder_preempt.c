/*
 * The live scheduler's preemption (binder.h): candidate victims from the
 * informers, the one-node search of preempt.h on each node that failed on
 * resources alone, eviction through pods/eviction, Events and the
 * nomination. A plan (struct llmo__binder_plan) gathers the victims of one
 * or more preemptors, each search seeing the evictions planned before it
 * as done (their resources free in the pass, their workloads' live pods
 * fewer), so that a gang (binder_gang.c) evicts only when all its members
 * fit.
 */
#include "base/common.h"

#include <event2/event.h>

#include "api/config.h"
#include "base/buf.h"
#include "base/log.h"
#include "base/vec.h"
#include "kube/events.h"
#include "kube/informer.h"
#include "kube/object.h"
#include "scheduler/binder_int.h"
#include "scheduler/preempt.h"

#include "base/banned.h"

#define LOG_COMPONENT LLMO__BINDER_LOG

/* Workloads whose pods are candidate victims on one node, at most. */
#define BINDER_GROUPS_MAX LLMO_SCHED_PREEMPT_VICTIMS_MAX

struct victim_ref {
	json_t *pod; /* borrowed from the informer */
	char key[LLMO_BINDER_KEY_MAX];
	struct llmo_sched_victim v;
};

/* A workload (LLMWorkload ns/name) some candidate victims belong to. */
struct group {
	char ns[LLMO_BINDER_KEY_MAX];
	char name[LLMO_BINDER_KEY_MAX];
	int32_t min_replicas;
};

/*
 * The pods on each node and the live pods (bound, unfinished, not being
 * deleted) of each workload, built once per preemption so that trying a
 * node reads only its own pods.
 */
struct pod_index {
	struct llmo_binder *b;
	struct llmo_hmap by_node; /* node name -> struct pod_list * (owned) */
	struct llmo_hmap live;    /* "ns\x1fworkload" -> (uintptr_t) live pods */
};

struct pod_list {
	LLMO_VEC(json_t *) pods; /* borrowed from the informer */
};

/* A victim a plan holds: its eviction is planned for preemptor member. */
struct plan_victim {
	json_t *pod; /* borrowed from the informer */
	char key[LLMO_BINDER_KEY_MAX];
	int32_t priority;
	size_t member;
	const char *node; /* borrowed from the node object */
};

struct llmo__binder_plan {
	struct llmo__binder_pass *p;
	struct pod_index idx;
	struct llmo_hmap taken; /* keys of the victims planned */
	LLMO_VEC(struct plan_victim) victims;
};

/* One node's candidate victims for one preemptor. */
struct node_victims {
	struct llmo__binder_pass *p;
	const struct pod_index *idx;
	const struct llmo_hmap *taken; /* victims planned already: not candidates again */
	const json_t *preemptor;
	const char *self;
	int32_t priority;
	int policy;
	const char *node;
	const struct llmo_strv *ids; /* the node's GPU ids by index */
	LLMO_VEC(struct victim_ref) victims;
	struct group groups[BINDER_GROUPS_MAX];
	size_t ngroups;
	bool waiting; /* a lower-priority pod is leaving the node already */
	int rc;
};

/* The node pod holds (bound, or bound by this binder), or NULL. */
static const char *pod_node(const struct llmo_binder *b, const json_t *pod, const char *key)
{
	const char *node = llmo_kube_str(pod, "spec", "nodeName");

	if ((!node || !*node) && key && *key)
		node = llmo_hmap_get(&b->assumed, key);
	return node && *node ? node : NULL;
}

/* Whether the preemptor may evict pod (binder.h: lower, or for always equal and younger). */
static bool may_evict(const struct node_victims *nv, const json_t *pod, const char *key,
		      int32_t prio)
{
	int t;

	if (prio < nv->priority)
		return true;
	if (nv->policy != LLMO_PREEMPT_ALWAYS || prio != nv->priority)
		return false;
	t = strcmp(llmo__binder_created(pod), llmo__binder_created(nv->preemptor));
	return t > 0 || (t == 0 && strcmp(key, nv->self) > 0);
}

/* The index of pod's workload group, added when its LLMWorkload exists; -1 when none. */
static int group_of(struct node_victims *nv, const json_t *pod)
{
	const char *wl = llmo__binder_label(pod, LLMO_BINDER_WORKLOAD_LABEL);
	const char *ns = llmo_kube_str(pod, "metadata", "namespace");
	json_t *w, *min;
	struct group *g;

	if (!wl || !*wl || !ns || strlen(wl) >= sizeof(g->name) || strlen(ns) >= sizeof(g->ns))
		return -1;
	for (size_t i = 0; i < nv->ngroups; i++)
		if (strcmp(nv->groups[i].ns, ns) == 0 && strcmp(nv->groups[i].name, wl) == 0)
			return (int)i;
	w = llmo_informer_get(nv->p->b->workloads, ns, wl);
	if (!w || nv->ngroups == BINDER_GROUPS_MAX)
		return w ? -2 : -1; /* -2: a workload past the limit, never evicted */
	g = &nv->groups[nv->ngroups];
	snprintf(g->ns, sizeof(g->ns), "%s", ns);
	snprintf(g->name, sizeof(g->name), "%s", wl);
	min = json_object_get(json_object_get(json_object_get(w, "spec"), "scaling"), "minReplicas");
	g->min_replicas = json_is_integer(min) ? (int32_t)json_integer_value(min) : 1;
	return (int)nv->ngroups++;
}

/* Spreads the pod's GPU milli over the node's GPU indices it holds. */
static void victim_gpus(const struct node_victims *nv, const char *ids, int64_t milli,
			struct llmo_sched_victim *v)
{
	size_t n = 1;

	if (!ids || !*ids)
		return;
	for (const char *c = ids; *c; c++)
		n += *c == ',';
	for (const char *s = ids; *s;) {
		size_t len = strcspn(s, ",");

		for (size_t g = 0; g < nv->ids->len && g < LLMO_SCHED_NODE_GPUS_MAX; g++)
			if (strlen(nv->ids->items[g]) == len && strncmp(nv->ids->items[g], s, len) == 0)
				v->gpu[g] += (int)LLMO_MIN(milli / (int64_t)n, LLMO_SCHED_MILLI);
		s += len;
		if (*s == ',')
			s++;
	}
}

/*
 * Takes pod, an unfinished pod on the node (pod_index), as a candidate
 * victim when the preemptor may evict it; notes a lower-priority pod being
 * deleted there (the node is being made room on already).
 */
static int collect_victim(struct node_victims *nv, json_t *pod)
{
	struct llmo_binder *b = nv->p->b;
	char key[LLMO_BINDER_KEY_MAX];
	struct victim_ref *ref;
	struct llmo__binder_usage req;
	int32_t prio;
	int group;

	if (llmo_kube_object_key(pod, key, sizeof(key)) || llmo_hmap_has(nv->taken, key))
		return 0;
	prio = llmo__binder_pod_priority(b, pod);
	if (llmo__binder_pod_leaving(b, pod, key)) {
		nv->waiting = nv->waiting || prio < nv->priority;
		return 0;
	}
	if (!may_evict(nv, pod, key, prio))
		return 0;
	group = group_of(nv, pod);
	if (group == -2)
		return 0;
	ref = llmo_vec_push(&nv->victims);
	if (!ref)
		return LLMO_ENOMEM;
	memset(ref, 0, sizeof(*ref));
	ref->pod = pod;
	memcpy(ref->key, key, sizeof(key));
	llmo__binder_pod_held(b, pod, nv->node, &req);
	ref->v.cpu = LLMO_MAX(req.v[RES_CPU], 0);
	ref->v.mem = LLMO_MAX(req.v[RES_MEMORY], 0);
	ref->v.priority = prio;
	ref->v.group = group;
	if (req.v[RES_GPU] > 0)
		victim_gpus(nv, llmo__binder_pod_gpus(b, pod, key), req.v[RES_GPU], &ref->v);
	return 0;
}

/* Files an unfinished pod under its node, and counts it live for its workload. */
static int index_pod(void *ctx, json_t *pod)
{
	struct pod_index *idx = ctx;
	const char *wl = llmo__binder_label(pod, LLMO_BINDER_WORKLOAD_LABEL);
	const char *ns = llmo_kube_str(pod, "metadata", "namespace");
	char key[LLMO_BINDER_KEY_MAX], wkey[2 * LLMO_BINDER_KEY_MAX];
	struct pod_list *list;
	const char *node;
	json_t **slot;

	if (llmo__binder_pod_finished(pod) || llmo_kube_object_key(pod, key, sizeof(key)))
		return 0;
	node = pod_node(idx->b, pod, key);
	if (!node)
		return 0;
	list = llmo_hmap_get(&idx->by_node, node);
	if (!list) {
		list = calloc(1, sizeof(*list));
		if (!list || llmo_hmap_put(&idx->by_node, node, list, NULL)) {
			free(list);
			return LLMO_ENOMEM;
		}
	}
	slot = llmo_vec_push(&list->pods);
	if (!slot)
		return LLMO_ENOMEM;
	*slot = pod;
	if (wl && ns && !llmo__binder_pod_leaving(idx->b, pod, key)) {
		snprintf(wkey, sizeof(wkey), "%s\x1f%s", ns, wl);
		if (llmo_hmap_put(&idx->live, wkey,
				  (void *)((uintptr_t)llmo_hmap_get(&idx->live, wkey) + 1), NULL))
			return LLMO_ENOMEM;
	}
	return 0;
}

static void free_pod_list(void *v)
{
	struct pod_list *list = v;

	llmo_vec_release(&list->pods);
	free(list);
}

static void pod_index_release(struct pod_index *idx)
{
	llmo_hmap_release(&idx->by_node, free_pod_list);
	llmo_hmap_release(&idx->live, NULL);
}

/* The live pods of group g (pod_index). */
static int group_live(const struct node_victims *nv, size_t g)
{
	char wkey[2 * LLMO_BINDER_KEY_MAX];

	snprintf(wkey, sizeof(wkey), "%s\x1f%s", nv->groups[g].ns, nv->groups[g].name);
	return (int)LLMO_MIN((uintptr_t)llmo_hmap_get(&nv->idx->live, wkey), (uintptr_t)INT_MAX);
}

/* Lowest priority first, then the youngest, then by key: the order victims are tried in. */
static int cmp_victim(const void *a, const void *b)
{
	const struct victim_ref *x = a, *y = b;
	int t;

	if (x->v.priority != y->v.priority)
		return x->v.priority < y->v.priority ? -1 : 1;
	t = strcmp(llmo__binder_created(y->pod), llmo__binder_created(x->pod));
	return t ? t : strcmp(x->key, y->key);
}

/*
 * Finds the victims on node for the preemptor into nv (set up by the
 * caller) and *out: true when a set works. The node's state is its
 * allocatable minus what p counted on it (pods there, and the room of
 * nominated pods of at least the preemptor's priority).
 */
static bool try_node(struct node_victims *nv, const json_t *node,
		     const struct llmo_sched_pod *shape,
		     struct llmo_sched_preemption *out)
{
	struct llmo__binder_pass *p = nv->p;
	const struct llmo__binder_usage *used = llmo__binder_used(p, nv->node);
	struct llmo_sched_victim v[LLMO_SCHED_PREEMPT_VICTIMS_MAX];
	int budget[BINDER_GROUPS_MAX] = {0};
	struct llmo_sched_node n = {0};
	const struct pod_list *list;
	size_t count;

	n.ngpus = (int)nv->ids->len;
	n.model = 0;
	n.cpu_cap = llmo__binder_node_alloc(p->b, node, RES_CPU);
	n.mem_cap = llmo__binder_node_alloc(p->b, node, RES_MEMORY);
	n.cpu_left = n.cpu_cap - (used ? used->v[RES_CPU] : 0);
	n.mem_left = n.mem_cap - (used ? used->v[RES_MEMORY] : 0);
	for (size_t g = 0; g < nv->ids->len; g++) {
		int64_t u = llmo__binder_gpu_used(p, nv->node, nv->ids->items[g]);

		n.gpu_left[g] = (int)(LLMO_SCHED_MILLI - LLMO_MIN(u, 2 * LLMO_SCHED_MILLI));
	}
	list = llmo_hmap_get(&nv->idx->by_node, nv->node);
	for (size_t i = 0; list && i < list->pods.len && !nv->rc; i++)
		nv->rc = collect_victim(nv, list->pods.items[i]);
	if (nv->rc || nv->waiting || !nv->victims.len)
		return false;
	qsort(nv->victims.items, nv->victims.len, sizeof(nv->victims.items[0]), cmp_victim);
	count = LLMO_MIN(nv->victims.len, (size_t)LLMO_SCHED_PREEMPT_VICTIMS_MAX);
	nv->victims.len = count;
	for (size_t i = 0; i < count; i++)
		v[i] = nv->victims.items[i].v;
	for (size_t g = 0; g < nv->ngroups; g++)
		budget[g] = LLMO_MAX(group_live(nv, g) - nv->groups[g].min_replicas, 0);
	return llmo_sched_preempt_pick(&n, shape, v, count, budget, nv->ngroups, out);
}

/* POSTs pods/eviction for the victim and records its Preempted Event. */
static int evict(struct llmo_binder *b, const struct plan_victim *vr, const char *preemptor,
		 int32_t priority)
{
	const char *ns = llmo_kube_str(vr->pod, "metadata", "namespace");
	const char *name = llmo_kube_str(vr->pod, "metadata", "name");
	const char *node = vr->node;
	struct llmo_error err = {0};
	struct llmo_buf path;
	json_t *body = NULL, *ref = NULL;
	int rc;

	llmo_buf_init(&path, LLMO__BINDER_PATH_MAX);
	rc = llmo_kube_path(&llmo_kube_pods, ns, name, "eviction", &path);
	if (rc)
		goto out;
	body = json_pack("{s:s, s:s, s:{s:s, s:s}}", "apiVersion", "policy/v1", "kind", "Eviction",
			 "metadata", "name", name, "namespace", ns);
	if (!body) {
		rc = LLMO_ENOMEM;
		goto out;
	}
	rc = llmo_kube_request(b->client, "POST", path.data, NULL, body, NULL, NULL, &err);
	if (rc) {
		llmo_log(LLMO_LOG_WARN, LOG_COMPONENT, "eviction failed", "pod=%s err=%s", vr->key,
			 err.msg);
		goto out;
	}
	b->evicted++;
	if (llmo_hmap_put(&b->evicting, vr->key, NULL, NULL))
		llmo_log(LLMO_LOG_WARN, LOG_COMPONENT, "out of memory", "pod=%s", vr->key);
	llmo_log(LLMO_LOG_INFO, LOG_COMPONENT, "preempted", "pod=%s by=%s node=%s", vr->key,
		 preemptor, node);
	ref = llmo__binder_pod_ref(vr->pod);
	if (ref)
		llmo_kube_event(b->rec, ref, "Normal", "Preempted",
				"Preempted by %s (priority %" PRId32 ") on node %s, where %s did "
				"not fit; this pod's priority is %" PRId32,
				preemptor, priority, node, preemptor, vr->priority);
out:
	json_decref(ref);
	json_decref(body);
	llmo_buf_release(&path);
	return rc;
}

int llmo__binder_nominate(struct llmo_binder *b, const char *key, const char *ns, const char *name,
		    const char *node)
{
	struct llmo_error err = {0};
	json_t *patch = json_pack("{s:{s:s}}", "status", "nominatedNodeName", node);
	char *copy = llmo_strdup(node);
	void *old = NULL;
	int rc;

	if (!patch || !copy || llmo_hmap_put(&b->nominated, key, copy, &old)) {
		json_decref(patch);
		free(copy);
		return LLMO_ENOMEM;
	}
	free(old);
	rc = llmo_kube_patch(b->client, &llmo_kube_pods, ns, name, "status", LLMO_KUBE_PATCH_MERGE,
			     patch, NULL, &err);
	json_decref(patch);
	if (rc)
		llmo_log(LLMO_LOG_WARN, LOG_COMPONENT, "nominatedNodeName patch failed",
			 "pod=%s err=%s", key, err.msg);
	return rc;
}

static void node_victims_release(struct node_victims *nv)
{
	llmo_vec_release(&nv->victims);
}

int llmo__binder_plan_new(struct llmo__binder_pass *p, struct llmo__binder_plan **out)
{
	struct llmo__binder_plan *pl = calloc(1, sizeof(*pl));
	int rc;

	*out = NULL;
	if (!pl)
		return LLMO_ENOMEM;
	pl->p = p;
	pl->idx.b = p->b;
	llmo_hmap_init(&pl->idx.by_node);
	llmo_hmap_init(&pl->idx.live);
	llmo_hmap_init(&pl->taken);
	rc = llmo_informer_list(p->b->pods, NULL, index_pod, &pl->idx);
	if (rc) {
		llmo__binder_plan_free(pl);
		return rc;
	}
	*out = pl;
	return 0;
}

void llmo__binder_plan_free(struct llmo__binder_plan *pl)
{
	if (!pl)
		return;
	pod_index_release(&pl->idx);
	llmo_hmap_release(&pl->taken, NULL);
	llmo_vec_release(&pl->victims);
	free(pl);
}

bool llmo__binder_plan_leaving(const struct llmo__binder_plan *pl, const char *node,
			       int32_t priority)
{
	const struct pod_list *list = llmo_hmap_get(&pl->idx.by_node, node);

	for (size_t i = 0; list && i < list->pods.len; i++) {
		const json_t *pod = list->pods.items[i];
		char key[LLMO_BINDER_KEY_MAX];

		if (llmo_kube_object_key(pod, key, sizeof(key)) == 0 &&
		    llmo__binder_pod_leaving(pl->p->b, pod, key) &&
		    llmo__binder_pod_priority(pl->p->b, pod) < priority)
			return true;
	}
	return false;
}

/*
 * Plans the eviction of vr (on node, for preemptor member):
 * its resources are freed in the pass and its workload counts one live pod
 * fewer for the searches that follow.
 */
static int plan_take(struct llmo__binder_plan *pl, const struct victim_ref *vr, const char *node,
		     size_t member)
{
	struct llmo_binder *b = pl->p->b;
	const char *wl = llmo__binder_label(vr->pod, LLMO_BINDER_WORKLOAD_LABEL);
	const char *ns = llmo_kube_str(vr->pod, "metadata", "namespace");
	char wkey[2 * LLMO_BINDER_KEY_MAX];
	struct llmo__binder_usage req;
	struct plan_victim *pv;
	uintptr_t live;

	if (wl && ns) {
		snprintf(wkey, sizeof(wkey), "%s\x1f%s", ns, wl);
		live = (uintptr_t)llmo_hmap_get(&pl->idx.live, wkey);
		if (live > 0 && llmo_hmap_put(&pl->idx.live, wkey, (void *)(live - 1), NULL))
			return LLMO_ENOMEM;
	}
	if (llmo_hmap_put(&pl->taken, vr->key, (void *)1, NULL))
		return LLMO_ENOMEM;
	pv = llmo_vec_push(&pl->victims);
	if (!pv)
		return LLMO_ENOMEM;
	pv->pod = vr->pod;
	memcpy(pv->key, vr->key, sizeof(pv->key));
	pv->priority = vr->v.priority;
	pv->member = member;
	pv->node = node;
	llmo__binder_pod_held(b, vr->pod, node, &req);
	return llmo__binder_pass_reserve(pl->p, node, &req,
					 llmo__binder_pod_gpus(b, vr->pod, vr->key), -1);
}

int llmo__binder_plan_pod(struct llmo__binder_plan *pl, const json_t *pod, const char *key,
			  json_t **nodes, size_t n, const struct llmo__binder_usage *req,
			  size_t member, json_t **chosen)
{
	struct llmo__binder_pass *p = pl->p;
	struct llmo_binder *b = p->b;
	struct node_victims best = {0};
	struct llmo_sched_preemption best_r = {0};
	struct llmo_sched_pod shape;
	json_t *best_node = NULL;
	const char *mine;
	int32_t priority = llmo__binder_pod_priority(b, pod);
	int rc = 0, policy = llmo__binder_pod_preemption(b, pod);

	*chosen = NULL;
	if (policy == LLMO_PREEMPT_NEVER || !llmo__binder_pod_shape(req, &shape))
		return 0;
	mine = llmo__binder_nominated_node(b, pod, key);
	for (size_t i = 0; i < n && !rc; i++) {
		const char *node = llmo_kube_str(nodes[i], "metadata", "name");
		struct node_victims nv = {.p = p, .idx = &pl->idx, .taken = &pl->taken,
					  .preemptor = pod, .self = key, .priority = priority,
					  .policy = policy, .node = node, .victims = LLMO_VEC_INIT};
		struct llmo_strv ids = {0};
		struct llmo_sched_preemption r;
		struct llmo__binder_usage on;

		/* a GPU memory request asks a share that depends on the node */
		if (!llmo__binder_node_request(b, nodes[i], req, &on) ||
		    !llmo__binder_pod_shape(&on, &shape))
			continue;
		rc = llmo__binder_node_gpu_ids(nodes[i], &ids);
		nv.ids = &ids;
		if (!rc && ids.len <= LLMO_SCHED_NODE_GPUS_MAX && try_node(&nv, nodes[i], &shape, &r) &&
		    (!best_node || llmo_sched_preemption_better(&r, &best_r))) {
			node_victims_release(&best);
			best = nv;
			memset(&nv.victims, 0, sizeof(nv.victims));
			best_r = r;
			best_node = nodes[i];
		}
		rc = rc ? rc : nv.rc;
		if (nv.waiting && mine && strcmp(mine, node) == 0) {
			/* its victims are still leaving: wait for them, evict no more */
			node_victims_release(&nv);
			llmo_strv_release(&ids);
			best_node = NULL;
			break;
		}
		node_victims_release(&nv);
		llmo_strv_release(&ids);
	}
	for (size_t i = 0; !rc && best_node && i < best.victims.len && i < 64; i++)
		if (best_r.set >> i & 1)
			rc = plan_take(pl, &best.victims.items[i],
				       llmo_kube_str(best_node, "metadata", "name"), member);
	if (!rc)
		*chosen = best_node;
	node_victims_release(&best);
	return rc;
}

size_t llmo__binder_plan_victims(const struct llmo__binder_plan *pl)
{
	return pl->victims.len;
}

int llmo__binder_plan_evict(struct llmo__binder_plan *pl, size_t member, const char *preemptor,
			    int32_t priority, struct llmo_buf *names)
{
	int evicted = 0;

	for (size_t i = 0; i < pl->victims.len; i++) {
		const struct plan_victim *pv = &pl->victims.items[i];

		if (pv->member != member || evict(pl->p->b, pv, preemptor, priority) != 0)
			continue;
		evicted++;
		if (names->len)
			llmo_buf_puts(names, ", ");
		llmo_buf_puts(names, pv->key);
	}
	return evicted;
}

/*
 * Preempts for pod (the binder's rules, binder.h) on one of nodes[0..n)
 * (those that failed on resources alone, in name order): evicts the best
 * set of victims, nominates the node. 0 also when there is nothing to do;
 * an error code when the cache could not be read or memory ran out.
 */
int llmo__binder_preempt(struct llmo__binder_pass *p, const json_t *pod, const char *key,
			 const char *ns, const char *name, json_t **nodes, size_t n,
			 const struct llmo__binder_usage *req)
{
	struct llmo_binder *b = p->b;
	struct llmo__binder_plan *pl = NULL;
	struct llmo_sched_pod shape;
	struct llmo_buf names;
	const char *node_name;
	json_t *node = NULL, *ref;
	int rc, evicted;

	/* the cheap refusals first: a plan lists every pod */
	if (llmo__binder_pod_preemption(b, pod) == LLMO_PREEMPT_NEVER ||
	    !llmo__binder_pod_shape(req, &shape) || !llmo_informer_synced(b->workloads))
		return 0;
	llmo_buf_init(&names, LLMO_BINDER_MESSAGE_MAX);
	rc = llmo__binder_plan_new(p, &pl);
	if (!rc)
		rc = llmo__binder_plan_pod(pl, pod, key, nodes, n, req, 0, &node);
	if (rc || !node)
		goto out;
	node_name = llmo_kube_str(node, "metadata", "name");
	evicted = llmo__binder_plan_evict(pl, 0, key, p->priority, &names);
	if (!evicted)
		goto out;
	llmo__binder_nominate(b, key, ns, name, node_name);
	ref = llmo__binder_pod_ref(pod);
	if (ref)
		llmo_kube_event(b->rec, ref, "Normal", "Preempting",
				"Preempting %d pod(s) of lower priority on node %s: %s", evicted,
				node_name, names.data ? names.data : "");
	json_decref(ref);
out:
	llmo__binder_plan_free(pl);
	llmo_buf_release(&names);
	return rc;
}
