/*
 * The store's upkeep off the event loop (registry_int.h): with storageType
 * s3 the restore of the records at start and autoCleanup's pruning and
 * collection after a push talk to S3 for as long as the bucket takes, so
 * they run on an S3 worker (s3jobs.h) while the loop answers the requests
 * that do not depend on them.
 *
 * Both hold the turn of record changes (s3req.c) from start to end, which
 * is what keeps them apart from every other change of the records (a push,
 * a DELETE, a mount, an upload's link) and from each other: those wait in
 * the turn's queue. A cleanup works on a clone of the store (store.h) that
 * shares only the directory and the bucket; what the loop's store keeps in
 * memory about the blobs it removed is forgotten on the loop when it ends.
 */
#include "base/common.h"

#include <event2/event.h>

#include "base/clock.h"
#include "base/log.h"
#include "metrics/metrics.h"
#include "registry/gc.h"
#include "registry/manifest.h"
#include "registry/pool.h"
#include "registry/registry_int.h"
#include "registry/s3cache.h"

#include "base/banned.h"

#define LOG "registry"
/*
 * Blobs a cleanup reports removed one by one; past it the loop forgets all
 * it knew of every blob (verified, held by S3). The cache's account of a
 * removed file it was not told of goes when that file's turn to be evicted
 * comes (a missing file is evicted without an error).
 */
#define GONE_MAX 100000

enum upkeep_kind { UPKEEP_RESTORE, UPKEEP_CLEANUP };

struct llmo__reg_upkeep {
	struct llmo_reg_pool_job base; /* first: the pool's view of it */
	struct llmo_registry *r;       /* only on the loop (done) */
	enum upkeep_kind kind;
	char *root;                   /* RESTORE: the storage directory */
	struct llmo_reg_store *store; /* CLEANUP: the worker's clone of the registry's */
	char repo[LLMO_REG_NAME_MAX + 1];
	struct llmo_reg_cleanup_of of;
	int max_versions;
	int64_t grace_ms;
	int64_t started_ms;
	/* the result, written by the worker */
	int rc;
	struct llmo_error err;
	size_t pruned;
	struct llmo_reg_gc_stats stats;
	bool collected; /* a collection ran to its end */
	struct llmo_strv gone; /* hex of the blobs removed */
	bool gone_overflow;    /* more than GONE_MAX */
};

static int upkeep_submit(struct llmo_registry *r, struct llmo__reg_upkeep *u,
			 struct llmo_error *err);
static void upkeep_release(struct llmo__reg_upkeep *u);

static void count_failure(struct llmo_registry *r, const char *job)
{
	llmo_metric_add(r->m_upkeep_failures, (const char *[]){job}, 1);
}

/* ---- autoCleanup ---- */

static void gone_report(void *arg, enum llmo_reg_gc_kind kind, const char *repo,
			const char *name, uint64_t bytes)
{
	struct llmo__reg_upkeep *u = arg;

	(void)repo;
	(void)bytes;
	if (kind != LLMO_REG_GC_BLOB || u->gone_overflow)
		return;
	if (u->gone.len >= GONE_MAX || llmo_strv_push(&u->gone, name))
		u->gone_overflow = true;
}

/*
 * On s, in the caller's thread. After a push: prunes repo's versions
 * beyond max_versions (keeping of->digest), then, when one went, collects
 * the garbage of the whole store. After a DELETE of manifest of->digest:
 * removes the links only it used when it was a model (gc.h), then
 * collects. Periodic: collects. A failure is logged here; the push or the
 * delete itself has succeeded.
 */
static int cleanup_run(struct llmo_reg_store *s, const char *repo,
		       const struct llmo_reg_cleanup_of *of, int max_versions, int64_t grace_ms,
		       struct llmo__reg_upkeep *u, size_t *pruned, struct llmo_reg_gc_stats *stats,
		       bool *collected, struct llmo_error *err)
{
	const struct llmo_digest *pushed = of->deleted || of->periodic ? NULL : &of->digest;
	static const char *const aliases[] = {"latest", "stable"};
	struct llmo_reg_prune_opts po = {.max_versions = max_versions,
					 .artifact_type = LLMO_MODEL_ARTIFACT_TYPE,
					 .aliases = aliases,
					 .naliases = LLMO_ARRAY_LEN(aliases),
					 .keep = pushed};
	struct llmo_reg_gc_opts go = {.grace_ms = grace_ms > 0 ? grace_ms : -1,
				      .report = u ? gone_report : NULL,
				      .arg = u};
	struct llmo_strv deleted = LLMO_STRV_INIT;
	int rc = 0;

	if (of->deleted && llmo_reg_unlink_deleted(s, repo, &of->digest, of->stored_ns,
						   LLMO_MODEL_ARTIFACT_TYPE, err))
		/* its links then go after their grace, as before */
		LLMO_WARN(LOG, "removing the deleted manifest's links failed",
			  "repo=%s digest=sha256:%s error=\"%s\"", repo, of->digest.hex, err->msg);
	if (pushed && (rc = llmo_reg_prune(s, repo, &po, &deleted, err)))
		LLMO_WARN(LOG, "pruning versions failed", "repo=%s error=\"%s\"", repo, err->msg);
	else if ((!pushed || deleted.len) && (rc = llmo_reg_gc_run(s, &go, stats, err)))
		LLMO_WARN(LOG, "garbage collection failed", "error=\"%s\"", err->msg);
	else
		*collected = !pushed || deleted.len;
	*pruned = deleted.len;
	llmo_strv_release(&deleted);
	return rc;
}

/* A cleanup ended (on the loop): failed, or its collection counted. */
static void cleanup_count(struct llmo_registry *r, const struct llmo_reg_cleanup_of *of, int rc,
			  bool collected, const struct llmo_reg_gc_stats *stats)
{
	if (rc) {
		count_failure(r, "cleanup");
		return;
	}
	if (!collected)
		return;
	llmo_metric_add(r->m_gc_runs,
			(const char *[]){of->periodic ? "periodic" : of->deleted ? "delete" : "push"},
			1);
	llmo_metric_add(r->m_gc_bytes, NULL, (double)stats->bytes_removed);
}

/* The loop's store forgets the blobs the clone removed, and accounts those it cached. */
static void cleanup_done(struct llmo_registry *r, struct llmo__reg_upkeep *u)
{
	struct llmo__reg_req *req = r->rec_holder;

	for (size_t i = 0; i < u->gone.len; i++) {
		struct llmo_digest d = {{0}};

		snprintf(d.hex, sizeof(d.hex), "%s", u->gone.items[i]);
		llmo_reg_store_forget(r->store, &d);
	}
	if (u->gone_overflow)
		llmo_reg_store_forget_all(r->store);
	llmo_reg_store_adopt(r->store, u->store);
	cleanup_count(r, &u->of, u->rc, u->collected, &u->stats);
	LLMO_INFO(LOG, "cleanup done",
		  "repo=%s pruned=%zu blobs_removed=%zu links_removed=%zu rc=%d ms=%" PRId64,
		  u->repo, u->pruned, u->stats.blobs_removed, u->stats.links_removed, u->rc,
		  llmo_clock_mono_ms() - u->started_ms);
	if (!req) {
		/* the push's client went away: the turn was kept for this cleanup */
		llmo__reg_records_end(r);
		return;
	}
	llmo__reg_resume(req, req->s3_again);
}

/* A cleanup of repo after of, in the loop at once. */
static void cleanup_inline(struct llmo_registry *r, const char *repo,
			   const struct llmo_reg_cleanup_of *of)
{
	struct llmo_error err = {0};
	struct llmo_reg_gc_stats stats = {0};
	size_t pruned = 0;
	bool collected = false;
	int rc = cleanup_run(r->store, repo, of, r->max_versions, r->gc_grace_ms, NULL, &pruned,
			     &stats, &collected, &err);

	cleanup_count(r, of, rc, collected, &stats);
}

/* A cleanup of repo after of, queued for a worker on a clone of the store: 0, or an error. */
static int cleanup_submit(struct llmo_registry *r, const char *repo,
			  const struct llmo_reg_cleanup_of *of, struct llmo_error *err)
{
	struct llmo__reg_upkeep *u = calloc(1, sizeof(*u));

	if (!u)
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	u->r = r;
	u->kind = UPKEEP_CLEANUP;
	snprintf(u->repo, sizeof(u->repo), "%s", repo);
	u->of = *of;
	u->max_versions = r->max_versions;
	u->grace_ms = r->gc_grace_ms;
	u->started_ms = llmo_clock_mono_ms();
	if (llmo_reg_store_clone(r->store, &u->store, err) || upkeep_submit(r, u, err)) {
		upkeep_release(u);
		return err->code ? err->code : LLMO_ENOMEM;
	}
	/* tests wait for this line to know the cleanup is in progress */
	LLMO_INFO(LOG, "S3 transfer started", "op=cleanup repo=%s queued=%zu", repo,
		  llmo_reg_s3jobs_pending(r->s3jobs));
	return 0;
}

int llmo__reg_cleanup(struct llmo__reg_req *req, const struct llmo_reg_cleanup_of *of,
		      llmo__reg_req_fn again)
{
	struct llmo_registry *r = req->reg;
	struct llmo_error err = {0};

	/* local storage, or a push that does not hold the turn: in the loop, as it always was */
	if (r->s3jobs && r->rec_holder == req) {
		if (!cleanup_submit(r, req->route.name, of, &err)) {
			req->s3_again = again;
			req->s3_done = false;
			llmo__reg_wait(req);
			return 1;
		}
		LLMO_WARN(LOG, "S3 transfer made in the event loop", "op=cleanup error=\"%s\"",
			  err.msg);
	}
	cleanup_inline(r, req->route.name, of);
	return 0;
}

int llmo__reg_collect(struct llmo_registry *r)
{
	static const struct llmo_reg_cleanup_of of = {.periodic = true};
	struct llmo_error err = {0};

	/* records being restored, or not restored, are not all the records: nothing is marked */
	if (r->restoring || r->restore_failed)
		return LLMO_EAGAIN;
	if (!r->s3jobs) {
		cleanup_inline(r, "-", &of);
		return 0;
	}
	if (r->rec_busy || r->rec_queue.head || r->upkeep)
		return LLMO_EAGAIN;
	if (cleanup_submit(r, "-", &of, &err)) {
		LLMO_WARN(LOG, "periodic garbage collection not started", "error=\"%s\"", err.msg);
		return LLMO_EAGAIN;
	}
	/* the turn, with no request: cleanup_done gives it back */
	llmo__reg_records_hold(r);
	return 0;
}

/* ---- the restore at start ---- */

/* A request for the records while they could not be restored. */
static void unavailable(struct llmo__reg_req *req)
{
	llmo__reg_add_header(req, "Retry-After", "%d", LLMO_REGISTRY_RESTORE_RETRY_S);
	llmo__reg_error(req, 503, "UNAVAILABLE",
			"the registry's records are not restored from S3 yet: %s",
			req->reg->restore_err.msg);
}

/* Every read that waited for the restore runs now (fn: dispatched again, or refused). */
static void restore_wake(struct llmo_registry *r, llmo__reg_req_fn fn)
{
	struct llmo__reg_req *req;

	/* none comes back while this runs: the restore has ended (no gate) or failed (503 at
	 * once); each waiter is on a connection of its own, so resuming one never frees another */
	while ((req = llmo__reg_queue_pop(&r->rst_queue)))
		llmo__reg_resume(req, fn);
}

static int restore_submit(struct llmo_registry *r, struct llmo_error *err);

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct llmo_registry *r = arg;
	struct llmo_error err = {0};

	(void)fd;
	(void)what;
	if (restore_submit(r, &err)) {
		/* no worker: the next try will tell */
		struct timeval tv = {LLMO_REGISTRY_RESTORE_RETRY_S, 0};

		r->restore_err = err;
		count_failure(r, "restore");
		LLMO_WARN(LOG, "records not restored from S3", "error=\"%s\" retry_s=%d", err.msg,
			  LLMO_REGISTRY_RESTORE_RETRY_S);
		evtimer_add(r->restore_ev, &tv);
	}
}

static void restore_done(struct llmo_registry *r, struct llmo__reg_upkeep *u)
{
	struct timeval tv = {LLMO_REGISTRY_RESTORE_RETRY_S, 0};

	if (!u->rc) {
		LLMO_INFO(LOG, "registry ready", "restore_ms=%" PRId64,
			  llmo_clock_mono_ms() - u->started_ms);
		r->restoring = false;
		r->restore_failed = false;
		restore_wake(r, llmo__reg_dispatch);
		llmo__reg_records_end(r);
		return;
	}
	/* the turn stays taken (record changes wait for a restore that works); reads are refused */
	r->restore_failed = true;
	r->restore_err = u->err;
	count_failure(r, "restore");
	LLMO_WARN(LOG, "records not restored from S3", "error=\"%s\" retry_s=%d", u->err.msg,
		  LLMO_REGISTRY_RESTORE_RETRY_S);
	restore_wake(r, unavailable);
	evtimer_add(r->restore_ev, &tv);
}

static int restore_submit(struct llmo_registry *r, struct llmo_error *err)
{
	struct llmo__reg_upkeep *u = calloc(1, sizeof(*u));

	if (!u || !(u->root = llmo_strdup(llmo_reg_store_root(r->store)))) {
		free(u);
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	}
	u->r = r;
	u->kind = UPKEEP_RESTORE;
	u->started_ms = llmo_clock_mono_ms();
	if (upkeep_submit(r, u, err)) {
		upkeep_release(u);
		return err->code;
	}
	r->restore_failed = false;
	LLMO_INFO(LOG, "S3 transfer started", "op=restore queued=%zu",
		  llmo_reg_s3jobs_pending(r->s3jobs));
	return 0;
}

int llmo__reg_restore_start(struct llmo_registry *r, struct llmo_error *err)
{
	int rc;

	if (!(r->restore_ev = evtimer_new(r->base, on_retry, r)))
		return llmo_error_set(err, LLMO_ENOMEM, "cannot make a timer");
	llmo__reg_records_hold(r);
	r->restoring = true;
	if (!restore_submit(r, err))
		return 0;
	/* no worker: restored before the registry listens, as it always was */
	LLMO_WARN(LOG, "S3 transfer made in the event loop", "op=restore error=\"%s\"", err->msg);
	r->restoring = false;
	llmo__reg_records_end(r);
	rc = llmo__reg_s3_restore(llmo_reg_store_s3(r->store), llmo_reg_store_root(r->store), NULL,
				  err);
	return rc;
}

bool llmo__reg_restore_wait(struct llmo__reg_req *req)
{
	struct llmo_registry *r = req->reg;

	if (!r->restoring || (req->method != LLMO__REG_GET && req->method != LLMO__REG_HEAD))
		return false;
	switch (req->route.kind) {
	case LLMO_REG_R_CATALOG:
	case LLMO_REG_R_TAGS:
	case LLMO_REG_R_MANIFEST:
	case LLMO_REG_R_REFERRERS:
	case LLMO_REG_R_BLOB:
		break;
	default:
		return false; /* answered without the records; changes wait in the turn */
	}
	if (r->restore_failed) {
		unavailable(req);
		return true;
	}
	llmo__reg_queue_push(&r->rst_queue, req);
	llmo__reg_wait(req);
	return true;
}

/* ---- the jobs ---- */

static void upkeep_run(struct llmo_reg_pool_job *pj, void *local)
{
	struct llmo__reg_upkeep *u = (struct llmo__reg_upkeep *)pj;

	if (u->kind == UPKEEP_CLEANUP) {
		u->rc = cleanup_run(u->store, u->repo, &u->of, u->max_versions, u->grace_ms, u,
				    &u->pruned, &u->stats, &u->collected, &u->err);
		return;
	}
	if (!local)
		u->rc = llmo_error_set(&u->err, LLMO_ENOMEM, "no S3 client for this worker");
	else
		u->rc = llmo__reg_s3_restore(local, u->root, &u->base.cancelled, &u->err);
}

static void upkeep_done(struct llmo_reg_pool_job *pj)
{
	struct llmo__reg_upkeep *u = (struct llmo__reg_upkeep *)pj;
	struct llmo_registry *r = u->r;

	r->upkeep = NULL;
	llmo__reg_s3_active_changed(r);
	if (u->kind == UPKEEP_CLEANUP)
		cleanup_done(r, u);
	else
		restore_done(r, u);
}

static void upkeep_release_job(struct llmo_reg_pool_job *pj)
{
	upkeep_release((struct llmo__reg_upkeep *)pj);
}

static void upkeep_release(struct llmo__reg_upkeep *u)
{
	if (!u)
		return;
	llmo_reg_store_free(u->store);
	llmo_strv_release(&u->gone);
	free(u->root);
	free(u);
}

static int upkeep_submit(struct llmo_registry *r, struct llmo__reg_upkeep *u,
			 struct llmo_error *err)
{
	int rc;

	u->base.run = upkeep_run;
	u->base.done = upkeep_done;
	u->base.release = upkeep_release_job;
	if ((rc = llmo_reg_s3jobs_run(r->s3jobs, &u->base, err)))
		return rc;
	r->upkeep = u;
	llmo__reg_s3_active_changed(r);
	return 0;
}

void llmo__reg_upkeep_stop(struct llmo_registry *r)
{
	/* a restore stops before its next record; a cleanup runs to its end */
	if (r->upkeep)
		llmo_reg_pool_cancel(&r->upkeep->base);
	r->upkeep = NULL;
}

void llmo__reg_upkeep_free(struct llmo_registry *r)
{
	if (r->restore_ev)
		event_free(r->restore_ev);
	r->restore_ev = NULL;
}
