/*
 * Blobs and upload sessions of the registry (registry_int.h).
 */
#include "base/common.h"

#include <unistd.h>

#include "base/log.h"
#include "registry/registry_int.h"

#include "base/banned.h"

#define LOG "registry"
/* Blobs up to this size are read and verified whole before the answer starts. */
#define SMALL_BLOB_MAX ((size_t)1 << 20)
#define OCTET "application/octet-stream"

static void add_digest_header(struct llmo__reg_req *req, const struct llmo_digest *d)
{
	char ds[LLMO_DIGEST_STR_MAX];

	llmo__reg_add_header(req, "Docker-Content-Digest", "%s", llmo_digest_str(d, ds));
}

/* Location and Range of a session (the distribution spec's "0-LAST", "0-0" when empty). */
static void add_session_headers(struct llmo__reg_req *req, const struct llmo_reg_upload *u)
{
	llmo__reg_add_header(req, "Location", "/v2/%s/blobs/uploads/%s", u->repo, u->id);
	llmo__reg_add_header(req, "Range", "0-%" PRIu64, u->size ? u->size - 1 : 0);
	llmo__reg_add_header(req, "Docker-Upload-UUID", "%s", u->id);
	llmo__reg_add_header(req, "Blob-Upload-Session-ID", "%s", u->id);
}

static void not_allowed(struct llmo__reg_req *req, const char *allow)
{
	llmo__reg_add_header(req, "Allow", "%s", allow);
	llmo__reg_error(req, 405, "UNSUPPORTED", "%s is not supported here (allowed: %s)",
			req->method_name, allow);
}

/* ---- GET, HEAD, DELETE /v2/<name>/blobs/<digest> ---- */

static void blob_get(struct llmo__reg_req *req)
{
	struct llmo_registry *r = req->reg;
	const struct llmo_reg_route *rt = &req->route;
	const char *range = llmo__reg_header(req, "Range");
	struct llmo_error err = {0};
	uint64_t size, first = 0, last = 0;
	bool hash = false;
	int fd = -1, rc;

	/* S3: a blob the cache lacks is fetched on a worker first (runs this again) */
	rc = llmo__reg_s3_need(req, rt->name, &rt->digest, true, blob_get, &err);
	if (rc == 1)
		return;
	if (!rc)
		rc = llmo_reg_blob_open(r->store, rt->name, &rt->digest, &fd, &size, &err);
	if (rc == LLMO_ENOTFOUND) {
		llmo__reg_error(req, 404, "BLOB_UNKNOWN", "blob unknown to registry");
		return;
	}
	if (rc) {
		llmo__reg_internal(req, &err);
		return;
	}
	/* S3: the cache keeps this blob's file while it is sent (store.h) */
	req->pinned = true;
	req->pin = rt->digest;
	llmo_reg_blob_pin(r->store, &rt->digest);
	add_digest_header(req, &rt->digest);
	llmo__reg_add_header(req, "Accept-Ranges", "bytes");
	llmo__reg_add_header(req, "ETag", "\"sha256:%s\"", rt->digest.hex);
	llmo__reg_add_header(req, "Cache-Control", "max-age=31536000");
	if (req->method == LLMO__REG_HEAD) {
		close(fd);
		/*
		 * A client that asks with HEAD is about to push a manifest using
		 * the blob: touching the link keeps it (and so the blob) from a
		 * pruning under way or to come (gc.h). The blob itself was just
		 * opened: no second look at it.
		 */
		llmo_reg_link_touch(r->store, rt->name, &rt->digest);
		llmo__reg_respond_head(req, 200, OCTET, size);
		return;
	}
	rc = range ? llmo_reg_range_parse(range, size, &first, &last) : LLMO_ENOTFOUND;
	if (rc == LLMO_ERANGE) {
		close(fd);
		llmo__reg_add_header(req, "Content-Range", "bytes */%" PRIu64, size);
		llmo__reg_error(req, 416, "BLOB_UNKNOWN", "range %s not satisfiable for %" PRIu64
				" bytes", range, size);
		return;
	}
	if (rc == 0) {
		/* a part cannot be checked alone: the whole blob, verified once and cached */
		if (llmo_reg_store_verifies(r->store)) {
			bool hashed;

			rc = llmo_reg_blob_check(r->store, &rt->digest, fd, &hashed, &err);
			llmo__reg_count_verified(r, hashed);
			if (rc) {
				close(fd);
				llmo__reg_internal(req, &err);
				return;
			}
		}
		llmo__reg_add_header(req, "Content-Range", "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64,
				     first, last, size);
		llmo__reg_respond_file(req, 206, OCTET, fd, first, last - first + 1, NULL);
		return;
	}
	if (size <= SMALL_BLOB_MAX) {
		/* small: read and verified before the answer starts, so a bad one gets a clean 500 */
		struct llmo_buf b;

		close(fd);
		llmo_buf_init(&b, SMALL_BLOB_MAX);
		rc = llmo_reg_blob_read_small(r->store, rt->name, &rt->digest, SMALL_BLOB_MAX, &b,
					      &err);
		if (rc) {
			llmo_buf_release(&b);
			if (rc == LLMO_ENOTFOUND)
				llmo__reg_error(req, 404, "BLOB_UNKNOWN", "blob unknown to registry");
			else
				llmo__reg_internal(req, &err);
			return;
		}
		llmo__reg_count_bytes(r, false, b.len);
		llmo__reg_respond(req, 200, OCTET, b.data, b.len);
		llmo_buf_release(&b);
		return;
	}
	if (llmo_reg_store_verifies(r->store)) {
		/* hashed as it is sent, unless verified lately and unchanged since */
		hash = !llmo_reg_blob_verified(r->store, &rt->digest, fd);
		llmo__reg_count_verified(r, hash);
	}
	llmo__reg_respond_file(req, 200, OCTET, fd, 0, size, hash ? &rt->digest : NULL);
}

/* DELETE: runs again when its turn comes and when its S3 step ends (registry_int.h). */
static void blob_delete(struct llmo__reg_req *req)
{
	struct llmo_registry *r = req->reg;
	const struct llmo_reg_route *rt = &req->route;
	struct llmo_error err = {0};
	int rc = 0;

	if (llmo__reg_records_turn(req, blob_delete))
		return;
	if (!llmo__reg_records_ended(req))
		rc = llmo_reg_blob_unlink_plan(r->store, rt->name, &rt->digest, &r->recs, &err);
	if (!rc && (rc = llmo__reg_records(req, blob_delete, &err)) == 1)
		return;
	if (rc == LLMO_ENOTFOUND)
		llmo__reg_error(req, 404, "BLOB_UNKNOWN", "blob unknown to registry");
	else if (rc)
		llmo__reg_internal(req, &err);
	else
		llmo__reg_respond(req, 202, NULL, NULL, 0);
}

void llmo__reg_blob(struct llmo__reg_req *req)
{
	const struct llmo_reg_route *rt = &req->route;

	switch (req->method) {
	case LLMO__REG_GET:
	case LLMO__REG_HEAD:
		if (llmo__reg_authorize(req, rt->name, LLMO_REG_PULL))
			blob_get(req);
		return;
	case LLMO__REG_DELETE:
		if (llmo__reg_authorize(req, rt->name, LLMO_REG_DELETE))
			blob_delete(req);
		return;
	default:
		not_allowed(req, "GET, HEAD, DELETE");
	}
}

/* ---- streaming into a session ---- */

/* The end of an upload request that fails: a request's own session goes, others stay. */
static void drop_session(struct llmo__reg_req *req)
{
	if (!req->upload)
		return;
	if (req->monolithic)
		llmo_reg_upload_cancel(req->reg->store, req->upload);
	else
		req->upload->busy = false;
	req->upload = NULL;
	llmo__reg_uploads_changed(req->reg);
}

static void write_error(struct llmo__reg_req *req, const struct llmo_error *err)
{
	drop_session(req);
	if (err->code == LLMO_ETOOBIG)
		llmo__reg_error(req, 413, "SIZE_INVALID", "%s", err->msg);
	else
		llmo__reg_internal(req, err);
}

static int upload_data(struct llmo__reg_req *req, const char *p, size_t n)
{
	struct llmo_error err = {0};

	if (llmo_reg_upload_write(req->reg->store, req->upload, p, n, &err)) {
		write_error(req, &err);
		return -1;
	}
	llmo__reg_count_bytes(req->reg, true, n);
	return 0;
}

static void upload_abort(struct llmo__reg_req *req)
{
	if (req->upload)
		LLMO_INFO(LOG, "upload interrupted", "id=%s repo=%s size=%" PRIu64 " kept=%s",
			  req->upload->id, req->upload->repo, req->upload->size,
			  req->monolithic ? "no" : "yes");
	drop_session(req);
}

/* The answer to a finished session: 201, or the error of rc. */
static void finished(struct llmo__reg_req *req, const char *repo, uint64_t size, int rc,
		     const struct llmo_error *err);

/*
 * (S3) The worker stored the blob: into the directory, then the link, which
 * is a record change made in its turn (as a mount's), so that a DELETE of
 * the blob never falls between S3's link and the directory's; then answer.
 * The blob enters the directory in the turn too: a collection (autoCleanup
 * holds the turn while it sweeps, upkeep.c) never finds it there unlinked.
 * Runs again when the turn comes and when the link's S3 step ends.
 */
static void finish_stored(struct llmo__reg_req *req)
{
	struct llmo_registry *r = req->reg;
	struct llmo_reg_upload *u = req->upload;
	struct llmo_error err = {0};
	int rc;

	if (u && req->s3_done) { /* the blob's PUT ended */
		req->s3_done = false;
		if ((rc = req->s3_rc)) {
			err = req->s3_err;
			memcpy(req->up_repo, u->repo, sizeof(req->up_repo));
			req->up_size = u->size;
			req->upload = NULL;
			llmo_reg_upload_cancel(r->store, u);
			llmo__reg_uploads_changed(r);
			finished(req, req->up_repo, req->up_size, rc, &err);
			return;
		}
	}
	if (!llmo__reg_records_ended(req)) {
		if (llmo__reg_records_turn(req, finish_stored))
			return;
		if (u) {
			memcpy(req->up_repo, u->repo, sizeof(req->up_repo));
			req->up_size = u->size;
			req->upload = NULL;
			rc = llmo_reg_upload_commit(r->store, u, &req->digest,
						    LLMO_REG_COMMIT_MIRRORED | LLMO_REG_COMMIT_NO_LINK,
						    &err);
			llmo__reg_uploads_changed(r);
			if (rc) {
				finished(req, req->up_repo, req->up_size, rc, &err);
				return;
			}
		}
		/* nothing to plan when the repository links the blob already */
		if ((rc = llmo_reg_blob_link_plan(r->store, req->up_repo, &req->digest, &r->recs,
						  &err))) {
			finished(req, req->up_repo, req->up_size, rc, &err);
			return;
		}
	}
	if ((rc = llmo__reg_records(req, finish_stored, &err)) == 1)
		return;
	finished(req, req->up_repo, req->up_size, rc, &err);
}

/*
 * (S3) Verifies the session and stores it in S3 on a worker: true when the
 * worker has it (finish_stored answers), false when answered already or
 * when the caller must finish in the loop (no worker: *inline set).
 */
static bool finish_async(struct llmo__reg_req *req, bool *inline_)
{
	struct llmo_registry *r = req->reg;
	struct llmo_reg_upload *u = req->upload;
	char dst[PATH_MAX], repo[LLMO_REG_NAME_MAX + 1];
	struct llmo_error err = {0};
	int rc;

	*inline_ = false;
	memcpy(repo, u->repo, sizeof(repo));
	if ((rc = llmo_reg_upload_seal(r->store, u, &req->digest, dst, &err))) {
		req->upload = NULL; /* the session has ended */
		llmo__reg_uploads_changed(r);
		finished(req, repo, 0, rc, &err);
		return false;
	}
	struct llmo_reg_s3_work w = {.op = LLMO_REG_S3_PUT,
				     .root = llmo_reg_store_root(r->store),
				     .path = dst,
				     .digest = req->digest,
				     .fd = u->fd,
				     .size = u->size};

	/* the session stays the request's (busy) until the worker is done */
	if (llmo__reg_s3_put(req, &w, finish_stored))
		return true;
	*inline_ = true;
	return false;
}

/* Completes the session as the blob req->digest: 201, or the error. */
static void finish(struct llmo__reg_req *req)
{
	struct llmo_registry *r = req->reg;
	struct llmo_reg_upload *u = req->upload;
	char repo[LLMO_REG_NAME_MAX + 1];
	struct llmo_error err = {0};
	uint64_t size = u->size;
	bool inline_ = true;
	int rc;

	if (r->s3jobs && (finish_async(req, &inline_) || !inline_))
		return;
	memcpy(repo, u->repo, sizeof(repo));
	/* the session ends here whatever happens */
	req->upload = NULL;
	/* sealed already when finish_async found no worker: _commit does the rest */
	rc = r->s3jobs ? llmo_reg_upload_commit(r->store, u, &req->digest, 0, &err)
		       : llmo_reg_upload_finish(r->store, u, &req->digest, &err);
	llmo__reg_uploads_changed(r);
	finished(req, repo, size, rc, &err);
}

static void finished(struct llmo__reg_req *req, const char *repo, uint64_t size, int rc,
		     const struct llmo_error *err)
{
	if (rc == LLMO_EINVALID_OBJECT) {
		llmo__reg_error(req, 400, "DIGEST_INVALID", "%s", err->msg);
		return;
	}
	if (rc) {
		llmo__reg_internal(req, err);
		return;
	}
	LLMO_INFO(LOG, "blob stored", "repo=%s digest=sha256:%s size=%" PRIu64 " tenant=%s",
		  repo, req->digest.hex, size, req->who ? req->who->tenant : "-");
	llmo__reg_add_header(req, "Location", "/v2/%s/blobs/sha256:%s", repo, req->digest.hex);
	add_digest_header(req, &req->digest);
	llmo__reg_respond(req, 201, NULL, NULL, 0);
}

static void put_end(struct llmo__reg_req *req)
{
	finish(req);
}

static void patch_end(struct llmo__reg_req *req)
{
	struct llmo_reg_upload *u = req->upload;

	u->busy = false;
	req->upload = NULL;
	add_session_headers(req, u);
	llmo__reg_respond(req, 202, NULL, NULL, 0);
}

/*
 * Reads ?digest= into req->digest: 1 when given, 0 when absent, -1 after
 * answering 400.
 */
static int query_digest(struct llmo__reg_req *req, const char *key)
{
	char v[LLMO_DIGEST_TEXT_MAX + 1];
	struct llmo_error err = {0};
	int rc = llmo_reg_query_get(req->query, req->query_len, key, v, sizeof(v));

	if (rc == 0)
		return 0;
	if (rc < 0 || llmo_digest_parse(v, strlen(v), &req->digest, &err)) {
		llmo__reg_error(req, 400, "DIGEST_INVALID", "%s",
				rc < 0 ? "malformed digest parameter" : err.msg);
		return -1;
	}
	return 1;
}

/* A body larger than the blob cap is refused before it is read. */
static bool size_ok(struct llmo__reg_req *req)
{
	uint64_t max = llmo_reg_store_blob_max(req->reg->store);

	if (req->content_length > 0 && (uint64_t)req->content_length > max) {
		llmo__reg_error(req, 413, "SIZE_INVALID", "blob larger than %" PRIu64 " bytes", max);
		return false;
	}
	return true;
}

/* ---- POST /v2/<name>/blobs/uploads/ ---- */

/* ?mount=DIGEST&from=REPO: 1 when mounted (answered 201), 0 to fall back to an upload. */
static int try_mount(struct llmo__reg_req *req)
{
	struct llmo_registry *r = req->reg;
	const char *name = req->route.name;
	char from[LLMO_REG_NAME_MAX + 2];
	struct llmo_error err = {0};
	int rc;

	if ((rc = query_digest(req, "mount")) <= 0)
		return rc < 0 ? 1 : 0;
	if (llmo_reg_query_get(req->query, req->query_len, "from", from, sizeof(from)) != 1 ||
	    !llmo_reg_name_valid(from, strlen(from)))
		return 0;
	/* only from where the caller may pull: a mount must not reveal other tenants' blobs */
	if (!req->who || !llmo_reg_principal_allows(req->who, from, LLMO_REG_PULL))
		return 0;
	/* the link's S3 write has ended: this runs again to finish it */
	if (!llmo__reg_records_ended(req)) {
		/* S3: whether it has a blob the cache lacks, asked on a worker (runs this again) */
		if ((rc = llmo__reg_s3_need(req, from, &req->digest, false, llmo__reg_uploads,
					    &err)))
			return rc == 1 ? 1 : 0;
		if (llmo_reg_blob_stat(r->store, from, &req->digest, NULL))
			return 0;
		/* the link is a record change: written to S3 on a worker, in its turn */
		if (llmo__reg_records_turn(req, llmo__reg_uploads))
			return 1;
		if ((rc = llmo_reg_blob_link_plan(r->store, name, &req->digest, &r->recs, &err))) {
			llmo__reg_internal(req, &err);
			return 1;
		}
	}
	if ((rc = llmo__reg_records(req, llmo__reg_uploads, &err)) == 1)
		return 1;
	if (rc) {
		llmo__reg_internal(req, &err);
		return 1;
	}
	LLMO_INFO(LOG, "blob mounted", "repo=%s from=%s digest=sha256:%s", name, from,
		  req->digest.hex);
	llmo__reg_add_header(req, "Location", "/v2/%s/blobs/sha256:%s", name, req->digest.hex);
	add_digest_header(req, &req->digest);
	llmo__reg_respond(req, 201, NULL, NULL, 0);
	return 1;
}

static bool start_session(struct llmo__reg_req *req)
{
	struct llmo_error err = {0};
	int rc = llmo_reg_upload_start(req->reg->store, req->route.name, &req->upload, &err);

	if (rc == LLMO_EAGAIN) {
		llmo__reg_add_header(req, "Retry-After", "60");
		llmo__reg_error(req, 429, "TOOMANYREQUESTS", "%s", err.msg);
		return false;
	}
	if (rc) {
		llmo__reg_internal(req, &err);
		return false;
	}
	llmo__reg_uploads_changed(req->reg);
	return true;
}

void llmo__reg_uploads(struct llmo__reg_req *req)
{
	int rc;

	if (req->method != LLMO__REG_POST) {
		not_allowed(req, "POST");
		return;
	}
	if (!llmo__reg_authorize(req, req->route.name, LLMO_REG_PUSH))
		return;
	if (try_mount(req))
		return;
	if ((rc = query_digest(req, "digest")) < 0 || !size_ok(req))
		return;
	if (!start_session(req))
		return;
	if (rc == 0) {
		/* a session for PATCH and PUT; a body without ?digest= is not taken */
		struct llmo_reg_upload *u = req->upload;

		req->upload = NULL;
		add_session_headers(req, u);
		llmo__reg_respond(req, 202, NULL, NULL, 0);
		return;
	}
	/* monolithic: the body is the blob; the session is this request's own */
	req->monolithic = true;
	req->has_digest = true;
	req->upload->busy = true;
	req->on_data = upload_data;
	req->on_end = put_end;
	req->on_abort = upload_abort;
}

/* ---- /v2/<name>/blobs/uploads/<id> ---- */

/*
 * Checks a chunk's Content-Range against the session (and Content-Length):
 * true to go on, false after answering 416 or 400.
 */
static bool chunk_range_ok(struct llmo__reg_req *req, struct llmo_reg_upload *u)
{
	const char *cr = llmo__reg_header(req, "Content-Range");
	uint64_t first, last;

	if (!cr)
		return true;
	if (llmo_reg_content_range_parse(cr, &first, &last) || first != u->size) {
		add_session_headers(req, u);
		llmo__reg_error(req, 416, "BLOB_UPLOAD_INVALID",
				"chunk %s does not start at the upload's next byte %" PRIu64, cr,
				u->size);
		return false;
	}
	if (req->content_length >= 0 && (uint64_t)req->content_length != last - first + 1) {
		llmo__reg_error(req, 400, "SIZE_INVALID",
				"Content-Length %" PRId64 " does not match Content-Range %s",
				req->content_length, cr);
		return false;
	}
	return true;
}

void llmo__reg_upload(struct llmo__reg_req *req)
{
	struct llmo_registry *r = req->reg;
	const struct llmo_reg_route *rt = &req->route;
	struct llmo_error err = {0};
	struct llmo_reg_upload *u = NULL;
	int rc;

	if (req->method != LLMO__REG_GET && req->method != LLMO__REG_PATCH &&
	    req->method != LLMO__REG_PUT && req->method != LLMO__REG_DELETE) {
		not_allowed(req, "GET, PATCH, PUT, DELETE");
		return;
	}
	if (!llmo__reg_authorize(req, rt->name, LLMO_REG_PUSH))
		return;
	rc = llmo_reg_upload_get(r->store, rt->name, rt->upload_id, &u, &err);
	if (rc == LLMO_ENOTFOUND) {
		llmo__reg_error(req, 404, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry");
		return;
	}
	if (rc == LLMO_EAGAIN) {
		llmo__reg_error(req, 429, "TOOMANYREQUESTS", "%s", err.msg);
		return;
	}
	if (rc) {
		llmo__reg_internal(req, &err);
		return;
	}
	llmo__reg_uploads_changed(r);
	if (u->busy) {
		/* another request is writing to it: chunks must come one after the other */
		add_session_headers(req, u);
		llmo__reg_error(req, 416, "BLOB_UPLOAD_INVALID",
				"another request is writing to this upload");
		return;
	}
	switch (req->method) {
	case LLMO__REG_GET:
		add_session_headers(req, u);
		llmo__reg_respond(req, 204, NULL, NULL, 0);
		return;
	case LLMO__REG_DELETE:
		llmo_reg_upload_cancel(r->store, u);
		llmo__reg_uploads_changed(r);
		llmo__reg_respond(req, 204, NULL, NULL, 0);
		return;
	case LLMO__REG_PATCH:
		if (!chunk_range_ok(req, u) || !size_ok(req))
			return;
		req->upload = u;
		u->busy = true;
		req->on_data = upload_data;
		req->on_end = patch_end;
		req->on_abort = upload_abort;
		return;
	default: /* PUT */
		if ((rc = query_digest(req, "digest")) < 0)
			return;
		if (rc == 0) {
			llmo__reg_error(req, 400, "DIGEST_INVALID",
					"the closing PUT needs ?digest= of the whole blob");
			return;
		}
		if (req->has_body && (!chunk_range_ok(req, u) || !size_ok(req)))
			return;
		req->has_digest = true;
		req->upload = u;
		u->busy = true;
		req->on_data = upload_data;
		req->on_end = put_end;
		req->on_abort = upload_abort;
		return;
	}
}
