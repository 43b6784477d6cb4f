/*
 * Running `llmo fetch` as a child; see fetchrun.h.
 */
#include "base/common.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "agent/fetchrun.h"
#include "base/buf.h"
#include "base/file.h"

#include "base/banned.h"

/* Longest reason file read (`llmo fetch` writes one short JSON object). */
#define REASON_MAX 4096

extern char **environ;

int llmo__fetch_spawn(const char *shim, const char *ref, const struct llmo_strv *args,
		      const char *const *extra, const char *log_path, const char *reason_path,
		      pid_t *pid)
{
	struct llmo_strv argv = LLMO_STRV_INIT;
	posix_spawn_file_actions_t fa;
	int rc, e;

	*pid = 0;
	rc = llmo_strv_push(&argv, shim);
	rc = rc ? rc : llmo_strv_push(&argv, "fetch");
	rc = rc ? rc : llmo_strv_push(&argv, ref);
	for (size_t i = 0; i < args->len && !rc; i++)
		rc = llmo_strv_push(&argv, args->items[i]);
	for (size_t i = 0; extra && extra[i] && !rc; i++)
		rc = llmo_strv_push(&argv, extra[i]);
	if (rc) {
		llmo_strv_release(&argv);
		return ENOMEM;
	}
	unlink(reason_path);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	e = posix_spawn(pid, shim, &fa, NULL, argv.items, environ);
	posix_spawn_file_actions_destroy(&fa);
	llmo_strv_release(&argv);
	if (e)
		*pid = 0;
	return e;
}

bool llmo__fetch_reap(pid_t pid, int *st, pid_t *r)
{
	if (pid <= 0)
		return false;
	do
		*r = waitpid(pid, st, WNOHANG);
	while (*r < 0 && errno == EINTR);
	return *r != 0;
}

void llmo__fetch_why(const char *reason_path, const char *log_path, int st, char *reason,
		     size_t reason_n, char *message, size_t message_n)
{
	struct llmo_buf b;
	json_t *j = NULL;

	snprintf(reason, reason_n, "ModelFetchFailed");
	if (WIFSIGNALED(st))
		snprintf(message, message_n, "llmo fetch killed by signal %d", WTERMSIG(st));
	else
		snprintf(message, message_n, "llmo fetch exited with status %d (see %s)",
			 WIFEXITED(st) ? WEXITSTATUS(st) : -1, log_path);
	llmo_buf_init(&b, REASON_MAX);
	if (llmo_file_read(reason_path, REASON_MAX, &b, NULL) == 0)
		j = json_loads(b.data, 0, NULL);
	if (json_string_value(json_object_get(j, "reason")))
		snprintf(reason, reason_n, "%s", json_string_value(json_object_get(j, "reason")));
	if (json_string_value(json_object_get(j, "message")))
		snprintf(message, message_n, "%s", json_string_value(json_object_get(j, "message")));
	json_decref(j);
	llmo_buf_release(&b);
}
