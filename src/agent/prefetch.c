/*
 * The agent's model prefetch; see prefetch.h.
 */
#include "base/common.h"

#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/fetchrun.h"
#include "agent/prefetch.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/str.h"
#include "registry/fetch.h"

#include "base/banned.h"

#define LOG "agent"

struct failed {
	char ref[LLMO_PREFETCH_REF_MAX];
	int64_t until_ms; /* monotonic: not before */
};

struct llmo_prefetcher {
	char *shim_path, *cache_dir;
	struct llmo_strv args;
	char log_path[PATH_MAX], reason_path[PATH_MAX];
	pid_t pid; /* 0: none running */
	bool cancelling;
	char running[LLMO_PREFETCH_REF_MAX];
	struct failed failed[LLMO_PREFETCH_FAILED_MAX];
	size_t nfailed;
};

int llmo_prefetcher_new(const struct llmo_prefetcher_opts *o, struct llmo_prefetcher **out,
			struct llmo_error *err)
{
	struct llmo_prefetcher *p;
	int rc = 0;

	*out = NULL;
	if (!o->shim_path || !o->cache_dir || !o->state_dir)
		return llmo_error_set(err, LLMO_EINVAL,
				      "prefetch: the llmo binary, cache and state directories are needed");
	p = calloc(1, sizeof(*p));
	if (!p)
		return llmo_error_set(err, LLMO_ENOMEM, "prefetch: out of memory");
	p->args = (struct llmo_strv)LLMO_STRV_INIT;
	p->shim_path = llmo_strdup(o->shim_path);
	p->cache_dir = llmo_strdup(o->cache_dir);
	if (!p->shim_path || !p->cache_dir)
		rc = LLMO_ENOMEM;
	for (size_t i = 0; o->fetch_args && o->fetch_args[i] && !rc; i++)
		rc = llmo_strv_push(&p->args, o->fetch_args[i]);
	if (!rc && (snprintf(p->log_path, sizeof(p->log_path), "%s/prefetch.log", o->state_dir) >=
			    (int)sizeof(p->log_path) ||
		    snprintf(p->reason_path, sizeof(p->reason_path), "%s/prefetch.reason",
			     o->state_dir) >= (int)sizeof(p->reason_path)))
		rc = llmo_error_set(err, LLMO_EINVAL, "prefetch: state directory path too long");
	else if (rc)
		rc = llmo_error_set(err, rc, "prefetch: out of memory");
	if (rc) {
		llmo_prefetcher_free(p);
		return rc;
	}
	*out = p;
	return 0;
}

bool llmo_prefetcher_busy(const struct llmo_prefetcher *p)
{
	return p->pid > 0;
}

void llmo_prefetcher_free(struct llmo_prefetcher *p)
{
	if (!p)
		return;
	if (p->pid > 0) {
		int st;

		kill(p->pid, SIGTERM);
		while (waitpid(p->pid, &st, 0) < 0 && errno == EINTR)
			;
	}
	llmo_strv_release(&p->args);
	free(p->shim_path);
	free(p->cache_dir);
	free(p);
}

static bool failed_lately(const struct llmo_prefetcher *p, const char *ref, int64_t now)
{
	for (size_t i = 0; i < p->nfailed; i++)
		if (strcmp(p->failed[i].ref, ref) == 0 && now < p->failed[i].until_ms)
			return true;
	return false;
}

static void remember_failure(struct llmo_prefetcher *p, const char *ref)
{
	size_t i;

	for (i = 0; i < p->nfailed && strcmp(p->failed[i].ref, ref) != 0; i++)
		;
	if (i == p->nfailed) {
		if (p->nfailed == LLMO_PREFETCH_FAILED_MAX) {
			memmove(p->failed, p->failed + 1, sizeof(p->failed[0]) * (p->nfailed - 1));
			i = --p->nfailed;
		}
		p->nfailed++;
	}
	snprintf(p->failed[i].ref, sizeof(p->failed[i].ref), "%s", ref);
	p->failed[i].until_ms = llmo_clock_mono_ms() + LLMO_PREFETCH_RETRY_MS;
}

/* Why the fetch failed, from its reason file; a generic reason when it left none. */
static void read_reason(const struct llmo_prefetcher *p, int st, struct llmo_prefetch_result *res)
{
	llmo__fetch_why(p->reason_path, p->log_path, st, res->reason, sizeof(res->reason),
			res->message, sizeof(res->message));
}

static void reap(struct llmo_prefetcher *p, struct llmo_prefetch_result *res)
{
	int st = 0;
	pid_t r;

	if (!llmo__fetch_reap(p->pid, &st, &r))
		return; /* none, or still running */
	res->ended = true;
	snprintf(res->ref, sizeof(res->ref), "%s", p->running);
	res->cancelled = p->cancelling;
	res->ok = r == p->pid && WIFEXITED(st) && WEXITSTATUS(st) == 0;
	if (!res->ok && !res->cancelled) {
		read_reason(p, st, res);
		remember_failure(p, p->running);
	}
	p->pid = 0;
	p->cancelling = false;
	p->running[0] = '\0';
}

/* Starts `llmo fetch REF ...` with its output in the log file; 0 or an errno. */
static int start(struct llmo_prefetcher *p, const char *ref)
{
	const char *const extra[] = {"--progress", "none", "--reason-file", p->reason_path, NULL};
	int e = llmo__fetch_spawn(p->shim_path, ref, &p->args, extra, p->log_path, p->reason_path,
				  &p->pid);

	if (!e)
		snprintf(p->running, sizeof(p->running), "%s", ref);
	return e;
}

/* Whether the annotation's requests (an object) list ref. */
static bool listed(const json_t *req, const char *ref)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)req, k, v) {
		if (json_string_value(v) && strcmp(json_string_value(v), ref) == 0)
			return true;
	}
	return false;
}

void llmo_prefetcher_step(struct llmo_prefetcher *p, const json_t *node,
			  struct llmo_prefetch_result *res)
{
	const char *text, *k;
	json_t *req = NULL, *v;
	int64_t now = llmo_clock_mono_ms();
	size_t seen = 0;

	memset(res, 0, sizeof(*res));
	reap(p, res);
	if (!node)
		return;
	text = json_string_value(json_object_get(
		json_object_get(json_object_get(node, "metadata"), "annotations"),
		LLMO_ANNOTATION_PREFETCH));
	if (text && strlen(text) <= LLMO_PREFETCH_ANNOTATION_MAX)
		req = json_loads(text, 0, NULL);
	if (!json_is_object(req)) {
		json_decref(req);
		req = json_object();
	}
	if (p->pid > 0) {
		if (!p->cancelling && !listed(req, p->running)) {
			llmo_log(LLMO_LOG_INFO, LOG, "prefetch no longer asked, stopping",
				 "model=%s", p->running);
			kill(p->pid, SIGTERM);
			p->cancelling = true;
		}
		goto out; /* one at a time */
	}
	json_object_foreach(req, k, v) {
		const char *ref = json_string_value(v), *hex;
		int e;

		if (++seen > LLMO_PREFETCH_REFS_MAX)
			break;
		if (!ref || strlen(ref) >= LLMO_PREFETCH_REF_MAX || !(hex = llmo_model_ref_hex(ref)) ||
		    llmo_model_cache_complete(p->cache_dir, hex) || failed_lately(p, ref, now))
			continue;
		e = start(p, ref);
		if (e) {
			llmo_log(LLMO_LOG_WARN, LOG, "prefetch start failed", "model=%s error=\"%s\"",
				 ref, strerror(e));
			remember_failure(p, ref);
			continue;
		}
		llmo_log(LLMO_LOG_INFO, LOG, "prefetch started", "model=%s for=%s pid=%d", ref, k,
			 (int)p->pid);
		break;
	}
out:
	json_decref(req);
}
