/*
 * Routing tables from the static backends file and from the API's objects
 * (source.h).
 */
#include "base/common.h"

#include "base/buf.h"
#include "base/file.h"
#include "base/hmap.h"
#include "base/json.h"
#include "base/str.h"
#include "gateway/body.h"
#include "gateway/doc.h"
#include "gateway/source.h"
#include "kube/object.h"

#include "base/banned.h"

/* ---- the static file ---- */

/* The TLS name of m's last endpoint's backend (NULL or too long: plain HTTP). */
static void set_tls_name(struct llmo_gw_model *m, const char *name)
{
	struct llmo_gw_backend *b = m->eps.items[m->eps.len - 1].backend;

	snprintf(b->tls_name, sizeof(b->tls_name), "%s",
		 name && strlen(name) <= LLMO_GW_TLS_NAME_MAX ? name : "");
}

static int file_endpoint(struct llmo_gw_doc *c, struct llmo_gw_table *t, struct llmo_gw_backends *r,
			 struct llmo_gw_model *m, const char *served, const json_t *e)
{
	static const char *const keys[] = {"address", "weight",        "track",
					   "draining", "served", "tlsServerName", NULL};
	const char *addr, *track, *ep_served, *tls;
	json_t *w = json_object_get(e, "weight"), *d = json_object_get(e, "draining");
	json_int_t weight = 1;
	struct llmo_error sub = {0};
	size_t keep = c->path.len;
	int rc;

	if (!json_is_object(e))
		return llmo_gw_doc_bad(c, "expected a mapping with an address");
	if ((rc = llmo_gw_doc_known_keys(c, e, keys)) || (rc = llmo_gw_doc_string(c, e, "address", LLMO_GW_MODEL_MAX, &addr, true)) ||
	    (rc = llmo_gw_doc_string(c, e, "track", LLMO_GW_MODEL_MAX, &track, false)) ||
	    (rc = llmo_gw_doc_string(c, e, "served", LLMO_GW_MODEL_MAX, &ep_served, false)) ||
	    (rc = llmo_gw_doc_string(c, e, "tlsServerName", LLMO_GW_TLS_NAME_MAX, &tls, false)))
		return rc;
	if (track && strlen(track) > LLMO_GW_TRACK_MAX) {
		llmo_path_push_key(&c->path, "track");
		return llmo_gw_doc_bad(c, "longer than %d bytes", LLMO_GW_TRACK_MAX);
	}
	if (w) {
		llmo_path_push_key(&c->path, "weight");
		if (!json_is_integer(w) || json_integer_value(w) < 1 ||
		    json_integer_value(w) > LLMO_GW_WEIGHT_MAX)
			return llmo_gw_doc_bad(c, "expected an integer from 1 to %d", LLMO_GW_WEIGHT_MAX);
		weight = json_integer_value(w);
		llmo_buf_truncate(&c->path, keep);
	}
	if (d && !json_is_boolean(d)) {
		llmo_path_push_key(&c->path, "draining");
		return llmo_gw_doc_bad(c, "expected true or false");
	}
	rc = llmo_gw_table_add_endpoint(t, r, m, addr, ep_served ? ep_served : served, track,
					(uint32_t)weight, json_is_true(d), &sub);
	if (rc) {
		if (rc == LLMO_ENOMEM)
			return llmo_error_set(c->err, rc, "out of memory");
		llmo_path_push_key(&c->path, "address");
		return llmo_gw_doc_bad(c, "%s", sub.msg);
	}
	set_tls_name(m, tls);
	return 0;
}

/* tracks: [{name, weight}] */
static int file_tracks(struct llmo_gw_doc *c, struct llmo_gw_model *m, const json_t *tracks)
{
	static const char *const keys[] = {"name", "weight", NULL};
	size_t keep = c->path.len, k1, k2, i;
	struct llmo_error sub = {0};
	const json_t *v;
	int rc;

	if (!tracks)
		return 0;
	llmo_path_push_key(&c->path, "tracks");
	if (!json_is_array(tracks))
		return llmo_gw_doc_bad(c, "expected a list of {name, weight}");
	k1 = c->path.len;
	json_array_foreach(tracks, i, v) {
		const char *name;
		json_t *w = json_object_get(v, "weight");

		llmo_buf_truncate(&c->path, k1);
		llmo_path_push_index(&c->path, i);
		k2 = c->path.len;
		if (!json_is_object(v))
			return llmo_gw_doc_bad(c, "expected a mapping with name and weight");
		if ((rc = llmo_gw_doc_known_keys(c, v, keys)) || (rc = llmo_gw_doc_string(c, v, "name", LLMO_GW_MODEL_MAX, &name, true)))
			return rc;
		llmo_path_push_key(&c->path, "weight");
		if (!json_is_integer(w) || json_integer_value(w) < 0 ||
		    json_integer_value(w) > LLMO_GW_TRACK_WEIGHT_MAX)
			return llmo_gw_doc_bad(c, "expected an integer from 0 to %d", LLMO_GW_TRACK_WEIGHT_MAX);
		llmo_buf_truncate(&c->path, k2);
		if ((rc = llmo_gw_model_add_track(m, name, (uint32_t)json_integer_value(w), &sub)))
			return rc == LLMO_ENOMEM ? llmo_error_set(c->err, rc, "out of memory")
						 : llmo_gw_doc_bad(c, "%s", sub.msg);
	}
	llmo_buf_truncate(&c->path, keep);
	return 0;
}

/* accessControl: [tenant, ...] (empty or absent: every caller) */
static int file_access(struct llmo_gw_doc *c, struct llmo_gw_model *m, const json_t *list)
{
	size_t keep = c->path.len, k1, i;
	struct llmo_error sub = {0};
	const json_t *v;
	int rc;

	if (!list)
		return 0;
	llmo_path_push_key(&c->path, "accessControl");
	if (!json_is_array(list))
		return llmo_gw_doc_bad(c, "expected a list of tenant names");
	k1 = c->path.len;
	json_array_foreach(list, i, v) {
		llmo_buf_truncate(&c->path, k1);
		llmo_path_push_index(&c->path, i);
		if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
			return llmo_gw_doc_bad(c, "expected a tenant name");
		if ((rc = llmo_gw_model_allow(m, json_string_value(v), &sub)))
			return rc == LLMO_ENOMEM ? llmo_error_set(c->err, rc, "out of memory")
						 : llmo_gw_doc_bad(c, "%s", sub.msg);
	}
	llmo_buf_truncate(&c->path, keep);
	return 0;
}

/* abTest: {stickyBy: tenant|header, header: NAME} */
static int file_ab_test(struct llmo_gw_doc *c, struct llmo_gw_model *m, const json_t *ab)
{
	static const char *const keys[] = {"stickyBy", "header", NULL};
	const char *by, *header;
	struct llmo_error sub = {0};
	size_t keep = c->path.len;
	int rc;

	if (!ab)
		return 0;
	llmo_path_push_key(&c->path, "abTest");
	if (!json_is_object(ab))
		return llmo_gw_doc_bad(c, "expected a mapping with stickyBy and header");
	if ((rc = llmo_gw_doc_known_keys(c, ab, keys)) || (rc = llmo_gw_doc_string(c, ab, "stickyBy", LLMO_GW_MODEL_MAX, &by, false)) ||
	    (rc = llmo_gw_doc_string(c, ab, "header", LLMO_GW_MODEL_MAX, &header, false)))
		return rc;
	if (by && strcmp(by, "tenant") != 0 && strcmp(by, "header") != 0) {
		llmo_path_push_key(&c->path, "stickyBy");
		return llmo_gw_doc_bad(c, "expected tenant or header");
	}
	if (by && strcmp(by, "header") == 0) {
		llmo_path_push_key(&c->path, "header");
		if (!header)
			return llmo_gw_doc_bad(c, "required when stickyBy is header");
		if ((rc = llmo_gw_model_set_sticky(m, LLMO_GW_STICKY_HEADER, header, &sub)))
			return llmo_gw_doc_bad(c, "%s", sub.msg);
	} else if ((rc = llmo_gw_model_set_sticky(m, LLMO_GW_STICKY_TENANT, NULL, c->err))) {
		return rc;
	}
	llmo_buf_truncate(&c->path, keep);
	return 0;
}

static int file_model(struct llmo_gw_doc *c, struct llmo_gw_table *t, struct llmo_gw_backends *r,
		      const json_t *mo)
{
	static const char *const keys[] = {"name",   "aliases", "served",	"endpoints",
					   "tracks", "abTest",	"accessControl", "modelType", NULL};
	const char *name, *served, *type;
	bool known;
	json_t *aliases = json_object_get(mo, "aliases"), *eps = json_object_get(mo, "endpoints"),
	       *v;
	struct llmo_gw_model *m;
	struct llmo_error sub = {0};
	size_t keep = c->path.len, i;
	int rc;

	if (!json_is_object(mo))
		return llmo_gw_doc_bad(c, "expected a mapping with name and endpoints");
	if ((rc = llmo_gw_doc_known_keys(c, mo, keys)) || (rc = llmo_gw_doc_string(c, mo, "name", LLMO_GW_MODEL_MAX, &name, true)) ||
	    (rc = llmo_gw_doc_string(c, mo, "served", LLMO_GW_MODEL_MAX, &served, false)) ||
	    (rc = llmo_gw_doc_string(c, mo, "modelType", LLMO_GW_MODEL_MAX, &type, false)))
		return rc;
	if (type && (llmo_gw_api_of_type(type, &known), !known)) {
		llmo_path_push_key(&c->path, "modelType");
		return llmo_gw_doc_bad(c, "expected text-generation, chat, embedding, "
					  "code-generation or classification");
	}
	if ((rc = llmo_gw_table_add_model(t, name, &m, &sub))) {
		llmo_path_push_key(&c->path, "name");
		return rc == LLMO_ENOMEM ? llmo_error_set(c->err, rc, "out of memory")
					 : llmo_gw_doc_bad(c, "%s", sub.msg);
	}
	if ((rc = llmo_gw_table_add_name(t, m, name, LLMO_GW_PRIO_NAME, c->err)))
		return rc;
	m->apis = llmo_gw_api_of_type(type, NULL);
	if (aliases) {
		llmo_path_push_key(&c->path, "aliases");
		if (!json_is_array(aliases))
			return llmo_gw_doc_bad(c, "expected a list of names");
		json_array_foreach(aliases, i, v) {
			size_t k2 = c->path.len;

			llmo_path_push_index(&c->path, i);
			if (!json_is_string(v) || json_string_length(v) == 0 ||
			    json_string_length(v) > LLMO_GW_MODEL_MAX ||
			    strlen(json_string_value(v)) != json_string_length(v))
				return llmo_gw_doc_bad(c, "expected a non-empty name of at most %d bytes",
					   LLMO_GW_MODEL_MAX);
			if ((rc = llmo_gw_table_add_name(t, m, json_string_value(v),
							 LLMO_GW_PRIO_ALIAS, &sub)))
				return llmo_gw_doc_bad(c, "%s", sub.msg);
			llmo_buf_truncate(&c->path, k2);
		}
		llmo_buf_truncate(&c->path, keep);
	}
	llmo_path_push_key(&c->path, "endpoints");
	if (!eps)
		return llmo_gw_doc_bad(c, "required (an empty list is fine)");
	if (!json_is_array(eps))
		return llmo_gw_doc_bad(c, "expected a list of endpoints");
	json_array_foreach(eps, i, v) {
		size_t k2 = c->path.len;

		llmo_path_push_index(&c->path, i);
		if ((rc = file_endpoint(c, t, r, m, served ? served : name, v)))
			return rc;
		llmo_buf_truncate(&c->path, k2);
	}
	llmo_buf_truncate(&c->path, keep);
	if ((rc = file_tracks(c, m, json_object_get(mo, "tracks"))) ||
	    (rc = file_access(c, m, json_object_get(mo, "accessControl"))))
		return rc;
	return file_ab_test(c, m, json_object_get(mo, "abTest"));
}

int llmo_gw_table_from_json(const json_t *root, const struct llmo_yaml_doc *doc,
			    const char *name, struct llmo_gw_backends *r,
			    struct llmo_gw_table **out, struct llmo_error *err)
{
	static const char *const keys[] = {"models", NULL};
	struct llmo_gw_doc c = {.doc = doc, .name = name ? name : "<backends>", .err = err};
	struct llmo_gw_table *t = NULL;
	json_t *models, *mo;
	size_t i;
	int rc;

	*out = NULL;
	llmo_buf_init(&c.path, 4096);
	if (!json_is_object(root)) {
		rc = llmo_gw_doc_bad(&c, "expected a mapping with \"models\"");
		goto out;
	}
	if ((rc = llmo_gw_doc_known_keys(&c, root, keys)))
		goto out;
	models = json_object_get(root, "models");
	llmo_path_push_key(&c.path, "models");
	if (!json_is_array(models)) {
		rc = llmo_gw_doc_bad(&c, "expected a list of models");
		goto out;
	}
	if ((rc = llmo_gw_table_new(&t))) {
		rc = llmo_error_set(err, rc, "out of memory");
		goto out;
	}
	json_array_foreach(models, i, mo) {
		llmo_buf_truncate(&c.path, strlen("models"));
		llmo_path_push_index(&c.path, i);
		if ((rc = file_model(&c, t, r, mo)))
			goto out;
	}
	*out = t;
	t = NULL;
out:
	llmo_gw_table_unref(t);
	llmo_buf_release(&c.path);
	return rc;
}

int llmo_gw_table_from_file(const char *path, struct llmo_gw_backends *r,
			    struct llmo_gw_table **out, struct llmo_error *err)
{
	struct llmo_yaml_stream s = {0};
	int rc;

	*out = NULL;
	if (!(rc = llmo_gw_doc_read(path, LLMO_GW_FILE_MAX, &s, err)))
		rc = llmo_gw_table_from_json(s.docs[0].root, &s.docs[0], path, r, out, err);
	llmo_yaml_stream_release(&s);
	return rc;
}

/* ---- the API's objects ---- */

static const char *jstr(const json_t *o, const char *a, const char *b)
{
	const json_t *v = json_object_get(o, a);

	if (b)
		v = json_object_get(v, b);
	return json_string_value(v);
}

static bool pod_ready(const json_t *pod)
{
	const char *phase = jstr(json_object_get(pod, "status"), "phase", NULL);

	if (phase && (strcmp(phase, "Succeeded") == 0 || strcmp(phase, "Failed") == 0))
		return false;
	return llmo_kube_condition_true(pod, "Ready");
}

/* The serving port: the container port named http (else the first) of the model container. */
static json_int_t pod_port(const json_t *pod)
{
	const json_t *ctrs = json_object_get(json_object_get(pod, "spec"), "containers"), *c,
		     *p, *first = NULL;
	size_t i, j;

	json_array_foreach(ctrs, i, c) {
		json_array_foreach(json_object_get(c, "ports"), j, p) {
			const char *name = json_string_value(json_object_get(p, "name"));
			json_t *port = json_object_get(p, "containerPort");

			if (!json_is_integer(port))
				continue;
			if (name && strcmp(name, "http") == 0)
				return json_integer_value(port);
			if (!first)
				first = port;
		}
	}
	return first ? json_integer_value(first) : LLMO_GW_DEFAULT_PORT;
}

static int pod_address(const json_t *pod, char *out, size_t n)
{
	const char *ip = jstr(json_object_get(pod, "status"), "podIP", NULL);
	const char *hp = json_string_value(json_object_get(
		json_object_get(json_object_get(pod, "metadata"), "annotations"),
		LLMO_GW_ANNOTATION_HOST_PORTS));
	json_int_t port = pod_port(pod);
	if (!ip || !*ip)
		return -1;
	if (hp) {
		json_t *map = json_loads(hp, 0, NULL);
		char key[24];

		snprintf(key, sizeof(key), "%" JSON_INTEGER_FORMAT, port);
		if (json_is_integer(json_object_get(map, key)))
			port = json_integer_value(json_object_get(map, key));
		json_decref(map);
	}
	if (port < 1 || port > 65535)
		return -1;
	snprintf(out, n, strchr(ip, ':') ? "[%s]:%" JSON_INTEGER_FORMAT : "%s:%" JSON_INTEGER_FORMAT,
		 ip, port);
	return 0;
}

/* status.tracks and spec.deploymentStrategy (abTest: sticky). Bad entries are skipped. */
static int kube_split(struct llmo_gw_model *m, const json_t *w)
{
	const json_t *tracks = json_object_get(json_object_get(w, "status"), "tracks"), *tr;
	const json_t *ds = json_object_get(json_object_get(w, "spec"), "deploymentStrategy");
	const char *type = jstr(ds, "type", NULL);
	size_t i;

	json_array_foreach(tracks, i, tr) {
		const char *name = jstr(tr, "name", NULL);
		json_t *wt = json_object_get(tr, "weight");
		json_int_t v = json_is_integer(wt) ? json_integer_value(wt) : 0;
		int rc;

		if (v < 0 || v > LLMO_GW_TRACK_WEIGHT_MAX)
			continue;
		rc = llmo_gw_model_add_track(m, name, (uint32_t)v, NULL);
		if (rc == LLMO_ENOMEM)
			return rc;
	}
	if (type && strcmp(type, "abTest") == 0) {
		const json_t *ab = json_object_get(ds, "abTest");
		const char *by = jstr(ab, "stickyBy", NULL), *header = jstr(ab, "header", NULL);
		int rc;

		if (by && strcmp(by, "header") == 0)
			rc = llmo_gw_model_set_sticky(m, LLMO_GW_STICKY_HEADER, header, NULL);
		else
			rc = llmo_gw_model_set_sticky(m, LLMO_GW_STICKY_TENANT, NULL, NULL);
		if (rc == LLMO_ENOMEM)
			return rc;
	}
	return 0;
}

/*
 * spec.security.accessControl. A non-empty list restricts the model even
 * when none of its entries can name a tenant (too long, not a string): it
 * fails closed. Entries past LLMO_GW_ACCESS_MAX are dropped, so are those
 * tenants refused.
 */
static int kube_access(struct llmo_gw_model *m, const json_t *spec)
{
	const json_t *list = json_object_get(json_object_get(spec, "security"), "accessControl");
	const json_t *v;
	size_t i;

	json_array_foreach(list, i, v) {
		if (llmo_gw_model_allow(m, json_string_value(v), NULL) == LLMO_ENOMEM)
			return LLMO_ENOMEM;
	}
	return 0;
}

static bool pod_draining(const json_t *meta)
{
	const json_t *del = json_object_get(meta, "deletionTimestamp");
	const char *d = json_string_value(
		json_object_get(json_object_get(meta, "annotations"), LLMO_GW_ANNOTATION_DRAINING));

	return (del && !json_is_null(del)) || (d && strcmp(d, "true") == 0);
}

static void free_array(void *v)
{
	json_decref(v);
}

static const char *pod_name(const json_t *pod)
{
	const char *n = jstr(json_object_get(pod, "metadata"), "name", NULL);

	return n ? n : "";
}

static int cmp_pods(const void *a, const void *b)
{
	return strcmp(pod_name(*(const json_t *const *)a), pod_name(*(const json_t *const *)b));
}

/*
 * m's endpoints from its workload's pods, in the order of their names (the
 * same endpoints in the same order whatever order the cache lists them in).
 */
static int kube_endpoints(struct llmo_gw_table *t, struct llmo_gw_backends *r,
			  struct llmo_gw_model *m, const char *served, const json_t *pods)
{
	size_t n = json_array_size(pods), i;
	const json_t **sorted;
	int rc = 0;

	if (n == 0)
		return 0;
	/* bounded by the informer's cache (LLMO_INFORMER_OBJECTS_MAX) */
	if (!(sorted = malloc(n * sizeof(*sorted))))
		return LLMO_ENOMEM;
	for (i = 0; i < n; i++)
		sorted[i] = json_array_get(pods, i);
	qsort(sorted, n, sizeof(*sorted), cmp_pods);
	for (i = 0; i < n; i++) {
		const json_t *pod = sorted[i];
		const json_t *pmeta = json_object_get(pod, "metadata");
		const json_t *labels = json_object_get(pmeta, "labels");
		const char *track = json_string_value(json_object_get(labels, LLMO_GW_LABEL_TRACK));
		const char *pm = json_string_value(json_object_get(labels, LLMO_GW_LABEL_MODEL));
		const char *pv = json_string_value(json_object_get(labels, LLMO_GW_LABEL_VERSION));
		const char *pname = jstr(pmeta, "name", NULL);
		bool draining = pod_draining(pmeta), ready = pod_ready(pod);
		char addr[LLMO_GW_ADDR_MAX + 1], pserved[600];
		struct llmo_gw_backend *b;

		if (pod_address(pod, addr, sizeof(addr)))
			continue;
		/* a draining pod stays while it has requests to finish, Ready or not */
		if (!ready && !(draining && (b = llmo_gw_backend_find(r, addr)) && b->inflight > 0))
			continue;
		if (pm && *pm && pv && *pv)
			snprintf(pserved, sizeof(pserved), "%s:%s", pm, pv);
		else
			snprintf(pserved, sizeof(pserved), "%s", served);
		if (track && strlen(track) > LLMO_GW_TRACK_MAX)
			track = NULL;
		rc = llmo_gw_table_add_endpoint(t, r, m, addr, pserved, track, 1, draining, NULL);
		if (rc == LLMO_ENOMEM)
			break;
		if (!rc) {
			struct llmo_gw_endpoint *e = &m->eps.items[m->eps.len - 1];

			set_tls_name(m, json_string_value(json_object_get(
						json_object_get(pmeta, "annotations"),
						LLMO_GW_ANNOTATION_TLS_SERVER_NAME)));
			e->linger = !ready;
			if (pname && !(e->pod = llmo_strdup(pname))) {
				rc = LLMO_ENOMEM;
				break;
			}
		}
		rc = 0; /* a pod that does not fit is skipped */
	}
	free(sorted);
	return rc;
}

/*
 * The Ready replicas the workload has in member clusters (cross-cluster
 * scheduling): status.placement[].endpoints, "host:port" each, in the
 * stable track.
 */
static int kube_remote_endpoints(struct llmo_gw_table *t, struct llmo_gw_backends *r,
				 struct llmo_gw_model *m, const char *served, const json_t *w)
{
	const json_t *pl = json_object_get(json_object_get(w, "status"), "placement"), *c, *e;
	size_t i, j;

	json_array_foreach(pl, i, c) {
		json_array_foreach(json_object_get(c, "endpoints"), j, e) {
			const char *addr = json_string_value(e);

			if (!addr || strlen(addr) > LLMO_GW_ADDR_MAX)
				continue;
			/* an address that does not parse is skipped, as a pod's would be */
			if (llmo_gw_table_add_endpoint(t, r, m, addr, served, "stable", 1, false,
						       NULL) == LLMO_ENOMEM)
				return LLMO_ENOMEM;
		}
	}
	return 0;
}

/* Adds workload w's model to t, its endpoints from pods (an array, NULL: none). */
static int kube_workload(struct llmo_gw_table *t, struct llmo_gw_backends *r, const json_t *w,
			 const json_t *pods)
{
	const json_t *meta = json_object_get(w, "metadata"), *spec = json_object_get(w, "spec"), *a;
	const char *ns = jstr(meta, "namespace", NULL), *name = jstr(meta, "name", NULL);
	const char *model = jstr(spec, "modelName", NULL), *version = jstr(spec, "modelVersion", NULL);
	struct llmo_gw_model *m;
	struct llmo_buf id, served;
	size_t i;
	int rc = 0;

	if (!name || !*name)
		return 0;
	llmo_buf_init(&id, 1024);
	llmo_buf_init(&served, 1024);
	if (llmo_buf_appendf(&id, "%s/%s", ns ? ns : "", name)) {
		rc = LLMO_ENOMEM;
		goto out;
	}
	if (model && *model &&
	    llmo_buf_appendf(&served, "%s:%s", model, version && *version ? version : "latest")) {
		rc = LLMO_ENOMEM;
		goto out;
	}
	if (!served.len && llmo_buf_puts(&served, name)) {
		rc = LLMO_ENOMEM;
		goto out;
	}
	if (llmo_gw_table_add_model(t, id.data, &m, NULL))
		goto out; /* a duplicate id: skip */
	if (!(m->ns = llmo_strdup(ns ? ns : "")) || !(m->workload = llmo_strdup(name)) ||
	    (rc = kube_split(m, w)) || (rc = kube_access(m, spec))) {
		rc = LLMO_ENOMEM;
		goto out;
	}
	llmo_gw_table_add_name(t, m, name, LLMO_GW_PRIO_NAME, NULL);
	m->apis = llmo_gw_api_of_type(jstr(spec, "modelType", NULL), NULL);
	json_array_foreach(json_object_get(spec, "aliases"), i, a)
		if (json_is_string(a) && json_string_length(a) > 0 &&
		    json_string_length(a) <= LLMO_GW_MODEL_MAX)
			llmo_gw_table_add_name(t, m, json_string_value(a), LLMO_GW_PRIO_ALIAS, NULL);
	if (model && *model && served.len <= LLMO_GW_MODEL_MAX)
		llmo_gw_table_add_name(t, m, served.data, LLMO_GW_PRIO_MODEL, NULL);
	rc = kube_endpoints(t, r, m, served.data, pods);
	if (!rc)
		rc = kube_remote_endpoints(t, r, m, served.data, w);
out:
	llmo_buf_release(&id);
	llmo_buf_release(&served);
	return rc;
}

bool llmo_gw_kube_key(const json_t *obj, bool pod, char *buf, size_t size)
{
	const json_t *meta = json_object_get(obj, "metadata");
	const char *ns = jstr(meta, "namespace", NULL), *name;
	int n;

	name = pod ? json_string_value(json_object_get(json_object_get(meta, "labels"),
						       LLMO_GW_LABEL_WORKLOAD))
		   : jstr(meta, "name", NULL);
	if (!name || !*name)
		return false;
	n = snprintf(buf, size, "%s/%s", ns ? ns : "", name);
	return n > 0 && (size_t)n < size;
}

int llmo_gw_table_update_kube(struct llmo_gw_table *t, struct llmo_gw_backends *r,
			      const char *key, const json_t *workload, const json_t *pods,
			      struct llmo_error *err)
{
	struct llmo_gw_model *old = llmo_gw_table_model(t, key), *m;
	char wkey[LLMO_GW_MODEL_ID_MAX];
	int rc;

	if (old)
		llmo_gw_table_remove_model(t, old);
	if (!workload)
		return 0;
	if (!llmo_gw_kube_key(workload, false, wkey, sizeof(wkey)) || strcmp(wkey, key) != 0)
		return llmo_error_set(err, LLMO_EINVAL, "workload %s is not %s",
				      llmo_gw_kube_key(workload, false, wkey, sizeof(wkey)) ? wkey
											    : "(no name)",
				      key);
	rc = kube_workload(t, r, workload, pods);
	if (rc && (m = llmo_gw_table_model(t, key)))
		llmo_gw_table_remove_model(t, m); /* never half a model */
	if (rc)
		return llmo_error_set(err, rc, "building the routing table's model %s: %s", key,
				      llmo_strerror(rc));
	return 0;
}

/* ---- informer transforms ---- */

json_t *llmo_gw_workload_transform(void *ctx, const json_t *w)
{
	const json_t *m = json_object_get(w, "metadata"), *spec = json_object_get(w, "spec");
	const json_t *ds = json_object_get(spec, "deploymentStrategy");
	const char *type = jstr(ds, "type", NULL);
	const json_t *sec = json_object_get(spec, "security");
	json_t *out = json_object(), *meta = json_object(), *sp = json_object(),
	       *st = json_object(), *d;
	bool ok = out && meta && sp && st && llmo_kube_keep_identity(meta, m) &&
		  llmo_kube_keep(sp, spec, "modelName") &&
		  llmo_kube_keep(sp, spec, "modelVersion") && llmo_kube_keep(sp, spec, "aliases") &&
		  llmo_kube_keep(sp, spec, "modelType") &&
		  llmo_kube_keep(st, json_object_get(w, "status"), "tracks") &&
		  llmo_kube_keep(st, json_object_get(w, "status"), "placement");

	/* kube_access reads security.accessControl only */
	if (ok && json_object_get(sec, "accessControl")) {
		d = json_object();
		ok = d && llmo_kube_keep(d, sec, "accessControl");
		ok = llmo_kube_attach(sp, "security", d) && ok;
	}
	/* kube_split reads the strategy only when it is an A/B test */
	if (ok && type && strcmp(type, "abTest") == 0) {
		d = json_object();
		ok = d && llmo_kube_keep(d, ds, "type") && llmo_kube_keep(d, ds, "abTest");
		ok = llmo_kube_attach(sp, "deploymentStrategy", d) && ok;
	}
	ok = llmo_kube_attach(out, "metadata", meta) && ok;
	ok = llmo_kube_attach(out, "spec", sp) && ok;
	ok = llmo_kube_attach(out, "status", st) && ok;
	return llmo_kube_trimmed(out, ok);
}

json_t *llmo_gw_pod_transform(void *ctx, const json_t *pod)
{
	static const char *const labels[] = {LLMO_GW_LABEL_WORKLOAD, LLMO_GW_LABEL_TRACK,
					     LLMO_GW_LABEL_MODEL, LLMO_GW_LABEL_VERSION};
	static const char *const notes[] = {LLMO_GW_ANNOTATION_HOST_PORTS,
					    LLMO_GW_ANNOTATION_DRAINING,
					    LLMO_GW_ANNOTATION_TLS_SERVER_NAME};
	const json_t *m = json_object_get(pod, "metadata"), *status = json_object_get(pod, "status");
	const json_t *ready = llmo_kube_condition(pod, "Ready");
	json_t *out = json_object(), *meta = json_object(), *lab = json_object(),
	       *ann = json_object(), *spec = json_object(), *st = json_object(),
	       *conds = json_array(), *cond;
	bool ok = out && meta && lab && ann && spec && st && conds &&
		  llmo_kube_keep_identity(meta, m) && llmo_kube_keep(meta, m, "deletionTimestamp") &&
		  llmo_kube_keep(st, status, "phase") && llmo_kube_keep(st, status, "podIP");
	size_t i;

	for (i = 0; ok && i < LLMO_ARRAY_LEN(labels); i++)
		ok = llmo_kube_keep(lab, json_object_get(m, "labels"), labels[i]);
	for (i = 0; ok && i < LLMO_ARRAY_LEN(notes); i++)
		ok = llmo_kube_keep(ann, json_object_get(m, "annotations"), notes[i]);
	/* pod_port reads the containers' ports only; their positions stay */
	ok = ok && llmo_kube_keep_each(spec, json_object_get(pod, "spec"), "containers", "ports");
	/* pod_ready reads the Ready condition's status only */
	if (ok && ready) {
		cond = json_object();
		ok = cond && llmo_kube_keep(cond, ready, "type") &&
		     llmo_kube_keep(cond, ready, "status");
		ok = (cond && json_array_append_new(conds, cond) == 0) && ok;
	}
	ok = llmo_kube_attach(st, "conditions", conds) && ok;
	ok = llmo_kube_attach(meta, "labels", lab) && ok;
	ok = llmo_kube_attach(meta, "annotations", ann) && ok;
	ok = llmo_kube_attach(out, "metadata", meta) && ok;
	ok = llmo_kube_attach(out, "spec", spec) && ok;
	ok = llmo_kube_attach(out, "status", st) && ok;
	return llmo_kube_trimmed(out, ok);
}

int llmo_gw_table_from_kube(const json_t *workloads, const json_t *pods,
			    struct llmo_gw_backends *r, struct llmo_gw_table **out,
			    struct llmo_error *err)
{
	struct llmo_hmap by_owner;
	struct llmo_gw_table *t = NULL;
	const json_t *o;
	size_t i;
	int rc = 0;

	*out = NULL;
	llmo_hmap_init(&by_owner);
	/* the pods of each workload, by "namespace/workload" */
	json_array_foreach(pods, i, o) {
		char key[LLMO_GW_MODEL_ID_MAX];
		json_t *list;

		if (!llmo_gw_kube_key(o, true, key, sizeof(key)))
			continue;
		list = llmo_hmap_get(&by_owner, key);
		if (!list) {
			if (!(list = json_array()) || llmo_hmap_put(&by_owner, key, list, NULL)) {
				json_decref(list);
				rc = LLMO_ENOMEM;
				goto out;
			}
		}
		if (json_array_append((json_t *)list, (json_t *)o)) {
			rc = LLMO_ENOMEM;
			goto out;
		}
	}
	if ((rc = llmo_gw_table_new(&t)))
		goto out;
	json_array_foreach(workloads, i, o) {
		char key[LLMO_GW_MODEL_ID_MAX];

		if (llmo_gw_kube_key(o, false, key, sizeof(key)) &&
		    (rc = kube_workload(t, r, o, llmo_hmap_get(&by_owner, key))))
			goto out;
	}
	*out = t;
	t = NULL;
out:
	if (rc)
		llmo_error_set(err, rc, "building the routing table: %s", llmo_strerror(rc));
	llmo_gw_table_unref(t);
	llmo_hmap_release(&by_owner, free_array);
	return rc;
}
