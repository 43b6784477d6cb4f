/*
 * Table responses (Accept: application/json;as=Table;v=v1;g=meta.k8s.io):
 * what `kubectl get` prints. Custom resources get their CRD's printer
 * columns; built-in types get the columns kubectl users know.
 */
#include "apiserver/apiserver_int.h"
#include "base/clock.h"

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

/* Pods: READY (ready/total containers), STATUS, RESTARTS like kubectl. */
static json_t *pod_cells(const json_t *pod)
{
	const json_t *specs = llmo__jsonpath(pod, ".spec.containers");
	const json_t *sts = llmo__jsonpath(pod, ".status.containerStatuses");
	const char *phase = json_string_value(llmo__jsonpath(pod, ".status.phase"));
	const char *reason = json_string_value(llmo__jsonpath(pod, ".status.reason"));
	size_t ready = 0, i;
	json_int_t restarts = 0;
	json_t *s;
	char buf[32];

	json_array_foreach(sts, i, s) {
		ready += json_is_true(json_object_get(s, "ready"));
		restarts += json_integer_value(json_object_get(s, "restartCount"));
	}
	snprintf(buf, sizeof(buf), "%zu/%zu", ready, json_array_size(specs));
	if (json_string_value(llmo__jsonpath(pod, ".metadata.deletionTimestamp")))
		reason = "Terminating";
	return json_pack("[s, s, I]", buf, reason ? reason : phase ? phase : "Pending",
			 (json_int_t)restarts);
}

static json_t *node_status(const json_t *node)
{
	const json_t *conds = llmo__jsonpath(node, ".status.conditions");
	size_t i;
	json_t *c;

	json_array_foreach(conds, i, c) {
		const char *t = json_string_value(json_object_get(c, "type"));
		const char *st = json_string_value(json_object_get(c, "status"));

		if (t && strcmp(t, "Ready") == 0)
			return json_string(st && strcmp(st, "True") == 0 ? "Ready" : "NotReady");
	}
	return json_string("Unknown");
}

static json_t *column_def(const char *name, const char *type, const char *format, int priority,
			  const char *desc)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:i}", "name", name, "type", type, "format",
			 format ? format : "", "description", desc ? desc : "", "priority",
			 priority);
}

json_t *llmo__table(const struct llmo_resource *res, const json_t *items, const char *rv,
		    bool single)
{
	json_t *defs = json_array(), *rows = json_array();
	bool pods = !*res->group && strcmp(res->plural, "pods") == 0;
	bool nodes = !*res->group && strcmp(res->plural, "nodes") == 0;
	bool nss = !*res->group && strcmp(res->plural, "namespaces") == 0;
	size_t i, k;
	json_t *item, *col;

	json_array_append_new(defs, column_def("Name", "string", "name", 0,
					       "Name must be unique within a namespace."));
	if (pods) {
		json_array_append_new(defs, column_def("Ready", "string", NULL, 0, "ready containers"));
		json_array_append_new(defs, column_def("Status", "string", NULL, 0, "pod phase"));
		json_array_append_new(defs, column_def("Restarts", "integer", NULL, 0, "restarts"));
	} else if (nodes || nss) {
		json_array_append_new(defs, column_def("Status", "string", NULL, 0, "status"));
	}
	json_array_foreach(res->columns, k, col) {
		const char *name = json_string_value(json_object_get(col, "name"));
		const char *type = json_string_value(json_object_get(col, "type"));
		const char *path = json_string_value(json_object_get(col, "jsonPath"));

		if (!name || !type || !path || strcmp(path, ".metadata.creationTimestamp") == 0)
			continue;
		json_array_append_new(defs,
				      column_def(name, type,
						 json_string_value(json_object_get(col, "format")),
						 (int)json_integer_value(json_object_get(col, "priority")),
						 json_string_value(json_object_get(col, "description"))));
	}
	json_array_append_new(defs, column_def("Age", "string", NULL, 0, "time since creation"));

	json_array_foreach(items, i, item) {
		json_t *cells = json_array(), *meta = json_object_get(item, "metadata");
		json_t *partial;

		json_array_append(cells, json_object_get(meta, "name"));
		if (pods) {
			json_t *pc = pod_cells(item);

			json_array_extend(cells, pc);
			json_decref(pc);
		} else if (nodes) {
			json_array_append_new(cells, node_status(item));
		} else if (nss) {
			const json_t *ph = llmo__jsonpath(item, ".status.phase");

			json_array_append_new(cells, json_string(json_string_value(ph) ? json_string_value(ph)
										     : "Active"));
		}
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
		partial = json_pack("{s:s, s:s, s:O}", "kind", "PartialObjectMetadata", "apiVersion",
				    "meta.k8s.io/v1", "metadata", meta);
		json_array_append_new(rows, json_pack("{s:o, s:o}", "cells", cells, "object", partial));
	}
	(void)single;
	return json_pack("{s:s, s:s, s:{s:s}, s:o, s:o}", "kind", "Table", "apiVersion",
			 "meta.k8s.io/v1", "metadata", "resourceVersion", rv ? rv : "",
			 "columnDefinitions", defs, "rows", rows);
}
