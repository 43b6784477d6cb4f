#ifndef LLMO_REGISTRY_AUTH_H
#define LLMO_REGISTRY_AUTH_H
/*
 * Who may do what in the registry: bearer tokens, each naming a tenant and
 * its scopes, and the scopes of anonymous requests (none unless set).
 *
 * A scope is "repository:PATTERN:ACTIONS" (Docker's token-scope shape):
 *   PATTERN  a repository name ("models/llama2"), or a name prefix ending in
 *            '*' that matches any rest, slashes included ("team-a-*"; "models/"
 *            then '*' for everything under models/; "*" for every repository)
 *   ACTIONS  comma-separated pull, push, delete, or "*" for all three
 *
 * The token file (docs/registry.md) has one token a line:
 *
 *     # TOKEN                             TENANT   SCOPE...
 *     3f9c0a7e6b2d4c18a5e0f7d9b1c2a3e4    team-a   repository:team-a-*:pull,push
 *     9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a    ci       repository:*:pull
 *
 * fields separated by spaces or tabs; blank lines and lines starting with
 * '#' are skipped. A token is LLMO_REG_TOKEN_MIN to LLMO_REG_TOKEN_MAX
 * printable ASCII bytes without spaces; a tenant is 1 to
 * LLMO_REG_TENANT_MAX letters, digits, '.', '_' or '-'. The file must not
 * be readable or writable by group or others (mode & 077 == 0), as it holds
 * secrets. Every error names the file and line.
 *
 * Tokens are kept as their SHA-256 and looked up by it, so the time a
 * lookup takes says nothing about how much of a token was right.
 */
#include "base/common.h"

#include "base/error.h"
#include "base/hmap.h"
#include "base/vec.h"

#define LLMO_REG_TOKEN_MIN 16
#define LLMO_REG_TOKEN_MAX 1024
#define LLMO_REG_TENANT_MAX 63
/* Scopes on one token, tokens in one registry, and the token file's size. */
#define LLMO_REG_SCOPES_MAX 64
#define LLMO_REG_TOKENS_MAX 10000
#define LLMO_REG_TOKEN_FILE_MAX ((size_t)4 << 20)
/* Longest Authorization header value looked at. */
#define LLMO_REG_AUTHZ_MAX 4096

enum llmo_reg_action {
	LLMO_REG_PULL = 1,
	LLMO_REG_PUSH = 2,
	LLMO_REG_DELETE = 4,
	LLMO_REG_ALL = 7,
};

struct llmo_reg_scope {
	char *pattern; /* without the trailing '*' when prefix */
	bool prefix;
	unsigned actions; /* enum llmo_reg_action bits */
};

/* A token's holder, or the anonymous caller. */
struct llmo_reg_principal {
	char *tenant; /* "anonymous" for the anonymous principal */
	LLMO_VEC(struct llmo_reg_scope) scopes;
};

struct llmo_reg_auth {
	struct llmo_hmap by_hash; /* hex SHA-256 of a token -> struct llmo_reg_principal * */
	struct llmo_reg_principal anonymous;
	size_t ntokens;
};

/* An empty table: no tokens, nothing allowed anonymously. 0 or LLMO_ENOMEM. */
int llmo_reg_auth_init(struct llmo_reg_auth *a);
void llmo_reg_auth_release(struct llmo_reg_auth *a);

/*
 * Adds a token with its tenant and scopes (a space-separated list of scope
 * strings). LLMO_EINVAL with a message for a malformed token, tenant or
 * scope; LLMO_EEXIST for a token already present; LLMO_ERANGE past
 * LLMO_REG_TOKENS_MAX. The table is unchanged on failure.
 */
int llmo_reg_auth_add(struct llmo_reg_auth *a, const char *token, const char *tenant,
		      const char *scopes, struct llmo_error *err);

/* Adds every token of the file at path (format above). All or nothing. */
int llmo_reg_auth_load_file(struct llmo_reg_auth *a, const char *path, struct llmo_error *err);
/*
 * The same for the n bytes of text in the file's format (a Secret's key);
 * errors start with "WHAT:LINE: ". All or nothing.
 */
int llmo_reg_auth_load_text(struct llmo_reg_auth *a, const char *text, size_t n,
			    const char *what, struct llmo_error *err);

/*
 * Grants anonymous callers `actions` ("pull", "pull,push", "*"; "" or
 * "none" for nothing) on every repository, replacing earlier grants.
 */
int llmo_reg_auth_set_anonymous(struct llmo_reg_auth *a, const char *actions,
				struct llmo_error *err);

/* Parses an ACTIONS list into bits; LLMO_EINVAL for an unknown action. */
int llmo_reg_actions_parse(const char *s, size_t len, unsigned *out, struct llmo_error *err);

/* "pull", "push", "delete", or "pull,push" ... for the bits in actions. */
void llmo_reg_actions_str(unsigned actions, char *out, size_t n);

/*
 * The credential in an Authorization header value: the token of
 * "Bearer TOKEN", or the password of "Basic base64(USER:PASSWORD)"
 * (schemes in any case, blanks around it dropped), copied into out (n
 * bytes with the NUL). Its length, or -1 (another scheme, malformed
 * base64, empty, holding NUL or control bytes, or not fitting).
 */
int llmo_reg_auth_credential(const char *authorization, char *out, size_t n);

/*
 * The principal an Authorization header value names: "Bearer TOKEN", or
 * "Basic base64(USER:TOKEN)" (the user name is ignored), schemes in any
 * case. A NULL header gives &a->anonymous with *presented false. A header
 * with an unknown token or another scheme gives NULL with *presented true
 * (the caller answers 401).
 */
const struct llmo_reg_principal *llmo_reg_auth_lookup(const struct llmo_reg_auth *a,
						      const char *authorization,
						      bool *presented);

/* Whether p's scopes grant every action in `actions` on repository name. */
bool llmo_reg_principal_allows(const struct llmo_reg_principal *p, const char *name,
			       unsigned actions);

/* Whether p may do any of `actions` somewhere (a catalog needs some pull). */
bool llmo_reg_principal_any(const struct llmo_reg_principal *p, unsigned actions);

#endif
