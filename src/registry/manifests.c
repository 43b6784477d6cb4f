/*
 * Manifests, tags, referrers and the catalog of the registry (registry_int.h).
 */
#include "base/common.h"

#include <ctype.h>
#include <jansson.h>

#include "base/json.h"
#include "base/log.h"
#include "base/str.h"
#include "registry/gc.h"
#include "registry/manifest.h"
#include "registry/registry_int.h"

#include "base/banned.h"

#define LOG "registry"
/* Referrers listed in one answer (each costs a manifest read). */
#define REFERRERS_ANSWER_MAX 1000
#define JSON_TYPE "application/json"

static void not_allowed(struct llmo__reg_req *req, const char *allow)
{
	llmo__reg_add_header(req, "Allow", "%s", allow);
	llmo__reg_error(req, 405, "UNSUPPORTED", "%s is not supported here (allowed: %s)",
			req->method_name, allow);
}

static void respond_json(struct llmo__reg_req *req, int status, const char *type, json_t *v)
{
	char *text = v ? llmo_json_dump_compact(v) : NULL;

	json_decref(v);
	if (!text) {
		llmo__reg_error(req, 500, "UNKNOWN", "out of memory");
		return;
	}
	llmo__reg_respond(req, status, type, text, strlen(text));
	free(text);
}

/* ---- GET, HEAD, DELETE /v2/<name>/manifests/<reference> ---- */

static void manifest_get(struct llmo__reg_req *req)
{
	struct llmo_registry *r = req->reg;
	const struct llmo_reg_route *rt = &req->route;
	char media_type[LLMO_REG_MEDIA_TYPE_MAX + 1], ds[LLMO_DIGEST_STR_MAX];
	struct llmo_digest d = rt->digest;
	struct llmo_error err = {0};
	struct llmo_buf b;
	uint64_t size;
	int rc;

	rc = llmo_reg_manifest_resolve(r->store, rt->name, rt->by_digest ? NULL : rt->tag, &d,
				       media_type, &err);
	if (rc == LLMO_ENOTFOUND) {
		llmo__reg_error(req, 404, "MANIFEST_UNKNOWN", "manifest unknown to registry");
		return;
	}
	/* S3: a manifest the cache lacks is fetched on a worker first (runs this again) */
	if (!rc && (rc = llmo__reg_s3_need(req, NULL, &d, true, manifest_get, &err)) == 1)
		return;
	if (rc == LLMO_ENOTFOUND) {
		llmo__reg_error(req, 404, "MANIFEST_UNKNOWN", "manifest unknown to registry");
		return;
	}
	if (rc) {
		llmo__reg_internal(req, &err);
		return;
	}
	llmo__reg_add_header(req, "Docker-Content-Digest", "%s", llmo_digest_str(&d, ds));
	llmo__reg_add_header(req, "ETag", "\"%s\"", ds);
	if (req->method == LLMO__REG_HEAD) {
		if (llmo_reg_blob_stat(r->store, NULL, &d, &size)) {
			llmo__reg_error(req, 404, "MANIFEST_UNKNOWN", "manifest unknown to registry");
			return;
		}
		llmo__reg_respond_head(req, 200, media_type, size);
		return;
	}
	llmo_buf_init(&b, LLMO_REGISTRY_MANIFEST_MAX);
	rc = llmo_reg_blob_read_small(r->store, NULL, &d, LLMO_REGISTRY_MANIFEST_MAX, &b, &err);
	if (rc == LLMO_ENOTFOUND)
		llmo__reg_error(req, 404, "MANIFEST_UNKNOWN", "manifest unknown to registry");
	else if (rc)
		llmo__reg_internal(req, &err);
	else
		llmo__reg_respond(req, 200, media_type, b.data, b.len);
	llmo_buf_release(&b);
}

static void manifest_deleted(struct llmo__reg_req *req)
{
	llmo__reg_respond(req, 202, NULL, NULL, 0);
}

/* Runs again when its turn comes and when its S3 steps end (registry_int.h). */
static void manifest_delete(struct llmo__reg_req *req)
{
	struct llmo_registry *r = req->reg;
	const struct llmo_reg_route *rt = &req->route;
	struct llmo_error err = {0};
	int rc = 0;

	if (llmo__reg_records_turn(req, manifest_delete))
		return;
	if (!llmo__reg_records_ended(req)) {
		/* what a collection after it needs (the revision goes with the delete) */
		req->del_stored_ns = rt->by_digest ? llmo_reg_revision_stored_ns(r->store, rt->name,
										  &rt->digest)
						   : -1;
		rc = rt->by_digest
			     ? llmo_reg_manifest_delete_plan(r->store, rt->name, &rt->digest,
							     &r->recs, &err)
			     : llmo_reg_tag_delete_plan(r->store, rt->name, rt->tag, &r->recs, &err);
	}
	if (rc == LLMO_ENOTFOUND) {
		llmo__reg_error(req, 404, "MANIFEST_UNKNOWN", "manifest unknown to registry");
		return;
	}
	if (!rc && (rc = llmo__reg_records(req, manifest_delete, &err)) == 1)
		return;
	if (rc) {
		llmo__reg_internal(req, &err);
		return;
	}
	LLMO_INFO(LOG, "manifest deleted", "repo=%s reference=%s%s tenant=%s", rt->name,
		  rt->by_digest ? "sha256:" : "", rt->by_digest ? rt->digest.hex : rt->tag,
		  req->who ? req->who->tenant : "-");
	/* a tag's DELETE leaves its manifest, and so every blob it uses */
	if (r->gc_on_delete && rt->by_digest && req->del_stored_ns >= 0 &&
	    llmo__reg_cleanup(req,
			      &(struct llmo_reg_cleanup_of){.digest = rt->digest,
							    .deleted = true,
							    .stored_ns = req->del_stored_ns},
			      manifest_deleted) == 1)
		return; /* answered when the collection ends */
	manifest_deleted(req);
}

/* ---- PUT /v2/<name>/manifests/<reference> ---- */

static int manifest_data(struct llmo__reg_req *req, const char *p, size_t n)
{
	if (llmo_buf_append(&req->body, p, n) == 0)
		return 0;
	llmo__reg_error(req, 413, "MANIFEST_INVALID", "manifest larger than %zu bytes",
			(size_t)LLMO_REGISTRY_MANIFEST_MAX);
	return -1;
}

/* MANIFEST_BLOB_UNKNOWN with the digest in detail, as the spec shows it. */
static void blob_unknown(struct llmo__reg_req *req, const struct llmo_digest *d, const char *what)
{
	char ds[LLMO_DIGEST_STR_MAX];
	json_t *v = json_pack("{s:[{s:s,s:s,s:{s:s}}]}", "errors", "code", "MANIFEST_BLOB_UNKNOWN",
			      "message", what, "detail", "digest", llmo_digest_str(d, ds));

	respond_json(req, 400, JSON_TYPE, v);
}

static void manifest_put_end(struct llmo__reg_req *req);

/*
 * Whether everything m references is in the repository: 1, or 0 after
 * answering, or -1 while S3 is asked about a blob on a worker (the push
 * is handled again when it answers).
 */
static int references_ok(struct llmo__reg_req *req, const struct llmo_oci_manifest *m)
{
	struct llmo_registry *r = req->reg;
	const char *name = req->route.name;
	char ds[LLMO_DIGEST_STR_MAX];

	for (size_t i = 0; i <= m->refs.len; i++) {
		const struct llmo_oci_descriptor *d;
		uint64_t size;

		if (i == m->refs.len) {
			if (!m->has_config)
				break;
			d = &m->config;
		} else {
			d = &m->refs.items[i];
		}
		if (d->external)
			continue;
		if (m->is_index) {
			struct llmo_digest dg = d->digest;

			if (llmo_reg_manifest_resolve(r->store, name, NULL, &dg, NULL, NULL)) {
				blob_unknown(req, &d->digest, "manifest unknown to repository");
				return 0;
			}
			continue;
		}
		struct llmo_error err = {0};
		int rc = llmo__reg_s3_need(req, name, &d->digest, false, manifest_put_end, &err);

		if (rc == 1)
			return -1;
		if (rc && rc != LLMO_ENOTFOUND) {
			llmo__reg_internal(req, &err);
			return 0;
		}
		if (rc || llmo_reg_blob_stat(r->store, name, &d->digest, &size)) {
			blob_unknown(req, &d->digest, "blob unknown to repository");
			return 0;
		}
		if (size != d->size) {
			llmo__reg_error(req, 400, "MANIFEST_INVALID",
					"descriptor of %s says %" PRIu64 " bytes, the blob has %" PRIu64,
					llmo_digest_str(&d->digest, ds), d->size, size);
			return 0;
		}
	}
	return 1;
}

/* The push's cleanup ended (upkeep.c): the answer the push was to get. */
static void manifest_put_cleaned(struct llmo__reg_req *req)
{
	llmo__reg_respond(req, 201, NULL, NULL, 0);
}

/*
 * Runs again when the push's turn comes, when S3 answers about a layer,
 * and when the push's S3 steps end (registry_int.h): everything up to the
 * plan changes nothing, so running it again is harmless.
 */
static void manifest_put_end(struct llmo__reg_req *req)
{
	struct llmo_registry *r = req->reg;
	const struct llmo_reg_route *rt = &req->route;
	struct llmo_oci_manifest m;
	struct llmo_error err = {0};
	struct llmo_digest d;
	char ds[LLMO_DIGEST_STR_MAX], want[LLMO_DIGEST_STR_MAX];
	int rc;

	if (llmo__reg_records_turn(req, manifest_put_end))
		return;
	if (llmo_digest_of(req->body.data, req->body.len, &d)) {
		llmo__reg_error(req, 500, "UNKNOWN", "out of memory");
		return;
	}
	if (rt->by_digest && !llmo_digest_equal(&d, &rt->digest)) {
		llmo__reg_error(req, 400, "DIGEST_INVALID", "the manifest hashes to %s, not %s",
				llmo_digest_str(&d, ds), llmo_digest_str(&rt->digest, want));
		return;
	}
	rc = llmo_oci_manifest_parse(req->body.data, req->body.len,
				     llmo__reg_header(req, "Content-Type"), &m, &err);
	if (rc == LLMO_ENOMEM) {
		llmo__reg_error(req, 500, "UNKNOWN", "out of memory");
		return;
	}
	if (rc) {
		llmo__reg_error(req, 400, "MANIFEST_INVALID", "%s", err.msg);
		return;
	}
	if (!llmo__reg_records_ended(req)) {
		if (references_ok(req, &m) != 1)
			goto out;
		rc = llmo_reg_manifest_put_plan(r->store, rt->name, rt->by_digest ? NULL : rt->tag,
						&d, m.media_type,
						m.has_subject ? &m.subject.digest : NULL,
						req->body.data, req->body.len, &r->recs, &err);
	}
	if (!rc && (rc = llmo__reg_records(req, manifest_put_end, &err)) == 1)
		goto out;
	if (rc) {
		llmo__reg_internal(req, &err);
		goto out;
	}
	LLMO_INFO(LOG, "manifest stored", "repo=%s reference=%s digest=%s type=%s tenant=%s",
		  rt->name, rt->by_digest ? "-" : rt->tag, llmo_digest_str(&d, ds), m.media_type,
		  req->who ? req->who->tenant : "-");
	llmo__reg_add_header(req, "Location", "/v2/%s/manifests/%s", rt->name, ds);
	llmo__reg_add_header(req, "Docker-Content-Digest", "%s", ds);
	if (m.has_subject)
		llmo__reg_add_header(req, "OCI-Subject", "%s", llmo_digest_str(&m.subject.digest, want));
	if (r->max_versions > 0 && !m.has_subject && m.artifact_type &&
	    strcmp(m.artifact_type, LLMO_MODEL_ARTIFACT_TYPE) == 0 &&
	    llmo__reg_cleanup(req, &(struct llmo_reg_cleanup_of){.digest = d},
			      manifest_put_cleaned) == 1)
		goto out; /* answered when it ends, with the headers above */
	llmo__reg_respond(req, 201, NULL, NULL, 0);
out:
	llmo_oci_manifest_release(&m);
}

void llmo__reg_manifest(struct llmo__reg_req *req)
{
	const char *name = req->route.name;

	switch (req->method) {
	case LLMO__REG_GET:
	case LLMO__REG_HEAD:
		if (llmo__reg_authorize(req, name, LLMO_REG_PULL))
			manifest_get(req);
		return;
	case LLMO__REG_DELETE:
		if (llmo__reg_authorize(req, name, LLMO_REG_DELETE))
			manifest_delete(req);
		return;
	case LLMO__REG_PUT:
		if (!llmo__reg_authorize(req, name, LLMO_REG_PUSH))
			return;
		if (req->content_length > (int64_t)LLMO_REGISTRY_MANIFEST_MAX) {
			llmo__reg_error(req, 413, "MANIFEST_INVALID",
					"manifest of %" PRId64 " bytes is larger than %zu",
					req->content_length, (size_t)LLMO_REGISTRY_MANIFEST_MAX);
			return;
		}
		req->on_data = manifest_data;
		req->on_end = manifest_put_end;
		return;
	default:
		not_allowed(req, "GET, HEAD, PUT, DELETE");
	}
}

/* ---- lists: tags and catalog ---- */

#define PAGE_LAST_MAX (LLMO_REG_NAME_MAX + 2)
_Static_assert(LLMO_DIGEST_STR_MAX + 8 <= PAGE_LAST_MAX, "a referrer's last fits the buffer");

/*
 * A page's query: ?n= (min to max, default max) in *n, ?last= (at most
 * last_max - 1 bytes, last_max <= PAGE_LAST_MAX) in last with *has_last.
 * false after answering 400.
 */
static bool page_query(struct llmo__reg_req *req, int64_t min, int64_t max, size_t last_max,
		       int64_t *n, char last[PAGE_LAST_MAX], bool *has_last)
{
	char nbuf[32];
	int rc;

	*n = max;
	rc = llmo_reg_query_get(req->query, req->query_len, "n", nbuf, sizeof(nbuf));
	if (rc < 0 || (rc == 1 && llmo_parse_int_range(nbuf, min, max, n, NULL))) {
		llmo__reg_error(req, 400, "UNSUPPORTED", "n must be an integer from %" PRId64 " to %" PRId64,
				min, max);
		return false;
	}
	rc = llmo_reg_query_get(req->query, req->query_len, "last", last, last_max);
	if (rc < 0) {
		llmo__reg_error(req, 400, "UNSUPPORTED", "malformed last parameter");
		return false;
	}
	*has_last = rc == 1;
	return true;
}

/* The index of the first entry of list (sorted in byte order) after last. */
static size_t page_start(const struct llmo_strv *list, const char *last, bool has_last)
{
	size_t i = 0;

	while (has_last && i < list->len && strcmp(list->items[i], last) <= 0)
		i++;
	return i;
}

/*
 * The page of list (sorted) after ?last= and at most ?n= long, as a JSON
 * array in *page, and the Link to the next page when there is one.
 * false after answering 400.
 */
static bool paginate(struct llmo__reg_req *req, const struct llmo_strv *list, const char *path,
		     json_t **page)
{
	char last[PAGE_LAST_MAX];
	bool has_last;
	int64_t n;
	size_t i, taken = 0;

	*page = NULL;
	if (!page_query(req, 0, LLMO_REGISTRY_PAGE_MAX, sizeof(last), &n, last, &has_last))
		return false;
	i = page_start(list, last, has_last);
	*page = json_array();
	if (!*page) {
		llmo__reg_error(req, 500, "UNKNOWN", "out of memory");
		return false;
	}
	for (; i < list->len && taken < (size_t)n; i++, taken++)
		json_array_append_new(*page, json_string(list->items[i]));
	/* n = 0 is an empty list without a Link */
	if (i < list->len && taken > 0)
		llmo__reg_add_header(req, "Link", "<%s?n=%" PRId64 "&last=%s>; rel=\"next\"", path, n,
				     list->items[i - 1]);
	return true;
}

void llmo__reg_tags(struct llmo__reg_req *req)
{
	struct llmo_registry *r = req->reg;
	const char *name = req->route.name;
	struct llmo_strv tags = LLMO_STRV_INIT;
	struct llmo_error err = {0};
	char path[LLMO_REG_NAME_MAX + 32];
	json_t *page;
	int rc;

	if (req->method != LLMO__REG_GET) {
		not_allowed(req, "GET");
		return;
	}
	if (!llmo__reg_authorize(req, name, LLMO_REG_PULL))
		return;
	rc = llmo_reg_tags_list(r->store, name, &tags, &err);
	if (rc == LLMO_ENOTFOUND)
		llmo__reg_error(req, 404, "NAME_UNKNOWN", "repository name not known to registry");
	else if (rc)
		llmo__reg_internal(req, &err);
	else {
		snprintf(path, sizeof(path), "/v2/%s/tags/list", name);
		if (paginate(req, &tags, path, &page))
			respond_json(req, 200, JSON_TYPE,
				     json_pack("{s:s,s:o}", "name", name, "tags", page));
	}
	llmo_strv_release(&tags);
}

void llmo__reg_catalog(struct llmo__reg_req *req)
{
	struct llmo_registry *r = req->reg;
	struct llmo_strv all = LLMO_STRV_INIT, mine = LLMO_STRV_INIT;
	struct llmo_error err = {0};
	json_t *page;
	int rc;

	if (req->method != LLMO__REG_GET) {
		not_allowed(req, "GET");
		return;
	}
	/* every caller sees the repositories it may pull, and only those */
	if (!req->who || (req->who == &req->auth->a.anonymous &&
			  !llmo_reg_principal_any(req->who, LLMO_REG_PULL))) {
		llmo__reg_challenge(req, "registry:catalog:*", req->who ? NULL : "invalid_token");
		llmo__reg_error(req, 401, "UNAUTHORIZED", "authentication required");
		return;
	}
	rc = llmo_reg_catalog(r->store, &all, &err);
	for (size_t i = 0; !rc && i < all.len; i++)
		if (llmo_reg_principal_allows(req->who, all.items[i], LLMO_REG_PULL) &&
		    llmo_strv_push(&mine, all.items[i]))
			rc = llmo_error_set(&err, LLMO_ENOMEM, "out of memory");
	if (rc)
		llmo__reg_internal(req, &err);
	else if (paginate(req, &mine, "/v2/_catalog", &page))
		respond_json(req, 200, JSON_TYPE, json_pack("{s:o}", "repositories", page));
	llmo_strv_release(&all);
	llmo_strv_release(&mine);
}

/* ---- GET /v2/<name>/referrers/<digest> ---- */

/* The descriptor of referrer d (its manifest read and parsed), or NULL when unreadable. */
static json_t *referrer_descriptor(struct llmo_registry *r, const char *name,
				   const struct llmo_digest *d)
{
	char media_type[LLMO_REG_MEDIA_TYPE_MAX + 1], ds[LLMO_DIGEST_STR_MAX];
	struct llmo_digest dg = *d;
	struct llmo_oci_manifest m;
	struct llmo_error err = {0};
	json_t *desc = NULL;
	struct llmo_buf b;

	llmo_buf_init(&b, LLMO_REGISTRY_MANIFEST_MAX);
	if (llmo_reg_manifest_resolve(r->store, name, NULL, &dg, media_type, &err) ||
	    llmo_reg_blob_read_small(r->store, NULL, d, LLMO_REGISTRY_MANIFEST_MAX, &b, &err) ||
	    llmo_oci_manifest_parse(b.data, b.len, media_type, &m, &err)) {
		char q[LLMO_LOG_QUOTE_MAX];

		LLMO_WARN(LOG, "referrer skipped", "repo=%s digest=sha256:%s error=%s", name, d->hex,
			  llmo_log_quote(q, sizeof(q), err.msg));
		llmo_buf_release(&b);
		return NULL;
	}
	desc = json_pack("{s:s,s:s,s:I}", "mediaType", m.media_type, "digest",
			 llmo_digest_str(d, ds), "size", (json_int_t)b.len);
	if (desc && m.artifact_type)
		json_object_set_new(desc, "artifactType", json_string(m.artifact_type));
	if (desc && m.annotations)
		json_object_set(desc, "annotations", m.annotations);
	llmo_oci_manifest_release(&m);
	llmo_buf_release(&b);
	return desc;
}

/*
 * S3: referrer i (d), when its manifest is not cached, is fetched on a
 * worker and the listing runs again when it ends: 1 to read it, 0 to skip
 * it (logged), -1 while its fetch runs. One referrer is fetched at a time;
 * those before req->refs_fetched are not asked for again, so a failed
 * fetch is not retried and nothing is read from S3 in the loop.
 */
static int referrer_cached(struct llmo__reg_req *req, size_t i, const struct llmo_digest *d)
{
	struct llmo_registry *r = req->reg;
	struct llmo_error err = {0};
	char q[LLMO_LOG_QUOTE_MAX];
	int rc;

	if (i < req->refs_fetched) {
		if (!r->s3jobs || llmo_reg_blob_cached(r->store, d))
			return 1;
		/* a later fetch of this listing evicted it */
		llmo_error_set(&err, LLMO_ENOTFOUND, "evicted from the cache");
		rc = LLMO_ENOTFOUND;
	} else if ((rc = llmo__reg_s3_need(req, NULL, d, true, llmo__reg_referrers, &err)) == 1) {
		req->refs_fetched = i;
		return -1;
	} else {
		req->refs_fetched = i + 1;
	}
	if (!rc)
		return 1;
	LLMO_WARN(LOG, "referrer skipped", "repo=%s digest=sha256:%s error=%s", req->route.name,
		  d->hex, llmo_log_quote(q, sizeof(q), err.msg));
	return 0;
}

/*
 * Link: </v2/NAME/referrers/DIGEST?n=N&last=LAST[&artifactType=T]>; rel="next"
 * (the artifact type percent-encoded: it holds '/' and '+').
 */
static void referrers_link(struct llmo__reg_req *req, const char *last, int64_t n,
			   const char *filter)
{
	const struct llmo_reg_route *rt = &req->route;
	char ds[LLMO_DIGEST_STR_MAX], enc[3 * LLMO_REG_MEDIA_TYPE_MAX + 1] = "";
	size_t k = 0;

	for (const char *p = filter; p && *p && k + 4 < sizeof(enc); p++) {
		if (isalnum((unsigned char)*p) || strchr("-._~", *p))
			enc[k++] = *p;
		else
			k += (size_t)snprintf(enc + k, sizeof(enc) - k, "%%%02X", (unsigned char)*p);
	}
	enc[k] = '\0';
	llmo__reg_add_header(req, "Link", "</v2/%s/referrers/%s?n=%" PRId64 "&last=%s%s%s>; rel=\"next\"",
			     rt->name, llmo_digest_str(&rt->digest, ds), n, last,
			     filter ? "&artifactType=" : "", enc);
}

void llmo__reg_referrers(struct llmo__reg_req *req)
{
	struct llmo_registry *r = req->reg;
	const struct llmo_reg_route *rt = &req->route;
	struct llmo_strv refs = LLMO_STRV_INIT;
	struct llmo_error err = {0};
	char filter[LLMO_REG_MEDIA_TYPE_MAX + 1], last[PAGE_LAST_MAX];
	bool has_last;
	int64_t n;
	json_t *list = NULL;
	size_t i;
	int rc, has_filter;

	if (req->method != LLMO__REG_GET) {
		not_allowed(req, "GET");
		return;
	}
	if (!llmo__reg_authorize(req, rt->name, LLMO_REG_PULL))
		return;
	has_filter = llmo_reg_query_get(req->query, req->query_len, "artifactType", filter,
					sizeof(filter));
	if (has_filter < 0) {
		llmo__reg_error(req, 400, "UNSUPPORTED", "malformed artifactType parameter");
		return;
	}
	/* pages: at most n entries, after the referrer `last` (the Link of the page before) */
	if (!page_query(req, 1, REFERRERS_ANSWER_MAX, LLMO_DIGEST_STR_MAX + 8, &n, last, &has_last))
		return;
	if (!llmo_reg_repo_exists(r->store, rt->name)) {
		llmo__reg_error(req, 404, "NAME_UNKNOWN", "repository name not known to registry");
		return;
	}
	rc = llmo_reg_referrers(r->store, rt->name, &rt->digest, &refs, &err);
	if (rc) {
		llmo__reg_internal(req, &err);
		goto out;
	}
	list = json_array();
	if (!list) {
		llmo__reg_error(req, 500, "UNKNOWN", "out of memory");
		goto out;
	}
	for (i = page_start(&refs, last, has_last); i < refs.len && json_array_size(list) < (size_t)n;
	     i++) {
		struct llmo_digest d;
		json_t *desc;

		if (llmo_digest_parse(refs.items[i], strlen(refs.items[i]), &d, NULL))
			continue;
		if ((rc = referrer_cached(req, i, &d)) < 0) {
			json_decref(list);
			goto out;
		}
		if (rc == 0)
			continue;
		desc = referrer_descriptor(r, rt->name, &d);
		if (!desc)
			continue;
		if (has_filter == 1) {
			const char *at = json_string_value(json_object_get(desc, "artifactType"));

			if (!at || strcmp(at, filter) != 0) {
				json_decref(desc);
				continue;
			}
		}
		json_array_append_new(list, desc);
	}
	if (has_filter == 1)
		llmo__reg_add_header(req, "OCI-Filters-Applied", "artifactType");
	/* a full page with referrers left to look at: the Link to the next */
	if (json_array_size(list) == (size_t)n && i < refs.len)
		referrers_link(req, refs.items[i - 1], n, has_filter == 1 ? filter : NULL);
	respond_json(req, 200, LLMO_OCI_INDEX,
		     json_pack("{s:i,s:s,s:o}", "schemaVersion", 2, "mediaType", LLMO_OCI_INDEX,
			       "manifests", list));
out:
	llmo_strv_release(&refs);
}
