/*
 * Watch streams: a chunked response of one JSON event per line,
 * {"type":"ADDED|MODIFIED|DELETED|BOOKMARK|ERROR","object":{...}}.
 */
#include "base/common.h"

#include "base/buf.h"
#include "base/json.h"
#include "kube/client_int.h"
#include "kube/watch.h"

/* Longest watch URL. */
#define WATCH_URL_MAX 8192
/* Added to timeoutSeconds for the client's own deadline (the server ends first). */
#define WATCH_DEADLINE_SLACK_S 30
/* TCP keepalive on idle watch connections, so a dead peer is noticed. */
#define WATCH_KEEPIDLE_S 30
#define WATCH_KEEPINTVL_S 10

struct watch_state {
	llmo_kube_watch_fn fn;
	void *ctx;
	const volatile int *stop;
	CURL *h;
	long status; /* 0 until the first body byte */
	struct llmo_buf line;
	struct llmo_buf errbody;
	int rc;	      /* why the write callback ended the transfer */
	bool stopped; /* *stop was seen */
	struct llmo_error *err;
};

/* One complete line (without its '\n'): 0, or the code that ends the watch. */
static int handle_line(struct watch_state *w, const char *p, size_t n)
{
	json_t *ev = NULL, *obj;
	const char *type;
	int rc = 0;

	while (n && (p[n - 1] == '\r' || p[n - 1] == ' '))
		n--;
	if (n == 0)
		return 0;
	rc = llmo_json_load(p, n, "watch event", &ev, w->err);
	if (rc)
		goto out;
	type = json_string_value(json_object_get(ev, "type"));
	obj = json_object_get(ev, "object");
	if (!type || !json_is_object(obj)) {
		rc = llmo_error_set(w->err, LLMO_EPARSE,
				    "watch event: expected {\"type\": string, \"object\": {...}}");
		goto out;
	}
	if (strcmp(type, "ERROR") == 0) {
		rc = llmo__kube_status_error(obj, 500, w->err);
		goto out;
	}
	rc = w->fn(w->ctx, type, obj);
out:
	json_decref(ev);
	return rc;
}

static size_t on_write(char *p, size_t size, size_t n, void *arg)
{
	struct watch_state *w = arg;
	size_t done = 0;

	if (llmo__kube_stopped(w->stop)) {
		w->stopped = true;
		return 0;
	}
	if (!w->status)
		curl_easy_getinfo(w->h, CURLINFO_RESPONSE_CODE, &w->status);
	if (w->status != 200) {
		/* keep the start of an error body for its Status; drop the rest */
		size_t room = w->errbody.max - w->errbody.len;

		llmo_buf_append(&w->errbody, p, LLMO_MIN(room, n));
		return n;
	}
	while (done < n) {
		const char *nl = memchr(p + done, '\n', n - done);
		size_t seg = nl ? (size_t)(nl - (p + done)) : n - done;

		if (!nl) {
			if (llmo_buf_append(&w->line, p + done, seg))
				goto too_long;
			break;
		}
		if (w->line.len) {
			if (llmo_buf_append(&w->line, p + done, seg))
				goto too_long;
			w->rc = handle_line(w, w->line.data, w->line.len);
			llmo_buf_reset(&w->line);
		} else {
			/* the common case: a whole line inside this chunk, no copy */
			if (seg > LLMO_KUBE_WATCH_LINE_MAX)
				goto too_long;
			w->rc = handle_line(w, p + done, seg);
		}
		if (w->rc)
			return 0;
		if (llmo__kube_stopped(w->stop)) {
			w->stopped = true;
			return 0;
		}
		done += seg + 1;
	}
	return n;
too_long:
	w->rc = llmo_error_set(w->err, LLMO_ETOOBIG, "watch event: a line is longer than %zu bytes",
			       (size_t)LLMO_KUBE_WATCH_LINE_MAX);
	return 0;
}

static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	struct watch_state *w = arg;

	if (llmo__kube_stopped(w->stop)) {
		w->stopped = true;
		return 1;
	}
	return 0;
}

static int watch_url(const struct llmo_kube_resource *r, const char *ns, const char *ls,
		     const char *fs, const char *rv, int timeout_seconds, struct llmo_buf *url)
{
	char num[32];
	int rc = llmo_kube_path(r, ns, NULL, NULL, url);

	if (!rc)
		rc = llmo_kube_query_add(url, "watch", "true");
	if (!rc)
		rc = llmo_kube_query_add(url, "allowWatchBookmarks", "true");
	if (!rc && rv && *rv)
		rc = llmo_kube_query_add(url, "resourceVersion", rv);
	if (!rc && ls && *ls)
		rc = llmo_kube_query_add(url, "labelSelector", ls);
	if (!rc && fs && *fs)
		rc = llmo_kube_query_add(url, "fieldSelector", fs);
	if (!rc && timeout_seconds > 0) {
		snprintf(num, sizeof(num), "%d", timeout_seconds);
		rc = llmo_kube_query_add(url, "timeoutSeconds", num);
	}
	return rc;
}

int llmo_kube_watch(struct llmo_kube_client *c, const struct llmo_kube_resource *r, const char *ns,
		    const char *label_selector, const char *field_selector,
		    const char *resource_version, int timeout_seconds, llmo_kube_watch_fn fn,
		    void *ctx, const volatile int *stop, struct llmo_error *err)
{
	struct watch_state w = {.fn = fn, .ctx = ctx, .stop = stop, .err = err};
	struct curl_slist *headers = NULL;
	char errbuf[CURL_ERROR_SIZE] = "";
	struct llmo_buf url;
	bool reuse = false;
	CURLcode cc;
	int rc;

	llmo_buf_init(&url, WATCH_URL_MAX);
	llmo_buf_init(&w.line, LLMO_KUBE_WATCH_LINE_MAX);
	llmo_buf_init(&w.errbody, LLMO_KUBE_WATCH_ERROR_MAX);
	rc = watch_url(r, ns, label_selector, field_selector, resource_version, timeout_seconds,
		       &url);
	if (rc) {
		rc = llmo_error_set(err, rc, "watch: %s building the URL", llmo_strerror(rc));
		goto out;
	}
	w.h = llmo__kube_handle_take(c);
	if (!w.h) {
		rc = llmo_error_set(err, LLMO_ENOMEM, "out of memory");
		goto out;
	}
	rc = llmo__kube_handle_setup(c, w.h, url.data, NULL, &headers, err);
	if (rc)
		goto out;
	curl_easy_setopt(w.h, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(w.h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(w.h, CURLOPT_CONNECTTIMEOUT_MS, llmo__kube_connect_ms(c));
	curl_easy_setopt(w.h, CURLOPT_TIMEOUT,
			 timeout_seconds > 0 ? (long)timeout_seconds + WATCH_DEADLINE_SLACK_S : 0L);
	curl_easy_setopt(w.h, CURLOPT_TCP_KEEPIDLE, (long)WATCH_KEEPIDLE_S);
	curl_easy_setopt(w.h, CURLOPT_TCP_KEEPINTVL, (long)WATCH_KEEPINTVL_S);
	curl_easy_setopt(w.h, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(w.h, CURLOPT_WRITEDATA, &w);
	/* curl calls this about once a second even when no data moves */
	curl_easy_setopt(w.h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(w.h, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(w.h, CURLOPT_XFERINFODATA, &w);
	cc = curl_easy_perform(w.h);
	if (!w.status)
		curl_easy_getinfo(w.h, CURLINFO_RESPONSE_CODE, &w.status);
	if (w.rc) {
		rc = w.rc;
	} else if (w.stopped || llmo__kube_stopped(stop)) {
		rc = 0;
	} else if (w.status && w.status != 200) {
		rc = llmo__kube_http_error((int)w.status, w.errbody.data, w.errbody.len, err);
		reuse = cc == CURLE_OK;
	} else if (cc != CURLE_OK) {
		rc = llmo__kube_curl_error(cc, "WATCH", url.data, errbuf, err);
	} else {
		/* the server may end the stream without a final newline */
		rc = handle_line(&w, w.line.data, w.line.len);
		reuse = true;
	}
out:
	if (w.h) {
		curl_easy_setopt(w.h, CURLOPT_HTTPHEADER, NULL);
		curl_easy_setopt(w.h, CURLOPT_ERRORBUFFER, NULL);
		llmo__kube_handle_give(c, w.h, reuse);
	}
	curl_slist_free_all(headers);
	llmo_buf_release(&url);
	llmo_buf_release(&w.line);
	llmo_buf_release(&w.errbody);
	return rc;
}
