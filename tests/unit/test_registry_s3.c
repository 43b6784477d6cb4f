/*
 * The registry's S3 client (registry/s3.h) against a scripted HTTP server
 * on loopback: keys allowed, options refused, credentials from the
 * environment and from a shared credentials file, the SigV4 headers sent,
 * S3 error answers turned into errors naming the object and S3's code,
 * and a listing that takes two pages (continuation token escaped, query in
 * SigV4's sorted order). tests/integration/test_registry_s3.sh runs the
 * registry against s3rver.
 */
#include "base/common.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/str.h"
#include "registry/s3.h"

/* ---- a scripted server: one request per connection ---- */

#define HEAD_MAX 16384

static int lfd = -1;
static int port;
static pthread_t thread;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static char last_head[HEAD_MAX]; /* the last request's head, for the tests to read */
static char last_body[HEAD_MAX]; /* and the start of its body */

struct canned {
	const char *request_line; /* "GET /bkt/p/k HTTP/1.1" */
	const char *status;       /* "200 OK" */
	const char *body;
	const char *header; /* an extra answer header line, or NULL */
};

static const char page1[] =
	"<?xml version=\"1.0\"?><ListBucketResult><Name>bkt</Name>"
	"<Contents><Key>p/repositories/a/_manifests/tags/v1</Key>"
	"<ETag>&quot;0123456789abcdef0123456789abcdef&quot;</ETag><Size>72</Size></Contents>"
	"<Contents><Key>p/repositories/a/_layers/sha256/ab</Key><ETag>\"e\"</ETag>"
	"<Size>0</Size></Contents>"
	"<IsTruncated>true</IsTruncated><NextContinuationToken>tok/+=1</NextContinuationToken>"
	"</ListBucketResult>";
static const char page2[] =
	"<?xml version=\"1.0\"?><ListBucketResult><Name>bkt</Name>"
	"<Contents><Key>p/repositories/b/_manifests/tags/v2</Key><ETag>\"x\"</ETag>"
	"<Size>5</Size></Contents><IsTruncated>false</IsTruncated></ListBucketResult>";

static const struct canned script[] = {
	{"GET /bkt?list-type=2&prefix=p%2Frepositories%2F HTTP/1.1", "200 OK", page1, NULL},
	{"GET /bkt?continuation-token=tok%2F%2B%3D1&list-type=2&prefix=p%2Frepositories%2F "
	 "HTTP/1.1",
	 "200 OK", page2, NULL},
	{"GET /bkt/p/obj HTTP/1.1", "200 OK", "hello", NULL},
	{"PUT /bkt/p/obj HTTP/1.1", "200 OK", "", NULL},
	{"GET /bkt/p/denied HTTP/1.1", "403 Forbidden",
	 "<?xml version=\"1.0\"?><Error><Code>AccessDenied</Code><Message>Access &amp; "
	 "Denied</Message></Error>", NULL},
	{"GET /bkt/p/missing HTTP/1.1", "404 Not Found",
	 "<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>", NULL},
	{"GET /bkt/p/nobucket HTTP/1.1", "404 Not Found",
	 "<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not "
	 "exist</Message></Error>", NULL},
	{"HEAD /bkt/p/obj HTTP/1.1", "200 OK", NULL, NULL},
	{"HEAD /bkt/p/missing HTTP/1.1", "404 Not Found", NULL, NULL},
	/* a multipart upload of "big" in two parts; "bad" fails at its first part */
	{"POST /bkt/p/big?uploads= HTTP/1.1", "200 OK",
	 "<InitiateMultipartUploadResult><UploadId>u/1+</UploadId></InitiateMultipartUploadResult>", NULL},
	{"PUT /bkt/p/big?partNumber=1&uploadId=u%2F1%2B HTTP/1.1", "200 OK", "", "ETag: \"e1\""},
	{"PUT /bkt/p/big?partNumber=2&uploadId=u%2F1%2B HTTP/1.1", "200 OK", "", "ETag: \"e2\""},
	{"POST /bkt/p/big?uploadId=u%2F1%2B HTTP/1.1", "200 OK",
	 "<CompleteMultipartUploadResult><ETag>\"x-2\"</ETag></CompleteMultipartUploadResult>", NULL},
	{"POST /bkt/p/bad?uploads= HTTP/1.1", "200 OK",
	 "<InitiateMultipartUploadResult><UploadId>u2</UploadId></InitiateMultipartUploadResult>", NULL},
	{"PUT /bkt/p/bad?partNumber=1&uploadId=u2 HTTP/1.1", "403 Forbidden",
	 "<Error><Code>AccessDenied</Code><Message>no</Message></Error>", NULL},
	{"DELETE /bkt/p/bad?uploadId=u2 HTTP/1.1", "204 No Content", "", NULL},
};

static void serve_one(int c)
{
	char head[HEAD_MAX], out[HEAD_MAX];
	size_t n = 0;
	char *end = NULL, *cl;
	long body_len = 0;
	const struct canned *k = NULL;
	int len;

	while (n + 1 < sizeof(head) && !end) {
		ssize_t r = read(c, head + n, sizeof(head) - 1 - n);

		if (r <= 0)
			return;
		n += (size_t)r;
		head[n] = '\0';
		end = strstr(head, "\r\n\r\n");
	}
	if (!end)
		return;
	/* drain a PUT body so that the client sees its answer */
	if ((cl = strcasestr(head, "\r\nContent-Length:")))
		body_len = strtol(cl + 17, NULL, 10);
	pthread_mutex_lock(&mu);
	snprintf(last_body, sizeof(last_body), "%s", end + 4);
	pthread_mutex_unlock(&mu);
	for (long have = (long)(n - (size_t)(end + 4 - head)); have < body_len;) {
		ssize_t r = read(c, out, sizeof(out) - 1);

		if (r <= 0)
			break;
		out[r] = '\0';
		pthread_mutex_lock(&mu);
		if (strlen(last_body) + (size_t)r < sizeof(last_body))
			memcpy(last_body + strlen(last_body), out, (size_t)r + 1);
		pthread_mutex_unlock(&mu);
		have += r;
	}
	end[2] = '\0';
	pthread_mutex_lock(&mu);
	snprintf(last_head, sizeof(last_head), "%s", head);
	pthread_mutex_unlock(&mu);
	for (size_t i = 0; i < sizeof(script) / sizeof(script[0]); i++)
		if (strncmp(head, script[i].request_line, strlen(script[i].request_line)) == 0 &&
		    head[strlen(script[i].request_line)] == '\r')
			k = &script[i];
	if (!k)
		len = snprintf(out, sizeof(out),
			       "HTTP/1.1 500 Unscripted\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
	else if (!k->body) /* HEAD: the length of "hello", no body */
		len = snprintf(out, sizeof(out),
			       "HTTP/1.1 %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n",
			       k->status, strncmp(k->status, "200", 3) == 0 ? 5 : 0);
	else
		len = snprintf(out, sizeof(out),
			       "HTTP/1.1 %s\r\n%s%sContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
			       k->status, k->header ? k->header : "", k->header ? "\r\n" : "",
			       strlen(k->body), k->body);
	if (write(c, out, (size_t)len) < 0)
		return;
}

static void *serve(void *arg)
{
	(void)arg;
	for (;;) {
		int c = accept(lfd, NULL, NULL);

		if (c < 0)
			return NULL;
		serve_one(c);
		close(c);
	}
}

static int setup(void **state)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);

	(void)state;
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lfd, 16) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&a, &al) < 0)
		return -1;
	port = ntohs(a.sin_port);
	setenv("AWS_ACCESS_KEY_ID", "AKTEST", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "secret", 1);
	return pthread_create(&thread, NULL, serve, NULL) ? -1 : 0;
}

static int teardown(void **state)
{
	(void)state;
	shutdown(lfd, SHUT_RDWR); /* accept fails: the thread ends */
	pthread_join(thread, NULL);
	close(lfd);
	return 0;
}

static struct llmo_reg_s3 *client(void)
{
	char ep[64];
	struct llmo_reg_s3_opts o = {.endpoint = ep, .bucket = "bkt", .prefix = "p"};
	struct llmo_error err = {0};
	struct llmo_reg_s3 *s3 = NULL;

	snprintf(ep, sizeof(ep), "http://127.0.0.1:%d", port);
	if (llmo_reg_s3_new(&o, &s3, &err))
		fail_msg("new: %s", err.msg);
	return s3;
}

static void head_has(const char *what)
{
	char head[HEAD_MAX];

	pthread_mutex_lock(&mu);
	memcpy(head, last_head, sizeof(head));
	pthread_mutex_unlock(&mu);
	if (!strcasestr(head, what))
		fail_msg("request head lacks \"%s\":\n%s", what, head);
}

/* ---- the tests ---- */

static void test_keys(void **state)
{
	static const char *const good[] = {"blobs/sha256/ab/abcdef", "repositories/m/x/_layers/a",
					   "a", "a.b/c-d_e", "x/..y/z."};
	static const char *const bad[] = {"", "/a", "a/", "a//b", "a/../b", "..", ".", "a/./b",
					  "a b", "a%2fb", "a?b", "a\\b", "ä"};

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (!llmo_reg_s3_key_valid(good[i]))
			fail_msg("\"%s\" should be a valid key", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (llmo_reg_s3_key_valid(bad[i]))
			fail_msg("\"%s\" should not be a valid key", bad[i]);
}

static void expect_refused(const struct llmo_reg_s3_opts *o, const char *msg)
{
	struct llmo_error err = {0};
	struct llmo_reg_s3 *s3 = NULL;

	assert_int_equal(llmo_reg_s3_new(o, &s3, &err), LLMO_EINVAL);
	assert_null(s3);
	if (!strstr(err.msg, msg))
		fail_msg("error \"%s\" lacks \"%s\"", err.msg, msg);
}

static void test_options(void **state)
{
	(void)state;
	expect_refused(&(struct llmo_reg_s3_opts){.endpoint = "ftp://h", .bucket = "b"},
		       "must start with http:// or https://");
	expect_refused(&(struct llmo_reg_s3_opts){.endpoint = "http://h/b", .bucket = "b"},
		       "must not have a path");
	expect_refused(&(struct llmo_reg_s3_opts){.endpoint = "http://h/b/", .bucket = "b"},
		       "must not have a path");
	expect_refused(&(struct llmo_reg_s3_opts){.endpoint = "http://h", .bucket = "Bad_B"},
		       "bucket names are");
	expect_refused(&(struct llmo_reg_s3_opts){.endpoint = "http://h"}, "no bucket");
	expect_refused(
		&(struct llmo_reg_s3_opts){.endpoint = "http://h", .bucket = "b", .prefix = "a/../b"},
		"S3 prefix");
	expect_refused(
		&(struct llmo_reg_s3_opts){.endpoint = "http://h", .bucket = "b", .region = "US East"},
		"not a region name");
}

static void test_credentials(void **state)
{
	struct llmo_reg_s3_opts o = {.endpoint = "https://h:9000/", .bucket = "b"};
	char path[] = "/tmp/llmo-test-s3-creds-XXXXXX";
	struct llmo_error err = {0};
	struct llmo_reg_s3 *s3 = NULL;
	FILE *f;
	int fd;

	(void)state;
	unsetenv("AWS_SECRET_ACCESS_KEY");
	expect_refused(&o, "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fputs("# comment\n[other]\naws_secret_access_key = nope\n[default]\n"
	      "  aws_access_key_id=AK\naws_secret_access_key =  s3cr=t \n",
	      f);
	fclose(f);
	o.credentials_file = path;
	assert_int_equal(llmo_reg_s3_new(&o, &s3, &err), 0);
	assert_string_equal(llmo_reg_s3_where(s3), "s3://b/");
	llmo_reg_s3_free(s3);
	/* only [other] has a secret: refused */
	f = fopen(path, "w");
	fputs("[default]\naws_access_key_id = AK\n[other]\naws_secret_access_key = x\n", f);
	fclose(f);
	expect_refused(&o, "no aws_access_key_id and aws_secret_access_key");
	unlink(path);
	o.credentials_file = "/nonexistent/llmo-creds";
	assert_int_not_equal(llmo_reg_s3_new(&o, &s3, &err), 0);
	assert_non_null(strstr(err.msg, "S3 credentials: "));
	setenv("AWS_SECRET_ACCESS_KEY", "secret", 1);
}

static void test_requests(void **state)
{
	struct llmo_reg_s3 *s3 = client();
	struct llmo_error err = {0};
	struct llmo_buf b;
	uint64_t size = 0;

	(void)state;
	llmo_buf_init(&b, 1024);
	assert_int_equal(llmo_reg_s3_get(s3, "obj", 1024, &b, &err), 0);
	assert_string_equal(b.data, "hello");
	/* SigV4 through libcurl: the scheme, the scope, and the payload hash header */
	head_has("\r\nAuthorization: AWS4-HMAC-SHA256 Credential=AKTEST/");
	head_has("/us-east-1/s3/aws4_request");
	head_has("\r\nx-amz-content-sha256: "
		 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\r\n");
	head_has("\r\nx-amz-date: ");
	/* signed are the headers sent, no more (a store that checks would refuse others) */
	head_has(", SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=");
	assert_int_equal(llmo_reg_s3_put(s3, "obj", "hello", 5, &err), 0);
	head_has(", SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=");
	/* the body's own SHA-256 */
	head_has("\r\nx-amz-content-sha256: "
		 "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824\r\n");
	assert_int_equal(llmo_reg_s3_head(s3, "obj", &size, &err), 0);
	assert_int_equal(size, 5);
	assert_int_equal(llmo_reg_s3_head(s3, "missing", &size, &err), LLMO_ENOTFOUND);

	llmo_buf_reset(&b);
	assert_int_equal(llmo_reg_s3_get(s3, "denied", 1024, &b, &err), LLMO_EDENIED);
	assert_string_equal(err.msg, "S3 GET s3://bkt/p/denied: HTTP 403 AccessDenied: Access & Denied");
	assert_int_equal(b.len, 0);
	assert_int_equal(llmo_reg_s3_get(s3, "missing", 1024, &b, &err), LLMO_ENOTFOUND);
	assert_non_null(strstr(err.msg, "HTTP 404 NoSuchKey"));
	/* a missing bucket must not read as a missing blob */
	assert_int_equal(llmo_reg_s3_get(s3, "nobucket", 1024, &b, &err), LLMO_EIO);
	assert_non_null(strstr(err.msg, "HTTP 404 NoSuchBucket"));
	/* over the cap: dropped */
	assert_int_equal(llmo_reg_s3_get(s3, "obj", 3, &b, &err), LLMO_ETOOBIG);
	assert_int_equal(b.len, 0);
	/* keys the layout never makes are refused before anything is sent */
	assert_int_equal(llmo_reg_s3_get(s3, "../etc/passwd", 1024, &b, &err), LLMO_EINVAL);
	llmo_buf_release(&b);
	llmo_reg_s3_free(s3);
}

struct seen {
	char keys[4][LLMO_REG_S3_KEY_MAX + 1];
	char etags[4][64];
	uint64_t sizes[4];
	size_t n;
};

static int collect(void *arg, const struct llmo_reg_s3_object *o, struct llmo_error *err)
{
	struct seen *s = arg;

	(void)err;
	if (s->n == 4)
		return LLMO_ERANGE;
	snprintf(s->keys[s->n], sizeof(s->keys[0]), "%s", o->key);
	snprintf(s->etags[s->n], sizeof(s->etags[0]), "%s", o->etag);
	s->sizes[s->n++] = o->size;
	return 0;
}

/* ---- SigV4, computed here from AWS's description, against what libcurl sent ---- */

#define EMPTY "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static void hex(const unsigned char *p, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", p[i]);
}

static void sha256_hex(const char *s, char *out)
{
	unsigned char md[32];
	unsigned int n = 0;

	assert_int_equal(EVP_Digest(s, strlen(s), md, &n, EVP_sha256(), NULL), 1);
	hex(md, n, out);
}

static void hmac(const unsigned char *key, size_t klen, const char *msg, unsigned char *out)
{
	unsigned int n = 0;

	assert_non_null(HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg, strlen(msg),
			     out, &n));
	assert_int_equal(n, 32);
}

/* The value of header name (": " after it) in head, into out. */
static void header_value(const char *head, const char *name, char *out, size_t n)
{
	const char *p = strcasestr(head, name), *e;

	if (!p)
		fail_msg("no %s in\n%s", name, head);
	p += strlen(name);
	e = strstr(p, "\r\n");
	assert_non_null(e);
	assert_true((size_t)(e - p) < n);
	memcpy(out, p, (size_t)(e - p));
	out[e - p] = '\0';
}

/*
 * Checks the Authorization of the last request: method on path with the
 * canonical query (sorted, escaped), headers host, x-amz-content-sha256
 * (payload, the body's SHA-256) and x-amz-date, signed with secret for
 * us-east-1/s3.
 */
static void check_signature(const char *method, const char *path, const char *query,
			    const char *payload, const char *secret)
{
	char head[HEAD_MAX], host[128], date[32], auth[512], canon[2048], sts[1024];
	char ch[65], want[65], key[128];
	unsigned char k1[32], k2[32], k3[32], k4[32], sig[32];

	pthread_mutex_lock(&mu);
	memcpy(head, last_head, sizeof(head));
	pthread_mutex_unlock(&mu);
	header_value(head, "\r\nHost: ", host, sizeof(host));
	header_value(head, "\r\nX-Amz-Date: ", date, sizeof(date));
	header_value(head, "\r\nAuthorization: ", auth, sizeof(auth));
	snprintf(canon, sizeof(canon),
		 "%s\n%s\n%s\nhost:%s\nx-amz-content-sha256:%s\nx-amz-date:%s\n\n"
		 "host;x-amz-content-sha256;x-amz-date\n%s",
		 method, path, query, host, payload, date, payload);
	sha256_hex(canon, ch);
	snprintf(sts, sizeof(sts), "AWS4-HMAC-SHA256\n%s\n%.8s/us-east-1/s3/aws4_request\n%s", date,
		 date, ch);
	snprintf(key, sizeof(key), "AWS4%s", secret);
	snprintf(canon, sizeof(canon), "%.8s", date);
	hmac((unsigned char *)key, strlen(key), canon, k1);
	hmac(k1, 32, "us-east-1", k2);
	hmac(k2, 32, "s3", k3);
	hmac(k3, 32, "aws4_request", k4);
	hmac(k4, 32, sts, sig);
	hex(sig, 32, want);
	if (!strstr(auth, want))
		fail_msg("signature of %s?%s: want %s in\n%s", path, query, want, auth);
}

static void test_signature(void **state)
{
	struct llmo_reg_s3 *s3 = client();
	struct llmo_error err = {0};
	struct llmo_buf b;
	struct seen s = {0};

	(void)state;
	llmo_buf_init(&b, 1024);
	assert_int_equal(llmo_reg_s3_get(s3, "obj", 1024, &b, &err), 0);
	check_signature("GET", "/bkt/p/obj", "", EMPTY, "secret");
	assert_int_equal(llmo_reg_s3_put(s3, "obj", "hello", 5, &err), 0);
	check_signature("PUT", "/bkt/p/obj", "",
			"2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824", "secret");
	/* the last request of a listing is its second page: a query of three parameters */
	assert_int_equal(llmo_reg_s3_list(s3, "repositories/", 100, collect, &s, &err), 0);
	check_signature("GET", "/bkt",
			"continuation-token=tok%2F%2B%3D1&list-type=2&prefix=p%2Frepositories%2F",
			EMPTY, "secret");
	llmo_buf_release(&b);
	llmo_reg_s3_free(s3);
}

static void test_list_pages(void **state)
{
	struct llmo_reg_s3 *s3 = client();
	struct llmo_error err = {0};
	struct seen s = {0};

	(void)state;
	if (llmo_reg_s3_list(s3, "repositories/", 100, collect, &s, &err))
		fail_msg("list: %s\n%s", err.msg, last_head);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.keys[0], "repositories/a/_manifests/tags/v1");
	assert_string_equal(s.etags[0], "0123456789abcdef0123456789abcdef");
	assert_int_equal(s.sizes[0], 72);
	assert_string_equal(s.keys[1], "repositories/a/_layers/sha256/ab");
	assert_int_equal(s.sizes[1], 0);
	/* the second page was asked for with the token (the script answers nothing else) */
	assert_string_equal(s.keys[2], "repositories/b/_manifests/tags/v2");
	memset(&s, 0, sizeof(s));
	assert_int_equal(llmo_reg_s3_list(s3, "repositories/", 2, collect, &s, &err), LLMO_ETOOBIG);
	assert_non_null(strstr(err.msg, "more than 2 keys"));
	llmo_reg_s3_free(s3);
}

static int big_file(uint64_t size)
{
	char path[] = "/tmp/llmo-test-s3-big-XXXXXX";
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	return fd;
}

static void test_multipart(void **state)
{
	char ep[64];
	struct llmo_reg_s3_opts o = {.endpoint = ep, .bucket = "bkt", .prefix = "p",
				     .multipart_threshold = (uint64_t)5 << 20,
				     .part_size = (uint64_t)5 << 20};
	uint64_t size = ((uint64_t)6 << 20) + 1;
	struct llmo_error err = {0};
	struct llmo_reg_s3 *s3 = NULL;
	struct llmo_digest d = {0};
	int fd = big_file(size);

	(void)state;
	snprintf(ep, sizeof(ep), "http://127.0.0.1:%d", port);
	assert_int_equal(llmo_reg_s3_new(&o, &s3, &err), 0);
	assert_int_equal(llmo_reg_s3_object_max(s3), (uint64_t)10000 * (5 << 20));
	if (llmo_reg_s3_put_fd(s3, "big", fd, size, &d, &err))
		fail_msg("multipart: %s\n%s", err.msg, last_head);
	/* the last request completed it, listing the parts with their ETags in order */
	head_has("POST /bkt/p/big?uploadId=u%2F1%2B HTTP/1.1\r\n");
	head_has("\r\nContent-Type: application/octet-stream\r\n");
	pthread_mutex_lock(&mu);
	assert_string_equal(last_body,
			    "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>\"e1\"</ETag>"
			    "</Part><Part><PartNumber>2</PartNumber><ETag>\"e2\"</ETag></Part>"
			    "</CompleteMultipartUpload>");
	pthread_mutex_unlock(&mu);
	/* a part refused: the error names it, and the upload is aborted */
	assert_int_equal(llmo_reg_s3_put_fd(s3, "bad", fd, size, &d, &err), LLMO_EDENIED);
	assert_non_null(strstr(err.msg, "S3 PUT s3://bkt/p/bad: HTTP 403 AccessDenied"));
	head_has("DELETE /bkt/p/bad?uploadId=u2 HTTP/1.1\r\n");
	close(fd);
	llmo_reg_s3_free(s3);
	o.part_size = 1 << 20;
	assert_int_equal(llmo_reg_s3_new(&o, &s3, &err), LLMO_EINVAL);
}

static void test_unreachable(void **state)
{
	struct llmo_reg_s3_opts o = {.endpoint = "http://127.0.0.1:1", .bucket = "bkt"};
	struct llmo_error err = {0};
	struct llmo_reg_s3 *s3 = NULL;

	(void)state;
	assert_int_equal(llmo_reg_s3_new(&o, &s3, &err), 0);
	assert_int_equal(llmo_reg_s3_put(s3, "k", "x", 1, &err), LLMO_EIO);
	if (!strstr(err.msg, "S3 PUT http://127.0.0.1:1/bkt/k: "))
		fail_msg("error \"%s\" does not name the request", err.msg);
	llmo_reg_s3_free(s3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_credentials),
		cmocka_unit_test(test_requests),
		cmocka_unit_test(test_list_pages),
		cmocka_unit_test(test_signature),
		cmocka_unit_test(test_multipart),
		cmocka_unit_test(test_unreachable),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
