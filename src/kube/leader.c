/*
 * Leader election on a Lease: a background thread campaigns and renews,
 * the loop thread hears about it through a mailbox. See leader.h.
 */
#include "base/common.h"

#include <pthread.h>
#include <time.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/str.h"
#include "kube/client_int.h"
#include "kube/leader.h"
#include "kube/mailbox.h"

#define LOG "leader"
/* Callback messages waiting for the loop (a handful at most in practice). */
#define LEADER_QUEUE_MAX 64
/* The release on stop gets this long. */
#define LEADER_RELEASE_TIMEOUT_MS 2000
/* Shortest timeout of one election request. */
#define LEADER_REQUEST_MIN_MS 50

enum msg_kind { MSG_STARTED, MSG_STOPPED, MSG_NEW_LEADER };

struct msg {
	struct llmo__mail link; /* first */
	enum msg_kind kind;
	char *identity;
};

struct llmo_leader {
	struct llmo_kube_client *client;
	char *ns, *name, *identity;
	long lease_ms, renew_ms, retry_ms;
	void (*started_leading)(void *ctx);
	void (*stopped_leading)(void *ctx);
	void (*new_leader)(void *ctx, const char *identity);
	void *ctx;
	struct llmo__mailbox mb;
	bool loop_leading; /* loop thread */

	pthread_t thread;
	bool running;
	volatile int stop;

	/* the thread's view */
	bool leading;
	char *observed_holder;
	char *observed_renew;
	int64_t observed_ms; /* monotonic time of the last change seen */
};

int llmo_kube_microtime(int64_t wall_ms, char *out, size_t n)
{
	time_t t = (time_t)(wall_ms >= 0 ? wall_ms / 1000 : (wall_ms - 999) / 1000);
	long us = (long)(wall_ms - (int64_t)t * 1000) * 1000;
	struct tm tm;
	int w;

	if (!gmtime_r(&t, &tm) || tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 0)
		return LLMO_ERANGE;
	w = snprintf(out, n, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900,
		     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, us);
	return w < 0 || (size_t)w >= n ? LLMO_EINVAL : 0;
}

/* ---- loop side ---- */

static void msg_free(struct llmo__mail *m)
{
	struct msg *x = (struct msg *)m;

	free(x->identity);
	free(x);
}

static void deliver(void *ctx, struct llmo__mail *m)
{
	struct llmo_leader *l = ctx;
	struct msg *x = (struct msg *)m;

	switch (x->kind) {
	case MSG_STARTED:
		if (!l->loop_leading) {
			l->loop_leading = true;
			if (l->started_leading)
				l->started_leading(l->ctx);
		}
		break;
	case MSG_STOPPED:
		if (l->loop_leading) {
			l->loop_leading = false;
			if (l->stopped_leading)
				l->stopped_leading(l->ctx);
		}
		break;
	case MSG_NEW_LEADER:
		if (l->new_leader)
			l->new_leader(l->ctx, x->identity);
		break;
	}
	msg_free(m);
}

/* ---- the thread ---- */

static void post(struct llmo_leader *l, enum msg_kind kind, const char *identity)
{
	struct msg *x = calloc(1, sizeof(*x));

	if (!x || (identity && !(x->identity = llmo_strdup(identity)))) {
		free(x);
		LLMO_ERROR(LOG, "out of memory; a leader callback is lost", NULL);
		return;
	}
	x->kind = kind;
	/* dropped only when stopping: llmo_leader_stop then settles the state itself */
	llmo__mailbox_post(&l->mb, &x->link, &l->stop);
}

static int replace_str(char **dst, const char *s)
{
	char *c = llmo_strdup(s ? s : "");

	if (!c)
		return LLMO_ENOMEM;
	free(*dst);
	*dst = c;
	return 0;
}

/* Notes the holder and renewTime seen; tells the loop when the holder changed. */
static void observe(struct llmo_leader *l, const char *holder, const char *renew)
{
	bool holder_changed = !l->observed_holder || strcmp(l->observed_holder, holder) != 0;

	if (holder_changed || !l->observed_renew || strcmp(l->observed_renew, renew) != 0) {
		l->observed_ms = llmo_clock_mono_ms();
		if (replace_str(&l->observed_holder, holder) ||
		    replace_str(&l->observed_renew, renew))
			LLMO_ERROR(LOG, "out of memory", NULL);
		if (holder_changed && *holder)
			post(l, MSG_NEW_LEADER, holder);
	}
}

static long lease_seconds(const struct llmo_leader *l)
{
	return (l->lease_ms + 999) / 1000;
}

/* Sets spec to this candidate holding the lease from now. */
static int fill_spec(struct llmo_leader *l, json_t *spec, bool acquired, json_int_t transitions)
{
	char now[LLMO_MICROTIME_MAX];
	int rc = llmo_kube_microtime(llmo_clock_wall_ms(), now, sizeof(now));

	if (rc)
		return rc;
	if (json_object_set_new(spec, "holderIdentity", json_string(l->identity)) ||
	    json_object_set_new(spec, "leaseDurationSeconds", json_integer(lease_seconds(l))) ||
	    json_object_set_new(spec, "renewTime", json_string(now)))
		return LLMO_ENOMEM;
	if (acquired && (json_object_set_new(spec, "acquireTime", json_string(now)) ||
			 json_object_set_new(spec, "leaseTransitions", json_integer(transitions))))
		return LLMO_ENOMEM;
	return 0;
}

/* Request options that end the request by the monotonic deadline. */
static struct llmo__kube_req_opts opts_by(struct llmo_leader *l, int64_t deadline)
{
	struct llmo__kube_req_opts o = {.stop = &l->stop, .attempts = 1};

	o.timeout_ms =
		(long)LLMO_MAX(deadline - llmo_clock_mono_ms(), (int64_t)LEADER_REQUEST_MIN_MS);
	o.connect_timeout_ms = o.timeout_ms;
	return o;
}

/*
 * One try, all of it by the monotonic deadline (a leader must know whether
 * it renewed before its renew deadline passes): 0 when this candidate holds
 * the lease now (acquired or renewed), 1 when another candidate holds it,
 * or an error.
 */
static int try_acquire_or_renew(struct llmo_leader *l, int64_t deadline, struct llmo_error *err)
{
	struct llmo__kube_req_opts opts = opts_by(l, deadline);
	json_t *lease = NULL, *spec, *obj = NULL;
	const char *holder, *renew;
	struct llmo_buf path;
	json_int_t dur, transitions;
	int64_t renew_ms = 0;
	bool mine;
	int rc;

	llmo_buf_init(&path, 4096);
	if ((rc = llmo_kube_path(&llmo_kube_leases, l->ns, l->name, NULL, &path))) {
		rc = llmo_error_set(err, rc, "lease path: %s", llmo_strerror(rc));
		goto out;
	}
	rc = llmo__kube_request(l->client, "GET", path.data, NULL, NULL, &lease, NULL, &opts, err);
	if (rc == LLMO_ENOTFOUND) {
		obj = json_pack("{s:s, s:s, s:{s:s, s:s}, s:{}}", "apiVersion",
				"coordination.k8s.io/v1", "kind", "Lease", "metadata", "name",
				l->name, "namespace", l->ns, "spec");
		if (!obj || (rc = fill_spec(l, json_object_get(obj, "spec"), true, 0))) {
			rc = llmo_error_set(err, LLMO_ENOMEM, "out of memory");
			goto out;
		}
		llmo_buf_reset(&path);
		llmo_kube_path(&llmo_kube_leases, l->ns, NULL, NULL, &path);
		opts = opts_by(l, deadline);
		rc = llmo__kube_request(l->client, "POST", path.data, NULL, obj, NULL, NULL, &opts,
					err);
		if (rc == LLMO_EEXIST || rc == LLMO_ECONFLICT)
			rc = 1; /* another candidate created it first */
		if (rc == 0)
			observe(l, l->identity, "");
		goto out;
	}
	if (rc)
		goto out;
	spec = json_object_get(lease, "spec");
	if (!json_is_object(spec)) {
		spec = json_object();
		if (!spec || json_object_set_new(lease, "spec", spec)) {
			rc = llmo_error_set(err, LLMO_ENOMEM, "out of memory");
			goto out;
		}
	}
	holder = json_string_value(json_object_get(spec, "holderIdentity"));
	renew = json_string_value(json_object_get(spec, "renewTime"));
	dur = json_integer_value(json_object_get(spec, "leaseDurationSeconds"));
	transitions = json_integer_value(json_object_get(spec, "leaseTransitions"));
	holder = holder ? holder : "";
	renew = renew ? renew : "";
	observe(l, holder, renew);
	mine = strcmp(holder, l->identity) == 0;
	if (*holder && !mine) {
		int64_t now_wall = llmo_clock_wall_ms();
		bool expired;

		if (dur <= 0)
			dur = lease_seconds(l);
		expired = (*renew && llmo_time_parse_rfc3339(renew, &renew_ms, NULL) == 0 &&
			   renew_ms + dur * 1000 < now_wall) ||
			  llmo_clock_mono_ms() - l->observed_ms > dur * 1000;
		if (!expired) {
			rc = 1;
			goto out;
		}
	}
	/* free, expired, or ours: write ourselves in, conditional on the resourceVersion read */
	if ((rc = fill_spec(l, spec, !mine, transitions + (mine ? 0 : 1)))) {
		rc = llmo_error_set(err, rc, "lease: %s", llmo_strerror(rc));
		goto out;
	}
	opts = opts_by(l, deadline);
	rc = llmo__kube_request(l->client, "PUT", path.data, NULL, lease, NULL, NULL, &opts, err);
	if (rc == LLMO_ECONFLICT)
		rc = 1; /* someone else wrote it first */
	if (rc == 0 && !mine)
		observe(l, l->identity, json_string_value(json_object_get(spec, "renewTime")));
out:
	json_decref(lease);
	json_decref(obj);
	llmo_buf_release(&path);
	return rc;
}

/* Gives the lease up (holderIdentity "") if this candidate still holds it. */
static void release(struct llmo_leader *l)
{
	struct llmo__kube_req_opts opts = {.timeout_ms = LEADER_RELEASE_TIMEOUT_MS, .attempts = 1};
	struct llmo_error err = {0};
	json_t *lease = NULL, *spec;
	char now[LLMO_MICROTIME_MAX], q[LLMO_LOG_QUOTE_MAX];
	struct llmo_buf path;
	const char *holder;
	int rc;

	llmo_buf_init(&path, 4096);
	if (llmo_kube_path(&llmo_kube_leases, l->ns, l->name, NULL, &path))
		goto out;
	rc = llmo__kube_request(l->client, "GET", path.data, NULL, NULL, &lease, NULL, &opts, &err);
	if (rc)
		goto fail;
	spec = json_object_get(lease, "spec");
	holder = json_string_value(json_object_get(spec, "holderIdentity"));
	if (!holder || strcmp(holder, l->identity) != 0)
		goto out;
	llmo_kube_microtime(llmo_clock_wall_ms(), now, sizeof(now));
	json_object_set_new(spec, "holderIdentity", json_string(""));
	json_object_set_new(spec, "leaseDurationSeconds", json_integer(1));
	json_object_set_new(spec, "renewTime", json_string(now));
	rc = llmo__kube_request(l->client, "PUT", path.data, NULL, lease, NULL, NULL, &opts, &err);
	if (rc)
		goto fail;
	LLMO_INFO(LOG, "released the lease", "lease=%s/%s identity=%s", l->ns, l->name,
		  l->identity);
	goto out;
fail:
	LLMO_WARN(LOG, "could not release the lease; it will expire", "lease=%s/%s error=%s", l->ns,
		  l->name, llmo_log_quote(q, sizeof(q), err.msg));
out:
	json_decref(lease);
	llmo_buf_release(&path);
}

static void *run(void *arg)
{
	struct llmo_leader *l = arg;
	int64_t last_renew = 0;

	while (!llmo__kube_stopped(&l->stop)) {
		struct llmo_error err = {0};
		/* a renewal counts from when it was sent: the Lease's renewTime is about then */
		int64_t tried = llmo_clock_mono_ms(), now;
		int64_t deadline = l->leading ? last_renew + l->renew_ms : tried + l->renew_ms;
		int rc = try_acquire_or_renew(l, deadline, &err);
		char q[LLMO_LOG_QUOTE_MAX];
		long wait;

		now = llmo_clock_mono_ms();
		if (llmo__kube_stopped(&l->stop))
			break;
		if (rc == 0) {
			last_renew = tried;
			if (!l->leading) {
				l->leading = true;
				LLMO_INFO(LOG, "became leader", "lease=%s/%s identity=%s", l->ns,
					  l->name, l->identity);
				post(l, MSG_STARTED, NULL);
			}
		} else if (l->leading && (rc == 1 || now - last_renew > l->renew_ms)) {
			/* another holder is certain loss; errors only past the deadline */
			l->leading = false;
			LLMO_WARN(LOG, "lost the lease", "lease=%s/%s identity=%s error=%s", l->ns,
				  l->name, l->identity,
				  llmo_log_quote(q, sizeof(q),
						 rc == 1 ? "held by another" : err.msg));
			post(l, MSG_STOPPED, NULL);
		} else if (rc < 0) {
			LLMO_DEBUG(LOG, "election try failed", "lease=%s/%s error=%s", l->ns,
				   l->name, llmo_log_quote(q, sizeof(q), err.msg));
		}
		/* candidates spread their tries; a leader renews on time */
		wait = l->leading
			       ? l->retry_ms
			       : llmo__kube_rand_range(l->retry_ms, l->retry_ms + l->retry_ms / 5);
		if (llmo__kube_sleep(wait, &l->stop))
			break;
	}
	if (l->leading) {
		release(l);
		l->leading = false;
		post(l, MSG_STOPPED, NULL);
	}
	return NULL;
}

/* ---- life cycle ---- */

int llmo_leader_new(struct llmo_kube_client *client, struct event_base *base,
		    const struct llmo_leader_config *cfg, struct llmo_leader **out,
		    struct llmo_error *err)
{
	struct llmo_leader *l;
	int rc;

	*out = NULL;
	if (!cfg->ns || !*cfg->ns || !cfg->name || !*cfg->name || !cfg->identity || !*cfg->identity)
		return llmo_error_set(
			err, LLMO_EINVAL,
			"leader election: the lease namespace, name and identity are required");
	if (strlen(cfg->identity) > LLMO_LEADER_IDENTITY_MAX)
		return llmo_error_set(err, LLMO_EINVAL,
				      "leader election: the identity is longer than %d bytes",
				      LLMO_LEADER_IDENTITY_MAX);
	l = calloc(1, sizeof(*l));
	if (!l)
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	l->client = client;
	l->lease_ms =
		cfg->lease_duration_ms > 0 ? cfg->lease_duration_ms : LLMO_LEADER_LEASE_DURATION_MS;
	l->renew_ms =
		cfg->renew_deadline_ms > 0 ? cfg->renew_deadline_ms : LLMO_LEADER_RENEW_DEADLINE_MS;
	l->retry_ms = cfg->retry_period_ms > 0 ? cfg->retry_period_ms : LLMO_LEADER_RETRY_PERIOD_MS;
	if (!(l->lease_ms > l->renew_ms && l->renew_ms > l->retry_ms)) {
		rc = llmo_error_set(
			err, LLMO_EINVAL,
			"leader election: need lease duration (%ld ms) > renew deadline "
			"(%ld ms) > retry period (%ld ms)",
			l->lease_ms, l->renew_ms, l->retry_ms);
		goto fail;
	}
	l->started_leading = cfg->started_leading;
	l->stopped_leading = cfg->stopped_leading;
	l->new_leader = cfg->new_leader;
	l->ctx = cfg->ctx;
	l->ns = llmo_strdup(cfg->ns);
	l->name = llmo_strdup(cfg->name);
	l->identity = llmo_strdup(cfg->identity);
	if (!l->ns || !l->name || !l->identity) {
		rc = llmo_error_set(err, LLMO_ENOMEM, "out of memory");
		goto fail;
	}
	rc = llmo__mailbox_init(&l->mb, base, LEADER_QUEUE_MAX, deliver, msg_free, l, err);
	if (rc)
		goto fail;
	*out = l;
	return 0;
fail:
	free(l->ns);
	free(l->name);
	free(l->identity);
	free(l);
	return rc;
}

int llmo_leader_start(struct llmo_leader *l, struct llmo_error *err)
{
	int e;

	if (l->running)
		return llmo_error_set(err, LLMO_EINVAL, "leader election: already running");
	llmo__kube_set_stop(&l->stop, 0);
	l->leading = false;
	e = pthread_create(&l->thread, NULL, run, l);
	if (e)
		return llmo_error_set(err, LLMO_EIO, "leader election: cannot start a thread: %s",
				      strerror(e));
	l->running = true;
	return 0;
}

void llmo_leader_stop(struct llmo_leader *l)
{
	if (!l->running)
		return;
	llmo__kube_set_stop(&l->stop, 1);
	llmo__mailbox_wake(&l->mb);
	pthread_join(l->thread, NULL);
	l->running = false;
	/* what the thread said last, stopped_leading included, reaches the loop now */
	llmo__mailbox_flush(&l->mb);
	if (l->loop_leading) {
		l->loop_leading = false;
		if (l->stopped_leading)
			l->stopped_leading(l->ctx);
	}
}

void llmo_leader_free(struct llmo_leader *l)
{
	if (!l)
		return;
	llmo_leader_stop(l);
	llmo__mailbox_release(&l->mb);
	free(l->observed_holder);
	free(l->observed_renew);
	free(l->ns);
	free(l->name);
	free(l->identity);
	free(l);
}

bool llmo_leader_is_leader(const struct llmo_leader *l)
{
	return l->loop_leading;
}
