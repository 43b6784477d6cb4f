/*
 * The orchestrator configuration: defaults, overrides, and every kind of
 * mistake reported under its key.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "api/config.h"
#include "base/yaml.h"

#define GI (1024LL * 1024 * 1024)
#define MIN_NS (60LL * 1000 * 1000 * 1000)

static json_t *yaml1(const char *text)
{
	struct llmo_yaml_stream s = {0};
	struct llmo_error err = {0};
	json_t *v;

	if (llmo_yaml_parse(text, strlen(text), "test", &s, &err))
		fail_msg("test YAML: %s", err.msg);
	assert_int_equal(s.ndocs, 1);
	v = json_incref(s.docs[0].root);
	llmo_yaml_stream_release(&s);
	return v;
}

/* Loads text, returns the problems as "path: msg|..." (empty when none). */
static char *load(const char *text, struct llmo_config *cfg)
{
	json_t *doc = text ? yaml1(text) : NULL;
	struct llmo_errlist errs;
	struct llmo_buf out;

	llmo_errlist_init(&errs);
	llmo_buf_init(&out, 1 << 20);
	assert_int_equal(llmo_config_from_json(doc, cfg, &errs), 0);
	for (size_t i = 0; i < errs.v.len; i++)
		llmo_buf_appendf(&out, "%s%s: %s", i ? "|" : "", errs.v.items[i].path,
				 errs.v.items[i].msg);
	llmo_errlist_release(&errs);
	json_decref(doc);
	return llmo_buf_detach(&out, NULL);
}

static void expect_errors(const char *text, const char *want)
{
	struct llmo_config cfg = {0};
	char *got = load(text, &cfg);

	if (strcmp(got, want) != 0)
		fail_msg("config:\n%s\nwant [%s]\ngot  [%s]", text, want, got);
	free(got);
	llmo_config_free(&cfg);
}

static void test_defaults_are_the_spec_values(void **state)
{
	struct llmo_config cfg = {0};
	const struct llmo_qos_class *q;
	char *errs = load(NULL, &cfg);

	assert_string_equal(errs, "");
	free(errs);
	/* the spec's "Orchestrator Configuration" */
	assert_int_equal(cfg.scheduler.strategy, 1); /* performance-aware */
	assert_int_equal(cfg.scheduler.policy, 7);   /* llmo */
	assert_true(cfg.scheduler.resource_overcommit_ratio == 1.2);
	assert_true(cfg.scheduler.locality_preference);
	assert_true(cfg.scheduler.predictive_scaling);
	q = llmo_config_qos(&cfg, "premium");
	assert_non_null(q);
	assert_int_equal(q->priority, 100);
	assert_true(q->resource_guarantee == 0.9);
	assert_int_equal(q->max_latency_ms, 50);
	q = llmo_config_qos(&cfg, "standard");
	assert_non_null(q);
	assert_int_equal(q->priority, 50);
	assert_int_equal(q->max_latency_ms, 200);
	assert_non_null(llmo_config_qos(&cfg, "basic"));
	assert_int_equal(cfg.resource_manager.optimization_interval, 5 * MIN_NS);
	assert_true(cfg.resource_manager.scale_up_threshold == 0.8);
	assert_true(cfg.resource_manager.scale_down_threshold == 0.3);
	assert_int_equal(cfg.resource_manager.scale_up_cooldown, 3 * MIN_NS);
	assert_int_equal(cfg.resource_manager.scale_down_cooldown, 10 * MIN_NS);
	assert_int_equal(cfg.resource_manager.max_cpu_per_workload, 8000);
	assert_int_equal(cfg.resource_manager.max_memory_per_workload, 32 * GI * 1000);
	assert_int_equal(cfg.model_registry.storage_type, LLMO_STORAGE_LOCAL);
	assert_string_equal(cfg.model_registry.storage_path, "/var/lib/llm-models");
	assert_int_equal(cfg.model_registry.cache_size, 107374182400LL * 1000);
	/* the one default that is not the spec's example: a benchmark runs a replica */
	assert_false(cfg.model_registry.benchmark_on_register);
	assert_true(cfg.model_registry.checksum_validation);
	/* no fetch init container unless asked; the agent DaemonSet's cache path */
	assert_string_equal(cfg.model_registry.fetch_image, "");
	assert_string_equal(cfg.model_registry.node_cache_path, "/var/lib/llm-models/cache");
	assert_int_equal(cfg.operator_.lease_duration, 15LL * 1000 * 1000 * 1000);
	assert_string_equal(cfg.operator_.metrics_addr, ":9090");
	assert_int_equal(cfg.deployment_strategies.canary.traffic_split, 10);
	assert_true(cfg.deployment_strategies.canary.success_threshold == 0.99);
	assert_true(cfg.deployment_strategies.rolling.max_surge.is_str);
	assert_string_equal(cfg.deployment_strategies.rolling.max_surge.s, "25%");
	assert_int_equal(cfg.resource_profiles.len, 0);
	llmo_config_free(&cfg);
}

static void test_spec_example_loads(void **state)
{
	struct llmo_config cfg = {0};
	const struct llmo_resource_profile *p;
	char *errs = load("scheduler:\n"
			  "  strategy: \"performance-aware\"\n"
			  "  resourceOvercommitRatio: 1.5\n"
			  "  qosClasses:\n"
			  "    premium:\n"
			  "      priority: 200\n"
			  "    gold:\n"
			  "      priority: 150\n"
			  "resourceManager:\n"
			  "  maxMemoryPerWorkload: \"64Gi\"\n"
			  "modelRegistry:\n"
			  "  cacheSize: 107374182400  # 100GB\n"
			  "resourceProfiles:\n"
			  "  large-gpu:\n"
			  "    cpu: \"4000m\"\n"
			  "    memory: \"16Gi\"\n"
			  "    gpu: 2\n"
			  "    maxReplicas: 10\n",
			  &cfg);

	assert_string_equal(errs, "");
	free(errs);
	assert_true(cfg.scheduler.resource_overcommit_ratio == 1.5);
	/* an override keeps the class's other defaults */
	assert_int_equal(llmo_config_qos(&cfg, "premium")->priority, 200);
	assert_true(llmo_config_qos(&cfg, "premium")->resource_guarantee == 0.9);
	assert_non_null(llmo_config_qos(&cfg, "standard"));
	/* a new class gets the fields' defaults */
	assert_int_equal(llmo_config_qos(&cfg, "gold")->priority, 150);
	assert_int_equal(llmo_config_qos(&cfg, "gold")->max_latency_ms, 1000);
	assert_int_equal(llmo_config_qos(&cfg, "gold")->preemption_policy, LLMO_PREEMPT_NEVER);
	assert_int_equal(cfg.resource_manager.max_memory_per_workload, 64 * GI * 1000);
	p = llmo_config_profile(&cfg, "large-gpu");
	assert_non_null(p);
	assert_int_equal(p->cpu, 4000);
	assert_int_equal(p->memory, 16 * GI * 1000);
	assert_int_equal(p->gpu, 2000);
	assert_int_equal(p->max_replicas, 10);
	assert_null(llmo_config_profile(&cfg, "small"));
	llmo_config_free(&cfg);
}

static void test_mistakes(void **state)
{
	expect_errors("scheduler:\n  strategi: spread\n", "scheduler.strategi: unknown field");
	expect_errors("schedulr: {}\n", "schedulr: unknown field");
	expect_errors("scheduler:\n  resourceOvercommitRatio: high\n",
		      "scheduler.resourceOvercommitRatio: expected number, got string");
	expect_errors("scheduler:\n  resourceOvercommitRatio: 0.5\n",
		      "scheduler.resourceOvercommitRatio: must be >= 1");
	expect_errors("resourceManager:\n  scaleUpThreshold: 1.5\n",
		      "resourceManager.scaleUpThreshold: must be <= 1");
	expect_errors("resourceManager:\n  optimizationInterval: -1s\n",
		      "resourceManager.optimizationInterval: must be >= 0s");
	expect_errors("resourceManager:\n  maxMemoryPerWorkload: 1Ki\n",
		      "resourceManager.maxMemoryPerWorkload: must be >= 1Mi");
	expect_errors("scheduler:\n  qosClasses:\n    premium:\n      preemptionPolicy: sometimes\n",
		      "scheduler.qosClasses.premium.preemptionPolicy: unsupported value "
		      "\"sometimes\": must be one of \"never\", \"lower-priority\", \"always\"");
	expect_errors("scheduler:\n  qosClasses:\n    premium: 5\n",
		      "scheduler.qosClasses.premium: expected object, got integer");
	expect_errors("modelRegistry:\n  storagePath: \"\"\n",
		      "modelRegistry.storagePath: must not be empty");
	expect_errors("operator:\n  watchNamespaces: [a, 1]\n",
		      "operator.watchNamespaces[1]: expected string, got integer");
	expect_errors("resourceProfiles:\n  big.one:\n    cpu: lots\n",
		      "resourceProfiles[\"big.one\"].cpu: \"lots\": expected a number");
}

static void test_consistency(void **state)
{
	expect_errors("resourceManager:\n  scaleUpThreshold: 0.5\n  scaleDownThreshold: 0.6\n",
		      "resourceManager.scaleDownThreshold: must be below scaleUpThreshold (0.5)");
	expect_errors("operator:\n  leaseDuration: 10s\n  renewDeadline: 15s\n",
		      "operator.renewDeadline: must be shorter than leaseDuration");
	expect_errors("modelRegistry:\n  storageType: gcs\n",
		      "modelRegistry.storageType: \"gcs\" is not supported yet (supported: local, s3)");
}

/* nodeCachePath is a hostPath and a mountPath: absolute, one spelling, nowhere above itself. */
static void test_node_cache_path(void **state)
{
	struct llmo_config cfg = {0};
	const char *prefix = "modelRegistry:\n  nodeCachePath: /";
	char *errs, *text;
	size_t len = LLMO_NODE_CACHE_PATH_MAX + 1;

	(void)state;
	errs = load("modelRegistry:\n  fetchImage: ghcr.io/llmo/llmo:0.1.0\n"
		    "  nodeCachePath: /mnt/models/cache\n",
		    &cfg);
	assert_string_equal(errs, "");
	assert_string_equal(cfg.model_registry.fetch_image, "ghcr.io/llmo/llmo:0.1.0");
	assert_string_equal(cfg.model_registry.node_cache_path, "/mnt/models/cache");
	free(errs);
	llmo_config_free(&cfg);
	expect_errors("modelRegistry:\n  nodeCachePath: \"\"\n",
		      "modelRegistry.nodeCachePath: must not be empty");
	expect_errors("modelRegistry:\n  nodeCachePath: var/cache\n",
		      "modelRegistry.nodeCachePath: \"var/cache\" must be an absolute path");
	expect_errors("modelRegistry:\n  nodeCachePath: /var/cache/\n",
		      "modelRegistry.nodeCachePath: \"/var/cache/\" must not end with '/'");
	expect_errors("modelRegistry:\n  nodeCachePath: /\n",
		      "modelRegistry.nodeCachePath: \"/\" must not end with '/'");
	expect_errors("modelRegistry:\n  nodeCachePath: /var/../etc\n",
		      "modelRegistry.nodeCachePath: \"/var/../etc\" must not have a \"..\" component");
	expect_errors("modelRegistry:\n  nodeCachePath: /var/cache/..\n",
		      "modelRegistry.nodeCachePath: \"/var/cache/..\" must not have a \"..\" "
		      "component");
	/* names that only start with two dots are names */
	expect_errors("modelRegistry:\n  nodeCachePath: /var/..cache/x..\n", "");
	/* "/" and len - 1 letters: one byte over */
	text = malloc(strlen(prefix) + len + 2);
	assert_non_null(text);
	memcpy(text, prefix, strlen(prefix));
	memset(text + strlen(prefix), 'a', len - 1);
	memcpy(text + strlen(prefix) + len - 1, "\n", 2);
	expect_errors(text, "modelRegistry.nodeCachePath: longer than 1024 bytes");
	free(text);
}

/* `llmo config defaults` must produce a file that loads back to the same configuration. */
static void test_defaults_file_round_trips(void **state)
{
	struct llmo_config a = {0}, b = {0};
	struct llmo_buf text;
	json_t *ja, *jb;
	char *errs;

	llmo_buf_init(&text, 1 << 20);
	assert_int_equal(llmo_config_write_defaults(&text), 0);
	/* released at the end; cmocka stops at the first failed assertion */
	assert_non_null(strstr(text.data, "# utilisation above which replicas are added"));
	assert_non_null(strstr(text.data, "  scaleUpThreshold: 0.8\n"));
	/* keys without a default are listed, commented out */
	assert_non_null(strstr(text.data, "  # each entry, under its name, takes:\n"
					  "  #   cpu: cpu request\n"));
	assert_non_null(strstr(text.data, "#   maxReplicas: upper bound on a workload's maxReplicas"));
	errs = load(text.data, &b);
	assert_string_equal(errs, "");
	free(errs);
	errs = load(NULL, &a);
	free(errs);
	ja = llmo_fields_encode(llmo_config_fields, &a);
	jb = llmo_fields_encode(llmo_config_fields, &b);
	assert_true(json_equal(ja, jb));
	json_decref(ja);
	json_decref(jb);
	llmo_config_free(&a);
	llmo_config_free(&b);
	llmo_buf_release(&text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_are_the_spec_values),
		cmocka_unit_test(test_spec_example_loads),
		cmocka_unit_test(test_mistakes),
		cmocka_unit_test(test_consistency),
		cmocka_unit_test(test_node_cache_path),
		cmocka_unit_test(test_defaults_file_round_trips),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
