/*
 * Discovery (/api, /apis, /api/v1, /apis/G, /apis/G/V), /version, and the
 * OpenAPI documents kubectl reads: /openapi/v3 (field validation support,
 * `kubectl explain`) and /openapi/v2.
 */
#include "apiserver/apiserver_int.h"
#include "apiserver/openapi_pb.h"
#include "base/json.h"
#include "base/str.h"

#include <event2/buffer.h>
#include <strings.h>

static json_t *verbs_all(void)
{
	return json_pack("[s,s,s,s,s,s,s,s]", "create", "delete", "deletecollection", "get",
			 "list", "patch", "update", "watch");
}

static json_t *strlist_json(const struct llmo_strlist *l)
{
	json_t *a = json_array();

	for (size_t i = 0; i < l->len; i++)
		json_array_append_new(a, json_string(l->items[i]));
	return a;
}

static void add_sub(json_t *list, const struct llmo_resource *res, const char *sub,
		    const char *kind, const char *group, const char *version, json_t *verbs)
{
	char name[300];
	json_t *e;

	snprintf(name, sizeof(name), "%s/%s", res->plural, sub);
	e = json_pack("{s:s, s:s, s:b, s:s, s:o}", "name", name, "singularName", "", "namespaced",
		      res->namespaced, "kind", kind, "verbs", verbs);
	if (group)
		json_object_set_new(e, "group", json_string(group));
	if (version)
		json_object_set_new(e, "version", json_string(version));
	json_array_append_new(list, e);
}

/* The verbs a resource answers: create (reviews), get and list (metrics), or all. */
static json_t *verbs_of(const struct llmo_resource *res)
{
	if (res->review)
		return json_pack("[s]", "create");
	if (res->metrics)
		return json_pack("[s,s]", "get", "list");
	return verbs_all();
}

static json_t *resource_list(struct llmo_apiserver *srv, const char *group, const char *version)
{
	json_t *list = json_array();
	char gv[256];

	for (size_t i = 0; i < srv->resources.v.len; i++) {
		const struct llmo_resource *res = srv->resources.v.items[i];
		json_t *e;

		if (strcmp(res->group, group) != 0 || strcmp(res->version, version) != 0)
			continue;
		e = json_pack("{s:s, s:s, s:b, s:s, s:o}", "name", res->plural, "singularName",
			      res->singular, "namespaced", res->namespaced, "kind", res->kind,
			      "verbs", verbs_of(res));
		if (res->short_names.len)
			json_object_set_new(e, "shortNames", strlist_json(&res->short_names));
		if (res->categories.len)
			json_object_set_new(e, "categories", strlist_json(&res->categories));
		json_array_append_new(list, e);
		if (res->subresources & LLMO_SUB_STATUS)
			add_sub(list, res, "status", res->kind, NULL, NULL,
				json_pack("[s,s,s]", "get", "patch", "update"));
		if (res->subresources & LLMO_SUB_SCALE)
			add_sub(list, res, "scale", "Scale", "autoscaling", "v1",
				json_pack("[s,s,s]", "get", "patch", "update"));
		if (res->subresources & LLMO_SUB_BINDING)
			add_sub(list, res, "binding", "Binding", NULL, NULL, json_pack("[s]", "create"));
		if (res->subresources & LLMO_SUB_EVICTION)
			add_sub(list, res, "eviction", "Eviction", "policy", "v1",
				json_pack("[s]", "create"));
		if (res->subresources & LLMO_SUB_LOG)
			add_sub(list, res, "log", "Pod", NULL, NULL, json_pack("[s]", "get"));
		if (res->subresources & LLMO_SUB_TOKEN)
			add_sub(list, res, "token", "TokenRequest", "authentication.k8s.io", "v1",
				json_pack("[s]", "create"));
	}
	if (*group)
		snprintf(gv, sizeof(gv), "%s/%s", group, version);
	else
		snprintf(gv, sizeof(gv), "%s", version);
	return json_pack("{s:s, s:s, s:s, s:o}", "kind", "APIResourceList", "apiVersion", "v1",
			 "groupVersion", gv, "resources", list);
}

static json_t *group_entry(const char *group, const char *version)
{
	char gv[256];

	snprintf(gv, sizeof(gv), "%s/%s", group, version);
	return json_pack("{s:s, s:[{s:s, s:s}], s:{s:s, s:s}}", "name", group, "versions",
			 "groupVersion", gv, "version", version, "preferredVersion", "groupVersion",
			 gv, "version", version);
}

static json_t *group_list(struct llmo_apiserver *srv)
{
	json_t *groups = json_array(), *seen = json_object();

	for (size_t i = 0; i < srv->resources.v.len; i++) {
		const struct llmo_resource *res = srv->resources.v.items[i];

		if (!*res->group || json_object_get(seen, res->group))
			continue;
		json_object_set_new(seen, res->group, json_true());
		json_array_append_new(groups, group_entry(res->group, res->version));
	}
	json_decref(seen);
	return json_pack("{s:s, s:s, s:o}", "kind", "APIGroupList", "apiVersion", "v1", "groups",
			 groups);
}

static const struct llmo_resource *any_in_group(struct llmo_apiserver *srv, const char *group)
{
	for (size_t i = 0; i < srv->resources.v.len; i++)
		if (strcmp(srv->resources.v.items[i]->group, group) == 0)
			return srv->resources.v.items[i];
	return NULL;
}

/* ---- aggregated discovery (apidiscovery.k8s.io v2 and v2beta1) ---- */


#define AGG_TYPE_V2 "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
#define AGG_TYPE_V2BETA1 \
	"application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"
/* Longest Accept header looked at, and longest media range in it. */
#define ACCEPT_MAX 4096
#define MEDIA_MAX 512

/* Trims blanks around [s, s+n) and returns the start; *n gets the new length. */
static const char *trim(const char *s, size_t *n)
{
	while (*n && (*s == ' ' || *s == '\t')) {
		s++;
		(*n)--;
	}
	while (*n && (s[*n - 1] == ' ' || s[*n - 1] == '\t'))
		(*n)--;
	return s;
}

/* Whether the parameter [p, p+n) is exactly key=value. */
static bool param_is(const char *p, size_t n, const char *key, const char *value)
{
	size_t k = strlen(key), v = strlen(value);

	return n == k + 1 + v && strncmp(p, key, k) == 0 && p[k] == '=' &&
	       strncmp(p + k + 1, value, v) == 0;
}

/* Which APIGroupDiscoveryList one media range ("application/json;g=...;v=v2;as=...") is. */
static enum llmo__aggregated media_aggregated(const char *m, size_t len)
{
	bool group = false, kind = false;
	enum llmo__aggregated version = LLMO__AGG_NONE;
	size_t n = strcspn(m, ";"), blen = LLMO_MIN(n, len);
	const char *base = trim(m, &blen);

	if (blen != strlen("application/json") || strncasecmp(base, "application/json", blen) != 0)
		return LLMO__AGG_NONE;
	while (n < len) {
		const char *p = m + n + 1;
		size_t plen = LLMO_MIN(strcspn(p, ";"), len - n - 1);

		n += plen + 1;
		p = trim(p, &plen);
		group = group || param_is(p, plen, "g", "apidiscovery.k8s.io");
		kind = kind || param_is(p, plen, "as", "APIGroupDiscoveryList");
		if (param_is(p, plen, "v", "v2"))
			version = LLMO__AGG_V2;
		else if (param_is(p, plen, "v", "v2beta1"))
			version = LLMO__AGG_V2BETA1;
	}
	return group && kind ? version : LLMO__AGG_NONE;
}

enum llmo__aggregated llmo__accept_aggregated(const char *accept)
{
	size_t total = accept ? strlen(accept) : 0;

	if (total > ACCEPT_MAX)
		return LLMO__AGG_NONE;
	while (accept && *accept) {
		size_t n = strcspn(accept, ",");
		enum llmo__aggregated a = n <= MEDIA_MAX ? media_aggregated(accept, n) : LLMO__AGG_NONE;

		if (a != LLMO__AGG_NONE)
			return a;
		accept += n + (accept[n] == ',');
	}
	return LLMO__AGG_NONE;
}

static json_t *response_kind(const char *group, const char *version, const char *kind)
{
	return json_pack("{s:s, s:s, s:s}", "group", group, "version", version, "kind", kind);
}

/* One resource of an APIVersionDiscovery, with its subresources. */
static json_t *aggregated_resource(const struct llmo_resource *res)
{
	json_t *subs = json_array();
	json_t *e = json_pack("{s:s, s:o, s:s, s:s, s:o}", "resource", res->plural, "responseKind",
			      response_kind(res->group, res->version, res->kind), "scope",
			      res->namespaced ? "Namespaced" : "Cluster", "singularResource",
			      res->singular, "verbs",
			      verbs_of(res));
	static const struct {
		unsigned bit;
		const char *name, *group, *version, *kind; /* kind NULL: the resource's */
		const char *verbs;
	} sub_table[] = {
		{LLMO_SUB_STATUS, "status", NULL, NULL, NULL, "get,patch,update"},
		{LLMO_SUB_SCALE, "scale", "autoscaling", "v1", "Scale", "get,patch,update"},
		{LLMO_SUB_BINDING, "binding", "", "v1", "Binding", "create"},
		{LLMO_SUB_EVICTION, "eviction", "policy", "v1", "Eviction", "create"},
		{LLMO_SUB_LOG, "log", "", "v1", "Pod", "get"},
		{LLMO_SUB_TOKEN, "token", "authentication.k8s.io", "v1", "TokenRequest", "create"},
	};

	if (res->short_names.len)
		json_object_set_new(e, "shortNames", strlist_json(&res->short_names));
	if (res->categories.len)
		json_object_set_new(e, "categories", strlist_json(&res->categories));
	for (size_t i = 0; i < LLMO_ARRAY_LEN(sub_table); i++) {
		json_t *verbs;
		char v[64];

		if (!(res->subresources & sub_table[i].bit))
			continue;
		verbs = json_array();
		snprintf(v, sizeof(v), "%s", sub_table[i].verbs);
		for (char *save = NULL, *t = strtok_r(v, ",", &save); t;
		     t = strtok_r(NULL, ",", &save))
			json_array_append_new(verbs, json_string(t));
		json_array_append_new(
			subs, json_pack("{s:s, s:o, s:o}", "subresource", sub_table[i].name,
					"responseKind",
					sub_table[i].kind
						? response_kind(sub_table[i].group,
								sub_table[i].version,
								sub_table[i].kind)
						: response_kind(res->group, res->version, res->kind),
					"verbs", verbs));
	}
	if (json_array_size(subs))
		json_object_set_new(e, "subresources", subs);
	else
		json_decref(subs);
	return e;
}

/*
 * The APIGroupDiscoveryList of /api (core: true, the core group only) or of
 * /apis (every named group), each group with its versions and their
 * resources: what kubectl otherwise fetches from /api/v1 and every
 * /apis/G/V one by one.
 */
static json_t *aggregated_list(struct llmo_apiserver *srv, bool core, enum llmo__aggregated agg)
{
	json_t *items = json_array(), *by_group = json_object();

	for (size_t i = 0; i < srv->resources.v.len; i++) {
		const struct llmo_resource *res = srv->resources.v.items[i];
		json_t *group, *versions, *ver = NULL, *v;
		size_t k;

		if (core != !*res->group)
			continue;
		group = json_object_get(by_group, res->group);
		if (!group) {
			group = json_pack("{s:{s:n}, s:[]}", "metadata", "creationTimestamp",
					  "versions");
			if (*res->group)
				json_object_set_new(json_object_get(group, "metadata"), "name",
						    json_string(res->group));
			json_object_set(by_group, res->group, group);
			json_array_append_new(items, group);
		}
		versions = json_object_get(group, "versions");
		json_array_foreach(versions, k, v)
			if (strcmp(json_string_value(json_object_get(v, "version")), res->version) == 0)
				ver = v;
		if (!ver) {
			ver = json_pack("{s:s, s:[], s:s}", "version", res->version, "resources",
					"freshness", "Current");
			json_array_append_new(versions, ver);
		}
		json_array_append_new(json_object_get(ver, "resources"), aggregated_resource(res));
	}
	json_decref(by_group);
	return json_pack("{s:s, s:s, s:{}, s:o}", "kind", "APIGroupDiscoveryList", "apiVersion",
			 agg == LLMO__AGG_V2 ? "apidiscovery.k8s.io/v2" : "apidiscovery.k8s.io/v2beta1",
			 "metadata", "items", items);
}

/* Answers /api or /apis with aggregated discovery when the client asks for it. */
static bool reply_aggregated(struct llmo_apiserver *srv, struct evhttp_request *req, bool core)
{
	enum llmo__aggregated agg = llmo__accept_aggregated(
		evhttp_find_header(evhttp_request_get_input_headers(req), "Accept"));

	evhttp_add_header(evhttp_request_get_output_headers(req), "Vary", "Accept");
	if (agg == LLMO__AGG_NONE)
		return false;
	llmo__reply_json_type(req, 200, aggregated_list(srv, core, agg),
			      agg == LLMO__AGG_V2 ? AGG_TYPE_V2 : AGG_TYPE_V2BETA1);
	return true;
}

/* ---- OpenAPI ---- */

/* "llm.orchestrator.io" -> "io.orchestrator.llm", as Kubernetes names definitions. */
static void definition_name(const struct llmo_resource *res, char *out, size_t n)
{
	char rev[256] = "";
	const char *g = res->group;
	size_t len = strlen(g), w = 0;

	if (!*g) {
		snprintf(out, n, "io.k8s.api.core.%s.%s", res->version, res->kind);
		return;
	}
	while (len > 0) {
		size_t start = len;

		while (start > 0 && g[start - 1] != '.')
			start--;
		w += (size_t)snprintf(rev + w, sizeof(rev) - w, "%s%.*s", w ? "." : "",
				      (int)(len - start), g + start);
		if (w >= sizeof(rev))
			break;
		len = start ? start - 1 : 0;
	}
	snprintf(out, n, "%s.%s.%s", rev, res->version, res->kind);
}

static json_t *gvk_ext(const struct llmo_resource *res)
{
	return json_pack("{s:s, s:s, s:s}", "group", res->group, "version", res->version, "kind",
			 res->kind);
}

/* The schema published for res: the CRD's, or an open object for built-ins. */
static json_t *published_schema(const struct llmo_resource *res, bool v2)
{
	json_t *s = res->schema ? json_deep_copy(res->schema)
				: json_pack("{s:s, s:s, s:b}", "type", "object", "description",
					    "a built-in Kubernetes object (stored as given by llmo "
					    "server)",
					    "x-kubernetes-preserve-unknown-fields", 1);

	json_object_set_new(s, "x-kubernetes-group-version-kind", json_pack("[o]", gvk_ext(res)));
	if (v2) {
		/* Swagger 2.0 has no anyOf; kube-apiserver drops such keys from v2 too */
		json_t *stack = json_pack("[O]", s);

		while (json_array_size(stack)) {
			json_t *node = json_incref(json_array_get(stack, json_array_size(stack) - 1));
			const char *k;
			json_t *v;

			json_array_remove(stack, json_array_size(stack) - 1);
			if (json_is_object(node)) {
				json_object_del(node, "anyOf");
				json_object_del(node, "oneOf");
				json_object_del(node, "allOf");
				json_object_del(node, "not");
				json_object_del(node, "nullable");
				json_object_foreach(node, k, v)
					if (json_is_object(v) || json_is_array(v))
						json_array_append(stack, v);
			} else if (json_is_array(node)) {
				size_t i;

				json_array_foreach(node, i, v)
					if (json_is_object(v) || json_is_array(v))
						json_array_append(stack, v);
			}
			json_decref(node);
		}
		json_decref(stack);
	}
	return s;
}

static json_t *operation(const struct llmo_resource *res, const char *id, bool patch)
{
	json_t *op = json_pack("{s:s, s:o, s:{s:{s:s}}}", "operationId", id,
			       "x-kubernetes-group-version-kind", gvk_ext(res), "responses", "200",
			       "description", "OK");

	if (patch)
		json_object_set_new(
			op, "parameters",
			json_pack("[{s:s, s:s, s:s, s:{s:s}}, {s:s, s:s, s:s, s:{s:s}}]", "name",
				  "fieldValidation", "in", "query", "description",
				  "Ignore, Warn or Strict: how unknown fields are treated", "schema",
				  "type", "string", "name", "dryRun", "in", "query", "description",
				  "All: do not persist", "schema", "type", "string"));
	return op;
}

static void add_paths(json_t *paths, const struct llmo_resource *res)
{
	char base[512], item[600];

	if (*res->group)
		snprintf(base, sizeof(base), "/apis/%s/%s/%s%s", res->group, res->version,
			 res->namespaced ? "namespaces/{namespace}/" : "", res->plural);
	else
		snprintf(base, sizeof(base), "/api/%s/%s%s", res->version,
			 res->namespaced ? "namespaces/{namespace}/" : "", res->plural);
	snprintf(item, sizeof(item), "%s/{name}", base);
	if (res->review) {
		json_object_set_new(paths, base,
				    json_pack("{s:o}", "post", operation(res, "create", false)));
		return;
	}
	if (res->metrics) {
		json_object_set_new(paths, base, json_pack("{s:o}", "get", operation(res, "list", false)));
		json_object_set_new(paths, item, json_pack("{s:o}", "get", operation(res, "read", false)));
		return;
	}
	json_object_set_new(paths, base,
			    json_pack("{s:o, s:o}", "get", operation(res, "list", false), "post",
				      operation(res, "create", false)));
	json_object_set_new(paths, item,
			    json_pack("{s:o, s:o, s:o, s:o}", "get", operation(res, "read", false),
				      "put", operation(res, "replace", false), "patch",
				      operation(res, "patch", true), "delete",
				      operation(res, "delete", false)));
}

static json_t *openapi_v3_gv(struct llmo_apiserver *srv, const char *group, const char *version)
{
	json_t *paths = json_object(), *schemas = json_object();
	bool any = false;

	for (size_t i = 0; i < srv->resources.v.len; i++) {
		const struct llmo_resource *res = srv->resources.v.items[i];
		char def[512];

		if (strcmp(res->group, group) != 0 || strcmp(res->version, version) != 0)
			continue;
		any = true;
		add_paths(paths, res);
		definition_name(res, def, sizeof(def));
		json_object_set_new(schemas, def, published_schema(res, false));
	}
	if (!any) {
		json_decref(paths);
		json_decref(schemas);
		return NULL;
	}
	return json_pack("{s:s, s:{s:s, s:s}, s:o, s:{s:o}}", "openapi", "3.0.0", "info", "title",
			 "llmo", "version", "v" LLMO_API_KUBE_MAJOR "." LLMO_API_KUBE_MINOR ".0",
			 "paths", paths, "components", "schemas", schemas);
}

static json_t *openapi_v3_root(struct llmo_apiserver *srv)
{
	json_t *paths = json_object();

	for (size_t i = 0; i < srv->resources.v.len; i++) {
		const struct llmo_resource *res = srv->resources.v.items[i];
		char key[300], url[400];
		json_t *doc;
		char *text;

		if (*res->group)
			snprintf(key, sizeof(key), "apis/%s/%s", res->group, res->version);
		else
			snprintf(key, sizeof(key), "api/%s", res->version);
		if (json_object_get(paths, key))
			continue;
		doc = openapi_v3_gv(srv, res->group, res->version);
		text = doc ? json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
		snprintf(url, sizeof(url), "/openapi/v3/%s?hash=%016" PRIX64, key,
			 text ? llmo_fnv1a(text) : 0);
		json_object_set_new(paths, key, json_pack("{s:s}", "serverRelativeURL", url));
		free(text);
		json_decref(doc);
	}
	return json_pack("{s:o}", "paths", paths);
}

static json_t *openapi_v2(struct llmo_apiserver *srv)
{
	json_t *paths = json_object(), *defs = json_object();

	for (size_t i = 0; i < srv->resources.v.len; i++) {
		const struct llmo_resource *res = srv->resources.v.items[i];
		char def[512];

		add_paths(paths, res);
		definition_name(res, def, sizeof(def));
		json_object_set_new(defs, def, published_schema(res, true));
	}
	/* Swagger 2.0 parameters have no schema: say the type directly */
	{
		const char *p;
		json_t *item;

		json_object_foreach(paths, p, item) {
			json_t *patch = json_object_get(item, "patch");
			size_t k;
			json_t *param;

			json_array_foreach(json_object_get(patch, "parameters"), k, param) {
				json_object_del(param, "schema");
				json_object_set_new(param, "type", json_string("string"));
			}
		}
	}
	return json_pack("{s:s, s:{s:s, s:s}, s:o, s:o}", "swagger", "2.0", "info", "title", "llmo",
			 "version", "v" LLMO_API_KUBE_MAJOR "." LLMO_API_KUBE_MINOR ".0", "paths",
			 paths, "definitions", defs);
}

bool llmo__handle_discovery(struct llmo_apiserver *srv, struct evhttp_request *req,
			    const char *path)
{
	char group[256], version[64];
	const struct llmo_resource *res;

	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET)
		return false;
	if (strcmp(path, "/version") == 0 || strcmp(path, "/version/") == 0) {
		llmo__reply_json(req, 200,
				 json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "major",
					   LLMO_API_KUBE_MAJOR, "minor", LLMO_API_KUBE_MINOR,
					   "gitVersion",
					   "v" LLMO_API_KUBE_MAJOR "." LLMO_API_KUBE_MINOR
					   ".0-llmo." LLMO_VERSION,
					   "gitCommit", "", "gitTreeState", "clean", "buildDate", "",
					   "goVersion", "n/a (llmo is written in C)", "compiler",
					   "gcc", "platform", "linux/amd64"));
		return true;
	}
	if (strcmp(path, "/api") == 0 || strcmp(path, "/api/") == 0) {
		if (reply_aggregated(srv, req, true))
			return true;
		llmo__reply_json(req, 200,
				 json_pack("{s:s, s:[s], s:[{s:s, s:s}]}", "kind", "APIVersions",
					   "versions", "v1", "serverAddressByClientCIDRs",
					   "clientCIDR", "0.0.0.0/0", "serverAddress", ""));
		return true;
	}
	if (strcmp(path, "/api/v1") == 0 || strcmp(path, "/api/v1/") == 0) {
		llmo__reply_json(req, 200, resource_list(srv, "", "v1"));
		return true;
	}
	if (strcmp(path, "/apis") == 0 || strcmp(path, "/apis/") == 0) {
		if (reply_aggregated(srv, req, false))
			return true;
		llmo__reply_json(req, 200, group_list(srv));
		return true;
	}
	if (strncmp(path, "/apis/", 6) == 0) {
		const char *rest = path + 6, *slash = strchr(rest, '/');
		size_t glen = slash ? (size_t)(slash - rest) : strlen(rest);

		if (glen == 0 || glen >= sizeof(group))
			return false;
		memcpy(group, rest, glen);
		group[glen] = '\0';
		res = any_in_group(srv, group);
		if (!slash || !slash[1]) {
			char gv[400];

			if (!res)
				return false;
			snprintf(gv, sizeof(gv), "%s/%s", group, res->version);
			llmo__reply_json(req, 200,
					 json_pack("{s:s, s:s, s:s, s:[{s:s, s:s}], s:{s:s, s:s}}",
						   "kind", "APIGroup", "apiVersion", "v1", "name",
						   group, "versions", "groupVersion", gv, "version",
						   res->version, "preferredVersion", "groupVersion",
						   gv, "version", res->version));
			return true;
		}
		if (strchr(slash + 1, '/') || strlen(slash + 1) >= sizeof(version))
			return false;
		snprintf(version, sizeof(version), "%s", slash + 1);
		if (!res || strcmp(res->version, version) != 0)
			return false;
		llmo__reply_json(req, 200, resource_list(srv, group, version));
		return true;
	}
	if (strcmp(path, "/openapi/v3") == 0) {
		llmo__reply_json(req, 200, openapi_v3_root(srv));
		return true;
	}
	if (strncmp(path, "/openapi/v3/", 12) == 0) {
		const char *gv = path + 12;
		json_t *doc = NULL;

		if (strncmp(gv, "api/", 4) == 0)
			doc = openapi_v3_gv(srv, "", gv + 4);
		else if (sscanf(gv, "apis/%255[^/]/%63s", group, version) == 2)
			doc = openapi_v3_gv(srv, group, version);
		if (!doc)
			return false;
		llmo__reply_json(req, 200, doc);
		return true;
	}
	if (strcmp(path, "/openapi/v2") == 0 || strcmp(path, "/swagger.json") == 0) {
		json_t *doc = openapi_v2(srv);

		/* kubectl before 1.29 asks for gnostic protobuf */
		if (llmo__openapi_v2_reply_pb(req, doc))
			json_decref(doc);
		else
			llmo__reply_json(req, 200, doc);
		return true;
	}
	return false;
}
