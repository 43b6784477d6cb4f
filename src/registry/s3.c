/*
 * An S3-compatible object store client for the registry (s3.h).
 */
#include "base/common.h"

#include <curl/curl.h>
#include <pthread.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/file.h"
#include "base/log.h"
#include "base/str.h"
#include "registry/s3.h"

#include "base/banned.h"

#define LOG "registry"
/* SHA-256 of no bytes: the x-amz-content-sha256 of GET, HEAD, DELETE and list. */
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
/* Longest credential value, region or endpoint kept. */
#define FIELD_MAX 256
/* Longest URL built: endpoint, bucket, prefix, key and a list query. */
#define URL_MAX (3 * FIELD_MAX + 3 * LLMO_REG_S3_KEY_MAX + 256)
/* Longest S3 error code or message quoted in an error. */
#define QUOTE_MAX 200
/* Longest ETag kept (S3's are 34 to 40 characters with their quotes). */
#define ETAG_MAX 128
/* Longest multipart upload id (AWS's are about 150 characters). */
#define UPLOAD_ID_MAX 1024
/* S3's bounds on a multipart upload: parts, and the smallest part but the last. */
#define PARTS_MAX 10000
#define PART_MIN ((uint64_t)5 << 20)
/* A CompleteMultipartUpload body: its parts' numbers and ETags. */
#define COMPLETE_BODY_MAX ((size_t)PARTS_MAX * (ETAG_MAX + 64) + 64)

struct llmo_reg_s3 {
	CURL *h;
	char endpoint[FIELD_MAX];
	char bucket[FIELD_MAX];
	char prefix[LLMO_REG_S3_KEY_MAX];
	char sigv4[FIELD_MAX + 32]; /* "aws:amz:REGION:s3" */
	char access[FIELD_MAX];
	char secret[FIELD_MAX];
	char where[FIELD_MAX + LLMO_REG_S3_KEY_MAX + 8];
	char *ca_file; /* NULL: the system's CA store */
	uint64_t multipart_threshold; /* larger blobs go up in parts */
	uint64_t part_size;
};

/* ---- setup ---- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static bool key_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-' || c == '/';
}

bool llmo_reg_s3_key_valid(const char *key)
{
	const char *part = key;

	if (!*key || strlen(key) > LLMO_REG_S3_KEY_MAX)
		return false;
	for (const char *c = key;; c++) {
		if (*c == '/' || !*c) {
			size_t n = (size_t)(c - part);

			if (n == 0 || (n == 1 && part[0] == '.') ||
			    (n == 2 && part[0] == '.' && part[1] == '.'))
				return false;
			if (!*c)
				return true;
			part = c + 1;
		} else if (!key_char(*c)) {
			return false;
		}
	}
}

/* Copies s into out (n bytes) or fails naming what. */
static int copy_field(char *out, size_t n, const char *s, const char *what,
		      struct llmo_error *err)
{
	if (!s || !*s)
		return llmo_error_set(err, LLMO_EINVAL, "S3: no %s", what);
	if (strlen(s) >= n)
		return llmo_error_set(err, LLMO_EINVAL, "S3: %s is longer than %zu bytes", what,
				      n - 1);
	memcpy(out, s, strlen(s) + 1);
	return 0;
}

/* Trims spaces and tabs around [*s, *e). */
static void trim(const char **s, const char **e)
{
	while (*s < *e && (**s == ' ' || **s == '\t'))
		(*s)++;
	while (*e > *s && ((*e)[-1] == ' ' || (*e)[-1] == '\t' || (*e)[-1] == '\r'))
		(*e)--;
}

/*
 * Reads aws_access_key_id and aws_secret_access_key from an AWS shared
 * credentials file: lines "key = value" of its [default] section (or
 * before any section).
 */
static int read_credentials_file(struct llmo_reg_s3 *s3, const char *path,
				 struct llmo_error *err)
{
	struct llmo_buf b;
	bool in_default = true;
	const char *line;
	int rc;

	llmo_buf_init(&b, LLMO_REG_S3_CREDENTIALS_MAX);
	if ((rc = llmo_file_read(path, LLMO_REG_S3_CREDENTIALS_MAX, &b, err))) {
		llmo_error_prefix(err, "S3 credentials: ");
		goto out;
	}
	for (line = b.data; *line;) {
		const char *end = strchr(line, '\n'), *eq, *ks, *ke, *vs, *ve;

		if (!end)
			end = line + strlen(line);
		ks = line;
		ke = end;
		trim(&ks, &ke);
		if (ks < ke && *ks == '[') {
			in_default = (size_t)(ke - ks) == 9 && memcmp(ks, "[default]", 9) == 0;
		} else if (in_default && ks < ke && *ks != '#' && *ks != ';' &&
			   (eq = memchr(ks, '=', (size_t)(ke - ks)))) {
			char *dst = NULL;

			vs = eq + 1;
			ve = ke;
			ke = eq;
			trim(&ks, &ke);
			trim(&vs, &ve);
			if ((size_t)(ke - ks) == 17 && memcmp(ks, "aws_access_key_id", 17) == 0)
				dst = s3->access;
			else if ((size_t)(ke - ks) == 21 &&
				 memcmp(ks, "aws_secret_access_key", 21) == 0)
				dst = s3->secret;
			if (dst && (size_t)(ve - vs) >= FIELD_MAX) {
				rc = llmo_error_set(err, LLMO_EINVAL,
						    "S3 credentials: %s: a key is longer than %d bytes",
						    path, FIELD_MAX - 1);
				goto out;
			}
			if (dst) {
				memcpy(dst, vs, (size_t)(ve - vs));
				dst[ve - vs] = '\0';
			}
		}
		line = *end ? end + 1 : end;
	}
	if (!*s3->access || !*s3->secret)
		rc = llmo_error_set(err, LLMO_EINVAL,
				    "S3 credentials: %s: no aws_access_key_id and "
				    "aws_secret_access_key in its [default] profile",
				    path);
out:
	llmo_buf_release(&b);
	return rc;
}

static int read_credentials(struct llmo_reg_s3 *s3, const char *file, struct llmo_error *err)
{
	const char *a, *s;

	if (file && *file)
		return read_credentials_file(s3, file, err);
	a = getenv("AWS_ACCESS_KEY_ID");
	s = getenv("AWS_SECRET_ACCESS_KEY");
	if (!a || !*a || !s || !*s)
		return llmo_error_set(err, LLMO_EINVAL,
				      "S3 credentials: set AWS_ACCESS_KEY_ID and "
				      "AWS_SECRET_ACCESS_KEY, or modelRegistry.s3.credentialsFile");
	if (copy_field(s3->access, sizeof(s3->access), a, "AWS_ACCESS_KEY_ID", err) ||
	    copy_field(s3->secret, sizeof(s3->secret), s, "AWS_SECRET_ACCESS_KEY", err))
		return err ? err->code : LLMO_EINVAL;
	return 0;
}

int llmo_reg_s3_new(const struct llmo_reg_s3_opts *o, struct llmo_reg_s3 **out,
		    struct llmo_error *err)
{
	const char *region = o->region && *o->region ? o->region : "us-east-1";
	const char *prefix = o->prefix ? o->prefix : "", *path;
	struct llmo_reg_s3 *s3;
	size_t n;
	int rc;

	*out = NULL;
	if (!o->endpoint || (!llmo_str_has_prefix(o->endpoint, "http://") &&
			     !llmo_str_has_prefix(o->endpoint, "https://")))
		return llmo_error_set(err, LLMO_EINVAL,
				      "S3 endpoint \"%.200s\" must start with http:// or https://",
				      o->endpoint ? o->endpoint : "");
	if ((path = strchr(strstr(o->endpoint, "://") + 3, '/')) && path[strspn(path, "/")])
		return llmo_error_set(err, LLMO_EINVAL,
				      "S3 endpoint \"%.200s\" must not have a path (the bucket "
				      "is modelRegistry.s3.bucket)",
				      o->endpoint);
	while (*prefix == '/')
		prefix++;
	if (*prefix && !llmo_reg_s3_key_valid(prefix))
		return llmo_error_set(err, LLMO_EINVAL,
				      "S3 prefix \"%.200s\": use letters, digits, '.', '_', '-' "
				      "and '/' between non-empty parts",
				      prefix);
	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK)
		return llmo_error_set(err, LLMO_EIO, "libcurl: %s", curl_easy_strerror(curl_init_rc));
	s3 = calloc(1, sizeof(*s3));
	if (!s3)
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	if ((rc = copy_field(s3->endpoint, sizeof(s3->endpoint), o->endpoint, "endpoint", err)) ||
	    (rc = copy_field(s3->bucket, sizeof(s3->bucket), o->bucket, "bucket", err)))
		goto fail;
	n = strlen(s3->endpoint);
	while (n && s3->endpoint[n - 1] == '/')
		s3->endpoint[--n] = '\0';
	if (strspn(s3->bucket, "abcdefghijklmnopqrstuvwxyz0123456789.-") != strlen(s3->bucket)) {
		rc = llmo_error_set(err, LLMO_EINVAL,
				    "S3 bucket \"%.200s\": bucket names are lower-case letters, "
				    "digits, '.' and '-'",
				    s3->bucket);
		goto fail;
	}
	if (strspn(region, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(region) ||
	    strlen(region) > FIELD_MAX - 1) {
		rc = llmo_error_set(err, LLMO_EINVAL, "S3 region \"%.200s\" is not a region name",
				    region);
		goto fail;
	}
	/* a prefix names a folder: "models" and "models/" both mean "models/KEY" */
	n = strlen(prefix);
	if (n + 2 > sizeof(s3->prefix)) {
		rc = llmo_error_set(err, LLMO_EINVAL, "S3 prefix is too long");
		goto fail;
	}
	memcpy(s3->prefix, prefix, n + 1);
	if (n && prefix[n - 1] != '/')
		memcpy(s3->prefix + n, "/", 2);
	s3->multipart_threshold =
		o->multipart_threshold ? o->multipart_threshold : LLMO_REG_S3_PUT_MAX;
	s3->part_size = o->part_size ? o->part_size : LLMO_REG_S3_PART_SIZE;
	if (s3->multipart_threshold > LLMO_REG_S3_PUT_MAX || s3->part_size < PART_MIN ||
	    s3->part_size > LLMO_REG_S3_PUT_MAX) {
		rc = llmo_error_set(err, LLMO_EINVAL,
				    "S3: the multipart threshold must be at most 5 GiB and the part "
				    "size between 5 MiB and 5 GiB");
		goto fail;
	}
	snprintf(s3->sigv4, sizeof(s3->sigv4), "aws:amz:%s:s3", region);
	snprintf(s3->where, sizeof(s3->where), "s3://%s/%s", s3->bucket, s3->prefix);
	if ((rc = read_credentials(s3, o->credentials_file, err)))
		goto fail;
	if (o->ca_file && *o->ca_file && !(s3->ca_file = llmo_strdup(o->ca_file))) {
		rc = llmo_error_set(err, LLMO_ENOMEM, "out of memory");
		goto fail;
	}
	if (!(s3->h = curl_easy_init())) {
		rc = llmo_error_set(err, LLMO_ENOMEM, "libcurl: cannot make a handle");
		goto fail;
	}
	*out = s3;
	return 0;
fail:
	llmo_reg_s3_free(s3);
	return rc;
}

int llmo_reg_s3_clone(const struct llmo_reg_s3 *s3, struct llmo_reg_s3 **out,
		      struct llmo_error *err)
{
	struct llmo_reg_s3 *c = malloc(sizeof(*c));

	*out = NULL;
	if (!c)
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	/* every field but the handle and the CA path is plain data, set once in _new */
	*c = *s3;
	c->h = NULL;
	c->ca_file = NULL;
	if ((s3->ca_file && !(c->ca_file = llmo_strdup(s3->ca_file))) ||
	    !(c->h = curl_easy_init())) {
		llmo_reg_s3_free(c);
		return llmo_error_set(err, LLMO_ENOMEM, "libcurl: cannot make a handle");
	}
	*out = c;
	return 0;
}

void llmo_reg_s3_free(struct llmo_reg_s3 *s3)
{
	if (!s3)
		return;
	if (s3->h)
		curl_easy_cleanup(s3->h);
	/* the secret should not outlive its use in a core dump */
	memset(s3->secret, 0, sizeof(s3->secret));
	free(s3->ca_file);
	free(s3);
}

const char *llmo_reg_s3_where(const struct llmo_reg_s3 *s3)
{
	return s3->where;
}

uint64_t llmo_reg_s3_object_max(const struct llmo_reg_s3 *s3)
{
	return (uint64_t)PARTS_MAX * s3->part_size;
}

/* ---- one request ---- */

struct xfer {
	CURL *h;
	const char *method; /* GET PUT POST HEAD DELETE */
	const char *sha_hex; /* x-amz-content-sha256 */
	/* PUT or POST body: memory (data, len), or for PUT a file (in_fd, in_size) */
	const char *data;
	size_t len;
	int in_fd;
	uint64_t in_base; /* where in the file the body starts (a multipart part) */
	uint64_t in_size;
	uint64_t in_off;
	/* GET sink: a buffer, or a file hashed into hash */
	struct llmo_buf *out;
	size_t out_max;
	int out_fd;
	struct llmo_sha256 *hash;
	uint64_t got;
	/* what went wrong on this side: a code and errno, or nothing */
	int sink_rc;
	int sink_errno;
	long status;
	struct llmo_buf errbody;
	char etag[ETAG_MAX]; /* the answer's ETag header (an UploadPart's), quotes kept */
};

static bool ok_status(long status)
{
	return status >= 200 && status < 300;
}

static size_t on_write(char *p, size_t size, size_t nmemb, void *arg)
{
	struct xfer *x = arg;
	size_t n = size * nmemb;

	if (!x->status)
		curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &x->status);
	if (!ok_status(x->status)) {
		/* an error body only feeds the message: keep its start */
		size_t room = x->errbody.max - x->errbody.len;

		llmo_buf_append(&x->errbody, p, n < room ? n : room);
		return n;
	}
	if (!x->out && x->out_fd < 0)
		return n; /* an answer nobody asked for (PUT's, DELETE's) */
	if (x->got + n > x->out_max) {
		x->sink_rc = LLMO_ETOOBIG;
		return 0;
	}
	if (x->out) {
		int rc = llmo_buf_append(x->out, p, n);

		if (rc) {
			x->sink_rc = rc;
			return 0;
		}
	} else if (x->out_fd >= 0) {
		for (size_t done = 0; done < n;) {
			ssize_t w = write(x->out_fd, p + done, n - done);

			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				x->sink_rc = LLMO_EIO;
				x->sink_errno = w < 0 ? errno : EIO;
				return 0;
			}
			done += (size_t)w;
		}
		if (x->hash)
			llmo_sha256_update(x->hash, p, n);
	}
	x->got += n;
	return n;
}

static size_t on_read(char *p, size_t size, size_t nmemb, void *arg)
{
	struct xfer *x = arg;
	size_t want = size * nmemb;
	uint64_t total = x->in_fd >= 0 ? x->in_size : x->len;

	if ((uint64_t)want > total - x->in_off)
		want = (size_t)(total - x->in_off);
	if (!want)
		return 0;
	if (x->in_fd < 0) {
		memcpy(p, x->data + x->in_off, want);
		x->in_off += want;
		return want;
	}
	for (;;) {
		ssize_t r = pread(x->in_fd, p, want, (off_t)(x->in_base + x->in_off));

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			x->sink_rc = LLMO_EIO;
			x->sink_errno = r < 0 ? errno : EIO; /* 0: the file shrank */
			return CURL_READFUNC_ABORT;
		}
		x->in_off += (uint64_t)r;
		return (size_t)r;
	}
}

/* Keeps the ETag header of the answer. */
static size_t on_header(char *p, size_t size, size_t nmemb, void *arg)
{
	struct xfer *x = arg;
	size_t n = size * nmemb;

	if (n > 5 && strncasecmp(p, "ETag:", 5) == 0) {
		const char *s = p + 5, *e = p + n;

		while (s < e && (*s == ' ' || *s == '\t'))
			s++;
		while (e > s && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' '))
			e--;
		if ((size_t)(e - s) < sizeof(x->etag)) {
			memcpy(x->etag, s, (size_t)(e - s));
			x->etag[e - s] = '\0';
		}
	}
	return n;
}

/* libcurl rewinds the body when it sends it again (a dropped reused connection). */
static int on_seek(void *arg, curl_off_t offset, int origin)
{
	struct xfer *x = arg;
	uint64_t total = x->in_fd >= 0 ? x->in_size : x->len;

	if (origin != SEEK_SET || offset < 0 || (uint64_t)offset > total)
		return CURL_SEEKFUNC_CANTSEEK;
	x->in_off = (uint64_t)offset;
	return CURL_SEEKFUNC_OK;
}

/* The text of the first <tag>...</tag> in [p, end), or NULL; *n its length. */
static const char *xml_find(const char *p, const char *end, const char *tag, size_t *n,
			    const char **after)
{
	char open[64], close[64];
	const char *s, *e;
	size_t ol, cl;

	ol = (size_t)snprintf(open, sizeof(open), "<%s>", tag);
	cl = (size_t)snprintf(close, sizeof(close), "</%s>", tag);
	for (s = p; s + ol <= end && memcmp(s, open, ol) != 0; s++)
		;
	if (s + ol > end)
		return NULL;
	s += ol;
	for (e = s; e + cl <= end && memcmp(e, close, cl) != 0; e++)
		;
	if (e + cl > end)
		return NULL;
	*n = (size_t)(e - s);
	if (after)
		*after = e + cl;
	return s;
}

/* Copies XML text into out (n bytes), undoing the five predefined entities. */
static void xml_text(const char *s, size_t len, char *out, size_t n)
{
	static const struct {
		const char *ent;
		char c;
	} ents[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
	size_t o = 0;

	for (size_t i = 0; i < len && o + 1 < n;) {
		size_t k;

		for (k = 0; k < LLMO_ARRAY_LEN(ents); k++) {
			size_t el = strlen(ents[k].ent);

			if (len - i >= el && memcmp(s + i, ents[k].ent, el) == 0) {
				out[o++] = ents[k].c;
				i += el;
				break;
			}
		}
		if (k == LLMO_ARRAY_LEN(ents))
			out[o++] = s[i++];
	}
	out[o] = '\0';
}

/* LLMO_E* for an S3 answer's status and error code. */
static int status_code(const struct xfer *x, const char *code)
{
	if (x->status == 404 &&
	    (strcmp(code, "NoSuchKey") == 0 || (!*code && strcmp(x->method, "HEAD") == 0)))
		return LLMO_ENOTFOUND;
	if (x->status == 401 || x->status == 403)
		return LLMO_EDENIED;
	return LLMO_EIO;
}

/* An error naming the request, its object and what the store answered. */
static int answer_error(struct llmo_reg_s3 *s3, const struct xfer *x, const char *key,
			struct llmo_error *err)
{
	char code[QUOTE_MAX] = "", msg[QUOTE_MAX] = "";
	const char *end = x->errbody.data + x->errbody.len, *v;
	size_t n;

	if ((v = xml_find(x->errbody.data, end, "Code", &n, NULL)))
		xml_text(v, n, code, sizeof(code));
	if ((v = xml_find(x->errbody.data, end, "Message", &n, NULL)))
		xml_text(v, n, msg, sizeof(msg));
	return llmo_error_set(err, status_code(x, code), "S3 %s s3://%s/%s%s: HTTP %ld%s%s%s%s",
			      x->method, s3->bucket, s3->prefix, key, x->status, *code ? " " : "",
			      code, *msg ? ": " : "", msg);
}

/* Sends one request for key (with query, already in canonical order and escaped). */
static int perform(struct llmo_reg_s3 *s3, struct xfer *x, const char *key, const char *query,
		   struct llmo_error *err)
{
	char url[URL_MAX], sha[128], errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *hdrs = NULL, *t;
	CURLcode cc;
	int n, rc = 0;

	if (*key && !llmo_reg_s3_key_valid(key))
		return llmo_error_set(err, LLMO_EINVAL, "S3 key \"%.200s\" is not valid", key);
	n = snprintf(url, sizeof(url), "%s/%s%s%s%s%s%s", s3->endpoint, s3->bucket, *key ? "/" : "",
		     *key ? s3->prefix : "", key, query ? "?" : "", query ? query : "");
	if (n < 0 || (size_t)n >= sizeof(url))
		return llmo_error_set(err, LLMO_EINVAL, "S3 URL too long");
	snprintf(sha, sizeof(sha), "x-amz-content-sha256: %s", x->sha_hex ? x->sha_hex : EMPTY_SHA256);
	x->h = s3->h;
	llmo_buf_init(&x->errbody, LLMO_REG_S3_ERROR_BODY_MAX);
	/*
	 * Only headers that are sent as given go in this list: libcurl 7.88
	 * signs every header of it, even an empty "Expect:" that only stops
	 * libcurl sending one, which a store that checks signatures would
	 * then refuse (a signed header missing from the request).
	 */
	if (!(t = curl_slist_append(hdrs, sha)) || !(hdrs = t) ||
	    (strcmp(x->method, "POST") == 0 &&
	     (!(t = curl_slist_append(hdrs, "Content-Type: application/octet-stream")) ||
	      !(hdrs = t)))) {
		rc = llmo_error_set(err, LLMO_ENOMEM, "out of memory");
		goto out;
	}
	curl_easy_reset(s3->h);
	curl_easy_setopt(s3->h, CURLOPT_URL, url);
	curl_easy_setopt(s3->h, CURLOPT_PROTOCOLS_STR, "http,https");
	if (s3->ca_file)
		curl_easy_setopt(s3->h, CURLOPT_CAINFO, s3->ca_file);
	curl_easy_setopt(s3->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(s3->h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(s3->h, CURLOPT_CONNECTTIMEOUT, (long)LLMO_REG_S3_CONNECT_TIMEOUT_S);
	curl_easy_setopt(s3->h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(s3->h, CURLOPT_LOW_SPEED_TIME, (long)LLMO_REG_S3_STALL_S);
	curl_easy_setopt(s3->h, CURLOPT_AWS_SIGV4, s3->sigv4);
	curl_easy_setopt(s3->h, CURLOPT_USERNAME, s3->access);
	curl_easy_setopt(s3->h, CURLOPT_PASSWORD, s3->secret);
	curl_easy_setopt(s3->h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(s3->h, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(s3->h, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(s3->h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(s3->h, CURLOPT_HEADERDATA, x);
	if (strcmp(x->method, "POST") == 0) {
		curl_easy_setopt(s3->h, CURLOPT_POSTFIELDS, x->data ? x->data : "");
		curl_easy_setopt(s3->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->len);
	} else if (strcmp(x->method, "PUT") == 0) {
		curl_easy_setopt(s3->h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(s3->h, CURLOPT_INFILESIZE_LARGE,
				 (curl_off_t)(x->in_fd >= 0 ? x->in_size : x->len));
		curl_easy_setopt(s3->h, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(s3->h, CURLOPT_READDATA, x);
		curl_easy_setopt(s3->h, CURLOPT_SEEKFUNCTION, on_seek);
		curl_easy_setopt(s3->h, CURLOPT_SEEKDATA, x);
	} else if (strcmp(x->method, "HEAD") == 0) {
		curl_easy_setopt(s3->h, CURLOPT_NOBODY, 1L);
	} else if (strcmp(x->method, "DELETE") == 0) {
		curl_easy_setopt(s3->h, CURLOPT_CUSTOMREQUEST, "DELETE");
	}
	cc = curl_easy_perform(s3->h);
	if (!x->status)
		curl_easy_getinfo(s3->h, CURLINFO_RESPONSE_CODE, &x->status);
	if (x->sink_rc == LLMO_ETOOBIG)
		rc = llmo_error_set(err, LLMO_ETOOBIG, "S3 %s s3://%s/%s%s: larger than %" PRIu64
				    " bytes", x->method, s3->bucket, s3->prefix, key,
				    (uint64_t)x->out_max);
	else if (x->sink_rc)
		rc = llmo_error_set(err, x->sink_rc, "S3 %s s3://%s/%s%s: local %s: %s", x->method,
				    s3->bucket, s3->prefix, key, x->out_fd >= 0 ? "write" : "read",
				    x->sink_errno ? strerror(x->sink_errno) : "out of memory");
	else if (cc != CURLE_OK)
		rc = llmo_error_set(err, cc == CURLE_OPERATION_TIMEDOUT ? LLMO_ETIMEOUT : LLMO_EIO,
				    "S3 %s %s/%s/%s%s: %s", x->method, s3->endpoint, s3->bucket,
				    s3->prefix, key, *errbuf ? errbuf : curl_easy_strerror(cc));
	else if (!ok_status(x->status))
		rc = answer_error(s3, x, key, err);
out:
	/* the handle keeps pointers into this frame: drop them */
	curl_easy_setopt(s3->h, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(s3->h, CURLOPT_ERRORBUFFER, NULL);
	curl_slist_free_all(hdrs);
	llmo_buf_release(&x->errbody);
	return rc;
}

static void xfer_init(struct xfer *x, const char *method)
{
	*x = (struct xfer){.method = method, .in_fd = -1, .out_fd = -1};
}

/* ---- the calls ---- */

/* Appends s to out percent-encoded as SigV4's canonical query wants (RFC 3986 unreserved kept). */
static int query_escape(struct llmo_buf *out, const char *s)
{
	static const char xd[] = "0123456789ABCDEF";
	int rc = 0;

	for (; *s && !rc; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_' || c == '.' || c == '~')
			rc = llmo_buf_putc(out, (char)c);
		else
			rc = llmo_buf_appendf(out, "%%%c%c", xd[c >> 4], xd[c & 15]);
	}
	return rc;
}

int llmo_reg_s3_put(struct llmo_reg_s3 *s3, const char *key, const void *data, size_t len,
		    struct llmo_error *err)
{
	char hex[LLMO_DIGEST_STR_MAX];
	struct llmo_digest d;
	struct xfer x;
	int rc;

	if ((rc = llmo_digest_of(data, len, &d)))
		return llmo_error_set(err, rc, "out of memory");
	snprintf(hex, sizeof(hex), "%s", d.hex);
	xfer_init(&x, "PUT");
	x.data = data;
	x.len = len;
	x.sha_hex = hex;
	return perform(s3, &x, key, NULL, err);
}

/* The SHA-256 (hex, LLMO_DIGEST_HEX_LEN + 1 bytes) of len bytes of fd at off. */
static int hash_range(int fd, uint64_t off, uint64_t len, char *hex, struct llmo_error *err)
{
	char *buf = malloc(LLMO_DIGEST_READ_CHUNK);
	struct llmo_sha256 h = {0};
	struct llmo_digest d;
	int rc;

	if (!buf || (rc = llmo_sha256_init(&h))) {
		rc = llmo_error_set(err, LLMO_ENOMEM, "out of memory");
		goto out;
	}
	for (uint64_t done = 0; done < len;) {
		size_t want = len - done < LLMO_DIGEST_READ_CHUNK ? (size_t)(len - done)
								   : LLMO_DIGEST_READ_CHUNK;
		ssize_t r = pread(fd, buf, want, (off_t)(off + done));

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			rc = llmo_error_set(err, LLMO_EIO, "S3 multipart upload: read: %s",
					    r < 0 ? strerror(errno) : "the file shrank");
			goto out;
		}
		llmo_sha256_update(&h, buf, (size_t)r);
		done += (uint64_t)r;
	}
	if ((rc = llmo_sha256_peek(&h, &d)))
		rc = llmo_error_set(err, rc, "out of memory");
	else
		memcpy(hex, d.hex, LLMO_DIGEST_HEX_LEN + 1);
out:
	llmo_sha256_release(&h);
	free(buf);
	return rc;
}

/* "uploadId=ID" (escaped) into q, after what q holds. */
static int upload_id_query(struct llmo_buf *q, const char *id, struct llmo_error *err)
{
	if (llmo_buf_puts(q, "uploadId=") || query_escape(q, id))
		return llmo_error_set(err, LLMO_EINVAL, "S3 multipart upload: query too long");
	return 0;
}

/*
 * A multipart upload (CreateMultipartUpload, UploadPart, Complete...) of
 * size bytes of fd in parts of s3->part_size, each signed with its own
 * SHA-256 (so each part is read twice: hashed, then sent). Aborted on any
 * failure, so no parts are left behind to be paid for.
 */
static int put_multipart(struct llmo_reg_s3 *s3, const char *key, int fd, uint64_t size,
			 struct llmo_error *err)
{
	char id[UPLOAD_ID_MAX], hex[LLMO_DIGEST_HEX_LEN + 1];
	uint64_t nparts = (size + s3->part_size - 1) / s3->part_size;
	struct llmo_buf ans, q, done;
	struct llmo_digest dd;
	const char *v;
	struct xfer x;
	size_t n;
	int rc;

	if (nparts > PARTS_MAX)
		return llmo_error_set(err, LLMO_ETOOBIG,
				      "S3 PUT s3://%s/%s%s: %" PRIu64 " bytes is more than %d parts "
				      "of %" PRIu64 " bytes",
				      s3->bucket, s3->prefix, key, size, PARTS_MAX, s3->part_size);
	llmo_buf_init(&ans, LLMO_REG_S3_ERROR_BODY_MAX);
	llmo_buf_init(&q, URL_MAX);
	llmo_buf_init(&done, COMPLETE_BODY_MAX);
	xfer_init(&x, "POST");
	x.out = &ans;
	x.out_max = ans.max;
	if ((rc = perform(s3, &x, key, "uploads=", err)))
		goto out;
	v = xml_find(ans.data, ans.data + ans.len, "UploadId", &n, NULL);
	if (!v || !n || n >= sizeof(id)) {
		rc = llmo_error_set(err, LLMO_EPARSE,
				    "S3 POST s3://%s/%s%s?uploads: no UploadId in the answer",
				    s3->bucket, s3->prefix, key);
		goto out;
	}
	xml_text(v, n, id, sizeof(id));
	if (llmo_buf_puts(&done, "<CompleteMultipartUpload>")) {
		rc = llmo_error_set(err, LLMO_ENOMEM, "out of memory");
		goto abort;
	}
	for (uint64_t i = 0; i < nparts; i++) {
		uint64_t off = i * s3->part_size;

		llmo_buf_reset(&q);
		if ((rc = hash_range(fd, off, size - off < s3->part_size ? size - off : s3->part_size,
				     hex, err)))
			goto abort;
		if (llmo_buf_appendf(&q, "partNumber=%" PRIu64 "&", i + 1) ||
		    (rc = upload_id_query(&q, id, err))) {
			rc = rc ? rc : llmo_error_set(err, LLMO_EINVAL, "query too long");
			goto abort;
		}
		xfer_init(&x, "PUT");
		x.in_fd = fd;
		x.in_base = off;
		x.in_size = size - off < s3->part_size ? size - off : s3->part_size;
		x.sha_hex = hex;
		if ((rc = perform(s3, &x, key, q.data, err)))
			goto abort;
		if (!x.etag[0]) {
			rc = llmo_error_set(err, LLMO_EPARSE,
					    "S3 PUT s3://%s/%s%s part %" PRIu64 ": no ETag in the answer",
					    s3->bucket, s3->prefix, key, i + 1);
			goto abort;
		}
		if (llmo_buf_appendf(&done, "<Part><PartNumber>%" PRIu64 "</PartNumber><ETag>%s</ETag></Part>",
				     i + 1, x.etag)) {
			rc = llmo_error_set(err, LLMO_ENOMEM, "out of memory");
			goto abort;
		}
	}
	llmo_buf_reset(&q);
	llmo_buf_reset(&ans);
	if (llmo_buf_puts(&done, "</CompleteMultipartUpload>") ||
	    (rc = llmo_digest_of(done.data, done.len, &dd))) {
		rc = llmo_error_set(err, LLMO_ENOMEM, "out of memory");
		goto abort;
	}
	if ((rc = upload_id_query(&q, id, err)))
		goto abort;
	xfer_init(&x, "POST");
	x.data = done.data;
	x.len = done.len;
	x.sha_hex = dd.hex;
	x.out = &ans;
	x.out_max = ans.max;
	if ((rc = perform(s3, &x, key, q.data, err)))
		goto abort;
	/* S3 may answer 200 and put its error in the body (the work took long) */
	if (xml_find(ans.data, ans.data + ans.len, "Code", &n, NULL)) {
		rc = answer_error(s3, &(struct xfer){.method = "POST", .status = 200, .errbody = ans},
				  key, err);
		goto abort;
	}
	LLMO_INFO(LOG, "multipart upload to S3", "key=%s%s size=%" PRIu64 " parts=%" PRIu64,
		  s3->prefix, key, size, nparts);
	goto out;
abort:
	{
		/* best effort: the parts stored so far would be kept (and billed) otherwise */
		struct llmo_error ignored = {0};

		llmo_buf_reset(&q);
		if (!upload_id_query(&q, id, NULL)) {
			xfer_init(&x, "DELETE");
			perform(s3, &x, key, q.data, &ignored);
		}
	}
out:
	llmo_buf_release(&ans);
	llmo_buf_release(&q);
	llmo_buf_release(&done);
	return rc;
}

int llmo_reg_s3_put_fd(struct llmo_reg_s3 *s3, const char *key, int fd, uint64_t size,
		       const struct llmo_digest *d, struct llmo_error *err)
{
	struct xfer x;

	if (size > s3->multipart_threshold)
		return put_multipart(s3, key, fd, size, err);
	xfer_init(&x, "PUT");
	x.in_fd = fd;
	x.in_size = size;
	x.sha_hex = d->hex;
	return perform(s3, &x, key, NULL, err);
}

int llmo_reg_s3_get_fd(struct llmo_reg_s3 *s3, const char *key, int fd, uint64_t max,
		       struct llmo_sha256 *h, uint64_t *size, struct llmo_error *err)
{
	struct xfer x;
	int rc;

	xfer_init(&x, "GET");
	x.out_fd = fd;
	x.hash = h;
	x.out_max = max;
	rc = perform(s3, &x, key, NULL, err);
	if (!rc && size)
		*size = x.got;
	return rc;
}

int llmo_reg_s3_get(struct llmo_reg_s3 *s3, const char *key, size_t max, struct llmo_buf *out,
		    struct llmo_error *err)
{
	size_t start = out->len;
	struct xfer x;
	int rc;

	xfer_init(&x, "GET");
	x.out = out;
	x.out_max = max;
	rc = perform(s3, &x, key, NULL, err);
	if (rc)
		llmo_buf_truncate(out, start);
	return rc;
}

int llmo_reg_s3_head(struct llmo_reg_s3 *s3, const char *key, uint64_t *size,
		     struct llmo_error *err)
{
	curl_off_t len = -1;
	struct xfer x;
	int rc;

	xfer_init(&x, "HEAD");
	if ((rc = perform(s3, &x, key, NULL, err)))
		return rc;
	if (curl_easy_getinfo(s3->h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &len) != CURLE_OK ||
	    len < 0)
		return llmo_error_set(err, LLMO_EIO, "S3 HEAD s3://%s/%s%s: no Content-Length",
				      s3->bucket, s3->prefix, key);
	if (size)
		*size = (uint64_t)len;
	return 0;
}

int llmo_reg_s3_delete(struct llmo_reg_s3 *s3, const char *key, struct llmo_error *err)
{
	struct xfer x;

	xfer_init(&x, "DELETE");
	return perform(s3, &x, key, NULL, err);
}

/* Calls fn for each <Contents> of one ListObjectsV2 page; *next: the continuation token. */
static int list_page(struct llmo_reg_s3 *s3, const struct llmo_buf *body, size_t *seen, size_t max,
		     int (*fn)(void *, const struct llmo_reg_s3_object *, struct llmo_error *),
		     void *arg, char *next, size_t next_n, struct llmo_error *err)
{
	const char *p = body->data, *end = body->data + body->len, *c, *v;
	size_t n, plen = strlen(s3->prefix);
	int rc;

	next[0] = '\0';
	while ((c = xml_find(p, end, "Contents", &n, &p))) {
		char key[LLMO_REG_S3_KEY_MAX + 1], etag[FIELD_MAX], size[32] = "", when[64] = "";
		const char *ce = c + n;
		int64_t sz, mtime_ms = -1;

		if (!(v = xml_find(c, ce, "Key", &n, NULL)) || n > LLMO_REG_S3_KEY_MAX)
			return llmo_error_set(err, LLMO_EPARSE, "S3 list %s: an entry without a key",
					      s3->where);
		xml_text(v, n, key, sizeof(key));
		etag[0] = '\0';
		if ((v = xml_find(c, ce, "ETag", &n, NULL)))
			xml_text(v, n, etag, sizeof(etag));
		if ((v = xml_find(c, ce, "Size", &n, NULL)))
			xml_text(v, n, size, sizeof(size));
		/* unknown (-1) when absent or unreadable: callers then treat it as new */
		if ((v = xml_find(c, ce, "LastModified", &n, NULL))) {
			xml_text(v, n, when, sizeof(when));
			if (llmo_time_parse_rfc3339(when, &mtime_ms, NULL))
				mtime_ms = -1;
		}
		if (strncmp(key, s3->prefix, plen) != 0 || llmo_parse_int64(size, &sz, NULL) ||
		    sz < 0)
			return llmo_error_set(err, LLMO_EPARSE,
					      "S3 list %s: unexpected entry \"%.200s\" (size \"%s\")",
					      s3->where, key, size);
		if (++*seen > max)
			return llmo_error_set(err, LLMO_ETOOBIG, "S3 list %s: more than %zu keys",
					      s3->where, max);
		n = strlen(etag);
		if (n >= 2 && etag[0] == '"' && etag[n - 1] == '"') {
			memmove(etag, etag + 1, n - 2);
			etag[n - 2] = '\0';
		}
		rc = fn(arg, &(struct llmo_reg_s3_object){key + plen, etag, (uint64_t)sz, mtime_ms},
			err);
		if (rc)
			return rc;
	}
	v = xml_find(body->data, end, "IsTruncated", &n, NULL);
	if (v && n == 4 && memcmp(v, "true", 4) == 0) {
		if (!(v = xml_find(body->data, end, "NextContinuationToken", &n, NULL)) || !n ||
		    n >= next_n)
			return llmo_error_set(err, LLMO_EPARSE,
					      "S3 list %s: a truncated page without a usable "
					      "NextContinuationToken",
					      s3->where);
		xml_text(v, n, next, next_n);
	}
	return 0;
}

int llmo_reg_s3_list(struct llmo_reg_s3 *s3, const char *prefix, size_t max,
		     int (*fn)(void *arg, const struct llmo_reg_s3_object *o,
			       struct llmo_error *err),
		     void *arg, struct llmo_error *err)
{
	char token[LLMO_REG_S3_KEY_MAX + 1] = "";
	struct llmo_buf q, body;
	size_t seen = 0;
	int rc = 0;

	llmo_buf_init(&q, URL_MAX);
	llmo_buf_init(&body, LLMO_REG_S3_LIST_BODY_MAX);
	do {
		struct xfer x;

		llmo_buf_reset(&q);
		llmo_buf_reset(&body);
		/* libcurl 7.88 signs the query as given: keep SigV4's sorted order */
		if ((*token && (llmo_buf_puts(&q, "continuation-token=") ||
				query_escape(&q, token) || llmo_buf_putc(&q, '&'))) ||
		    llmo_buf_puts(&q, "list-type=2&prefix=") || query_escape(&q, s3->prefix) ||
		    query_escape(&q, prefix)) {
			rc = llmo_error_set(err, LLMO_EINVAL, "S3 list %s: query too long",
					    s3->where);
			break;
		}
		xfer_init(&x, "GET");
		x.out = &body;
		x.out_max = LLMO_REG_S3_LIST_BODY_MAX;
		if ((rc = perform(s3, &x, "", q.data, err)))
			goto out;
		rc = list_page(s3, &body, &seen, max, fn, arg, token, sizeof(token), err);
	} while (!rc && *token);
out:
	llmo_buf_release(&q);
	llmo_buf_release(&body);
	return rc;
}
