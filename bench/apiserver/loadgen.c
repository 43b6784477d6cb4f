#include "base/common.h"
/*
 * llmo-loadgen: load generator for the apiserver benchmark (bench/apiserver/run.sh).
 *
 * One client, two targets, measured the same way:
 *
 *   --mode llmo  llmo server's Kubernetes REST API: POST LLMWorkloads to
 *                /apis/llm.orchestrator.io/v1/namespaces/NS/llmworkloads,
 *                GET them one by one, LIST the collection, and watch it.
 *   --mode etcd  etcd's v3 JSON gateway: POST /v3/kv/put with the same JSON
 *                bodies as values (keys laid out as kube-apiserver does,
 *                /registry/llm.orchestrator.io/llmworkloads/NS/NAME), and
 *                /v3/kv/range for the gets and the list. No watch.
 *
 * Requests go through one curl multi handle with `--concurrency` transfers in
 * flight, each on its own keep-alive HTTP/1.1 connection (1: strictly
 * sequential requests over one connection). Latency is taken per request
 * from just before the transfer is handed to curl to its completion, on the
 * monotonic clock.
 *
 * Phases (--phases, comma-separated, run in this order):
 *   create  N objects named PREFIX-(OFFSET) .. PREFIX-(OFFSET+N-1), the
 *           numbers written with at least six digits (--offset, default 0)
 *   get     --gets GETs of objects chosen at random among PREFIX-0 .. PREFIX-(N-1)
 *   list    --lists LISTs of the whole namespace (time, bytes, item count)
 *   watch   --watchers watch streams opened at the collection's current
 *           resourceVersion, then --events objects PREFIX-w-NNNNNN created
 *           one after another; for each (event, watcher) the lag from the
 *           start of the create request to the event's arrival is recorded.
 *
 * With --raw FILE the latency of every create and get is appended to FILE,
 * one "PHASE NANOSECONDS" line each, so that runs split in rounds can be
 * summarised as one.
 *
 * Each phase prints one line for run.sh to read:
 *   RESULT mode=llmo phase=create n=10000 errors=0 seconds=... per_sec=... p50_ms=... ...
 * and the exit status is non-zero when any request failed.
 */
#include <getopt.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/error.h"
#include "base/file.h"
#include "base/str.h"
#include "base/vec.h"

/* Caps on what the servers send back. */
#define LG_RESP_MAX ((size_t)1 << 20)        /* one object, one put */
#define LG_LIST_RESP_MAX ((size_t)512 << 20) /* a LIST of every object */
#define LG_WATCH_LINE_MAX ((size_t)4 << 20)  /* one watch event */
#define LG_TOKEN_MAX 4096
#define LG_URL_MAX 1024
#define LG_NAME_MAX 128
#define LG_ERRORS_SHOWN 3
#define LG_REQUEST_TIMEOUT_S 60L
#define LG_WATCH_SETUP_TIMEOUT_MS 10000
#define LG_WATCH_DRAIN_TIMEOUT_MS 30000

enum lg_mode { LG_LLMO, LG_ETCD };
enum lg_phase { PH_CREATE = 1, PH_GET = 2, PH_LIST = 4, PH_WATCH = 8 };

struct lg {
	enum lg_mode mode;
	const char *mode_name;
	const char *url; /* base, no trailing '/' */
	const char *cacert;
	char *token;
	const char *ns;
	const char *prefix;
	const char *raw_path; /* when set, each create/get latency (ns) is appended there */
	int64_t n, offset, conc, gets, lists, watchers, events;
	unsigned phases;
	struct curl_slist *headers;
	int errors_shown;
};

typedef LLMO_VEC(int64_t) lg_ns_vec;

/* One request of a phase: the caller fills url/body, the runner sends it. */
struct lg_req {
	char url[LG_URL_MAX];
	struct llmo_buf body; /* empty: GET */
	long expect;          /* HTTP status that counts as success */
};

typedef int (*lg_fill_fn)(struct lg *lg, int64_t i, struct lg_req *req);

struct lg_slot {
	CURL *h;
	struct lg_req req;
	struct llmo_buf resp;
	int64_t t0;
	bool busy;
};

static void die_usage(const char *msg)
{
	fprintf(stderr, "llmo-loadgen: %s\n", msg);
	fprintf(stderr,
		"usage: llmo-loadgen --mode llmo|etcd --url URL [--token-file FILE] [--cacert FILE]\n"
		"       [-n N] [--offset K] [-c CONCURRENCY] [--raw FILE] [--gets G] [--lists L]\n"
		"       [--watchers W] [--events M] [--namespace NS] [--prefix NAME]\n"
		"       [--phases create,get,list,watch] [--seed S]\n");
	exit(2);
}

static int64_t arg_int(const char *opt, const char *s, int64_t min, int64_t max)
{
	struct llmo_error err = {0};
	int64_t v;

	if (llmo_parse_int_range(s, min, max, &v, &err)) {
		fprintf(stderr, "llmo-loadgen: %s: %s\n", opt, err.msg);
		exit(2);
	}
	return v;
}

static unsigned parse_phases(const char *s)
{
	static const struct {
		const char *name;
		unsigned bit;
	} names[] = {{"create", PH_CREATE}, {"get", PH_GET}, {"list", PH_LIST}, {"watch", PH_WATCH}};
	unsigned out = 0;

	while (*s) {
		size_t len = strcspn(s, ",");
		size_t i;

		for (i = 0; i < LLMO_ARRAY_LEN(names); i++)
			if (strlen(names[i].name) == len && memcmp(names[i].name, s, len) == 0)
				break;
		if (i == LLMO_ARRAY_LEN(names))
			die_usage("--phases: unknown phase");
		out |= names[i].bit;
		s += len;
		if (*s == ',')
			s++;
	}
	return out;
}

/* ---- bodies and URLs ---- */

/* The object of examples/my-llm-workload.yaml, as JSON, named `name`. */
static int workload_json(struct llmo_buf *b, const char *ns, const char *name)
{
	return llmo_buf_appendf(
		b,
		"{\"apiVersion\":\"llm.orchestrator.io/v1\",\"kind\":\"LLMWorkload\","
		"\"metadata\":{\"name\":\"%s\",\"namespace\":\"%s\"},"
		"\"spec\":{\"modelName\":\"llama2\",\"modelVersion\":\"7b\","
		"\"modelType\":\"text-generation\","
		"\"resources\":{\"cpu\":\"2000m\",\"memory\":\"8Gi\",\"gpu\":\"1\"},"
		"\"scaling\":{\"minReplicas\":1,\"maxReplicas\":5,\"targetMetrics\":["
		"{\"type\":\"cpu\",\"target\":70},"
		"{\"type\":\"requests_per_second\",\"target\":100}]},"
		"\"performance\":{\"maxLatency\":\"500ms\",\"minThroughput\":50,"
		"\"slaRequirements\":{\"availability\":99.9,\"responseTimeP95\":200,"
		"\"errorRate\":0.01}}}}",
		name, ns);
}

/* Appends base64(p[0..n)) (standard alphabet, padded), as etcd's gateway wants bytes. */
static int append_base64(struct llmo_buf *b, const void *p, size_t n)
{
	size_t need = 4 * ((n + 2) / 3);
	int rc = llmo_buf_grow(b, need + 1);

	if (rc)
		return rc;
	EVP_EncodeBlock((unsigned char *)b->data + b->len, p, (int)n);
	b->len += need;
	b->data[b->len] = '\0';
	return 0;
}

static void etcd_key(const struct lg *lg, const char *name, char *out, size_t n)
{
	snprintf(out, n, "/registry/llm.orchestrator.io/llmworkloads/%s/%s", lg->ns, name);
}

/* The LLMWorkload collection's URL followed by `tail` ("", "/NAME", "?QUERY"). */
static void collection_url(const struct lg *lg, const char *tail, char *out, size_t n)
{
	snprintf(out, n, "%s/apis/llm.orchestrator.io/v1/namespaces/%s/llmworkloads%s", lg->url,
		 lg->ns, tail);
}

static void object_name(const struct lg *lg, const char *kind, int64_t i, char *out, size_t n)
{
	snprintf(out, n, "%s%s-%06" PRId64, lg->prefix, kind, i);
}

/* A create (llmo) or put (etcd) of the object called `name`. */
static int fill_write(struct lg *lg, const char *name, struct lg_req *req)
{
	char key[LG_URL_MAX];
	struct llmo_buf obj;
	int rc;

	if (lg->mode == LG_LLMO) {
		collection_url(lg, "", req->url, sizeof(req->url));
		req->expect = 201;
		return workload_json(&req->body, lg->ns, name);
	}
	snprintf(req->url, sizeof(req->url), "%s/v3/kv/put", lg->url);
	req->expect = 200;
	etcd_key(lg, name, key, sizeof(key));
	llmo_buf_init(&obj, LG_RESP_MAX);
	rc = workload_json(&obj, lg->ns, name);
	if (!rc)
		rc = llmo_buf_puts(&req->body, "{\"key\":\"");
	if (!rc)
		rc = append_base64(&req->body, key, strlen(key));
	if (!rc)
		rc = llmo_buf_puts(&req->body, "\",\"value\":\"");
	if (!rc)
		rc = append_base64(&req->body, obj.data, obj.len);
	if (!rc)
		rc = llmo_buf_puts(&req->body, "\"}");
	llmo_buf_release(&obj);
	return rc;
}

static int fill_create(struct lg *lg, int64_t i, struct lg_req *req)
{
	char name[LG_NAME_MAX];

	object_name(lg, "", lg->offset + i, name, sizeof(name));
	return fill_write(lg, name, req);
}

static int fill_get(struct lg *lg, int64_t i, struct lg_req *req)
{
	char name[LG_NAME_MAX], key[LG_URL_MAX];
	int rc;

	object_name(lg, "", (int64_t)(random() % lg->n), name, sizeof(name));
	req->expect = 200;
	if (lg->mode == LG_LLMO) {
		char tail[LG_NAME_MAX + 1];

		snprintf(tail, sizeof(tail), "/%s", name);
		collection_url(lg, tail, req->url, sizeof(req->url));
		return 0;
	}
	snprintf(req->url, sizeof(req->url), "%s/v3/kv/range", lg->url);
	etcd_key(lg, name, key, sizeof(key));
	rc = llmo_buf_puts(&req->body, "{\"key\":\"");
	if (!rc)
		rc = append_base64(&req->body, key, strlen(key));
	if (!rc)
		rc = llmo_buf_puts(&req->body, "\"}");
	return rc;
}

static int fill_list(struct lg *lg, int64_t i, struct lg_req *req)
{
	char key[LG_URL_MAX];
	size_t len;
	int rc;

	req->expect = 200;
	if (lg->mode == LG_LLMO) {
		collection_url(lg, "", req->url, sizeof(req->url));
		return 0;
	}
	/* every key under the namespace's prefix: range [prefix, prefix with last byte + 1) */
	snprintf(req->url, sizeof(req->url), "%s/v3/kv/range", lg->url);
	etcd_key(lg, "", key, sizeof(key));
	len = strlen(key);
	rc = llmo_buf_puts(&req->body, "{\"key\":\"");
	if (!rc)
		rc = append_base64(&req->body, key, len);
	key[len - 1]++;
	if (!rc)
		rc = llmo_buf_puts(&req->body, "\",\"range_end\":\"");
	if (!rc)
		rc = append_base64(&req->body, key, len);
	if (!rc)
		rc = llmo_buf_puts(&req->body, "\"}");
	return rc;
}

/* ---- transfers ---- */

static size_t on_body(char *p, size_t size, size_t nmemb, void *arg)
{
	struct llmo_buf *b = arg;

	return llmo_buf_append(b, p, size * nmemb) ? 0 : size * nmemb;
}

static void easy_setup(struct lg *lg, CURL *h)
{
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, lg->headers);
	curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	if (lg->cacert)
		curl_easy_setopt(h, CURLOPT_CAINFO, lg->cacert);
}

static void slot_start(struct lg *lg, CURLM *m, struct lg_slot *s)
{
	curl_easy_setopt(s->h, CURLOPT_URL, s->req.url);
	if (s->req.body.len) {
		curl_easy_setopt(s->h, CURLOPT_POST, 1L);
		curl_easy_setopt(s->h, CURLOPT_POSTFIELDS, s->req.body.data);
		curl_easy_setopt(s->h, CURLOPT_POSTFIELDSIZE, (long)s->req.body.len);
	} else {
		curl_easy_setopt(s->h, CURLOPT_HTTPGET, 1L);
	}
	llmo_buf_reset(&s->resp);
	s->busy = true;
	s->t0 = llmo_clock_mono_ns();
	curl_multi_add_handle(m, s->h);
}

static void show_error(struct lg *lg, const char *what, const char *detail)
{
	if (lg->errors_shown++ < LG_ERRORS_SHOWN)
		fprintf(stderr, "llmo-loadgen: %s: %.300s\n", what, detail);
}

/*
 * Looks inside the answer of a request that succeeded at the HTTP level;
 * returns false when the answer says it failed after all.
 */
typedef bool (*lg_done_fn)(struct lg *lg, const struct llmo_buf *resp, void *ctx);

/*
 * Runs `count` requests made by fill, `conc` at a time, recording each one's
 * latency in lat (ns). Returns the number that failed.
 */
static int64_t run_requests(struct lg *lg, int64_t count, int64_t conc, size_t resp_max,
			    lg_fill_fn fill, lg_done_fn done, void *ctx, lg_ns_vec *lat)
{
	CURLM *m = curl_multi_init();
	struct lg_slot *slots = calloc((size_t)conc, sizeof(*slots));
	int64_t next = 0, finished = 0, failed = 0;

	if (!m || !slots || llmo_vec_reserve(lat, (size_t)count)) {
		fprintf(stderr, "llmo-loadgen: out of memory\n");
		exit(1);
	}
	curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, (long)conc);
	curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, (long)conc);
	for (int64_t i = 0; i < conc; i++) {
		struct lg_slot *s = &slots[i];

		s->h = curl_easy_init();
		if (!s->h) {
			fprintf(stderr, "llmo-loadgen: curl_easy_init failed\n");
			exit(1);
		}
		easy_setup(lg, s->h);
		curl_easy_setopt(s->h, CURLOPT_WRITEFUNCTION, on_body);
		curl_easy_setopt(s->h, CURLOPT_WRITEDATA, &s->resp);
		curl_easy_setopt(s->h, CURLOPT_TIMEOUT, LG_REQUEST_TIMEOUT_S);
		curl_easy_setopt(s->h, CURLOPT_PRIVATE, s);
		llmo_buf_init(&s->req.body, LG_RESP_MAX);
		llmo_buf_init(&s->resp, resp_max);
	}
	while (finished < count) {
		CURLMsg *msg;
		int running, left;
		bool freed = false;

		for (int64_t i = 0; i < conc && next < count; i++) {
			struct lg_slot *s = &slots[i];

			if (s->busy)
				continue;
			llmo_buf_reset(&s->req.body);
			if (fill(lg, next, &s->req)) {
				fprintf(stderr, "llmo-loadgen: out of memory\n");
				exit(1);
			}
			next++;
			slot_start(lg, m, s);
		}
		curl_multi_perform(m, &running);
		while ((msg = curl_multi_info_read(m, &left))) {
			struct lg_slot *s;
			long code = 0;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
			lat->items[lat->len++] = llmo_clock_mono_ns() - s->t0;
			curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &code);
			if (msg->data.result != CURLE_OK) {
				failed++;
				show_error(lg, s->req.url, curl_easy_strerror(msg->data.result));
			} else if (code != s->req.expect) {
				failed++;
				show_error(lg, s->req.url, s->resp.data);
			} else if (done && !done(lg, &s->resp, ctx)) {
				failed++;
				show_error(lg, s->req.url, s->resp.data);
			}
			curl_multi_remove_handle(m, s->h);
			s->busy = false;
			finished++;
			freed = true;
		}
		/* refill a freed slot at once; wait only when nothing moved */
		if (!freed && finished < count && running)
			curl_multi_poll(m, NULL, 0, 100, NULL);
	}
	for (int64_t i = 0; i < conc; i++) {
		curl_easy_cleanup(slots[i].h);
		llmo_buf_release(&slots[i].req.body);
		llmo_buf_release(&slots[i].resp);
	}
	free(slots);
	curl_multi_cleanup(m);
	return failed;
}

/* ---- statistics ---- */

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Nearest-rank percentile of a sorted vector, in milliseconds. */
static double pct_ms(const lg_ns_vec *v, int p)
{
	size_t rank;

	if (!v->len)
		return 0;
	rank = ((size_t)p * v->len + 99) / 100;
	if (rank == 0)
		rank = 1;
	return (double)v->items[rank - 1] / 1e6;
}

static void print_latency(lg_ns_vec *v, const char *pfx)
{
	qsort(v->items, v->len, sizeof(*v->items), cmp_i64);
	printf(" %sp50_ms=%.3f %sp99_ms=%.3f %smax_ms=%.3f", pfx, pct_ms(v, 50), pfx, pct_ms(v, 99),
	       pfx, pct_ms(v, 100));
}

/* etcd answers a range over a missing key with 200 and no "kvs": a failed get. */
static bool etcd_get_found(struct lg *lg, const struct llmo_buf *resp, void *ctx)
{
	return strstr(resp->data, "\"kvs\"") != NULL;
}

static int64_t timed_phase(struct lg *lg, const char *phase, int64_t count, lg_fill_fn fill,
			   lg_done_fn done)
{
	lg_ns_vec lat = LLMO_VEC_INIT;
	int64_t t0 = llmo_clock_mono_ns(), failed;
	double secs;

	failed = run_requests(lg, count, lg->conc, LG_RESP_MAX, fill, done, NULL, &lat);
	secs = (double)(llmo_clock_mono_ns() - t0) / 1e9;
	printf("RESULT mode=%s phase=%s n=%" PRId64 " concurrency=%" PRId64 " errors=%" PRId64
	       " seconds=%.3f per_sec=%.1f",
	       lg->mode_name, phase, count, lg->conc, failed, secs,
	       (double)(count - failed) / secs);
	print_latency(&lat, "");
	printf("\n");
	fflush(stdout);
	if (lg->raw_path) {
		FILE *f = fopen(lg->raw_path, "a");

		if (!f) {
			fprintf(stderr, "llmo-loadgen: %s: %s\n", lg->raw_path, strerror(errno));
			exit(1);
		}
		for (size_t i = 0; i < lat.len; i++)
			fprintf(f, "%s %" PRId64 "\n", phase, lat.items[i]);
		if (fclose(f)) {
			fprintf(stderr, "llmo-loadgen: %s: %s\n", lg->raw_path, strerror(errno));
			exit(1);
		}
	}
	llmo_vec_release(&lat);
	return failed;
}

struct list_stats {
	int64_t items, bytes, bad;
};

static bool on_list(struct lg *lg, const struct llmo_buf *resp, void *ctx)
{
	struct list_stats *ls = ctx;
	json_t *doc = json_loadb(resp->data, resp->len, 0, NULL);
	json_t *items = json_object_get(doc, lg->mode == LG_LLMO ? "items" : "kvs");

	ls->bytes = (int64_t)resp->len;
	if (json_is_array(items))
		ls->items = (int64_t)json_array_size(items);
	else
		ls->bad++;
	json_decref(doc);
	return true;
}

static int64_t list_phase(struct lg *lg)
{
	struct list_stats ls = {0};
	lg_ns_vec lat = LLMO_VEC_INIT;
	int64_t failed;

	failed = run_requests(lg, lg->lists, 1, LG_LIST_RESP_MAX, fill_list, on_list, &ls, &lat);
	printf("RESULT mode=%s phase=list n=%" PRId64 " errors=%" PRId64 " items=%" PRId64
	       " bytes=%" PRId64,
	       lg->mode_name, lg->lists, failed + ls.bad, ls.items, ls.bytes);
	print_latency(&lat, "");
	printf("\n");
	fflush(stdout);
	llmo_vec_release(&lat);
	return failed + ls.bad;
}

/* ---- watch fan-out ---- */

struct lg_watcher {
	struct lg_watch *wt;
	size_t index; /* in the watcher array: the row of lg_watch.seen */
	CURL *h;
	struct llmo_buf line; /* the unfinished event line */
	bool established;     /* headers of a 200 answer are in */
	long status;
};

struct lg_watch {
	struct lg *lg;
	int64_t *write_start; /* per event: when its create was handed to curl; 0 = not yet */
	int64_t *last_seen;   /* per event: the latest arrival at any watcher */
	uint8_t *seen;        /* [watcher * events + event] */
	lg_ns_vec lag;        /* one per (event, watcher) delivery */
	int64_t delivered, duplicates, foreign, established;
	size_t name_prefix_len;
	char name_prefix[LG_NAME_MAX];
};

static size_t on_watch_header(char *p, size_t size, size_t nmemb, void *arg)
{
	struct lg_watcher *w = arg;
	size_t n = size * nmemb;

	if (n >= 5 && memcmp(p, "HTTP/", 5) == 0)
		w->established = false;
	if ((n == 2 && p[0] == '\r' && p[1] == '\n') || (n == 1 && p[0] == '\n')) {
		curl_easy_getinfo(w->h, CURLINFO_RESPONSE_CODE, &w->status);
		if (w->status == 200 && !w->established) {
			w->established = true;
			w->wt->established++;
		}
	}
	return n;
}

static int watch_index_of(struct lg_watch *wt, const char *name, int64_t *idx)
{
	if (!name || strncmp(name, wt->name_prefix, wt->name_prefix_len) != 0)
		return LLMO_ENOTFOUND;
	if (llmo_parse_int_range(name + wt->name_prefix_len, 0, wt->lg->events - 1, idx, NULL))
		return LLMO_ENOTFOUND;
	return wt->write_start[*idx] ? 0 : LLMO_ENOTFOUND;
}

static void watch_line(struct lg_watcher *w, const char *line, size_t len, int64_t now)
{
	struct lg_watch *wt = w->wt;
	json_t *ev = json_loadb(line, len, 0, NULL);
	const char *type = json_string_value(json_object_get(ev, "type"));
	const char *name = json_string_value(
		json_object_get(json_object_get(json_object_get(ev, "object"), "metadata"), "name"));
	int64_t idx;
	uint8_t *seen;

	if (!type || strcmp(type, "ADDED") != 0 || watch_index_of(wt, name, &idx)) {
		wt->foreign++;
		goto out;
	}
	seen = &wt->seen[w->index * (size_t)wt->lg->events + (size_t)idx];
	if (*seen) {
		wt->duplicates++;
		goto out;
	}
	*seen = 1;
	wt->delivered++;
	wt->lag.items[wt->lag.len++] = now - wt->write_start[idx];
	if (now > wt->last_seen[idx])
		wt->last_seen[idx] = now;
out:
	json_decref(ev);
}

static size_t on_watch_body(char *p, size_t size, size_t nmemb, void *arg)
{
	struct lg_watcher *w = arg;
	size_t n = size * nmemb, start = 0;
	int64_t now = llmo_clock_mono_ns();

	for (size_t i = 0; i < n; i++) {
		if (p[i] != '\n')
			continue;
		if (w->line.len) {
			if (llmo_buf_append(&w->line, p + start, i - start))
				return 0;
			watch_line(w, w->line.data, w->line.len, now);
			llmo_buf_reset(&w->line);
		} else {
			watch_line(w, p + start, i - start, now);
		}
		start = i + 1;
	}
	if (start < n && llmo_buf_append(&w->line, p + start, n - start))
		return 0;
	return n;
}

/*
 * The collection's current resourceVersion, from a LIST that matches nothing
 * (a field selector on a name never created): one small answer whatever the
 * size of the collection. (A LIST with limit=1 would be smaller still, but
 * llmo server answers a list cut short by `limit` with resourceVersion "0".)
 */
static int current_rv(struct lg *lg, char *rv, size_t n)
{
	CURL *h = curl_easy_init();
	struct llmo_buf resp;
	char url[LG_URL_MAX];
	long code = 0;
	json_t *doc = NULL;
	const char *s;
	int rc = LLMO_EIO;

	llmo_buf_init(&resp, LG_RESP_MAX);
	if (!h)
		goto out;
	collection_url(lg, "?fieldSelector=metadata.name%3Dllmo-loadgen-none", url, sizeof(url));
	easy_setup(lg, h);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, LG_REQUEST_TIMEOUT_S);
	if (curl_easy_perform(h) != CURLE_OK)
		goto out;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	doc = code == 200 ? json_loadb(resp.data, resp.len, 0, NULL) : NULL;
	s = json_string_value(json_object_get(json_object_get(doc, "metadata"), "resourceVersion"));
	if (!s)
		goto out;
	snprintf(rv, n, "%s", s);
	rc = 0;
out:
	if (rc)
		fprintf(stderr, "llmo-loadgen: cannot read the collection's resourceVersion\n");
	json_decref(doc);
	llmo_buf_release(&resp);
	if (h)
		curl_easy_cleanup(h);
	return rc;
}

static int64_t watch_phase(struct lg *lg)
{
	struct lg_watch wt = {.lg = lg, .lag = LLMO_VEC_INIT};
	size_t nw = (size_t)lg->watchers, ne = (size_t)lg->events;
	struct lg_watcher *ws = calloc(nw, sizeof(*ws));
	CURLM *m = curl_multi_init();
	CURL *writer = curl_easy_init();
	struct lg_req req;
	struct llmo_buf wresp;
	char rv[64], url[LG_URL_MAX];
	lg_ns_vec all = LLMO_VEC_INIT, wlat = LLMO_VEC_INIT;
	int64_t next = 0, written = 0, failed = 0, deadline, t0 = 0, wt0 = 0;
	bool writing = false;

	wt.write_start = calloc(ne, sizeof(int64_t));
	wt.last_seen = calloc(ne, sizeof(int64_t));
	wt.seen = calloc(nw * ne, 1);
	if (!ws || !m || !writer || !wt.write_start || !wt.last_seen || !wt.seen ||
	    llmo_vec_reserve(&wt.lag, nw * ne) || llmo_vec_reserve(&wlat, ne)) {
		fprintf(stderr, "llmo-loadgen: out of memory\n");
		exit(1);
	}
	object_name(lg, "-w", 0, wt.name_prefix, sizeof(wt.name_prefix));
	wt.name_prefix[strlen(wt.name_prefix) - 6] = '\0'; /* "PREFIX-w-" */
	wt.name_prefix_len = strlen(wt.name_prefix);
	llmo_buf_init(&req.body, LG_RESP_MAX);
	llmo_buf_init(&wresp, LG_RESP_MAX);
	if (current_rv(lg, rv, sizeof(rv))) {
		failed = 1;
		goto out;
	}
	{
		char tail[96];

		snprintf(tail, sizeof(tail), "?watch=true&resourceVersion=%s", rv);
		collection_url(lg, tail, url, sizeof(url));
	}

	/* open every watch, each on its own connection, and wait for their headers */
	curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, 0L);
	curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, (long)(nw + 1));
	for (size_t i = 0; i < nw; i++) {
		struct lg_watcher *w = &ws[i];

		w->wt = &wt;
		w->index = i;
		w->h = curl_easy_init();
		if (!w->h) {
			fprintf(stderr, "llmo-loadgen: curl_easy_init failed\n");
			exit(1);
		}
		llmo_buf_init(&w->line, LG_WATCH_LINE_MAX);
		easy_setup(lg, w->h);
		curl_easy_setopt(w->h, CURLOPT_URL, url);
		curl_easy_setopt(w->h, CURLOPT_FORBID_REUSE, 1L);
		curl_easy_setopt(w->h, CURLOPT_HEADERFUNCTION, on_watch_header);
		curl_easy_setopt(w->h, CURLOPT_HEADERDATA, w);
		curl_easy_setopt(w->h, CURLOPT_WRITEFUNCTION, on_watch_body);
		curl_easy_setopt(w->h, CURLOPT_WRITEDATA, w);
		curl_multi_add_handle(m, w->h);
	}
	deadline = llmo_clock_mono_ms() + LG_WATCH_SETUP_TIMEOUT_MS;
	while (wt.established < (int64_t)nw && llmo_clock_mono_ms() < deadline) {
		int running;

		curl_multi_perform(m, &running);
		curl_multi_poll(m, NULL, 0, 50, NULL);
	}
	if (wt.established < (int64_t)nw) {
		fprintf(stderr, "llmo-loadgen: only %" PRId64 " of %zu watches started\n",
			wt.established, nw);
		failed = 1;
		goto out;
	}

	/* write the events one after another while the watches read */
	easy_setup(lg, writer);
	curl_easy_setopt(writer, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(writer, CURLOPT_WRITEDATA, &wresp);
	curl_easy_setopt(writer, CURLOPT_TIMEOUT, LG_REQUEST_TIMEOUT_S);
	t0 = llmo_clock_mono_ns();
	deadline = 0;
	while (wt.delivered < (int64_t)(nw * ne)) {
		CURLMsg *msg;
		int running, left;

		if (!writing && next < (int64_t)ne) {
			char name[LG_NAME_MAX];

			object_name(lg, "-w", next, name, sizeof(name));
			llmo_buf_reset(&req.body);
			if (fill_write(lg, name, &req)) {
				fprintf(stderr, "llmo-loadgen: out of memory\n");
				exit(1);
			}
			curl_easy_setopt(writer, CURLOPT_URL, req.url);
			curl_easy_setopt(writer, CURLOPT_POSTFIELDS, req.body.data);
			curl_easy_setopt(writer, CURLOPT_POSTFIELDSIZE, (long)req.body.len);
			llmo_buf_reset(&wresp);
			wt0 = llmo_clock_mono_ns();
			wt.write_start[next] = wt0;
			next++;
			writing = true;
			curl_multi_add_handle(m, writer);
		}
		curl_multi_perform(m, &running);
		while ((msg = curl_multi_info_read(m, &left))) {
			long code = 0;

			if (msg->msg != CURLMSG_DONE)
				continue;
			if (msg->easy_handle != writer) {
				failed++;
				show_error(lg, "watch ended early",
					   curl_easy_strerror(msg->data.result));
				continue;
			}
			wlat.items[wlat.len++] = llmo_clock_mono_ns() - wt0;
			curl_easy_getinfo(writer, CURLINFO_RESPONSE_CODE, &code);
			if (msg->data.result != CURLE_OK || code != req.expect) {
				failed++;
				show_error(lg, "watch-phase create", wresp.data);
			}
			curl_multi_remove_handle(m, writer);
			writing = false;
			if (++written == (int64_t)ne)
				deadline = llmo_clock_mono_ms() + LG_WATCH_DRAIN_TIMEOUT_MS;
		}
		if (deadline && llmo_clock_mono_ms() > deadline)
			break;
		/* start the next create at once; wait only while one is in flight or all are done */
		if ((writing || next == (int64_t)ne) && wt.delivered < (int64_t)(nw * ne))
			curl_multi_poll(m, NULL, 0, 20, NULL);
	}

	for (size_t e = 0; e < ne; e++)
		if (wt.last_seen[e] && !llmo_vec_reserve(&all, all.len + 1))
			all.items[all.len++] = wt.last_seen[e] - wt.write_start[e];
	printf("RESULT mode=%s phase=watch watchers=%zu events=%zu deliveries=%" PRId64
	       " missing=%" PRId64 " duplicates=%" PRId64 " errors=%" PRId64 " seconds=%.3f",
	       lg->mode_name, nw, ne, wt.delivered, (int64_t)(nw * ne) - wt.delivered,
	       wt.duplicates, failed, (double)(llmo_clock_mono_ns() - t0) / 1e9);
	print_latency(&wt.lag, "lag_");
	print_latency(&all, "all_");
	print_latency(&wlat, "create_");
	printf("\n");
	fflush(stdout);
	if (wt.delivered < (int64_t)(nw * ne))
		failed++;
out:
	for (size_t i = 0; i < nw; i++) {
		if (ws[i].h) {
			curl_multi_remove_handle(m, ws[i].h);
			curl_easy_cleanup(ws[i].h);
		}
		llmo_buf_release(&ws[i].line);
	}
	if (writing)
		curl_multi_remove_handle(m, writer);
	curl_easy_cleanup(writer);
	curl_multi_cleanup(m);
	free(ws);
	free(wt.write_start);
	free(wt.last_seen);
	free(wt.seen);
	llmo_vec_release(&wt.lag);
	llmo_vec_release(&all);
	llmo_vec_release(&wlat);
	llmo_buf_release(&req.body);
	llmo_buf_release(&wresp);
	return failed;
}

/* ---- main ---- */

static char *read_token(const char *path)
{
	struct llmo_error err = {0};
	struct llmo_buf b;
	char *tok;

	llmo_buf_init(&b, LG_TOKEN_MAX);
	if (llmo_file_read(path, LG_TOKEN_MAX, &b, &err)) {
		fprintf(stderr, "llmo-loadgen: %s\n", err.msg);
		exit(2);
	}
	while (b.len && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == '\r'))
		llmo_buf_truncate(&b, b.len - 1);
	tok = llmo_buf_detach(&b, NULL);
	if (!tok) {
		fprintf(stderr, "llmo-loadgen: out of memory\n");
		exit(1);
	}
	return tok;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"mode", required_argument, NULL, 'm'},
		{"url", required_argument, NULL, 'u'},
		{"token-file", required_argument, NULL, 't'},
		{"cacert", required_argument, NULL, 'k'},
		{"requests", required_argument, NULL, 'n'},
		{"offset", required_argument, NULL, 'o'},
		{"raw", required_argument, NULL, 'r'},
		{"concurrency", required_argument, NULL, 'c'},
		{"gets", required_argument, NULL, 'g'},
		{"lists", required_argument, NULL, 'l'},
		{"watchers", required_argument, NULL, 'w'},
		{"events", required_argument, NULL, 'e'},
		{"namespace", required_argument, NULL, 's'},
		{"prefix", required_argument, NULL, 'p'},
		{"phases", required_argument, NULL, 'P'},
		{"seed", required_argument, NULL, 'S'},
		{NULL, 0, NULL, 0},
	};
	struct lg lg = {
		.mode = LG_LLMO,
		.mode_name = "llmo",
		.ns = "llm-workloads",
		.prefix = "bench",
		.n = 10000,
		.conc = 1,
		.gets = -1,
		.lists = 3,
		.watchers = 100,
		.events = 100,
		.phases = PH_CREATE | PH_GET | PH_LIST | PH_WATCH,
	};
	char hdr[LG_TOKEN_MAX + 64];
	int64_t failed = 0, seed = 1;
	int c;

	while ((c = getopt_long(argc, argv, "n:c:", opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			if (strcmp(optarg, "llmo") == 0)
				lg.mode = LG_LLMO;
			else if (strcmp(optarg, "etcd") == 0)
				lg.mode = LG_ETCD;
			else
				die_usage("--mode: llmo or etcd");
			lg.mode_name = lg.mode == LG_LLMO ? "llmo" : "etcd";
			break;
		case 'u':
			lg.url = optarg;
			break;
		case 't':
			lg.token = read_token(optarg);
			break;
		case 'k':
			lg.cacert = optarg;
			break;
		case 'n':
			lg.n = arg_int("-n", optarg, 1, 10000000);
			break;
		case 'o':
			lg.offset = arg_int("--offset", optarg, 0, 100000000);
			break;
		case 'r':
			lg.raw_path = optarg;
			break;
		case 'c':
			lg.conc = arg_int("-c", optarg, 1, 1000);
			break;
		case 'g':
			lg.gets = arg_int("--gets", optarg, 0, 100000000);
			break;
		case 'l':
			lg.lists = arg_int("--lists", optarg, 1, 1000);
			break;
		case 'w':
			lg.watchers = arg_int("--watchers", optarg, 1, 10000);
			break;
		case 'e':
			lg.events = arg_int("--events", optarg, 1, 1000000);
			break;
		case 's':
			lg.ns = optarg;
			break;
		case 'p':
			lg.prefix = optarg;
			break;
		case 'P':
			lg.phases = parse_phases(optarg);
			break;
		case 'S':
			seed = arg_int("--seed", optarg, 0, UINT_MAX);
			break;
		default:
			die_usage("unknown option");
		}
	}
	if (!lg.url || optind != argc)
		die_usage("--url is required");
	if (strlen(lg.prefix) > 40 || strlen(lg.ns) > 63)
		die_usage("--prefix (40) or --namespace (63) too long");
	if (lg.gets < 0)
		lg.gets = lg.n;
	if (lg.mode == LG_ETCD)
		lg.phases &= ~(unsigned)PH_WATCH;
	srandom((unsigned)seed);

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return 1;
	lg.headers = curl_slist_append(NULL, "Content-Type: application/json");
	lg.headers = curl_slist_append(lg.headers, "Accept: application/json");
	lg.headers = curl_slist_append(lg.headers, "Expect:");
	if (lg.token) {
		snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s", lg.token);
		lg.headers = curl_slist_append(lg.headers, hdr);
	}
	if (!lg.headers) {
		fprintf(stderr, "llmo-loadgen: out of memory\n");
		return 1;
	}
	if (lg.phases & PH_CREATE)
		failed += timed_phase(&lg, "create", lg.n, fill_create, NULL);
	if ((lg.phases & PH_GET) && lg.gets)
		failed += timed_phase(&lg, "get", lg.gets, fill_get,
				      lg.mode == LG_ETCD ? etcd_get_found : NULL);
	if (lg.phases & PH_LIST)
		failed += list_phase(&lg);
	if (lg.phases & PH_WATCH)
		failed += watch_phase(&lg);

	curl_slist_free_all(lg.headers);
	curl_global_cleanup();
	free(lg.token);
	return failed ? 1 : 0;
}
