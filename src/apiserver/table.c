/*
 * Table responses (Accept: application/json;as=Table;v=v1;g=meta.k8s.io):
 * what `kubectl get` prints. Custom resources get their CRD's printer
 * columns; built-in types get the columns kubectl users know.
 */
#include "apiserver/apiserver_int.h"
#include "base/buf.h"
#include "base/clock.h"

#include <ctype.h>

struct column {
	const char *name, *type, *path, *format;
	int priority;
};

/* Age as kubectl shows it (k8s.io/apimachinery duration.HumanDuration). */
static void human_age(int64_t seconds, char *out, size_t n)
{
	int64_t m = seconds / 60, h = seconds / 3600, d = seconds / 86400, y = d / 365;

	if (seconds < 0)
		snprintf(out, n, "<invalid>");
	else if (seconds < 120)
		snprintf(out, n, "%" PRId64 "s", seconds);
	else if (m < 10)
		snprintf(out, n, "%" PRId64 "m%" PRId64 "s", m, seconds % 60);
	else if (h < 3)
		snprintf(out, n, "%" PRId64 "m", m);
	else if (h < 8)
		snprintf(out, n, "%" PRId64 "h%" PRId64 "m", h, m % 60);
	else if (h < 48)
		snprintf(out, n, "%" PRId64 "h", h);
	else if (d < 8)
		snprintf(out, n, "%" PRId64 "d%" PRId64 "h", d, h % 24);
	else if (y < 2)
		snprintf(out, n, "%" PRId64 "d", d);
	else if (y < 8)
		snprintf(out, n, "%" PRId64 "y%" PRId64 "d", y, d % 365);
	else
		snprintf(out, n, "%" PRId64 "y", y);
}

static json_t *age_cell(const json_t *v)
{
	struct llmo_error err = {0};
	int64_t ms;
	char buf[32];

	if (!json_is_string(v) || llmo_time_parse_rfc3339(json_string_value(v), &ms, &err))
		return json_string("<unknown>");
	human_age((llmo_clock_wall_ms() - ms) / 1000, buf, sizeof(buf));
	return json_string(buf);
}

static json_t *cell(const json_t *obj, const struct column *c)
{
	json_t *v = llmo__jsonpath(obj, c->path);

	if (strcmp(c->type, "date") == 0)
		return age_cell(v);
	if (!v)
		return json_null();
	if (strcmp(c->type, "integer") == 0 && json_is_number(v))
		return json_integer((json_int_t)json_number_value(v));
	return json_incref(v);
}

static json_t *str_or_none(const char *v)
{
	return json_string(v && *v ? v : "<none>");
}

static json_t *path_str(const json_t *obj, const char *path)
{
	return str_or_none(json_string_value(llmo__jsonpath(obj, path)));
}

static json_t *path_int(const json_t *obj, const char *path)
{
	return json_integer(json_integer_value(llmo__jsonpath(obj, path)));
}

/* The string at path, "" without one (the columns kubectl leaves blank). */
static json_t *path_text(const json_t *obj, const char *path)
{
	const char *v = json_string_value(llmo__jsonpath(obj, path));

	return json_string(v ? v : "");
}

/* Appends one item to the comma-separated list in b. */
static void list_addf(struct llmo_buf *b, const char *fmt, ...) LLMO_PRINTF(2, 3);

static void list_addf(struct llmo_buf *b, const char *fmt, ...)
{
	va_list ap;

	if (b->len)
		llmo_buf_putc(b, ',');
	va_start(ap, fmt);
	llmo_buf_vappendf(b, fmt, ap);
	va_end(ap);
}

/* The list in b as a cell, `empty` when it has no item; b is released. */
static json_t *list_cell(struct llmo_buf *b, const char *empty)
{
	json_t *out = json_string(b->len ? b->data : empty);

	llmo_buf_release(b);
	return out;
}

/* Cells that are one field: a string ("<none>" or "" without it) or an integer (0). */
#define STR_CELL(fn, path)                                                                         \
	static json_t *fn(const json_t *o)                                                         \
	{                                                                                          \
		return path_str(o, path);                                                          \
	}
#define TEXT_CELL(fn, path)                                                                        \
	static json_t *fn(const json_t *o)                                                         \
	{                                                                                          \
		return path_text(o, path);                                                         \
	}
#define INT_CELL(fn, path)                                                                         \
	static json_t *fn(const json_t *o)                                                         \
	{                                                                                          \
		return path_int(o, path);                                                          \
	}
#define LABELS_CELL(fn, path)                                                                      \
	static json_t *fn(const json_t *o)                                                         \
	{                                                                                          \
		return labels_text(llmo__jsonpath(o, path));                                       \
	}

static int cmp_key(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* "k=v,k2=v2" in key order (labels.FormatLabels), "<none>" when empty. */
static json_t *labels_text(const json_t *m)
{
	const char **keys = malloc((json_object_size(m) + 1) * sizeof(*keys));
	size_t n = 0;
	const char *key;
	struct llmo_buf b;
	json_t *v;

	if (!keys)
		return json_string("<none>");
	json_object_foreach((json_t *)m, key, v) {
		if (json_is_string(v))
			keys[n++] = key;
	}
	qsort(keys, n, sizeof(*keys), cmp_key);
	llmo_buf_init(&b, 64 * 1024);
	for (size_t k = 0; k < n; k++)
		list_addf(&b, "%s=%s", keys[k], json_string_value(json_object_get(m, keys[k])));
	free(keys);
	return list_cell(&b, "<none>");
}

/* Appends to b the string at .key of each element of arr (key NULL: each element). */
static void join_into(struct llmo_buf *b, const json_t *arr, const char *key)
{
	size_t i;
	json_t *e;

	json_array_foreach(arr, i, e) {
		const char *v = json_string_value(key ? json_object_get(e, key) : e);

		if (v)
			list_addf(b, "%s", v);
	}
}

/* The values at .key of each element of the array at path, joined by commas. */
static json_t *joined(const json_t *obj, const char *path, const char *key)
{
	struct llmo_buf b;

	llmo_buf_init(&b, 64 * 1024);
	join_into(&b, llmo__jsonpath(obj, path), key);
	return list_cell(&b, "<none>");
}

/* ---- pods: READY (ready/total containers), STATUS, RESTARTS like kubectl ---- */

static json_t *pod_ready(const json_t *pod)
{
	const json_t *sts = llmo__jsonpath(pod, ".status.containerStatuses");
	size_t ready = 0, i;
	json_t *st;
	char buf[48];

	json_array_foreach(sts, i, st)
		ready += json_is_true(json_object_get(st, "ready"));
	snprintf(buf, sizeof(buf), "%zu/%zu", ready,
		 json_array_size(llmo__jsonpath(pod, ".spec.containers")));
	return json_string(buf);
}

static json_t *pod_status(const json_t *pod)
{
	const char *phase = json_string_value(llmo__jsonpath(pod, ".status.phase"));
	const char *reason = json_string_value(llmo__jsonpath(pod, ".status.reason"));

	if (json_string_value(llmo__jsonpath(pod, ".metadata.deletionTimestamp")))
		reason = "Terminating";
	return json_string(reason ? reason : phase ? phase : "Pending");
}

static json_t *pod_restarts(const json_t *pod)
{
	const json_t *sts = llmo__jsonpath(pod, ".status.containerStatuses");
	json_int_t restarts = 0;
	size_t i;
	json_t *st;

	json_array_foreach(sts, i, st)
		restarts += json_integer_value(json_object_get(st, "restartCount"));
	return json_integer(restarts);
}

STR_CELL(pod_ip, ".status.podIP")
STR_CELL(pod_node, ".spec.nodeName")
STR_CELL(pod_nominated, ".status.nominatedNodeName")

static json_t *pod_gates(const json_t *pod)
{
	const json_t *gates = llmo__jsonpath(pod, ".spec.readinessGates");
	char buf[48];

	if (!json_array_size(gates))
		return json_string("<none>");
	snprintf(buf, sizeof(buf), "%zu", json_array_size(gates));
	return json_string(buf);
}

/* ---- nodes ---- */

static json_t *node_status(const json_t *node)
{
	const json_t *conds = llmo__jsonpath(node, ".status.conditions");
	bool unsched = json_is_true(llmo__jsonpath(node, ".spec.unschedulable"));
	const char *st = "Unknown";
	size_t i;
	json_t *c;
	char buf[64];

	json_array_foreach(conds, i, c) {
		const char *t = json_string_value(json_object_get(c, "type"));
		const char *v = json_string_value(json_object_get(c, "status"));

		if (t && strcmp(t, "Ready") == 0)
			st = v && strcmp(v, "True") == 0 ? "Ready" : "NotReady";
	}
	snprintf(buf, sizeof(buf), "%s%s", st, unsched ? ",SchedulingDisabled" : "");
	return json_string(buf);
}

/* The X of the node-role.kubernetes.io/X labels (and kubernetes.io/role's value). */
static json_t *node_roles(const json_t *node)
{
	const json_t *labels = llmo__jsonpath(node, ".metadata.labels");
	static const char prefix[] = "node-role.kubernetes.io/";
	struct llmo_buf b;
	const char *key;
	json_t *v;

	llmo_buf_init(&b, 64 * 1024);
	json_object_foreach((json_t *)labels, key, v) {
		if (strncmp(key, prefix, sizeof(prefix) - 1) == 0 && key[sizeof(prefix) - 1])
			list_addf(&b, "%s", key + sizeof(prefix) - 1);
		else if (strcmp(key, "kubernetes.io/role") == 0 && json_string_value(v))
			list_addf(&b, "%s", json_string_value(v));
	}
	return list_cell(&b, "<none>");
}

static json_t *node_address(const json_t *node, const char *type)
{
	const json_t *addrs = llmo__jsonpath(node, ".status.addresses");
	size_t i;
	json_t *a;

	json_array_foreach(addrs, i, a) {
		const char *t = json_string_value(json_object_get(a, "type"));

		if (t && strcmp(t, type) == 0)
			return str_or_none(json_string_value(json_object_get(a, "address")));
	}
	return json_string("<none>");
}

STR_CELL(node_version, ".status.nodeInfo.kubeletVersion")
static json_t *node_internal_ip(const json_t *o)
{
	return node_address(o, "InternalIP");
}

static json_t *node_external_ip(const json_t *o)
{
	return node_address(o, "ExternalIP");
}
STR_CELL(node_os, ".status.nodeInfo.osImage")
STR_CELL(node_kernel, ".status.nodeInfo.kernelVersion")
STR_CELL(node_runtime, ".status.nodeInfo.containerRuntimeVersion")

/* ---- events ---- */

static json_t *event_last_seen(const json_t *ev)
{
	const json_t *t = llmo__jsonpath(ev, ".lastTimestamp");

	if (!json_string_value(t))
		t = llmo__jsonpath(ev, ".series.lastObservedTime");
	if (!json_string_value(t))
		t = llmo__jsonpath(ev, ".eventTime");
	if (!json_string_value(t))
		t = llmo__jsonpath(ev, ".metadata.creationTimestamp");
	return age_cell(t);
}

static json_t *event_first_seen(const json_t *ev)
{
	const json_t *t = llmo__jsonpath(ev, ".firstTimestamp");

	if (!json_string_value(t))
		t = llmo__jsonpath(ev, ".eventTime");
	if (!json_string_value(t))
		t = llmo__jsonpath(ev, ".metadata.creationTimestamp");
	return age_cell(t);
}

STR_CELL(event_type, ".type")
STR_CELL(event_reason, ".reason")
STR_CELL(event_message, ".message")
TEXT_CELL(event_subobject, ".involvedObject.fieldPath")
STR_CELL(event_name, ".metadata.name")

/* "kind/name", the kind lowercased, as kubectl prints the involved object. */
static json_t *event_object(const json_t *ev)
{
	const char *kind = json_string_value(llmo__jsonpath(ev, ".involvedObject.kind"));
	const char *name = json_string_value(llmo__jsonpath(ev, ".involvedObject.name"));
	char buf[512];
	size_t i = 0;

	for (; kind && kind[i] && i < 200; i++)
		buf[i] = (char)tolower((unsigned char)kind[i]);
	snprintf(buf + i, sizeof(buf) - i, "/%s", name ? name : "");
	return json_string(buf);
}

static json_t *event_source(const json_t *ev)
{
	const char *c = json_string_value(llmo__jsonpath(ev, ".source.component"));
	const char *h = json_string_value(llmo__jsonpath(ev, ".source.host"));
	char buf[512];

	if (!c || !*c)
		c = json_string_value(llmo__jsonpath(ev, ".reportingComponent"));
	snprintf(buf, sizeof(buf), "%s%s%s", c ? c : "", h && *h ? ", " : "", h && *h ? h : "");
	return json_string(buf);
}

static json_t *event_count(const json_t *ev)
{
	json_int_t n = json_integer_value(llmo__jsonpath(ev, ".count"));

	if (!n)
		n = json_integer_value(llmo__jsonpath(ev, ".series.count"));
	return json_integer(n ? n : 1);
}

/* ---- workloads, services, configuration ---- */

/* the API's defaults where the object leaves them out: ClusterIP, Opaque */
static json_t *svc_type(const json_t *o)
{
	const char *t = json_string_value(llmo__jsonpath(o, ".spec.type"));

	return json_string(t && *t ? t : "ClusterIP");
}
STR_CELL(svc_cluster_ip, ".spec.clusterIP")

static json_t *svc_external_ip(const json_t *svc)
{
	struct llmo_buf b;

	/* the load balancer's addresses, else the service's externalIPs */
	llmo_buf_init(&b, 64 * 1024);
	join_into(&b, llmo__jsonpath(svc, ".status.loadBalancer.ingress"), "ip");
	if (!b.len)
		join_into(&b, llmo__jsonpath(svc, ".spec.externalIPs"), NULL);
	return list_cell(&b, "<none>");
}

/* "80/TCP,443:30443/TCP" */
static json_t *svc_ports(const json_t *svc)
{
	const json_t *ports = llmo__jsonpath(svc, ".spec.ports");
	struct llmo_buf b;
	size_t i;
	json_t *p;

	llmo_buf_init(&b, 64 * 1024);
	json_array_foreach(ports, i, p) {
		json_int_t np = json_integer_value(json_object_get(p, "nodePort"));
		const char *proto = json_string_value(json_object_get(p, "protocol"));

		list_addf(&b, "%" JSON_INTEGER_FORMAT, json_integer_value(json_object_get(p, "port")));
		if (np)
			llmo_buf_appendf(&b, ":%" JSON_INTEGER_FORMAT, np);
		llmo_buf_appendf(&b, "/%s", proto ? proto : "TCP");
	}
	return list_cell(&b, "<none>");
}

LABELS_CELL(svc_selector, ".spec.selector")

static json_t *dep_ready(const json_t *d)
{
	char buf[64];

	snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT "/%" JSON_INTEGER_FORMAT,
		 json_integer_value(llmo__jsonpath(d, ".status.readyReplicas")),
		 json_integer_value(llmo__jsonpath(d, ".spec.replicas")));
	return json_string(buf);
}

INT_CELL(st_updated, ".status.updatedReplicas")
INT_CELL(st_available, ".status.availableReplicas")
static json_t *containers(const json_t *o)
{
	return joined(o, ".spec.template.spec.containers", "name");
}

static json_t *images(const json_t *o)
{
	return joined(o, ".spec.template.spec.containers", "image");
}
LABELS_CELL(match_labels, ".spec.selector.matchLabels")
INT_CELL(ds_desired, ".status.desiredNumberScheduled")
INT_CELL(ds_current, ".status.currentNumberScheduled")
INT_CELL(ds_ready, ".status.numberReady")
INT_CELL(ds_updated, ".status.updatedNumberScheduled")
INT_CELL(ds_available, ".status.numberAvailable")
LABELS_CELL(ds_node_selector, ".spec.template.spec.nodeSelector")

static json_t *data_count(const json_t *o)
{
	return json_integer((json_int_t)(json_object_size(llmo__jsonpath(o, ".data")) +
					 json_object_size(llmo__jsonpath(o, ".binaryData"))));
}

static json_t *secret_type(const json_t *o)
{
	const char *t = json_string_value(llmo__jsonpath(o, ".type"));

	return json_string(t && *t ? t : "Opaque");
}
static json_t *sa_secrets(const json_t *o)
{
	return json_integer((json_int_t)json_array_size(llmo__jsonpath(o, ".secrets")));
}
STR_CELL(lease_holder, ".spec.holderIdentity")
LABELS_CELL(netpol_pods, ".spec.podSelector.matchLabels")
STR_CELL(pvc_status, ".status.phase")
TEXT_CELL(pvc_volume, ".spec.volumeName")
TEXT_CELL(pvc_capacity, ".status.capacity.storage")

/* RWO, ROX, RWX, RWOP as kubectl abbreviates the access modes. */
static json_t *pvc_modes(const json_t *o)
{
	const json_t *modes = llmo__jsonpath(o, ".status.accessModes");
	static const char *const names[][2] = {{"ReadWriteOnce", "RWO"},
					       {"ReadOnlyMany", "ROX"},
					       {"ReadWriteMany", "RWX"},
					       {"ReadWriteOncePod", "RWOP"}};
	struct llmo_buf b;
	size_t i;
	json_t *m;

	llmo_buf_init(&b, 4096);
	json_array_foreach(modes, i, m)
		for (size_t k = 0; k < LLMO_ARRAY_LEN(names); k++)
			if (json_string_value(m) && strcmp(json_string_value(m), names[k][0]) == 0)
				list_addf(&b, "%s", names[k][1]);
	return list_cell(&b, "");
}

TEXT_CELL(pvc_class, ".spec.storageClassName")

/* "ip:port,..." (the first three, then " + N more...") */
static json_t *ep_endpoints(const json_t *o)
{
	const json_t *subsets = llmo__jsonpath(o, ".subsets");
	struct llmo_buf b;
	size_t i, j, k, shown = 0, total = 0;
	json_t *s, *a, *p;

	llmo_buf_init(&b, 64 * 1024);
	json_array_foreach(subsets, i, s) {
		const json_t *ports = json_object_get(s, "ports");

		json_array_foreach(json_object_get(s, "addresses"), j, a) {
			const char *ip = json_string_value(json_object_get(a, "ip"));

			if (!json_array_size(ports)) {
				total++;
				if (ip && shown < 3 && ++shown)
					list_addf(&b, "%s", ip);
			}
			json_array_foreach(ports, k, p) {
				total++;
				if (ip && shown < 3 && ++shown)
					list_addf(&b, "%s:%" JSON_INTEGER_FORMAT, ip,
						  json_integer_value(json_object_get(p, "port")));
			}
		}
	}
	if (total > shown)
		llmo_buf_appendf(&b, " + %zu more...", total - shown);
	return list_cell(&b, "<none>");
}

static json_t *ns_status(const json_t *o)
{
	const char *ph = json_string_value(llmo__jsonpath(o, ".status.phase"));

	return json_string(ph ? ph : "Active");
}

TEXT_CELL(created_at, ".metadata.creationTimestamp")

static json_t *binding_role(const json_t *o)
{
	const char *kind = json_string_value(llmo__jsonpath(o, ".roleRef.kind"));
	const char *name = json_string_value(llmo__jsonpath(o, ".roleRef.name"));
	char buf[512];

	snprintf(buf, sizeof(buf), "%s/%s", kind ? kind : "", name ? name : "");
	return json_string(buf);
}

/* The subjects of one kind, joined ("ns/name" for service accounts). */
static json_t *subjects_of(const json_t *o, const char *kind)
{
	const json_t *subs = llmo__jsonpath(o, ".subjects");
	struct llmo_buf b;
	size_t i;
	json_t *sub;

	llmo_buf_init(&b, 64 * 1024);
	json_array_foreach(subs, i, sub) {
		const char *k = json_string_value(json_object_get(sub, "kind"));
		const char *n = json_string_value(json_object_get(sub, "name"));
		const char *ns = json_string_value(json_object_get(sub, "namespace"));

		if (!k || !n || strcmp(k, kind) != 0)
			continue;
		if (strcmp(kind, "ServiceAccount") == 0)
			list_addf(&b, "%s/%s", ns ? ns : "", n);
		else
			list_addf(&b, "%s", n);
	}
	return list_cell(&b, "");
}

static json_t *binding_users(const json_t *o)
{
	return subjects_of(o, "User");
}

static json_t *binding_groups(const json_t *o)
{
	return subjects_of(o, "Group");
}

static json_t *binding_sas(const json_t *o)
{
	return subjects_of(o, "ServiceAccount");
}

static json_t *name_cell(const json_t *o)
{
	return json_incref(llmo__jsonpath(o, ".metadata.name"));
}

static json_t *age(const json_t *o)
{
	return age_cell(llmo__jsonpath(o, ".metadata.creationTimestamp"));
}

/* ---- the printers of built-in kinds: kube-apiserver's columns, in its order ---- */

struct bcol {
	const char *name, *type;
	int priority; /* 1: -o wide only */
	json_t *(*cell)(const json_t *obj);
};

#define NAME {"Name", "string", 0, name_cell}
#define AGE {"Age", "string", 0, age}

static const struct bcol pod_cols[] = {
	NAME, {"Ready", "string", 0, pod_ready}, {"Status", "string", 0, pod_status},
	{"Restarts", "integer", 0, pod_restarts}, AGE, {"IP", "string", 1, pod_ip},
	{"Node", "string", 1, pod_node}, {"Nominated Node", "string", 1, pod_nominated},
	{"Readiness Gates", "string", 1, pod_gates},
};
static const struct bcol node_cols[] = {
	NAME, {"Status", "string", 0, node_status}, {"Roles", "string", 0, node_roles}, AGE,
	{"Version", "string", 0, node_version}, {"Internal-IP", "string", 1, node_internal_ip},
	{"External-IP", "string", 1, node_external_ip}, {"OS-Image", "string", 1, node_os},
	{"Kernel-Version", "string", 1, node_kernel},
	{"Container-Runtime", "string", 1, node_runtime},
};
static const struct bcol event_cols[] = {
	{"Last Seen", "string", 0, event_last_seen}, {"Type", "string", 0, event_type},
	{"Reason", "string", 0, event_reason}, {"Object", "string", 0, event_object},
	{"Subobject", "string", 1, event_subobject}, {"Source", "string", 1, event_source},
	{"Message", "string", 0, event_message}, {"First Seen", "string", 1, event_first_seen},
	{"Count", "integer", 1, event_count}, {"Name", "string", 1, event_name},
};
static const struct bcol svc_cols[] = {
	NAME, {"Type", "string", 0, svc_type}, {"Cluster-IP", "string", 0, svc_cluster_ip},
	{"External-IP", "string", 0, svc_external_ip}, {"Port(s)", "string", 0, svc_ports}, AGE,
	{"Selector", "string", 1, svc_selector},
};
static const struct bcol dep_cols[] = {
	NAME, {"Ready", "string", 0, dep_ready}, {"Up-to-date", "integer", 0, st_updated},
	{"Available", "integer", 0, st_available}, AGE, {"Containers", "string", 1, containers},
	{"Images", "string", 1, images}, {"Selector", "string", 1, match_labels},
};
static const struct bcol ds_cols[] = {
	NAME, {"Desired", "integer", 0, ds_desired}, {"Current", "integer", 0, ds_current},
	{"Ready", "integer", 0, ds_ready}, {"Up-to-date", "integer", 0, ds_updated},
	{"Available", "integer", 0, ds_available}, {"Node Selector", "string", 0, ds_node_selector},
	AGE, {"Containers", "string", 1, containers}, {"Images", "string", 1, images},
	{"Selector", "string", 1, match_labels},
};
static const struct bcol cm_cols[] = {NAME, {"Data", "integer", 0, data_count}, AGE};
static const struct bcol secret_cols[] = {
	NAME, {"Type", "string", 0, secret_type}, {"Data", "integer", 0, data_count}, AGE,
};
static const struct bcol sa_cols[] = {NAME, {"Secrets", "integer", 0, sa_secrets}, AGE};
static const struct bcol ep_cols[] = {NAME, {"Endpoints", "string", 0, ep_endpoints}, AGE};
static const struct bcol ns_cols[] = {NAME, {"Status", "string", 0, ns_status}, AGE};
static const struct bcol lease_cols[] = {NAME, {"Holder", "string", 0, lease_holder}, AGE};
static const struct bcol netpol_cols[] = {NAME, {"Pod-Selector", "string", 0, netpol_pods}, AGE};
static const struct bcol pvc_cols[] = {
	NAME, {"Status", "string", 0, pvc_status}, {"Volume", "string", 0, pvc_volume},
	{"Capacity", "string", 0, pvc_capacity}, {"Access Modes", "string", 0, pvc_modes},
	{"StorageClass", "string", 0, pvc_class}, AGE,
};
static const struct bcol created_cols[] = {NAME, {"Created At", "date", 0, created_at}};
static const struct bcol binding_cols[] = {
	NAME, {"Role", "string", 0, binding_role}, AGE, {"Users", "string", 1, binding_users},
	{"Groups", "string", 1, binding_groups}, {"ServiceAccounts", "string", 1, binding_sas},
};

#undef NAME
#undef AGE

static const struct {
	const char *group, *plural;
	const struct bcol *cols;
	size_t n;
} printers[] = {
#define P(g, p, c) {g, p, c, LLMO_ARRAY_LEN(c)}
	P("", "pods", pod_cols),
	P("", "nodes", node_cols),
	P("", "events", event_cols),
	P("events.k8s.io", "events", event_cols),
	P("", "services", svc_cols),
	P("apps", "deployments", dep_cols),
	P("apps", "daemonsets", ds_cols),
	P("", "configmaps", cm_cols),
	P("", "secrets", secret_cols),
	P("", "serviceaccounts", sa_cols),
	P("", "endpoints", ep_cols),
	P("", "namespaces", ns_cols),
	P("coordination.k8s.io", "leases", lease_cols),
	P("networking.k8s.io", "networkpolicies", netpol_cols),
	P("", "persistentvolumeclaims", pvc_cols),
	P("rbac.authorization.k8s.io", "roles", created_cols),
	P("rbac.authorization.k8s.io", "clusterroles", created_cols),
	P("apiextensions.k8s.io", "customresourcedefinitions", created_cols),
	P("rbac.authorization.k8s.io", "rolebindings", binding_cols),
	P("rbac.authorization.k8s.io", "clusterrolebindings", binding_cols),
#undef P
};

static json_t *column_def(const char *name, const char *type, const char *format, int priority,
			  const char *desc)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:i}", "name", name, "type", type, "format",
			 format ? format : "", "description", desc ? desc : "", "priority",
			 priority);
}

json_t *llmo__table(const struct llmo_resource *res, const json_t *items, const char *rv,
		    enum llmo__include include)
{
	json_t *defs = json_array(), *rows = json_array();
	const struct bcol *bcols = NULL;
	size_t nb = 0, i, k;
	json_t *item, *col;

	for (k = 0; k < LLMO_ARRAY_LEN(printers); k++)
		if (strcmp(res->group, printers[k].group) == 0 &&
		    strcmp(res->plural, printers[k].plural) == 0) {
			bcols = printers[k].cols;
			nb = printers[k].n;
		}
	if (bcols) {
		for (k = 0; k < nb; k++)
			json_array_append_new(defs, column_def(bcols[k].name, bcols[k].type, NULL,
							       bcols[k].priority, NULL));
	} else {
		/* custom resources (and built-ins without a printer): Name, the CRD's columns, Age */
		json_array_append_new(defs, column_def("Name", "string", "name", 0,
						       "Name must be unique within a namespace."));
		json_array_foreach(res->columns, k, col) {
			const char *name = json_string_value(json_object_get(col, "name"));
			const char *type = json_string_value(json_object_get(col, "type"));
			const char *path = json_string_value(json_object_get(col, "jsonPath"));

			if (!name || !type || !path || strcmp(path, ".metadata.creationTimestamp") == 0)
				continue;
			json_array_append_new(
				defs, column_def(name, type, json_string_value(json_object_get(col, "format")),
						 (int)json_integer_value(json_object_get(col, "priority")),
						 json_string_value(json_object_get(col, "description"))));
		}
		json_array_append_new(defs, column_def("Age", "string", NULL, 0, "time since creation"));
	}

	json_array_foreach(items, i, item) {
		json_t *cells = json_array(), *meta = json_object_get(item, "metadata");
		json_t *partial;

		if (bcols) {
			for (k = 0; k < nb; k++) {
				json_t *c = bcols[k].cell(item);

				json_array_append_new(cells, c ? c : json_null());
			}
		} else {
			json_array_append(cells, json_object_get(meta, "name"));
			json_array_foreach(res->columns, k, col) {
				struct column c = {
					.name = json_string_value(json_object_get(col, "name")),
					.type = json_string_value(json_object_get(col, "type")),
					.path = json_string_value(json_object_get(col, "jsonPath")),
				};

				if (!c.name || !c.type || !c.path ||
				    strcmp(c.path, ".metadata.creationTimestamp") == 0)
					continue;
				json_array_append_new(cells, cell(item, &c));
			}
			json_array_append_new(cells, age_cell(json_object_get(meta, "creationTimestamp")));
		}
		if (include == LLMO__INCLUDE_NONE) {
			json_array_append_new(rows, json_pack("{s:o}", "cells", cells));
			continue;
		}
		partial = include == LLMO__INCLUDE_OBJECT
				  ? json_incref(item)
				  : json_pack("{s:s, s:s, s:O}", "kind", "PartialObjectMetadata",
					      "apiVersion", "meta.k8s.io/v1", "metadata", meta);
		json_array_append_new(rows, json_pack("{s:o, s:o}", "cells", cells, "object", partial));
	}
	return json_pack("{s:s, s:s, s:{s:s}, s:o, s:o}", "kind", "Table", "apiVersion",
			 "meta.k8s.io/v1", "metadata", "resourceVersion", rv ? rv : "",
			 "columnDefinitions", defs, "rows", rows);
}
