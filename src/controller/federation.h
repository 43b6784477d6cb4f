#ifndef LLMO_CONTROLLER_FEDERATION_H
#define LLMO_CONTROLLER_FEDERATION_H
/*
 * Cross-cluster scheduling (docs/federation.md): an LLMWorkload whose
 * spec.placement.clusters names member clusters (configuration
 * federation.clusters) has its replicas spread over them by
 * spec.placement.strategy. This controller, the "home" one, keeps in each
 * member cluster that gets replicas a copy of the workload (and its
 * LLMModel) with exactly that many replicas, labelled
 * llm.orchestrator.io/federated-from; the member's own llmo controller,
 * scheduler and agents run them. The share of federation.localCluster runs
 * here as ordinary replicas.
 *
 * Every federation.syncInterval the home controller reads each member's
 * nodes, pods and copies (blocking calls with short timeouts, on its loop);
 * from them it knows, per workload, how many more replicas each cluster can
 * hold and how many of the copy's are Ready (and where they answer). A
 * member unreachable for failoverAfter holds nothing: its share moves.
 *
 * The assignment (llmo__fed_assign) is a pure function so that tests drive
 * it with made-up clusters.
 */
#include "base/common.h"

#include <jansson.h>

#include "base/error.h"

struct llmo_controller;

enum llmo__fed_strategy {
	LLMO__FED_BALANCED = 0, /* spread evenly (availability) */
	LLMO__FED_COST,		/* cheapest GPU-hour first */
	LLMO__FED_LATENCY,	/* lowest measured API round trip first */
};

/* spec.placement.strategy ("cost-optimized", ...; NULL: balanced). */
enum llmo__fed_strategy llmo__fed_strategy_parse(const char *s);

/* One cluster a workload may use, as the assignment sees it. */
struct llmo__fed_site {
	const char *name;
	bool usable;	  /* reachable (or within failoverAfter) and known */
	bool hold;	  /* unreachable but within failoverAfter: keeps `previous` */
	double cost;	  /* per GPU-hour */
	double rtt_ms;	  /* measured round trip to its API */
	int64_t capacity; /* replicas of this workload it can hold in all */
	int64_t previous; /* replicas it was given last time */
};

/*
 * Splits total replicas over n sites into out[n]. Sites that hold keep
 * min(previous, what is left) first; the rest goes by strategy to usable
 * sites up to their capacity: cost (then latency) order, latency (then
 * cost) order, or evenly (water-filling). Round trips within 25% (and
 * 2 ms) of each other count as equal, and ties keep the previous
 * assignment, so noise moves nothing. Returns the replicas placed nowhere.
 */
int64_t llmo__fed_assign(enum llmo__fed_strategy strategy, const struct llmo__fed_site *sites,
			 size_t n, int64_t total, int64_t *out);

/*
 * What the workload reconciler asks for one workload with
 * spec.placement.clusters, and what it gets back.
 */
struct llmo__fed_in {
	const char *key, *ns, *name, *uid;
	const json_t *w;     /* the workload (borrowed) */
	const json_t *model; /* its resolved LLMModel, or NULL */
	int64_t total;	     /* replicas wanted over all clusters */
	int64_t demand[3];   /* one replica's cpu, memory, GPUs (milli) */
	bool deleting;	     /* the workload is being deleted: remove every copy */
};

struct llmo__fed_out {
	bool federated;	       /* the workload uses federation (else nothing below is set) */
	int64_t local;	       /* replicas to run in this cluster */
	int64_t remote_wanted; /* in member clusters */
	int64_t remote_ready;
	int64_t unplaced;	/* replicas no cluster can hold */
	json_t *placement;	/* status.placement (new reference) */
	json_t *endpoints;	/* remote Ready replicas' "host:port" (new reference) */
	bool satisfied;		/* PlacementSatisfied */
	char reason[64];
	char message[512];
	bool copies_left;	/* deleting: some member still has a copy */
	int64_t requeue_ms;	/* > 0: look again within */
};

/* Makes the member clients when federation.clusters is not empty (c->fed; NULL otherwise). */
int llmo__fed_new(struct llmo_controller *c, struct llmo_error *err);
/* Starts the syncs: the first now, then every federation.syncInterval while leading. */
void llmo__fed_run(struct llmo_controller *c);
/* Places one workload (on the controller's loop). out is released with llmo__fed_out_release. */
int llmo__fed_reconcile(struct llmo_controller *c, const struct llmo__fed_in *in,
			struct llmo__fed_out *out);
void llmo__fed_out_release(struct llmo__fed_out *out);
/*
 * Declares in m the member clusters' families (llmo_controller_cluster_up,
 * llmo_controller_cluster_api_latency_seconds; docs/monitoring.md), with a
 * sample per cluster of federation.clusters (none without).
 */
struct llmo_metrics;
int llmo__fed_metrics_put(struct llmo_controller *c, struct llmo_metrics *m,
			  struct llmo_error *err);
/* Frees the member clients and snapshots. */
void llmo__fed_release(struct llmo_controller *c);

/* Label on every copy: federation.localCluster of the home, or "home". */
#define LLMO_LABEL_FEDERATED_FROM "llm.orchestrator.io/federated-from"
/* Annotation on every copy: the home workload's "namespace/name" and uid, and the copy's hash. */
#define LLMO_ANNOTATION_FEDERATION_OWNER "llm.orchestrator.io/federation-owner"
#define LLMO_ANNOTATION_FEDERATION_HASH "llm.orchestrator.io/federation-hash"

#endif
