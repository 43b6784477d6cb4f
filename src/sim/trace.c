#include "base/common.h"

#include "base/buf.h"
#include "base/file.h"
#include "base/hmap.h"
#include "scheduler/cluster.h"
#include "sim/csv.h"
#include "sim/trace.h"

static bool name_field(struct llmo_sim_problems *pb, size_t line, const char *col, const char *s)
{
	size_t len = strlen(s);

	if (len == 0) {
		llmo_sim_problem(pb, line, "%s: empty", col);
		return false;
	}
	if (len > LLMO_SIM_TRACE_NAME_MAX) {
		llmo_sim_problem(pb, line, "%s: %zu bytes, limit is %d", col, len, LLMO_SIM_TRACE_NAME_MAX);
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
			llmo_sim_problem(pb, line, "%s: control character in the name", col);
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
static bool models_field(struct llmo_sim_problems *pb, size_t line, const char *col, const char *s,
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
			llmo_sim_problem(pb, line,
				"%s: %s is not a GPU model%s (1 to %d letters, digits, '-', '_', '.')",
				col, llmo_str_quote(q, s, strlen(s), 64), list ? " list" : "",
				LLMO_SCHED_MODEL_NAME_MAX);
			return false;
		}
		if (++names > LLMO_SCHED_SPEC_MODELS_MAX) {
			llmo_sim_problem(pb, line, "%s: more than %d GPU models", col,
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

static void node_row(void *arg, char **f, size_t line, struct llmo_sim_problems *pb)
{
	struct node_rows *nr = arg;
	struct llmo_sim_trace_node *n;
	int64_t cpu = 0, mem = 0, gpus = 0;
	bool ok = true;
	void *first;

	ok &= name_field(pb, line, "sn", f[0]);
	ok &= llmo_sim_int_field(pb, line, "cpu_milli", f[1], 0, LLMO_SIM_TRACE_CPU_MAX, &cpu);
	ok &= llmo_sim_int_field(pb, line, "memory_mib", f[2], 0, LLMO_SIM_TRACE_MEM_MAX, &mem);
	ok &= llmo_sim_int_field(pb, line, "gpu", f[3], 0, LLMO_SCHED_NODE_GPUS_MAX, &gpus);
	if (!is_none(f[4]))
		ok &= models_field(pb, line, "model", f[4], false);
	else if (ok && gpus > 0) {
		llmo_sim_problem(pb, line, "model: empty, but the node has %" PRId64 " GPUs", gpus);
		ok = false;
	}
	if (!ok || nr->rc)
		return;
	first = llmo_hmap_get(&nr->names, f[0]);
	if (first) {
		llmo_sim_problem(pb, line, "sn: node \"%s\" already listed on line %zu", f[0],
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
	struct llmo_sim_problems pb = {problems, file, 0, 0};
	struct node_rows nr = {LLMO_VEC_INIT, LLMO_HMAP_INIT, 0};
	int rc;

	rc = llmo_sim_csv_parse(text, len, node_columns, LLMO_ARRAY_LEN(node_columns), LLMO_SIM_TRACE_ROWS_MAX, node_row, &nr, &pb);
	rc = llmo_sim_problems_close(&pb, rc, nr.rc);
	if (!rc)
		rc = llmo_vec_append(&t->nodes, nr.rows.items, nr.rows.len);
	if (!rc)
		nr.rows.len = 0; /* what the rows own is t's now */
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

static void pod_row(void *arg, char **f, size_t line, struct llmo_sim_problems *pb)
{
	struct pod_rows *pr = arg;
	struct llmo_sim_trace_pod *p;
	int64_t cpu = 0, mem = 0, num = 0, milli = 0;
	bool ok = true;

	ok &= name_field(pb, line, "name", f[0]);
	ok &= llmo_sim_int_field(pb, line, "cpu_milli", f[1], 0, LLMO_SIM_TRACE_CPU_MAX, &cpu);
	ok &= llmo_sim_int_field(pb, line, "memory_mib", f[2], 0, LLMO_SIM_TRACE_MEM_MAX, &mem);
	ok &= llmo_sim_int_field(pb, line, "num_gpu", f[3], 0, LLMO_SCHED_POD_GPUS_MAX, &num);
	ok &= llmo_sim_int_field(pb, line, "gpu_milli", f[4], 0, LLMO_SCHED_MILLI, &milli);
	if (!is_none(f[5]))
		ok &= models_field(pb, line, "gpu_spec", f[5], true);
	if (ok && num == 0 && milli != 0) {
		llmo_sim_problem(pb, line, "gpu_milli: %" PRId64 " but num_gpu is 0: want 0", milli);
		ok = false;
	} else if (ok && num == 1 && milli == 0) {
		llmo_sim_problem(pb, line, "gpu_milli: 0 but num_gpu is 1: want 1 to %d", LLMO_SCHED_MILLI);
		ok = false;
	} else if (ok && num > 1 && milli != LLMO_SCHED_MILLI) {
		llmo_sim_problem(pb, line,
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
	struct llmo_sim_problems pb = {problems, file, 0, 0};
	struct pod_rows pr = {LLMO_VEC_INIT, 0};
	int rc;

	rc = llmo_sim_csv_parse(text, len, pod_columns, LLMO_ARRAY_LEN(pod_columns), LLMO_SIM_TRACE_ROWS_MAX, pod_row, &pr, &pb);
	rc = llmo_sim_problems_close(&pb, rc, pr.rc);
	if (!rc)
		rc = llmo_vec_append(&t->pods, pr.rows.items, pr.rows.len);
	if (!rc)
		pr.rows.len = 0; /* what the rows own is t's now */
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
	struct llmo_buf buf;
	int rc;

	rc = llmo_sim_csv_read(path, LLMO_SIM_TRACE_FILE_MAX, &buf, problems);
	if (!rc)
		rc = parse(t, buf.data, buf.len, path, problems);
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
