/*
 * The gateway's routing table (gateway/table.h) and where it comes from
 * (gateway/source.h): the static file (YAML), name conflicts, errors with
 * file lines, the API's workloads and pods (readiness, host ports,
 * draining, tracks, served names), and backends shared between tables.
 */
#include "base/common.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <unistd.h>

#include "base/buf.h"
#include "gateway/source.h"
#include "gateway/table.h"

static int freed;

static void on_free(void *ctx, struct llmo_gw_backend *b)
{
	freed++;
}

static struct llmo_gw_table *from_yaml(struct llmo_gw_backends *r, const char *text,
				       struct llmo_error *err)
{
	struct llmo_yaml_stream s = {0};
	struct llmo_gw_table *t = NULL;

	if (llmo_yaml_parse(text, strlen(text), "backends.yaml", &s, err) == 0)
		llmo_gw_table_from_json(s.docs[0].root, &s.docs[0], "backends.yaml", r, &t, err);
	llmo_yaml_stream_release(&s);
	return t;
}

static const struct llmo_gw_model *lookup(const struct llmo_gw_table *t, const char *name)
{
	return llmo_gw_table_lookup(t, name, strlen(name));
}

static void test_addresses(void **state)
{
	static const struct {
		const char *in, *canon;
	} good[] = {
		{"127.0.0.1:8000", "127.0.0.1:8000"},
		{"localhost:1", "127.0.0.1:1"},
		{"[::1]:65535", "[::1]:65535"},
		{"[2001:db8:0::1]:80", "[2001:db8::1]:80"},
	};
	static const char *const bad[] = {
		"127.0.0.1", "127.0.0.1:0", "127.0.0.1:65536", "example.com:80", "::1:80",
		"[::1]80", ":80", "1.2.3.4:8x", "", "[]:80",
	};
	struct sockaddr_storage sa;
	char canon[LLMO_GW_ADDR_MAX + 1];
	socklen_t len;

	for (size_t i = 0; i < LLMO_ARRAY_LEN(good); i++) {
		if (llmo_gw_addr_parse(good[i].in, &sa, &len, canon, NULL))
			fail_msg("refused %s", good[i].in);
		assert_string_equal(canon, good[i].canon);
	}
	for (size_t i = 0; i < LLMO_ARRAY_LEN(bad); i++) {
		struct llmo_error err = {0};

		if (llmo_gw_addr_parse(bad[i], &sa, &len, canon, &err) != LLMO_EINVAL || !err.msg[0])
			fail_msg("accepted %s", bad[i]);
	}
}

static void test_static_file(void **state)
{
	struct llmo_gw_backends r;
	struct llmo_error err = {0};
	struct llmo_gw_table *t;
	const struct llmo_gw_model *m;

	llmo_gw_backends_init(&r, NULL, NULL);
	t = from_yaml(&r,
		      "models:\n"
		      "  - name: llama2:7b\n"
		      "    aliases: [llama2, chat]\n"
		      "    endpoints:\n"
		      "      - address: 127.0.0.1:8001\n"
		      "      - address: 127.0.0.1:8002\n"
		      "        weight: 3\n"
		      "        track: canary\n"
		      "        served: llama2:7b-v2\n"
		      "  - name: mistral\n"
		      "    served: mistral:7b\n"
		      "    endpoints:\n"
		      "      - {address: '127.0.0.1:8001', draining: true}\n",
		      &err);
	if (!t)
		fail_msg("%s", err.msg);
	m = lookup(t, "chat");
	assert_non_null(m);
	assert_ptr_equal(m, lookup(t, "llama2:7b"));
	assert_ptr_equal(m, lookup(t, "llama2"));
	assert_null(lookup(t, "llama"));
	assert_null(lookup(t, "LLAMA2"));
	assert_string_equal(m->id, "llama2:7b");
	assert_int_equal(m->eps.len, 2);
	assert_string_equal(m->eps.items[0].served, "llama2:7b");
	assert_string_equal(m->eps.items[0].served_json, "\"llama2:7b\"");
	assert_string_equal(m->eps.items[0].track, "stable");
	assert_int_equal(m->eps.items[0].weight, 1);
	assert_string_equal(m->eps.items[1].served, "llama2:7b-v2");
	assert_string_equal(m->eps.items[1].track, "canary");
	assert_int_equal(m->eps.items[1].weight, 3);
	m = lookup(t, "mistral");
	assert_string_equal(m->eps.items[0].served, "mistral:7b");
	assert_true(m->eps.items[0].draining);
	assert_int_equal(llmo_gw_model_ready(m), 0);
	/* one backend per address, shared by both models */
	assert_int_equal(llmo_hmap_count(&r.by_addr), 2);
	assert_ptr_equal(lookup(t, "mistral")->eps.items[0].backend,
			 lookup(t, "llama2")->eps.items[0].backend);
	llmo_gw_table_unref(t);
	assert_int_equal(llmo_hmap_count(&r.by_addr), 0);
	llmo_gw_backends_release(&r);
}

static void test_static_file_errors(void **state)
{
	static const struct {
		const char *text, *want; /* want: in the message */
	} cases[] = {
		{"models: {}\n", "backends.yaml:1: models: expected a list"},
		{"model:\n  - name: x\n", "backends.yaml:1: model: unknown key"},
		{"models:\n  - name: x\n", "backends.yaml:2: models[0].endpoints: required"},
		{"models:\n  - endpoints: []\n", "models[0].name: required"},
		{"models:\n  - name: x\n    endpoints:\n      - address: example.com:80\n",
		 "backends.yaml:4: models[0].endpoints[0].address: address \"example.com:80\""},
		{"models:\n  - name: x\n    endpoints:\n      - address: 1.2.3.4:80\n        weight: 0\n",
		 "backends.yaml:5: models[0].endpoints[0].weight: expected an integer from 1 to 10000"},
		{"models:\n  - name: x\n    endpoints: []\n    aliases: [y, 3]\n",
		 "models[0].aliases[1]: expected a non-empty name"},
		{"models:\n  - name: x\n    endpoints: []\n  - name: x\n    endpoints: []\n",
		 "models[1].name: model \"x\" is listed twice"},
		{"models:\n  - name: x\n    endpoints:\n      - address: 1.2.3.4:80\n        port: 1\n",
		 "backends.yaml:5: models[0].endpoints[0].port: unknown key"},
		{"models:\n  - name: x\n    endpoints: []\n    tracks:\n      - {name: a, weight: 101}\n",
		 "backends.yaml:5: models[0].tracks[0].weight: expected an integer from 0 to 100"},
		{"models:\n  - name: x\n    endpoints: []\n    tracks:\n      - {name: a, weight: 1}\n"
		 "      - {name: a, weight: 2}\n",
		 "backends.yaml:6: models[0].tracks[1]: track \"a\" is listed twice"},
		{"models:\n  - name: x\n    endpoints: []\n    tracks:\n      - {weight: 1}\n",
		 "models[0].tracks[0].name: required"},
		{"models:\n  - name: x\n    endpoints: []\n    abTest: {stickyBy: header}\n",
		 "backends.yaml:4: models[0].abTest.header: required when stickyBy is header"},
		{"models:\n  - name: x\n    endpoints: []\n    abTest: {stickyBy: user}\n",
		 "models[0].abTest.stickyBy: expected tenant or header"},
		{"models:\n  - name: x\n    endpoints: []\n    accessControl: acme\n",
		 "backends.yaml:4: models[0].accessControl: expected a list of tenant names"},
		{"models:\n  - name: x\n    endpoints: []\n    accessControl: [acme, 3]\n",
		 "backends.yaml:4: models[0].accessControl[1]: expected a tenant name"},
		{"models:\n  - name: x\n    endpoints: []\n    accessControl: [\"\"]\n",
		 "models[0].accessControl[0]: a tenant name must have 1 to 63 bytes"},
	};

	for (size_t i = 0; i < LLMO_ARRAY_LEN(cases); i++) {
		struct llmo_gw_backends r;
		struct llmo_error err = {0};
		struct llmo_gw_table *t;

		llmo_gw_backends_init(&r, NULL, NULL);
		t = from_yaml(&r, cases[i].text, &err);
		if (t)
			fail_msg("accepted: %s", cases[i].text);
		if (!strstr(err.msg, cases[i].want))
			fail_msg("message \"%s\" lacks \"%s\"", err.msg, cases[i].want);
		/* nothing leaks from a half-built table */
		assert_int_equal(llmo_hmap_count(&r.by_addr), 0);
		llmo_gw_backends_release(&r);
	}
}

static void test_file_read(void **state)
{
	char path[] = "/tmp/llmo-test-gw-XXXXXX";
	struct llmo_gw_backends r;
	struct llmo_error err = {0};
	struct llmo_gw_table *t;
	int fd = mkstemp(path);
	const char text[] = "{\"models\":[{\"name\":\"m\",\"endpoints\":[{\"address\":\"[::1]:9\"}]}]}";

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t)sizeof(text) - 1);
	close(fd);
	llmo_gw_backends_init(&r, NULL, NULL);
	assert_int_equal(llmo_gw_table_from_file(path, &r, &t, &err), 0);
	assert_string_equal(lookup(t, "m")->eps.items[0].backend->addr, "[::1]:9");
	llmo_gw_table_unref(t);
	unlink(path);
	assert_int_equal(llmo_gw_table_from_file(path, &r, &t, &err), LLMO_ENOTFOUND);
	assert_non_null(strstr(err.msg, path));
	llmo_gw_backends_release(&r);
}

static void test_name_conflicts(void **state)
{
	struct llmo_gw_backends r;
	struct llmo_gw_table *t;
	struct llmo_gw_model *a, *b;

	llmo_gw_backends_init(&r, NULL, NULL);
	assert_int_equal(llmo_gw_table_new(&t), 0);
	assert_int_equal(llmo_gw_table_add_model(t, "ns/b", &b, NULL), 0);
	assert_int_equal(llmo_gw_table_add_model(t, "ns/a", &a, NULL), 0);
	/* a name beats an alias beats model:version, whatever the order of adding */
	assert_int_equal(llmo_gw_table_add_name(t, b, "x", LLMO_GW_PRIO_MODEL, NULL), 0);
	assert_int_equal(llmo_gw_table_add_name(t, a, "x", LLMO_GW_PRIO_ALIAS, NULL), 0);
	assert_ptr_equal(lookup(t, "x"), a);
	assert_int_equal(llmo_gw_table_add_name(t, b, "y", LLMO_GW_PRIO_NAME, NULL), 0);
	assert_int_equal(llmo_gw_table_add_name(t, a, "y", LLMO_GW_PRIO_ALIAS, NULL), 0);
	assert_ptr_equal(lookup(t, "y"), b);
	/* equal claims: the smaller id */
	assert_int_equal(llmo_gw_table_add_name(t, b, "z", LLMO_GW_PRIO_ALIAS, NULL), 0);
	assert_int_equal(llmo_gw_table_add_name(t, a, "z", LLMO_GW_PRIO_ALIAS, NULL), 0);
	assert_ptr_equal(lookup(t, "z"), a);
	/* a name with a NUL never matches */
	assert_null(llmo_gw_table_lookup(t, "z\0", 2));
	llmo_gw_table_unref(t);
	llmo_gw_backends_release(&r);
}

static json_t *workload(const char *ns, const char *name, const char *model, const char *version,
			const char *alias)
{
	json_t *w = json_pack("{s:{s:s, s:s}, s:{s:s}}", "metadata", "namespace", ns, "name", name,
			      "spec", "modelName", model);

	if (version)
		json_object_set_new(json_object_get(w, "spec"), "modelVersion", json_string(version));
	if (alias)
		json_object_set_new(json_object_get(w, "spec"), "aliases", json_pack("[s]", alias));
	return w;
}

static json_t *pod(const char *ns, const char *name, const char *wl, const char *ip, bool ready,
		   const char *host_ports)
{
	json_t *p = json_pack("{s:{s:s, s:s, s:{s:s}}, s:{s:[{s:s, s:[{s:s, s:i}]}]},"
			      " s:{s:s, s:[{s:s, s:s}]}}",
			      "metadata", "namespace", ns, "name", name, "labels",
			      LLMO_GW_LABEL_WORKLOAD, wl, "spec", "containers", "name", "model-server",
			      "ports", "name", "http", "containerPort", 8000, "status", "podIP", ip,
			      "conditions", "type", "Ready", "status", ready ? "True" : "False");

	if (host_ports)
		json_object_set_new(json_object_get(p, "metadata"), "annotations",
				    json_pack("{s:s}", LLMO_GW_ANNOTATION_HOST_PORTS, host_ports));
	return p;
}

/* Set: the builders get the objects as the informers cache them (transformed). */
static bool transformed;

static json_t *map_array(const json_t *arr, json_t *(*fn)(void *ctx, const json_t *obj))
{
	json_t *out = json_array(), *o;
	size_t i;

	json_array_foreach(arr, i, o) {
		json_t *slim = fn(NULL, o);

		assert_non_null(slim);
		json_array_append_new(out, slim);
	}
	return out;
}

static int from_kube(const json_t *wls, const json_t *pods, struct llmo_gw_backends *r,
		     struct llmo_gw_table **t)
{
	json_t *w2, *p2;
	int rc;

	if (!transformed)
		return llmo_gw_table_from_kube(wls, pods, r, t, NULL);
	w2 = map_array(wls, llmo_gw_workload_transform);
	p2 = map_array(pods, llmo_gw_pod_transform);
	rc = llmo_gw_table_from_kube(w2, p2, r, t, NULL);
	json_decref(w2);
	json_decref(p2);
	return rc;
}

static void test_from_kube(void **state)
{
	json_t *wls = json_array(), *pods = json_array(), *p;
	struct llmo_gw_backends r;
	struct llmo_gw_table *t;
	const struct llmo_gw_model *m;

	json_array_append_new(wls, workload("llm", "chat", "llama2", "7b", "llama-2-7b"));
	json_array_append_new(wls, workload("llm", "other", "llama2", NULL, NULL));
	json_array_append_new(wls, workload("dev", "chat", "mistral", "7b", NULL));
	/* chat's pods: one with a host port, one not ready, one v6, one draining, one elsewhere */
	json_array_append_new(pods, pod("llm", "chat-1", "chat", "127.0.0.1", true, "{\"8000\": 41234}"));
	json_array_append_new(pods, pod("llm", "chat-2", "chat", "10.0.0.2", false, NULL));
	p = pod("llm", "chat-3", "chat", "fd00::3", true, NULL);
	json_object_set_new(json_object_get(json_object_get(p, "metadata"), "labels"),
			    LLMO_GW_LABEL_TRACK, json_string("canary"));
	json_object_set_new(json_object_get(json_object_get(p, "metadata"), "labels"),
			    LLMO_GW_LABEL_MODEL, json_string("llama2"));
	json_object_set_new(json_object_get(json_object_get(p, "metadata"), "labels"),
			    LLMO_GW_LABEL_VERSION, json_string("13b"));
	json_array_append_new(pods, p);
	p = pod("llm", "chat-4", "chat", "10.0.0.4", true, NULL);
	json_object_set_new(json_object_get(p, "metadata"), "deletionTimestamp",
			    json_string("2026-11-26T00:00:00Z"));
	json_array_append_new(pods, p);
	json_array_append_new(pods, pod("dev", "chat-x", "chat", "10.0.9.9", true, NULL));
	json_array_append_new(pods, pod("llm", "lost", "gone", "10.0.0.5", true, NULL));

	llmo_gw_backends_init(&r, NULL, NULL);
	assert_int_equal(from_kube(wls, pods, &r, &t), 0);
	/* "chat" is a workload name in two namespaces: the smaller id wins */
	m = lookup(t, "chat");
	assert_string_equal(m->id, "dev/chat");
	m = lookup(t, "llama-2-7b");
	assert_non_null(m);
	assert_string_equal(m->id, "llm/chat");
	/* llama2:7b: chat's model:version; other's is llama2:latest */
	assert_ptr_equal(lookup(t, "llama2:7b"), m);
	assert_string_equal(lookup(t, "llama2:latest")->id, "llm/other");
	assert_string_equal(lookup(t, "other")->id, "llm/other");
	assert_int_equal(lookup(t, "other")->eps.len, 0);
	assert_int_equal(m->eps.len, 3);
	assert_string_equal(m->eps.items[0].backend->addr, "127.0.0.1:41234");
	assert_string_equal(m->eps.items[0].served, "llama2:7b");
	assert_string_equal(m->eps.items[0].track, "stable");
	assert_string_equal(m->eps.items[1].backend->addr, "[fd00::3]:8000");
	assert_string_equal(m->eps.items[1].track, "canary");
	assert_string_equal(m->eps.items[1].served, "llama2:13b");
	assert_string_equal(m->eps.items[2].backend->addr, "10.0.0.4:8000");
	assert_true(m->eps.items[2].draining);
	assert_int_equal(llmo_gw_model_ready(m), 2);
	llmo_gw_table_unref(t);
	llmo_gw_backends_release(&r);
	json_decref(wls);
	json_decref(pods);
}

static void test_static_tracks(void **state)
{
	struct llmo_gw_backends r;
	struct llmo_error err = {0};
	struct llmo_gw_table *t;
	const struct llmo_gw_model *m;

	llmo_gw_backends_init(&r, NULL, NULL);
	t = from_yaml(&r,
		      "models:\n"
		      "  - name: ab\n"
		      "    endpoints:\n"
		      "      - {address: 127.0.0.1:8001, track: a}\n"
		      "      - {address: 127.0.0.1:8002, track: b}\n"
		      "    tracks:\n"
		      "      - {name: a, weight: 20}\n"
		      "      - {name: b, weight: 80}\n"
		      "    abTest: {stickyBy: header, header: X-User}\n"
		      "  - name: plain\n"
		      "    endpoints: []\n"
		      "    abTest: {}\n",
		      &err);
	if (!t)
		fail_msg("%s", err.msg);
	m = lookup(t, "ab");
	assert_int_equal(m->tracks.len, 2);
	assert_string_equal(m->tracks.items[1].name, "b");
	assert_int_equal(m->tracks.items[1].weight, 80);
	assert_true(llmo_gw_model_split(m));
	assert_int_equal(m->sticky, LLMO_GW_STICKY_HEADER);
	assert_string_equal(m->sticky_header, "X-User");
	m = lookup(t, "plain");
	assert_int_equal(m->sticky, LLMO_GW_STICKY_TENANT);
	assert_false(llmo_gw_model_split(m));
	llmo_gw_table_unref(t);
	llmo_gw_backends_release(&r);
}

static void test_kube_tracks_and_drain(void **state)
{
	json_t *wls = json_array(), *pods = json_array(), *w, *p;
	struct llmo_gw_backends r;
	struct llmo_gw_backend *held;
	struct llmo_gw_table *t;
	const struct llmo_gw_model *m;

	w = workload("llm", "chat", "llama2", "7b", NULL);
	json_object_set_new(w, "status",
			    json_pack("{s:[{s:s,s:i},{s:s,s:i},{s:s}]}", "tracks", "name", "stable",
				      "weight", 75, "name", "canary", "weight", 25, "name",
				      "noweight"));
	json_object_set_new(json_object_get(w, "spec"), "deploymentStrategy",
			    json_pack("{s:s,s:{s:s,s:s}}", "type", "abTest", "abTest", "stickyBy",
				      "header", "header", "X-Session"));
	json_array_append_new(wls, w);
	/* chat-1 ready; chat-2 marked draining by annotation; chat-3 draining, not Ready */
	json_array_append_new(pods, pod("llm", "chat-1", "chat", "10.0.0.1", true, NULL));
	p = pod("llm", "chat-2", "chat", "10.0.0.2", true, NULL);
	json_object_set_new(json_object_get(p, "metadata"), "annotations",
			    json_pack("{s:s}", LLMO_GW_ANNOTATION_DRAINING, "true"));
	json_object_set_new(json_object_get(json_object_get(p, "metadata"), "labels"),
			    LLMO_GW_LABEL_TRACK, json_string("canary"));
	json_array_append_new(pods, p);
	p = pod("llm", "chat-3", "chat", "10.0.0.3", false, NULL);
	json_object_set_new(json_object_get(p, "metadata"), "deletionTimestamp",
			    json_string("2026-11-26T00:00:00Z"));
	json_array_append_new(pods, p);

	llmo_gw_backends_init(&r, NULL, NULL);
	assert_int_equal(from_kube(wls, pods, &r, &t), 0);
	m = lookup(t, "chat");
	assert_string_equal(m->ns, "llm");
	assert_string_equal(m->workload, "chat");
	assert_int_equal(m->tracks.len, 3);
	assert_string_equal(m->tracks.items[0].name, "stable");
	assert_int_equal(m->tracks.items[0].weight, 75);
	assert_int_equal(m->tracks.items[1].weight, 25);
	assert_int_equal(m->tracks.items[2].weight, 0);
	assert_int_equal(m->sticky, LLMO_GW_STICKY_HEADER);
	assert_string_equal(m->sticky_header, "X-Session");
	/* chat-3 is not Ready and has nothing in flight: gone */
	assert_int_equal(m->eps.len, 2);
	assert_string_equal(m->eps.items[0].pod, "chat-1");
	assert_false(m->eps.items[0].draining);
	assert_string_equal(m->eps.items[1].pod, "chat-2");
	assert_string_equal(m->eps.items[1].track, "canary");
	assert_true(m->eps.items[1].draining);
	/* with a request in flight on chat-3's address it stays, draining */
	assert_int_equal(llmo_gw_backend_get(&r, "10.0.0.3:8000", &held, NULL), 0);
	held->inflight = 1;
	llmo_gw_table_unref(t);
	assert_int_equal(from_kube(wls, pods, &r, &t), 0);
	m = lookup(t, "chat");
	assert_int_equal(m->eps.len, 3);
	assert_string_equal(m->eps.items[2].pod, "chat-3");
	assert_true(m->eps.items[2].draining);
	assert_int_equal(llmo_gw_model_ready(m), 1);
	held->inflight = 0;
	llmo_gw_backend_unref(held);
	llmo_gw_table_unref(t);
	/* a plain workload: no split, not sticky */
	json_object_del(json_object_get(w, "spec"), "deploymentStrategy");
	json_object_del(w, "status");
	assert_int_equal(from_kube(wls, pods, &r, &t), 0);
	m = lookup(t, "chat");
	assert_int_equal(m->tracks.len, 0);
	assert_int_equal(m->sticky, LLMO_GW_STICKY_NONE);
	llmo_gw_table_unref(t);
	llmo_gw_backends_release(&r);
	json_decref(wls);
	json_decref(pods);
}

/* The same tables from the objects as the gateway's informers cache them. */
static void test_from_kube_transformed(void **state)
{
	transformed = true;
	test_from_kube(state);
	test_kube_tracks_and_drain(state);
	transformed = false;
}

/* The transforms keep what the builder reads and nothing else. */
static void test_transforms_keep_only_what_is_read(void **state)
{
	json_t *w = json_loads(
		"{\"apiVersion\": \"llm.orchestrator.io/v1\", \"kind\": \"LLMWorkload\","
		" \"metadata\": {\"name\": \"chat\", \"namespace\": \"llm\", \"uid\": \"u1\","
		"  \"resourceVersion\": \"7\", \"managedFields\": [{\"manager\": \"x\"}]},"
		" \"spec\": {\"modelName\": \"llama2\", \"modelVersion\": \"7b\","
		"  \"resources\": {\"gpu\": \"1\"}, \"deploymentStrategy\": {\"type\": \"rolling\"},"
		"  \"security\": {\"encryption\": true, \"accessControl\": [\"team-a\"]}},"
		" \"status\": {\"phase\": \"Running\", \"tracks\": [{\"name\": \"stable\", \"weight\": 100}]}}",
		0, NULL);
	json_t *p = json_loads(
		"{\"metadata\": {\"name\": \"chat-1\", \"namespace\": \"llm\", \"resourceVersion\": \"9\","
		"  \"labels\": {\"llm.orchestrator.io/workload\": \"chat\", \"app\": \"x\"},"
		"  \"annotations\": {\"llm.orchestrator.io/draining\": \"true\", \"note\": \"big\"}},"
		" \"spec\": {\"containers\": [{\"name\": \"side\", \"env\": [{\"name\": \"A\"}]},"
		"  {\"name\": \"model\", \"ports\": [{\"name\": \"http\", \"containerPort\": 9000}]}]},"
		" \"status\": {\"phase\": \"Running\", \"podIP\": \"10.0.0.1\", \"hostIP\": \"10.1.1.1\","
		"  \"conditions\": [{\"type\": \"Initialized\", \"status\": \"True\"},"
		"   {\"type\": \"Ready\", \"status\": \"True\", \"lastTransitionTime\": \"t\"}]}}",
		0, NULL);
	json_t *want_w = json_loads(
		"{\"metadata\": {\"name\": \"chat\", \"namespace\": \"llm\", \"resourceVersion\": \"7\"},"
		" \"spec\": {\"modelName\": \"llama2\", \"modelVersion\": \"7b\","
		"  \"security\": {\"accessControl\": [\"team-a\"]}},"
		" \"status\": {\"tracks\": [{\"name\": \"stable\", \"weight\": 100}]}}",
		0, NULL);
	json_t *want_p = json_loads(
		"{\"metadata\": {\"name\": \"chat-1\", \"namespace\": \"llm\", \"resourceVersion\": \"9\","
		"  \"labels\": {\"llm.orchestrator.io/workload\": \"chat\"},"
		"  \"annotations\": {\"llm.orchestrator.io/draining\": \"true\"}},"
		" \"spec\": {\"containers\": [{},"
		"  {\"ports\": [{\"name\": \"http\", \"containerPort\": 9000}]}]},"
		" \"status\": {\"phase\": \"Running\", \"podIP\": \"10.0.0.1\","
		"  \"conditions\": [{\"type\": \"Ready\", \"status\": \"True\"}]}}",
		0, NULL);
	json_t *got_w, *got_p;

	assert_non_null(w);
	assert_non_null(p);
	got_w = llmo_gw_workload_transform(NULL, w);
	got_p = llmo_gw_pod_transform(NULL, p);
	assert_true(json_equal(got_w, want_w));
	assert_true(json_equal(got_p, want_p));
	json_decref(got_w);
	/* an A/B test keeps its strategy */
	json_object_set_new(json_object_get(w, "spec"), "deploymentStrategy",
			    json_pack("{s:s, s:{s:s}, s:i}", "type", "abTest", "abTest", "stickyBy",
				      "tenant", "maxSurge", 1));
	got_w = llmo_gw_workload_transform(NULL, w);
	json_decref(want_w);
	want_w = json_pack("{s:s, s:{s:s}}", "type", "abTest", "abTest", "stickyBy", "tenant");
	assert_true(json_equal(json_object_get(json_object_get(got_w, "spec"), "deploymentStrategy"),
			       want_w));
	json_decref(got_w);
	json_decref(got_p);
	json_decref(want_w);
	json_decref(want_p);
	json_decref(w);
	json_decref(p);
}

/*
 * Access control (spec.security.accessControl, the file's accessControl):
 * a restricted model lets only its tenants call it, never an anonymous
 * caller; an empty list is open to all; a list with nothing usable stays
 * restricted (fails closed).
 */
static void test_access_control(void **state)
{
	static const char *const yaml =
		"models:\n"
		"  - name: open\n    endpoints: []\n"
		"  - name: empty\n    endpoints: []\n    accessControl: []\n"
		"  - name: closed\n    endpoints: []\n    accessControl: [acme, beta, acme]\n";
	json_t *wls = json_pack("[o, o, o, o]", workload("ns", "w-open", "m", NULL, NULL),
				workload("ns", "w-acme", "m2", NULL, NULL),
				workload("ns", "w-empty", "m3", NULL, NULL),
				workload("ns", "w-none", "m4", NULL, NULL));
	json_t *pods = json_array(), *tw;
	struct llmo_gw_backends r;
	struct llmo_gw_table *t;
	const struct llmo_gw_model *m;
	char longname[LLMO_GW_ACCESS_NAME_MAX + 2];

	llmo_gw_backends_init(&r, NULL, NULL);
	t = from_yaml(&r, yaml, NULL);
	assert_non_null(t);
	m = lookup(t, "open");
	assert_true(llmo_gw_model_allows(m, NULL));
	assert_true(llmo_gw_model_allows(m, "anyone"));
	assert_true(llmo_gw_model_allows(lookup(t, "empty"), NULL));
	m = lookup(t, "closed");
	assert_true(m->restricted);
	assert_int_equal(m->access.len, 2); /* a name twice is kept once */
	assert_true(llmo_gw_model_allows(m, "acme"));
	assert_true(llmo_gw_model_allows(m, "beta"));
	assert_false(llmo_gw_model_allows(m, "acm"));
	assert_false(llmo_gw_model_allows(m, "acme2"));
	assert_false(llmo_gw_model_allows(m, NULL));
	llmo_gw_table_unref(t);

	/* the API's workloads: security.accessControl, kept by the transform */
	json_object_set_new(json_object_get(json_array_get(wls, 1), "spec"), "security",
			    json_pack("{s:[s], s:b}", "accessControl", "team-a", "encryption", 1));
	json_object_set_new(json_object_get(json_array_get(wls, 2), "spec"), "security",
			    json_pack("{s:[]}", "accessControl"));
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	json_object_set_new(json_object_get(json_array_get(wls, 3), "spec"), "security",
			    json_pack("{s:[s, i, s]}", "accessControl", longname, 7, ""));
	for (int pass = 0; pass < 2; pass++) {
		tw = pass ? map_array(wls, llmo_gw_workload_transform) : json_incref(wls);
		assert_int_equal(llmo_gw_table_from_kube(tw, pods, &r, &t, NULL), 0);
		assert_true(llmo_gw_model_allows(lookup(t, "w-open"), NULL));
		assert_true(llmo_gw_model_allows(lookup(t, "w-empty"), "x"));
		m = lookup(t, "w-acme");
		assert_true(llmo_gw_model_allows(m, "team-a"));
		assert_false(llmo_gw_model_allows(m, "team-b"));
		assert_false(llmo_gw_model_allows(m, NULL));
		/* the model's other names lead to the same restricted model */
		assert_ptr_equal(lookup(t, "m2:latest"), m);
		/* nothing usable in the list: nobody may call it */
		m = lookup(t, "w-none");
		assert_true(m->restricted);
		assert_int_equal(m->access.len, 0);
		assert_false(llmo_gw_model_allows(m, NULL));
		assert_false(llmo_gw_model_allows(m, longname));
		assert_false(llmo_gw_model_allows(m, ""));
		llmo_gw_table_unref(t);
		json_decref(tw);
	}
	llmo_gw_backends_release(&r);
	json_decref(wls);
	json_decref(pods);
}

/*
 * A workload placed over several clusters: its local pods, then the member
 * clusters' Ready replicas from status.placement[].endpoints (stable track,
 * the workload's served name); a bad address is skipped. The same after
 * the informer's transform.
 */
static void test_remote_endpoints(void **state)
{
	json_t *w = workload("llm", "chat", "llama2", "7b", NULL);
	json_t *wls = json_pack("[o]", w), *pods = json_array(), *tw;
	struct llmo_gw_backends r;
	struct llmo_gw_table *t;
	const struct llmo_gw_model *m;

	(void)state;
	json_object_set_new(w, "status",
			    json_pack("{s:[{s:s, s:i}, {s:s, s:[s, s, s]}]}", "placement", "cluster",
				      "home", "replicas", 1, "cluster", "east", "endpoints",
				      "10.1.0.7:8000", "not an address", "[fd00::9]:8001"));
	json_array_append_new(pods, pod("llm", "chat-1", "chat", "127.0.0.1", true, "{\"8000\": 41234}"));
	llmo_gw_backends_init(&r, NULL, NULL);
	for (int pass = 0; pass < 2; pass++) {
		tw = pass ? map_array(wls, llmo_gw_workload_transform) : json_incref(wls);
		assert_int_equal(llmo_gw_table_from_kube(tw, pods, &r, &t, NULL), 0);
		m = lookup(t, "chat");
		assert_non_null(m);
		assert_int_equal(m->eps.len, 3);
		assert_string_equal(m->eps.items[0].backend->addr, "127.0.0.1:41234");
		assert_string_equal(m->eps.items[1].backend->addr, "10.1.0.7:8000");
		assert_string_equal(m->eps.items[1].track, "stable");
		assert_string_equal(m->eps.items[1].served, "llama2:7b");
		assert_false(m->eps.items[1].draining);
		assert_string_equal(m->eps.items[2].backend->addr, "[fd00::9]:8001");
		assert_int_equal(llmo_gw_model_ready(m), 3);
		llmo_gw_table_unref(t);
		json_decref(tw);
	}
	llmo_gw_backends_release(&r);
	json_decref(wls);
	json_decref(pods);
}

/* spec.modelType decides the paths (table.h: llmo_gw_api_of_type), also after the transform. */
static void test_model_type(void **state)
{
	static const struct {
		const char *type;
		unsigned apis;
	} cases[] = {
		{"embedding", LLMO_GW_API_EMBEDDINGS},
		{"chat", LLMO_GW_API_CHAT},
		{"text-generation", LLMO_GW_API_COMPLETIONS | LLMO_GW_API_CHAT},
		{"code-generation", LLMO_GW_API_COMPLETIONS | LLMO_GW_API_CHAT},
		{"classification", 0},
		{NULL, 0},
	};
	struct llmo_gw_backends r;
	char paths[96];

	(void)state;
	llmo_gw_backends_init(&r, NULL, NULL);
	for (size_t i = 0; i < LLMO_ARRAY_LEN(cases); i++) {
		json_t *w = workload("llm", "w", "m", NULL, NULL), *wls = json_pack("[o]", w);
		json_t *pods = json_array(), *tw;
		struct llmo_gw_table *t;

		if (cases[i].type)
			json_object_set_new(json_object_get(w, "spec"), "modelType",
					    json_string(cases[i].type));
		for (int pass = 0; pass < 2; pass++) {
			tw = pass ? map_array(wls, llmo_gw_workload_transform) : json_incref(wls);
			assert_int_equal(llmo_gw_table_from_kube(tw, pods, &r, &t, NULL), 0);
			if (lookup(t, "w")->apis != cases[i].apis)
				fail_msg("%s (pass %d): apis %u, want %u",
					 cases[i].type ? cases[i].type : "none", pass, lookup(t, "w")->apis,
					 cases[i].apis);
			llmo_gw_table_unref(t);
			json_decref(tw);
		}
		json_decref(wls);
		json_decref(pods);
	}
	llmo_gw_backends_release(&r);
	llmo_gw_api_paths(LLMO_GW_API_COMPLETIONS | LLMO_GW_API_CHAT, paths, sizeof(paths));
	assert_string_equal(paths, "/v1/completions or /v1/chat/completions");
	llmo_gw_api_paths(LLMO_GW_API_EMBEDDINGS, paths, sizeof(paths));
	assert_string_equal(paths, "/v1/embeddings");
}

static void test_backends_outlive_swaps(void **state)
{
	struct llmo_gw_backends r;
	struct llmo_gw_table *t1, *t2;
	struct llmo_gw_backend *b;
	const char *y1 = "models:\n  - name: m\n    endpoints:\n      - address: 127.0.0.1:1\n"
			 "      - address: 127.0.0.1:2\n";
	const char *y2 = "models:\n  - name: m\n    endpoints:\n      - address: 127.0.0.1:2\n";

	freed = 0;
	llmo_gw_backends_init(&r, on_free, NULL);
	t1 = from_yaml(&r, y1, NULL);
	b = t1->models.items[0]->eps.items[1].backend;
	b->fails = 3; /* state that must survive the swap */
	t2 = from_yaml(&r, y2, NULL);
	assert_ptr_equal(t2->models.items[0]->eps.items[0].backend, b);
	llmo_gw_table_unref(t1);
	assert_int_equal(freed, 1); /* 127.0.0.1:1 went with the old table */
	assert_int_equal(b->fails, 3);
	/* a request holding the backend keeps it past its last table */
	llmo_gw_backend_ref(b);
	llmo_gw_table_unref(t2);
	assert_int_equal(freed, 1);
	llmo_gw_backend_unref(b);
	assert_int_equal(freed, 2);
	llmo_gw_backends_release(&r);
}

static int collect(void *ctx, const char *name, const struct llmo_gw_model *m)
{
	llmo_buf_appendf(ctx, "%s=%s ", name, m->id);
	return 0;
}

static void test_each_name_sorted(void **state)
{
	struct llmo_gw_backends r;
	struct llmo_gw_table *t;
	struct llmo_buf b;

	llmo_gw_backends_init(&r, NULL, NULL);
	t = from_yaml(&r, "models:\n  - {name: b, aliases: [z, a], endpoints: []}\n"
			  "  - {name: c, endpoints: []}\n", NULL);
	llmo_buf_init(&b, 1024);
	assert_int_equal(llmo_gw_table_each_name(t, collect, &b), 0);
	assert_string_equal(b.data, "a=b b=b c=c z=b ");
	llmo_buf_release(&b);
	llmo_gw_table_unref(t);
	llmo_gw_backends_release(&r);
}

/* ---- changed one model at a time, against the table built whole ---- */

static uint64_t rnd_state;

static unsigned rnd(unsigned n)
{
	rnd_state = rnd_state * 6364136223846793005ULL + 1442695040888963407ULL;
	return (unsigned)((rnd_state >> 33) % n);
}

static const char *pick(const char *const *v, unsigned n)
{
	return v[rnd(n)];
}

/* A workload of a small world, so that names collide (aliases, model:version). */
static json_t *random_workload(const char *ns, const char *name)
{
	static const char *const models[] = {"m0", "m1", "w1", NULL};
	static const char *const versions[] = {"v1", "v2", "v3"};
	static const char *const aliases[] = {"w0", "w1", "m0:v1", "m1:latest", "x", "y"};
	const char *model = pick(models, 4);
	json_t *w = json_pack("{s:{s:s, s:s, s:s}, s:{}}", "metadata", "namespace", ns, "name",
			      name, "resourceVersion", "1", "spec");
	json_t *spec = json_object_get(w, "spec");

	if (model)
		json_object_set_new(spec, "modelName", json_string(model));
	if (model && rnd(2))
		json_object_set_new(spec, "modelVersion", json_string(pick(versions, 3)));
	if (rnd(2)) {
		json_t *a = json_array();

		for (unsigned i = rnd(3) + 1; i > 0; i--)
			json_array_append_new(a, json_string(pick(aliases, 6)));
		json_object_set_new(spec, "aliases", a);
	}
	if (rnd(3) == 0)
		json_object_set_new(w, "status",
				    json_pack("{s:[{s:s,s:i},{s:s,s:i}]}", "tracks", "name", "stable",
					      "weight", (int)rnd(101), "name", "canary", "weight",
					      (int)rnd(101)));
	if (rnd(4) == 0) {
		static const char *const tenants[] = {"acme", "beta", ""};
		json_t *a = json_array();

		/* sometimes empty (open to all), sometimes with a name that fits no tenant */
		for (unsigned i = rnd(3); i > 0; i--)
			json_array_append_new(a, json_string(pick(tenants, 3)));
		json_object_set_new(spec, "security", json_pack("{s:o}", "accessControl", a));
	}
	if (rnd(4) == 0)
		json_object_set_new(spec, "deploymentStrategy",
				    json_pack("{s:s,s:{s:s,s:s}}", "type", "abTest", "abTest",
					      "stickyBy", rnd(2) ? "header" : "tenant", "header",
					      "X-User"));
	return w;
}

/* A pod of that world: few addresses (a backend in two models), some not ready or draining. */
static json_t *random_pod(const char *ns, const char *name)
{
	static const char *const owners[] = {"w0", "w1", "w2", "w3", "w4", NULL};
	static const char *const ips[] = {"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "fd00::1"};
	const char *owner = pick(owners, 6);
	json_t *p = pod(ns, name, owner ? owner : "w0", pick(ips, 5), rnd(4) != 0,
			rnd(3) == 0 ? "{\"8000\": 41000}" : NULL);
	json_t *meta = json_object_get(p, "metadata"), *labels = json_object_get(meta, "labels");

	json_object_set_new(meta, "resourceVersion", json_string("1"));
	if (!owner)
		json_object_del(labels, LLMO_GW_LABEL_WORKLOAD);
	if (rnd(3) == 0)
		json_object_set_new(labels, LLMO_GW_LABEL_TRACK, json_string(rnd(2) ? "canary" : "b"));
	if (rnd(4) == 0) {
		json_object_set_new(labels, LLMO_GW_LABEL_MODEL, json_string("m9"));
		json_object_set_new(labels, LLMO_GW_LABEL_VERSION, json_string("v9"));
	}
	if (rnd(5) == 0)
		json_object_set_new(meta, "deletionTimestamp", json_string("2026-11-26T00:00:00Z"));
	return p;
}

/* The values of obj (a JSON object) as an array, in a random order. */
static json_t *shuffled(const json_t *obj)
{
	json_t *a = json_array(), *v;
	const char *k;

	json_object_foreach((json_t *)obj, k, v)
		json_array_insert(a, rnd((unsigned)json_array_size(a) + 1), v);
	return a;
}

static int cmp_models(const void *a, const void *b)
{
	return strcmp((*(struct llmo_gw_model *const *)a)->id,
		      (*(struct llmo_gw_model *const *)b)->id);
}

/* Everything a table routes by, as text: models by id, then every name's model. */
static void dump(const struct llmo_gw_table *t, struct llmo_buf *b)
{
	struct llmo_gw_model **ms = calloc(t->models.len + 1, sizeof(*ms));
	size_t neps = 0;

	assert_non_null(ms);
	if (t->models.len)
		memcpy(ms, t->models.items, t->models.len * sizeof(*ms));
	qsort(ms, t->models.len, sizeof(*ms), cmp_models);
	for (size_t i = 0; i < t->models.len; i++) {
		const struct llmo_gw_model *m = ms[i];

		assert_ptr_equal(t->models.items[m->slot], m);
		assert_ptr_equal(llmo_gw_table_model(t, m->id), m);
		llmo_buf_appendf(b, "%s ns=%s wl=%s sticky=%d/%s names=", m->id, m->ns, m->workload,
				 (int)m->sticky, m->sticky_header ? m->sticky_header : "-");
		for (size_t j = 0; j < m->names.len; j++)
			llmo_buf_appendf(b, "%s,", m->names.items[j]);
		for (size_t j = 0; j < m->tracks.len; j++)
			llmo_buf_appendf(b, " track=%s:%u", m->tracks.items[j].name,
					 m->tracks.items[j].weight);
		llmo_buf_appendf(b, " restricted=%d", (int)m->restricted);
		for (size_t j = 0; j < m->access.len; j++)
			llmo_buf_appendf(b, " allow=%s", m->access.items[j]);
		for (size_t j = 0; j < m->eps.len; j++) {
			const struct llmo_gw_endpoint *e = &m->eps.items[j];

			llmo_buf_appendf(b, "\n  %s %s %s %s w=%u d=%d l=%d", e->pod, e->backend->addr,
					 e->served_json, e->track, e->weight, e->draining, e->linger);
		}
		neps += m->eps.len;
		llmo_buf_puts(b, "\n");
	}
	assert_int_equal(neps, t->neps);
	assert_int_equal(llmo_hmap_count(&t->ids), t->models.len);
	assert_int_equal(llmo_gw_table_each_name(t, collect, b), 0);
	free(ms);
}

/*
 * Random adds, updates and deletes of workloads and pods, in batches; after
 * each batch the table changed model by model (the ids each change touches,
 * as the gateway marks them) routes exactly as the table built whole from
 * the same objects (the builder the gateway used after every batch before).
 * Requests hold models across changes (ASan checks that nothing they hold
 * is freed).
 */
static void test_kube_updates_match_whole_builds(void **state)
{
	static const char *const nss[] = {"a", "b"};
	json_t *wls = json_object(), *pods = json_object();
	struct llmo_gw_model *held[8] = {0};
	char held_ids[8][64];
	struct llmo_gw_backends r;
	struct llmo_gw_table *t;
	struct llmo_hmap dirty;
	struct llmo_buf want, got;
	int batches = 0;

	rnd_state = 42;
	llmo_gw_backends_init(&r, NULL, NULL);
	llmo_hmap_init(&dirty);
	assert_int_equal(llmo_gw_table_new(&t), 0);
	for (int op = 0; op < 3000; op++) {
		const char *ns = pick(nss, 2);
		bool is_pod = rnd(3) != 0, del = rnd(4) == 0;
		char name[16], key[64], k[LLMO_GW_MODEL_ID_MAX];
		json_t *set = is_pod ? pods : wls, *old, *obj;

		snprintf(name, sizeof(name), is_pod ? "p%u" : "w%u", rnd(is_pod ? 10 : 6));
		snprintf(key, sizeof(key), "%s/%s", ns, name);
		old = json_object_get(set, key);
		/* the ids the gateway marks: the old object's and the new one's */
		if (old && llmo_gw_kube_key(old, is_pod, k, sizeof(k)))
			llmo_hmap_put(&dirty, k, t, NULL);
		if (del) {
			json_object_del(set, key);
		} else {
			obj = is_pod ? random_pod(ns, name) : random_workload(ns, name);
			if (llmo_gw_kube_key(obj, is_pod, k, sizeof(k)))
				llmo_hmap_put(&dirty, k, t, NULL);
			json_object_set_new(set, key, obj);
		}
		if (rnd(4) != 0)
			continue; /* more changes in this batch */

		/* the batch: each marked model again, from its workload and its pods */
		{
			size_t it = 0;
			const char *id;

			while (llmo_hmap_next(&dirty, &it, &id, NULL)) {
				json_t *mine = json_array(), *p;
				const char *pk;

				json_object_foreach(pods, pk, p)
					if (llmo_gw_kube_key(p, true, k, sizeof(k)) && strcmp(k, id) == 0)
						json_array_append(mine, p);
				assert_int_equal(llmo_gw_table_update_kube(t, &r, id,
									   json_object_get(wls, id),
									   mine, NULL),
						 0);
				json_decref(mine);
			}
			llmo_hmap_release(&dirty, NULL);
		}
		{
			json_t *wa = shuffled(wls), *pa = shuffled(pods);
			struct llmo_gw_table *whole;

			assert_int_equal(llmo_gw_table_from_kube(wa, pa, &r, &whole, NULL), 0);
			llmo_buf_init(&want, LLMO_BUF_UNLIMITED);
			llmo_buf_init(&got, LLMO_BUF_UNLIMITED);
			dump(whole, &want);
			dump(t, &got);
			if (strcmp(want.data ? want.data : "", got.data ? got.data : "") != 0)
				fail_msg("after op %d (batch %d) the tables differ:\nwhole:\n%s\nchanged:\n%s",
					 op, batches, want.data, got.data);
			llmo_buf_release(&want);
			llmo_buf_release(&got);
			llmo_gw_table_unref(whole);
			json_decref(wa);
			json_decref(pa);
		}
		batches++;
		/* a request routed now holds its model; an older one ends */
		{
			unsigned slot = rnd(8);

			if (held[slot]) {
				/* what it was routed with, whatever the table did since */
				assert_string_equal(held[slot]->id, held_ids[slot]);
				for (size_t j = 0; j < held[slot]->eps.len; j++)
					assert_non_null(held[slot]->eps.items[j].backend->addr);
				llmo_gw_model_unref(held[slot]);
				held[slot] = NULL;
			}
			if (t->models.len) {
				held[slot] = t->models.items[rnd((unsigned)t->models.len)];
				llmo_gw_model_ref(held[slot]);
				snprintf(held_ids[slot], sizeof(held_ids[slot]), "%s", held[slot]->id);
			}
		}
	}
	assert_true(batches > 500);
	llmo_hmap_release(&dirty, NULL);
	for (int i = 0; i < 8; i++)
		llmo_gw_model_unref(held[i]);
	llmo_gw_table_unref(t);
	llmo_gw_backends_release(&r);
	json_decref(wls);
	json_decref(pods);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_static_file),
		cmocka_unit_test(test_static_file_errors),
		cmocka_unit_test(test_file_read),
		cmocka_unit_test(test_name_conflicts),
		cmocka_unit_test(test_from_kube),
		cmocka_unit_test(test_from_kube_transformed),
		cmocka_unit_test(test_transforms_keep_only_what_is_read),
		cmocka_unit_test(test_static_tracks),
		cmocka_unit_test(test_kube_tracks_and_drain),
		cmocka_unit_test(test_backends_outlive_swaps),
		cmocka_unit_test(test_access_control),
		cmocka_unit_test(test_remote_endpoints),
		cmocka_unit_test(test_model_type),
		cmocka_unit_test(test_each_name_sorted),
		cmocka_unit_test(test_kube_updates_match_whole_builds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
