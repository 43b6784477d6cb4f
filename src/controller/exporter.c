/*
 * The controller's /metrics (controller.h, docs/monitoring.md): gauges read
 * from the informers' caches when scraped (workload replicas, readiness,
 * rollouts, forecasts; model availability) and counters the controller
 * keeps (reconciles, rollbacks, promotions, scale events, model prefetches,
 * gateway scrapes), and the node resource families (node_metrics.c).
 * Served on the controller's own loop (metrics/http.h), with what the
 * owner adds (llmo server: the scheduler's).
 */
#include "base/common.h"

#include "base/buf.h"
#include "base/log.h"
#include "controller/controller_int.h"
#include "controller/federation.h"
#include "metrics/http.h"
#include "metrics/metrics.h"

#include "base/banned.h"

struct exporter {
	struct llmo_metrics *m;
	struct llmo_metric *replicas, *ready, *degraded, *weight, *phase, *forecast, *model_ok,
		*reconciles, *rollouts, *scales, *scrapes, *prefetches,
		*migrations, *placed;
};

static const char *const wl_labels[] = {"namespace", "workload"};

static int make(struct exporter *e, struct llmo_error *err)
{
	const char *const rl[] = {"namespace", "workload", "state"};
	const char *const pl[] = {"namespace", "workload", "phase"};
	const char *const ml[] = {"namespace", "model", "name", "version"};
	const char *const kl[] = {"kind", "result"};
	const char *const ol[] = {"outcome"};
	const char *const dl[] = {"direction"};
	const char *const el[] = {"event"};
	const char *const ol_result[] = {"result"};
	int rc;

	if (llmo_metrics_new(&e->m))
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	if ((rc = llmo_metrics_gauge(e->m, "llmo_controller_workload_replicas",
				     "Replicas of each LLMWorkload by state (desired, current, ready).",
				     rl, 3, &e->replicas, err)) ||
	    (rc = llmo_metrics_gauge(e->m, "llmo_controller_workload_ready",
				     "1 when the workload's Ready condition is True.", wl_labels, 2,
				     &e->ready, err)) ||
	    (rc = llmo_metrics_gauge(e->m, "llmo_controller_workload_degraded",
				     "1 when the workload's Degraded condition is True.", wl_labels, 2,
				     &e->degraded, err)) ||
	    (rc = llmo_metrics_gauge(e->m, "llmo_controller_workload_canary_weight",
				     "Percent of the workload's traffic sent to a canary now.",
				     wl_labels, 2, &e->weight, err)) ||
	    (rc = llmo_metrics_gauge(e->m, "llmo_controller_workload_rollout_phase",
				     "1 for the workload's current rollout phase.", pl, 3, &e->phase,
				     err)) ||
	    (rc = llmo_metrics_gauge(e->m, "llmo_controller_workload_forecast_requests_per_second",
				     "Requests per second the predictive autoscaler expects one cold "
				     "start ahead.",
				     wl_labels, 2, &e->forecast, err)) ||
	    (rc = llmo_metrics_gauge(e->m, "llmo_controller_model_available",
				     "1 when the LLMModel's phase is Available.", ml, 4, &e->model_ok,
				     err)) ||
	    (rc = llmo_metrics_counter(e->m, "llmo_controller_reconciles_total",
				       "Reconciles by kind (workload, model) and result (ok, error).",
				       kl, 2, &e->reconciles, err)) ||
	    (rc = llmo_metrics_counter(e->m, "llmo_controller_rollouts_total",
				       "Ended canary analyses by outcome (promoted, rolled_back).", ol,
				       1, &e->rollouts, err)) ||
	    (rc = llmo_metrics_counter(e->m, "llmo_controller_scale_events_total",
				       "Replica count changes made by the autoscaler, by direction.",
				       dl, 1, &e->scales, err)) ||
	    (rc = llmo_metrics_counter(e->m, "llmo_controller_prefetches_total",
				       "Model prefetch requests put on nodes ahead of a scale-up "
				       "(asked) and found done in the node's cache (completed).",
				       el, 1, &e->prefetches, err)) ||
	    (rc = llmo_metrics_counter(e->m, "llmo_controller_migrations_total",
				       "Replica migrations by result (succeeded: the replacement was "
				       "Ready and the old replica drains; failed: abandoned).",
				       ol_result, 1, &e->migrations, err)) ||
	    (rc = llmo_metrics_gauge(e->m, "llmo_controller_workload_cluster_replicas",
				     "Replicas of a workload placed over clusters "
				     "(spec.placement.clusters) in each cluster, by state (desired: "
				     "given to it, ready: ready there; this cluster's ready ones are "
				     "in llmo_controller_workload_replicas).",
				     (const char *const[]){"namespace", "workload", "cluster", "state"},
				     4, &e->placed, err)) ||
	    (rc = llmo_metrics_counter(e->m, "llmo_controller_gateway_scrapes_total",
				       "Reads of the gateway's metrics by result (ok, error).", ol, 1,
				       &e->scrapes, err)))
		return rc;
	return 0;
}

static double num(const json_t *v)
{
	return json_is_number(v) ? json_number_value(v) : 0;
}

static bool cond_true(const json_t *obj, const char *type)
{
	return llmo_kube_condition_true(obj, type);
}

static int put_workload(void *ctx, json_t *w)
{
	struct exporter *e = ctx;
	const char *ns = llmo_kube_str(w, "metadata", "namespace");
	const char *name = llmo_kube_str(w, "metadata", "name");
	const json_t *st = json_object_get(w, "status");
	const json_t *ro = json_object_get(st, "rollout");
	const char *phase = json_string_value(json_object_get(ro, "phase"));
	const json_t *fc = json_object_get(json_object_get(st, "currentMetrics"),
					   "forecast_requests_per_second");
	const char *v[] = {ns ? ns : "", name ? name : "", NULL};

	v[2] = "desired";
	llmo_metric_set(e->replicas, v, num(json_object_get(st, "desiredReplicas")));
	v[2] = "current";
	llmo_metric_set(e->replicas, v, num(json_object_get(st, "currentReplicas")));
	v[2] = "ready";
	llmo_metric_set(e->replicas, v, num(json_object_get(st, "readyReplicas")));
	llmo_metric_set(e->ready, v, cond_true(w, "Ready"));
	llmo_metric_set(e->degraded, v, cond_true(w, "Degraded"));
	llmo_metric_set(e->weight, v, num(json_object_get(ro, "canaryWeight")));
	if (phase) {
		v[2] = phase;
		llmo_metric_set(e->phase, v, 1);
	}
	if (json_is_number(fc))
		llmo_metric_set(e->forecast, v, json_number_value(fc));
	{
		const json_t *pl = json_object_get(st, "placement"), *p;
		size_t i;

		json_array_foreach(pl, i, p) {
			const char *cl = json_string_value(json_object_get(p, "cluster"));
			const char *pv[] = {v[0], v[1], cl ? cl : "", "desired"};

			llmo_metric_set(e->placed, pv, num(json_object_get(p, "replicas")));
			if (json_object_get(p, "readyReplicas")) {
				pv[3] = "ready";
				llmo_metric_set(e->placed, pv, num(json_object_get(p, "readyReplicas")));
			}
		}
	}
	return 0;
}

static int put_model(void *ctx, json_t *m)
{
	struct exporter *e = ctx;
	const char *phase = llmo_kube_str(m, "status", "phase");
	const char *ns = llmo_kube_str(m, "metadata", "namespace");
	const char *n = llmo_kube_str(m, "metadata", "name");
	const char *sn = llmo_kube_str(m, "spec", "name"), *sv = llmo_kube_str(m, "spec", "version");

	llmo_metric_set(e->model_ok,
			(const char *[]){ns ? ns : "", n ? n : "", sn ? sn : "", sv ? sv : ""},
			phase && strcmp(phase, "Available") == 0);
	return 0;
}

static int append_each(void *ctx, json_t *obj)
{
	return json_array_append((json_t *)ctx, obj) ? LLMO_ENOMEM : 0;
}

/*
 * The node families from the caches of every Node and every Pod (the
 * workload pod informer is not enough: a node's requests count every pod on
 * it), so a scrape makes no request to the API. Until those caches have
 * synced the families are declared with what they hold so far.
 */
static int put_nodes(struct llmo_controller *c, struct llmo_metrics *m, struct llmo_error *err)
{
	json_t *nodes = json_array(), *pods = json_array();
	int rc;

	/* the caches exist when /metrics is served (controller.c) */
	if (!nodes || !pods ||
	    (c->metric_nodes && llmo_informer_list(c->metric_nodes, NULL, append_each, nodes)) ||
	    (c->metric_pods && llmo_informer_list(c->metric_pods, NULL, append_each, pods))) {
		rc = llmo_error_set(err, LLMO_ENOMEM, "out of memory");
		goto out;
	}
	rc = llmo__node_metrics_put(m, nodes, pods, err);
out:
	json_decref(nodes);
	json_decref(pods);
	return rc;
}

int llmo__exporter_write(struct llmo_controller *c, struct llmo_buf *out, struct llmo_error *err)
{
	struct exporter e = {0};
	const struct llmo__counters *k = &c->counters;
	int rc;

	if ((rc = make(&e, err)))
		goto out;
	llmo_informer_list(c->workloads, NULL, put_workload, &e);
	llmo_informer_list(c->models, NULL, put_model, &e);
	if ((rc = put_nodes(c, e.m, err)) || (rc = llmo__fed_metrics_put(c, e.m, err)))
		goto out;
	llmo_metric_add(e.reconciles, (const char *[]){"workload", "ok"}, (double)k->wl_ok);
	llmo_metric_add(e.reconciles, (const char *[]){"workload", "error"}, (double)k->wl_err);
	llmo_metric_add(e.reconciles, (const char *[]){"model", "ok"}, (double)k->model_ok);
	llmo_metric_add(e.reconciles, (const char *[]){"model", "error"}, (double)k->model_err);
	llmo_metric_add(e.rollouts, (const char *[]){"promoted"}, (double)k->promoted);
	llmo_metric_add(e.rollouts, (const char *[]){"rolled_back"}, (double)k->rolled_back);
	llmo_metric_add(e.scales, (const char *[]){"up"}, (double)k->scaled_up);
	llmo_metric_add(e.scales, (const char *[]){"down"}, (double)k->scaled_down);
	llmo_metric_add(e.prefetches, (const char *[]){"asked"}, (double)k->prefetches);
	llmo_metric_add(e.prefetches, (const char *[]){"completed"}, (double)k->prefetched);
	llmo_metric_add(e.migrations, (const char *[]){"succeeded"}, (double)k->migrated);
	llmo_metric_add(e.migrations, (const char *[]){"failed"}, (double)k->migrate_failed);
	llmo_metric_add(e.scrapes, (const char *[]){"ok"},
			(double)(c->signals.scrapes - c->signals.failures));
	llmo_metric_add(e.scrapes, (const char *[]){"error"}, (double)c->signals.failures);
	if (llmo_metrics_write(e.m, out))
		rc = llmo_error_set(err, LLMO_ENOMEM, "out of memory");
out:
	llmo_metrics_free(e.m);
	return rc;
}

static int write_cb(void *arg, struct llmo_buf *out, struct llmo_error *err)
{
	struct llmo_controller *c = arg;
	int rc = llmo__exporter_write(c, out, err);

	if (!rc && c->extra_metrics)
		rc = c->extra_metrics(c->extra_metrics_arg, out, err);
	return rc;
}

int llmo__exporter_start(struct llmo_controller *c, const char *host, int port,
			 struct llmo_error *err)
{
	int rc = llmo_metrics_http_new(c->base, host, port, write_cb, c, &c->http, err);

	if (!rc) {
		c->metrics_port = llmo_metrics_http_port(c->http);
		llmo_log(LLMO_LOG_INFO, LLMO__CTRL_LOG, "metrics listening", "addr=%s:%d", host,
			 c->metrics_port);
	}
	return rc;
}
