/*
 * The LLMModel reconciler: checks the artifact reference, sets the phase
 * (Available or Failed) with a Ready condition, and lists the workloads of
 * the namespace that use the model (spec.modelName and spec.modelVersion
 * equal to its spec.name and spec.version) in status.usedBy, then hands a
 * valid model to benchmark on register (bench.c).
 */
#include "base/common.h"

#include <ctype.h>

#include "base/json.h"
#include "base/log.h"
#include "base/str.h"
#include "base/vec.h"
#include "controller/controller_int.h"
#include "registry/fetch.h"

#include "base/banned.h"

#define REF_MSG_MAX 512
/* A model Failed for an unknown keyRef is checked again this often (the key may be added). */
#define KEY_RECHECK_MS 10000

static bool is_lower_alnum(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
}

/* One path component of an OCI repository: [a-z0-9]+ ((\.|_|__|-+)[a-z0-9]+)* */
static bool repo_component_ok(const char *s, size_t n)
{
	size_t i = 0;

	if (n == 0 || !is_lower_alnum(s[0]) || !is_lower_alnum(s[n - 1]))
		return false;
	while (i < n) {
		if (is_lower_alnum(s[i])) {
			i++;
			continue;
		}
		if (s[i] == '.' || s[i] == '-' || s[i] == '_') {
			/* separators never touch each other, except "__" and runs of '-' */
			if (s[i] == '.' && !is_lower_alnum(s[i + 1]))
				return false;
			if (s[i] == '_' && !(is_lower_alnum(s[i + 1]) ||
					     (s[i + 1] == '_' && is_lower_alnum(s[i + 2]))))
				return false;
			if (s[i] == '_' && s[i + 1] == '_')
				i++;
			i++;
			continue;
		}
		return false;
	}
	return true;
}

/*
 * Checks an artifact reference: "file:///absolute/path", or an OCI
 * reference [host[:port]/]repo/path[:tag][@sha256:<64 hex>] as the
 * distribution spec and Docker define them. msg gets why not.
 */
int llmo__check_artifact_ref(const char *ref, char *msg, size_t n);

int llmo__check_artifact_ref(const char *ref, char *msg, size_t n)
{
	const char *at, *end, *p, *tag = NULL, *colon, *slash;
	size_t len;

	if (!ref || !*ref) {
		snprintf(msg, n, "spec.artifact.reference is empty");
		return LLMO_EINVAL;
	}
	if (llmo_str_has_prefix(ref, "file://")) {
		if (ref[7] != '/') {
			snprintf(msg, n, "%s: a file:// reference needs an absolute path", ref);
			return LLMO_EINVAL;
		}
		return 0;
	}
	if (strstr(ref, "://")) {
		snprintf(msg, n, "%s: only OCI references and file:// paths are supported", ref);
		return LLMO_EINVAL;
	}
	at = strchr(ref, '@');
	end = at ? at : ref + strlen(ref);
	if (at) {
		const char *d = at + 1;

		if (!llmo_str_has_prefix(d, "sha256:") || strlen(d) != 7 + 64 ||
		    strspn(d + 7, "0123456789abcdef") != 64) {
			snprintf(msg, n, "%s: the digest must be sha256: and 64 lowercase hex digits",
				 ref);
			return LLMO_EINVAL;
		}
	}
	/* the tag is after the last ':' that follows the last '/' */
	slash = NULL;
	for (p = ref; p < end; p++)
		if (*p == '/')
			slash = p;
	colon = NULL;
	for (p = slash ? slash : ref; p < end; p++)
		if (*p == ':')
			colon = p;
	if (colon) {
		tag = colon + 1;
		len = (size_t)(end - tag);
		if (len == 0 || len > 128 || !(isalnum((unsigned char)tag[0]) || tag[0] == '_')) {
			snprintf(msg, n, "%s: the tag must be 1 to 128 of [A-Za-z0-9_.-], not starting with '.' or '-'",
				 ref);
			return LLMO_EINVAL;
		}
		for (size_t i = 0; i < len; i++) {
			if (!isalnum((unsigned char)tag[i]) && tag[i] != '_' && tag[i] != '.' &&
			    tag[i] != '-') {
				snprintf(msg, n, "%s: the tag has a character '%c' not allowed", ref,
					 tag[i]);
				return LLMO_EINVAL;
			}
		}
		end = colon;
	}
	/* the first component is a registry host when it has '.' or ':' or is localhost */
	p = ref;
	len = end > ref ? (size_t)(end - ref) : 0;
	slash = memchr(ref, '/', len);
	if (slash && (memchr(ref, '.', (size_t)(slash - ref)) || memchr(ref, ':', (size_t)(slash - ref)) ||
		      ((size_t)(slash - ref) == 9 && strncmp(ref, "localhost", 9) == 0))) {
		for (const char *h = ref; h < slash; h++) {
			if (!isalnum((unsigned char)*h) && *h != '.' && *h != '-' && *h != ':') {
				snprintf(msg, n, "%s: the registry host has a character '%c' not allowed",
					 ref, *h);
				return LLMO_EINVAL;
			}
		}
		p = slash + 1;
	}
	if (p >= end) {
		snprintf(msg, n, "%s: no repository name", ref);
		return LLMO_EINVAL;
	}
	while (p < end) {
		const char *s2 = memchr(p, '/', (size_t)(end - p));
		size_t clen = (size_t)((s2 ? s2 : end) - p);

		if (!repo_component_ok(p, clen)) {
			snprintf(msg, n,
				 "%s: repository component \"%.*s\" must be lowercase letters and digits separated by '.', '_', '__' or '-'",
				 ref, (int)clen, p);
			return LLMO_EINVAL;
		}
		p += clen + (s2 ? 1 : 0);
		if (s2 && p == end) {
			snprintf(msg, n, "%s: the repository ends with '/'", ref);
			return LLMO_EINVAL;
		}
	}
	return 0;
}

int llmo__model_signature_annotations(const json_t *mspec, json_t *annotations)
{
	const json_t *sig = json_object_get(mspec, "signature");
	const char *key = json_string_value(json_object_get(sig, "keyRef"));

	if (json_is_true(json_object_get(sig, "required")) &&
	    json_object_set_new(annotations, LLMO_ANNOTATION_SIGNATURE_REQUIRED,
				json_string("true")))
		return LLMO_ENOMEM;
	if (key && *key &&
	    json_object_set_new(annotations, LLMO_ANNOTATION_SIGNATURE_KEY, json_string(key)))
		return LLMO_ENOMEM;
	return 0;
}

/*
 * spec.signature.keyRef against the trusted keys the controller was given:
 * when a signature will be checked (signature.required, or
 * modelRegistry.signatureValidation), a keyRef naming none of them fails
 * the model here instead of each replica at its fetch. A stat per
 * reconcile. true when fine or not checkable (no trusted keys given).
 */
static bool key_ref_known(const struct llmo_controller *c, const json_t *spec, char *msg,
			  size_t n)
{
	const json_t *sig = json_object_get(spec, "signature");
	const char *ref = json_string_value(json_object_get(sig, "keyRef"));
	struct llmo_error err = {0};
	char path[PATH_MAX];

	if (!ref || !*ref || !c->trusted_keys ||
	    !(json_is_true(json_object_get(sig, "required")) ||
	      c->config->model_registry.signature_validation))
		return true;
	if (llmo_model_key_find(c->trusted_keys, ref, path, sizeof(path), &err) == 0)
		return true;
	snprintf(msg, n, "spec.signature.keyRef: %s", err.msg);
	return false;
}

struct users {
	const char *name, *version;
	LLMO_VEC(const char *) names;
};

static int collect_user(void *ctx, json_t *w)
{
	struct users *u = ctx;
	const char *mn = llmo_kube_str(w, "spec", "modelName");
	const char *mv = llmo_kube_str(w, "spec", "modelVersion");
	const char **slot;

	if (!mn || !mv || strcmp(mn, u->name) != 0 || strcmp(mv, u->version) != 0)
		return 0;
	slot = llmo_vec_push(&u->names);
	if (!slot)
		return LLMO_ENOMEM;
	*slot = llmo_kube_str(w, "metadata", "name");
	return 0;
}

static int cmp_cstr(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int llmo__model_reconcile(void *ctx, const char *key)
{
	struct llmo_controller *c = ctx;
	struct users u = {.names = LLMO_VEC_INIT};
	struct llmo_error err = {0};
	char ns[LLMO__CTRL_KEY_MAX], msg[REF_MSG_MAX];
	json_t *m, *st = NULL, *conds = NULL, *used = NULL, *old, *v, *patch;
	const char *name, *k, *reason = "InvalidArtifact";
	json_int_t gen;
	bool ok, same = true;
	int rc = 0;

	if (!c->leading)
		return 0;
	if (!llmo__ctrl_synced(c))
		return llmo_workqueue_add_after(c->mq, key, LLMO__CTRL_UNSYNCED_MS);
	name = llmo_kube_key_split(key, ns, sizeof(ns));
	if (!name)
		return 0;
	m = llmo_informer_get(c->models, ns, name);
	if (!m || json_object_get(json_object_get(m, "metadata"), "deletionTimestamp")) {
		llmo__bench_forget(c, key);
		return 0;
	}
	gen = json_integer_value(json_object_get(json_object_get(m, "metadata"), "generation"));
	ok = llmo__check_artifact_ref(
		     llmo_kube_str(json_object_get(m, "spec"), "artifact", "reference"), msg,
		     sizeof(msg)) == 0;
	if (ok && !llmo_kube_str(json_object_get(m, "spec"), "runtime", "image")) {
		ok = false;
		snprintf(msg, sizeof(msg), "spec.runtime.image is not set: nothing to run");
	}
	if (ok && !key_ref_known(c, json_object_get(m, "spec"), msg, sizeof(msg))) {
		ok = false;
		reason = "UnknownSignatureKey";
		rc = llmo_workqueue_add_after(c->mq, key, KEY_RECHECK_MS);
		if (rc)
			goto out;
	}
	if (ok)
		snprintf(msg, sizeof(msg), "%s:%s is available", llmo_kube_str(m, "spec", "name"),
			 llmo_kube_str(m, "spec", "version"));
	u.name = llmo_kube_str(m, "spec", "name");
	u.version = llmo_kube_str(m, "spec", "version");
	if (u.name && u.version)
		rc = llmo_informer_list(c->workloads, ns, collect_user, &u);
	if (rc)
		goto out;
	if (u.names.len > 1)
		qsort(u.names.items, u.names.len, sizeof(u.names.items[0]), cmp_cstr);
	used = json_array();
	conds = json_array();
	if (!used || !conds) {
		rc = LLMO_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < u.names.len; i++)
		json_array_append_new(used, json_string(u.names.items[i]));
	rc = llmo__condition_set(conds, m, "Ready", ok, ok ? "Available" : reason, msg, gen);
	if (rc)
		goto out;
	st = json_pack("{s:s, s:I, s:O, s:O, s:s}", "phase", ok ? "Available" : "Failed",
		       "observedGeneration", gen, "conditions", conds, "usedBy", used, "message",
		       msg);
	if (!st) {
		rc = LLMO_ENOMEM;
		goto out;
	}
	old = json_object_get(m, "status");
	json_object_foreach(st, k, v) {
		if (!llmo_json_equal_value(json_object_get(old, k), v)) {
			same = false;
			break;
		}
	}
	if (same) {
		llmo__bench_model(c, key, m, ok);
		goto out;
	}
	patch = json_pack("{s:O}", "status", st);
	rc = patch ? llmo_kube_patch(c->client, &llmo_kube_llmmodels, ns, name, "status",
				     LLMO_KUBE_PATCH_MERGE, patch, NULL, &err)
		   : LLMO_ENOMEM;
	json_decref(patch);
	if (rc == LLMO_ENOTFOUND)
		rc = 0;
	if (rc)
		llmo_log(LLMO_LOG_WARN, LLMO__CTRL_LOG, "model status write failed",
			 "model=%s error=\"%s\"", key, err.msg);
	else if (!ok && c->rec) {
		json_t *ref = llmo__obj_ref(m, "llm.orchestrator.io/v1", "LLMModel");

		if (ref)
			llmo_kube_event(c->rec, ref, "Warning", reason, "%s", msg);
		json_decref(ref);
	}
	if (!rc)
		llmo__bench_model(c, key, m, ok);
out:
	json_decref(st);
	json_decref(conds);
	json_decref(used);
	llmo_vec_release(&u.names);
	return rc;
}
