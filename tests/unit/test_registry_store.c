/*
 * The registry's local storage (registry/store.h): blobs written atomically
 * and verified, uploads streamed, resumed after a reopen, cut back after a
 * failed write, and leaving nothing under blobs/ when they fail; manifests,
 * tags, referrers and the catalog; record changes planned, then applied
 * only as far as S3 took them.
 */
#include "base/common.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_fs.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include "registry/store.h"

static char dir[64];
static struct llmo_reg_store *st;

static struct llmo_reg_store *open_store(bool verify)
{
	struct llmo_reg_store_opts o = {.root = dir, .checksum_validation = verify};
	struct llmo_error err = {0};
	struct llmo_reg_store *s = NULL;

	if (llmo_reg_store_open(&o, &s, &err))
		fail_msg("open: %s", err.msg);
	return s;
}

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/llmo-test-registry-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	st = open_store(true);
	return 0;
}

static int teardown(void **state)
{
	llmo_reg_store_free(st);
	st = NULL;
	test_rm_rf(dir);
	return 0;
}

/* Files (not directories) under dir/sub, recursively. */
static size_t count_files(const char *sub)
{
	char p[PATH_MAX];
	struct dirent *e;
	size_t n = 0;
	DIR *d;

	snprintf(p, sizeof(p), "%s/%s", dir, sub);
	d = opendir(p);
	if (!d)
		return 0;
	while ((e = readdir(d))) {
		char child[PATH_MAX];
		struct stat sb;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(child, sizeof(child), "%s/%s", sub, e->d_name);
		snprintf(p, sizeof(p), "%s/%s", dir, child);
		if (stat(p, &sb) == 0 && S_ISDIR(sb.st_mode))
			n += count_files(child);
		else
			n++;
	}
	closedir(d);
	return n;
}

static struct llmo_digest digest_of(const char *s)
{
	struct llmo_digest d;

	assert_int_equal(llmo_digest_of(s, strlen(s), &d), 0);
	return d;
}

static void blob_file(const struct llmo_digest *d, char *out, size_t n)
{
	snprintf(out, n, "%s/blobs/sha256/%.2s/%s", dir, d->hex, d->hex);
}

static void test_blob_put_read(void **state)
{
	struct llmo_digest d = digest_of("weights"), got;
	struct llmo_error err = {0};
	struct llmo_buf b;
	uint64_t size;

	llmo_buf_init(&b, 1024);
	assert_int_equal(llmo_reg_blob_put(st, "models/a", NULL, "weights", 7, &got, &err), 0);
	assert_true(llmo_digest_equal(&d, &got));
	assert_int_equal(llmo_reg_blob_stat(st, "models/a", &d, &size), 0);
	assert_int_equal(size, 7);
	assert_int_equal(llmo_reg_blob_stat(st, NULL, &d, NULL), 0);
	/* a blob belongs to the repositories it was pushed to or mounted in */
	assert_int_equal(llmo_reg_blob_stat(st, "models/b", &d, NULL), LLMO_ENOTFOUND);
	assert_int_equal(llmo_reg_blob_read_small(st, "models/b", &d, 1024, &b, &err),
			 LLMO_ENOTFOUND);
	assert_int_equal(llmo_reg_blob_link(st, "models/b", &d, &err), 0);
	assert_int_equal(llmo_reg_blob_read_small(st, "models/b", &d, 1024, &b, &err), 0);
	assert_memory_equal(b.data, "weights", 7);
	llmo_buf_reset(&b);
	assert_int_equal(llmo_reg_blob_read_small(st, NULL, &d, 3, &b, &err), LLMO_ETOOBIG);
	assert_int_equal(b.len, 0);
	/* the wrong digest for the bytes: refused, nothing stored */
	d = digest_of("other");
	assert_int_equal(llmo_reg_blob_put(st, NULL, &d, "weights", 7, NULL, &err),
			 LLMO_EINVALID_OBJECT);
	assert_int_equal(llmo_reg_blob_stat(st, NULL, &d, NULL), LLMO_ENOTFOUND);
	/* unlink removes the repository's link, not the bytes */
	d = digest_of("weights");
	assert_int_equal(llmo_reg_blob_unlink(st, "models/b", &d, &err), 0);
	assert_int_equal(llmo_reg_blob_unlink(st, "models/b", &d, &err), LLMO_ENOTFOUND);
	assert_int_equal(llmo_reg_blob_stat(st, "models/a", &d, NULL), 0);
	assert_int_equal(llmo_reg_blob_link(st, "models/c", &(struct llmo_digest){0}, &err),
			 LLMO_ENOTFOUND);
	llmo_buf_release(&b);
}

/* Overwrites one byte of the stored blob, as bit rot or an intruder would. */
static void tamper(const struct llmo_digest *d, off_t at)
{
	char p[PATH_MAX];
	int fd;

	blob_file(d, p, sizeof(p));
	fd = open(p, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "X", 1, at), 1);
	close(fd);
}

static void test_tampered_blob_is_an_error(void **state)
{
	struct llmo_digest d = digest_of("the model's weights");
	struct llmo_error err = {0};
	struct llmo_buf b;
	uint64_t size;
	int fd;

	llmo_buf_init(&b, 1024);
	assert_int_equal(llmo_reg_blob_put(st, "m", &d, "the model's weights", 19, NULL, &err), 0);
	/* verified whole once; the check is then served from the cache */
	assert_int_equal(llmo_reg_blob_open(st, "m", &d, &fd, &size, &err), 0);
	assert_int_equal(llmo_reg_blob_check(st, &d, fd, NULL, &err), 0);
	assert_int_equal(llmo_reg_blob_check(st, &d, fd, NULL, &err), 0);
	close(fd);
	tamper(&d, 4);
	assert_int_equal(llmo_reg_blob_read_small(st, "m", &d, 1024, &b, &err),
			 LLMO_EINVALID_OBJECT);
	assert_non_null(strstr(err.msg, "corrupt"));
	assert_int_equal(b.len, 0);
	/* the write changed the file's times: the cached verification no longer counts */
	assert_int_equal(llmo_reg_blob_open(st, "m", &d, &fd, &size, &err), 0);
	assert_int_equal(llmo_reg_blob_check(st, &d, fd, NULL, &err), LLMO_EINVALID_OBJECT);
	close(fd);
	/* a store that does not verify hands the bytes out as they are */
	llmo_reg_store_free(st);
	st = open_store(false);
	assert_int_equal(llmo_reg_blob_read_small(st, "m", &d, 1024, &b, &err), 0);
	assert_int_equal(b.len, 19);
	llmo_buf_release(&b);
}

/* The verified cache's clock: the real one moved on by skew_s seconds. */
static int64_t skew_s;

static int skewed_clock(clockid_t id, struct timespec *t)
{
	int rc = clock_gettime(id, t);

	t->tv_sec += (time_t)skew_s;
	return rc;
}

static struct llmo_reg_store *open_reverify(int64_t reverify_ms)
{
	struct llmo_reg_store_opts o = {.root = dir, .checksum_validation = true,
					.reverify_ms = reverify_ms, .clock = skewed_clock};
	struct llmo_error err = {0};
	struct llmo_reg_store *s = NULL;

	skew_s = 0;
	if (llmo_reg_store_open(&o, &s, &err))
		fail_msg("open: %s", err.msg);
	return s;
}

/* llmo_reg_blob_check's answer and whether it hashed (1) or went by the cache (0). */
static int check_hashed(const struct llmo_digest *d, int fd)
{
	struct llmo_error err = {0};
	bool hashed = false;

	assert_int_equal(llmo_reg_blob_check(st, d, fd, &hashed, &err), 0);
	return hashed;
}

static void test_verified_cache(void **state)
{
	struct llmo_digest d = digest_of("the model's weights");
	struct llmo_error err = {0};
	uint64_t size;
	int fd;

	llmo_reg_store_free(st);
	st = open_reverify(60 * 1000);
	assert_int_equal(llmo_reg_blob_put(st, "m", &d, "the model's weights", 19, NULL, &err), 0);
	assert_int_equal(llmo_reg_blob_open(st, "m", &d, &fd, &size, &err), 0);
	/* just written: its times may yet hide a write, so it is hashed each time */
	assert_false(llmo_reg_blob_verified(st, &d, fd));
	assert_int_equal(check_hashed(&d, fd), 1);
	assert_int_equal(check_hashed(&d, fd), 1);
	assert_false(llmo_reg_blob_verified(st, &d, fd));
	/* three seconds on: the verification is cached, whole reads and ranges go by it */
	skew_s = 3;
	assert_int_equal(check_hashed(&d, fd), 1);
	assert_true(llmo_reg_blob_verified(st, &d, fd));
	assert_int_equal(check_hashed(&d, fd), 0);
	/* a minute later it is too old: hashed again, then cached again */
	skew_s = 3 + 60;
	assert_false(llmo_reg_blob_verified(st, &d, fd));
	assert_int_equal(check_hashed(&d, fd), 1);
	assert_true(llmo_reg_blob_verified(st, &d, fd));
	skew_s = 3 + 60 + 59;
	assert_true(llmo_reg_blob_verified(st, &d, fd));
	close(fd);
	/* a write the clock cannot see (the file's ctime moves): no longer vouched for */
	tamper(&d, 4);
	assert_int_equal(llmo_reg_blob_open(st, "m", &d, &fd, &size, &err), 0);
	assert_false(llmo_reg_blob_verified(st, &d, fd));
	assert_int_equal(llmo_reg_blob_check(st, &d, fd, NULL, &err), LLMO_EINVALID_OBJECT);
	close(fd);

	/* reverify 0: whole reads are never vouched for, ranges are at any age */
	llmo_reg_store_free(st);
	st = open_reverify(0);
	d = digest_of("other weights");
	assert_int_equal(llmo_reg_blob_put(st, "m", &d, "other weights", 13, NULL, &err), 0);
	assert_int_equal(llmo_reg_blob_open(st, "m", &d, &fd, &size, &err), 0);
	skew_s = 3;
	assert_int_equal(check_hashed(&d, fd), 1);
	assert_int_equal(check_hashed(&d, fd), 0);
	assert_false(llmo_reg_blob_verified(st, &d, fd));
	skew_s = 100000;
	assert_int_equal(check_hashed(&d, fd), 0);
	assert_false(llmo_reg_blob_verified(st, &d, fd));
	close(fd);
}

static void test_upload_streams_and_finishes(void **state)
{
	struct llmo_reg_upload *u = NULL, *again = NULL;
	struct llmo_digest want;
	struct llmo_error err = {0};
	char chunk[4096];
	struct llmo_sha256 h = {0};
	uint64_t size;

	assert_int_equal(llmo_sha256_init(&h), 0);
	assert_int_equal(llmo_reg_upload_start(st, "models/big", &u, &err), 0);
	assert_int_equal(strlen(u->id), LLMO_REG_UPLOAD_ID_LEN);
	for (int i = 0; i < 300; i++) {
		memset(chunk, 'a' + i % 26, sizeof(chunk));
		llmo_sha256_update(&h, chunk, sizeof(chunk));
		assert_int_equal(llmo_reg_upload_write(st, u, chunk, sizeof(chunk), &err), 0);
	}
	assert_int_equal(u->size, 300 * sizeof(chunk));
	assert_int_equal(llmo_sha256_peek(&h, &want), 0);
	assert_int_equal(llmo_reg_upload_get(st, "models/big", u->id, &again, &err), 0);
	assert_ptr_equal(again, u);
	/* a session belongs to its repository */
	assert_int_equal(llmo_reg_upload_get(st, "models/other", u->id, &again, &err),
			 LLMO_ENOTFOUND);
	/* nothing is a blob until the upload is finished */
	assert_int_equal(count_files("blobs"), 0);
	assert_int_equal(llmo_reg_upload_finish(st, u, &want, &err), 0);
	assert_int_equal(llmo_reg_blob_stat(st, "models/big", &want, &size), 0);
	assert_int_equal(size, 300 * sizeof(chunk));
	assert_int_equal(count_files("uploads"), 0);
	assert_int_equal(llmo_reg_upload_count(st), 0);
	llmo_sha256_release(&h);
}

static void test_failed_upload_leaves_nothing(void **state)
{
	struct llmo_reg_upload *u = NULL;
	struct llmo_digest wrong = digest_of("something else");
	struct llmo_error err = {0};

	assert_int_equal(llmo_reg_upload_start(st, "m", &u, &err), 0);
	assert_int_equal(llmo_reg_upload_write(st, u, "partial", 7, &err), 0);
	assert_int_equal(llmo_reg_upload_finish(st, u, &wrong, &err), LLMO_EINVALID_OBJECT);
	assert_non_null(strstr(err.msg, "hashes to"));
	assert_int_equal(count_files("blobs"), 0);
	assert_int_equal(count_files("uploads"), 0);
	assert_false(llmo_reg_repo_exists(st, "m"));
	/* cancelled: the same */
	assert_int_equal(llmo_reg_upload_start(st, "m", &u, &err), 0);
	assert_int_equal(llmo_reg_upload_write(st, u, "partial", 7, &err), 0);
	llmo_reg_upload_cancel(st, u);
	assert_int_equal(count_files("blobs"), 0);
	assert_int_equal(count_files("uploads"), 0);
}

static void test_upload_resumes_after_reopen(void **state)
{
	struct llmo_reg_upload *u = NULL;
	struct llmo_digest want = digest_of("first half, second half");
	struct llmo_error err = {0};
	char id[LLMO_REG_UPLOAD_ID_LEN + 1];

	assert_int_equal(llmo_reg_upload_start(st, "models/r", &u, &err), 0);
	assert_int_equal(llmo_reg_upload_write(st, u, "first half, ", 12, &err), 0);
	memcpy(id, u->id, sizeof(id));
	/* a restart: the session is only on disk now, and its hash state is rebuilt */
	llmo_reg_store_free(st);
	st = open_store(true);
	assert_int_equal(llmo_reg_upload_get(st, "models/other", id, &u, &err), LLMO_ENOTFOUND);
	assert_int_equal(llmo_reg_upload_get(st, "models/r", id, &u, &err), 0);
	assert_int_equal(u->size, 12);
	assert_int_equal(llmo_reg_upload_write(st, u, "second half", 11, &err), 0);
	assert_int_equal(llmo_reg_upload_finish(st, u, &want, &err), 0);
	assert_int_equal(llmo_reg_blob_stat(st, "models/r", &want, NULL), 0);
}

static void test_write_error_cuts_back(void **state)
{
	struct llmo_reg_upload *u = NULL;
	struct llmo_digest want = digest_of("0123456789");
	struct llmo_error err = {0};
	struct rlimit old, small = {.rlim_cur = 10, .rlim_max = RLIM_INFINITY};
	char big[64];
	void (*prev)(int);

	assert_int_equal(llmo_reg_upload_start(st, "m", &u, &err), 0);
	assert_int_equal(llmo_reg_upload_write(st, u, "01234", 5, &err), 0);
	/* a full disk, simulated with a file size limit: the write fails part way */
	memset(big, 'x', sizeof(big));
	prev = signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	small.rlim_max = old.rlim_max;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
	assert_int_equal(llmo_reg_upload_write(st, u, big, sizeof(big), &err), LLMO_EIO);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, prev);
	/* the session is as before the failed write, and goes on from there */
	assert_int_equal(u->size, 5);
	assert_int_equal(llmo_reg_upload_write(st, u, "56789", 5, &err), 0);
	assert_int_equal(llmo_reg_upload_finish(st, u, &want, &err), 0);
	assert_int_equal(llmo_reg_blob_stat(st, "m", &want, NULL), 0);
}

static void test_blob_cap(void **state)
{
	struct llmo_reg_store_opts o = {.root = dir, .blob_max = 8};
	struct llmo_reg_upload *u = NULL;
	struct llmo_error err = {0};
	struct llmo_reg_store *s = NULL;

	assert_int_equal(llmo_reg_store_open(&o, &s, &err), 0);
	assert_int_equal(llmo_reg_upload_start(s, "m", &u, &err), 0);
	assert_int_equal(llmo_reg_upload_write(s, u, "12345", 5, &err), 0);
	assert_int_equal(llmo_reg_upload_write(s, u, "6789", 4, &err), LLMO_ETOOBIG);
	assert_int_equal(u->size, 5);
	llmo_reg_upload_cancel(s, u);
	assert_int_equal(llmo_reg_blob_put(s, NULL, NULL, "123456789", 9, NULL, &err),
			 LLMO_ETOOBIG);
	llmo_reg_store_free(s);
}

static void put_manifest(const char *repo, const char *tag, const char *body,
			 const struct llmo_digest *subject, struct llmo_digest *out)
{
	struct llmo_error err = {0};

	*out = digest_of(body);
	if (llmo_reg_manifest_put(st, repo, tag, out, "application/vnd.oci.image.manifest.v1+json",
				  subject, body, strlen(body), &err))
		fail_msg("manifest put: %s", err.msg);
}

static void test_manifests_and_tags(void **state)
{
	struct llmo_digest a, b, d;
	struct llmo_error err = {0};
	struct llmo_strv tags = LLMO_STRV_INIT;
	char mt[LLMO_REG_MEDIA_TYPE_MAX + 1];

	put_manifest("models/x", "v2", "{\"a\":1}", NULL, &a);
	put_manifest("models/x", "latest", "{\"a\":1}", NULL, &a);
	put_manifest("models/x", "V1", "{\"b\":2}", NULL, &b);
	assert_int_equal(llmo_reg_manifest_resolve(st, "models/x", "latest", &d, mt, &err), 0);
	assert_true(llmo_digest_equal(&d, &a));
	assert_string_equal(mt, "application/vnd.oci.image.manifest.v1+json");
	d = b;
	assert_int_equal(llmo_reg_manifest_resolve(st, "models/x", NULL, &d, NULL, &err), 0);
	assert_int_equal(llmo_reg_manifest_resolve(st, "models/x", "nope", &d, NULL, &err),
			 LLMO_ENOTFOUND);
	assert_int_equal(llmo_reg_manifest_resolve(st, "models/y", "latest", &d, NULL, &err),
			 LLMO_ENOTFOUND);
	/* byte order */
	assert_int_equal(llmo_reg_tags_list(st, "models/x", &tags, &err), 0);
	assert_int_equal(tags.len, 3);
	assert_string_equal(tags.items[0], "V1");
	assert_string_equal(tags.items[1], "latest");
	assert_string_equal(tags.items[2], "v2");
	llmo_strv_release(&tags);
	assert_int_equal(llmo_reg_tags_list(st, "models/none", &tags, &err), LLMO_ENOTFOUND);
	/* deleting a tag keeps the manifest; deleting the manifest takes its tags */
	assert_int_equal(llmo_reg_tag_delete(st, "models/x", "v2", &err), 0);
	assert_int_equal(llmo_reg_tag_delete(st, "models/x", "v2", &err), LLMO_ENOTFOUND);
	assert_int_equal(llmo_reg_manifest_resolve(st, "models/x", "latest", &d, NULL, &err), 0);
	assert_int_equal(llmo_reg_manifest_delete(st, "models/x", &a, &err), 0);
	assert_int_equal(llmo_reg_manifest_resolve(st, "models/x", "latest", &d, NULL, &err),
			 LLMO_ENOTFOUND);
	assert_int_equal(llmo_reg_manifest_delete(st, "models/x", &a, &err), LLMO_ENOTFOUND);
	assert_int_equal(llmo_reg_tags_list(st, "models/x", &tags, &err), 0);
	assert_int_equal(tags.len, 1);
	assert_string_equal(tags.items[0], "V1");
	llmo_strv_release(&tags);
}

static void test_referrers_and_catalog(void **state)
{
	struct llmo_digest subj, sig1, sig2, other;
	struct llmo_error err = {0};
	struct llmo_strv v = LLMO_STRV_INIT;
	char ds[LLMO_DIGEST_STR_MAX];

	put_manifest("models/x", "1", "{\"model\":1}", NULL, &subj);
	put_manifest("models/x", NULL, "{\"sig\":1}", &subj, &sig1);
	put_manifest("models/x", NULL, "{\"sig\":2}", &subj, &sig2);
	put_manifest("models/x/sub", "1", "{\"other\":1}", NULL, &other);
	put_manifest("a", "1", "{\"a\":1}", NULL, &other);
	assert_int_equal(llmo_reg_referrers(st, "models/x", &subj, &v, &err), 0);
	assert_int_equal(v.len, 2);
	assert_true(strcmp(v.items[0], v.items[1]) < 0);
	assert_true(strcmp(v.items[0], llmo_digest_str(&sig1, ds)) == 0 ||
		    strcmp(v.items[1], ds) == 0);
	llmo_strv_release(&v);
	/* a deleted referrer is no longer listed */
	assert_int_equal(llmo_reg_manifest_delete(st, "models/x", &sig1, &err), 0);
	assert_int_equal(llmo_reg_referrers(st, "models/x", &subj, &v, &err), 0);
	assert_int_equal(v.len, 1);
	assert_string_equal(v.items[0], llmo_digest_str(&sig2, ds));
	llmo_strv_release(&v);
	assert_int_equal(llmo_reg_referrers(st, "models/x", &other, &v, &err), 0);
	assert_int_equal(v.len, 0);
	/* nested repositories are found, in byte order */
	assert_int_equal(llmo_reg_catalog(st, &v, &err), 0);
	assert_int_equal(v.len, 3);
	assert_string_equal(v.items[0], "a");
	assert_string_equal(v.items[1], "models/x");
	assert_string_equal(v.items[2], "models/x/sub");
	llmo_strv_release(&v);
}

/*
 * A plan changes nothing until it is applied, and applying only its first
 * steps (S3 failed at the next) leaves a usable state: the manifest
 * without its tag.
 */
static void test_record_plans(void **state)
{
	const char *body = "{\"plan\":1}";
	struct llmo_digest d = digest_of(body), got;
	struct llmo_reg_recs r = {0}, copy = {0};
	struct llmo_error err = {0};

	assert_int_equal(llmo_reg_manifest_put_plan(st, "models/p", "v1", &d,
						    "application/vnd.oci.image.manifest.v1+json",
						    NULL, body, strlen(body), &r, &err),
			 0);
	assert_int_equal(r.len, 3); /* blob, revision, tag */
	assert_false(r.v[0].del);
	assert_true(r.v[0].is_blob);
	assert_int_equal(llmo_reg_recs_copy(&copy, &r, &err), 0);
	assert_int_equal(copy.len, 3);
	assert_memory_equal(copy.v[0].data, body, strlen(body));
	llmo_reg_recs_release(&copy);
	got = d;
	assert_int_equal(llmo_reg_manifest_resolve(st, "models/p", NULL, &got, NULL, &err),
			 LLMO_ENOTFOUND);
	assert_int_equal(llmo_reg_recs_apply(st, &r, 2, &err), 0);
	llmo_reg_recs_release(&r);
	assert_int_equal(llmo_reg_manifest_resolve(st, "models/p", NULL, &got, NULL, &err), 0);
	assert_int_equal(llmo_reg_manifest_resolve(st, "models/p", "v1", &got, NULL, &err),
			 LLMO_ENOTFOUND);
	/* a DELETE's plan: ENOTFOUND for what is not there, else nothing removed until applied */
	assert_int_equal(llmo_reg_tag_delete_plan(st, "models/p", "v1", &r, &err), LLMO_ENOTFOUND);
	assert_int_equal(r.len, 0);
	assert_int_equal(llmo_reg_manifest_delete_plan(st, "models/p", &d, &r, &err), 0);
	assert_int_equal(r.len, 1); /* the revision: no tag, no subject */
	assert_true(r.v[0].del);
	assert_int_equal(llmo_reg_manifest_resolve(st, "models/p", NULL, &got, NULL, &err), 0);
	assert_int_equal(llmo_reg_recs_apply(st, &r, r.len, &err), 0);
	llmo_reg_recs_release(&r);
	assert_int_equal(llmo_reg_manifest_resolve(st, "models/p", NULL, &got, NULL, &err),
			 LLMO_ENOTFOUND);
}

static void test_concurrent_sessions_same_blob(void **state)
{
	struct llmo_reg_upload *u1 = NULL, *u2 = NULL;
	struct llmo_digest d = digest_of("same bytes");
	struct llmo_error err = {0};

	/* two pushes of one blob interleave; both succeed, one blob results */
	assert_int_equal(llmo_reg_upload_start(st, "r1", &u1, &err), 0);
	assert_int_equal(llmo_reg_upload_start(st, "r2", &u2, &err), 0);
	assert_int_equal(llmo_reg_upload_write(st, u1, "same ", 5, &err), 0);
	assert_int_equal(llmo_reg_upload_write(st, u2, "same ", 5, &err), 0);
	assert_int_equal(llmo_reg_upload_write(st, u2, "bytes", 5, &err), 0);
	assert_int_equal(llmo_reg_upload_write(st, u1, "bytes", 5, &err), 0);
	assert_int_equal(llmo_reg_upload_finish(st, u2, &d, &err), 0);
	assert_int_equal(llmo_reg_upload_finish(st, u1, &d, &err), 0);
	assert_int_equal(llmo_reg_blob_stat(st, "r1", &d, NULL), 0);
	assert_int_equal(llmo_reg_blob_stat(st, "r2", &d, NULL), 0);
	assert_int_equal(count_files("blobs"), 1);
	assert_int_equal(count_files("uploads"), 0);
}

static void test_expire(void **state)
{
	struct llmo_reg_upload *u = NULL;
	struct llmo_error err = {0};
	char id[LLMO_REG_UPLOAD_ID_LEN + 1];

	assert_int_equal(llmo_reg_upload_start(st, "m", &u, &err), 0);
	memcpy(id, u->id, sizeof(id));
	llmo_reg_upload_expire(st, 3600 * 1000);
	assert_int_equal(llmo_reg_upload_count(st), 1);
	/* a busy session is never expired */
	u->busy = true;
	llmo_reg_upload_expire(st, -1);
	assert_int_equal(llmo_reg_upload_count(st), 1);
	u->busy = false;
	llmo_reg_upload_expire(st, -1);
	assert_int_equal(llmo_reg_upload_count(st), 0);
	assert_int_equal(llmo_reg_upload_get(st, "m", id, &u, &err), LLMO_ENOTFOUND);
	assert_int_equal(count_files("uploads"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_blob_put_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tampered_blob_is_an_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_verified_cache, setup, teardown),
		cmocka_unit_test_setup_teardown(test_upload_streams_and_finishes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_upload_leaves_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_upload_resumes_after_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_error_cuts_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_blob_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_manifests_and_tags, setup, teardown),
		cmocka_unit_test_setup_teardown(test_referrers_and_catalog, setup, teardown),
		cmocka_unit_test_setup_teardown(test_record_plans, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_sessions_same_blob, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expire, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
