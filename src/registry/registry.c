/*
 * The registry: life cycle, routing, access control, errors, and the small
 * endpoints (/v2/, /token, health, metrics). Blobs and uploads are in
 * blobs.c, manifests, tags, referrers and the catalog in manifests.c.
 */
#include "base/common.h"

#include <event2/event.h>
#include <event2/listener.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <strings.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/json.h"
#include "base/log.h"
#include "base/str.h"
#include "metrics/metrics.h"
#include "registry/gc.h"
#include "registry/registry_int.h"

#include "base/banned.h"

#define LOG "registry"
/* The service named in WWW-Authenticate and expected by /token. */
#define SERVICE "llmo-registry"
/* The token the /token endpoint hands anonymous callers (shorter than any real token). */
#define ANONYMOUS_TOKEN "anonymous"
/* How long clients may cache a token from /token; tokens themselves do not expire. */
#define TOKEN_TTL_S 3600
#define EXPIRE_EVERY_S 3600
#define HOST_MAX 255
#define MESSAGE_MAX 1024

void llmo_registry_opts_init(struct llmo_registry_opts *o)
{
	*o = (struct llmo_registry_opts){
		.host = "127.0.0.1",
		.port = LLMO_REGISTRY_PORT,
		.checksum_validation = true,
		.reverify_ms = LLMO_REGISTRY_REVERIFY_MS,
		.upload_idle_ms = LLMO_REGISTRY_UPLOAD_IDLE_MS,
	};
}

/* ---- errors and access ---- */

void llmo__reg_error(struct llmo__reg_req *req, int status, const char *code, const char *fmt,
		     ...)
{
	char msg[MESSAGE_MAX];
	json_t *body;
	char *text = NULL;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	body = json_pack("{s:[{s:s,s:s}]}", "errors", "code", code, "message", msg);
	if (body)
		text = llmo_json_dump_compact(body);
	json_decref(body);
	if (text) {
		llmo__reg_respond(req, status, "application/json", text, strlen(text));
		free(text);
	} else {
		llmo__reg_respond(req, 500, NULL, NULL, 0);
	}
}

void llmo__reg_internal(struct llmo__reg_req *req, const struct llmo_error *err)
{
	char q[LLMO_LOG_QUOTE_MAX], qp[LLMO_LOG_QUOTE_MAX];

	LLMO_ERROR(LOG, "storage error", "path=%s error=%s", llmo_log_quote(qp, sizeof(qp), req->path),
		   llmo_log_quote(q, sizeof(q), err->msg));
	if (err->code == LLMO_EINVALID_OBJECT)
		llmo__reg_count_corrupt(req->reg);
	llmo__reg_error(req, 500, "UNKNOWN", "%s", err->msg);
}

/* Whether s is fit to appear in a quoted header parameter (a Host value). */
static bool host_ok(const char *s)
{
	size_t n = 0;

	for (; s[n]; n++) {
		char c = s[n];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '-' || c == ':' || c == '[' || c == ']'))
			return false;
	}
	return n > 0 && n <= HOST_MAX;
}

void llmo__reg_challenge(struct llmo__reg_req *req, const char *scope, const char *error)
{
	struct llmo_registry *r = req->reg;
	const char *host = llmo__reg_header(req, "Host");
	char fallback[HOST_MAX + 16];

	if (!host || !host_ok(host)) {
		snprintf(fallback, sizeof(fallback), "%s%s%s:%d", strchr(r->host, ':') ? "[" : "",
			 r->host, strchr(r->host, ':') ? "]" : "", r->port);
		host = fallback;
	}
	llmo__reg_add_header(req, "WWW-Authenticate",
			     "Bearer realm=\"%s://%s/token\",service=\"" SERVICE "\"%s%s%s%s%s%s",
			     r->ssl_ctx ? "https" : "http", host, scope ? ",scope=\"" : "",
			     scope ? scope : "", scope ? "\"" : "", error ? ",error=\"" : "",
			     error ? error : "", error ? "\"" : "");
}

bool llmo__reg_authorize(struct llmo__reg_req *req, const char *name, unsigned actions)
{
	char scope[LLMO_REG_NAME_MAX + 64], acts[32];

	if (req->who && llmo_reg_principal_allows(req->who, name, actions))
		return true;
	llmo_reg_actions_str(actions, acts, sizeof(acts));
	snprintf(scope, sizeof(scope), "repository:%s:%s", name, acts);
	if (!req->who) {
		llmo__reg_challenge(req, scope, "invalid_token");
		llmo__reg_error(req, 401, "UNAUTHORIZED", "authentication required: the token is not valid");
		return false;
	}
	if (req->who == &req->auth->a.anonymous) {
		llmo__reg_challenge(req, scope, NULL);
		llmo__reg_error(req, 401, "UNAUTHORIZED", "authentication required for %s", scope);
		return false;
	}
	llmo__reg_error(req, 403, "DENIED",
			"requested access to the resource is denied: tenant %s may not %s %s",
			req->who->tenant, acts, name);
	return false;
}

/* ---- metrics ---- */

void llmo__reg_count_bytes(struct llmo_registry *r, bool in, uint64_t n)
{
	llmo_metric_add(in ? r->m_bytes_in : r->m_bytes_out, NULL, (double)n);
}

void llmo__reg_count_corrupt(struct llmo_registry *r)
{
	llmo_metric_add(r->m_corrupt, NULL, 1);
}

void llmo__reg_count_verified(struct llmo_registry *r, bool hashed)
{
	llmo_metric_add(r->m_verified, (const char *[]){hashed ? "hash" : "cache"}, 1);
}

void llmo__reg_uploads_changed(struct llmo_registry *r)
{
	llmo_metric_set(r->m_uploads, NULL, (double)llmo_reg_upload_count(r->store));
}

static int make_metrics(struct llmo_registry *r, struct llmo_error *err)
{
	int rc;

	if (llmo_metrics_new(&r->metrics))
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	if ((rc = llmo_metrics_counter(r->metrics, "llmo_registry_requests_total",
				       "Requests answered, by method and status code.",
				       (const char *[]){"method", "code"}, 2, &r->m_requests, err)) ||
	    (rc = llmo_metrics_counter(r->metrics, "llmo_registry_received_bytes_total",
				       "Blob bytes received in uploads.", NULL, 0, &r->m_bytes_in,
				       err)) ||
	    (rc = llmo_metrics_counter(r->metrics, "llmo_registry_sent_bytes_total",
				       "Blob bytes sent.", NULL, 0, &r->m_bytes_out, err)) ||
	    (rc = llmo_metrics_counter(r->metrics, "llmo_registry_corrupt_blobs_total",
				       "Reads that found a stored blob not matching its digest.",
				       NULL, 0, &r->m_corrupt, err)) ||
	    (rc = llmo_metrics_counter(r->metrics, "llmo_registry_verified_reads_total",
				       "Reads of blobs over 1 MiB (whole, or a range) checked against "
				       "their digest: by hashing the blob (source=hash), or by a "
				       "verification of the unchanged file within "
				       "modelRegistry.reverifyInterval (source=cache).",
				       (const char *[]){"source"}, 1, &r->m_verified, err)) ||
	    (rc = llmo_metrics_gauge(r->metrics, "llmo_registry_upload_sessions",
				     "Upload sessions open.", NULL, 0, &r->m_uploads, err)) ||
	    (rc = llmo_metrics_counter(r->metrics, "llmo_registry_s3_cache_reads_total",
				       "storageType s3: blob reads by whether the cache held the "
				       "blob (hit) or it was fetched from S3 (miss).",
				       (const char *[]){"result"}, 1, &r->m_s3_cache, err)) ||
	    (rc = llmo_metrics_counter(r->metrics, "llmo_registry_s3_cache_evictions_total",
				       "storageType s3: blobs removed from the cache to keep it "
				       "within modelRegistry.s3.cacheSize (they stay in S3).",
				       NULL, 0, &r->m_s3_evictions, err)) ||
	    (rc = llmo_metrics_gauge(r->metrics, "llmo_registry_s3_cache_bytes",
				     "storageType s3: bytes of blobs in the cache.", NULL, 0,
				     &r->m_s3_cache_bytes, err)) ||
	    (rc = llmo_metrics_gauge(r->metrics, "llmo_registry_s3_transfers",
				     "storageType s3: blob transfers and record changes with S3 "
				     "queued or running on worker threads.",
				     NULL, 0, &r->m_s3_active, err)) ||
	    (rc = llmo_metrics_counter(r->metrics, "llmo_registry_upkeep_failures_total",
				       "autoCleanup runs (task=cleanup) and storageType s3 restores "
				       "of the records at start (task=restore) that failed.",
				       (const char *[]){"task"}, 1, &r->m_upkeep_failures, err)) ||
	    (rc = llmo_metrics_counter(r->metrics, "llmo_registry_gc_runs_total",
				       "Garbage collections that ended, by what started them: a "
				       "pruning push (trigger=push), a manifest DELETE "
				       "(trigger=delete), modelRegistry.gcInterval (trigger=periodic).",
				       (const char *[]){"trigger"}, 1, &r->m_gc_runs, err)) ||
	    (rc = llmo_metrics_counter(r->metrics, "llmo_registry_gc_removed_bytes_total",
				       "Bytes of blobs the garbage collections removed (from the "
				       "storage directory, or with storageType s3 from the bucket).",
				       NULL, 0, &r->m_gc_bytes, err)) ||
	    (rc = llmo_metrics_counter(r->metrics, "llmo_registry_token_reloads_total",
				       "Changes of the token file (source=file) or the tokens "
				       "Secret (source=secret) taken in (result=ok) or refused "
				       "(result=error: the tokens in use were kept).",
				       (const char *[]){"source", "result"}, 2, &r->m_token_reloads,
				       err)) ||
	    (rc = llmo_metrics_gauge(r->metrics, "llmo_registry_tokens",
				     "Bearer tokens the registry knows.", NULL, 0, &r->m_tokens,
				     err)))
		return rc;
	/* at 0 from the start, so that increase() sees the first failure (rules.yaml) */
	llmo_metric_add(r->m_upkeep_failures, (const char *[]){"cleanup"}, 0);
	llmo_metric_add(r->m_upkeep_failures, (const char *[]){"restore"}, 0);
	llmo_metric_add(r->m_verified, (const char *[]){"hash"}, 0);
	llmo_metric_add(r->m_verified, (const char *[]){"cache"}, 0);
	llmo__reg_uploads_changed(r);
	return 0;
}

/* ---- small endpoints ---- */

static void handle_base(struct llmo__reg_req *req)
{
	if (req->method != LLMO__REG_GET && req->method != LLMO__REG_HEAD) {
		llmo__reg_add_header(req, "Allow", "GET, HEAD");
		llmo__reg_error(req, 405, "UNSUPPORTED", "/v2/ answers GET and HEAD");
		return;
	}
	/*
	 * The probe clients make before anything else: without credentials it
	 * answers 401 whenever tokens exist, so that clients holding one learn
	 * to send it (and anonymous ones go to /token).
	 */
	if (!req->who) {
		llmo__reg_challenge(req, NULL, "invalid_token");
		llmo__reg_error(req, 401, "UNAUTHORIZED", "the token is not valid");
		return;
	}
	if (req->who == &req->auth->a.anonymous &&
	    (req->auth->a.ntokens > 0 || !llmo_reg_principal_any(req->who, LLMO_REG_ALL))) {
		llmo__reg_challenge(req, NULL, NULL);
		llmo__reg_error(req, 401, "UNAUTHORIZED", "authentication required");
		return;
	}
	llmo__reg_respond(req, 200, "application/json", "{}", 2);
}

/*
 * GET /token (Docker's token protocol, reduced): Basic USER:TOKEN or Bearer
 * TOKEN gives TOKEN back, to be sent as a bearer token; no credentials give
 * the anonymous token when anonymous callers may do anything.
 */
static void handle_token(struct llmo__reg_req *req)
{
	const char *authz = llmo__reg_header(req, "Authorization");
	char token[LLMO_REG_TOKEN_MAX + 1] = ANONYMOUS_TOKEN;
	char now[LLMO_RFC3339_MAX];
	json_t *body;
	char *text;

	if (req->method != LLMO__REG_GET) {
		llmo__reg_add_header(req, "Allow", "GET");
		llmo__reg_error(req, 405, "UNSUPPORTED", "/token answers GET");
		return;
	}
	if (!req->who || (req->who == &req->auth->a.anonymous &&
			  !llmo_reg_principal_any(req->who, LLMO_REG_ALL))) {
		llmo__reg_add_header(req, "WWW-Authenticate", "Basic realm=\"" SERVICE "\"");
		llmo__reg_error(req, 401, "UNAUTHORIZED",
				"give a registry token as the password (any user name)");
		return;
	}
	/* hand back exactly the credential that authenticated */
	if (authz && req->who != &req->auth->a.anonymous &&
	    llmo_reg_auth_credential(authz, token, sizeof(token)) < 0) {
		llmo__reg_error(req, 401, "UNAUTHORIZED", "malformed credentials");
		return;
	}
	llmo_time_format_rfc3339(llmo_clock_wall_ms(), false, now, sizeof(now));
	body = json_pack("{s:s,s:s,s:i,s:s}", "token", token, "access_token", token, "expires_in",
			 TOKEN_TTL_S, "issued_at", now);
	OPENSSL_cleanse(token, sizeof(token));
	text = body ? llmo_json_dump_compact(body) : NULL;
	json_decref(body);
	if (!text) {
		llmo__reg_error(req, 500, "UNKNOWN", "out of memory");
		return;
	}
	llmo__reg_add_header(req, "Cache-Control", "no-store");
	llmo__reg_respond(req, 200, "application/json", text, strlen(text));
	OPENSSL_cleanse(text, strlen(text));
	free(text);
}

/* The S3 cache's figures as the store counts them, brought up to date for a scrape. */
static void s3_cache_metrics(struct llmo_registry *r)
{
	uint64_t bytes, evictions;

	llmo_reg_store_cache_stats(r->store, &bytes, &evictions);
	/* a cancelled transfer reports nothing when it ends: count them now */
	if (r->s3jobs)
		llmo_metric_set(r->m_s3_active, NULL, (double)llmo_reg_s3jobs_pending(r->s3jobs));
	llmo_metric_set(r->m_s3_cache_bytes, NULL, (double)bytes);
	llmo_metric_add(r->m_s3_evictions, NULL, (double)(evictions - r->evictions_seen));
	r->evictions_seen = evictions;
}

static void handle_metrics(struct llmo__reg_req *req)
{
	struct llmo_buf b;

	llmo_buf_init(&b, (size_t)4 << 20);
	llmo__reg_uploads_changed(req->reg);
	s3_cache_metrics(req->reg);
	if (llmo_metrics_write(req->reg->metrics, &b))
		llmo__reg_error(req, 500, "UNKNOWN", "metrics too large");
	else
		llmo__reg_respond(req, 200, LLMO_METRICS_CONTENT_TYPE, b.data, b.len);
	llmo_buf_release(&b);
}

/* ---- routing ---- */

static void bad_route(struct llmo__reg_req *req, const struct llmo_error *err)
{
	const struct llmo_reg_route *rt = &req->route;

	switch (rt->bad) {
	case LLMO_REG_BAD_NAME:
		llmo__reg_error(req, 400, "NAME_INVALID", "%s", err->msg);
		return;
	case LLMO_REG_BAD_DIGEST:
		llmo__reg_error(req, 400, "DIGEST_INVALID", "%s", err->msg);
		return;
	case LLMO_REG_BAD_TAG:
		if (req->method == LLMO__REG_PUT)
			llmo__reg_error(req, 400, "MANIFEST_INVALID", "%s", err->msg);
		else
			llmo__reg_error(req, 404, "MANIFEST_UNKNOWN", "%s", err->msg);
		return;
	case LLMO_REG_BAD_UPLOAD_ID:
		llmo__reg_error(req, 404, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry");
		return;
	case LLMO_REG_BAD_NONE:
		break;
	}
	llmo__reg_error(req, 404, "UNSUPPORTED", "%s", err->msg);
}

void llmo__reg_dispatch(struct llmo__reg_req *req)
{
	struct llmo_registry *r = req->reg;
	struct llmo_error err = {0};
	const char *authz = llmo__reg_header(req, "Authorization");
	bool presented;
	int rc;

	/* the token /token gives anonymous callers stands for no token */
	if (authz && strcasecmp(authz, "Bearer " ANONYMOUS_TOKEN) == 0)
		authz = NULL;
	if (!req->auth)
		req->auth = llmo__reg_auth_hold(r);
	req->who = llmo_reg_auth_lookup(&req->auth->a, authz, &presented);
	rc = llmo_reg_route_parse(req->path, req->path_len, &req->route, &err);
	if (rc) {
		bad_route(req, &err);
		return;
	}
	/* S3 at start: a read of the records waits until they are restored */
	if (llmo__reg_restore_wait(req))
		return;
	switch (req->route.kind) {
	case LLMO_REG_R_BASE:
		handle_base(req);
		return;
	case LLMO_REG_R_TOKEN:
		handle_token(req);
		return;
	case LLMO_REG_R_HEALTHZ:
	case LLMO_REG_R_READYZ:
		llmo__reg_respond(req, 200, "text/plain; charset=utf-8", "ok\n", 3);
		return;
	case LLMO_REG_R_METRICS:
		handle_metrics(req);
		return;
	case LLMO_REG_R_CATALOG:
		llmo__reg_catalog(req);
		return;
	case LLMO_REG_R_TAGS:
		llmo__reg_tags(req);
		return;
	case LLMO_REG_R_MANIFEST:
		llmo__reg_manifest(req);
		return;
	case LLMO_REG_R_REFERRERS:
		llmo__reg_referrers(req);
		return;
	case LLMO_REG_R_BLOB:
		llmo__reg_blob(req);
		return;
	case LLMO_REG_R_UPLOADS:
		llmo__reg_uploads(req);
		return;
	case LLMO_REG_R_UPLOAD:
		llmo__reg_upload(req);
		return;
	}
	llmo__reg_error(req, 404, "UNSUPPORTED", "no such endpoint");
}

/* ---- life cycle ---- */

/* A periodic collection that could not start is tried again this soon (or at the interval). */
#define GC_RETRY_MS 5000

static void gc_arm(struct llmo_registry *r, int64_t ms)
{
	struct timeval tv = llmo_clock_timeval(ms);

	if (event_add(r->gc_ev, &tv) < 0)
		LLMO_ERROR(LOG, "cannot arm the garbage collection timer: no periodic collection",
			   NULL);
}

static void on_gc(evutil_socket_t fd, short what, void *arg)
{
	struct llmo_registry *r = arg;

	(void)fd;
	(void)what;
	gc_arm(r, llmo__reg_collect(r) == 0 ? r->gc_interval_ms
					   : LLMO_MIN(r->gc_interval_ms, GC_RETRY_MS));
}

static void on_expire(evutil_socket_t fd, short what, void *arg)
{
	struct llmo_registry *r = arg;

	llmo_reg_upload_expire(r->store, r->upload_idle_ms);
	llmo__reg_uploads_changed(r);
}

static int ssl_error(struct llmo_error *err, const char *what, const char *path)
{
	char buf[256];

	ERR_error_string_n(ERR_get_error(), buf, sizeof(buf));
	ERR_clear_error();
	return llmo_error_set(err, LLMO_EINVAL, "%s: %s: %s", path, what, buf);
}

static int make_ssl_ctx(struct llmo_registry *r, const struct llmo_registry_opts *o,
			struct llmo_error *err)
{
	if (o->ssl_ctx) {
		if (SSL_CTX_up_ref(o->ssl_ctx) != 1)
			return llmo_error_set(err, LLMO_EINTERNAL, "SSL_CTX_up_ref failed");
		r->ssl_ctx = o->ssl_ctx;
		return 0;
	}
	if (!o->tls_cert)
		return 0;
	r->ssl_ctx = SSL_CTX_new(TLS_server_method());
	if (!r->ssl_ctx)
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	SSL_CTX_set_min_proto_version(r->ssl_ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(r->ssl_ctx, SSL_OP_NO_RENEGOTIATION);
	if (SSL_CTX_use_certificate_chain_file(r->ssl_ctx, o->tls_cert) != 1)
		return ssl_error(err, "cannot load the TLS certificate", o->tls_cert);
	if (SSL_CTX_use_PrivateKey_file(r->ssl_ctx, o->tls_key, SSL_FILETYPE_PEM) != 1)
		return ssl_error(err, "cannot load the TLS key", o->tls_key);
	if (SSL_CTX_check_private_key(r->ssl_ctx) != 1)
		return ssl_error(err, "the key does not match the certificate", o->tls_key);
	return 0;
}

static int check_opts(const struct llmo_registry_opts *o, struct llmo_error *err)
{
	if (!o->storage_path || !*o->storage_path)
		return llmo_error_set(err, LLMO_EINVAL, "no storage path");
	if (!o->host || !*o->host)
		return llmo_error_set(err, LLMO_EINVAL, "no listen address");
	if (o->port < 0 || o->port > 65535)
		return llmo_error_set(err, LLMO_ERANGE, "port %d is not between 0 and 65535",
				      o->port);
	if (!o->tls_cert != !o->tls_key)
		return llmo_error_set(err, LLMO_EINVAL,
				      "a TLS certificate needs its key, and a key its certificate");
	if (o->ssl_ctx && o->tls_cert)
		return llmo_error_set(err, LLMO_EINVAL,
				      "give TLS certificate files or an SSL_CTX, not both");
	if (o->max_versions < 0)
		return llmo_error_set(err, LLMO_ERANGE, "maxVersions must not be negative");
	if (o->upload_idle_ms <= 0)
		return llmo_error_set(err, LLMO_ERANGE, "the upload idle time must be positive");
	return 0;
}

int llmo_registry_new(struct event_base *base, const struct llmo_registry_opts *opts,
		      struct llmo_registry **out, struct llmo_error *err)
{
	struct llmo_reg_store_opts so = {0};
	struct llmo_registry *r;
	struct timeval every = {EXPIRE_EVERY_S, 0};
	int rc;

	*out = NULL;
	if ((rc = check_opts(opts, err)))
		return rc;
	r = calloc(1, sizeof(*r));
	if (!r)
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	r->base = base;
	r->lock_fd = -1;
	llmo_hmap_init(&r->s3_fetches);
	r->listen_port = opts->port;
	r->upload_idle_ms = opts->upload_idle_ms;
	r->sendfile = opts->sendfile;
	r->max_versions = opts->auto_cleanup ? opts->max_versions : 0;
	r->gc_on_delete = opts->auto_cleanup;
	r->gc_interval_ms = opts->auto_cleanup && opts->gc_interval_ms > 0 ? opts->gc_interval_ms : 0;
	r->gc_grace_ms = opts->gc_grace_ms > 0 ? opts->gc_grace_ms : LLMO_REG_GC_GRACE_MS;
	r->host = llmo_strdup(opts->host);
	if (!r->host) {
		rc = llmo_error_set(err, LLMO_ENOMEM, "out of memory");
		goto fail;
	}
	so.root = opts->storage_path;
	so.checksum_validation = opts->checksum_validation;
	so.reverify_ms = opts->reverify_ms;
	so.blob_max = opts->blob_max;
	so.s3 = opts->s3;
	/* the records are restored on a worker while the registry serves (upkeep.c) */
	so.defer_restore = opts->s3 != NULL;
	if ((rc = llmo_reg_store_open(&so, &r->store, err)) ||
	    (rc = llmo_reg_lock_take(opts->storage_path, false, &r->lock_fd, err)) ||
	    (rc = make_metrics(r, err)) || (rc = llmo__reg_tokens_start(r, opts, err)) ||
	    (rc = make_ssl_ctx(r, opts, err)) ||
	    (rc = llmo_reg_hasher_new(base, &r->hasher, err)))
		goto fail;
	if (opts->s3 && (rc = llmo_reg_s3jobs_new(base, llmo_reg_store_s3(r->store),
						  opts->s3->concurrency, &r->s3jobs, err)))
		goto fail;
	if ((rc = llmo__reg_records_init(r, err)) ||
	    (opts->s3 && (rc = llmo__reg_restore_start(r, err))))
		goto fail;
	llmo_reg_upload_expire(r->store, opts->upload_idle_ms);
	r->expire_ev = event_new(base, -1, EV_PERSIST, on_expire, r);
	if (!r->expire_ev || event_add(r->expire_ev, &every) < 0) {
		rc = llmo_error_set(err, LLMO_ENOMEM, "cannot make a timer");
		goto fail;
	}
	if (r->gc_interval_ms > 0) {
		if (!(r->gc_ev = evtimer_new(base, on_gc, r))) {
			rc = llmo_error_set(err, LLMO_ENOMEM, "cannot make a timer");
			goto fail;
		}
		gc_arm(r, r->gc_interval_ms);
	}
	if ((rc = llmo__reg_http_listen(r, err)))
		goto fail;
	{
		char qs[LLMO_LOG_QUOTE_MAX], qa[LLMO_LOG_QUOTE_MAX];

		LLMO_INFO(LOG, "listening",
			  "host=%s port=%d tls=%s storage=%s s3=%s tokens=%zu anonymous=%s verify=%s",
			  r->host, r->port, r->ssl_ctx ? "on" : "off",
			  llmo_log_quote(qs, sizeof(qs), opts->storage_path),
			  opts->s3 ? opts->s3->bucket : "-", r->auth->a.ntokens,
			  llmo_log_quote(qa, sizeof(qa),
					 opts->anonymous && *opts->anonymous ? opts->anonymous
									     : "none"),
			  opts->checksum_validation ? "on" : "off");
	}
	*out = r;
	return 0;
fail:
	llmo_registry_free(r);
	return rc;
}

void llmo_registry_free(struct llmo_registry *r)
{
	if (!r)
		return;
	llmo__reg_http_stop(r);
	llmo_reg_hasher_free(r->hasher);
	/* before the store: its S3 client is what the workers' clients copy */
	llmo__reg_upkeep_stop(r);
	llmo_reg_s3jobs_free(r->s3jobs);
	llmo__reg_s3_release(r);
	llmo__reg_records_free(r);
	llmo__reg_upkeep_free(r);
	if (r->expire_ev)
		event_free(r->expire_ev);
	if (r->gc_ev)
		event_free(r->gc_ev);
	llmo_reg_store_free(r->store);
	if (r->lock_fd >= 0)
		close(r->lock_fd);
	llmo__reg_tokens_stop(r);
	if (r->ssl_ctx)
		SSL_CTX_free(r->ssl_ctx);
	llmo_metrics_free(r->metrics);
	free(r->host);
	free(r);
}

int llmo_registry_port(const struct llmo_registry *r)
{
	return r->port;
}

bool llmo_registry_tls(const struct llmo_registry *r)
{
	return r->ssl_ctx != NULL;
}
