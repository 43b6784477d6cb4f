/*
 * API keys, tenants and their token buckets (keys.h).
 */
#include "base/common.h"

#include <math.h>

#include "base/json.h"
#include "base/str.h"
#include "gateway/doc.h"
#include "gateway/keys.h"

#include "base/banned.h"

#define NS_PER_S 1e9

/* ---- buckets ---- */

static void refill(struct llmo_gw_bucket *b, int64_t now)
{
	double cap = b->rate_per_s * 60;

	if (b->last_ns == 0) {
		b->level = cap;
	} else if (now > b->last_ns) {
		b->level += (double)(now - b->last_ns) / NS_PER_S * b->rate_per_s;
		if (b->level > cap)
			b->level = cap;
	}
	b->last_ns = now;
}

/* Seconds (at least 1) until b holds want. */
static int64_t wait_for(const struct llmo_gw_bucket *b, double want)
{
	/* less a hair: 1 / (1/30) must be 30, not 30.000000000000004 rounded up */
	double s = ceil((want - b->level) / b->rate_per_s - 1e-6);

	return s < 1 ? 1 : s > 86400 ? 86400 : (int64_t)s;
}

int64_t llmo_gw_bucket_take(struct llmo_gw_bucket *b, int64_t now)
{
	if (b->rate_per_s <= 0)
		return 0;
	refill(b, now);
	if (b->level < 1)
		return wait_for(b, 1);
	b->level -= 1;
	return 0;
}

bool llmo_gw_bucket_positive(struct llmo_gw_bucket *b, int64_t now, int64_t *retry_s)
{
	if (b->rate_per_s <= 0)
		return true;
	refill(b, now);
	if (b->level >= 0)
		return true;
	*retry_s = wait_for(b, 0);
	return false;
}

void llmo_gw_bucket_debit(struct llmo_gw_bucket *b, int64_t now, double n)
{
	if (b->rate_per_s <= 0)
		return;
	refill(b, now);
	b->level -= n;
}

/* ---- the keys object ---- */

static void tenant_free(struct llmo_gw_tenant *t)
{
	if (!t)
		return;
	free(t->name);
	free(t);
}

void llmo_gw_keys_ref(struct llmo_gw_keys *k)
{
	k->refs++;
}

void llmo_gw_keys_unref(struct llmo_gw_keys *k)
{
	if (!k || --k->refs > 0)
		return;
	for (size_t i = 0; i < k->tenants.len; i++)
		tenant_free(k->tenants.items[i]);
	llmo_vec_release(&k->tenants);
	llmo_hmap_release(&k->by_key, NULL);
	free(k);
}

struct llmo_gw_tenant *llmo_gw_keys_lookup(const struct llmo_gw_keys *k, const char *key,
					   size_t len)
{
	if (!k || len < LLMO_GW_KEY_MIN || len > LLMO_GW_KEY_MAX || memchr(key, '\0', len))
		return NULL;
	return llmo_hmap_getn(&k->by_key, key, len);
}

static void carry(struct llmo_gw_bucket *to, const struct llmo_gw_bucket *old)
{
	if (to->rate_per_s <= 0 || old->rate_per_s <= 0)
		return;
	to->level = old->level;
	to->last_ns = old->last_ns;
}

void llmo_gw_keys_carry(struct llmo_gw_keys *to, const struct llmo_gw_keys *old)
{
	for (size_t i = 0; old && i < to->tenants.len; i++) {
		struct llmo_gw_tenant *t = to->tenants.items[i];

		for (size_t j = 0; j < old->tenants.len; j++) {
			const struct llmo_gw_tenant *o = old->tenants.items[j];

			if (strcmp(o->name, t->name) != 0)
				continue;
			/* the levels carry over, capped by the new limits at the next refill */
			carry(&t->requests, &o->requests);
			carry(&t->tokens, &o->tokens);
			break;
		}
	}
}

static bool name_ok(const char *s)
{
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      *s == '.' || *s == '_' || *s == '-'))
			return false;
	return true;
}

static bool key_ok(const char *s, size_t len)
{
	if (len < LLMO_GW_KEY_MIN || len > LLMO_GW_KEY_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (s[i] <= ' ' || s[i] > '~')
			return false;
	return true;
}

/* An optional per-minute limit: *per_s 0 when absent. */
static int limit(struct llmo_gw_doc *c, const json_t *obj, const char *key, int64_t max,
		 double *per_s)
{
	json_t *v = json_object_get(obj, key);
	size_t keep = c->path.len;

	*per_s = 0;
	if (!v)
		return 0;
	llmo_path_push_key(&c->path, key);
	if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > max)
		return llmo_gw_doc_bad(c, "expected an integer from 1 to %" PRId64 " (per minute)",
				       max);
	*per_s = (double)json_integer_value(v) / 60;
	llmo_buf_truncate(&c->path, keep);
	return 0;
}

static int tenant(struct llmo_gw_doc *c, struct llmo_gw_keys *k, const json_t *o)
{
	static const char *const fields[] = {"name", "keys", "requestsPerMinute", "tokensPerMinute",
					     NULL};
	const json_t *keys = json_object_get(o, "keys"), *v;
	struct llmo_gw_tenant *t, **slot;
	const char *name;
	size_t keep = c->path.len, k1, i;
	int rc;

	if (!json_is_object(o))
		return llmo_gw_doc_bad(c, "expected a mapping with name and keys");
	if ((rc = llmo_gw_doc_known_keys(c, o, fields)) ||
	    (rc = llmo_gw_doc_string(c, o, "name", LLMO_GW_TENANT_MAX, &name, true)))
		return rc;
	if (!name_ok(name)) {
		llmo_path_push_key(&c->path, "name");
		return llmo_gw_doc_bad(c, "expected letters, digits, '.', '_' or '-'");
	}
	for (i = 0; i < k->tenants.len; i++)
		if (strcmp(k->tenants.items[i]->name, name) == 0) {
			llmo_path_push_key(&c->path, "name");
			return llmo_gw_doc_bad(c, "tenant \"%s\" is listed twice", name);
		}
	if (!(t = calloc(1, sizeof(*t))) || !(t->name = llmo_strdup(name)) ||
	    !(slot = llmo_vec_push(&k->tenants))) {
		tenant_free(t);
		return llmo_error_set(c->err, LLMO_ENOMEM, "out of memory");
	}
	*slot = t;
	if ((rc = limit(c, o, "requestsPerMinute", LLMO_GW_RPM_MAX, &t->requests.rate_per_s)) ||
	    (rc = limit(c, o, "tokensPerMinute", LLMO_GW_TPM_MAX, &t->tokens.rate_per_s)))
		return rc;
	llmo_path_push_key(&c->path, "keys");
	if (!json_is_array(keys) || json_array_size(keys) == 0)
		return llmo_gw_doc_bad(c, keys ? "expected a non-empty list of keys" : "required");
	k1 = c->path.len;
	json_array_foreach(keys, i, v) {
		const char *key = json_string_value(v);
		size_t len = json_string_length(v);

		llmo_buf_truncate(&c->path, k1);
		llmo_path_push_index(&c->path, i);
		if (!key || !key_ok(key, len))
			return llmo_gw_doc_bad(c, "expected a key of %d to %d visible ASCII characters",
					       LLMO_GW_KEY_MIN, LLMO_GW_KEY_MAX);
		if (llmo_hmap_get(&k->by_key, key))
			return llmo_gw_doc_bad(c, "this key is listed twice"); /* never quoted */
		if (llmo_hmap_put(&k->by_key, key, t, NULL))
			return llmo_error_set(c->err, LLMO_ENOMEM, "out of memory");
	}
	llmo_buf_truncate(&c->path, keep);
	return 0;
}

int llmo_gw_keys_from_json(const json_t *root, const struct llmo_yaml_doc *doc, const char *name,
			   struct llmo_gw_keys **out, struct llmo_error *err)
{
	static const char *const fields[] = {"tenants", NULL};
	struct llmo_gw_doc c = {.doc = doc, .name = name ? name : "<keys>", .err = err};
	struct llmo_gw_keys *k = NULL;
	const json_t *tenants, *o;
	size_t i;
	int rc;

	*out = NULL;
	llmo_buf_init(&c.path, 4096);
	if (!json_is_object(root)) {
		rc = llmo_gw_doc_bad(&c, "expected a mapping with \"tenants\"");
		goto out;
	}
	if ((rc = llmo_gw_doc_known_keys(&c, root, fields)))
		goto out;
	tenants = json_object_get(root, "tenants");
	llmo_path_push_key(&c.path, "tenants");
	if (!json_is_array(tenants)) {
		rc = llmo_gw_doc_bad(&c, tenants ? "expected a list of tenants" : "required");
		goto out;
	}
	if (json_array_size(tenants) > LLMO_GW_TENANTS_MAX) {
		rc = llmo_gw_doc_bad(&c, "more than %d tenants", LLMO_GW_TENANTS_MAX);
		goto out;
	}
	if (!(k = calloc(1, sizeof(*k)))) {
		rc = llmo_error_set(err, LLMO_ENOMEM, "out of memory");
		goto out;
	}
	k->refs = 1;
	llmo_hmap_init(&k->by_key);
	json_array_foreach(tenants, i, o) {
		llmo_buf_truncate(&c.path, strlen("tenants"));
		llmo_path_push_index(&c.path, i);
		if ((rc = tenant(&c, k, o)))
			goto out;
	}
	*out = k;
	k = NULL;
out:
	llmo_gw_keys_unref(k);
	llmo_buf_release(&c.path);
	return rc;
}

int llmo_gw_keys_from_file(const char *path, struct llmo_gw_keys **out, struct llmo_error *err)
{
	struct llmo_yaml_stream s = {0};
	int rc;

	*out = NULL;
	if (!(rc = llmo_gw_doc_read(path, LLMO_GW_KEYS_FILE_MAX, &s, err)))
		rc = llmo_gw_keys_from_json(s.docs[0].root, &s.docs[0], path, out, err);
	llmo_yaml_stream_release(&s);
	return rc;
}
