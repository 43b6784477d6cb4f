#ifndef LLMO_SIM_AZURE_H
#define LLMO_SIM_AZURE_H
/*
 * Reader for the Azure LLM inference traces (../shared/data/azure-llm-2023,
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
 * Rows need not be in time order: requests are sorted by arrival (stable).
 */
#include "base/common.h"
#include "base/str.h"
#include "base/vec.h"

#define LLMO_SIM_AZURE_TOKENS_MAX 10000000
#define LLMO_SIM_AZURE_YEAR_MAX 2200 /* nanoseconds since 1970 fit an int64 until 2262 */
#define LLMO_SIM_AZURE_SPAN_MAX (INT64_C(31) * 86400 * 1000000000) /* first to last request */

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

/* Reads and parses the file at path (see llmo_sim_csv_read for unreadable files). */
int llmo_sim_azure_load(struct llmo_sim_azure *t, const char *path, struct llmo_strv *problems);

/* "YYYY-MM-DD HH:MM:SS[.fffffffff]" -> ns since the epoch; false if malformed. */
bool llmo_sim_azure_timestamp(const char *s, int64_t *out);

#endif
