#ifndef LLMO_KUBE_LEADER_H
#define LLMO_KUBE_LEADER_H
/*
 * Leader election on a coordination.k8s.io/v1 Lease, as client-go's
 * leaderelection package does it, so that of several replicas of a
 * component only one acts at a time.
 *
 * A candidate takes the Lease when it is absent, released (empty
 * holderIdentity) or expired (renewTime + leaseDurationSeconds in the past,
 * or unchanged for a whole lease duration by our own clock); it renews it
 * every retry period while leading and steps down when it could not renew
 * for the renew deadline. Every write is conditional on the Lease's
 * resourceVersion, so of two candidates racing only one wins (the other
 * gets 409). On stop a leader releases the Lease (holderIdentity "") so
 * another candidate takes over at its next try instead of waiting for
 * expiry.
 *
 * Threads: the HTTP runs in a background thread (so renewals keep time
 * whatever the loop does); the callbacks run on the owner's loop thread.
 * The candidate must stop acting as leader when stopped_leading runs.
 */
#include "base/common.h"
#include "base/error.h"
#include "kube/client.h"

struct event_base;
struct llmo_leader;

#define LLMO_LEADER_LEASE_DURATION_MS 15000
#define LLMO_LEADER_RENEW_DEADLINE_MS 10000
#define LLMO_LEADER_RETRY_PERIOD_MS 2000
/* Longest holder identity. */
#define LLMO_LEADER_IDENTITY_MAX 253

struct llmo_leader_config {
	const char *ns;	      /* the Lease's namespace */
	const char *name;     /* the Lease's name */
	const char *identity; /* this candidate, unique ("hostname_pid" or the pod name) */
	/* 0: the defaults above; must be lease > renew > retry > 0 */
	long lease_duration_ms; /* written to the Lease rounded up to whole seconds */
	long renew_deadline_ms;
	long retry_period_ms;
	/* callbacks on the loop thread; each may be NULL */
	void (*started_leading)(void *ctx);
	void (*stopped_leading)(void *ctx);
	void (*new_leader)(void *ctx, const char *identity); /* the observed holder changed */
	void *ctx;
};

/*
 * Creates a stopped candidate (cfg's strings are copied). client must
 * outlive it. LLMO_EINVAL for a missing name or identity or inconsistent
 * durations.
 */
int llmo_leader_new(struct llmo_kube_client *client, struct event_base *base,
		    const struct llmo_leader_config *cfg, struct llmo_leader **out,
		    struct llmo_error *err);

/* Starts campaigning. LLMO_EINVAL when running, LLMO_EIO when no thread. */
int llmo_leader_start(struct llmo_leader *l, struct llmo_error *err);

/*
 * Stops campaigning: a leader releases the Lease (one short request), then
 * stopped_leading runs (before this returns) if this candidate was leading.
 * Returns within about a second plus that request.
 */
void llmo_leader_stop(struct llmo_leader *l);

/* Stops, then frees. NULL is fine. */
void llmo_leader_free(struct llmo_leader *l);

/* Whether this candidate leads, as the loop thread last learnt. */
bool llmo_leader_is_leader(const struct llmo_leader *l);

/*
 * Writes wall_ms (Unix epoch milliseconds) as a Kubernetes MicroTime,
 * "2006-01-02T15:04:05.000000Z", into out (LLMO_MICROTIME_MAX bytes).
 */
#define LLMO_MICROTIME_MAX 32
int llmo_kube_microtime(int64_t wall_ms, char *out, size_t n);

#endif
