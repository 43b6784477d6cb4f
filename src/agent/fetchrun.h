#ifndef LLMO_AGENT_FETCHRUN_H
#define LLMO_AGENT_FETCHRUN_H
/*
 * Running `llmo fetch` as a child of the agent: the model prefetch
 * (prefetch.h) and, on a cluster, the fetch for a replica the kubelet runs
 * (podfetch.h). Internal to src/agent.
 */
#include "base/common.h"

#include <sys/types.h>

#include "base/str.h"

/*
 * Starts `shim fetch REF ARGS... EXTRA...` (EXTRA NULL-terminated, may be
 * NULL) with stdin /dev/null and stdout and stderr in log_path (truncated),
 * after removing reason_path, which the child is told to write on failure
 * (EXTRA is expected to hold "--reason-file" reason_path). 0 and *pid, or
 * an errno value.
 */
int llmo__fetch_spawn(const char *shim, const char *ref, const struct llmo_strv *args,
		      const char *const *extra, const char *log_path, const char *reason_path,
		      pid_t *pid);

/*
 * Whether the child pid (0: none) has ended; then *st is its wait status and
 * *r what waitpid returned (pid, or -1 when it could not be waited for).
 */
bool llmo__fetch_reap(pid_t pid, int *st, pid_t *r);

/*
 * Why a fetch that exited with wait status st failed: the reason and
 * message of its reason file, else ModelFetchFailed and how it ended
 * (naming log_path).
 */
void llmo__fetch_why(const char *reason_path, const char *log_path, int st, char *reason,
		     size_t reason_n, char *message, size_t message_n);

#endif
