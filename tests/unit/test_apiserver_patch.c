/*
 * Patches as tables of cases, expected documents written by hand:
 *   - RFC 7386 (JSON merge patch) appendix A, every row, and the section 3 example;
 *   - RFC 6902 (JSON patch) appendix A, every example, the error ones included,
 *     plus the atomicity, bounds and pointer-syntax rules;
 *   - Kubernetes strategic merge patch as the kubectl docs ("Update API Objects
 *     in Place Using kubectl patch") and k8s.io/apimachinery/pkg/util/strategicpatch
 *     describe it.
 * JSON in the tables uses ' for " to stay readable.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_json.h"

#include "base/common.h"
#include "apiserver/patch.h"
#include "base/json.h"


static void assert_json(const json_t *got, const char *want_text, const char *what)
{
	json_t *want = J(want_text);

	if (!json_equal((json_t *)got, want)) {
		char *g = llmo_json_dump(got, false), *w = llmo_json_dump(want, false);

		print_error("%s\n  got:  %s\n  want: %s\n", what, g ? g : "(null)", w ? w : "(null)");
		free(g);
		free(w);
		json_decref(want);
		fail();
	}
	json_decref(want);
}

static void assert_msg(const struct llmo_error *err, const char *msg, const char *what)
{
	if (msg && !strstr(err->msg, msg))
		fail_msg("%s: message \"%s\" lacks \"%s\"", what, err->msg, msg);
}

/* ---- RFC 7386 ----------------------------------------------------------- */

struct merge_case {
	const char *target, *patch, *result;
};

/* RFC 7386 appendix A, row by row. */
static const struct merge_case merge_cases[] = {
	{"{'a':'b'}", "{'a':'c'}", "{'a':'c'}"},
	{"{'a':'b'}", "{'b':'c'}", "{'a':'b','b':'c'}"},
	{"{'a':'b'}", "{'a':null}", "{}"},
	{"{'a':'b','b':'c'}", "{'a':null}", "{'b':'c'}"},
	{"{'a':['b']}", "{'a':'c'}", "{'a':'c'}"},
	{"{'a':'c'}", "{'a':['b']}", "{'a':['b']}"},
	{"{'a':{'b':'c'}}", "{'a':{'b':'d','c':null}}", "{'a':{'b':'d'}}"},
	{"{'a':[{'b':'c'}]}", "{'a':[1]}", "{'a':[1]}"},
	{"['a','b']", "['c','d']", "['c','d']"},
	{"{'a':'b'}", "['c']", "['c']"},
	{"{'a':'foo'}", "null", "null"},
	{"{'a':'foo'}", "'bar'", "'bar'"},
	{"{'e':null}", "{'a':1}", "{'e':null,'a':1}"},
	{"[1,2]", "{'a':'b','c':null}", "{'a':'b'}"},
	{"{}", "{'a':{'bb':{'ccc':null}}}", "{'a':{'bb':{}}}"},
	/* section 3 */
	{"{'title':'Goodbye!','author':{'givenName':'John','familyName':'Doe'},"
	 "'tags':['example','sample'],'content':'This will be unchanged'}",
	 "{'title':'Hello!','phoneNumber':'+01-123-456-7890','author':{'familyName':null},"
	 "'tags':['example']}",
	 "{'title':'Hello!','author':{'givenName':'John'},'tags':['example'],"
	 "'content':'This will be unchanged','phoneNumber':'+01-123-456-7890'}"},
};

static void test_merge_rfc7386(void **state)
{
	(void)state;
	for (size_t i = 0; i < LLMO_ARRAY_LEN(merge_cases); i++) {
		const struct merge_case *c = &merge_cases[i];
		json_t *target = J(c->target), *patch = J(c->patch), *before = J(c->target), *out;
		struct llmo_error err = {0};

		assert_int_equal(llmo_patch_merge(target, patch, &out, &err), 0);
		assert_json(out, c->result, c->patch);
		assert_true(json_equal(target, before)); /* target untouched */
		/* the result shares nothing with the inputs */
		if (json_is_object(out))
			json_object_set_new(out, "zz", json_null());
		assert_true(json_equal(target, before));
		json_decref(out);
		json_decref(target);
		json_decref(patch);
		json_decref(before);
	}
}

static void test_merge_null_target(void **state)
{
	json_t *patch = J("{'a':{'b':null,'c':1}}"), *out;

	(void)state;
	assert_int_equal(llmo_patch_merge(NULL, patch, &out, NULL), 0);
	assert_json(out, "{'a':{'c':1}}", "absent target");
	json_decref(out);
	json_decref(patch);
}

/* ---- RFC 6902 ----------------------------------------------------------- */

struct json_case {
	const char *name;
	const char *target, *ops;
	int rc;
	const char *result; /* when rc == 0 */
	const char *msg;    /* part of the message when rc != 0 */
};

static const struct json_case json_cases[] = {
	{"A.1 add object member", "{'foo':'bar'}", "[{'op':'add','path':'/baz','value':'qux'}]", 0,
	 "{'baz':'qux','foo':'bar'}", NULL},
	{"A.2 add array element", "{'foo':['bar','baz']}",
	 "[{'op':'add','path':'/foo/1','value':'qux'}]", 0, "{'foo':['bar','qux','baz']}", NULL},
	{"A.3 remove object member", "{'baz':'qux','foo':'bar'}", "[{'op':'remove','path':'/baz'}]",
	 0, "{'foo':'bar'}", NULL},
	{"A.4 remove array element", "{'foo':['bar','qux','baz']}",
	 "[{'op':'remove','path':'/foo/1'}]", 0, "{'foo':['bar','baz']}", NULL},
	{"A.5 replace", "{'baz':'qux','foo':'bar'}",
	 "[{'op':'replace','path':'/baz','value':'boo'}]", 0, "{'baz':'boo','foo':'bar'}", NULL},
	{"A.6 move a value", "{'foo':{'bar':'baz','waldo':'fred'},'qux':{'corge':'grault'}}",
	 "[{'op':'move','from':'/foo/waldo','path':'/qux/thud'}]", 0,
	 "{'foo':{'bar':'baz'},'qux':{'corge':'grault','thud':'fred'}}", NULL},
	{"A.7 move an array element", "{'foo':['all','grass','cows','eat']}",
	 "[{'op':'move','from':'/foo/1','path':'/foo/3'}]", 0,
	 "{'foo':['all','cows','eat','grass']}", NULL},
	{"A.8 test success", "{'baz':'qux','foo':['a',2,'c']}",
	 "[{'op':'test','path':'/baz','value':'qux'},{'op':'test','path':'/foo/1','value':2}]", 0,
	 "{'baz':'qux','foo':['a',2,'c']}", NULL},
	{"A.9 test error", "{'baz':'qux'}", "[{'op':'test','path':'/baz','value':'bar'}]",
	 LLMO_EINVAL, NULL, "op 0 (test) at /baz: value differs"},
	{"A.10 add nested member object", "{'foo':'bar'}",
	 "[{'op':'add','path':'/child','value':{'grandchild':{}}}]", 0,
	 "{'foo':'bar','child':{'grandchild':{}}}", NULL},
	{"A.11 unrecognised members ignored", "{'foo':'bar'}",
	 "[{'op':'add','path':'/baz','value':'qux','xyz':123}]", 0, "{'foo':'bar','baz':'qux'}",
	 NULL},
	{"A.12 add to a nonexistent target", "{'foo':'bar'}",
	 "[{'op':'add','path':'/baz/bat','value':'qux'}]", LLMO_EINVAL, NULL,
	 "op 0 (add) at /baz/bat: the parent of the target does not exist"},
	{"A.14 ~ escape ordering", "{'/':9,'~1':10}", "[{'op':'test','path':'/~01','value':10}]", 0,
	 "{'/':9,'~1':10}", NULL},
	{"A.15 strings and numbers differ", "{'/':9,'~1':10}",
	 "[{'op':'test','path':'/~01','value':'10'}]", LLMO_EINVAL, NULL,
	 "op 0 (test) at /~01: value differs"},
	{"A.16 add an array value", "{'foo':['bar']}",
	 "[{'op':'add','path':'/foo/-','value':['abc','def']}]", 0, "{'foo':['bar',['abc','def']]}",
	 NULL},
	/* beyond appendix A */
	{"~1 names a '/'", "{'a/b':1}", "[{'op':'replace','path':'/a~1b','value':2}]", 0,
	 "{'a/b':2}", NULL},
	{"the empty key", "{'':1}", "[{'op':'remove','path':'/'}]", 0, "{}", NULL},
	{"copy", "{'a':{'b':[1,2]}}", "[{'op':'copy','from':'/a','path':'/c'}]", 0,
	 "{'a':{'b':[1,2]},'c':{'b':[1,2]}}", NULL},
	{"copy then change the copy only", "{'a':{'b':1}}",
	 "[{'op':'copy','from':'/a','path':'/c'},{'op':'replace','path':'/c/b','value':2}]", 0,
	 "{'a':{'b':1},'c':{'b':2}}", NULL},
	{"add replaces an existing member", "{'a':1}", "[{'op':'add','path':'/a','value':[2]}]", 0,
	 "{'a':[2]}", NULL},
	{"add at the end index", "{'a':[1]}", "[{'op':'add','path':'/a/1','value':2}]", 0,
	 "{'a':[1,2]}", NULL},
	{"replace the whole document", "{'a':1}", "[{'op':'replace','path':'','value':[1]}]", 0,
	 "[1]", NULL},
	{"add the whole document", "{'a':1}", "[{'op':'add','path':'','value':{'b':2}}]", 0,
	 "{'b':2}", NULL},
	{"move to the same place", "{'a':1}", "[{'op':'move','from':'/a','path':'/a'}]", 0,
	 "{'a':1}", NULL},
	{"test compares numbers by value", "{'a':1}", "[{'op':'test','path':'/a','value':1.0}]", 0,
	 "{'a':1}", NULL},
	{"test compares objects without order", "{'a':{'x':1,'y':[true,null]}}",
	 "[{'op':'test','path':'/a','value':{'y':[true,null],'x':1}}]", 0,
	 "{'a':{'x':1,'y':[true,null]}}", NULL},
	{"test the whole document", "{'a':1}", "[{'op':'test','path':'','value':{'a':1}}]", 0,
	 "{'a':1}", NULL},
	{"no operations", "{'a':1}", "[]", 0, "{'a':1}", NULL},
	/* errors: the patch is atomic, the message names the operation */
	{"later op fails: nothing applied", "{'a':1}",
	 "[{'op':'add','path':'/b','value':2},{'op':'remove','path':'/a'},"
	 "{'op':'test','path':'/spec/x','value':1}]",
	 LLMO_EINVAL, NULL, "op 2 (test) at /spec/x: path does not exist"},
	{"remove a missing member", "{'a':1}", "[{'op':'remove','path':'/b'}]", LLMO_EINVAL, NULL,
	 "op 0 (remove) at /b: path does not exist"},
	{"remove past the end", "{'a':[1]}", "[{'op':'remove','path':'/a/1'}]", LLMO_EINVAL, NULL,
	 "path does not exist"},
	{"remove with '-'", "{'a':[1]}", "[{'op':'remove','path':'/a/-'}]", LLMO_EINVAL, NULL,
	 "path does not exist"},
	{"remove the root", "{'a':1}", "[{'op':'remove','path':''}]", LLMO_EINVAL, NULL,
	 "cannot remove the whole document"},
	{"replace a missing member", "{'a':1}", "[{'op':'replace','path':'/b','value':1}]",
	 LLMO_EINVAL, NULL, "op 0 (replace) at /b: path does not exist"},
	{"add past the end", "{'a':[1]}", "[{'op':'add','path':'/a/2','value':1}]", LLMO_EINVAL,
	 NULL, "index 2 is out of range (the array has 1 items)"},
	{"leading zero index", "{'a':[1,2]}", "[{'op':'add','path':'/a/01','value':1}]",
	 LLMO_EINVAL, NULL, "\"01\" is not an array index"},
	{"add under a scalar", "{'a':1}", "[{'op':'add','path':'/a/b','value':1}]", LLMO_EINVAL,
	 NULL, "the parent of the target is not an object or array"},
	{"move into its own child", "{'a':{'b':1}}", "[{'op':'move','from':'/a','path':'/a/c'}]",
	 LLMO_EINVAL, NULL, "op 0 (move) at /a/c: cannot move a value into one of its own children"},
	{"move from nowhere", "{'a':1}", "[{'op':'move','from':'/x','path':'/y'}]", LLMO_EINVAL,
	 NULL, "\"from\" does not exist"},
	{"copy from nowhere", "{'a':1}", "[{'op':'copy','from':'/x','path':'/y'}]", LLMO_EINVAL,
	 NULL, "op 0 (copy) at /y: \"from\" does not exist"},
	{"not an array", "{'a':1}", "{'op':'add','path':'/a','value':1}", LLMO_EPARSE, NULL,
	 "expected an array of operations, found object"},
	{"op not an object", "{'a':1}", "[1]", LLMO_EPARSE, NULL, "op 0: expected an object"},
	{"missing op", "{'a':1}", "[{'path':'/a'}]", LLMO_EPARSE, NULL, "op 0: \"op\" is missing"},
	{"unknown op", "{'a':1}", "[{'op':'frobnicate','path':'/a'}]", LLMO_EPARSE, NULL,
	 "op 0: unknown operation \"frobnicate\""},
	{"missing path", "{'a':1}", "[{'op':'remove'}]", LLMO_EPARSE, NULL,
	 "op 0 (remove): \"path\" is missing"},
	{"path without /", "{'a':1}", "[{'op':'remove','path':'a'}]", LLMO_EPARSE, NULL,
	 "\"path\" must be empty or start with '/'"},
	{"bad ~ escape", "{'a':1}", "[{'op':'remove','path':'/a~2'}]", LLMO_EPARSE, NULL,
	 "'~' must be followed by '0' or '1'"},
	{"missing value", "{'a':1}", "[{'op':'add','path':'/b'}]", LLMO_EPARSE, NULL,
	 "op 0 (add) at /b: \"value\" is missing"},
	{"null is a value", "{'a':1}", "[{'op':'add','path':'/b','value':null}]", 0,
	 "{'a':1,'b':null}", NULL},
	{"missing from", "{'a':1}", "[{'op':'copy','path':'/b'}]", LLMO_EPARSE, NULL,
	 "\"from\" is missing"},
};

static void test_json_patch(void **state)
{
	(void)state;
	for (size_t i = 0; i < LLMO_ARRAY_LEN(json_cases); i++) {
		const struct json_case *c = &json_cases[i];
		json_t *target = J(c->target), *ops = J(c->ops), *before = J(c->target), *out = NULL;
		struct llmo_error err = {0};
		int rc = llmo_patch_json(target, ops, &out, &err);

		if (rc != c->rc)
			fail_msg("%s: rc %s, want %s (%s)", c->name, llmo_errname(rc),
				 llmo_errname(c->rc), err.msg);
		if (rc == 0) {
			assert_json(out, c->result, c->name);
		} else {
			assert_null(out);
			assert_int_equal(err.code, rc);
			assert_msg(&err, c->msg, c->name);
		}
		assert_true(json_equal(target, before));
		json_decref(out);
		json_decref(target);
		json_decref(ops);
		json_decref(before);
	}
}

/* A.13: a duplicated "op" member makes the patch document invalid JSON for llmo. */
static void test_json_patch_a13(void **state)
{
	const char *text = "[{\"op\":\"add\",\"path\":\"/baz\",\"value\":\"qux\",\"op\":\"remove\"}]";
	struct llmo_error err = {0};
	json_t *ops = NULL;

	(void)state;
	assert_int_equal(llmo_json_load(text, strlen(text), "patch", &ops, &err), LLMO_EPARSE);
	assert_null(ops);
}

static void test_json_patch_bounds(void **state)
{
	struct llmo_error err = {0};
	json_t *target = J("{'a':[1]}"), *ops = json_array(), *out;

	(void)state;
	/* LLMO_PATCH_OPS_MAX tests pass; one more operation is refused before any runs */
	for (int i = 0; i < LLMO_PATCH_OPS_MAX; i++)
		json_array_append_new(ops, J("{'op':'test','path':'/a/0','value':1}"));
	assert_int_equal(llmo_patch_json(target, ops, &out, &err), 0);
	json_decref(out);
	json_array_append_new(ops, J("{'op':'test','path':'/a/0','value':1}"));
	assert_int_equal(llmo_patch_json(target, ops, &out, &err), LLMO_ETOOBIG);
	assert_null(out);
	assert_msg(&err, "10001 operations, more than the limit of 10000", "ops cap");
	json_decref(ops);

	/* each copy of the root doubles it: the copy budget stops it early */
	ops = json_array();
	for (int i = 0; i < 40; i++)
		json_array_append_new(ops, J("{'op':'copy','from':'/a','path':'/a/-'}"));
	assert_int_equal(llmo_patch_json(target, ops, &out, &err), LLMO_ETOOBIG);
	assert_null(out);
	assert_msg(&err, "(copy) at /a/-: copies would duplicate more than", "copy cap");
	json_decref(ops);

	/* so is the nesting of the result */
	ops = json_array();
	json_array_append_new(ops, J("{'op':'add','path':'/d','value':{}}"));
	{
		char path[LLMO_PATCH_DEPTH_MAX * 2 + 8] = "/d";
		size_t len = 2;
		json_t *op;

		for (int i = 0; i < LLMO_PATCH_DEPTH_MAX; i++) {
			path[len++] = '/';
			path[len++] = 'x';
		}
		path[len] = '\0';
		op = json_pack("{s:s, s:s, s:{}}", "op", "add", "path", path, "value");
		json_array_append_new(ops, op);
	}
	assert_int_equal(llmo_patch_json(target, ops, &out, &err), LLMO_ETOOBIG);
	assert_null(out);
	assert_msg(&err, "op 1 (add) at ", "depth cap");
	assert_msg(&err, "the result would nest deeper than 2048 levels", "depth cap");
	json_decref(ops);
	json_decref(target);
}

/* ---- strategic merge patch ---------------------------------------------- */

struct smp_case {
	const char *name;
	const char *kind; /* core group; NULL: no schema */
	const char *target, *patch;
	int rc;
	const char *result;
	const char *msg;
};

static const struct smp_case smp_cases[] = {
	/* kubectl docs: a new container is merged in by name, the patch's items first */
	{"containers merged by name", "Pod",
	 "{'spec':{'containers':[{'name':'patch-demo-ctr','image':'nginx'}]}}",
	 "{'spec':{'containers':[{'name':'patch-demo-ctr-2','image':'redis'}]}}", 0,
	 "{'spec':{'containers':[{'name':'patch-demo-ctr-2','image':'redis'},"
	 "{'name':'patch-demo-ctr','image':'nginx'}]}}", NULL},
	{"a container's fields merge, others stay in place", "Pod",
	 "{'spec':{'containers':[{'name':'a','image':'x','args':['1']},{'name':'b','image':'y'}]}}",
	 "{'spec':{'containers':[{'name':'b','image':'z'}]}}", 0,
	 "{'spec':{'containers':[{'name':'a','image':'x','args':['1']},{'name':'b','image':'z'}]}}",
	 NULL},
	{"env merged by name", "Pod",
	 "{'spec':{'containers':[{'name':'app','env':[{'name':'A','value':'1'},"
	 "{'name':'B','value':'2'}]}]}}",
	 "{'spec':{'containers':[{'name':'app','env':[{'name':'B','value':'3'},"
	 "{'name':'C','value':'4'}]}]}}",
	 0,
	 "{'spec':{'containers':[{'name':'app','env':[{'name':'A','value':'1'},"
	 "{'name':'B','value':'3'},{'name':'C','value':'4'}]}]}}",
	 NULL},
	{"a null inside a merged item deletes", "Pod",
	 "{'spec':{'containers':[{'name':'app','image':'x','command':['sh']}]}}",
	 "{'spec':{'containers':[{'name':'app','command':null}]}}", 0,
	 "{'spec':{'containers':[{'name':'app','image':'x'}]}}", NULL},
	{"$patch delete of a container", "Pod",
	 "{'spec':{'containers':[{'name':'app','image':'a'},{'name':'sidecar','image':'s'}]}}",
	 "{'spec':{'containers':[{'name':'sidecar','$patch':'delete'}]}}", 0,
	 "{'spec':{'containers':[{'name':'app','image':'a'}]}}", NULL},
	{"$patch replace of a list", "Pod",
	 "{'spec':{'containers':[{'name':'a','image':'x'},{'name':'b','image':'y'}]}}",
	 "{'spec':{'containers':[{'name':'c','image':'z'},{'$patch':'replace'}]}}", 0,
	 "{'spec':{'containers':[{'name':'c','image':'z'}]}}", NULL},
	{"$patch replace of a map", "Pod", "{'metadata':{'labels':{'a':'1','b':'2'}},'spec':{}}",
	 "{'metadata':{'labels':{'$patch':'replace','c':'3'}}}", 0,
	 "{'metadata':{'labels':{'c':'3'}},'spec':{}}", NULL},
	{"$patch delete of a map", "Pod", "{'metadata':{'labels':{'a':'1'},'name':'p'}}",
	 "{'metadata':{'labels':{'$patch':'delete'}}}", 0,
	 "{'metadata':{'labels':{},'name':'p'}}", NULL},
	/* primitive set: the new item comes first, as Kubernetes orders it without $setElementOrder */
	{"finalizers merge as a set", "Pod", "{'metadata':{'finalizers':['a','b']}}",
	 "{'metadata':{'finalizers':['c','a']}}", 0, "{'metadata':{'finalizers':['c','a','b']}}",
	 NULL},
	{"finalizers with $setElementOrder", "Pod", "{'metadata':{'finalizers':['a','b']}}",
	 "{'metadata':{'$setElementOrder/finalizers':['a','b','c'],'finalizers':['c']}}", 0,
	 "{'metadata':{'finalizers':['a','b','c']}}", NULL},
	{"$deleteFromPrimitiveList", "Pod", "{'metadata':{'finalizers':['a','b','c']}}",
	 "{'metadata':{'$deleteFromPrimitiveList/finalizers':['b','x']}}", 0,
	 "{'metadata':{'finalizers':['a','c']}}", NULL},
	{"kubectl's add and delete together", "Pod", "{'metadata':{'finalizers':['a','b']}}",
	 "{'metadata':{'$setElementOrder/finalizers':['a','c'],"
	 "'$deleteFromPrimitiveList/finalizers':['b'],'finalizers':['c']}}",
	 0, "{'metadata':{'finalizers':['a','c']}}", NULL},
	{"conditions merged by type", "Pod",
	 "{'status':{'conditions':[{'type':'Ready','status':'False'},"
	 "{'type':'PodScheduled','status':'True'}]}}",
	 "{'status':{'conditions':[{'type':'Ready','status':'True'}]}}", 0,
	 "{'status':{'conditions':[{'type':'Ready','status':'True'},"
	 "{'type':'PodScheduled','status':'True'}]}}",
	 NULL},
	{"service ports merged by number", "Service",
	 "{'spec':{'ports':[{'port':80,'name':'http'},{'port':443,'name':'https'}]}}",
	 "{'spec':{'ports':[{'port':443,'targetPort':8443}]}}", 0,
	 "{'spec':{'ports':[{'port':80,'name':'http'},{'port':443,'name':'https',"
	 "'targetPort':8443}]}}",
	 NULL},
	{"tolerations are replaced", "Pod", "{'spec':{'tolerations':[{'key':'a','operator':'Exists'}]}}",
	 "{'spec':{'tolerations':[{'key':'b','operator':'Exists'}]}}", 0,
	 "{'spec':{'tolerations':[{'key':'b','operator':'Exists'}]}}", NULL},
	{"an unknown list is replaced", "Pod", "{'spec':{'containers':[],'foo':[1,2,3]}}",
	 "{'spec':{'foo':[3,4]}}", 0, "{'spec':{'containers':[],'foo':[3,4]}}", NULL},
	{"without a schema containers are replaced", NULL,
	 "{'spec':{'containers':[{'name':'a'},{'name':'b'}]}}",
	 "{'spec':{'containers':[{'name':'b','image':'x'}]}}", 0,
	 "{'spec':{'containers':[{'name':'b','image':'x'}]}}", NULL},
	{"$setElementOrder orders containers", "Pod",
	 "{'spec':{'containers':[{'name':'a'},{'name':'b'},{'name':'c'}]}}",
	 "{'spec':{'$setElementOrder/containers':[{'name':'c'},{'name':'a'},{'name':'b'}],"
	 "'containers':[{'name':'a','image':'new'}]}}",
	 0, "{'spec':{'containers':[{'name':'c'},{'name':'a','image':'new'},{'name':'b'}]}}", NULL},
	{"$retainKeys (kubectl docs, Deployment strategy)", "Pod",
	 "{'spec':{'strategy':{'type':'RollingUpdate','rollingUpdate':{'maxSurge':'30%'}}}}",
	 "{'spec':{'strategy':{'$retainKeys':['type'],'type':'Recreate'}}}", 0,
	 "{'spec':{'strategy':{'type':'Recreate'}}}", NULL},
	{"a new subtree loses its nulls and directives", "Pod", "{'metadata':{}}",
	 "{'spec':{'containers':[{'name':'a','env':[{'name':'X','$patch':'delete'}],'image':null}]}}",
	 0, "{'metadata':{},'spec':{'containers':[{'name':'a','env':[]}]}}", NULL},
	{"null deletes a field", "Pod", "{'spec':{'nodeName':'n1','restartPolicy':'Always'}}",
	 "{'spec':{'nodeName':null}}", 0, "{'spec':{'restartPolicy':'Always'}}", NULL},
	{"ownerReferences merged by uid", "ConfigMap",
	 "{'metadata':{'ownerReferences':[{'uid':'1','kind':'A'}]}}",
	 "{'metadata':{'ownerReferences':[{'uid':'2','kind':'B'}]}}", 0,
	 "{'metadata':{'ownerReferences':[{'uid':'2','kind':'B'},{'uid':'1','kind':'A'}]}}", NULL},
	/* errors */
	{"an item without its merge key", "Pod", "{'spec':{'containers':[{'name':'a'}]}}",
	 "{'spec':{'containers':[{'image':'x'}]}}", LLMO_EINVAL, NULL,
	 "strategic merge patch at spec.containers[]: item 0 has no merge key \"name\""},
	{"delete without the merge key", "Pod", "{'spec':{'containers':[{'name':'a'}]}}",
	 "{'spec':{'containers':[{'$patch':'delete'}]}}", LLMO_EINVAL, NULL,
	 "needs the merge key \"name\""},
	{"an unknown map directive", "Pod", "{'spec':{}}", "{'spec':{'$patch':'explode'}}",
	 LLMO_EPARSE, NULL, "unsupported \"$patch\" directive \"explode\" in a map"},
	{"$patch in a replaced list", "Pod", "{'spec':{}}",
	 "{'spec':{'tolerations':[{'key':'a','$patch':'delete'}]}}", LLMO_EPARSE, NULL,
	 "at spec.tolerations: item 0 holds \"$patch\""},
	{"$setElementOrder that contradicts the list", "Pod",
	 "{'spec':{'containers':[{'name':'a'},{'name':'b'}]}}",
	 "{'spec':{'$setElementOrder/containers':[{'name':'a'},{'name':'b'}],"
	 "'containers':[{'name':'b'},{'name':'a'}]}}",
	 LLMO_EPARSE, NULL, "not in \"$setElementOrder\" or not in its order"},
	{"$retainKeys that omits a patched key", "Pod", "{'spec':{'strategy':{}}}",
	 "{'spec':{'strategy':{'$retainKeys':['type'],'rollingUpdate':{}}}}", LLMO_EPARSE, NULL,
	 "\"$retainKeys\" does not list \"rollingUpdate\""},
	{"a non-object patch", "Pod", "{}", "[1]", LLMO_EPARSE, NULL, "expected a JSON object"},
};

static void test_strategic(void **state)
{
	(void)state;
	for (size_t i = 0; i < LLMO_ARRAY_LEN(smp_cases); i++) {
		const struct smp_case *c = &smp_cases[i];
		const struct llmo_smp_schema *schema = c->kind ? llmo_smp_schema_for("", c->kind) : NULL;
		json_t *target = J(c->target), *patch = J(c->patch), *before = J(c->target), *out;
		struct llmo_error err = {0};
		int rc;

		if (c->kind)
			assert_non_null(schema);
		rc = llmo_patch_strategic(target, patch, schema, &out, &err);
		if (rc != c->rc)
			fail_msg("%s: rc %s, want %s (%s)", c->name, llmo_errname(rc),
				 llmo_errname(c->rc), err.msg);
		if (rc == 0) {
			assert_json(out, c->result, c->name);
		} else {
			assert_null(out);
			assert_msg(&err, c->msg, c->name);
		}
		assert_true(json_equal(target, before));
		json_decref(out);
		json_decref(target);
		json_decref(patch);
		json_decref(before);
	}
}

static void test_schema_lookup(void **state)
{
	(void)state;
	assert_non_null(llmo_smp_schema_for("", "Pod"));
	assert_non_null(llmo_smp_schema_for(NULL, "Service"));
	assert_non_null(llmo_smp_schema_for("", "Node"));
	assert_non_null(llmo_smp_schema_for("", "ConfigMap"));
	assert_non_null(llmo_smp_schema_for("", "Secret"));
	assert_non_null(llmo_smp_schema_for("", "Namespace"));
	assert_non_null(llmo_smp_schema_for("", "Endpoints"));
	assert_non_null(llmo_smp_schema_for("", "Event"));
	assert_non_null(llmo_smp_schema_for("events.k8s.io", "Event"));
	assert_non_null(llmo_smp_schema_for("coordination.k8s.io", "Lease"));
	assert_null(llmo_smp_schema_for("", "Lease"));
	assert_null(llmo_smp_schema_for("llm.orchestrator.io", "LLMWorkload"));
	assert_null(llmo_smp_schema_for("", NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_merge_rfc7386),
		cmocka_unit_test(test_merge_null_target),
		cmocka_unit_test(test_json_patch),
		cmocka_unit_test(test_json_patch_a13),
		cmocka_unit_test(test_json_patch_bounds),
		cmocka_unit_test(test_strategic),
		cmocka_unit_test(test_schema_lookup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
