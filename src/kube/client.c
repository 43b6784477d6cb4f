/*
 * The Kubernetes REST client: libcurl easy handles from a pool, one
 * blocking request at a time per handle, JSON bodies, Status errors mapped
 * to LLMO_E* codes, retries with backoff.
 */
#include "base/common.h"

#include <pthread.h>
#include <time.h>

#include "base/clock.h"
#include "base/json.h"
#include "base/log.h"
#include "base/str.h"
#include "base/vec.h"
#include "kube/client_int.h"

#define LOG "kube"
/* Curl handles kept for reuse (each keeps its connections open). */
#define CLIENT_POOL_MAX 16
/* A token file is read again after this long (bound tokens rotate hourly). */
#define CLIENT_TOKEN_REFRESH_MS 60000
/* Longest URL built (server + path + query). */
#define CLIENT_URL_MAX 8192
/* How much of a non-Status error body goes into a message. */
#define CLIENT_ERROR_EXCERPT 200
/* Slice of an interruptible sleep. */
#define CLIENT_SLEEP_SLICE_MS 50

const struct llmo_kube_resource llmo_kube_namespaces = {"", "v1", "namespaces", false};
const struct llmo_kube_resource llmo_kube_nodes = {"", "v1", "nodes", false};
const struct llmo_kube_resource llmo_kube_pods = {"", "v1", "pods", true};
const struct llmo_kube_resource llmo_kube_services = {"", "v1", "services", true};
const struct llmo_kube_resource llmo_kube_endpoints = {"", "v1", "endpoints", true};
const struct llmo_kube_resource llmo_kube_configmaps = {"", "v1", "configmaps", true};
const struct llmo_kube_resource llmo_kube_secrets = {"", "v1", "secrets", true};
const struct llmo_kube_resource llmo_kube_events = {"", "v1", "events", true};
const struct llmo_kube_resource llmo_kube_leases = {"coordination.k8s.io", "v1", "leases", true};
const struct llmo_kube_resource llmo_kube_networkpolicies = {"networking.k8s.io", "v1",
							      "networkpolicies", true};
const struct llmo_kube_resource llmo_kube_llmworkloads = {"llm.orchestrator.io", "v1",
							  "llmworkloads", true};
const struct llmo_kube_resource llmo_kube_llmmodels = {"llm.orchestrator.io", "v1", "llmmodels",
						       true};

struct llmo_kube_client {
	struct llmo_kube_config cfg; /* deep copy; cfg.token guarded by lock when token_file */
	long connect_ms;
	long total_ms;
	int attempts;
	long backoff_ms;
	long backoff_max_ms;
	pthread_mutex_t lock; /* pool, cfg.token, token_read_ms */
	LLMO_VEC(CURL *) pool;
	int64_t token_read_ms;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ---- small helpers ---- */

bool llmo__kube_sleep(long ms, const volatile int *stop)
{
	int64_t end = llmo_clock_mono_ms() + ms;

	for (;;) {
		int64_t left = end - llmo_clock_mono_ms();
		struct timespec ts;
		long slice;

		if (llmo__kube_stopped(stop))
			return true;
		if (left <= 0)
			return false;
		slice = (long)LLMO_MIN(left, (int64_t)CLIENT_SLEEP_SLICE_MS);
		ts.tv_sec = slice / 1000;
		ts.tv_nsec = (slice % 1000) * 1000000L;
		nanosleep(&ts, NULL);
	}
}

long llmo__kube_rand_range(long lo, long hi)
{
	static _Thread_local uint64_t state;
	uint64_t x;

	if (hi <= lo)
		return lo;
	if (!state)
		state = (uint64_t)llmo_clock_mono_ns() ^ ((uint64_t)(uintptr_t)&state << 16) ^
			0x9e3779b97f4a7c15ULL;
	/* xorshift64* */
	x = state;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	state = x;
	x *= 0x2545f4914f6cdd1dULL;
	return lo + (long)(x % (uint64_t)(hi - lo + 1));
}

static char *dup_or_null(const char *s, bool *oom)
{
	char *d;

	if (!s)
		return NULL;
	d = llmo_strdup(s);
	if (!d)
		*oom = true;
	return d;
}

/* ---- life cycle ---- */

int llmo_kube_client_new(const struct llmo_kube_config *cfg, struct llmo_kube_client **out,
			 struct llmo_error *err)
{
	struct llmo_kube_client *c;
	bool oom = false;

	*out = NULL;
	if (!cfg->server || !*cfg->server)
		return llmo_error_set(err, LLMO_EINVAL, "kube client: the config has no server");
	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK)
		return llmo_error_set(err, LLMO_EIO, "kube client: libcurl: %s",
				      curl_easy_strerror(curl_init_rc));
	c = calloc(1, sizeof(*c));
	if (!c)
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	c->cfg.server = dup_or_null(cfg->server, &oom);
	c->cfg.token = dup_or_null(cfg->token, &oom);
	c->cfg.token_file = dup_or_null(cfg->token_file, &oom);
	c->cfg.ca_pem = dup_or_null(cfg->ca_pem, &oom);
	c->cfg.cert_pem = dup_or_null(cfg->cert_pem, &oom);
	c->cfg.key_pem = dup_or_null(cfg->key_pem, &oom);
	c->cfg.ns = dup_or_null(cfg->ns ? cfg->ns : "default", &oom);
	c->cfg.context = dup_or_null(cfg->context, &oom);
	c->cfg.insecure_skip_verify = cfg->insecure_skip_verify;
	if (oom) {
		llmo_kube_config_release(&c->cfg);
		free(c);
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	}
	/* the server URL never ends with '/': paths start with one */
	for (size_t n = strlen(c->cfg.server); n > 0 && c->cfg.server[n - 1] == '/';)
		c->cfg.server[--n] = '\0';
	c->connect_ms = LLMO_KUBE_CONNECT_TIMEOUT_MS;
	c->total_ms = LLMO_KUBE_TIMEOUT_MS;
	c->attempts = LLMO_KUBE_ATTEMPTS;
	c->backoff_ms = LLMO_KUBE_BACKOFF_MS;
	c->backoff_max_ms = LLMO_KUBE_BACKOFF_MAX_MS;
	c->token_read_ms = llmo_clock_mono_ms();
	pthread_mutex_init(&c->lock, NULL);
	*out = c;
	return 0;
}

void llmo_kube_client_free(struct llmo_kube_client *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->pool.len; i++)
		curl_easy_cleanup(c->pool.items[i]);
	llmo_vec_release(&c->pool);
	pthread_mutex_destroy(&c->lock);
	llmo_kube_config_release(&c->cfg);
	free(c);
}

void llmo_kube_client_set_timeouts(struct llmo_kube_client *c, long connect_ms, long total_ms)
{
	if (connect_ms > 0)
		c->connect_ms = connect_ms;
	if (total_ms > 0)
		c->total_ms = total_ms;
}

void llmo_kube_client_set_retries(struct llmo_kube_client *c, int attempts, long base_ms,
				  long max_ms)
{
	if (attempts > 0)
		c->attempts = attempts;
	if (base_ms > 0)
		c->backoff_ms = base_ms;
	if (max_ms > 0)
		c->backoff_max_ms = max_ms;
}

const char *llmo_kube_client_namespace(const struct llmo_kube_client *c)
{
	return c->cfg.ns;
}

const char *llmo__kube_server(const struct llmo_kube_client *c)
{
	return c->cfg.server;
}

long llmo__kube_connect_ms(const struct llmo_kube_client *c)
{
	return c->connect_ms;
}

/* ---- handles ---- */

CURL *llmo__kube_handle_take(struct llmo_kube_client *c)
{
	CURL *h = NULL;

	pthread_mutex_lock(&c->lock);
	if (c->pool.len)
		h = c->pool.items[--c->pool.len];
	pthread_mutex_unlock(&c->lock);
	return h ? h : curl_easy_init();
}

void llmo__kube_handle_give(struct llmo_kube_client *c, CURL *h, bool reuse)
{
	CURL **slot = NULL;

	if (!h)
		return;
	if (reuse) {
		pthread_mutex_lock(&c->lock);
		if (c->pool.len < CLIENT_POOL_MAX && (slot = llmo_vec_push(&c->pool)))
			*slot = h;
		pthread_mutex_unlock(&c->lock);
	}
	if (!slot)
		curl_easy_cleanup(h);
}

/* Re-reads the token file when due; keeps the old token when it cannot. Under c->lock. */
static void token_refresh_locked(struct llmo_kube_client *c)
{
	int64_t now = llmo_clock_mono_ms();
	char *tok = NULL;

	if (!c->cfg.token_file || now - c->token_read_ms < CLIENT_TOKEN_REFRESH_MS)
		return;
	c->token_read_ms = now;
	if (llmo__kube_read_file(c->cfg.token_file, true, &tok, NULL) || !*tok) {
		LLMO_WARN(LOG, "cannot re-read the token file; keeping the current token",
			  "file=%s", c->cfg.token_file);
		free(tok);
		return;
	}
	if (c->cfg.token)
		memset(c->cfg.token, 0, strlen(c->cfg.token));
	free(c->cfg.token);
	c->cfg.token = tok;
}

int llmo__kube_handle_setup(struct llmo_kube_client *c, CURL *h, const char *path_and_query,
			    const char *extra_header, struct curl_slist **headers,
			    struct llmo_error *err)
{
	struct curl_slist *hl = NULL, *t;
	struct llmo_buf b;
	int rc = 0;

	*headers = NULL;
	llmo_buf_init(&b, CLIENT_URL_MAX);
	curl_easy_reset(h);
	if (llmo_buf_puts(&b, c->cfg.server) || llmo_buf_puts(&b, path_and_query)) {
		rc = llmo_error_set(err, LLMO_ETOOBIG, "kube request: URL longer than %d bytes",
				    CLIENT_URL_MAX);
		goto out;
	}
	curl_easy_setopt(h, CURLOPT_URL, b.data);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "llmo/" LLMO_VERSION);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
	if (c->cfg.ca_pem) {
		struct curl_blob blob = {c->cfg.ca_pem, strlen(c->cfg.ca_pem), CURL_BLOB_COPY};

		curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &blob);
	}
	if (c->cfg.insecure_skip_verify) {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (c->cfg.cert_pem && c->cfg.key_pem) {
		struct curl_blob cert = {c->cfg.cert_pem, strlen(c->cfg.cert_pem), CURL_BLOB_COPY};
		struct curl_blob key = {c->cfg.key_pem, strlen(c->cfg.key_pem), CURL_BLOB_COPY};

		curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
		curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &cert);
		curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
		curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &key);
	}
	if (!(t = curl_slist_append(hl, "Accept: application/json")))
		goto oom;
	hl = t;
	/* evhttp and kube-apiserver both answer without a 100-continue round trip */
	if (!(t = curl_slist_append(hl, "Expect:")))
		goto oom;
	hl = t;
	if (extra_header) {
		if (!(t = curl_slist_append(hl, extra_header)))
			goto oom;
		hl = t;
	}
	pthread_mutex_lock(&c->lock);
	token_refresh_locked(c);
	if (c->cfg.token && *c->cfg.token) {
		llmo_buf_reset(&b);
		b.max = LLMO_KUBE_CRED_FILE_MAX + 64;
		rc = llmo_buf_appendf(&b, "Authorization: Bearer %s", c->cfg.token);
		t = rc ? NULL : curl_slist_append(hl, b.data);
		memset(b.data, 0, b.len);
		if (t)
			hl = t;
	} else {
		t = hl;
	}
	pthread_mutex_unlock(&c->lock);
	if (!t)
		goto oom;
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
	*headers = hl;
	hl = NULL;
	goto out;
oom:
	rc = llmo_error_set(err, LLMO_ENOMEM, "out of memory");
out:
	curl_slist_free_all(hl);
	llmo_buf_release(&b);
	return rc;
}

/* ---- errors ---- */

static int code_for_status(int status, const char *reason)
{
	switch (status) {
	case 404:
		return LLMO_ENOTFOUND;
	case 409:
		return reason && strcmp(reason, "AlreadyExists") == 0 ? LLMO_EEXIST
								      : LLMO_ECONFLICT;
	case 410:
		return LLMO_EGONE;
	case 401:
	case 403:
		return LLMO_EDENIED;
	case 422:
		return LLMO_EINVALID_OBJECT;
	case 429:
		return LLMO_EAGAIN;
	default:
		break;
	}
	if (status >= 400 && status < 500)
		return LLMO_EINVAL;
	return LLMO_EIO;
}

int llmo__kube_status_error(const json_t *status, int http_status, struct llmo_error *err)
{
	const char *reason = json_string_value(json_object_get(status, "reason"));
	const char *msg = json_string_value(json_object_get(status, "message"));
	json_int_t code = json_integer_value(json_object_get(status, "code"));
	int rc;

	if (code < 100 || code > 599)
		code = http_status;
	rc = code_for_status((int)code, reason);
	if (msg && *msg)
		return llmo_error_set(err, rc, "%s", msg);
	if (reason && *reason)
		return llmo_error_set(err, rc, "HTTP %d %s", (int)code, reason);
	return llmo_error_set(err, rc, "HTTP %d", (int)code);
}

int llmo__kube_http_error(int status, const char *body, size_t len, struct llmo_error *err)
{
	char q[LLMO_STR_QUOTE_SIZE(CLIENT_ERROR_EXCERPT)];
	json_t *st = NULL;
	int rc;

	if (len && llmo_json_load(body, len, NULL, &st, NULL) == 0 && json_is_object(st) &&
	    json_string_value(json_object_get(st, "message"))) {
		rc = llmo__kube_status_error(st, status, err);
		json_decref(st);
		return rc;
	}
	json_decref(st);
	rc = code_for_status(status, NULL);
	if (len)
		return llmo_error_set(err, rc, "HTTP %d: %s", status,
				      llmo_str_quote(q, body, len, CLIENT_ERROR_EXCERPT));
	return llmo_error_set(err, rc, "HTTP %d", status);
}

int llmo__kube_curl_error(CURLcode code, const char *method, const char *path, const char *errbuf,
			  struct llmo_error *err)
{
	const char *why = errbuf && *errbuf ? errbuf : curl_easy_strerror(code);
	int rc;

	switch (code) {
	case CURLE_OPERATION_TIMEDOUT:
		rc = LLMO_ETIMEOUT;
		break;
	case CURLE_OUT_OF_MEMORY:
		rc = LLMO_ENOMEM;
		break;
	case CURLE_ABORTED_BY_CALLBACK:
		rc = LLMO_ECLOSED;
		why = "stopped";
		break;
	default:
		rc = LLMO_EIO;
		break;
	}
	return llmo_error_set(err, rc, "%s %s: %s", method, path, why);
}

/* ---- requests ---- */

struct sink {
	struct llmo_buf body;
	bool too_big;
};

static size_t on_write(char *p, size_t size, size_t n, void *arg)
{
	struct sink *s = arg;

	if (llmo_buf_append(&s->body, p, n)) {
		s->too_big = s->body.len + n > s->body.max;
		return 0;
	}
	return n;
}

static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	const volatile int *stop = arg;

	return llmo__kube_stopped(stop) ? 1 : 0;
}

/* Connection-level failures worth another attempt. */
static bool transient(CURLcode code)
{
	switch (code) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return true;
	default:
		return false;
	}
}

static void set_method(CURL *h, const char *method, const char *text)
{
	if (strcmp(method, "GET") == 0) {
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
		return;
	}
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	if (text) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(text));
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, text);
	} else if (strcmp(method, "DELETE") != 0 && strcmp(method, "HEAD") != 0) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
	} else if (strcmp(method, "HEAD") == 0) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	}
}

int llmo__kube_request(struct llmo_kube_client *c, const char *method, const char *path_and_query,
		       const char *content_type, const json_t *body, json_t **out, int *http_status,
		       const struct llmo__kube_req_opts *opts, struct llmo_error *err)
{
	const volatile int *stop = opts ? opts->stop : NULL;
	long connect_ms =
		opts && opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms : c->connect_ms;
	long total_ms = opts && opts->timeout_ms > 0 ? opts->timeout_ms : c->total_ms;
	int attempts = opts && opts->attempts > 0 ? opts->attempts : c->attempts;
	bool is_post = strcmp(method, "POST") == 0;
	char errbuf[CURL_ERROR_SIZE], ctype[256];
	struct curl_slist *headers = NULL;
	struct sink sink;
	char *text = NULL;
	long backoff = c->backoff_ms, status = 0;
	CURL *h = NULL;
	int rc = 0;

	if (out)
		*out = NULL;
	if (http_status)
		*http_status = 0;
	llmo_buf_init(&sink.body, LLMO_KUBE_RESPONSE_MAX);
	if (body) {
		text = llmo_json_dump_compact(body);
		if (!text) {
			rc = llmo_error_set(err, LLMO_ENOMEM, "out of memory");
			goto out;
		}
	}
	snprintf(ctype, sizeof(ctype), "Content-Type: %s",
		 content_type ? content_type : "application/json");
	h = llmo__kube_handle_take(c);
	if (!h) {
		rc = llmo_error_set(err, LLMO_ENOMEM, "out of memory");
		goto out;
	}
	for (int attempt = 1;; attempt++) {
		long wait_ms = 0;
		curl_off_t retry_after = 0;
		long sent = 0;
		bool retry = false;
		CURLcode cc;

		curl_slist_free_all(headers);
		headers = NULL;
		rc = llmo__kube_handle_setup(c, h, path_and_query, text ? ctype : NULL, &headers,
					     err);
		if (rc)
			goto out;
		llmo_buf_reset(&sink.body);
		sink.too_big = false;
		errbuf[0] = '\0';
		set_method(h, method, text);
		curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
		curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
		curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, total_ms);
		curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
		curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
		if (stop) {
			curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
			curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
			curl_easy_setopt(h, CURLOPT_XFERINFODATA, (void *)stop);
		}
		cc = curl_easy_perform(h);
		status = 0;
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
		if (http_status)
			*http_status = (int)status;
		if (sink.too_big) {
			rc = llmo_error_set(err, LLMO_ETOOBIG,
					    "%s %s: the response is larger than %zu bytes", method,
					    path_and_query, (size_t)LLMO_KUBE_RESPONSE_MAX);
			goto out;
		}
		if (cc != CURLE_OK) {
			rc = llmo__kube_curl_error(cc, method, path_and_query, errbuf, err);
			curl_easy_getinfo(h, CURLINFO_REQUEST_SIZE, &sent);
			if (rc == LLMO_ECLOSED)
				goto out;
			/*
			 * A POST may have been applied once any byte went out;
			 * a refused connection sent nothing. Others retry when
			 * idempotent, except a timeout after the request was
			 * sent (it would multiply the wait).
			 */
			if (is_post)
				retry = cc == CURLE_COULDNT_CONNECT && sent == 0;
			else if (cc == CURLE_OPERATION_TIMEDOUT)
				retry = sent == 0;
			else
				retry = transient(cc);
		} else if (status >= 200 && status < 300) {
			rc = 0;
			break;
		} else {
			rc = llmo__kube_http_error((int)status, sink.body.data, sink.body.len, err);
			if (!is_post && (status == 429 || status == 503)) {
				retry = true;
				curl_easy_getinfo(h, CURLINFO_RETRY_AFTER, &retry_after);
				if (retry_after > 0)
					wait_ms = (long)LLMO_MIN(
						(int64_t)retry_after * 1000,
						(int64_t)LLMO_KUBE_RETRY_AFTER_MAX_MS);
			}
		}
		if (!retry || attempt >= attempts)
			goto out;
		if (wait_ms == 0)
			wait_ms = llmo__kube_rand_range(backoff / 2, backoff);
		backoff = LLMO_MIN(backoff * 2, c->backoff_max_ms);
		LLMO_DEBUG(LOG, "retrying", "method=%s path=%s attempt=%d wait_ms=%ld status=%ld",
			   method, path_and_query, attempt, wait_ms, status);
		if (llmo__kube_sleep(wait_ms, stop)) {
			rc = llmo_error_set(err, LLMO_ECLOSED, "%s %s: stopped", method,
					    path_and_query);
			goto out;
		}
	}
	if (out) {
		if (sink.body.len == 0) {
			*out = json_null();
		} else {
			rc = llmo_json_load(sink.body.data, sink.body.len, path_and_query, out,
					    err);
			if (rc)
				llmo_error_prefix(err, "%s: ", method);
		}
	}
out:
	if (h) {
		/* the handle points at our buffers: drop those references before pooling */
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
		curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, NULL);
		llmo__kube_handle_give(c, h, true);
	}
	curl_slist_free_all(headers);
	llmo_buf_release(&sink.body);
	free(text);
	return rc;
}

int llmo_kube_request(struct llmo_kube_client *c, const char *method, const char *path_and_query,
		      const char *content_type, const json_t *body, json_t **out, int *http_status,
		      struct llmo_error *err)
{
	return llmo__kube_request(c, method, path_and_query, content_type, body, out, http_status,
				  NULL, err);
}

/* ---- paths ---- */

static bool unreserved(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '-' || ch == '.' || ch == '_' || ch == '~';
}

static int put_escaped(struct llmo_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	int rc = 0;

	for (const unsigned char *p = (const unsigned char *)s; *p && !rc; p++) {
		if (unreserved(*p)) {
			rc = llmo_buf_putc(b, (char)*p);
		} else {
			char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};

			rc = llmo_buf_append(b, e, 3);
		}
	}
	return rc;
}

int llmo_kube_path(const struct llmo_kube_resource *r, const char *ns, const char *name,
		   const char *subresource, struct llmo_buf *out)
{
	size_t start = out->len;
	int rc;

	if (r->group && *r->group)
		rc = llmo_buf_appendf(out, "/apis/%s/%s", r->group, r->version);
	else
		rc = llmo_buf_appendf(out, "/api/%s", r->version);
	if (!rc && r->namespaced && ns && *ns) {
		rc = llmo_buf_puts(out, "/namespaces/");
		if (!rc)
			rc = put_escaped(out, ns);
	}
	if (!rc)
		rc = llmo_buf_appendf(out, "/%s", r->plural);
	if (!rc && name) {
		rc = llmo_buf_putc(out, '/');
		if (!rc)
			rc = put_escaped(out, name);
		if (!rc && subresource && *subresource)
			rc = llmo_buf_appendf(out, "/%s", subresource);
	}
	if (rc)
		llmo_buf_truncate(out, start);
	return rc;
}

int llmo_kube_query_add(struct llmo_buf *url, const char *key, const char *value)
{
	size_t start = url->len;
	int rc = llmo_buf_putc(url, memchr(url->data, '?', url->len) ? '&' : '?');

	if (!rc)
		rc = put_escaped(url, key);
	if (!rc)
		rc = llmo_buf_putc(url, '=');
	if (!rc)
		rc = put_escaped(url, value);
	if (rc)
		llmo_buf_truncate(url, start);
	return rc;
}

/* ---- verbs ---- */

static int path_error(int rc, struct llmo_error *err)
{
	return llmo_error_set(err, rc, "kube request: %s building the URL", llmo_strerror(rc));
}

int llmo_kube_get(struct llmo_kube_client *c, const struct llmo_kube_resource *r, const char *ns,
		  const char *name, json_t **out, struct llmo_error *err)
{
	struct llmo_buf p;
	int rc;

	*out = NULL;
	llmo_buf_init(&p, CLIENT_URL_MAX);
	rc = llmo_kube_path(r, ns, name, NULL, &p);
	rc = rc ? path_error(rc, err)
		: llmo_kube_request(c, "GET", p.data, NULL, NULL, out, NULL, err);
	llmo_buf_release(&p);
	return rc;
}

int llmo_kube_list(struct llmo_kube_client *c, const struct llmo_kube_resource *r, const char *ns,
		   const struct llmo_kube_list_opts *opts, json_t **out, struct llmo_error *err)
{
	struct llmo_buf p;
	char num[32];
	int rc;

	*out = NULL;
	llmo_buf_init(&p, CLIENT_URL_MAX);
	rc = llmo_kube_path(r, ns, NULL, NULL, &p);
	if (!rc && opts && opts->label_selector && *opts->label_selector)
		rc = llmo_kube_query_add(&p, "labelSelector", opts->label_selector);
	if (!rc && opts && opts->field_selector && *opts->field_selector)
		rc = llmo_kube_query_add(&p, "fieldSelector", opts->field_selector);
	if (!rc && opts && opts->limit > 0) {
		snprintf(num, sizeof(num), "%ld", opts->limit);
		rc = llmo_kube_query_add(&p, "limit", num);
	}
	if (!rc && opts && opts->continue_token && *opts->continue_token)
		rc = llmo_kube_query_add(&p, "continue", opts->continue_token);
	if (!rc && opts && opts->resource_version && *opts->resource_version)
		rc = llmo_kube_query_add(&p, "resourceVersion", opts->resource_version);
	rc = rc ? path_error(rc, err)
		: llmo_kube_request(c, "GET", p.data, NULL, NULL, out, NULL, err);
	llmo_buf_release(&p);
	return rc;
}

int llmo_kube_create(struct llmo_kube_client *c, const struct llmo_kube_resource *r, const char *ns,
		     const json_t *obj, json_t **out, struct llmo_error *err)
{
	struct llmo_buf p;
	int rc;

	if (out)
		*out = NULL;
	llmo_buf_init(&p, CLIENT_URL_MAX);
	rc = llmo_kube_path(r, ns, NULL, NULL, &p);
	rc = rc ? path_error(rc, err)
		: llmo_kube_request(c, "POST", p.data, NULL, obj, out, NULL, err);
	llmo_buf_release(&p);
	return rc;
}

static int put_object(struct llmo_kube_client *c, const struct llmo_kube_resource *r,
		      const char *ns, const char *sub, const json_t *obj, json_t **out,
		      struct llmo_error *err)
{
	const char *name =
		json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
	struct llmo_buf p;
	int rc;

	if (out)
		*out = NULL;
	if (!name || !*name)
		return llmo_error_set(err, LLMO_EINVAL,
				      "kube update: the object has no metadata.name");
	llmo_buf_init(&p, CLIENT_URL_MAX);
	rc = llmo_kube_path(r, ns, name, sub, &p);
	rc = rc ? path_error(rc, err)
		: llmo_kube_request(c, "PUT", p.data, NULL, obj, out, NULL, err);
	llmo_buf_release(&p);
	return rc;
}

int llmo_kube_update(struct llmo_kube_client *c, const struct llmo_kube_resource *r, const char *ns,
		     const json_t *obj, json_t **out, struct llmo_error *err)
{
	return put_object(c, r, ns, NULL, obj, out, err);
}

int llmo_kube_update_status(struct llmo_kube_client *c, const struct llmo_kube_resource *r,
			    const char *ns, const json_t *obj, json_t **out, struct llmo_error *err)
{
	return put_object(c, r, ns, "status", obj, out, err);
}

int llmo_kube_patch(struct llmo_kube_client *c, const struct llmo_kube_resource *r, const char *ns,
		    const char *name, const char *subresource, enum llmo_kube_patch_type type,
		    const json_t *patch, json_t **out, struct llmo_error *err)
{
	static const char *const types[] = {
		[LLMO_KUBE_PATCH_MERGE] = "application/merge-patch+json",
		[LLMO_KUBE_PATCH_JSON] = "application/json-patch+json",
		[LLMO_KUBE_PATCH_STRATEGIC] = "application/strategic-merge-patch+json",
		[LLMO_KUBE_PATCH_APPLY] = "application/apply-patch+yaml",
	};
	struct llmo_buf p;
	int rc;

	if (out)
		*out = NULL;
	if ((unsigned)type >= LLMO_ARRAY_LEN(types))
		return llmo_error_set(err, LLMO_EINVAL, "kube patch: unknown patch type %d", type);
	llmo_buf_init(&p, CLIENT_URL_MAX);
	rc = llmo_kube_path(r, ns, name, subresource, &p);
	if (!rc && type == LLMO_KUBE_PATCH_APPLY) {
		rc = llmo_kube_query_add(&p, "fieldManager", "llmo");
		if (!rc)
			rc = llmo_kube_query_add(&p, "force", "true");
	}
	/* JSON is YAML, so an apply patch goes out as JSON text too */
	rc = rc ? path_error(rc, err)
		: llmo_kube_request(c, "PATCH", p.data, types[type], patch, out, NULL, err);
	llmo_buf_release(&p);
	return rc;
}

int llmo_kube_delete(struct llmo_kube_client *c, const struct llmo_kube_resource *r, const char *ns,
		     const char *name, enum llmo_kube_propagation propagation, json_t **out,
		     struct llmo_error *err)
{
	static const char *const policies[] = {
		[LLMO_KUBE_PROPAGATE_DEFAULT] = NULL,
		[LLMO_KUBE_PROPAGATE_BACKGROUND] = "Background",
		[LLMO_KUBE_PROPAGATE_FOREGROUND] = "Foreground",
		[LLMO_KUBE_PROPAGATE_ORPHAN] = "Orphan",
	};
	struct llmo_buf p;
	int rc;

	if (out)
		*out = NULL;
	if ((unsigned)propagation >= LLMO_ARRAY_LEN(policies))
		return llmo_error_set(err, LLMO_EINVAL, "kube delete: unknown propagation %d",
				      propagation);
	llmo_buf_init(&p, CLIENT_URL_MAX);
	rc = llmo_kube_path(r, ns, name, NULL, &p);
	if (!rc && policies[propagation])
		rc = llmo_kube_query_add(&p, "propagationPolicy", policies[propagation]);
	rc = rc ? path_error(rc, err)
		: llmo_kube_request(c, "DELETE", p.data, NULL, NULL, out, NULL, err);
	llmo_buf_release(&p);
	return rc;
}

int llmo_kube_delete_now(struct llmo_kube_client *c, const struct llmo_kube_resource *r,
			 const char *ns, const char *name, const char *uid, struct llmo_error *err)
{
	json_t *opts = json_pack("{s:s, s:s, s:i, s:{s:s}}", "apiVersion", "v1", "kind",
				 "DeleteOptions", "gracePeriodSeconds", 0, "preconditions", "uid",
				 uid);
	struct llmo_buf p;
	int rc;

	if (!opts)
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	llmo_buf_init(&p, CLIENT_URL_MAX);
	rc = llmo_kube_path(r, ns, name, NULL, &p);
	rc = rc ? path_error(rc, err)
		: llmo_kube_request(c, "DELETE", p.data, NULL, opts, NULL, NULL, err);
	llmo_buf_release(&p);
	json_decref(opts);
	return rc;
}
