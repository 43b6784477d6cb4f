#include "base/common.h"

#include "base/buf.h"
#include "base/file.h"
#include "base/hmap.h"
#include "scheduler/cluster.h"
#include "sim/trace.h"

/* Where problems go: "FILE:LINE: message", the first LLMO_SIM_TRACE_PROBLEMS_MAX of them. */
struct problems {
	struct llmo_strv *list;
	const char *file;
	size_t count;
	int rc; /* LLMO_ENOMEM once a problem could not be recorded */
};

static void problem(struct problems *pb, size_t line, const char *fmt, ...) LLMO_PRINTF(3, 4);

static void problem(struct problems *pb, size_t line, const char *fmt, ...)
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
static void problems_finish(struct problems *pb)
{
	char msg[LLMO_ERRMSG_MAX];

	if (pb->count <= LLMO_SIM_TRACE_PROBLEMS_MAX)
		return;
	snprintf(msg, sizeof(msg), "%s: %zu more problems not shown", pb->file,
		 pb->count - LLMO_SIM_TRACE_PROBLEMS_MAX);
	if (llmo_strv_push(pb->list, msg))
		pb->rc = LLMO_ENOMEM;
}

/* ---- CSV lines and columns ------------------------------------------------------- */

/*
 * One pass over a CSV text: the header names the columns; for each data row
 * the wanted columns' fields (NUL-terminated, in the order of `want`) go to
 * row(). Problems with the text itself (long lines, field counts, quotes,
 * missing columns) are reported here, problems with values by row().
 */
typedef void (*row_fn)(void *arg, char **fields, size_t line, struct problems *pb);

static int csv_parse(const char *text, size_t len, const char *const *want, size_t nwant,
		     row_fn row, void *arg, struct problems *pb)
{
	char buf[LLMO_SIM_TRACE_LINE_MAX + 1];
	char *fields[LLMO_SIM_TRACE_COLUMNS_MAX];
	int where[LLMO_SIM_TRACE_COLUMNS_MAX]; /* header position of each wanted column */
	size_t ncols = 0, line = 0, rows = 0, pos = 0;
	char q[LLMO_STR_QUOTE_SIZE(64)];

	if (len == 0) {
		problem(pb, 0, "empty file, want a header line");
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
			problem(pb, line, "line is %zu bytes, limit is %d", n, LLMO_SIM_TRACE_LINE_MAX);
			if (line == 1)
				return LLMO_EPARSE;
			continue;
		}
		if (line > 1 && ++rows > LLMO_SIM_TRACE_ROWS_MAX) {
			problem(pb, line, "more than %d rows", LLMO_SIM_TRACE_ROWS_MAX);
			return LLMO_ETOOBIG;
		}
		if (n == 0) {
			problem(pb, line, "empty line");
			if (line == 1)
				return LLMO_EPARSE;
			continue;
		}
		if (memchr(start, '\0', n)) {
			problem(pb, line, "NUL byte in the line");
			if (line == 1)
				return LLMO_EPARSE;
			continue;
		}
		if (memchr(start, '"', n)) {
			problem(pb, line, "quoted fields are not supported");
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
				problem(pb, line, "more than %d columns", LLMO_SIM_TRACE_COLUMNS_MAX);
				return LLMO_EPARSE;
			}
			ncols = nf;
			for (size_t w = 0; w < nwant; w++) {
				where[w] = -1;
				for (size_t i = 0; i < ncols; i++) {
					if (strcmp(fields[i], want[w]) != 0)
						continue;
					if (where[w] >= 0) {
						problem(pb, line, "column \"%s\" appears twice", want[w]);
						missing = true;
					}
					where[w] = (int)i;
				}
				if (where[w] < 0) {
					problem(pb, line, "no column \"%s\" in the header %s", want[w],
						llmo_str_quote(q, start, n, 64));
					missing = true;
				}
			}
			if (missing)
				return LLMO_EPARSE;
			continue;
		}
		if (nf != ncols) {
			problem(pb, line, "%s%zu fields, the header has %zu",
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

static bool int_field(struct problems *pb, size_t line, const char *col, const char *s,
		      int64_t min, int64_t max, int64_t *out)
{
	struct llmo_error err = {0};

	if (llmo_parse_int_range(s, min, max, out, &err) == 0)
		return true;
	problem(pb, line, "%s: %s", col, err.msg);
	return false;
}

static bool name_field(struct problems *pb, size_t line, const char *col, const char *s)
{
	size_t len = strlen(s);

	if (len == 0) {
		problem(pb, line, "%s: empty", col);
		return false;
	}
	if (len > LLMO_SIM_TRACE_NAME_MAX) {
		problem(pb, line, "%s: %zu bytes, limit is %d", col, len, LLMO_SIM_TRACE_NAME_MAX);
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
			problem(pb, line, "%s: control character in the name", col);
			return false;
		}
	}
	return true;
}

static bool is_none(const char *s)
{
	return *s == '\0' || strcmp(s, "nan") == 0;
}

/* A GPU model list "A" or "A|B": names of letters, digits, '-', '_', '.'. */
static bool models_field(struct problems *pb, size_t line, const char *col, const char *s,
			 bool list)
{
	char q[LLMO_STR_QUOTE_SIZE(64)];
	const char *p = s;
	int names = 0;

	for (;;) {
		size_t n = 0;

		while (p[n] && p[n] != '|') {
			unsigned char ch = (unsigned char)p[n];

			if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			      (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.'))
				break;
			n++;
		}
		if (n == 0 || n > LLMO_SCHED_MODEL_NAME_MAX || (p[n] && p[n] != '|') ||
		    (p[n] == '|' && !list)) {
			problem(pb, line,
				"%s: %s is not a GPU model%s (1 to %d letters, digits, '-', '_', '.')",
				col, llmo_str_quote(q, s, strlen(s), 64), list ? " list" : "",
				LLMO_SCHED_MODEL_NAME_MAX);
			return false;
		}
		if (++names > LLMO_SCHED_SPEC_MODELS_MAX) {
			problem(pb, line, "%s: more than %d GPU models", col,
				LLMO_SCHED_SPEC_MODELS_MAX);
			return false;
		}
		if (!p[n])
			return true;
		p += n + 1;
	}
}

/* ---- nodes ----------------------------------------------------------------------------- */

static const char *const node_columns[] = {"sn", "cpu_milli", "memory_mib", "gpu", "model"};

struct node_rows {
	LLMO_VEC(struct llmo_sim_trace_node) rows;
	struct llmo_hmap names; /* name -> line number, for duplicates */
	int rc;
};

static void node_row(void *arg, char **f, size_t line, struct problems *pb)
{
	struct node_rows *nr = arg;
	struct llmo_sim_trace_node *n;
	int64_t cpu = 0, mem = 0, gpus = 0;
	bool ok = true;
	void *first;

	ok &= name_field(pb, line, "sn", f[0]);
	ok &= int_field(pb, line, "cpu_milli", f[1], 0, LLMO_SIM_TRACE_CPU_MAX, &cpu);
	ok &= int_field(pb, line, "memory_mib", f[2], 0, LLMO_SIM_TRACE_MEM_MAX, &mem);
	ok &= int_field(pb, line, "gpu", f[3], 0, LLMO_SCHED_NODE_GPUS_MAX, &gpus);
	if (!is_none(f[4]))
		ok &= models_field(pb, line, "model", f[4], false);
	else if (ok && gpus > 0) {
		problem(pb, line, "model: empty, but the node has %" PRId64 " GPUs", gpus);
		ok = false;
	}
	if (!ok || nr->rc)
		return;
	first = llmo_hmap_get(&nr->names, f[0]);
	if (first) {
		problem(pb, line, "sn: node \"%s\" already listed on line %zu", f[0],
			(size_t)(uintptr_t)first);
		return;
	}
	if (pb->count)
		return; /* the rows are dropped anyway: spare the memory */
	n = llmo_vec_push(&nr->rows);
	if (!n || llmo_hmap_put(&nr->names, f[0], (void *)(uintptr_t)line, NULL)) {
		nr->rc = LLMO_ENOMEM;
		return;
	}
	n->name = llmo_strdup(f[0]);
	n->model = llmo_strdup(is_none(f[4]) ? "" : f[4]);
	n->cpu_milli = cpu;
	n->memory_mib = mem;
	n->gpus = (int)gpus;
	if (!n->name || !n->model)
		nr->rc = LLMO_ENOMEM;
}

static void free_nodes(struct llmo_sim_trace_node *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].name);
		free(v[i].model);
	}
}

int llmo_sim_trace_parse_nodes(struct llmo_sim_trace *t, const char *text, size_t len,
			       const char *file, struct llmo_strv *problems)
{
	struct problems pb = {problems, file, 0, 0};
	struct node_rows nr = {LLMO_VEC_INIT, LLMO_HMAP_INIT, 0};
	int rc;

	rc = csv_parse(text, len, node_columns, LLMO_ARRAY_LEN(node_columns), node_row, &nr, &pb);
	problems_finish(&pb);
	if (!rc && (nr.rc || pb.rc))
		rc = LLMO_ENOMEM;
	if (!rc && pb.count)
		rc = LLMO_EPARSE;
	if (!rc && llmo_vec_reserve(&t->nodes, t->nodes.len + nr.rows.len))
		rc = LLMO_ENOMEM;
	if (!rc && nr.rows.len) {
		memcpy(t->nodes.items + t->nodes.len, nr.rows.items,
		       nr.rows.len * sizeof(nr.rows.items[0]));
		t->nodes.len += nr.rows.len;
		nr.rows.len = 0;
	}
	free_nodes(nr.rows.items, nr.rows.len);
	llmo_vec_release(&nr.rows);
	llmo_hmap_release(&nr.names, NULL);
	return rc;
}

/* ---- pods ------------------------------------------------------------------------------ */

static const char *const pod_columns[] = {"name",    "cpu_milli", "memory_mib",
					  "num_gpu", "gpu_milli", "gpu_spec"};

struct pod_rows {
	LLMO_VEC(struct llmo_sim_trace_pod) rows;
	int rc;
};

static void pod_row(void *arg, char **f, size_t line, struct problems *pb)
{
	struct pod_rows *pr = arg;
	struct llmo_sim_trace_pod *p;
	int64_t cpu = 0, mem = 0, num = 0, milli = 0;
	bool ok = true;

	ok &= name_field(pb, line, "name", f[0]);
	ok &= int_field(pb, line, "cpu_milli", f[1], 0, LLMO_SIM_TRACE_CPU_MAX, &cpu);
	ok &= int_field(pb, line, "memory_mib", f[2], 0, LLMO_SIM_TRACE_MEM_MAX, &mem);
	ok &= int_field(pb, line, "num_gpu", f[3], 0, LLMO_SCHED_POD_GPUS_MAX, &num);
	ok &= int_field(pb, line, "gpu_milli", f[4], 0, LLMO_SCHED_MILLI, &milli);
	if (!is_none(f[5]))
		ok &= models_field(pb, line, "gpu_spec", f[5], true);
	if (ok && num == 0 && milli != 0) {
		problem(pb, line, "gpu_milli: %" PRId64 " but num_gpu is 0: want 0", milli);
		ok = false;
	} else if (ok && num == 1 && milli == 0) {
		problem(pb, line, "gpu_milli: 0 but num_gpu is 1: want 1 to %d", LLMO_SCHED_MILLI);
		ok = false;
	} else if (ok && num > 1 && milli != LLMO_SCHED_MILLI) {
		problem(pb, line,
			"gpu_milli: %" PRId64 " with num_gpu %" PRId64
			": GPUs beyond one are whole, want %d",
			milli, num, LLMO_SCHED_MILLI);
		ok = false;
	}
	if (!ok || pr->rc || pb->count)
		return;
	p = llmo_vec_push(&pr->rows);
	if (!p) {
		pr->rc = LLMO_ENOMEM;
		return;
	}
	p->cpu_milli = cpu;
	p->memory_mib = mem;
	p->num_gpu = (int)num;
	p->gpu_milli = (int)milli;
	p->gpu_spec = llmo_strdup(is_none(f[5]) ? "" : f[5]);
	if (!p->gpu_spec)
		pr->rc = LLMO_ENOMEM;
}

static void free_pods(struct llmo_sim_trace_pod *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].gpu_spec);
}

int llmo_sim_trace_parse_pods(struct llmo_sim_trace *t, const char *text, size_t len,
			      const char *file, struct llmo_strv *problems)
{
	struct problems pb = {problems, file, 0, 0};
	struct pod_rows pr = {LLMO_VEC_INIT, 0};
	int rc;

	rc = csv_parse(text, len, pod_columns, LLMO_ARRAY_LEN(pod_columns), pod_row, &pr, &pb);
	problems_finish(&pb);
	if (!rc && (pr.rc || pb.rc))
		rc = LLMO_ENOMEM;
	if (!rc && pb.count)
		rc = LLMO_EPARSE;
	if (!rc && llmo_vec_reserve(&t->pods, t->pods.len + pr.rows.len))
		rc = LLMO_ENOMEM;
	if (!rc && pr.rows.len) {
		memcpy(t->pods.items + t->pods.len, pr.rows.items,
		       pr.rows.len * sizeof(pr.rows.items[0]));
		t->pods.len += pr.rows.len;
		pr.rows.len = 0;
	}
	free_pods(pr.rows.items, pr.rows.len);
	llmo_vec_release(&pr.rows);
	return rc;
}

/* ---- files and lifetime ------------------------------------------------------------------ */

void llmo_sim_trace_init(struct llmo_sim_trace *t)
{
	memset(t, 0, sizeof(*t));
}

void llmo_sim_trace_release(struct llmo_sim_trace *t)
{
	free_nodes(t->nodes.items, t->nodes.len);
	free_pods(t->pods.items, t->pods.len);
	llmo_vec_release(&t->nodes);
	llmo_vec_release(&t->pods);
}

static int load(struct llmo_sim_trace *t, const char *path, struct llmo_strv *problems,
		int (*parse)(struct llmo_sim_trace *, const char *, size_t, const char *,
			     struct llmo_strv *))
{
	struct llmo_error err = {0};
	struct llmo_buf buf;
	int rc;

	llmo_buf_init(&buf, LLMO_SIM_TRACE_FILE_MAX);
	rc = llmo_file_read(path, LLMO_SIM_TRACE_FILE_MAX, &buf, &err);
	if (rc) {
		if (llmo_strv_push(problems, err.msg))
			rc = LLMO_ENOMEM;
		goto out;
	}
	rc = parse(t, buf.data, buf.len, path, problems);
out:
	llmo_buf_release(&buf);
	return rc;
}

int llmo_sim_trace_load_nodes(struct llmo_sim_trace *t, const char *path,
			      struct llmo_strv *problems)
{
	return load(t, path, problems, llmo_sim_trace_parse_nodes);
}

int llmo_sim_trace_load_pods(struct llmo_sim_trace *t, const char *path,
			     struct llmo_strv *problems)
{
	return load(t, path, problems, llmo_sim_trace_parse_pods);
}
