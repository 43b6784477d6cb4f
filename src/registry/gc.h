#ifndef LLMO_REGISTRY_GC_H
#define LLMO_REGISTRY_GC_H
/*
 * Version pruning (modelRegistry.maxVersions with autoCleanup) and garbage
 * collection of the blobs nothing refers to, on a store (store.h).
 *
 * Pruning: the versions of a model in a repository are its manifests whose
 * artifactType is the one given (llmo's model type) and that have no
 * subject (signatures are referrers, not versions). When there are more
 * than max_versions, the oldest (by the time their manifest was stored)
 * that no alias tag (latest, stable) points at are deleted with their tags
 * and their referrers (signatures); the links of their blobs that no
 * remaining manifest of the repository uses are removed unless a client
 * touched the link (uploaded or asked for the blob) after the deleted
 * manifest was stored: that client is about to push a manifest using it.
 *
 * Garbage collection is mark and sweep over the whole store: marked are
 * every manifest of every repository (referrers included) and what each
 * refers to (config, layers, an index's manifests), and every blob linked
 * into a repository whose link is younger than grace_ms (an upload whose
 * manifest has not come yet). Links older than that to unmarked blobs are
 * removed, then every unmarked blob. Upload sessions in progress are not
 * under blobs/ and are never touched.
 *
 * With S3 (storageType s3) the sweep goes on in the bucket: its blob
 * objects are listed (ListObjectsV2) and those unmarked and stored longer
 * than grace_ms ago (LastModified) are deleted, so blobs the cache does not
 * hold (never read through it, or evicted) are collected too. Records
 * restored from the bucket keep its LastModified as their mtime, so the
 * grace of links means the same after a restore.
 *
 * Both run to completion in the caller's thread; the store is not
 * thread-safe, so in the registry they run in its event loop between
 * requests, which is what makes them safe with concurrent uploads: no
 * upload can finish halfway through a collection.
 */
#include "base/common.h"

#include "base/error.h"
#include "base/str.h"
#include "registry/store.h"

/* Blob objects a collection of an S3 store lists from the bucket at most. */
#define LLMO_REG_GC_BUCKET_BLOBS_MAX 10000000

/* Links younger than this to unreferenced blobs survive a collection. */
#define LLMO_REG_GC_GRACE_MS ((int64_t)3600 * 1000)

struct llmo_reg_gc_stats {
	size_t manifests;      /* manifests found (all repositories) */
	size_t blobs_kept;     /* blobs marked */
	size_t blobs_removed;  /* blobs swept */
	uint64_t bytes_removed;
	size_t links_removed;  /* repository links to unreferenced blobs removed */
	size_t uploads_removed; /* stale upload sessions (llmo_reg_gc_uploads) */
	uint64_t upload_bytes_removed;
};

/* What a collection removes, one at a time, for llmo_reg_gc_opts.report. */
enum llmo_reg_gc_kind { LLMO_REG_GC_BLOB, LLMO_REG_GC_LINK, LLMO_REG_GC_UPLOAD };

struct llmo_reg_gc_opts {
	int64_t grace_ms; /* LLMO_REG_GC_GRACE_MS when 0 */
	bool dry_run;     /* find and report what would go; remove nothing */
	/*
	 * Called (may be NULL) for each thing removed, or that would be in a
	 * dry run, once it is gone: a blob (repo NULL, name its hex, bytes its
	 * size), a link (repo, name the blob's hex, bytes 0), an upload session
	 * (repo as recorded or NULL, name its id, bytes received so far).
	 */
	void (*report)(void *arg, enum llmo_reg_gc_kind kind, const char *repo, const char *name,
		       uint64_t bytes);
	void *arg;
};

/*
 * llmo_reg_gc with options: a dry run changes nothing (the verification
 * cache included) and counts in stats what a real run would remove.
 */
int llmo_reg_gc_run(struct llmo_reg_store *s, const struct llmo_reg_gc_opts *o,
		    struct llmo_reg_gc_stats *stats, struct llmo_error *err);

/*
 * Removes the upload sessions on disk under the store's uploads/ whose data
 * file (or directory, without one) was last written more than max_age_ms
 * ago, reporting each (o->report) and adding to stats (uploads_removed,
 * upload_bytes_removed). Offline only: sessions a running registry holds
 * in memory are not told (the registry expires its own, see
 * llmo_reg_upload_expire).
 */
int llmo_reg_gc_uploads(struct llmo_reg_store *s, int64_t max_age_ms,
			const struct llmo_reg_gc_opts *o, struct llmo_reg_gc_stats *stats,
			struct llmo_error *err);

/*
 * DIR/lock keeps an offline collection and a serving registry apart: every
 * registry serving DIR holds it shared (flock LOCK_SH) for its lifetime,
 * `llmo registry gc` exclusively. Never waits: LLMO_EAGAIN when the other
 * kind holds it, LLMO_EIO when it cannot be opened. *fd receives the
 * descriptor; closing it releases the lock.
 */
#define LLMO_REG_LOCK_FILE "lock"
int llmo_reg_lock_take(const char *root, bool exclusive, int *fd, struct llmo_error *err);

/*
 * Collects the garbage of s. stats may be NULL. A manifest that cannot be
 * read or parsed stops the collection before anything is removed
 * (LLMO_EINVALID_OBJECT or LLMO_EIO): what it refers to is unknown.
 */
int llmo_reg_gc(struct llmo_reg_store *s, int64_t grace_ms, struct llmo_reg_gc_stats *stats,
		struct llmo_error *err);

struct llmo_reg_prune_opts {
	int max_versions;            /* >= 1 */
	const char *artifact_type;   /* which manifests are versions */
	const char *const *aliases;  /* tags whose manifests are never pruned */
	size_t naliases;
	const struct llmo_digest *keep; /* never pruned either (the version just pushed); may be NULL */
};

/*
 * Deletes the oldest unaliased versions of repo beyond o->max_versions.
 * deleted (may be NULL) gets the digests ("sha256:HEX") of the versions
 * deleted, oldest first. Run llmo_reg_gc afterwards to free their bytes.
 */
int llmo_reg_prune(struct llmo_reg_store *s, const char *repo,
		   const struct llmo_reg_prune_opts *o, struct llmo_strv *deleted,
		   struct llmo_error *err);

/*
 * The time manifest d was stored in repo (its revision file's mtime), or -1
 * when it is not there. Read before a DELETE of it, for
 * llmo_reg_unlink_deleted.
 */
int64_t llmo_reg_revision_stored_ns(struct llmo_reg_store *s, const char *repo,
				    const struct llmo_digest *d);

/*
 * After a DELETE of manifest d of repo (stored at stored_ns, from
 * llmo_reg_revision_stored_ns before it), when its artifactType is
 * artifact_type (NULL: any): removes the links of what it referred to as a
 * prune does (unless a remaining manifest of repo uses it or the link was
 * touched after stored_ns), so that the collection that follows frees
 * their bytes at once instead of after the links' grace. Other manifests'
 * links are left to the grace: an OCI client may delete a manifest and
 * then its blobs, and expects 202 for those (the distribution-spec
 * conformance suite does). The manifest's own blob must still be there (no
 * collection ran since).
 */
int llmo_reg_unlink_deleted(struct llmo_reg_store *s, const char *repo,
			    const struct llmo_digest *d, int64_t stored_ns, const char *artifact_type,
			    struct llmo_error *err);

#endif
