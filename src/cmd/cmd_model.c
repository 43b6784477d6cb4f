/*
 * llmo model: models as OCI artifacts in a registry (src/registry/client.h):
 * push, pull, list, inspect, delete, and Ed25519 signatures (keygen, sign,
 * verify) stored as referrers. docs/registry.md describes the artifact.
 */
#include "base/common.h"

#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/config.h"
#include "base/clock.h"
#include "base/file.h"
#include "base/json.h"
#include "base/str.h"
#include "cmd/cmd.h"
#include "kube/client.h"
#include "kube/kubeconfig.h"
#include "registry/client.h"
#include "registry/fetch.h"
#include "registry/manifest.h"
#include "registry/registry.h"
#include "registry/route.h"
#include "registry/sign.h"

#include "base/banned.h"

#define SUB "model"
#define MODEL_ARTIFACT_TYPE LLMO_MODEL_ARTIFACT_TYPE
#define MODEL_CONFIG_TYPE "application/vnd.llmo.model.config.v1+json"
#define MODEL_FILE_TYPE "application/vnd.llmo.model.file.v1"
#define TITLE "org.opencontainers.image.title"
#define DEFAULT_REGISTRY "http://127.0.0.1:5000"
/* Files in one model, and directory depth walked. */
#define MODEL_FILES_MAX 10000
#define MODEL_DEPTH_MAX 32

static const char usage[] =
	"usage: llmo model push PATH --name NAME --version V [--type T] [--framework F]\n"
	"                       [--parameters P] [--quantization Q] [--context-length N]\n"
	"                       [--no-latest] [--model MODEL] [--image IMAGE]\n"
	"                       [--local-command JSON]\n"
	"       llmo model tag NAME:V ALIAS\n"
	"       llmo model pull NAME:V|NAME@DIGEST [--output DIR] [--config FILE]\n"
	"                       [--require-signature] [--trusted-keys PATH] [--key-ref NAME]\n"
	"       llmo model list [NAME]\n"
	"       llmo model inspect NAME:V|NAME@DIGEST\n"
	"       llmo model delete NAME:V|NAME@DIGEST\n"
	"       llmo model keygen --key PREFIX\n"
	"       llmo model sign NAME:V|NAME@DIGEST --key PREFIX.key\n"
	"       llmo model verify NAME:V|NAME@DIGEST --pub PREFIX.pub\n"
	"  registry flags (every subcommand but keygen):\n"
	"       [--registry URL] [--token TOKEN | --token-file FILE]\n"
	"       [--creds USER:PASSWORD | --creds-file FILE] [--cacert FILE] [--insecure]\n"
	"  API flags (push, delete): [--kubeconfig FILE] [-n|--namespace NS] [--no-api]\n"
	"\n"
	"A model is an OCI artifact (artifactType " MODEL_ARTIFACT_TYPE "): a config with\n"
	"its metadata and one layer per file, tagged NAME:V. Every download is checked\n"
	"against its digest. Signatures are Ed25519 over the manifest digest, stored as\n"
	"referrers of the model (listed in the referrers tag sha256-HEX on a registry\n"
	"without the referrers API). docs/registry.md describes it all.\n"
	"\n"
	"  --registry URL      the registry (default $LLMO_REGISTRY, else " DEFAULT_REGISTRY ")\n"
	"  --token TOKEN       bearer token (default $LLMO_REGISTRY_TOKEN)\n"
	"  --token-file FILE   read the token from FILE\n"
	"  --creds USER:PASSWORD  a user name and password, for a registry that asks for\n"
	"                      them (Basic) or hands out tokens for them (Docker's token\n"
	"                      protocol) (default $LLMO_REGISTRY_CREDS)\n"
	"  --creds-file FILE   read USER:PASSWORD from FILE's first line\n"
	"  --cacert FILE       CA certificate of an https registry\n"
	"  --insecure          https without checking the certificate\n"
	"  --output DIR        where pull writes the files (default: NAME's last part)\n"
	"  --no-latest         push: do not move the alias \"latest\" to this version\n"
	"  --model MODEL       push: the LLMModel's spec.name (default: NAME's last part)\n"
	"  --image IMAGE       push: the LLMModel's spec.runtime.image\n"
	"  --local-command JSON  push: its spec.runtime.localCommand ('[\"llmo\", ...]')\n"
	"  --kubeconfig FILE   push and delete write the LLMModel MODEL-V through this API\n"
	"                      (default $KUBECONFIG; without either, no API is used)\n"
	"  --namespace NS      its namespace (default: the kubeconfig's, else \"default\")\n"
	"  --no-api            do not write the LLMModel even when $KUBECONFIG is set\n"
	"  --config FILE       pull: modelRegistry.signatureValidation from this configuration\n"
	"  --require-signature pull: refuse a model without a valid signature by a trusted key\n"
	"  --trusted-keys PATH pull: a public key file or a directory of *.pub files\n"
	"  --key-ref NAME      pull: when a signature is required, only the key NAME.pub of\n"
	"                      the trusted keys counts (an LLMModel's signature.keyRef)\n"
	"                      (default $LLMO_TRUSTED_KEYS)\n";

struct opts {
	const char *registry, *token, *token_file, *creds, *creds_file, *cacert;
	bool insecure;
	const char *name, *version, *type, *framework, *parameters, *quantization, *output;
	const char *key, *pub;
	const char *kubeconfig, *ns, *model, *image;
	const char *config, *trusted_keys, *local_command, *key_ref;
	bool no_latest, no_api, require_signature;
	int64_t context_length; /* -1: not given */
	const char *args[2];    /* positional arguments */
	size_t nargs;
};

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct cmd_str_flag flags[] = {
		{"--registry", offsetof(struct opts, registry)},
		{"--token", offsetof(struct opts, token)},
		{"--token-file", offsetof(struct opts, token_file)},
		{"--creds", offsetof(struct opts, creds)},
		{"--creds-file", offsetof(struct opts, creds_file)},
		{"--cacert", offsetof(struct opts, cacert)},
		{"--name", offsetof(struct opts, name)},
		{"--version", offsetof(struct opts, version)},
		{"--type", offsetof(struct opts, type)},
		{"--framework", offsetof(struct opts, framework)},
		{"--parameters", offsetof(struct opts, parameters)},
		{"--quantization", offsetof(struct opts, quantization)},
		{"--output", offsetof(struct opts, output)},
		{"--key", offsetof(struct opts, key)},
		{"--pub", offsetof(struct opts, pub)},
		{"--kubeconfig", offsetof(struct opts, kubeconfig)},
		{"--namespace", offsetof(struct opts, ns)},
		{"-n", offsetof(struct opts, ns)},
		{"--model", offsetof(struct opts, model)},
		{"--image", offsetof(struct opts, image)},
		{"--local-command", offsetof(struct opts, local_command)},
		{"--config", offsetof(struct opts, config)},
		{"--trusted-keys", offsetof(struct opts, trusted_keys)},
		{"--key-ref", offsetof(struct opts, key_ref)},
	};
	const char *ctx = NULL;

	memset(o, 0, sizeof(*o));
	o->context_length = -1;
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i], *eq = strchr(a, '='), *v;
		size_t n = eq ? (size_t)(eq - a) : strlen(a);

		if (strcmp(a, "--insecure") == 0 || strcmp(a, "--no-latest") == 0 ||
		    strcmp(a, "--no-api") == 0 || strcmp(a, "--require-signature") == 0) {
			*(a[2] == 'i'	? &o->insecure
			  : a[2] == 'r' ? &o->require_signature
			  : a[5] == 'l' ? &o->no_latest
					: &o->no_api) = true;
			continue;
		}
		if (strncmp(a, "--", 2) != 0 && strncmp(a, "-n", 3) != 0) {
			if (o->nargs == LLMO_ARRAY_LEN(o->args))
				return cmd_usage_error(SUB, "unexpected argument %s", a);
			o->args[o->nargs++] = a;
			continue;
		}
		v = eq ? eq + 1 : i + 1 < argc ? argv[++i] : NULL;
		if (!v)
			return cmd_usage_error(SUB, "%.*s needs a value", (int)n, a);
		if (n == 16 && strncmp(a, "--context-length", 16) == 0) {
			ctx = v;
			continue;
		}
		if (!cmd_str_flag_set(flags, LLMO_ARRAY_LEN(flags), o, a, n, v))
			return cmd_usage_error(SUB, "unknown flag %.*s (see --help)", (int)n, a);
	}
	if (ctx && llmo_parse_int_range(ctx, 1, INT64_C(1) << 40, &o->context_length, NULL))
		return cmd_usage_error(SUB, "--context-length wants a positive integer");
	if (!o->registry)
		o->registry = getenv("LLMO_REGISTRY");
	if (!o->registry)
		o->registry = DEFAULT_REGISTRY;
	if (!o->token && !o->token_file)
		o->token = getenv("LLMO_REGISTRY_TOKEN");
	if (!o->kubeconfig && !o->no_api && getenv("KUBECONFIG") && *getenv("KUBECONFIG"))
		o->kubeconfig = getenv("KUBECONFIG");
	if (o->no_api)
		o->kubeconfig = NULL;
	if (!o->trusted_keys)
		o->trusted_keys = getenv("LLMO_TRUSTED_KEYS");
	return 0;
}

static int client_of(const struct opts *o, struct llmo_reg_client **c)
{
	struct llmo_reg_client_opts co = {.url = o->registry, .cacert = o->cacert,
					   .insecure = o->insecure};
	struct cmd_reg_auth auth = {.token = o->token, .token_file = o->token_file,
				    .creds = o->creds, .creds_file = o->creds_file};
	struct llmo_error err = {0};
	int rc = cmd_reg_auth_apply(&auth, &co, &err);

	if (!rc)
		rc = llmo_reg_client_new(&co, c, &err);
	cmd_reg_auth_release(&auth);
	if (rc) {
		fprintf(stderr, "llmo model: %s\n", err.msg);
		return 1;
	}
	return 0;
}

/* "NAME:TAG" or "NAME@sha256:HEX" into repo and ref; usage error (2) otherwise. */
static int split_ref(const char *s, char *repo, char *ref)
{
	const char *at = strchr(s, '@'), *colon = strrchr(s, ':');
	const char *sep = at ? at : colon;
	size_t n = sep ? (size_t)(sep - s) : 0;

	if (!sep || (at && colon && colon < at) || n == 0 || n > LLMO_REG_NAME_MAX ||
	    !llmo_reg_name_valid(s, n))
		return cmd_usage_error(SUB, "\"%s\": expected NAME:VERSION or NAME@sha256:HEX", s);
	memcpy(repo, s, n);
	repo[n] = '\0';
	snprintf(ref, LLMO_REG_TAG_MAX + LLMO_DIGEST_STR_MAX, "%s", sep + 1);
	if (at) {
		struct llmo_digest d;

		if (llmo_digest_parse(ref, strlen(ref), &d, NULL))
			return cmd_usage_error(SUB, "\"%s\": not a sha256 digest", ref);
	} else if (!llmo_reg_tag_valid(ref, strlen(ref))) {
		return cmd_usage_error(SUB, "\"%s\": not a valid version (tag)", ref);
	}
	return 0;
}

static int fail(const struct llmo_error *err)
{
	fprintf(stderr, "llmo model: %s\n", err->msg);
	return 1;
}

/* ---- push ---- */

struct file_entry {
	char *rel; /* path inside the model */
	char *abs;
	uint64_t size;
	struct llmo_digest digest;
};

static int cmp_rel(const void *a, const void *b)
{
	return strcmp(((const struct file_entry *)a)->rel, ((const struct file_entry *)b)->rel);
}

typedef LLMO_VEC(struct file_entry) file_vec;

static int walk(const char *abs, const char *rel, int depth, file_vec *out, struct llmo_error *err)
{
	DIR *d;
	struct dirent *e;
	int rc = 0;

	if (depth > MODEL_DEPTH_MAX)
		return llmo_error_set(err, LLMO_ETOOBIG, "%s: nested deeper than %d", abs,
				      MODEL_DEPTH_MAX);
	d = opendir(abs);
	if (!d)
		return llmo_error_set(err, LLMO_EIO, "%s: %s", abs, strerror(errno));
	while (!rc && (e = readdir(d))) {
		char a[PATH_MAX], r[PATH_MAX];
		struct stat st;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (snprintf(a, sizeof(a), "%s/%s", abs, e->d_name) >= (int)sizeof(a) ||
		    snprintf(r, sizeof(r), "%s%s%s", rel, *rel ? "/" : "", e->d_name) >=
			    (int)sizeof(r)) {
			rc = llmo_error_set(err, LLMO_EINVAL, "%s: path too long", abs);
			break;
		}
		if (stat(a, &st) < 0) {
			rc = llmo_error_set(err, LLMO_EIO, "%s: %s", a, strerror(errno));
		} else if (S_ISDIR(st.st_mode)) {
			rc = walk(a, r, depth + 1, out, err);
		} else if (S_ISREG(st.st_mode)) {
			struct file_entry *f;

			if (out->len >= MODEL_FILES_MAX) {
				rc = llmo_error_set(err, LLMO_ETOOBIG, "more than %d files",
						    MODEL_FILES_MAX);
				break;
			}
			f = llmo_vec_push(out);
			if (!f || !(f->rel = llmo_strdup(r)) || !(f->abs = llmo_strdup(a)))
				rc = llmo_error_set(err, LLMO_ENOMEM, "out of memory");
		}
	}
	closedir(d);
	return rc;
}

static void files_release(file_vec *v)
{
	for (size_t i = 0; i < v->len; i++) {
		free(v->items[i].rel);
		free(v->items[i].abs);
	}
	llmo_vec_release(v);
}

/* The files of PATH (a file or a directory), sorted, hashed. */
static int collect(const char *path, file_vec *files, struct llmo_error *err)
{
	struct stat st;
	int rc;

	if (stat(path, &st) < 0)
		return llmo_error_set(err, LLMO_ENOTFOUND, "%s: %s", path, strerror(errno));
	if (S_ISDIR(st.st_mode)) {
		if ((rc = walk(path, "", 0, files, err)))
			return rc;
	} else {
		const char *base = strrchr(path, '/');
		struct file_entry *f = llmo_vec_push(files);

		if (!f || !(f->rel = llmo_strdup(base ? base + 1 : path)) ||
		    !(f->abs = llmo_strdup(path)))
			return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	}
	if (files->len == 0)
		return llmo_error_set(err, LLMO_EINVAL, "%s: no files", path);
	qsort(files->items, files->len, sizeof(files->items[0]), cmp_rel);
	for (size_t i = 0; i < files->len; i++) {
		struct file_entry *f = &files->items[i];
		struct llmo_sha256 h = {0};
		int fd = open(f->abs, O_RDONLY | O_CLOEXEC);

		if (fd < 0)
			return llmo_error_set(err, LLMO_EIO, "%s: %s", f->abs, strerror(errno));
		rc = llmo_sha256_init(&h);
		if (!rc)
			rc = llmo_sha256_fd(&h, fd, &f->size);
		if (!rc)
			rc = llmo_sha256_peek(&h, &f->digest);
		llmo_sha256_release(&h);
		close(fd);
		if (rc)
			return llmo_error_set(err, rc, "%s: cannot read", f->abs);
	}
	return 0;
}

static void set_opt_str(json_t *o, const char *key, const char *v)
{
	if (v)
		json_object_set_new(o, key, json_string(v));
}

/* ---- the LLMModel object (when an API is reachable) ---- */

/* The LLMModel's spec.name: --model, else the repository's last component. */
static const char *model_name(const struct opts *o, const char *repo)
{
	const char *slash = strrchr(repo, '/');

	return o->model ? o->model : slash ? slash + 1 : repo;
}

/* The object name MODEL-VERSION as a DNS subdomain: lowercase, [a-z0-9.-], at most 253. */
static void object_name(const char *model, const char *version, char *out, size_t n)
{
	size_t len = 0;
	char raw[512];

	snprintf(raw, sizeof(raw), "%s-%s", model, version);
	for (const char *p = raw; *p && len + 1 < n && len < 253; p++) {
		char ch = (char)tolower((unsigned char)*p);

		out[len++] = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '.' ? ch
											      : '-';
	}
	while (len && (out[len - 1] == '-' || out[len - 1] == '.'))
		len--;
	out[len] = '\0';
	while (out[0] == '-' || out[0] == '.')
		memmove(out, out + 1, strlen(out));
}

static bool one_of(const char *v, const char *const *set)
{
	for (; *set; set++)
		if (strcmp(v, *set) == 0)
			return true;
	return false;
}

/*
 * Sets spec[key] = v when v is one of the CRD's values; otherwise says that
 * it is left out (the registry metadata keeps it whatever it is).
 */
static void set_enum(json_t *spec, const char *key, const char *v, const char *const *set)
{
	if (!v)
		return;
	if (one_of(v, set)) {
		json_object_set_new(spec, key, json_string(v));
		return;
	}
	fprintf(stderr, "llmo model: note: %s \"%s\" is not one of the LLMModel's values: "
			"spec.%s left unset\n", key, v, key);
}

static int kube_client_of(const struct opts *o, struct llmo_kube_client **kc, const char **ns,
			  struct llmo_error *err)
{
	struct llmo_kube_config cfg = {0};
	int rc = llmo_kube_config_auto(o->kubeconfig, NULL, &cfg, err);

	if (!rc)
		rc = llmo_kube_client_new(&cfg, kc, err);
	llmo_kube_config_release(&cfg);
	if (rc)
		return rc;
	*ns = o->ns ? o->ns : llmo_kube_client_namespace(*kc);
	if (!*ns || !**ns)
		*ns = "default";
	return 0;
}

/* The registry's host:port as an artifact reference host (the URL without its scheme). */
static void registry_host(const char *url, char *out, size_t n)
{
	const char *p = strstr(url, "://");
	size_t len;

	p = p ? p + 3 : url;
	len = strcspn(p, "/");
	snprintf(out, n, "%.*s", (int)len, p);
}

/*
 * Creates or updates the LLMModel MODEL-VERSION for a pushed model: spec
 * from the metadata and the artifact, status digest, totalSize, phase.
 */
static int write_llmmodel(const struct opts *o, const file_vec *files,
			  const struct llmo_digest *man, uint64_t total, struct llmo_error *err)
{
	static const char *const types[] = {"text-generation", "chat", "embedding",
					    "code-generation", "classification", NULL};
	static const char *const frameworks[] = {"vllm", "tgi", "llama.cpp", "triton",
						 "transformers", "onnx", "custom", NULL};
	static const char *const quants[] = {"none", "fp16", "bf16", "fp8", "int8",
					     "int4", "awq", "gptq", "gguf", NULL};
	struct llmo_kube_client *kc = NULL;
	const char *ns = NULL, *model = model_name(o, o->name);
	char name[256], host[256], ref[1024], ds[LLMO_DIGEST_STR_MAX];
	json_t *spec, *art, *list, *obj = NULL, *patch = NULL, *got = NULL;
	int rc;

	object_name(model, o->version, name, sizeof(name));
	registry_host(o->registry, host, sizeof(host));
	snprintf(ref, sizeof(ref), "%s/%s:%s", host, o->name, o->version);
	llmo_digest_str(man, ds);
	spec = json_pack("{s:s,s:s}", "name", model, "version", o->version);
	list = json_array();
	art = json_pack("{s:s,s:s}", "reference", ref, "digest", ds);
	if (!spec || !list || !art) {
		json_decref(spec);
		json_decref(list);
		json_decref(art);
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	}
	set_enum(spec, "type", o->type, types);
	set_enum(spec, "framework", o->framework, frameworks);
	set_enum(spec, "quantization", o->quantization, quants);
	if (o->parameters) {
		const char *p = o->parameters;
		size_t digits = strspn(p, "0123456789.");

		if (digits && p[0] != '.' && strlen(p + digits) <= 1 && strspn(p + digits, "KMBT") ==
		    strlen(p + digits))
			json_object_set_new(spec, "parameterCount", json_string(p));
		else
			fprintf(stderr, "llmo model: note: --parameters \"%s\" is not like 7B: "
					"spec.parameterCount left unset\n", p);
	}
	if (o->context_length > 0 && o->context_length <= INT32_MAX)
		json_object_set_new(spec, "contextLength", json_integer(o->context_length));
	for (size_t i = 0; files->len <= 4096 && i < files->len; i++)
		json_array_append_new(list, json_pack("{s:s,s:I,s:s}", "path", files->items[i].rel,
						      "size", (json_int_t)files->items[i].size,
						      "sha256", files->items[i].digest.hex));
	json_object_set_new(art, "files", list);
	json_object_set_new(spec, "artifact", art);
	if (o->image)
		json_object_set_new(spec, "runtime", json_pack("{s:s}", "image", o->image));
	if (o->local_command) {
		json_t *lc = NULL;

		if ((rc = llmo_json_load(o->local_command, strlen(o->local_command), "--local-command",
					 &lc, err)))
			goto out;
		if (!json_is_array(lc) || !json_array_size(lc)) {
			json_decref(lc);
			rc = llmo_error_set(err, LLMO_EINVAL,
					    "--local-command wants a JSON array of strings");
			goto out;
		}
		if (!json_object_get(spec, "runtime"))
			json_object_set_new(spec, "runtime", json_object());
		json_object_set_new(json_object_get(spec, "runtime"), "localCommand", lc);
	}
	if ((rc = kube_client_of(o, &kc, &ns, err)))
		goto out;
	rc = llmo_kube_get(kc, &llmo_kube_llmmodels, ns, name, &got, err);
	if (rc == LLMO_ENOTFOUND && !json_object_get(spec, "runtime")) {
		rc = llmo_error_set(err, LLMO_EINVAL,
				    "a new LLMModel needs a runtime: give --image IMAGE (a cluster) "
				    "or --local-command '[\"CMD\", \"ARG\"]' (one machine)");
		goto out;
	}
	if (rc == LLMO_ENOTFOUND) {
		obj = json_pack("{s:s,s:s,s:{s:s,s:s},s:O}", "apiVersion", "llm.orchestrator.io/v1",
				"kind", "LLMModel", "metadata", "name", name, "namespace", ns, "spec",
				spec);
		rc = obj ? llmo_kube_create(kc, &llmo_kube_llmmodels, ns, obj, NULL, err)
			 : llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	} else if (!rc) {
		/* a merge patch: what the user set (runtime, resources) stays */
		patch = json_pack("{s:O}", "spec", spec);
		rc = patch ? llmo_kube_patch(kc, &llmo_kube_llmmodels, ns, name, NULL,
					     LLMO_KUBE_PATCH_MERGE, patch, NULL, err)
			   : llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	}
	if (rc)
		goto out;
	json_decref(patch);
	patch = json_pack("{s:{s:s,s:I,s:s,s:s}}", "status", "digest", ds, "totalSize",
			  (json_int_t)total, "phase", "Available", "message", "pushed to the registry");
	rc = patch ? llmo_kube_patch(kc, &llmo_kube_llmmodels, ns, name, "status",
				     LLMO_KUBE_PATCH_MERGE, patch, NULL, err)
		   : llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	if (!rc)
		printf("LLMModel %s/%s: spec.name %s, version %s, digest %s\n", ns, name, model,
		       o->version, ds);
out:
	if (rc)
		llmo_error_prefix(err, "LLMModel %s/%s: ", ns ? ns : "?", name);
	json_decref(got);
	json_decref(obj);
	json_decref(patch);
	json_decref(spec);
	llmo_kube_client_free(kc);
	return rc;
}

static int cmd_push(const struct opts *o)
{
	struct llmo_reg_client *c = NULL;
	struct llmo_error err = {0};
	file_vec files = LLMO_VEC_INIT;
	json_t *cfg = NULL, *list = NULL, *man = NULL, *layers = NULL;
	char *cfg_text = NULL, *man_text = NULL, now[LLMO_RFC3339_MAX], ds[LLMO_DIGEST_STR_MAX];
	struct llmo_digest cfg_digest, man_digest;
	uint64_t total = 0;
	int status = 1;

	if (o->nargs != 1 || !o->name || !o->version)
		return cmd_usage_error(SUB, "push wants PATH --name NAME --version V");
	if (!llmo_reg_name_valid(o->name, strlen(o->name)))
		return cmd_usage_error(SUB, "--name \"%s\": lowercase letters, digits, '.', '_', "
					    "'-' and '/'", o->name);
	if (!llmo_reg_tag_valid(o->version, strlen(o->version)))
		return cmd_usage_error(SUB, "--version \"%s\": letters, digits, '.', '_', '-' "
					    "(at most 128)", o->version);
	if (collect(o->args[0], &files, &err)) {
		status = fail(&err);
		goto out;
	}
	if (client_of(o, &c))
		goto out;
	llmo_time_format_rfc3339(llmo_clock_wall_ms(), false, now, sizeof(now));
	cfg = json_object();
	list = json_array();
	layers = json_array();
	json_object_set_new(cfg, "name", json_string(o->name));
	json_object_set_new(cfg, "version", json_string(o->version));
	set_opt_str(cfg, "type", o->type);
	set_opt_str(cfg, "framework", o->framework);
	set_opt_str(cfg, "parameters", o->parameters);
	set_opt_str(cfg, "quantization", o->quantization);
	if (o->context_length > 0)
		json_object_set_new(cfg, "contextLength", json_integer(o->context_length));
	json_object_set_new(cfg, "created", json_string(now));
	for (size_t i = 0; i < files.len; i++) {
		struct file_entry *f = &files.items[i];
		int fd = open(f->abs, O_RDONLY | O_CLOEXEC);

		if (fd < 0) {
			fprintf(stderr, "llmo model: %s: %s\n", f->abs, strerror(errno));
			goto out;
		}
		fprintf(stderr, "pushing %s (%" PRIu64 " bytes)\n", f->rel, f->size);
		if (llmo_reg_client_blob_push_fd(c, o->name, &f->digest, fd, f->size, &err)) {
			close(fd);
			status = fail(&err);
			goto out;
		}
		close(fd);
		total += f->size;
		llmo_digest_str(&f->digest, ds);
		json_array_append_new(list, json_pack("{s:s,s:I,s:s}", "path", f->rel, "size",
						      (json_int_t)f->size, "digest", ds));
		json_array_append_new(layers, json_pack("{s:s,s:s,s:I,s:{s:s}}", "mediaType",
							MODEL_FILE_TYPE, "digest", ds, "size",
							(json_int_t)f->size, "annotations", TITLE,
							f->rel));
	}
	json_object_set_new(cfg, "size", json_integer((json_int_t)total));
	json_object_set_new(cfg, "files", list);
	list = NULL;
	cfg_text = llmo_json_dump(cfg, false);
	if (!cfg_text || llmo_digest_of(cfg_text, strlen(cfg_text), &cfg_digest)) {
		fprintf(stderr, "llmo model: out of memory\n");
		goto out;
	}
	if (llmo_reg_client_blob_push_mem(c, o->name, &cfg_digest, cfg_text, strlen(cfg_text),
					  &err)) {
		status = fail(&err);
		goto out;
	}
	man = json_pack("{s:i,s:s,s:s,s:{s:s,s:s,s:I},s:o,s:{s:s,s:s,s:s}}", "schemaVersion", 2,
			"mediaType", LLMO_OCI_MANIFEST, "artifactType", MODEL_ARTIFACT_TYPE,
			"config", "mediaType", MODEL_CONFIG_TYPE, "digest",
			llmo_digest_str(&cfg_digest, ds), "size", (json_int_t)strlen(cfg_text),
			"layers", layers, "annotations", "org.opencontainers.image.version",
			o->version, "org.opencontainers.image.created", now, "io.llmo.model.name",
			o->name);
	/* the name workloads use (the LLMModel's spec.name) */
	json_object_set_new(json_object_get(man, "annotations"), "io.llmo.model.served-name",
			    json_string(model_name(o, o->name)));
	layers = NULL; /* taken by json_pack ("o"), even when it fails */
	man_text = man ? llmo_json_dump(man, false) : NULL;
	if (!man_text) {
		fprintf(stderr, "llmo model: out of memory\n");
		goto out;
	}
	if (llmo_reg_client_manifest_put(c, o->name, o->version, LLMO_OCI_MANIFEST, man_text,
					 strlen(man_text), &man_digest, NULL, &err) ||
	    (!o->no_latest && strcmp(o->version, "latest") != 0 &&
	     llmo_reg_client_manifest_put(c, o->name, "latest", LLMO_OCI_MANIFEST, man_text,
					  strlen(man_text), NULL, NULL, &err))) {
		status = fail(&err);
		goto out;
	}
	printf("pushed %s:%s %s (%zu files, %" PRIu64 " bytes)\n", o->name, o->version,
	       llmo_digest_str(&man_digest, ds), files.len, total);
	if (o->kubeconfig && write_llmmodel(o, &files, &man_digest, total, &err)) {
		fprintf(stderr, "llmo model: the model is in the registry, but %s\n", err.msg);
		goto out;
	}
	status = 0;
out:
	json_decref(list);
	json_decref(layers);
	json_decref(cfg);
	json_decref(man);
	free(cfg_text);
	free(man_text);
	files_release(&files);
	llmo_reg_client_free(c);
	return status;
}

/* ---- pull, inspect, list, delete ---- */

/* Fetches and parses manifest ref of repo. */
static int get_manifest(struct llmo_reg_client *c, const char *repo, const char *ref,
			struct llmo_buf *body, struct llmo_oci_manifest *m, struct llmo_digest *d,
			struct llmo_error *err)
{
	char mt[256];
	int rc = llmo_reg_client_manifest_get(c, repo, ref, body, d, mt, err);

	if (rc)
		return rc;
	return llmo_oci_manifest_parse(body->data, body->len, mt[0] ? mt : NULL, m, err);
}

/* Whether a layer title is a safe relative path (no "..", no absolute path, no empty parts). */
static bool safe_path(const char *p)
{
	const char *s = p;

	if (!*p || *p == '/' || strlen(p) >= PATH_MAX / 2)
		return false;
	while (*s) {
		size_t n = strcspn(s, "/");

		if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
			return false;
		s += n;
		if (*s)
			s++;
		else
			break;
	}
	return p[strlen(p) - 1] != '/';
}

static int pull_file(struct llmo_reg_client *c, const char *repo, const char *dir,
		     const struct llmo_oci_descriptor *d, const char *title, struct llmo_error *err)
{
	char path[PATH_MAX], tmp[PATH_MAX], parent[PATH_MAX];
	const char *slash;
	struct stat st;
	int fd, rc;

	snprintf(path, sizeof(path), "%s/%s", dir, title);
	slash = strrchr(path, '/');
	snprintf(parent, sizeof(parent), "%.*s", (int)(slash - path), path);
	snprintf(tmp, sizeof(tmp), "%s/.%s.partial", parent, slash + 1);
	if ((rc = llmo_mkdir_p(parent, 0755, err)))
		return rc;
	/* already there with the right bytes: keep it */
	if (stat(path, &st) == 0 && (uint64_t)st.st_size == d->size) {
		struct llmo_sha256 h = {0};
		struct llmo_digest got;
		bool same = false;

		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0 && llmo_sha256_init(&h) == 0 && llmo_sha256_fd(&h, fd, NULL) == 0 &&
		    llmo_sha256_peek(&h, &got) == 0)
			same = llmo_digest_equal(&got, &d->digest);
		llmo_sha256_release(&h);
		if (fd >= 0)
			close(fd);
		if (same) {
			fprintf(stderr, "%s: up to date\n", title);
			return 0;
		}
	}
	fprintf(stderr, "pulling %s (%" PRIu64 " bytes)\n", title, d->size);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return llmo_error_set(err, LLMO_EIO, "%s: %s", tmp, strerror(errno));
	rc = llmo_reg_client_blob_pull_fd(c, repo, &d->digest, fd, err);
	if (!rc && fsync(fd) < 0)
		rc = llmo_error_set(err, LLMO_EIO, "%s: fsync: %s", tmp, strerror(errno));
	close(fd);
	if (!rc && rename(tmp, path) < 0)
		rc = llmo_error_set(err, LLMO_EIO, "%s: rename: %s", path, strerror(errno));
	if (rc)
		unlink(tmp);
	return rc;
}

/*
 * signatureValidation (--require-signature, or the configuration's
 * modelRegistry.signatureValidation): the model must carry a valid
 * signature by one of the trusted keys. 0, or 1 with the reason printed.
 */
static int check_signature_policy(const struct opts *o, struct llmo_reg_client *c,
				  const char *repo, const struct llmo_digest *d)
{
	struct llmo_sig_key *keys[LLMO_FETCH_KEYS_MAX];
	struct llmo_error err = {0};
	bool required = o->require_signature;
	size_t nkeys = 0;
	int rc = 0;

	if (o->config) {
		struct llmo_config cfg;

		if (cmd_load_config(o->config, &cfg))
			return 1;
		required |= cfg.model_registry.signature_validation;
		llmo_config_free(&cfg);
	}
	if (!required)
		return 0;
	if (!o->trusted_keys) {
		fprintf(stderr, "llmo model: signatureValidation is on but no trusted keys are "
				"configured (--trusted-keys or $LLMO_TRUSTED_KEYS)\n");
		return 1;
	}
	/* --key-ref: only that key's signature counts, as an LLMModel's keyRef */
	rc = o->key_ref ? cmd_load_named_key(o->trusted_keys, o->key_ref, keys, &nkeys, &err)
			: llmo_model_keys_load(o->trusted_keys, keys, LLMO_FETCH_KEYS_MAX, &nkeys,
					       &err);
	if (!rc && (rc = llmo_model_verify(c, repo, d, keys, nkeys, NULL, &err)) && o->key_ref)
		llmo_error_prefix(&err, "signature.keyRef: the model must be signed by the key "
					"called %s: ",
				  o->key_ref);
	if (rc)
		fprintf(stderr, "llmo model: signatureValidation: %s\n", err.msg);
	for (size_t i = 0; i < nkeys; i++)
		llmo_sig_key_free(keys[i]);
	return rc ? 1 : 0;
}

static int cmd_pull(const struct opts *o)
{
	char repo[LLMO_REG_NAME_MAX + 1], ref[LLMO_REG_TAG_MAX + LLMO_DIGEST_STR_MAX], dir[PATH_MAX];
	struct llmo_reg_client *c = NULL;
	struct llmo_oci_manifest m = {0};
	struct llmo_error err = {0};
	struct llmo_digest d;
	struct llmo_buf body;
	int status = 1, rc;

	if (o->nargs != 1)
		return cmd_usage_error(SUB, "pull wants NAME:VERSION");
	if ((rc = split_ref(o->args[0], repo, ref)))
		return rc;
	snprintf(dir, sizeof(dir), "%s", o->output ? o->output
				      : strrchr(repo, '/') ? strrchr(repo, '/') + 1 : repo);
	llmo_buf_init(&body, LLMO_REG_CLIENT_BODY_MAX);
	if (client_of(o, &c))
		goto out;
	if (get_manifest(c, repo, ref, &body, &m, &d, &err)) {
		status = fail(&err);
		goto out;
	}
	if (m.is_index) {
		fprintf(stderr, "llmo model: %s is an index, not a model\n", o->args[0]);
		goto out;
	}
	if (check_signature_policy(o, c, repo, &d))
		goto out;
	for (size_t i = 0; i < m.refs.len; i++) {
		const struct llmo_oci_descriptor *l = &m.refs.items[i];
		const char *title = json_string_value(json_object_get(l->annotations, TITLE));

		if (!title || !safe_path(title)) {
			fprintf(stderr, "llmo model: layer %zu has no safe %s annotation\n", i, TITLE);
			goto out;
		}
		if (pull_file(c, repo, dir, l, title, &err)) {
			status = fail(&err);
			goto out;
		}
	}
	{
		char ds[LLMO_DIGEST_STR_MAX];

		printf("pulled %s@%s into %s (%zu files)\n", repo, llmo_digest_str(&d, ds), dir,
		       m.refs.len);
	}
	status = 0;
out:
	llmo_oci_manifest_release(&m);
	llmo_buf_release(&body);
	llmo_reg_client_free(c);
	return status;
}

static int cmd_inspect(const struct opts *o)
{
	char repo[LLMO_REG_NAME_MAX + 1], ref[LLMO_REG_TAG_MAX + LLMO_DIGEST_STR_MAX];
	char ds[LLMO_DIGEST_STR_MAX];
	struct llmo_reg_client *c = NULL;
	struct llmo_oci_manifest m = {0};
	struct llmo_error err = {0};
	struct llmo_digest d;
	struct llmo_buf body, cfg;
	json_t *out = NULL, *cj = NULL;
	char *text = NULL;
	int status = 1, rc;

	if (o->nargs != 1)
		return cmd_usage_error(SUB, "inspect wants NAME:VERSION");
	if ((rc = split_ref(o->args[0], repo, ref)))
		return rc;
	llmo_buf_init(&body, LLMO_REG_CLIENT_BODY_MAX);
	llmo_buf_init(&cfg, LLMO_REG_CLIENT_BODY_MAX);
	if (client_of(o, &c))
		goto out;
	if (get_manifest(c, repo, ref, &body, &m, &d, &err)) {
		status = fail(&err);
		goto out;
	}
	if (m.has_config &&
	    (llmo_reg_client_blob_get(c, repo, &m.config.digest, LLMO_REG_CLIENT_BODY_MAX, &cfg,
				      &err) ||
	     llmo_json_load(cfg.data, cfg.len, "config", &cj, &err))) {
		status = fail(&err);
		goto out;
	}
	out = json_pack("{s:s,s:s,s:s,s:s?,s:O?}", "name", repo, "digest",
			llmo_digest_str(&d, ds), "mediaType", m.media_type, "artifactType",
			m.artifact_type, "config", cj);
	json_object_set(out, "manifest", m.root);
	text = out ? llmo_json_dump(out, true) : NULL;
	if (!text) {
		fprintf(stderr, "llmo model: out of memory\n");
		goto out;
	}
	printf("%s\n", text);
	status = 0;
out:
	free(text);
	json_decref(out);
	json_decref(cj);
	llmo_oci_manifest_release(&m);
	llmo_buf_release(&body);
	llmo_buf_release(&cfg);
	llmo_reg_client_free(c);
	return status;
}

static int cmd_list(const struct opts *o)
{
	struct llmo_reg_client *c = NULL;
	struct llmo_error err = {0};
	char path[LLMO_REG_NAME_MAX + 64];
	const char *key = o->nargs == 1 ? "tags" : "repositories";
	json_t *j = NULL, *arr;
	int status = 1;

	if (o->nargs > 1)
		return cmd_usage_error(SUB, "list wants at most a NAME");
	if (o->nargs == 1 && !llmo_reg_name_valid(o->args[0], strlen(o->args[0])))
		return cmd_usage_error(SUB, "\"%s\" is not a repository name", o->args[0]);
	if (o->nargs == 1)
		snprintf(path, sizeof(path), "/v2/%s/tags/list", o->args[0]);
	else
		snprintf(path, sizeof(path), "/v2/_catalog");
	if (client_of(o, &c))
		goto out;
	/* every page: registries split long lists (docker-registry's catalog by 100) */
	if (llmo_reg_client_get_list(c, path, key, &j, &err)) {
		status = fail(&err);
		goto out;
	}
	arr = json_object_get(j, key);
	for (size_t i = 0; i < json_array_size(arr); i++)
		if (json_is_string(json_array_get(arr, i)))
			printf("%s%s%s\n", o->nargs == 1 ? o->args[0] : "", o->nargs == 1 ? ":" : "",
			       json_string_value(json_array_get(arr, i)));
	status = 0;
out:
	json_decref(j);
	llmo_reg_client_free(c);
	return status;
}

/* Deletes the LLMModel of the model whose manifest is body (its name and version annotations). */
static int delete_llmmodel(const struct opts *o, const char *repo, const struct llmo_buf *body)
{
	struct llmo_kube_client *kc = NULL;
	struct llmo_error err = {0};
	const char *ns = NULL, *version;
	json_t *m = NULL;
	char name[256];
	int rc;

	if (llmo_json_load(body->data, body->len, "manifest", &m, &err))
		return fail(&err);
	version = json_string_value(json_object_get(json_object_get(m, "annotations"),
						    "org.opencontainers.image.version"));
	if (!version) {
		fprintf(stderr, "llmo model: the manifest has no version annotation: no LLMModel "
				"to delete\n");
		json_decref(m);
		return 0;
	}
	object_name(model_name(o, repo), version, name, sizeof(name));
	rc = kube_client_of(o, &kc, &ns, &err);
	if (!rc)
		rc = llmo_kube_delete(kc, &llmo_kube_llmmodels, ns, name, LLMO_KUBE_PROPAGATE_DEFAULT,
				      NULL, &err);
	if (!rc)
		printf("deleted LLMModel %s/%s\n", ns, name);
	else if (rc == LLMO_ENOTFOUND)
		printf("no LLMModel %s/%s to delete\n", ns, name);
	else
		fprintf(stderr, "llmo model: LLMModel %s/%s: %s\n", ns ? ns : "?", name, err.msg);
	json_decref(m);
	llmo_kube_client_free(kc);
	return rc && rc != LLMO_ENOTFOUND ? 1 : 0;
}

/*
 * Deletes the referrers (signatures) of repo@d, each by digest, printing
 * each: they would outlive their subject otherwise. 0, or 1 after
 * printing the error.
 */
static int delete_referrers(struct llmo_reg_client *c, const char *repo,
			    const struct llmo_digest *d)
{
	char ds[LLMO_DIGEST_STR_MAX], path[LLMO_REG_NAME_MAX + 128];
	struct llmo_error err = {0};
	json_t *j = NULL, *list;
	bool from_tag;
	int status = 1;

	if (llmo_model_referrers(c, repo, d, NULL, &j, &from_tag, &err)) {
		/* neither the referrers API nor a referrers tag: none to delete */
		status = err.code == LLMO_ENOTFOUND ? 0 : fail(&err);
		goto out;
	}
	list = json_object_get(j, "manifests");
	for (size_t i = 0; i < json_array_size(list); i++) {
		json_t *desc = json_array_get(list, i);
		const char *rd = json_string_value(json_object_get(desc, "digest"));
		const char *type = json_string_value(json_object_get(desc, "artifactType"));
		struct llmo_digest r;

		if (!rd || llmo_digest_parse(rd, strlen(rd), &r, NULL)) {
			fprintf(stderr, "llmo %s: the referrers of %s@%s: entry %zu has no valid digest\n",
				SUB, repo, llmo_digest_str(d, ds), i);
			goto out;
		}
		snprintf(path, sizeof(path), "/v2/%s/manifests/%s", repo, llmo_digest_str(&r, ds));
		/* gone meanwhile: as good as deleted */
		if (llmo_reg_client_delete(c, path, &err) && err.code != LLMO_ENOTFOUND) {
			status = fail(&err);
			goto out;
		}
		printf("deleted referrer %s@%s (%s)\n", repo, ds, type ? type : "no artifactType");
	}
	if (from_tag) { /* then the index that listed them */
		char tag[LLMO_REFERRERS_TAG_MAX];

		llmo_model_referrers_tag(d, tag);
		if (llmo_model_referrers_tag_drop(c, repo, d, &err) && err.code != LLMO_ENOTFOUND) {
			status = fail(&err);
			goto out;
		}
		printf("deleted referrers tag %s:%s\n", repo, tag);
	}
	status = 0;
out:
	json_decref(j);
	return status;
}

static int cmd_delete(const struct opts *o)
{
	char repo[LLMO_REG_NAME_MAX + 1], ref[LLMO_REG_TAG_MAX + LLMO_DIGEST_STR_MAX];
	char path[LLMO_REG_NAME_MAX + 128], ds[LLMO_DIGEST_STR_MAX];
	struct llmo_reg_client *c = NULL;
	struct llmo_error err = {0};
	struct llmo_digest d;
	struct llmo_buf body;
	int status = 1, rc;

	if (o->nargs != 1)
		return cmd_usage_error(SUB, "delete wants NAME:VERSION");
	if ((rc = split_ref(o->args[0], repo, ref)))
		return rc;
	llmo_buf_init(&body, LLMO_REG_CLIENT_BODY_MAX);
	if (client_of(o, &c))
		goto out;
	/* by digest: the manifest goes with every tag on it */
	if (llmo_reg_client_manifest_get(c, repo, ref, &body, &d, NULL, &err)) {
		status = fail(&err);
		goto out;
	}
	/* its signatures first: stopped halfway, it leaves the model, never signatures of nothing */
	if (delete_referrers(c, repo, &d))
		goto out;
	snprintf(path, sizeof(path), "/v2/%s/manifests/%s", repo, llmo_digest_str(&d, ds));
	if (llmo_reg_client_delete(c, path, &err)) {
		status = fail(&err);
		goto out;
	}
	printf("deleted %s@%s\n", repo, ds);
	status = o->kubeconfig ? delete_llmmodel(o, repo, &body) : 0;
out:
	llmo_buf_release(&body);
	llmo_reg_client_free(c);
	return status;
}

/* `tag NAME:V ALIAS`: points ALIAS (stable, latest, ...) at the manifest of NAME:V. */
static int cmd_tag(const struct opts *o)
{
	char repo[LLMO_REG_NAME_MAX + 1], ref[LLMO_REG_TAG_MAX + LLMO_DIGEST_STR_MAX];
	char mt[256], ds[LLMO_DIGEST_STR_MAX];
	struct llmo_reg_client *c = NULL;
	struct llmo_error err = {0};
	struct llmo_digest d;
	struct llmo_buf body;
	int status = 1, rc;

	if (o->nargs != 2)
		return cmd_usage_error(SUB, "tag wants NAME:VERSION ALIAS");
	if ((rc = split_ref(o->args[0], repo, ref)))
		return rc;
	if (!llmo_reg_tag_valid(o->args[1], strlen(o->args[1])))
		return cmd_usage_error(SUB, "\"%s\": not a valid alias (tag)", o->args[1]);
	llmo_buf_init(&body, LLMO_REG_CLIENT_BODY_MAX);
	if (client_of(o, &c))
		goto out;
	if (llmo_reg_client_manifest_get(c, repo, ref, &body, &d, mt, &err) ||
	    llmo_reg_client_manifest_put(c, repo, o->args[1], mt[0] ? mt : LLMO_OCI_MANIFEST,
					 body.data, body.len, NULL, NULL, &err)) {
		status = fail(&err);
		goto out;
	}
	printf("%s:%s -> %s@%s\n", repo, o->args[1], repo, llmo_digest_str(&d, ds));
	status = 0;
out:
	llmo_buf_release(&body);
	llmo_reg_client_free(c);
	return status;
}

/* ---- signatures ---- */

static int cmd_keygen(const struct opts *o)
{
	struct llmo_error err = {0};
	char id[LLMO_DIGEST_STR_MAX];

	if (!o->key || o->nargs)
		return cmd_usage_error(SUB, "keygen wants --key PREFIX");
	if (llmo_sig_keygen(o->key, id, &err))
		return fail(&err);
	printf("wrote %s.key (private, 0600) and %s.pub; key id %s\n", o->key, o->key, id);
	return 0;
}

static int cmd_sign(const struct opts *o)
{
	char repo[LLMO_REG_NAME_MAX + 1], ref[LLMO_REG_TAG_MAX + LLMO_DIGEST_STR_MAX];
	char ds[LLMO_DIGEST_STR_MAX], es[LLMO_DIGEST_STR_MAX], ss[LLMO_DIGEST_STR_MAX];
	unsigned char sig[LLMO_SIG_LEN];
	struct llmo_reg_client *c = NULL;
	struct llmo_sig_key *k = NULL;
	struct llmo_oci_manifest m = {0};
	struct llmo_error err = {0};
	struct llmo_digest d, empty, sd, ad;
	struct llmo_buf body;
	char now[LLMO_RFC3339_MAX], *text = NULL;
	json_t *art = NULL, *desc = NULL;
	bool acked = false;
	int status = 1, rc;

	if (o->nargs != 1 || !o->key)
		return cmd_usage_error(SUB, "sign wants NAME:VERSION --key FILE");
	if ((rc = split_ref(o->args[0], repo, ref)))
		return rc;
	llmo_buf_init(&body, LLMO_REG_CLIENT_BODY_MAX);
	if (llmo_sig_key_load(o->key, true, &k, &err)) {
		status = fail(&err);
		goto out;
	}
	if (client_of(o, &c))
		goto out;
	if (get_manifest(c, repo, ref, &body, &m, &d, &err) || llmo_sig_sign(k, &d, sig, &err) ||
	    llmo_digest_of("{}", 2, &empty) || llmo_digest_of(sig, sizeof(sig), &sd) ||
	    llmo_reg_client_blob_push_mem(c, repo, &empty, "{}", 2, &err) ||
	    llmo_reg_client_blob_push_mem(c, repo, &sd, sig, sizeof(sig), &err)) {
		status = fail(&err);
		goto out;
	}
	llmo_time_format_rfc3339(llmo_clock_wall_ms(), false, now, sizeof(now));
	art = json_pack("{s:i,s:s,s:s,s:{s:s,s:s,s:i},s:[{s:s,s:s,s:i,s:{s:s}}],"
			"s:{s:s,s:s,s:I},s:{s:s,s:s}}",
			"schemaVersion", 2, "mediaType", LLMO_OCI_MANIFEST, "artifactType",
			LLMO_SIG_ARTIFACT_TYPE, "config", "mediaType", LLMO_OCI_EMPTY, "digest",
			llmo_digest_str(&empty, es), "size", 2, "layers", "mediaType",
			LLMO_SIG_MEDIA_TYPE, "digest", llmo_digest_str(&sd, ss), "size",
			LLMO_SIG_LEN, "annotations", LLMO_SIG_KEY_ANNOTATION, llmo_sig_key_id(k),
			"subject", "mediaType", m.media_type, "digest", llmo_digest_str(&d, ds),
			"size", (json_int_t)body.len, "annotations", LLMO_SIG_KEY_ANNOTATION,
			llmo_sig_key_id(k), "org.opencontainers.image.created", now);
	text = art ? llmo_json_dump(art, false) : NULL;
	if (!text || llmo_digest_of(text, strlen(text), &ad)) {
		fprintf(stderr, "llmo model: out of memory\n");
		goto out;
	}
	if (llmo_reg_client_manifest_put(c, repo, llmo_digest_str(&ad, es), LLMO_OCI_MANIFEST, text,
					 strlen(text), NULL, &acked, &err)) {
		status = fail(&err);
		goto out;
	}
	printf("signed %s@%s with key %s (signature %s)\n", repo, ds, llmo_sig_key_id(k), es);
	if (!acked) {
		/*
		 * No OCI-Subject in the answer: a registry without the referrers
		 * API, which will not list the signature; the referrers tag does.
		 */
		char tag[LLMO_REFERRERS_TAG_MAX];

		desc = json_pack("{s:s,s:s,s:I,s:s,s:O}", "mediaType", LLMO_OCI_MANIFEST, "digest", es,
				 "size", (json_int_t)strlen(text), "artifactType",
				 LLMO_SIG_ARTIFACT_TYPE, "annotations",
				 json_object_get(art, "annotations"));
		if (!desc) {
			fprintf(stderr, "llmo model: out of memory\n");
			goto out;
		}
		if (llmo_model_referrers_tag_add(c, repo, &d, desc, &err)) {
			llmo_error_prefix(&err, "the registry has no referrers API, and its referrers tag: ");
			status = fail(&err);
			goto out;
		}
		llmo_model_referrers_tag(&d, tag);
		printf("listed it in the referrers tag %s:%s (the registry has no referrers API)\n",
		       repo, tag);
	}
	status = 0;
out:
	free(text);
	json_decref(desc);
	json_decref(art);
	llmo_oci_manifest_release(&m);
	llmo_buf_release(&body);
	llmo_sig_key_free(k);
	llmo_reg_client_free(c);
	return status;
}

static int cmd_verify(const struct opts *o)
{
	char repo[LLMO_REG_NAME_MAX + 1], ref[LLMO_REG_TAG_MAX + LLMO_DIGEST_STR_MAX];
	char ds[LLMO_DIGEST_STR_MAX];
	struct llmo_reg_client *c = NULL;
	struct llmo_sig_key *k = NULL;
	struct llmo_error err = {0};
	struct llmo_digest d;
	struct llmo_buf body;
	int status = 1, rc;

	if (o->nargs != 1 || !o->pub)
		return cmd_usage_error(SUB, "verify wants NAME:VERSION --pub FILE");
	if ((rc = split_ref(o->args[0], repo, ref)))
		return rc;
	llmo_buf_init(&body, LLMO_REG_CLIENT_BODY_MAX);
	if (llmo_sig_key_load(o->pub, false, &k, &err)) {
		status = fail(&err);
		goto out;
	}
	if (client_of(o, &c))
		goto out;
	if (llmo_reg_client_manifest_get(c, repo, ref, &body, &d, NULL, &err) ||
	    llmo_model_verify(c, repo, &d, &k, 1, NULL, &err)) {
		status = fail(&err);
		goto out;
	}
	printf("verified %s@%s: signed by key %s\n", repo, llmo_digest_str(&d, ds),
	       llmo_sig_key_id(k));
	status = 0;
out:
	llmo_buf_release(&body);
	llmo_sig_key_free(k);
	llmo_reg_client_free(c);
	return status;
}

int cmd_model(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*run)(const struct opts *o);
	} subs[] = {
		{"push", cmd_push},	  {"pull", cmd_pull},	  {"list", cmd_list},
		{"inspect", cmd_inspect}, {"delete", cmd_delete}, {"keygen", cmd_keygen},
		{"sign", cmd_sign},	  {"verify", cmd_verify}, {"tag", cmd_tag},
	};
	struct opts o;
	int rc;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	for (size_t i = 0; i < LLMO_ARRAY_LEN(subs); i++) {
		if (strcmp(argv[1], subs[i].name) != 0)
			continue;
		for (int k = 2; k < argc; k++)
			if (strcmp(argv[k], "--help") == 0 || strcmp(argv[k], "-h") == 0) {
				fputs(usage, stdout);
				return 0;
			}
		if ((rc = parse_opts(argc, argv, &o)))
			return rc;
		return subs[i].run(&o);
	}
	return cmd_usage_error(SUB, "unknown subcommand \"%s\" (see --help)", argv[1]);
}
