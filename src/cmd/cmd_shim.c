/*
 * llmo shim: the small process that stands between the agent's local runtime
 * (src/agent/runtime.c) and one run of a container's command, as conmon does
 * for CRI-O. Hidden from `llmo help`: only the runtime starts it.
 *
 *     llmo shim --log FILE --exit FILE [--cwd DIR] [--reason-file FILE] -- CMD [ARGS...]
 *
 * The runtime starts the shim in a new session (so the shim's process group
 * id and session id are its pid) with the container's environment and stdin
 * on /dev/null. The shim then:
 *
 * - starts CMD (looked up on the PATH of that environment) in a process group
 *   of its own, in DIR when --cwd is given, with stdout and stderr on pipes;
 * - writes every line the command prints to FILE (opened O_APPEND) in the CRI
 *   log format kubelet reads:
 *
 *       2026-11-26T19:40:00.123456789Z stdout F text
 *
 *   a line longer than LLMO_RUNTIME_LOG_PARTIAL_MAX bytes is cut into pieces
 *   tagged P (partial), the last piece F; an unterminated last line is written
 *   with F when the stream ends. Each line is one write(2);
 * - forwards SIGTERM, SIGINT, SIGHUP and SIGQUIT to the command's process
 *   group and keeps logging;
 * - when the command exits: kills what is left of its process group (a
 *   container's processes end with it), reads what is still in the pipes
 *   (at most SHIM_DRAIN_MS more), and writes the exit file atomically
 *   (temporary file + rename):
 *
 *       {"exitCode":N,"signal":S,"startedAt":"RFC3339","finishedAt":"RFC3339"}
 *
 *   exitCode is 128 + S when the command was killed by signal S (as
 *   container runtimes report it). When CMD cannot be started the file says
 *   {"exitCode":128,"reason":"StartError","message":"..."} and the message is
 *   also logged on stderr;
 *   With --reason-file, a command that exits non-zero after writing
 *   {"reason":"Word","message":"..."} to that file (as `llmo fetch` does) has
 *   that reason and message in the exit file, as kubelet reports a
 *   container's termination message;
 * - exits 0 once the exit file is written (1 when it could not be).
 *
 * The shim keeps running when the agent dies, so that a restarted agent can
 * adopt it: it never looks at its parent.
 */
#include "base/common.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "agent/crilog.h"
#include "agent/runtime.h"
#include "base/clock.h"
#include "base/buf.h"
#include "base/file.h"
#include "base/json.h"
#include "cmd/cmd.h"

#include "base/banned.h"

/* Declared here and in main.c (cmd.h is shared by other commands' authors). */

/* After the command exits, how long the pipes may still be read (other
 * holders of their write ends, such as daemons that left the group). */
#define SHIM_DRAIN_MS 2000
/* Bytes asked of each read(2) on a pipe. */
#define SHIM_READ_CHUNK 65536
/* Longest message about a failed start. */
#define SHIM_MSG_MAX 512
/* Largest reason file read (--reason-file). */
#define SHIM_REASON_MAX 8192

/* Where the child failed before the command ran (sent on the fail pipe). */
enum { SHIM_FAIL_DUP, SHIM_FAIL_CHDIR, SHIM_FAIL_EXEC };

struct shim_stream {
	const char *name; /* "stdout" or "stderr" */
	int fd;		  /* read end, -1 once at EOF */
	size_t len;	  /* bytes of an unfinished line in buf */
	char buf[LLMO_RUNTIME_LOG_PARTIAL_MAX];
};

/* Splits n bytes read from s into CRI lines. */
static void shim_feed(int logfd, struct shim_stream *s, const char *data, size_t n)
{
	while (n > 0) {
		const char *nl = memchr(data, '\n', n);
		size_t take = nl ? (size_t)(nl - data) : n;
		size_t room = sizeof(s->buf) - s->len;

		if (take > room) {
			memcpy(s->buf + s->len, data, room);
			llmo_cri_write_line(logfd, s->name, true, s->buf, sizeof(s->buf));
			s->len = 0;
			data += room;
			n -= room;
			continue;
		}
		memcpy(s->buf + s->len, data, take);
		s->len += take;
		data += take;
		n -= take;
		if (nl) {
			llmo_cri_write_line(logfd, s->name, false, s->buf, s->len);
			s->len = 0;
			data++;
			n--;
		}
	}
}

/* Reads what the pipe holds now; closes it at EOF. */
static void shim_read(int logfd, struct shim_stream *s)
{
	char chunk[SHIM_READ_CHUNK];
	ssize_t r = read(s->fd, chunk, sizeof(chunk));

	if (r > 0) {
		shim_feed(logfd, s, chunk, (size_t)r);
		return;
	}
	if (r < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	close(s->fd);
	s->fd = -1;
	if (s->len > 0) {
		llmo_cri_write_line(logfd, s->name, false, s->buf, s->len);
		s->len = 0;
	}
}

static int shim_write_exit(const char *path, int code, int sig, int64_t started_ms,
			   const char *reason, const char *message)
{
	char started[LLMO_RFC3339_MAX], finished[LLMO_RFC3339_MAX];
	json_t *j;
	char *text = NULL;
	int rc = -1;

	llmo_time_format_rfc3339(started_ms, false, started, sizeof(started));
	llmo_time_format_rfc3339(llmo_clock_wall_ms(), false, finished, sizeof(finished));
	j = json_pack("{s:i, s:i, s:s, s:s}", "exitCode", code, "signal", sig, "startedAt",
		      started, "finishedAt", finished);
	if (!j)
		goto out;
	if (reason)
		json_object_set_new(j, "reason", json_string(reason));
	if (message)
		json_object_set_new(j, "message", json_string(message));
	text = json_dumps(j, JSON_COMPACT);
	if (!text)
		goto out;
	rc = llmo_file_write_atomic(path, text, strlen(text), 0644, NULL);
out:
	free(text);
	json_decref(j);
	return rc;
}

/*
 * The reason file a failing command left: {"reason": a CamelCase word of
 * at most 40 letters, "message": text}. false when absent or malformed.
 */
static bool shim_read_reason(const char *path, json_t **out)
{
	struct llmo_buf b;
	const char *r;
	json_t *j = NULL;

	llmo_buf_init(&b, SHIM_REASON_MAX);
	if (llmo_file_read(path, SHIM_REASON_MAX, &b, NULL) ||
	    llmo_json_load(b.data, b.len, path, &j, NULL)) {
		llmo_buf_release(&b);
		return false;
	}
	llmo_buf_release(&b);
	r = json_string_value(json_object_get(j, "reason"));
	if (!r || !*r || strlen(r) > 40 ||
	    strspn(r, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") != strlen(r) ||
	    (json_object_get(j, "message") && !json_is_string(json_object_get(j, "message")))) {
		json_decref(j);
		return false;
	}
	*out = j;
	return true;
}

/* In the forked child: never returns. Only async-signal-safe calls. */
static void shim_exec_child(int outw, int errw, int failw, const char *cwd, char **cmd,
			    const sigset_t *oldmask)
{
	struct sigaction sa;
	int what[2] = {SHIM_FAIL_DUP, 0}; /* stage, errno */

	setpgid(0, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (int s = 1; s < NSIG; s++)
		sigaction(s, &sa, NULL);
	sigprocmask(SIG_SETMASK, oldmask, NULL);
	if (dup2(outw, 1) < 0 || dup2(errw, 2) < 0)
		goto fail;
	what[0] = SHIM_FAIL_CHDIR;
	if (cwd && chdir(cwd) < 0)
		goto fail;
	what[0] = SHIM_FAIL_EXEC;
	execvp(cmd[0], cmd);
fail:
	what[1] = errno;
	if (write(failw, what, sizeof(what)) < 0)
		_exit(127);
	_exit(127);
}

/* Whether the command has exited, without reaping it. */
static bool shim_child_exited(pid_t child)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	while (waitid(P_PID, (id_t)child, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
		if (errno != EINTR)
			return false;
	return si.si_pid == child;
}

static int shim_usage(const char *msg)
{
	return cmd_usage_error("shim", "%s (usage: llmo shim --log FILE --exit FILE [--cwd DIR] -- "
				       "CMD [ARGS...])",
			       msg);
}

int cmd_shim(int argc, char **argv)
{
	const char *logpath = NULL, *exitpath = NULL, *cwd = NULL, *reasonpath = NULL;
	struct shim_stream out = {.name = "stdout", .fd = -1};
	struct shim_stream errs = {.name = "stderr", .fd = -1};
	int outp[2] = {-1, -1}, errp[2] = {-1, -1}, failp[2] = {-1, -1};
	int logfd = -1, sigfd = -1, status = 0, rc = 1;
	int failed[2] = {0, 0};
	char msg[SHIM_MSG_MAX];
	sigset_t mask, oldmask;
	int64_t started_ms, drain_until = 0;
	bool exited = false;
	char **cmd = NULL;
	json_t *rj = NULL;
	pid_t child;
	ssize_t r;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			cmd = argv + i + 1;
			break;
		} else if (strcmp(argv[i], "--log") == 0 && i + 1 < argc) {
			logpath = argv[++i];
		} else if (strcmp(argv[i], "--exit") == 0 && i + 1 < argc) {
			exitpath = argv[++i];
		} else if (strcmp(argv[i], "--cwd") == 0 && i + 1 < argc) {
			cwd = argv[++i];
		} else if (strcmp(argv[i], "--reason-file") == 0 && i + 1 < argc) {
			reasonpath = argv[++i];
		} else {
			return shim_usage("unknown or incomplete option");
		}
	}
	if (!logpath || !exitpath || !cmd || !cmd[0])
		return shim_usage("--log, --exit and a command after -- are required");

	logfd = open(logpath, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (logfd < 0) {
		snprintf(msg, sizeof(msg), "cannot open the log file %s: %s", logpath,
			 strerror(errno));
		shim_write_exit(exitpath, 128, 0, llmo_clock_wall_ms(), "StartError", msg);
		return 1;
	}
	/* signals arrive through a descriptor, in the poll loop below */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGQUIT);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, &oldmask);
	signal(SIGPIPE, SIG_IGN);
	sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sigfd < 0 || pipe2(outp, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0 ||
	    pipe2(failp, O_CLOEXEC) < 0) {
		snprintf(msg, sizeof(msg), "cannot set up the shim: %s", strerror(errno));
		llmo_cri_write_line(logfd, "stderr", false, msg, strlen(msg));
		shim_write_exit(exitpath, 128, 0, llmo_clock_wall_ms(), "StartError", msg);
		goto out;
	}
	started_ms = llmo_clock_wall_ms();
	child = fork();
	if (child < 0) {
		snprintf(msg, sizeof(msg), "cannot fork: %s", strerror(errno));
		llmo_cri_write_line(logfd, "stderr", false, msg, strlen(msg));
		shim_write_exit(exitpath, 128, 0, started_ms, "StartError", msg);
		goto out;
	}
	if (child == 0)
		shim_exec_child(outp[1], errp[1], failp[1], cwd, cmd, &oldmask);
	setpgid(child, child); /* also here, so that it holds before any signal is forwarded */
	close(outp[1]);
	close(errp[1]);
	close(failp[1]);
	outp[1] = errp[1] = failp[1] = -1;
	out.fd = outp[0];
	errs.fd = errp[0];
	outp[0] = errp[0] = -1;

	/* exec succeeded when the pipe closes with nothing in it */
	do
		r = read(failp[0], failed, sizeof(failed));
	while (r < 0 && errno == EINTR);
	if (r == (ssize_t)sizeof(failed)) {
		if (failed[0] == SHIM_FAIL_CHDIR)
			snprintf(msg, sizeof(msg), "chdir to \"%s\": %s", cwd, strerror(failed[1]));
		else if (failed[0] == SHIM_FAIL_EXEC && failed[1] == ENOENT && !strchr(cmd[0], '/'))
			snprintf(msg, sizeof(msg),
				 "exec: \"%s\": executable file not found in $PATH", cmd[0]);
		else
			snprintf(msg, sizeof(msg), "exec: \"%s\": %s", cmd[0], strerror(failed[1]));
		while (waitpid(child, &status, 0) < 0 && errno == EINTR)
			;
		llmo_cri_write_line(logfd, "stderr", false, msg, strlen(msg));
		rc = shim_write_exit(exitpath, 128, 0, started_ms, "StartError", msg) ? 1 : 0;
		goto out;
	}

	for (;;) {
		struct pollfd pfd[3];
		struct signalfd_siginfo si;
		int nfds = 0, timeout = -1;

		if (exited && out.fd < 0 && errs.fd < 0)
			break;
		if (exited) {
			int64_t left = drain_until - llmo_clock_mono_ms();

			if (left <= 0)
				break;
			timeout = (int)left;
		}
		pfd[nfds++] = (struct pollfd){.fd = sigfd, .events = POLLIN};
		pfd[nfds++] = (struct pollfd){.fd = out.fd, .events = POLLIN};
		pfd[nfds++] = (struct pollfd){.fd = errs.fd, .events = POLLIN};
		if (poll(pfd, (nfds_t)nfds, timeout) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[1].revents && out.fd >= 0)
			shim_read(logfd, &out);
		if (pfd[2].revents && errs.fd >= 0)
			shim_read(logfd, &errs);
		if (!(pfd[0].revents & POLLIN))
			continue;
		while (read(sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
			if (si.ssi_signo != SIGCHLD) {
				if (!exited)
					kill(-child, (int)si.ssi_signo);
				continue;
			}
			if (!exited && shim_child_exited(child)) {
				/* what is left of the group goes with the command; killed
				 * before the reap, while the zombie still holds the group id */
				kill(-child, SIGKILL);
				while (waitpid(child, &status, 0) < 0 && errno == EINTR)
					;
				exited = true;
				drain_until = llmo_clock_mono_ms() + SHIM_DRAIN_MS;
			}
		}
	}
	/* pipes still held open by something outside the group: log what was cut */
	if (out.fd >= 0 && out.len > 0)
		llmo_cri_write_line(logfd, out.name, false, out.buf, out.len);
	if (errs.fd >= 0 && errs.len > 0)
		llmo_cri_write_line(logfd, errs.name, false, errs.buf, errs.len);
	if (WIFSIGNALED(status))
		rc = shim_write_exit(exitpath, 128 + WTERMSIG(status), WTERMSIG(status), started_ms,
				     NULL, NULL);
	else if (WEXITSTATUS(status) != 0 && reasonpath && shim_read_reason(reasonpath, &rj))
		rc = shim_write_exit(exitpath, WEXITSTATUS(status), 0, started_ms,
				     json_string_value(json_object_get(rj, "reason")),
				     json_string_value(json_object_get(rj, "message")));
	else
		rc = shim_write_exit(exitpath, WEXITSTATUS(status), 0, started_ms, NULL, NULL);
	json_decref(rj);
	rc = rc ? 1 : 0;
out:
	if (out.fd >= 0)
		close(out.fd);
	if (errs.fd >= 0)
		close(errs.fd);
	for (int i = 0; i < 2; i++) {
		if (outp[i] >= 0)
			close(outp[i]);
		if (errp[i] >= 0)
			close(errp[i]);
		if (failp[i] >= 0)
			close(failp[i]);
	}
	if (sigfd >= 0)
		close(sigfd);
	close(logfd);
	return rc;
}
