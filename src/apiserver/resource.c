#include "apiserver/resource.h"
#include "base/buf.h"

struct builtin {
	const char *group, *version, *plural, *singular, *kind;
	bool namespaced;
	const char *short_names; /* comma-separated */
	const char *categories;
	unsigned subresources;
};

/* The built-in types a single-machine control plane needs, and those llmo's own
 * manifests create (Deployments, RBAC) so that `kubectl apply -f k8s/` works. */
static const struct builtin builtins[] = {
	{"", "v1", "namespaces", "namespace", "Namespace", false, "ns", NULL, LLMO_SUB_STATUS},
	{"", "v1", "nodes", "node", "Node", false, "no", NULL, LLMO_SUB_STATUS},
	{"", "v1", "pods", "pod", "Pod", true, "po", "all",
	 LLMO_SUB_STATUS | LLMO_SUB_BINDING | LLMO_SUB_LOG | LLMO_SUB_EVICTION},
	{"", "v1", "services", "service", "Service", true, "svc", "all", LLMO_SUB_STATUS},
	{"", "v1", "endpoints", "endpoints", "Endpoints", true, "ep", NULL, 0},
	{"", "v1", "configmaps", "configmap", "ConfigMap", true, "cm", NULL, 0},
	{"", "v1", "secrets", "secret", "Secret", true, NULL, NULL, 0},
	{"", "v1", "events", "event", "Event", true, "ev", NULL, 0},
	{"", "v1", "serviceaccounts", "serviceaccount", "ServiceAccount", true, "sa", NULL,
	 LLMO_SUB_TOKEN},
	{"", "v1", "persistentvolumeclaims", "persistentvolumeclaim", "PersistentVolumeClaim", true,
	 "pvc", NULL, LLMO_SUB_STATUS},
	{"coordination.k8s.io", "v1", "leases", "lease", "Lease", true, NULL, NULL, 0},
	/* stored only, for llmo's controller to check (nothing enforces them on one machine) */
	{"networking.k8s.io", "v1", "networkpolicies", "networkpolicy", "NetworkPolicy", true,
	 "netpol", NULL, 0},
	{"apiextensions.k8s.io", "v1", "customresourcedefinitions", "customresourcedefinition",
	 "CustomResourceDefinition", false, "crd,crds", NULL, LLMO_SUB_STATUS},
	{"apps", "v1", "deployments", "deployment", "Deployment", true, "deploy", "all",
	 LLMO_SUB_STATUS | LLMO_SUB_SCALE},
	{"apps", "v1", "daemonsets", "daemonset", "DaemonSet", true, "ds", "all", LLMO_SUB_STATUS},
	{"rbac.authorization.k8s.io", "v1", "roles", "role", "Role", true, NULL, NULL, 0},
	{"rbac.authorization.k8s.io", "v1", "rolebindings", "rolebinding", "RoleBinding", true, NULL,
	 NULL, 0},
	{"rbac.authorization.k8s.io", "v1", "clusterroles", "clusterrole", "ClusterRole", false, NULL,
	 NULL, 0},
	{"rbac.authorization.k8s.io", "v1", "clusterrolebindings", "clusterrolebinding",
	 "ClusterRoleBinding", false, NULL, NULL, 0},
	{"authorization.k8s.io", "v1", "selfsubjectaccessreviews", "selfsubjectaccessreview",
	 "SelfSubjectAccessReview", false, NULL, NULL, 0},
	{"authorization.k8s.io", "v1", "selfsubjectrulesreviews", "selfsubjectrulesreview",
	 "SelfSubjectRulesReview", false, NULL, NULL, 0},
	{"authentication.k8s.io", "v1", "selfsubjectreviews", "selfsubjectreview",
	 "SelfSubjectReview", false, NULL, NULL, 0},
	/* the Metrics API (kubectl top), from the agent's usage annotations */
	{"metrics.k8s.io", "v1beta1", "nodes", "nodemetrics", "NodeMetrics", false, NULL, NULL, 0},
	{"metrics.k8s.io", "v1beta1", "pods", "podmetrics", "PodMetrics", true, NULL, NULL, 0},
};

static void resource_free(struct llmo_resource *res)
{
	if (!res)
		return;
	free(res->group);
	free(res->version);
	free(res->plural);
	free(res->singular);
	free(res->kind);
	free(res->list_kind);
	for (size_t i = 0; i < res->short_names.len; i++)
		free(res->short_names.items[i]);
	free(res->short_names.items);
	for (size_t i = 0; i < res->categories.len; i++)
		free(res->categories.items[i]);
	free(res->categories.items);
	json_decref(res->schema);
	json_decref(res->ownership);
	json_decref(res->columns);
	free(res->scale_spec_path);
	free(res->scale_status_path);
	free(res->scale_selector_path);
	free(res->store_key);
	free(res);
}

static int strlist_add(struct llmo_strlist *l, const char *s)
{
	char **items = realloc(l->items, (l->len + 1) * sizeof(char *));

	if (!items)
		return LLMO_ENOMEM;
	l->items = items;
	l->items[l->len] = strdup(s);
	if (!l->items[l->len])
		return LLMO_ENOMEM;
	l->len++;
	return 0;
}

static int strlist_add_csv(struct llmo_strlist *l, const char *csv)
{
	char item[64];

	while (csv && *csv) {
		size_t n = strcspn(csv, ",");
		int rc;

		if (n >= sizeof(item))
			return LLMO_EINVAL;
		memcpy(item, csv, n);
		item[n] = '\0';
		if ((rc = strlist_add(l, item)))
			return rc;
		csv += n + (csv[n] == ',');
	}
	return 0;
}

/* Fills the names and the store key; the caller sets the rest. */
static struct llmo_resource *resource_new(const char *group, const char *version,
					  const char *plural, const char *singular,
					  const char *kind)
{
	struct llmo_resource *res = calloc(1, sizeof(*res));
	struct llmo_buf b;

	if (!res)
		return NULL;
	llmo_buf_init(&b, 1024);
	res->group = strdup(group);
	res->version = strdup(version);
	res->plural = strdup(plural);
	res->singular = strdup(singular);
	res->kind = strdup(kind);
	if (!llmo_buf_appendf(&b, "%sList", kind))
		res->list_kind = llmo_buf_detach(&b, NULL);
	if (!llmo_buf_appendf(&b, "%s/%s", group, plural))
		res->store_key = llmo_buf_detach(&b, NULL);
	llmo_buf_release(&b);
	if (!res->group || !res->version || !res->plural || !res->singular || !res->kind ||
	    !res->list_kind || !res->store_key) {
		resource_free(res);
		return NULL;
	}
	return res;
}

static int add(struct llmo_resources *r, struct llmo_resource *res)
{
	struct llmo_resource **slot = llmo_vec_push(&r->v);

	if (!slot) {
		resource_free(res);
		return LLMO_ENOMEM;
	}
	*slot = res;
	return 0;
}

int llmo_resources_init(struct llmo_resources *r)
{
	memset(r, 0, sizeof(*r));
	for (size_t i = 0; i < LLMO_ARRAY_LEN(builtins); i++) {
		const struct builtin *b = &builtins[i];
		struct llmo_resource *res =
			resource_new(b->group, b->version, b->plural, b->singular, b->kind);
		int rc;

		if (!res)
			return LLMO_ENOMEM;
		res->namespaced = b->namespaced;
		res->subresources = b->subresources;
		/* these groups hold only reviews here: answered, never stored */
		res->review = strcmp(b->group, "authorization.k8s.io") == 0 ||
			      strcmp(b->group, "authentication.k8s.io") == 0;
		if (strcmp(b->group, "metrics.k8s.io") == 0) {
			/* read from the core objects they describe */
			size_t n = strlen(b->plural) + 2;
			char *key = malloc(n);

			if (key)
				snprintf(key, n, "/%s", b->plural);
			free(res->store_key);
			res->store_key = key;
			res->metrics = true;
			if (!key) {
				resource_free(res);
				return LLMO_ENOMEM;
			}
		}
		if ((rc = strlist_add_csv(&res->short_names, b->short_names)) ||
		    (rc = strlist_add_csv(&res->categories, b->categories))) {
			resource_free(res);
			return rc;
		}
		if (res->subresources & LLMO_SUB_SCALE) {
			res->scale_spec_path = strdup(".spec.replicas");
			res->scale_status_path = strdup(".status.replicas");
			res->scale_selector_path = strdup(".status.selector");
		}
		if ((rc = add(r, res)))
			return rc;
	}
	return 0;
}

void llmo_resources_release(struct llmo_resources *r)
{
	for (size_t i = 0; i < r->v.len; i++)
		resource_free(r->v.items[i]);
	llmo_vec_release(&r->v);
}

static const char *jstr(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

void llmo_resources_remove_crd(struct llmo_resources *r, const char *crd_name)
{
	for (size_t i = 0; i < r->v.len;) {
		struct llmo_resource *res = r->v.items[i];
		char name[512];

		snprintf(name, sizeof(name), "%s.%s", res->plural, res->group);
		if (res->from_crd && strcmp(name, crd_name) == 0) {
			resource_free(res);
			memmove(&r->v.items[i], &r->v.items[i + 1],
				(r->v.len - i - 1) * sizeof(r->v.items[0]));
			r->v.len--;
		} else {
			i++;
		}
	}
}

/* One served version of a CRD as a resource; *out is added by the caller. */
static int crd_version(const json_t *crd, const json_t *version, struct llmo_resource **out,
		       struct llmo_error *err)
{
	const json_t *spec = json_object_get(crd, "spec");
	const json_t *names = json_object_get(spec, "names");
	const char *group = jstr(spec, "group"), *plural = jstr(names, "plural");
	const char *kind = jstr(names, "kind"), *singular = jstr(names, "singular");
	const char *scope = jstr(spec, "scope");
	const json_t *v, *sub, *scale;
	struct llmo_resource *res;
	size_t i;
	int rc;

	*out = NULL;
	res = resource_new(group, jstr(version, "name"), plural,
			   singular ? singular : plural, kind);
	if (!res)
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	res->from_crd = true;
	res->namespaced = !scope || strcmp(scope, "Namespaced") == 0;
	json_array_foreach(json_object_get(names, "shortNames"), i, v)
		if (json_is_string(v) && (rc = strlist_add(&res->short_names, json_string_value(v))))
			goto fail;
	json_array_foreach(json_object_get(names, "categories"), i, v)
		if (json_is_string(v) && (rc = strlist_add(&res->categories, json_string_value(v))))
			goto fail;
	res->schema = json_deep_copy(
		json_object_get(json_object_get(version, "schema"), "openAPIV3Schema"));
	if (res->schema) {
		/* every object has these, whether the CRD's schema says so or not */
		json_t *props = json_object_get(res->schema, "properties");

		if (!json_is_object(props)) {
			props = json_object();
			json_object_set_new(res->schema, "properties", props);
		}
		if (!json_object_get(props, "apiVersion"))
			json_object_set_new(props, "apiVersion", json_pack("{s:s}", "type", "string"));
		if (!json_object_get(props, "kind"))
			json_object_set_new(props, "kind", json_pack("{s:s}", "type", "string"));
		if (!json_object_get(props, "metadata"))
			json_object_set_new(props, "metadata", json_pack("{s:s}", "type", "object"));
	}
	res->columns = json_incref(json_object_get(version, "additionalPrinterColumns"));
	sub = json_object_get(version, "subresources");
	if (json_object_get(sub, "status"))
		res->subresources |= LLMO_SUB_STATUS;
	scale = json_object_get(sub, "scale");
	if (scale) {
		res->subresources |= LLMO_SUB_SCALE;
		res->scale_spec_path = jstr(scale, "specReplicasPath")
					       ? strdup(jstr(scale, "specReplicasPath"))
					       : NULL;
		res->scale_status_path = jstr(scale, "statusReplicasPath")
						 ? strdup(jstr(scale, "statusReplicasPath"))
						 : NULL;
		res->scale_selector_path = jstr(scale, "labelSelectorPath")
						   ? strdup(jstr(scale, "labelSelectorPath"))
						   : NULL;
	}
	*out = res;
	return 0;
fail:
	resource_free(res);
	return llmo_error_set(err, rc, "out of memory");
}

/*
 * Every served version of the CRD becomes a resource (the storage version
 * first). They share one store key (group/plural): objects are stored
 * without apiVersion, so a read through any version gives the same fields
 * under that version's apiVersion, as Kubernetes' conversion strategy
 * "None" does; each version validates with its own schema.
 */
int llmo_resources_add_crd(struct llmo_resources *r, const json_t *crd, struct llmo_error *err)
{
	const json_t *spec = json_object_get(crd, "spec");
	const json_t *names = json_object_get(spec, "names");
	const char *group = jstr(spec, "group"), *plural = jstr(names, "plural");
	const char *kind = jstr(names, "kind");
	const json_t *storage = NULL, *v;
	struct llmo_resource *res;
	char crd_name[512];
	size_t i;
	int rc;

	if (!group || !plural || !kind)
		return llmo_error_set(err, LLMO_EINVAL,
				      "CustomResourceDefinition lacks spec.group, spec.names.plural "
				      "or spec.names.kind");
	json_array_foreach(json_object_get(spec, "versions"), i, v) {
		if (json_is_true(json_object_get(v, "storage")))
			storage = v;
	}
	if (!storage || !jstr(storage, "name"))
		return llmo_error_set(err, LLMO_EINVAL,
				      "CustomResourceDefinition %s.%s has no storage version", plural,
				      group);
	snprintf(crd_name, sizeof(crd_name), "%s.%s", plural, group);
	llmo_resources_remove_crd(r, crd_name);
	if ((rc = crd_version(crd, storage, &res, err)) || (rc = add(r, res)))
		goto fail;
	json_array_foreach(json_object_get(spec, "versions"), i, v) {
		if (v == storage || json_is_false(json_object_get(v, "served")) || !jstr(v, "name"))
			continue;
		if ((rc = crd_version(crd, v, &res, err)) || (rc = add(r, res)))
			goto fail;
	}
	return 0;
fail:
	llmo_resources_remove_crd(r, crd_name);
	return err->code ? rc : llmo_error_set(err, rc, "CustomResourceDefinition %s: %s", crd_name,
					       llmo_strerror(rc));
}

const struct llmo_resource *llmo_resources_find(const struct llmo_resources *r, const char *group,
						 const char *version, const char *plural)
{
	for (size_t i = 0; i < r->v.len; i++) {
		const struct llmo_resource *res = r->v.items[i];

		if (strcmp(res->group, group) == 0 && strcmp(res->version, version) == 0 &&
		    strcmp(res->plural, plural) == 0)
			return res;
	}
	return NULL;
}

const struct llmo_resource *llmo_resources_find_kind(const struct llmo_resources *r,
						      const char *api_version, const char *kind)
{
	const char *slash = strchr(api_version, '/');

	for (size_t i = 0; i < r->v.len; i++) {
		const struct llmo_resource *res = r->v.items[i];
		size_t glen = strlen(res->group);

		if (strcmp(res->kind, kind) != 0)
			continue;
		if (!slash && !*res->group && strcmp(api_version, res->version) == 0)
			return res;
		if (slash && (size_t)(slash - api_version) == glen &&
		    strncmp(api_version, res->group, glen) == 0 &&
		    strcmp(slash + 1, res->version) == 0)
			return res;
	}
	return NULL;
}

void llmo_resource_api_version(const struct llmo_resource *res, char *out, size_t n)
{
	if (*res->group)
		snprintf(out, n, "%s/%s", res->group, res->version);
	else
		snprintf(out, n, "%s", res->version);
}
