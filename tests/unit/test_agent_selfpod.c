/* llmo server's own pod and Deployment as the agent writes them (agent/selfpod.h). */
#include "base/common.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>

#include "agent/selfpod.h"
#include "base/json.h"

static const char *const argv1[] = {"/usr/bin/llmo", "server", "--data-dir", "/d", NULL};
static const char *const argv2[] = {"/usr/bin/llmo", "server", "--data-dir", "/e", NULL};

static struct llmo_selfpod sp(const char *const *argv)
{
	/* 1700000000000 ms after the epoch: 2023-11-14T22:13:20Z */
	return (struct llmo_selfpod){.ns = "llm-orchestrator",
				     .name = "llmo-server",
				     .deployment = "llm-orchestrator",
				     .component = "server",
				     .container = "llmo",
				     .image = "/usr/bin/llmo",
				     .argv = argv,
				     .started_ms = 1700000000000LL,
				     .pid = 42};
}

static const char *str_at(const json_t *o, const char *path)
{
	return json_string_value(llmo_json_get_path(o, path));
}

static void test_name(void **state)
{
	struct llmo_selfpod p = sp(argv1);
	char name[64], small[8];

	(void)state;
	assert_int_equal(llmo_selfpod_name(&p, "box-1", name, sizeof(name)), 0);
	assert_string_equal(name, "llmo-server-box-1");
	assert_int_equal(llmo_selfpod_name(&p, "box-1", small, sizeof(small)), LLMO_EINVAL);
}

static void test_object(void **state)
{
	struct llmo_selfpod p = sp(argv1), q = sp(argv2);
	json_t *pod = llmo_selfpod_object(&p, "box-1", "uid-n1");

	(void)state;
	assert_non_null(pod);
	assert_string_equal(str_at(pod, "metadata.name"), "llmo-server-box-1");
	assert_string_equal(str_at(pod, "metadata.namespace"), "llm-orchestrator");
	assert_string_equal(str_at(pod, "spec.nodeName"), "box-1");
	assert_string_equal(str_at(pod, "spec.containers[0].name"), "llmo");
	assert_string_equal(str_at(pod, "spec.containers[0].command[3]"), "/d");
	assert_string_equal(str_at(pod, "metadata.ownerReferences[0].kind"), "Node");
	assert_string_equal(str_at(pod, "metadata.ownerReferences[0].uid"), "uid-n1");
	assert_string_equal(str_at(pod, "metadata.labels[\"app.kubernetes.io/component\"]"),
			    "server");
	assert_int_equal(strlen(str_at(pod, "metadata.annotations[\"kubernetes.io/config.mirror\"]")),
			 16);
	/* the same making is current; another command line or another Node's uid is not */
	assert_true(llmo_selfpod_current(&p, pod, "box-1", "uid-n1"));
	assert_false(llmo_selfpod_current(&q, pod, "box-1", "uid-n1"));
	assert_false(llmo_selfpod_current(&p, pod, "box-1", "uid-n2"));
	json_decref(pod);
	pod = json_object();
	assert_false(llmo_selfpod_current(&p, pod, "box-1", "uid-n1"));
	json_decref(pod);
}

static void test_status_and_restarts(void **state)
{
	struct llmo_selfpod p = sp(argv1), later = sp(argv1);
	json_t *st = llmo_selfpod_status(&p, "10.0.0.5", 3), *old;

	(void)state;
	assert_non_null(st);
	assert_string_equal(str_at(st, "phase"), "Running");
	assert_string_equal(str_at(st, "podIP"), "10.0.0.5");
	assert_string_equal(str_at(st, "startTime"), "2023-11-14T22:13:20Z");
	assert_string_equal(str_at(st, "containerStatuses[0].containerID"),
			    "llmo://42-1700000000000");
	assert_string_equal(str_at(st, "containerStatuses[0].state.running.startedAt"),
			    "2023-11-14T22:13:20Z");
	assert_int_equal(json_integer_value(llmo_json_get_path(st, "containerStatuses[0].restartCount")),
			 3);
	assert_true(json_is_true(llmo_json_get_path(st, "containerStatuses[0].ready")));

	/* no pod: 0; the same run: its count; another run (pid or start): one more */
	assert_int_equal(llmo_selfpod_restarts(&p, NULL), 0);
	old = json_pack("{s:O}", "status", st);
	assert_int_equal(llmo_selfpod_restarts(&p, old), 3);
	later.started_ms += 5000;
	assert_int_equal(llmo_selfpod_restarts(&later, old), 4);
	later = sp(argv1);
	later.pid = 43;
	assert_int_equal(llmo_selfpod_restarts(&later, old), 4);
	json_decref(old);
	json_decref(st);
}

static void test_deployment(void **state)
{
	struct llmo_selfpod p = sp(argv1);
	json_t *d = llmo_selfpod_deployment(&p), *st = llmo_selfpod_deployment_status(true);
	json_t *down = llmo_selfpod_deployment_status(false);
	json_t *sel, *pod = llmo_selfpod_object(&p, "box-1", "u");
	const char *k;
	json_t *v;

	(void)state;
	assert_non_null(d);
	assert_string_equal(str_at(d, "metadata.annotations[\"llm.orchestrator.io/managed-by\"]"),
			    "llmo-server");
	assert_int_equal(json_integer_value(llmo_json_get_path(d, "spec.replicas")), 1);
	/* its selector matches the pod's labels */
	sel = llmo_json_get_path(d, "spec.selector.matchLabels");
	assert_int_equal(json_object_size(sel), 2);
	json_object_foreach(sel, k, v) {
		assert_true(json_equal(v, json_object_get(llmo_json_get_path(pod, "metadata.labels"),
							  k)));
	}
	assert_int_equal(json_integer_value(json_object_get(st, "readyReplicas")), 1);
	assert_int_equal(json_integer_value(json_object_get(down, "readyReplicas")), 0);
	assert_string_equal(str_at(down, "conditions[0].status"), "False");
	json_decref(pod);
	json_decref(down);
	json_decref(st);
	json_decref(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name),
		cmocka_unit_test(test_object),
		cmocka_unit_test(test_status_and_restarts),
		cmocka_unit_test(test_deployment),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
