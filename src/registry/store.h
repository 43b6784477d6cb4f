#ifndef LLMO_REGISTRY_STORE_H
#define LLMO_REGISTRY_STORE_H
/*
 * The registry's storage (modelRegistry.storageType: local, or the cache of s3): blobs
 * addressed by their SHA-256, upload sessions, and repositories made of
 * links. Everything lives under one root directory:
 *
 *     ROOT/blobs/sha256/AB/ABCDEF...        a blob's bytes, named by its digest
 *     ROOT/uploads/ID/data                  an upload session's bytes so far
 *     ROOT/uploads/ID/repo                  the repository it was started in
 *     ROOT/repositories/NAME/_layers/sha256/HEX
 *                                           empty: blob HEX belongs to NAME
 *     ROOT/repositories/NAME/_manifests/revisions/sha256/HEX
 *                                           manifest HEX is in NAME; holds its
 *                                           media type, and "subject sha256:X"
 *                                           on a second line when it has one
 *     ROOT/repositories/NAME/_manifests/tags/TAG
 *                                           "sha256:HEX": what TAG points at
 *     ROOT/repositories/NAME/_referrers/sha256/SUBJECT/HEX
 *                                           empty: manifest HEX refers to SUBJECT
 *
 * Crash safety: a blob appears under blobs/ only complete and verified: an
 * upload's bytes go to its session file, are hashed as they arrive (never
 * held in memory whole), and at the end are fsynced, compared with the
 * digest the client named and renamed into place (then the directory is
 * fsynced). Small files (links, tags, manifests) are written with
 * llmo_file_write_atomic. A failed upload leaves nothing under blobs/.
 * Two sessions pushing the same blob are safe: each has its own file and
 * the rename of identical verified bytes is atomic.
 *
 * Verification on read (checksum_validation): llmo_reg_blob_read_small
 * hashes what it read before returning it. Larger blobs go by a cache of
 * blobs verified whole (keyed by device, inode, size, mtime and ctime, so
 * any write to the file invalidates the entry; a file changed in the last
 * two seconds is not cached, as file times are coarse): the registry
 * hashes a whole download as it sends it unless llmo_reg_blob_verified
 * says the file was verified within opts.reverify_ms and is unchanged;
 * llmo_reg_blob_check serves range reads from the cache (within
 * reverify_ms, or at any age when that is 0) and hashes the whole blob
 * first on a miss.
 *
 * With S3 (opts.s3, modelRegistry.storageType: s3) the same layout is
 * kept in a bucket and this directory is a cache of it: every write and
 * delete but the upload sessions' reaches S3 first, records are restored
 * from S3 at open (or by the caller, opts.defer_restore), and a blob
 * missing here is fetched (verified) when it is opened (s3cache.h).
 *
 * Not thread-safe: one event loop owns a store. A worker thread works on
 * a clone of it (llmo_reg_store_clone), which shares only the directory
 * and the bucket.
 */
#include "base/common.h"

#include <time.h>

#include "base/buf.h"
#include "base/error.h"
#include "base/str.h"
#include "registry/digest.h"
#include "registry/route.h"
#include "registry/s3.h"

/* Upload sessions kept at once (more: LLMO_EAGAIN, answered 429). */
#define LLMO_REG_UPLOADS_MAX 1024
/* Repositories a catalog lists at most; tags and referrers of one repository. */
#define LLMO_REG_CATALOG_MAX 100000
#define LLMO_REG_TAGS_MAX 100000
#define LLMO_REG_REFERRERS_MAX 10000
/* Entries in the cache of verified blobs (cleared whole when full). */
#define LLMO_REG_VERIFIED_MAX 65536
/* Longest media type stored with a manifest. */
#define LLMO_REG_MEDIA_TYPE_MAX 255

struct llmo_reg_store;

struct llmo_reg_store_opts {
	const char *root;
	bool checksum_validation; /* verify digests on read */
	/* a blob verified whole this long ago at most (ms), its file unchanged
	 * since, is not hashed again when read (modelRegistry.reverifyInterval);
	 * 0: whole reads are always hashed */
	int64_t reverify_ms;
	/* the clock of the verified cache's ages and of the racy-file rule
	 * (tests move it); NULL: clock_gettime */
	int (*clock)(clockid_t id, struct timespec *t);
	uint64_t blob_max;        /* largest blob accepted; 0: LLMO_REG_BLOB_MAX_DEFAULT */
	/* storageType s3: S3 is the store of record and root a verified cache
	 * of it (s3cache.h); blob_max is then at most llmo_reg_s3_object_max.
	 * NULL: local storage only. */
	const struct llmo_reg_s3_opts *s3;
	/* s3: open only checks that the bucket answers (one listing request,
	 * llmo__reg_s3_probe) instead of restoring the records; the caller
	 * restores them (llmo__reg_s3_restore, on a worker) before it answers
	 * anything from them (the registry, registry_int.h) */
	bool defer_restore;
};

#define LLMO_REG_BLOB_MAX_DEFAULT ((uint64_t)1 << 40)

/*
 * Opens (creating when missing: root 0700, the rest 0755) the storage at
 * opts->root; with opts->s3, also brings its records up to date from S3
 * (so S3 being unreachable or refusing the credentials fails here). *out
 * is NULL on failure.
 */
int llmo_reg_store_open(const struct llmo_reg_store_opts *opts, struct llmo_reg_store **out,
			struct llmo_error *err);
/* Frees the store; upload sessions stay on disk and resume after the next open. */
void llmo_reg_store_free(struct llmo_reg_store *s);

/*
 * A second handle on s's directory and bucket for one worker thread (the
 * registry's autoCleanup, registry_int.h): its own S3 client and its own
 * memory (no upload sessions; an unbounded account of the blobs it opens,
 * which trims nothing), so it may run on another thread while s serves the
 * loop. Nothing is restored or scanned. Free it with llmo_reg_store_free.
 */
int llmo_reg_store_clone(const struct llmo_reg_store *s, struct llmo_reg_store **out,
			 struct llmo_error *err);
/*
 * On s's thread, once clone's work is done: the blobs clone cached (read
 * from S3 into the directory) are accounted in s's cache bound too.
 */
void llmo_reg_store_adopt(struct llmo_reg_store *s, const struct llmo_reg_store *clone);
/* Forgets every blob s remembers as verified or as held by S3 (a cache, not the truth). */
void llmo_reg_store_forget_all(struct llmo_reg_store *s);

bool llmo_reg_store_verifies(const struct llmo_reg_store *s);
/* The storage root (for gc.c, which walks it). */
const char *llmo_reg_store_root(const struct llmo_reg_store *s);
/*
 * Removes the file path of the store (gc.c's sweep): with S3 its object
 * first, so the bucket is collected too. 0, or an error (the file stays).
 */
int llmo_reg_store_unlink(struct llmo_reg_store *s, const char *path, struct llmo_error *err);
/*
 * Removes the link file path (gc.c's pruning; links are empty) unless it was
 * modified after not_after_ns, which is checked before its S3 object is
 * deleted and again after: a client that asked for the blob meanwhile
 * (llmo_reg_link_touch touches the link), while the S3 delete ran on a
 * worker, keeps the link, its object put back. 0 when removed, 1 when
 * kept, or an error (the file stays).
 */
int llmo_reg_store_unlink_link(struct llmo_reg_store *s, const char *path, int64_t not_after_ns,
			       struct llmo_error *err);
/* Drops d from the cache of verified blobs (its file is being removed). */
void llmo_reg_store_forget(struct llmo_reg_store *s, const struct llmo_digest *d);
uint64_t llmo_reg_store_blob_max(const struct llmo_reg_store *s);

/* snprintf into a PATH_MAX buffer out; LLMO_EINVAL when it does not fit. */
int llmo_reg_path_fmt(char *out, struct llmo_error *err, const char *fmt, ...) LLMO_PRINTF(3, 4);

/* ---- blobs ---- */

/*
 * Whether blob d exists, and in repository repo when repo is not NULL
 * (linked by an upload, a mount or llmo_reg_blob_link). 0 with *size
 * (may be NULL), or LLMO_ENOTFOUND. With repo, the link's mtime is set to
 * now: the blob is about to be referred to (gc.h relies on it).
 */
int llmo_reg_blob_stat(struct llmo_reg_store *s, const char *repo, const struct llmo_digest *d,
		       uint64_t *size);
/*
 * Sets the mtime of blob d's link in repo to now (what llmo_reg_blob_stat
 * does with a repo), for a reader that has the blob already: 0, or
 * LLMO_ENOTFOUND when repo has no link to d.
 */
int llmo_reg_link_touch(struct llmo_reg_store *s, const char *repo, const struct llmo_digest *d);

/* The S3 client of an s3 store (NULL for local storage). */
struct llmo_reg_s3 *llmo_reg_store_s3(const struct llmo_reg_store *s);
/* Whether blob d is linked into repo (its link file; nothing is asked of S3). */
bool llmo_reg_blob_linked(const struct llmo_reg_store *s, const char *repo,
			  const struct llmo_digest *d);
/* The file of blob d: ROOT/blobs/sha256/AB/HEX, into a PATH_MAX buffer. */
int llmo_reg_blob_path(const struct llmo_reg_store *s, const struct llmo_digest *d, char *out,
		       struct llmo_error *err);
/* Whether blob d's file is in the directory (with S3: cached; nothing is asked of S3). */
bool llmo_reg_blob_cached(const struct llmo_reg_store *s, const struct llmo_digest *d);
/*
 * With S3: records that S3 holds blob d of size bytes (a HEAD made on a
 * worker thread), so that llmo_reg_blob_stat answers from memory instead
 * of asking S3 in the caller's thread. Forgotten when the store removes
 * the blob; at most LLMO_REG_S3_KNOWN_MAX (cleared whole when full).
 */
#define LLMO_REG_S3_KNOWN_MAX 65536
void llmo_reg_store_s3_known(struct llmo_reg_store *s, const struct llmo_digest *d,
			     uint64_t size);
bool llmo_reg_blob_s3_known(const struct llmo_reg_store *s, const struct llmo_digest *d);

/*
 * With S3 and s3.cacheSize (opts.s3->cache_size): the cache keeps at most
 * that many bytes of blobs. Every blob opened or stored becomes the most
 * recently used; past the bound the least recently used ones that no
 * request is reading (pinned) are removed from the directory, never from
 * S3, and fetched again when read (lru.h). A reader pins the blob for as
 * long as it sends from its file.
 */
#define LLMO_REG_CACHE_SCAN_MAX 10000000 /* blobs accounted at open at most */
void llmo_reg_blob_pin(struct llmo_reg_store *s, const struct llmo_digest *d);
void llmo_reg_blob_unpin(struct llmo_reg_store *s, const struct llmo_digest *d);
/* The bytes of blobs cached now, and the evictions so far. */
void llmo_reg_store_cache_stats(const struct llmo_reg_store *s, uint64_t *bytes,
				uint64_t *evictions);

/*
 * Opens blob d of repo (NULL: any) for reading. 0 with *fd (the caller
 * closes it) and *size, LLMO_ENOTFOUND, or LLMO_EIO.
 */
int llmo_reg_blob_open(struct llmo_reg_store *s, const char *repo, const struct llmo_digest *d,
		       int *fd, uint64_t *size, struct llmo_error *err);

/*
 * Makes sure the bytes of the open blob fd are those of d: from the cache
 * of verified blobs when fd's file is unchanged since it was verified
 * (within reverify_ms, when that is not 0), else by hashing it whole (and
 * caching the result; *hashed, may be NULL, says which). 0, or
 * LLMO_EINVALID_OBJECT when the content does not match (a corrupt or
 * tampered blob; err says what it hashes to), or LLMO_EIO.
 */
int llmo_reg_blob_check(struct llmo_reg_store *s, const struct llmo_digest *d, int fd,
			bool *hashed, struct llmo_error *err);
/*
 * Whether a whole read of the open blob fd may skip hashing it: fd's file
 * was verified to be d within reverify_ms (never, when that is 0) and is
 * unchanged since.
 */
bool llmo_reg_blob_verified(struct llmo_reg_store *s, const struct llmo_digest *d, int fd);
/* Records that fd's file was just hashed whole and matched d. */
void llmo_reg_blob_mark_verified(struct llmo_reg_store *s, const struct llmo_digest *d, int fd);

/*
 * Reads blob d of repo (NULL: any), at most max bytes, into out (appended),
 * verifying its digest when the store verifies. LLMO_ENOTFOUND,
 * LLMO_ETOOBIG, LLMO_EINVALID_OBJECT (corrupt) or LLMO_EIO.
 */
int llmo_reg_blob_read_small(struct llmo_reg_store *s, const char *repo,
			     const struct llmo_digest *d, size_t max, struct llmo_buf *out,
			     struct llmo_error *err);

/*
 * Stores len bytes as blob d (computed when d is NULL; *dout, may be NULL,
 * receives it), atomically, and links it into repo when repo is not NULL.
 * LLMO_EINVALID_OBJECT when the bytes do not hash to d.
 */
int llmo_reg_blob_put(struct llmo_reg_store *s, const char *repo, const struct llmo_digest *d,
		      const void *data, size_t len, struct llmo_digest *dout,
		      struct llmo_error *err);

/* Links existing blob d into repo (a cross-repository mount). LLMO_ENOTFOUND when absent. */
int llmo_reg_blob_link(struct llmo_reg_store *s, const char *repo, const struct llmo_digest *d,
		       struct llmo_error *err);
/* Removes blob d from repo (its bytes stay for other repositories). LLMO_ENOTFOUND. */
int llmo_reg_blob_unlink(struct llmo_reg_store *s, const char *repo, const struct llmo_digest *d,
			 struct llmo_error *err);

/*
 * ---- record writes as two steps (S3 on a worker, the directory on the loop) ----
 *
 * A change to the store's small records (a manifest push's blob, revision,
 * tag and referrer files; a manifest's or tag's DELETE; a blob's link or
 * unlink) is planned on the loop as a list of object writes and deletes
 * (llmo_reg_*_plan), mirrored to S3 in that order, stopping at the first
 * failure (llmo_reg_recs_mirror: on a worker, s3jobs.h), and then its
 * first `done` steps are applied to the directory (llmo_reg_recs_apply):
 * S3 first, the directory after, as put_file does, and a failure half way
 * leaves the same usable state as before (the steps before it, in both).
 */
struct llmo_reg_rec {
	bool del;           /* an unlink; else a write of data */
	bool rmdir_parent;  /* del: the parent directory goes too once empty */
	bool is_blob;       /* a write of blob `blob` (the cache's bookkeeping) */
	struct llmo_digest blob;
	char *path;         /* in the storage directory */
	char *data;         /* the bytes written (may be NULL when len is 0) */
	size_t len;
};

/* Steps of one change at most: a manifest DELETE's tags, and three more. */
#define LLMO_REG_RECS_MAX (LLMO_REG_TAGS_MAX + 3)

struct llmo_reg_recs {
	struct llmo_reg_rec *v;
	size_t len, cap;
};

void llmo_reg_recs_release(struct llmo_reg_recs *r);
/* A deep copy of src in *dst (empty before). */
int llmo_reg_recs_copy(struct llmo_reg_recs *dst, const struct llmo_reg_recs *src,
		       struct llmo_error *err);
/* Mirrors r's steps to s3 in order; *done: how many succeeded (all of them on 0). */
int llmo_reg_recs_mirror(struct llmo_reg_s3 *s3, const char *root,
			 const struct llmo_reg_recs *r, size_t *done, struct llmo_error *err);
/* Applies r's first n steps to the directory (their S3 objects already written). */
int llmo_reg_recs_apply(struct llmo_reg_store *s, const struct llmo_reg_recs *r, size_t n,
			struct llmo_error *err);

/* The plans of llmo_reg_manifest_put, _delete, llmo_reg_tag_delete, blob_link and unlink. */
int llmo_reg_manifest_put_plan(struct llmo_reg_store *s, const char *repo, const char *tag,
			       const struct llmo_digest *d, const char *media_type,
			       const struct llmo_digest *subject, const void *body, size_t len,
			       struct llmo_reg_recs *out, struct llmo_error *err);
int llmo_reg_manifest_delete_plan(struct llmo_reg_store *s, const char *repo,
				  const struct llmo_digest *d, struct llmo_reg_recs *out,
				  struct llmo_error *err);
int llmo_reg_tag_delete_plan(struct llmo_reg_store *s, const char *repo, const char *tag,
			     struct llmo_reg_recs *out, struct llmo_error *err);
int llmo_reg_blob_link_plan(struct llmo_reg_store *s, const char *repo,
			    const struct llmo_digest *d, struct llmo_reg_recs *out,
			    struct llmo_error *err);
int llmo_reg_blob_unlink_plan(struct llmo_reg_store *s, const char *repo,
			      const struct llmo_digest *d, struct llmo_reg_recs *out,
			      struct llmo_error *err);

/* ---- upload sessions ---- */

struct llmo_reg_upload {
	char id[LLMO_REG_UPLOAD_ID_LEN + 1];
	char repo[LLMO_REG_NAME_MAX + 1];
	int fd;                  /* the data file, opened for writing */
	uint64_t size;           /* bytes stored and hashed */
	struct llmo_sha256 hash; /* of those bytes */
	int64_t touched_ms;      /* monotonic time of the last write */
	bool busy;               /* a request is writing to it (set by the caller) */
};

/*
 * Starts a session in repo. LLMO_EAGAIN when LLMO_REG_UPLOADS_MAX sessions
 * are open. *out is owned by the store (valid until finish or cancel).
 */
int llmo_reg_upload_start(struct llmo_reg_store *s, const char *repo,
			  struct llmo_reg_upload **out, struct llmo_error *err);

/*
 * The session id of repo: in memory, or found on disk after a restart (its
 * bytes are then hashed again to resume). LLMO_ENOTFOUND when there is no
 * such session or it belongs to another repository.
 */
int llmo_reg_upload_get(struct llmo_reg_store *s, const char *repo, const char *id,
			struct llmo_reg_upload **out, struct llmo_error *err);

/*
 * Appends n bytes to the session and its hash. LLMO_ETOOBIG past the blob
 * size cap. On a write error (LLMO_EIO, disk full included) the file is cut
 * back to the bytes before this call, so the session stays consistent.
 */
int llmo_reg_upload_write(struct llmo_reg_store *s, struct llmo_reg_upload *u, const void *p,
			  size_t n, struct llmo_error *err);

/*
 * Completes the session as blob want: fsyncs the data, checks its digest,
 * renames it into blobs/, links it into the session's repository. The
 * session ends (u is freed, its files removed) whatever the outcome.
 * LLMO_EINVALID_OBJECT when the content does not hash to want; LLMO_EIO
 * and others for storage errors.
 */
int llmo_reg_upload_finish(struct llmo_reg_store *s, struct llmo_reg_upload *u,
			   const struct llmo_digest *want, struct llmo_error *err);

/*
 * llmo_reg_upload_finish in two steps, so that the S3 upload between them
 * can run on a worker thread (s3jobs.h):
 *
 * _seal checks the digest and fsyncs the data (on failure the session
 * ends, as with _finish); dst (PATH_MAX) receives the blob's place. The
 * session's u->fd then holds the verified bytes.
 *
 * _commit renames the data into blobs/ and links it; with S3 and without
 * LLMO_REG_COMMIT_MIRRORED, it first stores the blob in S3 as _finish does
 * (MIRRORED: the caller stored the blob already). LLMO_REG_COMMIT_NO_LINK:
 * no link (the caller links it as a record change, in its turn). The
 * session ends.
 */
#define LLMO_REG_COMMIT_MIRRORED 1u
#define LLMO_REG_COMMIT_NO_LINK 2u
int llmo_reg_upload_seal(struct llmo_reg_store *s, struct llmo_reg_upload *u,
			 const struct llmo_digest *want, char *dst, struct llmo_error *err);
int llmo_reg_upload_commit(struct llmo_reg_store *s, struct llmo_reg_upload *u,
			   const struct llmo_digest *want, unsigned flags, struct llmo_error *err);

/* Ends the session and removes its files; u is freed. */
void llmo_reg_upload_cancel(struct llmo_reg_store *s, struct llmo_reg_upload *u);

/* Cancels sessions not written to for idle_ms (on disk: by the data file's mtime). */
void llmo_reg_upload_expire(struct llmo_reg_store *s, int64_t idle_ms);

size_t llmo_reg_upload_count(const struct llmo_reg_store *s);

/* ---- manifests, tags, referrers, repositories ---- */

/*
 * Stores manifest d (len bytes of body, whose digest the caller computed)
 * in repo with its media type, tags it when tag is not NULL, and records
 * it as a referrer of subject when subject is not NULL.
 */
int llmo_reg_manifest_put(struct llmo_reg_store *s, const char *repo, const char *tag,
			  const struct llmo_digest *d, const char *media_type,
			  const struct llmo_digest *subject, const void *body, size_t len,
			  struct llmo_error *err);

/*
 * Resolves tag (when not NULL) or checks digest *d in repo. 0 with *d set
 * and media_type (LLMO_REG_MEDIA_TYPE_MAX + 1 bytes, may be NULL) filled;
 * LLMO_ENOTFOUND.
 */
int llmo_reg_manifest_resolve(struct llmo_reg_store *s, const char *repo, const char *tag,
			      struct llmo_digest *d, char *media_type, struct llmo_error *err);

/*
 * Deletes manifest d from repo with every tag that points at it and its
 * referrer record. LLMO_ENOTFOUND when it is not in repo.
 */
int llmo_reg_manifest_delete(struct llmo_reg_store *s, const char *repo,
			     const struct llmo_digest *d, struct llmo_error *err);

/* Removes a tag only. LLMO_ENOTFOUND. */
int llmo_reg_tag_delete(struct llmo_reg_store *s, const char *repo, const char *tag,
			struct llmo_error *err);

/* Whether repo has been pushed to (it has blobs, manifests or tags). */
bool llmo_reg_repo_exists(struct llmo_reg_store *s, const char *repo);

/* repo's tags in byte order, appended to out. LLMO_ENOTFOUND for an unknown repo. */
int llmo_reg_tags_list(struct llmo_reg_store *s, const char *repo, struct llmo_strv *out,
		       struct llmo_error *err);

/* Every repository name in byte order, appended to out. */
int llmo_reg_catalog(struct llmo_reg_store *s, struct llmo_strv *out, struct llmo_error *err);

/* The digests ("sha256:HEX") of the manifests in repo that refer to subject. */
int llmo_reg_referrers(struct llmo_reg_store *s, const char *repo,
		       const struct llmo_digest *subject, struct llmo_strv *out,
		       struct llmo_error *err);

/*
 * For the registry's own files (store.c, gc.c): appends to out the names of
 * the entries of dir that satisfy keep (all but dot files when keep is
 * NULL), at most max of them (LLMO_ETOOBIG past it). A missing dir has none.
 */
int llmo__reg_list_dir(const char *dir, bool (*keep)(const char *name), size_t max,
		       struct llmo_strv *out, struct llmo_error *err);
/* mkdir -p of the directory holding path; fsync of it (after a rename or create there). */
int llmo__reg_mkdir_parent(const char *path, struct llmo_error *err);
int llmo__reg_fsync_parent(const char *path, struct llmo_error *err);

#endif
