#ifndef LLMO_CONTROLLER_H
#define LLMO_CONTROLLER_H
/*
 * struct llmo_controller: `llmo controller`, the operator. It reconciles
 * each LLMWorkload into serving replicas (pods it manages itself, not a
 * Deployment, so it picks which replica goes) and one Service, and each
 * LLMModel into a phase and the list of workloads using it, and marks Nodes
 * whose agent went silent not ready (Ready=Unknown). docs/controller.md
 * describes every decision, condition and Event.
 *
 * It is an ordinary API client: four informers (llmworkloads, llmmodels,
 * pods labelled llm.orchestrator.io/workload, services), two work queues,
 * an event recorder and, when enabled, leader election on a Lease so that
 * of several controllers only one acts.
 *
 * Threads: everything runs on the owner's event loop; the reconcilers make
 * blocking API calls from it, so the loop must not be the API server's own.
 */
#include "base/common.h"
#include "api/config.h"
#include "base/error.h"
#include "kube/client.h"

struct event_base;
struct llmo_buf;
struct llmo_controller;

/* Labels and annotations of the pods the controller makes. */
#define LLMO_LABEL_WORKLOAD "llm.orchestrator.io/workload"
#define LLMO_LABEL_MODEL "llm.orchestrator.io/model"
#define LLMO_LABEL_VERSION "llm.orchestrator.io/version"
#define LLMO_LABEL_TRACK "llm.orchestrator.io/track"
#define LLMO_LABEL_TEMPLATE_HASH "llm.orchestrator.io/template-hash"
/* JSON array: the command a node agent runs instead of the image on one machine. */
#define LLMO_ANNOTATION_LOCAL_COMMAND "llm.orchestrator.io/local-command"
/* JSON object {"8000": 41234}: host ports a node agent gave the container ports. */
#define LLMO_ANNOTATION_HOST_PORTS "llm.orchestrator.io/host-ports"
/*
 * A replica being taken out of service: "true" while the gateway sends it no
 * new requests and its in-flight ones finish; the controller deletes it when
 * the gateway reports none left (or its grace period passed since
 * draining-since, Unix ms). draining-reason says why it goes.
 */
#define LLMO_ANNOTATION_DRAINING "llm.orchestrator.io/draining"
#define LLMO_ANNOTATION_DRAINING_SINCE "llm.orchestrator.io/draining-since"
#define LLMO_ANNOTATION_DRAINING_REASON "llm.orchestrator.io/draining-reason"
/*
 * On a replica: move it to another node, make-before-break (docs/controller.md,
 * "Migration"). The value is "true" or a reason ("rebalance: ..." when the
 * rebalancer asked). Cleared when a migration is abandoned.
 */
#define LLMO_ANNOTATION_MIGRATE "llm.orchestrator.io/migrate"
/*
 * On a replica with LLMO_ANNOTATION_MIGRATE: the node the rebalancer chose for
 * it; the replacement prefers that node (a preferred node affinity of weight
 * 100), so the move lands where the choice was made when the scheduler agrees.
 */
#define LLMO_ANNOTATION_MIGRATE_TO "llm.orchestrator.io/migrate-to"
/*
 * On the replacement a migration made: the replica it replaces, and when it
 * was made (Unix ms). While that replica is still in service the replacement
 * is a surge: counted in no replica count, never scaled in.
 */
#define LLMO_ANNOTATION_MIGRATION_OF "llm.orchestrator.io/migration-of"
#define LLMO_ANNOTATION_MIGRATION_SINCE "llm.orchestrator.io/migration-since"
/* On a workload: the autoscaler policy (reactive, kpa, predictive) instead of the configuration's. */
#define LLMO_ANNOTATION_AUTOSCALER "llm.orchestrator.io/autoscaler"
/*
 * On a workload: the requests one replica serves at once (the runtime's batch,
 * vLLM's --max-num-seqs), 1..LLMO_AS_SLOTS_MAX: the predictive autoscaler's
 * queueing sizing needs it, and no runtime metric states it.
 */
#define LLMO_ANNOTATION_REPLICA_SLOTS "llm.orchestrator.io/replica-slots"
/*
 * On a replica of a workload with spec.security.encryption: the name its
 * TLS certificate carries ("NAME.NAMESPACE.svc"), which the gateway checks
 * when it connects (docs/controller.md, "Encryption").
 */
#define LLMO_ANNOTATION_TLS_SERVER_NAME "llm.orchestrator.io/tls-server-name"
/* Where an encrypted replica finds its certificate and key (the Secret NAME-tls, mounted). */
#define LLMO_REPLICA_TLS_DIR "/etc/llmo/tls"
/* An encrypted workload's certificate: its lifetime, and how long before expiry it is reissued. */
#define LLMO_REPLICA_TLS_DAYS 90
#define LLMO_REPLICA_TLS_RENEW_S ((time_t)30 * 24 * 3600)
/* How often the controller looks at an encrypted workload's Secret again. */
#define LLMO_REPLICA_TLS_CHECK_MS 60000L
/* On a workload: the version a paused blue-green rollout may switch to. */
#define LLMO_ANNOTATION_PROMOTE "llm.orchestrator.io/promote"
/* The finalizer that makes a workload's deletion wait for its replicas to go. */
#define LLMO_FINALIZER "llm.orchestrator.io/cleanup"
/* The container's name in every replica. */
#define LLMO_CONTAINER_NAME "model-server"
/*
 * Node labels spec.security.complianceLevel and dataClassification require
 * (a required node affinity in every replica): strict runs on nodes labelled
 * strict or enterprise, enterprise on enterprise; internal data on nodes
 * labelled internal or confidential, confidential on confidential.
 */
#define LLMO_NODE_LABEL_COMPLIANCE "llm.orchestrator.io/compliance-level"
#define LLMO_NODE_LABEL_DATA_CLASS "llm.orchestrator.io/data-classification"
/*
 * Prefix of the pod label each name in spec.security.networkPolicies gives
 * the replicas ("policy.llm.orchestrator.io/NAME": "true"), for the
 * NetworkPolicy's podSelector to select them by.
 */
#define LLMO_LABEL_POLICY_PREFIX "policy.llm.orchestrator.io/"

/* Replica replacement backoff: first delay, doubling per failure, reset after quiet. */
#define LLMO_CONTROLLER_BACKOFF_MS 10000L
#define LLMO_CONTROLLER_BACKOFF_MAX_MS 300000L
#define LLMO_CONTROLLER_BACKOFF_RESET_MS 600000L
/* A Node whose agent is silent this long gets Ready=Unknown (kube's node-monitor-grace-period). */
#define LLMO_CONTROLLER_NODE_GRACE_MS 40000L
/* With --prometheus: how stale its data may be (its default scrape interval); drains wait it. */
#define LLMO_CONTROLLER_PROMETHEUS_LAG_MS 15000L
/* How often the gateway's metrics are read. */
#define LLMO_CONTROLLER_SCRAPE_MS 2000L
/* A migration's replacement must be Ready this long after it was made (the startup probe's 30 min bound). */
#define LLMO_CONTROLLER_MIGRATE_TIMEOUT_MS 1800000L
/* ... and the scheduler may fail to place it this long before the migration is abandoned. */
#define LLMO_CONTROLLER_MIGRATE_UNSCHEDULABLE_MS 30000L
/* How often nodes are checked. */
#define LLMO_CONTROLLER_NODE_CHECK_MS 5000L

/*
 * On an LLMModel: "true" on the version that holds the `stable` alias of its
 * spec.name in its namespace; benchmark on register moves it
 * (docs/benchmark-on-register.md).
 */
#define LLMO_LABEL_STABLE "llm.orchestrator.io/stable"
/* On a benchmark pod: the LLMModel object it measures (up to 63 bytes of its name). */
#define LLMO_LABEL_BENCHMARK "llm.orchestrator.io/benchmark"

/* Benchmark on register: how long a temporary replica may take to be Ready. */
#define LLMO_BENCH_READY_TIMEOUT_MS 600000L
/* The first retry after a failed attempt (doubling); attempts per subject. */
#define LLMO_BENCH_RETRY_MS 30000L
#define LLMO_BENCH_ATTEMPTS 3
/* Requests each stream sends at each concurrency, and the tokens each asks for. */
#define LLMO_BENCH_REQUESTS 8
#define LLMO_BENCH_MAX_TOKENS 64
/* One request (from sending it to its last byte) may take this long. */
#define LLMO_BENCH_REQUEST_TIMEOUT_S 120

/* Every member 0: the default named after it. */
struct llmo_controller_bench_opts {
	long ready_timeout_ms; /* LLMO_BENCH_READY_TIMEOUT_MS */
	long retry_ms;	       /* LLMO_BENCH_RETRY_MS */
	long poll_ms;	       /* how often the pod is looked at; 500 */
	int requests;	       /* LLMO_BENCH_REQUESTS */
	int max_tokens;	       /* LLMO_BENCH_MAX_TOKENS */
};

struct llmo_controller_opts {
	const struct llmo_config *config; /* borrowed, outlives the controller; NULL: defaults */
	bool leader_election;		  /* campaign on a Lease before acting */
	const char *identity;		  /* leader identity; NULL: hostname_pid */
	const char *lease_namespace;	  /* NULL: config operator.namespace */
	const char *scheduler_name;	  /* pods' spec.schedulerName; NULL: llmo-scheduler */
	long backoff_base_ms;		  /* 0: LLMO_CONTROLLER_BACKOFF_MS */
	long backoff_max_ms;		  /* 0: LLMO_CONTROLLER_BACKOFF_MAX_MS */
	long node_grace_ms;		  /* 0: LLMO_CONTROLLER_NODE_GRACE_MS */
	long node_check_ms;		  /* 0: LLMO_CONTROLLER_NODE_CHECK_MS */
	/*
	 * Do kube-controller-manager's node lifecycle work (Ready=Unknown for
	 * nodes that stopped reporting; docs/controller.md, "Nodes"): llmo
	 * server's embedded controller, where no controller-manager runs.
	 */
	bool node_lifecycle;
	long migrate_timeout_ms;	  /* 0: LLMO_CONTROLLER_MIGRATE_TIMEOUT_MS */
	long migrate_unschedulable_ms;	  /* 0: LLMO_CONTROLLER_MIGRATE_UNSCHEDULABLE_MS */
	/*
	 * The gateway's /metrics URL: request rates, latency and in-flight
	 * counts for autoscaling, canary analysis and drain-aware scale-in.
	 * NULL: none (replicas are deleted without draining; canaries wait).
	 */
	const char *gateway_metrics_url;
	/*
	 * For an https:// gateway_metrics_url: the PEM certificate the gateway
	 * serves, trusted as is (a pin: the host name in the URL is not checked,
	 * so a certificate without 127.0.0.1 works). NULL: the system's CAs.
	 */
	const char *gateway_metrics_ca;
	/*
	 * Instead: a Prometheus server (http://HOST:9090) that scrapes the
	 * gateway; the same series are read from its query API.
	 */
	const char *prometheus_url;
	/*
	 * Or: the gateways are the Ready pods "NAMESPACE/LABEL_SELECTOR" selects
	 * (several replicas of `llmo gateway` on a cluster); each is read at
	 * http://POD_IP:PORT/metrics, PORT its prometheus.io/port annotation or
	 * its container port named http, and their counts add up per gateway.
	 */
	const char *gateway_pods;
	long scrape_interval_ms;	  /* 0: LLMO_CONTROLLER_SCRAPE_MS */
	long vertical_sample_ms;	  /* vertical scaling's sampling; 0: LLMO__VERT_SAMPLE_MS */
	/* Serve /metrics and /healthz on metrics_host:metrics_port (0: any free port); NULL: not. */
	const char *metrics_host;
	int metrics_port;
	/*
	 * Called on the controller's loop at each scrape of /metrics to append
	 * more (llmo server: the scheduler's); must be safe from this thread.
	 */
	int (*extra_metrics)(void *arg, struct llmo_buf *out, struct llmo_error *err);
	void *extra_metrics_arg;
	struct llmo_controller_bench_opts bench; /* used with modelRegistry.benchmarkOnRegister */
	/*
	 * The CA that signs the certificates of encrypted workloads' replicas
	 * (spec.security.encryption): PEM files; the gateway trusts the same
	 * certificate. NULL: encrypted workloads get no replica (condition
	 * Encrypted=False, NoCertificateAuthority).
	 */
	const char *replica_ca_cert, *replica_ca_key;
	/*
	 * The trusted public keys the agents' fetch steps read ($LLMO_TRUSTED_KEYS:
	 * a directory of NAME.pub files or one key file): an LLMModel whose
	 * spec.signature.keyRef names no key there is Failed. NULL: not checked.
	 */
	const char *trusted_keys;
	/*
	 * modelRegistry.fetchImage and nodeCachePath, for `llmo controller` on a
	 * cluster, where the kubelet starts replicas: a replica of a model
	 * pinned by digest gets an init container running fetch_image that
	 * waits until the node's agent has fetched and verified the model into
	 * node_cache_path (a hostPath, mounted read-only), and LLMO_MODEL_PATH
	 * (docs/controller.md). NULL or "": none, and templates stay as they
	 * were (llmo server: its agent fetches before it starts a replica, and
	 * its runtime refuses init containers). node_cache_path NULL:
	 * LLMO_NODE_CACHE_PATH_DEFAULT.
	 */
	const char *fetch_image;
	const char *node_cache_path;
};

int llmo_controller_new(struct llmo_kube_client *client, struct event_base *base,
			const struct llmo_controller_opts *opts, struct llmo_controller **out,
			struct llmo_error *err);
/* Starts the informers and the campaign (or acts at once without leader election). */
int llmo_controller_start(struct llmo_controller *c, struct llmo_error *err);
/* Stops (a leader releases its Lease), flushes events, frees. NULL is fine. */
void llmo_controller_free(struct llmo_controller *c);

/* Whether this controller acts now (leads, or runs without election). */
bool llmo_controller_is_leader(const struct llmo_controller *c);
/* The port /metrics listens on, 0 when not served. */
int llmo_controller_metrics_port(const struct llmo_controller *c);
/* Pods this controller created and deleted (for tests and metrics). */
size_t llmo_controller_pods_created(const struct llmo_controller *c);
size_t llmo_controller_pods_deleted(const struct llmo_controller *c);

#endif
