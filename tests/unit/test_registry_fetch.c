/*
 * The node's model cache (registry/fetch.h): a fetch from an in-process
 * registry, resuming a partial download (only the missing bytes travel),
 * a wrong partial file started over, a wrong cached file fetched again;
 * LRU eviction that spares pinned models and the one being fetched; the
 * cached-models report in the exact format the scheduler reads; named
 * public keys (an LLMModel's signature.keyRef) and a fetch that requires
 * a signature by one of them. The registry client's lists in pages (Link
 * rel="next", parsed as RFC 8288 says) and its reading of WWW-Authenticate.
 */
#include "base/common.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_fs.h"

#include <event2/event.h>
#include <fcntl.h>
#include <pthread.h>

#include "base/clock.h"
#include "base/file.h"
#include "base/json.h"
#include "base/log.h"
#include "registry/fetch.h"
#include "registry/httphdr.h"
#include "registry/manifest.h"
#include "registry/registry.h"
#include "registry/store.h"

#define WEIGHTS_SIZE 300000

static char dir[64], store_dir[PATH_MAX], cache[PATH_MAX];
static unsigned char weights[WEIGHTS_SIZE];
static struct llmo_digest weights_d, manifest_d;
static size_t manifest_len;
static struct event_base *srv_base;
static struct llmo_registry *reg;
static struct event *quit_ev;
static int quit_fds[2];
static pthread_t thread;
static struct llmo_reg_client *client;

static void on_quit(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

static void *server_main(void *arg)
{
	(void)arg;
	event_base_loop(srv_base, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

/* models/m:1 with config.json and weights.bin, stored directly. */
static void seed_store(void)
{
	struct llmo_reg_store_opts so = {.root = store_dir, .checksum_validation = true};
	struct llmo_reg_store *s = NULL;
	struct llmo_error err = {0};
	struct llmo_digest cfg;
	char body[2048], a[LLMO_DIGEST_STR_MAX], b[LLMO_DIGEST_STR_MAX];
	int n;

	for (size_t i = 0; i < sizeof(weights); i++)
		weights[i] = (unsigned char)(i * 2654435761u >> 13);
	assert_int_equal(llmo_reg_store_open(&so, &s, &err), 0);
	assert_int_equal(llmo_reg_blob_put(s, "models/m", NULL, "{}", 2, &cfg, &err), 0);
	assert_int_equal(llmo_reg_blob_put(s, "models/m", NULL, weights, sizeof(weights),
					   &weights_d, &err),
			 0);
	n = snprintf(body, sizeof(body),
		     "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"artifactType\":\"%s\","
		     "\"config\":{\"mediaType\":\"application/vnd.llmo.model.config.v1+json\","
		     "\"digest\":\"%s\",\"size\":2},\"layers\":["
		     "{\"mediaType\":\"application/vnd.llmo.model.file.v1\",\"digest\":\"%s\","
		     "\"size\":%d,\"annotations\":{\"org.opencontainers.image.title\":"
		     "\"sub/weights.bin\"}}],\"annotations\":{\"io.llmo.model.served-name\":\"m\","
		     "\"org.opencontainers.image.version\":\"1\"}}",
		     LLMO_OCI_MANIFEST, LLMO_MODEL_ARTIFACT_TYPE, llmo_digest_str(&cfg, a),
		     llmo_digest_str(&weights_d, b), WEIGHTS_SIZE);
	assert_int_equal(llmo_digest_of(body, (size_t)n, &manifest_d), 0);
	manifest_len = (size_t)n;
	assert_int_equal(llmo_reg_manifest_put(s, "models/m", "1", &manifest_d, LLMO_OCI_MANIFEST,
					       NULL, body, (size_t)n, &err),
			 0);
	llmo_reg_store_free(s);
}

static int setup(void **state)
{
	struct llmo_registry_opts o;
	struct llmo_reg_client_opts co = {0};
	struct llmo_error err = {0};
	char url[64];

	(void)state;
	llmo_log_set_level(LLMO_LOG_ERROR);
	snprintf(dir, sizeof(dir), "/tmp/llmo-test-fetch-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(store_dir, sizeof(store_dir), "%s/store", dir);
	snprintf(cache, sizeof(cache), "%s/cache", dir);
	seed_store();
	srv_base = event_base_new();
	if (!srv_base || pipe(quit_fds) < 0)
		return -1;
	llmo_registry_opts_init(&o);
	o.port = 0;
	o.storage_path = store_dir;
	o.anonymous = "*";
	if (llmo_registry_new(srv_base, &o, &reg, &err)) {
		fprintf(stderr, "registry: %s\n", err.msg);
		return -1;
	}
	quit_ev = event_new(srv_base, quit_fds[0], EV_READ, on_quit, srv_base);
	if (!quit_ev || event_add(quit_ev, NULL) < 0 ||
	    pthread_create(&thread, NULL, server_main, NULL))
		return -1;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", llmo_registry_port(reg));
	co.url = url;
	return llmo_reg_client_new(&co, &client, &err) ? -1 : 0;
}

static int teardown(void **state)
{
	char b = 1;

	(void)state;
	if (write(quit_fds[1], &b, 1) == 1)
		pthread_join(thread, NULL);
	llmo_reg_client_free(client);
	event_free(quit_ev);
	llmo_registry_free(reg);
	event_base_free(srv_base);
	close(quit_fds[0]);
	close(quit_fds[1]);
	test_rm_rf(dir);
	return 0;
}

static void on_progress(void *ctx, const struct llmo_fetch_progress *p)
{
	struct llmo_fetch_progress *last = ctx;

	*last = *p;
}

static int fetch(struct llmo_fetch_progress *last, char *mdir, struct llmo_error *err)
{
	struct llmo_fetch_opts fo = {.cache_dir = cache, .client = client, .repo = "models/m",
				     .ref = "1", .progress = on_progress, .ctx = last};
	struct llmo_digest d;

	memset(last, 0, sizeof(*last));
	return llmo_fetch(&fo, mdir, &d, err);
}

static void assert_weights(const char *mdir)
{
	char p[PATH_MAX];
	struct llmo_buf b;

	snprintf(p, sizeof(p), "%s/sub/weights.bin", mdir);
	llmo_buf_init(&b, 2 * WEIGHTS_SIZE);
	assert_int_equal(llmo_file_read(p, 2 * WEIGHTS_SIZE, &b, NULL), 0);
	assert_int_equal(b.len, WEIGHTS_SIZE);
	assert_memory_equal(b.data, weights, WEIGHTS_SIZE);
	llmo_buf_release(&b);
}

static void write_file(const char *path, const void *p, size_t n)
{
	assert_int_equal(llmo_file_write_atomic(path, p, n, 0644, NULL), 0);
}

static void test_fetch_and_resume(void **state)
{
	struct llmo_fetch_progress last;
	struct llmo_error err = {0};
	char mdir[PATH_MAX], part[PATH_MAX], p[PATH_MAX];

	(void)state;
	/* a download cut at 100000 bytes left this */
	snprintf(p, sizeof(p), "%s/partial", cache);
	assert_int_equal(llmo_mkdir_p(p, 0755, NULL), 0);
	snprintf(part, sizeof(part), "%s/partial/%s", cache, weights_d.hex);
	write_file(part, weights, 100000);
	if (fetch(&last, mdir, &err))
		fail_msg("fetch: %s", err.msg);
	assert_true(last.finished);
	assert_int_equal(last.total, WEIGHTS_SIZE);
	assert_int_equal(last.done, WEIGHTS_SIZE);
	/* only the missing bytes came over the wire */
	assert_int_equal(last.downloaded, WEIGHTS_SIZE - 100000);
	assert_weights(mdir);
	assert_int_equal(access(part, F_OK), -1);

	/* fetched again: nothing travels */
	assert_int_equal(fetch(&last, mdir, &err), 0);
	assert_int_equal(last.downloaded, 0);

	/* a cached file changed on disk is fetched again, whole */
	snprintf(p, sizeof(p), "%s/sub/weights.bin", mdir);
	write_file(p, weights, 1000);
	assert_int_equal(fetch(&last, mdir, &err), 0);
	assert_int_equal(last.downloaded, WEIGHTS_SIZE);
	assert_weights(mdir);

	/* a partial file with wrong bytes: verified, refused, started over */
	snprintf(p, sizeof(p), "%s/sub/weights.bin", mdir);
	unlink(p);
	write_file(part, "not the weights", 15);
	assert_int_equal(fetch(&last, mdir, &err), 0);
	assert_weights(mdir);
}

static void test_tampered_blob(void **state)
{
	struct llmo_fetch_progress last;
	struct llmo_error err = {0};
	char mdir[PATH_MAX], p[PATH_MAX], part[PATH_MAX];
	int fd;

	(void)state;
	snprintf(p, sizeof(p), "%s/blobs/sha256/%.2s/%s", store_dir, weights_d.hex, weights_d.hex);
	fd = open(p, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "X", 1, 5), 1);
	close(fd);
	assert_int_equal(fetch(&last, mdir, &err), LLMO_EINVALID_OBJECT);
	assert_non_null(strstr(err.msg, "corrupt"));
	snprintf(p, sizeof(p), "%s/sub/weights.bin", mdir);
	assert_int_equal(access(p, F_OK), -1);
	/* nothing wrong is kept to resume from */
	snprintf(part, sizeof(part), "%s/partial/%s", cache, weights_d.hex);
	assert_int_equal(access(part, F_OK), -1);
}

/* ---- named keys and signatures ---- */

/* The entries (digest, then the annotation "n") of the index under models/m's referrers tag. */
static void tag_entries(char *out, size_t max)
{
	char tag[LLMO_REFERRERS_TAG_MAX];
	struct llmo_error err = {0};
	struct llmo_buf body;
	json_t *j = NULL, *e;
	size_t i, len = 0;

	out[0] = '\0';
	llmo_model_referrers_tag(&manifest_d, tag);
	llmo_buf_init(&body, 1 << 20);
	assert_int_equal(llmo_reg_client_manifest_get(client, "models/m", tag, &body, NULL, NULL, &err), 0);
	assert_int_equal(llmo_json_load(body.data, body.len, "index", &j, &err), 0);
	assert_string_equal(json_string_value(json_object_get(j, "mediaType")), LLMO_OCI_INDEX);
	json_array_foreach(json_object_get(j, "manifests"), i, e)
		len += (size_t)snprintf(out + len, max - len, "%s%s=%s", i ? " " : "",
					json_string_value(json_object_get(e, "digest")) + 7,
					json_string_value(json_object_get(json_object_get(e, "annotations"), "n")));
	json_decref(j);
	llmo_buf_release(&body);
}

/* Pushes to models/m a manifest of the empty config, no layer and annotation n = v; its digest. */
static void push_small(const char *v, char ds[LLMO_DIGEST_STR_MAX])
{
	struct llmo_error err = {0};
	struct llmo_digest empty, d;
	char es[LLMO_DIGEST_STR_MAX], body[512];
	int n;

	assert_int_equal(llmo_digest_of("{}", 2, &empty), 0);
	assert_int_equal(llmo_reg_client_blob_push_mem(client, "models/m", &empty, "{}", 2, &err), 0);
	n = snprintf(body, sizeof(body),
		     "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":{\"mediaType\":\"%s\","
		     "\"digest\":\"%s\",\"size\":2},\"layers\":[],\"annotations\":{\"n\":\"%s\"}}",
		     LLMO_OCI_MANIFEST, LLMO_OCI_EMPTY, llmo_digest_str(&empty, es), v);
	assert_int_equal(llmo_digest_of(body, (size_t)n, &d), 0);
	llmo_digest_str(&d, ds);
	if (llmo_reg_client_manifest_put(client, "models/m", ds, LLMO_OCI_MANIFEST, body, (size_t)n,
					 NULL, NULL, &err))
		fail_msg("manifest push: %s", err.msg);
}

/*
 * The referrers tag schema's writes (read back through an ordinary tag of
 * llmo registry, which has the referrers API and so never needs one): the
 * tag's name, an index created by the first entry, a second appended, an
 * entry of the same digest replaced in place, the index dropped.
 */
static void test_referrers_tag(void **state)
{
	char a[LLMO_DIGEST_STR_MAX], b[LLMO_DIGEST_STR_MAX], want[512];
	char tag[LLMO_REFERRERS_TAG_MAX], ds[LLMO_DIGEST_STR_MAX], got[512];
	struct llmo_error err = {0};
	struct llmo_buf body;
	json_t *desc;

	(void)state;
	push_small("a", a);
	push_small("b", b);
	llmo_model_referrers_tag(&manifest_d, tag);
	llmo_digest_str(&manifest_d, ds);
	assert_int_equal(strncmp(tag, "sha256-", 7), 0);
	assert_string_equal(tag + 7, ds + 7);
	assert_int_equal(llmo_model_referrers_tag_drop(client, "models/m", &manifest_d, &err),
			 LLMO_ENOTFOUND);

	desc = json_pack("{s:s,s:s,s:i,s:{s:s}}", "mediaType", LLMO_OCI_MANIFEST, "digest", a, "size",
			 10, "annotations", "n", "1");
	assert_int_equal(llmo_model_referrers_tag_add(client, "models/m", &manifest_d, desc, &err), 0);
	json_decref(desc);
	tag_entries(got, sizeof(got));
	snprintf(want, sizeof(want), "%s=1", a + 7);
	assert_string_equal(got, want);
	desc = json_pack("{s:s,s:s,s:i,s:{s:s}}", "mediaType", LLMO_OCI_MANIFEST, "digest", b, "size",
			 10, "annotations", "n", "2");
	assert_int_equal(llmo_model_referrers_tag_add(client, "models/m", &manifest_d, desc, &err), 0);
	json_decref(desc);
	desc = json_pack("{s:s,s:s,s:i,s:{s:s}}", "mediaType", LLMO_OCI_MANIFEST, "digest", a, "size",
			 10, "annotations", "n", "3");
	assert_int_equal(llmo_model_referrers_tag_add(client, "models/m", &manifest_d, desc, &err), 0);
	json_decref(desc);
	tag_entries(got, sizeof(got));
	snprintf(want, sizeof(want), "%s=3 %s=2", a + 7, b + 7);
	assert_string_equal(got, want);

	assert_int_equal(llmo_model_referrers_tag_drop(client, "models/m", &manifest_d, &err), 0);
	llmo_buf_init(&body, 1 << 20);
	assert_int_equal(llmo_reg_client_manifest_get(client, "models/m", tag, &body, NULL, NULL, &err),
			 LLMO_ENOTFOUND);
	llmo_buf_release(&body);
}

/* The rel="next" target of Link header values (RFC 8288), and values that do not parse. */
static void test_link_next(void **state)
{
	static const struct {
		const char *v, *want; /* want NULL: rc */
		int rc;
	} cases[] = {
		{"</v2/_catalog?last=models%2Fr94&n=100>; rel=\"next\"", "/v2/_catalog?last=models%2Fr94&n=100", 0},
		{"<https://r/v2/x/tags/list?n=2&last=b>;rel=next", "https://r/v2/x/tags/list?n=2&last=b", 0},
		{"<a>; rel=\"first\", <b,c>; REL=\"prev NEXT\"", "b,c", 0},
		{"  ,<a>; title=\"x,\\\"y\\\"\"; rel=\"next\" ; type=text/html", "a", 0},
		{"<a>; rel=\"next\", <b>; rel=\"next\"", "a", 0},
		{"<a>; rel=\"nextx\", <b>; rel=prev", NULL, LLMO_ENOTFOUND},
		{"<a>; anchor=\"next\"", NULL, LLMO_ENOTFOUND},
		{"", NULL, LLMO_ENOTFOUND},
		{"a; rel=next", NULL, LLMO_EPARSE},
		{"<a; rel=next", NULL, LLMO_EPARSE},
		{"<a>; rel=\"next", NULL, LLMO_EPARSE},
		{"<a>;; rel=next", NULL, LLMO_EPARSE},
		{"<a>; rel=", NULL, LLMO_EPARSE},
		{"<a> rel=next", NULL, LLMO_EPARSE},
		{"<>; rel=next", NULL, LLMO_EPARSE},
		{"<a b>; rel=next", NULL, LLMO_EPARSE},
		{"<a\x01>; rel=next", NULL, LLMO_EPARSE},
	};
	char out[256], small[17];

	(void)state;
	for (size_t i = 0; i < LLMO_ARRAY_LEN(cases); i++) {
		int rc = llmo_reg_link_next(cases[i].v, strlen(cases[i].v), out, sizeof(out));

		if (rc != (cases[i].want ? 0 : cases[i].rc))
			fail_msg("case %zu (%s): rc %d", i, cases[i].v, rc);
		if (cases[i].want)
			assert_string_equal(out, cases[i].want);
	}
	/* 16 bytes and the NUL fit in 17, 17 do not */
	assert_int_equal(llmo_reg_link_next("<0123456789abcdef>; rel=next", 28, small, sizeof(small)),
			 0);
	assert_string_equal(small, "0123456789abcdef");
	assert_int_equal(llmo_reg_link_next("<0123456789abcdefg>; rel=next", 29, small, sizeof(small)),
			 LLMO_ETOOBIG);
}

/* WWW-Authenticate challenges (RFC 7235) as registries send them, and values that do not parse. */
static void test_challenge(void **state)
{
	static const struct {
		const char *v;
		int rc;
		enum llmo_reg_auth_scheme scheme;
		const char *realm, *service, *scope, *error;
	} cases[] = {
		{"Bearer realm=\"https://auth.example/token\",service=\"registry.example\","
		 "scope=\"repository:models/a:pull,push\"",
		 0, LLMO_REG_AUTH_BEARER, "https://auth.example/token", "registry.example",
		 "repository:models/a:pull,push", ""},
		{"Basic realm=\"test\"", 0, LLMO_REG_AUTH_BASIC, "test", "", "", ""},
		{"bearer REALM=http://a/t, Service = s ,error=\"invalid_token\"", 0,
		 LLMO_REG_AUTH_BEARER, "http://a/t", "s", "", "invalid_token"},
		{"Bearer realm=\"a\\\"b\"", 0, LLMO_REG_AUTH_BEARER, "a\"b", "", "", ""},
		{"Basic realm=\"x\", Bearer realm=\"y\"", 0, LLMO_REG_AUTH_BASIC, "x", "", "", ""},
		{"Negotiate", 0, LLMO_REG_AUTH_OTHER, "", "", "", ""},
		{"Bearer", 0, LLMO_REG_AUTH_BEARER, "", "", "", ""},
		{"", LLMO_EPARSE, 0, NULL, NULL, NULL, NULL},
		{"=x", LLMO_EPARSE, 0, NULL, NULL, NULL, NULL},
		{"Bearer realm=\"open", LLMO_EPARSE, 0, NULL, NULL, NULL, NULL},
		{"Bearer realm=", LLMO_EPARSE, 0, NULL, NULL, NULL, NULL},
		{"Bearer realm=\"x\",=y", LLMO_EPARSE, 0, NULL, NULL, NULL, NULL},
		{"Bearer realm=\"a\x01b\"", LLMO_EPARSE, 0, NULL, NULL, NULL, NULL},
		{"Bearer realm=a\x7f", LLMO_EPARSE, 0, NULL, NULL, NULL, NULL},
	};
	struct llmo_reg_challenge ch;
	char big[LLMO_REG_CHALLENGE_VALUE_MAX + 32];

	(void)state;
	for (size_t i = 0; i < LLMO_ARRAY_LEN(cases); i++) {
		int rc = llmo_reg_challenge_parse(cases[i].v, strlen(cases[i].v), &ch);

		if (rc != cases[i].rc)
			fail_msg("case %zu (%s): rc %d", i, cases[i].v, rc);
		if (rc)
			continue;
		assert_int_equal(ch.scheme, cases[i].scheme);
		assert_string_equal(ch.realm, cases[i].realm);
		assert_string_equal(ch.service, cases[i].service);
		assert_string_equal(ch.scope, cases[i].scope);
		assert_string_equal(ch.error, cases[i].error);
	}
	/* a scope of LLMO_REG_CHALLENGE_VALUE_MAX bytes does not fit with its NUL; one less does */
	for (int len = LLMO_REG_CHALLENGE_VALUE_MAX - 1; len <= LLMO_REG_CHALLENGE_VALUE_MAX; len++) {
		int n = snprintf(big, sizeof(big), "Bearer scope=\"%0*d\"", len, 0);

		assert_int_equal(llmo_reg_challenge_parse(big, (size_t)n, &ch),
				 len < LLMO_REG_CHALLENGE_VALUE_MAX ? 0 : LLMO_ETOOBIG);
	}
	assert_int_equal(strlen(ch.scope), 0); /* memset by the failed parse */
}

/* A tagged manifest of no layers in repo. */
static void push_tagged(const char *repo, const char *tag)
{
	struct llmo_error err = {0};
	struct llmo_digest empty;
	char es[LLMO_DIGEST_STR_MAX], body[512];
	int n;

	assert_int_equal(llmo_digest_of("{}", 2, &empty), 0);
	assert_int_equal(llmo_reg_client_blob_push_mem(client, repo, &empty, "{}", 2, &err), 0);
	n = snprintf(body, sizeof(body),
		     "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":{\"mediaType\":\"%s\","
		     "\"digest\":\"%s\",\"size\":2},\"layers\":[]}",
		     LLMO_OCI_MANIFEST, LLMO_OCI_EMPTY, llmo_digest_str(&empty, es));
	if (llmo_reg_client_manifest_put(client, repo, tag, LLMO_OCI_MANIFEST, body, (size_t)n,
					 NULL, NULL, &err))
		fail_msg("manifest push: %s", err.msg);
}

/* The list's entries joined by spaces. */
static void list_of(const char *path, const char *key, char *out, size_t max)
{
	struct llmo_error err = {0};
	json_t *j = NULL, *a;
	size_t n = 0;

	if (llmo_reg_client_get_list(client, path, key, &j, &err))
		fail_msg("%s: %s", path, err.msg);
	a = json_object_get(j, key);
	out[0] = '\0';
	for (size_t i = 0; i < json_array_size(a); i++)
		n += (size_t)snprintf(out + n, max - n, "%s%s", i ? " " : "",
				      json_string_value(json_array_get(a, i)));
	json_decref(j);
}

/*
 * Lists in pages: llmo registry splits a list by ?n= with a Link to the
 * next page (the path and ?n=&last=), and llmo_reg_client_get_list follows
 * every one; the other fields of the first page stay.
 */
static void test_list_pages(void **state)
{
	struct llmo_error err = {0};
	char got[512];
	json_t *j = NULL;

	(void)state;
	push_tagged("models/m", "p1");
	push_tagged("models/m", "p2");
	push_tagged("models/m", "p3");
	push_tagged("models/z", "x");
	list_of("/v2/models/m/tags/list?n=2", "tags", got, sizeof(got));
	assert_string_equal(got, "1 p1 p2 p3");
	list_of("/v2/models/m/tags/list?n=1", "tags", got, sizeof(got));
	assert_string_equal(got, "1 p1 p2 p3");
	list_of("/v2/models/m/tags/list", "tags", got, sizeof(got));
	assert_string_equal(got, "1 p1 p2 p3");
	list_of("/v2/_catalog?n=1", "repositories", got, sizeof(got));
	assert_string_equal(got, "models/m models/z");
	assert_int_equal(llmo_reg_client_get_list(client, "/v2/models/m/tags/list?n=1", "tags", &j,
						  &err),
			 0);
	assert_string_equal(json_string_value(json_object_get(j, "name")), "models/m");
	json_decref(j);
	/* not a list: the key names another field's type */
	assert_int_equal(llmo_reg_client_get_list(client, "/v2/models/m/tags/list", "name", &j, &err),
			 LLMO_EPARSE);
	assert_null(j);
	assert_non_null(strstr(err.msg, "want an object with a \"name\" array"));
	assert_int_equal(llmo_reg_client_get_list(client, "/v2/models/none/tags/list", "tags", &j,
						  &err),
			 LLMO_ENOTFOUND);
}

/* A referrer of models/m:1 (manifest_d) of artifactType type, told apart by n; its digest in ds. */
static void push_referrer(const char *type, int n, char ds[LLMO_DIGEST_STR_MAX])
{
	struct llmo_error err = {0};
	struct llmo_digest empty, d;
	char es[LLMO_DIGEST_STR_MAX], ms[LLMO_DIGEST_STR_MAX], body[1024];
	int len;

	assert_int_equal(llmo_digest_of("{}", 2, &empty), 0);
	assert_int_equal(llmo_reg_client_blob_push_mem(client, "models/m", &empty, "{}", 2, &err), 0);
	len = snprintf(body, sizeof(body),
		       "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"artifactType\":\"%s\","
		       "\"config\":{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":2},\"layers\":[],"
		       "\"subject\":{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%zu},"
		       "\"annotations\":{\"n\":\"%d\"}}",
		       LLMO_OCI_MANIFEST, type, LLMO_OCI_EMPTY, llmo_digest_str(&empty, es),
		       LLMO_OCI_MANIFEST, llmo_digest_str(&manifest_d, ms), manifest_len, n);
	assert_int_equal(llmo_digest_of(body, (size_t)len, &d), 0);
	llmo_digest_str(&d, ds);
	if (llmo_reg_client_manifest_put(client, "models/m", ds, LLMO_OCI_MANIFEST, body, (size_t)len,
					 NULL, NULL, &err))
		fail_msg("referrer push: %s", err.msg);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(a, b);
}

/*
 * The referrers API in pages: llmo registry answers at most ?n= (1 to
 * 1000) referrers in digest order after ?last= with a Link to the next
 * page (the artifactType filter kept in it), and the client's
 * llmo_model_referrers joins every page.
 */
static void test_referrers_pages(void **state)
{
	static const char *const types[] = {"application/vnd.a+json", "application/vnd.b"};
	char ds[5][LLMO_DIGEST_STR_MAX], want[512] = "", got[512], path[512], ms[LLMO_DIGEST_STR_MAX];
	struct llmo_error err = {0};
	json_t *j = NULL, *list;
	size_t k = 0;

	(void)state;
	for (int i = 0; i < 5; i++)
		push_referrer(types[i % 2], i, ds[i]);
	qsort(ds, 5, sizeof(ds[0]), cmp_str);
	for (int i = 0; i < 5; i++)
		k += (size_t)snprintf(want + k, sizeof(want) - k, "%s%s", i ? " " : "", ds[i]);
	llmo_digest_str(&manifest_d, ms);
	for (int n = 1; n <= 6; n++) {
		snprintf(path, sizeof(path), "/v2/models/m/referrers/%s?n=%d", ms, n);
		if (llmo_reg_client_get_list(client, path, "manifests", &j, &err))
			fail_msg("%s: %s", path, err.msg);
		list = json_object_get(j, "manifests");
		k = 0;
		got[0] = '\0';
		for (size_t i = 0; i < json_array_size(list); i++)
			k += (size_t)snprintf(got + k, sizeof(got) - k, "%s%s", i ? " " : "",
					      json_string_value(json_object_get(json_array_get(list, i),
										"digest")));
		assert_string_equal(got, want);
		json_decref(j);
	}
	/* one page alone holds n: the server does split the list */
	{
		struct llmo_buf b;

		llmo_buf_init(&b, 1 << 20);
		snprintf(path, sizeof(path), "/v2/models/m/referrers/%s?n=2", ms);
		assert_int_equal(llmo_reg_client_get(client, path, &b, &err), 0);
		assert_int_equal(llmo_json_load(b.data, b.len, NULL, &j, &err), 0);
		assert_int_equal(json_array_size(json_object_get(j, "manifests")), 2);
		json_decref(j);
		llmo_buf_release(&b);
	}
	/* filtered, one a page: the three of type a, every one of that type */
	snprintf(path, sizeof(path), "/v2/models/m/referrers/%s?n=1&artifactType=%s", ms,
		 "application%2Fvnd.a%2Bjson");
	assert_int_equal(llmo_reg_client_get_list(client, path, "manifests", &j, &err), 0);
	list = json_object_get(j, "manifests");
	assert_int_equal(json_array_size(list), 3);
	for (size_t i = 0; i < 3; i++)
		assert_string_equal(json_string_value(json_object_get(json_array_get(list, i),
								      "artifactType")),
				    types[0]);
	json_decref(j);
	/* and through llmo_model_referrers (the first page is all of them: 1000 a page) */
	assert_int_equal(llmo_model_referrers(client, "models/m", &manifest_d, types[1], &j, NULL,
					      &err),
			 0);
	assert_int_equal(json_array_size(json_object_get(j, "manifests")), 2);
	json_decref(j);
	/* n out of range */
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "/v2/models/m/referrers/%s?n=%d", ms, i ? 1001 : 0);
		assert_int_equal(llmo_reg_client_get_list(client, path, "manifests", &j, &err),
				 LLMO_EINVAL);
		assert_non_null(strstr(err.msg, "n must be an integer from 1 to 1000"));
	}
}

static void test_key_names(void **state)
{
	static const struct {
		const char *name;
		bool ok;
	} cases[] = {
		{"release", true},     {"release-2024.v1_a", true}, {"a", true},
		{"A9", true},	       {"", false},		    {"-release", false},
		{"release-", false},   {".hidden", false},	    {"..", false},
		{"a/b", false},	       {"../etc/passwd", false},    {"a b", false},
		{"rel\nease", false}, {"release.", false},
	};
	char long_ok[LLMO_SIG_KEY_NAME_MAX + 1], too_long[LLMO_SIG_KEY_NAME_MAX + 2];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (llmo_model_key_name_ok(cases[i].name) != cases[i].ok)
			fail_msg("\"%s\": want %s", cases[i].name, cases[i].ok ? "ok" : "refused");
	assert_false(llmo_model_key_name_ok(NULL));
	memset(long_ok, 'k', sizeof(long_ok) - 1);
	long_ok[sizeof(long_ok) - 1] = '\0';
	assert_true(llmo_model_key_name_ok(long_ok));
	memset(too_long, 'k', sizeof(too_long) - 1);
	too_long[sizeof(too_long) - 1] = '\0';
	assert_false(llmo_model_key_name_ok(too_long));
}

/* DIR/keys/NAME.pub and NAME.key for each name; the directory's path into keys. */
static void make_keys(char *keys, size_t n, const char *const *names, size_t count)
{
	struct llmo_error err = {0};
	char prefix[PATH_MAX], id[LLMO_DIGEST_STR_MAX];

	snprintf(keys, n, "%s/keys", dir);
	assert_int_equal(llmo_mkdir_p(keys, 0755, NULL), 0);
	for (size_t i = 0; i < count; i++) {
		snprintf(prefix, sizeof(prefix), "%s/%s", keys, names[i]);
		if (llmo_sig_keygen(prefix, id, &err))
			fail_msg("keygen %s: %s", names[i], err.msg);
	}
}

static void test_key_find(void **state)
{
	static const char *const names[] = {"release"};
	struct llmo_error err = {0};
	char keys[PATH_MAX], path[PATH_MAX], want[PATH_MAX], one[PATH_MAX];

	(void)state;
	make_keys(keys, sizeof(keys), names, 1);
	/* a directory: NAME.pub in it */
	assert_int_equal(llmo_model_key_find(keys, "release", path, sizeof(path), &err), 0);
	snprintf(want, sizeof(want), "%s/release.pub", keys);
	assert_string_equal(path, want);
	assert_int_equal(llmo_model_key_find(keys, "other", path, sizeof(path), &err),
			 LLMO_ENOTFOUND);
	assert_non_null(strstr(err.msg, "no public key called other"));
	assert_non_null(strstr(err.msg, "other.pub"));
	/* the private key beside it is no public key called release.key */
	assert_int_equal(llmo_model_key_find(keys, "release.key", path, sizeof(path), &err),
			 LLMO_ENOTFOUND);
	/* a name that would leave the directory is not looked up */
	assert_int_equal(llmo_model_key_find(keys, "../keys/release", path, sizeof(path), &err),
			 LLMO_EINVAL);
	assert_non_null(strstr(err.msg, "not a key name"));
	/* one key file: it is the key called by its name, and no other */
	snprintf(one, sizeof(one), "%s/release.pub", keys);
	assert_int_equal(llmo_model_key_find(one, "release", path, sizeof(path), &err), 0);
	assert_string_equal(path, one);
	assert_int_equal(llmo_model_key_find(one, "rel", path, sizeof(path), &err),
			 LLMO_ENOTFOUND);
	assert_non_null(strstr(err.msg, "not rel.pub"));
	/* no trusted keys where they should be */
	snprintf(one, sizeof(one), "%s/nowhere", dir);
	assert_int_equal(llmo_model_key_find(one, "release", path, sizeof(path), &err),
			 LLMO_ENOTFOUND);
}

/* Pushes a signature of models/m:1 by the private key file priv (as `llmo model sign`). */
static void sign_model(const char *priv)
{
	unsigned char sig[LLMO_SIG_LEN];
	struct llmo_sig_key *k = NULL;
	struct llmo_error err = {0};
	struct llmo_digest empty, sd, ad;
	char es[LLMO_DIGEST_STR_MAX], ss[LLMO_DIGEST_STR_MAX], ms[LLMO_DIGEST_STR_MAX];
	char body[2048];
	bool acked = false;
	int n;

	assert_int_equal(llmo_sig_key_load(priv, true, &k, &err), 0);
	assert_int_equal(llmo_sig_sign(k, &manifest_d, sig, &err), 0);
	assert_int_equal(llmo_digest_of("{}", 2, &empty), 0);
	assert_int_equal(llmo_digest_of(sig, sizeof(sig), &sd), 0);
	assert_int_equal(llmo_reg_client_blob_push_mem(client, "models/m", &empty, "{}", 2, &err), 0);
	assert_int_equal(llmo_reg_client_blob_push_mem(client, "models/m", &sd, sig, sizeof(sig),
						       &err),
			 0);
	n = snprintf(body, sizeof(body),
		     "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"artifactType\":\"%s\","
		     "\"config\":{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":2},"
		     "\"layers\":[{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%d}],"
		     "\"subject\":{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%zu},"
		     "\"annotations\":{\"%s\":\"%s\"}}",
		     LLMO_OCI_MANIFEST, LLMO_SIG_ARTIFACT_TYPE, LLMO_OCI_EMPTY,
		     llmo_digest_str(&empty, es), LLMO_SIG_MEDIA_TYPE, llmo_digest_str(&sd, ss),
		     LLMO_SIG_LEN, LLMO_OCI_MANIFEST, llmo_digest_str(&manifest_d, ms),
		     manifest_len, LLMO_SIG_KEY_ANNOTATION, llmo_sig_key_id(k));
	assert_int_equal(llmo_digest_of(body, (size_t)n, &ad), 0);
	if (llmo_reg_client_manifest_put(client, "models/m", llmo_digest_str(&ad, es),
					 LLMO_OCI_MANIFEST, body, (size_t)n, NULL, &acked, &err))
		fail_msg("signature push: %s", err.msg);
	/* llmo registry has the referrers API: it answers OCI-Subject, no referrers tag needed */
	assert_true(acked);
	llmo_sig_key_free(k);
}

/* Fetches models/m:1 requiring a signature by the key called name of keys. */
static int fetch_signed_by(const char *keys, const char *name, struct llmo_error *err)
{
	struct llmo_fetch_opts fo = {.cache_dir = cache, .client = client, .repo = "models/m",
				     .ref = "1", .require_signature = true, .key_name = name};
	struct llmo_sig_key *k = NULL;
	struct llmo_digest d;
	char path[PATH_MAX], mdir[PATH_MAX];
	int rc;

	assert_int_equal(llmo_model_key_find(keys, name, path, sizeof(path), err), 0);
	assert_int_equal(llmo_sig_key_load(path, false, &k, err), 0);
	fo.keys = &k;
	fo.nkeys = 1;
	rc = llmo_fetch(&fo, mdir, &d, err);
	if (!rc)
		assert_weights(mdir);
	llmo_sig_key_free(k);
	return rc;
}

static void test_fetch_key_ref(void **state)
{
	static const char *const names[] = {"release", "other"};
	struct llmo_error err = {0};
	struct llmo_sig_key *other = NULL;
	char keys[PATH_MAX], p[PATH_MAX];

	(void)state;
	make_keys(keys, sizeof(keys), names, 2);
	snprintf(p, sizeof(p), "%s/other.pub", keys);
	assert_int_equal(llmo_sig_key_load(p, false, &other, &err), 0);
	/* unsigned: refused, naming the key asked for */
	assert_int_equal(fetch_signed_by(keys, "release", &err), LLMO_EDENIED);
	assert_non_null(strstr(err.msg, "signature.keyRef: the model must be signed by the key "
					"called release (sha256:"));
	assert_non_null(strstr(err.msg, "0 signatures"));
	snprintf(p, sizeof(p), "%s/models", cache);
	assert_int_equal(access(p, F_OK), -1); /* refused before a byte was fetched */
	/* signed by release: fetched; other, also trusted, did not sign: refused, named */
	snprintf(p, sizeof(p), "%s/release.key", keys);
	sign_model(p);
	if (fetch_signed_by(keys, "release", &err))
		fail_msg("fetch signed by release: %s", err.msg);
	assert_int_equal(fetch_signed_by(keys, "other", &err), LLMO_EDENIED);
	assert_non_null(strstr(err.msg, "the key called other ("));
	assert_non_null(strstr(err.msg, llmo_sig_key_id(other)));
	assert_non_null(strstr(err.msg, "1 signatures"));
	llmo_sig_key_free(other);
}

/* A complete cached model HEX of size bytes, last used sec_ago; returns its bytes on disk. */
static uint64_t cached_model(const char *hex, const char *name, const char *version, size_t size,
			 int64_t sec_ago)
{
	char p[PATH_MAX], info[512];
	static char zeros[4096];
	struct timespec ts[2];

	snprintf(p, sizeof(p), "%s/models/%s", cache, hex);
	assert_int_equal(llmo_mkdir_p(p, 0755, NULL), 0);
	snprintf(p, sizeof(p), "%s/models/%s/w", cache, hex);
	write_file(p, zeros, size);
	snprintf(info, sizeof(info),
		 "{\"name\":\"%s\",\"version\":\"%s\",\"digest\":\"sha256:%s\",\"sizeBytes\":%zu}",
		 name, version, hex, size);
	snprintf(p, sizeof(p), "%s/models/%s/.llmo-model.json", cache, hex);
	write_file(p, info, strlen(info));
	snprintf(p, sizeof(p), "%s/models/%s/.last-used", cache, hex);
	write_file(p, "", 0);
	ts[0].tv_sec = ts[1].tv_sec = (time_t)(llmo_clock_wall_ms() / 1000 - sec_ago);
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
	return size + strlen(info);
}

static bool cached(const char *hex)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/models/%s", cache, hex);
	return access(p, F_OK) == 0;
}

#define HEX(c) c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c \
	       c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c

static void test_evict_lru(void **state)
{
	const char *a = HEX("a"), *b = HEX("b"), *c = HEX("c"), *d = HEX("d");
	struct llmo_error err = {0};
	uint64_t freed = 0, na, nb, nc, nd;

	(void)state;
	/* a: oldest use; b: in use by a replica; c; d: newest */
	na = cached_model(a, "m", "1", 1000, 400);
	nb = cached_model(b, "m", "2", 1000, 300);
	nc = cached_model(c, "m", "3", 1000, 200);
	nd = cached_model(d, "m", "4", 1000, 100);
	assert_int_equal(llmo_model_cache_pin(cache, "pod-uid-1", b, &err), 0);
	/* room for two: a (least recently used) and c go; b is pinned */
	assert_int_equal(llmo_model_cache_evict(cache, nb + nd, NULL, &freed, &err), 0);
	assert_false(cached(a));
	assert_true(cached(b));
	assert_false(cached(c));
	assert_true(cached(d));
	assert_int_equal(freed, na + nc);
	/* unpinned, b (older than d) goes next; keep spares d even under 0 */
	assert_int_equal(llmo_model_cache_pin(cache, "pod-uid-1", NULL, &err), 0);
	assert_int_equal(llmo_model_cache_evict(cache, 0, d, NULL, &err), 0);
	assert_false(cached(b));
	assert_true(cached(d));
}

static void test_report_format(void **state)
{
	const char *a = HEX("a"), *b = HEX("b");
	struct llmo_error err = {0};
	json_t *j = NULL;
	char *text, want[1024], p[PATH_MAX];

	(void)state;
	cached_model(b, "llama2", "7b", 100, 10);
	cached_model(a, "llama2", "13b", 200, 20);
	/* an incomplete model (no .llmo-model.json) is not reported */
	snprintf(p, sizeof(p), "%s/models/%s", cache, HEX("e"));
	assert_int_equal(llmo_mkdir_p(p, 0755, NULL), 0);
	snprintf(p, sizeof(p), "%s/rate.json", cache);
	write_file(p, "{\"bytesPerSecond\":123456789}", 28);
	assert_int_equal(llmo_model_cache_report(cache, &j, &err), 0);
	text = json_dumps(j, JSON_COMPACT);
	snprintf(want, sizeof(want),
		 "{\"pullBytesPerSecond\":123456789,\"models\":["
		 "{\"name\":\"llama2\",\"version\":\"13b\",\"digest\":\"sha256:%s\",\"sizeBytes\":200},"
		 "{\"name\":\"llama2\",\"version\":\"7b\",\"digest\":\"sha256:%s\",\"sizeBytes\":100}]}",
		 a, b);
	assert_string_equal(text, want);
	free(text);
	json_decref(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fetch_and_resume, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tampered_blob, setup, teardown),
		cmocka_unit_test_setup_teardown(test_evict_lru, setup, teardown),
		cmocka_unit_test_setup_teardown(test_report_format, setup, teardown),
		cmocka_unit_test_setup_teardown(test_referrers_tag, setup, teardown),
		cmocka_unit_test(test_link_next),
		cmocka_unit_test(test_challenge),
		cmocka_unit_test_setup_teardown(test_list_pages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_referrers_pages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_key_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_key_find, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fetch_key_ref, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
