#include "api/model.h"
#include "base/error.h"
#include "base/quantity.h"

#define F LLMO_FIELD
#define END LLMO_FIELD_END

static const char *const frameworks[] = {"vllm", "tgi", "llama.cpp", "triton", "transformers",
					 "onnx", "custom", NULL};
static const char *const quantizations[] = {"none", "fp16", "bf16", "fp8", "int8", "int4",
					    "awq", "gptq", "gguf", NULL};
static const char *const model_phases[] = {"Pending", "Available", "Failed", NULL};

static const struct llmo_field file_fields[] = {
	F(struct llmo_model_file, path, "path", LLMO_FT_STRING, .flags = LLMO_FF_REQUIRED),
	F(struct llmo_model_file, size, "size", LLMO_FT_INT64, .flags = LLMO_FF_REQUIRED),
	F(struct llmo_model_file, sha256, "sha256", LLMO_FT_STRING),
	END,
};

static const struct llmo_field artifact_fields[] = {
	F(struct llmo_artifact, reference, "reference", LLMO_FT_STRING),
	F(struct llmo_artifact, digest, "digest", LLMO_FT_STRING),
	F(struct llmo_artifact, files, "files", LLMO_FT_LIST, .sub = file_fields,
	  .elem_size = sizeof(struct llmo_model_file)),
	END,
};

static const struct llmo_field env_fields[] = {
	F(struct llmo_env_var, name, "name", LLMO_FT_STRING, .flags = LLMO_FF_REQUIRED),
	F(struct llmo_env_var, value, "value", LLMO_FT_STRING),
	END,
};

static const struct llmo_field runtime_fields[] = {
	F(struct llmo_runtime, image, "image", LLMO_FT_STRING),
	F(struct llmo_runtime, command, "command", LLMO_FT_STRLIST),
	F(struct llmo_runtime, args, "args", LLMO_FT_STRLIST),
	F(struct llmo_runtime, port, "port", LLMO_FT_INT32),
	F(struct llmo_runtime, health_path, "healthPath", LLMO_FT_STRING),
	F(struct llmo_runtime, local_command, "localCommand", LLMO_FT_STRLIST),
	F(struct llmo_runtime, env, "env", LLMO_FT_LIST, .sub = env_fields,
	  .elem_size = sizeof(struct llmo_env_var)),
	END,
};

#define MRS struct llmo_model_resources
static const struct llmo_field model_res_fields[] = {
	F(MRS, cpu, "cpu", LLMO_FT_QUANTITY),
	F(MRS, memory, "memory", LLMO_FT_QUANTITY, .flags = LLMO_FF_BINARY),
	F(MRS, gpu, "gpu", LLMO_FT_QUANTITY),
	F(MRS, gpu_memory, "gpuMemory", LLMO_FT_QUANTITY, .flags = LLMO_FF_BINARY),
	END,
};

static const struct llmo_field resources_pair_fields[] = {
	F(struct llmo_model_resources_pair, minimum, "minimum", LLMO_FT_OBJECT, .sub = model_res_fields),
	F(struct llmo_model_resources_pair, recommended, "recommended", LLMO_FT_OBJECT,
	  .sub = model_res_fields),
	END,
};

static const struct llmo_field signature_fields[] = {
	F(struct llmo_signature_req, required, "required", LLMO_FT_BOOL),
	F(struct llmo_signature_req, key_ref, "keyRef", LLMO_FT_STRING),
	END,
};

#define MS struct llmo_model_spec
const struct llmo_field llmo_model_spec_fields[] = {
	F(MS, name, "name", LLMO_FT_STRING, .flags = LLMO_FF_REQUIRED),
	F(MS, version, "version", LLMO_FT_STRING, .flags = LLMO_FF_REQUIRED),
	F(MS, type, "type", LLMO_FT_ENUM, .enums = llmo_model_type_names),
	F(MS, framework, "framework", LLMO_FT_ENUM, .enums = frameworks),
	F(MS, parameter_count, "parameterCount", LLMO_FT_STRING),
	F(MS, context_length, "contextLength", LLMO_FT_INT32),
	F(MS, quantization, "quantization", LLMO_FT_ENUM, .enums = quantizations),
	F(MS, artifact, "artifact", LLMO_FT_OBJECT, .sub = artifact_fields),
	F(MS, runtime, "runtime", LLMO_FT_OBJECT, .sub = runtime_fields),
	F(MS, resources, "resources", LLMO_FT_OBJECT, .sub = resources_pair_fields),
	F(MS, signature, "signature", LLMO_FT_OBJECT, .sub = signature_fields),
	END,
};

#define CO struct llmo_condition

#define BM struct llmo_benchmark
static const struct llmo_field benchmark_fields[] = {
	F(BM, gpu_type, "gpuType", LLMO_FT_STRING),
	F(BM, concurrency, "concurrency", LLMO_FT_INT32),
	F(BM, tokens_per_second, "tokensPerSecond", LLMO_FT_NUMBER),
	F(BM, requests_per_second, "requestsPerSecond", LLMO_FT_NUMBER),
	F(BM, ttft_p50_ms, "ttftP50Ms", LLMO_FT_NUMBER),
	F(BM, ttft_p95_ms, "ttftP95Ms", LLMO_FT_NUMBER),
	F(BM, recorded_at, "recordedAt", LLMO_FT_TIME),
	END,
};

static const char *const benchmark_phases[] = {"Pending", "Running", "Succeeded", "Failed",
					       NULL};

#define BR struct llmo_benchmark_run
static const struct llmo_field benchmark_run_fields[] = {
	F(BR, phase, "phase", LLMO_FT_ENUM, .enums = benchmark_phases),
	F(BR, subject, "subject", LLMO_FT_STRING),
	F(BR, attempts, "attempts", LLMO_FT_INT32),
	F(BR, gpu_type, "gpuType", LLMO_FT_STRING),
	F(BR, pod, "pod", LLMO_FT_STRING),
	F(BR, message, "message", LLMO_FT_STRING),
	F(BR, start_time, "startTime", LLMO_FT_TIME),
	F(BR, completion_time, "completionTime", LLMO_FT_TIME),
	END,
};

#define MT struct llmo_model_status
const struct llmo_field llmo_model_status_fields[] = {
	F(MT, phase, "phase", LLMO_FT_ENUM, .enums = model_phases),
	F(MT, observed_generation, "observedGeneration", LLMO_FT_INT64),
	F(MT, conditions, "conditions", LLMO_FT_LIST, .sub = llmo_condition_fields,
	  .elem_size = sizeof(CO)),
	F(MT, digest, "digest", LLMO_FT_STRING),
	F(MT, total_size, "totalSize", LLMO_FT_INT64),
	F(MT, used_by, "usedBy", LLMO_FT_STRLIST),
	F(MT, message, "message", LLMO_FT_STRING),
	F(MT, benchmarks, "benchmarks", LLMO_FT_LIST, .sub = benchmark_fields,
	  .elem_size = sizeof(BM)),
	F(MT, benchmark, "benchmark", LLMO_FT_OBJECT, .sub = benchmark_run_fields),
	END,
};

const struct llmo_field llmo_model_fields[] = {
	F(struct llmo_model, meta, "metadata", LLMO_FT_OBJECT, .sub = llmo_object_meta_fields),
	F(struct llmo_model, spec, "spec", LLMO_FT_OBJECT, .sub = llmo_model_spec_fields),
	F(struct llmo_model, status, "status", LLMO_FT_OBJECT, .sub = llmo_model_status_fields),
	END,
};

int llmo_model_decode(const json_t *obj, struct llmo_model *m, struct llmo_errlist *errs)
{
	return llmo_fields_decode_doc(llmo_model_fields, obj, m, errs, 0);
}

void llmo_model_free(struct llmo_model *m)
{
	llmo_fields_free(llmo_model_fields, m);
}

static int check_min_rec(const char *name, int64_t min, int64_t rec, bool binary,
			 struct llmo_errlist *errs)
{
	char path[96], a[64], b[64];
	enum llmo_qformat fmt = binary ? LLMO_QFORMAT_BINARY_SI : LLMO_QFORMAT_DECIMAL_SI;

	if (!min || !rec || min <= rec)
		return 0;
	snprintf(path, sizeof(path), "spec.resources.minimum.%s", name);
	llmo_quantity_format(min, fmt, a, sizeof(a));
	llmo_quantity_format(rec, fmt, b, sizeof(b));
	return llmo_errlist_add(errs, path, "%s is more than the recommended %s", a, b);
}

/* A relative path whose components are neither empty, "." nor "..". */
static bool relative_path_ok(const char *p)
{
	if (!*p || *p == '/')
		return false;
	while (*p) {
		size_t n = strcspn(p, "/");

		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		p += n;
		if (*p == '/')
			p++;
		if (!*p && p[-1] == '/')
			return false;
	}
	return true;
}

int llmo_model_validate(const struct llmo_model *m, struct llmo_errlist *errs)
{
	const struct llmo_model_spec *s = &m->spec;
	const struct llmo_model_resources *mn = &s->resources.minimum, *rc_ = &s->resources.recommended;
	int rc = 0;

	rc |= check_min_rec("cpu", mn->cpu, rc_->cpu, false, errs);
	rc |= check_min_rec("memory", mn->memory, rc_->memory, true, errs);
	rc |= check_min_rec("gpu", mn->gpu, rc_->gpu, false, errs);
	rc |= check_min_rec("gpuMemory", mn->gpu_memory, rc_->gpu_memory, true, errs);
	for (size_t i = 0; i < s->artifact.files.len; i++) {
		for (size_t j = 0; j < i; j++) {
			if (strcmp(s->artifact.files.items[i].path, s->artifact.files.items[j].path))
				continue;
			char path[96];

			snprintf(path, sizeof(path), "spec.artifact.files[%zu].path", i);
			rc |= llmo_errlist_add(errs, path, "duplicate file \"%s\"",
					       s->artifact.files.items[i].path);
		}
		if (!relative_path_ok(s->artifact.files.items[i].path)) {
			char path[96];

			snprintf(path, sizeof(path), "spec.artifact.files[%zu].path", i);
			rc |= llmo_errlist_add(errs, path,
					       "must be a relative path without empty, \".\" or \"..\" "
					       "components");
		}
	}
	if (!s->runtime.image && s->runtime.local_command.len == 0)
		rc |= llmo_errlist_add(errs, "spec.runtime",
				       "needs image (on Kubernetes) or localCommand (on one machine)");
	if (s->signature.required && (!s->signature.key_ref || !*s->signature.key_ref))
		rc |= llmo_errlist_add(errs, "spec.signature.keyRef",
				       "required when signature.required is true");
	return rc ? LLMO_ENOMEM : 0;
}
