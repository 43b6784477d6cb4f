#ifndef LLMO_AGENT_PREFETCH_H
#define LLMO_AGENT_PREFETCH_H
/*
 * struct llmo_prefetcher: the agent's side of the model prefetch
 * (docs/agent.md, "Prefetch"). The controller lists models on the Node in
 * the annotation llm.orchestrator.io/prefetch (registry/fetch.h) ahead of a
 * scale-up; the agent fetches each one not in its cache with the same
 * `llmo fetch` (and options) as a replica's fetch step, in the background,
 * one at a time:
 *
 *     llmo fetch REF OPTIONS --progress none --reason-file STATE/prefetch.reason
 *
 * with its output in STATE/prefetch.log. The fetch evicts down to the
 * cache size as a replica's does, and never a model a replica uses (those
 * are pinned). A fetch whose model is no longer asked for is stopped
 * (SIGTERM; what it downloaded stays for the next fetch to resume). A model
 * that failed is not tried again for LLMO_PREFETCH_RETRY_MS.
 *
 * Not thread-safe; the owner calls it from its loop. The child is reaped
 * with waitpid(pid, WNOHANG) on its own pid only.
 */
#include "base/common.h"

#include <jansson.h>

#include "base/error.h"

struct llmo_prefetcher;

/* A model that failed to prefetch is tried again after this long. */
#define LLMO_PREFETCH_RETRY_MS 300000
/* Failed models remembered at most (the oldest is forgotten first). */
#define LLMO_PREFETCH_FAILED_MAX 16
/* References taken from one annotation at most. */
#define LLMO_PREFETCH_REFS_MAX 64
/* Longest reference fetched ("HOST/REPO:TAG@sha256:HEX"). */
#define LLMO_PREFETCH_REF_MAX 1024

struct llmo_prefetcher_opts {
	const char *shim_path;		/* the llmo binary (runs `llmo fetch`) */
	const char *const *fetch_args;	/* the fetch options, NULL-terminated (--cache-dir ...) */
	const char *cache_dir;		/* the node's model cache (what is there already) */
	const char *state_dir;		/* prefetch.log and prefetch.reason go there */
};

/* What a step saw end (ended false: nothing ended). */
struct llmo_prefetch_result {
	bool ended;
	bool ok;	       /* the model is in the cache */
	bool cancelled;	       /* stopped because no longer asked for */
	char ref[LLMO_PREFETCH_REF_MAX];
	char reason[64];       /* on failure: `llmo fetch`'s reason (ModelFetchFailed, ...) */
	char message[512];
};

/* The strings of opts are copied. LLMO_EINVAL without shim_path, cache_dir or state_dir. */
int llmo_prefetcher_new(const struct llmo_prefetcher_opts *opts, struct llmo_prefetcher **out,
			struct llmo_error *err);
/* Stops a fetch still running (SIGTERM, then waits for it), frees. NULL is fine. */
void llmo_prefetcher_free(struct llmo_prefetcher *p);

/*
 * Reaps the running fetch when it ended (*res says how), then, with node
 * (the Node, borrowed; NULL: reap only), stops a fetch whose model the
 * annotation no longer lists and starts the next listed model that is not
 * in the cache, did not fail lately, and is pinned by digest.
 */
void llmo_prefetcher_step(struct llmo_prefetcher *p, const json_t *node,
			  struct llmo_prefetch_result *res);
/* Whether a fetch is running. */
bool llmo_prefetcher_busy(const struct llmo_prefetcher *p);

#endif
