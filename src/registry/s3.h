#ifndef LLMO_REGISTRY_S3_H
#define LLMO_REGISTRY_S3_H
/*
 * struct llmo_reg_s3: the few calls of an S3-compatible object store the
 * registry needs (modelRegistry.storageType: s3), over libcurl's AWS
 * Signature Version 4 (CURLOPT_AWS_SIGV4 "aws:amz:REGION:s3").
 *
 * Requests are path-style (ENDPOINT/BUCKET/PREFIXKEY), one at a time,
 * blocking, on one reused connection. Every request carries
 * x-amz-content-sha256: the body's SHA-256 (a blob's own digest for
 * blobs, so a verifying store checks the bytes it receives against it).
 *
 * Keys given to and returned by these calls are relative to the
 * configured prefix, and made of [A-Za-z0-9._/-] only (the registry's own
 * layout, store.h): nothing needs escaping, and a key from a listing that
 * has anything else is refused rather than used as a local path.
 *
 * Errors name the method, the object (s3://BUCKET/KEY) and what the store
 * said (HTTP status, S3 error code and message) or why no answer came.
 * LLMO_ENOTFOUND only for a missing key (404 NoSuchKey, or 404 to HEAD);
 * a missing bucket is LLMO_EIO, so it never reads as "blob unknown";
 * 401/403 are LLMO_EDENIED.
 */
#include "base/common.h"

#include "base/buf.h"
#include "base/error.h"
#include "registry/digest.h"

/* Longest key (S3's own limit). */
#define LLMO_REG_S3_KEY_MAX 1024
/* Largest object one PUT may store (S3's limit): the largest multipart threshold. */
#define LLMO_REG_S3_PUT_MAX ((uint64_t)5 << 30)
/* Default part size of a multipart upload (10000 parts: objects up to 5 TiB). */
#define LLMO_REG_S3_PART_SIZE ((uint64_t)512 << 20)
/* Bytes of an error answer kept for its code and message. */
#define LLMO_REG_S3_ERROR_BODY_MAX 8192
/* Largest ListObjectsV2 answer (1000 keys of at most 1 KiB each, with their fields). */
#define LLMO_REG_S3_LIST_BODY_MAX ((size_t)4 << 20)
/* Largest credentials file read. */
#define LLMO_REG_S3_CREDENTIALS_MAX 65536
/* Seconds to connect; seconds a transfer may make no progress before it is dropped. */
#define LLMO_REG_S3_CONNECT_TIMEOUT_S 10
#define LLMO_REG_S3_STALL_S 60
/* S3 transfers a registry runs at once by default (modelRegistry.s3.concurrency). */
#define LLMO_REG_S3_CONCURRENCY_DEFAULT 4

struct llmo_reg_s3;

struct llmo_reg_s3_opts {
	const char *endpoint; /* required: "http(s)://HOST[:PORT]", no path */
	const char *bucket;   /* required */
	const char *region;   /* signing region; "us-east-1" when NULL or "" */
	const char *prefix;   /* prepended to every key ("models/"); may be NULL */
	/*
	 * An AWS shared credentials file (aws_access_key_id and
	 * aws_secret_access_key of its [default] profile, or of no profile);
	 * when NULL or "", the environment's AWS_ACCESS_KEY_ID and
	 * AWS_SECRET_ACCESS_KEY.
	 */
	const char *credentials_file;
	/* PEM CA certificates that verify an https endpoint (NULL or "": the system's) */
	const char *ca_file;
	/* blobs larger than this (0: LLMO_REG_S3_PUT_MAX, the most allowed) are
	 * stored with a multipart upload of part_size parts (0:
	 * LLMO_REG_S3_PART_SIZE; 5 MiB to 5 GiB) */
	uint64_t multipart_threshold;
	uint64_t part_size;
	/* for the registry, not the client: S3 transfers run at once at most
	 * (s3jobs.h; 0: LLMO_REG_S3_CONCURRENCY_DEFAULT), and the bytes of blobs
	 * the storage directory keeps cached (0: no bound) */
	size_t concurrency;
	uint64_t cache_size;
};

/* Checks opts, reads the credentials and makes the client (nothing is sent yet). */
int llmo_reg_s3_new(const struct llmo_reg_s3_opts *opts, struct llmo_reg_s3 **out,
		    struct llmo_error *err);
void llmo_reg_s3_free(struct llmo_reg_s3 *s3);
/*
 * A second client with s3's settings and its own connection: a client is
 * used by one thread at a time, so each S3 worker thread (s3jobs.h) has one.
 * Reads only what _new set, so it may run on another thread while s3 is in use.
 */
int llmo_reg_s3_clone(const struct llmo_reg_s3 *s3, struct llmo_reg_s3 **out,
		      struct llmo_error *err);

/* "s3://BUCKET/PREFIX" for logs. */
const char *llmo_reg_s3_where(const struct llmo_reg_s3 *s3);
/* The largest object llmo_reg_s3_put_fd can store (10000 parts). */
uint64_t llmo_reg_s3_object_max(const struct llmo_reg_s3 *s3);

/* PUT key with len bytes of data. */
int llmo_reg_s3_put(struct llmo_reg_s3 *s3, const char *key, const void *data, size_t len,
		    struct llmo_error *err);

/*
 * PUT key with the first size bytes of the open file fd (read with pread:
 * its offset is left alone), whose SHA-256 is d: one PUT signed with d, or
 * above the multipart threshold a multipart upload whose parts are each
 * signed with their own SHA-256 (hashed first: read twice). LLMO_ETOOBIG
 * past llmo_reg_s3_object_max.
 */
int llmo_reg_s3_put_fd(struct llmo_reg_s3 *s3, const char *key, int fd, uint64_t size,
		       const struct llmo_digest *d, struct llmo_error *err);

/*
 * GET key, written to fd from its current offset and hashed into h (may be
 * NULL) on the way; *size (may be NULL) receives the bytes written.
 * LLMO_ETOOBIG (and the transfer is dropped) past max bytes.
 */
int llmo_reg_s3_get_fd(struct llmo_reg_s3 *s3, const char *key, int fd, uint64_t max,
		       struct llmo_sha256 *h, uint64_t *size, struct llmo_error *err);

/* GET key appended to out (whose own cap also applies), at most max bytes. */
int llmo_reg_s3_get(struct llmo_reg_s3 *s3, const char *key, size_t max, struct llmo_buf *out,
		    struct llmo_error *err);

/* HEAD key: 0 with *size (may be NULL), or LLMO_ENOTFOUND. */
int llmo_reg_s3_head(struct llmo_reg_s3 *s3, const char *key, uint64_t *size,
		     struct llmo_error *err);

/* DELETE key (a missing key is not an error: S3 answers 204 either way). */
int llmo_reg_s3_delete(struct llmo_reg_s3 *s3, const char *key, struct llmo_error *err);

struct llmo_reg_s3_object {
	const char *key;  /* relative to the prefix */
	const char *etag; /* without quotes; for a single PUT, the MD5 of the bytes in hex */
	uint64_t size;
	int64_t mtime_ms; /* LastModified, Unix epoch milliseconds; -1 when not given */
};

/*
 * Lists the keys under prefix (relative, like keys) page by page
 * (ListObjectsV2), calling fn for each; a non-zero return from fn stops
 * the listing and is returned. At most max keys (LLMO_ETOOBIG past it).
 */
int llmo_reg_s3_list(struct llmo_reg_s3 *s3, const char *prefix, size_t max,
		     int (*fn)(void *arg, const struct llmo_reg_s3_object *o,
			       struct llmo_error *err),
		     void *arg, struct llmo_error *err);

/* Whether key is made only of the characters keys may hold, with no empty, "." or ".." part. */
bool llmo_reg_s3_key_valid(const char *key);

#endif
