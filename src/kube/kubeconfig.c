#include "base/common.h"

#include <sys/stat.h>
#include <unistd.h>

#include "base/base64.h"
#include "base/buf.h"
#include "base/file.h"
#include "base/json.h"
#include "base/str.h"
#include "base/yaml.h"
#include "kube/client_int.h"
#include "kube/kubeconfig.h"

/* Longest path built from a kubeconfig's directory and a relative name. */
#define KUBECONFIG_PATH_MAX 4096

static void wipe_free(char *s)
{
	if (s) {
		volatile char *p = s;

		while (*p)
			*p++ = '\0';
		free(s);
	}
}

void llmo_kube_config_release(struct llmo_kube_config *cfg)
{
	free(cfg->server);
	wipe_free(cfg->token);
	free(cfg->token_file);
	free(cfg->ca_pem);
	free(cfg->cert_pem);
	wipe_free(cfg->key_pem);
	free(cfg->ns);
	free(cfg->context);
	memset(cfg, 0, sizeof(*cfg));
}

/* ---- helpers ---- */

/* Drops trailing whitespace (token files end with a newline). */
static void trim_right(char *s)
{
	size_t n = strlen(s);

	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
}

int llmo__kube_read_file(const char *path, bool trim, char **out, struct llmo_error *err)
{
	struct llmo_buf b;
	int rc;

	*out = NULL;
	llmo_buf_init(&b, LLMO_KUBE_CRED_FILE_MAX);
	rc = llmo_file_read(path, LLMO_KUBE_CRED_FILE_MAX, &b, err);
	if (rc)
		goto out;
	if (memchr(b.data, '\0', b.len)) {
		rc = llmo_error_set(err, LLMO_EPARSE, "%s: holds a NUL byte", path);
		goto out;
	}
	*out = llmo_buf_detach(&b, NULL);
	if (!*out) {
		rc = llmo_error_set(err, LLMO_ENOMEM, "out of memory");
		goto out;
	}
	if (trim)
		trim_right(*out);
out:
	llmo_buf_release(&b);
	return rc;
}

/* ---- kubeconfig ---- */

struct kc {
	const char *file; /* for messages */
	char dir[KUBECONFIG_PATH_MAX];
	const json_t *root;
};

/* The string member key of obj; NULL when absent or null. LLMO_EPARSE when another type. */
static int get_str(const struct kc *k, const json_t *obj, const char *what, const char *key,
		   const char **out, struct llmo_error *err)
{
	const json_t *v = json_object_get(obj, key);

	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return llmo_error_set(err, LLMO_EPARSE,
				      "kubeconfig %s: %s%s%s: expected a string, got %s", k->file,
				      what, *what ? "." : "", key, llmo_json_type_name(v));
	*out = json_string_value(v);
	return 0;
}

/* The `inner` object of the item named name in the list member `list` of the root. */
static int find_named(const struct kc *k, const char *list, const char *inner, const char *name,
		      const json_t **out, struct llmo_error *err)
{
	const json_t *arr = json_object_get(k->root, list), *item;
	size_t i;

	*out = NULL;
	if (arr && !json_is_null(arr) && !json_is_array(arr))
		return llmo_error_set(err, LLMO_EPARSE,
				      "kubeconfig %s: %s: expected a list, got %s", k->file, list,
				      llmo_json_type_name(arr));
	json_array_foreach (arr, i, item) {
		const char *n = json_string_value(json_object_get(item, "name"));
		const json_t *v;

		if (!n || strcmp(n, name) != 0)
			continue;
		v = json_object_get(item, inner);
		if (v && !json_is_null(v) && !json_is_object(v))
			return llmo_error_set(
				err, LLMO_EPARSE,
				"kubeconfig %s: %s[\"%s\"].%s: expected a mapping, got %s", k->file,
				list, name, inner, llmo_json_type_name(v));
		/* an entry with no body reads as empty: json_object_get(NULL, k) is NULL */
		*out = json_is_object(v) ? v : NULL;
		return 0;
	}
	return LLMO_ENOTFOUND;
}

/* path when absolute, else dir/path. */
static int resolve(const struct kc *k, const char *path, char *out, size_t n,
		   struct llmo_error *err)
{
	int w;

	if (path[0] == '/' || !k->dir[0])
		w = snprintf(out, n, "%s", path);
	else
		w = snprintf(out, n, "%s/%s", k->dir, path);
	if (w < 0 || (size_t)w >= n)
		return llmo_error_set(err, LLMO_EINVAL, "kubeconfig %s: path too long: %s", k->file,
				      path);
	return 0;
}

/*
 * Fills *out from `key-data` (base64) or `key` (a file) of obj; neither is
 * fine (*out stays NULL).
 */
static int load_pem(const struct kc *k, const json_t *obj, const char *what, const char *key,
		    char **out, struct llmo_error *err)
{
	char data_key[64], path[KUBECONFIG_PATH_MAX];
	const char *data, *file;
	int rc;

	snprintf(data_key, sizeof(data_key), "%s-data", key);
	if ((rc = get_str(k, obj, what, data_key, &data, err)) ||
	    (rc = get_str(k, obj, what, key, &file, err)))
		return rc;
	if (data && *data) {
		rc = llmo_base64_decode(data, out);
		if (rc == LLMO_EPARSE)
			return llmo_error_set(err, rc, "kubeconfig %s: %s.%s: not valid base64",
					      k->file, what, data_key);
		if (rc)
			return llmo_error_set(err, rc, "out of memory");
		return 0;
	}
	if (file && *file) {
		if ((rc = resolve(k, file, path, sizeof(path), err)))
			return rc;
		rc = llmo__kube_read_file(path, false, out, err);
		if (rc)
			llmo_error_prefix(err, "kubeconfig %s: %s.%s: ", k->file, what, key);
	}
	return rc;
}

static int dup_into(char **dst, const char *s, struct llmo_error *err)
{
	*dst = llmo_strdup(s);
	return *dst ? 0 : llmo_error_set(err, LLMO_ENOMEM, "out of memory");
}

static int load_cluster(const struct kc *k, const char *name, const char *ctxname,
			struct llmo_kube_config *cfg, struct llmo_error *err)
{
	const json_t *cl, *skip;
	const char *server;
	char what[320];
	size_t n;
	int rc;

	rc = find_named(k, "clusters", "cluster", name, &cl, err);
	if (rc == LLMO_ENOTFOUND)
		return llmo_error_set(err, rc,
				      "kubeconfig %s: cluster \"%s\" (of context \"%s\") not found",
				      k->file, name, ctxname);
	if (rc)
		return rc;
	snprintf(what, sizeof(what), "clusters[\"%s\"].cluster", name);
	if ((rc = get_str(k, cl, what, "server", &server, err)))
		return rc;
	if (!server || !*server)
		return llmo_error_set(err, LLMO_EINVAL,
				      "kubeconfig %s: cluster \"%s\" has no server", k->file, name);
	if ((rc = dup_into(&cfg->server, server, err)))
		return rc;
	n = strlen(cfg->server);
	while (n > 0 && cfg->server[n - 1] == '/')
		cfg->server[--n] = '\0';
	skip = json_object_get(cl, "insecure-skip-tls-verify");
	if (skip && !json_is_null(skip) && !json_is_boolean(skip))
		return llmo_error_set(
			err, LLMO_EPARSE,
			"kubeconfig %s: %s.insecure-skip-tls-verify: expected a boolean, got %s",
			k->file, what, llmo_json_type_name(skip));
	cfg->insecure_skip_verify = json_is_true(skip);
	return load_pem(k, cl, what, "certificate-authority", &cfg->ca_pem, err);
}

static int load_user(const struct kc *k, const char *name, const char *ctxname,
		     struct llmo_kube_config *cfg, struct llmo_error *err)
{
	const json_t *u;
	const char *token, *token_file;
	char what[320], path[KUBECONFIG_PATH_MAX];
	int rc;

	rc = find_named(k, "users", "user", name, &u, err);
	if (rc == LLMO_ENOTFOUND)
		return llmo_error_set(err, rc,
				      "kubeconfig %s: user \"%s\" (of context \"%s\") not found",
				      k->file, name, ctxname);
	if (rc)
		return rc;
	snprintf(what, sizeof(what), "users[\"%s\"].user", name);
	if ((rc = get_str(k, u, what, "token", &token, err)) ||
	    (rc = get_str(k, u, what, "tokenFile", &token_file, err)))
		return rc;
	if (token && *token) {
		if ((rc = dup_into(&cfg->token, token, err)))
			return rc;
	} else if (token_file && *token_file) {
		if ((rc = resolve(k, token_file, path, sizeof(path), err)))
			return rc;
		rc = llmo__kube_read_file(path, true, &cfg->token, err);
		if (rc) {
			llmo_error_prefix(err, "kubeconfig %s: %s.tokenFile: ", k->file, what);
			return rc;
		}
		if ((rc = dup_into(&cfg->token_file, path, err)))
			return rc;
	}
	if ((rc = load_pem(k, u, what, "client-certificate", &cfg->cert_pem, err)) ||
	    (rc = load_pem(k, u, what, "client-key", &cfg->key_pem, err)))
		return rc;
	if (!cfg->cert_pem != !cfg->key_pem)
		return llmo_error_set(err, LLMO_ENOTFOUND,
				      "kubeconfig %s: user \"%s\" has a client %s but no client %s",
				      k->file, name, cfg->cert_pem ? "certificate" : "key",
				      cfg->cert_pem ? "key" : "certificate");
	if (!cfg->token && !cfg->cert_pem) {
		const char *plugin = json_object_get(u, "exec")		   ? "exec"
				     : json_object_get(u, "auth-provider") ? "auth-provider"
				     : json_object_get(u, "username")	   ? "username/password"
									   : NULL;

		if (plugin)
			return llmo_error_set(err, LLMO_EUNSUPPORTED,
					      "kubeconfig %s: user \"%s\": %s credentials are not "
					      "supported (use a token or a client certificate)",
					      k->file, name, plugin);
	}
	return 0;
}

static int load_file(const char *file, const char *context, struct llmo_kube_config *cfg,
		     struct llmo_error *err)
{
	struct llmo_yaml_stream ys = {0};
	struct kc k = {.file = file};
	const char *ctxname, *cluster, *user, *ns;
	const json_t *ctx;
	char what[320];
	char *slash;
	int rc;

	rc = llmo_yaml_load_file(file, &ys, err);
	if (rc) {
		if (rc != LLMO_ENOTFOUND)
			llmo_error_prefix(err, "kubeconfig ");
		else
			llmo_error_set(err, rc, "kubeconfig %s: no such file", file);
		goto out;
	}
	if (ys.ndocs == 0 || !json_is_object(ys.docs[0].root)) {
		rc = llmo_error_set(err, LLMO_EPARSE, "kubeconfig %s: expected a mapping", file);
		goto out;
	}
	k.root = ys.docs[0].root;
	snprintf(k.dir, sizeof(k.dir), "%s", file);
	slash = strrchr(k.dir, '/');
	if (slash)
		*slash = '\0';
	else
		k.dir[0] = '\0';
	if ((rc = get_str(&k, k.root, "", "current-context", &ctxname, err)))
		goto out;
	if (context)
		ctxname = context;
	if (!ctxname || !*ctxname) {
		rc = llmo_error_set(err, LLMO_ENOTFOUND,
				    "kubeconfig %s: no current-context, and no context was named",
				    file);
		goto out;
	}
	rc = find_named(&k, "contexts", "context", ctxname, &ctx, err);
	if (rc == LLMO_ENOTFOUND)
		rc = llmo_error_set(err, rc, "kubeconfig %s: context \"%s\" not found", file,
				    ctxname);
	if (rc)
		goto out;
	snprintf(what, sizeof(what), "contexts[\"%s\"].context", ctxname);
	if ((rc = get_str(&k, ctx, what, "cluster", &cluster, err)) ||
	    (rc = get_str(&k, ctx, what, "user", &user, err)) ||
	    (rc = get_str(&k, ctx, what, "namespace", &ns, err)))
		goto out;
	if (!cluster || !*cluster) {
		rc = llmo_error_set(err, LLMO_ENOTFOUND,
				    "kubeconfig %s: context \"%s\" names no cluster", file,
				    ctxname);
		goto out;
	}
	if ((rc = dup_into(&cfg->context, ctxname, err)) ||
	    (rc = dup_into(&cfg->ns, ns && *ns ? ns : "default", err)) ||
	    (rc = load_cluster(&k, cluster, ctxname, cfg, err)))
		goto out;
	if (user && *user)
		rc = load_user(&k, user, ctxname, cfg, err);
out:
	llmo_yaml_stream_release(&ys);
	return rc;
}

static bool file_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* The default kubeconfig path into out; false when there is none to try. */
static bool default_path(char *out, size_t n, bool must_exist)
{
	const char *env = getenv("KUBECONFIG");
	const char *home = getenv("HOME");

	if (env && *env) {
		struct llmo_strv parts = LLMO_STRV_INIT;
		bool found = false;

		if (llmo_str_split(env, ':', &parts) == 0) {
			for (size_t i = 0; i < parts.len && !found; i++) {
				if (*parts.items[i] && file_exists(parts.items[i])) {
					snprintf(out, n, "%s", parts.items[i]);
					found = true;
				}
			}
			/* none exists: name the first one in the error */
			for (size_t i = 0; i < parts.len && !found && !must_exist; i++) {
				if (*parts.items[i]) {
					snprintf(out, n, "%s", parts.items[i]);
					found = true;
				}
			}
		}
		llmo_strv_release(&parts);
		if (found)
			return true;
	}
	if (!home || !*home)
		return false;
	snprintf(out, n, "%s/.kube/config", home);
	return !must_exist || file_exists(out);
}

int llmo_kube_config_load(const char *path, const char *context, struct llmo_kube_config *out,
			  struct llmo_error *err)
{
	char def[KUBECONFIG_PATH_MAX];
	int rc;

	memset(out, 0, sizeof(*out));
	if (!path) {
		if (!default_path(def, sizeof(def), false))
			return llmo_error_set(err, LLMO_ENOTFOUND,
					      "no kubeconfig: KUBECONFIG and HOME are not set");
		path = def;
	}
	rc = load_file(path, context, out, err);
	if (rc)
		llmo_kube_config_release(out);
	return rc;
}

/* ---- in-cluster ---- */

int llmo_kube_config_in_cluster(struct llmo_kube_config *out, struct llmo_error *err)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	const char *dir = getenv("LLMO_SERVICEACCOUNT_DIR");
	char path[KUBECONFIG_PATH_MAX];
	struct llmo_buf url;
	int64_t p;
	int rc;

	memset(out, 0, sizeof(*out));
	llmo_buf_init(&url, 1024);
	if (!dir || !*dir)
		dir = LLMO_KUBE_SERVICEACCOUNT_DIR;
	if (!host || !*host || !port || !*port) {
		rc = llmo_error_set(err, LLMO_ENOTFOUND,
				    "not running in a cluster: KUBERNETES_SERVICE_HOST and "
				    "KUBERNETES_SERVICE_PORT are not set");
		goto out;
	}
	if (llmo_parse_int_range(port, 1, 65535, &p, NULL)) {
		rc = llmo_error_set(err, LLMO_EINVAL,
				    "KUBERNETES_SERVICE_PORT: invalid port \"%s\"", port);
		goto out;
	}
	rc = strchr(host, ':') ? llmo_buf_appendf(&url, "https://[%s]:%" PRId64, host, p)
			       : llmo_buf_appendf(&url, "https://%s:%" PRId64, host, p);
	if (rc) {
		rc = llmo_error_set(err, rc, "KUBERNETES_SERVICE_HOST: %s", llmo_strerror(rc));
		goto out;
	}
	out->server = llmo_buf_detach(&url, NULL);
	if (!out->server) {
		rc = llmo_error_set(err, LLMO_ENOMEM, "out of memory");
		goto out;
	}
	snprintf(path, sizeof(path), "%s/token", dir);
	if ((rc = llmo__kube_read_file(path, true, &out->token, err)) ||
	    (rc = dup_into(&out->token_file, path, err)))
		goto out;
	snprintf(path, sizeof(path), "%s/ca.crt", dir);
	if ((rc = llmo__kube_read_file(path, false, &out->ca_pem, err)))
		goto out;
	snprintf(path, sizeof(path), "%s/namespace", dir);
	rc = llmo__kube_read_file(path, true, &out->ns, err);
	if (rc == LLMO_ENOTFOUND || (!rc && !*out->ns)) {
		free(out->ns);
		llmo_error_clear(err);
		rc = dup_into(&out->ns, "default", err);
	}
out:
	llmo_buf_release(&url);
	if (rc)
		llmo_kube_config_release(out);
	return rc;
}

int llmo_kube_config_auto(const char *path, const char *context, struct llmo_kube_config *out,
			  struct llmo_error *err)
{
	char def[KUBECONFIG_PATH_MAX];
	const char *env = getenv("KUBECONFIG");

	if (path)
		return llmo_kube_config_load(path, context, out, err);
	/* a KUBECONFIG that was set but names nothing that exists is an error, not in-cluster */
	if ((env && *env) || default_path(def, sizeof(def), true))
		return llmo_kube_config_load(NULL, context, out, err);
	return llmo_kube_config_in_cluster(out, err);
}
