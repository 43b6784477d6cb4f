#ifndef LLMO_AGENT_PODFETCH_H
#define LLMO_AGENT_PODFETCH_H
/*
 * struct llmo_podfetcher: the fetch step of replicas that the kubelet runs
 * (docs/agent.md, "On a cluster"). `llmo agent --runtime none --model-cache
 * DIR` sees the pods bound to its node; for each one with the annotation
 * llm.orchestrator.io/model-artifact it runs, one at a time,
 *
 *     llmo fetch REF OPTIONS [--require-signature] [--key-ref NAME] --pin UID
 *                --progress plain --reason-file DIR/pods/UID/reason
 *
 * with the agent's own options (registry token, CA, trusted keys, cache
 * size, signatureValidation), its output in DIR/pods/UID/log, and keeps
 * what became of it in DIR/pods/UID/status (written whole, by rename):
 *
 *     {"state":"fetching","ref":REF,"attempt":N}
 *     {"state":"ready","ref":REF,"attempt":N,"path":"DIR/models/HEX"}
 *     {"state":"failed","ref":REF,"attempt":N,"reason":R,"message":M,"retryInSeconds":S}
 *
 * The pod's init container (`llmo fetch --await UID --cache-dir DIR`, the
 * cache mounted read-only) waits on that file: the model server starts
 * only on a model the agent verified. A failed fetch is tried again after
 * LLMO_PODFETCH_RETRY_MIN_MS, doubling up to LLMO_PODFETCH_RETRY_MAX_MS.
 * When the pod goes, its fetch is stopped and its directory and pin removed.
 *
 * Not thread-safe; the owner calls it from its loop. The child is reaped
 * with waitpid(pid, WNOHANG) on its own pid only.
 */
#include "base/common.h"

#include "base/error.h"

struct llmo_podfetcher;

/* Under the cache directory: one directory per pod uid. */
#define LLMO_PODFETCH_DIR "pods"
/* The first retry of a failed fetch, doubled at each failure up to the maximum. */
#define LLMO_PODFETCH_RETRY_MIN_MS 10000
#define LLMO_PODFETCH_RETRY_MAX_MS 300000
/* Pods followed at most (a kubelet runs 110 by default). */
#define LLMO_PODFETCH_PODS_MAX 512
/* Longest pod uid (a UUID is 36). */
#define LLMO_PODFETCH_UID_MAX 64
/* Longest reference ("HOST/REPO:TAG@sha256:HEX"). */
#define LLMO_PODFETCH_REF_MAX 1024

struct llmo_podfetcher_opts {
	const char *shim_path;	       /* the llmo binary (runs `llmo fetch`) */
	const char *const *fetch_args; /* the fetch options, NULL-terminated (--cache-dir ...) */
	const char *cache_dir;	       /* the node's model cache */
};

/* What a step saw end (ended false: nothing ended). */
struct llmo_podfetch_result {
	bool ended;
	bool ok;
	char uid[LLMO_PODFETCH_UID_MAX + 1];
	char ref[LLMO_PODFETCH_REF_MAX];
	char reason[64];
	char message[512];
	int attempt;
	long retry_s; /* on failure: the next try in this many seconds */
};

/* Whether s can name a pod's directory: 1-64 letters, digits and '-'. */
bool llmo_podfetch_uid_ok(const char *s);

/* The strings of opts are copied. LLMO_EINVAL without shim_path or cache_dir. */
int llmo_podfetcher_new(const struct llmo_podfetcher_opts *opts, struct llmo_podfetcher **out,
			struct llmo_error *err);
/* Stops a fetch still running (SIGTERM, then waits for it), frees. NULL is fine. */
void llmo_podfetcher_free(struct llmo_podfetcher *p);

/*
 * Pod uid needs the model ref (pinned by digest), with the signature checks
 * of its annotations (sig_key NULL: none named). Calling it again for a pod
 * already followed changes nothing unless the reference changed (then it
 * starts over). A pod whose status on disk says ready for this reference,
 * its model still in the cache, is not fetched again (an agent restart).
 * LLMO_EINVAL for a bad uid or reference, LLMO_ETOOBIG past
 * LLMO_PODFETCH_PODS_MAX pods.
 */
int llmo_podfetcher_want(struct llmo_podfetcher *p, const char *uid, const char *ref,
			 bool sig_required, const char *sig_key, struct llmo_error *err);
/* The pod is gone: its fetch is stopped, its directory and pin removed. */
void llmo_podfetcher_forget(struct llmo_podfetcher *p, const char *uid);
/*
 * Once every pod of the node has been passed to _want: removes the
 * directories and pins of pods not followed (gone while no agent ran).
 * Returns how many.
 */
int llmo_podfetcher_collect(struct llmo_podfetcher *p);

/*
 * Reaps the running fetch when it ended (*res says how) and, with may_start
 * and none running, starts the next pod due. Returns the monotonic time in
 * ms at which a step is next needed (a retry falls due; 0: only when a pod
 * changes), or now + a poll interval while a fetch runs.
 */
int64_t llmo_podfetcher_step(struct llmo_podfetcher *p, bool may_start,
			     struct llmo_podfetch_result *res);
/* Whether a fetch is running. */
bool llmo_podfetcher_busy(const struct llmo_podfetcher *p);

#endif
