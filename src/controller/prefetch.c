/*
 * Model prefetch ahead of a scale-up; see prefetch.h.
 */
#include "base/common.h"

#include "base/buf.h"
#include "base/log.h"
#include "base/quantity.h"
#include "controller/controller_int.h"
#include "controller/prefetch.h"
#include "registry/fetch.h"
#include "scheduler/binder.h"
#include "scheduler/filter.h"

#include "base/banned.h"

/* Longest list of node names put in one Event. */
#define NAMES_MAX 512

/* What the controller remembers per workload: how many nodes it asked last. */
struct pf_mem {
	int asked;
};

void llmo__prefetch_release_all(struct llmo_controller *c)
{
	llmo_hmap_release(&c->prefetches, free);
}

/* The node's prefetch requests (new reference): {} when it has none or they cannot be read. */
static json_t *requests_of(const json_t *node)
{
	const char *text = llmo_kube_annotation(node, LLMO_ANNOTATION_PREFETCH);
	json_t *j = text && strlen(text) <= LLMO_PREFETCH_ANNOTATION_MAX ? json_loads(text, 0, NULL)
									  : NULL;

	if (json_is_object(j))
		return j;
	json_decref(j);
	return json_object();
}

/* Whether the node's cached-models annotation lists the model manifest digest. */
static bool node_holds(const json_t *node, const char *digest)
{
	const char *text = llmo_kube_annotation(node, LLMO_ANNOTATION_CACHED_MODELS);
	json_t *doc, *m;
	bool found = false;
	size_t i;

	if (!text || strlen(text) > LLMO_SCHED_CACHED_MODELS_MAX)
		return false;
	doc = json_loads(text, 0, NULL);
	json_array_foreach(json_object_get(doc, "models"), i, m) {
		const char *d = json_string_value(json_object_get(m, "digest"));

		if (d && strcmp(d, digest) == 0)
			found = true;
	}
	json_decref(doc);
	return found;
}

/* GPUs the pod template requests (whole GPUs, rounded up; 0: none). */
static int64_t gpus_of(const json_t *tmpl)
{
	const json_t *ctr = json_array_get(json_object_get(json_object_get(tmpl, "spec"),
							   "containers"), 0);
	const char *q;
	int64_t milli = 0;

	q = json_string_value(json_object_get(
		json_object_get(json_object_get(ctr, "resources"), "requests"), "nvidia.com/gpu"));
	if (!q || llmo_quantity_parse(q, &milli, NULL))
		return 0;
	return (milli + 999) / 1000;
}

/*
 * Whether a replica of tmpl could land on node as far as the Node says:
 * Ready, schedulable, selected, its taints tolerated, and for a GPU replica
 * enough allocatable GPUs of the asked type. What other pods use is not
 * counted: a node asked to prefetch and then filled costs a download, no more.
 */
static bool node_fits(const json_t *tmpl, const json_t *node, int64_t gpus)
{
	const json_t *unsched = json_object_get(json_object_get(node, "spec"), "unschedulable");
	const char *alloc = json_string_value(json_object_get(
		json_object_get(json_object_get(node, "status"), "allocatable"), "nvidia.com/gpu"));
	int64_t have = 0;

	if (!llmo_kube_condition_true(node, "Ready") || json_is_true(unsched) ||
	    !llmo_sched_node_selected(tmpl, node) || llmo_sched_untolerated_taint(tmpl, node))
		return false;
	if (gpus <= 0)
		return true;
	if (!alloc || llmo_quantity_parse(alloc, &have, NULL) || have / 1000 < gpus)
		return false;
	return llmo_binder_gpu_type_accepts(tmpl, node);
}

/* The node of a live replica (not being deleted, not finished), or NULL. */
static const char *live_node(const json_t *pod)
{
	const char *node = llmo_kube_str(pod, "spec", "nodeName");
	const char *phase = llmo_kube_str(pod, "status", "phase");

	if (!node || !*node || json_object_get(json_object_get(pod, "metadata"), "deletionTimestamp") ||
	    (phase && (strcmp(phase, "Failed") == 0 || strcmp(phase, "Succeeded") == 0)))
		return NULL;
	return node;
}

/* Whether a live replica of the workload runs on node. */
static bool hosts_replica(const struct llmo__prefetch_in *in, const char *node)
{
	for (size_t i = 0; i < in->npods; i++) {
		const char *n = live_node(in->pods[i]);

		if (n && strcmp(n, node) == 0)
			return true;
	}
	return false;
}

/* Live replicas that have a node. */
static int32_t placed(const struct llmo__prefetch_in *in)
{
	int32_t n = 0;

	for (size_t i = 0; i < in->npods; i++)
		n += live_node(in->pods[i]) != NULL;
	return n;
}

/* Sets (ref) or removes (ref NULL) the workload's entry on the node; 1 when it wrote. */
static int write_entry(struct llmo_controller *c, const json_t *node, const char *key,
		       const char *ref)
{
	struct llmo_error err = {0};
	const char *name = llmo_kube_str(node, "metadata", "name");
	json_t *req = requests_of(node), *patch = NULL;
	const char *cur = json_string_value(json_object_get(req, key));
	char *text = NULL;
	int rc = 0;

	if ((!ref && !json_object_get(req, key)) || (ref && cur && strcmp(cur, ref) == 0))
		goto out; /* as wanted */
	if (ref && !cur && json_object_size(req) >= LLMO_PREFETCH_ENTRIES_MAX)
		goto out; /* the node is asked enough already */
	if (ref)
		json_object_set_new(req, key, json_string(ref));
	else
		json_object_del(req, key);
	if (json_object_size(req)) {
		text = json_dumps(req, JSON_COMPACT | JSON_SORT_KEYS);
		if (!text || strlen(text) > LLMO_PREFETCH_ANNOTATION_MAX)
			goto out;
		patch = json_pack("{s:{s:{s:s}}}", "metadata", "annotations",
				  LLMO_ANNOTATION_PREFETCH, text);
	} else {
		patch = json_pack("{s:{s:{s:n}}}", "metadata", "annotations",
				  LLMO_ANNOTATION_PREFETCH);
	}
	if (!patch) {
		rc = LLMO_ENOMEM;
		goto out;
	}
	rc = llmo_kube_patch(c->client, &llmo_kube_nodes, NULL, name, NULL, LLMO_KUBE_PATCH_MERGE,
			     patch, NULL, &err);
	if (rc) {
		llmo_log(LLMO_LOG_WARN, LLMO__CTRL_LOG, "prefetch request write failed",
			 "node=%s workload=%s error=\"%s\"", name, key, err.msg);
		rc = rc == LLMO_ENOTFOUND ? 0 : rc;
		goto out;
	}
	rc = 1;
out:
	free(text);
	json_decref(patch);
	json_decref(req);
	return rc;
}

static void add_name(struct llmo_buf *b, const char *name)
{
	if (b->len)
		llmo_buf_puts(b, ", ");
	llmo_buf_puts(b, name);
}

/* The workload's memory, made on first use; NULL when out of memory. */
static struct pf_mem *mem_of(struct llmo_controller *c, const char *key, bool *fresh)
{
	struct pf_mem *m = llmo_hmap_get(&c->prefetches, key);

	*fresh = false;
	if (m)
		return m;
	m = calloc(1, sizeof(*m));
	if (!m || llmo_hmap_put(&c->prefetches, key, m, NULL)) {
		free(m);
		return NULL;
	}
	*fresh = true;
	return m;
}

/* What one sync decides for one node. */
enum { KEEP = 1, ASK = 2 };

/*
 * Which nodes get the request (marks: KEEP or ASK per node of items): the
 * nodes asked before for this model keep it, then new ones in list (name)
 * order, need in all. Returns how many.
 */
static int choose(const struct llmo__prefetch_in *in, const json_t *items, const char *ref,
		  const char *digest, int64_t gpus, int32_t need, unsigned char *marks)
{
	const json_t *node;
	int n = 0;
	size_t i;

	for (int pass = 0; pass < 2; pass++) {
		json_array_foreach(items, i, node) {
			json_t *req;
			bool mine;

			if (n >= need || marks[i] || node_holds(node, digest) ||
			    !node_fits(in->tmpl, node, gpus))
				continue;
			req = requests_of(node);
			mine = json_string_value(json_object_get(req, in->key)) &&
			       strcmp(json_string_value(json_object_get(req, in->key)), ref) == 0;
			json_decref(req);
			if (pass == 0 && mine)
				marks[i] = KEEP;
			else if (pass == 1)
				marks[i] = ASK;
			else
				continue;
			n++;
		}
	}
	return n;
}

int llmo__prefetch_sync(struct llmo_controller *c, const struct llmo__prefetch_in *in)
{
	const char *ref = in->tmpl ? llmo_kube_annotation(in->tmpl, LLMO_ANNOTATION_MODEL_ARTIFACT) : NULL;
	const char *digest = ref ? strchr(ref, '@') : NULL;
	int64_t gpus = in->tmpl ? gpus_of(in->tmpl) : 0;
	int32_t have = placed(in), need = 0, idle_cached = 0;
	struct llmo_buf asked, done;
	struct llmo_error err = {0};
	json_t *list = NULL, *items, *node;
	unsigned char *marks = NULL;
	struct pf_mem *m;
	int rc = 0, nasked = 0;
	bool fresh;
	size_t i;

	if (digest)
		digest++;
	if (!(m = mem_of(c, in->key, &fresh)))
		return LLMO_ENOMEM;
	if (digest && in->want > have)
		need = in->want - have;
	if (!need && !m->asked && !fresh)
		return 0; /* nothing to ask, nothing asked: no need to list the Nodes */
	rc = llmo_kube_list(c->client, &llmo_kube_nodes, NULL, NULL, &list, &err);
	if (rc) {
		llmo_log(LLMO_LOG_WARN, LLMO__CTRL_LOG, "prefetch: node list failed",
			 "workload=%s error=\"%s\"", in->key, err.msg);
		return rc;
	}
	items = json_object_get(list, "items");
	llmo_buf_init(&asked, NAMES_MAX);
	llmo_buf_init(&done, NAMES_MAX);
	marks = calloc(json_array_size(items) + 1, 1);
	if (!marks) {
		rc = LLMO_ENOMEM;
		goto out;
	}
	/* nodes that hold the model and host no replica yet take the next ones */
	json_array_foreach(items, i, node) {
		if (need && node_holds(node, digest) && node_fits(in->tmpl, node, gpus) &&
		    !hosts_replica(in, llmo_kube_str(node, "metadata", "name")))
			idle_cached++;
	}
	need = need > idle_cached ? need - idle_cached : 0;
	if (need > LLMO_PREFETCH_NODES_MAX)
		need = LLMO_PREFETCH_NODES_MAX;
	if (need)
		nasked = choose(in, items, ref, digest, gpus, need, marks);
	json_array_foreach(items, i, node) {
		const char *name = llmo_kube_str(node, "metadata", "name");
		int w = write_entry(c, node, in->key, marks[i] ? ref : NULL);

		if (w < 0) {
			rc = w;
			break;
		}
		if (w > 0 && marks[i] == ASK) {
			c->counters.prefetches++;
			add_name(&asked, name);
		} else if (w > 0 && !marks[i] && digest && node_holds(node, digest)) {
			c->counters.prefetched++;
			add_name(&done, name);
		}
	}
	m->asked = nasked;
	if (asked.len || done.len) {
		json_t *obj = in->w ? llmo__obj_ref(in->w, "llm.orchestrator.io/v1", "LLMWorkload")
				  : NULL;

		if (asked.len) {
			llmo_log(LLMO_LOG_INFO, LLMO__CTRL_LOG, "prefetch asked",
				 "workload=%s model=%s nodes=\"%s\" want=%" PRId32
				 " placed=%" PRId32,
				 in->key, ref, asked.data, in->want, have);
			if (obj)
				llmo_kube_event(c->rec, obj, "Normal", "Prefetching",
						"Asked node(s) %s to fetch %s ahead of a scale-up "
						"(%" PRId32 " replicas wanted, %" PRId32 " placed)",
						asked.data, ref, in->want, have);
		}
		if (done.len && obj)
			llmo_kube_event(c->rec, obj, "Normal", "Prefetched",
					"Model %s is in the cache of node(s) %s", ref, done.data);
		json_decref(obj);
	}
out:
	free(marks);
	llmo_buf_release(&asked);
	llmo_buf_release(&done);
	json_decref(list);
	return rc;
}

void llmo__prefetch_forget(struct llmo_controller *c, const char *key)
{
	void *old = NULL;

	if (llmo_hmap_del(&c->prefetches, key, &old) == 0)
		free(old);
}

int llmo__prefetch_clear(struct llmo_controller *c, const char *key)
{
	struct llmo__prefetch_in in = {.key = key};

	/* the memory stays until the workload is gone: a finalizing one is cleared once */
	return llmo__prefetch_sync(c, &in);
}
