#ifndef LLMO_REGISTRY_S3CACHE_H
#define LLMO_REGISTRY_S3CACHE_H
/*
 * modelRegistry.storageType: s3 — S3 holds the registry, the storage
 * directory is a cache of it (store.c calls these; s3.h is the client).
 *
 * Every file of the layout in store.h but the upload sessions is an
 * object whose key is its path below the storage root (under the
 * configured prefix): blobs/sha256/AB/HEX, repositories/NAME/... .
 *
 *  - Writes go to S3 first and to the directory only when S3 took them: a
 *    blob is stored in S3 (its digest already verified, from the session's
 *    fsynced file) before it is renamed into blobs/ and before the client
 *    hears 201; a failed S3 write leaves the directory as it was.
 *  - Deletes go to S3 first, the same way.
 *  - Records (links, revisions, tags, referrers) are small: at open, every
 *    object under repositories/ is listed and each one the directory lacks,
 *    or holds with other bytes (the MD5 in the object's ETag), is
 *    downloaded. The directory then answers tags, catalog and referrers.
 *  - Blobs are fetched on a read miss: downloaded to a dot file beside
 *    their place, hashed on the way, renamed into blobs/ only when they
 *    hash to their digest, then served like any local blob.
 *
 * These calls block their caller for the transfer: the registry makes
 * them on worker threads (s3jobs.h): blob transfers, record changes, the
 * restore at start and autoCleanup's pruning and collection.
 */
#include "base/common.h"

#include <stdatomic.h>

#include "base/error.h"
#include "registry/digest.h"
#include "registry/s3.h"

/* Most records (objects under repositories/) restored at open. */
#define LLMO_REG_S3_RECORDS_MAX 10000000
/* Largest record object restored (revision files are a few hundred bytes). */
#define LLMO_REG_S3_RECORD_MAX 65536

/* PUT the file that path (below root) names, with data as its bytes. */
int llmo__reg_s3_mirror_put(struct llmo_reg_s3 *s3, const char *root, const char *path,
			    const void *data, size_t len, struct llmo_error *err);
/* PUT the blob that will live at path from the open file fd (size bytes, digest d). */
int llmo__reg_s3_mirror_put_fd(struct llmo_reg_s3 *s3, const char *root, const char *path,
			       int fd, uint64_t size, const struct llmo_digest *d,
			       struct llmo_error *err);
/* DELETE the object of path. */
int llmo__reg_s3_mirror_delete(struct llmo_reg_s3 *s3, const char *root, const char *path,
			       struct llmo_error *err);
/* The size of path's object (HEAD): 0, LLMO_ENOTFOUND, or another error. */
int llmo__reg_s3_mirror_size(struct llmo_reg_s3 *s3, const char *root, const char *path,
			     uint64_t *size, struct llmo_error *err);
/*
 * Downloads blob d to path (its place in blobs/), at most max bytes,
 * verified against d; *fetched (may be NULL) gets its size. LLMO_ENOTFOUND
 * when S3 lacks it, LLMO_EINVALID_OBJECT when its bytes hash to something
 * else (nothing is stored then). Safe on several threads at once, even for
 * one blob: each download has a temporary file of its own.
 */
int llmo__reg_s3_fetch(struct llmo_reg_s3 *s3, const char *root, const char *path,
		       const struct llmo_digest *d, uint64_t max, uint64_t *fetched,
		       struct llmo_error *err);
/*
 * Brings root/repositories up to date with S3 (see above). It writes only
 * files under root/repositories, so it may run on a worker while the loop
 * serves what does not depend on them (the registry, registry_int.h).
 * When stop (may be NULL) becomes true it ends before the next record:
 * LLMO_AGAIN, the records restored so far kept (each one whole).
 */
int llmo__reg_s3_restore(struct llmo_reg_s3 *s3, const char *root, const atomic_bool *stop,
			 struct llmo_error *err);
/*
 * The check of llmo__reg_s3_restore's first request alone: one listing
 * request of the records (at most one page, nothing downloaded), which
 * fails as the restore would on a missing bucket, refused credentials or a
 * store that cannot be reached.
 */
int llmo__reg_s3_probe(struct llmo_reg_s3 *s3, struct llmo_error *err);

#endif
