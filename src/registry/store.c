/*
 * Local blob and repository storage (store.h).
 */
#include "base/common.h"

#include <dirent.h>
#include <fcntl.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/file.h"
#include "base/hmap.h"
#include "base/log.h"
#include "registry/lru.h"
#include "registry/s3cache.h"
#include "registry/store.h"

#include "base/banned.h"

#define LOG "registry"
/* Longest tag or session-repo file read back (a digest line, a name line). */
#define SMALL_FILE_MAX 1024
/* Revision files: a media type line and an optional subject line. */
#define REVISION_FILE_MAX (LLMO_REG_MEDIA_TYPE_MAX + LLMO_DIGEST_STR_MAX + 16)
/* Seconds a file must be unchanged before its verification is cached. */
#define RACY_S 2

struct verified {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
	int64_t at_ms; /* monotonic time of the verification */
};

struct llmo_reg_store {
	char *root;
	bool verify;
	int64_t reverify_ms; /* opts.reverify_ms */
	int (*clock)(clockid_t, struct timespec *);
	uint64_t blob_max;
	struct llmo_hmap uploads;  /* id -> struct llmo_reg_upload * */
	struct llmo_hmap verified; /* digest hex -> struct verified * */
	struct llmo_reg_s3 *s3;    /* storageType s3: the store of record (s3cache.h) */
	struct llmo_hmap known;    /* s3: digest hex -> uint64_t * size of blobs S3 has */
	struct llmo_reg_lru lru;   /* s3: the cached blobs, for s3.cacheSize */
	uint64_t evictions;        /* s3: blobs removed from the cache to keep it in bound */
};

/* ---- paths and errors ---- */

#define path_fmt llmo_reg_path_fmt

int llmo_reg_path_fmt(char *out, struct llmo_error *err, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, PATH_MAX, fmt, ap);
	va_end(ap);
	if (n < 0 || n >= PATH_MAX)
		return llmo_error_set(err, LLMO_EINVAL, "storage path too long");
	return 0;
}

static int sys_err(struct llmo_error *err, int e, const char *path, const char *what)
{
	int code = e == ENOENT ? LLMO_ENOTFOUND : e == EACCES || e == EPERM ? LLMO_EDENIED
						 : e == ENOMEM		     ? LLMO_ENOMEM
									     : LLMO_EIO;

	return llmo_error_set(err, code, "%s: %s: %s", path, what, strerror(e));
}

static int blob_path(const struct llmo_reg_store *s, const struct llmo_digest *d, char *out,
		     struct llmo_error *err)
{
	return path_fmt(out, err, "%s/blobs/sha256/%.2s/%s", s->root, d->hex, d->hex);
}

static int repo_path(const struct llmo_reg_store *s, const char *repo, const char *rest,
		     char *out, struct llmo_error *err)
{
	return path_fmt(out, err, "%s/repositories/%s/%s", s->root, repo, rest);
}

int llmo__reg_fsync_parent(const char *path, struct llmo_error *err)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int fd, rc = 0;

	if (!slash || (size_t)(slash - path) >= sizeof(dir))
		return 0;
	memcpy(dir, path, (size_t)(slash - path));
	dir[slash - path] = '\0';
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return sys_err(err, errno, dir, "open directory");
	if (fsync(fd) < 0 && errno != EINVAL)
		rc = sys_err(err, errno, dir, "fsync");
	close(fd);
	return rc;
}

int llmo__reg_mkdir_parent(const char *path, struct llmo_error *err)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');

	if (!slash || (size_t)(slash - path) >= sizeof(dir))
		return 0;
	memcpy(dir, path, (size_t)(slash - path));
	dir[slash - path] = '\0';
	return llmo_mkdir_p(dir, 0755, err);
}

static bool file_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/*
 * Writes data to path atomically, creating the parent directories; with
 * S3, to S3 first (s3cache.h: the directory never holds what S3 lacks).
 */
static int put_file(struct llmo_reg_store *s, const char *path, const void *data, size_t len,
		    struct llmo_error *err)
{
	int rc = s->s3 ? llmo__reg_s3_mirror_put(s->s3, s->root, path, data, len, err) : 0;

	if (!rc)
		rc = llmo__reg_mkdir_parent(path, err);
	return rc ? rc : llmo_file_write_atomic(path, data, len, 0644, err);
}

/* Before a file of the store is removed: its S3 object goes first. */
static int drop_file(struct llmo_reg_store *s, const char *path, struct llmo_error *err)
{
	return s->s3 ? llmo__reg_s3_mirror_delete(s->s3, s->root, path, err) : 0;
}

/* Reads a small text file into out (NUL-terminated, trailing newline removed). */
static int read_line_file(const char *path, char *out, size_t n, struct llmo_error *err)
{
	struct llmo_buf b;
	int rc;

	llmo_buf_init(&b, n - 1);
	rc = llmo_file_read(path, n - 1, &b, err);
	if (!rc) {
		while (b.len && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == '\r'))
			b.len--;
		memcpy(out, b.data, b.len);
		out[b.len] = '\0';
	}
	llmo_buf_release(&b);
	return rc;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void strv_sort(struct llmo_strv *v, size_t from)
{
	if (v->len > from)
		qsort(v->items + from, v->len - from, sizeof(char *), cmp_str);
}

/* ---- open / free ---- */

static void upload_free(struct llmo_reg_upload *u)
{
	if (!u)
		return;
	if (u->fd >= 0)
		close(u->fd);
	llmo_sha256_release(&u->hash);
	free(u);
}

static void upload_free_cb(void *v)
{
	upload_free(v);
}

/* ---- the S3 cache's bound (s3.cacheSize, lru.h) ---- */

static void forget_verified(struct llmo_reg_store *s, const struct llmo_digest *d);

/* Removes least recently used blobs not being read until the cache is within its bound. */
static void cache_trim(struct llmo_reg_store *s)
{
	const char *victim;

	while ((victim = llmo_reg_lru_victim(&s->lru))) {
		struct llmo_digest d = {{0}};
		char p[PATH_MAX];

		snprintf(d.hex, sizeof(d.hex), "%s", victim);
		/* the bytes stay in S3: the next read fetches them again */
		if (blob_path(s, &d, p, NULL) || (unlink(p) < 0 && errno != ENOENT)) {
			LLMO_WARN(LOG, "cannot evict a blob from the cache", "digest=sha256:%s error=\"%s\"",
				  d.hex, strerror(errno));
			return; /* tried again at the next use */
		}
		forget_verified(s, &d);
		llmo_reg_lru_drop(&s->lru, d.hex);
		s->evictions++;
		LLMO_INFO(LOG, "blob evicted from the cache", "digest=sha256:%s cached_bytes=%" PRIu64,
			  d.hex, s->lru.bytes);
	}
}

/* Blob d (size bytes) was just read or stored: the most recent in the cache. */
static void cache_use(struct llmo_reg_store *s, const struct llmo_digest *d, uint64_t size)
{
	if (!s->s3)
		return;
	if (llmo_reg_lru_use(&s->lru, d->hex, size))
		LLMO_WARN(LOG, "out of memory: a cached blob is not accounted", "digest=sha256:%s",
			  d->hex);
	cache_trim(s);
}

static bool is_hex64(const char *name)
{
	return strlen(name) == LLMO_DIGEST_HEX_LEN &&
	       strspn(name, "0123456789abcdef") == LLMO_DIGEST_HEX_LEN;
}

struct scanned {
	char hex[LLMO_DIGEST_HEX_LEN + 1];
	uint64_t size;
	int64_t mtime_ns;
};

static int cmp_scanned(const void *a, const void *b)
{
	const struct scanned *x = a, *y = b;

	return x->mtime_ns < y->mtime_ns ? -1 : x->mtime_ns > y->mtime_ns;
}

/*
 * At open: accounts the blobs the cache holds, oldest (by mtime: when
 * fetched or stored) first, removes downloads a crash left half done, and
 * trims the cache to its bound.
 */
static int cache_scan(struct llmo_reg_store *s, struct llmo_error *err)
{
	struct scanned *v = NULL;
	size_t n = 0, cap = 0;
	char dir[PATH_MAX], p[PATH_MAX];
	DIR *top;
	struct dirent *e;
	int rc = 0;

	if ((rc = path_fmt(dir, err, "%s/blobs/sha256", s->root)))
		return rc;
	if (!(top = opendir(dir)))
		return sys_err(err, errno, dir, "opendir");
	while (!rc && (e = readdir(top))) {
		DIR *sub;
		struct dirent *f;

		if (e->d_name[0] == '.' || path_fmt(p, NULL, "%s/%s", dir, e->d_name) ||
		    !(sub = opendir(p)))
			continue;
		while (!rc && (f = readdir(sub))) {
			char fp[PATH_MAX];
			struct stat st;

			if (path_fmt(fp, NULL, "%s/%s", p, f->d_name))
				continue;
			if (stat(fp, &st) < 0 || !S_ISREG(st.st_mode))
				continue;
			/* a download cut short: one in progress (another registry sharing
			 * the directory) writes at least every LLMO_REG_S3_STALL_S */
			if (f->d_name[0] == '.' && strstr(f->d_name, ".s3part") &&
			    st.st_mtim.tv_sec < time(NULL) - 2 * LLMO_REG_S3_STALL_S) {
				unlink(fp);
				continue;
			}
			if (!is_hex64(f->d_name))
				continue;
			if (n == cap) {
				size_t ncap = cap ? cap * 2 : 256;
				struct scanned *nv;

				if (ncap > LLMO_REG_CACHE_SCAN_MAX ||
				    !(nv = realloc(v, ncap * sizeof(*v)))) {
					rc = llmo_error_set(err, LLMO_ETOOBIG,
							    "%s: more than %d cached blobs, or out of memory",
							    dir, LLMO_REG_CACHE_SCAN_MAX);
					break;
				}
				v = nv;
				cap = ncap;
			}
			snprintf(v[n].hex, sizeof(v[n].hex), "%s", f->d_name);
			v[n].size = (uint64_t)st.st_size;
			v[n].mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
			n++;
		}
		closedir(sub);
	}
	closedir(top);
	if (!rc) {
		if (n)
			qsort(v, n, sizeof(*v), cmp_scanned);
		for (size_t i = 0; !rc && i < n; i++)
			if (llmo_reg_lru_use(&s->lru, v[i].hex, v[i].size))
				rc = llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	}
	free(v);
	if (!rc)
		cache_trim(s);
	return rc;
}

void llmo_reg_blob_pin(struct llmo_reg_store *s, const struct llmo_digest *d)
{
	llmo_reg_lru_pin(&s->lru, d->hex);
}

void llmo_reg_blob_unpin(struct llmo_reg_store *s, const struct llmo_digest *d)
{
	llmo_reg_lru_unpin(&s->lru, d->hex);
}

void llmo_reg_store_cache_stats(const struct llmo_reg_store *s, uint64_t *bytes,
				uint64_t *evictions)
{
	*bytes = s->lru.bytes;
	*evictions = s->evictions;
}

int llmo_reg_store_open(const struct llmo_reg_store_opts *opts, struct llmo_reg_store **out,
			struct llmo_error *err)
{
	static const char *const dirs[] = {"blobs/sha256", "uploads", "repositories"};
	struct llmo_reg_store *s;
	char p[PATH_MAX];
	int rc;

	*out = NULL;
	if (!opts->root || !*opts->root)
		return llmo_error_set(err, LLMO_EINVAL, "no storage path");
	s = calloc(1, sizeof(*s));
	if (!s || !(s->root = llmo_strdup(opts->root))) {
		free(s);
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	}
	s->verify = opts->checksum_validation;
	s->reverify_ms = opts->reverify_ms > 0 ? opts->reverify_ms : 0;
	s->clock = opts->clock ? opts->clock : clock_gettime;
	s->blob_max = opts->blob_max ? opts->blob_max : LLMO_REG_BLOB_MAX_DEFAULT;
	llmo_hmap_init(&s->uploads);
	llmo_hmap_init(&s->verified);
	llmo_hmap_init(&s->known);
	llmo_reg_lru_init(&s->lru, opts->s3 ? opts->s3->cache_size : 0);
	rc = llmo_mkdir_p(s->root, 0700, err);
	for (size_t i = 0; !rc && i < LLMO_ARRAY_LEN(dirs); i++) {
		rc = path_fmt(p, err, "%s/%s", s->root, dirs[i]);
		if (!rc)
			rc = llmo_mkdir_p(p, 0755, err);
	}
	if (!rc && opts->s3) {
		if (!(rc = llmo_reg_s3_new(opts->s3, &s->s3, err)))
			rc = opts->defer_restore ? llmo__reg_s3_probe(s->s3, err)
						 : llmo__reg_s3_restore(s->s3, s->root, NULL, err);
		/* larger blobs could not be stored (10000 parts) */
		if (!rc && s->blob_max > llmo_reg_s3_object_max(s->s3))
			s->blob_max = llmo_reg_s3_object_max(s->s3);
		if (!rc)
			rc = cache_scan(s, err);
	}
	if (rc) {
		llmo_reg_store_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

void llmo_reg_store_free(struct llmo_reg_store *s)
{
	if (!s)
		return;
	llmo_hmap_release(&s->uploads, upload_free_cb);
	llmo_hmap_release(&s->verified, free);
	llmo_hmap_release(&s->known, free);
	llmo_reg_lru_release(&s->lru);
	llmo_reg_s3_free(s->s3);
	free(s->root);
	free(s);
}

int llmo_reg_store_clone(const struct llmo_reg_store *s, struct llmo_reg_store **out,
			 struct llmo_error *err)
{
	struct llmo_reg_store *c = calloc(1, sizeof(*c));
	int rc = 0;

	*out = NULL;
	if (!c || !(c->root = llmo_strdup(s->root))) {
		free(c);
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	}
	c->verify = s->verify;
	c->reverify_ms = s->reverify_ms;
	c->clock = s->clock;
	c->blob_max = s->blob_max;
	llmo_hmap_init(&c->uploads);
	llmo_hmap_init(&c->verified);
	llmo_hmap_init(&c->known);
	/* no bound: evicting is the loop's store's business, which adopts these */
	llmo_reg_lru_init(&c->lru, 0);
	if (s->s3 && (rc = llmo_reg_s3_clone(s->s3, &c->s3, err))) {
		llmo_reg_store_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

void llmo_reg_store_adopt(struct llmo_reg_store *s, const struct llmo_reg_store *clone)
{
	size_t it = 0;
	const char *hex;
	void *val;

	while (llmo_hmap_next(&clone->lru.map, &it, &hex, &val)) {
		struct llmo_digest d = {{0}};
		char p[PATH_MAX];
		struct stat st;

		snprintf(d.hex, sizeof(d.hex), "%s", hex);
		/* a blob the clone removed again, or the loop evicted meanwhile, is not cached */
		if (!blob_path(s, &d, p, NULL) && stat(p, &st) == 0 && S_ISREG(st.st_mode))
			cache_use(s, &d, (uint64_t)st.st_size);
	}
}

void llmo_reg_store_forget_all(struct llmo_reg_store *s)
{
	llmo_hmap_release(&s->verified, free);
	llmo_hmap_init(&s->verified);
	llmo_hmap_release(&s->known, free);
	llmo_hmap_init(&s->known);
}

bool llmo_reg_store_verifies(const struct llmo_reg_store *s)
{
	return s->verify;
}

uint64_t llmo_reg_store_blob_max(const struct llmo_reg_store *s)
{
	return s->blob_max;
}

/* ---- blobs ---- */

static int link_path(const struct llmo_reg_store *s, const char *repo, const struct llmo_digest *d,
		     char *out, struct llmo_error *err)
{
	return path_fmt(out, err, "%s/repositories/%s/_layers/sha256/%s", s->root, repo, d->hex);
}

/* A blob missing from the cache: its size in S3 (HEAD), without fetching it. */
static int s3_blob_size(struct llmo_reg_store *s, const char *path, uint64_t *size)
{
	struct llmo_error err = {0};
	int rc = llmo__reg_s3_mirror_size(s->s3, s->root, path, size, &err);

	/* stat has no error to return: S3 failing reads as absent, and is logged */
	if (rc && rc != LLMO_ENOTFOUND)
		LLMO_WARN(LOG, "cannot ask S3 about a blob", "error=\"%s\"", err.msg);
	return rc ? LLMO_ENOTFOUND : 0;
}

void llmo_reg_store_s3_known(struct llmo_reg_store *s, const struct llmo_digest *d,
			     uint64_t size)
{
	uint64_t *v;
	void *old = NULL;

	/* cleared whole when full, as the verified cache: a miss only costs a HEAD */
	if (llmo_hmap_count(&s->known) >= LLMO_REG_S3_KNOWN_MAX) {
		llmo_hmap_release(&s->known, free);
		llmo_hmap_init(&s->known);
	}
	if (!(v = malloc(sizeof(*v))))
		return;
	*v = size;
	if (llmo_hmap_put(&s->known, d->hex, v, &old))
		free(v);
	else
		free(old);
}

bool llmo_reg_blob_linked(const struct llmo_reg_store *s, const char *repo,
			  const struct llmo_digest *d)
{
	char p[PATH_MAX];

	return link_path(s, repo, d, p, NULL) == 0 && file_exists(p);
}

int llmo_reg_blob_path(const struct llmo_reg_store *s, const struct llmo_digest *d, char *out,
		       struct llmo_error *err)
{
	return blob_path(s, d, out, err);
}

bool llmo_reg_blob_cached(const struct llmo_reg_store *s, const struct llmo_digest *d)
{
	char p[PATH_MAX];

	return blob_path(s, d, p, NULL) == 0 && file_exists(p);
}

bool llmo_reg_blob_s3_known(const struct llmo_reg_store *s, const struct llmo_digest *d)
{
	return llmo_hmap_has(&s->known, d->hex);
}

struct llmo_reg_s3 *llmo_reg_store_s3(const struct llmo_reg_store *s)
{
	return s->s3;
}

int llmo_reg_link_touch(struct llmo_reg_store *s, const char *repo, const struct llmo_digest *d)
{
	char p[PATH_MAX];

	if (link_path(s, repo, d, p, NULL) || !file_exists(p))
		return LLMO_ENOTFOUND;
	/* a client that asks is about to refer to the blob: garbage collection
	 * (gc.h) keeps links touched after the manifest being removed */
	utimensat(AT_FDCWD, p, NULL, 0);
	return 0;
}

int llmo_reg_blob_stat(struct llmo_reg_store *s, const char *repo, const struct llmo_digest *d,
		       uint64_t *size)
{
	const uint64_t *known;

	char p[PATH_MAX];
	struct stat st;

	if (repo && llmo_reg_link_touch(s, repo, d))
		return LLMO_ENOTFOUND;
	if (blob_path(s, d, p, NULL))
		return LLMO_ENOTFOUND;
	if ((stat(p, &st) < 0 || !S_ISREG(st.st_mode)) && s->s3 &&
	    (known = llmo_hmap_get(&s->known, d->hex))) {
		/* a HEAD on a worker (s3jobs.h) found it in S3 */
		if (size)
			*size = *known;
		return 0;
	}
	if (stat(p, &st) < 0 || !S_ISREG(st.st_mode))
		return s->s3 ? s3_blob_size(s, p, size) : LLMO_ENOTFOUND;
	if (size)
		*size = (uint64_t)st.st_size;
	return 0;
}

int llmo_reg_blob_open(struct llmo_reg_store *s, const char *repo, const struct llmo_digest *d,
		       int *fd, uint64_t *size, struct llmo_error *err)
{
	char p[PATH_MAX];
	struct stat st;
	int f, rc;

	*fd = -1;
	if (repo) {
		if ((rc = link_path(s, repo, d, p, err)))
			return rc;
		if (!file_exists(p))
			return llmo_error_set(err, LLMO_ENOTFOUND, "blob unknown to repository");
	}
	if ((rc = blob_path(s, d, p, err)))
		return rc;
	f = open(p, O_RDONLY | O_CLOEXEC);
	/* a cache miss: fetch the blob from S3 (verified), then serve it as a local one */
	if (f < 0 && errno == ENOENT && s->s3) {
		if ((rc = llmo__reg_s3_fetch(s->s3, s->root, p, d, s->blob_max, NULL, err)))
			return rc;
		f = open(p, O_RDONLY | O_CLOEXEC);
	}
	if (f < 0)
		return sys_err(err, errno, p, "open");
	if (fstat(f, &st) < 0 || !S_ISREG(st.st_mode)) {
		rc = sys_err(err, errno ? errno : EINVAL, p, "stat");
		close(f);
		return rc;
	}
	*fd = f;
	*size = (uint64_t)st.st_size;
	cache_use(s, d, *size);
	return 0;
}

static bool same_file(const struct verified *v, const struct stat *st)
{
	return v->dev == st->st_dev && v->ino == st->st_ino && v->size == st->st_size &&
	       v->mtime.tv_sec == st->st_mtim.tv_sec && v->mtime.tv_nsec == st->st_mtim.tv_nsec &&
	       v->ctime.tv_sec == st->st_ctim.tv_sec && v->ctime.tv_nsec == st->st_ctim.tv_nsec;
}

static int64_t mono_ms(const struct llmo_reg_store *s)
{
	struct timespec t;

	if (s->clock(CLOCK_MONOTONIC, &t) < 0)
		return INT64_MIN;
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/*
 * Whether the cache vouches for fd's file being blob d: verified whole and
 * unchanged since; for a whole read (whole) also within reverify_ms (0:
 * never), for a range read within reverify_ms or, when that is 0, ever.
 */
static bool cached(struct llmo_reg_store *s, const struct llmo_digest *d, const struct stat *st,
		   bool whole)
{
	const struct verified *v = llmo_hmap_get(&s->verified, d->hex);
	int64_t now;

	if (!v || !same_file(v, st))
		return false;
	if (s->reverify_ms == 0)
		return !whole;
	now = mono_ms(s);
	return now != INT64_MIN && now - v->at_ms < s->reverify_ms;
}

bool llmo_reg_blob_verified(struct llmo_reg_store *s, const struct llmo_digest *d, int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && cached(s, d, &st, true);
}

void llmo_reg_blob_mark_verified(struct llmo_reg_store *s, const struct llmo_digest *d, int fd)
{
	struct verified *v;
	struct stat st;
	struct timespec now;
	int64_t at = mono_ms(s);
	void *old = NULL;

	if (fstat(fd, &st) < 0 || s->clock(CLOCK_REALTIME, &now) < 0 || at == INT64_MIN)
		return;
	/*
	 * File times tick coarsely (a kernel tick): a write just after this
	 * verification could leave them unchanged. Like Git's "racily clean"
	 * index entries, a file changed within RACY_S of now is not cached, so
	 * that any later change shows in its ctime.
	 */
	if (now.tv_sec - st.st_ctim.tv_sec < RACY_S || now.tv_sec - st.st_mtim.tv_sec < RACY_S)
		return;
	if (llmo_hmap_count(&s->verified) >= LLMO_REG_VERIFIED_MAX &&
	    !llmo_hmap_has(&s->verified, d->hex))
		llmo_hmap_release(&s->verified, free);
	v = malloc(sizeof(*v));
	if (!v)
		return;
	*v = (struct verified){st.st_dev, st.st_ino, st.st_size, st.st_mtim, st.st_ctim, at};
	if (llmo_hmap_put(&s->verified, d->hex, v, &old)) {
		free(v);
		return;
	}
	free(old);
}

static void forget_verified(struct llmo_reg_store *s, const struct llmo_digest *d)
{
	void *old = NULL;

	if (llmo_hmap_del(&s->verified, d->hex, &old) == 0)
		free(old);
	old = NULL;
	if (llmo_hmap_del(&s->known, d->hex, &old) == 0)
		free(old);
}

int llmo_reg_store_unlink(struct llmo_reg_store *s, const char *path, struct llmo_error *err)
{
	int rc = drop_file(s, path, err);

	if (!rc && unlink(path) < 0)
		rc = sys_err(err, errno, path, "unlink");
	return rc;
}

/* path's modification time in ns, or -1 when it is gone. */
static int64_t file_mtime_ns(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return -1;
	return (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
}

int llmo_reg_store_unlink_link(struct llmo_reg_store *s, const char *path, int64_t not_after_ns,
			       struct llmo_error *err)
{
	int64_t t = file_mtime_ns(path);
	int rc;

	if (t < 0 || t > not_after_ns)
		return 1;
	if ((rc = drop_file(s, path, err)))
		return rc;
	/* touched while S3 deleted it (a worker's cleanup beside the loop's requests): it stays */
	if (file_mtime_ns(path) > not_after_ns) {
		struct llmo_error put_err = {0};
		char qb[LLMO_LOG_QUOTE_MAX];
		const char *q = llmo_log_quote(qb, sizeof(qb), path);

		/* the pruning ignores a kept link: the log tells an operator why it stayed */
		if (s->s3 && (rc = llmo__reg_s3_mirror_put(s->s3, s->root, path, "", 0, &put_err))) {
			LLMO_WARN(LOG, "link kept, its S3 object not put back",
				  "path=%s error=\"%s\"", q, put_err.msg);
			if (err)
				*err = put_err;
			return rc;
		}
		LLMO_INFO(LOG, "link kept", "path=%s reason=touched_while_deleted", q);
		return 1;
	}
	if (unlink(path) < 0 && errno != ENOENT)
		return sys_err(err, errno, path, "unlink");
	return 0;
}

void llmo_reg_store_forget(struct llmo_reg_store *s, const struct llmo_digest *d)
{
	forget_verified(s, d);
	llmo_reg_lru_drop(&s->lru, d->hex);
}

const char *llmo_reg_store_root(const struct llmo_reg_store *s)
{
	return s->root;
}

static int mismatch(struct llmo_error *err, const struct llmo_digest *want,
		    const struct llmo_digest *got)
{
	char a[LLMO_DIGEST_STR_MAX], b[LLMO_DIGEST_STR_MAX];

	return llmo_error_set(err, LLMO_EINVALID_OBJECT,
			      "blob %s is corrupt: its content hashes to %s",
			      llmo_digest_str(want, a), llmo_digest_str(got, b));
}

int llmo_reg_blob_check(struct llmo_reg_store *s, const struct llmo_digest *d, int fd,
			bool *hashed, struct llmo_error *err)
{
	struct llmo_sha256 h = {0};
	struct llmo_digest got;
	struct stat st;
	int rc;

	if (hashed)
		*hashed = false;
	if (fstat(fd, &st) < 0)
		return sys_err(err, errno, "blob", "stat");
	if (cached(s, d, &st, false))
		return 0;
	if (hashed)
		*hashed = true;
	if ((rc = llmo_sha256_init(&h)))
		return llmo_error_set(err, rc, "out of memory");
	rc = llmo_sha256_fd(&h, fd, NULL);
	if (rc == LLMO_EIO)
		rc = sys_err(err, errno, "blob", "read");
	else if (rc)
		rc = llmo_error_set(err, rc, "out of memory");
	else if ((rc = llmo_sha256_peek(&h, &got)))
		rc = llmo_error_set(err, rc, "out of memory");
	else if (!llmo_digest_equal(&got, d))
		rc = mismatch(err, d, &got);
	llmo_sha256_release(&h);
	if (!rc)
		llmo_reg_blob_mark_verified(s, d, fd);
	return rc;
}

int llmo_reg_blob_read_small(struct llmo_reg_store *s, const char *repo,
			     const struct llmo_digest *d, size_t max, struct llmo_buf *out,
			     struct llmo_error *err)
{
	size_t start = out->len;
	uint64_t size, off = 0;
	int fd, rc;

	rc = llmo_reg_blob_open(s, repo, d, &fd, &size, err);
	if (rc)
		return rc;
	if (size > max) {
		rc = llmo_error_set(err, LLMO_ETOOBIG, "blob is %" PRIu64 " bytes, limit is %zu",
				    size, max);
		goto out;
	}
	if ((rc = llmo_buf_grow(out, (size_t)size))) {
		rc = llmo_error_set(err, rc, "out of memory");
		goto out;
	}
	while (off < size) {
		ssize_t n = pread(fd, out->data + start + off, (size_t)(size - off), (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n < 0 ? sys_err(err, errno, "blob", "read")
				   : llmo_error_set(err, LLMO_EIO, "blob shrank while read");
			goto out;
		}
		off += (uint64_t)n;
	}
	out->len = start + (size_t)size;
	out->data[out->len] = '\0';
	if (s->verify) {
		struct llmo_digest got;

		if ((rc = llmo_digest_of(out->data + start, (size_t)size, &got))) {
			rc = llmo_error_set(err, rc, "out of memory");
			goto out;
		}
		if (!llmo_digest_equal(&got, d))
			rc = mismatch(err, d, &got);
	}
out:
	if (rc)
		llmo_buf_truncate(out, start);
	close(fd);
	return rc;
}

static int link_blob(struct llmo_reg_store *s, const char *repo, const struct llmo_digest *d,
		     struct llmo_error *err)
{
	char p[PATH_MAX];
	int rc = link_path(s, repo, d, p, err);

	if (rc || file_exists(p))
		return rc;
	return put_file(s, p, "", 0, err);
}

/* Whether len bytes may be stored as blob d (NULL: any): *got is their digest. */
static int blob_acceptable(const struct llmo_reg_store *s, const struct llmo_digest *d,
			   const void *data, size_t len, struct llmo_digest *got,
			   struct llmo_error *err)
{
	int rc;

	if ((rc = llmo_digest_of(data, len, got)))
		return llmo_error_set(err, rc, "out of memory");
	if (d && !llmo_digest_equal(d, got)) {
		char a[LLMO_DIGEST_STR_MAX], b[LLMO_DIGEST_STR_MAX];

		return llmo_error_set(err, LLMO_EINVALID_OBJECT,
				      "content hashes to %s, not %s", llmo_digest_str(got, a),
				      llmo_digest_str(d, b));
	}
	if (len > s->blob_max)
		return llmo_error_set(err, LLMO_ETOOBIG, "blob larger than %" PRIu64 " bytes",
				      s->blob_max);
	return 0;
}

int llmo_reg_blob_put(struct llmo_reg_store *s, const char *repo, const struct llmo_digest *d,
		      const void *data, size_t len, struct llmo_digest *dout,
		      struct llmo_error *err)
{
	struct llmo_digest got;
	char p[PATH_MAX];
	int rc;

	if ((rc = blob_acceptable(s, d, data, len, &got, err)))
		return rc;
	if ((rc = blob_path(s, &got, p, err)) || (rc = put_file(s, p, data, len, err)))
		return rc;
	forget_verified(s, &got);
	cache_use(s, &got, len);
	if (repo && (rc = link_blob(s, repo, &got, err)))
		return rc;
	if (dout)
		*dout = got;
	return 0;
}

/* ---- records in two steps (store.h) ---- */

void llmo_reg_recs_release(struct llmo_reg_recs *r)
{
	for (size_t i = 0; i < r->len; i++) {
		free(r->v[i].path);
		free(r->v[i].data);
	}
	free(r->v);
	*r = (struct llmo_reg_recs){0};
}

/* Appends a copy of rec (its path and data duplicated). */
static int recs_add(struct llmo_reg_recs *r, const struct llmo_reg_rec *rec,
		    struct llmo_error *err)
{
	struct llmo_reg_rec *x;

	if (r->len >= LLMO_REG_RECS_MAX)
		return llmo_error_set(err, LLMO_ETOOBIG, "more than %d record changes at once",
				      LLMO_REG_RECS_MAX);
	if (r->len == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 4;

		if (!(x = realloc(r->v, cap * sizeof(*x))))
			return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
		r->v = x;
		r->cap = cap;
	}
	x = &r->v[r->len];
	*x = *rec;
	x->path = llmo_strdup(rec->path);
	x->data = rec->len ? malloc(rec->len) : NULL;
	if (!x->path || (rec->len && !x->data)) {
		free(x->path);
		free(x->data);
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	}
	if (rec->len)
		memcpy(x->data, rec->data, rec->len);
	r->len++;
	return 0;
}

static int rec_put(struct llmo_reg_recs *r, const char *path, const void *data, size_t len,
		   const struct llmo_digest *blob, struct llmo_error *err)
{
	struct llmo_reg_rec x = {.path = (char *)path, .data = (char *)data, .len = len};

	if (blob) {
		x.is_blob = true;
		x.blob = *blob;
	}
	return recs_add(r, &x, err);
}

static int rec_del(struct llmo_reg_recs *r, const char *path, bool rmdir_parent,
		   struct llmo_error *err)
{
	struct llmo_reg_rec x = {.del = true, .rmdir_parent = rmdir_parent, .path = (char *)path};

	return recs_add(r, &x, err);
}

/* Plans to delete the file at path, which must be there: else LLMO_ENOTFOUND, "missing". */
static int rec_del_present(struct llmo_reg_recs *r, const char *path, const char *missing,
			   struct llmo_error *err)
{
	if (!file_exists(path))
		return llmo_error_set(err, LLMO_ENOTFOUND, "%s", missing);
	return rec_del(r, path, false, err);
}

int llmo_reg_recs_copy(struct llmo_reg_recs *dst, const struct llmo_reg_recs *src,
		       struct llmo_error *err)
{
	int rc = 0;

	for (size_t i = 0; !rc && i < src->len; i++)
		rc = recs_add(dst, &src->v[i], err);
	if (rc)
		llmo_reg_recs_release(dst);
	return rc;
}

int llmo_reg_recs_mirror(struct llmo_reg_s3 *s3, const char *root,
			 const struct llmo_reg_recs *r, size_t *done, struct llmo_error *err)
{
	*done = 0;
	for (size_t i = 0; i < r->len; i++) {
		const struct llmo_reg_rec *x = &r->v[i];
		int rc = x->del ? llmo__reg_s3_mirror_delete(s3, root, x->path, err)
				: llmo__reg_s3_mirror_put(s3, root, x->path, x->data ? x->data : "",
							  x->len, err);

		if (rc)
			return rc;
		*done = i + 1;
	}
	return 0;
}

int llmo_reg_recs_apply(struct llmo_reg_store *s, const struct llmo_reg_recs *r, size_t n,
			struct llmo_error *err)
{
	int rc;

	for (size_t i = 0; i < n && i < r->len; i++) {
		const struct llmo_reg_rec *x = &r->v[i];

		if (!x->del) {
			if ((rc = llmo__reg_mkdir_parent(x->path, err)) ||
			    (rc = llmo_file_write_atomic(x->path, x->data ? x->data : "", x->len,
							 0644, err)))
				return rc;
			if (x->is_blob) {
				forget_verified(s, &x->blob);
				cache_use(s, &x->blob, x->len);
			}
			continue;
		}
		/* gone already: the plan saw it, so nothing but this change removes it */
		if (unlink(x->path) < 0 && errno != ENOENT)
			return sys_err(err, errno, x->path, "unlink");
		if (x->rmdir_parent) {
			char dir[PATH_MAX];
			char *slash;

			snprintf(dir, sizeof(dir), "%s", x->path);
			if ((slash = strrchr(dir, '/')))
				*slash = '\0';
			rmdir(dir); /* fails, harmlessly, while other entries remain */
		} else if ((rc = llmo__reg_fsync_parent(x->path, err))) {
			return rc;
		}
	}
	return 0;
}

/*
 * Runs plan r in the calling thread: S3 (storageType s3), then the
 * directory, each step that S3 took. r is released.
 */
static int recs_run(struct llmo_reg_store *s, struct llmo_reg_recs *r, struct llmo_error *err)
{
	struct llmo_error ignored = {0};
	size_t done = r->len;
	int rc = s->s3 ? llmo_reg_recs_mirror(s->s3, s->root, r, &done, err) : 0;
	int arc = llmo_reg_recs_apply(s, r, done, rc ? &ignored : err);

	llmo_reg_recs_release(r);
	return rc ? rc : arc;
}

/* Runs the plan that rc (a planning's result) left in r, or releases it. */
static int plan_then_run(struct llmo_reg_store *s, struct llmo_reg_recs *r, int rc,
			 struct llmo_error *err)
{
	if (rc) {
		llmo_reg_recs_release(r);
		return rc;
	}
	return recs_run(s, r, err);
}

int llmo_reg_blob_link_plan(struct llmo_reg_store *s, const char *repo,
			    const struct llmo_digest *d, struct llmo_reg_recs *out,
			    struct llmo_error *err)
{
	char p[PATH_MAX];
	int rc;

	if (llmo_reg_blob_stat(s, NULL, d, NULL))
		return llmo_error_set(err, LLMO_ENOTFOUND, "blob unknown");
	if ((rc = link_path(s, repo, d, p, err)) || file_exists(p))
		return rc;
	return rec_put(out, p, "", 0, NULL, err);
}

int llmo_reg_blob_link(struct llmo_reg_store *s, const char *repo, const struct llmo_digest *d,
		       struct llmo_error *err)
{
	struct llmo_reg_recs r = {0};

	return plan_then_run(s, &r, llmo_reg_blob_link_plan(s, repo, d, &r, err), err);
}

int llmo_reg_blob_unlink_plan(struct llmo_reg_store *s, const char *repo,
			      const struct llmo_digest *d, struct llmo_reg_recs *out,
			      struct llmo_error *err)
{
	char p[PATH_MAX];
	int rc = link_path(s, repo, d, p, err);

	return rc ? rc : rec_del_present(out, p, "blob unknown", err);
}

int llmo_reg_blob_unlink(struct llmo_reg_store *s, const char *repo, const struct llmo_digest *d,
			 struct llmo_error *err)
{
	struct llmo_reg_recs r = {0};

	return plan_then_run(s, &r, llmo_reg_blob_unlink_plan(s, repo, d, &r, err), err);
}

/* ---- upload sessions ---- */

static int upload_file(const struct llmo_reg_store *s, const char *id, const char *name,
		       char *out, struct llmo_error *err)
{
	return path_fmt(out, err, "%s/uploads/%s%s%s", s->root, id, name ? "/" : "",
			name ? name : "");
}

/* Removes a session's files (data, repo, the directory); errors are logged only. */
static void remove_session_files(const struct llmo_reg_store *s, const char *id)
{
	static const char *const names[] = {"data", "repo"};
	char p[PATH_MAX], q[LLMO_LOG_QUOTE_MAX];

	for (size_t i = 0; i < LLMO_ARRAY_LEN(names); i++)
		if (!upload_file(s, id, names[i], p, NULL) && unlink(p) < 0 && errno != ENOENT)
			LLMO_WARN(LOG, "cannot remove upload file", "path=%s error=%d",
				  llmo_log_quote(q, sizeof(q), p), errno);
	if (!upload_file(s, id, NULL, p, NULL) && rmdir(p) < 0 && errno != ENOENT)
		LLMO_WARN(LOG, "cannot remove upload directory", "path=%s error=%d",
			  llmo_log_quote(q, sizeof(q), p), errno);
}

static int new_id(char *out)
{
	static const char xd[] = "0123456789abcdef";
	unsigned char r[LLMO_REG_UPLOAD_ID_LEN / 2];

	if (RAND_bytes(r, sizeof(r)) != 1)
		return LLMO_EIO;
	for (size_t i = 0; i < sizeof(r); i++) {
		out[2 * i] = xd[r[i] >> 4];
		out[2 * i + 1] = xd[r[i] & 15];
	}
	out[LLMO_REG_UPLOAD_ID_LEN] = '\0';
	return 0;
}

int llmo_reg_upload_start(struct llmo_reg_store *s, const char *repo,
			  struct llmo_reg_upload **out, struct llmo_error *err)
{
	struct llmo_reg_upload *u = NULL;
	char p[PATH_MAX];
	int rc;

	*out = NULL;
	if (llmo_hmap_count(&s->uploads) >= LLMO_REG_UPLOADS_MAX)
		return llmo_error_set(err, LLMO_EAGAIN, "%d upload sessions are open already",
				      LLMO_REG_UPLOADS_MAX);
	u = calloc(1, sizeof(*u));
	if (!u)
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	u->fd = -1;
	snprintf(u->repo, sizeof(u->repo), "%s", repo);
	if ((rc = new_id(u->id))) {
		rc = llmo_error_set(err, rc, "no random bytes for a session id");
		goto fail;
	}
	if ((rc = upload_file(s, u->id, NULL, p, err)) || (rc = llmo_mkdir_p(p, 0700, err)))
		goto fail;
	if ((rc = upload_file(s, u->id, "repo", p, err)) ||
	    (rc = llmo_file_write_atomic(p, repo, strlen(repo), 0644, err)))
		goto fail_files;
	if ((rc = upload_file(s, u->id, "data", p, err)))
		goto fail_files;
	u->fd = open(p, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (u->fd < 0) {
		rc = sys_err(err, errno, p, "create");
		goto fail_files;
	}
	if ((rc = llmo_sha256_init(&u->hash))) {
		rc = llmo_error_set(err, rc, "out of memory");
		goto fail_files;
	}
	u->touched_ms = llmo_clock_mono_ms();
	if ((rc = llmo_hmap_put(&s->uploads, u->id, u, NULL))) {
		rc = llmo_error_set(err, rc, "out of memory");
		goto fail_files;
	}
	*out = u;
	return 0;
fail_files:
	remove_session_files(s, u->id);
fail:
	upload_free(u);
	return rc;
}

int llmo_reg_upload_get(struct llmo_reg_store *s, const char *repo, const char *id,
			struct llmo_reg_upload **out, struct llmo_error *err)
{
	struct llmo_reg_upload *u = llmo_hmap_get(&s->uploads, id);
	char p[PATH_MAX], owner[LLMO_REG_NAME_MAX + 2];
	int rc;

	*out = NULL;
	if (u) {
		if (strcmp(u->repo, repo) != 0)
			return llmo_error_set(err, LLMO_ENOTFOUND, "upload unknown");
		*out = u;
		return 0;
	}
	/* a session from before a restart: its files are all there is */
	if ((rc = upload_file(s, id, "repo", p, err)))
		return rc;
	if (read_line_file(p, owner, sizeof(owner), NULL) || strcmp(owner, repo) != 0)
		return llmo_error_set(err, LLMO_ENOTFOUND, "upload unknown");
	if (llmo_hmap_count(&s->uploads) >= LLMO_REG_UPLOADS_MAX)
		return llmo_error_set(err, LLMO_EAGAIN, "%d upload sessions are open already",
				      LLMO_REG_UPLOADS_MAX);
	u = calloc(1, sizeof(*u));
	if (!u)
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	snprintf(u->id, sizeof(u->id), "%s", id);
	snprintf(u->repo, sizeof(u->repo), "%s", repo);
	if ((rc = upload_file(s, id, "data", p, err)))
		goto fail;
	u->fd = open(p, O_RDWR | O_CLOEXEC);
	if (u->fd < 0) {
		rc = sys_err(err, errno, p, "open");
		goto fail;
	}
	if ((rc = llmo_sha256_init(&u->hash))) {
		rc = llmo_error_set(err, rc, "out of memory");
		goto fail;
	}
	rc = llmo_sha256_fd(&u->hash, u->fd, &u->size);
	if (rc) {
		rc = rc == LLMO_EIO ? sys_err(err, errno, p, "read")
				    : llmo_error_set(err, rc, "out of memory");
		goto fail;
	}
	u->touched_ms = llmo_clock_mono_ms();
	if ((rc = llmo_hmap_put(&s->uploads, u->id, u, NULL))) {
		rc = llmo_error_set(err, rc, "out of memory");
		goto fail;
	}
	LLMO_INFO(LOG, "upload resumed", "id=%s repo=%s size=%" PRIu64, id, repo, u->size);
	*out = u;
	return 0;
fail:
	upload_free(u);
	return rc;
}

int llmo_reg_upload_write(struct llmo_reg_store *s, struct llmo_reg_upload *u, const void *p,
			  size_t n, struct llmo_error *err)
{
	const char *c = p;
	size_t done = 0;

	if (n > s->blob_max || u->size > s->blob_max - n)
		return llmo_error_set(err, LLMO_ETOOBIG, "blob larger than %" PRIu64 " bytes",
				      s->blob_max);
	while (done < n) {
		ssize_t w = pwrite(u->fd, c + done, n - done, (off_t)(u->size + done));

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			int e = w < 0 ? errno : EIO;

			/* keep the file equal to what was hashed */
			if (ftruncate(u->fd, (off_t)u->size) < 0)
				LLMO_WARN(LOG, "cannot cut back an upload", "id=%s error=%d", u->id,
					  errno);
			return llmo_error_set(err, LLMO_EIO, "upload %s: write: %s", u->id,
					      strerror(e));
		}
		done += (size_t)w;
	}
	llmo_sha256_update(&u->hash, p, n);
	u->size += n;
	u->touched_ms = llmo_clock_mono_ms();
	return 0;
}

static void upload_end(struct llmo_reg_store *s, struct llmo_reg_upload *u, bool remove_files)
{
	char id[LLMO_REG_UPLOAD_ID_LEN + 1];

	memcpy(id, u->id, sizeof(id));
	llmo_hmap_del(&s->uploads, id, NULL);
	upload_free(u);
	if (remove_files)
		remove_session_files(s, id);
}

int llmo_reg_upload_seal(struct llmo_reg_store *s, struct llmo_reg_upload *u,
			 const struct llmo_digest *want, char *dst, struct llmo_error *err)
{
	struct llmo_digest got;
	int rc;

	if ((rc = llmo_sha256_peek(&u->hash, &got))) {
		rc = llmo_error_set(err, rc, "out of memory");
		goto fail;
	}
	if (!llmo_digest_equal(&got, want)) {
		char a[LLMO_DIGEST_STR_MAX], b[LLMO_DIGEST_STR_MAX];

		rc = llmo_error_set(err, LLMO_EINVALID_OBJECT,
				    "the uploaded content hashes to %s, not %s",
				    llmo_digest_str(&got, a), llmo_digest_str(want, b));
		goto fail;
	}
	if (fsync(u->fd) < 0) {
		rc = sys_err(err, errno, u->id, "fsync upload");
		goto fail;
	}
	if ((rc = blob_path(s, want, dst, err)) || (rc = llmo__reg_mkdir_parent(dst, err)))
		goto fail;
	return 0;
fail:
	upload_end(s, u, true);
	return rc;
}

int llmo_reg_upload_commit(struct llmo_reg_store *s, struct llmo_reg_upload *u,
			   const struct llmo_digest *want, unsigned flags, struct llmo_error *err)
{
	bool mirrored = flags & LLMO_REG_COMMIT_MIRRORED;
	char data[PATH_MAX], dst[PATH_MAX], repo[LLMO_REG_NAME_MAX + 1];
	int rc;

	memcpy(repo, u->repo, sizeof(repo));
	if ((rc = upload_file(s, u->id, "data", data, err)) || (rc = blob_path(s, want, dst, err)))
		goto fail;
	/* S3 holds the blob before the directory does (s3cache.h) */
	if (s->s3 && !mirrored &&
	    (rc = llmo__reg_s3_mirror_put_fd(s->s3, s->root, dst, u->fd, u->size, want, err)))
		goto fail;
	if (rename(data, dst) < 0) {
		rc = sys_err(err, errno, dst, "rename");
		goto fail;
	}
	forget_verified(s, want);
	cache_use(s, want, u->size);
	upload_end(s, u, true);
	if ((rc = llmo__reg_fsync_parent(dst, err)))
		return rc;
	return flags & LLMO_REG_COMMIT_NO_LINK ? 0 : link_blob(s, repo, want, err);
fail:
	upload_end(s, u, true);
	return rc;
}

int llmo_reg_upload_finish(struct llmo_reg_store *s, struct llmo_reg_upload *u,
			   const struct llmo_digest *want, struct llmo_error *err)
{
	char dst[PATH_MAX];
	int rc = llmo_reg_upload_seal(s, u, want, dst, err);

	return rc ? rc : llmo_reg_upload_commit(s, u, want, 0, err);
}

void llmo_reg_upload_cancel(struct llmo_reg_store *s, struct llmo_reg_upload *u)
{
	upload_end(s, u, true);
}

size_t llmo_reg_upload_count(const struct llmo_reg_store *s)
{
	return llmo_hmap_count(&s->uploads);
}

void llmo_reg_upload_expire(struct llmo_reg_store *s, int64_t idle_ms)
{
	int64_t now = llmo_clock_mono_ms();
	int64_t wall = llmo_clock_wall_ms();
	struct llmo_strv stale = LLMO_STRV_INIT;
	char p[PATH_MAX];
	struct dirent *e;
	size_t it = 0;
	const char *k;
	void *v;
	DIR *d;

	while (llmo_hmap_next(&s->uploads, &it, &k, &v)) {
		const struct llmo_reg_upload *u = v;

		if (!u->busy && now - u->touched_ms > idle_ms && llmo_strv_push(&stale, k))
			break;
	}
	/* sessions only on disk (from before a restart), by their data file's mtime */
	if (!path_fmt(p, NULL, "%s/uploads", s->root) && (d = opendir(p))) {
		while ((e = readdir(d))) {
			struct stat st;
			char f[PATH_MAX];

			if (e->d_name[0] == '.' || llmo_hmap_has(&s->uploads, e->d_name))
				continue;
			if (path_fmt(f, NULL, "%s/uploads/%s/data", s->root, e->d_name))
				continue;
			/* no data file (a crash while starting): the directory's time */
			if (stat(f, &st) < 0 &&
			    (path_fmt(f, NULL, "%s/uploads/%s", s->root, e->d_name) ||
			     stat(f, &st) < 0))
				continue;
			if (wall - (int64_t)st.st_mtim.tv_sec * 1000 > idle_ms &&
			    strlen(e->d_name) == LLMO_REG_UPLOAD_ID_LEN)
				remove_session_files(s, e->d_name);
		}
		closedir(d);
	}
	for (size_t i = 0; i < stale.len; i++) {
		struct llmo_reg_upload *u = llmo_hmap_get(&s->uploads, stale.items[i]);

		if (u) {
			LLMO_INFO(LOG, "upload expired", "id=%s repo=%s size=%" PRIu64, u->id,
				  u->repo, u->size);
			upload_end(s, u, true);
		}
	}
	llmo_strv_release(&stale);
}

/* ---- manifests and tags ---- */

static int revision_path(const struct llmo_reg_store *s, const char *repo,
			 const struct llmo_digest *d, char *out, struct llmo_error *err)
{
	return path_fmt(out, err, "%s/repositories/%s/_manifests/revisions/sha256/%s", s->root,
			repo, d->hex);
}

static int tag_path(const struct llmo_reg_store *s, const char *repo, const char *tag, char *out,
		    struct llmo_error *err)
{
	return path_fmt(out, err, "%s/repositories/%s/_manifests/tags/%s", s->root, repo, tag);
}

static int referrer_path(const struct llmo_reg_store *s, const char *repo,
			 const struct llmo_digest *subject, const struct llmo_digest *d, char *out,
			 struct llmo_error *err)
{
	return path_fmt(out, err, "%s/repositories/%s/_referrers/sha256/%s%s%s", s->root, repo,
			subject->hex, d ? "/" : "", d ? d->hex : "");
}

int llmo_reg_manifest_put_plan(struct llmo_reg_store *s, const char *repo, const char *tag,
			       const struct llmo_digest *d, const char *media_type,
			       const struct llmo_digest *subject, const void *body, size_t len,
			       struct llmo_reg_recs *out, struct llmo_error *err)
{
	struct llmo_digest got;
	char p[PATH_MAX], rev[REVISION_FILE_MAX], ds[LLMO_DIGEST_STR_MAX];
	int rc, n;

	if (strlen(media_type) > LLMO_REG_MEDIA_TYPE_MAX || strchr(media_type, '\n'))
		return llmo_error_set(err, LLMO_EINVAL, "media type too long");
	n = subject ? snprintf(rev, sizeof(rev), "%s\nsubject %s\n", media_type,
			       llmo_digest_str(subject, ds))
		    : snprintf(rev, sizeof(rev), "%s\n", media_type);
	if (n < 0 || (size_t)n >= sizeof(rev))
		return llmo_error_set(err, LLMO_EINVAL, "media type too long");
	/* blob, then revision, then tag, then referrer: each step leaves a usable state */
	if ((rc = blob_acceptable(s, d, body, len, &got, err)) ||
	    (rc = blob_path(s, &got, p, err)) || (rc = rec_put(out, p, body, len, &got, err)))
		return rc;
	if ((rc = revision_path(s, repo, d, p, err)) ||
	    (rc = rec_put(out, p, rev, (size_t)n, NULL, err)))
		return rc;
	if (tag) {
		n = snprintf(rev, sizeof(rev), "%s\n", llmo_digest_str(d, ds));
		if ((rc = tag_path(s, repo, tag, p, err)) ||
		    (rc = rec_put(out, p, rev, (size_t)n, NULL, err)))
			return rc;
	}
	if (subject && ((rc = referrer_path(s, repo, subject, d, p, err)) ||
			(rc = rec_put(out, p, "", 0, NULL, err))))
		return rc;
	return 0;
}

int llmo_reg_manifest_put(struct llmo_reg_store *s, const char *repo, const char *tag,
			  const struct llmo_digest *d, const char *media_type,
			  const struct llmo_digest *subject, const void *body, size_t len,
			  struct llmo_error *err)
{
	struct llmo_reg_recs r = {0};
	int rc = llmo_reg_manifest_put_plan(s, repo, tag, d, media_type, subject, body, len, &r,
					    err);

	return plan_then_run(s, &r, rc, err);
}

/* Reads a revision file: the media type and the subject (*has_subject). */
static int read_revision(const struct llmo_reg_store *s, const char *repo,
			 const struct llmo_digest *d, char *media_type, struct llmo_digest *subject,
			 bool *has_subject, struct llmo_error *err)
{
	char p[PATH_MAX], text[REVISION_FILE_MAX + 1];
	const char *nl;
	int rc;

	*has_subject = false;
	if ((rc = revision_path(s, repo, d, p, err)))
		return rc;
	rc = read_line_file(p, text, sizeof(text), NULL);
	if (rc)
		return llmo_error_set(err, rc == LLMO_ENOTFOUND ? LLMO_ENOTFOUND : LLMO_EIO,
				      "manifest unknown");
	nl = strchr(text, '\n');
	if (media_type) {
		size_t mlen = nl ? (size_t)(nl - text) : strlen(text);

		if (mlen > LLMO_REG_MEDIA_TYPE_MAX)
			mlen = LLMO_REG_MEDIA_TYPE_MAX;
		memcpy(media_type, text, mlen);
		media_type[mlen] = '\0';
	}
	if (nl && strncmp(nl + 1, "subject ", 8) == 0 &&
	    llmo_digest_parse(nl + 9, strlen(nl + 9), subject, NULL) == 0)
		*has_subject = true;
	return 0;
}

int llmo_reg_manifest_resolve(struct llmo_reg_store *s, const char *repo, const char *tag,
			      struct llmo_digest *d, char *media_type, struct llmo_error *err)
{
	struct llmo_digest subject;
	bool has_subject;
	int rc;

	if (tag) {
		char p[PATH_MAX], text[SMALL_FILE_MAX];

		if ((rc = tag_path(s, repo, tag, p, err)))
			return rc;
		if (read_line_file(p, text, sizeof(text), NULL) ||
		    llmo_digest_parse(text, strlen(text), d, NULL))
			return llmo_error_set(err, LLMO_ENOTFOUND, "manifest unknown");
	}
	return read_revision(s, repo, d, media_type, &subject, &has_subject, err);
}

int llmo__reg_list_dir(const char *dir, bool (*keep)(const char *name), size_t max,
		    struct llmo_strv *out, struct llmo_error *err)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int rc = 0;

	if (!d)
		return errno == ENOENT ? 0 : sys_err(err, errno, dir, "list");
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' || (keep && !keep(e->d_name)))
			continue;
		if (out->len >= max) {
			rc = llmo_error_set(err, LLMO_ETOOBIG, "%s: more than %zu entries", dir, max);
			break;
		}
		if (llmo_strv_push(out, e->d_name)) {
			rc = llmo_error_set(err, LLMO_ENOMEM, "out of memory");
			break;
		}
	}
	closedir(d);
	return rc;
}

static bool is_tag(const char *name)
{
	return llmo_reg_tag_valid(name, strlen(name));
}

static bool is_hex_digest(const char *name)
{
	struct llmo_digest d;
	char text[LLMO_DIGEST_STR_MAX + 8];

	snprintf(text, sizeof(text), "sha256:%s", name);
	return strlen(name) == LLMO_DIGEST_HEX_LEN &&
	       llmo_digest_parse(text, strlen(text), &d, NULL) == 0;
}

int llmo_reg_manifest_delete_plan(struct llmo_reg_store *s, const char *repo,
				  const struct llmo_digest *d, struct llmo_reg_recs *out,
				  struct llmo_error *err)
{
	struct llmo_strv tags = LLMO_STRV_INIT;
	struct llmo_digest subject;
	char p[PATH_MAX], ds[LLMO_DIGEST_STR_MAX];
	bool has_subject;
	int rc;

	if ((rc = read_revision(s, repo, d, NULL, &subject, &has_subject, err)))
		return rc;
	/* tags first: a crash halfway leaves a manifest without tags, never a dangling tag */
	llmo_digest_str(d, ds);
	if ((rc = repo_path(s, repo, "_manifests/tags", p, err)) ||
	    (rc = llmo__reg_list_dir(p, is_tag, LLMO_REG_TAGS_MAX, &tags, err)))
		goto out;
	for (size_t i = 0; i < tags.len; i++) {
		char tp[PATH_MAX], text[SMALL_FILE_MAX];

		if (tag_path(s, repo, tags.items[i], tp, NULL) ||
		    read_line_file(tp, text, sizeof(text), NULL) || strcmp(text, ds) != 0)
			continue;
		if ((rc = rec_del(out, tp, false, err)))
			goto out;
	}
	/* its directory goes with the last referrer of subject */
	if (has_subject && !referrer_path(s, repo, &subject, d, p, NULL) &&
	    (rc = rec_del(out, p, true, err)))
		goto out;
	if (!(rc = revision_path(s, repo, d, p, err)))
		rc = rec_del(out, p, false, err);
out:
	llmo_strv_release(&tags);
	return rc;
}

int llmo_reg_manifest_delete(struct llmo_reg_store *s, const char *repo,
			     const struct llmo_digest *d, struct llmo_error *err)
{
	struct llmo_reg_recs r = {0};

	return plan_then_run(s, &r, llmo_reg_manifest_delete_plan(s, repo, d, &r, err), err);
}

int llmo_reg_tag_delete_plan(struct llmo_reg_store *s, const char *repo, const char *tag,
			     struct llmo_reg_recs *out, struct llmo_error *err)
{
	char p[PATH_MAX];
	int rc = tag_path(s, repo, tag, p, err);

	return rc ? rc : rec_del_present(out, p, "manifest unknown", err);
}

int llmo_reg_tag_delete(struct llmo_reg_store *s, const char *repo, const char *tag,
			struct llmo_error *err)
{
	struct llmo_reg_recs r = {0};

	return plan_then_run(s, &r, llmo_reg_tag_delete_plan(s, repo, tag, &r, err), err);
}

static bool is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

bool llmo_reg_repo_exists(struct llmo_reg_store *s, const char *repo)
{
	char p[PATH_MAX];

	return (!repo_path(s, repo, "_manifests", p, NULL) && is_dir(p)) ||
	       (!repo_path(s, repo, "_layers", p, NULL) && is_dir(p));
}

int llmo_reg_tags_list(struct llmo_reg_store *s, const char *repo, struct llmo_strv *out,
		       struct llmo_error *err)
{
	size_t from = out->len;
	char p[PATH_MAX];
	int rc;

	if (!llmo_reg_repo_exists(s, repo))
		return llmo_error_set(err, LLMO_ENOTFOUND, "repository name not known to registry");
	if ((rc = repo_path(s, repo, "_manifests/tags", p, err)) ||
	    (rc = llmo__reg_list_dir(p, is_tag, LLMO_REG_TAGS_MAX, out, err)))
		return rc;
	strv_sort(out, from);
	return 0;
}

/* Adds the repositories at and below dir (whose name is prefix, "" at the top). */
static int walk_repos(struct llmo_reg_store *s, const char *dir, const char *prefix,
		      struct llmo_strv *out, struct llmo_error *err)
{
	struct llmo_strv subs = LLMO_STRV_INIT;
	int rc = llmo__reg_list_dir(dir, NULL, LLMO_REG_CATALOG_MAX, &subs, err);

	for (size_t i = 0; !rc && i < subs.len; i++) {
		char name[LLMO_REG_NAME_MAX + 2], sub[PATH_MAX];
		int n;

		if (subs.items[i][0] == '_')
			continue;
		n = snprintf(name, sizeof(name), "%s%s%s", prefix, *prefix ? "/" : "",
			     subs.items[i]);
		if (n < 0 || (size_t)n > LLMO_REG_NAME_MAX || path_fmt(sub, NULL, "%s/%s", dir,
								      subs.items[i]))
			continue;
		if (!is_dir(sub) || !llmo_reg_name_valid(name, (size_t)n))
			continue;
		if (llmo_reg_repo_exists(s, name)) {
			if (out->len >= LLMO_REG_CATALOG_MAX) {
				rc = llmo_error_set(err, LLMO_ETOOBIG, "more than %d repositories",
						    LLMO_REG_CATALOG_MAX);
				break;
			}
			if (llmo_strv_push(out, name)) {
				rc = llmo_error_set(err, LLMO_ENOMEM, "out of memory");
				break;
			}
		}
		rc = walk_repos(s, sub, name, out, err);
	}
	llmo_strv_release(&subs);
	return rc;
}

int llmo_reg_catalog(struct llmo_reg_store *s, struct llmo_strv *out, struct llmo_error *err)
{
	size_t from = out->len;
	char p[PATH_MAX];
	int rc;

	if ((rc = path_fmt(p, err, "%s/repositories", s->root)) ||
	    (rc = walk_repos(s, p, "", out, err)))
		return rc;
	strv_sort(out, from);
	return 0;
}

int llmo_reg_referrers(struct llmo_reg_store *s, const char *repo,
		       const struct llmo_digest *subject, struct llmo_strv *out,
		       struct llmo_error *err)
{
	struct llmo_strv hexes = LLMO_STRV_INIT;
	size_t from = out->len;
	char p[PATH_MAX];
	int rc;

	if ((rc = referrer_path(s, repo, subject, NULL, p, err)) ||
	    (rc = llmo__reg_list_dir(p, is_hex_digest, LLMO_REG_REFERRERS_MAX, &hexes, err)))
		goto out;
	for (size_t i = 0; i < hexes.len; i++) {
		char ds[LLMO_DIGEST_STR_MAX + 8];
		struct llmo_digest d;

		snprintf(ds, sizeof(ds), "sha256:%s", hexes.items[i]);
		if (llmo_digest_parse(ds, strlen(ds), &d, NULL) || revision_path(s, repo, &d, p, NULL) ||
		    !file_exists(p))
			continue;
		if (llmo_strv_push(out, ds)) {
			rc = llmo_error_set(err, LLMO_ENOMEM, "out of memory");
			goto out;
		}
	}
	strv_sort(out, from);
out:
	llmo_strv_release(&hexes);
	return rc;
}
