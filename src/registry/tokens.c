/*
 * The registry's token table and where it comes from (registry_int.h,
 * "tokens.c"): the token file, tokens given by the embedding program, the
 * anonymous grant, and the key "tokens" of a Secret. The file is polled,
 * the Secret watched; either change rebuilds the whole table, which is
 * swapped in only when every source parses.
 */
#include "base/common.h"

#include <event2/event.h>
#include <sys/stat.h>

#include <jansson.h>

#include "base/base64.h"
#include "base/file.h"
#include "base/log.h"
#include "base/str.h"
#include "kube/client.h"
#include "kube/informer.h"
#include "metrics/metrics.h"
#include "registry/registry_int.h"

#include "base/banned.h"

#define LOG "registry"
/* The Secret's key holding the tokens. */
#define SECRET_KEY "tokens"
/* Longest Secret namespace or name (DNS-1123). */
#define SECRET_PART_MAX 253

struct llmo__reg_tokens {
	struct llmo_registry *r;
	char *file;
	struct stat file_st; /* the file as last loaded */
	bool file_st_ok;
	struct llmo_registry_token *fixed; /* the embedding program's, copied */
	size_t nfixed;
	char *anonymous;
	char ns[SECRET_PART_MAX + 1], name[SECRET_PART_MAX + 1]; /* "": no Secret */
	char what[2 * SECRET_PART_MAX + 32];                     /* "secret NS/NAME key tokens" */
	char *secret_text; /* its tokens as last accepted; NULL: none */
	struct llmo_informer *inf;
	struct event *poll;
};

struct llmo__reg_auth *llmo__reg_auth_hold(struct llmo_registry *r)
{
	r->auth->refs++;
	return r->auth;
}

void llmo__reg_auth_drop(struct llmo__reg_auth *g)
{
	if (!g || --g->refs)
		return;
	llmo_reg_auth_release(&g->a);
	free(g);
}

/* A table from every source, secret_text standing for the Secret's. */
static int build(struct llmo__reg_tokens *t, const char *secret_text, struct llmo__reg_auth **out,
		 struct llmo_error *err)
{
	struct llmo__reg_auth *g = calloc(1, sizeof(*g));
	int rc;

	*out = NULL;
	if (!g || llmo_reg_auth_init(&g->a)) {
		free(g);
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	}
	g->refs = 1;
	rc = t->file ? llmo_reg_auth_load_file(&g->a, t->file, err) : 0;
	for (size_t i = 0; !rc && i < t->nfixed; i++) {
		rc = llmo_reg_auth_add(&g->a, t->fixed[i].token, t->fixed[i].tenant,
				       t->fixed[i].scopes, err);
		if (rc)
			llmo_error_prefix(err, "token %zu (tenant %s): ", i + 1,
					  t->fixed[i].tenant ? t->fixed[i].tenant : "?");
	}
	if (!rc && secret_text)
		rc = llmo_reg_auth_load_text(&g->a, secret_text, strlen(secret_text), t->what, err);
	if (!rc && t->anonymous && (rc = llmo_reg_auth_set_anonymous(&g->a, t->anonymous, err)))
		llmo_error_prefix(err, "anonymous access: ");
	if (rc) {
		llmo__reg_auth_drop(g);
		return rc;
	}
	*out = g;
	return 0;
}

static void file_stat(struct llmo__reg_tokens *t)
{
	t->file_st_ok = t->file && stat(t->file, &t->file_st) == 0;
}

static bool file_changed(const struct llmo__reg_tokens *t)
{
	struct stat st;

	if (!t->file || stat(t->file, &st) != 0)
		return false; /* gone for a moment (a Secret volume's swap): keep what we have */
	return !t->file_st_ok || !llmo_file_same(&st, &t->file_st);
}

/*
 * Rebuilds the table with secret_text as the Secret's tokens (taken over
 * when it is accepted) after source changed; on failure nothing changes.
 */
static int reload(struct llmo__reg_tokens *t, const char *source, char *secret_text,
		  struct llmo_error *err)
{
	struct llmo_registry *r = t->r;
	struct llmo__reg_auth *g;
	char q[LLMO_LOG_QUOTE_MAX];
	int rc;

	file_stat(t); /* a file that does not parse is not read again until it changes */
	rc = build(t, secret_text, &g, err);
	if (rc) {
		LLMO_ERROR(LOG, "tokens not reloaded, the ones in use are kept",
			   "source=%s error=%s", source, llmo_log_quote(q, sizeof(q), err->msg));
		llmo_metric_add(r->m_token_reloads, (const char *[]){source, "error"}, 1);
		if (secret_text != t->secret_text) /* a new Secret's text, refused */
			free(secret_text);
		return rc;
	}
	if (secret_text != t->secret_text) {
		free(t->secret_text);
		t->secret_text = secret_text;
	}
	llmo__reg_auth_drop(r->auth);
	r->auth = g;
	llmo_metric_add(r->m_token_reloads, (const char *[]){source, "ok"}, 1);
	llmo_metric_set(r->m_tokens, NULL, (double)g->a.ntokens);
	LLMO_INFO(LOG, "tokens reloaded", "source=%s tokens=%zu", source, g->a.ntokens);
	return 0;
}

int llmo_registry_reload_tokens(struct llmo_registry *r)
{
	struct llmo_error err = {0};
	struct llmo__reg_tokens *t = r->tokens;

	return reload(t, "file", t->secret_text, &err);
}

static void on_poll(evutil_socket_t fd, short what, void *arg)
{
	struct llmo__reg_tokens *t = arg;
	struct llmo_error err = {0};

	(void)fd;
	(void)what;
	if (file_changed(t))
		reload(t, "file", t->secret_text, &err);
}

/* The Secret as it is now (NULL: deleted): its tokens replace the last ones. */
static void secret_seen(struct llmo__reg_tokens *t, const json_t *secret)
{
	struct llmo_error err = {0};
	const char *b64;
	char *text = NULL;

	if (!secret) {
		LLMO_WARN(LOG, "tokens secret deleted, its tokens no longer count", "secret=%s/%s",
			  t->ns, t->name);
		reload(t, "secret", NULL, &err);
		return;
	}
	b64 = json_string_value(json_object_get(json_object_get(secret, "data"), SECRET_KEY));
	if (!b64) {
		llmo_error_set(&err, LLMO_EINVAL, "%s: the Secret has no key \"" SECRET_KEY "\"",
			       t->what);
		goto bad;
	}
	if (strlen(b64) > LLMO_REG_TOKEN_FILE_MAX / 3 * 4 + 4) {
		llmo_error_set(&err, LLMO_ETOOBIG, "%s: larger than %zu bytes", t->what,
			       LLMO_REG_TOKEN_FILE_MAX);
		goto bad;
	}
	if (llmo_base64_decode(b64, &text) || !text) {
		llmo_error_set(&err, LLMO_EINVAL, "%s: not base64", t->what);
		goto bad;
	}
	if (t->secret_text && strcmp(t->secret_text, text) == 0) {
		free(text); /* another field of the Secret changed */
		return;
	}
	reload(t, "secret", text, &err);
	return;
bad:
	LLMO_ERROR(LOG, "tokens not reloaded, the ones in use are kept", "source=secret error=\"%s\"",
		   err.msg);
	llmo_metric_add(t->r->m_token_reloads, (const char *[]){"secret", "error"}, 1);
}

static void on_secret_add(void *ctx, json_t *obj)
{
	secret_seen(ctx, obj);
}

static void on_secret_update(void *ctx, json_t *old_obj, json_t *new_obj)
{
	(void)old_obj;
	secret_seen(ctx, new_obj);
}

static void on_secret_delete(void *ctx, json_t *obj)
{
	(void)obj;
	secret_seen(ctx, NULL);
}

/* "[NAMESPACE/]NAME" into t (namespace $POD_NAMESPACE, else default). */
static int secret_ref(struct llmo__reg_tokens *t, const char *ref, struct llmo_error *err)
{
	const char *slash = strchr(ref, '/'), *ns = getenv("POD_NAMESPACE");
	const char *name = slash ? slash + 1 : ref;
	size_t nslen = slash ? (size_t)(slash - ref) : 0;

	if (!slash && (!ns || !*ns))
		ns = "default";
	if (slash)
		ns = ref;
	else
		nslen = strlen(ns);
	if (!nslen || nslen > SECRET_PART_MAX || !*name || strlen(name) > SECRET_PART_MAX ||
	    strchr(name, '/'))
		return llmo_error_set(err, LLMO_EINVAL,
				      "tokens secret \"%.80s\": want [NAMESPACE/]NAME", ref);
	memcpy(t->ns, ns, nslen);
	t->ns[nslen] = '\0';
	snprintf(t->name, sizeof(t->name), "%s", name);
	snprintf(t->what, sizeof(t->what), "secret %s/%s key " SECRET_KEY, t->ns, t->name);
	return 0;
}

static int copy_sources(struct llmo__reg_tokens *t, const struct llmo_registry_opts *o)
{
	if ((o->tokens_file && !(t->file = llmo_strdup(o->tokens_file))) ||
	    (o->anonymous && !(t->anonymous = llmo_strdup(o->anonymous))))
		return LLMO_ENOMEM;
	if (o->ntokens && !(t->fixed = calloc(o->ntokens, sizeof(*t->fixed))))
		return LLMO_ENOMEM;
	for (; t->nfixed < o->ntokens; t->nfixed++) {
		const struct llmo_registry_token *in = &o->tokens[t->nfixed];
		struct llmo_registry_token *c = &t->fixed[t->nfixed];

		c->token = in->token ? llmo_strdup(in->token) : NULL;
		c->tenant = in->tenant ? llmo_strdup(in->tenant) : NULL;
		c->scopes = in->scopes ? llmo_strdup(in->scopes) : NULL;
		if ((in->token && !c->token) || (in->tenant && !c->tenant) ||
		    (in->scopes && !c->scopes)) {
			t->nfixed++;
			return LLMO_ENOMEM;
		}
	}
	return 0;
}

int llmo__reg_tokens_start(struct llmo_registry *r, const struct llmo_registry_opts *o,
			   struct llmo_error *err)
{
	static const struct llmo_informer_handlers h = {on_secret_add, on_secret_update,
							on_secret_delete};
	struct llmo__reg_tokens *t = calloc(1, sizeof(*t));
	struct timeval every = {LLMO_REG_TOKENS_POLL_MS / 1000,
				(LLMO_REG_TOKENS_POLL_MS % 1000) * 1000};
	char fs[SECRET_PART_MAX + 32];
	int rc;

	if (!t)
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	t->r = r;
	r->tokens = t;
	if (!o->kube != !o->tokens_secret)
		return llmo_error_set(err, LLMO_EINVAL,
				      "a tokens secret needs an API client, and a client a secret");
	if (copy_sources(t, o))
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	if (o->tokens_secret && (rc = secret_ref(t, o->tokens_secret, err)))
		return rc;
	file_stat(t);
	if ((rc = build(t, NULL, &r->auth, err)))
		return rc;
	llmo_metric_set(r->m_tokens, NULL, (double)r->auth->a.ntokens);
	if (t->file && (!(t->poll = event_new(r->base, -1, EV_PERSIST, on_poll, t)) ||
			event_add(t->poll, &every) < 0))
		return llmo_error_set(err, LLMO_ENOMEM, "cannot make a timer");
	if (!o->tokens_secret)
		return 0;
	snprintf(fs, sizeof(fs), "metadata.name=%s", t->name);
	if ((rc = llmo_informer_new(o->kube, &llmo_kube_secrets, t->ns, NULL, r->base, &h, t,
				    &t->inf, err)) ||
	    (rc = llmo_informer_set_field_selector(t->inf, fs, err)) ||
	    (rc = llmo_informer_start(t->inf, err)))
		llmo_error_prefix(err, "tokens secret %s/%s: ", t->ns, t->name);
	return rc;
}

void llmo__reg_tokens_stop(struct llmo_registry *r)
{
	struct llmo__reg_tokens *t = r->tokens;

	if (t) {
		llmo_informer_free(t->inf);
		if (t->poll)
			event_free(t->poll);
		for (size_t i = 0; i < t->nfixed; i++) {
			free((char *)t->fixed[i].token);
			free((char *)t->fixed[i].tenant);
			free((char *)t->fixed[i].scopes);
		}
		free(t->fixed);
		free(t->file);
		free(t->anonymous);
		free(t->secret_text);
		free(t);
		r->tokens = NULL;
	}
	llmo__reg_auth_drop(r->auth);
	r->auth = NULL;
}
