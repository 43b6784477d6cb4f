#ifndef LLMO_SIM_CSV_H
#define LLMO_SIM_CSV_H
/*
 * The CSV reading shared by the trace readers of src/sim (trace.c for the
 * openb traces, azure.c for the Azure LLM inference traces): a header row
 * naming the columns, plain fields (no quotes), lines of at most
 * LLMO_SIM_TRACE_LINE_MAX bytes, at most the reader's rows, and every
 * problem reported as "FILE:LINE: message".
 */
#include "base/common.h"
#include "base/buf.h"
#include "base/str.h"
#include "sim/trace.h"

/* Where problems go: "FILE:LINE: message", the first LLMO_SIM_TRACE_PROBLEMS_MAX of them. */
struct llmo_sim_problems {
	struct llmo_strv *list;
	const char *file;
	size_t count;
	int rc; /* LLMO_ENOMEM once a problem could not be recorded */
};

/* Records one problem at line (0: the file as a whole). */
void llmo_sim_problem(struct llmo_sim_problems *pb, size_t line, const char *fmt, ...)
	LLMO_PRINTF(3, 4);
/* Closes the list: one line for the problems beyond the cap. */
void llmo_sim_problems_finish(struct llmo_sim_problems *pb);
/*
 * Finishes the list and says how the parse went: rc if already an error;
 * else LLMO_ENOMEM if rows_rc or a problem could not be recorded;
 * LLMO_EPARSE if any problem was found; else 0.
 */
int llmo_sim_problems_close(struct llmo_sim_problems *pb, int rc, int rows_rc);

/*
 * One pass over a CSV text: the header names the columns; for each data row
 * the wanted columns' fields (NUL-terminated, in the order of `want`) go to
 * row(). Problems with the text itself (long lines, field counts, quotes,
 * missing columns) are reported here, problems with values by row().
 * Returns 0, LLMO_EPARSE when any problem was reported, LLMO_ETOOBIG (more
 * than rows_max data rows).
 */
typedef void (*llmo_sim_row_fn)(void *arg, char **fields, size_t line,
				struct llmo_sim_problems *pb);
int llmo_sim_csv_parse(const char *text, size_t len, const char *const *want, size_t nwant,
		       size_t rows_max, llmo_sim_row_fn row, void *arg,
		       struct llmo_sim_problems *pb);

/* A base-10 integer field in [min, max], or a problem naming the column. */
bool llmo_sim_int_field(struct llmo_sim_problems *pb, size_t line, const char *col,
			const char *s, int64_t min, int64_t max, int64_t *out);

/*
 * Reads the file at path into buf (initialized here; the caller releases
 * it), at most max bytes (LLMO_SIM_TRACE_FILE_MAX for the cluster traces,
 * LLMO_SIM_REQUESTS_FILE_MAX for request traces). A file that cannot be
 * read is one problem ("PATH: no such file") and its code.
 */
int llmo_sim_csv_read(const char *path, size_t max, struct llmo_buf *buf,
		      struct llmo_strv *problems);

#endif
