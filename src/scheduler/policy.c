/*
 * Placement policies. The baselines reproduce the score plugins of the
 * public FGD simulator (hkust-adsl/kubernetes-scheduler-simulator); the
 * constants below are theirs: scores are integers in 0..100
 * (kube-scheduler's MaxNodeScore), CPU is normalised by 128 CPUs and GPU by
 * 8 GPUs (their MaxSpecCpu, MaxSpecGpu).
 */
#include "base/common.h"

#include <math.h>

#include "scheduler/policy.h"
#include "scheduler/pool.h"

#define MAX_NODE_SCORE 100
#define MAX_SPEC_CPU 128000.0
#define MAX_SPEC_GPU 8000.0

static const char *const policy_names[LLMO_SCHED_POLICY_COUNT] = {
	[LLMO_SCHED_RANDOM] = "random",
	[LLMO_SCHED_BESTFIT] = "bestfit",
	[LLMO_SCHED_DOTPROD] = "dotprod",
	[LLMO_SCHED_GPUPACKING] = "gpupacking",
	[LLMO_SCHED_GPUCLUSTERING] = "gpuclustering",
	[LLMO_SCHED_FGD] = "fgd",
	[LLMO_SCHED_LLMO] = "llmo",
};

int llmo_sched_policy_parse(const char *name, enum llmo_sched_policy_kind *kind,
			    struct llmo_error *err)
{
	for (int k = 0; k < LLMO_SCHED_POLICY_COUNT; k++) {
		if (strcmp(name, policy_names[k]) == 0) {
			*kind = (enum llmo_sched_policy_kind)k;
			return 0;
		}
	}
	return llmo_error_set(err, LLMO_ENOTFOUND,
			      "unknown policy \"%.64s\" (want random, bestfit, dotprod, gpupacking, "
			      "gpuclustering, fgd or llmo)",
			      name);
}

const char *llmo_sched_policy_name(enum llmo_sched_policy_kind kind)
{
	if ((int)kind < 0 || kind >= LLMO_SCHED_POLICY_COUNT)
		return "?";
	return policy_names[kind];
}

bool llmo_sched_policy_needs_workload(enum llmo_sched_policy_kind kind)
{
	return kind == LLMO_SCHED_FGD || kind == LLMO_SCHED_LLMO;
}

int llmo_sched_policy_init(struct llmo_sched_policy *p, enum llmo_sched_policy_kind kind,
			   const struct llmo_sched_workload *workload, struct llmo_error *err)
{
	memset(p, 0, sizeof(*p));
	if ((int)kind < 0 || kind >= LLMO_SCHED_POLICY_COUNT)
		return llmo_error_set(err, LLMO_EINVAL, "policy %d out of range", (int)kind);
	if (llmo_sched_policy_needs_workload(kind) && (!workload || workload->types.len == 0))
		return llmo_error_set(err, LLMO_EINVAL, "policy %s needs a target workload",
				      policy_names[kind]);
	p->kind = kind;
	p->workload = workload;
	return 0;
}

static void drop_class_caches(struct llmo_sched_policy *p)
{
	for (size_t i = 0; i < p->nclasses; i++) {
		free(p->classes[i].score);
		free(p->classes[i].version);
		p->classes[i].score = NULL;
		p->classes[i].version = NULL;
	}
	p->cache_bytes = 0;
}

void llmo_sched_policy_release(struct llmo_sched_policy *p)
{
	drop_class_caches(p);
	free(p->classes);
	free(p->frag);
	free(p->frag_version);
	free(p->rank);
	memset(p, 0, sizeof(*p));
}

int llmo_sched_policy_enable_cache(struct llmo_sched_policy *p, size_t nclasses,
				   struct llmo_error *err)
{
	struct llmo_sched_class_cache *cc;

	if (nclasses > LLMO_SCHED_CACHE_CLASSES_MAX)
		return llmo_error_set(err, LLMO_EINVAL, "%zu pod classes, at most %d", nclasses,
				      LLMO_SCHED_CACHE_CLASSES_MAX);
	drop_class_caches(p);
	free(p->classes);
	p->classes = NULL;
	p->nclasses = 0;
	if (nclasses == 0)
		return 0;
	cc = calloc(nclasses, sizeof(*cc));
	if (!cc)
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	p->classes = cc;
	p->nclasses = nclasses;
	return 0;
}

/*
 * Sizes the per-node arrays for n nodes; a change of size drops the score
 * caches and puts the tie order back to node order.
 */
static int ensure_nodes(struct llmo_sched_policy *p, size_t n)
{
	uint32_t *rank;
	double *frag;
	uint64_t *ver;

	if (n == p->nnodes)
		return 0;
	if (n > UINT32_MAX)
		return LLMO_EINVAL;
	frag = calloc(n ? n : 1, sizeof(*frag));
	ver = calloc(n ? n : 1, sizeof(*ver));
	rank = calloc(n ? n : 1, sizeof(*rank));
	if (!frag || !ver || !rank) {
		free(frag);
		free(ver);
		free(rank);
		return LLMO_ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		rank[i] = (uint32_t)i;
	free(p->frag);
	free(p->frag_version);
	free(p->rank);
	p->frag = frag;
	p->frag_version = ver;
	p->rank = rank;
	p->nnodes = n;
	drop_class_caches(p);
	return 0;
}

int llmo_sched_policy_shuffle_ties(struct llmo_sched_policy *p, size_t nnodes, struct llmo_rng *rng)
{
	int rc = ensure_nodes(p, nnodes);

	if (rc)
		return rc;
	for (size_t i = nnodes; i > 1; i--) {
		size_t j = (size_t)llmo_rng_below(rng, i);
		uint32_t t = p->rank[i - 1];

		p->rank[i - 1] = p->rank[j];
		p->rank[j] = t;
	}
	return 0;
}

/* The class's cache, allocated on first use; NULL when over the byte budget or out of memory. */
static struct llmo_sched_class_cache *class_cache(struct llmo_sched_policy *p, long cls)
{
	struct llmo_sched_class_cache *cc;
	size_t bytes = p->nnodes * (sizeof(double) + sizeof(uint64_t));

	if (cls < 0 || (size_t)cls >= p->nclasses || p->nnodes == 0)
		return NULL;
	cc = &p->classes[cls];
	if (cc->score)
		return cc;
	if (p->cache_bytes + bytes > LLMO_SCHED_CACHE_BYTES_MAX)
		return NULL;
	cc->score = malloc(p->nnodes * sizeof(double));
	cc->version = calloc(p->nnodes, sizeof(uint64_t));
	if (!cc->score || !cc->version) {
		free(cc->score);
		free(cc->version);
		cc->score = NULL;
		cc->version = NULL;
		return NULL;
	}
	p->cache_bytes += bytes;
	return cc;
}

/* ---- GPU choices within a node ---------------------------------------------- */

/* The lowest-numbered n fully free GPUs. The caller knows there are n. */
static void pick_free_gpus(const struct llmo_sched_node *n, int want, uint8_t *gpus)
{
	int k = 0;

	for (int g = 0; g < n->ngpus && k < want; g++)
		if (n->gpu_left[g] == LLMO_SCHED_MILLI)
			gpus[k++] = (uint8_t)g;
}

/* For a sharing pod: the fitting GPU with the least share left, the lowest-numbered of equals. */
static int best_fit_gpu(const struct llmo_sched_node *n, int milli)
{
	int best = -1;

	for (int g = 0; g < n->ngpus; g++)
		if (n->gpu_left[g] >= milli && (best < 0 || n->gpu_left[g] < n->gpu_left[best]))
			best = g;
	return best;
}

static void pick_best_fit(const struct llmo_sched_node *n, const struct llmo_sched_pod *pod,
			  uint8_t *gpus)
{
	if (pod->num_gpu == 0)
		return;
	if (llmo_sched_pod_is_sharing(pod))
		gpus[0] = (uint8_t)best_fit_gpu(n, pod->gpu_milli);
	else
		pick_free_gpus(n, pod->num_gpu, gpus);
}

/* ---- the baselines' scores ------------------------------------------------------ */

static double score_bestfit(const struct llmo_sched_node *n, const struct llmo_sched_pod *pod)
{
	double s = 0;

	s += (double)(n->cpu_left - pod->cpu) / MAX_SPEC_CPU * 0.5;
	s += (double)(n->gpu_left_total - llmo_sched_pod_gpu_total(pod)) / MAX_SPEC_GPU * 0.5;
	return (double)(int64_t)((1.0 - s) * MAX_NODE_SCORE);
}

static double score_dotprod(const struct llmo_sched_node *n, const struct llmo_sched_pod *pod)
{
	double dot = 0;

	dot += ((double)n->cpu_left / MAX_SPEC_CPU) * ((double)pod->cpu / MAX_SPEC_CPU);
	dot += ((double)n->gpu_left_total / MAX_SPEC_GPU) *
	       ((double)llmo_sched_pod_gpu_total(pod) / MAX_SPEC_GPU);
	dot /= 2;
	return (double)(int64_t)(MAX_NODE_SCORE * (1 - dot));
}

/*
 * Shared GPUs score 50..100 (fuller is better), free GPUs of a used node
 * 33..50 (fewer is better), an entirely free node 0..33; pods without GPUs
 * score 0 everywhere.
 */
static double score_gpupacking(const struct llmo_sched_node *n, const struct llmo_sched_pod *pod)
{
	int order[LLMO_SCHED_NODE_GPUS_MAX];
	int need = pod->num_gpu, free_used = 0, left_pct = 0;

	if (pod->gpu_milli <= 0)
		return 0;
	if (n->gpu_free == n->ngpus)
		return LLMO_MAX(MAX_NODE_SCORE / 3 - n->gpu_free, n->gpu_free);
	/* GPUs by share left, ascending; equal shares by index (a stable sort). */
	for (int g = 0; g < n->ngpus; g++) {
		int j = g;

		while (j > 0 && n->gpu_left[order[j - 1]] > n->gpu_left[g]) {
			order[j] = order[j - 1];
			j--;
		}
		order[j] = g;
	}
	for (int k = 0; k < n->ngpus && need > 0; k++) {
		int left = n->gpu_left[order[k]];

		if (left >= pod->gpu_milli) {
			need--;
			free_used += left == LLMO_SCHED_MILLI;
			left_pct += left * 100 / LLMO_SCHED_MILLI;
		}
	}
	if (free_used > 0)
		return LLMO_MAX(MAX_NODE_SCORE / 2 - free_used, MAX_NODE_SCORE / 3);
	return LLMO_MAX(MAX_NODE_SCORE - left_pct / 10, MAX_NODE_SCORE / 2);
}

/*
 * Quarters: 75..100 a node running only pods of the pod's shape, 50..75
 * one running that shape among others, 25..50 a node without GPU pods,
 * 0..25 the rest; within a quarter, fuller nodes score higher.
 */
static double score_gpuclustering(const struct llmo_sched_node *n, const struct llmo_sched_pod *pod)
{
	int tag = llmo_sched_pod_tag(pod), kinds = 0;
	int64_t base;

	if (tag < 0)
		return 0;
	for (int t = 0; t < LLMO_SCHED_TAGS; t++)
		kinds += n->tags[t] > 0;
	base = (int64_t)(MAX_NODE_SCORE / 4) * ((int64_t)MAX_SPEC_GPU - n->gpu_left_total) /
	       (int64_t)MAX_SPEC_GPU;
	if (n->tags[tag] > 0)
		return (double)(base + (kinds == 1 ? MAX_NODE_SCORE * 3 / 4 : MAX_NODE_SCORE / 2));
	return (double)(base + (kinds == 0 ? MAX_NODE_SCORE / 4 : 0));
}

/* ---- fragmentation-based scores -------------------------------------------------- */

static double node_frag(struct llmo_sched_policy *p, const struct llmo_sched_cluster *c, size_t i)
{
	const struct llmo_sched_node *n = &c->nodes.items[i];

	if (i < p->nnodes && p->frag_version[i] == n->version)
		return p->frag[i];
	if (i >= p->nnodes)
		return llmo_sched_frag_node(n, p->workload);
	p->frag[i] = llmo_sched_frag_node(n, p->workload);
	p->frag_version[i] = n->version;
	return p->frag[i];
}

/* FGD's score for a growth of fragmentation (milli-GPU): sigmoid(-growth / 1000) in 0..100, truncated. */
static double fgd_quantise(double growth)
{
	return (double)(int64_t)(1.0 / (1.0 + exp(growth / 1000.0)) * MAX_NODE_SCORE);
}

/*
 * GPU of n (milli-GPU) that its free CPU and memory cannot feed at the
 * target workload's ratios (w->cpu_per_gpu, w->mem_per_gpu): the GPU left
 * minus what the CPU left, and the memory left, would serve.
 */
static double stranded(const struct llmo_sched_node *n, const struct llmo_sched_workload *w)
{
	double feed = (double)n->gpu_left_total;

	if (w->cpu_per_gpu > 0)
		feed = LLMO_MIN(feed, (double)n->cpu_left / w->cpu_per_gpu);
	if (w->mem_per_gpu > 0)
		feed = LLMO_MIN(feed, (double)n->mem_left / w->mem_per_gpu);
	return (double)n->gpu_left_total - feed;
}

/*
 * How much n's unusable GPU (milli-GPU) grows when pod takes gpus on it:
 * for FGD, its fragmentation under the target workload; for llmo, also the
 * GPU its CPU and memory can no longer feed, on a node already running GPU
 * pods (on an empty node FGD's measure alone knows which shapes still need
 * a whole node).
 */
static double growth(struct llmo_sched_policy *p, const struct llmo_sched_cluster *c, size_t i,
		     const struct llmo_sched_pod *pod, const uint8_t *gpus)
{
	const struct llmo_sched_node *n = &c->nodes.items[i];
	struct llmo_sched_node after = *n;
	double g;

	llmo_sched_node_take(&after, pod, gpus, pod->num_gpu);
	g = llmo_sched_frag_node(&after, p->workload) - node_frag(p, c, i);
	if (p->kind == LLMO_SCHED_LLMO && n->gpu_free < n->ngpus)
		g += stranded(&after, p->workload) - stranded(n, p->workload);
	return g;
}

/*
 * FGD, as the paper's simulator computes it, and llmo: the score is the
 * quantised growth; whole GPUs are the lowest-numbered free ones; a sharing
 * pod takes, among the GPUs it fits, one with the best score: FGD the
 * lowest-numbered of equals, llmo the one with the least share left.
 */
static double score_growth(struct llmo_sched_policy *p, const struct llmo_sched_cluster *c,
			   size_t i, const struct llmo_sched_pod *pod, uint8_t *gpus)
{
	const struct llmo_sched_node *n = &c->nodes.items[i];
	bool tightest = p->kind == LLMO_SCHED_LLMO;
	uint8_t g1[LLMO_SCHED_POD_GPUS_MAX];
	double best = -1;
	int best_left = 0;

	if (!llmo_sched_pod_is_sharing(pod)) {
		pick_free_gpus(n, pod->num_gpu, g1);
		if (gpus)
			memcpy(gpus, g1, (size_t)pod->num_gpu);
		return fgd_quantise(growth(p, c, i, pod, g1));
	}
	for (int g = 0; g < n->ngpus; g++) {
		bool seen = false;
		double s;

		if (n->gpu_left[g] < pod->gpu_milli)
			continue;
		/* GPUs with equal shares left give equal results: the first one stands for all. */
		for (int h = 0; h < g && !seen; h++)
			seen = n->gpu_left[h] == n->gpu_left[g];
		if (seen)
			continue;
		g1[0] = (uint8_t)g;
		s = fgd_quantise(growth(p, c, i, pod, g1));
		if (best < 0 || s > best || (tightest && s == best && n->gpu_left[g] < best_left)) {
			best = s;
			best_left = n->gpu_left[g];
			if (gpus)
				gpus[0] = (uint8_t)g;
		}
	}
	return best;
}

bool llmo_sched_policy_score(struct llmo_sched_policy *p, const struct llmo_sched_cluster *c,
			     size_t i, const struct llmo_sched_pod *pod, double *score,
			     uint8_t *gpus)
{
	const struct llmo_sched_node *n = &c->nodes.items[i];

	if (!llmo_sched_node_fits(n, pod))
		return false;
	switch (p->kind) {
	case LLMO_SCHED_RANDOM:
		*score = 0;
		break;
	case LLMO_SCHED_BESTFIT:
		*score = score_bestfit(n, pod);
		break;
	case LLMO_SCHED_DOTPROD:
		*score = score_dotprod(n, pod);
		break;
	case LLMO_SCHED_GPUPACKING:
		*score = score_gpupacking(n, pod);
		break;
	case LLMO_SCHED_GPUCLUSTERING:
		*score = score_gpuclustering(n, pod);
		break;
	case LLMO_SCHED_FGD:
	case LLMO_SCHED_LLMO:
		*score = score_growth(p, c, i, pod, gpus);
		return true;
	default:
		return false;
	}
	if (gpus)
		pick_best_fit(n, pod, gpus);
	return true;
}

void llmo_sched_policy_set_pool(struct llmo_sched_policy *p, struct llmo_sched_pool *pool)
{
	p->pool = pool;
}

/* The best node of one range of nodes: highest score, then lowest tie rank. */
struct scan_best {
	_Alignas(64) double best; /* a line each: parts are written by different threads */
	size_t chosen;		  /* SIZE_MAX: no node of the range fits */
	uint64_t ties;		  /* nodes of the best score seen (the random policy) */
	uint64_t evaluations;
};

/* One decision's scan over the nodes, in one range or in a pool's parts. */
struct scan {
	struct llmo_sched_policy *p;
	const struct llmo_sched_cluster *c;
	const struct llmo_sched_pod *pod;
	struct llmo_sched_class_cache *cc;
	struct llmo_rng *rng; /* the random policy's ties: serial scans only */
	struct scan_best part[LLMO_SCHED_POOL_PARTS_MAX];
};

/*
 * Scores nodes [lo, hi) into *r. Writes only the nodes' own cache entries
 * (frag and class scores of index i), so that disjoint ranges may run at
 * once. Among equal best scores the lowest tie rank wins whatever order
 * the nodes are seen in, so merging the parts' bests gives the serial
 * answer; the random policy alone draws among ties (serially).
 */
static void scan_range(struct scan *s, struct scan_best *r, size_t lo, size_t hi)
{
	struct llmo_sched_policy *p = s->p;
	double sc;

	r->best = -INFINITY;
	r->chosen = SIZE_MAX;
	r->ties = 0;
	r->evaluations = 0;
	for (size_t i = lo; i < hi; i++) {
		uint64_t v = s->c->nodes.items[i].version;
		bool ok;

		if (s->cc && s->cc->version[i] == v) {
			sc = s->cc->score[i];
			ok = sc != -INFINITY;
		} else {
			ok = llmo_sched_policy_score(p, s->c, i, s->pod, &sc, NULL);
			r->evaluations++;
			if (s->cc) {
				s->cc->score[i] = ok ? sc : -INFINITY;
				s->cc->version[i] = v;
			}
		}
		if (!ok)
			continue;
		if (r->chosen == SIZE_MAX || sc > r->best) {
			r->best = sc;
			r->chosen = i;
			r->ties = 1;
		} else if (sc == r->best) {
			if (p->kind == LLMO_SCHED_RANDOM ? llmo_rng_below(s->rng, ++r->ties) == 0
							 : p->rank[i] < p->rank[r->chosen])
				r->chosen = i;
		}
	}
}

static void scan_part(void *ctx, size_t part, size_t lo, size_t hi)
{
	struct scan *s = ctx;

	scan_range(s, &s->part[part], lo, hi);
}

/* Whether the decision scans in parallel: a pool, enough nodes, and no random draws. */
static bool scan_parallel(const struct llmo_sched_policy *p, size_t nnodes)
{
	return p->pool && llmo_sched_pool_threads(p->pool) > 1 &&
	       nnodes >= LLMO_SCHED_PARALLEL_MIN_NODES && p->kind != LLMO_SCHED_RANDOM;
}

int llmo_sched_policy_place(struct llmo_sched_policy *p, const struct llmo_sched_cluster *c,
			    const struct llmo_sched_pod *pod, long cls, struct llmo_rng *rng,
			    struct llmo_sched_placement *out)
{
	struct scan scan, *s = &scan; /* on the stack: decisions of two policies may overlap */
	double best = -INFINITY, sc;
	size_t chosen = SIZE_MAX;
	int rc;

	rc = ensure_nodes(p, c->nodes.len);
	if (rc)
		return rc;
	s->p = p;
	s->c = c;
	s->pod = pod;
	s->cc = class_cache(p, cls);
	s->rng = rng;
	if (scan_parallel(p, c->nodes.len)) {
		size_t parts = llmo_sched_pool_parts(p->pool);

		/* a part left empty (more parts than nodes) is not run: it chose nothing */
		for (size_t k = 0; k < parts; k++) {
			s->part[k].chosen = SIZE_MAX;
			s->part[k].evaluations = 0;
		}
		llmo_sched_pool_run(p->pool, c->nodes.len, scan_part, s);
		for (size_t k = 0; k < parts; k++) {
			const struct scan_best *r = &s->part[k];

			p->evaluations += r->evaluations;
			if (r->chosen == SIZE_MAX)
				continue;
			if (chosen == SIZE_MAX || r->best > best ||
			    (r->best == best && p->rank[r->chosen] < p->rank[chosen])) {
				best = r->best;
				chosen = r->chosen;
			}
		}
	} else {
		scan_range(s, &s->part[0], 0, c->nodes.len);
		p->evaluations += s->part[0].evaluations;
		chosen = s->part[0].chosen;
	}
	if (chosen == SIZE_MAX)
		return LLMO_ENOTFOUND;
	memset(out, 0, sizeof(*out));
	out->node = chosen;
	out->ngpus = pod->num_gpu;
	llmo_sched_policy_score(p, c, chosen, pod, &sc, out->gpus);
	if (p->kind == LLMO_SCHED_RANDOM && llmo_sched_pod_is_sharing(pod)) {
		const struct llmo_sched_node *n = &c->nodes.items[chosen];
		uint64_t fitting = 0;

		for (int g = 0; g < n->ngpus; g++)
			if (n->gpu_left[g] >= pod->gpu_milli && llmo_rng_below(rng, ++fitting) == 0)
				out->gpus[0] = (uint8_t)g;
	}
	return 0;
}
