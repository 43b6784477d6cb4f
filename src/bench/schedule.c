#include "base/common.h"

#include <math.h>

#include "bench/schedule.h"

void llmo_load_schedule_init_trace(struct llmo_load_schedule *s, const struct llmo_sim_azure *trace,
				   double speedup)
{
	memset(s, 0, sizeof(*s));
	s->trace = trace;
	s->speedup = speedup;
}

void llmo_load_schedule_init_poisson(struct llmo_load_schedule *s, double rate, int64_t duration,
				     uint64_t seed, int32_t prompt_tokens, int32_t max_tokens)
{
	memset(s, 0, sizeof(*s));
	s->rate = rate;
	s->duration = duration;
	s->seed = seed;
	s->prompt_tokens = prompt_tokens;
	s->max_tokens = max_tokens;
	llmo_rng_seed(&s->rng, seed);
}

int64_t llmo_load_exp_gap(double u, double rate)
{
	/* Inverse CDF of the exponential distribution: P(gap <= x) = 1 - exp(-rate x). */
	return (int64_t)llround(-log1p(-u) / rate * 1e9);
}

static int32_t clamp32(int64_t v, int64_t lo, int64_t hi)
{
	return (int32_t)(v < lo ? lo : v > hi ? hi : v);
}

bool llmo_load_schedule_next(struct llmo_load_schedule *s, struct llmo_load_item *it)
{
	int64_t prompt, max;

	if (s->limit && s->emitted >= s->limit)
		return false;
	if (s->trace) {
		const struct llmo_sim_request *r;

		if (s->next >= s->trace->requests.len)
			return false;
		r = &s->trace->requests.items[s->next];
		it->at = (int64_t)llround((double)r->arrival / s->speedup);
		prompt = r->context_tokens;
		max = r->generated_tokens;
	} else {
		s->t += llmo_load_exp_gap(llmo_rng_unit(&s->rng), s->rate);
		it->at = s->t;
		prompt = s->prompt_tokens;
		max = s->max_tokens;
	}
	if (s->duration && it->at >= s->duration)
		return false;
	s->next++;
	s->emitted++;
	if (s->max_tokens_cap && max > s->max_tokens_cap)
		max = s->max_tokens_cap;
	it->prompt_tokens = clamp32(prompt, 1, LLMO_LOAD_PROMPT_TOKENS_MAX);
	it->max_tokens = clamp32(max, 1, LLMO_LOAD_MAX_TOKENS_MAX);
	return true;
}
