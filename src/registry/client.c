/*
 * An OCI Distribution client over libcurl (client.h).
 */
#include "base/common.h"

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <jansson.h>
#include <pthread.h>
#include <strings.h>
#include <unistd.h>

#include "base/base64.h"
#include "base/json.h"
#include "base/str.h"
#include "registry/client.h"
#include "registry/httphdr.h"
#include "registry/route.h"

#include "base/banned.h"

#define URL_MAX 4096
#define HEADER_VALUE_MAX 1024
#define USER_AGENT "llmo/" LLMO_VERSION

struct llmo_reg_client {
	CURL *h;
	char *base;  /* the URL without a trailing slash */
	char *authz; /* "Authorization: Bearer ..." (or Basic) sent, or NULL */
	char *basic; /* "Authorization: Basic ..." of the credentials, or NULL */
	char *cacert;
	bool insecure;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* Frees a header that holds a credential, wiping it first. */
static void free_secret(char *p)
{
	if (p) {
		OPENSSL_cleanse(p, strlen(p));
		free(p);
	}
}

/* "Authorization: Basic base64(user:password)", or NULL out of memory. */
static char *basic_header(const char *user, const char *password)
{
	struct llmo_buf b;
	char *b64 = NULL, *out = NULL;

	llmo_buf_init(&b, 16384);
	if (!llmo_buf_appendf(&b, "%s:%s", user, password) &&
	    !llmo_base64_encode(b.data, b.len, &b64)) {
		llmo_buf_reset(&b);
		if (!llmo_buf_appendf(&b, "Authorization: Basic %s", b64))
			out = llmo_buf_detach(&b, NULL);
		free_secret(b64);
	}
	if (b.data)
		OPENSSL_cleanse(b.data, b.len);
	llmo_buf_release(&b);
	return out;
}

int llmo_reg_client_new(const struct llmo_reg_client_opts *o, struct llmo_reg_client **out,
			struct llmo_error *err)
{
	struct llmo_reg_client *c;
	struct llmo_buf b;
	size_t n;

	*out = NULL;
	if (!o->url || (!llmo_str_has_prefix(o->url, "http://") &&
			!llmo_str_has_prefix(o->url, "https://")))
		return llmo_error_set(err, LLMO_EINVAL,
				      "registry URL \"%.200s\" must start with http:// or https://",
				      o->url ? o->url : "");
	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK)
		return llmo_error_set(err, LLMO_EIO, "libcurl: %s", curl_easy_strerror(curl_init_rc));
	c = calloc(1, sizeof(*c));
	if (!c)
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	c->insecure = o->insecure;
	n = strlen(o->url);
	while (n && o->url[n - 1] == '/')
		n--;
	c->base = llmo_strndup(o->url, n);
	c->cacert = o->cacert ? llmo_strdup(o->cacert) : NULL;
	llmo_buf_init(&b, 8192);
	if (o->token && *o->token && !llmo_buf_appendf(&b, "Authorization: Bearer %s", o->token))
		c->authz = llmo_buf_detach(&b, NULL);
	llmo_buf_release(&b);
	if (o->username && !(c->basic = basic_header(o->username, o->password ? o->password : ""))) {
		llmo_reg_client_free(c);
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	}
	c->h = curl_easy_init();
	if (!c->base || !c->h || (o->cacert && !c->cacert) || (o->token && *o->token && !c->authz)) {
		llmo_reg_client_free(c);
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	}
	*out = c;
	return 0;
}

void llmo_reg_client_free(struct llmo_reg_client *c)
{
	if (!c)
		return;
	if (c->h)
		curl_easy_cleanup(c->h);
	free(c->base);
	if (c->authz != c->basic)
		free_secret(c->authz);
	free_secret(c->basic);
	free(c->cacert);
	free(c);
}

/* ---- one request ---- */

struct source {
	const char *mem; /* or fd */
	int fd;
	uint64_t len, off;
};

struct sink {
	struct llmo_buf *buf; /* or fd */
	int fd;
	struct llmo_sha256 *hash;
	/* set by perform: an answer other than 2xx goes to errbuf instead */
	CURL *h;
	struct llmo_buf *errbuf;
	bool failed; /* a write to fd failed (errno kept in err_no) */
	int err_no;
	/* a resumed download: the Range asked for (NULL: none); a 200 answer
	 * (the whole blob) restarts fd and hash from 0 */
	const char *range;
	bool first_seen;
	void (*progress)(void *ctx, uint64_t now);
	void *progress_ctx;
};

struct answer {
	long status;
	char location[HEADER_VALUE_MAX];
	char content_type[256];
	char oci_subject[128]; /* the OCI-Subject header, "" without */
	char next[URL_MAX];    /* the Link header's rel="next" target, "" without */
	char www_auth[2048];   /* the first WWW-Authenticate header, "" without */
	bool link_bad;         /* a Link header that does not parse */
	struct llmo_buf error; /* the body of a failed request (its OCI error) */
};

static size_t on_read(char *dst, size_t size, size_t nmemb, void *arg)
{
	struct source *s = arg;
	size_t want = size * nmemb;
	uint64_t left = s->len - s->off;

	if ((uint64_t)want > left)
		want = (size_t)left;
	if (want == 0)
		return 0;
	if (s->mem) {
		memcpy(dst, s->mem + s->off, want);
	} else {
		ssize_t n;

		do
			n = pread(s->fd, dst, want, (off_t)s->off);
		while (n < 0 && errno == EINTR);
		if (n <= 0)
			return CURL_READFUNC_ABORT;
		want = (size_t)n;
	}
	s->off += want;
	return want;
}

static size_t on_write(char *p, size_t size, size_t nmemb, void *arg)
{
	struct sink *s = arg;
	size_t n = size * nmemb;
	long status = 0;

	curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &status);
	if (status >= 300) {
		/* keep the start of an error body to quote it; drop the rest */
		llmo_buf_append(s->errbuf, p, n);
		return n;
	}
	if (s->range && !s->first_seen && status == 200 && s->fd >= 0) {
		/* the server ignored the Range: start over */
		if (ftruncate(s->fd, 0) < 0 || lseek(s->fd, 0, SEEK_SET) < 0 ||
		    (s->hash && (llmo_sha256_release(s->hash), llmo_sha256_init(s->hash)))) {
			s->failed = true;
			s->err_no = errno ? errno : EIO;
			return 0;
		}
	}
	s->first_seen = true;
	if (s->hash)
		llmo_sha256_update(s->hash, p, n);
	if (s->buf)
		return llmo_buf_append(s->buf, p, n) ? 0 : n;
	for (size_t done = 0; done < n;) {
		ssize_t w = write(s->fd, p + done, n - done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			s->failed = true;
			s->err_no = w < 0 ? errno : EIO;
			return 0;
		}
		done += (size_t)w;
	}
	return n;
}

static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	struct sink *s = arg;

	(void)dltotal;
	(void)ultotal;
	(void)ulnow;
	s->progress(s->progress_ctx, (uint64_t)dlnow);
	return 0;
}

/* Copies a header's value (trimmed) when the line is "name: value". */
static void header_value(const char *line, size_t n, const char *name, char *out, size_t max)
{
	size_t nl = strlen(name), i;

	if (n <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
		return;
	i = nl + 1;
	while (i < n && (line[i] == ' ' || line[i] == '\t'))
		i++;
	while (n > i && (line[n - 1] == '\r' || line[n - 1] == '\n' || line[n - 1] == ' '))
		n--;
	if (n - i >= max)
		return;
	memcpy(out, line + i, n - i);
	out[n - i] = '\0';
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *arg)
{
	struct answer *a = arg;
	size_t n = size * nmemb;

	header_value(p, n, "Location", a->location, sizeof(a->location));
	header_value(p, n, "Content-Type", a->content_type, sizeof(a->content_type));
	header_value(p, n, "OCI-Subject", a->oci_subject, sizeof(a->oci_subject));
	if (!a->www_auth[0])
		header_value(p, n, "WWW-Authenticate", a->www_auth, sizeof(a->www_auth));
	if (n > 5 && strncasecmp(p, "Link:", 5) == 0 && !a->next[0]) {
		char v[URL_MAX + 256] = "";
		int rc;

		header_value(p, n, "Link", v, sizeof(v));
		rc = llmo_reg_link_next(v, strlen(v), a->next, sizeof(a->next));
		if (rc && rc != LLMO_ENOTFOUND) {
			a->next[0] = '\0';
			a->link_bad = true;
		}
	}
	return n;
}

/* Maps a failed answer to an error quoting the registry's OCI error, when there is one. */
static int status_error(const char *method, const char *url, const struct answer *a,
			struct llmo_error *err)
{
	char msg[512] = "";
	json_t *j = NULL;
	int code = a->status == 404			     ? LLMO_ENOTFOUND
		   : a->status == 401 || a->status == 403 ? LLMO_EDENIED
		   : a->status >= 500			     ? LLMO_EIO
							     : LLMO_EINVAL;

	if (a->error.len && llmo_json_load(a->error.data, a->error.len, NULL, &j, NULL) == 0) {
		json_t *e = json_array_get(json_object_get(j, "errors"), 0);
		const char *c = json_string_value(json_object_get(e, "code"));
		const char *m = json_string_value(json_object_get(e, "message"));

		if (c)
			snprintf(msg, sizeof(msg), ": %s: %s", c, m ? m : "");
		json_decref(j);
	}
	return llmo_error_set(err, code, "%s %s: HTTP %ld%s", method, url, a->status, msg);
}

enum method { M_GET, M_HEAD, M_POST, M_PUT, M_DELETE };

/*
 * Runs one request against url (absolute). body: src (may be NULL: none);
 * answer: into snk on 2xx (may be NULL: dropped). Fills *a.
 */
static int perform_once(struct llmo_reg_client *c, enum method m, const char *url,
			const char *content_type, struct source *src, struct sink *snk,
			struct answer *a, struct llmo_error *err)
{
	static const char *const names[] = {"GET", "HEAD", "POST", "PUT", "DELETE"};
	struct curl_slist *hdrs = NULL, *t;
	char ctype[300];
	struct sink drop = {0};
	struct llmo_buf discard;
	CURLcode rc;
	int ret = 0;

	llmo_buf_init(&discard, LLMO_REG_CLIENT_BODY_MAX);
	if (!snk)
		snk = &drop;
	if (!snk->buf && snk != &drop && snk->fd < 0)
		snk->buf = &discard;
	if (snk == &drop)
		drop.buf = &discard;
	memset(a, 0, sizeof(*a));
	llmo_buf_init(&a->error, 64 * 1024);
	curl_easy_reset(c->h);
	curl_easy_setopt(c->h, CURLOPT_URL, url);
	curl_easy_setopt(c->h, CURLOPT_USERAGENT, USER_AGENT);
	curl_easy_setopt(c->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->h, CURLOPT_CONNECTTIMEOUT, 30L);
	curl_easy_setopt(c->h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c->h, CURLOPT_LOW_SPEED_TIME, LLMO_REG_CLIENT_STALL_S);
	curl_easy_setopt(c->h, CURLOPT_PROTOCOLS_STR, "http,https");
	if (c->cacert)
		curl_easy_setopt(c->h, CURLOPT_CAINFO, c->cacert);
	if (c->insecure) {
		curl_easy_setopt(c->h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c->h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	t = curl_slist_append(hdrs, "Expect:");
	hdrs = t ? t : hdrs;
	if (c->authz && (t = curl_slist_append(hdrs, c->authz)))
		hdrs = t;
	if (content_type) {
		snprintf(ctype, sizeof(ctype), "Content-Type: %s", content_type);
		if ((t = curl_slist_append(hdrs, ctype)))
			hdrs = t;
	}
	if (m == M_GET && (t = curl_slist_append(
				   hdrs, "Accept: application/vnd.oci.image.manifest.v1+json, "
					 "application/vnd.oci.image.index.v1+json, "
					 "application/vnd.docker.distribution.manifest.v2+json, "
					 "application/vnd.docker.distribution.manifest.list.v2+json, "
					 "application/json;q=0.5, */*;q=0.1")))
		hdrs = t;
	curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c->h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c->h, CURLOPT_HEADERDATA, a);
	if (m == M_GET || m == M_HEAD) {
		/*
		 * Registries send blob reads to their storage (a 307 to a
		 * signed S3 or CDN URL). libcurl does not send our
		 * Authorization to another host, scheme or port.
		 */
		curl_easy_setopt(c->h, CURLOPT_FOLLOWLOCATION, 1L);
		curl_easy_setopt(c->h, CURLOPT_MAXREDIRS, 5L);
		curl_easy_setopt(c->h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	}
	switch (m) {
	case M_HEAD:
		curl_easy_setopt(c->h, CURLOPT_NOBODY, 1L);
		break;
	case M_POST:
		curl_easy_setopt(c->h, CURLOPT_POST, 1L);
		curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(c->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
		break;
	case M_PUT:
		curl_easy_setopt(c->h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(c->h, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(c->h, CURLOPT_READDATA, src);
		curl_easy_setopt(c->h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)(src ? src->len : 0));
		break;
	case M_DELETE:
		curl_easy_setopt(c->h, CURLOPT_CUSTOMREQUEST, "DELETE");
		break;
	case M_GET:
		break;
	}
	/* the answer goes to snk on success; an error body to a->error, to be quoted */
	snk->h = c->h;
	snk->errbuf = &a->error;
	curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(c->h, CURLOPT_WRITEDATA, snk);
	if (snk->range)
		curl_easy_setopt(c->h, CURLOPT_RANGE, snk->range);
	if (snk->progress) {
		curl_easy_setopt(c->h, CURLOPT_XFERINFOFUNCTION, on_progress);
		curl_easy_setopt(c->h, CURLOPT_XFERINFODATA, snk);
		curl_easy_setopt(c->h, CURLOPT_NOPROGRESS, 0L);
	}
	rc = curl_easy_perform(c->h);
	curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &a->status);
	if (a->status >= 300) {
		ret = status_error(names[m], url, a, err);
	} else if (snk->failed) {
		ret = llmo_error_set(err, LLMO_EIO, "%s %s: writing the download: %s", names[m], url,
				     strerror(snk->err_no));
	} else if (rc == CURLE_WRITE_ERROR && snk->buf) {
		ret = llmo_error_set(err, LLMO_ETOOBIG, "%s %s: answer larger than %zu bytes",
				     names[m], url, snk->buf->max);
	} else if (rc != CURLE_OK) {
		ret = llmo_error_set(err, LLMO_EIO, "%s %s: %s", names[m], url,
				     curl_easy_strerror(rc));
	}
	curl_slist_free_all(hdrs);
	llmo_buf_release(&discard);
	return ret;
}

static void answer_release(struct answer *a)
{
	llmo_buf_release(&a->error);
}

/* Appends "&" or "?", name=, and value escaped, to b (value "" adds nothing). */
static int add_query(CURL *h, struct llmo_buf *b, const char *name, const char *value)
{
	char *e;
	int rc;

	if (!*value)
		return 0;
	if (!(e = curl_easy_escape(h, value, 0)))
		return LLMO_ENOMEM;
	rc = llmo_buf_appendf(b, "%c%s=%s", memchr(b->data, '?', b->len) ? '&' : '?', name, e);
	curl_free(e);
	return rc;
}

/*
 * Docker's token protocol: GET realm?service=S&scope=SC, with the
 * credentials as Basic when there are some (anonymous otherwise); the
 * answer's "token" (or "access_token") is sent as Bearer from then on.
 */
static int fetch_token(struct llmo_reg_client *c, const struct llmo_reg_challenge *ch,
		       struct llmo_error *err)
{
	struct llmo_buf url, body;
	struct sink snk = {.fd = -1};
	struct answer a;
	char *sent = c->authz, *hdr = NULL;
	const char *tok;
	json_t *j = NULL;
	int rc;

	if (!llmo_str_has_prefix(ch->realm, "http://") && !llmo_str_has_prefix(ch->realm, "https://"))
		return llmo_error_set(err, LLMO_EDENIED,
				      "the registry asks for a token from realm \"%.200s\", not an http(s) URL",
				      ch->realm);
	if (c->basic && llmo_str_has_prefix(c->base, "https://") &&
	    !llmo_str_has_prefix(ch->realm, "https://"))
		return llmo_error_set(err, LLMO_EDENIED,
				      "the registry asks for a token from %.200s, plain http: the user "
				      "name and password are not sent there in the clear",
				      ch->realm);
	llmo_buf_init(&url, URL_MAX);
	llmo_buf_init(&body, 64 * 1024);
	snk.buf = &body;
	if (llmo_buf_puts(&url, ch->realm) || add_query(c->h, &url, "service", ch->service) ||
	    add_query(c->h, &url, "scope", ch->scope)) {
		rc = llmo_error_set(err, LLMO_EINVAL, "token URL too long");
		goto out;
	}
	c->authz = c->basic;
	rc = perform_once(c, M_GET, url.data, NULL, NULL, &snk, &a, err);
	c->authz = sent;
	answer_release(&a);
	if (rc) {
		llmo_error_prefix(err, "getting a token for %s: ", ch->scope[0] ? ch->scope : "the registry");
		goto out;
	}
	if (llmo_json_load(body.data, body.len, url.data, &j, err)) {
		rc = err ? err->code : LLMO_EPARSE;
		goto out;
	}
	tok = json_string_value(json_object_get(j, "token"));
	if (!tok || !*tok)
		tok = json_string_value(json_object_get(j, "access_token"));
	if (!tok || !*tok) {
		rc = llmo_error_set(err, LLMO_EPARSE, "GET %s: no \"token\" in the answer", url.data);
		goto out;
	}
	llmo_buf_reset(&url);
	if (llmo_buf_appendf(&url, "Authorization: Bearer %s", tok) ||
	    !(hdr = llmo_buf_detach(&url, NULL))) {
		rc = llmo_error_set(err, LLMO_ENOMEM, "out of memory");
		goto out;
	}
	if (c->authz != c->basic)
		free_secret(c->authz);
	c->authz = hdr;
out:
	if (body.data)
		OPENSSL_cleanse(body.data, body.len);
	json_decref(j);
	llmo_buf_release(&url);
	llmo_buf_release(&body);
	return rc;
}

/*
 * Answers a 401's challenge: Basic with the credentials (once), Bearer by
 * a token from its realm. 0 to send the request again; else LLMO_EDENIED
 * with err (which holds the 401's error) saying why nothing more is tried,
 * or the token request's own error.
 */
static int authenticate(struct llmo_reg_client *c, const struct answer *a, int round,
			struct llmo_error *err)
{
	struct llmo_reg_challenge ch;
	struct llmo_error t = {0};

	if (llmo_reg_challenge_parse(a->www_auth, strlen(a->www_auth), &ch) || round >= 3)
		return LLMO_EDENIED;
	if (ch.scheme == LLMO_REG_AUTH_BASIC) {
		if (!c->basic) {
			llmo_error_prefix(err, "the registry asks for a user name and password (--creds): ");
			return LLMO_EDENIED;
		}
		if (c->authz == c->basic) {
			llmo_error_prefix(err, "the registry refused the user name and password: ");
			return LLMO_EDENIED;
		}
		free_secret(c->authz);
		c->authz = c->basic;
		return 0;
	}
	if (ch.scheme != LLMO_REG_AUTH_BEARER || !ch.realm[0])
		return LLMO_EDENIED;
	/* a token given that the registry refuses, and no credentials to get another */
	if (c->authz && !c->basic && strcmp(ch.error, "invalid_token") == 0)
		return LLMO_EDENIED;
	if (fetch_token(c, &ch, &t)) {
		if (t.code == LLMO_EDENIED && !c->basic && !c->authz)
			llmo_error_prefix(&t, "the registry asks for credentials (--creds or --token): ");
		if (err)
			*err = t;
		return LLMO_EDENIED;
	}
	return 0;
}

/*
 * perform_once, and again after answering a 401's challenge (at most three
 * times: a token for the scope /v2/ names, then for a repository's, then
 * for more actions), the body sent again from its start.
 */
static int perform(struct llmo_reg_client *c, enum method m, const char *url,
		   const char *content_type, struct source *src, struct sink *snk,
		   struct answer *a, struct llmo_error *err)
{
	for (int round = 0;; round++) {
		int rc = perform_once(c, m, url, content_type, src, snk, a, err);

		if (rc == 0 || a->status != 401 || !a->www_auth[0])
			return rc;
		if (authenticate(c, a, round, err))
			return err && err->code ? err->code : rc;
		llmo_error_clear(err);
		answer_release(a);
		if (src)
			src->off = 0;
	}
}

static int url_of(struct llmo_reg_client *c, char *out, struct llmo_error *err, const char *fmt,
		  ...) LLMO_PRINTF(4, 5);
static int url_of(struct llmo_reg_client *c, char *out, struct llmo_error *err, const char *fmt,
		  ...)
{
	va_list ap;
	int n = snprintf(out, URL_MAX, "%s", c->base), k;

	va_start(ap, fmt);
	k = n >= 0 && n < URL_MAX ? vsnprintf(out + n, (size_t)(URL_MAX - n), fmt, ap) : -1;
	va_end(ap);
	if (k < 0 || k >= URL_MAX - n)
		return llmo_error_set(err, LLMO_EINVAL, "URL too long");
	return 0;
}

/* ---- blobs ---- */

int llmo_reg_client_blob_stat(struct llmo_reg_client *c, const char *repo,
			      const struct llmo_digest *d, uint64_t *size, struct llmo_error *err)
{
	char url[URL_MAX];
	struct answer a;
	curl_off_t len = -1;
	int rc;

	if ((rc = url_of(c, url, err, "/v2/%s/blobs/sha256:%s", repo, d->hex)))
		return rc;
	rc = perform(c, M_HEAD, url, NULL, NULL, NULL, &a, err);
	if (!rc && size) {
		curl_easy_getinfo(c->h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &len);
		*size = len < 0 ? 0 : (uint64_t)len;
	}
	answer_release(&a);
	return rc;
}

/* POST for a session, then PUT the bytes with ?digest= (the portable monolithic upload). */
static int push(struct llmo_reg_client *c, const char *repo, const struct llmo_digest *d,
		struct source *src, struct llmo_error *err)
{
	char url[URL_MAX], put[URL_MAX];
	struct answer a;
	int rc, n;

	rc = llmo_reg_client_blob_stat(c, repo, d, NULL, err);
	if (rc != LLMO_ENOTFOUND)
		return rc; /* there already (0), or a real error */
	llmo_error_clear(err);
	if ((rc = url_of(c, url, err, "/v2/%s/blobs/uploads/", repo)))
		return rc;
	rc = perform(c, M_POST, url, NULL, NULL, NULL, &a, err);
	if (!rc && a.status != 202)
		rc = llmo_error_set(err, LLMO_EIO, "POST %s: HTTP %ld, expected 202", url, a.status);
	if (!rc && !a.location[0])
		rc = llmo_error_set(err, LLMO_EIO, "POST %s: no Location", url);
	if (rc) {
		answer_release(&a);
		return rc;
	}
	if (llmo_str_has_prefix(a.location, "http://") || llmo_str_has_prefix(a.location, "https://"))
		n = snprintf(put, sizeof(put), "%s%cdigest=sha256:%s", a.location,
			     strchr(a.location, '?') ? '&' : '?', d->hex);
	else
		n = snprintf(put, sizeof(put), "%s%s%cdigest=sha256:%s", c->base, a.location,
			     strchr(a.location, '?') ? '&' : '?', d->hex);
	answer_release(&a);
	if (n < 0 || (size_t)n >= sizeof(put))
		return llmo_error_set(err, LLMO_EINVAL, "upload URL too long");
	rc = perform(c, M_PUT, put, "application/octet-stream", src, NULL, &a, err);
	answer_release(&a);
	return rc;
}

int llmo_reg_client_blob_push_fd(struct llmo_reg_client *c, const char *repo,
				 const struct llmo_digest *d, int fd, uint64_t size,
				 struct llmo_error *err)
{
	struct source src = {.fd = fd, .len = size};

	return push(c, repo, d, &src, err);
}

int llmo_reg_client_blob_push_mem(struct llmo_reg_client *c, const char *repo,
				  const struct llmo_digest *d, const void *data, size_t len,
				  struct llmo_error *err)
{
	struct source src = {.mem = data, .fd = -1, .len = len};

	return push(c, repo, d, &src, err);
}

static int check_hash(struct llmo_sha256 *h, const struct llmo_digest *want, const char *what,
		      struct llmo_error *err)
{
	char a[LLMO_DIGEST_STR_MAX], b[LLMO_DIGEST_STR_MAX];
	struct llmo_digest got;

	if (llmo_sha256_peek(h, &got))
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	if (!llmo_digest_equal(&got, want))
		return llmo_error_set(err, LLMO_EINVALID_OBJECT,
				      "%s: downloaded bytes hash to %s, not %s", what,
				      llmo_digest_str(&got, a), llmo_digest_str(want, b));
	return 0;
}

/* GETs blob d of repo into snk (its hash included), then checks the hash is d. */
static int blob_fetch(struct llmo_reg_client *c, const char *repo, const struct llmo_digest *d,
		      struct sink *snk, struct llmo_error *err)
{
	char url[URL_MAX];
	struct answer a;
	int rc;

	if ((rc = url_of(c, url, err, "/v2/%s/blobs/sha256:%s", repo, d->hex)))
		return rc;
	rc = perform(c, M_GET, url, NULL, NULL, snk, &a, err);
	if (!rc)
		rc = check_hash(snk->hash, d, url, err);
	answer_release(&a);
	return rc;
}

int llmo_reg_client_blob_pull_fd(struct llmo_reg_client *c, const char *repo,
				 const struct llmo_digest *d, int fd, struct llmo_error *err)
{
	struct llmo_sha256 h = {0};
	struct sink snk = {.fd = fd, .hash = &h};
	int rc;

	if (llmo_sha256_init(&h))
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	rc = blob_fetch(c, repo, d, &snk, err);
	llmo_sha256_release(&h);
	return rc;
}

int llmo_reg_client_blob_resume(struct llmo_reg_client *c, const char *repo,
				const struct llmo_digest *d, int fd, struct llmo_sha256 *h,
				uint64_t offset, void (*progress)(void *ctx, uint64_t now),
				void *ctx, struct llmo_error *err)
{
	char range[48];
	struct sink snk = {.fd = fd, .hash = h, .progress = progress, .progress_ctx = ctx};

	if (offset > 0) {
		snprintf(range, sizeof(range), "%" PRIu64 "-", offset);
		snk.range = range;
	}
	return blob_fetch(c, repo, d, &snk, err);
}

int llmo_reg_client_blob_get(struct llmo_reg_client *c, const char *repo,
			     const struct llmo_digest *d, size_t max, struct llmo_buf *out,
			     struct llmo_error *err)
{
	struct llmo_sha256 h = {0};
	struct llmo_buf b;
	struct sink snk = {.buf = &b, .fd = -1, .hash = &h};
	int rc;

	if (llmo_sha256_init(&h))
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	llmo_buf_init(&b, max);
	rc = blob_fetch(c, repo, d, &snk, err);
	if (!rc && llmo_buf_append(out, b.data, b.len))
		rc = llmo_error_set(err, LLMO_ETOOBIG, "blob too large");
	llmo_buf_release(&b);
	llmo_sha256_release(&h);
	return rc;
}

/* ---- manifests and lists ---- */

int llmo_reg_client_manifest_put(struct llmo_reg_client *c, const char *repo, const char *ref,
				 const char *media_type, const void *body, size_t len,
				 struct llmo_digest *d, bool *subject, struct llmo_error *err)
{
	struct source src = {.mem = body, .fd = -1, .len = len};
	char url[URL_MAX];
	struct answer a;
	int rc;

	if (d && llmo_digest_of(body, len, d))
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	if ((rc = url_of(c, url, err, "/v2/%s/manifests/%s", repo, ref)))
		return rc;
	rc = perform(c, M_PUT, url, media_type, &src, NULL, &a, err);
	if (!rc && subject)
		*subject = a.oci_subject[0] != '\0';
	answer_release(&a);
	return rc;
}

int llmo_reg_client_manifest_get(struct llmo_reg_client *c, const char *repo, const char *ref,
				 struct llmo_buf *out, struct llmo_digest *d, char *media_type,
				 struct llmo_error *err)
{
	struct llmo_buf b;
	struct sink snk = {.buf = &b, .fd = -1};
	struct llmo_digest got, want;
	char url[URL_MAX];
	struct answer a;
	int rc;

	if ((rc = url_of(c, url, err, "/v2/%s/manifests/%s", repo, ref)))
		return rc;
	llmo_buf_init(&b, LLMO_REG_CLIENT_BODY_MAX);
	rc = perform(c, M_GET, url, NULL, NULL, &snk, &a, err);
	if (!rc && llmo_digest_of(b.data, b.len, &got))
		rc = llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	if (!rc && strchr(ref, ':') && llmo_digest_parse(ref, strlen(ref), &want, NULL) == 0 &&
	    !llmo_digest_equal(&got, &want))
		rc = llmo_error_set(err, LLMO_EINVALID_OBJECT,
				    "%s: the manifest does not match its digest", url);
	if (!rc && llmo_buf_append(out, b.data, b.len))
		rc = llmo_error_set(err, LLMO_ETOOBIG, "manifest too large");
	if (!rc && d)
		*d = got;
	if (!rc && media_type)
		snprintf(media_type, 256, "%s", a.content_type);
	answer_release(&a);
	llmo_buf_release(&b);
	return rc;
}

int llmo_reg_client_get(struct llmo_reg_client *c, const char *path, struct llmo_buf *out,
			struct llmo_error *err)
{
	struct sink snk = {.buf = out, .fd = -1};
	char url[URL_MAX];
	struct answer a;
	int rc;

	if ((rc = url_of(c, url, err, "%s", path)))
		return rc;
	rc = perform(c, M_GET, url, NULL, NULL, &snk, &a, err);
	answer_release(&a);
	return rc;
}

/* The URL of a next page: a path on the registry, or a URL under its base. */
static int next_url(struct llmo_reg_client *c, const char *from, const char *next, char *url,
		    struct llmo_error *err)
{
	size_t bl = strlen(c->base);

	if (next[0] == '/')
		return url_of(c, url, err, "%s", next);
	if (strncmp(next, c->base, bl) == 0 && next[bl] == '/' && strlen(next) < URL_MAX) {
		memcpy(url, next, strlen(next) + 1);
		return 0;
	}
	return llmo_error_set(err, LLMO_EINVAL,
			      "GET %s: the next page (Link rel=\"next\") \"%.200s\" is not on the registry %s",
			      from, next, c->base);
}

int llmo_reg_client_get_list(struct llmo_reg_client *c, const char *path, const char *key,
			     json_t **out, struct llmo_error *err)
{
	char url[URL_MAX], prev[URL_MAX];
	struct llmo_buf body;
	json_t *all = NULL, *page = NULL;
	size_t pages = 0;
	int rc;

	*out = NULL;
	llmo_buf_init(&body, LLMO_REG_CLIENT_BODY_MAX);
	if ((rc = url_of(c, url, err, "%s", path)))
		return rc;
	for (;;) {
		struct sink snk = {.buf = &body, .fd = -1};
		struct answer a;
		json_t *items;

		llmo_buf_reset(&body);
		rc = perform(c, M_GET, url, NULL, NULL, &snk, &a, err);
		if (!rc && a.link_bad)
			rc = llmo_error_set(err, LLMO_EPARSE, "GET %s: malformed Link header", url);
		if (!rc)
			rc = llmo_json_load(body.data, body.len, url, &page, err);
		if (!rc) {
			/* a page without the list (or "tags": null) has no entries */
			items = json_object_get(page, key);
			if (!json_is_object(page) || (items && !json_is_null(items) && !json_is_array(items)))
				rc = llmo_error_set(err, LLMO_EPARSE,
						    "GET %s: want an object with a \"%s\" array", url, key);
			else if (!all) {
				all = page;
				page = NULL;
				if (!json_is_array(items) && json_object_set_new(all, key, json_array()))
					rc = llmo_error_set(err, LLMO_ENOMEM, "out of memory");
			} else if (items && json_array_extend(json_object_get(all, key), items)) {
				rc = llmo_error_set(err, LLMO_ENOMEM, "out of memory");
			}
		}
		json_decref(page);
		page = NULL;
		if (rc || !a.next[0]) {
			answer_release(&a);
			break;
		}
		if (++pages >= LLMO_REG_CLIENT_PAGES_MAX) {
			rc = llmo_error_set(err, LLMO_ERANGE, "GET %s: more than %d pages", path,
					    LLMO_REG_CLIENT_PAGES_MAX);
			answer_release(&a);
			break;
		}
		memcpy(prev, url, sizeof(url));
		rc = next_url(c, prev, a.next, url, err);
		answer_release(&a);
		if (!rc && strcmp(url, prev) == 0)
			rc = llmo_error_set(err, LLMO_EPARSE, "GET %s: the next page is this page", url);
		if (rc)
			break;
	}
	llmo_buf_release(&body);
	if (rc)
		json_decref(all);
	else
		*out = all;
	return rc;
}

int llmo_reg_client_delete(struct llmo_reg_client *c, const char *path, struct llmo_error *err)
{
	char url[URL_MAX];
	struct answer a;
	int rc;

	if ((rc = url_of(c, url, err, "%s", path)))
		return rc;
	rc = perform(c, M_DELETE, url, NULL, NULL, NULL, &a, err);
	answer_release(&a);
	return rc;
}
