#ifndef LLMO_SIM_AZURE_H
#define LLMO_SIM_AZURE_H
/*
 * Reader of request traces, in two formats told apart by the first byte
 * ('{': JSON Lines). Either way every malformed row is a problem
 * "FILE:LINE: message", a file with problems yields no request, rows need
 * not be in time order (requests are sorted by arrival, stably), and the
 * requests span at most LLMO_SIM_AZURE_SPAN_MAX (a longer trace is one
 * problem, LLMO_ETOOBIG).
 *
 * The Azure LLM inference traces (../shared/data/azure-llm-2023,
 * AzureLLMInferenceDataset2023.upstream.md): CSV with the header
 *
 *     TIMESTAMP,ContextTokens,GeneratedTokens
 *
 * TIMESTAMP is "YYYY-MM-DD HH:MM:SS" with an optional fraction of up to 9
 * digits ("2023-11-16 18:15:46.6805900"), UTC, years 1970 to
 * LLMO_SIM_AZURE_YEAR_MAX, a 'T' allowed for the space; the requests span at
 * most LLMO_SIM_AZURE_SPAN_MAX (a longer trace is one problem, LLMO_ETOOBIG);
 * the token counts are base-10 integers from 0 to LLMO_SIM_AZURE_TOKENS_MAX.
 * Columns are found by name, in any order; other columns are ignored. The
 * CSV rules and caps are those of src/sim/csv.h. Every malformed row is a
 * problem "FILE:LINE: message"; a file with problems yields no request.
 *
 * The BurstGPT traces (github.com/HPMLL/BurstGPT, ChatGPT and GPT-4 on
 * Azure): CSV whose header has "Timestamp", "Request tokens" and "Response
 * tokens" (and no "TIMESTAMP"; the others, "Model", "Log Type", ... are
 * ignored): Timestamp in seconds from the start of the trace, a decimal
 * number from 0 to LLMO_SIM_JSONL_TIMESTAMP_MAX / 1000, the token counts
 * as above.
 *
 * The Mooncake traces (../shared/data/mooncake, README.upstream.md; the
 * FAST'25 release's conversation, tool-agent and synthetic traces): JSON
 * Lines, one object a line with "timestamp" (milliseconds from the start of
 * the trace: a number from 0 to LLMO_SIM_JSONL_TIMESTAMP_MAX), "input_length"
 * and "output_length" (tokens: integers from 0 to LLMO_SIM_AZURE_TOKENS_MAX);
 * other keys ("hash_ids") are ignored, duplicate keys refused. Lines of at
 * most LLMO_SIM_JSONL_LINE_MAX bytes ("\r\n" allowed), no empty line but an
 * end of line at the end of the file, at most LLMO_SIM_REQUESTS_MAX lines.
 *
 * Either file is read whole, at most LLMO_SIM_REQUESTS_FILE_MAX bytes.
 */
#include "base/common.h"
#include "base/str.h"
#include "base/vec.h"

#define LLMO_SIM_AZURE_TOKENS_MAX 10000000
#define LLMO_SIM_AZURE_YEAR_MAX 2200 /* nanoseconds since 1970 fit an int64 until 2262 */
#define LLMO_SIM_AZURE_SPAN_MAX (INT64_C(366) * 86400 * 1000000000) /* first to last request */
/* Requests of one trace, and bytes of its file (read whole): a week of Azure's busiest traces fits. */
#define LLMO_SIM_REQUESTS_MAX 100000000
#define LLMO_SIM_REQUESTS_FILE_MAX ((size_t)4 << 30)
#define LLMO_SIM_JSONL_LINE_MAX (1 << 20) /* bytes of one JSON line (hash_ids can be long) */
/* milliseconds (epoch milliseconds fit too): the nanoseconds stay within an int64 */
#define LLMO_SIM_JSONL_TIMESTAMP_MAX INT64_C(4000000000000)

struct llmo_sim_problems;

struct llmo_sim_request {
	int64_t arrival; /* ns since the first request of the trace */
	int32_t context_tokens;
	int32_t generated_tokens;
};

struct llmo_sim_azure {
	LLMO_VEC(struct llmo_sim_request) requests; /* by arrival */
	int64_t start; /* ns since the Unix epoch of the first request */
};

void llmo_sim_azure_init(struct llmo_sim_azure *t);
void llmo_sim_azure_release(struct llmo_sim_azure *t);

/*
 * Parses len bytes (file names the text in messages) into t, which must be
 * empty. Returns 0; LLMO_EPARSE with each problem appended to problems (t
 * left empty); LLMO_ETOOBIG; LLMO_ENOMEM.
 */
int llmo_sim_azure_parse(struct llmo_sim_azure *t, const char *text, size_t len,
			 const char *file, struct llmo_strv *problems);

/* Whether text is a JSON Lines trace (its first byte is '{') rather than CSV. */
bool llmo_sim_trace_is_jsonl(const char *text, size_t len);
/*
 * (mooncake.c) The JSON Lines rows of text appended to t->requests, arrivals in
 * ns as in the file; problems to pb. 0, LLMO_ETOOBIG (too many lines) or
 * LLMO_ENOMEM; the caller checks pb for problems.
 */
int llmo_sim_mooncake_rows(struct llmo_sim_azure *t, const char *text, size_t len,
			   struct llmo_sim_problems *pb);

/* Reads and parses the file at path (see llmo_sim_csv_read for unreadable files). */
int llmo_sim_azure_load(struct llmo_sim_azure *t, const char *path, struct llmo_strv *problems);

/* "YYYY-MM-DD HH:MM:SS[.fffffffff]" -> ns since the epoch; false if malformed. */
bool llmo_sim_azure_timestamp(const char *s, int64_t *out);

#endif
