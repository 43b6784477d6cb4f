/*
 * The local pod runtime (runtime.h): pods as processes, each container run
 * under an `llmo shim` (src/cmd/cmd_shim.c).
 *
 * Shape: struct llmo_runtime maps uid -> struct rt_pod; a pod owns an array
 * of struct rt_ctr (allocated once: probes keep pointers to their
 * container), and a container owns up to three struct rt_probe. Everything
 * happens in libevent callbacks on the caller's base:
 *
 * - SIGCHLD (evsignal) reaps the shims and exec probes this runtime started,
 *   with one waitpid(pid, WNOHANG) per known pid;
 * - a 1 s poll notices the exit of adopted shims (not our children) through
 *   /proc, re-checks processes left behind and backs SIGCHLD up;
 * - per-container timers: restart back-off, the kill escalation; per-probe
 *   timers and evhttp / socket / child completions;
 * - one "notify" event, activated whenever something changed, rebuilds the
 *   statuses of changed pods, calls opts.changed for those that differ, and
 *   frees the pods whose removal is complete. Nothing else frees a pod, so a
 *   pod pointer stays valid through any other callback, and the caller's
 *   callback never runs inside one of ours.
 *
 * Process identity: a pid alone is not trusted across time; a shim is known
 * by (pid, start time in clock ticks from /proc/PID/stat field 22). The shim
 * is a session leader (POSIX_SPAWN_SETSID), so every process of a container
 * run shares the session id = shim pid, which is how leftovers are found
 * (the kernel does not reuse a pid while it names a session that has members).
 */
#include "base/common.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/ssl.h>

#include "agent/runtime.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/file.h"
#include "base/hmap.h"
#include "base/json.h"
#include "base/log.h"
#include "base/str.h"
#include "base/vec.h"
#include "registry/fetch.h"

#include "base/banned.h"

extern char **environ;

#define LOG "runtime"

/* How often adopted shims and leftover processes are checked. */
#define RT_POLL_MS 1000
/* remove_pod / orphans: SIGTERM, then SIGKILL this much later. */
#define RT_REMOVE_GRACE_MS 2000
/* After the command got SIGKILL, how long its shim has to record the exit. */
#define RT_SHIM_GRACE_MS 2000
/* Default terminationGracePeriodSeconds. */
#define RT_DEFAULT_GRACE_S 30
/* Longest grace period honoured (a year of seconds is surely a mistake). */
#define RT_GRACE_MAX_S 86400
/* A container that ran this long restarts without back-off. */
#define RT_BACKOFF_RESET_MS (10 * 60 * 1000L)
#define RT_BACKOFF_BASE_MS 10000L
#define RT_BACKOFF_MAX_MS 300000L
/* Caps on what a pod may declare (a pod is outside input). */
#define RT_CONTAINERS_MAX 64
/* Longest model-artifact annotation used. */
#define RT_MODEL_REF_MAX 2048
#define RT_PORTS_MAX 64
#define RT_ENV_MAX 1024
#define RT_ARGS_MAX 4096
/* Bytes of one expanded argument or env value, and of a whole command line. */
#define RT_VALUE_MAX (128 * 1024)
#define RT_ARGV_BYTES_MAX (1024 * 1024)
/* Longest uid (Kubernetes uids are 36-byte UUIDs) and container name. */
#define RT_UID_MAX 128
#define RT_NAME_MAX 63
/* record.json, an exit file, /proc/PID/stat. */
#define RT_RECORD_MAX (1024 * 1024)
#define RT_EXIT_MAX 4096
#define RT_STAT_MAX 2048
/* Messages stored in a status (the shim's, probe failures). */
#define RT_MSG_MAX 1024
/* httpGet probes: body bytes read (Kubernetes reads 10 KiB), headers. */
#define RT_PROBE_BODY_MAX (1024 * 1024)
#define RT_PROBE_HEADERS_MAX 64
/* Probe knobs, as Kubernetes bounds them. */
#define RT_PROBE_PERIOD_DEFAULT 10
#define RT_PROBE_TIMEOUT_DEFAULT 1
#define RT_PROBE_FAILURE_DEFAULT 3
#define RT_PROBE_SECONDS_MAX 86400
/* Tries at finding a host port not handed out yet. */
#define RT_PORT_TRIES 64
/* The environment variables a container inherits from the agent. */
static const char *const inherited_env[] = {"PATH", "HOME", "LANG", "TZ", "LD_LIBRARY_PATH"};
#define RT_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

enum restart_policy { RESTART_ALWAYS, RESTART_ON_FAILURE, RESTART_NEVER };
enum ctr_state { CTR_WAITING, CTR_RUNNING, CTR_TERMINATED };
enum probe_kind { PROBE_STARTUP, PROBE_READINESS, PROBE_LIVENESS, PROBE_KINDS };
enum probe_type { PROBE_HTTP, PROBE_TCP, PROBE_EXEC };

static const char *const probe_names[PROBE_KINDS] = {"Startup", "Readiness", "Liveness"};
static const char *const probe_fields[PROBE_KINDS] = {"startupProbe", "readinessProbe",
						      "livenessProbe"};

/* One finished run of a container. */
struct rt_term {
	bool set;
	int exit_code;
	int signal;
	char reason[48];
	char *message; /* heap, or NULL */
	int64_t started_ms, finished_ms;
	pid_t pid; /* the shim's: containerID */
};

struct rt_port {
	char *name; /* NULL when unnamed */
	int container_port;
	int host_port;
};

struct rt_env {
	char *name;
	char *value;
};

struct rt_ctr;

struct rt_probe {
	struct rt_ctr *ctr;
	enum probe_kind kind;
	enum probe_type type;
	/* httpGet / tcpSocket */
	char *host;
	char *path;
	bool https;
	int port; /* the port dialled: the host port when it names a containerPort */
	struct llmo_strv headers; /* name, value, name, value, ... */
	/* exec */
	struct llmo_strv cmd;
	int initial_delay_s, period_s, timeout_s, success_threshold, failure_threshold;
	long grace_s; /* liveness / startup kill grace; -1: the pod's */

	/* running state */
	bool active;   /* probing the current run */
	bool busy;     /* a check is in flight */
	int successes; /* consecutive */
	int failures;  /* consecutive */
	int64_t check_started_ms;
	struct event *timer; /* the next check */
	struct event *io;    /* tcpSocket: connect completion or timeout; exec: timeout */
	int fd;
	struct evhttp_connection *conn; /* freed at the next check or at stop, never in its callback */
	pid_t exec_pid;
	bool exec_abandoned; /* timed out: reap it, ignore its result */
};

struct rt_ctr {
	struct rt_pod *pod;
	size_t index;
	char *name;
	char *image;
	char *workdir;
	struct llmo_strv argv; /* the command, expanded */
	struct llmo_strv envp; /* "NAME=value" */
	char *config_error;    /* set: the container cannot run (CreateContainerConfigError) */
	LLMO_VEC(struct rt_port) ports;
	struct rt_probe *probes[PROBE_KINDS];

	enum ctr_state state;
	char waiting_reason[48];
	char *waiting_message;
	/* the current (or last) run's shim */
	pid_t shim_pid;
	uint64_t shim_start;
	bool child;     /* we spawned it (or waitpid says it is ours): reap it */
	bool shim_dead; /* its exit was processed */
	bool leftovers; /* processes of its session outlived it: re-swept each poll */
	int run;        /* number of the current or last run; -1: never ran */
	int restart_count;
	int64_t started_ms;
	bool ready, started;
	struct rt_term last; /* lastState.terminated */
	struct rt_term term; /* state.terminated, when CTR_TERMINATED */
	long backoff_ms;     /* the next back-off; 0: the next restart is immediate */
	struct event *restart_timer;
	struct event *kill_timer;
	int kill_stage; /* 0: none, 1: SIGTERM sent, 2: command SIGKILLed, 3: shim SIGKILLed */
	int64_t kill_deadline_ms; /* monotonic, when the stage-1 grace ends */
};

enum { COND_SCHEDULED, COND_INITIALIZED, COND_CONTAINERS_READY, COND_READY, COND_SANDBOX, CONDS };
static const char *const cond_types[CONDS] = {"PodScheduled", "Initialized", "ContainersReady",
					      "Ready", "PodReadyToStartContainers"};

struct rt_pod {
	struct llmo_runtime *rt;
	char *uid, *ns, *name;
	char *dir; /* STATE/pods/<uid> */
	enum restart_policy restart_policy;
	long grace_s;
	int64_t start_ms;
	struct rt_ctr *ctrs;
	size_t nctrs;
	bool terminating;
	int64_t term_deadline_ms; /* monotonic */
	bool removing;            /* remove_pod / orphan: the state dir goes when all is gone */
	bool dirty;
	bool notified_terminated;
	json_t *status; /* the last status built */
	bool cond_status[CONDS];
	int64_t cond_since[CONDS];
	bool cond_known;
	char *model_ref; /* the model-artifact annotation, or NULL */
	bool sig_required; /* the model-signature-required annotation is "true" */
	char *sig_key;	   /* the model-signature-key annotation, or NULL */
	/* llmo_runtime_pod_usage's previous reading: CPU ticks at usage_ms (monotonic; 0: none) */
	uint64_t usage_ticks;
	int64_t usage_ms;
};

struct llmo_runtime {
	struct event_base *base;
	char *state_dir, *pods_dir, *shim_path, *node_name, *host_ip;
	long backoff_base_ms, backoff_max_ms;
	void (*changed)(void *ctx, const char *uid);
	void *ctx;
	int (*env_source)(void *ctx, const char *kind, const char *ns, const char *name,
			  json_t **out, struct llmo_error *err);
	struct llmo_hmap pods;  /* uid -> struct rt_pod * */
	struct llmo_hmap ports; /* "PORT" -> NULL: host ports handed out */
	struct event *sigchld, *poll, *notify;
	SSL_CTX *ssl; /* for https probes, made on first use */
	struct llmo_strv fetch_args; /* empty: no model fetch step */
	char *model_cache_dir;
};

static void ctr_start(struct rt_ctr *c);
static void ctr_kill(struct rt_ctr *c, int64_t grace_ms);
static void pod_dirty(struct rt_pod *p);
static void pod_save(struct rt_pod *p);
static void probe_schedule(struct rt_probe *pr, int64_t delay_ms);

/* ---- small helpers ---- */

static void set_str(char **dst, const char *s)
{
	free(*dst);
	*dst = s ? llmo_strdup(s) : NULL;
}

static void term_release(struct rt_term *t)
{
	free(t->message);
	memset(t, 0, sizeof(*t));
}

static void term_copy(struct rt_term *dst, const struct rt_term *src)
{
	term_release(dst);
	*dst = *src;
	dst->message = src->message ? llmo_strdup(src->message) : NULL;
}

static void fmt_time(int64_t ms, char *out, size_t n)
{
	if (llmo_time_format_rfc3339(ms, false, out, n))
		snprintf(out, n, "1970-01-01T00:00:00Z");
}

/* Go's time.Duration text for whole milliseconds: "200ms", "10s", "2m40s". */
static void fmt_duration(long ms, char *out, size_t n)
{
	if (ms % 1000)
		snprintf(out, n, "%ldms", ms);
	else if (ms < 60000)
		snprintf(out, n, "%lds", ms / 1000);
	else if (ms < 3600000)
		snprintf(out, n, "%ldm%lds", ms / 60000, (ms / 1000) % 60);
	else
		snprintf(out, n, "%ldh%ldm%lds", ms / 3600000, (ms / 60000) % 60, (ms / 1000) % 60);
}

/* Letters, digits, '-', '_', '.' only, not "." or "..": safe as one path component. */
static bool name_ok(const char *s, size_t max)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > max || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
			return false;
	return true;
}

static const char *jstr(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

/* An integer field, def when absent; false when present but not an integer in range. */
static bool jint(const json_t *obj, const char *key, long def, long min, long max, long *out)
{
	json_t *v = json_object_get(obj, key);

	if (!v) {
		*out = def;
		return true;
	}
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
		return false;
	*out = (long)json_integer_value(v);
	return true;
}

/* ---- /proc ---- */

struct proc_stat {
	char state;
	pid_t session;
	uint64_t utime, stime; /* CPU time used, clock ticks */
	uint64_t start; /* clock ticks after boot */
};

static int proc_stat_read(pid_t pid, struct proc_stat *ps)
{
	char path[64], buf[RT_STAT_MAX];
	char *p, *end;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* "pid (comm) state ppid pgrp session ...": comm may hold spaces and ')' */
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ' || !p[2])
		return -1;
	p += 2;
	ps->state = *p;
	/* field 3 is state; walk to 6 (session), 14, 15 (utime, stime) and 22 (starttime) */
	for (int field = 3; field < 22; field++) {
		p = strchr(p, ' ');
		if (!p)
			return -1;
		p++;
		if (field + 1 == 6) {
			long v = strtol(p, &end, 10);

			if (end == p)
				return -1;
			ps->session = (pid_t)v;
		} else if (field + 1 == 14 || field + 1 == 15) {
			unsigned long long v = strtoull(p, &end, 10);

			if (end == p)
				return -1;
			*(field + 1 == 14 ? &ps->utime : &ps->stime) = v;
		}
	}
	ps->start = strtoull(p, &end, 10);
	return end == p ? -1 : 0;
}

static bool state_dead(char s)
{
	return s == 'Z' || s == 'X' || s == 'x';
}

/* Whether (pid, start) names a live process (a zombie is not). */
static bool proc_alive(pid_t pid, uint64_t start)
{
	struct proc_stat ps;

	if (pid <= 0 || proc_stat_read(pid, &ps))
		return false;
	return ps.start == start && !state_dead(ps.state);
}

/*
 * Sends sig (0: none) to every live process of the session led by the shim
 * (sid, start), except `except`; returns how many live ones there were. When
 * the pid now belongs to another process, that process leads any session of
 * that number: none of ours is left.
 */
static int proc_sweep(pid_t sid, uint64_t start, int sig, pid_t except)
{
	struct proc_stat ps;
	struct dirent *e;
	int found = 0;
	DIR *d;

	if (sid <= 0)
		return 0;
	if (proc_stat_read(sid, &ps) == 0 && ps.start != start)
		return 0;
	d = opendir("/proc");
	if (!d)
		return 0;
	while ((e = readdir(d))) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);

		if (end == e->d_name || *end || pid <= 0 || pid == except)
			continue;
		if (proc_stat_read((pid_t)pid, &ps) || ps.session != sid || ps.start < start ||
		    state_dead(ps.state))
			continue;
		found++;
		if (sig)
			kill((pid_t)pid, sig);
	}
	closedir(d);
	return found;
}

/* Resident set size of pid, bytes (the second field of /proc/PID/statm, in pages); 0 if gone. */
uint64_t llmo_runtime_proc_rss(long pid)
{
	char path[64], buf[128];
	unsigned long long size, resident;
	ssize_t n;
	long page = sysconf(_SC_PAGESIZE);
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/statm", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0 || page <= 0)
		return 0;
	buf[n] = '\0';
	if (sscanf(buf, "%llu %llu", &size, &resident) != 2)
		return 0;
	return (uint64_t)resident * (uint64_t)page;
}

/*
 * CPU ticks (utime + stime) and RSS summed over the live processes of the
 * session led by the shim (sid, start), as proc_sweep finds them. A process
 * that exited takes its ticks with it, so the sum may go down between two
 * readings (the rate is clamped at 0 then).
 */
static void proc_usage(pid_t sid, uint64_t start, uint64_t *ticks, uint64_t *rss)
{
	struct proc_stat ps;
	struct dirent *e;
	DIR *d;

	if (sid <= 0 || (proc_stat_read(sid, &ps) == 0 && ps.start != start))
		return;
	if (!(d = opendir("/proc")))
		return;
	while ((e = readdir(d))) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);

		if (end == e->d_name || *end || pid <= 0)
			continue;
		if (proc_stat_read((pid_t)pid, &ps) || ps.session != sid || ps.start < start ||
		    state_dead(ps.state))
			continue;
		*ticks += ps.utime + ps.stime;
		*rss += llmo_runtime_proc_rss(pid);
	}
	closedir(d);
}

/* rm -rf of a state directory (at most `depth` levels: pods/<uid>/<ctr>/file). */
static void rm_rf(const char *path, int depth)
{
	struct dirent *e;
	char sub[PATH_MAX];
	struct stat st;
	DIR *d;

	if (lstat(path, &st) < 0)
		return;
	if (!S_ISDIR(st.st_mode) || depth <= 0) {
		unlink(path);
		return;
	}
	d = opendir(path);
	if (d) {
		while ((e = readdir(d))) {
			if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
				continue;
			if (snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name) >= (int)sizeof(sub))
				continue;
			rm_rf(sub, depth - 1);
		}
		closedir(d);
	}
	rmdir(path);
}

/* ---- host ports ---- */

static bool port_taken(struct llmo_runtime *rt, int port)
{
	char key[16];

	snprintf(key, sizeof(key), "%d", port);
	return llmo_hmap_has(&rt->ports, key);
}

static int port_hold(struct llmo_runtime *rt, int port)
{
	char key[16];

	snprintf(key, sizeof(key), "%d", port);
	return llmo_hmap_put(&rt->ports, key, NULL, NULL);
}

static void port_release(struct llmo_runtime *rt, int port)
{
	char key[16];

	snprintf(key, sizeof(key), "%d", port);
	llmo_hmap_del(&rt->ports, key, NULL);
}

/* A free port on 127.0.0.1 (bind port 0, read it, close) not handed out before. */
static int port_pick(struct llmo_runtime *rt, int *out, struct llmo_error *err)
{
	for (int i = 0; i < RT_PORT_TRIES; i++) {
		struct sockaddr_in sa = {.sin_family = AF_INET};
		socklen_t len = sizeof(sa);
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int port = 0;

		if (fd < 0)
			return llmo_error_set(err, LLMO_EIO, "socket: %s", strerror(errno));
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
		    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
			port = ntohs(sa.sin_port);
		close(fd);
		if (port == 0)
			return llmo_error_set(err, LLMO_EIO, "cannot find a free port on 127.0.0.1: %s",
					      strerror(errno));
		if (port_taken(rt, port))
			continue;
		if (port_hold(rt, port))
			return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
		*out = port;
		return 0;
	}
	return llmo_error_set(err, LLMO_EIO, "no free port on 127.0.0.1 after %d tries",
			      RT_PORT_TRIES);
}

/* ---- environment and $(VAR) expansion ---- */

typedef LLMO_VEC(struct rt_env) env_vec;

static void env_release(env_vec *env)
{
	for (size_t i = 0; i < env->len; i++) {
		free(env->items[i].name);
		free(env->items[i].value);
	}
	llmo_vec_release(env);
}

static const char *env_get(const env_vec *env, const char *name, size_t len)
{
	for (size_t i = 0; i < env->len; i++)
		if (strlen(env->items[i].name) == len && memcmp(env->items[i].name, name, len) == 0)
			return env->items[i].value;
	return NULL;
}

/* Sets name to value, in place when defined already (Kubernetes keeps the first position). */
static int env_set(env_vec *env, const char *name, const char *value)
{
	struct rt_env *e;
	char *v;

	for (size_t i = 0; i < env->len; i++) {
		if (strcmp(env->items[i].name, name) == 0) {
			v = llmo_strdup(value);
			if (!v)
				return LLMO_ENOMEM;
			free(env->items[i].value);
			env->items[i].value = v;
			return 0;
		}
	}
	if (env->len >= RT_ENV_MAX)
		return LLMO_ETOOBIG;
	e = llmo_vec_push(env);
	if (!e)
		return LLMO_ENOMEM;
	e->name = llmo_strdup(name);
	e->value = llmo_strdup(value);
	if (!e->name || !e->value) {
		free(e->name);
		free(e->value);
		env->len--;
		return LLMO_ENOMEM;
	}
	return 0;
}

/*
 * Kubernetes' expansion (k8s.io/kubernetes third_party/forked/golang/expansion):
 * $(NAME) becomes NAME's value when env defines it and stays as written
 * otherwise; $$ is a literal $; a $ before anything else is kept.
 */
static int expand(const char *s, const env_vec *env, struct llmo_buf *out)
{
	int rc = 0;

	llmo_buf_reset(out);
	for (const char *p = s; *p && !rc; p++) {
		const char *close, *val;

		if (p[0] != '$' || !p[1]) {
			rc = llmo_buf_putc(out, *p);
			continue;
		}
		if (p[1] == '$') {
			rc = llmo_buf_putc(out, '$');
			p++;
			continue;
		}
		if (p[1] != '(' || !(close = strchr(p + 2, ')'))) {
			/* "$x" and an unclosed "$(": both characters kept */
			rc = llmo_buf_append(out, p, 2);
			p++;
			continue;
		}
		val = env_get(env, p + 2, (size_t)(close - p - 2));
		if (val)
			rc = llmo_buf_puts(out, val);
		else
			rc = llmo_buf_append(out, p, (size_t)(close - p + 1));
		p = close;
	}
	return rc;
}

/* "metadata.labels['app']" and the other downward-API field paths kubelet serves as env. */
static const char *field_ref(const struct rt_pod *p, const json_t *pod, const char *path,
			     struct llmo_buf *tmp)
{
	const char *ip = p->rt->host_ip;
	const char *prefixes[] = {"metadata.labels['", "metadata.annotations['"};
	const char *sa_or_empty;

	if (strcmp(path, "metadata.name") == 0)
		return p->name;
	if (strcmp(path, "metadata.namespace") == 0)
		return p->ns;
	if (strcmp(path, "metadata.uid") == 0)
		return p->uid;
	if (strcmp(path, "spec.nodeName") == 0)
		return p->rt->node_name;
	if (strcmp(path, "spec.serviceAccountName") == 0) {
		const char *sa = json_string_value(llmo_json_get_path(pod, "spec.serviceAccountName"));

		return sa ? sa : "";
	}
	if (strcmp(path, "status.hostIP") == 0 || strcmp(path, "status.podIP") == 0 ||
	    strcmp(path, "status.hostIPs") == 0 || strcmp(path, "status.podIPs") == 0)
		return ip;
	for (size_t i = 0; i < LLMO_ARRAY_LEN(prefixes); i++) {
		size_t n = strlen(prefixes[i]), len = strlen(path);
		json_t *map;

		if (strncmp(path, prefixes[i], n) != 0 || len < n + 2 ||
		    strcmp(path + len - 2, "']") != 0)
			continue;
		map = llmo_json_get_path(pod, i == 0 ? "metadata.labels" : "metadata.annotations");
		llmo_buf_reset(tmp);
		if (llmo_buf_append(tmp, path + n, len - n - 2))
			return NULL;
		sa_or_empty = json_string_value(json_object_get(map, tmp->data));
		return sa_or_empty ? sa_or_empty : "";
	}
	return NULL;
}

/* "PORT_" + name upper-cased, '-' -> '_'. */
static void port_env_name(const char *name, char *out, size_t n)
{
	size_t i = 0, j;

	j = (size_t)snprintf(out, n, "PORT_");
	for (; name[i] && j + 1 < n; i++, j++)
		out[j] = name[i] == '-' ? '_' : (char)toupper((unsigned char)name[i]);
	out[j] = '\0';
}

/* ---- container configuration (from the pod JSON) ---- */

static int config_error(struct rt_ctr *c, const char *fmt, ...) LLMO_PRINTF(2, 3);
static int config_error(struct rt_ctr *c, const char *fmt, ...)
{
	char msg[RT_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!c->config_error)
		c->config_error = llmo_strdup(msg);
	return LLMO_EINVAL;
}

/* The host port a probe dials for `port` (a number or a port name) of c. */
static int probe_port(struct rt_ctr *c, const json_t *port, const char *probe, int *out)
{
	const char *name = json_string_value(port);
	int64_t num = -1;

	if (json_is_integer(port))
		num = json_integer_value(port);
	else if (name && llmo_parse_int_range(name, 1, 65535, &num, NULL) != 0)
		num = -1;
	if (num >= 1 && num <= 65535) {
		*out = (int)num;
		for (size_t i = 0; i < c->ports.len; i++)
			if (c->ports.items[i].container_port == num)
				*out = c->ports.items[i].host_port;
		return 0;
	}
	if (name) {
		for (size_t i = 0; i < c->ports.len; i++) {
			if (c->ports.items[i].name && strcmp(c->ports.items[i].name, name) == 0) {
				*out = c->ports.items[i].host_port;
				return 0;
			}
		}
		return config_error(c, "container \"%s\": %s port \"%s\" names no containerPort",
				    c->name, probe, name);
	}
	return config_error(c, "container \"%s\": %s needs a port (1-65535 or a port name)",
			    c->name, probe);
}

static void probe_free(struct rt_probe *pr);

static int probe_parse(struct rt_ctr *c, enum probe_kind kind, const json_t *pj)
{
	const char *field = probe_fields[kind];
	struct rt_probe *pr;
	const json_t *h;
	long v;
	int rc = 0;

	if (!json_is_object(pj))
		return config_error(c, "container \"%s\": %s is not an object", c->name, field);
	pr = calloc(1, sizeof(*pr));
	if (!pr)
		return LLMO_ENOMEM;
	pr->ctr = c;
	pr->kind = kind;
	pr->fd = -1;
	if (!jint(pj, "initialDelaySeconds", 0, 0, RT_PROBE_SECONDS_MAX, &v))
		goto bad_number;
	pr->initial_delay_s = (int)v;
	if (!jint(pj, "periodSeconds", RT_PROBE_PERIOD_DEFAULT, 1, RT_PROBE_SECONDS_MAX, &v))
		goto bad_number;
	pr->period_s = (int)v;
	if (!jint(pj, "timeoutSeconds", RT_PROBE_TIMEOUT_DEFAULT, 1, RT_PROBE_SECONDS_MAX, &v))
		goto bad_number;
	pr->timeout_s = (int)v;
	if (!jint(pj, "successThreshold", 1, 1, 1000000, &v))
		goto bad_number;
	/* liveness and startup probes must use 1 (API validation); keep to it */
	pr->success_threshold = kind == PROBE_READINESS ? (int)v : 1;
	if (!jint(pj, "failureThreshold", RT_PROBE_FAILURE_DEFAULT, 1, 1000000, &v))
		goto bad_number;
	pr->failure_threshold = (int)v;
	if (!jint(pj, "terminationGracePeriodSeconds", -1, 1, RT_GRACE_MAX_S, &pr->grace_s))
		goto bad_number;

	if ((h = json_object_get(pj, "httpGet"))) {
		const char *scheme = jstr(h, "scheme");
		const json_t *hdrs = json_object_get(h, "httpHeaders");
		size_t i;
		json_t *hv;

		pr->type = PROBE_HTTP;
		pr->host = llmo_strdup(jstr(h, "host") && *jstr(h, "host") ? jstr(h, "host")
									 : "127.0.0.1");
		pr->path = llmo_strdup(jstr(h, "path") && *jstr(h, "path") ? jstr(h, "path") : "/");
		if (!pr->host || !pr->path) {
			rc = LLMO_ENOMEM;
			goto out;
		}
		if (scheme && strcmp(scheme, "HTTPS") == 0)
			pr->https = true;
		else if (scheme && strcmp(scheme, "HTTP") != 0)
			rc = config_error(c, "container \"%s\": %s.httpGet.scheme must be HTTP or HTTPS",
					  c->name, field);
		if (!rc)
			rc = probe_port(c, json_object_get(h, "port"), field, &pr->port);
		if (json_array_size(hdrs) > RT_PROBE_HEADERS_MAX)
			rc = config_error(c, "container \"%s\": %s has more than %d httpHeaders",
					  c->name, field, RT_PROBE_HEADERS_MAX);
		json_array_foreach(hdrs, i, hv) {
			if (rc)
				break;
			if (!jstr(hv, "name") || !jstr(hv, "value") ||
			    strpbrk(jstr(hv, "name"), "\r\n:") || strpbrk(jstr(hv, "value"), "\r\n")) {
				rc = config_error(c, "container \"%s\": %s.httpGet.httpHeaders[%zu] "
						     "needs a name and a value on one line",
						  c->name, field, i);
				break;
			}
			if (llmo_strv_push(&pr->headers, jstr(hv, "name")) ||
			    llmo_strv_push(&pr->headers, jstr(hv, "value")))
				rc = LLMO_ENOMEM;
		}
	} else if ((h = json_object_get(pj, "tcpSocket"))) {
		pr->type = PROBE_TCP;
		pr->host = llmo_strdup(jstr(h, "host") && *jstr(h, "host") ? jstr(h, "host")
									 : "127.0.0.1");
		if (!pr->host) {
			rc = LLMO_ENOMEM;
			goto out;
		}
		rc = probe_port(c, json_object_get(h, "port"), field, &pr->port);
	} else if ((h = json_object_get(pj, "exec"))) {
		const json_t *cmd = json_object_get(h, "command");
		size_t i;
		json_t *a;

		pr->type = PROBE_EXEC;
		if (!json_is_array(cmd) || json_array_size(cmd) == 0 ||
		    json_array_size(cmd) > RT_ARGS_MAX) {
			rc = config_error(c, "container \"%s\": %s.exec.command must be a non-empty "
					     "array of strings",
					  c->name, field);
			goto out;
		}
		json_array_foreach(cmd, i, a) {
			if (!json_is_string(a)) {
				rc = config_error(c, "container \"%s\": %s.exec.command[%zu] is not a "
						     "string",
						  c->name, field, i);
				break;
			}
			/* kubelet does not expand exec probe commands; neither do we */
			if (llmo_strv_push(&pr->cmd, json_string_value(a))) {
				rc = LLMO_ENOMEM;
				break;
			}
		}
	} else if (json_object_get(pj, "grpc")) {
		rc = config_error(c, "container \"%s\": %s.grpc is not supported by the local runtime "
				     "(use httpGet, tcpSocket or exec)",
				  c->name, field);
	} else {
		rc = config_error(c, "container \"%s\": %s needs httpGet, tcpSocket or exec", c->name,
				  field);
	}
	goto out;
bad_number:
	rc = config_error(c, "container \"%s\": %s has a timing or threshold field out of range",
			  c->name, field);
out:
	if (rc) {
		probe_free(pr);
		return rc;
	}
	c->probes[kind] = pr;
	return 0;
}

/* PORT (the first port's host port) and PORT_<NAME> for each named port. */
static int set_port_env(const struct rt_ctr *c, env_vec *env)
{
	int rc = 0;

	for (size_t i = 0; i < c->ports.len && !rc; i++) {
		char num[16], key[RT_NAME_MAX + 8];

		snprintf(num, sizeof(num), "%d", c->ports.items[i].host_port);
		if (i == 0)
			rc = env_set(env, "PORT", num);
		if (!rc && c->ports.items[i].name) {
			port_env_name(c->ports.items[i].name, key, sizeof(key));
			rc = env_set(env, key, num);
		}
	}
	return rc;
}

/* Whether name can be an environment variable from envFrom (Kubernetes' rule). */
static bool env_name_ok(const char *name)
{
	if (!*name || (*name >= '0' && *name <= '9'))
		return false;
	for (const char *s = name; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' && *s != '.')
			return false;
	return true;
}

/*
 * The container's envFrom entries (secretRef, configMapRef, with an optional
 * prefix) into env, before its env list (whose entries win). A missing
 * source is a config error unless optional; keys that are no variable name
 * are left out, as the kubelet does.
 */
static int env_from(struct rt_ctr *c, const json_t *list, env_vec *env)
{
	struct llmo_runtime *rt = c->pod->rt;
	struct llmo_error err = {0};
	const json_t *e;
	size_t i;
	int rc = 0;

	if (!json_array_size(list))
		return 0;
	if (!rt->env_source)
		return config_error(c, "container \"%s\": envFrom is not supported here (set env "
				       "values instead)",
				    c->name);
	json_array_foreach(list, i, e) {
		const json_t *sref = json_object_get(e, "secretRef");
		const json_t *ref = sref ? sref : json_object_get(e, "configMapRef");
		const char *kind = sref ? "secret" : "configmap";
		const char *name = jstr(ref, "name"), *prefix = jstr(e, "prefix"), *k;
		json_t *data = NULL, *v;
		char key[256]; /* a Secret key is at most 253 bytes */

		if (!name || !*name)
			return config_error(c, "container \"%s\": envFrom[%zu] needs secretRef.name "
					       "or configMapRef.name",
					    c->name, i);
		if (rt->env_source(rt->ctx, kind, c->pod->ns, name, &data, &err))
			return config_error(c, "container \"%s\": envFrom %s \"%s\": %s", c->name,
					    kind, name, err.msg);
		if (!data) {
			if (json_is_true(json_object_get(ref, "optional")))
				continue;
			return config_error(c, "container \"%s\": envFrom %s \"%s\" not found",
					    c->name, kind, name);
		}
		json_object_foreach(data, k, v) {
			if (!json_is_string(v) ||
			    (size_t)snprintf(key, sizeof(key), "%s%s", prefix ? prefix : "", k) >=
				    sizeof(key) ||
			    !env_name_ok(key))
				continue;
			if ((rc = env_set(env, key, json_string_value(v))))
				break;
		}
		json_decref(data);
		if (rc)
			return rc;
	}
	return 0;
}

/* The env of container c, in env (base, pod identity, spec env, ports, GPUs). */
static int ctr_build_env(struct rt_ctr *c, const json_t *cj, const json_t *pod, env_vec *env)
{
	struct rt_pod *p = c->pod;
	const char *gpus = json_string_value(
		json_object_get(llmo_json_get_path(pod, "metadata.annotations"), LLMO_RUNTIME_ANN_GPUS));
	const json_t *list = json_object_get(cj, "env");
	struct llmo_buf val, tmp;
	size_t i;
	json_t *e;
	int rc = 0;

	llmo_buf_init(&val, RT_VALUE_MAX);
	llmo_buf_init(&tmp, RT_VALUE_MAX);
	for (i = 0; i < LLMO_ARRAY_LEN(inherited_env) && !rc; i++) {
		const char *v = getenv(inherited_env[i]);

		if (!v && strcmp(inherited_env[i], "PATH") == 0)
			v = RT_DEFAULT_PATH;
		if (v)
			rc = env_set(env, inherited_env[i], v);
	}
	rc = rc ? rc : env_set(env, "POD_NAME", p->name);
	rc = rc ? rc : env_set(env, "POD_NAMESPACE", p->ns);
	rc = rc ? rc : env_set(env, "POD_UID", p->uid);
	rc = rc ? rc : env_set(env, "NODE_NAME", p->rt->node_name);
	/* here too, so that the container's env values can refer to $(PORT) */
	rc = rc ? rc : set_port_env(c, env);
	if (rc)
		goto out;
	if ((rc = env_from(c, json_object_get(cj, "envFrom"), env)))
		goto out;
	if (json_array_size(list) > RT_ENV_MAX) {
		rc = config_error(c, "container \"%s\": more than %d env entries", c->name,
				  RT_ENV_MAX);
		goto out;
	}
	json_array_foreach(list, i, e) {
		const char *name = jstr(e, "name"), *value = jstr(e, "value");
		const json_t *from = json_object_get(e, "valueFrom");

		if (!name || !*name || strchr(name, '=')) {
			rc = config_error(c, "container \"%s\": env[%zu] needs a name without '='",
					  c->name, i);
			goto out;
		}
		if (from) {
			const char *path = json_string_value(
				llmo_json_get_path(from, "fieldRef.fieldPath"));
			const char *v = path ? field_ref(p, pod, path, &tmp) : NULL;

			if (!v) {
				const char *kind = json_object_iter_key(json_object_iter((json_t *)from));

				rc = config_error(c, "container \"%s\": env %s uses valueFrom.%s%s%s, which "
						     "the local runtime does not support (only "
						     "fieldRef to the pod's name, namespace, uid, labels, "
						     "annotations, node name and IPs)",
						  c->name, name, kind ? kind : "?", path ? " " : "",
						  path ? path : "");
				goto out;
			}
			rc = env_set(env, name, v);
		} else {
			rc = expand(value ? value : "", env, &val);
			rc = rc ? rc : env_set(env, name, val.data);
		}
		if (rc) {
			if (rc == LLMO_ETOOBIG)
				rc = config_error(c, "container \"%s\": env %s is longer than %d bytes",
						  c->name, name, RT_VALUE_MAX);
			goto out;
		}
	}
	/* the single-machine contract: the app listens where the runtime says */
	rc = set_port_env(c, env);
	rc = rc ? rc : env_set(env, "CUDA_VISIBLE_DEVICES", gpus ? gpus : "");
	rc = rc ? rc : env_set(env, "NVIDIA_VISIBLE_DEVICES", gpus ? gpus : "");
out:
	llmo_buf_release(&val);
	llmo_buf_release(&tmp);
	return rc;
}

/* The command of c: the annotation (first container), else command + args, expanded. */
static int ctr_build_argv(struct rt_ctr *c, const json_t *cj, const json_t *pod,
			  const env_vec *env)
{
	const char *ann = json_string_value(json_object_get(
		llmo_json_get_path(pod, "metadata.annotations"), LLMO_RUNTIME_ANN_COMMAND));
	json_t *annj = NULL, *parts[2] = {NULL, NULL};
	struct llmo_buf b;
	size_t total = 0, n = 0;
	int rc = 0;

	llmo_buf_init(&b, RT_VALUE_MAX);
	if (c->index == 0 && ann) {
		struct llmo_error jerr = {0};

		if (llmo_json_load(ann, strlen(ann), LLMO_RUNTIME_ANN_COMMAND, &annj, &jerr) ||
		    !json_is_array(annj) || json_array_size(annj) == 0) {
			rc = config_error(c, "annotation %s must be a non-empty JSON array of strings%s%s",
					  LLMO_RUNTIME_ANN_COMMAND, jerr.msg[0] ? ": " : "", jerr.msg);
			goto out;
		}
		parts[0] = annj;
	} else {
		parts[0] = json_object_get(cj, "command");
		parts[1] = json_object_get(cj, "args");
	}
	for (int k = 0; k < 2; k++) {
		size_t i;
		json_t *a;

		if (parts[k] && !json_is_array(parts[k])) {
			rc = config_error(c, "container \"%s\": %s must be an array of strings", c->name,
					  k ? "args" : "command");
			goto out;
		}
		json_array_foreach(parts[k], i, a) {
			if (!json_is_string(a)) {
				rc = config_error(c, "container \"%s\": %s[%zu] is not a string",
						  c->name, parts[0] == annj && annj ? LLMO_RUNTIME_ANN_COMMAND
										   : (k ? "args" : "command"),
						  i);
				goto out;
			}
			if (++n > RT_ARGS_MAX) {
				rc = config_error(c, "container \"%s\": more than %d arguments", c->name,
						  RT_ARGS_MAX);
				goto out;
			}
			rc = expand(json_string_value(a), env, &b);
			total += b.len + 1;
			if (rc || total > RT_ARGV_BYTES_MAX) {
				rc = rc == LLMO_ENOMEM ? rc
						       : config_error(c, "container \"%s\": the command line "
									 "is too long",
								      c->name);
				goto out;
			}
			if (llmo_strv_push(&c->argv, b.data)) {
				rc = LLMO_ENOMEM;
				goto out;
			}
		}
	}
	if (c->argv.len == 0)
		rc = config_error(c, "container \"%s\": no local command is known for image \"%s\": "
				     "set command/args in the container or the pod annotation %s",
				  c->name, c->image, LLMO_RUNTIME_ANN_COMMAND);
	else if (c->argv.items[0][0] == '\0')
		rc = config_error(c, "container \"%s\": the command is an empty string", c->name);
	else if (strcmp(c->argv.items[0], "llmo") == 0) {
		/* `llmo ...` is this very binary (llmo inference-sim), on PATH or not */
		char *self = llmo_strdup(c->pod->rt->shim_path);

		if (!self) {
			rc = LLMO_ENOMEM;
			goto out;
		}
		free(c->argv.items[0]);
		c->argv.items[0] = self;
	}
out:
	json_decref(annj);
	llmo_buf_release(&b);
	return rc;
}

/* A container's ports as the record kept them: {"containerPort": N, "hostPort": M}. */
static int record_host_port(const json_t *rec_ctr, int container_port)
{
	size_t i;
	json_t *pj;

	json_array_foreach(json_object_get(rec_ctr, "ports"), i, pj)
		if (json_integer_value(json_object_get(pj, "containerPort")) == container_port)
			return (int)json_integer_value(json_object_get(pj, "hostPort"));
	return 0;
}

/*
 * Fills c from its spec. rec_ctr (may be NULL) is its entry in a previous
 * agent's record (host ports to keep). Returns LLMO_ENOMEM, LLMO_EIO (no
 * port), or 0 / LLMO_EINVAL with c->config_error set: the container is kept
 * and waits.
 */
static int ctr_configure(struct rt_ctr *c, const json_t *cj, const json_t *pod,
			 const json_t *rec_ctr, struct llmo_error *err)
{
	struct llmo_runtime *rt = c->pod->rt;
	const json_t *ports = json_object_get(cj, "ports");
	env_vec env = LLMO_VEC_INIT;
	size_t i;
	json_t *pj;
	int rc = 0;

	c->image = llmo_strdup(jstr(cj, "image") ? jstr(cj, "image") : "");
	c->workdir = jstr(cj, "workingDir") && *jstr(cj, "workingDir")
			     ? llmo_strdup(jstr(cj, "workingDir"))
			     : NULL;
	if (!c->image || (jstr(cj, "workingDir") && *jstr(cj, "workingDir") && !c->workdir))
		return LLMO_ENOMEM;
	if (json_array_size(ports) > RT_PORTS_MAX)
		return config_error(c, "container \"%s\": more than %d ports", c->name, RT_PORTS_MAX);
	json_array_foreach(ports, i, pj) {
		json_t *cp = json_object_get(pj, "containerPort");
		const char *name = jstr(pj, "name");
		const char *proto = jstr(pj, "protocol");
		struct rt_port *port;
		long host;

		if (!json_is_integer(cp) || json_integer_value(cp) < 1 ||
		    json_integer_value(cp) > 65535)
			return config_error(c, "container \"%s\": ports[%zu].containerPort must be "
					       "1-65535",
					    c->name, i);
		if (proto && strcmp(proto, "TCP") != 0)
			LLMO_WARN(LOG, "only TCP ports are given host ports; taking it as TCP",
				  "pod=%s/%s container=%s port=%" JSON_INTEGER_FORMAT, c->pod->ns,
				  c->pod->name, c->name, json_integer_value(cp));
		port = llmo_vec_push(&c->ports);
		if (!port)
			return LLMO_ENOMEM;
		port->container_port = (int)json_integer_value(cp);
		if (name && *name) {
			port->name = llmo_strdup(name);
			if (!port->name)
				return LLMO_ENOMEM;
		}
		if (!jint(pj, "hostPort", 0, 0, 65535, &host))
			return config_error(c, "container \"%s\": ports[%zu].hostPort must be 0-65535",
					    c->name, i);
		port->host_port = rec_ctr ? record_host_port(rec_ctr, port->container_port) : 0;
		if (port->host_port > 0 && port_taken(rt, port->host_port)) {
			LLMO_WARN(LOG, "the recorded host port went to another pod; picking another",
				  "pod=%s/%s container=%s port=%d", c->pod->ns, c->pod->name, c->name,
				  port->host_port);
			port->host_port = 0;
		}
		if (port->host_port == 0 && host > 0) {
			if (port_taken(rt, (int)host)) {
				port->host_port = 0;
				return config_error(c, "container \"%s\": hostPort %ld is already given "
						       "to another container",
						    c->name, host);
			}
			port->host_port = (int)host;
		}
		if (port->host_port > 0) {
			if (port_hold(rt, port->host_port))
				return LLMO_ENOMEM;
		} else if ((rc = port_pick(rt, &port->host_port, err))) {
			return rc;
		}
	}
	rc = ctr_build_env(c, cj, pod, &env);
	if (!rc) {
		for (i = 0; i < env.len && !rc; i++) {
			struct llmo_buf kv;

			llmo_buf_init(&kv, LLMO_BUF_UNLIMITED);
			rc = llmo_buf_appendf(&kv, "%s=%s", env.items[i].name, env.items[i].value);
			rc = rc ? rc : llmo_strv_push(&c->envp, kv.data);
			llmo_buf_release(&kv);
		}
	}
	if (!rc)
		rc = ctr_build_argv(c, cj, pod, &env);
	for (int k = 0; k < PROBE_KINDS && !rc; k++) {
		const json_t *pj2 = json_object_get(cj, probe_fields[k]);

		if (pj2 && !json_is_null(pj2))
			rc = probe_parse(c, (enum probe_kind)k, pj2);
	}
	env_release(&env);
	return rc;
}

/* ---- probes ---- */

static void probe_stop(struct rt_probe *pr)
{
	pr->active = false;
	pr->busy = false;
	pr->successes = pr->failures = 0;
	if (pr->timer)
		event_del(pr->timer);
	if (pr->io) {
		event_free(pr->io);
		pr->io = NULL;
	}
	if (pr->fd >= 0) {
		close(pr->fd);
		pr->fd = -1;
	}
	if (pr->conn) {
		evhttp_connection_free(pr->conn);
		pr->conn = NULL;
	}
	if (pr->exec_pid > 0) {
		kill(-pr->exec_pid, SIGKILL);
		pr->exec_abandoned = true; /* reaped by the SIGCHLD handler */
	}
}

/* At free: kill and reap an exec probe still running (it dies at once). */
static void probe_free(struct rt_probe *pr)
{
	if (!pr)
		return;
	probe_stop(pr);
	if (pr->exec_pid > 0) {
		int st;

		while (waitpid(pr->exec_pid, &st, 0) < 0 && errno == EINTR)
			;
	}
	if (pr->timer)
		event_free(pr->timer);
	free(pr->host);
	free(pr->path);
	llmo_strv_release(&pr->headers);
	llmo_strv_release(&pr->cmd);
	free(pr);
}

/* The outcome of one check. */
static void probe_result(struct rt_probe *pr, bool ok, const char *why)
{
	struct rt_ctr *c = pr->ctr;
	struct rt_pod *p = c->pod;
	int64_t elapsed = llmo_clock_mono_ms() - pr->check_started_ms;

	pr->busy = false;
	if (!pr->active)
		return;
	if (ok) {
		pr->successes++;
		pr->failures = 0;
	} else {
		pr->failures++;
		pr->successes = 0;
		LLMO_INFO(LOG, "probe failed", "pod=%s/%s container=%s probe=%s failures=%d why=\"%s\"",
			  p->ns, p->name, c->name, probe_names[pr->kind], pr->failures, why);
	}
	switch (pr->kind) {
	case PROBE_STARTUP:
		if (ok) {
			c->started = true;
			pr->active = false; /* done for this run */
			if (!c->probes[PROBE_READINESS])
				c->ready = true;
			pod_dirty(p);
			return;
		}
		if (pr->failures >= pr->failure_threshold) {
			LLMO_WARN(LOG, "startup probe failed, killing the container",
				  "pod=%s/%s container=%s", p->ns, p->name, c->name);
			pr->active = false;
			ctr_kill(c, (pr->grace_s >= 0 ? pr->grace_s : p->grace_s) * 1000);
			return;
		}
		break;
	case PROBE_READINESS:
		if (ok && pr->successes >= pr->success_threshold && !c->ready) {
			c->ready = true;
			pod_dirty(p);
		} else if (!ok && pr->failures >= pr->failure_threshold && c->ready) {
			c->ready = false;
			pod_dirty(p);
		}
		break;
	case PROBE_LIVENESS:
		if (!ok && pr->failures >= pr->failure_threshold) {
			LLMO_WARN(LOG, "liveness probe failed, killing the container",
				  "pod=%s/%s container=%s", p->ns, p->name, c->name);
			pr->active = false;
			ctr_kill(c, (pr->grace_s >= 0 ? pr->grace_s : p->grace_s) * 1000);
			return;
		}
		break;
	default:
		break;
	}
	probe_schedule(pr, (int64_t)pr->period_s * 1000 - elapsed);
}

static void on_http_probe(struct evhttp_request *req, void *arg)
{
	struct rt_probe *pr = arg;
	int code = req ? evhttp_request_get_response_code(req) : 0;
	char why[64];

	/* pr->conn is freed at the next check, outside libevent's HTTP code */
	if (code >= 200 && code < 400) {
		probe_result(pr, true, NULL);
		return;
	}
	if (code)
		snprintf(why, sizeof(why), "HTTP probe failed with statuscode: %d", code);
	else
		snprintf(why, sizeof(why), "HTTP probe failed: no answer");
	probe_result(pr, false, why);
}

static struct evhttp_connection *probe_https_conn(struct rt_probe *pr)
{
	struct llmo_runtime *rt = pr->ctr->pod->rt;
	struct bufferevent *bev;
	SSL *ssl;

	if (!rt->ssl) {
		rt->ssl = SSL_CTX_new(TLS_client_method());
		if (!rt->ssl)
			return NULL;
		/* kubelet does not verify probe certificates either */
		SSL_CTX_set_verify(rt->ssl, SSL_VERIFY_NONE, NULL);
	}
	ssl = SSL_new(rt->ssl);
	if (!ssl)
		return NULL;
	{
		struct in6_addr a6;

		/* SNI names a host, never an address (RFC 6066) */
		if (inet_pton(AF_INET, pr->host, &a6) != 1 && inet_pton(AF_INET6, pr->host, &a6) != 1)
			SSL_set_tlsext_host_name(ssl, (char *)pr->host);
	}
	bev = bufferevent_openssl_socket_new(rt->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
					     BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (!bev) {
		SSL_free(ssl);
		return NULL;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return evhttp_connection_base_bufferevent_new(rt->base, NULL, bev, pr->host,
						      (unsigned short)pr->port);
}

static void probe_http(struct rt_probe *pr)
{
	struct timeval tv = llmo_clock_timeval((int64_t)pr->timeout_s * 1000);
	struct evhttp_request *req;
	struct evkeyvalq *h;
	char hostport[300];

	pr->conn = pr->https ? probe_https_conn(pr)
			     : evhttp_connection_base_new(pr->ctr->pod->rt->base, NULL, pr->host,
							  (unsigned short)pr->port);
	req = pr->conn ? evhttp_request_new(on_http_probe, pr) : NULL;
	if (!req) {
		probe_result(pr, false, "cannot make an HTTP request");
		return;
	}
	evhttp_connection_set_timeout_tv(pr->conn, &tv);
	evhttp_connection_set_retries(pr->conn, 0);
	evhttp_connection_set_max_body_size(pr->conn, RT_PROBE_BODY_MAX);
	h = evhttp_request_get_output_headers(req);
	snprintf(hostport, sizeof(hostport), "%s:%d", pr->host, pr->port);
	evhttp_add_header(h, "Host", hostport);
	evhttp_add_header(h, "User-Agent", "kube-probe/llmo");
	evhttp_add_header(h, "Accept", "*/*");
	evhttp_add_header(h, "Connection", "close");
	for (size_t i = 0; i + 1 < pr->headers.len; i += 2) {
		if (strcasecmp(pr->headers.items[i], "Host") == 0 ||
		    strcasecmp(pr->headers.items[i], "User-Agent") == 0 ||
		    strcasecmp(pr->headers.items[i], "Accept") == 0)
			evhttp_remove_header(h, pr->headers.items[i]);
		evhttp_add_header(h, pr->headers.items[i], pr->headers.items[i + 1]);
	}
	/* on failure libevent has freed req and calls nothing */
	if (evhttp_make_request(pr->conn, req, EVHTTP_REQ_GET, pr->path) < 0)
		probe_result(pr, false, "cannot send the HTTP request");
}

static void on_tcp_probe(evutil_socket_t fd, short what, void *arg)
{
	struct rt_probe *pr = arg;
	int soerr = 0;
	socklen_t len = sizeof(soerr);
	char why[128];

	event_free(pr->io);
	pr->io = NULL;
	if (what & EV_TIMEOUT)
		snprintf(why, sizeof(why), "dial tcp %s:%d: i/o timeout", pr->host, pr->port);
	else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0 || soerr)
		snprintf(why, sizeof(why), "dial tcp %s:%d: %s", pr->host, pr->port,
			 strerror(soerr ? soerr : errno));
	close(pr->fd);
	pr->fd = -1;
	probe_result(pr, !(what & EV_TIMEOUT) && soerr == 0, why);
}

static void probe_tcp(struct rt_probe *pr)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
	struct addrinfo *ai = NULL;
	struct timeval tv = llmo_clock_timeval((int64_t)pr->timeout_s * 1000);
	char port[16], why[300];

	snprintf(port, sizeof(port), "%d", pr->port);
	if (getaddrinfo(pr->host, port, &hints, &ai) != 0 || !ai) {
		snprintf(why, sizeof(why), "cannot resolve %s", pr->host);
		probe_result(pr, false, why);
		return;
	}
	pr->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (pr->fd < 0 || (connect(pr->fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS)) {
		snprintf(why, sizeof(why), "dial tcp %s:%d: %s", pr->host, pr->port, strerror(errno));
		freeaddrinfo(ai);
		if (pr->fd >= 0)
			close(pr->fd);
		pr->fd = -1;
		probe_result(pr, false, why);
		return;
	}
	freeaddrinfo(ai);
	pr->io = event_new(pr->ctr->pod->rt->base, pr->fd, EV_WRITE, on_tcp_probe, pr);
	if (!pr->io || event_add(pr->io, &tv) < 0) {
		if (pr->io)
			event_free(pr->io);
		pr->io = NULL;
		close(pr->fd);
		pr->fd = -1;
		probe_result(pr, false, "cannot watch the socket");
	}
}

/* cmd looked up on the container's PATH, as its shell would (not the agent's). */
static int path_lookup(const struct rt_ctr *c, const char *cmd, char *out, size_t n)
{
	const char *path = RT_DEFAULT_PATH;
	struct llmo_strv dirs = LLMO_STRV_INIT;
	int rc = -1;

	if (strchr(cmd, '/')) {
		snprintf(out, n, "%s", cmd);
		return 0;
	}
	for (size_t i = 0; i < c->envp.len; i++)
		if (llmo_str_has_prefix(c->envp.items[i], "PATH="))
			path = c->envp.items[i] + 5;
	if (llmo_str_split(path, ':', &dirs))
		return -1;
	for (size_t i = 0; i < dirs.len && rc; i++) {
		if (snprintf(out, n, "%s/%s", dirs.items[i][0] ? dirs.items[i] : ".", cmd) >= (int)n)
			continue;
		if (access(out, X_OK) == 0)
			rc = 0;
	}
	llmo_strv_release(&dirs);
	return rc;
}

static void on_exec_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct rt_probe *pr = arg;
	char why[64];

	event_free(pr->io);
	pr->io = NULL;
	kill(-pr->exec_pid, SIGKILL);
	pr->exec_abandoned = true;
	snprintf(why, sizeof(why), "command timed out after %ds", pr->timeout_s);
	probe_result(pr, false, why);
}

/* Spawns argv with envp in a new session, stdio on /dev/null; 0 or an errno. */
static int spawn(const char *path, char *const argv[], char *const envp[], const char *cwd,
		 pid_t *pid)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t all, none;
	int rc;

	sigfillset(&all);
	sigemptyset(&none);
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	if (cwd)
		posix_spawn_file_actions_addchdir_np(&fa, cwd);
	/* a new session; default dispositions (the agent ignores SIGPIPE), nothing blocked */
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGDEF |
						POSIX_SPAWN_SETSIGMASK);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawnattr_setsigmask(&attr, &none);
	rc = posix_spawn(pid, path, &fa, &attr, argv, envp);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	return rc;
}

static void probe_exec(struct rt_probe *pr)
{
	struct rt_ctr *c = pr->ctr;
	struct timeval tv = llmo_clock_timeval((int64_t)pr->timeout_s * 1000);
	char path[PATH_MAX], why[PATH_MAX + 64];
	int e;

	if (path_lookup(c, pr->cmd.items[0], path, sizeof(path))) {
		snprintf(why, sizeof(why), "exec: \"%s\": executable file not found in $PATH",
			 pr->cmd.items[0]);
		probe_result(pr, false, why);
		return;
	}
	e = spawn(path, pr->cmd.items, c->envp.items, c->workdir, &pr->exec_pid);
	if (e) {
		pr->exec_pid = 0;
		snprintf(why, sizeof(why), "exec: \"%s\": %s", path, strerror(e));
		probe_result(pr, false, why);
		return;
	}
	pr->exec_abandoned = false;
	pr->io = evtimer_new(c->pod->rt->base, on_exec_timeout, pr);
	if (pr->io)
		evtimer_add(pr->io, &tv);
}

/* The exec probe's process ended with wait status st. */
static void probe_exec_reaped(struct rt_probe *pr, int st)
{
	bool abandoned = pr->exec_abandoned;
	char why[64];

	pr->exec_pid = 0;
	pr->exec_abandoned = false;
	if (abandoned)
		return;
	if (pr->io) {
		event_free(pr->io);
		pr->io = NULL;
	}
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
		probe_result(pr, true, NULL);
		return;
	}
	if (WIFEXITED(st))
		snprintf(why, sizeof(why), "command exited with %d", WEXITSTATUS(st));
	else
		snprintf(why, sizeof(why), "command killed by signal %d", WTERMSIG(st));
	probe_result(pr, false, why);
}

static void on_probe_timer(evutil_socket_t fd, short what, void *arg)
{
	struct rt_probe *pr = arg;
	struct rt_ctr *c = pr->ctr;

	if (!pr->active || c->state != CTR_RUNNING || c->kill_stage)
		return;
	/* liveness and readiness wait for the startup probe, as kubelet's workers do */
	if (pr->busy || pr->exec_pid > 0 || (pr->kind != PROBE_STARTUP && !c->started)) {
		probe_schedule(pr, (int64_t)pr->period_s * 1000);
		return;
	}
	if (pr->conn) {
		evhttp_connection_free(pr->conn);
		pr->conn = NULL;
	}
	pr->busy = true;
	pr->check_started_ms = llmo_clock_mono_ms();
	switch (pr->type) {
	case PROBE_HTTP:
		probe_http(pr);
		break;
	case PROBE_TCP:
		probe_tcp(pr);
		break;
	case PROBE_EXEC:
		probe_exec(pr);
		break;
	}
}

static void probe_schedule(struct rt_probe *pr, int64_t delay_ms)
{
	struct timeval tv = llmo_clock_timeval(delay_ms);

	if (!pr->timer)
		pr->timer = evtimer_new(pr->ctr->pod->rt->base, on_probe_timer, pr);
	if (pr->timer)
		evtimer_add(pr->timer, &tv);
}

/* A run began (or was adopted, started_ms ago): arm every probe. */
static void probes_start(struct rt_ctr *c)
{
	int64_t age = llmo_clock_wall_ms() - c->started_ms;

	for (int k = 0; k < PROBE_KINDS; k++) {
		struct rt_probe *pr = c->probes[k];

		if (!pr)
			continue;
		probe_stop(pr);
		pr->active = true;
		probe_schedule(pr, (int64_t)pr->initial_delay_s * 1000 - age);
	}
}

static void probes_stop(struct rt_ctr *c)
{
	for (int k = 0; k < PROBE_KINDS; k++)
		if (c->probes[k])
			probe_stop(c->probes[k]);
}

/* ---- container runs ---- */

static void ctr_set_waiting(struct rt_ctr *c, const char *reason, const char *msg)
{
	c->state = CTR_WAITING;
	snprintf(c->waiting_reason, sizeof(c->waiting_reason), "%s", reason);
	set_str(&c->waiting_message, msg);
}

static void ctr_file(const struct rt_ctr *c, int run, const char *ext, char *out, size_t n)
{
	snprintf(out, n, "%s/%s/%d.%s", c->pod->dir, c->name, run, ext);
}

static void on_restart_timer(evutil_socket_t fd, short what, void *arg)
{
	struct rt_ctr *c = arg;

	if (c->pod->terminating || c->state != CTR_WAITING)
		return;
	ctr_start(c);
	pod_dirty(c->pod);
}

/*
 * The delay before the next start, as kubelet's back-off: none the first
 * time, then base, doubling up to max; a run of RT_BACKOFF_RESET_MS or more
 * starts over.
 */
static long backoff_next(struct rt_ctr *c, int64_t ran_ms)
{
	struct llmo_runtime *rt = c->pod->rt;
	long delay;

	if (ran_ms >= RT_BACKOFF_RESET_MS)
		c->backoff_ms = 0;
	if (c->backoff_ms == 0) {
		delay = 0;
		c->backoff_ms = rt->backoff_base_ms;
	} else {
		delay = c->backoff_ms;
		c->backoff_ms = LLMO_MIN(c->backoff_ms * 2, rt->backoff_max_ms);
	}
	return delay;
}

static void arm_restart(struct rt_ctr *c, long delay_ms)
{
	struct timeval tv = llmo_clock_timeval(delay_ms);

	if (!c->restart_timer)
		c->restart_timer = evtimer_new(c->pod->rt->base, on_restart_timer, c);
	if (c->restart_timer)
		evtimer_add(c->restart_timer, &tv);
}

/* Restarts c after its back-off, waiting in CrashLoopBackOff meanwhile. */
static void ctr_schedule_restart(struct rt_ctr *c, int64_t ran_ms)
{
	struct rt_pod *p = c->pod;
	long delay = backoff_next(c, ran_ms);
	char msg[RT_MSG_MAX], d[32];

	if (delay == 0) {
		ctr_start(c);
		return;
	}
	fmt_duration(delay, d, sizeof(d));
	snprintf(msg, sizeof(msg), "back-off %s restarting failed container=%s pod=%s_%s(%s)", d,
		 c->name, p->name, p->ns, p->uid);
	ctr_set_waiting(c, "CrashLoopBackOff", msg);
	arm_restart(c, delay);
}

/* Starts a new run of c (or records why it cannot). */
/*
 * The model fetch step before the first container's command (see
 * llmo_runtime_opts.fetch_args): the shim's --reason-file, then
 * "-- llmo fetch REF ... --exec" (the caller appends "--" and the command).
 */
static int fetch_step(struct rt_ctr *c, int run, struct llmo_strv *argv)
{
	struct rt_pod *p = c->pod;
	struct llmo_runtime *rt = p->rt;
	char reason[PATH_MAX];
	int rc;

	ctr_file(c, run, "reason", reason, sizeof(reason));
	unlink(reason);
	rc = llmo_strv_push(argv, "--reason-file");
	rc = rc ? rc : llmo_strv_push(argv, reason);
	rc = rc ? rc : llmo_strv_push(argv, "--");
	rc = rc ? rc : llmo_strv_push(argv, rt->shim_path);
	rc = rc ? rc : llmo_strv_push(argv, "fetch");
	rc = rc ? rc : llmo_strv_push(argv, p->model_ref);
	for (size_t i = 0; i < rt->fetch_args.len && !rc; i++)
		rc = llmo_strv_push(argv, rt->fetch_args.items[i]);
	/* the LLMModel's spec.signature (only stricter than the agent's own options) */
	if (!rc && p->sig_required)
		rc = llmo_strv_push(argv, "--require-signature");
	if (!rc && p->sig_key) {
		rc = llmo_strv_push(argv, "--key-ref");
		rc = rc ? rc : llmo_strv_push(argv, p->sig_key);
	}
	rc = rc ? rc : llmo_strv_push(argv, "--pin");
	rc = rc ? rc : llmo_strv_push(argv, p->uid);
	rc = rc ? rc : llmo_strv_push(argv, "--progress");
	rc = rc ? rc : llmo_strv_push(argv, "plain");
	rc = rc ? rc : llmo_strv_push(argv, "--reason-file");
	rc = rc ? rc : llmo_strv_push(argv, reason);
	rc = rc ? rc : llmo_strv_push(argv, "--exec");
	return rc;
}

static void ctr_start(struct rt_ctr *c)
{
	struct rt_pod *p = c->pod;
	struct llmo_runtime *rt = p->rt;
	struct llmo_strv argv = LLMO_STRV_INIT;
	char logp[PATH_MAX], exitp[PATH_MAX], old[PATH_MAX], msg[RT_MSG_MAX];
	struct proc_stat ps;
	int run = c->run + 1, rc = 0, e;
	pid_t pid;

	if (c->config_error) {
		ctr_set_waiting(c, "CreateContainerConfigError", c->config_error);
		return;
	}
	/* keep the previous run's files; drop older ones */
	for (int k = run - LLMO_RUNTIME_KEEP_RUNS; k >= 0 && k > run - 2 * LLMO_RUNTIME_KEEP_RUNS - 2;
	     k--) {
		ctr_file(c, k, "log", old, sizeof(old));
		unlink(old);
		ctr_file(c, k, "exit", old, sizeof(old));
		unlink(old);
		ctr_file(c, k, "reason", old, sizeof(old));
		unlink(old);
	}
	ctr_file(c, run, "log", logp, sizeof(logp));
	ctr_file(c, run, "exit", exitp, sizeof(exitp));
	unlink(exitp);
	rc = llmo_strv_push(&argv, rt->shim_path);
	rc = rc ? rc : llmo_strv_push(&argv, "shim");
	rc = rc ? rc : llmo_strv_push(&argv, "--log");
	rc = rc ? rc : llmo_strv_push(&argv, logp);
	rc = rc ? rc : llmo_strv_push(&argv, "--exit");
	rc = rc ? rc : llmo_strv_push(&argv, exitp);
	if (!rc && c->workdir) {
		rc = llmo_strv_push(&argv, "--cwd");
		rc = rc ? rc : llmo_strv_push(&argv, c->workdir);
	}
	if (!rc && c->index == 0 && p->model_ref && rt->fetch_args.len)
		rc = fetch_step(c, run, &argv);
	rc = rc ? rc : llmo_strv_push(&argv, "--");
	for (size_t i = 0; i < c->argv.len && !rc; i++)
		rc = llmo_strv_push(&argv, c->argv.items[i]);
	e = rc ? ENOMEM : spawn(rt->shim_path, argv.items, c->envp.items, NULL, &pid);
	llmo_strv_release(&argv);
	if (e) {
		snprintf(msg, sizeof(msg), "cannot start the shim %s: %s", rt->shim_path,
			 strerror(e));
		LLMO_ERROR(LOG, "cannot start container", "pod=%s/%s container=%s error=\"%s\"", p->ns,
			   p->name, c->name, strerror(e));
		ctr_set_waiting(c, "RunContainerError", msg);
		if (!p->terminating)
			arm_restart(c, LLMO_MAX(backoff_next(c, 0), rt->backoff_base_ms));
		return;
	}
	if (c->run >= 0)
		c->restart_count++;
	c->run = run;
	c->shim_pid = pid;
	c->shim_start = proc_stat_read(pid, &ps) == 0 ? ps.start : 0;
	c->child = true;
	c->shim_dead = false;
	c->leftovers = false;
	c->kill_stage = 0;
	c->state = CTR_RUNNING;
	c->started_ms = llmo_clock_wall_ms();
	c->ready = false;
	c->started = !c->probes[PROBE_STARTUP];
	if (c->started && !c->probes[PROBE_READINESS])
		c->ready = true;
	term_release(&c->term);
	LLMO_INFO(LOG, "container started", "pod=%s/%s container=%s run=%d shim=%d", p->ns, p->name,
		  c->name, run, (int)pid);
	pod_save(p);
	probes_start(c);
	pod_dirty(p);
}

/* Reads the shim's exit file of the current run into t (false when absent). */
static bool read_exit_file(const struct rt_ctr *c, struct rt_term *t)
{
	char path[PATH_MAX];
	struct llmo_buf b;
	json_t *j = NULL;
	bool ok = false;

	ctr_file(c, c->run, "exit", path, sizeof(path));
	llmo_buf_init(&b, RT_EXIT_MAX);
	if (llmo_file_read(path, RT_EXIT_MAX, &b, NULL) == 0 &&
	    llmo_json_load(b.data, b.len, path, &j, NULL) == 0 &&
	    json_is_integer(json_object_get(j, "exitCode"))) {
		const char *fin = jstr(j, "finishedAt"), *reason = jstr(j, "reason");
		int64_t ms;

		t->exit_code = (int)json_integer_value(json_object_get(j, "exitCode"));
		t->signal = (int)json_integer_value(json_object_get(j, "signal"));
		if (fin && llmo_time_parse_rfc3339(fin, &ms, NULL) == 0)
			t->finished_ms = ms;
		if (reason)
			snprintf(t->reason, sizeof(t->reason), "%s", reason);
		if (jstr(j, "message"))
			t->message = llmo_strndup(jstr(j, "message"), RT_MSG_MAX);
		ok = true;
	}
	json_decref(j);
	llmo_buf_release(&b);
	return ok;
}

/*
 * The current run of c is over: its shim was reaped (have_status: wait
 * status st) or found gone. Records how it ended, clears what is left of
 * it and restarts it when the pod's restartPolicy says so.
 */
static void ctr_exited(struct rt_ctr *c, bool have_status, int st)
{
	struct rt_pod *p = c->pod;
	struct rt_term t = {0};
	bool restart;

	c->shim_dead = true;
	t.set = true;
	t.pid = c->shim_pid;
	t.started_ms = c->started_ms;
	t.finished_ms = llmo_clock_wall_ms();
	if (!read_exit_file(c, &t)) {
		if (have_status && WIFSIGNALED(st)) {
			t.signal = WTERMSIG(st);
			t.exit_code = 128 + t.signal;
		} else if (have_status) {
			t.exit_code = WEXITSTATUS(st) ? WEXITSTATUS(st) : 1;
		} else {
			t.exit_code = 137;
			snprintf(t.reason, sizeof(t.reason), "ContainerStatusUnknown");
		}
		t.message = llmo_strdup("the shim ended without recording the exit status");
	}
	if (!t.reason[0])
		snprintf(t.reason, sizeof(t.reason), "%s", t.exit_code == 0 ? "Completed" : "Error");
	/* a container's processes end with it */
	c->leftovers = proc_sweep(c->shim_pid, c->shim_start, SIGKILL, 0) > 0;
	probes_stop(c);
	c->ready = false;
	c->started = false;
	c->kill_stage = 0;
	if (c->kill_timer)
		event_del(c->kill_timer);
	LLMO_INFO(LOG, "container exited", "pod=%s/%s container=%s run=%d exitCode=%d signal=%d",
		  p->ns, p->name, c->name, c->run, t.exit_code, t.signal);
	switch (p->restart_policy) {
	case RESTART_ALWAYS:
		restart = true;
		break;
	case RESTART_ON_FAILURE:
		restart = t.exit_code != 0;
		break;
	default:
		restart = false;
		break;
	}
	if (restart && !p->terminating && !p->removing) {
		term_copy(&c->last, &t);
		ctr_schedule_restart(c, t.finished_ms - t.started_ms);
	} else {
		c->state = CTR_TERMINATED;
		term_copy(&c->term, &t);
	}
	term_release(&t);
	pod_save(p);
	pod_dirty(p);
}

/* Whether a process of c's current run may still be alive. */
static bool ctr_has_processes(const struct rt_ctr *c)
{
	return (c->run >= 0 && c->shim_pid > 0 && !c->shim_dead) || c->leftovers;
}

static void on_kill_timer(evutil_socket_t fd, short what, void *arg)
{
	struct rt_ctr *c = arg;
	struct timeval tv = llmo_clock_timeval(RT_SHIM_GRACE_MS);

	if (c->shim_dead || c->kill_stage == 0)
		return;
	if (c->kill_stage == 1) {
		/* the grace is over: the command and the rest, but let the shim record it */
		c->kill_stage = 2;
		proc_sweep(c->shim_pid, c->shim_start, SIGKILL, c->shim_pid);
		evtimer_add(c->kill_timer, &tv);
		return;
	}
	c->kill_stage = 3;
	if (proc_alive(c->shim_pid, c->shim_start))
		kill(c->shim_pid, SIGKILL);
	proc_sweep(c->shim_pid, c->shim_start, SIGKILL, 0);
}

/* SIGTERM to the run's shim group (it forwards to the command), SIGKILL after grace_ms. */
static void ctr_kill(struct rt_ctr *c, int64_t grace_ms)
{
	int64_t now = llmo_clock_mono_ms();
	struct timeval tv;

	if (c->state != CTR_RUNNING || c->shim_dead)
		return;
	if (c->kill_stage >= 2 || (c->kill_stage == 1 && now + grace_ms >= c->kill_deadline_ms))
		return;
	if (c->kill_stage == 0 && proc_alive(c->shim_pid, c->shim_start))
		kill(-c->shim_pid, SIGTERM);
	c->kill_stage = 1;
	c->kill_deadline_ms = now + grace_ms;
	if (!c->kill_timer)
		c->kill_timer = evtimer_new(c->pod->rt->base, on_kill_timer, c);
	tv = llmo_clock_timeval(grace_ms);
	if (c->kill_timer)
		evtimer_add(c->kill_timer, &tv);
	LLMO_INFO(LOG, "stopping container", "pod=%s/%s container=%s grace_ms=%" PRId64,
		  c->pod->ns, c->pod->name, c->name, grace_ms);
}

/* Reaps c's shim when it is our child and has exited; true when it did. */
static bool ctr_try_reap(struct rt_ctr *c)
{
	int st;
	pid_t r;

	if (!c->child || c->shim_dead || c->shim_pid <= 0)
		return false;
	r = waitpid(c->shim_pid, &st, WNOHANG);
	if (r == c->shim_pid) {
		ctr_exited(c, true, st);
		return true;
	}
	if (r < 0 && errno == ECHILD)
		c->child = false; /* adopted from this process's earlier runtime and reaped there */
	return false;
}

/* ---- the pod ---- */

static void pod_dirty(struct rt_pod *p)
{
	p->dirty = true;
	event_active(p->rt->notify, 0, 0);
}

static void pod_stop_all(struct rt_pod *p, int64_t grace_ms)
{
	for (size_t i = 0; i < p->nctrs; i++) {
		struct rt_ctr *c = &p->ctrs[i];

		if (c->restart_timer)
			event_del(c->restart_timer);
		if (c->state == CTR_RUNNING)
			ctr_kill(c, grace_ms);
	}
}

static bool pod_gone(const struct rt_pod *p)
{
	for (size_t i = 0; i < p->nctrs; i++)
		if (ctr_has_processes(&p->ctrs[i]))
			return false;
	return true;
}

static void pod_free(struct rt_pod *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nctrs; i++) {
		struct rt_ctr *c = &p->ctrs[i];

		for (int k = 0; k < PROBE_KINDS; k++)
			probe_free(c->probes[k]);
		if (c->restart_timer)
			event_free(c->restart_timer);
		if (c->kill_timer)
			event_free(c->kill_timer);
		for (size_t j = 0; j < c->ports.len; j++)
			free(c->ports.items[j].name);
		llmo_vec_release(&c->ports);
		free(c->name);
		free(c->image);
		free(c->workdir);
		free(c->config_error);
		free(c->waiting_message);
		llmo_strv_release(&c->argv);
		llmo_strv_release(&c->envp);
		term_release(&c->last);
		term_release(&c->term);
	}
	free(p->ctrs);
	json_decref(p->status);
	free(p->model_ref);
	free(p->sig_key);
	free(p->uid);
	free(p->ns);
	free(p->name);
	free(p->dir);
	free(p);
}

static void pod_release_ports(struct rt_pod *p)
{
	for (size_t i = 0; i < p->nctrs; i++)
		for (size_t j = 0; j < p->ctrs[i].ports.len; j++)
			port_release(p->rt, p->ctrs[i].ports.items[j].host_port);
}

static json_t *term_json(const struct rt_term *t)
{
	char s[LLMO_RFC3339_MAX], f[LLMO_RFC3339_MAX], id[32];
	json_t *j;

	fmt_time(t->started_ms, s, sizeof(s));
	fmt_time(t->finished_ms, f, sizeof(f));
	snprintf(id, sizeof(id), "llmo://%d", (int)t->pid);
	j = json_pack("{s:i, s:s, s:s, s:s, s:s}", "exitCode", t->exit_code, "reason", t->reason,
		      "startedAt", s, "finishedAt", f, "containerID", id);
	if (j && t->signal) /* omitted when 0, as in Kubernetes */
		json_object_set_new(j, "signal", json_integer(t->signal));
	if (j && t->message)
		json_object_set_new(j, "message", json_string(t->message));
	return j;
}

/* record.json: what a later agent needs to adopt or clean up this pod. */
static void pod_save(struct rt_pod *p)
{
	struct llmo_error err = {0};
	char path[PATH_MAX];
	json_t *rec, *ctrs;
	char *text = NULL;

	rec = json_pack("{s:i, s:s, s:s, s:s, s:I, s:[]}", "version", 1, "uid", p->uid,
			"namespace", p->ns, "name", p->name, "startTime", (json_int_t)p->start_ms,
			"containers");
	ctrs = json_object_get(rec, "containers");
	for (size_t i = 0; rec && i < p->nctrs; i++) {
		struct rt_ctr *c = &p->ctrs[i];
		json_t *cj = json_pack("{s:s, s:i, s:I, s:i, s:i, s:I, s:I, s:[]}", "name", c->name,
				       "shimPid", (int)c->shim_pid, "shimStart",
				       (json_int_t)c->shim_start, "run", c->run, "restartCount",
				       c->restart_count, "startedAt", (json_int_t)c->started_ms,
				       "backoffMs", (json_int_t)c->backoff_ms, "ports");

		if (!cj)
			continue;
		for (size_t j = 0; j < c->ports.len; j++)
			json_array_append_new(json_object_get(cj, "ports"),
					      json_pack("{s:i, s:i}", "containerPort",
							c->ports.items[j].container_port, "hostPort",
							c->ports.items[j].host_port));
		if (c->last.set)
			json_object_set_new(cj, "lastState", term_json(&c->last));
		json_object_set_new(cj, "done", json_boolean(c->state == CTR_TERMINATED));
		json_array_append_new(ctrs, cj);
	}
	text = rec ? json_dumps(rec, JSON_COMPACT) : NULL;
	snprintf(path, sizeof(path), "%s/record.json", p->dir);
	if (!text || llmo_file_write_atomic(path, text, strlen(text), 0600, &err))
		LLMO_ERROR(LOG, "cannot write the pod record", "pod=%s/%s error=\"%s\"", p->ns,
			   p->name, text ? err.msg : "out of memory");
	free(text);
	json_decref(rec);
}

static json_t *record_load(const char *dir)
{
	char path[PATH_MAX];
	struct llmo_buf b;
	json_t *j = NULL;

	snprintf(path, sizeof(path), "%s/record.json", dir);
	llmo_buf_init(&b, RT_RECORD_MAX);
	if (llmo_file_read(path, RT_RECORD_MAX, &b, NULL) == 0)
		llmo_json_load(b.data, b.len, path, &j, NULL);
	llmo_buf_release(&b);
	if (j && !json_is_object(j)) {
		json_decref(j);
		j = NULL;
	}
	return j;
}

static const json_t *record_ctr(const json_t *rec, const char *name)
{
	size_t i;
	json_t *cj;

	json_array_foreach(json_object_get(rec, "containers"), i, cj)
		if (jstr(cj, "name") && strcmp(jstr(cj, "name"), name) == 0)
			return cj;
	return NULL;
}

static void term_from_json(struct rt_term *t, const json_t *j)
{
	const char *s;
	int64_t ms;

	term_release(t);
	if (!json_is_object(j))
		return;
	t->set = true;
	t->exit_code = (int)json_integer_value(json_object_get(j, "exitCode"));
	t->signal = (int)json_integer_value(json_object_get(j, "signal"));
	snprintf(t->reason, sizeof(t->reason), "%s", jstr(j, "reason") ? jstr(j, "reason") : "Error");
	if (jstr(j, "message"))
		t->message = llmo_strndup(jstr(j, "message"), RT_MSG_MAX);
	if ((s = jstr(j, "startedAt")) && llmo_time_parse_rfc3339(s, &ms, NULL) == 0)
		t->started_ms = ms;
	if ((s = jstr(j, "finishedAt")) && llmo_time_parse_rfc3339(s, &ms, NULL) == 0)
		t->finished_ms = ms;
	if ((s = jstr(j, "containerID")) && llmo_str_has_prefix(s, "llmo://"))
		t->pid = (pid_t)strtol(s + 7, NULL, 10);
}

/*
 * Takes over what the record says of c: counters, and the run a previous
 * agent started. Returns true when that run is still alive (adopted).
 */
static bool ctr_adopt(struct rt_ctr *c, const json_t *rc)
{
	struct rt_pod *p = c->pod;
	pid_t pid = (pid_t)json_integer_value(json_object_get(rc, "shimPid"));
	uint64_t start = (uint64_t)json_integer_value(json_object_get(rc, "shimStart"));
	int st = 0;
	pid_t r;

	c->run = (int)json_integer_value(json_object_get(rc, "run"));
	c->restart_count = (int)json_integer_value(json_object_get(rc, "restartCount"));
	c->started_ms = json_integer_value(json_object_get(rc, "startedAt"));
	c->backoff_ms = (long)json_integer_value(json_object_get(rc, "backoffMs"));
	term_from_json(&c->last, json_object_get(rc, "lastState"));
	if (c->run < 0 || pid <= 0)
		return false;
	c->shim_pid = pid;
	c->shim_start = start;
	c->state = CTR_RUNNING;
	/* ours when this process started it under an earlier runtime */
	r = waitpid(pid, &st, WNOHANG);
	c->child = r == 0 || r == pid;
	if (!json_is_true(json_object_get(rc, "done")) && r == pid) {
		ctr_exited(c, true, st);
		return false;
	}
	if (!json_is_true(json_object_get(rc, "done")) && (r == 0 || proc_alive(pid, start))) {
		c->started = !c->probes[PROBE_STARTUP];
		c->ready = c->started && !c->probes[PROBE_READINESS];
		LLMO_INFO(LOG, "container adopted", "pod=%s/%s container=%s run=%d shim=%d", p->ns,
			  p->name, c->name, c->run, (int)pid);
		probes_start(c);
		return true;
	}
	if (json_is_true(json_object_get(rc, "done"))) {
		/* it had ended for good before: show it as it was */
		c->shim_dead = true;
		c->state = CTR_TERMINATED;
		read_exit_file(c, &c->term);
		c->term.set = true;
		c->term.pid = pid;
		c->term.started_ms = c->started_ms;
		if (!c->term.reason[0])
			snprintf(c->term.reason, sizeof(c->term.reason), "%s",
				 c->term.exit_code == 0 ? "Completed" : "Error");
		return false;
	}
	/* it ended while no agent watched */
	c->child = false;
	ctr_exited(c, false, 0);
	return false;
}

/* A new pod struct for uid with its directory; NULL when out of memory. */
static struct rt_pod *pod_new(struct llmo_runtime *rt, const char *uid, const char *ns,
			      const char *name)
{
	struct rt_pod *p = calloc(1, sizeof(*p));
	struct llmo_buf dir;

	if (!p)
		return NULL;
	llmo_buf_init(&dir, PATH_MAX);
	p->rt = rt;
	p->uid = llmo_strdup(uid);
	p->ns = llmo_strdup(ns);
	p->name = llmo_strdup(name);
	if (llmo_buf_appendf(&dir, "%s/%s", rt->pods_dir, uid) == 0)
		p->dir = llmo_buf_detach(&dir, NULL);
	llmo_buf_release(&dir);
	p->grace_s = RT_DEFAULT_GRACE_S;
	p->start_ms = llmo_clock_wall_ms();
	if (!p->uid || !p->ns || !p->name || !p->dir) {
		pod_free(p);
		return NULL;
	}
	return p;
}

/* ---- status ---- */

static json_t *ctr_status(const struct rt_ctr *c)
{
	char t[LLMO_RFC3339_MAX], id[32];
	json_t *st, *state = NULL, *last;

	if (c->state == CTR_RUNNING) {
		fmt_time(c->started_ms, t, sizeof(t));
		state = json_pack("{s:{s:s}}", "running", "startedAt", t);
	} else if (c->state == CTR_TERMINATED) {
		state = json_pack("{s:o}", "terminated", term_json(&c->term));
	} else {
		state = json_pack("{s:{s:s}}", "waiting", "reason",
				  c->waiting_reason[0] ? c->waiting_reason : "ContainerCreating");
		if (state && c->waiting_message)
			json_object_set_new(json_object_get(state, "waiting"), "message",
					    json_string(c->waiting_message));
	}
	last = c->last.set ? json_pack("{s:o}", "terminated", term_json(&c->last)) : json_object();
	st = json_pack("{s:s, s:s, s:s, s:b, s:b, s:i, s:o, s:o}", "name", c->name, "image",
		       c->image, "imageID", "", "ready", c->ready, "started",
		       c->state == CTR_RUNNING && c->started, "restartCount", c->restart_count,
		       "state", state, "lastState", last);
	if (st && c->run >= 0 && c->shim_pid > 0) {
		snprintf(id, sizeof(id), "llmo://%d", (int)c->shim_pid);
		json_object_set_new(st, "containerID", json_string(id));
	}
	return st;
}

/* kubelet's getPhase. */
static const char *pod_phase(const struct rt_pod *p)
{
	int waiting = 0, running = 0, stopped = 0, succeeded = 0;

	for (size_t i = 0; i < p->nctrs; i++) {
		const struct rt_ctr *c = &p->ctrs[i];

		if (c->state == CTR_RUNNING) {
			running++;
		} else if (c->state == CTR_TERMINATED) {
			stopped++;
			if (c->term.exit_code == 0)
				succeeded++;
		} else if (c->last.set) {
			stopped++;
			if (c->last.exit_code == 0)
				succeeded++;
		} else {
			waiting++;
		}
	}
	if (p->terminating && pod_gone(p) && waiting + running == 0 && stopped > 0)
		return stopped == succeeded ? "Succeeded" : "Failed";
	if (waiting > 0)
		return "Pending";
	if (running > 0)
		return "Running";
	if (stopped > 0) {
		if (p->restart_policy == RESTART_ALWAYS)
			return "Running";
		if (stopped == succeeded)
			return "Succeeded";
		if (p->restart_policy == RESTART_NEVER)
			return "Failed";
		return "Running";
	}
	return "Pending";
}

/* Builds the status; updates the conditions' transition times. */
static json_t *pod_build_status(struct rt_pod *p)
{
	char start[LLMO_RFC3339_MAX], since[LLMO_RFC3339_MAX];
	const char *phase;
	struct llmo_buf unready;
	bool ready = true, want[CONDS];
	json_t *st, *conds, *ctrs;
	int64_t now_ms = llmo_clock_wall_ms();

	phase = pod_phase(p);
	llmo_buf_init(&unready, RT_MSG_MAX);
	for (size_t i = 0; i < p->nctrs; i++) {
		if (p->ctrs[i].ready)
			continue;
		llmo_buf_appendf(&unready, "%s%s", ready ? "" : " ", p->ctrs[i].name);
		ready = false;
	}
	want[COND_SCHEDULED] = true;
	want[COND_INITIALIZED] = true;
	want[COND_CONTAINERS_READY] = ready;
	want[COND_READY] = ready;
	want[COND_SANDBOX] = !(p->terminating && pod_gone(p));
	for (int k = 0; k < CONDS; k++) {
		if (!p->cond_known) {
			/* what holds from the start dates from the start */
			p->cond_status[k] = want[k];
			p->cond_since[k] = want[k] ? p->start_ms : now_ms;
		} else if (want[k] != p->cond_status[k]) {
			p->cond_status[k] = want[k];
			p->cond_since[k] = now_ms;
		}
	}
	p->cond_known = true;
	fmt_time(p->start_ms, start, sizeof(start));
	conds = json_array();
	for (int k = 0; conds && k < CONDS; k++) {
		json_t *cj;

		fmt_time(p->cond_since[k], since, sizeof(since));
		cj = json_pack("{s:s, s:s, s:n, s:s}", "type", cond_types[k], "status",
			       p->cond_status[k] ? "True" : "False", "lastProbeTime",
			       "lastTransitionTime", since);
		if (cj && !p->cond_status[k] && (k == COND_READY || k == COND_CONTAINERS_READY)) {
			bool done = strcmp(phase, "Succeeded") == 0 || strcmp(phase, "Failed") == 0;
			char msg[RT_MSG_MAX + 64];

			snprintf(msg, sizeof(msg), "containers with unready status: [%s]", unready.data);
			json_object_set_new(cj, "reason",
					    json_string(done ? "PodCompleted" : "ContainersNotReady"));
			if (!done)
				json_object_set_new(cj, "message", json_string(msg));
		}
		json_array_append_new(conds, cj);
	}
	ctrs = json_array();
	for (size_t i = 0; ctrs && i < p->nctrs; i++)
		json_array_append_new(ctrs, ctr_status(&p->ctrs[i]));
	st = json_pack("{s:s, s:o, s:s, s:[{s:s}], s:s, s:[{s:s}], s:s, s:o}", "phase", phase,
		       "conditions", conds, "hostIP", p->rt->host_ip, "hostIPs", "ip",
		       p->rt->host_ip, "podIP", p->rt->host_ip, "podIPs", "ip", p->rt->host_ip,
		       "startTime", start, "containerStatuses", ctrs);
	llmo_buf_release(&unready);
	return st;
}

/* Rebuilds p's status; true when it differs from the last one built. */
static bool pod_refresh(struct rt_pod *p)
{
	json_t *st = pod_build_status(p);
	bool changed;

	if (!st)
		return false;
	changed = !p->status || !json_equal(st, p->status);
	json_decref(p->status);
	p->status = st;
	return changed;
}

/* ---- loop callbacks ---- */

static void on_notify(evutil_socket_t fd, short what, void *arg)
{
	struct llmo_runtime *rt = arg;
	struct llmo_strv uids = LLMO_STRV_INIT;
	size_t it = 0;
	const char *uid;
	void *v;

	while (llmo_hmap_next(&rt->pods, &it, &uid, &v)) {
		struct rt_pod *p = v;

		if (p->dirty || (p->removing && pod_gone(p)))
			llmo_strv_push(&uids, uid);
	}
	for (size_t i = 0; i < uids.len; i++) {
		struct rt_pod *p = llmo_hmap_get(&rt->pods, uids.items[i]);
		bool changed;

		if (!p)
			continue;
		p->dirty = false;
		if (p->removing) {
			if (!pod_gone(p))
				continue;
			LLMO_INFO(LOG, "pod removed", "pod=%s/%s uid=%s", p->ns, p->name, p->uid);
			llmo_hmap_del(&rt->pods, p->uid, NULL);
			rm_rf(p->dir, 4);
			pod_release_ports(p);
			pod_free(p);
			continue;
		}
		changed = pod_refresh(p);
		if (p->terminating && pod_gone(p) && !p->notified_terminated) {
			p->notified_terminated = true;
			changed = true;
		}
		if (changed && rt->changed)
			rt->changed(rt->ctx, uids.items[i]);
	}
	llmo_strv_release(&uids);
}

/* Reaps every exited child this runtime started (shims, exec probes). */
static void reap_children(struct llmo_runtime *rt)
{
	size_t it = 0;
	void *v;

	while (llmo_hmap_next(&rt->pods, &it, NULL, &v)) {
		struct rt_pod *p = v;

		for (size_t i = 0; i < p->nctrs; i++) {
			struct rt_ctr *c = &p->ctrs[i];

			ctr_try_reap(c);
			for (int k = 0; k < PROBE_KINDS; k++) {
				struct rt_probe *pr = c->probes[k];
				int st;

				if (pr && pr->exec_pid > 0 &&
				    waitpid(pr->exec_pid, &st, WNOHANG) == pr->exec_pid)
					probe_exec_reaped(pr, st);
			}
		}
	}
}

static void on_sigchld(evutil_socket_t fd, short what, void *arg)
{
	reap_children(arg);
}

static void on_poll(evutil_socket_t fd, short what, void *arg)
{
	struct llmo_runtime *rt = arg;
	size_t it = 0;
	void *v;

	reap_children(rt);
	while (llmo_hmap_next(&rt->pods, &it, NULL, &v)) {
		struct rt_pod *p = v;

		for (size_t i = 0; i < p->nctrs; i++) {
			struct rt_ctr *c = &p->ctrs[i];

			if (!c->child && !c->shim_dead && c->shim_pid > 0 && c->run >= 0 &&
			    !proc_alive(c->shim_pid, c->shim_start))
				ctr_exited(c, false, 0);
			if (c->leftovers) {
				c->leftovers =
					proc_sweep(c->shim_pid, c->shim_start, SIGKILL, 0) > 0;
				if (!c->leftovers)
					pod_dirty(p);
			}
		}
		if (p->removing || p->terminating)
			pod_dirty(p);
	}
}

/* ---- public API ---- */

int llmo_runtime_new(struct event_base *base, const struct llmo_runtime_opts *opts,
		     struct llmo_runtime **out, struct llmo_error *err)
{
	struct llmo_runtime *rt = NULL;
	struct timeval poll_tv = llmo_clock_timeval(RT_POLL_MS);
	struct llmo_buf b;
	int rc = 0;

	*out = NULL;
	if (!base || !opts || !opts->state_dir || !*opts->state_dir || !opts->shim_path ||
	    !*opts->shim_path || !opts->node_name || !opts->host_ip)
		return llmo_error_set(err, LLMO_EINVAL,
				      "runtime: state_dir, shim_path, node_name and host_ip are "
				      "required");
	rt = calloc(1, sizeof(*rt));
	if (!rt)
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	rt->base = base;
	llmo_hmap_init(&rt->pods);
	llmo_hmap_init(&rt->ports);
	rt->state_dir = llmo_strdup(opts->state_dir);
	rt->shim_path = llmo_strdup(opts->shim_path);
	rt->node_name = llmo_strdup(opts->node_name);
	rt->host_ip = llmo_strdup(opts->host_ip);
	llmo_buf_init(&b, PATH_MAX);
	if (llmo_buf_appendf(&b, "%s/pods", opts->state_dir) == 0)
		rt->pods_dir = llmo_buf_detach(&b, NULL);
	llmo_buf_release(&b);
	rt->backoff_base_ms = opts->backoff_base_ms > 0 ? opts->backoff_base_ms : RT_BACKOFF_BASE_MS;
	rt->backoff_max_ms = opts->backoff_max_ms > 0 ? opts->backoff_max_ms : RT_BACKOFF_MAX_MS;
	if (rt->backoff_max_ms < rt->backoff_base_ms)
		rt->backoff_max_ms = rt->backoff_base_ms;
	rt->changed = opts->changed;
	rt->ctx = opts->ctx;
	rt->env_source = opts->env_source;
	for (size_t i = 0; opts->fetch_args && opts->fetch_args[i] && !rc; i++)
		rc = llmo_strv_push(&rt->fetch_args, opts->fetch_args[i]);
	if (opts->model_cache_dir && !(rt->model_cache_dir = llmo_strdup(opts->model_cache_dir)))
		rc = LLMO_ENOMEM;
	if (rc) {
		rc = llmo_error_set(err, LLMO_ENOMEM, "out of memory");
		goto fail;
	}
	if (!rt->state_dir || !rt->shim_path || !rt->node_name || !rt->host_ip || !rt->pods_dir) {
		rc = llmo_error_set(err, LLMO_ENOMEM, "out of memory");
		goto fail;
	}
	if ((rc = llmo_mkdir_p(rt->pods_dir, 0700, err)))
		goto fail;
	rt->sigchld = evsignal_new(base, SIGCHLD, on_sigchld, rt);
	rt->poll = event_new(base, -1, EV_PERSIST, on_poll, rt);
	rt->notify = event_new(base, -1, 0, on_notify, rt);
	if (!rt->sigchld || !rt->poll || !rt->notify || event_add(rt->sigchld, NULL) < 0 ||
	    event_add(rt->poll, &poll_tv) < 0) {
		rc = llmo_error_set(err, LLMO_EIO, "runtime: cannot set up its events");
		goto fail;
	}
	*out = rt;
	return 0;
fail:
	llmo_runtime_free(rt);
	return rc;
}

void llmo_runtime_free(struct llmo_runtime *rt)
{
	size_t it = 0;
	void *v;

	if (!rt)
		return;
	while (llmo_hmap_next(&rt->pods, &it, NULL, &v))
		pod_free(v);
	llmo_hmap_release(&rt->pods, NULL);
	llmo_hmap_release(&rt->ports, NULL);
	if (rt->sigchld)
		event_free(rt->sigchld);
	if (rt->poll)
		event_free(rt->poll);
	if (rt->notify)
		event_free(rt->notify);
	if (rt->ssl)
		SSL_CTX_free(rt->ssl);
	free(rt->state_dir);
	free(rt->pods_dir);
	free(rt->shim_path);
	free(rt->node_name);
	free(rt->host_ip);
	llmo_strv_release(&rt->fetch_args);
	free(rt->model_cache_dir);
	free(rt);
}

/* Graceful termination as the pod's deletion asks. */
static void pod_terminate(struct rt_pod *p, const json_t *pod)
{
	json_t *g = llmo_json_get_path(pod, "metadata.deletionGracePeriodSeconds");
	long grace = p->grace_s;
	int64_t deadline;

	if (json_is_integer(g))
		grace = (long)LLMO_MAX(0, LLMO_MIN(json_integer_value(g), RT_GRACE_MAX_S));
	deadline = llmo_clock_mono_ms() + (int64_t)grace * 1000;
	if (p->terminating && deadline >= p->term_deadline_ms)
		return;
	if (!p->terminating)
		LLMO_INFO(LOG, "terminating pod", "pod=%s/%s grace_s=%ld", p->ns, p->name, grace);
	p->terminating = true;
	p->term_deadline_ms = deadline;
	pod_stop_all(p, (int64_t)grace * 1000);
	pod_dirty(p);
}

/* The first sync of a uid: the pod struct, adopted or started. */
static int pod_create(struct llmo_runtime *rt, const json_t *pod, const char *uid,
		      const char *ns, const char *name, bool deleting, struct llmo_error *err)
{
	const json_t *ctrs = llmo_json_get_path(pod, "spec.containers");
	const char *policy = json_string_value(llmo_json_get_path(pod, "spec.restartPolicy"));
	const json_t *gr = llmo_json_get_path(pod, "spec.terminationGracePeriodSeconds");
	const json_t *inits = llmo_json_get_path(pod, "spec.initContainers");
	struct rt_pod *p = NULL;
	json_t *rec = NULL, *cj;
	const char *first_error = NULL;
	size_t i;
	int rc = 0;

	if (!json_is_array(ctrs) || json_array_size(ctrs) == 0 ||
	    json_array_size(ctrs) > RT_CONTAINERS_MAX)
		return llmo_error_set(err, LLMO_EINVAL, "pod %s/%s: spec.containers must list 1 to %d "
							"containers",
				      ns, name, RT_CONTAINERS_MAX);
	json_array_foreach(ctrs, i, cj) {
		const char *cn = jstr(cj, "name");

		if (!name_ok(cn, RT_NAME_MAX))
			return llmo_error_set(err, LLMO_EINVAL,
					      "pod %s/%s: spec.containers[%zu].name must be 1-%d "
					      "letters, digits, '-', '_' or '.'",
					      ns, name, i, RT_NAME_MAX);
		for (size_t j = 0; j < i; j++)
			if (strcmp(jstr(json_array_get(ctrs, j), "name"), cn) == 0)
				return llmo_error_set(err, LLMO_EINVAL,
						      "pod %s/%s: two containers are named \"%s\"", ns,
						      name, cn);
	}
	p = pod_new(rt, uid, ns, name);
	if (!p)
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	p->restart_policy = !policy || strcmp(policy, "Always") == 0 ? RESTART_ALWAYS
			    : strcmp(policy, "OnFailure") == 0	      ? RESTART_ON_FAILURE
								      : RESTART_NEVER;
	if (json_is_integer(gr))
		p->grace_s = (long)LLMO_MAX(0, LLMO_MIN(json_integer_value(gr), RT_GRACE_MAX_S));
	{
		const json_t *ann = llmo_json_get_path(pod, "metadata.annotations");
		const char *mref = json_string_value(json_object_get(ann, LLMO_RUNTIME_ANN_MODEL));
		const char *skey = json_string_value(json_object_get(ann,
								     LLMO_ANNOTATION_SIGNATURE_KEY));
		const char *sreq = json_string_value(json_object_get(
			ann, LLMO_ANNOTATION_SIGNATURE_REQUIRED));

		if (mref && *mref && strlen(mref) < RT_MODEL_REF_MAX && mref[0] != '-' &&
		    !(p->model_ref = llmo_strdup(mref))) {
			rc = llmo_error_set(err, LLMO_ENOMEM, "out of memory");
			goto fail;
		}
		p->sig_required = sreq && strcmp(sreq, "true") == 0;
		/*
		 * Passed on even when not a key name (cut one past the longest):
		 * llmo fetch refuses it with a reason, where dropping it would
		 * accept any trusted key.
		 */
		if (skey && *skey && !(p->sig_key = llmo_strndup(skey, LLMO_SIG_KEY_NAME_MAX + 1))) {
			rc = llmo_error_set(err, LLMO_ENOMEM, "out of memory");
			goto fail;
		}
	}
	if ((rc = llmo_mkdir_p(p->dir, 0700, err)))
		goto fail;
	rec = record_load(p->dir);
	if (rec && json_is_integer(json_object_get(rec, "startTime")))
		p->start_ms = json_integer_value(json_object_get(rec, "startTime"));
	p->ctrs = calloc(json_array_size(ctrs), sizeof(*p->ctrs));
	if (!p->ctrs) {
		rc = llmo_error_set(err, LLMO_ENOMEM, "out of memory");
		goto fail;
	}
	p->nctrs = json_array_size(ctrs);
	for (i = 0; i < p->nctrs; i++) {
		struct rt_ctr *c = &p->ctrs[i];

		c->pod = p;
		c->index = i;
		c->run = -1;
		c->name = llmo_strdup(jstr(json_array_get(ctrs, i), "name"));
		if (!c->name) {
			rc = llmo_error_set(err, LLMO_ENOMEM, "out of memory");
			goto fail;
		}
		ctr_set_waiting(c, "ContainerCreating", NULL);
	}
	/* registered now: from here on the pod is kept, whatever its containers say */
	if (llmo_hmap_put(&rt->pods, uid, p, NULL)) {
		rc = llmo_error_set(err, LLMO_ENOMEM, "out of memory");
		goto fail;
	}
	for (i = 0; i < p->nctrs; i++) {
		struct rt_ctr *c = &p->ctrs[i];
		const json_t *rc_ = rec ? record_ctr(rec, c->name) : NULL;
		char dir[PATH_MAX];
		int crc;

		if (json_array_size(inits) > 0)
			config_error(c, "init containers are not supported by the local runtime");
		crc = ctr_configure(c, json_array_get(ctrs, i), pod, rc_, err);
		if (crc == LLMO_ENOMEM || crc == LLMO_EIO) {
			config_error(c, "container \"%s\": %s", c->name,
				     crc == LLMO_EIO ? err->msg : "out of memory");
		}
		if (c->config_error && !first_error)
			first_error = c->config_error;
		snprintf(dir, sizeof(dir), "%s/%s", p->dir, c->name);
		mkdir(dir, 0700);
		if (rc_ && ctr_adopt(c, rc_))
			continue;
		/* a pod already being deleted is not started (kubelet does not either) */
		if (c->state == CTR_WAITING && c->run < 0 && !deleting)
			ctr_start(c);
		else if (c->config_error && c->state == CTR_WAITING)
			ctr_set_waiting(c, "CreateContainerConfigError", c->config_error);
	}
	pod_save(p);
	pod_dirty(p);
	json_decref(rec);
	if (first_error) {
		LLMO_WARN(LOG, "pod cannot run", "pod=%s/%s error=\"%s\"", ns, name, first_error);
		return llmo_error_set(err, LLMO_EINVAL, "pod %s/%s: %s", ns, name, first_error);
	}
	llmo_error_clear(err);
	return 0;
fail:
	json_decref(rec);
	llmo_hmap_del(&rt->pods, uid, NULL);
	pod_release_ports(p);
	pod_free(p);
	return rc;
}

int llmo_runtime_sync_pod(struct llmo_runtime *rt, const json_t *pod, struct llmo_error *err)
{
	const char *uid = json_string_value(llmo_json_get_path(pod, "metadata.uid"));
	const char *ns = json_string_value(llmo_json_get_path(pod, "metadata.namespace"));
	const char *name = json_string_value(llmo_json_get_path(pod, "metadata.name"));
	bool deleting = json_is_string(llmo_json_get_path(pod, "metadata.deletionTimestamp"));
	struct rt_pod *p;
	int rc = 0;

	if (!name_ok(uid, RT_UID_MAX) || !ns || !*ns || !name || !*name)
		return llmo_error_set(err, LLMO_EINVAL,
				      "pod: metadata.uid (letters, digits, '-'), .namespace and .name "
				      "are required");
	p = llmo_hmap_get(&rt->pods, uid);
	if (!p) {
		rc = pod_create(rt, pod, uid, ns, name, deleting, err);
		p = llmo_hmap_get(&rt->pods, uid);
		if (!p)
			return rc;
	} else if (p->removing) {
		return 0;
	} else {
		for (size_t i = 0; i < p->nctrs; i++)
			if (p->ctrs[i].config_error) {
				rc = llmo_error_set(err, LLMO_EINVAL, "pod %s/%s: %s", ns, name,
						    p->ctrs[i].config_error);
				break;
			}
	}
	if (deleting)
		pod_terminate(p, pod);
	return rc;
}

/* Stops p at once and removes it once its processes are gone. */
static void pod_remove(struct rt_pod *p)
{
	if (p->removing)
		return;
	LLMO_INFO(LOG, "removing pod", "pod=%s/%s uid=%s", p->ns, p->name, p->uid);
	p->removing = true;
	p->terminating = true;
	/* its model may be evicted from the node's cache now */
	if (p->rt->model_cache_dir)
		llmo_model_cache_pin(p->rt->model_cache_dir, p->uid, NULL, NULL);
	pod_stop_all(p, RT_REMOVE_GRACE_MS);
	pod_dirty(p);
}

/* A pod known only from its record (a previous agent's): to be removed. */
static struct rt_pod *pod_from_record(struct llmo_runtime *rt, const char *uid)
{
	char dir[PATH_MAX];
	struct rt_pod *p;
	json_t *rec, *cj;
	size_t i, n;

	snprintf(dir, sizeof(dir), "%s/%s", rt->pods_dir, uid);
	rec = record_load(dir);
	p = pod_new(rt, uid, jstr(rec, "namespace") ? jstr(rec, "namespace") : "?",
		    jstr(rec, "name") ? jstr(rec, "name") : "?");
	if (!p) {
		json_decref(rec);
		return NULL;
	}
	n = LLMO_MIN(json_array_size(json_object_get(rec, "containers")), RT_CONTAINERS_MAX);
	p->ctrs = n ? calloc(n, sizeof(*p->ctrs)) : NULL;
	p->restart_policy = RESTART_NEVER;
	p->removing = true;
	p->terminating = true;
	for (i = 0; p->ctrs && i < n; i++) {
		struct rt_ctr *c = &p->ctrs[i];
		const char *cn;

		cj = json_array_get(json_object_get(rec, "containers"), i);
		cn = jstr(cj, "name");
		c->pod = p;
		c->index = i;
		c->run = -1;
		c->name = llmo_strdup(name_ok(cn, RT_NAME_MAX) ? cn : "unknown");
		c->image = llmo_strdup("");
		if (!c->name || !c->image) {
			free(c->name);
			free(c->image);
			c->name = c->image = NULL;
			break;
		}
		p->nctrs = i + 1;
		ctr_set_waiting(c, "ContainerCreating", NULL);
		ctr_adopt(c, cj);
	}
	json_decref(rec);
	if (llmo_hmap_put(&rt->pods, uid, p, NULL)) {
		pod_free(p);
		return NULL;
	}
	LLMO_INFO(LOG, "removing pod", "pod=%s/%s uid=%s", p->ns, p->name, p->uid);
	pod_stop_all(p, RT_REMOVE_GRACE_MS);
	pod_dirty(p);
	return p;
}

void llmo_runtime_remove_pod(struct llmo_runtime *rt, const char *uid)
{
	struct rt_pod *p = llmo_hmap_get(&rt->pods, uid);
	char dir[PATH_MAX];
	struct stat st;

	if (p) {
		pod_remove(p);
		return;
	}
	/* not synced by this agent, yet a previous one may have left it */
	if (!name_ok(uid, RT_UID_MAX))
		return;
	snprintf(dir, sizeof(dir), "%s/%s", rt->pods_dir, uid);
	if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
		pod_from_record(rt, uid);
}

int llmo_runtime_collect_orphans(struct llmo_runtime *rt)
{
	struct llmo_strv found = LLMO_STRV_INIT;
	struct dirent *e;
	int n = 0;
	DIR *d;

	d = opendir(rt->pods_dir);
	if (!d)
		return 0;
	while ((e = readdir(d)))
		if (name_ok(e->d_name, RT_UID_MAX) && !llmo_hmap_has(&rt->pods, e->d_name))
			llmo_strv_push(&found, e->d_name);
	closedir(d);
	for (size_t i = 0; i < found.len; i++) {
		LLMO_INFO(LOG, "orphan pod", "uid=%s", found.items[i]);
		if (pod_from_record(rt, found.items[i]))
			n++;
	}
	llmo_strv_release(&found);
	return n;
}

json_t *llmo_runtime_pod_status(struct llmo_runtime *rt, const char *uid)
{
	struct rt_pod *p = uid ? llmo_hmap_get(&rt->pods, uid) : NULL;

	if (!p)
		return NULL;
	pod_refresh(p);
	return json_deep_copy(p->status);
}

json_t *llmo_runtime_pod_ports(struct llmo_runtime *rt, const char *uid)
{
	struct rt_pod *p = uid ? llmo_hmap_get(&rt->pods, uid) : NULL;
	json_t *j;

	if (!p)
		return NULL;
	j = json_object();
	for (size_t i = 0; j && i < p->nctrs; i++) {
		for (size_t k = 0; k < p->ctrs[i].ports.len; k++) {
			const struct rt_port *port = &p->ctrs[i].ports.items[k];
			char key[16];

			snprintf(key, sizeof(key), "%d", port->container_port);
			if (!json_object_get(j, key))
				json_object_set_new(j, key, json_integer(port->host_port));
		}
	}
	return j;
}

bool llmo_runtime_pod_terminated(struct llmo_runtime *rt, const char *uid)
{
	struct rt_pod *p = uid ? llmo_hmap_get(&rt->pods, uid) : NULL;

	return p && p->terminating && pod_gone(p);
}

bool llmo_runtime_pod_known(struct llmo_runtime *rt, const char *uid)
{
	return uid && llmo_hmap_has(&rt->pods, uid);
}

int llmo_runtime_log_path(struct llmo_runtime *rt, const char *ns, const char *pod,
			  const char *container, bool previous, char *out, size_t n,
			  bool *running, struct llmo_error *err)
{
	struct rt_pod *p = NULL;
	struct rt_ctr *c = NULL;
	size_t it = 0;
	void *v;
	int run;

	if (running)
		*running = false;
	while (llmo_hmap_next(&rt->pods, &it, NULL, &v)) {
		struct rt_pod *q = v;

		if (strcmp(q->ns, ns) == 0 && strcmp(q->name, pod) == 0 && (!p || p->removing))
			p = q;
	}
	if (!p)
		return llmo_error_set(err, LLMO_ENOTFOUND, "pod \"%s\" in namespace \"%s\" not found",
				      pod, ns);
	for (size_t i = 0; i < p->nctrs; i++)
		if (strcmp(p->ctrs[i].name, container) == 0)
			c = &p->ctrs[i];
	if (!c)
		return llmo_error_set(err, LLMO_ENOTFOUND, "container \"%s\" in pod \"%s\" not found",
				      container, pod);
	if (previous && c->run <= 0)
		return llmo_error_set(err, LLMO_ENOTFOUND,
				      "previous terminated container \"%s\" in pod \"%s\" not found",
				      container, pod);
	if (c->run < 0)
		return llmo_error_set(err, LLMO_EAGAIN,
				      "container \"%s\" in pod \"%s\" is waiting to start: %s",
				      container, pod,
				      c->waiting_reason[0] ? c->waiting_reason : "ContainerCreating");
	run = previous ? c->run - 1 : c->run;
	if (snprintf(out, n, "%s/%s/%d.log", p->dir, c->name, run) >= (int)n)
		return llmo_error_set(err, LLMO_EINVAL, "log path longer than %zu bytes", n);
	if (running)
		*running = !previous && c->state == CTR_RUNNING && !c->shim_dead;
	return 0;
}

int llmo_runtime_pod_usage(struct llmo_runtime *rt, const char *uid, int64_t *cpu_milli,
			   int64_t *memory)
{
	struct rt_pod *p = llmo_hmap_get(&rt->pods, uid);
	uint64_t ticks = 0, rss = 0;
	int64_t now = llmo_clock_mono_ms(), dt;
	long hz = sysconf(_SC_CLK_TCK);
	int rc = 0;

	if (!p || p->removing || p->terminating)
		return LLMO_ENOTFOUND;
	for (size_t i = 0; i < p->nctrs; i++)
		if (p->ctrs[i].state == CTR_RUNNING && !p->ctrs[i].shim_dead)
			proc_usage(p->ctrs[i].shim_pid, p->ctrs[i].shim_start, &ticks, &rss);
	dt = now - p->usage_ms;
	if (!p->usage_ms || dt <= 0 || hz <= 0) {
		rc = LLMO_EAGAIN;
	} else {
		uint64_t d = ticks > p->usage_ticks ? ticks - p->usage_ticks : 0;

		/* ticks / hz seconds of CPU over dt ms: millicores = d * 1000 * 1000 / (hz * dt) */
		*cpu_milli = (int64_t)((double)d * 1e6 / ((double)hz * (double)dt) + 0.5);
		*memory = (int64_t)rss;
	}
	p->usage_ticks = ticks;
	p->usage_ms = now;
	return rc;
}
