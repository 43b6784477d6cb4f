#ifndef LLMO_API_MODEL_H
#define LLMO_API_MODEL_H
/*
 * LLMModel (llm.orchestrator.io/v1): one version of a model: what it is, where
 * its bytes are (artifact reference, digest, files), how to run it (runtime),
 * what it needs (resources) and whether it must be signed. Same conventions
 * as workload.h.
 */
#include "api/workload.h"

enum llmo_framework { LLMO_FW_VLLM = 1, LLMO_FW_TGI, LLMO_FW_LLAMA_CPP, LLMO_FW_TRITON,
		      LLMO_FW_TRANSFORMERS, LLMO_FW_ONNX, LLMO_FW_CUSTOM };
enum llmo_model_phase { LLMO_MPHASE_PENDING = 1, LLMO_MPHASE_AVAILABLE, LLMO_MPHASE_FAILED };

struct llmo_model_file {
	char *path;
	int64_t size;
	char *sha256;
};

struct llmo_artifact {
	char *reference;
	char *digest;
	LLMO_LIST(struct llmo_model_file) files;
};

struct llmo_env_var {
	char *name;
	char *value;
};

struct llmo_runtime {
	char *image;
	struct llmo_strlist command;
	struct llmo_strlist args;
	int32_t port;
	char *health_path;
	struct llmo_strlist local_command;
	LLMO_LIST(struct llmo_env_var) env;
};

struct llmo_model_resources {
	int64_t cpu, memory, gpu, gpu_memory; /* milli-units */
};

struct llmo_model_resources_pair {
	struct llmo_model_resources minimum;
	struct llmo_model_resources recommended;
};

struct llmo_signature_req {
	bool required;
	char *key_ref;
};

struct llmo_model_spec {
	char *name;
	char *version;
	int type;      /* enum llmo_model_type */
	int framework; /* enum llmo_framework */
	char *parameter_count;
	int32_t context_length;
	int quantization; /* 1 none .. 9 gguf */
	struct llmo_artifact artifact;
	struct llmo_runtime runtime;
	struct llmo_model_resources_pair resources;
	struct llmo_signature_req signature;
};

struct llmo_benchmark {
	char *gpu_type;
	int32_t concurrency;
	double tokens_per_second;
	double requests_per_second;
	double ttft_p50_ms;
	double ttft_p95_ms;
	int64_t recorded_at;
};

/* The last benchmark-on-register run (phase 1 Pending .. 4 Failed, 0 unset). */
struct llmo_benchmark_run {
	int phase;
	char *subject;
	int32_t attempts;
	char *gpu_type;
	char *pod;
	char *message;
	int64_t start_time;
	int64_t completion_time;
};

struct llmo_model_status {
	int phase; /* enum llmo_model_phase */
	int64_t observed_generation;
	LLMO_LIST(struct llmo_condition) conditions;
	char *digest;
	int64_t total_size;
	struct llmo_strlist used_by;
	char *message;
	LLMO_LIST(struct llmo_benchmark) benchmarks;
	struct llmo_benchmark_run benchmark;
};

struct llmo_model {
	struct llmo_object_meta meta;
	struct llmo_model_spec spec;
	struct llmo_model_status status;
};

extern const struct llmo_field llmo_model_spec_fields[];
extern const struct llmo_field llmo_model_status_fields[];
extern const struct llmo_field llmo_model_fields[];

int llmo_model_decode(const json_t *obj, struct llmo_model *m, struct llmo_errlist *errs);
void llmo_model_free(struct llmo_model *m);

/*
 * Rules beyond the schema: minimum resources not above recommended, files
 * with distinct paths, runtime with something to run (image or
 * localCommand), a signature key when signatures are required.
 */
int llmo_model_validate(const struct llmo_model *m, struct llmo_errlist *errs);

#endif
