/*
 * The live scheduler's cluster state, kept from the informers' events
 * instead of rebuilt for every decision (binder_int.h, struct
 * llmo__binder_state):
 *
 *   - what the pods holding a node take there (cpu, memory, GPU pods by
 *     tag, milli-GPUs per GPU id), updated per pod event and per binding
 *     this binder makes: each pod's last contribution is recorded, so a
 *     change takes exactly that back before adding the new one;
 *   - the pending pods nominated to a node (their room depends on the
 *     priority of the pod being placed, so it is added per decision);
 *   - the nodes in name order with their allocatable and GPU ids, rebuilt
 *     at the first decision after a node event.
 *
 * Everything runs on the binder's loop thread.
 */
#include "base/common.h"

#include <jansson.h>

#include "base/hmap.h"
#include "base/quantity.h"
#include "base/str.h"
#include "kube/informer.h"
#include "kube/object.h"
#include "scheduler/binder_int.h"

#include "base/banned.h"

/* What one pod holding a node takes there (its last contribution). */
struct pod_rec {
	char *node;
	char *gpus; /* its GPU ids, or NULL */
	struct llmo__binder_usage req; /* tags: one count at the pod's tag */
};

static void pod_rec_free(void *v)
{
	struct pod_rec *r = v;

	if (!r)
		return;
	free(r->node);
	free(r->gpus);
	free(r);
}

static void free_plain(void *v)
{
	free(v);
}

static void nodes_clear(struct llmo__binder_state *st)
{
	for (size_t i = 0; i < st->nodes.len; i++) {
		json_decref(st->nodes.items[i].obj);
		llmo_strv_release(&st->nodes.items[i].ids);
	}
	st->nodes.len = 0;
	llmo_hmap_release(&st->node_index, NULL);
	llmo_hmap_init(&st->node_index);
}

void llmo__binder_state_init(struct llmo__binder_state *st)
{
	memset(st, 0, sizeof(*st));
	llmo_hmap_init(&st->used);
	llmo_hmap_init(&st->gpu_used);
	llmo_hmap_init(&st->pods);
	llmo_hmap_init(&st->nominees);
	llmo_hmap_init(&st->node_index);
	st->nodes_dirty = true;
}

void llmo__binder_state_release(struct llmo__binder_state *st)
{
	nodes_clear(st);
	llmo_vec_release(&st->nodes);
	llmo_hmap_release(&st->node_index, NULL);
	llmo_hmap_release(&st->used, free_plain);
	llmo_hmap_release(&st->gpu_used, free_plain);
	llmo_hmap_release(&st->pods, pod_rec_free);
	llmo_hmap_release(&st->nominees, NULL);
}

/* Adds sign times the record to the node's usage and its GPUs'. */
static int apply(struct llmo__binder_state *st, const struct pod_rec *r, int sign)
{
	struct llmo__binder_usage *u = llmo_hmap_get(&st->used, r->node);
	size_t n = 1;

	if (!u) {
		u = calloc(1, sizeof(*u));
		if (!u || llmo_hmap_put(&st->used, r->node, u, NULL)) {
			free(u);
			return LLMO_ENOMEM;
		}
	}
	for (int i = 0; i < RES_N; i++)
		u->v[i] += sign * r->req.v[i];
	for (int t = 0; t < LLMO_SCHED_TAGS; t++)
		u->tags[t] += (uint32_t)(sign * (int64_t)r->req.tags[t]);
	if (!r->gpus || r->req.v[RES_GPU] <= 0)
		return 0;
	for (const char *c = r->gpus; *c; c++)
		n += *c == ',';
	for (const char *s = r->gpus; *s;) {
		size_t len = strcspn(s, ",");
		char k[LLMO_BINDER_KEY_MAX];
		int64_t *v;
		int kn = snprintf(k, sizeof(k), "%s\x1f%.*s", r->node, (int)len, s);

		if (len && kn > 0 && (size_t)kn < sizeof(k)) {
			v = llmo_hmap_get(&st->gpu_used, k);
			if (!v) {
				v = calloc(1, sizeof(*v));
				if (!v || llmo_hmap_put(&st->gpu_used, k, v, NULL)) {
					free(v);
					return LLMO_ENOMEM;
				}
			}
			*v += sign * (r->req.v[RES_GPU] / (int64_t)n);
		}
		s += len;
		if (*s == ',')
			s++;
	}
	return 0;
}

void llmo__binder_pod_held(const struct llmo_binder *b, const json_t *pod, const char *node,
			   struct llmo__binder_usage *u)
{
	const char *share = llmo_kube_annotation(pod, LLMO_BINDER_GPU_SHARE_ANNOTATION);
	const struct llmo__binder_node *n = llmo__binder_state_node(b, node);
	const json_t *obj;
	int64_t milli = 0, total;

	llmo__binder_pod_demand(b, pod, u);
	if (u->gpu_mem <= 0)
		return;
	/*
	 * The share the scheduler gave a bound pod holds even when the node's
	 * report changes; a pending pod's annotation is not the scheduler's yet.
	 */
	if (share && llmo_kube_str(pod, "spec", "nodeName") && llmo_quantity_parse(share, &milli, NULL) == 0 && milli > 0 &&
	    milli <= LLMO_SCHED_MILLI) {
		u->v[RES_GPU] = LLMO_MAX(u->v[RES_GPU], milli);
		return;
	}
	if (n) {
		total = n->gpu_mem;
	} else {
		obj = node && b->nodes ? llmo_informer_get(b->nodes, NULL, node) : NULL;
		if (!obj)
			return;
		total = llmo__binder_node_gpu_memory(obj);
	}
	milli = llmo__binder_gpu_share(u->v[RES_GPU], u->gpu_mem, total);
	if (milli >= 0)
		u->v[RES_GPU] = milli;
}

static bool rec_same(const struct pod_rec *a, const struct pod_rec *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a->node, b->node) == 0 && !a->gpus == !b->gpus &&
	       (!a->gpus || strcmp(a->gpus, b->gpus) == 0) &&
	       memcmp(&a->req, &b->req, sizeof(a->req)) == 0;
}

int llmo__binder_state_pod(struct llmo_binder *b, const char *key, const json_t *pod)
{
	struct llmo__binder_state *st = &b->state;
	struct pod_rec *old = llmo_hmap_get(&st->pods, key), *r = NULL;
	const char *node = pod ? llmo_kube_str(pod, "spec", "nodeName") : NULL;
	struct llmo_sched_pod shape;
	void *prev = NULL;
	int rc = 0;

	/* a pending pod of ours nominated to a node: its room is added per decision */
	if (pod && llmo__binder_pod_pending(b, pod) && llmo__binder_nominated_node(b, pod, key))
		rc = llmo_hmap_put(&st->nominees, key, (void *)st, NULL);
	else
		llmo_hmap_del(&st->nominees, key, NULL);
	if (rc)
		return rc;
	if (pod && !llmo__binder_pod_finished(pod)) {
		if (!node || !*node)
			node = llmo_hmap_get(&b->assumed, key);
	} else {
		node = NULL;
	}
	if (node && *node) {
		const char *gpus = llmo__binder_pod_gpus(b, pod, key);
		int tag;

		r = calloc(1, sizeof(*r));
		if (!r)
			return LLMO_ENOMEM;
		llmo__binder_pod_held(b, pod, node, &r->req);
		memset(r->req.tags, 0, sizeof(r->req.tags));
		tag = llmo__binder_pod_shape(&r->req, &shape) ? llmo_sched_pod_tag(&shape) : -1;
		if (tag >= 0)
			r->req.tags[tag] = 1;
		r->node = llmo_strdup(node);
		r->gpus = gpus && *gpus ? llmo_strdup(gpus) : NULL;
		if (!r->node || (gpus && *gpus && !r->gpus)) {
			pod_rec_free(r);
			return LLMO_ENOMEM;
		}
	}
	if (rec_same(old, r)) {
		pod_rec_free(r);
		return 0;
	}
	if (old) {
		apply(st, old, -1);
		llmo_hmap_del(&st->pods, key, &prev);
		pod_rec_free(prev);
	}
	if (!r)
		return 0;
	rc = llmo_hmap_put(&st->pods, key, r, NULL);
	if (rc) {
		pod_rec_free(r);
		return rc;
	}
	return apply(st, r, +1);
}

static int collect(void *ctx, json_t *obj)
{
	struct llmo__binder_state *st = ctx;
	struct llmo__binder_node *n;

	if (!llmo_kube_str(obj, "metadata", "name"))
		return 0;
	n = llmo_vec_push(&st->nodes);
	if (!n)
		return LLMO_ENOMEM;
	n->obj = json_incref(obj);
	n->name = llmo_kube_str(obj, "metadata", "name");
	return 0;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(((const struct llmo__binder_node *)a)->name,
		      ((const struct llmo__binder_node *)b)->name);
}

int llmo__binder_state_nodes(struct llmo_binder *b)
{
	struct llmo__binder_state *st = &b->state;
	int rc;

	if (!st->nodes_dirty)
		return 0;
	nodes_clear(st);
	rc = llmo_informer_list(b->nodes, NULL, collect, st);
	if (rc)
		goto out;
	if (st->nodes.len > 1)
		qsort(st->nodes.items, st->nodes.len, sizeof(st->nodes.items[0]), cmp_name);
	for (size_t i = 0; i < st->nodes.len && !rc; i++) {
		struct llmo__binder_node *n = &st->nodes.items[i];

		for (int r = 0; r < RES_N; r++)
			n->alloc[r] = llmo__binder_node_alloc(b, n->obj, r);
		n->ready = llmo_kube_condition_true(n->obj, "Ready");
		n->gpu_mem = llmo__binder_node_gpu_memory(n->obj);
		rc = llmo__binder_node_gpu_ids(n->obj, &n->ids);
		if (!rc)
			rc = llmo_hmap_put(&st->node_index, n->name, n, NULL);
	}
out:
	if (rc)
		nodes_clear(st);
	else
		st->nodes_dirty = false;
	return rc;
}

int llmo__binder_state_gpu_memory_pods(const struct llmo_binder *b, const char *node,
					struct llmo_strv *keys)
{
	size_t it = 0;
	const char *key;
	void *v;

	while (llmo_hmap_next(&b->state.pods, &it, &key, &v)) {
		const struct pod_rec *r = v;

		if (r->req.gpu_mem > 0 && strcmp(r->node, node) == 0 && llmo_strv_push(keys, key))
			return LLMO_ENOMEM;
	}
	return 0;
}

const struct llmo__binder_node *llmo__binder_state_node(const struct llmo_binder *b,
							 const char *name)
{
	return name ? llmo_hmap_get(&b->state.node_index, name) : NULL;
}
