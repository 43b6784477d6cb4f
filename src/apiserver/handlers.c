/*
 * The REST verbs on resources: get, list, create, update, patch, delete,
 * deletecollection, and the subresources status, scale, binding and eviction
 * (pods/log is logs.c).
 * Every write goes through one path (commit_create / commit_update /
 * delete_object) that checks the object, keeps server-owned metadata, and
 * answers with Kubernetes Status errors.
 */
#include "apiserver/apiserver_int.h"
#include "apiserver/kubepb.h"
#include "api/schema.h"
#include "api/usage.h"
#include "api/validate.h"
#include "apiserver/patch.h"
#include "apiserver/selector.h"
#include "apiserver/ssa.h"
#include "base/clock.h"
#include "base/str.h"
#include "base/json.h"
#include "base/log.h"
#include "base/yaml.h"

#include <event2/buffer.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#define LOG "apiserver"
#define CRD_KEY "apiextensions.k8s.io/customresourcedefinitions"
#define NS_KEY "/namespaces"
#define CONTINUE_MAX 2048
#define GC_DEPTH_MAX 32

/* ---- small helpers ---- */

static json_t *meta_of(json_t *obj)
{
	json_t *m = json_object_get(obj, "metadata");

	if (!json_is_object(m)) {
		m = json_object();
		json_object_set_new(obj, "metadata", m);
	}
	return m;
}

static const char *meta_str(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(json_object_get(obj, "metadata"), key));
}

static void now_rfc3339(char *out, size_t n)
{
	llmo_time_format_rfc3339(llmo_clock_wall_ms(), false, out, n);
}

/*
 * Random bytes for uids, drawn from OpenSSL 4 KiB at a time: one
 * RAND_bytes per create took as long as formatting the whole answer. Per
 * thread, so that two threads never hand out the same bytes.
 */
static _Thread_local unsigned char uid_pool[4096];
static _Thread_local size_t uid_pool_left;

static void new_uid(char out[37])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char b[16];
	char *o = out;

	if (uid_pool_left < sizeof(b) && RAND_bytes(uid_pool, sizeof(uid_pool)) == 1)
		uid_pool_left = sizeof(uid_pool);
	if (uid_pool_left >= sizeof(b)) {
		uid_pool_left -= sizeof(b);
		memcpy(b, uid_pool + uid_pool_left, sizeof(b));
		/* used bytes do not stay in memory */
		memset(uid_pool + uid_pool_left, 0, sizeof(b));
	} else {
		for (size_t i = 0; i < sizeof(b); i++)
			b[i] = (unsigned char)(llmo_clock_mono_ns() >> (i % 8));
	}
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	for (size_t i = 0; i < sizeof(b); i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*o++ = '-';
		*o++ = hex[b[i] >> 4];
		*o++ = hex[b[i] & 0x0f];
	}
	*o = '\0';
}

static const char *query(struct llmo__req *r, const char *key)
{
	return evhttp_find_header(&r->query, key);
}

static bool query_true(struct llmo__req *r, const char *key)
{
	const char *v = query(r, key);

	/* as Go's strconv.ParseBool, which kube-apiserver uses (python sends "True") */
	return v && (strcmp(v, "1") == 0 || strcmp(v, "t") == 0 || strcmp(v, "T") == 0 ||
		     strcmp(v, "true") == 0 || strcmp(v, "TRUE") == 0 || strcmp(v, "True") == 0);
}

static bool is_llmo_kind(const struct llmo_resource *res)
{
	return strcmp(res->group, "llm.orchestrator.io") == 0 &&
	       (strcmp(res->kind, "LLMWorkload") == 0 || strcmp(res->kind, "LLMModel") == 0);
}

static int64_t parse_rv(const char *s)
{
	char *end;
	long long v;

	if (!s || !*s)
		return 0;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || v < 0)
		return -1;
	return v;
}

/* Reads the request body as JSON (or YAML for YAML content types). */
static int read_body(struct llmo__req *r, json_t **out)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(r->req);
	const char *ctype = evhttp_find_header(evhttp_request_get_input_headers(r->req),
					       "Content-Type");
	size_t len = evbuffer_get_length(in);
	struct llmo_error err = {0};
	char *text;
	int rc = 0;

	*out = NULL;
	if (ctype && !llmo_kubepb_content_type(ctype) &&
	    (strstr(ctype, "protobuf") || strstr(ctype, "cbor"))) {
		llmo__reply_status(r->req, 415, "UnsupportedMediaType", NULL,
				   "the body content type %s is not supported: send JSON, YAML or "
				   "%s",
				   ctype, LLMO_KUBEPB_MEDIA_TYPE);
		return LLMO_EUNSUPPORTED;
	}
	if (len > LLMO_API_BODY_MAX) {
		llmo__reply_status(r->req, 413, "RequestEntityTooLarge", NULL,
				   "the request body is %zu bytes, the limit is %d", len,
				   LLMO_API_BODY_MAX);
		return LLMO_ETOOBIG;
	}
	text = malloc(len + 1);
	if (!text) {
		llmo__reply_status(r->req, 500, "InternalError", NULL, "out of memory");
		return LLMO_ENOMEM;
	}
	evbuffer_copyout(in, text, len);
	text[len] = '\0';
	if (llmo_kubepb_content_type(ctype)) {
		rc = llmo_kubepb_decode(text, len, out, &err);
		free(text);
		if (rc == LLMO_EUNSUPPORTED) {
			/* kubectl shows the message; it does not retry with JSON */
			llmo__reply_status(r->req, 415, "UnsupportedMediaType", NULL, "%s",
					   err.msg);
			return rc;
		}
		if (rc) {
			llmo__reply_status(r->req, rc == LLMO_ENOMEM ? 500 : 400,
					   rc == LLMO_ENOMEM ? "InternalError" : "BadRequest", NULL,
					   "the protobuf request body is not valid: %s",
					   rc == LLMO_ENOMEM ? "out of memory" : err.msg);
			return rc;
		}
		return 0;
	}
	if (ctype && strstr(ctype, "yaml")) {
		struct llmo_yaml_stream s = {0};

		rc = llmo_yaml_parse(text, len, "body", &s, &err);
		if (!rc && s.ndocs != 1)
			rc = llmo_error_set(&err, LLMO_EPARSE, "body: expected one YAML document");
		if (!rc)
			*out = json_incref(s.docs[0].root);
		llmo_yaml_stream_release(&s);
	} else {
		rc = llmo_json_load(text, len, "body", out, &err);
	}
	free(text);
	if (rc) {
		llmo__reply_status(r->req, 400, "BadRequest", NULL, "the request body is not valid: %s",
				   err.msg);
		return rc;
	}
	if (!json_is_object(*out) && !json_is_array(*out)) {
		llmo__reply_status(r->req, 400, "BadRequest", NULL,
				   "the request body must be a JSON object, got %s",
				   llmo_json_type_name(*out));
		json_decref(*out);
		*out = NULL;
		return LLMO_EINVAL;
	}
	return 0;
}

static json_t *load(struct llmo__req *r, const struct llmo_resource *res, const char *ns,
		    const char *name, int64_t *rv)
{
	char *data = NULL;
	json_t *obj = NULL;

	if (llmo_store_get(r->srv->store, res->store_key, ns, name, &data, rv) == 0)
		obj = llmo__object_from_row(res, data, *rv);
	free(data);
	return obj;
}

/*
 * A GET of an object (or its status, which is the whole object) answered
 * with its stored text and the resourceVersion (llmo__row_text), without
 * parsing it and writing it again. False when the object is missing or its
 * row is of another form: the caller loads it (and answers 404).
 */
static bool get_as_stored(struct llmo__req *r)
{
	struct evbuffer *out;
	char *data = NULL;
	int64_t rv;
	bool done = false;

	if (llmo_store_get(r->srv->store, r->res->store_key, r->ns, r->name, &data, &rv))
		return false;
	out = evbuffer_new();
	if (out && llmo__row_text(r->res, data, rv, "", out)) {
		llmo__reply_json_buffer(r->req, 200, out);
		done = true;
	}
	if (out)
		evbuffer_free(out);
	free(data);
	return done;
}

/* Sets obj's apiVersion and kind to the resource's. */
static void set_type(const struct llmo_resource *res, json_t *obj)
{
	char buf[128];

	llmo_resource_api_version(res, buf, sizeof(buf));
	json_object_set_new(obj, "apiVersion", json_string(buf));
	json_object_set_new(obj, "kind", json_string(res->kind));
}

/*
 * The object just stored, as a reader will see it (apiVersion, kind and the
 * new resourceVersion), without parsing the stored text again. Returns a new
 * reference to obj.
 */
static json_t *as_stored(const struct llmo_resource *res, json_t *obj, int64_t rv)
{
	char buf[32];

	set_type(res, obj);
	snprintf(buf, sizeof(buf), "%" PRId64, rv);
	json_object_set_new(meta_of(obj), "resourceVersion", json_string(buf));
	return json_incref(obj);
}

/* Serialises obj for the store, without its resourceVersion. */
static char *to_row(json_t *obj)
{
	json_t *m = json_object_get(obj, "metadata");

	json_object_del(m, "resourceVersion");
	return llmo_json_dump_compact(obj);
}

static void reply_store_error(struct llmo__req *r, int rc, const char *name)
{
	char q[512];

	llmo__qualified_name(r->res, q, sizeof(q));
	switch (rc) {
	case LLMO_ENOTFOUND:
		llmo__reply_not_found(r->req, r->res, name);
		break;
	case LLMO_EEXIST:
		llmo__reply_status(r->req, 409, "AlreadyExists",
				   json_pack("{s:s, s:s, s:s}", "name", name, "group",
					     r->res->group, "kind", r->res->plural),
				   "%s \"%s\" already exists", q, name);
		break;
	case LLMO_ECONFLICT:
		llmo__reply_status(r->req, 409, "Conflict",
				   json_pack("{s:s, s:s, s:s}", "name", name, "group",
					     r->res->group, "kind", r->res->plural),
				   "Operation cannot be fulfilled on %s \"%s\": the object has been "
				   "modified; please apply your changes to the latest version and "
				   "try again", q, name);
		break;
	case LLMO_ETOOBIG:
		llmo__reply_status(r->req, 413, "RequestEntityTooLarge", NULL,
				   "the object is larger than the store allows");
		break;
	default:
		llmo__reply_status(r->req, 500, "InternalError", NULL, "storage error: %s",
				   llmo_strerror(rc));
	}
}

/* ---- field managers (server-side apply bookkeeping) ---- */

#define FIELD_MANAGER_MAX 128

/*
 * The manager a write is recorded under: ?fieldManager=, else the client's
 * User-Agent up to its first '/', as kube-apiserver does.
 */
static void field_manager(struct llmo__req *r, char *out, size_t n)
{
	const char *fm = query(r, "fieldManager");
	const char *ua = evhttp_find_header(evhttp_request_get_input_headers(r->req), "User-Agent");

	if (fm && *fm) {
		snprintf(out, n, "%s", fm);
		return;
	}
	if (ua && *ua) {
		size_t len = strcspn(ua, "/");

		snprintf(out, n, "%.*s", (int)LLMO_MIN(len, n - 1), ua);
		return;
	}
	snprintf(out, n, "unknown");
}

/* The schema that tells server-side apply which lists are keyed. Caller decrefs. */
static json_t *ownership_schema(const struct llmo_resource *res)
{
	struct llmo_resource *mut = (struct llmo_resource *)res;

	if (res->schema)
		return json_incref(res->schema);
	/* built once per resource: every write of a built-in type needs it */
	if (!res->ownership &&
	    llmo_ssa_schema_from_smp(llmo_smp_schema_for(res->group, res->kind), &mut->ownership,
				     NULL))
		return NULL;
	return json_incref(res->ownership);
}

/* Records manager's ownership of what changed from old (NULL: created) to obj. */
static void record_update(struct llmo__req *r, const json_t *old, json_t *obj)
{
	char manager[FIELD_MANAGER_MAX + 1], api_version[128], now[64];
	json_t *schema = ownership_schema(r->res);
	struct llmo_error err = {0};

	field_manager(r, manager, sizeof(manager));
	llmo_resource_api_version(r->res, api_version, sizeof(api_version));
	llmo_time_format_rfc3339(llmo_clock_wall_ms(), false, now, sizeof(now));
	if (llmo_ssa_update(old, obj, manager, schema, api_version, now, &err))
		llmo_log(LLMO_LOG_DEBUG, LOG, "managedFields not recorded", "error=\"%s\"",
			 err.msg);
	json_decref(schema);
}

/* ---- checking objects ---- */

/*
 * Checks obj as the resource requires and fills in defaults; problems go to
 * errs. strict: unknown fields are errors (fieldValidation=Strict, kubectl's
 * default); otherwise they are pruned.
 */
static int check_object(struct llmo__req *r, json_t *obj, bool strict, struct llmo_errlist *errs)
{
	const struct llmo_resource *res = r->res;
	struct llmo_object_meta meta = {0};
	struct llmo_buf path;
	int rc = 0;

	llmo_buf_init(&path, 4096);
	if (res->schema && !strict)
		llmo_schema_prune(res->schema, obj);
	if (is_llmo_kind(res)) {
		enum llmo_doc_kind kind;

		rc = llmo_object_check(obj, NULL, &kind, errs);
		goto out;
	}
	if (res->schema) {
		rc = llmo_schema_validate(res->schema, obj, &path, errs,
					  strict ? LLMO_SCHEMA_UNKNOWN_FIELDS : 0);
		if (!rc && llmo_errlist_count(errs) == 0)
			rc = llmo_schema_default(res->schema, obj);
	}
	llmo_buf_truncate(&path, 0);
	llmo_path_push_key(&path, "metadata");
	if (!rc)
		rc = llmo_fields_decode(llmo_object_meta_fields, meta_of(obj), &meta, &path, errs,
					0);
	if (!rc && llmo_errlist_count(errs) == 0)
		rc = llmo_object_meta_validate(&meta, res->namespaced, &path, errs);
	if (!rc && strcmp(res->kind, "Namespace") == 0 && meta.name) {
		llmo_buf_truncate(&path, 0);
		llmo_path_push_key(&path, "metadata");
		llmo_path_push_key(&path, "name");
		rc = llmo_validate_dns1123_label(meta.name, path.data, errs);
	}
out:
	llmo_fields_free(llmo_object_meta_fields, &meta);
	llmo_buf_release(&path);
	return rc;
}

static bool strict_validation(struct llmo__req *r)
{
	const char *v = query(r, "fieldValidation");

	return !v || strcmp(v, "Strict") == 0;
}

/* The part of an object that generation follows: everything but metadata and status. */
static bool spec_changed(const json_t *a, const json_t *b)
{
	json_t *ca = json_copy((json_t *)a), *cb = json_copy((json_t *)b);
	bool changed;

	json_object_del(ca, "metadata");
	json_object_del(cb, "metadata");
	json_object_del(ca, "status");
	json_object_del(cb, "status");
	changed = !json_equal(ca, cb);
	json_decref(ca);
	json_decref(cb);
	return changed;
}

/* ---- CRDs ---- */

int llmo__crd_sync(struct llmo_apiserver *srv, struct llmo_error *err);

static int crd_item(void *ctx, const char *ns, const char *name, const char *data, int64_t rv)
{
	struct llmo_apiserver *srv = ctx;
	struct llmo_error err = {0};
	json_t *crd = json_loads(data, 0, NULL);

	if (crd && llmo_resources_add_crd(&srv->resources, crd, &err))
		llmo_log(LLMO_LOG_WARN, LOG, "CRD not served", "name=%s error=\"%s\"", name,
			 err.msg);
	json_decref(crd);
	return 0;
}

struct keys {
	LLMO_VEC(char *) v; /* "ns\nname" */
};

static int collect_key(void *ctx, const char *ns, const char *name, const char *data, int64_t rv)
{
	struct keys *k = ctx;
	char **slot = llmo_vec_push(&k->v);
	size_t nl = strlen(ns), n = strlen(name);

	if (!slot)
		return LLMO_ENOMEM;
	*slot = malloc(nl + n + 2);
	if (!*slot)
		return LLMO_ENOMEM;
	memcpy(*slot, ns, nl);
	(*slot)[nl] = '\n';
	memcpy(*slot + nl + 1, name, n + 1);
	return 0;
}

/*
 * The objects of a custom resource whose CRD is gone go with it, as
 * kube-apiserver's customresourcecleanup finalizer makes them go (watchers
 * see them DELETED).
 */
static void purge_resource(struct llmo_apiserver *srv, const char *store_key)
{
	struct keys k = {LLMO_VEC_INIT};
	int64_t rv;
	bool more;
	size_t gone = 0;

	llmo_store_list(srv->store, store_key, NULL, NULL, NULL, 0, collect_key, &k, &rv, &more);
	for (size_t i = 0; i < k.v.len; i++) {
		char *nl = strchr(k.v.items[i], '\n');

		*nl = '\0';
		if (llmo_store_delete(srv->store, store_key, k.v.items[i], nl + 1, 0, NULL, &rv) == 0)
			gone++;
		free(k.v.items[i]);
	}
	llmo_vec_release(&k.v);
	if (gone)
		llmo_log(LLMO_LOG_INFO, LOG, "custom objects deleted with their CRD",
			 "resource=%s count=%zu", store_key, gone);
}

int llmo__crd_sync(struct llmo_apiserver *srv, struct llmo_error *err)
{
	LLMO_VEC(char *) before = LLMO_VEC_INIT;
	int64_t rv;
	bool more;
	int rc;

	for (size_t i = 0; i < srv->resources.v.len; i++) {
		const struct llmo_resource *res = srv->resources.v.items[i];
		char **slot;

		if (!res->from_crd)
			continue;
		slot = llmo_vec_push(&before);
		if (slot)
			*slot = llmo_strdup(res->store_key);
	}

	/* drop what CRDs served, then serve what the store has now; watches on
	 * custom resources point at those definitions, so they end (clients
	 * re-watch, as they do when kube-apiserver closes a watch) */
	llmo__watch_close_crd(srv);
	for (size_t i = 0; i < srv->resources.v.len;) {
		struct llmo_resource *res = srv->resources.v.items[i];
		char name[512];

		if (!res->from_crd) {
			i++;
			continue;
		}
		snprintf(name, sizeof(name), "%s.%s", res->plural, res->group);
		llmo_resources_remove_crd(&srv->resources, name);
	}
	rc = llmo_store_list(srv->store, CRD_KEY, "", NULL, NULL, 0, crd_item, srv, &rv, &more);
	if (rc)
		rc = llmo_error_set(err, rc, "listing CRDs: %s", llmo_strerror(rc));
	for (size_t i = 0; i < before.len; i++) {
		bool served = false;

		for (size_t j = 0; !rc && before.items[i] && j < srv->resources.v.len; j++) {
			const struct llmo_resource *res = srv->resources.v.items[j];

			served = served || (res->from_crd && strcmp(res->store_key, before.items[i]) == 0);
		}
		if (!rc && before.items[i] && !served)
			purge_resource(srv, before.items[i]);
		free(before.items[i]);
	}
	llmo_vec_release(&before);
	return rc;
}

static int check_crd(const json_t *crd, struct llmo_errlist *errs)
{
	const json_t *spec = json_object_get(crd, "spec");
	const json_t *names = json_object_get(spec, "names");
	const char *group = json_string_value(json_object_get(spec, "group"));
	const char *plural = json_string_value(json_object_get(names, "plural"));
	const char *name = meta_str(crd, "name");
	char want[512];
	size_t i, storage = 0;
	json_t *v;

	if (!group)
		llmo_errlist_add(errs, "spec.group", "required field is missing");
	if (!plural)
		llmo_errlist_add(errs, "spec.names.plural", "required field is missing");
	if (!json_string_value(json_object_get(names, "kind")))
		llmo_errlist_add(errs, "spec.names.kind", "required field is missing");
	if (group && plural) {
		snprintf(want, sizeof(want), "%s.%s", plural, group);
		if (!name || strcmp(name, want) != 0)
			llmo_errlist_add(errs, "metadata.name", "must be spec.names.plural+\".\"+"
					 "spec.group: \"%s\"", want);
	}
	json_array_foreach(json_object_get(spec, "versions"), i, v)
		storage += json_is_true(json_object_get(v, "storage"));
	if (storage != 1)
		llmo_errlist_add(errs, "spec.versions", "must have exactly one storage version");
	return 0;
}

/* ---- writes ---- */

/*
 * A CRD write changes what is served (discovery, OpenAPI, the custom
 * resources' handlers). In an open batch that happens once it commits (the
 * flush reads the committed CRDs again, then the next request sees them):
 * until then the write may still be rolled back, and its answer waits too.
 */
static void after_write(struct llmo__req *r)
{
	struct llmo_error err = {0};

	if (strcmp(r->res->store_key, CRD_KEY) != 0)
		return;
	if (r->srv->batch_open)
		r->srv->crds_stale = true;
	else if (llmo__crd_sync(r->srv, &err))
		llmo_log(LLMO_LOG_ERROR, LOG, "CRD sync failed", "error=\"%s\"", err.msg);
}

static bool namespace_usable(struct llmo__req *r, const char *ns)
{
	char *data = NULL;
	json_t *obj;
	int64_t rv;
	bool terminating;

	if (llmo_store_get(r->srv->store, NS_KEY, "", ns, &data, &rv)) {
		llmo__reply_status(r->req, 404, "NotFound",
				   json_pack("{s:s, s:s}", "name", ns, "kind", "namespaces"),
				   "namespaces \"%s\" not found", ns);
		return false;
	}
	/*
	 * Every create in a namespace asks this: parse the namespace only when
	 * its text can hold the key at all (stored text is written by jansson,
	 * which never escapes the letters of a key).
	 */
	terminating = false;
	if (strstr(data, "\"deletionTimestamp\"")) {
		obj = json_loads(data, 0, NULL);
		terminating = meta_str(obj, "deletionTimestamp") != NULL;
		json_decref(obj);
	}
	free(data);
	if (terminating) {
		llmo__reply_status(r->req, 403, "Forbidden", NULL,
				   "unable to create new content in namespace %s because it is "
				   "being terminated", ns);
		return false;
	}
	return true;
}

/*
 * The escalation check of RBAC writes (rbac.h): true when r->user may store
 * obj; otherwise answers 403 and returns false.
 */
static bool rbac_write_allowed(struct llmo__req *r, const json_t *obj)
{
	char msg[2048], q[300];
	bool allowed = true;
	int rc;

	if (!r->user || strcmp(r->res->group, "rbac.authorization.k8s.io") != 0)
		return true;
	rc = llmo_rbac_check_escalation(r->srv->store, r->user, r->res->plural, r->ns, obj,
					&allowed, msg, sizeof(msg));
	if (rc) {
		llmo__reply_status(r->req, 500, "InternalError", NULL, "authorization failed: %s",
				   llmo_strerror(rc));
		return false;
	}
	if (allowed)
		return true;
	llmo__qualified_name(r->res, q, sizeof(q));
	llmo__reply_status(r->req, 403, "Forbidden",
			   json_pack("{s:s, s:s, s:s}", "name", meta_str(obj, "name")
							? meta_str(obj, "name") : "",
				     "group", r->res->group, "kind", r->res->plural),
			   "%s \"%s\" is forbidden: %s", q,
			   meta_str(obj, "name") ? meta_str(obj, "name") : "", msg);
	return false;
}

static void commit_create(struct llmo__req *r, json_t *obj, bool applied)
{
	json_t *meta = meta_of(obj);
	const char *obj_ns = meta_str(obj, "namespace");
	const char *name = meta_str(obj, "name");
	const char *gen = meta_str(obj, "generateName");
	struct llmo_errlist errs;
	char uid[37], ts[64], gen_name[300], *row = NULL, *answer;
	size_t meta_at, len;
	int64_t rv;
	int rc;

	llmo_errlist_init(&errs);
	if (r->res->namespaced) {
		if (obj_ns && *obj_ns && strcmp(obj_ns, r->ns) != 0) {
			llmo__reply_status(r->req, 400, "BadRequest", NULL,
					   "the namespace of the provided object does not match the "
					   "namespace sent on the request");
			goto out;
		}
		if (!namespace_usable(r, r->ns))
			goto out;
		json_object_set_new(meta, "namespace", json_string(r->ns));
	} else {
		json_object_del(meta, "namespace");
	}
	if (!name && gen) {
		unsigned char rnd[5];
		static const char alnum[] = "bcdfghjklmnpqrstvwxz2456789";

		RAND_bytes(rnd, sizeof(rnd));
		snprintf(gen_name, sizeof(gen_name), "%.*s%c%c%c%c%c", 200, gen,
			 alnum[rnd[0] % 27], alnum[rnd[1] % 27], alnum[rnd[2] % 27],
			 alnum[rnd[3] % 27], alnum[rnd[4] % 27]);
		json_object_set_new(meta, "name", json_string(gen_name));
		name = meta_str(obj, "name");
	}
	new_uid(uid);
	now_rfc3339(ts, sizeof(ts));
	json_object_set_new(meta, "uid", json_string(uid));
	json_object_set_new(meta, "creationTimestamp", json_string(ts));
	json_object_set_new(meta, "generation", json_integer(1));
	json_object_del(meta, "deletionTimestamp");
	json_object_del(meta, "deletionGracePeriodSeconds");
	json_object_del(meta, "resourceVersion");
	if (r->res->from_crd && (r->res->subresources & LLMO_SUB_STATUS))
		json_object_del(obj, "status");
	rc = check_object(r, obj, strict_validation(r), &errs);
	if (!rc && strcmp(r->res->store_key, CRD_KEY) == 0)
		rc = check_crd(obj, &errs);
	if (!rc && !llmo_errlist_count(&errs) && !rbac_write_allowed(r, obj))
		goto out;
	if (rc) {
		llmo__reply_status(r->req, 500, "InternalError", NULL, "%s", llmo_strerror(rc));
		goto out;
	}
	if (llmo_errlist_count(&errs)) {
		llmo__reply_invalid(r->req, r->res, name, &errs);
		goto out;
	}
	name = meta_str(obj, "name");
	if (!applied)
		record_update(r, NULL, obj);
	if (query(r, "dryRun")) {
		llmo__reply_json(r->req, 201, json_incref(obj));
		goto out;
	}
	/*
	 * apiVersion and kind go into the row too, so that the answer is the
	 * stored text plus the resourceVersion: one serialisation per create.
	 */
	set_type(r->res, obj);
	row = llmo__row_dump(obj, &meta_at);
	llmo__write_begin(r->srv);
	rc = row ? llmo_store_create(r->srv->store, r->res->store_key,
				     r->res->namespaced ? r->ns : "", name, row, &rv)
		 : LLMO_ENOMEM;
	if (rc) {
		reply_store_error(r, rc, name);
		goto out;
	}
	after_write(r);
	answer = llmo__row_with_rv(row, meta_at, rv, &len);
	if (answer)
		llmo__reply_written_text(r->srv, r->req, 201, answer, len);
	else
		llmo__reply_written(r->srv, r->req, 201, as_stored(r->res, obj, rv));
out:
	free(row);
	llmo_errlist_release(&errs);
}

static int delete_object(struct llmo__req *r, const struct llmo_resource *res, const char *ns,
			 const char *name, const char *policy, int depth, bool finalizers,
			 json_t **deleted);

/*
 * Stores updated (a full object) over old. sub is "" or "status". Keeps the
 * server-owned metadata, recomputes generation, checks the result, and
 * finishes a deletion whose last finalizer went away. Replies.
 */
static void commit_update(struct llmo__req *r, json_t *old, int64_t old_rv, json_t *updated,
			  const char *sub, bool applied)
{
	json_t *result, *meta, *old_meta = json_object_get(old, "metadata");
	const char *name = meta_str(old, "name");
	const char *body_rv = meta_str(updated, "resourceVersion");
	int64_t want_rv = parse_rv(body_rv), rv;
	struct llmo_errlist errs;
	char *row = NULL;
	const json_t *fin;
	int rc;

	llmo_errlist_init(&errs);
	if (want_rv < 0) {
		llmo__reply_status(r->req, 400, "BadRequest", NULL,
				   "metadata.resourceVersion: invalid value \"%s\"", body_rv);
		goto out;
	}
	if (want_rv && want_rv != old_rv) {
		reply_store_error(r, LLMO_ECONFLICT, name);
		goto out;
	}
	if (meta_str(updated, "name") && strcmp(meta_str(updated, "name"), name) != 0) {
		llmo__reply_status(r->req, 400, "BadRequest", NULL,
				   "the name of the object (%s) does not match the name on the "
				   "URL (%s)", meta_str(updated, "name"), name);
		goto out;
	}
	if (strcmp(sub, "status") == 0) {
		result = json_deep_copy(old);
		if (json_object_get(updated, "status"))
			json_object_set(result, "status", json_object_get(updated, "status"));
		else
			json_object_del(result, "status");
	} else {
		result = json_deep_copy(updated);
		if (r->res->subresources & LLMO_SUB_STATUS) {
			if (json_object_get(old, "status"))
				json_object_set(result, "status", json_object_get(old, "status"));
			else
				json_object_del(result, "status");
		}
	}
	meta = meta_of(result);
	/* server-owned metadata comes from the stored object */
	{
		static const char *const owned[] = {"uid", "creationTimestamp", "namespace",
						    "name", "deletionTimestamp",
						    "deletionGracePeriodSeconds"};

		for (size_t i = 0; i < LLMO_ARRAY_LEN(owned); i++) {
			json_t *v = json_object_get(old_meta, owned[i]);

			if (v)
				json_object_set(meta, owned[i], v);
			else
				json_object_del(meta, owned[i]);
		}
	}
	{
		json_int_t gen = json_integer_value(json_object_get(old_meta, "generation"));

		if (spec_changed(old, result))
			gen++;
		json_object_set_new(meta, "generation", json_integer(gen ? gen : 1));
	}
	rc = check_object(r, result, strict_validation(r) && strcmp(sub, "status") != 0, &errs);
	if (!rc && strcmp(r->res->store_key, CRD_KEY) == 0)
		rc = check_crd(result, &errs);
	if (!rc && !llmo_errlist_count(&errs) && !rbac_write_allowed(r, result))
		goto out_result;
	if (rc) {
		llmo__reply_status(r->req, 500, "InternalError", NULL, "%s", llmo_strerror(rc));
		goto out_result;
	}
	if (llmo_errlist_count(&errs)) {
		llmo__reply_invalid(r->req, r->res, name, &errs);
		goto out_result;
	}
	if (applied)
		json_object_set(meta, "managedFields",
				json_object_get(json_object_get(updated, "metadata"), "managedFields"));
	else
		record_update(r, old, result);
	if (query(r, "dryRun")) {
		llmo__reply_json(r->req, 200, json_incref(result));
		goto out_result;
	}
	fin = json_object_get(meta, "finalizers");
	if (meta_str(result, "deletionTimestamp") && json_array_size(fin) == 0) {
		json_t *gone = NULL;

		/* the last finalizer is gone: the deletion completes */
		rc = delete_object(r, r->res, r->res->namespaced ? r->ns : "", name, NULL, 0, false,
				   &gone);
		if (rc)
			reply_store_error(r, rc, name);
		else
			llmo__reply_written(r->srv, r->req, 200, gone);
		goto out_result;
	}
	row = to_row(result);
	llmo__write_begin(r->srv);
	rc = row ? llmo_store_update(r->srv->store, r->res->store_key,
				     r->res->namespaced ? r->ns : "", name, row, old_rv, &rv)
		 : LLMO_ENOMEM;
	if (rc) {
		reply_store_error(r, rc, name);
		goto out_result;
	}
	after_write(r);
	llmo__reply_written(r->srv, r->req, 200, as_stored(r->res, result, rv));
out_result:
	json_decref(result);
out:
	free(row);
	llmo_errlist_release(&errs);
}

/* ---- deletion and garbage collection ---- */

struct dependents {
	const char *owner_uid;
	LLMO_VEC(char *) names; /* "ns\0name" pairs packed as ns + '\n' + name */
};

static int find_dependent(void *ctx, const char *ns, const char *name, const char *data,
			  int64_t rv)
{
	struct dependents *d = ctx;
	json_t *obj = json_loads(data, 0, NULL);
	json_t *refs = json_object_get(json_object_get(obj, "metadata"), "ownerReferences");
	size_t i;
	json_t *ref;

	json_array_foreach(refs, i, ref) {
		const char *uid = json_string_value(json_object_get(ref, "uid"));

		if (uid && strcmp(uid, d->owner_uid) == 0) {
			struct llmo_buf b;
			char **slot;

			llmo_buf_init(&b, 1024);
			llmo_buf_appendf(&b, "%s\n%s", ns, name);
			slot = llmo_vec_push(&d->names);
			if (slot)
				*slot = llmo_buf_detach(&b, NULL);
			llmo_buf_release(&b);
			break;
		}
	}
	json_decref(obj);
	return 0;
}

/* Removes the owner's reference from a dependent (propagationPolicy Orphan). */
static void orphan(struct llmo__req *r, const struct llmo_resource *res, const char *ns,
		   const char *name, const char *owner_uid)
{
	char *data = NULL, *row;
	json_t *obj, *refs, *keep;
	int64_t rv;
	size_t i;
	json_t *ref;

	llmo__write_begin(r->srv);
	if (llmo_store_get(r->srv->store, res->store_key, ns, name, &data, &rv))
		return;
	obj = json_loads(data, 0, NULL);
	free(data);
	refs = json_object_get(json_object_get(obj, "metadata"), "ownerReferences");
	keep = json_array();
	json_array_foreach(refs, i, ref) {
		const char *uid = json_string_value(json_object_get(ref, "uid"));

		if (!uid || strcmp(uid, owner_uid) != 0)
			json_array_append(keep, ref);
	}
	json_object_set_new(meta_of(obj), "ownerReferences", keep);
	row = to_row(obj);
	if (row)
		llmo_store_update(r->srv->store, res->store_key, ns, name, row, rv, &rv);
	free(row);
	json_decref(obj);
}

/* Deletes or orphans everything whose ownerReferences name owner_uid. */
static void collect_dependents(struct llmo__req *r, const char *owner_uid, const char *owner_ns,
			       const char *policy, int depth)
{
	for (size_t i = 0; i < r->srv->resources.v.len; i++) {
		const struct llmo_resource *res = r->srv->resources.v.items[i];
		struct dependents d = {.owner_uid = owner_uid};
		int64_t rv;
		bool more;

		llmo_store_list(r->srv->store, res->store_key,
				res->namespaced ? (owner_ns && *owner_ns ? owner_ns : NULL) : "",
				NULL, NULL, 0, find_dependent, &d, &rv, &more);
		for (size_t j = 0; j < d.names.len; j++) {
			char *nl = strchr(d.names.items[j], '\n');

			*nl = '\0';
			if (policy && strcmp(policy, "Orphan") == 0) {
				orphan(r, res, d.names.items[j], nl + 1, owner_uid);
			} else {
				json_t *gone = NULL;

				delete_object(r, res, d.names.items[j], nl + 1, policy, depth + 1,
					      true, &gone);
				json_decref(gone);
			}
			free(d.names.items[j]);
		}
		llmo_vec_release(&d.names);
	}
}

struct ns_item {
	LLMO_VEC(char *) names;
};

static int collect_name(void *ctx, const char *ns, const char *name, const char *data,
			int64_t rv)
{
	struct ns_item *c = ctx;
	char **slot = llmo_vec_push(&c->names);

	if (slot)
		*slot = strdup(name);
	return slot && *slot ? 0 : LLMO_ENOMEM;
}

/* Deletes every object in namespace ns (the namespace's own deletion). */
static void empty_namespace(struct llmo__req *r, const char *ns)
{
	for (size_t i = 0; i < r->srv->resources.v.len; i++) {
		const struct llmo_resource *res = r->srv->resources.v.items[i];
		struct ns_item c = {0};
		int64_t rv;
		bool more;

		if (!res->namespaced)
			continue;
		llmo_store_list(r->srv->store, res->store_key, ns, NULL, NULL, 0, collect_name, &c,
				&rv, &more);
		for (size_t j = 0; j < c.names.len; j++) {
			char *data = NULL;

			/* finalizers do not hold up a namespace's deletion here */
			llmo_store_delete(r->srv->store, res->store_key, ns, c.names.items[j], 0, &data,
					  &rv);
			free(data);
			free(c.names.items[j]);
		}
		llmo_vec_release(&c.names);
	}
}

/* Pods run by a node agent: a delete gives the agent time to stop them. */
static bool pod_is_running_on_node(const json_t *pod)
{
	json_t *spec = json_object_get(pod, "spec");
	const char *node = json_string_value(json_object_get(spec, "nodeName"));
	const char *phase =
		json_string_value(json_object_get(json_object_get(pod, "status"), "phase"));

	if (!node || !*node)
		return false;
	return !phase || (strcmp(phase, "Succeeded") != 0 && strcmp(phase, "Failed") != 0);
}

/*
 * kube-apiserver's graceful pod deletion: a pod bound to a node and not
 * finished gets deletionTimestamp = now + grace and stays until the node's
 * agent has stopped it and deletes it with grace 0. A shorter grace
 * shortens a pending one; grace 0 deletes at once (`--force`). Returns
 * true when obj was marked (or already was) and must stay.
 */
static bool pod_grace(struct llmo__req *r, json_t *obj, int64_t *grace_out)
{
	json_t *spec = json_object_get(obj, "spec");
	json_t *tg = json_object_get(spec, "terminationGracePeriodSeconds");
	json_t *cur = json_object_get(meta_of(obj), "deletionGracePeriodSeconds");
	int64_t grace = r->grace >= 0 ? r->grace : json_is_integer(tg) ? json_integer_value(tg) : 30;

	if (grace <= 0 || !pod_is_running_on_node(obj))
		return false;
	if (meta_str(obj, "deletionTimestamp") && json_is_integer(cur) &&
	    json_integer_value(cur) <= grace) {
		*grace_out = -1; /* pending with a shorter grace: keep it */
		return true;
	}
	*grace_out = grace;
	return true;
}

/*
 * Deletes one object: with finalizers it only gets a deletionTimestamp;
 * without, it goes, its dependents are collected (policy), and a
 * namespace takes its contents along. *deleted gets the last state.
 */
static int delete_object(struct llmo__req *r, const struct llmo_resource *res, const char *ns,
			 const char *name, const char *policy, int depth, bool finalizers,
			 json_t **deleted)
{
	char *data = NULL, *row;
	int64_t rv, grace = 0;
	json_t *obj;
	int rc;

	*deleted = NULL;
	llmo__write_begin(r->srv);
	rc = llmo_store_get(r->srv->store, res->store_key, ns, name, &data, &rv);
	if (rc)
		return rc;
	obj = llmo__object_from_row(res, data, rv);
	free(data);
	if (!obj)
		return LLMO_EINTERNAL;
	if (finalizers && strcmp(res->kind, "Pod") == 0 && pod_grace(r, obj, &grace)) {
		if (grace > 0) {
			char ts[64];

			llmo_time_format_rfc3339(llmo_clock_wall_ms() + grace * 1000, false, ts,
						 sizeof(ts));
			json_object_set_new(meta_of(obj), "deletionTimestamp", json_string(ts));
			json_object_set_new(meta_of(obj), "deletionGracePeriodSeconds",
					    json_integer(grace));
			row = to_row(obj);
			rc = row ? llmo_store_update(r->srv->store, res->store_key, ns, name, row,
						     rv, &rv)
				 : LLMO_ENOMEM;
			json_decref(obj);
			obj = rc ? NULL : llmo__object_from_row(res, row, rv);
			free(row);
		}
		*deleted = obj;
		return rc;
	}
	if (policy && strcmp(policy, "Foreground") == 0 && depth < GC_DEPTH_MAX)
		collect_dependents(r, meta_str(obj, "uid"), ns, policy, depth);
	if (finalizers && json_array_size(json_object_get(meta_of(obj), "finalizers")) > 0 &&
	    strcmp(res->kind, "Namespace") != 0) {
		if (!meta_str(obj, "deletionTimestamp")) {
			char ts[64];

			now_rfc3339(ts, sizeof(ts));
			json_object_set_new(meta_of(obj), "deletionTimestamp", json_string(ts));
			json_object_set_new(meta_of(obj), "deletionGracePeriodSeconds",
					    json_integer(0));
			row = to_row(obj);
			rc = row ? llmo_store_update(r->srv->store, res->store_key, ns, name, row,
						     rv, &rv)
				 : LLMO_ENOMEM;
			if (!rc) {
				json_decref(obj);
				obj = llmo__object_from_row(res, row, rv);
			}
			free(row);
		}
		*deleted = obj;
		return rc;
	}
	if (strcmp(res->kind, "Namespace") == 0)
		empty_namespace(r, name);
	rc = llmo_store_delete(r->srv->store, res->store_key, ns, name, 0, NULL, &rv);
	if (rc) {
		json_decref(obj);
		return rc;
	}
	if ((!policy || strcmp(policy, "Foreground") != 0) && depth < GC_DEPTH_MAX)
		collect_dependents(r, meta_str(obj, "uid"), ns, policy, depth);
	*deleted = obj;
	return 0;
}

static const char *delete_policy(struct llmo__req *r, json_t *opts)
{
	const char *p = query(r, "propagationPolicy");

	if (!p && opts)
		p = json_string_value(json_object_get(opts, "propagationPolicy"));
	if (!p && opts && json_is_true(json_object_get(opts, "orphanDependents")))
		p = "Orphan";
	return p;
}

/* gracePeriodSeconds from the query or DeleteOptions into r->grace; 400 when malformed. */
static int delete_grace(struct llmo__req *r, json_t *opts)
{
	const char *q = query(r, "gracePeriodSeconds");
	json_t *g = json_object_get(opts, "gracePeriodSeconds");
	int64_t v;

	if (q) {
		if (llmo_parse_int_range(q, -1, INT32_MAX, &v, NULL)) {
			llmo__reply_status(r->req, 400, "BadRequest", NULL,
					   "gracePeriodSeconds: \"%s\" is not a whole number of seconds",
					   q);
			return -1;
		}
		r->grace = v < 0 ? -1 : v;
	} else if (g && !json_is_null(g)) {
		if (!json_is_integer(g) || json_integer_value(g) > INT32_MAX) {
			llmo__reply_status(r->req, 400, "BadRequest", NULL,
					   "DeleteOptions.gracePeriodSeconds must be a whole number");
			return -1;
		}
		r->grace = json_integer_value(g) < 0 ? -1 : json_integer_value(g);
	}
	return 0;
}

static void handle_delete(struct llmo__req *r)
{
	json_t *opts = NULL, *gone = NULL, *pre;
	struct evbuffer *in = evhttp_request_get_input_buffer(r->req);
	const char *policy;
	int rc;

	if (evbuffer_get_length(in) && read_body(r, &opts))
		return;
	policy = delete_policy(r, opts);
	if (delete_grace(r, opts))
		goto out;
	if (policy && strcmp(policy, "Orphan") && strcmp(policy, "Background") &&
	    strcmp(policy, "Foreground")) {
		llmo__reply_status(r->req, 400, "BadRequest", NULL,
				   "propagationPolicy \"%s\" is not one of Orphan, Background, "
				   "Foreground", policy);
		goto out;
	}
	pre = json_object_get(opts, "preconditions");
	if (pre) {
		int64_t rv;
		json_t *cur = load(r, r->res, r->ns, r->name, &rv);
		const char *uid = json_string_value(json_object_get(pre, "uid"));
		int64_t want = parse_rv(json_string_value(json_object_get(pre, "resourceVersion")));

		if (cur && ((uid && strcmp(uid, meta_str(cur, "uid")) != 0) ||
			    (want > 0 && want != rv))) {
			json_decref(cur);
			reply_store_error(r, LLMO_ECONFLICT, r->name);
			goto out;
		}
		json_decref(cur);
	}
	if (query(r, "dryRun")) {
		int64_t rv;
		json_t *cur = load(r, r->res, r->ns, r->name, &rv);

		if (!cur)
			llmo__reply_not_found(r->req, r->res, r->name);
		else
			llmo__reply_json(r->req, 200, cur);
		goto out;
	}
	rc = delete_object(r, r->res, r->res->namespaced ? r->ns : "", r->name, policy, 0, true,
			   &gone);
	if (rc) {
		reply_store_error(r, rc, r->name);
		goto out;
	}
	after_write(r);
	llmo__reply_written(r->srv, r->req, 200, gone);
out:
	json_decref(opts);
}

/* ---- reads ---- */

struct list_ctx {
	struct llmo__req *r;
	struct llmo_selector *labels;
	struct llmo_field_selector *fields;
	json_t *items;      /* collected items (tables, deletecollection) ... */
	struct evbuffer *out; /* ... or items written straight into the reply */
	size_t count;
	size_t limit;
	bool more;
	char last_ns[LLMO_DNS1123_LABEL_MAX + 1];
	char last_name[LLMO_DNS1123_SUBDOMAIN_MAX + 1];
};

static int list_item(void *ctx, const char *ns, const char *name, const char *data, int64_t rv)
{
	struct list_ctx *c = ctx;
	json_t *obj;

	/* most lists: the stored text itself, the resourceVersion added */
	if (c->out && !c->labels && !c->fields && !(c->limit && c->count == c->limit) &&
	    llmo__row_text(c->r->res, data, rv, c->count ? "," : "", c->out)) {
		c->count++;
		snprintf(c->last_ns, sizeof(c->last_ns), "%s", ns);
		snprintf(c->last_name, sizeof(c->last_name), "%s", name);
		return 0;
	}
	obj = llmo__object_from_row(c->r->res, data, rv);
	if (!obj)
		return 0;
	if ((c->labels && !llmo_selector_matches(c->labels,
						 json_object_get(meta_of(obj), "labels"))) ||
	    (c->fields && !llmo_field_selector_matches(c->fields, obj))) {
		json_decref(obj);
		return 0;
	}
	if (c->limit && c->count == c->limit) {
		c->more = true;
		json_decref(obj);
		return 1;
	}
	if (c->out) {
		/* one object at a time: a list of 10,000 never exists as one tree */
		char *text = llmo_json_dump_compact(obj);

		if (text) {
			if (c->count)
				evbuffer_add(c->out, ",", 1);
			evbuffer_add(c->out, text, strlen(text));
		}
		free(text);
		json_decref(obj);
	} else {
		json_array_append_new(c->items, obj);
	}
	c->count++;
	snprintf(c->last_ns, sizeof(c->last_ns), "%s", ns);
	snprintf(c->last_name, sizeof(c->last_name), "%s", name);
	return 0;
}

static const char *const field_selectable_common[] = {"metadata.name", "metadata.namespace",
						      NULL};
static const char *const field_selectable_pods[] = {"metadata.name", "metadata.namespace",
						    "spec.nodeName", "spec.schedulerName",
						    "status.phase", NULL};
static const char *const field_selectable_events[] = {
	"metadata.name", "metadata.namespace", "involvedObject.kind", "involvedObject.namespace",
	"involvedObject.name", "involvedObject.uid", "involvedObject.apiVersion",
	"involvedObject.resourceVersion", "involvedObject.fieldPath", "reason", "type",
	"source", NULL};

static const char *const *field_selectable(const struct llmo_resource *res)
{
	/* PodMetrics are selected by their pod's fields, as metrics-server does */
	if ((!*res->group || res->metrics) && strcmp(res->plural, "pods") == 0)
		return field_selectable_pods;
	if (!*res->group && strcmp(res->plural, "events") == 0)
		return field_selectable_events;
	return field_selectable_common;
}

/* Parses labelSelector and fieldSelector; replies 400 and returns false on error. */
/* ?labelSelector= into *labels (NULL without one). false after answering 400. */
static bool parse_label_selector(struct llmo__req *r, struct llmo_selector **labels)
{
	const char *ls = query(r, "labelSelector");
	struct llmo_error err = {0};

	*labels = NULL;
	if (ls && *ls && llmo_selector_parse(ls, labels, &err)) {
		llmo__reply_status(r->req, 400, "BadRequest", NULL, "unable to parse requirement: %s",
				   err.msg);
		return false;
	}
	return true;
}

static bool parse_selectors(struct llmo__req *r, struct llmo_selector **labels,
			    struct llmo_field_selector **fields)
{
	const char *fs = query(r, "fieldSelector");
	struct llmo_error err = {0};

	*fields = NULL;
	if (!parse_label_selector(r, labels))
		return false;
	if (fs && *fs &&
	    (llmo_field_selector_parse(fs, fields, &err) ||
	     llmo_field_selector_check(*fields, field_selectable(r->res), &err))) {
		llmo__reply_status(r->req, 400, "BadRequest", NULL, "%s", err.msg);
		llmo_selector_free(*labels);
		llmo_field_selector_free(*fields);
		*labels = NULL;
		*fields = NULL;
		return false;
	}
	return true;
}

static char *continue_token(const char *ns, const char *name, int64_t rv)
{
	json_t *t = json_pack("{s:s, s:s, s:I}", "ns", ns, "name", name, "rv", (json_int_t)rv);
	char *text = t ? json_dumps(t, JSON_COMPACT) : NULL;
	char *out = NULL;

	json_decref(t);
	if (text) {
		size_t n = strlen(text);

		out = malloc(4 * ((n + 2) / 3) + 1);
		if (out)
			EVP_EncodeBlock((unsigned char *)out, (unsigned char *)text, (int)n);
	}
	free(text);
	return out;
}

static json_t *parse_continue(const char *tok)
{
	unsigned char buf[CONTINUE_MAX];
	size_t n = strlen(tok);
	int len;

	if (n == 0 || n > CONTINUE_MAX || n % 4)
		return NULL;
	len = EVP_DecodeBlock(buf, (const unsigned char *)tok, (int)n);
	if (len <= 0)
		return NULL;
	while (len > 0 && buf[len - 1] == '\0')
		len--;
	return json_loadb((const char *)buf, (size_t)len, 0, NULL);
}

static void handle_list(struct llmo__req *r)
{
	struct list_ctx c = {.r = r};
	const char *limit = query(r, "limit"), *cont = query(r, "continue");
	json_t *tok = NULL;
	const char *after_ns = NULL, *after_name = NULL;
	char api_version[128], rvbuf[32];
	int64_t list_rv = 0;
	bool more = false;
	int rc;

	if (!parse_selectors(r, &c.labels, &c.fields))
		return;
	if (limit) {
		char *end;
		long v = strtol(limit, &end, 10);

		c.limit = (*end || v < 0) ? 0 : (size_t)v;
	}
	if (cont && *cont) {
		tok = parse_continue(cont);
		after_ns = json_string_value(json_object_get(tok, "ns"));
		after_name = json_string_value(json_object_get(tok, "name"));
		if (!after_ns || !after_name) {
			llmo__reply_status(r->req, 400, "BadRequest", NULL,
					   "the continue token is not valid");
			goto out;
		}
	}
	if (r->want_table)
		c.items = json_array();
	else
		c.out = evbuffer_new();
	if (!c.items && !c.out) {
		llmo__reply_status(r->req, 500, "InternalError", NULL, "out of memory");
		goto out;
	}
	llmo_resource_api_version(r->res, api_version, sizeof(api_version));
	if (c.out)
		evbuffer_add_printf(c.out, "{\"kind\":\"%s\",\"apiVersion\":\"%s\",\"items\":[",
				    r->res->list_kind, api_version);
	rc = llmo_store_list(r->srv->store, r->res->store_key,
			     r->res->namespaced ? (*r->ns ? r->ns : NULL) : "", after_ns, after_name,
			     0, list_item, &c, &list_rv, &more);
	if (rc < 0) {
		reply_store_error(r, rc, "");
		goto out;
	}
	if (tok)
		list_rv = json_integer_value(json_object_get(tok, "rv"));
	snprintf(rvbuf, sizeof(rvbuf), "%" PRId64, list_rv);
	if (r->want_table) {
		llmo__reply_json(r->req, 200, llmo__table(r->res, c.items, rvbuf, r->include));
		goto out;
	}
	evbuffer_add_printf(c.out, "],\"metadata\":{\"resourceVersion\":\"%s\"", rvbuf);
	if (c.more) {
		char *t = continue_token(c.last_ns, c.last_name, list_rv);

		/* base64: no character needs escaping in JSON */
		if (t)
			evbuffer_add_printf(c.out, ",\"continue\":\"%s\"", t);
		free(t);
	}
	evbuffer_add(c.out, "}}\n", 3);
	llmo__reply_json_buffer(r->req, 200, c.out);
out:
	json_decref(c.items);
	if (c.out)
		evbuffer_free(c.out);
	json_decref(tok);
	llmo_selector_free(c.labels);
	llmo_field_selector_free(c.fields);
}

static void handle_get(struct llmo__req *r, json_t *obj)
{
	if (r->want_table) {
		json_t *items = json_array();
		const char *rv = meta_str(obj, "resourceVersion");

		json_array_append(items, obj);
		llmo__reply_json(r->req, 200, llmo__table(r->res, items, rv ? rv : "", r->include));
		json_decref(items);
		json_decref(obj);
		return;
	}
	llmo__reply_json(r->req, 200, obj);
}

/* ---- scale ---- */

static json_t *scale_of(const struct llmo_resource *res, const json_t *obj)
{
	const json_t *spec = res->scale_spec_path ? llmo__jsonpath(obj, res->scale_spec_path) : NULL;
	const json_t *st = res->scale_status_path ? llmo__jsonpath(obj, res->scale_status_path)
						  : NULL;
	const json_t *sel = res->scale_selector_path
				    ? llmo__jsonpath(obj, res->scale_selector_path)
				    : NULL;
	json_t *meta = json_object_get(obj, "metadata");
	json_t *scale = json_pack("{s:s, s:s, s:{s:O*, s:O*, s:O*, s:O*, s:O*}, s:{s:I}, s:{s:I}}",
				  "kind", "Scale", "apiVersion", "autoscaling/v1", "metadata",
				  "name", json_object_get(meta, "name"), "namespace",
				  json_object_get(meta, "namespace"), "uid",
				  json_object_get(meta, "uid"), "resourceVersion",
				  json_object_get(meta, "resourceVersion"), "creationTimestamp",
				  json_object_get(meta, "creationTimestamp"), "spec", "replicas",
				  (json_int_t)json_integer_value(spec), "status", "replicas",
				  (json_int_t)json_integer_value(st));

	if (scale && json_is_string(sel))
		json_object_set(json_object_get(scale, "status"), "selector", (json_t *)sel);
	return scale;
}

/* Sets the integer at a simple ".a.b.c" path, creating objects on the way. */
static void set_path_int(json_t *obj, const char *path, json_int_t v)
{
	char key[256];
	const char *p = path + (*path == '.');
	json_t *cur = obj;

	for (;;) {
		size_t n = strcspn(p, ".");
		json_t *next;

		if (n >= sizeof(key))
			return;
		memcpy(key, p, n);
		key[n] = '\0';
		if (!p[n]) {
			json_object_set_new(cur, key, json_integer(v));
			return;
		}
		next = json_object_get(cur, key);
		if (!json_is_object(next)) {
			next = json_object();
			json_object_set_new(cur, key, next);
		}
		cur = next;
		p += n + 1;
	}
}

static void handle_scale(struct llmo__req *r, json_t *obj, int64_t rv)
{
	json_t *body = NULL, *scale, *patched = NULL, *updated;
	struct llmo_error err = {0};
	json_int_t replicas;
	const char *ctype;

	if (r->cmd == EVHTTP_REQ_GET) {
		llmo__reply_json(r->req, 200, scale_of(r->res, obj));
		return;
	}
	if (read_body(r, &body))
		return;
	scale = scale_of(r->res, obj);
	if (r->cmd == EVHTTP_REQ_PATCH) {
		ctype = evhttp_find_header(evhttp_request_get_input_headers(r->req),
					   "Content-Type");
		if (ctype && strstr(ctype, "json-patch"))
			llmo_patch_json(scale, body, &patched, &err);
		else
			llmo_patch_merge(scale, body, &patched, &err);
		if (!patched) {
			llmo__reply_status(r->req, 422, "Invalid", NULL, "%s", err.msg);
			goto out;
		}
	} else {
		patched = json_incref(body);
	}
	replicas = json_integer_value(llmo__jsonpath(patched, ".spec.replicas"));
	if (!json_is_integer(llmo__jsonpath(patched, ".spec.replicas")) || replicas < 0) {
		llmo__reply_status(r->req, 422, "Invalid", NULL,
				   "Scale.autoscaling \"%s\" is invalid: spec.replicas: must be a "
				   "non-negative integer", r->name);
		goto out;
	}
	updated = json_deep_copy(obj);
	set_path_int(updated, r->res->scale_spec_path, replicas);
	{
		const char *want = meta_str(patched, "resourceVersion");

		if (want && parse_rv(want) != rv) {
			reply_store_error(r, LLMO_ECONFLICT, r->name);
			json_decref(updated);
			goto out;
		}
	}
	json_object_del(meta_of(updated), "resourceVersion");
	/* answer with the Scale, as kube-apiserver does */
	{
		struct evhttp_request *req = r->req;
		int64_t new_rv;
		char *row;
		struct llmo_errlist errs;

		llmo_errlist_init(&errs);
		if (spec_changed(obj, updated))
			json_object_set_new(meta_of(updated), "generation",
					    json_integer(json_integer_value(json_object_get(
								 meta_of(updated), "generation")) +
							 1));
		if (check_object(r, updated, false, &errs) == 0 && llmo_errlist_count(&errs)) {
			llmo__reply_invalid(req, r->res, r->name, &errs);
		} else {
			row = to_row(updated);
			llmo__write_begin(r->srv);
			if (row && llmo_store_update(r->srv->store, r->res->store_key,
						     r->res->namespaced ? r->ns : "", r->name, row,
						     rv, &new_rv) == 0) {
				json_t *now = llmo__object_from_row(r->res, row, new_rv);

				llmo__reply_written(r->srv, req, 200, scale_of(r->res, now));
				json_decref(now);
			} else {
				reply_store_error(r, LLMO_ECONFLICT, r->name);
			}
			free(row);
		}
		llmo_errlist_release(&errs);
	}
	json_decref(updated);
out:
	json_decref(scale);
	json_decref(patched);
	json_decref(body);
}

/* ---- pods/binding and pods/eviction ---- */

static void handle_binding(struct llmo__req *r, json_t *pod, int64_t rv)
{
	json_t *body = NULL, *spec, *status, *conds, *cond;
	const char *node, *cur;
	char ts[64], *row = NULL;
	int64_t new_rv;
	int rc;

	if (read_body(r, &body))
		return;
	node = json_string_value(llmo__jsonpath(body, ".target.name"));
	if (!node || !*node) {
		llmo__reply_status(r->req, 422, "Invalid", NULL,
				   "Binding \"%s\" is invalid: target.name: Required value", r->name);
		goto out;
	}
	spec = json_object_get(pod, "spec");
	if (!json_is_object(spec)) {
		spec = json_object();
		json_object_set_new(pod, "spec", spec);
	}
	cur = json_string_value(json_object_get(spec, "nodeName"));
	if (cur && *cur) {
		llmo__reply_status(r->req, 409, "Conflict", NULL,
				   "Operation cannot be fulfilled on pods/binding \"%s\": pod %s is "
				   "already assigned to node \"%s\"", r->name, r->name, cur);
		goto out;
	}
	json_object_set_new(spec, "nodeName", json_string(node));
	status = json_object_get(pod, "status");
	if (!json_is_object(status)) {
		status = json_object();
		json_object_set_new(pod, "status", status);
	}
	conds = json_object_get(status, "conditions");
	if (!json_is_array(conds)) {
		conds = json_array();
		json_object_set_new(status, "conditions", conds);
	}
	now_rfc3339(ts, sizeof(ts));
	cond = json_pack("{s:s, s:s, s:s}", "type", "PodScheduled", "status", "True",
			 "lastTransitionTime", ts);
	for (size_t i = json_array_size(conds); i-- > 0;) {
		const char *t = json_string_value(json_object_get(json_array_get(conds, i), "type"));

		if (t && strcmp(t, "PodScheduled") == 0)
			json_array_remove(conds, i);
	}
	json_array_append_new(conds, cond);
	row = to_row(pod);
	llmo__write_begin(r->srv);
	rc = row ? llmo_store_update(r->srv->store, r->res->store_key, r->ns, r->name, row, rv,
				     &new_rv)
		 : LLMO_ENOMEM;
	if (rc) {
		reply_store_error(r, rc, r->name);
		goto out;
	}
	llmo__reply_written(r->srv, r->req, 201,
			    json_pack("{s:s, s:s, s:{}, s:s, s:i}", "kind", "Status", "apiVersion",
				      "v1", "metadata", "status", "Success", "code", 201));
out:
	free(row);
	json_decref(body);
}

static void handle_eviction(struct llmo__req *r)
{
	json_t *body = NULL, *gone = NULL;
	int rc;

	if (read_body(r, &body))
		return;
	rc = delete_object(r, r->res, r->ns, r->name, NULL, 0, true, &gone);
	json_decref(gone);
	json_decref(body);
	if (rc) {
		reply_store_error(r, rc, r->name);
		return;
	}
	llmo__reply_written(r->srv, r->req, 201,
			    json_pack("{s:s, s:s, s:{}, s:s, s:i}", "kind", "Status", "apiVersion",
				      "v1", "metadata", "status", "Success", "code", 201));
}

/* ---- server-side apply ---- */

/*
 * PATCH with application/apply-patch+yaml: config becomes the field
 * manager's applied configuration (live NULL: the object is created).
 */
static void handle_apply(struct llmo__req *r, json_t *live, int64_t rv, json_t *config)
{
	const char *fm = query(r, "fieldManager");
	const char *kind = json_string_value(json_object_get(config, "kind"));
	const char *name = meta_str(config, "name");
	char api_version[128], now[64];
	struct llmo_errlist conflicts;
	struct llmo_error err = {0};
	json_t *schema, *out = NULL;
	int rc;

	if (!json_is_object(config)) {
		llmo__reply_status(r->req, 400, "BadRequest", NULL,
				   "the applied configuration must be an object");
		return;
	}
	if (!fm || !*fm || strlen(fm) > FIELD_MANAGER_MAX) {
		llmo__reply_status(r->req, 400, "BadRequest", NULL,
				   "PATCH requests with apply content type must have a fieldManager "
				   "of at most %d characters", FIELD_MANAGER_MAX);
		return;
	}
	if (kind && strcmp(kind, r->res->kind) != 0) {
		llmo__reply_status(r->req, 400, "BadRequest", NULL,
				   "the kind of the applied configuration (%s) does not match the "
				   "resource (%s)", kind, r->res->kind);
		return;
	}
	if (name && strcmp(name, r->name) != 0) {
		llmo__reply_status(r->req, 400, "BadRequest", NULL,
				   "the name of the applied configuration (%s) does not match the "
				   "name on the URL (%s)", name, r->name);
		return;
	}
	/* the main resource ignores status, as an update does */
	if (!*r->sub && (r->res->subresources & LLMO_SUB_STATUS))
		json_object_del(config, "status");
	llmo_errlist_init(&conflicts);
	schema = ownership_schema(r->res);
	llmo_resource_api_version(r->res, api_version, sizeof(api_version));
	llmo_time_format_rfc3339(llmo_clock_wall_ms(), false, now, sizeof(now));
	rc = llmo_ssa_apply(live, config, fm, query_true(r, "force"), schema, api_version, now,
			    &out, &conflicts, &err);
	json_decref(schema);
	if (rc == LLMO_ECONFLICT) {
		json_t *causes = json_array();

		for (size_t i = 0; i < conflicts.v.len; i++)
			json_array_append_new(causes,
					      json_pack("{s:s, s:s, s:s}", "reason",
							"FieldManagerConflict", "message",
							conflicts.v.items[i].msg, "field",
							conflicts.v.items[i].path));
		llmo__reply_status(r->req, 409, "Conflict",
				   json_pack("{s:s, s:s, s:s, s:o}", "name", r->name, "group",
					     r->res->group, "kind", r->res->plural, "causes", causes),
				   "%s", err.msg);
		goto out;
	}
	if (rc) {
		llmo__reply_status(r->req, rc == LLMO_ENOMEM ? 500 : 422,
				   rc == LLMO_ENOMEM ? "InternalError" : "Invalid", NULL, "%s",
				   err.msg);
		goto out;
	}
	if (!live) {
		json_object_set_new(meta_of(out), "name", json_string(r->name));
		commit_create(r, out, true);
	} else {
		commit_update(r, live, rv, out, r->sub, true);
	}
out:
	json_decref(out);
	llmo_errlist_release(&conflicts);
}

/* ---- patch ---- */

static void handle_patch(struct llmo__req *r, json_t *old, int64_t rv)
{
	const char *ctype = evhttp_find_header(evhttp_request_get_input_headers(r->req),
					       "Content-Type");
	struct llmo_error err = {0};
	json_t *body = NULL, *patched = NULL;
	int rc;

	if (!ctype || !(strstr(ctype, "application/json-patch+json") ||
			strstr(ctype, "application/merge-patch+json") ||
			strstr(ctype, "application/apply-patch") ||
			strstr(ctype, "application/strategic-merge-patch+json"))) {
		llmo__reply_status(r->req, 415, "UnsupportedMediaType", NULL,
				   "the patch type %s is not supported (use application/"
				   "merge-patch+json, application/json-patch+json, application/"
				   "strategic-merge-patch+json or application/apply-patch+yaml)",
				   ctype ? ctype : "(none)");
		return;
	}
	if (read_body(r, &body))
		return;
	if (strstr(ctype, "application/apply-patch")) {
		handle_apply(r, old, rv, body);
		json_decref(body);
		return;
	}
	if (strstr(ctype, "application/json-patch+json"))
		rc = llmo_patch_json(old, body, &patched, &err);
	else if (strstr(ctype, "application/merge-patch+json"))
		rc = llmo_patch_merge(old, body, &patched, &err);
	else if (strstr(ctype, "application/strategic-merge-patch+json"))
		rc = llmo_patch_strategic(old, body,
					  r->res->from_crd
						  ? NULL
						  : llmo_smp_schema_for(r->res->group, r->res->kind),
					  &patched, &err);
	else
		rc = LLMO_EINTERNAL; /* excluded above */
	if (rc) {
		llmo__reply_status(r->req, rc == LLMO_ENOMEM ? 500 : 422,
				   rc == LLMO_ENOMEM ? "InternalError" : "Invalid", NULL,
				   "the patch cannot be applied: %s", err.msg);
		goto out;
	}
	if (!json_is_object(patched)) {
		llmo__reply_status(r->req, 422, "Invalid", NULL,
				   "the patch leaves something that is not an object");
		goto out;
	}
	/* a patch carries a resourceVersion only as a precondition */
	if (!meta_str(body, "resourceVersion"))
		json_object_del(meta_of(patched), "resourceVersion");
	commit_update(r, old, rv, patched, r->sub, false);
out:
	json_decref(body);
	json_decref(patched);
}

/* ---- SelfSubjectAccessReview ---- */

/* Copies the string at key of o into out; false (and an error in errs) when it does not fit. */
static bool review_field(const json_t *o, const char *key, const char *path, char *out,
			 size_t n, struct llmo_errlist *errs)
{
	const json_t *v = json_object_get(o, key);
	const char *s = json_string_value(v);

	out[0] = '\0';
	if (!v || json_is_null(v))
		return true;
	if (!s) {
		llmo_errlist_add(errs, path, "must be a string");
		return false;
	}
	if (strlen(s) >= n) {
		llmo_errlist_add(errs, path, "must be no more than %zu bytes", n - 1);
		return false;
	}
	memcpy(out, s, strlen(s) + 1);
	return true;
}

void llmo__handle_access_review(struct llmo__req *r)
{
	json_t *body = NULL, *spec, *ra, *nra, *status;
	struct llmo_rbac_attrs a;
	struct llmo_errlist errs;
	char reason[1024];
	bool allowed = false;
	int rc;

	if (read_body(r, &body))
		return;
	llmo_errlist_init(&errs);
	memset(&a, 0, sizeof(a));
	spec = json_object_get(body, "spec");
	ra = json_object_get(spec, "resourceAttributes");
	nra = json_object_get(spec, "nonResourceAttributes");
	if (!json_is_object(body)) {
		llmo__reply_status(r->req, 400, "BadRequest", NULL,
				   "the request body must be a JSON object");
		goto out;
	}
	if (!json_is_object(ra) == !json_is_object(nra)) {
		llmo_errlist_add(&errs, "spec.resourceAttributes",
				 "exactly one of nonResourceAttributes or resourceAttributes must "
				 "be specified");
	} else if (ra) {
		a.resource_request = true;
		review_field(ra, "verb", "spec.resourceAttributes.verb", a.verb, sizeof(a.verb),
			     &errs);
		review_field(ra, "group", "spec.resourceAttributes.group", a.group,
			     sizeof(a.group), &errs);
		review_field(ra, "version", "spec.resourceAttributes.version", a.version,
			     sizeof(a.version), &errs);
		review_field(ra, "resource", "spec.resourceAttributes.resource", a.resource,
			     sizeof(a.resource), &errs);
		review_field(ra, "subresource", "spec.resourceAttributes.subresource",
			     a.subresource, sizeof(a.subresource), &errs);
		review_field(ra, "name", "spec.resourceAttributes.name", a.name, sizeof(a.name),
			     &errs);
		review_field(ra, "namespace", "spec.resourceAttributes.namespace", a.ns,
			     sizeof(a.ns), &errs);
	} else {
		review_field(nra, "verb", "spec.nonResourceAttributes.verb", a.verb,
			     sizeof(a.verb), &errs);
		a.path = json_string_value(json_object_get(nra, "path"));
		if (!a.path)
			a.path = "";
	}
	if (errs.v.len) {
		llmo__reply_invalid(r->req, r->res, "", &errs);
		goto out;
	}
	rc = llmo_rbac_authorize(r->srv->store, r->user, &a, &allowed, reason, sizeof(reason));
	if (rc) {
		llmo__reply_status(r->req, 500, "InternalError", NULL, "authorization failed: %s",
				   llmo_strerror(rc));
		goto out;
	}
	status = json_pack("{s:b}", "allowed", allowed);
	if (*reason)
		json_object_set_new(status, "reason", json_string(reason));
	json_object_set_new(body, "status", status);
	json_object_set_new(body, "apiVersion", json_string("authorization.k8s.io/v1"));
	json_object_set_new(body, "kind", json_string("SelfSubjectAccessReview"));
	if (!json_is_object(json_object_get(body, "metadata")))
		json_object_set_new(body, "metadata", json_object());
	llmo__reply_json(r->req, 201, json_incref(body));
out:
	llmo_errlist_release(&errs);
	json_decref(body);
}

void llmo__handle_self_review(struct llmo__req *r)
{
	json_t *groups = json_array();

	for (size_t i = 0; i < r->user->groups.len; i++)
		json_array_append_new(groups, json_string(r->user->groups.items[i]));
	llmo__reply_json(r->req, 201,
			 json_pack("{s:s, s:s, s:{s:n}, s:{s:{s:s, s:s, s:o}}}", "kind",
				   "SelfSubjectReview", "apiVersion", "authentication.k8s.io/v1",
				   "metadata", "creationTimestamp", "status", "userInfo", "username",
				   r->user->name, "uid", r->user->uid ? r->user->uid : "", "groups",
				   groups));
}

/* Copies the keys of a PolicyRule that a review's rule of this kind has. */
static json_t *review_rule(const json_t *rule, const char *const *keys, size_t nkeys)
{
	json_t *out = json_object();

	for (size_t i = 0; i < nkeys; i++) {
		json_t *v = json_object_get(rule, keys[i]);

		if (json_is_array(v) && json_array_size(v))
			json_object_set(out, keys[i], v);
	}
	return out;
}

void llmo__handle_rules_review(struct llmo__req *r)
{
	static const char *const resource_keys[] = {"verbs", "apiGroups", "resources",
						    "resourceNames"};
	static const char *const url_keys[] = {"verbs", "nonResourceURLs"};
	json_t *body = NULL, *rules = json_array(), *res_rules = json_array(),
	       *url_rules = json_array(), *status, *rule;
	const char *ns;
	char errors[1024];
	size_t i;
	int rc;

	if (read_body(r, &body))
		goto out;
	ns = json_string_value(json_object_get(json_object_get(body, "spec"), "namespace"));
	rc = llmo_rbac_rules(r->srv->store, r->user, ns ? ns : "", rules, errors, sizeof(errors));
	if (rc) {
		llmo__reply_status(r->req, 500, "InternalError", NULL, "reading RBAC rules: %s",
				   llmo_strerror(rc));
		goto out;
	}
	json_array_foreach(rules, i, rule) {
		if (json_array_size(json_object_get(rule, "nonResourceURLs")))
			json_array_append_new(url_rules, review_rule(rule, url_keys,
								     LLMO_ARRAY_LEN(url_keys)));
		if (json_array_size(json_object_get(rule, "resources")) ||
		    json_array_size(json_object_get(rule, "apiGroups")))
			json_array_append_new(res_rules,
					      review_rule(rule, resource_keys,
							  LLMO_ARRAY_LEN(resource_keys)));
	}
	status = json_pack("{s:O, s:O, s:b}", "resourceRules", res_rules, "nonResourceRules",
			   url_rules, "incomplete", *errors != 0);
	if (*errors)
		json_object_set_new(status, "evaluationError", json_string(errors));
	json_object_set_new(body, "status", status);
	json_object_set_new(body, "apiVersion", json_string("authorization.k8s.io/v1"));
	json_object_set_new(body, "kind", json_string("SelfSubjectRulesReview"));
	if (!json_is_object(json_object_get(body, "metadata")))
		json_object_set_new(body, "metadata", json_object());
	llmo__reply_json(r->req, 201, json_incref(body));
out:
	json_decref(body);
	json_decref(rules);
	json_decref(res_rules);
	json_decref(url_rules);
}

/* ---- TokenRequest (serviceaccounts/token) ---- */

static void handle_token_request(struct llmo__req *r, const json_t *sa)
{
	json_t *body = NULL, *spec, *exp_json, *out;
	const char *uid = meta_str(sa, "uid");
	struct llmo_sa_claims c = {0};
	char token[LLMO_SA_TOKEN_MAX + 1], ts[64];
	int64_t expiry = LLMO_SA_EXPIRY_DEFAULT_S, now_ms = llmo_clock_wall_ms();

	if (evbuffer_get_length(evhttp_request_get_input_buffer(r->req)) && read_body(r, &body))
		return;
	spec = json_object_get(body, "spec");
	exp_json = json_object_get(spec, "expirationSeconds");
	if (exp_json && !json_is_null(exp_json)) {
		if (!json_is_integer(exp_json) ||
		    json_integer_value(exp_json) < LLMO_SA_EXPIRY_MIN_S ||
		    json_integer_value(exp_json) > LLMO_SA_EXPIRY_MAX_S) {
			llmo__reply_status(r->req, 422, "Invalid", NULL,
					   "TokenRequest.authentication.k8s.io \"%s\" is invalid: "
					   "spec.expirationSeconds: may not specify a duration less "
					   "than %d seconds or more than %d seconds",
					   r->name, LLMO_SA_EXPIRY_MIN_S, LLMO_SA_EXPIRY_MAX_S);
			json_decref(body);
			return;
		}
		expiry = json_integer_value(exp_json);
	}
	snprintf(c.ns, sizeof(c.ns), "%s", r->ns);
	snprintf(c.name, sizeof(c.name), "%s", r->name);
	snprintf(c.uid, sizeof(c.uid), "%s", uid ? uid : "");
	c.exp = now_ms / 1000 + expiry;
	if (llmo_sa_token_issue(r->srv->sa_key, &c, token, sizeof(token)) != 0) {
		llmo__reply_status(r->req, 500, "InternalError", NULL,
				   "cannot issue a token for serviceaccount %s/%s", r->ns, r->name);
		json_decref(body);
		return;
	}
	llmo_time_format_rfc3339(c.exp * 1000, false, ts, sizeof(ts));
	out = json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:O, s:I}, s:{s:s, s:s}}", "kind",
			"TokenRequest", "apiVersion", "authentication.k8s.io/v1", "metadata", "name",
			r->name, "namespace", r->ns, "spec", "audiences",
			json_is_array(json_object_get(spec, "audiences"))
				? json_object_get(spec, "audiences")
				: json_null(),
			"expirationSeconds", (json_int_t)expiry, "status", "token", token,
			"expirationTimestamp", ts);
	OPENSSL_cleanse(token, sizeof(token));
	llmo__reply_json(r->req, 201, out);
	json_decref(body);
}

/* ---- dispatch ---- */

static void handle_collection(struct llmo__req *r)
{
	json_t *body = NULL;

	switch (r->cmd) {
	case EVHTTP_REQ_GET:
		if (query_true(r, "watch"))
			llmo__watch_start(r);
		else
			handle_list(r);
		return;
	case EVHTTP_REQ_POST:
		if (read_body(r, &body))
			return;
		if (!json_is_object(body)) {
			llmo__reply_status(r->req, 400, "BadRequest", NULL,
					   "the request body must be a JSON object");
		} else {
			const char *kind = json_string_value(json_object_get(body, "kind"));

			if (kind && strcmp(kind, r->res->kind) != 0)
				llmo__reply_status(r->req, 400, "BadRequest", NULL,
						   "the kind of the object (%s) does not match the "
						   "resource (%s)", kind, r->res->kind);
			else
				commit_create(r, body, false);
		}
		json_decref(body);
		return;
	case EVHTTP_REQ_DELETE: {
		struct list_ctx c = {.r = r};
		int64_t rv;
		bool more;

		if (!parse_selectors(r, &c.labels, &c.fields))
			return;
		c.items = json_array();
		llmo_store_list(r->srv->store, r->res->store_key,
				r->res->namespaced ? (*r->ns ? r->ns : NULL) : "", NULL, NULL, 0,
				list_item, &c, &rv, &more);
		for (size_t i = 0; i < json_array_size(c.items); i++) {
			json_t *o = json_array_get(c.items, i), *gone = NULL;

			delete_object(r, r->res, meta_str(o, "namespace") ? meta_str(o, "namespace")
									   : "",
				      meta_str(o, "name"), delete_policy(r, NULL), 0, true, &gone);
			json_decref(gone);
		}
		after_write(r);
		llmo__reply_written(r->srv, r->req, 200,
				    json_pack("{s:s, s:s, s:{}, s:s}", "kind", "Status",
					      "apiVersion", "v1", "metadata", "status", "Success"));
		json_decref(c.items);
		llmo_selector_free(c.labels);
		llmo_field_selector_free(c.fields);
		return;
	}
	default:
		llmo__reply_status(r->req, 405, "MethodNotAllowed", NULL,
				   "the method is not allowed on a collection");
	}
}

/* ---- metrics.k8s.io: NodeMetrics and PodMetrics from the agent's usage annotations ---- */

/*
 * The metrics object of a stored node or pod (res the metrics resource),
 * or NULL: no usage published, a figure older than two refresh periods
 * (the agent no longer measures it), or a pod not Running.
 */
static json_t *metrics_of(const struct llmo_resource *res, json_t *obj)
{
	json_t *meta = meta_of(obj), *m, *usage, *out;
	const char *text = json_string_value(
		json_object_get(json_object_get(meta, "annotations"), LLMO_ANNOTATION_USAGE));
	const char *phase = json_string_value(llmo__jsonpath(obj, ".status.phase"));
	const char *cname = json_string_value(llmo__jsonpath(obj, ".spec.containers[0].name"));
	char cpu[32], mem[32], at[LLMO_RFC3339_MAX], now[LLMO_RFC3339_MAX], api[64];
	struct llmo_usage u;

	if (!text || llmo_usage_parse(text, &u, NULL) ||
	    llmo_clock_wall_ms() - u.at_ms > 2 * LLMO_USAGE_REFRESH_MS)
		return NULL;
	if (res->namespaced && (!phase || strcmp(phase, "Running") != 0))
		return NULL;
	snprintf(cpu, sizeof(cpu), "%" PRId64 "m", u.cpu_milli);
	if (u.memory % 1024 == 0)
		snprintf(mem, sizeof(mem), "%" PRId64 "Ki", u.memory / 1024);
	else
		snprintf(mem, sizeof(mem), "%" PRId64, u.memory);
	llmo_time_format_rfc3339(u.at_ms, false, at, sizeof(at));
	llmo_time_format_rfc3339(llmo_clock_wall_ms(), false, now, sizeof(now));
	llmo_resource_api_version(res, api, sizeof(api));
	m = json_pack("{s:O?, s:s}", "name", json_object_get(meta, "name"), "creationTimestamp", now);
	usage = json_pack("{s:s, s:s}", "cpu", cpu, "memory", mem);
	if (!m || !usage) {
		json_decref(m);
		json_decref(usage);
		return NULL;
	}
	if (res->namespaced)
		json_object_set(m, "namespace", json_object_get(meta, "namespace"));
	if (json_object_get(meta, "labels"))
		json_object_set(m, "labels", json_object_get(meta, "labels"));
	out = json_pack("{s:s, s:s, s:o, s:s, s:s}", "kind", res->kind, "apiVersion", api,
			"metadata", m, "timestamp", at, "window", "15s");
	if (!out) {
		json_decref(usage);
		return NULL;
	}
	/* a pod's usage is of all its processes: one entry, its first container's name */
	if (res->namespaced)
		json_object_set_new(out, "containers",
				    json_pack("[{s:s, s:o}]", "name", cname ? cname : "main", "usage",
					      usage));
	else
		json_object_set_new(out, "usage", usage);
	return out;
}

struct metrics_ctx {
	struct llmo__req *r;
	struct llmo_selector *labels;
	struct llmo_field_selector *fields; /* over the Pod or Node */
	json_t *items;
};

static int metrics_item(void *ctx, const char *ns, const char *name, const char *data, int64_t rv)
{
	struct metrics_ctx *c = ctx;
	json_t *obj = NULL, *m;

	(void)ns;
	(void)name;
	(void)rv;
	if (llmo_json_load(data, strlen(data), "stored object", &obj, NULL) || !json_is_object(obj) ||
	    (c->labels && !llmo_selector_matches(c->labels, json_object_get(meta_of(obj), "labels"))) ||
	    (c->fields && !llmo_field_selector_matches(c->fields, obj))) {
		json_decref(obj);
		return 0;
	}
	if ((m = metrics_of(c->r->res, obj)))
		json_array_append_new(c->items, m);
	json_decref(obj);
	return 0;
}

/* GET of NodeMetrics and PodMetrics, one or a list (label and field selectors); nothing else. */
static void handle_metrics(struct llmo__req *r)
{
	struct metrics_ctx c = {.r = r};
	char api[64], *data = NULL;
	int64_t rv = 0;
	bool more;
	json_t *obj = NULL, *m;
	int rc;

	if (r->cmd != EVHTTP_REQ_GET || *r->sub || query_true(r, "watch")) {
		llmo__reply_status(r->req, 405, "MethodNotAllowed", NULL,
				   "only get and list are allowed on %s.%s", r->res->plural,
				   r->res->group);
		return;
	}
	if (r->has_name) {
		rc = llmo_store_get(r->srv->store, r->res->store_key, r->ns, r->name, &data, &rv);
		if (!rc && !llmo_json_load(data, strlen(data), "stored object", &obj, NULL) &&
		    json_is_object(obj) && (m = metrics_of(r->res, obj))) {
			json_t *items = r->want_table ? json_array() : NULL;

			if (items) {
				json_array_append_new(items, m);
				llmo__reply_json(r->req, 200, llmo__table(r->res, items, "", r->include));
				json_decref(items);
			} else {
				llmo__reply_json(r->req, 200, m);
			}
		} else if (rc && rc != LLMO_ENOTFOUND) {
			reply_store_error(r, rc, r->name);
		} else {
			llmo__reply_status(r->req, 404, "NotFound", NULL, "%s.%s \"%s\" not found",
					   r->res->singular, r->res->group, r->name);
		}
		json_decref(obj);
		free(data);
		return;
	}
	if (!parse_selectors(r, &c.labels, &c.fields))
		return;
	c.items = json_array();
	rc = c.items ? llmo_store_list(r->srv->store, r->res->store_key,
				       r->res->namespaced ? (*r->ns ? r->ns : NULL) : "", NULL, NULL, 0,
				       metrics_item, &c, &rv, &more)
		     : LLMO_ENOMEM;
	if (rc < 0) {
		reply_store_error(r, rc, "");
	} else if (r->want_table) {
		llmo__reply_json(r->req, 200, llmo__table(r->res, c.items, "", r->include));
	} else {
		llmo_resource_api_version(r->res, api, sizeof(api));
		llmo__reply_json(r->req, 200,
				 json_pack("{s:s, s:s, s:{}, s:O}", "kind", r->res->list_kind,
					   "apiVersion", api, "metadata", "items", c.items));
	}
	json_decref(c.items);
	llmo_selector_free(c.labels);
	llmo_field_selector_free(c.fields);
}

void llmo__handle_resource(struct llmo__req *r)
{
	json_t *obj, *body = NULL;
	int64_t rv = 0;

	/*
	 * A stream (a watch, pods/log) cannot wait for the open batch as other
	 * answers do (apiserver_int.h): it starts from committed state.
	 */
	if (r->cmd == EVHTTP_REQ_GET &&
	    ((!r->has_name && query_true(r, "watch")) || strcmp(r->sub, "log") == 0) &&
	    !llmo__flush_for_stream(r->srv, r->req))
		return;

	if (!r->res->namespaced)
		r->ns[0] = '\0';
	if (r->res->review) {
		if (r->cmd == EVHTTP_REQ_POST && !r->has_name &&
		    strcmp(r->res->kind, "SelfSubjectReview") == 0)
			llmo__handle_self_review(r);
		else if (r->cmd == EVHTTP_REQ_POST && !r->has_name &&
			 strcmp(r->res->kind, "SelfSubjectRulesReview") == 0)
			llmo__handle_rules_review(r);
		else if (r->cmd == EVHTTP_REQ_POST && !r->has_name)
			llmo__handle_access_review(r);
		else
			llmo__reply_status(r->req, 405, "MethodNotAllowed", NULL,
					   "only create is allowed on %s", r->res->plural);
		return;
	}
	if (r->res->metrics) {
		handle_metrics(r);
		return;
	}
	if (!r->has_name) {
		handle_collection(r);
		return;
	}
	if (*r->sub && !((strcmp(r->sub, "status") == 0 && (r->res->subresources & LLMO_SUB_STATUS)) ||
			 (strcmp(r->sub, "scale") == 0 && (r->res->subresources & LLMO_SUB_SCALE)) ||
			 (strcmp(r->sub, "binding") == 0 && (r->res->subresources & LLMO_SUB_BINDING)) ||
			 (strcmp(r->sub, "log") == 0 && (r->res->subresources & LLMO_SUB_LOG)) ||
			 (strcmp(r->sub, "token") == 0 && (r->res->subresources & LLMO_SUB_TOKEN)) ||
			 (strcmp(r->sub, "eviction") == 0 &&
			  (r->res->subresources & LLMO_SUB_EVICTION)))) {
		llmo__reply_status(r->req, 404, "NotFound", NULL,
				   "the server could not find the requested resource");
		return;
	}
	if (r->cmd == EVHTTP_REQ_GET && (!*r->sub || strcmp(r->sub, "status") == 0) &&
	    !r->want_table && get_as_stored(r))
		return;
	obj = load(r, r->res, r->ns, r->name, &rv);
	if (!obj) {
		/* server-side apply creates */
		const char *ctype = evhttp_find_header(evhttp_request_get_input_headers(r->req),
						       "Content-Type");

		if (r->cmd == EVHTTP_REQ_PATCH && !*r->sub && ctype &&
		    strstr(ctype, "application/apply-patch")) {
			if (read_body(r, &body))
				return;
			handle_apply(r, NULL, 0, body);
			json_decref(body);
			return;
		}
		llmo__reply_not_found(r->req, r->res, r->name);
		return;
	}
	if (strcmp(r->sub, "scale") == 0) {
		handle_scale(r, obj, rv);
		json_decref(obj);
		return;
	}
	if (strcmp(r->sub, "binding") == 0 && r->cmd == EVHTTP_REQ_POST) {
		handle_binding(r, obj, rv);
		json_decref(obj);
		return;
	}
	if (strcmp(r->sub, "token") == 0) {
		if (r->cmd == EVHTTP_REQ_POST)
			handle_token_request(r, obj);
		else
			llmo__reply_status(r->req, 405, "MethodNotAllowed", NULL,
					   "only create is allowed on serviceaccounts/token");
		json_decref(obj);
		return;
	}
	if (strcmp(r->sub, "eviction") == 0 && r->cmd == EVHTTP_REQ_POST) {
		json_decref(obj);
		handle_eviction(r);
		return;
	}
	if (strcmp(r->sub, "log") == 0) {
		if (r->cmd == EVHTTP_REQ_GET)
			llmo__logs_start(r, obj);
		else
			llmo__reply_status(r->req, 405, "MethodNotAllowed", NULL,
					   "only GET is allowed on pods/log");
		json_decref(obj);
		return;
	}
	switch (r->cmd) {
	case EVHTTP_REQ_GET:
		handle_get(r, obj);
		return;
	case EVHTTP_REQ_PUT:
		if (!read_body(r, &body)) {
			if (!json_is_object(body))
				llmo__reply_status(r->req, 400, "BadRequest", NULL,
						   "the request body must be a JSON object");
			else
				commit_update(r, obj, rv, body, r->sub, false);
		}
		break;
	case EVHTTP_REQ_PATCH:
		handle_patch(r, obj, rv);
		break;
	case EVHTTP_REQ_DELETE:
		if (!*r->sub)
			handle_delete(r);
		else
			llmo__reply_status(r->req, 405, "MethodNotAllowed", NULL,
					   "a subresource cannot be deleted");
		break;
	default:
		llmo__reply_status(r->req, 405, "MethodNotAllowed", NULL,
				   "the method is not allowed on this resource");
	}
	json_decref(body);
	json_decref(obj);
}
