/*
 * The first-fit pod binder; see binder.h.
 */
#include "base/common.h"

#include <event2/event.h>
#include <jansson.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/hmap.h"
#include "base/log.h"
#include "base/quantity.h"
#include "base/str.h"
#include "base/vec.h"
#include "kube/events.h"
#include "kube/informer.h"
#include "kube/workqueue.h"
#include "scheduler/binder.h"

#define LOG_COMPONENT "scheduler"
/* Longest URL path built (namespace, name, subresource). */
#define BINDER_PATH_MAX 1024
/* Retry delay while the informers have not listed yet. */
#define BINDER_UNSYNCED_RETRY_MS 100

enum { RES_CPU, RES_MEMORY, RES_GPU, RES_N };

static const char *const res_names[RES_N] = {"cpu", "memory", "nvidia.com/gpu"};

/* Failure reasons, in the order the message lists them. */
enum { WHY_CPU, WHY_MEMORY, WHY_GPU, WHY_NOT_READY, WHY_UNSCHEDULABLE, WHY_N };

static const char *const why_text[WHY_N] = {
	"Insufficient cpu",	    "Insufficient memory",	  "Insufficient nvidia.com/gpu",
	"node(s) were not ready", "node(s) were unschedulable",
};

struct usage {
	int64_t v[RES_N];
};

struct llmo_binder {
	struct llmo_kube_client *client;
	struct event_base *base;
	char *name;
	struct llmo_informer *pods;
	struct llmo_informer *nodes;
	struct llmo_workqueue *queue;
	struct llmo_event_recorder *rec;
	/* pod key -> node name (owned) for bindings made, until the informer shows them */
	struct llmo_hmap assumed;
	/* pod key -> the GPU ids assigned (owned), until the informer shows the annotation */
	struct llmo_hmap assumed_gpus;
	size_t bound;
	double overcommit; /* cpu and memory allocatable multiplier (>= 1) */
	bool started;
};

static const char *jstr(const json_t *obj, const char *a, const char *b)
{
	return json_string_value(json_object_get(json_object_get(obj, a), b));
}

static bool str_eq(const json_t *v, const char *s)
{
	const char *t = json_string_value(v);

	return t && strcmp(t, s) == 0;
}

static int pod_key(const json_t *pod, char *key, size_t n)
{
	const char *ns = jstr(pod, "metadata", "namespace"), *name = jstr(pod, "metadata", "name");
	int len;

	if (!name)
		return LLMO_EINVAL;
	len = snprintf(key, n, "%s/%s", ns ? ns : "", name);
	return len < 0 || (size_t)len >= n ? LLMO_ETOOBIG : 0;
}

static bool pod_is_candidate(const struct llmo_binder *b, const json_t *pod)
{
	const char *sched = jstr(pod, "spec", "schedulerName");
	const char *node = jstr(pod, "spec", "nodeName");

	if (!sched || strcmp(sched, b->name) != 0)
		return false;
	if (node && *node)
		return false;
	return json_object_get(json_object_get(pod, "metadata"), "deletionTimestamp") == NULL;
}

static bool pod_finished(const json_t *pod)
{
	const char *phase = jstr(pod, "status", "phase");

	return phase && (strcmp(phase, "Succeeded") == 0 || strcmp(phase, "Failed") == 0);
}

/* Adds a to *sum, saturating at INT64_MAX / INT64_MIN. */
static void sat_add(int64_t *sum, int64_t a)
{
	if (llmo_quantity_add(*sum, a, sum))
		*sum = a > 0 ? INT64_MAX : INT64_MIN;
}

/* The pod's request; unparsable quantities count as 0 (validation rejects them). */
static void pod_request(const json_t *pod, struct usage *u)
{
	json_t *containers = json_object_get(json_object_get(pod, "spec"), "containers");
	json_t *c;
	size_t i;

	memset(u, 0, sizeof(*u));
	json_array_foreach(containers, i, c) {
		json_t *req = json_object_get(json_object_get(c, "resources"), "requests");

		for (int r = 0; r < RES_N; r++) {
			json_t *q = json_object_get(req, res_names[r]);
			int64_t m = 0;

			if (q && llmo_quantity_from_json(q, &m, NULL) == 0)
				sat_add(&u->v[r], m);
		}
	}
}

static bool node_ready(const json_t *node)
{
	json_t *conds = json_object_get(json_object_get(node, "status"), "conditions");
	json_t *c;
	size_t i;

	json_array_foreach(conds, i, c) {
		const char *type = json_string_value(json_object_get(c, "type"));
		const char *st = json_string_value(json_object_get(c, "status"));

		if (type && strcmp(type, "Ready") == 0)
			return st && strcmp(st, "True") == 0;
	}
	return false;
}

/* Drops what the binder assumed about key (its node and GPUs). */
static void forget_assumed(struct llmo_binder *b, const char *key)
{
	void *old = NULL;

	if (llmo_hmap_del(&b->assumed, key, &old) == 0)
		free(old);
	old = NULL;
	if (llmo_hmap_del(&b->assumed_gpus, key, &old) == 0)
		free(old);
}

/* ---- one scheduling pass ---- */

struct pass {
	struct llmo_binder *b;
	struct llmo_hmap used;	   /* node name -> struct usage * (owned) */
	struct llmo_hmap gpu_used; /* "node\x1fGPU id" -> int64_t * milli-GPUs (owned) */
	LLMO_VEC(json_t *) nodes;
	int rc;
};

static struct usage *used_of(struct pass *p, const char *node)
{
	struct usage *u = llmo_hmap_get(&p->used, node);

	if (u)
		return u;
	u = calloc(1, sizeof(*u));
	if (!u || llmo_hmap_put(&p->used, node, u, NULL)) {
		free(u);
		return NULL;
	}
	return u;
}

/*
 * The GPUs assigned to pod: its annotation, or what this binder assigned
 * before the informer showed the annotation. NULL when none.
 */
static const char *pod_gpus(const struct llmo_binder *b, const json_t *pod, const char *key)
{
	const char *a = json_string_value(json_object_get(
		json_object_get(json_object_get(pod, "metadata"), "annotations"),
		LLMO_BINDER_GPUS_ANNOTATION));

	if (a && *a)
		return a;
	return key && *key ? llmo_hmap_get(&b->assumed_gpus, key) : NULL;
}

static int64_t *gpu_slot(struct pass *p, const char *node, const char *id, size_t idlen)
{
	char k[LLMO_BINDER_KEY_MAX];
	int64_t *v;
	int n = snprintf(k, sizeof(k), "%s\x1f%.*s", node, (int)idlen, id);

	if (n < 0 || (size_t)n >= sizeof(k))
		return NULL;
	v = llmo_hmap_get(&p->gpu_used, k);
	if (v)
		return v;
	v = calloc(1, sizeof(*v));
	if (!v || llmo_hmap_put(&p->gpu_used, k, v, NULL)) {
		free(v);
		return NULL;
	}
	return v;
}

/* Spreads a pod's milli-GPUs evenly over the comma-separated GPU ids it holds. */
static int add_gpu_usage(struct pass *p, const char *node, const char *ids, int64_t milli)
{
	size_t n = 1;

	if (!ids || !*ids)
		return 0;
	for (const char *c = ids; *c; c++)
		n += *c == ',';
	for (const char *s = ids; *s;) {
		size_t len = strcspn(s, ",");
		int64_t *v = len ? gpu_slot(p, node, s, len) : NULL;

		if (len && !v)
			return LLMO_ENOMEM;
		if (v)
			sat_add(v, milli / (int64_t)n);
		s += len;
		if (*s == ',')
			s++;
	}
	return 0;
}

/*
 * The node's GPU ids in index order: the uuid of each entry of the agent's
 * gpu-devices annotation, else "0".."N-1" for N whole GPUs allocatable.
 */
static int node_gpu_ids(const json_t *node, struct llmo_strv *ids)
{
	json_t *meta = json_object_get(node, "metadata");
	const char *devs = json_string_value(
		json_object_get(json_object_get(meta, "annotations"), LLMO_BINDER_DEVICES_ANNOTATION));
	json_t *alloc = json_object_get(json_object_get(node, "status"), "allocatable");
	json_t *q = json_object_get(alloc, "nvidia.com/gpu"), *arr, *d;
	int64_t have = 0;
	size_t i;
	int rc = 0;

	if (devs && (arr = json_loads(devs, 0, NULL)) != NULL) {
		json_array_foreach(arr, i, d) {
			const char *uuid = json_string_value(json_object_get(d, "uuid"));

			if (uuid && *uuid && !strchr(uuid, ',') && (rc = llmo_strv_push(ids, uuid)))
				break;
		}
		json_decref(arr);
		if (rc || ids->len)
			return rc;
	}
	if (q && llmo_quantity_from_json(q, &have, NULL) == 0) {
		for (int64_t g = 0; g < have / 1000 && g < LLMO_BINDER_GPUS_MAX && !rc; g++) {
			char num[24];

			snprintf(num, sizeof(num), "%" PRId64, g);
			rc = llmo_strv_push(ids, num);
		}
	}
	return rc;
}

/*
 * Picks GPUs of node for a request of milli milli-GPUs into out
 * (comma-separated ids): whole GPUs (milli rounded up to thousands) take
 * unused GPUs in index order; a fraction takes the fullest GPU it still
 * fits on (best fit, which keeps whole GPUs free). False when none fit.
 */
static bool pick_gpus(struct pass *p, const json_t *node, int64_t milli, struct llmo_buf *out)
{
	const char *name = jstr(node, "metadata", "name");
	struct llmo_strv ids = {0};
	int64_t want = (milli + 999) / 1000, best_used = -1;
	size_t best = 0, taken = 0;
	bool ok = false;

	if (node_gpu_ids(node, &ids))
		goto out;
	for (size_t i = 0; i < ids.len; i++) {
		char k[LLMO_BINDER_KEY_MAX];
		const int64_t *v;
		int64_t used;

		snprintf(k, sizeof(k), "%s\x1f%s", name, ids.items[i]);
		v = llmo_hmap_get(&p->gpu_used, k);
		used = v ? *v : 0;
		if (milli >= 1000) {
			if (used > 0 || taken == (size_t)want)
				continue;
			if (taken++ && llmo_buf_putc(out, ','))
				goto out;
			if (llmo_buf_puts(out, ids.items[i]))
				goto out;
		} else if (used + milli <= 1000 && used > best_used) {
			best_used = used;
			best = i;
		}
	}
	if (milli >= 1000)
		ok = taken == (size_t)want;
	else
		ok = best_used >= 0 && llmo_buf_puts(out, ids.items[best]) == 0;
out:
	llmo_strv_release(&ids);
	return ok;
}

static int add_pod_usage(void *ctx, json_t *pod)
{
	struct pass *p = ctx;
	const char *node = jstr(pod, "spec", "nodeName");
	char key[LLMO_BINDER_KEY_MAX];
	struct usage req, *u;

	if (pod_finished(pod))
		return 0;
	if (pod_key(pod, key, sizeof(key)))
		key[0] = '\0';
	if ((!node || !*node) && key[0])
		node = llmo_hmap_get(&p->b->assumed, key);
	if (!node || !*node)
		return 0;
	u = used_of(p, node);
	if (!u)
		return LLMO_ENOMEM;
	pod_request(pod, &req);
	for (int r = 0; r < RES_N; r++)
		sat_add(&u->v[r], req.v[r]);
	if (req.v[RES_GPU] > 0)
		return add_gpu_usage(p, node, pod_gpus(p->b, pod, key), req.v[RES_GPU]);
	return 0;
}

static int collect_node(void *ctx, json_t *node)
{
	struct pass *p = ctx;
	json_t **slot;

	if (!jstr(node, "metadata", "name"))
		return 0;
	slot = llmo_vec_push(&p->nodes);
	if (!slot)
		return LLMO_ENOMEM;
	*slot = node;
	return 0;
}

static int cmp_node(const void *a, const void *b)
{
	return strcmp(jstr(*(json_t *const *)a, "metadata", "name"),
		      jstr(*(json_t *const *)b, "metadata", "name"));
}

static void free_usage(void *v)
{
	free(v);
}

/*
 * Tries node for req; returns true when it fits, otherwise counts why in
 * whys (one reason for a node that is not ready or unschedulable, one per
 * short resource otherwise).
 */
static bool node_fits(struct pass *p, const json_t *node, const struct usage *req,
		      int whys[WHY_N])
{
	json_t *alloc = json_object_get(json_object_get(node, "status"), "allocatable");
	const struct usage *used = llmo_hmap_get(&p->used, jstr(node, "metadata", "name"));
	bool fits = true;

	if (!node_ready(node)) {
		whys[WHY_NOT_READY]++;
		return false;
	}
	if (json_is_true(json_object_get(json_object_get(node, "spec"), "unschedulable"))) {
		whys[WHY_UNSCHEDULABLE]++;
		return false;
	}
	for (int r = 0; r < RES_N; r++) {
		json_t *q = json_object_get(alloc, res_names[r]);
		int64_t have = 0, free_m;

		if (req->v[r] <= 0)
			continue;
		if (q && llmo_quantity_from_json(q, &have, NULL))
			have = 0;
		if (r != RES_GPU && p->b->overcommit > 1 &&
		    (double)have * p->b->overcommit < (double)INT64_MAX)
			have = (int64_t)((double)have * p->b->overcommit);
		if (__builtin_sub_overflow(have, used ? used->v[r] : 0, &free_m) ||
		    free_m < req->v[r]) {
			whys[r]++;
			fits = false;
		}
	}
	return fits;
}

/* A stand-in involved object with the kind and apiVersion the recorder needs. */
static json_t *pod_ref(const json_t *pod)
{
	json_t *meta = json_object_get(pod, "metadata");
	json_t *ref = json_pack("{s:s, s:s, s:{s:O?, s:O?, s:O?, s:O?}}", "apiVersion", "v1",
				"kind", "Pod", "metadata", "name", json_object_get(meta, "name"),
				"namespace", json_object_get(meta, "namespace"), "uid",
				json_object_get(meta, "uid"), "resourceVersion",
				json_object_get(meta, "resourceVersion"));

	return ref;
}

/* Writes the GPU assignment to the pod's annotation (before the binding, so the agent sees it). */
static int annotate_gpus(struct llmo_binder *b, const char *key, const char *ns, const char *name,
			 const char *gpus)
{
	struct llmo_error err = {0};
	json_t *patch = json_pack("{s:{s:{s:s}}}", "metadata", "annotations",
				  LLMO_BINDER_GPUS_ANNOTATION, gpus);
	int rc;

	if (!patch)
		return LLMO_ENOMEM;
	rc = llmo_kube_patch(b->client, &llmo_kube_pods, ns, name, NULL, LLMO_KUBE_PATCH_MERGE,
			     patch, NULL, &err);
	json_decref(patch);
	if (rc)
		llmo_log(LLMO_LOG_WARN, LOG_COMPONENT, "GPU annotation failed",
			 "pod=%s gpus=%s err=%s", key, gpus, err.msg);
	return rc;
}

static int bind_pod(struct llmo_binder *b, const json_t *pod, const char *key, const char *ns,
		    const char *name, const char *node, const char *gpus)
{
	struct llmo_error err = {0};
	struct llmo_buf path;
	json_t *body = NULL, *ref = NULL;
	char *node_copy = NULL, *gpus_copy = NULL;
	void *old = NULL;
	int rc;

	if (gpus && *gpus) {
		rc = annotate_gpus(b, key, ns, name, gpus);
		if (rc)
			return rc;
	}
	llmo_buf_init(&path, BINDER_PATH_MAX);
	rc = llmo_kube_path(&llmo_kube_pods, ns, name, "binding", &path);
	if (rc)
		goto out;
	body = json_pack("{s:s, s:s, s:{s:s}, s:{s:s, s:s, s:s}}", "apiVersion", "v1", "kind",
			 "Binding", "metadata", "name", name, "target", "apiVersion", "v1", "kind",
			 "Node", "name", node);
	if (!body) {
		rc = LLMO_ENOMEM;
		goto out;
	}
	rc = llmo_kube_request(b->client, "POST", path.data, NULL, body, NULL, NULL, &err);
	if (rc == LLMO_ECONFLICT) {
		/* already bound by someone: the informer will show it */
		llmo_log(LLMO_LOG_INFO, LOG_COMPONENT, "pod already bound", "pod=%s msg=%s", key,
			 err.msg);
		rc = 0;
		goto out;
	}
	if (rc) {
		llmo_log(LLMO_LOG_WARN, LOG_COMPONENT, "binding failed", "pod=%s node=%s err=%s",
			 key, node, err.msg);
		goto out;
	}
	node_copy = llmo_strdup(node);
	if (!node_copy || llmo_hmap_put(&b->assumed, key, node_copy, &old)) {
		free(node_copy);
		rc = LLMO_ENOMEM;
		goto out;
	}
	free(old);
	if (gpus && *gpus) {
		old = NULL;
		gpus_copy = llmo_strdup(gpus);
		if (!gpus_copy || llmo_hmap_put(&b->assumed_gpus, key, gpus_copy, &old)) {
			free(gpus_copy);
			rc = LLMO_ENOMEM;
			goto out;
		}
		free(old);
	}
	b->bound++;
	llmo_log(LLMO_LOG_INFO, LOG_COMPONENT, "bound", "pod=%s node=%s gpus=%s", key, node,
		 gpus && *gpus ? gpus : "none");
	ref = pod_ref(pod);
	if (ref)
		llmo_kube_event(b->rec, ref, "Normal", "Scheduled", "Successfully assigned %s to %s",
				key, node);
out:
	json_decref(ref);
	json_decref(body);
	llmo_buf_release(&path);
	return rc;
}

/* Sets PodScheduled=False/Unschedulable with msg unless the pod already says so. */
static int mark_unschedulable(struct llmo_binder *b, const json_t *pod, const char *key,
			      const char *ns, const char *name, const char *msg)
{
	json_t *conds = json_object_get(json_object_get(pod, "status"), "conditions");
	json_t *c, *newconds = NULL, *patch = NULL;
	struct llmo_error err = {0};
	char ts[64];
	size_t i;
	int rc = 0;

	json_array_foreach(conds, i, c) {
		const char *type = json_string_value(json_object_get(c, "type"));

		if (type && strcmp(type, "PodScheduled") == 0 &&
		    str_eq(json_object_get(c, "status"), "False") &&
		    str_eq(json_object_get(c, "reason"), "Unschedulable") &&
		    str_eq(json_object_get(c, "message"), msg))
			return 0;
	}
	if (llmo_time_format_rfc3339(llmo_clock_wall_ms(), false, ts, sizeof(ts)))
		ts[0] = '\0';
	newconds = json_array();
	if (!newconds) {
		rc = LLMO_ENOMEM;
		goto out;
	}
	json_array_foreach(conds, i, c) {
		const char *type = json_string_value(json_object_get(c, "type"));

		if (!type || strcmp(type, "PodScheduled") != 0)
			json_array_append(newconds, c);
	}
	json_array_append_new(newconds,
			      json_pack("{s:s, s:s, s:s, s:s, s:n, s:s}", "type", "PodScheduled",
					"status", "False", "reason", "Unschedulable", "message", msg,
					"lastProbeTime", "lastTransitionTime", ts));
	patch = json_pack("{s:{s:O}}", "status", "conditions", newconds);
	if (!patch) {
		rc = LLMO_ENOMEM;
		goto out;
	}
	rc = llmo_kube_patch(b->client, &llmo_kube_pods, ns, name, "status",
			     LLMO_KUBE_PATCH_MERGE, patch, NULL, &err);
	if (rc)
		llmo_log(LLMO_LOG_WARN, LOG_COMPONENT, "status patch failed", "pod=%s err=%s", key,
			 err.msg);
out:
	json_decref(patch);
	json_decref(newconds);
	return rc;
}

static int format_reasons(size_t n_nodes, const int whys[WHY_N], struct llmo_buf *msg)
{
	const char *sep = ": ";
	int rc;

	rc = llmo_buf_appendf(msg, "0/%zu nodes are available", n_nodes);
	for (int w = 0; w < WHY_N && !rc; w++) {
		if (!whys[w])
			continue;
		rc = llmo_buf_appendf(msg, "%s%d %s", sep, whys[w], why_text[w]);
		sep = ", ";
	}
	if (!rc)
		rc = llmo_buf_putc(msg, '.');
	return rc;
}

static int reconcile(void *ctx, const char *key)
{
	struct llmo_binder *b = ctx;
	struct pass p = {.b = b, .nodes = LLMO_VEC_INIT};
	int whys[WHY_N] = {0};
	struct llmo_buf msg, gpus;
	const char *slash = strchr(key, '/');
	char ns[LLMO_BINDER_KEY_MAX];
	const char *name;
	struct usage req;
	json_t *pod, *ref;
	int rc = 0;

	llmo_hmap_init(&p.used);
	llmo_hmap_init(&p.gpu_used);
	llmo_buf_init(&msg, LLMO_BINDER_MESSAGE_MAX);
	llmo_buf_init(&gpus, LLMO_BINDER_MESSAGE_MAX);
	if (!slash || (size_t)(slash - key) >= sizeof(ns))
		goto out;
	memcpy(ns, key, (size_t)(slash - key));
	ns[slash - key] = '\0';
	name = slash + 1;
	pod = llmo_informer_get(b->pods, ns, name);
	if (!pod || !pod_is_candidate(b, pod)) {
		/* gone or bound (the informer caught up): drop what we assumed */
		if (!pod || pod_finished(pod) || jstr(pod, "spec", "nodeName"))
			forget_assumed(b, key);
		llmo_workqueue_forget(b->queue, key);
		goto out;
	}
	if (llmo_hmap_has(&b->assumed, key))
		goto out; /* bound, the informer has not seen it yet */
	if (!llmo_informer_synced(b->pods) || !llmo_informer_synced(b->nodes)) {
		rc = llmo_workqueue_add_after(b->queue, key, BINDER_UNSYNCED_RETRY_MS);
		goto out;
	}
	pod_request(pod, &req);
	rc = llmo_informer_list(b->pods, NULL, add_pod_usage, &p);
	if (!rc)
		rc = llmo_informer_list(b->nodes, NULL, collect_node, &p);
	if (rc)
		goto out;
	if (p.nodes.len > 1)
		qsort(p.nodes.items, p.nodes.len, sizeof(p.nodes.items[0]), cmp_node);
	for (size_t i = 0; i < p.nodes.len; i++) {
		if (!node_fits(&p, p.nodes.items[i], &req, whys))
			continue;
		llmo_buf_reset(&gpus);
		if (req.v[RES_GPU] > 0 && !pick_gpus(&p, p.nodes.items[i], req.v[RES_GPU], &gpus)) {
			whys[WHY_GPU]++;
			continue;
		}
		rc = bind_pod(b, pod, key, ns, name, jstr(p.nodes.items[i], "metadata", "name"),
			      gpus.data);
		if (!rc)
			llmo_workqueue_forget(b->queue, key);
		goto out;
	}
	rc = format_reasons(p.nodes.len, whys, &msg);
	if (rc)
		goto out;
	llmo_log(LLMO_LOG_INFO, LOG_COMPONENT, "unschedulable", "pod=%s msg=%s", key, msg.data);
	mark_unschedulable(b, pod, key, ns, name, msg.data);
	ref = pod_ref(pod);
	if (ref)
		llmo_kube_event(b->rec, ref, "Warning", "FailedScheduling", "%s", msg.data);
	json_decref(ref);
	rc = 1; /* retry rate-limited */
out:
	llmo_buf_release(&msg);
	llmo_buf_release(&gpus);
	llmo_vec_release(&p.nodes);
	llmo_hmap_release(&p.used, free_usage);
	llmo_hmap_release(&p.gpu_used, free_usage);
	return rc;
}

/* ---- informer handlers ---- */

static void enqueue(struct llmo_binder *b, const json_t *pod)
{
	char key[LLMO_BINDER_KEY_MAX];

	if (pod_key(pod, key, sizeof(key)) == 0)
		llmo_workqueue_add(b->queue, key);
}

static int enqueue_pending(void *ctx, json_t *pod)
{
	struct llmo_binder *b = ctx;

	if (pod_is_candidate(b, pod))
		enqueue(b, pod);
	return 0;
}

static void requeue_all(struct llmo_binder *b)
{
	llmo_informer_list(b->pods, NULL, enqueue_pending, b);
}

/* True when the pod held a node's resources. */
static bool pod_holds_node(const json_t *pod)
{
	const char *node = jstr(pod, "spec", "nodeName");

	return node && *node && !pod_finished(pod);
}

static void on_pod_add(void *ctx, json_t *obj)
{
	struct llmo_binder *b = ctx;

	if (pod_is_candidate(b, obj))
		enqueue(b, obj);
}

static void on_pod_update(void *ctx, json_t *old_obj, json_t *new_obj)
{
	struct llmo_binder *b = ctx;
	char key[LLMO_BINDER_KEY_MAX];

	if (pod_holds_node(old_obj) && !pod_holds_node(new_obj)) {
		requeue_all(b);
	} else if (pod_is_candidate(b, new_obj)) {
		enqueue(b, new_obj);
	}
	if (!pod_is_candidate(b, new_obj) && pod_key(new_obj, key, sizeof(key)) == 0 &&
	    jstr(new_obj, "spec", "nodeName"))
		forget_assumed(b, key);
}

static void on_pod_delete(void *ctx, json_t *obj)
{
	struct llmo_binder *b = ctx;
	char key[LLMO_BINDER_KEY_MAX];
	void *old = NULL;
	bool held = pod_holds_node(obj);

	if (pod_key(obj, key, sizeof(key)) == 0 && llmo_hmap_del(&b->assumed, key, &old) == 0) {
		held = held || old;
		free(old);
		forget_assumed(b, key);
	}
	if (held)
		requeue_all(b);
}

static void on_node_add(void *ctx, json_t *obj)
{
	requeue_all(ctx);
}

static void on_node_update(void *ctx, json_t *old_obj, json_t *new_obj)
{
	requeue_all(ctx);
}

static void on_node_delete(void *ctx, json_t *obj)
{
	requeue_all(ctx);
}

/* ---- lifecycle ---- */

int llmo_binder_new(struct llmo_kube_client *client, struct event_base *base,
		    const char *scheduler_name, struct llmo_binder **out, struct llmo_error *err)
{
	static const struct llmo_informer_handlers pod_h = {on_pod_add, on_pod_update,
							    on_pod_delete};
	static const struct llmo_informer_handlers node_h = {on_node_add, on_node_update,
							     on_node_delete};
	struct llmo_binder *b;
	int rc;

	*out = NULL;
	b = calloc(1, sizeof(*b));
	if (!b)
		return llmo_error_set(err, LLMO_ENOMEM, "binder: out of memory");
	b->client = client;
	b->base = base;
	llmo_hmap_init(&b->assumed);
	llmo_hmap_init(&b->assumed_gpus);
	b->overcommit = 1;
	b->name = llmo_strdup(scheduler_name ? scheduler_name : LLMO_BINDER_DEFAULT_NAME);
	if (!b->name) {
		rc = llmo_error_set(err, LLMO_ENOMEM, "binder: out of memory");
		goto out;
	}
	rc = llmo_workqueue_new(base, reconcile, b, &b->queue, err);
	if (!rc)
		rc = llmo_event_recorder_new(client, b->name, NULL, &b->rec, err);
	if (!rc)
		rc = llmo_informer_new(client, &llmo_kube_pods, NULL, NULL, base, &pod_h, b,
				       &b->pods, err);
	if (!rc)
		rc = llmo_informer_new(client, &llmo_kube_nodes, NULL, NULL, base, &node_h, b,
				       &b->nodes, err);
out:
	if (rc) {
		llmo_binder_free(b);
		return rc;
	}
	*out = b;
	return 0;
}

int llmo_binder_start(struct llmo_binder *b, struct llmo_error *err)
{
	int rc;

	if (b->started)
		return llmo_error_set(err, LLMO_EINVAL, "binder: already started");
	rc = llmo_informer_start(b->nodes, err);
	if (rc)
		return rc;
	rc = llmo_informer_start(b->pods, err);
	if (rc) {
		llmo_informer_stop(b->nodes);
		return rc;
	}
	b->started = true;
	return 0;
}

static void free_str(void *v)
{
	free(v);
}

void llmo_binder_free(struct llmo_binder *b)
{
	if (!b)
		return;
	llmo_informer_free(b->pods);
	llmo_informer_free(b->nodes);
	llmo_workqueue_free(b->queue);
	llmo_event_recorder_free(b->rec);
	llmo_hmap_release(&b->assumed, free_str);
	llmo_hmap_release(&b->assumed_gpus, free_str);
	free(b->name);
	free(b);
}

void llmo_binder_set_overcommit(struct llmo_binder *b, double ratio)
{
	b->overcommit = ratio >= 1 ? ratio : 1;
}

size_t llmo_binder_bound_count(const struct llmo_binder *b)
{
	return b->bound;
}
