/*
 * The Mooncake trace format (sim/azure.h): JSON Lines, one request a line,
 *
 *     {"timestamp": 27482, "input_length": 6955, "output_length": 52, "hash_ids": [...]}
 *
 * timestamp in milliseconds from the start of the trace, the lengths in
 * tokens. Other keys (hash_ids, the prompt's cache blocks) are ignored.
 */
#include "base/common.h"

#include <math.h>

#include "base/json.h"
#include "sim/azure.h"
#include "sim/csv.h"

#define NS_PER_MS 1000000

bool llmo_sim_trace_is_jsonl(const char *text, size_t len)
{
	return len > 0 && text[0] == '{';
}

/* Key k of o as an integer in [0, max], or a problem naming it. */
static bool length_field(struct llmo_sim_problems *pb, size_t line, const json_t *o,
			 const char *k, int64_t *out)
{
	const json_t *v = json_object_get(o, k);

	if (!v) {
		llmo_sim_problem(pb, line, "no \"%s\"", k);
		return false;
	}
	if (json_is_real(v)) {
		llmo_sim_problem(pb, line, "%s: %g is not an integer", k, json_real_value(v));
		return false;
	}
	if (!json_is_integer(v)) {
		llmo_sim_problem(pb, line, "%s: a JSON %s, want an integer from 0 to %d", k,
				 llmo_json_type_name(v), LLMO_SIM_AZURE_TOKENS_MAX);
		return false;
	}
	*out = (int64_t)json_integer_value(v);
	if (*out < 0 || *out > LLMO_SIM_AZURE_TOKENS_MAX) {
		llmo_sim_problem(pb, line, "%s: %" PRId64 " is not from 0 to %d", k, *out,
				 LLMO_SIM_AZURE_TOKENS_MAX);
		return false;
	}
	return true;
}

/* "timestamp" of o in ns (a number of milliseconds, not negative), or a problem. */
static bool timestamp_field(struct llmo_sim_problems *pb, size_t line, const json_t *o,
			    int64_t *out)
{
	const json_t *v = json_object_get(o, "timestamp");
	double ms;

	if (!v) {
		llmo_sim_problem(pb, line, "no \"timestamp\"");
		return false;
	}
	if (!json_is_number(v)) {
		llmo_sim_problem(pb, line, "timestamp: a JSON %s, want milliseconds from the "
				 "start of the trace", llmo_json_type_name(v));
		return false;
	}
	ms = json_number_value(v);
	if (!isfinite(ms) || ms < 0 || ms > (double)LLMO_SIM_JSONL_TIMESTAMP_MAX) {
		llmo_sim_problem(pb, line, "timestamp: %g is not from 0 to %" PRId64 " milliseconds",
				 ms, LLMO_SIM_JSONL_TIMESTAMP_MAX);
		return false;
	}
	*out = json_is_integer(v) ? (int64_t)json_integer_value(v) * NS_PER_MS
				  : (int64_t)llround(ms * NS_PER_MS);
	return true;
}

/* One line (len bytes, no end of line): a request appended to t, or a problem. */
static int line_request(struct llmo_sim_azure *t, const char *s, size_t len, size_t line,
			struct llmo_sim_problems *pb)
{
	struct llmo_sim_request *q;
	json_error_t jerr;
	int64_t ts = 0, ctx = 0, gen = 0;
	json_t *o;
	bool ok;

	if (len == 0) {
		llmo_sim_problem(pb, line, "an empty line (one JSON object a line)");
		return 0;
	}
	o = json_loadb(s, len, JSON_REJECT_DUPLICATES | JSON_DISABLE_EOF_CHECK, &jerr);
	if (o) {
		/* only blanks may follow the object */
		size_t i = (size_t)jerr.position;

		while (i < len && (s[i] == ' ' || s[i] == '\t'))
			i++;
		if (i < len) {
			json_decref(o);
			o = NULL;
			snprintf(jerr.text, sizeof(jerr.text), "text after the object");
			jerr.column = (int)i + 1;
		}
	}
	if (!o) {
		llmo_sim_problem(pb, line, "column %d: %s", jerr.column, jerr.text);
		return 0;
	}
	if (!json_is_object(o)) {
		llmo_sim_problem(pb, line, "a JSON %s, want an object", llmo_json_type_name(o));
		json_decref(o);
		return 0;
	}
	ok = timestamp_field(pb, line, o, &ts);
	ok = length_field(pb, line, o, "input_length", &ctx) && ok;
	ok = length_field(pb, line, o, "output_length", &gen) && ok;
	json_decref(o);
	if (!ok)
		return 0;
	q = llmo_vec_push(&t->requests);
	if (!q)
		return LLMO_ENOMEM;
	q->arrival = ts;
	q->context_tokens = (int32_t)ctx;
	q->generated_tokens = (int32_t)gen;
	return 0;
}

int llmo_sim_mooncake_rows(struct llmo_sim_azure *t, const char *text, size_t len,
			   struct llmo_sim_problems *pb)
{
	size_t line = 0, rows = 0;
	const char *p = text, *end = text + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		int rc;

		line++;
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (n > LLMO_SIM_JSONL_LINE_MAX) {
			llmo_sim_problem(pb, line, "a line of %zu bytes, limit is %d", n,
					 LLMO_SIM_JSONL_LINE_MAX);
		} else if (++rows > LLMO_SIM_REQUESTS_MAX) {
			llmo_sim_problem(pb, line, "more than %d requests", LLMO_SIM_REQUESTS_MAX);
			return LLMO_ETOOBIG;
		} else if ((rc = line_request(t, p, n, line, pb))) {
			return rc;
		}
		p = nl ? nl + 1 : end;
	}
	return 0;
}
