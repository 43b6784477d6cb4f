#ifndef LLMO_REGISTRY_HASHER_H
#define LLMO_REGISTRY_HASHER_H
/*
 * struct llmo_reg_hasher: hashes blob files on worker threads, so that a
 * verified pull can send (sendfile, or TLS encryption) on the event loop
 * while the SHA-256 of the same file is computed beside it. Without it the
 * loop alternates hashing and sending and a pull runs at about half the
 * hashing rate (docs/registry.md, "Throughput").
 *
 * A job hashes its own duplicate of the caller's descriptor from offset 0
 * for len bytes (from a memory map of it, llmo_sha256_mapped, else pread,
 * LLMO_DIGEST_READ_CHUNK at a time: the bytes come from the page cache the
 * send reads too; a file that shrinks meanwhile is an error, not a crash)
 * and reports on the event loop's thread. Workers touch
 * nothing but their job, the queue and a pipe; every callback and store
 * access stays on the loop (a worker logs only a pipe it cannot write).
 * The first job installs a SIGBUS handler (digest.h says how it passes
 * other faults on).
 *
 * Threads: llmo_reg_hasher_new, _submit, _cancel and _free are for the
 * loop's thread only. Workers (at most LLMO_REG_HASHER_THREADS_MAX) start on
 * the first submission.
 */
#include "base/common.h"

#include "base/error.h"
#include "registry/digest.h"

struct event_base;
struct llmo_reg_hasher;
struct llmo_reg_hash_job;

/* Worker threads at most (fewer on a machine with fewer online CPUs). */
#define LLMO_REG_HASHER_THREADS_MAX 4

/*
 * Called on the loop's thread once a job is done (never after
 * llmo_reg_hash_job_cancel): rc is 0 with *got the digest of the len bytes,
 * or LLMO_EIO (the file could not be read or was shorter than len; errno
 * text in msg) or LLMO_ENOMEM. The job is freed after the call returns.
 */
typedef void (*llmo_reg_hash_done_fn)(void *arg, int rc, const struct llmo_digest *got,
				      const char *msg);

/* A hasher that reports on base. *out owned by the caller (llmo_reg_hasher_free). */
int llmo_reg_hasher_new(struct event_base *base, struct llmo_reg_hasher **out,
			struct llmo_error *err);

/*
 * Stops the workers (jobs in progress are cancelled: their callbacks are
 * never called) and frees the hasher. NULL is fine.
 */
void llmo_reg_hasher_free(struct llmo_reg_hasher *h);

/*
 * Queues the hash of len bytes of fd (which is duplicated: the caller keeps
 * and may close its own). *job identifies it for llmo_reg_hash_job_cancel
 * until fn is called. LLMO_EIO (no descriptor), LLMO_ENOMEM or LLMO_EAGAIN
 * (no worker thread could start).
 */
int llmo_reg_hasher_submit(struct llmo_reg_hasher *h, int fd, uint64_t len,
			   llmo_reg_hash_done_fn fn, void *arg, struct llmo_reg_hash_job **job,
			   struct llmo_error *err);

/*
 * The caller no longer wants the result (its connection went away): fn is
 * not called, and the worker stops at its next window or piece. job must not be used
 * after.
 */
void llmo_reg_hash_job_cancel(struct llmo_reg_hash_job *job);

#endif
