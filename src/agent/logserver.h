#ifndef LLMO_AGENT_LOGSERVER_H
#define LLMO_AGENT_LOGSERVER_H
/*
 * struct llmo_logserver: the agent's container log endpoint, what kubelet
 * serves for `kubectl logs` (the API server proxies pods/log to it):
 *
 *     GET /containerLogs/{namespace}/{pod}/{container}
 *         ?follow=&previous=&timestamps=&tailLines=&limitBytes=&sinceSeconds=&sinceTime=
 *     Authorization: Bearer <token>
 *
 * The body is the container's output with the CRI prefix removed (CRI
 * partial lines joined); with timestamps=true each line starts with its
 * RFC 3339 timestamp (nanoseconds) and a space. tailLines counts lines of
 * the log file from its end (at most LLMO_LOGSERVER_TAIL_MAX); limitBytes
 * cuts the output; sinceSeconds / sinceTime skip older lines. follow=true
 * streams new lines (the file is polled every LLMO_LOGSERVER_POLL_MS) until
 * the run is over and all of it was sent, or the client goes away.
 * Replies are chunked and paced by the client: a file is never read whole
 * into memory.
 *
 * Answers: 401 without the right bearer token (compared in constant time),
 * 404 (plain text) for an unknown pod, container or previous run, 400 for a
 * bad query value or a container that has not started, 405 for a method
 * other than GET, 503 past LLMO_LOGSERVER_STREAMS_MAX open replies.
 *
 * Runs on the caller's event_base, with the caller's runtime (borrowed: free
 * the log server first).
 */
#include "base/common.h"

#include "agent/runtime.h"
#include "base/error.h"

/* How often a followed log file is checked for more. */
#define LLMO_LOGSERVER_POLL_MS 200
/* Largest tailLines honoured (larger values are taken as this). */
#define LLMO_LOGSERVER_TAIL_MAX 1000000
/* Replies open at once. */
#define LLMO_LOGSERVER_STREAMS_MAX 256
/* Longest bearer token accepted from the caller. */
#define LLMO_LOGSERVER_TOKEN_MAX 4096

struct event_base;
struct llmo_logserver;

struct llmo_logserver_opts {
	const char *host;  /* address to listen on; NULL: 127.0.0.1 */
	int port;          /* 0: pick a free one (see llmo_logserver_port) */
	const char *token; /* required bearer token (copied); not empty */
};

/* Listens; errors: LLMO_EINVAL (no token), LLMO_EIO (cannot listen), LLMO_ENOMEM. */
int llmo_logserver_new(struct event_base *base, struct llmo_runtime *rt,
		       const struct llmo_logserver_opts *opts, struct llmo_logserver **out,
		       struct llmo_error *err);
/*
 * Serves the log of container ctr of pod ns/pod from a file no container of
 * the runtime writes: llmo server's own log, for its static pod (agent.h).
 * path is the CRI file of the current run, which goes on as long as the log
 * server (follow streams until the client leaves); prev_path the previous
 * run's (previous=true), NULL for none. One such log; a second call replaces
 * the first. Errors: LLMO_ENOMEM.
 */
int llmo_logserver_set_file(struct llmo_logserver *ls, const char *ns, const char *pod,
			    const char *ctr, const char *path, const char *prev_path,
			    struct llmo_error *err);
/* The port it listens on. */
int llmo_logserver_port(const struct llmo_logserver *ls);
/* Closes every connection (open replies end abruptly) and frees ls. */
void llmo_logserver_free(struct llmo_logserver *ls);

#endif
