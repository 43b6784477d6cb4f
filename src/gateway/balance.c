/*
 * Power-of-two-choices balancing and the circuit breaker (balance.h).
 */
#include "base/common.h"

#include "gateway/balance.h"

#include "base/banned.h"

bool llmo_gw_backend_allowed(const struct llmo_gw_backend *b, int64_t now,
			     const struct llmo_gw_balance_opts *o)
{
	if (o->failures <= 0 || b->fails < o->failures)
		return true;
	if (now < b->open_until)
		return false;
	return !b->probing;
}

bool llmo_gw_backend_begin(struct llmo_gw_backend *b, int64_t now,
			   const struct llmo_gw_balance_opts *o)
{
	b->inflight++;
	if (o->failures > 0 && b->fails >= o->failures && now >= b->open_until && !b->probing) {
		b->probing = true;
		return true;
	}
	return false;
}

void llmo_gw_backend_end(struct llmo_gw_backend *b, bool trial)
{
	if (b->inflight > 0)
		b->inflight--;
	if (trial)
		b->probing = false;
}

void llmo_gw_backend_success(struct llmo_gw_backend *b)
{
	b->fails = 0;
	b->probing = false;
}

void llmo_gw_backend_failure(struct llmo_gw_backend *b, int64_t now,
			     const struct llmo_gw_balance_opts *o)
{
	if (b->fails < INT_MAX)
		b->fails++;
	b->probing = false;
	if (o->failures > 0 && b->fails >= o->failures)
		b->open_until = now + o->cooldown_ns;
}

static bool eligible(const struct llmo_gw_endpoint *e, struct llmo_gw_backend *const *exclude,
		     size_t nexclude, int64_t now, const struct llmo_gw_balance_opts *o)
{
	const struct llmo_gw_backend *b = e->backend;

	if (e->draining || (o->conns_max > 0 && b->inflight >= o->conns_max) ||
	    !llmo_gw_backend_allowed(b, now, o))
		return false;
	for (size_t i = 0; i < nexclude; i++)
		if (exclude[i] == b)
			return false;
	return true;
}

/*
 * A backend's load: its requests in flight through this gateway, plus those
 * waiting in its own queue as its last scrape said (0 without scraping).
 */
static uint64_t load(const struct llmo_gw_backend *b)
{
	return (uint64_t)LLMO_MAX(b->inflight, 0) + (uint64_t)LLMO_MAX(b->waiting, 0);
}

/* The eligible endpoint (index into idx) where the weights' running sum passes r. */
static size_t walk(const struct llmo_gw_model *m, const uint16_t *idx, size_t n, uint64_t r,
		   size_t skip)
{
	for (size_t k = 0; k < n; k++) {
		uint32_t w;

		if (k == skip)
			continue;
		w = m->eps.items[idx[k]].weight;
		if (r < w)
			return k;
		r -= w;
	}
	return n - 1 == skip ? n - 2 : n - 1; /* not reached: r < the sum */
}

/* Whether b's KV cache, as its last scrape said, is too full for a new sequence. */
static bool kv_full(const struct llmo_gw_backend *b)
{
	return b->kv_usage >= LLMO_GW_KV_FULL;
}

/*
 * Power of two choices among the eligible endpoints of m listed in idx (n
 * of them): of two drawn by weight, the one whose KV cache is not full, then
 * the less loaded for its weight, then the one with more KV cache free
 * (without scraping every usage reads 0 and load alone decides).
 */
static int p2c(const struct llmo_gw_model *m, const uint16_t *idx, size_t n,
	       struct llmo_rng *rng)
{
	uint64_t total = 0, la, lb;
	const struct llmo_gw_endpoint *ea, *eb;
	size_t a, b;

	if (n == 0)
		return -1;
	if (n == 1)
		return idx[0];
	for (size_t k = 0; k < n; k++)
		total += m->eps.items[idx[k]].weight;
	a = walk(m, idx, n, llmo_rng_below(rng, total), n);
	ea = &m->eps.items[idx[a]];
	b = walk(m, idx, n, llmo_rng_below(rng, total - ea->weight), a);
	eb = &m->eps.items[idx[b]];
	if (kv_full(ea->backend) != kv_full(eb->backend))
		return kv_full(ea->backend) ? idx[b] : idx[a];
	/* load_a / w_a <= load_b / w_b, cross-multiplied */
	la = load(ea->backend) * eb->weight;
	lb = load(eb->backend) * ea->weight;
	if (la != lb)
		return lb < la ? idx[b] : idx[a];
	return eb->backend->kv_usage < ea->backend->kv_usage ? idx[b] : idx[a];
}

int llmo_gw_pick(const struct llmo_gw_model *m, struct llmo_gw_backend *const *exclude,
		 size_t nexclude, int64_t now, const struct llmo_gw_balance_opts *o,
		 struct llmo_rng *rng)
{
	return llmo_gw_pick_key(m, -1, exclude, nexclude, now, o, rng);
}

/* The track index of e in m, or -1 when its track is not a split arm with weight > 0. */
static int track_of(const struct llmo_gw_model *m, const struct llmo_gw_endpoint *e)
{
	for (size_t t = 0; t < m->tracks.len; t++)
		if (m->tracks.items[t].weight > 0 && strcmp(m->tracks.items[t].name, e->track) == 0)
			return (int)t;
	return -1;
}

/* The arm at point x (0 <= x < sum of the weights of the arms in mask). */
static int arm_at(const struct llmo_gw_model *m, const bool *mask, double x)
{
	int last = -1;

	for (size_t t = 0; t < m->tracks.len; t++) {
		double w;

		if (!mask[t])
			continue;
		w = m->tracks.items[t].weight;
		last = (int)t;
		if (x < w)
			return (int)t;
		x -= w;
	}
	return last; /* rounding at the top end */
}

/*
 * The endpoints a request may go to, into idx (indexes into m->eps): the
 * eligible ones, narrowed to one arm when the model splits its traffic
 * (llmo_gw_pick_key says how the arm is chosen). Returns how many.
 */
static size_t candidates(const struct llmo_gw_model *m, double key,
			 struct llmo_gw_backend *const *exclude, size_t nexclude, int64_t now,
			 const struct llmo_gw_balance_opts *o, struct llmo_rng *rng, uint16_t *idx)
{
	int8_t arm[LLMO_GW_ENDPOINTS_MAX];
	bool listed[LLMO_GW_TRACKS_MAX] = {false}, live[LLMO_GW_TRACKS_MAX] = {false};
	double wall = 0, wlive = 0;
	size_t n = 0, k = 0;
	bool split = llmo_gw_model_split(m);
	int chosen;

	for (size_t i = 0; i < m->eps.len && i < LLMO_GW_ENDPOINTS_MAX; i++) {
		if (!eligible(&m->eps.items[i], exclude, nexclude, now, o))
			continue;
		arm[n] = (int8_t)(split ? track_of(m, &m->eps.items[i]) : -1);
		if (arm[n] >= 0)
			live[arm[n]] = true;
		idx[n++] = (uint16_t)i;
	}
	if (!split)
		return n;
	for (size_t t = 0; t < m->tracks.len && t < LLMO_GW_TRACKS_MAX; t++) {
		listed[t] = m->tracks.items[t].weight > 0;
		wall += listed[t] ? m->tracks.items[t].weight : 0;
		wlive += live[t] ? m->tracks.items[t].weight : 0;
	}
	if (wlive <= 0)
		return n; /* no arm can serve: every eligible endpoint */
	if (key >= 0 && key < 1) {
		chosen = arm_at(m, listed, key * wall);
		if (chosen < 0 || !live[chosen])
			chosen = arm_at(m, live, key * wlive);
	} else {
		chosen = arm_at(m, live, (double)llmo_rng_below(rng, (uint64_t)wlive));
	}
	/* keep the chosen arm's endpoints, in order */
	for (size_t i = 0; i < n; i++)
		if (arm[i] == chosen)
			idx[k++] = idx[i];
	return k;
}

int llmo_gw_pick_key(const struct llmo_gw_model *m, double key,
		     struct llmo_gw_backend *const *exclude, size_t nexclude, int64_t now,
		     const struct llmo_gw_balance_opts *o, struct llmo_rng *rng)
{
	uint16_t idx[LLMO_GW_ENDPOINTS_MAX];
	size_t n = candidates(m, key, exclude, nexclude, now, o, rng, idx);

	return p2c(m, idx, n, rng);
}

/* Whether endpoint e is busy: in flight above the least loaded candidate's by more than busy. */
static bool busy(const struct llmo_gw_model *m, const uint16_t *idx, size_t n,
		 const struct llmo_gw_endpoint *e, int threshold)
{
	double least = -1;

	for (size_t k = 0; k < n; k++) {
		const struct llmo_gw_endpoint *c = &m->eps.items[idx[k]];
		double l = (double)load(c->backend) / c->weight;

		if (least < 0 || l < least)
			least = l;
	}
	return (double)load(e->backend) > least * e->weight + threshold;
}

int llmo_gw_pick_prefix(const struct llmo_gw_model *m, double key,
			struct llmo_gw_backend *const *exclude, size_t nexclude, int64_t now,
			const struct llmo_gw_balance_opts *o, struct llmo_rng *rng,
			const struct llmo_gw_lru *table, const uint64_t *hashes, size_t nhashes,
			enum llmo_gw_prefix_result *result)
{
	uint16_t idx[LLMO_GW_ENDPOINTS_MAX];
	size_t n = candidates(m, key, exclude, nexclude, now, o, rng, idx);

	*result = LLMO_GW_PREFIX_NONE;
	if (n == 0 || nhashes == 0 || !table)
		return p2c(m, idx, n, rng);
	*result = LLMO_GW_PREFIX_MISS;
	for (size_t i = nhashes; i-- > 0;) {
		uint64_t id;

		if (!llmo_gw_lru_get(table, hashes[i], &id))
			continue;
		for (size_t k = 0; k < n; k++) {
			const struct llmo_gw_endpoint *e = &m->eps.items[idx[k]];

			if (e->backend->id != id)
				continue;
			if (busy(m, idx, n, e, o->prefix_busy)) {
				*result = LLMO_GW_PREFIX_BUSY;
				return p2c(m, idx, n, rng);
			}
			*result = LLMO_GW_PREFIX_HIT;
			return idx[k];
		}
	}
	return p2c(m, idx, n, rng);
}

double llmo_gw_sticky_point(const char *key, size_t len)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325);

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)key[i];
		h *= UINT64_C(0x100000001b3);
	}
	h ^= h >> 30;
	h *= UINT64_C(0xbf58476d1ce4e5b9);
	h ^= h >> 27;
	h *= UINT64_C(0x94d049bb133111eb);
	h ^= h >> 31;
	return (double)(h >> 11) * 0x1.0p-53;
}
