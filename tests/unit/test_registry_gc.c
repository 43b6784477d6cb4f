/*
 * Version pruning and garbage collection (registry/gc.h): which blobs and
 * links survive, which versions go, and that aliases, referrers, uploads
 * waiting for their manifest and blobs a client just asked for are kept.
 * Times are set by hand on the files (no sleeps).
 */
#include "base/common.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_fs.h"

#include <fcntl.h>

#include "base/clock.h"
#include "registry/gc.h"
#include "registry/manifest.h"
#include "registry/registry.h"

static char dir[64];
static struct llmo_reg_store *st;

static int setup(void **state)
{
	struct llmo_reg_store_opts o = {.root = dir, .checksum_validation = true};
	struct llmo_error err = {0};

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/llmo-test-gc-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	if (llmo_reg_store_open(&o, &st, &err))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	llmo_reg_store_free(st);
	st = NULL;
	test_rm_rf(dir);
	return 0;
}

/* Stores text as a blob, linked into repo when repo is not NULL. */
static struct llmo_digest blob(const char *repo, const char *text)
{
	struct llmo_error err = {0};
	struct llmo_digest d;

	if (llmo_reg_blob_put(st, repo, NULL, text, strlen(text), &d, &err))
		fail_msg("blob put: %s", err.msg);
	return d;
}

static bool have_blob(const struct llmo_digest *d)
{
	return llmo_reg_blob_stat(st, NULL, d, NULL) == 0;
}

static void set_mtime(const char *path, int64_t sec_ago)
{
	struct timespec ts[2];

	ts[0].tv_sec = ts[1].tv_sec = (time_t)(llmo_clock_wall_ms() / 1000 - sec_ago);
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
}

static void set_link_age(const char *repo, const struct llmo_digest *d, int64_t sec_ago)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/repositories/%s/_layers/sha256/%s", dir, repo, d->hex);
	set_mtime(p, sec_ago);
}

static bool have_link(const char *repo, const struct llmo_digest *d)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/repositories/%s/_layers/sha256/%s", dir, repo, d->hex);
	return access(p, F_OK) == 0;
}

/*
 * Stores a manifest of artifactType type (NULL: none) with config cfg and
 * the layers given, tagged tag (may be NULL), referring to subject (may be
 * NULL), stored sec_ago seconds ago.
 */
static struct llmo_digest manifest(const char *repo, const char *tag, const char *type,
				   const struct llmo_digest *cfg, const struct llmo_digest *layers,
				   size_t nlayers, const struct llmo_digest *subject, int64_t sec_ago)
{
	char body[4096], ds[LLMO_DIGEST_STR_MAX], p[PATH_MAX];
	struct llmo_error err = {0};
	struct llmo_digest d;
	size_t n;

	n = (size_t)snprintf(body, sizeof(body),
			     "{\"schemaVersion\":2,\"mediaType\":\"%s\",%s%s%s"
			     "\"config\":{\"mediaType\":\"application/json\",\"digest\":\"%s\","
			     "\"size\":1},\"layers\":[",
			     LLMO_OCI_MANIFEST, type ? "\"artifactType\":\"" : "", type ? type : "",
			     type ? "\"," : "", llmo_digest_str(cfg, ds));
	for (size_t i = 0; i < nlayers; i++)
		n += (size_t)snprintf(body + n, sizeof(body) - n,
				      "%s{\"mediaType\":\"application/octet-stream\","
				      "\"digest\":\"%s\",\"size\":1}",
				      i ? "," : "", llmo_digest_str(&layers[i], ds));
	n += (size_t)snprintf(body + n, sizeof(body) - n, "]");
	if (subject)
		n += (size_t)snprintf(body + n, sizeof(body) - n,
				      ",\"subject\":{\"mediaType\":\"%s\",\"digest\":\"%s\","
				      "\"size\":1}",
				      LLMO_OCI_MANIFEST, llmo_digest_str(subject, ds));
	n += (size_t)snprintf(body + n, sizeof(body) - n, "}");
	assert_true(n < sizeof(body));
	assert_int_equal(llmo_digest_of(body, n, &d), 0);
	if (llmo_reg_manifest_put(st, repo, tag, &d, LLMO_OCI_MANIFEST, subject, body, n, &err))
		fail_msg("manifest put: %s", err.msg);
	snprintf(p, sizeof(p), "%s/repositories/%s/_manifests/revisions/sha256/%s", dir, repo,
		 d.hex);
	set_mtime(p, sec_ago);
	return d;
}

static void test_gc_keeps_referenced(void **state)
{
	struct llmo_reg_gc_stats gs;
	struct llmo_error err = {0};
	struct llmo_digest c, a, x, y, z, m, empty, sig, s;

	(void)state;
	c = blob("m", "config");
	a = blob("m", "layer a");
	m = manifest("m", "1", LLMO_MODEL_ARTIFACT_TYPE, &c, &a, 1, NULL, 100);
	empty = blob("m", "{}");
	sig = blob("m", "signature bytes");
	s = manifest("m", NULL, "application/vnd.llmo.signature.v1", &empty, &sig, 1, &m, 50);
	x = blob("m", "abandoned upload");  /* linked two hours ago, never referred to */
	y = blob("m", "upload in progress"); /* linked just now: its manifest is coming */
	z = blob(NULL, "stray");             /* neither linked nor referred to */
	set_link_age("m", &c, 7200);
	set_link_age("m", &a, 7200);
	set_link_age("m", &empty, 7200);
	set_link_age("m", &sig, 7200);
	set_link_age("m", &x, 7200);

	assert_int_equal(llmo_reg_gc(st, LLMO_REG_GC_GRACE_MS, &gs, &err), 0);
	assert_int_equal(gs.manifests, 2);
	assert_int_equal(gs.blobs_removed, 2); /* x and z */
	assert_int_equal(gs.bytes_removed, strlen("abandoned upload") + strlen("stray"));
	assert_int_equal(gs.links_removed, 1); /* x's */
	assert_int_equal(gs.blobs_kept, 7);    /* m, c, a, s, empty, sig, y */
	assert_false(have_blob(&x));
	assert_false(have_blob(&z));
	assert_false(have_link("m", &x));
	assert_true(have_blob(&y) && have_link("m", &y));
	assert_true(have_blob(&m) && have_blob(&c) && have_blob(&a));
	assert_true(have_blob(&s) && have_blob(&empty) && have_blob(&sig));
	/* a second collection finds nothing more */
	assert_int_equal(llmo_reg_gc(st, LLMO_REG_GC_GRACE_MS, &gs, &err), 0);
	assert_int_equal(gs.blobs_removed, 0);
	assert_int_equal(gs.links_removed, 0);
}

static void test_gc_unreadable_manifest_stops(void **state)
{
	struct llmo_reg_gc_stats gs;
	struct llmo_error err = {0};
	struct llmo_digest c, a, m, z;
	char p[PATH_MAX];
	int fd;

	(void)state;
	c = blob("m", "config");
	a = blob("m", "layer a");
	m = manifest("m", "1", LLMO_MODEL_ARTIFACT_TYPE, &c, &a, 1, NULL, 10);
	z = blob(NULL, "stray");
	/* the manifest's bytes no longer match its digest */
	snprintf(p, sizeof(p), "%s/blobs/sha256/%.2s/%s", dir, m.hex, m.hex);
	fd = open(p, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "X", 1), 1);
	close(fd);
	assert_int_not_equal(llmo_reg_gc(st, LLMO_REG_GC_GRACE_MS, &gs, &err), 0);
	assert_non_null(strstr(err.msg, m.hex));
	/* nothing was removed */
	assert_true(have_blob(&z) && have_blob(&c) && have_blob(&a));
}

static void test_prune_oldest_unaliased(void **state)
{
	static const char *const aliases[] = {"latest", "stable"};
	struct llmo_reg_prune_opts po = {.max_versions = 2,
					 .artifact_type = LLMO_MODEL_ARTIFACT_TYPE,
					 .aliases = aliases,
					 .naliases = 2};
	struct llmo_strv deleted = LLMO_STRV_INIT;
	struct llmo_reg_gc_stats gs;
	struct llmo_error err = {0};
	struct llmo_digest cfg[4], own[4], shared, v[4], empty, sig, s, other_c, other;
	struct llmo_digest lay[2];
	char ds[LLMO_DIGEST_STR_MAX];

	(void)state;
	shared = blob("m", "shared tokenizer");
	for (int i = 0; i < 4; i++) {
		char text[64], tag[8];

		snprintf(text, sizeof(text), "config of v%d", i + 1);
		cfg[i] = blob("m", text);
		snprintf(text, sizeof(text), "weights of v%d", i + 1);
		own[i] = blob("m", text);
		lay[0] = own[i];
		lay[1] = shared;
		snprintf(tag, sizeof(tag), "v%d", i + 1);
		/* v1 stored 400 s ago ... v4 100 s ago */
		v[i] = manifest("m", tag, LLMO_MODEL_ARTIFACT_TYPE, &cfg[i], lay, 2, NULL,
				400 - 100 * i);
	}
	/* v1 is stable, v4 latest; v2 is signed */
	lay[0] = own[0];
	v[0] = manifest("m", "stable", LLMO_MODEL_ARTIFACT_TYPE, &cfg[0], lay, 2, NULL, 400);
	lay[0] = own[3];
	v[3] = manifest("m", "latest", LLMO_MODEL_ARTIFACT_TYPE, &cfg[3], lay, 2, NULL, 100);
	empty = blob("m", "{}");
	sig = blob("m", "signature of v2");
	s = manifest("m", NULL, "application/vnd.llmo.signature.v1", &empty, &sig, 1, &v[1], 250);
	/* not a model: never counted nor pruned */
	other_c = blob("m", "an image config");
	other = manifest("m", "image", NULL, &other_c, &other_c, 1, NULL, 500);
	for (int i = 0; i < 4; i++) {
		set_link_age("m", &cfg[i], 3 * 3600);
		set_link_age("m", &own[i], 3 * 3600);
	}
	set_link_age("m", &shared, 3 * 3600);
	set_link_age("m", &empty, 3 * 3600);
	set_link_age("m", &sig, 3 * 3600);
	set_link_age("m", &other_c, 3 * 3600);
	/* a client asked for v3's weights after v3 was stored: about to reuse them */
	assert_int_equal(llmo_reg_blob_stat(st, "m", &own[2], NULL), 0);

	assert_int_equal(llmo_reg_prune(st, "m", &po, &deleted, &err), 0);
	/* four versions, two to go: v1 is stable, so v2 and v3, oldest first */
	assert_int_equal(deleted.len, 2);
	assert_string_equal(deleted.items[0], llmo_digest_str(&v[1], ds));
	assert_string_equal(deleted.items[1], llmo_digest_str(&v[2], ds));
	assert_int_equal(llmo_reg_manifest_resolve(st, "m", "v2", &s, NULL, NULL), LLMO_ENOTFOUND);
	assert_int_equal(llmo_reg_manifest_resolve(st, "m", "v3", &s, NULL, NULL), LLMO_ENOTFOUND);
	assert_int_equal(llmo_reg_manifest_resolve(st, "m", "v1", &s, NULL, NULL), 0);
	assert_int_equal(llmo_reg_manifest_resolve(st, "m", "latest", &s, NULL, NULL), 0);
	assert_int_equal(llmo_reg_manifest_resolve(st, "m", "image", &s, NULL, NULL), 0);
	llmo_strv_release(&deleted);

	assert_int_equal(llmo_reg_gc(st, LLMO_REG_GC_GRACE_MS, &gs, &err), 0);
	/* gone: v2, v3, v2's signature manifest, their configs, v2's weights,
	 * the signature and the empty config only the signature used */
	assert_false(have_blob(&v[1]) || have_blob(&v[2]));
	assert_false(have_blob(&cfg[1]) || have_blob(&cfg[2]) || have_blob(&own[1]));
	assert_false(have_blob(&sig) || have_blob(&empty));
	assert_int_equal(gs.blobs_removed, 8);
	/* kept: v1, v4 and what they use (shared too), v3's weights (asked for), the image */
	assert_true(have_blob(&v[0]) && have_blob(&v[3]) && have_blob(&shared));
	assert_true(have_blob(&cfg[0]) && have_blob(&own[0]) && have_blob(&cfg[3]) &&
		    have_blob(&own[3]));
	assert_true(have_blob(&own[2]) && have_link("m", &own[2]));
	assert_true(have_blob(&other) && have_blob(&other_c));

	/* under the limit: nothing more goes */
	assert_int_equal(llmo_reg_prune(st, "m", &po, &deleted, &err), 0);
	assert_int_equal(deleted.len, 0);
	llmo_strv_release(&deleted);
}

/*
 * A manifest DELETE followed by llmo_reg_unlink_deleted and a collection:
 * with young links (the collection's grace alone would keep them), what
 * only the deleted manifest used goes at once; what another manifest uses,
 * or a client asked for after the deleted one was stored, stays.
 */
static void test_unlink_deleted(void **state)
{
	struct llmo_digest cfg, own, shared, asked, gone, keep, lay[3];
	struct llmo_reg_gc_stats gs = {0};
	struct llmo_error err = {0};
	int64_t stored;

	(void)state;
	cfg = blob("m", "config");
	own = blob("m", "weights only the deleted one uses");
	shared = blob("m", "shared tokenizer");
	asked = blob("m", "weights a client asked for");
	lay[0] = own;
	lay[1] = shared;
	lay[2] = asked;
	gone = manifest("m", "v1", LLMO_MODEL_ARTIFACT_TYPE, &cfg, lay, 3, NULL, 60);
	keep = manifest("m", "v2", LLMO_MODEL_ARTIFACT_TYPE, &cfg, &shared, 1, NULL, 30);
	/* every link was made 60 s ago or later: younger than the grace (an hour) */
	set_link_age("m", &own, 60);
	set_link_age("m", &shared, 60);
	set_link_age("m", &asked, 60);
	/* a client asks for one blob now, after the manifest was stored */
	assert_int_equal(llmo_reg_blob_stat(st, "m", &asked, NULL), 0);

	stored = llmo_reg_revision_stored_ns(st, "m", &gone);
	assert_true(stored > 0);
	assert_int_equal(llmo_reg_manifest_delete(st, "m", &gone, &err), 0);
	assert_int_equal(llmo_reg_revision_stored_ns(st, "m", &gone), -1);
	/* not an image's manifest: nothing */
	assert_int_equal(llmo_reg_unlink_deleted(st, "m", &gone, stored, "application/x-image", &err),
			 0);
	assert_true(have_link("m", &own));
	assert_int_equal(
		llmo_reg_unlink_deleted(st, "m", &gone, stored, LLMO_MODEL_ARTIFACT_TYPE, &err), 0);
	assert_false(have_link("m", &own));
	assert_true(have_link("m", &shared) && have_link("m", &cfg) && have_link("m", &asked));

	assert_int_equal(llmo_reg_gc(st, LLMO_REG_GC_GRACE_MS, &gs, &err), 0);
	/* the deleted manifest and its own weights */
	assert_false(have_blob(&gone) || have_blob(&own));
	assert_int_equal(gs.blobs_removed, 2);
	assert_true(have_blob(&keep) && have_blob(&cfg) && have_blob(&shared) && have_blob(&asked));

	/* a manifest whose blob is gone (collected already): an error, nothing removed */
	assert_int_not_equal(llmo_reg_unlink_deleted(st, "m", &gone, stored, NULL, &err), 0);
	assert_true(have_link("m", &shared) && have_link("m", &asked));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_gc_keeps_referenced, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gc_unreadable_manifest_stops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prune_oldest_unaliased, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unlink_deleted, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
