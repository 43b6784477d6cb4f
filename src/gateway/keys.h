#ifndef LLMO_GATEWAY_KEYS_H
#define LLMO_GATEWAY_KEYS_H
/*
 * struct llmo_gw_keys: API keys mapped to tenants, each tenant with its
 * request and token rate limits (token buckets), from a keys file (YAML or
 * JSON; docs/gateway.md has the full description):
 *
 *     tenants:
 *       - name: acme                   # required: [A-Za-z0-9._-], 1..63 bytes
 *         keys: [sk-acme-1, sk-acme-2] # required: at least one, each 8..256 bytes
 *                                      #   of visible ASCII, no key twice in the file
 *         requestsPerMinute: 600       # optional (absent: no limit), 1..10^9
 *         tokensPerMinute: 100000      # optional (absent: no limit), 1..10^12
 *
 * A bucket holds at most one minute's worth and refills continuously. A
 * request takes one request token and is refused while fewer than one is
 * left. Tokens (prompt + completion, from the answer's usage) are taken
 * after the answer, so the token bucket may go below zero; requests are
 * refused while it is below zero.
 *
 * Unknown keys, wrong types and bad values are errors naming the file, the
 * line and the field path ("keys.yaml:4: tenants[0].keys[1]: ...").
 *
 * A keys object is reference-counted: a request keeps the one it was
 * admitted with (its tenant lives as long), and a reload swaps a new one
 * in, carrying the buckets' levels over by tenant name.
 *
 * Threads: none; everything belongs to the gateway's loop.
 */
#include "base/common.h"

#include <jansson.h>

#include "base/error.h"
#include "base/hmap.h"
#include "base/vec.h"
#include "base/yaml.h"

/* Largest keys file, longest tenant name, shortest and longest key, most tenants. */
#define LLMO_GW_KEYS_FILE_MAX ((size_t)4 << 20)
#define LLMO_GW_TENANT_MAX 63
#define LLMO_GW_KEY_MIN 8
#define LLMO_GW_KEY_MAX 256
#define LLMO_GW_TENANTS_MAX 10000
#define LLMO_GW_RPM_MAX INT64_C(1000000000)
#define LLMO_GW_TPM_MAX INT64_C(1000000000000)

/* A token bucket. rate 0: no limit. */
struct llmo_gw_bucket {
	double rate_per_s; /* refill; the capacity is one minute of it */
	double level;
	int64_t last_ns; /* monotonic time of the last refill; 0: never (full) */
};

struct llmo_gw_tenant {
	char *name;
	struct llmo_gw_bucket requests, tokens;
	struct llmo_series *requests_ok; /* the gateway's metric series, cached (may be NULL) */
};

struct llmo_gw_keys {
	int refs;
	LLMO_VEC(struct llmo_gw_tenant *) tenants;
	struct llmo_hmap by_key; /* key -> struct llmo_gw_tenant * (not owned) */
};

/* Builds from a parsed document (doc, name may be NULL: no lines, "<keys>"). LLMO_EINVAL. */
int llmo_gw_keys_from_json(const json_t *root, const struct llmo_yaml_doc *doc, const char *name,
			   struct llmo_gw_keys **out, struct llmo_error *err);
/* Reads (at most LLMO_GW_KEYS_FILE_MAX bytes) and builds from the file at path. */
int llmo_gw_keys_from_file(const char *path, struct llmo_gw_keys **out, struct llmo_error *err);

void llmo_gw_keys_ref(struct llmo_gw_keys *k);
/* Drops a reference; the last frees. NULL is fine. */
void llmo_gw_keys_unref(struct llmo_gw_keys *k);

/* The tenant of the key (len bytes), or NULL. */
struct llmo_gw_tenant *llmo_gw_keys_lookup(const struct llmo_gw_keys *k, const char *key,
					   size_t len);

/* Carries the buckets' levels of old's tenants over to to's tenants of the same name. */
void llmo_gw_keys_carry(struct llmo_gw_keys *to, const struct llmo_gw_keys *old);

/*
 * Takes one from b at now (monotonic ns) when at least one is there (a
 * bucket without a limit always has). Returns 0, or the seconds until one
 * will be (at least 1) and takes nothing.
 */
int64_t llmo_gw_bucket_take(struct llmo_gw_bucket *b, int64_t now);
/* Whether b is not below zero at now; else *retry_s gets the seconds until it will be (>= 1). */
bool llmo_gw_bucket_positive(struct llmo_gw_bucket *b, int64_t now, int64_t *retry_s);
/* Takes n from b at now, going below zero if need be. */
void llmo_gw_bucket_debit(struct llmo_gw_bucket *b, int64_t now, double n);

#endif
