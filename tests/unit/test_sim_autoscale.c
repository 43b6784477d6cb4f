/*
 * The trace reader (src/sim/azure.h: Azure and BurstGPT CSV, Mooncake JSON Lines), its problems reported as
 * FILE:LINE: message, and the autoscaling simulator (src/sim/autoscale.h) on
 * traces of a few requests whose outcome is worked out by hand.
 */
#include "base/common.h"

#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sim/autoscale.h"
#include "sim/azure.h"

#define MS INT64_C(1000000)
#define SEC INT64_C(1000000000)

static const char hdr[] = "TIMESTAMP,ContextTokens,GeneratedTokens\n";

static int parse(struct llmo_sim_azure *t, const char *body, struct llmo_strv *problems)
{
	char text[4096];

	snprintf(text, sizeof(text), "%s%s", hdr, body);
	return llmo_sim_azure_parse(t, text, strlen(text), "a.csv", problems);
}

static void test_timestamp(void **state)
{
	int64_t t;

	(void)state;
	assert_true(llmo_sim_azure_timestamp("1970-01-01 00:00:00", &t));
	assert_int_equal(t, 0);
	/* 2023-11-16 is day 19677 since the epoch; 18:15:46 is 65746 s into it. */
	assert_true(llmo_sim_azure_timestamp("2023-11-16 18:15:46.6805900", &t));
	assert_int_equal(t, (INT64_C(19677) * 86400 + 65746) * SEC + 680590000);
	assert_true(llmo_sim_azure_timestamp("2024-02-29T00:00:00.5", &t));
	assert_false(llmo_sim_azure_timestamp("2023-02-29 00:00:00", &t)); /* not a leap year */
	assert_false(llmo_sim_azure_timestamp("2023-11-16 24:00:00", &t));
	assert_false(llmo_sim_azure_timestamp("2023-11-16 18:15:46.", &t));
	assert_false(llmo_sim_azure_timestamp("2023-11-16 18:15:46.1234567890", &t));
	assert_false(llmo_sim_azure_timestamp("2023-11-16 18:15", &t));
	assert_false(llmo_sim_azure_timestamp("2023-1x-16 18:15:46", &t));
	assert_false(llmo_sim_azure_timestamp("1969-12-31 23:59:59", &t));
	assert_true(llmo_sim_azure_timestamp("2200-12-31 23:59:59.999999999", &t));
	assert_false(llmo_sim_azure_timestamp("2201-01-01 00:00:00", &t)); /* found by fuzzing */
}

static void test_parse(void **state)
{
	struct llmo_strv problems = LLMO_STRV_INIT;
	struct llmo_sim_azure t;

	(void)state;
	llmo_sim_azure_init(&t);
	/* Out of order rows are sorted; times are relative to the first request. */
	assert_int_equal(parse(&t,
			       "2023-11-16 18:15:47.5,100,10\r\n"
			       "2023-11-16 18:15:46,374,44\n"
			       "2023-11-16 18:15:47.5,5,0\n",
			       &problems),
			 0);
	assert_int_equal(problems.len, 0);
	assert_int_equal(t.requests.len, 3);
	assert_int_equal(t.requests.items[0].arrival, 0);
	assert_int_equal(t.requests.items[0].context_tokens, 374);
	assert_int_equal(t.requests.items[1].arrival, 1500 * MS);
	assert_int_equal(t.requests.items[1].context_tokens, 100); /* stable among equals */
	assert_int_equal(t.requests.items[2].generated_tokens, 0);
	llmo_sim_azure_release(&t);

	/* Every bad row is reported with its line; nothing is kept. */
	assert_int_equal(parse(&t,
			       "2023-11-16 18:15:46,374,44\n"
			       "yesterday,1,1\n"
			       "2023-11-16 18:15:47,-1,3\n"
			       "2023-11-16 18:15:48,1\n"
			       "2023-11-16 18:15:49,1,99999999999\n",
			       &problems),
			 LLMO_EPARSE);
	assert_int_equal(t.requests.len, 0);
	assert_int_equal(problems.len, 4);
	assert_non_null(strstr(problems.items[0], "a.csv:3: TIMESTAMP: \"yesterday\""));
	assert_non_null(strstr(problems.items[1], "a.csv:4: ContextTokens:"));
	assert_non_null(strstr(problems.items[2], "a.csv:5: 2 fields, the header has 3"));
	assert_non_null(strstr(problems.items[3], "a.csv:6: GeneratedTokens:"));
	llmo_strv_release(&problems);

	/* A header without a wanted column; a file with no row. */
	{
		static const char bad[] = "TIMESTAMP,ContextTokens\n1,2\n";

		assert_int_equal(llmo_sim_azure_parse(&t, bad, strlen(bad), "b.csv", &problems),
				 LLMO_EPARSE);
	}
	assert_non_null(strstr(problems.items[0], "b.csv:1: no column \"GeneratedTokens\""));
	llmo_strv_release(&problems);
	assert_int_equal(parse(&t, "", &problems), LLMO_EPARSE);
	assert_string_equal(problems.items[0], "a.csv: no request rows");
	llmo_strv_release(&problems);
	/* At most 366 days from the first request to the last. */
	assert_int_equal(parse(&t, "2023-01-01 00:00:00,1,1\n2024-01-02 00:00:00.000000001,1,1\n",
			       &problems),
			 LLMO_ETOOBIG);
	assert_int_equal(t.requests.len, 0);
	assert_string_equal(problems.items[0], "a.csv: the requests span 366.0 days, limit is 366");
	llmo_strv_release(&problems);
	assert_int_equal(parse(&t, "2023-01-01 00:00:00,1,1\n2024-01-02 00:00:00,1,1\n", &problems),
			 0);
	llmo_sim_azure_release(&t);
}

static int parse_jsonl(struct llmo_sim_azure *t, const char *text, struct llmo_strv *problems)
{
	return llmo_sim_azure_parse(t, text, strlen(text), "m.jsonl", problems);
}

/* The Mooncake format: JSON Lines of timestamp (ms), input_length and output_length. */
static void test_parse_jsonl(void **state)
{
	struct llmo_strv problems = LLMO_STRV_INIT;
	struct llmo_sim_azure t;
	char *huge;

	(void)state;
	llmo_sim_azure_init(&t);
	assert_true(llmo_sim_trace_is_jsonl("{", 1));
	assert_false(llmo_sim_trace_is_jsonl("TIMESTAMP,", 10));
	assert_false(llmo_sim_trace_is_jsonl(" {", 2));
	/* out of order lines sorted, stable; ms to ns; other keys ignored; \r\n and a real time */
	assert_int_equal(parse_jsonl(&t,
				     "{\"timestamp\": 3000, \"input_length\": 100, \"output_length\": 10, "
				     "\"hash_ids\": [1, 2, 3]}\r\n"
				     "{\"output_length\": 44, \"input_length\": 374, \"timestamp\": 1500}\n"
				     "{\"timestamp\": 3000.0, \"input_length\": 5, \"output_length\": 0}  \n"
				     "{\"timestamp\": 2000.25, \"input_length\": 7, \"output_length\": 1}\n",
				     &problems),
			 0);
	assert_int_equal(problems.len, 0);
	assert_int_equal(t.requests.len, 4);
	assert_int_equal(t.requests.items[0].arrival, 0);
	assert_int_equal(t.requests.items[0].context_tokens, 374);
	assert_int_equal(t.requests.items[0].generated_tokens, 44);
	assert_int_equal(t.requests.items[1].arrival, 500250000); /* 2000.25 - 1500 ms */
	assert_int_equal(t.requests.items[2].arrival, 1500 * MS);
	assert_int_equal(t.requests.items[2].context_tokens, 100); /* stable among equals */
	assert_int_equal(t.requests.items[3].context_tokens, 5);
	llmo_sim_azure_release(&t);

	/* every bad line reported with its number; nothing kept */
	assert_int_equal(parse_jsonl(&t,
				     "{\"timestamp\": 0, \"input_length\": 1, \"output_length\": 1}\n"
				     "\n"
				     "{\"timestamp\": -1, \"input_length\": \"2\", \"output_length\": 1.5}\n"
				     "{\"timestamp\": 5}\n"
				     "[1]\n"
				     "{\"timestamp\": 1, \"input_length\": 1, \"output_length\": 1} x\n"
				     "{\"timestamp\": 1, \"timestamp\": 2, \"input_length\": 1, "
				     "\"output_length\": 1}\n"
				     "{\"timestamp\": \"now\", \"input_length\": 1, \"output_length\": 10000001}\n"
				     "{\"timestamp\": 1, \"input_length\":\n",
				     &problems),
			 LLMO_EPARSE);
	assert_int_equal(t.requests.len, 0);
	assert_int_equal(problems.len, 12);
	assert_string_equal(problems.items[0], "m.jsonl:2: an empty line (one JSON object a line)");
	assert_string_equal(problems.items[1],
			    "m.jsonl:3: timestamp: -1 is not from 0 to 4000000000000 milliseconds");
	assert_string_equal(problems.items[2], "m.jsonl:3: input_length: a JSON string, want an "
					       "integer from 0 to 10000000");
	assert_string_equal(problems.items[3], "m.jsonl:3: output_length: 1.5 is not an integer");
	assert_string_equal(problems.items[4], "m.jsonl:4: no \"input_length\"");
	assert_string_equal(problems.items[5], "m.jsonl:4: no \"output_length\"");
	assert_string_equal(problems.items[6], "m.jsonl:5: a JSON array, want an object");
	assert_string_equal(problems.items[7], "m.jsonl:6: column 57: text after the object");
	assert_non_null(strstr(problems.items[8], "m.jsonl:7: column "));
	assert_non_null(strstr(problems.items[8], "duplicate object key"));
	assert_string_equal(problems.items[9], "m.jsonl:8: timestamp: a JSON string, want "
					       "milliseconds from the start of the trace");
	assert_string_equal(problems.items[10],
			    "m.jsonl:8: output_length: 10000001 is not from 0 to 10000000");
	assert_non_null(strstr(problems.items[11], "m.jsonl:9: column "));
	llmo_strv_release(&problems);

	/* a line over the cap; the span cap as for CSV */
	huge = malloc(LLMO_SIM_JSONL_LINE_MAX + 64);
	assert_non_null(huge);
	memset(huge, ' ', LLMO_SIM_JSONL_LINE_MAX + 63);
	memcpy(huge, "{\"timestamp\": 0, \"input_length\": 1, \"output_length\": 1}", 55);
	huge[LLMO_SIM_JSONL_LINE_MAX + 63] = '\0';
	assert_int_equal(parse_jsonl(&t, huge, &problems), LLMO_EPARSE);
	assert_string_equal(problems.items[0], "m.jsonl:1: a line of 1048639 bytes, limit is 1048576");
	llmo_strv_release(&problems);
	free(huge);
	assert_int_equal(parse_jsonl(&t,
				     "{\"timestamp\": 1700000000000, \"input_length\": 1, \"output_length\": 1}\n"
				     "{\"timestamp\": 1731622400001, \"input_length\": 1, \"output_length\": 1}\n",
				     &problems),
			 LLMO_ETOOBIG);
	assert_string_equal(problems.items[0], "m.jsonl: the requests span 366.0 days, limit is 366");
	llmo_strv_release(&problems);
	assert_int_equal(parse_jsonl(&t, "{\"timestamp\": 1700000000000, \"input_length\": 1, "
					 "\"output_length\": 1}",
				     &problems),
			 0);
	assert_int_equal(t.requests.len, 1);
	llmo_sim_azure_release(&t);
}

/* BurstGPT: CSV with Timestamp in seconds, Request and Response tokens; other columns ignored. */
static void test_parse_burstgpt(void **state)
{
	static const char good[] =
		"Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\r\n"
		"45.5,ChatGPT,1087,230,1317,Conversation log\r\n"
		"5,ChatGPT,472,18,490,Conversation log\n"
		"120,GPT-4,300,0,300,API log\n";
	static const char bad[] = "Model,Timestamp,Response tokens,Request tokens\n"
				  "GPT-4,-1,5,6\n"
				  "GPT-4,soon,5,6\n"
				  "GPT-4,7,x,6\n"
				  "GPT-4,8,5\n";
	static const char no_col[] = "Timestamp,Request tokens\n1,2\n";
	/* an Azure header with an extra "Request tokens" column is read as Azure */
	static const char azure[] = "TIMESTAMP,ContextTokens,GeneratedTokens,Request tokens\n"
				    "2023-11-16 18:15:46,374,44,x\n";
	struct llmo_strv problems = LLMO_STRV_INIT;
	struct llmo_sim_azure t;

	(void)state;
	llmo_sim_azure_init(&t);
	assert_int_equal(llmo_sim_azure_parse(&t, good, strlen(good), "b.csv", &problems), 0);
	assert_int_equal(problems.len, 0);
	assert_int_equal(t.requests.len, 3);
	assert_int_equal(t.requests.items[0].arrival, 0);
	assert_int_equal(t.requests.items[0].context_tokens, 472);
	assert_int_equal(t.requests.items[1].arrival, 40500 * MS);
	assert_int_equal(t.requests.items[1].generated_tokens, 230);
	assert_int_equal(t.requests.items[2].arrival, 115 * SEC);
	assert_int_equal(t.requests.items[2].generated_tokens, 0);
	llmo_sim_azure_release(&t);

	assert_int_equal(llmo_sim_azure_parse(&t, bad, strlen(bad), "b.csv", &problems),
			 LLMO_EPARSE);
	assert_int_equal(t.requests.len, 0);
	assert_int_equal(problems.len, 4);
	assert_string_equal(problems.items[0],
			    "b.csv:2: Timestamp: \"-1\" is not a number of seconds from 0 to 4000000000");
	assert_string_equal(problems.items[1],
			    "b.csv:3: Timestamp: \"soon\" is not a number of seconds from 0 to 4000000000");
	assert_non_null(strstr(problems.items[2], "b.csv:4: Response tokens: \"x\""));
	assert_string_equal(problems.items[3], "b.csv:5: 3 fields, the header has 4");
	llmo_strv_release(&problems);
	assert_int_equal(llmo_sim_azure_parse(&t, no_col, strlen(no_col), "b.csv", &problems),
			 LLMO_EPARSE);
	assert_non_null(strstr(problems.items[0], "b.csv:1: no column \"Response tokens\""));
	llmo_strv_release(&problems);
	assert_int_equal(llmo_sim_azure_parse(&t, azure, strlen(azure), "a.csv", &problems), 0);
	assert_int_equal(t.requests.items[0].context_tokens, 374);
	llmo_sim_azure_release(&t);
}

/* A trace of n requests: arrival in ms, context and generated tokens. */
static void make_trace(struct llmo_sim_azure *t, const int64_t (*rows)[3], size_t n)
{
	llmo_sim_azure_init(t);
	for (size_t i = 0; i < n; i++) {
		struct llmo_sim_request *q = llmo_vec_push(&t->requests);

		assert_non_null(q);
		q->arrival = rows[i][0] * MS;
		q->context_tokens = (int32_t)rows[i][1];
		q->generated_tokens = (int32_t)rows[i][2];
	}
}

/* One replica, one slot, no scaling room: pure queueing. */
static void fixed_opts(struct llmo_sim_as_opts *o)
{
	llmo_sim_as_opts_init(o, LLMO_AS_KPA);
	o->slots = 1;
	o->as.targets[0].target = 0.7;
	o->as.min_replicas = o->as.max_replicas = 1;
	o->ttft_base = 100 * MS;
	o->prefill_per_token = 1 * MS;
	o->itl = 10 * MS;
	o->slo_ttft = 200 * MS;
	o->as.cold_start = 0;
}

static void test_queueing(void **state)
{
	static const int64_t rows[][3] = {{0, 0, 10}, {50, 20, 5}, {60, 0, 0}};
	struct llmo_sim_as_result r;
	struct llmo_sim_as_opts o;
	struct llmo_error err = {0};
	struct llmo_sim_azure t;

	(void)state;
	make_trace(&t, rows, 3);
	fixed_opts(&o);
	assert_int_equal(llmo_sim_as_run(&t, &o, &r, &err), 0);
	/*
	 * Request 0 starts at 0: first token at 100 ms (TTFT 100), done at
	 * 100 + 10 * 10 = 200 ms. Request 1 (arrived 50 ms) starts at 200:
	 * first token at 200 + 100 + 20 * 1 = 320 ms (TTFT 270), done at 370.
	 * Request 2 (60 ms) starts at 370: first token 470 (TTFT 410), done
	 * 470. SLO 200 ms: 1 of 3 met. One replica from 0 to 470 ms.
	 */
	assert_int_equal(r.requests, 3);
	assert_true(fabs(r.duration_s - 0.470) < 1e-9);
	assert_true(fabs(r.gpu_hours - 0.470 / 3600) < 1e-12);
	assert_true(fabs(r.slo_attainment_pct - 100.0 / 3) < 1e-9);
	assert_true(fabs(r.p50_ttft_ms - 270) < 1e-9);
	assert_true(fabs(r.p95_ttft_ms - 410) < 1e-9); /* nearest rank: ceil(2.85) = 3rd */
	assert_true(fabs(r.mean_ttft_ms - (100 + 270 + 410) / 3.0) < 1e-9);
	assert_int_equal(r.scale_events, 0);
	assert_true(r.forecast_mape_pct < 0); /* not predictive */
	/*
	 * A warm-up of 60 ms: the same replay, but only request 2 (arrived at
	 * 60 ms, TTFT 410) counts, and GPU time from 60 to 470 ms.
	 */
	o.warmup = 60 * MS;
	assert_int_equal(llmo_sim_as_run(&t, &o, &r, &err), 0);
	assert_int_equal(r.requests, 1);
	assert_true(r.slo_attainment_pct == 0);
	assert_true(fabs(r.p50_ttft_ms - 410) < 1e-9);
	assert_true(fabs(r.duration_s - 0.410) < 1e-9);
	assert_true(fabs(r.gpu_hours - 0.410 / 3600) < 1e-12);
	/* A warm-up past the last arrival leaves nothing to measure. */
	o.warmup = 61 * MS;
	assert_int_equal(llmo_sim_as_run(&t, &o, &r, &err), LLMO_EINVAL);
	assert_non_null(strstr(err.msg, "warm-up"));
	llmo_sim_azure_release(&t);
}

static void test_cold_start_from_zero(void **state)
{
	static const int64_t rows[][3] = {{0, 0, 0}};
	struct llmo_sim_as_result r;
	struct llmo_sim_as_opts o;
	struct llmo_error err = {0};
	struct llmo_sim_azure t;

	(void)state;
	make_trace(&t, rows, 1);
	fixed_opts(&o);
	o.as.min_replicas = 0;
	o.initial_replicas = 0;
	o.as.cold_start = 10 * SEC;
	assert_int_equal(llmo_sim_as_run(&t, &o, &r, &err), 0);
	/*
	 * At 0 the request waits with no replica; the first sample sees a
	 * concurrency of 1 and KPA asks for ceil(1 / 0.7) = 2, bounded to 1.
	 * The replica is Ready at 10 s; the request's first token comes at
	 * 10.1 s (TTFT 10100 ms, over the SLO) and it ends then (no tokens).
	 */
	assert_int_equal(r.scale_events, 1);
	assert_int_equal(r.scale_ups, 1);
	assert_int_equal(r.replicas_created, 1);
	assert_true(fabs(r.p50_ttft_ms - 10100) < 1e-9);
	assert_true(r.slo_attainment_pct == 0);
	assert_true(fabs(r.gpu_hours - 10.1 / 3600) < 1e-12);
	llmo_sim_azure_release(&t);
}

static void test_scale_up_spreads_load(void **state)
{
	/* Two requests at once, each 1 s long (no prefill, 100 tokens of 10 ms). */
	static const int64_t rows[][3] = {{0, 0, 100}, {0, 0, 100}};
	struct llmo_sim_as_result r;
	struct llmo_sim_as_opts o;
	struct llmo_error err = {0};
	struct llmo_sim_azure t;

	(void)state;
	make_trace(&t, rows, 2);
	fixed_opts(&o);
	o.ttft_base = 0;
	o.as.max_replicas = 2;
	assert_int_equal(llmo_sim_as_run(&t, &o, &r, &err), 0);
	/*
	 * The first request runs on the one replica at 0 (TTFT 0), the second
	 * waits. The sample at 0 sees a concurrency of 2: ceil(2 / 0.7) = 3,
	 * bounded to 2, cold start 0: the new replica is Ready at once and the
	 * second request starts at 0 too. Both end at 1 s; two replicas for
	 * 1 s each.
	 */
	assert_true(r.p95_ttft_ms == 0);
	assert_true(r.slo_attainment_pct == 100);
	assert_int_equal(r.scale_ups, 1);
	assert_true(fabs(r.gpu_hours - 2.0 / 3600) < 1e-12);
	assert_int_equal(r.max_replicas, 2);
	llmo_sim_azure_release(&t);
}

/* Ready replicas at each whole second of a replay (on_sample). */
struct ready_at {
	int32_t ready[400];
};

static void note_ready(void *arg, const struct llmo_sim_as_point *pt)
{
	struct ready_at *r = arg;
	int64_t s = pt->t / SEC;

	if (pt->t % SEC == 0 && s >= 0 && s < (int64_t)LLMO_ARRAY_LEN(r->ready))
		r->ready[s] = pt->ready;
}

/*
 * opts.oracle: the predictive policy told the trace's own arrivals to come.
 * One request a second for 300 s, then ten a second for 60 s, each in its
 * slot 1.02 s (20 ms to the first token, 50 tokens of 20 ms), one slot a
 * replica and a cold start of 20 s. With the forecaster, nothing before
 * the step announces it: the replicas Ready at 300 s are those Ready at
 * 250 s, and a queue builds until more are Ready. With the oracle, the
 * bucket holding 300 s comes within the horizon at 280 s: the replicas
 * ordered then are Ready at 300 s, and fewer requests miss the SLO.
 */
static void test_oracle(void **state)
{
	enum { QUIET = 300, BUSY = 60 };
	static int64_t rows[QUIET + 10 * BUSY][3];
	struct llmo_sim_as_result model, oracle;
	struct ready_at rm = {{0}}, ro = {{0}};
	struct llmo_sim_as_opts o;
	struct llmo_error err = {0};
	struct llmo_sim_azure t;
	size_t n = 0;

	(void)state;
	for (int i = 0; i < QUIET; i++, n++)
		memcpy(rows[n], (int64_t[3]){(int64_t)i * 1000, 0, 50}, sizeof(rows[n]));
	for (int i = 0; i < 10 * BUSY; i++, n++)
		memcpy(rows[n], (int64_t[3]){QUIET * 1000 + (int64_t)i * 100, 0, 50}, sizeof(rows[n]));
	make_trace(&t, (const int64_t(*)[3])rows, n);
	llmo_sim_as_opts_init(&o, LLMO_AS_PREDICTIVE);
	o.slots = 1;
	o.as.targets[0].target = 0.7;
	o.as.forecast_metric = LLMO_METRIC_REQUESTS_PER_SECOND;
	o.as.replica_slots = 1;
	o.as.slo_wait = 500 * MS;
	o.as.cold_start = 20 * SEC;
	o.prefill_per_token = 0;
	o.slo_ttft = 520 * MS;
	o.on_sample = note_ready;
	o.arg = &rm;
	assert_int_equal(llmo_sim_as_run(&t, &o, &model, &err), 0);
	o.oracle = true;
	o.arg = &ro;
	assert_int_equal(llmo_sim_as_run(&t, &o, &oracle, &err), 0);
	assert_int_equal(rm.ready[300], rm.ready[250]);
	assert_true(ro.ready[300] > ro.ready[250]);
	assert_true(oracle.slo_attainment_pct > model.slo_attainment_pct);
	/* Not for another policy. */
	o.as.policy = LLMO_AS_KPA;
	assert_int_equal(llmo_sim_as_run(&t, &o, &oracle, &err), LLMO_EINVAL);
	assert_non_null(strstr(err.msg, "oracle"));
	llmo_sim_azure_release(&t);
}

static int parse_schedule(struct llmo_sim_as_schedule *sc, const char *text,
			  struct llmo_strv *problems)
{
	return llmo_sim_as_schedule_parse(sc, text, strlen(text), "s.csv", problems);
}

/* The schedule file: t_s,replicas rows from 0 on; every bad row named by its line. */
static void test_schedule_parse(void **state)
{
	struct llmo_strv problems = LLMO_STRV_INIT;
	struct llmo_sim_as_schedule sc;

	(void)state;
	llmo_sim_as_schedule_init(&sc);
	assert_int_equal(parse_schedule(&sc, "replicas,t_s\r\n2,0\r\n5,90\n0,3600\n", &problems), 0);
	assert_int_equal(problems.len, 0);
	assert_int_equal(sc.steps.len, 3);
	assert_int_equal(sc.steps.items[0].t, 0);
	assert_int_equal(sc.steps.items[0].replicas, 2);
	assert_int_equal(sc.steps.items[1].t, 90 * SEC);
	assert_int_equal(sc.steps.items[1].replicas, 5);
	assert_int_equal(sc.steps.items[2].t, 3600 * SEC);
	assert_int_equal(sc.steps.items[2].replicas, 0);
	llmo_sim_as_schedule_release(&sc);

	assert_int_equal(parse_schedule(&sc,
					"t_s,replicas\n"
					"10,1\n"       /* 2: not at 0 */
					"20,-1\n"      /* 3 */
					"x,2\n"        /* 4 */
					"40,2\n"       /* 5: after a bad time, not compared */
					"40,3\n"       /* 6: not after 40 */
					"50,100001\n", /* 7 */
					&problems),
			 LLMO_EPARSE);
	assert_int_equal(sc.steps.len, 0);
	assert_int_equal(problems.len, 5);
	assert_string_equal(problems.items[0], "s.csv:2: t_s: the first step is at 10, want 0");
	assert_non_null(strstr(problems.items[1], "s.csv:3: replicas:"));
	assert_non_null(strstr(problems.items[2], "s.csv:4: t_s:"));
	assert_string_equal(problems.items[3], "s.csv:6: t_s: 40 is not after the step before (40)");
	assert_non_null(strstr(problems.items[4], "s.csv:7: replicas:"));
	llmo_strv_release(&problems);
	assert_int_equal(parse_schedule(&sc, "t_s,replicas\n", &problems), LLMO_EPARSE);
	assert_string_equal(problems.items[0], "s.csv: no step rows");
	llmo_strv_release(&problems);
	assert_int_equal(parse_schedule(&sc, "t_s,count\n0,1\n", &problems), LLMO_EPARSE);
	assert_non_null(strstr(problems.items[0], "s.csv:1: no column \"replicas\""));
	llmo_strv_release(&problems);
	assert_int_equal(llmo_sim_as_schedule_load(&sc, "/nonexistent/s.csv", &problems), LLMO_ENOTFOUND);
	assert_non_null(strstr(problems.items[0], "/nonexistent/s.csv"));
	llmo_strv_release(&problems);
}

/*
 * opts.schedule: one request a second for 200 s, each 0.52 s in its slot (20
 * ms to the first token, 50 tokens of 10 ms), one slot a replica, a cold
 * start of 20 s, decisions every 2 s. The schedule 0: 1, 100: 3, 150: 2.
 * The decision at 80 s is the first whose window [t, t + 22 s) holds 100:
 * two replicas are created then, Ready at 100. At 150 the schedule wants 2:
 * the request arriving at 150 went to replica 0 (the lowest free), so an idle
 * one leaves at once. Every request finds replica 0 free and runs there at
 * once. Replica 0 runs from 0 to the end (the last request, arrived at 199 s,
 * ends at 199.52 s), one added replica from 80 s to the end, the other from
 * 80 to 150 s: 199.52 + 119.52 + 70 s.
 */
static void test_schedule(void **state)
{
	static int64_t rows[200][3];
	struct llmo_strv problems = LLMO_STRV_INIT;
	struct llmo_sim_as_schedule sc;
	struct ready_at ra = {{0}};
	struct llmo_sim_as_result r;
	struct llmo_sim_as_opts o;
	struct llmo_error err = {0};
	struct llmo_sim_azure t;
	static const char text[] = "t_s,replicas\n0,1\n100,3\n150,2\n";

	(void)state;
	for (int i = 0; i < 200; i++)
		memcpy(rows[i], (int64_t[3]){(int64_t)i * 1000, 0, 50}, sizeof(rows[i]));
	make_trace(&t, (const int64_t(*)[3])rows, 200);
	llmo_sim_as_schedule_init(&sc);
	assert_int_equal(parse_schedule(&sc, text, &problems), 0);
	llmo_sim_as_opts_init(&o, LLMO_AS_KPA);
	o.slots = 1;
	o.as.targets[0].target = 0.7;
	o.as.cold_start = 20 * SEC;
	o.prefill_per_token = 0;
	o.itl = 10 * MS;
	o.initial_replicas = 0; /* not used: the first step's replicas are Ready at 0 */
	o.schedule = &sc;
	o.on_sample = note_ready;
	o.arg = &ra;
	assert_int_equal(llmo_sim_as_run(&t, &o, &r, &err), 0);
	assert_int_equal(ra.ready[0], 1);
	assert_int_equal(ra.ready[99], 1);
	assert_int_equal(ra.ready[100], 3);
	assert_int_equal(ra.ready[149], 3);
	assert_int_equal(ra.ready[150], 2);
	assert_int_equal(ra.ready[199], 2);
	assert_int_equal(r.scale_ups, 1);
	assert_int_equal(r.scale_downs, 1);
	assert_int_equal(r.replicas_created, 3);
	assert_true(fabs(r.gpu_hours - (199.52 + 119.52 + 70) / 3600) < 1e-9);
	assert_true(r.slo_attainment_pct == 100);

	/* A hand-made schedule not starting at 0, and the oracle, are refused. */
	sc.steps.items[0].t = SEC;
	assert_int_equal(llmo_sim_as_run(&t, &o, &r, &err), LLMO_EINVAL);
	assert_non_null(strstr(err.msg, "first step at 0"));
	sc.steps.items[0].t = 0;
	o.oracle = true;
	assert_int_equal(llmo_sim_as_run(&t, &o, &r, &err), LLMO_EINVAL);
	assert_non_null(strstr(err.msg, "oracle"));
	llmo_sim_as_schedule_release(&sc);
	llmo_sim_azure_release(&t);
}

static void test_deterministic_and_errors(void **state)
{
	static const int64_t rows[][3] = {{0, 500, 50},    {300, 100, 200}, {900, 2000, 20},
					  {1000, 10, 10},  {4000, 800, 300}, {4100, 50, 50},
					  {9000, 100, 100}, {9500, 100, 100}};
	struct llmo_sim_as_result a, b;
	struct llmo_sim_as_opts o;
	struct llmo_error err = {0};
	struct llmo_sim_azure t;

	(void)state;
	make_trace(&t, rows, LLMO_ARRAY_LEN(rows));
	for (int p = LLMO_AS_REACTIVE; p <= LLMO_AS_PREDICTIVE; p++) {
		llmo_sim_as_opts_init(&o, p);
		o.as.cold_start = 2 * SEC;
		assert_int_equal(llmo_sim_as_run(&t, &o, &a, &err), 0);
		assert_int_equal(llmo_sim_as_run(&t, &o, &b, &err), 0);
		assert_memory_equal(&a, &b, sizeof(a));
		assert_int_equal(a.requests, LLMO_ARRAY_LEN(rows));
		assert_true(a.gpu_hours > 0);
	}
	llmo_sim_as_opts_init(&o, LLMO_AS_KPA);
	o.slots = 0;
	assert_int_equal(llmo_sim_as_run(&t, &o, &a, &err), LLMO_EINVAL);
	assert_non_null(strstr(err.msg, "slots"));
	llmo_sim_as_opts_init(&o, LLMO_AS_KPA);
	o.as.targets[0].metric = LLMO_METRIC_CPU;
	assert_int_equal(llmo_sim_as_run(&t, &o, &a, &err), LLMO_EINVAL);
	assert_non_null(strstr(err.msg, "not modelled"));
	llmo_sim_azure_release(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timestamp),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_parse_jsonl),
		cmocka_unit_test(test_parse_burstgpt),
		cmocka_unit_test(test_queueing),
		cmocka_unit_test(test_cold_start_from_zero),
		cmocka_unit_test(test_scale_up_spreads_load),
		cmocka_unit_test(test_oracle),
		cmocka_unit_test(test_schedule_parse),
		cmocka_unit_test(test_schedule),
		cmocka_unit_test(test_deterministic_and_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
