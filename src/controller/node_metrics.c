/*
 * Node resource families of the controller's /metrics (docs/monitoring.md,
 * "Node resources"): per Node, what it offers (status.allocatable), what
 * the pods placed on it ask (their container requests) and use (their
 * llm.orchestrator.io/usage annotations), and per GPU what the node agent
 * measured (the llm.orchestrator.io/gpu-devices annotation).
 *
 * Pure: it reads the Node and Pod objects it is given and writes series
 * into a registry, so the exporter decides where they come from (the
 * controller's node and all-pod informers, trimmed by the transforms below
 * to what is read here) and the unit test can hand it fixtures.
 */
#include "base/common.h"

#include <jansson.h>

#include "api/usage.h"
#include "base/hmap.h"
#include "base/log.h"
#include "base/quantity.h"
#include "controller/controller_int.h"
#include "kube/object.h"
#include "metrics/metrics.h"
#include "scheduler/binder.h"

#include "base/banned.h"

/*
 * Nodes exported per scrape; the rest are left out (logged). Each takes 3
 * series of llmo_node_allocatable and of llmo_node_requested, which stays
 * under a family's LLMO_METRICS_SERIES_MAX (metrics.h drops series past it).
 */
#define NODE_METRICS_NODES_MAX 3000
/* GPU entries read from one node's gpu-devices annotation (the agent has at most 64). */
#define NODE_METRICS_GPUS_MAX 256
/* Longest gpu-devices annotation parsed (64 GPUs take about 20 KiB). */
#define NODE_METRICS_DEVICES_TEXT_MAX (256 * 1024)

enum { RES_CPU, RES_MEMORY, RES_GPU, RES_N };

static const char *const res_names[RES_N] = {"cpu", "memory", "gpu"};
/* The Kubernetes resource name of each, in requests and allocatable. */
static const char *const res_keys[RES_N] = {"cpu", "memory", "nvidia.com/gpu"};

struct node_sum {
	const char *name;	  /* borrowed from the Node */
	int64_t requested[RES_N]; /* milli-units */
	int64_t used[2];	  /* cpu millicores, memory bytes */
};

struct families {
	struct llmo_metric *gpu_util, *gpu_used, *gpu_total, *alloc, *requested, *used;
	struct llmo_metric *cpu, *memory, *net_rx, *net_tx; /* the node's own usage */
};

static const char *const gpu_model_labels[] = {"node", "gpu", "model"};
static const char *const gpu_labels[] = {"node", "gpu"};
static const char *const resource_labels[] = {"node", "resource"};
static const char *const node_labels[] = {"node"};

/* One family of the table below: where its handle goes in struct families. */
struct family_def {
	const char *name, *help;
	const char *const *labels;
	size_t nlabels;
	size_t at; /* offsetof(struct families, ...) */
};

#define FAMILY(n, h, l, field) {n, h, l, LLMO_ARRAY_LEN(l), offsetof(struct families, field)}

static const struct family_def family_defs[] = {
	FAMILY("llmo_node_gpu_utilization_percent",
	       "GPU utilization (percent) the node agent measured, for GPUs that report it.",
	       gpu_model_labels, gpu_util),
	FAMILY("llmo_node_gpu_memory_used_bytes", "GPU memory in use as the node agent measured it.",
	       gpu_labels, gpu_used),
	FAMILY("llmo_node_gpu_memory_total_bytes", "GPU memory of each GPU of the node.", gpu_labels,
	       gpu_total),
	FAMILY("llmo_node_allocatable",
	       "The node's status.allocatable: cpu in cores, memory in bytes, gpu in GPUs.",
	       resource_labels, alloc),
	FAMILY("llmo_node_requested",
	       "Sum of the container requests of the node's pods that are not Succeeded or Failed "
	       "(cpu cores, memory bytes, gpu GPUs).",
	       resource_labels, requested),
	FAMILY("llmo_node_used",
	       "Sum of the usage the node agent measured for the node's pods (cpu cores, memory "
	       "bytes).",
	       resource_labels, used),
	FAMILY("llmo_node_cpu_used_cores",
	       "CPU time the whole node spent busy (not idle or waiting for I/O), in cores, as its "
	       "agent measured it.",
	       node_labels, cpu),
	FAMILY("llmo_node_memory_used_bytes",
	       "Memory in use on the node (MemTotal - MemAvailable) as its agent measured it.",
	       node_labels, memory),
	FAMILY("llmo_node_network_receive_bytes_per_second",
	       "Bytes per second the node received on its interfaces other than loopback, as its "
	       "agent measured it.",
	       node_labels, net_rx),
	FAMILY("llmo_node_network_transmit_bytes_per_second",
	       "Bytes per second the node sent on its interfaces other than loopback, as its agent "
	       "measured it.",
	       node_labels, net_tx),
};

static int declare(struct llmo_metrics *m, struct families *f, struct llmo_error *err)
{
	for (size_t i = 0; i < LLMO_ARRAY_LEN(family_defs); i++) {
		const struct family_def *d = &family_defs[i];
		struct llmo_metric **slot = (struct llmo_metric **)((char *)f + d->at);
		int rc = llmo_metrics_gauge(m, d->name, d->help, d->labels, d->nlabels, slot, err);

		if (rc)
			return rc;
	}
	return 0;
}

static double units(int64_t milli)
{
	return (double)milli / 1000.0;
}

int64_t llmo__quantity_of(const json_t *obj, const char *key)
{
	int64_t milli = 0;
	const json_t *v = json_object_get(obj, key);

	if (!v || llmo_quantity_from_json(v, &milli, NULL))
		return 0;
	return milli;
}

static void put_gpus(const struct families *f, const char *node, const json_t *annotations)
{
	const char *text = json_string_value(json_object_get(annotations,
							     LLMO_BINDER_DEVICES_ANNOTATION));
	json_t *devs, *d;
	size_t i;

	if (!text || strlen(text) > NODE_METRICS_DEVICES_TEXT_MAX)
		return;
	devs = json_loads(text, 0, NULL);
	json_array_foreach(devs, i, d) {
		const json_t *idx = json_object_get(d, "index");
		const json_t *util = json_object_get(d, "utilizationGpuPercent");
		const json_t *used = json_object_get(d, "memoryUsedBytes");
		const json_t *total = json_object_get(d, "memoryTotalBytes");
		const char *model = json_string_value(json_object_get(d, "name"));
		char gpu[24];

		if (i >= NODE_METRICS_GPUS_MAX)
			break;
		if (!json_is_integer(idx))
			continue;
		snprintf(gpu, sizeof(gpu), "%" JSON_INTEGER_FORMAT, json_integer_value(idx));
		if (json_is_number(util))
			llmo_metric_set(f->gpu_util, (const char *[]){node, gpu, model ? model : ""},
					json_number_value(util));
		if (json_is_number(used))
			llmo_metric_set(f->gpu_used, (const char *[]){node, gpu},
					json_number_value(used));
		if (json_is_number(total))
			llmo_metric_set(f->gpu_total, (const char *[]){node, gpu},
					json_number_value(total));
	}
	json_decref(devs);
}

/* The node's own usage annotation (api/usage.h), when its agent publishes one. */
static void put_node_usage(const struct families *f, const char *node, const json_t *annotations)
{
	const char *text = json_string_value(json_object_get(annotations, LLMO_ANNOTATION_USAGE));
	const char *v[] = {node};
	struct llmo_usage u;

	if (!text || llmo_usage_parse(text, &u, NULL))
		return;
	llmo_metric_set(f->cpu, v, units(u.cpu_milli));
	llmo_metric_set(f->memory, v, (double)u.memory);
	if (u.has_net) {
		llmo_metric_set(f->net_rx, v, (double)u.net_rx);
		llmo_metric_set(f->net_tx, v, (double)u.net_tx);
	}
}

/*
 * A container's request for key: requests[key], else limits[key] (the API
 * server defaults a missing request to the limit).
 */
static int64_t container_request(const json_t *ctr, const char *key)
{
	const json_t *res = json_object_get(ctr, "resources");
	const json_t *req = json_object_get(res, "requests");

	if (json_object_get(req, key))
		return llmo__quantity_of(req, key);
	return llmo__quantity_of(json_object_get(res, "limits"), key);
}

void llmo__pod_requests(const json_t *pod, int64_t out[3])
{
	const json_t *ann = json_object_get(json_object_get(pod, "metadata"), "annotations");
	const char *share = json_string_value(json_object_get(ann, LLMO_BINDER_GPU_SHARE_ANNOTATION));
	const json_t *ctr;
	size_t i;

	for (int r = 0; r < RES_N; r++)
		out[r] = 0;
	json_array_foreach(json_object_get(json_object_get(pod, "spec"), "containers"), i, ctr) {
		for (int r = 0; r < RES_N; r++)
			llmo_quantity_add(out[r], container_request(ctr, res_keys[r]), &out[r]);
	}
	/* The GPU share the scheduler gave the pod stands for its GPU request (binder.h). */
	if (share)
		llmo_quantity_parse(share, &out[RES_GPU], NULL);
}

static void add_pod(struct node_sum *s, const json_t *pod)
{
	const json_t *ann = json_object_get(json_object_get(pod, "metadata"), "annotations");
	const char *usage = json_string_value(json_object_get(ann, LLMO_ANNOTATION_USAGE));
	int64_t pod_req[RES_N];
	struct llmo_usage u;

	llmo__pod_requests(pod, pod_req);
	for (int r = 0; r < RES_N; r++)
		llmo_quantity_add(s->requested[r], pod_req[r], &s->requested[r]);
	if (usage && strlen(usage) <= LLMO_USAGE_TEXT_MAX && llmo_usage_parse(usage, &u, NULL) == 0) {
		/* outside input: an addend that would overflow int64 is dropped (quantity.h) */
		llmo_quantity_add(s->used[RES_CPU], u.cpu_milli, &s->used[RES_CPU]);
		llmo_quantity_add(s->used[RES_MEMORY], u.memory, &s->used[RES_MEMORY]);
	}
}

int llmo__node_metrics_put(struct llmo_metrics *m, const json_t *nodes, const json_t *pods,
			   struct llmo_error *err)
{
	struct families f = {0};
	struct llmo_hmap by_name = LLMO_HMAP_INIT;
	struct node_sum *sums = NULL;
	size_t n = json_array_size(nodes), i;
	const json_t *obj;
	int rc;

	if ((rc = declare(m, &f, err)) || n == 0)
		goto out;
	if (n > NODE_METRICS_NODES_MAX) {
		llmo_log(LLMO_LOG_WARN, LLMO__CTRL_LOG, "node metrics cut", "nodes=%zu exported=%d", n,
			 NODE_METRICS_NODES_MAX);
		n = NODE_METRICS_NODES_MAX;
	}
	sums = calloc(n, sizeof(*sums));
	if (!sums) {
		rc = llmo_error_set(err, LLMO_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		const json_t *node = json_array_get(nodes, i);

		sums[i].name = llmo_kube_str(node, "metadata", "name");
		if (sums[i].name && llmo_hmap_put(&by_name, sums[i].name, &sums[i], NULL)) {
			rc = llmo_error_set(err, LLMO_ENOMEM, "out of memory");
			goto out;
		}
	}
	json_array_foreach(pods, i, obj) {
		const char *node = llmo_kube_str(obj, "spec", "nodeName");
		struct node_sum *s = node ? llmo_hmap_get(&by_name, node) : NULL;

		if (s && !llmo__pod_finished(obj))
			add_pod(s, obj);
	}
	for (i = 0; i < n; i++) {
		const json_t *node = json_array_get(nodes, i);
		const json_t *alloc = json_object_get(json_object_get(node, "status"), "allocatable");
		const char *name = sums[i].name;

		if (!name)
			continue;
		put_gpus(&f, name, json_object_get(json_object_get(node, "metadata"), "annotations"));
		put_node_usage(&f, name,
			       json_object_get(json_object_get(node, "metadata"), "annotations"));
		for (int r = 0; r < RES_N; r++) {
			const char *v[] = {name, res_names[r]};

			llmo_metric_set(f.alloc, v, units(llmo__quantity_of(alloc, res_keys[r])));
			llmo_metric_set(f.requested, v, units(sums[i].requested[r]));
		}
		llmo_metric_set(f.used, (const char *[]){name, "cpu"}, units(sums[i].used[RES_CPU]));
		llmo_metric_set(f.used, (const char *[]){name, "memory"},
				(double)sums[i].used[RES_MEMORY]);
	}
out:
	llmo_hmap_release(&by_name, NULL);
	free(sums);
	return rc;
}

json_t *llmo__node_metrics_node_transform(void *ctx, const json_t *node)
{
	const json_t *m = json_object_get(node, "metadata");
	json_t *out = json_object(), *meta = json_object(), *ann = json_object(),
	       *st = json_object();
	bool ok = out && meta && ann && st && llmo_kube_keep_identity(meta, m) &&
		  llmo_kube_keep(ann, json_object_get(m, "annotations"),
				 LLMO_BINDER_DEVICES_ANNOTATION) &&
		  llmo_kube_keep(ann, json_object_get(m, "annotations"), LLMO_ANNOTATION_USAGE) &&
		  llmo_kube_keep(st, json_object_get(node, "status"), "allocatable");

	(void)ctx;
	ok = llmo_kube_attach(meta, "annotations", ann) && ok;
	ok = llmo_kube_attach(out, "metadata", meta) && ok;
	ok = llmo_kube_attach(out, "status", st) && ok;
	return llmo_kube_trimmed(out, ok);
}

json_t *llmo__node_metrics_pod_transform(void *ctx, const json_t *pod)
{
	static const char *const notes[] = {LLMO_BINDER_GPU_SHARE_ANNOTATION,
					    LLMO_ANNOTATION_USAGE};
	const json_t *m = json_object_get(pod, "metadata"), *spec = json_object_get(pod, "spec");
	json_t *out = json_object(), *meta = json_object(), *ann = json_object(),
	       *sp = json_object(), *st = json_object();
	bool ok = out && meta && ann && sp && st && llmo_kube_keep_identity(meta, m) &&
		  llmo_kube_keep(sp, spec, "nodeName") &&
		  llmo_kube_keep(st, json_object_get(pod, "status"), "phase");
	size_t i;

	(void)ctx;
	for (i = 0; ok && i < LLMO_ARRAY_LEN(notes); i++)
		ok = llmo_kube_keep(ann, json_object_get(m, "annotations"), notes[i]);
	/* add_pod reads each container's requests and limits only */
	ok = ok && llmo_kube_keep_each(sp, spec, "containers", "resources");
	ok = llmo_kube_attach(meta, "annotations", ann) && ok;
	ok = llmo_kube_attach(out, "metadata", meta) && ok;
	ok = llmo_kube_attach(out, "spec", sp) && ok;
	ok = llmo_kube_attach(out, "status", st) && ok;
	return llmo_kube_trimmed(out, ok);
}
