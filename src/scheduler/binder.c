/*
 * The live scheduler; see binder.h. This file: the queue and its order,
 * filters, the choice with the policy and score plugins, binding, leader
 * election and the life cycle; preemption is in binder_preempt.c, the
 * shared internals in binder_int.h.
 *
 * Translation to the policies' model (struct llmo_sched_cluster): one node
 * per node that passed the filters, in name order (the policies' tie
 * order); its CPU and memory are its allocatable (times the overcommit
 * ratio) with the requests of the pods on it taken, in the same milli-units
 * the filters use (memory in milli-bytes, not MiB: the policies only compare
 * memory with memory and with the target workload's memory per GPU, which
 * is built in the same unit); its GPUs are its GPU ids in index order, each
 * with its use taken; all GPUs are of one model, since the gpuType filter
 * has already matched names (which are free text the model table does not
 * take). What pods take per node and GPU, and the nodes with their
 * allocatable and GPU ids, are kept from the informers' events
 * (binder_state.c); the policies' cluster of the nodes that pass and the
 * policy are built per decision: simple, and a policy's caches are keyed by
 * node versions that a rebuilt cluster reuses.
 */
#include "base/common.h"

#include <ctype.h>
#include <event2/event.h>
#include <math.h>
#include <unistd.h>
#include <jansson.h>

#include "api/config.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/hmap.h"
#include "base/log.h"
#include "base/quantity.h"
#include "base/str.h"
#include "base/vec.h"
#include "kube/events.h"
#include "kube/informer.h"
#include "kube/leader.h"
#include "kube/object.h"
#include "kube/workqueue.h"
#include "scheduler/binder.h"
#include "scheduler/binder_int.h"
#include "scheduler/cluster.h"
#include "scheduler/filter.h"
#include "scheduler/frag.h"
#include "scheduler/policy.h"
#include "scheduler/preempt.h"
#include "scheduler/topology.h"
#include "base/rng.h"

#define LOG_COMPONENT LLMO__BINDER_LOG
/* Retry delay while the informers have not listed yet. */
#define BINDER_UNSYNCED_RETRY_MS 100
/* The one GPU model of the policies' cluster (see the top of this file). */
#define BINDER_GPU_MODEL "gpu"


static const char *const res_names[RES_N] = {"cpu", "memory", "nvidia.com/gpu"};

static const char *const why_text[WHY_N] = {
	"Insufficient cpu",		     "Insufficient memory",
	"Insufficient nvidia.com/gpu",	     "node(s) didn't match gpuType",
	NULL, /* WHY_GPU_MEMORY names the pod's memory: llmo__binder_format_reasons */
	"node(s) didn't match Pod's node affinity/selector",
	"node(s) didn't match pod affinity rules",
	"node(s) didn't match pod anti-affinity rules",
	"node(s) didn't satisfy existing pods anti-affinity rules",
	"node(s) didn't match pod topology spread constraints (missing required label)",
	"node(s) didn't match pod topology spread constraints",
	"node(s) were not ready",	     "node(s) were unschedulable",
};

/* What node_check found. */
enum fit { FIT_OK, FIT_SHORT, FIT_NO };





static bool str_eq(const json_t *v, const char *s)
{
	const char *t = json_string_value(v);

	return t && strcmp(t, s) == 0;
}

bool llmo__binder_pod_pending(const struct llmo_binder *b, const json_t *pod)
{
	const char *sched = llmo_kube_str(pod, "spec", "schedulerName");
	const char *node = llmo_kube_str(pod, "spec", "nodeName");

	if (!sched || strcmp(sched, b->name) != 0)
		return false;
	if (node && *node)
		return false;
	return json_object_get(json_object_get(pod, "metadata"), "deletionTimestamp") == NULL;
}

bool llmo__binder_pod_finished(const json_t *pod)
{
	const char *phase = llmo_kube_str(pod, "status", "phase");

	return phase && (strcmp(phase, "Succeeded") == 0 || strcmp(phase, "Failed") == 0);
}

const char *llmo__binder_label(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(
		json_object_get(json_object_get(obj, "metadata"), "labels"), key));
}

/* Whether the pod is being deleted (metadata.deletionTimestamp). */
bool llmo__binder_pod_deleting(const json_t *pod)
{
	return json_object_get(json_object_get(pod, "metadata"), "deletionTimestamp") != NULL;
}

bool llmo__binder_pod_leaving(const struct llmo_binder *b, const json_t *pod, const char *key)
{
	return llmo__binder_pod_deleting(pod) || llmo_hmap_has(&b->evicting, key);
}

/* The QoS class the pod's label names, or NULL. */
static const struct llmo__binder_qos *pod_qos(const struct llmo_binder *b, const json_t *pod)
{
	const char *cls = llmo__binder_label(pod, LLMO_BINDER_QOS_LABEL);

	for (size_t i = 0; cls && i < b->nqos; i++)
		if (strcmp(b->qos[i].name, cls) == 0)
			return &b->qos[i];
	return NULL;
}

/*
 * The pod's priority (binder.h): spec.priority when it names a
 * priorityClassName, else its QoS class's, else spec.priority, else 0.
 * (Kubernetes' admission writes spec.priority 0 into every pod without a
 * priority class, so a bare spec.priority must not hide the QoS class.)
 */
int32_t llmo__binder_pod_priority(const struct llmo_binder *b, const json_t *pod)
{
	json_t *pr = json_object_get(json_object_get(pod, "spec"), "priority");
	const char *pcn = llmo_kube_str(pod, "spec", "priorityClassName");
	const struct llmo__binder_qos *q = pod_qos(b, pod);

	if (json_is_integer(pr) && ((pcn && *pcn) || !q)) {
		json_int_t v = json_integer_value(pr);

		return v > INT32_MAX ? INT32_MAX : v < INT32_MIN ? INT32_MIN : (int32_t)v;
	}
	return q ? q->priority : 0;
}

/* The pod's preemption policy (binder.h), an enum llmo_preemption. */
int llmo__binder_pod_preemption(const struct llmo_binder *b, const json_t *pod)
{
	const char *sp = llmo_kube_str(pod, "spec", "preemptionPolicy");
	const struct llmo__binder_qos *q;

	if (sp && strcmp(sp, "Never") == 0)
		return LLMO_PREEMPT_NEVER;
	q = pod_qos(b, pod);
	if (q)
		return q->preemption;
	return sp && strcmp(sp, "PreemptLowerPriority") == 0 ? LLMO_PREEMPT_LOWER
							      : LLMO_PREEMPT_NEVER;
}

/* The creationTimestamp of pod ("" when none): RFC 3339 in UTC sorts as text. */
const char *llmo__binder_created(const json_t *pod)
{
	const char *t = llmo_kube_str(pod, "metadata", "creationTimestamp");

	return t ? t : "";
}

/* The queue order (binder.h): higher priority, then older, then key; pods not cached last. */
bool llmo__binder_pod_before(void *ctx, const char *ka, const char *kb)
{
	const struct llmo_binder *b = ctx;
	char nsa[LLMO_BINDER_KEY_MAX], nsb[LLMO_BINDER_KEY_MAX];
	const char *na, *nb;
	json_t *a = NULL, *c = NULL;
	int32_t pa, pb;
	int t;

	if ((na = llmo_kube_key_split(ka, nsa, sizeof(nsa))))
		a = llmo_informer_get(b->pods, nsa, na);
	if ((nb = llmo_kube_key_split(kb, nsb, sizeof(nsb))))
		c = llmo_informer_get(b->pods, nsb, nb);
	if (!a || !c)
		return a && !c;
	pa = llmo__binder_pod_priority(b, a);
	pb = llmo__binder_pod_priority(b, c);
	if (pa != pb)
		return pa > pb;
	t = strcmp(llmo__binder_created(a), llmo__binder_created(c));
	if (t)
		return t < 0;
	return strcmp(ka, kb) < 0;
}

/* Adds a to *sum, saturating at INT64_MAX / INT64_MIN. */
void llmo__binder_sat_add(int64_t *sum, int64_t a)
{
	if (llmo_quantity_add(*sum, a, sum))
		*sum = a > 0 ? INT64_MAX : INT64_MIN;
}

/* The bytes of a quantity such as "20Gi" (rounded up); 0 when missing, bad or not positive. */
static int64_t quantity_bytes(const char *q)
{
	int64_t milli = 0;

	if (!q || llmo_quantity_parse(q, &milli, NULL) || milli <= 0)
		return 0;
	return milli / 1000 + (milli % 1000 != 0);
}

/* The pod's request; unparsable quantities count as 0 (validation rejects them). */
void llmo__binder_pod_request(const json_t *pod, struct llmo__binder_usage *u)
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
				llmo__binder_sat_add(&u->v[r], m);
		}
	}
	u->gpu_mem = quantity_bytes(llmo_kube_annotation(pod, LLMO_BINDER_GPU_MEMORY_ANNOTATION));
}

/* v * m rounded up, for v >= 0 and m >= 1; INT64_MAX when it does not fit. */
static int64_t charged(int64_t v, double m)
{
	double x = ceil((double)v * m);

	return x >= (double)INT64_MAX ? INT64_MAX : (int64_t)x;
}

void llmo__binder_pod_demand(const struct llmo_binder *b, const json_t *pod,
			     struct llmo__binder_usage *u)
{
	const struct llmo__binder_qos *q = pod_qos(b, pod);
	double m;

	llmo__binder_pod_request(pod, u);
	if (!q || q->guarantee <= 0 || b->overcommit <= 1)
		return;
	/* the guaranteed share g is not overcommitted: r * (g * ratio + 1 - g) of r * ratio */
	m = 1 + q->guarantee * (b->overcommit - 1);
	u->v[RES_CPU] = charged(LLMO_MAX(u->v[RES_CPU], 0), m);
	u->v[RES_MEMORY] = charged(LLMO_MAX(u->v[RES_MEMORY], 0), m);
}

int64_t llmo__binder_node_gpu_memory(const json_t *node)
{
	const char *devs = llmo_kube_annotation(node, LLMO_BINDER_DEVICES_ANNOTATION);
	const char *label = llmo__binder_label(node, LLMO_BINDER_GPU_MEMORY_LABEL);
	json_t *arr = devs ? json_loads(devs, 0, NULL) : NULL, *d;
	int64_t least = 0, mib = 0;
	size_t i;

	json_array_foreach(arr, i, d) {
		json_t *t = json_object_get(d, "memoryTotalBytes");

		if (json_is_integer(t) && json_integer_value(t) > 0 &&
		    (!least || json_integer_value(t) < least))
			least = json_integer_value(t);
	}
	json_decref(arr);
	if (least)
		return least;
	/* the label is a plain decimal count of MiB */
	if (label && llmo_parse_int64(label, &mib, NULL) == 0 && mib > 0 && mib <= INT64_MAX >> 20)
		return mib << 20;
	return 0;
}

int64_t llmo__binder_gpu_share(int64_t milli, int64_t gpu_mem, int64_t gpu_total)
{
	int64_t share;

	if (gpu_mem <= 0)
		return milli;
	if (gpu_total < gpu_mem)
		return -1;
	if (milli >= LLMO_SCHED_MILLI)
		return milli;
	/* gpu_mem <= gpu_total: scaled down (both alike) until 1000 * gpu_mem fits */
	while (gpu_mem > INT64_MAX / LLMO_SCHED_MILLI) {
		gpu_mem >>= 10;
		gpu_total >>= 10;
	}
	share = gpu_mem * LLMO_SCHED_MILLI / gpu_total +
		(gpu_mem * LLMO_SCHED_MILLI % gpu_total != 0);
	return LLMO_MAX(share, milli);
}

bool llmo__binder_node_request(const struct llmo_binder *b, const json_t *node,
			       const struct llmo__binder_usage *req, struct llmo__binder_usage *out)
{
	const struct llmo__binder_node *cached;
	int64_t share;

	*out = *req;
	if (req->gpu_mem <= 0)
		return true;
	cached = llmo__binder_state_node(b, llmo_kube_str(node, "metadata", "name"));
	share = llmo__binder_gpu_share(req->v[RES_GPU], req->gpu_mem,
				      cached ? cached->gpu_mem : llmo__binder_node_gpu_memory(node));
	if (share < 0)
		return false;
	out->v[RES_GPU] = share;
	return true;
}

/*
 * The pod's shape for the policies (cluster.h): a request of 1000m GPU or
 * more is that many whole GPUs rounded up, a fraction is a share of one.
 * False when it asks more than LLMO_SCHED_POD_GPUS_MAX GPUs.
 */
bool llmo__binder_pod_shape(const struct llmo__binder_usage *req, struct llmo_sched_pod *shape)
{
	int64_t g = req->v[RES_GPU];

	memset(shape, 0, sizeof(*shape));
	shape->cpu = LLMO_MAX(req->v[RES_CPU], 0);
	shape->mem = LLMO_MAX(req->v[RES_MEMORY], 0);
	shape->models = LLMO_SCHED_MODELS_ANY;
	if (g <= 0)
		return true;
	if (g < LLMO_SCHED_MILLI) {
		shape->num_gpu = 1;
		shape->gpu_milli = (int)g;
		return true;
	}
	if (g / LLMO_SCHED_MILLI + (g % LLMO_SCHED_MILLI != 0) > LLMO_SCHED_POD_GPUS_MAX)
		return false;
	shape->num_gpu = (int)(g / LLMO_SCHED_MILLI + (g % LLMO_SCHED_MILLI != 0));
	shape->gpu_milli = LLMO_SCHED_MILLI;
	return true;
}

/* Whether needle[0..len) occurs in hay, ASCII case ignored. */
static bool contains_nocase(const char *hay, const char *needle, size_t len)
{
	for (; *hay; hay++) {
		size_t k = 0;

		while (k < len && hay[k] &&
		       tolower((unsigned char)hay[k]) == tolower((unsigned char)needle[k]))
			k++;
		if (k == len)
			return true;
	}
	return len == 0;
}

/* Whether one of spec's '|'-separated names (spaces trimmed, empty ones skipped) is in name. */
static bool gpu_name_matches(const char *name, const char *spec)
{
	for (const char *s = spec; *s;) {
		size_t len = strcspn(s, "|");
		const char *a = s, *e = s + len;

		while (a < e && isspace((unsigned char)*a))
			a++;
		while (e > a && isspace((unsigned char)e[-1]))
			e--;
		if (e > a && contains_nocase(name, a, (size_t)(e - a)))
			return true;
		s += len;
		if (*s == '|')
			s++;
	}
	return false;
}

/* Whether spec names any GPU type (not empty, not only separators and spaces). */
static bool gpu_type_constrains(const char *spec)
{
	for (; spec && *spec; spec++)
		if (*spec != '|' && !isspace((unsigned char)*spec))
			return true;
	return false;
}

/*
 * Whether node's GPU name matches the gpuType constraint spec (binder.h):
 * the name of any entry of its devices annotation, else its product label.
 */
static bool node_gpu_type_ok(const json_t *node, const char *spec)
{
	const char *devs = llmo_kube_annotation(node, LLMO_BINDER_DEVICES_ANNOTATION);
	const char *label = json_string_value(json_object_get(
		json_object_get(json_object_get(node, "metadata"), "labels"),
		LLMO_BINDER_GPU_PRODUCT_LABEL));
	bool named = false, ok = false;
	json_t *arr, *d;
	size_t i;

	if (strlen(spec) > LLMO_BINDER_GPU_TYPE_MAX)
		return false;
	if (devs && (arr = json_loads(devs, 0, NULL)) != NULL) {
		json_array_foreach(arr, i, d) {
			const char *name = json_string_value(json_object_get(d, "name"));

			if (!name || !*name)
				continue;
			named = true;
			if (gpu_name_matches(name, spec)) {
				ok = true;
				break;
			}
		}
		json_decref(arr);
		if (named)
			return ok;
	}
	return label && *label && gpu_name_matches(label, spec);
}

bool llmo_binder_gpu_type_accepts(const json_t *pod, const json_t *node)
{
	const char *t = llmo_kube_annotation(pod, LLMO_BINDER_GPU_TYPE_ANNOTATION);

	return !gpu_type_constrains(t) || node_gpu_type_ok(node, t);
}

/*
 * The node's GPU name (binder.h): the first named entry of its devices
 * annotation, else its product label; into out (n bytes), "" when none.
 */
static void node_gpu_name(const json_t *node, char *out, size_t n)
{
	const char *devs = llmo_kube_annotation(node, LLMO_BINDER_DEVICES_ANNOTATION);
	const char *lbl = llmo__binder_label(node, LLMO_BINDER_GPU_PRODUCT_LABEL);
	json_t *arr, *d;
	size_t i;

	out[0] = '\0';
	if (devs && (arr = json_loads(devs, 0, NULL)) != NULL) {
		json_array_foreach(arr, i, d) {
			const char *name = json_string_value(json_object_get(d, "name"));

			if (name && *name) {
				snprintf(out, n, "%s", name);
				break;
			}
		}
		json_decref(arr);
	}
	if (!out[0] && lbl)
		snprintf(out, n, "%s", lbl);
}

struct find_model {
	const char *name, *version;
	json_t *found;
};

static int match_model(void *ctx, json_t *m)
{
	struct find_model *f = ctx;
	const char *n = llmo_kube_str(m, "spec", "name"), *v = llmo_kube_str(m, "spec", "version");

	/* of several, the first name wins, so the choice is stable */
	if (n && v && strcmp(n, f->name) == 0 && strcmp(v, f->version) == 0 &&
	    (!f->found || strcmp(llmo_kube_str(m, "metadata", "name"),
				 llmo_kube_str(f->found, "metadata", "name")) < 0))
		f->found = m;
	return 0;
}

/* The pod's LLMModel (binder.h), or NULL. */
static json_t *pod_model(const struct llmo_binder *b, const json_t *pod)
{
	struct find_model f = {llmo__binder_label(pod, LLMO_SCHED_MODEL_LABEL),
			       llmo__binder_label(pod, LLMO_SCHED_VERSION_LABEL), NULL};

	if (!f.name || !f.version || !llmo_informer_synced(b->models))
		return NULL;
	llmo_informer_list(b->models, llmo_kube_str(pod, "metadata", "namespace"), match_model, &f);
	return f.found;
}

/*
 * Over model's benchmarks whose gpuType matches node's GPU, the highest
 * (lowest when !highest) non-negative number in field; -1 when none has one.
 */
static double node_benchmark(const json_t *model, const json_t *node, const char *field,
			     bool highest)
{
	char gpu[LLMO_BINDER_GPU_TYPE_MAX + 1];
	json_t *bm;
	double best = -1;
	size_t i;

	node_gpu_name(node, gpu, sizeof(gpu));
	if (!gpu[0])
		return -1;
	json_array_foreach(json_object_get(json_object_get(model, "status"), "benchmarks"), i, bm) {
		const char *type = json_string_value(json_object_get(bm, "gpuType"));
		json_t *v = json_object_get(bm, field);
		double x = json_is_number(v) ? json_number_value(v) : -1;

		if (type && gpu_type_constrains(type) && strlen(type) <= LLMO_BINDER_GPU_TYPE_MAX &&
		    gpu_name_matches(gpu, type) && x >= 0 &&
		    (best < 0 || (highest ? x > best : x < best)))
			best = x;
	}
	return best;
}

/* The highest tokensPerSecond of model's benchmarks whose gpuType matches node's GPU; 0 if none. */
static double node_tokens_per_second(const json_t *model, const json_t *node)
{
	return LLMO_MAX(node_benchmark(model, node, "tokensPerSecond", true), 0);
}

/*
 * How node's GPU type stands against the latency objective (maxLatency) of
 * the pod's QoS class: its benchmarked time to first token (the lowest
 * ttftP95Ms, the least loaded run) meets it (> 0), misses it (< 0), or
 * either is unknown (0).
 */
static int objective_met(const struct llmo__binder_qos *q, const json_t *model, const json_t *node)
{
	double ttft;

	if (!q || q->max_latency_ms <= 0 || !model)
		return 0;
	ttft = node_benchmark(model, node, "ttftP95Ms", false);
	if (ttft < 0)
		return 0;
	return ttft <= q->max_latency_ms ? 1 : -1;
}

/* Brings the cluster state up to date with pod key as the informer has it. */
static void state_pod_key(struct llmo_binder *b, const char *key)
{
	char ns[LLMO_BINDER_KEY_MAX];
	const char *name = llmo_kube_key_split(key, ns, sizeof(ns));
	json_t *pod = name ? llmo_informer_get(b->pods, ns, name) : NULL;

	if (llmo__binder_state_pod(b, key, pod))
		llmo_log(LLMO_LOG_WARN, LOG_COMPONENT, "out of memory", "pod=%s", key);
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
	old = NULL;
	if (llmo_hmap_del(&b->nominated, key, &old) == 0)
		free(old);
	state_pod_key(b, key);
}

/* The node pod is nominated to: this binder's nomination, else its status'; NULL when none. */
const char *llmo__binder_nominated_node(const struct llmo_binder *b, const json_t *pod,
					const char *key)
{
	const char *n = key && *key ? llmo_hmap_get(&b->nominated, key) : NULL;

	if (!n)
		n = llmo_kube_str(pod, "status", "nominatedNodeName");
	return n && *n ? n : NULL;
}

/* ---- one scheduling pass ---- */


const struct llmo__binder_usage *llmo__binder_used(const struct llmo__binder_pass *p,
						   const char *node)
{
	const struct llmo__binder_usage *u = llmo_hmap_get(&p->used, node);

	return u ? u : llmo_hmap_get(&p->b->state.used, node);
}

int64_t llmo__binder_gpu_used(const struct llmo__binder_pass *p, const char *node, const char *id)
{
	char k[LLMO_BINDER_KEY_MAX];
	const int64_t *v;
	int n = snprintf(k, sizeof(k), "%s\x1f%s", node, id);

	if (n < 0 || (size_t)n >= sizeof(k))
		return 0;
	v = llmo_hmap_get(&p->gpu_used, k);
	if (!v)
		v = llmo_hmap_get(&p->b->state.gpu_used, k);
	return v ? *v : 0;
}

/* The pass's own usage entry of node, copied from the state's at first (see the pass). */
struct llmo__binder_usage *llmo__binder_pass_used(struct llmo__binder_pass *p, const char *node)
{
	struct llmo__binder_usage *u = llmo_hmap_get(&p->used, node);
	const struct llmo__binder_usage *base;

	if (u)
		return u;
	u = calloc(1, sizeof(*u));
	base = llmo_hmap_get(&p->b->state.used, node);
	if (u && base)
		*u = *base;
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
const char *llmo__binder_pod_gpus(const struct llmo_binder *b, const json_t *pod, const char *key)
{
	const char *a = llmo_kube_annotation(pod, LLMO_BINDER_GPUS_ANNOTATION);

	if (a && *a)
		return a;
	return key && *key ? llmo_hmap_get(&b->assumed_gpus, key) : NULL;
}

static int64_t *gpu_slot(struct llmo__binder_pass *p, const char *node, const char *id,
			 size_t idlen)
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
	if (v) {
		const int64_t *base = llmo_hmap_get(&p->b->state.gpu_used, k);

		*v = base ? *base : 0;
	}
	if (!v || llmo_hmap_put(&p->gpu_used, k, v, NULL)) {
		free(v);
		return NULL;
	}
	return v;
}

/* Spreads a pod's milli-GPUs evenly over the comma-separated GPU ids it holds. */
int llmo__binder_pass_add_gpus(struct llmo__binder_pass *p, const char *node, const char *ids,
			 int64_t milli)
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
			llmo__binder_sat_add(v, milli / (int64_t)n);
		s += len;
		if (*s == ',')
			s++;
	}
	return 0;
}

int llmo__binder_pass_reserve(struct llmo__binder_pass *p, const char *node,
			      const struct llmo__binder_usage *req, const char *gpus, int sign)
{
	struct llmo__binder_usage *u = llmo__binder_pass_used(p, node);
	struct llmo_sched_pod shape;
	int tag;

	if (!u)
		return LLMO_ENOMEM;
	for (int r = 0; r < RES_N; r++)
		llmo__binder_sat_add(&u->v[r], sign * req->v[r]);
	tag = llmo__binder_pod_shape(req, &shape) ? llmo_sched_pod_tag(&shape) : -1;
	if (tag >= 0 && sign > 0 && u->tags[tag] < UINT32_MAX)
		u->tags[tag]++;
	else if (tag >= 0 && sign < 0 && u->tags[tag] > 0)
		u->tags[tag]--;
	return req->v[RES_GPU] > 0
		       ? llmo__binder_pass_add_gpus(p, node, gpus, sign * req->v[RES_GPU])
		       : 0;
}

/*
 * The node's GPU ids in index order: the uuid of each entry of the agent's
 * gpu-devices annotation, else "0".."N-1" for N whole GPUs allocatable.
 */
int llmo__binder_node_gpu_ids(const json_t *node, struct llmo_strv *ids)
{
	const char *devs = llmo_kube_annotation(node, LLMO_BINDER_DEVICES_ANNOTATION);
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
bool llmo__binder_pick_gpus(struct llmo__binder_pass *p, const json_t *node, int64_t milli,
		      struct llmo_buf *out)
{
	const char *name = llmo_kube_str(node, "metadata", "name");
	struct llmo_strv ids = {0};
	int64_t want = (milli + 999) / 1000, best_used = -1;
	size_t best = 0, taken = 0;
	bool ok = false;

	if (llmo__binder_node_gpu_ids(node, &ids))
		goto out;
	for (size_t i = 0; i < ids.len; i++) {
		int64_t used = llmo__binder_gpu_used(p, name, ids.items[i]);

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

/*
 * Keeps the room of a pending pod of ours nominated to a node (preemption)
 * in the pass, when its priority is at least the placed pod's: its cpu,
 * memory and GPU count, on no GPU in particular.
 */
static int add_nominee(struct llmo__binder_pass *p, const char *key)
{
	char ns[LLMO_BINDER_KEY_MAX];
	const char *name, *node, *group;
	struct llmo__binder_usage req, *u;
	json_t *pod;

	if (!(name = llmo_kube_key_split(key, ns, sizeof(ns))) || strcmp(key, p->self) == 0 ||
	    llmo_hmap_has(&p->b->assumed, key))
		return 0;
	pod = llmo_informer_get(p->b->pods, ns, name);
	if (!pod || !llmo__binder_pod_pending(p->b, pod) || llmo__binder_pod_finished(pod))
		return 0;
	/* a gang's members are placed together: their own rooms would count them twice */
	if (p->group && strcmp(ns, p->group_ns) == 0 &&
	    (group = llmo__binder_pod_group(pod)) != NULL && strcmp(group, p->group) == 0)
		return 0;
	node = llmo__binder_nominated_node(p->b, pod, key);
	if (!node || llmo__binder_pod_priority(p->b, pod) < p->priority)
		return 0;
	u = llmo__binder_pass_used(p, node);
	if (!u)
		return LLMO_ENOMEM;
	llmo__binder_pod_held(p->b, pod, node, &req);
	for (int r = 0; r < RES_N; r++)
		llmo__binder_sat_add(&u->v[r], req.v[r]);
	return 0;
}

static void free_usage(void *v)
{
	free(v);
}

/*
 * The node's allocatable amount of resource r (milli-units; a missing or
 * bad entry is 0), cpu and memory times the overcommit ratio.
 */
int64_t llmo__binder_node_alloc(const struct llmo_binder *b, const json_t *node, int r)
{
	json_t *q = json_object_get(json_object_get(json_object_get(node, "status"), "allocatable"),
				    res_names[r]);
	int64_t have = 0;

	if (q && llmo_quantity_from_json(q, &have, NULL))
		have = 0;
	if (r != RES_GPU && b->overcommit > 1 && (double)have * b->overcommit < (double)INT64_MAX)
		have = (int64_t)((double)have * b->overcommit);
	return have;
}

/* Counts a node under the untolerated taint {key: value}. */
static void count_taint(struct llmo__binder_whys *w, const json_t *taint)
{
	const char *k = json_string_value(json_object_get(taint, "key"));
	const char *v = json_string_value(json_object_get(taint, "value"));
	char text[LLMO__BINDER_TAINT_TEXT_MAX];

	snprintf(text, sizeof(text), "{%s: %s}", k ? k : "", v ? v : "");
	for (size_t i = 0; i < w->ntaints; i++) {
		if (strcmp(w->taints[i].text, text) == 0) {
			w->taints[i].n++;
			return;
		}
	}
	if (w->ntaints == LLMO__BINDER_TAINTS_MAX) {
		w->other_taints++;
		return;
	}
	memcpy(w->taints[w->ntaints].text, text, sizeof(text));
	w->taints[w->ntaints++].n = 1;
}

/* What the filters found on one node (node_check), before it is counted (node_count). */
struct node_fit {
	enum fit fit;
	int why;	     /* FIT_NO: a WHY_ reason, or WHY_N for the taint below */
	const json_t *taint; /* the first untolerated NoSchedule/NoExecute taint */
	bool short_of[RES_N]; /* FIT_SHORT: the resources it lacks */
};

/*
 * Tries node for pod (req: its request; gpu_type: its gpuType constraint,
 * or NULL) into *nf: FIT_OK when it passes the filters; FIT_NO with the
 * one reason for a node that is not ready, unschedulable, tainted, not
 * selected or of another GPU type; FIT_SHORT with every short resource
 * otherwise (where preemption may help). Reads only (the pass, the state,
 * the objects), so that several threads may check nodes at once.
 */
static void node_check(const struct llmo__binder_pass *p, const json_t *node, const json_t *pod,
		       const struct llmo__binder_usage *req, const char *gpu_type,
		       struct node_fit *nf)
{
	const char *node_name = llmo_kube_str(node, "metadata", "name");
	const struct llmo__binder_usage *used = llmo__binder_used(p, node_name);
	const struct llmo__binder_node *cached = llmo__binder_state_node(p->b, node_name);
	struct llmo__binder_usage on;

	memset(nf, 0, sizeof(*nf));
	nf->fit = FIT_NO;
	if (cached ? !cached->ready : !llmo_kube_condition_true(node, "Ready")) {
		nf->why = WHY_NOT_READY;
		return;
	}
	if (json_is_true(json_object_get(json_object_get(node, "spec"), "unschedulable"))) {
		nf->why = WHY_UNSCHEDULABLE;
		return;
	}
	nf->taint = llmo_sched_untolerated_taint(pod, node);
	if (nf->taint) {
		nf->why = WHY_N;
		return;
	}
	if (!llmo_sched_node_selected(pod, node)) {
		nf->why = WHY_SELECTOR;
		return;
	}
	switch (p->podaff ? llmo_sched_podaff_check(p->podaff, node) : LLMO_SCHED_PODAFF_OK) {
	case LLMO_SCHED_PODAFF_OK:
		break;
	case LLMO_SCHED_PODAFF_AFFINITY:
		nf->why = WHY_POD_AFFINITY;
		return;
	case LLMO_SCHED_PODAFF_ANTI:
		nf->why = WHY_POD_ANTI_AFFINITY;
		return;
	case LLMO_SCHED_PODAFF_EXISTING_ANTI:
		nf->why = WHY_EXISTING_ANTI_AFFINITY;
		return;
	}
	switch (p->spread ? llmo_sched_spread_check(p->spread, node) : LLMO_SCHED_SPREAD_OK) {
	case LLMO_SCHED_SPREAD_OK:
		break;
	case LLMO_SCHED_SPREAD_MISSING_LABEL:
		nf->why = WHY_SPREAD_LABEL;
		return;
	case LLMO_SCHED_SPREAD_SKEW:
		nf->why = WHY_SPREAD;
		return;
	}
	if (gpu_type && !node_gpu_type_ok(node, gpu_type)) {
		nf->why = WHY_GPU_TYPE;
		return;
	}
	/* a GPU memory request is a share that depends on the node's GPUs */
	if (!llmo__binder_node_request(p->b, node, req, &on)) {
		nf->why = WHY_GPU_MEMORY;
		return;
	}
	req = &on;
	nf->fit = FIT_OK;
	for (int r = 0; r < RES_N; r++) {
		int64_t have, free_m;

		if (req->v[r] <= 0)
			continue;
		have = cached ? cached->alloc[r] : llmo__binder_node_alloc(p->b, node, r);
		if (__builtin_sub_overflow(have, used ? used->v[r] : 0, &free_m) ||
		    free_m < req->v[r]) {
			nf->short_of[r] = true;
			nf->fit = FIT_SHORT;
		}
	}
}

/* Counts why a node failed (nf) into w: one reason, or one per short resource. */
static void node_count(struct llmo__binder_whys *w, const struct node_fit *nf)
{
	if (nf->fit == FIT_NO && nf->why == WHY_N)
		count_taint(w, nf->taint);
	else if (nf->fit == FIT_NO)
		w->n[nf->why]++;
	for (int r = 0; nf->fit == FIT_SHORT && r < RES_N; r++)
		w->n[r] += nf->short_of[r];
}

/* ---- placement with a policy ---- */

/* Counts a GPU pod of ours into the target workload's classes (binder.h). */
static void note_class(struct llmo_binder *b, const json_t *pod)
{
	struct llmo_sched_pod shape;
	struct llmo__binder_usage req;
	size_t i;

	llmo__binder_pod_request(pod, &req);
	if (!llmo__binder_pod_shape(&req, &shape) || shape.num_gpu == 0)
		return;
	for (i = 0; i < b->nclasses; i++)
		if (b->classes[i].num_gpu == shape.num_gpu &&
		    b->classes[i].gpu_milli == shape.gpu_milli)
			break;
	if (i == b->nclasses) {
		if (b->nclasses == LLMO_BINDER_CLASSES_MAX)
			return;
		b->classes[b->nclasses].num_gpu = shape.num_gpu;
		b->classes[b->nclasses].gpu_milli = shape.gpu_milli;
		b->nclasses++;
	}
	b->classes[i].count++;
	b->class_pods++;
	b->seen_cpu += (double)shape.cpu;
	b->seen_mem += (double)shape.mem;
	b->seen_gpu += (double)llmo_sched_pod_gpu_total(&shape);
}

/* Most pods first, then more GPUs, then larger shares: a fixed order. */
static int cmp_class(const void *a, const void *b)
{
	const struct llmo__binder_gpu_class *x = a, *y = b;

	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	if (x->num_gpu != y->num_gpu)
		return x->num_gpu > y->num_gpu ? -1 : 1;
	return (x->gpu_milli < y->gpu_milli) - (x->gpu_milli > y->gpu_milli);
}

/* Builds the target workload of fgd and llmo into w (initialised, empty); see binder.h. */
static int binder_workload(const struct llmo_binder *b, struct llmo_sched_workload *w)
{
	static const struct llmo__binder_gpu_class mix[] = {
		{1, LLMO_SCHED_MILLI, 1}, {1, LLMO_SCHED_MILLI / 2, 1}, {2, LLMO_SCHED_MILLI, 1},
		{4, LLMO_SCHED_MILLI, 1}, {8, LLMO_SCHED_MILLI, 1},
	};
	struct llmo__binder_gpu_class classes[LLMO_BINDER_CLASSES_MAX];
	const struct llmo__binder_gpu_class *src = mix;
	size_t n = sizeof(mix) / sizeof(mix[0]);
	uint64_t total = n;

	if (b->class_pods >= LLMO_BINDER_WORKLOAD_MIN_PODS) {
		memcpy(classes, b->classes, b->nclasses * sizeof(classes[0]));
		qsort(classes, b->nclasses, sizeof(classes[0]), cmp_class);
		src = classes;
		n = b->nclasses;
		total = b->class_pods;
		if (b->seen_gpu > 0) {
			w->cpu_per_gpu = b->seen_cpu / b->seen_gpu;
			w->mem_per_gpu = b->seen_mem / b->seen_gpu;
		}
	}
	for (size_t i = 0; i < n; i++) {
		struct llmo_sched_task_type *t = llmo_vec_push(&w->types);

		if (!t)
			return LLMO_ENOMEM;
		t->shape.num_gpu = src[i].num_gpu;
		t->shape.gpu_milli = src[i].gpu_milli;
		t->shape.models = LLMO_SCHED_MODELS_ANY;
		t->count = src[i].count;
		t->popularity = (double)src[i].count / (double)total;
	}
	return 0;
}

/*
 * First fit, the placement before the policies (binder.h): the first of
 * nodes[0..n) with GPUs for req there, its GPU ids into gpus. NULL when none.
 */
static json_t *first_fit(struct llmo__binder_pass *p, json_t **nodes, size_t n,
			 const struct llmo__binder_usage *req, struct llmo_buf *gpus)
{
	for (size_t i = 0; i < n; i++) {
		struct llmo__binder_usage on;

		llmo_buf_reset(gpus);
		if (!llmo__binder_node_request(p->b, nodes[i], req, &on))
			continue;
		if (on.v[RES_GPU] <= 0 || llmo__binder_pick_gpus(p, nodes[i], on.v[RES_GPU], gpus))
			return nodes[i];
	}
	llmo_buf_reset(gpus);
	return NULL;
}

static bool soft_scores(const struct llmo_binder *b, const struct llmo_sched_podaff *pa,
			const struct llmo_sched_spread *spread, json_t *const *nodes, size_t n,
			double *out);

/*
 * First fit for a pod without GPUs, but among the nodes its inter-pod
 * affinity and topology spread score highest (the first of those in name
 * order).
 */
static json_t *first_fit_preferred(struct llmo__binder_pass *p, json_t **nodes, size_t n,
				   const struct llmo__binder_usage *req, struct llmo_buf *gpus,
				   int *rc)
{
	double *sc = n ? calloc(n, sizeof(*sc)) : NULL;
	json_t *best = NULL, *chosen;
	double top = -1;

	if (n && !sc) {
		*rc = LLMO_ENOMEM;
		return NULL;
	}
	if (!sc || !soft_scores(p->b, p->podaff, p->spread, nodes, n, sc)) {
		free(sc);
		return first_fit(p, nodes, n, req, gpus);
	}
	for (size_t i = 0; i < n; i++) {
		if (sc[i] > top && first_fit(p, &nodes[i], 1, req, gpus)) {
			top = sc[i];
			best = nodes[i];
		}
	}
	free(sc);
	/* the GPU ids (none, or a share) of the node taken */
	chosen = best ? first_fit(p, &best, 1, req, gpus) : NULL;
	if (!chosen)
		llmo_buf_reset(gpus);
	return chosen;
}

/* The nodes that passed the filters, as the policies' cluster (see the top of this file). */
struct choice {
	struct llmo_sched_cluster c;
	LLMO_VEC(json_t *) nodes; /* per cluster node, its node object */
	LLMO_VEC(const struct llmo_strv *) ids; /* per cluster node, its GPU ids (the state's) */
	LLMO_VEC(json_t *) big; /* nodes with more GPUs than the model holds */
	/* per cluster node, the pod's shape there: a GPU memory request only (binder.h) */
	LLMO_VEC(struct llmo_sched_pod) shapes;
	struct llmo_sched_topology *topo; /* per cluster node, for a multi-GPU pod; or NULL */
};

static void choice_release(struct choice *ch)
{
	llmo_vec_release(&ch->ids);
	llmo_vec_release(&ch->nodes);
	llmo_vec_release(&ch->big);
	llmo_vec_release(&ch->shapes);
	free(ch->topo);
	llmo_sched_cluster_release(&ch->c);
}

/*
 * Adds node (it passed the filters) to the cluster, or to the big nodes;
 * for a pod with a GPU memory request (req), its shape on the node too.
 */
static int choice_add(struct llmo__binder_pass *p, struct choice *ch, json_t *node,
		      const struct llmo__binder_usage *req, struct llmo_error *err)
{
	const char *name = llmo_kube_str(node, "metadata", "name");
	const struct llmo__binder_usage *used = llmo__binder_used(p, name);
	const struct llmo__binder_node *cached = llmo__binder_state_node(p->b, name);
	int64_t gpu_used[LLMO_SCHED_NODE_GPUS_MAX] = {0};
	const struct llmo_strv **ids;
	json_t **slot;
	int rc;

	if (!cached)
		return llmo_error_set(err, LLMO_ENOTFOUND, "node %s is not in the cluster state",
				      name);
	if (cached->ids.len > LLMO_SCHED_NODE_GPUS_MAX) {
		slot = llmo_vec_push(&ch->big);
		if (!slot)
			return LLMO_ENOMEM;
		*slot = node;
		return 0;
	}
	if (req->gpu_mem > 0) {
		struct llmo__binder_usage on;
		struct llmo_sched_pod *shape;

		/* the filters passed it, so its GPUs are large enough; a pod too big is first fit */
		if (!llmo__binder_node_request(p->b, node, req, &on))
			return 0;
		shape = llmo_vec_push(&ch->shapes);
		if (!shape)
			return LLMO_ENOMEM;
		llmo__binder_pod_shape(&on, shape);
	}
	ids = llmo_vec_push(&ch->ids);
	slot = ids ? llmo_vec_push(&ch->nodes) : NULL;
	if (!slot)
		return LLMO_ENOMEM;
	*ids = &cached->ids;
	*slot = node;
	/* GPUs are taken only with the node's GPU total: most nodes need no look-up */
	for (size_t g = 0; used && used->v[RES_GPU] > 0 && g < cached->ids.len; g++)
		gpu_used[g] = LLMO_MAX(llmo__binder_gpu_used(p, name, cached->ids.items[g]), 0);
	rc = llmo_sched_cluster_add_node(&ch->c, name, LLMO_MAX(cached->alloc[RES_CPU], 0),
					 LLMO_MAX(cached->alloc[RES_MEMORY], 0),
					 (int)cached->ids.len,
					 cached->ids.len ? BINDER_GPU_MODEL : NULL, err);
	if (!rc)
		rc = llmo_sched_cluster_take_used(
			&ch->c, ch->c.nodes.len - 1,
			used ? LLMO_MAX(used->v[RES_CPU], 0) : 0,
			used ? LLMO_MAX(used->v[RES_MEMORY], 0) : 0, gpu_used, (int)cached->ids.len,
			used ? used->tags : NULL, err);
	return rc;
}

/* Whether shape asks several whole GPUs (where topology matters). */
static bool multi_gpu(const struct llmo_sched_pod *shape)
{
	return shape->num_gpu >= 2 && shape->gpu_milli == LLMO_SCHED_MILLI;
}

/*
 * Reads the GPU topology of every node of ch into ch->topo (topology.h):
 * a node counts as having one only when its annotation lists as many GPUs
 * as the cluster node has.
 */
static int choice_topology(struct choice *ch)
{
	ch->topo = calloc(ch->nodes.len ? ch->nodes.len : 1, sizeof(*ch->topo));
	if (!ch->topo)
		return LLMO_ENOMEM;
	for (size_t i = 0; i < ch->nodes.len; i++) {
		const char *devs = llmo_kube_annotation(ch->nodes.items[i], LLMO_BINDER_DEVICES_ANNOTATION);
		json_t *arr = devs ? json_loads(devs, 0, NULL) : NULL;

		llmo_sched_topology_read(arr, &ch->topo[i]);
		if (ch->topo[i].ngpus != ch->c.nodes.items[i].ngpus)
			ch->topo[i].known = false;
		json_decref(arr);
	}
	return 0;
}

/*
 * The whole GPUs of cluster node i of ch that a multi-GPU pod of k GPUs
 * takes by topology into out; the domains they span, 0 when the node has no
 * topology (or not k free GPUs).
 */
static int topology_pick(const struct choice *ch, size_t i, int k, uint8_t *out)
{
	const struct llmo_sched_node *n = &ch->c.nodes.items[i];
	bool is_free[LLMO_SCHED_NODE_GPUS_MAX] = {false};

	if (!ch->topo || !ch->topo[i].known)
		return 0;
	for (int g = 0; g < n->ngpus; g++)
		is_free[g] = n->gpu_left[g] == LLMO_SCHED_MILLI;
	return llmo_sched_topology_pick(&ch->topo[i], is_free, k, out);
}

/*
 * The normalised inter-pod affinity scores of nodes[0..n) into out
 * (LLMO_SCHED_PODAFF_SCORE_MAX for the best); false when none differs from
 * another.
 */
static bool podaff_scores(const struct llmo_sched_podaff *pa, json_t *const *nodes, size_t n,
			  double *out)
{
	int64_t lo = 0, hi = 0, *raw;

	if (!pa || !llmo_sched_podaff_scores(pa) || !n || !(raw = calloc(n, sizeof(*raw))))
		return false;
	for (size_t i = 0; i < n; i++) {
		raw[i] = llmo_sched_podaff_score(pa, nodes[i]);
		lo = LLMO_MIN(lo, raw[i]);
		hi = LLMO_MAX(hi, raw[i]);
	}
	for (size_t i = 0; i < n; i++)
		out[i] = llmo_sched_podaff_normalize(raw[i], lo, hi);
	free(raw);
	return hi > lo;
}

/*
 * The weighted inter-pod affinity and topology spread scores of
 * nodes[0..n) into out; false when neither tells the nodes apart.
 */
static bool soft_scores(const struct llmo_binder *b, const struct llmo_sched_podaff *pa,
			const struct llmo_sched_spread *spread, json_t *const *nodes, size_t n,
			double *out)
{
	double *one = calloc(n ? n : 1, sizeof(*one));
	bool any = false;

	if (!one)
		return false;
	for (size_t i = 0; i < n; i++)
		out[i] = 0;
	if (b->pod_affinity_weight > 0 && podaff_scores(pa, nodes, n, one)) {
		for (size_t i = 0; i < n; i++)
			out[i] += b->pod_affinity_weight * one[i];
		any = true;
	}
	if (b->spread_weight > 0 && spread && llmo_sched_spread_score(spread, nodes, n, one)) {
		for (size_t i = 0; i < n; i++)
			out[i] += b->spread_weight * one[i];
		any = true;
	}
	free(one);
	return any;
}

/*
 * The score plugins beyond the policy (binder.h) per node of ch into
 * extra[0..nodes): the model affinity score times the weight, the
 * performance score times its weight (minus 200 times it on a node whose
 * benchmarked time to first token misses the pod's QoS class's maxLatency
 * while another node meets it), the preferred node affinity score
 * (100 * matching terms' weights / the largest such sum) times its weight,
 * minus 100 * untolerated PreferNoSchedule taints / the most of any node,
 * the inter-pod affinity and topology spread scores times their weights
 * (soft_scores), and for a pod of k >= 2 whole GPUs minus 100 * (domains
 * spanned - 1) / (k - 1) on a node that reports its topology (ch->topo).
 * False when every one is 0 (the policy alone decides).
 */
static bool extra_scores(const struct llmo_binder *b, const struct llmo_sched_podaff *pa,
			 const struct llmo_sched_spread *spread, const json_t *pod,
			 const struct llmo_sched_pod *shape, const struct choice *ch,
			 double *extra)
{
	json_t *model = b->performance_weight > 0 ? pod_model(b, pod) : NULL;
	const struct llmo__binder_qos *q = pod_qos(b, pod);
	double fastest = 0;
	int64_t most_preferred = 0;
	int most = 0;
	bool any = false, some_meet = false;

	for (size_t i = 0; model && i < ch->nodes.len; i++) {
		fastest = LLMO_MAX(fastest, node_tokens_per_second(model, ch->nodes.items[i]));
		some_meet = some_meet || objective_met(q, model, ch->nodes.items[i]) > 0;
	}
	for (size_t i = 0; b->node_affinity_weight > 0 && i < ch->nodes.len; i++)
		most_preferred = LLMO_MAX(most_preferred,
					  llmo_sched_preferred_affinity(pod, ch->nodes.items[i]));

	for (size_t i = 0; i < ch->nodes.len; i++) {
		int t = llmo_sched_untolerated_preferred(pod, ch->nodes.items[i]);

		extra[i] = 0;
		if (b->affinity_weight > 0)
			extra[i] = b->affinity_weight *
				   llmo_sched_affinity_score(
					   llmo_sched_model_saved_seconds(pod, ch->nodes.items[i]));
		if (fastest > 0)
			extra[i] += b->performance_weight * 100.0 *
				    node_tokens_per_second(model, ch->nodes.items[i]) / fastest;
		/* the class's latency objective outweighs throughput while some node meets it */
		if (some_meet && objective_met(q, model, ch->nodes.items[i]) < 0)
			extra[i] -= b->performance_weight * 200.0;
		if (most_preferred > 0)
			extra[i] += b->node_affinity_weight *
				    (double)llmo_sched_node_affinity_score(
					    llmo_sched_preferred_affinity(pod, ch->nodes.items[i]),
					    most_preferred);
		most = LLMO_MAX(most, t);
		any = any || extra[i] != 0;
	}
	for (size_t i = 0; most > 0 && i < ch->nodes.len; i++)
		extra[i] -= 100.0 * llmo_sched_untolerated_preferred(pod, ch->nodes.items[i]) / most;
	if (ch->nodes.len) {
		double *soft = calloc(ch->nodes.len, sizeof(*soft));

		if (soft && soft_scores(b, pa, spread, ch->nodes.items, ch->nodes.len, soft)) {
			for (size_t i = 0; i < ch->nodes.len; i++)
				extra[i] += soft[i];
			any = true;
		}
		free(soft);
	}
	for (size_t i = 0; ch->topo && i < ch->nodes.len; i++) {
		uint8_t g[LLMO_SCHED_POD_GPUS_MAX];
		int d = topology_pick(ch, i, shape->num_gpu, g);

		if (d > 1) {
			extra[i] -= 100.0 * (d - 1) / (shape->num_gpu - 1);
			any = true;
		}
	}
	return any || most > 0;
}

/*
 * The node of ch with the highest policy score plus extra (ties to the
 * first) and the GPUs the policy picks there into *out, for the pod of
 * shape, or of per_node[i] on cluster node i when per_node is not NULL;
 * LLMO_ENOTFOUND when the pod fits none.
 */
static int place_scored(struct llmo_sched_policy *pol, const struct choice *ch,
			const struct llmo_sched_pod *shape, const struct llmo_sched_pod *per_node,
			const double *extra, struct llmo_sched_placement *out)
{
	bool found = false;
	double best = 0;

	for (size_t i = 0; i < ch->nodes.len; i++) {
		const struct llmo_sched_pod *s = per_node ? &per_node[i] : shape;
		uint8_t g[LLMO_SCHED_POD_GPUS_MAX] = {0};
		double sc;

		if (!llmo_sched_policy_score(pol, &ch->c, i, s, &sc, g))
			continue;
		if (!found || sc + extra[i] > best) {
			found = true;
			best = sc + extra[i];
			out->node = i;
			out->ngpus = s->num_gpu;
			memcpy(out->gpus, g, sizeof(out->gpus));
		}
	}
	return found ? 0 : LLMO_ENOTFOUND;
}

/*
 * Chooses among cands[0..n) (the nodes that passed the filters, in name
 * order) the node for pod (req: its request) with the binder's policy and
 * score plugins, its GPU ids into gpus: the node, or NULL with *rc 0 when
 * none has GPUs for the pod (or an error code in *rc).
 */
json_t *llmo__binder_choose(struct llmo__binder_pass *p, const json_t *pod, json_t **cands, size_t n,
		      const struct llmo__binder_usage *req, struct llmo_buf *gpus, int *rc)
{
	double *extra = NULL;
	struct llmo_binder *b = p->b;
	struct llmo_sched_workload w;
	struct llmo_sched_policy pol;
	struct llmo_sched_placement pl;
	struct llmo_sched_pod shape;
	struct llmo_error err = {0};
	struct choice ch = {.nodes = LLMO_VEC_INIT, .ids = LLMO_VEC_INIT, .big = LLMO_VEC_INIT,
			    .shapes = LLMO_VEC_INIT};
	const struct llmo_sched_pod *per_node;
	json_t *chosen = NULL;

	*rc = 0;
	llmo_buf_reset(gpus);
	if (!llmo__binder_pod_shape(req, &shape))
		return first_fit_preferred(p, cands, n, req, gpus, rc);
	llmo_sched_workload_init(&w);
	llmo_sched_cluster_init(&ch.c);
	memset(&pol, 0, sizeof(pol));
	for (size_t i = 0; i < n && !*rc; i++)
		*rc = choice_add(p, &ch, cands[i], req, &err);
	if (!*rc && llmo_sched_policy_needs_workload(b->policy))
		*rc = binder_workload(b, &w);
	if (!*rc)
		*rc = llmo_sched_policy_init(&pol, b->policy, &w, &err);
	if (*rc)
		goto out;
	llmo_sched_policy_set_pool(&pol, b->pool);
	extra = calloc(ch.nodes.len ? ch.nodes.len : 1, sizeof(*extra));
	if (!extra) {
		*rc = LLMO_ENOMEM;
		goto out;
	}
	if (multi_gpu(&shape) && (*rc = choice_topology(&ch)) != 0)
		goto out;
	/* a GPU memory request asks a different share per node: scored node by node */
	per_node = req->gpu_mem > 0 ? ch.shapes.items : NULL;
	if (extra_scores(b, p->podaff, p->spread, pod, &shape, &ch, extra) || per_node)
		*rc = place_scored(&pol, &ch, &shape, per_node, extra, &pl);
	else
		*rc = llmo_sched_policy_place(&pol, &ch.c, &shape, -1, &b->rng, &pl);
	if (*rc == 0) {
		const struct llmo_strv *ids = ch.ids.items[pl.node];
		uint8_t near[LLMO_SCHED_POD_GPUS_MAX];

		/* whole free GPUs are alike to the policies: take those of fewest domains */
		if (multi_gpu(&shape) && topology_pick(&ch, pl.node, shape.num_gpu, near) > 0)
			memcpy(pl.gpus, near, sizeof(pl.gpus));

		chosen = ch.nodes.items[pl.node];
		for (int g = 0; g < pl.ngpus && !*rc; g++) {
			if (g)
				*rc = llmo_buf_putc(gpus, ',');
			if (!*rc)
				*rc = llmo_buf_puts(gpus, ids->items[pl.gpus[g]]);
		}
		if (*rc)
			chosen = NULL;
	} else if (*rc == LLMO_ENOTFOUND) {
		*rc = 0;
		chosen = first_fit(p, ch.big.items, ch.big.len, req, gpus);
	}
out:
	if (*rc)
		llmo_log(LLMO_LOG_WARN, LOG_COMPONENT, "placement failed", "policy=%s rc=%d err=%s",
			 llmo_sched_policy_name(b->policy), *rc, err.msg);
	free(extra);
	llmo_sched_policy_release(&pol);
	llmo_sched_workload_release(&w);
	choice_release(&ch);
	return chosen;
}

/* A stand-in involved object with the kind and apiVersion the recorder needs. */
json_t *llmo__binder_pod_ref(const json_t *pod)
{
	json_t *meta = json_object_get(pod, "metadata");
	json_t *ref = json_pack("{s:s, s:s, s:{s:O?, s:O?, s:O?, s:O?}}", "apiVersion", "v1",
				"kind", "Pod", "metadata", "name", json_object_get(meta, "name"),
				"namespace", json_object_get(meta, "namespace"), "uid",
				json_object_get(meta, "uid"), "resourceVersion",
				json_object_get(meta, "resourceVersion"));

	return ref;
}

/*
 * Writes the GPU assignment to the pod's annotations (before the binding, so
 * the agent sees it): the ids, and the share when share > 0 (binder.h).
 */
static int annotate_gpus(struct llmo_binder *b, const char *key, const char *ns, const char *name,
			 const char *gpus, int64_t share)
{
	struct llmo_error err = {0};
	json_t *patch = json_pack("{s:{s:{s:s}}}", "metadata", "annotations",
				  LLMO_BINDER_GPUS_ANNOTATION, gpus);
	char q[LLMO_QUANTITY_FMT_MAX];
	int rc;

	if (!patch)
		return LLMO_ENOMEM;
	if (share > 0 && llmo_quantity_format(share, LLMO_QFORMAT_DECIMAL_SI, q, sizeof(q)) == 0 &&
	    json_object_set_new(json_object_get(json_object_get(patch, "metadata"), "annotations"),
				LLMO_BINDER_GPU_SHARE_ANNOTATION, json_string(q))) {
		json_decref(patch);
		return LLMO_ENOMEM;
	}
	rc = llmo_kube_patch(b->client, &llmo_kube_pods, ns, name, NULL, LLMO_KUBE_PATCH_MERGE,
			     patch, NULL, &err);
	json_decref(patch);
	if (rc)
		llmo_log(LLMO_LOG_WARN, LOG_COMPONENT, "GPU annotation failed",
			 "pod=%s gpus=%s err=%s", key, gpus, err.msg);
	return rc;
}

int llmo__binder_bind(struct llmo_binder *b, const json_t *pod, const char *key, const char *ns,
		    const char *name, const char *node, const char *gpus)
{
	struct llmo_error err = {0};
	struct llmo_buf path;
	json_t *body = NULL, *ref = NULL;
	char *node_copy = NULL, *gpus_copy = NULL;
	void *old = NULL;
	int rc;

	if (gpus && *gpus) {
		const struct llmo__binder_node *n = llmo__binder_state_node(b, node);
		struct llmo__binder_usage req, on;

		/* a GPU memory request: the share it takes on this node (binder.h) */
		llmo__binder_pod_request(pod, &req);
		rc = annotate_gpus(b, key, ns, name, gpus,
				   req.gpu_mem > 0 && n && llmo__binder_node_request(b, n->obj, &req, &on)
					   ? on.v[RES_GPU]
					   : 0);
		if (rc)
			return rc;
	}
	llmo_buf_init(&path, LLMO__BINDER_PATH_MAX);
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
	old = NULL;
	if (llmo_hmap_del(&b->nominated, key, &old) == 0)
		free(old);
	rc = llmo__binder_state_pod(b, key, pod);
	if (rc)
		goto out;
	llmo_log(LLMO_LOG_INFO, LOG_COMPONENT, "bound", "pod=%s node=%s gpus=%s", key, node,
		 gpus && *gpus ? gpus : "none");
	ref = llmo__binder_pod_ref(pod);
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
/* Whether pod's PodScheduled condition already says Unschedulable with msg. */
static bool says_unschedulable(const json_t *pod, const char *msg)
{
	json_t *conds = json_object_get(json_object_get(pod, "status"), "conditions");
	json_t *c;
	size_t i;

	json_array_foreach(conds, i, c) {
		const char *type = json_string_value(json_object_get(c, "type"));

		if (type && strcmp(type, "PodScheduled") == 0 &&
		    str_eq(json_object_get(c, "status"), "False") &&
		    str_eq(json_object_get(c, "reason"), "Unschedulable") &&
		    str_eq(json_object_get(c, "message"), msg))
			return true;
	}
	return false;
}

/*
 * Logs that pod cannot be placed (at info when the reason is new for it, at
 * debug when its condition already says so: a waiting pod is retried every
 * few seconds), marks it Unschedulable and, when event, records a
 * FailedScheduling Event.
 */
void llmo__binder_report_unschedulable(struct llmo_binder *b, const json_t *pod, const char *key,
				       const char *ns, const char *name, const char *msg, bool event)
{
	json_t *ref;

	llmo_log(says_unschedulable(pod, msg) ? LLMO_LOG_DEBUG : LLMO_LOG_INFO, LOG_COMPONENT,
		 "unschedulable", "pod=%s msg=%s", key, msg);
	llmo__binder_mark_unschedulable(b, pod, key, ns, name, msg);
	ref = event ? llmo__binder_pod_ref(pod) : NULL;
	if (ref)
		llmo_kube_event(b->rec, ref, "Warning", "FailedScheduling", "%s", msg);
	json_decref(ref);
}

int llmo__binder_mark_unschedulable(struct llmo_binder *b, const json_t *pod, const char *key,
			      const char *ns, const char *name, const char *msg)
{
	json_t *conds = json_object_get(json_object_get(pod, "status"), "conditions");
	json_t *c, *newconds = NULL, *patch = NULL;
	struct llmo_error err = {0};
	char ts[64];
	size_t i;
	int rc = 0;

	if (says_unschedulable(pod, msg))
		return 0;
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

int llmo__binder_format_reasons(size_t n_nodes, const struct llmo__binder_whys *w, struct llmo_buf *msg)
{
	const char *sep = ": ";
	int rc;

	rc = llmo_buf_appendf(msg, "0/%zu nodes are available", n_nodes);
	if (w->invalid[0])
		return rc ? rc : llmo_buf_appendf(msg, ": %s.", w->invalid);
	for (int r = 0; r < WHY_N && !rc; r++) {
		if (r == WHY_SELECTOR) {
			for (size_t t = 0; t < w->ntaints && !rc; t++) {
				rc = llmo_buf_appendf(msg, "%s%d node(s) had untolerated taint %s", sep,
						      w->taints[t].n, w->taints[t].text);
				sep = ", ";
			}
			if (w->other_taints && !rc) {
				rc = llmo_buf_appendf(msg, "%s%d node(s) had untolerated taints", sep,
						      w->other_taints);
				sep = ", ";
			}
		}
		if (!w->n[r] || rc)
			continue;
		if (r == WHY_GPU_MEMORY) {
			char q[LLMO_QUANTITY_FMT_MAX];

			if (llmo_quantity_format(w->gpu_mem > INT64_MAX / 1000 ? INT64_MAX
										: w->gpu_mem * 1000,
						 LLMO_QFORMAT_BINARY_SI, q, sizeof(q)))
				q[0] = '\0';
			rc = llmo_buf_appendf(msg, "%s%d node(s) had no GPU with %s of memory", sep,
					      w->n[r], q);
		} else {
			rc = llmo_buf_appendf(msg, "%s%d %s", sep, w->n[r], why_text[r]);
		}
		sep = ", ";
	}
	if (!rc)
		rc = llmo_buf_putc(msg, '.');
	return rc;
}

static int objv_push(struct llmo__binder_objv *o, json_t *obj)
{
	json_t **slot = llmo_vec_push(&o->v);

	if (!slot)
		return LLMO_ENOMEM;
	*slot = obj;
	return 0;
}

/* The pod's gpuType constraint, or NULL when it asks no GPU or constrains nothing. */
static const char *pod_gpu_type(const json_t *pod, const struct llmo__binder_usage *req)
{
	const char *t;

	if (req->v[RES_GPU] <= 0 && req->gpu_mem <= 0)
		return NULL;
	t = llmo_kube_annotation(pod, LLMO_BINDER_GPU_TYPE_ANNOTATION);
	return gpu_type_constrains(t) ? t : NULL;
}

/*
 * Runs the filters of pod (req: its request) over the pass's nodes: those
 * that pass into cands, those that pass or are short of resources only
 * into shorts (NULL: not kept), why the others failed into w.
 */
/* The filters over a pass's nodes in parallel: what each part of the nodes found. */
struct filter_job {
	const struct llmo__binder_pass *p;
	const json_t *pod;
	const struct llmo__binder_usage *req;
	const char *gpu_type;
	struct node_fit *fits; /* per node of the pass */
};

static void filter_part(void *ctx, size_t part, size_t lo, size_t hi)
{
	struct filter_job *j = ctx;

	(void)part;
	for (size_t i = lo; i < hi; i++)
		node_check(j->p, j->p->nodes.items[i], j->pod, j->req, j->gpu_type, &j->fits[i]);
}

/* A namespace's labels for namespaceSelectors (podaffinity.h). */
static const json_t *ns_labels(void *ctx, const char *ns)
{
	struct llmo_binder *b = ctx;
	json_t *obj = b->namespaces ? llmo_informer_get(b->namespaces, NULL, ns) : NULL;

	return json_object_get(json_object_get(obj, "metadata"), "labels");
}

struct placed_ctx {
	struct llmo__binder_pass *p;
	const char *self;
	int rc;
};

/*
 * The node a placed pod is on (bound, or assumed bound by this binder), or
 * NULL for a pod not placed, finished, or the pod being placed (self).
 */
static const json_t *placed_node(const struct llmo_binder *b, const json_t *pod, const char *self)
{
	char key[LLMO_BINDER_KEY_MAX];
	const struct llmo__binder_node *n;
	const char *node;

	if (llmo_kube_object_key(pod, key, sizeof(key)) || strcmp(key, self) == 0 ||
	    llmo__binder_pod_finished(pod))
		return NULL;
	node = llmo_kube_str(pod, "spec", "nodeName");
	if (!node)
		node = llmo_hmap_get(&b->assumed, key);
	n = node ? llmo__binder_state_node(b, node) : NULL;
	return n ? n->obj : NULL;
}

/* A placed pod into the pass's inter-pod affinity and topology spread counts. */
static int add_placed(void *ctx, json_t *pod)
{
	struct placed_ctx *c = ctx;
	const json_t *node = placed_node(c->p->b, pod, c->self);

	if (!node)
		return 0;
	c->rc = llmo_sched_podaff_add(c->p->podaff, pod, node);
	if (!c->rc && c->p->spread)
		c->rc = llmo_sched_spread_add_pod(c->p->spread, pod, node);
	return c->rc;
}

/*
 * The pass's inter-pod affinity (podaffinity.h) and topology spread
 * (spread.h) state for pod: its terms and constraints (a malformed one is
 * said in w->invalid), every node for the spread, and one scan of the
 * placed pods that bear on it: all of them when the pod has terms or
 * constraints of its own, else those with terms of their own.
 */
static int placement_build(struct llmo__binder_pass *p, const json_t *pod, const char *self,
			   struct llmo__binder_whys *w)
{
	struct llmo_binder *b = p->b;
	struct placed_ctx c = {.p = p, .self = self};
	struct llmo_error err = {0};
	char ns[LLMO_BINDER_KEY_MAX];
	const char *key, *name;
	size_t it = 0;
	int rc;

	llmo_sched_podaff_free(p->podaff);
	p->podaff = NULL;
	llmo_sched_spread_free(p->spread);
	p->spread = NULL;
	rc = llmo_sched_podaff_new(pod, ns_labels, b, &p->podaff, &err);
	if (rc == LLMO_EINVAL) {
		snprintf(w->invalid, sizeof(w->invalid), "the pod's affinity is not valid: %s",
			 err.msg);
		return 0;
	}
	if (!rc && json_object_get(json_object_get(pod, "spec"), "topologySpreadConstraints")) {
		rc = llmo_sched_spread_new(pod, &p->spread, &err);
		if (rc == LLMO_EINVAL) {
			snprintf(w->invalid, sizeof(w->invalid),
				 "the pod's topology spread constraints are not valid: %s",
				 err.msg);
			return 0;
		}
		for (size_t i = 0; !rc && i < p->nodes.len; i++)
			rc = llmo_sched_spread_add_node(p->spread, p->nodes.items[i]);
	}
	if (rc)
		return rc;
	if (llmo_sched_podaff_own(p->podaff) || p->spread) {
		llmo_informer_list(b->pods, NULL, add_placed, &c);
	} else {
		while (!c.rc && llmo_hmap_next(&b->affinity_pods, &it, &key, NULL)) {
			json_t *other;

			name = llmo_kube_key_split(key, ns, sizeof(ns));
			other = name ? llmo_informer_get(b->pods, ns, name) : NULL;
			if (other)
				add_placed(&c, other);
		}
	}
	if (!c.rc && p->spread)
		llmo_sched_spread_done(p->spread);
	return c.rc;
}

int llmo__binder_filter(struct llmo__binder_pass *p, const json_t *pod,
			const struct llmo__binder_usage *req, struct llmo__binder_whys *w,
			struct llmo__binder_objv *cands, struct llmo__binder_objv *shorts)
{
	struct filter_job j = {.p = p, .pod = pod, .req = req, .gpu_type = pod_gpu_type(pod, req)};
	char self[LLMO_BINDER_KEY_MAX];
	int rc = 0;

	w->gpu_mem = req->gpu_mem;
	if (llmo_kube_object_key(pod, self, sizeof(self)))
		self[0] = '\0';
	rc = placement_build(p, pod, self, w);
	if (rc || w->invalid[0])
		return rc; /* a malformed term: no node is tried (llmo__binder_format_reasons) */
	/*
	 * On a large cluster the nodes are checked on the pool's threads (each
	 * a fixed slice; they only read), then counted here in node order, so
	 * that the candidates and the message are those of the serial loop.
	 */
	if (p->b->pool && p->nodes.len >= LLMO_SCHED_PARALLEL_MIN_NODES) {
		j.fits = malloc(p->nodes.len * sizeof(*j.fits));
		if (!j.fits)
			return LLMO_ENOMEM;
		llmo_sched_pool_run(p->b->pool, p->nodes.len, filter_part, &j);
	}
	for (size_t i = 0; i < p->nodes.len && !rc; i++) {
		struct node_fit one, *nf = j.fits ? &j.fits[i] : &one;

		if (!j.fits)
			node_check(p, p->nodes.items[i], pod, req, j.gpu_type, nf);
		node_count(w, nf);
		if (nf->fit == FIT_OK)
			rc = objv_push(cands, p->nodes.items[i]);
		if (nf->fit != FIT_NO && shorts && !rc)
			rc = objv_push(shorts, p->nodes.items[i]);
	}
	free(j.fits);
	return rc;
}

/*
 * Fills the pass from the cluster state: the nodes in name order, and the
 * rooms of the nominated pods (this binder's nominations, then the others
 * the informer shows).
 */
int llmo__binder_pass_fill(struct llmo__binder_pass *p)
{
	struct llmo__binder_state *st = &p->b->state;
	const char *key;
	size_t it = 0;
	int rc = llmo__binder_state_nodes(p->b);

	if (!rc)
		rc = llmo_vec_reserve(&p->nodes, st->nodes.len);
	for (size_t i = 0; i < st->nodes.len && !rc; i++)
		p->nodes.items[p->nodes.len++] = st->nodes.items[i].obj;
	while (!rc && llmo_hmap_next(&p->b->nominated, &it, &key, NULL))
		rc = add_nominee(p, key);
	it = 0;
	while (!rc && llmo_hmap_next(&st->nominees, &it, &key, NULL))
		if (!llmo_hmap_has(&p->b->nominated, key))
			rc = add_nominee(p, key);
	return rc;
}

static int reconcile_one(void *ctx, const char *key)
{
	struct llmo_binder *b = ctx;
	struct llmo__binder_pass p = {.b = b, .self = key, .nodes = LLMO_VEC_INIT};
	struct llmo__binder_whys whys;
	struct llmo_buf msg, gpus;
	char ns[LLMO_BINDER_KEY_MAX];
	const char *name;
	struct llmo__binder_objv cands = {LLMO_VEC_INIT};
	struct llmo__binder_objv shorts = {LLMO_VEC_INIT}; /* nodes short of resources only, and cands */
	struct llmo__binder_usage req;
	json_t *pod, *chosen;
	int rc = 0;

	memset(&whys, 0, sizeof(whys));
	llmo_hmap_init(&p.used);
	llmo_hmap_init(&p.gpu_used);
	llmo_buf_init(&msg, LLMO_BINDER_MESSAGE_MAX);
	llmo_buf_init(&gpus, LLMO_BINDER_MESSAGE_MAX);
	if (!(name = llmo_kube_key_split(key, ns, sizeof(ns))))
		goto out;
	if (b->leader && !b->leading)
		goto out; /* another copy binds; all pending pods come back when this one leads */
	pod = llmo_informer_get(b->pods, ns, name);
	if (!pod || !llmo__binder_pod_pending(b, pod)) {
		/* gone or bound (the informer caught up): drop what we assumed */
		if (!pod || llmo__binder_pod_finished(pod) || llmo_kube_str(pod, "spec", "nodeName"))
			forget_assumed(b, key);
		llmo_workqueue_forget(b->queue, key);
		goto out;
	}
	if (llmo_hmap_has(&b->assumed, key))
		goto out; /* bound, the informer has not seen it yet */
	if (!llmo_informer_synced(b->pods) || !llmo_informer_synced(b->nodes) ||
	    ((!llmo_informer_synced(b->workloads) || !llmo_informer_synced(b->models)) &&
	     llmo_clock_mono_ms() - b->started_ms < LLMO_BINDER_CRD_SYNC_WAIT_MS)) {
		rc = llmo_workqueue_add_after(b->queue, key, BINDER_UNSYNCED_RETRY_MS);
		goto out;
	}
	p.priority = llmo__binder_pod_priority(b, pod);
	if (llmo__binder_pod_group(pod)) {
		rc = llmo__binder_gang_reconcile(&p, pod, key, ns, name);
		goto out;
	}
	llmo__binder_pod_demand(b, pod, &req);
	rc = llmo__binder_pass_fill(&p);
	if (!rc)
		rc = llmo__binder_filter(&p, pod, &req, &whys, &cands, &shorts);
	if (rc)
		goto out;
	chosen = llmo__binder_choose(&p, pod, cands.v.items, cands.v.len, &req, &gpus, &rc);
	if (rc)
		goto out;
	if (chosen) {
		rc = llmo__binder_bind(b, pod, key, ns, name, llmo_kube_str(chosen, "metadata", "name"), gpus.data);
		if (!rc)
			llmo_workqueue_forget(b->queue, key);
		goto out;
	}
	/* every node that passed the filters lacked GPUs in the shares the pod needs */
	whys.n[WHY_GPU] += (int)cands.v.len;
	rc = llmo__binder_format_reasons(p.nodes.len, &whys, &msg);
	if (rc)
		goto out;
	llmo__binder_report_unschedulable(b, pod, key, ns, name, msg.data, true);
	rc = llmo__binder_preempt(&p, pod, key, ns, name, shorts.v.items, shorts.v.len, &req);
	if (rc)
		llmo_log(LLMO_LOG_WARN, LOG_COMPONENT, "preemption failed", "pod=%s rc=%d", key, rc);
	rc = 1; /* retry rate-limited */
out:
	llmo_buf_release(&msg);
	llmo_buf_release(&gpus);
	llmo_vec_release(&cands.v);
	llmo_vec_release(&shorts.v);
	llmo_vec_release(&p.nodes);
	llmo_sched_podaff_free(p.podaff);
	llmo_sched_spread_free(p.spread);
	llmo_hmap_release(&p.used, free_usage);
	llmo_hmap_release(&p.gpu_used, free_usage);
	return rc;
}

/* ---- metrics ---- */

const double llmo__binder_lat_bounds[LLMO__BINDER_LAT_BUCKETS] = {
	0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5,
};

static void stat_add(uint64_t *v, uint64_t n)
{
	__atomic_fetch_add(v, n, __ATOMIC_RELAXED);
}

static uint64_t stat_get(const uint64_t *v)
{
	return __atomic_load_n(v, __ATOMIC_RELAXED);
}

/* One decision, timed and counted: a pod bound, found unschedulable, or an error. */
static int reconcile(void *ctx, const char *key)
{
	struct llmo_binder *b = ctx;
	struct llmo__binder_stats *st = &b->stats;
	size_t bound = b->bound;
	int64_t t0 = llmo_clock_mono_ns();
	int rc = reconcile_one(ctx, key);
	double secs = (double)(llmo_clock_mono_ns() - t0) / 1e9;
	size_t k = 0;

	__atomic_store_n(&st->pending,
			 (uint64_t)(llmo_workqueue_len(b->queue) + llmo_workqueue_delayed(b->queue)),
			 __ATOMIC_RELAXED);
	__atomic_store_n(&st->evicted, (uint64_t)b->evicted, __ATOMIC_RELAXED);
	if (b->bound > bound)
		stat_add(&st->scheduled, b->bound - bound);
	else if (rc == 1)
		stat_add(&st->unschedulable, 1);
	else if (rc < 0)
		stat_add(&st->errors, 1);
	else
		return rc; /* nothing was decided (gone, waiting, not leading) */
	while (k < LLMO__BINDER_LAT_BUCKETS && secs > llmo__binder_lat_bounds[k])
		k++;
	stat_add(&st->lat[k], 1);
	stat_add(&st->lat_count, 1);
	stat_add(&st->lat_sum_ns, (uint64_t)(secs * 1e9));
	return rc;
}

int llmo_binder_write_metrics(void *arg, struct llmo_buf *out, struct llmo_error *err)
{
	const struct llmo__binder_stats *st = &((struct llmo_binder *)arg)->stats;
	uint64_t cum = 0;
	int rc;

	rc = llmo_buf_appendf(
		out,
		"# HELP llmo_scheduler_attempts_total Scheduling decisions by result (scheduled, "
		"unschedulable, error).\n"
		"# TYPE llmo_scheduler_attempts_total counter\n"
		"llmo_scheduler_attempts_total{result=\"scheduled\"} %" PRIu64 "\n"
		"llmo_scheduler_attempts_total{result=\"unschedulable\"} %" PRIu64 "\n"
		"llmo_scheduler_attempts_total{result=\"error\"} %" PRIu64 "\n"
		"# HELP llmo_scheduler_pending_pods Pods waiting in the scheduling queue.\n"
		"# TYPE llmo_scheduler_pending_pods gauge\n"
		"llmo_scheduler_pending_pods %" PRIu64 "\n"
		"# HELP llmo_scheduler_preemption_victims_total Pods evicted to make room for "
		"higher-priority ones.\n"
		"# TYPE llmo_scheduler_preemption_victims_total counter\n"
		"llmo_scheduler_preemption_victims_total %" PRIu64 "\n"
		"# HELP llmo_scheduler_scheduling_duration_seconds Time of one scheduling "
		"decision.\n"
		"# TYPE llmo_scheduler_scheduling_duration_seconds histogram\n",
		stat_get(&st->scheduled), stat_get(&st->unschedulable), stat_get(&st->errors),
		stat_get(&st->pending), stat_get(&st->evicted));
	for (size_t k = 0; !rc && k <= LLMO__BINDER_LAT_BUCKETS; k++) {
		cum += stat_get(&st->lat[k]);
		if (k < LLMO__BINDER_LAT_BUCKETS)
			rc = llmo_buf_appendf(out,
					      "llmo_scheduler_scheduling_duration_seconds_bucket{le=\"%g\"} "
					      "%" PRIu64 "\n",
					      llmo__binder_lat_bounds[k], cum);
		else
			rc = llmo_buf_appendf(out,
					      "llmo_scheduler_scheduling_duration_seconds_bucket{le=\"+Inf\"} "
					      "%" PRIu64 "\n"
					      "llmo_scheduler_scheduling_duration_seconds_sum %.9f\n"
					      "llmo_scheduler_scheduling_duration_seconds_count %" PRIu64 "\n",
					      cum, (double)stat_get(&st->lat_sum_ns) / 1e9,
					      stat_get(&st->lat_count));
	}
	return rc ? llmo_error_set(err, rc, "scheduler metrics: %s", llmo_strerror(rc)) : 0;
}

/* ---- informer handlers ---- */

static void enqueue(struct llmo_binder *b, const json_t *pod)
{
	char key[LLMO_BINDER_KEY_MAX];

	if (llmo_kube_object_key(pod, key, sizeof(key)) == 0)
		llmo_workqueue_add(b->queue, key);
}

static int enqueue_pending(void *ctx, json_t *pod)
{
	struct llmo_binder *b = ctx;

	if (llmo__binder_pod_pending(b, pod))
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
	const char *node = llmo_kube_str(pod, "spec", "nodeName");

	return node && *node && !llmo__binder_pod_finished(pod);
}

/* Keeps b->affinity_pods: the keys of pods with inter-pod affinity terms. */
static void note_affinity(struct llmo_binder *b, const json_t *pod)
{
	char key[LLMO_BINDER_KEY_MAX];

	if (llmo_kube_object_key(pod, key, sizeof(key)))
		return;
	if (!llmo_sched_podaff_has_terms(pod))
		llmo_hmap_del(&b->affinity_pods, key, NULL);
	else if (llmo_hmap_put(&b->affinity_pods, key, NULL, NULL))
		llmo_log(LLMO_LOG_WARN, LOG_COMPONENT, "out of memory", "pod=%s", key);
}

static void on_pod_add(void *ctx, json_t *obj)
{
	struct llmo_binder *b = ctx;
	const char *sched = llmo_kube_str(obj, "spec", "schedulerName");
	char key[LLMO_BINDER_KEY_MAX];

	if (llmo_kube_object_key(obj, key, sizeof(key)) == 0 && llmo__binder_state_pod(b, key, obj))
		llmo_log(LLMO_LOG_WARN, LOG_COMPONENT, "out of memory", "pod=%s", key);
	note_affinity(b, obj);
	if (sched && strcmp(sched, b->name) == 0)
		note_class(b, obj);
	if (llmo__binder_pod_pending(b, obj))
		enqueue(b, obj);
}

static void on_pod_update(void *ctx, json_t *old_obj, json_t *new_obj)
{
	struct llmo_binder *b = ctx;
	char key[LLMO_BINDER_KEY_MAX];

	if (llmo_kube_object_key(new_obj, key, sizeof(key)) == 0 &&
	    llmo__binder_state_pod(b, key, new_obj))
		llmo_log(LLMO_LOG_WARN, LOG_COMPONENT, "out of memory", "pod=%s", key);
	note_affinity(b, new_obj);
	if (pod_holds_node(old_obj) && !pod_holds_node(new_obj)) {
		requeue_all(b);
	} else if (llmo__binder_pod_pending(b, new_obj)) {
		enqueue(b, new_obj);
	}
	if (!llmo__binder_pod_pending(b, new_obj) && llmo_kube_object_key(new_obj, key, sizeof(key)) == 0 &&
	    llmo_kube_str(new_obj, "spec", "nodeName"))
		forget_assumed(b, key);
	if (llmo__binder_pod_deleting(new_obj) &&
	    llmo_kube_object_key(new_obj, key, sizeof(key)) == 0)
		llmo_hmap_del(&b->evicting, key, NULL);
}

static void on_pod_delete(void *ctx, json_t *obj)
{
	struct llmo_binder *b = ctx;
	char key[LLMO_BINDER_KEY_MAX];
	void *old = NULL;
	bool held = pod_holds_node(obj);

	if (llmo_kube_object_key(obj, key, sizeof(key)) == 0) {
		if (llmo_hmap_del(&b->assumed, key, &old) == 0) {
			held = held || old;
			free(old);
		}
		/* a preemptor gone frees the room it kept */
		held = held || llmo__binder_nominated_node(b, obj, key);
		forget_assumed(b, key);
		llmo_hmap_del(&b->evicting, key, NULL);
		llmo_hmap_del(&b->affinity_pods, key, NULL);
	}
	if (held)
		requeue_all(b);
}

/*
 * A node changed: the state's nodes are rebuilt at the next decision. When
 * its GPU memory appeared or changed (obj added, or old_obj reported other),
 * the pods on it whose GPU share comes from that memory are counted again:
 * a pod seen before its node would otherwise keep its bare request.
 */
static void node_changed(struct llmo_binder *b, const json_t *old_obj, const json_t *obj)
{
	const char *name = obj ? llmo_kube_str(obj, "metadata", "name") : NULL;
	struct llmo_strv keys = {0};

	b->state.nodes_dirty = true;
	if (name && (!old_obj || llmo__binder_node_gpu_memory(old_obj) !=
					 llmo__binder_node_gpu_memory(obj))) {
		if (llmo__binder_state_nodes(b) ||
		    llmo__binder_state_gpu_memory_pods(b, name, &keys))
			llmo_log(LLMO_LOG_WARN, LOG_COMPONENT, "out of memory", "node=%s", name);
		for (size_t i = 0; i < keys.len; i++)
			state_pod_key(b, keys.items[i]);
		llmo_strv_release(&keys);
	}
	requeue_all(b);
}

static void on_node_add(void *ctx, json_t *obj)
{
	node_changed(ctx, NULL, obj);
}

static void on_node_update(void *ctx, json_t *old_obj, json_t *new_obj)
{
	node_changed(ctx, old_obj, new_obj);
}

static void on_node_delete(void *ctx, json_t *obj)
{
	node_changed(ctx, obj, NULL);
}

/* ---- lifecycle ---- */

int llmo_binder_new(struct llmo_kube_client *client, struct event_base *base,
		    const char *scheduler_name, struct llmo_binder **out, struct llmo_error *err)
{
	static const struct llmo_informer_handlers pod_h = {on_pod_add, on_pod_update,
							    on_pod_delete};
	static const struct llmo_informer_handlers node_h = {on_node_add, on_node_update,
							     on_node_delete};
	static const struct llmo_informer_handlers none_h = {NULL, NULL, NULL};
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
	llmo_hmap_init(&b->nominated);
	llmo_hmap_init(&b->evicting);
	llmo_hmap_init(&b->affinity_pods);
	llmo__binder_state_init(&b->state);
	b->overcommit = 1;
	b->affinity_weight = 1;
	b->node_affinity_weight = 1;
	b->pod_affinity_weight = 1;
	b->spread_weight = 2;
	b->performance_weight = 1;
	b->policy = LLMO_SCHED_LLMO;
	llmo_rng_seed(&b->rng, (uint64_t)llmo_clock_wall_ms());
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
	if (!rc)
		rc = llmo_informer_new(client, &llmo_kube_llmworkloads, NULL, NULL, base, &none_h,
				       b, &b->workloads, err);
	if (!rc)
		rc = llmo_informer_new(client, &llmo_kube_llmmodels, NULL, NULL, base, &none_h, b,
				       &b->models, err);
	/* namespaces' labels, for pod affinity terms' namespaceSelectors */
	if (!rc)
		rc = llmo_informer_new(client, &llmo_kube_namespaces, NULL, NULL, base, &none_h, b,
				       &b->namespaces, err);
	if (!rc)
		llmo_workqueue_set_order(b->queue, llmo__binder_pod_before, b);
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
	rc = llmo_informer_start(b->workloads, err);
	if (!rc)
		rc = llmo_informer_start(b->models, err);
	if (!rc)
		rc = llmo_informer_start(b->namespaces, err);
	if (!rc && b->leader)
		rc = llmo_leader_start(b->leader, err);
	if (rc) {
		llmo_informer_stop(b->namespaces);
		llmo_informer_stop(b->models);
		llmo_informer_stop(b->workloads);
		llmo_informer_stop(b->pods);
		llmo_informer_stop(b->nodes);
		return rc;
	}
	b->started = true;
	b->started_ms = llmo_clock_mono_ms();
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
	llmo_leader_free(b->leader);
	llmo_informer_free(b->pods);
	llmo_informer_free(b->nodes);
	llmo_informer_free(b->workloads);
	llmo_informer_free(b->models);
	llmo_informer_free(b->namespaces);
	llmo_workqueue_free(b->queue);
	llmo_event_recorder_free(b->rec);
	llmo_hmap_release(&b->assumed, free_str);
	llmo_hmap_release(&b->assumed_gpus, free_str);
	llmo_hmap_release(&b->nominated, free_str);
	llmo_hmap_release(&b->evicting, NULL);
	llmo_hmap_release(&b->affinity_pods, NULL);
	llmo_sched_pool_free(b->pool);
	llmo__binder_state_release(&b->state);
	for (size_t i = 0; i < b->nqos; i++)
		free(b->qos[i].name);
	free(b->name);
	free(b);
}

void llmo_binder_set_overcommit(struct llmo_binder *b, double ratio)
{
	b->overcommit = ratio >= 1 ? ratio : 1;
	b->state.nodes_dirty = true; /* the allocatable kept there includes it */
}

int llmo_binder_set_policy(struct llmo_binder *b, enum llmo_sched_policy_kind kind)
{
	if ((int)kind < 0 || kind >= LLMO_SCHED_POLICY_COUNT)
		return LLMO_EINVAL;
	b->policy = kind;
	return 0;
}

size_t llmo_binder_bound_count(const struct llmo_binder *b)
{
	return b->bound;
}

int llmo_binder_add_qos_class(struct llmo_binder *b, const char *name, int32_t priority,
			      int preemption_policy)
{
	size_t i;
	char *copy;

	if (!name || !*name || preemption_policy < LLMO_PREEMPT_NEVER ||
	    preemption_policy > LLMO_PREEMPT_ALWAYS)
		return LLMO_EINVAL;
	for (i = 0; i < b->nqos; i++)
		if (strcmp(b->qos[i].name, name) == 0)
			break;
	if (i == LLMO_BINDER_QOS_MAX)
		return LLMO_ETOOBIG;
	if (i == b->nqos) {
		copy = llmo_strdup(name);
		if (!copy)
			return LLMO_ENOMEM;
		b->qos[b->nqos++].name = copy;
	}
	b->qos[i].priority = priority;
	b->qos[i].preemption = preemption_policy;
	return 0;
}

int llmo_binder_set_qos_guarantee(struct llmo_binder *b, const char *name, double guarantee)
{
	if (!(guarantee >= 0 && guarantee <= 1))
		return LLMO_EINVAL;
	for (size_t i = 0; name && i < b->nqos; i++) {
		if (strcmp(b->qos[i].name, name) == 0) {
			b->qos[i].guarantee = guarantee;
			return 0;
		}
	}
	return LLMO_ENOTFOUND;
}

int llmo_binder_set_qos_latency(struct llmo_binder *b, const char *name, int32_t max_latency_ms)
{
	for (size_t i = 0; name && i < b->nqos; i++) {
		if (strcmp(b->qos[i].name, name) == 0) {
			b->qos[i].max_latency_ms = max_latency_ms > 0 ? max_latency_ms : 0;
			return 0;
		}
	}
	return LLMO_ENOTFOUND;
}

void llmo_binder_set_affinity_weight(struct llmo_binder *b, double weight)
{
	b->affinity_weight = weight > 0 ? weight : 0;
}

void llmo_binder_set_performance_weight(struct llmo_binder *b, double weight)
{
	b->performance_weight = weight > 0 ? weight : 0;
}

void llmo_binder_set_node_affinity_weight(struct llmo_binder *b, double weight)
{
	b->node_affinity_weight = weight > 0 ? weight : 0;
}

void llmo_binder_set_pod_affinity_weight(struct llmo_binder *b, double weight)
{
	b->pod_affinity_weight = weight > 0 ? weight : 0;
}

void llmo_binder_set_spread_weight(struct llmo_binder *b, double weight)
{
	b->spread_weight = weight > 0 ? weight : 0;
}

int llmo_binder_set_parallelism(struct llmo_binder *b, int threads)
{
	struct llmo_sched_pool *pool = NULL;
	int rc;

	if (threads == 0)
		threads = llmo_sched_pool_default_threads();
	if (threads < 1 || threads > LLMO_SCHED_POOL_MAX)
		return LLMO_EINVAL;
	if (threads > 1 && (rc = llmo_sched_pool_new(threads, &pool)) != 0)
		return rc;
	llmo_sched_pool_free(b->pool);
	b->pool = pool;
	return 0;
}

size_t llmo_binder_evicted_count(const struct llmo_binder *b)
{
	return b->evicted;
}

int llmo_binder_configure(struct llmo_binder *b, const struct llmo_scheduler_config *sc,
			  struct llmo_error *err)
{
	int rc;

	llmo_binder_set_overcommit(b, sc->resource_overcommit_ratio);
	llmo_binder_set_affinity_weight(b, sc->locality_preference ? sc->model_affinity_weight : 0);
	/* strategy 1 is performance-aware (src/api/config.c) */
	llmo_binder_set_performance_weight(b, sc->strategy == 1 ? sc->performance_weight : 0);
	llmo_binder_set_node_affinity_weight(b, sc->node_affinity_weight);
	llmo_binder_set_pod_affinity_weight(b, sc->pod_affinity_weight);
	llmo_binder_set_spread_weight(b, sc->topology_spread_weight);
	rc = llmo_binder_set_parallelism(b, sc->parallelism);
	if (rc)
		return llmo_error_set(err, rc, "scheduler.parallelism %d: cannot start its threads (%s)",
				      sc->parallelism, llmo_strerror(rc));
	for (size_t i = 0; i < sc->qos_classes.len; i++) {
		const struct llmo_qos_class *q = &sc->qos_classes.items[i];

		rc = llmo_binder_add_qos_class(b, q->key, q->priority, q->preemption_policy);
		if (!rc)
			rc = llmo_binder_set_qos_latency(b, q->key, q->max_latency_ms);
		if (!rc)
			rc = llmo_binder_set_qos_guarantee(b, q->key, q->resource_guarantee);

		if (rc)
			return llmo_error_set(err, rc, "scheduler.qosClasses.%s: cannot be used (%s)",
					      q->key ? q->key : "", llmo_strerror(rc));
	}
	return 0;
}

static void started_leading(void *ctx)
{
	struct llmo_binder *b = ctx;

	llmo_log(LLMO_LOG_INFO, LOG_COMPONENT, "leading", "lease=%s", LLMO_BINDER_LEASE_NAME);
	b->leading = true;
	requeue_all(b);
}

static void stopped_leading(void *ctx)
{
	struct llmo_binder *b = ctx;

	llmo_log(LLMO_LOG_INFO, LOG_COMPONENT, "stopped leading", "lease=%s",
		 LLMO_BINDER_LEASE_NAME);
	b->leading = false;
}

int llmo_binder_set_leader_election(struct llmo_binder *b, const char *ns, const char *identity,
				    long lease_duration_ms, long renew_deadline_ms,
				    long retry_period_ms, struct llmo_error *err)
{
	char id[LLMO_LEADER_IDENTITY_MAX + 1], host[128];
	struct llmo_leader_config lc = {
		.ns = ns,
		.name = LLMO_BINDER_LEASE_NAME,
		.lease_duration_ms = lease_duration_ms,
		.renew_deadline_ms = renew_deadline_ms,
		.retry_period_ms = retry_period_ms,
		.started_leading = started_leading,
		.stopped_leading = stopped_leading,
		.ctx = b,
	};

	if (b->started || b->leader)
		return llmo_error_set(err, LLMO_EINVAL, "binder: leader election set too late");
	if (!identity || !*identity) {
		if (gethostname(host, sizeof(host)) != 0)
			snprintf(host, sizeof(host), "scheduler");
		host[sizeof(host) - 1] = '\0';
		snprintf(id, sizeof(id), "%s_%ld", host, (long)getpid());
		identity = id;
	}
	lc.identity = identity;
	return llmo_leader_new(b->client, b->base, &lc, &b->leader, err);
}

bool llmo_binder_is_leader(const struct llmo_binder *b)
{
	return !b->leader || b->leading;
}
