/*
 * Gateway signals for the controller (signals.h): scrape, parse, keep two
 * samples per workload, and the arithmetic on them.
 */
#include "base/common.h"

#include <curl/curl.h>
#include <jansson.h>
#include <math.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/str.h"
#include "controller/signals.h"
#include "metrics/parse.h"

#include "base/banned.h"

/* ---- ingest ---- */

struct ingest {
	struct llmo__signals *s;
	struct llmo_hmap *into; /* the new "cur" */
	struct llmo_hmap *pods;
	int rc;
};

static struct llmo__wl_sample *wl_of(struct ingest *in, const char *model)
{
	struct llmo__wl_sample *w;

	if (!model || !*model || !strchr(model, '/'))
		return NULL; /* static-file models have no workload */
	if ((w = llmo_hmap_get(in->into, model)))
		return w;
	if (!(w = calloc(1, sizeof(*w))) || llmo_hmap_put(in->into, model, w, NULL)) {
		free(w);
		in->rc = LLMO_ENOMEM;
		return NULL;
	}
	return w;
}

static struct llmo__track_sample *track_of(struct llmo__wl_sample *w, const char *track)
{
	struct llmo__track_sample *t;

	if (!track)
		track = "";
	for (size_t i = 0; i < w->ntracks; i++)
		if (strcmp(w->tracks[i].name, track) == 0)
			return &w->tracks[i];
	if (w->ntracks == LLMO__SIG_TRACKS || strlen(track) > LLMO__SIG_TRACK_MAX)
		return NULL;
	t = &w->tracks[w->ntracks++];
	snprintf(t->name, sizeof(t->name), "%s", track);
	return t;
}

static bool failed_code(const char *code)
{
	return !code || !*code || code[0] == '5' || strcmp(code, "0") == 0;
}

static void add_bucket(struct llmo__track_sample *t, double le, double v)
{
	size_t i;

	for (i = 0; i < t->nb; i++) {
		if (t->le[i] == le) {
			t->cum[i] += v;
			return;
		}
		if (t->le[i] > le)
			break;
	}
	if (t->nb == LLMO__SIG_BUCKETS)
		return;
	memmove(&t->le[i + 1], &t->le[i], (t->nb - i) * sizeof(t->le[0]));
	memmove(&t->cum[i + 1], &t->cum[i], (t->nb - i) * sizeof(t->cum[0]));
	t->le[i] = le;
	t->cum[i] = v;
	t->nb++;
}

static int on_sample(void *arg, const char *name, const struct llmo_prom_label *l, size_t n,
		     double v)
{
	struct ingest *in = arg;
	const char *model = llmo_prom_label(l, n, "model");
	const char *track = llmo_prom_label(l, n, "track");
	struct llmo__wl_sample *w;
	struct llmo__track_sample *t;

	if (isnan(v))
		return 0;
	if (strcmp(name, "llmo_gateway_pod_inflight") == 0) {
		const char *ns = llmo_prom_label(l, n, "namespace"), *pod = llmo_prom_label(l, n, "pod");
		const char *wl = llmo_prom_label(l, n, "workload");
		char key[640];

		if (!ns || !pod || v < 0 || v > INT32_MAX - 1)
			return 0;
		snprintf(key, sizeof(key), "%s/%s", ns, pod);
		if (llmo_hmap_put(in->pods, key, (void *)(uintptr_t)((uint64_t)v + 1), NULL))
			return in->rc = LLMO_ENOMEM;
		snprintf(key, sizeof(key), "%s/%s", ns, wl ? wl : "");
		if (wl && (w = wl_of(in, key)))
			w->inflight += v;
		return in->rc;
	}
	if (strcmp(name, "llmo_gateway_requests_total") == 0) {
		if (!(w = wl_of(in, model)) || !(t = track_of(w, track)))
			return in->rc;
		t->requests += v;
		if (failed_code(llmo_prom_label(l, n, "code")))
			t->errors += v;
	} else if (strcmp(name, "llmo_gateway_upstream_attempts_total") == 0) {
		const char *outcome = llmo_prom_label(l, n, "outcome");

		if (!outcome || !(w = wl_of(in, model)) || !(t = track_of(w, track)))
			return in->rc;
		if (strcmp(outcome, "ok") == 0)
			t->attempts_ok += v;
		else
			t->attempts_failed += v;
	} else if (strcmp(name, "llmo_gateway_tokens_total") == 0) {
		const char *kind = llmo_prom_label(l, n, "kind");

		if (!kind || strcmp(kind, "completion") != 0 || !(w = wl_of(in, model)) ||
		    !(t = track_of(w, track)))
			return in->rc;
		t->tokens += v;
	} else if (strcmp(name, "llmo_gateway_request_duration_seconds_bucket") == 0) {
		const char *le = llmo_prom_label(l, n, "le");
		double b;
		struct llmo_error ignored = {0};

		if (!le || !(w = wl_of(in, model)) || !(t = track_of(w, track)))
			return in->rc;
		if (strcmp(le, "+Inf") == 0)
			b = INFINITY;
		else if (llmo_parse_double(le, &b, &ignored))
			return 0;
		add_bucket(t, b, v);
	} else if (strcmp(name, "llmo_gateway_pending_requests") == 0) {
		if ((w = wl_of(in, model)))
			w->pending += v;
	}
	return in->rc;
}

static void free_sample(void *v)
{
	free(v);
}

/* A query API answer into on_sample calls. */
static int parse_query(const char *json, size_t len, struct ingest *in, struct llmo_error *err)
{
	json_error_t jerr;
	json_t *root = json_loadb(json, len, 0, &jerr), *res, *it;
	size_t i;
	int rc = 0;

	if (!root)
		return llmo_error_set(err, LLMO_EPARSE, "Prometheus answer: %s (line %d)", jerr.text,
				      jerr.line);
	if (!json_is_string(json_object_get(root, "status")) ||
	    strcmp(json_string_value(json_object_get(root, "status")), "success") != 0) {
		const char *e = json_string_value(json_object_get(root, "error"));

		rc = llmo_error_set(err, LLMO_EIO, "Prometheus answered an error: %s",
				    e ? e : "(no message)");
		goto out;
	}
	res = json_object_get(json_object_get(root, "data"), "result");
	if (!json_is_array(res)) {
		rc = llmo_error_set(err, LLMO_EPARSE, "Prometheus answer: no data.result array");
		goto out;
	}
	json_array_foreach(res, i, it) {
		struct llmo_prom_label labels[LLMO_PROM_LABELS_MAX];
		const json_t *metric = json_object_get(it, "metric"), *lv;
		const char *name = json_string_value(json_object_get(metric, "__name__"));
		const char *val = json_string_value(json_array_get(json_object_get(it, "value"), 1));
		const char *k;
		struct llmo_error ignored = {0};
		size_t n = 0;
		double v;

		if (!name || !val)
			continue;
		if (strcmp(val, "NaN") == 0 || llmo_parse_double(val, &v, &ignored))
			continue;
		json_object_foreach((json_t *)metric, k, lv) {
			if (!json_is_string(lv) || strcmp(k, "__name__") == 0 || strcmp(k, "job") == 0 ||
			    strcmp(k, "instance") == 0 || n == LLMO_PROM_LABELS_MAX)
				continue;
			labels[n].name = k;
			labels[n].value = json_string_value(lv);
			n++;
		}
		if ((rc = on_sample(in, name, labels, n, v))) {
			llmo_error_set(err, rc, "out of memory");
			goto out;
		}
	}
out:
	json_decref(root);
	return rc;
}

/* A scrape's text (or a query answer) into fresh maps of samples and pods. */
static int parse_into(struct llmo__signals *s, bool query, const char *text, size_t len,
		      struct llmo_hmap *cur, struct llmo_hmap *pods, struct llmo_error *err)
{
	struct ingest in = {.s = s, .into = cur, .pods = pods};
	int rc;

	llmo_hmap_init(cur);
	llmo_hmap_init(pods);
	rc = query ? parse_query(text, len, &in, err) : llmo_prom_parse(text, len, on_sample, &in, err);
	if (rc == LLMO_ENOMEM && !err->msg[0])
		llmo_error_set(err, rc, "out of memory");
	if (rc) {
		llmo_hmap_release(cur, free_sample);
		llmo_hmap_release(pods, NULL);
	}
	return rc;
}

/* The new samples become the current ones, the current ones the previous. */
static void install(struct llmo__signals *s, struct llmo_hmap cur, struct llmo_hmap pods,
		    int64_t now_ms)
{
	llmo_hmap_release(&s->prev, free_sample);
	s->prev = s->cur;
	s->prev_ms = s->cur_ms;
	s->cur = cur;
	s->cur_ms = now_ms;
	s->cur_wall_ms = llmo_clock_wall_ms();
	llmo_hmap_release(&s->pods, NULL);
	s->pods = pods;
}

static int ingest_any(struct llmo__signals *s, bool query, const char *text, size_t len,
		      int64_t now_ms, struct llmo_error *err)
{
	struct llmo_hmap cur, pods;
	int rc = parse_into(s, query, text, len, &cur, &pods, err);

	if (!rc)
		install(s, cur, pods, now_ms);
	return rc;
}

int llmo__signals_ingest(struct llmo__signals *s, const char *text, size_t len, int64_t now_ms,
			 struct llmo_error *err)
{
	return ingest_any(s, false, text, len, now_ms, err);
}

/* ---- several gateways (gateways_fn) ---- */

/* What one gateway said at its last answer. */
struct inst {
	struct llmo_hmap wl;   /* workload key -> struct llmo__wl_sample * */
	struct llmo_hmap pods; /* as llmo__signals.pods */
};

static void inst_free(void *v)
{
	struct inst *g = v;

	if (!g)
		return;
	llmo_hmap_release(&g->wl, free_sample);
	llmo_hmap_release(&g->pods, NULL);
	free(g);
}

/* agg's track += now - then (then NULL: all of now); a reset counts from zero. */
static void add_delta(struct llmo__track_sample *agg, const struct llmo__track_sample *now,
		      const struct llmo__track_sample *then)
{
	struct llmo__track_sample d;

	llmo__track_delta(now, then, &d);
	agg->requests += d.requests;
	agg->errors += d.errors;
	agg->tokens += d.tokens;
	agg->attempts_ok += d.attempts_ok;
	agg->attempts_failed += d.attempts_failed;
	for (size_t b = 0; b < d.nb; b++)
		add_bucket(agg, d.le[b], d.cum[b]);
}

/* The pods' in-flight counts of src added into dst (values are count + 1). */
static int add_pods(struct llmo_hmap *dst, const struct llmo_hmap *src)
{
	size_t it = 0;
	const char *k;
	void *v;

	while (llmo_hmap_next(src, &it, &k, &v)) {
		uintptr_t have = (uintptr_t)llmo_hmap_get(dst, k);
		uintptr_t sum = have ? have + (uintptr_t)v - 1 : (uintptr_t)v;

		if (llmo_hmap_put(dst, k, (void *)sum, NULL))
			return LLMO_ENOMEM;
	}
	return 0;
}

/* One gateway's new samples (now) added into agg, against its previous ones (old). */
static int add_gateway(struct llmo_hmap *agg, const struct llmo_hmap *now,
		       const struct inst *old)
{
	size_t it = 0;
	const char *key;
	void *v;

	while (llmo_hmap_next(now, &it, &key, &v)) {
		const struct llmo__wl_sample *w = v;
		const struct llmo__wl_sample *ow = old ? llmo_hmap_get(&old->wl, key) : NULL;
		struct llmo__wl_sample *a = llmo_hmap_get(agg, key);

		if (!a && (!(a = calloc(1, sizeof(*a))) || llmo_hmap_put(agg, key, a, NULL))) {
			free(a);
			return LLMO_ENOMEM;
		}
		for (size_t t = 0; t < w->ntracks; t++) {
			struct llmo__track_sample *at = track_of(a, w->tracks[t].name);

			if (at)
				add_delta(at, &w->tracks[t],
					  ow ? llmo__sample_track(ow, w->tracks[t].name) : NULL);
		}
		a->inflight += w->inflight;
		a->pending += w->pending;
	}
	return 0;
}

static bool listed(size_t n, const char *const *ids, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(ids[i], id) == 0)
			return true;
	return false;
}

int llmo__signals_ingest_many(struct llmo__signals *s, size_t n, const char *const *ids,
			      const char *const *texts, const size_t *lens, const bool *ok,
			      int64_t now_ms, struct llmo_error *err)
{
	struct llmo_hmap agg, pods;
	size_t it = 0;
	const char *key;
	void *v;
	int rc = 0;

	llmo_hmap_init(&agg);
	llmo_hmap_init(&pods);
	/* the counters go on from the current sample; the gauges are summed anew */
	while (!rc && llmo_hmap_next(&s->cur, &it, &key, &v)) {
		struct llmo__wl_sample *c = malloc(sizeof(*c));

		if (!c || llmo_hmap_put(&agg, key, c, NULL)) {
			free(c);
			rc = LLMO_ENOMEM;
			break;
		}
		*c = *(const struct llmo__wl_sample *)v;
		c->inflight = c->pending = 0;
	}
	for (size_t i = 0; !rc && i < n; i++) {
		struct inst *old = llmo_hmap_get(&s->inst, ids[i]), *g;
		struct llmo_error perr = {0};

		if (!ok[i] || !texts[i]) {
			/* not read this tick: its last in-flight counts stand (a drain waits) */
			if (old)
				rc = add_pods(&pods, &old->pods);
			continue;
		}
		if (!(g = calloc(1, sizeof(*g)))) {
			rc = LLMO_ENOMEM;
			break;
		}
		if (parse_into(s, false, texts[i], lens[i], &g->wl, &g->pods, &perr)) {
			free(g);
			if (perr.code == LLMO_ENOMEM) {
				rc = LLMO_ENOMEM;
				break;
			}
			llmo_error_set(err, perr.code, "gateway %s: %s", ids[i], perr.msg);
			if (old)
				rc = add_pods(&pods, &old->pods);
			continue; /* taken as not read; the message is kept */
		}
		rc = add_gateway(&agg, &g->wl, old);
		if (!rc)
			rc = add_pods(&pods, &g->pods);
		if (!rc && llmo_hmap_put(&s->inst, ids[i], g, (void **)&old))
			rc = LLMO_ENOMEM;
		if (rc) {
			inst_free(g);
			break;
		}
		inst_free(old);
	}
	if (rc) {
		llmo_hmap_release(&agg, free_sample);
		llmo_hmap_release(&pods, NULL);
		return llmo_error_set(err, rc, "out of memory");
	}
	/* gateways that are gone */
	for (bool again = true; again;) {
		again = false;
		it = 0;
		while (llmo_hmap_next(&s->inst, &it, &key, &v)) {
			if (listed(n, ids, key))
				continue;
			if (llmo_hmap_del(&s->inst, key, &v) == 0)
				inst_free(v);
			again = true; /* the iteration does not survive a delete */
			break;
		}
	}
	install(s, agg, pods, now_ms);
	return 0;
}

int llmo__signals_ingest_query(struct llmo__signals *s, const char *json, size_t len,
			       int64_t now_ms, struct llmo_error *err)
{
	return ingest_any(s, true, json, len, now_ms, err);
}

/* ---- replicas ---- */

struct replica_ingest {
	double kv, waiting, running;
	bool has_kv;
};

static int on_replica_sample(void *arg, const char *name, const struct llmo_prom_label *l,
			     size_t n, double v)
{
	struct replica_ingest *r = arg;

	(void)l;
	(void)n;
	if (isnan(v) || isinf(v) || v < 0)
		return 0;
	if (strcmp(name, "vllm:gpu_cache_usage_perc") == 0) {
		r->kv += v > 1 ? 1 : v;
		r->has_kv = true;
	} else if (strcmp(name, "vllm:num_requests_waiting") == 0) {
		r->waiting += v;
	} else if (strcmp(name, "vllm:num_requests_running") == 0) {
		r->running += v;
	}
	return 0;
}

void llmo__signals_replicas_begin(struct llmo__signals *s)
{
	llmo_hmap_release(&s->next, free_sample);
}

int llmo__signals_replica_ingest(struct llmo__signals *s, const char *key, const char *text,
				 size_t len)
{
	struct replica_ingest r = {0};
	struct llmo__replica_stats *st;
	struct llmo_error err = {0};

	if (llmo_prom_parse(text, len, on_replica_sample, &r, &err))
		return err.code;
	if (!(st = llmo_hmap_get(&s->next, key))) {
		if (!(st = calloc(1, sizeof(*st))) || llmo_hmap_put(&s->next, key, st, NULL)) {
			free(st);
			return LLMO_ENOMEM;
		}
	}
	if (r.has_kv) {
		st->kv_sum += r.kv;
		st->replicas++;
	}
	st->waiting += r.waiting;
	st->running += r.running;
	return 0;
}

void llmo__signals_replicas_end(struct llmo__signals *s)
{
	llmo_hmap_release(&s->replicas, free_sample);
	s->replicas = s->next;
	llmo_hmap_init(&s->next);
}

const struct llmo__replica_stats *llmo__signals_replicas(const struct llmo__signals *s,
							const char *key)
{
	return llmo_hmap_get(&s->replicas, key);
}

/* ---- scrape ---- */

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
	struct llmo_buf *b = arg;

	if (llmo_buf_append(b, data, size * n))
		return 0; /* over LLMO__SIG_BODY_MAX: libcurl fails the transfer */
	return size * n;
}

int llmo__signals_scrape_replica(struct llmo__signals *s, const char *key, const char *endpoint,
				 const char *tls_name, const char *ca)
{
	struct curl_slist *resolve = NULL;
	const char *colon = strrchr(endpoint, ':');
	struct llmo_buf body;
	char url[640], pin[640];
	long status = 0;
	int rc = LLMO_EIO;

	if (!s->curl)
		return LLMO_EINVAL;
	if (tls_name && (!ca || !colon))
		return LLMO_EINVAL;
	llmo_buf_init(&body, LLMO__SIG_BODY_MAX);
	curl_easy_reset(s->curl);
	if (tls_name) {
		/* the name the certificate carries, at the replica's address */
		snprintf(url, sizeof(url), "https://%s%s/metrics", tls_name, colon);
		snprintf(pin, sizeof(pin), "%s%s:%.*s", tls_name, colon, (int)(colon - endpoint),
			 endpoint);
		if (!(resolve = curl_slist_append(NULL, pin))) {
			llmo_buf_release(&body);
			return LLMO_ENOMEM;
		}
		curl_easy_setopt(s->curl, CURLOPT_RESOLVE, resolve);
		curl_easy_setopt(s->curl, CURLOPT_CAINFO, ca);
	} else {
		snprintf(url, sizeof(url), "http://%s/metrics", endpoint);
	}
	curl_easy_setopt(s->curl, CURLOPT_URL, url);
	curl_easy_setopt(s->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(s->curl, CURLOPT_TIMEOUT_MS, LLMO__SIG_REPLICA_TIMEOUT_MS);
	curl_easy_setopt(s->curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(s->curl, CURLOPT_WRITEDATA, &body);
	if (curl_easy_perform(s->curl) == CURLE_OK &&
	    curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK &&
	    status == 200)
		rc = llmo__signals_replica_ingest(s, key, body.data ? body.data : "", body.len);
	llmo_buf_release(&body);
	curl_easy_setopt(s->curl, CURLOPT_RESOLVE, NULL);
	curl_slist_free_all(resolve);
	return rc;
}

/* GET url into body (the pinned CA with ca). 0 or LLMO_EIO naming url. */
static int get_body(struct llmo__signals *s, const char *url, const char *ca,
		    struct llmo_buf *body, struct llmo_error *err)
{
	CURLcode cc;
	long status = 0;

	curl_easy_reset(s->curl);
	curl_easy_setopt(s->curl, CURLOPT_URL, url);
	if (ca) {
		curl_easy_setopt(s->curl, CURLOPT_CAINFO, ca);
		curl_easy_setopt(s->curl, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	curl_easy_setopt(s->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(s->curl, CURLOPT_TIMEOUT_MS, LLMO__SIG_TIMEOUT_MS);
	curl_easy_setopt(s->curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(s->curl, CURLOPT_WRITEDATA, body);
	cc = curl_easy_perform(s->curl);
	if (cc != CURLE_OK)
		return llmo_error_set(err, LLMO_EIO, "scraping %s: %s", url,
				      cc == CURLE_WRITE_ERROR ? "answer too large"
							      : curl_easy_strerror(cc));
	curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200)
		return llmo_error_set(err, LLMO_EIO, "scraping %s: HTTP status %ld", url, status);
	return 0;
}

/* Every gateway gateways_fn names, read one after the other, added up. */
static int scrape_gateways(struct llmo__signals *s, struct llmo_error *err)
{
	struct llmo_strv ids = LLMO_STRV_INIT, urls = LLMO_STRV_INIT;
	struct llmo_buf *bodies = NULL;
	const char **texts = NULL;
	size_t *lens = NULL, answered = 0;
	bool *ok = NULL;
	int rc = s->gateways_fn(s->gateways_ctx, &ids, &urls);

	if (!rc && ids.len != urls.len)
		rc = LLMO_EINVAL;
	if (!rc && ids.len &&
	    (!(bodies = calloc(ids.len, sizeof(*bodies))) ||
	     !(texts = calloc(ids.len, sizeof(*texts))) || !(lens = calloc(ids.len, sizeof(*lens))) ||
	     !(ok = calloc(ids.len, sizeof(*ok)))))
		rc = LLMO_ENOMEM;
	if (rc) {
		llmo_error_set(err, rc, "listing the gateways: %s", llmo_strerror(rc));
		goto out;
	}
	for (size_t i = 0; i < ids.len; i++) {
		struct llmo_error gerr = {0};

		llmo_buf_init(&bodies[i], LLMO__SIG_BODY_MAX);
		ok[i] = get_body(s, urls.items[i], NULL, &bodies[i], &gerr) == 0;
		if (!ok[i]) {
			*err = gerr; /* the last failure is what is reported */
			continue;
		}
		texts[i] = bodies[i].data ? bodies[i].data : "";
		lens[i] = bodies[i].len;
		answered++;
	}
	if (ids.len && !answered) {
		rc = err->code ? err->code : LLMO_EIO;
		goto out;
	}
	rc = llmo__signals_ingest_many(s, ids.len, (const char *const *)ids.items, texts, lens, ok,
				       llmo_clock_mono_ms(), err);
out:
	for (size_t i = 0; bodies && i < ids.len; i++)
		llmo_buf_release(&bodies[i]);
	free(bodies);
	free(texts);
	free(lens);
	free(ok);
	llmo_strv_release(&ids);
	llmo_strv_release(&urls);
	return rc;
}

int llmo__signals_scrape(struct llmo__signals *s)
{
	struct llmo_error err = {0};
	struct llmo_buf body;
	int rc = 0;

	s->scrapes++;
	llmo_buf_init(&body, LLMO__SIG_BODY_MAX);
	if (s->gateways_fn) {
		rc = scrape_gateways(s, &err);
	} else if (s->prometheus) {
		char *q = curl_easy_escape(s->curl, LLMO__SIG_PROM_QUERY, 0);
		char url[2048];

		snprintf(url, sizeof(url), "%s/api/v1/query?query=%s", s->url, q ? q : "");
		curl_free(q);
		rc = get_body(s, url, NULL, &body, &err);
	} else {
		rc = get_body(s, s->url, s->ca, &body, &err);
	}
	if (!rc && !s->gateways_fn &&
	    (rc = ingest_any(s, s->prometheus, body.data ? body.data : "", body.len,
			     llmo_clock_mono_ms(), &err))) {
		char msg[sizeof(err.msg)];

		snprintf(msg, sizeof(msg), "%s", err.msg);
		llmo_error_set(&err, rc, "scraping %s: %s", s->url, msg);
	}
	if (rc) {
		s->failures++;
		snprintf(s->error, sizeof(s->error), "%s", err.msg);
	} else {
		s->error[0] = '\0';
	}
	llmo_buf_release(&body);
	return rc;
}

int llmo__signals_init(struct llmo__signals *s, const char *url, long interval_ms,
		       struct llmo_error *err)
{
	memset(s, 0, sizeof(*s));
	llmo_hmap_init(&s->cur);
	llmo_hmap_init(&s->prev);
	llmo_hmap_init(&s->pods);
	llmo_hmap_init(&s->replicas);
	llmo_hmap_init(&s->next);
	llmo_hmap_init(&s->inst);
	s->interval_ms = interval_ms;
	if (!url)
		return 0;
	if (!(s->url = llmo_strdup(url)) || !(s->curl = curl_easy_init())) {
		llmo__signals_release(s);
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	}
	return 0;
}

void llmo__signals_release(struct llmo__signals *s)
{
	if (s->curl)
		curl_easy_cleanup(s->curl);
	free(s->url);
	free(s->ca);
	llmo_hmap_release(&s->cur, free_sample);
	llmo_hmap_release(&s->prev, free_sample);
	llmo_hmap_release(&s->pods, NULL);
	llmo_hmap_release(&s->replicas, free_sample);
	llmo_hmap_release(&s->next, free_sample);
	llmo_hmap_release(&s->inst, inst_free);
	s->curl = NULL;
	s->url = NULL;
	s->ca = NULL;
}

/* ---- queries ---- */

const struct llmo__wl_sample *llmo__signals_get(const struct llmo__signals *s, const char *key,
						bool prev)
{
	return llmo_hmap_get(prev ? &s->prev : &s->cur, key);
}

const struct llmo__track_sample *llmo__sample_track(const struct llmo__wl_sample *w,
						    const char *track)
{
	if (!w)
		return NULL;
	for (size_t i = 0; i < w->ntracks; i++)
		if (strcmp(w->tracks[i].name, track) == 0)
			return &w->tracks[i];
	return NULL;
}

void llmo__sample_total(const struct llmo__wl_sample *w, struct llmo__track_sample *out)
{
	memset(out, 0, sizeof(*out));
	if (!w)
		return;
	for (size_t i = 0; i < w->ntracks; i++) {
		const struct llmo__track_sample *t = &w->tracks[i];

		out->requests += t->requests;
		out->errors += t->errors;
		out->tokens += t->tokens;
		out->attempts_ok += t->attempts_ok;
		out->attempts_failed += t->attempts_failed;
		for (size_t b = 0; b < t->nb; b++)
			add_bucket(out, t->le[b], t->cum[b]);
	}
}

static double counter_delta(double now, double then)
{
	return now >= then ? now - then : now; /* a reset counts from zero */
}

void llmo__track_delta(const struct llmo__track_sample *now, const struct llmo__track_sample *then,
		       struct llmo__track_sample *out)
{
	static const struct llmo__track_sample zero;
	bool reset;

	if (!then)
		then = &zero;
	reset = now->requests < then->requests;
	*out = *now;
	out->requests = counter_delta(now->requests, then->requests);
	out->errors = reset ? now->errors : counter_delta(now->errors, then->errors);
	out->tokens = counter_delta(now->tokens, then->tokens);
	out->attempts_ok = reset ? now->attempts_ok : counter_delta(now->attempts_ok, then->attempts_ok);
	out->attempts_failed =
		reset ? now->attempts_failed : counter_delta(now->attempts_failed, then->attempts_failed);
	for (size_t i = 0; i < out->nb; i++) {
		double old = 0;

		for (size_t j = 0; j < then->nb && !reset; j++)
			if (then->le[j] == out->le[i])
				old = then->cum[j];
		out->cum[i] = counter_delta(now->cum[i], old);
	}
}

double llmo__track_quantile(const struct llmo__track_sample *h, double q)
{
	double total, rank, lo_le = 0, lo_cum = 0;

	if (h->nb == 0 || !isinf(h->le[h->nb - 1]) || (total = h->cum[h->nb - 1]) <= 0)
		return NAN;
	rank = q * total;
	for (size_t i = 0; i < h->nb; i++) {
		if (h->cum[i] >= rank) {
			if (isinf(h->le[i])) /* in the +Inf bucket: the largest finite bound */
				return i > 0 ? h->le[i - 1] : NAN;
			if (h->cum[i] == lo_cum)
				return h->le[i];
			return lo_le + (h->le[i] - lo_le) * (rank - lo_cum) / (h->cum[i] - lo_cum);
		}
		lo_le = h->le[i];
		lo_cum = h->cum[i];
	}
	return NAN;
}

int llmo__signals_pod_inflight(const struct llmo__signals *s, const char *ns, const char *name)
{
	char key[640];
	uintptr_t v;

	snprintf(key, sizeof(key), "%s/%s", ns, name);
	v = (uintptr_t)llmo_hmap_get(&s->pods, key);
	return v ? (int)(v - 1) : -1;
}
