/*
 * Kubernetes protobuf request bodies (apiserver/kubepb.h): bytes written by
 * hand from the .proto definitions (k8s.io/api core/v1, apps/v1, rbac/v1
 * generated.proto; apimachinery runtime and meta/v1 generated.proto,
 * util/intstr, api/resource), each with the JSON a client would have sent,
 * and the errors for what is not this encoding or not decoded.
 *
 * A tag byte is (field number << 3) | wire type: 0x0a = field 1 bytes,
 * 0x12 = 2 bytes, 0x18 = 3 varint, 0x1a = 3 bytes, 0x42 = 8 bytes, 0x5a = 11
 * bytes. JSON in the tables uses ' for ".
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_json.h"

#include "base/common.h"
#include "apiserver/kubepb.h"

#define BODY_MAX 1024

/*
 * "k8s\0" + runtime.Unknown { typeMeta = 1 { apiVersion = 1; kind = 2 };
 * raw = 2; contentType = 4 }, lengths under 128 (one varint byte).
 */
static size_t envelope(unsigned char *out, const char *api_version, const char *kind,
		       const unsigned char *raw, size_t raw_len)
{
	size_t av = strlen(api_version), k = strlen(kind), n = 0;
	const char *ct = "application/vnd.kubernetes.protobuf";

	assert_true(av + k + 4 < 128 && raw_len < 128);
	memcpy(out, "k8s", 4);
	n = 4;
	out[n++] = 0x0a;
	out[n++] = (unsigned char)(2 + av + 2 + k);
	out[n++] = 0x0a;
	out[n++] = (unsigned char)av;
	memcpy(out + n, api_version, av);
	n += av;
	out[n++] = 0x12;
	out[n++] = (unsigned char)k;
	memcpy(out + n, kind, k);
	n += k;
	out[n++] = 0x12;
	out[n++] = (unsigned char)raw_len;
	if (raw_len)
		memcpy(out + n, raw, raw_len);
	n += raw_len;
	out[n++] = 0x22;
	out[n++] = (unsigned char)strlen(ct);
	memcpy(out + n, ct, strlen(ct));
	return n + strlen(ct);
}

static void expect(const char *api_version, const char *kind, const unsigned char *raw,
		   size_t raw_len, const char *want_json)
{
	unsigned char body[BODY_MAX];
	size_t n = envelope(body, api_version, kind, raw, raw_len);
	struct llmo_error err = {0};
	json_t *got = NULL, *want = J(want_json);
	char *a, *b;
	int rc = llmo_kubepb_decode(body, n, &got, &err);

	if (rc)
		fail_msg("decode failed (%d): %s", rc, err.msg);
	a = json_dumps(got, JSON_COMPACT | JSON_PRESERVE_ORDER);
	b = json_dumps(want, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (!json_equal(got, want))
		fail_msg("got  %s\nwant %s", a, b);
	/* apiVersion and kind come first, as a JSON client writes them */
	assert_true(strncmp(a, "{\"apiVersion\":", 14) == 0);
	free(a);
	free(b);
	json_decref(got);
	json_decref(want);
}

static void expect_error(const unsigned char *body, size_t n, int code, const char *part)
{
	struct llmo_error err = {0};
	json_t *got = (json_t *)1;
	int rc = llmo_kubepb_decode(body, n, &got, &err);

	assert_int_equal(rc, code);
	assert_null(got);
	if (!strstr(err.msg, part))
		fail_msg("message \"%s\" lacks \"%s\"", err.msg, part);
}

static void expect_raw_error(const char *api_version, const char *kind, const unsigned char *raw,
			     size_t raw_len, int code, const char *part)
{
	unsigned char body[BODY_MAX];

	expect_error(body, envelope(body, api_version, kind, raw, raw_len), code, part);
}

/* ConfigMap { metadata = 1; data = 2 map; binaryData = 3 map<string, bytes> } */
static void test_config_map(void **state)
{
	static const unsigned char raw[] = {
		0x0a, 0x13,                   /* metadata: ObjectMeta, 19 bytes */
		0x0a, 0x02, 'c', '1',         /*   name */
		0x1a, 0x01, 't',              /*   namespace */
		0x42, 0x00,                   /*   creationTimestamp: the zero Time */
		0x5a, 0x08,                   /*   labels entry */
		0x0a, 0x03, 'a', 'p', 'p',    /*     key */
		0x12, 0x01, 'x',              /*     value */
		0x12, 0x06,                   /* data entry */
		0x0a, 0x01, 'a', 0x12, 0x01, 'b',
		0x1a, 0x09,                   /* binaryData entry */
		0x0a, 0x03, 'b', 'i', 'n', 0x12, 0x02, 0x00, 0x01,
	};

	(void)state;
	expect("v1", "ConfigMap", raw, sizeof(raw),
	       "{'apiVersion': 'v1', 'kind': 'ConfigMap',"
	       " 'metadata': {'name': 'c1', 'namespace': 't', 'labels': {'app': 'x'}},"
	       " 'data': {'a': 'b'}, 'binaryData': {'bin': 'AAE='}}");
}

/*
 * Go writes every non-pointer field, so the empty strings and zeros of an
 * unset ObjectMeta are on the wire; they are left out as JSON's omitempty
 * leaves them out. Secret { data = 2 map<string, bytes>; type = 3 }.
 */
static void test_secret_zero_fields_left_out(void **state)
{
	static const unsigned char raw[] = {
		0x0a, 0x0c,             /* metadata, 12 bytes */
		0x0a, 0x02, 's', '1',   /*   name */
		0x12, 0x00,             /*   generateName "" */
		0x22, 0x00,             /*   selfLink "" (4) */
		0x38, 0x00,             /*   generation 0 (7, varint) */
		0x42, 0x00,             /*   creationTimestamp zero */
		0x12, 0x0a,             /* data entry */
		0x0a, 0x01, 'k', 0x12, 0x05, 'h', 'e', 'l', 'l', 'o',
		0x1a, 0x06, 'O', 'p', 'a', 'q', 'u', 'e', /* type */
	};

	(void)state;
	expect("v1", "Secret", raw, sizeof(raw),
	       "{'apiVersion': 'v1', 'kind': 'Secret', 'metadata': {'name': 's1'},"
	       " 'data': {'k': 'aGVsbG8='}, 'type': 'Opaque'}");
}

/*
 * Deployment: replicas (DeploymentSpec 1) is a pointer, so 0 on the wire is
 * kept; empty submessages stay {} ("strategy": {}, "resources": {}, "status":
 * {}), as Go's JSON writes structs.
 */
static void test_deployment(void **state)
{
	static const unsigned char raw[] = {
		0x0a, 0x04, 0x0a, 0x02, 'd', '1', /* metadata { name } */
		0x12, 0x21,                       /* spec, 33 bytes */
		0x08, 0x00,                       /*   replicas 0 */
		0x1a, 0x1b,                       /*   template, 27 bytes */
		0x12, 0x19,                       /*     spec: PodSpec, 25 bytes */
		0x12, 0x11,                       /*       containers[0], 17 bytes */
		0x0a, 0x01, 'c',                  /*         name */
		0x12, 0x05, 'n', 'g', 'i', 'n', 'x', /*      image */
		0x42, 0x00,                       /*         resources {} (8) */
		0x32, 0x03, 0x18, 0x90, 0x03,     /*         ports[0] { containerPort 400 } (6) */
		0x1a, 0x04, 'N', 'e', 'v', 'r',   /*       restartPolicy (3) */
		0x22, 0x00,                       /*   strategy {} (4) */
		0x1a, 0x00,                       /* status {} */
	};

	(void)state;
	expect("apps/v1", "Deployment", raw, sizeof(raw),
	       "{'apiVersion': 'apps/v1', 'kind': 'Deployment', 'metadata': {'name': 'd1'},"
	       " 'spec': {'replicas': 0, 'template': {'spec': {'containers': [{'name': 'c',"
	       " 'image': 'nginx', 'resources': {}, 'ports': [{'containerPort': 400}]}],"
	       " 'restartPolicy': 'Nevr'}}, 'strategy': {}}, 'status': {}}");
}

/*
 * Service ports: targetPort is an IntOrString { type = 1 (0 int, 1 string);
 * intVal = 2; strVal = 3 }; a negative int32 is a ten-byte varint.
 */
static void test_service_int_or_string(void **state)
{
	static const unsigned char raw[] = {
		0x12, 0x24,                       /* spec, 36 bytes */
		0x0a, 0x11,                       /*   ports[0], 17 bytes */
		0x18, 0x50,                       /*     port 80 */
		0x22, 0x0d,                       /*     targetPort, 13 bytes */
		0x08, 0x00, 0x10,                 /*       type 0, intVal: -2 in ten bytes */
		0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
		0x0a, 0x09,                       /*   ports[1], 9 bytes */
		0x22, 0x07,                       /*     targetPort */
		0x08, 0x01, 0x1a, 0x03, 'w', 'e', 'b',
		0x22, 0x04, 'N', 'o', 'd', 'e',   /*   type (4) */
	};

	(void)state;
	expect("v1", "Service", raw, sizeof(raw),
	       "{'apiVersion': 'v1', 'kind': 'Service', 'spec': {'ports': [{'port': 80,"
	       " 'targetPort': -2}, {'targetPort': 'web'}], 'type': 'Node'}}");
}

/* A set creationTimestamp (Time { seconds = 1 }) and resources as Quantity { string = 1 }. */
static void test_time_and_quantity(void **state)
{
	static const unsigned char raw[] = {
		0x0a, 0x04, 0x42, 0x02, 0x08, 0x3c, /* metadata { creationTimestamp 60 s } */
		0x12, 0x14,                         /* spec, 20 bytes */
		0x1a, 0x12,                         /*   template */
		0x12, 0x10,                         /*     spec */
		0x12, 0x0e,                         /*       containers[0] */
		0x42, 0x0c,                         /*         resources */
		0x0a, 0x0a,                         /*           limits entry */
		0x0a, 0x03, 'c', 'p', 'u',
		0x12, 0x03, 0x0a, 0x01, '2',        /*             Quantity "2" */
	};

	(void)state;
	expect("apps/v1", "Deployment", raw, sizeof(raw),
	       "{'apiVersion': 'apps/v1', 'kind': 'Deployment',"
	       " 'metadata': {'creationTimestamp': '1970-01-01T00:01:00Z'},"
	       " 'spec': {'template': {'spec': {'containers': [{'resources':"
	       " {'limits': {'cpu': '2'}}}]}}}}");
}

/* RoleBinding { subjects = 2 repeated; roleRef = 3 }, for ClusterRoleBinding too. */
static void test_cluster_role_binding(void **state)
{
	static const unsigned char raw[] = {
		0x12, 0x0b, 0x0a, 0x04, 'U', 's', 'e', 'r', 0x1a, 0x03, 'b', 'o', 'b',
		0x1a, 0x1e,
		0x0a, 0x19, 'r', 'b', 'a', 'c', '.', 'a', 'u', 't', 'h', 'o', 'r', 'i', 'z', 'a',
		't', 'i', 'o', 'n', '.', 'k', '8', 's', '.', 'i', 'o',
		0x1a, 0x01, 'r',
	};

	(void)state;
	expect("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", raw, sizeof(raw),
	       "{'apiVersion': 'rbac.authorization.k8s.io/v1', 'kind': 'ClusterRoleBinding',"
	       " 'subjects': [{'kind': 'User', 'name': 'bob'}],"
	       " 'roleRef': {'apiGroup': 'rbac.authorization.k8s.io', 'name': 'r'}}");
}

/* A field the tables do not name: skipped when zero, refused when set. */
static void test_unknown_fields(void **state)
{
	static const unsigned char zero[] = {0x48, 0x00, 0x52, 0x00}; /* 9 varint 0, 10 "" */
	static const unsigned char set[] = {0x48, 0x01};
	static const unsigned char nested[] = {0x0a, 0x02, 0x78, 0x01}; /* ObjectMeta 15 = 1 */

	(void)state;
	expect("v1", "ConfigMap", zero, sizeof(zero), "{'apiVersion': 'v1', 'kind': 'ConfigMap'}");
	expect_raw_error("v1", "ConfigMap", set, sizeof(set), LLMO_EUNSUPPORTED,
			 "field 9 of ConfigMap is set");
	expect_raw_error("v1", "ConfigMap", nested, sizeof(nested), LLMO_EUNSUPPORTED,
			 "field 15 of ObjectMeta");
}

static void test_unknown_type(void **state)
{
	(void)state;
	expect_raw_error("batch/v1", "Job", NULL, 0, LLMO_EUNSUPPORTED,
			 "does not decode Job (apiVersion \"batch/v1\")");
	expect_raw_error("v2", "ConfigMap", NULL, 0, LLMO_EUNSUPPORTED, "ConfigMap");
}

static void test_malformed(void **state)
{
	static const unsigned char not_magic[] = {'{', '}', 0, 0, 0};
	static const unsigned char cut[] = {'k', '8', 's', 0, 0x0a, 0x05, 0x0a};
	static const unsigned char encoded[] = {'k', '8', 's', 0, 0x1a, 0x04, 'g', 'z', 'i', 'p'};
	static const unsigned char wrong_wire[] = {0x0a, 0x00, 0x10, 0x01}; /* data as varint */
	static const unsigned char bad_utf8[] = {0x0a, 0x03, 0x0a, 0x01, 0xff};
	static const unsigned char cut_raw[] = {0x0a, 0x05, 0x0a, 0x01};
	static const unsigned char nul_key[] = {0x12, 0x05, 0x0a, 0x01, 0x00, 0x12, 0x00};

	(void)state;
	expect_error(not_magic, sizeof(not_magic), LLMO_EPARSE, "k8s");
	expect_error(not_magic, 2, LLMO_EPARSE, "k8s");
	expect_error(cut, sizeof(cut), LLMO_EPARSE, "envelope is malformed");
	expect_error(encoded, sizeof(encoded), LLMO_EUNSUPPORTED, "contentEncoding");
	expect_raw_error("v1", "ConfigMap", wrong_wire, sizeof(wrong_wire), LLMO_EPARSE,
			 "ConfigMap.data (field 2): wire type 0");
	expect_raw_error("v1", "ConfigMap", bad_utf8, sizeof(bad_utf8), LLMO_EPARSE,
			 "ObjectMeta.name: the string is not UTF-8");
	expect_raw_error("v1", "ConfigMap", cut_raw, sizeof(cut_raw), LLMO_EPARSE,
			 "ConfigMap: malformed protobuf");
	expect_raw_error("v1", "ConfigMap", nul_key, sizeof(nul_key), LLMO_EPARSE,
			 "a key holds NUL");
}

static void test_content_type(void **state)
{
	(void)state;
	assert_true(llmo_kubepb_content_type("application/vnd.kubernetes.protobuf"));
	assert_true(llmo_kubepb_content_type("Application/VND.kubernetes.protobuf; x=y"));
	assert_true(llmo_kubepb_content_type("application/vnd.kubernetes.protobuf;stream=watch"));
	assert_false(llmo_kubepb_content_type("application/vnd.kubernetes.protobufx"));
	assert_false(llmo_kubepb_content_type("application/json"));
	assert_false(llmo_kubepb_content_type(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_map),
		cmocka_unit_test(test_secret_zero_fields_left_out),
		cmocka_unit_test(test_deployment),
		cmocka_unit_test(test_service_int_or_string),
		cmocka_unit_test(test_time_and_quantity),
		cmocka_unit_test(test_cluster_role_binding),
		cmocka_unit_test(test_unknown_fields),
		cmocka_unit_test(test_unknown_type),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_content_type),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
