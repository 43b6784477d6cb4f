/*
 * Fuzz target for sim/azure.h, the trace reader (Azure LLM inference CSV,
 * Mooncake JSON Lines), and through it the autoscaling simulator.
 *
 * A parse either succeeds with no problems, one request per data line
 * (nothing dropped) in time order from 0, or fails with a known code, at
 * least one problem, at most LLMO_SIM_TRACE_PROBLEMS_MAX + 2 of them (the
 * cap's count line and "no request rows"), each naming the file, and no
 * request. A small parsed trace whose span is short is replayed under every
 * policy, and the results must hold together.
 */
#include "base/common.h"

#include "base/str.h"
#include "fuzz_csv.h"
#include "sim/autoscale.h"
#include "sim/azure.h"
#include "sim/trace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Replays are run only on traces this small and short, to keep each input fast. */
#define FUZZ_REQUESTS_MAX 64
#define FUZZ_SPAN_MAX (INT64_C(3600) * 1000000000)

static void replay(const struct llmo_sim_azure *t)
{
	for (int p = LLMO_AS_REACTIVE; p <= LLMO_AS_PREDICTIVE; p++) {
		struct llmo_sim_as_result res;
		struct llmo_sim_as_opts o;
		struct llmo_error err = {0};

		llmo_sim_as_opts_init(&o, p);
		o.as.cold_start = INT64_C(5) * 1000000000;
		o.itl = 1000000; /* 1 ms a token: the longest request ends within hours */
		if (llmo_sim_as_run(t, &o, &res, &err))
			abort();
		if (res.requests != t->requests.len || res.gpu_hours < 0 ||
		    res.slo_attainment_pct < 0 || res.slo_attainment_pct > 100 ||
		    res.p50_ttft_ms > res.p95_ttft_ms || res.p95_ttft_ms > res.p99_ttft_ms ||
		    res.scale_ups + res.scale_downs != res.scale_events)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct llmo_strv problems = LLMO_STRV_INIT;
	struct llmo_sim_azure t;
	int rc;

	llmo_sim_azure_init(&t);
	rc = llmo_sim_azure_parse(&t, text, size, "fuzz.csv", &problems);
	if (rc == 0) {
		/* CSV: a request per line after the header; JSON Lines: one per line */
		size_t want = fuzz_csv_data_lines(text, size) +
			      (llmo_sim_trace_is_jsonl(text, size) ? 1 : 0);

		if (problems.len != 0 || t.requests.len != want ||
		    t.requests.items[0].arrival != 0)
			abort();
		for (size_t i = 1; i < t.requests.len; i++)
			if (t.requests.items[i].arrival < t.requests.items[i - 1].arrival)
				abort();
		if (t.requests.len <= FUZZ_REQUESTS_MAX &&
		    t.requests.items[t.requests.len - 1].arrival <= FUZZ_SPAN_MAX)
			replay(&t);
	} else {
		if (rc != LLMO_EPARSE && rc != LLMO_ETOOBIG)
			abort();
		if (problems.len == 0 || problems.len > LLMO_SIM_TRACE_PROBLEMS_MAX + 2 ||
		    t.requests.len != 0)
			abort();
		for (size_t i = 0; i < problems.len; i++)
			if (!llmo_str_has_prefix(problems.items[i], "fuzz.csv"))
				abort();
	}
	llmo_sim_azure_release(&t);
	llmo_strv_release(&problems);
	return 0;
}
