#include "base/common.h"

#include <math.h>

#include "base/clock.h"
#include "sim/azure.h"
#include "sim/csv.h"

static const char *const columns[] = {"TIMESTAMP", "ContextTokens", "GeneratedTokens"};
/* BurstGPT (github.com/HPMLL/BurstGPT): Timestamp in seconds from the trace's start */
static const char *const burst_columns[] = {"Timestamp", "Request tokens", "Response tokens"};

void llmo_sim_azure_init(struct llmo_sim_azure *t)
{
	memset(t, 0, sizeof(*t));
}

void llmo_sim_azure_release(struct llmo_sim_azure *t)
{
	llmo_vec_release(&t->requests);
	memset(t, 0, sizeof(*t));
}

/* n digits at s as a number; false if any is not a digit. */
static bool digits(const char *s, int n, int64_t *out)
{
	int64_t v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

bool llmo_sim_azure_timestamp(const char *s, int64_t *out)
{
	int64_t y, mo, d, h, mi, sec, frac = 0;
	size_t n = strlen(s);

	if (n < 19 || s[4] != '-' || s[7] != '-' || (s[10] != ' ' && s[10] != 'T') ||
	    s[13] != ':' || s[16] != ':')
		return false;
	if (!digits(s, 4, &y) || !digits(s + 5, 2, &mo) || !digits(s + 8, 2, &d) ||
	    !digits(s + 11, 2, &h) || !digits(s + 14, 2, &mi) || !digits(s + 17, 2, &sec))
		return false;
	if (y < 1970 || y > LLMO_SIM_AZURE_YEAR_MAX || mo < 1 || mo > 12 || d < 1 || d > llmo_days_in_month(y, (int)mo) || h > 23 || mi > 59 ||
	    sec > 59)
		return false;
	if (n > 19) {
		int nf = (int)(n - 20);

		if (s[19] != '.' || nf < 1 || nf > 9 || !digits(s + 20, nf, &frac))
			return false;
		for (int i = nf; i < 9; i++)
			frac *= 10;
	}
	*out = ((llmo_days_from_civil(y, (int)mo, (int)d) * 86400 + h * 3600 + mi * 60 + sec) *
		INT64_C(1000000000)) + frac;
	return true;
}

struct rows {
	struct llmo_sim_azure *t;
	int rc;
};

/*
 * The token counts f[1] and f[2] (columns cols[1] and cols[2]) and, when
 * they and the arrival ts are good (time_ok), the request.
 */
static void add_request(struct rows *r, char **f, const char *const *cols, size_t line,
			struct llmo_sim_problems *pb, bool time_ok, int64_t ts)
{
	struct llmo_sim_request *q;
	int64_t ctx, gen;
	bool ok = time_ok;

	ok = llmo_sim_int_field(pb, line, cols[1], f[1], 0, LLMO_SIM_AZURE_TOKENS_MAX, &ctx) && ok;
	ok = llmo_sim_int_field(pb, line, cols[2], f[2], 0, LLMO_SIM_AZURE_TOKENS_MAX, &gen) && ok;
	if (!ok || r->rc)
		return;
	q = llmo_vec_push(&r->t->requests);
	if (!q) {
		r->rc = LLMO_ENOMEM;
		return;
	}
	q->arrival = ts; /* made relative once all rows are read */
	q->context_tokens = (int32_t)ctx;
	q->generated_tokens = (int32_t)gen;
}

static void row(void *arg, char **f, size_t line, struct llmo_sim_problems *pb)
{
	char quoted[LLMO_STR_QUOTE_SIZE(64)];
	int64_t ts = 0;
	bool ok = llmo_sim_azure_timestamp(f[0], &ts);

	if (!ok)
		llmo_sim_problem(pb, line,
				 "TIMESTAMP: %s is not a time \"YYYY-MM-DD HH:MM:SS[.fraction]\"",
				 llmo_str_quote(quoted, f[0], strlen(f[0]), 64));
	add_request(arg, f, columns, line, pb, ok, ts);
}

/* A BurstGPT row: seconds (a decimal number), then the two token counts. */
static void burst_row(void *arg, char **f, size_t line, struct llmo_sim_problems *pb)
{
	char quoted[LLMO_STR_QUOTE_SIZE(64)];
	struct llmo_error err = {0};
	double s = 0;
	bool ok = llmo_parse_double(f[0], &s, &err) == 0 && s >= 0 &&
		  s <= (double)LLMO_SIM_JSONL_TIMESTAMP_MAX / 1000;

	if (!ok)
		llmo_sim_problem(pb, line, "Timestamp: %s is not a number of seconds from 0 to %" PRId64,
				 llmo_str_quote(quoted, f[0], strlen(f[0]), 64),
				 LLMO_SIM_JSONL_TIMESTAMP_MAX / 1000);
	add_request(arg, f, burst_columns, line, pb, ok, ok ? (int64_t)llround(s * 1e9) : 0);
}

/* Whether the CSV header (the first line of text) has a column named name. */
static bool header_has(const char *text, size_t len, const char *name)
{
	const char *nl = memchr(text, '\n', len);
	size_t n = nl ? (size_t)(nl - text) : len, k = strlen(name);

	if (n > 0 && text[n - 1] == '\r')
		n--;
	for (size_t i = 0; i + k <= n; i++)
		if ((i == 0 || text[i - 1] == ',') && memcmp(text + i, name, k) == 0 &&
		    (i + k == n || text[i + k] == ','))
			return true;
	return false;
}

/* Stable merge sort by arrival (rows out of order keep their file order among equals). */
static int sort_requests(struct llmo_sim_request *v, size_t n)
{
	struct llmo_sim_request *tmp;
	bool sorted = true;

	for (size_t i = 1; i < n && sorted; i++)
		sorted = v[i - 1].arrival <= v[i].arrival;
	if (sorted)
		return 0;
	tmp = malloc(n * sizeof(*tmp));
	if (!tmp)
		return LLMO_ENOMEM;
	for (size_t width = 1; width < n; width *= 2) {
		for (size_t lo = 0; lo < n; lo += 2 * width) {
			size_t mid = LLMO_MIN(lo + width, n), hi = LLMO_MIN(lo + 2 * width, n);
			size_t a = lo, b = mid, k = lo;

			while (a < mid && b < hi)
				tmp[k++] = v[b].arrival < v[a].arrival ? v[b++] : v[a++];
			while (a < mid)
				tmp[k++] = v[a++];
			while (b < hi)
				tmp[k++] = v[b++];
		}
		memcpy(v, tmp, n * sizeof(*v));
	}
	free(tmp);
	return 0;
}

int llmo_sim_azure_parse(struct llmo_sim_azure *t, const char *text, size_t len,
			 const char *file, struct llmo_strv *problems)
{
	struct llmo_sim_problems pb = {problems, file, 0, 0};
	struct rows r = {t, 0};
	int rc = 0;

	if (llmo_sim_trace_is_jsonl(text, len))
		r.rc = llmo_sim_mooncake_rows(t, text, len, &pb);
	else if (header_has(text, len, "Request tokens") && !header_has(text, len, "TIMESTAMP"))
		rc = llmo_sim_csv_parse(text, len, burst_columns, LLMO_ARRAY_LEN(burst_columns),
					LLMO_SIM_REQUESTS_MAX, burst_row, &r, &pb);
	else
		rc = llmo_sim_csv_parse(text, len, columns, LLMO_ARRAY_LEN(columns),
					LLMO_SIM_REQUESTS_MAX, row, &r, &pb);
	if (r.rc == LLMO_ETOOBIG)
		rc = r.rc;
	rc = llmo_sim_problems_close(&pb, rc, r.rc);
	if (!rc && t->requests.len == 0) {
		llmo_sim_problem(&pb, 0, "no request rows");
		rc = pb.rc ? pb.rc : LLMO_EPARSE;
	}
	if (!rc)
		rc = sort_requests(t->requests.items, t->requests.len);
	if (!rc) {
		int64_t span = t->requests.items[t->requests.len - 1].arrival -
			       t->requests.items[0].arrival;

		if (span > LLMO_SIM_AZURE_SPAN_MAX) {
			llmo_sim_problem(&pb, 0, "the requests span %.1f days, limit is %.0f",
					 (double)span / 86400e9,
					 (double)LLMO_SIM_AZURE_SPAN_MAX / 86400e9);
			rc = pb.rc ? pb.rc : LLMO_ETOOBIG;
		}
	}
	if (rc) {
		llmo_sim_azure_release(t);
		return rc;
	}
	t->start = t->requests.items[0].arrival;
	for (size_t i = 0; i < t->requests.len; i++)
		t->requests.items[i].arrival -= t->start;
	return 0;
}

int llmo_sim_azure_load(struct llmo_sim_azure *t, const char *path, struct llmo_strv *problems)
{
	struct llmo_buf buf;
	int rc = llmo_sim_csv_read(path, LLMO_SIM_REQUESTS_FILE_MAX, &buf, problems);

	if (!rc)
		rc = llmo_sim_azure_parse(t, buf.data, buf.len, path, problems);
	llmo_buf_release(&buf);
	return rc;
}
