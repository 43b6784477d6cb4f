/*
 * Label and field selectors as tables: selector text -> parse result (its
 * canonical text, or the error and part of its message) and selector x
 * label set -> match, worked out by hand from the Kubernetes docs ("Labels
 * and Selectors", "Field Selectors") and k8s.io/apimachinery/pkg/labels.
 * JSON in the tables uses ' for ".
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_json.h"

#include "base/common.h"
#include "apiserver/selector.h"


/* ---- label selector text ------------------------------------------------ */

struct parse_case {
	const char *in;
	int rc;
	const char *out; /* canonical text when rc == 0, else part of the message */
};

static const struct parse_case parse_cases[] = {
	{"", 0, ""},
	{" \t\n", 0, ""},
	{"a=b", 0, "a=b"},
	{"a==b", 0, "a=b"},
	{"a!=b", 0, "a!=b"},
	{"a in (y,x)", 0, "a in (x,y)"},
	{"a in (x,x,y)", 0, "a in (x,y)"},
	{"a notin (z)", 0, "a notin (z)"},
	{"a", 0, "a"},
	{"!a", 0, "!a"},
	{"! a", 0, "!a"},
	{"a=b,c!=d,e in (x,y),f notin (z),g,!h,i==j", 0, "a=b,c!=d,e in (x,y),f notin (z),g,!h,i=j"},
	{"z=1,a=2,m", 0, "a=2,m,z=1"},
	{"b=1,a=2,b!=3", 0, "a=2,b=1,b!=3"}, /* same key: input order kept */
	{"  a = b ,  c in ( x , y )  ", 0, "a=b,c in (x,y)"},
	{"a in(x)", 0, "a in (x)"},
	{"a=", 0, "a="},
	{"a=,b=c", 0, "a=,b=c"},
	{"a in ()", 0, "a in ()"},      /* {""} as in Kubernetes */
	{"a in (x,)", 0, "a in (,x)"},  /* {"", x} */
	{"a in (,x)", 0, "a in (,x)"},
	{"a>5", 0, "a>5"},
	{"a < 10", 0, "a<10"},
	{"app.kubernetes.io/name=web", 0, "app.kubernetes.io/name=web"},
	{"example.com/a_b-c.d=V_1-2.3", 0, "example.com/a_b-c.d=V_1-2.3"},
	{"in in (in,notin)", 0, "in in (in,notin)"},
	{"environment in (production, qa),tier notin (frontend,backend)", 0,
	 "environment in (production,qa),tier notin (backend,frontend)"},
	/* syntax errors, with the offset of what went wrong */
	{"a=b, (", LLMO_EPARSE, "labelSelector: unexpected \"(\" at 5, expected a label key or '!'"},
	{"a=b=c", LLMO_EPARSE, "unexpected \"=\" at 3, expected ',' or end of input"},
	{"a in b", LLMO_EPARSE, "unexpected \"b\" at 5, expected '('"},
	{"a in (b", LLMO_EPARSE, "unexpected end of input at 7, expected ',' or ')'"},
	{"a in (b c)", LLMO_EPARSE, "unexpected \"c\" at 8, expected ',' or ')'"},
	{"a in (=)", LLMO_EPARSE, "unexpected \"=\" at 6, expected a value, ',' or ')'"},
	{"a (b)", LLMO_EPARSE, "unexpected \"(\" at 2, expected an operator"},
	{"a exists", LLMO_EPARSE, "unexpected \"exists\" at 2, expected an operator"},
	{"a=b,", LLMO_EPARSE, "unexpected end of input at 4, expected a label key or '!'"},
	{",a", LLMO_EPARSE, "unexpected \",\" at 0"},
	{"a=b c=d", LLMO_EPARSE, "unexpected \"c\" at 4"},
	{"!a=b", LLMO_EPARSE, "unexpected \"=\" at 2"},
	{"!", LLMO_EPARSE, "unexpected end of input at 1, expected a label key"},
	{"a=(", LLMO_EPARSE, "unexpected \"(\" at 2, expected a value"},
	{"a in (x) y", LLMO_EPARSE, "unexpected \"y\" at 9"},
	/* bad keys and values */
	{"-a=b", LLMO_EINVAL, "labelSelector: key at 0: invalid label key \"-a\": the name part"},
	{"A_/b=c", LLMO_EINVAL, "invalid label key \"A_/b\": the prefix before '/'"},
	{"/b=c", LLMO_EINVAL, "the prefix before '/' must be a DNS subdomain of 1 to 253"},
	{"a/=c", LLMO_EINVAL, "the name part must not be empty"},
	{"a/b/c=d", LLMO_EINVAL, "invalid label key \"a/b/c\""},
	{"a=-b", LLMO_EINVAL, "requirement at 0: invalid label value \"-b\""},
	{"a=\xc3\xa9", LLMO_EINVAL, "invalid label value \"\\xc3\\xa9\""},
	{"a=0123456789012345678901234567890123456789012345678901234567890123", LLMO_EINVAL,
	 "invalid label value"},
	{"a in (x,-y)", LLMO_EINVAL, "invalid label value \"-y\""},
	{"a>x", LLMO_EINVAL, "for '>', '<' operators, the value must be an integer, not \"x\""},
	{"a<", LLMO_EINVAL, "must be an integer"},
};

static void test_parse(void **state)
{
	(void)state;
	for (size_t i = 0; i < LLMO_ARRAY_LEN(parse_cases); i++) {
		const struct parse_case *c = &parse_cases[i];
		struct llmo_selector *s = (void *)1, *again = NULL;
		struct llmo_error err = {0};
		struct llmo_buf b, b2;
		int rc = llmo_selector_parse(c->in, &s, &err);

		if (rc != c->rc)
			fail_msg("%s: rc %s, want %s (%s)", c->in, llmo_errname(rc),
				 llmo_errname(c->rc), err.msg);
		if (rc) {
			assert_null(s);
			assert_int_equal(err.code, rc);
			if (!strstr(err.msg, c->out))
				fail_msg("%s: message \"%s\" lacks \"%s\"", c->in, err.msg, c->out);
			continue;
		}
		llmo_buf_init(&b, LLMO_SELECTOR_MAX * 2);
		llmo_buf_init(&b2, LLMO_SELECTOR_MAX * 2);
		assert_int_equal(llmo_selector_to_string(s, &b), 0);
		assert_string_equal(b.data, c->out);
		assert_int_equal(llmo_selector_empty(s), c->out[0] == '\0');
		/* the canonical text reads back to itself */
		assert_int_equal(llmo_selector_parse(b.data, &again, NULL), 0);
		assert_int_equal(llmo_selector_to_string(again, &b2), 0);
		assert_string_equal(b2.data, b.data);
		llmo_buf_release(&b);
		llmo_buf_release(&b2);
		llmo_selector_free(s);
		llmo_selector_free(again);
	}
}

static void test_parse_limits(void **state)
{
	char text[LLMO_SELECTOR_MAX + 2];
	struct llmo_selector *s;
	struct llmo_error err = {0};
	struct llmo_buf b;

	(void)state;
	/* LLMO_SELECTOR_MAX bytes are fine, one more is not */
	memset(text, 'a', LLMO_SELECTOR_MAX);
	text[LLMO_SELECTOR_MAX] = '\0';
	assert_int_equal(llmo_selector_parse(text, &s, &err), LLMO_EINVAL); /* a key too long */
	text[LLMO_SELECTOR_MAX] = 'a';
	text[LLMO_SELECTOR_MAX + 1] = '\0';
	assert_int_equal(llmo_selector_parse(text, &s, &err), LLMO_ETOOBIG);
	assert_null(s);
	assert_string_equal(err.msg, "labelSelector: longer than 4096 bytes");

	/* LLMO_SELECTOR_REQS_MAX requirements are fine, one more is not */
	llmo_buf_init(&b, LLMO_SELECTOR_MAX);
	for (int i = 0; i < LLMO_SELECTOR_REQS_MAX; i++)
		assert_int_equal(llmo_buf_appendf(&b, "%sk%d", i ? "," : "", i), 0);
	assert_int_equal(llmo_selector_parse(b.data, &s, &err), 0);
	assert_int_equal(s->reqs.len, LLMO_SELECTOR_REQS_MAX);
	llmo_selector_free(s);
	assert_int_equal(llmo_buf_puts(&b, ",x"), 0);
	assert_int_equal(llmo_selector_parse(b.data, &s, &err), LLMO_ETOOBIG);
	assert_string_equal(err.msg, "labelSelector: more than 256 requirements");
	llmo_buf_release(&b);

	/* NULL reads as the empty selector */
	assert_int_equal(llmo_selector_parse(NULL, &s, NULL), 0);
	assert_true(llmo_selector_empty(s));
	llmo_selector_free(s);
}

/* ---- matching ----------------------------------------------------------- */

struct match_case {
	const char *sel;
	const char *labels; /* JSON object, or NULL for no labels */
	bool match;
};

static const struct match_case match_cases[] = {
	{"", NULL, true},
	{"", "{'a':'b'}", true},
	{"a=b", "{'a':'b'}", true},
	{"a=b", "{'a':'c'}", false},
	{"a=b", "{}", false},
	{"a=b", NULL, false},
	{"a=", "{'a':''}", true},
	{"a=", "{}", false},
	{"a!=b", "{}", true},
	{"a!=b", "{'a':'b'}", false},
	{"a!=b", "{'a':'c'}", true},
	{"a in (x,y)", "{'a':'y'}", true},
	{"a in (x,y)", "{'a':'z'}", false},
	{"a in (x,y)", "{}", false},
	{"a notin (x)", "{}", true},
	{"a notin (x)", "{'a':'x'}", false},
	{"a notin (x)", "{'a':'y'}", true},
	{"a", "{'a':''}", true},
	{"a", "{'b':'a'}", false},
	{"!a", "{}", true},
	{"!a", NULL, true},
	{"!a", "{'a':'x'}", false},
	{"a>5", "{'a':'6'}", true},
	{"a>5", "{'a':'5'}", false},
	{"a>5", "{'a':'x'}", false},
	{"a>5", "{}", false},
	{"a<5", "{'a':'-1'}", true},
	{"a<5", "{'a':'5'}", false},
	{"a=b,c=d", "{'a':'b','c':'d','e':'f'}", true},
	{"a=b,c=d", "{'a':'b'}", false},
	{"environment in (production,qa),tier notin (frontend,backend)",
	 "{'environment':'qa','tier':'cache'}", true},
	{"environment in (production,qa),tier notin (frontend,backend)",
	 "{'environment':'qa','tier':'frontend'}", false},
	{"a=1", "{'a':1}", false}, /* a value that is not a string counts as absent */
	{"a!=1", "{'a':1}", true},
};

static void test_matches(void **state)
{
	(void)state;
	for (size_t i = 0; i < LLMO_ARRAY_LEN(match_cases); i++) {
		const struct match_case *c = &match_cases[i];
		json_t *labels = c->labels ? J(c->labels) : NULL;
		struct llmo_selector *s;

		assert_int_equal(llmo_selector_parse(c->sel, &s, NULL), 0);
		if (llmo_selector_matches(s, labels) != c->match)
			fail_msg("\"%s\" on %s: want %s", c->sel, c->labels ? c->labels : "NULL",
				 c->match ? "match" : "no match");
		llmo_selector_free(s);
		json_decref(labels);
	}
}

/* ---- the JSON form ------------------------------------------------------ */

struct json_case {
	const char *in; /* NULL: a NULL pointer */
	int rc;
	const char *out; /* canonical text, or part of the message */
};

static const struct json_case json_cases[] = {
	{"{'matchLabels':{'app':'web'},'matchExpressions':[{'key':'tier','operator':'In',"
	 "'values':['front','back']},{'key':'canary','operator':'DoesNotExist'}]}",
	 0, "app=web,!canary,tier in (back,front)"},
	{"{'matchExpressions':[{'key':'a','operator':'NotIn','values':['x']},"
	 "{'key':'b','operator':'Exists'}]}",
	 0, "a notin (x),b"},
	{"{'matchLabels':{'app.kubernetes.io/name':'x'}}", 0, "app.kubernetes.io/name=x"},
	{"{}", 0, ""},
	{"{'matchLabels':{},'matchExpressions':[]}", 0, ""},
	{"{'matchLabels':null,'matchExpressions':null}", 0, ""},
	{"{'matchExpressions':[{'key':'a','operator':'Foo'}]}", LLMO_EINVAL,
	 "matchExpressions[0].operator: \"Foo\" is not a valid label selector operator"},
	{"{'matchExpressions':[{'key':'a','operator':'In'}]}", LLMO_EINVAL,
	 "matchExpressions[0].values: for 'in', 'notin' operators, values set can't be empty"},
	{"{'matchExpressions':[{'key':'a','operator':'Exists','values':['x']}]}", LLMO_EINVAL,
	 "values set must be empty for exists and does not exist"},
	{"{'matchExpressions':[{'operator':'Exists'}]}", LLMO_EINVAL,
	 "matchExpressions[0].key: expected a string, found missing"},
	{"{'matchExpressions':[{'key':'-a','operator':'Exists'}]}", LLMO_EINVAL,
	 "matchExpressions[0].key: invalid label key \"-a\""},
	{"{'matchExpressions':[{'key':'a','operator':'In','values':[1]}]}", LLMO_EINVAL,
	 "matchExpressions[0].values[0]: expected a string, found integer"},
	{"{'matchExpressions':{}}", LLMO_EINVAL, "matchExpressions: expected an array, found object"},
	{"{'matchLabels':{'a':1}}", LLMO_EINVAL, "matchLabels.a: expected a string, found integer"},
	{"{'matchLabels':{'a':'-x'}}", LLMO_EINVAL, "matchLabels.a: invalid label value \"-x\""},
	{"{'matchLabels':{'a/b/c':'x'}}", LLMO_EINVAL, "matchLabels[\"a/b/c\"]: invalid label key"},
	{"[]", LLMO_EINVAL, "expected a label selector object, found array"},
};

static void test_from_json(void **state)
{
	(void)state;
	for (size_t i = 0; i < LLMO_ARRAY_LEN(json_cases); i++) {
		const struct json_case *c = &json_cases[i];
		json_t *in = J(c->in);
		struct llmo_selector *s;
		struct llmo_error err = {0};
		struct llmo_buf b;
		int rc = llmo_selector_from_json(in, &s, &err);

		if (rc != c->rc)
			fail_msg("%s: rc %s, want %s (%s)", c->in, llmo_errname(rc),
				 llmo_errname(c->rc), err.msg);
		if (rc) {
			assert_null(s);
			if (!strstr(err.msg, c->out))
				fail_msg("%s: message \"%s\" lacks \"%s\"", c->in, err.msg, c->out);
		} else {
			llmo_buf_init(&b, LLMO_SELECTOR_MAX);
			assert_int_equal(llmo_selector_to_string(s, &b), 0);
			assert_string_equal(b.data, c->out);
			llmo_buf_release(&b);
		}
		llmo_selector_free(s);
		json_decref(in);
	}
}

static void test_from_json_nothing_everything(void **state)
{
	json_t *labels = J("{'a':'b'}"), *null = json_null(), *empty = J("{}");
	struct llmo_selector *s;
	struct llmo_buf b;

	(void)state;
	/* nil selector: matches nothing (metav1.LabelSelectorAsSelector) */
	assert_int_equal(llmo_selector_from_json(NULL, &s, NULL), 0);
	assert_false(llmo_selector_matches(s, labels));
	assert_false(llmo_selector_matches(s, NULL));
	assert_false(llmo_selector_empty(s));
	llmo_buf_init(&b, 64);
	assert_int_equal(llmo_selector_to_string(s, &b), 0);
	assert_string_equal(b.data, "");
	llmo_buf_release(&b);
	llmo_selector_free(s);
	assert_int_equal(llmo_selector_from_json(null, &s, NULL), 0);
	assert_false(llmo_selector_matches(s, labels));
	llmo_selector_free(s);
	/* empty selector: matches everything */
	assert_int_equal(llmo_selector_from_json(empty, &s, NULL), 0);
	assert_true(llmo_selector_matches(s, labels));
	assert_true(llmo_selector_matches(s, NULL));
	assert_true(llmo_selector_empty(s));
	llmo_selector_free(s);
	json_decref(labels);
	json_decref(null);
	json_decref(empty);
}

/* ---- field selectors ---------------------------------------------------- */

struct field_case {
	const char *in;
	int rc;
	const char *out; /* canonical text, or part of the message */
};

static const struct field_case field_cases[] = {
	{"", 0, ""},
	{"metadata.name=foo", 0, "metadata.name=foo"},
	{"metadata.name==foo", 0, "metadata.name=foo"},
	{"status.phase!=Running", 0, "status.phase!=Running"},
	{"spec.nodeName=", 0, "spec.nodeName="},
	{"metadata.namespace=b,metadata.name=a", 0, "metadata.name=a,metadata.namespace=b"},
	{"b=1,a!=2,a=3", 0, "a=3,a!=2,b=1"},
	{",,a=b,,", 0, "a=b"},
	{"metadata.name=a\\,b", 0, "metadata.name=a\\,b"},
	{"metadata.name=a\\=b\\\\c", 0, "metadata.name=a\\=b\\\\c"},
	{"foo", LLMO_EPARSE, "fieldSelector: cannot understand \"foo\" at 0"},
	{"a=b,foo", LLMO_EPARSE, "cannot understand \"foo\" at 4"},
	{"=x", LLMO_EPARSE, "fieldSelector: missing field name before = at 0"},
	{"a=b\\x", LLMO_EPARSE, "invalid escape sequence at 3"},
	{"a=b\\", LLMO_EPARSE, "invalid escape sequence at 3"},
	{"a=b=c", LLMO_EPARSE, "unescaped '=' at 3"},
};

static void test_field_parse(void **state)
{
	(void)state;
	for (size_t i = 0; i < LLMO_ARRAY_LEN(field_cases); i++) {
		const struct field_case *c = &field_cases[i];
		struct llmo_field_selector *s, *again;
		struct llmo_error err = {0};
		struct llmo_buf b, b2;
		int rc = llmo_field_selector_parse(c->in, &s, &err);

		if (rc != c->rc)
			fail_msg("%s: rc %s, want %s (%s)", c->in, llmo_errname(rc),
				 llmo_errname(c->rc), err.msg);
		if (rc) {
			assert_null(s);
			if (!strstr(err.msg, c->out))
				fail_msg("%s: message \"%s\" lacks \"%s\"", c->in, err.msg, c->out);
			continue;
		}
		llmo_buf_init(&b, LLMO_SELECTOR_MAX * 2);
		llmo_buf_init(&b2, LLMO_SELECTOR_MAX * 2);
		assert_int_equal(llmo_field_selector_to_string(s, &b), 0);
		assert_string_equal(b.data, c->out);
		assert_int_equal(llmo_field_selector_parse(b.data, &again, NULL), 0);
		assert_int_equal(llmo_field_selector_to_string(again, &b2), 0);
		assert_string_equal(b2.data, b.data);
		assert_int_equal(llmo_field_selector_empty(s), c->out[0] == '\0');
		llmo_buf_release(&b);
		llmo_buf_release(&b2);
		llmo_field_selector_free(s);
		llmo_field_selector_free(again);
	}
}

struct field_match_case {
	const char *sel;
	const char *object;
	bool match;
};

static const struct field_match_case field_match_cases[] = {
	{"", "{}", true},
	{"metadata.name=foo", "{'metadata':{'name':'foo'}}", true},
	{"metadata.name=foo", "{'metadata':{'name':'bar'}}", false},
	{"metadata.name!=foo", "{'metadata':{'name':'bar'}}", true},
	{"metadata.name=a\\,b", "{'metadata':{'name':'a,b'}}", true},
	{"spec.nodeName=", "{'spec':{}}", true},                 /* missing reads as "" */
	{"spec.nodeName=", "{'spec':{'nodeName':null}}", true},
	{"spec.nodeName=", "{'spec':{'nodeName':'n1'}}", false},
	{"spec.nodeName!=", "{'spec':{'nodeName':'n1'}}", true},
	{"spec.nodeName=n1,status.phase!=Failed",
	 "{'spec':{'nodeName':'n1'},'status':{'phase':'Running'}}", true},
	{"spec.nodeName=n1,status.phase!=Failed",
	 "{'spec':{'nodeName':'n1'},'status':{'phase':'Failed'}}", false},
	{"involvedObject.kind=Pod,involvedObject.name=p",
	 "{'involvedObject':{'kind':'Pod','name':'p'}}", true},
	{"spec.unschedulable=false", "{'spec':{'unschedulable':false}}", true},
	{"spec.unschedulable=true", "{'spec':{'unschedulable':false}}", false},
	{"spec.unschedulable=true", "{'spec':{'unschedulable':true}}", true},
	{"count=3", "{'count':3}", true},
	{"ratio=0.5", "{'ratio':0.5}", true},
	{"ratio=2", "{'ratio':2.0}", true},
	{"spec=", "{'spec':{'a':1}}", false}, /* an object equals no value */
	{"spec!=x", "{'spec':{'a':1}}", true},
	{"metadata.name.x=", "{'metadata':{'name':'a'}}", true},
};

static void test_field_matches(void **state)
{
	(void)state;
	for (size_t i = 0; i < LLMO_ARRAY_LEN(field_match_cases); i++) {
		const struct field_match_case *c = &field_match_cases[i];
		json_t *obj = J(c->object);
		struct llmo_field_selector *s;

		assert_int_equal(llmo_field_selector_parse(c->sel, &s, NULL), 0);
		if (llmo_field_selector_matches(s, obj) != c->match)
			fail_msg("\"%s\" on %s: want %s", c->sel, c->object,
				 c->match ? "match" : "no match");
		llmo_field_selector_free(s);
		json_decref(obj);
	}
}

static void test_field_check(void **state)
{
	static const char *const pod_fields[] = {"metadata.name", "metadata.namespace",
						 "spec.nodeName", "status.phase", NULL};
	struct llmo_field_selector *s;
	struct llmo_error err = {0};

	(void)state;
	assert_int_equal(llmo_field_selector_parse("metadata.namespace=ns,spec.nodeName!=", &s,
						   NULL), 0);
	assert_int_equal(llmo_field_selector_check(s, pod_fields, &err), 0);
	assert_string_equal(llmo_field_selector_value(s, "metadata.namespace"), "ns");
	assert_null(llmo_field_selector_value(s, "spec.nodeName")); /* only != */
	assert_null(llmo_field_selector_value(s, "metadata.name"));
	llmo_field_selector_free(s);

	assert_int_equal(llmo_field_selector_parse("metadata.name=a,spec.foo=b", &s, NULL), 0);
	assert_int_equal(llmo_field_selector_check(s, pod_fields, &err), LLMO_EINVAL);
	assert_string_equal(err.msg, "fieldSelector: field label not supported: \"spec.foo\"");
	llmo_field_selector_free(s);

	/* lhs is taken as written: a space makes it another field */
	assert_int_equal(llmo_field_selector_parse("metadata.name =a", &s, NULL), 0);
	assert_int_equal(llmo_field_selector_check(s, pod_fields, &err), LLMO_EINVAL);
	assert_string_equal(err.msg, "fieldSelector: field label not supported: \"metadata.name \"");
	llmo_field_selector_free(s);

	assert_int_equal(llmo_field_selector_parse(NULL, &s, NULL), 0);
	assert_true(llmo_field_selector_empty(s));
	assert_int_equal(llmo_field_selector_check(s, NULL, &err), 0);
	llmo_field_selector_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_parse_limits),
		cmocka_unit_test(test_matches),
		cmocka_unit_test(test_from_json),
		cmocka_unit_test(test_from_json_nothing_everything),
		cmocka_unit_test(test_field_parse),
		cmocka_unit_test(test_field_matches),
		cmocka_unit_test(test_field_check),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
