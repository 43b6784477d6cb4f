/*
 * Swagger 2.0 JSON -> gnostic openapi.v2.Document protobuf.
 *
 * Expected bytes are worked out by hand from gnostic's openapiv2/OpenAPIv2.proto
 * field numbers and the protobuf encoding guide (key = field << 3 | wire type;
 * 0 varint, 1 fixed64 little-endian, 2 length-delimited), with the arithmetic
 * in the comments. Values of any type travel as Any { yaml = 2 }, written as
 * gnostic's compiler writes them (yaml.v3 block style, four-space indent).
 * JSON in the tables uses ' for " to stay readable.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_json.h"

#include "base/common.h"
#include "apiserver/openapi_pb.h"
#include "base/json.h"

#include "openapi_pb_wire.h"

#define TEXT_MAX 4096

/* Encodes the document text; out is initialised here, the caller releases it. */
static void encode(const char *text, struct llmo_buf *out)
{
	json_t *doc = J(text);
	struct llmo_error err = {0};
	int rc;

	llmo_buf_init(out, LLMO_BUF_UNLIMITED);
	rc = llmo_openapi_v2_protobuf(doc, out, &err);
	if (rc)
		fail_msg("encoding %s failed: %s", text, err.msg);
	assert_true(pb_wire_check((const unsigned char *)out->data, out->len, M_DOCUMENT, 512));
	json_decref(doc);
}

static void assert_bytes(const struct llmo_buf *got, const unsigned char *want, size_t n,
			 const char *what)
{
	if (got->len == n && memcmp(got->data, want, n) == 0)
		return;
	for (size_t i = 0; i < LLMO_MAX(got->len, n); i++) {
		int g = i < got->len ? (unsigned char)got->data[i] : -1;
		int w = i < n ? want[i] : -1;

		if (g != w)
			fail_msg("%s: %zu bytes, want %zu; first difference at byte %zu: got %d, want %d",
				 what, got->len, n, i, g, w);
	}
}

static void expect(const char *text, const unsigned char *want, size_t n)
{
	struct llmo_buf out;

	encode(text, &out);
	assert_bytes(&out, want, n, text);
	llmo_buf_release(&out);
}

#define EXPECT(text, ...)                                                   \
	do {                                                                \
		static const unsigned char want_[] = {__VA_ARGS__};         \
		expect(text, want_, sizeof(want_));                         \
	} while (0)

/* A valid pointer for the empty expectation. */
static const unsigned char nothing[1];

/* ---- Document, Info ---- */

static void test_document_swagger(void **state)
{
	(void)state;
	/* Document.swagger = 1, string: key 1<<3|2 = 0x0a, length 3 */
	EXPECT("{'swagger': '2.0'}", 0x0a, 0x03, '2', '.', '0');
	/* empty strings are proto3 defaults: nothing is written */
	expect("{'swagger': ''}", nothing, 0);
	expect("{}", nothing, 0);
}

static void test_document_info(void **state)
{
	(void)state;
	/* Document.info = 2 (0x12) holding Info { title = 1 (0x0a); version = 2 (0x12) } */
	EXPECT("{'swagger': '2.0', 'info': {'title': 't', 'version': 'v1'}}",
	       0x0a, 0x03, '2', '.', '0',
	       0x12, 0x07, 0x0a, 0x01, 't', 0x12, 0x02, 'v', '1');
	/* a present object is a present message, even when empty */
	EXPECT("{'info': {}}", 0x12, 0x00);
	/* Document.schemes = 5, repeated string: one key per element */
	EXPECT("{'schemes': ['https', 'http']}", 0x2a, 0x05, 'h', 't', 't', 'p', 's',
	       0x2a, 0x04, 'h', 't', 't', 'p');
}

/* ---- Schema (inside Document.definitions) ---- */

/*
 * definitions {'S': schema} is Document.definitions = 9 (0x4a) { Definitions.
 * additional_properties = 1 (0x0a) { NamedSchema.name = 1 (0x0a, 1, 'S');
 * NamedSchema.value = 2 (0x12, n) schema } }: n + 7 and n + 5 bytes around it.
 */
static void expect_schema(const char *schema, const unsigned char *want, size_t n)
{
	char doc[TEXT_MAX];
	unsigned char full[256];

	assert_true(n + 7 < 128);
	snprintf(doc, sizeof(doc), "{'definitions': {'S': %s}}", schema);
	full[0] = 0x4a;
	full[1] = (unsigned char)(n + 7);
	full[2] = 0x0a;
	full[3] = (unsigned char)(n + 5);
	full[4] = 0x0a;
	full[5] = 0x01;
	full[6] = 'S';
	full[7] = 0x12;
	full[8] = (unsigned char)n;
	memcpy(full + 9, want, n);
	expect(doc, full, n + 9);
}

#define EXPECT_SCHEMA(text, ...)                                            \
	do {                                                                \
		static const unsigned char want_[] = {__VA_ARGS__};         \
		expect_schema(text, want_, sizeof(want_));                  \
	} while (0)

static void test_schema_type_and_properties(void **state)
{
	(void)state;
	/*
	 * Schema.type = 22: key 22<<3|2 = 178 = varint b2 01; TypeItem { value = 1 }.
	 * Schema.properties = 25: key 202 = ca 01; an empty Properties still goes out.
	 */
	EXPECT_SCHEMA("{'type': 'object', 'properties': {}}",
		      0xb2, 0x01, 0x08, 0x0a, 0x06, 'o', 'b', 'j', 'e', 'c', 't',
		      0xca, 0x01, 0x00);
	/* a list of types: one TypeItem with two values */
	EXPECT_SCHEMA("{'type': ['string', 'null']}",
		      0xb2, 0x01, 0x0e, 0x0a, 0x06, 's', 't', 'r', 'i', 'n', 'g',
		      0x0a, 0x04, 'n', 'u', 'l', 'l');
	/* Properties { NamedSchema { name 'a'; value Schema {} } }: 0a 05 [0a 01 'a' 12 00] */
	EXPECT_SCHEMA("{'properties': {'a': {}}}",
		      0xca, 0x01, 0x07, 0x0a, 0x05, 0x0a, 0x01, 'a', 0x12, 0x00);
	/* members Swagger 2.0 does not have are left out */
	expect_schema("{'nullable': true, 'anyOf': [{}], 'x': 1}", nothing, 0);
}

static void test_schema_numbers(void **state)
{
	(void)state;
	/*
	 * minimum = 9, double: key 9<<3|1 = 0x49, 1.5 = 0x3FF8000000000000 little-endian;
	 * exclusiveMinimum = 10, bool: 0x50 01; maxLength = 11: 0x58, 300 = ac 02;
	 * minLength = 12: 0x60, -1 = ten bytes ff .. ff 01; maximum 0 is the default.
	 */
	EXPECT_SCHEMA("{'maxLength': 300, 'minimum': 1.5, 'exclusiveMinimum': true, "
		      "'minLength': -1, 'maximum': 0}",
		      0x49, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf8, 0x3f,
		      0x50, 0x01,
		      0x58, 0xac, 0x02,
		      0x60, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01);
	/* maximum = 7 takes an integer too: 2.0 = 0x4000000000000000; maxItems = 14 an integral real */
	EXPECT_SCHEMA("{'maximum': 2, 'maxItems': 3.0, 'minItems': 1.5, 'exclusiveMaximum': false}",
		      0x39, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x40,
		      0x70, 0x03);
}

static void test_schema_additional_properties(void **state)
{
	(void)state;
	/* additionalProperties = 21: key 170 = aa 01; AdditionalPropertiesItem.boolean = 2 */
	EXPECT_SCHEMA("{'additionalProperties': false}", 0xaa, 0x01, 0x02, 0x10, 0x00);
	EXPECT_SCHEMA("{'additionalProperties': true}", 0xaa, 0x01, 0x02, 0x10, 0x01);
	/* AdditionalPropertiesItem.schema = 1 { type 'string' } (11 bytes) */
	EXPECT_SCHEMA("{'additionalProperties': {'type': 'string'}}",
		      0xaa, 0x01, 0x0d, 0x0a, 0x0b,
		      0xb2, 0x01, 0x08, 0x0a, 0x06, 's', 't', 'r', 'i', 'n', 'g');
}

static void test_schema_items_required_ref(void **state)
{
	(void)state;
	/*
	 * description = 4 (0x22); required = 19 (key 154 = 9a 01), one key per name;
	 * items = 23 (key 186 = ba 01): ItemsItem { schema = 1 { _ref = 1 } }, and
	 * "#/definitions/S" is 15 bytes.
	 */
	EXPECT_SCHEMA("{'required': ['x', 'y'], 'items': {'$ref': '#/definitions/S'}, "
		      "'description': 'd'}",
		      0x22, 0x01, 'd',
		      0x9a, 0x01, 0x01, 'x', 0x9a, 0x01, 0x01, 'y',
		      0xba, 0x01, 0x13, 0x0a, 0x11, 0x0a, 0x0f,
		      '#', '/', 'd', 'e', 'f', 'i', 'n', 'i', 't', 'i', 'o', 'n', 's', '/', 'S');
	/* a list of item schemas: two Schema {} in one ItemsItem */
	EXPECT_SCHEMA("{'items': [{}, {}]}", 0xba, 0x01, 0x04, 0x0a, 0x00, 0x0a, 0x00);
	/* allOf = 24 (key 194 = c2 01), repeated Schema */
	EXPECT_SCHEMA("{'allOf': [{}, {}]}", 0xc2, 0x01, 0x00, 0xc2, 0x01, 0x00);
}

static void test_schema_enum_default(void **state)
{
	(void)state;
	/*
	 * default = 5 (0x2a): Any { yaml = 2 (0x12) '""\n' }, the empty string quoted;
	 * enum = 20 (key 162 = a2 01): one Any per item, 'a' -> "a\n", 1 -> "1\n".
	 */
	EXPECT_SCHEMA("{'enum': ['a', 1], 'default': ''}",
		      0x2a, 0x05, 0x12, 0x03, '"', '"', '\n',
		      0xa2, 0x01, 0x04, 0x12, 0x02, 'a', '\n',
		      0xa2, 0x01, 0x04, 0x12, 0x02, '1', '\n');
}

static void test_schema_vendor_extensions(void **state)
{
	(void)state;
	/*
	 * vendor_extension = 31 (key 250 = fa 01): NamedAny { name = 1 (26 bytes);
	 * value = 2 Any { yaml = 2 "true\n" } } = 2 + 26 + 2 + 7 = 37 bytes.
	 */
	EXPECT_SCHEMA("{'x-kubernetes-int-or-string': true}",
		      0xfa, 0x01, 0x25,
		      0x0a, 0x1a, 'x', '-', 'k', 'u', 'b', 'e', 'r', 'n', 'e', 't', 'e', 's', '-',
		      'i', 'n', 't', '-', 'o', 'r', '-', 's', 't', 'r', 'i', 'n', 'g',
		      0x12, 0x07, 0x12, 0x05, 't', 'r', 'u', 'e', '\n');
	/* a list: "- name\n- port\n" (14 bytes) */
	EXPECT_SCHEMA("{'x-kubernetes-list-map-keys': ['name', 'port']}",
		      0xfa, 0x01, 0x2e,
		      0x0a, 0x1a, 'x', '-', 'k', 'u', 'b', 'e', 'r', 'n', 'e', 't', 'e', 's', '-',
		      'l', 'i', 's', 't', '-', 'm', 'a', 'p', '-', 'k', 'e', 'y', 's',
		      0x12, 0x10, 0x12, 0x0e, '-', ' ', 'n', 'a', 'm', 'e', '\n', '-', ' ', 'p', 'o',
		      'r', 't', '\n');
}

/* ---- paths and operations ---- */

static void test_operation_query_parameter(void **state)
{
	(void)state;
	/*
	 * QueryParameterSubSchema { in = 2 'query'; name = 4 'q'; type = 6 'string' } = 18
	 * NonBodyParameter.query_parameter_sub_schema = 3 (0x1a) -> 20
	 * Parameter.non_body_parameter = 2 (0x12) -> 22
	 * ParametersItem.parameter = 1 (0x0a) -> 24
	 * Operation.parameters = 8 (0x42) -> 26; Operation.operation_id = 5 (0x2a) 'o' -> 3
	 * Responses { response_code = 1 { name '200'; value = 2 ResponseValue { response = 1
	 *   Response { description = 1 'OK' } } } }: 4, 6, 13, 15 -> Operation.responses = 9 (0x4a) 17
	 * Operation = 3 + 26 + 17 = 46; PathItem.get = 2 (0x12) -> 48
	 * NamedPathItem { name '/p'; value = 2 } = 4 + 50 = 54; Paths.path = 2 (0x12) -> 56
	 * Document.paths = 8 (0x42)
	 */
	EXPECT("{'paths': {'/p': {'get': {'operationId': 'o', 'parameters': [{'name': 'q', "
	       "'in': 'query', 'type': 'string'}], 'responses': {'200': {'description': 'OK'}}}}}}",
	       0x42, 0x38, 0x12, 0x36, 0x0a, 0x02, '/', 'p', 0x12, 0x30, 0x12, 0x2e,
	       0x2a, 0x01, 'o',
	       0x42, 0x18, 0x0a, 0x16, 0x12, 0x14, 0x1a, 0x12,
	       0x12, 0x05, 'q', 'u', 'e', 'r', 'y', 0x22, 0x01, 'q',
	       0x32, 0x06, 's', 't', 'r', 'i', 'n', 'g',
	       0x4a, 0x0f, 0x0a, 0x0d, 0x0a, 0x03, '2', '0', '0', 0x12, 0x06, 0x0a, 0x04,
	       0x0a, 0x02, 'O', 'K');
}

static void test_operation_body_and_ref_parameters(void **state)
{
	(void)state;
	/*
	 * BodyParameter { name = 2 'b' (3); in = 3 'body' (6); required = 4 (2);
	 *   schema = 5 { type 'object' } (13) } = 24; Parameter.body_parameter = 1 -> 26;
	 *   ParametersItem.parameter = 1 -> 28; Operation.parameters -> 30
	 * JsonReference { _ref = 1 '#/parameters/x' (14) } = 16;
	 *   ParametersItem.json_reference = 2 (0x12) -> 18; Operation.parameters -> 20
	 * Operation = 50; PathItem.post = 4 (0x22) -> 52; NamedPathItem 58; Paths 60
	 */
	EXPECT("{'paths': {'/p': {'post': {'parameters': [{'name': 'b', 'in': 'body', "
	       "'required': true, 'schema': {'type': 'object'}}, {'$ref': '#/parameters/x'}]}}}}",
	       0x42, 0x3c, 0x12, 0x3a, 0x0a, 0x02, '/', 'p', 0x12, 0x34, 0x22, 0x32,
	       0x42, 0x1c, 0x0a, 0x1a, 0x0a, 0x18,
	       0x12, 0x01, 'b', 0x1a, 0x04, 'b', 'o', 'd', 'y', 0x20, 0x01,
	       0x2a, 0x0b, 0xb2, 0x01, 0x08, 0x0a, 0x06, 'o', 'b', 'j', 'e', 'c', 't',
	       0x42, 0x12, 0x12, 0x10, 0x0a, 0x0e,
	       '#', '/', 'p', 'a', 'r', 'a', 'm', 'e', 't', 'e', 'r', 's', '/', 'x');
}

static void test_paths_extensions_first(void **state)
{
	(void)state;
	/*
	 * Paths { vendor_extension = 1; path = 2 }: field order, not JSON order;
	 * 'z' is neither a path nor an extension and is left out.
	 * NamedAny { name 'x-y'; value Any { yaml "1\n" } } = 5 + 6 = 11
	 * NamedPathItem { name '/a'; value PathItem {} } = 4 + 2 = 6
	 */
	EXPECT("{'paths': {'/a': {}, 'z': {}, 'x-y': 1}}",
	       0x42, 0x15, 0x0a, 0x0b, 0x0a, 0x03, 'x', '-', 'y', 0x12, 0x04, 0x12, 0x02, '1',
	       '\n', 0x12, 0x06, 0x0a, 0x02, '/', 'a', 0x12, 0x00);
}

static void test_responses_codes_refs_extensions(void **state)
{
	(void)state;
	/*
	 * 'foo' is no status code: left out. 'default' with $ref:
	 * JsonReference { _ref '#/responses/r' (13) } = 15; ResponseValue.json_reference = 2 -> 17;
	 * NamedResponseValue { name 'default' (9); value (19) } = 28; Responses.response_code -> 30
	 * Responses.vendor_extension = 2: NamedAny { 'x-r' (5); Any { "true\n" } (9) } = 14 -> 16
	 * Responses = 46; Operation.responses = 9 (0x4a) -> 48; PathItem.get -> 50;
	 * NamedPathItem = 56; Paths.path -> 58
	 */
	EXPECT("{'paths': {'/a': {'get': {'responses': {'foo': {}, "
	       "'default': {'$ref': '#/responses/r'}, 'x-r': true}}}}}",
	       0x42, 0x3a, 0x12, 0x38, 0x0a, 0x02, '/', 'a', 0x12, 0x32, 0x12, 0x30,
	       0x4a, 0x2e, 0x0a, 0x1c, 0x0a, 0x07, 'd', 'e', 'f', 'a', 'u', 'l', 't',
	       0x12, 0x11, 0x12, 0x0f, 0x0a, 0x0d,
	       '#', '/', 'r', 'e', 's', 'p', 'o', 'n', 's', 'e', 's', '/', 'r',
	       0x12, 0x0e, 0x0a, 0x03, 'x', '-', 'r', 0x12, 0x07, 0x12, 0x05,
	       't', 'r', 'u', 'e', '\n');
}

/* ---- YAML in Any ---- */

/* The Any.yaml text of the document's one vendor extension 'x-v': value. */
static void expect_yaml(const char *value, const char *want)
{
	char doc[TEXT_MAX];
	struct llmo_buf out;
	struct pb_wire_field f = {0};
	/* Document.vendor_extension = 16, NamedAny.value = 2, Any.yaml = 2 */
	static const uint32_t path[] = {16, 0, 2, 0, 2, 0};

	snprintf(doc, sizeof(doc), "{'x-v': %s}", value);
	encode(doc, &out);
	assert_true(pb_wire_get((const unsigned char *)out.data, out.len, path, 3, &f));
	assert_int_equal(f.wt, 2);
	if (f.len != strlen(want) || memcmp(f.p, want, f.len) != 0)
		fail_msg("YAML of %s: got \"%.*s\", want \"%s\"", value, (int)f.len, f.p, want);
	llmo_buf_release(&out);
}

static void test_yaml_scalars(void **state)
{
	(void)state;
	expect_yaml("'atomic'", "atomic\n");
	expect_yaml("'llm.orchestrator.io'", "llm.orchestrator.io\n");
	/* strings YAML would read as something else, or that hold indicators, are quoted */
	expect_yaml("''", "\"\"\n");
	expect_yaml("'true'", "\"true\"\n");
	expect_yaml("'Off'", "\"Off\"\n");
	expect_yaml("'1.0'", "\"1.0\"\n");
	expect_yaml("'a: b'", "\"a: b\"\n");
	expect_yaml("'-x'", "\"-x\"\n");
	expect_yaml("'say \\'hi\\'\\n\\u0001'", "\"say \\\"hi\\\"\\n\\x01\"\n");
	expect_yaml("'\\u2028'", "\"\\u2028\"\n");
	expect_yaml("'caf\\u00e9'", "\"caf\xc3\xa9\"\n");
	expect_yaml("-7", "-7\n");
	expect_yaml("0.5", "0.5\n");
	/* a real keeps a '.' so that YAML reads it back as a float */
	expect_yaml("3.0", "3.0\n");
	expect_yaml("1e100", "1.0e+100\n");
	expect_yaml("false", "false\n");
	expect_yaml("null", "null\n");
	expect_yaml("{}", "{}\n");
	expect_yaml("[]", "[]\n");
}

static void test_yaml_blocks(void **state)
{
	(void)state;
	/* x-kubernetes-group-version-kind as kube-apiserver publishes it on definitions */
	expect_yaml("[{'group': '', 'version': 'v1', 'kind': 'Pod'}]",
		    "- group: \"\"\n  version: v1\n  kind: Pod\n");
	/* on operations it is one mapping */
	expect_yaml("{'group': 'llm.orchestrator.io', 'version': 'v1', 'kind': 'LLMWorkload'}",
		    "group: llm.orchestrator.io\nversion: v1\nkind: LLMWorkload\n");
	/* nested blocks under a key start on the next line at the next multiple of four */
	expect_yaml("{'a': {'b': [1, 2]}}", "a:\n    b:\n        - 1\n        - 2\n");
	expect_yaml("{'k': [{'a': 1, 'b': {'c': 2}}]}",
		    "k:\n    - a: 1\n      b:\n        c: 2\n");
	/* blocks inside a sequence item start on the item's line */
	expect_yaml("[[1, 2], [3]]", "- - 1\n  - 2\n- - 3\n");
	expect_yaml("{'': [], 'x y': {}}", "\"\": []\nx y: {}\n");
}

/* ---- errors and bounds ---- */

static void test_not_an_object(void **state)
{
	json_t *doc = J("['swagger']");
	struct llmo_error err = {0};
	struct llmo_buf out;

	(void)state;
	llmo_buf_init(&out, LLMO_BUF_UNLIMITED);
	assert_int_equal(llmo_openapi_v2_protobuf(doc, &out, &err), LLMO_EINVAL);
	assert_int_equal(err.code, LLMO_EINVAL);
	assert_non_null(strstr(err.msg, "array"));
	assert_int_equal(out.len, 0);
	assert_int_equal(llmo_openapi_v2_protobuf(NULL, &out, NULL), LLMO_EINVAL);
	llmo_buf_release(&out);
	json_decref(doc);
}

/* {'properties': {'p': ...}} levels deep around an empty schema. */
static json_t *deep_schema(int levels)
{
	json_t *s = json_object();

	for (int i = 0; i < levels; i++)
		s = json_pack("{s:{s:o}}", "properties", "p", s);
	return json_pack("{s:{s:o}}", "definitions", "S", s);
}

static void test_nesting_bound(void **state)
{
	struct llmo_error err = {0};
	struct llmo_buf out;
	json_t *ok, *deep, *deep_yaml, *inner = json_array();

	(void)state;
	/* Definitions, NamedSchema, Schema, then three messages per level */
	ok = deep_schema((LLMO_OPENAPI_PB_NEST_MAX - 3) / 3);
	deep = deep_schema(LLMO_OPENAPI_PB_NEST_MAX / 3 + 1);
	for (int i = 0; i < LLMO_OPENAPI_PB_NEST_MAX + 1; i++)
		inner = json_pack("[o]", inner);
	deep_yaml = json_pack("{s:o}", "x-deep", inner);

	llmo_buf_init(&out, LLMO_BUF_UNLIMITED);
	assert_int_equal(llmo_openapi_v2_protobuf(ok, &out, &err), 0);
	assert_true(pb_wire_check((const unsigned char *)out.data, out.len, M_DOCUMENT,
				  LLMO_OPENAPI_PB_NEST_MAX + 1));

	/* a failure leaves what the buffer held before */
	llmo_buf_reset(&out);
	assert_int_equal(llmo_buf_puts(&out, "kept"), 0);
	assert_int_equal(llmo_openapi_v2_protobuf(deep, &out, &err), LLMO_ETOOBIG);
	assert_non_null(strstr(err.msg, "nested deeper"));
	assert_int_equal(out.len, 4);
	assert_string_equal(out.data, "kept");

	assert_int_equal(llmo_openapi_v2_protobuf(deep_yaml, &out, &err), LLMO_ETOOBIG);
	assert_int_equal(out.len, 4);
	llmo_buf_release(&out);
	json_decref(ok);
	json_decref(deep);
	json_decref(deep_yaml);
}

static void test_output_cap(void **state)
{
	json_t *doc = J("{'swagger': '2.0'}");
	struct llmo_error err = {0};
	struct llmo_buf out;

	(void)state;
	/* the encoding is 5 bytes */
	llmo_buf_init(&out, 4);
	assert_int_equal(llmo_openapi_v2_protobuf(doc, &out, &err), LLMO_ETOOBIG);
	assert_non_null(strstr(err.msg, "cap"));
	assert_int_equal(out.len, 0);
	llmo_buf_release(&out);
	llmo_buf_init(&out, 5);
	assert_int_equal(llmo_openapi_v2_protobuf(doc, &out, &err), 0);
	assert_int_equal(out.len, 5);
	llmo_buf_release(&out);
	json_decref(doc);
}

static void test_accept_header(void **state)
{
	(void)state;
	assert_true(llmo_openapi_pb_accepted(LLMO_OPENAPI_PB_MEDIA_TYPE));
	assert_true(llmo_openapi_pb_accepted(
		"application/json;q=0.5, application/com.github.proto-openapi.spec.v2@v1.0+protobuf"));
	assert_false(llmo_openapi_pb_accepted("application/json"));
	assert_false(llmo_openapi_pb_accepted("*/*"));
	assert_false(llmo_openapi_pb_accepted(""));
	assert_false(llmo_openapi_pb_accepted(NULL));
}

/* ---- a whole document, read back ---- */

static const char *const whole_doc =
	"{'swagger': '2.0', 'info': {'title': 'llmo', 'version': 'v1.31.0'},"
	" 'paths': {"
	"  '/apis/llm.orchestrator.io/v1/namespaces/{namespace}/llmworkloads': {"
	"   'get': {'operationId': 'list', 'responses': {'200': {'description': 'OK'}},"
	"    'x-kubernetes-group-version-kind': {'group': 'llm.orchestrator.io', 'version': 'v1',"
	"     'kind': 'LLMWorkload'}}},"
	"  '/apis/llm.orchestrator.io/v1/namespaces/{namespace}/llmworkloads/{name}': {"
	"   'patch': {'operationId': 'patch', 'parameters': ["
	"     {'name': 'fieldValidation', 'in': 'query', 'description': 'how', 'type': 'string'},"
	"     {'name': 'name', 'in': 'path', 'required': true, 'type': 'string'}],"
	"    'responses': {'200': {'description': 'OK', 'schema': {'$ref': '#/definitions/W'}}},"
	"    'x-kubernetes-group-version-kind': {'group': 'llm.orchestrator.io', 'version': 'v1',"
	"     'kind': 'LLMWorkload'}}}},"
	" 'definitions': {'W': {'type': 'object', 'required': ['spec'],"
	"   'properties': {'spec': {'type': 'object', 'properties': {"
	"     'replicas': {'type': 'integer', 'format': 'int32', 'minimum': 0, 'maximum': 100},"
	"     'tags': {'type': 'array', 'items': {'type': 'string', 'enum': ['a', 'b']},"
	"      'x-kubernetes-list-type': 'set'},"
	"     'env': {'type': 'object', 'additionalProperties': {'type': 'string'}},"
	"     'port': {'x-kubernetes-int-or-string': true}}}},"
	"   'x-kubernetes-group-version-kind': [{'group': 'llm.orchestrator.io', 'version': 'v1',"
	"    'kind': 'LLMWorkload'}]}}}";

static void assert_string_at(const struct llmo_buf *out, const uint32_t *path, size_t n,
			     const char *want)
{
	struct pb_wire_field f = {0};

	if (!pb_wire_get((const unsigned char *)out->data, out->len, path, n, &f))
		fail_msg("no field at the path for \"%s\"", want);
	assert_int_equal(f.wt, 2);
	if (f.len != strlen(want) || memcmp(f.p, want, f.len) != 0)
		fail_msg("got \"%.*s\", want \"%s\"", (int)f.len, f.p, want);
}

static void test_whole_document_read_back(void **state)
{
	struct llmo_buf out;
	struct pb_wire_field f;

	(void)state;
	encode(whole_doc, &out);

	/* Document.info.version */
	assert_string_at(&out, (const uint32_t[]){2, 0, 2, 0}, 2, "v1.31.0");
	/* paths.path[1].name */
	assert_string_at(&out, (const uint32_t[]){8, 0, 2, 1, 1, 0}, 3,
			 "/apis/llm.orchestrator.io/v1/namespaces/{namespace}/llmworkloads/{name}");
	/* ... .value.patch.parameters[0].parameter.non_body_parameter.query.name */
	assert_string_at(&out,
			 (const uint32_t[]){8, 0, 2, 1, 2, 0, 8, 0, 8, 0, 1, 0, 2, 0, 3, 0, 4, 0},
			 9, "fieldValidation");
	/* parameters[1] is a path parameter (NonBodyParameter = 4), required = 1 */
	assert_true(pb_wire_get((const unsigned char *)out.data, out.len,
				(const uint32_t[]){8, 0, 2, 1, 2, 0, 8, 0, 8, 1, 1, 0, 2, 0, 4, 0, 1, 0},
				9, &f));
	assert_int_equal(f.wt, 0);
	assert_int_equal(f.v, 1);
	/* patch.vendor_extension[0]: the GVK mapping */
	assert_string_at(&out, (const uint32_t[]){8, 0, 2, 1, 2, 0, 8, 0, 13, 0, 1, 0}, 6,
			 "x-kubernetes-group-version-kind");
	assert_string_at(&out, (const uint32_t[]){8, 0, 2, 1, 2, 0, 8, 0, 13, 0, 2, 0, 2, 0}, 7,
			 "group: llm.orchestrator.io\nversion: v1\nkind: LLMWorkload\n");
	/* patch.responses.response_code[0].value.response.schema.schema._ref */
	assert_string_at(&out,
			 (const uint32_t[]){8, 0, 2, 1, 2, 0, 8, 0, 9, 0, 1, 0, 2, 0, 1, 0, 2, 0, 1,
					    0, 1, 0},
			 11, "#/definitions/W");
	/* definitions[0].value.properties[0].value.properties[1] = tags: items.schema[0].enum[1] */
	assert_string_at(&out,
			 (const uint32_t[]){9, 0, 1, 0, 2, 0, 25, 0, 1, 0, 2, 0, 25, 0, 1, 1, 2, 0,
					    23, 0, 1, 0, 20, 1, 2, 0},
			 13, "b\n");
	/* ... replicas.maximum = 7, a double 100.0 = 0x4059000000000000 */
	assert_true(pb_wire_get((const unsigned char *)out.data, out.len,
				(const uint32_t[]){9, 0, 1, 0, 2, 0, 25, 0, 1, 0, 2, 0, 25, 0, 1, 0, 2,
						   0, 7, 0},
				10, &f));
	assert_int_equal(f.wt, 1);
	assert_true(f.v == UINT64_C(0x4059000000000000));
	/* ... env.additionalProperties.schema.type.value[0] */
	assert_string_at(&out,
			 (const uint32_t[]){9, 0, 1, 0, 2, 0, 25, 0, 1, 0, 2, 0, 25, 0, 1, 2, 2, 0,
					    21, 0, 1, 0, 22, 0, 1, 0},
			 13, "string");
	/* W's vendor extension: the GVK list */
	assert_string_at(&out, (const uint32_t[]){9, 0, 1, 0, 2, 0, 31, 0, 2, 0, 2, 0}, 6,
			 "- group: llm.orchestrator.io\n  version: v1\n  kind: LLMWorkload\n");
	llmo_buf_release(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_document_swagger),
		cmocka_unit_test(test_document_info),
		cmocka_unit_test(test_schema_type_and_properties),
		cmocka_unit_test(test_schema_numbers),
		cmocka_unit_test(test_schema_additional_properties),
		cmocka_unit_test(test_schema_items_required_ref),
		cmocka_unit_test(test_schema_enum_default),
		cmocka_unit_test(test_schema_vendor_extensions),
		cmocka_unit_test(test_operation_query_parameter),
		cmocka_unit_test(test_operation_body_and_ref_parameters),
		cmocka_unit_test(test_paths_extensions_first),
		cmocka_unit_test(test_responses_codes_refs_extensions),
		cmocka_unit_test(test_yaml_scalars),
		cmocka_unit_test(test_yaml_blocks),
		cmocka_unit_test(test_not_an_object),
		cmocka_unit_test(test_nesting_bound),
		cmocka_unit_test(test_output_cap),
		cmocka_unit_test(test_accept_header),
		cmocka_unit_test(test_whole_document_read_back),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
