/*
 * LLMWorkload and LLMModel objects through the whole check (schema, defaults,
 * metadata, cross-field rules) and into the C structs.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "api/model.h"
#include "api/validate.h"
#include "api/workload.h"
#include "base/yaml.h"

#define GI (1024LL * 1024 * 1024)
#define MS_NS (1000LL * 1000)

static json_t *load_file_doc(const char *path, size_t index)
{
	struct llmo_yaml_stream s = {0};
	struct llmo_error err = {0};
	json_t *v;

	if (llmo_yaml_load_file(path, &s, &err))
		fail_msg("%s", err.msg);
	assert_true(index < s.ndocs);
	v = json_incref(s.docs[index].root);
	llmo_yaml_stream_release(&s);
	return v;
}

static json_t *yaml1(const char *text)
{
	struct llmo_yaml_stream s = {0};
	struct llmo_error err = {0};
	json_t *v;

	if (llmo_yaml_parse(text, strlen(text), "test", &s, &err))
		fail_msg("test YAML: %s", err.msg);
	v = json_incref(s.docs[0].root);
	llmo_yaml_stream_release(&s);
	return v;
}

static char *problems(json_t *obj, const struct llmo_config *cfg, enum llmo_doc_kind *kind)
{
	struct llmo_errlist errs;
	struct llmo_buf out;

	llmo_errlist_init(&errs);
	llmo_buf_init(&out, 1 << 20);
	assert_int_equal(llmo_object_check(obj, cfg, kind, &errs), 0);
	for (size_t i = 0; i < errs.v.len; i++)
		llmo_buf_appendf(&out, "%s%s: %s", i ? "|" : "", errs.v.items[i].path,
				 errs.v.items[i].msg);
	llmo_errlist_release(&errs);
	return llmo_buf_detach(&out, NULL);
}

static void expect_problems(const char *yaml, const char *want)
{
	enum llmo_doc_kind kind;
	json_t *obj = yaml1(yaml);
	char *got = problems(obj, NULL, &kind);

	if (strcmp(got, want) != 0)
		fail_msg("object:\n%s\nwant [%s]\ngot  [%s]", yaml, want, got);
	free(got);
	json_decref(obj);
}

/* The spec's example, unchanged, decodes to exactly what it says. */
static void test_spec_example(void **state)
{
	json_t *obj = load_file_doc("examples/my-llm-workload.yaml", 0);
	struct llmo_errlist errs;
	struct llmo_workload w = {0};
	enum llmo_doc_kind kind;
	char *got = problems(obj, NULL, &kind);

	assert_string_equal(got, "");
	free(got);
	assert_int_equal(kind, LLMO_DOC_WORKLOAD);
	llmo_errlist_init(&errs);
	assert_int_equal(llmo_workload_decode(obj, &w, &errs), 0);
	assert_int_equal(llmo_errlist_count(&errs), 0);
	assert_string_equal(w.meta.name, "my-llm-workload");
	assert_string_equal(w.meta.namespace_, "llm-workloads");
	assert_string_equal(w.spec.model_name, "llama2");
	assert_string_equal(w.spec.model_version, "7b");
	assert_int_equal(w.spec.model_type, LLMO_MODEL_TEXT_GENERATION);
	assert_int_equal(w.spec.resources.cpu, 2000);
	assert_int_equal(w.spec.resources.memory, 8 * GI * 1000);
	assert_int_equal(w.spec.resources.gpu, 1000);
	assert_int_equal(w.spec.scaling.min_replicas, 1);
	assert_int_equal(w.spec.scaling.max_replicas, 5);
	assert_int_equal(w.spec.scaling.target_metrics.len, 2);
	assert_int_equal(w.spec.scaling.target_metrics.items[0].type, LLMO_METRIC_CPU);
	assert_true(w.spec.scaling.target_metrics.items[0].target == 70);
	assert_int_equal(w.spec.scaling.target_metrics.items[1].type,
			 LLMO_METRIC_REQUESTS_PER_SECOND);
	assert_true(w.spec.scaling.target_metrics.items[1].target == 100);
	assert_int_equal(w.spec.performance.max_latency, 500 * MS_NS);
	assert_true(w.spec.performance.min_throughput == 50);
	assert_true(w.spec.performance.sla.availability == 99.9);
	assert_int_equal(w.spec.performance.sla.response_time_p95, 200);
	assert_true(w.spec.performance.sla.error_rate == 0.01);
	/* defaults from the CRD */
	assert_int_equal(w.spec.qos_class, LLMO_QOS_STANDARD);
	assert_int_equal(w.spec.scaling.strategy, LLMO_SCALE_HORIZONTAL);
	assert_int_equal(w.spec.deployment_strategy.type, LLMO_DEPLOY_ROLLING);
	llmo_workload_free(&w);
	llmo_errlist_release(&errs);
	json_decref(obj);
}

/* Defaults of objects left out entirely (scaling: {} by default, then minReplicas: 1). */
static void test_defaults_of_absent_sections(void **state)
{
	json_t *obj = yaml1("apiVersion: llm.orchestrator.io/v1\nkind: LLMWorkload\n"
			    "metadata: {name: w, namespace: ns}\nspec: {modelName: m}\n");
	struct llmo_errlist errs;
	struct llmo_workload w = {0};
	enum llmo_doc_kind kind;
	char *got = problems(obj, NULL, &kind);

	assert_string_equal(got, "");
	free(got);
	llmo_errlist_init(&errs);
	assert_int_equal(llmo_workload_decode(obj, &w, &errs), 0);
	assert_string_equal(w.spec.model_version, "latest");
	assert_int_equal(w.spec.scaling.min_replicas, 1);
	assert_false(w.spec.scaling.has_max_replicas);
	assert_int_equal(w.spec.placement.strategy, LLMO_PLACE_BALANCED);
	llmo_workload_free(&w);
	llmo_errlist_release(&errs);
	json_decref(obj);
}

static void test_round_trip_encode(void **state)
{
	json_t *obj = load_file_doc("examples/premium-workload.yaml", 0);
	struct llmo_errlist errs;
	struct llmo_workload a = {0}, b = {0};
	enum llmo_doc_kind kind;
	json_t *ja, *jb;
	char *got = problems(obj, NULL, &kind);

	assert_string_equal(got, "");
	free(got);
	llmo_errlist_init(&errs);
	assert_int_equal(llmo_workload_decode(obj, &a, &errs), 0);
	ja = llmo_fields_encode(llmo_workload_fields, &a);
	assert_int_equal(llmo_workload_decode(ja, &b, &errs), 0);
	jb = llmo_fields_encode(llmo_workload_fields, &b);
	assert_int_equal(llmo_errlist_count(&errs), 0);
	assert_true(json_equal(ja, jb));
	/* the encoding keeps what the user wrote */
	assert_string_equal(json_string_value(json_object_get(json_object_get(json_object_get(
				    ja, "spec"), "resources"), "gpuType")),
			    "A100|H100");
	json_decref(ja);
	json_decref(jb);
	llmo_workload_free(&a);
	llmo_workload_free(&b);
	llmo_errlist_release(&errs);
	json_decref(obj);
}

#define HEAD "apiVersion: llm.orchestrator.io/v1\nkind: LLMWorkload\nmetadata: {name: w}\n"

static void test_cross_field_rules(void **state)
{
	expect_problems(HEAD "spec: {modelName: m, scaling: {minReplicas: 3, maxReplicas: 2}}\n",
			"spec.scaling.maxReplicas: must be >= minReplicas (3)");
	expect_problems(HEAD "spec: {modelName: m, scaling: {minReplicas: 2, maxReplicas: 4, "
			     "replicas: 5}}\n",
			"spec.scaling.replicas: must be <= maxReplicas (4)");
	expect_problems(HEAD "spec: {modelName: m, resources: {gpu: \"1.5\"}}\n",
			"spec.resources.gpu: 1500m: more than one GPU must be a whole number (a "
			"share is only possible below one GPU)");
	expect_problems(HEAD "spec: {modelName: m, resources: {gpu: \"0.25\", gpuMemory: 10Gi}}\n",
			"");
	/* as in Kubernetes, an int-or-string field takes no JSON float */
	expect_problems(HEAD "spec: {modelName: m, resources: {gpu: 0.25}}\n",
			"spec.resources.gpu: expected integer or string, got number (write a "
			"fractional quantity as a string: \"0.25\")");
	expect_problems(HEAD "spec: {modelName: m, resources: {gpuMemory: 10Gi}}\n",
			"spec.resources.gpuMemory: needs spec.resources.gpu (a whole GPU or a share)");
	expect_problems(HEAD "spec: {modelName: m, scaling: {targetMetrics: [{type: cpu, target: "
			     "170}]}}\n",
			"spec.scaling.targetMetrics[0].target: a utilisation target is a percentage "
			"in (0, 100], got 170");
	expect_problems(HEAD "spec: {modelName: m, scaling: {targetMetrics: [{type: latency, "
			     "target: 200}, {type: latency, target: 100}]}}\n",
			"spec.scaling.targetMetrics[1].type: duplicate metric (also at "
			"targetMetrics[0])");
	expect_problems(HEAD "spec: {modelName: m, deploymentStrategy: {type: abTest, abTest: "
			     "{variants: [{modelVersion: a, weight: 50}, {modelVersion: b, "
			     "weight: 40}]}}}\n",
			"spec.deploymentStrategy.abTest.variants: weights add up to 90, not 100");
	expect_problems(HEAD "spec: {modelName: m, deploymentStrategy: {type: rolling, rolling: "
			     "{maxSurge: 0, maxUnavailable: 0}}}\n",
			"spec.deploymentStrategy.rolling.maxUnavailable: may not be 0 when "
			"maxSurge is 0");
	expect_problems(HEAD "spec: {modelName: m, deploymentStrategy: {type: rolling, rolling: "
			     "{maxSurge: lots}}}\n",
			"spec.deploymentStrategy.rolling.maxSurge: must be a non-negative count or "
			"a percentage such as \"25%\"");
	expect_problems(HEAD "spec: {modelName: m, performance: {maxLatency: 100ms, "
			     "slaRequirements: {responseTimeP95: 200}}}\n",
			"spec.performance.slaRequirements.responseTimeP95: 200ms exceeds "
			"performance.maxLatency (100ms)");
	expect_problems(HEAD "spec: {modelName: m, placement: {tolerations: [{operator: Exists, "
			     "value: x}]}}\n",
			"spec.placement.tolerations[0]: value must be empty when operator is "
			"\"Exists\"");
}

static void test_metadata_rules(void **state)
{
	expect_problems("apiVersion: llm.orchestrator.io/v1\nkind: LLMWorkload\n"
			"metadata: {name: Bad_Name}\nspec: {modelName: m}\n",
			"metadata.name: \"Bad_Name\": a DNS-1123 subdomain must consist of lower "
			"case alphanumeric characters, '-' or '.', and must start and end with an "
			"alphanumeric character");
	expect_problems("apiVersion: llm.orchestrator.io/v1\nkind: LLMWorkload\n"
			"spec: {modelName: m}\n",
			"metadata: required field is missing");
	expect_problems("apiVersion: llm.orchestrator.io/v1\nkind: LLMWorkload\n"
			"metadata: {name: w, labels: {app.kubernetes.io/name: ok, bad key: v}}\n"
			"spec: {modelName: m}\n",
			"metadata.labels[\"bad key\"]: \"bad key\": name part must be 63 characters "
			"or less, consist of alphanumeric characters, '-', '_' or '.', and start "
			"and end with an alphanumeric character");
}

static void test_model_rules(void **state)
{
	expect_problems("apiVersion: llm.orchestrator.io/v1\nkind: LLMModel\nmetadata: {name: m}\n"
			"spec: {name: m, version: v, runtime: {image: x}, resources: {minimum: "
			"{cpu: 4}, recommended: {cpu: 2}}}\n",
			"spec.resources.minimum.cpu: 4 is more than the recommended 2");
	expect_problems("apiVersion: llm.orchestrator.io/v1\nkind: LLMModel\nmetadata: {name: m}\n"
			"spec: {name: m, version: v}\n",
			"spec.runtime: needs image (on Kubernetes) or localCommand (on one machine)");
	expect_problems("apiVersion: llm.orchestrator.io/v1\nkind: LLMModel\nmetadata: {name: m}\n"
			"spec: {name: m, version: v, runtime: {image: x}, artifact: {files: "
			"[{path: a/./b, size: 1}]}}\n",
			"spec.artifact.files[0].path: must be a relative path without empty, \".\" "
			"or \"..\" components");
}

static void test_every_example_is_valid(void **state)
{
	struct llmo_validate_opts o = {.quiet = true};
	struct llmo_validate_result r = {0};
	char *buf = NULL;
	size_t len = 0;

	o.out = open_memstream(&buf, &len);
	assert_non_null(o.out);
	assert_int_equal(llmo_validate_path("examples", &o, &r), 0);
	fclose(o.out);
	if (r.invalid)
		fail_msg("%s", buf);
	assert_true(r.files >= 5);
	assert_true(r.documents >= r.files);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spec_example),
		cmocka_unit_test(test_defaults_of_absent_sections),
		cmocka_unit_test(test_round_trip_encode),
		cmocka_unit_test(test_cross_field_rules),
		cmocka_unit_test(test_metadata_rules),
		cmocka_unit_test(test_model_rules),
		cmocka_unit_test(test_every_example_is_valid),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
