/*
 * llmo fetch: pull a model into the node's cache (src/registry/fetch.h),
 * the init step of a replica. docs/agent.md describes it.
 */
#include "base/common.h"

#include <openssl/crypto.h>
#include <jansson.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/podfetch.h"
#include "api/config.h"
#include "base/buf.h"
#include "base/file.h"
#include "base/json.h"
#include "base/quantity.h"
#include "base/str.h"
#include "cmd/cmd.h"
#include "registry/client.h"
#include "registry/fetch.h"
#include "registry/route.h"

#include "base/banned.h"

#define SUB "fetch"
#define DEFAULT_REGISTRY "http://127.0.0.1:5000"

static const char usage[] =
	"usage: llmo fetch REFERENCE --cache-dir DIR [--cache-size SIZE] [--config FILE]\n"
	"                  [--require-signature] [--trusted-keys PATH] [--key-ref NAME]\n"
	"                  [--pin NAME]\n"
	"                  [--progress auto|bar|plain|none] [--reason-file FILE]\n"
	"                  [--registry URL] [--token TOKEN | --token-file FILE]\n"
	"                  [--creds USER:PASSWORD | --creds-file FILE] [--cacert FILE]\n"
	"                  [--insecure] [--plain-http] [--exec -- COMMAND [ARGS...]]\n"
	"       llmo fetch --await UID --cache-dir DIR [--reason-file FILE]\n"
	"                  [--exec -- COMMAND [ARGS...]]\n"
	"\n"
	"Pulls a model pushed by `llmo model push` into the node's model cache: every\n"
	"file is checked against its digest, an interrupted download is resumed, and\n"
	"the least recently used models no replica uses are evicted past the cache size.\n"
	"Prints the model's directory, or with --exec runs COMMAND with LLMO_MODEL_PATH\n"
	"set to it.\n"
	"\n"
	"  REFERENCE           NAME:VERSION, NAME@sha256:HEX, or HOST[:PORT]/NAME[:VERSION][@sha256:HEX]\n"
	"                      (an LLMModel's spec.artifact.reference)\n"
	"  --cache-dir DIR     the cache (models/, partial/, pins/)\n"
	"  --cache-size SIZE   evict down to SIZE bytes (\"100Gi\"; default the\n"
	"                      configuration's modelRegistry.cacheSize)\n"
	"  --config FILE       llmo configuration: modelRegistry.cacheSize, signatureValidation\n"
	"  --require-signature refuse a model without a valid signature by a trusted key\n"
	"                      (also when modelRegistry.signatureValidation is true)\n"
	"  --trusted-keys PATH a public key file or a directory of *.pub files\n"
	"                      (default $LLMO_TRUSTED_KEYS)\n"
	"  --key-ref NAME      when a signature is required, only the trusted key called\n"
	"                      NAME (the file NAME.pub) counts (an LLMModel's\n"
	"                      spec.signature.keyRef)\n"
	"  --pin NAME          record that replica NAME uses the model (never evicted)\n"
	"  --progress MODE     auto (default: a bar on a terminal, lines otherwise)\n"
	"  --reason-file FILE  on failure, write {\"reason\",\"message\"} there (the agent's\n"
	"                      shim reports it as the container's termination reason)\n"
	"  --registry URL      the registry of a reference without a host, and the scheme\n"
	"                      of one with this host (default $LLMO_REGISTRY, else "
	DEFAULT_REGISTRY ")\n"
	"  --plain-http        a REFERENCE's host speaks plain HTTP (default https)\n"
	"  --token, --token-file, --creds, --creds-file, --cacert, --insecure: as for\n"
	"                      `llmo model`\n"
	"\n"
	"With --await UID (a replica's init container on a cluster, the cache mounted\n"
	"read-only) it fetches nothing: it waits until the node's `llmo agent --runtime\n"
	"none --model-cache DIR` has fetched and verified the model of pod UID\n"
	"(DIR/pods/UID/status), shows the agent's progress lines, and exits 0 (printing\n"
	"the model's directory) or 1 with the agent's reason.\n";

struct fopts {
	const char *ref, *cache_dir, *cache_size, *config, *trusted_keys, *key_ref, *pin, *progress;
	const char *reason_file, *registry, *token, *token_file, *creds, *creds_file, *cacert;
	const char *await_uid;
	bool insecure, require_signature, plain_http;
	bool registry_given; /* --registry or $LLMO_REGISTRY */
	char **exec;
};

struct bar {
	bool tty, plain, none;
	const char *what;
	int64_t last_line_ms;
};

static void human(double v, char *out, size_t n)
{
	static const char *const units[] = {"B", "kB", "MB", "GB", "TB"};
	size_t u = 0;

	while (v >= 1000 && u + 1 < LLMO_ARRAY_LEN(units)) {
		v /= 1000;
		u++;
	}
	snprintf(out, n, u ? "%.1f %s" : "%.0f %s", v, units[u]);
}

static void on_progress(void *ctx, const struct llmo_fetch_progress *p)
{
	struct bar *b = ctx;
	double secs = (double)p->elapsed_ms / 1000.0, rate = secs > 0 ? (double)p->downloaded / secs : 0;
	double pct = p->total ? 100.0 * (double)p->done / (double)p->total : 100.0;
	char done[32], total[32], rs[32], eta[32] = "-";

	if (b->none)
		return;
	human((double)p->done, done, sizeof(done));
	human((double)p->total, total, sizeof(total));
	human(rate, rs, sizeof(rs));
	if (rate > 0 && p->total > p->done)
		snprintf(eta, sizeof(eta), "%.0f s", (double)(p->total - p->done) / rate);
	else if (p->total <= p->done)
		snprintf(eta, sizeof(eta), "0 s");
	if (b->tty && !b->plain) {
		char bar[31];
		int fill = (int)(pct * 30 / 100);

		for (int i = 0; i < 30; i++)
			bar[i] = i < fill ? '=' : i == fill ? '>' : ' ';
		bar[30] = '\0';
		fprintf(stderr, "\r%s [%s] %5.1f%% %s/%s %s/s ETA %s\033[K%s", b->what, bar, pct,
			done, total, rs, eta, p->finished ? "\n" : "");
		return;
	}
	/* lines: at most one a second, and the last */
	if (!p->finished && p->elapsed_ms - b->last_line_ms < 1000)
		return;
	b->last_line_ms = p->elapsed_ms;
	fprintf(stderr, "fetch %s: %.1f%% %" PRIu64 "/%" PRIu64 " bytes, %s/s, ETA %s\n", b->what,
		pct, p->done, p->total, rs, eta);
}

static int parse(int argc, char **argv, struct fopts *o)
{
	static const struct cmd_str_flag flags[] = {
		{"--cache-dir", offsetof(struct fopts, cache_dir)},
		{"--cache-size", offsetof(struct fopts, cache_size)},
		{"--config", offsetof(struct fopts, config)},
		{"--trusted-keys", offsetof(struct fopts, trusted_keys)},
		{"--key-ref", offsetof(struct fopts, key_ref)},
		{"--pin", offsetof(struct fopts, pin)},
		{"--progress", offsetof(struct fopts, progress)},
		{"--reason-file", offsetof(struct fopts, reason_file)},
		{"--registry", offsetof(struct fopts, registry)},
		{"--token", offsetof(struct fopts, token)},
		{"--token-file", offsetof(struct fopts, token_file)},
		{"--creds", offsetof(struct fopts, creds)},
		{"--creds-file", offsetof(struct fopts, creds_file)},
		{"--cacert", offsetof(struct fopts, cacert)},
		{"--await", offsetof(struct fopts, await_uid)},
	};

	memset(o, 0, sizeof(*o));
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *eq = strchr(a, '='), *v;
		size_t n = eq ? (size_t)(eq - a) : strlen(a);

		if (strcmp(a, "--exec") == 0) {
			if (i + 1 >= argc || strcmp(argv[i + 1], "--") != 0 || i + 2 >= argc)
				return cmd_usage_error(SUB, "--exec wants -- COMMAND [ARGS...]");
			o->exec = argv + i + 2;
			break;
		}
		if (strcmp(a, "--insecure") == 0 || strcmp(a, "--require-signature") == 0 ||
		    strcmp(a, "--plain-http") == 0) {
			*(a[2] == 'i' ? &o->insecure : a[2] == 'r' ? &o->require_signature
								  : &o->plain_http) = true;
			continue;
		}
		if (strncmp(a, "--", 2) != 0) {
			if (o->ref)
				return cmd_usage_error(SUB, "unexpected argument %s", a);
			o->ref = a;
			continue;
		}
		v = eq ? eq + 1 : i + 1 < argc ? argv[i + 1] : NULL;
		if (!cmd_str_flag_set(flags, LLMO_ARRAY_LEN(flags), o, a, n, v ? v : ""))
			return cmd_usage_error(SUB, "unknown flag %.*s (see --help)", (int)n, a);
		if (!v)
			return cmd_usage_error(SUB, "%.*s needs a value", (int)n, a);
		if (!eq)
			i++;
	}
	if (o->await_uid) {
		if (o->ref)
			return cmd_usage_error(SUB, "--await takes no REFERENCE (the agent's status "
						    "names the model)");
		if (!o->cache_dir)
			return cmd_usage_error(SUB, "--await needs --cache-dir");
		if (!llmo_podfetch_uid_ok(o->await_uid))
			return cmd_usage_error(SUB, "--await \"%.80s\": not a pod uid (1-%d letters, "
						    "digits and '-')",
					       o->await_uid, LLMO_PODFETCH_UID_MAX);
		return 0;
	}
	if (!o->ref || !o->cache_dir)
		return cmd_usage_error(SUB, "a REFERENCE and --cache-dir are required");
	if (o->progress && strcmp(o->progress, "auto") && strcmp(o->progress, "bar") &&
	    strcmp(o->progress, "plain") && strcmp(o->progress, "none"))
		return cmd_usage_error(SUB, "--progress wants auto, bar, plain or none");
	if (!o->registry)
		o->registry = getenv("LLMO_REGISTRY");
	o->registry_given = o->registry != NULL;
	if (!o->registry)
		o->registry = DEFAULT_REGISTRY;
	if (!o->token && !o->token_file)
		o->token = getenv("LLMO_REGISTRY_TOKEN");
	if (!o->trusted_keys)
		o->trusted_keys = getenv("LLMO_TRUSTED_KEYS");
	return 0;
}

/* The reason a failure gets in the pod's status. */
static const char *reason_of(int rc)
{
	switch (rc) {
	case LLMO_EINVALID_OBJECT:
		return "ModelVerificationFailed";
	case LLMO_EDENIED:
		return "ModelSignatureInvalid";
	default:
		return "ModelFetchFailed";
	}
}

static void write_reason_text(const char *path, const char *reason, const char *msg)
{
	json_t *j;
	char *text;

	if (!path)
		return;
	j = json_pack("{s:s,s:s}", "reason", reason, "message", msg);
	text = j ? llmo_json_dump(j, false) : NULL;
	if (text)
		llmo_file_write_atomic(path, text, strlen(text), 0644, NULL);
	free(text);
	json_decref(j);
}

static void write_reason(const char *path, int rc, const char *msg)
{
	write_reason_text(path, reason_of(rc), msg);
}

/* ---- --await: the init container of a replica the kubelet runs ---- */

/* How often the agent's status is read; how often a wait with no status says so. */
#define AWAIT_POLL_MS 500
#define AWAIT_NOTE_MS 60000
/* Longest status file read (the agent writes one short object). */
#define AWAIT_STATUS_MAX 8192

/* Copies what the agent's fetch added to its log since *off to stderr. */
static void await_tail(const char *log_path, off_t *off)
{
	char buf[4096];
	struct stat st;
	ssize_t n;
	int fd = open(log_path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	if (fstat(fd, &st) == 0 && st.st_size < *off)
		*off = 0; /* a new attempt started its log over */
	while ((n = pread(fd, buf, sizeof(buf), *off)) > 0) {
		if (fwrite(buf, 1, (size_t)n, stderr) != (size_t)n)
			break;
		*off += n;
	}
	close(fd);
}

/* The status's model directory, when it is one of this cache's complete models. */
static bool await_model_ok(const char *cache_dir, const char *path)
{
	size_t n = strlen(cache_dir);

	if (!path || strncmp(path, cache_dir, n) != 0 || strncmp(path + n, "/models/", 8) != 0 ||
	    strchr(path + n + 8, '/') || strstr(path, "/.."))
		return false;
	return llmo_model_cache_complete(cache_dir, path + n + 8);
}

static int await_agent(const struct fopts *o)
{
	char status_path[PATH_MAX], log_path[PATH_MAX], msg[LLMO_ERRMSG_MAX];
	struct timespec poll = {0, AWAIT_POLL_MS * 1000000L};
	int64_t noted = 0, waited = 0;
	const char *state;
	struct llmo_buf b;
	off_t off = 0;
	json_t *j;

	snprintf(status_path, sizeof(status_path), "%s/" LLMO_PODFETCH_DIR "/%s/status",
		 o->cache_dir, o->await_uid);
	snprintf(log_path, sizeof(log_path), "%s/" LLMO_PODFETCH_DIR "/%s/log", o->cache_dir,
		 o->await_uid);
	llmo_buf_init(&b, AWAIT_STATUS_MAX);
	for (;; nanosleep(&poll, NULL), waited += AWAIT_POLL_MS) {
		await_tail(log_path, &off);
		b.len = 0;
		j = llmo_file_read(status_path, AWAIT_STATUS_MAX, &b, NULL) == 0
			    ? json_loads(b.data, 0, NULL)
			    : NULL;
		state = json_string_value(json_object_get(j, "state"));
		if (!state) {
			if (waited >= noted) {
				fprintf(stderr,
					"llmo fetch: waiting for the node's llmo agent to fetch the "
					"model of pod %s (%s not there yet)\n",
					o->await_uid, status_path);
				noted = waited + AWAIT_NOTE_MS;
			}
			json_decref(j);
			continue;
		}
		if (strcmp(state, "ready") == 0) {
			const char *path = json_string_value(json_object_get(j, "path"));

			if (!await_model_ok(o->cache_dir, path)) {
				snprintf(msg, sizeof(msg),
					 "the agent says %s is ready but it is not a complete model "
					 "of the cache %s",
					 path ? path : "(no path)", o->cache_dir);
				fprintf(stderr, "llmo fetch: ModelFetchFailed: %s\n", msg);
				write_reason_text(o->reason_file, "ModelFetchFailed", msg);
				json_decref(j);
				llmo_buf_release(&b);
				return 1;
			}
			snprintf(msg, sizeof(msg), "%s", path);
			json_decref(j);
			llmo_buf_release(&b);
			fprintf(stderr, "model %s is in %s, verified by the node's agent\n",
				o->await_uid, msg);
			if (o->exec) {
				setenv("LLMO_MODEL_PATH", msg, 1);
				execvp(o->exec[0], o->exec);
				fprintf(stderr, "llmo fetch: cannot run %s: %s\n", o->exec[0],
					strerror(errno));
				return 127;
			}
			printf("%s\n", msg);
			return 0;
		}
		if (strcmp(state, "failed") == 0) {
			const char *reason = json_string_value(json_object_get(j, "reason"));
			const char *m = json_string_value(json_object_get(j, "message"));

			snprintf(msg, sizeof(msg), "%s (the node's agent tries again in %" JSON_INTEGER_FORMAT " s)",
				 m ? m : "the fetch failed",
				 json_integer_value(json_object_get(j, "retryInSeconds")));
			reason = reason && strncmp(reason, "Model", 5) == 0 ? reason : "ModelFetchFailed";
			fprintf(stderr, "llmo fetch: %s: %s\n", reason, msg);
			write_reason_text(o->reason_file, reason, msg);
			json_decref(j);
			llmo_buf_release(&b);
			return 1;
		}
		json_decref(j); /* fetching: its log lines follow */
	}
}

/*
 * keys[0] = the trusted key called name (--key-ref). A name no trusted key
 * has is a refusal (LLMO_EDENIED: the pod's reason ModelSignatureInvalid),
 * not a fetch failure: the model cannot be verified as its LLMModel asks.
 */
int cmd_load_named_key(const char *trusted, const char *name, struct llmo_sig_key **keys,
		       size_t *nkeys, struct llmo_error *err)
{
	char path[PATH_MAX];
	int rc;

	*nkeys = 0;
	if ((rc = llmo_model_key_find(trusted, name, path, sizeof(path), err)) ||
	    (rc = llmo_sig_key_load(path, false, &keys[0], err))) {
		if (rc == LLMO_ENOTFOUND || rc == LLMO_EINVAL)
			err->code = LLMO_EDENIED;
		llmo_error_prefix(err, "signature.keyRef: ");
		return err->code;
	}
	*nkeys = 1;
	return 0;
}

/* The first line of path (trailing CR, LF, spaces and tabs off) into b, NUL-terminated. */
static int first_line(const char *path, struct llmo_buf *b, struct llmo_error *err)
{
	char *nl;

	if (llmo_file_read(path, 4096, b, err))
		return err->code;
	if ((nl = memchr(b->data, '\n', b->len)))
		llmo_buf_truncate(b, (size_t)(nl - b->data));
	while (b->len && strchr("\r \t", b->data[b->len - 1]))
		b->data[--b->len] = '\0';
	return 0;
}

int cmd_reg_auth_apply(struct cmd_reg_auth *a, struct llmo_reg_client_opts *co,
		       struct llmo_error *err)
{
	const char *creds = a->creds, *what = "--creds";
	char *colon;

	llmo_buf_init(&a->tok, 4096);
	llmo_buf_init(&a->cred, 4096);
	co->token = a->token;
	if (!a->token && a->token_file) {
		if (first_line(a->token_file, &a->tok, err))
			return err->code;
		co->token = a->tok.data ? a->tok.data : "";
	}
	if (!creds && a->creds_file) {
		if (first_line(a->creds_file, &a->cred, err))
			return err->code;
		creds = a->cred.data ? a->cred.data : "";
		what = a->creds_file;
	} else if (!creds && (creds = getenv("LLMO_REGISTRY_CREDS"))) {
		what = "$LLMO_REGISTRY_CREDS";
	}
	if (!creds)
		return 0;
	if (creds != a->cred.data) {
		llmo_buf_reset(&a->cred);
		if (llmo_buf_puts(&a->cred, creds))
			return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	}
	colon = memchr(a->cred.data, ':', a->cred.len);
	if (!colon || colon == a->cred.data)
		return llmo_error_set(err, LLMO_EINVAL, "%s: want USER:PASSWORD (a user name, ':', "
							"the password)", what);
	*colon = '\0';
	co->username = a->cred.data;
	co->password = colon + 1;
	return 0;
}

void cmd_reg_auth_release(struct cmd_reg_auth *a)
{
	if (a->tok.data)
		OPENSSL_cleanse(a->tok.data, a->tok.len);
	if (a->cred.data)
		OPENSSL_cleanse(a->cred.data, a->cred.len);
	llmo_buf_release(&a->tok);
	llmo_buf_release(&a->cred);
}

void cmd_fetch_args_init(struct cmd_fetch_args *fa, const char *cache_dir,
			 const struct llmo_config *cfg, const char *token_file,
			 const char *creds_file, const char *cacert, bool plain_http,
			 const char *trusted_keys)
{
	size_t n = 0;

	memset(fa, 0, sizeof(*fa));
	fa->argv[n++] = "--cache-dir";
	fa->argv[n++] = cache_dir;
	if (cfg && cfg->model_registry.cache_size > 0) {
		snprintf(fa->size, sizeof(fa->size), "%" PRId64, cfg->model_registry.cache_size / 1000);
		fa->argv[n++] = "--cache-size";
		fa->argv[n++] = fa->size;
	}
	if (token_file) {
		fa->argv[n++] = "--token-file";
		fa->argv[n++] = token_file;
	}
	if (creds_file) {
		fa->argv[n++] = "--creds-file";
		fa->argv[n++] = creds_file;
	}
	if (plain_http)
		fa->argv[n++] = "--plain-http";
	if (cacert) {
		fa->argv[n++] = "--cacert";
		fa->argv[n++] = cacert;
	}
	if (cfg && cfg->model_registry.signature_validation)
		fa->argv[n++] = "--require-signature";
	/* also with signatureValidation off: an LLMModel's signature.required needs them */
	if (trusted_keys) {
		fa->argv[n++] = "--trusted-keys";
		fa->argv[n++] = trusted_keys;
	}
	fa->argv[n] = NULL;
}

int cmd_fetch(int argc, char **argv)
{
	struct llmo_sig_key *keys[LLMO_FETCH_KEYS_MAX];
	struct llmo_model_ref mr;
	char dir[PATH_MAX], ds[LLMO_DIGEST_STR_MAX], what[LLMO_REG_NAME_MAX + 160];
	struct llmo_reg_client_opts co = {0};
	struct llmo_reg_client *c = NULL;
	struct llmo_fetch_opts fo = {0};
	struct llmo_config cfg;
	struct llmo_error err = {0};
	struct llmo_digest d;
	struct cmd_reg_auth auth = {0};
	struct bar bar = {0};
	struct fopts o;
	size_t nkeys = 0;
	bool have_cfg = false;
	int rc, status = 1;

	for (int i = 1; i < argc && strcmp(argv[i], "--exec") != 0; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(usage, stdout);
			return 0;
		}
	if ((rc = parse(argc, argv, &o)))
		return rc;
	if (o.await_uid)
		return await_agent(&o);
	if (llmo_model_ref_parse(o.ref, strlen(o.ref), o.registry, o.registry_given, o.plain_http,
				 &mr, &err))
		return cmd_usage_error(SUB, "%s", err.msg);
	auth.token = o.token;
	auth.token_file = o.token_file;
	auth.creds = o.creds;
	auth.creds_file = o.creds_file;
	fo.cache_dir = o.cache_dir;
	fo.repo = mr.repo;
	fo.ref = mr.ref;
	fo.require_signature = o.require_signature;
	if (o.config) {
		if (cmd_load_config(o.config, &cfg))
			goto out;
		have_cfg = true;
		fo.cache_size = (uint64_t)(cfg.model_registry.cache_size / 1000);
		fo.require_signature |= cfg.model_registry.signature_validation;
	}
	if (o.cache_size) {
		int64_t q;

		if (llmo_quantity_parse(o.cache_size, &q, NULL) || q < 0) {
			status = cmd_usage_error(SUB, "--cache-size \"%s\": not a size", o.cache_size);
			goto out;
		}
		fo.cache_size = (uint64_t)(q / 1000);
	}
	/* a bad name is refused even unused: the pod's reason says so */
	if (o.key_ref && !llmo_model_key_name_ok(o.key_ref)) {
		llmo_error_set(&err, LLMO_EDENIED, "signature.keyRef: \"%.*s\" is not a key name",
			       LLMO_SIG_KEY_NAME_MAX, o.key_ref);
		goto fail;
	}
	if (fo.require_signature) {
		if (!o.trusted_keys) {
			err.code = LLMO_EDENIED;
			snprintf(err.msg, sizeof(err.msg),
				 "a signature is required (signatureValidation or the LLMModel's "
				 "signature.required) but no trusted keys are configured "
				 "(--trusted-keys or $LLMO_TRUSTED_KEYS)");
			goto fail;
		}
		if (o.key_ref ? cmd_load_named_key(o.trusted_keys, o.key_ref, keys, &nkeys, &err)
			      : llmo_model_keys_load(o.trusted_keys, keys, LLMO_FETCH_KEYS_MAX,
						     &nkeys, &err))
			goto fail;
		fo.keys = keys;
		fo.nkeys = nkeys;
		fo.key_name = o.key_ref;
	}
	co.url = mr.url;
	co.cacert = o.cacert;
	co.insecure = o.insecure;
	if (cmd_reg_auth_apply(&auth, &co, &err))
		goto fail;
	if (llmo_reg_client_new(&co, &c, &err))
		goto fail;
	fo.client = c;
	snprintf(what, sizeof(what), "%s%s%s", mr.repo, strchr(mr.ref, ':') ? "@" : ":", mr.ref);
	bar.what = what;
	bar.tty = isatty(2) == 1;
	bar.plain = o.progress && strcmp(o.progress, "plain") == 0;
	bar.none = o.progress && strcmp(o.progress, "none") == 0;
	if (o.progress && strcmp(o.progress, "bar") == 0)
		bar.tty = true;
	fo.progress = on_progress;
	fo.ctx = &bar;
	if (llmo_fetch(&fo, dir, &d, &err))
		goto fail;
	if (o.pin && llmo_model_cache_pin(o.cache_dir, o.pin, d.hex, &err))
		goto fail;
	fprintf(stderr, "fetched %s@%s into %s\n", mr.repo, llmo_digest_str(&d, ds), dir);
	if (o.exec) {
		setenv("LLMO_MODEL_PATH", dir, 1);
		llmo_reg_client_free(c);
		c = NULL;
		execvp(o.exec[0], o.exec);
		snprintf(err.msg, sizeof(err.msg), "cannot run %s: %s", o.exec[0], strerror(errno));
		fprintf(stderr, "llmo fetch: %s\n", err.msg);
		status = 127;
		goto out;
	}
	printf("%s\n", dir);
	status = 0;
	goto out;
fail:
	fprintf(stderr, "llmo fetch: %s\n", err.msg);
	write_reason(o.reason_file, err.code, err.msg);
out:
	for (size_t i = 0; i < nkeys; i++)
		llmo_sig_key_free(keys[i]);
	if (have_cfg)
		llmo_config_free(&cfg);
	llmo_reg_client_free(c);
	cmd_reg_auth_release(&auth);
	return status;
}
