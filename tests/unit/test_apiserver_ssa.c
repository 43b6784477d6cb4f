/*
 * Server-side apply and managedFields, expected values written by hand from
 * the Kubernetes documentation ("Server-Side Apply": field management,
 * conflicts, merge strategy, FieldsV1 format) and from how kube-apiserver
 * answers (conflict messages, Update entries of a created custom resource).
 * JSON in the tests uses ' for ".
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_json.h"

#include "base/common.h"
#include "apiserver/ssa.h"
#include "apiserver/patch.h"
#include "base/json.h"

#define TEXT_MAX 8192
#define V1 "llm.orchestrator.io/v1"
#define T0 "2024-05-01T10:00:00Z"
#define T1 "2024-05-01T11:00:00Z"
#define T2 "2024-05-01T12:00:00Z"
#define T3 "2024-05-01T13:00:00Z"

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

static void assert_same(const json_t *got, const json_t *want, const char *what)
{
	char *w = llmo_json_dump(want, false);

	assert_non_null(w);
	for (char *p = w; *p; p++)
		assert_true(*p != '\''); /* assert_json reads ' as " */
	assert_json(got, w, what);
	free(w);
}

/* A small LLMWorkload-like schema: keyed, set and atomic lists, a map. */
static const char *schema_text =
	"{'type':'object','properties':{"
	" 'apiVersion':{'type':'string'},'kind':{'type':'string'},'metadata':{'type':'object'},"
	" 'spec':{'type':'object','properties':{"
	"  'replicas':{'type':'integer'},"
	"  'scaling':{'type':'object','properties':{"
	"   'minReplicas':{'type':'integer'},'maxReplicas':{'type':'integer'}}},"
	"  'containers':{'type':'array','x-kubernetes-list-type':'map',"
	"   'x-kubernetes-list-map-keys':['name'],"
	"   'items':{'type':'object','properties':{"
	"    'name':{'type':'string'},'image':{'type':'string'},"
	"    'ports':{'type':'array','x-kubernetes-list-type':'map',"
	"     'x-kubernetes-list-map-keys':['containerPort','protocol'],"
	"     'items':{'type':'object'}}}}},"
	"  'args':{'type':'array','items':{'type':'string'}},"
	"  'tags':{'type':'array','x-kubernetes-list-type':'set','items':{'type':'string'}},"
	"  'env':{'type':'object','additionalProperties':{'type':'string'}},"
	"  'resources':{'type':'object','additionalProperties':{'type':'object'}},"
	"  'selector':{'type':'object','x-kubernetes-map-type':'atomic'}}}}}";

static json_t *schema;

static int setup(void **state)
{
	schema = J(schema_text);
	return 0;
}

static int teardown(void **state)
{
	json_decref(schema);
	return 0;
}

/* The applied configuration most tests start from. */
static const char *base_config =
	"{'apiVersion':'" V1 "','kind':'LLMWorkload',"
	" 'metadata':{'name':'w','namespace':'default','labels':{'app':'llm'}},"
	" 'spec':{'replicas':2,'scaling':{'minReplicas':1,'maxReplicas':10},"
	"  'containers':[{'name':'vllm','image':'vllm:1'}],'tags':['a'],'args':['--x']}}";

static const char *base_fields =
	"{'f:metadata':{'f:labels':{'f:app':{}}},"
	" 'f:spec':{'f:replicas':{},'f:scaling':{'f:minReplicas':{},'f:maxReplicas':{}},"
	"  'f:containers':{'k:{\\'name\\':\\'vllm\\'}':{'.':{},'f:name':{},'f:image':{}}},"
	"  'f:tags':{'v:\\'a\\'':{}},'f:args':{}}}";

static json_t *apply_ok(const json_t *live, const char *config, const char *manager, bool force,
			const char *now)
{
	json_t *cfg = J(config), *out = NULL;
	struct llmo_errlist conflicts;
	struct llmo_error err = {0};
	int rc;

	llmo_errlist_init(&conflicts);
	rc = llmo_ssa_apply(live, cfg, manager, force, schema, V1, now, &out, &conflicts, &err);
	if (rc)
		fail_msg("apply by %s: %s (%s)", manager, llmo_errname(rc), err.msg);
	assert_non_null(out);
	assert_int_equal(llmo_errlist_count(&conflicts), 0);
	llmo_errlist_release(&conflicts);
	json_decref(cfg);
	return out;
}

/* updated (text) written over old by manager; returns the object with its managedFields. */
static json_t *update_ok(const json_t *old, const char *updated, const char *manager,
			 const char *now)
{
	json_t *obj = J(updated);
	struct llmo_error err = {0};
	int rc = llmo_ssa_update(old, obj, manager, schema, V1, now, &err);

	if (rc)
		fail_msg("update by %s: %s (%s)", manager, llmo_errname(rc), err.msg);
	return obj;
}

/* A copy of obj with the member at path (in obj's metadata-less parts) set from text. */
static json_t *with(const json_t *obj, const char *parent, const char *key, const char *text)
{
	json_t *copy = json_deep_copy(obj);
	json_t *p = llmo_json_get_path(copy, parent);

	assert_non_null(p);
	if (text)
		json_object_set_new(p, key, J(text));
	else
		json_object_del(p, key);
	return copy;
}

static const json_t *entry(const json_t *obj, const char *manager, const char *op)
{
	const json_t *mf = llmo_json_get_path(obj, "metadata.managedFields"), *e;
	size_t i;

	json_array_foreach(mf, i, e) {
		if (strcmp(json_string_value(json_object_get(e, "manager")), manager) == 0 &&
		    strcmp(json_string_value(json_object_get(e, "operation")), op) == 0)
			return e;
	}
	return NULL;
}

static void assert_fields(const json_t *obj, const char *manager, const char *op,
			  const char *want)
{
	const json_t *e = entry(obj, manager, op);

	if (!e)
		fail_msg("no %s entry for %s", op, manager);
	assert_json(json_object_get(e, "fieldsV1"), want, manager);
}

static size_t entries(const json_t *obj)
{
	return json_array_size(llmo_json_get_path(obj, "metadata.managedFields"));
}

/* The object without its managedFields. */
static json_t *bare(const json_t *obj)
{
	json_t *copy = json_deep_copy(obj);

	json_object_del(json_object_get(copy, "metadata"), "managedFields");
	return copy;
}

static void assert_bare(const json_t *obj, const char *want, const char *what)
{
	json_t *b = bare(obj);

	assert_json(b, want, what);
	json_decref(b);
}

/* ---- FieldsV1 encoding -------------------------------------------------- */

/* The docs' ConfigMap example: f: for map members, {} for leaves. */
static void test_fields_configmap_doc(void **state)
{
	json_t *cm = J("{'apiVersion':'v1','kind':'ConfigMap',"
		       " 'metadata':{'name':'test-cm','namespace':'default',"
		       "  'labels':{'test-label':'test'}},"
		       " 'data':{'key':'some value'}}");
	json_t *f = NULL;

	assert_int_equal(llmo_ssa_fields_of(cm, NULL, &f, NULL), 0);
	assert_json(f, "{'f:metadata':{'f:labels':{'f:test-label':{}}},'f:data':{'f:key':{}}}",
		    "configmap");
	json_decref(f);
	json_decref(cm);
}

/* k: items with '.', v: set members, atomic lists and maps as leaves, map entries owned. */
static void test_fields_lists_and_maps(void **state)
{
	json_t *obj = J("{'apiVersion':'" V1 "','kind':'LLMWorkload',"
			" 'metadata':{'name':'w','uid':'u1','resourceVersion':'5',"
			"  'finalizers':['x.io/f'],'ownerReferences':[{'uid':'o1','name':'p'}]},"
			" 'spec':{'containers':[{'name':'nginx','image':'nginx:1',"
			"   'ports':[{'containerPort':80,'protocol':'TCP'}]}],"
			"  'tags':['b',3],'args':['a','a'],"
			"  'env':{'A':'1'},'resources':{'gpu':{'count':1}},"
			"  'selector':{'app':'x'},'scaling':{},'replicas':null}}");
	json_t *f = NULL;

	assert_int_equal(llmo_ssa_fields_of(obj, schema, &f, NULL), 0);
	assert_json(f,
		    "{'f:metadata':{'f:finalizers':{'v:\\'x.io/f\\'':{}},"
		    "  'f:ownerReferences':{'k:{\\'uid\\':\\'o1\\'}':{'.':{},'f:uid':{},'f:name':{}}}},"
		    " 'f:spec':{"
		    "  'f:containers':{'k:{\\'name\\':\\'nginx\\'}':{'.':{},'f:name':{},'f:image':{},"
		    "   'f:ports':{'k:{\\'containerPort\\':80,\\'protocol\\':\\'TCP\\'}':"
		    "    {'.':{},'f:containerPort':{},'f:protocol':{}}}}},"
		    "  'f:tags':{'v:\\'b\\'':{},'v:3':{}},'f:args':{},"
		    "  'f:env':{'f:A':{}},'f:resources':{'f:gpu':{'.':{},'f:count':{}}},"
		    "  'f:selector':{},'f:scaling':{},'f:replicas':{}}}",
		    "lists and maps");
	json_decref(f);
	json_decref(obj);
}

/* ---- apply -------------------------------------------------------------- */

static void test_apply_create(void **state)
{
	json_t *out = apply_ok(NULL, base_config, "ci", false, T0);
	char want[TEXT_MAX];

	snprintf(want, sizeof(want),
		 "[{'manager':'ci','operation':'Apply','apiVersion':'" V1 "','time':'" T0 "',"
		 "  'fieldsType':'FieldsV1','fieldsV1':%s}]",
		 base_fields);
	assert_json(llmo_json_get_path(out, "metadata.managedFields"), want, "managedFields");
	assert_bare(out, base_config, "created object");
	json_decref(out);
}

static void test_apply_same_again(void **state)
{
	json_t *one = apply_ok(NULL, base_config, "ci", false, T0);
	json_t *two = apply_ok(one, base_config, "ci", false, T1);

	/* nothing changed: not even the entry's time */
	assert_same(two, one, "re-apply");
	json_decref(one);
	json_decref(two);
}

static void test_apply_removes_dropped_field(void **state)
{
	json_t *one = apply_ok(NULL, base_config, "ci", false, T0);
	json_t *two = apply_ok(one,
			       "{'apiVersion':'" V1 "','kind':'LLMWorkload',"
			       " 'metadata':{'name':'w','namespace':'default','labels':{'app':'llm'}},"
			       " 'spec':{'replicas':2,'scaling':{'minReplicas':1},"
			       "  'containers':[{'name':'vllm','image':'vllm:1'}],'tags':['a']}}",
			       "ci", false, T1);

	assert_bare(two,
		    "{'apiVersion':'" V1 "','kind':'LLMWorkload',"
		    " 'metadata':{'name':'w','namespace':'default','labels':{'app':'llm'}},"
		    " 'spec':{'replicas':2,'scaling':{'minReplicas':1},"
		    "  'containers':[{'name':'vllm','image':'vllm:1'}],'tags':['a']}}",
		    "maxReplicas and args removed");
	assert_fields(two, "ci", "Apply",
		      "{'f:metadata':{'f:labels':{'f:app':{}}},"
		      " 'f:spec':{'f:replicas':{},'f:scaling':{'f:minReplicas':{}},"
		      "  'f:containers':{'k:{\\'name\\':\\'vllm\\'}':{'.':{},'f:name':{},'f:image':{}}},"
		      "  'f:tags':{'v:\\'a\\'':{}}}}");
	assert_string_equal(json_string_value(json_object_get(entry(two, "ci", "Apply"), "time")),
			    T1);
	json_decref(one);
	json_decref(two);
}

/* kubectl edit changes maxReplicas: an Update entry takes it from the applier. */
static json_t *edited(const json_t *applied, int max)
{
	char text[32];
	json_t *obj;
	struct llmo_error err = {0};

	snprintf(text, sizeof(text), "%d", max);
	/* the edited copy carries the managedFields back, as kubectl edit sends them */
	obj = with(applied, "spec.scaling", "maxReplicas", text);
	assert_int_equal(llmo_ssa_update(applied, obj, "kubectl-edit", schema, V1, T1, &err), 0);
	return obj;
}

static void test_update_takes_field(void **state)
{
	json_t *one = apply_ok(NULL, base_config, "ci", false, T0);
	json_t *two = edited(one, 20);

	assert_fields(two, "kubectl-edit", "Update", "{'f:spec':{'f:scaling':{'f:maxReplicas':{}}}}");
	assert_fields(two, "ci", "Apply",
		      "{'f:metadata':{'f:labels':{'f:app':{}}},"
		      " 'f:spec':{'f:replicas':{},'f:scaling':{'f:minReplicas':{}},"
		      "  'f:containers':{'k:{\\'name\\':\\'vllm\\'}':{'.':{},'f:name':{},'f:image':{}}},"
		      "  'f:tags':{'v:\\'a\\'':{}},'f:args':{}}}");
	/* Apply entries first, as kube-apiserver sorts them */
	assert_string_equal(
		json_string_value(llmo_json_get_path(two, "metadata.managedFields[0].operation")),
		"Apply");
	assert_json(entry(two, "kubectl-edit", "Update"),
		    "{'manager':'kubectl-edit','operation':'Update','apiVersion':'" V1 "',"
		    " 'time':'" T1 "','fieldsType':'FieldsV1',"
		    " 'fieldsV1':{'f:spec':{'f:scaling':{'f:maxReplicas':{}}}}}",
		    "update entry");
	json_decref(one);
	json_decref(two);
}

static void test_apply_conflict_then_force(void **state)
{
	json_t *one = apply_ok(NULL, base_config, "ci", false, T0);
	json_t *two = edited(one, 20);
	json_t *cfg = J(base_config), *out = (json_t *)1, *three;
	struct llmo_errlist conflicts;
	struct llmo_error err = {0};

	/* ci applies maxReplicas 10 again: kubectl-edit owns it with 20 */
	llmo_errlist_init(&conflicts);
	assert_int_equal(llmo_ssa_apply(two, cfg, "ci", false, schema, V1, T2, &out, &conflicts,
					&err),
			 LLMO_ECONFLICT);
	assert_null(out);
	assert_int_equal(llmo_errlist_count(&conflicts), 1);
	assert_string_equal(conflicts.v.items[0].path, ".spec.scaling.maxReplicas");
	assert_string_equal(conflicts.v.items[0].msg,
			    "conflict with \"kubectl-edit\" using " V1);
	assert_string_equal(err.msg, "Apply failed with 1 conflict: conflict with \"kubectl-edit\" "
				     "using " V1 ": .spec.scaling.maxReplicas");
	llmo_errlist_release(&conflicts);

	/* with force ci takes it; kubectl-edit owns nothing more and its entry goes */
	three = apply_ok(two, base_config, "ci", true, T2);
	assert_int_equal(json_integer_value(llmo_json_get_path(three, "spec.scaling.maxReplicas")),
			 10);
	assert_null(entry(three, "kubectl-edit", "Update"));
	assert_int_equal(entries(three), 1);
	assert_fields(three, "ci", "Apply", base_fields);
	json_decref(cfg);
	json_decref(one);
	json_decref(two);
	json_decref(three);
}

static void test_apply_shared_ownership(void **state)
{
	json_t *one = apply_ok(NULL, base_config, "ci", false, T0);
	json_t *two = edited(one, 20);
	json_t *three, *four;

	/* the same value is no conflict: both own it */
	three = apply_ok(two,
			 "{'apiVersion':'" V1 "','kind':'LLMWorkload','metadata':{'name':'w'},"
			 " 'spec':{'scaling':{'maxReplicas':20}}}",
			 "autoscaler", false, T2);
	assert_fields(three, "autoscaler", "Apply", "{'f:spec':{'f:scaling':{'f:maxReplicas':{}}}}");
	assert_fields(three, "kubectl-edit", "Update",
		      "{'f:spec':{'f:scaling':{'f:maxReplicas':{}}}}");
	/* autoscaler lets go: kubectl-edit still owns it, so it stays */
	four = apply_ok(three,
			"{'apiVersion':'" V1 "','kind':'LLMWorkload','metadata':{'name':'w'},"
			" 'spec':{'replicas':2}}",
			"autoscaler", false, T3);
	assert_int_equal(json_integer_value(llmo_json_get_path(four, "spec.scaling.maxReplicas")),
			 20);
	assert_fields(four, "autoscaler", "Apply", "{'f:spec':{'f:replicas':{}}}");
	assert_fields(four, "kubectl-edit", "Update", "{'f:spec':{'f:scaling':{'f:maxReplicas':{}}}}");
	json_decref(one);
	json_decref(two);
	json_decref(three);
	json_decref(four);
}

static void test_apply_conflict_between_appliers(void **state)
{
	json_t *one = apply_ok(NULL, base_config, "ci", false, T0);
	json_t *cfg = J("{'apiVersion':'" V1 "','kind':'LLMWorkload','metadata':{'name':'w'},"
			" 'spec':{'replicas':3,'scaling':{'minReplicas':2}}}");
	json_t *out = NULL;
	struct llmo_errlist conflicts;
	struct llmo_error err = {0};

	llmo_errlist_init(&conflicts);
	assert_int_equal(llmo_ssa_apply(one, cfg, "other", false, schema, V1, T1, &out, &conflicts,
					&err),
			 LLMO_ECONFLICT);
	assert_int_equal(llmo_errlist_count(&conflicts), 2);
	assert_string_equal(conflicts.v.items[0].path, ".spec.replicas");
	assert_string_equal(conflicts.v.items[0].msg, "conflict with \"ci\"");
	assert_string_equal(conflicts.v.items[1].path, ".spec.scaling.minReplicas");
	assert_string_equal(err.msg, "Apply failed with 2 conflicts: conflicts with \"ci\":\n"
				     "- .spec.replicas\n- .spec.scaling.minReplicas");
	llmo_errlist_release(&conflicts);
	json_decref(cfg);
	json_decref(one);
}

/* ---- associative, set and atomic lists ---------------------------------- */

static const char *two_containers =
	"{'apiVersion':'" V1 "','kind':'LLMWorkload','metadata':{'name':'w'},"
	" 'spec':{'containers':[{'name':'a','image':'a:1'},{'name':'b','image':'b:1'}]}}";

static void test_lmap_merge_by_key(void **state)
{
	json_t *one = apply_ok(NULL, two_containers, "ci", false, T0);
	json_t *two, *three, *four;

	/* an injector adds a sidecar with an ordinary write */
	two = json_deep_copy(one);
	json_array_append_new(json_object_get(json_object_get(two, "spec"), "containers"),
			      J("{'name':'sidecar','image':'s:1'}"));
	assert_int_equal(llmo_ssa_update(one, two, "injector", schema, V1, T1, NULL), 0);
	assert_fields(two, "injector", "Update",
		      "{'f:spec':{'f:containers':{'k:{\\'name\\':\\'sidecar\\'}':"
		      "{'.':{},'f:name':{},'f:image':{}}}}}");

	/* ci changes a's image and drops b: b goes, the sidecar stays */
	three = apply_ok(two,
			 "{'apiVersion':'" V1 "','kind':'LLMWorkload','metadata':{'name':'w'},"
			 " 'spec':{'containers':[{'name':'a','image':'a:2'}]}}",
			 "ci", false, T2);
	assert_json(llmo_json_get_path(three, "spec.containers"),
		    "[{'name':'a','image':'a:2'},{'name':'sidecar','image':'s:1'}]", "merged by key");
	assert_fields(three, "ci", "Apply",
		      "{'f:spec':{'f:containers':{'k:{\\'name\\':\\'a\\'}':"
		      "{'.':{},'f:name':{},'f:image':{}}}}}");

	/* new items come where the config has them, the others keep their place */
	four = apply_ok(three,
			"{'apiVersion':'" V1 "','kind':'LLMWorkload','metadata':{'name':'w'},"
			" 'spec':{'containers':[{'name':'a','image':'a:2'},{'name':'c','image':'c:1'}]}}",
			"ci", false, T3);
	assert_json(llmo_json_get_path(four, "spec.containers"),
		    "[{'name':'a','image':'a:2'},{'name':'sidecar','image':'s:1'},"
		    " {'name':'c','image':'c:1'}]",
		    "appended");
	json_decref(one);
	json_decref(two);
	json_decref(three);
	json_decref(four);
}

static void test_lmap_conflict_path(void **state)
{
	json_t *one = apply_ok(NULL, two_containers, "ci", false, T0);
	json_t *cfg = J("{'apiVersion':'" V1 "','kind':'LLMWorkload','metadata':{'name':'w'},"
			" 'spec':{'containers':[{'name':'b','image':'b:9'}]}}");
	json_t *out = NULL;
	struct llmo_errlist conflicts;

	llmo_errlist_init(&conflicts);
	assert_int_equal(llmo_ssa_apply(one, cfg, "other", false, schema, V1, T1, &out, &conflicts,
					NULL),
			 LLMO_ECONFLICT);
	assert_int_equal(llmo_errlist_count(&conflicts), 1);
	assert_string_equal(conflicts.v.items[0].path, ".spec.containers[name=\"b\"].image");
	llmo_errlist_release(&conflicts);
	json_decref(cfg);
	json_decref(one);
}

static void test_set_union_and_atomic_replace(void **state)
{
	json_t *one = apply_ok(NULL,
			       "{'apiVersion':'" V1 "','kind':'LLMWorkload','metadata':{'name':'w'},"
			       " 'spec':{'tags':['a'],'args':['--x','--y']}}",
			       "ci", false, T0);
	json_t *two = with(one, "spec", "tags", "['a','b']");
	json_t *three;

	assert_int_equal(llmo_ssa_update(one, two, "kubectl-edit", schema, V1, T1, NULL), 0);
	assert_fields(two, "kubectl-edit", "Update", "{'f:spec':{'f:tags':{'v:\\'b\\'':{}}}}");
	three = apply_ok(two,
			 "{'apiVersion':'" V1 "','kind':'LLMWorkload','metadata':{'name':'w'},"
			 " 'spec':{'tags':['a','c'],'args':['--z']}}",
			 "ci", false, T2);
	assert_json(llmo_json_get_path(three, "spec"), "{'tags':['a','b','c'],'args':['--z']}",
		    "set unioned, atomic list replaced");
	assert_fields(three, "ci", "Apply",
		      "{'f:spec':{'f:tags':{'v:\\'a\\'':{},'v:\\'c\\'':{}},'f:args':{}}}");
	json_decref(one);
	json_decref(two);
	json_decref(three);
}

static void test_atomic_list_conflicts_whole(void **state)
{
	json_t *one = apply_ok(NULL,
			       "{'apiVersion':'" V1 "','kind':'LLMWorkload','metadata':{'name':'w'},"
			       " 'spec':{'args':['--x']}}",
			       "ci", false, T0);
	json_t *cfg = J("{'apiVersion':'" V1 "','kind':'LLMWorkload','metadata':{'name':'w'},"
			" 'spec':{'args':['--x','--y']}}");
	json_t *out = NULL;
	struct llmo_errlist conflicts;

	llmo_errlist_init(&conflicts);
	assert_int_equal(llmo_ssa_apply(one, cfg, "other", false, schema, V1, T1, &out, &conflicts,
					NULL),
			 LLMO_ECONFLICT);
	assert_string_equal(conflicts.v.items[0].path, ".spec.args");
	llmo_errlist_release(&conflicts);
	json_decref(cfg);
	json_decref(one);
}

/* ---- update ------------------------------------------------------------- */

/* A custom resource created with kubectl create: added maps are owned with '.'. */
static void test_update_create(void **state)
{
	json_t *obj = update_ok(NULL,
				"{'apiVersion':'" V1 "','kind':'LLMWorkload',"
				" 'metadata':{'name':'w','namespace':'default','labels':{'app':'llm'},"
				"  'managedFields':[{'manager':'liar','operation':'Apply',"
				"   'fieldsType':'FieldsV1','fieldsV1':{'f:spec':{}}}]},"
				" 'spec':{'replicas':1,'scaling':{'minReplicas':1}}}",
				"kubectl-create", T0);

	assert_json(llmo_json_get_path(obj, "metadata.managedFields"),
		    "[{'manager':'kubectl-create','operation':'Update','apiVersion':'" V1 "',"
		    "  'time':'" T0 "','fieldsType':'FieldsV1','fieldsV1':"
		    "  {'f:metadata':{'f:labels':{'.':{},'f:app':{}}},"
		    "   'f:spec':{'.':{},'f:replicas':{},'f:scaling':{'.':{},'f:minReplicas':{}}}}}]",
		    "created by update");
	json_decref(obj);
}

/*
 * A create (no stored object) takes a path of its own; it must give the
 * entry the general path gives against a stored object that holds only
 * what no one owns (apiVersion, kind, name, namespace).
 */
static void test_update_create_matches_general_path(void **state)
{
	static const char *const objs[] = {
		"{'apiVersion':'" V1 "','kind':'LLMWorkload',"
		" 'metadata':{'name':'w','namespace':'default','labels':{'app':'llm','t':'x'},"
		"  'annotations':{},'uid':'u','resourceVersion':'5','generation':1},"
		" 'spec':{'replicas':2,'scaling':{'minReplicas':1,'maxReplicas':10},"
		"  'containers':[{'name':'a','image':'i','ports':[{'containerPort':80,'protocol':'TCP'},"
		"   {'containerPort':81,'protocol':'UDP'}]},{'name':'b'}],"
		"  'tags':['x','y'],'args':['--a','--b'],'env':{'K':'v'},'resources':{'r':{'q':1}},"
		"  'selector':{'m':{'n':1}},'unknown':{'deep':[1,{'z':null}]},'nothing':null,"
		"  'empty':{}},"
		" 'status':{'phase':'Ready'}}",
		/* lists that cannot be keyed are owned whole */
		"{'apiVersion':'" V1 "','kind':'LLMWorkload','metadata':{'name':'w','namespace':'default'},"
		" 'spec':{'containers':[{'image':'no name'}],'tags':['x','x']}}",
		/* nothing anyone may own */
		"{'apiVersion':'" V1 "','kind':'LLMWorkload','metadata':{'name':'w','namespace':'default',"
		" 'uid':'u','managedFields':[{'manager':'m'}]}}",
	};

	for (size_t i = 0; i < sizeof(objs) / sizeof(objs[0]); i++) {
		json_t *created = J(objs[i]), *general = J(objs[i]);
		json_t *stub = json_pack("{s:s, s:s, s:{s:s, s:s}}", "apiVersion", V1, "kind",
					 "LLMWorkload", "metadata", "name", "w", "namespace",
					 "default");

		assert_int_equal(llmo_ssa_update(NULL, created, "m", schema, V1, T0, NULL), 0);
		assert_int_equal(llmo_ssa_update(stub, general, "m", schema, V1, T0, NULL), 0);
		assert_same(llmo_json_get_path(created, "metadata"),
			    llmo_json_get_path(general, "metadata"), objs[i]);
		json_decref(stub);
		json_decref(created);
		json_decref(general);
	}
}

static void test_update_removal_leaves_every_set(void **state)
{
	json_t *one = apply_ok(NULL, base_config, "ci", false, T0);
	json_t *two = with(one, "spec", "tags", NULL), *three;

	assert_int_equal(llmo_ssa_update(one, two, "kubectl-edit", schema, V1, T1, NULL), 0);
	/* removing changes nothing kubectl-edit owns: it gets no entry */
	assert_null(entry(two, "kubectl-edit", "Update"));
	assert_fields(two, "ci", "Apply",
		      "{'f:metadata':{'f:labels':{'f:app':{}}},"
		      " 'f:spec':{'f:replicas':{},'f:scaling':{'f:minReplicas':{},'f:maxReplicas':{}},"
		      "  'f:containers':{'k:{\\'name\\':\\'vllm\\'}':{'.':{},'f:name':{},'f:image':{}}},"
		      "  'f:args':{}}}");
	/* an update that changes nothing keeps managedFields as they are */
	three = json_deep_copy(two);
	assert_int_equal(llmo_ssa_update(two, three, "kubectl-edit", schema, V1, T2, NULL), 0);
	assert_same(three, two, "no-op update");
	json_decref(one);
	json_decref(two);
	json_decref(three);
}

static void test_update_merges_own_entry_and_caps(void **state)
{
	json_t *cur = apply_ok(NULL,
			       "{'apiVersion':'" V1 "','kind':'LLMWorkload','metadata':{'name':'w'},"
			       " 'spec':{'env':{}}}",
			       "ci", false, T0);
	char key[16], now[32], mgr[16];

	/* eleven managers each add one env var, a minute apart */
	for (int i = 0; i <= 10; i++) {
		json_t *next;

		snprintf(key, sizeof(key), "K%d", i);
		snprintf(now, sizeof(now), "2024-05-02T10:%02d:00Z", i);
		snprintf(mgr, sizeof(mgr), "m%d", i);
		next = with(cur, "spec.env", key, "'v'");
		assert_int_equal(llmo_ssa_update(cur, next, mgr, schema, V1, now, NULL), 0);
		json_decref(cur);
		cur = next;
	}
	/* 1 Apply + 10 Update entries: m0 and m1 became "ancient-changes" */
	assert_int_equal(entries(cur), 11);
	assert_null(entry(cur, "m0", "Update"));
	assert_null(entry(cur, "m1", "Update"));
	assert_json(entry(cur, LLMO_SSA_ANCIENT_MANAGER, "Update"),
		    "{'manager':'ancient-changes','operation':'Update','apiVersion':'" V1 "',"
		    " 'time':'2024-05-02T10:01:00Z','fieldsType':'FieldsV1',"
		    " 'fieldsV1':{'f:spec':{'f:env':{'f:K0':{},'f:K1':{}}}}}",
		    "bucket");
	assert_fields(cur, "m10", "Update", "{'f:spec':{'f:env':{'f:K10':{}}}}");

	/* the same manager again: its entry grows, it is not duplicated */
	{
		json_t *next = with(cur, "spec.env", "K99", "'w'");

		assert_int_equal(llmo_ssa_update(cur, next, "m10", schema, V1, T3, NULL), 0);
		assert_fields(next, "m10", "Update", "{'f:spec':{'f:env':{'f:K10':{},'f:K99':{}}}}");
		assert_int_equal(entries(next), 11);
		json_decref(next);
	}
	json_decref(cur);
}

/* Built-in kinds get their keyed lists from the strategic merge patch tables. */
static void test_pod_schema_from_smp(void **state)
{
	json_t *pod = NULL, *live, *cfg, *out = NULL, *sub;

	assert_int_equal(llmo_ssa_schema_from_smp(llmo_smp_schema_for("", "Pod"), &pod, NULL), 0);
	sub = (json_t *)llmo_json_get_path(pod, "properties.spec.properties.containers");
	assert_non_null(sub);
	assert_string_equal(json_string_value(json_object_get(sub, "x-kubernetes-list-type")),
			    "map");
	assert_json(json_object_get(sub, "x-kubernetes-list-map-keys"), "['name']", "keys");
	sub = (json_t *)llmo_json_get_path(
		pod, "properties.spec.properties.containers.items.properties.env");
	assert_json(json_object_get(sub, "x-kubernetes-list-map-keys"), "['name']", "env keys");

	live = J("{'apiVersion':'v1','kind':'Pod','metadata':{'name':'p'},"
		 " 'spec':{'containers':[{'name':'main','image':'m:1'}]}}");
	cfg = J("{'apiVersion':'v1','kind':'Pod','metadata':{'name':'p'},"
		" 'spec':{'containers':[{'name':'side','image':'s:1'}]}}");
	assert_int_equal(llmo_ssa_apply(live, cfg, "ci", false, pod, "v1", T0, &out, NULL, NULL), 0);
	assert_json(llmo_json_get_path(out, "spec.containers"),
		    "[{'name':'main','image':'m:1'},{'name':'side','image':'s:1'}]",
		    "pod containers merged by name");
	json_decref(out);
	json_decref(cfg);
	json_decref(live);
	json_decref(pod);
}

/* ---- bad input ---------------------------------------------------------- */

static void expect_apply_error(const char *live, const char *config, const char *manager,
			       int code, const char *msg)
{
	json_t *l = live ? J(live) : NULL, *cfg = J(config), *out = (json_t *)1;
	struct llmo_error err = {0};

	assert_int_equal(llmo_ssa_apply(l, cfg, manager, false, schema, V1, T0, &out, NULL, &err),
			 code);
	assert_null(out);
	if (!strstr(err.msg, msg))
		fail_msg("message \"%s\" lacks \"%s\"", err.msg, msg);
	json_decref(l);
	json_decref(cfg);
}

static void test_apply_bad_input(void **state)
{
	char longname[LLMO_SSA_MANAGER_MAX + 2];

	memset(longname, 'm', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	expect_apply_error(NULL, base_config, "", LLMO_EINVAL, "fieldManager: Required value");
	expect_apply_error(NULL, base_config, longname, LLMO_EINVAL, "may not be more than 128");
	expect_apply_error(NULL, "[1]", "ci", LLMO_EINVAL, "must be an object");
	expect_apply_error(NULL, "{'metadata':{'managedFields':[]}}", "ci", LLMO_EINVAL,
			   "metadata.managedFields must be nil");
	expect_apply_error(NULL,
			   "{'spec':{'containers':[{'name':'a'},{'name':'a','image':'x'}]}}",
			   "ci", LLMO_EINVAL,
			   ".spec.containers: duplicate entries for key [name=\"a\"]");
	expect_apply_error(NULL, "{'spec':{'containers':[{'image':'x'}]}}", "ci", LLMO_EINVAL,
			   ".spec.containers[0]: associative list with keys has an element that "
			   "omits key field \"name\"");
	expect_apply_error(NULL, "{'spec':{'tags':[{'a':1}]}}", "ci", LLMO_EINVAL,
			   ".spec.tags[0]: a set may only hold scalars");
	expect_apply_error("{'metadata':5}", base_config, "ci", LLMO_EINVAL,
			   "metadata must be an object");
}

/* managedFields that do not decode are reset; server fields keep live's values. */
static void test_apply_resets_bad_managed_fields(void **state)
{
	json_t *live = J("{'apiVersion':'" V1 "','kind':'LLMWorkload',"
			 " 'metadata':{'name':'w','uid':'u1','resourceVersion':'7',"
			 "  'managedFields':[{'manager':'x','operation':'Bogus'}]},"
			 " 'spec':{'replicas':1}}");
	json_t *out = apply_ok(live,
			       "{'apiVersion':'" V1 "','kind':'LLMWorkload',"
			       " 'metadata':{'name':'w','uid':'forged','resourceVersion':'1'},"
			       " 'spec':{'replicas':4}}",
			       "ci", false, T0);

	assert_int_equal(entries(out), 1);
	assert_fields(out, "ci", "Apply", "{'f:spec':{'f:replicas':{}}}");
	assert_string_equal(json_string_value(llmo_json_get_path(out, "metadata.uid")), "u1");
	assert_string_equal(json_string_value(llmo_json_get_path(out, "metadata.resourceVersion")),
			    "7");
	json_decref(live);
	json_decref(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fields_configmap_doc),
		cmocka_unit_test(test_fields_lists_and_maps),
		cmocka_unit_test(test_apply_create),
		cmocka_unit_test(test_apply_same_again),
		cmocka_unit_test(test_apply_removes_dropped_field),
		cmocka_unit_test(test_update_takes_field),
		cmocka_unit_test(test_apply_conflict_then_force),
		cmocka_unit_test(test_apply_shared_ownership),
		cmocka_unit_test(test_apply_conflict_between_appliers),
		cmocka_unit_test(test_lmap_merge_by_key),
		cmocka_unit_test(test_lmap_conflict_path),
		cmocka_unit_test(test_set_union_and_atomic_replace),
		cmocka_unit_test(test_atomic_list_conflicts_whole),
		cmocka_unit_test(test_update_create),
		cmocka_unit_test(test_update_create_matches_general_path),
		cmocka_unit_test(test_update_removal_leaves_every_set),
		cmocka_unit_test(test_update_merges_own_entry_and_caps),
		cmocka_unit_test(test_pod_schema_from_smp),
		cmocka_unit_test(test_apply_bad_input),
		cmocka_unit_test(test_apply_resets_bad_managed_fields),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
