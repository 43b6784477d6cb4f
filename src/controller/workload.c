/*
 * The LLMWorkload reconciler: model -> pod template, replicas (create,
 * replace, roll, scale in), the Service, the finalizer and the status.
 * docs/controller.md says the same in prose; keep them together.
 */
#include "base/common.h"

#include <ctype.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/json.h"
#include "base/log.h"
#include "base/quantity.h"
#include "base/str.h"
#include "base/vec.h"
#include "controller/controller_int.h"

#include "base/banned.h"

#define API_VERSION "llm.orchestrator.io/v1"
/* Default container port and health path when the model's runtime names none. */
#define DEFAULT_PORT 8000
#define DEFAULT_HEALTH_PATH "/health"
/* While a finalizing workload still has pods, look again this often. */
#define FINALIZE_POLL_MS 1000
/* Longest message put in a condition or an Event. */
#define MSG_MAX 512
/* Suffix length of generated pod names, and the longest workload prefix kept. */
#define SUFFIX_LEN 5
#define NAME_PREFIX_MAX 57

enum { R_CPU, R_MEMORY, R_GPU, R_GPU_MEMORY, R_N };

static const char *const wl_res_keys[R_N] = {"cpu", "memory", "gpu", "gpuMemory"};
static const char *const profile_res_keys[R_N] = {"cpu", "memory", "gpu", "gpuMemory"};

/* What one reconcile learns and decides. */
struct wl {
	struct llmo_controller *c;
	json_t *w; /* borrowed from the informer */
	const char *key, *ns, *name, *uid;
	json_int_t generation;
	json_t *model; /* borrowed; NULL when not resolved */
	const char *model_reason;
	char model_msg[MSG_MAX];
	json_t *tmpl; /* owned */
	char hash[17];
	int port;
	int64_t desired, min, max;
	LLMO_VEC(json_t *) pods; /* borrowed, owned by the workload */
	/* classification of the pods */
	int active, ready, updated, updated_ready, old_active, old_ready, terminating, unhealthy,
		starting;
	char crash_msg[MSG_MAX];
	bool backoff;
	int64_t backoff_left_ms;
	int failed_now;
	int64_t requeue_ms; /* > 0: look again after this long */
};

static json_t *meta(const json_t *obj)
{
	return json_object_get(obj, "metadata");
}

static json_t *event_ref(const struct wl *s)
{
	return llmo__obj_ref(s->w, API_VERSION, "LLMWorkload");
}

static void event(struct wl *s, const char *type, const char *reason, const char *fmt, ...)
	LLMO_PRINTF(4, 5);

static void event(struct wl *s, const char *type, const char *reason, const char *fmt, ...)
{
	json_t *ref = event_ref(s);
	va_list ap;

	if (!ref)
		return;
	va_start(ap, fmt);
	llmo_kube_eventv(s->c->rec, ref, type, reason, fmt, ap);
	va_end(ap);
	json_decref(ref);
}

/* ---- pods ---- */

static bool pod_terminating(const json_t *pod)
{
	return json_object_get(meta(pod), "deletionTimestamp") != NULL;
}

static bool pod_finished(const json_t *pod)
{
	const char *phase = llmo_kube_str(pod, "status", "phase");

	return phase && (strcmp(phase, "Failed") == 0 || strcmp(phase, "Succeeded") == 0);
}

static const char *pod_label(const json_t *pod, const char *label)
{
	return json_string_value(json_object_get(json_object_get(meta(pod), "labels"), label));
}

/* Restarts over the pod's containers; the waiting reason CrashLoopBackOff goes to msg. */
static int64_t pod_restarts(const json_t *pod, char *msg, size_t n)
{
	json_t *cs = json_object_get(json_object_get(pod, "status"), "containerStatuses"), *st;
	int64_t restarts = 0;
	size_t i;

	json_array_foreach(cs, i, st) {
		json_t *waiting = json_object_get(json_object_get(st, "state"), "waiting");
		const char *reason = json_string_value(json_object_get(waiting, "reason"));

		restarts += json_integer_value(json_object_get(st, "restartCount"));
		if (reason && msg && !msg[0] &&
		    (strcmp(reason, "CrashLoopBackOff") == 0 ||
		     strcmp(reason, "CreateContainerConfigError") == 0))
			snprintf(msg, n, "replica %s: %s: %s", llmo_kube_str(pod, "metadata", "name"),
				 reason,
				 json_string_value(json_object_get(waiting, "message"))
					 ? json_string_value(json_object_get(waiting, "message"))
					 : "");
	}
	return restarts;
}

/* Why a finished pod ended: its status reason/message or its container's exit. */
static void pod_failure(const json_t *pod, char *out, size_t n)
{
	const char *reason = llmo_kube_str(pod, "status", "reason");
	const char *message = llmo_kube_str(pod, "status", "message");
	json_t *cs = json_object_get(json_object_get(pod, "status"), "containerStatuses");
	json_t *term = json_object_get(json_object_get(json_array_get(cs, 0), "state"),
				       "terminated");

	if (reason)
		snprintf(out, n, "%s: %s", reason, message ? message : "");
	else if (term)
		snprintf(out, n, "exit code %" JSON_INTEGER_FORMAT " (%s)",
			 json_integer_value(json_object_get(term, "exitCode")),
			 json_string_value(json_object_get(term, "reason"))
				 ? json_string_value(json_object_get(term, "reason"))
				 : "Error");
	else
		snprintf(out, n, "phase %s", llmo_kube_str(pod, "status", "phase"));
}

static int collect_pod(void *ctx, json_t *pod)
{
	struct wl *s = ctx;
	json_t **slot = llmo_vec_push(&s->pods);

	if (!slot)
		return LLMO_ENOMEM;
	*slot = pod;
	return 0;
}

static int delete_pod(struct wl *s, const json_t *pod, bool graceful, const char *why)
{
	struct llmo_error err = {0};
	const char *pname = llmo_kube_str(pod, "metadata", "name");
	struct llmo_buf path;
	int rc;

	llmo_buf_init(&path, 1024);
	rc = llmo_kube_path(&llmo_kube_pods, s->ns, pname, NULL, &path);
	if (!rc && !graceful)
		rc = llmo_kube_query_add(&path, "gracePeriodSeconds", "0");
	if (!rc)
		rc = llmo_kube_request(s->c->client, "DELETE", path.data, NULL, NULL, NULL, NULL,
				       &err);
	llmo_buf_release(&path);
	if (rc == LLMO_ENOTFOUND)
		return 0;
	if (rc) {
		llmo_log(LLMO_LOG_WARN, LLMO__CTRL_LOG, "replica delete failed",
			 "workload=%s pod=%s error=\"%s\"", s->key, pname, err.msg);
		return rc;
	}
	s->c->deleted++;
	llmo_log(LLMO_LOG_INFO, LLMO__CTRL_LOG, "replica deleted", "workload=%s pod=%s why=\"%s\"",
		 s->key, pname, why);
	return 0;
}

/* ---- model resolution ---- */

struct find_model {
	const char *name, *version;
	json_t *found;
	int matches;
};

static int match_model(void *ctx, json_t *m)
{
	struct find_model *f = ctx;
	const char *n = llmo_kube_str(m, "spec", "name"), *v = llmo_kube_str(m, "spec", "version");

	if (n && v && strcmp(n, f->name) == 0 && strcmp(v, f->version) == 0 &&
	    !json_object_get(meta(m), "deletionTimestamp")) {
		/* of several, the oldest name wins, so the choice is stable */
		if (!f->found || strcmp(llmo_kube_str(m, "metadata", "name"),
					llmo_kube_str(f->found, "metadata", "name")) < 0)
			f->found = m;
		f->matches++;
	}
	return 0;
}

static void resolve_model(struct wl *s)
{
	const char *mn = llmo_kube_str(s->w, "spec", "modelName");
	const char *mv = llmo_kube_str(s->w, "spec", "modelVersion");
	struct find_model f = {mn, mv, NULL, 0};
	const char *phase;

	if (!mn || !mv) {
		s->model_reason = "InvalidSpec";
		snprintf(s->model_msg, sizeof(s->model_msg), "spec.modelName and spec.modelVersion are required");
		return;
	}
	llmo_informer_list(s->c->models, s->ns, match_model, &f);
	if (!f.found) {
		s->model_reason = "ModelNotFound";
		snprintf(s->model_msg, sizeof(s->model_msg),
			 "no LLMModel in namespace %s has spec.name %s and spec.version %s", s->ns,
			 mn, mv);
		return;
	}
	phase = llmo_kube_str(f.found, "status", "phase");
	if (phase && strcmp(phase, "Failed") == 0) {
		s->model_reason = "ModelFailed";
		snprintf(s->model_msg, sizeof(s->model_msg), "LLMModel %s is Failed: %s",
			 llmo_kube_str(f.found, "metadata", "name"),
			 llmo_kube_str(f.found, "status", "message")
				 ? llmo_kube_str(f.found, "status", "message")
				 : "see its status");
		return;
	}
	if (!llmo_kube_str(json_object_get(f.found, "spec"), "runtime", "image")) {
		s->model_reason = "NoRuntime";
		snprintf(s->model_msg, sizeof(s->model_msg),
			 "LLMModel %s has no spec.runtime.image to run",
			 llmo_kube_str(f.found, "metadata", "name"));
		return;
	}
	s->model = f.found;
	s->model_reason = "Resolved";
	snprintf(s->model_msg, sizeof(s->model_msg), "%s:%s is LLMModel %s%s", mn, mv,
		 llmo_kube_str(f.found, "metadata", "name"),
		 f.matches > 1 ? " (several match; the first by name is used)" : "");
}

/* ---- the pod template ---- */

/* A label value from s: [A-Za-z0-9._-], at most 63, alphanumeric at both ends. */
static void label_value(const char *s, char out[64])
{
	size_t n = 0, start = 0;

	for (; s && *s && n < 63; s++)
		out[n++] = (isalnum((unsigned char)*s) || *s == '.' || *s == '_' || *s == '-') ? *s
											    : '-';
	while (n && !isalnum((unsigned char)out[n - 1]))
		n--;
	while (start < n && !isalnum((unsigned char)out[start]))
		start++;
	memmove(out, out + start, n - start);
	out[n - start] = '\0';
}

static int64_t res_from(const json_t *obj, const char *key)
{
	int64_t m = 0;
	json_t *v = json_object_get(obj, key);

	if (!v || llmo_quantity_from_json(v, &m, NULL))
		return 0;
	return m;
}

/*
 * Each resource from the first source that sets it: spec.resources, the
 * resource profile, the model's recommended, then its minimum resources.
 */
static void resources(const struct wl *s, int64_t out[R_N])
{
	const json_t *spec_res = json_object_get(json_object_get(s->w, "spec"), "resources");
	const char *pname = llmo_kube_str(s->w, "spec", "resourceProfile");
	const struct llmo_resource_profile *p =
		pname ? llmo_config_profile(s->c->config, pname) : NULL;
	const json_t *mres = json_object_get(json_object_get(s->model, "spec"), "resources");
	const json_t *rec = json_object_get(mres, "recommended");
	const json_t *min = json_object_get(mres, "minimum");

	for (int r = 0; r < R_N; r++) {
		int64_t v = res_from(spec_res, wl_res_keys[r]);

		if (!v && p)
			v = r == R_CPU ? p->cpu : r == R_MEMORY ? p->memory : r == R_GPU ? p->gpu
										: p->gpu_memory;
		if (!v)
			v = res_from(rec, profile_res_keys[r]);
		if (!v)
			v = res_from(min, profile_res_keys[r]);
		out[r] = v;
	}
}

static int put_quantity(json_t *obj, const char *key, int64_t milli, enum llmo_qformat fmt)
{
	char q[LLMO_QUANTITY_FMT_MAX];

	if (llmo_quantity_format(milli, fmt, q, sizeof(q)))
		return LLMO_EINVAL;
	return json_object_set_new(obj, key, json_string(q)) ? LLMO_ENOMEM : 0;
}

static json_t *http_probe(const char *path, int period, int failures, int initial)
{
	return json_pack("{s:{s:s, s:s}, s:i, s:i, s:i, s:i}", "httpGet", "path", path, "port",
			 "http", "periodSeconds", period, "failureThreshold", failures,
			 "timeoutSeconds", 2, "initialDelaySeconds", initial);
}

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

/* The Kubernetes toleration object of a spec.placement.tolerations entry (same shape). */
static int build_template(struct wl *s)
{
	json_t *mspec = json_object_get(s->model, "spec");
	json_t *rt = json_object_get(mspec, "runtime");
	json_t *wspec = json_object_get(s->w, "spec");
	json_t *placement = json_object_get(wspec, "placement");
	json_t *container = NULL, *env, *e, *req, *lim, *labels, *annotations, *spec, *pod;
	const char *health = json_string_value(json_object_get(rt, "healthPath"));
	json_int_t port = json_integer_value(json_object_get(rt, "port"));
	const char *qos = json_string_value(json_object_get(wspec, "qosClass"));
	const char *gpu_type = llmo_kube_str(wspec, "resources", "gpuType");
	int64_t res[R_N];
	char lv[64], portstr[16];
	size_t i;
	char *text;
	int rc = 0;

	if (port <= 0 || port > 65535)
		port = DEFAULT_PORT;
	s->port = (int)port;
	snprintf(portstr, sizeof(portstr), "%d", s->port);
	resources(s, res);
	env = json_array();
	json_array_foreach(json_object_get(rt, "env"), i, e) {
		const char *n = json_string_value(json_object_get(e, "name"));

		if (n && strcmp(n, "PORT") != 0)
			json_array_append_new(env, json_pack("{s:s, s:s}", "name", n, "value",
							     json_string_value(json_object_get(e, "value"))
								     ? json_string_value(json_object_get(e, "value"))
								     : ""));
	}
	json_array_append_new(env, json_pack("{s:s, s:s}", "name", "PORT", "value", portstr));
	json_array_append_new(env, json_pack("{s:s, s:s}", "name", "LLMO_MODEL", "value",
					     llmo_kube_str(s->w, "spec", "modelName")));
	json_array_append_new(env, json_pack("{s:s, s:s}", "name", "LLMO_MODEL_VERSION", "value",
					     llmo_kube_str(s->w, "spec", "modelVersion")));
	req = json_object();
	lim = json_object();
	if (res[R_CPU] > 0)
		rc = rc ? rc : put_quantity(req, "cpu", res[R_CPU], LLMO_QFORMAT_DECIMAL_SI);
	if (res[R_MEMORY] > 0) {
		rc = rc ? rc : put_quantity(req, "memory", res[R_MEMORY], LLMO_QFORMAT_BINARY_SI);
		rc = rc ? rc : put_quantity(lim, "memory", res[R_MEMORY], LLMO_QFORMAT_BINARY_SI);
	}
	if (res[R_GPU] > 0) {
		rc = rc ? rc : put_quantity(req, "nvidia.com/gpu", res[R_GPU], LLMO_QFORMAT_DECIMAL_SI);
		rc = rc ? rc : put_quantity(lim, "nvidia.com/gpu", res[R_GPU], LLMO_QFORMAT_DECIMAL_SI);
	}
	container = json_pack("{s:s, s:O, s:[{s:s, s:I, s:s}], s:o, s:{s:o, s:o}, s:o, s:o, s:o, "
			      "s:{s:b, s:{s:[s]}}}",
			      "name", LLMO_CONTAINER_NAME, "image", json_object_get(rt, "image"),
			      "ports", "name", "http", "containerPort", port, "protocol", "TCP",
			      "env", env, "resources", "requests", req, "limits", lim,
			      "startupProbe",
			      http_probe(health ? health : DEFAULT_HEALTH_PATH, 2, 900, 0),
			      "readinessProbe",
			      http_probe(health ? health : DEFAULT_HEALTH_PATH, 2, 3, 0),
			      "livenessProbe",
			      http_probe(health ? health : DEFAULT_HEALTH_PATH, 10, 3, 0),
			      "securityContext", "allowPrivilegeEscalation", 0, "capabilities",
			      "drop", "ALL");
	if (!container || rc) {
		json_decref(container);
		return rc ? rc : LLMO_ENOMEM;
	}
	if (json_array_size(json_object_get(rt, "command")))
		json_object_set(container, "command", json_object_get(rt, "command"));
	if (json_array_size(json_object_get(rt, "args")))
		json_object_set(container, "args", json_object_get(rt, "args"));

	labels = json_object();
	label_value(s->name, lv);
	json_object_set_new(labels, LLMO_LABEL_WORKLOAD, json_string(lv));
	label_value(llmo_kube_str(s->w, "spec", "modelName"), lv);
	json_object_set_new(labels, LLMO_LABEL_MODEL, json_string(lv));
	label_value(llmo_kube_str(s->w, "spec", "modelVersion"), lv);
	json_object_set_new(labels, LLMO_LABEL_VERSION, json_string(lv));
	json_object_set_new(labels, LLMO_LABEL_TRACK, json_string("stable"));
	if (qos)
		json_object_set_new(labels, "llm.orchestrator.io/qos", json_string(qos));
	annotations = json_object();
	if (json_array_size(json_object_get(rt, "localCommand"))) {
		text = llmo_json_dump_compact(json_object_get(rt, "localCommand"));
		if (text)
			json_object_set_new(annotations, LLMO_ANNOTATION_LOCAL_COMMAND,
					    json_string(text));
		free(text);
	}
	if (res[R_GPU_MEMORY] > 0) {
		char q[LLMO_QUANTITY_FMT_MAX];

		if (!llmo_quantity_format(res[R_GPU_MEMORY], LLMO_QFORMAT_BINARY_SI, q, sizeof(q)))
			json_object_set_new(annotations, "llm.orchestrator.io/gpu-memory",
					    json_string(q));
	}
	if (gpu_type)
		json_object_set_new(annotations, "llm.orchestrator.io/gpu-type",
				    json_string(gpu_type));
	/* a model pinned by digest (llmo model push sets it): the agent fetches and
	 * verifies exactly those bytes before the replica starts */
	if (llmo_kube_str(mspec, "artifact", "reference") &&
	    llmo_kube_str(mspec, "artifact", "digest") &&
	    !llmo_str_has_prefix(llmo_kube_str(mspec, "artifact", "reference"), "file://")) {
		const char *aref = llmo_kube_str(mspec, "artifact", "reference");
		char mref[2048];

		if (strchr(aref, '@'))
			snprintf(mref, sizeof(mref), "%s", aref);
		else
			snprintf(mref, sizeof(mref), "%s@%s", aref,
				 llmo_kube_str(mspec, "artifact", "digest"));
		json_object_set_new(annotations, "llm.orchestrator.io/model-artifact",
				    json_string(mref));
	}

	spec = json_pack("{s:s, s:s, s:i, s:[o], s:{s:{s:s}}}", "schedulerName",
			 s->c->scheduler_name, "restartPolicy", "Always",
			 "terminationGracePeriodSeconds", 30, "containers", container,
			 "securityContext", "seccompProfile", "type", "RuntimeDefault");
	if (spec && json_object_size(json_object_get(placement, "nodeSelector")))
		json_object_set(spec, "nodeSelector", json_object_get(placement, "nodeSelector"));
	if (spec && json_array_size(json_object_get(placement, "tolerations")))
		json_object_set(spec, "tolerations", json_object_get(placement, "tolerations"));
	pod = json_pack("{s:s, s:s, s:{s:o, s:o}, s:o}", "apiVersion", "v1", "kind", "Pod",
			"metadata", "labels", labels, "annotations", annotations, "spec", spec);
	if (!pod)
		return LLMO_ENOMEM;
	/* the hash covers everything but itself */
	text = llmo_json_dump(pod, false);
	if (!text) {
		json_decref(pod);
		return LLMO_ENOMEM;
	}
	snprintf(s->hash, sizeof(s->hash), "%010" PRIx64, (uint64_t)(fnv1a(text) & 0xffffffffffULL));
	free(text);
	json_object_set_new(labels, LLMO_LABEL_TEMPLATE_HASH, json_string(s->hash));
	s->tmpl = pod;
	return 0;
}

static int create_pod(struct wl *s)
{
	struct llmo_error err = {0};
	json_t *pod = json_deep_copy(s->tmpl), *m, *owner;
	char prefix[NAME_PREFIX_MAX + 1], suffix[SUFFIX_LEN + 1], pname[LLMO__CTRL_KEY_MAX];
	int rc;

	if (!pod)
		return LLMO_ENOMEM;
	snprintf(prefix, sizeof(prefix), "%s", s->name);
	llmo__random_suffix(s->c, suffix, SUFFIX_LEN);
	snprintf(pname, sizeof(pname), "%s-%s", prefix, suffix);
	m = meta(pod);
	owner = json_pack("[{s:s, s:s, s:s, s:s, s:b, s:b}]", "apiVersion", API_VERSION, "kind",
			  "LLMWorkload", "name", s->name, "uid", s->uid, "controller", 1,
			  "blockOwnerDeletion", 1);
	json_object_set_new(m, "name", json_string(pname));
	json_object_set_new(m, "namespace", json_string(s->ns));
	json_object_set_new(m, "ownerReferences", owner);
	rc = llmo_kube_create(s->c->client, &llmo_kube_pods, s->ns, pod, NULL, &err);
	json_decref(pod);
	if (rc) {
		llmo_log(LLMO_LOG_WARN, LLMO__CTRL_LOG, "replica create failed",
			 "workload=%s error=\"%s\"", s->key, err.msg);
		event(s, "Warning", "FailedCreate", "Error creating replica %s: %s", pname, err.msg);
		return rc;
	}
	s->c->created++;
	llmo_log(LLMO_LOG_INFO, LLMO__CTRL_LOG, "replica created", "workload=%s pod=%s hash=%s",
		 s->key, pname, s->hash);
	event(s, "Normal", "CreatedReplica", "Created replica %s (%s:%s)", pname,
	      llmo_kube_str(s->w, "spec", "modelName"), llmo_kube_str(s->w, "spec", "modelVersion"));
	return 0;
}

/* ---- desired replicas ---- */

static void desired_replicas(struct wl *s)
{
	json_t *scaling = json_object_get(json_object_get(s->w, "spec"), "scaling");
	json_t *rep = json_object_get(scaling, "replicas");
	json_t *minr = json_object_get(scaling, "minReplicas");
	json_t *maxr = json_object_get(scaling, "maxReplicas");
	const char *pname = llmo_kube_str(s->w, "spec", "resourceProfile");
	const struct llmo_resource_profile *p =
		pname ? llmo_config_profile(s->c->config, pname) : NULL;

	s->min = json_is_integer(minr) ? json_integer_value(minr) : 1;
	s->max = json_is_integer(maxr) ? json_integer_value(maxr) : INT32_MAX;
	if (p && p->max_replicas > 0 && p->max_replicas < s->max)
		s->max = p->max_replicas;
	if (s->min < 0)
		s->min = 0;
	if (s->max < s->min)
		s->max = s->min;
	s->desired = json_is_integer(rep) ? json_integer_value(rep) : s->min;
	if (s->desired < s->min)
		s->desired = s->min;
	if (s->desired > s->max)
		s->desired = s->max;
}

/* ---- healing ---- */

static struct llmo__heal *heal_of(struct wl *s)
{
	struct llmo__heal *h = llmo_hmap_get(&s->c->heal, s->key);

	if (h)
		return h;
	h = calloc(1, sizeof(*h));
	if (!h || llmo_hmap_put(&s->c->heal, s->key, h, NULL)) {
		free(h);
		return NULL;
	}
	return h;
}

static void record_failure(struct wl *s, const json_t *pod)
{
	struct llmo__heal *h = heal_of(s);
	int64_t now = llmo_clock_mono_ms(), delay;
	char why[MSG_MAX];

	pod_failure(pod, why, sizeof(why));
	event(s, "Warning", "ReplicaFailed", "Replica %s failed (%s); replacing it",
	      llmo_kube_str(pod, "metadata", "name"), why);
	if (!h)
		return;
	if (h->failures && now - h->last_failure_ms > LLMO_CONTROLLER_BACKOFF_RESET_MS)
		h->failures = 0;
	h->failures++;
	h->last_failure_ms = now;
	delay = s->c->backoff_base_ms;
	for (int i = 1; i < h->failures && delay < s->c->backoff_max_ms; i++)
		delay *= 2;
	if (delay > s->c->backoff_max_ms)
		delay = s->c->backoff_max_ms;
	/* the first failure is replaced at once; repeats wait */
	h->next_create_ms = h->failures > 1 ? now + delay : now;
}

/* ---- classification and actions ---- */

static void classify(struct wl *s)
{
	for (size_t i = 0; i < s->pods.len; i++) {
		json_t *p = s->pods.items[i];
		bool ready, updated;
		const char *hash = pod_label(p, LLMO_LABEL_TEMPLATE_HASH);

		if (pod_terminating(p)) {
			s->terminating++;
			continue;
		}
		if (pod_finished(p))
			continue;
		ready = llmo_kube_condition_true(p, "Ready");
		updated = s->tmpl ? hash && strcmp(hash, s->hash) == 0 : true;
		s->active++;
		s->ready += ready;
		if (updated) {
			s->updated++;
			s->updated_ready += ready;
		} else {
			s->old_active++;
			s->old_ready += ready;
		}
		if (!ready) {
			if (pod_restarts(p, s->crash_msg, sizeof(s->crash_msg)) > 0)
				s->unhealthy++;
			else
				s->starting++;
		}
	}
}

static int replace_failed(struct wl *s)
{
	int rc = 0;

	for (size_t i = 0; i < s->pods.len; i++) {
		json_t *p = s->pods.items[i];

		if (pod_terminating(p) || !pod_finished(p))
			continue;
		record_failure(s, p);
		s->failed_now++;
		rc = delete_pod(s, p, false, "failed");
		if (rc)
			return rc;
	}
	return 0;
}

static int cmp_victim(const void *a, const void *b)
{
	const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	const char *tx = llmo_kube_str(x, "metadata", "creationTimestamp");
	const char *ty = llmo_kube_str(y, "metadata", "creationTimestamp");
	int rx = llmo_kube_condition_true(x, "Ready"), ry = llmo_kube_condition_true(y, "Ready");

	/* not ready first, then the newest, then by name */
	if (rx != ry)
		return rx - ry;
	if (tx && ty && strcmp(tx, ty) != 0)
		return strcmp(ty, tx);
	return strcmp(llmo_kube_str(x, "metadata", "name"), llmo_kube_str(y, "metadata", "name"));
}

/*
 * Deletes up to n pods of the kind selected (updated or old; ready ones only
 * when ready_ok), not-ready and newest first.
 */
static int remove_pods(struct wl *s, int n, bool updated, bool ready_ok, const char *why)
{
	LLMO_VEC(json_t *) c = LLMO_VEC_INIT;
	int rc = 0;

	for (size_t i = 0; i < s->pods.len && n > 0; i++) {
		json_t *p = s->pods.items[i], **slot;
		const char *hash = pod_label(p, LLMO_LABEL_TEMPLATE_HASH);
		bool is_new = hash && strcmp(hash, s->hash) == 0;

		if (pod_terminating(p) || pod_finished(p) || is_new != updated ||
		    (!ready_ok && llmo_kube_condition_true(p, "Ready")))
			continue;
		slot = llmo_vec_push(&c);
		if (!slot) {
			rc = LLMO_ENOMEM;
			goto out;
		}
		*slot = p;
	}
	if (c.len > 1)
		qsort(c.items, c.len, sizeof(c.items[0]), cmp_victim);
	for (size_t i = 0; i < c.len && n > 0 && !rc; i++, n--) {
		rc = delete_pod(s, c.items[i], true, why);
		if (!rc)
			event(s, "Normal", "DeletedReplica", "Deleted replica %s: %s",
			      llmo_kube_str(c.items[i], "metadata", "name"), why);
	}
out:
	llmo_vec_release(&c);
	return rc;
}

/*
 * Converges the pods on the template and the desired count: a rolling
 * replacement (one extra replica at a time, an old one removed only when
 * the ready count allows), scale-out, and scale-in.
 */
static int manage_pods(struct wl *s)
{
	struct llmo__heal *h = llmo_hmap_get(&s->c->heal, s->key);
	int64_t now = llmo_clock_mono_ms();
	int64_t create = s->desired - s->updated;
	int rc = 0;

	if (s->old_active > 0 && create > s->desired + 1 - s->active)
		create = s->desired + 1 - s->active;
	if (create > 0 && h && h->next_create_ms > now) {
		s->backoff = true;
		s->backoff_left_ms = h->next_create_ms - now;
		s->requeue_ms = s->backoff_left_ms;
		event(s, "Warning", "BackOff",
		      "Back-off replacing failed replicas: %d failures, next in %" PRId64 " s",
		      h->failures, (s->backoff_left_ms + 999) / 1000);
		create = 0;
	}
	for (int64_t i = 0; i < create && !rc; i++) {
		rc = create_pod(s);
		if (!rc) {
			s->active++;
			s->updated++;
			s->starting++;
		}
	}
	if (rc)
		return rc;
	if (s->updated > s->desired) {
		rc = remove_pods(s, (int)(s->updated - s->desired), true, true, "scaled in");
		if (rc)
			return rc;
	}
	if (s->old_active > 0) {
		int64_t excess = s->updated_ready + s->old_ready - s->desired;

		/* old replicas that serve nothing go once their replacements exist */
		if (s->updated >= s->desired)
			rc = remove_pods(s, s->old_active, false, false, "replaced by the new template");
		if (!rc && excess > 0)
			rc = remove_pods(s, (int)(excess < s->old_ready ? excess : s->old_ready), false,
					 true, "replaced by the new template");
	}
	return rc;
}

/* ---- the Service ---- */

static int ensure_service(struct wl *s)
{
	struct llmo_error err = {0};
	json_t *svc = llmo_informer_get(s->c->services, s->ns, s->name);
	json_t *want, *port0;
	const char *owner;
	char lv[64];
	int rc;

	if (svc) {
		owner = pod_label(svc, LLMO_LABEL_WORKLOAD);
		port0 = json_array_get(json_object_get(json_object_get(svc, "spec"), "ports"), 0);
		if (!owner)
			return 0; /* someone else's Service of that name: left alone */
		if (json_integer_value(json_object_get(port0, "port")) == s->port)
			return 0;
		want = json_pack("{s:{s:[{s:s, s:i, s:i, s:s}]}}", "spec", "ports", "name", "http",
				 "port", s->port, "targetPort", s->port, "protocol", "TCP");
		rc = want ? llmo_kube_patch(s->c->client, &llmo_kube_services, s->ns, s->name,
					    NULL, LLMO_KUBE_PATCH_MERGE, want, NULL, &err)
			  : LLMO_ENOMEM;
		json_decref(want);
		return rc;
	}
	label_value(s->name, lv);
	want = json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}, s:[{s:s, s:s, s:s, s:s, s:b, s:b}]}, "
			 "s:{s:{s:s}, s:[{s:s, s:i, s:i, s:s}]}}",
			 "apiVersion", "v1", "kind", "Service", "metadata", "name", s->name,
			 "namespace", s->ns, "labels", LLMO_LABEL_WORKLOAD, lv, "ownerReferences",
			 "apiVersion", API_VERSION, "kind", "LLMWorkload", "name", s->name, "uid",
			 s->uid, "controller", 1, "blockOwnerDeletion", 1, "spec", "selector",
			 LLMO_LABEL_WORKLOAD, lv, "ports", "name", "http", "port", s->port,
			 "targetPort", s->port, "protocol", "TCP");
	if (!want)
		return LLMO_ENOMEM;
	rc = llmo_kube_create(s->c->client, &llmo_kube_services, s->ns, want, NULL, &err);
	json_decref(want);
	if (rc == LLMO_EEXIST)
		return 0;
	if (rc) {
		event(s, "Warning", "FailedCreateService", "Error creating Service %s: %s", s->name,
		      err.msg);
		return rc;
	}
	event(s, "Normal", "CreatedService", "Created Service %s (port %d)", s->name, s->port);
	return 0;
}

/* ---- status ---- */

static const char *phase_of(const struct wl *s)
{
	const char *old = llmo_kube_str(s->w, "status", "phase");
	bool served = old && (strcmp(old, "Running") == 0 || strcmp(old, "Scaling") == 0 ||
			      strcmp(old, "Degraded") == 0 || strcmp(old, "Updating") == 0);

	if (!s->model)
		return s->model_reason && strcmp(s->model_reason, "ModelFailed") == 0 ? "Failed"
										       : "Pending";
	if (s->unhealthy || s->crash_msg[0] || s->backoff || s->failed_now)
		return "Degraded";
	if (s->old_active > 0)
		return "Updating";
	if (s->starting || s->active != s->desired || s->terminating || s->ready < s->desired)
		return served ? "Scaling" : "Deploying";
	return "Running";
}

static int endpoint_of(const json_t *pod, int port, char *out, size_t n)
{
	const char *ip = llmo_kube_str(pod, "status", "podIP");
	const char *hp = json_string_value(json_object_get(
		json_object_get(meta(pod), "annotations"), LLMO_ANNOTATION_HOST_PORTS));
	char key[16];
	json_t *map;
	json_int_t p = port;

	if (!ip || !*ip)
		return -1;
	if (hp && (map = json_loads(hp, 0, NULL)) != NULL) {
		snprintf(key, sizeof(key), "%d", port);
		if (json_is_integer(json_object_get(map, key)))
			p = json_integer_value(json_object_get(map, key));
		json_decref(map);
	}
	snprintf(out, n, strchr(ip, ':') ? "[%s]:%" JSON_INTEGER_FORMAT : "%s:%" JSON_INTEGER_FORMAT,
		 ip, p);
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static json_t *endpoints(const struct wl *s)
{
	LLMO_VEC(char *) eps = LLMO_VEC_INIT;
	json_t *arr = json_array();
	char ep[128];

	for (size_t i = 0; i < s->pods.len && arr; i++) {
		json_t *p = s->pods.items[i];
		char **slot;

		if (pod_terminating(p) || !llmo_kube_condition_true(p, "Ready") || endpoint_of(p, s->port, ep, sizeof(ep)))
			continue;
		slot = llmo_vec_push(&eps);
		if (slot)
			*slot = llmo_strdup(ep);
	}
	if (eps.len > 1)
		qsort(eps.items, eps.len, sizeof(eps.items[0]), cmp_str);
	for (size_t i = 0; i < eps.len; i++) {
		if (arr && eps.items[i])
			json_array_append_new(arr, json_string(eps.items[i]));
		free(eps.items[i]);
	}
	llmo_vec_release(&eps);
	return arr;
}

static json_t *build_status(const struct wl *s)
{
	json_t *conds = json_array(), *st;
	char msg[MSG_MAX], lv[64];
	bool ready = s->model && s->ready >= s->desired && (s->desired == 0 || s->ready > 0);
	bool converged = s->model && ready && s->active == s->desired && s->old_active == 0 &&
			 s->terminating == 0;
	const char *progress_reason;
	int rc = 0;

	if (!conds)
		return NULL;
	/* Ready */
	if (!s->model)
		snprintf(msg, sizeof(msg), "%s", s->model_msg);
	else
		snprintf(msg, sizeof(msg), "%d/%" PRId64 " replicas ready", s->ready, s->desired);
	rc = llmo__condition_set(conds, s->w, "Ready", ready,
				 !s->model      ? "ModelNotResolved"
				 : s->desired == 0 ? "ScaledToZero"
				 : ready	  ? "ReplicasReady"
						  : "ReplicasNotReady",
				 msg, s->generation);
	/* Progressing */
	if (!s->model) {
		progress_reason = "ModelNotResolved";
		snprintf(msg, sizeof(msg), "waiting for the model: %s", s->model_msg);
	} else if (s->backoff) {
		progress_reason = "BackOff";
		snprintf(msg, sizeof(msg),
			 "replicas keep failing; the next replacement in %" PRId64 " s",
			 (s->backoff_left_ms + 999) / 1000);
	} else if (converged) {
		progress_reason = "ReplicasAvailable";
		snprintf(msg, sizeof(msg), "%" PRId64 " replicas of the current template are ready",
			 s->desired);
	} else if (s->old_active > 0) {
		progress_reason = "RollingUpdate";
		snprintf(msg, sizeof(msg), "%d of %" PRId64 " replicas updated, %d old remain",
			 s->updated, s->desired, s->old_active);
	} else {
		progress_reason = s->active < s->desired ? "ScalingUp"
				  : s->active > s->desired ? "ScalingDown"
							   : "WaitingForReplicas";
		snprintf(msg, sizeof(msg), "%d/%" PRId64 " replicas ready, %d starting", s->ready,
			 s->desired, s->starting);
	}
	if (!rc)
		rc = llmo__condition_set(conds, s->w, "Progressing", !s->backoff && s->model,
					 progress_reason, msg, s->generation);
	/* Degraded */
	if (s->crash_msg[0])
		snprintf(msg, sizeof(msg), "%s", s->crash_msg);
	else if (s->failed_now || s->backoff)
		snprintf(msg, sizeof(msg), "replicas failed and are being replaced");
	else if (s->unhealthy)
		snprintf(msg, sizeof(msg), "%d replicas restarted and are not ready", s->unhealthy);
	else
		snprintf(msg, sizeof(msg), "no replica is failing");
	if (!rc)
		rc = llmo__condition_set(conds, s->w, "Degraded",
					 s->crash_msg[0] || s->failed_now || s->backoff ||
						 s->unhealthy,
					 s->crash_msg[0]		 ? "CrashLoopBackOff"
					 : s->failed_now || s->backoff ? "ReplicaFailures"
					 : s->unhealthy		 ? "ReplicasUnhealthy"
									 : "AsExpected",
					 msg, s->generation);
	if (!rc)
		rc = llmo__condition_set(conds, s->w, "ModelResolved", s->model != NULL,
					 s->model_reason, s->model_msg, s->generation);
	if (rc) {
		json_decref(conds);
		return NULL;
	}
	label_value(s->name, lv);
	snprintf(msg, sizeof(msg), "%s=%s", LLMO_LABEL_WORKLOAD, lv);
	st = json_pack("{s:s, s:I, s:o, s:i, s:I, s:i, s:i, s:i, s:s, s:o}", "phase", phase_of(s),
		       "observedGeneration", s->generation, "conditions", conds, "replicas",
		       s->active, "desiredReplicas", (json_int_t)s->desired, "currentReplicas",
		       s->active, "readyReplicas", s->ready, "updatedReplicas", s->updated,
		       "selector", msg, "endpoints", endpoints(s));
	return st;
}

static int write_status(struct wl *s)
{
	struct llmo_error err = {0};
	json_t *old = json_object_get(s->w, "status"), *st = build_status(s), *patch, *v;
	const char *k;
	bool same = true;
	int rc;

	if (!st)
		return LLMO_ENOMEM;
	json_object_foreach(st, k, v) {
		if (!llmo_json_equal_value(json_object_get(old, k), v)) {
			same = false;
			break;
		}
	}
	if (same) {
		json_decref(st);
		return 0;
	}
	patch = json_pack("{s:o}", "status", st);
	if (!patch)
		return LLMO_ENOMEM;
	rc = llmo_kube_patch(s->c->client, &llmo_kube_llmworkloads, s->ns, s->name, "status",
			     LLMO_KUBE_PATCH_MERGE, patch, NULL, &err);
	json_decref(patch);
	if (rc == LLMO_ENOTFOUND)
		return 0;
	if (rc)
		llmo_log(LLMO_LOG_WARN, LLMO__CTRL_LOG, "status write failed",
			 "workload=%s error=\"%s\"", s->key, err.msg);
	return rc;
}

/* ---- finalizer ---- */

static bool has_finalizer(const json_t *w)
{
	json_t *f = json_object_get(meta(w), "finalizers"), *v;
	size_t i;

	json_array_foreach(f, i, v) {
		if (json_is_string(v) && strcmp(json_string_value(v), LLMO_FINALIZER) == 0)
			return true;
	}
	return false;
}

/* Adds (add) or removes our finalizer, conditional on the resourceVersion seen. */
static int set_finalizer(struct wl *s, bool add)
{
	struct llmo_error err = {0};
	json_t *f = json_object_get(meta(s->w), "finalizers"), *list = json_array(), *v, *patch;
	size_t i;
	int rc;

	if (!list)
		return LLMO_ENOMEM;
	json_array_foreach(f, i, v) {
		if (!json_is_string(v) || strcmp(json_string_value(v), LLMO_FINALIZER) != 0)
			json_array_append(list, v);
	}
	if (add)
		json_array_append_new(list, json_string(LLMO_FINALIZER));
	patch = json_pack("{s:{s:o, s:O}}", "metadata", "finalizers", list, "resourceVersion",
			  json_object_get(meta(s->w), "resourceVersion"));
	if (!patch)
		return LLMO_ENOMEM;
	rc = llmo_kube_patch(s->c->client, &llmo_kube_llmworkloads, s->ns, s->name, NULL,
			     LLMO_KUBE_PATCH_MERGE, patch, NULL, &err);
	json_decref(patch);
	if (rc == LLMO_ENOTFOUND)
		return 0;
	if (rc && rc != LLMO_ECONFLICT)
		llmo_log(LLMO_LOG_WARN, LLMO__CTRL_LOG, "finalizer update failed",
			 "workload=%s error=\"%s\"", s->key, err.msg);
	return rc;
}

/*
 * The workload is being deleted: its replicas are deleted (gracefully, so
 * their processes stop), then its Service, and once no pod is left the
 * finalizer goes and the API deletes the workload.
 */
static int finalize(struct wl *s)
{
	struct llmo_error err = {0};
	json_t *svc = llmo_informer_get(s->c->services, s->ns, s->name);
	void *old = NULL;
	int rc = 0, deleting = 0;

	if (!has_finalizer(s->w))
		return 0;
	for (size_t i = 0; i < s->pods.len && !rc; i++) {
		if (!pod_terminating(s->pods.items[i])) {
			rc = delete_pod(s, s->pods.items[i], !pod_finished(s->pods.items[i]),
					"workload deleted");
			deleting++;
		}
	}
	if (rc)
		return rc;
	if (deleting)
		event(s, "Normal", "Deleting", "Deleting %d replicas before the workload goes",
		      deleting);
	if (s->pods.len) {
		s->requeue_ms = FINALIZE_POLL_MS;
		return 0;
	}
	if (svc && pod_label(svc, LLMO_LABEL_WORKLOAD)) {
		rc = llmo_kube_delete(s->c->client, &llmo_kube_services, s->ns, s->name,
				      LLMO_KUBE_PROPAGATE_BACKGROUND, NULL, &err);
		if (rc && rc != LLMO_ENOTFOUND)
			return rc;
	}
	rc = set_finalizer(s, false);
	if (!rc) {
		llmo_log(LLMO_LOG_INFO, LLMO__CTRL_LOG, "finalized", "workload=%s", s->key);
		if (llmo_hmap_del(&s->c->heal, s->key, &old) == 0)
			free(old);
	}
	return rc;
}

/* ---- the reconcile ---- */

int llmo__workload_reconcile(void *ctx, const char *key)
{
	struct llmo_controller *c = ctx;
	struct wl s = {.c = c, .key = key, .pods = LLMO_VEC_INIT};
	char ns[LLMO__CTRL_KEY_MAX];
	void *old = NULL;
	int rc = 0;

	if (!c->leading)
		return 0;
	if (!llmo__ctrl_synced(c))
		return llmo_workqueue_add_after(c->wq, key, LLMO__CTRL_UNSYNCED_MS);
	s.name = llmo__split_key(key, ns, sizeof(ns));
	s.ns = ns;
	if (!s.name)
		return 0;
	s.w = llmo_informer_get(c->workloads, ns, s.name);
	if (!s.w) {
		if (llmo_hmap_del(&c->heal, key, &old) == 0)
			free(old);
		return 0;
	}
	s.uid = llmo_kube_str(s.w, "metadata", "uid");
	s.generation = json_integer_value(json_object_get(meta(s.w), "generation"));
	if (!s.uid)
		return 0;
	rc = llmo_informer_by_index(c->pods, LLMO_INFORMER_INDEX_OWNER, s.uid, collect_pod, &s);
	if (rc)
		goto out;
	if (json_object_get(meta(s.w), "deletionTimestamp")) {
		rc = finalize(&s);
		goto out;
	}
	if (!has_finalizer(s.w)) {
		/* the update comes back through the informer and runs this again */
		rc = set_finalizer(&s, true);
		goto out;
	}
	resolve_model(&s);
	desired_replicas(&s);
	if (s.model) {
		rc = build_template(&s);
		if (rc)
			goto out;
		rc = replace_failed(&s);
		classify(&s);
		if (!rc)
			rc = manage_pods(&s);
		if (!rc)
			rc = ensure_service(&s);
	} else {
		classify(&s);
		event(&s, "Warning", s.model_reason, "%s", s.model_msg);
	}
	if (!rc)
		rc = write_status(&s);
out:
	if (!rc && s.requeue_ms > 0)
		llmo_workqueue_add_after(c->wq, key, s.requeue_ms);
	json_decref(s.tmpl);
	llmo_vec_release(&s.pods);
	return rc;
}
