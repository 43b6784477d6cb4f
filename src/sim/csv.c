#include "base/common.h"

#include "base/file.h"
#include "sim/csv.h"

void llmo_sim_problem(struct llmo_sim_problems *pb, size_t line, const char *fmt, ...)
{
	char msg[LLMO_ERRMSG_MAX], full[LLMO_ERRMSG_MAX + 300];
	va_list ap;

	if (pb->count++ >= LLMO_SIM_TRACE_PROBLEMS_MAX)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line)
		snprintf(full, sizeof(full), "%s:%zu: %s", pb->file, line, msg);
	else
		snprintf(full, sizeof(full), "%s: %s", pb->file, msg);
	if (llmo_strv_push(pb->list, full))
		pb->rc = LLMO_ENOMEM;
}

/* Closes the list: one line for the problems beyond the cap. */
void llmo_sim_problems_finish(struct llmo_sim_problems *pb)
{
	char msg[LLMO_ERRMSG_MAX];

	if (pb->count <= LLMO_SIM_TRACE_PROBLEMS_MAX)
		return;
	snprintf(msg, sizeof(msg), "%s: %zu more problems not shown", pb->file,
		 pb->count - LLMO_SIM_TRACE_PROBLEMS_MAX);
	if (llmo_strv_push(pb->list, msg))
		pb->rc = LLMO_ENOMEM;
}

int llmo_sim_problems_close(struct llmo_sim_problems *pb, int rc, int rows_rc)
{
	llmo_sim_problems_finish(pb);
	if (!rc && (rows_rc || pb->rc))
		rc = LLMO_ENOMEM;
	if (!rc && pb->count)
		rc = LLMO_EPARSE;
	return rc;
}

/* ---- CSV lines and columns ------------------------------------------------------- */

int llmo_sim_csv_parse(const char *text, size_t len, const char *const *want, size_t nwant,
		       size_t rows_max, llmo_sim_row_fn row, void *arg,
		       struct llmo_sim_problems *pb)
{
	char buf[LLMO_SIM_TRACE_LINE_MAX + 1];
	char *fields[LLMO_SIM_TRACE_COLUMNS_MAX];
	int where[LLMO_SIM_TRACE_COLUMNS_MAX]; /* header position of each wanted column */
	size_t ncols = 0, line = 0, rows = 0, pos = 0;
	char q[LLMO_STR_QUOTE_SIZE(64)];

	if (len == 0) {
		llmo_sim_problem(pb, 0, "empty file, want a header line");
		return LLMO_EPARSE;
	}
	while (pos < len) {
		const char *start = text + pos, *nl = memchr(start, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - start) : len - pos, nf = 1;

		pos += n + (nl ? 1 : 0);
		line++;
		if (n > 0 && start[n - 1] == '\r')
			n--;
		if (n > LLMO_SIM_TRACE_LINE_MAX) {
			llmo_sim_problem(pb, line, "line is %zu bytes, limit is %d", n, LLMO_SIM_TRACE_LINE_MAX);
			if (line == 1)
				return LLMO_EPARSE;
			continue;
		}
		if (line > 1 && ++rows > rows_max) {
			llmo_sim_problem(pb, line, "more than %zu rows", rows_max);
			return LLMO_ETOOBIG;
		}
		if (n == 0) {
			llmo_sim_problem(pb, line, "empty line");
			if (line == 1)
				return LLMO_EPARSE;
			continue;
		}
		if (memchr(start, '\0', n)) {
			llmo_sim_problem(pb, line, "NUL byte in the line");
			if (line == 1)
				return LLMO_EPARSE;
			continue;
		}
		if (memchr(start, '"', n)) {
			llmo_sim_problem(pb, line, "quoted fields are not supported");
			if (line == 1)
				return LLMO_EPARSE;
			continue;
		}
		memcpy(buf, start, n);
		buf[n] = '\0';
		fields[0] = buf;
		for (size_t i = 0; i < n; i++) {
			if (buf[i] != ',')
				continue;
			buf[i] = '\0';
			if (nf == LLMO_SIM_TRACE_COLUMNS_MAX) {
				nf++;
				break;
			}
			fields[nf++] = buf + i + 1;
		}
		if (line == 1) {
			bool missing = false;

			if (nf > LLMO_SIM_TRACE_COLUMNS_MAX) {
				llmo_sim_problem(pb, line, "more than %d columns", LLMO_SIM_TRACE_COLUMNS_MAX);
				return LLMO_EPARSE;
			}
			ncols = nf;
			for (size_t w = 0; w < nwant; w++) {
				where[w] = -1;
				for (size_t i = 0; i < ncols; i++) {
					if (strcmp(fields[i], want[w]) != 0)
						continue;
					if (where[w] >= 0) {
						llmo_sim_problem(pb, line, "column \"%s\" appears twice", want[w]);
						missing = true;
					}
					where[w] = (int)i;
				}
				if (where[w] < 0) {
					llmo_sim_problem(pb, line, "no column \"%s\" in the header %s", want[w],
						llmo_str_quote(q, start, n, 64));
					missing = true;
				}
			}
			if (missing)
				return LLMO_EPARSE;
			continue;
		}
		if (nf != ncols) {
			llmo_sim_problem(pb, line, "%s%zu fields, the header has %zu",
				nf > LLMO_SIM_TRACE_COLUMNS_MAX ? "over " : "",
				LLMO_MIN(nf, (size_t)LLMO_SIM_TRACE_COLUMNS_MAX), ncols);
			continue;
		}
		{
			char *wanted[LLMO_SIM_TRACE_COLUMNS_MAX];

			for (size_t w = 0; w < nwant; w++)
				wanted[w] = fields[where[w]];
			row(arg, wanted, line, pb);
		}
	}
	return pb->count ? LLMO_EPARSE : 0;
}

/* ---- field checks ------------------------------------------------------------------ */

bool llmo_sim_int_field(struct llmo_sim_problems *pb, size_t line, const char *col, const char *s,
		      int64_t min, int64_t max, int64_t *out)
{
	struct llmo_error err = {0};

	if (llmo_parse_int_range(s, min, max, out, &err) == 0)
		return true;
	llmo_sim_problem(pb, line, "%s: %s", col, err.msg);
	return false;
}

int llmo_sim_csv_read(const char *path, size_t max, struct llmo_buf *buf,
		      struct llmo_strv *problems)
{
	struct llmo_error err = {0};
	int rc;

	llmo_buf_init(buf, max);
	rc = llmo_file_read(path, max, buf, &err);
	if (rc && llmo_strv_push(problems, err.msg))
		rc = LLMO_ENOMEM;
	return rc;
}
