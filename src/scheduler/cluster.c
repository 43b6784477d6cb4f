#include "base/common.h"

#include "base/str.h"
#include "scheduler/cluster.h"

void llmo_sched_cluster_init(struct llmo_sched_cluster *c)
{
	memset(c, 0, sizeof(*c));
}

void llmo_sched_cluster_release(struct llmo_sched_cluster *c)
{
	for (size_t i = 0; i < c->nodes.len; i++)
		free(c->nodes.items[i].name);
	llmo_vec_release(&c->nodes);
	for (size_t i = 0; i < c->nmodels; i++)
		free(c->models[i]);
	llmo_sched_cluster_init(c);
}

static bool model_name_ok(const char *s, size_t len)
{
	if (len == 0 || len > LLMO_SCHED_MODEL_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.'))
			return false;
	}
	return true;
}

static int model_find(const struct llmo_sched_cluster *c, const char *name, size_t len)
{
	for (size_t i = 0; i < c->nmodels; i++)
		if (strlen(c->models[i]) == len && memcmp(c->models[i], name, len) == 0)
			return (int)i;
	return -1;
}

int llmo_sched_cluster_model(struct llmo_sched_cluster *c, const char *name, bool add,
			     int *idx, struct llmo_error *err)
{
	char q[LLMO_STR_QUOTE_SIZE(LLMO_SCHED_MODEL_NAME_MAX)];
	size_t len = strlen(name);
	int i;

	if (!model_name_ok(name, len))
		return llmo_error_set(err, LLMO_EINVAL,
				      "GPU model %s: want 1 to %d letters, digits, '-', '_' or '.'",
				      llmo_str_quote(q, name, len, LLMO_SCHED_MODEL_NAME_MAX),
				      LLMO_SCHED_MODEL_NAME_MAX);
	i = model_find(c, name, len);
	if (i >= 0) {
		*idx = i;
		return 0;
	}
	if (!add)
		return llmo_error_set(err, LLMO_ENOTFOUND, "GPU model \"%s\": no node has it", name);
	if (c->nmodels == LLMO_SCHED_MODELS_MAX)
		return llmo_error_set(err, LLMO_ETOOBIG, "more than %d GPU models",
				      LLMO_SCHED_MODELS_MAX);
	c->models[c->nmodels] = llmo_strdup(name);
	if (!c->models[c->nmodels])
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	*idx = (int)c->nmodels++;
	return 0;
}

int llmo_sched_cluster_add_node(struct llmo_sched_cluster *c, const char *name, int64_t cpu,
				int64_t mem, int ngpus, const char *model,
				struct llmo_error *err)
{
	struct llmo_sched_node *n;
	int midx = -1;
	char *copy;
	int rc;

	if (cpu < 0 || mem < 0)
		return llmo_error_set(err, LLMO_EINVAL, "node %s: negative CPU or memory", name);
	if (ngpus < 0 || ngpus > LLMO_SCHED_NODE_GPUS_MAX)
		return llmo_error_set(err, LLMO_EINVAL, "node %s: %d GPUs, at most %d", name,
				      ngpus, LLMO_SCHED_NODE_GPUS_MAX);
	if (ngpus > 0) {
		if (!model || !*model)
			return llmo_error_set(err, LLMO_EINVAL, "node %s: GPUs without a model",
					      name);
		rc = llmo_sched_cluster_model(c, model, true, &midx, err);
		if (rc)
			return rc;
	}
	copy = llmo_strdup(name);
	if (!copy)
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	n = llmo_vec_push(&c->nodes);
	if (!n) {
		free(copy);
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	}
	n->name = copy;
	n->cpu_cap = n->cpu_left = cpu;
	n->mem_cap = n->mem_left = mem;
	n->ngpus = ngpus;
	n->model = midx;
	for (int g = 0; g < ngpus; g++)
		n->gpu_left[g] = LLMO_SCHED_MILLI;
	n->gpu_left_total = ngpus * LLMO_SCHED_MILLI;
	n->gpu_free = ngpus;
	n->version = ++c->clock;
	c->gpu_cap_total += (int64_t)ngpus * LLMO_SCHED_MILLI;
	c->gpu_left_total += (int64_t)ngpus * LLMO_SCHED_MILLI;
	return 0;
}

int llmo_sched_cluster_take_used(struct llmo_sched_cluster *c, size_t i, int64_t cpu,
				 int64_t mem, const int64_t *gpu_used, int ngpus,
				 const uint32_t *tags, struct llmo_error *err)
{
	struct llmo_sched_node *n;

	if (i >= c->nodes.len)
		return llmo_error_set(err, LLMO_EINVAL, "node %zu out of range", i);
	n = &c->nodes.items[i];
	if (cpu < 0 || mem < 0)
		return llmo_error_set(err, LLMO_EINVAL, "node %s: negative CPU or memory used",
				      n->name);
	if (ngpus != n->ngpus)
		return llmo_error_set(err, LLMO_EINVAL, "node %s: %d GPUs used, it has %d",
				      n->name, ngpus, n->ngpus);
	for (int g = 0; g < ngpus; g++)
		if (gpu_used[g] < 0)
			return llmo_error_set(err, LLMO_EINVAL, "node %s: GPU %d negative use",
					      n->name, g);
	n->cpu_left = cpu < n->cpu_left ? n->cpu_left - cpu : 0;
	n->mem_left = mem < n->mem_left ? n->mem_left - mem : 0;
	for (int g = 0; g < ngpus; g++) {
		int take = gpu_used[g] < n->gpu_left[g] ? (int)gpu_used[g] : n->gpu_left[g];

		if (take > 0 && n->gpu_left[g] == LLMO_SCHED_MILLI)
			n->gpu_free--;
		n->gpu_left[g] -= take;
		n->gpu_left_total -= take;
		c->gpu_left_total -= take;
	}
	for (int t = 0; tags && t < LLMO_SCHED_TAGS; t++)
		n->tags[t] = tags[t] > UINT32_MAX - n->tags[t] ? UINT32_MAX : n->tags[t] + tags[t];
	n->version = ++c->clock;
	return 0;
}

int llmo_sched_cluster_parse_models(const struct llmo_sched_cluster *c, const char *spec,
				    uint64_t *models, struct llmo_error *err)
{
	char q[LLMO_STR_QUOTE_SIZE(LLMO_SCHED_MODEL_NAME_MAX)];
	uint64_t mask = 0;
	const char *p = spec;
	int count = 0;

	if (!*spec) {
		*models = LLMO_SCHED_MODELS_ANY;
		return 0;
	}
	for (;;) {
		const char *bar = strchr(p, '|');
		size_t len = bar ? (size_t)(bar - p) : strlen(p);
		int i;

		if (!model_name_ok(p, len))
			return llmo_error_set(err, LLMO_EINVAL,
					      "GPU model %s: want 1 to %d letters, digits, '-', '_' or '.'",
					      llmo_str_quote(q, p, len, LLMO_SCHED_MODEL_NAME_MAX),
					      LLMO_SCHED_MODEL_NAME_MAX);
		if (++count > LLMO_SCHED_SPEC_MODELS_MAX)
			return llmo_error_set(err, LLMO_EINVAL, "more than %d GPU models",
					      LLMO_SCHED_SPEC_MODELS_MAX);
		i = model_find(c, p, len);
		if (i >= 0)
			mask |= UINT64_C(1) << i;
		if (!bar)
			break;
		p = bar + 1;
	}
	*models = mask;
	return 0;
}

int llmo_sched_pod_check(const struct llmo_sched_pod *pod, struct llmo_error *err)
{
	if (pod->cpu < 0 || pod->mem < 0)
		return llmo_error_set(err, LLMO_EINVAL, "negative CPU or memory request");
	if (pod->num_gpu < 0 || pod->num_gpu > LLMO_SCHED_POD_GPUS_MAX)
		return llmo_error_set(err, LLMO_EINVAL, "num_gpu %d: want 0 to %d", pod->num_gpu,
				      LLMO_SCHED_POD_GPUS_MAX);
	if (pod->num_gpu == 0 && pod->gpu_milli != 0)
		return llmo_error_set(err, LLMO_EINVAL, "gpu_milli %d without GPUs: want 0",
				      pod->gpu_milli);
	if (pod->num_gpu == 1 && (pod->gpu_milli < 1 || pod->gpu_milli > LLMO_SCHED_MILLI))
		return llmo_error_set(err, LLMO_EINVAL, "gpu_milli %d: want 1 to %d",
				      pod->gpu_milli, LLMO_SCHED_MILLI);
	if (pod->num_gpu > 1 && pod->gpu_milli != LLMO_SCHED_MILLI)
		return llmo_error_set(err, LLMO_EINVAL,
				      "gpu_milli %d with %d GPUs: several GPUs are whole (%d)",
				      pod->gpu_milli, pod->num_gpu, LLMO_SCHED_MILLI);
	return 0;
}

bool llmo_sched_pod_is_sharing(const struct llmo_sched_pod *pod)
{
	return pod->num_gpu == 1 && pod->gpu_milli < LLMO_SCHED_MILLI;
}

int64_t llmo_sched_pod_gpu_total(const struct llmo_sched_pod *pod)
{
	return (int64_t)pod->num_gpu * pod->gpu_milli;
}

int llmo_sched_pod_tag(const struct llmo_sched_pod *pod)
{
	if (pod->num_gpu == 0)
		return -1;
	return llmo_sched_pod_is_sharing(pod) ? 0 : pod->num_gpu;
}

bool llmo_sched_node_accepts(const struct llmo_sched_node *node, const struct llmo_sched_pod *pod)
{
	if (pod->num_gpu == 0 || pod->models == LLMO_SCHED_MODELS_ANY)
		return true;
	return node->model >= 0 && (pod->models >> node->model) & 1;
}

int llmo_sched_node_gpus_with(const struct llmo_sched_node *node, int milli)
{
	int n = 0;

	for (int g = 0; g < node->ngpus; g++)
		n += node->gpu_left[g] >= milli;
	return n;
}

bool llmo_sched_node_fits(const struct llmo_sched_node *node, const struct llmo_sched_pod *pod)
{
	if (node->cpu_left < pod->cpu || node->mem_left < pod->mem)
		return false;
	if (pod->num_gpu == 0)
		return true;
	if (!llmo_sched_node_accepts(node, pod))
		return false;
	if (pod->gpu_milli == LLMO_SCHED_MILLI)
		return node->gpu_free >= pod->num_gpu;
	return llmo_sched_node_gpus_with(node, pod->gpu_milli) >= 1;
}

bool llmo_sched_placement_valid(const struct llmo_sched_cluster *c, const struct llmo_sched_pod *pod,
				const struct llmo_sched_placement *p)
{
	const struct llmo_sched_node *n;
	uint32_t seen = 0;

	if (p->node >= c->nodes.len || p->ngpus != pod->num_gpu)
		return false;
	n = &c->nodes.items[p->node];
	if (!llmo_sched_node_fits(n, pod))
		return false;
	for (int i = 0; i < p->ngpus; i++) {
		int g = p->gpus[i];

		if (g >= n->ngpus || (seen >> g) & 1 || n->gpu_left[g] < pod->gpu_milli)
			return false;
		seen |= UINT32_C(1) << g;
	}
	return true;
}

void llmo_sched_node_take(struct llmo_sched_node *node, const struct llmo_sched_pod *pod,
			  const uint8_t *gpus, int ngpus)
{
	int tag = llmo_sched_pod_tag(pod);

	node->cpu_left -= pod->cpu;
	node->mem_left -= pod->mem;
	for (int i = 0; i < ngpus; i++) {
		int g = gpus[i];

		if (node->gpu_left[g] == LLMO_SCHED_MILLI)
			node->gpu_free--;
		node->gpu_left[g] -= pod->gpu_milli;
		node->gpu_left_total -= pod->gpu_milli;
	}
	if (tag >= 0)
		node->tags[tag]++;
}

int llmo_sched_cluster_apply(struct llmo_sched_cluster *c, const struct llmo_sched_pod *pod,
			     const struct llmo_sched_placement *p, struct llmo_error *err)
{
	struct llmo_sched_node *n;

	if (!llmo_sched_placement_valid(c, pod, p))
		return llmo_error_set(err, LLMO_EINVAL, "placement on node %zu does not fit the pod",
				      p->node);
	n = &c->nodes.items[p->node];
	llmo_sched_node_take(n, pod, p->gpus, p->ngpus);
	n->version = ++c->clock;
	c->gpu_left_total -= llmo_sched_pod_gpu_total(pod);
	return 0;
}

int llmo_sched_cluster_undo(struct llmo_sched_cluster *c, const struct llmo_sched_pod *pod,
			    const struct llmo_sched_placement *p, struct llmo_error *err)
{
	struct llmo_sched_node *n;
	int tag = llmo_sched_pod_tag(pod);

	if (p->node >= c->nodes.len || p->ngpus != pod->num_gpu)
		goto bad;
	n = &c->nodes.items[p->node];
	if (n->cpu_left + pod->cpu > n->cpu_cap || n->mem_left + pod->mem > n->mem_cap)
		goto bad;
	if (tag >= 0 && n->tags[tag] == 0)
		goto bad;
	for (int i = 0; i < p->ngpus; i++) {
		int g = p->gpus[i];

		if (g >= n->ngpus || n->gpu_left[g] + pod->gpu_milli > LLMO_SCHED_MILLI)
			goto bad;
		for (int j = 0; j < i; j++)
			if (p->gpus[j] == g)
				goto bad;
	}
	n->cpu_left += pod->cpu;
	n->mem_left += pod->mem;
	for (int i = 0; i < p->ngpus; i++) {
		int g = p->gpus[i];

		n->gpu_left[g] += pod->gpu_milli;
		n->gpu_left_total += pod->gpu_milli;
		if (n->gpu_left[g] == LLMO_SCHED_MILLI)
			n->gpu_free++;
	}
	if (tag >= 0)
		n->tags[tag]--;
	n->version = ++c->clock;
	c->gpu_left_total += llmo_sched_pod_gpu_total(pod);
	return 0;
bad:
	return llmo_error_set(err, LLMO_EINVAL,
			      "undo on node %zu gives back more than the pod could have taken",
			      p->node);
}
