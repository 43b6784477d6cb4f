/*
 * Fuzz target for the replica schedules of `llmo sim autoscale --schedule`
 * (sim/autoscale.h), and through them the simulator's schedule replay.
 *
 * A parse either succeeds with no problems, one step per data line, the
 * first at 0 and each later than the one before, replicas within bounds, or
 * fails with a known code, at least one problem, at most
 * LLMO_SIM_TRACE_PROBLEMS_MAX + 2 of them, each naming the file, and no
 * step. A parsed schedule of few steps within the first hour is replayed on
 * a fixed trace of a few requests, and the results must hold together.
 */
#include "base/common.h"

#include "base/str.h"
#include "fuzz_csv.h"
#include "sim/autoscale.h"
#include "sim/azure.h"
#include "sim/trace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_STEPS_MAX 64
#define FUZZ_REPLICAS_MAX 64
#define FUZZ_T_MAX (INT64_C(3600) * 1000000000)

static void replay(const struct llmo_sim_as_schedule *sc)
{
	static const char trace_text[] = "TIMESTAMP,ContextTokens,GeneratedTokens\n"
					 "2023-11-16 18:00:00,100,10\n"
					 "2023-11-16 18:00:30,2000,50\n"
					 "2023-11-16 18:01:00,10,200\n"
					 "2023-11-16 18:20:00,500,5\n";
	struct llmo_strv problems = LLMO_STRV_INIT;
	struct llmo_sim_as_result res;
	struct llmo_sim_as_opts o;
	struct llmo_error err = {0};
	struct llmo_sim_azure t;

	for (size_t i = 0; i < sc->steps.len; i++)
		if (sc->steps.items[i].replicas > FUZZ_REPLICAS_MAX || sc->steps.items[i].t > FUZZ_T_MAX)
			return;
	llmo_sim_azure_init(&t);
	if (llmo_sim_azure_parse(&t, trace_text, strlen(trace_text), "t.csv", &problems))
		abort();
	llmo_sim_as_opts_init(&o, LLMO_AS_KPA);
	o.as.cold_start = INT64_C(5) * 1000000000;
	o.schedule = sc;
	if (llmo_sim_as_run(&t, &o, &res, &err))
		abort();
	if (res.requests != t.requests.len || res.gpu_hours < 0 || res.slo_attainment_pct < 0 ||
	    res.slo_attainment_pct > 100 || res.scale_ups + res.scale_downs != res.scale_events ||
	    (sc->steps.len == 1 && res.scale_events != 0 && sc->steps.items[0].replicas > 0))
		abort();
	llmo_sim_azure_release(&t);
	llmo_strv_release(&problems);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct llmo_strv problems = LLMO_STRV_INIT;
	struct llmo_sim_as_schedule sc;
	int rc;

	llmo_sim_as_schedule_init(&sc);
	rc = llmo_sim_as_schedule_parse(&sc, text, size, "fuzz.csv", &problems);
	if (rc == 0) {
		if (problems.len != 0 || sc.steps.len != fuzz_csv_data_lines(text, size) ||
		    sc.steps.items[0].t != 0)
			abort();
		for (size_t i = 0; i < sc.steps.len; i++)
			if ((i && sc.steps.items[i].t <= sc.steps.items[i - 1].t) ||
			    sc.steps.items[i].replicas < 0 ||
			    sc.steps.items[i].replicas > LLMO_AS_REPLICAS_MAX)
				abort();
		if (sc.steps.len <= FUZZ_STEPS_MAX)
			replay(&sc);
	} else {
		if (rc != LLMO_EPARSE && rc != LLMO_ETOOBIG)
			abort();
		if (problems.len == 0 || problems.len > LLMO_SIM_TRACE_PROBLEMS_MAX + 2 ||
		    sc.steps.len != 0)
			abort();
		for (size_t i = 0; i < problems.len; i++)
			if (!llmo_str_has_prefix(problems.items[i], "fuzz.csv"))
				abort();
	}
	llmo_sim_as_schedule_release(&sc);
	llmo_strv_release(&problems);
	return 0;
}
