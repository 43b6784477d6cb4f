/*
 * storageType s3: the requests' blob transfers on worker threads
 * (registry_int.h, s3jobs.h). The handler asks for what it needs
 * (llmo__reg_s3_need) and, when a transfer must be made, returns without
 * answering; the transfer's end runs the handler again on the loop, which
 * then finds the blob cached (or its size known) and answers as with local
 * storage. Handlers are written so that running them again up to that
 * point changes nothing.
 */
#include "base/common.h"

#include <event2/event.h>

#include "base/log.h"
#include "metrics/metrics.h"
#include "registry/registry_int.h"

#include "base/banned.h"

#define LOG "registry"

static const char *op_name(enum llmo_reg_s3_op op)
{
	switch (op) {
	case LLMO_REG_S3_FETCH:
		return "fetch";
	case LLMO_REG_S3_HEAD:
		return "head";
	case LLMO_REG_S3_PUT:
		return "put";
	case LLMO_REG_S3_RECORDS:
		break;
	}
	return "records";
}

void llmo__reg_s3_active_changed(struct llmo_registry *r)
{
	llmo_metric_set(r->m_s3_active, NULL, (double)llmo_reg_s3jobs_pending(r->s3jobs));
}

/* One fetch of a blob from S3, for every request that needs it meanwhile. */
struct llmo__reg_fetch {
	struct llmo_registry *r;
	struct llmo_reg_s3_job *job;
	struct llmo_digest d;
	struct llmo__reg_req **waiters; /* at most one request per connection */
	size_t n, cap;
};

static void fetch_free(struct llmo__reg_fetch *f)
{
	llmo_hmap_del(&f->r->s3_fetches, f->d.hex, NULL);
	free(f->waiters);
	free(f);
}

static int fetch_join(struct llmo__reg_fetch *f, struct llmo__reg_req *req)
{
	if (f->n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 4;
		struct llmo__reg_req **w;

		if (cap > LLMO_REGISTRY_CONNS_MAX || !(w = realloc(f->waiters, cap * sizeof(*w))))
			return LLMO_ENOMEM;
		f->waiters = w;
		f->cap = cap;
	}
	f->waiters[f->n++] = req;
	req->s3_fetch = f;
	return 0;
}

/* The shared fetch ended: every request that waited for it runs again. */
static void fetch_done(void *arg, int rc, uint64_t size, const struct llmo_error *err)
{
	struct llmo__reg_fetch *f = arg;
	struct llmo_registry *r = f->r;
	struct llmo__reg_req **w = f->waiters;
	size_t n = f->n;

	LLMO_DEBUG(LOG, "S3 transfer done", "op=fetch digest=sha256:%s rc=%d waiters=%zu",
		   f->d.hex, rc, n);
	/* each waiter is on a connection of its own: resuming one never frees another */
	f->waiters = NULL;
	for (size_t i = 0; i < n; i++) {
		w[i]->s3_fetch = NULL;
		w[i]->s3_done = true;
		w[i]->s3_op = LLMO_REG_S3_FETCH;
		w[i]->s3_digest = f->d;
		w[i]->s3_rc = rc;
		if (rc)
			w[i]->s3_err = *err;
	}
	fetch_free(f);
	llmo__reg_s3_active_changed(r);
	for (size_t i = 0; i < n; i++)
		llmo__reg_resume(w[i], w[i]->s3_again);
	free(w);
}

bool llmo__reg_s3_waiting(const struct llmo__reg_req *req)
{
	const struct llmo_registry *r = req->reg;

	return req->s3_job || req->s3_fetch || req->queue ||
	       (r->rec_holder == req && (r->rec_job || r->upkeep));
}

void llmo__reg_s3_abandon(struct llmo__reg_req *req)
{
	struct llmo__reg_fetch *f = req->s3_fetch;

	llmo_reg_s3_job_cancel(req->s3_job);
	req->s3_job = NULL;
	llmo__reg_records_release(req);
	llmo__reg_queue_leave(req);
	if (!f)
		return;
	req->s3_fetch = NULL;
	for (size_t i = 0; i < f->n; i++)
		if (f->waiters[i] == req) {
			f->waiters[i] = f->waiters[--f->n];
			break;
		}
	if (f->n == 0) {
		/* nobody wants the blob now: the download goes on, unreported */
		llmo_reg_s3_job_cancel(f->job);
		fetch_free(f);
	}
}

void llmo__reg_s3_release(struct llmo_registry *r)
{
	llmo_hmap_release(&r->s3_fetches, NULL);
}

static void on_done(void *arg, int rc, uint64_t size, const struct llmo_error *err)
{
	struct llmo__reg_req *req = arg;
	struct llmo_registry *r = req->reg;

	req->s3_job = NULL;
	req->s3_done = true;
	req->s3_rc = rc;
	if (rc)
		req->s3_err = *err;
	else if (req->s3_op == LLMO_REG_S3_HEAD)
		llmo_reg_store_s3_known(r->store, &req->s3_digest, size);
	LLMO_DEBUG(LOG, "S3 transfer done", "op=%s digest=sha256:%s rc=%d", op_name(req->s3_op),
		   req->s3_digest.hex, rc);
	llmo__reg_s3_active_changed(r);
	llmo__reg_resume(req, req->s3_again);
}

static bool submit(struct llmo__reg_req *req, const struct llmo_reg_s3_work *w,
		   llmo__reg_req_fn again)
{
	struct llmo_registry *r = req->reg;
	struct llmo_error err = {0};

	if (llmo_reg_s3jobs_submit(r->s3jobs, w, on_done, req, &req->s3_job, &err)) {
		/* the store can still do it, in the loop as before */
		LLMO_WARN(LOG, "S3 transfer made in the event loop", "op=%s error=\"%s\"",
			  op_name(w->op), err.msg);
		return false;
	}
	req->s3_op = w->op;
	req->s3_digest = w->digest;
	req->s3_again = again;
	req->s3_done = false;
	/* tests wait for this line to know a transfer is in progress */
	LLMO_INFO(LOG, "S3 transfer started", "op=%s digest=sha256:%s queued=%zu",
		  op_name(w->op), w->digest.hex, llmo_reg_s3jobs_pending(r->s3jobs));
	llmo__reg_s3_active_changed(r);
	llmo__reg_wait(req);
	return true;
}

/*
 * Waits for the fetch of w's blob: joins the one in progress, or starts
 * it. 0, or non-zero when neither could be done.
 */
static int fetch_wait(struct llmo__reg_req *req, const struct llmo_reg_s3_work *w,
		      llmo__reg_req_fn again)
{
	struct llmo_registry *r = req->reg;
	struct llmo__reg_fetch *f = llmo_hmap_get(&r->s3_fetches, w->digest.hex);
	struct llmo_error err = {0};

	if (f) {
		if (fetch_join(f, req))
			return LLMO_ENOMEM;
		LLMO_INFO(LOG, "S3 transfer joined", "op=fetch digest=sha256:%s waiters=%zu",
			  w->digest.hex, f->n);
	} else {
		if (!(f = calloc(1, sizeof(*f))))
			return LLMO_ENOMEM;
		f->r = r;
		f->d = w->digest;
		if (llmo_hmap_put(&r->s3_fetches, f->d.hex, f, NULL) || fetch_join(f, req)) {
			fetch_free(f);
			req->s3_fetch = NULL;
			return LLMO_ENOMEM;
		}
		if (llmo_reg_s3jobs_submit(r->s3jobs, w, fetch_done, f, &f->job, &err)) {
			LLMO_WARN(LOG, "S3 transfer made in the event loop", "op=fetch error=\"%s\"",
				  err.msg);
			fetch_free(f);
			req->s3_fetch = NULL;
			return err.code;
		}
		/* tests wait for this line to know a transfer is in progress */
		LLMO_INFO(LOG, "S3 transfer started", "op=fetch digest=sha256:%s queued=%zu",
			  w->digest.hex, llmo_reg_s3jobs_pending(r->s3jobs));
		llmo__reg_s3_active_changed(r);
	}
	req->s3_again = again;
	req->s3_done = false;
	llmo__reg_wait(req);
	return 0;
}

int llmo__reg_s3_need(struct llmo__reg_req *req, const char *repo, const struct llmo_digest *d,
		      bool fetch, llmo__reg_req_fn again, struct llmo_error *err)
{
	struct llmo_registry *r = req->reg;
	enum llmo_reg_s3_op op = fetch ? LLMO_REG_S3_FETCH : LLMO_REG_S3_HEAD;
	struct llmo_reg_s3_work w = {.op = op, .digest = *d, .fd = -1};
	char path[PATH_MAX];

	if (!r->s3jobs)
		return 0;
	if (repo && !llmo_reg_blob_linked(r->store, repo, d))
		return llmo_error_set(err, LLMO_ENOTFOUND, "blob unknown to repository");
	if (req->s3_done && req->s3_op == op && llmo_digest_equal(&req->s3_digest, d)) {
		req->s3_done = false;
		if (req->s3_rc)
			*err = req->s3_err;
		return req->s3_rc;
	}
	if (llmo_reg_blob_cached(r->store, d)) {
		if (fetch)
			llmo_metric_add(r->m_s3_cache, (const char *[]){"hit"}, 1);
		return 0;
	}
	if (!fetch && llmo_reg_blob_s3_known(r->store, d))
		return 0;
	if (llmo_reg_blob_path(r->store, d, path, err))
		return err->code;
	w.root = llmo_reg_store_root(r->store);
	w.path = path;
	w.max = llmo_reg_store_blob_max(r->store);
	if (!fetch)
		return submit(req, &w, again) ? 1 : 0;
	if (fetch_wait(req, &w, again))
		return 0; /* no worker: the store fetches it in the loop */
	llmo_metric_add(r->m_s3_cache, (const char *[]){"miss"}, 1);
	return 1;
}

bool llmo__reg_s3_put(struct llmo__reg_req *req, const struct llmo_reg_s3_work *w,
		      llmo__reg_req_fn again)
{
	return req->reg->s3jobs && submit(req, w, again);
}

/* ---- waiting queues (registry_int.h) ---- */

void llmo__reg_queue_push(struct llmo__reg_queue *q, struct llmo__reg_req *req)
{
	req->queue = q;
	req->queue_next = NULL;
	if (q->tail)
		q->tail->queue_next = req;
	else
		q->head = req;
	q->tail = req;
}

struct llmo__reg_req *llmo__reg_queue_pop(struct llmo__reg_queue *q)
{
	struct llmo__reg_req *req = q->head;

	if (req)
		llmo__reg_queue_leave(req);
	return req;
}

void llmo__reg_queue_leave(struct llmo__reg_req *req)
{
	struct llmo__reg_queue *q = req->queue;
	struct llmo__reg_req **pp, *prev = NULL;

	if (!q)
		return;
	for (pp = &q->head; *pp && *pp != req; pp = &(*pp)->queue_next)
		prev = *pp;
	if (*pp)
		*pp = req->queue_next;
	if (q->tail == req)
		q->tail = prev;
	req->queue = NULL;
	req->queue_next = NULL;
}

/* ---- record changes, one at a time (registry_int.h) ---- */

/* The turn is free: the next request waiting gets it, from the loop (never inside an answer). */
static void turn_free(struct llmo_registry *r)
{
	llmo_reg_recs_release(&r->recs);
	r->rec_busy = false;
	r->rec_holder = NULL;
	if (r->rec_queue.head)
		event_active(r->rec_ev, EV_TIMEOUT, 1);
}

static void on_turn(evutil_socket_t fd, short what, void *arg)
{
	struct llmo_registry *r = arg;
	struct llmo__reg_req *req;

	(void)fd;
	(void)what;
	if (r->rec_busy || !(req = llmo__reg_queue_pop(&r->rec_queue)))
		return;
	r->rec_busy = true;
	r->rec_holder = req;
	llmo__reg_resume(req, req->rec_again);
}

void llmo__reg_records_hold(struct llmo_registry *r)
{
	llmo_reg_recs_release(&r->recs);
	r->rec_busy = true;
	r->rec_holder = NULL;
}

void llmo__reg_records_end(struct llmo_registry *r)
{
	turn_free(r);
}

int llmo__reg_records_init(struct llmo_registry *r, struct llmo_error *err)
{
	if (!(r->rec_ev = event_new(r->base, -1, 0, on_turn, r)))
		return llmo_error_set(err, LLMO_ENOMEM, "cannot make an event");
	return 0;
}

void llmo__reg_records_free(struct llmo_registry *r)
{
	if (r->rec_ev)
		event_free(r->rec_ev);
	r->rec_ev = NULL;
	llmo_reg_recs_release(&r->recs);
}

int llmo__reg_records_turn(struct llmo__reg_req *req, llmo__reg_req_fn again)
{
	struct llmo_registry *r = req->reg;

	/* local storage: every change is made whole in the loop, from an empty plan */
	if (!r->s3jobs) {
		llmo_reg_recs_release(&r->recs);
		return 0;
	}
	if (r->rec_busy && r->rec_holder == req)
		return 0;
	if (!r->rec_busy && !r->rec_queue.head) {
		r->rec_busy = true;
		r->rec_holder = req;
		llmo_reg_recs_release(&r->recs);
		return 0;
	}
	if (req->queue != &r->rec_queue) {
		char q[LLMO_LOG_QUOTE_MAX];

		/* tests wait for this line to know a change waits behind another */
		LLMO_INFO(LOG, "record change queued", "method=%s path=%s", req->method_name,
			  llmo_log_quote(q, sizeof(q), req->path));
		llmo__reg_queue_push(&r->rec_queue, req);
	}
	req->rec_again = again;
	llmo__reg_wait(req);
	return 1;
}

void llmo__reg_records_release(struct llmo__reg_req *req)
{
	struct llmo_registry *r = req->reg;

	if (req->queue == &r->rec_queue) {
		llmo__reg_queue_leave(req);
		return;
	}
	if (!r->rec_busy || r->rec_holder != req)
		return;
	if (r->rec_job || r->upkeep)
		/* records_done makes the change and frees the turn; an upkeep frees it when it ends */
		r->rec_holder = NULL;
	else
		turn_free(r);
}

bool llmo__reg_records_ended(const struct llmo__reg_req *req)
{
	return req->s3_done && req->s3_op == LLMO_REG_S3_RECORDS;
}

/* The directory's steps of the change, up to done (those S3 took). */
static int records_apply(struct llmo_registry *r, size_t done, int rc, struct llmo_error *err)
{
	struct llmo_error ignored = {0};
	int arc = llmo_reg_recs_apply(r->store, &r->recs, done, rc ? &ignored : err);

	if (arc && rc)
		LLMO_WARN(LOG, "record change not written to the directory", "error=\"%s\"",
			  ignored.msg);
	llmo_reg_recs_release(&r->recs);
	return rc ? rc : arc;
}

static void records_done(void *arg, int rc, uint64_t size, const struct llmo_error *err)
{
	struct llmo_registry *r = arg;
	struct llmo__reg_req *req = r->rec_holder;

	r->rec_job = NULL;
	LLMO_DEBUG(LOG, "S3 transfer done", "op=records steps=%" PRIu64 " rc=%d", size, rc);
	llmo__reg_s3_active_changed(r);
	if (!req) {
		/* its request went away: the change is made all the same, as S3 took it */
		struct llmo_error e = {0};

		if (records_apply(r, (size_t)size, 0, &e))
			LLMO_WARN(LOG, "record change not written to the directory",
				  "error=\"%s\"", e.msg);
		turn_free(r);
		return;
	}
	req->s3_done = true;
	req->s3_op = LLMO_REG_S3_RECORDS;
	req->s3_size = size;
	req->s3_rc = rc;
	if (rc)
		req->s3_err = *err;
	llmo__reg_resume(req, req->s3_again);
}

int llmo__reg_records(struct llmo__reg_req *req, llmo__reg_req_fn again, struct llmo_error *err)
{
	struct llmo_registry *r = req->reg;
	struct llmo_reg_s3_work w = {.op = LLMO_REG_S3_RECORDS, .fd = -1, .recs = &r->recs};
	struct llmo_error e = {0};
	size_t done = r->recs.len;
	int rc = 0;

	if (llmo__reg_records_ended(req)) {
		req->s3_done = false;
		done = (size_t)req->s3_size;
		if ((rc = req->s3_rc))
			*err = req->s3_err;
	} else if (r->s3jobs && r->recs.len) {
		w.root = w.path = llmo_reg_store_root(r->store);
		if (!llmo_reg_s3jobs_submit(r->s3jobs, &w, records_done, r, &r->rec_job, &e)) {
			req->s3_again = again;
			req->s3_done = false;
			/* tests wait for this line to know a change is in progress */
			LLMO_INFO(LOG, "S3 transfer started", "op=records steps=%zu queued=%zu",
				  r->recs.len, llmo_reg_s3jobs_pending(r->s3jobs));
			llmo__reg_s3_active_changed(r);
			llmo__reg_wait(req);
			return 1;
		}
		LLMO_WARN(LOG, "S3 transfer made in the event loop", "op=records error=\"%s\"",
			  e.msg);
		rc = llmo_reg_recs_mirror(llmo_reg_store_s3(r->store), w.root, &r->recs, &done, err);
	}
	return records_apply(r, done, rc, err);
}
