/*
 * The fetch step of replicas the kubelet runs; see podfetch.h.
 */
#include "base/common.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "agent/fetchrun.h"
#include "agent/podfetch.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/file.h"
#include "base/json.h"
#include "base/log.h"
#include "base/str.h"
#include "registry/fetch.h"

#include "base/banned.h"

#define LOG "agent"
/* How often a running fetch is looked at. */
#define POLL_MS 500
/* Longest status file read back (after an agent restart). */
#define STATUS_MAX 8192

enum pf_state { PF_WAITING, PF_RUNNING, PF_READY, PF_FAILED };

struct pf_pod {
	char uid[LLMO_PODFETCH_UID_MAX + 1];
	char *ref;
	char *sig_key; /* NULL: none named */
	bool sig_required;
	enum pf_state state;
	int attempt;
	int64_t due_ms; /* PF_FAILED: tried again from then (monotonic) */
	long backoff_ms;
};

struct llmo_podfetcher {
	char *shim_path, *cache_dir;
	struct llmo_strv args;
	struct pf_pod *pods;
	size_t n;
	pid_t pid; /* 0: none running */
	char running[LLMO_PODFETCH_UID_MAX + 1];
};

bool llmo_podfetch_uid_ok(const char *s)
{
	size_t n = 0;

	for (; s && s[n]; n++)
		if (!isalnum((unsigned char)s[n]) && s[n] != '-')
			return false;
	return n > 0 && n <= LLMO_PODFETCH_UID_MAX;
}

int llmo_podfetcher_new(const struct llmo_podfetcher_opts *o, struct llmo_podfetcher **out,
			struct llmo_error *err)
{
	struct llmo_podfetcher *p;
	int rc = 0;

	*out = NULL;
	if (!o->shim_path || !o->cache_dir)
		return llmo_error_set(err, LLMO_EINVAL,
				      "pod fetch: the llmo binary and the cache directory are needed");
	p = calloc(1, sizeof(*p));
	if (!p)
		return llmo_error_set(err, LLMO_ENOMEM, "pod fetch: out of memory");
	p->args = (struct llmo_strv)LLMO_STRV_INIT;
	p->shim_path = llmo_strdup(o->shim_path);
	p->cache_dir = llmo_strdup(o->cache_dir);
	p->pods = calloc(LLMO_PODFETCH_PODS_MAX, sizeof(*p->pods));
	if (!p->shim_path || !p->cache_dir || !p->pods)
		rc = LLMO_ENOMEM;
	for (size_t i = 0; o->fetch_args && o->fetch_args[i] && !rc; i++)
		rc = llmo_strv_push(&p->args, o->fetch_args[i]);
	if (rc) {
		llmo_podfetcher_free(p);
		return llmo_error_set(err, rc, "pod fetch: out of memory");
	}
	*out = p;
	return 0;
}

static void stop_child(struct llmo_podfetcher *p)
{
	int st;

	if (p->pid <= 0)
		return;
	kill(p->pid, SIGTERM);
	while (waitpid(p->pid, &st, 0) < 0 && errno == EINTR)
		;
	p->pid = 0;
	p->running[0] = '\0';
}

static void pod_release(struct pf_pod *pod)
{
	free(pod->ref);
	free(pod->sig_key);
	memset(pod, 0, sizeof(*pod));
}

void llmo_podfetcher_free(struct llmo_podfetcher *p)
{
	if (!p)
		return;
	stop_child(p);
	for (size_t i = 0; i < p->n; i++)
		pod_release(&p->pods[i]);
	free(p->pods);
	llmo_strv_release(&p->args);
	free(p->shim_path);
	free(p->cache_dir);
	free(p);
}

bool llmo_podfetcher_busy(const struct llmo_podfetcher *p)
{
	return p->pid > 0;
}

/* DIR/pods/UID[/leaf]; false when it does not fit. */
static bool pod_path(const struct llmo_podfetcher *p, const char *uid, const char *leaf,
		     char *out, size_t n)
{
	int w = leaf ? snprintf(out, n, "%s/" LLMO_PODFETCH_DIR "/%s/%s", p->cache_dir, uid, leaf)
		     : snprintf(out, n, "%s/" LLMO_PODFETCH_DIR "/%s", p->cache_dir, uid);

	return w > 0 && (size_t)w < n;
}

static struct pf_pod *find(struct llmo_podfetcher *p, const char *uid)
{
	for (size_t i = 0; i < p->n; i++)
		if (strcmp(p->pods[i].uid, uid) == 0)
			return &p->pods[i];
	return NULL;
}

static void model_dir(const struct llmo_podfetcher *p, const char *ref, char *out, size_t n)
{
	snprintf(out, n, "%s/models/%s", p->cache_dir, llmo_model_ref_hex(ref));
}

/* Writes DIR/pods/UID/status (and the directory); failures are logged. */
static void write_status(struct llmo_podfetcher *p, const struct pf_pod *pod, const char *reason,
			 const char *message, long retry_s)
{
	struct llmo_error err = {0};
	char path[PATH_MAX], dir[PATH_MAX];
	static const char *const names[] = {"waiting", "fetching", "ready", "failed"};
	json_t *j = json_pack("{s:s, s:s, s:i}", "state", names[pod->state], "ref", pod->ref,
			      "attempt", pod->attempt);
	char *text = NULL;

	if (j && pod->state == PF_READY) {
		model_dir(p, pod->ref, path, sizeof(path));
		json_object_set_new(j, "path", json_string(path));
	} else if (j && pod->state == PF_FAILED) {
		json_object_set_new(j, "reason", json_string(reason));
		json_object_set_new(j, "message", json_string(message));
		json_object_set_new(j, "retryInSeconds", json_integer(retry_s));
	}
	text = j ? llmo_json_dump(j, false) : NULL;
	json_decref(j);
	if (!text || !pod_path(p, pod->uid, NULL, dir, sizeof(dir)) ||
	    !pod_path(p, pod->uid, "status", path, sizeof(path)) || llmo_mkdir_p(dir, 0755, &err) ||
	    llmo_file_write_atomic(path, text, strlen(text), 0644, &err))
		llmo_log(LLMO_LOG_WARN, LOG, "pod fetch status not written", "pod_uid=%s error=\"%s\"",
			 pod->uid, text ? err.msg : "out of memory");
	free(text);
}

/* Whether the status on disk says this reference is ready and the model is still there. */
static bool ready_on_disk(struct llmo_podfetcher *p, const struct pf_pod *pod)
{
	char path[PATH_MAX];
	struct llmo_buf b;
	json_t *j = NULL;
	bool ok = false;

	if (!pod_path(p, pod->uid, "status", path, sizeof(path)))
		return false;
	llmo_buf_init(&b, STATUS_MAX);
	if (llmo_file_read(path, STATUS_MAX, &b, NULL) == 0)
		j = json_loads(b.data, 0, NULL);
	ok = json_is_string(json_object_get(j, "state")) &&
	     strcmp(json_string_value(json_object_get(j, "state")), "ready") == 0 &&
	     json_is_string(json_object_get(j, "ref")) &&
	     strcmp(json_string_value(json_object_get(j, "ref")), pod->ref) == 0 &&
	     llmo_model_cache_complete(p->cache_dir, llmo_model_ref_hex(pod->ref));
	json_decref(j);
	llmo_buf_release(&b);
	return ok;
}

int llmo_podfetcher_want(struct llmo_podfetcher *p, const char *uid, const char *ref,
			 bool sig_required, const char *sig_key, struct llmo_error *err)
{
	struct pf_pod *pod;

	if (!llmo_podfetch_uid_ok(uid))
		return llmo_error_set(err, LLMO_EINVAL, "pod uid \"%.80s\" cannot name a directory",
				      uid ? uid : "");
	if (!ref || strlen(ref) >= LLMO_PODFETCH_REF_MAX || ref[0] == '-' || !llmo_model_ref_hex(ref))
		return llmo_error_set(err, LLMO_EINVAL,
				      "pod %s: model reference \"%.200s\" is not pinned by a sha256 "
				      "digest",
				      uid, ref ? ref : "");
	pod = find(p, uid);
	if (pod && strcmp(pod->ref, ref) == 0 && pod->sig_required == sig_required &&
	    ((!pod->sig_key && !sig_key) ||
	     (pod->sig_key && sig_key && strcmp(pod->sig_key, sig_key) == 0)))
		return 0;
	if (pod) {
		if (strcmp(p->running, uid) == 0)
			stop_child(p);
		pod_release(pod);
	} else {
		if (p->n == LLMO_PODFETCH_PODS_MAX)
			return llmo_error_set(err, LLMO_ETOOBIG,
					      "pod %s: more than %d pods with a model on this node",
					      uid, LLMO_PODFETCH_PODS_MAX);
		pod = &p->pods[p->n++];
	}
	snprintf(pod->uid, sizeof(pod->uid), "%s", uid);
	pod->ref = llmo_strdup(ref);
	pod->sig_key = sig_key ? llmo_strndup(sig_key, LLMO_SIG_KEY_NAME_MAX + 1) : NULL;
	pod->sig_required = sig_required;
	if (!pod->ref || (sig_key && !pod->sig_key)) {
		pod_release(pod);
		*pod = p->pods[--p->n];
		memset(&p->pods[p->n], 0, sizeof(p->pods[p->n]));
		return llmo_error_set(err, LLMO_ENOMEM, "pod fetch: out of memory");
	}
	pod->state = ready_on_disk(p, pod) ? PF_READY : PF_WAITING;
	pod->backoff_ms = LLMO_PODFETCH_RETRY_MIN_MS;
	return 0;
}

/* Removes DIR/pods/NAME (its files) and the pin NAME. */
static void remove_pod_files(struct llmo_podfetcher *p, const char *uid)
{
	static const char *const leaves[] = {"status", "log", "reason"};
	char path[PATH_MAX];

	for (size_t i = 0; i < LLMO_ARRAY_LEN(leaves); i++)
		if (pod_path(p, uid, leaves[i], path, sizeof(path)))
			unlink(path);
	if (pod_path(p, uid, NULL, path, sizeof(path)) && rmdir(path) && errno != ENOENT)
		llmo_log(LLMO_LOG_WARN, LOG, "pod fetch directory not removed",
			 "path=%s error=\"%s\"", path, strerror(errno));
	llmo_model_cache_pin(p->cache_dir, uid, NULL, NULL);
}

void llmo_podfetcher_forget(struct llmo_podfetcher *p, const char *uid)
{
	struct pf_pod *pod = uid ? find(p, uid) : NULL;

	if (!pod)
		return;
	if (strcmp(p->running, uid) == 0)
		stop_child(p);
	remove_pod_files(p, uid);
	pod_release(pod);
	*pod = p->pods[--p->n];
	memset(&p->pods[p->n], 0, sizeof(p->pods[p->n]));
}

/* Names in DIR/sub that are pod uids no longer followed: removed. */
static int collect_in(struct llmo_podfetcher *p, const char *sub)
{
	char path[PATH_MAX];
	struct dirent *e;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "%s/%s", p->cache_dir, sub);
	if (!(d = opendir(path)))
		return 0;
	while ((e = readdir(d))) {
		if (!llmo_podfetch_uid_ok(e->d_name) || find(p, e->d_name))
			continue;
		remove_pod_files(p, e->d_name);
		n++;
	}
	closedir(d);
	return n;
}

int llmo_podfetcher_collect(struct llmo_podfetcher *p)
{
	int n = collect_in(p, LLMO_PODFETCH_DIR);

	return n + collect_in(p, "pins");
}

static void reap(struct llmo_podfetcher *p, struct llmo_podfetch_result *res)
{
	char reason_path[PATH_MAX], log_path[PATH_MAX];
	struct pf_pod *pod;
	int st = 0;
	pid_t r;

	if (!llmo__fetch_reap(p->pid, &st, &r))
		return; /* none, or still running */
	pod = find(p, p->running);
	p->pid = 0;
	p->running[0] = '\0';
	if (!pod)
		return;
	res->ended = true;
	snprintf(res->uid, sizeof(res->uid), "%s", pod->uid);
	snprintf(res->ref, sizeof(res->ref), "%s", pod->ref);
	res->attempt = pod->attempt;
	res->ok = r > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
	if (res->ok) {
		pod->state = PF_READY;
		pod->backoff_ms = LLMO_PODFETCH_RETRY_MIN_MS;
		write_status(p, pod, NULL, NULL, 0);
		return;
	}
	pod_path(p, pod->uid, "reason", reason_path, sizeof(reason_path));
	pod_path(p, pod->uid, "log", log_path, sizeof(log_path));
	llmo__fetch_why(reason_path, log_path, st, res->reason, sizeof(res->reason), res->message,
			sizeof(res->message));
	pod->state = PF_FAILED;
	pod->due_ms = llmo_clock_mono_ms() + pod->backoff_ms;
	res->retry_s = pod->backoff_ms / 1000;
	pod->backoff_ms = LLMO_MIN(pod->backoff_ms * 2, LLMO_PODFETCH_RETRY_MAX_MS);
	write_status(p, pod, res->reason, res->message, res->retry_s);
}

/* Starts the fetch of pod; false when it could not start (logged, retried later). */
static bool start(struct llmo_podfetcher *p, struct pf_pod *pod)
{
	char dir[PATH_MAX], log_path[PATH_MAX], reason_path[PATH_MAX];
	const char *extra[12];
	struct llmo_error err = {0};
	size_t n = 0;
	int e;

	if (!pod_path(p, pod->uid, NULL, dir, sizeof(dir)) ||
	    !pod_path(p, pod->uid, "log", log_path, sizeof(log_path)) ||
	    !pod_path(p, pod->uid, "reason", reason_path, sizeof(reason_path)) ||
	    llmo_mkdir_p(dir, 0755, &err)) {
		e = err.code ? EIO : ENAMETOOLONG;
		goto fail;
	}
	/* the LLMModel's spec.signature (only stricter than the agent's own options) */
	if (pod->sig_required)
		extra[n++] = "--require-signature";
	if (pod->sig_key) {
		extra[n++] = "--key-ref";
		extra[n++] = pod->sig_key;
	}
	extra[n++] = "--pin";
	extra[n++] = pod->uid;
	extra[n++] = "--progress";
	extra[n++] = "plain";
	extra[n++] = "--reason-file";
	extra[n++] = reason_path;
	extra[n] = NULL;
	pod->attempt++;
	pod->state = PF_RUNNING;
	write_status(p, pod, NULL, NULL, 0);
	e = llmo__fetch_spawn(p->shim_path, pod->ref, &p->args, extra, log_path, reason_path,
			      &p->pid);
	if (e)
		goto fail;
	snprintf(p->running, sizeof(p->running), "%s", pod->uid);
	llmo_log(LLMO_LOG_INFO, LOG, "pod model fetch started",
		 "pod_uid=%s model=%s attempt=%d pid=%d", pod->uid, pod->ref, pod->attempt,
		 (int)p->pid);
	return true;
fail:
	llmo_log(LLMO_LOG_WARN, LOG, "pod model fetch not started",
		 "pod_uid=%s model=%s error=\"%s\"", pod->uid, pod->ref,
		 err.code ? err.msg : strerror(e));
	pod->state = PF_FAILED;
	pod->due_ms = llmo_clock_mono_ms() + pod->backoff_ms;
	return false;
}

int64_t llmo_podfetcher_step(struct llmo_podfetcher *p, bool may_start,
			     struct llmo_podfetch_result *res)
{
	int64_t now = llmo_clock_mono_ms(), next = 0;

	memset(res, 0, sizeof(*res));
	reap(p, res);
	for (size_t i = 0; may_start && p->pid <= 0 && i < p->n; i++) {
		struct pf_pod *pod = &p->pods[i];

		if (pod->state == PF_WAITING || (pod->state == PF_FAILED && pod->due_ms <= now))
			start(p, pod);
	}
	if (p->pid > 0)
		return now + POLL_MS;
	for (size_t i = 0; i < p->n; i++) {
		const struct pf_pod *pod = &p->pods[i];
		int64_t due = pod->state == PF_WAITING ? now + POLL_MS
			      : pod->state == PF_FAILED ? pod->due_ms
							 : 0;

		if (due && (!next || due < next))
			next = due;
	}
	return next;
}
