#include "base/common.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/json.h"
#include "base/yaml.h"

/* Parses text, which must succeed. */
static void parse_ok(const char *text, struct llmo_yaml_stream *s)
{
	struct llmo_error err = {0};
	int rc = llmo_yaml_parse(text, strlen(text), "t.yaml", s, &err);

	if (rc)
		fail_msg("parse failed: %s (%s)", err.msg, llmo_errname(rc));
}

/* Parses text, which must fail with code and a message starting with prefix. */
static void parse_fails(const char *text, int code, const char *prefix, const char *contains)
{
	struct llmo_yaml_stream s;
	struct llmo_error err = {0};
	int rc = llmo_yaml_parse(text, strlen(text), "t.yaml", &s, &err);

	if (rc != code)
		fail_msg("%s: got %s (%s), want %s", text, llmo_errname(rc), err.msg,
			 llmo_errname(code));
	assert_int_equal(err.code, code);
	if (strncmp(err.msg, prefix, strlen(prefix)) != 0)
		fail_msg("message \"%s\" does not start with \"%s\"", err.msg, prefix);
	if (contains && !strstr(err.msg, contains))
		fail_msg("message \"%s\" lacks \"%s\"", err.msg, contains);
	/* the stream is left empty */
	assert_null(s.docs);
	assert_int_equal(s.ndocs, 0);
	assert_null(s.filename);
}

/* The JSON value written as JSON text by hand. */
static json_t *J(const char *json)
{
	json_error_t e;
	json_t *v = json_loads(json, JSON_DECODE_ANY, &e);

	if (!v)
		fail_msg("bad expected JSON %s: %s", json, e.text);
	return v;
}

static void assert_json(const json_t *got, const char *want_json)
{
	json_t *want = J(want_json);

	if (!json_equal(got, want)) {
		char *g = llmo_json_dump(got, false);

		fail_msg("got %s, want %s", g ? g : "(null)", want_json);
	}
	json_decref(want);
}

/* --- scalars --- */

static void test_scalar_typing_table(void **state)
{
	static const struct {
		const char *yaml; /* the value of key v */
		const char *json;
	} cases[] = {
		{"null", "null"},
		{"Null", "null"},
		{"NULL", "null"},
		{"~", "null"},
		{"", "null"},
		{"nULL", "\"nULL\""},
		{"true", "true"},
		{"True", "true"},
		{"TRUE", "true"},
		{"false", "false"},
		{"False", "false"},
		{"FALSE", "false"},
		{"tRUE", "\"tRUE\""},
		/* YAML 1.1 booleans are strings in the 1.2 core schema */
		{"yes", "\"yes\""},
		{"no", "\"no\""},
		{"on", "\"on\""},
		{"off", "\"off\""},
		{"y", "\"y\""},
		{"0", "0"},
		{"42", "42"},
		{"-17", "-17"},
		{"+5", "5"},
		{"007", "7"},
		{"0x1F", "31"},
		{"0xff", "255"},
		{"0o17", "15"},
		{"9223372036854775807", "9223372036854775807"},
		{"-9223372036854775808", "-9223372036854775808"},
		{"0x7fffffffffffffff", "9223372036854775807"},
		{"1.5", "1.5"},
		{"-2.5e3", "-2500.0"},
		{"6.02E+23", "6.02e23"},
		{".5", "0.5"},
		{"-.5", "-0.5"},
		{"1.", "1.0"},
		{"1e3", "1000.0"},
		{"0.0", "0.0"},
		{"0x", "\"0x\""},
		{"0xG", "\"0xG\""},
		{"0o8", "\"0o8\""},
		{"-0x1", "\"-0x1\""},
		{"1_000", "\"1_000\""},
		{"12abc", "\"12abc\""},
		{"1.2.3", "\"1.2.3\""},
		{"e3", "\"e3\""},
		{".", "\".\""},
		{"+", "\"+\""},
		{"1e", "\"1e\""},
		{"inf", "\"inf\""},
		{"nan", "\"nan\""},
		{"8080/tcp", "\"8080/tcp\""},
		{"\"123\"", "\"123\""},
		{"'true'", "\"true\""},
		{"\"null\"", "\"null\""},
		{"''", "\"\""},
		{"'it''s'", "\"it's\""},
		/* libfyaml 0.7.12 leaks on this one when it unescapes it itself */
		{"''''''''''''", "\"'''''\""},
		{"'  lead and trail  '", "\"  lead and trail  \""},
		{"'one  \n  two\n\n\n  three\t\n  '", "\"one two\\n\\nthree \""},
		{"\"one\n  two\"", "\"one two\""},
		{"\"a\\tb\"", "\"a\\tb\""},
		{"|\n  12\n", "\"12\\n\""},
		{">-\n  a\n  b\n", "\"a b\""},
		{"!!str 12", "\"12\""},
		{"!!int \"12\"", "12"},
		{"!!float 3", "3.0"},
		{"!!float 0x10", "16.0"},
		{"!!bool 'true'", "true"},
		{"!!null ''", "null"},
		{"! 12", "\"12\""},
		{"héllo wörld", "\"héllo wörld\""},
	};

	for (size_t i = 0; i < LLMO_ARRAY_LEN(cases); i++) {
		struct llmo_yaml_stream s;
		struct llmo_buf text;

		llmo_buf_init(&text, 256);
		assert_int_equal(llmo_buf_appendf(&text, "v: %s\n", cases[i].yaml), 0);
		parse_ok(text.data, &s);
		assert_int_equal(s.ndocs, 1);
		assert_json(json_object_get(s.docs[0].root, "v"), cases[i].json);
		llmo_yaml_stream_release(&s);
		llmo_buf_release(&text);
	}
}

static void test_scalar_errors(void **state)
{
	parse_fails("a: 1\nb: .inf\n", LLMO_ERANGE, "t.yaml:2:4: ", "infinity");
	parse_fails("a:\n  - -.Inf\n", LLMO_ERANGE, "t.yaml:2:5: ", NULL);
	parse_fails("a: .NaN\n", LLMO_ERANGE, "t.yaml:1:4: ", NULL);
	parse_fails("a: !!float .inf\n", LLMO_ERANGE, "t.yaml:1:", NULL);
	parse_fails("a: 1\nb: 9223372036854775808\n", LLMO_ERANGE, "t.yaml:2:4: ", "out of range");
	parse_fails("a: -9223372036854775809\n", LLMO_ERANGE, "t.yaml:1:4: ", NULL);
	parse_fails("a: 0x8000000000000000\n", LLMO_ERANGE, "t.yaml:1:4: ", NULL);
	parse_fails("a: 1e999\n", LLMO_ERANGE, "t.yaml:1:4: ", NULL);
	parse_fails("a: !!int x\n", LLMO_EPARSE, "t.yaml:1:", "not an integer");
	parse_fails("a: !!bool yes\n", LLMO_EPARSE, "t.yaml:1:", "not a boolean");
	parse_fails("a: !custom x\n", LLMO_EPARSE, "t.yaml:1:", "unsupported tag !custom");
	parse_fails("a: !!binary aGk=\n", LLMO_EPARSE, "t.yaml:1:", "unsupported tag");
	parse_fails("a: !!set {x}\n", LLMO_EPARSE, "t.yaml:1:", "unsupported tag");
	parse_fails("a: \"x\\0y\"\n", LLMO_EPARSE, "t.yaml:1:", "NUL");
}

/* --- structure --- */

static void test_nested_conversion(void **state)
{
	static const char text[] = "apiVersion: llm.orchestrator.io/v1\n"
				   "kind: LLMWorkload\n"
				   "metadata:\n"
				   "  name: llama\n"
				   "  labels: {tier: gpu, 1: one}\n"
				   "spec:\n"
				   "  replicas: 2\n"
				   "  weights: [0.25, 0.75]\n"
				   "  args:\n"
				   "    - --port\n"
				   "    - \"8000\"\n"
				   "  env:\n"
				   "    - name: A\n"
				   "      value: ~\n"
				   "  empty: {}\n"
				   "  none: []\n";
	struct llmo_yaml_stream s;
	json_t *want;

	want = json_pack("{s:s, s:s, s:{s:s, s:{s:s, s:s}}, s:{s:i, s:[f,f], s:[s,s], s:[{s:s, s:n}], "
			 "s:{}, s:[]}}",
			 "apiVersion", "llm.orchestrator.io/v1", "kind", "LLMWorkload", "metadata",
			 "name", "llama", "labels", "tier", "gpu", "1", "one", "spec", "replicas", 2,
			 "weights", 0.25, 0.75, "args", "--port", "8000", "env", "name", "A", "value",
			 "empty", "none");
	assert_non_null(want);
	parse_ok(text, &s);
	assert_int_equal(s.ndocs, 1);
	assert_string_equal(s.filename, "t.yaml");
	assert_true(json_equal(s.docs[0].root, want));
	json_decref(want);
	llmo_yaml_stream_release(&s);
	assert_null(s.docs);
}

static void test_json_input(void **state)
{
	static const char text[] = "{\n"
				   "  \"kind\": \"LLMModel\",\n"
				   "  \"spec\": {\"size\": 7, \"ratio\": 0.5, \"tags\": [\"a\", null, true]}\n"
				   "}\n";
	struct llmo_yaml_stream s;

	parse_ok(text, &s);
	assert_int_equal(s.ndocs, 1);
	assert_json(s.docs[0].root,
		    "{\"kind\": \"LLMModel\", \"spec\": {\"size\": 7, \"ratio\": 0.5, "
		    "\"tags\": [\"a\", null, true]}}");
	assert_int_equal(llmo_yaml_line(&s.docs[0], "kind"), 2);
	assert_int_equal(llmo_yaml_line(&s.docs[0], "spec.tags[2]"), 3);
	llmo_yaml_stream_release(&s);
}

static void test_multi_document_stream(void **state)
{
	static const char text[] = "# leading comment\n" /* 1 */
				   "---\n"                /* 2 */
				   "kind: A\n"            /* 3 */
				   "---\n"                /* 4 */
				   "# nothing here\n"     /* 5 */
				   "---\n"                /* 6 */
				   "kind: B\n"            /* 7 */
				   "...\n"                /* 8 */
				   "---\n"                /* 9 */
				   "- 1\n"                /* 10 */
				   "---\n";               /* 11 */
	struct llmo_yaml_stream s;

	parse_ok(text, &s);
	assert_int_equal(s.ndocs, 3);
	assert_json(s.docs[0].root, "{\"kind\": \"A\"}");
	assert_json(s.docs[1].root, "{\"kind\": \"B\"}");
	assert_json(s.docs[2].root, "[1]");
	assert_int_equal(s.docs[0].start_line, 2);
	assert_int_equal(s.docs[1].start_line, 6);
	assert_int_equal(s.docs[2].start_line, 9);
	assert_int_equal(llmo_yaml_line(&s.docs[1], "kind"), 7);
	llmo_yaml_stream_release(&s);

	parse_ok("a: 1\n", &s);
	assert_int_equal(s.docs[0].start_line, 1);
	llmo_yaml_stream_release(&s);
}

static void test_empty_streams(void **state)
{
	static const char *const texts[] = {"", "# only\n# comments\n", "\n\n   \n", "---\n",
					    "---\n# c\n...\n---\n"};

	for (size_t i = 0; i < LLMO_ARRAY_LEN(texts); i++) {
		struct llmo_yaml_stream s;

		parse_ok(texts[i], &s);
		assert_int_equal(s.ndocs, 0);
		llmo_yaml_stream_release(&s);
	}
}

static void test_anchors_aliases_and_merge_keys(void **state)
{
	static const char text[] = "defaults: &defaults\n"
				   "  image: vllm\n"
				   "  port: 8000\n"
				   "  resources: &res {gpu: 1}\n"
				   "extra: &extra\n"
				   "  port: 80\n"
				   "  image: other\n"
				   "  debug: true\n"
				   "a:\n"
				   "  <<: *defaults\n"
				   "  port: 9000\n"
				   "b:\n"
				   "  name: b\n"
				   "  <<: [*extra, *defaults]\n"
				   "c:\n"
				   "  <<: {inline: 1}\n"
				   "d: *res\n"
				   "e: [*res, *res]\n"
				   "f: &f 1\n"
				   "g: *f\n"
				   "f2: &f 2\n"
				   "h: *f\n"
				   "\"<<\": quoted\n";
	struct llmo_yaml_stream s;
	json_t *root, *a, *d;

	parse_ok(text, &s);
	root = s.docs[0].root;
	/* keys written in the mapping win over merged ones */
	assert_json(json_object_get(root, "a"),
		    "{\"image\": \"vllm\", \"port\": 9000, \"resources\": {\"gpu\": 1}}");
	/* earlier merge sources win over later ones */
	assert_json(json_object_get(root, "b"),
		    "{\"name\": \"b\", \"port\": 80, \"image\": \"other\", \"debug\": true, "
		    "\"resources\": {\"gpu\": 1}}");
	assert_json(json_object_get(root, "c"), "{\"inline\": 1}");
	assert_json(json_object_get(root, "d"), "{\"gpu\": 1}");
	assert_json(json_object_get(root, "e"), "[{\"gpu\": 1}, {\"gpu\": 1}]");
	/* an alias refers to the latest definition before it */
	assert_json(json_object_get(root, "g"), "1");
	assert_json(json_object_get(root, "h"), "2");
	/* a quoted "<<" is an ordinary key */
	assert_json(json_object_get(root, "<<"), "\"quoted\"");
	/* aliases are copies: changing one place leaves the others */
	a = json_object_get(root, "a");
	d = json_object_get(root, "d");
	assert_ptr_not_equal(json_object_get(a, "resources"), d);
	json_object_set_new(d, "gpu", json_integer(8));
	assert_json(json_object_get(root, "e"), "[{\"gpu\": 1}, {\"gpu\": 1}]");
	assert_json(json_object_get(a, "resources"), "{\"gpu\": 1}");
	llmo_yaml_stream_release(&s);
}

static void test_alias_errors(void **state)
{
	parse_fails("a: 1\nb: *nope\n", LLMO_EPARSE, "t.yaml:2:5: ", "undefined alias *nope");
	parse_fails("a: &x\n  - 1\n  - *x\n", LLMO_EPARSE, "t.yaml:3:", "contains it");
	parse_fails("a: &x {b: 1}\n*x : 2\n", LLMO_EPARSE, "t.yaml:2:", "mapping key");
	parse_fails("a: 1\n<<: 5\n", LLMO_EPARSE, "t.yaml:2:1: ", "merge key");
	parse_fails("x: &x [1]\ny:\n  <<: [*x]\n", LLMO_EPARSE, "t.yaml:3:3: ", "merge key");
}

/* --- keys --- */

static void test_keys_are_strings_as_written(void **state)
{
	struct llmo_yaml_stream s;

	parse_ok("1: a\ntrue: b\nnull: c\n~: d\n0x10: e\n\"q\": f\n", &s);
	assert_json(s.docs[0].root, "{\"1\": \"a\", \"true\": \"b\", \"null\": \"c\", \"~\": \"d\", "
				    "\"0x10\": \"e\", \"q\": \"f\"}");
	llmo_yaml_stream_release(&s);
}

static void test_duplicate_and_complex_keys(void **state)
{
	parse_fails("metadata:\n  name: a\n  name: b\n", LLMO_EPARSE,
		    "t.yaml:3:3: duplicate key \"name\"", NULL);
	parse_fails("{\"a\": 1, \"a\": 2}", LLMO_EPARSE, "t.yaml:1:", "duplicate key \"a\"");
	parse_fails("a: 1\n\"a\": 2\n", LLMO_EPARSE, "t.yaml:2:", "duplicate key \"a\"");
	parse_fails("x:\n  <<: {a: 1}\n  <<: {b: 1}\n", LLMO_EPARSE, "t.yaml:3:3: ",
		    "duplicate key \"<<\"");
	parse_fails("? [a, b]\n: 1\n", LLMO_EPARSE, "t.yaml:1:", "keys must be scalars");
	parse_fails("? {a: 1}\n: 1\n", LLMO_EPARSE, "t.yaml:1:", "keys must be scalars");
}

/* --- lines --- */

static const char manifest[] = "# llama workload\n"                   /* 1 */
			       "apiVersion: llm.orchestrator.io/v1\n" /* 2 */
			       "kind: LLMWorkload\n"                  /* 3 */
			       "metadata:\n"                          /* 4 */
			       "  name: llama\n"                      /* 5 */
			       "  labels:\n"                          /* 6 */
			       "    app.kubernetes.io/name: llama\n"  /* 7 */
			       "spec:\n"                              /* 8 */
			       "  scaling:\n"                         /* 9 */
			       "    minReplicas: 1\n"                 /* 10 */
			       "\n"                                   /* 11 */
			       "    targetMetrics:\n"                 /* 12 */
			       "      - type: qps\n"                  /* 13 */
			       "        target: 100\n"                /* 14 */
			       "      - type: latency\n"              /* 15 */
			       "        target: |\n"                  /* 16 */
			       "          250\n"                      /* 17 */
			       "  args: [--a, --b]\n"                 /* 18 */
			       "  base: &base\n"                      /* 19 */
			       "    image: vllm\n"                    /* 20 */
			       "    gpu: 1\n"                         /* 21 */
			       "  server:\n"                          /* 22 */
			       "    <<: *base\n"                      /* 23 */
			       "    gpu: 2\n"                         /* 24 */
			       "  copy: *base\n";                     /* 25 */

static void test_lines_of_known_paths(void **state)
{
	static const struct {
		const char *path;
		int line;
		int col;
	} cases[] = {
		{"", 2, 1},
		{"apiVersion", 2, 1},
		{"kind", 3, 1},
		{"metadata", 4, 1},
		{"metadata.name", 5, 3},
		{"metadata.labels", 6, 3},
		{"metadata.labels[\"app.kubernetes.io/name\"]", 7, 5},
		{"spec", 8, 1},
		{"spec.scaling", 9, 3},
		{"spec.scaling.minReplicas", 10, 5},
		{"spec.scaling.targetMetrics", 12, 5},
		{"spec.scaling.targetMetrics[0]", 13, 9},
		{"spec.scaling.targetMetrics[0].type", 13, 9},
		{"spec.scaling.targetMetrics[0].target", 14, 9},
		{"spec.scaling.targetMetrics[1].type", 15, 9},
		{"spec.scaling.targetMetrics[1].target", 16, 9},
		{"spec.args", 18, 3},
		{"spec.args[0]", 18, 10},
		{"spec.args[1]", 18, 15},
		{"spec.base.image", 20, 5},
		{"spec.server", 22, 3},
		/* merged: where the value is written, in the anchored mapping */
		{"spec.server.image", 20, 5},
		{"spec.server.gpu", 24, 5},
		/* an alias: the alias's own position, then the anchored children's */
		{"spec.copy", 25, 3},
		{"spec.copy.image", 20, 5},
		{"spec.copy.gpu", 21, 5},
		/* other spellings of the same path */
		{"[\"spec\"].scaling", 9, 3},
		{"metadata[\"labels\"][\"app.kubernetes.io/name\"]", 7, 5},
	};
	struct llmo_yaml_stream s;

	parse_ok(manifest, &s);
	assert_int_equal(s.ndocs, 1);
	for (size_t i = 0; i < LLMO_ARRAY_LEN(cases); i++) {
		int line = llmo_yaml_line(&s.docs[0], cases[i].path);
		int col = llmo_yaml_column(&s.docs[0], cases[i].path);

		if (line != cases[i].line || col != cases[i].col)
			fail_msg("%s: got %d:%d, want %d:%d", cases[i].path, line, col,
				 cases[i].line, cases[i].col);
	}
	assert_json(json_object_get(json_object_get(s.docs[0].root, "spec"), "server"),
		    "{\"image\": \"vllm\", \"gpu\": 2}");
	llmo_yaml_stream_release(&s);
}

static void test_lines_nearest_ancestor(void **state)
{
	struct llmo_yaml_stream s;
	const struct llmo_yaml_doc *d;

	parse_ok(manifest, &s);
	d = &s.docs[0];
	assert_int_equal(llmo_yaml_line(d, "spec.scaling.maxReplicas"), 9);
	assert_int_equal(llmo_yaml_line(d, "spec.scaling.targetMetrics[7].type"), 12);
	assert_int_equal(llmo_yaml_line(d, "spec.scaling.targetMetrics[1].window"), 15);
	assert_int_equal(llmo_yaml_line(d, "metadata.labels.team"), 6);
	assert_int_equal(llmo_yaml_line(d, "status.replicas"), 2);
	assert_int_equal(llmo_yaml_column(d, "spec.scaling.maxReplicas"), 3);
	/* a malformed path is unknown */
	assert_int_equal(llmo_yaml_line(d, "spec..scaling"), 0);
	assert_int_equal(llmo_yaml_line(NULL, "spec"), 0);
	llmo_yaml_stream_release(&s);
}

static void test_lines_in_sequences_of_sequences(void **state)
{
	static const char text[] = "matrix:\n"  /* 1 */
				   "  - - a\n"  /* 2 */
				   "    - b\n"  /* 3 */
				   "  - []\n"   /* 4 */
				   "  - - c\n"; /* 5 */
	struct llmo_yaml_stream s;

	parse_ok(text, &s);
	assert_int_equal(llmo_yaml_line(&s.docs[0], "matrix[0][1]"), 3);
	assert_int_equal(llmo_yaml_line(&s.docs[0], "matrix[1]"), 4);
	assert_int_equal(llmo_yaml_line(&s.docs[0], "matrix[2][0]"), 5);
	assert_int_equal(llmo_yaml_column(&s.docs[0], "matrix[2][0]"), 7);
	llmo_yaml_stream_release(&s);
}

/* --- syntax errors --- */

static void test_syntax_errors_name_the_line(void **state)
{
	/* a key less indented than its siblings */
	parse_fails("a:\n  b: 1\n  c: 2\n d: 3\n", LLMO_EPARSE, "t.yaml:4:", NULL);
	/* a tab for indentation */
	parse_fails("spec:\n\treplicas: 1\n", LLMO_EPARSE, "t.yaml:2:", "tab");
	/* an unclosed quote */
	parse_fails("a: 1\nb: \"open\nc: 2\n", LLMO_EPARSE, "t.yaml:2:", NULL);
	/* an unclosed flow sequence */
	parse_fails("a: [1, 2\n", LLMO_EPARSE, "t.yaml:", NULL);
	/* two mappings on one line */
	parse_fails("a: b: c\n", LLMO_EPARSE, "t.yaml:1:", NULL);
	/* an error in the second document drops the first */
	parse_fails("a: 1\n---\nb: [\n", LLMO_EPARSE, "t.yaml:", NULL);
}

static void test_bad_bytes_are_rejected(void **state)
{
	static const char nul[] = "a: 1\nb: x\0y\n";
	struct llmo_yaml_stream s;
	struct llmo_error err = {0};

	assert_int_equal(llmo_yaml_parse(nul, sizeof(nul) - 1, "n.yaml", &s, &err), LLMO_EPARSE);
	assert_string_equal(err.msg, "n.yaml:2:5: NUL byte in input");
	parse_fails("a: 1\nb: \xff\n", LLMO_EPARSE, "t.yaml:2:4: invalid UTF-8", NULL);
	parse_fails("a: \xc0\xaf\n", LLMO_EPARSE, "t.yaml:1:4: invalid UTF-8", NULL);
	parse_fails("a: \xed\xa0\x80\n", LLMO_EPARSE, "t.yaml:1:4: invalid UTF-8", NULL);
}

/* --- limits --- */

static void test_billion_laughs_is_rejected(void **state)
{
	static const char bomb[] = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
				   "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
				   "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
				   "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
				   "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
				   "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
				   "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n"
				   "h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g, *g]\n"
				   "i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h, *h]\n";

	/*
	 * e holds 111111 nodes (10^5 strings and the sequences above them), so
	 * f's ten copies of it pass a million, on line 6
	 */
	parse_fails(bomb, LLMO_ETOOBIG, "t.yaml:6:", "1000000 nodes");
}

static void test_depth_limit(void **state)
{
	struct llmo_error err = {0};
	struct llmo_yaml_stream s;
	struct llmo_buf text;
	int rc;

	/* written nesting: libfyaml (EPARSE) or llmo (ETOOBIG) stops it, with the line */
	llmo_buf_init(&text, LLMO_BUF_UNLIMITED);
	assert_int_equal(llmo_buf_puts(&text, "a: 1\nb: "), 0);
	for (int i = 0; i < LLMO_YAML_MAX_DEPTH + 5; i++)
		assert_int_equal(llmo_buf_putc(&text, '['), 0);
	for (int i = 0; i < LLMO_YAML_MAX_DEPTH + 5; i++)
		assert_int_equal(llmo_buf_putc(&text, ']'), 0);
	rc = llmo_yaml_parse(text.data, text.len, "t.yaml", &s, &err);
	assert_true(rc == LLMO_ETOOBIG || rc == LLMO_EPARSE);
	assert_true(strncmp(err.msg, "t.yaml:2:", 9) == 0);
	assert_non_null(strstr(err.msg, "64"));
	assert_int_equal(s.ndocs, 0);

	/* 40 levels are fine */
	llmo_buf_reset(&text);
	assert_int_equal(llmo_buf_puts(&text, "b: "), 0);
	for (int i = 0; i < 40; i++)
		assert_int_equal(llmo_buf_putc(&text, '['), 0);
	for (int i = 0; i < 40; i++)
		assert_int_equal(llmo_buf_putc(&text, ']'), 0);
	parse_ok(text.data, &s);
	llmo_yaml_stream_release(&s);

	/* nesting built by aliases: 40 levels, wrapped in 30 more */
	llmo_buf_reset(&text);
	assert_int_equal(llmo_buf_puts(&text, "a: &a "), 0);
	for (int i = 0; i < 40; i++)
		assert_int_equal(llmo_buf_putc(&text, '['), 0);
	for (int i = 0; i < 40; i++)
		assert_int_equal(llmo_buf_putc(&text, ']'), 0);
	assert_int_equal(llmo_buf_puts(&text, "\nb: "), 0);
	for (int i = 0; i < 30; i++)
		assert_int_equal(llmo_buf_putc(&text, '['), 0);
	assert_int_equal(llmo_buf_puts(&text, "*a"), 0);
	for (int i = 0; i < 30; i++)
		assert_int_equal(llmo_buf_putc(&text, ']'), 0);
	parse_fails(text.data, LLMO_ETOOBIG, "t.yaml:2:", "deeper than 64");
	llmo_buf_release(&text);
}

static void test_too_many_anchors(void **state)
{
	struct llmo_buf text;

	llmo_buf_init(&text, LLMO_BUF_UNLIMITED);
	for (int i = 0; i <= LLMO_YAML_MAX_ANCHORS; i++)
		assert_int_equal(llmo_buf_appendf(&text, "- &a%d %d\n", i, i), 0);
	parse_fails(text.data, LLMO_ETOOBIG, "t.yaml:10001:", "anchors");
	llmo_buf_release(&text);
}

/* --- files --- */

static void test_load_file(void **state)
{
	char path[] = "/tmp/llmo-yaml-XXXXXX";
	static const char body[] = "kind: A\n---\nspec:\n  a: 1\n b: 2\n";
	struct llmo_yaml_stream s;
	struct llmo_error err = {0};
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, body, 8), 8);
	close(fd);
	assert_int_equal(llmo_yaml_load_file(path, &s, &err), 0);
	assert_int_equal(s.ndocs, 1);
	assert_string_equal(s.filename, path);
	assert_json(s.docs[0].root, "{\"kind\": \"A\"}");
	llmo_yaml_stream_release(&s);

	/* errors name the file */
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, body, sizeof(body) - 1), (ssize_t)sizeof(body) - 1);
	close(fd);
	assert_int_equal(llmo_yaml_load_file(path, &s, &err), LLMO_EPARSE);
	assert_true(strncmp(err.msg, path, strlen(path)) == 0);
	assert_true(strncmp(err.msg + strlen(path), ":5:", 3) == 0);
	unlink(path);

	assert_int_equal(llmo_yaml_load_file(path, &s, &err), LLMO_ENOTFOUND);
	assert_true(strncmp(err.msg, path, strlen(path)) == 0);
	assert_string_equal(err.msg + strlen(path), ": no such file");
	assert_int_equal(s.ndocs, 0);
}

static void test_input_size_cap(void **state)
{
	struct llmo_yaml_stream s;
	struct llmo_error err = {0};

	/* the length alone is checked, so no buffer of that size is needed */
	assert_int_equal(llmo_yaml_parse("a", LLMO_YAML_FILE_MAX + 1, "big.yaml", &s, &err),
			 LLMO_ETOOBIG);
	assert_non_null(strstr(err.msg, "big.yaml: "));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scalar_typing_table),
		cmocka_unit_test(test_scalar_errors),
		cmocka_unit_test(test_nested_conversion),
		cmocka_unit_test(test_json_input),
		cmocka_unit_test(test_multi_document_stream),
		cmocka_unit_test(test_empty_streams),
		cmocka_unit_test(test_anchors_aliases_and_merge_keys),
		cmocka_unit_test(test_alias_errors),
		cmocka_unit_test(test_keys_are_strings_as_written),
		cmocka_unit_test(test_duplicate_and_complex_keys),
		cmocka_unit_test(test_lines_of_known_paths),
		cmocka_unit_test(test_lines_nearest_ancestor),
		cmocka_unit_test(test_lines_in_sequences_of_sequences),
		cmocka_unit_test(test_syntax_errors_name_the_line),
		cmocka_unit_test(test_bad_bytes_are_rejected),
		cmocka_unit_test(test_billion_laughs_is_rejected),
		cmocka_unit_test(test_depth_limit),
		cmocka_unit_test(test_too_many_anchors),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_input_size_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
