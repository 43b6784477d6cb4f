/*
 * The storage directory as a cache of S3 (s3cache.h).
 */
#include "base/common.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/file.h"
#include "base/log.h"
#include "base/str.h"
#include "registry/s3cache.h"
#include "registry/store.h"

#include "base/banned.h"

#define LOG "registry"

/* The key of path: its part below root. */
static int key_of(const char *root, const char *path, const char **key, struct llmo_error *err)
{
	size_t n = strlen(root);

	if (strncmp(path, root, n) != 0 || path[n] != '/')
		return llmo_error_set(err, LLMO_EINTERNAL, "%s is not below %s", path, root);
	*key = path + n + 1;
	return 0;
}

int llmo__reg_s3_mirror_put(struct llmo_reg_s3 *s3, const char *root, const char *path,
			    const void *data, size_t len, struct llmo_error *err)
{
	const char *key;
	int rc = key_of(root, path, &key, err);

	return rc ? rc : llmo_reg_s3_put(s3, key, data, len, err);
}

int llmo__reg_s3_mirror_put_fd(struct llmo_reg_s3 *s3, const char *root, const char *path,
			       int fd, uint64_t size, const struct llmo_digest *d,
			       struct llmo_error *err)
{
	const char *key;
	int rc = key_of(root, path, &key, err);

	return rc ? rc : llmo_reg_s3_put_fd(s3, key, fd, size, d, err);
}

int llmo__reg_s3_mirror_delete(struct llmo_reg_s3 *s3, const char *root, const char *path,
			       struct llmo_error *err)
{
	const char *key;
	int rc = key_of(root, path, &key, err);

	return rc ? rc : llmo_reg_s3_delete(s3, key, err);
}

int llmo__reg_s3_mirror_size(struct llmo_reg_s3 *s3, const char *root, const char *path,
			     uint64_t *size, struct llmo_error *err)
{
	const char *key;
	int rc = key_of(root, path, &key, err);

	return rc ? rc : llmo_reg_s3_head(s3, key, size, err);
}

int llmo__reg_s3_fetch(struct llmo_reg_s3 *s3, const char *root, const char *path,
		       const struct llmo_digest *d, uint64_t max, uint64_t *fetched,
		       struct llmo_error *err)
{
	char tmp[PATH_MAX], a[LLMO_DIGEST_STR_MAX], b[LLMO_DIGEST_STR_MAX];
	const char *slash = strrchr(path, '/'), *key;
	struct llmo_sha256 h = {0};
	struct llmo_digest got;
	uint64_t size = 0;
	int fd = -1, rc;

	if ((rc = key_of(root, path, &key, err)) || (rc = llmo__reg_mkdir_parent(path, err)))
		return rc;
	/* a dot file: directory listings (gc, the catalog) pass over it; a name
	 * of its own, since two workers may fetch the same blob at once */
	if (!slash || (rc = llmo_reg_path_fmt(tmp, err, "%.*s/.%s.XXXXXX.s3part",
					      (int)(slash - path), path, slash + 1)))
		return rc ? rc : llmo_error_set(err, LLMO_EINTERNAL, "bad blob path %s", path);
	fd = mkostemps(tmp, 7, O_CLOEXEC);
	if (fd >= 0)
		fchmod(fd, 0644);
	if (fd < 0)
		return llmo_error_set(err, LLMO_EIO, "%s: open: %s", tmp, strerror(errno));
	if ((rc = llmo_sha256_init(&h))) {
		rc = llmo_error_set(err, rc, "out of memory");
		goto out;
	}
	if ((rc = llmo_reg_s3_get_fd(s3, key, fd, max, &h, &size, err)))
		goto out;
	if ((rc = llmo_sha256_peek(&h, &got))) {
		rc = llmo_error_set(err, rc, "out of memory");
		goto out;
	}
	if (!llmo_digest_equal(&got, d)) {
		rc = llmo_error_set(err, LLMO_EINVALID_OBJECT,
				    "S3 object %s%s is corrupt: blob %s hashes to %s",
				    llmo_reg_s3_where(s3), key, llmo_digest_str(d, a),
				    llmo_digest_str(&got, b));
		goto out;
	}
	if (fsync(fd) < 0) {
		rc = llmo_error_set(err, LLMO_EIO, "%s: fsync: %s", tmp, strerror(errno));
		goto out;
	}
	if (rename(tmp, path) < 0) {
		rc = llmo_error_set(err, LLMO_EIO, "%s: rename: %s", path, strerror(errno));
		goto out;
	}
	rc = llmo__reg_fsync_parent(path, err);
	if (!rc && fetched)
		*fetched = size;
	if (!rc)
		LLMO_INFO(LOG, "blob fetched from S3", "digest=%s size=%" PRIu64,
			  llmo_digest_str(d, a), size);
out:
	llmo_sha256_release(&h);
	close(fd);
	if (rc)
		unlink(tmp);
	return rc;
}

/* ---- restore ---- */

struct restore {
	struct llmo_reg_s3 *s3;
	const char *root;
	const atomic_bool *stop;
	size_t fetched, unchanged;
};

/* Whether the file at path has size bytes whose MD5 (hex) is etag. */
static bool same_bytes(const char *path, uint64_t size, const char *etag)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	struct llmo_buf b;
	char hex[2 * EVP_MAX_MD_SIZE + 1];
	bool same = false;
	struct stat st;

	if (strlen(etag) != 32 || stat(path, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size != size)
		return false;
	llmo_buf_init(&b, LLMO_REG_S3_RECORD_MAX);
	if (!llmo_file_read(path, LLMO_REG_S3_RECORD_MAX, &b, NULL) &&
	    EVP_Digest(b.data, b.len, md, &mdlen, EVP_md5(), NULL) == 1) {
		for (unsigned int i = 0; i < mdlen; i++)
			snprintf(hex + 2 * i, 3, "%02x", md[i]);
		same = mdlen == 16 && strcmp(hex, etag) == 0;
	}
	llmo_buf_release(&b);
	return same;
}

static int restore_one(void *arg, const struct llmo_reg_s3_object *o, struct llmo_error *err)
{
	struct restore *r = arg;
	char path[PATH_MAX];
	struct llmo_buf b;
	int rc;

	if (r->stop && atomic_load(r->stop))
		return llmo_error_set(err, LLMO_EAGAIN, "the restore from S3 was stopped");
	/* keys become paths: only the registry's own shapes, never "..", are taken */
	if (!llmo_reg_s3_key_valid(o->key) || !llmo_str_has_prefix(o->key, "repositories/"))
		return llmo_error_set(err, LLMO_EINVALID_OBJECT,
				      "S3 object %s%.200s is not a registry record",
				      llmo_reg_s3_where(r->s3), o->key);
	if (o->size > LLMO_REG_S3_RECORD_MAX)
		return llmo_error_set(err, LLMO_ETOOBIG,
				      "S3 object %s%s is %" PRIu64
				      " bytes, larger than any registry record (%d)",
				      llmo_reg_s3_where(r->s3), o->key, o->size,
				      LLMO_REG_S3_RECORD_MAX);
	if ((rc = llmo_reg_path_fmt(path, err, "%s/%s", r->root, o->key)))
		return rc;
	if (same_bytes(path, o->size, o->etag)) {
		r->unchanged++;
		return 0;
	}
	llmo_buf_init(&b, LLMO_REG_S3_RECORD_MAX);
	if (!(rc = llmo_reg_s3_get(r->s3, o->key, LLMO_REG_S3_RECORD_MAX, &b, err)) &&
	    !(rc = llmo__reg_mkdir_parent(path, err)))
		rc = llmo_file_write_atomic(path, b.data, b.len, 0644, err);
	llmo_buf_release(&b);
	/* the record keeps its age in S3: a link's age is the collector's grace, a
	 * revision's the order pruning goes by (gc.h), after a restore as before */
	if (!rc && o->mtime_ms >= 0) {
		struct timespec ts[2] = {{.tv_nsec = UTIME_OMIT},
					 {.tv_sec = o->mtime_ms / 1000,
					  .tv_nsec = (o->mtime_ms % 1000) * 1000000}};

		utimensat(AT_FDCWD, path, ts, 0);
	}
	if (!rc)
		r->fetched++;
	return rc;
}

int llmo__reg_s3_restore(struct llmo_reg_s3 *s3, const char *root, const atomic_bool *stop,
			 struct llmo_error *err)
{
	struct restore r = {s3, root, stop, 0, 0};
	int rc = llmo_reg_s3_list(s3, "repositories/", LLMO_REG_S3_RECORDS_MAX, restore_one, &r,
				  err);

	if (rc)
		return rc;
	LLMO_INFO(LOG, "records restored from S3", "where=%s fetched=%zu unchanged=%zu",
		  llmo_reg_s3_where(s3), r.fetched, r.unchanged);
	return 0;
}

/* Stops the listing at its first key: the page it came in answered. */
static int probe_one(void *arg, const struct llmo_reg_s3_object *o, struct llmo_error *err)
{
	(void)arg;
	(void)o;
	(void)err;
	return 1;
}

int llmo__reg_s3_probe(struct llmo_reg_s3 *s3, struct llmo_error *err)
{
	int rc = llmo_reg_s3_list(s3, "repositories/", 1, probe_one, NULL, err);

	return rc == 1 ? 0 : rc;
}
