/*
 * The agent's local pod runtime (src/agent/runtime.c), its shim (llmo shim)
 * and its log server, with real processes: each test gets a fresh state
 * directory, event loop and runtime, runs the loop until what it expects
 * holds (or a deadline passes: no sleeping for luck), and leaves no process
 * behind. LLMO_BIN (from CMake) is the llmo binary the runtime runs as shim.
 */
#include "base/common.h"

#include <fcntl.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_fs.h"

#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "agent/crilog.h"
#include "agent/logserver.h"
#include "agent/runtime.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/file.h"
#include "base/json.h"
#include "base/log.h"
#include "base/str.h"

#include "base/banned.h"

#ifndef LLMO_BIN
#error "LLMO_BIN (the llmo binary) must be defined by the build"
#endif

#define BACKOFF_BASE_MS 300
#define BACKOFF_MAX_MS 1200
#define TOKEN "test-token-123"

struct fx {
	char dir[64];
	struct event_base *base;
	struct event *tick;
	struct llmo_runtime *rt;
	int changes;
	/* the back-off test's timeline, filled by on_changed for watch_uid */
	const char *watch_uid;
	int64_t restart_at[8];
	int last_restarts;
	bool saw_backoff;
};

/* ---- loop and fixture ---- */

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
}

/* Runs the loop until expr holds; fails the test after ms. */
#define WAIT_UNTIL(f, ms, expr)                                                          \
	do {                                                                             \
		int64_t dl_ = llmo_clock_mono_ms() + (ms);                               \
		while (!(expr)) {                                                        \
			if (llmo_clock_mono_ms() > dl_)                                  \
				fail_msg("%s:%d: timed out waiting for %s", __FILE__,    \
					 __LINE__, #expr);                               \
			event_base_loop((f)->base, EVLOOP_ONCE);                         \
		}                                                                        \
	} while (0)

static json_t *status_of(struct fx *f, const char *uid);

static void on_changed(void *ctx, const char *uid)
{
	struct fx *f = ctx;
	json_t *st, *c;
	int rc;

	f->changes++;
	if (!f->watch_uid || strcmp(uid, f->watch_uid) != 0)
		return;
	st = status_of(f, uid);
	c = json_array_get(json_object_get(st, "containerStatuses"), 0);
	rc = (int)json_integer_value(json_object_get(c, "restartCount"));
	if (rc > f->last_restarts && rc < (int)LLMO_ARRAY_LEN(f->restart_at)) {
		f->restart_at[rc] = llmo_clock_mono_ms();
		f->last_restarts = rc;
	}
	if (json_is_string(llmo_json_get_path(c, "state.waiting.reason")) &&
	    strcmp(json_string_value(llmo_json_get_path(c, "state.waiting.reason")),
		   "CrashLoopBackOff") == 0)
		f->saw_backoff = true;
	json_decref(st);
}

static void rt_open(struct fx *f)
{
	struct llmo_runtime_opts o = {
		.state_dir = f->dir,
		.shim_path = LLMO_BIN,
		.node_name = "node-1",
		.host_ip = "127.0.0.1",
		.backoff_base_ms = BACKOFF_BASE_MS,
		.backoff_max_ms = BACKOFF_MAX_MS,
		.changed = on_changed,
		.ctx = f,
	};
	struct llmo_error err = {0};

	assert_int_equal(llmo_runtime_new(f->base, &o, &f->rt, &err), 0);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct timeval tv = {0, 20000};

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/llmo-rt-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	f->base = event_base_new();
	f->tick = event_new(f->base, -1, EV_PERSIST, on_tick, NULL);
	event_add(f->tick, &tv);
	rt_open(f);
	*state = f;
	return 0;
}

static int pods_on_disk(struct fx *f, struct llmo_strv *uids)
{
	char path[PATH_MAX];
	struct dirent *e;
	DIR *d;

	snprintf(path, sizeof(path), "%s/pods", f->dir);
	d = opendir(path);
	if (!d)
		return 0;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			llmo_strv_push(uids, e->d_name);
	closedir(d);
	return (int)uids->len;
}

static bool none_known(struct fx *f, const struct llmo_strv *uids)
{
	for (size_t i = 0; i < uids->len; i++)
		if (llmo_runtime_pod_known(f->rt, uids->items[i]))
			return false;
	return true;
}

/* Removes every pod the state dir holds (whatever a test left) and frees it all. */
static int teardown(void **state)
{
	struct fx *f = *state;
	struct llmo_strv uids = LLMO_STRV_INIT;

	pods_on_disk(f, &uids);
	for (size_t i = 0; i < uids.len; i++)
		llmo_runtime_remove_pod(f->rt, uids.items[i]);
	WAIT_UNTIL(f, 10000, none_known(f, &uids));
	llmo_strv_release(&uids);
	llmo_runtime_free(f->rt);
	event_free(f->tick);
	event_base_free(f->base);
	if (!getenv("KEEP_STATE"))
		test_rm_rf(f->dir);
	free(f);
	return 0;
}

/* ---- pods and their status ---- */

/* A pod whose one container "main" runs `sh -c script`. */
static json_t *sh_pod(const char *uid, const char *name, const char *policy, const char *script)
{
	json_t *p = json_pack("{s:{s:s, s:s, s:s, s:{}}, s:{s:s, s:i, s:[{s:s, s:s, s:[s, s, s]}]}}",
			      "metadata", "name", name, "namespace", "default", "uid", uid,
			      "annotations", "spec", "restartPolicy", policy,
			      "terminationGracePeriodSeconds", 2, "containers", "name", "main",
			      "image", "busybox:latest", "command", "sh", "-c", script);

	assert_non_null(p);
	return p;
}

static json_t *ctr0(json_t *pod)
{
	return json_array_get(llmo_json_get_path(pod, "spec.containers"), 0);
}

static void sync_ok(struct fx *f, json_t *pod)
{
	struct llmo_error err = {0};
	int rc = llmo_runtime_sync_pod(f->rt, pod, &err);

	if (rc)
		fail_msg("sync: %s", err.msg);
}

static json_t *status_of(struct fx *f, const char *uid)
{
	return llmo_runtime_pod_status(f->rt, uid);
}

static bool phase_is(struct fx *f, const char *uid, const char *phase)
{
	json_t *st = status_of(f, uid);
	bool ok = st && strcmp(json_string_value(json_object_get(st, "phase")), phase) == 0;

	json_decref(st);
	return ok;
}

/* A field of container i's status as an integer (-1 when absent). */
static int64_t cint(struct fx *f, const char *uid, size_t i, const char *path)
{
	json_t *st = status_of(f, uid);
	json_t *v = llmo_json_get_path(json_array_get(json_object_get(st, "containerStatuses"), i),
				       path);
	int64_t n = json_is_integer(v) ? json_integer_value(v) : -1;

	json_decref(st);
	return n;
}

/* A string field of container i's status copied into out ("" when absent). */
static const char *cstr(struct fx *f, const char *uid, size_t i, const char *path, char *out,
			size_t n)
{
	json_t *st = status_of(f, uid);
	json_t *v = llmo_json_get_path(json_array_get(json_object_get(st, "containerStatuses"), i),
				       path);

	snprintf(out, n, "%s", json_is_string(v) ? json_string_value(v) : "");
	json_decref(st);
	return out;
}

static bool cstr_is(struct fx *f, const char *uid, size_t i, const char *path, const char *want)
{
	char buf[1024];

	return strcmp(cstr(f, uid, i, path, buf, sizeof(buf)), want) == 0;
}

static bool running(struct fx *f, const char *uid, size_t i)
{
	json_t *st = status_of(f, uid);
	bool r = json_is_object(llmo_json_get_path(
		json_array_get(json_object_get(st, "containerStatuses"), i), "state.running"));

	json_decref(st);
	return r;
}

/* The status of the pod condition `type` ("True"/"False"), copied. */
static bool cond_is(struct fx *f, const char *uid, const char *type, const char *want)
{
	json_t *st = status_of(f, uid), *c;
	bool ok = false;
	size_t i;

	json_array_foreach(json_object_get(st, "conditions"), i, c)
		if (strcmp(json_string_value(json_object_get(c, "type")), type) == 0)
			ok = strcmp(json_string_value(json_object_get(c, "status")), want) == 0;
	json_decref(st);
	return ok;
}

static pid_t shim_pid(struct fx *f, const char *uid, size_t i)
{
	char id[64];

	cstr(f, uid, i, "containerID", id, sizeof(id));
	if (!llmo_str_has_prefix(id, "llmo://"))
		return 0;
	return (pid_t)strtol(id + 7, NULL, 10);
}

/* The log of run `run` of a container, read whole (tests write little). */
static bool log_has(struct fx *f, const char *uid, const char *ctr, int run, const char *text)
{
	char path[PATH_MAX];
	struct llmo_buf b;
	bool ok;

	snprintf(path, sizeof(path), "%s/pods/%s/%s/%d.log", f->dir, uid, ctr, run);
	llmo_buf_init(&b, 1 << 20);
	ok = llmo_file_read(path, 1 << 20, &b, NULL) == 0 && strstr(b.data, text);
	if (!ok && getenv("DEBUG_LOGS"))
		fprintf(stderr, "%s holds:\n%s\n", path, b.data);
	llmo_buf_release(&b);
	return ok;
}

/* ---- processes ---- */

static bool stat_of(pid_t pid, char *state, pid_t *session)
{
	char path[64], buf[1024];
	FILE *fp;
	char *p;
	int sid = 0;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fp = fopen(path, "r");
	if (!fp)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%c %*d %*d %d", state, &sid) != 2)
		return false;
	*session = sid;
	return true;
}

/* Alive: exists and is not a zombie (nobody may reap orphans here). */
static bool alive(pid_t pid)
{
	char st;
	pid_t sid;

	return pid > 0 && stat_of(pid, &st, &sid) && st != 'Z' && st != 'X';
}

/* The live processes of session sid (a shim and what it runs). */
static size_t session_pids(pid_t sid, pid_t *out, size_t max)
{
	struct dirent *e;
	size_t n = 0;
	DIR *d = opendir("/proc");

	while (d && (e = readdir(d)) && n < max) {
		char *end, st;
		long pid = strtol(e->d_name, &end, 10);
		pid_t s;

		if (*end || pid <= 0)
			continue;
		if (stat_of((pid_t)pid, &st, &s) && s == sid && st != 'Z' && st != 'X')
			out[n++] = (pid_t)pid;
	}
	if (d)
		closedir(d);
	return n;
}

static bool all_dead(const pid_t *pids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (alive(pids[i]))
			return false;
	return true;
}

/* Processes whose command line holds `needle`. */
static int count_cmdline(const char *needle)
{
	struct dirent *e;
	int n = 0;
	DIR *d = opendir("/proc");

	while (d && (e = readdir(d))) {
		char path[64], buf[4096], *end;
		long pid = strtol(e->d_name, &end, 10);
		size_t len;
		FILE *fp;

		if (*end || pid <= 0 || !alive((pid_t)pid))
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/cmdline", pid);
		fp = fopen(path, "r");
		if (!fp)
			continue;
		len = fread(buf, 1, sizeof(buf) - 1, fp);
		fclose(fp);
		for (size_t i = 0; i < len; i++)
			if (buf[i] == '\0')
				buf[i] = ' ';
		buf[len] = '\0';
		if (strstr(buf, needle))
			n++;
	}
	if (d)
		closedir(d);
	return n;
}

static bool dir_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static void quiet(int severity, const char *msg)
{
}

/* ---- tests ---- */

/* restartPolicy Never, exit 3: Failed, exit code, both streams in the CRI log. */
static void test_never_fails(void **state)
{
	struct fx *f = *state;
	json_t *pod = sh_pod("u-never", "never", "Never", "echo hi; echo err >&2; exit 3");
	json_t *st;

	sync_ok(f, pod);
	WAIT_UNTIL(f, 10000, phase_is(f, "u-never", "Failed"));
	assert_int_equal(cint(f, "u-never", 0, "state.terminated.exitCode"), 3);
	assert_true(cstr_is(f, "u-never", 0, "state.terminated.reason", "Error"));
	assert_int_equal(cint(f, "u-never", 0, "restartCount"), 0);
	assert_true(log_has(f, "u-never", "main", 0, "Z stdout F hi\n"));
	assert_true(log_has(f, "u-never", "main", 0, "Z stderr F err\n"));
	assert_true(cond_is(f, "u-never", "Ready", "False"));
	st = status_of(f, "u-never");
	assert_string_equal(json_string_value(json_object_get(st, "hostIP")), "127.0.0.1");
	assert_string_equal(json_string_value(llmo_json_get_path(st, "podIPs[0].ip")), "127.0.0.1");
	assert_non_null(json_object_get(st, "startTime"));
	json_decref(st);
	assert_true(f->changes > 0);
	/* a later sync of the same pod starts nothing */
	sync_ok(f, pod);
	assert_int_equal(cint(f, "u-never", 0, "restartCount"), 0);
	json_decref(pod);
}

/* OnFailure and exit 0: Succeeded, reason Completed. */
static void test_on_failure_succeeds(void **state)
{
	struct fx *f = *state;
	json_t *pod = sh_pod("u-ok", "ok", "OnFailure", "exit 0");

	sync_ok(f, pod);
	WAIT_UNTIL(f, 10000, phase_is(f, "u-ok", "Succeeded"));
	assert_true(cstr_is(f, "u-ok", 0, "state.terminated.reason", "Completed"));
	json_decref(pod);
}

/* restartPolicy Always: restarts, CrashLoopBackOff between them, growing delays. */
static void test_always_backoff(void **state)
{
	struct fx *f = *state;
	json_t *pod = sh_pod("u-crash", "crash", "Always", "echo crash; exit 1");
	int64_t gap1, gap2;
	char path[PATH_MAX];
	struct llmo_buf b;

	llmo_buf_init(&b, 4096);
	f->watch_uid = "u-crash";
	sync_ok(f, pod);
	WAIT_UNTIL(f, 15000, f->last_restarts >= 3);
	assert_true(f->saw_backoff);
	gap1 = f->restart_at[2] - f->restart_at[1];
	gap2 = f->restart_at[3] - f->restart_at[2];
	/* first restart at once, then 300 ms, then 600 ms */
	/* (measured when the changes were reported: allow for the loop's latency) */
	assert_true(gap1 >= BACKOFF_BASE_MS - 100);
	assert_true(gap2 >= 2 * BACKOFF_BASE_MS - 100);
	assert_true(gap2 > gap1);
	assert_true(phase_is(f, "u-crash", "Running"));
	WAIT_UNTIL(f, 5000, cint(f, "u-crash", 0, "lastState.terminated.exitCode") == 1);
	assert_true(cstr_is(f, "u-crash", 0, "lastState.terminated.reason", "Error"));
	/* the current and previous runs' logs are kept, older ones go (both runs are
	 * complete while it waits) */
	WAIT_UNTIL(f, 5000, cstr_is(f, "u-crash", 0, "state.waiting.reason", "CrashLoopBackOff"));
	assert_int_equal(llmo_runtime_log_path(f->rt, "default", "crash", "main", false, path,
					       sizeof(path), NULL, NULL),
			 0);
	assert_true(llmo_file_read(path, 4096, &b, NULL) == 0 && strstr(b.data, "crash"));
	llmo_buf_reset(&b);
	assert_int_equal(llmo_runtime_log_path(f->rt, "default", "crash", "main", true, path,
					       sizeof(path), NULL, NULL),
			 0);
	assert_true(llmo_file_read(path, 4096, &b, NULL) == 0 && strstr(b.data, "crash"));
	llmo_buf_release(&b);
	snprintf(path, sizeof(path), "%s/pods/u-crash/main/0.log", f->dir);
	assert_int_not_equal(access(path, F_OK), 0);
	f->watch_uid = NULL;
	json_decref(pod);
}

/* $(PORT) expansion, host ports, a readiness httpGet probe on a named port. */
static void test_ports_and_readiness(void **state)
{
	struct fx *f = *state;
	json_t *pod = json_pack(
		"{s:{s:s, s:s, s:s}, s:{s:[{s:s, s:s, s:[s, s, s, s, s, s], s:[{s:s, s:s}, {s:s, "
		"s:s}, {s:s, s:s}], s:[{s:i, s:s}, {s:i, s:s}], s:{s:{s:s, s:s}, s:i}}]}}",
		"metadata", "name", "web", "namespace", "default", "uid", "u-web", "spec",
		"containers", "name", "main", "image", "python", "args", "python3", "-m",
		"http.server", "$(PORT)", "--bind", "127.0.0.1", "env", "name", "PYTHONUNBUFFERED",
		"value", "1", "name", "PORT", "value", "1", "name", "WHERE", "value",
		"at $(PORT_METRICS_PORT)", "ports", "containerPort", 8000, "name", "http",
		"containerPort", 9000, "name", "metrics-port", "readinessProbe", "httpGet", "path",
		"/", "port", "http", "periodSeconds", 1);
	json_t *ports;
	char want[64];
	int web, metrics;

	assert_non_null(pod);
	sync_ok(f, pod);
	ports = llmo_runtime_pod_ports(f->rt, "u-web");
	assert_non_null(ports);
	web = (int)json_integer_value(json_object_get(ports, "8000"));
	metrics = (int)json_integer_value(json_object_get(ports, "9000"));
	json_decref(ports);
	assert_true(web > 0 && metrics > 0 && web != metrics);
	assert_true(cond_is(f, "u-web", "Ready", "False"));
	WAIT_UNTIL(f, 20000, cond_is(f, "u-web", "Ready", "True"));
	assert_true(cond_is(f, "u-web", "ContainersReady", "True"));
	assert_true(phase_is(f, "u-web", "Running"));
	snprintf(want, sizeof(want), "port %d", web);
	WAIT_UNTIL(f, 5000, log_has(f, "u-web", "main", 0, want)); /* Serving HTTP on ... port N */
	/* the probe's request, logged by the server just after it answered */
	WAIT_UNTIL(f, 5000, log_has(f, "u-web", "main", 0, "\"GET / HTTP/1.1\" 200"));
	assert_null(llmo_runtime_pod_ports(f->rt, "nope"));
	json_decref(pod);
}

/* An HTTPS readiness probe (certificates are not verified, as kubelet does not). */
static void test_https_probe(void **state)
{
	struct fx *f = *state;
	char cmd[PATH_MAX * 3];
	json_t *pod;

	snprintf(cmd, sizeof(cmd),
		 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
		 "-keyout %s/key.pem -out %s/cert.pem -days 1 -subj /CN=127.0.0.1 >/dev/null 2>&1",
		 f->dir, f->dir);
	if (system(cmd) != 0)
		skip(); /* no openssl command here */
	snprintf(cmd, sizeof(cmd),
		 "import http.server, ssl, sys\n"
		 "s = http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), "
		 "http.server.SimpleHTTPRequestHandler)\n"
		 "c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\n"
		 "c.load_cert_chain('%s/cert.pem', '%s/key.pem')\n"
		 "s.socket = c.wrap_socket(s.socket, server_side=True)\n"
		 "s.serve_forever()\n",
		 f->dir, f->dir);
	pod = json_pack("{s:{s:s, s:s, s:s}, s:{s:[{s:s, s:s, s:[s, s, s, s], s:s, s:[{s:i}], "
			"s:{s:{s:i, s:s}, s:i}}]}}",
			"metadata", "name", "tls", "namespace", "default", "uid", "u-tls", "spec",
			"containers", "name", "main", "image", "python", "command", "python3", "-c",
			cmd, "$(PORT)", "workingDir", f->dir, "ports", "containerPort", 8443,
			"readinessProbe", "httpGet", "port", 8443, "scheme", "HTTPS",
			"periodSeconds", 1);
	assert_non_null(pod);
	sync_ok(f, pod);
	WAIT_UNTIL(f, 20000, cond_is(f, "u-tls", "Ready", "True"));
	json_decref(pod);
}

/* Liveness failure kills and restarts; tcpSocket readiness failing keeps it unready;
 * an exec startup probe passes. */
static void test_liveness_restarts(void **state)
{
	struct fx *f = *state;
	json_t *pod = sh_pod("u-live", "live", "Always", "echo up; sleep 1000");
	json_t *c = ctr0(pod);
	char path[PATH_MAX];
	struct llmo_buf b;

	json_object_set_new(json_object_get(pod, "spec"), "terminationGracePeriodSeconds",
			    json_integer(1));
	json_object_set_new(c, "ports", json_pack("[{s:i}]", "containerPort", 8000));
	json_object_set_new(c, "livenessProbe",
			    json_pack("{s:{s:s, s:i}, s:i, s:i}", "httpGet", "path", "/healthz",
				      "port", 8000, "periodSeconds", 1, "failureThreshold", 1));
	json_object_set_new(c, "readinessProbe",
			    json_pack("{s:{s:i}, s:i}", "tcpSocket", "port", 8000,
				      "periodSeconds", 1));
	json_object_set_new(c, "startupProbe",
			    json_pack("{s:{s:[s]}, s:i}", "exec", "command", "true",
				      "periodSeconds", 1));
	sync_ok(f, pod);
	WAIT_UNTIL(f, 15000, cint(f, "u-live", 0, "restartCount") >= 1);
	/* SIGTERM (forwarded by the shim) ended it: 128 + 15 */
	WAIT_UNTIL(f, 5000, cint(f, "u-live", 0, "lastState.terminated.exitCode") == 143);
	assert_int_equal(cint(f, "u-live", 0, "lastState.terminated.signal"), 15);
	assert_true(cond_is(f, "u-live", "Ready", "False"));
	assert_int_equal(llmo_runtime_log_path(f->rt, "default", "live", "main", true, path,
					       sizeof(path), NULL, NULL),
			 0);
	llmo_buf_init(&b, 4096);
	assert_true(llmo_file_read(path, 4096, &b, NULL) == 0 && strstr(b.data, "up\n"));
	llmo_buf_release(&b);
	json_decref(pod);
}

/* GPUs from the annotation, the environment, the local-command annotation, $(VAR). */
static void test_env_and_gpus(void **state)
{
	struct fx *f = *state;
	json_t *pod = sh_pod("u-env", "envpod", "Never", "false");
	json_t *self = sh_pod("u-self", "self", "Never", "true");
	json_t *nogpu = sh_pod("u-nogpu", "nogpu", "Never",
			       "echo cuda=[$CUDA_VISIBLE_DEVICES] nv=[$NVIDIA_VISIBLE_DEVICES] "
			       "set=${CUDA_VISIBLE_DEVICES+yes}");
	json_t *ann = llmo_json_get_path(pod, "metadata.annotations");

	setenv("LLMO_TEST_SECRET", "leaked", 1);
	json_object_set_new(ann, LLMO_RUNTIME_ANN_GPUS, json_string("0,2"));
	json_object_set_new(
		ann, LLMO_RUNTIME_ANN_COMMAND,
		json_string("[\"sh\", \"-c\", \"echo cuda=[$CUDA_VISIBLE_DEVICES] "
			    "nv=[$NVIDIA_VISIBLE_DEVICES] pod=$POD_NAME ns=$POD_NAMESPACE "
			    "uid=$POD_UID node=$NODE_NAME secret=[$LLMO_TEST_SECRET] home=$HOME\"]"));
	json_array_append_new(
		llmo_json_get_path(pod, "spec.containers"),
		json_pack("{s:s, s:s, s:[s, s, s, s, s, s], s:[{s:s, s:s}, {s:s, s:s}, {s:s, "
			  "s:{s:{s:s}}}]}",
			  "name", "expand", "image", "x", "command", "printf", "%s|%s|%s|%s\\n",
			  "$(X)", "$$(X)", "$(NOPE)", "$(Y)-$(ME)", "env", "name", "X", "value",
			  "xval", "name", "Y", "value", "$(X)-y", "name", "ME", "valueFrom",
			  "fieldRef", "fieldPath", "metadata.name"));
	/* "llmo" is the agent's own binary even when it is not on PATH */
	json_object_set_new(ctr0(self), "command", json_pack("[s, s]", "llmo", "version"));
	sync_ok(f, pod);
	sync_ok(f, nogpu);
	sync_ok(f, self);
	WAIT_UNTIL(f, 10000, phase_is(f, "u-env", "Succeeded") && phase_is(f, "u-nogpu", "Succeeded") &&
				     phase_is(f, "u-self", "Succeeded"));
	assert_true(log_has(f, "u-self", "main", 0, "stdout F llmo "));
	assert_true(log_has(f, "u-env", "main", 0,
			    "cuda=[0,2] nv=[0,2] pod=envpod ns=default uid=u-env node=node-1 "
			    "secret=[] home="));
	assert_true(log_has(f, "u-env", "expand", 0, "xval|$(X)|$(NOPE)|xval-y-envpod\n"));
	assert_true(log_has(f, "u-nogpu", "main", 0, "cuda=[] nv=[] set=yes\n"));
	unsetenv("LLMO_TEST_SECRET");
	json_decref(pod);
	json_decref(nogpu);
	json_decref(self);
}

/* What cannot run waits with CreateContainerConfigError and sync says why. */
static void test_config_errors(void **state)
{
	struct fx *f = *state;
	json_t *img = json_pack("{s:{s:s, s:s, s:s}, s:{s:[{s:s, s:s}]}}", "metadata", "name",
				"vllm", "namespace", "default", "uid", "u-img", "spec",
				"containers", "name", "server", "image", "vllm/vllm-openai:latest");
	json_t *secret = sh_pod("u-secret", "secret", "Always", "true");
	struct llmo_error err = {0};
	char msg[1024];

	assert_int_equal(llmo_runtime_sync_pod(f->rt, img, &err), LLMO_EINVAL);
	assert_non_null(strstr(err.msg, "no local command is known for image"));
	WAIT_UNTIL(f, 2000, cstr_is(f, "u-img", 0, "state.waiting.reason",
				    "CreateContainerConfigError"));
	cstr(f, "u-img", 0, "state.waiting.message", msg, sizeof(msg));
	assert_non_null(strstr(msg, "\"server\""));
	assert_non_null(strstr(msg, "vllm/vllm-openai:latest"));
	assert_true(phase_is(f, "u-img", "Pending"));

	json_object_set_new(ctr0(secret), "env",
			    json_pack("[{s:s, s:{s:{s:s, s:s}}}]", "name", "TOKEN", "valueFrom",
				      "secretKeyRef", "name", "s", "key", "k"));
	assert_int_equal(llmo_runtime_sync_pod(f->rt, secret, &err), LLMO_EINVAL);
	assert_non_null(strstr(err.msg, "valueFrom.secretKeyRef"));

	/* no uid: nothing kept */
	json_object_del(json_object_get(secret, "metadata"), "uid");
	assert_int_equal(llmo_runtime_sync_pod(f->rt, secret, &err), LLMO_EINVAL);
	json_decref(img);
	json_decref(secret);
}

/* Deletion: SIGTERM first (a trap logs it), SIGKILL after the grace period. */
static void test_graceful_termination(void **state)
{
	struct fx *f = *state;
	json_t *pod = sh_pod("u-term", "term", "Always",
			     "trap 'echo got TERM' TERM; echo ready; while :; do sleep 0.1; done");
	pid_t pids[32], shim;
	size_t n;
	int64_t t0, took;
	char path[PATH_MAX];

	sync_ok(f, pod);
	WAIT_UNTIL(f, 10000, log_has(f, "u-term", "main", 0, "ready"));
	shim = shim_pid(f, "u-term", 0);
	assert_true(shim > 0);
	n = session_pids(shim, pids, LLMO_ARRAY_LEN(pids));
	assert_true(n >= 2); /* the shim and sh */
	assert_false(llmo_runtime_pod_terminated(f->rt, "u-term"));

	json_object_set_new(json_object_get(pod, "metadata"), "deletionTimestamp",
			    json_string("2026-11-26T00:00:00Z"));
	json_object_set_new(json_object_get(pod, "metadata"), "deletionGracePeriodSeconds",
			    json_integer(1));
	t0 = llmo_clock_mono_ms();
	sync_ok(f, pod);
	WAIT_UNTIL(f, 10000, llmo_runtime_pod_terminated(f->rt, "u-term"));
	took = llmo_clock_mono_ms() - t0;
	assert_true(took >= 900);
	assert_true(log_has(f, "u-term", "main", 0, "got TERM"));
	assert_int_equal(cint(f, "u-term", 0, "state.terminated.exitCode"), 137);
	assert_int_equal(cint(f, "u-term", 0, "restartCount"), 0);
	assert_true(phase_is(f, "u-term", "Failed"));
	assert_true(all_dead(pids, n));

	/* the caller deletes the pod object; then it is removed here too */
	llmo_runtime_remove_pod(f->rt, "u-term");
	WAIT_UNTIL(f, 5000, !llmo_runtime_pod_known(f->rt, "u-term"));
	snprintf(path, sizeof(path), "%s/pods/u-term", f->dir);
	assert_false(dir_exists(path));
	json_decref(pod);
}

/* remove_pod: a process that ignores SIGTERM is killed 2 s later; nothing stays. */
static void test_remove_kills(void **state)
{
	struct fx *f = *state;
	json_t *pod = sh_pod("u-stubborn", "stubborn", "Always",
			     "trap '' TERM; echo ready; while :; do sleep 0.1; done");
	pid_t pids[32];
	size_t n;
	int64_t t0;

	sync_ok(f, pod);
	WAIT_UNTIL(f, 10000, log_has(f, "u-stubborn", "main", 0, "ready"));
	n = session_pids(shim_pid(f, "u-stubborn", 0), pids, LLMO_ARRAY_LEN(pids));
	assert_true(n >= 2);
	t0 = llmo_clock_mono_ms();
	llmo_runtime_remove_pod(f->rt, "u-stubborn");
	WAIT_UNTIL(f, 10000, !llmo_runtime_pod_known(f->rt, "u-stubborn"));
	assert_true(llmo_clock_mono_ms() - t0 >= 1900);
	assert_true(all_dead(pids, n));
	json_decref(pod);
}

/*
 * Usage of a pod's process tree: a shell in a busy loop uses one core, an
 * idle one almost none. One busy loop cannot exceed 1000 millicores; the
 * clock tick (1/CLK_TCK s, 10 ms at 100 Hz) over a 1 s window adds at most
 * 1%, hence <= 1100. Below: the test machine is shared, so the loop may get
 * less than a core; 250 millicores is far above what the idle pod shows
 * (< 100) and still far below a busy core. Memory is the shell's and the
 * shim's resident sets: more than 100 KiB, less than 256 MiB.
 */
static void test_usage(void **state)
{
	struct fx *f = *state;
	json_t *busy = sh_pod("u-busy", "busy", "Always", "echo ready; while :; do :; done");
	json_t *idle = sh_pod("u-idle", "idle", "Always", "echo ready; exec sleep 60");
	int64_t cpu = -1, mem = -1, icpu = -1, imem = -1, t0;

	assert_int_equal(llmo_runtime_pod_usage(f->rt, "u-none", &cpu, &mem), LLMO_ENOTFOUND);
	sync_ok(f, busy);
	sync_ok(f, idle);
	WAIT_UNTIL(f, 10000, log_has(f, "u-busy", "main", 0, "ready") &&
				     log_has(f, "u-idle", "main", 0, "ready"));
	/* the first reading is the reference */
	assert_int_equal(llmo_runtime_pod_usage(f->rt, "u-busy", &cpu, &mem), LLMO_EAGAIN);
	assert_int_equal(llmo_runtime_pod_usage(f->rt, "u-idle", &icpu, &imem), LLMO_EAGAIN);
	t0 = llmo_clock_mono_ms();
	WAIT_UNTIL(f, 5000, llmo_clock_mono_ms() >= t0 + 1000);
	assert_int_equal(llmo_runtime_pod_usage(f->rt, "u-busy", &cpu, &mem), 0);
	assert_int_equal(llmo_runtime_pod_usage(f->rt, "u-idle", &icpu, &imem), 0);
	print_message("busy: %" PRId64 "m %" PRId64 " B; idle: %" PRId64 "m %" PRId64 " B\n", cpu,
		      mem, icpu, imem);
	assert_in_range(cpu, 250, 1100);
	assert_in_range(icpu, 0, 99);
	assert_in_range(mem, 100 << 10, 256 << 20);
	assert_in_range(imem, 100 << 10, 256 << 20);
	/* a terminating pod has no usage */
	llmo_runtime_remove_pod(f->rt, "u-busy");
	assert_int_equal(llmo_runtime_pod_usage(f->rt, "u-busy", &cpu, &mem), LLMO_ENOTFOUND);
	json_decref(busy);
	json_decref(idle);
}

/*
 * Adoption after an agent crash: a forked "agent" starts the pod and exits
 * without stopping it; this process's runtime syncs the same pod, starts no
 * second process, and sees the adopted process's exit later (through /proc:
 * it is not our child).
 */
static void test_adoption(void **state)
{
	struct fx *f = *state;
	char flag[PATH_MAX], script[PATH_MAX + 128], marker[PATH_MAX + 32];
	json_t *pod;
	int fds[2];
	pid_t agent, adopted = 0;
	int st;

	snprintf(flag, sizeof(flag), "%s/flag", f->dir);
	snprintf(script, sizeof(script),
		 "while [ ! -e %s ]; do sleep 0.05; done; echo bye; exit 7", flag);
	snprintf(marker, sizeof(marker), "[ ! -e %s ]", flag);
	pod = sh_pod("u-adopt", "adopt", "Never", script);
	assert_int_equal(pipe(fds), 0);
	agent = fork();
	assert_true(agent >= 0);
	if (agent == 0) {
		struct event_base *base;

		/* this copy of the test's loop is not ours to use; libevent says so, quietly */
		event_set_log_callback(quiet);
		base = event_base_new();
		struct llmo_runtime_opts o = {.state_dir = f->dir, .shim_path = LLMO_BIN,
					      .node_name = "node-1", .host_ip = "127.0.0.1"};
		struct llmo_runtime *rt = NULL;
		struct timeval tv = {0, 20000};
		pid_t pid = 0;

		close(fds[0]);
		if (base && llmo_runtime_new(base, &o, &rt, NULL) == 0 &&
		    llmo_runtime_sync_pod(rt, pod, NULL) == 0) {
			for (int i = 0; i < 250 && !pid; i++) {
				json_t *s = llmo_runtime_pod_status(rt, "u-adopt");
				const char *id = json_string_value(llmo_json_get_path(
					s, "containerStatuses[0].containerID"));

				if (id && llmo_json_get_path(s, "containerStatuses[0].state.running"))
					pid = (pid_t)strtol(id + 7, NULL, 10);
				json_decref(s);
				event_base_loopexit(base, &tv);
				event_base_dispatch(base);
			}
		}
		if (write(fds[1], &pid, sizeof(pid)) < 0)
			_exit(1);
		_exit(0); /* the "agent" dies: no free, no cleanup */
	}
	close(fds[1]);
	assert_int_equal(read(fds[0], &adopted, sizeof(adopted)), (ssize_t)sizeof(adopted));
	close(fds[0]);
	assert_int_equal(waitpid(agent, &st, 0), agent);
	assert_true(adopted > 0);
	assert_true(alive(adopted));
	WAIT_UNTIL(f, 5000, count_cmdline(marker) == 2); /* the shim and its sh */

	sync_ok(f, pod);
	assert_int_equal(shim_pid(f, "u-adopt", 0), adopted);
	assert_true(running(f, "u-adopt", 0));
	/* a moment on the loop: still one run, no second shim */
	for (int i = 0; i < 10; i++)
		event_base_loop(f->base, EVLOOP_ONCE);
	assert_int_equal(count_cmdline(marker), 2);
	assert_int_equal(cint(f, "u-adopt", 0, "restartCount"), 0);

	assert_int_equal(llmo_file_write_atomic(flag, "", 0, 0644, NULL), 0);
	WAIT_UNTIL(f, 10000, phase_is(f, "u-adopt", "Failed"));
	assert_int_equal(cint(f, "u-adopt", 0, "state.terminated.exitCode"), 7);
	assert_true(log_has(f, "u-adopt", "main", 0, "bye"));
	json_decref(pod);
}

/* Adoption within one process (a runtime freed and made again): processes keep
 * running across llmo_runtime_free and the new runtime reaps its child. */
static void test_free_keeps_processes(void **state)
{
	struct fx *f = *state;
	json_t *pod = sh_pod("u-keep", "keep", "Always", "echo ready; sleep 1000");
	pid_t shim;

	sync_ok(f, pod);
	WAIT_UNTIL(f, 10000, log_has(f, "u-keep", "main", 0, "ready"));
	shim = shim_pid(f, "u-keep", 0);
	llmo_runtime_free(f->rt);
	rt_open(f);
	assert_true(alive(shim));
	sync_ok(f, pod);
	assert_int_equal(shim_pid(f, "u-keep", 0), shim);
	assert_true(running(f, "u-keep", 0));
	/* its exit is seen: kill the command, the shim records it, Always restarts */
	kill(-shim, SIGTERM);
	WAIT_UNTIL(f, 10000, cint(f, "u-keep", 0, "restartCount") == 1 && running(f, "u-keep", 0));
	assert_true(shim_pid(f, "u-keep", 0) != shim);
	json_decref(pod);
}

/* A record no agent synced: collect_orphans kills it and removes its directory. */
static void test_orphans(void **state)
{
	struct fx *f = *state;
	json_t *pod = sh_pod("u-orphan", "orphan", "Always", "echo ready; sleep 1000");
	pid_t pids[32];
	size_t n;
	char path[PATH_MAX];

	sync_ok(f, pod);
	WAIT_UNTIL(f, 10000, log_has(f, "u-orphan", "main", 0, "ready"));
	n = session_pids(shim_pid(f, "u-orphan", 0), pids, LLMO_ARRAY_LEN(pids));
	assert_true(n >= 2);
	llmo_runtime_free(f->rt);
	assert_false(all_dead(pids, n));
	rt_open(f);
	assert_int_equal(llmo_runtime_collect_orphans(f->rt), 1);
	WAIT_UNTIL(f, 10000, !llmo_runtime_pod_known(f->rt, "u-orphan"));
	assert_true(all_dead(pids, n));
	snprintf(path, sizeof(path), "%s/pods/u-orphan", f->dir);
	assert_false(dir_exists(path));
	assert_int_equal(llmo_runtime_collect_orphans(f->rt), 0);
	json_decref(pod);
}

/* ---- the log server ---- */

struct http_res {
	int code;
	bool done;
	struct llmo_buf body;
	int64_t first_chunk_ms, done_ms;
};

static void on_chunk(struct evhttp_request *req, void *arg)
{
	struct http_res *r = arg;
	struct evbuffer *b = evhttp_request_get_input_buffer(req);
	size_t n = evbuffer_get_length(b);

	if (n && !r->first_chunk_ms)
		r->first_chunk_ms = llmo_clock_mono_ms();
	llmo_buf_grow(&r->body, n);
	evbuffer_remove(b, r->body.data + r->body.len, n);
	r->body.len += n;
	r->body.data[r->body.len] = '\0';
}

static void on_done(struct evhttp_request *req, void *arg)
{
	struct http_res *r = arg;

	r->code = req ? evhttp_request_get_response_code(req) : 0;
	if (req)
		on_chunk(req, arg);
	r->done = true;
	r->done_ms = llmo_clock_mono_ms();
}

static void http_get(struct fx *f, int port, const char *token, const char *uri,
		     struct http_res *r)
{
	struct evhttp_connection *conn = evhttp_connection_base_new(f->base, NULL, "127.0.0.1",
								    (unsigned short)port);
	struct evhttp_request *req = evhttp_request_new(on_done, r);
	char auth[128];

	memset(r, 0, sizeof(*r));
	llmo_buf_init(&r->body, 4 << 20);
	evhttp_request_set_chunked_cb(req, on_chunk);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Host", "127.0.0.1");
	if (token) {
		snprintf(auth, sizeof(auth), "Bearer %s", token);
		evhttp_add_header(evhttp_request_get_output_headers(req), "Authorization", auth);
	}
	assert_int_equal(evhttp_make_request(conn, req, EVHTTP_REQ_GET, uri), 0);
	WAIT_UNTIL(f, 15000, r->done);
	evhttp_connection_free(conn);
}

static void expect_body(struct fx *f, int port, const char *uri, int code, const char *body)
{
	struct http_res r;

	http_get(f, port, TOKEN, uri, &r);
	if (r.code != code || (body && strcmp(r.body.data, body) != 0))
		fail_msg("GET %s: %d \"%.200s\", want %d \"%.200s\"", uri, r.code, r.body.data, code,
			 body ? body : "*");
	llmo_buf_release(&r.body);
}

static void test_logserver(void **state)
{
	struct fx *f = *state;
	struct llmo_logserver_opts lo = {.token = TOKEN};
	struct llmo_logserver *ls = NULL;
	struct llmo_error err = {0};
	char counter[PATH_MAX], script[PATH_MAX * 2], want[32768];
	json_t *pod, *follow;
	struct http_res r;
	int port;
	const char *p;

	assert_int_equal(llmo_logserver_new(f->base, f->rt, &lo, &ls, &err), 0);
	port = llmo_logserver_port(ls);
	assert_true(port > 0);

	/* run 0 prints and fails; run 1 prints and stays */
	snprintf(counter, sizeof(counter), "%s/counter", f->dir);
	snprintf(script, sizeof(script),
		 "n=$(cat %s 2>/dev/null || echo 0); echo $((n+1)) > %s; echo \"run $n line 1\"; "
		 "echo \"run $n line 2\"; head -c 20000 /dev/zero | tr '\\0' x; echo; "
		 "echo \"run $n line 3\"; if [ $n -ge 1 ]; then exec sleep 1000; fi; exit 1",
		 counter, counter);
	pod = sh_pod("u-logs", "logs", "Always", script);
	sync_ok(f, pod);
	WAIT_UNTIL(f, 10000, cint(f, "u-logs", 0, "restartCount") == 1 &&
				     log_has(f, "u-logs", "main", 1, "run 1 line 3"));

	memset(want, 'x', 20000);
	want[20000] = '\0';
	{
		char full[32768];

		snprintf(full, sizeof(full), "run 1 line 1\nrun 1 line 2\n%s\nrun 1 line 3\n", want);
		expect_body(f, port, "/containerLogs/default/logs/main", 200, full);
		snprintf(full, sizeof(full), "run 0 line 1\nrun 0 line 2\n%s\nrun 0 line 3\n", want);
		expect_body(f, port, "/containerLogs/default/logs/main?previous=true", 200, full);
	}
	expect_body(f, port, "/containerLogs/default/logs/main?tailLines=1", 200, "run 1 line 3\n");
	expect_body(f, port, "/containerLogs/default/logs/main?tailLines=0", 200, "");
	expect_body(f, port, "/containerLogs/default/logs/main?limitBytes=5", 200, "run 1");
	expect_body(f, port, "/containerLogs/default/logs/main?sinceSeconds=3600&tailLines=1", 200,
		    "run 1 line 3\n");
	expect_body(f, port, "/containerLogs/default/logs/main?sinceTime=2099-01-01T00:00:00Z", 200,
		    "");

	http_get(f, port, TOKEN, "/containerLogs/default/logs/main?timestamps=true&tailLines=1", &r);
	assert_int_equal(r.code, 200);
	/* 2026-11-26T19:40:00.123456789Z run 1 line 3 */
	p = r.body.data;
	assert_true(strlen(p) == 31 + strlen("run 1 line 3\n"));
	assert_true(p[4] == '-' && p[10] == 'T' && p[19] == '.' && p[29] == 'Z' && p[30] == ' ');
	assert_string_equal(p + 31, "run 1 line 3\n");
	llmo_buf_release(&r.body);

	expect_body(f, port, "/containerLogs/default/logs/main?tailLines=abc", 400, NULL);
	expect_body(f, port, "/containerLogs/default/logs/main?follow=maybe", 400, NULL);
	expect_body(f, port, "/containerLogs/default/nope/main", 404, NULL);
	expect_body(f, port, "/containerLogs/default/logs/nope", 404, NULL);
	expect_body(f, port, "/containerLogs/default/logs", 404, NULL);

	http_get(f, port, NULL, "/containerLogs/default/logs/main", &r);
	assert_int_equal(r.code, 401);
	llmo_buf_release(&r.body);
	http_get(f, port, "wrong-token-123", "/containerLogs/default/logs/main", &r);
	assert_int_equal(r.code, 401);
	llmo_buf_release(&r.body);

	/* follow: lines arrive as they are written; the reply ends with the run */
	follow = sh_pod("u-follow", "follow", "Never",
			"for i in 1 2 3 4 5; do echo tick $i; sleep 0.2; done");
	sync_ok(f, follow);
	WAIT_UNTIL(f, 10000, running(f, "u-follow", 0));
	http_get(f, port, TOKEN, "/containerLogs/default/follow/main?follow=true", &r);
	assert_int_equal(r.code, 200);
	assert_string_equal(r.body.data, "tick 1\ntick 2\ntick 3\ntick 4\ntick 5\n");
	assert_true(r.done_ms - r.first_chunk_ms >= 400); /* streamed, not at the end */
	assert_true(phase_is(f, "u-follow", "Succeeded"));
	llmo_buf_release(&r.body);

	llmo_logserver_free(ls);
	json_decref(pod);
	json_decref(follow);
}

/* A log no container writes (llmo server's own, llmo_logserver_set_file): current and previous. */
static void test_logserver_file(void **state)
{
	struct fx *f = *state;
	struct llmo_logserver_opts lo = {.token = TOKEN};
	struct llmo_logserver *ls = NULL;
	char cur[PATH_MAX], prev[PATH_MAX], gone[PATH_MAX];
	int port, fd;

	assert_int_equal(llmo_logserver_new(f->base, f->rt, &lo, &ls, NULL), 0);
	port = llmo_logserver_port(ls);
	snprintf(cur, sizeof(cur), "%s/server.log", f->dir);
	snprintf(prev, sizeof(prev), "%s/server.previous.log", f->dir);
	snprintf(gone, sizeof(gone), "%s/none.log", f->dir);
	fd = open(cur, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	llmo_cri_write_line(fd, "stderr", false, "now 1", 5);
	llmo_cri_write_line(fd, "stderr", false, "now 2", 5);
	close(fd);
	fd = open(prev, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	llmo_cri_write_line(fd, "stderr", false, "before", 6);
	close(fd);

	assert_int_equal(llmo_logserver_set_file(ls, "sys", "srv-node", "llmo", cur, prev, NULL), 0);
	expect_body(f, port, "/containerLogs/sys/srv-node/llmo", 200, "now 1\nnow 2\n");
	expect_body(f, port, "/containerLogs/sys/srv-node/llmo?tailLines=1", 200, "now 2\n");
	expect_body(f, port, "/containerLogs/sys/srv-node/llmo?previous=true", 200, "before\n");
	expect_body(f, port, "/containerLogs/sys/srv-node/other", 404,
		    "container \"other\" in pod \"srv-node\" not found\n");
	/* another pod, or the same name in another namespace: the runtime's (none here) */
	expect_body(f, port, "/containerLogs/other/srv-node/llmo", 404, NULL);
	/* no previous run (its file is not there), and no previous file at all */
	assert_int_equal(llmo_logserver_set_file(ls, "sys", "srv-node", "llmo", cur, gone, NULL), 0);
	expect_body(f, port, "/containerLogs/sys/srv-node/llmo?previous=true", 404,
		    "previous terminated container \"llmo\" in pod \"srv-node\" not found\n");
	assert_int_equal(llmo_logserver_set_file(ls, "sys", "srv-node", "llmo", cur, NULL, NULL), 0);
	expect_body(f, port, "/containerLogs/sys/srv-node/llmo?previous=true", 404, NULL);
	expect_body(f, port, "/containerLogs/sys/srv-node/llmo", 200, "now 1\nnow 2\n");
	llmo_logserver_free(ls);
}

/* A client that leaves a followed stream: the server notices and frees it. */
static void test_logserver_client_leaves(void **state)
{
	struct fx *f = *state;
	struct llmo_logserver_opts lo = {.token = TOKEN};
	struct llmo_logserver *ls = NULL;
	json_t *pod = sh_pod("u-chat", "chat", "Always", "while :; do echo tick; sleep 0.1; done");
	struct evhttp_connection *conn;
	struct evhttp_request *req;
	struct http_res r;

	assert_int_equal(llmo_logserver_new(f->base, f->rt, &lo, &ls, NULL), 0);
	sync_ok(f, pod);
	WAIT_UNTIL(f, 10000, log_has(f, "u-chat", "main", 0, "tick"));
	memset(&r, 0, sizeof(r));
	llmo_buf_init(&r.body, 4 << 20);
	conn = evhttp_connection_base_new(f->base, NULL, "127.0.0.1",
					  (unsigned short)llmo_logserver_port(ls));
	req = evhttp_request_new(on_done, &r);
	evhttp_request_set_chunked_cb(req, on_chunk);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Authorization",
			  "Bearer " TOKEN);
	assert_int_equal(evhttp_make_request(conn, req, EVHTTP_REQ_GET,
					     "/containerLogs/default/chat/main?follow=1"),
			 0);
	WAIT_UNTIL(f, 10000, strstr(r.body.data, "tick\ntick\ntick\n") != NULL);
	evhttp_connection_free(conn); /* the client goes away mid-stream */
	for (int i = 0; i < 30; i++)
		event_base_loop(f->base, EVLOOP_ONCE);
	llmo_logserver_free(ls); /* LeakSanitizer checks nothing of the stream was lost */
	llmo_buf_release(&r.body);
	json_decref(pod);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_never_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_on_failure_succeeds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_always_backoff, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ports_and_readiness, setup, teardown),
		cmocka_unit_test_setup_teardown(test_https_probe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_liveness_restarts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_env_and_gpus, setup, teardown),
		cmocka_unit_test_setup_teardown(test_config_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_graceful_termination, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remove_kills, setup, teardown),
		cmocka_unit_test_setup_teardown(test_usage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_adoption, setup, teardown),
		cmocka_unit_test_setup_teardown(test_free_keeps_processes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_orphans, setup, teardown),
		cmocka_unit_test_setup_teardown(test_logserver, setup, teardown),
		cmocka_unit_test_setup_teardown(test_logserver_client_leaves, setup, teardown),
		cmocka_unit_test_setup_teardown(test_logserver_file, setup, teardown),
	};

	llmo_log_set_level(LLMO_LOG_WARN);
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
