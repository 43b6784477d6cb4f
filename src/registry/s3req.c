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

#include "base/log.h"
#include "metrics/metrics.h"
#include "registry/registry_int.h"

#include "base/banned.h"

#define LOG "registry"

static const char *op_name(enum llmo_reg_s3_op op)
{
	return op == LLMO_REG_S3_FETCH ? "fetch" : op == LLMO_REG_S3_HEAD ? "head" : "put";
}

static void set_active(struct llmo_registry *r)
{
	llmo_metric_set(r->m_s3_active, NULL, (double)llmo_reg_s3jobs_pending(r->s3jobs));
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
	set_active(r);
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
	set_active(r);
	llmo__reg_wait(req);
	return true;
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
	if (!submit(req, &w, again))
		return 0;
	if (fetch)
		llmo_metric_add(r->m_s3_cache, (const char *[]){"miss"}, 1);
	return 1;
}

bool llmo__reg_s3_put(struct llmo__reg_req *req, const struct llmo_reg_s3_work *w,
		      llmo__reg_req_fn again)
{
	return req->reg->s3jobs && submit(req, w, again);
}
