/*
 * The LLMWorkload reconciler: model -> pod template, replicas (create,
 * replace, roll, scale in), the Service, the finalizer and the status.
 * docs/controller.md says the same in prose; keep them together.
 */
#include "base/common.h"

#include <ctype.h>
#include <math.h>

#include "apiserver/pki.h"
#include "base/base64.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/duration.h"
#include "base/file.h"
#include "base/json.h"
#include "base/log.h"
#include "base/quantity.h"
#include "base/str.h"
#include "base/vec.h"
#include "controller/controller_int.h"
#include "controller/federation.h"
#include "controller/prefetch.h"
#include "controller/scale.h"
#include "controller/vertical.h"

#include "base/banned.h"

#define API_VERSION "llm.orchestrator.io/v1"
/* Default container port and health path when the model's runtime names none. */
#define DEFAULT_PORT 8000
#define DEFAULT_HEALTH_PATH "/health"
/* While a finalizing workload still has pods, look again this often. */
#define FINALIZE_POLL_MS 1000
#define STATUS_CONFLICT_RETRY_MS 50 /* after a status write lost to a newer object */
/* Unchanged workload figures are re-stamped in the status at most this often. */
#define STATUS_METRICS_REFRESH_MS 60000
/* Longest message put in a condition or an Event. */
#define MSG_MAX 512
/* Suffix length of generated pod names, and the longest workload prefix kept. */
#define SUFFIX_LEN 5
#define NAME_PREFIX_MAX 57

enum { R_CPU, R_MEMORY, R_GPU, R_GPU_MEMORY, R_N };

static const char *const wl_res_keys[R_N] = {"cpu", "memory", "gpu", "gpuMemory"};
static const char *const profile_res_keys[R_N] = {"cpu", "memory", "gpu", "gpuMemory"};

/*
 * A group of replicas of one template: "stable" (always first), "canary"
 * during a canary rollout. Pods belong to the track whose template hash
 * they carry; pods matching no track are "old" and are replaced within the
 * first track.
 */
struct track {
	const char *name, *version;
	json_t *model; /* borrowed from the informer */
	json_t *tmpl;  /* owned */
	char hash[17];
	int64_t desired;
	int weight; /* percent of the traffic the gateway sends to it; 0: no split */
	int replicas, ready;
};

#define TRACKS_MAX 8

/* What one reconcile learns and decides. */
struct wl {
	struct llmo_controller *c;
	json_t *w; /* borrowed from the informer */
	const char *key, *ns, *name, *uid;
	json_int_t generation;
	json_t *model; /* borrowed; NULL when not resolved */
	const char *model_reason;
	char model_msg[MSG_MAX];
	int port;
	int64_t desired, min, max;
	int64_t base; /* replicas of the stable track: spec or autoscaler, within min/max */
	struct llmo__scale_out scale;
	struct llmo__recommendation rec; /* vertical / hybrid: this reconcile's (vertical.h) */
	LLMO_VEC(json_t *) pods; /* borrowed, owned by the workload */
	/* classification of the pods */
	int active, ready, updated, updated_ready, old_active, old_ready, terminating, unhealthy,
		starting;
	int unschedulable;	  /* of starting: the scheduler found no node for them */
	char unsched_msg[MSG_MAX]; /* the scheduler's reason for one of them */
	char crash_msg[MSG_MAX];
	bool backoff;
	int64_t backoff_left_ms;
	int failed_now;
	int64_t requeue_ms; /* > 0: look again after this long */
	struct track tracks[TRACKS_MAX];
	size_t ntracks;
	struct llmo__fed_out fed; /* cross-cluster placement (federation.h) */
	/* spec.security.encryption: whether its certificate is in place, else why not */
	bool tls_on, tls_ok;
	const char *tls_reason;
	char tls_msg[MSG_MAX];
	/* spec.performance.minThroughput: requests/s wanted, one replica's rate, its source */
	struct {
		double want, per;
		const char *source;
		int64_t floor;
		bool limited; /* the floor is above maxReplicas */
	} tput;
	int draining; /* replicas waiting for their requests to finish */
	int surge;    /* migration replacements whose replica is still in service */
	/* status.rollout as this reconcile leaves it */
	struct {
		const char *phase;
		char stable[130], canary[130], start[40], message[MSG_MAX];
		int weight;
		json_t *analysis; /* owned; NULL: none */
	} ro;
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

static bool str_is(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

static bool pod_draining(const json_t *pod)
{
	const char *v = json_string_value(
		json_object_get(json_object_get(meta(pod), "annotations"), LLMO_ANNOTATION_DRAINING));

	return v && strcmp(v, "true") == 0;
}

/* Deleted, or draining (on its way out; it takes no new requests). */
static bool pod_terminating(const json_t *pod)
{
	if (pod_draining(pod))
		return true;
	return json_object_get(meta(pod), "deletionTimestamp") != NULL;
}

static const char *pod_label(const json_t *pod, const char *label)
{
	return json_string_value(json_object_get(json_object_get(meta(pod), "labels"), label));
}

/*
 * A migration's replacement while the replica it replaces is still in
 * service (neither draining, deleted nor finished): an extra pod that no
 * replica count, scale-in or rollout sees (docs/controller.md, "Migration").
 */
static bool pod_surge(const struct wl *s, const json_t *pod)
{
	const char *of = llmo_kube_annotation(pod, LLMO_ANNOTATION_MIGRATION_OF);

	for (size_t i = 0; of && i < s->pods.len; i++) {
		const json_t *p = s->pods.items[i];

		if (p != pod && strcmp(llmo_kube_str(p, "metadata", "name"), of) == 0)
			return !pod_terminating(p) && !llmo__pod_finished(p);
	}
	return false;
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

/*
 * Expectations (as Kubernetes' ReplicaSet controller keeps them): the pods
 * are read from the informer's cache, which shows a write of ours a moment
 * after the API answered it. A reconcile in that moment would act on a cache
 * without it: create a second replica, or a second migration replacement
 * (which then abandoned the migration), drain a second replica. So each pod
 * created, deleted or annotated is remembered until the cache shows it (the
 * pod present; absent or deleting; its annotations as patched), at most
 * LLMO__EXPECT_TIMEOUT_MS, and a reconcile that finds one still pending only
 * looks again EXPECT_RECHECK_MS later.
 */
#define EXPECT_MAX 32
#define EXPECT_RECHECK_MS 100

struct expect {
	size_t n;
	struct {
		char name[LLMO__CTRL_KEY_MAX];
		int kind;    /* LLMO__EXPECT_* */
		json_t *ann; /* ANNOTATIONS: the patch (key -> string, or null: removed) */
		int64_t until;
	} e[EXPECT_MAX];
};

void llmo__expect_free(void *p)
{
	struct expect *x = p;

	for (size_t i = 0; x && i < x->n; i++)
		json_decref(x->e[i].ann);
	free(x);
}

void llmo__expect_add(struct llmo_controller *c, const char *key, const char *name, int kind,
		      json_t *ann, int64_t now)
{
	struct expect *x = llmo_hmap_get(&c->expect, key);

	if (!x) {
		if (!(x = calloc(1, sizeof(*x))))
			return; /* without it, as before: the next reconcile may not see the write */
		if (llmo_hmap_put(&c->expect, key, x, NULL)) {
			free(x);
			return;
		}
	}
	if (x->n == EXPECT_MAX || strlen(name) >= sizeof(x->e[0].name) ||
	    (kind == LLMO__EXPECT_ANNOTATIONS && !json_is_object(ann)))
		return;
	snprintf(x->e[x->n].name, sizeof(x->e[x->n].name), "%s", name);
	x->e[x->n].kind = kind;
	x->e[x->n].ann = kind == LLMO__EXPECT_ANNOTATIONS ? json_incref(ann) : NULL;
	x->e[x->n].until = now + LLMO__EXPECT_TIMEOUT_MS;
	x->n++;
}

/* Whether the cache's pod (NULL: none) shows the write e. */
static bool expect_shown(const json_t *pod, int kind, const json_t *ann)
{
	const json_t *have, *v;
	const char *k;

	if (kind == LLMO__EXPECT_CREATE)
		return pod != NULL;
	if (!pod || json_object_get(meta(pod), "deletionTimestamp"))
		return true; /* deleted: so are its annotations */
	if (kind == LLMO__EXPECT_DELETE)
		return false;
	have = json_object_get(meta(pod), "annotations");
	json_object_foreach((json_t *)ann, k, v) {
		const json_t *h = json_object_get(have, k);

		if (json_is_null(v) ? h != NULL : !json_equal(h, v))
			return false;
	}
	return true;
}

bool llmo__expect_pending(struct llmo_controller *c, const char *key, json_t *const *pods,
			  size_t npods, int64_t now)
{
	static const char *const ops[] = {"create", "delete", "annotate"};
	struct expect *x = llmo_hmap_get(&c->expect, key);
	size_t kept = 0;
	void *old = NULL;

	if (!x)
		return false;
	for (size_t i = 0; i < x->n; i++) {
		const json_t *found = NULL;

		for (size_t j = 0; j < npods && !found; j++) {
			const char *n = llmo_kube_str(pods[j], "metadata", "name");

			if (n && strcmp(n, x->e[i].name) == 0)
				found = pods[j];
		}
		if (!expect_shown(found, x->e[i].kind, x->e[i].ann)) {
			if (now < x->e[i].until) {
				x->e[kept++] = x->e[i];
				continue;
			}
			llmo_log(LLMO_LOG_WARN, LLMO__CTRL_LOG, "pod write not seen",
				 "workload=%s pod=%s op=%s after_ms=%d", key, x->e[i].name,
				 ops[x->e[i].kind], LLMO__EXPECT_TIMEOUT_MS);
		}
		json_decref(x->e[i].ann); /* shown, or given up */
	}
	x->n = kept;
	if (kept)
		return true;
	if (llmo_hmap_del(&c->expect, key, &old) == 0)
		llmo__expect_free(old);
	return false;
}

static void expect_add(struct wl *s, const char *name, int kind, json_t *ann)
{
	llmo__expect_add(s->c, s->key, name, kind, ann, llmo_clock_mono_ms());
}

static bool expect_pending(struct wl *s)
{
	return llmo__expect_pending(s->c, s->key, s->pods.items, s->pods.len, llmo_clock_mono_ms());
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
	expect_add(s, pname, LLMO__EXPECT_DELETE, NULL);
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
/*
 * What spec.modelSize stands for when nothing else gives a resource (milli-
 * units): cpu, memory, GPUs and GPU memory of a typical replica of the size
 * class (docs/controller.md, "From a workload to replicas").
 */
static int64_t size_default(const char *size, int r)
{
	static const struct {
		const char *name;
		int64_t v[R_N];
	} classes[] = {
		{"small", {2000, 8000LL << 30, 1000, 16000LL << 30}},
		{"medium", {4000, 16000LL << 30, 1000, 40000LL << 30}},
		{"large", {8000, 64000LL << 30, 2000, 80000LL << 30}},
		{"xlarge", {16000, 128000LL << 30, 8000, 80000LL << 30}},
	};

	for (size_t i = 0; size && i < LLMO_ARRAY_LEN(classes); i++)
		if (strcmp(size, classes[i].name) == 0)
			return classes[i].v[r];
	return 0;
}

static void resources(const struct wl *s, const json_t *model, int64_t out[])
{
	const json_t *spec_res = json_object_get(json_object_get(s->w, "spec"), "resources");
	const char *pname = llmo_kube_str(s->w, "spec", "resourceProfile");
	const struct llmo_resource_profile *p =
		pname ? llmo_config_profile(s->c->config, pname) : NULL;
	const json_t *mres = json_object_get(json_object_get(model, "spec"), "resources");
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
		if (!v)
			v = size_default(llmo_kube_str(s->w, "spec", "modelSize"), r);
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

/*
 * PlacementSatisfied, for a workload with spec.placement.clusters: whether
 * every replica has a cluster and every named cluster is known and
 * reachable (federation.c says which is not). None otherwise.
 */
static int placement_condition(struct wl *s, json_t *conds)
{
	if (!s->fed.federated)
		return 0;
	return llmo__condition_set(conds, s->w, "PlacementSatisfied", s->fed.satisfied,
				   s->fed.reason, s->fed.message, s->generation);
}

/*
 * Splits the replicas over the clusters of spec.placement.clusters: the
 * member clusters' copies are written here, and this cluster keeps its
 * share (s->desired). Nothing when the list is empty.
 */
static void resources(const struct wl *s, const json_t *model, int64_t out[]);

static int federate(struct wl *s, bool deleting)
{
	int64_t res[R_N] = {0};
	struct llmo__fed_in in = {.key = s->key, .ns = s->ns, .name = s->name, .uid = s->uid,
				  .w = s->w, .model = s->model, .total = s->desired,
				  .deleting = deleting};
	int rc;

	if (s->model || deleting)
		resources(s, s->model, res);
	in.demand[0] = res[R_CPU];
	in.demand[1] = res[R_MEMORY];
	in.demand[2] = res[R_GPU];
	if ((rc = llmo__fed_reconcile(s->c, &in, &s->fed)))
		return rc;
	if (s->fed.federated && !deleting)
		s->desired = s->base = s->fed.local;
	if (s->fed.requeue_ms > 0 && (!s->requeue_ms || s->fed.requeue_ms < s->requeue_ms))
		s->requeue_ms = s->fed.requeue_ms;
	return 0;
}

/* ---- encryption (spec.security.encryption) ---- */

static void requeue_within(struct wl *s, int64_t ms);

static bool encrypted(const json_t *w)
{
	return json_is_true(json_object_get(
		json_object_get(json_object_get(w, "spec"), "security"), "encryption"));
}

/* The name an encrypted workload's replicas prove with their certificate. */
static void tls_server_name(const struct wl *s, char *out, size_t n)
{
	snprintf(out, n, "%s.%s.svc", s->name, s->ns);
}

/*
 * An encrypted workload's replica serves HTTPS with the certificate of the
 * Secret NAME-tls: mounted at LLMO_REPLICA_TLS_DIR (tls.crt, tls.key,
 * ca.crt) for runtimes that read files (vLLM gets --ssl-certfile and
 * --ssl-keyfile), and its PEM text in LLMO_TLS_CERT_PEM / LLMO_TLS_KEY_PEM
 * (envFrom) for those that read the environment (llmo inference-sim, and on
 * one machine, where the agent mounts nothing). Probes use HTTPS; the
 * annotation tells the gateway which name to expect.
 */
static int tls_template(struct wl *s, const json_t *mspec, json_t *container, json_t *spec,
			json_t *annotations)
{
	char secret[LLMO__CTRL_KEY_MAX], name[LLMO__CTRL_KEY_MAX];
	static const char *const probes[] = {"startupProbe", "readinessProbe", "livenessProbe"};
	const char *fw = json_string_value(json_object_get(mspec, "framework"));
	int rc;

	if (!encrypted(s->w))
		return 0;
	snprintf(secret, sizeof(secret), "%s-tls", s->name);
	tls_server_name(s, name, sizeof(name));
	for (size_t i = 0; i < LLMO_ARRAY_LEN(probes); i++)
		json_object_set_new(json_object_get(json_object_get(container, probes[i]),
						    "httpGet"),
				    "scheme", json_string("HTTPS"));
	if ((rc = llmo__append_to(container, "envFrom",
			    json_pack("{s:{s:s}}", "secretRef", "name", secret))) ||
	    (rc = llmo__append_to(container, "env",
			    json_pack("{s:s, s:s}", "name", "LLMO_TLS_CERT", "value",
				      LLMO_REPLICA_TLS_DIR "/tls.crt"))) ||
	    (rc = llmo__append_to(container, "env",
			    json_pack("{s:s, s:s}", "name", "LLMO_TLS_KEY", "value",
				      LLMO_REPLICA_TLS_DIR "/tls.key"))) ||
	    (rc = llmo__append_to(container, "volumeMounts",
			    json_pack("{s:s, s:s, s:b}", "name", "llmo-tls", "mountPath",
				      LLMO_REPLICA_TLS_DIR, "readOnly", 1))) ||
	    (rc = llmo__append_to(spec, "volumes",
			    json_pack("{s:s, s:{s:s}}", "name", "llmo-tls", "secret", "secretName",
				      secret))))
		return rc;
	if (fw && strcmp(fw, "vllm") == 0 &&
	    ((rc = llmo__append_to(container, "args",
			     json_string("--ssl-certfile=" LLMO_REPLICA_TLS_DIR "/tls.crt"))) ||
	     (rc = llmo__append_to(container, "args",
			     json_string("--ssl-keyfile=" LLMO_REPLICA_TLS_DIR "/tls.key")))))
		return rc;
	return json_object_set_new(annotations, LLMO_ANNOTATION_TLS_SERVER_NAME,
				   json_string(name))
		       ? LLMO_ENOMEM
		       : 0;
}

/* The Secret NAME-tls with a new certificate for the workload's server name. */
static int tls_issue(struct wl *s, const char *secret, const char *name, json_t *old)
{
	struct llmo_buf crt, key, ca;
	struct llmo_error err = {0};
	const char *hosts[] = {name, NULL, NULL};
	char full[LLMO__CTRL_KEY_MAX + 32], *b_crt = NULL, *b_key = NULL, *b_ca = NULL;
	json_t *obj = NULL;
	int rc;

	snprintf(full, sizeof(full), "%s.cluster.local", name);
	hosts[1] = full;
	llmo_buf_init(&crt, 65536);
	llmo_buf_init(&key, 65536);
	llmo_buf_init(&ca, 65536);
	rc = llmo_pki_issue(s->c->replica_ca_cert, s->c->replica_ca_key, name, hosts,
			    LLMO_REPLICA_TLS_DAYS, &crt, &key, &err);
	if (!rc && llmo_file_read(s->c->replica_ca_cert, 65536, &ca, &err))
		rc = err.code ? err.code : LLMO_EIO;
	if (!rc && (llmo_base64_encode(crt.data, crt.len, &b_crt) ||
		    llmo_base64_encode(key.data, key.len, &b_key) ||
		    llmo_base64_encode(ca.data, ca.len, &b_ca)))
		rc = llmo_error_set(&err, LLMO_ENOMEM, "out of memory");
	if (!rc)
		obj = json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}, s:[{s:s, s:s, s:s, s:s, s:b}]}, "
				"s:s, s:{s:s, s:s, s:s, s:s, s:s}}",
				"apiVersion", "v1", "kind", "Secret", "metadata", "name", secret,
				"namespace", s->ns, "labels", LLMO_LABEL_WORKLOAD, s->name,
				"ownerReferences", "apiVersion", API_VERSION, "kind", "LLMWorkload",
				"name", s->name, "uid", s->uid, "controller", 1, "type",
				"kubernetes.io/tls", "data", "tls.crt", b_crt, "tls.key", b_key,
				"ca.crt", b_ca, "LLMO_TLS_CERT_PEM", b_crt, "LLMO_TLS_KEY_PEM", b_key);
	if (!rc && !obj)
		rc = llmo_error_set(&err, LLMO_ENOMEM, "out of memory");
	if (!rc && old) {
		json_object_set(json_object_get(obj, "metadata"), "resourceVersion",
				json_object_get(meta(old), "resourceVersion"));
		rc = llmo_kube_update(s->c->client, &llmo_kube_secrets, s->ns, obj, NULL, &err);
	} else if (!rc) {
		rc = llmo_kube_create(s->c->client, &llmo_kube_secrets, s->ns, obj, NULL, &err);
	}
	if (rc) {
		s->tls_reason = "CertificateError";
		snprintf(s->tls_msg, sizeof(s->tls_msg), "Secret %s: %s", secret, err.msg);
	} else {
		event(s, "Normal", "CertificateIssued",
		      "Issued a %d-day certificate for %s in Secret %s", LLMO_REPLICA_TLS_DAYS, name,
		      secret);
	}
	json_decref(obj);
	free(b_crt);
	free(b_key);
	free(b_ca);
	llmo_buf_release(&crt);
	llmo_buf_release(&key);
	llmo_buf_release(&ca);
	return rc;
}

/*
 * For an encrypted workload: that its Secret holds a certificate for its
 * server name, signed by the replica CA and valid for a while yet (issued
 * when not); looked at again every LLMO_REPLICA_TLS_CHECK_MS. Without a CA,
 * or when the certificate cannot be made, it runs no replica: nothing may
 * serve it in plain text.
 */
static int ensure_tls(struct wl *s)
{
	char secret[LLMO__CTRL_KEY_MAX], name[LLMO__CTRL_KEY_MAX];
	int64_t *next = llmo_hmap_get(&s->c->tls_checked, s->key), now = llmo_clock_mono_ms();
	json_t *old = NULL, *crt;
	char *pem = NULL;
	bool valid = false;
	int rc;

	if (!(s->tls_on = encrypted(s->w))) {
		void *v = NULL;

		if (llmo_hmap_del(&s->c->tls_checked, s->key, &v) == 0)
			free(v);
		return 0;
	}
	snprintf(secret, sizeof(secret), "%s-tls", s->name);
	tls_server_name(s, name, sizeof(name));
	s->tls_reason = "CertificateIssued";
	snprintf(s->tls_msg, sizeof(s->tls_msg), "replicas serve HTTPS as %s (Secret %s)", name,
		 secret);
	if (!s->c->replica_ca_cert) {
		s->tls_reason = "NoCertificateAuthority";
		snprintf(s->tls_msg, sizeof(s->tls_msg),
			 "spec.security.encryption needs the controller's replica CA "
			 "(--replica-ca-cert and --replica-ca-key); no replica runs without it");
	} else if (next && now < *next) {
		s->tls_ok = true;
		return 0;
	} else {
		rc = llmo_kube_get(s->c->client, &llmo_kube_secrets, s->ns, secret, &old, NULL);
		if (rc && rc != LLMO_ENOTFOUND)
			return rc;
		crt = json_object_get(json_object_get(old, "data"), "tls.crt");
		if (json_is_string(crt) && llmo_base64_decode(json_string_value(crt), &pem) == 0)
			valid = llmo_pki_cert_valid(pem, strlen(pem), s->c->replica_ca_cert, name,
						    LLMO_REPLICA_TLS_RENEW_S);
		free(pem);
		rc = valid ? 0 : tls_issue(s, secret, name, old);
		json_decref(old);
		if (!rc) {
			if (!next && (next = malloc(sizeof(*next))) &&
			    llmo_hmap_put(&s->c->tls_checked, s->key, next, NULL)) {
				free(next);
				next = NULL;
			}
			if (next)
				*next = now + LLMO_REPLICA_TLS_CHECK_MS;
			s->tls_ok = true;
			return 0;
		}
		if (rc == LLMO_ENOMEM)
			return rc;
	}
	/* no replica serves it in plain text */
	s->desired = s->base = 0;
	requeue_within(s, LLMO_REPLICA_TLS_CHECK_MS);
	return 0;
}

static int tls_condition(struct wl *s, json_t *conds)
{
	if (!s->tls_on)
		return 0;
	return llmo__condition_set(conds, s->w, "Encrypted", s->tls_ok, s->tls_reason,
				   s->tls_msg, s->generation);
}

/*
 * The labels of a replica of version but the template hash and the track
 * (new object; NULL when out of memory).
 */
static json_t *replica_labels(const struct wl *s, const char *version)
{
	const char *qos = llmo_kube_str(s->w, "spec", "qosClass");
	json_t *labels = json_object();
	char lv[64];
	int rc = labels ? 0 : LLMO_ENOMEM;

	label_value(s->name, lv);
	rc = rc ? rc : json_object_set_new(labels, LLMO_LABEL_WORKLOAD, json_string(lv));
	label_value(llmo_kube_str(s->w, "spec", "modelName"), lv);
	rc = rc ? rc : json_object_set_new(labels, LLMO_LABEL_MODEL, json_string(lv));
	label_value(version, lv);
	rc = rc ? rc : json_object_set_new(labels, LLMO_LABEL_VERSION, json_string(lv));
	if (qos)
		rc = rc ? rc : json_object_set_new(labels, "llm.orchestrator.io/qos", json_string(qos));
	rc = rc ? rc : llmo__security_pod_labels(json_object_get(s->w, "spec"), labels);
	if (rc) {
		json_decref(labels);
		return NULL;
	}
	return labels;
}

/*
 * spec.placement.spread into the pod spec: an anti-affinity term against the
 * workload's replicas of the same template, by the spread's topologyKey,
 * required or preferred (weight 100). Nothing without a spread.
 */
static int spread_term(const struct wl *s, const json_t *spread, json_t *podspec)
{
	const char *key = json_string_value(json_object_get(spread, "topologyKey"));
	const char *mode = json_string_value(json_object_get(spread, "mode"));
	bool required = mode && strcmp(mode, "required") == 0;
	char wl[64];
	json_t *term, *aff;

	if (!json_is_object(spread))
		return 0;
	label_value(s->name, wl);
	/*
	 * matchLabelKeys: the replicas of this template only (its hash label is
	 * set after the hash, so it cannot be written here), so that a rollout's
	 * new replicas are not kept out by the old ones
	 */
	term = json_pack("{s:{s:{s:s}}, s:[s], s:s}", "labelSelector", "matchLabels",
			 LLMO_LABEL_WORKLOAD, wl, "matchLabelKeys", LLMO_LABEL_TEMPLATE_HASH,
			 "topologyKey", key && *key ? key : "kubernetes.io/hostname");
	if (term && !required)
		term = json_pack("{s:i, s:o}", "weight", 100, "podAffinityTerm", term);
	if (!term)
		return LLMO_ENOMEM;
	aff = json_object_get(podspec, "affinity");
	if (!aff && json_object_set_new(podspec, "affinity", aff = json_object()))
		aff = NULL;
	if (!aff) {
		json_decref(term);
		return LLMO_ENOMEM;
	}
	if (json_object_set_new(aff, "podAntiAffinity",
					json_pack("{s:[o]}",
						  required
							  ? "requiredDuringSchedulingIgnoredDuringExecution"
							  : "preferredDuringSchedulingIgnoredDuringExecution",
						  term)))
		return LLMO_ENOMEM;
	return 0;
}

/* The Kubernetes toleration object of a spec.placement.tolerations entry (same shape). */
static int build_template(struct wl *s, struct track *t)
{
	json_t *mspec = json_object_get(t->model, "spec");
	json_t *rt = json_object_get(mspec, "runtime");
	json_t *wspec = json_object_get(s->w, "spec");
	json_t *placement = json_object_get(wspec, "placement");
	json_t *container = NULL, *env, *e, *req, *lim, *labels, *annotations, *spec, *pod;
	const char *health = json_string_value(json_object_get(rt, "healthPath"));
	json_int_t port = json_integer_value(json_object_get(rt, "port"));
	const char *gpu_type = llmo_kube_str(wspec, "resources", "gpuType");
	int64_t res[R_N];
	char portstr[16], mref[2048];
	size_t i;
	char *text;
	int rc = 0;

	if (port <= 0 || port > 65535)
		port = DEFAULT_PORT;
	s->port = (int)port;
	snprintf(portstr, sizeof(portstr), "%d", s->port);
	resources(s, t->model, res);
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
					     t->version));
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
	{
		/* spec.security.secretRefs: each Secret's keys become the replica's variables */
		const json_t *refs = json_object_get(json_object_get(wspec, "security"), "secretRefs");
		json_t *from = json_array_size(refs) ? json_array() : NULL, *r;

		json_array_foreach(refs, i, r) {
			if (json_is_string(r) && from)
				json_array_append_new(from, json_pack("{s:{s:O}}", "secretRef", "name",
								      r));
		}
		if (from && json_object_set_new(container, "envFrom", from)) {
			json_decref(container);
			return LLMO_ENOMEM;
		}
	}
	/*
	 * Copies: the template is changed further on (an encrypted workload's
	 * --ssl-* arguments), and the runtime's arrays belong to the
	 * configuration, shared by every workload and every reconcile (sharing
	 * them made the arguments grow by two at each pass, a new template
	 * hash each time, and replicas replaced every two seconds).
	 */
	if (json_array_size(json_object_get(rt, "command")))
		json_object_set_new(container, "command",
				    json_deep_copy(json_object_get(rt, "command")));
	if (json_array_size(json_object_get(rt, "args")))
		json_object_set_new(container, "args", json_deep_copy(json_object_get(rt, "args")));

	if (!(labels = replica_labels(s, t->version))) {
		json_decref(container);
		return LLMO_ENOMEM;
	}
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
	mref[0] = '\0';
	if (llmo_kube_str(mspec, "artifact", "reference") &&
	    llmo_kube_str(mspec, "artifact", "digest") &&
	    !llmo_str_has_prefix(llmo_kube_str(mspec, "artifact", "reference"), "file://")) {
		const char *aref = llmo_kube_str(mspec, "artifact", "reference");

		if (strchr(aref, '@'))
			snprintf(mref, sizeof(mref), "%s", aref);
		else
			snprintf(mref, sizeof(mref), "%s@%s", aref,
				 llmo_kube_str(mspec, "artifact", "digest"));
		json_object_set_new(annotations, "llm.orchestrator.io/model-artifact",
				    json_string(mref));
		/* spec.signature: what the fetch must check besides the digest */
		if ((rc = llmo__model_signature_annotations(mspec, annotations))) {
			json_decref(annotations);
			json_decref(labels);
			json_decref(container);
			return rc;
		}
	}

	spec = json_pack("{s:s, s:s, s:i, s:[O], s:{s:{s:s}}}", "schedulerName",
			 s->c->scheduler_name, "restartPolicy", "Always",
			 "terminationGracePeriodSeconds", 30, "containers", container,
			 "securityContext", "seccompProfile", "type", "RuntimeDefault");
	rc = spec ? tls_template(s, mspec, container, spec, annotations) : LLMO_ENOMEM;
	/* on a cluster: wait for the node agent's verified fetch (nothing when not configured) */
	if (!rc && mref[0])
		rc = llmo__fetch_init_add(spec, container, mref, s->c->fetch_image,
					  s->c->node_cache_path);
	json_decref(container);
	if (rc) {
		json_decref(spec);
		json_decref(labels);
		json_decref(annotations);
		return rc;
	}
	/* copies too: the workload in the informer's cache must not change with the template */
	if (spec && json_object_size(json_object_get(placement, "nodeSelector")))
		json_object_set_new(spec, "nodeSelector",
				    json_deep_copy(json_object_get(placement, "nodeSelector")));
	if (spec && json_array_size(json_object_get(placement, "tolerations")))
		json_object_set_new(spec, "tolerations",
				    json_deep_copy(json_object_get(placement, "tolerations")));
	/* nothing is added for basic/public (or unset): such templates keep their hash */
	if (spec && !(rc = spread_term(s, json_object_get(placement, "spread"), spec)))
		rc = llmo__security_node_affinity(wspec, spec);
	if (rc) {
		json_decref(spec);
		json_decref(labels);
		json_decref(annotations);
		return rc;
	}
	pod = json_pack("{s:s, s:s, s:{s:o, s:o}, s:o}", "apiVersion", "v1", "kind", "Pod",
			"metadata", "labels", labels, "annotations", annotations, "spec", spec);
	if (!pod)
		return LLMO_ENOMEM;
	/*
	 * The hash covers everything but itself and the track, so that a
	 * promoted canary replica counts as up to date in the stable track.
	 */
	text = llmo_json_dump(pod, false);
	if (!text) {
		json_decref(pod);
		return LLMO_ENOMEM;
	}
	snprintf(t->hash, sizeof(t->hash), "%010" PRIx64, (uint64_t)(llmo_fnv1a(text) & 0xffffffffffULL));
	free(text);
	/*
	 * Vertical recommendations go in after the hash: replicas created from
	 * now on (a rollout, a scale-up, a replacement) get them, and no replica
	 * is replaced just because the recommendation moved.
	 */
	{
		int64_t rcpu, rmem;

		llmo__vertical_requests(s->w, &rcpu, &rmem);
		if (rcpu > 0)
			rc = put_quantity(req, "cpu", rcpu, LLMO_QFORMAT_DECIMAL_SI);
		if (!rc && rmem > 0)
			rc = put_quantity(req, "memory", rmem, LLMO_QFORMAT_BINARY_SI);
		if (!rc && rmem > res[R_MEMORY])
			rc = put_quantity(lim, "memory", rmem, LLMO_QFORMAT_BINARY_SI);
		if (rc) {
			json_decref(pod);
			return rc;
		}
	}
	json_object_set_new(labels, LLMO_LABEL_TEMPLATE_HASH, json_string(t->hash));
	json_object_set_new(labels, LLMO_LABEL_TRACK, json_string(t->name));
	t->tmpl = pod;
	return 0;
}

/*
 * The replacement of a migration: marked with the replica it replaces, and
 * kept off that replica's node by a required node affinity, added to what
 * the template requires (spec.security's node labels).
 */
static int mark_migration(json_t *pod, const json_t *src)
{
	const char *node = llmo_kube_str(src, "spec", "nodeName"), *to;
	char since[32];
	int rc;

	snprintf(since, sizeof(since), "%" PRId64, llmo_clock_wall_ms());
	rc = llmo__node_affinity_require(json_object_get(pod, "spec"), "matchFields",
					 json_pack("{s:s, s:s, s:[s]}", "key", "metadata.name",
						   "operator", "NotIn", "values", node));
	if (rc)
		return rc;
	/* the rebalancer's choice of node, preferred (the scheduler still decides) */
	if ((to = llmo_kube_annotation(src, LLMO_ANNOTATION_MIGRATE_TO)) && *to && strcmp(to, node) != 0) {
		json_t *aff = json_object_get(json_object_get(pod, "spec"), "affinity"), *na;

		if (!aff && json_object_set_new(json_object_get(pod, "spec"), "affinity",
						aff = json_object()))
			return LLMO_ENOMEM;
		if (!(na = json_object_get(aff, "nodeAffinity")) &&
		    json_object_set_new(aff, "nodeAffinity", na = json_object()))
			return LLMO_ENOMEM;
		if (llmo__append_to(na, "preferredDuringSchedulingIgnoredDuringExecution",
			      json_pack("{s:i, s:{s:[{s:s, s:s, s:[s]}]}}", "weight", 100,
					"preference", "matchFields", "key", "metadata.name",
					"operator", "In", "values", to)))
			return LLMO_ENOMEM;
	}
	if (json_object_set_new(json_object_get(meta(pod), "annotations"),
				LLMO_ANNOTATION_MIGRATION_OF,
				json_string(llmo_kube_str(src, "metadata", "name"))) ||
	    json_object_set_new(json_object_get(meta(pod), "annotations"),
				LLMO_ANNOTATION_MIGRATION_SINCE, json_string(since)))
		return LLMO_ENOMEM;
	return 0;
}

/* A replica of track t; with src (a replica on a node), its migration's replacement. */
static int create_pod(struct wl *s, const struct track *t, const json_t *src)
{
	struct llmo_error err = {0};
	json_t *pod = json_deep_copy(t->tmpl), *m, *owner;
	char prefix[NAME_PREFIX_MAX + 1], suffix[SUFFIX_LEN + 1], pname[LLMO__CTRL_KEY_MAX];
	int rc;

	if (!pod)
		return LLMO_ENOMEM;
	if (src && (rc = mark_migration(pod, src))) {
		json_decref(pod);
		return rc;
	}
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
	expect_add(s, pname, LLMO__EXPECT_CREATE, NULL);
	llmo_log(LLMO_LOG_INFO, LLMO__CTRL_LOG, "replica created", "workload=%s pod=%s hash=%s",
		 s->key, pname, t->hash);
	event(s, "Normal", "CreatedReplica", "Created replica %s (%s:%s, track %s)", pname,
	      llmo_kube_str(s->w, "spec", "modelName"), t->version, t->name);
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
	s->base = s->desired;
}

/*
 * One replica's rate in requests/s from the model's benchmark on register:
 * at the highest concurrency measured, the slowest GPU type's (a replica
 * may land on any of them). 0 when there is none.
 */
static double bench_rps(const json_t *model)
{
	const json_t *list = json_object_get(json_object_get(model, "status"), "benchmarks"), *e;
	json_int_t top = 0;
	double rps = 0;
	size_t i;

	json_array_foreach(list, i, e)
		if (json_integer_value(json_object_get(e, "concurrency")) > top &&
		    json_is_number(json_object_get(e, "requestsPerSecond")))
			top = json_integer_value(json_object_get(e, "concurrency"));
	json_array_foreach(list, i, e) {
		const json_t *r = json_object_get(e, "requestsPerSecond");

		if (json_integer_value(json_object_get(e, "concurrency")) == top && json_is_number(r) &&
		    json_number_value(r) > 0 && (rps == 0 || json_number_value(r) < rps))
			rps = json_number_value(r);
	}
	return rps;
}

/*
 * spec.performance.minThroughput (requests/s over all replicas): never
 * fewer replicas than serve it at one replica's rate, which is the
 * requests_per_second target of spec.scaling.targetMetrics (what the user
 * says one replica takes) or else the model's benchmark. Raises the lower
 * bound the autoscaler works within, never above maxReplicas.
 */
static void min_throughput(struct wl *s)
{
	const json_t *v = json_object_get(
		json_object_get(json_object_get(s->w, "spec"), "performance"), "minThroughput");

	if (!json_is_number(v) || json_number_value(v) <= 0)
		return;
	s->tput.want = json_number_value(v);
	if ((s->tput.per = llmo__scale_target_of(s->w, "requests_per_second")) > 0)
		s->tput.source = "the requests_per_second target";
	else if (s->model && (s->tput.per = bench_rps(s->model)) > 0)
		s->tput.source = "the model's benchmark";
	else
		return;
	s->tput.floor = (int64_t)ceil(s->tput.want / s->tput.per - 1e-9);
	if (s->tput.floor > s->max) {
		s->tput.limited = true;
		s->tput.floor = s->max;
	}
	if (s->tput.floor > s->min)
		s->min = s->tput.floor;
	if (s->desired < s->min)
		s->desired = s->base = s->min;
}

/* The condition MinThroughput, for a workload with spec.performance.minThroughput. */
static int throughput_condition(struct wl *s, json_t *conds, int64_t ready)
{
	char msg[MSG_MAX];
	bool ok = s->tput.per > 0 && (double)ready * s->tput.per >= s->tput.want - 1e-9;
	const char *reason = ok			? "CapacityMet"
			     : s->tput.per <= 0 ? "RateUnknown"
			     : s->tput.limited	? "LimitedByMaxReplicas"
						: "BelowMinThroughput";

	if (s->tput.want <= 0)
		return 0;
	if (s->tput.per <= 0)
		snprintf(msg, sizeof(msg),
			 "minThroughput %.4g requests/s: no replica rate known (set a "
			 "requests_per_second target or benchmark the model on register)",
			 s->tput.want);
	else
		snprintf(msg, sizeof(msg),
			 "%" PRId64 " ready replicas x %.4g requests/s (%s) = %.4g requests/s, "
			 "minThroughput %.4g%s",
			 ready, s->tput.per, s->tput.source, (double)ready * s->tput.per, s->tput.want,
			 s->tput.limited ? "; maxReplicas holds the count below the "
					   "replicas it needs"
					 : "");
	return llmo__condition_set(conds, s->w, "MinThroughput", ok, reason, msg, s->generation);
}

/* The autoscaler's count, when spec.scaling.targetMetrics drive it. */
static int autoscale(struct wl *s)
{
	const json_t *tm = json_object_get(
		json_object_get(json_object_get(s->w, "spec"), "scaling"), "targetMetrics");
	const json_t *ready[64];
	struct llmo__scale_in in = {.key = s->key, .w = s->w, .generation = s->generation,
				    .has_targets = json_array_size(tm) > 0 &&
						   !llmo__vertical_only(s->w),
				    .min = (int32_t)s->min,
				    .max = s->max > INT32_MAX ? INT32_MAX : (int32_t)s->max};
	size_t nready = 0;
	int rc;

	for (size_t i = 0; i < s->pods.len; i++) {
		json_t *p = s->pods.items[i];

		if (pod_terminating(p) || llmo__pod_finished(p) || pod_surge(s, p))
			continue;
		in.current++;
		if (llmo_kube_condition_true(p, "Ready")) {
			in.ready++;
			if (nready < LLMO_ARRAY_LEN(ready))
				ready[nready++] = p;
		}
	}
	in.cold_start_ms = llmo__scale_cold_start_ms(ready, nready);
	in.ready_pods = ready;
	in.nready_pods = nready;
	in.model = s->model;
	if ((rc = llmo__scale_decide(s->c, &in, &s->scale)))
		return rc;
	if (!llmo__vertical_on(s->w))
		llmo__vertical_forget(s->c, s->key);
	else if ((rc = llmo__vertical_update(s->c, s->key, ready, nready, llmo_clock_wall_ms(),
					     llmo_clock_mono_ms(), &s->rec)))
		return rc;
	else if (!s->requeue_ms || s->requeue_ms > s->c->vertical_sample_ms)
		s->requeue_ms = s->c->vertical_sample_ms; /* sample without a gateway too */
	if (!s->scale.active)
		return 0;
	s->desired = s->base = s->scale.desired;
	if (s->scale.changed && s->scale.desired > s->scale.from)
		s->c->counters.scaled_up++;
	else if (s->scale.changed)
		s->c->counters.scaled_down++;
	if (s->scale.changed)
		event(s, "Normal", s->scale.desired > s->scale.from ? "ScaledUp" : "ScaledDown",
		      "Scaled from %d to %d replicas (%s): %s", s->scale.from, s->scale.desired,
		      s->scale.policy, s->scale.reason);
	return 0;
}

/*
 * Asks nodes to fetch the model ahead of the replicas the autoscaler wants
 * (prefetch.h), or withdraws the request. A failure is logged and tried
 * again at the next reconcile: it must not hold the replicas back. With
 * resourceManager.modelPrefetch off nothing is wanted, so requests an
 * earlier configuration left are withdrawn.
 */
static void prefetch(struct wl *s)
{
	struct llmo__prefetch_in in = {.key = s->key, .w = s->w,
				       .pods = (const json_t *const *)s->pods.items,
				       .npods = s->pods.len};

	if (s->model && s->scale.active && s->ntracks &&
	    s->c->config->resource_manager.model_prefetch) {
		in.tmpl = s->tracks[0].tmpl;
		in.want = s->scale.want;
	}
	llmo__prefetch_sync(s->c, &in);
}

/* ---- rollouts ---- */

/* Whether the gateway's metrics tell when a replica has no request left. */
static bool can_drain(const struct wl *s)
{
	return s->c->signals.url != NULL;
}

/* Canary requests needed before the analysis may promote or roll back. */
#define CANARY_MIN_REQUESTS 20

/* The usable LLMModel of spec.modelName at version, or NULL. */
static json_t *model_of_version(struct wl *s, const char *version)
{
	struct find_model f = {llmo_kube_str(s->w, "spec", "modelName"), version, NULL, 0};
	const char *phase;

	if (!f.name || !version || !*version)
		return NULL;
	llmo_informer_list(s->c->models, s->ns, match_model, &f);
	if (!f.found)
		return NULL;
	phase = llmo_kube_str(f.found, "status", "phase");
	if ((phase && strcmp(phase, "Failed") == 0) ||
	    !llmo_kube_str(json_object_get(f.found, "spec"), "runtime", "image"))
		return NULL;
	return f.found;
}

struct canary_params {
	int split;	      /* percent */
	int64_t duration_ms;
	double threshold;     /* success rate, 0..1 */
	int64_t p95_ms;	      /* 0: not checked */
	int64_t p99_ms;	      /* 0: not checked */
	const char *p99_from; /* the field p99_ms comes from */
	double max_error;     /* < 0: not checked */
	double availability;  /* percent of requests answered without error; < 0: not checked */
};

static void canary_params(const struct wl *s, struct canary_params *cp)
{
	const json_t *spec = json_object_get(s->w, "spec");
	const json_t *cn = json_object_get(json_object_get(spec, "deploymentStrategy"), "canary");
	const json_t *sla =
		json_object_get(json_object_get(spec, "performance"), "slaRequirements");
	const struct llmo_canary_defaults *d = &s->c->config->deployment_strategies.canary;
	const json_t *v;
	int64_t ns = d->duration;

	cp->split = json_is_integer(v = json_object_get(cn, "trafficSplit"))
			    ? (int)json_integer_value(v)
			    : d->traffic_split;
	if (cp->split < 1)
		cp->split = 1;
	if (cp->split > 99)
		cp->split = 99;
	if ((v = json_object_get(cn, "duration")) && llmo_duration_from_json(v, &ns, NULL))
		ns = d->duration;
	cp->duration_ms = llmo_duration_to_ms(ns);
	cp->threshold = json_is_number(v = json_object_get(cn, "successThreshold"))
				? json_number_value(v)
				: d->success_threshold;
	cp->p95_ms = json_is_integer(v = json_object_get(sla, "responseTimeP95"))
			     ? json_integer_value(v)
			     : 0;
	cp->p99_ms = json_is_integer(v = json_object_get(sla, "responseTimeP99"))
			     ? json_integer_value(v)
			     : 0;
	cp->p99_from = "slaRequirements.responseTimeP99";
	/* without it, the highest acceptable latency bounds the p99 (the tail a client sees) */
	ns = 0;
	if (!cp->p99_ms && (v = json_object_get(json_object_get(spec, "performance"), "maxLatency")) &&
	    llmo_duration_from_json(v, &ns, NULL) == 0 && ns > 0) {
		cp->p99_ms = llmo_duration_to_ms(ns);
		cp->p99_from = "performance.maxLatency";
	}
	cp->max_error = json_is_number(v = json_object_get(sla, "errorRate")) ? json_number_value(v)
									       : -1;
	cp->availability = json_is_number(v = json_object_get(sla, "availability"))
				   ? json_number_value(v)
				   : -1;
}

static void ro_load(struct wl *s)
{
	const json_t *ro = json_object_get(json_object_get(s->w, "status"), "rollout");
	const char *v;

	s->ro.phase = json_string_value(json_object_get(ro, "phase"));
	snprintf(s->ro.stable, sizeof(s->ro.stable), "%s",
		 (v = json_string_value(json_object_get(ro, "stableVersion"))) ? v : "");
	snprintf(s->ro.canary, sizeof(s->ro.canary), "%s",
		 (v = json_string_value(json_object_get(ro, "canaryVersion"))) ? v : "");
	snprintf(s->ro.start, sizeof(s->ro.start), "%s",
		 (v = json_string_value(json_object_get(ro, "startTime"))) ? v : "");
	snprintf(s->ro.message, sizeof(s->ro.message), "%s",
		 (v = json_string_value(json_object_get(ro, "message"))) ? v : "");
	s->ro.weight = (int)json_integer_value(json_object_get(ro, "canaryWeight"));
	json_decref(s->ro.analysis);
	s->ro.analysis = json_deep_copy(json_object_get(ro, "analysis"));
}

static void ro_start_now(struct wl *s)
{
	if (llmo_time_format_rfc3339(llmo_clock_wall_ms(), false, s->ro.start, sizeof(s->ro.start)))
		s->ro.start[0] = '\0';
}

static bool ro_phase_is(const struct wl *s, const char *phase)
{
	return s->ro.phase && strcmp(s->ro.phase, phase) == 0;
}

static void forget_analysis(struct wl *s)
{
	void *old = NULL;

	if (llmo_hmap_del(&s->c->rollouts, s->key, &old) == 0)
		free(old);
}

/*
 * An A/B test: one track per variant ("a", "b", ...), each of its version,
 * with replicas in proportion to its weight (at least one when the weight is
 * positive) and that weight as its share of the traffic. A variant whose
 * model cannot run is left out (Event VariantUnavailable).
 */
static void plan_ab(struct wl *s, const json_t *variants)
{
	static const char *const names[TRACKS_MAX] = {"a", "b", "c", "d", "e", "f", "g", "h"};
	json_t *v;
	size_t i;
	int64_t sum = 0;
	char desc[MSG_MAX];
	size_t dl = 0;

	json_array_foreach(variants, i, v)
		sum += json_integer_value(json_object_get(v, "weight"));
	s->ntracks = 0;
	desc[0] = '\0';
	json_array_foreach(variants, i, v) {
		const char *ver = json_string_value(json_object_get(v, "modelVersion"));
		int64_t w = json_integer_value(json_object_get(v, "weight"));
		json_t *model = model_of_version(s, ver);
		struct track *t;
		int64_t n;

		if (i >= TRACKS_MAX)
			break;
		if (!model) {
			event(s, "Warning", "VariantUnavailable",
			      "A/B variant %s: no runnable LLMModel %s:%s", names[i],
			      llmo_kube_str(s->w, "spec", "modelName"), ver ? ver : "");
			continue;
		}
		n = sum > 0 ? (s->base * w + sum / 2) / sum : 0;
		if (w > 0 && n < 1)
			n = 1;
		t = &s->tracks[s->ntracks++];
		*t = (struct track){.name = names[i], .version = ver, .model = model, .desired = n,
				    .weight = sum > 0 ? (int)((100 * w + sum / 2) / sum) : 0};
		if (dl < sizeof(desc))
			dl += (size_t)snprintf(desc + dl, sizeof(desc) - dl, "%s%s=%s (%d%%)",
					       dl ? ", " : "", t->name, ver, t->weight);
	}
	if (!s->ntracks) { /* nothing runnable: serve spec.modelVersion */
		s->ntracks = 1;
		return;
	}
	s->ro.phase = "Progressing";
	s->ro.weight = 0;
	snprintf(s->ro.message, sizeof(s->ro.message), "A/B test: %s", desc);
}

/*
 * Blue-green: the new version comes up in full as track "preview" with no
 * traffic next to "stable"; once all of it is Ready the traffic switches at
 * once (autoPromote, or the workload annotation llm.orchestrator.io/promote
 * naming the version) and the old version stays, without traffic, for
 * scaleDownDelay as track "previous" (plan_previous).
 */
static void plan_blue_green(struct wl *s, json_t *stable_model)
{
	const char *want = llmo_kube_str(s->w, "spec", "modelVersion");

	if (strcmp(s->ro.canary, want) != 0 ||
	    !(ro_phase_is(s, "Progressing") || ro_phase_is(s, "Paused"))) {
		snprintf(s->ro.canary, sizeof(s->ro.canary), "%s", want);
		s->ro.phase = "Progressing";
		ro_start_now(s);
		snprintf(s->ro.message, sizeof(s->ro.message), "blue-green: starting %s next to %s",
			 want, s->ro.stable);
		event(s, "Normal", "RolloutStarted", "Blue-green from %s to %s", s->ro.stable, want);
	}
	s->tracks[0] = (struct track){.name = "stable", .version = s->ro.stable,
				      .model = stable_model, .desired = s->base, .weight = 100};
	s->tracks[1] = (struct track){.name = "preview", .version = s->ro.canary, .model = s->model,
				      .desired = s->base, .weight = 0};
	s->ntracks = 2;
	s->ro.weight = 0;
}

/* While a blue-green switch is recent: the old version, kept without traffic. */
static bool plan_previous(struct wl *s)
{
	struct llmo__rollout_mem *m = llmo_hmap_get(&s->c->rollouts, s->key);
	json_t *model;

	if (!m || !m->previous[0] || llmo_clock_mono_ms() >= m->base_ms) {
		s->ro.phase = "Succeeded";
		return false;
	}
	if (!(model = model_of_version(s, m->previous)))
		return false;
	s->tracks[0].weight = 100;
	s->tracks[1] = (struct track){.name = "previous", .version = m->previous, .model = model,
				      .desired = s->base, .weight = 0};
	s->ntracks = 2;
	if (!s->requeue_ms || m->base_ms - llmo_clock_mono_ms() < s->requeue_ms)
		s->requeue_ms = m->base_ms - llmo_clock_mono_ms() + 1;
	return true;
}

/*
 * The tracks this reconcile keeps, from the spec and status.rollout: one
 * "stable" track of spec.modelVersion, or, while a canary of a new version
 * runs, "stable" (the version served before, s->desired replicas) and
 * "canary" (the new one, trafficSplit % of them, at least one).
 */
static void plan_tracks(struct wl *s)
{
	const json_t *ds = json_object_get(json_object_get(s->w, "spec"), "deploymentStrategy");
	const char *type = json_string_value(json_object_get(ds, "type"));
	const char *want = llmo_kube_str(s->w, "spec", "modelVersion");
	struct canary_params cp;
	json_t *stable_model;
	int64_t n;

	s->ntracks = 1;
	s->tracks[0] = (struct track){.name = "stable", .version = want, .model = s->model,
				      .desired = s->base};
	if (type && strcmp(type, "abTest") == 0 &&
	    json_array_size(json_object_get(json_object_get(ds, "abTest"), "variants")) > 0) {
		plan_ab(s, json_object_get(json_object_get(ds, "abTest"), "variants"));
		return;
	}
	if (ro_phase_is(s, "Promoting") && strcmp(s->ro.stable, want) == 0 &&
	    plan_previous(s))
		return;
	if (!s->ro.stable[0]) { /* the first version this workload serves */
		snprintf(s->ro.stable, sizeof(s->ro.stable), "%s", want);
		s->ro.phase = "Idle";
		return;
	}
	if (strcmp(s->ro.stable, want) == 0) {
		if (!s->ro.phase || ro_phase_is(s, "Analyzing"))
			s->ro.phase = "Idle";
		s->ro.weight = 0;
		return;
	}
	stable_model = model_of_version(s, s->ro.stable);
	if (type && strcmp(type, "blueGreen") == 0 && stable_model) {
		plan_blue_green(s, stable_model);
		return;
	}
	if (!type || strcmp(type, "canary") != 0 || !stable_model) {
		/* a rolling replacement (also when the old version's model is gone) */
		event(s, "Normal", "RolloutStarted", "Rolling update from %s to %s", s->ro.stable,
		      want);
		snprintf(s->ro.message, sizeof(s->ro.message), "rolling update from %s to %s%s",
			 s->ro.stable, want,
			 type && strcmp(type, "canary") == 0 ? " (the old version's model is gone)"
							     : "");
		snprintf(s->ro.stable, sizeof(s->ro.stable), "%s", want);
		s->ro.canary[0] = '\0';
		s->ro.phase = "Progressing";
		s->ro.weight = 0;
		ro_start_now(s);
		return;
	}
	if (ro_phase_is(s, "RolledBack") && strcmp(s->ro.canary, want) == 0) {
		/* stay on the stable version until the spec names another */
		s->tracks[0].version = s->ro.stable;
		s->tracks[0].model = stable_model;
		s->ro.weight = 0;
		return;
	}
	canary_params(s, &cp);
	if (strcmp(s->ro.canary, want) != 0 ||
	    !(ro_phase_is(s, "Progressing") || ro_phase_is(s, "Analyzing"))) {
		snprintf(s->ro.canary, sizeof(s->ro.canary), "%s", want);
		s->ro.phase = "Progressing";
		ro_start_now(s);
		json_decref(s->ro.analysis);
		s->ro.analysis = NULL;
		forget_analysis(s);
		snprintf(s->ro.message, sizeof(s->ro.message), "canary of %s started", want);
		event(s, "Normal", "CanaryStarted",
		      "Canary of %s next to %s: %d%% of the traffic, analysed for %" PRId64 " s",
		      want, s->ro.stable, cp.split, cp.duration_ms / 1000);
	}
	n = (s->base * cp.split + 99) / 100;
	s->tracks[0] = (struct track){.name = "stable", .version = s->ro.stable,
				      .model = stable_model, .desired = s->base,
				      .weight = 100 - cp.split};
	s->tracks[1] = (struct track){.name = "canary", .version = s->ro.canary, .model = s->model,
				      .desired = n > 0 ? n : s->base > 0, .weight = cp.split};
	s->ntracks = 2;
	s->ro.weight = cp.split;
}

static json_t *analysis_json(double n, double e, double p95_ms, double p99_ms)
{
	char at[40];
	json_t *a;

	if (llmo_time_format_rfc3339(llmo_clock_wall_ms(), false, at, sizeof(at)))
		at[0] = '\0';
	a = json_pack("{s:f, s:f, s:s}", "successRate", n > 0 ? (n - e) / n : 0.0, "errorRate",
		      n > 0 ? e / n : 0.0, "checkedAt", at);
	if (a && !isnan(p95_ms))
		json_object_set_new(a, "p95LatencyMs", json_real(p95_ms));
	if (a && !isnan(p99_ms))
		json_object_set_new(a, "p99LatencyMs", json_real(p99_ms));
	return a;
}

/* An A/B test is Succeeded once every variant has its replicas Ready. */
static void ab_progress(struct wl *s)
{
	for (size_t k = 0; k < s->ntracks; k++)
		if (s->tracks[k].ready < s->tracks[k].desired)
			return;
	s->ro.phase = "Succeeded";
}

/*
 * Blue-green: switches the traffic once the preview is Ready in full and
 * promotion is allowed. Returns true when it switched.
 */
static bool blue_green_switch(struct wl *s)
{
	const json_t *spec = json_object_get(s->w, "spec");
	const json_t *bg = json_object_get(json_object_get(spec, "deploymentStrategy"), "blueGreen");
	const struct llmo_blue_green_defaults *d = &s->c->config->deployment_strategies.blue_green;
	const char *promote = json_string_value(
		json_object_get(json_object_get(meta(s->w), "annotations"), LLMO_ANNOTATION_PROMOTE));
	struct track *pv = &s->tracks[1];
	struct llmo__rollout_mem *m;
	int64_t delay = d->scale_down_delay;
	const json_t *v;
	bool autop = json_is_boolean(v = json_object_get(bg, "autoPromote")) ? json_is_true(v)
									    : d->auto_promote;

	if (pv->ready < pv->desired) {
		s->ro.phase = "Progressing";
		snprintf(s->ro.message, sizeof(s->ro.message),
			 "blue-green: %d/%" PRId64 " replicas of %s ready", pv->ready, pv->desired,
			 pv->version);
		return false;
	}
	if (!autop && !(promote && strcmp(promote, pv->version) == 0)) {
		s->ro.phase = "Paused";
		snprintf(s->ro.message, sizeof(s->ro.message),
			 "blue-green: %s is ready; annotate the workload %s=%s to switch the traffic",
			 pv->version, LLMO_ANNOTATION_PROMOTE, pv->version);
		return false;
	}
	if ((v = json_object_get(bg, "scaleDownDelay")) && llmo_duration_from_json(v, &delay, NULL))
		delay = d->scale_down_delay;
	forget_analysis(s);
	if ((m = calloc(1, sizeof(*m))) && llmo_hmap_put(&s->c->rollouts, s->key, m, NULL) == 0) {
		snprintf(m->previous, sizeof(m->previous), "%s", s->ro.stable);
		m->base_ms = llmo_clock_mono_ms() + llmo_duration_to_ms(delay);
	} else {
		free(m);
	}
	event(s, "Normal", "Promoted",
	      "Blue-green: traffic switched from %s to %s; %s keeps running for %" PRId64 " s",
	      s->ro.stable, pv->version, s->ro.stable, llmo_duration_to_ms(delay) / 1000);
	snprintf(s->ro.message, sizeof(s->ro.message),
		 "switched from %s to %s; the old version goes after %" PRId64 " s", s->ro.stable,
		 pv->version, llmo_duration_to_ms(delay) / 1000);
	snprintf(s->ro.stable, sizeof(s->ro.stable), "%s", pv->version);
	s->ro.phase = "Promoting";
	return true;
}

/*
 * The canary analysis, once every canary replica is Ready: over the
 * duration, from the gateway's counters of the canary track since the
 * analysis began. Returns true when it promoted or rolled back (the tracks
 * must be planned again).
 */
static bool analyse(struct wl *s)
{
	const struct llmo__signals *sig = &s->c->signals;
	const struct llmo__track_sample *cur;
	struct llmo__track_sample zero = {0}, d;
	struct llmo__rollout_mem *m;
	struct canary_params cp;
	struct track *cn;
	int64_t now = llmo_clock_mono_ms(), left;
	double n, e, sr, p95, p99;
	char why[MSG_MAX];

	if (strcmp(s->tracks[0].name, "a") == 0) {
		ab_progress(s);
		return false;
	}
	if (s->ntracks < 2)
		return false;
	if (strcmp(s->tracks[1].name, "preview") == 0)
		return blue_green_switch(s);
	if (strcmp(s->tracks[1].name, "canary") != 0)
		return false;
	cn = &s->tracks[1];
	canary_params(s, &cp);
	if (cn->ready < cn->desired) {
		s->ro.phase = "Progressing";
		snprintf(s->ro.message, sizeof(s->ro.message),
			 "waiting for the canary: %d/%" PRId64 " replicas of %s ready", cn->ready,
			 cn->desired, cn->version);
		return false;
	}
	s->ro.phase = "Analyzing";
	if (!can_drain(s)) {
		snprintf(s->ro.message, sizeof(s->ro.message),
			 "no gateway metrics to analyse the canary with (the controller's "
			 "--gateway-metrics); promote by setting deploymentStrategy.type to rolling");
		return false;
	}
	cur = llmo__sample_track(llmo__signals_get(sig, s->key, false), "canary");
	m = llmo_hmap_get(&s->c->rollouts, s->key);
	if (!m || strcmp(m->version, cn->version) != 0) {
		forget_analysis(s);
		if (!(m = calloc(1, sizeof(*m))) || llmo_hmap_put(&s->c->rollouts, s->key, m, NULL)) {
			free(m);
			return false;
		}
		snprintf(m->version, sizeof(m->version), "%s", cn->version);
		m->base = cur ? *cur : zero;
		m->base_ms = now;
	}
	llmo__track_delta(cur ? cur : &zero, &m->base, &d);
	/* attempts when the gateway counts them: its retries hide failures from clients only */
	if (d.attempts_ok + d.attempts_failed > 0) {
		n = d.attempts_ok + d.attempts_failed;
		e = d.attempts_failed;
	} else {
		n = d.requests;
		e = d.errors > n ? n : d.errors;
	}
	sr = n > 0 ? (n - e) / n : 0;
	p95 = llmo__track_quantile(&d, 0.95) * 1000;
	p99 = llmo__track_quantile(&d, 0.99) * 1000;
	json_decref(s->ro.analysis);
	s->ro.analysis = analysis_json(n, e, p95, p99);
	left = m->base_ms + cp.duration_ms - now;
	if (left > 0) {
		snprintf(s->ro.message, sizeof(s->ro.message),
			 "analysing %s: %.0f requests, success rate %.3f, %" PRId64 " s left",
			 cn->version, n, sr, (left + 999) / 1000);
		if (!s->requeue_ms || left < s->requeue_ms)
			s->requeue_ms = left;
		return false;
	}
	if (n < CANARY_MIN_REQUESTS) {
		snprintf(s->ro.message, sizeof(s->ro.message),
			 "waiting for canary traffic: %.0f of %d requests needed to decide", n,
			 CANARY_MIN_REQUESTS);
		return false;
	}
	why[0] = '\0';
	if (sr < cp.threshold)
		snprintf(why, sizeof(why), "success rate %.3f < %.3f", sr, cp.threshold);
	else if (cp.max_error >= 0 && e / n > cp.max_error)
		snprintf(why, sizeof(why), "error rate %.3f > %.3f (slaRequirements.errorRate)",
			 e / n, cp.max_error);
	else if (cp.availability >= 0 && 100 * sr < cp.availability)
		snprintf(why, sizeof(why),
			 "availability %.2f%% < %.2f%% (slaRequirements.availability)", 100 * sr,
			 cp.availability);
	else if (cp.p95_ms > 0 && !isnan(p95) && p95 > (double)cp.p95_ms)
		snprintf(why, sizeof(why),
			 "p95 latency %.0f ms > %" PRId64 " ms (slaRequirements.responseTimeP95)",
			 p95, cp.p95_ms);
	else if (cp.p99_ms > 0 && !isnan(p99) && p99 > (double)cp.p99_ms)
		snprintf(why, sizeof(why), "p99 latency %.0f ms > %" PRId64 " ms (%s)", p99,
			 cp.p99_ms, cp.p99_from);
	forget_analysis(s);
	if (why[0]) {
		s->ro.phase = "RolledBack";
		s->ro.weight = 0;
		snprintf(s->ro.message, sizeof(s->ro.message), "rolled back %s over %.0f requests: %s",
			 cn->version, n, why);
		s->c->counters.rolled_back++;
		event(s, "Warning", "RolledBack", "Canary %s rolled back over %.0f requests: %s",
		      cn->version, n, why);
	} else {
		s->ro.phase = "Succeeded";
		s->ro.weight = 0;
		snprintf(s->ro.stable, sizeof(s->ro.stable), "%s", cn->version);
		snprintf(s->ro.message, sizeof(s->ro.message),
			 "promoted %s over %.0f requests: success rate %.3f", s->ro.stable, n, sr);
		s->c->counters.promoted++;
		event(s, "Normal", "Promoted", "Canary %s promoted over %.0f requests: success rate %.3f",
		      s->ro.stable, n, sr);
	}
	return true;
}

static json_t *rollout_json(const struct wl *s)
{
	json_t *ro = json_pack("{s:s, s:s, s:i}", "phase", s->ro.phase ? s->ro.phase : "Idle",
			       "stableVersion", s->ro.stable, "canaryWeight", s->ro.weight);

	if (!ro)
		return NULL;
	if (s->ro.canary[0])
		json_object_set_new(ro, "canaryVersion", json_string(s->ro.canary));
	if (s->ro.start[0])
		json_object_set_new(ro, "startTime", json_string(s->ro.start));
	if (s->ro.message[0])
		json_object_set_new(ro, "message", json_string(s->ro.message));
	if (s->ro.analysis)
		json_object_set(ro, "analysis", s->ro.analysis);
	return ro;
}

static json_t *tracks_json(const struct wl *s)
{
	json_t *arr = json_array();

	for (size_t k = 0; k < s->ntracks && arr; k++) {
		const struct track *t = &s->tracks[k];

		json_array_append_new(arr, json_pack("{s:s, s:s, s:i, s:i, s:i}", "name", t->name,
						     "modelVersion", t->version ? t->version : "",
						     "replicas", t->replicas, "readyReplicas",
						     t->ready, "weight", t->weight));
	}
	return arr;
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

/* The index of the track whose template pod was made from, or -1 (an old pod). */
static int pod_track(const struct wl *s, const json_t *pod)
{
	const char *hash = pod_label(pod, LLMO_LABEL_TEMPLATE_HASH);

	for (size_t k = 0; hash && k < s->ntracks; k++)
		if (s->tracks[k].tmpl && strcmp(hash, s->tracks[k].hash) == 0)
			return (int)k;
	return -1;
}

/* Counts pod when the scheduler marked it Unschedulable, keeping its message. */
static void pod_unschedulable(struct wl *s, const json_t *pod)
{
	const json_t *c = llmo_kube_condition(pod, "PodScheduled");
	const char *msg = json_string_value(json_object_get(c, "message"));

	if (!c || llmo_kube_str(pod, "spec", "nodeName") ||
	    !str_is(json_string_value(json_object_get(c, "status")), "False") ||
	    !str_is(json_string_value(json_object_get(c, "reason")), "Unschedulable"))
		return;
	if (!s->unschedulable++ && msg)
		snprintf(s->unsched_msg, sizeof(s->unsched_msg), "%s", msg);
}

static void classify(struct wl *s)
{
	for (size_t k = 0; k < s->ntracks; k++)
		s->tracks[k].replicas = s->tracks[k].ready = 0;
	s->active = s->ready = s->updated = s->updated_ready = s->old_active = s->old_ready = 0;
	s->terminating = s->unhealthy = s->starting = s->draining = s->surge = 0;
	s->unschedulable = 0;
	s->unsched_msg[0] = '\0';
	for (size_t i = 0; i < s->pods.len; i++) {
		json_t *p = s->pods.items[i];
		bool ready;
		int k;

		if (pod_surge(s, p)) {
			s->surge++;
			continue;
		}
		if (pod_terminating(p)) {
			s->terminating++;
			s->draining += pod_draining(p) && !json_object_get(meta(p), "deletionTimestamp");
			continue;
		}
		if (llmo__pod_finished(p))
			continue;
		ready = llmo_kube_condition_true(p, "Ready");
		k = s->ntracks ? pod_track(s, p) : 0;
		s->active++;
		s->ready += ready;
		if (k >= 0) {
			s->updated++;
			s->updated_ready += ready;
			if (s->ntracks) {
				s->tracks[k].replicas++;
				s->tracks[k].ready += ready;
			}
		} else {
			s->old_active++;
			s->old_ready += ready;
		}
		if (!ready) {
			if (pod_restarts(p, s->crash_msg, sizeof(s->crash_msg)) > 0)
				s->unhealthy++;
			else
				s->starting++;
			pod_unschedulable(s, p);
		}
	}
}

static int replace_failed(struct wl *s)
{
	int rc = 0;

	for (size_t i = 0; i < s->pods.len; i++) {
		json_t *p = s->pods.items[i];

		if (pod_terminating(p) || !llmo__pod_finished(p) || pod_surge(s, p))
			continue;
		record_failure(s, p);
		s->failed_now++;
		rc = delete_pod(s, p, false, "failed");
		if (rc)
			return rc;
	}
	return 0;
}

/* A replica that may be removed, with the requests the gateway has in flight on it. */
struct victim {
	json_t *pod;
	int inflight; /* 0 when the gateway does not know the pod */
};

static int cmp_victim(const void *a, const void *b)
{
	const struct victim *va = a, *vb = b;
	const json_t *x = va->pod, *y = vb->pod;
	const char *tx = llmo_kube_str(x, "metadata", "creationTimestamp");
	const char *ty = llmo_kube_str(y, "metadata", "creationTimestamp");
	int rx = llmo_kube_condition_true(x, "Ready"), ry = llmo_kube_condition_true(y, "Ready");

	/* not ready first, then the least loaded, then the newest, then by name */
	if (rx != ry)
		return rx - ry;
	if (va->inflight != vb->inflight)
		return va->inflight < vb->inflight ? -1 : 1;
	if (tx && ty && strcmp(tx, ty) != 0)
		return strcmp(ty, tx);
	return strcmp(llmo_kube_str(x, "metadata", "name"), llmo_kube_str(y, "metadata", "name"));
}

/*
 * Merges ann (taken; a null value removes that key) into the pod's
 * annotations. LLMO_ENOTFOUND when the pod is gone.
 */
static int patch_annotations(struct wl *s, const json_t *pod, json_t *ann)
{
	struct llmo_error err = {0};
	const char *pname = llmo_kube_str(pod, "metadata", "name");
	json_t *patch = ann ? json_pack("{s:{s:O}}", "metadata", "annotations", ann) : NULL;
	int rc;

	if (!patch) {
		json_decref(ann);
		return LLMO_ENOMEM;
	}
	rc = llmo_kube_patch(s->c->client, &llmo_kube_pods, s->ns, pname, NULL,
			     LLMO_KUBE_PATCH_MERGE, patch, NULL, &err);
	json_decref(patch);
	if (!rc)
		expect_add(s, pname, LLMO__EXPECT_ANNOTATIONS, ann);
	json_decref(ann);
	if (rc && rc != LLMO_ENOTFOUND)
		llmo_log(LLMO_LOG_WARN, LLMO__CTRL_LOG, "replica annotate failed",
			 "workload=%s pod=%s error=\"%s\"", s->key, pname, err.msg);
	return rc;
}

/* Sets (value) or removes (NULL) one annotation of a pod. A pod gone is fine. */
static int annotate_pod(struct wl *s, const json_t *pod, const char *key, const char *value)
{
	int rc = patch_annotations(s, pod,
				   json_pack("{s:o}", key, value ? json_string(value) : json_null()));

	return rc == LLMO_ENOTFOUND ? 0 : rc;
}

/*
 * Takes a replica out of service: a Ready one is first marked draining
 * (the gateway sends it nothing new) and deleted by finish_drains once the
 * gateway reports nothing in flight on it; others are deleted at once.
 */
static int retire_pod(struct wl *s, json_t *pod, const char *why)
{
	const char *pname = llmo_kube_str(pod, "metadata", "name");
	char since[32];
	int rc;

	if (!can_drain(s) || !llmo_kube_condition_true(pod, "Ready")) {
		rc = delete_pod(s, pod, true, why);
		if (!rc)
			event(s, "Normal", "DeletedReplica", "Deleted replica %s: %s", pname, why);
		return rc;
	}
	snprintf(since, sizeof(since), "%" PRId64, llmo_clock_wall_ms());
	rc = patch_annotations(s, pod,
			       json_pack("{s:s, s:s, s:s}", LLMO_ANNOTATION_DRAINING, "true",
					 LLMO_ANNOTATION_DRAINING_SINCE, since,
					 LLMO_ANNOTATION_DRAINING_REASON, why));
	if (rc == LLMO_ENOTFOUND)
		return 0;
	if (rc)
		return rc;
	s->draining++;
	event(s, "Normal", "DrainingReplica",
	      "Draining replica %s (%s): no new requests; deleted when none is in flight", pname,
	      why);
	return 0;
}

/*
 * Deletes the draining replicas that are done: the gateway reported no
 * request in flight on them in a scrape taken at least one scrape interval
 * after the mark (so the gateway had seen it), or the pod's grace period
 * passed since the mark.
 */
static int finish_drains(struct wl *s)
{
	const struct llmo__signals *sig = &s->c->signals;
	int64_t now = llmo_clock_wall_ms(), wait_ms = 0;
	int rc = 0;

	for (size_t i = 0; i < s->pods.len && !rc; i++) {
		json_t *p = s->pods.items[i];
		const char *pname = llmo_kube_str(p, "metadata", "name");
		const char *since_s = json_string_value(json_object_get(
			json_object_get(meta(p), "annotations"), LLMO_ANNOTATION_DRAINING_SINCE));
		json_int_t grace = json_integer_value(
			json_object_get(json_object_get(p, "spec"), "terminationGracePeriodSeconds"));
		int64_t since = 0, left;
		int inflight;
		struct llmo_error ignored = {0};

		if (!pod_draining(p) || json_object_get(meta(p), "deletionTimestamp"))
			continue;
		if (!since_s || llmo_parse_int64(since_s, &since, &ignored))
			since = 0;
		if (grace <= 0)
			grace = 30;
		inflight = llmo__signals_pod_inflight(sig, s->ns, pname);
		if (since && sig->cur_wall_ms >= since + sig->interval_ms + sig->lag_ms &&
		    inflight <= 0 &&
		    !sig->error[0]) {
			rc = delete_pod(s, p, true, "drained");
			if (!rc)
				event(s, "Normal", "DeletedReplica",
				      "Deleted replica %s: drained, no request in flight", pname);
			continue;
		}
		left = since + grace * 1000 - now;
		if (left <= 0) {
			rc = delete_pod(s, p, true, "drain timed out");
			if (!rc)
				event(s, "Warning", "DrainTimeout",
				      "Deleted replica %s with %d requests still in flight after %" PRId64
				      " s of draining",
				      pname, inflight > 0 ? inflight : 0, (int64_t)grace);
			continue;
		}
		if (!wait_ms || left < wait_ms)
			wait_ms = left;
	}
	if (wait_ms > 0) {
		int64_t next = sig->interval_ms > 0 && sig->interval_ms < wait_ms ? sig->interval_ms
										  : wait_ms;

		if (!s->requeue_ms || next < s->requeue_ms)
			s->requeue_ms = next;
	}
	return rc;
}

/*
 * Retires up to n pods of the kind selected (of track k when updated,
 * old pods otherwise; ready ones only when ready_ok), not-ready and
 * newest first.
 */
static int remove_pods(struct wl *s, int k, int n, bool updated, bool ready_ok, const char *why)
{
	LLMO_VEC(struct victim) c = LLMO_VEC_INIT;
	int rc = 0;

	for (size_t i = 0; i < s->pods.len && n > 0; i++) {
		json_t *p = s->pods.items[i];
		struct victim *slot;
		int pk = pod_track(s, p), inflight;

		if (pod_terminating(p) || llmo__pod_finished(p) || pod_surge(s, p) ||
		    (updated ? pk != k : pk >= 0) ||
		    (!ready_ok && llmo_kube_condition_true(p, "Ready")))
			continue;
		slot = llmo_vec_push(&c);
		if (!slot) {
			rc = LLMO_ENOMEM;
			goto out;
		}
		inflight = llmo__signals_pod_inflight(&s->c->signals, s->ns,
						      llmo_kube_str(p, "metadata", "name"));
		*slot = (struct victim){p, inflight > 0 ? inflight : 0};
	}
	if (c.len > 1)
		qsort(c.items, c.len, sizeof(c.items[0]), cmp_victim);
	for (size_t i = 0; i < c.len && n > 0 && !rc; i++, n--)
		rc = retire_pod(s, c.items[i].pod, why);
out:
	llmo_vec_release(&c);
	return rc;
}

/* ---- migration (docs/controller.md, "Migration") ---- */

/* Whether the replica asks to be moved: its migrate annotation, other than "false". */
static bool pod_wants_move(const json_t *pod)
{
	const char *v = llmo_kube_annotation(pod, LLMO_ANNOTATION_MIGRATE);

	return v && v[0] && strcmp(v, "false") != 0;
}

/* A migration is over without a move: the replacement (NULL: none) goes, the request is cleared. */
static int migration_abandon(struct wl *s, const json_t *src, const json_t *repl, const char *why)
{
	int rc = repl ? delete_pod(s, repl, false, "migration abandoned") : 0;

	if (!rc && pod_wants_move(src))
		rc = patch_annotations(s, src,
				       json_pack("{s:n, s:n}", LLMO_ANNOTATION_MIGRATE,
						 LLMO_ANNOTATION_MIGRATE_TO));
	if (rc == LLMO_ENOTFOUND)
		rc = 0;
	if (rc)
		return rc;
	s->c->counters.migrate_failed++;
	event(s, "Warning", "MigrationFailed", "Migration of replica %s off node %s abandoned: %s",
	      llmo_kube_str(src, "metadata", "name"),
	      llmo_kube_str(src, "spec", "nodeName") ? llmo_kube_str(src, "spec", "nodeName")
						    : "(none)",
	      why);
	return 0;
}

/* Shortens the requeue so that the reconcile looks again within ms. */
static void requeue_within(struct wl *s, int64_t ms)
{
	if (ms < 1)
		ms = 1;
	if (!s->requeue_ms || ms < s->requeue_ms)
		s->requeue_ms = ms;
}

/*
 * Follows a migration in flight: once its replacement is Ready the replica
 * drains (retire_pod) and the replacement becomes an ordinary replica; a
 * replacement that ended, stays unschedulable or is not Ready in time, or a
 * request withdrawn, abandons it.
 */
static int migration_follow(struct wl *s, json_t *src, json_t *repl)
{
	const char *since_s = llmo_kube_annotation(repl, LLMO_ANNOTATION_MIGRATION_SINCE);
	const char *created = llmo_kube_str(repl, "metadata", "creationTimestamp");
	const json_t *sched = llmo_kube_condition(repl, "PodScheduled");
	const char *sreason = json_string_value(json_object_get(sched, "reason"));
	const char *from = llmo_kube_str(src, "spec", "nodeName");
	int64_t since = 0, age;
	struct llmo_error ignored = {0};
	char why[MSG_MAX];
	int rc;

	/* without it (edited by hand), from the replacement's creation */
	if ((!since_s || llmo_parse_int64(since_s, &since, &ignored)) &&
	    (!created || llmo_time_parse_rfc3339(created, &since, NULL)))
		since = llmo_clock_wall_ms();
	age = llmo_clock_wall_ms() - since;
	if (!pod_wants_move(src))
		return migration_abandon(s, src, repl, "the migrate annotation was removed");
	if (llmo__pod_finished(repl)) {
		char f[MSG_MAX / 2];

		pod_failure(repl, f, sizeof(f));
		snprintf(why, sizeof(why), "replacement %s ended (%s)",
			 llmo_kube_str(repl, "metadata", "name"), f);
		return migration_abandon(s, src, repl, why);
	}
	if (llmo_kube_condition_true(repl, "Ready")) {
		char reason[MSG_MAX];

		snprintf(reason, sizeof(reason), "migrated to %s on %s",
			 llmo_kube_str(repl, "metadata", "name"),
			 llmo_kube_str(repl, "spec", "nodeName") ? llmo_kube_str(repl, "spec", "nodeName")
								  : "another node");
		if ((rc = retire_pod(s, src, reason)))
			return rc;
		s->c->counters.migrated++;
		event(s, "Normal", "Migrated",
		      "Replica %s moved off node %s: replacement %s is Ready on %s; %s leaves "
		      "through the drain",
		      llmo_kube_str(src, "metadata", "name"), from ? from : "(none)",
		      llmo_kube_str(repl, "metadata", "name"),
		      llmo_kube_str(repl, "spec", "nodeName") ? llmo_kube_str(repl, "spec", "nodeName")
							       : "another node",
		      llmo_kube_str(src, "metadata", "name"));
		/* an ordinary replica from now on (it already is: its replica is out of service) */
		return annotate_pod(s, repl, LLMO_ANNOTATION_MIGRATION_OF, NULL);
	}
	if (sreason && strcmp(sreason, "Unschedulable") == 0 &&
	    !llmo_kube_condition_true(repl, "PodScheduled")) {
		if (age >= s->c->migrate_unschedulable_ms) {
			const char *msg = json_string_value(json_object_get(sched, "message"));

			snprintf(why, sizeof(why), "replacement %s could not be scheduled for %" PRId64
				 " s: %s",
				 llmo_kube_str(repl, "metadata", "name"), age / 1000,
				 msg ? msg : "Unschedulable");
			return migration_abandon(s, src, repl, why);
		}
		requeue_within(s, s->c->migrate_unschedulable_ms - age);
	}
	if (age >= s->c->migrate_timeout_ms) {
		snprintf(why, sizeof(why), "replacement %s not Ready within %ld s",
			 llmo_kube_str(repl, "metadata", "name"), s->c->migrate_timeout_ms / 1000);
		return migration_abandon(s, src, repl, why);
	}
	requeue_within(s, s->c->migrate_timeout_ms - age);
	return 0;
}

/* Whether a rollout is replacing replicas now: no migration starts then. */
static bool rollout_busy(const struct wl *s)
{
	return s->old_active > 0 || ro_phase_is(s, "Progressing") ||
	       ro_phase_is(s, "Analyzing") || ro_phase_is(s, "Promoting") ||
	       ro_phase_is(s, "Paused");
}

/*
 * Moves a replica that asks for it (the migrate annotation), one at a time
 * per workload, make-before-break: a replacement of the same track that
 * may not go to the replica's node, then, once it is Ready, the replica
 * drains (migration_follow).
 */
static int migrate(struct wl *s)
{
	json_t *src = NULL;
	const char *node;
	int k, rc;

	for (size_t i = 0; i < s->pods.len; i++) {
		json_t *p = s->pods.items[i];
		const char *of = llmo_kube_annotation(p, LLMO_ANNOTATION_MIGRATION_OF);

		if (!pod_surge(s, p))
			continue;
		for (size_t j = 0; j < s->pods.len; j++)
			if (strcmp(llmo_kube_str(s->pods.items[j], "metadata", "name"), of) == 0)
				return migration_follow(s, s->pods.items[j], p);
	}
	for (size_t i = 0; i < s->pods.len && !src; i++) {
		json_t *p = s->pods.items[i];

		if (pod_wants_move(p) && !pod_terminating(p) && !llmo__pod_finished(p))
			src = p;
	}
	if (!src)
		return 0;
	k = pod_track(s, src);
	if (k < 0 || rollout_busy(s))
		return 0; /* the rollout replaces it anyway, or moves it after */
	node = llmo_kube_str(src, "spec", "nodeName");
	if (!node)
		return migration_abandon(s, src, NULL, "the replica is not on a node");
	if ((rc = create_pod(s, &s->tracks[k], src)))
		return rc;
	event(s, "Normal", "Migrating", "Migrating replica %s off node %s (%s): a replacement first",
	      llmo_kube_str(src, "metadata", "name"), node,
	      llmo_kube_annotation(src, LLMO_ANNOTATION_MIGRATE));
	s->surge++;
	requeue_within(s, s->c->migrate_unschedulable_ms);
	return 0;
}

/* One IntOrString of spec.deploymentStrategy.rolling, else the configuration's. */
static int64_t rolling_value(const struct wl *s, const char *key,
			     const struct llmo_intorstr *def, int64_t total, bool round_up)
{
	const json_t *v = json_object_get(
		json_object_get(json_object_get(json_object_get(s->w, "spec"), "deploymentStrategy"),
				"rolling"),
		key);
	struct llmo_intorstr is = {0};
	int64_t out = 0;

	if (json_is_integer(v))
		is = (struct llmo_intorstr){.set = true, .i = json_integer_value(v)};
	else if (json_is_string(v))
		is = (struct llmo_intorstr){.set = true, .is_str = true,
					    .s = (char *)json_string_value(v)};
	else if (def)
		is = *def;
	if (!is.set || llmo_intorstr_scaled(&is, total, round_up, &out) || out < 0)
		return 0;
	return out;
}

/*
 * The rolling update's bounds (Kubernetes Deployment semantics): at most
 * desired + surge replicas at once (maxSurge, rounded up), at least desired -
 * unavailable of them ready (maxUnavailable, rounded down); both 0 counts as
 * a surge of 1.
 */
static void rolling_bounds(const struct wl *s, int64_t desired, int64_t *surge, int64_t *unavail)
{
	const struct llmo_rolling_defaults *d = &s->c->config->deployment_strategies.rolling;

	*surge = rolling_value(s, "maxSurge", &d->max_surge, desired, true);
	*unavail = rolling_value(s, "maxUnavailable", &d->max_unavailable, desired, false);
	if (*unavail > desired)
		*unavail = desired;
	if (*surge == 0 && *unavail == 0)
		*surge = 1;
}

/*
 * Converges track k on its template and desired count: a rolling
 * replacement of old pods (in the first track only, within maxSurge and
 * maxUnavailable), scale-out, and scale-in.
 */
static int manage_track(struct wl *s, int k)
{
	struct track *t = &s->tracks[k];
	struct llmo__heal *h = llmo_hmap_get(&s->c->heal, s->key);
	int64_t now = llmo_clock_mono_ms();
	int64_t old_active = k == 0 ? s->old_active : 0, old_ready = k == 0 ? s->old_ready : 0;
	int64_t active = t->replicas + old_active;
	int64_t create = t->desired - t->replicas;
	int64_t surge = 0, unavail = 0;
	int rc = 0;

	if (old_active > 0) {
		rolling_bounds(s, t->desired, &surge, &unavail);
		if (create > t->desired + surge - active)
			create = t->desired + surge - active;
	}
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
		rc = create_pod(s, t, NULL);
		if (!rc) {
			t->replicas++;
			s->active++;
			s->updated++;
			s->starting++;
		}
	}
	if (rc)
		return rc;
	if (t->replicas > t->desired) {
		rc = remove_pods(s, k, (int)(t->replicas - t->desired), true, true, "scaled in");
		if (rc)
			return rc;
	}
	if (old_active > 0) {
		int64_t excess = t->ready + old_ready - (t->desired - unavail);
		/*
		 * a Deployment's cleanup of unhealthy old replicas: at the surge
		 * bound, old ones that are not ready (say, Pending) would block
		 * the rollout for good; up to total - minimum - new not ready go,
		 * that is old + new ready - minimum
		 */
		int64_t cleanup = old_active + t->ready - (t->desired - unavail);

		/* old replicas that serve nothing go once their replacements exist */
		if (t->replicas >= t->desired)
			rc = remove_pods(s, k, (int)old_active, false, false,
					 "replaced by the new template");
		else if (cleanup > 0 && old_active > old_ready)
			rc = remove_pods(s, k, (int)LLMO_MIN(cleanup, old_active - old_ready), false,
					 false, "replaced by the new template");
		if (!rc && excess > 0)
			rc = remove_pods(s, k, (int)(excess < old_ready ? excess : old_ready), false,
					 true, "replaced by the new template");
	}
	return rc;
}

/*
 * A replica whose template belongs to another track than its label says (a
 * promoted canary, whose template is now the stable one) gets the label of
 * its track, so that splits and metrics see it where it serves.
 */
static int relabel(struct wl *s)
{
	for (size_t i = 0; i < s->pods.len; i++) {
		json_t *p = s->pods.items[i], *patch;
		struct llmo_error err = {0};
		const char *have = pod_label(p, LLMO_LABEL_TRACK);
		int k = pod_track(s, p), rc;

		if (k < 0 || pod_terminating(p) || llmo__pod_finished(p) ||
		    (have && strcmp(have, s->tracks[k].name) == 0))
			continue;
		patch = json_pack("{s:{s:{s:s}}}", "metadata", "labels", LLMO_LABEL_TRACK,
				  s->tracks[k].name);
		if (!patch)
			return LLMO_ENOMEM;
		rc = llmo_kube_patch(s->c->client, &llmo_kube_pods, s->ns,
				     llmo_kube_str(p, "metadata", "name"), NULL, LLMO_KUBE_PATCH_MERGE,
				     patch, NULL, &err);
		json_decref(patch);
		if (rc && rc != LLMO_ENOTFOUND) {
			llmo_log(LLMO_LOG_WARN, LLMO__CTRL_LOG, "replica relabel failed",
				 "workload=%s pod=%s error=\"%s\"", s->key,
				 llmo_kube_str(p, "metadata", "name"), err.msg);
			return rc;
		}
	}
	return 0;
}

static int manage_pods(struct wl *s)
{
	int rc = finish_drains(s);

	if (!rc)
		rc = relabel(s);
	if (!rc)
		rc = migrate(s);
	for (size_t k = 0; k < s->ntracks && !rc; k++)
		rc = manage_track(s, (int)k);
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
	if (s->old_active > 0 || s->ntracks > 1)
		return "Updating";
	if (s->starting || s->active != s->desired || s->terminating || s->ready < s->desired ||
	    s->fed.remote_ready < s->fed.remote_wanted)
		return served ? "Scaling" : "Deploying";
	return "Running";
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

		if (pod_terminating(p) || !llmo_kube_condition_true(p, "Ready") || llmo__pod_endpoint(p, s->port, ep, sizeof(ep)))
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

static int put_num(json_t *obj, const char *key, double v)
{
	if (isnan(v) || isinf(v))
		return 0;
	return json_object_set_new(obj, key, json_real(round(v * 1000) / 1000)) ? LLMO_ENOMEM : 0;
}

/* Same keys, numbers within 2% or 0.01 of each other, other values equal; skip ignored. */
static bool figures_close(const json_t *a, const json_t *b, const char *skip)
{
	const char *k;
	json_t *v;

	if (!json_is_object(a) || !json_is_object(b) || json_object_size(a) != json_object_size(b))
		return false;
	json_object_foreach((json_t *)a, k, v) {
		const json_t *w = json_object_get(b, k);
		double x, y;

		if (skip && strcmp(k, skip) == 0)
			continue;
		if (!w)
			return false;
		if (json_is_number(v) && json_is_number(w)) {
			x = json_number_value(v);
			y = json_number_value(w);
			if (fabs(x - y) > 0.01 && fabs(x - y) > 0.02 * fmax(fabs(x), fabs(y)))
				return false;
		} else if (!llmo_json_equal_value(v, w)) {
			return false;
		}
	}
	return true;
}

/* lastScaleTime/Reason, currentMetrics and performanceMetrics: new ones, or the old ones kept. */
static int scale_status(const struct wl *s, json_t *st)
{
	const json_t *old = json_object_get(s->w, "status");
	const struct llmo__measure *m = &s->scale.m;
	const char *keep[] = {"lastScaleTime", "lastScaleReason", "currentMetrics",
			      "performanceMetrics"};
	json_t *cur, *perf, *tm;
	char at[40];
	size_t i;
	int rc = 0;

	for (i = 0; i < LLMO_ARRAY_LEN(keep); i++)
		if (json_object_get(old, keep[i]))
			json_object_set(st, keep[i], json_object_get(old, keep[i]));
	if (llmo_time_format_rfc3339(llmo_clock_wall_ms(), false, at, sizeof(at)))
		at[0] = '\0';
	if (s->scale.changed) {
		json_object_set_new(st, "lastScaleTime", json_string(at));
		json_object_set_new(st, "lastScaleReason", json_string(s->scale.reason));
	}
	if (!s->scale.measured)
		return 0;
	cur = json_object();
	tm = json_object_get(json_object_get(json_object_get(s->w, "spec"), "scaling"),
			     "targetMetrics");
	for (i = 0; cur && i < json_array_size(tm) && !rc; i++) {
		const char *type = json_string_value(json_object_get(json_array_get(tm, i), "type"));

		if (!type)
			continue;
		if (strcmp(type, "requests_per_second") == 0)
			rc = put_num(cur, type, m->rps);
		else if (strcmp(type, "tokens_per_second") == 0)
			rc = put_num(cur, type, m->tps);
		else if (strcmp(type, "queue_length") == 0)
			rc = put_num(cur, type, m->queue);
		else if (strcmp(type, "latency") == 0)
			rc = put_num(cur, type, m->p95_ms);
		else if (strcmp(type, "kv_cache_usage") == 0)
			rc = put_num(cur, type, m->kv_pct);
		else if (strcmp(type, "cpu") == 0)
			rc = put_num(cur, type, m->cpu_pct);
		else if (strcmp(type, "memory") == 0)
			rc = put_num(cur, type, m->mem_pct);
		else if (strcmp(type, "gpu_utilization") == 0)
			rc = put_num(cur, type, m->gpu_pct);
	}
	if (cur && !rc && s->scale.active && s->scale.forecast >= 0)
		rc = put_num(cur, "forecast_requests_per_second", s->scale.forecast);
	perf = json_pack("{s:i, s:s}", "queueLength", (int)m->queue, "lastUpdated", at);
	if (!cur || !perf || rc || put_num(perf, "requestsPerSecond", m->rps) ||
	    put_num(perf, "tokensPerSecond", m->tps) || put_num(perf, "p50LatencyMs", m->p50_ms) ||
	    put_num(perf, "p95LatencyMs", m->p95_ms) || put_num(perf, "p99LatencyMs", m->p99_ms) ||
	    put_num(perf, "errorRate", m->error_rate)) {
		json_decref(cur);
		json_decref(perf);
		return LLMO_ENOMEM;
	}
	/*
	 * Figures within 2% (or 0.01) of the stored ones keep the stored ones,
	 * lastUpdated included, for up to STATUS_METRICS_REFRESH_MS: an idle or
	 * steady workload's status is not rewritten at every scrape.
	 */
	{
		const json_t *oldp = json_object_get(old, "performanceMetrics");
		const json_t *oldc = json_object_get(old, "currentMetrics");
		const char *was = json_string_value(json_object_get(oldp, "lastUpdated"));
		int64_t was_ms;

		if (was && !llmo_time_parse_rfc3339(was, &was_ms, NULL) &&
		    llmo_clock_wall_ms() - was_ms < STATUS_METRICS_REFRESH_MS &&
		    figures_close(perf, oldp, "lastUpdated") && figures_close(cur, oldc, NULL)) {
			json_decref(perf);
			json_decref(cur);
			perf = json_deep_copy(oldp);
			cur = json_deep_copy(oldc);
			if (!perf || !cur) {
				json_decref(perf);
				json_decref(cur);
				return LLMO_ENOMEM;
			}
		}
	}
	json_object_set_new(st, "currentMetrics", cur);
	json_object_set_new(st, "performanceMetrics", perf);
	return 0;
}

/*
 * The Ready message while replicas wait for a node: how many, the
 * scheduler's reason, and what spec.security requires of a node (the
 * scheduler's message cannot say which of its affinity terms failed).
 */
static void unschedulable_message(const struct wl *s, char *msg, size_t n)
{
	char needs[MSG_MAX / 2];

	llmo__security_node_needs(json_object_get(s->w, "spec"), needs, sizeof(needs));
	snprintf(msg, n, "%d/%" PRId64 " replicas ready, %d unschedulable: %s%s%s%s", s->ready,
		 s->desired, s->unschedulable, s->unsched_msg[0] ? s->unsched_msg : "no node fits",
		 needs[0] ? " (spec.security requires node labels " : "", needs,
		 needs[0] ? ")" : "");
}

/*
 * NetworkPoliciesApplied (for a workload naming NetworkPolicies): checked
 * against the labels of every track's template, or, with no template yet
 * (the model is not resolved), those a replica of spec.modelVersion would get.
 */
static int netpol_condition(struct wl *s, json_t *conds)
{
	const json_t *labels[TRACKS_MAX];
	json_t *own = NULL;
	size_t n = 0;
	int rc;

	if (!json_array_size(json_object_get(
		    json_object_get(json_object_get(s->w, "spec"), "security"), "networkPolicies")))
		return 0;
	for (size_t k = 0; k < s->ntracks; k++)
		if (s->tracks[k].tmpl)
			labels[n++] = json_object_get(meta(s->tracks[k].tmpl), "labels");
	if (!n) {
		if (!(own = replica_labels(s, llmo_kube_str(s->w, "spec", "modelVersion"))))
			return LLMO_ENOMEM;
		labels[n++] = own;
	}
	rc = llmo__security_netpol_condition(s->c->netpols, s->w, labels, n, conds, s->generation);
	json_decref(own);
	return rc;
}

static json_t *build_status(struct wl *s)
{
	json_t *conds = json_array(), *st;
	char msg[MSG_MAX], lv[64];
	/* with member clusters: the replicas of every cluster */
	int64_t all_desired = s->desired + s->fed.remote_wanted;
	int64_t all_ready = s->ready + s->fed.remote_ready;
	/* an encrypted workload without its certificate runs nothing: not "scaled to zero" */
	bool no_tls = s->tls_on && !s->tls_ok;
	bool ready = s->model && !no_tls && all_ready >= all_desired &&
		     (all_desired == 0 || all_ready > 0);
	bool converged = s->model && ready && s->active == s->desired && s->old_active == 0 &&
			 s->terminating == 0;
	const char *progress_reason;
	int rc = 0;

	if (!conds)
		return NULL;
	if (ro_phase_is(s, "Progressing") && s->ntracks == 1 && converged) {
		s->ro.phase = "Succeeded";
		snprintf(s->ro.message, sizeof(s->ro.message), "%s rolled out", s->ro.stable);
	}
	/* Ready */
	if (!s->model)
		snprintf(msg, sizeof(msg), "%s", s->model_msg);
	else if (no_tls)
		snprintf(msg, sizeof(msg), "%s", s->tls_msg);
	else if (s->fed.remote_wanted)
		snprintf(msg, sizeof(msg),
			 "%" PRId64 "/%" PRId64 " replicas ready (%" PRId64 "/%" PRId64
			 " in other clusters)",
			 all_ready, all_desired, s->fed.remote_ready, s->fed.remote_wanted);
	else if (s->unschedulable && !ready)
		unschedulable_message(s, msg, sizeof(msg));
	else
		snprintf(msg, sizeof(msg), "%d/%" PRId64 " replicas ready", s->ready, s->desired);
	rc = llmo__condition_set(conds, s->w, "Ready", ready,
				 !s->model		       ? "ModelNotResolved"
				 : no_tls		       ? "EncryptionNotReady"
				 : all_desired == 0	       ? "ScaledToZero"
				 : ready		       ? "ReplicasReady"
				 : s->unschedulable	       ? "ReplicasUnschedulable"
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
		if (s->unschedulable)
			snprintf(msg + strlen(msg), sizeof(msg) - strlen(msg),
				 " (%d unschedulable)", s->unschedulable);
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
	if (!rc)
		rc = placement_condition(s, conds);
	if (!rc)
		rc = throughput_condition(s, conds, all_ready);
	if (!rc)
		rc = tls_condition(s, conds);
	if (!rc)
		rc = netpol_condition(s, conds);
	if (!rc && (s->scale.active || s->scale.reason[0])) {
		const char *why = !s->scale.active     ? "AutoscalingOff"
				  : s->scale.limited ? "Limited"
						     : "WithinLimits";
		const char *text = s->scale.reason;
		const json_t *c, *oc = NULL;
		size_t i;

		/* the message changes with the count, not with every figure behind it */
		json_array_foreach(json_object_get(json_object_get(s->w, "status"), "conditions"), i,
				   c)
			if (str_is(json_string_value(json_object_get(c, "type")), "ScalingLimited"))
				oc = c;
		if (oc && !s->scale.changed &&
		    str_is(json_string_value(json_object_get(oc, "reason")), why) &&
		    str_is(json_string_value(json_object_get(oc, "status")),
				s->scale.limited ? "True" : "False") &&
		    json_string_value(json_object_get(oc, "message")))
			text = json_string_value(json_object_get(oc, "message"));
		rc = llmo__condition_set(conds, s->w, "ScalingLimited", s->scale.limited, why, text,
					 s->generation);
	}
	if (rc) {
		json_decref(conds);
		return NULL;
	}
	label_value(s->name, lv);
	snprintf(msg, sizeof(msg), "%s=%s", LLMO_LABEL_WORKLOAD, lv);
	st = json_pack("{s:s, s:I, s:o, s:i, s:I, s:i, s:i, s:i, s:s, s:o, s:o, s:o}", "phase",
		       phase_of(s), "observedGeneration", s->generation, "conditions", conds,
		       "replicas", (int)(s->active + s->fed.remote_wanted), "desiredReplicas",
		       (json_int_t)all_desired, "currentReplicas",
		       (int)(s->active + s->fed.remote_wanted), "readyReplicas", (int)all_ready,
		       "updatedReplicas", (int)(s->updated + s->fed.remote_ready), "selector", msg,
		       "endpoints", endpoints(s), "tracks", tracks_json(s), "rollout",
		       rollout_json(s));
	if (st && (s->fed.placement || json_object_get(json_object_get(s->w, "status"), "placement")) &&
	    json_object_set_new(st, "placement",
				s->fed.placement ? json_incref(s->fed.placement) : json_null())) {
		json_decref(st);
		return NULL;
	}
	if (st && scale_status(s, st)) {
		json_decref(st);
		return NULL;
	}
	if (st && llmo__vertical_on(s->w)) {
		json_t *rec = llmo__vertical_status(
			json_object_get(json_object_get(s->w, "status"), "recommendation"), &s->rec,
			llmo_clock_wall_ms());

		if (!rec || json_object_set_new(st, "recommendation", rec)) {
			json_decref(st);
			return NULL;
		}
	}
	return st;
}

/*
 * Turns the new value of a status field into its merge patch against the
 * old one: a key the old object had and the new one lacks becomes null (a
 * merge patch only deletes what it names), recursively.
 */
static int null_removed(json_t *patch, const json_t *old)
{
	const char *k;
	json_t *v;

	if (!json_is_object(patch) || !json_is_object(old))
		return 0;
	json_object_foreach((json_t *)old, k, v) {
		json_t *nv = json_object_get(patch, k);

		if (!nv) {
			if (json_object_set_new(patch, k, json_null()))
				return LLMO_ENOMEM;
		} else if (null_removed(nv, v)) {
			return LLMO_ENOMEM;
		}
	}
	return 0;
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
	json_object_foreach(st, k, v) {
		if (null_removed(v, json_object_get(old, k))) {
			json_decref(st);
			return LLMO_ENOMEM;
		}
	}
	/*
	 * Conditional on the resourceVersion this reconcile read: a reconcile
	 * that ran on a cached object older than our last write (the informer
	 * had not delivered it yet) must not put an older rollout back.
	 */
	patch = json_pack("{s:o, s:{s:O}}", "status", st, "metadata", "resourceVersion",
			  json_object_get(meta(s->w), "resourceVersion"));
	if (!patch)
		return LLMO_ENOMEM;
	rc = llmo_kube_patch(s->c->client, &llmo_kube_llmworkloads, s->ns, s->name, "status",
			     LLMO_KUBE_PATCH_MERGE, patch, NULL, &err);
	json_decref(patch);
	if (rc == LLMO_ENOTFOUND)
		return 0;
	if (rc == LLMO_ECONFLICT) { /* the newer object is on its way: look again then */
		requeue_within(s, STATUS_CONFLICT_RETRY_MS);
		return 0;
	}
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

	llmo__vertical_forget(s->c, s->key);
	if (!has_finalizer(s->w))
		return 0;
	llmo__prefetch_clear(s->c, s->key);
	if ((rc = federate(s, true)))
		return rc;
	if (s->fed.copies_left) { /* member clusters first */
		s->requeue_ms = FINALIZE_POLL_MS;
		return 0;
	}
	for (size_t i = 0; i < s->pods.len && !rc; i++) {
		if (!pod_terminating(s->pods.items[i])) {
			rc = delete_pod(s, s->pods.items[i], !llmo__pod_finished(s->pods.items[i]),
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

static void free_templates(struct wl *s)
{
	for (size_t k = 0; k < s->ntracks; k++) {
		json_decref(s->tracks[k].tmpl);
		s->tracks[k].tmpl = NULL;
	}
	s->ntracks = 0;
}

/* The tracks, their templates, and the pods classified against them. */
static int plan(struct wl *s)
{
	int rc = 0;

	plan_tracks(s);
	s->desired = 0;
	for (size_t k = 0; k < s->ntracks && !rc; k++) {
		rc = build_template(s, &s->tracks[k]);
		s->desired += s->tracks[k].desired;
	}
	classify(s);
	return rc;
}

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
	s.name = llmo_kube_key_split(key, ns, sizeof(ns));
	s.ns = ns;
	if (!s.name)
		return 0;
	s.w = llmo_informer_get(c->workloads, ns, s.name);
	if (!s.w) {
		if (llmo_hmap_del(&c->heal, key, &old) == 0)
			free(old);
		if (llmo_hmap_del(&c->expect, key, &old) == 0)
			llmo__expect_free(old);
		llmo__prefetch_forget(c, key);
		return 0;
	}
	s.uid = llmo_kube_str(s.w, "metadata", "uid");
	s.generation = json_integer_value(json_object_get(meta(s.w), "generation"));
	if (!s.uid)
		return 0;
	rc = llmo_informer_by_index(c->pods, LLMO_INFORMER_INDEX_OWNER, s.uid, collect_pod, &s);
	if (rc)
		goto out;
	if (expect_pending(&s)) { /* the cache is behind our own writes: look again in a moment */
		s.requeue_ms = EXPECT_RECHECK_MS;
		goto out;
	}
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
	min_throughput(&s);
	if ((rc = autoscale(&s)) || (rc = federate(&s, false)) || (rc = ensure_tls(&s)))
		goto out;
	ro_load(&s);
	if (s.model) {
		rc = plan(&s);
		if (!rc && analyse(&s)) {
			free_templates(&s);
			rc = plan(&s);
		}
		if (!rc)
			rc = replace_failed(&s);
		classify(&s);
		if (!rc)
			rc = manage_pods(&s);
		if (!rc)
			rc = ensure_service(&s);
		if (!rc)
			prefetch(&s);
	} else {
		prefetch(&s);
		classify(&s);
		event(&s, "Warning", s.model_reason, "%s", s.model_msg);
	}
	if (!rc)
		rc = write_status(&s);
out:
	if (!rc && s.requeue_ms > 0)
		llmo_workqueue_add_after(c->wq, key, s.requeue_ms);
	free_templates(&s);
	json_decref(s.ro.analysis);
	llmo__fed_out_release(&s.fed);
	llmo_vec_release(&s.pods);
	return rc;
}
