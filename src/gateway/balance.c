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

int llmo_gw_pick(const struct llmo_gw_model *m, struct llmo_gw_backend *const *exclude,
		 size_t nexclude, int64_t now, const struct llmo_gw_balance_opts *o,
		 struct llmo_rng *rng)
{
	uint16_t idx[LLMO_GW_ENDPOINTS_MAX];
	uint64_t total = 0;
	size_t n = 0, a, b;
	const struct llmo_gw_endpoint *ea, *eb;
	uint64_t la, lb;

	for (size_t i = 0; i < m->eps.len && i < LLMO_GW_ENDPOINTS_MAX; i++) {
		if (!eligible(&m->eps.items[i], exclude, nexclude, now, o))
			continue;
		idx[n++] = (uint16_t)i;
		total += m->eps.items[i].weight;
	}
	if (n == 0)
		return -1;
	if (n == 1)
		return idx[0];
	a = walk(m, idx, n, llmo_rng_below(rng, total), n);
	ea = &m->eps.items[idx[a]];
	b = walk(m, idx, n, llmo_rng_below(rng, total - ea->weight), a);
	eb = &m->eps.items[idx[b]];
	/* inflight_a / w_a <= inflight_b / w_b, cross-multiplied */
	la = (uint64_t)ea->backend->inflight * eb->weight;
	lb = (uint64_t)eb->backend->inflight * ea->weight;
	return lb < la ? idx[b] : idx[a];
}
