/*
 * Benchmark on register: with modelRegistry.benchmarkOnRegister, each new
 * subject of an LLMModel (its spec.artifact.digest, else uid:UID for a new
 * object) is load-tested once on a temporary replica, the results go to
 * status.benchmarks per GPU type, and performanceThreshold decides whether
 * the version takes the `stable` alias (the LLMO_LABEL_STABLE label) of its
 * spec.name. docs/benchmark-on-register.md describes it for users.
 *
 * One run per model, a small state machine driven by one libevent timer:
 *
 *   start  -> create the pod, status Running, Event BenchmarkStarted
 *   poll   -> every poll_ms GET the pod until Ready (its node gives the GPU
 *             type), ended, gone, or ready_timeout_ms passed
 *   load   -> for each concurrency C in {1, 4, 16}: C streams, each sending
 *             `requests` streamed completions one after another (closed
 *             loop); TTFT is the time from sending a request to its first
 *             chunk with text, tokens/s is the level's completion tokens over
 *             the level's wall time
 *   end    -> delete the pod; success writes the results and decides the
 *             alias; a failure waits retry_ms (doubling) and tries again, up
 *             to LLMO_BENCH_ATTEMPTS attempts per subject, then gives up.
 *
 * The load runs on the controller's own loop through libevent's HTTP client
 * (evhttp), not on a thread: every request is asynchronous, its callbacks do
 * a few microseconds of parsing, and the loop keeps serving the informers
 * and work queues meanwhile. A thread would need locks around the kube
 * client, the informers and the event recorder, which are loop-only. The
 * price is that TTFT includes the loop's delays while other reconcilers
 * run (they make blocking API calls); the docs say so.
 *
 * Teardown never happens inside an evhttp callback: callbacks record what
 * happened and activate the run's timer, whose callback frees connections.
 */
#include "base/common.h"

#include <math.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "base/clock.h"
#include "base/json.h"
#include "base/log.h"
#include "base/str.h"
#include "controller/controller_int.h"

#include "base/banned.h"

#define BENCH_LEVELS 3
static const int levels[BENCH_LEVELS] = {1, 4, 16};
#define BENCH_STREAMS_MAX 16
/* One SSE line held while it arrives; a longer one fails the run. */
#define BENCH_LINE_MAX (256 * 1024)
#define BENCH_MSG_MAX 512
/* Bytes of a replica's error answer quoted in the failure. */
#define BENCH_ERROR_BODY_MAX 200
#define BENCH_GPU_MAX 128
#define BENCH_POLL_MS 500L
#define BENCH_NAME_PREFIX_MAX 40
#define BENCH_SUFFIX_LEN 5

enum bench_state {
	B_RETRY, /* waiting for the next attempt */
	B_POD,	 /* waiting for the pod to be Ready */
	B_LOAD,	 /* requests in flight */
	B_DONE,	 /* finished for this subject (kept to remember it) */
};

struct bench;

struct bench_stream {
	struct bench *b;
	struct evhttp_connection *conn;
	struct evbuffer *pending; /* bytes of an SSE line not complete yet */
	int left;		  /* requests still to send at this level */
	int64_t sent_ns;
	bool first_seen;
	long tokens; /* text chunks of the request in flight */
	long usage;  /* usage.completion_tokens, -1 when not sent */
};

struct bench {
	struct llmo_controller *c;
	char key[LLMO__CTRL_KEY_MAX];
	char ns[LLMO__CTRL_KEY_MAX];
	char name[LLMO__CTRL_KEY_MAX];
	char subject[320];
	char pod[LLMO__CTRL_KEY_MAX];
	char model[256]; /* spec.name: the model requests name */
	char host[128];
	char gpu[BENCH_GPU_MAX];
	char error[BENCH_MSG_MAX];
	int port;
	int attempts;
	enum bench_state state;
	struct event *timer;
	int64_t deadline_ms;   /* monotonic: the pod must be Ready before */
	int64_t started_wall_ms;
	/* the load */
	int level;
	int active;
	int64_t level_start_ns;
	long level_tokens;
	long level_requests; /* completions finished at this level */
	LLMO_VEC(double) ttfts; /* ms, this level */
	struct bench_stream streams[BENCH_STREAMS_MAX];
	json_t *results; /* status.benchmarks entries of this run */
	bool failed;	 /* set by a callback: the timer tears down */
};

static long opt_ms(long v, long def)
{
	return v > 0 ? v : def;
}

static void arm(struct bench *b, long ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	event_add(b->timer, &tv);
}

static json_t *model_of(struct bench *b)
{
	return llmo_informer_get(b->c->models, b->ns, b->name);
}

static void bench_event(struct bench *b, const char *type, const char *reason, const char *fmt,
			...) LLMO_PRINTF(4, 5);

static void bench_event(struct bench *b, const char *type, const char *reason, const char *fmt,
			...)
{
	json_t *m = model_of(b), *ref;
	va_list ap;

	if (!m || !b->c->rec)
		return;
	ref = llmo__obj_ref(m, "llm.orchestrator.io/v1", "LLMModel");
	if (!ref)
		return;
	va_start(ap, fmt);
	llmo_kube_eventv(b->c->rec, ref, type, reason, fmt, ap);
	va_end(ap);
	json_decref(ref);
}

/* Merge-patches status.benchmark (and status.benchmarks when results is not NULL). */
static int write_status(struct bench *b, const char *phase, const char *message, bool ended,
			json_t *results)
{
	struct llmo_error err = {0};
	char start[LLMO_RFC3339_MAX], end[LLMO_RFC3339_MAX];
	json_t *run, *patch;
	int rc;

	if (llmo_time_format_rfc3339(b->started_wall_ms, false, start, sizeof(start)))
		start[0] = '\0';
	if (llmo_time_format_rfc3339(llmo_clock_wall_ms(), false, end, sizeof(end)))
		end[0] = '\0';
	run = json_pack("{s:s, s:s, s:i, s:s, s:s}", "phase", phase, "subject", b->subject,
			"attempts", b->attempts, "message", message, "startTime", start);
	if (!run)
		return LLMO_ENOMEM;
	json_object_set_new(run, "pod", b->pod[0] ? json_string(b->pod) : json_null());
	json_object_set_new(run, "gpuType", b->gpu[0] ? json_string(b->gpu) : json_null());
	json_object_set_new(run, "completionTime", ended ? json_string(end) : json_null());
	patch = json_pack("{s:{s:o}}", "status", "benchmark", run);
	if (!patch)
		return LLMO_ENOMEM;
	if (results)
		json_object_set(json_object_get(patch, "status"), "benchmarks", results);
	rc = llmo_kube_patch(b->c->client, &llmo_kube_llmmodels, b->ns, b->name, "status",
			     LLMO_KUBE_PATCH_MERGE, patch, NULL, &err);
	json_decref(patch);
	if (rc && rc != LLMO_ENOTFOUND)
		llmo_log(LLMO_LOG_WARN, LLMO__CTRL_LOG, "benchmark status write failed",
			 "model=%s error=\"%s\"", b->key, err.msg);
	return rc;
}

static void delete_pod(struct bench *b)
{
	struct llmo_error err = {0};
	int rc;

	if (!b->pod[0])
		return;
	rc = llmo_kube_delete(b->c->client, &llmo_kube_pods, b->ns, b->pod,
			      LLMO_KUBE_PROPAGATE_DEFAULT, NULL, &err);
	if (rc && rc != LLMO_ENOTFOUND)
		llmo_log(LLMO_LOG_WARN, LLMO__CTRL_LOG, "benchmark pod delete failed",
			 "model=%s pod=%s error=\"%s\"", b->key, b->pod, err.msg);
}

static void close_streams(struct bench *b)
{
	for (int i = 0; i < BENCH_STREAMS_MAX; i++) {
		struct bench_stream *s = &b->streams[i];

		if (s->conn)
			evhttp_connection_free(s->conn);
		if (s->pending)
			evbuffer_free(s->pending);
		s->conn = NULL;
		s->pending = NULL;
	}
	b->active = 0;
}

static void bench_free(void *v)
{
	struct bench *b = v;

	if (!b)
		return;
	close_streams(b);
	if (b->timer)
		event_free(b->timer);
	llmo_vec_release(&b->ttfts);
	json_decref(b->results);
	free(b);
}

/* ---- the pod ---- */

static json_t *quantity(const json_t *v)
{
	char q[64];

	if (json_is_string(v))
		return json_incref((json_t *)v);
	if (json_is_integer(v)) {
		snprintf(q, sizeof(q), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return json_string(q);
	}
	if (json_is_real(v)) {
		snprintf(q, sizeof(q), "%g", json_real_value(v));
		return json_string(q);
	}
	return NULL;
}

/* requests and limits from the model's resources.recommended, else resources.minimum. */
static void pod_resources(const json_t *mspec, json_t *req, json_t *lim)
{
	const json_t *rs = json_object_get(mspec, "resources");
	const json_t *rec = json_object_get(rs, "recommended"), *min = json_object_get(rs, "minimum");
	static const char *const keys[][2] = {
		{"cpu", "cpu"}, {"memory", "memory"}, {"gpu", "nvidia.com/gpu"}};

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const json_t *v = json_object_get(rec, keys[i][0]);
		json_t *q;

		if (!v)
			v = json_object_get(min, keys[i][0]);
		q = quantity(v);
		if (!q)
			continue;
		json_object_set(req, keys[i][1], q);
		if (i > 0) /* memory and GPUs are limits too, as in a workload's replicas */
			json_object_set(lim, keys[i][1], q);
		json_decref(q);
	}
}

static json_t *pod_env(const json_t *rt, const json_t *mspec, int port)
{
	json_t *env = json_array(), *e;
	char portstr[16];
	size_t i;

	if (!env)
		return NULL;
	json_array_foreach(json_object_get(rt, "env"), i, e) {
		const char *n = json_string_value(json_object_get(e, "name"));
		const char *v = json_string_value(json_object_get(e, "value"));

		if (n && strcmp(n, "PORT") != 0)
			json_array_append_new(env, json_pack("{s:s, s:s}", "name", n, "value",
							     v ? v : ""));
	}
	snprintf(portstr, sizeof(portstr), "%d", port);
	json_array_append_new(env, json_pack("{s:s, s:s}", "name", "PORT", "value", portstr));
	json_array_append_new(env, json_pack("{s:s, s:s?}", "name", "LLMO_MODEL", "value",
					     json_string_value(json_object_get(mspec, "name"))));
	json_array_append_new(env, json_pack("{s:s, s:s?}", "name", "LLMO_MODEL_VERSION", "value",
					     json_string_value(json_object_get(mspec, "version"))));
	return env;
}

/* A Kubernetes label value from s: at most 63 bytes, ending in a letter or digit. */
static void label_of(const char *s, char out[64])
{
	size_t n = strlen(s);

	if (n > 63)
		n = 63;
	memcpy(out, s, n);
	while (n > 0 && !((out[n - 1] >= 'a' && out[n - 1] <= 'z') ||
			  (out[n - 1] >= '0' && out[n - 1] <= '9')))
		n--;
	out[n] = '\0';
}

static json_t *pod_new(struct bench *b, const json_t *m, int port)
{
	const json_t *mspec = json_object_get(m, "spec");
	const json_t *rt = json_object_get(mspec, "runtime");
	const char *health = json_string_value(json_object_get(rt, "healthPath"));
	const char *aref = llmo_kube_str(mspec, "artifact", "reference");
	const char *digest = llmo_kube_str(mspec, "artifact", "digest");
	json_t *req = json_object(), *lim = json_object(), *container, *pod, *ann;
	char lv[64];

	if (!req || !lim) {
		json_decref(req);
		json_decref(lim);
		return NULL;
	}
	pod_resources(mspec, req, lim);
	container = json_pack(
		"{s:s, s:O?, s:[{s:s, s:i, s:s}], s:o?, s:{s:o, s:o}, s:{s:{s:s, s:s}, s:i, s:i}}",
		"name", LLMO_CONTAINER_NAME, "image", json_object_get(rt, "image"), "ports", "name",
		"http", "containerPort", port, "protocol", "TCP", "env", pod_env(rt, mspec, port),
		"resources", "requests", req, "limits", lim, "readinessProbe", "httpGet", "path",
		health ? health : "/health", "port", "http", "periodSeconds", 1,
		"failureThreshold", 3);
	if (!container)
		return NULL;
	if (json_array_size(json_object_get(rt, "command")))
		json_object_set(container, "command", json_object_get(rt, "command"));
	if (json_array_size(json_object_get(rt, "args")))
		json_object_set(container, "args", json_object_get(rt, "args"));
	/* the same confinement as a workload's replicas */
	json_object_set_new(container, "securityContext",
			    json_pack("{s:b, s:{s:[s]}}", "allowPrivilegeEscalation", 0,
				      "capabilities", "drop", "ALL"));
	label_of(b->name, lv);
	pod = json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}, s:{}, s:[{s:s, s:s, s:s, s:O?, s:b}]}, "
			"s:{s:s, s:s, s:[o]}}",
			"apiVersion", "v1", "kind", "Pod", "metadata", "name", b->pod, "namespace",
			b->ns, "labels", LLMO_LABEL_BENCHMARK, lv, "annotations", "ownerReferences",
			"apiVersion", "llm.orchestrator.io/v1", "kind", "LLMModel", "name", b->name,
			"uid", json_object_get(json_object_get(m, "metadata"), "uid"), "controller",
			1, "spec", "schedulerName", b->c->scheduler_name, "restartPolicy", "Never",
			"containers", container);
	if (pod)
		json_object_set_new(json_object_get(pod, "spec"), "securityContext",
				    json_pack("{s:{s:s}}", "seccompProfile", "type", "RuntimeDefault"));
	if (!pod)
		return NULL;
	ann = json_object_get(json_object_get(pod, "metadata"), "annotations");
	if (json_array_size(json_object_get(rt, "localCommand"))) {
		char *text = llmo_json_dump_compact(json_object_get(rt, "localCommand"));

		if (text)
			json_object_set_new(ann, LLMO_ANNOTATION_LOCAL_COMMAND, json_string(text));
		free(text);
	}
	/* a model pinned by digest: the agent fetches and verifies those bytes first */
	if (aref && digest && !llmo_str_has_prefix(aref, "file://")) {
		char mref[2048];

		snprintf(mref, sizeof(mref), strchr(aref, '@') ? "%s" : "%s@%s", aref, digest);
		json_object_set_new(ann, "llm.orchestrator.io/model-artifact", json_string(mref));
		/* on a cluster, as a workload's replica: wait for the node agent's verified fetch */
		if (llmo__fetch_init_add(json_object_get(pod, "spec"), container, mref,
					 b->c->fetch_image, b->c->node_cache_path)) {
			json_decref(pod);
			return NULL;
		}
	}
	return pod;
}

/* ---- attempts ---- */

static void attempt_start(struct bench *b);

static void fail(struct bench *b, const char *msg)
{
	char text[BENCH_MSG_MAX + 128];
	long delay;

	close_streams(b);
	delete_pod(b);
	llmo_log(LLMO_LOG_WARN, LLMO__CTRL_LOG, "benchmark failed", "model=%s attempt=%d error=\"%s\"",
		 b->key, b->attempts, msg);
	if (b->attempts >= LLMO_BENCH_ATTEMPTS) {
		snprintf(text, sizeof(text), "attempt %d of %d failed, giving up: %s", b->attempts,
			 LLMO_BENCH_ATTEMPTS, msg);
		write_status(b, "Failed", text, true, NULL);
		bench_event(b, "Warning", "BenchmarkFailed", "%s", text);
		b->state = B_DONE;
		return;
	}
	delay = opt_ms(b->c->bench.retry_ms, LLMO_BENCH_RETRY_MS) << (b->attempts - 1);
	snprintf(text, sizeof(text), "attempt %d of %d failed: %s; next attempt in %ld ms",
		 b->attempts, LLMO_BENCH_ATTEMPTS, msg, delay);
	write_status(b, "Pending", text, true, NULL);
	bench_event(b, "Warning", "BenchmarkFailed", "%s", text);
	b->state = B_RETRY;
	arm(b, delay);
}

static void attempt_start(struct bench *b)
{
	struct llmo_error err = {0};
	json_t *m = model_of(b), *pod;
	const json_t *rt;
	char suffix[BENCH_SUFFIX_LEN + 1], msg[BENCH_MSG_MAX];
	json_int_t port;
	int rc;

	if (!m) {
		b->state = B_DONE;
		return;
	}
	delete_pod(b); /* the previous attempt's, if a restart left it */
	b->attempts++;
	b->gpu[0] = '\0';
	b->host[0] = '\0';
	b->started_wall_ms = llmo_clock_wall_ms();
	rt = json_object_get(json_object_get(m, "spec"), "runtime");
	port = json_integer_value(json_object_get(rt, "port"));
	b->port = port > 0 && port <= 65535 ? (int)port : 8000;
	llmo__random_suffix(b->c, suffix, BENCH_SUFFIX_LEN);
	snprintf(b->pod, sizeof(b->pod), "%.*s-bench-%s", BENCH_NAME_PREFIX_MAX, b->name, suffix);
	pod = pod_new(b, m, b->port);
	rc = pod ? llmo_kube_create(b->c->client, &llmo_kube_pods, b->ns, pod, NULL, &err)
		 : llmo_error_set(&err, LLMO_ENOMEM, "out of memory");
	json_decref(pod);
	if (rc) {
		snprintf(msg, sizeof(msg), "cannot create the benchmark pod %s: %s", b->pod, err.msg);
		b->pod[0] = '\0';
		fail(b, msg);
		return;
	}
	llmo_log(LLMO_LOG_INFO, LLMO__CTRL_LOG, "benchmark started", "model=%s pod=%s attempt=%d",
		 b->key, b->pod, b->attempts);
	write_status(b, "Running", "waiting for the benchmark replica to be Ready", false, NULL);
	bench_event(b, "Normal", "BenchmarkStarted",
		    "Benchmarking %s (attempt %d of %d) on a temporary replica %s", b->subject,
		    b->attempts, LLMO_BENCH_ATTEMPTS, b->pod);
	b->state = B_POD;
	b->deadline_ms = llmo_clock_mono_ms() +
			 opt_ms(b->c->bench.ready_timeout_ms, LLMO_BENCH_READY_TIMEOUT_MS);
	arm(b, opt_ms(b->c->bench.poll_ms, BENCH_POLL_MS));
}

/* The GPU product label of node, else "cpu". */
static void gpu_of(struct bench *b, const char *node)
{
	json_t *n = NULL;
	const char *prod;

	snprintf(b->gpu, sizeof(b->gpu), "cpu");
	if (!node || llmo_kube_get(b->c->client, &llmo_kube_nodes, NULL, node, &n, NULL))
		return;
	prod = json_string_value(json_object_get(
		json_object_get(json_object_get(n, "metadata"), "labels"), "nvidia.com/gpu.product"));
	if (prod && *prod)
		snprintf(b->gpu, sizeof(b->gpu), "%s", prod);
	json_decref(n);
}

/* host and port of a Ready pod (llmo__pod_endpoint's "ip:port" or "[ip6]:port", split). */
static bool endpoint_of(struct bench *b, const json_t *pod)
{
	char ep[sizeof(b->host) + 16];
	char *colon, *host = ep;
	int64_t port;

	if (llmo__pod_endpoint(pod, b->port, ep, sizeof(ep)) != 0)
		return false;
	colon = strrchr(ep, ':');
	if (!colon)
		return false;
	*colon = '\0';
	if (llmo_parse_int_range(colon + 1, 1, 65535, &port, NULL))
		return false;
	if (host[0] == '[') {
		host++;
		host[strlen(host) - 1] = '\0';
	}
	snprintf(b->host, sizeof(b->host), "%s", host);
	b->port = (int)port;
	return true;
}

static bool pod_ready(const json_t *pod)
{
	json_t *c;
	size_t i;

	json_array_foreach(json_object_get(json_object_get(pod, "status"), "conditions"), i, c) {
		const char *t = json_string_value(json_object_get(c, "type"));
		const char *s = json_string_value(json_object_get(c, "status"));

		if (t && s && strcmp(t, "Ready") == 0 && strcmp(s, "True") == 0)
			return true;
	}
	return false;
}

/* Why a pod that never became Ready did not: its scheduling, else its state. */
static void not_ready_reason(const json_t *pod, long timeout_ms, char *out, size_t n)
{
	const char *node = llmo_kube_str(pod, "spec", "nodeName");
	json_t *c;
	size_t i;

	json_array_foreach(json_object_get(json_object_get(pod, "status"), "conditions"), i, c) {
		const char *t = json_string_value(json_object_get(c, "type"));
		const char *s = json_string_value(json_object_get(c, "status"));
		const char *msg = json_string_value(json_object_get(c, "message"));

		if (!node && t && s && strcmp(t, "PodScheduled") == 0 && strcmp(s, "False") == 0) {
			snprintf(out, n, "no node could run the benchmark replica within %ld ms: %s",
				 timeout_ms, msg ? msg : "unschedulable");
			return;
		}
	}
	if (!node)
		snprintf(out, n, "the benchmark replica was not scheduled within %ld ms",
			 timeout_ms);
	else
		snprintf(out, n, "the benchmark replica on %s was not Ready within %ld ms", node,
			 timeout_ms);
}

static void load_start(struct bench *b);

static void poll_pod(struct bench *b)
{
	struct llmo_error err = {0};
	json_t *pod = NULL;
	const char *phase;
	char msg[BENCH_MSG_MAX];
	int rc;

	rc = llmo_kube_get(b->c->client, &llmo_kube_pods, b->ns, b->pod, &pod, &err);
	if (rc == LLMO_ENOTFOUND) {
		snprintf(msg, sizeof(msg), "the benchmark pod %s was deleted", b->pod);
		b->pod[0] = '\0';
		fail(b, msg);
		return;
	}
	if (rc) { /* the API is unreachable: look again later, within the deadline */
		if (llmo_clock_mono_ms() < b->deadline_ms) {
			arm(b, opt_ms(b->c->bench.poll_ms, BENCH_POLL_MS));
		} else {
			snprintf(msg, sizeof(msg), "cannot read the benchmark pod: %s", err.msg);
			fail(b, msg);
		}
		return;
	}
	phase = llmo_kube_str(pod, "status", "phase");
	if (phase && (strcmp(phase, "Failed") == 0 || strcmp(phase, "Succeeded") == 0)) {
		const char *why = llmo_kube_str(pod, "status", "message");

		snprintf(msg, sizeof(msg), "the benchmark replica ended (%s)%s%s", phase,
			 why ? ": " : "", why ? why : "");
		json_decref(pod);
		fail(b, msg);
		return;
	}
	if (pod_ready(pod) && endpoint_of(b, pod)) {
		gpu_of(b, llmo_kube_str(pod, "spec", "nodeName"));
		json_decref(pod);
		write_status(b, "Running", "the benchmark replica is Ready: load test running",
			     false, NULL);
		load_start(b);
		return;
	}
	if (llmo_clock_mono_ms() >= b->deadline_ms) {
		not_ready_reason(pod, opt_ms(b->c->bench.ready_timeout_ms, LLMO_BENCH_READY_TIMEOUT_MS),
				 msg, sizeof(msg));
		json_decref(pod);
		fail(b, msg);
		return;
	}
	json_decref(pod);
	arm(b, opt_ms(b->c->bench.poll_ms, BENCH_POLL_MS));
}

/* ---- the load ---- */

static void stream_fail(struct bench_stream *s, const char *fmt, ...) LLMO_PRINTF(2, 3);

static void stream_fail(struct bench_stream *s, const char *fmt, ...)
{
	struct bench *b = s->b;
	va_list ap;

	if (!b->failed) {
		va_start(ap, fmt);
		vsnprintf(b->error, sizeof(b->error), fmt, ap);
		va_end(ap);
		b->failed = true;
	}
	event_active(b->timer, EV_TIMEOUT, 0);
}

/* One SSE line: "data: {json}" counts a token when its first choice has text. */
static void sse_line(struct bench_stream *s, const char *line, size_t n)
{
	json_t *v, *ch, *u;
	const char *text;

	if (n < 6 || strncmp(line, "data: ", 6) != 0)
		return;
	line += 6;
	n -= 6;
	if (n == 6 && strncmp(line, "[DONE]", 6) == 0)
		return;
	v = json_loadb(line, n, 0, NULL);
	if (!v)
		return;
	ch = json_array_get(json_object_get(v, "choices"), 0);
	text = json_string_value(json_object_get(ch, "text"));
	if (!text)
		text = json_string_value(json_object_get(json_object_get(ch, "delta"), "content"));
	if (text && *text) {
		if (!s->first_seen) {
			double ms = (double)(llmo_clock_mono_ns() - s->sent_ns) / 1e6;
			double *slot = llmo_vec_push(&s->b->ttfts);

			s->first_seen = true;
			if (slot)
				*slot = ms;
		}
		s->tokens++;
	}
	u = json_object_get(json_object_get(v, "usage"), "completion_tokens");
	if (json_is_integer(u))
		s->usage = (long)json_integer_value(u);
	json_decref(v);
}

static void on_chunk(struct evhttp_request *req, void *arg)
{
	struct bench_stream *s = arg;
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	char *line;
	size_t n;

	if (s->b->failed)
		return;
	if (evhttp_request_get_response_code(req) != 200) {
		/* the start of an error body, for on_done's message (libevent drains in) */
		size_t room = BENCH_ERROR_BODY_MAX - LLMO_MIN(evbuffer_get_length(s->pending),
							      (size_t)BENCH_ERROR_BODY_MAX);

		evbuffer_remove_buffer(in, s->pending, LLMO_MIN(room, evbuffer_get_length(in)));
		return;
	}
	evbuffer_add_buffer(s->pending, in);
	while ((line = evbuffer_readln(s->pending, &n, EVBUFFER_EOL_CRLF)) != NULL) {
		sse_line(s, line, n);
		free(line);
	}
	if (evbuffer_get_length(s->pending) > BENCH_LINE_MAX)
		stream_fail(s, "an event of the replica's stream exceeds %d bytes", BENCH_LINE_MAX);
}

static int stream_send(struct bench_stream *s);

static void on_done(struct evhttp_request *req, void *arg)
{
	struct bench_stream *s = arg;
	struct bench *b = s->b;
	int code = req ? evhttp_request_get_response_code(req) : 0;
	long tokens;

	if (b->failed)
		return;
	if (!req || code == 0) {
		stream_fail(s, "no answer from the replica at %s:%d (connection failed or timed out)",
			    b->host, b->port);
		return;
	}
	if (code != 200) {
		struct evbuffer *in = evhttp_request_get_input_buffer(req);
		char body[BENCH_ERROR_BODY_MAX + 1];
		size_t len;

		evbuffer_add_buffer(s->pending, in);
		len = LLMO_MIN(evbuffer_get_length(s->pending), (size_t)BENCH_ERROR_BODY_MAX);
		evbuffer_copyout(s->pending, body, len);
		body[len] = '\0';
		for (size_t i = 0; i < len; i++)
			if ((unsigned char)body[i] < 0x20)
				body[i] = ' ';
		stream_fail(s, "the replica answered %d: %s", code, body);
		return;
	}
	/* a last line without its newline */
	if (evbuffer_get_length(s->pending) > 0) {
		size_t n = evbuffer_get_length(s->pending);
		char *line = malloc(n + 1);

		if (line) {
			evbuffer_remove(s->pending, line, n);
			line[n] = '\0';
			sse_line(s, line, n);
			free(line);
		}
	}
	tokens = s->usage >= 0 ? s->usage : s->tokens;
	if (!s->first_seen || tokens <= 0) {
		stream_fail(s, "the replica streamed no tokens for a completion of %d tokens",
			    opt_ms(b->c->bench.max_tokens, LLMO_BENCH_MAX_TOKENS) > 0
				    ? (int)opt_ms(b->c->bench.max_tokens, LLMO_BENCH_MAX_TOKENS)
				    : 0);
		return;
	}
	b->level_tokens += tokens;
	b->level_requests++;
	if (s->left > 0) {
		if (stream_send(s))
			stream_fail(s, "cannot send a request to %s:%d", b->host, b->port);
		return;
	}
	if (--b->active == 0)
		event_active(b->timer, EV_TIMEOUT, 0);
}

static int stream_send(struct bench_stream *s)
{
	struct bench *b = s->b;
	struct evhttp_request *req = evhttp_request_new(on_done, s);
	struct evkeyvalq *h;
	json_t *body;
	char *text;
	char hostport[160];
	int rc;

	if (!req)
		return LLMO_ENOMEM;
	body = json_pack("{s:s, s:s, s:i, s:b, s:{s:b}}", "model", b->model, "prompt",
			 "Benchmark the model: write a long story.", "max_tokens",
			 (int)opt_ms(b->c->bench.max_tokens, LLMO_BENCH_MAX_TOKENS), "stream", 1,
			 "stream_options", "include_usage", 1);
	text = body ? llmo_json_dump_compact(body) : NULL;
	json_decref(body);
	if (!text) {
		evhttp_request_free(req);
		return LLMO_ENOMEM;
	}
	evhttp_request_set_chunked_cb(req, on_chunk);
	h = evhttp_request_get_output_headers(req);
	snprintf(hostport, sizeof(hostport), "%s:%d", b->host, b->port);
	evhttp_add_header(h, "Host", hostport);
	evhttp_add_header(h, "Content-Type", "application/json");
	evhttp_add_header(h, "Accept", "text/event-stream");
	evbuffer_add(evhttp_request_get_output_buffer(req), text, strlen(text));
	free(text);
	s->first_seen = false;
	s->tokens = 0;
	s->usage = -1;
	evbuffer_drain(s->pending, evbuffer_get_length(s->pending));
	s->left--;
	s->sent_ns = llmo_clock_mono_ns();
	rc = evhttp_make_request(s->conn, req, EVHTTP_REQ_POST, "/v1/completions");
	/* a connection that cannot be made is reported to on_done (req NULL or code 0) */
	return rc == 0 ? 0 : LLMO_EIO;
}

static void level_start(struct bench *b)
{
	int conc = levels[b->level];
	int requests = (int)opt_ms(b->c->bench.requests, LLMO_BENCH_REQUESTS);

	b->ttfts.len = 0;
	b->level_tokens = 0;
	b->level_requests = 0;
	b->active = conc;
	b->level_start_ns = llmo_clock_mono_ns();
	for (int i = 0; i < conc; i++) {
		struct bench_stream *s = &b->streams[i];

		s->b = b;
		s->left = requests;
		if (!s->conn) {
			s->conn = evhttp_connection_base_new(b->c->base, NULL, b->host,
							     (ev_uint16_t)b->port);
			s->pending = evbuffer_new();
			if (s->conn)
				evhttp_connection_set_timeout(s->conn,
							      LLMO_BENCH_REQUEST_TIMEOUT_S);
		}
		if (!s->conn || !s->pending || stream_send(s)) {
			stream_fail(s, "cannot send a request to %s:%d", b->host, b->port);
			return;
		}
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The nearest-rank percentile p (0..100) of sorted v[0..n). */
static double percentile(const double *v, size_t n, double p)
{
	size_t rank = (size_t)ceil(p / 100.0 * (double)n);

	return n == 0 ? 0 : v[rank > 0 ? rank - 1 : 0];
}

static int level_end(struct bench *b)
{
	double secs = (double)(llmo_clock_mono_ns() - b->level_start_ns) / 1e9;
	char at[LLMO_RFC3339_MAX];
	json_t *e;

	if (llmo_time_format_rfc3339(llmo_clock_wall_ms(), false, at, sizeof(at)))
		at[0] = '\0';
	if (b->ttfts.len > 1)
		qsort(b->ttfts.items, b->ttfts.len, sizeof(double), cmp_double);
	e = json_pack("{s:s, s:i, s:f, s:f, s:f, s:f, s:s}", "gpuType", b->gpu, "concurrency",
		      levels[b->level], "tokensPerSecond",
		      round((secs > 0 ? (double)b->level_tokens / secs : 0) * 10) / 10,
		      "requestsPerSecond",
		      round((secs > 0 ? (double)b->level_requests / secs : 0) * 100) / 100,
		      "ttftP50Ms", round(percentile(b->ttfts.items, b->ttfts.len, 50) * 100) / 100,
		      "ttftP95Ms", round(percentile(b->ttfts.items, b->ttfts.len, 95) * 100) / 100,
		      "recordedAt", at);
	if (!e || json_array_append_new(b->results, e))
		return LLMO_ENOMEM;
	return 0;
}

static void load_start(struct bench *b)
{
	json_decref(b->results);
	b->results = json_array();
	b->level = 0;
	b->failed = false;
	b->error[0] = '\0';
	b->state = B_LOAD;
	if (!b->results) {
		fail(b, "out of memory");
		return;
	}
	level_start(b);
}

/* ---- the stable alias ---- */

struct peers {
	const char *name, *self;
	const json_t *stable; /* the other version holding the alias, if any */
	bool self_stable;
};

static int find_stable(void *ctx, json_t *m)
{
	struct peers *p = ctx;
	const char *n = llmo_kube_str(m, "spec", "name");
	const char *obj = llmo_kube_str(m, "metadata", "name");
	const char *lab = json_string_value(json_object_get(
		json_object_get(json_object_get(m, "metadata"), "labels"), LLMO_LABEL_STABLE));

	if (!n || !obj || strcmp(n, p->name) != 0 || !lab || strcmp(lab, "true") != 0)
		return 0;
	if (strcmp(obj, p->self) == 0)
		p->self_stable = true;
	else if (!p->stable)
		p->stable = m;
	return 0;
}

/* tokensPerSecond of model's benchmark on gpu at concurrency; -1 when it has none. */
static double tps_of(const json_t *benchmarks, const char *gpu, int conc)
{
	json_t *e;
	size_t i;

	json_array_foreach(benchmarks, i, e) {
		const char *g = json_string_value(json_object_get(e, "gpuType"));

		if (g && strcmp(g, gpu) == 0 &&
		    json_integer_value(json_object_get(e, "concurrency")) == conc &&
		    json_is_number(json_object_get(e, "tokensPerSecond")))
			return json_number_value(json_object_get(e, "tokensPerSecond"));
	}
	return -1;
}

/*
 * Whether this run's version takes the alias: yes when no other version
 * holds it; otherwise when, at the highest concurrency both measured on this
 * GPU type, its tokens/s >= threshold x the stable version's (threshold 0:
 * always). why gets the reason either way; *old the version to take it from.
 */
static bool decide(struct bench *b, const json_t *m, const json_t **old, char *why, size_t n)
{
	struct peers p = {llmo_kube_str(m, "spec", "name"), b->name, NULL, false};
	double th = b->c->config->model_registry.performance_threshold;
	const char *ver = llmo_kube_str(m, "spec", "version");

	*old = NULL;
	if (!p.name)
		return false;
	llmo_informer_list(b->c->models, b->ns, find_stable, &p);
	if (p.self_stable && !p.stable) {
		snprintf(why, n, "%s:%s already holds the stable alias", p.name, ver);
		return false;
	}
	if (!p.stable) {
		snprintf(why, n, "%s:%s is now stable: no version of %s was stable", p.name, ver,
			 p.name);
		return true;
	}
	*old = p.stable;
	for (int i = BENCH_LEVELS - 1; i >= 0; i--) {
		double mine = tps_of(b->results, b->gpu, levels[i]);
		double theirs = tps_of(json_object_get(json_object_get(p.stable, "status"),
						       "benchmarks"),
				       b->gpu, levels[i]);
		const char *sv = llmo_kube_str(p.stable, "spec", "version");

		if (mine < 0 || theirs < 0)
			continue;
		if (mine >= th * theirs) {
			snprintf(why, n,
				 "%s:%s is now stable: %.1f tokens/s at concurrency %d on %s >= "
				 "%g x %.1f of %s:%s (performanceThreshold)",
				 p.name, ver, mine, levels[i], b->gpu, th, theirs, p.name, sv);
			return true;
		}
		snprintf(why, n,
			 "%s:%s stays stable: %s:%s made %.1f tokens/s at concurrency %d on %s, "
			 "below %g x %.1f (performanceThreshold)",
			 p.name, sv, p.name, ver, mine, levels[i], b->gpu, th, theirs);
		return false;
	}
	if (th <= 0) {
		snprintf(why, n, "%s:%s is now stable (performanceThreshold 0); %s:%s has no "
			 "benchmark on %s to compare", p.name, ver, p.name,
			 llmo_kube_str(p.stable, "spec", "version"), b->gpu);
		return true;
	}
	snprintf(why, n, "%s:%s stays stable: it has no benchmark on %s to compare %s:%s with",
		 p.name, llmo_kube_str(p.stable, "spec", "version"), b->gpu, p.name, ver);
	return false;
}

static int set_stable(struct bench *b, const char *name, bool on)
{
	struct llmo_error err = {0};
	json_t *patch = json_pack("{s:{s:{s:o}}}", "metadata", "labels", LLMO_LABEL_STABLE,
				  on ? json_string("true") : json_null());
	int rc = patch ? llmo_kube_patch(b->c->client, &llmo_kube_llmmodels, b->ns, name, NULL,
					 LLMO_KUBE_PATCH_MERGE, patch, NULL, &err)
		       : LLMO_ENOMEM;

	json_decref(patch);
	if (rc)
		llmo_log(LLMO_LOG_WARN, LLMO__CTRL_LOG, "stable alias write failed",
			 "model=%s/%s error=\"%s\"", b->ns, name, err.msg);
	return rc;
}

static void succeed(struct bench *b)
{
	json_t *m = model_of(b), *all, *e;
	const json_t *old = NULL;
	char why[BENCH_MSG_MAX], msg[BENCH_MSG_MAX * 2], summary[BENCH_MSG_MAX];
	size_t i, off = 0;
	bool move;

	close_streams(b);
	delete_pod(b);
	if (!m) {
		b->state = B_DONE;
		return;
	}
	/* this GPU type's entries replace the ones before; other GPU types' stay */
	all = json_array();
	json_array_foreach(json_object_get(json_object_get(m, "status"), "benchmarks"), i, e) {
		const char *g = json_string_value(json_object_get(e, "gpuType"));

		if (all && (!g || strcmp(g, b->gpu) != 0))
			json_array_append(all, e);
	}
	json_array_foreach(b->results, i, e) {
		if (all)
			json_array_append(all, e);
		if (off < sizeof(summary))
			off += (size_t)snprintf(
				summary + off, sizeof(summary) - off, "%sc=%d %.1f tok/s ttft p50 %.1f ms p95 %.1f ms",
				i ? ", " : "", (int)json_integer_value(json_object_get(e, "concurrency")),
				json_number_value(json_object_get(e, "tokensPerSecond")),
				json_number_value(json_object_get(e, "ttftP50Ms")),
				json_number_value(json_object_get(e, "ttftP95Ms")));
	}
	if (!all) {
		fail(b, "out of memory");
		return;
	}
	move = decide(b, m, &old, why, sizeof(why));
	snprintf(msg, sizeof(msg), "on %s: %s. %s", b->gpu, summary, why);
	/* the results first: the alias is only moved for a version whose numbers are written */
	if (write_status(b, "Succeeded", msg, true, all) == 0) {
		bench_event(b, "Normal", "BenchmarkSucceeded", "Benchmarked %s on %s: %s", b->subject,
			    b->gpu, summary);
		if (move && (!old || set_stable(b, llmo_kube_str(old, "metadata", "name"), false) == 0) &&
		    set_stable(b, b->name, true) == 0)
			bench_event(b, "Normal", "StableAliasMoved", "%s", why);
		else if (!move)
			bench_event(b, "Normal", "StableAliasKept", "%s", why);
	}
	llmo_log(LLMO_LOG_INFO, LLMO__CTRL_LOG, "benchmark succeeded", "model=%s gpu=%s stable=%s",
		 b->key, b->gpu, move ? "moved" : "kept");
	json_decref(all);
	b->state = B_DONE;
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct bench *b = arg;

	(void)fd;
	(void)what;
	switch (b->state) {
	case B_RETRY:
		attempt_start(b);
		break;
	case B_POD:
		poll_pod(b);
		break;
	case B_LOAD:
		if (b->failed) {
			char msg[BENCH_MSG_MAX];

			snprintf(msg, sizeof(msg), "%s", b->error);
			fail(b, msg);
		} else if (b->active == 0) {
			if (level_end(b)) {
				fail(b, "out of memory");
			} else if (++b->level < BENCH_LEVELS) {
				level_start(b);
			} else {
				succeed(b);
			}
		}
		break;
	case B_DONE:
		break;
	}
}

/* ---- entry points ---- */

void llmo__bench_forget(struct llmo_controller *c, const char *key)
{
	void *old = NULL;
	struct bench *b;

	if (llmo_hmap_del(&c->benches, key, &old) != 0)
		return;
	b = old;
	if (b->state != B_DONE) {
		close_streams(b);
		delete_pod(b);
	}
	bench_free(b);
}

void llmo__bench_model(struct llmo_controller *c, const char *key, const json_t *model, bool ok)
{
	const json_t *meta = json_object_get(model, "metadata");
	const json_t *run = json_object_get(json_object_get(model, "status"), "benchmark");
	const char *digest = llmo_kube_str(json_object_get(model, "spec"), "artifact", "digest");
	const char *uid = json_string_value(json_object_get(meta, "uid"));
	const char *rs = json_string_value(json_object_get(run, "subject"));
	const char *rp = json_string_value(json_object_get(run, "phase"));
	const char *name = json_string_value(json_object_get(meta, "name"));
	char subject[320];
	struct bench *b;

	if (!c->config->model_registry.benchmark_on_register || !name)
		return;
	if (!ok) { /* an invalid model is not benchmarked; a run of it stops */
		llmo__bench_forget(c, key);
		return;
	}
	if (digest)
		snprintf(subject, sizeof(subject), "%s", digest);
	else if (uid)
		snprintf(subject, sizeof(subject), "uid:%s", uid);
	else
		return;
	b = llmo_hmap_get(&c->benches, key);
	if (b && strcmp(b->subject, subject) == 0)
		return;
	llmo__bench_forget(c, key); /* a run of an older subject */
	if (rs && strcmp(rs, subject) == 0 && rp &&
	    (strcmp(rp, "Succeeded") == 0 || strcmp(rp, "Failed") == 0))
		return;
	b = calloc(1, sizeof(*b));
	if (!b)
		return;
	b->c = c;
	snprintf(b->key, sizeof(b->key), "%s", key);
	snprintf(b->ns, sizeof(b->ns), "%s",
		 json_string_value(json_object_get(meta, "namespace"))
			 ? json_string_value(json_object_get(meta, "namespace"))
			 : "");
	snprintf(b->name, sizeof(b->name), "%s", name);
	snprintf(b->subject, sizeof(b->subject), "%s", subject);
	snprintf(b->model, sizeof(b->model), "%s",
		 llmo_kube_str(model, "spec", "name") ? llmo_kube_str(model, "spec", "name") : name);
	/* an attempt a restart interrupted counts, and its pod goes */
	if (rs && strcmp(rs, subject) == 0) {
		b->attempts = (int)json_integer_value(json_object_get(run, "attempts"));
		if (json_string_value(json_object_get(run, "pod")))
			snprintf(b->pod, sizeof(b->pod), "%s",
				 json_string_value(json_object_get(run, "pod")));
	}
	b->timer = evtimer_new(c->base, on_timer, b);
	if (!b->timer || llmo_hmap_put(&c->benches, key, b, NULL)) {
		bench_free(b);
		return;
	}
	if (b->attempts >= LLMO_BENCH_ATTEMPTS) {
		delete_pod(b);
		b->attempts = LLMO_BENCH_ATTEMPTS;
		write_status(b, "Failed", "every attempt was interrupted, giving up", true, NULL);
		bench_event(b, "Warning", "BenchmarkFailed",
			    "Benchmark of %s: every attempt was interrupted, giving up", subject);
		b->state = B_DONE;
		return;
	}
	b->state = B_RETRY;
	arm(b, 0);
}

void llmo__bench_release_all(struct llmo_controller *c)
{
	/* runs in progress keep their pods: status.benchmark.pod lets the next controller delete them */
	llmo_hmap_release(&c->benches, bench_free);
}
