#include "base/common.h"

#include "base/hmap.h"
#include "scheduler/frag.h"

void llmo_sched_workload_opts_paper(struct llmo_sched_workload_opts *o)
{
	o->coverage = 0.95;
	o->with_cpu_tasks = true;
	o->with_memory = false;
}

void llmo_sched_workload_init(struct llmo_sched_workload *w)
{
	memset(w, 0, sizeof(*w));
}

void llmo_sched_workload_release(struct llmo_sched_workload *w)
{
	llmo_vec_release(&w->types);
}

/* Most tasks first; equal counts in a fixed order so that the cut is reproducible. */
static int type_cmp(const void *a, const void *b)
{
	const struct llmo_sched_task_type *x = a, *y = b;

	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	if (x->shape.cpu != y->shape.cpu)
		return x->shape.cpu > y->shape.cpu ? -1 : 1;
	if (x->shape.gpu_milli != y->shape.gpu_milli)
		return x->shape.gpu_milli > y->shape.gpu_milli ? -1 : 1;
	if (x->shape.num_gpu != y->shape.num_gpu)
		return x->shape.num_gpu > y->shape.num_gpu ? -1 : 1;
	if (x->shape.models != y->shape.models)
		return x->shape.models > y->shape.models ? -1 : 1;
	if (x->shape.mem != y->shape.mem)
		return x->shape.mem > y->shape.mem ? -1 : 1;
	return 0;
}

int llmo_sched_workload_build(struct llmo_sched_workload *w, const struct llmo_sched_pod *pods,
			      size_t npods, const struct llmo_sched_workload_opts *o,
			      struct llmo_error *err)
{
	struct llmo_hmap index;
	uint64_t total = 0, kept = 0;
	double gpu = 0, cpu = 0, mem = 0;
	size_t cut;
	int rc = 0;

	llmo_hmap_init(&index);
	if (!(o->coverage > 0 && o->coverage <= 1)) {
		rc = llmo_error_set(err, LLMO_EINVAL, "coverage %g: want (0, 1]", o->coverage);
		goto out;
	}
	for (size_t i = 0; i < npods; i++) {
		struct llmo_sched_pod shape = pods[i];
		struct llmo_sched_task_type *t;
		char key[128];
		void *slot;

		if (shape.num_gpu > 0) {
			gpu += (double)llmo_sched_pod_gpu_total(&shape);
			cpu += (double)shape.cpu;
			mem += (double)shape.mem;
		}
		if (shape.num_gpu == 0 && !o->with_cpu_tasks)
			continue;
		if (!o->with_memory)
			shape.mem = 0;
		if (shape.num_gpu == 0)
			shape.models = LLMO_SCHED_MODELS_ANY;
		snprintf(key, sizeof(key), "%" PRId64 "/%" PRId64 "/%d/%d/%" PRIx64, shape.cpu,
			 shape.mem, shape.num_gpu, shape.gpu_milli, shape.models);
		slot = llmo_hmap_get(&index, key);
		if (slot) {
			w->types.items[(uintptr_t)slot - 1].count++;
		} else {
			t = llmo_vec_push(&w->types);
			if (!t || llmo_hmap_put(&index, key, (void *)(uintptr_t)w->types.len, NULL)) {
				rc = llmo_error_set(err, LLMO_ENOMEM, "out of memory");
				goto out;
			}
			t->shape = shape;
			t->count = 1;
		}
		total++;
	}
	if (total == 0) {
		rc = llmo_error_set(err, LLMO_EINVAL, "no tasks to build a workload from");
		goto out;
	}
	qsort(w->types.items, w->types.len, sizeof(w->types.items[0]), type_cmp);
	/* Keep types until they cover the share asked for (as the paper's simulator does). */
	for (cut = 0; cut < w->types.len && (double)kept < o->coverage * (double)total; cut++)
		kept += w->types.items[cut].count;
	if (cut > LLMO_SCHED_TYPES_MAX) {
		cut = LLMO_SCHED_TYPES_MAX;
		kept = 0;
		for (size_t i = 0; i < cut; i++)
			kept += w->types.items[i].count;
	}
	w->types.len = cut;
	w->cpu_per_gpu = gpu > 0 ? cpu / gpu : 0;
	w->mem_per_gpu = gpu > 0 ? mem / gpu : 0;
	for (size_t i = 0; i < cut; i++)
		w->types.items[i].popularity = (double)w->types.items[i].count / (double)kept;
out:
	if (rc)
		llmo_vec_release(&w->types);
	llmo_hmap_release(&index, NULL);
	return rc;
}

int llmo_sched_frag_task(const struct llmo_sched_node *node, const struct llmo_sched_pod *m)
{
	int usable = 0, frag = 0;

	if (m->num_gpu == 0 || !llmo_sched_node_accepts(node, m) || node->cpu_left < m->cpu ||
	    node->mem_left < m->mem)
		return node->gpu_left_total;
	for (int g = 0; g < node->ngpus; g++) {
		if (node->gpu_left[g] >= m->gpu_milli)
			usable++;
		else
			frag += node->gpu_left[g];
	}
	return usable >= m->num_gpu ? frag : node->gpu_left_total;
}

double llmo_sched_frag_node(const struct llmo_sched_node *node, const struct llmo_sched_workload *w)
{
	double f = 0;

	if (node->gpu_left_total == 0)
		return 0;
	for (size_t i = 0; i < w->types.len; i++)
		f += w->types.items[i].popularity *
		     llmo_sched_frag_task(node, &w->types.items[i].shape);
	return f;
}

double llmo_sched_frag_cluster(const struct llmo_sched_cluster *c, const struct llmo_sched_workload *w)
{
	double f = 0;

	for (size_t i = 0; i < c->nodes.len; i++)
		f += llmo_sched_frag_node(&c->nodes.items[i], w);
	return f;
}
