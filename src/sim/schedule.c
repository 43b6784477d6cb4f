#include "base/common.h"

#include "base/clock.h"
#include "base/hmap.h"
#include "scheduler/cluster.h"
#include "scheduler/frag.h"
#include "scheduler/policy.h"
#include "base/rng.h"
#include "sim/schedule.h"

/* Mixed into the seed for the policy's stream, so that it differs from the trace's. */
#define POLICY_STREAM UINT64_C(0x6c6c6d6f2d736368)

void llmo_sim_schedule_opts_init(struct llmo_sim_schedule_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->policy = LLMO_SCHED_LLMO;
	o->seed = 42;
	o->inflate = 1.3;
}

/* Everything one run owns. */
struct run {
	struct llmo_sched_cluster cluster;
	struct llmo_sched_pod *pods; /* the trace's pods, as the scheduler sees them */
	long *cls;                   /* each trace pod's class (equal requests) */
	size_t nclasses;
	uint32_t *order;             /* replay order: indices into pods */
	size_t norder;
	/* The trace's task types: what fragmentation is measured and scored against. */
	struct llmo_sched_workload workload;
	struct llmo_sched_policy policy;
	struct llmo_sched_pool *pool; /* the policy's threads, or NULL (serial) */
	double *node_frag; /* per node, under workload */
};

static int build_cluster(struct run *r, const struct llmo_sim_trace *t,
			 const struct llmo_sim_schedule_opts *o, struct llmo_error *err)
{
	size_t n = o->synthetic_nodes ? o->synthetic_nodes : t->nodes.len;
	int rc;

	if (t->nodes.len == 0)
		return llmo_error_set(err, LLMO_EINVAL, "the node list has no nodes");
	if (n > LLMO_SIM_SCHEDULE_NODES_MAX)
		return llmo_error_set(err, LLMO_EINVAL, "%zu nodes, at most %d", n,
				      LLMO_SIM_SCHEDULE_NODES_MAX);
	if (llmo_vec_reserve(&r->cluster.nodes, n))
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		const struct llmo_sim_trace_node *tn = &t->nodes.items[i % t->nodes.len];
		char name[64];

		if (o->synthetic_nodes)
			snprintf(name, sizeof(name), "synthetic-%zu", i);
		rc = llmo_sched_cluster_add_node(&r->cluster, o->synthetic_nodes ? name : tn->name,
						 tn->cpu_milli, tn->memory_mib, tn->gpus,
						 tn->model, err);
		if (rc)
			return rc;
	}
	if (r->cluster.gpu_cap_total == 0)
		return llmo_error_set(err, LLMO_EINVAL, "the nodes have no GPUs");
	return 0;
}

/* Converts the trace's pods and numbers their classes (pods with equal requests). */
static int build_pods(struct run *r, const struct llmo_sim_trace *t, struct llmo_error *err)
{
	struct llmo_hmap classes;
	int rc = 0;

	llmo_hmap_init(&classes);
	if (t->pods.len == 0) {
		rc = llmo_error_set(err, LLMO_EINVAL, "the pod list has no pods");
		goto out;
	}
	r->pods = calloc(t->pods.len, sizeof(*r->pods));
	r->cls = calloc(t->pods.len, sizeof(*r->cls));
	if (!r->pods || !r->cls) {
		rc = llmo_error_set(err, LLMO_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < t->pods.len; i++) {
		const struct llmo_sim_trace_pod *tp = &t->pods.items[i];
		struct llmo_sched_pod *p = &r->pods[i];
		char key[128];
		void *v;

		p->cpu = tp->cpu_milli;
		p->mem = tp->memory_mib;
		p->num_gpu = tp->num_gpu;
		p->gpu_milli = tp->gpu_milli;
		rc = llmo_sched_cluster_parse_models(&r->cluster, tp->gpu_spec, &p->models, err);
		if (!rc)
			rc = llmo_sched_pod_check(p, err);
		if (rc) {
			llmo_error_prefix(err, "pod %zu: ", i + 1);
			goto out;
		}
		snprintf(key, sizeof(key), "%" PRId64 "/%" PRId64 "/%d/%d/%" PRIx64, p->cpu, p->mem,
			 p->num_gpu, p->gpu_milli, p->models);
		v = llmo_hmap_get(&classes, key);
		if (!v) {
			v = (void *)(uintptr_t)++r->nclasses;
			if (llmo_hmap_put(&classes, key, v, NULL)) {
				rc = llmo_error_set(err, LLMO_ENOMEM, "out of memory");
				goto out;
			}
		}
		r->cls[i] = (long)(uintptr_t)v - 1;
	}
out:
	llmo_hmap_release(&classes, NULL);
	return rc;
}

/* Steps 1 and 2 of the method: the shuffled trace, then clones up to inflate x capacity. */
static int build_order(struct run *r, size_t npods, const struct llmo_sim_schedule_opts *o,
		       struct llmo_error *err)
{
	double limit = o->inflate * (double)r->cluster.gpu_cap_total;
	int64_t requested = 0, trace_gpu = 0;
	struct llmo_rng rng;
	size_t cap;

	llmo_rng_seed(&rng, o->seed);
	if (npods > LLMO_SIM_SCHEDULE_PODS_MAX)
		return llmo_error_set(err, LLMO_ETOOBIG, "%zu pods, at most %d", npods,
				      LLMO_SIM_SCHEDULE_PODS_MAX);
	cap = npods * 2;
	r->order = malloc(cap * sizeof(*r->order));
	if (!r->order)
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	for (size_t i = 0; i < npods; i++) {
		r->order[i] = (uint32_t)i;
		trace_gpu += llmo_sched_pod_gpu_total(&r->pods[i]);
	}
	for (size_t i = npods; i > 1; i--) {
		size_t j = (size_t)llmo_rng_below(&rng, i);
		uint32_t tmp = r->order[i - 1];

		r->order[i - 1] = r->order[j];
		r->order[j] = tmp;
	}
	r->norder = npods;
	requested = trace_gpu;
	/* Pods without GPUs never stop the cloning: without any GPU pod, no clones. */
	while (trace_gpu > 0) {
		uint32_t k = (uint32_t)llmo_rng_below(&rng, npods);
		int64_t g = llmo_sched_pod_gpu_total(&r->pods[k]);

		if ((double)(requested + g) > limit)
			break;
		if (r->norder == LLMO_SIM_SCHEDULE_PODS_MAX)
			return llmo_error_set(err, LLMO_ETOOBIG,
					      "more than %d pods at inflate %g: lower --inflate",
					      LLMO_SIM_SCHEDULE_PODS_MAX, o->inflate);
		if (r->norder == cap) {
			uint32_t *bigger = realloc(r->order, cap * 2 * sizeof(*r->order));

			if (!bigger)
				return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
			r->order = bigger;
			cap *= 2;
		}
		r->order[r->norder++] = k;
		requested += g;
	}
	return 0;
}

static int build_workload(struct run *r, size_t npods, const struct llmo_sim_schedule_opts *o,
			  struct llmo_error *err)
{
	struct llmo_sched_workload_opts wo;
	int rc;

	if (o->parallelism < 0 || o->parallelism > LLMO_SCHED_POOL_MAX)
		return llmo_error_set(err, LLMO_EINVAL, "parallelism %d: want 0 to %d",
				      o->parallelism, LLMO_SCHED_POOL_MAX);
	llmo_sched_workload_opts_paper(&wo);
	rc = llmo_sched_workload_build(&r->workload, r->pods, npods, &wo, err);
	if (rc)
		return rc;
	int threads = o->parallelism ? o->parallelism : llmo_sched_pool_default_threads();

	rc = llmo_sched_policy_init(&r->policy, o->policy, &r->workload, err);
	if (rc)
		return rc;
	if (threads > 1 && r->cluster.nodes.len >= LLMO_SCHED_PARALLEL_MIN_NODES) {
		rc = llmo_sched_pool_new(threads, &r->pool);
		if (rc)
			return llmo_error_set(err, rc, "parallelism %d: %s", threads,
					      llmo_strerror(rc));
		llmo_sched_policy_set_pool(&r->policy, r->pool);
	}
	return llmo_sched_policy_enable_cache(&r->policy, r->nclasses, err);
}

static void checkpoint_take(struct llmo_sim_checkpoint *cp, const struct llmo_sim_point *pt)
{
	cp->reached = true;
	cp->arrived_pct = pt->arrived_pct;
	cp->unallocated_pct = 100 - pt->allocated_pct;
	cp->frag_pct = pt->frag_pct;
}

/* After a pod: the first pod at which arrived reaches pct% of cap takes the checkpoint. */
static void checkpoint(struct llmo_sim_checkpoint *cp, int pct, int64_t arrived, int64_t cap,
		       const struct llmo_sim_point *pt)
{
	if (!cp->reached && arrived * 100 >= (int64_t)pct * cap)
		checkpoint_take(cp, pt);
}

/* At the end: a checkpoint less than one point beyond the last pod counts that pod. */
static void checkpoint_end(struct llmo_sim_checkpoint *cp, int pct, const struct llmo_sim_point *pt)
{
	if (!cp->reached && pt->arrived_pct >= pct - 1.0)
		checkpoint_take(cp, pt);
}

static int replay(struct run *r, const struct llmo_sim_schedule_opts *o,
		  struct llmo_sim_schedule_result *res, struct llmo_error *err)
{
	struct llmo_sched_cluster *c = &r->cluster;
	int64_t cap = c->gpu_cap_total, arrived = 0, ns = 0;
	struct llmo_sim_point pt = {0};
	double frag_total = 0;
	struct llmo_rng rng;
	int rc;

	llmo_rng_seed(&rng, o->seed ^ POLICY_STREAM);
	rc = llmo_sched_policy_shuffle_ties(&r->policy, c->nodes.len, &rng);
	if (rc)
		return llmo_error_set(err, rc, "tie order: %s", llmo_strerror(rc));
	r->node_frag = calloc(c->nodes.len, sizeof(*r->node_frag));
	if (!r->node_frag)
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	for (size_t i = 0; i < c->nodes.len; i++) {
		r->node_frag[i] = llmo_sched_frag_node(&c->nodes.items[i], &r->workload);
		frag_total += r->node_frag[i];
	}
	for (size_t k = 0; k < r->norder; k++) {
		const struct llmo_sched_pod *pod = &r->pods[r->order[k]];
		struct llmo_sched_placement pl;
		int64_t t0 = llmo_clock_mono_ns();

		rc = llmo_sched_policy_place(&r->policy, c, pod, r->cls[r->order[k]], &rng, &pl);
		if (rc == 0)
			rc = llmo_sched_cluster_apply(c, pod, &pl, err);
		ns += llmo_clock_mono_ns() - t0;
		arrived += llmo_sched_pod_gpu_total(pod);
		if (rc == 0) {
			double f = llmo_sched_frag_node(&c->nodes.items[pl.node], &r->workload);

			frag_total += f - r->node_frag[pl.node];
			r->node_frag[pl.node] = f;
			res->scheduled++;
		} else if (rc == LLMO_ENOTFOUND) {
			res->failed++;
		} else {
			return llmo_error_set(err, rc, "pod %zu of the replay: %s", k + 1,
					      llmo_strerror(rc));
		}
		pt.index = k;
		pt.scheduled = rc == 0;
		pt.arrived_pct = (double)arrived * 100 / (double)cap;
		pt.allocated_pct = (double)(cap - c->gpu_left_total) * 100 / (double)cap;
		pt.frag_pct = frag_total * 100 / (double)cap;
		checkpoint(&res->at90, 90, arrived, cap, &pt);
		checkpoint(&res->at100, 100, arrived, cap, &pt);
		checkpoint(&res->at130, 130, arrived, cap, &pt);
		if (o->on_pod)
			o->on_pod(o->arg, &pt);
	}
	checkpoint_end(&res->at90, 90, &pt);
	checkpoint_end(&res->at100, 100, &pt);
	checkpoint_end(&res->at130, 130, &pt);
	res->arrived_pct = pt.arrived_pct;
	res->allocated_pct = pt.allocated_pct;
	res->decision_seconds = (double)ns / 1e9;
	res->decisions_per_second = ns > 0 ? (double)r->norder / res->decision_seconds : 0;
	return 0;
}

int llmo_sim_schedule_run(const struct llmo_sim_trace *t, const struct llmo_sim_schedule_opts *o,
			  struct llmo_sim_schedule_result *res, struct llmo_error *err)
{
	struct run r;
	int rc;

	memset(&r, 0, sizeof(r));
	memset(res, 0, sizeof(*res));
	llmo_sched_cluster_init(&r.cluster);
	llmo_sched_workload_init(&r.workload);
	if (!(o->inflate > 0 && o->inflate <= LLMO_SIM_SCHEDULE_INFLATE_MAX)) {
		rc = llmo_error_set(err, LLMO_EINVAL, "inflate %g: want more than 0, at most %g",
				    o->inflate, LLMO_SIM_SCHEDULE_INFLATE_MAX);
		goto out;
	}
	rc = build_cluster(&r, t, o, err);
	if (!rc)
		rc = build_pods(&r, t, err);
	if (!rc)
		rc = build_order(&r, t->pods.len, o, err);
	if (!rc)
		rc = build_workload(&r, t->pods.len, o, err);
	if (rc)
		goto out;
	res->nodes = r.cluster.nodes.len;
	res->gpu_capacity_milli = r.cluster.gpu_cap_total;
	res->trace_pods = t->pods.len;
	res->pods = r.norder;
	rc = replay(&r, o, res, err);
	res->evaluations = r.policy.evaluations;
	res->parallelism = r.pool ? llmo_sched_pool_threads(r.pool) : 1;
out:
	llmo_sched_policy_release(&r.policy);
	llmo_sched_pool_free(r.pool);
	llmo_sched_workload_release(&r.workload);
	llmo_sched_cluster_release(&r.cluster);
	free(r.pods);
	free(r.cls);
	free(r.order);
	free(r.node_frag);
	return rc;
}
