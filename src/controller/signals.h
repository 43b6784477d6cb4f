#ifndef LLMO_CONTROLLER_SIGNALS_H
#define LLMO_CONTROLLER_SIGNALS_H
/*
 * What the controller learns from the gateway's /metrics (Prometheus text):
 * per workload ("namespace/name", the gateway's model label) and track the
 * cumulative requests, failed requests (5xx and answers that never came),
 * completion tokens and the latency histogram; the requests in flight per
 * pod and held per workload. The autoscaler takes rates from two
 * consecutive scrapes; rollout analysis takes differences from a snapshot;
 * drain-aware scale-in reads the in-flight count of the pods it removes.
 *
 * A scrape is one blocking GET with a short timeout on the controller's
 * loop; a failed one keeps the previous samples and is reported by
 * llmo__signals_error. Counters that go down (the gateway restarted) count
 * from zero again.
 */
#include "base/common.h"

#include "base/error.h"
#include "base/hmap.h"
#include "base/str.h"

/* Histogram buckets and tracks kept per workload. */
#define LLMO__SIG_BUCKETS 32
#define LLMO__SIG_TRACKS 8
#define LLMO__SIG_TRACK_MAX 63
/* Longest scrape answer read, and the scrape's timeout. */
#define LLMO__SIG_BODY_MAX ((size_t)16 << 20)
#define LLMO__SIG_TIMEOUT_MS 2000L

struct llmo__track_sample {
	char name[LLMO__SIG_TRACK_MAX + 1]; /* "" when the gateway gave none */
	double requests, errors, tokens;
	double attempts_ok, attempts_failed; /* attempts on replicas (retries included) */
	size_t nb;			     /* buckets, ascending le, +Inf last */
	double le[LLMO__SIG_BUCKETS];
	double cum[LLMO__SIG_BUCKETS];	     /* cumulative counts */
};

struct llmo__wl_sample {
	struct llmo__track_sample tracks[LLMO__SIG_TRACKS];
	size_t ntracks;
	double inflight, pending;
};

/* What the replicas of one workload said at the last tick (vLLM's metric names). */
struct llmo__replica_stats {
	double kv_sum;	/* sum of vllm:gpu_cache_usage_perc (0..1) */
	double waiting; /* sum of vllm:num_requests_waiting */
	double running; /* sum of vllm:num_requests_running */
	int replicas;	/* replicas that answered with the KV cache usage */
};

/* Replicas read per tick at most, and each read's timeout. */
#define LLMO__SIG_REPLICAS_MAX 64
#define LLMO__SIG_REPLICA_TIMEOUT_MS 300L

/*
 * Gateways the controller finds itself (--gateway-pods): fills ids (one
 * stable name per gateway, such as its pod's uid) and urls (its /metrics)
 * with the gateways to read this tick. 0 or LLMO_ENOMEM.
 */
typedef int (*llmo__sig_gateways_fn)(void *ctx, struct llmo_strv *ids, struct llmo_strv *urls);

struct llmo__signals {
	char *url; /* the one gateway (or Prometheus); with gateways_fn, a description */
	llmo__sig_gateways_fn gateways_fn;
	void *gateways_ctx;
	struct llmo_hmap inst; /* gateways_fn: gateway id -> its last samples (struct llmo_hmap *) */
	char *ca; /* a pinned certificate for an https url (see gateway_metrics_ca); NULL none */
	bool prometheus; /* url is a Prometheus server: ask its query API for the same series */
	long lag_ms;	 /* how old the data may be (Prometheus's own scrape interval): drains wait it too */
	void *curl; /* CURL * */
	long interval_ms;
	struct llmo_hmap cur, prev; /* workload key -> struct llmo__wl_sample * (owned) */
	struct llmo_hmap pods;	    /* "ns/pod" -> in-flight count + 1, cast to a pointer */
	struct llmo_hmap replicas;  /* workload key -> struct llmo__replica_stats * (owned) */
	struct llmo_hmap next;	    /* the tick being read; becomes replicas at its end */
	int64_t cur_ms, prev_ms;    /* monotonic times of the two scrapes; 0: none */
	int64_t cur_wall_ms;	    /* wall-clock time of the latest scrape */
	size_t scrapes, failures;
	char error[256];	    /* the last failure; "" after a good scrape */
};

int llmo__signals_init(struct llmo__signals *s, const char *url, long interval_ms,
		       struct llmo_error *err);
void llmo__signals_release(struct llmo__signals *s);

/* One scrape. 0 or an error (also kept in s->error); the samples stay on failure. */
int llmo__signals_scrape(struct llmo__signals *s);
/*
 * Parses a Prometheus query API answer (an instant vector) as a scrape
 * taken at now_ms: each series becomes one sample (labels job and instance
 * dropped; the same series from several gateways add up).
 */
int llmo__signals_ingest_query(struct llmo__signals *s, const char *json, size_t len,
			       int64_t now_ms, struct llmo_error *err);
/* The PromQL the controller asks a Prometheus server (the gateway's series it uses). */
#define LLMO__SIG_PROM_QUERY                                                                  \
	"{__name__=~\"llmo_gateway_(requests_total|upstream_attempts_total|tokens_total|"      \
	"request_duration_seconds_bucket|pod_inflight|pending_requests)\"}"
/* Parses text as a scrape taken at now_ms (tests feed text directly). */
int llmo__signals_ingest(struct llmo__signals *s, const char *text, size_t len, int64_t now_ms,
			 struct llmo_error *err);

/*
 * Several gateways read at now_ms (gateways_fn): texts[i] is the scrape of
 * gateway ids[i] (ok[i] false: it did not answer, its last samples are kept
 * for its next answer); gateways not in ids are forgotten. The counters of
 * the new sample are the previous sample's plus what each gateway counted
 * since its own last scrape (all of it for a gateway seen the first time,
 * or whose counters went down: it restarted), so a gateway that goes away
 * takes nothing back; the gauges (in flight, pending) are this tick's sums.
 */
int llmo__signals_ingest_many(struct llmo__signals *s, size_t n, const char *const *ids,
			      const char *const *texts, const size_t *lens, const bool *ok,
			      int64_t now_ms, struct llmo_error *err);

/* The latest (prev false) or previous sample of a workload, or NULL. */
const struct llmo__wl_sample *llmo__signals_get(const struct llmo__signals *s, const char *key,
						bool prev);
/* A track of a sample, or NULL. */
const struct llmo__track_sample *llmo__sample_track(const struct llmo__wl_sample *w,
						    const char *track);
/* Sum over a sample's tracks (name ""). */
void llmo__sample_total(const struct llmo__wl_sample *w, struct llmo__track_sample *out);
/* now - then, counter resets counted from zero; then may be NULL. */
void llmo__track_delta(const struct llmo__track_sample *now, const struct llmo__track_sample *then,
		       struct llmo__track_sample *out);
/* The q-quantile (0..1) of a histogram (cumulative buckets), seconds; NAN when empty. */
double llmo__track_quantile(const struct llmo__track_sample *h, double q);
/*
 * Replica metrics: between begin and end, each call reads one replica's
 * /metrics at http://ENDPOINT/metrics (LLMO__SIG_REPLICA_TIMEOUT_MS) into the
 * stats of its workload; end makes the tick's stats current. A replica that
 * does not answer or has no vLLM metrics adds nothing. With tls_name (an
 * encrypted workload's replica) it is https://TLS_NAME:PORT/metrics at the
 * endpoint's address, verified against the PEM CA file ca.
 */
void llmo__signals_replicas_begin(struct llmo__signals *s);
int llmo__signals_scrape_replica(struct llmo__signals *s, const char *key, const char *endpoint,
				 const char *tls_name, const char *ca);
/* Parses one replica's metrics text into the tick's stats of key (tests feed text directly). */
int llmo__signals_replica_ingest(struct llmo__signals *s, const char *key, const char *text,
				 size_t len);
void llmo__signals_replicas_end(struct llmo__signals *s);
/* The last tick's stats of a workload, or NULL. */
const struct llmo__replica_stats *llmo__signals_replicas(const struct llmo__signals *s,
							const char *key);

/* Requests in flight to pod ns/name as of the last scrape; -1 when the gateway did not list it. */
int llmo__signals_pod_inflight(const struct llmo__signals *s, const char *ns, const char *name);

#endif
