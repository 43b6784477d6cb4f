#include "base/common.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/error.h"
#include "kube/client.h"
#include "kube/events.h"

#include "kube_fixture.h"

#define NS "llm-workloads"
#define FLUSH_MS 10000

static struct kube_fixture fx;

static int setup(void **state)
{
	return fixture_start(&fx);
}

static int teardown(void **state)
{
	fixture_stop(&fx);
	return 0;
}

/* A ConfigMap created on the server: it has kind, apiVersion, uid and resourceVersion. */
static json_t *involved(const char *name)
{
	struct llmo_error err = {0};
	json_t *cm = configmap(name, NULL, "v"), *out = NULL;

	if (llmo_kube_create(fx.client, &llmo_kube_configmaps, NS, cm, &out, &err))
		fail_msg("create: %s", err.msg);
	json_decref(cm);
	return out;
}

/* The Events about object name, as the server has them (new reference to the items). */
static json_t *events_about(const char *name)
{
	struct llmo_kube_list_opts opts = {0};
	struct llmo_error err = {0};
	char sel[128];
	json_t *list = NULL, *items;

	snprintf(sel, sizeof(sel), "involvedObject.name=%s", name);
	opts.field_selector = sel;
	if (llmo_kube_list(fx.client, &llmo_kube_events, NS, &opts, &list, &err))
		fail_msg("list events: %s", err.msg);
	items = json_incref(json_object_get(list, "items"));
	json_decref(list);
	return items;
}

static const char *str_at(const json_t *obj, const char *a, const char *b)
{
	const json_t *v = json_object_get(obj, a);

	return json_string_value(b ? json_object_get(v, b) : v);
}

static void test_create_and_aggregate(void **state)
{
	struct llmo_event_recorder *rec = NULL;
	struct llmo_error err = {0};
	json_t *obj = involved("model-cache"), *items, *ev;

	assert_int_equal(llmo_event_recorder_new(fx.client, "llmo-test", "node-1", &rec, &err), 0);
	assert_int_equal(
		llmo_kube_event(rec, obj, "Normal", "Pulled", "pulled %s in %d s", "llama2", 12),
		0);
	assert_int_equal(llmo_event_recorder_flush(rec, FLUSH_MS), 0);

	items = events_about("model-cache");
	assert_int_equal(json_array_size(items), 1);
	ev = json_array_get(items, 0);
	assert_string_equal(str_at(ev, "reason", NULL), "Pulled");
	assert_string_equal(str_at(ev, "message", NULL), "pulled llama2 in 12 s");
	assert_string_equal(str_at(ev, "type", NULL), "Normal");
	assert_int_equal(json_integer_value(json_object_get(ev, "count")), 1);
	assert_string_equal(str_at(ev, "source", "component"), "llmo-test");
	assert_string_equal(str_at(ev, "source", "host"), "node-1");
	assert_string_equal(str_at(ev, "involvedObject", "kind"), "ConfigMap");
	assert_string_equal(str_at(ev, "involvedObject", "apiVersion"), "v1");
	assert_string_equal(str_at(ev, "involvedObject", "namespace"), NS);
	assert_string_equal(str_at(ev, "involvedObject", "name"), "model-cache");
	assert_string_equal(str_at(ev, "involvedObject", "uid"), meta_str(obj, "uid"));
	assert_string_equal(str_at(ev, "involvedObject", "resourceVersion"),
			    meta_str(obj, "resourceVersion"));
	assert_string_equal(str_at(ev, "metadata", "namespace"), NS);
	/* client-go's naming: the object's name, a dot, hex */
	assert_true(strncmp(str_at(ev, "metadata", "name"), "model-cache.", 12) == 0);
	assert_non_null(str_at(ev, "firstTimestamp", NULL));
	assert_string_equal(str_at(ev, "firstTimestamp", NULL), str_at(ev, "lastTimestamp", NULL));
	json_decref(items);

	/* the same event again: one Event, count 2 */
	assert_int_equal(
		llmo_kube_event(rec, obj, "Normal", "Pulled", "pulled %s in %d s", "llama2", 12),
		0);
	assert_int_equal(llmo_event_recorder_flush(rec, FLUSH_MS), 0);
	items = events_about("model-cache");
	assert_int_equal(json_array_size(items), 1);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(items, 0), "count")), 2);
	json_decref(items);

	/* another message or type is another Event */
	assert_int_equal(
		llmo_kube_event(rec, obj, "Normal", "Pulled", "pulled %s in %d s", "mistral", 3),
		0);
	assert_int_equal(
		llmo_kube_event(rec, obj, "Warning", "Pulled", "pulled %s in %d s", "llama2", 12),
		0);
	assert_int_equal(
		llmo_kube_event(rec, obj, "Normal", "Pulled", "pulled %s in %d s", "llama2", 12),
		0);
	assert_int_equal(llmo_event_recorder_flush(rec, FLUSH_MS), 0);
	items = events_about("model-cache");
	assert_int_equal(json_array_size(items), 3);
	{
		size_t i;
		json_t *e;
		int counts = 0;

		json_array_foreach (items, i, e)
			counts += (int)json_integer_value(json_object_get(e, "count"));
		assert_int_equal(counts, 5);
	}
	json_decref(items);
	llmo_event_recorder_free(rec);
	json_decref(obj);
}

static void test_bad_input(void **state)
{
	struct llmo_event_recorder *rec = NULL;
	struct llmo_error err = {0};
	json_t *nokind = json_pack("{s:{s:s}}", "metadata", "name", "x");
	json_t *obj = involved("bad-input");

	assert_int_equal(llmo_event_recorder_new(fx.client, "llmo-test", NULL, &rec, &err), 0);
	assert_int_equal(llmo_kube_event(rec, obj, "Info", "R", "m"), LLMO_EINVAL);
	assert_int_equal(llmo_kube_event(rec, obj, "Normal", "", "m"), LLMO_EINVAL);
	assert_int_equal(llmo_kube_event(rec, nokind, "Normal", "R", "m"), LLMO_EINVAL);
	assert_int_equal(llmo_kube_event(rec, obj, "Normal", "Bytes", "%s", "bad \xff utf-8"),
			 LLMO_EINVAL);
	assert_int_equal(llmo_event_recorder_flush(rec, FLUSH_MS), 0);
	llmo_event_recorder_free(rec);
	json_decref(nokind);
	json_decref(obj);
}

/* A long message is cut to the limit on a character boundary. */
static void test_long_message(void **state)
{
	struct llmo_event_recorder *rec = NULL;
	struct llmo_error err = {0};
	char big[3000];
	json_t *obj = involved("long"), *items;
	const char *msg;

	/* "x" then two-byte "é"s: the cut at 1024 bytes falls inside the 512th "é" */
	big[0] = 'x';
	for (int i = 0; i < 1400; i++) {
		big[1 + 2 * i] = (char)0xc3;
		big[2 + 2 * i] = (char)0xa9;
	}
	big[2801] = '\0';
	assert_int_equal(llmo_event_recorder_new(fx.client, "llmo-test", NULL, &rec, &err), 0);
	assert_int_equal(llmo_kube_event(rec, obj, "Warning", "Long", "%s", big), 0);
	assert_int_equal(llmo_event_recorder_flush(rec, FLUSH_MS), 0);
	items = events_about("long");
	assert_int_equal(json_array_size(items), 1);
	msg = str_at(json_array_get(items, 0), "message", NULL);
	/* "x" and 511 whole "é"s */
	assert_int_equal(strlen(msg), 1023);
	assert_memory_equal(msg, big, 1023);
	json_decref(items);
	llmo_event_recorder_free(rec);
	json_decref(obj);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_and_aggregate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_input, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_message, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
