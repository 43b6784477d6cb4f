#ifndef LLMO_SIM_TRACE_H
#define LLMO_SIM_TRACE_H
/*
 * Readers for the Alibaba "openb" GPU cluster traces
 * (../shared/data/alibaba-gpu-2023, README.upstream.md): a node list and a
 * pod list, both CSV with a header row.
 *
 *   nodes: sn, cpu_milli, memory_mib, gpu, model
 *   pods:  name, cpu_milli, memory_mib, num_gpu, gpu_milli, gpu_spec
 *
 * Columns are found by their header name, in any order; other columns
 * (qos, pod_phase, times...) are allowed and ignored. Fields are plain
 * (quoted fields are not part of the format and are rejected). Numbers are
 * strict base-10 integers. An empty model or gpu_spec, or "nan" (how pandas
 * shows an empty cell), means none. Lines may end in "\r\n".
 *
 * Every malformed row is reported, as "FILE:LINE: what is wrong", into a
 * list of problems (at most LLMO_SIM_TRACE_PROBLEMS_MAX of them, then one
 * line counting the rest); a file with problems yields no rows at all.
 * Nothing is dropped silently.
 */
#include "base/common.h"
#include "base/error.h"
#include "base/str.h"
#include "base/vec.h"

/* Caps on what is read from outside. */
#define LLMO_SIM_TRACE_FILE_MAX (512u * 1024 * 1024) /* bytes of one CSV file */
#define LLMO_SIM_TRACE_LINE_MAX 4096                 /* bytes of one line, end of line excluded */
#define LLMO_SIM_TRACE_ROWS_MAX 2000000              /* data rows of one file */
#define LLMO_SIM_TRACE_COLUMNS_MAX 64                /* header columns */
#define LLMO_SIM_TRACE_NAME_MAX 253                  /* bytes of a node or pod name */
#define LLMO_SIM_TRACE_CPU_MAX INT64_C(100000000)    /* milli-CPU of one node or pod (100k CPUs) */
#define LLMO_SIM_TRACE_MEM_MAX INT64_C(1073741824)   /* MiB of one node or pod (1 PiB) */
#define LLMO_SIM_TRACE_PROBLEMS_MAX 20               /* problems listed before counting the rest */

struct llmo_sim_trace_node {
	char *name;        /* owned */
	int64_t cpu_milli;
	int64_t memory_mib;
	int gpus;          /* 0 .. LLMO_SCHED_NODE_GPUS_MAX */
	char *model;       /* owned; "" without GPUs */
};

struct llmo_sim_trace_pod {
	int64_t cpu_milli;
	int64_t memory_mib;
	int num_gpu;       /* 0 .. LLMO_SCHED_POD_GPUS_MAX */
	int gpu_milli;     /* 0 without GPUs, 1..1000 for one GPU, 1000 for several */
	char *gpu_spec;    /* owned; "" for any model, else "A|B" */
};

struct llmo_sim_trace {
	LLMO_VEC(struct llmo_sim_trace_node) nodes;
	LLMO_VEC(struct llmo_sim_trace_pod) pods;
};

void llmo_sim_trace_init(struct llmo_sim_trace *t);
void llmo_sim_trace_release(struct llmo_sim_trace *t);

/*
 * Parses len bytes of a node list (file names it in messages) and appends
 * its rows to t->nodes. Returns 0; LLMO_EPARSE when the text has problems
 * (each appended to problems, t unchanged); LLMO_ETOOBIG over the row cap
 * (also a problem); LLMO_ENOMEM.
 */
int llmo_sim_trace_parse_nodes(struct llmo_sim_trace *t, const char *text, size_t len,
			       const char *file, struct llmo_strv *problems);
/* The same for a pod list, appended to t->pods. */
int llmo_sim_trace_parse_pods(struct llmo_sim_trace *t, const char *text, size_t len,
			      const char *file, struct llmo_strv *problems);

/*
 * Reads the file at path (capped at LLMO_SIM_TRACE_FILE_MAX) and parses it
 * as above. A file that cannot be read is one problem ("PATH: no such
 * file") and its code (LLMO_ENOTFOUND, LLMO_EDENIED, LLMO_ETOOBIG, ...).
 */
int llmo_sim_trace_load_nodes(struct llmo_sim_trace *t, const char *path,
			      struct llmo_strv *problems);
int llmo_sim_trace_load_pods(struct llmo_sim_trace *t, const char *path,
			     struct llmo_strv *problems);

#endif
